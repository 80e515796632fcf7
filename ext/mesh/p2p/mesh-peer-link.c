/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The libnice transport: MeshNiceTransport opens MeshPeerLinks, one
 * peer-to-peer connection each: a libnice agent in reliable mode
 * (pseudo-TCP over ICE, one stream, one component) carrying the wire
 * protocol.
 *
 * Threads: everything (the transport, its lingering agents, the links'
 * agents, their timers and sockets, our timers, the server name lookups,
 * every signal) lives on the owner's GMainContext, the transport's; no
 * locks. Every entry point that may emit a signal holds a reference on the
 * link for its duration, as handlers may drop the owner's last reference.
 *
 * Sending: frames go into a queue of GBytes; nice_agent_send() accepts what
 * fits into the pseudo-TCP window (about 60 KiB) and "reliable-transport-
 * writable" resumes the flush. PING and PONG overtake queued frames (never
 * HELLO nor a frame already partly written) so that RTT and liveness are not
 * measured behind a bulk upload.
 *
 * Closing: the agent is handed over to a "linger" that owns it from then on
 * and knows nothing of the link: it finishes the partly written frame and
 * the ERROR frame, waits a moment for pseudo-TCP to deliver them, then
 * removes the stream and frees the agent from a timeout, never from inside
 * a libnice callback. The lingers belong to the link's transport (each
 * holds a reference on it), so that the transport's owner can end them at
 * once when its thread ends (mesh_peer_transport_shutdown()).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-peer-link.h"

#include <string.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include <nice/agent.h>

GST_DEBUG_CATEGORY_STATIC (mesh_peer_link_debug);
#define GST_CAT_DEFAULT mesh_peer_link_debug

#define COMPONENT_ID 1
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_IDLE_TIMEOUT_MS 15000
/* Remote candidates kept while waiting for credentials or start(). */
#define MAX_PENDING_CANDIDATES 64
/* Longest candidate line we parse. */
#define MAX_CANDIDATE_SDP 1024
/* A closed link's agent lives at most this long to send the ERROR frame... */
#define LINGER_MAX_MS 3000
/* ...and this long after it was written, for pseudo-TCP to deliver it. */
#define LINGER_GRACE_MS 500

struct _MeshNiceTransport
{
  GObject parent;

  GMainContext *context;
  GList *lingers;               /* Linger* */

  /* the last STUN and TURN settings parsed, so that an unusable one is
   * reported once rather than for every link */
  gchar *stun_text, *stun_host;
  guint stun_port;
  gchar *turn_text, *turn_host, *turn_user, *turn_password;
  guint turn_port;
};

struct _MeshPeerLink
{
  GObject parent;

  MeshNiceTransport *transport;
  GMainContext *context;        /* the transport's */

  /* copied configuration */
  gchar *swarm_id;
  gchar *local_peer_id;
  gchar *remote_peer_id;
  gboolean upload;
  gchar *stun_host;
  guint stun_port;
  gchar *turn_host;
  guint turn_port;
  gchar *turn_user;
  gchar *turn_password;
  gboolean relay_only;
  gchar *local_address;
  guint connect_timeout_ms;
  guint idle_timeout_ms;
  gboolean controlling;

  MeshPeerConnectionState state;
  gboolean was_ready;
  guint16 close_code;

  NiceAgent *agent;             /* NULL once closed (handed to a linger) */
  guint stream_id;
  gboolean started;
  gboolean transport_up;        /* component CONNECTED or READY */

  /* STUN/TURN server names being resolved before gathering */
  GCancellable *cancellable;
  guint pending_lookups;
  gchar *stun_ip;
  gchar *turn_ip;

  /* remote signalling not applied yet */
  gboolean have_remote_credentials;
  gchar *remote_ufrag;
  GSList *pending_candidates;   /* NiceCandidate *, newest first */
  guint n_pending_candidates;
  gboolean remote_gathering_done;
  gboolean remote_gathering_done_applied;

  GSource *connect_timer;
  GSource *ping_timer;
  gint64 last_received;         /* monotonic µs */
  guint64 last_ping;            /* opaque of the last PING sent */
  gint64 rtt;

  MeshWireDecoder *decoder;
  gboolean hello_received;
  gboolean remote_uploads;
  const gchar *selected_type;   /* static string */

  GQueue send_queue;            /* GBytes */
  gsize head_offset;            /* bytes of the head already written */
  gsize queue_size;
  gboolean hello_in_queue;      /* then it is the head */
  gboolean above_low_water;
  gboolean silent;              /* test hook */

  guint64 bytes_sent;
  guint64 bytes_received;
  MeshGoodputMeter goodput;
};

static void mesh_peer_link_connection_init (MeshPeerConnectionInterface *
    iface);
static void mesh_nice_transport_transport_init (MeshPeerTransportInterface *
    iface);

G_DEFINE_TYPE_WITH_CODE (MeshPeerLink, mesh_peer_link, G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (MESH_TYPE_PEER_CONNECTION,
        mesh_peer_link_connection_init));
G_DEFINE_TYPE_WITH_CODE (MeshNiceTransport, mesh_nice_transport,
    G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (MESH_TYPE_PEER_TRANSPORT,
        mesh_nice_transport_transport_init));

static void flush_send_queue (MeshPeerLink * link, gboolean may_emit);

/* ------------------------------------------------------------------------ */
/* Linger: a closed link's agent, finishing its last bytes */

typedef struct
{
  MeshNiceTransport *transport; /* a reference */
  NiceAgent *agent;
  guint stream_id;
  GMainContext *context;
  GQueue queue;                 /* GBytes still to write */
  gsize head_offset;
  GSource *timer;               /* NULL once the close has begun */
  gulong writable_handler;
} Linger;

guint
mesh_nice_transport_count_lingering (MeshNiceTransport * transport)
{
  g_return_val_if_fail (MESH_IS_NICE_TRANSPORT (transport), 0);

  return g_list_length (transport->lingers);
}

static void
linger_closed (GObject * source, GAsyncResult * res, gpointer user_data)
{
  Linger *linger = user_data;
  MeshNiceTransport *transport = linger->transport;

  transport->lingers = g_list_remove (transport->lingers, linger);
  GST_DEBUG_OBJECT (transport, "agent %p freed, %u lingering", linger->agent,
      g_list_length (transport->lingers));
  g_object_unref (linger->agent);
  g_main_context_unref (linger->context);
  g_free (linger);
  g_object_unref (transport);
}

