/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerClient (see mesh-tracker-client.h; protocol in
 * docs/protocol.md, section 1): the MeshSignaller of the WebSocket tracker.
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
 * Signals are only emitted from callbacks of client->context (WebSocket
 * messages and closes, timers), never from inside a public function: even
 * start() only schedules the first attempt.
 *
 * Re-entrancy: a signal handler may call stop() or drop its reference. Every
 * function that emits holds a reference on the client, and checks
 * client->connection_id after an emission: it changes whenever the current
 * connection is dropped, so a handler that ended the connection is noticed.
 *
 * Unusable trackers: every connection attempt that ends before a welcome is
 * a failure; `unusable-after` failures in a row (a tracker that nothing
 * answers at, or that was lost and does not come back) are reported once as
 * the MeshSignaller "error" UNREACHABLE, and the retries go on. What
 * retrying cannot cure (a bad URL, a refused join or token) is reported at
 * once and stops the retries.
 *
 * Several trackers: "url" may name several (separated by spaces or commas),
 * instances sharing their swarms (docs/tracker.md "Redis mode"); each
 * reconnect tries the next one, so a client whose instance died is back,
 * and found again, after one reconnect delay.
 *
 * QoS reports (send_qos): the owner gives its totals since its first
 * report; the client sends them rebased, so that the counters of a "qos"
 * message count from the join of the connection it goes on (the tracker
 * counts a connection's first report in full, then the growth, see
 * docs/protocol.md 1.4). The base of a connection is the totals of the last
 * report that went out before it joined, so a reconnection neither loses
 * nor counts twice what grew in between. Memory is bounded: no report is
 * queued; one given while not joined is only remembered as the owner's
 * latest totals (qos_given), and the next one replaces it.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-tracker-client.h"

#include <gst/gst.h>
#include <string.h>

#include "mesh-signaller.h"
#include "mesh-tracker-proto.h"

GST_DEBUG_CATEGORY_STATIC (mesh_tracker_client_debug);
#define GST_CAT_DEFAULT mesh_tracker_client_debug

#define DEFAULT_MIN_BACKOFF_MS 1000
#define MAX_BACKOFF_MS 30000
#define DEFAULT_JOIN_TIMEOUT_MS 10000
/* with the default backoff: attempts at 0, ~1 and ~3 s */
#define DEFAULT_UNUSABLE_AFTER 3
#define DEFAULT_HEARTBEAT_S 15
#define MAX_HEARTBEAT_S 3600
/* The tracker's messages are small: a welcome with a few dozen peers is a
 * few KiB. Anything past this is a broken or hostile tracker. */
#define MAX_MESSAGE_SIZE (1024 * 1024)
/* relative spread of the reconnect delays, so that the viewers of a tracker
 * that restarts do not all come back at the same instant */
#define BACKOFF_JITTER 0.2
/* Attest requests unanswered at once: the tracker's default per client, so
 * that we are never counted as flooding it */
#define MAX_ATTESTS 16
/* the tracker's origin fetch takes up to 20 s by default */
#define DEFAULT_ATTEST_TIMEOUT_MS 30000

typedef enum
{
  STATE_IDLE,                   /* not started, or stopped */
  STATE_CONNECTING,             /* WebSocket handshake under way */
  STATE_JOINING,                /* join sent, waiting for the welcome */
  STATE_JOINED,
  STATE_WAITING,                /* for the reconnect timer */
  STATE_FAILED,                 /* fatal error: no more retries */
} State;

/* What connection_lost() does next: retry, or give up with this
 * MeshSignallerError. */
#define RETRY (-1)

struct _MeshTrackerClient
{
  GObject parent;

  /* construct-only */
  SoupSession *session;
  gchar *url;                   /* as given: one URL or several */
  gchar **urls;                 /* each of them, at least one ("") */
  guint url_index;              /* the one in use */
  gchar *swarm_id;
  gchar *peer_id;
  gchar *token;
  gboolean upload;
  guint min_backoff_ms;
  guint join_timeout_ms;
  guint unusable_after;
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
  guint failures;               /* attempts in a row that got no welcome */
  gint reported;                /* MeshSignallerError emitted since the last
                                 * welcome or start, -1 = none */

