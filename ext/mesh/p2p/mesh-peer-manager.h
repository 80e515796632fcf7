/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshPeerManager: peer-to-peer delivery of media segments for one viewer.
 * It finds the other viewers of the stream through the tracker, keeps a
 * connection (MeshPeerConnection, from the MeshPeerTransport it is given)
 * to some of them, tells them which segments it holds or is
 * downloading, serves their requests from a bounded cache, and decides for
 * each segment the fetcher asks for whether it comes from a peer now, from
 * the CDN now, or after a short wait for an announcement.
 *
 * Threads: the manager lives on the MeshFetcher's thread and GMainContext,
 * with the fetcher's SoupSession; every function except the counter getters
 * must be called there. The counters are atomics.
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "fetch/mesh-peer-config.h"
#include "mesh-signaller.h"
#include "mesh-peer-transport.h"

G_BEGIN_DECLS


/* How the manager hands a segment back to the fetcher's transfer (@owner). */
typedef struct {
  /* peer bytes, in order from the start of the segment, from the peer
   * @peer_id (valid during the call): the fetcher names the senders of a
   * segment that fails verification */
  void (*deliver) (gpointer owner, GBytes * bytes, const gchar * peer_id);
  /* every byte came from peers: check and deliver the whole */
  void (*complete) (gpointer owner);
  /* fetch the rest (after what deliver() gave) from the CDN */
  void (*use_cdn) (gpointer owner);
} MeshPeerSink;

#define MESH_TYPE_PEER_MANAGER (mesh_peer_manager_get_type ())
G_DECLARE_FINAL_TYPE (MeshPeerManager, mesh_peer_manager, MESH, PEER_MANAGER,
    GObject)

/* Signals (on the fetcher thread): "peer-connected" (const gchar *peer_id),
 * "peer-disconnected" (const gchar *peer_id), "signaller-error" (GError
 * *error): the signaller (the tracker) cannot be used, see MeshSignaller's
 * "error"; no new peers until it recovers, segments come from the CDN. */

/* Joins the swarm at once. Thread: the owner context is the thread-default
 * one at creation; @transport must live on it. @transport makes the
 * connections to peers (a reference is taken; what it still holds after the
 * manager stopped is its owner's to end, mesh_peer_transport_shutdown()).
 * @clock: the time of every decision and timer (NULL = the monotonic clock;
 * deadlines are on it). */
MeshPeerManager *mesh_peer_manager_new (SoupSession * session,
    MeshPeerTransport * transport, const MeshPeerClock * clock,
    const MeshPeerConfig * config);

/* The same, meeting the other viewers through @signaller (a reference is
 * taken; it must belong to the same context) instead of the WebSocket
 * tracker at config->tracker_url that mesh_peer_manager_new() creates with
 * @session. The manager joins with it at once and leaves at stop(). Unit
 * tests use tests/check/p2p/mesh-memory-signaller.h. */
MeshPeerManager *mesh_peer_manager_new_with_signaller (MeshSignaller *
    signaller, MeshPeerTransport * transport, const MeshPeerClock * clock,
    const MeshPeerConfig * config);

/* Leaves the swarm and closes every link; requests still pending go to the
 * CDN. Idempotent; also done on the last unref. */
void mesh_peer_manager_stop (MeshPeerManager * manager);

/* The fetcher needs segment @segment_id (@size bytes when known, else 0)
 * by @deadline (µs on the manager's clock, 0 = at once). Exactly one of the
 * sink's complete() or use_cdn() follows, unless mesh_peer_manager_cancel()
 * comes first. */
void mesh_peer_manager_request (MeshPeerManager * manager,
    const gchar * segment_id, guint64 size, gint64 deadline,
    const MeshPeerSink * sink, gpointer owner);

/* The fetcher no longer wants what it asked for @owner. */
void mesh_peer_manager_cancel (MeshPeerManager * manager, gpointer owner);

/* The fetcher started downloading @segment_id from the CDN: peers learn that
 * they can wait for it instead of downloading it too. */
void mesh_peer_manager_cdn_started (MeshPeerManager * manager,
    const gchar * segment_id);

/* Bytes of @segment_id, in order, as the CDN delivers them: for a
 * download announced by mesh_peer_manager_cdn_started(), or the rest of a
 * segment that peers began (use_cdn() after deliver()). Peers that ask for
 * the segment get them at once, before it is complete. */
void mesh_peer_manager_cdn_progress (MeshPeerManager * manager,
    const gchar * segment_id, GBytes * bytes);

/* The fetcher's download of @segment_id (from the CDN, peers or both)
 * ended without a whole segment it accepted: what peers were served of it
 * as it arrived ends there. */
void mesh_peer_manager_segment_abandoned (MeshPeerManager * manager,
    const gchar * segment_id);

/* What peers delivered of @segment_id failed the fetcher's checks: it
 * comes from the CDN instead (counted in MeshPeerStats.rejected), and
 * what was relayed of it as it arrived ends (as segment_abandoned()). */
void mesh_peer_manager_segment_rejected (MeshPeerManager * manager,
    const gchar * segment_id);

/* The whole of @segment_id arrived and was delivered: keep it for peers. */
void mesh_peer_manager_segment_complete (MeshPeerManager * manager,
    const gchar * segment_id, GBytes * segment);

/* A CDN download of a segment ran at @bytes_per_second: the scheduler
 * needs it to know how late a CDN download may start. */
void mesh_peer_manager_note_cdn_throughput (MeshPeerManager * manager,
    guint64 bytes_per_second);

/* The one place where a segment assembled from peer bytes is accepted or
 * rejected as a whole before anything of it reaches the player. Segment
 * integrity checks go here. */
gboolean mesh_peer_manager_accept_segment (MeshPeerManager * manager,
    const gchar * segment_id, GBytes * segment, guint64 expected_size,
    GError ** error);

/* Peer @peer_id sent bytes of @segment_id that failed verification: its
 * link is closed, it is not linked again for the manager's life, and the
 * tracker hears of it (which removes a peer many viewers report). */
void mesh_peer_manager_report_peer (MeshPeerManager * manager,
    const gchar * peer_id, const gchar * segment_id);

/* The tracker's access token for this viewer is now @token: the
 * signaller sends it at its next join (a reconnection), when it takes
 * tokens (MeshTrackerClient's "token"). */
void mesh_peer_manager_set_token (MeshPeerManager * manager,
    const gchar * token);

/* The player's QoS figures for the tracker (see mesh_signaller_send_qos():
 * @totals count from the manager's creation). Owner context. */
void mesh_peer_manager_send_qos (MeshPeerManager * manager,
    const MeshQosReport * totals);

/* The signaller the manager meets its peers through (transfer none). */
MeshSignaller *mesh_peer_manager_get_signaller (MeshPeerManager * manager);

/* Counters (any thread). */
guint64 mesh_peer_manager_get_bytes_uploaded (MeshPeerManager * manager);
guint mesh_peer_manager_get_n_peers (MeshPeerManager * manager);
const gchar *mesh_peer_manager_get_peer_id (MeshPeerManager * manager);
/* How the requests fared so far (see MeshPeerStats). Any thread. */
void mesh_peer_manager_get_stats (MeshPeerManager * manager,
    MeshPeerStats * stats);

G_END_DECLS
