/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshWireSession: the connection-level rules of the wire protocol
 * (docs/protocol.md section 2) that every MeshPeerConnection implementation
 * applies the same way, whatever carries the bytes:
 *
 * - HELLO: ours first; the remote's first and once, same swarm id, the peer
 *   id we were told to expect;
 * - PING answered with PONG, PONG measuring the round trip of our last PING,
 *   ERROR closing the connection;
 * - keepalive: a PING every idle_timeout / 3, and the idle timeout (nothing
 *   received for idle_timeout).
 *
 * Pure: frames and times (µs, on whatever clock the owner uses, so fake
 * clocks work) in, actions out. It sends nothing and runs no timer: the
 * owner queues the frames it returns, and calls tick() from its own timer
 * every get_ping_interval_ms(). One owner, no locks.
 */
#pragma once

#include <glib.h>

#include "mesh-peer-transport.h"
#include "mesh-wire.h"

G_BEGIN_DECLS

#define MESH_WIRE_SESSION_DEFAULT_IDLE_TIMEOUT_MS 15000

typedef struct
{
  const gchar *swarm_id;
  const gchar *local_peer_id;
  const gchar *remote_peer_id;  /* checked in the remote HELLO */
  gboolean upload;              /* our HELLO flag MESH_WIRE_HELLO_UPLOAD */
  guint idle_timeout_ms;        /* 0 = 15000 */
} MeshWireSessionConfig;

typedef struct _MeshWireSession MeshWireSession;

/* What the owner does with a received frame. */
typedef enum {
  MESH_WIRE_SESSION_CONSUMED,   /* nothing more (PONG measured, PING answered
                                 * through *reply) */
  MESH_WIRE_SESSION_CONNECTED,  /* the remote HELLO passed: emit "connected"
                                 * (and send the PING in *reply) */
  MESH_WIRE_SESSION_DELIVER,    /* emit "frame" */
  MESH_WIRE_SESSION_CLOSE,      /* close with *error (MESH_PEER_CONNECTION_
                                 * ERROR); send ERROR (*code) unless
                                 * *error is REMOTE */
} MeshWireSessionAction;

/* NULL (critical) when the ids are beyond the wire bounds. Strings copied. */
MeshWireSession *mesh_wire_session_new (const MeshWireSessionConfig * config);
void mesh_wire_session_free (MeshWireSession * session);

/* Our HELLO, the first frame to send. */
GBytes *mesh_wire_session_encode_hello (MeshWireSession * session);

/* Any bytes arrived from the remote at @now: it is alive. */
void mesh_wire_session_received (MeshWireSession * session, gint64 now);

/* The next decoded frame. *reply (to send ahead of bulk frames) may be set
 * with any action. */
MeshWireSessionAction mesh_wire_session_handle_frame (MeshWireSession *
    session, const MeshWireFrame * frame, gint64 now, GBytes ** reply,
    guint16 * code, GError ** error);

/* The decoder failed with @decode_error: always CLOSE (PROTOCOL), *code
 * VERSION for another protocol version, else PROTOCOL. */
MeshWireSessionAction mesh_wire_session_decode_error (MeshWireSession *
    session, const GError * decode_error, guint16 * code, GError ** error);

/* Keepalive, from the owner's timer every get_ping_interval_ms() once
 * connected: TRUE with *ping to send, or FALSE when the idle timeout
 * passed (close with *error, IDLE_TIMEOUT, and send ERROR *code). */
gboolean mesh_wire_session_tick (MeshWireSession * session, gint64 now,
    GBytes ** ping, guint16 * code, GError ** error);
guint mesh_wire_session_get_ping_interval_ms (MeshWireSession * session);
guint mesh_wire_session_get_idle_timeout_ms (MeshWireSession * session);

gboolean mesh_wire_session_is_connected (MeshWireSession * session);
/* The remote HELLO flag (FALSE before connected). */
gboolean mesh_wire_session_get_remote_uploads (MeshWireSession * session);
/* Of the last PING answered, µs; -1 while unknown. */
gint64 mesh_wire_session_get_rtt (MeshWireSession * session);

G_END_DECLS
