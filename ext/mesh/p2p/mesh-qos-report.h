/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What a player tells its tracker about how it plays (the "qos" message,
 * docs/protocol.md 1.4): plain data, shared by the codec, the signaller
 * that sends it and the tracker that aggregates it. In a message, the
 * counters (cdn_bytes .. stall_ms) are totals since the join of the
 * connection it goes on (the client rebases them at every join), so a lost
 * report loses nothing: the tracker counts a connection's first report in
 * full, then the growth between reports. The other members are current
 * values.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The version of the qos message this code writes; readers take any
 * version >= 1, reading the members they know. */
#define MESH_QOS_REPORT_VERSION 1
/* Every integer member is 0 .. 2^53 (a double holds it exactly) */
#define MESH_QOS_REPORT_MAX_VALUE (G_GINT64_CONSTANT (1) << 53)
/* "network": 1 to 64 characters of [A-Za-z0-9._:-] */
#define MESH_QOS_NETWORK_MAX 64

typedef struct {
  gint64 version;               /* MESH_QOS_REPORT_VERSION when written */
  gint64 cdn_bytes;             /* media and manifest bytes from the CDN */
  gint64 peer_bytes;            /* bytes from peers, verified and used */
  gint64 uploaded_bytes;        /* bytes sent to peers */
  gint64 stalls;                /* times playback ran dry after it started */
  gint64 stall_ms;              /* milliseconds spent in them */
  gint64 startup_ms;            /* request to first buffer; -1 = not yet */
  gint64 bitrate;               /* bits/s of the variant playing; 0 = unknown */
  gint64 width;                 /* of the variant playing; 0 = unknown */
  gint64 height;
  gint64 peers;                 /* peers connected now */
} MeshQosReport;

G_END_DECLS
