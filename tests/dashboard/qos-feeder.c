/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * qos-feeder: a swarm of test viewers for the dashboard test
 * (tests/dashboard/dashboard-test.py). Each viewer joins SWARM on the
 * tracker over a real WebSocket and, every second, sends a qos report whose
 * totals grow by RATE bytes, a growing share of them from peers (5 % at
 * first, 3 % more each second, up to 95 %), so the offload climbs.
 *
 *   qos-feeder ws://127.0.0.1:PORT/announce SWARM VIEWERS SECONDS
 *
 * Prints "joined N" once every viewer is welcomed, then runs for SECONDS
 * (or until SIGTERM). Single thread, the default GMainContext.
 */

#include "p2p/mesh-tracker-proto.h"

#include <glib-unix.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE 500000             /* bytes per second per viewer */

typedef struct
{
  SoupWebsocketConnection *ws;
  gboolean welcomed;
  MeshQosReport report;
} Viewer;

static GMainLoop *loop;
static Viewer *viewers;
static guint n_viewers;
static guint n_welcomed;
static guint seconds_run;

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer data)
{
  Viewer *viewer = data;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);

  if (!viewer->welcomed && g_strstr_len (text, size, "\"welcome\"")) {
    viewer->welcomed = TRUE;
    if (++n_welcomed == n_viewers) {
      printf ("joined %u\n", n_viewers);
      fflush (stdout);
    }
  }
}

static void
on_closed (SoupWebsocketConnection * ws, gpointer data)
{
  g_printerr ("qos-feeder: the tracker closed a connection\n");
  exit (1);
}

static void
on_connected (GObject * source, GAsyncResult * result, gpointer data)
{
  static guint next_id;
  Viewer *viewer = data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *peer = g_strdup_printf ("feeder-%04u", next_id++);
  g_autofree gchar *join = NULL;

  viewer->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
      result, &error);
  if (!viewer->ws) {
    g_printerr ("qos-feeder: %s\n", error->message);
    exit (1);
  }
  g_signal_connect (viewer->ws, "message", G_CALLBACK (on_message), viewer);
  g_signal_connect (viewer->ws, "closed", G_CALLBACK (on_closed), viewer);
  join = mesh_tracker_encode_join (g_object_get_data (source, "swarm"), peer,
      NULL, TRUE);
  soup_websocket_connection_send_text (viewer->ws, join);
}

/* Every second: RATE more bytes per viewer, a larger share from peers. */
static gboolean
on_tick (gpointer data)
{
  gint64 share = MIN (5 + 3 * (gint64) seconds_run, 95);
  guint i;

  seconds_run++;
  for (i = 0; i < n_viewers; i++) {
    Viewer *viewer = &viewers[i];
    g_autofree gchar *text = NULL;

    if (!viewer->welcomed)
      continue;
    viewer->report.peer_bytes += RATE * share / 100;
    viewer->report.cdn_bytes += RATE - RATE * share / 100;
    viewer->report.uploaded_bytes += RATE * share / 100;
    if (seconds_run % 4 == i % 4)
      viewer->report.stalls++;
    viewer->report.peers = n_viewers - 1;
    text = mesh_tracker_encode_qos (&viewer->report, NULL);
    soup_websocket_connection_send_text (viewer->ws, text);
  }
  if (seconds_run >= GPOINTER_TO_UINT (data)) {
    g_main_loop_quit (loop);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autoptr (SoupSession) session = NULL;
  guint64 viewers_wanted, seconds;
  guint i;

  if (argc != 5 || !g_ascii_string_to_unsigned (argv[3], 10, 1, 1000,
          &viewers_wanted, NULL)
      || !g_ascii_string_to_unsigned (argv[4], 10, 1, 3600, &seconds, NULL)) {
    g_printerr ("usage: qos-feeder WS-URL SWARM VIEWERS(1-1000) "
        "SECONDS(1-3600)\n");
    return 2;
  }
  n_viewers = viewers_wanted;
  loop = g_main_loop_new (NULL, FALSE);
  session = soup_session_new ();
  g_object_set_data_full (G_OBJECT (session), "swarm", g_strdup (argv[2]),
      g_free);
  viewers = g_new0 (Viewer, n_viewers);
  for (i = 0; i < n_viewers; i++) {
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", argv[1]);

    viewers[i].report.version = MESH_QOS_REPORT_VERSION;
    viewers[i].report.startup_ms = 400;
    soup_session_websocket_connect_async (session, msg, NULL, NULL,
        G_PRIORITY_DEFAULT, NULL, on_connected, &viewers[i]);
  }
  g_timeout_add_seconds (1, on_tick, GUINT_TO_POINTER ((guint) seconds));
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_main_loop_run (loop);

  for (i = 0; i < n_viewers; i++) {
    if (viewers[i].ws) {
      g_signal_handlers_disconnect_by_data (viewers[i].ws, &viewers[i]);
      g_object_unref (viewers[i].ws);
    }
  }
  g_free (viewers);
  g_main_loop_unref (loop);
  return 0;
}
