/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-loopback-transport.h.
 *
 * Threads: one owner context per transport (the tests run every transport
 * of a network on the same one); no locks.
 *
 * The path: what an end sends waits in its send queue, leaves it at the
 * end's rate (unless stalled) and lands in the other end's inbox with an
 * arrival time (now + the sender's delay, never before what is already in
 * the inbox, so frames stay in order). Each end has one clock source, its
 * "tick", armed for the earliest of: the next arrival in its inbox, the
 * next time its bucket lets a frame leave. Nothing lingers after a close:
 * the last frames are already in the remote's inbox.
 *
 * The session rules (HELLO checks, PING/PONG, the idle timeout) are
 * mesh-wire-session's, as for the real transports, on the transport's
 * clock: a second clock source per end, the keepalive, ticks the session
 * every ping interval once connected.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-loopback-transport.h"

#include <string.h>
#include <gst/gst.h>

#include "p2p/mesh-token-bucket.h"
#include "p2p/mesh-wire.h"
#include "p2p/mesh-wire-session.h"

GST_DEBUG_CATEGORY_STATIC (mesh_loopback_debug);
#define GST_CAT_DEFAULT mesh_loopback_debug

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define N_TYPES (MESH_WIRE_TYPE_PONG + 1)

/* ------------------------------------------------------------------------ */
/* Network */

struct _MeshLoopbackNetwork
{
  GObject parent;

  GHashTable *endpoints;        /* name -> MeshLoopbackConnection (weak) */
  guint next_endpoint;
};

G_DEFINE_FINAL_TYPE (MeshLoopbackNetwork, mesh_loopback_network, G_TYPE_OBJECT);

MeshLoopbackNetwork *
mesh_loopback_network_new (void)
{
  return g_object_new (MESH_TYPE_LOOPBACK_NETWORK, NULL);
}

static void
mesh_loopback_network_init (MeshLoopbackNetwork * net)
{
  net->endpoints = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
}

static void
mesh_loopback_network_finalize (GObject * object)
{
  MeshLoopbackNetwork *net = MESH_LOOPBACK_NETWORK (object);

  g_hash_table_unref (net->endpoints);
  G_OBJECT_CLASS (mesh_loopback_network_parent_class)->finalize (object);
}

static void
mesh_loopback_network_class_init (MeshLoopbackNetworkClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = mesh_loopback_network_finalize;
  GST_DEBUG_CATEGORY_INIT (mesh_loopback_debug, "meshloopback", 0,
      "mesh loopback transport (tests)");
}

/* ------------------------------------------------------------------------ */
/* Types */

struct _MeshLoopbackTransport
{
  GObject parent;

  MeshLoopbackNetwork *network;
  GMainContext *context;
  MeshPeerClock clock;
  guint64 default_rate;
  gint64 default_delay;
  GList *connections;           /* MeshLoopbackConnection (weak) */
  guint n_connections;
  gboolean unreachable;         /* no connection to or from it comes up */
};

typedef struct
{
  GBytes *frame;
  gint64 arrival;
} InFlight;

struct _MeshLoopbackConnection
{
  GObject parent;

  MeshLoopbackTransport *transport;     /* a reference */
  gchar *name;                  /* in the network */
  gchar *local_peer_id, *remote_peer_id;
  gboolean controlling;
  guint connect_timeout_ms;
  MeshPeerCongestionControl congestion_control;
  MeshPeerCandidatePolicy candidate_policy;
  MeshWireSession *session;     /* HELLO, PING/PONG, idle timeout */

  MeshPeerConnectionState state;
  gboolean started;
  gboolean broken;              /* the other end broke the path */
  MeshLoopbackConnection *remote;       /* weak pointer, once paired */
  gboolean hello_sent;          /* HELLO queued for the path */
  gboolean hello_in_queue;      /* ...and still at the head of the queue */

  GQueue send_queue;            /* GBytes */
  gsize queue_size;
  gboolean above_low_water;
  GQueue inbox;                 /* InFlight, arrival order */
  MeshTokenBucket bucket;
  gint64 delay;
  gboolean stalled;
  GSource *tick;
  gint64 tick_when;             /* when the tick is armed for */
  GSource *connect_timer;
  GSource *keepalive;           /* clock source: the session's tick */

