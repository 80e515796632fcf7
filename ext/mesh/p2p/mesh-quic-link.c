/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The QUIC transport (see mesh-quic-link.h): libnice ICE in non-reliable
 * mode carries the datagrams of a MeshQuicConnection, which carries the wire
 * protocol on streams.
 *
 * Threads: everything (the transport, its lingering connections, the links'
 * agents, QUIC connections, timers and sockets, the server name lookups,
 * every signal) lives on the owner's GMainContext, the transport's; no
 * locks. Every entry point that may emit a signal holds a reference on the
 * link for its duration, as handlers may drop the owner's last reference.
 *
 * Datagrams: libnice consumes STUN (connectivity checks, TURN) itself in
 * non-reliable mode, so what reaches the receive callback is QUIC; ngtcp2
 * greases the fixed bit, so we could not tell QUIC from STUN by the first
 * byte anyway (mesh-quic.h).
 *
 * Streams: the control stream is the first bidirectional stream of the
 * client (id 0): HELLO first each way, then the frames without a request
 * id. A transfer lives on a stream of its own that the requester opens with
 * its REQUEST; the holder answers on it (DATA..., END or ABSENT) and ends
 * its direction (FIN) after END/ABSENT; the requester ends its direction
 * after END/ABSENT, or writes CANCEL then FIN, upon which the holder resets
 * the stream (its queued DATA is dropped at once). Request ids are per
 * requester (docs/protocol.md), so the link keeps two maps: our requests and
 * theirs. Frames for a transfer the link forgot (DATA after a CANCEL...) are
 * dropped, as the protocol lets a requester ignore them anyway.
 *
 * Bounds against a hostile peer: QUIC's flow control windows and stream
 * limit (64 concurrent streams), the wire decoder's one-frame buffer per
 * stream, a small bound on what a transfer stream may hold before HELLO,
 * and any frame out of place closes the link with PROTOCOL.
 *
 * Closing: ERROR goes on the control stream, then the QUIC connection and
 * the agent are handed over to a "linger" owned by the transport: it waits
 * (at most LINGER_MAX_MS) for the ERROR to be acknowledged or for the peer to
 * close, closes QUIC with the same code and message, lets the closing period
 * answer the peer for a moment, then frees the agent from a timeout, never
 * from inside a libnice or QUIC callback.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-quic-link.h"

#include "fetch/mesh-ice-server.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include <nice/agent.h>

#include "mesh-wire-session.h"

GST_DEBUG_CATEGORY_STATIC (mesh_quic_link_debug);
#define GST_CAT_DEFAULT mesh_quic_link_debug

#define COMPONENT_ID 1
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
/* Remote candidates kept while waiting for the offer or start(). */
#define MAX_PENDING_CANDIDATES 64
#define MAX_CANDIDATE_SDP 1024
#define MAX_SIGNAL_STRING 256
/* The UDP socket buffers wanted on the selected pair's socket: a window of
 * a few MiB in flight must not overflow the default ~200 KiB buffer. */
#define SOCKET_BUFFER_SIZE (4 * 1024 * 1024)
/* QUIC: bytes a stream accepts beyond the congestion window before
 * "stream-writable" (our queue after). Small: what QUIC holds is out of the
 * manager's hands (its upload queue bound, the order of its uploads) and
 * is sent whatever the requester wants meanwhile; the congestion window on
 * top keeps the link as full as congestion control lets it be. */
#define STREAM_SEND_BUFFER (128 * 1024)
#define MAX_STREAMS 64
/* Undecoded bytes a transfer stream may hold while the remote HELLO has not
 * arrived on the control stream: a REQUEST and a CANCEL. */
#define MAX_PRE_HELLO_BYTES 256
/* A closed link's QUIC connection waits this long at most for its ERROR to
 * be acknowledged or for the peer to close... */
#define LINGER_MAX_MS 2000
#define LINGER_POLL_MS 20
/* ...then stays this long in its closing period (answering the peer). */
#define CLOSING_MIN_MS 100
#define CLOSING_MAX_MS 1000

/* ------------------------------------------------------------------------ */
/* Types */

struct _MeshQuicTransport
{
  GObject parent;

  GMainContext *context;
  MeshQuicCredentials *credentials;
  GList *lingers;               /* Linger* */

  /* the last STUN and TURN settings parsed, so that an unusable one is
   * reported once rather than for every link */
  gchar *stun_text, *stun_host;
  guint stun_port;
  gchar *turn_text, *turn_host, *turn_user, *turn_password;
  guint turn_port;
};

/* One QUIC stream as the link sees it. */
typedef struct
{
  gint64 id;                    /* -1 until opened (STREAM_LIMIT) */
  gboolean control;
  gboolean local;               /* we opened it */
  gboolean has_request;         /* a transfer: its first frame was seen */
  guint32 request_id;
  gboolean done;                /* transfer over: unmapped */
  gboolean answer_received;     /* END or ABSENT (our requests) */
  gboolean fin_received;
  MeshWireDecoder *decoder;
  GQueue pending;               /* GBytes not yet accepted by QUIC */
  gsize head_offset;
  gboolean fin_wanted, fin_sent;
} QStream;

struct _MeshQuicLink
{
  GObject parent;

  MeshQuicTransport *transport;
  GMainContext *context;

  gchar *remote_peer_id;
  gchar *stun_host;
  guint stun_port;
  gchar *turn_host;
  guint turn_port;
  gchar *turn_user;
  gchar *turn_password;
  MeshPeerCandidatePolicy candidate_policy;
  gchar *local_address;
  guint connect_timeout_ms;
  MeshQuicCongestionControl cc;
  gboolean controlling;

  MeshWireSession *session;
  MeshPeerConnectionState state;
  guint16 close_code;

  NiceAgent *agent;             /* NULL once closed (handed to a linger) */
  guint stream_id;
  gboolean started;
  gboolean transport_up;
  const gchar *selected_type;   /* static string */
  gint socket_rcvbuf;

  GCancellable *cancellable;
  guint pending_lookups;
  gchar *stun_ip;
  gchar *turn_ip;

  gboolean have_remote_offer;
  gchar *remote_ufrag;
  gchar *remote_fingerprint;
  GSList *pending_candidates;   /* NiceCandidate *, newest first */
  guint n_pending_candidates;
  gboolean remote_gathering_done;
  gboolean remote_gathering_done_applied;

  MeshQuicConnection *quic;     /* NULL before ICE, and once closed */
  QStream *control;
  gboolean hello_written;       /* all of HELLO accepted by QUIC */
  GHashTable *streams;          /* gint64 * (&QStream.id) -> QStream, owns */
  GQueue unopened;              /* QStream waiting for the stream limit */
  GHashTable *ours;             /* request id -> QStream of our REQUEST */
  GHashTable *theirs;           /* request id -> QStream of theirs */

  GSource *connect_timer;
  GSource *ping_timer;
  GSource *overflow_timer;      /* closes a link whose peer does not read */

  gsize queue_size;
  gboolean above_low_water;
  gboolean silent;
  MeshGoodputMeter goodput;
};

static void mesh_quic_link_connection_init (MeshPeerConnectionInterface *
    iface);
static void mesh_quic_transport_transport_init (MeshPeerTransportInterface *
    iface);

G_DEFINE_TYPE_WITH_CODE (MeshQuicLink, mesh_quic_link, G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (MESH_TYPE_PEER_CONNECTION,
        mesh_quic_link_connection_init));
G_DEFINE_TYPE_WITH_CODE (MeshQuicTransport, mesh_quic_transport,
    G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (MESH_TYPE_PEER_TRANSPORT,
        mesh_quic_transport_transport_init));

/* *INDENT-OFF* */
static void close_link (MeshQuicLink * link, MeshPeerConnectionError why,
    gboolean send_error, guint16 code, const gchar * format, ...)
    G_GNUC_PRINTF (5, 6);
/* *INDENT-ON* */
static void flush_all (MeshQuicLink * link, gboolean may_emit);

static void
clear_timer (GSource ** timer)
{
  if (*timer) {
    g_source_destroy (*timer);
    g_source_unref (*timer);
    *timer = NULL;
  }
}

/* ------------------------------------------------------------------------ */
/* The datagram path: what the QUIC connection sends through */

typedef struct
{
  NiceAgent *agent;             /* a reference */
  guint stream_id;
} Path;

static void
path_free (gpointer data)
{
  Path *path = data;

  g_object_unref (path->agent);
  g_free (path);
}

/* FALSE only when the socket would block: QUIC retries shortly. Anything
 * else (no selected pair yet, a send error) counts as a loss, which QUIC
 * recovers from. */
static gboolean
path_send (const guint8 * data, gsize len, gpointer user_data)
{
  Path *path = user_data;
  GOutputVector vec = { data, len };
  NiceOutputMessage msg = { &vec, 1 };
  GError *err = NULL;
  gint n;

  n = nice_agent_send_messages_nonblocking (path->agent, path->stream_id,
      COMPONENT_ID, &msg, 1, NULL, &err);
  if (n < 0) {
    gboolean would_block = g_error_matches (err, G_IO_ERROR,
        G_IO_ERROR_WOULD_BLOCK);

    g_error_free (err);
    return !would_block;
  }
  return n == 1;
}

/* ------------------------------------------------------------------------ */
/* Linger: a closed link's QUIC connection and agent, finishing */

typedef struct
{
  MeshQuicTransport *transport; /* a reference */
  GMainContext *context;
  NiceAgent *agent;
  guint stream_id;
  MeshQuicConnection *quic;     /* NULL when the link had none */
  gint64 control_id;
  GQueue queue;                 /* GBytes still to write on control */
  gsize head_offset;
  guint16 code;
  gchar *message;
  gint64 srtt_us;
  gint64 deadline;              /* monotonic µs: close QUIC by then */
  GSource *timer;               /* NULL once the end has begun */
} Linger;

