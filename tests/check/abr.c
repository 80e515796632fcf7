/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Unit tests of the bandwidth estimator and the representation choice.
 */
#include <gst/check/gstcheck.h>

#include "mesh-abr.h"

static const MeshAbrCandidate ladder[] = {
  {200000, 320, 180}, {800000, 640, 360}, {1500000, 1280, 720},
  {4000000, 1920, 1080},
};

static MeshAbrLimits
default_limits (void)
{
  MeshAbrLimits limits = { 0, 0.8, 0, 0, 0, 0 };
  return limits;
}

GST_START_TEST (test_estimator_converges)
{
  MeshBandwidthEstimator est;
  gint i;

  mesh_bandwidth_estimator_init (&est);
  fail_unless_equals_uint64 (mesh_bandwidth_estimator_get (&est), 0);
  /* 125000 bytes in 0.5 s = 2 Mbit/s */
  mesh_bandwidth_estimator_add (&est, 125000, 500000);
  fail_unless (llabs ((gint64) mesh_bandwidth_estimator_get (&est) -
          2000000) < 1000);
  for (i = 0; i < 10; i++)
    mesh_bandwidth_estimator_add (&est, 125000, 500000);
  fail_unless (llabs ((gint64) mesh_bandwidth_estimator_get (&est) -
          2000000) < 1000);
}

GST_END_TEST;

GST_START_TEST (test_estimator_drops_fast_recovers_slowly)
{
  MeshBandwidthEstimator est;
  guint64 after_drop, after_one_good;
  gint i;

  mesh_bandwidth_estimator_init (&est);
  for (i = 0; i < 10; i++)
    mesh_bandwidth_estimator_add (&est, 1000000, 1000000);      /* 8 Mbit/s */
  /* the link falls to 800 kbit/s for two seconds */
  mesh_bandwidth_estimator_add (&est, 200000, 2000000);
  after_drop = mesh_bandwidth_estimator_get (&est);
  fail_unless (after_drop < 5000000, "estimate %" G_GUINT64_FORMAT
      " did not fall", after_drop);
  /* one fast sample does not bring it all the way back */
  mesh_bandwidth_estimator_add (&est, 1000000, 1000000);
  after_one_good = mesh_bandwidth_estimator_get (&est);
  fail_unless (after_one_good > after_drop);
  fail_unless (after_one_good < 8000000);
}

GST_END_TEST;

GST_START_TEST (test_estimator_ignores_empty_and_clamps_tiny)
{
  MeshBandwidthEstimator est;

  mesh_bandwidth_estimator_init (&est);
  mesh_bandwidth_estimator_add (&est, 0, 1000);
  fail_unless_equals_uint64 (mesh_bandwidth_estimator_get (&est), 0);
  /* 1000 bytes in 1 µs would be 8 Gbit/s: counted as 8 ms instead */
  mesh_bandwidth_estimator_add (&est, 1000, 1);
  fail_unless (mesh_bandwidth_estimator_get (&est) <= 1000 * 8 / 0.008 + 1);
}

GST_END_TEST;

GST_START_TEST (test_choose_by_estimate)
{
  MeshAbrLimits limits = default_limits ();

  /* 80% of 1.2 Mbit/s = 960 kbit/s: the 800k rung */
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 1200000, 0), 1);
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 100000000, 0),
      3);
  /* nothing fits: the lowest */
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 1000, 0), 0);
  /* unknown estimate: lowest, or the start bitrate's rung */
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 0, 0), 0);
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 0, 2000000), 2);
  fail_unless_equals_int (mesh_abr_choose (ladder, 0, &limits, 0, 0), -1);
}

GST_END_TEST;

GST_START_TEST (test_choose_limits)
{
  MeshAbrLimits limits = default_limits ();

  limits.connection_speed = 900000;
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 100000000, 0),
      1);
  limits.connection_speed = 0;
  limits.max_bitrate = 1000000;
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 100000000, 0),
      1);
  limits.max_bitrate = 0;
  limits.min_bitrate = 1500000;
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 1000, 0), 2);
  limits.min_bitrate = 0;
  limits.max_height = 720;
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 100000000, 0),
      2);
  limits.max_height = 0;
  limits.max_width = 100;
  /* nothing is small enough: the lowest rather than nothing */
  fail_unless_equals_int (mesh_abr_choose (ladder, 4, &limits, 100000000, 0),
      0);
}

GST_END_TEST;

static Suite *
abr_suite (void)
{
  Suite *s = suite_create ("abr");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_estimator_converges);
  tcase_add_test (tc, test_estimator_drops_fast_recovers_slowly);
  tcase_add_test (tc, test_estimator_ignores_empty_and_clamps_tiny);
  tcase_add_test (tc, test_choose_by_estimate);
  tcase_add_test (tc, test_choose_limits);
  return s;
}

GST_CHECK_MAIN (abr);