  MeshWireDecoder *decoder;
  guint64 bytes_sent, bytes_received;
  guint received[N_TYPES];
  MeshGoodputMeter goodput;
};

static void mesh_loopback_connection_iface_init (MeshPeerConnectionInterface *
    iface);
static void mesh_loopback_transport_iface_init (MeshPeerTransportInterface *
    iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MeshLoopbackConnection,
    mesh_loopback_connection, G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (MESH_TYPE_PEER_CONNECTION,
        mesh_loopback_connection_iface_init));
G_DEFINE_FINAL_TYPE_WITH_CODE (MeshLoopbackTransport, mesh_loopback_transport,
    G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (MESH_TYPE_PEER_TRANSPORT,
        mesh_loopback_transport_iface_init));

static gint64
conn_now (MeshLoopbackConnection * c)
{
  return mesh_peer_clock_now (&c->transport->clock);
}

static void
in_flight_free (InFlight * f)
{
  g_bytes_unref (f->frame);
  g_free (f);
}

static void
clear_source (GSource ** source)
{
  if (*source) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

/* ------------------------------------------------------------------------ */
/* Closing */

static void tick_arm (MeshLoopbackConnection * c, gint64 when);

static void
unpair (MeshLoopbackConnection * c)
{
  if (c->remote) {
    g_object_remove_weak_pointer (G_OBJECT (c->remote),
        (gpointer *) & c->remote);
    c->remote = NULL;
  }
}

/* Straight into the remote's inbox, past the send queue and the rate: the
 * last words of a closing end. */
static void
push_last (MeshLoopbackConnection * c, GBytes * frame)
{
  MeshLoopbackConnection *r = c->remote;
  InFlight *f = g_new0 (InFlight, 1);
  InFlight *last = g_queue_peek_tail (&r->inbox);

  f->frame = frame;
  f->arrival = conn_now (c) + c->delay;
  if (last)
    f->arrival = MAX (f->arrival, last->arrival);
  g_queue_push_tail (&r->inbox, f);
  tick_arm (r, f->arrival);
}

/* Stops everything; ERROR (@code) goes to the remote when @send_error and
 * there is one, after our HELLO if that never left. Emits nothing. */
static void
shut_down (MeshLoopbackConnection * c, gboolean send_error, guint16 code,
    const gchar * message)
{
  gboolean hello_still_queued = c->hello_in_queue;

  c->state = MESH_PEER_CONNECTION_CLOSED;
  clear_source (&c->tick);
  clear_source (&c->connect_timer);
  clear_source (&c->keepalive);
  g_queue_clear_full (&c->send_queue, (GDestroyNotify) g_bytes_unref);
  c->queue_size = 0;
  c->hello_in_queue = FALSE;
  g_queue_clear_full (&c->inbox, (GDestroyNotify) in_flight_free);
  if (c->name)
    g_hash_table_remove (c->transport->network->endpoints, c->name);

  if (send_error && c->remote && c->remote->state !=
      MESH_PEER_CONNECTION_CLOSED && c->started) {
    if (!c->hello_sent || hello_still_queued)
      push_last (c, mesh_wire_session_encode_hello (c->session));
    push_last (c, mesh_wire_encode_error (code, message));
  }
  unpair (c);
}

/* *INDENT-OFF* */
static void close_conn (MeshLoopbackConnection * c,
    MeshPeerConnectionError why, gboolean send_error, guint16 code,
    const gchar * format, ...) G_GNUC_PRINTF (5, 6);
/* *INDENT-ON* */

static void
close_conn (MeshLoopbackConnection * c, MeshPeerConnectionError why,
    gboolean send_error, guint16 code, const gchar * format, ...)
{
  GError *reason;
  va_list args;

  if (c->state == MESH_PEER_CONNECTION_CLOSED)
    return;
  va_start (args, format);
  reason = g_error_new_valist (MESH_PEER_CONNECTION_ERROR, why, format, args);
  va_end (args);
  GST_DEBUG_OBJECT (c, "%s -> %s closed: %s", c->local_peer_id,
      c->remote_peer_id, reason->message);
  shut_down (c, send_error, code, reason->message);
  mesh_peer_connection_emit_closed (MESH_PEER_CONNECTION (c), reason);
  g_error_free (reason);
}

/* ------------------------------------------------------------------------ */
/* Receiving */

static void enqueue_urgent (MeshLoopbackConnection * c, GBytes * frame);
static void keepalive_start (MeshLoopbackConnection * c);

/* Closes as the session says (@error taken): ERROR goes out unless the
 * remote sent one. */
static void
close_from_session (MeshLoopbackConnection * c, GError * error, guint16 code)
{
  gboolean send_error = !g_error_matches (error, MESH_PEER_CONNECTION_ERROR,
      MESH_PEER_CONNECTION_ERROR_REMOTE);

  close_conn (c, error->code, send_error, code, "%s", error->message);
  g_error_free (error);
}

static void
handle_frame (MeshLoopbackConnection * c, const MeshWireFrame * f)
{
  GBytes *reply = NULL;
  GError *error = NULL;
  guint16 code = 0;
  MeshWireSessionAction action;

  c->received[f->type]++;
  action = mesh_wire_session_handle_frame (c->session, f, conn_now (c),
      &reply, &code, &error);
  if (reply)
    enqueue_urgent (c, reply);
  switch (action) {
    case MESH_WIRE_SESSION_CONSUMED:
      break;
    case MESH_WIRE_SESSION_CONNECTED:
      c->state = MESH_PEER_CONNECTION_CONNECTED;
      clear_source (&c->connect_timer);
      keepalive_start (c);
      GST_DEBUG_OBJECT (c, "%s -> %s connected", c->local_peer_id,
          c->remote_peer_id);
      mesh_peer_connection_emit_connected (MESH_PEER_CONNECTION (c));
      break;
    case MESH_WIRE_SESSION_DELIVER:
      mesh_peer_connection_emit_frame (MESH_PEER_CONNECTION (c), f);
      break;
    case MESH_WIRE_SESSION_CLOSE:
      close_from_session (c, error, code);
      break;
  }
}

static void
receive (MeshLoopbackConnection * c, GBytes * bytes)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  GError *err = NULL;
  MeshWireFrame frame;

  c->bytes_received += size;
  mesh_goodput_meter_add (&c->goodput, conn_now (c), size);
  mesh_wire_session_received (c->session, conn_now (c));
  mesh_wire_decoder_feed (c->decoder, data, size);
  while (c->state != MESH_PEER_CONNECTION_CLOSED) {
    MeshWireResult res = mesh_wire_decoder_next (c->decoder, &frame, &err);

    if (res == MESH_WIRE_RESULT_NEED_MORE)
      break;
    if (res == MESH_WIRE_RESULT_ERROR) {
      GError *error = NULL;
      guint16 code = 0;

      mesh_wire_session_decode_error (c->session, err, &code, &error);
      g_clear_error (&err);
      close_from_session (c, error, code);
      break;
    }
    handle_frame (c, &frame);
    mesh_wire_frame_clear (&frame);
  }
}

