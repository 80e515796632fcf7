/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Redis mode of the tracker (docs/tracker.md "Redis mode"): a real
 * redis-server started here on a free loopback port, three tracker
 * instances sharing it (two in this process, one a mesh-tracker process
 * that can be killed), and WebSocket clients on different instances that
 * must meet: in welcome and peers lists, by peer-joined and peer-left, and
 * through relayed signals. Killing an instance, its member leaves the lists
 * within two heartbeats; restarting Redis, the instances come back and
 * their members are found again.
 *
 * Skipped when redis-server is not installed (scripts/setup-deps.sh
 * installs it).
 *
 * Threads: the test runs on the check thread with a GMainContext of its own
 * pushed as thread-default (the libsoup session, the clients, the child
 * processes' pipes); each in-process tracker runs on its own thread. The
 * helpers iterate the test context until what they wait for happens or a
 * deadline passes; where no event exists (another process's state) they ask
 * again every POLL_MS.
 */

#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "mesh-tracker-server.h"
#include "mesh-tracker-redis.h"
#include "mesh-test-port.h"
#include "mesh-test-redis.h"
#include "mesh-test-wait.h"

#define WAIT_MS 5000
#define POLL_MS 50
/* short, so that expiry is quick to see; peers time out after 2.5 x */
#define HEARTBEAT_S 2
#define SWARM "redis-swarm"

static GMainContext *context;
static SoupSession *session;
static GSubprocess *redis;
static guint redis_port;
static gchar *redis_url;
static MeshTrackerServer *tracker_a, *tracker_b;
static GSubprocess *tracker_c;
static gchar *tracker_c_http, *tracker_c_ws;
static GPtrArray *clients;

typedef struct
{
  SoupWebsocketConnection *ws;
  GQueue pending;               /* JsonNode not yet taken by the test */
  gboolean closed;
} Client;

/* ------------------------------------------------------------------------ */
/* Processes                                                                */

/* redis-server on redis_port, ready when this returns. */
static void
start_redis (void)
{
  redis = mesh_test_redis_start (redis_port);
}

static gboolean
process_exited (gpointer data)
{
  return g_subprocess_get_if_exited (data)
      || g_subprocess_get_if_signaled (data);
}

typedef struct
{
  gboolean done;
} WaitDone;

static void
on_process_done (GObject * source, GAsyncResult * result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  ((WaitDone *) data)->done = TRUE;
}

/* Kills @process with @signal and waits for it to be gone. */
static void
kill_process (GSubprocess ** process, gint signal)
{
  WaitDone wait = { FALSE };

  if (!*process)
    return;
  g_subprocess_send_signal (*process, signal);
  g_subprocess_wait_async (*process, NULL, on_process_done, &wait);
  MESH_TEST_WAIT_UNTIL (context, wait.done, WAIT_MS);
  fail_unless (process_exited (*process));
  g_clear_object (process);
}

static MeshTrackerServer *
start_tracker (void)
{
  MeshTrackerConfig config = { 0, };
  MeshTrackerServer *tracker;
  GError *error = NULL;

  config.host = "127.0.0.1";
  config.heartbeat = HEARTBEAT_S;
  config.redis = redis_url;
  /* room for test_remote_knows_bound's 128 signals at once */
  config.rate = 500;
  config.burst = 500;
  tracker = mesh_tracker_server_start (&config, &error);
  fail_unless (tracker != NULL, "tracker: %s", error ? error->message : "");
  return tracker;
}

/* The third instance, a process of its own that can be killed. */
static void
start_tracker_process (void)
{
  const gchar *binary = g_getenv ("MESH_TRACKER");
  guint port = mesh_test_unused_port ();
  g_autofree gchar *listen = g_strdup_printf ("127.0.0.1:%u", port);
  g_autofree gchar *heartbeat = g_strdup_printf ("%u", HEARTBEAT_S);
  GError *error = NULL;

  fail_unless (binary != NULL, "MESH_TRACKER is not set");
  tracker_c = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, binary,
      "--config=", "--listen", listen, "--heartbeat", heartbeat, "--redis",
      redis_url, NULL);
  fail_unless (tracker_c != NULL, "mesh-tracker: %s",
      error ? error->message : "");
  tracker_c_http = g_strdup_printf ("http://127.0.0.1:%u", port);
  tracker_c_ws = g_strdup_printf ("ws://127.0.0.1:%u/announce", port);
}

/* ------------------------------------------------------------------------ */
/* /metrics                                                                 */

typedef struct
{
  gboolean done;
  GBytes *body;
} Fetch;

static void
on_fetched (GObject * source, GAsyncResult * result, gpointer data)
{
  Fetch *fetch = data;

  fetch->body = soup_session_send_and_read_finish (SOUP_SESSION (source),
      result, NULL);
  fetch->done = TRUE;
}

/* The value of @name in @http_url's /metrics, or -1 when it cannot be
 * read. */
static gdouble
read_metric (const gchar * http_url, const gchar * name)
{
  g_autofree gchar *url = g_strconcat (http_url, "/metrics", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autofree gchar *needle = g_strconcat ("\n", name, " ", NULL);
  Fetch fetch = { FALSE, NULL };
  g_autofree gchar *text = NULL;
  const gchar *found;

  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL,
      on_fetched, &fetch);
  MESH_TEST_ITERATE_UNTIL (context, fetch.done, WAIT_MS);
  if (!fetch.body)
    return -1;
  text = g_strndup (g_bytes_get_data (fetch.body, NULL),
      g_bytes_get_size (fetch.body));
  g_bytes_unref (fetch.body);
  found = strstr (text, needle);
  return found ? g_ascii_strtod (found + strlen (needle), NULL) : -1;
}

static gboolean
poll_expired (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Lets the test context run for POLL_MS: for what has no event to wait
 * on (another process's state). */
static void
pause_poll (void)
{
  gboolean expired = FALSE;
  GSource *timer = g_timeout_source_new (POLL_MS);

  g_source_set_callback (timer, poll_expired, &expired, NULL);
  g_source_attach (timer, context);
  while (!expired)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
}

/* Waits until @http_url's @name is at least @value. */
static void
wait_metric_at_least (const gchar * http_url, const gchar * name, gdouble value)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (read_metric (http_url, name) < value) {
    fail_unless (g_get_monotonic_time () < deadline, "%s: %s stayed under %g",
        http_url, name, value);
    pause_poll ();
  }
}

static void
wait_connected (const gchar * http_url)
{
  wait_metric_at_least (http_url, "mesh_tracker_directory_connected", 1);
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                  */

static void
client_free (gpointer data)
{
  Client *c = data;

  g_signal_handlers_disconnect_by_data (c->ws, c);
  g_object_unref (c->ws);
  g_queue_clear_full (&c->pending, (GDestroyNotify) json_node_unref);
  g_free (c);
}

static void
on_client_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer data)
{
  Client *c = data;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);
  g_autoptr (JsonParser) parser = json_parser_new ();

  fail_unless (json_parser_load_from_data (parser, text, size, NULL),
      "tracker sent bad JSON: %.*s", (int) size, text);
  g_queue_push_tail (&c->pending, json_node_ref (json_parser_get_root
          (parser)));
}

static void
on_client_closed (SoupWebsocketConnection * ws, gpointer data)
{
  ((Client *) data)->closed = TRUE;
}

typedef struct
{
  gboolean done;
  SoupWebsocketConnection *ws;
  GError *error;
} ConnectResult;

static void
on_connected (GObject * source, GAsyncResult * result, gpointer data)
{
  ConnectResult *r = data;

  r->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
      result, &r->error);
  r->done = TRUE;
}