guint
mesh_quic_transport_count_lingering (MeshQuicTransport * transport)
{
  g_return_val_if_fail (MESH_IS_QUIC_TRANSPORT (transport), 0);

  return g_list_length (transport->lingers);
}

static void
linger_closed (GObject * source, GAsyncResult * res, gpointer user_data)
{
  Linger *linger = user_data;
  MeshQuicTransport *transport = linger->transport;

  transport->lingers = g_list_remove (transport->lingers, linger);
  GST_DEBUG_OBJECT (transport, "agent %p freed, %u lingering", linger->agent,
      g_list_length (transport->lingers));
  g_object_unref (linger->agent);
  g_main_context_unref (linger->context);
  g_free (linger->message);
  g_free (linger);
  g_object_unref (transport);
}

/* The end: drops the QUIC connection (its closing period with it) and
 * closes the agent. */
static gboolean
linger_finish (gpointer user_data)
{
  Linger *linger = user_data;
  GMainContext *context = linger->context;

  g_clear_pointer (&linger->timer, g_source_unref);
  g_queue_clear_full (&linger->queue, (GDestroyNotify) g_bytes_unref);
  if (linger->quic) {
    g_signal_handlers_disconnect_by_data (linger->quic, linger);
    g_clear_object (&linger->quic);
  }
  nice_agent_attach_recv (linger->agent, linger->stream_id, COMPONENT_ID,
      context, NULL, NULL);
  nice_agent_remove_stream (linger->agent, linger->stream_id);
  /* close_async() answers on the thread-default context: make it ours; the
   * answer frees @linger, perhaps before close_async() returns */
  g_main_context_push_thread_default (context);
  nice_agent_close_async (linger->agent, linger_closed, linger);
  g_main_context_pop_thread_default (context);
  return G_SOURCE_REMOVE;
}

static void
linger_schedule (Linger * linger, guint ms, GSourceFunc func)
{
  if (linger->timer) {
    g_source_destroy (linger->timer);
    g_source_unref (linger->timer);
  }
  linger->timer = g_timeout_source_new (ms);
  g_source_set_callback (linger->timer, func, linger, NULL);
  g_source_attach (linger->timer, linger->context);
}

/* The QUIC connection closed (from a QUIC callback: free nothing here). A
 * local close stays in its closing period for about 3 PTOs. */
static void
linger_on_quic_closed (MeshQuicConnection * quic, GError * reason,
    Linger * linger)
{
  guint ms = 0;

  GST_DEBUG_OBJECT (linger->transport, "lingering QUIC closed: %s",
      reason->message);
  if (g_error_matches (reason, MESH_QUIC_ERROR, MESH_QUIC_ERROR_LOCAL))
    ms = CLAMP (3 * (2 * linger->srtt_us + 25000) / 1000, CLOSING_MIN_MS,
        CLOSING_MAX_MS);
  if (linger->timer)
    linger_schedule (linger, ms, linger_finish);
}

static void
linger_close_quic (Linger * linger)
{
  if (mesh_quic_connection_get_state (linger->quic) != MESH_QUIC_STATE_CLOSED)
    mesh_quic_connection_close (linger->quic, linger->code, linger->message);
}

static void
linger_write (Linger * linger)
{
  GBytes *head;

  while ((head = g_queue_peek_head (&linger->queue))) {
    gsize size;
    const guint8 *data = g_bytes_get_data (head, &size);
    gssize n = mesh_quic_connection_stream_write (linger->quic,
        linger->control_id, data + linger->head_offset,
        size - linger->head_offset, NULL);

    if (n < 0) {
      g_queue_clear_full (&linger->queue, (GDestroyNotify) g_bytes_unref);
      return;
    }
    linger->head_offset += n;
    if (linger->head_offset < size)
      return;
    g_bytes_unref (g_queue_pop_head (&linger->queue));
    linger->head_offset = 0;
  }
}

static void
linger_on_stream_writable (MeshQuicConnection * quic, gint64 stream_id,
    Linger * linger)
{
  if (stream_id == linger->control_id)
    linger_write (linger);
}

/* Until the ERROR is acknowledged (the control stream's buffer is empty
 * again), or the deadline. */
