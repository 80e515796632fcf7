/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of the tracker (tools/tracker) through real WebSocket clients:
 * joins and peer lists, notifications, signal relay, departures, heartbeat
 * timeouts, replacement, bad input, bounds, access tokens, /health and
 * /metrics, and the cost of joins in a large swarm.
 *
 * Threads: each test runs on the check thread, with a GMainContext of its own
 * pushed as thread-default; the libsoup session and every client connection
 * live on it, and the helpers below iterate it until what they wait for has
 * arrived or a deadline passes (no sleeps). The tracker runs on its own
 * thread; its counters are read through the thread-safe getters.
 *
 * "Nothing else arrived" is checked with a round trip: the client sends
 * get-peers, and the next message must be the answer, because the tracker
 * answers a connection in order.
 */

#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "mesh-tracker-server.h"
#include "mesh-test-wait.h"

#define WAIT_MS 5000
#define SECRET "correct horse battery staple"

static GMainContext *context;
static SoupSession *session;
static MeshTrackerServer *tracker;
static GPtrArray *clients;

typedef struct
{
  SoupWebsocketConnection *ws;
  GQueue pending;               /* JsonNode, not yet taken by the test */
  GPtrArray *history;           /* JsonNode, everything received */
  gboolean closed;
  guint peer_joined;            /* "peer-joined" messages received */
} Client;

/* ------------------------------------------------------------------------ */
/* waiting                                                                  */

typedef gboolean (*Condition) (gpointer data);

/* Iterates the test context until @condition holds or @timeout_ms pass. */
static gboolean
run_until (Condition condition, gpointer data, guint timeout_ms)
{
  MESH_TEST_ITERATE_UNTIL (context, condition (data), timeout_ms);
  return condition (data);
}

static gboolean
flag_is_set (gpointer data)
{
  return *(gboolean *) data;
}

/* ------------------------------------------------------------------------ */
/* fixture                                                                  */

static void
client_free (gpointer data)
{
  Client *c = data;

  g_signal_handlers_disconnect_by_data (c->ws, c);
  g_object_unref (c->ws);
  g_queue_clear_full (&c->pending, (GDestroyNotify) json_node_unref);
  g_ptr_array_unref (c->history);
  g_free (c);
}

static void
tracker_setup (void)
{
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  session = soup_session_new ();
  clients = g_ptr_array_new_with_free_func (client_free);
  tracker = NULL;
}

static void
tracker_teardown (void)
{
  gboolean done = FALSE;
  GSource *source;

  g_clear_pointer (&clients, g_ptr_array_unref);
  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  g_clear_object (&session);
  /* let the dropped connections finish */
  source = g_idle_source_new ();
  g_source_set_callback (source, mesh_test_set_flag, &done, NULL);
  g_source_attach (source, context);
  g_source_unref (source);
  while (!done)
    g_main_context_iteration (context, TRUE);
  while (g_main_context_iteration (context, FALSE));
  g_main_context_pop_thread_default (context);
  g_clear_pointer (&context, g_main_context_unref);
}

static void
start_tracker (MeshTrackerConfig * config)
{
  GError *error = NULL;

  config->host = "127.0.0.1";
  config->port = 0;
  tracker = mesh_tracker_server_start (config, &error);
  fail_unless (tracker != NULL, "tracker: %s", error ? error->message : "");
}

static void
start_default_tracker (void)
{
  MeshTrackerConfig config = { 0, };

  start_tracker (&config);
}

/* ------------------------------------------------------------------------ */
/* clients                                                                  */

