/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of MeshFetcher (against an in-test libsoup server) and MeshAes.
 *
 * Threads: the test server runs on a thread of its own with its own
 * GMainContext; what it records about requests (TestServer fields below
 * `lock`) is shared with the test under `lock`, and `cond` is signalled after
 * every request so tests can wait for the server to see one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include <nettle/aes.h>
#include <nettle/cbc.h>

#include "fetch/mesh-fetcher.h"
#include "fetch/mesh-aes.h"

#define BODY_SIZE (1024 * 1024)
#define DROP_AFTER 300000
#define WAIT_LIMIT_US (10 * G_USEC_PER_SEC)
/* generous, to hold under the sanitizers too */
#define PROMPT_US (G_USEC_PER_SEC)

typedef struct
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  gchar *base;
  guint8 *body;

  GMutex lock;
  GCond cond;
  gboolean ready;
  GPtrArray *log;               /* "PATH RANGE" per request ("-": no Range) */
  guint fail_500_remaining;     /* for /flaky */
  guint drops_remaining;        /* for /drop */
  SoupMessageHeaders *seen_headers;     /* of the last /headers request */
  GPtrArray *stalled;           /* GIOStream of /stall connections */
  gchar *redirect_elsewhere;    /* where /elsewhere redirects */
} TestServer;

static TestServer *srv;

/* ------------------------------------------------------------------------ */
/* Test server */

static void
server_log_request (TestServer * s, SoupServerMessage * msg, const char *path)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *range = soup_message_headers_get_one (headers, "Range");

  g_mutex_lock (&s->lock);
  g_ptr_array_add (s->log, g_strdup_printf ("%s %s", path, range ? range :
          "-"));
  if (g_str_equal (path, "/headers")) {
    g_clear_pointer (&s->seen_headers, soup_message_headers_unref);
    s->seen_headers = soup_message_headers_ref (headers);
  }
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

/* The byte range of the body a request asks for. Returns FALSE when the
 * Range cannot be satisfied. */
static gboolean
server_get_range (SoupServerMessage * msg, goffset * start, goffset * end,
    gboolean * partial)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupRange *ranges;
  int n;

  *start = 0;
  *end = BODY_SIZE - 1;
  *partial = FALSE;
  if (soup_message_headers_get_one (headers, "Range") == NULL)
    return TRUE;
  if (!soup_message_headers_get_ranges (headers, BODY_SIZE, &ranges, &n))
    return FALSE;
  if (n == 1) {
    *start = ranges[0].start;
    *end = ranges[0].end;
    *partial = TRUE;
  }
  soup_message_headers_free_ranges (headers, ranges);
  return TRUE;
}

static void
server_serve_body (TestServer * s, SoupServerMessage * msg)
{
  goffset start, end;
  gboolean partial;

  if (!server_get_range (msg, &start, &end, &partial)) {
    soup_server_message_set_status (msg,
        SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, NULL);
    return;
  }
  soup_server_message_set_response (msg, "application/octet-stream",
      SOUP_MEMORY_STATIC, (const char *) s->body + start, end - start + 1);
  if (partial) {
    soup_message_headers_set_content_range
        (soup_server_message_get_response_headers (msg), start, end, BODY_SIZE);
    soup_server_message_set_status (msg, SOUP_STATUS_PARTIAL_CONTENT, NULL);
  } else {
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  }
}

/* Answers with the full headers, then closes the connection after
 * DROP_AFTER body bytes. */
static void
server_serve_and_drop (TestServer * s, SoupServerMessage * msg)
{
  goffset start, end;
  gboolean partial;
  GIOStream *io;
  GOutputStream *out;
  GString *head;
  gsize len;

  fail_unless (server_get_range (msg, &start, &end, &partial));
  len = end - start + 1;

  head = g_string_new (NULL);
  if (partial)
    g_string_append_printf (head, "HTTP/1.1 206 Partial Content\r\n"
        "Content-Range: bytes %" G_GOFFSET_FORMAT "-%" G_GOFFSET_FORMAT
        "/%d\r\n", start, end, BODY_SIZE);
  else
    g_string_append (head, "HTTP/1.1 200 OK\r\n");
  g_string_append_printf (head, "Content-Length: %" G_GSIZE_FORMAT "\r\n"
      "Content-Type: application/octet-stream\r\n\r\n", len);

  io = soup_server_message_steal_connection (msg);
  fail_unless (io != NULL);
  out = g_io_stream_get_output_stream (io);
  g_output_stream_write_all (out, head->str, head->len, NULL, NULL, NULL);
  g_output_stream_write_all (out, s->body + start, MIN (len, DROP_AFTER),
      NULL, NULL, NULL);
  g_io_stream_close (io, NULL, NULL);
  g_object_unref (io);
  g_string_free (head, TRUE);
}

/* Announces the whole body but sends only its first 1000 bytes, then keeps
 * the connection open without sending anything. */
static void
server_serve_and_stall (TestServer * s, SoupServerMessage * msg)
{
  GIOStream *io = soup_server_message_steal_connection (msg);
  gchar *head = g_strdup_printf ("HTTP/1.1 200 OK\r\n"
      "Content-Length: %d\r\n\r\n", BODY_SIZE);
  GOutputStream *out;

  fail_unless (io != NULL);
  out = g_io_stream_get_output_stream (io);
  g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL);
  g_output_stream_write_all (out, s->body, 1000, NULL, NULL, NULL);
  g_ptr_array_add (s->stalled, io);
  g_free (head);
}

static void
server_cb (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  TestServer *s = data;
  gboolean fail_now = FALSE, drop_now = FALSE;

  server_log_request (s, msg, path);

  g_mutex_lock (&s->lock);
  if (g_str_equal (path, "/flaky") && s->fail_500_remaining > 0) {
    s->fail_500_remaining--;
    fail_now = TRUE;
  }
  if (g_str_equal (path, "/drop") && s->drops_remaining > 0) {
    s->drops_remaining--;
    drop_now = TRUE;
  }
  g_mutex_unlock (&s->lock);

  if (g_str_equal (path, "/body") || g_str_equal (path, "/headers")) {
    server_serve_body (s, msg);
  } else if (g_str_equal (path, "/flaky")) {
    if (fail_now)
      soup_server_message_set_status (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
          NULL);
    else
      server_serve_body (s, msg);
  } else if (g_str_equal (path, "/drop")) {
    if (drop_now)
      server_serve_and_drop (s, msg);
    else
      server_serve_body (s, msg);
  } else if (g_str_equal (path, "/norange")) {
    /* also keeps libsoup from answering the Range on our behalf */
    soup_message_headers_remove (soup_server_message_get_request_headers
        (msg), "Range");
    server_serve_body (s, msg);
  } else if (g_str_equal (path, "/always500")) {
    soup_server_message_set_status (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
        NULL);
  } else if (g_str_equal (path, "/redirect")) {
    soup_server_message_set_redirect (msg, SOUP_STATUS_FOUND, "/body");
  } else if (g_str_equal (path, "/elsewhere") && s->redirect_elsewhere) {
    soup_server_message_set_redirect (msg, SOUP_STATUS_FOUND,
        s->redirect_elsewhere);
  } else if (g_str_equal (path, "/stall")) {
    server_serve_and_stall (s, msg);
  } else if (g_str_equal (path, "/hang")) {
    /* never answered; dropped when the server goes away */
    soup_server_message_pause (msg);
  } else {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
  }
}

