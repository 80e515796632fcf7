/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerClient (see mesh-tracker-client.h; protocol in
 * docs/protocol.md, section 1).
 *
 * Threads and ownership: the owner is the peer manager, which creates the
 * client on its own thread. The client keeps the thread-default GMainContext
 * of that moment (client->context); the WebSocket connection, its I/O and
 * every timer (join timeout, heartbeat, reconnect) live there, and the public
 * functions are called from the thread that runs it. Nothing is shared with
 * another thread, so there is no lock. The SoupSession is shared with the
 * CDN fetches, which run on another thread: libsoup (>= 3.2) allows sending
 * from any thread as long as that thread has a thread-default context, which
 * is why the connect pushes client->context around the call.
 *
 * Re-entrancy: a signal handler may call stop() or drop its reference. Every
 * function that emits holds a reference on the client, and checks
 * client->connection_id after an emission: it changes whenever the current
 * connection is dropped, so a handler that ended the connection is noticed.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-tracker-client.h"

#include <gst/gst.h>
#include <string.h>

#include "mesh-tracker-proto.h"

GST_DEBUG_CATEGORY_STATIC (mesh_tracker_client_debug);
#define GST_CAT_DEFAULT mesh_tracker_client_debug

#define DEFAULT_MIN_BACKOFF_MS 1000
#define MAX_BACKOFF_MS 30000
#define DEFAULT_JOIN_TIMEOUT_MS 10000
#define DEFAULT_HEARTBEAT_S 15
#define MAX_HEARTBEAT_S 3600
/* The tracker's messages are small: a welcome with a few dozen peers is a
 * few KiB. Anything past this is a broken or hostile tracker. */
#define MAX_MESSAGE_SIZE (1024 * 1024)
/* relative spread of the reconnect delays, so that the viewers of a tracker
 * that restarts do not all come back at the same instant */
#define BACKOFF_JITTER 0.2

typedef enum
{
  STATE_IDLE,                   /* not started, or stopped */
  STATE_CONNECTING,             /* WebSocket handshake under way */
  STATE_JOINING,                /* join sent, waiting for the welcome */
  STATE_JOINED,
  STATE_WAITING,                /* for the reconnect timer */
  STATE_FAILED,                 /* fatal error: no more retries */
} State;

struct _MeshTrackerClient
{
  GObject parent;

  /* construct-only */
  SoupSession *session;
  gchar *url;
  gchar *swarm_id;
  gchar *peer_id;
  gchar *token;
  gboolean upload;
  guint min_backoff_ms;
  guint join_timeout_ms;
  GMainContext *context;

  State state;
  guint backoff_ms;             /* base of the next reconnect delay */
  guint heartbeat_s;            /* from the welcome */
  GCancellable *connect_cancellable;
  SoupWebsocketConnection *ws;
  guint connection_id;          /* see the top of the file */
  GError *ws_error;             /* last "error" of the connection */
  GSource *join_timer;
  GSource *heartbeat_timer;
  GSource *reconnect_timer;
};

enum
{
  PROP_0,
  PROP_SESSION,
  PROP_URL,
  PROP_SWARM_ID,
  PROP_PEER_ID,
  PROP_TOKEN,
  PROP_UPLOAD,
  PROP_MIN_BACKOFF_MS,
  PROP_JOIN_TIMEOUT_MS,
};

enum
{
  SIGNAL_JOINED,
  SIGNAL_PEERS,
  SIGNAL_PEER_JOINED,
  SIGNAL_PEER_LEFT,
  SIGNAL_SIGNAL,
  SIGNAL_ERROR,
  SIGNAL_DISCONNECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MeshTrackerClient, mesh_tracker_client, G_TYPE_OBJECT);

static void begin_connect (MeshTrackerClient * client);

/* ------------------------------------------------------------------------ */
/* Timers                                                                   */

static GSource *
add_timer (MeshTrackerClient * client, guint ms, GSourceFunc func)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, client, NULL);
  g_source_attach (source, client->context);
  return source;
}

