/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of MeshTrackerClient (ext/mesh), the MeshSignaller of the
 * WebSocket tracker, against the real tracker (tools/tracker) and against
 * scripted fake trackers: joins and peer lists, signal relay, departures,
 * reconnection after a tracker restart, backoff when nothing listens, join
 * timeout, access tokens, heartbeats, malformed and oversized tracker
 * messages, re-entrant stops, the "error" that reports a tracker that
 * cannot be used (bad URL, nothing listening, refused join or token, lost
 * and not coming back), and the qos reports (only when joined, rebased at
 * every join, with the network hint).
 *
 * Threads: each test runs on the check thread with a GMainContext of its own
 * pushed as thread-default before anything is created; the SoupSession, the
 * clients, their connections and the fake trackers (SoupServer) live on it,
 * and the helpers iterate it until what they wait for has happened or a
 * deadline passes. The real tracker runs on its own thread; it is only
 * reached through its thread-safe getters.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "p2p/mesh-signaller.h"
#include "p2p/mesh-tracker-client.h"
#include "p2p/mesh-tracker-proto.h"
#include "mesh-tracker-server.h"
#include "mesh-test-port.h"
#include "mesh-test-wait.h"

#define WAIT_MS 5000
#define SWARM "live/channel-1"
#define SECRET "open sesame, but longer"
/* short, so that the reconnect tests do not take seconds */
#define TEST_BACKOFF_MS 20

static GMainContext *context;
static SoupSession *session;
static MeshTrackerServer *tracker;
static GPtrArray *recorders;
/* of the clients made from now on */
static guint attest_timeout_ms;

/* ------------------------------------------------------------------------ */
/* waiting                                                                  */

/* Iterates the test context until @cond holds or @ms pass, then asserts it. */
#define WAIT_UNTIL(cond, ms) MESH_TEST_WAIT_UNTIL (context, cond, ms)

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* Runs the test context for @ms: only where the passing of time is the thing
 * under test (heartbeats, the absence of retries). */
static void
run_for (guint ms)
{
  GMainLoop *loop = g_main_loop_new (context, FALSE);
  GSource *timer = g_timeout_source_new (ms);

  g_source_set_callback (timer, quit_loop, loop, NULL);
  g_source_attach (timer, context);
  g_main_loop_run (loop);
  g_source_destroy (timer);
  g_source_unref (timer);
  g_main_loop_unref (loop);
}

/* ------------------------------------------------------------------------ */
/* recording a client's signals                                             */

#define MAX_DISCONNECTS 32

typedef struct
{
  MeshTrackerClient *client;
  guint joined;
  guint peers;                  /* "peers" signals */
  GStrv last_peers;
  GPtrArray *peer_joined;       /* gchar * */
  GPtrArray *peer_left;         /* gchar * */
  guint signals;
  gchar *signal_from;
  JsonObject *signal_data;
  guint errors;                 /* "tracker-error" */
  gchar *error_code;
  gboolean error_fatal;
  guint unusable;               /* MeshSignaller "error" */
  GError *unusable_error;
  guint disconnects_when_unusable;
  guint disconnected;
  GError *disconnect_reason;
  gint64 disconnect_times[MAX_DISCONNECTS];
  gboolean stop_when_joined;
} Recorder;

static void
on_peers (MeshTrackerClient * client, GStrv peers, Recorder * r)
{
  fail_unless (peers != NULL);
  r->peers++;
  g_strfreev (r->last_peers);
  r->last_peers = g_strdupv (peers);
}

/* The welcome's list counts as a peer list. */
static void
on_welcome (MeshTrackerClient * client, GStrv peers, Recorder * r)
{
  r->joined++;
  fail_unless (mesh_tracker_client_is_joined (client));
  on_peers (client, peers, r);
  if (r->stop_when_joined)
    mesh_tracker_client_stop (client);
}

static void
on_peer_joined (MeshTrackerClient * client, const gchar * peer, Recorder * r)
{
  g_ptr_array_add (r->peer_joined, g_strdup (peer));
}

static void
on_peer_left (MeshTrackerClient * client, const gchar * peer, Recorder * r)
{
  g_ptr_array_add (r->peer_left, g_strdup (peer));
}

static void
on_signal (MeshTrackerClient * client, const gchar * from, JsonObject * data,
    Recorder * r)
{
  r->signals++;
  g_free (r->signal_from);
  r->signal_from = g_strdup (from);
  g_clear_pointer (&r->signal_data, json_object_unref);
  r->signal_data = json_object_ref (data);
}

static void
on_tracker_error (MeshTrackerClient * client, const gchar * code,
    const gchar * message, gboolean fatal, Recorder * r)
{
  r->errors++;
  g_free (r->error_code);
  r->error_code = g_strdup (code);
  r->error_fatal = fatal;
}

static void
on_unusable (MeshTrackerClient * client, GError * error, Recorder * r)
{
  fail_unless (error != NULL && error->domain == MESH_SIGNALLER_ERROR);
  r->unusable++;
  g_clear_error (&r->unusable_error);
  r->unusable_error = g_error_copy (error);
  r->disconnects_when_unusable = r->disconnected;
}

static void
on_disconnected (MeshTrackerClient * client, GError * reason, Recorder * r)
{
  fail_unless (reason != NULL);
  fail_if (mesh_tracker_client_is_joined (client));
  if (r->disconnected < MAX_DISCONNECTS)
    r->disconnect_times[r->disconnected] = g_get_monotonic_time ();
  r->disconnected++;
  g_clear_error (&r->disconnect_reason);
  r->disconnect_reason = g_error_copy (reason);
}

static void
recorder_free (gpointer data)
{
  Recorder *r = data;

  mesh_tracker_client_stop (r->client);
  g_object_unref (r->client);
  g_strfreev (r->last_peers);
  g_ptr_array_unref (r->peer_joined);
  g_ptr_array_unref (r->peer_left);
  g_free (r->signal_from);
  g_clear_pointer (&r->signal_data, json_object_unref);
  g_free (r->error_code);
  g_clear_error (&r->unusable_error);
  g_clear_error (&r->disconnect_reason);
  g_free (r);
}

static Recorder *
recorder_new_full (const gchar * url, const gchar * peer, const gchar * token,
    gboolean upload, guint join_timeout_ms)
{
  Recorder *r = g_new0 (Recorder, 1);

  r->client = g_object_new (MESH_TYPE_TRACKER_CLIENT, "session", session,
      "url", url, "swarm-id", SWARM, "peer-id", peer, "token", token,
      "upload", upload, "min-backoff-ms", TEST_BACKOFF_MS,
      "join-timeout-ms", join_timeout_ms, "attest-timeout-ms",
      attest_timeout_ms, NULL);
  r->peer_joined = g_ptr_array_new_with_free_func (g_free);
  r->peer_left = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (r->client, "welcome", G_CALLBACK (on_welcome), r);
  g_signal_connect (r->client, "peers", G_CALLBACK (on_peers), r);
  g_signal_connect (r->client, "peer-joined", G_CALLBACK (on_peer_joined), r);
  g_signal_connect (r->client, "peer-left", G_CALLBACK (on_peer_left), r);
  g_signal_connect (r->client, "message", G_CALLBACK (on_signal), r);
  g_signal_connect (r->client, "tracker-error", G_CALLBACK (on_tracker_error),
      r);
  g_signal_connect (r->client, "error", G_CALLBACK (on_unusable), r);
  g_signal_connect (r->client, "disconnected", G_CALLBACK (on_disconnected), r);
  g_ptr_array_add (recorders, r);
  return r;
}

static Recorder *
recorder_new (const gchar * url, const gchar * peer, gboolean upload)
{
  return recorder_new_full (url, peer, NULL, upload, 10000);
}

/* Starts a client on the real tracker and waits for its welcome. */
static Recorder *
join (const gchar * peer, gboolean upload)
{
  Recorder *r = recorder_new (mesh_tracker_server_get_url (tracker), peer,
      upload);

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->joined == 1, WAIT_MS);
  fail_unless_equals_int (r->disconnected, 0);
  return r;
}

static gboolean
contains (GPtrArray * ids, const gchar * id)
{
  return g_ptr_array_find_with_equal_func (ids, id, g_str_equal, NULL);
}

/* ------------------------------------------------------------------------ */
/* fixture                                                                  */

static void
setup (void)
{
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  session = soup_session_new ();
  recorders = g_ptr_array_new_with_free_func (recorder_free);
  tracker = NULL;
  attest_timeout_ms = 30000;
}

/* Lets the connections that were closed finish their close handshakes: runs
 * the context until nothing happened for a while (bounded). */
static void
drain (void)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline) {
    gboolean quiet = FALSE;
    GSource *timer = g_timeout_source_new (50);
    gboolean busy = FALSE;

    g_source_set_callback (timer, mesh_test_set_flag, &quiet, NULL);
    g_source_attach (timer, context);
    while (!quiet)
      busy |= g_main_context_iteration (context, TRUE) && !quiet;
    g_source_destroy (timer);
    g_source_unref (timer);
    if (!busy)
      break;
  }
}

