/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Network locality for the tracker (see mesh-tracker-locality.h).
 *
 * Threads: a MeshLocalityTable is built by one thread (whoever loads it)
 * and never written again, so it is shared by reference (atomic count).
 * A MeshLocalityIndex belongs to the thread that made it (the tracker's
 * server thread) and has no lock.
 *
 * The table's trie: one per address family, binary and path-compressed
 * (a node skips the bits its only path shares), so it has fewer than two
 * nodes per prefix and a lookup visits at most 33 (IPv4) or 129 (IPv6)
 * nodes. A node does not store its bits: it names an entry whose address
 * starts with them (a branch node, one of the entries below it). Nodes
 * and entries are flat arrays indexed by 32-bit numbers, 16 and 28 bytes
 * each; names and regions are stored once each in one string pool.
 */

#include "mesh-tracker-locality.h"

#include <arpa/inet.h>
#include <string.h>

#define NO_NODE 0               /* the root is node 0 and nobody's child */
#define NO_STRING 0             /* offset 0 of the pool is "" */
#define MAX_FIELDS 5            /* one more than any kind has: "too many" */
#define MAX_ADDRESS_TEXT 64     /* an address and its length, as text */

typedef struct
{
  guint32 child[2];
  guint32 entry;                /* whose address starts with this node's bits,
                                 * and the value when has_value */
  guint8 bits;                  /* prefix length, 0 - 128 */
  guint8 has_value;
} Node;

typedef struct
{
  guint8 address[16];           /* IPv4 in the first 4 bytes */
  guint32 asn;
  guint32 name;                 /* offsets in the string pool */
  guint32 region;
} Entry;

typedef struct
{
  Node *nodes;
  guint32 n_nodes;
  guint32 capacity;
  guint max_bits;               /* 32 or 128 */
} Trie;

struct _MeshLocalityTable
{
  Trie v4;
  Trie v6;
  Entry *entries;
  guint32 n_entries;
  guint32 capacity;
  GString *strings;             /* "\0name\0region\0..." */
  GHashTable *string_offsets;   /* while loading only: string -> offset */
};

/* ------------------------------------------------------------------------ */
/* Bits                                                                     */

static guint
bit_at (const guint8 * address, guint bit)
{
  return (address[bit / 8] >> (7 - bit % 8)) & 1;
}

/* How many of the first @limit bits @a and @b share. */
static guint
common_bits (const guint8 * a, const guint8 * b, guint limit)
{
  guint bits = 0;

  while (bits + 8 <= limit && a[bits / 8] == b[bits / 8])
    bits += 8;
  while (bits < limit && bit_at (a, bits) == bit_at (b, bits))
    bits++;
  return bits;
}

static void
mask_bits (guint8 * address, guint bits, gsize size)
{
  guint i;

  for (i = 0; i < size; i++) {
    if (bits >= (i + 1) * 8)
      continue;
    address[i] &= bits <= i * 8 ? 0 : (guint8) (0xff << (8 - (bits - i * 8)));
  }
}

/* The 4 or 16 bytes of @address, an IPv4-mapped IPv6 one as IPv4.
 * Returns the length in bits (32 or 128). */
static guint
address_bytes (GInetAddress * address, guint8 out[16])
{
  const guint8 *bytes = g_inet_address_to_bytes (address);

  memset (out, 0, 16);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4) {
    memcpy (out, bytes, 4);
    return 32;
  }
  if (memcmp (bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
    memcpy (out, bytes + 12, 4);
    return 32;
  }
  memcpy (out, bytes, 16);
  return 128;
}

/* ------------------------------------------------------------------------ */
/* Trie                                                                     */

static guint32
trie_add_node (Trie * trie, guint32 entry, guint bits, gboolean has_value)
{
  Node *node;

  if (trie->n_nodes == trie->capacity) {
    trie->capacity = MAX (64, trie->capacity * 2);
    trie->nodes = g_renew (Node, trie->nodes, trie->capacity);
  }
  node = &trie->nodes[trie->n_nodes];
  node->child[0] = node->child[1] = NO_NODE;
  node->entry = entry;
  node->bits = bits;
  node->has_value = has_value;
  return trie->n_nodes++;
}