static gpointer
server_thread (gpointer data)
{
  TestServer *s = data;
  GSocketAddress *addr;
  GError *error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (s->context);
  s->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (s->server, NULL, server_cb, s, NULL);
  addr = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  fail_unless (soup_server_listen (s->server, addr, 0, &error),
      "listen: %s", error ? error->message : "");
  g_object_unref (addr);

  uris = soup_server_get_uris (s->server);
  fail_unless (uris != NULL);
  g_mutex_lock (&s->lock);
  s->base = g_strdup_printf ("http://127.0.0.1:%d",
      g_uri_get_port (uris->data));
  s->ready = TRUE;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (s->loop);

  g_ptr_array_set_size (s->stalled, 0);
  soup_server_disconnect (s->server);
  g_clear_object (&s->server);
  while (g_main_context_iteration (s->context, FALSE));
  g_main_context_pop_thread_default (s->context);
  return NULL;
}

static TestServer *
test_server_new (void)
{
  GRand *rand = g_rand_new_with_seed (20260101);
  TestServer *srv = g_new0 (TestServer, 1);
  guint i;

  srv->body = g_malloc (BODY_SIZE);
  for (i = 0; i < BODY_SIZE; i++)
    srv->body[i] = g_rand_int (rand) & 0xff;
  g_rand_free (rand);

  g_mutex_init (&srv->lock);
  g_cond_init (&srv->cond);
  srv->log = g_ptr_array_new_with_free_func (g_free);
  srv->stalled = g_ptr_array_new_with_free_func (g_object_unref);
  srv->context = g_main_context_new ();
  srv->loop = g_main_loop_new (srv->context, FALSE);
  srv->thread = g_thread_new ("test-server", server_thread, srv);

  g_mutex_lock (&srv->lock);
  while (!srv->ready)
    g_cond_wait (&srv->cond, &srv->lock);
  g_mutex_unlock (&srv->lock);
  return srv;
}

static void
server_setup (void)
{
  srv = test_server_new ();
}

static gboolean
quit_server_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
test_server_free (TestServer * srv)
{
  g_main_context_invoke (srv->context, quit_server_cb, srv->loop);
  g_thread_join (srv->thread);
  g_main_loop_unref (srv->loop);
  g_main_context_unref (srv->context);
  g_ptr_array_unref (srv->log);
  g_ptr_array_unref (srv->stalled);
  g_clear_pointer (&srv->seen_headers, soup_message_headers_unref);
  g_mutex_clear (&srv->lock);
  g_cond_clear (&srv->cond);
  g_free (srv->base);
  g_free (srv->body);
  g_free (srv->redirect_elsewhere);
  g_free (srv);
}

static void
server_teardown (void)
{
  test_server_free (srv);
  srv = NULL;
}

static gchar *
url_for (const gchar * path)
{
  return g_strconcat (srv->base, path, NULL);
}

static guint
requests_for_locked (const gchar * path)
{
  gsize plen = strlen (path);
  guint i, n = 0;

  for (i = 0; i < srv->log->len; i++) {
    const gchar *entry = g_ptr_array_index (srv->log, i);

    if (strncmp (entry, path, plen) == 0 && entry[plen] == ' ')
      n++;
  }
  return n;
}

static guint
requests_for (const gchar * path)
{
  guint n;

  g_mutex_lock (&srv->lock);
  n = requests_for_locked (path);
  g_mutex_unlock (&srv->lock);
  return n;
}

/* The Range header of the @index-th request for @path ("-" for none). */
static gchar *
range_of_request (const gchar * path, guint index)
{
  gsize plen = strlen (path);
  gchar *range = NULL;
  guint i, n = 0;

  g_mutex_lock (&srv->lock);
  for (i = 0; i < srv->log->len && range == NULL; i++) {
    const gchar *entry = g_ptr_array_index (srv->log, i);

    if (strncmp (entry, path, plen) == 0 && entry[plen] == ' ' && n++ == index)
      range = g_strdup (entry + plen + 1);
  }
  g_mutex_unlock (&srv->lock);
  return range;
}

static void
wait_for_requests (const gchar * path, guint count)
{
  gint64 end = g_get_monotonic_time () + WAIT_LIMIT_US;

  g_mutex_lock (&srv->lock);
  while (requests_for_locked (path) < count)
    if (!g_cond_wait_until (&srv->cond, &srv->lock, end))
      break;
  fail_unless (requests_for_locked (path) >= count,
      "server did not see %u requests for %s", count, path);
  g_mutex_unlock (&srv->lock);
}

/* ------------------------------------------------------------------------ */
/* Helpers */

static MeshFetchJob *
start_fetch (MeshFetcher * fetcher, const gchar * path, gint64 offset,
    gint64 size, MeshFetchKind kind)
{
  gchar *url = url_for (path);
  MeshFetchRequest req = { url, offset, size, kind, 0, NULL };
  MeshFetchJob *job = mesh_fetcher_fetch (fetcher, &req);

  g_free (url);
  fail_unless (job != NULL);
  return job;
}

/* Pops every chunk (checking that none is empty) into one buffer. */
static GBytes *
pop_all (MeshFetchJob * job, GError ** error)
{
  GByteArray *body = g_byte_array_new ();
  GBytes *chunk;

  while ((chunk = mesh_fetch_job_pop (job, NULL, error))) {
    fail_unless (g_bytes_get_size (chunk) > 0);
    g_byte_array_append (body, g_bytes_get_data (chunk, NULL),
        g_bytes_get_size (chunk));
    g_bytes_unref (chunk);
  }
  return g_byte_array_free_to_bytes (body);
}

static void
assert_body_range (GBytes * bytes, gsize offset, gsize size)
{
  fail_unless_equals_uint64 (g_bytes_get_size (bytes), size);
  fail_unless (size == 0 || memcmp (g_bytes_get_data (bytes, NULL),
          srv->body + offset, size) == 0,
      "body differs from bytes %" G_GSIZE_FORMAT "+%" G_GSIZE_FORMAT, offset,
      size);
}

static void
assert_string_take (gchar * got, const gchar * expected)
{
  fail_unless_equals_string (got, expected);
  g_free (got);
}

