/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Resolving a URI reference of a playlist or MPD against its base, for the
 * HLS and DASH parsers. Header only: they stay free of each other.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* g_uri_resolve_relative() (G_URI_FLAGS_ENCODED; @base may be NULL),
 * except that a result GLib cannot write is an error: without a host, a
 * path starting with "//"
 * ("x:/..//a" resolves to path "//a", RFC 3986 5.2.4), for which GLib 2.74
 * logs a critical and returns NULL *without setting @error*. NULL with
 * @error on failure. */
static inline gchar *
mesh_uri_resolve (const gchar * base, const gchar * reference,
    GError ** error)
{
  GUri *base_uri, *uri;
  const gchar *path;
  gchar *resolved = NULL;

  /* no @base: @reference must be absolute, as for g_uri_resolve_relative */
  if (base == NULL) {
    uri = g_uri_parse (reference, G_URI_FLAGS_ENCODED, error);
  } else {
    base_uri = g_uri_parse (base, G_URI_FLAGS_ENCODED, error);
    if (base_uri == NULL)
      return NULL;
    uri = g_uri_parse_relative (base_uri, reference, G_URI_FLAGS_ENCODED,
        error);
    g_uri_unref (base_uri);
  }
  if (uri == NULL)
    return NULL;
  path = g_uri_get_path (uri);
  if (g_uri_get_host (uri) == NULL ? (path[0] == '/' && path[1] == '/')
      : (path[0] != '\0' && path[0] != '/'))
    g_set_error (error, G_URI_ERROR, G_URI_ERROR_BAD_PATH,
        "path '%s' does not fit %s host", path,
        g_uri_get_host (uri) ? "its" : "a URI without a");
  else
    resolved = g_uri_to_string (uri);
  g_uri_unref (uri);
  return resolved;
}

G_END_DECLS
