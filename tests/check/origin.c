/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of the test origin (tools/origin): files, ranges, confinement to the
 * root, counters, faults, the looped live windows and live DASH, and the
 * digest lists (mesh-hashes.json) it publishes next to its manifests.
 *
 * Threads: each test runs on the check thread with a synchronous SoupSession
 * (its own context); the origin runs on its own thread. The origin counts
 * bytes as it writes them, which can trail the client's read by a moment,
 * so counters read through the C API are polled with a deadline.
 */

#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "mesh-origin-server.h"
#include "fetch/mesh-hash-list.h"

#define DATA_SIZE 1000
#define BIG_SIZE 40000
#define SEC ((gint64) G_USEC_PER_SEC)

static gchar *tmp_dir;
static gchar *root_dir;
static MeshOriginServer *origin;
static SoupSession *session;
static guint8 data_bytes[DATA_SIZE];
static guint8 *big_bytes;

/* ------------------------------------------------------------------------ */
/* fixture                                                                  */

static void
write_file (const gchar * relpath, const void *contents, gssize length)
{
  g_autofree gchar *path = g_build_filename (root_dir, relpath, NULL);
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;

  fail_unless (g_mkdir_with_parents (dir, 0755) == 0);
  if (length < 0)
    length = strlen (contents);
  fail_unless (g_file_set_contents (path, contents, length, &error),
      "%s", error ? error->message : "");
}

static const gchar vod_playlist[] =
    "#EXTM3U\n"
    "#EXT-X-VERSION:3\n"
    "#EXT-X-TARGETDURATION:10\n"
    "#EXT-X-MEDIA-SEQUENCE:0\n"
    "#EXT-X-PLAYLIST-TYPE:VOD\n"
    "#EXTINF:10.0,\nseg0.ts\n"
    "#EXTINF:10.0,\nseg1.ts\n"
    "#EXTINF:10.0,\nseg2.ts\n" "#EXTINF:10.0,\nseg3.ts\n" "#EXT-X-ENDLIST\n";

static const gchar keyed_playlist[] =
    "#EXTM3U\n"
    "#EXT-X-VERSION:7\n"
    "#EXT-X-TARGETDURATION:10\n"
    "#EXT-X-MEDIA-SEQUENCE:5\n"
    "#EXT-X-PLAYLIST-TYPE:VOD\n"
    "#EXT-X-MAP:URI=\"init.mp4\"\n"
    "#EXT-X-KEY:METHOD=AES-128,URI=\"/keys/k.bin\"\n"
    "#EXT-X-PROGRAM-DATE-TIME:2020-01-01T00:00:00Z\n"
    "#EXTINF:10.0,\n#EXT-X-BYTERANGE:100@0\nall.m4s\n"
    "#EXTINF:10.0,\n#EXT-X-BYTERANGE:200\nall.m4s\n"
    "#EXTINF:10.0,\n#EXT-X-BYTERANGE:300\nall.m4s\n" "#EXT-X-ENDLIST\n";

static const gchar fast_playlist[] =
    "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
    "#EXTINF:0.1,\na.ts\n#EXTINF:0.1,\nb.ts\n#EXTINF:0.1,\nc.ts\n"
    "#EXTINF:0.1,\nd.ts\n#EXT-X-ENDLIST\n";

static const gchar master_playlist[] =
    "#EXTM3U\n"
    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"/abs/audio.m3u8\"\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=100000,AUDIO=\"a\"\nv0/index.m3u8\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=200000,AUDIO=\"a\"\n/abs/index.m3u8\n";

static void fill_dash_root (void);

static void
fill_root (void)
{
  guint i;

  for (i = 0; i < DATA_SIZE; i++)
    data_bytes[i] = i % 251;
  big_bytes = g_malloc (BIG_SIZE);
  for (i = 0; i < BIG_SIZE; i++)
    big_bytes[i] = (i * 7) % 253;

  write_file ("data.bin", data_bytes, DATA_SIZE);
  write_file ("big.bin", big_bytes, BIG_SIZE);
  write_file ("video/seg.ts", "not really a TS", -1);
  write_file ("video/list.m3u8", "#EXTM3U\n", -1);
  write_file ("empty.bin", "", 0);
  write_file ("vod/index.m3u8", vod_playlist, -1);
  for (i = 0; i < 4; i++) {
    g_autofree gchar *name = g_strdup_printf ("vod/seg%u.ts", i);
    g_autofree gchar *text = g_strdup_printf ("segment %u", i);

    write_file (name, text, -1);
  }
  write_file ("keyed/index.m3u8", keyed_playlist, -1);
  write_file ("keyed/init.mp4", "init", -1);
  write_file ("keys/k.bin", "0123456789abcdef", 16);
  write_file ("fast/index.m3u8", fast_playlist, -1);
  write_file ("m/master.m3u8", master_playlist, -1);
  write_file ("bad/index.m3u8", "this is not a playlist\n", -1);
  write_file ("bad/noextinf.m3u8", "#EXTM3U\nseg.ts\n", -1);
  fill_dash_root ();
}

static void
origin_setup (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *secret = NULL;
  MeshOriginConfig config = { 0, };

  tmp_dir = g_dir_make_tmp ("mesh-origin-test-XXXXXX", &error);
  fail_unless (tmp_dir != NULL, "%s", error ? error->message : "");
  root_dir = g_build_filename (tmp_dir, "root", NULL);
  fill_root ();
  /* outside the root: must never be served */
  secret = g_build_filename (tmp_dir, "secret.txt", NULL);
  fail_unless (g_file_set_contents (secret, "TOP-SECRET", -1, NULL));

  config.root = root_dir;
  config.live_window = 3;
  origin = mesh_origin_server_start (&config, &error);
  fail_unless (origin != NULL, "%s", error ? error->message : "");
  fail_unless (mesh_origin_server_get_port (origin) != 0);

  session = soup_session_new_with_options ("timeout", 30, NULL);
}

static void
remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir) {
    while ((name = g_dir_read_name (dir))) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);
      remove_tree (child);
    }
    g_dir_close (dir);
  }
  g_remove (path);
}

static void
origin_teardown (void)
{
  g_clear_object (&session);
  mesh_origin_server_stop (origin);
  origin = NULL;
  remove_tree (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
  g_clear_pointer (&root_dir, g_free);
  g_clear_pointer (&big_bytes, g_free);
}

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static gchar *
url_for (MeshOriginServer * server, const gchar * path)
{
  return g_strconcat (mesh_origin_server_get_base_url (server), path, NULL);
}

/* Sends a request to @origin; returns the body (NULL on a transport error,
 * then *error_out is set if given) and the message in *msg_out if given. */
static GBytes *
request_full (const gchar * method, const gchar * url, const gchar * range,
    SoupMessage ** msg_out, GError ** error_out)
{
  SoupMessage *msg = soup_message_new (method, url);
  GError *error = NULL;
  GBytes *body;

  fail_unless (msg != NULL, "bad url %s", url);
  if (range)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Range", range);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  if (error_out)
    *error_out = error;
  else
    g_clear_error (&error);
  if (msg_out)
    *msg_out = msg;
  else
    g_object_unref (msg);
  return body;
}

static GBytes *
http_get (const gchar * path, const gchar * range, guint * status)
{
  g_autofree gchar *url = url_for (origin, path);
  g_autoptr (GError) error = NULL;
  SoupMessage *msg = NULL;
  GBytes *body = request_full ("GET", url, range, &msg, &error);

  fail_unless (body != NULL, "GET %s: %s", path, error->message);
  *status = soup_message_get_status (msg);
  g_object_unref (msg);
  return body;
}

static guint
http_post (const gchar * path)
{
  g_autofree gchar *url = url_for (origin, path);
  g_autoptr (GError) error = NULL;
  SoupMessage *msg = NULL;
  g_autoptr (GBytes) body = request_full ("POST", url, NULL, &msg, &error);
  guint status;

  fail_unless (body != NULL, "POST %s: %s", path, error->message);
  status = soup_message_get_status (msg);
  g_object_unref (msg);
  return status;
}

static gchar *
bytes_to_string (GBytes * bytes)
{
  return g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static gboolean
bytes_equal_mem (GBytes * bytes, const void *mem, gsize size)
{
  return g_bytes_get_size (bytes) == size
      && memcmp (g_bytes_get_data (bytes, NULL), mem, size) == 0;
}

static gboolean
wait_for_bytes (const gchar * prefix, guint64 expected)
{
  gint64 deadline = g_get_monotonic_time () + 5 * SEC;

  while (mesh_origin_server_get_bytes (origin, prefix) != expected) {
    if (g_get_monotonic_time () > deadline)
      return FALSE;
    g_usleep (1000);
  }
  return TRUE;
}

/* Sends @request as is on a fresh connection and returns what came back. */
static gchar *
raw_exchange (const gchar * request)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  GString *reply = g_string_new (NULL);
  gchar buf[4096];
  gssize n;

  g_socket_client_set_timeout (client, 10);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1",
      mesh_origin_server_get_port (origin), NULL, &error);
  fail_unless (conn != NULL, "%s", error ? error->message : "");
  fail_unless (g_output_stream_write_all (g_io_stream_get_output_stream
          (G_IO_STREAM (conn)), request, strlen (request), NULL, NULL, &error));
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM
                  (conn)), buf, sizeof (buf), NULL, NULL)) > 0)
    g_string_append_len (reply, buf, n);

  return g_string_free (reply, FALSE);
}