/* Fetches @path[offset, offset+size) and checks it is byte-exact. */
static void
check_fetch (MeshFetcher * fetcher, const gchar * path, gint64 offset,
    gint64 size)
{
  gsize expected = size < 0 ? (gsize) (BODY_SIZE - offset) : (gsize) size;
  MeshFetchJob *job = start_fetch (fetcher, path, offset, size,
      MESH_FETCH_KIND_SEGMENT);
  GError *error = NULL;
  GBytes *body = pop_all (job, &error);

  fail_unless (error == NULL, "%s: %s", path, error ? error->message : "");
  assert_body_range (body, offset, expected);
  fail_unless_equals_uint64 (mesh_fetch_job_get_bytes (job), expected);
  fail_unless_equals_int64 (mesh_fetch_job_get_content_size (job), expected);
  g_bytes_unref (body);
  g_object_unref (job);
}

/* Runs the job to its end and returns its error (the body must fail). */
static GError *
fetch_error (MeshFetcher * fetcher, const gchar * path)
{
  MeshFetchJob *job = start_fetch (fetcher, path, 0, -1,
      MESH_FETCH_KIND_SEGMENT);
  GError *error = NULL;
  GBytes *body = pop_all (job, &error);

  fail_unless (error != NULL, "%s did not fail", path);
  g_bytes_unref (body);
  g_object_unref (job);
  return error;
}

/* ------------------------------------------------------------------------ */
/* Fetcher tests */

GST_START_TEST (test_whole_body)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  MeshFetchJob *job;
  GError *error = NULL;
  GBytes *body;
  gchar *url;

  check_fetch (fetcher, "/body", 0, -1);
  assert_string_take (range_of_request ("/body", 0), "-");

  job = start_fetch (fetcher, "/body", 0, -1, MESH_FETCH_KIND_SEGMENT);
  body = mesh_fetch_job_read_all (job, NULL, BODY_SIZE, &error);
  fail_unless (body != NULL, "%s", error ? error->message : "");
  assert_body_range (body, 0, BODY_SIZE);
  fail_unless (mesh_fetch_job_get_elapsed (job) > 0);
  url = url_for ("/body");
  assert_string_take (mesh_fetch_job_dup_final_url (job), url);
  g_free (url);
  g_bytes_unref (body);
  g_object_unref (job);

  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_ranges)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();

  check_fetch (fetcher, "/body", 1000, 5000);
  assert_string_take (range_of_request ("/body", 0), "bytes=1000-5999");
  check_fetch (fetcher, "/body", 1000000, -1);
  assert_string_take (range_of_request ("/body", 1), "bytes=1000000-");
  check_fetch (fetcher, "/body", 0, 1);
  check_fetch (fetcher, "/body", BODY_SIZE - 1, 1);
  check_fetch (fetcher, "/body", 0, 0);

  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_server_ignores_range)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();

  check_fetch (fetcher, "/norange", 123457, 70000);
  assert_string_take (range_of_request ("/norange", 0), "bytes=123457-193456");
  check_fetch (fetcher, "/norange", 1000000, -1);
  check_fetch (fetcher, "/norange", 0, 100);
  /* a whole body after cut-short ones: the connection state stays sane */
  check_fetch (fetcher, "/norange", 0, -1);

  g_object_unref (fetcher);
}

GST_END_TEST;

/* Getting the wanted bytes out of a longer response must not wait for the
 * rest of it: here the rest never comes. */
GST_START_TEST (test_cut_short_response_is_not_drained)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  gint64 start = g_get_monotonic_time ();

  g_object_set (fetcher, "timeout", 60, NULL);
  check_fetch (fetcher, "/stall", 0, 100);
  check_fetch (fetcher, "/stall", 500, 500);
  check_fetch (fetcher, "/body", 0, 100);
  g_object_unref (fetcher);
  fail_unless (g_get_monotonic_time () - start < 5 * G_USEC_PER_SEC);
}

GST_END_TEST;

GST_START_TEST (test_not_found)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  GError *error = fetch_error (fetcher, "/missing");
  gchar *url = url_for ("/missing");
  gchar *expected = g_strdup_printf ("GET %s failed: 404 Not Found", url);

  fail_unless (g_error_matches (error, MESH_FETCH_ERROR,
          MESH_FETCH_ERROR_HTTP_CLIENT), "%s", error->message);
  fail_unless_equals_string (error->message, expected);
  /* 4xx is final: no retry */
  fail_unless_equals_int (requests_for ("/missing"), 1);

  g_free (expected);
  g_free (url);
  g_error_free (error);
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_5xx_then_recovery)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();

  srv->fail_500_remaining = 2;
  check_fetch (fetcher, "/flaky", 0, -1);
  fail_unless_equals_int (requests_for ("/flaky"), 3);

  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_retries_exhausted)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  gchar *url = url_for ("/always500");
  GError *error;

  g_object_set (fetcher, "retries", 2, NULL);
  error = fetch_error (fetcher, "/always500");
  fail_unless (g_error_matches (error, MESH_FETCH_ERROR,
          MESH_FETCH_ERROR_HTTP_SERVER), "%s", error->message);
  fail_unless (strstr (error->message, url) != NULL, "%s", error->message);
  fail_unless (strstr (error->message, "500") != NULL, "%s", error->message);
  fail_unless (strstr (error->message, "3 attempts") != NULL, "%s",
      error->message);
  fail_unless_equals_int (requests_for ("/always500"), 3);

  g_error_free (error);
  g_free (url);
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_network_error)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  GSocketListener *listener = g_socket_listener_new ();
  GSocketAddress *addr, *bound;
  MeshFetchRequest req = { NULL, 0, -1, MESH_FETCH_KIND_SEGMENT, 0, NULL };
  MeshFetchJob *job;
  GError *error = NULL;
  GBytes *body;
  gchar *url;

  /* a port that was just free: nobody listens there any more */
  addr = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  fail_unless (g_socket_listener_add_address (listener, addr,
          G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
          (GSocketAddress **) & bound, NULL));
  url = g_strdup_printf ("http://127.0.0.1:%u/x",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_listener_close (listener);
  g_object_unref (listener);
  g_object_unref (bound);
  g_object_unref (addr);

  g_object_set (fetcher, "retries", 1, NULL);
  req.url = url;
  job = mesh_fetcher_fetch (fetcher, &req);
  body = pop_all (job, &error);
  fail_unless (g_error_matches (error, MESH_FETCH_ERROR,
          MESH_FETCH_ERROR_NETWORK), "%s", error ? error->message : "none");
  fail_unless (strstr (error->message, url) != NULL, "%s", error->message);
  fail_unless (strstr (error->message, "2 attempts") != NULL, "%s",
      error->message);
  fail_unless_equals_int (g_bytes_get_size (body), 0);

  g_bytes_unref (body);
  g_error_free (error);
  g_object_unref (job);
  g_free (url);
  g_object_unref (fetcher);
}

GST_END_TEST;

static void
check_drop_and_resume (gint64 offset, gint64 size)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  gchar *range;
  gint64 start;

  srv->drops_remaining = 1;
  check_fetch (fetcher, "/drop", offset, size);
  fail_unless_equals_int (requests_for ("/drop"), 2);

  /* the retry asked only for what was still missing */
  range = range_of_request ("/drop", 1);
  fail_unless (g_str_has_prefix (range, "bytes="), "%s", range);
  start = g_ascii_strtoll (range + 6, NULL, 10);
  fail_unless (start > offset && start <= offset + DROP_AFTER, "%s", range);
  g_free (range);

  g_object_unref (fetcher);
}