static gboolean
linger_poll (gpointer user_data)
{
  Linger *linger = user_data;
  gboolean acked = g_queue_is_empty (&linger->queue)
      && mesh_quic_connection_stream_get_write_space (linger->quic,
      linger->control_id) >= STREAM_SEND_BUFFER;

  if (acked || g_get_monotonic_time () >= linger->deadline
      || mesh_quic_connection_get_state (linger->quic) ==
      MESH_QUIC_STATE_CLOSED) {
    g_clear_pointer (&linger->timer, g_source_unref);
    /* keep a timer set: "closed" reschedules it for the closing period */
    linger_schedule (linger, LINGER_MAX_MS, linger_finish);
    linger_close_quic (linger);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
linger_on_datagram (NiceAgent * agent, guint stream_id, guint component_id,
    guint len, gchar * buf, gpointer user_data)
{
  Linger *linger = user_data;

  if (linger->quic && len > 0)
    mesh_quic_connection_receive_datagram (linger->quic, (const guint8 *) buf,
        len);
}

/* Takes @agent, @quic and the bytes of @last. */
static void
linger_start (MeshQuicTransport * transport, NiceAgent * agent,
    guint stream_id, MeshQuicConnection * quic, gint64 control_id,
    GQueue * last, gsize head_offset, guint16 code, const gchar * message)
{
  Linger *linger = g_new0 (Linger, 1);

  linger->transport = g_object_ref (transport);
  linger->context = g_main_context_ref (transport->context);
  linger->agent = agent;
  linger->stream_id = stream_id;
  linger->quic = quic;
  linger->control_id = control_id;
  linger->queue = *last;
  linger->head_offset = head_offset;
  linger->code = code;
  linger->message = g_strdup (message);
  linger->deadline = g_get_monotonic_time () + LINGER_MAX_MS * 1000;
  transport->lingers = g_list_prepend (transport->lingers, linger);

  nice_agent_attach_recv (agent, stream_id, COMPONENT_ID, linger->context,
      linger_on_datagram, linger);
  if (!quic) {
    linger_schedule (linger, 0, linger_finish);
    return;
  }
  {
    MeshQuicStats stats;

    mesh_quic_connection_get_stats (quic, &stats);
    linger->srtt_us = stats.smoothed_rtt_us;
  }
  g_signal_connect (quic, "closed", G_CALLBACK (linger_on_quic_closed), linger);
  g_signal_connect (quic, "stream-writable",
      G_CALLBACK (linger_on_stream_writable), linger);
  if (mesh_quic_connection_get_state (quic) == MESH_QUIC_STATE_CONNECTED
      && control_id >= 0 && !g_queue_is_empty (&linger->queue)) {
    linger_write (linger);
    linger_schedule (linger, LINGER_POLL_MS, linger_poll);
  } else {
    g_queue_clear_full (&linger->queue, (GDestroyNotify) g_bytes_unref);
    linger_schedule (linger, LINGER_MAX_MS, linger_finish);
    if (mesh_quic_connection_get_state (quic) == MESH_QUIC_STATE_CLOSED)
      linger_schedule (linger, CLOSING_MIN_MS, linger_finish);
    else
      linger_close_quic (linger);
  }
}

/* A linger whose end has not begun (timer set), or NULL. */
static Linger *
find_unfinished_linger (MeshQuicTransport * transport)
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

/* Ends every lingering connection at once, then runs the owner context
 * until libnice has answered all the closes, or @timeout_ms passed. */
static void
quic_transport_shutdown (MeshPeerTransport * base, guint timeout_ms)
{
  MeshQuicTransport *transport = MESH_QUIC_TRANSPORT (base);
  gboolean timed_out = FALSE;
  GSource *timer;
  Linger *linger;

  g_object_ref (transport);
  GST_DEBUG_OBJECT (transport, "ending %u lingering links",
      g_list_length (transport->lingers));
  while ((linger = find_unfinished_linger (transport))) {
    g_source_destroy (linger->timer);
    if (linger->quic)
      linger_close_quic (linger);
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
/* Streams */

static QStream *
qstream_new (gint64 id, gboolean local)
{
  QStream *s = g_new0 (QStream, 1);

  s->id = id;
  s->local = local;
  s->decoder = mesh_wire_decoder_new ();
  g_queue_init (&s->pending);
  return s;
}

static void
qstream_free (QStream * s)
{
  g_queue_clear_full (&s->pending, (GDestroyNotify) g_bytes_unref);
  mesh_wire_decoder_free (s->decoder);
  g_free (s);
}

static gsize
qstream_pending_size (QStream * s)
{
  GList *l;
  gsize n = 0;

  for (l = s->pending.head; l; l = l->next)
    n += g_bytes_get_size (l->data);
  return n - s->head_offset;
}

/* Drops what QUIC has not taken yet. */
static void
qstream_drop_pending (MeshQuicLink * link, QStream * s)
{
  link->queue_size -= qstream_pending_size (s);
  g_queue_clear_full (&s->pending, (GDestroyNotify) g_bytes_unref);
  s->head_offset = 0;
}

static gboolean on_overflow (gpointer user_data);
static GSource *start_timer (MeshQuicLink * link, guint ms, GSourceFunc func);

/* Queues @frame (taken) on @s; past MESH_PEER_CONNECTION_MAX_QUEUE it is
 * dropped and the link closed from the main loop (never emits here). */
static void
enqueue (MeshQuicLink * link, QStream * s, GBytes * frame)
{
  if (link->queue_size + g_bytes_get_size (frame) >
      MESH_PEER_CONNECTION_MAX_QUEUE) {
    g_bytes_unref (frame);
    if (!link->overflow_timer)
      link->overflow_timer = start_timer (link, 0, on_overflow);
    return;
  }
  g_queue_push_tail (&s->pending, frame);
  link->queue_size += g_bytes_get_size (frame);
  if (link->queue_size >= MESH_PEER_CONNECTION_LOW_WATER)
    link->above_low_water = TRUE;
}

static QStream *
lookup_stream (MeshQuicLink * link, gint64 id)
{
  return g_hash_table_lookup (link->streams, &id);
}

static void
insert_stream (MeshQuicLink * link, QStream * s)
{
  g_hash_table_insert (link->streams, &s->id, s);
}

/* Forgets the transfer of @s in @map (ours or theirs). */
static void
unmap_transfer (MeshQuicLink * link, QStream * s)
{
  GHashTable *map = s->local ? link->ours : link->theirs;

  s->done = TRUE;
  if (s->has_request && g_hash_table_lookup (map,
          GUINT_TO_POINTER (s->request_id)) == s)
    g_hash_table_remove (map, GUINT_TO_POINTER (s->request_id));
}

static void
maybe_emit_writable (MeshQuicLink * link)
{
  if (link->above_low_water
      && link->queue_size < MESH_PEER_CONNECTION_LOW_WATER
      && link->state == MESH_PEER_CONNECTION_CONNECTED) {
    link->above_low_water = FALSE;
    mesh_peer_connection_emit_writable (MESH_PEER_CONNECTION (link));
  }
}

/* Writes what QUIC takes of @s, then its FIN when wanted. Never emits. */
static void
flush_stream (MeshQuicLink * link, QStream * s)
{
  GBytes *head;

  if (!link->quic || s->id < 0 || link->silent)
    return;
  while ((head = g_queue_peek_head (&s->pending))) {
    gsize size;
    const guint8 *data = g_bytes_get_data (head, &size);
    gssize n = mesh_quic_connection_stream_write (link->quic, s->id,
        data + s->head_offset, size - s->head_offset, NULL);

    if (n < 0) {
      /* the peer stopped the stream: nothing more goes there */
      GST_DEBUG_OBJECT (link, "stream %" G_GINT64_FORMAT " refuses writes",
          s->id);
      qstream_drop_pending (link, s);
      s->fin_sent = TRUE;
      return;
    }
    link->queue_size -= n;
    s->head_offset += n;
    if (s->head_offset < size)
      return;
    g_bytes_unref (g_queue_pop_head (&s->pending));
    s->head_offset = 0;
    if (s->control && !link->hello_written)
      link->hello_written = TRUE;
  }
  if (s->fin_wanted && !s->fin_sent) {
    s->fin_sent = TRUE;
    mesh_quic_connection_stream_finish (link->quic, s->id, NULL);
  }
}

static void
open_waiting_streams (MeshQuicLink * link)
{
  QStream *s;

  while (link->quic && (s = g_queue_peek_head (&link->unopened))) {
    gint64 id = mesh_quic_connection_open_stream (link->quic, NULL);

    if (id < 0)
      return;                   /* "streams-available" brings us back */
    g_queue_pop_head (&link->unopened);
    s->id = id;
    insert_stream (link, s);
    GST_LOG_OBJECT (link, "request %u on stream %" G_GINT64_FORMAT,
        s->request_id, id);
    flush_stream (link, s);
  }
}

static void
flush_all (MeshQuicLink * link, gboolean may_emit)
{
  GHashTableIter iter;
  gpointer value;

  if (!link->quic || link->state == MESH_PEER_CONNECTION_CLOSED)
    return;
  open_waiting_streams (link);
  g_hash_table_iter_init (&iter, link->streams);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    flush_stream (link, value);
  if (may_emit)
    maybe_emit_writable (link);
}

/* Resets both directions (a CANCEL received, a transfer the peer broke). */
static void
reset_stream (MeshQuicLink * link, QStream * s)
{
  qstream_drop_pending (link, s);
  s->fin_sent = TRUE;
  if (link->quic && s->id >= 0)
    mesh_quic_connection_stream_reset (link->quic, s->id, 0);
}

/* ------------------------------------------------------------------------ */
/* Closing */

/* Stops everything and hands the agent and the QUIC connection over to a
 * linger, which writes ERROR (@code, @message) on the control stream if
 * @send_error and HELLO could go first, then closes QUIC. Emits nothing. */
static void
shut_down (MeshQuicLink * link, gboolean send_error, guint16 code,
    const gchar * message)
{
  GQueue last = G_QUEUE_INIT;
  gsize last_offset = 0;
  QStream *c = link->control;
  gboolean control_open = link->quic && c->id >= 0;

  link->state = MESH_PEER_CONNECTION_CLOSED;
  link->close_code = code;
  clear_timer (&link->connect_timer);
  clear_timer (&link->ping_timer);
  clear_timer (&link->overflow_timer);
  g_cancellable_cancel (link->cancellable);

  if (send_error && control_open && !link->silent) {
    /* a frame cut in the middle would make the ERROR undecodable, and
     * ERROR before HELLO would be a protocol error */
    if (c->head_offset > 0 || !link->hello_written) {
      g_queue_push_tail (&last, g_bytes_ref (g_queue_peek_head (&c->pending)));
      last_offset = c->head_offset;
    }
    g_queue_push_tail (&last, mesh_wire_encode_error (code, message));
  }
  g_hash_table_remove_all (link->ours);
  g_hash_table_remove_all (link->theirs);
  qstream_drop_pending (link, c);
  link->queue_size = 0;

  if (link->quic)
    g_signal_handlers_disconnect_by_data (link->quic, link);
  if (link->agent) {
    g_signal_handlers_disconnect_by_data (link->agent, link);
    linger_start (link->transport, g_steal_pointer (&link->agent),
        link->stream_id, g_steal_pointer (&link->quic), control_open ? c->id :
        -1, &last, last_offset, code, message);
  }
  g_clear_object (&link->quic);
}

/* Closes (once) and emits "closed" with @why and the formatted message,
 * which is also the ERROR frame's message when one is sent. */
static void
close_link (MeshQuicLink * link, MeshPeerConnectionError why,
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

/* Closes as the session says (@error taken). */
static void
close_from_session (MeshQuicLink * link, GError * error, guint16 code)
{
  gboolean send_error = !g_error_matches (error, MESH_PEER_CONNECTION_ERROR,
      MESH_PEER_CONNECTION_ERROR_REMOTE);

  close_link (link, error->code, send_error, code, "%s", error->message);
  g_error_free (error);
}

static void
protocol_error (MeshQuicLink * link, const gchar * what)
{
  close_link (link, MESH_PEER_CONNECTION_ERROR_PROTOCOL, TRUE,
      MESH_WIRE_CLOSE_PROTOCOL, "protocol error: %s", what);
}

/* ------------------------------------------------------------------------ */
/* Timers and the session */

static GSource *
start_timer (MeshQuicLink * link, guint ms, GSourceFunc func)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, link, NULL);
  g_source_attach (source, link->context);
  return source;
}

static gboolean
is_pong (GBytes * frame)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);

  return size > MESH_WIRE_LENGTH_SIZE
      && data[MESH_WIRE_LENGTH_SIZE] == MESH_WIRE_TYPE_PONG;
}

/* PING and PONG: small, on the control stream. Never emits. */
static void
send_control (MeshQuicLink * link, GBytes * frame)
{
  if (!frame)
    return;
  if (link->silent || link->state == MESH_PEER_CONNECTION_CLOSED
      || (is_pong (frame) && !g_queue_is_empty (&link->control->pending))) {
    /* a PONG waits while QUIC takes nothing of the control stream: one
     * answer is enough, a PING flood must not grow the queue */
    g_bytes_unref (frame);
    return;
  }
  enqueue (link, link->control, frame);
  flush_stream (link, link->control);
}

static gboolean
on_overflow (gpointer user_data)
{
  MeshQuicLink *link = g_object_ref (user_data);

  g_clear_pointer (&link->overflow_timer, g_source_unref);
  close_link (link, MESH_PEER_CONNECTION_ERROR_PROTOCOL, TRUE,
      MESH_WIRE_CLOSE_TIMEOUT, "over %u bytes queued: the peer does not read",
      MESH_PEER_CONNECTION_MAX_QUEUE);
  g_object_unref (link);
  return G_SOURCE_REMOVE;
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  MeshQuicLink *link = g_object_ref (user_data);

  g_clear_pointer (&link->connect_timer, g_source_unref);
  close_link (link, MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT, TRUE,
      MESH_WIRE_CLOSE_TIMEOUT, "not connected within %u ms",
      link->connect_timeout_ms);
  g_object_unref (link);
  return G_SOURCE_REMOVE;
}

static gboolean
on_ping_timer (gpointer user_data)
{
  MeshQuicLink *link = g_object_ref (user_data);
  GBytes *ping = NULL;
  GError *error = NULL;
  guint16 code = 0;
  gboolean keep = TRUE;

  if (mesh_wire_session_tick (link->session, g_get_monotonic_time (), &ping,
          &code, &error)) {
    send_control (link, ping);
  } else {
    g_clear_pointer (&link->ping_timer, g_source_unref);
    close_from_session (link, error, code);
    keep = FALSE;
  }
  g_object_unref (link);
  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void process_stream (MeshQuicLink * link, QStream * s);

static void handle_fin (MeshQuicLink * link, QStream * s);

static void
become_connected (MeshQuicLink * link)
{
  GHashTableIter iter;
  gpointer value;
  GArray *ids;
  guint i;

  link->state = MESH_PEER_CONNECTION_CONNECTED;
  clear_timer (&link->connect_timer);
  link->ping_timer = start_timer (link,
      mesh_wire_session_get_ping_interval_ms (link->session), on_ping_timer);
  GST_INFO_OBJECT (link, "link to %s ready (%s)", link->remote_peer_id,
      link->selected_type ? link->selected_type : "?");
  mesh_peer_connection_emit_connected (MESH_PEER_CONNECTION (link));

  /* transfer streams that arrived before HELLO; handlers may change the
   * table, so look each one up again */
  ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_hash_table_iter_init (&iter, link->streams);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!((QStream *) value)->control)
      g_array_append_val (ids, ((QStream *) value)->id);
  for (i = 0; i < ids->len; i++) {
    QStream *s = lookup_stream (link, g_array_index (ids, gint64, i));

    if (link->state != MESH_PEER_CONNECTION_CONNECTED)
      break;
    if (!s)
      continue;
    process_stream (link, s);
    if (s->fin_received && link->state == MESH_PEER_CONNECTION_CONNECTED)
      handle_fin (link, s);
  }
  g_array_free (ids, TRUE);
}

/* ------------------------------------------------------------------------ */
/* Receiving */

static gboolean
is_transfer_type (MeshWireType type)
{
  switch (type) {
    case MESH_WIRE_TYPE_REQUEST:
    case MESH_WIRE_TYPE_DATA:
    case MESH_WIRE_TYPE_END:
    case MESH_WIRE_TYPE_CANCEL:
    case MESH_WIRE_TYPE_ABSENT:
      return TRUE;
    default:
      return FALSE;
  }
}

/* The request id of a transfer frame. */
static guint32
frame_request_id (const MeshWireFrame * f)
{
  switch (f->type) {
    case MESH_WIRE_TYPE_REQUEST:
      return f->request.request_id;
    case MESH_WIRE_TYPE_DATA:
      return f->data.request_id;
    case MESH_WIRE_TYPE_END:
      return f->end.request_id;
    case MESH_WIRE_TYPE_CANCEL:
      return f->cancel.request_id;
    case MESH_WIRE_TYPE_ABSENT:
      return f->absent.request_id;
    default:
      g_return_val_if_reached (0);
  }
}

static void
handle_control_frame (MeshQuicLink * link, const MeshWireFrame * f)
{
  GBytes *reply = NULL;
  GError *error = NULL;
  guint16 code = 0;
  MeshWireSessionAction action;

  if (is_transfer_type (f->type)) {
    gchar *what = g_strdup_printf ("%s on the control stream",
        mesh_wire_type_name (f->type));

    protocol_error (link, what);
    g_free (what);
    return;
  }
  action = mesh_wire_session_handle_frame (link->session, f,
      g_get_monotonic_time (), &reply, &code, &error);
  send_control (link, reply);
  switch (action) {
    case MESH_WIRE_SESSION_CONSUMED:
      break;
    case MESH_WIRE_SESSION_CONNECTED:
      become_connected (link);
      break;
    case MESH_WIRE_SESSION_DELIVER:
      mesh_peer_connection_emit_frame (MESH_PEER_CONNECTION (link), f);
      break;
    case MESH_WIRE_SESSION_CLOSE:
      close_from_session (link, error, code);
      break;
  }
}

/* A frame on a stream the peer opened: REQUEST first, then at most CANCEL. */
static void
handle_their_transfer (MeshQuicLink * link, QStream * s,
    const MeshWireFrame * f)
{
  guint32 id = frame_request_id (f);

  if (!s->has_request) {
    if (f->type != MESH_WIRE_TYPE_REQUEST) {
      protocol_error (link, "a transfer stream not opened by REQUEST");
      return;
    }
    if (g_hash_table_contains (link->theirs, GUINT_TO_POINTER (id))) {
      protocol_error (link, "REQUEST id already in flight");
      return;
    }
    s->has_request = TRUE;
    s->request_id = id;
    g_hash_table_insert (link->theirs, GUINT_TO_POINTER (id), s);
    mesh_peer_connection_emit_frame (MESH_PEER_CONNECTION (link), f);
    return;
  }
  if (f->type != MESH_WIRE_TYPE_CANCEL || id != s->request_id) {
    protocol_error (link, "unexpected frame on a requester's stream");
    return;
  }
  /* drops our queued DATA at once, even after our END was queued */
  reset_stream (link, s);
  if (s->done)
    return;                     /* our owner had answered already */
  unmap_transfer (link, s);
  mesh_peer_connection_emit_frame (MESH_PEER_CONNECTION (link), f);
}

/* A frame on a stream we opened with our REQUEST: DATA, then END or ABSENT.
 * After our CANCEL (done) they are dropped. */
static void
handle_our_transfer (MeshQuicLink * link, QStream * s, const MeshWireFrame * f)
{
  gboolean last = f->type == MESH_WIRE_TYPE_END
      || f->type == MESH_WIRE_TYPE_ABSENT;

  if ((f->type != MESH_WIRE_TYPE_DATA && !last)
      || frame_request_id (f) != s->request_id || s->answer_received) {
    protocol_error (link, "unexpected frame on a holder's stream");
    return;
  }
  if (last) {
    s->answer_received = TRUE;
    /* our direction ends too: the stream closes once both FINs are acked */
    s->fin_wanted = TRUE;
    flush_stream (link, s);
  }
  if (s->done)
    return;
  if (last)
    unmap_transfer (link, s);
  mesh_peer_connection_emit_frame (MESH_PEER_CONNECTION (link), f);
}

static void
handle_frame (MeshQuicLink * link, QStream * s, const MeshWireFrame * f)
{
  if (s->control)
    handle_control_frame (link, f);
  else if (!is_transfer_type (f->type))
    protocol_error (link, "a control frame on a transfer stream");
  else if (s->local)
    handle_our_transfer (link, s, f);
  else
    handle_their_transfer (link, s, f);
}

/* Decodes what @s buffered. Transfer streams wait for the remote HELLO. */
static void
process_stream (MeshQuicLink * link, QStream * s)
{
  MeshWireFrame frame;
  GError *err = NULL;

  while (link->state != MESH_PEER_CONNECTION_CLOSED) {
    MeshWireResult res;

    if (!s->control && !mesh_wire_session_is_connected (link->session)) {
      if (mesh_wire_decoder_get_buffered (s->decoder) > MAX_PRE_HELLO_BYTES)
        protocol_error (link, "transfer before HELLO");
      return;
    }
    res = mesh_wire_decoder_next (s->decoder, &frame, &err);
    if (res == MESH_WIRE_RESULT_NEED_MORE)
      return;
    if (res == MESH_WIRE_RESULT_ERROR) {
      GError *error = NULL;
      guint16 code = 0;

      mesh_wire_session_decode_error (link->session, err, &code, &error);
      g_clear_error (&err);
      close_from_session (link, error, code);
      return;
    }
    handle_frame (link, s, &frame);
    mesh_wire_frame_clear (&frame);
  }
}

/* The peer ended its direction of @s. */
static void
handle_fin (MeshQuicLink * link, QStream * s)
{
  if (s->control) {
    protocol_error (link, "the control stream ended");
    return;
  }
  if (mesh_wire_decoder_get_buffered (s->decoder) > 0) {
    protocol_error (link, "truncated frame at the end of a stream");
    return;
  }
  /* a requester ends after END/ABSENT or CANCEL; a holder after END/ABSENT:
   * anything else leaves a transfer that can no longer complete */
  if (s->has_request && !s->done) {
    MeshWireFrame f = { 0, };

    unmap_transfer (link, s);
    f.type = s->local ? MESH_WIRE_TYPE_ABSENT : MESH_WIRE_TYPE_CANCEL;
    if (s->local)
      f.absent.request_id = s->request_id;
    else
      f.cancel.request_id = s->request_id;
    reset_stream (link, s);
    mesh_peer_connection_emit_frame (MESH_PEER_CONNECTION (link), &f);
  } else if (!s->has_request) {
    reset_stream (link, s);
  }
}

static void
on_stream_data (MeshQuicConnection * quic, gint64 stream_id, GBytes * data,
    gboolean fin, MeshQuicLink * link)
{
  QStream *s;
  gsize size;
  const guint8 *bytes = g_bytes_get_data (data, &size);
  gint64 now = g_get_monotonic_time ();

  g_object_ref (link);
  s = lookup_stream (link, stream_id);
  if (!s || link->state == MESH_PEER_CONNECTION_CLOSED)
    goto out;
  if (size > 0) {
    mesh_wire_session_received (link->session, now);
    mesh_goodput_meter_add (&link->goodput, now, size);
    mesh_wire_decoder_feed (s->decoder, bytes, size);
    process_stream (link, s);
  }
  if (fin && !s->fin_received) {
    s->fin_received = TRUE;
    /* transfer streams wait for HELLO (become_connected() ends them) */
    if (link->state != MESH_PEER_CONNECTION_CLOSED
        && (s->control || mesh_wire_session_is_connected (link->session)))
      handle_fin (link, s);
  }
out:
  g_object_unref (link);
}

static void
on_stream_opened (MeshQuicConnection * quic, gint64 stream_id,
    MeshQuicLink * link)
{
  QStream *s;

  if (!link->controlling && link->control->id < 0 && stream_id == 0) {
    /* the client's first bidirectional stream is the control stream */
    link->control->id = stream_id;
    insert_stream (link, link->control);
    flush_stream (link, link->control);
    return;
  }
  s = qstream_new (stream_id, FALSE);
  insert_stream (link, s);
}

/* The peer reset a stream: its transfer ends for our owner too. */
static void
on_stream_reset (MeshQuicConnection * quic, gint64 stream_id,
    guint64 app_error_code, MeshQuicLink * link)
{
  QStream *s;

  g_object_ref (link);
  s = lookup_stream (link, stream_id);
  if (!s || link->state == MESH_PEER_CONNECTION_CLOSED)
    goto out;
  if (s->control) {
    protocol_error (link, "the control stream was reset");
    goto out;
  }
  reset_stream (link, s);
  if (s->has_request && !s->done) {
    MeshWireFrame f = { 0, };

    unmap_transfer (link, s);
    f.type = s->local ? MESH_WIRE_TYPE_ABSENT : MESH_WIRE_TYPE_CANCEL;
    if (s->local)
      f.absent.request_id = s->request_id;
    else
      f.cancel.request_id = s->request_id;
    mesh_peer_connection_emit_frame (MESH_PEER_CONNECTION (link), &f);
  }
out:
  g_object_unref (link);
}

static void
on_stream_closed (MeshQuicConnection * quic, gint64 stream_id,
    MeshQuicLink * link)
{
  QStream *s = lookup_stream (link, stream_id);

  if (!s || s->control)
    return;
  unmap_transfer (link, s);
  link->queue_size -= qstream_pending_size (s);
  g_hash_table_remove (link->streams, &stream_id);
}

static void
on_stream_writable (MeshQuicConnection * quic, gint64 stream_id,
    MeshQuicLink * link)
{
  QStream *s;

  g_object_ref (link);
  s = lookup_stream (link, stream_id);
  if (s && link->state != MESH_PEER_CONNECTION_CLOSED) {
    flush_stream (link, s);
    maybe_emit_writable (link);
  }
  g_object_unref (link);
}

static void
on_streams_available (MeshQuicConnection * quic, MeshQuicLink * link)
{
  g_object_ref (link);
  flush_all (link, TRUE);
  g_object_unref (link);
}

static void
on_quic_connected (MeshQuicConnection * quic, MeshQuicLink * link)
{
  GError *err = NULL;

  GST_DEBUG_OBJECT (link, "QUIC handshake done");
  if (!link->controlling)
    return;                     /* the client opens the control stream */
  g_object_ref (link);
  link->control->id = mesh_quic_connection_open_stream (quic, &err);
  if (link->control->id < 0) {
    close_link (link, MESH_PEER_CONNECTION_ERROR_TRANSPORT_FAILED, FALSE,
        MESH_WIRE_CLOSE_UNSPECIFIED, "no control stream: %s", err->message);
    g_error_free (err);
  } else {
    insert_stream (link, link->control);
    flush_stream (link, link->control);
  }
  g_object_unref (link);
}

static MeshPeerConnectionError
map_quic_error (const GError * reason, guint16 * code)
{
  *code = MESH_WIRE_CLOSE_UNSPECIFIED;
  switch (reason->code) {
    case MESH_QUIC_ERROR_FINGERPRINT_MISMATCH:
    case MESH_QUIC_ERROR_REJECTED:
      return MESH_PEER_CONNECTION_ERROR_REJECTED;
    case MESH_QUIC_ERROR_IDLE_TIMEOUT:
      *code = MESH_WIRE_CLOSE_TIMEOUT;
      return MESH_PEER_CONNECTION_ERROR_IDLE_TIMEOUT;
    case MESH_QUIC_ERROR_HANDSHAKE_TIMEOUT:
      *code = MESH_WIRE_CLOSE_TIMEOUT;
      return MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT;
    case MESH_QUIC_ERROR_REMOTE_CLOSED:
      return MESH_PEER_CONNECTION_ERROR_REMOTE;
    case MESH_QUIC_ERROR_CONFIG:
      return MESH_PEER_CONNECTION_ERROR_CONFIG;
    default:
      return MESH_PEER_CONNECTION_ERROR_TRANSPORT_FAILED;
  }
}

static void
on_quic_closed (MeshQuicConnection * quic, GError * reason, MeshQuicLink * link)
{
  guint16 code;
  MeshPeerConnectionError why = map_quic_error (reason, &code);

  g_object_ref (link);
  close_link (link, why, FALSE, code, "QUIC: %s", reason->message);
  g_object_unref (link);
}

static void
on_datagram (NiceAgent * agent, guint stream_id, guint component_id,
    guint len, gchar * buf, gpointer user_data)
{
  MeshQuicLink *link = user_data;

  if (!link->quic || len == 0)
    return;
  g_object_ref (link);
  mesh_quic_connection_receive_datagram (link->quic, (const guint8 *) buf, len);
  g_object_unref (link);
}

/* The QUIC connection, once ICE works (client) or the remote offer is known
 * (server, which then waits for the client's first flight). */
static void
ensure_quic (MeshQuicLink * link)
{
  MeshQuicConfig config = { 0, };
  Path *path;
  GError *err = NULL;

  if (link->quic || !link->agent || !link->started
      || !link->remote_fingerprint
      || link->state == MESH_PEER_CONNECTION_CLOSED
      || (link->controlling && !link->transport_up))
    return;

  config.role = link->controlling ? MESH_QUIC_ROLE_CLIENT :
      MESH_QUIC_ROLE_SERVER;
  config.credentials = link->transport->credentials;
  config.remote_fingerprint = link->remote_fingerprint;
  config.alpn = MESH_QUIC_DEFAULT_ALPN;
  config.stream_send_buffer = STREAM_SEND_BUFFER;
  config.max_streams = MAX_STREAMS;
  config.handshake_timeout_ms = link->connect_timeout_ms;
  config.cc = link->cc;
  /* the wire session's PINGs keep it busy; QUIC's own idle timeout only
   * catches a path that died */
  config.idle_timeout_ms =
      2 * mesh_wire_session_get_idle_timeout_ms (link->session);

  path = g_new0 (Path, 1);
  path->agent = g_object_ref (link->agent);
  path->stream_id = link->stream_id;
  link->quic = mesh_quic_connection_new (link->context, &config, path_send,
      path, path_free, &err);
  if (!link->quic) {
    close_link (link, MESH_PEER_CONNECTION_ERROR_CONFIG, FALSE,
        MESH_WIRE_CLOSE_UNSPECIFIED, "QUIC: %s", err->message);
    g_error_free (err);
    return;
  }
  GST_DEBUG_OBJECT (link, "QUIC %s started", link->controlling ? "client" :
      "server");
  g_signal_connect (link->quic, "connected", G_CALLBACK (on_quic_connected),
      link);
  g_signal_connect (link->quic, "closed", G_CALLBACK (on_quic_closed), link);
  g_signal_connect (link->quic, "stream-opened",
      G_CALLBACK (on_stream_opened), link);
  g_signal_connect (link->quic, "stream-data", G_CALLBACK (on_stream_data),
      link);
  g_signal_connect (link->quic, "stream-reset", G_CALLBACK (on_stream_reset),
      link);
  g_signal_connect (link->quic, "stream-closed",
      G_CALLBACK (on_stream_closed), link);
  g_signal_connect (link->quic, "stream-writable",
      G_CALLBACK (on_stream_writable), link);
  g_signal_connect (link->quic, "streams-available",
      G_CALLBACK (on_streams_available), link);
}

/* ------------------------------------------------------------------------ */
/* Agent callbacks */

static void
emit_signal_out (MeshQuicLink * link, JsonObject * data)
{
  mesh_peer_connection_emit_signal_out (MESH_PEER_CONNECTION (link), data);
  json_object_unref (data);
}

/* The candidate policy (MeshPeerCandidatePolicy): which of our addresses
 * the peer may learn from what we signal.
 *
 * What it guarantees. With no-host, no candidate we signal is a host
 * candidate, and none names a host address as its related address: libnice
 * writes the base, a host address, into "raddr"/"rport" of server-reflexive
 * and relayed candidates, so we signal them without one. Nor does our agent
 * pair with the peer's host candidates: a check sent straight to a LAN
 * address would show a peer on our LAN our own LAN address. With
 * relay-only, libnice's "force-relay" does the rest: the agent gathers no
 * server-reflexive candidate, pairs only its relayed ones, and drops what
 * does not come through the TURN server, so the peer only ever sees the
 * TURN server's address; we signal relayed candidates only, without raddr.
 *
 * What no-host does not guarantee. A server-reflexive candidate is a host
 * socket seen through a NAT: checks and QUIC still leave from the host
 * socket, and a peer that gets them without a NAT in between (on our LAN,
 * behind an address it signalled as server-reflexive) sees the LAN address
 * as their source. Without a NAT, the host address is the public one. The
 * public address is never hidden by no-host (it is the server-reflexive
 * candidate, and the source of every direct packet); relay-only hides it
 * from the peers, not from the TURN server. */
static gboolean
policy_signals (MeshQuicLink * link, NiceCandidateType type)
{
  switch (link->candidate_policy) {
    case MESH_PEER_CANDIDATES_NO_HOST:
      return type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE
          || type == NICE_CANDIDATE_TYPE_RELAYED;
    case MESH_PEER_CANDIDATES_RELAY_ONLY:
      return type == NICE_CANDIDATE_TYPE_RELAYED;
    case MESH_PEER_CANDIDATES_ALL:
    default:
      return TRUE;
  }
}

static gboolean
policy_pairs_with (MeshQuicLink * link, NiceCandidateType remote_type)
{
  return link->candidate_policy != MESH_PEER_CANDIDATES_NO_HOST
      || remote_type != NICE_CANDIDATE_TYPE_HOST;
}

static gchar *
local_candidate_sdp (MeshQuicLink * link, NiceCandidate * cand)
{
  NiceCandidate *copy;
  gchar *sdp;

  if (link->candidate_policy == MESH_PEER_CANDIDATES_ALL)
    return nice_agent_generate_local_candidate_sdp (link->agent, cand);
  /* the related address is informative only (RFC 8445 5.1.1): without a
   * valid base, libnice writes none */
  copy = nice_candidate_copy (cand);
  nice_address_init (&copy->base_addr);
  sdp = nice_agent_generate_local_candidate_sdp (link->agent, copy);
  nice_candidate_free (copy);
  return sdp;
}

static void
on_new_candidate (NiceAgent * agent, NiceCandidate * cand, gpointer user_data)
{
  MeshQuicLink *link = user_data;
  JsonObject *data;
  gchar *sdp;

  if (cand->stream_id != link->stream_id || cand->component_id != COMPONENT_ID)
    return;
  if (!policy_signals (link, cand->type))
    return;

  sdp = local_candidate_sdp (link, cand);
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
  MeshQuicLink *link = user_data;
  JsonObject *data;

  if (stream_id != link->stream_id)
    return;
  data = json_object_new ();
  json_object_set_string_member (data, "kind", "end-of-candidates");
  g_object_ref (link);
  emit_signal_out (link, data);
  g_object_unref (link);
}

/* Default UDP buffers (~200 KiB) overflow when QUIC's window grows to a few
 * MiB in flight: the kernel then drops what QUIC sees as congestion. libnice
 * 0.1.21 exposes the selected pair's socket in non-reliable mode only. The
 * FORCE variants go past net.core.[rw]mem_max when we may (CAP_NET_ADMIN);
 * otherwise the kernel caps the plain ones at that limit. */
static void
size_socket_buffers (MeshQuicLink * link)
{
  GSocket *sock = nice_agent_get_selected_socket (link->agent,
      link->stream_id, COMPONENT_ID);
  gint fd, size = SOCKET_BUFFER_SIZE, granted = 0;
  socklen_t len = sizeof (granted);

  if (!sock)
    return;
  fd = g_socket_get_fd (sock);
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof (size)) < 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof (size));
  if (setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof (size)) < 0)
    setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof (size));
  if (getsockopt (fd, SOL_SOCKET, SO_RCVBUF, &granted, &len) == 0)
    link->socket_rcvbuf = granted;
  GST_DEBUG_OBJECT (link, "socket %d: SO_RCVBUF %d (wanted %d)", fd,
      link->socket_rcvbuf, size);
  if (link->socket_rcvbuf < size)
    GST_INFO_OBJECT (link, "UDP receive buffer capped at %d bytes (raise "
        "net.core.rmem_max to %d)", link->socket_rcvbuf, size);
  g_object_unref (sock);
}