static void
trie_init (Trie * trie, guint max_bits)
{
  trie->max_bits = max_bits;
  trie_add_node (trie, 0, 0, FALSE);
}

/* Gives back what doubling left unused once the trie is complete. */
static void
trie_shrink (Trie * trie)
{
  trie->capacity = trie->n_nodes;
  trie->nodes = g_renew (Node, trie->nodes, trie->capacity);
}

/* Adds prefix @bits of entry @entry (a later one for the same prefix
 * replaces an earlier one). Nodes are reached by index: adding may move
 * the array. */
static void
trie_insert (Trie * trie, const Entry * entries, guint32 entry, guint bits)
{
  const guint8 *key = entries[entry].address;
  guint32 current = 0;

  while (TRUE) {
    Node *node = &trie->nodes[current];
    guint side, common;
    guint32 child, added;

    if (node->bits == bits) {
      node->entry = entry;
      node->has_value = TRUE;
      return;
    }
    side = bit_at (key, node->bits);
    child = node->child[side];
    if (child == NO_NODE) {
      added = trie_add_node (trie, entry, bits, TRUE);
      trie->nodes[current].child[side] = added;
      return;
    }
    common = common_bits (key, entries[trie->nodes[child].entry].address,
        MIN (bits, trie->nodes[child].bits));
    if (common == trie->nodes[child].bits) {
      current = child;
      continue;
    }
    /* the new prefix and the child part before the child's bits end */
    added = trie_add_node (trie, entry, common, common == bits);
    trie->nodes[added].child[bit_at (entries[trie->nodes[child].entry].address,
            common)] = child;
    if (common < bits) {
      guint32 leaf = trie_add_node (trie, entry, bits, TRUE);

      trie->nodes[added].child[bit_at (key, common)] = leaf;
    }
    trie->nodes[current].child[side] = added;
    return;
  }
}

/* The entry of the longest prefix covering @key, or -1. */
static gint64
trie_lookup (const Trie * trie, const Entry * entries, const guint8 * key,
    guint * bits)
{
  guint32 current = 0;
  gint64 best = -1;

  while (TRUE) {
    const Node *node = &trie->nodes[current];

    if (node->bits > 0 && common_bits (key, entries[node->entry].address,
            node->bits) < node->bits)
      break;
    if (node->has_value) {
      best = node->entry;
      *bits = node->bits;
    }
    if (node->bits >= trie->max_bits)
      break;
    current = node->child[bit_at (key, node->bits)];
    if (current == NO_NODE)
      break;
  }
  return best;
}

/* ------------------------------------------------------------------------ */
/* Table                                                                    */

static void
table_clear (MeshLocalityTable * table)
{
  g_free (table->v4.nodes);
  g_free (table->v6.nodes);
  g_free (table->entries);
  if (table->strings)
    g_string_free (table->strings, TRUE);
  g_clear_pointer (&table->string_offsets, g_hash_table_unref);
}

static MeshLocalityTable *
table_new (void)
{
  MeshLocalityTable *table = g_atomic_rc_box_new0 (MeshLocalityTable);

  trie_init (&table->v4, 32);
  trie_init (&table->v6, 128);
  table->strings = g_string_new_len ("", 1);
  table->string_offsets = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);
  return table;
}

MeshLocalityTable *
mesh_locality_table_ref (MeshLocalityTable * table)
{
  return g_atomic_rc_box_acquire (table);
}

void
mesh_locality_table_unref (MeshLocalityTable * table)
{
  if (table)
    g_atomic_rc_box_release_full (table, (GDestroyNotify) table_clear);
}

guint
mesh_locality_table_get_size (MeshLocalityTable * table)
{
  return table->n_entries;
}