GST_START_TEST (test_drop_and_resume)
{
  check_drop_and_resume (0, -1);
}

GST_END_TEST;

GST_START_TEST (test_drop_and_resume_range)
{
  check_drop_and_resume (1000, 600000);
}

GST_END_TEST;

GST_START_TEST (test_timeout)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  gint64 start = g_get_monotonic_time ();
  GError *error;

  g_object_set (fetcher, "timeout", 1, "retries", 1, NULL);
  error = fetch_error (fetcher, "/hang");
  fail_unless (g_error_matches (error, MESH_FETCH_ERROR,
          MESH_FETCH_ERROR_TIMEOUT), "%s", error->message);
  fail_unless (strstr (error->message, "2 attempts") != NULL, "%s",
      error->message);
  fail_unless_equals_int (requests_for ("/hang"), 2);
  /* two 1 s timeouts and one backoff, not the 15 s default */
  fail_unless (g_get_monotonic_time () - start < 8 * G_USEC_PER_SEC);

  g_error_free (error);
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_redirect)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  MeshFetchJob *job = start_fetch (fetcher, "/redirect", 0, -1,
      MESH_FETCH_KIND_PLAYLIST);
  gchar *start_url = url_for ("/redirect"), *final_url = url_for ("/body");
  GError *error = NULL;
  GBytes *body;

  assert_string_take (mesh_fetch_job_dup_final_url (job), start_url);
  body = pop_all (job, &error);
  fail_unless (error == NULL);
  assert_body_range (body, 0, BODY_SIZE);
  assert_string_take (mesh_fetch_job_dup_final_url (job), final_url);

  g_bytes_unref (body);
  g_free (start_url);
  g_free (final_url);
  g_object_unref (job);
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_invalid_url)
{
  const gchar *urls[] = { "ftp://127.0.0.1/x", "not a url", "http://",
    "file:///etc/passwd", NULL
  };
  MeshFetcher *fetcher = mesh_fetcher_new ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (urls); i++) {
    MeshFetchRequest req = { urls[i], 0, -1, MESH_FETCH_KIND_SEGMENT, 0, NULL };
    MeshFetchJob *job = mesh_fetcher_fetch (fetcher, &req);
    GError *error = NULL;

    fail_unless (mesh_fetch_job_pop (job, NULL, &error) == NULL);
    fail_unless (g_error_matches (error, MESH_FETCH_ERROR,
            MESH_FETCH_ERROR_INVALID_URL), "%s: %s", urls[i],
        error ? error->message : "no error");
    g_error_free (error);
    g_object_unref (job);
  }
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_read_all_too_large)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  MeshFetchJob *job = start_fetch (fetcher, "/body", 0, -1,
      MESH_FETCH_KIND_KEY);
  GError *error = NULL;

  fail_unless (mesh_fetch_job_read_all (job, NULL, BODY_SIZE - 1,
          &error) == NULL);
  fail_unless (g_error_matches (error, MESH_FETCH_ERROR,
          MESH_FETCH_ERROR_TOO_LARGE), "%s", error ? error->message : "none");
  g_clear_error (&error);
  /* the job was stopped */
  fail_unless (mesh_fetch_job_pop (job, NULL, &error) == NULL);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error (&error);
  g_object_unref (job);

  g_object_unref (fetcher);
}

GST_END_TEST;

typedef struct
{
  const gchar *path;
  guint min_requests;
  MeshFetchJob *job;
  GCancellable *cancellable;    /* cancelled if set, else the job */
  gint64 cancel_time;
} Canceller;

static gpointer
canceller_thread (gpointer data)
{
  Canceller *c = data;

  wait_for_requests (c->path, c->min_requests);
  c->cancel_time = g_get_monotonic_time ();
  if (c->cancellable)
    g_cancellable_cancel (c->cancellable);
  else
    mesh_fetch_job_cancel (c->job);
  return NULL;
}

/* Blocks in pop on @path until another thread cancels, and checks that pop
 * returned CANCELLED promptly. */
static void
check_cancel_while_blocked (MeshFetcher * fetcher, const gchar * path,
    guint min_requests, gboolean use_cancellable)
{
  Canceller c = { path, min_requests, NULL, NULL, 0 };
  GError *error = NULL;
  GThread *thread;
  gint64 returned;

  c.job = start_fetch (fetcher, path, 0, -1, MESH_FETCH_KIND_SEGMENT);
  if (use_cancellable)
    c.cancellable = g_cancellable_new ();
  thread = g_thread_new ("canceller", canceller_thread, &c);

  fail_unless (mesh_fetch_job_pop (c.job, c.cancellable, &error) == NULL);
  returned = g_get_monotonic_time ();
  g_thread_join (thread);

  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error ? error->message : "no error");
  fail_unless (returned - c.cancel_time < PROMPT_US,
      "pop returned %" G_GINT64_FORMAT " us after the cancel",
      returned - c.cancel_time);
  g_clear_error (&error);

  /* and it stays cancelled */
  fail_unless (mesh_fetch_job_pop (c.job, NULL, &error) == NULL);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error (&error);

  g_clear_object (&c.cancellable);
  g_object_unref (c.job);
}

GST_START_TEST (test_cancel_blocked_pop)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();

  check_cancel_while_blocked (fetcher, "/hang", 1, FALSE);
  check_cancel_while_blocked (fetcher, "/hang", 2, TRUE);
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_cancel_during_backoff)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();

  g_object_set (fetcher, "retries", -1, NULL);
  /* after the second 500 the fetcher waits 500 ms before the third try */
  check_cancel_while_blocked (fetcher, "/always500", 2, FALSE);
  check_cancel_while_blocked (fetcher, "/always500", 4, TRUE);
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_cancel_before_pop)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  GCancellable *cancellable = g_cancellable_new ();
  MeshFetchJob *job = start_fetch (fetcher, "/body", 0, -1,
      MESH_FETCH_KIND_SEGMENT);
  GError *error = NULL;

  g_cancellable_cancel (cancellable);
  fail_unless (mesh_fetch_job_pop (job, cancellable, &error) == NULL);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error (&error);
  mesh_fetch_job_cancel (job);
  mesh_fetch_job_cancel (job);
  g_object_unref (job);
  g_object_unref (cancellable);

  /* the fetcher goes on working for other jobs */
  check_fetch (fetcher, "/body", 10, 10);
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_unref_fetcher_with_live_jobs)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  MeshFetchJob *hanging, *backing_off, *abandoned, *unstarted;
  GError *error = NULL;
  gint64 start;

  hanging = start_fetch (fetcher, "/hang", 0, -1, MESH_FETCH_KIND_SEGMENT);
  abandoned = start_fetch (fetcher, "/hang", 0, -1, MESH_FETCH_KIND_SEGMENT);
  g_object_set (fetcher, "retries", -1, NULL);
  backing_off = start_fetch (fetcher, "/always500", 0, -1,
      MESH_FETCH_KIND_SEGMENT);
  wait_for_requests ("/hang", 2);
  wait_for_requests ("/always500", 1);
  /* dropping a running job stops it */
  g_object_unref (abandoned);
  unstarted = start_fetch (fetcher, "/body", 0, -1, MESH_FETCH_KIND_SEGMENT);

  start = g_get_monotonic_time ();
  g_object_unref (fetcher);
  fail_unless (g_get_monotonic_time () - start < PROMPT_US);

  fail_unless (mesh_fetch_job_pop (hanging, NULL, &error) == NULL);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error ? error->message : "no error");
  g_clear_error (&error);
  fail_unless (mesh_fetch_job_pop (backing_off, NULL, &error) == NULL);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error ? error->message : "no error");
  g_clear_error (&error);

  /* a job started just before the end either completed or was cancelled;
   * it never hangs */
  g_bytes_unref (pop_all (unstarted, &error));
  if (error) {
    fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    g_clear_error (&error);
  }

  /* the jobs outlive their fetcher */
  mesh_fetch_job_cancel (hanging);
  fail_unless (mesh_fetch_job_get_bytes (hanging) == 0);
  g_free (mesh_fetch_job_dup_final_url (hanging));
  g_object_unref (hanging);
  g_object_unref (backing_off);
  g_object_unref (unstarted);
}

