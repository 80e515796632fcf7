/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Builds the segment digest list of a directory (docs/hash-list.md): walks
 * it, hashes its media files with SHA-256, finds the byte ranges that its
 * playlists and MPDs address (with the elements' own parsers) and hashes
 * those too, and writes the list as JSON. Shared by mesh-hashes (one-shot
 * and --watch) and the test origin, so that both publish the same list.
 *
 * An update is incremental: a file is hashed again only when its size,
 * modification time or listed ranges changed. A MeshHashScan is not
 * thread-safe: it belongs to the thread that created it (mesh-hashes' main
 * thread, the origin's server thread). Disk I/O only; no network.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Which files are media: regular files, not hidden (".name"), not ending
 * in .m3u8, .mpd or .json (manifests and this list), nor in .tmp or .part
 * (what packagers write before they rename). Symbolic links to files are
 * followed, to directories not (no loops). */
gboolean mesh_hash_scan_is_media_name (const gchar * name);

/* One file of the list. */
typedef struct {
  gchar *path;                  /* key: relative to the directory, '/' */
  gint64 size;
  guint8 digest[32];
  GArray *ranges;               /* MeshHashRange, by offset then length */
} MeshHashEntry;

typedef struct {
  gint64 offset;
  gint64 length;
  guint8 digest[32];
} MeshHashRange;

MeshHashEntry *mesh_hash_entry_new (const gchar * path, gint64 size,
    const guint8 digest[32]);
void mesh_hash_entry_free (MeshHashEntry * entry);

/* The list's JSON for @entries (MeshHashEntry*, in any order; written
 * sorted by path so that the same files give the same bytes). */
gchar *mesh_hash_entries_to_json (GPtrArray * entries, gsize * length);

typedef enum {
  MESH_HASH_SCAN_NONE = 0,
  /* List a new or changed file only once two updates in a row found the
   * same size and modification time (and hashing did not see it change):
   * a file that a packager is still writing is left out until then. */
  MESH_HASH_SCAN_SETTLE = 1 << 0,
} MeshHashScanFlags;

typedef struct {
  guint files;                  /* listed after the update */
  guint ranges;
  guint added;                  /* files listed that were not before */
  guint removed;                /* files no longer listed */
  guint hashed;                 /* files read by this update */
  guint pending;                /* seen but not listed yet (SETTLE) */
  guint skipped;                /* left out with a warning (see below) */
  gboolean changed;             /* the list differs from the last update's */
} MeshHashScanStats;

typedef struct _MeshHashScan MeshHashScan;

MeshHashScan *mesh_hash_scan_new (const gchar * dir);
void mesh_hash_scan_free (MeshHashScan * scan);

/* Brings the list up to date with the directory. FALSE with @error only
 * when the directory itself cannot be read (the list is then unchanged);
 * a file that cannot be read or listed is skipped, counted, and named in
 * mesh_hash_scan_get_warnings(). @stats may be NULL. */
gboolean mesh_hash_scan_update (MeshHashScan * scan, MeshHashScanFlags flags,
    MeshHashScanStats * stats, GError ** error);

/* One line per file the last update skipped or ranges it dropped, and
 * manifests it could not read. Transfer none. */
GPtrArray *mesh_hash_scan_get_warnings (MeshHashScan * scan);

/* The listed files, MeshHashEntry* owned by @scan (valid until the next
 * update); a new array (free it). */
GPtrArray *mesh_hash_scan_get_entries (MeshHashScan * scan);

gchar *mesh_hash_scan_to_json (MeshHashScan * scan, gsize * length);

/* Writes DIR/mesh-hashes.json: a hidden temporary file in DIR, flushed to
 * disk, renamed over the list, so that readers see the old list or the new
 * one, never part of one. */
gboolean mesh_hash_scan_write (MeshHashScan * scan, GError ** error);

/* The SHA-256 of @data, for callers that serve derived bytes. */
void mesh_hash_compute (GBytes * data, guint8 digest[32]);

G_END_DECLS