static void
clear_timer (GSource ** source)
{
  if (*source) {
    g_source_destroy (*source);
    g_source_unref (*source);
    *source = NULL;
  }
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                  */

static gboolean
can_send (MeshTrackerClient * client)
{
  return client->ws && soup_websocket_connection_get_state (client->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN;
}

/* Takes @text. */
static void
send_text (MeshTrackerClient * client, gchar * text)
{
  if (can_send (client)) {
    GST_LOG_OBJECT (client, "-> %s", text);
    soup_websocket_connection_send_text (client->ws, text);
  }
  g_free (text);
}

static void
send_join (MeshTrackerClient * client)
{
  send_text (client, mesh_tracker_encode_join (client->swarm_id,
          client->peer_id, client->token, client->upload));
}

/* ------------------------------------------------------------------------ */
/* Connection life cycle                                                    */

/* Error codes after which reconnecting would only be refused again. */
static gboolean
is_terminal_error (const gchar * code)
{
  static const gchar *const terminal[] = {
    "unauthorized", "unsupported-version", "swarm-full",
    /* another connection took our peer id: coming back would push it out,
     * and the two would evict each other forever */
    "replaced",
    NULL
  };

  return code && g_strv_contains (terminal, code);
}

static void
on_lingering_closed (SoupWebsocketConnection * ws, gpointer data)
{
  g_object_unref (ws);
}

/* Forgets the current connection. It stays alive until its close handshake
 * is over, so that what was queued (a "leave") still goes out; libsoup bounds
 * the handshake. It no longer reaches the client. */
static void
drop_connection (MeshTrackerClient * client, gboolean say_leave)
{
  SoupWebsocketConnection *ws = g_steal_pointer (&client->ws);

  clear_timer (&client->join_timer);
  clear_timer (&client->heartbeat_timer);
  g_clear_error (&client->ws_error);
  client->connection_id++;
  if (!ws)
    return;

  g_signal_handlers_disconnect_by_data (ws, client);
  if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_CLOSED) {
    g_object_unref (ws);
    return;
  }
  g_signal_connect (ws, "closed", G_CALLBACK (on_lingering_closed), NULL);
  if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN) {
    if (say_leave) {
      g_autofree gchar *leave =
          mesh_tracker_encode_bare (MESH_TRACKER_MESSAGE_LEAVE);

      GST_LOG_OBJECT (client, "-> %s", leave);
      soup_websocket_connection_send_text (ws, leave);
    }
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  }
}

static guint
jittered (guint ms)
{
  return (guint) (ms * g_random_double_range (1.0 - BACKOFF_JITTER,
          1.0 + BACKOFF_JITTER));
}

static gboolean
on_reconnect_timer (gpointer data)
{
  MeshTrackerClient *client = data;

  clear_timer (&client->reconnect_timer);
  begin_connect (client);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (MeshTrackerClient * client)
{
  guint delay = jittered (client->backoff_ms);

  GST_DEBUG_OBJECT (client, "reconnecting in %u ms", delay);
  client->state = STATE_WAITING;
  client->backoff_ms = MIN (client->backoff_ms * 2,
      MAX (MAX_BACKOFF_MS, client->min_backoff_ms));
  client->reconnect_timer = add_timer (client, delay, on_reconnect_timer);
}

/* Drops the connection (if any), schedules the next attempt when @retry, and
 * tells the owner. Takes @reason. */
static void
connection_lost (MeshTrackerClient * client, GError * reason, gboolean retry)
{
  GST_INFO_OBJECT (client, "disconnected from %s: %s%s", client->url,
      reason->message, retry ? "" : " (not retrying)");
  drop_connection (client, FALSE);
  if (retry)
    schedule_reconnect (client);
  else
    client->state = STATE_FAILED;
  g_signal_emit (client, signals[SIGNAL_DISCONNECTED], 0, reason);
  g_error_free (reason);
}

static gboolean
on_join_timeout (gpointer data)
{
  MeshTrackerClient *client = data;

  clear_timer (&client->join_timer);
  g_object_ref (client);
  connection_lost (client, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "the tracker did not answer the join within %u ms",
          client->join_timeout_ms), TRUE);
  g_object_unref (client);
  return G_SOURCE_REMOVE;
}