static Client *
client_new (const gchar * url)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  const gchar *protocols[] = { MESH_TRACKER_SUBPROTOCOL, NULL };
  ConnectResult r = { 0, };
  Client *c;

  soup_session_websocket_connect_async (session, msg, NULL,
      (gchar **) protocols, G_PRIORITY_DEFAULT, NULL, on_connected, &r);
  MESH_TEST_WAIT_UNTIL (context, r.done, WAIT_MS);
  fail_unless (r.ws != NULL, "connect %s: %s", url, r.error ?
      r.error->message : "");
  c = g_new0 (Client, 1);
  c->ws = r.ws;
  g_queue_init (&c->pending);
  g_signal_connect (c->ws, "message", G_CALLBACK (on_client_message), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (on_client_closed), c);
  g_ptr_array_add (clients, c);
  return c;
}

static void
client_sendf (Client * c, const gchar * format, ...)
G_GNUC_PRINTF (2, 3);

     static void client_sendf (Client * c, const gchar * format, ...)
{
  va_list args;
  g_autofree gchar *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  soup_websocket_connection_send_text (c->ws, text);
}

static const gchar *
member_string (JsonNode * node, const gchar * name)
{
  return json_object_get_string_member_with_default (json_node_get_object
      (node), name, NULL);
}

