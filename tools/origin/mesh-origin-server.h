/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The test origin: a small HTTP server standing in for the CDN in tests, the
 * demo and the benchmarks. It serves a directory (with Range requests), turns
 * VOD playlists into live ones under /live/, counts what it serves, and
 * injects faults on request.
 *
 * Threads: the server runs on a thread of its own with its own GMainContext
 * (started by mesh_origin_server_start()); the counters and the fault table
 * are shared with callers under the server's `lock` (see the .c file).
 *
 * HTTP interface (documented in docs/test-origin.md):
 *   GET /<path>            file under the root, Range supported (206/416)
 *   GET /live/<path>.m3u8  a media playlist turned into a live sliding window
 *                          that advances with the wall clock since start
 *                          (window length: the `live_window` segments), looping
 *                          the VOD with EXT-X-DISCONTINUITY at each wrap
 *   GET /live/<path>.mpd   a static single-Period MPD whose SegmentTemplates
 *                          use @duration and $Number$ turned into a dynamic
 *                          one: availabilityStartTime = server start (less
 *                          the time offset), UTCTiming -> /_time, and each
 *                          SegmentTemplate@media tagged with ?mpd=/<path>.mpd
 *   GET /live/<path>?mpd=/<m>.mpd
 *                          a media segment of that live MPD: 404 until its
 *                          end time has passed; numbers past the VOD loop
 *                          over its files, with 'tfdt'/'sidx' times moved on
 *                          by the passes before
 *   GET /live/<path>       any other file: the same as /<path>; segment URIs
 *                          of looped windows map back to the VOD files
 *   GET /<dir>/mesh-hashes.json, GET /live/<dir>/mesh-hashes.json
 *                          the segment digest list of <dir> (docs/hash-list.md)
 *                          as mesh-hashes builds it, when <dir> holds a
 *                          playlist or an MPD (a list on disk is served as
 *                          it is); under /live/ with the looped DASH
 *                          segments of the time-shift buffer, whose bytes
 *                          are not the files'
 *   GET /_time             the server's UTC time, ISO 8601 with milliseconds
 *   GET /_stats            JSON: {"paths": {"/p": {"requests": n, "bytes": n}},
 *                          "total_bytes": n, "total_requests": n}
 *   POST /_stats/reset     zero the counters
 *   POST /_fault?path=P&status=S&count=N&delay_ms=D&rate=B&drop_after=K
 *                          the next N requests (all if N is absent or 0) whose
 *                          path starts with P get: status S instead of the
 *                          file; or a delay of D ms before answering; or a
 *                          body paced at B bytes/s; or the connection closed
 *                          after K body bytes. Several fields may combine.
 *   POST /_fault/clear     remove every fault
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _MeshOriginServer MeshOriginServer;

typedef struct {
  const gchar *root;            /* directory to serve */
  const gchar *host;            /* address to bind, "127.0.0.1" when NULL */
  guint port;                   /* 0 = the OS picks */
  guint live_window;            /* segments in a live window, 0 = 6 */
} MeshOriginConfig;

/* Binds and starts serving on the server's own thread. NULL on failure. */
MeshOriginServer *mesh_origin_server_start (const MeshOriginConfig * config,
    GError ** error);

/* Stops the thread and frees everything. */
void mesh_origin_server_stop (MeshOriginServer * server);

guint mesh_origin_server_get_port (MeshOriginServer * server);

/* "http://127.0.0.1:PORT" (no trailing slash); transfer none. */
const gchar *mesh_origin_server_get_base_url (MeshOriginServer * server);

/* Counters, as /_stats reports them. Thread-safe. */
guint64 mesh_origin_server_get_bytes (MeshOriginServer * server,
    const gchar * path_prefix);
guint mesh_origin_server_get_requests (MeshOriginServer * server,
    const gchar * path_prefix);
void mesh_origin_server_reset_stats (MeshOriginServer * server);

/* The same faults as POST /_fault, from C. count 0 = until cleared; status 0,
 * delay_ms 0, rate 0 and drop_after -1 mean "not this fault". Thread-safe. */
typedef struct {
  const gchar *path_prefix;
  guint count;
  guint status;
  guint delay_ms;
  guint64 rate;                 /* bytes per second */
  gint64 drop_after;            /* bytes, -1 = never */
} MeshOriginFault;

void mesh_origin_server_add_fault (MeshOriginServer * server,
    const MeshOriginFault * fault);
void mesh_origin_server_clear_faults (MeshOriginServer * server);

/* Test hook: shifts the clock of the /live/ windows and live MPDs by
 * @offset_us (microseconds, may be negative; the clock never goes below 0),
 * so that tests can look at any point of the loop without sleeping; a live
 * MPD's availabilityStartTime moves back by as much. Thread-safe. */
void mesh_origin_server_set_time_offset (MeshOriginServer * server,
    gint64 offset_us);

G_END_DECLS