static void
teardown (void)
{
  g_clear_pointer (&recorders, g_ptr_array_unref);
  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  g_clear_object (&session);
  drain ();
  g_main_context_pop_thread_default (context);
  g_clear_pointer (&context, g_main_context_unref);
}

static MeshTrackerServer *
start_tracker_on (MeshTrackerConfig * config, guint port, GError ** error)
{
  config->host = "127.0.0.1";
  config->port = port;
  return mesh_tracker_server_start (config, error);
}

static void
start_tracker (MeshTrackerConfig * config)
{
  GError *error = NULL;

  tracker = start_tracker_on (config, 0, &error);
  fail_unless (tracker != NULL, "tracker: %s", error ? error->message : "");
}

static void
start_default_tracker (void)
{
  MeshTrackerConfig config = { 0, };

  start_tracker (&config);
}

/* ------------------------------------------------------------------------ */
/* a fake tracker, for what the real one never does                         */

typedef enum
{
  FAKE_SILENT,                  /* accepts, never answers */
  FAKE_SCRIPT,                  /* answers the join with fake->script */
  FAKE_OVERSIZE,                /* welcome, then a message over 1 MiB */
} FakeMode;

typedef struct
{
  SoupServer *server;
  gchar *url;
  FakeMode mode;
  const gchar *const *script;
  GPtrArray *connections;       /* SoupWebsocketConnection */
  GPtrArray *received;          /* JsonObject, what the clients sent */
} Fake;

/* A valid signal whose data nests @depth arrays deep. */
static void
send_deep (SoupWebsocketConnection * ws, guint depth)
{
  GString *text = g_string_new ("{\"type\":\"signal\","
      "\"from\":\"peer-ok-0001\",\"data\":{\"deep\":");
  guint i;

  for (i = 0; i < depth; i++)
    g_string_append_c (text, '[');
  for (i = 0; i < depth; i++)
    g_string_append_c (text, ']');
  g_string_append (text, "}}");
  soup_websocket_connection_send_text (ws, text->str);
  g_string_free (text, TRUE);
}

static void
send_script (SoupWebsocketConnection * ws, const gchar * const *script)
{
  for (; *script; script++) {
    if (g_str_equal (*script, "DEEP")) {
      /* too deep for us, though json-glib would take it */
      send_deep (ws, 100);
      /* deep enough to exhaust json-glib's stack, still under 1 MiB */
      send_deep (ws, 300000);
    } else if (g_str_equal (*script, "BINARY"))
      soup_websocket_connection_send_binary (ws, "\0\1\2", 3);
    else
      soup_websocket_connection_send_text (ws, *script);
  }
}

static void
send_oversize (SoupWebsocketConnection * ws)
{
  gsize size = 1024 * 1024 + 64;
  gchar *text = g_malloc (size + 1);

  /* valid JSON, so that only its size is wrong */
  memset (text, ' ', size);
  memcpy (text, "{\"type\":\"peers\",\"peers\":[]}",
      strlen ("{\"type\":\"peers\",\"peers\":[]}"));
  text[size] = '\0';
  soup_websocket_connection_send_text (ws, text);
  g_free (text);
}

static void
on_fake_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    Fake * fake)
{
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *message;

  fail_unless (type == SOUP_WEBSOCKET_DATA_TEXT);
  fail_unless (json_parser_load_from_data (parser, text, size, &error),
      "client sent bad JSON: %.*s", (int) size, text);
  fail_unless (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  message = json_node_get_object (json_parser_get_root (parser));
  g_ptr_array_add (fake->received, json_object_ref (message));

  if (!g_str_equal (json_object_get_string_member_with_default (message,
              "type", ""), "join"))
    return;
  if (fake->mode == FAKE_SCRIPT) {
    send_script (ws, fake->script);
  } else if (fake->mode == FAKE_OVERSIZE) {
    soup_websocket_connection_send_text (ws, "{\"type\":\"welcome\","
        "\"version\":1,\"peer\":\"peer-client1\",\"swarm\":\"" SWARM "\","
        "\"heartbeat\":15,\"peers\":[]}");
    send_oversize (ws);
  }
}

static void
on_fake_websocket (SoupServer * server, SoupServerMessage * msg,
    const char *path, SoupWebsocketConnection * ws, gpointer data)
{
  Fake *fake = data;

  /* the client's join is small, but our test messages are not */
  soup_websocket_connection_set_max_incoming_payload_size (ws, 4096);
  g_ptr_array_add (fake->connections, g_object_ref (ws));
  g_signal_connect (ws, "message", G_CALLBACK (on_fake_message), fake);
}

static Fake *
fake_new (FakeMode mode, const gchar * const *script)
{
  Fake *fake = g_new0 (Fake, 1);
  const gchar *protocols[] = { MESH_TRACKER_SUBPROTOCOL, NULL };
  GError *error = NULL;
  GSList *uris;

  fake->mode = mode;
  fake->script = script;
  fake->connections = g_ptr_array_new_with_free_func (g_object_unref);
  fake->received = g_ptr_array_new_with_free_func ((GDestroyNotify)
      json_object_unref);
  fake->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (fake->server, "/announce", NULL,
      (gchar **) protocols, on_fake_websocket, fake, NULL);
  fail_unless (soup_server_listen_local (fake->server, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, &error), "listen: %s",
      error ? error->message : "");
  uris = soup_server_get_uris (fake->server);
  fail_unless (uris != NULL);
  fake->url = g_strdup_printf ("ws://127.0.0.1:%d/announce",
      g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return fake;
}

static void
fake_free (Fake * fake)
{
  guint i;

  for (i = 0; i < fake->connections->len; i++) {
    SoupWebsocketConnection *ws = g_ptr_array_index (fake->connections, i);

    g_signal_handlers_disconnect_by_data (ws, fake);
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
          NULL);
  }
  soup_server_disconnect (fake->server);
  g_object_unref (fake->server);
  g_ptr_array_unref (fake->connections);
  g_ptr_array_unref (fake->received);
  g_free (fake->url);
  g_free (fake);
}

/* ------------------------------------------------------------------------ */
/* tests                                                                    */

GST_START_TEST (test_join_and_discover)
{
  Recorder *a, *b;

  start_default_tracker ();

  a = join ("peer-alice", TRUE);
  WAIT_UNTIL (a->peers == 1, WAIT_MS);
  fail_unless_equals_int (g_strv_length (a->last_peers), 0);

  b = join ("peer-bob00", FALSE);
  /* b learns about a from the welcome, a about b from peer-joined */
  WAIT_UNTIL (b->peers == 1, WAIT_MS);
  fail_unless_equals_int (g_strv_length (b->last_peers), 1);
  fail_unless_equals_string (b->last_peers[0], "peer-alice");
  WAIT_UNTIL (a->peer_joined->len == 1, WAIT_MS);
  fail_unless (contains (a->peer_joined, "peer-bob00"));

  mesh_tracker_client_request_peers (a->client);
  WAIT_UNTIL (a->peers == 2, WAIT_MS);
  fail_unless_equals_int (g_strv_length (a->last_peers), 1);
  fail_unless_equals_string (a->last_peers[0], "peer-bob00");

  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 2);
  fail_unless_equals_int (a->errors + b->errors, 0);
  fail_unless_equals_int (a->disconnected + b->disconnected, 0);
}

GST_END_TEST;

GST_START_TEST (test_uploaders_first)
{
  const gchar *ids[] = { "peer-down-1", "peer-up-001", "peer-down-2",
    "peer-up-002"
  };
  Recorder *newcomer;
  guint i;

  start_default_tracker ();
  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    join (ids[i], g_str_has_prefix (ids[i], "peer-up"));

  newcomer = join ("peer-newcomer", FALSE);
  WAIT_UNTIL (newcomer->peers == 1, WAIT_MS);
  fail_unless_equals_int (g_strv_length (newcomer->last_peers), 4);
  for (i = 0; i < 2; i++)
    fail_unless (g_str_has_prefix (newcomer->last_peers[i], "peer-up"),
        "%s, which does not upload, listed first", newcomer->last_peers[i]);
  for (i = 2; i < 4; i++)
    fail_unless (g_str_has_prefix (newcomer->last_peers[i], "peer-down"),
        "%s listed among the uploaders", newcomer->last_peers[i]);
}

GST_END_TEST;

