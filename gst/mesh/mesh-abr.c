/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-abr.h. No shared state: every function works on what it is given.
 */
#include "mesh-abr.h"

#include <math.h>
#include <string.h>

void
mesh_bandwidth_estimator_init (MeshBandwidthEstimator * est)
{
  memset (est, 0, sizeof (*est));
}

static gdouble
ewma_step (gdouble average, gdouble sample, gdouble seconds, gdouble half_life)
{
  gdouble alpha = exp (log (0.5) * seconds / half_life);

  return sample * (1.0 - alpha) + average * alpha;
}

void
mesh_bandwidth_estimator_add (MeshBandwidthEstimator * est, guint64 bytes,
    gint64 elapsed_us)
{
  gdouble seconds = MAX ((gdouble) elapsed_us / G_USEC_PER_SEC,
      MESH_ABR_MIN_SAMPLE_SECONDS);
  gdouble sample = bytes * 8.0 / seconds;

  if (bytes == 0)
    return;
  est->fast = ewma_step (est->fast, sample, seconds, MESH_ABR_FAST_HALF_LIFE);
  est->slow = ewma_step (est->slow, sample, seconds, MESH_ABR_SLOW_HALF_LIFE);
  est->weight += seconds;
  est->samples++;
}

/* Averages start at zero: divide by the weight they have gathered so far so
 * that the first samples are not underestimated. */
static gdouble
unbiased (gdouble average, gdouble weight, gdouble half_life)
{
  gdouble zero_share = exp (log (0.5) * weight / half_life);

  return average / (1.0 - zero_share);
}

guint64
mesh_bandwidth_estimator_get (const MeshBandwidthEstimator * est)
{
  gdouble fast, slow;

  if (est->samples == 0)
    return 0;
  fast = unbiased (est->fast, est->weight, MESH_ABR_FAST_HALF_LIFE);
  slow = unbiased (est->slow, est->weight, MESH_ABR_SLOW_HALF_LIFE);
  return (guint64) MIN (fast, slow);
}

static gboolean
fits_resolution (const MeshAbrCandidate * c, const MeshAbrLimits * limits)
{
  if (limits->max_width > 0 && c->width > limits->max_width)
    return FALSE;
  if (limits->max_height > 0 && c->height > limits->max_height)
    return FALSE;
  return TRUE;
}

static guint64
clamp_budget (guint64 budget, const MeshAbrLimits * limits)
{
  if (limits->max_bitrate > 0)
    budget = MIN (budget, limits->max_bitrate);
  if (limits->min_bitrate > 0)
    budget = MAX (budget, limits->min_bitrate);
  return budget;
}

gint
mesh_abr_choose (const MeshAbrCandidate * candidates, guint n_candidates,
    const MeshAbrLimits * limits, guint64 estimate, guint64 start_bitrate)
{
  guint64 budget;
  gint best = -1, lowest_fitting = -1;
  guint i;

  if (n_candidates == 0)
    return -1;

  if (limits->connection_speed > 0)
    budget = limits->connection_speed;
  else if (estimate > 0)
    budget = (guint64) (estimate * limits->target_ratio);
  else
    budget = start_bitrate;
  budget = clamp_budget (budget, limits);

  for (i = 0; i < n_candidates; i++) {
    const MeshAbrCandidate *c = &candidates[i];

    if (!fits_resolution (c, limits))
      continue;
    if (lowest_fitting < 0)
      lowest_fitting = i;
    if (c->bandwidth <= budget)
      best = i;
  }

  if (best >= 0)
    return best;
  if (lowest_fitting >= 0)
    return lowest_fitting;
  return 0;
}