static void
on_component_state_changed (NiceAgent * agent, guint stream_id,
    guint component_id, guint state, gpointer user_data)
{
  MeshQuicLink *link = g_object_ref (user_data);

  GST_DEBUG_OBJECT (link, "component state %s",
      nice_component_state_to_string (state));
  switch (state) {
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
      link->transport_up = TRUE;
      size_socket_buffers (link);
      ensure_quic (link);
      break;
    case NICE_COMPONENT_STATE_FAILED:
      close_link (link, MESH_PEER_CONNECTION_ERROR_TRANSPORT_FAILED, TRUE,
          MESH_WIRE_CLOSE_UNSPECIFIED, "%s", link->transport_up ?
          "transport failed" : "no candidate pair worked");
      break;
    default:
      break;
  }
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
  MeshQuicLink *link = user_data;
  NiceCandidateType type = local->type;

  if (candidate_type_rank (remote->type) > candidate_type_rank (type))
    type = remote->type;
  link->selected_type = candidate_type_name (type);
  GST_DEBUG_OBJECT (link, "selected pair %s/%s",
      candidate_type_name (local->type), candidate_type_name (remote->type));
  /* the pair may use another local socket than the first one */
  size_socket_buffers (link);
}

/* ------------------------------------------------------------------------ */
/* Starting */