  /* attest requests sent on this connection, waiting for their answer:
   * id -> GTask (whose task data is an Attest) */
  GHashTable *attests;
  gint64 next_attest_id;
  guint attest_timeout_ms;

  gchar *network;               /* the join's network hint, NULL: none */
  GHashTable *near;             /* ids the tracker called "near" in its
                                 * latest word on them, at most
                                 * MESH_TRACKER_CLIENT_MAX_NEAR_PEERS;
                                 * emptied at each welcome */
  /* QoS reports, see the top of the file */
  MeshQosReport qos_given;      /* the owner's latest totals */
  MeshQosReport qos_sent;       /* the totals of the last report sent */
  MeshQosReport qos_base;       /* the totals sent before this connection */
  MeshQosReport qos_last;       /* the last report on this connection */
};

/* The members of MeshQosReport that are counters (the others are current
 * values, sent as given). */
static const gsize qos_counters[] = {
  G_STRUCT_OFFSET (MeshQosReport, cdn_bytes),
  G_STRUCT_OFFSET (MeshQosReport, peer_bytes),
  G_STRUCT_OFFSET (MeshQosReport, uploaded_bytes),
  G_STRUCT_OFFSET (MeshQosReport, stalls),
  G_STRUCT_OFFSET (MeshQosReport, stall_ms),
};

#define QOS_COUNTER(report, offset) \
  (*(gint64 *) G_STRUCT_MEMBER_P ((report), (offset)))

/* One attest request, the task data of its GTask. */
typedef struct
{
  gint64 id;
  GSource *timeout;
  GSource *cancelled;
  GError *error;
  guint8 digest[32];
  guint64 size;
} Attest;

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
  PROP_UNUSABLE_AFTER,
  PROP_ATTEST_TIMEOUT_MS,
  PROP_NETWORK,
};

enum
{
  SIGNAL_TRACKER_ERROR,
  SIGNAL_DISCONNECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void mesh_tracker_client_signaller_init (MeshSignallerInterface * iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MeshTrackerClient, mesh_tracker_client,
    G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (MESH_TYPE_SIGNALLER,
        mesh_tracker_client_signaller_init));

static void begin_connect (MeshTrackerClient * client);
static void attests_fail_all (MeshTrackerClient * client);

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
  send_text (client, mesh_tracker_encode_join_full (client->swarm_id,
          client->peer_id, client->token, client->upload, client->network));
}

/* @totals rebased on this connection: what grew since its base, never
 * less than what the connection already reported (a tracker takes a
 * counter that goes down as a bad message). */
static void
qos_rebase (MeshTrackerClient * client, const MeshQosReport * totals,
    MeshQosReport * report)
{
  guint i;

  *report = *totals;
  for (i = 0; i < G_N_ELEMENTS (qos_counters); i++) {
    gsize offset = qos_counters[i];
    gint64 grown = QOS_COUNTER (totals, offset) -
        QOS_COUNTER (&client->qos_base, offset);

    QOS_COUNTER (report, offset) = MAX (grown,
        QOS_COUNTER (&client->qos_last, offset));
  }
}

/* A new connection joined: it counts from the last report that went out. */
static void
qos_start_connection (MeshTrackerClient * client)
{
  client->qos_base = client->qos_sent;
  memset (&client->qos_last, 0, sizeof (client->qos_last));
}

/* Invalid hints are dropped here, since the encoder refuses them. */
static void
set_network (MeshTrackerClient * client, const gchar * network)
{
  g_free (client->network);
  client->network = NULL;
  if (network && !mesh_tracker_is_valid_network (network))
    GST_WARNING_OBJECT (client, "ignoring the network hint \"%s\": not 1 to "
        "%d characters of [A-Za-z0-9._:-]", network, MESH_QOS_NETWORK_MAX);
  else
    client->network = g_strdup (network);
}

/* ------------------------------------------------------------------------ */
/* Connection life cycle                                                    */

/* What to do after the error @code (from an "error" message, or the reason
 * of a close 1008): give up on what reconnecting would only see refused
 * again, else retry. A join refused as malformed (our swarm or peer id
 * does not suit the tracker) would be refused again too. */