GST_END_TEST;

GST_START_TEST (test_bytes_from_cdn)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  const struct
  {
    MeshFetchKind kind;
    gint64 offset, size;
    guint64 counted;
  } jobs[] = {
    {MESH_FETCH_KIND_PLAYLIST, 0, -1, 0},
    {MESH_FETCH_KIND_KEY, 0, 16, 0},
    {MESH_FETCH_KIND_SEGMENT, 5000, 1000, 1000},
    {MESH_FETCH_KIND_INIT, 0, -1, BODY_SIZE},
    {MESH_FETCH_KIND_SEGMENT, 1000000, -1, BODY_SIZE - 1000000},
  };
  guint64 total = 0, prop = 1;
  guint i;

  fail_unless_equals_uint64 (mesh_fetcher_get_bytes_from_cdn (fetcher), 0);
  for (i = 0; i < G_N_ELEMENTS (jobs); i++) {
    MeshFetchJob *job = start_fetch (fetcher, "/body", jobs[i].offset,
        jobs[i].size, jobs[i].kind);
    GError *error = NULL;

    g_bytes_unref (pop_all (job, &error));
    fail_unless (error == NULL);
    g_object_unref (job);
    total += jobs[i].counted;
    fail_unless_equals_uint64 (mesh_fetcher_get_bytes_from_cdn (fetcher),
        total);
  }
  g_object_get (fetcher, "bytes-from-cdn", &prop, NULL);
  fail_unless_equals_uint64 (prop, total);
  g_object_get (fetcher, "bytes-from-peers", &prop, NULL);
  fail_unless_equals_uint64 (prop, 0);
  fail_unless_equals_uint64 (mesh_fetcher_get_bytes_from_peers (fetcher), 0);

  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_request_headers)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  GstStructure *extra;
  gchar *ua = NULL;
  GValue array = G_VALUE_INIT, item = G_VALUE_INIT;

  g_object_get (fetcher, "user-agent", &ua, NULL);
  fail_unless_equals_string (ua, "gst-mesh/0.1 GStreamer");
  g_free (ua);
  check_fetch (fetcher, "/headers", 0, 10);
  g_mutex_lock (&srv->lock);
  fail_unless_equals_string (soup_message_headers_get_one (srv->seen_headers,
          "User-Agent"), "gst-mesh/0.1 GStreamer");
  g_mutex_unlock (&srv->lock);

  extra = gst_structure_new ("headers", "X-Test", G_TYPE_STRING, "a value",
      "X-Number", G_TYPE_INT, 42, NULL);
  gst_value_array_init (&array, 2);
  g_value_init (&item, G_TYPE_STRING);
  g_value_set_string (&item, "one");
  gst_value_array_append_value (&array, &item);
  g_value_set_string (&item, "two");
  gst_value_array_append_value (&array, &item);
  gst_structure_take_value (extra, "X-Multi", &array);
  g_value_unset (&item);

  g_object_set (fetcher, "user-agent", "test-agent/1.0", "extra-headers",
      extra, NULL);
  gst_structure_free (extra);
  check_fetch (fetcher, "/headers", 0, 10);

  g_mutex_lock (&srv->lock);
  fail_unless_equals_string (soup_message_headers_get_one (srv->seen_headers,
          "User-Agent"), "test-agent/1.0");
  fail_unless_equals_string (soup_message_headers_get_one (srv->seen_headers,
          "X-Test"), "a value");
  fail_unless_equals_string (soup_message_headers_get_one (srv->seen_headers,
          "X-Number"), "42");
  fail_unless_equals_string (soup_message_headers_get_list (srv->seen_headers,
          "X-Multi"), "one, two");
  g_mutex_unlock (&srv->lock);

  g_object_get (fetcher, "extra-headers", &extra, NULL);
  fail_unless (extra != NULL && gst_structure_has_field (extra, "X-Multi"));
  gst_structure_free (extra);

  g_object_unref (fetcher);
}

GST_END_TEST;

/* extra-headers (credentials, often) do not follow a redirect to another
 * origin (another port of 127.0.0.1 here); the User-Agent does. */
GST_START_TEST (test_extra_headers_stay_on_their_origin)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  TestServer *other = test_server_new ();
  GstStructure *extra = gst_structure_new ("headers", "X-Test",
      G_TYPE_STRING, "secret", NULL);

  g_object_set (fetcher, "user-agent", "test-agent/1.0", "extra-headers",
      extra, NULL);
  gst_structure_free (extra);
  g_mutex_lock (&srv->lock);
  srv->redirect_elsewhere = g_strconcat (other->base, "/headers", NULL);
  g_mutex_unlock (&srv->lock);
  check_fetch (fetcher, "/elsewhere", 0, 10);

  g_mutex_lock (&other->lock);
  fail_unless (other->seen_headers != NULL);
  fail_unless_equals_string (soup_message_headers_get_one
      (other->seen_headers, "User-Agent"), "test-agent/1.0");
  fail_unless (soup_message_headers_get_one (other->seen_headers,
          "X-Test") == NULL, "the header followed the redirect");
  g_mutex_unlock (&other->lock);

  g_object_unref (fetcher);
  test_server_free (other);
}

GST_END_TEST;

