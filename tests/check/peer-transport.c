/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of the transport-independent helpers of mesh-peer-transport.h: the
 * goodput meter and the clock source (on a fake clock). The transports have
 * their own suites (quic-link; the loopback through peer-manager).
 *
 * Threads: only the test's own, with a GMainContext of its own.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "p2p/mesh-peer-transport.h"

/* Busy periods only, smoothed; pauses do not count as slowness. */
GST_START_TEST (test_goodput_meter)
{
  MeshGoodputMeter m = { 0, };
  gint64 t = 1000 * G_USEC_PER_SEC, end;

  fail_unless_equals_uint64 (mesh_goodput_meter_get (&m), 0);
  /* 1 MB/s in 10 kB pieces every 10 ms, for a second */
  for (end = t + G_USEC_PER_SEC; t <= end; t += 10 * G_TIME_SPAN_MILLISECOND)
    mesh_goodput_meter_add (&m, t, 10000);
  fail_unless (mesh_goodput_meter_get (&m) >= 950000);
  fail_unless (mesh_goodput_meter_get (&m) <= 1050000);

  /* ten idle seconds, then more at the same pace: unchanged */
  t += 10 * G_USEC_PER_SEC;
  for (end = t + G_USEC_PER_SEC; t <= end; t += 10 * G_TIME_SPAN_MILLISECOND)
    mesh_goodput_meter_add (&m, t, 10000);
  fail_unless (mesh_goodput_meter_get (&m) >= 950000);
  fail_unless (mesh_goodput_meter_get (&m) <= 1050000);

  /* a slower link: the estimate follows within a few windows */
  for (end = t + 2 * G_USEC_PER_SEC; t <= end;
      t += 10 * G_TIME_SPAN_MILLISECOND)
    mesh_goodput_meter_add (&m, t, 1000);
  fail_unless (mesh_goodput_meter_get (&m) <= 150000);
  fail_unless (mesh_goodput_meter_get (&m) >= 90000);
}

GST_END_TEST;

static gint64
fake_now (gpointer data)
{
  return *(gint64 *) data;
}

static gboolean
count_fired (gpointer data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

/* Ready once the fake clock reaches its time, once per arming. */
GST_START_TEST (test_clock_source)
{
  GMainContext *context = g_main_context_new ();
  gint64 now = 1000;
  MeshPeerClock clock = { fake_now, &now };
  GSource *source = mesh_peer_clock_source_new (&clock, 5000);
  guint fired = 0;

  fail_unless_equals_int64 (mesh_peer_clock_now (&clock), 1000);
  fail_unless (mesh_peer_clock_now (NULL) > 0);
  g_source_set_callback (source, count_fired, &fired, NULL);
  g_source_attach (source, context);

  while (g_main_context_iteration (context, FALSE));
  fail_unless_equals_int (fired, 0);
  now = 5000;
  while (g_main_context_iteration (context, FALSE));
  fail_unless_equals_int (fired, 1);
  /* not again until armed again */
  now = 1000000;
  while (g_main_context_iteration (context, FALSE));
  fail_unless_equals_int (fired, 1);
  mesh_peer_clock_source_set (source, 2000000);
  while (g_main_context_iteration (context, FALSE));
  fail_unless_equals_int (fired, 1);
  now = 2000000;
  while (g_main_context_iteration (context, FALSE));
  fail_unless_equals_int (fired, 2);

  g_source_destroy (source);
  g_source_unref (source);
  g_main_context_unref (context);
}

GST_END_TEST;

static Suite *
peer_transport_suite (void)
{
  Suite *s = suite_create ("peer-transport");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_goodput_meter);
  tcase_add_test (tc, test_clock_source);
  return s;
}

GST_CHECK_MAIN (peer_transport);