/* ------------------------------------------------------------------------ */
/* The tick */

/* Moves what the rate allows from the send queue to the remote's inbox.
 * Returns when the next frame may leave (G_MAXINT64: nothing to wait for). */
static gint64
send_some (MeshLoopbackConnection * c, gint64 now)
{
  MeshLoopbackConnection *r = c->remote;
  GBytes *frame;

  if (!r || c->stalled)
    return G_MAXINT64;
  while ((frame = g_queue_peek_head (&c->send_queue))) {
    gint64 wait = mesh_token_bucket_delay (&c->bucket, now);
    gsize size = g_bytes_get_size (frame);

    if (wait > 0)
      return now + wait;
    g_queue_pop_head (&c->send_queue);
    c->hello_in_queue = FALSE;
    c->queue_size -= size;
    c->bytes_sent += size;
    mesh_token_bucket_consume (&c->bucket, size, now);
    if (r->state == MESH_PEER_CONNECTION_CLOSED) {
      g_bytes_unref (frame);
      continue;
    }
    {
      InFlight *f = g_new0 (InFlight, 1);
      InFlight *last = g_queue_peek_tail (&r->inbox);

      f->frame = frame;
      f->arrival = now + c->delay;
      if (last)
        f->arrival = MAX (f->arrival, last->arrival);
      g_queue_push_tail (&r->inbox, f);
      tick_arm (r, f->arrival);
    }
  }
  return G_MAXINT64;
}

