/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the command-line tools (mesh-origin, mesh-tracker, mesh-hashes)
 * share: --version, the --listen syntax and the life of a server process.
 * Main thread only.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS
/* "HOST:PORT", "[V6]:PORT" or ":PORT" (127.0.0.1); the caller frees *host. */
    gboolean mesh_tool_parse_listen (const gchar * listen, gchar ** host,
    guint * port, GError ** error);

/* Prints "@name listening on @url" (the one line scripts wait for), then
 * runs until SIGINT or SIGTERM. The signal handlers are installed before the
 * line is printed, since a script may signal as soon as it reads it. */
void mesh_tool_serve_until_signal (const gchar * name, const gchar * url);

/* The same, calling @on_hangup (@data) on the main thread at each SIGHUP. */
void mesh_tool_serve_until_signal_full (const gchar * name, const gchar * url,
    void (*on_hangup) (gpointer data), gpointer data);

/* Adds --version to @context's main group: prints "PROGRAM VERSION" (the
 * meson project version) and exits 0. */
void mesh_tool_add_version_option (GOptionContext * context);

G_END_DECLS
