/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-segment-cache.h. A hash table finds an entry by key; a queue
 * keeps the entries in use order, most recent at the head.
 */
#include "mesh-segment-cache.h"

typedef struct
{
  guint64 key;
  GBytes *data;
  GList link;                   /* in cache->order; data = the entry */
} CacheEntry;

struct _MeshSegmentCache
{
  GHashTable *entries;          /* guint64* key -> CacheEntry* */
  GQueue order;
  guint64 bytes;
  guint64 max_bytes;
};

static void
cache_entry_free (CacheEntry * entry)
{
  g_bytes_unref (entry->data);
  g_free (entry);
}

MeshSegmentCache *
mesh_segment_cache_new (guint64 max_bytes)
{
  MeshSegmentCache *cache = g_new0 (MeshSegmentCache, 1);

  cache->entries = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
      (GDestroyNotify) cache_entry_free);
  cache->max_bytes = max_bytes;
  return cache;
}

void
mesh_segment_cache_free (MeshSegmentCache * cache)
{
  /* the queue's links live inside the entries: freeing the entries is all */
  g_hash_table_unref (cache->entries);
  g_free (cache);
}

static void
remove_entry (MeshSegmentCache * cache, CacheEntry * entry)
{
  g_queue_unlink (&cache->order, &entry->link);
  cache->bytes -= g_bytes_get_size (entry->data);
  g_hash_table_remove (cache->entries, &entry->key);
}

static void
evict_to_fit (MeshSegmentCache * cache, GArray * evicted)
{
  while (cache->bytes > cache->max_bytes) {
    CacheEntry *oldest = g_queue_peek_tail (&cache->order);

    if (evicted)
      g_array_append_val (evicted, oldest->key);
    remove_entry (cache, oldest);
  }
}

void
mesh_segment_cache_put (MeshSegmentCache * cache, guint64 key, GBytes * data,
    GArray * evicted)
{
  CacheEntry *entry = g_hash_table_lookup (cache->entries, &key);

  if (entry)
    remove_entry (cache, entry);
  if (g_bytes_get_size (data) > cache->max_bytes)
    return;

  entry = g_new0 (CacheEntry, 1);
  entry->key = key;
  entry->data = g_bytes_ref (data);
  entry->link.data = entry;
  g_hash_table_insert (cache->entries, &entry->key, entry);
  g_queue_push_head_link (&cache->order, &entry->link);
  cache->bytes += g_bytes_get_size (data);
  evict_to_fit (cache, evicted);
}

GBytes *
mesh_segment_cache_get (MeshSegmentCache * cache, guint64 key)
{
  CacheEntry *entry = g_hash_table_lookup (cache->entries, &key);

  if (!entry)
    return NULL;
  g_queue_unlink (&cache->order, &entry->link);
  g_queue_push_head_link (&cache->order, &entry->link);
  return g_bytes_ref (entry->data);
}

gboolean
mesh_segment_cache_contains (MeshSegmentCache * cache, guint64 key)
{
  return g_hash_table_contains (cache->entries, &key);
}

void
mesh_segment_cache_set_max_bytes (MeshSegmentCache * cache, guint64 max_bytes,
    GArray * evicted)
{
  cache->max_bytes = max_bytes;
  evict_to_fit (cache, evicted);
}

guint64
mesh_segment_cache_get_bytes (MeshSegmentCache * cache)
{
  return cache->bytes;
}

guint
mesh_segment_cache_get_count (MeshSegmentCache * cache)
{
  return cache->order.length;
}

void
mesh_segment_cache_foreach (MeshSegmentCache * cache,
    void (*func) (guint64 key, GBytes * data, gpointer user_data),
    gpointer user_data)
{
  GList *l;

  for (l = cache->order.head; l; l = l->next) {
    CacheEntry *entry = l->data;
    func (entry->key, entry->data, user_data);
  }
}
