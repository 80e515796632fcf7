/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-peer-manager.h.
 *
 * Threads: everything here runs on the MeshFetcher's thread and its
 * GMainContext (the owner context, thread-default when the manager was
 * created): the signaller (the tracker client unless a test gives
 * another), the connections of the transport, the
 * timers; the qos reports the fetcher hands on reach the signaller here
 * too. Only the counters (`bytes_uploaded`, `n_peers`) are read from other
 * threads, as atomics.
 *
 * Time: every time here is read from the manager's MeshPeerClock and every
 * timer is a clock source on it, so that the tests drive a manager from a
 * fake clock.
 *
 * The pieces:
 * - Peer: a connection to another viewer (MeshPeerConnection, made by the
 *   MeshPeerTransport the manager was given) and what it announced (HAVE:
 *   segments it holds, FETCHING: segments it downloads from the CDN right
 *   now).
 * - Link slots (max-peers): peers the signaller calls near
 *   (mesh_signaller_is_near(), the tracker's "near") are called first, and
 *   a near caller finding every slot taken gets a far link's slot instead
 *   of "busy", within bounds against churn (see far_link_to_replace()).
 * - Pending: a segment the fetcher asked for. mesh-scheduler.c decides, from
 *   what the peers announced and the deadline, whether it is requested from
 *   a peer, sent to the CDN, or waits for an announcement or a random
 *   back-off. A peer transfer is watched and abandoned for the CDN (which
 *   resumes after the bytes already received) when it stalls, or falls
 *   behind and the CDN must start on the rest to be in time.
 * - Upload: a request of a peer, served from the cache, or while the
 *   segment still streams in from the CDN (a "growing" segment: a holder
 *   that announced FETCHING serves what it has so far, so that a copy
 *   starts leaving for the swarm a round trip after it started arriving),
 *   in DATA frames paced by the connection's send queue and by
 *   max-upload-rate (a token bucket over all uploads). Uploads are served
 *   one at a time, earliest deadline first, and a request whose deadline
 *   the uplink cannot meet is refused at once (ABSENT BUSY) so that its
 *   requester goes elsewhere while it still has time. Bytes that came from
 *   peers are shared only once the fetcher verified and accepted the whole
 *   segment (HAVE), unless the swarm is trusted (integrity "none"): then a
 *   viewer receiving a segment from a peer relays it as it arrives too.
 *
 * Every peer is an adversary until its bytes are verified: what it can
 * make us hold or do is bounded (DATA by the size it announced and a hard
 * cap, announcements per peer, requests and signals per second, uploads
 * per peer, a link that does not read is closed, see the limits below),
 * and a peer whose bytes fail verification is cut off for the manager's
 * life and reported to the tracker (mesh_peer_manager_report_peer()).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-peer-manager.h"

#include <gst/gst.h>
#include <string.h>

#include "mesh-link-backoff.h"
#include "mesh-peer-transport.h"
#include "mesh-scheduler.h"
#include "mesh-segment-cache.h"
#include "mesh-token-bucket.h"
#include "mesh-tracker-client.h"
#include "mesh-wire.h"

GST_DEBUG_CATEGORY_STATIC (mesh_peer_manager_debug);
#define GST_CAT_DEFAULT mesh_peer_manager_debug

/* How long a pace measured from a peer is trusted: it was measured while
 * the peer's uplink served others too, so it is measured anew after this. */
#define PEER_PACE_MEMORY_US (10 * G_USEC_PER_SEC)
/* Above this many queued bytes on a link, uploads wait for "writable". */
#define UPLOAD_QUEUE_HIGH (256 * 1024)
/* Uploads accepted at once, over all peers: they are served one after
 * another (the uplink is shared: served together, each would get a
 * fraction of it and all would look too slow), so a longer queue would only
 * make requesters wait past their deadlines; beyond it, ABSENT BUSY sends
 * them elsewhere at once. */
#define MAX_UPLOADS 3
/* A holder that answered BUSY is asked again after this. */
#define BUSY_RETRY_US (300 * G_TIME_SPAN_MILLISECOND)
/* The shortest time over which our uplink's pace is measured. */
#define UPLOAD_PACE_WINDOW_US (250 * G_TIME_SPAN_MILLISECOND)
/* A link must be up within this, or its slot goes to another peer. */
#define LINK_CONNECT_TIMEOUT_MS 5000
/* How often a viewer with free slots asks the tracker for more peers. */
#define PEER_REFRESH_S 5

/* Limits on what a peer can make us hold or do. */
/* No segment is larger, whatever a peer says (a 10 s 4K segment at 25
 * Mbit/s is about 31 MB). */
#define MAX_SEGMENT_BYTES (64 * 1024 * 1024)
/* Segments a peer may announce it holds, or downloads, at once: a viewer
 * holds what its cache holds (hundreds of segments) and downloads a few. */
#define MAX_PEER_HAVE 8192
#define MAX_PEER_FETCHING 256
/* Of the MAX_UPLOADS, at most this many for one peer. */
#define MAX_UPLOADS_PER_PEER 2
/* An upload whose link took nothing for this long: the peer does not read,
 * and holds up every other upload behind it. */
#define UPLOAD_STALL_US (3 * G_USEC_PER_SEC)
/* REQUESTs per second from one peer (a viewer asks a few a segment). */
#define PEER_REQUEST_RATE 20
#define PEER_REQUEST_BURST 40
/* Refused in a row for the rate, a peer is flooding: its link closes. */
#define PEER_REQUEST_FLOOD 200
/* Signalling messages per second from one peer (a link's set-up trickles
 * a few dozen candidates). */
#define PEER_SIGNAL_RATE 20
#define PEER_SIGNAL_BURST 100
/* New links other viewers start with us, per second (burst): each costs
 * an ICE agent and perhaps a TURN allocation, so a member cannot fill
 * every slot at once with made-up callers. */
#define INBOUND_CALL_RATE 1
#define INBOUND_CALL_BURST 6
/* Link slots for near peers (those the signaller counts in our network,
 * mesh_signaller_is_near()): when every slot is taken, a near peer takes
 * the slot of a far link, at most once in this long, so that links do not
 * churn, and only a far link at least this old (a younger one had no time
 * to prove useful). */
#define NEAR_REPLACE_INTERVAL_US (5 * G_USEC_PER_SEC)
#define NEAR_REPLACE_MIN_AGE_US (10 * G_USEC_PER_SEC)
/* Peers cut off for bad data, remembered at most. */
#define MAX_BANNED 1024

typedef struct _Peer Peer;
typedef struct _Pending Pending;
typedef struct _Upload Upload;

struct _Peer
{
  MeshPeerManager *manager;
  gchar *id;
  MeshPeerConnection *conn;
  gboolean ready;
  GHashTable *has;              /* guint64 key -> guint size (GUINT_TO_POINTER) */
  GHashTable *fetching;         /* guint64 key -> order of the announcement
                                 * (GUINT_TO_POINTER of m->announcements) */
  GHashTable *refused;          /* guint64 key -> gint64 until when not to
                                 * ask it again: it answered BUSY */
  guint64 throughput;           /* bytes/s seen from it, 0 = unknown */
  gint64 throughput_time;       /* when it was measured */
  gint64 last_data;             /* when a DATA of ours last came from it */
  gint64 added;                 /* when the link was started */
  guint requests;               /* our requests running on it */
  guint uploads;                /* its requests we serve */
  gint64 last_drain;            /* when its link's queue last drained */
  MeshTokenBucket request_bucket;       /* its REQUESTs */
  guint requests_too_fast;      /* refused in a row for the rate */
  MeshTokenBucket signal_bucket;        /* its signalling messages */
};

struct _Pending
{
  MeshPeerManager *manager;
  gchar *segment_id;
  guint64 key;
  guint64 size;                 /* expected, 0 = unknown */
  gint64 deadline;
  const MeshPeerSink *sink;
  gpointer owner;
  gint64 arrived;
  guint32 random;
  GSource *timer;

  /* while a peer transfer runs */
  Peer *peer;
  guint32 request_id;
  guint64 received;
  gint64 started;
  gint64 last_progress;
  guint64 range_start;          /* where the running request began: 0, or
                                 * what an earlier peer delivered */
  guint64 first_bytes;          /* received once its first DATA came, at
                                 * `started` */
  gboolean from_holder;         /* asked of a peer holding it whole (not a
                                 * relay, which may wait for its source) */
  gboolean peer_failed;         /* a peer transfer of it failed */
};

struct _Upload
{
  Peer *peer;
  guint32 request_id;
  guint64 key;
  GBytes *data;                 /* the requested range of the segment; NULL
                                 * while it streams from the CDN (growing) */
  guint64 offset;               /* segment offset of the range's first byte */
  guint64 length;               /* bytes of the range; while growing, as
                                 * asked (0 = to the end) */
  gsize sent;
  gint64 deadline;              /* on our clock, 0 = none */
  guint64 seq;                  /* arrival order, from 1 once queued */
};

struct _MeshPeerManager
{
  GObject parent;

  GMainContext *context;
  MeshPeerTransport *transport;
  MeshPeerClock clock;
  gchar *peer_id;
  gchar *swarm_id;
  gchar *stun_server, *turn_server;
  gchar *local_address;
  guint max_peers;
  gboolean upload;
  guint64 max_upload_rate;
  MeshPeerCongestionControl congestion_control;
  MeshPeerCandidatePolicy candidate_policy;
  gboolean relay_unverified;    /* integrity "none": peer bytes are relayed
                                 * as they arrive */
  gboolean stopped;

  MeshSignaller *signaller;     /* how we meet the other viewers */
  GSource *refresh_timer;
  GHashTable *peers;            /* peer id -> Peer* */
  GHashTable *banned;           /* peer ids cut off (bad data), bounded */
  MeshTokenBucket inbound_calls;        /* links others start with us */
  gint64 last_near_replace;     /* when a near peer last took a far link's
                                 * slot, 0 = never */
  GHashTable *turned_away;      /* caller id -> gint64 until when the rest
                                 * of its call (trickled candidates) is
                                 * dropped quietly; bounded */
  GQueue banned_order;          /* the same ids, oldest first */
  MeshLinkBackoff *backoff;     /* when to call again a peer whose link
                                 * failed to come up */
  GList *pendings;              /* Pending* */
  MeshSegmentCache *cache;
  GHashTable *sizes;            /* guint64 key -> guint64 size of segments we
                                 * hold (mirror of the cache for HAVE) */
  guint32 next_request_id;
  GRand *rand;

  GHashTable *growing;          /* guint64 key -> GByteArray: segments
                                 * streaming in from the CDN, servable as
                                 * far as they arrived */
  GQueue uploads;               /* Upload*, served in turn */
  guint64 upload_pace;          /* bytes/s our uplink carried while busy,
                                 * 0 = not measured yet */
  gint64 pace_since;            /* start of the current measurement, 0 =
                                 * none */
  guint64 pace_departed;        /* departed bytes at pace_since */
  guint64 next_upload_seq;
  Peer *last_upload_peer;       /* of the upload served last, whose tail
                                 * may still wait in its link's queue */
  GSource *pump_timer;          /* runs the pump later: when upload tokens
                                 * are due, or at once from the main loop
                                 * for calls that come from the fetcher */
  gint64 pump_when;             /* when pump_timer fires */
  MeshTokenBucket upload_bucket;        /* max-upload-rate */

  guint64 cdn_throughput;       /* bytes/s, from what the CDN delivered */
  guint64 typical_size;         /* bytes, average of the segments seen */
  guint announcements;          /* FETCHING received, to order them */

  GMutex stats_lock;            /* guards `stats`, read from any thread */
  MeshPeerStats stats;

  /* atomics, read from any thread */
  guint64 bytes_uploaded;
  gint n_peers;
};

G_DEFINE_FINAL_TYPE_WITH_CODE (MeshPeerManager, mesh_peer_manager,
    G_TYPE_OBJECT,
    GST_DEBUG_CATEGORY_INIT (mesh_peer_manager_debug, "meshpeermanager", 0,
        "gst-mesh peer manager"));

enum
{
  SIGNAL_PEER_CONNECTED,
  SIGNAL_PEER_DISCONNECTED,
  SIGNAL_SIGNALLER_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void pending_decide (Pending * p);
static void pendings_reconsider_all (MeshPeerManager * m);
static void growing_start (MeshPeerManager * m, guint64 key);
static void growing_append (MeshPeerManager * m, guint64 key, GBytes * bytes);
static void uploads_pump (MeshPeerManager * m);
static void uploads_pump_at (MeshPeerManager * m, gint64 when);
static void upload_pace_on_drain (MeshPeerManager * m);
static void uploads_drop_stalled (MeshPeerManager * m);

/* ------------------------------------------------------------------------ */
/* Configuration */

static gint64
manager_now (MeshPeerManager * m)
{
  return mesh_peer_clock_now (&m->clock);
}

/* A one-shot timer on the manager's clock, at @when. */
static GSource *
manager_timer_new (MeshPeerManager * m, gint64 when, GSourceFunc func,
    gpointer data)
{
  GSource *timer = mesh_peer_clock_source_new (&m->clock, when);

  g_source_set_callback (timer, func, data, NULL);
  g_source_attach (timer, m->context);
  return timer;
}

static void
clear_timer (GSource ** timer)
{
  if (*timer) {
    g_source_destroy (*timer);
    g_clear_pointer (timer, g_source_unref);
  }
}

static gchar *
random_peer_id (GRand * rand)
{
  GString *id = g_string_new (NULL);
  gint i;

  for (i = 0; i < 16; i++)
    g_string_append_printf (id, "%x", g_rand_int_range (rand, 0, 16));
  return g_string_free (id, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Peers */

static void
peer_free (Peer * peer)
{
  if (peer->conn) {
    g_signal_handlers_disconnect_by_data (peer->conn, peer);
    mesh_peer_connection_close (peer->conn, MESH_WIRE_CLOSE_GOING_AWAY, "bye");
    g_object_unref (peer->conn);
  }
  g_hash_table_unref (peer->has);
  g_hash_table_unref (peer->fetching);
  g_hash_table_unref (peer->refused);
  g_free (peer->id);
  g_free (peer);
}

static void
peer_send (Peer * peer, GBytes * frame)
{
  if (peer->ready)
    mesh_peer_connection_send (peer->conn, frame);
  g_bytes_unref (frame);
}

static void
broadcast (MeshPeerManager * m, GBytes * frame)
{
  GHashTableIter iter;
  Peer *peer;

  g_hash_table_iter_init (&iter, m->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & peer))
    if (peer->ready)
      mesh_peer_connection_send (peer->conn, frame);
  g_bytes_unref (frame);
}

/* Re-decides every waiting request (the set of peers changed). */
static void
pendings_reconsider_all (MeshPeerManager * m)
{
  GList *l, *next;

  for (l = m->pendings; l; l = next) {
    Pending *p = l->data;

    next = l->next;
    if (!p->peer)
      pending_decide (p);
  }
}

/* Re-decides the pending requests for @key after an announcement. */
static void
pendings_reconsider (MeshPeerManager * m, guint64 key)
{
  GList *l, *next;

  for (l = m->pendings; l; l = next) {
    Pending *p = l->data;

    next = l->next;
    if (p->key == key && !p->peer)
      pending_decide (p);
  }
}

typedef struct
{
  MeshWireHaveEntry entries[MESH_WIRE_MAX_KEYS];
  guint n;
  Peer *peer;
} HaveBatch;

static void
have_batch_flush (HaveBatch * batch)
{
  if (batch->n > 0)
    peer_send (batch->peer, mesh_wire_encode_have (batch->entries, batch->n));
  batch->n = 0;
}

static void
have_batch_add (guint64 key, GBytes * data, gpointer user_data)
{
  HaveBatch *batch = user_data;

  batch->entries[batch->n].key = key;
  batch->entries[batch->n].size = g_bytes_get_size (data);
  if (++batch->n == MESH_WIRE_MAX_KEYS)
    have_batch_flush (batch);
}

/* What we are receiving right now, for a peer that just connected. */
static void
peer_send_fetching (Peer * peer)
{
  GHashTable *growing = peer->manager->growing;
  g_autofree guint64 *keys = NULL;
  GHashTableIter iter;
  gpointer key;
  guint n = 0;

  if (g_hash_table_size (growing) == 0)
    return;
  keys = g_new (guint64, MIN (g_hash_table_size (growing), MESH_WIRE_MAX_KEYS));
  g_hash_table_iter_init (&iter, growing);
  while (n < MESH_WIRE_MAX_KEYS && g_hash_table_iter_next (&iter, &key, NULL))
    keys[n++] = *(guint64 *) key;
  peer_send (peer, mesh_wire_encode_fetching (keys, n));
}

/* A new link is ready: it learns everything we hold or receive. */
static void
peer_send_inventory (Peer * peer)
{
  HaveBatch *batch = g_new0 (HaveBatch, 1);

  batch->peer = peer;
  mesh_segment_cache_foreach (peer->manager->cache, have_batch_add, batch);
  have_batch_flush (batch);
  g_free (batch);
  peer_send_fetching (peer);
}

static void
on_conn_connected (MeshPeerConnection * conn, Peer * peer)
{
  MeshPeerManager *m = peer->manager;

  peer->ready = TRUE;
  mesh_link_backoff_forget (m->backoff, peer->id);
  g_atomic_int_inc (&m->n_peers);
  GST_INFO_OBJECT (m, "peer %s connected (%s, %" GST_PTR_FORMAT ")",
      peer->id, GST_STR_NULL (mesh_peer_connection_get_path_type (conn)), conn);
  peer_send_inventory (peer);
  g_signal_emit (m, signals[SIGNAL_PEER_CONNECTED], 0, peer->id);
}

static void
on_conn_signal_out (MeshPeerConnection * conn, JsonObject * data, Peer * peer)
{
  MeshPeerManager *m = peer->manager;

  if (m->signaller)
    mesh_signaller_relay (m->signaller, peer->id, data);
}

static void pending_abandon_peer (Pending * p, const gchar * why);
static void uploads_drop_peer (MeshPeerManager * m, Peer * peer);

/* Forgets @peer: what it was sending us goes to the CDN, what we were
 * sending it stops. */
static void
peer_remove (MeshPeerManager * m, Peer * peer, const gchar * why)
{
  GList *l, *next;
  gboolean was_ready = peer->ready;
  gchar *id = g_strdup (peer->id);

  GST_INFO_OBJECT (m, "peer %s gone: %s", peer->id, why);
  /* the requests it fails are decided again: not for this one */
  peer->ready = FALSE;
  for (l = m->pendings; l; l = next) {
    Pending *p = l->data;

    next = l->next;
    if (p->peer == peer)
      pending_abandon_peer (p, why);
  }
  if (m->last_upload_peer == peer)
    m->last_upload_peer = NULL;
  uploads_drop_peer (m, peer);
  if (was_ready)
    g_atomic_int_add (&m->n_peers, -1);
  g_hash_table_remove (m->peers, id);
  if (was_ready)
    g_signal_emit (m, signals[SIGNAL_PEER_DISCONNECTED], 0, id);
  g_free (id);
  /* a request waiting for links being set up may not wait any more */
  pendings_reconsider_all (m);
}

static void
ban_peer_id (MeshPeerManager * m, const gchar * id)
{
  gchar *copy;

  if (g_hash_table_contains (m->banned, id))
    return;
  if (m->banned_order.length >= MAX_BANNED) {
    gchar *oldest = g_queue_pop_head (&m->banned_order);

    g_hash_table_remove (m->banned, oldest);
    g_free (oldest);
  }
  copy = g_strdup (id);
  g_queue_push_tail (&m->banned_order, copy);
  g_hash_table_add (m->banned, copy);
}

MeshSignaller *
mesh_peer_manager_get_signaller (MeshPeerManager * m)
{
  return m->signaller;
}

void
mesh_peer_manager_set_token (MeshPeerManager * m, const gchar * token)
{
  if (m->signaller && g_object_class_find_property (G_OBJECT_GET_CLASS
          (m->signaller), "token"))
    g_object_set (m->signaller, "token", token, NULL);
}

void
mesh_peer_manager_send_qos (MeshPeerManager * m, const MeshQosReport * totals)
{
  if (m->signaller)
    mesh_signaller_send_qos (m->signaller, totals);
}

void
mesh_peer_manager_report_peer (MeshPeerManager * m, const gchar * peer_id,
    const gchar * segment_id)
{
  Peer *peer = g_hash_table_lookup (m->peers, peer_id);
  g_autofree gchar *why = g_strdup_printf ("sent %s, which failed "
      "verification", segment_id);

  if (g_hash_table_contains (m->banned, peer_id))
    return;
  GST_WARNING_OBJECT (m, "peer %s %s: cut off", peer_id, why);
  ban_peer_id (m, peer_id);
  g_mutex_lock (&m->stats_lock);
  m->stats.peers_banned++;
  g_mutex_unlock (&m->stats_lock);
  if (m->signaller)
    mesh_signaller_report (m->signaller, peer_id, why);
  if (peer)
    mesh_peer_connection_close (peer->conn, MESH_WIRE_CLOSE_PROTOCOL, why);
}

/* A link that never came up (no path, a connect timeout) will likely fail
 * again soon: its peer is not called again before its back-off ends. A call
 * from that peer is still answered. */
static void
note_link_failure (MeshPeerManager * m, Peer * peer, const GError * reason)
{
  gint64 retry_at;

  if (peer->ready || !reason
      || (!g_error_matches (reason, MESH_PEER_CONNECTION_ERROR,
              MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT)
          && !g_error_matches (reason, MESH_PEER_CONNECTION_ERROR,
              MESH_PEER_CONNECTION_ERROR_TRANSPORT_FAILED)))
    return;
  retry_at = mesh_link_backoff_failed (m->backoff, peer->id, manager_now (m),
      m->rand);
  GST_INFO_OBJECT (m, "peer %s: link failed %u time(s) in a row, not called "
      "again for %" G_GINT64_FORMAT " s", peer->id,
      mesh_link_backoff_get_failures (m->backoff, peer->id),
      (retry_at - manager_now (m)) / G_USEC_PER_SEC);
}

static void
on_conn_closed (MeshPeerConnection * conn, GError * reason, Peer * peer)
{
  note_link_failure (peer->manager, peer, reason);
  peer_remove (peer->manager, peer, reason ? reason->message : "closed");
}

static void handle_frame (Peer * peer, const MeshWireFrame * frame);

static void
on_conn_frame (MeshPeerConnection * conn, gpointer frame, Peer * peer)
{
  handle_frame (peer, frame);
}

static void
on_conn_writable (MeshPeerConnection * conn, Peer * peer)
{
  peer->last_drain = manager_now (peer->manager);
  upload_pace_on_drain (peer->manager);
  uploads_pump (peer->manager);
}

static MeshPeerConnection *
open_connection (MeshPeerManager * m, const gchar * id, gboolean controlling)
{
  MeshPeerConnectParams params = { 0, };

  params.swarm_id = m->swarm_id;
  params.local_peer_id = m->peer_id;
  params.remote_peer_id = id;
  params.controlling = controlling;
  params.upload = m->upload;
  params.stun_server = m->stun_server;
  params.turn_server = m->turn_server;
  params.local_address = m->local_address;
  params.connect_timeout_ms = LINK_CONNECT_TIMEOUT_MS;
  params.congestion_control = m->congestion_control;
  params.candidate_policy = m->candidate_policy;
  return mesh_peer_transport_connect (m->transport, &params);
}

/* A new peer with its connection started; NULL when the transport cannot
 * make one (an id beyond the wire bounds). */
static Peer *
peer_add (MeshPeerManager * m, const gchar * id, gboolean controlling)
{
  MeshPeerConnection *conn;
  Peer *peer;

  if (g_hash_table_contains (m->banned, id))
    return NULL;
  conn = open_connection (m, id, controlling);
  if (!conn) {
    GST_WARNING_OBJECT (m, "no connection to peer '%s'", id);
    return NULL;
  }
  peer = g_new0 (Peer, 1);
  peer->manager = m;
  peer->id = g_strdup (id);
  peer->has = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  peer->fetching = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      NULL);
  peer->refused = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      g_free);
  peer->conn = conn;
  peer->last_drain = manager_now (m);
  peer->added = manager_now (m);
  mesh_token_bucket_init (&peer->request_bucket, PEER_REQUEST_RATE,
      PEER_REQUEST_BURST, manager_now (m));
  mesh_token_bucket_init (&peer->signal_bucket, PEER_SIGNAL_RATE,
      PEER_SIGNAL_BURST, manager_now (m));
  GST_DEBUG_OBJECT (m, "peer %s: %s %" GST_PTR_FORMAT, id,
      controlling ? "calling" : "called by", conn);
  g_signal_connect (conn, "connected", G_CALLBACK (on_conn_connected), peer);
  g_signal_connect (conn, "signal-out", G_CALLBACK (on_conn_signal_out), peer);
  g_signal_connect (conn, "closed", G_CALLBACK (on_conn_closed), peer);
  g_signal_connect (conn, "frame", G_CALLBACK (on_conn_frame), peer);
  g_signal_connect (conn, "writable", G_CALLBACK (on_conn_writable), peer);
  g_hash_table_insert (m->peers, peer->id, peer);
  /* may close at once, and the peer be gone */
  mesh_peer_connection_start (conn);
  return g_hash_table_lookup (m->peers, id);
}

/* ------------------------------------------------------------------------ */
/* Signalling: the MeshSignaller (the WebSocket tracker by default) */

/* Whether @bucket (one token per message) lets one more through now. */
static gboolean
token_taken (MeshTokenBucket * bucket, gint64 now)
{
  if (mesh_token_bucket_delay (bucket, now) > 0)
    return FALSE;
  mesh_token_bucket_consume (bucket, 1, now);
  return TRUE;
}

/* Links we start ourselves leave a quarter of the slots to peers that call
 * us, so that later joiners find room in a swarm of full viewers. */
static guint
max_outgoing (MeshPeerManager * m)
{
  return m->max_peers > 1 ? m->max_peers - MAX (1, m->max_peers / 4) : 1;
}

static gboolean
peer_id_is_near (MeshPeerManager * m, const gchar * id)
{
  return mesh_signaller_is_near (m->signaller, id);
}

/* Links to far peers that are up, but @except. */
static guint
count_ready_far_links (MeshPeerManager * m, Peer * except)
{
  GHashTableIter iter;
  Peer *peer;
  guint n = 0;

  g_hash_table_iter_init (&iter, m->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & peer))
    n += peer != except && peer->ready && !peer_id_is_near (m, peer->id);
  return n;
}