GST_START_TEST (test_signal_relay)
{
  Recorder *a, *b;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *payload;

  start_default_tracker ();
  a = join ("peer-alice", TRUE);
  b = join ("peer-bob00", TRUE);

  fail_unless (json_parser_load_from_data (parser, "{\"kind\":\"offer\","
          "\"sdp\":\"v=0\\r\\no=- 1 1 IN IP4 127.0.0.1\\r\\n\","
          "\"candidates\":[{\"foundation\":\"1\",\"port\":4242}],"
          "\"unicode\":\"h\\u00e9\",\"n\":7}", -1, NULL));
  payload = json_node_get_object (json_parser_get_root (parser));

  mesh_tracker_client_send_signal (a->client, "peer-bob00", payload);
  WAIT_UNTIL (b->signals == 1, WAIT_MS);
  fail_unless_equals_string (b->signal_from, "peer-alice");
  fail_unless (json_object_equal (b->signal_data, payload),
      "the payload changed on the way");

  /* and back */
  mesh_tracker_client_send_signal (b->client, "peer-alice", b->signal_data);
  WAIT_UNTIL (a->signals == 1, WAIT_MS);
  fail_unless_equals_string (a->signal_from, "peer-bob00");
  fail_unless (json_object_equal (a->signal_data, payload));

  /* to nobody: the tracker says so, and we stay joined */
  mesh_tracker_client_send_signal (a->client, "peer-nobody", payload);
  WAIT_UNTIL (a->errors == 1, WAIT_MS);
  fail_unless_equals_string (a->error_code, "unknown-peer");
  fail_if (a->error_fatal);
  fail_unless (mesh_tracker_client_is_joined (a->client));
  fail_unless_equals_int (a->disconnected, 0);
}

GST_END_TEST;

GST_START_TEST (test_not_joined_drops)
{
  Recorder *idle;
  JsonObject *payload = json_object_new ();

  /* nothing listens at this URL, and the client is not even started */
  idle = recorder_new ("ws://127.0.0.1:9/announce", "peer-idle01", FALSE);
  fail_if (mesh_tracker_client_is_joined (idle->client));
  mesh_tracker_client_send_signal (idle->client, "peer-bob00", payload);
  mesh_tracker_client_request_peers (idle->client);
  mesh_tracker_client_stop (idle->client);
  /* stopping twice, or something never started, is fine */
  mesh_tracker_client_stop (idle->client);
  while (g_main_context_iteration (context, FALSE));
  fail_unless_equals_int (idle->disconnected + idle->errors + idle->joined, 0);
  json_object_unref (payload);
}

GST_END_TEST;

static gchar *
fetch_metrics (void)
{
  g_autofree gchar *url = g_strconcat (mesh_tracker_server_get_http_url
      (tracker), "/metrics", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL,
      &error);

  fail_unless (body != NULL, "/metrics: %s", error ? error->message : "");
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

GST_START_TEST (test_peer_left)
{
  Recorder *a, *b;
  guint b_peers;
  g_autofree gchar *metrics = NULL;

  start_default_tracker ();
  a = join ("peer-alice", FALSE);
  b = join ("peer-bob00", FALSE);
  WAIT_UNTIL (a->peer_joined->len == 1, WAIT_MS);

  mesh_tracker_client_stop (b->client);
  fail_if (mesh_tracker_client_is_joined (b->client));
  b_peers = b->peers;

  WAIT_UNTIL (a->peer_left->len == 1, WAIT_MS);
  fail_unless_equals_string (g_ptr_array_index (a->peer_left, 0), "peer-bob00");
  WAIT_UNTIL (mesh_tracker_server_get_peers (tracker) == 1, WAIT_MS);

  /* a round trip of a's: b, stopped, heard nothing meanwhile */
  mesh_tracker_client_request_peers (a->client);
  WAIT_UNTIL (a->peers == 2, WAIT_MS);
  fail_unless_equals_int (g_strv_length (a->last_peers), 0);
  fail_unless_equals_int (b->peers, b_peers);
  fail_unless_equals_int (b->disconnected, 0);
  fail_unless_equals_int (b->joined, 1);

  /* b said goodbye rather than just hanging up */
  metrics = fetch_metrics ();
  fail_unless (strstr (metrics, "mesh_tracker_disconnects_total"
          "{reason=\"leave\"} 1\n") != NULL, "%s", metrics);
}

GST_END_TEST;

GST_START_TEST (test_reconnect_after_restart)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GError) error = NULL;
  Recorder *a, *b;
  guint port;

  start_default_tracker ();
  port = mesh_tracker_server_get_port (tracker);
  a = join ("peer-alice", FALSE);

  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  WAIT_UNTIL (a->disconnected >= 1, WAIT_MS);
  fail_if (mesh_tracker_client_is_joined (a->client));

  /* the port was ours a moment ago; SO_REUSEADDR lets us have it again */
  tracker = start_tracker_on (&config, port, &error);
  if (!tracker) {
    GST_WARNING ("could not restart the tracker on port %u (%s): skipping "
        "the reconnection part", port, error->message);
    return;
  }

  WAIT_UNTIL (a->joined == 2, WAIT_MS);
  fail_unless (mesh_tracker_client_is_joined (a->client));
  b = join ("peer-bob00", FALSE);
  WAIT_UNTIL (b->peers == 1, WAIT_MS);
  fail_unless_equals_int (g_strv_length (b->last_peers), 1);
  fail_unless_equals_string (b->last_peers[0], "peer-alice");
}

GST_END_TEST;

/* "url" naming several trackers: a dead one is passed over, and a tracker
 * that goes away is replaced by the next one at the reconnect. */
GST_START_TEST (test_several_trackers)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GError) error = NULL;
  MeshTrackerServer *second;
  g_autofree gchar *urls = NULL;
  Recorder *r;

  start_default_tracker ();
  second = start_tracker_on (&config, 0, &error);
  fail_unless (second != NULL, "%s", error ? error->message : "");
  urls = g_strdup_printf ("ws://127.0.0.1:%u/announce, %s %s",
      mesh_test_unused_port (), mesh_tracker_server_get_url (tracker),
      mesh_tracker_server_get_url (second));
  r = recorder_new (urls, "peer-roamer", FALSE);
  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->joined == 1, WAIT_MS);
  fail_unless_equals_int (r->disconnected, 1);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 1);

  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  WAIT_UNTIL (r->joined == 2, WAIT_MS);
  fail_unless_equals_int (r->disconnected, 2);
  fail_unless_equals_int (mesh_tracker_server_get_peers (second), 1);
  mesh_tracker_client_stop (r->client);
  mesh_tracker_server_stop (second);
}

GST_END_TEST;

GST_START_TEST (test_backoff_when_nothing_listens)
{
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/announce",
      mesh_test_unused_port ());
  Recorder *r = recorder_new (url, "peer-lonely", FALSE);
  gint64 first, later;
  guint count;

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->disconnected >= 5, WAIT_MS);
  fail_unless_equals_int (r->joined, 0);
  fail_unless (r->disconnect_reason != NULL);

  /* 20, 40, 80, 160 ms (+-20%): the delays grow */
  first = r->disconnect_times[1] - r->disconnect_times[0];
  later = r->disconnect_times[4] - r->disconnect_times[3];
  fail_unless (later > 2 * first, "backoff did not grow: %" G_GINT64_FORMAT
      " us then %" G_GINT64_FORMAT " us", first, later);
  fail_unless (first >= (TEST_BACKOFF_MS * 1000) * 8 / 10,
      "retried after %" G_GINT64_FORMAT " us", first);

  /* reported once, after the third attempt; the retries go on */
  fail_unless_equals_int (r->unusable, 1);
  fail_unless_equals_int (r->disconnects_when_unusable, 3);
  fail_unless (g_error_matches (r->unusable_error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_UNREACHABLE));
  fail_unless (strstr (r->unusable_error->message, url) != NULL, "%s",
      r->unusable_error->message);

  /* and stop() ends the retries */
  mesh_tracker_client_stop (r->client);
  count = r->disconnected;
  run_for (300);
  fail_unless_equals_int (r->disconnected, count);
}

GST_END_TEST;

GST_START_TEST (test_bad_url)
{
  const gchar *urls[] = { "http://127.0.0.1:1/announce", "not a url at all",
    "ws:///announce"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (urls); i++) {
    Recorder *r = recorder_new (urls[i], "peer-badurl", FALSE);

    mesh_tracker_client_start (r->client);
    /* what start() finds comes from the main loop, not from inside it */
    fail_unless_equals_int (r->disconnected + r->unusable, 0);
    WAIT_UNTIL (r->unusable == 1, WAIT_MS);
    fail_unless_equals_int (r->disconnected, 1);
    fail_unless (g_error_matches (r->unusable_error, MESH_SIGNALLER_ERROR,
            MESH_SIGNALLER_ERROR_INVALID_CONFIG), "%s",
        r->unusable_error->message);
    fail_unless (strstr (r->unusable_error->message, urls[i]) != NULL,
        "the error does not name the tracker: %s", r->unusable_error->message);
    /* no retry: a URL does not get better */
    run_for (100);
    fail_unless_equals_int (r->disconnected, 1);
    fail_unless_equals_int (r->unusable, 1);
  }
}

GST_END_TEST;

