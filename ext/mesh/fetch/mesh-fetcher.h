/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshFetcher: the one interface through which the elements fetch anything
 * (playlists, keys, init sections, media segments). Today it fetches from the
 * CDN with libsoup 3; the peer-to-peer work extends this object, the elements
 * do not change.
 *
 * Threads: the fetcher owns one thread running its own GMainContext, where the
 * SoupSession and every request live. Callers (element streaming threads) only
 * start jobs and pull chunks from them; each job hands its chunks over through
 * a queue guarded by the job's own lock.
 */
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include "mesh-peer-config.h"
#include "p2p/mesh-qos-report.h"

G_BEGIN_DECLS

#define MESH_FETCH_ERROR (mesh_fetch_error_quark ())
GQuark mesh_fetch_error_quark (void);

typedef enum {
  MESH_FETCH_ERROR_HTTP_CLIENT,   /* 4xx: not retried */
  MESH_FETCH_ERROR_HTTP_SERVER,   /* 5xx after all retries */
  MESH_FETCH_ERROR_NETWORK,       /* connection failures after all retries */
  MESH_FETCH_ERROR_TIMEOUT,       /* no data for `timeout` after all retries */
  MESH_FETCH_ERROR_TOO_LARGE,     /* body larger than the caller allows */
  MESH_FETCH_ERROR_INVALID_URL,
} MeshFetchError;

typedef enum {
  MESH_FETCH_KIND_PLAYLIST,     /* manifests: never cached, never from peers */
  MESH_FETCH_KIND_KEY,
  MESH_FETCH_KIND_INIT,         /* init sections (EXT-X-MAP, DASH init) */
  MESH_FETCH_KIND_SEGMENT,      /* media segments */
} MeshFetchKind;

typedef struct {
  const gchar *url;             /* http or https */
  gint64 offset;                /* first byte wanted */
  gint64 size;                  /* bytes wanted, -1 = to the end */
  MeshFetchKind kind;
  gint64 deadline;              /* g_get_monotonic_time() by which playback
                                 * needs the data; 0 = none */
  const gchar *segment_id;      /* identity of a segment across viewers
                                 * (stream/rendition/sequence), for P2P; NULL
                                 * for playlists and keys */
} MeshFetchRequest;

#define MESH_TYPE_FETCH_JOB (mesh_fetch_job_get_type ())
G_DECLARE_FINAL_TYPE (MeshFetchJob, mesh_fetch_job, MESH, FETCH_JOB, GObject)

#define MESH_TYPE_FETCHER (mesh_fetcher_get_type ())
G_DECLARE_FINAL_TYPE (MeshFetcher, mesh_fetcher, MESH, FETCHER, GObject)

/* Properties (all settable at any time; they apply to jobs started later):
 *   "user-agent"  (string)
 *   "timeout"     (guint, seconds of network inactivity before a retry)
 *   "retries"     (gint, retries after the first attempt, -1 = unlimited)
 *   "extra-headers" (GstStructure, field name = header name; string values,
 *                    or arrays/lists of strings for repeated headers)
 * Counters (read-only, guint64): "bytes-from-cdn" (body bytes of INIT and
 * SEGMENT jobs received from the CDN), "bytes-from-peers" (body bytes of
 * segments that came from peers, counted once accepted).
 *
 * Signal "p2p-warning":
 *   void handler (MeshFetcher *fetcher, const gchar *message,
 *                 gpointer user_data);
 * Peer-to-peer delivery is unavailable for a reason the application should
 * hear of, and playback goes on from the CDN: the tracker cannot be used
 * (not a ws:// or wss:// URL, nothing listening, join or token refused,
 * lost and not back after the reconnect attempts), or this build has no
 * peer-to-peer support. @message is for people and names the tracker and
 * the reason. Emitted on the fetcher's own thread, once per failure (a
 * tracker that comes back and fails again warns again); the elements post
 * it as a GST_ELEMENT_WARNING. A handler must not drop the last reference
 * to the fetcher; and the last unref waits for a running emission to
 * return, so do not drop it while holding a lock the handler takes (the
 * element's object lock, for gst_element_post_message()).
 */
MeshFetcher *mesh_fetcher_new (void);

/* Starts a job at once and returns it (never NULL; failures surface from
 * mesh_fetch_job_pop()). Thread-safe. */
MeshFetchJob *mesh_fetcher_fetch (MeshFetcher * fetcher,
    const MeshFetchRequest * request);

/* Asks the swarm for a segment ahead of need: a SEGMENT @request with a
 * segment_id and its real deadline (when playback will need it). When
 * peer-to-peer is on, the job starts now and goes through the peer manager,
 * which waits for peers or falls back to the CDN by the deadline; a later
 * mesh_fetcher_fetch() of the same segment_id and range adopts it (returns
 * that job, running or finished, instead of starting another). Prefetched
 * jobs are bounded (32 jobs, 64 MiB) and dropped 10 s past their deadline
 * if nobody adopted them. Does nothing when peer-to-peer is off or for
 * other requests. Returns TRUE when the segment is (now or already)
 * prefetched. Thread-safe. */