/* Whether @a is less useful to keep than @b: it gave us data longer ago
 * (or never), then it delivers less. */
static gboolean
link_less_useful (Peer * a, Peer * b)
{
  if (a->last_data != b->last_data)
    return a->last_data < b->last_data;
  return a->throughput < b->throughput;
}

/* The far link whose slot a near peer may take now, or NULL: none for
 * NEAR_REPLACE_INTERVAL_US after the last replacement; only a far link
 * older than NEAR_REPLACE_MIN_AGE_US with no transfer in flight either way,
 * the least useful of them; and never the last far link that is up, so
 * that our network stays connected to the rest of the swarm. */
static Peer *
far_link_to_replace (MeshPeerManager * m)
{
  gint64 now = manager_now (m);
  GHashTableIter iter;
  Peer *peer, *victim = NULL;

  if (m->last_near_replace != 0
      && now - m->last_near_replace < NEAR_REPLACE_INTERVAL_US)
    return NULL;
  g_hash_table_iter_init (&iter, m->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & peer)) {
    if (peer->requests > 0 || peer->uploads > 0
        || now - peer->added < NEAR_REPLACE_MIN_AGE_US
        || peer_id_is_near (m, peer->id))
      continue;
    if (!victim || link_less_useful (peer, victim))
      victim = peer;
  }
  if (victim && count_ready_far_links (m, victim) == 0)
    return NULL;
  return victim;
}