GST_START_TEST (test_join_timeout)
{
  Fake *fake = fake_new (FAKE_SILENT, NULL);
  Recorder *r = recorder_new_full (fake->url, "peer-patient", "tok-1", TRUE,
      200);
  JsonObject *join_msg, *caps;

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->disconnected == 1, WAIT_MS);
  fail_unless (g_error_matches (r->disconnect_reason, G_IO_ERROR,
          G_IO_ERROR_TIMED_OUT), "reason: %s", r->disconnect_reason->message);
  fail_unless_equals_int (r->joined, 0);

  /* the join it sent, which the fake ignored */
  fail_unless (fake->received->len >= 1);
  join_msg = g_ptr_array_index (fake->received, 0);
  fail_unless_equals_string (json_object_get_string_member (join_msg, "type"),
      "join");
  fail_unless_equals_int (json_object_get_int_member (join_msg, "version"), 1);
  fail_unless_equals_string (json_object_get_string_member (join_msg,
          "swarm"), SWARM);
  fail_unless_equals_string (json_object_get_string_member (join_msg, "peer"),
      "peer-patient");
  fail_unless_equals_string (json_object_get_string_member (join_msg,
          "token"), "tok-1");
  caps = json_object_get_object_member (join_msg, "caps");
  fail_unless (caps && json_object_get_boolean_member (caps, "upload"));

  /* then it tries again */
  WAIT_UNTIL (fake->connections->len >= 2, WAIT_MS);
  mesh_tracker_client_stop (r->client);
  fake_free (fake);
}

GST_END_TEST;

/* Everything a broken tracker could say, with a few good messages in
 * between; the last one is what the test waits for. */
static const gchar *const garbage_script[] = {
  "BINARY",
  "not json at all {",
  "[1,2,3]",
  "42",
  "\"just a string\"",
  "{}",
  "{\"type\":7}",
  "{\"type\":null}",
  /* before the welcome: not yet */
  "{\"type\":\"peers\",\"peers\":[{\"peer\":\"peer-early01\"}]}",
  "{\"type\":\"signal\",\"from\":\"peer-early01\",\"data\":{}}",
  "{\"type\":\"peer-joined\",\"peer\":\"peer-early01\"}",
  "{\"type\":\"welcome\",\"version\":1,\"peer\":\"peer-client1\","
      "\"swarm\":\"" SWARM "\",\"heartbeat\":\"soon\",\"peers\":[1,\"x\","
      "null,[],{\"peer\":5},{\"upload\":true},{\"peer\":\"\"},"
      "{\"peer\":\"peer-ok-0001\",\"upload\":\"yes\"},"
      "{\"peer\":\"peer-up-0001\",\"upload\":true},"
      "{\"peer\":\"peer-client1\",\"upload\":true}]}",
  /* a second welcome is no second join */
  "{\"type\":\"welcome\",\"version\":1,\"peers\":[]}",
  "{\"type\":\"peers\",\"peers\":{\"peer\":\"peer-ok-0001\"}}",
  "{\"type\":\"peers\"}",
  "{\"type\":\"peer-joined\"}",
  "{\"type\":\"peer-joined\",\"peer\":12}",
  "{\"type\":\"peer-joined\",\"peer\":\"peer-client1\"}",
  "{\"type\":\"peer-left\",\"peer\":[]}",
  "{\"type\":\"signal\",\"from\":\"peer-ok-0001\"}",
  "{\"type\":\"signal\",\"from\":\"peer-ok-0001\",\"data\":\"text\"}",
  "{\"type\":\"signal\",\"from\":\"peer-ok-0001\",\"data\":[1]}",
  "{\"type\":\"signal\",\"data\":{}}",
  "{\"type\":\"signal\",\"from\":[],\"data\":{}}",
  "{\"type\":\"a-future-message\",\"x\":{\"y\":[1,2]}}",
  "DEEP",
  "{\"type\":\"error\"}",
  "{\"type\":\"error\",\"code\":5,\"message\":null,\"fatal\":\"yes\"}",
  /* the good ones */
  "{\"type\":\"peer-joined\",\"peer\":\"peer-new-0001\",\"upload\":false}",
  "{\"type\":\"signal\",\"from\":\"peer-ok-0001\",\"data\":{\"k\":\"v\","
      "\"s\":\"[{\\\"\"}}",
  "{\"type\":\"peer-left\",\"peer\":\"peer-new-0001\"}",
  NULL
};

GST_START_TEST (test_malformed_messages)
{
  Fake *fake = fake_new (FAKE_SCRIPT, garbage_script);
  Recorder *r = recorder_new (fake->url, "peer-client1", FALSE);

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->peer_left->len == 1, WAIT_MS);

  fail_unless_equals_int (r->joined, 1);
  fail_unless (mesh_tracker_client_is_joined (r->client));
  fail_unless_equals_int (r->disconnected, 0);
  /* the welcome's usable entries only, uploaders first, ourselves left out */
  fail_unless_equals_int (r->peers, 1);
  fail_unless_equals_int (g_strv_length (r->last_peers), 2);
  fail_unless_equals_string (r->last_peers[0], "peer-up-0001");
  fail_unless_equals_string (r->last_peers[1], "peer-ok-0001");
  fail_unless_equals_int (r->peer_joined->len, 1);
  fail_unless_equals_string (g_ptr_array_index (r->peer_joined, 0),
      "peer-new-0001");
  fail_unless_equals_string (g_ptr_array_index (r->peer_left, 0),
      "peer-new-0001");
  fail_unless_equals_int (r->signals, 1);
  fail_unless_equals_string (r->signal_from, "peer-ok-0001");
  fail_unless_equals_string (json_object_get_string_member (r->signal_data,
          "s"), "[{\"");
  /* the two shapeless errors, non-fatal */
  fail_unless_equals_int (r->errors, 2);
  fail_unless_equals_string (r->error_code, "unknown");
  fail_if (r->error_fatal);

  mesh_tracker_client_stop (r->client);
  fake_free (fake);
}

GST_END_TEST;

static const gchar *const near_script[] = {
  "{\"type\":\"welcome\",\"version\":1,\"peer\":\"peer-client1\","
      "\"swarm\":\"" SWARM "\",\"heartbeat\":15,\"peers\":["
      "{\"peer\":\"peer-near-001\",\"upload\":true,\"near\":true},"
      "{\"peer\":\"peer-far-0001\",\"upload\":true,\"near\":\"yes\"},"
      "{\"peer\":\"peer-client1\",\"upload\":true,\"near\":true}]}",
  /* the latest word counts: near-001 is listed far now */
  "{\"type\":\"peers\",\"peers\":[{\"peer\":\"peer-near-001\"},"
      "{\"peer\":\"peer-near-002\",\"near\":true},"
      "{\"peer\":\"peer-near-004\",\"near\":true}]}",
  "{\"type\":\"peer-joined\",\"peer\":\"peer-near-003\",\"near\":true}",
  "{\"type\":\"peer-joined\",\"peer\":\"peer-far-0002\",\"near\":1}",
  /* gone: forgotten */
  "{\"type\":\"peer-left\",\"peer\":\"peer-near-002\"}",
  NULL
};

/* A tracker that calls more peers near than the client remembers: past
 * MESH_TRACKER_CLIENT_MAX_NEAR_PEERS, the others are taken as far. */
GST_START_TEST (test_near_peers_bounded)
{
  GPtrArray *script = g_ptr_array_new_with_free_func (g_free);
  guint n = MESH_TRACKER_CLIENT_MAX_NEAR_PEERS + 1, i;
  Fake *fake;
  Recorder *r;

  g_ptr_array_add (script, g_strdup ("{\"type\":\"welcome\",\"version\":1,"
          "\"peer\":\"peer-client1\",\"swarm\":\"" SWARM "\","
          "\"heartbeat\":15,\"peers\":[]}"));
  for (i = 0; i < n; i++)
    g_ptr_array_add (script, g_strdup_printf ("{\"type\":\"peer-joined\","
            "\"peer\":\"peer-n%05u\",\"near\":true}", i));
  /* the last message, to know all the others were read */
  g_ptr_array_add (script, g_strdup ("{\"type\":\"peer-left\","
          "\"peer\":\"peer-n00000\"}"));
  g_ptr_array_add (script, NULL);
  fake = fake_new (FAKE_SCRIPT, (const gchar * const *) script->pdata);
  r = recorder_new (fake->url, "peer-client1", FALSE);

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->peer_left->len == 1, WAIT_MS);
  fail_unless (mesh_signaller_is_near (MESH_SIGNALLER (r->client),
          "peer-n00001"));
  fail_unless (mesh_signaller_is_near (MESH_SIGNALLER (r->client),
          "peer-n04095"));
  /* the 4097th near peer came with 4096 remembered */
  fail_if (mesh_signaller_is_near (MESH_SIGNALLER (r->client), "peer-n04096"));

  mesh_tracker_client_stop (r->client);
  fake_free (fake);
  g_ptr_array_unref (script);
}

GST_END_TEST;

/* The client answers is_near() from the tracker's latest "near" for each
 * peer, reading anything but true as far, forgetting those that left and
 * everything once not joined. */