/* The next message, which must be of @type; transfer full. Heartbeats are
 * sent meanwhile so that long waits do not time the client out. */
static JsonNode *
client_expect (Client * c, const gchar * type)
{
  JsonNode *node;
  g_autofree gchar *text = NULL;

  MESH_TEST_ITERATE_UNTIL (context, !g_queue_is_empty (&c->pending), WAIT_MS);
  fail_unless (!g_queue_is_empty (&c->pending), "no \"%s\" arrived", type);
  node = g_queue_pop_head (&c->pending);
  text = json_to_string (node, FALSE);
  fail_unless_equals_string (member_string (node, "type"), type);
  return node;
}

/* The next message but peer-joined ones, which must be of @type. */
static JsonNode *
client_expect_skipping_joins (Client * c, const gchar * type)
{
  while (TRUE) {
    JsonNode *node;

    MESH_TEST_ITERATE_UNTIL (context, !g_queue_is_empty (&c->pending), WAIT_MS);
    fail_unless (!g_queue_is_empty (&c->pending), "no \"%s\" arrived", type);
    if (g_strcmp0 (member_string (g_queue_peek_head (&c->pending), "type"),
            "peer-joined") != 0)
      return client_expect (c, type);
    node = g_queue_pop_head (&c->pending);
    json_node_unref (node);
  }
}

/* The entry of @id in the "peers" array of @node (welcome or peers), or
 * NULL. */
static JsonObject *
list_entry (JsonNode * node, const gchar * id)
{
  JsonArray *peers = json_object_get_array_member (json_node_get_object
      (node), "peers");
  guint i;

  for (i = 0; i < json_array_get_length (peers); i++) {
    JsonObject *entry = json_array_get_object_element (peers, i);

    if (g_strcmp0 (json_object_get_string_member_with_default (entry, "peer",
                NULL), id) == 0)
      return entry;
  }
  return NULL;
}

static gboolean
lists (JsonNode * node, const gchar * id)
{
  return list_entry (node, id) != NULL;
}

/* Joins SWARM as @id; returns the welcome (transfer full). */
static JsonNode *
client_join (Client * c, const gchar * id)
{
  client_sendf (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"" SWARM "\","
      "\"peer\":\"%s\",\"caps\":{\"upload\":true}}", id);
  return client_expect (c, "welcome");
}

/* Asks for peers until the list has (@present) or lacks @id, for up to
 * @timeout_ms; returns how long it took (µs), or -1. */
static gint64
client_wait_listing (Client * c, const gchar * id, gboolean present,
    guint timeout_ms)
{
  gint64 start = g_get_monotonic_time ();

  while (g_get_monotonic_time () - start < timeout_ms * (gint64) 1000) {
    g_autoptr (JsonNode) peers = NULL;

    client_sendf (c, "{\"type\":\"get-peers\"}");
    peers = client_expect (c, "peers");
    if (lists (peers, id) == present)
      return g_get_monotonic_time () - start;
    pause_poll ();
  }
  return -1;
}

/* A signal from @from (joined as @from_id) reaches @to (joined as
 * @to_id), peer-joined notifications aside. */
static void
assert_signal_reaches (Client * from, const gchar * from_id, Client * to,
    const gchar * to_id)
{
  g_autoptr (JsonNode) signal = NULL;

  client_sendf (from, "{\"type\":\"signal\",\"to\":\"%s\","
      "\"data\":{\"hello\":\"%s\"}}", to_id, to_id);
  signal = client_expect_skipping_joins (to, "signal");
  fail_unless_equals_string (member_string (signal, "from"), from_id);
}

