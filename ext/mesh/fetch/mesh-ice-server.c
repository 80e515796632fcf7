/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-ice-server.h. Pure: no I/O, no globals.
 */
#include "mesh-ice-server.h"

#include <string.h>

gboolean
mesh_ice_server_parse_stun (const gchar * text, gchar ** host, guint * port)
{
  const gchar *colon;
  guint64 value;

  if (!text || !(colon = strrchr (text, ':')) || colon == text
      || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &value, NULL))
    return FALSE;
  if (host)
    *host = g_strndup (text, colon - text);
  if (port)
    *port = value;
  return TRUE;
}

gboolean
mesh_ice_server_parse_turn (const gchar * text, gchar ** host, guint * port,
    gchar ** user, gchar ** password)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree gchar *u = NULL, *p = NULL;
  const gchar *userinfo, *colon;

  if (!text || !(uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL))
      || g_ascii_strcasecmp (g_uri_get_scheme (uri), "turn") != 0
      || !g_uri_get_host (uri) || !*g_uri_get_host (uri)
      || g_uri_get_port (uri) <= 0)
    return FALSE;
  userinfo = g_uri_get_userinfo (uri);
  if (!userinfo || !(colon = strchr (userinfo, ':')))
    return FALSE;
  u = g_uri_unescape_segment (userinfo, colon, NULL);
  p = g_uri_unescape_string (colon + 1, NULL);
  if (!u || !p)
    return FALSE;
  if (host)
    *host = g_strdup (g_uri_get_host (uri));
  if (port)
    *port = g_uri_get_port (uri);
  if (user)
    *user = g_steal_pointer (&u);
  if (password)
    *password = g_steal_pointer (&p);
  return TRUE;
}