GST_START_TEST (test_concurrent_jobs)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  MeshFetchJob *jobs[6];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (jobs); i++)
    jobs[i] = start_fetch (fetcher, "/body", i * 100000, 150000,
        MESH_FETCH_KIND_SEGMENT);
  /* popped in reverse order: the queues hold what arrives meanwhile */
  for (i = G_N_ELEMENTS (jobs); i-- > 0;) {
    GError *error = NULL;
    GBytes *body = pop_all (jobs[i], &error);

    fail_unless (error == NULL);
    assert_body_range (body, i * 100000, 150000);
    g_bytes_unref (body);
    g_object_unref (jobs[i]);
  }
  g_object_unref (fetcher);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* AES tests */

static void
hex_decode (const gchar * hex, guint8 * out)
{
  gsize i;

  for (i = 0; hex[2 * i]; i++)
    out[i] = g_ascii_xdigit_value (hex[2 * i]) << 4 |
        g_ascii_xdigit_value (hex[2 * i + 1]);
}

/* Feeds @data to @dec in chunks of sizes drawn from @rand and collects the
 * plaintext; checks that nothing but the last block is ever held back. */
static GByteArray *
push_in_chunks (MeshAesDecryptor * dec, const guint8 * data, gsize len,
    GRand * rand, guint max_chunk)
{
  GByteArray *out = g_byte_array_new ();
  gsize pos = 0;

  while (pos < len) {
    gsize n = g_rand_int_range (rand, 0, max_chunk);
    GBytes *in, *plain;

    n = MIN (n, len - pos);
    in = g_bytes_new (data + pos, n);
    plain = mesh_aes_decryptor_push (dec, in);

    fail_unless (plain != NULL);
    g_byte_array_append (out, g_bytes_get_data (plain, NULL),
        g_bytes_get_size (plain));
    pos += n;
    /* all whole blocks are out but the last one, unless more follows */
    fail_unless_equals_uint64 (out->len,
        pos - (pos % 16 ? pos % 16 : MIN (pos, 16)));
    g_bytes_unref (plain);
    g_bytes_unref (in);
  }
  return out;
}

static guint8 *
encrypt_pkcs7 (const guint8 key[16], const guint8 iv[16], const guint8 * plain,
    gsize len, gsize * out_len)
{
  struct aes128_ctx ctx;
  guint8 chain[16];
  gsize pad = 16 - len % 16, total = len + pad;
  guint8 *buf = g_malloc (total), *out = g_malloc (total);

  memcpy (buf, plain, len);
  memset (buf + len, pad, pad);
  memcpy (chain, iv, 16);
  aes128_set_encrypt_key (&ctx, key);
  cbc_encrypt (&ctx, (nettle_cipher_func *) aes128_encrypt, 16, chain, total,
      out, buf);
  g_free (buf);
  *out_len = total;
  return out;
}

/* Encrypts without padding: the caller makes @len a multiple of 16. */
static guint8 *
encrypt_raw (const guint8 key[16], const guint8 iv[16], const guint8 * plain,
    gsize len)
{
  struct aes128_ctx ctx;
  guint8 chain[16], *out = g_malloc (len);

  memcpy (chain, iv, 16);
  aes128_set_encrypt_key (&ctx, key);
  cbc_encrypt (&ctx, (nettle_cipher_func *) aes128_encrypt, 16, chain, len,
      out, plain);
  return out;
}

GST_START_TEST (test_aes_known_vector)
{
  /* NIST SP 800-38A, F.2.2 CBC-AES128.Decrypt */
  guint8 key[16], iv[16], cipher[64], plain[64];
  MeshAesDecryptor *dec;
  GBytes *in, *out;
  GError *error = NULL;

  hex_decode ("2b7e151628aed2a6abf7158809cf4f3c", key);
  hex_decode ("000102030405060708090a0b0c0d0e0f", iv);
  hex_decode ("7649abac8119b246cee98e9b12e9197d"
      "5086cb9b507219ee95db113a917678b2"
      "73bed6b8e3c1743b7116e69e22229516"
      "3ff1caa1681fac09120eca307586e1a7", cipher);
  hex_decode ("6bc1bee22e409f96e93d7e117393172a"
      "ae2d8a571e03ac9c9eb76fac45af8e51"
      "30c81c46a35ce411e5fbc1191a0a52ef"
      "f69f2445df4f9b17ad2b417be66c3710", plain);

  dec = mesh_aes_decryptor_new (key, iv);
  in = g_bytes_new_static (cipher, sizeof (cipher));
  out = mesh_aes_decryptor_push (dec, in);
  /* the last block is held back */
  fail_unless_equals_int (g_bytes_get_size (out), 48);
  fail_unless (memcmp (g_bytes_get_data (out, NULL), plain, 48) == 0);
  g_bytes_unref (out);
  g_bytes_unref (in);

  /* its last byte is 0x10 but the 15 before are not: not PKCS#7 */
  fail_unless (mesh_aes_decryptor_finish (dec, &error) == NULL);
  fail_unless (g_error_matches (error, MESH_AES_ERROR, MESH_AES_ERROR_PADDING));
  g_clear_error (&error);
  mesh_aes_decryptor_free (dec);
}

GST_END_TEST;

GST_START_TEST (test_aes_round_trip)
{
  GRand *rand = g_rand_new_with_seed (1234);
  gsize sizes[] = { 0, 1, 15, 16, 17, 31, 32, 33, 1000, 4096, 0, 0, 0 };
  guint i;

  sizes[G_N_ELEMENTS (sizes) - 3] = g_rand_int_range (rand, 1, 300000);
  sizes[G_N_ELEMENTS (sizes) - 2] = g_rand_int_range (rand, 1, 300000);
  sizes[G_N_ELEMENTS (sizes) - 1] = g_rand_int_range (rand, 1, 300000);

  for (i = 0; i < G_N_ELEMENTS (sizes); i++) {
    gsize len = sizes[i], cipher_len, j;
    guint8 key[16], iv[16], *plain = g_malloc (len + 1), *cipher;
    guint max_chunk = (i % 2) ? 40 : 70000;
    MeshAesDecryptor *dec;
    GByteArray *out;
    GBytes *tail;
    GError *error = NULL;

    for (j = 0; j < 16; j++) {
      key[j] = g_rand_int (rand);
      iv[j] = g_rand_int (rand);
    }
    for (j = 0; j < len; j++)
      plain[j] = g_rand_int (rand);
    cipher = encrypt_pkcs7 (key, iv, plain, len, &cipher_len);

    dec = mesh_aes_decryptor_new (key, iv);
    out = push_in_chunks (dec, cipher, cipher_len, rand, max_chunk);
    fail_unless_equals_int (out->len, cipher_len - 16);
    tail = mesh_aes_decryptor_finish (dec, &error);
    fail_unless (tail != NULL, "%s", error ? error->message : "");
    g_byte_array_append (out, g_bytes_get_data (tail, NULL),
        g_bytes_get_size (tail));

    fail_unless_equals_int (out->len, len);
    fail_unless (len == 0 || memcmp (out->data, plain, len) == 0,
        "size %" G_GSIZE_FORMAT, len);

    g_bytes_unref (tail);
    g_byte_array_unref (out);
    mesh_aes_decryptor_free (dec);
    g_free (cipher);
    g_free (plain);
  }
  g_rand_free (rand);
}