/* Frees the slot of far link @victim (from far_link_to_replace()) for
 * near peer @near_id. */
static void
replace_far_link (MeshPeerManager * m, Peer * victim, const gchar * near_id)
{
  GST_INFO_OBJECT (m, "peer %s: far link dropped for near peer %s",
      victim->id, near_id);
  m->last_near_replace = manager_now (m);
  peer_remove (m, victim, "slot taken by a near peer");
}

/* Whether we may call @id now. */
static gboolean
may_call (MeshPeerManager * m, const gchar * id)
{
  if (g_hash_table_contains (m->peers, id)
      || g_hash_table_contains (m->banned, id))
    return FALSE;
  if (!mesh_link_backoff_may_call (m->backoff, id, manager_now (m))) {
    GST_LOG_OBJECT (m, "not calling %s yet: its last links failed", id);
    return FALSE;
  }
  return TRUE;
}

/* Calls the peers of @ids whose nearness is @near while outgoing slots are
 * free; with @near, a near peer may take a far link's slot when none is. */
static void
call_peers (MeshPeerManager * m, GStrv ids, gboolean near)
{
  guint i;

  for (i = 0; ids[i]; i++) {
    if (peer_id_is_near (m, ids[i]) != near || !may_call (m, ids[i]))
      continue;
    if (g_hash_table_size (m->peers) >= max_outgoing (m)) {
      Peer *victim = near ? far_link_to_replace (m) : NULL;

      if (!victim)
        return;
      replace_far_link (m, victim, ids[i]);
    }
    peer_add (m, ids[i], TRUE);
  }
}

static void
on_signaller_peers (MeshSignaller * signaller, GStrv ids, MeshPeerManager * m)
{
  /* we call the peers the signaller lists, near ones first (their links
   * carry segments at LAN speed and spare the network's uplink); peers
   * that join later call us */
  call_peers (m, ids, TRUE);
  call_peers (m, ids, FALSE);
}

/* Signalling data of our own (next to the link's kinds): a full viewer
 * answers a call with {"kind":"busy"}, so that the caller frees its slot at
 * once instead of waiting for the connection to time out. */
static gboolean
is_busy_signal (JsonObject * data)
{
  return json_object_has_member (data, "kind")
      && g_strcmp0 (json_object_get_string_member_with_default (data, "kind",
          ""), "busy") == 0;
}

/* A caller told BUSY: what else of its call is in flight is dropped for a
 * second without answering or counting against the call rate. */
#define TURNED_AWAY_US (1 * G_USEC_PER_SEC)
#define MAX_TURNED_AWAY 256

static gboolean
turned_away_expired (gpointer key, gpointer value, gpointer now)
{
  return *(gint64 *) value <= *(gint64 *) now;
}

static gboolean
caller_turned_away (MeshPeerManager * m, const gchar * id)
{
  gint64 *until = g_hash_table_lookup (m->turned_away, id);

  return until && *until > manager_now (m);
}

static void
turn_caller_away (MeshPeerManager * m, const gchar * id)
{
  gint64 now = manager_now (m), *until;

  g_hash_table_foreach_remove (m->turned_away, turned_away_expired, &now);
  if (g_hash_table_size (m->turned_away) >= MAX_TURNED_AWAY)
    return;
  until = g_new (gint64, 1);
  *until = now + TURNED_AWAY_US;
  g_hash_table_insert (m->turned_away, g_strdup (id), until);
}

static void
send_busy (MeshPeerManager * m, const gchar * to)
{
  g_autoptr (JsonObject) busy = json_object_new ();

  json_object_set_string_member (busy, "kind", "busy");
  mesh_signaller_relay (m->signaller, to, busy);
}

static void
on_signaller_message (MeshSignaller * signaller, const gchar * from,
    JsonObject * data, MeshPeerManager * m)
{
  Peer *peer = g_hash_table_lookup (m->peers, from);

  if (g_hash_table_contains (m->banned, from))
    return;
  if (peer && !token_taken (&peer->signal_bucket, manager_now (m))) {
    GST_DEBUG_OBJECT (m, "peer %s: signalling too fast, message dropped", from);
    return;
  }
  if (is_busy_signal (data)) {
    if (peer && !peer->ready)
      peer_remove (m, peer, "busy");
    return;
  }
  if (!peer) {
    Peer *victim = NULL;

    if (caller_turned_away (m, from))
      return;
    /* a near caller finding every slot taken may take a far link's */
    if (g_hash_table_size (m->peers) >= m->max_peers
        && peer_id_is_near (m, from))
      victim = far_link_to_replace (m);
    if ((g_hash_table_size (m->peers) >= m->max_peers && !victim)
        || !token_taken (&m->inbound_calls, manager_now (m))) {
      GST_DEBUG_OBJECT (m, "refusing %s: already %u of %u peers, or called "
          "too often", from, g_hash_table_size (m->peers), m->max_peers);
      turn_caller_away (m, from);
      send_busy (m, from);
      return;
    }
    if (victim)
      replace_far_link (m, victim, from);
    if (!(peer = peer_add (m, from, FALSE)))
      return;
  }
  mesh_peer_connection_handle_signal (peer->conn, data);
}

