/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the command-line servers (mesh-origin, mesh-tracker) share: the
 * --listen syntax and the life of a server process. Main thread only.
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

G_END_DECLS