static gint
give_up_on (const gchar * code, gboolean joining)
{
  switch (mesh_tracker_error_code_from_name (code)) {
    case MESH_TRACKER_ERROR_UNAUTHORIZED:
      return MESH_SIGNALLER_ERROR_UNAUTHORIZED;
    case MESH_TRACKER_ERROR_UNSUPPORTED_VERSION:
    case MESH_TRACKER_ERROR_SWARM_FULL:
      /* another connection took our peer id: coming back would push it
       * out, and the two would evict each other forever */
    case MESH_TRACKER_ERROR_REPLACED:
      /* reported by other members: this peer id stays refused */
    case MESH_TRACKER_ERROR_BANNED:
      return MESH_SIGNALLER_ERROR_REFUSED;
    case MESH_TRACKER_ERROR_BAD_MESSAGE:
      return joining ? MESH_SIGNALLER_ERROR_REFUSED : RETRY;
      /* our previous connection, which the tracker has not yet seen go */
    case MESH_TRACKER_ERROR_PEER_ID_TAKEN:
      /* the join budget of our address or token refills */
    case MESH_TRACKER_ERROR_JOIN_LIMITED:
    default:
      return RETRY;
  }
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
  attests_fail_all (client);
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

gchar **
mesh_tracker_client_split_urls (const gchar * urls)
{
  g_auto (GStrv) parts = g_strsplit_set (urls ? urls : "", " ,\t", -1);
  GPtrArray *kept = g_ptr_array_new ();
  guint i;

  for (i = 0; parts[i]; i++)
    if (*parts[i])
      g_ptr_array_add (kept, g_strdup (parts[i]));
  if (kept->len == 0)
    g_ptr_array_add (kept, g_strdup (""));
  g_ptr_array_add (kept, NULL);
  return (gchar **) g_ptr_array_free (kept, FALSE);
}

/* The tracker the client connects (or is connected) to. */
static const gchar *
current_url (MeshTrackerClient * client)
{
  return client->urls[client->url_index];
}

static void
schedule_reconnect (MeshTrackerClient * client)
{
  guint delay = jittered (client->backoff_ms);

  /* the next tracker, if there are several */
  client->url_index = (client->url_index + 1) % g_strv_length (client->urls);
  GST_DEBUG_OBJECT (client, "reconnecting to %s in %u ms",
      current_url (client), delay);
  client->state = STATE_WAITING;
  client->backoff_ms = MIN (client->backoff_ms * 2,
      MAX (MAX_BACKOFF_MS, client->min_backoff_ms));
  client->reconnect_timer = add_timer (client, delay, on_reconnect_timer);
}

/* The MeshSignaller "error", once per failure (see the top of the file). */
static void
report_unusable (MeshTrackerClient * client, gint code, const GError * reason)
{
  g_autoptr (GError) error = NULL;

  if (client->reported == code)
    return;
  client->reported = code;
  switch (code) {
    case MESH_SIGNALLER_ERROR_UNREACHABLE:
      error = g_error_new (MESH_SIGNALLER_ERROR, code, "tracker %s "
          "unreachable after %u attempts: %s", client->url,
          client->failures, reason->message);
      break;
    case MESH_SIGNALLER_ERROR_UNAUTHORIZED:
      error = g_error_new (MESH_SIGNALLER_ERROR, code, "tracker %s rejected "
          "the access token: %s", client->url, reason->message);
      break;
    case MESH_SIGNALLER_ERROR_REFUSED:
      error = g_error_new (MESH_SIGNALLER_ERROR, code, "tracker %s refused "
          "the join: %s", client->url, reason->message);
      break;
    default:
      error = g_error_new (MESH_SIGNALLER_ERROR, code, "tracker %s "
          "unusable: %s", client->url, reason->message);
      break;
  }
  GST_WARNING_OBJECT (client, "%s", error->message);
  mesh_signaller_emit_error (MESH_SIGNALLER (client), error);
}

/* Drops the connection (if any), schedules the next attempt unless
 * @give_up (a MeshSignallerError, or RETRY), tells the owner, and reports
 * the tracker unusable when it is. Takes @reason. Call with a reference. */
static void
connection_lost (MeshTrackerClient * client, GError * reason, gint give_up)
{
  guint connection_id;

  GST_INFO_OBJECT (client, "disconnected from %s: %s%s", current_url (client),
      reason->message, give_up == RETRY ? "" : " (not retrying)");
  /* a joined connection that drops is no failed attempt: the reconnects
   * after it may be */
  client->failures = client->state == STATE_JOINED ? 0 : client->failures + 1;
  drop_connection (client, FALSE);
  if (give_up == RETRY)
    schedule_reconnect (client);
  else
    client->state = STATE_FAILED;
  connection_id = client->connection_id;
  g_signal_emit (client, signals[SIGNAL_DISCONNECTED], 0, reason);
  if (connection_id == client->connection_id && client->state != STATE_IDLE) {
    if (give_up != RETRY)
      report_unusable (client, give_up, reason);
    else if (client->failures >= client->unusable_after)
      report_unusable (client, MESH_SIGNALLER_ERROR_UNREACHABLE, reason);
  }
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
          client->join_timeout_ms), RETRY);
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