static void
on_client_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer data)
{
  Client *c = data;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;
  const gchar *msg_type;

  fail_unless (type == SOUP_WEBSOCKET_DATA_TEXT);
  fail_unless (json_parser_load_from_data (parser, text, size, &error),
      "tracker sent bad JSON: %.*s", (int) size, text);
  root = json_parser_get_root (parser);
  fail_unless (JSON_NODE_HOLDS_OBJECT (root), "not an object: %.*s",
      (int) size, text);
  msg_type = json_object_get_string_member_with_default
      (json_node_get_object (root), "type", "");
  if (g_str_equal (msg_type, "peer-joined"))
    c->peer_joined++;
  g_queue_push_tail (&c->pending, json_node_ref (root));
  g_ptr_array_add (c->history, json_node_ref (root));
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

/* Connects offering @protocol (none when NULL), saying X-Forwarded-For:
 * @forwarded (unless NULL); NULL and @error on failure. */
static SoupWebsocketConnection *
connect_ws_forwarded (const gchar * protocol, const gchar * forwarded,
    GError ** error)
{
  g_autoptr (SoupMessage) msg = NULL;
  const gchar *protocols[] = { protocol, NULL };
  ConnectResult r = { 0, };

  msg = soup_message_new ("GET", mesh_tracker_server_get_url (tracker));
  if (forwarded)
    soup_message_headers_append (soup_message_get_request_headers (msg),
        "X-Forwarded-For", forwarded);
  soup_session_websocket_connect_async (session, msg, NULL,
      protocol ? (gchar **) protocols : NULL, G_PRIORITY_DEFAULT, NULL,
      on_connected, &r);
  fail_unless (run_until (flag_is_set, &r.done, WAIT_MS),
      "WebSocket connection timed out");
  if (r.error)
    g_propagate_error (error, r.error);
  return r.ws;
}

static SoupWebsocketConnection *
connect_ws (const gchar * protocol, GError ** error)
{
  return connect_ws_forwarded (protocol, NULL, error);
}

static Client *
client_wrap (SoupWebsocketConnection * ws)
{
  Client *c = g_new0 (Client, 1);

  c->ws = ws;
  g_queue_init (&c->pending);
  c->history = g_ptr_array_new_with_free_func ((GDestroyNotify)
      json_node_unref);
  g_signal_connect (ws, "message", G_CALLBACK (on_client_message), c);
  g_signal_connect (ws, "closed", G_CALLBACK (on_client_closed), c);
  g_ptr_array_add (clients, c);
  return c;
}

static Client *
client_new (void)
{
  g_autoptr (GError) error = NULL;
  SoupWebsocketConnection *ws = connect_ws (MESH_TRACKER_SUBPROTOCOL, &error);

  fail_unless (ws != NULL, "connect: %s", error ? error->message : "");
  return client_wrap (ws);
}

static void
client_send (Client * c, const gchar * text)
{
  fail_unless (soup_websocket_connection_get_state (c->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN);
  soup_websocket_connection_send_text (c->ws, text);
}

/* *INDENT-OFF* */
static void client_sendf (Client * c, const gchar * format, ...)
    G_GNUC_PRINTF (2, 3);
/* *INDENT-ON* */

static void
client_sendf (Client * c, const gchar * format, ...)
{
  va_list args;
  g_autofree gchar *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  client_send (c, text);
}

static gboolean
client_has_message (gpointer data)
{
  return !g_queue_is_empty (&((Client *) data)->pending);
}

static gboolean
client_is_closed (gpointer data)
{
  return ((Client *) data)->closed;
}

static const gchar *
member_string (JsonNode * node, const gchar * name)
{
  JsonObject *object = json_node_get_object (node);

  return json_object_get_string_member_with_default (object, name, NULL);
}

/* The next message, which must be of @type; transfer full. */
static JsonNode *
client_expect_within (Client * c, const gchar * type, guint timeout_ms)
{
  JsonNode *node;
  g_autofree gchar *text = NULL;

  fail_unless (run_until (client_has_message, c, timeout_ms),
      "no \"%s\" message arrived", type);
  node = g_queue_pop_head (&c->pending);
  text = json_to_string (node, FALSE);
  fail_unless (g_strcmp0 (member_string (node, "type"), type) == 0,
      "expected a \"%s\" message, got %s", type, text);
  return node;
}

static JsonNode *
client_expect (Client * c, const gchar * type)
{
  return client_expect_within (c, type, WAIT_MS);
}

static void
client_expect_error (Client * c, const gchar * code, gboolean fatal)
{
  g_autoptr (JsonNode) node = client_expect (c, "error");
  JsonObject *object = json_node_get_object (node);
  g_autofree gchar *text = json_to_string (node, FALSE);

  fail_unless_equals_string (member_string (node, "code"), code);
  fail_unless (json_object_get_boolean_member_with_default (object, "fatal",
          !fatal) == fatal, "wrong \"fatal\": %s", text);
  fail_unless (member_string (node, "message") != NULL, "%s", text);
}

/* Waits for the tracker to close @c, and checks the close code. */
static void
client_expect_close (Client * c, gushort code)
{
  fail_unless (run_until (client_is_closed, c, WAIT_MS),
      "the tracker did not close the connection");
  fail_unless_equals_int (soup_websocket_connection_get_close_code (c->ws),
      code);
}

/* Nothing arrived before the answer to a get-peers sent now. */
static void
client_expect_quiet (Client * c)
{
  g_autoptr (JsonNode) node = NULL;

  client_send (c, "{\"type\":\"get-peers\"}");
  node = client_expect (c, "peers");
}

static JsonNode *
client_join_with_token (Client * c, const gchar * swarm, const gchar * peer,
    const gchar * token)
{
  g_autoptr (JsonNode) welcome = NULL;

  if (token)
    client_sendf (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"%s\","
        "\"peer\":\"%s\",\"token\":\"%s\",\"caps\":{\"upload\":true}}",
        swarm, peer, token);
  else
    client_sendf (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"%s\","
        "\"peer\":\"%s\",\"caps\":{\"upload\":true}}", swarm, peer);
  welcome = client_expect (c, "welcome");
  fail_unless_equals_string (member_string (welcome, "peer"), peer);
  fail_unless_equals_string (member_string (welcome, "swarm"), swarm);
  fail_unless_equals_int (json_object_get_int_member (json_node_get_object
          (welcome), "version"), 1);
  return g_steal_pointer (&welcome);
}

static JsonNode *
client_join (Client * c, const gchar * swarm, const gchar * peer)
{
  return client_join_with_token (c, swarm, peer, NULL);
}

/* Joins and drops the welcome. */
static Client *
joined_client (const gchar * swarm, const gchar * peer)
{
  Client *c = client_new ();
  g_autoptr (JsonNode) welcome = client_join (c, swarm, peer);

  return c;
}

/* The peer ids of a welcome or peers message, after checking its shape. */
static GStrv
peer_list (JsonNode * node)
{
  JsonArray *array = json_object_get_array_member (json_node_get_object
      (node), "peers");
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  guint i;

  fail_unless (array != NULL);
  for (i = 0; i < json_array_get_length (array); i++) {
    JsonObject *entry = json_array_get_object_element (array, i);

    fail_unless (entry != NULL);
    fail_unless (json_object_get_string_member_with_default (entry, "peer",
            NULL) != NULL);
    fail_unless (json_object_has_member (entry, "upload"));
    g_strv_builder_add (builder, json_object_get_string_member (entry, "peer"));
  }
  return g_strv_builder_end (builder);
}

static gboolean
strv_has_duplicates (GStrv ids)
{
  guint i, j;

  for (i = 0; ids[i]; i++)
    for (j = i + 1; ids[j]; j++)
      if (g_str_equal (ids[i], ids[j]))
        return TRUE;
  return FALSE;
}

/* Did any message @c received name @peer (lists, notifications, signals)? */
static gboolean
client_heard_of (Client * c, const gchar * peer)
{
  guint i;

  for (i = 0; i < c->history->len; i++) {
    JsonNode *node = g_ptr_array_index (c->history, i);
    const gchar *type = member_string (node, "type");

    if (g_str_equal (type, "welcome") || g_str_equal (type, "peers")) {
      g_auto (GStrv) ids = peer_list (node);

      if (g_strv_contains ((const gchar * const *) ids, peer))
        return TRUE;
    } else if (g_str_equal (type, "peer-joined")) {
      if (g_str_equal (member_string (node, "peer"), peer))
        return TRUE;
    } else if (g_str_equal (type, "signal")) {
      if (g_str_equal (member_string (node, "from"), peer))
        return TRUE;
    }
  }
  return FALSE;
}

static guint
client_count (Client * c, const gchar * type, const gchar * peer)
{
  guint i, n = 0;

  for (i = 0; i < c->history->len; i++) {
    JsonNode *node = g_ptr_array_index (c->history, i);

    if (g_str_equal (member_string (node, "type"), type)
        && g_strcmp0 (member_string (node, "peer"), peer) == 0)
      n++;
  }
  return n;
}

static void
client_drop_pending (Client * c)
{
  g_queue_clear_full (&c->pending, (GDestroyNotify) json_node_unref);
}

static MeshTrackerStats
tracker_stats (void)
{
  MeshTrackerStats stats;

  mesh_tracker_server_get_stats (tracker, &stats);
  return stats;
}

static gboolean
keep_polling (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Waits for the tracker's counters to pass @condition: they change on the
 * tracker's thread, which tells nobody, so they are looked at every few
 * ms, until a deadline. */
static gboolean
stats_reach (gboolean (*condition) (const MeshTrackerStats * stats),
    guint timeout_ms)
{
  GSource *tick = g_timeout_source_new (5);
  MeshTrackerStats stats = tracker_stats ();

  g_source_set_callback (tick, keep_polling, NULL, NULL);
  g_source_attach (tick, context);
  MESH_TEST_ITERATE_UNTIL (context, (stats = tracker_stats (),
          condition (&stats)), timeout_ms);
  g_source_destroy (tick);
  g_source_unref (tick);
  return condition (&stats);
}

static gboolean
nothing_pending (const MeshTrackerStats * stats)
{
  return stats->pending == 0;
}

static gboolean
no_connection (const MeshTrackerStats * stats)
{
  return stats->connections == 0;
}

static gboolean
one_pending (const MeshTrackerStats * stats)
{
  return stats->pending == 1;
}

static gboolean
someone_disconnected (const MeshTrackerStats * stats)
{
  return stats->disconnects > 0;
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                     */

static gchar *
http_get (const gchar * path, guint * status)
{
  g_autofree gchar *url = g_strconcat (mesh_tracker_server_get_http_url
      (tracker), path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL,
      &error);

  fail_unless (body != NULL, "GET %s: %s", path, error ? error->message : "");
  *status = soup_message_get_status (msg);
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static void
expect_metric (const gchar * metrics, const gchar * line)
{
  g_autofree gchar *needle = g_strconcat ("\n", line, "\n", NULL);

  fail_unless (strstr (metrics, needle) != NULL, "no line \"%s\" in:\n%s",
      line, metrics);
}

typedef struct
{
  Client **clients;
  guint n;
  guint64 expected;
} JoinedCount;

static gboolean
all_peer_joined_arrived (gpointer data)
{
  JoinedCount *count = data;
  guint64 total = 0;
  guint i;

  for (i = 0; i < count->n; i++)
    total += count->clients[i]->peer_joined;
  return total == count->expected;
}

/* ------------------------------------------------------------------------ */
/* tests                                                                    */

GST_START_TEST (test_join_welcome)
{
  Client *a, *b;
  SoupWebsocketConnection *ws;
  g_autoptr (JsonNode) wa = NULL;
  g_autoptr (JsonNode) wb = NULL;
  g_auto (GStrv) ids = NULL;
  JsonObject *entry;

  start_default_tracker ();
  fail_unless (g_str_has_prefix (mesh_tracker_server_get_url (tracker),
          "ws://127.0.0.1:"));
  fail_unless (g_str_has_suffix (mesh_tracker_server_get_url (tracker),
          "/announce"));

  a = client_new ();
  fail_unless_equals_string (soup_websocket_connection_get_protocol (a->ws),
      MESH_TRACKER_SUBPROTOCOL);
  wa = client_join (a, "swarm-1", "peer-aaaa");
  fail_unless_equals_int (json_object_get_int_member (json_node_get_object
          (wa), "heartbeat"), MESH_TRACKER_DEFAULT_HEARTBEAT);
  ids = peer_list (wa);
  fail_unless_equals_int (g_strv_length (ids), 0);
  g_clear_pointer (&ids, g_strfreev);

  /* a client that offers no subprotocol is welcome too */
  ws = connect_ws (NULL, NULL);
  fail_unless (ws != NULL);
  b = client_wrap (ws);
  fail_unless (soup_websocket_connection_get_protocol (b->ws) == NULL);
  client_sendf (b, "{\"type\":\"join\",\"version\":1,\"swarm\":\"swarm-1\","
      "\"peer\":\"peer-bbbb\"}");
  wb = client_expect (b, "welcome");
  ids = peer_list (wb);
  fail_unless_equals_int (g_strv_length (ids), 1);
  fail_unless_equals_string (ids[0], "peer-aaaa");
  entry = json_array_get_object_element (json_object_get_array_member
      (json_node_get_object (wb), "peers"), 0);
  fail_unless (json_object_get_boolean_member (entry, "upload"));

  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);
  fail_unless_equals_int (mesh_tracker_server_get_swarms (tracker), 1);
}

GST_END_TEST;

GST_START_TEST (test_wrong_subprotocol)
{
  g_autoptr (GError) error = NULL;
  SoupWebsocketConnection *ws;

  start_default_tracker ();
  ws = connect_ws ("something-else", &error);
  fail_unless (ws == NULL);
  fail_unless (error != NULL);
}

GST_END_TEST;

GST_START_TEST (test_max_peers_cap)
{
  MeshTrackerConfig config = { 0, };
  gchar id[32];
  Client *last = NULL;
  g_autoptr (JsonNode) welcome = NULL;
  g_autoptr (JsonNode) peers = NULL;
  g_auto (GStrv) ids = NULL;
  guint i;

  config.max_peers = 3;
  start_tracker (&config);

  for (i = 0; i < 6; i++) {
    g_snprintf (id, sizeof (id), "peer-%04u", i);
    last = client_new ();
    g_clear_pointer (&welcome, json_node_unref);
    welcome = client_join (last, "capped", id);
    ids = peer_list (welcome);
    /* everybody before, up to 3 */
    fail_unless_equals_int (g_strv_length (ids), MIN (i, 3));
    fail_if (strv_has_duplicates (ids));
    fail_if (g_strv_contains ((const gchar * const *) ids, id));
    g_clear_pointer (&ids, g_strfreev);
  }

  client_drop_pending (last);
  client_send (last, "{\"type\":\"get-peers\"}");
  peers = client_expect (last, "peers");
  ids = peer_list (peers);
  fail_unless_equals_int (g_strv_length (ids), 3);
  fail_if (strv_has_duplicates (ids));
  fail_if (g_strv_contains ((const gchar * const *) ids, "peer-0005"));
  for (i = 0; ids[i]; i++)
    fail_unless (g_str_has_prefix (ids[i], "peer-000"));
}

GST_END_TEST;

GST_START_TEST (test_peer_joined)
{
  Client *a, *b;
  g_autoptr (JsonNode) joined = NULL;

  start_default_tracker ();
  a = joined_client ("s", "peer-aaaa");
  b = client_new ();
  client_sendf (b, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
      "\"peer\":\"peer-bbbb\",\"caps\":{\"upload\":false}}");
  g_clear_pointer (&joined, json_node_unref);
  joined = client_expect (b, "welcome");
  g_clear_pointer (&joined, json_node_unref);

  joined = client_expect (a, "peer-joined");
  fail_unless_equals_string (member_string (joined, "peer"), "peer-bbbb");
  fail_unless (!json_object_get_boolean_member (json_node_get_object (joined),
          "upload"));
  /* the newcomer is not told about itself */
  client_expect_quiet (b);
  client_expect_quiet (a);
}

GST_END_TEST;

GST_START_TEST (test_signal_relay)
{
  MeshTrackerConfig config = { 0, };
  Client *a, *b, *c;
  g_autoptr (JsonNode) signal = NULL;
  g_autoptr (JsonNode) expected = NULL;
  JsonNode *data;
  g_autofree gchar *big = NULL;

  config.max_signal_size = 200;
  start_tracker (&config);
  a = joined_client ("one", "peer-aaaa");
  b = joined_client ("one", "peer-bbbb");
  c = joined_client ("two", "peer-cccc");
  g_clear_pointer (&signal, json_node_unref);
  signal = client_expect (a, "peer-joined");
  g_clear_pointer (&signal, json_node_unref);

  client_send (a, "{\"type\":\"signal\",\"to\":\"peer-bbbb\",\"data\":"
      "{\"sdp\":\"v=0\\r\\n\",\"candidates\":[1,2,{\"x\":null}]}}");
  signal = client_expect (b, "signal");
  fail_unless_equals_string (member_string (signal, "from"), "peer-aaaa");
  fail_if (json_object_has_member (json_node_get_object (signal), "to"));
  data = json_object_get_member (json_node_get_object (signal), "data");
  expected = json_from_string ("{\"sdp\":\"v=0\\r\\n\",\"candidates\":"
      "[1,2,{\"x\":null}]}", NULL);
  fail_unless (json_node_equal (data, expected), "data was altered");
  g_clear_pointer (&signal, json_node_unref);

  /* and back: any JSON value is opaque data */
  client_send (b, "{\"type\":\"signal\",\"to\":\"peer-aaaa\",\"data\":42}");
  signal = client_expect (a, "signal");
  fail_unless_equals_string (member_string (signal, "from"), "peer-bbbb");
  fail_unless_equals_int (json_object_get_int_member (json_node_get_object
          (signal), "data"), 42);

  /* not across swarms, not to oneself, not to strangers: not fatal */
  client_send (a, "{\"type\":\"signal\",\"to\":\"peer-cccc\",\"data\":{}}");
  client_expect_error (a, "unknown-peer", FALSE);
  client_send (a, "{\"type\":\"signal\",\"to\":\"peer-aaaa\",\"data\":{}}");
  client_expect_error (a, "unknown-peer", FALSE);
  client_send (a, "{\"type\":\"signal\",\"to\":\"peer-zzzz\",\"data\":{}}");
  client_expect_error (a, "unknown-peer", FALSE);
  client_expect_quiet (c);

  /* oversized data is refused, the connection lives on */
  big = g_strnfill (300, 'x');
  client_sendf (a, "{\"type\":\"signal\",\"to\":\"peer-bbbb\",\"data\":"
      "\"%s\"}", big);
  client_expect_error (a, "bad-message", FALSE);
  client_expect_quiet (b);
  client_expect_quiet (a);
  fail_unless_equals_int (tracker_stats ().signals, 2);
}

GST_END_TEST;

GST_START_TEST (test_leave_and_close)
{
  Client *a, *b, *c;
  g_autoptr (JsonNode) msg = NULL;

  start_default_tracker ();
  a = joined_client ("s", "peer-aaaa");
  b = joined_client ("s", "peer-bbbb");
  c = joined_client ("s", "peer-cccc");
  client_drop_pending (a);
  client_drop_pending (b);

  client_send (b, "{\"type\":\"leave\"}");
  client_expect_close (b, SOUP_WEBSOCKET_CLOSE_NORMAL);
  msg = client_expect (a, "peer-left");
  fail_unless_equals_string (member_string (msg, "peer"), "peer-bbbb");
  g_clear_pointer (&msg, json_node_unref);
  msg = client_expect (c, "peer-left");
  fail_unless_equals_string (member_string (msg, "peer"), "peer-bbbb");
  g_clear_pointer (&msg, json_node_unref);

  /* a plain close is a departure too */
  soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  msg = client_expect (a, "peer-left");
  fail_unless_equals_string (member_string (msg, "peer"), "peer-cccc");
  client_expect_quiet (a);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 1);
}

GST_END_TEST;

/* With max-peers 1 only some members hear of a newcomer: its departure must
 * reach exactly those, and those it signalled. */
GST_START_TEST (test_peer_left_to_those_who_knew)
{
  MeshTrackerConfig config = { 0, };
  const gchar *ids[] = { "peer-aaaa", "peer-bbbb", "peer-cccc", "peer-dddd",
    "peer-eeee", "peer-ffff"
  };
  Client *peers[G_N_ELEMENTS (ids)];
  JoinedCount count = { peers, G_N_ELEMENTS (ids), 0 };
  Client *leaver;
  guint i, knowers = 0, strangers = 0;
  gboolean knew[G_N_ELEMENTS (ids)];
  MeshTrackerStats stats;
  g_autoptr (JsonNode) msg = NULL;

  config.max_peers = 1;
  start_tracker (&config);
  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    peers[i] = joined_client ("s", ids[i]);
  /* the last welcome is out, so the counter is final: wait for those */
  stats = tracker_stats ();
  fail_unless_equals_int (stats.peer_joined_sent, G_N_ELEMENTS (ids) - 1);
  count.expected = stats.peer_joined_sent;
  fail_unless (run_until (all_peer_joined_arrived, &count, WAIT_MS));
  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    client_drop_pending (peers[i]);

  leaver = peers[2];
  for (i = 0; i < G_N_ELEMENTS (ids); i++) {
    if (i != 2 && !client_heard_of (peers[i], ids[2]))
      strangers++;
  }
  /* the leaver signals a stranger, if that leaves another stranger: the
   * one signalled must hear of the departure too, the other not */
  for (i = 0; i < G_N_ELEMENTS (ids) && strangers >= 2; i++) {
    if (i != 2 && !client_heard_of (peers[i], ids[2])) {
      client_sendf (leaver, "{\"type\":\"signal\",\"to\":\"%s\",\"data\":1}",
          ids[i]);
      msg = client_expect (peers[i], "signal");
      g_clear_pointer (&msg, json_node_unref);
      break;
    }
  }

  for (i = 0; i < G_N_ELEMENTS (ids); i++) {
    knew[i] = i != 2 && client_heard_of (peers[i], ids[2]);
    knowers += knew[i];
  }
  fail_unless (knowers >= 1);

  client_send (leaver, "{\"type\":\"leave\"}");
  client_expect_close (leaver, SOUP_WEBSOCKET_CLOSE_NORMAL);
  for (i = 0; i < G_N_ELEMENTS (ids); i++) {
    if (!knew[i])
      continue;
    /* skip what came before (peer-joined of later peers, signals) */
    while (TRUE) {
      g_autoptr (JsonNode) next = NULL;

      fail_unless (run_until (client_has_message, peers[i], WAIT_MS));
      next = g_queue_pop_head (&peers[i]->pending);
      if (g_str_equal (member_string (next, "type"), "peer-left")) {
        fail_unless_equals_string (member_string (next, "peer"), ids[2]);
        break;
      }
    }
  }
  /* the tracker sent exactly that many, so the others got none */
  stats = tracker_stats ();
  fail_unless_equals_int (stats.peer_left_sent, knowers);
  for (i = 0; i < G_N_ELEMENTS (ids); i++) {
    if (i == 2)
      continue;
    fail_unless_equals_int (client_count (peers[i], "peer-left", ids[2]),
        knew[i] ? 1 : 0);
  }
}

GST_END_TEST;

GST_START_TEST (test_get_peers)
{
  Client *a, *b;
  g_autoptr (JsonNode) peers = NULL;
  g_auto (GStrv) ids = NULL;

  start_default_tracker ();
  a = joined_client ("s", "peer-aaaa");
  b = joined_client ("s", "peer-bbbb");
  joined_client ("other", "peer-cccc");
  client_drop_pending (a);

  client_send (a, "{\"type\":\"get-peers\"}");
  peers = client_expect (a, "peers");
  ids = peer_list (peers);
  fail_unless_equals_int (g_strv_length (ids), 1);
  fail_unless_equals_string (ids[0], "peer-bbbb");
  g_clear_pointer (&ids, g_strfreev);
  g_clear_pointer (&peers, json_node_unref);

  /* heartbeats are answered with nothing */
  client_send (b, "{\"type\":\"heartbeat\"}");
  client_send (b, "{\"type\":\"get-peers\"}");
  peers = client_expect (b, "peers");
  ids = peer_list (peers);
  fail_unless_equals_int (g_strv_length (ids), 1);
  fail_unless_equals_string (ids[0], "peer-aaaa");
}

GST_END_TEST;

static gboolean
send_heartbeat (gpointer data)
{
  Client *c = data;

  if (soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (c->ws, "{\"type\":\"heartbeat\"}");
  return G_SOURCE_CONTINUE;
}

GST_START_TEST (test_heartbeat_timeout)
{
  MeshTrackerConfig config = { 0, };
  Client *a, *b;
  g_autoptr (JsonNode) welcome = NULL;
  g_autoptr (JsonNode) left = NULL;
  GSource *beat;
  gint64 start;

  config.heartbeat = 1;
  start_tracker (&config);
  a = client_new ();
  welcome = client_join (a, "s", "peer-aaaa");
  fail_unless_equals_int (json_object_get_int_member (json_node_get_object
          (welcome), "heartbeat"), 1);
  b = joined_client ("s", "peer-bbbb");
  g_clear_pointer (&welcome, json_node_unref);
  welcome = client_expect (a, "peer-joined");

  /* a keeps beating, b goes silent */
  beat = g_timeout_source_new (400);
  g_source_set_callback (beat, send_heartbeat, a, NULL);
  g_source_attach (beat, context);
  start = g_get_monotonic_time ();

  left = client_expect_within (a, "peer-left", 6000);
  fail_unless_equals_string (member_string (left, "peer"), "peer-bbbb");
  /* 2.5 heartbeats, not much sooner */
  fail_unless (g_get_monotonic_time () - start >= 2 * G_USEC_PER_SEC);
  client_expect_error (b, "timeout", TRUE);
  client_expect_close (b, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  fail_unless (!a->closed);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 1);

  g_source_destroy (beat);
  g_source_unref (beat);
}

GST_END_TEST;

/* A join with an id in use is refused: the owner keeps its place. */
GST_START_TEST (test_duplicate_peer_refused)
{
  Client *a, *b, *a2, *a3;
  g_autoptr (JsonNode) welcome = NULL;
  g_autoptr (JsonNode) msg = NULL;

  start_default_tracker ();
  a = joined_client ("s", "peer-aaaa");
  b = joined_client ("s", "peer-bbbb");
  client_drop_pending (a);
  client_drop_pending (b);

  a2 = client_new ();
  client_send (a2, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
      "\"peer\":\"peer-aaaa\"}");
  client_expect_error (a2, "peer-id-taken", TRUE);
  client_expect_close (a2, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);

  /* nobody heard of it; the owner is still reachable under its id */
  client_expect_quiet (a);
  client_expect_quiet (b);
  fail_if (a->closed);
  client_send (b, "{\"type\":\"signal\",\"to\":\"peer-aaaa\",\"data\":\"hi\"}");
  msg = client_expect (a, "signal");
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);

  /* once the owner is gone, the id is free (in another swarm, always) */
  joined_client ("t", "peer-aaaa");
  client_send (a, "{\"type\":\"leave\"}");
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_NORMAL);
  a3 = client_new ();
  welcome = client_join (a3, "s", "peer-aaaa");
}

GST_END_TEST;

GST_START_TEST (test_version_mismatch)
{
  Client *a;

  start_default_tracker ();
  a = client_new ();
  client_send (a, "{\"type\":\"join\",\"version\":2,\"swarm\":\"s\","
      "\"peer\":\"peer-aaaa\"}");
  client_expect_error (a, "unsupported-version", TRUE);
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 0);
}

GST_END_TEST;

GST_START_TEST (test_not_joined)
{
  Client *a;

  start_default_tracker ();
  a = client_new ();
  client_send (a, "{\"type\":\"get-peers\"}");
  client_expect_error (a, "not-joined", TRUE);
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
}

GST_END_TEST;

GST_START_TEST (test_bad_messages)
{
  MeshTrackerConfig config = { 0, };
  const gchar *bad[] = {
    "{not json",
    "[1,2,3]",
    "\"just a string\"",
    "{\"type\":5}",
    "{\"no\":\"type\"}",
    "{\"type\":\"join\",\"version\":\"1\",\"swarm\":\"s\","
        "\"peer\":\"peer-aaaa\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"\",\"peer\":\"peer-aaaa\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":7,\"peer\":\"peer-aaaa\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"short\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"bad peer!\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"peer-aaaa\","
        "\"caps\":{\"upload\":\"yes\"}}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"peer-aaaa\","
        "\"caps\":[]}",
  };
  const gchar *bad_joined[] = {
    "{\"type\":\"signal\",\"to\":5,\"data\":{}}",
    "{\"type\":\"signal\",\"to\":\"peer-bbbb\"}",
    "{\"type\":\"no-such-type\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"peer-aaaa\"}",
  };
  g_autofree gchar *long_swarm = g_strnfill (257, 's');
  g_autoptr (JsonNode) welcome = NULL;
  Client *a;
  guint i;

  config.max_bad_messages = 20;
  start_tracker (&config);
  a = client_new ();
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    client_send (a, bad[i]);
    client_expect_error (a, "bad-message", FALSE);
  }
  client_sendf (a, "{\"type\":\"join\",\"version\":1,\"swarm\":\"%s\","
      "\"peer\":\"peer-aaaa\"}", long_swarm);
  client_expect_error (a, "bad-message", FALSE);
  /* binary frames are not part of the protocol */
  soup_websocket_connection_send_binary (a->ws, "\x01\x02", 2);
  client_expect_error (a, "bad-message", FALSE);

  /* still alive: a good join works */
  welcome = client_join (a, "s", "peer-aaaa");
  joined_client ("s", "peer-bbbb");
  for (i = 0; i < G_N_ELEMENTS (bad_joined); i++) {
    client_drop_pending (a);
    client_send (a, bad_joined[i]);
    client_expect_error (a, "bad-message", FALSE);
  }
  client_expect_quiet (a);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);
}

