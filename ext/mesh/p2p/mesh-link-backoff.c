/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-link-backoff.h. Pure: no clock, no I/O, no globals.
 */
#include "mesh-link-backoff.h"

typedef struct
{
  guint failures;
  gint64 retry_at;
} Record;

struct _MeshLinkBackoff
{
  GHashTable *records;          /* peer id -> Record */
};

MeshLinkBackoff *
mesh_link_backoff_new (void)
{
  MeshLinkBackoff *backoff = g_new0 (MeshLinkBackoff, 1);

  backoff->records = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  return backoff;
}

void
mesh_link_backoff_free (MeshLinkBackoff * backoff)
{
  if (!backoff)
    return;
  g_hash_table_unref (backoff->records);
  g_free (backoff);
}

gboolean
mesh_link_backoff_may_call (MeshLinkBackoff * backoff, const gchar * peer_id,
    gint64 now)
{
  Record *record = g_hash_table_lookup (backoff->records, peer_id);

  return !record || now >= record->retry_at;
}

/* BASE × 2^(failures-1), capped, then between 3/4 and 5/4 of it. */
static gint64
wait_after (guint failures, GRand * rand)
{
  gint64 wait = MESH_LINK_BACKOFF_BASE_US;
  guint i;

  for (i = 1; i < failures && wait < MESH_LINK_BACKOFF_MAX_US; i++)
    wait *= 2;
  wait = MIN (wait, MESH_LINK_BACKOFF_MAX_US);
  return wait * 3 / 4 + (gint64) g_rand_double_range (rand, 0, wait / 2.0);
}

/* Makes room for one more record: the one that allows a call soonest goes,
 * as it holds the least information. */
static void
forget_soonest (MeshLinkBackoff * backoff)
{
  GHashTableIter iter;
  gpointer key, value, soonest = NULL;
  gint64 soonest_at = G_MAXINT64;

  g_hash_table_iter_init (&iter, backoff->records);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    if (((Record *) value)->retry_at < soonest_at) {
      soonest_at = ((Record *) value)->retry_at;
      soonest = key;
    }
  }
  if (soonest)
    g_hash_table_remove (backoff->records, soonest);
}

gint64
mesh_link_backoff_failed (MeshLinkBackoff * backoff, const gchar * peer_id,
    gint64 now, GRand * rand)
{
  Record *record = g_hash_table_lookup (backoff->records, peer_id);

  if (!record) {
    if (g_hash_table_size (backoff->records) >= MESH_LINK_BACKOFF_MAX_ENTRIES)
      forget_soonest (backoff);
    record = g_new0 (Record, 1);
    g_hash_table_insert (backoff->records, g_strdup (peer_id), record);
  }
  if (record->failures < G_MAXUINT)
    record->failures++;
  record->retry_at = now + wait_after (record->failures, rand);
  return record->retry_at;
}

void
mesh_link_backoff_forget (MeshLinkBackoff * backoff, const gchar * peer_id)
{
  g_hash_table_remove (backoff->records, peer_id);
}

guint
mesh_link_backoff_get_failures (MeshLinkBackoff * backoff,
    const gchar * peer_id)
{
  Record *record = g_hash_table_lookup (backoff->records, peer_id);

  return record ? record->failures : 0;
}

guint
mesh_link_backoff_size (MeshLinkBackoff * backoff)
{
  return g_hash_table_size (backoff->records);
}