/* @tracker lost Redis and is connected to it again. */
static void
wait_reconnected (MeshTrackerServer * tracker)
{
  wait_metric_at_least (mesh_tracker_server_get_http_url (tracker),
      "mesh_tracker_directory_reconnects_total", 1);
  wait_connected (mesh_tracker_server_get_http_url (tracker));
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                  */

static void
redis_setup (void)
{
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  session = soup_session_new ();
  clients = g_ptr_array_new_with_free_func (client_free);
  redis_port = mesh_test_unused_port ();
  redis_url = g_strdup_printf ("redis://127.0.0.1:%u", redis_port);
  start_redis ();
  tracker_a = start_tracker ();
  tracker_b = start_tracker ();
  wait_connected (mesh_tracker_server_get_http_url (tracker_a));
  wait_connected (mesh_tracker_server_get_http_url (tracker_b));
}

static void
redis_teardown (void)
{
  g_clear_pointer (&clients, g_ptr_array_unref);
  g_clear_pointer (&tracker_a, mesh_tracker_server_stop);
  g_clear_pointer (&tracker_b, mesh_tracker_server_stop);
  kill_process (&tracker_c, SIGTERM);
  if (redis)
    g_subprocess_send_signal (redis, SIGCONT);  /* a failed test_redis_silent */
  kill_process (&redis, SIGTERM);
  g_clear_pointer (&tracker_c_http, g_free);
  g_clear_pointer (&tracker_c_ws, g_free);
  g_clear_pointer (&redis_url, g_free);
  g_clear_object (&session);
  while (g_main_context_iteration (context, FALSE));
  g_main_context_pop_thread_default (context);
  g_clear_pointer (&context, g_main_context_unref);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

/* Members of three instances meet: lists, peer-joined, signals both ways,
 * unknown peers, peer-left; the killed instance's member expires. */
GST_START_TEST (test_instances_meet)
{
  g_autoptr (JsonNode) welcome_c = NULL, welcome_a = NULL, welcome_b = NULL;
  g_autoptr (JsonNode) joined = NULL, signal = NULL, reply = NULL;
  g_autoptr (JsonNode) error = NULL, left = NULL;
  Client *a, *b, *c;
  gint64 gone_us;

  start_tracker_process ();
  wait_connected (tracker_c_http);

  c = client_new (tracker_c_ws);
  welcome_c = client_join (c, "peer-on-c-001");
  a = client_new (mesh_tracker_server_get_url (tracker_a));
  welcome_a = client_join (a, "peer-on-a-001");
  fail_unless (lists (welcome_a, "peer-on-c-001"),
      "A's welcome lacks the member of C");
  /* its network came along: all are on 127.0.0.1, the same site */
  fail_unless (json_object_get_boolean_member_with_default (list_entry
          (welcome_a, "peer-on-c-001"), "near", FALSE));
  fail_unless (json_object_get_boolean_member_with_default (list_entry
          (welcome_a, "peer-on-c-001"), "upload", FALSE));
  joined = client_expect (c, "peer-joined");
  fail_unless_equals_string (member_string (joined, "peer"), "peer-on-a-001");
  fail_unless (json_object_get_boolean_member_with_default
      (json_node_get_object (joined), "near", FALSE));

  b = client_new (mesh_tracker_server_get_url (tracker_b));
  welcome_b = client_join (b, "peer-on-b-001");
  fail_unless (lists (welcome_b, "peer-on-a-001"), "B's welcome lacks A's");
  fail_unless (lists (welcome_b, "peer-on-c-001"), "B's welcome lacks C's");

  /* A -> B and back, through Redis */
  g_clear_pointer (&joined, json_node_unref);
  joined = client_expect (a, "peer-joined");
  fail_unless_equals_string (member_string (joined, "peer"), "peer-on-b-001");
  client_sendf (a, "{\"type\":\"signal\",\"to\":\"peer-on-b-001\","
      "\"data\":{\"sdp\":\"offer\",\"n\":[1,2]}}");
  signal = client_expect (b, "signal");
  fail_unless_equals_string (member_string (signal, "from"), "peer-on-a-001");
  {
    g_autofree gchar *data = json_to_string (json_object_get_member
        (json_node_get_object (signal), "data"), FALSE);

    fail_unless_equals_string (data, "{\"sdp\":\"offer\",\"n\":[1,2]}");
  }
  client_sendf (b, "{\"type\":\"signal\",\"to\":\"peer-on-a-001\","
      "\"data\":{\"sdp\":\"answer\"}}");
  reply = client_expect (a, "signal");
  fail_unless_equals_string (member_string (reply, "from"), "peer-on-b-001");

  /* nobody anywhere holds this one */
  client_sendf (b, "{\"type\":\"signal\",\"to\":\"nobody-at-all\","
      "\"data\":{}}");
  error = client_expect (b, "error");
  fail_unless_equals_string (member_string (error, "code"), "unknown-peer");

  /* C dies without a word: its member is gone from the lists within two
   * heartbeats (plus a refresh period and a poll) */
  kill_process (&tracker_c, SIGKILL);
  gone_us = client_wait_listing (a, "peer-on-c-001", FALSE,
      2 * HEARTBEAT_S * 1000 + 1000);
  fail_unless (gone_us >= 0, "the member of the dead instance is still "
      "listed %u s after", 2 * HEARTBEAT_S + 1);
  GST_INFO ("dead instance's member unlisted after %" G_GINT64_FORMAT " ms",
      gone_us / 1000);

  /* A leaves: B, which was told about it, hears it */
  client_sendf (a, "{\"type\":\"leave\"}");
  left = client_expect (b, "peer-left");
  fail_unless_equals_string (member_string (left, "peer"), "peer-on-a-001");
  fail_unless (client_wait_listing (b, "peer-on-a-001", FALSE, WAIT_MS) >= 0);
  fail_unless (read_metric (mesh_tracker_server_get_http_url (tracker_b),
          "mesh_tracker_directory_messages_in_total") >= 2);
}

GST_END_TEST;

/* A peer remembers at most 128 members of other instances
 * (MAX_REMOTE_KNOWS): a client signalling made-up ids fills its own share
 * and no more, and the leave of a member it was told of past that no
 * longer reaches it, while it reaches a peer below the bound. */
GST_START_TEST (test_remote_knows_bound)
{
  g_autoptr (JsonNode) left = NULL;
  Client *full, *fresh, *b;
  guint i;

  full = client_new (mesh_tracker_server_get_url (tracker_a));
  json_node_unref (client_join (full, "peer-on-a-full"));
  fresh = client_new (mesh_tracker_server_get_url (tracker_a));
  json_node_unref (client_join (fresh, "peer-on-a-fresh"));
  for (i = 0; i < 128; i++)
    client_sendf (full, "{\"type\":\"signal\",\"to\":\"ghost-peer-%03u\","
        "\"data\":{}}", i);
  /* each went through Redis, and nobody held it */
  for (i = 0; i < 128; i++)
    json_node_unref (client_expect_skipping_joins (full, "error"));

  b = client_new (mesh_tracker_server_get_url (tracker_b));
  json_node_unref (client_join (b, "peer-on-b-001"));
  json_node_unref (client_expect (full, "peer-joined"));
  json_node_unref (client_expect (fresh, "peer-joined"));
  client_sendf (b, "{\"type\":\"leave\"}");
  left = client_expect (fresh, "peer-left");
  fail_unless_equals_string (member_string (left, "peer"), "peer-on-b-001");

  /* what A sent full before the answer to this came before it */
  client_sendf (full, "{\"type\":\"get-peers\"}");
  while (TRUE) {
    g_autoptr (JsonNode) node = NULL;

    MESH_TEST_ITERATE_UNTIL (context, !g_queue_is_empty (&full->pending),
        WAIT_MS);
    fail_if (g_queue_is_empty (&full->pending), "no \"peers\" arrived");
    node = g_queue_pop_head (&full->pending);
    fail_if (g_strcmp0 (member_string (node, "type"), "peer-left") == 0,
        "a leave reached a peer past its bound of remote members");
    if (g_strcmp0 (member_string (node, "type"), "peers") == 0)
      break;
  }
}

GST_END_TEST;

/* Redis restarts empty: both instances reconnect, republish and
 * resubscribe, and their members meet again. */
GST_START_TEST (test_redis_restart)
{
  g_autoptr (JsonNode) welcome_a = NULL, welcome_b = NULL;
  Client *a, *b;

  a = client_new (mesh_tracker_server_get_url (tracker_a));
  welcome_a = client_join (a, "peer-on-a-002");

  kill_process (&redis, SIGKILL);
  start_redis ();
  wait_reconnected (tracker_a);
  wait_reconnected (tracker_b);

  b = client_new (mesh_tracker_server_get_url (tracker_b));
  welcome_b = client_join (b, "peer-on-b-002");
  if (!lists (welcome_b, "peer-on-a-002"))
    /* A's refresh may not have come round yet: a third of a heartbeat */
    fail_unless (client_wait_listing (b, "peer-on-a-002", TRUE,
            HEARTBEAT_S * 1000) >= 0, "A's member never came back");
  assert_signal_reaches (b, "peer-on-b-002", a, "peer-on-a-002");
  fail_unless (read_metric (mesh_tracker_server_get_http_url (tracker_a),
          "mesh_tracker_directory_errors_total") >= 1);
}

GST_END_TEST;

/* Runs one command on the test's Redis, as another (broken) instance
 * would: @argv NULL-terminated; returns the first line of the answer. */
static gchar *
redis_command (const gchar * const *argv)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  GString *request = g_string_new (NULL);
  GError *error = NULL;
  gchar *line;
  guint i;

  connection = g_socket_client_connect_to_host (client, "127.0.0.1",
      redis_port, NULL, &error);
  fail_unless (connection != NULL, "redis: %s", error ? error->message : "");
  g_string_append_printf (request, "*%u\r\n", g_strv_length ((gchar **)
          argv));
  for (i = 0; argv[i]; i++)
    g_string_append_printf (request, "$%zu\r\n%s\r\n", strlen (argv[i]),
        argv[i]);
  fail_unless (g_output_stream_write_all (g_io_stream_get_output_stream
          (G_IO_STREAM (connection)), request->str, request->len, NULL, NULL,
          &error), "redis: %s", error ? error->message : "");
  g_string_free (request, TRUE);
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM
          (connection)));
  line = g_data_input_stream_read_line (in, NULL, NULL, &error);
  fail_unless (line != NULL, "redis: %s", error ? error->message : "");
  return g_strchomp (line);     /* the \r of \r\n */
}