static gboolean
linger_finish (gpointer user_data)
{
  Linger *linger = user_data;
  GMainContext *context;

  g_clear_pointer (&linger->timer, g_source_unref);
  if (linger->writable_handler)
    g_signal_handler_disconnect (linger->agent, linger->writable_handler);
  linger->writable_handler = 0;
  g_queue_clear_full (&linger->queue, (GDestroyNotify) g_bytes_unref);

  nice_agent_attach_recv (linger->agent, linger->stream_id, COMPONENT_ID,
      linger->context, NULL, NULL);
  nice_agent_remove_stream (linger->agent, linger->stream_id);
  /* close_async() answers on the thread-default context: make it ours; the
   * answer frees @linger, perhaps before close_async() returns */
  context = linger->context;
  g_main_context_push_thread_default (context);
  nice_agent_close_async (linger->agent, linger_closed, linger);
  g_main_context_pop_thread_default (context);
  return G_SOURCE_REMOVE;
}

static void
linger_schedule (Linger * linger, guint ms)
{
  if (linger->timer) {
    g_source_destroy (linger->timer);
    g_source_unref (linger->timer);
  }
  linger->timer = g_timeout_source_new (ms);
  g_source_set_callback (linger->timer, linger_finish, linger, NULL);
  g_source_attach (linger->timer, linger->context);
}

static void
linger_flush (Linger * linger)
{
  GBytes *head;

  while ((head = g_queue_peek_head (&linger->queue))) {
    gsize size;
    const guint8 *data = g_bytes_get_data (head, &size);
    gint n = nice_agent_send (linger->agent, linger->stream_id, COMPONENT_ID,
        size - linger->head_offset,
        (const gchar *) data + linger->head_offset);

    if (n <= 0)
      return;
    linger->head_offset += n;
    if (linger->head_offset < size)
      return;
    g_bytes_unref (g_queue_pop_head (&linger->queue));
    linger->head_offset = 0;
  }
  /* all written: pseudo-TCP only needs a moment to deliver it */
  if (linger->writable_handler) {
    g_signal_handler_disconnect (linger->agent, linger->writable_handler);
    linger->writable_handler = 0;
    linger_schedule (linger, LINGER_GRACE_MS);
  }
}

static void
linger_discard (NiceAgent * agent, guint stream_id, guint component_id,
    guint len, gchar * buf, gpointer user_data)
{
}

static void
linger_on_writable (NiceAgent * agent, guint stream_id, guint component_id,
    gpointer user_data)
{
  linger_flush (user_data);
}

/* Takes @agent and the GBytes of @queue (left empty). */
static void
linger_start (MeshNiceTransport * transport, NiceAgent * agent,
    guint stream_id, GQueue * queue, gsize head_offset)
{
  Linger *linger = g_new0 (Linger, 1);
  GMainContext *context = transport->context;

  linger->transport = g_object_ref (transport);
  transport->lingers = g_list_prepend (transport->lingers, linger);
  linger->agent = agent;
  linger->stream_id = stream_id;
  linger->context = g_main_context_ref (context);
  linger->queue = *queue;
  g_queue_init (queue);
  linger->head_offset = head_offset;
  /* replaces the link's: the agent keeps reading its sockets, which it only
   * does with a receiver attached, or the peer's ACKs would go unseen */
  nice_agent_attach_recv (agent, stream_id, COMPONENT_ID, context,
      linger_discard, linger);

  if (g_queue_is_empty (&linger->queue)) {
    linger_schedule (linger, 0);
    return;
  }
  linger->writable_handler = g_signal_connect (agent,
      "reliable-transport-writable", G_CALLBACK (linger_on_writable), linger);
  linger_schedule (linger, LINGER_MAX_MS);
  linger_flush (linger);
}