static void
deliver_arrived (MeshLoopbackConnection * c, gint64 now)
{
  InFlight *f;

  while (c->state != MESH_PEER_CONNECTION_CLOSED
      && (f = g_queue_peek_head (&c->inbox)) && f->arrival <= now) {
    g_queue_pop_head (&c->inbox);
    receive (c, f->frame);
    in_flight_free (f);
  }
}

static gboolean
on_tick (gpointer data)
{
  MeshLoopbackConnection *c = g_object_ref (data);
  gint64 now = conn_now (c), next;
  InFlight *head;

  /* what runs from here may arm it again */
  c->tick_when = G_MAXINT64;
  if (c->broken) {
    close_conn (c, MESH_PEER_CONNECTION_ERROR_TRANSPORT_FAILED, FALSE,
        MESH_WIRE_CLOSE_UNSPECIFIED, "the path to %s was lost",
        c->remote_peer_id);
    goto out;
  }
  next = send_some (c, now);
  deliver_arrived (c, now);
  if (c->state == MESH_PEER_CONNECTION_CLOSED)
    goto out;
  if (c->above_low_water && c->queue_size < MESH_PEER_CONNECTION_LOW_WATER
      && c->state == MESH_PEER_CONNECTION_CONNECTED) {
    c->above_low_water = FALSE;
    mesh_peer_connection_emit_writable (MESH_PEER_CONNECTION (c));
    if (c->state == MESH_PEER_CONNECTION_CLOSED)
      goto out;
    /* the handler may have queued more */
    next = MIN (next, send_some (c, now));
  }
  if ((head = g_queue_peek_head (&c->inbox)))
    next = MIN (next, head->arrival);
  if (c->tick) {
    c->tick_when = MIN (c->tick_when, next);
    mesh_peer_clock_source_set (c->tick, c->tick_when);
  }
out:
  g_object_unref (c);
  return G_SOURCE_CONTINUE;
}

/* The tick runs at @when at the latest. */
static void
tick_arm (MeshLoopbackConnection * c, gint64 when)
{
  if (c->state == MESH_PEER_CONNECTION_CLOSED)
    return;
  if (!c->tick) {
    c->tick_when = when;
    c->tick = mesh_peer_clock_source_new (&c->transport->clock, when);
    g_source_set_callback (c->tick, on_tick, c, NULL);
    g_source_attach (c->tick, c->transport->context);
    return;
  }
  /* an armed tick that comes sooner stays */
  if (when < c->tick_when) {
    c->tick_when = when;
    mesh_peer_clock_source_set (c->tick, when);
  }
}

static void
enqueue_at (MeshLoopbackConnection * c, GBytes * frame, gint pos)
{
  g_queue_push_nth (&c->send_queue, frame, pos);
  c->queue_size += g_bytes_get_size (frame);
  if (c->queue_size >= MESH_PEER_CONNECTION_LOW_WATER)
    c->above_low_water = TRUE;
  tick_arm (c, conn_now (c));
}

static void
enqueue (MeshLoopbackConnection * c, GBytes * frame)
{
  enqueue_at (c, frame, -1);
}

/* PING and PONG: ahead of everything but HELLO, so that liveness and RTT
 * are not measured behind a bulk upload (the path's rate still applies). */
static void
enqueue_urgent (MeshLoopbackConnection * c, GBytes * frame)
{
  if (c->state == MESH_PEER_CONNECTION_CLOSED) {
    g_bytes_unref (frame);
    return;
  }
  enqueue_at (c, frame, c->hello_in_queue ? 1 : 0);
}

/* ------------------------------------------------------------------------ */
/* Keepalive */