static gboolean
on_heartbeat_timer (gpointer data)
{
  send_text (data, mesh_tracker_encode_bare (MESH_TRACKER_MESSAGE_HEARTBEAT));
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Incoming messages                                                        */

/* The ids of a welcome's or peers' list, uploaders first, without our own
 * (a tracker lists us to nobody but others, still). */
static GStrv
peer_ids (MeshTrackerClient * client, GPtrArray * entries)
{
  g_autoptr (GStrvBuilder) uploaders = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) others = g_strv_builder_new ();
  g_auto (GStrv) rest = NULL;
  guint i;

  for (i = 0; entries && i < entries->len; i++) {
    MeshTrackerPeerEntry *entry = g_ptr_array_index (entries, i);

    if (g_str_equal (entry->peer, client->peer_id))
      continue;
    g_strv_builder_add (entry->upload ? uploaders : others, entry->peer);
  }
  rest = g_strv_builder_end (others);
  g_strv_builder_addv (uploaders, (const gchar **) rest);
  return g_strv_builder_end (uploaders);
}

static void
emit_peers (MeshTrackerClient * client, MeshTrackerMessage * msg)
{
  g_auto (GStrv) peers = NULL;

  if (!msg->peers) {
    GST_WARNING_OBJECT (client, "ignoring a peer list without \"peers\" "
        "array");
    return;
  }
  peers = peer_ids (client, msg->peers);
  GST_DEBUG_OBJECT (client, "%u peers", g_strv_length (peers));
  g_signal_emit (client, signals[SIGNAL_PEERS], 0, peers);
}

static void
handle_welcome (MeshTrackerClient * client, MeshTrackerMessage * msg)
{
  guint connection_id = client->connection_id;
  gint64 heartbeat = msg->heartbeat;

  if (client->state != STATE_JOINING) {
    GST_WARNING_OBJECT (client, "ignoring a welcome we did not wait for");
    return;
  }
  if (msg->version != MESH_TRACKER_PROTOCOL_VERSION)
    GST_WARNING_OBJECT (client, "the tracker speaks version %" G_GINT64_FORMAT
        ", we speak %d", msg->version, MESH_TRACKER_PROTOCOL_VERSION);

  if (heartbeat == 0) {
    heartbeat = DEFAULT_HEARTBEAT_S;
  } else if (heartbeat < 0 || heartbeat > MAX_HEARTBEAT_S) {
    GST_WARNING_OBJECT (client, "heartbeat of %" G_GINT64_FORMAT " s out of "
        "range, using %d s", heartbeat, DEFAULT_HEARTBEAT_S);
    heartbeat = DEFAULT_HEARTBEAT_S;
  }
  client->heartbeat_s = heartbeat;

  clear_timer (&client->join_timer);
  client->state = STATE_JOINED;
  client->backoff_ms = client->min_backoff_ms;
  client->heartbeat_timer = add_timer (client, client->heartbeat_s * 1000,
      on_heartbeat_timer);
  GST_INFO_OBJECT (client, "joined swarm %s as %s (heartbeat %u s)",
      client->swarm_id, client->peer_id, client->heartbeat_s);

  g_signal_emit (client, signals[SIGNAL_JOINED], 0);
  if (connection_id != client->connection_id)
    return;
  emit_peers (client, msg);
}

static void
handle_peer_event (MeshTrackerClient * client, MeshTrackerMessage * msg,
    guint signal_id)
{
  if (g_str_equal (msg->peer, client->peer_id))
    return;
  g_signal_emit (client, signals[signal_id], 0, msg->peer);
}

/* The protocol lets "data" be any JSON value; ours are objects. */
static void
handle_signal (MeshTrackerClient * client, MeshTrackerMessage * msg)
{
  if (!JSON_NODE_HOLDS_OBJECT (msg->data)) {
    GST_WARNING_OBJECT (client, "ignoring a signal from %s whose \"data\" "
        "is no object", msg->peer);
    return;
  }
  g_signal_emit (client, signals[SIGNAL_SIGNAL], 0, msg->peer,
      json_node_get_object (msg->data));
}