/* A linger whose close has not begun (timer still set), or NULL. */
static Linger *
find_unfinished_linger (MeshNiceTransport * transport)
{
  GList *l;

  for (l = transport->lingers; l; l = l->next) {
    Linger *linger = l->data;

    if (linger->timer)
      return linger;
  }
  return NULL;
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Closes every lingering agent at once, then runs the owner context until
 * libnice has answered all the closes, or @timeout_ms passed. */
static void
nice_transport_shutdown (MeshPeerTransport * base, guint timeout_ms)
{
  MeshNiceTransport *transport = MESH_NICE_TRANSPORT (base);
  gboolean timed_out = FALSE;
  GSource *timer;
  Linger *linger;

  g_object_ref (transport);
  GST_DEBUG_OBJECT (transport, "ending %u lingering agents",
      g_list_length (transport->lingers));
  while ((linger = find_unfinished_linger (transport))) {
    g_source_destroy (linger->timer);
    linger_finish (linger);
  }
  timer = g_timeout_source_new (timeout_ms);
  g_source_set_callback (timer, set_flag, &timed_out, NULL);
  g_source_attach (timer, transport->context);
  while (transport->lingers && !timed_out)
    g_main_context_iteration (transport->context, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
  if (transport->lingers)
    GST_WARNING_OBJECT (transport, "%u agents still closing after %u ms",
        g_list_length (transport->lingers), timeout_ms);
  g_object_unref (transport);
}

/* ------------------------------------------------------------------------ */
/* Closing */

static void
clear_timer (GSource ** timer)
{
  if (*timer) {
    g_source_destroy (*timer);
    g_source_unref (*timer);
    *timer = NULL;
  }
}

/* Stops everything and hands the agent over to a linger, which sends what
 * is left of a partly written frame and then ERROR (@code, @message) if
 * @send_error and the transport is up. Emits nothing. */
static void
shut_down (MeshPeerLink * link, gboolean send_error, guint16 code,
    const gchar * message)
{
  GQueue last = G_QUEUE_INIT;
  gsize last_offset = 0;

  link->state = MESH_PEER_CONNECTION_CLOSED;
  link->close_code = code;
  clear_timer (&link->connect_timer);
  clear_timer (&link->ping_timer);
  g_cancellable_cancel (link->cancellable);

  if (link->agent && send_error && link->transport_up && !link->silent) {
    /* a frame cut in the middle would make the ERROR undecodable, and
     * ERROR before HELLO would be a protocol error */
    if (link->head_offset > 0 || link->hello_in_queue) {
      g_queue_push_tail (&last, g_bytes_ref (g_queue_peek_head
              (&link->send_queue)));
      last_offset = link->head_offset;
    }
    g_queue_push_tail (&last, mesh_wire_encode_error (code, message));
  }
  g_queue_clear_full (&link->send_queue, (GDestroyNotify) g_bytes_unref);
  link->head_offset = 0;
  link->queue_size = 0;
  link->hello_in_queue = FALSE;

  if (link->agent) {
    g_signal_handlers_disconnect_by_data (link->agent, link);
    linger_start (link->transport, g_steal_pointer (&link->agent),
        link->stream_id, &last, last_offset);
  }
}

/* Closes (once) and emits "closed" with @why and the formatted message,
 * which is also the ERROR frame's message when one is sent. */
/* *INDENT-OFF* */
static void close_link (MeshPeerLink * link, MeshPeerConnectionError why,
    gboolean send_error, guint16 code, const gchar * format, ...)
    G_GNUC_PRINTF (5, 6);
/* *INDENT-ON* */

static void
close_link (MeshPeerLink * link, MeshPeerConnectionError why,
    gboolean send_error, guint16 code, const gchar * format, ...)
{
  GError *reason;
  va_list args;

  if (link->state == MESH_PEER_CONNECTION_CLOSED)
    return;

  va_start (args, format);
  reason = g_error_new_valist (MESH_PEER_CONNECTION_ERROR, why, format, args);
  va_end (args);

  GST_INFO_OBJECT (link, "closing link to %s: %s", link->remote_peer_id,
      reason->message);
  shut_down (link, send_error, code, reason->message);
  mesh_peer_connection_emit_closed (MESH_PEER_CONNECTION (link), reason);
  g_error_free (reason);
}

/* ------------------------------------------------------------------------ */
/* Sending */

static void
enqueue (MeshPeerLink * link, GBytes * frame)
{
  g_queue_push_tail (&link->send_queue, frame);
  link->queue_size += g_bytes_get_size (frame);
  if (link->queue_size >= MESH_PEER_CONNECTION_LOW_WATER)
    link->above_low_water = TRUE;
}

/* Ahead of everything but HELLO and a frame already partly written. */
static void
enqueue_urgent (MeshPeerLink * link, GBytes * frame)
{
  gint pos = (link->head_offset > 0 || link->hello_in_queue) ? 1 : 0;

  g_queue_push_nth (&link->send_queue, frame, pos);
  link->queue_size += g_bytes_get_size (frame);
  if (link->queue_size >= MESH_PEER_CONNECTION_LOW_WATER)
    link->above_low_water = TRUE;
}

/* Writes what the transport accepts. "writable" is only emitted from the
 * transport's own callbacks (@may_emit), never from inside send(): a
 * handler that sends more would recurse. */
static void
flush_send_queue (MeshPeerLink * link, gboolean may_emit)
{
  GBytes *head;

  if (!link->agent || !link->transport_up || link->silent)
    return;

  while ((head = g_queue_peek_head (&link->send_queue))) {
    gsize size;
    const guint8 *data = g_bytes_get_data (head, &size);
    gint n = nice_agent_send (link->agent, link->stream_id, COMPONENT_ID,
        size - link->head_offset, (const gchar *) data + link->head_offset);

    if (n <= 0)
      break;                    /* window full: wait for writable */
    link->bytes_sent += n;
    link->queue_size -= n;
    link->head_offset += n;
    if (link->head_offset < size)
      break;
    g_bytes_unref (g_queue_pop_head (&link->send_queue));
    link->head_offset = 0;
    link->hello_in_queue = FALSE;
  }

  if (may_emit && link->above_low_water
      && link->queue_size < MESH_PEER_CONNECTION_LOW_WATER
      && link->state == MESH_PEER_CONNECTION_CONNECTED) {
    link->above_low_water = FALSE;
    mesh_peer_connection_emit_writable (MESH_PEER_CONNECTION (link));
  }
}

static void
send_ping (MeshPeerLink * link)
{
  if (link->silent)
    return;
  link->last_ping = g_get_monotonic_time ();
  enqueue_urgent (link, mesh_wire_encode_ping (link->last_ping));
  flush_send_queue (link, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Timers */

static GSource *
start_timer (MeshPeerLink * link, guint ms, GSourceFunc func)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, link, NULL);
  g_source_attach (source, link->context);
  return source;
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  MeshPeerLink *link = g_object_ref (user_data);

  close_link (link, MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT, TRUE,
      MESH_WIRE_CLOSE_TIMEOUT, "not connected within %u ms",
      link->connect_timeout_ms);
  g_object_unref (link);
  return G_SOURCE_REMOVE;
}

static gboolean
on_ping_timer (gpointer user_data)
{
  MeshPeerLink *link = g_object_ref (user_data);
  gint64 idle = g_get_monotonic_time () - link->last_received;
  gboolean keep = TRUE;

  if (idle >= (gint64) link->idle_timeout_ms * 1000) {
    close_link (link, MESH_PEER_CONNECTION_ERROR_IDLE_TIMEOUT, TRUE,
        MESH_WIRE_CLOSE_TIMEOUT, "nothing received for %" G_GINT64_FORMAT
        " ms", idle / 1000);
    keep = FALSE;
  } else {
    send_ping (link);
  }
  g_object_unref (link);
  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* Receiving */

static void
protocol_error (MeshPeerLink * link, const gchar * what)
{
  close_link (link, MESH_PEER_CONNECTION_ERROR_PROTOCOL, TRUE,
      MESH_WIRE_CLOSE_PROTOCOL, "protocol error: %s", what);
}

static void
become_ready (MeshPeerLink * link)
{
  link->state = MESH_PEER_CONNECTION_CONNECTED;
  link->was_ready = TRUE;
  clear_timer (&link->connect_timer);
  link->ping_timer = start_timer (link, MAX (link->idle_timeout_ms / 3, 1),
      on_ping_timer);
  /* an early first PING makes the RTT known at once */
  send_ping (link);
  GST_INFO_OBJECT (link, "link to %s ready (%s)", link->remote_peer_id,
      link->selected_type ? link->selected_type : "?");
  mesh_peer_connection_emit_connected (MESH_PEER_CONNECTION (link));
}

static void
handle_hello (MeshPeerLink * link, const MeshWireFrame * f)
{
  link->hello_received = TRUE;
  if (strcmp (f->hello.swarm_id, link->swarm_id) != 0) {
    close_link (link, MESH_PEER_CONNECTION_ERROR_REJECTED, TRUE,
        MESH_WIRE_CLOSE_WRONG_SWARM, "peer is in swarm '%s', not '%s'",
        f->hello.swarm_id, link->swarm_id);
    return;
  }
  if (strcmp (f->hello.peer_id, link->remote_peer_id) != 0) {
    close_link (link, MESH_PEER_CONNECTION_ERROR_REJECTED, TRUE,
        MESH_WIRE_CLOSE_UNSPECIFIED, "peer says it is '%s', expected '%s'",
        f->hello.peer_id, link->remote_peer_id);
    return;
  }
  link->remote_uploads = (f->hello.flags & MESH_WIRE_HELLO_UPLOAD) != 0;
  become_ready (link);
}

static void
handle_frame (MeshPeerLink * link, const MeshWireFrame * f)
{
  if (!link->hello_received) {
    if (f->type == MESH_WIRE_TYPE_HELLO) {
      handle_hello (link, f);
    } else {
      gchar *what = g_strdup_printf ("%s before HELLO",
          mesh_wire_type_name (f->type));

      protocol_error (link, what);
      g_free (what);
    }
    return;
  }

  switch (f->type) {
    case MESH_WIRE_TYPE_HELLO:
      protocol_error (link, "second HELLO");
      break;
    case MESH_WIRE_TYPE_PING:
      if (!link->silent) {
        enqueue_urgent (link, mesh_wire_encode_pong (f->ping.opaque));
        flush_send_queue (link, FALSE);
      }
      break;
    case MESH_WIRE_TYPE_PONG:
      /* only the answer to our last PING: others are late or forged */
      if (f->ping.opaque == link->last_ping && link->last_ping != 0)
        link->rtt = g_get_monotonic_time () - (gint64) link->last_ping;
      break;
    case MESH_WIRE_TYPE_ERROR:
      close_link (link, MESH_PEER_CONNECTION_ERROR_REMOTE, FALSE, f->error.code,
          "peer closed the link (code %u): %s", f->error.code,
          f->error.message);
      break;
    default:
      mesh_peer_connection_emit_frame (MESH_PEER_CONNECTION (link), f);
      break;
  }
}

static void
process_received (MeshPeerLink * link, const guint8 * data, gsize len)
{
  MeshWireFrame frame;
  GError *err = NULL;

  if (link->state == MESH_PEER_CONNECTION_CLOSED || len == 0)
    return;

  link->bytes_received += len;
  link->last_received = g_get_monotonic_time ();
  mesh_goodput_meter_add (&link->goodput, link->last_received, len);
  mesh_wire_decoder_feed (link->decoder, data, len);

  while (link->state != MESH_PEER_CONNECTION_CLOSED) {
    MeshWireResult res = mesh_wire_decoder_next (link->decoder, &frame, &err);

    if (res == MESH_WIRE_RESULT_NEED_MORE)
      break;
    if (res == MESH_WIRE_RESULT_ERROR) {
      guint16 code = g_error_matches (err, MESH_WIRE_ERROR,
          MESH_WIRE_ERROR_UNSUPPORTED_VERSION) ? MESH_WIRE_CLOSE_VERSION :
          MESH_WIRE_CLOSE_PROTOCOL;

      close_link (link, MESH_PEER_CONNECTION_ERROR_PROTOCOL, TRUE, code,
          "protocol error: %s", err->message);
      g_clear_error (&err);
      break;
    }
    handle_frame (link, &frame);
    mesh_wire_frame_clear (&frame);
  }
}

static void
on_received (NiceAgent * agent, guint stream_id, guint component_id,
    guint len, gchar * buf, gpointer user_data)
{
  MeshPeerLink *link = g_object_ref (user_data);

  process_received (link, (const guint8 *) buf, len);
  g_object_unref (link);
}

void
mesh_peer_link_inject_received_for_test (MeshPeerLink * link,
    const guint8 * data, gsize len)
{
  g_return_if_fail (MESH_IS_PEER_LINK (link));

  g_object_ref (link);
  process_received (link, data, len);
  g_object_unref (link);
}

void
mesh_peer_link_set_silent_for_test (MeshPeerLink * link, gboolean silent)
{
  g_return_if_fail (MESH_IS_PEER_LINK (link));

  link->silent = silent;
}

/* ------------------------------------------------------------------------ */
/* Agent callbacks */

static void
emit_signal_out (MeshPeerLink * link, JsonObject * data)
{
  mesh_peer_connection_emit_signal_out (MESH_PEER_CONNECTION (link), data);
  json_object_unref (data);
}

static void
on_new_candidate (NiceAgent * agent, NiceCandidate * cand, gpointer user_data)
{
  MeshPeerLink *link = user_data;
  JsonObject *data;
  gchar *sdp;

  if (cand->stream_id != link->stream_id || cand->component_id != COMPONENT_ID)
    return;
  if (link->relay_only && cand->type != NICE_CANDIDATE_TYPE_RELAYED)
    return;

  sdp = nice_agent_generate_local_candidate_sdp (agent, cand);
  GST_DEBUG_OBJECT (link, "local candidate %s", sdp);
  data = json_object_new ();
  json_object_set_string_member (data, "kind", "candidate");
  json_object_set_string_member (data, "sdp", sdp);
  g_free (sdp);

  g_object_ref (link);
  emit_signal_out (link, data);
  g_object_unref (link);
}

static void
on_gathering_done (NiceAgent * agent, guint stream_id, gpointer user_data)
{
  MeshPeerLink *link = user_data;
  JsonObject *data;

  if (stream_id != link->stream_id)
    return;

  data = json_object_new ();
  json_object_set_string_member (data, "kind", "end-of-candidates");
  g_object_ref (link);
  emit_signal_out (link, data);
  g_object_unref (link);
}

static void
on_component_state_changed (NiceAgent * agent, guint stream_id,
    guint component_id, guint state, gpointer user_data)
{
  MeshPeerLink *link = g_object_ref (user_data);

  GST_DEBUG_OBJECT (link, "component state %s",
      nice_component_state_to_string (state));

  switch (state) {
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
      link->transport_up = TRUE;
      flush_send_queue (link, TRUE);
      break;
    case NICE_COMPONENT_STATE_FAILED:
      close_link (link, MESH_PEER_CONNECTION_ERROR_TRANSPORT_FAILED, FALSE,
          MESH_WIRE_CLOSE_UNSPECIFIED, "%s", link->transport_up ?
          "transport failed" : "no candidate pair worked");
      break;
    default:
      break;
  }
  g_object_unref (link);
}

static void
on_writable (NiceAgent * agent, guint stream_id, guint component_id,
    gpointer user_data)
{
  MeshPeerLink *link = g_object_ref (user_data);

  flush_send_queue (link, TRUE);
  g_object_unref (link);
}

static const gchar *
candidate_type_name (NiceCandidateType type)
{
  switch (type) {
    case NICE_CANDIDATE_TYPE_RELAYED:
      return "relay";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return "prflx";
    case NICE_CANDIDATE_TYPE_HOST:
    default:
      return "host";
  }
}

/* Higher is more indirect. */
static gint
candidate_type_rank (NiceCandidateType type)
{
  switch (type) {
    case NICE_CANDIDATE_TYPE_RELAYED:
      return 3;
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return 2;
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return 1;
    default:
      return 0;
  }
}

static void
on_selected_pair (NiceAgent * agent, guint stream_id, guint component_id,
    NiceCandidate * local, NiceCandidate * remote, gpointer user_data)
{
  MeshPeerLink *link = user_data;
  NiceCandidateType type = local->type;

  if (candidate_type_rank (remote->type) > candidate_type_rank (type))
    type = remote->type;
  link->selected_type = candidate_type_name (type);
  GST_DEBUG_OBJECT (link, "selected pair %s/%s",
      candidate_type_name (local->type), candidate_type_name (remote->type));
}

/* ------------------------------------------------------------------------ */
/* Starting */

static void
gather (MeshPeerLink * link)
{
  if (link->stun_ip)
    g_object_set (link->agent, "stun-server", link->stun_ip,
        "stun-server-port", link->stun_port ? link->stun_port : 3478, NULL);
  if (link->turn_ip
      && !nice_agent_set_relay_info (link->agent, link->stream_id,
          COMPONENT_ID, link->turn_ip, link->turn_port ? link->turn_port :
          3478, link->turn_user ? link->turn_user : "",
          link->turn_password ? link->turn_password : "",
          NICE_RELAY_TYPE_TURN_UDP))
    GST_WARNING_OBJECT (link, "TURN server %s refused", link->turn_ip);

  if (link->relay_only && !link->turn_ip) {
    close_link (link, MESH_PEER_CONNECTION_ERROR_CONFIG, FALSE,
        MESH_WIRE_CLOSE_UNSPECIFIED, "relay only, but no usable TURN server");
    return;
  }
  if (!nice_agent_gather_candidates (link->agent, link->stream_id))
    close_link (link, MESH_PEER_CONNECTION_ERROR_CONFIG, FALSE,
        MESH_WIRE_CLOSE_UNSPECIFIED, "could not gather candidates");
}

typedef struct
{
  MeshPeerLink *link;           /* not touched once cancelled */
  gchar **ip;
} Lookup;

static void
on_server_resolved (GObject * source, GAsyncResult * res, gpointer user_data)
{
  Lookup *lookup = user_data;
  MeshPeerLink *link = lookup->link;
  GError *err = NULL;
  GList *addresses;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), res, &err);
  g_free (lookup);
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_error_free (err);
    return;                     /* the link may be gone */
  }

  g_object_ref (link);
  if (err) {
    GST_WARNING_OBJECT (link, "server name lookup failed: %s", err->message);
    g_error_free (err);
  } else {
    GList *l;

    /* libnice's host candidates are IPv4 in the usual setup: prefer v4 */
    for (l = addresses; l; l = l->next)
      if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
        break;
    if (!l)
      l = addresses;
    if (l)
      *lookup->ip = g_inet_address_to_string (l->data);
    g_resolver_free_addresses (addresses);
  }

  if (--link->pending_lookups == 0
      && link->state != MESH_PEER_CONNECTION_CLOSED)
    gather (link);
  g_object_unref (link);
}