static guint
raw_status (const gchar * reply)
{
  guint status = 0;

  if (sscanf (reply, "HTTP/1.%*d %u", &status) != 1)
    return 0;
  return status;
}

/* ------------------------------------------------------------------------ */
/* files and ranges                                                         */

GST_START_TEST (test_full_get)
{
  g_autofree gchar *url = url_for (origin, "/data.bin");
  SoupMessage *msg = NULL;
  GBytes *body;
  SoupMessageHeaders *headers;
  guint status;

  body = request_full ("GET", url, NULL, &msg, NULL);
  fail_unless (body != NULL);
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  fail_unless (bytes_equal_mem (body, data_bytes, DATA_SIZE));
  headers = soup_message_get_response_headers (msg);
  fail_unless_equals_string (soup_message_headers_get_one (headers,
          "Accept-Ranges"), "bytes");
  fail_unless_equals_string (soup_message_headers_get_content_type (headers,
          NULL), "application/octet-stream");
  fail_unless_equals_int64 (soup_message_headers_get_content_length (headers),
      DATA_SIZE);
  g_bytes_unref (body);
  g_object_unref (msg);

  g_free (url);
  url = url_for (origin, "/video/seg.ts");
  body = request_full ("GET", url, NULL, &msg, NULL);
  fail_unless_equals_string (soup_message_headers_get_content_type
      (soup_message_get_response_headers (msg), NULL), "video/mp2t");
  g_bytes_unref (body);
  g_object_unref (msg);

  g_free (url);
  url = url_for (origin, "/video/list.m3u8");
  body = request_full ("GET", url, NULL, &msg, NULL);
  fail_unless_equals_string (soup_message_headers_get_content_type
      (soup_message_get_response_headers (msg), NULL),
      "application/vnd.apple.mpegurl");
  g_bytes_unref (body);
  g_object_unref (msg);

  body = http_get ("/empty.bin", NULL, &status);
  fail_unless_equals_int (status, 200);
  fail_unless_equals_int (g_bytes_get_size (body), 0);
  g_bytes_unref (body);
}

GST_END_TEST;

static void
check_range (const gchar * range, gsize start, gsize end)
{
  g_autofree gchar *url = url_for (origin, "/data.bin");
  g_autofree gchar *expected_cr = NULL;
  SoupMessage *msg = NULL;
  GBytes *body = request_full ("GET", url, range, &msg, NULL);
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);

  fail_unless (body != NULL);
  fail_unless_equals_int (soup_message_get_status (msg), 206);
  expected_cr = g_strdup_printf ("bytes %" G_GSIZE_FORMAT "-%" G_GSIZE_FORMAT
      "/%d", start, end, DATA_SIZE);
  fail_unless_equals_string (soup_message_headers_get_one (headers,
          "Content-Range"), expected_cr);
  fail_unless (bytes_equal_mem (body, data_bytes + start, end - start + 1),
      "range %s: wrong body", range);
  g_bytes_unref (body);
  g_object_unref (msg);
}

static void
check_unsatisfiable (const gchar * range)
{
  g_autofree gchar *url = url_for (origin, "/data.bin");
  SoupMessage *msg = NULL;
  GBytes *body = request_full ("GET", url, range, &msg, NULL);

  fail_unless (body != NULL);
  fail_unless_equals_int (soup_message_get_status (msg), 416);
  fail_unless_equals_string (soup_message_headers_get_one
      (soup_message_get_response_headers (msg), "Content-Range"),
      "bytes */1000");
  g_bytes_unref (body);
  g_object_unref (msg);
}

GST_START_TEST (test_range)
{
  GBytes *body;
  guint status;

  check_range ("bytes=10-19", 10, 19);
  check_range ("bytes=0-0", 0, 0);
  check_range ("bytes=990-", 990, 999);
  check_range ("bytes=-5", 995, 999);
  check_range ("bytes=-5000", 0, 999);
  check_range ("bytes=995-2000", 995, 999);

  check_unsatisfiable ("bytes=1000-");
  check_unsatisfiable ("bytes=5000-6000");
  check_unsatisfiable ("bytes=-0");

  /* what is not a single well-formed range is ignored: the whole file */
  body = http_get ("/data.bin", "bytes=20-10", &status);
  fail_unless_equals_int (status, 200);
  fail_unless (bytes_equal_mem (body, data_bytes, DATA_SIZE));
  g_bytes_unref (body);
  body = http_get ("/data.bin", "bytes=0-1,5-6", &status);
  fail_unless_equals_int (status, 200);
  fail_unless (bytes_equal_mem (body, data_bytes, DATA_SIZE));
  g_bytes_unref (body);
  body = http_get ("/data.bin", "lines=1-2", &status);
  fail_unless_equals_int (status, 200);
  g_bytes_unref (body);
}

GST_END_TEST;

GST_START_TEST (test_not_found)
{
  GBytes *body;
  guint status;

  body = http_get ("/nope.ts", NULL, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);
  body = http_get ("/video", NULL, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);
  body = http_get ("/live/vod/nope.m3u8", NULL, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);
  body = http_get ("/_nothing_here", NULL, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);
  fail_unless_equals_int (http_post ("/data.bin"), 405);
  fail_unless_equals_int (http_post ("/_stats"), 405);
}

GST_END_TEST;