/* What another instance may put in Redis, broken or hostile: records and
 * messages that are not JSON, nested too deep, with invalid ids or fields.
 * They are dropped (and counted); the valid ones among them are used. */
GST_START_TEST (test_hostile_redis_data)
{
  g_autofree gchar *deep = NULL;
  g_autofree gchar *deep_signal = NULL;
  g_autoptr (JsonNode) welcome_a = NULL, welcome_b = NULL, joined = NULL;
  g_autoptr (JsonNode) peers = NULL;
  const gchar *key = NULL;
  Client *a, *b;
  guint i;

  a = client_new (mesh_tracker_server_get_url (tracker_a));
  welcome_a = client_join (a, "peer-on-a-004");

  deep = g_strnfill (100, '[');
  deep_signal = g_strconcat ("{\"t\":\"signal\",\"f\":\"peer-deep-01\","
      "\"d\":", deep, NULL);
  key = "mesh:0:m:" SWARM;
  {
    const gchar *argv[] = { "ZADD", key,
      "99999999999999", "not json at all",
      "99999999999999", deep,
      "99999999999999", "{\"p\":\"bad id!\",\"i\":\"other\"}",
      "99999999999999", "{\"p\":\"peer-no-instance\"}",
      "99999999999999", "[\"an\",\"array\"]",
      "1", "{\"p\":\"peer-expired-1\",\"i\":\"other\"}",
      "99999999999999", "{\"p\":\"peer-forged-01\",\"i\":\"other\","
          "\"u\":true,\"x\":\"\\u0001bad\",\"a\":\"text\","
          "\"h\":\"no spaces allowed\"}",
      NULL
    };
    g_autofree gchar *answer = redis_command (argv);

    fail_unless_equals_string (answer, ":7");
  }
  {
    const gchar *payloads[] = { "{", deep, deep_signal,
      "{\"t\":\"signal\",\"f\":\"bad id!\",\"d\":{}}",
      "{\"t\":\"nonsense\",\"f\":\"peer-other-01\"}",
      "{\"t\":\"joined\",\"f\":\"peer-joined-01\",\"a\":\"x\"," "\"r\":42}",
    };
    const gchar *channel = "mesh:0:p:peer-on-a-004:" SWARM;

    for (i = 0; i < G_N_ELEMENTS (payloads); i++) {
      const gchar *argv[] = { "PUBLISH", channel, payloads[i], NULL };
      g_autofree gchar *answer = redis_command (argv);

      fail_unless_equals_string (answer, ":1");
    }
  }
  /* of the messages, only the well-formed peer-joined came through */
  joined = client_expect (a, "peer-joined");
  fail_unless_equals_string (member_string (joined, "peer"), "peer-joined-01");
  client_sendf (a, "{\"type\":\"get-peers\"}");
  peers = client_expect (a, "peers");

  /* of the records, only the forged one with a valid id, its bad fields
   * left empty */
  b = client_new (mesh_tracker_server_get_url (tracker_b));
  welcome_b = client_join (b, "peer-on-b-004");
  fail_unless (lists (welcome_b, "peer-on-a-004"));
  fail_unless (lists (welcome_b, "peer-forged-01"));
  fail_if (lists (welcome_b, "peer-expired-1"));
  fail_if (lists (welcome_b, "peer-no-instance"));
  fail_unless_equals_int (json_array_get_length (json_object_get_array_member
          (json_node_get_object (welcome_b), "peers")), 2);
  fail_unless (read_metric (mesh_tracker_server_get_http_url (tracker_a),
          "mesh_tracker_directory_dropped_total") >= 5);
}

