/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Unit tests for the tracker's aggregation of player reports
 * (tools/tracker/mesh-tracker-qos.h): deltas, first reports, refused and
 * capped reports, the history rings, swarm retention and the bounds. The
 * aggregator has no clock: each test moves `now` itself. Single thread.
 */

#include <gst/check/gstcheck.h>

#include "mesh-tracker-qos.h"

#define S(seconds) ((gint64) (seconds) * G_USEC_PER_SEC)
/* connections are any distinct pointers */
#define CONN(n) GUINT_TO_POINTER (n)

static MeshQosReport
report (gint64 cdn, gint64 peer, gint64 uploaded, gint64 stalls)
{
  MeshQosReport r = { 0, };

  r.version = 1;
  r.cdn_bytes = cdn;
  r.peer_bytes = peer;
  r.uploaded_bytes = uploaded;
  r.stalls = stalls;
  r.startup_ms = -1;
  return r;
}

static MeshTrackerQos *
new_qos (void)
{
  MeshTrackerQosConfig config = { 0, };

  return mesh_tracker_qos_new (&config, S (1000));
}

static MeshTrackerQosSwarm
swarm (MeshTrackerQos * qos, const gchar * id)
{
  MeshTrackerQosSwarm s;

  fail_unless (mesh_tracker_qos_lookup_swarm (qos, id, &s), "no swarm %s", id);
  return s;
}

static void
send (MeshTrackerQos * qos, guint conn, MeshQosReport r, gint64 now,
    MeshTrackerQosVerdict expected)
{
  MeshTrackerQosVerdict verdict =
      mesh_tracker_qos_report (qos, CONN (conn), &r, now);

  fail_unless_equals_string (mesh_tracker_qos_verdict_name (verdict),
      mesh_tracker_qos_verdict_name (expected));
}

GST_START_TEST (test_first_report_in_full_then_deltas)
{
  MeshTrackerQos *qos = new_qos ();
  MeshTrackerQosTotals totals;
  MeshTrackerQosSwarm s;

  mesh_tracker_qos_join (qos, CONN (1), "live", S (1000));
  mesh_tracker_qos_join (qos, CONN (2), "live", S (1000));
  send (qos, 1, report (1000, 3000, 500, 1), S (1005), MESH_TRACKER_QOS_TAKEN);
  send (qos, 2, report (2000, 0, 0, 0), S (1005), MESH_TRACKER_QOS_TAKEN);
  /* only the growth since the previous report counts */
  send (qos, 1, report (1500, 4000, 700, 1), S (1010), MESH_TRACKER_QOS_TAKEN);

  s = swarm (qos, "live");
  fail_unless_equals_int (s.peers, 2);
  fail_unless_equals_int (s.reporting, 2);
  fail_unless_equals_uint64 (s.totals.cdn_bytes, 3500);
  fail_unless_equals_uint64 (s.totals.peer_bytes, 4000);
  fail_unless_equals_uint64 (s.totals.uploaded_bytes, 700);
  fail_unless_equals_uint64 (s.totals.stalls, 1);
  fail_unless (G_APPROX_VALUE (s.ratio, 4000.0 / 7500.0, 1e-9));

  mesh_tracker_qos_get_totals (qos, &totals);
  fail_unless_equals_uint64 (totals.peer_bytes, 4000);
  fail_unless_equals_int (mesh_tracker_qos_get_peers (qos), 2);
  fail_unless_equals_uint64 (mesh_tracker_qos_get_count (qos,
          MESH_TRACKER_QOS_TAKEN), 3);
  mesh_tracker_qos_free (qos);
}

GST_END_TEST;

/* A rejoin is a new connection whose counters start again from 0: its
 * first report counts in full, and the old connection's stay counted. */
