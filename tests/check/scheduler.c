/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The peer manager's decisions against a fake clock, and the segment cache.
 */
#include <gst/check/gstcheck.h>

#include "p2p/mesh-scheduler.h"
#include "p2p/mesh-segment-cache.h"

#define S G_USEC_PER_SEC
#define MS G_TIME_SPAN_MILLISECOND
#define T0 (1000 * S)

/* A 200 kB segment over a 1 MB/s CDN: 0.2 s of download. */
static MeshScheduleInput
live_input (gint64 slack)
{
  MeshScheduleInput in = { 0, };

  in.now = T0;
  in.waiting_since = T0;
  in.deadline = T0 + slack;
  in.size = 200000;
  in.cdn_throughput = 1000000;
  in.n_peers = 3;
  return in;
}

GST_START_TEST (test_no_slack_goes_to_cdn)
{
  MeshScheduleInput in = live_input (0);

  in.deadline = 0;
  in.peer_has_it = TRUE;
  fail_unless_equals_int (mesh_schedule_decide (&in).action, MESH_SCHEDULE_CDN);
  /* not enough for the CDN download and the margin either */
  in = live_input (MESH_SCHEDULE_SAFETY_US + 100 * MS);
  in.peer_has_it = TRUE;
  fail_unless_equals_int (mesh_schedule_decide (&in).action, MESH_SCHEDULE_CDN);
}

GST_END_TEST;

GST_START_TEST (test_holder_is_used_when_in_time)
{
  MeshScheduleInput in = live_input (4 * S);

  in.peer_has_it = TRUE;
  in.peer_throughput = 2000000;
  fail_unless_equals_int (mesh_schedule_decide (&in).action,
      MESH_SCHEDULE_PEER);
  /* a link too slow to deliver before the deadline is not */
  in.peer_throughput = 50000;   /* 4 s for 200 kB */
  fail_unless_equals_int (mesh_schedule_decide (&in).action, MESH_SCHEDULE_CDN);
}

GST_END_TEST;

GST_START_TEST (test_wait_for_a_fetching_peer_until_cdn_must_start)
{
  MeshScheduleInput in = live_input (4 * S);
  MeshScheduleDecision d;
  gint64 latest = mesh_schedule_latest_cdn_start (in.deadline, in.size,
      in.cdn_throughput);

  in.peer_fetching_it = TRUE;
  d = mesh_schedule_decide (&in);
  fail_unless_equals_int (d.action, MESH_SCHEDULE_WAIT);
  fail_unless_equals_int64 (d.wait_until, latest);
  fail_unless (latest == T0 + 4 * S - MESH_SCHEDULE_SAFETY_US - 200 * MS);

  in.now = latest;
  fail_unless_equals_int (mesh_schedule_decide (&in).action, MESH_SCHEDULE_CDN);
}

GST_END_TEST;

GST_START_TEST (test_wait_briefly_for_links_being_set_up)
{
  MeshScheduleInput in = live_input (4 * S);
  MeshScheduleDecision d;

  in.n_peers = 0;
  in.n_connecting = 2;
  d = mesh_schedule_decide (&in);
  fail_unless_equals_int (d.action, MESH_SCHEDULE_WAIT);
  fail_unless_equals_int64 (d.wait_until, T0 + MESH_SCHEDULE_CONNECT_GRACE_US);
  /* the grace is over and nobody has it */
  in.now = d.wait_until;
  fail_unless_equals_int (mesh_schedule_decide (&in).action, MESH_SCHEDULE_CDN);
  /* never past the latest CDN start */
  in = live_input (MESH_SCHEDULE_SAFETY_US + 400 * MS);
  in.n_connecting = 1;
  d = mesh_schedule_decide (&in);
  fail_unless (d.action == MESH_SCHEDULE_CDN
      || d.wait_until <= mesh_schedule_latest_cdn_start (in.deadline,
          in.size, in.cdn_throughput));
}

GST_END_TEST;

GST_START_TEST (test_alone_goes_to_cdn)
{
  MeshScheduleInput in = live_input (4 * S);

  in.n_peers = 0;
  fail_unless_equals_int (mesh_schedule_decide (&in).action, MESH_SCHEDULE_CDN);
}

GST_END_TEST;

/* Among viewers drawing back-offs, the waits spread over the window, stay
 * below the cap and leave the CDN download time before the deadline. */
