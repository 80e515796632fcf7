/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-scheduler.h. Pure functions, no state.
 */
#include "mesh-scheduler.h"

static gint64
transfer_time (guint64 size, guint64 throughput)
{
  if (size == 0)
    size = MESH_SCHEDULE_DEFAULT_SIZE;
  if (throughput == 0)
    throughput = MESH_SCHEDULE_DEFAULT_THROUGHPUT;
  return (gint64) (size * G_USEC_PER_SEC / throughput);
}

gint64
mesh_schedule_latest_cdn_start (gint64 deadline, guint64 size,
    guint64 cdn_throughput)
{
  return deadline - MESH_SCHEDULE_SAFETY_US - transfer_time (size,
      cdn_throughput);
}

/* The random wait before a CDN download: up to half the slack, at most
 * MESH_SCHEDULE_MAX_BACKOFF_US, and wider with more peers, since more of
 * them compete for the first download. */
static gint64
backoff_end (const MeshScheduleInput * in, gint64 latest_cdn_start)
{
  gint64 window = MIN (MESH_SCHEDULE_MAX_BACKOFF_US,
      (latest_cdn_start - in->waiting_since) / 2);

  window = window * in->n_peers / (in->n_peers + 1);
  if (window <= 0)
    return in->waiting_since;
  return in->waiting_since + (gint64) (in->random % (guint64) window);
}

MeshScheduleDecision
mesh_schedule_decide (const MeshScheduleInput * in)
{
  MeshScheduleDecision out = { MESH_SCHEDULE_CDN, 0,
    MESH_SCHEDULE_REASON_NO_TIME
  };
  gint64 latest_cdn_start;
  gint64 until;

  if (in->deadline == 0)
    return out;
  latest_cdn_start = mesh_schedule_latest_cdn_start (in->deadline, in->size,
      in->cdn_throughput);
  if (in->now >= latest_cdn_start)
    return out;

  if (in->peer_has_it) {
    if (in->now + transfer_time (in->size, in->peer_throughput) +
        MESH_SCHEDULE_SAFETY_US <= in->deadline) {
      out.action = MESH_SCHEDULE_PEER;
      out.reason = MESH_SCHEDULE_REASON_NONE;
    }
    return out;
  }

  out.reason = MESH_SCHEDULE_REASON_NOBODY;
  if (in->peer_fetching_it) {
    out.action = MESH_SCHEDULE_WAIT;
    out.wait_until = latest_cdn_start;
    return out;
  }

  if (in->n_connecting > 0) {
    until = MIN (latest_cdn_start, in->waiting_since +
        MESH_SCHEDULE_CONNECT_GRACE_US);
    if (in->now < until) {
      out.action = MESH_SCHEDULE_WAIT;
      out.wait_until = until;
      return out;
    }
  }

  if (in->n_peers == 0)
    return out;
  until = backoff_end (in, latest_cdn_start);
  if (in->now < until) {
    out.action = MESH_SCHEDULE_WAIT;
    out.wait_until = until;
  }
  return out;
}

/* The last check before the CDN must start on what is left of @p. */
static gboolean
cdn_must_take_over (const MeshTransferProgress * p)
{
  guint64 rest = p->size > p->received ? p->size - p->received : 0;

  return p->now + MESH_SCHEDULE_CHECK_US >=
      mesh_schedule_latest_cdn_start (p->deadline, rest, p->cdn_throughput);
}

gboolean
mesh_schedule_should_abandon (const MeshTransferProgress * p)
{
  /* the pace of what arrived, up to its last byte: data comes in whole
   * frames, so counting the time since would understate it (a stall is
   * the rule above) */
  gint64 elapsed = p->last_progress - p->started;
  gint64 remaining_time;

  if (p->waiting && p->deadline != 0)
    return p->now + transfer_time (p->size, p->throughput) +
        MESH_SCHEDULE_SAFETY_US > p->deadline;
  if (p->now - p->last_progress >= MESH_SCHEDULE_STALL_US)
    return TRUE;
  if (p->deadline == 0 || p->size == 0 || p->received >= p->size)
    return FALSE;
  /* too early to judge a pace: a link starts slow (slow start, or a relay
   * still receiving the first bytes itself) */
  if (p->received == 0 || elapsed < MESH_SCHEDULE_JUDGE_PACE_US)
    return cdn_must_take_over (p);

  remaining_time = (gint64) ((p->size - p->received) * (guint64) elapsed /
      p->received);
  if (MAX (p->now, p->last_progress + remaining_time) +
      MESH_SCHEDULE_SAFETY_US <= p->deadline)
    return FALSE;
  return cdn_must_take_over (p);
}