GST_START_TEST (test_leave_keeps_contribution)
{
  MeshTrackerQos *qos = new_qos ();
  MeshTrackerQosTotals totals;

  mesh_tracker_qos_join (qos, CONN (1), "live", S (1000));
  send (qos, 1, report (100, 900, 0, 0), S (1010), MESH_TRACKER_QOS_TAKEN);
  mesh_tracker_qos_leave (qos, CONN (1), S (1011));
  mesh_tracker_qos_join (qos, CONN (2), "live", S (1011));
  send (qos, 2, report (10, 90, 0, 0), S (1020), MESH_TRACKER_QOS_TAKEN);

  mesh_tracker_qos_get_totals (qos, &totals);
  fail_unless_equals_uint64 (totals.cdn_bytes, 110);
  fail_unless_equals_uint64 (totals.peer_bytes, 990);
  fail_unless_equals_int (swarm (qos, "live").peers, 1);
  /* a connection that left reports nothing any more */
  send (qos, 1, report (200, 900, 0, 0), S (1030), MESH_TRACKER_QOS_UNKNOWN);
  mesh_tracker_qos_free (qos);
}

GST_END_TEST;

GST_START_TEST (test_counter_going_down_refused)
{
  MeshTrackerQos *qos = new_qos ();
  MeshTrackerQosSwarm s;

  mesh_tracker_qos_join (qos, CONN (1), "live", S (1000));
  send (qos, 1, report (1000, 1000, 0, 2), S (1005), MESH_TRACKER_QOS_TAKEN);
  send (qos, 1, report (5000, 5000, 0, 1), S (1010),
      MESH_TRACKER_QOS_DECREASED);
  send (qos, 1, report (-1, 5000, 0, 2), S (1015), MESH_TRACKER_QOS_DECREASED);
  /* nothing of the refused ones counted; the next delta is from the last
   * report taken */
  s = swarm (qos, "live");
  fail_unless_equals_uint64 (s.totals.cdn_bytes, 1000);
  send (qos, 1, report (1500, 1000, 0, 2), S (1020), MESH_TRACKER_QOS_TAKEN);
  fail_unless_equals_uint64 (swarm (qos, "live").totals.cdn_bytes, 1500);
  fail_unless_equals_uint64 (mesh_tracker_qos_get_count (qos,
          MESH_TRACKER_QOS_DECREASED), 2);
  mesh_tracker_qos_free (qos);
}

GST_END_TEST;

GST_START_TEST (test_too_soon_dropped)
{
  MeshTrackerQos *qos = new_qos ();

  mesh_tracker_qos_join (qos, CONN (1), "live", S (1000));
  send (qos, 1, report (100, 0, 0, 0), S (1002), MESH_TRACKER_QOS_TAKEN);
  send (qos, 1, report (200, 0, 0, 0), S (1002) + 999999,
      MESH_TRACKER_QOS_TOO_SOON);
  fail_unless_equals_uint64 (swarm (qos, "live").totals.cdn_bytes, 100);
  /* nothing lost: the next one carries the totals */
  send (qos, 1, report (300, 0, 0, 0), S (1003), MESH_TRACKER_QOS_TAKEN);
  fail_unless_equals_uint64 (swarm (qos, "live").totals.cdn_bytes, 300);
  mesh_tracker_qos_free (qos);
}

GST_END_TEST;