GST_START_TEST (test_random_backoff_spreads_and_is_bounded)
{
  GRand *rand = g_rand_new_with_seed (42);
  gint64 min_wait = G_MAXINT64, max_wait = 0;
  gint i;

  for (i = 0; i < 1000; i++) {
    MeshScheduleInput in = live_input (6 * S);
    MeshScheduleDecision d;

    in.n_peers = 9;
    in.random = g_rand_int (rand);
    d = mesh_schedule_decide (&in);
    if (d.action == MESH_SCHEDULE_CDN) {
      min_wait = 0;
      continue;
    }
    fail_unless_equals_int (d.action, MESH_SCHEDULE_WAIT);
    min_wait = MIN (min_wait, d.wait_until - T0);
    max_wait = MAX (max_wait, d.wait_until - T0);
    fail_unless (d.wait_until - T0 < MESH_SCHEDULE_MAX_BACKOFF_US);
    /* once the wait is over, the CDN */
    in.now = d.wait_until;
    fail_unless_equals_int (mesh_schedule_decide (&in).action,
        MESH_SCHEDULE_CDN);
  }
  fail_unless (min_wait < 50 * MS, "shortest wait %" G_GINT64_FORMAT, min_wait);
  fail_unless (max_wait > MESH_SCHEDULE_MAX_BACKOFF_US * 8 / 10,
      "longest wait %" G_GINT64_FORMAT, max_wait);
  g_rand_free (rand);
}

GST_END_TEST;

GST_START_TEST (test_backoff_never_eats_the_margin)
{
  MeshScheduleInput in = live_input (MESH_SCHEDULE_SAFETY_US + 600 * MS);
  MeshScheduleDecision d;
  gint64 latest;

  in.random = G_MAXUINT32;
  d = mesh_schedule_decide (&in);
  latest = mesh_schedule_latest_cdn_start (in.deadline, in.size,
      in.cdn_throughput);
  fail_unless_equals_int (d.action, MESH_SCHEDULE_WAIT);
  fail_unless (d.wait_until > T0);
  fail_unless (d.wait_until <= T0 + (latest - T0) / 2);
}

GST_END_TEST;

GST_START_TEST (test_abandon_stalled_or_slow_peer)
{
  MeshTransferProgress p = { 0, };

  p.started = T0;
  p.deadline = T0 + 4 * S;
  p.size = 1000000;

  /* healthy: half in 0.5 s */
  p.now = T0 + 500 * MS;
  p.last_progress = p.now;
  p.received = 500000;
  fail_if (mesh_schedule_should_abandon (&p));

  /* stalled */
  p.now = p.last_progress + MESH_SCHEDULE_STALL_US;
  fail_unless (mesh_schedule_should_abandon (&p));

  /* slow: 10% in 1 s would need 9 s more; its bytes still count until
   * the CDN (1 MB/s) must start on the 900 kB left: at 4 - 0.7 - 0.9 s */
  p.cdn_throughput = 1000000;
  p.now = T0 + S;
  p.last_progress = p.now;
  p.received = 100000;
  fail_if (mesh_schedule_should_abandon (&p));
  p.now = p.deadline - MESH_SCHEDULE_SAFETY_US - 900 * MS -
      MESH_SCHEDULE_CHECK_US - 1;
  p.last_progress = p.now;
  fail_if (mesh_schedule_should_abandon (&p));
  p.now += 1;
  p.last_progress = p.now;
  fail_unless (mesh_schedule_should_abandon (&p));
  p.cdn_throughput = 0;

  /* too early to judge: 2% after 200 ms */
  p.now = T0 + 200 * MS;
  p.last_progress = p.now;
  p.received = 20000;
  fail_if (mesh_schedule_should_abandon (&p));

  /* nothing yet and the deadline is close */
  p.now = T0 + 50 * MS;
  p.last_progress = T0;
  p.received = 0;
  p.deadline = T0 + 100 * MS;
  fail_unless (mesh_schedule_should_abandon (&p));

  /* waiting its turn at the holder is no stall while the holder's pace
   * (1 MB/s: 1 s for 1 MB) still makes the deadline with the margin... */
  p.waiting = TRUE;
  p.throughput = 1000000;
  p.deadline = T0 + 4 * S;
  p.now = T0 + 2 * S;
  p.last_progress = T0;
  fail_if (mesh_schedule_should_abandon (&p));
  /* ...and is given up once it cannot */
  p.now = p.deadline - S - MESH_SCHEDULE_SAFETY_US + 1;
  fail_unless (mesh_schedule_should_abandon (&p));
}

GST_END_TEST;

static GBytes *
bytes_of (gsize size, guint8 fill)
{
  guint8 *data = g_malloc (size);

  memset (data, fill, size);
  return g_bytes_new_take (data, size);
}