static void
gather (MeshQuicLink * link)
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

  if (link->candidate_policy == MESH_PEER_CANDIDATES_RELAY_ONLY
      && !link->turn_ip) {
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
  MeshQuicLink *link;           /* not touched once cancelled */
  gchar **ip;
} Lookup;

static void
on_server_resolved (GObject * source, GAsyncResult * res, gpointer user_data)
{
  Lookup *lookup = user_data;
  MeshQuicLink *link = lookup->link;
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
resolve_server (MeshQuicLink * link, const gchar * host, gchar ** ip)
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
restrict_local_address (MeshQuicLink * link)
{
  NiceAddress addr;

  if (!link->local_address)
    return TRUE;
  nice_address_init (&addr);
  if (!nice_address_set_from_string (&addr, link->local_address))
    return FALSE;
  return nice_agent_add_local_address (link->agent, &addr);
}

/* The ICE credentials and our certificate's fingerprint, together: the
 * remote only talks to whoever holds the key behind that fingerprint. */
static void
emit_offer (MeshQuicLink * link)
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
  json_object_set_string_member (data, "kind", "quic-offer");
  json_object_set_string_member (data, "ufrag", ufrag);
  json_object_set_string_member (data, "pwd", pwd);
  json_object_set_string_member (data, "fingerprint",
      mesh_quic_credentials_get_fingerprint (link->transport->credentials));
  json_object_set_string_member (data, "alpn", MESH_QUIC_DEFAULT_ALPN);
  g_free (ufrag);
  g_free (pwd);
  emit_signal_out (link, data);
}