GST_START_TEST (test_near_peers)
{
  Fake *fake = fake_new (FAKE_SCRIPT, near_script);
  Recorder *r = recorder_new (fake->url, "peer-client1", FALSE);
  MeshSignaller *signaller = MESH_SIGNALLER (r->client);

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->peer_left->len == 1, WAIT_MS);

  fail_if (mesh_signaller_is_near (signaller, "peer-near-001"));
  fail_if (mesh_signaller_is_near (signaller, "peer-far-0001"));
  fail_if (mesh_signaller_is_near (signaller, "peer-client1"));
  fail_if (mesh_signaller_is_near (signaller, "peer-near-002"));
  fail_unless (mesh_signaller_is_near (signaller, "peer-near-003"));
  fail_unless (mesh_signaller_is_near (signaller, "peer-near-004"));
  fail_if (mesh_signaller_is_near (signaller, "peer-far-0002"));
  fail_if (mesh_signaller_is_near (signaller, "peer-unknown1"));

  mesh_tracker_client_stop (r->client);
  fail_if (mesh_signaller_is_near (signaller, "peer-near-003"));
  fake_free (fake);
}

GST_END_TEST;

static const gchar *const refuse_join_script[] = {
  "{\"type\":\"error\",\"code\":\"bad-message\",\"message\":\"join: "
      "\\\"peer\\\" must be 8 to 64 characters\",\"fatal\":false}",
  NULL
};

GST_START_TEST (test_join_refused_as_malformed)
{
  Fake *fake = fake_new (FAKE_SCRIPT, refuse_join_script);
  Recorder *r = recorder_new (fake->url, "peer-client1", FALSE);

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->disconnected == 1, WAIT_MS);
  fail_unless_equals_int (r->errors, 1);
  fail_unless_equals_string (r->error_code, "bad-message");
  fail_unless_equals_int (r->joined, 0);
  fail_unless_equals_int (r->unusable, 1);
  fail_unless (g_error_matches (r->unusable_error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_REFUSED), "%s", r->unusable_error->message);
  fail_unless (strstr (r->unusable_error->message, fake->url) != NULL, "%s",
      r->unusable_error->message);
  fail_unless (strstr (r->unusable_error->message, "must be 8 to 64") !=
      NULL, "the reason is missing: %s", r->unusable_error->message);
  /* the same join would be refused again: no retry */
  run_for (20 * TEST_BACKOFF_MS);
  fail_unless_equals_int (fake->connections->len, 1);
  fail_unless_equals_int (r->disconnected, 1);
  fail_unless_equals_int (r->unusable, 1);

  mesh_tracker_client_stop (r->client);
  fake_free (fake);
}

GST_END_TEST;

GST_START_TEST (test_oversized_message)
{
  Fake *fake = fake_new (FAKE_OVERSIZE, NULL);
  Recorder *r = recorder_new (fake->url, "peer-client1", FALSE);

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->disconnected == 1, WAIT_MS);
  fail_unless_equals_int (r->joined, 1);
  fail_unless_equals_int (r->peers, 1); /* the welcome's, not the big one */
  fail_unless (g_error_matches (r->disconnect_reason, SOUP_WEBSOCKET_ERROR,
          SOUP_WEBSOCKET_CLOSE_TOO_BIG), "reason: %s",
      r->disconnect_reason->message);
  /* not the tracker's fault forever: it reconnects */
  WAIT_UNTIL (r->joined == 2, WAIT_MS);

  mesh_tracker_client_stop (r->client);
  fake_free (fake);
}

GST_END_TEST;

GST_START_TEST (test_token)
{
  MeshTrackerConfig config = { 0, };
  g_autofree gchar *good = NULL;
  g_autofree gchar *other_swarm = NULL;
  MeshTrackerStats stats;
  Recorder *ok, *bad, *none;
  guint64 errors;

  config.token_secret = SECRET;
  start_tracker (&config);
  good = mesh_tracker_make_token (SECRET, SWARM,
      g_get_real_time () / G_USEC_PER_SEC + 3600);
  other_swarm = mesh_tracker_make_token (SECRET, "another swarm",
      g_get_real_time () / G_USEC_PER_SEC + 3600);

  ok = recorder_new_full (mesh_tracker_server_get_url (tracker),
      "peer-ticket1", good, FALSE, 10000);
  mesh_tracker_client_start (ok->client);
  WAIT_UNTIL (ok->joined == 1, WAIT_MS);

  bad = recorder_new_full (mesh_tracker_server_get_url (tracker),
      "peer-ticket2", other_swarm, FALSE, 10000);
  none = recorder_new_full (mesh_tracker_server_get_url (tracker),
      "peer-ticket3", NULL, FALSE, 10000);
  mesh_tracker_client_start (bad->client);
  mesh_tracker_client_start (none->client);
  WAIT_UNTIL (bad->disconnected == 1 && none->disconnected == 1, WAIT_MS);
  fail_unless_equals_int (bad->errors, 1);
  fail_unless_equals_string (bad->error_code, "unauthorized");
  fail_unless (bad->error_fatal);
  fail_unless_equals_int (none->errors, 1);
  fail_unless_equals_string (none->error_code, "unauthorized");
  fail_unless_equals_int (bad->joined + none->joined, 0);
  /* both reported unusable at once, naming the tracker and why */
  fail_unless_equals_int (bad->unusable, 1);
  fail_unless_equals_int (none->unusable, 1);
  fail_unless (g_error_matches (bad->unusable_error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_UNAUTHORIZED));
  fail_unless (g_error_matches (none->unusable_error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_UNAUTHORIZED));
  fail_unless (strstr (bad->unusable_error->message,
          mesh_tracker_server_get_url (tracker)) != NULL, "%s",
      bad->unusable_error->message);
  fail_unless (strstr (bad->unusable_error->message, "invalid or expired")
      != NULL, "%s", bad->unusable_error->message);
  fail_unless (strstr (none->unusable_error->message, "needs a token")
      != NULL, "%s", none->unusable_error->message);
  fail_unless_equals_int (ok->unusable, 0);

  /* no retry: many backoff periods later, nothing more happened */
  mesh_tracker_server_get_stats (tracker, &stats);
  errors = stats.errors;
  run_for (20 * TEST_BACKOFF_MS);
  fail_unless_equals_int (bad->disconnected, 1);
  fail_unless_equals_int (none->disconnected, 1);
  mesh_tracker_server_get_stats (tracker, &stats);
  fail_unless_equals_int (stats.errors, errors);
  fail_unless_equals_int (stats.joins, 1);
  fail_unless (mesh_tracker_client_is_joined (ok->client));

  /* start() again is a fresh try (refused, and reported, again) */
  mesh_tracker_client_start (bad->client);
  WAIT_UNTIL (bad->disconnected == 2, WAIT_MS);
  fail_unless_equals_int (bad->errors, 2);
  WAIT_UNTIL (bad->unusable == 2, WAIT_MS);
}

GST_END_TEST;

/* A token replaced while joined is the one the next join sends: after a
 * tracker restart the client rejoins with it (here one for another swarm,
 * so that the tracker's refusal shows which token came). */
GST_START_TEST (test_token_replaced_while_joined)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *good = NULL;
  g_autofree gchar *other_swarm = NULL;
  Recorder *r;
  guint port;

  config.token_secret = SECRET;
  start_tracker (&config);
  port = mesh_tracker_server_get_port (tracker);
  good = mesh_tracker_make_token (SECRET, SWARM,
      g_get_real_time () / G_USEC_PER_SEC + 3600);
  other_swarm = mesh_tracker_make_token (SECRET, "another swarm",
      g_get_real_time () / G_USEC_PER_SEC + 3600);
  r = recorder_new_full (mesh_tracker_server_get_url (tracker),
      "peer-renewed", good, FALSE, 10000);
  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->joined == 1, WAIT_MS);

  g_object_set (r->client, "token", other_swarm, NULL);
  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  WAIT_UNTIL (r->disconnected >= 1, WAIT_MS);
  tracker = start_tracker_on (&config, port, &error);
  if (!tracker) {
    GST_WARNING ("could not restart the tracker on port %u (%s): skipping",
        port, error->message);
    return;
  }
  WAIT_UNTIL (r->errors == 1, WAIT_MS);
  fail_unless_equals_string (r->error_code, "unauthorized");
  fail_unless_equals_int (r->joined, 1);
}

GST_END_TEST;

/* A report reaches the tracker; the peer it removes is told why and does
 * not come back (its id is refused), and the others see it leave. */
