/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A TCP port on 127.0.0.1 that nothing listens on, for the tests that need
 * a refused connection. Header only: the tests that use it link different
 * libraries and no common test helper.
 */
#pragma once

#include <gst/check/gstcheck.h>
#include <gio/gio.h>

/* Bound by us, then closed: nothing listens on it afterwards. */
static inline guint
mesh_test_unused_port (void)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback
      (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  GError *error = NULL;
  guint port;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);
  fail_unless (socket != NULL, "socket: %s", error ? error->message : "?");
  fail_unless (g_socket_bind (socket, address, FALSE, &error), "bind: %s",
      error ? error->message : "?");
  bound = g_socket_get_local_address (socket, &error);
  fail_unless (bound != NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);
  return port;
}