GST_END_TEST;

/* Nesting that would run json-glib's recursive parser out of stack is a
 * bad message like any other, and one JSON value per message. */
GST_START_TEST (test_hostile_json)
{
  GString *deep = g_string_new ("{\"type\":\"signal\",\"to\":\"peer-bbbb\","
      "\"data\":");
  Client *a;
  guint i;

  start_default_tracker ();
  a = joined_client ("s", "peer-aaaa");
  joined_client ("s", "peer-bbbb");
  client_drop_pending (a);
  for (i = 0; i < 30000; i++)
    g_string_append_c (deep, '[');
  for (i = 0; i < 30000; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  client_send (a, deep->str);
  g_string_free (deep, TRUE);
  client_expect_error (a, "bad-message", FALSE);

  client_send (a, "{\"type\":\"heartbeat\"}{\"type\":\"leave\"}");
  client_expect_error (a, "bad-message", FALSE);
  client_expect_quiet (a);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);
}

GST_END_TEST;

GST_START_TEST (test_bad_messages_fatal)
{
  MeshTrackerConfig config = { 0, };
  Client *a;
  guint i;

  config.max_bad_messages = 3;
  start_tracker (&config);
  a = client_new ();
  for (i = 0; i < 3; i++) {
    client_send (a, "{oops");
    client_expect_error (a, "bad-message", FALSE);
  }
  client_send (a, "{oops");
  client_expect_error (a, "bad-message", TRUE);
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
}

GST_END_TEST;

GST_START_TEST (test_oversize_message)
{
  MeshTrackerConfig config = { 0, };
  g_autofree gchar *pad = NULL;
  Client *a;

  config.max_message_size = 1024;
  start_tracker (&config);
  a = joined_client ("s", "peer-aaaa");

  /* up to the limit is fine (unknown members are ignored) */
  pad = g_strnfill (1024 - strlen ("{\"type\":\"heartbeat\",\"pad\":\"\"}"),
      'p');
  client_sendf (a, "{\"type\":\"heartbeat\",\"pad\":\"%s\"}", pad);
  client_expect_quiet (a);

  g_free (pad);
  pad = g_strnfill (1500, 'p');
  client_sendf (a, "{\"type\":\"heartbeat\",\"pad\":\"%s\"}", pad);
  client_expect_error (a, "message-too-large", TRUE);
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 0);
}

GST_END_TEST;

/* A masked client frame (RFC 6455 5.2): @opcode (1 text, 0 continuation,
 * 9 ping), FIN set unless @more follow. */
static GBytes *
raw_frame (guint8 opcode, gboolean more, const void *payload, gsize size)
{
  const guint8 mask[4] = { 0x12, 0x34, 0x56, 0x78 };
  const guint8 *bytes = payload;
  GByteArray *frame = g_byte_array_sized_new (size + 8);
  guint8 header[4];
  gsize i;

  header[0] = (more ? 0 : 0x80) | opcode;
  if (size < 126) {
    header[1] = 0x80 | size;
    g_byte_array_append (frame, header, 2);
  } else if (size < 65536) {
    header[1] = 0x80 | 126;
    header[2] = size >> 8;
    header[3] = size & 0xff;
    g_byte_array_append (frame, header, 4);
  } else {
    guint8 length[8] = { 0, 0, 0, 0, size >> 24, size >> 16, size >> 8,
      size
    };

    header[1] = 0x80 | 127;
    g_byte_array_append (frame, header, 2);
    g_byte_array_append (frame, length, 8);
  }
  g_byte_array_append (frame, mask, 4);
  for (i = 0; i < size; i++) {
    guint8 byte = bytes[i] ^ mask[i % 4];

    g_byte_array_append (frame, &byte, 1);
  }
  return g_byte_array_free_to_bytes (frame);
}

static GBytes *
client_frame (const gchar * text)
{
  return raw_frame (1, FALSE, text, strlen (text));
}

/* A plain TCP connection to the tracker, blocking (the tracker has a thread
 * of its own), every wait bounded by a 10 s timeout. */
static GSocketConnection *
raw_connect (void)
{
  g_autoptr (GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  GSocketConnection *conn;

  conn = g_socket_client_connect_to_host (socket_client, "127.0.0.1",
      mesh_tracker_server_get_port (tracker), NULL, &error);
  fail_unless (conn != NULL, "connect: %s", error ? error->message : "");
  g_socket_set_timeout (g_socket_connection_get_socket (conn), 10);
  return conn;
}

static void
raw_write (GSocketConnection * conn, gconstpointer data, gsize size)
{
  g_autoptr (GError) error = NULL;

  fail_unless (g_output_stream_write_all (g_io_stream_get_output_stream
          (G_IO_STREAM (conn)), data, size, NULL, NULL, &error), "write: %s",
      error ? error->message : "");
}

/* Like raw_write(), FALSE once the tracker has closed the connection. */
static gboolean
raw_try_write (GSocketConnection * conn, GBytes * bytes)
{
  return g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM
          (conn)), g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
      NULL, NULL, NULL);
}

static void
raw_send (GSocketConnection * conn, const gchar * text)
{
  g_autoptr (GBytes) frame = client_frame (text);

  raw_write (conn, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
}

/* The WebSocket handshake with @extra_headers ("" or lines ending in
 * CRLF); returns the response headers, read byte by byte: not one byte
 * more. */
static gchar *
raw_handshake (GSocketConnection * conn, const gchar * extra_headers)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *request = NULL;
  GString *response = g_string_new (NULL);
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));

  request = g_strdup_printf ("GET /announce HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: " MESH_TRACKER_SUBPROTOCOL "\r\n%s\r\n",
      extra_headers);
  raw_write (conn, request, strlen (request));
  while (!g_str_has_suffix (response->str, "\r\n\r\n")) {
    gchar c;

    fail_unless (g_input_stream_read (in, &c, 1, NULL, &error) == 1,
        "handshake: %s", error ? error->message : "closed");
    g_string_append_c (response, c);
  }
  return g_string_free (response, FALSE);
}

/* Reads (and drops) what comes until the tracker closes @conn; FALSE if it
 * did not within the socket's timeout. */
static gboolean
raw_wait_closed (GSocketConnection * conn)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  g_autoptr (GError) error = NULL;
  gchar buffer[65536];
  gssize n;

  while ((n = g_input_stream_read (in, buffer, sizeof (buffer), NULL,
              &error)) > 0);
  /* a reset is a close too */
  return n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

/* A WebSocket client that joins @swarm as @peer and then never reads. */
static GSocketConnection *
deaf_client_new (const gchar * swarm, const gchar * peer)
{
  GSocketConnection *conn = raw_connect ();
  g_autofree gchar *response = raw_handshake (conn, "");
  g_autofree gchar *join = NULL;

  fail_unless (g_str_has_prefix (response, "HTTP/1.1 101"), "%s", response);
  join = g_strdup_printf ("{\"type\":\"join\",\"version\":1,"
      "\"swarm\":\"%s\",\"peer\":\"%s\"}", swarm, peer);
  raw_send (conn, join);
  return conn;
}

/* Whether @c got "peer-left" for @peer (the other messages are dropped);
 * TRUE also when "peers" arrived, to end a round trip. */
static gboolean
take_until_peers (Client * c, const gchar * peer, gboolean * left)
{
  JsonNode *node;
  gboolean answered = FALSE;

  while ((node = g_queue_pop_head (&c->pending))) {
    const gchar *type = member_string (node, "type");

    if (g_str_equal (type, "peer-left")
        && g_strcmp0 (member_string (node, "peer"), peer) == 0)
      *left = TRUE;
    answered |= g_str_equal (type, "peers");
    json_node_unref (node);
  }
  return answered;
}

typedef struct
{
  Client *client;
  gboolean answered;
  gboolean left;
} RoundTrip;

static gboolean
round_trip_done (gpointer data)
{
  RoundTrip *trip = data;

  trip->answered |= take_until_peers (trip->client, "peer-deaf01", &trip->left);
  return trip->answered;
}

typedef struct
{
  Client *client;
  guint expected;
} SignalCount;

static gboolean
received_signals (gpointer data)
{
  SignalCount *count = data;

  return client_count (count->client, "signal", NULL) >= count->expected;
}

/* libsoup queues without a bound what a client does not read: the tracker
 * cuts such a client off once it holds max-backlog bytes for it, and only
 * that client. */
GST_START_TEST (test_client_that_does_not_read)
{
  MeshTrackerConfig config = { 0, };
  g_autofree gchar *data = g_strnfill (15000, 'd');
  g_autofree gchar *to_deaf = NULL;
  g_autofree gchar *to_listener = NULL;
  g_autofree gchar *metrics = NULL;
  g_autoptr (GSocketConnection) deaf = NULL;
  g_autoptr (JsonNode) joined = NULL;
  Client *flooder, *listener;
  RoundTrip trip = { 0, };
  SignalCount count = { 0, };
  guint64 sent = 0;
  guint status, i;

  config.rate = 1000000;
  config.burst = 1000000;
  config.max_backlog = 256 * 1024;
  start_tracker (&config);
  flooder = joined_client ("s", "peer-flood1");
  listener = joined_client ("s", "peer-listen");
  deaf = deaf_client_new ("s", "peer-deaf01");
  joined = client_expect (flooder, "peer-joined");
  g_clear_pointer (&joined, json_node_unref);
  joined = client_expect (flooder, "peer-joined");
  fail_unless_equals_string (member_string (joined, "peer"), "peer-deaf01");
  client_drop_pending (listener);

  to_deaf = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"peer-deaf01\","
      "\"data\":\"%s\"}", data);
  to_listener = g_strdup_printf ("{\"type\":\"signal\","
      "\"to\":\"peer-listen\",\"data\":\"%s\"}", data);
  trip.client = flooder;
  /* far more than the kernel buffers on both ends could hold */
  while (!trip.left && sent < 64 * 1024 * 1024) {
    for (i = 0; i < 16; i++) {
      client_send (flooder, to_deaf);
      sent += strlen (data);
    }
    client_send (flooder, to_listener);
    count.expected++;
    /* the tracker has handled the batch once it answers this */
    client_send (flooder, "{\"type\":\"get-peers\"}");
    trip.answered = FALSE;
    fail_unless (run_until (round_trip_done, &trip, WAIT_MS));
  }
  fail_unless (trip.left, "a client that reads nothing was sent %"
      G_GUINT64_FORMAT " bytes and is still connected", sent);
  GST_INFO ("cut off after %" G_GUINT64_FORMAT " bytes", sent);

  /* the reader got everything and stays */
  count.client = listener;
  fail_unless (run_until (received_signals, &count, WAIT_MS));
  fail_unless_equals_int (client_count (listener, "signal", NULL),
      count.expected);
  fail_if (listener->closed || flooder->closed);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);
  metrics = http_get ("/metrics", &status);
  expect_metric (metrics,
      "mesh_tracker_disconnects_total{reason=\"too-slow\"} 1");

  /* and its connection was closed: what it finally reads ends */
  fail_unless (raw_wait_closed (deaf));
}

GST_END_TEST;

/* Pongs are queued for a client too: one that pings and never reads is
 * cut off at max-backlog like one that is sent signals. */
GST_START_TEST (test_pings_without_reading)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GSocketConnection) deaf = NULL;
  g_autoptr (GBytes) ping = NULL;
  g_autoptr (GBytes) heartbeat = client_frame ("{\"type\":\"heartbeat\"}");
  g_autofree gchar *metrics = NULL;
  GByteArray *pings = g_byte_array_new ();
  gchar payload[125];
  guint64 sent = 0;
  gint64 deadline;
  guint status, i;

  config.max_backlog = 64 * 1024;
  config.rate = 1000000;
  config.burst = 1000000;
  start_tracker (&config);
  deaf = deaf_client_new ("s", "peer-deaf01");
  /* a write that blocks means the tracker stopped reading: a failure */
  g_socket_set_timeout (g_socket_connection_get_socket (deaf), 2);
  memset (payload, 'p', sizeof (payload));
  ping = raw_frame (9, FALSE, payload, sizeof (payload));
  /* under the bound on what comes without a message, with a heartbeat */
  for (i = 0; i < 256; i++)
    g_byte_array_append (pings, g_bytes_get_data (ping, NULL),
        g_bytes_get_size (ping));
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline
      && tracker_stats ().disconnects == 0) {
    g_autoptr (GBytes) batch = g_bytes_new (pings->data, pings->len);

    if (!raw_try_write (deaf, batch) || !raw_try_write (deaf, heartbeat))
      break;
    sent += pings->len;
  }
  g_byte_array_unref (pings);
  fail_unless (stats_reach (someone_disconnected, WAIT_MS),
      "a client that pings and never reads sent %" G_GUINT64_FORMAT
      " bytes of pings and is still connected", sent);
  metrics = http_get ("/metrics", &status);
  expect_metric (metrics,
      "mesh_tracker_disconnects_total{reason=\"too-slow\"} 1");
}

GST_END_TEST;

/* libsoup gathers a message's fragments without a bound: a message that
 * never ends is cut off, as are pings that never stop. */
GST_START_TEST (test_unfinished_message)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GSocketConnection) endless = NULL;
  g_autoptr (GSocketConnection) pinger = NULL;
  g_autoptr (GBytes) first = NULL;
  g_autoptr (GBytes) more = NULL;
  g_autoptr (GBytes) ping = NULL;
  /* frames under libsoup's own bound on one frame (2 x 4096) */
  g_autofree gchar *filler = g_strnfill (4000, 'f');
  g_autofree gchar *metrics = NULL;
  guint64 sent = 0;
  gint64 deadline;
  guint status;

  config.max_message_size = 4096;
  start_tracker (&config);
  endless = deaf_client_new ("s", "peer-endless");
  g_socket_set_timeout (g_socket_connection_get_socket (endless), 2);
  first = raw_frame (1, TRUE, "{\"type\":\"heartbeat\",\"pad\":\"", 27);
  more = raw_frame (0, TRUE, filler, strlen (filler));
  fail_unless (raw_try_write (endless, first));
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline && raw_try_write (endless, more)
      && tracker_stats ().disconnects == 0)
    sent += strlen (filler);
  fail_unless (stats_reach (someone_disconnected, WAIT_MS),
      "a message of %" G_GUINT64_FORMAT " bytes is still coming", sent);

  pinger = deaf_client_new ("s", "peer-pinger");
  g_socket_set_timeout (g_socket_connection_get_socket (pinger), 2);
  ping = raw_frame (9, FALSE, filler, 125);
  sent = 0;
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline && raw_try_write (pinger, ping)
      && tracker_stats ().disconnects == 1)
    sent += 125;
  fail_unless (raw_wait_closed (pinger));
  metrics = http_get ("/metrics", &status);
  expect_metric (metrics,
      "mesh_tracker_disconnects_total{reason=\"flooding\"} 2");
}