/* A viewer with free slots asks for more peers now and then: the swarm
 * changes, and calls may have failed. */
static gboolean
on_refresh_timer (gpointer data)
{
  MeshPeerManager *m = data;

  if (g_hash_table_size (m->peers) < max_outgoing (m))
    mesh_signaller_request_peers (m->signaller);
  mesh_peer_clock_source_set (m->refresh_timer,
      manager_now (m) + PEER_REFRESH_S * G_USEC_PER_SEC);
  return G_SOURCE_CONTINUE;
}

static void
on_signaller_peer_left (MeshSignaller * signaller, const gchar * id,
    MeshPeerManager * m)
{
  Peer *peer = g_hash_table_lookup (m->peers, id);

  mesh_link_backoff_forget (m->backoff, id);
  if (peer)
    peer_remove (m, peer, "left the swarm");
}

/* The signaller cannot be used (see MeshSignaller "error"): no new peers
 * until it recovers, segments from the CDN meanwhile. Links already up
 * stay. The fetcher turns this into the element's warning. */
static void
on_signaller_error (MeshSignaller * signaller, const GError * error,
    MeshPeerManager * m)
{
  GST_WARNING_OBJECT (m, "%s", error->message);
  g_signal_emit (m, signals[SIGNAL_SIGNALLER_ERROR], 0, error);
}

/* Joins the swarm through @signaller; what it finds comes from the main
 * loop, once the manager is set up. */
static void
signaller_join (MeshPeerManager * m, MeshSignaller * signaller,
    const gchar * token, const gchar * network)
{
  m->signaller = g_object_ref (signaller);
  g_signal_connect (signaller, "welcome", G_CALLBACK (on_signaller_peers), m);
  g_signal_connect (signaller, "peers", G_CALLBACK (on_signaller_peers), m);
  g_signal_connect (signaller, "message", G_CALLBACK (on_signaller_message), m);
  g_signal_connect (signaller, "peer-left",
      G_CALLBACK (on_signaller_peer_left), m);
  g_signal_connect (signaller, "error", G_CALLBACK (on_signaller_error), m);
  mesh_signaller_join_full (signaller, m->swarm_id, m->peer_id, token,
      m->upload, network);
}

/* ------------------------------------------------------------------------ */
/* Our requests */

static guint
count_connecting_peers (MeshPeerManager * m)
{
  GHashTableIter iter;
  Peer *peer;
  guint n = 0;

  g_hash_table_iter_init (&iter, m->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & peer))
    n += !peer->ready;
  return n;
}

static guint
count_uploading_peers (MeshPeerManager * m)
{
  GHashTableIter iter;
  Peer *peer;
  guint n = 0;

  g_hash_table_iter_init (&iter, m->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & peer))
    if (peer->ready && mesh_peer_connection_get_remote_uploads (peer->conn))
      n++;
  return n;
}

/* What a peer's connection delivers: as measured over our last transfer
 * from it, else the connection's own goodput when that shows at least the
 * scheduler's default, else 0 (unknown: the default). An idle link's
 * goodput is what little went over it (announcements), not what it can
 * carry: taken as is, it would make every first transfer look too slow to
 * try, and nothing would ever be measured. A transfer that turns out too
 * slow is abandoned to the CDN by its deadline. */
static guint64
peer_throughput (Peer * peer)
{
  guint64 goodput;

  if (peer->throughput > 0 && manager_now (peer->manager) -
      peer->throughput_time < PEER_PACE_MEMORY_US)
    return peer->throughput;
  goodput = mesh_peer_connection_get_goodput (peer->conn);
  return goodput >= MESH_SCHEDULE_DEFAULT_THROUGHPUT ? goodput : 0;
}

static void
peer_note_throughput (Peer * peer, guint64 bytes_per_second)
{
  peer->throughput = bytes_per_second;
  peer->throughput_time = manager_now (peer->manager);
}

/* @peer failed us for @key: it is not asked for it again. */
static void
peer_forget_segment (Peer * peer, guint64 key)
{
  g_hash_table_remove (peer->has, &key);
  g_hash_table_remove (peer->fetching, &key);
}

/* Whether @peer answered BUSY for @key lately; if so, *@retry_at becomes
 * the earliest time one of those may be asked again. */
static gboolean
peer_refused (Peer * peer, guint64 key, gint64 now, gint64 * retry_at)
{
  gint64 *until = g_hash_table_lookup (peer->refused, &key);

  if (!until || *until <= now)
    return FALSE;
  *retry_at = *retry_at == 0 ? *until : MIN (*retry_at, *until);
  return TRUE;
}

/* Whether @a is a better choice than @b to ask for @key. A peer holding
 * it complete comes first: the fewest of our requests, then the fastest.
 * Among peers still receiving it, the one that started last: it is the
 * end of a relay chain, the most likely to have its uplink free (every
 * relay serves one request at a time). */
static gboolean
holder_better (Peer * a, Peer * b, guint64 key)
{
  gboolean a_complete = g_hash_table_contains (a->has, &key);
  gboolean b_complete = g_hash_table_contains (b->has, &key);

  if (a_complete != b_complete)
    return a_complete;
  if (!a_complete)
    return GPOINTER_TO_UINT (g_hash_table_lookup (a->fetching, &key)) >
        GPOINTER_TO_UINT (g_hash_table_lookup (b->fetching, &key));
  if (a->requests != b->requests)
    return a->requests < b->requests;
  return peer_throughput (a) > peer_throughput (b);
}

/* The best peer to ask for @key (see holder_better()), or NULL; peers that
 * refused it lately are left out, and *@retry_at says when the first of
 * them may be asked again (0 = none). */
static Peer *
find_holder (MeshPeerManager * m, guint64 key, gint64 * retry_at)
{
  GHashTableIter iter;
  Peer *peer, *best = NULL;
  gint64 now = manager_now (m);

  *retry_at = 0;
  g_hash_table_iter_init (&iter, m->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & peer)) {
    if (!peer->ready || !mesh_peer_connection_get_remote_uploads (peer->conn)
        || (!g_hash_table_contains (peer->has, &key)
            && !g_hash_table_contains (peer->fetching, &key))
        || peer_refused (peer, key, now, retry_at))
      continue;
    if (!best || holder_better (peer, best, key))
      best = peer;
  }
  return best;
}

static gboolean
someone_fetches (MeshPeerManager * m, guint64 key)
{
  GHashTableIter iter;
  Peer *peer;

  g_hash_table_iter_init (&iter, m->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & peer))
    if (peer->ready && mesh_peer_connection_get_remote_uploads (peer->conn)
        && g_hash_table_contains (peer->fetching, &key))
      return TRUE;
  return FALSE;
}

static void
pending_clear_timer (Pending * p)
{
  clear_timer (&p->timer);
}

static void
pending_free (Pending * p)
{
  pending_clear_timer (p);
  if (p->peer)
    p->peer->requests--;
  g_free (p->segment_id);
  g_free (p);
}

/* The request leaves the manager: the fetcher takes over. */
static void
pending_remove (Pending * p)
{
  MeshPeerManager *m = p->manager;

  m->pendings = g_list_remove (m->pendings, p);
  pending_free (p);
}

/* Counts why a request went to the CDN (NONE: not counted, stopping). */
static void
stats_count_cdn (MeshPeerManager * m, Pending * p, MeshScheduleReason reason)
{
  g_mutex_lock (&m->stats_lock);
  if (p->peer_failed)
    m->stats.cdn_peer_failed++;
  else if (reason == MESH_SCHEDULE_REASON_NO_TIME)
    m->stats.cdn_no_time++;
  else if (reason == MESH_SCHEDULE_REASON_NOBODY)
    m->stats.cdn_nobody++;
  g_mutex_unlock (&m->stats_lock);
}

static void
pending_go_to_cdn (Pending * p, const gchar * why, MeshScheduleReason reason)
{
  const MeshPeerSink *sink = p->sink;
  gpointer owner = p->owner;

  stats_count_cdn (p->manager, p, reason);
  GST_DEBUG_OBJECT (p->manager, "%s: CDN (%s), %" G_GUINT64_FORMAT
      " bytes from peers, %" G_GINT64_FORMAT " ms before the deadline",
      p->segment_id, why, p->received,
      (p->deadline - manager_now (p->manager)) / 1000);
  pending_remove (p);
  sink->use_cdn (owner);
}

static gboolean
on_pending_timer (gpointer data)
{
  Pending *p = data;

  g_clear_pointer (&p->timer, g_source_unref);
  pending_decide (p);
  return G_SOURCE_REMOVE;
}

static void
pending_set_timer (Pending * p, gint64 when)
{
  pending_clear_timer (p);
  p->timer = manager_timer_new (p->manager, when, on_pending_timer, p);
}

/* What the holder is told about our deadline: the time it has to deliver
 * the last byte, the safety margin kept for the CDN taken off; 0 = no
 * deadline. */
static guint32
pending_budget_ms (Pending * p, gint64 now)
{
  gint64 left;

  if (p->deadline == 0)
    return 0;
  left = p->deadline - MESH_SCHEDULE_SAFETY_US - now;
  return (guint32) CLAMP (left / 1000, 1, G_MAXUINT32);
}

static void
pending_request_from (Pending * p, Peer * peer)
{
  MeshPeerManager *m = p->manager;

  p->peer = peer;
  peer->requests++;
  p->request_id = ++m->next_request_id;
  p->started = p->last_progress = manager_now (m);
  GST_DEBUG_OBJECT (m, "%s: from peer %s%s", p->segment_id, peer->id,
      g_hash_table_contains (peer->has, &p->key) ? "" : " (still fetching)");
  /* its pace counts from its own first DATA (see handle_data()) */
  p->range_start = p->first_bytes = p->received;
  p->from_holder = g_hash_table_contains (peer->has, &p->key);
  peer_send (peer, mesh_wire_encode_request (p->request_id, p->key,
          p->range_start, 0, pending_budget_ms (p, p->started)));
  pending_set_timer (p, p->started + MESH_SCHEDULE_CHECK_US);
}

static guint64 pending_expected_size (Pending * p, Peer * holder);

/* A running peer transfer: is it still on time? Its size is what the
 * playlist or, for a whole file, the holder's announcement says: without
 * one, no pace could be judged and only a stall would end it. */