gsize
mesh_locality_table_get_memory (MeshLocalityTable * table)
{
  return sizeof (*table) + (gsize) table->v4.capacity * sizeof (Node) +
      (gsize) table->v6.capacity * sizeof (Node) +
      (gsize) table->capacity * sizeof (Entry) + table->strings->allocated_len;
}

/* The offset of @text in the string pool, stored once. */
static guint32
table_intern (MeshLocalityTable * table, const gchar * text)
{
  gpointer offset;

  if (!text || !*text)
    return NO_STRING;
  if (g_hash_table_lookup_extended (table->string_offsets, text, NULL, &offset))
    return GPOINTER_TO_UINT (offset);
  offset = GUINT_TO_POINTER (table->strings->len);
  g_string_append_len (table->strings, text, strlen (text) + 1);
  g_hash_table_insert (table->string_offsets, g_strdup (text), offset);
  return GPOINTER_TO_UINT (offset);
}

static guint32
table_add_entry (MeshLocalityTable * table, const Entry * entry)
{
  if (table->n_entries == table->capacity) {
    table->capacity = MAX (64, table->capacity * 2);
    table->entries = g_renew (Entry, table->entries, table->capacity);
  }
  table->entries[table->n_entries] = *entry;
  return table->n_entries++;
}

static void
table_finish (MeshLocalityTable * table)
{
  trie_shrink (&table->v4);
  trie_shrink (&table->v6);
  table->capacity = table->n_entries;
  table->entries = g_renew (Entry, table->entries, table->capacity);
  g_clear_pointer (&table->string_offsets, g_hash_table_unref);
}

