/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-peer-transport.h: the two interfaces, their signals, the clock
 * source and the goodput meter. Nothing here owns state of its own; the
 * clock sources belong to the context they are attached to.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-peer-transport.h"

G_DEFINE_QUARK (mesh_peer_connection_error_quark, mesh_peer_connection_error);

/* ------------------------------------------------------------------------ */
/* Time */

gint64
mesh_peer_clock_now (const MeshPeerClock * clock)
{
  if (clock && clock->now)
    return clock->now (clock->user_data);
  return g_get_monotonic_time ();
}

typedef struct
{
  GSource source;
  MeshPeerClock clock;
  gint64 when;                  /* G_MAXINT64 = not armed */
} ClockSource;

static gboolean
clock_source_prepare (GSource * source, gint * timeout)
{
  ClockSource *cs = (ClockSource *) source;
  gint64 left;

  if (cs->when == G_MAXINT64) {
    *timeout = -1;
    return FALSE;
  }
  left = cs->when - mesh_peer_clock_now (&cs->clock);
  if (left <= 0) {
    *timeout = 0;
    return TRUE;
  }
  *timeout = (gint) MIN ((left + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
clock_source_check (GSource * source)
{
  ClockSource *cs = (ClockSource *) source;

  return cs->when != G_MAXINT64 && mesh_peer_clock_now (&cs->clock) >= cs->when;
}

static gboolean
clock_source_dispatch (GSource * source, GSourceFunc callback,
    gpointer user_data)
{
  ClockSource *cs = (ClockSource *) source;

  cs->when = G_MAXINT64;
  if (!callback)
    return G_SOURCE_REMOVE;
  return callback (user_data);
}

static GSourceFuncs clock_source_funcs = {
  clock_source_prepare,
  clock_source_check,
  clock_source_dispatch,
  NULL, NULL, NULL,
};

GSource *
mesh_peer_clock_source_new (const MeshPeerClock * clock, gint64 when)
{
  GSource *source = g_source_new (&clock_source_funcs, sizeof (ClockSource));
  ClockSource *cs = (ClockSource *) source;

  if (clock)
    cs->clock = *clock;
  cs->when = when;
  g_source_set_name (source, "MeshPeerClockSource");
  return source;
}

void
mesh_peer_clock_source_set (GSource * source, gint64 when)
{
  ClockSource *cs = (ClockSource *) source;

  g_return_if_fail (source->source_funcs == &clock_source_funcs);
  cs->when = when;
  /* the context may be polling with the old timeout */
  if (g_source_get_context (source))
    g_main_context_wakeup (g_source_get_context (source));
}

/* ------------------------------------------------------------------------ */
/* Goodput */

/* A gap longer than this between arrivals ends a busy period: longer than
 * a 64 KiB frame takes at 128 KiB/s, shorter than the pause between two
 * segment requests. */
#define GOODPUT_IDLE_US (500 * G_TIME_SPAN_MILLISECOND)
/* A sample covers at least this much time. */
#define GOODPUT_WINDOW_US (100 * G_TIME_SPAN_MILLISECOND)

void
mesh_goodput_meter_add (MeshGoodputMeter * m, gint64 now, guint64 bytes)
{
  if (m->last == 0 || now - m->last > GOODPUT_IDLE_US) {
    /* the first bytes of a busy period were on their way for an unknown
     * time: they start the clock rather than count */
    m->window_start = now;
    m->window_bytes = 0;
    m->last = now;
    return;
  }
  m->window_bytes += bytes;
  m->last = now;
  if (now - m->window_start >= GOODPUT_WINDOW_US) {
    guint64 sample = m->window_bytes * G_USEC_PER_SEC /
        (guint64) (now - m->window_start);

    m->rate = m->rate == 0 ? sample : (m->rate + sample) / 2;
    m->window_start = now;
    m->window_bytes = 0;
  }
}

guint64
mesh_goodput_meter_get (const MeshGoodputMeter * m)
{
  return m->rate;
}

/* ------------------------------------------------------------------------ */
/* MeshPeerConnection */

enum
{
  SIGNAL_SIGNAL_OUT,
  SIGNAL_CONNECTED,
  SIGNAL_FRAME,
  SIGNAL_WRITABLE,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_INTERFACE (MeshPeerConnection, mesh_peer_connection, G_TYPE_OBJECT);

static void
mesh_peer_connection_default_init (MeshPeerConnectionInterface * iface)
{
  GType type = G_TYPE_FROM_INTERFACE (iface);

  signals[SIGNAL_SIGNAL_OUT] = g_signal_new ("signal-out", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_OBJECT);
  signals[SIGNAL_CONNECTED] = g_signal_new ("connected", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_FRAME] = g_signal_new ("frame", type, G_SIGNAL_RUN_LAST, 0,
      NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_WRITABLE] = g_signal_new ("writable", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", type, G_SIGNAL_RUN_LAST, 0,
      NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

#define CONN_IFACE(c) MESH_PEER_CONNECTION_GET_IFACE (c)

void
mesh_peer_connection_start (MeshPeerConnection * conn)
{
  g_return_if_fail (MESH_IS_PEER_CONNECTION (conn));
  CONN_IFACE (conn)->start (conn);
}

void
mesh_peer_connection_handle_signal (MeshPeerConnection * conn,
    JsonObject * data)
{
  g_return_if_fail (MESH_IS_PEER_CONNECTION (conn));
  CONN_IFACE (conn)->handle_signal (conn, data);
}

gboolean
mesh_peer_connection_send (MeshPeerConnection * conn, GBytes * frame)
{
  g_return_val_if_fail (MESH_IS_PEER_CONNECTION (conn), FALSE);
  return CONN_IFACE (conn)->send (conn, frame);
}

gsize
mesh_peer_connection_get_send_queue_size (MeshPeerConnection * conn)
{
  g_return_val_if_fail (MESH_IS_PEER_CONNECTION (conn), 0);
  return CONN_IFACE (conn)->get_send_queue_size (conn);
}

void
mesh_peer_connection_close (MeshPeerConnection * conn, guint16 code,
    const gchar * message)
{
  g_return_if_fail (MESH_IS_PEER_CONNECTION (conn));
  CONN_IFACE (conn)->close (conn, code, message);
}

MeshPeerConnectionState
mesh_peer_connection_get_state (MeshPeerConnection * conn)
{
  g_return_val_if_fail (MESH_IS_PEER_CONNECTION (conn),
      MESH_PEER_CONNECTION_CLOSED);
  return CONN_IFACE (conn)->get_state (conn);
}

const gchar *
mesh_peer_connection_get_remote_peer_id (MeshPeerConnection * conn)
{
  g_return_val_if_fail (MESH_IS_PEER_CONNECTION (conn), NULL);
  return CONN_IFACE (conn)->get_remote_peer_id (conn);
}

gboolean
mesh_peer_connection_get_remote_uploads (MeshPeerConnection * conn)
{
  g_return_val_if_fail (MESH_IS_PEER_CONNECTION (conn), FALSE);
  return CONN_IFACE (conn)->get_remote_uploads (conn);
}

gint64
mesh_peer_connection_get_rtt (MeshPeerConnection * conn)
{
  g_return_val_if_fail (MESH_IS_PEER_CONNECTION (conn), -1);
  return CONN_IFACE (conn)->get_rtt (conn);
}

guint64
mesh_peer_connection_get_goodput (MeshPeerConnection * conn)
{
  g_return_val_if_fail (MESH_IS_PEER_CONNECTION (conn), 0);
  return CONN_IFACE (conn)->get_goodput (conn);
}

const gchar *
mesh_peer_connection_get_path_type (MeshPeerConnection * conn)
{
  g_return_val_if_fail (MESH_IS_PEER_CONNECTION (conn), NULL);
  if (!CONN_IFACE (conn)->get_path_type)
    return NULL;
  return CONN_IFACE (conn)->get_path_type (conn);
}

void
mesh_peer_connection_emit_signal_out (MeshPeerConnection * conn,
    JsonObject * data)
{
  g_signal_emit (conn, signals[SIGNAL_SIGNAL_OUT], 0, data);
}

void
mesh_peer_connection_emit_connected (MeshPeerConnection * conn)
{
  g_signal_emit (conn, signals[SIGNAL_CONNECTED], 0);
}

void
mesh_peer_connection_emit_frame (MeshPeerConnection * conn,
    const MeshWireFrame * frame)
{
  g_signal_emit (conn, signals[SIGNAL_FRAME], 0, frame);
}

void
mesh_peer_connection_emit_writable (MeshPeerConnection * conn)
{
  g_signal_emit (conn, signals[SIGNAL_WRITABLE], 0);
}

void
mesh_peer_connection_emit_closed (MeshPeerConnection * conn,
    const GError * reason)
{
  g_signal_emit (conn, signals[SIGNAL_CLOSED], 0, reason);
}

/* ------------------------------------------------------------------------ */
/* MeshPeerTransport */

G_DEFINE_INTERFACE (MeshPeerTransport, mesh_peer_transport, G_TYPE_OBJECT);

static void
mesh_peer_transport_default_init (MeshPeerTransportInterface * iface)
{
}

MeshPeerConnection *
mesh_peer_transport_connect (MeshPeerTransport * transport,
    const MeshPeerConnectParams * params)
{
  g_return_val_if_fail (MESH_IS_PEER_TRANSPORT (transport), NULL);
  g_return_val_if_fail (params != NULL, NULL);
  g_return_val_if_fail (params->swarm_id && params->local_peer_id
      && params->remote_peer_id, NULL);
  return MESH_PEER_TRANSPORT_GET_IFACE (transport)->connect (transport, params);
}

void
mesh_peer_transport_shutdown (MeshPeerTransport * transport, guint timeout_ms)
{
  g_return_if_fail (MESH_IS_PEER_TRANSPORT (transport));
  MESH_PEER_TRANSPORT_GET_IFACE (transport)->shutdown (transport, timeout_ms);
}
