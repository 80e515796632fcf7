/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The segments a viewer keeps to serve its peers: a least-recently-used
 * cache of complete segment bodies, bounded in bytes. One owner (the peer
 * manager's thread); not thread-safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MeshSegmentCache MeshSegmentCache;

MeshSegmentCache *mesh_segment_cache_new (guint64 max_bytes);
void mesh_segment_cache_free (MeshSegmentCache * cache);

/* Stores @data under @key (replacing what was there) as the most recently
 * used, then evicts the least recently used ones until the cache fits; their
 * keys are appended to @evicted (guint64) when not NULL. A body larger than
 * the whole cache is not stored (and not reported as evicted). */
void mesh_segment_cache_put (MeshSegmentCache * cache, guint64 key,
    GBytes * data, GArray * evicted);

/* The body for @key (a new reference), now the most recently used; NULL when
 * absent. */
GBytes *mesh_segment_cache_get (MeshSegmentCache * cache, guint64 key);

gboolean mesh_segment_cache_contains (MeshSegmentCache * cache, guint64 key);

/* Shrinks or grows the bound, evicting as put() does. */
void mesh_segment_cache_set_max_bytes (MeshSegmentCache * cache,
    guint64 max_bytes, GArray * evicted);

guint64 mesh_segment_cache_get_bytes (MeshSegmentCache * cache);
guint mesh_segment_cache_get_count (MeshSegmentCache * cache);

/* Calls @func for every segment, most recently used first. */
void mesh_segment_cache_foreach (MeshSegmentCache * cache,
    void (*func) (guint64 key, GBytes * data, gpointer user_data),
    gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshSegmentCache, mesh_segment_cache_free);

G_END_DECLS