static void
handle_error (MeshTrackerClient * client, MeshTrackerMessage * msg)
{
  guint connection_id = client->connection_id;
  const gchar *code = msg->code ? msg->code : "unknown";
  const gchar *text = msg->message ? msg->message : "";
  gboolean fatal = msg->fatal;
  gboolean joining = client->state == STATE_JOINING;

  GST_WARNING_OBJECT (client, "tracker error %s%s: %s", code,
      fatal ? " (fatal)" : "", text);

  g_signal_emit (client, signals[SIGNAL_ERROR], 0, code, text, fatal);
  if (connection_id != client->connection_id)
    return;

  /* a join that drew an error is not going to be welcomed: no point in
   * waiting for the join timeout. One found malformed (our swarm or peer
   * id does not suit the tracker) would be again. */
  if (fatal || joining)
    connection_lost (client, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
            "tracker error %s: %s", code, text), !is_terminal_error (code)
        && !(joining && g_str_equal (code, "bad-message")));
}

static void
handle_message (MeshTrackerClient * client, MeshTrackerMessage * msg)
{
  if (msg->type == MESH_TRACKER_MESSAGE_ERROR) {
    handle_error (client, msg);
  } else if (msg->type == MESH_TRACKER_MESSAGE_WELCOME) {
    handle_welcome (client, msg);
  } else if (client->state != STATE_JOINED) {
    GST_WARNING_OBJECT (client, "ignoring \"%s\" before the welcome",
        msg->type_name);
  } else if (msg->type == MESH_TRACKER_MESSAGE_PEERS) {
    emit_peers (client, msg);
  } else if (msg->type == MESH_TRACKER_MESSAGE_PEER_JOINED) {
    handle_peer_event (client, msg, SIGNAL_PEER_JOINED);
  } else if (msg->type == MESH_TRACKER_MESSAGE_PEER_LEFT) {
    handle_peer_event (client, msg, SIGNAL_PEER_LEFT);
  } else if (msg->type == MESH_TRACKER_MESSAGE_SIGNAL) {
    handle_signal (client, msg);
  } else {
    /* newer trackers may say more */
    GST_DEBUG_OBJECT (client, "ignoring unknown message type \"%s\"",
        msg->type_name);
  }
}

static void
on_ws_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer data)
{
  MeshTrackerClient *client = data;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);
  g_autoptr (GError) error = NULL;
  MeshTrackerMessage msg;

  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    GST_WARNING_OBJECT (client, "ignoring a binary message of %"
        G_GSIZE_FORMAT " bytes", size);
    return;
  }
  GST_LOG_OBJECT (client, "<- %.*s", (int) MIN (size, 1024), text);

  if (mesh_tracker_message_decode (&msg, MESH_TRACKER_TO_CLIENT, text, size,
          &error)) {
    g_object_ref (client);
    handle_message (client, &msg);
    g_object_unref (client);
  } else {
    GST_WARNING_OBJECT (client, "ignoring a message: %s", error->message);
  }
  mesh_tracker_message_clear (&msg);
}

static void
on_ws_error (SoupWebsocketConnection * ws, GError * error, gpointer data)
{
  MeshTrackerClient *client = data;

  GST_DEBUG_OBJECT (client, "connection error: %s", error->message);
  g_clear_error (&client->ws_error);
  client->ws_error = g_error_copy (error);
}

/* The reason for a close we did not ask for: the last error of the
 * connection if there was one, else the close code and reason. */
static GError *
close_reason (MeshTrackerClient * client, SoupWebsocketConnection * ws)
{
  gushort code = soup_websocket_connection_get_close_code (ws);
  const gchar *why = soup_websocket_connection_get_close_data (ws);

  if (client->ws_error)
    return g_error_copy (client->ws_error);
  return g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
      "the tracker closed the connection (%u%s%s)", code,
      why && *why ? ": " : "", why && *why ? why : "");
}

static void
on_ws_closed (SoupWebsocketConnection * ws, gpointer data)
{
  MeshTrackerClient *client = data;
  const gchar *why = soup_websocket_connection_get_close_data (ws);
  /* the tracker also gives the code of a fatal error as the close reason,
   * in case its "error" message was lost */
  gboolean terminal = soup_websocket_connection_get_close_code (ws) ==
      SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION && is_terminal_error (why);

  g_object_ref (client);
  connection_lost (client, close_reason (client, ws), !terminal);
  g_object_unref (client);
}

/* One connection attempt. It may outlive the client (a client dropped while
 * connecting is not kept alive by the attempt), so it holds a weak
 * reference, and the cancellable tells whether it is still the current one. */
typedef struct
{
  GWeakRef client;
  GCancellable *cancellable;
} ConnectAttempt;