/* Sets *ip at once for an address, else starts a lookup. */
static void
resolve_server (MeshPeerLink * link, const gchar * host, gchar ** ip)
{
  GResolver *resolver;
  Lookup *lookup;

  if (!host)
    return;
  if (g_hostname_is_ip_address (host)) {
    *ip = g_strdup (host);
    return;
  }

  lookup = g_new0 (Lookup, 1);
  lookup->link = link;
  lookup->ip = ip;
  link->pending_lookups++;
  resolver = g_resolver_get_default ();
  /* the answer comes on the thread-default context: make it ours */
  g_main_context_push_thread_default (link->context);
  g_resolver_lookup_by_name_async (resolver, host, link->cancellable,
      on_server_resolved, lookup);
  g_main_context_pop_thread_default (link->context);
  g_object_unref (resolver);
}

static gboolean
restrict_local_address (MeshPeerLink * link)
{
  NiceAddress addr;

  if (!link->local_address)
    return TRUE;
  nice_address_init (&addr);
  if (!nice_address_set_from_string (&addr, link->local_address))
    return FALSE;
  return nice_agent_add_local_address (link->agent, &addr);
}

static void
emit_credentials (MeshPeerLink * link)
{
  gchar *ufrag = NULL, *pwd = NULL;
  JsonObject *data;

  if (!nice_agent_get_local_credentials (link->agent, link->stream_id,
          &ufrag, &pwd)) {
    close_link (link, MESH_PEER_CONNECTION_ERROR_CONFIG, FALSE,
        MESH_WIRE_CLOSE_UNSPECIFIED, "no local ICE credentials");
    return;
  }
  data = json_object_new ();
  json_object_set_string_member (data, "kind", "credentials");
  json_object_set_string_member (data, "ufrag", ufrag);
  json_object_set_string_member (data, "pwd", pwd);
  g_free (ufrag);
  g_free (pwd);
  emit_signal_out (link, data);
}