GST_END_TEST;

/* A client that does not answer the tracker's close frame is let go after
 * 3 s, before libsoup's own 5 s timer (which it never frees once fired). */
GST_START_TEST (test_close_not_answered)
{
  g_autoptr (GSocketConnection) mute = NULL;
  g_autoptr (GBytes) garbage = client_frame ("{oops");
  gint64 start, waited;
  guint i;

  start_default_tracker ();
  mute = deaf_client_new ("s", "peer-mute01");
  start = g_get_monotonic_time ();
  /* the 11th is fatal: error, then a close frame it never answers */
  for (i = 0; i <= MESH_TRACKER_DEFAULT_MAX_BAD_MESSAGES; i++)
    fail_unless (raw_try_write (mute, garbage));
  fail_unless (raw_wait_closed (mute));
  waited = g_get_monotonic_time () - start;
  fail_unless (waited >= 2 * G_USEC_PER_SEC && waited < 4500 * 1000,
      "closed after %" G_GINT64_FORMAT " ms", waited / 1000);
}

GST_END_TEST;

/* One frame from the tracker (unmasked, RFC 6455 5.2): its payload, and
 * its first byte (FIN and opcode) in @head. */
static GBytes *
raw_read_frame (GSocketConnection * conn, guint8 * head)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  g_autoptr (GError) error = NULL;
  guint8 header[10];
  guint64 length;
  gsize extended = 0, got, i;
  guint8 *payload;

  fail_unless (g_input_stream_read_all (in, header, 2, &got, NULL, &error)
      && got == 2, "frame header: %s", error ? error->message : "closed");
  fail_if (header[1] & 0x80, "a server's frame is not masked");
  length = header[1] & 0x7f;
  if (length >= 126)
    extended = length == 126 ? 2 : 8;
  fail_unless (g_input_stream_read_all (in, header + 2, extended, &got, NULL,
          NULL) && got == extended);
  for (i = 0, length = extended ? 0 : length; i < extended; i++)
    length = length << 8 | header[2 + i];
  fail_unless (length < 1024 * 1024);
  payload = g_malloc (length + 1);
  fail_unless (g_input_stream_read_all (in, payload, length, &got, NULL, NULL)
      && got == length);
  payload[length] = 0;
  *head = header[0];
  /* a NUL after the payload, not part of it: text reads as a string */
  return g_bytes_new_with_free_func (payload, length, g_free, payload);
}

/* The next frame, a text message, as JSON. */
static JsonNode *
raw_read_text (GSocketConnection * conn)
{
  g_autoptr (GBytes) payload = NULL;
  guint8 head;

  payload = raw_read_frame (conn, &head);
  fail_unless_equals_int (head, 0x81);
  return json_from_string (g_bytes_get_data (payload, NULL), NULL);
}

/* The next frame is a close with @code; then the tracker closes. */
static void
raw_expect_close (GSocketConnection * conn, gushort code)
{
  g_autoptr (GBytes) payload = NULL;
  const guint8 *data;
  gsize size;
  guint8 head;

  payload = raw_read_frame (conn, &head);
  fail_unless_equals_int (head, 0x88);
  data = g_bytes_get_data (payload, &size);
  fail_unless (size >= 2);
  fail_unless_equals_int (data[0] << 8 | data[1], code);
  fail_unless (raw_wait_closed (conn));
}

/* A client that has done its handshake and nothing else. */
static GSocketConnection *
raw_client_new (void)
{
  GSocketConnection *conn = raw_connect ();
  g_autofree gchar *response = raw_handshake (conn, "");

  fail_unless (g_str_has_prefix (response, "HTTP/1.1 101"), "%s", response);
  return conn;
}

static void
raw_write_bytes (GSocketConnection * conn, GBytes * bytes)
{
  raw_write (conn, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* The tracker's own WebSocket (mesh-tracker-conn.c): pings answered, a
 * message in fragments with a control frame between, the close handshake,
 * and a close with the RFC's code for each kind of broken frame. */
GST_START_TEST (test_websocket_frames)
{
  static const gchar join[] = "{\"type\":\"join\",\"version\":1,"
      "\"swarm\":\"s\",\"peer\":\"peer-frames\"}";
  static const guint8 unmasked[] = { 0x81, 0x02, '{', '}' };
  static const guint8 rsv_bit[] = { 0xC1, 0x80, 0, 0, 0, 0 };
  static const guint8 opcode_3[] = { 0x83, 0x80, 0, 0, 0, 0 };
  static const guint8 long_ping[] = { 0x89, 0xFE, 0, 200, 0, 0, 0, 0 };
  static const guint8 bad_utf8[] = { 0xC3, 0x28 };
  /* text, 64-bit length 200,000, mask */
  static const guint8 over_bound[] = { 0x81, 0xFF, 0, 0, 0, 0, 0, 0x03, 0x0D,
    0x40, 1, 2, 3, 4
  };
  g_autofree gchar *metrics = NULL;
  guint status;
  const guint8 *bad_frames[] = { unmasked, rsv_bit, opcode_3, long_ping };
  const gsize bad_sizes[] = { sizeof (unmasked), sizeof (rsv_bit),
    sizeof (opcode_3), sizeof (long_ping)
  };
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (JsonNode) welcome = NULL;
  guint8 head;
  guint i;

  start_default_tracker ();
  conn = raw_client_new ();

  frame = raw_frame (9, FALSE, "p1", 2);
  raw_write_bytes (conn, frame);
  payload = raw_read_frame (conn, &head);
  fail_unless_equals_int (head, 0x8A);
  fail_unless (g_bytes_get_size (payload) == 2
      && memcmp (g_bytes_get_data (payload, NULL), "p1", 2) == 0);

  /* the join in three fragments, a ping between the first two */
  g_clear_pointer (&frame, g_bytes_unref);
  frame = raw_frame (1, TRUE, join, 10);
  raw_write_bytes (conn, frame);
  g_clear_pointer (&frame, g_bytes_unref);
  frame = raw_frame (9, FALSE, "", 0);
  raw_write_bytes (conn, frame);
  g_clear_pointer (&frame, g_bytes_unref);
  frame = raw_frame (0, TRUE, join + 10, 20);
  raw_write_bytes (conn, frame);
  g_clear_pointer (&frame, g_bytes_unref);
  frame = raw_frame (0, FALSE, join + 30, strlen (join) - 30);
  raw_write_bytes (conn, frame);
  g_clear_pointer (&payload, g_bytes_unref);
  payload = raw_read_frame (conn, &head);
  fail_unless_equals_int (head, 0x8A);
  g_clear_pointer (&payload, g_bytes_unref);
  payload = raw_read_frame (conn, &head);
  fail_unless_equals_int (head, 0x81);
  welcome = json_from_string (g_bytes_get_data (payload, NULL), NULL);
  fail_unless_equals_string (member_string (welcome, "type"), "welcome");
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 1);

  /* U+0000 is UTF-8 (not JSON, though): a bad message, not a bad frame */
  g_clear_pointer (&frame, g_bytes_unref);
  frame = raw_frame (1, FALSE, "{}\0", 3);
  raw_write_bytes (conn, frame);
  g_clear_pointer (&payload, g_bytes_unref);
  payload = raw_read_frame (conn, &head);
  fail_unless_equals_int (head, 0x81);
  g_clear_pointer (&welcome, json_node_unref);
  welcome = json_from_string (g_bytes_get_data (payload, NULL), NULL);
  fail_unless_equals_string (member_string (welcome, "code"), "bad-message");

  /* the client closes: the tracker answers with the same code, and goes */
  g_clear_pointer (&frame, g_bytes_unref);
  frame = raw_frame (8, FALSE, "\x0f\xa0" "bye", 5);
  raw_write_bytes (conn, frame);
  raw_expect_close (conn, 4000);
  g_clear_object (&conn);

  for (i = 0; i < G_N_ELEMENTS (bad_frames); i++) {
    conn = raw_client_new ();
    raw_write (conn, bad_frames[i], bad_sizes[i]);
    raw_expect_close (conn, 1002);
    g_clear_object (&conn);
  }
  /* a new message before the last one ended */
  conn = raw_client_new ();
  g_clear_pointer (&frame, g_bytes_unref);
  frame = raw_frame (1, TRUE, "{", 1);
  raw_write_bytes (conn, frame);
  raw_write_bytes (conn, frame);
  raw_expect_close (conn, 1002);
  g_clear_object (&conn);

  conn = raw_client_new ();
  g_clear_pointer (&frame, g_bytes_unref);
  frame = raw_frame (1, FALSE, bad_utf8, sizeof (bad_utf8));
  raw_write_bytes (conn, frame);
  raw_expect_close (conn, 1007);
  g_clear_object (&conn);

  /* a close's reason is UTF-8 too */
  conn = raw_client_new ();
  g_clear_pointer (&frame, g_bytes_unref);
  frame = raw_frame (8, FALSE, "\x03\xe8" "\xc3\x28", 4);
  raw_write_bytes (conn, frame);
  raw_expect_close (conn, 1007);
  g_clear_object (&conn);

  /* a frame announced over the bound on one (twice the 64 KiB message
   * size) is refused from its header: nothing of it is held */
  conn = raw_client_new ();
  raw_write (conn, over_bound, sizeof (over_bound));
  raw_expect_close (conn, 1009);
  /* counted once the tracker has let it go */
  fail_unless (stats_reach (no_connection, WAIT_MS));
  metrics = http_get ("/metrics", &status);
  expect_metric (metrics,
      "mesh_tracker_disconnects_total{reason=\"flooding\"} 1");
}

GST_END_TEST;

/* A frame larger than a read (64 KiB), under the bound on frames (twice
 * the message size), that comes in pieces is put together: here 100 KB,
 * over the 64 KiB message size, so the answer is the tracker's
 * message-too-large, not a close for the frame. */
GST_START_TEST (test_large_frame_in_pieces)
{
  g_autofree gchar *pad = g_strnfill (100000, 'p');
  g_autofree gchar *text = g_strdup_printf ("{\"type\":\"heartbeat\","
      "\"pad\":\"%s\"}", pad);
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (JsonNode) answer = NULL;
  const guint8 *data;
  gsize size, done;

  start_default_tracker ();
  conn = raw_client_new ();
  raw_send (conn, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
      "\"peer\":\"peer-large1\"}");
  answer = raw_read_text (conn);
  fail_unless_equals_string (member_string (answer, "type"), "welcome");

  frame = raw_frame (1, FALSE, text, strlen (text));
  data = g_bytes_get_data (frame, &size);
  for (done = 0; done < size; done += 997)
    raw_write (conn, data + done, MIN (997, size - done));
  g_clear_pointer (&answer, json_node_unref);
  answer = raw_read_text (conn);
  fail_unless_equals_string (member_string (answer, "type"), "error");
  fail_unless_equals_string (member_string (answer, "code"),
      "message-too-large");
}

GST_END_TEST;

/* The bound on bytes without a complete message counts from the end of
 * the last one: a burst of small messages that comes in one read, larger
 * than the bound, is no flood. */
GST_START_TEST (test_burst_of_messages)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GBytes) heartbeat = client_frame ("{\"type\":\"heartbeat\"}");
  g_autoptr (JsonNode) answer = NULL;
  GByteArray *burst = g_byte_array_new ();
  guint i;

  config.max_message_size = 1024;
  config.rate = 1000000;
  config.burst = 1000000;
  start_tracker (&config);
  conn = raw_client_new ();
  raw_send (conn, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
      "\"peer\":\"peer-burst1\"}");
  answer = raw_read_text (conn);
  fail_unless_equals_string (member_string (answer, "type"), "welcome");

  /* 26 KiB of heartbeats, over the 8 KiB bound (2 x 4 KiB + 4 KiB) */
  for (i = 0; i < 1000; i++)
    g_byte_array_append (burst, g_bytes_get_data (heartbeat, NULL),
        g_bytes_get_size (heartbeat));
  raw_write (conn, burst->data, burst->len);
  g_byte_array_unref (burst);
  raw_send (conn, "{\"type\":\"get-peers\"}");
  g_clear_pointer (&answer, json_node_unref);
  answer = raw_read_text (conn);
  fail_unless_equals_string (member_string (answer, "type"), "peers");
  fail_unless_equals_int (tracker_stats ().disconnects, 0);
}

GST_END_TEST;

/* permessage-deflate would cost some 100 KiB per connection: not offered. */
GST_START_TEST (test_no_compression)
{
  g_autoptr (GSocketConnection) conn = NULL;
  g_autofree gchar *response = NULL;
  g_autofree gchar *lower = NULL;

  start_default_tracker ();
  conn = raw_connect ();
  response = raw_handshake (conn, "Sec-WebSocket-Extensions: "
      "permessage-deflate; client_max_window_bits\r\n");
  fail_unless (g_str_has_prefix (response, "HTTP/1.1 101"), "%s", response);
  lower = g_ascii_strdown (response, -1);
  fail_if (strstr (lower, "extensions") != NULL, "%s", response);
}

GST_END_TEST;

typedef struct
{
  Client **clients;
  guint n;
} ClientSet;

static gboolean
all_have_messages (gpointer data)
{
  ClientSet *set = data;
  guint i;

  for (i = 0; i < set->n; i++) {
    if (g_queue_is_empty (&set->clients[i]->pending))
      return FALSE;
  }
  return TRUE;
}

static gboolean
all_closed (gpointer data)
{
  ClientSet *set = data;
  guint i;

  for (i = 0; i < set->n; i++) {
    if (!set->clients[i]->closed)
      return FALSE;
  }
  return TRUE;
}

/* The flood of bench/tracker-flood.py, small: joined members signalling
 * a receiver that never reads, requests that never end, malformed and
 * oversized messages, all at once. Each is dealt with as alone, and the
 * tracker still serves a fresh join. */
GST_START_TEST (test_small_flood)
{
  enum
  { MEMBERS = 30, SENDERS = 10, HALF_OPEN = 20, HOSTILE = 5 };
  MeshTrackerConfig config = { 0, };
  Client *members[MEMBERS];
  Client *hostile[HOSTILE];
  ClientSet senders = { members, SENDERS };
  ClientSet hostiles = { hostile, HOSTILE };
  GSocketConnection *half_open[HALF_OPEN];
  g_autoptr (GSocketConnection) deaf = NULL;
  g_autofree gchar *data = g_strnfill (15000, 'd');
  g_autofree gchar *to_deaf = NULL;
  g_autofree gchar *oversized = g_strnfill (5000, 'o');
  g_autoptr (JsonNode) welcome = NULL;
  g_auto (GStrv) ids = NULL;
  MeshTrackerStats stats;
  gchar id[32];
  guint i, j, round;

  config.header_timeout = 1;
  config.max_backlog = 64 * 1024;
  config.max_message_size = 4096 * 8;
  /* the receiver's kernel buffers take megabytes first: more than a few
   * seconds of the default rate */
  config.rate = 1000;
  config.burst = 1000;
  start_tracker (&config);
  deaf = deaf_client_new ("flood", "peer-deaf01");
  for (i = 0; i < MEMBERS; i++) {
    g_snprintf (id, sizeof (id), "member-%04u", i);
    members[i] = joined_client ("flood", id);
  }
  for (i = 0; i < HALF_OPEN; i++) {
    half_open[i] = raw_connect ();
    raw_write (half_open[i], "GET /announce HTTP/1.1\r\nHost: x\r\n", 33);
  }
  for (i = 0; i < HOSTILE; i++) {
    g_snprintf (id, sizeof (id), "hostile-%04u", i);
    hostile[i] = joined_client ("flood", id);
  }

  /* the senders, until the receiver is cut off */
  to_deaf = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"peer-deaf01\","
      "\"data\":\"%s\"}", data);
  for (round = 0; round < 100 && tracker_stats ().disconnects == 0; round++) {
    for (i = 0; i < SENDERS; i++) {
      client_drop_pending (members[i]);
      for (j = 0; j < 8; j++)
        client_send (members[i], to_deaf);
      client_send (members[i], "{\"type\":\"get-peers\"}");
    }
    fail_unless (run_until (all_have_messages, &senders, WAIT_MS));
  }
  /* the hostile ones, meanwhile */
  for (i = 0; i < HOSTILE; i++) {
    client_drop_pending (hostile[i]);
    client_send (hostile[i], "{oops");
    soup_websocket_connection_send_binary (hostile[i]->ws, "\x01\x02", 2);
    client_send (hostile[i], "{\"type\":\"no-such-type\"}");
    client_sendf (hostile[i], "{\"type\":\"heartbeat\",\"pad\":\"%s%s%s"
        "%s%s%s%s\"}", oversized, oversized, oversized, oversized, oversized,
        oversized, oversized);
  }
  fail_unless (run_until (all_closed, &hostiles, WAIT_MS));
  for (i = 0; i < HALF_OPEN; i++) {
    fail_unless (raw_wait_closed (half_open[i]));
    g_object_unref (half_open[i]);
  }
  fail_unless (raw_wait_closed (deaf));
  fail_unless (stats_reach (nothing_pending, WAIT_MS));

  stats = tracker_stats ();
  fail_unless_equals_int (stats.header_timeouts, HALF_OPEN);
  fail_unless_equals_int (stats.disconnects, 1 + HOSTILE);
  fail_unless_equals_int (stats.peers, MEMBERS);
  fail_unless_equals_int (stats.connections, MEMBERS);
  for (i = 0; i < HOSTILE; i++)
    fail_unless_equals_int (client_count (hostile[i], "error", NULL), 4);
  for (i = 0; i < MEMBERS; i++)
    fail_if (members[i]->closed);

  /* and a newcomer is served as ever */
  welcome = client_join (client_new (), "flood", "newcomer-0001");
  ids = peer_list (welcome);
  fail_unless_equals_int (g_strv_length (ids), MESH_TRACKER_DEFAULT_MAX_PEERS);
}

