/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Network locality for the tracker (docs/tracker.md "Locality",
 * docs/protocol.md 1.3 "Locality"): which network a peer is in, and peer
 * lists that prefer members of the same network.
 *
 *  - MeshLocalityTable: an IP prefix table (prefix -> ASN, name, region, or
 *    prefix -> region) loaded from a CSV file, looked up by longest prefix
 *    match in a path-compressed binary trie. Immutable once loaded and
 *    reference counted (atomically), so any thread may use a table it holds
 *    a reference on; a reload builds a new one and swaps the pointer.
 *  - MeshLocalityKey: one peer's network (address prefix, ASN, region, the
 *    player's hint).
 *  - MeshLocalityIndex: the members of one swarm bucketed by network, and
 *    the ranking that picks a peer list from it in O(list size), whatever
 *    the size of the swarm. Not thread-safe: the tracker uses one per swarm
 *    on its server thread only.
 *
 * Pure code: no I/O but reading a table's file, no main context.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS
#define MESH_LOCALITY_DEFAULT_PREFIX_V4 24
#define MESH_LOCALITY_DEFAULT_PREFIX_V6 48
/* percent of a peer list reserved for members of other networks */
#define MESH_LOCALITY_DEFAULT_CROSS_SHARE 20
/* Bounds of a table file: longest line (bytes, without the newline), the
 * most prefixes, the longest name and region. Past the first two the load
 * fails; the files are the operator's, but a wrong file must not eat the
 * server's memory. */
#define MESH_LOCALITY_MAX_LINE 1024
#define MESH_LOCALITY_MAX_ENTRIES 4000000
#define MESH_LOCALITY_MAX_NAME 255
#define MESH_LOCALITY_MAX_REGION 64
    typedef enum
{
  MESH_LOCALITY_TABLE_ASN,      /* prefix,asn,name[,region] */
  MESH_LOCALITY_TABLE_REGION,   /* prefix,region */
} MeshLocalityTableKind;

typedef struct _MeshLocalityTable MeshLocalityTable;

/* What a table says of an address. The strings belong to the table. */
typedef struct
{
  guint32 asn;                  /* 0: none */
  const gchar *name;            /* NULL: none */
  const gchar *region;          /* NULL: none */
  guint prefix_length;          /* of the prefix that matched */
} MeshLocalityMatch;

/* Parses @size bytes of CSV (see docs/tracker.md for the format). NULL and
 * @error (naming the line) on the first malformed line or past a bound. */
MeshLocalityTable *mesh_locality_table_parse (const gchar * data, gsize size,
    MeshLocalityTableKind kind, GError ** error);
/* The same from a file (mapped, not copied). */
MeshLocalityTable *mesh_locality_table_load (const gchar * filename,
    MeshLocalityTableKind kind, GError ** error);

MeshLocalityTable *mesh_locality_table_ref (MeshLocalityTable * table);
void mesh_locality_table_unref (MeshLocalityTable * table);

guint mesh_locality_table_get_size (MeshLocalityTable * table);
/* Bytes the table holds (trie, entries, strings). */
gsize mesh_locality_table_get_memory (MeshLocalityTable * table);

/* Longest prefix match of @address (IPv4-mapped IPv6 addresses are looked
 * up as IPv4). FALSE when no prefix covers it. */
gboolean mesh_locality_table_lookup (MeshLocalityTable * table,
    GInetAddress * address, MeshLocalityMatch * match);

/* "198.51.100.0/24", "2001:db8:1::/48": the prefix of @address (an
 * IPv4-mapped one as IPv4), lengths clamped to 32 and 128. */
gchar *mesh_locality_prefix (GInetAddress * address, guint prefix_v4,
    guint prefix_v6);

/* One peer's network; every member optional (NULL or 0: unknown). */
typedef struct
{
  gchar *prefix;
  guint32 asn;
  gchar *region;
  gchar *hint;
} MeshLocalityKey;

/* Fills @key for a peer at @address (NULL: unknown) with hint @hint,
 * looking up @asn_table (prefix -> ASN, maybe region) and @region_table
 * (prefix -> region, preferred to the ASN table's region); both may be
 * NULL. */
void mesh_locality_key_init (MeshLocalityKey * key, GInetAddress * address,
    const gchar * hint, guint prefix_v4, guint prefix_v6,
    MeshLocalityTable * asn_table, MeshLocalityTable * region_table);
void mesh_locality_key_clear (MeshLocalityKey * key);
/* Fills @to (empty or cleared) with copies of @from's fields. */
void mesh_locality_key_copy (MeshLocalityKey * to,
    const MeshLocalityKey * from);

typedef struct _MeshLocalityIndex MeshLocalityIndex;
typedef struct _MeshLocalityEntry MeshLocalityEntry;

MeshLocalityIndex *mesh_locality_index_new (void);
/* The index must be empty. */
void mesh_locality_index_free (MeshLocalityIndex * index);

/* Adds @member (opaque, not owned) with a copy of @key. O(1). */
MeshLocalityEntry *mesh_locality_index_add (MeshLocalityIndex * index,
    gpointer member, const MeshLocalityKey * key);
/* O(1). */
void mesh_locality_index_remove (MeshLocalityIndex * index,
    MeshLocalityEntry * entry);
guint mesh_locality_index_get_size (MeshLocalityIndex * index);

/* Tiers, nearest first, as mesh_locality_tier() ranks a pair. */
typedef enum
{
  MESH_LOCALITY_TIER_SITE,      /* same hint, or same address prefix */
  MESH_LOCALITY_TIER_ASN,
  MESH_LOCALITY_TIER_REGION,
  MESH_LOCALITY_TIER_ANY,
} MeshLocalityTier;

MeshLocalityTier mesh_locality_tier (const MeshLocalityKey * a,
    const MeshLocalityKey * b);

/* Up to @max members other than @asker's, in a new array (members, not
 * entries): the nearest tiers first, randomised within a tier, except for
 * mesh_locality_cross_count (@max, @cross_share) of them picked among the
 * members outside @asker's site tier (when there are any), so that
 * networks stay connected; those are spread evenly over the list (a
 * client that calls only its first few still calls other networks).
 * O(@max) whatever the size of the index. */
GPtrArray *mesh_locality_index_pick (MeshLocalityIndex * index,
    MeshLocalityEntry * asker, guint max, guint cross_share);

/* Places of a list of @max reserved for other networks at @cross_share
 * percent: 0 when the share is 0, else at least 1 and at most @max. */
guint mesh_locality_cross_count (guint max, guint cross_share);

/* The key an entry was added with. */
const MeshLocalityKey *mesh_locality_entry_get_key (MeshLocalityEntry * entry);

G_END_DECLS