gboolean
mesh_locality_table_lookup (MeshLocalityTable * table,
    GInetAddress * address, MeshLocalityMatch * match)
{
  guint8 key[16];
  guint bits = 0;
  gint64 found;
  const Entry *entry;

  g_return_val_if_fail (table != NULL && address != NULL, FALSE);
  memset (match, 0, sizeof (*match));
  found = address_bytes (address, key) == 32 ?
      trie_lookup (&table->v4, table->entries, key, &bits) :
      trie_lookup (&table->v6, table->entries, key, &bits);
  if (found < 0)
    return FALSE;
  entry = &table->entries[found];
  match->asn = entry->asn;
  match->name = entry->name ? table->strings->str + entry->name : NULL;
  match->region = entry->region ? table->strings->str + entry->region : NULL;
  match->prefix_length = bits;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* CSV                                                                      */

/* Splits one line (without its end) into at most MAX_FIELDS fields in
 * @buffer (as large as the line plus one): comma separated, a field in
 * double quotes may hold commas and "" for a quote; spaces around a field
 * are dropped. Returns the count, or -1 with @why. */
static gint
split_fields (const gchar * line, gsize length, gchar * buffer,
    gchar ** fields, const gchar ** why)
{
  const gchar *p = line, *end = line + length;
  gchar *out = buffer;
  gint count = 0;

  while (TRUE) {
    gchar *start, *last;

    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
    if (count == MAX_FIELDS) {
      *why = "too many fields";
      return -1;
    }
    start = out;
    if (p < end && *p == '"') {
      for (p++; p < end && !(*p == '"' && (p + 1 == end || p[1] != '"')); p++) {
        if (*p == '"')
          p++;
        *out++ = *p;
      }
      if (p == end) {
        *why = "unterminated quote";
        return -1;
      }
      p++;
      last = out;
      while (p < end && (*p == ' ' || *p == '\t'))
        p++;
      if (p < end && *p != ',') {
        *why = "text after a quoted field";
        return -1;
      }
    } else {
      while (p < end && *p != ',')
        *out++ = *p++;
      last = out;
      while (last > start && (last[-1] == ' ' || last[-1] == '\t'))
        last--;
    }
    *last = '\0';
    out = last + 1;
    fields[count++] = start;
    if (p == end)
      return count;
    p++;                        /* the comma */
  }
}

/* "a.b.c.d/len", "v6/len", or an address alone (all its bits). Host bits
 * past the length are cleared. */
static gboolean
parse_prefix (const gchar * text, Entry * entry, guint * bits, gboolean * v6)
{
  gchar address[MAX_ADDRESS_TEXT];
  const gchar *slash = strchr (text, '/');
  gsize length = slash ? (gsize) (slash - text) : strlen (text);
  guint64 value;
  gchar *end;

  if (length == 0 || length >= sizeof (address))
    return FALSE;
  memcpy (address, text, length);
  address[length] = '\0';
  memset (entry->address, 0, sizeof (entry->address));
  if (inet_pton (AF_INET, address, entry->address) == 1)
    *v6 = FALSE;
  else if (inet_pton (AF_INET6, address, entry->address) == 1)
    *v6 = TRUE;
  else
    return FALSE;
  *bits = *v6 ? 128 : 32;
  if (slash) {
    if (!g_ascii_isdigit (slash[1]) || strlen (slash + 1) > 3)
      return FALSE;
    value = g_ascii_strtoull (slash + 1, &end, 10);
    if (*end != '\0' || value > *bits)
      return FALSE;
    *bits = value;
  }
  mask_bits (entry->address, *bits, sizeof (entry->address));
  return TRUE;
}

/* "64500" or "AS64500". */
static gboolean
parse_asn (const gchar * text, guint32 * asn)
{
  guint64 value;
  gchar *end;

  if (g_ascii_strncasecmp (text, "AS", 2) == 0)
    text += 2;
  if (!g_ascii_isdigit (*text) || strlen (text) > 10)
    return FALSE;
  value = g_ascii_strtoull (text, &end, 10);
  if (*end != '\0' || value > G_MAXUINT32)
    return FALSE;
  *asn = value;
  return TRUE;
}

/* Printable text (UTF-8 allowed, no control character), at most @max
 * bytes. */
static gboolean
is_label (const gchar * text, gsize max)
{
  const guchar *p;

  if (strlen (text) > max || !g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (p = (const guchar *) text; *p; p++) {
    if (*p < 0x20 || *p == 0x7f)
      return FALSE;
  }
  return TRUE;
}

/* Fills @entry from the fields of one data line; NULL, or why not. */
static const gchar *
parse_entry (MeshLocalityTable * table, MeshLocalityTableKind kind,
    gchar ** fields, gint count, Entry * entry, guint * bits, gboolean * v6)
{
  const gchar *region = NULL;

  memset (entry, 0, sizeof (*entry));
  if (!parse_prefix (fields[0], entry, bits, v6))
    return "not an IP prefix";
  if (kind == MESH_LOCALITY_TABLE_REGION) {
    if (count != 2)
      return "expected prefix,region";
    region = fields[1];
  } else {
    if (count != 3 && count != 4)
      return "expected prefix,asn,name[,region]";
    if (!parse_asn (fields[1], &entry->asn))
      return "not an ASN";
    if (!is_label (fields[2], MESH_LOCALITY_MAX_NAME))
      return "name too long or not printable";
    entry->name = table_intern (table, fields[2]);
    region = count == 4 ? fields[3] : NULL;
  }
  if (region && !is_label (region, MESH_LOCALITY_MAX_REGION))
    return "region too long or not printable";
  entry->region = table_intern (table, region);
  return NULL;
}

static gboolean
is_header (gchar ** fields, gint count)
{
  return count > 1 && g_ascii_strcasecmp (fields[0], "prefix") == 0;
}

/* Why one line (without its end, not blank, not a comment, within the
 * bound) is refused,
 * or NULL; the entry it makes is added to @table, a header is skipped. */
static const gchar *
parse_data_line (MeshLocalityTable * table, MeshLocalityTableKind kind,
    const gchar * line, gsize length, guint number)
{
  gchar buffer[MESH_LOCALITY_MAX_LINE + 1];
  gchar *fields[MAX_FIELDS];
  const gchar *why = NULL;
  gint count;
  Entry entry;
  guint32 added;
  guint bits;
  gboolean v6;

  count = split_fields (line, length, buffer, fields, &why);
  if (count < 0)
    return why;
  if (number == 1 && is_header (fields, count))
    return NULL;
  if (table->n_entries >= MESH_LOCALITY_MAX_ENTRIES)
    return "too many prefixes";
  why = parse_entry (table, kind, fields, count, &entry, &bits, &v6);
  if (why)
    return why;
  /* adding may move the entries: the array is read after */
  added = table_add_entry (table, &entry);
  trie_insert (v6 ? &table->v6 : &table->v4, table->entries, added, bits);
  return NULL;
}

/* One line; FALSE with @error naming line @number. */
static gboolean
parse_line (MeshLocalityTable * table, MeshLocalityTableKind kind,
    const gchar * line, gsize length, guint number, GError ** error)
{
  const gchar *why;

  if (length > 0 && line[length - 1] == '\r')
    length--;
  if (length > MESH_LOCALITY_MAX_LINE)
    why = "line too long";
  else if (length == 0 || line[0] == '#')
    return TRUE;
  else
    why = parse_data_line (table, kind, line, length, number);
  if (why)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "line %u: %s",
        number, why);
  return why == NULL;
}

MeshLocalityTable *
mesh_locality_table_parse (const gchar * data, gsize size,
    MeshLocalityTableKind kind, GError ** error)
{
  MeshLocalityTable *table = table_new ();
  const gchar *p = data, *end = data + size;
  guint number = 0;

  while (p < end) {
    const gchar *newline = memchr (p, '\n', end - p);
    const gchar *line_end = newline ? newline : end;

    if (!parse_line (table, kind, p, line_end - p, ++number, error)) {
      mesh_locality_table_unref (table);
      return NULL;
    }
    p = newline ? newline + 1 : end;
  }
  table_finish (table);
  return table;
}

MeshLocalityTable *
mesh_locality_table_load (const gchar * filename, MeshLocalityTableKind kind,
    GError ** error)
{
  g_autoptr (GMappedFile) file = NULL;
  g_autoptr (GError) parse_error = NULL;
  MeshLocalityTable *table;

  file = g_mapped_file_new (filename, FALSE, error);
  if (!file)
    return NULL;
  table = mesh_locality_table_parse (g_mapped_file_get_contents (file),
      g_mapped_file_get_length (file), kind, &parse_error);
  if (!table)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s",
        filename, parse_error->message);
  return table;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */

gchar *
mesh_locality_prefix (GInetAddress * address, guint prefix_v4, guint prefix_v6)
{
  guint8 bytes[16];
  gchar text[INET6_ADDRSTRLEN];
  guint bits = address_bytes (address, bytes);
  gboolean v4 = bits == 32;

  bits = v4 ? MIN (prefix_v4, 32) : MIN (prefix_v6, 128);
  mask_bits (bytes, bits, sizeof (bytes));
  inet_ntop (v4 ? AF_INET : AF_INET6, bytes, text, sizeof (text));
  return g_strdup_printf ("%s/%u", text, bits);
}

void
mesh_locality_key_init (MeshLocalityKey * key, GInetAddress * address,
    const gchar * hint, guint prefix_v4, guint prefix_v6,
    MeshLocalityTable * asn_table, MeshLocalityTable * region_table)
{
  MeshLocalityMatch match;

  memset (key, 0, sizeof (*key));
  key->hint = g_strdup (hint);
  if (!address)
    return;
  key->prefix = mesh_locality_prefix (address, prefix_v4, prefix_v6);
  if (asn_table && mesh_locality_table_lookup (asn_table, address, &match)) {
    key->asn = match.asn;
    key->region = g_strdup (match.region);
  }
  if (region_table && mesh_locality_table_lookup (region_table, address,
          &match) && match.region) {
    g_free (key->region);
    key->region = g_strdup (match.region);
  }
}

void
mesh_locality_key_clear (MeshLocalityKey * key)
{
  g_clear_pointer (&key->prefix, g_free);
  g_clear_pointer (&key->region, g_free);
  g_clear_pointer (&key->hint, g_free);
  key->asn = 0;
}

void
mesh_locality_key_copy (MeshLocalityKey * to, const MeshLocalityKey * from)
{
  to->prefix = g_strdup (from->prefix);
  to->asn = from->asn;
  to->region = g_strdup (from->region);
  to->hint = g_strdup (from->hint);
}

static gboolean
same_string (const gchar * a, const gchar * b)
{
  return a && b && strcmp (a, b) == 0;
}

MeshLocalityTier
mesh_locality_tier (const MeshLocalityKey * a, const MeshLocalityKey * b)
{
  if (same_string (a->hint, b->hint) || same_string (a->prefix, b->prefix))
    return MESH_LOCALITY_TIER_SITE;
  if (a->asn && a->asn == b->asn)
    return MESH_LOCALITY_TIER_ASN;
  if (same_string (a->region, b->region))
    return MESH_LOCALITY_TIER_REGION;
  return MESH_LOCALITY_TIER_ANY;
}

/* ------------------------------------------------------------------------ */
/* Index                                                                    */

/* The buckets an entry is in, nearest first. */
typedef enum
{
  BUCKET_HINT,
  BUCKET_PREFIX,
  BUCKET_ASN,
  BUCKET_REGION,
  N_BUCKETS
} BucketKind;

/* Arrays this small are scanned whole when picking; larger ones are
 * sampled (see take_from()). */
#define SCAN_FACTOR 4
#define SCAN_SLACK 32
/* random tries per place wanted, and more, when sampling a large array */
#define SAMPLE_TRIES 8
#define SAMPLE_SLACK 32

typedef struct
{
  gchar *name;                  /* kind letter and value: "p10.0.0.0/24" */
  GPtrArray *entries;           /* MeshLocalityEntry, unordered */
} Bucket;

struct _MeshLocalityEntry
{
  gpointer member;
  MeshLocalityKey key;
  guint all_slot;               /* in index->all */
  Bucket *buckets[N_BUCKETS];   /* NULL: that part of the key is unknown */
  guint slots[N_BUCKETS];       /* in each bucket's entries */
};

struct _MeshLocalityIndex
{
  GPtrArray *all;               /* MeshLocalityEntry (owned), unordered */
  GHashTable *buckets;          /* name -> Bucket (owned) */
};

static void
bucket_free (gpointer data)
{
  Bucket *bucket = data;

  g_free (bucket->name);
  g_ptr_array_unref (bucket->entries);
  g_free (bucket);
}

MeshLocalityIndex *
mesh_locality_index_new (void)
{
  MeshLocalityIndex *index = g_new0 (MeshLocalityIndex, 1);

  index->all = g_ptr_array_new ();
  index->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      bucket_free);
  return index;
}

