/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-tool.h.
 */
#include "mesh-tool.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

gboolean
mesh_tool_parse_listen (const gchar * listen, gchar ** host, guint * port,
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

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

void
mesh_tool_serve_until_signal (const gchar * name, const gchar * url)
{
  GMainLoop *loop = g_main_loop_new (NULL, FALSE);
  guint sigint = g_unix_signal_add (SIGINT, on_signal, loop);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, loop);

  printf ("%s listening on %s\n", name, url);
  fflush (stdout);
  g_main_loop_run (loop);

  /* the caller stops its server next; no signal source runs meanwhile */
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_main_loop_unref (loop);
}