static void
connect_attempt_free (ConnectAttempt * attempt)
{
  g_weak_ref_clear (&attempt->client);
  g_object_unref (attempt->cancellable);
  g_free (attempt);
}

static void
bound_incoming_size (SoupWebsocketConnection * ws)
{
  soup_websocket_connection_set_max_incoming_payload_size (ws,
      MAX_MESSAGE_SIZE);
  /* libsoup >= 3.6 also bounds a message made of many frames */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (ws),
          "max-total-message-size"))
    g_object_set (ws, "max-total-message-size", (guint64) MAX_MESSAGE_SIZE,
        NULL);
}

static void
on_connected (GObject * source, GAsyncResult * result, gpointer data)
{
  ConnectAttempt *attempt = data;
  g_autoptr (MeshTrackerClient) client = g_weak_ref_get (&attempt->client);
  GError *error = NULL;
  SoupWebsocketConnection *ws;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
      &error);

  if (!client || attempt->cancellable != client->connect_cancellable) {
    /* stopped (or gone) meanwhile */
    if (ws)
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
          NULL);
    g_clear_object (&ws);
    g_clear_error (&error);
    connect_attempt_free (attempt);
    return;
  }
  g_clear_object (&client->connect_cancellable);
  connect_attempt_free (attempt);

  if (!ws) {
    connection_lost (client, error, TRUE);
    return;
  }

  GST_DEBUG_OBJECT (client, "connected to %s", client->url);
  client->ws = ws;
  client->state = STATE_JOINING;
  bound_incoming_size (ws);
  g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), client);
  g_signal_connect (ws, "error", G_CALLBACK (on_ws_error), client);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), client);
  client->join_timer = add_timer (client, client->join_timeout_ms,
      on_join_timeout);
  send_join (client);
}

/* A ws:// or wss:// message for the tracker, NULL if the URL is not one. */
static SoupMessage *
make_request (MeshTrackerClient * client, GError ** error)
{
  g_autoptr (GUri) uri = g_uri_parse (client->url, SOUP_HTTP_URI_FLAGS, error);
  const gchar *scheme;

  if (!uri)
    return NULL;
  scheme = g_uri_get_scheme (uri);
  if ((g_ascii_strcasecmp (scheme, "ws") && g_ascii_strcasecmp (scheme,
              "wss")) || !g_uri_get_host (uri) || !*g_uri_get_host (uri)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s' is not a ws:// or wss:// URL", client->url);
    return NULL;
  }
  return soup_message_new_from_uri (SOUP_METHOD_GET, uri);
}

