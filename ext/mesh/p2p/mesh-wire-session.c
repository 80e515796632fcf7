/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-wire-session.h. Pure: no I/O, no timer, no clock of its own;
 * everything runs in the caller (the owner's GMainContext thread of the
 * connection that embeds the session).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-wire-session.h"

#include <string.h>

struct _MeshWireSession
{
  gchar *swarm_id;
  gchar *local_peer_id;
  gchar *remote_peer_id;
  gboolean upload;
  guint idle_timeout_ms;

  gboolean hello_received;
  gboolean connected;
  gboolean remote_uploads;
  gint64 last_received;
  guint64 last_ping;            /* opaque of the last PING sent, 0 = none */
  gint64 rtt;
};

MeshWireSession *
mesh_wire_session_new (const MeshWireSessionConfig * config)
{
  MeshWireSession *s;
  GBytes *hello;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->swarm_id && config->local_peer_id
      && config->remote_peer_id, NULL);

  /* checks the ids against the wire bounds (critical if not) */
  hello = mesh_wire_encode_hello (0, config->swarm_id, config->local_peer_id);
  if (!hello)
    return NULL;
  g_bytes_unref (hello);

  s = g_new0 (MeshWireSession, 1);
  s->swarm_id = g_strdup (config->swarm_id);
  s->local_peer_id = g_strdup (config->local_peer_id);
  s->remote_peer_id = g_strdup (config->remote_peer_id);
  s->upload = config->upload;
  s->idle_timeout_ms = config->idle_timeout_ms ? config->idle_timeout_ms :
      MESH_WIRE_SESSION_DEFAULT_IDLE_TIMEOUT_MS;
  s->rtt = -1;
  return s;
}

void
mesh_wire_session_free (MeshWireSession * s)
{
  if (!s)
    return;
  g_free (s->swarm_id);
  g_free (s->local_peer_id);
  g_free (s->remote_peer_id);
  g_free (s);
}

GBytes *
mesh_wire_session_encode_hello (MeshWireSession * s)
{
  return mesh_wire_encode_hello (s->upload ? MESH_WIRE_HELLO_UPLOAD : 0,
      s->swarm_id, s->local_peer_id);
}

void
mesh_wire_session_received (MeshWireSession * s, gint64 now)
{
  s->last_received = now;
}

/* *INDENT-OFF* */
static MeshWireSessionAction close_with (GError ** error,
    MeshPeerConnectionError why, guint16 * code, guint16 close_code,
    const gchar * format, ...) G_GNUC_PRINTF (5, 6);
/* *INDENT-ON* */

static MeshWireSessionAction
close_with (GError ** error, MeshPeerConnectionError why, guint16 * code,
    guint16 close_code, const gchar * format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (MESH_PEER_CONNECTION_ERROR,
          why, format, args));
  va_end (args);
  *code = close_code;
  return MESH_WIRE_SESSION_CLOSE;
}

static GBytes *
make_ping (MeshWireSession * s, gint64 now)
{
  /* the opaque is our send time; never 0, which means "none" */
  s->last_ping = MAX (now, 1);
  return mesh_wire_encode_ping (s->last_ping);
}

static MeshWireSessionAction
handle_hello (MeshWireSession * s, const MeshWireFrame * f, gint64 now,
    GBytes ** reply, guint16 * code, GError ** error)
{
  s->hello_received = TRUE;
  if (strcmp (f->hello.swarm_id, s->swarm_id) != 0)
    return close_with (error, MESH_PEER_CONNECTION_ERROR_REJECTED, code,
        MESH_WIRE_CLOSE_WRONG_SWARM, "peer is in swarm '%s', not '%s'",
        f->hello.swarm_id, s->swarm_id);
  if (strcmp (f->hello.peer_id, s->remote_peer_id) != 0)
    return close_with (error, MESH_PEER_CONNECTION_ERROR_REJECTED, code,
        MESH_WIRE_CLOSE_UNSPECIFIED, "peer says it is '%s', expected '%s'",
        f->hello.peer_id, s->remote_peer_id);
  s->remote_uploads = (f->hello.flags & MESH_WIRE_HELLO_UPLOAD) != 0;
  s->connected = TRUE;
  s->last_received = now;
  /* an early first PING makes the RTT known at once */
  *reply = make_ping (s, now);
  return MESH_WIRE_SESSION_CONNECTED;
}