GST_START_TEST (test_path_traversal)
{
  static const gchar *const paths[] = {
    "/../secret.txt", "/%2e%2e/secret.txt", "/video/../../secret.txt",
    "/video/%2E%2E/%2e%2e/secret.txt", "/..%2fsecret.txt",
    "/live/../../secret.txt", "/live/%2e%2e/%2e%2e/secret.txt",
    "/live/..%2f..%2fsecret.txt",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (paths); i++) {
    g_autofree gchar *request = g_strdup_printf ("GET %s HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nConnection: close\r\n\r\n", paths[i]);
    g_autofree gchar *reply = raw_exchange (request);
    guint status = raw_status (reply);

    fail_if (strstr (reply, "TOP-SECRET") != NULL, "%s leaked the secret",
        paths[i]);
    fail_unless (status == 403 || status == 404 || status == 400,
        "%s: status %u", paths[i], status);
  }

  /* dot segments that stay inside the root are fine */
  {
    g_autofree gchar *reply =
        raw_exchange ("GET /video/./../data.bin HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
    guint status = raw_status (reply);

    fail_unless (status == 200 || status == 403, "status %u", status);
  }
}

GST_END_TEST;

GST_START_TEST (test_keep_alive)
{
  g_autofree gchar *url = url_for (origin, "/data.bin");
  SoupMessage *msg_a = NULL, *msg_b = NULL;
  GBytes *body;

  body = request_full ("GET", url, NULL, &msg_a, NULL);
  g_bytes_unref (body);
  body = request_full ("GET", url, "bytes=0-9", &msg_b, NULL);
  g_bytes_unref (body);
  fail_unless_equals_int (soup_message_get_status (msg_b), 206);
  fail_unless (soup_message_get_connection_id (msg_a) != 0);
  fail_unless_equals_uint64 (soup_message_get_connection_id (msg_a),
      soup_message_get_connection_id (msg_b));
  g_object_unref (msg_a);
  g_object_unref (msg_b);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* counters                                                                 */

static JsonObject *
get_stats_json (JsonParser * parser)
{
  guint status;
  g_autoptr (GBytes) body = http_get ("/_stats", NULL, &status);
  g_autoptr (GError) error = NULL;

  fail_unless_equals_int (status, 200);
  fail_unless (json_parser_load_from_data (parser, g_bytes_get_data (body,
              NULL), g_bytes_get_size (body), &error), "%s",
      error ? error->message : "");
  fail_unless (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_node_get_object (json_parser_get_root (parser));
}

GST_START_TEST (test_stats)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *stats, *paths, *entry;
  GBytes *body;
  guint status;

  body = http_get ("/data.bin", NULL, &status);
  g_bytes_unref (body);
  body = http_get ("/data.bin", NULL, &status);
  g_bytes_unref (body);
  body = http_get ("/data.bin", "bytes=10-19", &status);
  g_bytes_unref (body);
  body = http_get ("/video/seg.ts", NULL, &status);
  g_bytes_unref (body);
  body = http_get ("/missing.ts", NULL, &status);
  g_bytes_unref (body);

  fail_unless (wait_for_bytes ("/data.bin", 2 * DATA_SIZE + 10));
  fail_unless_equals_int (mesh_origin_server_get_requests (origin,
          "/data.bin"), 3);
  fail_unless_equals_int (mesh_origin_server_get_requests (origin, "/video/"),
      1);
  fail_unless_equals_int (mesh_origin_server_get_requests (origin, "/"), 5);
  fail_unless_equals_int (mesh_origin_server_get_requests (origin, NULL), 5);
  fail_unless (wait_for_bytes ("/video/", strlen ("not really a TS")));

  stats = get_stats_json (parser);
  paths = json_object_get_object_member (stats, "paths");
  fail_unless (paths != NULL);
  entry = json_object_get_object_member (paths, "/data.bin");
  fail_unless (entry != NULL);
  fail_unless_equals_int (json_object_get_int_member (entry, "requests"), 3);
  fail_unless_equals_int (json_object_get_int_member (entry, "bytes"),
      2 * DATA_SIZE + 10);
  entry = json_object_get_object_member (paths, "/missing.ts");
  fail_unless (entry != NULL);
  fail_unless_equals_int (json_object_get_int_member (entry, "requests"), 1);
  /* the control endpoints are not counted */
  fail_if (json_object_has_member (paths, "/_stats"));
  fail_unless_equals_int (json_object_get_int_member (stats,
          "total_requests"), 5);
  fail_unless (json_object_get_int_member (stats, "total_bytes")
      >= 2 * DATA_SIZE + 10 + (gint64) strlen ("not really a TS"));

  fail_unless_equals_int (http_post ("/_stats/reset"), 200);
  stats = get_stats_json (parser);
  fail_unless_equals_int (json_object_get_int_member (stats,
          "total_requests"), 0);
  fail_unless_equals_int (json_object_get_int_member (stats, "total_bytes"), 0);
  fail_unless_equals_int (json_object_get_size (json_object_get_object_member
          (stats, "paths")), 0);
  fail_unless_equals_uint64 (mesh_origin_server_get_bytes (origin, NULL), 0);

  body = http_get ("/data.bin", "bytes=-100", &status);
  g_bytes_unref (body);
  fail_unless (wait_for_bytes (NULL, 100));
  mesh_origin_server_reset_stats (origin);
  fail_unless_equals_int (mesh_origin_server_get_requests (origin, NULL), 0);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* faults                                                                   */

GST_START_TEST (test_fault_status)
{
  GBytes *body;
  guint status;

  fail_unless_equals_int (http_post
      ("/_fault?path=/data.bin&status=503&count=2"), 200);
  body = http_get ("/data.bin", NULL, &status);
  fail_unless_equals_int (status, 503);
  g_bytes_unref (body);
  /* a prefix that does not match is untouched */
  body = http_get ("/big.bin", NULL, &status);
  fail_unless_equals_int (status, 200);
  g_bytes_unref (body);
  body = http_get ("/data.bin", NULL, &status);
  fail_unless_equals_int (status, 503);
  g_bytes_unref (body);
  body = http_get ("/data.bin", NULL, &status);
  fail_unless_equals_int (status, 200);
  fail_unless (bytes_equal_mem (body, data_bytes, DATA_SIZE));
  g_bytes_unref (body);

  /* count absent: until cleared */
  fail_unless_equals_int (http_post ("/_fault?path=/video/&status=404"), 200);
  body = http_get ("/video/seg.ts", NULL, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);
  body = http_get ("/video/seg.ts", NULL, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);
  fail_unless_equals_int (http_post ("/_fault/clear"), 200);
  body = http_get ("/video/seg.ts", NULL, &status);
  fail_unless_equals_int (status, 200);
  g_bytes_unref (body);

  /* bad requests are refused, not half-applied */
  fail_unless_equals_int (http_post ("/_fault?path=/x&status=abc"), 400);
  fail_unless_equals_int (http_post ("/_fault?path=/x&status=42"), 400);
  fail_unless_equals_int (http_post ("/_fault?status=500"), 400);
  fail_unless_equals_int (http_post ("/_fault?path=/x&rate=-1"), 400);
}

GST_END_TEST;

GST_START_TEST (test_fault_delay)
{
  MeshOriginFault fault = { "/data.bin", 1, 0, 300, 0, -1 };
  GBytes *body;
  gint64 start, delayed, plain;
  guint status;

  mesh_origin_server_add_fault (origin, &fault);
  start = g_get_monotonic_time ();
  body = http_get ("/data.bin", NULL, &status);
  delayed = g_get_monotonic_time () - start;
  fail_unless_equals_int (status, 200);
  fail_unless (bytes_equal_mem (body, data_bytes, DATA_SIZE));
  g_bytes_unref (body);
  fail_unless (delayed >= 300 * 1000, "answered after %" G_GINT64_FORMAT
      " us", delayed);

  /* count=1: the next one is not delayed */
  start = g_get_monotonic_time ();
  body = http_get ("/data.bin", NULL, &status);
  plain = g_get_monotonic_time () - start;
  g_bytes_unref (body);
  fail_unless (plain < delayed, "%" G_GINT64_FORMAT " >= %" G_GINT64_FORMAT,
      plain, delayed);

  /* delay and status combine */
  fail_unless_equals_int (http_post
      ("/_fault?path=/data.bin&status=500&delay_ms=200&count=1"), 200);
  start = g_get_monotonic_time ();
  body = http_get ("/data.bin", NULL, &status);
  fail_unless (g_get_monotonic_time () - start >= 200 * 1000);
  fail_unless_equals_int (status, 500);
  g_bytes_unref (body);
}

GST_END_TEST;

GST_START_TEST (test_fault_rate)
{
  /* 40000 bytes at 80000 B/s: about half a second */
  MeshOriginFault fault = { "/big.bin", 1, 0, 0, 80000, -1 };
  GBytes *body;
  gint64 start, elapsed;
  guint status;

  mesh_origin_server_add_fault (origin, &fault);
  start = g_get_monotonic_time ();
  body = http_get ("/big.bin", NULL, &status);
  elapsed = g_get_monotonic_time () - start;
  fail_unless_equals_int (status, 200);
  fail_unless (bytes_equal_mem (body, big_bytes, BIG_SIZE));
  g_bytes_unref (body);
  fail_unless (elapsed >= 400 * 1000 && elapsed < 5 * SEC,
      "40000 B at 80000 B/s took %" G_GINT64_FORMAT " us", elapsed);
  fail_unless (wait_for_bytes ("/big.bin", BIG_SIZE));

  /* pacing a range */
  fail_unless_equals_int (http_post
      ("/_fault?path=/big.bin&rate=40000&count=1"), 200);
  start = g_get_monotonic_time ();
  body = http_get ("/big.bin", "bytes=1000-20999", &status);
  elapsed = g_get_monotonic_time () - start;
  fail_unless_equals_int (status, 206);
  fail_unless (bytes_equal_mem (body, big_bytes + 1000, 20000));
  g_bytes_unref (body);
  fail_unless (elapsed >= 400 * 1000 && elapsed < 5 * SEC,
      "20000 B at 40000 B/s took %" G_GINT64_FORMAT " us", elapsed);

  /* and the connection is still good for a normal request */
  body = http_get ("/data.bin", NULL, &status);
  fail_unless_equals_int (status, 200);
  g_bytes_unref (body);
}

GST_END_TEST;

/* Reads a response body through a stream, counting what arrives before the
 * end or an error. */
static gsize
read_until_end (const gchar * path, gboolean * failed)
{
  g_autofree gchar *url = url_for (origin, path);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GError) error = NULL;
  gchar buf[4096];
  gsize total = 0;
  gssize n;

  stream = soup_session_send (session, msg, NULL, &error);
  fail_unless (stream != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  fail_unless_equals_int64 (soup_message_headers_get_content_length
      (soup_message_get_response_headers (msg)), BIG_SIZE);
  while ((n = g_input_stream_read (stream, buf, sizeof (buf), NULL,
              &error)) > 0) {
    fail_unless (memcmp (buf, big_bytes + total, n) == 0);
    total += n;
  }
  *failed = n < 0;
  return total;
}

GST_START_TEST (test_fault_drop)
{
  MeshOriginFault fault = { "/big.bin", 1, 0, 0, 0, 1000 };
  GBytes *body;
  gboolean failed;
  gsize got;
  guint status;

  mesh_origin_server_add_fault (origin, &fault);
  got = read_until_end ("/big.bin", &failed);
  fail_unless_equals_int (got, 1000);
  fail_unless (failed, "a truncated body must be an error");
  fail_unless (wait_for_bytes ("/big.bin", 1000));

  /* drop before any body byte, after a paced start, and through HTTP */
  fault.drop_after = 0;
  mesh_origin_server_add_fault (origin, &fault);
  got = read_until_end ("/big.bin", &failed);
  fail_unless_equals_int (got, 0);
  fail_unless (failed);

  fail_unless_equals_int (http_post
      ("/_fault?path=/big.bin&rate=100000&drop_after=12345&count=1"), 200);
  got = read_until_end ("/big.bin", &failed);
  fail_unless_equals_int (got, 12345);
  fail_unless (failed);

  /* the fault was used up: the whole file again, on a new connection */
  body = http_get ("/big.bin", NULL, &status);
  fail_unless_equals_int (status, 200);
  fail_unless (bytes_equal_mem (body, big_bytes, BIG_SIZE));
  g_bytes_unref (body);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* live windows                                                             */

typedef struct
{
  gint64 media_sequence;
  gint64 discontinuity_sequence;
  gboolean endlist;
  GPtrArray *uris;              /* segment URIs */
  GArray *durations;            /* gdouble */
  GArray *discontinuous;        /* gboolean: DISCONTINUITY before it */
  GPtrArray *lines;             /* all of them */
} LiveWindow;

static void
live_window_free (LiveWindow * w)
{
  g_ptr_array_unref (w->uris);
  g_array_unref (w->durations);
  g_array_unref (w->discontinuous);
  g_ptr_array_unref (w->lines);
  g_free (w);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LiveWindow, live_window_free);

static LiveWindow *
parse_window (const gchar * text)
{
  LiveWindow *w = g_new0 (LiveWindow, 1);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gboolean disc = FALSE;
  gdouble duration = -1;
  guint i;

  w->media_sequence = -1;
  w->uris = g_ptr_array_new_with_free_func (g_free);
  w->durations = g_array_new (FALSE, FALSE, sizeof (gdouble));
  w->discontinuous = g_array_new (FALSE, FALSE, sizeof (gboolean));
  w->lines = g_ptr_array_new_with_free_func (g_free);

  fail_unless (g_str_has_prefix (text, "#EXTM3U\n"));
  for (i = 0; lines[i]; i++) {
    const gchar *line = lines[i];

    if (line[0] == '\0')
      continue;
    g_ptr_array_add (w->lines, g_strdup (line));
    if (g_str_has_prefix (line, "#EXT-X-MEDIA-SEQUENCE:"))
      w->media_sequence = g_ascii_strtoll (strchr (line, ':') + 1, NULL, 10);
    else if (g_str_has_prefix (line, "#EXT-X-DISCONTINUITY-SEQUENCE:"))
      w->discontinuity_sequence =
          g_ascii_strtoll (strchr (line, ':') + 1, NULL, 10);
    else if (g_str_equal (line, "#EXT-X-DISCONTINUITY"))
      disc = TRUE;
    else if (g_str_equal (line, "#EXT-X-ENDLIST"))
      w->endlist = TRUE;
    else if (g_str_has_prefix (line, "#EXTINF:"))
      duration = g_ascii_strtod (line + strlen ("#EXTINF:"), NULL);
    else if (line[0] != '#') {
      fail_unless (duration >= 0, "URI %s without EXTINF", line);
      g_ptr_array_add (w->uris, g_strdup (line));
      g_array_append_val (w->durations, duration);
      g_array_append_val (w->discontinuous, disc);
      disc = FALSE;
      duration = -1;
    }
  }
  fail_unless (w->media_sequence >= 0, "no EXT-X-MEDIA-SEQUENCE");
  return w;
}

static LiveWindow *
get_window (MeshOriginServer * server, const gchar * path)
{
  g_autofree gchar *url = url_for (server, path);
  g_autoptr (GError) error = NULL;
  SoupMessage *msg = NULL;
  g_autoptr (GBytes) body = request_full ("GET", url, NULL, &msg, &error);
  g_autofree gchar *text = NULL;

  fail_unless (body != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  fail_unless_equals_string (soup_message_headers_get_content_type
      (soup_message_get_response_headers (msg), NULL),
      "application/vnd.apple.mpegurl");
  g_object_unref (msg);
  text = bytes_to_string (body);
  return parse_window (text);
}

static const gchar *
window_uri (LiveWindow * w, guint i)
{
  return g_ptr_array_index (w->uris, i);
}

static gboolean
window_disc (LiveWindow * w, guint i)
{
  return g_array_index (w->discontinuous, gboolean, i);
}

static gboolean
window_has_line (LiveWindow * w, const gchar * line)
{
  guint i;

  for (i = 0; i < w->lines->len; i++)
    if (g_str_equal (g_ptr_array_index (w->lines, i), line))
      return TRUE;
  return FALSE;
}

/* Fetches @uri as a player would, relative to @playlist_path. */
static GBytes *
fetch_relative (MeshOriginServer * server, const gchar * playlist_path,
    const gchar * uri, guint * status)
{
  g_autofree gchar *base = url_for (server, playlist_path);
  g_autofree gchar *url = g_uri_resolve_relative (base, uri, G_URI_FLAGS_NONE,
      NULL);
  SoupMessage *msg = NULL;
  GBytes *body;

  fail_unless (url != NULL);
  fail_unless (g_str_has_prefix (url,
          mesh_origin_server_get_base_url (server)));
  body = request_full ("GET", url, NULL, &msg, NULL);
  fail_unless (body != NULL, "GET %s failed", url);
  *status = soup_message_get_status (msg);
  g_object_unref (msg);
  return body;
}

static void
check_live_segment (LiveWindow * w, guint i, const gchar * name, gint loop)
{
  g_autofree gchar *expected_uri = g_strdup_printf ("%s?loop=%d", name, loop);
  g_autofree gchar *expected_body = NULL;
  GBytes *body;
  guint status;

  fail_unless_equals_string (window_uri (w, i), expected_uri);
  fail_unless (g_array_index (w->durations, gdouble, i) == 10.0);

  body = fetch_relative (origin, "/live/vod/index.m3u8", window_uri (w, i),
      &status);
  fail_unless_equals_int (status, 200);
  expected_body = g_strdup_printf ("segment %c", name[3]);
  fail_unless (bytes_equal_mem (body, expected_body, strlen (expected_body)),
      "%s does not resolve to %s", window_uri (w, i), name);
  g_bytes_unref (body);
}

GST_START_TEST (test_live_window)
{
  LiveWindow *w;

  /* at the start, the first live_window (3) segments are out */
  w = get_window (origin, "/live/vod/index.m3u8");
  fail_unless_equals_int (w->media_sequence, 0);
  fail_unless_equals_int (w->uris->len, 3);
  fail_if (w->endlist);
  fail_if (window_has_line (w, "#EXT-X-PLAYLIST-TYPE:VOD"));
  fail_unless (window_has_line (w, "#EXT-X-TARGETDURATION:10"));
  check_live_segment (w, 0, "seg0.ts", 0);
  check_live_segment (w, 1, "seg1.ts", 0);
  check_live_segment (w, 2, "seg2.ts", 0);
  fail_if (window_disc (w, 0) || window_disc (w, 1) || window_disc (w, 2));
  live_window_free (w);

  /* 15 s in: one more segment out, the window slides by one */
  mesh_origin_server_set_time_offset (origin, 15 * SEC);
  w = get_window (origin, "/live/vod/index.m3u8");
  fail_unless_equals_int (w->media_sequence, 1);
  fail_unless_equals_int (w->uris->len, 3);
  check_live_segment (w, 0, "seg1.ts", 0);
  check_live_segment (w, 2, "seg3.ts", 0);
  live_window_free (w);

  /* 25 s in: the loop wraps, with a discontinuity */
  mesh_origin_server_set_time_offset (origin, 25 * SEC);
  w = get_window (origin, "/live/vod/index.m3u8");
  fail_unless_equals_int (w->media_sequence, 2);
  fail_unless_equals_int (w->discontinuity_sequence, 0);
  check_live_segment (w, 0, "seg2.ts", 0);
  check_live_segment (w, 1, "seg3.ts", 0);
  check_live_segment (w, 2, "seg0.ts", 1);
  fail_if (window_disc (w, 0) || window_disc (w, 1));
  fail_unless (window_disc (w, 2));
  fail_if (w->endlist);
  live_window_free (w);

  /* 65 s in: second pass ending, one wrap already gone from the window */
  mesh_origin_server_set_time_offset (origin, 65 * SEC);
  w = get_window (origin, "/live/vod/index.m3u8");
  fail_unless_equals_int (w->media_sequence, 6);
  fail_unless_equals_int (w->discontinuity_sequence, 1);
  check_live_segment (w, 0, "seg2.ts", 1);
  check_live_segment (w, 1, "seg3.ts", 1);
  check_live_segment (w, 2, "seg0.ts", 2);
  fail_unless (window_disc (w, 2));
  live_window_free (w);

  /* the clock never runs backwards past the start */
  mesh_origin_server_set_time_offset (origin, -1000 * SEC);
  w = get_window (origin, "/live/vod/index.m3u8");
  fail_unless_equals_int (w->media_sequence, 0);
  live_window_free (w);
}

GST_END_TEST;

GST_START_TEST (test_live_follows_clock)
{
  g_autoptr (LiveWindow) before = NULL;
  g_autoptr (LiveWindow) after = NULL;

  /* 0.1 s segments: 350 ms later the window must have moved by 3 or more */
  before = get_window (origin, "/live/fast/index.m3u8");
  g_usleep (350 * 1000);
  after = get_window (origin, "/live/fast/index.m3u8");
  fail_unless (after->media_sequence - before->media_sequence >= 3,
      "%" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT, before->media_sequence,
      after->media_sequence);
  fail_unless_equals_int (after->uris->len, 3);
  /* 4 segments, 3 passes or more: the wrap shows */
  fail_unless (after->discontinuity_sequence > 0 || window_disc (after, 0)
      || window_disc (after, 1) || window_disc (after, 2));
}

GST_END_TEST;

GST_START_TEST (test_live_keys_and_maps)
{
  g_autoptr (LiveWindow) w = NULL;
  GBytes *body;
  guint status;

  /* 15 s in: VOD segments 1, 2 and the first of the second pass */
  mesh_origin_server_set_time_offset (origin, 15 * SEC);
  w = get_window (origin, "/live/keyed/index.m3u8");
  fail_unless_equals_int (w->media_sequence, 1);
  fail_unless_equals_int (w->uris->len, 3);
  fail_unless_equals_string (window_uri (w, 0), "all.m4s?loop=0");
  fail_unless_equals_string (window_uri (w, 2), "all.m4s?loop=1");
  fail_unless (window_has_line (w, "#EXT-X-MAP:URI=\"init.mp4\""));
  /* the IV the VOD implied (its media sequence, starting at 5) is spelt out */
  fail_unless (window_has_line (w, "#EXT-X-KEY:METHOD=AES-128,"
          "URI=\"/live/keys/k.bin\",IV=0x00000000000000000000000000000006"));
  fail_unless (window_has_line (w, "#EXT-X-KEY:METHOD=AES-128,"
          "URI=\"/live/keys/k.bin\",IV=0x00000000000000000000000000000007"));
  fail_unless (window_has_line (w, "#EXT-X-KEY:METHOD=AES-128,"
          "URI=\"/live/keys/k.bin\",IV=0x00000000000000000000000000000005"));
  /* byte ranges get their offsets */
  fail_unless (window_has_line (w, "#EXT-X-BYTERANGE:200@100"));
  fail_unless (window_has_line (w, "#EXT-X-BYTERANGE:300@300"));
  fail_unless (window_has_line (w, "#EXT-X-BYTERANGE:100@0"));
  fail_if (window_has_line (w,
          "#EXT-X-PROGRAM-DATE-TIME:2020-01-01T00:00:00Z"));
  fail_unless (window_disc (w, 2));

  body = fetch_relative (origin, "/live/keyed/index.m3u8", "/live/keys/k.bin",
      &status);
  fail_unless_equals_int (status, 200);
  fail_unless (bytes_equal_mem (body, "0123456789abcdef", 16));
  g_bytes_unref (body);
  body = fetch_relative (origin, "/live/keyed/index.m3u8", "init.mp4", &status);
  fail_unless_equals_int (status, 200);
  fail_unless (bytes_equal_mem (body, "init", 4));
  g_bytes_unref (body);
}

GST_END_TEST;

GST_START_TEST (test_live_master_and_bad_input)
{
  g_autofree gchar *text = NULL;
  GBytes *body;
  guint status;

  body = http_get ("/live/m/master.m3u8", NULL, &status);
  fail_unless_equals_int (status, 200);
  text = bytes_to_string (body);
  g_bytes_unref (body);
  fail_unless (strstr (text, "\nv0/index.m3u8\n") != NULL, "%s", text);
  fail_unless (strstr (text, "\n/live/abs/index.m3u8\n") != NULL, "%s", text);
  fail_unless (strstr (text, "URI=\"/live/abs/audio.m3u8\"") != NULL, "%s",
      text);

  body = http_get ("/live/bad/index.m3u8", NULL, &status);
  fail_unless_equals_int (status, 500);
  g_bytes_unref (body);
  body = http_get ("/live/bad/noextinf.m3u8", NULL, &status);
  fail_unless_equals_int (status, 500);
  g_bytes_unref (body);
  body = http_get ("/live/data.bin", "bytes=0-9", &status);
  fail_unless_equals_int (status, 206);
  fail_unless (bytes_equal_mem (body, data_bytes, 10));
  g_bytes_unref (body);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* with the generated test media (meson sets MESH_TEST_MEDIA)               */

GST_START_TEST (test_media_live)
{
  const gchar *media = g_getenv ("MESH_TEST_MEDIA");
  g_autofree gchar *playlist = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LiveWindow) w = NULL;
  MeshOriginConfig config = { 0, };
  MeshOriginServer *server;
  GBytes *body;
  guint i, status;

  playlist = media ? g_build_filename (media, "live", "index.m3u8", NULL) :
      NULL;
  if (!playlist || !g_file_test (playlist, G_FILE_TEST_EXISTS)) {
    GST_INFO ("MESH_TEST_MEDIA not set or not built: skipped");
    return;
  }

  config.root = media;
  server = mesh_origin_server_start (&config, &error);
  fail_unless (server != NULL, "%s", error ? error->message : "");

  /* 2 s segments, default window 6, partway through the second pass */
  mesh_origin_server_set_time_offset (server, 23 * SEC);
  w = get_window (server, "/live/live/index.m3u8");
  fail_unless_equals_int (w->uris->len, 6);
  fail_if (w->endlist);
  for (i = 0; i < w->uris->len; i++) {
    g_autofree gchar *name = NULL;
    g_autofree gchar *file = NULL;
    g_autofree gchar *contents = NULL;
    gsize length;
    const gchar *uri = window_uri (w, i);

    fail_unless (g_array_index (w->durations, gdouble, i) == 2.0);
    name = g_strndup (uri, strcspn (uri, "?"));
    file = g_build_filename (media, "live", name, NULL);
    fail_unless (g_file_get_contents (file, &contents, &length, NULL), "%s",
        file);
    body = fetch_relative (server, "/live/live/index.m3u8", uri, &status);
    fail_unless_equals_int (status, 200);
    fail_unless (bytes_equal_mem (body, contents, length), "%s", uri);
    g_bytes_unref (body);
  }
  /* 23 s + the 12 s head start = 35 s: 17 segments are out (the 11th of
   * them wrapped), the last 6 are in the window */
  fail_unless_equals_int (w->media_sequence, 11);
  fail_unless (window_disc (w, 0) == FALSE);
  fail_unless_equals_int (w->discontinuity_sequence, 1);

  {
    g_autofree gchar *url = url_for (server, "/ts/master.m3u8");
    SoupMessage *msg = NULL;

    body = request_full ("GET", url, NULL, &msg, NULL);
    fail_unless_equals_int (soup_message_get_status (msg), 200);
    fail_unless (g_bytes_get_size (body) > 0);
    g_bytes_unref (body);
    g_object_unref (msg);
  }
  mesh_origin_server_stop (server);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* live DASH                                                                */

/* 4 x 2 s, template on the AdaptationSet, numbers from 1 */
static const gchar dash_vod_mpd[] =
    "<?xml version=\"1.0\"?>\n"
    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\""
    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
    " xsi:schemaLocation=\"urn:mpeg:dash:schema:mpd:2011 DASH-MPD.xsd\""
    " profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\""
    " mediaPresentationDuration=\"PT8S\" minBufferTime=\"PT2S\">\n"
    " <Period id=\"p\" duration=\"PT8S\">\n"
    "  <AdaptationSet mimeType=\"video/mp4\">\n"
    "   <SegmentTemplate timescale=\"1000\" duration=\"2000\" startNumber=\"1\""
    " initialization=\"init-$RepresentationID$.mp4\""
    " media=\"seg-$RepresentationID$-$Number%03d$.m4s\"/>\n"
    "   <Representation id=\"v\" bandwidth=\"100000\"/>\n"
    "  </AdaptationSet>\n" " </Period>\n" "</MPD>\n";

#define DASH_SEGMENTS 4
#define DASH_SEGMENT_MS 2000
#define DASH_MPD_PATH "/live/dash/vod.mpd"
#define DASH_QUERY "?mpd=/dash/vod.mpd"

static void
append_box (GByteArray * out, const gchar * type, const guint8 * payload,
    gsize length)
{
  guint8 header[8];

  header[0] = (length + 8) >> 24;
  header[1] = (length + 8) >> 16;
  header[2] = (length + 8) >> 8;
  header[3] = length + 8;
  memcpy (header + 4, type, 4);
  g_byte_array_append (out, header, 8);
  g_byte_array_append (out, payload, length);
}

static void
put_be (guint8 * p, guint64 value, guint bytes)
{
  guint i;

  for (i = 0; i < bytes; i++)
    p[i] = value >> (8 * (bytes - 1 - i));
}

static guint64
get_be (const guint8 * p, guint bytes)
{
  guint64 value = 0;
  guint i;

  for (i = 0; i < bytes; i++)
    value = (value << 8) | p[i];
  return value;
}

/* Wraps @inner in a box of @type, in place. */
static void
wrap_box (GByteArray * inner, const gchar * type)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();

  append_box (out, type, inner->data, inner->len);
  g_byte_array_set_size (inner, 0);
  g_byte_array_append (inner, out->data, out->len);
}

/* An init segment whose track's mdhd says timescale 1000. */
static void
write_dash_init (const gchar * relpath)
{
  g_autoptr (GByteArray) box = g_byte_array_new ();
  guint8 mdhd[24] = { 0, };

  put_be (mdhd + 12, 1000, 4);
  append_box (box, "mdhd", mdhd, sizeof (mdhd));
  wrap_box (box, "mdia");
  wrap_box (box, "trak");
  wrap_box (box, "moov");
  write_file (relpath, box->data, box->len);
}

/* Segment @i (0-based): a v1 sidx and a moof/traf/tfdt v1 at i * 2000 ms,
 * then an mdat naming the segment. */
static void
write_dash_segment (const gchar * relpath, guint i)
{
  g_autoptr (GByteArray) file = g_byte_array_new ();
  g_autoptr (GByteArray) moof = g_byte_array_new ();
  g_autofree gchar *text = g_strdup_printf ("dash segment %u", i);
  guint8 sidx[32] = { 1, 0, 0, 0, };
  guint8 tfdt[12] = { 1, 0, 0, 0, };

  put_be (sidx + 4, 1, 4);
  put_be (sidx + 8, 1000, 4);
  put_be (sidx + 12, (guint64) i * DASH_SEGMENT_MS, 8);
  append_box (file, "sidx", sidx, sizeof (sidx));
  put_be (tfdt + 4, (guint64) i * DASH_SEGMENT_MS, 8);
  append_box (moof, "tfdt", tfdt, sizeof (tfdt));
  wrap_box (moof, "traf");
  wrap_box (moof, "moof");
  g_byte_array_append (file, moof->data, moof->len);
  append_box (file, "mdat", (const guint8 *) text, strlen (text));
  write_file (relpath, file->data, file->len);
}

static void
fill_dash_root (void)
{
  guint i;

  write_file ("dash/vod.mpd", dash_vod_mpd, -1);
  write_dash_init ("dash/init-v.mp4");
  for (i = 0; i < DASH_SEGMENTS; i++) {
    g_autofree gchar *name = g_strdup_printf ("dash/seg-v-%03u.m4s", i + 1);
    write_dash_segment (name, i);
  }
  write_file ("dash/notxml.mpd", "this is not XML", -1);
  write_file ("dash/timeline.mpd",
      "<MPD type=\"static\" mediaPresentationDuration=\"PT8S\"><Period>"
      "<AdaptationSet><SegmentTemplate media=\"s$Number$.m4s\" duration=\"2\">"
      "<SegmentTimeline><S d=\"2\" r=\"3\"/></SegmentTimeline>"
      "</SegmentTemplate><Representation id=\"a\"/></AdaptationSet>"
      "</Period></MPD>", -1);
  write_file ("dash/dynamic.mpd", "<MPD type=\"dynamic\"><Period/></MPD>", -1);
  write_file ("dash/noduration.mpd",
      "<MPD type=\"static\"><Period><AdaptationSet><Representation id=\"a\">"
      "<SegmentTemplate media=\"s$Number$.m4s\" duration=\"2\"/>"
      "</Representation></AdaptationSet></Period></MPD>", -1);
  write_file ("dash/twoperiods.mpd",
      "<MPD type=\"static\" mediaPresentationDuration=\"PT8S\"><Period/>"
      "<Period/></MPD>", -1);
  write_file ("dash/notime.mpd",
      "<MPD type=\"static\" mediaPresentationDuration=\"PT8S\"><Period>"
      "<AdaptationSet><Representation id=\"a\">"
      "<SegmentTemplate media=\"s$Time$.m4s\" duration=\"2\"/>"
      "</Representation></AdaptationSet></Period></MPD>", -1);
}

static xmlDoc *
get_live_mpd (const gchar * path)
{
  guint status;
  g_autoptr (GBytes) body = http_get (path, NULL, &status);
  xmlDoc *doc;

  fail_unless_equals_int (status, 200);
  doc = xmlReadMemory (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), NULL, NULL, XML_PARSE_NONET);
  fail_unless (doc != NULL, "live MPD does not parse");
  return doc;
}

static xmlNode *
find_element (xmlNode * node, const gchar * name)
{
  for (; node; node = node->next) {
    xmlNode *found;

    if (node->type == XML_ELEMENT_NODE
        && xmlStrEqual (node->name, (const xmlChar *) name))
      return node;
    if ((found = find_element (node->children, name)))
      return found;
  }
  return NULL;
}

static gchar *
get_attr (xmlNode * node, const gchar * name)
{
  xmlChar *value = xmlGetProp (node, (const xmlChar *) name);
  gchar *copy = value ? g_strdup ((const gchar *) value) : NULL;

  xmlFree (value);
  return copy;
}

/* µs since 1970 of an ISO 8601 UTC time with milliseconds. */
static gint64
parse_utc (const gchar * text)
{
  g_autoptr (GDateTime) time = NULL;

  fail_unless (text != NULL);
  fail_unless (g_regex_match_simple
      ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$", text, 0, 0),
      "not ISO 8601 UTC with milliseconds: %s", text);
  time = g_date_time_new_from_iso8601 (text, NULL);
  fail_unless (time != NULL, "%s", text);
  return g_date_time_to_unix (time) * SEC + g_date_time_get_microsecond (time);
}

static gint64
live_mpd_ast (const gchar * path)
{
  xmlDoc *doc = get_live_mpd (path);
  g_autofree gchar *ast = get_attr (xmlDocGetRootElement (doc),
      "availabilityStartTime");
  gint64 us = parse_utc (ast);

  xmlFreeDoc (doc);
  return us;
}

GST_START_TEST (test_dash_live_mpd)
{
  xmlDoc *doc = get_live_mpd (DASH_MPD_PATH);
  xmlNode *root = xmlDocGetRootElement (doc);
  xmlNode *period = find_element (root, "Period");
  xmlNode *timing = find_element (root, "UTCTiming");
  xmlNode *tpl = find_element (root, "SegmentTemplate");
  g_autofree gchar *type = get_attr (root, "type");
  g_autofree gchar *ast = get_attr (root, "availabilityStartTime");
  g_autofree gchar *publish = get_attr (root, "publishTime");
  g_autofree gchar *mup = get_attr (root, "minimumUpdatePeriod");
  g_autofree gchar *tsbd = get_attr (root, "timeShiftBufferDepth");
  g_autofree gchar *spd = get_attr (root, "suggestedPresentationDelay");
  g_autofree gchar *mpd_duration = get_attr (root, "mediaPresentationDuration");
  g_autofree gchar *start = get_attr (period, "start");
  g_autofree gchar *period_duration = get_attr (period, "duration");
  g_autofree gchar *scheme = NULL;
  g_autofree gchar *value = NULL;
  g_autofree gchar *media = get_attr (tpl, "media");
  g_autofree gchar *init = get_attr (tpl, "initialization");
  g_autofree gchar *time_url = url_for (origin, "/_time");
  gint64 now = g_get_real_time (), ast_us, publish_us;

  fail_unless_equals_string (type, "dynamic");
  ast_us = parse_utc (ast);
  publish_us = parse_utc (publish);
  /* the origin started just before this test */
  fail_unless (ast_us <= now && ast_us > now - 10 * SEC);
  fail_unless (publish_us >= ast_us && publish_us <= now + SEC);
  fail_unless (publish_us > now - 10 * SEC);
  fail_unless_equals_string (mup, "PT2S");
  fail_unless_equals_string (tsbd, "PT12S");
  fail_unless_equals_string (spd, "PT6S");
  fail_unless (mpd_duration == NULL);
  fail_unless_equals_string (start, "PT0S");
  fail_unless (period_duration == NULL);
  fail_unless (timing != NULL);
  scheme = get_attr (timing, "schemeIdUri");
  value = get_attr (timing, "value");
  fail_unless_equals_string (scheme, "urn:mpeg:dash:utc:http-iso:2014");
  fail_unless_equals_string (value, time_url);
  fail_unless_equals_string (media, "seg-$RepresentationID$-$Number%03d$.m4s"
      DASH_QUERY);
  fail_unless_equals_string (init, "init-$RepresentationID$.mp4");
  xmlFreeDoc (doc);

  /* the offset hook moves the start back by as much */
  mesh_origin_server_set_time_offset (origin, 100 * SEC);
  fail_unless (llabs (live_mpd_ast (DASH_MPD_PATH) - (ast_us - 100 * SEC)) <
      SEC / 2);
  mesh_origin_server_set_time_offset (origin, 0);
}

GST_END_TEST;

GST_START_TEST (test_dash_time)
{
  guint status;
  g_autoptr (GBytes) body = http_get ("/_time", NULL, &status);
  g_autofree gchar *text = bytes_to_string (body);
  gint64 now = g_get_real_time ();

  fail_unless_equals_int (status, 200);
  fail_unless (llabs (parse_utc (text) - now) < 2 * SEC, "%s", text);
  fail_unless_equals_int (http_post ("/_time"), 405);
  /* a control endpoint: not counted */
  fail_unless_equals_int (mesh_origin_server_get_requests (origin, "/_time"),
      0);
}

GST_END_TEST;

static GBytes *
get_dash_segment (guint number, guint * status)
{
  g_autofree gchar *path =
      g_strdup_printf ("/live/dash/seg-v-%03u.m4s" DASH_QUERY, number);

  return http_get (path, NULL, status);
}

static gsize
find_type (GBytes * bytes, const gchar * type)
{
  gsize size, i;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  for (i = 4; i + 4 <= size; i++)
    if (memcmp (data + i, type, 4) == 0)
      return i;
  fail ("no %s box", type);
  return 0;
}

/* The segment's tfdt and sidx times, and its mdat text. */
static void
check_dash_segment (GBytes * body, guint vod_index, guint64 time_ms)
{
  const guint8 *data = g_bytes_get_data (body, NULL);
  g_autofree gchar *text = g_strdup_printf ("dash segment %u", vod_index);
  gsize mdat = find_type (body, "mdat");

  fail_unless_equals_uint64 (get_be (data + find_type (body, "tfdt") + 8, 8),
      time_ms);
  fail_unless_equals_uint64 (get_be (data + find_type (body, "sidx") + 16, 8),
      time_ms);
  fail_unless (g_bytes_get_size (body) == mdat + 4 + strlen (text)
      && memcmp (data + mdat + 4, text, strlen (text)) == 0,
      "not VOD segment %u", vod_index);
}

GST_START_TEST (test_dash_segment_availability)
{
  GBytes *body;
  guint status;

  /* the origin's clock is just past 0: segment 1 ends at 2 s */
  body = get_dash_segment (1, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);
  body = get_dash_segment (0, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);

  mesh_origin_server_set_time_offset (origin, 2 * SEC + SEC / 2);
  body = get_dash_segment (1, &status);
  fail_unless_equals_int (status, 200);
  check_dash_segment (body, 0, 0);
  g_bytes_unref (body);
  body = get_dash_segment (2, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);

  mesh_origin_server_set_time_offset (origin, 4 * SEC + SEC / 2);
  body = get_dash_segment (2, &status);
  fail_unless_equals_int (status, 200);
  check_dash_segment (body, 1, 2000);
  g_bytes_unref (body);
}

GST_END_TEST;

GST_START_TEST (test_dash_segment_loop)
{
  g_autofree gchar *init = g_build_filename (root_dir, "dash", "init-v.mp4",
      NULL);
  g_autofree gchar *init_data = NULL;
  gsize init_length;
  GBytes *body;
  guint status;

  mesh_origin_server_set_time_offset (origin, 100 * SEC);
  /* 5 = the first of the second pass, 8 s on */
  body = get_dash_segment (5, &status);
  fail_unless_equals_int (status, 200);
  check_dash_segment (body, 0, 8000);
  g_bytes_unref (body);
  body = get_dash_segment (4, &status);
  fail_unless_equals_int (status, 200);
  check_dash_segment (body, 3, 6000);
  g_bytes_unref (body);
  body = get_dash_segment (11, &status);
  fail_unless_equals_int (status, 200);
  check_dash_segment (body, 2, 20000);
  g_bytes_unref (body);
  /* 50 ends at 100 s: out; 51 is not */
  body = get_dash_segment (50, &status);
  fail_unless_equals_int (status, 200);
  check_dash_segment (body, 1, 98000);
  g_bytes_unref (body);
  body = get_dash_segment (51, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);

  /* the init segment is served as it is, with or without the query */
  fail_unless (g_file_get_contents (init, &init_data, &init_length, NULL));
  body = http_get ("/live/dash/init-v.mp4" DASH_QUERY, NULL, &status);
  fail_unless_equals_int (status, 200);
  fail_unless (bytes_equal_mem (body, init_data, init_length));
  g_bytes_unref (body);

  /* without the query, a plain file (and no such file for 5) */
  body = http_get ("/live/dash/seg-v-005.m4s", NULL, &status);
  fail_unless_equals_int (status, 404);
  g_bytes_unref (body);
  body = http_get ("/live/dash/seg-v-001.m4s", NULL, &status);
  fail_unless_equals_int (status, 200);
  check_dash_segment (body, 0, 0);
  g_bytes_unref (body);

  /* ranges apply to the looped segment */
  body = http_get ("/live/dash/seg-v-005.m4s" DASH_QUERY, "bytes=0-7", &status);
  fail_unless_equals_int (status, 206);
  fail_unless_equals_int (g_bytes_get_size (body), 8);
  g_bytes_unref (body);
}

GST_END_TEST;

static void
check_status (const gchar * path, guint expected)
{
  guint status;
  g_autoptr (GBytes) body = http_get (path, NULL, &status);

  fail_unless_equals_int (status, expected);
}

GST_START_TEST (test_dash_bad_input)
{
  check_status ("/live/dash/notxml.mpd", 500);
  check_status ("/live/dash/timeline.mpd", 500);
  check_status ("/live/dash/dynamic.mpd", 500);
  check_status ("/live/dash/noduration.mpd", 500);
  check_status ("/live/dash/twoperiods.mpd", 500);
  check_status ("/live/dash/notime.mpd", 500);
  check_status ("/live/dash/missing.mpd", 404);
  check_status ("/live/dash/seg-v-001.m4s?mpd=dash/vod.mpd", 400);
  check_status ("/live/dash/seg-v-001.m4s?mpd=/dash/vod.txt", 400);
  check_status ("/live/dash/seg-v-001.m4s?mpd=/dash/missing.mpd", 404);
  check_status ("/live/dash/seg-v-001.m4s?mpd=/dash/notxml.mpd", 500);
  check_status ("/live/dash/seg-v-001.m4s?mpd=/../secret.mpd", 403);
  check_status ("/live/dash/seg-v-99999999999999999999.m4s" DASH_QUERY, 404);
  /* the static MPD itself is untouched outside /live/ */
  {
    guint status;
    g_autoptr (GBytes) body = http_get ("/dash/vod.mpd", NULL, &status);

    fail_unless_equals_int (status, 200);
    fail_unless (bytes_equal_mem (body, dash_vod_mpd, strlen (dash_vod_mpd)));
  }
}

GST_END_TEST;

/* with the generated DASH media (meson sets MESH_TEST_DASH_MEDIA) */
GST_START_TEST (test_media_live_dash)
{
  const gchar *media = g_getenv ("MESH_TEST_DASH_MEDIA");
  g_autofree gchar *mpd = NULL;
  g_autofree gchar *first = NULL;
  g_autofree gchar *last = NULL;
  g_autofree gchar *first_data = NULL;
  g_autofree gchar *last_data = NULL;
  gsize first_length, last_length;
  MeshOriginConfig config = { 0, };
  MeshOriginServer *server;
  g_autoptr (GError) error = NULL;
  xmlDoc *doc;
  xmlNode *node;
  guint reps = 0;
  GBytes *body;
  SoupMessage *msg = NULL;
  g_autofree gchar *url = NULL;

  if (media)
    mpd = g_build_filename (media, "live", "manifest.mpd", NULL);
  if (!mpd || !g_file_test (mpd, G_FILE_TEST_IS_REGULAR)) {
    GST_INFO ("MESH_TEST_DASH_MEDIA not set or not built: skipped");
    return;
  }
  first = g_build_filename (media, "live", "chunk-stream0-00001.m4s", NULL);
  last = g_build_filename (media, "live", "chunk-stream0-00030.m4s", NULL);
  fail_unless (g_file_get_contents (first, &first_data, &first_length, NULL));
  fail_unless (g_file_get_contents (last, &last_data, &last_length, NULL));

  config.root = media;
  server = mesh_origin_server_start (&config, &error);
  fail_unless (server != NULL, "%s", error ? error->message : "");
  /* 61 s in: segments 1..30 are out (the 30th ends at 60 s) */
  mesh_origin_server_set_time_offset (server, 61 * SEC);

  url = url_for (server, "/live/live/manifest.mpd");
  body = request_full ("GET", url, NULL, &msg, NULL);
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  g_clear_object (&msg);
  doc = xmlReadMemory (g_bytes_get_data (body, NULL),
      g_bytes_get_size (body), NULL, NULL, XML_PARSE_NONET);
  g_bytes_unref (body);
  fail_unless (doc != NULL);
  for (node = find_element (xmlDocGetRootElement (doc), "AdaptationSet");
      node; node = node->next) {
    xmlNode *rep;

    for (rep = node->children; rep; rep = rep->next)
      if (rep->type == XML_ELEMENT_NODE)
        reps += find_element (rep, "SegmentTemplate") != NULL;
  }
  fail_unless_equals_int (reps, 2);
  xmlFreeDoc (doc);

  g_free (url);
  url = url_for (server,
      "/live/live/chunk-stream0-00030.m4s?mpd=/live/manifest.mpd");
  body = request_full ("GET", url, NULL, &msg, NULL);
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  fail_unless (bytes_equal_mem (body, last_data, last_length));
  g_bytes_unref (body);
  g_clear_object (&msg);

  /* 31 is the first again, its times moved on */
  g_free (url);
  url = url_for (server,
      "/live/live/chunk-stream0-00031.m4s?mpd=/live/manifest.mpd");
  body = request_full ("GET", url, NULL, &msg, NULL);
  fail_unless_equals_int (soup_message_get_status (msg), 404);
  g_bytes_unref (body);
  g_clear_object (&msg);
  mesh_origin_server_set_time_offset (server, 63 * SEC);
  body = request_full ("GET", url, NULL, &msg, NULL);
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  fail_unless_equals_int (g_bytes_get_size (body), first_length);
  fail_if (bytes_equal_mem (body, first_data, first_length));
  g_bytes_unref (body);
  g_clear_object (&msg);

  mesh_origin_server_stop (server);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* digest lists                                                             */

static MeshHashList *
get_hash_list (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  MeshHashList *list;
  guint status;

  body = http_get (path, NULL, &status);
  fail_unless_equals_int (status, 200);
  list = mesh_hash_list_parse (body, &error);
  fail_unless (list != NULL, "%s: %s", path, error ? error->message : "");
  return list;
}

/* Fetches @path (with @range) and checks that @list has the SHA-256 of the
 * bytes served under @key (@offset, @length as for the lookup). */
static void
check_served_digest (const MeshHashList * list, const gchar * key,
    const gchar * path, const gchar * range, gint64 offset, gint64 length)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GBytes) body = NULL;
  guint8 served[32], listed[32];
  gsize digest_length = 32;
  guint status;

  body = http_get (path, range, &status);
  fail_unless (status == 200 || status == 206, "%s: %u", path, status);
  g_checksum_update (checksum, g_bytes_get_data (body, NULL),
      g_bytes_get_size (body));
  g_checksum_get_digest (checksum, served, &digest_length);
  fail_unless (mesh_hash_list_lookup (list, key, offset, length, listed),
      "%s (%" G_GINT64_FORMAT "+%" G_GINT64_FORMAT ") not listed", key,
      offset, length);
  fail_unless (memcmp (served, listed, 32) == 0, "%s: digest of other bytes",
      key);
}

static const gchar byterange_playlist[] =
    "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:1\n"
    "#EXTINF:1,\n#EXT-X-BYTERANGE:100@0\nall.ts\n"
    "#EXTINF:1,\n#EXT-X-BYTERANGE:200\nall.ts\n"
    "#EXTINF:1,\n#EXT-X-BYTERANGE:700\nall.ts\n" "#EXT-X-ENDLIST\n";

GST_START_TEST (test_hash_list_vod)
{
  g_autofree gchar *removed = NULL;
  g_autoptr (MeshHashList) list = NULL;
  guint i;

  list = get_hash_list ("/vod/mesh-hashes.json");
  fail_unless_equals_int (mesh_hash_list_get_n_files (list), 4);
  for (i = 0; i < 4; i++) {
    g_autofree gchar *key = g_strdup_printf ("seg%u.ts", i);
    g_autofree gchar *path = g_strdup_printf ("/vod/seg%u.ts", i);

    check_served_digest (list, key, path, NULL, 0, -1);
  }
  g_clear_pointer (&list, mesh_hash_list_unref);

  /* kept current: a new segment in, a removed one out */
  write_file ("vod/seg4.ts", "segment 4", -1);
  removed = g_build_filename (root_dir, "vod", "seg0.ts", NULL);
  fail_unless (g_unlink (removed) == 0);
  list = get_hash_list ("/vod/mesh-hashes.json");
  fail_unless_equals_int (mesh_hash_list_get_n_files (list), 4);
  fail_if (mesh_hash_list_get_file_size (list, "seg0.ts", NULL));
  check_served_digest (list, "seg4.ts", "/vod/seg4.ts", NULL, 0, -1);
  g_clear_pointer (&list, mesh_hash_list_unref);

  /* byte ranges, as the playlist addresses them, checked against what a
   * Range request gets */
  write_file ("br/index.m3u8", byterange_playlist, -1);
  write_file ("br/all.ts", data_bytes, DATA_SIZE);
  list = get_hash_list ("/br/mesh-hashes.json");
  check_served_digest (list, "all.ts", "/br/all.ts", NULL, 0, -1);
  check_served_digest (list, "all.ts", "/br/all.ts", "bytes=0-99", 0, 100);
  check_served_digest (list, "all.ts", "/br/all.ts", "bytes=100-299", 100, 200);
  check_served_digest (list, "all.ts", "/br/all.ts", "bytes=300-999", 300, 700);
  g_clear_pointer (&list, mesh_hash_list_unref);

  /* next to manifests only, inside the root only */
  check_status ("/keys/mesh-hashes.json", 404);
  check_status ("/nowhere/mesh-hashes.json", 404);
  check_status ("/../mesh-hashes.json", 404);

  /* a list on disk is published as it is */
  write_file ("own/index.m3u8", vod_playlist, -1);
  write_file ("own/mesh-hashes.json", "{\"mine\":1}", -1);
  {
    guint status;
    g_autoptr (GBytes) body = http_get ("/own/mesh-hashes.json", NULL, &status);

    fail_unless_equals_int (status, 200);
    fail_unless (bytes_equal_mem (body, "{\"mine\":1}", 10));
  }
}

GST_END_TEST;

/* Live HLS serves the VOD files under looped URIs: the list's keys are
 * what those URIs map to. */
GST_START_TEST (test_hash_list_live_hls)
{
  g_autofree gchar *list_url = url_for (origin, "/live/vod/mesh-hashes.json");
  g_autoptr (MeshHashList) list = NULL;
  LiveWindow *w;
  guint i;

  /* 65 s in: the window spans a loop of the VOD */
  mesh_origin_server_set_time_offset (origin, 65 * SEC);
  list = get_hash_list ("/live/vod/mesh-hashes.json");
  w = get_window (origin, "/live/vod/index.m3u8");
  fail_unless (w->uris->len > 0);
  for (i = 0; i < w->uris->len; i++) {
    const gchar *uri = g_ptr_array_index (w->uris, i);
    g_autofree gchar *path = g_strconcat ("/live/vod/", uri, NULL);
    g_autofree gchar *url = url_for (origin, path);
    g_autofree gchar *key = mesh_hash_list_path_for_uri (list_url, url);

    fail_unless (key != NULL, "%s", url);
    check_served_digest (list, key, path, NULL, 0, -1);
  }
  live_window_free (w);
}

GST_END_TEST;

/* Looped live DASH segments are not the files (their times move on): the
 * list under /live/ has what is served, for the segments of the
 * time-shift buffer. */
GST_START_TEST (test_hash_list_live_dash)
{
  g_autoptr (MeshHashList) list = NULL;
  guint8 digest[32], first_pass[32];

  /* 10.5 s in: 5, the first of the second pass, is out; 6 is not */
  mesh_origin_server_set_time_offset (origin, 10 * SEC + SEC / 2);
  list = get_hash_list ("/live/dash/mesh-hashes.json");
  check_served_digest (list, "seg-v-001.m4s", "/live/dash/seg-v-001.m4s"
      DASH_QUERY, NULL, 0, -1);
  check_served_digest (list, "seg-v-005.m4s", "/live/dash/seg-v-005.m4s"
      DASH_QUERY, NULL, 0, -1);
  fail_unless (mesh_hash_list_lookup (list, "seg-v-005.m4s", 0, -1, digest));
  fail_unless (mesh_hash_list_lookup (list, "seg-v-001.m4s", 0, -1,
          first_pass));
  fail_if (memcmp (digest, first_pass, 32) == 0);
  fail_if (mesh_hash_list_get_file_size (list, "seg-v-006.m4s", NULL));
  g_clear_pointer (&list, mesh_hash_list_unref);

  /* outside /live/, the files only */
  list = get_hash_list ("/dash/mesh-hashes.json");
  fail_if (mesh_hash_list_get_file_size (list, "seg-v-005.m4s", NULL));
  g_clear_pointer (&list, mesh_hash_list_unref);

  /* 100 s in: 50 is the last out; the 12 s buffer and one more behind it */
  mesh_origin_server_set_time_offset (origin, 100 * SEC);
  list = get_hash_list ("/live/dash/mesh-hashes.json");
  check_served_digest (list, "seg-v-050.m4s", "/live/dash/seg-v-050.m4s"
      DASH_QUERY, NULL, 0, -1);
  check_served_digest (list, "seg-v-044.m4s", "/live/dash/seg-v-044.m4s"
      DASH_QUERY, NULL, 0, -1);
  fail_if (mesh_hash_list_get_file_size (list, "seg-v-043.m4s", NULL));
  fail_if (mesh_hash_list_get_file_size (list, "seg-v-051.m4s", NULL));
}

GST_END_TEST;

GST_START_TEST (test_start_errors)
{
  MeshOriginConfig config = { 0, };
  GError *error = NULL;

  config.root = "/nonexistent/mesh-origin-root";
  fail_unless (mesh_origin_server_start (&config, &error) == NULL);
  fail_unless (error != NULL);
  g_clear_error (&error);

  config.root = root_dir;
  config.host = "not-an-address";
  fail_unless (mesh_origin_server_start (&config, &error) == NULL);
  fail_unless (error != NULL);
  g_clear_error (&error);

  /* the port is taken */
  config.host = "127.0.0.1";
  config.port = mesh_origin_server_get_port (origin);
  fail_unless (mesh_origin_server_start (&config, &error) == NULL);
  fail_unless (error != NULL);
  g_clear_error (&error);
}

GST_END_TEST;

static Suite *
origin_suite (void)
{
  Suite *s = suite_create ("origin");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, origin_setup, origin_teardown);
  tcase_add_test (tc, test_full_get);
  tcase_add_test (tc, test_range);
  tcase_add_test (tc, test_not_found);
  tcase_add_test (tc, test_path_traversal);
  tcase_add_test (tc, test_keep_alive);
  tcase_add_test (tc, test_stats);
  tcase_add_test (tc, test_fault_status);
  tcase_add_test (tc, test_fault_delay);
  tcase_add_test (tc, test_fault_rate);
  tcase_add_test (tc, test_fault_drop);
  tcase_add_test (tc, test_live_window);
  tcase_add_test (tc, test_live_follows_clock);
  tcase_add_test (tc, test_live_keys_and_maps);
  tcase_add_test (tc, test_live_master_and_bad_input);
  tcase_add_test (tc, test_media_live);
  tcase_add_test (tc, test_dash_live_mpd);
  tcase_add_test (tc, test_dash_time);
  tcase_add_test (tc, test_dash_segment_availability);
  tcase_add_test (tc, test_dash_segment_loop);
  tcase_add_test (tc, test_dash_bad_input);
  tcase_add_test (tc, test_media_live_dash);
  tcase_add_test (tc, test_hash_list_vod);
  tcase_add_test (tc, test_hash_list_live_hls);
  tcase_add_test (tc, test_hash_list_live_dash);
  tcase_add_test (tc, test_start_errors);

  return s;
}

GST_CHECK_MAIN (origin);