static void apply_remote_signalling (MeshPeerLink * link);

void
mesh_peer_link_start (MeshPeerLink * link)
{
  g_return_if_fail (MESH_IS_PEER_LINK (link));
  g_return_if_fail (!link->started);

  if (link->state == MESH_PEER_CONNECTION_CLOSED)
    return;
  link->started = TRUE;
  g_object_ref (link);

  link->connect_timer = start_timer (link, link->connect_timeout_ms,
      on_connect_timeout);

  if (!restrict_local_address (link)) {
    close_link (link, MESH_PEER_CONNECTION_ERROR_CONFIG, FALSE,
        MESH_WIRE_CLOSE_UNSPECIFIED, "unusable local address '%s'",
        link->local_address);
    goto out;
  }

  /* both sides send their credentials first, whatever their role */
  emit_credentials (link);
  if (link->state == MESH_PEER_CONNECTION_CLOSED)
    goto out;
  apply_remote_signalling (link);
  if (link->state == MESH_PEER_CONNECTION_CLOSED)
    goto out;

  resolve_server (link, link->stun_host, &link->stun_ip);
  resolve_server (link, link->turn_host, &link->turn_ip);
  if (link->pending_lookups == 0)
    gather (link);

out:
  g_object_unref (link);
}

/* ------------------------------------------------------------------------ */
/* Remote signalling */