GST_END_TEST;

/* Redis stops answering (SIGSTOP): joins are still welcomed, within the
 * list timeout, with local members; the instances drop the silent
 * connection after a heartbeat, and once Redis answers again the members
 * meet. */
GST_START_TEST (test_redis_silent)
{
  g_autoptr (JsonNode) welcome_a = NULL, welcome_b = NULL;
  Client *a, *b;
  gint64 start;

  a = client_new (mesh_tracker_server_get_url (tracker_a));
  welcome_a = client_join (a, "peer-on-a-003");

  g_subprocess_send_signal (redis, SIGSTOP);
  b = client_new (mesh_tracker_server_get_url (tracker_b));
  start = g_get_monotonic_time ();
  welcome_b = client_join (b, "peer-on-b-003");
  fail_unless (g_get_monotonic_time () - start < 2 * G_USEC_PER_SEC,
      "the welcome waited for a Redis that does not answer");
  fail_if (lists (welcome_b, "peer-on-a-003"));
  /* a heartbeat without an answer: B drops the connection */
  wait_metric_at_least (mesh_tracker_server_get_http_url (tracker_b),
      "mesh_tracker_directory_reconnects_total", 1);

  g_subprocess_send_signal (redis, SIGCONT);
  fail_unless (client_wait_listing (b, "peer-on-a-003", TRUE, WAIT_MS) >= 0,
      "A's member never listed after Redis came back");
  assert_signal_reaches (b, "peer-on-b-003", a, "peer-on-a-003");
}