static void apply_remote_signalling (MeshQuicLink * link);

static void
mesh_quic_link_start (MeshQuicLink * link)
{
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

  /* both sides send their offer first, whatever their role */
  emit_offer (link);
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
apply_remote_signalling (MeshQuicLink * link)
{
  if (!link->started || !link->have_remote_offer || !link->agent)
    return;

  if (link->pending_candidates) {
    GSList *cands = g_slist_reverse (link->pending_candidates);

    link->pending_candidates = NULL;
    link->n_pending_candidates = 0;
    if (nice_agent_set_remote_candidates (link->agent, link->stream_id,
            COMPONENT_ID, cands) < 0)
      GST_WARNING_OBJECT (link, "remote candidates refused");
    g_slist_free_full (cands, (GDestroyNotify) nice_candidate_free);
  }
  if (link->remote_gathering_done && !link->remote_gathering_done_applied) {
    link->remote_gathering_done_applied = TRUE;
    nice_agent_peer_candidate_gathering_done (link->agent, link->stream_id);
  }
  ensure_quic (link);
}

/* The string member @name, or NULL if absent, of another type or long. */
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
handle_offer (MeshQuicLink * link, JsonObject * data)
{
  const gchar *ufrag = get_string (data, "ufrag");
  const gchar *pwd = get_string (data, "pwd");
  const gchar *fingerprint = get_string (data, "fingerprint");
  const gchar *alpn = get_string (data, "alpn");
  guint8 digest[32];

  if (!ufrag || !pwd || !*ufrag || !*pwd || strlen (ufrag) > MAX_SIGNAL_STRING
      || strlen (pwd) > MAX_SIGNAL_STRING || !fingerprint
      || !mesh_quic_fingerprint_parse (fingerprint, digest)) {
    GST_WARNING_OBJECT (link, "quic-offer without ufrag, pwd or a sha-256 "
        "fingerprint: ignored");
    return;
  }
  if (link->have_remote_offer) {
    if (g_strcmp0 (ufrag, link->remote_ufrag) != 0)
      GST_WARNING_OBJECT (link, "new remote offer (ICE restart is not "
          "supported): ignored");
    return;
  }
  if (g_strcmp0 (alpn, MESH_QUIC_DEFAULT_ALPN) != 0) {
    close_link (link, MESH_PEER_CONNECTION_ERROR_REJECTED, FALSE,
        MESH_WIRE_CLOSE_VERSION, "peer speaks '%s', not '%s'",
        GST_STR_NULL (alpn), MESH_QUIC_DEFAULT_ALPN);
    return;
  }
  if (!nice_agent_set_remote_credentials (link->agent, link->stream_id,
          ufrag, pwd)) {
    GST_WARNING_OBJECT (link, "invalid remote credentials: ignored");
    return;
  }
  link->have_remote_offer = TRUE;
  link->remote_ufrag = g_strdup (ufrag);
  link->remote_fingerprint = g_strdup (fingerprint);
  apply_remote_signalling (link);
}

static void
handle_candidate (MeshQuicLink * link, JsonObject * data)
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
  if (cand->component_id != COMPONENT_ID
      || link->n_pending_candidates >= MAX_PENDING_CANDIDATES) {
    GST_WARNING_OBJECT (link, "candidate for component %u, or too many: "
        "ignored", cand->component_id);
    nice_candidate_free (cand);
    return;
  }
  if (!policy_pairs_with (link, cand->type)) {
    GST_DEBUG_OBJECT (link, "remote host candidate ignored (no-host): %s", sdp);
    nice_candidate_free (cand);
    return;
  }
  GST_DEBUG_OBJECT (link, "remote candidate %s", sdp);
  link->pending_candidates = g_slist_prepend (link->pending_candidates, cand);
  link->n_pending_candidates++;
  apply_remote_signalling (link);
}

