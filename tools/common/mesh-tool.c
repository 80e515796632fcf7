/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-tool.h.
 */
#include "mesh-tool.h"

#include "config.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
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

typedef struct
{
  void (*func) (gpointer data);
  gpointer data;
} Hangup;

static gboolean
on_hangup (gpointer data)
{
  Hangup *hangup = data;

  hangup->func (hangup->data);
  return G_SOURCE_CONTINUE;
}

void
mesh_tool_serve_until_signal (const gchar * name, const gchar * url)
{
  mesh_tool_serve_until_signal_full (name, url, NULL, NULL);
}

void
mesh_tool_serve_until_signal_full (const gchar * name, const gchar * url,
    void (*func) (gpointer data), gpointer data)
{
  GMainLoop *loop = g_main_loop_new (NULL, FALSE);
  guint sigint = g_unix_signal_add (SIGINT, on_signal, loop);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, loop);
  Hangup hangup = { func, data };
  guint sighup = func ? g_unix_signal_add (SIGHUP, on_hangup, &hangup) : 0;

  printf ("%s listening on %s\n", name, url);
  fflush (stdout);
  g_main_loop_run (loop);

  /* the caller stops its server next; no signal source runs meanwhile */
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (sighup)
    g_source_remove (sighup);
  g_main_loop_unref (loop);
}

static gboolean
print_version (const gchar * name, const gchar * value, gpointer data,
    GError ** error)
{
  printf ("%s %s\n", g_get_prgname (), VERSION);
  exit (0);
}

void
mesh_tool_add_version_option (GOptionContext * context)
{
  const GOptionEntry entries[] = {
    {"version", 'V', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
        (gpointer) print_version, "Print the version and exit", NULL},
    {NULL}
  };

  /* the entries are copied */
  g_option_context_add_main_entries (context, entries, NULL);
}