void
mesh_locality_index_free (MeshLocalityIndex * index)
{
  if (!index)
    return;
  g_warn_if_fail (index->all->len == 0);
  g_ptr_array_unref (index->all);
  g_hash_table_unref (index->buckets);
  g_free (index);
}

guint
mesh_locality_index_get_size (MeshLocalityIndex * index)
{
  return index->all->len;
}

const MeshLocalityKey *
mesh_locality_entry_get_key (MeshLocalityEntry * entry)
{
  return &entry->key;
}

/* The bucket name of one part of @key, NULL when that part is unknown. */
static gchar *
bucket_name (const MeshLocalityKey * key, BucketKind kind)
{
  switch (kind) {
    case BUCKET_HINT:
      return key->hint ? g_strconcat ("h", key->hint, NULL) : NULL;
    case BUCKET_PREFIX:
      return key->prefix ? g_strconcat ("p", key->prefix, NULL) : NULL;
    case BUCKET_ASN:
      return key->asn ? g_strdup_printf ("a%u", key->asn) : NULL;
    case BUCKET_REGION:
      return key->region ? g_strconcat ("r", key->region, NULL) : NULL;
    default:
      g_assert_not_reached ();
  }
}

/* Appends @entry to @array; its slot there goes in *slot. */
static void
slot_add (GPtrArray * array, gpointer entry, guint * slot)
{
  *slot = array->len;
  g_ptr_array_add (array, entry);
}

