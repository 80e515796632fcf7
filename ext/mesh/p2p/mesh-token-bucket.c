/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-token-bucket.h. Pure functions on the struct, no clock.
 */
#include "mesh-token-bucket.h"

#define SCALE G_USEC_PER_SEC
/* Debt is bounded by one chunk in use, but consume() takes any size: keep
 * the arithmetic far from overflowing. */
#define MAX_DEBT_BYTES (G_GINT64_CONSTANT (1) << 40)

static guint64
clamp_rate (guint64 rate)
{
  return MIN (rate, MESH_TOKEN_BUCKET_MAX_RATE);
}

static guint64
default_burst (guint64 rate, guint64 burst)
{
  if (burst == 0)
    burst = rate;
  /* bytes × 10⁶ must fit a gint64 with room for the debt */
  return CLAMP (burst, 1, MESH_TOKEN_BUCKET_MAX_RATE);
}

static gint64
capacity (const MeshTokenBucket * b)
{
  return (gint64) b->burst * SCALE;
}

/* Adds what flowed in since the last refill. The product elapsed × rate is
 * only formed when it cannot pass the room left, so it cannot overflow. */
static void
refill (MeshTokenBucket * b, gint64 now)
{
  gint64 elapsed = now - b->updated;
  gint64 room;

  if (b->rate == 0 || elapsed <= 0)
    return;
  b->updated = now;
  room = capacity (b) - b->level;
  if (room <= 0)
    return;
  if ((guint64) elapsed >= (guint64) room / b->rate + 1)
    b->level = capacity (b);
  else
    b->level += elapsed * (gint64) b->rate;
}

void
mesh_token_bucket_init (MeshTokenBucket * b, guint64 rate, guint64 burst,
    gint64 now)
{
  b->rate = clamp_rate (rate);
  b->burst = default_burst (b->rate, burst);
  b->level = capacity (b);
  b->updated = now;
}

void
mesh_token_bucket_set_rate (MeshTokenBucket * b, guint64 rate, guint64 burst,
    gint64 now)
{
  gint64 debt;

  rate = clamp_rate (rate);
  if (b->rate == 0 || rate == 0) {
    mesh_token_bucket_init (b, rate, burst, now);
    return;
  }
  refill (b, now);
  debt = MIN (b->level, 0);
  b->rate = rate;
  b->burst = default_burst (rate, burst);
  b->level = debt < 0 ? debt : MIN (b->level, capacity (b));
  b->updated = now;
}

guint64
mesh_token_bucket_get_rate (const MeshTokenBucket * b)
{
  return b->rate;
}

gint64
mesh_token_bucket_delay (MeshTokenBucket * b, gint64 now)
{
  gint64 missing;

  if (b->rate == 0)
    return 0;
  refill (b, now);
  if (b->level > 0)
    return 0;
  /* the first µs after which the level is above 0 */
  missing = -b->level;
  return missing / (gint64) b->rate + 1;
}

void
mesh_token_bucket_consume (MeshTokenBucket * b, guint64 bytes, gint64 now)
{
  if (b->rate == 0)
    return;
  refill (b, now);
  bytes = MIN (bytes, (guint64) MAX_DEBT_BYTES);
  b->level = MAX (b->level - (gint64) bytes * SCALE, -MAX_DEBT_BYTES * SCALE);
}

gint64
mesh_token_bucket_get_level (MeshTokenBucket * b, gint64 now)
{
  if (b->rate == 0)
    return G_MAXINT64;
  refill (b, now);
  return b->level >= 0 ? b->level / SCALE : -((-b->level + SCALE - 1) / SCALE);
}