/* What the tracker says now of @peer_id's network replaces what it said
 * before. */
static void
note_near (MeshTrackerClient * client, const gchar * peer_id, gboolean near)
{
  if (!near) {
    g_hash_table_remove (client->near, peer_id);
  } else if (g_hash_table_size (client->near) <
      MESH_TRACKER_CLIENT_MAX_NEAR_PEERS) {
    g_hash_table_add (client->near, g_strdup (peer_id));
  } else if (!g_hash_table_contains (client->near, peer_id)) {
    GST_DEBUG_OBJECT (client, "%u near peers known: %s taken as far",
        MESH_TRACKER_CLIENT_MAX_NEAR_PEERS, peer_id);
  }
}

static void
note_near_entries (MeshTrackerClient * client, GPtrArray * entries)
{
  guint i;

  for (i = 0; entries && i < entries->len; i++) {
    MeshTrackerPeerEntry *entry = g_ptr_array_index (entries, i);

    if (!g_str_equal (entry->peer, client->peer_id))
      note_near (client, entry->peer, entry->near);
  }
}

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
  note_near_entries (client, msg->peers);
  GST_DEBUG_OBJECT (client, "%u peers", g_strv_length (peers));
  mesh_signaller_emit_peers (MESH_SIGNALLER (client),
      (const gchar * const *) peers);
}

static void
handle_welcome (MeshTrackerClient * client, MeshTrackerMessage * msg)
{
  gint64 heartbeat = msg->heartbeat;
  g_auto (GStrv) peers = NULL;

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
  client->failures = 0;
  client->reported = -1;
  qos_start_connection (client);
  GST_INFO_OBJECT (client, "joined swarm %s as %s (heartbeat %u s)",
      client->swarm_id, client->peer_id, client->heartbeat_s);

  /* a welcome without a list still welcomes */
  peers = peer_ids (client, msg->peers);
  /* another connection: what the tracker said of networks may be stale */
  g_hash_table_remove_all (client->near);
  note_near_entries (client, msg->peers);
  mesh_signaller_emit_welcome (MESH_SIGNALLER (client),
      (const gchar * const *) peers);
}

static void
handle_peer_event (MeshTrackerClient * client, MeshTrackerMessage * msg)
{
  if (g_str_equal (msg->peer, client->peer_id))
    return;
  /* a peer-left's "near" is never set: the peer is forgotten */
  note_near (client, msg->peer, msg->near);
  if (msg->type == MESH_TRACKER_MESSAGE_PEER_JOINED)
    mesh_signaller_emit_peer_joined (MESH_SIGNALLER (client), msg->peer);
  else
    mesh_signaller_emit_peer_left (MESH_SIGNALLER (client), msg->peer);
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
  mesh_signaller_emit_message (MESH_SIGNALLER (client), msg->peer,
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

  g_signal_emit (client, signals[SIGNAL_TRACKER_ERROR], 0, code, text, fatal);
  if (connection_id != client->connection_id)
    return;

  /* a join that drew an error is not going to be welcomed: no point in
   * waiting for the join timeout. One found malformed (our swarm or peer
   * id does not suit the tracker) would be again. */
  if (fatal || joining)
    connection_lost (client, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
            "%s (%s)", text, code), give_up_on (code, joining));
}

