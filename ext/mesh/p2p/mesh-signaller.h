/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshSignaller: how a MeshPeerManager finds the other viewers of its
 * stream and passes them the messages that set up peer links (ICE
 * credentials and candidates, "busy"). A GObject interface, as the
 * Signaller of gst-plugins-rs' webrtcsink is: the peer manager talks to
 * nothing else, so that the way viewers meet can change without it.
 *
 * Implementations:
 *  - MeshTrackerClient (mesh-tracker-client.h): the WebSocket tracker of
 *    docs/protocol.md section 1, the default.
 *  - MeshMemorySignaller (tests/check/p2p/mesh-memory-signaller.h): an
 *    in-process hub, so that unit tests run several peer managers without
 *    a tracker.
 *
 * Threads: a signaller belongs to its owner context, the thread-default
 * GMainContext when it was created (for the peer manager's, the
 * MeshFetcher's thread). Its methods are called from the thread that runs
 * that context, and every signal is emitted on that thread, from that
 * context's main loop: never from inside a method call, so a handler never
 * runs in the middle of join(), relay() or the like, and may call any
 * method (leave() included) or drop its reference. After leave() returns no
 * signal is emitted until the next join(). Implementations emit with no
 * lock held.
 *
 * Signals:
 *  "welcome" (GStrv peer_ids): joined the swarm; also after a reconnection.
 *      @peer_ids: a sample of the swarm to call, those that upload first,
 *      never ourselves (may be empty).
 *  "peers" (GStrv peer_ids): the answer to request_peers(), same format.
 *  "peer-joined" (const gchar *peer_id): a new member that may call us.
 *  "peer-left" (const gchar *peer_id): a member we heard of is gone.
 *  "message" (const gchar *from, JsonObject *payload): what peer @from
 *      relayed to us (payload owned by the emitter: ref it to keep it).
 *  "error" (GError *error): the signalling service cannot be used; peers
 *      are not found through it, and segments come from the CDN alone.
 *      error->message names the service (the tracker URL) and the reason;
 *      error->code is a MeshSignallerError. Emitted once per failure: an
 *      UNREACHABLE service keeps being retried, and a later "welcome" says
 *      it is back; after the others nothing is retried until the next
 *      join().
 *
 * Optional parts: report, attest, join_full (the network hint), send_qos
 * (QoS reports) and is_near (which peers share our network) may be left
 * NULL; the wrappers below then do without them (see each).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "mesh-qos-report.h"

G_BEGIN_DECLS

#define MESH_SIGNALLER_ERROR (mesh_signaller_error_quark ())
GQuark mesh_signaller_error_quark (void);

typedef enum {
  /* the settings are wrong: not a ws:// or wss:// URL */
  MESH_SIGNALLER_ERROR_INVALID_CONFIG,
  /* nothing answers, or the connection was lost and did not come back
   * after the reconnect attempts; retries go on */
  MESH_SIGNALLER_ERROR_UNREACHABLE,
  /* the service refused the join (swarm full, another protocol version, a
   * join it finds malformed, our id taken over by another connection) */
  MESH_SIGNALLER_ERROR_REFUSED,
  /* the access token is missing, expired or wrong */
  MESH_SIGNALLER_ERROR_UNAUTHORIZED,
} MeshSignallerError;

#define MESH_TYPE_SIGNALLER (mesh_signaller_get_type ())
G_DECLARE_INTERFACE (MeshSignaller, mesh_signaller, MESH, SIGNALLER, GObject)

struct _MeshSignallerInterface
{
  GTypeInterface parent;

  void (*join) (MeshSignaller * self, const gchar * swarm_id,
      const gchar * peer_id, const gchar * token, gboolean upload);
  void (*leave) (MeshSignaller * self);
  void (*relay) (MeshSignaller * self, const gchar * to,
      JsonObject * payload);
  void (*request_peers) (MeshSignaller * self);
  /* optional: NULL when the service takes no reports */
  void (*report) (MeshSignaller * self, const gchar * peer_id,
      const gchar * reason);
  /* optional: NULL when the service attests no digests */
  void (*attest) (MeshSignaller * self, const gchar * url, gint64 offset,
      gint64 length, GCancellable * cancellable,
      GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*attest_finish) (MeshSignaller * self, GAsyncResult * result,
      guint8 digest[32], guint64 * size, GError ** error);
  /* optional: join() that also gives the service the player's network
   * hint; when NULL, mesh_signaller_join_full() calls join() without it */
  void (*join_full) (MeshSignaller * self, const gchar * swarm_id,
      const gchar * peer_id, const gchar * token, gboolean upload,
      const gchar * network);
  /* optional: NULL when the service takes no QoS reports */
  void (*send_qos) (MeshSignaller * self, const MeshQosReport * totals);
  /* optional: NULL when the service says nothing of networks */
  gboolean (*is_near) (MeshSignaller * self, const gchar * peer_id);
};

/* Joins swarm @swarm_id as @peer_id (@token: access token, NULL if the
 * service needs none; @upload: we serve segments to others), and stays
 * joined (reconnecting if need be) until leave(). The outcome comes as
 * "welcome" or "error". Joining again leaves first. */
void mesh_signaller_join (MeshSignaller * self, const gchar * swarm_id,
    const gchar * peer_id, const gchar * token, gboolean upload);

/* The same, with the player's network hint @network (NULL: none; else
 * valid for mesh_tracker_is_valid_network(): 1 to 64 characters of
 * [A-Za-z0-9._:-]), e.g. the site id of an enterprise network behind one
 * NAT, which the service may group players by. Implementations without
 * join_full join without the hint. */
void mesh_signaller_join_full (MeshSignaller * self, const gchar * swarm_id,
    const gchar * peer_id, const gchar * token, gboolean upload,
    const gchar * network);

/* Leaves the swarm. Idempotent. No signal is emitted once it returns. */
void mesh_signaller_leave (MeshSignaller * self);

/* Passes @payload (transfer none) to peer @to, who gets it as "message".
 * Best effort: dropped when not joined or @to is gone. */
void mesh_signaller_relay (MeshSignaller * self, const gchar * to,
    JsonObject * payload);

/* Asks for a fresh sample of the swarm, answered by "peers". Ignored when
 * not joined. */
void mesh_signaller_request_peers (MeshSignaller * self);

/* Tells the service that @peer_id, a member of our swarm, sent us data that
 * failed verification (@reason: a short text for the operator's logs, NULL
 * or empty for none). The tracker removes a peer that several members
 * report. Best effort, no answer: dropped when not joined, and a no-op for
 * implementations without reports. */
void mesh_signaller_report (MeshSignaller * self, const gchar * peer_id,
    const gchar * reason);

/* Asks the service for the SHA-256 of @url's bytes @offset to @offset +
 * @length - 1 (@length -1: to the end), which it fetched from the origin
 * itself (`mesh-tracker --attest-origin`): a digest no peer can forge, for
 * streams without mesh-hashes.json. @url is absolute, as the manifest gave
 * it. Asynchronous, in the GIO style: @callback runs from the owner
 * context's main loop (never inside this call), and calls
 * mesh_signaller_attest_finish(). Fails with G_IO_ERROR_NOT_SUPPORTED when
 * the service attests nothing (no attest vfunc, or a tracker without
 * --attest-origin), G_IO_ERROR_NOT_CONNECTED when not joined, and when the
 * connection drops or leave() is called before the answer,
 * G_IO_ERROR_TIMED_OUT, G_IO_ERROR_CANCELLED, or G_IO_ERROR_FAILED with the
 * service's reason (outside the attested origins, the origin failed,
 * too many requests). */
void mesh_signaller_attest (MeshSignaller * self, const gchar * url,
    gint64 offset, gint64 length, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data);

/* TRUE and @digest (32 bytes) and @size (bytes digested, may be NULL); or
 * FALSE and @error. */
gboolean mesh_signaller_attest_finish (MeshSignaller * self,
    GAsyncResult * result, guint8 digest[32], guint64 * size,
    GError ** error);

/* Tells the service how the player is doing (the "qos" message of
 * docs/protocol.md 1.4). @totals (transfer none): the player's counters
 * (cdn_bytes, peer_bytes, uploaded_bytes, stalls, stall_ms) as totals
 * since the owner's first report to this signaller, never going down, and
 * its current figures (startup_ms, bitrate, width, height, peers); version
 * is ignored. The implementation rebases the counters at every (re)join,
 * so that what it sends counts from the join of the connection it goes
 * on. Best effort, no answer: a report given while not joined is not
 * queued (the next one carries its growth), and a no-op for
 * implementations without QoS reports. */
void mesh_signaller_send_qos (MeshSignaller * self,
    const MeshQosReport * totals);

/* Whether the service counts @peer_id, a member it listed or announced to
 * us, in our own network (the tracker's "near", docs/protocol.md 1.5: same
 * network hint or same address prefix), as of its latest list or
 * announcement. A query rather than a signal, so that the "welcome",
 * "peers" and "peer-joined" of every implementation stay as they are; the
 * answer for the ids of a signal is final when the signal is emitted.
 * FALSE for an unknown peer, when not joined, and for implementations
 * without is_near. */
gboolean mesh_signaller_is_near (MeshSignaller * self, const gchar * peer_id);

/* For implementations: emit the interface's signals (owner context, no
 * lock held). */
void mesh_signaller_emit_welcome (MeshSignaller * self,
    const gchar * const *peer_ids);
void mesh_signaller_emit_peers (MeshSignaller * self,
    const gchar * const *peer_ids);
void mesh_signaller_emit_peer_joined (MeshSignaller * self,
    const gchar * peer_id);
void mesh_signaller_emit_peer_left (MeshSignaller * self,
    const gchar * peer_id);
void mesh_signaller_emit_message (MeshSignaller * self, const gchar * from,
    JsonObject * payload);
void mesh_signaller_emit_error (MeshSignaller * self, const GError * error);

G_END_DECLS