static gboolean
on_keepalive (gpointer data)
{
  MeshLoopbackConnection *c = g_object_ref (data);
  gint64 now = conn_now (c);
  GBytes *ping = NULL;
  GError *error = NULL;
  guint16 code = 0;
  gboolean keep = TRUE;

  if (mesh_wire_session_tick (c->session, now, &ping, &code, &error)) {
    enqueue_urgent (c, ping);
    mesh_peer_clock_source_set (c->keepalive, now +
        mesh_wire_session_get_ping_interval_ms (c->session) *
        G_TIME_SPAN_MILLISECOND);
  } else {
    g_clear_pointer (&c->keepalive, g_source_unref);
    close_from_session (c, error, code);
    keep = FALSE;
  }
  g_object_unref (c);
  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
keepalive_start (MeshLoopbackConnection * c)
{
  clear_source (&c->keepalive);
  c->keepalive = mesh_peer_clock_source_new (&c->transport->clock,
      conn_now (c) + mesh_wire_session_get_ping_interval_ms (c->session) *
      G_TIME_SPAN_MILLISECOND);
  g_source_set_callback (c->keepalive, on_keepalive, c, NULL);
  g_source_attach (c->keepalive, c->transport->context);
}

/* ------------------------------------------------------------------------ */
/* Setting up */

static gboolean
on_connect_timeout (gpointer data)
{
  MeshLoopbackConnection *c = g_object_ref (data);

  g_clear_pointer (&c->connect_timer, g_source_unref);
  close_conn (c, MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT, TRUE,
      MESH_WIRE_CLOSE_TIMEOUT, "not connected within %u ms",
      c->connect_timeout_ms);
  g_object_unref (c);
  return G_SOURCE_REMOVE;
}

/* Both started and paired: HELLO goes first. */
static void
begin (MeshLoopbackConnection * c)
{
  if (!c->started || !c->remote || c->hello_sent
      || c->state == MESH_PEER_CONNECTION_CLOSED)
    return;
  c->hello_sent = TRUE;
  /* nothing is queued before HELLO: it is the head until it leaves */
  c->hello_in_queue = TRUE;
  enqueue (c, mesh_wire_session_encode_hello (c->session));
}

static void
pair (MeshLoopbackConnection * a, MeshLoopbackConnection * b)
{
  if (!a->remote) {
    a->remote = b;
    g_object_add_weak_pointer (G_OBJECT (b), (gpointer *) & a->remote);
  }
  if (!b->remote) {
    b->remote = a;
    g_object_add_weak_pointer (G_OBJECT (a), (gpointer *) & b->remote);
  }
  begin (a);
  begin (b);
}

static void
lb_start (MeshPeerConnection * conn)
{
  MeshLoopbackConnection *c = MESH_LOOPBACK_CONNECTION (conn);
  JsonObject *data;

  g_return_if_fail (!c->started);
  if (c->state == MESH_PEER_CONNECTION_CLOSED)
    return;
  c->started = TRUE;
  c->connect_timer = mesh_peer_clock_source_new (&c->transport->clock,
      conn_now (c) + c->connect_timeout_ms * G_TIME_SPAN_MILLISECOND);
  g_source_set_callback (c->connect_timer, on_connect_timeout, c, NULL);
  g_source_attach (c->connect_timer, c->transport->context);

  g_object_ref (c);
  data = json_object_new ();
  json_object_set_string_member (data, "kind", "loopback");
  json_object_set_string_member (data, "endpoint", c->name);
  mesh_peer_connection_emit_signal_out (conn, data);
  json_object_unref (data);
  begin (c);
  g_object_unref (c);
}

static void
lb_handle_signal (MeshPeerConnection * conn, JsonObject * data)
{
  MeshLoopbackConnection *c = MESH_LOOPBACK_CONNECTION (conn);
  MeshLoopbackConnection *other;
  const gchar *kind, *endpoint;

  if (c->state == MESH_PEER_CONNECTION_CLOSED || !data)
    return;
  kind = json_object_get_string_member_with_default (data, "kind", "");
  endpoint = json_object_get_string_member_with_default (data, "endpoint", "");
  if (strcmp (kind, "loopback") != 0) {
    GST_WARNING_OBJECT (c, "signal of unknown kind '%s': ignored", kind);
    return;
  }
  other = g_hash_table_lookup (c->transport->network->endpoints, endpoint);
  if (!other || other == c) {
    GST_WARNING_OBJECT (c, "no endpoint '%s' (gone?): ignored", endpoint);
    return;
  }
  if (strcmp (other->local_peer_id, c->remote_peer_id) != 0
      || strcmp (other->remote_peer_id, c->local_peer_id) != 0) {
    GST_WARNING_OBJECT (c, "endpoint '%s' is %s -> %s, not for us", endpoint,
        other->local_peer_id, other->remote_peer_id);
    return;
  }
  if (c->remote && c->remote != other) {
    GST_WARNING_OBJECT (c, "already paired: '%s' ignored", endpoint);
    return;
  }
  if (c->transport->unreachable || other->transport->unreachable) {
    GST_DEBUG_OBJECT (c, "no path to '%s': it will time out", endpoint);
    return;
  }
  g_object_ref (c);
  pair (c, other);
  g_object_unref (c);
}

/* ------------------------------------------------------------------------ */
/* MeshPeerConnection */

static gboolean
lb_send (MeshPeerConnection * conn, GBytes * frame)
{
  MeshLoopbackConnection *c = MESH_LOOPBACK_CONNECTION (conn);

  g_return_val_if_fail (frame != NULL && g_bytes_get_size (frame) > 0, FALSE);
  if (c->state != MESH_PEER_CONNECTION_CONNECTED)
    return FALSE;
  enqueue (c, g_bytes_ref (frame));
  return TRUE;
}

static gsize
lb_get_send_queue_size (MeshPeerConnection * conn)
{
  return MESH_LOOPBACK_CONNECTION (conn)->queue_size;
}

static void
lb_close (MeshPeerConnection * conn, guint16 code, const gchar * message)
{
  MeshLoopbackConnection *c = g_object_ref (MESH_LOOPBACK_CONNECTION (conn));

  close_conn (c, MESH_PEER_CONNECTION_ERROR_LOCAL, TRUE, code, "%s",
      message ? message : "closed");
  g_object_unref (c);
}

static MeshPeerConnectionState
lb_get_state (MeshPeerConnection * conn)
{
  return MESH_LOOPBACK_CONNECTION (conn)->state;
}

static const gchar *
lb_get_remote_peer_id (MeshPeerConnection * conn)
{
  return MESH_LOOPBACK_CONNECTION (conn)->remote_peer_id;
}

static gboolean
lb_get_remote_uploads (MeshPeerConnection * conn)
{
  return mesh_wire_session_get_remote_uploads (MESH_LOOPBACK_CONNECTION
      (conn)->session);
}

static gint64
lb_get_rtt (MeshPeerConnection * conn)
{
  return mesh_wire_session_get_rtt (MESH_LOOPBACK_CONNECTION (conn)->session);
}

static guint64
lb_get_goodput (MeshPeerConnection * conn)
{
  return mesh_goodput_meter_get (&MESH_LOOPBACK_CONNECTION (conn)->goodput);
}

static const gchar *
lb_get_path_type (MeshPeerConnection * conn)
{
  return "loopback";
}

static void
mesh_loopback_connection_iface_init (MeshPeerConnectionInterface * iface)
{
  iface->start = lb_start;
  iface->handle_signal = lb_handle_signal;
  iface->send = lb_send;
  iface->get_send_queue_size = lb_get_send_queue_size;
  iface->close = lb_close;
  iface->get_state = lb_get_state;
  iface->get_remote_peer_id = lb_get_remote_peer_id;
  iface->get_remote_uploads = lb_get_remote_uploads;
  iface->get_rtt = lb_get_rtt;
  iface->get_goodput = lb_get_goodput;
  iface->get_path_type = lb_get_path_type;
}

/* ------------------------------------------------------------------------ */
/* Test controls */

void
mesh_loopback_connection_set_rate (MeshLoopbackConnection * c,
    guint64 bytes_per_second)
{
  g_return_if_fail (MESH_IS_LOOPBACK_CONNECTION (c));

  /* one byte deep: a frame leaves whenever the bucket is not empty, and
   * its debt spaces out the next */
  mesh_token_bucket_set_rate (&c->bucket, bytes_per_second, 1, conn_now (c));
  tick_arm (c, conn_now (c));
}

void
mesh_loopback_connection_set_delay (MeshLoopbackConnection * c, gint64 delay_us)
{
  g_return_if_fail (MESH_IS_LOOPBACK_CONNECTION (c));

  c->delay = MAX (delay_us, 0);
}

void
mesh_loopback_connection_set_stalled (MeshLoopbackConnection * c,
    gboolean stalled)
{
  g_return_if_fail (MESH_IS_LOOPBACK_CONNECTION (c));

  c->stalled = stalled;
  if (!stalled)
    tick_arm (c, conn_now (c));
}

void
mesh_loopback_connection_break (MeshLoopbackConnection * c)
{
  MeshLoopbackConnection *r;

  g_return_if_fail (MESH_IS_LOOPBACK_CONNECTION (c));

  g_object_ref (c);
  if ((r = c->remote) && r->state != MESH_PEER_CONNECTION_CLOSED) {
    /* what was on its way to the remote is lost; it notices from its tick */
    g_queue_clear_full (&r->inbox, (GDestroyNotify) in_flight_free);
    r->broken = TRUE;
    tick_arm (r, conn_now (r));
  }
  close_conn (c, MESH_PEER_CONNECTION_ERROR_TRANSPORT_FAILED, FALSE,
      MESH_WIRE_CLOSE_UNSPECIFIED, "the path to %s was lost",
      c->remote_peer_id);
  g_object_unref (c);
}

guint64
mesh_loopback_connection_get_bytes_sent (MeshLoopbackConnection * c)
{
  g_return_val_if_fail (MESH_IS_LOOPBACK_CONNECTION (c), 0);
  return c->bytes_sent;
}

guint64
mesh_loopback_connection_get_bytes_received (MeshLoopbackConnection * c)
{
  g_return_val_if_fail (MESH_IS_LOOPBACK_CONNECTION (c), 0);
  return c->bytes_received;
}

guint
mesh_loopback_connection_count_received (MeshLoopbackConnection * c,
    MeshWireType type)
{
  g_return_val_if_fail (MESH_IS_LOOPBACK_CONNECTION (c), 0);
  g_return_val_if_fail (type < N_TYPES, 0);
  return c->received[type];
}

/* ------------------------------------------------------------------------ */
/* Connection life cycle */

static void
mesh_loopback_connection_init (MeshLoopbackConnection * c)
{
  c->state = MESH_PEER_CONNECTION_CONNECTING;
  c->decoder = mesh_wire_decoder_new ();
  g_queue_init (&c->send_queue);
  g_queue_init (&c->inbox);
}

static void
mesh_loopback_connection_dispose (GObject * object)
{
  MeshLoopbackConnection *c = MESH_LOOPBACK_CONNECTION (object);

  /* dropped without close(): the remote hears GOING_AWAY, our owner
   * nothing */
  if (c->state != MESH_PEER_CONNECTION_CLOSED)
    shut_down (c, TRUE, MESH_WIRE_CLOSE_GOING_AWAY, "going away");
  G_OBJECT_CLASS (mesh_loopback_connection_parent_class)->dispose (object);
}

static void
mesh_loopback_connection_finalize (GObject * object)
{
  MeshLoopbackConnection *c = MESH_LOOPBACK_CONNECTION (object);

  unpair (c);
  g_queue_clear_full (&c->send_queue, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&c->inbox, (GDestroyNotify) in_flight_free);
  mesh_wire_decoder_free (c->decoder);
  mesh_wire_session_free (c->session);
  g_free (c->name);
  g_free (c->local_peer_id);
  g_free (c->remote_peer_id);
  g_clear_object (&c->transport);
  G_OBJECT_CLASS (mesh_loopback_connection_parent_class)->finalize (object);
}

static void
mesh_loopback_connection_class_init (MeshLoopbackConnectionClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->dispose = mesh_loopback_connection_dispose;
  gobject_class->finalize = mesh_loopback_connection_finalize;
}

/* ------------------------------------------------------------------------ */
/* Transport */

static void
forget_connection (gpointer data, GObject * where_the_object_was)
{
  MeshLoopbackTransport *t = data;

  t->connections = g_list_remove (t->connections, where_the_object_was);
}

static MeshPeerConnection *
lb_connect (MeshPeerTransport * base, const MeshPeerConnectParams * params)
{
  MeshLoopbackTransport *t = MESH_LOOPBACK_TRANSPORT (base);
  MeshLoopbackConnection *c;
  MeshWireSession *session;
  MeshWireSessionConfig config = {
    .swarm_id = params->swarm_id,
    .local_peer_id = params->local_peer_id,
    .remote_peer_id = params->remote_peer_id,
    .upload = params->upload,
  };

  /* NULL when the ids do not fit the wire, as for a real transport */
  session = mesh_wire_session_new (&config);
  if (!session)
    return NULL;

  c = g_object_new (MESH_TYPE_LOOPBACK_CONNECTION, NULL);
  c->session = session;
  c->transport = g_object_ref (t);
  c->name = g_strdup_printf ("ep-%u", ++t->network->next_endpoint);
  c->local_peer_id = g_strdup (params->local_peer_id);
  c->remote_peer_id = g_strdup (params->remote_peer_id);
  c->controlling = params->controlling;
  c->congestion_control = params->congestion_control;
  c->candidate_policy = params->candidate_policy;
  c->connect_timeout_ms = params->connect_timeout_ms ?
      params->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
  c->delay = t->default_delay;
  mesh_token_bucket_init (&c->bucket, t->default_rate, 1, conn_now (c));
  g_hash_table_insert (t->network->endpoints, g_strdup (c->name), c);
  t->connections = g_list_prepend (t->connections, c);
  t->n_connections++;
  g_object_weak_ref (G_OBJECT (c), forget_connection, t);
  GST_DEBUG_OBJECT (t, "%s: %s -> %s", c->name, c->local_peer_id,
      c->remote_peer_id);
  return MESH_PEER_CONNECTION (c);
}

/* Nothing outlives a closed loopback connection. */
static void
lb_shutdown (MeshPeerTransport * base, guint timeout_ms)
{
}

static void
mesh_loopback_transport_iface_init (MeshPeerTransportInterface * iface)
{
  iface->connect = lb_connect;
  iface->shutdown = lb_shutdown;
}

MeshLoopbackTransport *
mesh_loopback_transport_new (MeshLoopbackNetwork * network,
    GMainContext * context, const MeshPeerClock * clock)
{
  MeshLoopbackTransport *t;

  g_return_val_if_fail (MESH_IS_LOOPBACK_NETWORK (network), NULL);
  g_return_val_if_fail (context != NULL, NULL);

  t = g_object_new (MESH_TYPE_LOOPBACK_TRANSPORT, NULL);
  t->network = g_object_ref (network);
  t->context = g_main_context_ref (context);
  if (clock)
    t->clock = *clock;
  return t;
}

void
mesh_loopback_transport_set_default_rate (MeshLoopbackTransport * t,
    guint64 bytes_per_second)
{
  t->default_rate = bytes_per_second;
}

void
mesh_loopback_transport_set_default_delay (MeshLoopbackTransport * t,
    gint64 delay_us)
{
  t->default_delay = MAX (delay_us, 0);
}

MeshLoopbackConnection *
mesh_loopback_transport_get_connection (MeshLoopbackTransport * t,
    const gchar * remote_peer_id)
{
  GList *l;

  for (l = t->connections; l; l = l->next) {
    MeshLoopbackConnection *c = l->data;

    if (c->state != MESH_PEER_CONNECTION_CLOSED
        && strcmp (c->remote_peer_id, remote_peer_id) == 0)
      return c;
  }
  return NULL;
}

guint
mesh_loopback_transport_get_n_connections (MeshLoopbackTransport * t)
{
  return t->n_connections;
}

static void
mesh_loopback_transport_init (MeshLoopbackTransport * t)
{
}

static void
mesh_loopback_transport_finalize (GObject * object)
{
  MeshLoopbackTransport *t = MESH_LOOPBACK_TRANSPORT (object);
  GList *l;

  /* connections hold a reference, so none is left */
  for (l = t->connections; l; l = l->next)
    g_object_weak_unref (l->data, forget_connection, t);
  g_list_free (t->connections);
  g_object_unref (t->network);
  g_main_context_unref (t->context);
  G_OBJECT_CLASS (mesh_loopback_transport_parent_class)->finalize (object);
}

static void
mesh_loopback_transport_class_init (MeshLoopbackTransportClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = mesh_loopback_transport_finalize;
  GST_DEBUG_CATEGORY_INIT (mesh_loopback_debug, "meshloopback", 0,
      "mesh loopback transport (tests)");
}

void
mesh_loopback_transport_set_unreachable (MeshLoopbackTransport * transport,
    gboolean unreachable)
{
  transport->unreachable = unreachable;
}

MeshPeerCongestionControl
mesh_loopback_connection_get_congestion_control (MeshLoopbackConnection * c)
{
  return c->congestion_control;
}

MeshPeerCandidatePolicy
mesh_loopback_connection_get_candidate_policy (MeshLoopbackConnection * c)
{
  return c->candidate_policy;
}
