/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tracker's viewing figures over HTTP (docs/tracker.md, "Dashboard"):
 *
 *   GET /api/overview              totals and the overall history
 *   GET /api/swarms[?limit=N]      the swarms, the most members first
 *   GET /api/swarms/ID/history     one swarm's history (ID URL-encoded)
 *   GET /                          the dashboard page
 *   GET /dashboard/FILE            its script and style sheet
 *
 * and the player figures' lines of /metrics. With an admin token, /api and
 * / answer 401 without `Authorization: Bearer TOKEN` or the cookie that
 * `/?token=TOKEN` sets; the page's script and style sheet, /health and
 * /metrics stay open.
 *
 * Threads: the handlers run on the thread of the SoupServer's GMainContext
 * (the tracker's server thread), which also owns the MeshTrackerQos they
 * read: no lock. A MeshTrackerApi is made and freed on that thread.
 */
#pragma once

#include <libsoup/soup.h>

#include "mesh-tracker-qos.h"

G_BEGIN_DECLS
/* An admin token: 16 to 256 characters of [A-Za-z0-9._~+/=-] (it travels
 * in a header and a cookie as it is). */
#define MESH_TRACKER_ADMIN_TOKEN_MIN 16
#define MESH_TRACKER_ADMIN_TOKEN_MAX 256
/* swarms /api/swarms lists without ?limit=, and at most with it */
#define MESH_TRACKER_API_DEFAULT_LIMIT 50
#define MESH_TRACKER_API_MAX_LIMIT 1000
typedef struct _MeshTrackerApi MeshTrackerApi;

/* Adds the /api and /dashboard handlers to @soup; @qos must outlive the
 * API, and @soup must be gone before it is freed (its handlers use it);
 * @admin_token NULL: open to all. */
MeshTrackerApi *mesh_tracker_api_new (SoupServer * soup, MeshTrackerQos * qos,
    const gchar * admin_token);
void mesh_tracker_api_free (MeshTrackerApi * api);

/* Answers a GET of "/" (the page): the server's catch-all handler hands
 * it over, since a handler for "/" would take every path. */
void mesh_tracker_api_serve_page (MeshTrackerApi * api,
    SoupServerMessage * msg, GHashTable * query);

/* The player figures in Prometheus text format, appended to @out:
 * aggregates only, so that the series stay few whatever the swarms. */
/* One metric of a single value in Prometheus text format: its HELP and
 * TYPE lines, then "NAME VALUE". */
void mesh_tracker_append_metric (GString * out, const gchar * name,
    const gchar * type, const gchar * help, guint64 value);

void mesh_tracker_api_append_metrics (MeshTrackerQos * qos, GString * out);

gboolean mesh_tracker_is_valid_admin_token (const gchar * token);

/* The token in @filename (as a systemd credential provides it), without
 * trailing whitespace; NULL and @error if unreadable or not valid. */
gchar *mesh_tracker_read_admin_token (const gchar * filename, GError ** error);

G_END_DECLS