GST_START_TEST (test_plausibility_caps)
{
  MeshTrackerQosConfig config = { 0, };
  MeshTrackerQos *qos;
  MeshTrackerQosSwarm s;

  config.max_byte_rate = 1000;
  config.max_stall_rate = 1;
  qos = mesh_tracker_qos_new (&config, S (0));
  mesh_tracker_qos_join (qos, CONN (1), "live", S (0));
  /* 10 s after the join: at most 10000 bytes of each, 10 stalls, 10 s of
   * stalling */
  {
    MeshQosReport r = report (1000000, 5000, G_GINT64_CONSTANT (1) << 53,
        1000);

    r.stall_ms = 60000;
    send (qos, 1, r, S (10), MESH_TRACKER_QOS_CAPPED);
  }
  s = swarm (qos, "live");
  fail_unless_equals_uint64 (s.totals.cdn_bytes, 10000);
  fail_unless_equals_uint64 (s.totals.peer_bytes, 5000);
  fail_unless_equals_uint64 (s.totals.uploaded_bytes, 10000);
  fail_unless_equals_uint64 (s.totals.stalls, 10);
  fail_unless_equals_uint64 (s.totals.stall_ms, 10000);
  /* the excess is gone for good: the next delta is from the claim */
  {
    MeshQosReport r = report (1002000, 7000, G_GINT64_CONSTANT (1) << 53,
        1000);

    r.stall_ms = 60000;
    send (qos, 1, r, S (12), MESH_TRACKER_QOS_TAKEN);
  }
  s = swarm (qos, "live");
  fail_unless_equals_uint64 (s.totals.cdn_bytes, 12000);
  fail_unless_equals_uint64 (s.totals.peer_bytes, 7000);
  /* a first report right after the join may claim a second's worth */
  mesh_tracker_qos_join (qos, CONN (2), "other", S (20));
  send (qos, 2, report (5000, 0, 0, 0), S (20) + 1, MESH_TRACKER_QOS_CAPPED);
  fail_unless_equals_uint64 (swarm (qos, "other").totals.cdn_bytes, 1000);
  fail_unless_equals_uint64 (mesh_tracker_qos_get_count (qos,
          MESH_TRACKER_QOS_CAPPED), 2);
  mesh_tracker_qos_free (qos);
}

GST_END_TEST;

GST_START_TEST (test_history_ring_wraps)
{
  MeshTrackerQosConfig config = { 0, };
  MeshTrackerQos *qos;
  g_autoptr (GArray) points = NULL;
  const MeshTrackerQosPoint *p;
  gint i;

  config.interval = 10;
  config.history_length = 4;
  qos = mesh_tracker_qos_new (&config, S (0));
  mesh_tracker_qos_join (qos, CONN (1), "live", S (0));
  /* a point at 0, 10, ... 60 s: each interval 1000 bytes, more and more
   * of them from peers */
  for (i = 0; i <= 6; i++) {
    if (i > 0)
      send (qos, 1, report (1000 * i - 100 * i * (i + 1) / 2,
              100 * i * (i + 1) / 2, 0, 0), S (10 * i) - 1,
          MESH_TRACKER_QOS_TAKEN);
    mesh_tracker_qos_tick (qos, S (10 * i));
    /* a tick between points takes none */
    mesh_tracker_qos_tick (qos, S (10 * i + 5));
  }

  points = mesh_tracker_qos_get_history (qos, NULL);
  fail_unless_equals_int (points->len, 4);
  /* the oldest went: the ring holds 30, 40, 50 and 60 s */
  for (i = 0; i < 4; i++) {
    p = &g_array_index (points, MeshTrackerQosPoint, i);
    fail_unless_equals_int64 (p->time, S (30 + 10 * i));
    fail_unless_equals_int (p->peers, 1);
    /* the interval's ratio: 100 x (3 + i) from peers out of 1000 */
    fail_unless (G_APPROX_VALUE (p->ratio, (3 + i) / 10.0, 1e-9),
        "point %d: ratio %f", i, p->ratio);
  }
  g_clear_pointer (&points, g_array_unref);
  points = mesh_tracker_qos_get_history (qos, "live");
  fail_unless_equals_int (points->len, 4);
  fail_unless (mesh_tracker_qos_get_history (qos, "nope") == NULL);
  mesh_tracker_qos_free (qos);
}

GST_END_TEST;