static void
mesh_quic_link_handle_signal (MeshQuicLink * link, JsonObject * data)
{
  const gchar *kind;

  if (link->state == MESH_PEER_CONNECTION_CLOSED || !link->agent)
    return;
  if (!data) {
    GST_WARNING_OBJECT (link, "empty signal: ignored");
    return;
  }

  g_object_ref (link);
  kind = get_string (data, "kind");
  if (g_strcmp0 (kind, "quic-offer") == 0) {
    handle_offer (link, data);
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
/* Sending */

/* A new stream for our REQUEST @id, opened now or when the peer allows. */
static QStream *
open_request_stream (MeshQuicLink * link, guint32 id)
{
  QStream *old = g_hash_table_lookup (link->ours, GUINT_TO_POINTER (id));
  QStream *s = qstream_new (-1, TRUE);

  if (old) {
    GST_WARNING_OBJECT (link, "request id %u reused while in flight", id);
    unmap_transfer (link, old);
  }
  s->has_request = TRUE;
  s->request_id = id;
  g_hash_table_insert (link->ours, GUINT_TO_POINTER (id), s);
  g_queue_push_tail (&link->unopened, s);
  return s;
}

/* Our CANCEL: written then FIN; a stream never opened is just dropped. */
static void
send_cancel (MeshQuicLink * link, QStream * s, GBytes * frame)
{
  unmap_transfer (link, s);
  if (s->id < 0) {
    g_queue_remove (&link->unopened, s);
    link->queue_size -= qstream_pending_size (s);
    qstream_free (s);
    return;
  }
  enqueue (link, s, g_bytes_ref (frame));
  s->fin_wanted = TRUE;
  flush_stream (link, s);
}

static gboolean
mesh_quic_link_send (MeshQuicLink * link, GBytes * frame)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);
  MeshWireType type;
  guint32 id;
  QStream *s;

  if (link->state != MESH_PEER_CONNECTION_CONNECTED)
    return FALSE;
  g_return_val_if_fail (size >= MESH_WIRE_LENGTH_SIZE + 1, FALSE);

  type = data[MESH_WIRE_LENGTH_SIZE];
  if (!is_transfer_type (type)) {
    enqueue (link, link->control, g_bytes_ref (frame));
    flush_stream (link, link->control);
    return TRUE;
  }
  g_return_val_if_fail (size >= MESH_WIRE_LENGTH_SIZE + 5, FALSE);
  /* byte by byte: GST_READ_UINT32_BE is an unaligned 32-bit load (UB)
   * where the platform allows them, and the id sits at offset 5 */
  id = (guint32) data[MESH_WIRE_LENGTH_SIZE + 1] << 24
      | (guint32) data[MESH_WIRE_LENGTH_SIZE + 2] << 16
      | (guint32) data[MESH_WIRE_LENGTH_SIZE + 3] << 8
      | data[MESH_WIRE_LENGTH_SIZE + 4];

  if (type == MESH_WIRE_TYPE_REQUEST) {
    s = open_request_stream (link, id);
    enqueue (link, s, g_bytes_ref (frame));
    open_waiting_streams (link);
    return TRUE;
  }
  s = g_hash_table_lookup (type == MESH_WIRE_TYPE_CANCEL ? link->ours :
      link->theirs, GUINT_TO_POINTER (id));
  if (!s) {
    /* a transfer already over (cancelled, answered): nobody wants it */
    GST_LOG_OBJECT (link, "%s for finished request %u dropped",
        mesh_wire_type_name (type), id);
    return TRUE;
  }
  if (type == MESH_WIRE_TYPE_CANCEL) {
    send_cancel (link, s, frame);
    return TRUE;
  }
  enqueue (link, s, g_bytes_ref (frame));
  if (type != MESH_WIRE_TYPE_DATA) {
    unmap_transfer (link, s);
    s->fin_wanted = TRUE;
  }
  flush_stream (link, s);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Public API */

guint16
mesh_quic_link_get_close_code (MeshQuicLink * link)
{
  g_return_val_if_fail (MESH_IS_QUIC_LINK (link), 0);

  return link->close_code;
}

void
mesh_quic_link_get_stats (MeshQuicLink * link, MeshQuicStats * stats)
{
  g_return_if_fail (MESH_IS_QUIC_LINK (link));

  memset (stats, 0, sizeof (*stats));
  if (link->quic)
    mesh_quic_connection_get_stats (link->quic, stats);
}

gint
mesh_quic_link_get_socket_rcvbuf (MeshQuicLink * link)
{
  g_return_val_if_fail (MESH_IS_QUIC_LINK (link), 0);

  return link->socket_rcvbuf;
}

static gboolean
write_raw (MeshQuicLink * link, gint64 id, const guint8 * data, gsize len)
{
  return mesh_quic_connection_stream_write (link->quic, id, data, len,
      NULL) == (gssize) len;
}

gboolean
mesh_quic_link_send_raw_for_test (MeshQuicLink * link, const guint8 * data,
    gsize len)
{
  g_return_val_if_fail (MESH_IS_QUIC_LINK (link), FALSE);

  if (link->state != MESH_PEER_CONNECTION_CONNECTED)
    return FALSE;
  return write_raw (link, link->control->id, data, len);
}

gboolean
mesh_quic_link_send_raw_stream_for_test (MeshQuicLink * link,
    const guint8 * data, gsize len)
{
  gint64 id;
  QStream *s;

  g_return_val_if_fail (MESH_IS_QUIC_LINK (link), FALSE);

  if (link->state != MESH_PEER_CONNECTION_CONNECTED)
    return FALSE;
  id = mesh_quic_connection_open_stream (link->quic, NULL);
  if (id < 0)
    return FALSE;
  s = qstream_new (id, TRUE);
  s->done = TRUE;
  insert_stream (link, s);
  return write_raw (link, id, data, len);
}

void
mesh_quic_link_set_silent_for_test (MeshQuicLink * link, gboolean silent)
{
  g_return_if_fail (MESH_IS_QUIC_LINK (link));

  link->silent = silent;
}

guint
mesh_quic_link_count_streams_for_test (MeshQuicLink * link)
{
  g_return_val_if_fail (MESH_IS_QUIC_LINK (link), 0);

  return g_hash_table_size (link->streams) + link->unopened.length;
}

/* ------------------------------------------------------------------------ */
/* Construction */

static gboolean
create_agent (MeshQuicLink * link)
{
  /* not RELIABLE: datagrams in and out, for QUIC */
  link->agent = nice_agent_new_full (link->context,
      NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_ICE_TRICKLE);
  if (!link->agent)
    return FALSE;
  g_object_set (link->agent, "controlling-mode", link->controlling,
      "upnp", FALSE, "ice-tcp", FALSE, "force-relay",
      link->candidate_policy == MESH_PEER_CANDIDATES_RELAY_ONLY, NULL);

  link->stream_id = nice_agent_add_stream (link->agent, 1);
  if (link->stream_id == 0)
    return FALSE;

  g_signal_connect (link->agent, "new-candidate-full",
      G_CALLBACK (on_new_candidate), link);
  g_signal_connect (link->agent, "candidate-gathering-done",
      G_CALLBACK (on_gathering_done), link);
  g_signal_connect (link->agent, "component-state-changed",
      G_CALLBACK (on_component_state_changed), link);
  g_signal_connect (link->agent, "new-selected-pair-full",
      G_CALLBACK (on_selected_pair), link);
  return nice_agent_attach_recv (link->agent, link->stream_id, COMPONENT_ID,
      link->context, on_datagram, link);
}

MeshQuicLink *
mesh_quic_link_new (MeshQuicTransport * transport,
    const MeshQuicLinkConfig * config, const gchar * remote_peer_id,
    gboolean controlling)
{
  MeshWireSessionConfig sc = { 0, };
  MeshWireSession *session;
  MeshQuicLink *link;

  g_return_val_if_fail (MESH_IS_QUIC_TRANSPORT (transport), NULL);
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->swarm_id != NULL, NULL);
  g_return_val_if_fail (config->local_peer_id != NULL, NULL);
  g_return_val_if_fail (remote_peer_id != NULL, NULL);

  sc.swarm_id = config->swarm_id;
  sc.local_peer_id = config->local_peer_id;
  sc.remote_peer_id = remote_peer_id;
  sc.upload = config->upload;
  sc.idle_timeout_ms = config->idle_timeout_ms;
  /* also checks the ids against the wire bounds (critical if not) */
  session = mesh_wire_session_new (&sc);
  if (!session)
    return NULL;

  link = g_object_new (MESH_TYPE_QUIC_LINK, NULL);
  link->session = session;
  link->transport = g_object_ref (transport);
  link->context = g_main_context_ref (transport->context);
  link->remote_peer_id = g_strdup (remote_peer_id);
  link->stun_host = g_strdup (config->stun_host);
  link->stun_port = config->stun_port;
  link->turn_host = g_strdup (config->turn_host);
  link->turn_port = config->turn_port;
  link->turn_user = g_strdup (config->turn_user);
  link->turn_password = g_strdup (config->turn_password);
  link->candidate_policy = config->candidate_policy;
  link->local_address = g_strdup (config->local_address);
  link->cc = config->cc;
  link->connect_timeout_ms = config->connect_timeout_ms ?
      config->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
  link->controlling = controlling;

  /* HELLO goes first on the control stream, as soon as it exists */
  enqueue (link, link->control, mesh_wire_session_encode_hello (session));

  if (!create_agent (link)) {
    GST_ERROR_OBJECT (link, "could not create the ICE agent");
    g_object_unref (link);
    return NULL;
  }
  GST_DEBUG_OBJECT (link, "link %s -> %s (%s), transport %" GST_PTR_FORMAT,
      config->local_peer_id, remote_peer_id,
      controlling ? "controlling, QUIC client" : "controlled, QUIC server",
      transport);
  return link;
}

