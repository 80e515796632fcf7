/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshPeerConfig: the peer-to-peer settings an element hands to its fetcher,
 * as one snapshot (settings, not state). The elements fill it from their
 * properties and never see the peer manager, its links or libsoup.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const gchar *tracker_url;     /* ws:// or wss:// */
  const gchar *token;           /* tracker access token, may be NULL */
  const gchar *swarm_id;
  const gchar *stun_server;     /* "host:port", may be NULL */
  const gchar *turn_server;     /* "turn://user:pass@host:port", may be NULL */
  const gchar *local_address;   /* restrict ICE host candidates, may be NULL */
  guint max_peers;
  gboolean upload;
  guint64 max_upload_rate;      /* bytes/s, 0 = unlimited */
  guint64 cache_size;           /* bytes */
} MeshPeerConfig;

G_END_DECLS