static void
pending_check_progress (Pending * p)
{
  guint64 size = pending_expected_size (p, p->peer);
  gboolean waiting = p->received == p->range_start;
  MeshTransferProgress progress = { manager_now (p->manager), p->deadline,
    p->started, p->last_progress, p->received - p->first_bytes,
    size > p->first_bytes ? size - p->first_bytes : size,
    waiting && p->from_holder, peer_throughput (p->peer),
    p->manager->cdn_throughput
  };

  /* A holder serves requests one after another: ours waits its turn with
   * no byte yet. A complete holder took it knowing its queue (else BUSY);
   * a relay may wait for its own source, and does not stall while the
   * link delivers others of ours. Its pace is what came after its first
   * DATA. */
  if (waiting)
    progress.last_progress = MAX (p->last_progress, p->peer->last_data);

  if (p->deadline > 0 && progress.now >= p->deadline) {
    /* whatever its size: a segment of unknown size is never judged late */
    peer_send (p->peer, mesh_wire_encode_cancel (p->request_id));
    pending_abandon_peer (p, "deadline passed");
    return;
  }
  if (mesh_schedule_should_abandon (&progress)) {
    gint64 elapsed = p->last_progress - p->started;

    /* the pace it showed, so that it is not tried again as if unknown (a
     * relay's pace is its source's, not its own) */
    if (p->from_holder && progress.received > 0
        && elapsed >= MESH_SCHEDULE_JUDGE_PACE_US)
      peer_note_throughput (p->peer, MAX (1, progress.received *
              G_USEC_PER_SEC / elapsed));
    peer_send (p->peer, mesh_wire_encode_cancel (p->request_id));
    peer_forget_segment (p->peer, p->key);
    pending_abandon_peer (p, "peer too slow");
    return;
  }
  pending_set_timer (p, progress.now + MESH_SCHEDULE_CHECK_US);
}

/* What the segment will weigh: the playlist's byte range, else what its
 * holder announced, else the average of the segments seen so far. */
static guint64
pending_expected_size (Pending * p, Peer * holder)
{
  gpointer announced;

  if (p->size > 0)
    return p->size;
  if (holder && (announced = g_hash_table_lookup (holder->has, &p->key)))
    return GPOINTER_TO_UINT (announced);
  return p->manager->typical_size;
}

static void
pending_decide (Pending * p)
{
  MeshPeerManager *m = p->manager;
  Peer *holder;
  MeshScheduleInput in = { 0, };
  MeshScheduleDecision decision;
  gint64 retry_at;

  if (p->peer) {
    pending_check_progress (p);
    return;
  }
  if (m->stopped) {
    pending_go_to_cdn (p, "stopped", MESH_SCHEDULE_REASON_NONE);
    return;
  }

  holder = find_holder (m, p->key, &retry_at);
  in.now = manager_now (m);
  in.deadline = p->deadline;
  in.size = pending_expected_size (p, holder);
  if (in.size > p->received)
    in.size -= p->received;
  in.n_peers = count_uploading_peers (m);
  in.n_connecting = count_connecting_peers (m);
  in.peer_has_it = holder != NULL;
  in.peer_throughput = holder ? peer_throughput (holder) : 0;
  /* a holder that was busy will have room, or deliver to someone */
  in.peer_fetching_it = someone_fetches (m, p->key) || retry_at > 0;
  in.cdn_throughput = m->cdn_throughput;
  in.waiting_since = p->arrived;
  in.random = p->random;
  decision = mesh_schedule_decide (&in);

  switch (decision.action) {
    case MESH_SCHEDULE_PEER:
      pending_request_from (p, holder);
      break;
    case MESH_SCHEDULE_WAIT:
      if (p->received > 0) {
        /* a part is here: no waiting on a chance for the rest */
        pending_go_to_cdn (p, "rest", MESH_SCHEDULE_REASON_NONE);
        break;
      }
      /* a holder that was busy may have room by then */
      if (retry_at > 0)
        decision.wait_until = MIN (decision.wait_until, retry_at);
      GST_LOG_OBJECT (m, "%s: waiting %" G_GINT64_FORMAT " ms", p->segment_id,
          (decision.wait_until - in.now) / 1000);
      pending_set_timer (p, decision.wait_until);
      break;
    case MESH_SCHEDULE_CDN:
      pending_go_to_cdn (p, decision.reason == MESH_SCHEDULE_REASON_NO_TIME ?
          "no time for the peer" : "nobody has it", decision.reason);
      break;
  }
}

/* The peer failed us: the choice is made anew for what is left (another
 * peer from where this one stopped, or the CDN resuming there). */
static void
pending_abandon_peer (Pending * p, const gchar * why)
{
  GST_INFO_OBJECT (p->manager, "%s: peer %s failed (%s) after %"
      G_GUINT64_FORMAT " bytes", p->segment_id, p->peer->id, why, p->received);
  p->peer->requests--;
  p->peer = NULL;
  p->peer_failed = TRUE;
  pending_clear_timer (p);
  pending_decide (p);
}

static Pending *
find_pending_by_request (MeshPeerManager * m, Peer * peer, guint32 request_id)
{
  GList *l;

  for (l = m->pendings; l; l = l->next) {
    Pending *p = l->data;
    if (p->peer == peer && p->request_id == request_id)
      return p;
  }
  return NULL;
}

/* The most bytes a peer may send us of @p: the size the playlist gave,
 * else the size its holder announced, never more than the hard cap. */
static guint64
pending_size_bound (Pending * p)
{
  gpointer announced;

  if (p->size > 0)
    return MIN (p->size, MAX_SEGMENT_BYTES);
  if (p->peer && (announced = g_hash_table_lookup (p->peer->has, &p->key)))
    return MIN (GPOINTER_TO_UINT (announced), MAX_SEGMENT_BYTES);
  return MAX_SEGMENT_BYTES;
}

static void
handle_data (Peer * peer, guint32 request_id, guint64 offset, GBytes * bytes)
{
  Pending *p = find_pending_by_request (peer->manager, peer, request_id);

  if (!p)
    return;                     /* cancelled meanwhile */
  if (offset != p->received
      || p->received + g_bytes_get_size (bytes) > pending_size_bound (p)) {
    mesh_peer_connection_close (peer->conn, MESH_WIRE_CLOSE_PROTOCOL,
        "DATA out of order or beyond the segment");
    return;
  }
  /* its pace counts from its first DATA on: before, it waited its turn at
   * the holder, which serves one request after another */
  if (p->received == p->range_start) {
    p->started = manager_now (peer->manager);
    p->first_bytes = p->received + g_bytes_get_size (bytes);
    if (p->received == 0 && peer->manager->upload
        && peer->manager->relay_unverified)
      growing_start (peer->manager, p->key);
  }
  p->received += g_bytes_get_size (bytes);
  p->last_progress = peer->last_data = manager_now (peer->manager);
  p->sink->deliver (p->owner, bytes, peer->id);
  growing_append (peer->manager, p->key, bytes);
}

static void
handle_end (Peer * peer, guint32 request_id, guint64 total)
{
  Pending *p = find_pending_by_request (peer->manager, peer, request_id);
  const MeshPeerSink *sink;
  gpointer owner;
  gint64 elapsed;

  if (!p)
    return;
  if (total != p->received - p->range_start) {
    peer_forget_segment (peer, p->key);
    pending_abandon_peer (p, "END does not match the data");
    return;
  }
  elapsed = MAX (manager_now (peer->manager) - p->started, 1000);
  if (p->from_holder && p->received > p->first_bytes)
    peer_note_throughput (peer, (p->received - p->first_bytes) *
        G_USEC_PER_SEC / elapsed);
  sink = p->sink;
  owner = p->owner;
  g_mutex_lock (&peer->manager->stats_lock);
  peer->manager->stats.from_peers++;
  g_mutex_unlock (&peer->manager->stats_lock);
  pending_remove (p);
  sink->complete (owner);
}

static gboolean
refusal_expired (gpointer key, gpointer value, gpointer clock)
{
  return *(gint64 *) value <= mesh_peer_clock_now (clock);
}

/* @peer answered BUSY for @key: it still holds it, and is asked again
 * when it may have room. The table holds only refusals still running, at
 * most one per request of ours. */
static void
peer_note_refusal (Peer * peer, guint64 key)
{
  gint64 *until = g_new (gint64, 1);

  g_hash_table_foreach_remove (peer->refused, refusal_expired,
      &peer->manager->clock);
  *until = manager_now (peer->manager) + BUSY_RETRY_US;
  g_hash_table_insert (peer->refused, g_memdup2 (&key, sizeof (guint64)),
      until);
}

static void
handle_absent (Peer * peer, guint32 request_id, MeshWireAbsentReason reason)
{
  Pending *p = find_pending_by_request (peer->manager, peer, request_id);

  if (!p)
    return;
  if (reason == MESH_WIRE_ABSENT_BUSY && p->received == p->range_start) {
    peer_note_refusal (peer, p->key);
    pending_abandon_peer (p, "busy");
    return;
  }
  peer_forget_segment (peer, p->key);
  pending_abandon_peer (p, "absent");
}

void
mesh_peer_manager_request (MeshPeerManager * m, const gchar * segment_id,
    guint64 size, gint64 deadline, const MeshPeerSink * sink, gpointer owner)
{
  Pending *p = g_new0 (Pending, 1);

  p->manager = m;
  p->segment_id = g_strdup (segment_id);
  p->key = mesh_wire_segment_key (segment_id);
  p->size = size;
  p->deadline = deadline;
  p->sink = sink;
  p->owner = owner;
  p->arrived = manager_now (m);
  p->random = g_rand_int (m->rand);
  g_mutex_lock (&m->stats_lock);
  m->stats.requests++;
  m->stats.slack[mesh_peer_stats_slack_bucket (deadline == 0 ? 0 :
          deadline - p->arrived)]++;
  g_mutex_unlock (&m->stats_lock);
  m->pendings = g_list_prepend (m->pendings, p);
  GST_DEBUG_OBJECT (m, "%s: asked, %" G_GINT64_FORMAT " ms before the "
      "deadline", segment_id, deadline == 0 ? 0 : (deadline - p->arrived) /
      1000);
  pending_decide (p);
}

void
mesh_peer_manager_cancel (MeshPeerManager * m, gpointer owner)
{
  GList *l;

  for (l = m->pendings; l; l = l->next) {
    Pending *p = l->data;

    if (p->owner != owner)
      continue;
    if (p->peer)
      peer_send (p->peer, mesh_wire_encode_cancel (p->request_id));
    pending_remove (p);
    return;
  }
}

/* ------------------------------------------------------------------------ */
/* Announcements */

static void uploads_adopt_segment (MeshPeerManager * m, guint64 key,
    GBytes * segment);
static void uploads_lose_segment (MeshPeerManager * m, guint64 key);

/* We start receiving @key (from the CDN or a peer): peers learn that they
 * can ask us for it now (FETCHING), and get its bytes as they come. */
static void
growing_start (MeshPeerManager * m, guint64 key)
{
  if (m->stopped || g_hash_table_contains (m->growing, &key)
      || mesh_segment_cache_contains (m->cache, key))
    return;
  g_hash_table_insert (m->growing, g_memdup2 (&key, sizeof (key)),
      g_byte_array_new ());
  broadcast (m, mesh_wire_encode_fetching (&key, 1));
}