GST_END_TEST;

static void
count_lists (GPtrArray * members, gpointer data)
{
  guint *answers = data;

  fail_unless_equals_int (members->len, 0);
  (*answers)++;
}

/* A list asked before the directory could reach Redis, still waiting when
 * the directory goes: answered once, empty, and nothing of it touched
 * after it is freed (ASan's build tells). */
GST_START_TEST (test_list_pending_at_dispose)
{
  g_autofree gchar *url = g_strdup_printf ("redis://127.0.0.1:%u",
      mesh_test_unused_port ());
  g_autoptr (GError) error = NULL;
  MeshTrackerDirectory *directory;
  guint answers = 0;

  directory = mesh_tracker_redis_new (url, 15, 65536, &error);
  fail_unless (directory != NULL, "%s", error ? error->message : "");
  mesh_tracker_directory_list (directory, "s", 10, count_lists, &answers);
  fail_unless_equals_int (answers, 0);
  g_object_run_dispose (G_OBJECT (directory));
  fail_unless_equals_int (answers, 1);
  g_object_unref (directory);
  while (g_main_context_iteration (context, FALSE));
  fail_unless_equals_int (answers, 1);
}

GST_END_TEST;

/* While a newcomer's welcome waits for Redis (stopped here: for the whole
 * list timeout), a member of its instance signals it 40 times: the welcome
 * comes first, then the first MESH_TRACKER_MAX_BEFORE_WELCOME signals in
 * order; the others were dropped, so a signal sent after the welcome is
 * the next message. */