GST_START_TEST (test_report_and_banned)
{
  MeshTrackerConfig config = { 0, };
  MeshTrackerStats stats;
  Recorder *a, *b, *idle;

  config.report_threshold = 1;
  start_tracker (&config);
  a = join ("peer-reporter", TRUE);
  b = join ("peer-reported", TRUE);

  /* not joined, or no peer id: nothing is sent */
  idle = recorder_new (mesh_tracker_server_get_url (tracker), "peer-idle001",
      FALSE);
  mesh_signaller_report (MESH_SIGNALLER (idle->client), "peer-reported",
      "not joined");
  mesh_signaller_report (MESH_SIGNALLER (a->client), "not an id!", "x");

  mesh_signaller_report (MESH_SIGNALLER (a->client), "peer-reported",
      "segment 7: sha-256 mismatch");
  WAIT_UNTIL (b->unusable == 1, WAIT_MS);
  fail_unless (g_error_matches (b->unusable_error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_REFUSED), "%s", b->unusable_error->message);
  fail_unless_equals_string (b->error_code, "banned");
  WAIT_UNTIL (contains (a->peer_left, "peer-reported"), WAIT_MS);

  mesh_tracker_server_get_stats (tracker, &stats);
  fail_unless_equals_int (stats.reports, 1);
  /* the ban is the only error: the malformed report was never sent */
  fail_unless_equals_int (stats.errors, 1);
  run_for (20 * TEST_BACKOFF_MS);
  fail_unless_equals_int (b->disconnected, 1);
  mesh_tracker_server_get_stats (tracker, &stats);
  fail_unless_equals_int (stats.joins, 2);
}

GST_END_TEST;

/* A join with an id in use is refused, not a takeover: the client tries
 * again until the id is free (its own previous connection, usually). */
GST_START_TEST (test_peer_id_taken_retries)
{
  Recorder *owner, *twin;

  start_default_tracker ();
  owner = join ("peer-twin0001", FALSE);
  twin = recorder_new (mesh_tracker_server_get_url (tracker),
      "peer-twin0001", FALSE);
  mesh_tracker_client_start (twin->client);
  WAIT_UNTIL (twin->disconnected >= 2, WAIT_MS);
  fail_unless_equals_string (twin->error_code, "peer-id-taken");
  fail_unless (twin->error_fatal);
  fail_if (twin->unusable && g_error_matches (twin->unusable_error,
          MESH_SIGNALLER_ERROR, MESH_SIGNALLER_ERROR_REFUSED));
  fail_unless (mesh_tracker_client_is_joined (owner->client));
  fail_unless_equals_int (owner->disconnected, 0);

  mesh_tracker_client_stop (owner->client);
  WAIT_UNTIL (twin->joined == 1, WAIT_MS);
}

GST_END_TEST;

static const gchar *const swarm_full_script[] = {
  "{\"type\":\"error\",\"code\":\"swarm-full\",\"message\":\"this swarm "
      "has too many peers\",\"fatal\":true}",
  NULL
};

/* A refusal is reported at once, and not retried. */
GST_START_TEST (test_unusable_refused_join)
{
  Fake *fake = fake_new (FAKE_SCRIPT, swarm_full_script);
  Recorder *r = recorder_new (fake->url, "peer-client1", FALSE);

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->unusable == 1, WAIT_MS);
  fail_unless (g_error_matches (r->unusable_error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_REFUSED), "%s", r->unusable_error->message);
  fail_unless (strstr (r->unusable_error->message, fake->url) != NULL, "%s",
      r->unusable_error->message);
  fail_unless (strstr (r->unusable_error->message, "swarm-full") != NULL,
      "%s", r->unusable_error->message);
  fail_unless_equals_int (r->disconnected, 1);
  run_for (20 * TEST_BACKOFF_MS);
  fail_unless_equals_int (fake->connections->len, 1);
  fail_unless_equals_int (r->unusable, 1);

  mesh_tracker_client_stop (r->client);
  fake_free (fake);
}

GST_END_TEST;

/* A tracker that answers the handshake but never the join counts as gone
 * too: each join timeout is a failed attempt. */
GST_START_TEST (test_unusable_silent_tracker)
{
  Fake *fake = fake_new (FAKE_SILENT, NULL);
  Recorder *r = recorder_new_full (fake->url, "peer-patient", NULL, FALSE,
      50);

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->unusable == 1, WAIT_MS);
  fail_unless_equals_int (r->disconnects_when_unusable, 3);
  fail_unless (g_error_matches (r->unusable_error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_UNREACHABLE));
  fail_unless (strstr (r->unusable_error->message, "did not answer the join")
      != NULL, "%s", r->unusable_error->message);
  mesh_tracker_client_stop (r->client);
  fake_free (fake);
}

GST_END_TEST;

/* Joined, then the tracker goes away for good: reported once the
 * reconnects have failed "unusable-after" times; it comes back later, and
 * is reported again the next time it goes. */
GST_START_TEST (test_unusable_lost_tracker)
{
  MeshTrackerConfig config = { 0, };
  g_autoptr (GError) error = NULL;
  Recorder *r;
  guint port;

  start_default_tracker ();
  port = mesh_tracker_server_get_port (tracker);
  r = join ("peer-alice", FALSE);

  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  WAIT_UNTIL (r->unusable == 1, WAIT_MS);
  /* the drop itself, then three failed reconnects */
  fail_unless_equals_int (r->disconnects_when_unusable, 4);
  fail_unless (g_error_matches (r->unusable_error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_UNREACHABLE));
  fail_unless (strstr (r->unusable_error->message, "127.0.0.1") != NULL,
      "%s", r->unusable_error->message);
  fail_unless_equals_int (r->joined, 1);

  tracker = start_tracker_on (&config, port, &error);
  if (!tracker) {
    GST_WARNING ("could not restart the tracker on port %u (%s): skipping "
        "the recovery part", port, error->message);
    return;
  }
  WAIT_UNTIL (r->joined == 2, WAIT_MS);
  fail_unless_equals_int (r->unusable, 1);

  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  WAIT_UNTIL (r->unusable == 2, WAIT_MS);
}

GST_END_TEST;

GST_START_TEST (test_heartbeat_keeps_joined)
{
  MeshTrackerConfig config = { 0, };
  MeshTrackerStats stats;
  Recorder *r;

  /* the tracker drops a peer silent for 2.5 heartbeats: 2.5 s */
  config.heartbeat = 1;
  start_tracker (&config);
  r = join ("peer-steady", FALSE);

  run_for (3500);
  fail_unless (mesh_tracker_client_is_joined (r->client));
  fail_unless_equals_int (r->disconnected, 0);
  fail_unless_equals_int (r->errors, 0);
  fail_unless_equals_int (r->joined, 1);
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 1);
  mesh_tracker_server_get_stats (tracker, &stats);
  /* the join and about three heartbeats */
  fail_unless (stats.messages >= 3, "%" G_GUINT64_FORMAT " messages",
      stats.messages);
}

GST_END_TEST;

GST_START_TEST (test_stop_from_handler)
{
  Recorder *r, *other;

  start_default_tracker ();
  other = join ("peer-other1", FALSE);
  r = recorder_new (mesh_tracker_server_get_url (tracker), "peer-hasty", FALSE);
  r->stop_when_joined = TRUE;
  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->joined == 1, WAIT_MS);
  fail_if (mesh_tracker_client_is_joined (r->client));

  /* nothing after the stop: the welcome's list came with it */
  WAIT_UNTIL (other->peer_left->len == 1, WAIT_MS);
  fail_unless_equals_int (r->peers, 1);
  fail_unless_equals_int (r->joined, 1);
  fail_unless_equals_int (r->disconnected + r->unusable, 0);
}

GST_END_TEST;