static void
begin_connect (MeshTrackerClient * client)
{
  const gchar *protocols[] = { MESH_TRACKER_SUBPROTOCOL, NULL };
  g_autoptr (SoupMessage) msg = NULL;
  ConnectAttempt *attempt;
  GError *error = NULL;

  msg = make_request (client, &error);
  if (!msg) {
    /* retrying would not change the URL */
    g_object_ref (client);
    connection_lost (client, error, FALSE);
    g_object_unref (client);
    return;
  }

  GST_DEBUG_OBJECT (client, "connecting to %s", client->url);
  client->state = STATE_CONNECTING;
  client->connect_cancellable = g_cancellable_new ();
  attempt = g_new0 (ConnectAttempt, 1);
  g_weak_ref_init (&attempt->client, client);
  attempt->cancellable = g_object_ref (client->connect_cancellable);
  /* the callback and the connection's I/O belong to our context, whatever
   * thread created the session */
  g_main_context_push_thread_default (client->context);
  soup_session_websocket_connect_async (client->session, msg, NULL,
      (gchar **) protocols, G_PRIORITY_DEFAULT, client->connect_cancellable,
      on_connected, attempt);
  g_main_context_pop_thread_default (client->context);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

MeshTrackerClient *
mesh_tracker_client_new (SoupSession * session, const gchar * url,
    const gchar * swarm_id, const gchar * peer_id, const gchar * token,
    gboolean upload)
{
  g_return_val_if_fail (SOUP_IS_SESSION (session), NULL);
  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (swarm_id != NULL, NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  return g_object_new (MESH_TYPE_TRACKER_CLIENT, "session", session,
      "url", url, "swarm-id", swarm_id, "peer-id", peer_id, "token", token,
      "upload", upload, NULL);
}

void
mesh_tracker_client_start (MeshTrackerClient * client)
{
  g_return_if_fail (MESH_IS_TRACKER_CLIENT (client));

  if (client->state != STATE_IDLE && client->state != STATE_FAILED)
    return;
  client->backoff_ms = client->min_backoff_ms;
  begin_connect (client);
}

void
mesh_tracker_client_stop (MeshTrackerClient * client)
{
  g_return_if_fail (MESH_IS_TRACKER_CLIENT (client));

  if (client->connect_cancellable) {
    g_cancellable_cancel (client->connect_cancellable);
    g_clear_object (&client->connect_cancellable);
  }
  clear_timer (&client->reconnect_timer);
  drop_connection (client, client->state == STATE_JOINED);
  if (client->state != STATE_IDLE)
    GST_DEBUG_OBJECT (client, "stopped");
  client->state = STATE_IDLE;
}

gboolean
mesh_tracker_client_is_joined (MeshTrackerClient * client)
{
  g_return_val_if_fail (MESH_IS_TRACKER_CLIENT (client), FALSE);

  return client->state == STATE_JOINED;
}

void
mesh_tracker_client_send_signal (MeshTrackerClient * client,
    const gchar * to, JsonObject * data)
{
  g_autoptr (JsonNode) node = NULL;

  g_return_if_fail (MESH_IS_TRACKER_CLIENT (client));
  g_return_if_fail (to != NULL);
  g_return_if_fail (data != NULL);

  if (client->state != STATE_JOINED) {
    GST_DEBUG_OBJECT (client, "not joined: dropping a signal to %s", to);
    return;
  }
  node = json_node_init_object (json_node_alloc (), data);
  send_text (client, mesh_tracker_encode_signal (to, node));
}

void
mesh_tracker_client_request_peers (MeshTrackerClient * client)
{
  g_return_if_fail (MESH_IS_TRACKER_CLIENT (client));

  if (client->state != STATE_JOINED) {
    GST_DEBUG_OBJECT (client, "not joined: not asking for peers");
    return;
  }
  send_text (client, mesh_tracker_encode_bare (MESH_TRACKER_MESSAGE_GET_PEERS));
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
mesh_tracker_client_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  MeshTrackerClient *client = MESH_TRACKER_CLIENT (object);

  switch (prop_id) {
    case PROP_SESSION:
      client->session = g_value_dup_object (value);
      break;
    case PROP_URL:
      client->url = g_value_dup_string (value);
      break;
    case PROP_SWARM_ID:
      client->swarm_id = g_value_dup_string (value);
      break;
    case PROP_PEER_ID:
      client->peer_id = g_value_dup_string (value);
      break;
    case PROP_TOKEN:
      client->token = g_value_dup_string (value);
      break;
    case PROP_UPLOAD:
      client->upload = g_value_get_boolean (value);
      break;
    case PROP_MIN_BACKOFF_MS:
      client->min_backoff_ms = g_value_get_uint (value);
      break;
    case PROP_JOIN_TIMEOUT_MS:
      client->join_timeout_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
mesh_tracker_client_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  MeshTrackerClient *client = MESH_TRACKER_CLIENT (object);

  switch (prop_id) {
    case PROP_SESSION:
      g_value_set_object (value, client->session);
      break;
    case PROP_URL:
      g_value_set_string (value, client->url);
      break;
    case PROP_SWARM_ID:
      g_value_set_string (value, client->swarm_id);
      break;
    case PROP_PEER_ID:
      g_value_set_string (value, client->peer_id);
      break;
    case PROP_TOKEN:
      g_value_set_string (value, client->token);
      break;
    case PROP_UPLOAD:
      g_value_set_boolean (value, client->upload);
      break;
    case PROP_MIN_BACKOFF_MS:
      g_value_set_uint (value, client->min_backoff_ms);
      break;
    case PROP_JOIN_TIMEOUT_MS:
      g_value_set_uint (value, client->join_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
mesh_tracker_client_constructed (GObject * object)
{
  MeshTrackerClient *client = MESH_TRACKER_CLIENT (object);

  G_OBJECT_CLASS (mesh_tracker_client_parent_class)->constructed (object);

  if (!client->session)
    client->session = soup_session_new ();
  if (!client->url)
    client->url = g_strdup ("");
  if (!client->swarm_id)
    client->swarm_id = g_strdup ("");
  if (!client->peer_id)
    client->peer_id = g_strdup ("");
}

static void
mesh_tracker_client_dispose (GObject * object)
{
  MeshTrackerClient *client = MESH_TRACKER_CLIENT (object);

  mesh_tracker_client_stop (client);
  g_clear_object (&client->session);

  G_OBJECT_CLASS (mesh_tracker_client_parent_class)->dispose (object);
}

static void
mesh_tracker_client_finalize (GObject * object)
{
  MeshTrackerClient *client = MESH_TRACKER_CLIENT (object);

  g_free (client->url);
  g_free (client->swarm_id);
  g_free (client->peer_id);
  g_free (client->token);
  g_main_context_unref (client->context);

  G_OBJECT_CLASS (mesh_tracker_client_parent_class)->finalize (object);
}

static void
mesh_tracker_client_class_init (MeshTrackerClientClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
      G_PARAM_STATIC_STRINGS;

  object_class->set_property = mesh_tracker_client_set_property;
  object_class->get_property = mesh_tracker_client_get_property;
  object_class->constructed = mesh_tracker_client_constructed;
  object_class->dispose = mesh_tracker_client_dispose;
  object_class->finalize = mesh_tracker_client_finalize;

  g_object_class_install_property (object_class, PROP_SESSION,
      g_param_spec_object ("session", "Session", "The SoupSession to connect "
          "with", SOUP_TYPE_SESSION, flags));
  g_object_class_install_property (object_class, PROP_URL,
      g_param_spec_string ("url", "URL", "ws:// or wss:// URL of the tracker",
          NULL, flags));
  g_object_class_install_property (object_class, PROP_SWARM_ID,
      g_param_spec_string ("swarm-id", "Swarm ID", "The swarm to join",
          NULL, flags));
  g_object_class_install_property (object_class, PROP_PEER_ID,
      g_param_spec_string ("peer-id", "Peer ID", "Our id in the swarm",
          NULL, flags));
  g_object_class_install_property (object_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token", "Access token, if the tracker "
          "needs one", NULL, flags));
  g_object_class_install_property (object_class, PROP_UPLOAD,
      g_param_spec_boolean ("upload", "Upload", "Whether we offer segments "
          "to other peers", FALSE, flags));
  g_object_class_install_property (object_class, PROP_MIN_BACKOFF_MS,
      g_param_spec_uint ("min-backoff-ms", "Minimum backoff",
          "Delay before the first reconnect (ms); doubles up to 30 s",
          1, G_MAXINT / 2, DEFAULT_MIN_BACKOFF_MS, flags));
  g_object_class_install_property (object_class, PROP_JOIN_TIMEOUT_MS,
      g_param_spec_uint ("join-timeout-ms", "Join timeout",
          "How long the tracker may take to answer a join (ms)",
          1, G_MAXINT, DEFAULT_JOIN_TIMEOUT_MS, flags));

  signals[SIGNAL_JOINED] = g_signal_new ("joined", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_PEERS] = g_signal_new ("peers", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRV);
  signals[SIGNAL_PEER_JOINED] = g_signal_new ("peer-joined",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_PEER_LEFT] = g_signal_new ("peer-left",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_SIGNAL] = g_signal_new ("signal", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
      JSON_TYPE_OBJECT);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING,
      G_TYPE_STRING, G_TYPE_BOOLEAN);
  signals[SIGNAL_DISCONNECTED] = g_signal_new ("disconnected",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_ERROR);

  GST_DEBUG_CATEGORY_INIT (mesh_tracker_client_debug, "meshtracker", 0,
      "mesh tracker client");
}

static void
mesh_tracker_client_init (MeshTrackerClient * client)
{
  client->context = g_main_context_ref_thread_default ();
  client->min_backoff_ms = DEFAULT_MIN_BACKOFF_MS;
  client->join_timeout_ms = DEFAULT_JOIN_TIMEOUT_MS;
  client->heartbeat_s = DEFAULT_HEARTBEAT_S;
  client->state = STATE_IDLE;
}