GST_START_TEST (test_held_before_welcome)
{
  const gchar *http_b = mesh_tracker_server_get_http_url (tracker_b);
  g_autoptr (JsonNode) welcome_x = NULL, welcome_y = NULL, after = NULL;
  Client *x, *y;
  gdouble joins;
  guint i;

  x = client_new (mesh_tracker_server_get_url (tracker_b));
  welcome_x = client_join (x, "peer-on-b-010");
  joins = read_metric (http_b, "mesh_tracker_joins_total");

  g_subprocess_send_signal (redis, SIGSTOP);
  y = client_new (mesh_tracker_server_get_url (tracker_b));
  client_sendf (y, "{\"type\":\"join\",\"version\":1,\"swarm\":\"" SWARM
      "\",\"peer\":\"peer-on-b-011\",\"caps\":{\"upload\":true}}");
  /* in the swarm, its welcome waiting for Redis */
  wait_metric_at_least (http_b, "mesh_tracker_joins_total", joins + 1);
  for (i = 0; i < 40; i++)
    client_sendf (x, "{\"type\":\"signal\",\"to\":\"peer-on-b-011\","
        "\"data\":{\"n\":%u}}", i);

  welcome_y = client_expect (y, "welcome");
  for (i = 0; i < MESH_TRACKER_MAX_BEFORE_WELCOME; i++) {
    g_autoptr (JsonNode) held = client_expect (y, "signal");
    JsonObject *data = json_object_get_object_member (json_node_get_object
        (held), "data");

    fail_unless_equals_int (json_object_get_int_member (data, "n"), i);
  }
  client_sendf (x, "{\"type\":\"signal\",\"to\":\"peer-on-b-011\","
      "\"data\":{\"n\":1000}}");
  after = client_expect (y, "signal");
  fail_unless_equals_int (json_object_get_int_member
      (json_object_get_object_member (json_node_get_object (after), "data"),
          "n"), 1000);
  g_subprocess_send_signal (redis, SIGCONT);
}

GST_END_TEST;

static Suite *
tracker_redis_suite (void)
{
  Suite *s = suite_create ("tracker-redis");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, redis_setup, redis_teardown);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_instances_meet);
  tcase_add_test (tc, test_remote_knows_bound);
  tcase_add_test (tc, test_redis_restart);
  tcase_add_test (tc, test_redis_silent);
  tcase_add_test (tc, test_held_before_welcome);
  tcase_add_test (tc, test_hostile_redis_data);
  tcase_add_test (tc, test_list_pending_at_dispose);
  return s;
}

int
main (int argc, char **argv)
{
  Suite *s;

  gst_check_init (&argc, &argv);
  if (!mesh_test_have_redis ()) {
    g_printerr ("no Redis mode in this build, or no redis-server: skipped\n");
    return 77;                  /* meson's "skipped" */
  }
  /* losing Redis is a warning of the tracker's, and expected here */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  s = tracker_redis_suite ();
  return gst_check_run_suite (s, "tracker-redis", __FILE__);
}
