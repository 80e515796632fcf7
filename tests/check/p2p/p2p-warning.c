/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshFetcher's "p2p-warning": a tracker that cannot be used reaches the
 * fetcher's owner as one message naming the tracker and the reason, on the
 * fetcher thread: not a ws:// URL, nothing listening, a rejected token. The
 * element-level tests (tests/check/elements/p2p.c) check that the elements
 * post it and play on from the CDN.
 *
 * Threads: the test thread sets the fetcher up and waits on `lock`/`cond`
 * (with deadlines) for the handler, which runs on the fetcher thread and
 * records under `lock`. The tracker runs on its own thread.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gio/gio.h>

#include "fetch/mesh-fetcher.h"
#include "mesh-tracker-server.h"
#include "../mesh-test-port.h"

#define WAIT_S 20
#define SWARM "warning-swarm"
#define SECRET "a secret of the content provider"

typedef struct
{
  GMutex lock;
  GCond cond;
  guint warnings;
  gchar *message;
  GThread *thread;
} Warnings;

static void
on_p2p_warning (MeshFetcher * fetcher, const gchar * message, Warnings * w)
{
  g_mutex_lock (&w->lock);
  w->warnings++;
  g_free (w->message);
  w->message = g_strdup (message);
  w->thread = g_thread_self ();
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
}

/* A fetcher with peer-to-peer on through @tracker_url, its warnings going
 * to @w. */
static MeshFetcher *
fetcher_with_tracker (const gchar * tracker_url, const gchar * token,
    Warnings * w)
{
  MeshFetcher *fetcher = mesh_fetcher_new ();
  MeshPeerConfig config = { 0, };

  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  g_signal_connect (fetcher, "p2p-warning", G_CALLBACK (on_p2p_warning), w);
  config.tracker_url = tracker_url;
  config.token = token;
  config.swarm_id = SWARM;
  /* these are about the tracker: nothing here fetches a segment */
  config.integrity = MESH_INTEGRITY_NONE;
  config.local_address = "127.0.0.1";
  config.max_peers = 4;
  config.cache_size = 1024 * 1024;
  mesh_fetcher_set_peer_config (fetcher, &config);
  return fetcher;
}

/* Waits for the first warning and checks it names @tracker_url and
 * @reason, and came from another thread. */
static void
expect_warning (Warnings * w, const gchar * tracker_url, const gchar * reason)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  g_mutex_lock (&w->lock);
  while (w->warnings == 0 && g_cond_wait_until (&w->cond, &w->lock, deadline));
  fail_unless_equals_int (w->warnings, 1);
  fail_unless (strstr (w->message, tracker_url) != NULL,
      "the warning does not name the tracker: %s", w->message);
  fail_unless (strstr (w->message, reason) != NULL,
      "the warning does not say \"%s\": %s", reason, w->message);
  fail_unless (w->thread != g_thread_self (), "not on the fetcher thread");
  g_mutex_unlock (&w->lock);
}

static void
warnings_clear (Warnings * w)
{
  g_free (w->message);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
}

GST_START_TEST (test_not_a_websocket_url)
{
  Warnings w = { 0, };
  MeshFetcher *fetcher = fetcher_with_tracker ("http://127.0.0.1:1/announce",
      NULL, &w);

  expect_warning (&w, "http://127.0.0.1:1/announce", "ws://");
  g_object_unref (fetcher);
  warnings_clear (&w);
}

GST_END_TEST;

GST_START_TEST (test_nothing_listening)
{
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/announce",
      mesh_test_unused_port ());
  Warnings w = { 0, };
  MeshFetcher *fetcher = fetcher_with_tracker (url, NULL, &w);

  expect_warning (&w, url, "unreachable");
  g_object_unref (fetcher);
  warnings_clear (&w);
}

GST_END_TEST;

GST_START_TEST (test_rejected_token)
{
  MeshTrackerConfig config = { 0, };
  MeshTrackerServer *tracker;
  GError *error = NULL;
  Warnings w = { 0, };
  MeshFetcher *fetcher;

  config.host = "127.0.0.1";
  config.token_secret = SECRET;
  tracker = mesh_tracker_server_start (&config, &error);
  fail_unless (tracker != NULL, "tracker: %s", error ? error->message : "");

  fetcher = fetcher_with_tracker (mesh_tracker_server_get_url (tracker),
      "1700000000.not-a-valid-signature", &w);
  expect_warning (&w, mesh_tracker_server_get_url (tracker), "token");
  g_object_unref (fetcher);
  warnings_clear (&w);
  mesh_tracker_server_stop (tracker);
}

GST_END_TEST;

static Suite *
p2p_warning_suite (void)
{
  Suite *s = suite_create ("p2p-warning");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_not_a_websocket_url);
  tcase_add_test (tc, test_nothing_listening);
  tcase_add_test (tc, test_rejected_token);
  return s;
}

GST_CHECK_MAIN (p2p_warning);