static void
apply_remote_signalling (MeshPeerLink * link)
{
  if (!link->started || !link->have_remote_credentials || !link->agent)
    return;

  if (link->pending_candidates) {
    GSList *cands = g_slist_reverse (link->pending_candidates);
    gint n;

    link->pending_candidates = NULL;
    link->n_pending_candidates = 0;
    n = nice_agent_set_remote_candidates (link->agent, link->stream_id,
        COMPONENT_ID, cands);
    if (n < 0)
      GST_WARNING_OBJECT (link, "remote candidates refused");
    g_slist_free_full (cands, (GDestroyNotify) nice_candidate_free);
  }
  if (link->remote_gathering_done && !link->remote_gathering_done_applied) {
    link->remote_gathering_done_applied = TRUE;
    nice_agent_peer_candidate_gathering_done (link->agent, link->stream_id);
  }
}

/* The string member @name, or NULL if absent or of another type. */
static const gchar *
get_string (JsonObject * obj, const gchar * name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (!node || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static void
handle_credentials (MeshPeerLink * link, JsonObject * data)
{
  const gchar *ufrag = get_string (data, "ufrag");
  const gchar *pwd = get_string (data, "pwd");

  if (!ufrag || !pwd || !*ufrag || !*pwd) {
    GST_WARNING_OBJECT (link, "credentials without ufrag or pwd: ignored");
    return;
  }
  if (link->have_remote_credentials) {
    if (g_strcmp0 (ufrag, link->remote_ufrag) != 0)
      GST_WARNING_OBJECT (link, "new remote credentials (ICE restart is not "
          "supported): ignored");
    return;
  }
  if (!nice_agent_set_remote_credentials (link->agent, link->stream_id,
          ufrag, pwd)) {
    GST_WARNING_OBJECT (link, "invalid remote credentials: ignored");
    return;
  }
  link->have_remote_credentials = TRUE;
  link->remote_ufrag = g_strdup (ufrag);
  apply_remote_signalling (link);
}

static void
handle_candidate (MeshPeerLink * link, JsonObject * data)
{
  const gchar *sdp = get_string (data, "sdp");
  NiceCandidate *cand;

  if (!sdp || strlen (sdp) > MAX_CANDIDATE_SDP) {
    GST_WARNING_OBJECT (link, "candidate without a usable sdp: ignored");
    return;
  }
  cand = nice_agent_parse_remote_candidate_sdp (link->agent, link->stream_id,
      sdp);
  if (!cand) {
    GST_WARNING_OBJECT (link, "unparsable candidate '%s': ignored", sdp);
    return;
  }
  if (cand->component_id != COMPONENT_ID) {
    GST_WARNING_OBJECT (link, "candidate for component %u: ignored",
        cand->component_id);
    nice_candidate_free (cand);
    return;
  }
  if (link->n_pending_candidates >= MAX_PENDING_CANDIDATES) {
    GST_WARNING_OBJECT (link, "too many candidates: ignored");
    nice_candidate_free (cand);
    return;
  }
  GST_DEBUG_OBJECT (link, "remote candidate %s", sdp);
  link->pending_candidates = g_slist_prepend (link->pending_candidates, cand);
  link->n_pending_candidates++;
  apply_remote_signalling (link);
}

void
mesh_peer_link_handle_signal (MeshPeerLink * link, JsonObject * data)
{
  const gchar *kind;

  g_return_if_fail (MESH_IS_PEER_LINK (link));

  if (link->state == MESH_PEER_CONNECTION_CLOSED)
    return;
  if (!data) {
    GST_WARNING_OBJECT (link, "empty signal: ignored");
    return;
  }

  g_object_ref (link);
  kind = get_string (data, "kind");
  if (g_strcmp0 (kind, "credentials") == 0) {
    handle_credentials (link, data);
  } else if (g_strcmp0 (kind, "candidate") == 0) {
    handle_candidate (link, data);
  } else if (g_strcmp0 (kind, "end-of-candidates") == 0) {
    link->remote_gathering_done = TRUE;
    apply_remote_signalling (link);
  } else {
    GST_WARNING_OBJECT (link, "signal of unknown kind '%s': ignored",
        GST_STR_NULL (kind));
  }
  g_object_unref (link);
}

/* ------------------------------------------------------------------------ */
/* Public API */

gboolean
mesh_peer_link_send (MeshPeerLink * link, GBytes * frame)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), FALSE);
  g_return_val_if_fail (frame != NULL && g_bytes_get_size (frame) > 0, FALSE);

  if (link->state != MESH_PEER_CONNECTION_CONNECTED)
    return FALSE;
  enqueue (link, g_bytes_ref (frame));
  g_object_ref (link);
  flush_send_queue (link, FALSE);
  g_object_unref (link);
  return TRUE;
}

gsize
mesh_peer_link_get_send_queue_size (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), 0);

  return link->queue_size;
}

void
mesh_peer_link_close (MeshPeerLink * link, guint16 code, const gchar * message)
{
  g_return_if_fail (MESH_IS_PEER_LINK (link));

  g_object_ref (link);
  close_link (link, MESH_PEER_CONNECTION_ERROR_LOCAL, TRUE, code, "%s",
      message ? message : "closed");
  g_object_unref (link);
}

MeshPeerConnectionState
mesh_peer_link_get_state (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), MESH_PEER_CONNECTION_CLOSED);

  return link->state;
}

const gchar *
mesh_peer_link_get_remote_peer_id (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), NULL);

  return link->remote_peer_id;
}

gboolean
mesh_peer_link_is_controlling (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), FALSE);

  return link->controlling;
}

gboolean
mesh_peer_link_remote_uploads (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), FALSE);

  return link->remote_uploads;
}

gint64
mesh_peer_link_get_rtt (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), -1);

  return link->rtt;
}

guint64
mesh_peer_link_get_bytes_sent (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), 0);

  return link->bytes_sent;
}

guint64
mesh_peer_link_get_bytes_received (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), 0);

  return link->bytes_received;
}

const gchar *
mesh_peer_link_get_selected_type (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), NULL);

  return link->was_ready ? link->selected_type : NULL;
}

guint16
mesh_peer_link_get_close_code (MeshPeerLink * link)
{
  g_return_val_if_fail (MESH_IS_PEER_LINK (link), 0);

  return link->close_code;
}

/* ------------------------------------------------------------------------ */
/* Construction */

