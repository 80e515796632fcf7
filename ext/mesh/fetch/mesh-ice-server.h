/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The ICE server settings as the elements take them (stun-server,
 * turn-server) and the peer transport uses them: one reading of the text,
 * so that what the element accepts is what the transport uses. Pure.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "host:port" (port 1-65535, host not empty). @host and @port may be NULL
 * to only check; on success *@host is newly allocated. */
gboolean mesh_ice_server_parse_stun (const gchar * text, gchar ** host,
    guint * port);

/* "turn://user:password@host:port", user and password percent-escaped as in
 * any URI. Outputs may be NULL to only check; on success the strings are
 * newly allocated. */
gboolean mesh_ice_server_parse_turn (const gchar * text, gchar ** host,
    guint * port, gchar ** user, gchar ** password);

G_END_DECLS