GST_END_TEST;

GST_START_TEST (test_rate_limit)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (JsonNode) node = NULL;
  Client *a;
  guint i;

  config.rate = 5;
  config.burst = 10;
  start_tracker (&config);
  a = joined_client ("s", "peer-aaaa");
  /* the join took one token: 9 left, and a few trickle back meanwhile */
  for (i = 0; i < 30; i++)
    client_send (a, "{\"type\":\"heartbeat\"}");
  client_expect_error (a, "rate-limited", TRUE);
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  fail_unless (tracker_stats ().messages < 30);
}

GST_END_TEST;

GST_START_TEST (test_swarm_full)
{
  MeshTrackerConfig config = { 0, };
  Client *c;

  config.max_swarm_peers = 2;
  start_tracker (&config);
  joined_client ("s", "peer-aaaa");
  joined_client ("s", "peer-bbbb");
  c = client_new ();
  client_send (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
      "\"peer\":\"peer-bbbb\"}");
  client_expect_error (c, "peer-id-taken", TRUE);
  c = client_new ();
  client_send (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
      "\"peer\":\"peer-cccc\"}");
  client_expect_error (c, "swarm-full", TRUE);
  client_expect_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  /* other swarms are open */
  joined_client ("t", "peer-cccc");
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 3);
}

GST_END_TEST;

GST_START_TEST (test_too_many_swarms)
{
  MeshTrackerConfig config = { 0, };
  Client *a, *c;

  config.max_swarms = 1;
  start_tracker (&config);
  a = joined_client ("s", "peer-aaaa");
  c = client_new ();
  client_send (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"t\","
      "\"peer\":\"peer-cccc\"}");
  client_expect_error (c, "too-many-swarms", TRUE);
  client_expect_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);

  /* an emptied swarm makes room */
  client_send (a, "{\"type\":\"leave\"}");
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_NORMAL);
  joined_client ("t", "peer-cccc");
  fail_unless_equals_int (mesh_tracker_server_get_swarms (tracker), 1);
}

GST_END_TEST;

/* Connections that have not become WebSockets count: past the bound a new
 * one is answered 503 at once, and a closed one makes room again. */
GST_START_TEST (test_too_many_connections)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GSocketConnection) half_open = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *metrics = NULL;
  SoupWebsocketConnection *ws;
  guint status;

  config.max_connections = 2;
  start_tracker (&config);
  joined_client ("s", "peer-aaaa");
  half_open = raw_connect ();
  raw_write (half_open, "GET /announce HTTP/1.1\r\n", 24);
  fail_unless (stats_reach (one_pending, WAIT_MS));

  ws = connect_ws (MESH_TRACKER_SUBPROTOCOL, &error);
  fail_unless (ws == NULL, "a third connection was accepted");
  fail_unless_equals_int (tracker_stats ().refused, 1);

  /* a closed one makes room: /metrics needs a connection too */
  g_io_stream_close (G_IO_STREAM (half_open), NULL, NULL);
  fail_unless (stats_reach (nothing_pending, WAIT_MS));
  metrics = http_get ("/metrics", &status);
  fail_unless_equals_int (status, 200);
  expect_metric (metrics,
      "mesh_tracker_http_closes_total{reason=\"too-many-connections\"} 1");
  fail_unless (stats_reach (nothing_pending, WAIT_MS));
  joined_client ("s", "peer-bbbb");
}

GST_END_TEST;

/* A request that never ends is closed after --header-timeout; a WebSocket
 * is not timed so. */
GST_START_TEST (test_header_timeout)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GSocketConnection) silent = NULL;
  g_autoptr (GSocketConnection) half_sent = NULL;
  gint64 start;
  Client *a;

  config.header_timeout = 1;
  start_tracker (&config);
  a = joined_client ("s", "peer-aaaa");
  start = g_get_monotonic_time ();
  silent = raw_connect ();
  half_sent = raw_connect ();
  raw_write (half_sent, "GET /announce HTTP/1.1\r\nHost: x\r\n", 33);

  fail_unless (raw_wait_closed (silent));
  fail_unless (raw_wait_closed (half_sent));
  fail_unless (g_get_monotonic_time () - start >= G_USEC_PER_SEC / 2);
  fail_unless (stats_reach (nothing_pending, WAIT_MS));
  fail_unless_equals_int (tracker_stats ().header_timeouts, 2);
  client_expect_quiet (a);
  fail_if (a->closed);
}

GST_END_TEST;

/* Connections and joins per client address: all tests come from
 * 127.0.0.1, so small bounds show them. */
GST_START_TEST (test_connections_per_ip)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GSocketConnection) half_open = NULL;
  g_autoptr (GSocketConnection) refused = NULL;
  g_autofree gchar *response = NULL;
  g_autofree gchar *metrics = NULL;
  guint status;

  config.max_connections_per_ip = 2;
  start_tracker (&config);
  joined_client ("s", "peer-aaaa");
  half_open = raw_connect ();
  fail_unless (stats_reach (one_pending, WAIT_MS));

  refused = raw_connect ();
  response = raw_handshake (refused, "");
  fail_unless (g_str_has_prefix (response, "HTTP/1.1 429"), "%s", response);
  fail_unless (raw_wait_closed (refused));

  g_io_stream_close (G_IO_STREAM (half_open), NULL, NULL);
  fail_unless (stats_reach (nothing_pending, WAIT_MS));
  metrics = http_get ("/metrics", &status);
  expect_metric (metrics,
      "mesh_tracker_http_closes_total{reason=\"too-many-from-ip\"} 1");
  joined_client ("s", "peer-bbbb");
}

GST_END_TEST;

/* A raw WebSocket that joins @peer, naming @forwarded in X-Forwarded-For;
 * the first message the tracker sends back is returned. */
static gchar *
join_forwarded (GSocketConnection ** conn, const gchar * forwarded,
    const gchar * peer)
{
  g_autofree gchar *header = g_strdup_printf ("X-Forwarded-For: %s\r\n",
      forwarded);
  g_autofree gchar *response = NULL;
  g_autofree gchar *join = g_strdup_printf ("{\"type\":\"join\","
      "\"version\":1,\"swarm\":\"s\",\"peer\":\"%s\"}", peer);
  gchar *message;
  GInputStream *in;
  guint8 head[4];
  gsize size, got;

  *conn = raw_connect ();
  response = raw_handshake (*conn, header);
  fail_unless (g_str_has_prefix (response, "HTTP/1.1 101"), "%s", response);
  raw_send (*conn, join);
  /* an unmasked text frame of less than 64 KiB */
  in = g_io_stream_get_input_stream (G_IO_STREAM (*conn));
  fail_unless (g_input_stream_read_all (in, head, 2, &got, NULL, NULL)
      && got == 2);
  size = head[1] & 0x7f;
  if (size == 126) {
    fail_unless (g_input_stream_read_all (in, head + 2, 2, &got, NULL, NULL)
        && got == 2);
    size = head[2] << 8 | head[3];
  }
  message = g_malloc0 (size + 1);
  fail_unless (g_input_stream_read_all (in, message, size, &got, NULL, NULL)
      && got == size);
  return message;
}

/* Behind a trusted proxy, the address is the one it names (the last
 * X-Forwarded-For entry); anyone else's X-Forwarded-For means nothing. */
GST_START_TEST (test_trusted_proxy)
{
  MeshTrackerConfig config = { 0, };
  const gchar *proxies[] = { "127.0.0.1", NULL };
  g_autoptr (GSocketConnection) a = NULL;
  g_autoptr (GSocketConnection) a2 = NULL;
  g_autoptr (GSocketConnection) b = NULL;
  g_autofree gchar *first = NULL;
  g_autofree gchar *second = NULL;
  g_autofree gchar *other = NULL;

  config.trusted_proxies = proxies;
  config.max_connections_per_ip = 1;
  start_tracker (&config);
  first = join_forwarded (&a, "10.1.1.1, 192.0.2.1", "peer-aaaa");
  fail_unless (strstr (first, "\"welcome\"") != NULL, "%s", first);
  second = join_forwarded (&a2, "192.0.2.1", "peer-aaa2");
  fail_unless (strstr (second, "\"too-many-connections\"") != NULL, "%s",
      second);
  other = join_forwarded (&b, "10.1.1.1, 192.0.2.2", "peer-bbbb");
  fail_unless (strstr (other, "\"welcome\"") != NULL, "%s", other);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);
}

GST_END_TEST;

GST_START_TEST (test_forwarded_for_untrusted)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GSocketConnection) a = NULL;
  g_autoptr (GSocketConnection) b = NULL;
  g_autofree gchar *first = NULL;
  g_autofree gchar *response = NULL;

  config.max_connections_per_ip = 1;
  start_tracker (&config);
  first = join_forwarded (&a, "192.0.2.1", "peer-aaaa");
  fail_unless (strstr (first, "\"welcome\"") != NULL, "%s", first);
  b = raw_connect ();
  response = raw_handshake (b, "X-Forwarded-For: 192.0.2.2\r\n");
  fail_unless (g_str_has_prefix (response, "HTTP/1.1 429"), "%s", response);
}

GST_END_TEST;

GST_START_TEST (test_joins_per_ip)
{
  MeshTrackerConfig config = { 0, };
  gchar id[32];
  Client *c;
  guint i;

  config.max_joins_per_ip = 3;
  start_tracker (&config);
  for (i = 0; i < 3; i++) {
    g_snprintf (id, sizeof (id), "peer-%04u", i);
    c = joined_client ("s", id);
    client_send (c, "{\"type\":\"leave\"}");
    client_expect_close (c, SOUP_WEBSOCKET_CLOSE_NORMAL);
  }
  /* a minute's worth is spent, whoever left since */
  c = client_new ();
  client_send (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
      "\"peer\":\"peer-9999\"}");
  client_expect_error (c, "join-limited", TRUE);
  client_expect_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 0);
}

GST_END_TEST;

GST_START_TEST (test_token_format)
{
  g_autofree gchar *token = mesh_tracker_make_token ("k", "swarm", 1700000000);
  g_autofree gchar *mac = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      (const guchar *) "k", 1, "swarm|1700000000", -1);
  g_autofree gchar *expected = g_strconcat ("1700000000.", mac, NULL);

  fail_unless_equals_string (token, expected);
  fail_unless_equals_int (strlen (mac), 64);
  fail_unless (mesh_tracker_check_token ("k", "swarm", token, 1700000000));
  fail_if (mesh_tracker_check_token ("k", "swarm", token, 1700000001));
  fail_if (mesh_tracker_check_token ("k", "swarm2", token, 0));
  fail_if (mesh_tracker_check_token ("j", "swarm", token, 0));
  fail_if (mesh_tracker_check_token ("k", "swarm", NULL, 0));
  fail_if (mesh_tracker_check_token ("k", "swarm", "", 0));
  fail_if (mesh_tracker_check_token ("k", "swarm", "1700000000", 0));
  fail_if (mesh_tracker_check_token ("k", "swarm", "x.y", 0));
  fail_if (mesh_tracker_check_token ("k", "swarm", "-1.00", 0));
  /* a changed expiry breaks the signature */
  token[9] = '1';
  fail_if (mesh_tracker_check_token ("k", "swarm", token, 0));
}

GST_END_TEST;

GST_START_TEST (test_tokens)
{
  MeshTrackerConfig config = { 0, };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree gchar *valid = mesh_tracker_make_token (SECRET, "s", now + 60);
  g_autofree gchar *expired = mesh_tracker_make_token (SECRET, "s", now - 10);
  g_autofree gchar *other_swarm = mesh_tracker_make_token (SECRET, "t",
      now + 60);
  g_autofree gchar *other_secret = mesh_tracker_make_token ("guess", "s",
      now + 60);
  const gchar *refused[] = { NULL, expired, other_swarm, other_secret,
    "garbage"
  };
  g_autoptr (JsonNode) welcome = NULL;
  Client *c;
  guint i;

  config.token_secret = SECRET;
  start_tracker (&config);
  for (i = 0; i < G_N_ELEMENTS (refused); i++) {
    c = client_new ();
    if (refused[i])
      client_sendf (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
          "\"peer\":\"peer-aaaa\",\"token\":\"%s\"}", refused[i]);
    else
      client_send (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
          "\"peer\":\"peer-aaaa\"}");
    client_expect_error (c, "unauthorized", TRUE);
    client_expect_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  }
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 0);

  c = client_new ();
  welcome = client_join_with_token (c, "s", "peer-aaaa", valid);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 1);
}

GST_END_TEST;

static void
expect_join_refused (const gchar * swarm, const gchar * peer,
    const gchar * token, const gchar * code)
{
  Client *c = client_new ();

  client_sendf (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"%s\","
      "\"peer\":\"%s\",\"token\":\"%s\"}", swarm, peer, token);
  client_expect_error (c, code, TRUE);
  client_expect_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
}

/* One token admits a bounded number of peers at once, and of joins per
 * minute; another token has its own. */
GST_START_TEST (test_token_limits)
{
  MeshTrackerConfig config = { 0, };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree gchar *token = mesh_tracker_make_token (SECRET, "s", now + 60);
  g_autofree gchar *other = mesh_tracker_make_token (SECRET, "s", now + 61);
  g_autoptr (JsonNode) welcome = NULL;
  Client *a, *b, *c;

  config.token_secret = SECRET;
  config.max_peers_per_token = 2;
  config.max_joins_per_token = 4;
  start_tracker (&config);
  a = client_new ();
  welcome = client_join_with_token (a, "s", "peer-aaaa", token);
  b = client_new ();
  g_clear_pointer (&welcome, json_node_unref);
  welcome = client_join_with_token (b, "s", "peer-bbbb", token);
  /* 3 joins */
  expect_join_refused ("s", "peer-cccc", token, "join-limited");
  c = client_new ();
  g_clear_pointer (&welcome, json_node_unref);
  welcome = client_join_with_token (c, "s", "peer-cccc", other);

  /* a leaves: room for a peer, and the 4th join */
  client_send (a, "{\"type\":\"leave\"}");
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_NORMAL);
  a = client_new ();
  g_clear_pointer (&welcome, json_node_unref);
  welcome = client_join_with_token (a, "s", "peer-dddd", token);
  client_send (b, "{\"type\":\"leave\"}");
  client_expect_close (b, SOUP_WEBSOCKET_CLOSE_NORMAL);
  /* room for a peer, but not for a 5th join this minute */
  expect_join_refused ("s", "peer-eeee", token, "join-limited");
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);
}