/* Removes the item at @slot: the last one takes its place, and its own
 * slot number, found through @slot_of, is updated. */
static void
slot_remove (GPtrArray * array, guint slot, guint * (*slot_of) (gpointer,
        gpointer), gpointer data)
{
  gpointer last = g_ptr_array_index (array, array->len - 1);

  g_ptr_array_index (array, slot) = last;
  *slot_of (last, data) = slot;
  g_ptr_array_set_size (array, array->len - 1);
}

static guint *
all_slot_of (gpointer entry, gpointer data)
{
  return &((MeshLocalityEntry *) entry)->all_slot;
}

static guint *
bucket_slot_of (gpointer entry, gpointer data)
{
  return &((MeshLocalityEntry *) entry)->slots[GPOINTER_TO_UINT (data)];
}

MeshLocalityEntry *
mesh_locality_index_add (MeshLocalityIndex * index, gpointer member,
    const MeshLocalityKey * key)
{
  MeshLocalityEntry *entry = g_new0 (MeshLocalityEntry, 1);
  guint kind;

  entry->member = member;
  mesh_locality_key_copy (&entry->key, key);
  slot_add (index->all, entry, &entry->all_slot);
  for (kind = 0; kind < N_BUCKETS; kind++) {
    g_autofree gchar *name = bucket_name (key, kind);
    Bucket *bucket;

    if (!name)
      continue;
    bucket = g_hash_table_lookup (index->buckets, name);
    if (!bucket) {
      bucket = g_new0 (Bucket, 1);
      bucket->name = g_steal_pointer (&name);
      bucket->entries = g_ptr_array_new ();
      g_hash_table_insert (index->buckets, bucket->name, bucket);
    }
    entry->buckets[kind] = bucket;
    slot_add (bucket->entries, entry, &entry->slots[kind]);
  }
  return entry;
}