static void
mesh_quic_link_init (MeshQuicLink * link)
{
  link->state = MESH_PEER_CONNECTION_CONNECTING;
  link->cancellable = g_cancellable_new ();
  link->control = qstream_new (-1, FALSE);
  link->control->control = TRUE;
  link->streams = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
      (GDestroyNotify) qstream_free);
  link->ours = g_hash_table_new (NULL, NULL);
  link->theirs = g_hash_table_new (NULL, NULL);
  g_queue_init (&link->unopened);
}

static void
mesh_quic_link_dispose (GObject * object)
{
  MeshQuicLink *link = MESH_QUIC_LINK (object);

  /* dropped without close(): tell the peer, silently for our owner */
  if (link->state != MESH_PEER_CONNECTION_CLOSED)
    shut_down (link, TRUE, MESH_WIRE_CLOSE_GOING_AWAY, "going away");

  G_OBJECT_CLASS (mesh_quic_link_parent_class)->dispose (object);
}

static void
mesh_quic_link_finalize (GObject * object)
{
  MeshQuicLink *link = MESH_QUIC_LINK (object);

  if (link->control->id < 0)
    qstream_free (link->control);
  g_hash_table_unref (link->ours);
  g_hash_table_unref (link->theirs);
  g_hash_table_unref (link->streams);
  g_queue_clear_full (&link->unopened, (GDestroyNotify) qstream_free);
  g_slist_free_full (link->pending_candidates,
      (GDestroyNotify) nice_candidate_free);
  mesh_wire_session_free (link->session);
  g_object_unref (link->cancellable);
  g_free (link->remote_ufrag);
  g_free (link->remote_fingerprint);
  g_free (link->stun_ip);
  g_free (link->turn_ip);
  g_free (link->remote_peer_id);
  g_free (link->stun_host);
  g_free (link->turn_host);
  g_free (link->turn_user);
  g_free (link->turn_password);
  g_free (link->local_address);
  if (link->agent) {
    /* never started or failed creation: nothing to drain */
    nice_agent_attach_recv (link->agent, link->stream_id, COMPONENT_ID,
        link->context, NULL, NULL);
    g_object_unref (link->agent);
  }
  if (link->context)
    g_main_context_unref (link->context);
  g_clear_object (&link->transport);

  G_OBJECT_CLASS (mesh_quic_link_parent_class)->finalize (object);
}

static void
mesh_quic_link_class_init (MeshQuicLinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->dispose = mesh_quic_link_dispose;
  gobject_class->finalize = mesh_quic_link_finalize;

  GST_DEBUG_CATEGORY_INIT (mesh_quic_link_debug, "meshquiclink", 0,
      "mesh peer-to-peer link over QUIC");
}

/* ------------------------------------------------------------------------ */
/* MeshPeerConnection */

static void
link_start (MeshPeerConnection * conn)
{
  mesh_quic_link_start (MESH_QUIC_LINK (conn));
}

static void
link_handle_signal (MeshPeerConnection * conn, JsonObject * data)
{
  mesh_quic_link_handle_signal (MESH_QUIC_LINK (conn), data);
}

static gboolean
link_send (MeshPeerConnection * conn, GBytes * frame)
{
  return mesh_quic_link_send (MESH_QUIC_LINK (conn), frame);
}

static gsize
link_get_send_queue_size (MeshPeerConnection * conn)
{
  return MESH_QUIC_LINK (conn)->queue_size;
}

static void
link_close (MeshPeerConnection * conn, guint16 code, const gchar * message)
{
  MeshQuicLink *link = g_object_ref (MESH_QUIC_LINK (conn));

  close_link (link, MESH_PEER_CONNECTION_ERROR_LOCAL, TRUE, code, "%s",
      message ? message : "closed");
  g_object_unref (link);
}

static MeshPeerConnectionState
link_get_state (MeshPeerConnection * conn)
{
  return MESH_QUIC_LINK (conn)->state;
}

static const gchar *
link_get_remote_peer_id (MeshPeerConnection * conn)
{
  return MESH_QUIC_LINK (conn)->remote_peer_id;
}

static gboolean
link_get_remote_uploads (MeshPeerConnection * conn)
{
  return mesh_wire_session_get_remote_uploads (MESH_QUIC_LINK (conn)->session);
}

/* QUIC's smoothed RTT (every ack samples it); the last PING's before. */
static gint64
link_get_rtt (MeshPeerConnection * conn)
{
  MeshQuicLink *link = MESH_QUIC_LINK (conn);
  MeshQuicStats stats;

  if (link->quic && mesh_quic_connection_get_state (link->quic) ==
      MESH_QUIC_STATE_CONNECTED) {
    mesh_quic_connection_get_stats (link->quic, &stats);
    if (stats.smoothed_rtt_us > 0)
      return stats.smoothed_rtt_us;
  }
  return mesh_wire_session_get_rtt (link->session);
}

static guint64
link_get_goodput (MeshPeerConnection * conn)
{
  return mesh_goodput_meter_get (&MESH_QUIC_LINK (conn)->goodput);
}

static const gchar *
link_get_path_type (MeshPeerConnection * conn)
{
  MeshQuicLink *link = MESH_QUIC_LINK (conn);

  return link->state == MESH_PEER_CONNECTION_CONNECTING ? NULL :
      link->selected_type;
}

static void
mesh_quic_link_connection_init (MeshPeerConnectionInterface * iface)
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
/* MeshQuicTransport */

static void
transport_take_stun (MeshQuicTransport * t, const gchar * text)
{
  if (g_strcmp0 (text, t->stun_text) == 0)
    return;
  g_free (t->stun_text);
  t->stun_text = g_strdup (text);
  g_clear_pointer (&t->stun_host, g_free);
  if (text && *text && !mesh_ice_server_parse_stun (text, &t->stun_host,
          &t->stun_port))
    GST_WARNING_OBJECT (t, "ignoring stun-server '%s': not host:port", text);
}

static void
transport_take_turn (MeshQuicTransport * t, const gchar * text)
{
  if (g_strcmp0 (text, t->turn_text) == 0)
    return;
  g_free (t->turn_text);
  t->turn_text = g_strdup (text);
  g_clear_pointer (&t->turn_host, g_free);
  g_clear_pointer (&t->turn_user, g_free);
  g_clear_pointer (&t->turn_password, g_free);
  if (text && *text
      && !mesh_ice_server_parse_turn (text, &t->turn_host, &t->turn_port,
          &t->turn_user, &t->turn_password))
    GST_WARNING_OBJECT (t,
        "ignoring turn-server: not " "turn://user:pass@host:port");
}

/* ngtcp2 0.12's BBRv2 is what ngtcp2 1.x calls "bbr". */
static MeshQuicCongestionControl
quic_cc_for (MeshPeerCongestionControl cc)
{
  switch (cc) {
    case MESH_PEER_CC_CUBIC:
      return MESH_QUIC_CC_CUBIC;
    case MESH_PEER_CC_BBR:
      return MESH_QUIC_CC_BBR2;
    default:
      return MESH_QUIC_CC_DEFAULT;
  }
}

static MeshPeerConnection *
quic_transport_connect (MeshPeerTransport * base,
    const MeshPeerConnectParams * params)
{
  MeshQuicTransport *t = MESH_QUIC_TRANSPORT (base);
  MeshQuicLinkConfig config = { 0, };

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
  config.cc = quic_cc_for (params->congestion_control);
  config.candidate_policy = params->candidate_policy;
  return (MeshPeerConnection *) mesh_quic_link_new (t, &config,
      params->remote_peer_id, params->controlling);
}

MeshQuicTransport *
mesh_quic_transport_new (GMainContext * context, GError ** error)
{
  MeshQuicCredentials *creds;
  MeshQuicTransport *t;

  g_return_val_if_fail (context != NULL, NULL);

  creds = mesh_quic_credentials_new (error);
  if (!creds)
    return NULL;
  t = g_object_new (MESH_TYPE_QUIC_TRANSPORT, NULL);
  t->context = g_main_context_ref (context);
  t->credentials = creds;
  return t;
}

const gchar *
mesh_quic_transport_get_fingerprint (MeshQuicTransport * t)
{
  g_return_val_if_fail (MESH_IS_QUIC_TRANSPORT (t), NULL);

  return mesh_quic_credentials_get_fingerprint (t->credentials);
}

static void
mesh_quic_transport_init (MeshQuicTransport * t)
{
}

static void
mesh_quic_transport_finalize (GObject * object)
{
  MeshQuicTransport *t = MESH_QUIC_TRANSPORT (object);

  /* every linger holds a reference */
  g_assert (t->lingers == NULL);
  g_main_context_unref (t->context);
  if (t->credentials)
    mesh_quic_credentials_unref (t->credentials);
  g_free (t->stun_text);
  g_free (t->stun_host);
  g_free (t->turn_text);
  g_free (t->turn_host);
  g_free (t->turn_user);
  g_free (t->turn_password);
  G_OBJECT_CLASS (mesh_quic_transport_parent_class)->finalize (object);
}

static void
mesh_quic_transport_transport_init (MeshPeerTransportInterface * iface)
{
  iface->connect = quic_transport_connect;
  iface->shutdown = quic_transport_shutdown;
}

static void
mesh_quic_transport_class_init (MeshQuicTransportClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->finalize = mesh_quic_transport_finalize;

  GST_DEBUG_CATEGORY_INIT (mesh_quic_link_debug, "meshquiclink", 0,
      "mesh peer-to-peer link over QUIC");
}
