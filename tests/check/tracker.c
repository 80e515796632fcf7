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

/* Connects offering @protocol (none when NULL); NULL and @error on failure. */
static SoupWebsocketConnection *
connect_ws (const gchar * protocol, GError ** error)
{
  g_autoptr (SoupMessage) msg = NULL;
  const gchar *protocols[] = { protocol, NULL };
  ConnectResult r = { 0, };

  msg = soup_message_new ("GET", mesh_tracker_server_get_url (tracker));
  soup_session_websocket_connect_async (session, msg, NULL,
      protocol ? (gchar **) protocols : NULL, G_PRIORITY_DEFAULT, NULL,
      on_connected, &r);
  fail_unless (run_until (flag_is_set, &r.done, WAIT_MS),
      "WebSocket connection timed out");
  if (r.error)
    g_propagate_error (error, r.error);
  return r.ws;
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

GST_START_TEST (test_duplicate_peer_replaced)
{
  Client *a, *b, *a2;
  g_autoptr (JsonNode) welcome = NULL;
  g_autoptr (JsonNode) msg = NULL;
  g_auto (GStrv) ids = NULL;

  start_default_tracker ();
  a = joined_client ("s", "peer-aaaa");
  b = joined_client ("s", "peer-bbbb");
  client_drop_pending (a);
  client_drop_pending (b);

  a2 = client_new ();
  welcome = client_join (a2, "s", "peer-aaaa");
  ids = peer_list (welcome);
  fail_unless_equals_int (g_strv_length (ids), 1);
  fail_unless_equals_string (ids[0], "peer-bbbb");

  client_expect_error (a, "replaced", TRUE);
  client_expect_close (a, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  /* b sees the old connection go and the new one come */
  msg = client_expect (b, "peer-left");
  fail_unless_equals_string (member_string (msg, "peer"), "peer-aaaa");
  g_clear_pointer (&msg, json_node_unref);
  msg = client_expect (b, "peer-joined");
  fail_unless_equals_string (member_string (msg, "peer"), "peer-aaaa");
  g_clear_pointer (&msg, json_node_unref);

  /* and the new one is reachable under the id */
  client_send (b, "{\"type\":\"signal\",\"to\":\"peer-aaaa\",\"data\":\"hi\"}");
  msg = client_expect (a2, "signal");
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);
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

/* A masked client text frame (RFC 6455 5.2) of @text. */
static GBytes *
client_frame (const gchar * text)
{
  const guint8 mask[4] = { 0x12, 0x34, 0x56, 0x78 };
  gsize size = strlen (text), i;
  GByteArray *frame = g_byte_array_new ();
  guint8 header[4];

  header[0] = 0x81;             /* FIN, text */
  if (size < 126) {
    header[1] = 0x80 | size;
    g_byte_array_append (frame, header, 2);
  } else {
    g_assert (size < 65536);
    header[1] = 0x80 | 126;
    header[2] = size >> 8;
    header[3] = size & 0xff;
    g_byte_array_append (frame, header, 4);
  }
  g_byte_array_append (frame, mask, 4);
  for (i = 0; i < size; i++) {
    guint8 byte = text[i] ^ mask[i % 4];

    g_byte_array_append (frame, &byte, 1);
  }
  return g_byte_array_free_to_bytes (frame);
}

/* A WebSocket client that joins @swarm as @peer and then never reads: a
 * plain TCP connection, the handshake done by hand (blocking; the tracker
 * has a thread of its own). */
static GSocketConnection *
deaf_client_new (const gchar * swarm, const gchar * peer)
{
  g_autoptr (GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *request = NULL;
  g_autofree gchar *join = NULL;
  g_autoptr (GBytes) frame = NULL;
  GString *response = g_string_new (NULL);
  GSocketConnection *conn;
  GInputStream *in;
  GOutputStream *out;
  guint port = mesh_tracker_server_get_port (tracker);

  conn = g_socket_client_connect_to_host (socket_client, "127.0.0.1", port,
      NULL, &error);
  fail_unless (conn != NULL, "connect: %s", error ? error->message : "");
  in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));

  request = g_strdup_printf ("GET /announce HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: " MESH_TRACKER_SUBPROTOCOL "\r\n\r\n", port);
  fail_unless (g_output_stream_write_all (out, request, strlen (request),
          NULL, NULL, &error), "write: %s", error ? error->message : "");
  /* the response headers, byte by byte: not one byte more */
  while (!g_str_has_suffix (response->str, "\r\n\r\n")) {
    gchar c;

    fail_unless (g_input_stream_read (in, &c, 1, NULL, &error) == 1,
        "handshake: %s", error ? error->message : "closed");
    g_string_append_c (response, c);
  }
  fail_unless (g_str_has_prefix (response->str, "HTTP/1.1 101"), "%s",
      response->str);
  g_string_free (response, TRUE);

  join = g_strdup_printf ("{\"type\":\"join\",\"version\":1,"
      "\"swarm\":\"%s\",\"peer\":\"%s\"}", swarm, peer);
  frame = client_frame (join);
  fail_unless (g_output_stream_write_all (out, g_bytes_get_data (frame, NULL),
          g_bytes_get_size (frame), NULL, NULL, &error), "write: %s",
      error ? error->message : "");
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
  gchar buffer[65536];
  gssize n;

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
  g_socket_set_timeout (g_socket_connection_get_socket (deaf), 10);
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM
                  (deaf)), buffer, sizeof (buffer), NULL, NULL)) > 0);
  fail_unless_equals_int (n, 0);
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
      "\"peer\":\"peer-cccc\"}");
  client_expect_error (c, "swarm-full", TRUE);
  client_expect_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  /* a full swarm still takes a returning member (replacement) */
  joined_client ("s", "peer-bbbb");
  /* and other swarms are open */
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

GST_START_TEST (test_too_many_connections)
{
  MeshTrackerConfig config = { 0, };
  Client *c;

  config.max_connections = 2;
  start_tracker (&config);
  joined_client ("s", "peer-aaaa");
  client_new ();
  c = client_new ();
  client_expect_error (c, "too-many-connections", TRUE);
  client_expect_close (c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
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
  tcase_add_test (tc, test_duplicate_peer_replaced);
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
  tcase_add_test (tc, test_token_format);
  tcase_add_test (tc, test_tokens);
  tcase_add_test (tc, test_health_and_metrics);
  tcase_add_test (tc, test_large_swarm);
  tcase_add_test (tc, test_shutdown_going_away);
  tcase_add_test (tc, test_client_that_does_not_read);
  tcase_add_test (tc, test_start_errors);

  return s;
}

GST_CHECK_MAIN (tracker);
