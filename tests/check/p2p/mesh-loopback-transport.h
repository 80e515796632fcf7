/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshLoopbackTransport: an in-process MeshPeerTransport for tests, so that
 * several MeshPeerManagers run in one process without libnice, on one
 * (fake) clock, with the path between two peers under the test's control.
 *
 * - MeshLoopbackNetwork: where the connections of the transports of one
 *   test find each other. A connection's set-up signalling is its endpoint
 *   name in the network ({"kind":"loopback","endpoint":"ep-3"}); whichever
 *   side receives the other's first joins the two.
 * - MeshLoopbackConnection (MeshPeerConnection): the real protocol on top of
 *   a pretend path. Frames are encoded, carried and decoded with mesh-wire;
 *   the session rules are mesh-wire-session's, as for MeshQuicLink: HELLO
 *   first and checked, PING every idle timeout / 3 (the RTT is the last
 *   PING's), PONG, ERROR, the idle timeout (15 s of the clock without a
 *   byte received: a stalled end that stays stalled that long is closed).
 *   PING and PONG overtake queued frames. Each direction has a send queue
 *   (what get_send_queue_size() reports and "writable" is about) that
 *   drains at the sender's rate into the path, where a frame spends the
 *   sender's delay before the receiver gets it.
 *
 * What a test controls, per connection end (what that end sends):
 *   rate (bytes/s, a MeshTokenBucket a frame deep, 0 = unlimited), delay,
 *   stalled (nothing leaves the send queue; what is in the path still
 *   arrives), and mesh_loopback_connection_break() (the path is lost: both
 *   ends close with TRANSPORT_FAILED, what was in the path is lost).
 * Transport-wide defaults apply to connections made later.
 *
 * Threads and time: everything belongs to the GMainContext given to the
 * transport, and every signal is emitted from a source dispatched there,
 * except "closed" from close() and break() (as MeshQuicLink does). Time is
 * the MeshPeerClock given to the transport: timers are clock sources, so a
 * test that moves a fake clock and iterates the context drives it all.
 */
#pragma once

#include <glib-object.h>

#include "p2p/mesh-peer-transport.h"

G_BEGIN_DECLS

#define MESH_TYPE_LOOPBACK_NETWORK (mesh_loopback_network_get_type ())
G_DECLARE_FINAL_TYPE (MeshLoopbackNetwork, mesh_loopback_network, MESH,
    LOOPBACK_NETWORK, GObject)

MeshLoopbackNetwork *mesh_loopback_network_new (void);

#define MESH_TYPE_LOOPBACK_CONNECTION (mesh_loopback_connection_get_type ())
G_DECLARE_FINAL_TYPE (MeshLoopbackConnection, mesh_loopback_connection, MESH,
    LOOPBACK_CONNECTION, GObject)

#define MESH_TYPE_LOOPBACK_TRANSPORT (mesh_loopback_transport_get_type ())
G_DECLARE_FINAL_TYPE (MeshLoopbackTransport, mesh_loopback_transport, MESH,
    LOOPBACK_TRANSPORT, GObject)

/* @clock: NULL = the monotonic clock. */
MeshLoopbackTransport *mesh_loopback_transport_new (MeshLoopbackNetwork *
    network, GMainContext * context, const MeshPeerClock * clock);

/* For connections made from now on. */
void mesh_loopback_transport_set_default_rate (MeshLoopbackTransport *
    transport, guint64 bytes_per_second);
void mesh_loopback_transport_set_default_delay (MeshLoopbackTransport *
    transport, gint64 delay_us);

/* A viewer behind a NAT that never maps: connections to and from it start
 * but never come up (they end in a connect timeout). */
void mesh_loopback_transport_set_unreachable (MeshLoopbackTransport *
    transport, gboolean unreachable);

/* The connection of this transport to @remote_peer_id that is not closed,
 * or NULL (transfer none). */
MeshLoopbackConnection *mesh_loopback_transport_get_connection
    (MeshLoopbackTransport * transport, const gchar * remote_peer_id);
/* Connections made so far, closed ones included. */
guint mesh_loopback_transport_get_n_connections (MeshLoopbackTransport *
    transport);

/* What this end sends. */
void mesh_loopback_connection_set_rate (MeshLoopbackConnection * conn,
    guint64 bytes_per_second);
void mesh_loopback_connection_set_delay (MeshLoopbackConnection * conn,
    gint64 delay_us);
void mesh_loopback_connection_set_stalled (MeshLoopbackConnection * conn,
    gboolean stalled);
/* The path is lost: both ends emit "closed" (TRANSPORT_FAILED), this one
 * before returning, the other from its context. */
void mesh_loopback_connection_break (MeshLoopbackConnection * conn);

/* Frame bytes this end handed to the path / received from it. */
guint64 mesh_loopback_connection_get_bytes_sent (MeshLoopbackConnection *
    conn);
guint64 mesh_loopback_connection_get_bytes_received (MeshLoopbackConnection *
    conn);
/* Frames of @type this end received (HELLO, DATA...; counted whether or not
 * they were emitted). */
guint mesh_loopback_connection_count_received (MeshLoopbackConnection * conn,
    MeshWireType type);
/* What the peer manager asked for (the loopback has no congestion). */
MeshPeerCongestionControl
mesh_loopback_connection_get_congestion_control (MeshLoopbackConnection *
    conn);
/* Likewise (the loopback has no addresses to hide). */
MeshPeerCandidatePolicy
mesh_loopback_connection_get_candidate_policy (MeshLoopbackConnection *
    conn);

G_END_DECLS