/* Only the max_histories largest swarms have a ring of their own. */
GST_START_TEST (test_history_bound)
{
  MeshTrackerQosConfig config = { 0, };
  MeshTrackerQos *qos;
  g_autoptr (GArray) list = NULL;
  guint i, with_history = 0;

  config.max_histories = 2;
  qos = mesh_tracker_qos_new (&config, S (0));
  /* swarm "s<n>" has n members */
  for (i = 1; i <= 5; i++) {
    g_autofree gchar *id = g_strdup_printf ("s%u", i);
    guint j;

    for (j = 0; j < i; j++)
      mesh_tracker_qos_join (qos, CONN (i * 100 + j), id, S (0));
  }
  mesh_tracker_qos_tick (qos, S (0));
  list = mesh_tracker_qos_list_swarms (qos, 100);
  fail_unless_equals_int (list->len, 5);
  for (i = 0; i < list->len; i++) {
    MeshTrackerQosSwarm *s = &g_array_index (list, MeshTrackerQosSwarm, i);

    /* sorted by members, the most first */
    fail_unless_equals_int (s->peers, 5 - i);
    fail_unless_equals_int (s->has_history, i < 2);
    with_history += s->has_history;
  }
  fail_unless_equals_int (with_history, 2);
  g_clear_pointer (&list, g_array_unref);
  list = mesh_tracker_qos_list_swarms (qos, 3);
  fail_unless_equals_int (list->len, 3);
  for (i = 0; i < list->len; i++)
    fail_unless_equals_int (g_array_index (list, MeshTrackerQosSwarm,
            i).peers, 5 - i);
  g_clear_pointer (&list, g_array_unref);
  list = mesh_tracker_qos_list_swarms (qos, 0);
  fail_unless_equals_int (list->len, 0);
  {
    g_autoptr (GArray) none = mesh_tracker_qos_get_history (qos, "s1");

    fail_unless_equals_int (none->len, 0);
  }
  mesh_tracker_qos_free (qos);
}

GST_END_TEST;

GST_START_TEST (test_swarm_retention)
{
  MeshTrackerQosConfig config = { 0, };
  MeshTrackerQos *qos;

  config.retention = 60;
  config.max_retained = 2;
  qos = mesh_tracker_qos_new (&config, S (0));
  mesh_tracker_qos_join (qos, CONN (1), "a", S (0));
  send (qos, 1, report (100, 100, 0, 0), S (5), MESH_TRACKER_QOS_TAKEN);
  mesh_tracker_qos_leave (qos, CONN (1), S (10));

  /* still shown, with its figures, until the retention is over */
  mesh_tracker_qos_tick (qos, S (69));
  fail_unless_equals_int (swarm (qos, "a").peers, 0);
  fail_unless_equals_uint64 (swarm (qos, "a").totals.peer_bytes, 100);
  mesh_tracker_qos_tick (qos, S (70));
  fail_if (mesh_tracker_qos_lookup_swarm (qos, "a", NULL));
  fail_unless_equals_int (mesh_tracker_qos_get_n_swarms (qos), 0);

  /* a member coming back keeps it */
  mesh_tracker_qos_join (qos, CONN (2), "b", S (100));
  mesh_tracker_qos_leave (qos, CONN (2), S (101));
  mesh_tracker_qos_join (qos, CONN (3), "b", S (150));
  mesh_tracker_qos_tick (qos, S (200));
  fail_unless_equals_int (swarm (qos, "b").peers, 1);

  /* at most max_retained empty swarms: the one emptied first goes */
  mesh_tracker_qos_join (qos, CONN (4), "c", S (200));
  mesh_tracker_qos_join (qos, CONN (5), "d", S (200));
  mesh_tracker_qos_join (qos, CONN (6), "e", S (200));
  mesh_tracker_qos_leave (qos, CONN (4), S (201));
  mesh_tracker_qos_leave (qos, CONN (5), S (202));
  mesh_tracker_qos_leave (qos, CONN (6), S (203));
  fail_if (mesh_tracker_qos_lookup_swarm (qos, "c", NULL));
  swarm (qos, "d");
  swarm (qos, "e");
  fail_unless_equals_int (mesh_tracker_qos_get_n_swarms (qos), 3);
  mesh_tracker_qos_free (qos);
}

GST_END_TEST;

static Suite *
tracker_qos_suite (void)
{
  Suite *s = suite_create ("tracker-qos");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_first_report_in_full_then_deltas);
  tcase_add_test (tc, test_leave_keeps_contribution);
  tcase_add_test (tc, test_counter_going_down_refused);
  tcase_add_test (tc, test_too_soon_dropped);
  tcase_add_test (tc, test_plausibility_caps);
  tcase_add_test (tc, test_history_ring_wraps);
  tcase_add_test (tc, test_history_bound);
  tcase_add_test (tc, test_swarm_retention);
  return s;
}

GST_CHECK_MAIN (tracker_qos);
