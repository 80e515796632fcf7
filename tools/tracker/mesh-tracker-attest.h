/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tracker-attested segment digests (`mesh-tracker --attest-origin PREFIX`,
 * docs/tracker.md): a viewer asks for the SHA-256 of a segment by its URL
 * (and byte range); the tracker fetches it from the origin itself, once per
 * swarm, and answers with the digest the viewer then checks peer data
 * against. For providers who cannot publish mesh-hashes.json.
 *
 * Only URLs under one of the configured prefixes are fetched, compared
 * after parsing and normalising (scheme, host, port, and a path free of
 * dot segments and encoded slashes); URLs with userinfo are refused, and so
 * are redirects. Everything is bounded: the bytes read per fetch, its
 * duration, the fetches running and queued, the requests each client has
 * outstanding and sends per second, and the cache of results (entries,
 * bytes, age).
 *
 * Threads: a MeshTrackerAttest belongs to the tracker's server thread and
 * its GMainContext (thread-default when the first fetch starts, which makes
 * the SoupSession); every function but new(), free() and get_stats() is
 * called there, and replies are made from there. get_stats() is
 * thread-safe.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Defaults, used for the config fields left at 0 */
#define MESH_TRACKER_ATTEST_DEFAULT_MAX_SIZE (64 * 1024 * 1024)
#define MESH_TRACKER_ATTEST_DEFAULT_TIMEOUT 20  /* seconds per fetch */
#define MESH_TRACKER_ATTEST_DEFAULT_MAX_FETCHES 8       /* at once */
#define MESH_TRACKER_ATTEST_DEFAULT_MAX_QUEUED 1024     /* waiting for one */
#define MESH_TRACKER_ATTEST_DEFAULT_MAX_OUTSTANDING 16  /* per client */
#define MESH_TRACKER_ATTEST_DEFAULT_RATE 10     /* per second per client */
#define MESH_TRACKER_ATTEST_DEFAULT_CACHE_ENTRIES 100000
#define MESH_TRACKER_ATTEST_DEFAULT_CACHE_BYTES (32 * 1024 * 1024)
#define MESH_TRACKER_ATTEST_DEFAULT_CACHE_TTL 600       /* seconds */

typedef struct _MeshTrackerAttest MeshTrackerAttest;

typedef struct {
  const gchar *const *origins;  /* URL prefixes, NULL-terminated, >= 1 */
  guint64 max_size;             /* bytes read per fetch */
  guint timeout;                /* seconds a fetch may take */
  guint max_fetches;            /* origin fetches at once */
  guint max_queued;             /* fetches waiting for one of those */
  guint max_outstanding;        /* requests not yet answered, per client */
  guint rate;                   /* requests per second per client (burst:
                                 * twice as many) */
  guint cache_entries;
  gsize cache_bytes;            /* of the cache's keys and entries */
  guint cache_ttl;              /* seconds a digest is remembered */
} MeshTrackerAttestConfig;

typedef struct {
  guint64 requests;             /* attest requests taken */
  guint64 fetches;              /* origin fetches started */
  guint64 cached;               /* requests answered from the cache */
  guint64 refused;              /* requests answered with an error */
} MeshTrackerAttestStats;

/* How mesh_tracker_attest_request() dealt with a request. */
typedef enum {
  MESH_TRACKER_ATTEST_TAKEN,    /* answered now or later */
  MESH_TRACKER_ATTEST_LIMITED,  /* answered with an error: the client is
                                 * over its bounds, count it as a flood */
} MeshTrackerAttestOutcome;

/* Sends @text (an "attested" message) to @client. */
typedef void (*MeshTrackerAttestReply) (gpointer client, const gchar * text,
    gpointer user_data);

/* NULL and @error when a prefix is not an http(s) URL without userinfo,
 * query or fragment. */
MeshTrackerAttest *mesh_tracker_attest_new (const MeshTrackerAttestConfig *
    config, MeshTrackerAttestReply reply, gpointer user_data,
    GError ** error);

/* @client asks, for its swarm @swarm, the digest of @url's bytes @offset to
 * @offset + @length - 1 (@length -1: to the end); the answer carries @id. */
MeshTrackerAttestOutcome mesh_tracker_attest_request (MeshTrackerAttest *
    attest, gpointer client, const gchar * swarm, gint64 id,
    const gchar * url, gint64 offset, gint64 length);

/* @client is gone: no reply is made to it any more. */
void mesh_tracker_attest_forget (MeshTrackerAttest * attest, gpointer client);

/* Cancels every fetch and waits for them to end (server thread, before its
 * context goes). No reply is made afterwards. */
void mesh_tracker_attest_shutdown (MeshTrackerAttest * attest);

void mesh_tracker_attest_free (MeshTrackerAttest * attest);

void mesh_tracker_attest_get_stats (MeshTrackerAttest * attest,
    MeshTrackerAttestStats * stats);

/* @url as the tracker fetches it when it is under one of @attest's
 * prefixes, else NULL and @error (G_IO_ERROR_PERMISSION_DENIED). */
gchar *mesh_tracker_attest_check_url (MeshTrackerAttest * attest,
    const gchar * url, GError ** error);

G_END_DECLS
