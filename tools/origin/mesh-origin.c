/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mesh-origin: runs the test origin from the command line (see
 * docs/test-origin.md).
 *
 *   mesh-origin --root DIR [--listen HOST:PORT] [--live-window N]
 *
 * Threads: the main thread only waits for SIGINT/SIGTERM on the default
 * GMainContext; the server runs on its own thread (mesh-origin-server.c).
 */

#include "mesh-origin-server.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT"; the caller frees *host. */
static gboolean
parse_listen (const gchar * listen, gchar ** host, guint * port,
    GError ** error)
{
  const gchar *colon = strrchr (listen, ':');
  guint64 value;

  if (!colon) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--listen wants HOST:PORT, not '%s'", listen);
    return FALSE;
  }
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &value, error))
    return FALSE;

  if (listen[0] == '[' && colon > listen && colon[-1] == ']')
    *host = g_strndup (listen + 1, colon - listen - 2);
  else if (colon == listen)
    *host = g_strdup ("127.0.0.1");
  else
    *host = g_strndup (listen, colon - listen);
  *port = value;
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *root = NULL;
  g_autofree gchar *listen = NULL;
  g_autofree gchar *host = NULL;
  gint live_window = 0;
  GOptionEntry entries[] = {
    {"root", 'r', 0, G_OPTION_ARG_FILENAME, &root,
        "Directory to serve (required)", "DIR"},
    {"listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
        "Address to listen on (default 127.0.0.1:0, port 0 = any free port)",
        "HOST:PORT"},
    {"live-window", 'w', 0, G_OPTION_ARG_INT, &live_window,
        "Segments in a /live/ window (default 6)", "N"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  MeshOriginConfig config = { 0, };
  MeshOriginServer *server;
  GMainLoop *loop;
  guint port = 0;

  context = g_option_context_new ("- serve a directory as a test HLS origin");
  g_option_context_set_description (context,
      "HTTP interface: GET /<path> (Range), GET /live/<path>.m3u8 (looped "
      "live window),\nGET /_stats, POST /_stats/reset, POST /_fault?..., "
      "POST /_fault/clear.\nSee docs/test-origin.md.\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("mesh-origin: %s\n", error->message);
    return 2;
  }
  if (!root) {
    g_printerr ("mesh-origin: --root DIR is required (see --help)\n");
    return 2;
  }
  if (live_window < 0) {
    g_printerr ("mesh-origin: --live-window must be positive\n");
    return 2;
  }
  if (listen && !parse_listen (listen, &host, &port, &error)) {
    g_printerr ("mesh-origin: %s\n", error->message);
    return 2;
  }

  config.root = root;
  config.host = host;
  config.port = port;
  config.live_window = live_window;
  server = mesh_origin_server_start (&config, &error);
  if (!server) {
    g_printerr ("mesh-origin: %s\n", error->message);
    return 1;
  }

  /* scripts wait for this line: exactly one, flushed at once */
  printf ("mesh-origin listening on %s\n",
      mesh_origin_server_get_base_url (server));
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);

  /* the default context is not run any more, so the signal sources stay
   * quiet while the server shuts down */
  mesh_origin_server_stop (server);
  g_main_loop_unref (loop);
  return 0;
}