GST_START_TEST (test_unref_while_connecting)
{
  MeshTrackerClient *client;

  start_default_tracker ();
  client = mesh_tracker_client_new (session,
      mesh_tracker_server_get_url (tracker), SWARM, "peer-fleeting", NULL,
      FALSE);
  mesh_tracker_client_start (client);
  /* dropped without stop(), the handshake still under way */
  g_object_unref (client);
  drain ();
  fail_unless_equals_int (mesh_tracker_server_get_peers (tracker), 0);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Attested digests                                                         */

#define SEGMENT "attested segment bytes, as the origin has them"

/* An origin on 127.0.0.1: /live/seg.ts is SEGMENT; /live/held.ts is never
 * answered (until the origin goes). */
typedef struct
{
  SoupServer *server;
  gchar *prefix;                /* "http://127.0.0.1:PORT/live/" */
  guint held;
} Origin;

static void
on_origin_request (SoupServer * server, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer data)
{
  Origin *origin = data;

  if (g_str_equal (path, "/live/held.ts")) {
    origin->held++;
    soup_server_message_pause (msg);
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "video/mp2t", SOUP_MEMORY_STATIC,
      SEGMENT, strlen (SEGMENT));
}

static Origin *
origin_new (void)
{
  Origin *origin = g_new0 (Origin, 1);
  GError *error = NULL;
  GSList *uris;

  origin->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (origin->server, "/live", on_origin_request,
      origin, NULL);
  fail_unless (soup_server_listen_local (origin->server, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, &error), "%s",
      error ? error->message : "");
  uris = soup_server_get_uris (origin->server);
  origin->prefix = g_strdup_printf ("http://127.0.0.1:%d/live/",
      g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return origin;
}

static void
origin_free (Origin * origin)
{
  soup_server_disconnect (origin->server);
  g_object_unref (origin->server);
  g_free (origin->prefix);
  g_free (origin);
}

static void
start_attest_tracker (Origin * origin)
{
  MeshTrackerConfig config = { 0, };
  const gchar *origins[] = { origin->prefix, NULL };

  config.attest_origins = origins;
  start_tracker (&config);
}

typedef struct
{
  gboolean done;
  gboolean ok;
  guint8 digest[32];
  guint64 size;
  GError *error;
} AttestResult;

static void
on_attested (GObject * source, GAsyncResult * result, gpointer data)
{
  AttestResult *r = data;

  r->ok = mesh_signaller_attest_finish (MESH_SIGNALLER (source), result,
      r->digest, &r->size, &r->error);
  r->done = TRUE;
}

/* Asks @client for the digest of @path under @origin; answered from the
 * main loop, never inside the call. */
static void
attest (Recorder * r, Origin * origin, const gchar * path,
    AttestResult * result)
{
  g_autofree gchar *url = g_strconcat (origin->prefix, path, NULL);

  mesh_signaller_attest (MESH_SIGNALLER (r->client), url, 0, -1, NULL,
      on_attested, result);
  fail_if (result->done);
}

GST_START_TEST (test_attest)
{
  Origin *origin = origin_new ();
  AttestResult result = { 0, }, later = { 0, };
  guint8 expected[32];
  gsize size = sizeof (expected);
  GChecksum *checksum = g_checksum_new (G_CHECKSUM_SHA256);
  Recorder *r;

  g_checksum_update (checksum, (const guchar *) SEGMENT, strlen (SEGMENT));
  g_checksum_get_digest (checksum, expected, &size);
  g_checksum_free (checksum);
  start_attest_tracker (origin);
  r = join ("peer-attest1", FALSE);

  attest (r, origin, "seg.ts", &result);
  WAIT_UNTIL (result.done, WAIT_MS);
  fail_unless (result.ok, "%s", result.error ? result.error->message : "");
  fail_unless (memcmp (result.digest, expected, 32) == 0);
  fail_unless_equals_int64 (result.size, strlen (SEGMENT));

  /* the tracker's refusals are errors */
  attest (r, origin, "../other.ts", &later);
  WAIT_UNTIL (later.done, WAIT_MS);
  fail_if (later.ok);
  fail_unless (g_error_matches (later.error, G_IO_ERROR, G_IO_ERROR_FAILED),
      "%s", later.error->message);
  g_clear_error (&later.error);

  mesh_tracker_client_stop (r->client);
  origin_free (origin);
}

GST_END_TEST;

GST_START_TEST (test_attest_not_offered)
{
  AttestResult result = { 0, };
  Recorder *r;

  start_default_tracker ();
  r = join ("peer-attest1", FALSE);
  mesh_signaller_attest (MESH_SIGNALLER (r->client),
      "http://127.0.0.1:1/live/seg.ts", 0, -1, NULL, on_attested, &result);
  WAIT_UNTIL (result.done, WAIT_MS);
  fail_unless (g_error_matches (result.error, G_IO_ERROR,
          G_IO_ERROR_NOT_SUPPORTED), "%s",
      result.error ? result.error->message : "no error");
  g_clear_error (&result.error);

  /* and not joined at all */
  mesh_tracker_client_stop (r->client);
  result.done = FALSE;
  mesh_signaller_attest (MESH_SIGNALLER (r->client),
      "http://127.0.0.1:1/live/seg.ts", 0, -1, NULL, on_attested, &result);
  fail_if (result.done);
  WAIT_UNTIL (result.done, WAIT_MS);
  fail_unless (g_error_matches (result.error, G_IO_ERROR,
          G_IO_ERROR_NOT_CONNECTED));
  g_clear_error (&result.error);
}

GST_END_TEST;

static gboolean
origin_holds (Origin * origin, guint n)
{
  return origin->held == n;
}

/* An answer that has not come when we leave never will: the request fails
 * then, from the main loop. */
GST_START_TEST (test_attest_fails_on_leave)
{
  Origin *origin = origin_new ();
  AttestResult result = { 0, };
  Recorder *r;

  start_attest_tracker (origin);
  r = join ("peer-attest1", FALSE);
  attest (r, origin, "held.ts", &result);
  WAIT_UNTIL (origin_holds (origin, 1), WAIT_MS);
  mesh_signaller_leave (MESH_SIGNALLER (r->client));
  fail_if (result.done);
  WAIT_UNTIL (result.done, WAIT_MS);
  fail_unless (g_error_matches (result.error, G_IO_ERROR,
          G_IO_ERROR_NOT_CONNECTED), "%s",
      result.error ? result.error->message : "no error");
  g_clear_error (&result.error);

  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  origin_free (origin);
}

GST_END_TEST;

GST_START_TEST (test_attest_fails_on_disconnect)
{
  Origin *origin = origin_new ();
  AttestResult result = { 0, };
  Recorder *r;

  start_attest_tracker (origin);
  r = join ("peer-attest1", FALSE);
  attest (r, origin, "held.ts", &result);
  WAIT_UNTIL (origin_holds (origin, 1), WAIT_MS);
  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  WAIT_UNTIL (result.done, WAIT_MS);
  fail_unless (g_error_matches (result.error, G_IO_ERROR,
          G_IO_ERROR_NOT_CONNECTED), "%s",
      result.error ? result.error->message : "no error");
  fail_unless (r->disconnected >= 1);
  g_clear_error (&result.error);
  mesh_tracker_client_stop (r->client);
  origin_free (origin);
}

GST_END_TEST;

GST_START_TEST (test_attest_times_out)
{
  Origin *origin = origin_new ();
  AttestResult result = { 0, }, after = { 0, };
  Recorder *r;

  start_attest_tracker (origin);
  attest_timeout_ms = 200;
  r = join ("peer-attest1", FALSE);
  attest (r, origin, "held.ts", &result);
  WAIT_UNTIL (result.done, WAIT_MS);
  fail_unless (g_error_matches (result.error, G_IO_ERROR,
          G_IO_ERROR_TIMED_OUT), "%s",
      result.error ? result.error->message : "no error");
  g_clear_error (&result.error);
  /* still joined, and the next one is answered */
  fail_unless (mesh_tracker_client_is_joined (r->client));
  attest (r, origin, "seg.ts", &after);
  WAIT_UNTIL (after.done, WAIT_MS);
  fail_unless (after.ok, "%s", after.error ? after.error->message : "");

  mesh_tracker_client_stop (r->client);
  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  origin_free (origin);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* QoS reports                                                              */

static const gchar *const welcome_script[] = {
  "{\"type\":\"welcome\",\"version\":1,\"peer\":\"peer-qos001\","
      "\"swarm\":\"" SWARM "\",\"heartbeat\":15,\"peers\":[]}",
  NULL
};

/* The messages of @type the fake received, in order (borrowed). */
static GPtrArray *
fake_received_of_type (Fake * fake, const gchar * type)
{
  GPtrArray *found = g_ptr_array_new ();
  guint i;

  for (i = 0; i < fake->received->len; i++) {
    JsonObject *message = g_ptr_array_index (fake->received, i);

    if (g_str_equal (json_object_get_string_member_with_default (message,
                "type", ""), type))
      g_ptr_array_add (found, message);
  }
  return found;
}

static guint
fake_count (Fake * fake, const gchar * type)
{
  g_autoptr (GPtrArray) found = fake_received_of_type (fake, type);

  return found->len;
}

/* The last qos message the fake received, decoded as the tracker does. */
static MeshQosReport
fake_last_qos (Fake * fake, gchar ** network)
{
  g_autoptr (GPtrArray) found = fake_received_of_type (fake, "qos");
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  MeshTrackerMessage msg;
  MeshQosReport report;

  fail_unless (found->len > 0);
  json_node_set_object (node, g_ptr_array_index (found, found->len - 1));
  text = json_to_string (node, FALSE);
  fail_unless (mesh_tracker_message_decode (&msg, MESH_TRACKER_TO_TRACKER,
          text, strlen (text), &error), "%s: %s", text,
      error ? error->message : "");
  report = msg.qos;
  if (network)
    *network = g_strdup (msg.network);
  mesh_tracker_message_clear (&msg);
  return report;
}

static MeshQosReport
qos_totals (gint64 cdn, gint64 peer, gint64 uploaded, gint64 stalls,
    gint64 stall_ms)
{
  MeshQosReport totals = { 0, };

  totals.cdn_bytes = cdn;
  totals.peer_bytes = peer;
  totals.uploaded_bytes = uploaded;
  totals.stalls = stalls;
  totals.stall_ms = stall_ms;
  totals.startup_ms = 840;
  totals.bitrate = 4000000;
  totals.width = 1280;
  totals.height = 720;
  totals.peers = 3;
  return totals;
}

static void
assert_counters (const MeshQosReport * report, gint64 cdn, gint64 peer,
    gint64 uploaded, gint64 stalls, gint64 stall_ms)
{
  fail_unless_equals_int64 (report->version, MESH_QOS_REPORT_VERSION);
  fail_unless_equals_int64 (report->cdn_bytes, cdn);
  fail_unless_equals_int64 (report->peer_bytes, peer);
  fail_unless_equals_int64 (report->uploaded_bytes, uploaded);
  fail_unless_equals_int64 (report->stalls, stalls);
  fail_unless_equals_int64 (report->stall_ms, stall_ms);
  /* current values go as given */
  fail_unless_equals_int64 (report->startup_ms, 840);
  fail_unless_equals_int64 (report->bitrate, 4000000);
  fail_unless_equals_int64 (report->width, 1280);
  fail_unless_equals_int64 (report->height, 720);
  fail_unless_equals_int64 (report->peers, 3);
}

/* Nothing goes out before the welcome, nor is queued: the first report of
 * the connection carries the totals given since; later ones grow; the
 * join and every report carry the network hint. */
GST_START_TEST (test_qos_after_join_only)
{
  Fake *fake = fake_new (FAKE_SCRIPT, welcome_script);
  Recorder *r = recorder_new (fake->url, "peer-qos001", FALSE);
  MeshQosReport totals, report;
  g_autofree gchar *network = NULL;
  g_autoptr (GPtrArray) joins = NULL;

  g_object_set (r->client, "network", "site-7", NULL);
  totals = qos_totals (100, 0, 0, 0, 0);
  mesh_tracker_client_send_qos (r->client, &totals);
  mesh_tracker_client_start (r->client);
  /* while connecting */
  totals = qos_totals (200, 0, 0, 0, 0);
  mesh_signaller_send_qos (MESH_SIGNALLER (r->client), &totals);
  WAIT_UNTIL (r->joined == 1, WAIT_MS);
  fail_unless_equals_int (fake_count (fake, "qos"), 0);
  joins = fake_received_of_type (fake, "join");
  fail_unless_equals_int (joins->len, 1);
  fail_unless_equals_string (json_object_get_string_member_with_default
      (g_ptr_array_index (joins, 0), "network", ""), "site-7");

  totals = qos_totals (5000, 7000, 3000, 1, 250);
  mesh_tracker_client_send_qos (r->client, &totals);
  WAIT_UNTIL (fake_count (fake, "qos") == 1, WAIT_MS);
  report = fake_last_qos (fake, &network);
  assert_counters (&report, 5000, 7000, 3000, 1, 250);
  fail_unless_equals_string (network, "site-7");

  totals = qos_totals (9000, 15000, 3500, 2, 900);
  mesh_tracker_client_send_qos (r->client, &totals);
  WAIT_UNTIL (fake_count (fake, "qos") == 2, WAIT_MS);
  report = fake_last_qos (fake, NULL);
  assert_counters (&report, 9000, 15000, 3500, 2, 900);

  /* stopped: nothing more */
  mesh_tracker_client_stop (r->client);
  mesh_tracker_client_send_qos (r->client, &totals);
  while (g_main_context_iteration (context, FALSE));
  fail_unless_equals_int (fake_count (fake, "qos"), 2);
  fake_free (fake);
}

GST_END_TEST;

/* After a reconnection the counters start again from the last report that
 * went out: the tracker, which counts a connection's first report in full,
 * neither loses what grew while we were away nor counts anything twice. */
GST_START_TEST (test_qos_rebased_after_reconnect)
{
  Fake *fake = fake_new (FAKE_SCRIPT, welcome_script);
  Recorder *r = recorder_new (fake->url, "peer-qos001", FALSE);
  MeshQosReport totals, report;
  SoupWebsocketConnection *ws;

  mesh_tracker_client_start (r->client);
  WAIT_UNTIL (r->joined == 1, WAIT_MS);
  totals = qos_totals (5000, 7000, 3000, 1, 250);
  mesh_tracker_client_send_qos (r->client, &totals);
  WAIT_UNTIL (fake_count (fake, "qos") == 1, WAIT_MS);

  /* the tracker side drops the connection; a report while away is not
   * sent, and nothing of it is lost */
  ws = g_ptr_array_index (fake->connections, 0);
  soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  WAIT_UNTIL (r->disconnected >= 1, WAIT_MS);
  totals = qos_totals (6000, 7500, 3100, 2, 600);
  mesh_tracker_client_send_qos (r->client, &totals);
  WAIT_UNTIL (r->joined == 2, WAIT_MS);
  fail_unless_equals_int (fake_count (fake, "qos"), 1);

  totals = qos_totals (8000, 9000, 4000, 2, 700);
  mesh_tracker_client_send_qos (r->client, &totals);
  WAIT_UNTIL (fake_count (fake, "qos") == 2, WAIT_MS);
  report = fake_last_qos (fake, NULL);
  assert_counters (&report, 3000, 2000, 1000, 1, 450);

  /* and they grow again on this connection; a counter the owner lowers
   * by mistake does not go down on the wire */
  totals = qos_totals (9000, 8000, 4500, 3, 800);
  mesh_tracker_client_send_qos (r->client, &totals);
  WAIT_UNTIL (fake_count (fake, "qos") == 3, WAIT_MS);
  report = fake_last_qos (fake, NULL);
  assert_counters (&report, 4000, 2000, 1500, 2, 550);
  fake_free (fake);
}

GST_END_TEST;

/* The real tracker takes our reports as valid messages (a malformed one
 * would draw a bad-message error), and an invalid network hint is dropped
 * rather than sent. */
GST_START_TEST (test_qos_real_tracker_takes_reports)
{
  MeshTrackerStats before, after;
  MeshQosReport totals;
  Recorder *r;
  gchar *network = NULL;
  guint i;

  start_default_tracker ();
  r = join ("peer-qos002", TRUE);
  g_object_set (r->client, "network", "no spaces allowed", NULL);
  g_object_get (r->client, "network", &network, NULL);
  fail_unless (network == NULL, "kept \"%s\"", network);
  g_free (network);
  mesh_signaller_join_full (MESH_SIGNALLER (r->client), SWARM, "peer-qos002",
      NULL, TRUE, "site-7");
  WAIT_UNTIL (r->joined == 2, WAIT_MS);

  mesh_tracker_server_get_stats (tracker, &before);
  for (i = 1; i <= 5; i++) {
    totals = qos_totals (i * 1000, i * 2000, i * 500, 0, 0);
    mesh_tracker_client_send_qos (r->client, &totals);
  }
  WAIT_UNTIL ((mesh_tracker_server_get_stats (tracker, &after),
          after.messages >= before.messages + 5), WAIT_MS);
  fail_unless_equals_int64 (after.errors, before.errors);
  fail_unless_equals_int (r->errors, 0);
  fail_unless (mesh_tracker_client_is_joined (r->client));
}

GST_END_TEST;

static Suite *
tracker_client_suite (void)
{
  Suite *s = suite_create ("tracker-client");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_join_and_discover);
  tcase_add_test (tc, test_uploaders_first);
  tcase_add_test (tc, test_signal_relay);
  tcase_add_test (tc, test_not_joined_drops);
  tcase_add_test (tc, test_peer_left);
  tcase_add_test (tc, test_reconnect_after_restart);
  tcase_add_test (tc, test_several_trackers);
  tcase_add_test (tc, test_backoff_when_nothing_listens);
  tcase_add_test (tc, test_bad_url);
  tcase_add_test (tc, test_join_timeout);
  tcase_add_test (tc, test_malformed_messages);
  tcase_add_test (tc, test_near_peers);
  tcase_add_test (tc, test_near_peers_bounded);
  tcase_add_test (tc, test_join_refused_as_malformed);
  tcase_add_test (tc, test_oversized_message);
  tcase_add_test (tc, test_token);
  tcase_add_test (tc, test_token_replaced_while_joined);
  tcase_add_test (tc, test_report_and_banned);
  tcase_add_test (tc, test_peer_id_taken_retries);
  tcase_add_test (tc, test_unusable_refused_join);
  tcase_add_test (tc, test_unusable_silent_tracker);
  tcase_add_test (tc, test_unusable_lost_tracker);
  tcase_add_test (tc, test_heartbeat_keeps_joined);
  tcase_add_test (tc, test_stop_from_handler);
  tcase_add_test (tc, test_unref_while_connecting);
  tcase_add_test (tc, test_attest);
  tcase_add_test (tc, test_attest_not_offered);
  tcase_add_test (tc, test_attest_fails_on_leave);
  tcase_add_test (tc, test_attest_fails_on_disconnect);
  tcase_add_test (tc, test_attest_times_out);
  tcase_add_test (tc, test_qos_after_join_only);
  tcase_add_test (tc, test_qos_rebased_after_reconnect);
  tcase_add_test (tc, test_qos_real_tracker_takes_reports);
  return s;
}

GST_CHECK_MAIN (tracker_client);