GST_END_TEST;

/* A new secret handed to the running server (what SIGHUP does): joins with
 * its tokens are taken from then on, the old secret's refused, and the
 * peers that joined with the old one stay connected and joined: they hear
 * of the newcomer, and answer. */
GST_START_TEST (test_token_secret_swap)
{
  static const gchar new_secret[] = "the secret after the rotation, 32+";
  MeshTrackerConfig config = { 0, };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree gchar *old_token = mesh_tracker_make_token (SECRET, "s",
      now + 60);
  g_autofree gchar *new_token = mesh_tracker_make_token (new_secret, "s",
      now + 60);
  g_autoptr (JsonNode) welcome = NULL;
  g_autoptr (JsonNode) joined = NULL;
  Client *a, *b;

  config.token_secret = SECRET;
  start_tracker (&config);
  a = client_new ();
  welcome = client_join_with_token (a, "s", "peer-aaaa", old_token);
  expect_join_refused ("s", "peer-bbbb", new_token, "unauthorized");

  mesh_tracker_server_set_token_secret (tracker, (const guint8 *) new_secret,
      strlen (new_secret));

  expect_join_refused ("s", "peer-cccc", old_token, "unauthorized");
  b = client_new ();
  g_clear_pointer (&welcome, json_node_unref);
  welcome = client_join_with_token (b, "s", "peer-bbbb", new_token);
  joined = client_expect (a, "peer-joined");
  fail_unless_equals_string (member_string (joined, "peer"), "peer-bbbb");
  client_expect_quiet (a);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);
  fail_unless_equals_int (tracker_stats ().disconnects, 2);
}

GST_END_TEST;

static gchar *
write_secret_file (const gchar * contents, gsize size)
{
  g_autoptr (GError) error = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("mesh-tracker-secret-XXXXXX", &path, &error);

  fail_unless (fd >= 0, "%s", error ? error->message : "");
  g_close (fd, NULL);
  fail_unless (g_file_set_contents (path, contents, size, &error), "%s",
      error ? error->message : "");
  return path;
}

/* A secret file is read by its length (a NUL byte does not end it), with
 * trailing whitespace dropped, and must be 32 bytes at least. */
GST_START_TEST (test_secret_file)
{
  static const gchar binary[] = "0123456789\0abcdefghijklmnopqrstuvwxyz\n";
  const gsize size = sizeof (binary) - 1;
  g_autofree gchar *path = write_secret_file (binary, size);
  g_autofree gchar *short_path = write_secret_file
      ("0123456789012345678901234567890   \n", 35);
  g_autoptr (GBytes) secret = NULL;
  g_autoptr (GError) error = NULL;
  MeshTrackerConfig config = { 0, };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree gchar *good = NULL;
  g_autofree gchar *cut = NULL;
  g_autoptr (JsonNode) welcome = NULL;
  Client *c;

  secret = mesh_tracker_read_secret (path, &error);
  fail_unless (secret != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (g_bytes_get_size (secret), size - 1);
  fail_unless (memcmp (g_bytes_get_data (secret, NULL), binary, size - 1) == 0);
  fail_if (mesh_tracker_read_secret (short_path, &error));
  fail_unless (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_INVAL));

  config.token_secret = g_bytes_get_data (secret, NULL);
  config.token_secret_size = g_bytes_get_size (secret);
  start_tracker (&config);
  good = mesh_tracker_make_token_full (g_bytes_get_data (secret, NULL),
      g_bytes_get_size (secret), "s", now + 60);
  /* what a reader stopping at the NUL would have taken */
  cut = mesh_tracker_make_token ("0123456789", "s", now + 60);
  fail_if (g_str_equal (good, cut));
  expect_join_refused ("s", "peer-aaaa", cut, "unauthorized");
  c = client_new ();
  welcome = client_join_with_token (c, "s", "peer-aaaa", good);

  g_unlink (path);
  g_unlink (short_path);
}

GST_END_TEST;

/* Reports: distinct members, each counted once; at the threshold the peer
 * is removed (the others told) and its id refused from then on. */
GST_START_TEST (test_report_removes_peer)
{
  MeshTrackerConfig config = { 0, };
  g_autofree gchar *metrics = NULL;
  g_autoptr (JsonNode) msg = NULL;
  Client *a, *b, *x, *x2;
  guint status;

  config.report_threshold = 2;
  start_tracker (&config);
  x = joined_client ("s", "peer-xxxx");
  a = joined_client ("s", "peer-aaaa");
  b = joined_client ("s", "peer-bbbb");
  joined_client ("t", "peer-tttt");
  client_drop_pending (x);
  client_drop_pending (a);
  client_drop_pending (b);

  /* not oneself, not a stranger, not another swarm's member */
  client_send (a, "{\"type\":\"report\",\"peer\":\"peer-aaaa\","
      "\"reason\":\"x\"}");
  client_expect_error (a, "unknown-peer", FALSE);
  client_send (a, "{\"type\":\"report\",\"peer\":\"peer-zzzz\","
      "\"reason\":\"x\"}");
  client_expect_error (a, "unknown-peer", FALSE);
  client_send (a, "{\"type\":\"report\",\"peer\":\"peer-tttt\","
      "\"reason\":\"x\"}");
  client_expect_error (a, "unknown-peer", FALSE);

  /* the same reporter twice is one report */
  client_send (a, "{\"type\":\"report\",\"peer\":\"peer-xxxx\","
      "\"reason\":\"segment 3: sha-256 mismatch\"}");
  client_send (a, "{\"type\":\"report\",\"peer\":\"peer-xxxx\","
      "\"reason\":\"segment 4: sha-256 mismatch\"}");
  client_expect_quiet (a);
  client_expect_quiet (x);
  fail_unless_equals_int (tracker_stats ().reports, 2);

  client_send (b, "{\"type\":\"report\",\"peer\":\"peer-xxxx\","
      "\"reason\":\"segment 3: sha-256 mismatch\"}");
  client_expect_error (x, "banned", TRUE);
  client_expect_close (x, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  msg = client_expect (a, "peer-left");
  fail_unless_equals_string (member_string (msg, "peer"), "peer-xxxx");
  g_clear_pointer (&msg, json_node_unref);
  msg = client_expect (b, "peer-left");
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 3);

  /* its id stays refused, in any swarm */
  x2 = client_new ();
  client_send (x2, "{\"type\":\"join\",\"version\":1,\"swarm\":\"t\","
      "\"peer\":\"peer-xxxx\"}");
  client_expect_error (x2, "banned", TRUE);
  metrics = http_get ("/metrics", &status);
  expect_metric (metrics, "mesh_tracker_banned_ids 1");
  expect_metric (metrics, "mesh_tracker_reports_total 3");
  /* the one removed, and the one refused */
  expect_metric (metrics,
      "mesh_tracker_disconnects_total{reason=\"banned\"} 2");
}

GST_END_TEST;

GST_START_TEST (test_reports_rate_limited)
{
  MeshTrackerConfig config = { 0, };
  Client *a;
  guint i;

  config.max_reports = 3;
  config.report_threshold = 100;
  start_tracker (&config);
  joined_client ("s", "peer-xxxx");
  a = joined_client ("s", "peer-aaaa");
  client_drop_pending (a);
  for (i = 0; i < 3; i++)
    client_send (a, "{\"type\":\"report\",\"peer\":\"peer-xxxx\","
        "\"reason\":\"bad\"}");
  client_expect_quiet (a);
  client_send (a, "{\"type\":\"report\",\"peer\":\"peer-xxxx\","
      "\"reason\":\"bad\"}");
  client_expect_error (a, "too-many-reports", FALSE);
  fail_unless_equals_int (tracker_stats ().reports, 3);
  fail_if (a->closed);
}

GST_END_TEST;

GST_START_TEST (test_health_and_metrics)
{
  Client *a, *b;
  g_autofree gchar *health = NULL;
  g_autofree gchar *metrics = NULL;
  g_autofree gchar *other = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;
  guint status;

  start_default_tracker ();
  a = joined_client ("s", "peer-aaaa");
  b = joined_client ("s", "peer-bbbb");
  joined_client ("t", "peer-cccc");
  client_send (a, "{\"type\":\"signal\",\"to\":\"peer-bbbb\",\"data\":{}}");
  g_clear_pointer (&node, json_node_unref);
  node = client_expect (b, "signal");
  client_drop_pending (a);
  client_send (a, "{\"type\":\"signal\",\"to\":\"peer-cccc\",\"data\":{}}");
  client_expect_error (a, "unknown-peer", FALSE);
  client_send (b, "{\"type\":\"leave\"}");
  client_expect_close (b, SOUP_WEBSOCKET_CLOSE_NORMAL);
  g_clear_pointer (&node, json_node_unref);
  node = client_expect (a, "peer-left");
  g_clear_pointer (&node, json_node_unref);

  health = http_get ("/health", &status);
  fail_unless_equals_int (status, 200);
  node = json_from_string (health, NULL);
  fail_unless (node != NULL && JSON_NODE_HOLDS_OBJECT (node), "%s", health);
  object = json_node_get_object (node);
  fail_unless_equals_string (json_object_get_string_member (object, "status"),
      "ok");
  fail_unless_equals_int (json_object_get_int_member (object, "swarms"), 2);
  fail_unless_equals_int (json_object_get_int_member (object, "peers"), 2);

  metrics = http_get ("/metrics", &status);
  fail_unless_equals_int (status, 200);
  expect_metric (metrics, "# TYPE mesh_tracker_peers gauge");
  expect_metric (metrics, "mesh_tracker_peers 2");
  expect_metric (metrics, "mesh_tracker_swarms 2");
  expect_metric (metrics, "mesh_tracker_joins_total 3");
  expect_metric (metrics, "mesh_tracker_signals_total 1");
  /* 3 joins, 2 signals, 1 leave */
  expect_metric (metrics, "mesh_tracker_messages_total 6");
  expect_metric (metrics, "# TYPE mesh_tracker_errors_total counter");
  expect_metric (metrics, "mesh_tracker_errors_total{code=\"unknown-peer\"} 1");
  expect_metric (metrics, "mesh_tracker_errors_total{code=\"bad-message\"} 0");
  expect_metric (metrics, "mesh_tracker_disconnects_total{reason=\"leave\"} 1");
  expect_metric (metrics,
      "mesh_tracker_disconnects_total{reason=\"timeout\"} 0");
  expect_metric (metrics,
      "mesh_tracker_notifications_total{type=\"peer-joined\"} 1");
  expect_metric (metrics,
      "mesh_tracker_notifications_total{type=\"peer-left\"} 1");

  other = http_get ("/nothing-here", &status);
  fail_unless_equals_int (status, 404);
}

GST_END_TEST;

/* A join must cost O(max-peers) messages, not O(swarm). */
GST_START_TEST (test_large_swarm)
{
  MeshTrackerConfig config = { 0, };
  enum
  { N = 200, MAX_PEERS = 10 };
  Client *members[N];
  JoinedCount count = { members, 0, 0 };
  guint64 before = 0;
  gchar id[32];
  guint i;

  config.max_peers = MAX_PEERS;
  start_tracker (&config);
  for (i = 0; i < N; i++) {
    g_autoptr (JsonNode) welcome = NULL;
    g_auto (GStrv) ids = NULL;
    MeshTrackerStats stats;

    g_snprintf (id, sizeof (id), "viewer-%04u", i);
    members[i] = client_new ();
    welcome = client_join (members[i], "big", id);
    ids = peer_list (welcome);
    fail_unless_equals_int (g_strv_length (ids), MIN (i, MAX_PEERS));
    fail_if (strv_has_duplicates (ids));
    fail_if (g_strv_contains ((const gchar * const *) ids, id));

    /* the tracker sends a join's notifications before its welcome */
    stats = tracker_stats ();
    fail_unless (stats.peer_joined_sent - before <= MAX_PEERS,
        "join %u sent %" G_GUINT64_FORMAT " peer-joined", i,
        stats.peer_joined_sent - before);
    fail_unless_equals_int (stats.peer_joined_sent - before, MIN (i,
            MAX_PEERS));
    before = stats.peer_joined_sent;

    /* and the clients got exactly those */
    count.n = i + 1;
    count.expected = before;
    fail_unless (run_until (all_peer_joined_arrived, &count, WAIT_MS),
        "join %u: peer-joined messages missing", i);
    client_drop_pending (members[i]);
  }
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), N);
  fail_unless_equals_int (tracker_stats ().peer_joined_sent,
      MAX_PEERS * (MAX_PEERS - 1) / 2 + (N - MAX_PEERS) * MAX_PEERS);
}

GST_END_TEST;

static gpointer
stop_tracker_thread (gpointer data)
{
  mesh_tracker_server_stop (data);
  return NULL;
}

GST_START_TEST (test_shutdown_going_away)
{
  Client *a, *b;
  GThread *stopper;

  start_default_tracker ();
  a = joined_client ("s", "peer-aaaa");
  b = client_new ();
  /* the close handshake needs this thread to answer, so stop elsewhere */
  stopper = g_thread_new ("stopper", stop_tracker_thread, tracker);
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  client_expect_close (b, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  g_thread_join (stopper);
  tracker = NULL;
}

GST_END_TEST;

GST_START_TEST (test_start_errors)
{
  MeshTrackerConfig config = { 0, };
  GError *error = NULL;

  config.host = "not-an-address";
  fail_unless (mesh_tracker_server_start (&config, &error) == NULL);
  fail_unless (error != NULL);
  g_clear_error (&error);

  config.host = "127.0.0.1";
  config.token_secret = "";
  fail_unless (mesh_tracker_server_start (&config, &error) == NULL);
  fail_unless (error != NULL);
  g_clear_error (&error);

  start_default_tracker ();
  config.token_secret = NULL;
  config.port = mesh_tracker_server_get_port (tracker);
  fail_unless (mesh_tracker_server_start (&config, &error) == NULL);
  fail_unless (error != NULL);
  g_clear_error (&error);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Attested digests: an origin on 127.0.0.1 that counts what it serves     */

#define SEGMENT_SIZE (300 * 1024 + 7)

static SoupServer *origin;
static gchar *origin_url;       /* "http://127.0.0.1:PORT" */
static GHashTable *origin_hits; /* path -> count */
static GPtrArray *origin_held;  /* SoupServerMessage, paused */
static guint8 *segment;

static void
on_origin_request (SoupServer * server, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer data)
{
  guint hits = GPOINTER_TO_UINT (g_hash_table_lookup (origin_hits, path));

  g_hash_table_insert (origin_hits, g_strdup (path),
      GUINT_TO_POINTER (hits + 1));
  if (g_str_has_prefix (path, "/live/held")) {
    /* answered by origin_release () */
    g_ptr_array_add (origin_held, g_object_ref (msg));
    soup_server_message_pause (msg);
    return;
  }
  if (!g_str_has_prefix (path, "/live/") && !g_str_has_prefix (path, "/vod/")) {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }
  if (strstr (path, "/whole-")) {
    /* an origin that ignores ranges: the tracker cuts the range out */
    soup_message_headers_remove (soup_server_message_get_request_headers
        (msg), "Range");
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "video/mp2t", SOUP_MEMORY_STATIC,
      (const gchar *) segment, SEGMENT_SIZE);
}

static guint
origin_hits_of (const gchar * path)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (origin_hits, path));
}

static guint
origin_hits_total (void)
{
  GHashTableIter iter;
  gpointer value;
  guint total = 0;

  g_hash_table_iter_init (&iter, origin_hits);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    total += GPOINTER_TO_UINT (value);
  return total;
}

static void
origin_release (void)
{
  guint i;

  for (i = 0; i < origin_held->len; i++) {
    SoupServerMessage *msg = g_ptr_array_index (origin_held, i);

    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
    soup_server_message_unpause (msg);
  }
  g_ptr_array_set_size (origin_held, 0);
}