GST_END_TEST;

static GError *
decrypt_error (const guint8 * cipher, gsize len)
{
  const guint8 key[16] = { 1, 2, 3 }, iv[16] = { 4, 5, 6 };
  g_autoptr (MeshAesDecryptor) dec = mesh_aes_decryptor_new (key, iv);
  GBytes *in = g_bytes_new (cipher, len);
  GError *error = NULL;

  g_bytes_unref (mesh_aes_decryptor_push (dec, in));
  g_bytes_unref (in);
  fail_unless (mesh_aes_decryptor_finish (dec, &error) == NULL);
  fail_unless (error != NULL);
  return error;
}

GST_START_TEST (test_aes_bad_input)
{
  const guint8 key[16] = { 1, 2, 3 }, iv[16] = { 4, 5, 6 };
  const guint8 bad_last[] = { 0, 17, 0xff };
  guint8 plain[32], *cipher;
  gsize cipher_len;
  GError *error;
  guint i;

  memset (plain, 0xab, sizeof (plain));

  /* last plaintext bytes that cannot be PKCS#7 padding */
  for (i = 0; i < G_N_ELEMENTS (bad_last); i++) {
    plain[31] = bad_last[i];
    cipher = encrypt_raw (key, iv, plain, 32);
    error = decrypt_error (cipher, 32);
    fail_unless (g_error_matches (error, MESH_AES_ERROR,
            MESH_AES_ERROR_PADDING), "%s", error->message);
    g_error_free (error);
    g_free (cipher);
  }
  /* a pad length whose padding bytes do not match */
  plain[31] = 3;
  plain[30] = 3;
  plain[29] = 2;
  cipher = encrypt_raw (key, iv, plain, 32);
  error = decrypt_error (cipher, 32);
  fail_unless (g_error_matches (error, MESH_AES_ERROR, MESH_AES_ERROR_PADDING));
  g_error_free (error);
  g_free (cipher);

  /* lengths that are not a positive multiple of 16 */
  cipher = encrypt_pkcs7 (key, iv, plain, 20, &cipher_len);
  fail_unless_equals_int (cipher_len, 32);
  for (i = 0; i < cipher_len; i += (i < 17 ? 1 : 7)) {
    if (i % 16 == 0 && i > 0)
      continue;
    error = decrypt_error (cipher, i);
    fail_unless (g_error_matches (error, MESH_AES_ERROR,
            MESH_AES_ERROR_LENGTH), "length %u: %s", i, error->message);
    g_error_free (error);
  }
  g_free (cipher);
}

GST_END_TEST;

GST_START_TEST (test_aes_iv_from_sequence)
{
  const guint8 zero[16] = { 0 };
  guint8 iv[16], expected[16];

  memset (iv, 0x55, 16);
  mesh_aes_iv_from_sequence (0, iv);
  fail_unless (memcmp (iv, zero, 16) == 0);

  mesh_aes_iv_from_sequence (1, iv);
  hex_decode ("00000000000000000000000000000001", expected);
  fail_unless (memcmp (iv, expected, 16) == 0);

  mesh_aes_iv_from_sequence (G_GUINT64_CONSTANT (0x0102030405060708), iv);
  hex_decode ("00000000000000000102030405060708", expected);
  fail_unless (memcmp (iv, expected, 16) == 0);

  mesh_aes_iv_from_sequence (G_MAXUINT64, iv);
  hex_decode ("0000000000000000ffffffffffffffff", expected);
  fail_unless (memcmp (iv, expected, 16) == 0);
}

GST_END_TEST;


/* ------------------------------------------------------------------------ */
/* Prefetching (mesh_fetcher_prefetch) */

/* Peer-to-peer on, with a tracker nobody answers: no peer ever connects,
 * so the peer manager sends every segment to the CDN at once. */
static MeshFetcher *
p2p_fetcher_new (void)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  MeshPeerConfig config = { 0, };

  config.tracker_url = "ws://127.0.0.1:9/announce";
  config.swarm_id = "test";
  /* no peer ever answers here: nothing to verify */
  config.integrity = MESH_INTEGRITY_NONE;
  config.max_peers = 4;
  config.upload = TRUE;
  config.cache_size = 16 * 1024 * 1024;
  mesh_fetcher_set_peer_config (fetcher, &config);
  return fetcher;
}

static gboolean
prefetch (MeshFetcher * fetcher, const gchar * path, gint64 offset,
    gint64 size, const gchar * segment_id, gint64 deadline)
{
  g_autofree gchar *url = url_for (path);
  MeshFetchRequest req = { url, offset, size, MESH_FETCH_KIND_SEGMENT,
    deadline, segment_id
  };

  return mesh_fetcher_prefetch (fetcher, &req);
}

static MeshFetchJob *
fetch_segment (MeshFetcher * fetcher, const gchar * path, gint64 offset,
    gint64 size, const gchar * segment_id)
{
  g_autofree gchar *url = url_for (path);
  MeshFetchRequest req = { url, offset, size, MESH_FETCH_KIND_SEGMENT,
    g_get_monotonic_time () + G_USEC_PER_SEC, segment_id
  };

  return mesh_fetcher_fetch (fetcher, &req);
}