static void
growing_append (MeshPeerManager * m, guint64 key, GBytes * bytes)
{
  GByteArray *growing = g_hash_table_lookup (m->growing, &key);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  if (!growing)
    return;
  g_byte_array_append (growing, data, len);
  uploads_pump_at (m, manager_now (m));
}

void
mesh_peer_manager_cdn_started (MeshPeerManager * m, const gchar * segment_id)
{
  growing_start (m, mesh_wire_segment_key (segment_id));
}

void
mesh_peer_manager_cdn_progress (MeshPeerManager * m, const gchar * segment_id,
    GBytes * bytes)
{
  growing_append (m, mesh_wire_segment_key (segment_id), bytes);
}

void
mesh_peer_manager_segment_abandoned (MeshPeerManager * m,
    const gchar * segment_id)
{
  guint64 key = mesh_wire_segment_key (segment_id);

  if (!g_hash_table_remove (m->growing, &key))
    return;
  uploads_lose_segment (m, key);
  if (!mesh_segment_cache_contains (m->cache, key))
    broadcast (m, mesh_wire_encode_lost (&key, 1));
}

void
mesh_peer_manager_segment_rejected (MeshPeerManager * m,
    const gchar * segment_id)
{
  g_mutex_lock (&m->stats_lock);
  m->stats.rejected++;
  g_mutex_unlock (&m->stats_lock);
  mesh_peer_manager_segment_abandoned (m, segment_id);
}

void
mesh_peer_manager_segment_complete (MeshPeerManager * m,
    const gchar * segment_id, GBytes * segment)
{
  g_autoptr (GArray) evicted = g_array_new (FALSE, FALSE, sizeof (guint64));
  MeshWireHaveEntry entry;

  entry.key = mesh_wire_segment_key (segment_id);
  entry.size = g_bytes_get_size (segment);
  m->typical_size = m->typical_size == 0 ? entry.size :
      (m->typical_size * 3 + entry.size) / 4;
  if (g_hash_table_remove (m->growing, &entry.key))
    uploads_adopt_segment (m, entry.key, segment);
  if (mesh_segment_cache_contains (m->cache, entry.key))
    return;
  mesh_segment_cache_put (m->cache, entry.key, segment, evicted);
  g_mutex_lock (&m->stats_lock);
  m->stats.cache_bytes = mesh_segment_cache_get_bytes (m->cache);
  g_mutex_unlock (&m->stats_lock);
  if (evicted->len > 0)
    broadcast (m, mesh_wire_encode_lost ((guint64 *) evicted->data,
            evicted->len));
  if (mesh_segment_cache_contains (m->cache, entry.key))
    broadcast (m, mesh_wire_encode_have (&entry, 1));
}

void
mesh_peer_manager_note_cdn_throughput (MeshPeerManager * m,
    guint64 bytes_per_second)
{
  /* a slow average: the CDN estimate only decides how early it must start */
  m->cdn_throughput = m->cdn_throughput == 0 ? bytes_per_second :
      (m->cdn_throughput * 3 + bytes_per_second) / 4;
}

gboolean
mesh_peer_manager_accept_segment (MeshPeerManager * m,
    const gchar * segment_id, GBytes * segment, guint64 expected_size,
    GError ** error)
{
  /* Integrity checks (hashes published with the manifest or by the
   * tracker) go here. Until then: the size the playlist gave, if any. */
  if (expected_size > 0 && g_bytes_get_size (segment) != expected_size) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s: %" G_GSIZE_FORMAT " bytes from peers, %" G_GUINT64_FORMAT
        " expected", segment_id, g_bytes_get_size (segment), expected_size);
    return FALSE;
  }
  if (g_bytes_get_size (segment) == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s: empty segment from peers", segment_id);
    return FALSE;
  }
  return TRUE;
}

static void
handle_have (Peer * peer, const MeshWireHaveEntry * entries, guint n)
{
  guint i;

  if (g_hash_table_size (peer->has) + n > MAX_PEER_HAVE) {
    mesh_peer_connection_close (peer->conn, MESH_WIRE_CLOSE_PROTOCOL,
        "more HAVE than any cache holds");
    return;
  }
  for (i = 0; i < n; i++) {
    g_hash_table_insert (peer->has, g_memdup2 (&entries[i].key,
            sizeof (guint64)), GUINT_TO_POINTER (entries[i].size));
    g_hash_table_remove (peer->fetching, &entries[i].key);
  }
  for (i = 0; i < n; i++)
    pendings_reconsider (peer->manager, entries[i].key);
}

static void
handle_lost (Peer * peer, const guint64 * keys, guint n)
{
  guint i;

  for (i = 0; i < n; i++) {
    g_hash_table_remove (peer->has, &keys[i]);
    g_hash_table_remove (peer->fetching, &keys[i]);
  }
}

static void
handle_fetching (Peer * peer, const guint64 * keys, guint n)
{
  guint i;

  if (g_hash_table_size (peer->fetching) + n > MAX_PEER_FETCHING) {
    mesh_peer_connection_close (peer->conn, MESH_WIRE_CLOSE_PROTOCOL,
        "more FETCHING than any viewer downloads");
    return;
  }
  for (i = 0; i < n; i++)
    g_hash_table_insert (peer->fetching, g_memdup2 (&keys[i],
            sizeof (guint64)),
        GUINT_TO_POINTER (++peer->manager->announcements));
  for (i = 0; i < n; i++)
    pendings_reconsider (peer->manager, keys[i]);
}

/* ------------------------------------------------------------------------ */
/* Uploads */

static void
upload_free (Upload * upload)
{
  if (upload->seq > 0)
    upload->peer->uploads--;
  g_clear_pointer (&upload->data, g_bytes_unref);
  g_free (upload);
}

/* Sends what ends @upload without END (taken from the queue by the
 * caller). */
static void
upload_refuse (Upload * upload, MeshWireAbsentReason reason)
{
  peer_send (upload->peer, mesh_wire_encode_absent (upload->request_id,
          reason));
  upload_free (upload);
}

/* Bytes of @upload that could go out now. */
static gsize
upload_available (MeshPeerManager * m, Upload * upload)
{
  GByteArray *growing;
  guint64 end;

  if (upload->data)
    return g_bytes_get_size (upload->data) - upload->sent;
  growing = g_hash_table_lookup (m->growing, &upload->key);
  if (!growing || growing->len <= upload->offset + upload->sent)
    return 0;
  end = growing->len;
  if (upload->length > 0)
    end = MIN (end, upload->offset + upload->length);
  return end > upload->offset + upload->sent ?
      end - upload->offset - upload->sent : 0;
}

/* Bytes of @upload still to send (a guess while it grows). */
static guint64
upload_remaining (MeshPeerManager * m, Upload * upload)
{
  guint64 size;

  if (upload->data)
    return g_bytes_get_size (upload->data) - upload->sent;
  size = upload->length > 0 ? upload->length : m->typical_size;
  return size > upload->sent ? size - upload->sent : 0;
}

/* Earliest deadline first (no deadline: last), then arrival order. */
static gboolean
upload_precedes (const Upload * a, const Upload * b)
{
  if (a->deadline != b->deadline) {
    if (a->deadline == 0 || b->deadline == 0)
      return b->deadline == 0;
    return a->deadline < b->deadline;
  }
  return a->seq < b->seq;
}

/* What our uplink carries, bytes/s: its measured pace, never above
 * max-upload-rate; 0 = not known yet. */
static guint64
upload_pace (MeshPeerManager * m)
{
  guint64 pace = m->upload_pace;

  if (m->max_upload_rate > 0)
    pace = pace > 0 ? MIN (pace, m->max_upload_rate) : m->max_upload_rate;
  return pace;
}

/* What waits in the links' send queues, handed over but not gone. */
static guint64
links_queued_bytes (MeshPeerManager * m)
{
  GHashTableIter iter;
  Peer *peer;
  guint64 queued = 0;

  g_hash_table_iter_init (&iter, m->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & peer))
    if (peer->ready)
      queued += mesh_peer_connection_get_send_queue_size (peer->conn);
  return queued;
}

/* How long @bytes take our uplink at @pace, with a quarter to spare (the
 * pace is an estimate). */
static gint64
uplink_time (guint64 bytes, guint64 pace)
{
  return (gint64) (bytes * G_USEC_PER_SEC / pace) * 5 / 4;
}

/* When @extra bytes and, before them, what the links hold and the uploads
 * due before @probe would have left our uplink. */
static gint64
upload_finish_time (MeshPeerManager * m, const Upload * probe, guint64 queued,
    guint64 extra, guint64 pace)
{
  guint64 ahead = queued + extra;
  GList *l;

  for (l = m->uploads.head; l; l = l->next)
    if (l->data != probe && upload_precedes (l->data, probe))
      ahead += upload_remaining (m, l->data);
  return manager_now (m) + uplink_time (ahead, pace);
}

/* Whether @bytes more due by @deadline can be taken: served earliest
 * deadline first, they must leave by @deadline, and must not make late an
 * upload due later that would have been on time (it would be overtaken,
 * then abandoned half-way by its requester: both uplink and time lost). An
 * unknown pace says yes: the requester's own progress check catches a slow
 * uplink. */
static gboolean
upload_in_time (MeshPeerManager * m, guint64 bytes, gint64 deadline)
{
  guint64 pace = upload_pace (m), queued;
  Upload probe = {.deadline = deadline,.seq = G_MAXUINT64 };
  gint64 extra_time;
  GList *l;

  if (deadline == 0 || pace == 0)
    return TRUE;
  queued = links_queued_bytes (m);
  /* an idle uplink takes it: it can do no better for anyone */
  if (g_queue_is_empty (&m->uploads) && queued < MESH_PEER_CONNECTION_LOW_WATER)
    return TRUE;
  GST_LOG_OBJECT (m, "%" G_GUINT64_FORMAT " bytes queued at %"
      G_GUINT64_FORMAT " B/s, %" G_GINT64_FORMAT " ms left", queued, pace,
      (deadline - manager_now (m)) / 1000);
  if (upload_finish_time (m, &probe, queued, bytes, pace) > deadline)
    return FALSE;
  extra_time = uplink_time (bytes, pace);
  for (l = m->uploads.head; l; l = l->next) {
    Upload *later = l->data;
    gint64 finish;

    if (later->deadline == 0 || !upload_precedes (&probe, later))
      continue;
    finish = upload_finish_time (m, later, queued, upload_remaining (m,
            later), pace);
    if (finish <= later->deadline && finish + extra_time > later->deadline)
      return FALSE;
  }
  return TRUE;
}

static void
uploads_drop_peer (MeshPeerManager * m, Peer * peer)
{
  GList *l, *next;

  for (l = m->uploads.head; l; l = next) {
    Upload *upload = l->data;

    next = l->next;
    if (upload->peer == peer) {
      g_queue_delete_link (&m->uploads, l);
      upload_free (upload);
    }
  }
  uploads_pump (m);
}