static void
attest_setup (void)
{
  GError *error = NULL;
  GSList *uris;
  guint i;

  tracker_setup ();
  segment = g_malloc (SEGMENT_SIZE);
  for (i = 0; i < SEGMENT_SIZE; i++)
    segment[i] = (i * 7 + i / 251) & 0xff;
  origin_hits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  origin_held = g_ptr_array_new_with_free_func (g_object_unref);
  origin = soup_server_new (NULL, NULL);
  soup_server_add_handler (origin, NULL, on_origin_request, NULL, NULL);
  fail_unless (soup_server_listen_local (origin, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, &error), "%s",
      error ? error->message : "");
  uris = soup_server_get_uris (origin);
  origin_url = g_strdup_printf ("http://127.0.0.1:%d",
      g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
attest_teardown (void)
{
  origin_release ();
  tracker_teardown ();
  soup_server_disconnect (origin);
  g_clear_object (&origin);
  g_clear_pointer (&origin_url, g_free);
  g_clear_pointer (&origin_hits, g_hash_table_unref);
  g_clear_pointer (&origin_held, g_ptr_array_unref);
  g_clear_pointer (&segment, g_free);
}

/* A tracker attesting under @origin_url + @prefixes (NULL-terminated). */
static void
start_attest_tracker (MeshTrackerConfig * config, const gchar * first, ...)
{
  static gchar *origins[8];
  const gchar *prefix;
  va_list args;
  guint n = 0;

  va_start (args, first);
  for (prefix = first; prefix && n < G_N_ELEMENTS (origins) - 1;
      prefix = va_arg (args, const gchar *))
  {
    g_free (origins[n]);
    origins[n++] = g_strconcat (origin_url, prefix, NULL);
  }
  va_end (args);
  origins[n] = NULL;
  config->attest_origins = (const gchar * const *) origins;
  start_tracker (config);
}

static void
client_attest (Client * c, gint64 id, const gchar * url, gint64 offset,
    gint64 length)
{
  g_autoptr (JsonNode) node = json_node_init_string (json_node_alloc (), url);
  g_autofree gchar *quoted = json_to_string (node, FALSE);

  client_sendf (c, "{\"type\":\"attest\",\"id\":%" G_GINT64_FORMAT ","
      "\"url\":%s,\"offset\":%" G_GINT64_FORMAT ",\"length\":%"
      G_GINT64_FORMAT "}", id, quoted, offset, length);
}

static gboolean
is_membership_news (JsonNode * node)
{
  return g_strcmp0 (member_string (node, "type"), "peer-joined") == 0
      || g_strcmp0 (member_string (node, "type"), "peer-left") == 0;
}

/* The next message but the swarm's comings and goings, an "attested" for
 * @id; transfer full. */
static JsonNode *
client_expect_attested (Client * c, gint64 id)
{
  JsonNode *node;

  while (run_until (client_has_message, c, WAIT_MS)
      && is_membership_news (g_queue_peek_head (&c->pending)))
    json_node_unref (g_queue_pop_head (&c->pending));
  node = client_expect (c, "attested");

  fail_unless_equals_int64 (json_object_get_int_member (json_node_get_object
          (node), "id"), id);
  return node;
}

/* Checks that the answer to @id is the digest of segment[@offset, +@size). */
static void
client_expect_digest (Client * c, gint64 id, gsize offset, gsize size)
{
  g_autoptr (JsonNode) node = client_expect_attested (c, id);
  g_autofree gchar *text = json_to_string (node, FALSE);
  g_autofree gchar *expected = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
      segment + offset, size);

  fail_unless_equals_string (member_string (node, "sha256"), expected);
  fail_unless_equals_int64 (json_object_get_int_member (json_node_get_object
          (node), "size"), size);
  fail_if (json_object_has_member (json_node_get_object (node), "error"),
      "%s", text);
}

/* Checks that the answer to @id is an error, and returns it. */
static gchar *
client_expect_attest_error (Client * c, gint64 id)
{
  g_autoptr (JsonNode) node = client_expect_attested (c, id);
  g_autofree gchar *text = json_to_string (node, FALSE);

  fail_if (json_object_has_member (json_node_get_object (node), "sha256"),
      "%s", text);
  fail_unless (member_string (node, "error") != NULL, "%s", text);
  return g_strdup (member_string (node, "error"));
}

static gchar *
origin_path (const gchar * path)
{
  return g_strconcat (origin_url, path, NULL);
}

GST_START_TEST (test_attest_digest)
{
  MeshTrackerConfig config = { 0, };
  g_autofree gchar *url = NULL;
  g_autofree gchar *metrics = NULL;
  Client *c;
  guint status;

  start_attest_tracker (&config, "/live/", NULL);
  c = joined_client ("swarm-a", "peer-aaaa");
  url = origin_path ("/live/seg-1.ts");

  client_attest (c, 1, url, 0, -1);
  client_expect_digest (c, 1, 0, SEGMENT_SIZE);
  /* a byte range, as in a single-file stream; and from an offset on */
  client_attest (c, 2, url, 1000, 70000);
  client_expect_digest (c, 2, 1000, 70000);
  client_attest (c, 3, url, 5000, -1);
  client_expect_digest (c, 3, 5000, SEGMENT_SIZE - 5000);
  fail_unless_equals_int (origin_hits_of ("/live/seg-1.ts"), 3);

  /* an origin that answers 200 to a range */
  g_free (url);
  url = origin_path ("/live/whole-1.ts");
  client_attest (c, 4, url, 1000, 70000);
  client_expect_digest (c, 4, 1000, 70000);
  /* past the end: no digest for bytes that are not there */
  client_attest (c, 5, url, SEGMENT_SIZE - 10, 20);
  g_free (client_expect_attest_error (c, 5));
  fail_unless_equals_int (origin_hits_of ("/live/whole-1.ts"), 2);

  metrics = http_get ("/metrics", &status);
  fail_unless_equals_int (status, 200);
  expect_metric (metrics, "mesh_tracker_attest_fetches_total 5");
  expect_metric (metrics, "mesh_tracker_attest_requests_total 5");
  fail_unless_equals_int64 (tracker_stats ().attest_fetches, 5);
}

GST_END_TEST;

/* Two viewers of one swarm asking at once share one fetch; later ones are
 * answered from the cache; another swarm pays for its own. */
GST_START_TEST (test_attest_once_per_swarm)
{
  MeshTrackerConfig config = { 0, };
  g_autofree gchar *url = NULL;
  g_autofree gchar *metrics = NULL;
  Client *a, *b, *later, *other;
  guint status;

  start_attest_tracker (&config, "/live/", NULL);
  a = joined_client ("swarm-a", "peer-aaaa");
  b = joined_client ("swarm-a", "peer-bbbb");
  url = origin_path ("/live/seg-2.ts");

  client_attest (a, 10, url, 0, -1);
  client_attest (b, 20, url, 0, -1);
  client_expect_digest (a, 10, 0, SEGMENT_SIZE);
  client_expect_digest (b, 20, 0, SEGMENT_SIZE);
  fail_unless_equals_int (origin_hits_of ("/live/seg-2.ts"), 1);

  later = joined_client ("swarm-a", "peer-cccc");
  client_attest (later, 30, url, 0, -1);
  client_expect_digest (later, 30, 0, SEGMENT_SIZE);
  fail_unless_equals_int (origin_hits_of ("/live/seg-2.ts"), 1);

  other = joined_client ("swarm-b", "peer-dddd");
  client_attest (other, 40, url, 0, -1);
  client_expect_digest (other, 40, 0, SEGMENT_SIZE);
  fail_unless_equals_int (origin_hits_of ("/live/seg-2.ts"), 2);

  metrics = http_get ("/metrics", &status);
  expect_metric (metrics, "mesh_tracker_attest_fetches_total 2");
  expect_metric (metrics, "mesh_tracker_attest_cache_hits_total 1");
}

GST_END_TEST;

/* Only what is under a prefix, after normalising, is ever fetched. */
GST_START_TEST (test_attest_refuses_other_urls)
{
  MeshTrackerConfig config = { 0, };
  g_autofree gchar *host_port = g_strdup (origin_url + strlen ("http://"));
  g_autofree gchar *at_evil = g_strdup_printf ("http://%s@evil.example/live/x",
      host_port);
  g_autofree gchar *user = g_strdup_printf ("http://user@%s/live/x",
      host_port);
  g_autofree gchar *empty_user = g_strdup_printf ("http://@%s/live/x",
      host_port);
  g_autofree gchar *https = g_strdup_printf ("https://%s/live/x", host_port);
  g_autofree gchar *longer_host = g_strdup_printf ("http://127.0.0.1.nip.io:%s"
      "/live/x", strchr (host_port, ':') + 1);
  g_autofree gchar *other_port = g_strdup ("http://127.0.0.1:1/live/x");
  g_autofree gchar *dots = origin_path ("/live/../secret");
  g_autofree gchar *encoded_dots = origin_path ("/live/%2e%2E/secret");
  g_autofree gchar *encoded_slash = origin_path ("/live/..%2fsecret");
  g_autofree gchar *backslash = origin_path ("/live/..\\secret");
  g_autofree gchar *prefix_trick = origin_path ("/vod-private/x");
  g_autofree gchar *not_live = origin_path ("/liveX/x");
  g_autofree gchar *space = origin_path ("/live/a b");
  const gchar *urls[] = {
    at_evil, user, empty_user, https, longer_host, other_port, dots,
    encoded_dots, encoded_slash, backslash, prefix_trick, not_live, space,
    "file:///etc/passwd", "/live/x", "http:/live/x", "not a url",
  };
  g_autofree gchar *ok_vod = origin_path ("/vod/x");
  g_autofree gchar *ok_vod_root = origin_path ("/vod");
  Client *c;
  guint i;

  start_attest_tracker (&config, "/live/", "/vod", NULL);
  c = joined_client ("swarm-a", "peer-aaaa");
  for (i = 0; i < G_N_ELEMENTS (urls); i++) {
    g_autofree gchar *why = NULL;

    client_attest (c, i, urls[i], 0, -1);
    why = client_expect_attest_error (c, i);
    GST_INFO ("%s: %s", urls[i], why);
  }
  fail_unless_equals_int (origin_hits_total (), 0);

  /* and what is under one is */
  client_attest (c, 100, ok_vod, 0, -1);
  client_expect_digest (c, 100, 0, SEGMENT_SIZE);
  client_attest (c, 101, ok_vod_root, 0, -1);
  g_free (client_expect_attest_error (c, 101)); /* the origin's 404 */
  fail_unless_equals_int (origin_hits_total (), 2);
  /* refusals are answers, not bad messages */
  client_expect_quiet (c);
}

GST_END_TEST;

GST_START_TEST (test_attest_not_offered)
{
  g_autofree gchar *url = NULL;
  g_autofree gchar *why = NULL;
  Client *c;

  start_default_tracker ();
  c = joined_client ("swarm-a", "peer-aaaa");
  url = origin_path ("/live/seg-1.ts");
  client_attest (c, 5, url, 0, -1);
  why = client_expect_attest_error (c, 5);
  fail_unless_equals_string (why, "not offered");
  fail_unless_equals_int (origin_hits_total (), 0);
}

GST_END_TEST;

static gboolean
origin_holds_two (gpointer data)
{
  return origin_held->len == 2;
}

/* Past its outstanding requests a client is answered at once with an
 * error; past max-bad-messages of those, it is closed. */
static gboolean
four_attests_taken (const MeshTrackerStats * stats)
{
  return stats->attest_requests >= 4;
}

GST_START_TEST (test_attest_outstanding_bound)
{
  MeshTrackerConfig config = {.attest_max_outstanding = 2,
    .max_bad_messages = 3,
  };
  g_autofree gchar *held_1 = NULL;
  g_autofree gchar *held_2 = NULL;
  g_autofree gchar *held_3 = NULL;
  g_autofree gchar *why = NULL;
  Client *c, *other;
  guint i;

  start_attest_tracker (&config, "/live/", NULL);
  c = joined_client ("swarm-a", "peer-aaaa");
  other = joined_client ("swarm-a", "peer-bbbb");
  held_1 = origin_path ("/live/held-1.ts");
  held_2 = origin_path ("/live/held-2.ts");
  held_3 = origin_path ("/live/held-3.ts");

  client_attest (c, 1, held_1, 0, -1);
  client_attest (c, 2, held_2, 0, -1);
  fail_unless (run_until (origin_holds_two, NULL, WAIT_MS));
  client_attest (c, 3, held_3, 0, -1);
  why = client_expect_attest_error (c, 3);
  fail_unless (strstr (why, "outstanding") != NULL, "%s", why);
  fail_unless_equals_int (origin_hits_of ("/live/held-3.ts"), 0);

  /* another client has bounds of its own; its request must wait with
   * the first (the tracker takes it before the origin answers) */
  client_attest (other, 9, held_1, 0, -1);
  fail_unless (stats_reach (four_attests_taken, WAIT_MS));

  /* the origin answers: the slots are free again */
  origin_release ();
  g_free (client_expect_attest_error (c, 1));
  g_free (client_expect_attest_error (c, 2));
  g_free (client_expect_attest_error (other, 9));
  fail_unless_equals_int (origin_hits_of ("/live/held-1.ts"), 1);

  /* a flood past the bound ends the connection */
  client_attest (c, 4, held_1, 0, -1);
  client_attest (c, 5, held_2, 0, -1);
  for (i = 0; i < 6; i++)
    client_attest (c, 6 + i, held_3, 0, -1);
  client_expect_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* locality                                                                 */

/* A client that the trusted proxy (127.0.0.1) says is at @address, joined
 * to swarm "s" as @peer with the network hint @network (NULL: none); its
 * welcome's peer ids go in *@welcome_ids when not NULL. */
static Client *
located_client (const gchar * address, const gchar * peer,
    const gchar * network, GStrv * welcome_ids)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) welcome = NULL;
  g_autofree gchar *hint = network ?
      g_strdup_printf (",\"network\":\"%s\"", network) : g_strdup ("");
  SoupWebsocketConnection *ws = connect_ws_forwarded (MESH_TRACKER_SUBPROTOCOL,
      address, &error);
  Client *c;

  fail_unless (ws != NULL, "connect: %s", error ? error->message : "");
  c = client_wrap (ws);
  client_sendf (c, "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
      "\"peer\":\"%s\",\"caps\":{\"upload\":true}%s}", peer, hint);
  welcome = client_expect (c, "welcome");
  fail_unless_equals_string (member_string (welcome, "peer"), peer);
  if (welcome_ids)
    *welcome_ids = peer_list (welcome);
  return c;
}

/* Trusted proxy 127.0.0.1, @max_peers per list, @share percent for other
 * networks, the ASN table @asn_db (NULL: none). */
static void
start_locality_tracker (guint max_peers, guint share, const gchar * asn_db)
{
  static const gchar *proxies[] = { "127.0.0.1", NULL };
  MeshTrackerConfig config = { 0, };

  config.trusted_proxies = proxies;
  config.max_peers = max_peers;
  config.cross_network_share = share;
  config.asn_db = asn_db;
  start_tracker (&config);
}

/* How many of @ids start with @group (peer ids are "<group>-peer-<n>"). */
static guint
count_group (GStrv ids, gchar group)
{
  guint i, n = 0;

  for (i = 0; ids[i]; i++)
    n += ids[i][0] == group;
  return n;
}

/* Sends get-peers and drops what arrives up to the answer: everything the
 * tracker sent before has arrived. */
static void
client_round_trip (Client * c)
{
  client_send (c, "{\"type\":\"get-peers\"}");
  while (TRUE) {
    g_autoptr (JsonNode) node = NULL;

    fail_unless (run_until (client_has_message, c, WAIT_MS),
        "no \"peers\" arrived");
    node = g_queue_pop_head (&c->pending);
    if (g_str_equal (member_string (node, "type"), "peers"))
      return;
  }
}

static GStrv
client_get_peers (Client * c)
{
  g_autoptr (JsonNode) peers = NULL;

  client_send (c, "{\"type\":\"get-peers\"}");
  peers = client_expect (c, "peers");
  return peer_list (peers);
}

/* Joins 5 members in 10.0.1.0/24 (a-peer-0 to 4) and 5 in 10.0.2.0/24
 * (b-peer-0 to 4), in turns; the clients go in @members unless NULL. */