#if HAVE_P2P
GST_START_TEST (test_prefetch_adopted)
{
  MeshFetcher *fetcher = p2p_fetcher_new ();
  MeshPeerStats stats;
  MeshFetchJob *job;
  GError *error = NULL;
  GBytes *body;
  guint64 prefetched, adopted;

  fail_unless (prefetch (fetcher, "/body", 0, -1, "seg/1",
          g_get_monotonic_time () + 5 * G_USEC_PER_SEC));
  /* asked again: still the one job */
  fail_unless (prefetch (fetcher, "/body", 0, -1, "seg/1",
          g_get_monotonic_time () + 5 * G_USEC_PER_SEC));
  fail_unless_equals_int (mesh_fetcher_get_n_prefetches (fetcher), 1);
  /* it starts at once, before anybody fetches it */
  wait_for_requests ("/body", 1);

  job = fetch_segment (fetcher, "/body", 0, -1, "seg/1");
  fail_unless_equals_int (mesh_fetcher_get_n_prefetches (fetcher), 0);
  body = pop_all (job, &error);
  fail_unless (error == NULL, "%s", error ? error->message : "");
  assert_body_range (body, 0, BODY_SIZE);
  /* the origin saw one download, not two */
  fail_unless_equals_int (requests_for ("/body"), 1);
  fail_unless_equals_uint64 (mesh_fetcher_get_bytes_from_cdn (fetcher),
      BODY_SIZE);
  mesh_fetcher_get_prefetch_counts (fetcher, &prefetched, &adopted);
  fail_unless_equals_uint64 (prefetched, 1);
  fail_unless_equals_uint64 (adopted, 1);
  /* the swarm was asked once, ~5 s ahead, and nobody had it */
  mesh_fetcher_get_peer_stats (fetcher, &stats);
  fail_unless_equals_uint64 (stats.requests, 1);
  fail_unless_equals_uint64 (stats.cdn_nobody, 1);
  fail_unless_equals_uint64 (stats.slack[4], 1);        /* 4 - 8 s */
  g_bytes_unref (body);
  g_object_unref (job);

  /* a fetch of another segment is not served by a prefetch */
  check_fetch (fetcher, "/body", 1000, 5000);
  fail_unless_equals_int (requests_for ("/body"), 2);
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_prefetch_other_range)
{
  MeshFetcher *fetcher = p2p_fetcher_new ();
  MeshFetchJob *job;
  GError *error = NULL;
  GBytes *body;

  fail_unless (prefetch (fetcher, "/body", 0, 1000, "seg/2",
          g_get_monotonic_time () + 5 * G_USEC_PER_SEC));
  wait_for_requests ("/body", 1);
  /* same identity, another range: a download of its own */
  job = fetch_segment (fetcher, "/body", 1000, 5000, "seg/2");
  body = pop_all (job, &error);
  fail_unless (error == NULL, "%s", error ? error->message : "");
  assert_body_range (body, 1000, 5000);
  fail_unless_equals_int (requests_for ("/body"), 2);
  fail_unless_equals_int (mesh_fetcher_get_n_prefetches (fetcher), 0);
  g_bytes_unref (body);
  g_object_unref (job);
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_prefetch_bound_and_cancel)
{
  MeshFetcher *fetcher = p2p_fetcher_new ();
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  guint i, accepted = 0;

  for (i = 0; i < 40; i++) {
    g_autofree gchar *id = g_strdup_printf ("hang/%u", i);

    accepted += prefetch (fetcher, "/hang", 0, -1, id, deadline);
  }
  fail_unless_equals_int (accepted, 32);
  fail_unless_equals_int (mesh_fetcher_get_n_prefetches (fetcher), 32);
  wait_for_requests ("/hang", 1);

  /* one, then all: cancelled, a later fetch starts anew */
  mesh_fetcher_cancel_prefetch (fetcher, "hang/0");
  fail_unless_equals_int (mesh_fetcher_get_n_prefetches (fetcher), 31);
  mesh_fetcher_cancel_prefetches (fetcher);
  fail_unless_equals_int (mesh_fetcher_get_n_prefetches (fetcher), 0);
  fail_unless (prefetch (fetcher, "/body", 0, -1, "body/0", deadline));
  g_object_unref (fetcher);
}

GST_END_TEST;

GST_START_TEST (test_prefetch_unref_fetcher)
{
  MeshFetcher *fetcher = p2p_fetcher_new ();

  /* nobody adopts it: it goes with the fetcher */
  fail_unless (prefetch (fetcher, "/hang", 0, -1, "hang/x",
          g_get_monotonic_time () + 5 * G_USEC_PER_SEC));
  wait_for_requests ("/hang", 1);
  g_object_unref (fetcher);
}

GST_END_TEST;
#endif

GST_START_TEST (test_prefetch_off_without_p2p)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  MeshPeerConfig config = { 0, };
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  g_autofree gchar *url = url_for ("/body");
  MeshFetchRequest playlist = { url, 0, -1, MESH_FETCH_KIND_PLAYLIST,
    deadline, "seg/1"
  };
  MeshFetchRequest no_id = { url, 0, -1, MESH_FETCH_KIND_SEGMENT,
    deadline, NULL
  };
  MeshPeerStats stats;

  /* no tracker: nothing starts */
  fail_if (prefetch (fetcher, "/body", 0, -1, "seg/1", deadline));
  mesh_fetcher_set_peer_config (fetcher, &config);
  fail_if (prefetch (fetcher, "/body", 0, -1, "seg/1", deadline));
  fail_unless_equals_int (mesh_fetcher_get_n_prefetches (fetcher), 0);
  check_fetch (fetcher, "/body", 0, -1);
  fail_unless_equals_int (requests_for ("/body"), 1);
  mesh_fetcher_get_peer_stats (fetcher, &stats);
  fail_unless_equals_uint64 (stats.requests, 0);
  g_object_unref (fetcher);

  /* with peers, only segments with an identity are prefetched */
  fetcher = p2p_fetcher_new ();
  fail_if (mesh_fetcher_prefetch (fetcher, &playlist));
  fail_if (mesh_fetcher_prefetch (fetcher, &no_id));
  fail_unless_equals_int (mesh_fetcher_get_n_prefetches (fetcher), 0);
  g_object_unref (fetcher);
}

GST_END_TEST;

static Suite *
fetcher_suite (void)
{
  Suite *s = suite_create ("fetcher");
  TCase *tc_http = tcase_create ("http");
  TCase *tc_aes = tcase_create ("aes");

  suite_add_tcase (s, tc_http);
  tcase_add_checked_fixture (tc_http, server_setup, server_teardown);
  tcase_add_test (tc_http, test_whole_body);
  tcase_add_test (tc_http, test_ranges);
  tcase_add_test (tc_http, test_server_ignores_range);
  tcase_add_test (tc_http, test_cut_short_response_is_not_drained);
  tcase_add_test (tc_http, test_not_found);
  tcase_add_test (tc_http, test_5xx_then_recovery);
  tcase_add_test (tc_http, test_retries_exhausted);
  tcase_add_test (tc_http, test_network_error);
  tcase_add_test (tc_http, test_drop_and_resume);
  tcase_add_test (tc_http, test_drop_and_resume_range);
  tcase_add_test (tc_http, test_timeout);
  tcase_add_test (tc_http, test_redirect);
  tcase_add_test (tc_http, test_extra_headers_stay_on_their_origin);
  tcase_add_test (tc_http, test_invalid_url);
  tcase_add_test (tc_http, test_read_all_too_large);
  tcase_add_test (tc_http, test_cancel_blocked_pop);
  tcase_add_test (tc_http, test_cancel_during_backoff);
  tcase_add_test (tc_http, test_cancel_before_pop);
  tcase_add_test (tc_http, test_unref_fetcher_with_live_jobs);
  tcase_add_test (tc_http, test_bytes_from_cdn);
  tcase_add_test (tc_http, test_request_headers);
  tcase_add_test (tc_http, test_concurrent_jobs);
#if HAVE_P2P
  tcase_add_test (tc_http, test_prefetch_adopted);
  tcase_add_test (tc_http, test_prefetch_other_range);
  tcase_add_test (tc_http, test_prefetch_bound_and_cancel);
  tcase_add_test (tc_http, test_prefetch_unref_fetcher);
#endif
  tcase_add_test (tc_http, test_prefetch_off_without_p2p);

  suite_add_tcase (s, tc_aes);
  tcase_add_test (tc_aes, test_aes_known_vector);
  tcase_add_test (tc_aes, test_aes_round_trip);
  tcase_add_test (tc_aes, test_aes_bad_input);
  tcase_add_test (tc_aes, test_aes_iv_from_sequence);

  return s;
}

GST_CHECK_MAIN (fetcher);
