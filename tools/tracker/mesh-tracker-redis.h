/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerRedis: the MeshTrackerDirectory of `mesh-tracker --redis`
 * (docs/tracker.md "Redis mode"), on hiredis' asynchronous API.
 *
 * Threads: made, used and freed on the server thread; its connections run
 * on the GMainContext that is the thread-default one when it is made.
 */
#pragma once

#include "mesh-tracker-directory.h"

G_BEGIN_DECLS

#define MESH_TYPE_TRACKER_REDIS (mesh_tracker_redis_get_type ())
G_DECLARE_FINAL_TYPE (MeshTrackerRedis, mesh_tracker_redis, MESH,
    TRACKER_REDIS, GObject)

/* Whether this build has Redis mode (hiredis was found). */
gboolean mesh_tracker_redis_is_supported (void);

/* Checks "redis://HOST[:PORT][/DB]" (port 6379, db 0 by default). */
gboolean mesh_tracker_redis_parse_url (const gchar * url, gchar ** host,
    guint * port, guint * db, GError ** error);

/* A directory at @url (see mesh_tracker_redis_parse_url()) whose members
 * expire @heartbeat seconds after their instance last refreshed them (it
 * refreshes them three times as often), taking messages of up to
 * @max_message_size bytes from other instances. It connects (and
 * reconnects, with backoff) by itself; NULL and @error only for a bad
 * URL or a build without hiredis. */
MeshTrackerDirectory *mesh_tracker_redis_new (const gchar * url,
    guint heartbeat, guint max_message_size, GError ** error);

G_END_DECLS
