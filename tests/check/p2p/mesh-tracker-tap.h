/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerTap: a WebSocket relay for tests, put between players and a
 * real tracker, that records what each connection sends the tracker (its
 * join and its qos reports) while passing every message on both ways. So
 * an element-level test sees the qos reports of each viewer without the
 * tracker having to keep them.
 *
 * Threads: the tap runs its own thread and GMainContext (its SoupServer,
 * the upstream SoupSession and every connection live there); its record is
 * guarded by a mutex, and the functions below may be called from any
 * thread.
 */
#pragma once

#include <glib.h>

#include "p2p/mesh-qos-report.h"

G_BEGIN_DECLS

typedef struct _MeshTrackerTap MeshTrackerTap;

/* What one connection sent the tracker. */
typedef struct
{
  gchar *peer;                  /* from its join, NULL before */
  gchar *network;               /* the join's network hint, NULL: none */
  guint qos_before_join;        /* qos messages before a join */
  guint qos;                    /* qos messages after it */
  guint malformed;              /* messages the tracker codec refuses */
  MeshQosReport first_qos, last_qos;
} MeshTrackerTapConnection;

/* Listens on 127.0.0.1, port 0, relaying to @tracker_url (ws://). */
MeshTrackerTap *mesh_tracker_tap_start (const gchar * tracker_url);

/* ws:// URL of the tap, for the players' "tracker". */
const gchar *mesh_tracker_tap_get_url (MeshTrackerTap * tap);

/* A copy of the record: one entry per connection made so far, in order
 * (free with mesh_tracker_tap_connections_free()). */
GArray *mesh_tracker_tap_dup_connections (MeshTrackerTap * tap);
void mesh_tracker_tap_connections_free (GArray * connections);

/* Waits until the (first) connection that joined with the network hint
 * @network sent @n qos reports or more, for at most @timeout_ms. */
gboolean mesh_tracker_tap_wait_qos (MeshTrackerTap * tap,
    const gchar * network, guint n, guint timeout_ms);

/* Closes every connection and stops the thread. */
void mesh_tracker_tap_stop (MeshTrackerTap * tap);

G_END_DECLS