/* ------------------------------------------------------------------------ */
/* Attested digests                                                         */

static void
attest_free (gpointer data)
{
  Attest *attest = data;

  g_warn_if_fail (attest->timeout == NULL && attest->cancelled == NULL);
  g_clear_error (&attest->error);
  g_free (attest);
}

static gboolean
attest_return (gpointer data)
{
  GTask *task = data;
  Attest *attest = g_task_get_task_data (task);

  if (attest->error)
    g_task_return_error (task, g_steal_pointer (&attest->error));
  else
    g_task_return_boolean (task, TRUE);
  return G_SOURCE_REMOVE;
}

/* Completes @task (with its error, or its digest) from an idle source: a
 * caller's callback never runs inside leave() or inside attest(). Takes
 * @task. */
static void
attest_complete (MeshTrackerClient * client, GTask * task)
{
  Attest *attest = g_task_get_task_data (task);
  GSource *idle;

  clear_timer (&attest->timeout);
  clear_timer (&attest->cancelled);
  idle = g_idle_source_new ();
  g_source_set_callback (idle, attest_return, task, g_object_unref);
  g_source_attach (idle, client->context);
  g_source_unref (idle);
}

/* The request @id, out of the table; NULL if it is not there (answered,
 * timed out or cancelled). */
static GTask *
attest_take (MeshTrackerClient * client, gint64 id)
{
  gpointer task = NULL;

  g_hash_table_steal_extended (client->attests, &id, NULL, &task);
  return task;
}

/* Takes @task. */
static void
attest_fail (MeshTrackerClient * client, GTask * task, gint code,
    const gchar * message)
{
  Attest *attest = g_task_get_task_data (task);

  g_clear_error (&attest->error);
  attest->error = g_error_new_literal (G_IO_ERROR, code, message);
  attest_complete (client, task);
}

/* Every request fails when the connection it was sent on is gone. */
static void
attests_fail_all (MeshTrackerClient * client)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, client->attests);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    g_hash_table_iter_steal (&iter);
    attest_fail (client, value, G_IO_ERROR_NOT_CONNECTED,
        "the connection to the tracker ended before its answer");
  }
}

static gboolean
on_attest_timeout (gpointer data)
{
  GTask *task = data;
  MeshTrackerClient *client = g_task_get_source_object (task);
  Attest *attest = g_task_get_task_data (task);

  /* the source is destroyed by completing: keep it alive until we return */
  g_source_ref (g_main_current_source ());
  task = attest_take (client, attest->id);
  if (task)
    attest_fail (client, task, G_IO_ERROR_TIMED_OUT,
        "the tracker did not answer in time");
  g_source_unref (g_main_current_source ());
  return G_SOURCE_REMOVE;
}

static gboolean
on_attest_cancelled (GCancellable * cancellable, gpointer data)
{
  GTask *task = data;
  MeshTrackerClient *client = g_task_get_source_object (task);
  Attest *attest = g_task_get_task_data (task);

  g_source_ref (g_main_current_source ());
  task = attest_take (client, attest->id);
  if (task)
    attest_fail (client, task, G_IO_ERROR_CANCELLED, "cancelled");
  g_source_unref (g_main_current_source ());
  return G_SOURCE_REMOVE;
}

static void
handle_attested (MeshTrackerClient * client, MeshTrackerMessage * msg)
{
  GTask *task = attest_take (client, msg->id);
  Attest *attest;

  if (!task) {
    GST_DEBUG_OBJECT (client, "attested %" G_GINT64_FORMAT ": no such "
        "request (any more)", msg->id);
    return;
  }
  attest = g_task_get_task_data (task);
  if (msg->attest_error && g_str_equal (msg->attest_error,
          MESH_TRACKER_ATTEST_NOT_OFFERED))
    attest->error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "%s attests no digests", current_url (client));
  else if (msg->attest_error)
    attest->error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
        "%s attests no digest: %s", current_url (client), msg->attest_error);
  memcpy (attest->digest, msg->digest, sizeof (attest->digest));
  attest->size = msg->size;
  attest_complete (client, task);
}