static void
uploads_cancel (MeshPeerManager * m, Peer * peer, guint32 request_id)
{
  GList *l;

  for (l = m->uploads.head; l; l = l->next) {
    Upload *upload = l->data;

    if (upload->peer == peer && upload->request_id == request_id) {
      g_queue_delete_link (&m->uploads, l);
      upload_free (upload);
      /* the next request takes its turn */
      uploads_pump (m);
      return;
    }
  }
}

/* The CDN download that uploads of @key served from is complete: they go
 * on from the whole. */
static void
uploads_adopt_segment (MeshPeerManager * m, guint64 key, GBytes * segment)
{
  gsize size = g_bytes_get_size (segment);
  GList *l, *next;

  for (l = m->uploads.head; l; l = next) {
    Upload *upload = l->data;
    guint64 length;

    next = l->next;
    if (upload->data || upload->key != key)
      continue;
    if (upload->offset >= size) {
      g_queue_delete_link (&m->uploads, l);
      upload_refuse (upload, MESH_WIRE_ABSENT_BAD_RANGE);
      continue;
    }
    length = size - upload->offset;
    if (upload->length > 0)
      length = MIN (length, upload->length);
    upload->data = g_bytes_new_from_bytes (segment, upload->offset, length);
    upload->length = length;
  }
  uploads_pump_at (m, manager_now (m));
}

/* The CDN download of @key failed: what was served of it stays with its
 * requesters (the CDN gives them the rest); ABSENT tells them. */
static void
uploads_lose_segment (MeshPeerManager * m, guint64 key)
{
  GList *l, *next;

  for (l = m->uploads.head; l; l = next) {
    Upload *upload = l->data;

    next = l->next;
    if (upload->data || upload->key != key)
      continue;
    g_queue_delete_link (&m->uploads, l);
    upload_refuse (upload, MESH_WIRE_ABSENT_NOT_HELD);
  }
  uploads_pump_at (m, manager_now (m));
}

/* Where @upload's bytes come from: the cached segment, else the CDN
 * download in progress; FALSE (ABSENT @reason) when we cannot serve it. */
static gboolean
upload_find_source (MeshPeerManager * m, Upload * upload,
    MeshWireAbsentReason * reason)
{
  g_autoptr (GBytes) segment = mesh_segment_cache_get (m->cache, upload->key);
  gsize size;

  *reason = MESH_WIRE_ABSENT_NOT_HELD;
  if (!segment)
    return g_hash_table_contains (m->growing, &upload->key);
  size = g_bytes_get_size (segment);
  if (upload->offset >= size) {
    *reason = MESH_WIRE_ABSENT_BAD_RANGE;
    return FALSE;
  }
  if (upload->length == 0 || upload->length > size - upload->offset)
    upload->length = size - upload->offset;
  upload->data = g_bytes_new_from_bytes (segment, upload->offset,
      upload->length);
  return TRUE;
}

static void
handle_request (Peer * peer, const MeshWireFrame * frame)
{
  MeshPeerManager *m = peer->manager;
  Upload *upload;
  MeshWireAbsentReason reason;

  upload = g_new0 (Upload, 1);
  upload->peer = peer;
  upload->request_id = frame->request.request_id;
  upload->key = frame->request.key;
  upload->offset = frame->request.offset;
  upload->length = frame->request.length;
  if (frame->request.budget_ms > 0)
    upload->deadline = manager_now (m) +
        frame->request.budget_ms * G_TIME_SPAN_MILLISECOND;

  if (!m->upload) {
    upload_refuse (upload, MESH_WIRE_ABSENT_UPLOAD_DISABLED);
    return;
  }
  if (token_taken (&peer->request_bucket, manager_now (m)))
    peer->requests_too_fast = 0;
  else if (++peer->requests_too_fast > PEER_REQUEST_FLOOD) {
    upload_free (upload);
    mesh_peer_connection_close (peer->conn, MESH_WIRE_CLOSE_PROTOCOL,
        "requests far beyond any viewer's rate");
    return;
  }
  if (peer->requests_too_fast > 0 || peer->uploads >= MAX_UPLOADS_PER_PEER) {
    GST_DEBUG_OBJECT (m, "peer %s: request %u refused (%u of its requests "
        "served, or asking too fast)", peer->id, upload->request_id,
        peer->uploads);
    upload_refuse (upload, MESH_WIRE_ABSENT_BUSY);
    return;
  }
  if (!upload_find_source (m, upload, &reason)) {
    upload_refuse (upload, reason);
    return;
  }
  if (m->uploads.length >= MAX_UPLOADS
      || !upload_in_time (m, upload_remaining (m, upload), upload->deadline)) {
    GST_DEBUG_OBJECT (m, "peer %s: busy, request %u refused (uplink %"
        G_GUINT64_FORMAT " B/s, %u uploads)", peer->id, upload->request_id,
        upload_pace (m), m->uploads.length);
    upload_refuse (upload, MESH_WIRE_ABSENT_BUSY);
    return;
  }
  upload->seq = ++m->next_upload_seq;
  peer->uploads++;
  g_queue_push_tail (&m->uploads, upload);
  uploads_pump (m);
}

static gboolean
on_pump_timer (gpointer data)
{
  MeshPeerManager *m = data;

  g_clear_pointer (&m->pump_timer, g_source_unref);
  uploads_drop_stalled (m);
  uploads_pump (m);
  return G_SOURCE_REMOVE;
}

/* Runs the pump from the main loop at @when at the latest: when upload
 * tokens are due, or at once after a call of the fetcher's (CDN bytes, a
 * segment complete or abandoned), never inside it: what the pump sends may
 * close a link, and that must not end the fetcher's transfers under its
 * feet. */
static void
uploads_pump_at (MeshPeerManager * m, gint64 when)
{
  if (m->stopped)
    return;
  if (!m->pump_timer) {
    m->pump_timer = manager_timer_new (m, when, on_pump_timer, m);
  } else if (when < m->pump_when) {
    mesh_peer_clock_source_set (m->pump_timer, when);
  } else {
    return;
  }
  m->pump_when = when;
}

/* max-upload-rate: a token bucket one second deep over all uploads (see
 * mesh-token-bucket.h: a 64 KiB frame goes out whenever the bucket is not
 * empty, so that rates below a frame per second still send). TRUE when a
 * frame may go now; else a timer brings the pump back. */
static gboolean
upload_rate_allows (MeshPeerManager * m)
{
  gint64 now = manager_now (m);
  gint64 delay = mesh_token_bucket_delay (&m->upload_bucket, now);

  if (delay == 0)
    return TRUE;
  uploads_pump_at (m, now + delay);
  return FALSE;
}

static GBytes *
upload_next_chunk (MeshPeerManager * m, Upload * upload, gsize len)
{
  GByteArray *growing;

  if (upload->data)
    return g_bytes_new_from_bytes (upload->data, upload->sent, len);
  growing = g_hash_table_lookup (m->growing, &upload->key);
  return g_bytes_new (growing->data + upload->offset + upload->sent, len);
}

static void
upload_send_end (Upload * upload)
{
  peer_send (upload->peer, mesh_wire_encode_end (upload->request_id,
          upload->length));
}

/* Sends one DATA frame of @upload; TRUE when the upload is over. */
static gboolean
upload_send_chunk (MeshPeerManager * m, Upload * upload, gsize len)
{
  g_autoptr (GBytes) chunk = upload_next_chunk (m, upload, len);
  gint64 now = manager_now (m);

  peer_send (upload->peer, mesh_wire_encode_data (upload->request_id,
          upload->offset + upload->sent, chunk));
  upload->sent += len;
  __atomic_fetch_add (&m->bytes_uploaded, len, __ATOMIC_RELAXED);
  mesh_token_bucket_consume (&m->upload_bucket, len, now);
  if (!upload->data || upload->sent < g_bytes_get_size (upload->data))
    return FALSE;
  upload_send_end (upload);
  return TRUE;
}

/* Whether another request goes first: requests are served one after
 * another, earliest deadline first, so that the most urgent gets the whole
 * uplink and its requester sees the pace the link really has. One that
 * waits for the CDN to bring more bytes does not hold the turn. */
static gboolean
upload_waits_its_turn (MeshPeerManager * m, Upload * upload)
{
  GList *l;

  /* the previous one is out when its link's queue is (nearly) empty: its
   * "writable" brings us back */
  if (m->last_upload_peer && m->last_upload_peer != upload->peer
      && mesh_peer_connection_get_send_queue_size (m->last_upload_peer->conn)
      >= MESH_PEER_CONNECTION_LOW_WATER)
    return TRUE;

  for (l = m->uploads.head; l; l = l->next) {
    Upload *other = l->data;

    if (other != upload && upload_precedes (other, upload)
        && upload_available (m, other) > 0)
      return TRUE;
  }
  return FALSE;
}

/* Our uplink's pace is what left the links' send queues while they were
 * kept filled: a window opens when a run of the pump leaves them at or
 * above their low water mark, and closes into a sample when a link's queue
 * falls below it ("writable"), unless a run of the pump in between left
 * them below it (they may have run dry). What was merely handed to a link
 * says nothing of the pace (it takes a queue's worth at once), and an idle
 * uplink, or one starved by a segment still arriving, is not slow. */
static guint64
upload_departed (MeshPeerManager * m, guint64 queued)
{
  guint64 uploaded = mesh_peer_manager_get_bytes_uploaded (m);

  return uploaded > queued ? uploaded - queued : 0;
}

static void
upload_pace_after_pump (MeshPeerManager * m)
{
  guint64 queued = links_queued_bytes (m);

  if (queued < MESH_PEER_CONNECTION_LOW_WATER) {
    m->pace_since = 0;
  } else if (m->pace_since == 0) {
    m->pace_since = manager_now (m);
    m->pace_departed = upload_departed (m, queued);
  }
}

static void
upload_pace_on_drain (MeshPeerManager * m)
{
  guint64 departed = upload_departed (m, links_queued_bytes (m));
  gint64 now = manager_now (m);
  guint64 sample;

  if (m->pace_since == 0 || now - m->pace_since < UPLOAD_PACE_WINDOW_US
      || departed < m->pace_departed)
    return;
  sample = (departed - m->pace_departed) * G_USEC_PER_SEC /
      (guint64) (now - m->pace_since);
  m->upload_pace = m->upload_pace == 0 ? sample : (m->upload_pace + sample) / 2;
  m->pace_since = 0;
}

/* When @peer's link, which we fill, counts as not reading: it held at
 * least the low water mark since `last_drain`; 0 = it does not hold us up
 * (no upload of ours waits on it). */
static gint64
peer_stall_time (MeshPeerManager * m, Peer * peer)
{
  if ((peer->uploads == 0 && peer != m->last_upload_peer)
      || mesh_peer_connection_get_send_queue_size (peer->conn) <
      MESH_PEER_CONNECTION_LOW_WATER)
    return 0;
  return peer->last_drain + UPLOAD_STALL_US;
}

/* The pump runs when @peer could be found not reading. */
static void
watch_for_stall (MeshPeerManager * m, Peer * peer)
{
  gint64 when = peer_stall_time (m, peer);

  if (when > 0)
    uploads_pump_at (m, when);
}

