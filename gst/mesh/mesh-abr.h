/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Adaptive bitrate: a throughput estimator fed with one sample per download,
 * and the choice of a representation from it. Pure: no clock, no I/O; the
 * caller owns each estimator (one per stream, used from that stream's thread).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Two exponentially weighted moving averages of the throughput, weighted by
 * download time; the estimate is the lower of the two, so that it falls fast
 * when the network slows down and climbs back with some caution. */
typedef struct {
  gdouble fast;                 /* bits/s, half-life MESH_ABR_FAST_HALF_LIFE */
  gdouble slow;                 /* bits/s, half-life MESH_ABR_SLOW_HALF_LIFE */
  gdouble weight;               /* download seconds seen, for bias correction */
  guint samples;
} MeshBandwidthEstimator;

#define MESH_ABR_FAST_HALF_LIFE 2.0     /* seconds of download */
#define MESH_ABR_SLOW_HALF_LIFE 6.0
/* Downloads shorter than this say more about latency than throughput: they
 * are counted as if they had lasted this long. */
#define MESH_ABR_MIN_SAMPLE_SECONDS 0.008

void mesh_bandwidth_estimator_init (MeshBandwidthEstimator * est);

void mesh_bandwidth_estimator_add (MeshBandwidthEstimator * est,
    guint64 bytes, gint64 elapsed_us);

/* bits/s, 0 before the first sample. */
guint64 mesh_bandwidth_estimator_get (const MeshBandwidthEstimator * est);

typedef struct {
  guint64 bandwidth;            /* bits/s the representation needs */
  gint width, height;           /* 0 when unknown */
} MeshAbrCandidate;

typedef struct {
  guint64 connection_speed;     /* bits/s; 0 = use the measured estimate */
  gdouble target_ratio;         /* share of the bandwidth we may use */
  guint64 min_bitrate;          /* bits/s; 0 = no limit */
  guint64 max_bitrate;          /* bits/s; 0 = no limit */
  gint max_width, max_height;   /* 0 = no limit */
} MeshAbrLimits;

/* Index of the best candidate (sorted by ascending bandwidth) for a measured
 * throughput of @estimate bits/s (0 = unknown: the lowest that fits the
 * limits, or the highest not above @start_bitrate when that is given). Never -1 when
 * @n_candidates > 0: when nothing fits, the lowest candidate is chosen. */
gint mesh_abr_choose (const MeshAbrCandidate * candidates, guint n_candidates,
    const MeshAbrLimits * limits, guint64 estimate, guint64 start_bitrate);

G_END_DECLS