gboolean mesh_fetcher_prefetch (MeshFetcher * fetcher,
    const MeshFetchRequest * request);

/* Cancels every prefetched job nobody adopted (seek, switch, stop).
 * Thread-safe. */
void mesh_fetcher_cancel_prefetches (MeshFetcher * fetcher);
/* The same for the prefetch of @segment_id, if not adopted yet. */
void mesh_fetcher_cancel_prefetch (MeshFetcher * fetcher,
    const gchar * segment_id);

/* Prefetched jobs waiting to be adopted. */
guint mesh_fetcher_get_n_prefetches (MeshFetcher * fetcher);

/* Prefetches started and adopted since the fetcher was made. */
void mesh_fetcher_get_prefetch_counts (MeshFetcher * fetcher,
    guint64 * prefetched, guint64 * adopted);

/* How the segments asked of the swarm fared (see MeshPeerStats); zeros
 * without peer-to-peer. Thread-safe. */
void mesh_fetcher_get_peer_stats (MeshFetcher * fetcher,
    MeshPeerStats * stats);

guint64 mesh_fetcher_get_bytes_from_cdn (MeshFetcher * fetcher);
guint64 mesh_fetcher_get_bytes_from_peers (MeshFetcher * fetcher);

/* Peer-to-peer delivery of SEGMENT jobs that carry a segment_id: on when
 * @config has a tracker URL (the fetcher then joins the swarm), off
 * otherwise. Jobs started later use it. Thread-safe. */
void mesh_fetcher_set_peer_config (MeshFetcher * fetcher,
    const MeshPeerConfig * config);

/* Replaces the tracker access token of the swarm joined now (the next
 * join, a reconnection, sends it); the next mesh_fetcher_set_peer_config()
 * should carry it too. Thread-safe. */
void mesh_fetcher_set_tracker_token (MeshFetcher * fetcher,
    const gchar * token);

/* Hands the player's QoS figures to the tracker (the "qos" message,
 * docs/protocol.md 1.4): @totals' counters are totals since the fetcher
 * was made and never go down; the fetcher counts them from the creation of
 * the current peer manager, whose signaller rebases them at each join.
 * Nothing is sent when peer-to-peer is off. Bounded: a report not yet
 * handed on when the next comes is replaced by it. Thread-safe; the
 * network I/O happens on the fetcher thread. */
void mesh_fetcher_send_qos (MeshFetcher * fetcher,
    const MeshQosReport * totals);

/* Called on the fetcher thread when a peer link comes up or goes away.
 * @user_data must stay valid until the fetcher is finalized (the fetcher
 * thread is joined then) or the function is replaced. Thread-safe. */
typedef void (*MeshPeerEventFunc) (const gchar * peer_id, gboolean connected,
    gpointer user_data);
void mesh_fetcher_set_peer_event_func (MeshFetcher * fetcher,
    MeshPeerEventFunc func, gpointer user_data);

/* Peer-to-peer counters: media bytes sent to peers, and links up now. */
guint64 mesh_fetcher_get_bytes_uploaded (MeshFetcher * fetcher);
guint mesh_fetcher_get_n_peers (MeshFetcher * fetcher);

/* Next chunk of the body, blocking until one is there. Returns NULL at the end
 * (with @error unset) or on failure, including cancellation through
 * @cancellable or mesh_fetch_job_cancel() (G_IO_ERROR_CANCELLED). A failed
 * transfer is retried transparently, resuming with a Range request after the
 * bytes already handed out, so the chunks always join into the exact body. */
GBytes *mesh_fetch_job_pop (MeshFetchJob * job, GCancellable * cancellable,
    GError ** error);

/* Pops every chunk into one buffer; fails with MESH_FETCH_ERROR_TOO_LARGE
 * beyond @max_size bytes. */
GBytes *mesh_fetch_job_read_all (MeshFetchJob * job, GCancellable * cancellable,
    gsize max_size, GError ** error);

/* Stops the transfer; a blocked or later pop returns G_IO_ERROR_CANCELLED.
 * Thread-safe, idempotent. */
void mesh_fetch_job_cancel (MeshFetchJob * job);

/* The URL after redirects (for resolving relative URIs); the request URL
 * until the response headers arrived. Transfer full. */
gchar *mesh_fetch_job_dup_final_url (MeshFetchJob * job);

/* Body bytes received so far, and the microseconds from sending the request to
 * the last byte (download time, for throughput estimation). */
guint64 mesh_fetch_job_get_bytes (MeshFetchJob * job);
gint64 mesh_fetch_job_get_elapsed (MeshFetchJob * job);

/* TRUE once the transfer has ended (all of the body received, or failed, or
 * cancelled): no more network activity for this job, though chunks may still
 * wait to be popped. Thread-safe. */
gboolean mesh_fetch_job_is_done (MeshFetchJob * job);

/* Total body size when known from Content-Length/Content-Range, else -1. */
gint64 mesh_fetch_job_get_content_size (MeshFetchJob * job);

G_END_DECLS