GST_START_TEST (test_cache_lru_eviction)
{
  g_autoptr (MeshSegmentCache) cache = mesh_segment_cache_new (300);
  g_autoptr (GArray) evicted = g_array_new (FALSE, FALSE, sizeof (guint64));
  GBytes *b;
  guint i;

  for (i = 1; i <= 3; i++) {
    b = bytes_of (100, i);
    mesh_segment_cache_put (cache, i, b, evicted);
    g_bytes_unref (b);
  }
  fail_unless_equals_int (evicted->len, 0);
  fail_unless_equals_uint64 (mesh_segment_cache_get_bytes (cache), 300);

  /* using 1 makes 2 the least recently used */
  b = mesh_segment_cache_get (cache, 1);
  fail_unless (b != NULL);
  fail_unless_equals_int (((const guint8 *) g_bytes_get_data (b, NULL))[0], 1);
  g_bytes_unref (b);

  b = bytes_of (150, 4);
  mesh_segment_cache_put (cache, 4, b, evicted);
  g_bytes_unref (b);
  fail_unless_equals_int (evicted->len, 2);
  fail_unless_equals_uint64 (g_array_index (evicted, guint64, 0), 2);
  fail_unless_equals_uint64 (g_array_index (evicted, guint64, 1), 3);
  fail_unless (mesh_segment_cache_contains (cache, 1));
  fail_unless (mesh_segment_cache_contains (cache, 4));
  fail_if (mesh_segment_cache_contains (cache, 2));
  fail_unless_equals_uint64 (mesh_segment_cache_get_bytes (cache), 250);

  /* too large to keep at all */
  g_array_set_size (evicted, 0);
  b = bytes_of (301, 5);
  mesh_segment_cache_put (cache, 5, b, evicted);
  g_bytes_unref (b);
  fail_if (mesh_segment_cache_contains (cache, 5));
  fail_unless_equals_int (evicted->len, 0);

  /* replacing an entry counts its new size only */
  b = bytes_of (50, 6);
  mesh_segment_cache_put (cache, 4, b, evicted);
  g_bytes_unref (b);
  fail_unless_equals_uint64 (mesh_segment_cache_get_bytes (cache), 150);

  mesh_segment_cache_set_max_bytes (cache, 60, evicted);
  fail_unless_equals_int (mesh_segment_cache_get_count (cache), 1);
  fail_unless (mesh_segment_cache_contains (cache, 4));
  fail_unless (mesh_segment_cache_get (cache, 99) == NULL);
}

GST_END_TEST;

/* Why a segment goes to the CDN, for the statistics. */
GST_START_TEST (test_cdn_reason)
{
  MeshScheduleInput in = live_input (MESH_SCHEDULE_SAFETY_US + 100 * MS);
  MeshScheduleDecision d;

  /* no time: the deadline is too close, for a holder or anyone */
  in.peer_has_it = TRUE;
  d = mesh_schedule_decide (&in);
  fail_unless_equals_int (d.action, MESH_SCHEDULE_CDN);
  fail_unless_equals_int (d.reason, MESH_SCHEDULE_REASON_NO_TIME);
  in = live_input (4 * S);
  in.peer_has_it = TRUE;
  in.peer_throughput = 50000;
  fail_unless_equals_int (mesh_schedule_decide (&in).reason,
      MESH_SCHEDULE_REASON_NO_TIME);
  /* a peer in time is no CDN reason */
  in.peer_throughput = 2000000;
  d = mesh_schedule_decide (&in);
  fail_unless_equals_int (d.action, MESH_SCHEDULE_PEER);
  fail_unless_equals_int (d.reason, MESH_SCHEDULE_REASON_NONE);
  /* nobody: no peer, or the back-off ended without an announcement */
  in = live_input (4 * S);
  in.n_peers = 0;
  d = mesh_schedule_decide (&in);
  fail_unless_equals_int (d.action, MESH_SCHEDULE_CDN);
  fail_unless_equals_int (d.reason, MESH_SCHEDULE_REASON_NOBODY);
  in = live_input (4 * S);
  in.now += MESH_SCHEDULE_MAX_BACKOFF_US;
  d = mesh_schedule_decide (&in);
  fail_unless_equals_int (d.action, MESH_SCHEDULE_CDN);
  fail_unless_equals_int (d.reason, MESH_SCHEDULE_REASON_NOBODY);
}

GST_END_TEST;

static Suite *
scheduler_suite (void)
{
  Suite *s = suite_create ("scheduler");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_no_slack_goes_to_cdn);
  tcase_add_test (tc, test_holder_is_used_when_in_time);
  tcase_add_test (tc, test_wait_for_a_fetching_peer_until_cdn_must_start);
  tcase_add_test (tc, test_alone_goes_to_cdn);
  tcase_add_test (tc, test_wait_briefly_for_links_being_set_up);
  tcase_add_test (tc, test_random_backoff_spreads_and_is_bounded);
  tcase_add_test (tc, test_backoff_never_eats_the_margin);
  tcase_add_test (tc, test_abandon_stalled_or_slow_peer);
  tcase_add_test (tc, test_cdn_reason);
  tcase_add_test (tc, test_cache_lru_eviction);
  return s;
}

GST_CHECK_MAIN (scheduler);