static void
tracker_client_attest (MeshSignaller * signaller, const gchar * url,
    gint64 offset, gint64 length, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data)
{
  MeshTrackerClient *client = MESH_TRACKER_CLIENT (signaller);
  GTask *task = g_task_new (client, cancellable, callback, user_data);
  Attest *attest = g_new0 (Attest, 1);

  g_task_set_source_tag (task, tracker_client_attest);
  g_task_set_task_data (task, attest, attest_free);
  if (client->state != STATE_JOINED) {
    attest_fail (client, task, G_IO_ERROR_NOT_CONNECTED,
        "not joined to the tracker");
    return;
  }
  if (g_hash_table_size (client->attests) >= MAX_ATTESTS) {
    attest_fail (client, task, G_IO_ERROR_BUSY,
        "too many attest requests outstanding");
    return;
  }
  attest->id = client->next_attest_id++;
  g_hash_table_insert (client->attests, &attest->id, task);
  attest->timeout = g_timeout_source_new (client->attest_timeout_ms);
  g_source_set_callback (attest->timeout, on_attest_timeout, task, NULL);
  g_source_attach (attest->timeout, client->context);
  if (cancellable) {
    attest->cancelled = g_cancellable_source_new (cancellable);
    g_source_set_callback (attest->cancelled,
        G_SOURCE_FUNC (on_attest_cancelled), task, NULL);
    g_source_attach (attest->cancelled, client->context);
  }
  send_text (client, mesh_tracker_encode_attest (attest->id, url, offset,
          length));
}

static gboolean
tracker_client_attest_finish (MeshSignaller * signaller,
    GAsyncResult * result, guint8 digest[32], guint64 * size, GError ** error)
{
  Attest *attest;

  g_return_val_if_fail (g_task_is_valid (result, signaller), FALSE);

  attest = g_task_get_task_data (G_TASK (result));
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  memcpy (digest, attest->digest, sizeof (attest->digest));
  if (size)
    *size = attest->size;
  return TRUE;
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
  } else if (msg->type == MESH_TRACKER_MESSAGE_PEER_JOINED
      || msg->type == MESH_TRACKER_MESSAGE_PEER_LEFT) {
    handle_peer_event (client, msg);
  } else if (msg->type == MESH_TRACKER_MESSAGE_SIGNAL) {
    handle_signal (client, msg);
  } else if (msg->type == MESH_TRACKER_MESSAGE_ATTESTED) {
    handle_attested (client, msg);
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
  gint give_up = soup_websocket_connection_get_close_code (ws) ==
      SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION ? give_up_on (why, FALSE) : RETRY;

  g_object_ref (client);
  connection_lost (client, close_reason (client, ws), give_up);
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
    connection_lost (client, error, RETRY);
    return;
  }

  GST_DEBUG_OBJECT (client, "connected to %s", current_url (client));
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
  g_autoptr (GUri) uri = g_uri_parse (current_url (client),
      SOUP_HTTP_URI_FLAGS, error);
  const gchar *scheme;

  if (!uri)
    return NULL;
  scheme = g_uri_get_scheme (uri);
  if ((g_ascii_strcasecmp (scheme, "ws") && g_ascii_strcasecmp (scheme,
              "wss")) || !g_uri_get_host (uri) || !*g_uri_get_host (uri)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s' is not a ws:// or wss:// URL", current_url (client));
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
    connection_lost (client, error, MESH_SIGNALLER_ERROR_INVALID_CONFIG);
    g_object_unref (client);
    return;
  }

  GST_DEBUG_OBJECT (client, "connecting to %s", current_url (client));
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

MeshTrackerClient *
mesh_tracker_client_new_for_url (SoupSession * session, const gchar * url)
{
  g_return_val_if_fail (SOUP_IS_SESSION (session), NULL);
  g_return_val_if_fail (url != NULL, NULL);

  return g_object_new (MESH_TYPE_TRACKER_CLIENT, "session", session,
      "url", url, NULL);
}

/* The first attempt is a timer like the reconnects, so that what it finds
 * (a bad URL...) is reported from the main loop, not from inside start(). */