void
mesh_locality_index_remove (MeshLocalityIndex * index,
    MeshLocalityEntry * entry)
{
  guint kind;

  slot_remove (index->all, entry->all_slot, all_slot_of, NULL);
  for (kind = 0; kind < N_BUCKETS; kind++) {
    Bucket *bucket = entry->buckets[kind];

    if (!bucket)
      continue;
    slot_remove (bucket->entries, entry->slots[kind], bucket_slot_of,
        GUINT_TO_POINTER (kind));
    if (bucket->entries->len == 0)
      g_hash_table_remove (index->buckets, bucket->name);
  }
  mesh_locality_key_clear (&entry->key);
  g_free (entry);
}

guint
mesh_locality_cross_count (guint max, guint cross_share)
{
  guint count;

  if (cross_share == 0 || max == 0)
    return 0;
  count = ((guint64) max * MIN (cross_share, 100) + 50) / 100;
  return CLAMP (count, 1, max);
}

/* One pick under way. */
typedef struct
{
  MeshLocalityEntry *asker;
  GHashTable *chosen;           /* entries picked, and the asker */
  GPtrArray *picked;            /* members */
  guint max;
} Pick;

typedef gboolean (*PickFilter) (Pick * pick, MeshLocalityEntry * entry);

static void
pick_take (Pick * pick, MeshLocalityEntry * entry)
{
  g_hash_table_add (pick->chosen, entry);
  g_ptr_array_add (pick->picked, entry->member);
}

static gboolean
pick_wants (Pick * pick, MeshLocalityEntry * entry, PickFilter filter)
{
  return !g_hash_table_contains (pick->chosen, entry) && (!filter
      || filter (pick, entry));
}

