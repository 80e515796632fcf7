/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshPeerConfig: the peer-to-peer settings an element hands to its fetcher,
 * as one snapshot (settings, not state). The elements fill it from their
 * properties and never see the peer manager, its links or libsoup.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How a peer link shares the viewer's uplink with its other traffic. */
typedef enum {
  MESH_PEER_CC_DEFAULT,         /* the transport's choice */
  MESH_PEER_CC_CUBIC,           /* loss-based, yields to the viewer's own
                                 * traffic on a shared uplink */
  MESH_PEER_CC_BBR,             /* model-based, holds its rate through
                                 * random loss */
} MeshPeerCongestionControl;

/* Which of the viewer's addresses its peers may learn from the ICE
 * candidates it signals (the tracker relays them to every peer it calls). */
typedef enum {
  MESH_PEER_CANDIDATES_ALL,     /* host (LAN), server-reflexive (public)
                                 * and relayed: the most direct paths */
  MESH_PEER_CANDIDATES_NO_HOST, /* server-reflexive and relayed only: LAN
                                 * addresses stay private; needs STUN or
                                 * TURN */
  MESH_PEER_CANDIDATES_RELAY_ONLY, /* relayed only: peers see the TURN
                                 * server, not the viewer; needs TURN,
                                 * which carries all peer traffic */
} MeshPeerCandidatePolicy;

typedef enum {
  MESH_INTEGRITY_AUTO,          /* verify what peers send with the digests
                                 * the content provider publishes, else
                                 * those the tracker attests; without
                                 * either, no segment comes from peers */
  MESH_INTEGRITY_HASH_LIST,     /* the same, from mesh-hashes.json only */
  MESH_INTEGRITY_TRACKER,       /* the digests the tracker attests only
                                 * (mesh-tracker --attest-origin) */
  MESH_INTEGRITY_NONE,          /* trust the peers: closed swarms only */
} MeshIntegrityMode;

typedef struct {
  const gchar *tracker_url;     /* ws:// or wss:// */
  const gchar *token;           /* tracker access token, may be NULL */
  const gchar *swarm_id;
  const gchar *manifest_url;    /* its directory holds mesh-hashes.json */
  const gchar *stun_server;     /* "host:port", may be NULL */
  const gchar *turn_server;     /* "turn://user:pass@host:port", may be NULL */
  const gchar *local_address;   /* restrict ICE host candidates, may be NULL */
  guint max_peers;
  gboolean upload;
  guint64 max_upload_rate;      /* bytes/s, 0 = unlimited */
  guint64 cache_size;           /* bytes */
  MeshPeerCongestionControl congestion_control;
  MeshPeerCandidatePolicy candidate_policy;
  MeshIntegrityMode integrity;
  const gchar *network;         /* the player's network hint, sent with the
                                 * join (docs/protocol.md 1.4), may be NULL;
                                 * valid for mesh_tracker_is_valid_network() */
} MeshPeerConfig;

/* How the segments asked of the swarm fared: the peer manager counts, the
 * fetcher adds up over its managers, the elements post them in mesh-stats.
 * Slack is the deadline minus the time of the request, in buckets whose
 * upper bounds are mesh_peer_stats_slack_bounds_ms (the last is open). */
#define MESH_PEER_STATS_N_SLACK 7

static const gint64 mesh_peer_stats_slack_bounds_ms[MESH_PEER_STATS_N_SLACK] = {
  500, 1000, 2000, 4000, 8000, 16000, G_MAXINT64
};

typedef struct {
  guint64 requests;             /* segments asked of the swarm */
  guint64 from_peers;           /* of them, came whole from peers */
  guint64 cdn_nobody;           /* to the CDN: no peer had it in time */
  guint64 cdn_no_time;          /* to the CDN: the deadline left no time */
  guint64 cdn_peer_failed;      /* to the CDN after a peer failed (stall,
                                 * too slow, absent, link lost) */
  guint64 slack[MESH_PEER_STATS_N_SLACK];       /* requests per bucket */
  guint64 cache_bytes;          /* now: segments held for other viewers */
  guint64 rejected;             /* segments whose peer bytes failed
                                 * verification (fetched again from the
                                 * CDN) */
  guint64 peers_banned;         /* peers cut off for sending them */
} MeshPeerStats;

static inline guint
mesh_peer_stats_slack_bucket (gint64 slack_us)
{
  guint i;

  for (i = 0; i < MESH_PEER_STATS_N_SLACK - 1; i++)
    if (slack_us < mesh_peer_stats_slack_bounds_ms[i] * 1000)
      break;
  return i;
}

static inline void
mesh_peer_stats_add (MeshPeerStats * sum, const MeshPeerStats * more)
{
  guint i;

  sum->requests += more->requests;
  sum->from_peers += more->from_peers;
  sum->cdn_nobody += more->cdn_nobody;
  sum->cdn_no_time += more->cdn_no_time;
  sum->cdn_peer_failed += more->cdn_peer_failed;
  sum->cache_bytes += more->cache_bytes;
  sum->rejected += more->rejected;
  sum->peers_banned += more->peers_banned;
  for (i = 0; i < MESH_PEER_STATS_N_SLACK; i++)
    sum->slack[i] += more->slack[i];
}

G_END_DECLS