/* Closes the links of peers that stopped reading what we upload (which
 * drops their uploads; every other upload waits behind the one in their
 * queue), and checks again when the next one could be found stalled. */
static void
uploads_drop_stalled (MeshPeerManager * m)
{
  gint64 now = manager_now (m), next = G_MAXINT64, when;
  g_autoptr (GPtrArray) stalled = g_ptr_array_new_with_free_func
      (g_object_unref);
  GHashTableIter iter;
  Peer *peer;
  guint i;

  g_hash_table_iter_init (&iter, m->peers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & peer)) {
    if (!peer->ready || (when = peer_stall_time (m, peer)) == 0)
      continue;
    if (when <= now)
      g_ptr_array_add (stalled, g_object_ref (peer->conn));
    else
      next = MIN (next, when);
  }
  for (i = 0; i < stalled->len; i++)
    mesh_peer_connection_close (stalled->pdata[i], MESH_WIRE_CLOSE_TIMEOUT,
        "our uploads to it stalled: it does not read");
  if (next < G_MAXINT64)
    uploads_pump_at (m, next);
}

/* Serves the uploads in turn, a chunk each, while the links take data and
 * the rate allows. */
static void
uploads_pump (MeshPeerManager * m)
{
  guint stalled = 0;

  while (!g_queue_is_empty (&m->uploads) && stalled < m->uploads.length) {
    Upload *upload = g_queue_pop_head (&m->uploads);
    gsize len = MIN (MESH_WIRE_MAX_CHUNK, upload_available (m, upload));

    if (len == 0 && upload->data) {
      /* it was all sent while the segment still grew */
      upload_send_end (upload);
      upload_free (upload);
      continue;
    }
    if (len == 0 || upload_waits_its_turn (m, upload)
        || mesh_peer_connection_get_send_queue_size (upload->peer->conn) >
        UPLOAD_QUEUE_HIGH) {
      /* nothing to send yet, or this link is full: more bytes from the
       * CDN or "writable" bring us back, or the stall check */
      if (len > 0)
        watch_for_stall (m, upload->peer);
      g_queue_push_tail (&m->uploads, upload);
      stalled++;
      continue;
    }
    if (!upload_rate_allows (m)) {
      g_queue_push_head (&m->uploads, upload);
      break;
    }
    stalled = 0;
    m->last_upload_peer = upload->peer;
    if (mesh_peer_connection_get_send_queue_size (upload->peer->conn) <
        MESH_PEER_CONNECTION_LOW_WATER)
      upload->peer->last_drain = manager_now (m);
    if (upload_send_chunk (m, upload, len))
      upload_free (upload);
    else
      g_queue_push_tail (&m->uploads, upload);
  }
  upload_pace_after_pump (m);
  /* the next uploads wait for its queue to drain */
  if (m->last_upload_peer)
    watch_for_stall (m, m->last_upload_peer);
}

/* ------------------------------------------------------------------------ */
/* Frames */

static void
handle_frame (Peer * peer, const MeshWireFrame * frame)
{
  switch (frame->type) {
    case MESH_WIRE_TYPE_HAVE:
      handle_have (peer, frame->have.entries, frame->have.n_entries);
      break;
    case MESH_WIRE_TYPE_FETCHING:
      handle_fetching (peer, frame->keys.keys, frame->keys.n_keys);
      break;
    case MESH_WIRE_TYPE_LOST:
      handle_lost (peer, frame->keys.keys, frame->keys.n_keys);
      break;
    case MESH_WIRE_TYPE_REQUEST:
      handle_request (peer, frame);
      break;
    case MESH_WIRE_TYPE_DATA:
      handle_data (peer, frame->data.request_id, frame->data.offset,
          frame->data.bytes);
      break;
    case MESH_WIRE_TYPE_END:
      handle_end (peer, frame->end.request_id, frame->end.total_size);
      break;
    case MESH_WIRE_TYPE_CANCEL:
      uploads_cancel (peer->manager, peer, frame->cancel.request_id);
      break;
    case MESH_WIRE_TYPE_ABSENT:
      handle_absent (peer, frame->absent.request_id, frame->absent.reason);
      break;
    default:
      GST_DEBUG_OBJECT (peer->manager, "peer %s: ignoring %s", peer->id,
          mesh_wire_type_name (frame->type));
      break;
  }
}

/* ------------------------------------------------------------------------ */
/* Life cycle */

/* The connection side: the transport, the clock, the settings the
 * connections get, the upload limit. */
static void
manager_set_up_transport (MeshPeerManager * m, MeshPeerTransport * transport,
    const MeshPeerClock * clock, const MeshPeerConfig * config)
{
  m->transport = g_object_ref (transport);
  if (clock)
    m->clock = *clock;
  m->upload = config->upload;
  m->max_upload_rate = config->max_upload_rate;
  m->congestion_control = config->congestion_control;
  m->candidate_policy = config->candidate_policy;
  m->relay_unverified = config->integrity == MESH_INTEGRITY_NONE;
  mesh_token_bucket_init (&m->inbound_calls, INBOUND_CALL_RATE,
      INBOUND_CALL_BURST, manager_now (m));
  mesh_token_bucket_init (&m->upload_bucket, m->max_upload_rate, 0,
      manager_now (m));
  m->stun_server = g_strdup (config->stun_server);
  m->turn_server = g_strdup (config->turn_server);
  m->local_address = g_strdup (config->local_address);
}

MeshPeerManager *
mesh_peer_manager_new_with_signaller (MeshSignaller * signaller,
    MeshPeerTransport * transport, const MeshPeerClock * clock,
    const MeshPeerConfig * config)
{
  MeshPeerManager *m;

  g_return_val_if_fail (MESH_IS_SIGNALLER (signaller), NULL);
  g_return_val_if_fail (MESH_IS_PEER_TRANSPORT (transport), NULL);

  m = g_object_new (MESH_TYPE_PEER_MANAGER, NULL);
  m->context = g_main_context_ref_thread_default ();
  m->peer_id = random_peer_id (m->rand);
  m->swarm_id = g_strdup (config->swarm_id);
  m->max_peers = MAX (config->max_peers, 1);
  m->cache = mesh_segment_cache_new (config->cache_size);
  manager_set_up_transport (m, transport, clock, config);

  /* (the wall clock lines up the logs of several viewers) */
  GST_INFO_OBJECT (m, "peer %s joining swarm '%s' at %s over %"
      GST_PTR_FORMAT " (wall clock %" G_GINT64_FORMAT " us)", m->peer_id,
      m->swarm_id, config->tracker_url, transport, g_get_real_time ());
  signaller_join (m, signaller, config->token, config->network);
  m->refresh_timer = manager_timer_new (m,
      manager_now (m) + PEER_REFRESH_S * G_USEC_PER_SEC, on_refresh_timer, m);
  return m;
}

/* The default signaller: the WebSocket tracker at config->tracker_url. */
MeshPeerManager *
mesh_peer_manager_new (SoupSession * session, MeshPeerTransport * transport,
    const MeshPeerClock * clock, const MeshPeerConfig * config)
{
  g_autoptr (MeshTrackerClient) tracker =
      mesh_tracker_client_new_for_url (session, config->tracker_url);

  return mesh_peer_manager_new_with_signaller (MESH_SIGNALLER (tracker),
      transport, clock, config);
}

void
mesh_peer_manager_stop (MeshPeerManager * m)
{
  if (m->stopped)
    return;
  m->stopped = TRUE;

  /* what waits for peers goes to the CDN */
  while (m->pendings) {
    Pending *p = m->pendings->data;

    if (p->peer)
      peer_send (p->peer, mesh_wire_encode_cancel (p->request_id));
    pending_go_to_cdn (p, "stopping", MESH_SCHEDULE_REASON_NONE);
  }
  g_queue_clear_full (&m->uploads, (GDestroyNotify) upload_free);
  g_hash_table_remove_all (m->growing);
  clear_timer (&m->pump_timer);
  if (m->refresh_timer) {
    g_source_destroy (m->refresh_timer);
    g_clear_pointer (&m->refresh_timer, g_source_unref);
  }
  if (m->signaller) {
    g_signal_handlers_disconnect_by_data (m->signaller, m);
    mesh_signaller_leave (m->signaller);
  }
  m->last_upload_peer = NULL;
  g_hash_table_remove_all (m->peers);
  g_atomic_int_set (&m->n_peers, 0);
}

guint64
mesh_peer_manager_get_bytes_uploaded (MeshPeerManager * m)
{
  return __atomic_load_n (&m->bytes_uploaded, __ATOMIC_RELAXED);
}

guint
mesh_peer_manager_get_n_peers (MeshPeerManager * m)
{
  return g_atomic_int_get (&m->n_peers);
}

void
mesh_peer_manager_get_stats (MeshPeerManager * m, MeshPeerStats * stats)
{
  g_mutex_lock (&m->stats_lock);
  *stats = m->stats;
  g_mutex_unlock (&m->stats_lock);
}

const gchar *
mesh_peer_manager_get_peer_id (MeshPeerManager * m)
{
  return m->peer_id;
}

static void
mesh_peer_manager_init (MeshPeerManager * m)
{
  m->rand = g_rand_new ();
  g_mutex_init (&m->stats_lock);
  m->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) peer_free);
  m->backoff = mesh_link_backoff_new ();
  m->banned = g_hash_table_new (g_str_hash, g_str_equal);
  m->turned_away = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  g_queue_init (&m->banned_order);
  g_queue_init (&m->uploads);
  m->growing = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      (GDestroyNotify) g_byte_array_unref);
}

static void
mesh_peer_manager_finalize (GObject * object)
{
  MeshPeerManager *m = MESH_PEER_MANAGER (object);

  mesh_peer_manager_stop (m);
  g_clear_object (&m->signaller);
  g_hash_table_unref (m->peers);
  g_hash_table_unref (m->banned);
  g_hash_table_unref (m->turned_away);
  g_queue_clear_full (&m->banned_order, g_free);
  g_hash_table_unref (m->growing);
  mesh_link_backoff_free (m->backoff);
  mesh_segment_cache_free (m->cache);
  g_rand_free (m->rand);
  g_mutex_clear (&m->stats_lock);
  g_clear_object (&m->transport);
  g_main_context_unref (m->context);
  g_free (m->peer_id);
  g_free (m->swarm_id);
  g_free (m->stun_server);
  g_free (m->turn_server);
  g_free (m->local_address);
  G_OBJECT_CLASS (mesh_peer_manager_parent_class)->finalize (object);
}

static void
mesh_peer_manager_class_init (MeshPeerManagerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->finalize = mesh_peer_manager_finalize;

  signals[SIGNAL_PEER_CONNECTED] = g_signal_new ("peer-connected",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_PEER_DISCONNECTED] = g_signal_new ("peer-disconnected",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_SIGNALLER_ERROR] = g_signal_new ("signaller-error",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_ERROR);
}