static gboolean
create_agent (MeshPeerLink * link)
{
  link->agent = nice_agent_new_full (link->context,
      NICE_COMPATIBILITY_RFC5245,
      NICE_AGENT_OPTION_RELIABLE | NICE_AGENT_OPTION_ICE_TRICKLE);
  if (!link->agent)
    return FALSE;
  g_object_set (link->agent, "controlling-mode", link->controlling,
      "upnp", FALSE, "ice-tcp", FALSE, "force-relay", link->relay_only, NULL);

  link->stream_id = nice_agent_add_stream (link->agent, 1);
  if (link->stream_id == 0)
    return FALSE;

  g_signal_connect (link->agent, "new-candidate-full",
      G_CALLBACK (on_new_candidate), link);
  g_signal_connect (link->agent, "candidate-gathering-done",
      G_CALLBACK (on_gathering_done), link);
  g_signal_connect (link->agent, "component-state-changed",
      G_CALLBACK (on_component_state_changed), link);
  g_signal_connect (link->agent, "reliable-transport-writable",
      G_CALLBACK (on_writable), link);
  g_signal_connect (link->agent, "new-selected-pair-full",
      G_CALLBACK (on_selected_pair), link);
  return nice_agent_attach_recv (link->agent, link->stream_id, COMPONENT_ID,
      link->context, on_received, link);
}

MeshPeerLink *
mesh_peer_link_new (MeshNiceTransport * transport,
    const MeshPeerLinkConfig * config, const gchar * remote_peer_id,
    gboolean controlling)
{
  MeshPeerLink *link;
  GBytes *hello;

  g_return_val_if_fail (MESH_IS_NICE_TRANSPORT (transport), NULL);
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->swarm_id != NULL, NULL);
  g_return_val_if_fail (config->local_peer_id != NULL, NULL);
  g_return_val_if_fail (remote_peer_id != NULL, NULL);

  /* also checks the ids against the wire bounds (critical if not) */
  hello = mesh_wire_encode_hello (config->upload ? MESH_WIRE_HELLO_UPLOAD : 0,
      config->swarm_id, config->local_peer_id);
  if (!hello)
    return NULL;

  link = g_object_new (MESH_TYPE_PEER_LINK, NULL);
  link->transport = g_object_ref (transport);
  link->context = g_main_context_ref (transport->context);
  link->swarm_id = g_strdup (config->swarm_id);
  link->local_peer_id = g_strdup (config->local_peer_id);
  link->remote_peer_id = g_strdup (remote_peer_id);
  link->upload = config->upload;
  link->stun_host = g_strdup (config->stun_host);
  link->stun_port = config->stun_port;
  link->turn_host = g_strdup (config->turn_host);
  link->turn_port = config->turn_port;
  link->turn_user = g_strdup (config->turn_user);
  link->turn_password = g_strdup (config->turn_password);
  link->relay_only = config->relay_only;
  link->local_address = g_strdup (config->local_address);
  link->connect_timeout_ms = config->connect_timeout_ms ?
      config->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
  link->idle_timeout_ms = config->idle_timeout_ms ?
      config->idle_timeout_ms : DEFAULT_IDLE_TIMEOUT_MS;
  link->controlling = controlling;

  /* HELLO goes first, as soon as the transport is up */
  enqueue (link, hello);
  link->hello_in_queue = TRUE;

  if (!create_agent (link)) {
    GST_ERROR_OBJECT (link, "could not create the ICE agent");
    g_object_unref (link);
    return NULL;
  }
  GST_DEBUG_OBJECT (link, "link %s -> %s (%s), transport %" GST_PTR_FORMAT,
      link->local_peer_id, remote_peer_id,
      controlling ? "controlling" : "controlled", transport);
  return link;
}

static void
mesh_peer_link_init (MeshPeerLink * link)
{
  link->state = MESH_PEER_CONNECTION_CONNECTING;
  link->rtt = -1;
  link->cancellable = g_cancellable_new ();
  link->decoder = mesh_wire_decoder_new ();
  g_queue_init (&link->send_queue);
}

static void
mesh_peer_link_dispose (GObject * object)
{
  MeshPeerLink *link = MESH_PEER_LINK (object);

  /* dropped without close(): tell the peer, silently for our owner */
  if (link->state != MESH_PEER_CONNECTION_CLOSED)
    shut_down (link, TRUE, MESH_WIRE_CLOSE_GOING_AWAY, "going away");

  G_OBJECT_CLASS (mesh_peer_link_parent_class)->dispose (object);
}

static void
mesh_peer_link_finalize (GObject * object)
{
  MeshPeerLink *link = MESH_PEER_LINK (object);

  g_slist_free_full (link->pending_candidates,
      (GDestroyNotify) nice_candidate_free);
  g_queue_clear_full (&link->send_queue, (GDestroyNotify) g_bytes_unref);
  mesh_wire_decoder_free (link->decoder);
  g_object_unref (link->cancellable);
  g_free (link->remote_ufrag);
  g_free (link->stun_ip);
  g_free (link->turn_ip);
  g_free (link->swarm_id);
  g_free (link->local_peer_id);
  g_free (link->remote_peer_id);
  g_free (link->stun_host);
  g_free (link->turn_host);
  g_free (link->turn_user);
  g_free (link->turn_password);
  g_free (link->local_address);
  if (link->context)
    g_main_context_unref (link->context);
  g_clear_object (&link->transport);

  G_OBJECT_CLASS (mesh_peer_link_parent_class)->finalize (object);
}

static void
mesh_peer_link_class_init (MeshPeerLinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->dispose = mesh_peer_link_dispose;
  gobject_class->finalize = mesh_peer_link_finalize;

  GST_DEBUG_CATEGORY_INIT (mesh_peer_link_debug, "meshpeerlink", 0,
      "mesh peer-to-peer link");
}

/* ------------------------------------------------------------------------ */
/* MeshPeerConnection */

static void
link_start (MeshPeerConnection * conn)
{
  mesh_peer_link_start (MESH_PEER_LINK (conn));
}

static void
link_handle_signal (MeshPeerConnection * conn, JsonObject * data)
{
  mesh_peer_link_handle_signal (MESH_PEER_LINK (conn), data);
}

static gboolean
link_send (MeshPeerConnection * conn, GBytes * frame)
{
  return mesh_peer_link_send (MESH_PEER_LINK (conn), frame);
}

static gsize
link_get_send_queue_size (MeshPeerConnection * conn)
{
  return MESH_PEER_LINK (conn)->queue_size;
}

static void
link_close (MeshPeerConnection * conn, guint16 code, const gchar * message)
{
  mesh_peer_link_close (MESH_PEER_LINK (conn), code, message);
}

static MeshPeerConnectionState
link_get_state (MeshPeerConnection * conn)
{
  return MESH_PEER_LINK (conn)->state;
}