MeshWireSessionAction
mesh_wire_session_handle_frame (MeshWireSession * s, const MeshWireFrame * f,
    gint64 now, GBytes ** reply, guint16 * code, GError ** error)
{
  g_return_val_if_fail (reply && *reply == NULL
      && code, MESH_WIRE_SESSION_CLOSE);

  if (!s->hello_received) {
    if (f->type == MESH_WIRE_TYPE_HELLO)
      return handle_hello (s, f, now, reply, code, error);
    return close_with (error, MESH_PEER_CONNECTION_ERROR_PROTOCOL, code,
        MESH_WIRE_CLOSE_PROTOCOL, "protocol error: %s before HELLO",
        mesh_wire_type_name (f->type));
  }

  switch (f->type) {
    case MESH_WIRE_TYPE_HELLO:
      return close_with (error, MESH_PEER_CONNECTION_ERROR_PROTOCOL, code,
          MESH_WIRE_CLOSE_PROTOCOL, "protocol error: second HELLO");
    case MESH_WIRE_TYPE_PING:
      *reply = mesh_wire_encode_pong (f->ping.opaque);
      return MESH_WIRE_SESSION_CONSUMED;
    case MESH_WIRE_TYPE_PONG:
      /* only the answer to our last PING: others are late or forged */
      if (f->ping.opaque == s->last_ping && s->last_ping != 0)
        s->rtt = MAX (now - (gint64) s->last_ping, 0);
      return MESH_WIRE_SESSION_CONSUMED;
    case MESH_WIRE_TYPE_ERROR:
      return close_with (error, MESH_PEER_CONNECTION_ERROR_REMOTE, code,
          f->error.code, "peer closed the link (code %u): %s", f->error.code,
          f->error.message);
    default:
      return MESH_WIRE_SESSION_DELIVER;
  }
}

MeshWireSessionAction
mesh_wire_session_decode_error (MeshWireSession * s,
    const GError * decode_error, guint16 * code, GError ** error)
{
  guint16 close_code = g_error_matches (decode_error, MESH_WIRE_ERROR,
      MESH_WIRE_ERROR_UNSUPPORTED_VERSION) ? MESH_WIRE_CLOSE_VERSION :
      MESH_WIRE_CLOSE_PROTOCOL;

  return close_with (error, MESH_PEER_CONNECTION_ERROR_PROTOCOL, code,
      close_code, "protocol error: %s", decode_error->message);
}

gboolean
mesh_wire_session_tick (MeshWireSession * s, gint64 now, GBytes ** ping,
    guint16 * code, GError ** error)
{
  gint64 idle = now - s->last_received;

  if (idle >= (gint64) s->idle_timeout_ms * 1000) {
    close_with (error, MESH_PEER_CONNECTION_ERROR_IDLE_TIMEOUT, code,
        MESH_WIRE_CLOSE_TIMEOUT, "nothing received for %" G_GINT64_FORMAT
        " ms", idle / 1000);
    return FALSE;
  }
  *ping = make_ping (s, now);
  return TRUE;
}

guint
mesh_wire_session_get_ping_interval_ms (MeshWireSession * s)
{
  return MAX (s->idle_timeout_ms / 3, 1);
}

guint
mesh_wire_session_get_idle_timeout_ms (MeshWireSession * s)
{
  return s->idle_timeout_ms;
}

gboolean
mesh_wire_session_is_connected (MeshWireSession * s)
{
  return s->connected;
}

gboolean
mesh_wire_session_get_remote_uploads (MeshWireSession * s)
{
  return s->remote_uploads;
}

gint64
mesh_wire_session_get_rtt (MeshWireSession * s)
{
  return s->rtt;
}