/* Takes up to @quota random entries of @array that pass @filter and were
 * not picked yet, until the list holds @limit. A small array is scanned
 * whole, so that every candidate has its chance; a large one (larger than
 * SCAN_FACTOR times the list, plus some) is sampled with a bounded number
 * of tries, so that the cost stays O(@quota) whatever its size. */
static void
take_from (Pick * pick, GPtrArray * array, guint limit, PickFilter filter)
{
  guint i, wanted;

  if (!array || pick->picked->len >= limit)
    return;
  wanted = limit - pick->picked->len;
  if (array->len <= pick->max * SCAN_FACTOR + SCAN_SLACK) {
    g_autoptr (GPtrArray) candidates = g_ptr_array_new ();

    for (i = 0; i < array->len; i++) {
      if (pick_wants (pick, g_ptr_array_index (array, i), filter))
        g_ptr_array_add (candidates, g_ptr_array_index (array, i));
    }
    for (i = 0; i < candidates->len && i < wanted; i++) {
      guint j = g_random_int_range (i, candidates->len);
      gpointer swap = g_ptr_array_index (candidates, j);

      g_ptr_array_index (candidates, j) = g_ptr_array_index (candidates, i);
      pick_take (pick, swap);
    }
    return;
  }
  for (i = 0; i < wanted * SAMPLE_TRIES + SAMPLE_SLACK
      && pick->picked->len < limit; i++) {
    MeshLocalityEntry *entry = g_ptr_array_index (array,
        g_random_int_range (0, array->len));

    if (pick_wants (pick, entry, filter))
      pick_take (pick, entry);
  }
}

static gboolean
is_other_site (Pick * pick, MeshLocalityEntry * entry)
{
  return mesh_locality_tier (&pick->asker->key, &entry->key) !=
      MESH_LOCALITY_TIER_SITE;
}

static GPtrArray *
bucket_entries (MeshLocalityEntry * entry, BucketKind kind)
{
  return entry->buckets[kind] ? entry->buckets[kind]->entries : NULL;
}

/* Moves the @n_far members picked for other networks (after the @n_near
 * nearest) to evenly spread places among them: a client that calls only
 * the first few of a list still calls some of another network. */
static void
spread_far (GPtrArray * picked, guint n_near, guint n_far)
{
  guint total = n_near + n_far, place, near = 0, far = 0;
  g_autofree gpointer *order = NULL;

  if (n_far == 0 || n_near == 0)
    return;
  order = g_memdup2 (picked->pdata, total * sizeof (gpointer));
  /* far k goes to (2k + 1) total / 2 n_far, the middle of the k-th of
   * n_far equal parts; the near ones keep their order around them */
  for (place = 0; place < total; place++) {
    if (far < n_far && place == (2 * far + 1) * total / (2 * n_far))
      picked->pdata[place] = order[n_near + far++];
    else
      picked->pdata[place] = order[near++];
  }
}

GPtrArray *
mesh_locality_index_pick (MeshLocalityIndex * index,
    MeshLocalityEntry * asker, guint max, guint cross_share)
{
  g_autoptr (GHashTable) chosen = g_hash_table_new (NULL, NULL);
  Pick pick = { asker, chosen, g_ptr_array_new (), max };
  guint near = max - mesh_locality_cross_count (max, cross_share);
  guint kind, n_near;

  g_hash_table_add (chosen, asker);
  for (kind = 0; kind < N_BUCKETS; kind++)
    take_from (&pick, bucket_entries (asker, kind), near, NULL);
  n_near = pick.picked->len;
  /* the reserved places: other networks, when the swarm has any */
  take_from (&pick, index->all, max, is_other_site);
  spread_far (pick.picked, n_near, pick.picked->len - n_near);
  /* what is left: anyone */
  for (kind = 0; kind < N_BUCKETS; kind++)
    take_from (&pick, bucket_entries (asker, kind), max, NULL);
  take_from (&pick, index->all, max, NULL);
  return pick.picked;
}