static const gchar *
link_get_remote_peer_id (MeshPeerConnection * conn)
{
  return MESH_PEER_LINK (conn)->remote_peer_id;
}

static gboolean
link_get_remote_uploads (MeshPeerConnection * conn)
{
  return MESH_PEER_LINK (conn)->remote_uploads;
}

static gint64
link_get_rtt (MeshPeerConnection * conn)
{
  return MESH_PEER_LINK (conn)->rtt;
}

static guint64
link_get_goodput (MeshPeerConnection * conn)
{
  return mesh_goodput_meter_get (&MESH_PEER_LINK (conn)->goodput);
}

static const gchar *
link_get_path_type (MeshPeerConnection * conn)
{
  return mesh_peer_link_get_selected_type (MESH_PEER_LINK (conn));
}

static void
mesh_peer_link_connection_init (MeshPeerConnectionInterface * iface)
{
  iface->start = link_start;
  iface->handle_signal = link_handle_signal;
  iface->send = link_send;
  iface->get_send_queue_size = link_get_send_queue_size;
  iface->close = link_close;
  iface->get_state = link_get_state;
  iface->get_remote_peer_id = link_get_remote_peer_id;
  iface->get_remote_uploads = link_get_remote_uploads;
  iface->get_rtt = link_get_rtt;
  iface->get_goodput = link_get_goodput;
  iface->get_path_type = link_get_path_type;
}

/* ------------------------------------------------------------------------ */
/* MeshNiceTransport */

/* "host:port" */
static gboolean
parse_host_port (const gchar * text, gchar ** host, guint * port)
{
  const gchar *colon;
  guint64 value;

  if (!text || !*text || !(colon = strrchr (text, ':')))
    return FALSE;
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &value, NULL))
    return FALSE;
  *host = g_strndup (text, colon - text);
  *port = value;
  return TRUE;
}

/* "turn://user:pass@host:port" */
static gboolean
parse_turn (const gchar * text, gchar ** host, guint * port, gchar ** user,
    gchar ** password)
{
  g_autoptr (GUri) uri = NULL;
  const gchar *userinfo;
  const gchar *colon;

  if (!text || !*text)
    return FALSE;
  uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  if (!uri || g_strcmp0 (g_uri_get_scheme (uri), "turn") != 0
      || !g_uri_get_host (uri) || g_uri_get_port (uri) <= 0)
    return FALSE;
  userinfo = g_uri_get_userinfo (uri);
  if (!userinfo || !(colon = strchr (userinfo, ':')))
    return FALSE;
  *user = g_uri_unescape_segment (userinfo, colon, NULL);
  *password = g_uri_unescape_string (colon + 1, NULL);
  if (!*user || !*password) {
    g_clear_pointer (user, g_free);
    g_clear_pointer (password, g_free);
    return FALSE;
  }
  *host = g_strdup (g_uri_get_host (uri));
  *port = g_uri_get_port (uri);
  return TRUE;
}

/* Parses @text into the transport's STUN settings unless it did already. */
static void
transport_take_stun (MeshNiceTransport * t, const gchar * text)
{
  if (g_strcmp0 (text, t->stun_text) == 0)
    return;
  g_free (t->stun_text);
  t->stun_text = g_strdup (text);
  g_clear_pointer (&t->stun_host, g_free);
  if (text && *text && !parse_host_port (text, &t->stun_host, &t->stun_port))
    GST_WARNING_OBJECT (t, "ignoring stun-server '%s': not host:port", text);
}

static void
transport_take_turn (MeshNiceTransport * t, const gchar * text)
{
  if (g_strcmp0 (text, t->turn_text) == 0)
    return;
  g_free (t->turn_text);
  t->turn_text = g_strdup (text);
  g_clear_pointer (&t->turn_host, g_free);
  g_clear_pointer (&t->turn_user, g_free);
  g_clear_pointer (&t->turn_password, g_free);
  if (text && *text && !parse_turn (text, &t->turn_host, &t->turn_port,
          &t->turn_user, &t->turn_password))
    GST_WARNING_OBJECT (t, "ignoring turn-server: not "
        "turn://user:pass@host:port");
}

static MeshPeerConnection *
nice_transport_connect (MeshPeerTransport * base,
    const MeshPeerConnectParams * params)
{
  MeshNiceTransport *t = MESH_NICE_TRANSPORT (base);
  MeshPeerLinkConfig config = { 0, };

  transport_take_stun (t, params->stun_server);
  transport_take_turn (t, params->turn_server);
  config.swarm_id = params->swarm_id;
  config.local_peer_id = params->local_peer_id;
  config.upload = params->upload;
  config.stun_host = t->stun_host;
  config.stun_port = t->stun_port;
  config.turn_host = t->turn_host;
  config.turn_port = t->turn_port;
  config.turn_user = t->turn_user;
  config.turn_password = t->turn_password;
  config.local_address = params->local_address;
  config.connect_timeout_ms = params->connect_timeout_ms;
  return (MeshPeerConnection *) mesh_peer_link_new (t, &config,
      params->remote_peer_id, params->controlling);
}

MeshNiceTransport *
mesh_nice_transport_new (GMainContext * context)
{
  MeshNiceTransport *t;

  g_return_val_if_fail (context != NULL, NULL);

  t = g_object_new (MESH_TYPE_NICE_TRANSPORT, NULL);
  t->context = g_main_context_ref (context);
  return t;
}

static void
mesh_nice_transport_init (MeshNiceTransport * t)
{
}

static void
mesh_nice_transport_finalize (GObject * object)
{
  MeshNiceTransport *t = MESH_NICE_TRANSPORT (object);

  /* every linger holds a reference */
  g_assert (t->lingers == NULL);
  g_main_context_unref (t->context);
  g_free (t->stun_text);
  g_free (t->stun_host);
  g_free (t->turn_text);
  g_free (t->turn_host);
  g_free (t->turn_user);
  g_free (t->turn_password);
  G_OBJECT_CLASS (mesh_nice_transport_parent_class)->finalize (object);
}

static void
mesh_nice_transport_transport_init (MeshPeerTransportInterface * iface)
{
  iface->connect = nice_transport_connect;
  iface->shutdown = nice_transport_shutdown;
}

static void
mesh_nice_transport_class_init (MeshNiceTransportClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->finalize = mesh_nice_transport_finalize;

  GST_DEBUG_CATEGORY_INIT (mesh_peer_link_debug, "meshpeerlink", 0,
      "mesh peer-to-peer link");
}
