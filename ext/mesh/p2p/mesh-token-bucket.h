/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTokenBucket: a byte-rate limiter (max-upload-rate, and the loopback
 * transport's per-connection rate in the tests). Pure, like the scheduler:
 * times are monotonic microseconds given by the caller, nothing here reads
 * a clock or keeps anything but the struct. Not thread-safe; the owner keeps
 * it on one thread.
 *
 * The rules:
 * - tokens (bytes) flow in at `rate` per second, up to `burst`;
 * - a send may start whenever the bucket is not empty, whatever its size,
 *   and leaves the bucket in debt by what it took beyond the tokens. A chunk
 *   larger than the bucket (a 64 KiB DATA frame at a rate below 64 KiB/s) is
 *   therefore still sent, and the debt makes the next send wait for it: the
 *   rate holds on average, and any window of time carries at most
 *   rate × time + burst + one chunk;
 * - rate 0 is no limit.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Highest rate taken as such (1 TB/s); above it is this. */
#define MESH_TOKEN_BUCKET_MAX_RATE G_GUINT64_CONSTANT (1000000000000)

typedef struct {
  /* private: tokens are kept in byte·µs per second (bytes × 10⁶), so that
   * any elapsed time adds an exact, integral amount */
  guint64 rate;                 /* bytes/s, 0 = unlimited */
  guint64 burst;                /* bytes the bucket holds at most */
  gint64 level;                 /* bytes × 10⁶; negative = debt */
  gint64 updated;               /* time of the last refill */
} MeshTokenBucket;

/* A full bucket at @now. @burst: the depth in bytes; 0 = one second of
 * @rate (at least 1 byte). */
void mesh_token_bucket_init (MeshTokenBucket * bucket, guint64 rate,
    guint64 burst, gint64 now);

/* From @now on the bucket fills at @rate up to @burst (0 = one second of
 * @rate). What was earned at the old rate until @now is kept, clipped to the
 * new depth; a debt is kept. From or to rate 0 the bucket starts full. */
void mesh_token_bucket_set_rate (MeshTokenBucket * bucket, guint64 rate,
    guint64 burst, gint64 now);

guint64 mesh_token_bucket_get_rate (const MeshTokenBucket * bucket);

/* Microseconds from @now until a send may start: 0 when it may start now
 * (always with rate 0). */
gint64 mesh_token_bucket_delay (MeshTokenBucket * bucket, gint64 now);

/* @bytes were sent at @now (call it after a delay of 0). */
void mesh_token_bucket_consume (MeshTokenBucket * bucket, guint64 bytes,
    gint64 now);

/* Whole bytes in the bucket at @now (negative: the debt). */
gint64 mesh_token_bucket_get_level (MeshTokenBucket * bucket, gint64 now);

G_END_DECLS
