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
#include "mesh-tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  guint port = 0;

  context = g_option_context_new ("- serve a directory as a test HLS origin");
  g_option_context_set_description (context,
      "HTTP interface: GET /<path> (Range), GET /live/<path>.m3u8 (looped "
      "live window),\nGET [/live]/<dir>/mesh-hashes.json (digest list), "
      "GET /_stats, POST /_stats/reset, POST /_fault?..., "
      "POST /_fault/clear.\nSee docs/test-origin.md.\n");
  g_option_context_add_main_entries (context, entries, NULL);
  mesh_tool_add_version_option (context);
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
  if (listen && !mesh_tool_parse_listen (listen, &host, &port, &error)) {
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

  mesh_tool_serve_until_signal ("mesh-origin",
      mesh_origin_server_get_base_url (server));
  mesh_origin_server_stop (server);
  return 0;
}