static void
join_two_subnets (Client ** members)
{
  gchar id[16], address[32];
  guint i;

  for (i = 0; i < 10; i++) {
    Client *c;

    g_snprintf (id, sizeof (id), "%c-peer-%u", i % 2 ? 'b' : 'a', i / 2);
    g_snprintf (address, sizeof (address), "10.0.%u.%u", 1 + i % 2, 10 + i);
    c = located_client (address, id, NULL, NULL);
    if (members)
      members[i] = c;
  }
}

/* Two /24s of 5 members each (a: 10.0.1.x, b: 10.0.2.x), lists of 4 with
 * 25 % for other networks: a newcomer of a gets 3 of a and 1 of b, in its
 * welcome, in every "peers", and the members told of its join are 3 of a
 * and 1 of b. */
GST_START_TEST (test_locality_prefix)
{
  Client *members[10], *newcomer;
  g_auto (GStrv) welcome = NULL;
  guint i, told_a = 0, told_b = 0;

  start_locality_tracker (4, 25, NULL);
  join_two_subnets (members);
  for (i = 0; i < 10; i++)
    client_drop_pending (members[i]);

  newcomer = located_client ("10.0.1.99", "a-peer-new", NULL, &welcome);
  fail_unless_equals_int (count_group (welcome, 'a'), 3);
  fail_unless_equals_int (count_group (welcome, 'b'), 1);
  for (i = 0; i < 20; i++) {
    g_auto (GStrv) peers = client_get_peers (newcomer);

    fail_unless_equals_int (g_strv_length (peers), 4);
    fail_unless_equals_int (count_group (peers, 'a'), 3);
    fail_unless_equals_int (count_group (peers, 'b'), 1);
    fail_if (strv_has_duplicates (peers));
  }
  /* a round trip to each member: its peer-joined came before the answer */
  for (i = 0; i < 10; i++) {
    guint told;

    client_round_trip (members[i]);
    told = client_count (members[i], "peer-joined", "a-peer-new");

    if (i % 2)
      told_b += told;
    else
      told_a += told;
  }
  fail_unless_equals_int (told_a, 3);
  fail_unless_equals_int (told_b, 1);
}

GST_END_TEST;

/* Every member in a /24 of its own, grouped by the hint alone (an
 * enterprise behind several exits): a newcomer of site-a gets 3 of
 * site-a, 1 of site-b. */
GST_START_TEST (test_locality_hint)
{
  g_auto (GStrv) welcome = NULL;
  gchar id[16], address[32];
  guint i;

  start_locality_tracker (4, 25, NULL);
  for (i = 0; i < 10; i++) {
    g_snprintf (id, sizeof (id), "%c-peer-%u", i % 2 ? 'b' : 'a', i / 2);
    g_snprintf (address, sizeof (address), "10.%u.0.1", i);
    located_client (address, id, i % 2 ? "site-b" : "site-a", NULL);
  }
  located_client ("10.99.0.1", "a-peer-new", "site-a", &welcome);
  fail_unless_equals_int (count_group (welcome, 'a'), 3);
  fail_unless_equals_int (count_group (welcome, 'b'), 1);
}

GST_END_TEST;

/* Two groups of 8 joining in turns, lists of 3 at the smallest share (one
 * place): the graph of who was given whom is connected, and once both
 * groups exist every welcome holds exactly one member of the other group
 * and the rest of its own. */
GST_START_TEST (test_locality_two_groups_connected)
{
  enum
  { N = 16 };
  g_autoptr (GHashTable) component = g_hash_table_new_full (g_str_hash,
      g_str_equal, g_free, NULL);
  gchar id[16], address[32];
  guint i, j, cross = 0;
  gboolean merged = TRUE;

  start_locality_tracker (3, 1, NULL);
  for (i = 0; i < N; i++) {
    g_auto (GStrv) welcome = NULL;
    gchar group = i % 2 ? 'b' : 'a';
    guint own = 0;

    g_snprintf (id, sizeof (id), "%c-peer-%u", group, i / 2);
    g_snprintf (address, sizeof (address), "10.0.%u.%u", 1 + i % 2, 10 + i);
    located_client (address, id, NULL, &welcome);
    /* union-find by relabelling: few members */
    g_hash_table_insert (component, g_strdup (id), GUINT_TO_POINTER (i));
    for (j = 0; welcome[j]; j++) {
      guint from = GPOINTER_TO_UINT (g_hash_table_lookup (component,
              welcome[j]));
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, component);
      while (g_hash_table_iter_next (&iter, &key, &value)) {
        if (GPOINTER_TO_UINT (value) == from)
          g_hash_table_iter_replace (&iter, GUINT_TO_POINTER (i));
      }
    }
    own = count_group (welcome, group);
    cross += g_strv_length (welcome) - own;
    if (i >= 4) {
      fail_unless_equals_int (g_strv_length (welcome), 3);
      fail_unless_equals_int (own, 2);
    }
  }
  for (i = 0; i < N; i++) {
    g_snprintf (id, sizeof (id), "%c-peer-%u", i % 2 ? 'b' : 'a', i / 2);
    merged &= GPOINTER_TO_UINT (g_hash_table_lookup (component, id)) == N - 1;
  }
  fail_unless (merged, "the two groups are not connected");
  fail_unless (cross >= N - 4);
}

GST_END_TEST;

/* The ids of a welcome's or peers' list marked near; every "near" there
 * is the boolean true. */
static GStrv
near_list (JsonNode * node)
{
  JsonArray *array = json_object_get_array_member (json_node_get_object
      (node), "peers");
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  guint i;

  for (i = 0; i < json_array_get_length (array); i++) {
    JsonObject *entry = json_array_get_object_element (array, i);

    if (!json_object_has_member (entry, "near"))
      continue;
    fail_unless (json_object_get_boolean_member (entry, "near"));
    g_strv_builder_add (builder, json_object_get_string_member (entry, "peer"));
  }
  return g_strv_builder_end (builder);
}

/* Whether @c was told of @peer's join with "near": true (once). */
static gboolean
client_told_near (Client * c, const gchar * peer)
{
  guint i;

  for (i = 0; i < c->history->len; i++) {
    JsonNode *node = g_ptr_array_index (c->history, i);
    JsonObject *object = json_node_get_object (node);

    if (g_str_equal (member_string (node, "type"), "peer-joined")
        && g_strcmp0 (member_string (node, "peer"), peer) == 0)
      return json_object_get_boolean_member_with_default (object, "near",
          FALSE);
  }
  return FALSE;
}

/* A get-peers of @c: the ids listed, those marked near in *@near. */
static GStrv
client_get_peers_near (Client * c, GStrv * near)
{
  g_autoptr (JsonNode) answer = NULL;

  client_send (c, "{\"type\":\"get-peers\"}");
  answer = client_expect (c, "peers");
  *near = near_list (answer);
  return peer_list (answer);
}

/* Two /24s (a, b): in a newcomer of a's lists exactly the members of a are
 * "near", and so is the newcomer in the peer-joined of the members of a,
 * not of b. */
GST_START_TEST (test_locality_near)
{
  Client *members[10], *newcomer;
  guint i, round, told = 0;

  start_locality_tracker (4, 25, NULL);
  join_two_subnets (members);
  for (i = 0; i < 10; i++)
    client_drop_pending (members[i]);
  newcomer = located_client ("10.0.1.99", "a-peer-new", NULL, NULL);
  for (round = 0; round < 10; round++) {
    g_auto (GStrv) near = NULL;
    g_auto (GStrv) ids = client_get_peers_near (newcomer, &near);

    fail_unless_equals_int (g_strv_length (near), count_group (ids, 'a'));
    fail_unless_equals_int (count_group (near, 'a'), g_strv_length (near));
    fail_unless_equals_int (g_strv_length (near), 3);
  }
  for (i = 0; i < 10; i++) {
    client_round_trip (members[i]);
    if (client_count (members[i], "peer-joined", "a-peer-new") == 0)
      continue;
    told++;
    fail_unless_equals_int (client_told_near (members[i], "a-peer-new"),
        i % 2 == 0);
  }
  fail_unless_equals_int (told, 4);
}

GST_END_TEST;

/* --locality off: the lists are random, whatever the networks. */
GST_START_TEST (test_locality_off)
{
  static const gchar *proxies[] = { "127.0.0.1", NULL };
  MeshTrackerConfig config = { 0, };
  Client *newcomer;
  guint i, seen_b = 0;

  config.trusted_proxies = proxies;
  config.max_peers = 4;
  config.no_locality = TRUE;
  start_tracker (&config);
  join_two_subnets (NULL);
  newcomer = located_client ("10.0.1.99", "a-peer-new", NULL, NULL);
  /* more than 1 of b in 74 % of random lists: never in 40 has a chance of
   * 0.26^40 */
  for (i = 0; i < 40; i++) {
    g_auto (GStrv) near = NULL;
    g_auto (GStrv) peers = client_get_peers_near (newcomer, &near);

    seen_b += count_group (peers, 'b') > 1;
    /* nobody is near when locality is off */
    fail_unless_equals_int (g_strv_length (near), 0);
  }
  fail_unless (seen_b > 0);
}

GST_END_TEST;

static gchar *
write_table (const gchar * text)
{
  g_autoptr (GError) error = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("mesh-asn-XXXXXX.csv", &path, &error);

  fail_unless (fd >= 0, "%s", error ? error->message : "");
  g_close (fd, NULL);
  fail_unless (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* With an ASN table: two /24s of one ASN rank before another ASN; a
 * malformed reload is refused (the line named) and changes nothing; a good
 * reload applies to the joins after it. */
GST_START_TEST (test_locality_asn_reload)
{
  g_autofree gchar *good = write_table ("prefix,asn,name\n"
      "10.0.0.0/16,64500,Near\n10.1.0.0/16,64501,Far\n");
  g_autofree gchar *bad = write_table ("10.0.0.0/16,64500,Near\n"
      "10.1.0.0/16,AS-what,Far\n");
  g_autofree gchar *swapped = write_table ("10.0.0.0/16,64509,Moved\n"
      "10.1.0.0/16,64509,Moved too\n");
  g_autoptr (GError) error = NULL;
  gchar id[16], address[32];
  guint i;

  start_locality_tracker (4, 25, good);
  /* b: 10.0.2.x (ASN 64500); c: 10.1.0.x (ASN 64501) */
  for (i = 0; i < 8; i++) {
    g_snprintf (id, sizeof (id), "%c-peer-%u", i % 2 ? 'c' : 'b', i / 2);
    g_snprintf (address, sizeof (address), i % 2 ? "10.1.0.%u" : "10.0.2.%u",
        10 + i);
    located_client (address, id, NULL, NULL);
  }
  {
    g_auto (GStrv) welcome = NULL;

    located_client ("10.0.1.1", "a-peer-0", NULL, &welcome);
    fail_unless (count_group (welcome, 'b') >= 3);
  }

  fail_if (mesh_tracker_server_load_networks (tracker, bad, NULL, &error));
  fail_unless (strstr (error->message, "line 2: not an ASN") != NULL, "%s",
      error->message);
  fail_if (mesh_tracker_server_load_networks (tracker, good,
          "/nonexistent/regions.csv", NULL));
  /* the table in use is still the good one: at most the one place for
   * other networks goes to c, every time (a random list of 4 of these 9
   * has 2 or more of c in 64 % of the cases) */
  {
    Client *c = located_client ("10.0.3.2", "a-peer-1", NULL, NULL);

    for (i = 0; i < 10; i++) {
      g_auto (GStrv) near = NULL;
      g_auto (GStrv) peers = client_get_peers_near (c, &near);

      fail_unless (count_group (peers, 'c') <= 1);
      /* a-peer-0 and b share our ASN, not our /24: ranked first, yet not
       * near */
      fail_unless_equals_int (g_strv_length (near), 0);
    }
  }

  /* 10.0.x and 10.1.x are both AS64509 for the joins from now on: a
   * newcomer of 10.0.x has only the d members in its ASN; the members that
   * joined before keep theirs */
  fail_unless (mesh_tracker_server_load_networks (tracker, swapped, NULL,
          NULL));
  for (i = 0; i < 4; i++) {
    g_snprintf (id, sizeof (id), "d-peer-%u", i);
    g_snprintf (address, sizeof (address), "10.1.7.%u", 10 + i);
    located_client (address, id, NULL, NULL);
  }
  {
    g_auto (GStrv) welcome = NULL;

    located_client ("10.0.9.1", "a-peer-2", NULL, &welcome);
    fail_unless (count_group (welcome, 'd') >= 3, "%s %s %s %s",
        welcome[0], welcome[1], welcome[2], welcome[3]);
  }
  g_unlink (good);
  g_unlink (bad);
  g_unlink (swapped);
}

GST_END_TEST;

static Suite *
tracker_suite (void)
{
  Suite *s = suite_create ("tracker");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, tracker_setup, tracker_teardown);
  tcase_add_test (tc, test_join_welcome);
  tcase_add_test (tc, test_wrong_subprotocol);
  tcase_add_test (tc, test_max_peers_cap);
  tcase_add_test (tc, test_peer_joined);
  tcase_add_test (tc, test_signal_relay);
  tcase_add_test (tc, test_leave_and_close);
  tcase_add_test (tc, test_peer_left_to_those_who_knew);
  tcase_add_test (tc, test_get_peers);
  tcase_add_test (tc, test_heartbeat_timeout);
  tcase_add_test (tc, test_duplicate_peer_refused);
  tcase_add_test (tc, test_version_mismatch);
  tcase_add_test (tc, test_not_joined);
  tcase_add_test (tc, test_bad_messages);
  tcase_add_test (tc, test_hostile_json);
  tcase_add_test (tc, test_bad_messages_fatal);
  tcase_add_test (tc, test_oversize_message);
  tcase_add_test (tc, test_rate_limit);
  tcase_add_test (tc, test_swarm_full);
  tcase_add_test (tc, test_too_many_swarms);
  tcase_add_test (tc, test_too_many_connections);
  tcase_add_test (tc, test_header_timeout);
  tcase_add_test (tc, test_connections_per_ip);
  tcase_add_test (tc, test_trusted_proxy);
  tcase_add_test (tc, test_forwarded_for_untrusted);
  tcase_add_test (tc, test_joins_per_ip);
  tcase_add_test (tc, test_token_format);
  tcase_add_test (tc, test_tokens);
  tcase_add_test (tc, test_token_limits);
  tcase_add_test (tc, test_secret_file);
  tcase_add_test (tc, test_token_secret_swap);
  tcase_add_test (tc, test_report_removes_peer);
  tcase_add_test (tc, test_reports_rate_limited);
  tcase_add_test (tc, test_health_and_metrics);
  tcase_add_test (tc, test_large_swarm);
  tcase_add_test (tc, test_shutdown_going_away);
  tcase_add_test (tc, test_client_that_does_not_read);
  tcase_add_test (tc, test_pings_without_reading);
  tcase_add_test (tc, test_unfinished_message);
  tcase_add_test (tc, test_close_not_answered);
  tcase_add_test (tc, test_no_compression);
  tcase_add_test (tc, test_websocket_frames);
  tcase_add_test (tc, test_burst_of_messages);
  tcase_add_test (tc, test_large_frame_in_pieces);
  tcase_add_test (tc, test_small_flood);
  tcase_add_test (tc, test_start_errors);

  tc = tcase_create ("locality");
  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, tracker_setup, tracker_teardown);
  tcase_add_test (tc, test_locality_prefix);
  tcase_add_test (tc, test_locality_hint);
  tcase_add_test (tc, test_locality_two_groups_connected);
  tcase_add_test (tc, test_locality_near);
  tcase_add_test (tc, test_locality_off);
  tcase_add_test (tc, test_locality_asn_reload);

  tc = tcase_create ("attest");
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_checked_fixture (tc, attest_setup, attest_teardown);
  tcase_add_test (tc, test_attest_digest);
  tcase_add_test (tc, test_attest_once_per_swarm);
  tcase_add_test (tc, test_attest_refuses_other_urls);
  tcase_add_test (tc, test_attest_not_offered);
  tcase_add_test (tc, test_attest_outstanding_bound);

  return s;
}

GST_CHECK_MAIN (tracker);
