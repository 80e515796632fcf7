/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * When a failed peer is called again (ext/mesh/p2p/mesh-link-backoff.[ch]),
 * on a fake clock.
 */
#include <gst/check/gstcheck.h>

#include "p2p/mesh-link-backoff.h"

#define S G_USEC_PER_SEC
#define T0 (1000 * S)

GST_START_TEST (test_unknown_peer_may_be_called)
{
  MeshLinkBackoff *b = mesh_link_backoff_new ();

  fail_unless (mesh_link_backoff_may_call (b, "a", T0));
  fail_unless_equals_int (mesh_link_backoff_get_failures (b, "a"), 0);
  mesh_link_backoff_free (b);
}

GST_END_TEST;

/* Each failure doubles the wait (within its jitter), up to the ceiling. */
GST_START_TEST (test_waits_double_up_to_the_ceiling)
{
  MeshLinkBackoff *b = mesh_link_backoff_new ();
  GRand *rand = g_rand_new_with_seed (7);
  gint64 now = T0, expected = MESH_LINK_BACKOFF_BASE_US;
  guint i;

  for (i = 1; i <= 10; i++) {
    gint64 retry_at = mesh_link_backoff_failed (b, "a", now, rand);
    gint64 wait = retry_at - now;

    fail_unless (wait >= expected * 3 / 4 && wait <= expected * 5 / 4,
        "failure %u: waits %" G_GINT64_FORMAT " µs, expected about %"
        G_GINT64_FORMAT, i, wait, expected);
    fail_if (mesh_link_backoff_may_call (b, "a", retry_at - 1));
    fail_unless (mesh_link_backoff_may_call (b, "a", retry_at));
    fail_unless_equals_int (mesh_link_backoff_get_failures (b, "a"), i);
    now = retry_at;
    expected = MIN (expected * 2, MESH_LINK_BACKOFF_MAX_US);
  }
  g_rand_free (rand);
  mesh_link_backoff_free (b);
}

GST_END_TEST;

/* The measured problem: one peer behind a NAT that never maps, a refresh
 * every 5 s for 30 s. With the back-off it is called at most twice. */
GST_START_TEST (test_refreshes_do_not_retry_a_failing_peer)
{
  MeshLinkBackoff *b = mesh_link_backoff_new ();
  GRand *rand = g_rand_new_with_seed (1);
  guint calls = 0;
  gint64 t;

  for (t = T0; t < T0 + 30 * S; t += 5 * S) {
    if (mesh_link_backoff_may_call (b, "nat", t)) {
      calls++;
      /* the connect timeout: it fails 5 s later */
      mesh_link_backoff_failed (b, "nat", t + 5 * S, rand);
    }
  }
  fail_unless (calls <= 2, "called %u times in 30 s", calls);
  g_rand_free (rand);
  mesh_link_backoff_free (b);
}

GST_END_TEST;

GST_START_TEST (test_success_forgets)
{
  MeshLinkBackoff *b = mesh_link_backoff_new ();
  GRand *rand = g_rand_new_with_seed (2);

  mesh_link_backoff_failed (b, "a", T0, rand);
  mesh_link_backoff_failed (b, "b", T0, rand);
  fail_if (mesh_link_backoff_may_call (b, "a", T0 + S));
  mesh_link_backoff_forget (b, "a");
  fail_unless (mesh_link_backoff_may_call (b, "a", T0 + S));
  fail_unless_equals_int (mesh_link_backoff_get_failures (b, "a"), 0);
  /* others are not affected */
  fail_if (mesh_link_backoff_may_call (b, "b", T0 + S));
  g_rand_free (rand);
  mesh_link_backoff_free (b);
}

GST_END_TEST;

/* A swarm of hostile or churning ids cannot grow the table without bound;
 * the record that allows a call soonest goes first. */
GST_START_TEST (test_table_is_bounded)
{
  MeshLinkBackoff *b = mesh_link_backoff_new ();
  GRand *rand = g_rand_new_with_seed (3);
  guint i;

  /* "old" fails often: its wait is long, it must survive */
  for (i = 0; i < 6; i++)
    mesh_link_backoff_failed (b, "old", T0, rand);
  for (i = 0; i < 3 * MESH_LINK_BACKOFF_MAX_ENTRIES; i++) {
    g_autofree gchar *id = g_strdup_printf ("peer-%u", i);
    mesh_link_backoff_failed (b, id, T0 + i, rand);
    fail_unless (mesh_link_backoff_size (b) <= MESH_LINK_BACKOFF_MAX_ENTRIES);
  }
  fail_unless_equals_int (mesh_link_backoff_get_failures (b, "old"), 6);
  g_rand_free (rand);
  mesh_link_backoff_free (b);
}

GST_END_TEST;

static Suite *
link_backoff_suite (void)
{
  Suite *s = suite_create ("link-backoff");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_unknown_peer_may_be_called);
  tcase_add_test (tc, test_waits_double_up_to_the_ceiling);
  tcase_add_test (tc, test_refreshes_do_not_retry_a_failing_peer);
  tcase_add_test (tc, test_success_forgets);
  tcase_add_test (tc, test_table_is_bounded);
  return s;
}

GST_CHECK_MAIN (link_backoff);