void
mesh_tracker_client_start (MeshTrackerClient * client)
{
  g_return_if_fail (MESH_IS_TRACKER_CLIENT (client));

  if (client->state != STATE_IDLE && client->state != STATE_FAILED)
    return;
  client->backoff_ms = client->min_backoff_ms;
  client->failures = 0;
  client->reported = -1;
  client->state = STATE_WAITING;
  client->reconnect_timer = add_timer (client, 0, on_reconnect_timer);
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

void
mesh_tracker_client_send_report (MeshTrackerClient * client,
    const gchar * peer_id, const gchar * reason)
{
  g_autofree gchar *valid_reason = NULL;

  g_return_if_fail (MESH_IS_TRACKER_CLIENT (client));
  g_return_if_fail (peer_id != NULL);

  if (client->state != STATE_JOINED) {
    GST_DEBUG_OBJECT (client, "not joined: dropping a report on %s", peer_id);
    return;
  }
  /* the tracker would count a malformed report against us */
  if (!mesh_tracker_is_valid_peer_id (peer_id)) {
    GST_WARNING_OBJECT (client, "not reporting \"%s\": no peer id", peer_id);
    return;
  }
  if (reason)
    valid_reason = g_utf8_make_valid (reason, -1);
  GST_INFO_OBJECT (client, "reporting %s: %s", peer_id,
      valid_reason ? valid_reason : "(no reason)");
  send_text (client, mesh_tracker_encode_report (peer_id, valid_reason));
}

void
mesh_tracker_client_send_qos (MeshTrackerClient * client,
    const MeshQosReport * totals)
{
  MeshQosReport report;

  g_return_if_fail (MESH_IS_TRACKER_CLIENT (client));
  g_return_if_fail (totals != NULL);

  client->qos_given = *totals;
  if (client->state != STATE_JOINED) {
    GST_DEBUG_OBJECT (client, "not joined: the next qos report carries this "
        "one's figures");
    return;
  }
  qos_rebase (client, totals, &report);
  client->qos_last = report;
  client->qos_sent = *totals;
  send_text (client, mesh_tracker_encode_qos (&report, client->network));
}

/* ------------------------------------------------------------------------ */
/* MeshSignaller                                                            */

/* A join of another swarm counts from here: what the owner reported
 * before belongs to the previous one. */
static void
tracker_client_join_full (MeshSignaller * signaller, const gchar * swarm_id,
    const gchar * peer_id, const gchar * token, gboolean upload,
    const gchar * network)
{
  MeshTrackerClient *client = MESH_TRACKER_CLIENT (signaller);

  mesh_tracker_client_stop (client);
  set_network (client, network);
  client->qos_sent = client->qos_given;
  g_free (client->swarm_id);
  client->swarm_id = g_strdup (swarm_id);
  g_free (client->peer_id);
  client->peer_id = g_strdup (peer_id);
  g_free (client->token);
  client->token = g_strdup (token);
  client->upload = upload;
  mesh_tracker_client_start (client);
}

static void
tracker_client_join (MeshSignaller * signaller, const gchar * swarm_id,
    const gchar * peer_id, const gchar * token, gboolean upload)
{
  tracker_client_join_full (signaller, swarm_id, peer_id, token, upload, NULL);
}

static void
tracker_client_send_qos (MeshSignaller * signaller,
    const MeshQosReport * totals)
{
  mesh_tracker_client_send_qos (MESH_TRACKER_CLIENT (signaller), totals);
}

static void
tracker_client_leave (MeshSignaller * signaller)
{
  mesh_tracker_client_stop (MESH_TRACKER_CLIENT (signaller));
}

static gboolean
tracker_client_is_near (MeshSignaller * signaller, const gchar * peer_id)
{
  MeshTrackerClient *client = MESH_TRACKER_CLIENT (signaller);

  return client->state == STATE_JOINED
      && g_hash_table_contains (client->near, peer_id);
}

static void
tracker_client_relay (MeshSignaller * signaller, const gchar * to,
    JsonObject * payload)
{
  mesh_tracker_client_send_signal (MESH_TRACKER_CLIENT (signaller), to,
      payload);
}

static void
tracker_client_request_peers (MeshSignaller * signaller)
{
  mesh_tracker_client_request_peers (MESH_TRACKER_CLIENT (signaller));
}

static void
tracker_client_report (MeshSignaller * signaller, const gchar * peer_id,
    const gchar * reason)
{
  mesh_tracker_client_send_report (MESH_TRACKER_CLIENT (signaller), peer_id,
      reason);
}

static void
mesh_tracker_client_signaller_init (MeshSignallerInterface * iface)
{
  iface->join = tracker_client_join;
  iface->leave = tracker_client_leave;
  iface->relay = tracker_client_relay;
  iface->request_peers = tracker_client_request_peers;
  iface->report = tracker_client_report;
  iface->attest = tracker_client_attest;
  iface->attest_finish = tracker_client_attest_finish;
  iface->join_full = tracker_client_join_full;
  iface->send_qos = tracker_client_send_qos;
  iface->is_near = tracker_client_is_near;
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
      /* a viewer's token is replaced before it expires: the next join
       * (a reconnection) sends the new one */
      g_free (client->token);
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
    case PROP_UNUSABLE_AFTER:
      client->unusable_after = g_value_get_uint (value);
      break;
    case PROP_ATTEST_TIMEOUT_MS:
      client->attest_timeout_ms = g_value_get_uint (value);
      break;
    case PROP_NETWORK:
      set_network (client, g_value_get_string (value));
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
    case PROP_UNUSABLE_AFTER:
      g_value_set_uint (value, client->unusable_after);
      break;
    case PROP_ATTEST_TIMEOUT_MS:
      g_value_set_uint (value, client->attest_timeout_ms);
      break;
    case PROP_NETWORK:
      g_value_set_string (value, client->network);
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
  client->urls = mesh_tracker_client_split_urls (client->url);
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
  g_strfreev (client->urls);
  g_free (client->swarm_id);
  g_free (client->peer_id);
  g_free (client->token);
  g_free (client->network);
  g_hash_table_unref (client->attests);
  g_hash_table_unref (client->near);
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
      g_param_spec_string ("url", "URL", "ws:// or wss:// URL of the tracker, "
          "or several separated by spaces or commas (tried in turn)",
          NULL, flags));
  g_object_class_install_property (object_class, PROP_SWARM_ID,
      g_param_spec_string ("swarm-id", "Swarm ID", "The swarm to join",
          NULL, flags));
  g_object_class_install_property (object_class, PROP_PEER_ID,
      g_param_spec_string ("peer-id", "Peer ID", "Our id in the swarm",
          NULL, flags));
  g_object_class_install_property (object_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token", "Access token, if the tracker "
          "needs one; may be replaced at any time, and the next join "
          "(a reconnection) sends the new one", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
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

  g_object_class_install_property (object_class, PROP_UNUSABLE_AFTER,
      g_param_spec_uint ("unusable-after", "Unusable after",
          "Connection attempts in a row without a welcome after which the "
          "tracker is reported unusable (retries go on)", 1, G_MAXUINT,
          DEFAULT_UNUSABLE_AFTER, flags));
  g_object_class_install_property (object_class, PROP_ATTEST_TIMEOUT_MS,
      g_param_spec_uint ("attest-timeout-ms", "Attest timeout",
          "How long the tracker may take to answer an attest request (ms)",
          1, G_MAXINT, DEFAULT_ATTEST_TIMEOUT_MS, flags));
  g_object_class_install_property (object_class, PROP_NETWORK,
      g_param_spec_string ("network", "Network", "The player's network hint "
          "(1 to 64 characters of [A-Za-z0-9._:-], e.g. a site id) sent with "
          "the join and the qos reports; an invalid one is ignored with a "
          "warning. Applies from the next join", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  signals[SIGNAL_TRACKER_ERROR] = g_signal_new ("tracker-error",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN);
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
  client->unusable_after = DEFAULT_UNUSABLE_AFTER;
  client->reported = -1;
  client->heartbeat_s = DEFAULT_HEARTBEAT_S;
  client->state = STATE_IDLE;
  client->attests = g_hash_table_new (g_int64_hash, g_int64_equal);
  client->near = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  client->next_attest_id = 1;
  client->attest_timeout_ms = DEFAULT_ATTEST_TIMEOUT_MS;
}
