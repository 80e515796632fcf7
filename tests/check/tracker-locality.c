/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of the tracker's network locality (tools/tracker/
 * mesh-tracker-locality.c): address prefixes (IPv4, IPv6, IPv4-mapped),
 * the prefix table's CSV (every kind of malformed line refused with its
 * number, bounds, quoting, headers), longest prefix match against a
 * brute-force reference on random tables, and the ranking: tiers in order,
 * the share of other networks reserved, small and large swarms.
 *
 * Threads: the code is pure; everything runs on the check thread.
 */

#include <gst/check/gstcheck.h>
#include <string.h>

#include "mesh-tracker-locality.h"

static GInetAddress *
inet (const gchar * text)
{
  GInetAddress *address = g_inet_address_new_from_string (text);

  fail_unless (address != NULL, "%s", text);
  return address;
}

static void
expect_prefix (const gchar * address, guint v4, guint v6,
    const gchar * expected)
{
  g_autoptr (GInetAddress) a = inet (address);
  g_autofree gchar *prefix = mesh_locality_prefix (a, v4, v6);

  fail_unless_equals_string (prefix, expected);
}

GST_START_TEST (test_prefixes)
{
  expect_prefix ("198.51.100.77", 24, 48, "198.51.100.0/24");
  expect_prefix ("198.51.100.77", 16, 48, "198.51.0.0/16");
  expect_prefix ("198.51.100.77", 32, 48, "198.51.100.77/32");
  expect_prefix ("198.51.100.77", 20, 48, "198.51.96.0/20");
  expect_prefix ("198.51.100.77", 0, 48, "0.0.0.0/0");
  expect_prefix ("198.51.100.77", 99, 48, "198.51.100.77/32");
  expect_prefix ("2001:db8:1:2:3::4", 24, 48, "2001:db8:1::/48");
  expect_prefix ("2001:db8:1:2:3::4", 24, 64, "2001:db8:1:2::/64");
  expect_prefix ("2001:db8:1:2:3::4", 24, 52, "2001:db8:1::/52");
  expect_prefix ("2001:db8:1:f234::4", 24, 52, "2001:db8:1:f000::/52");
  /* a dual-stack socket's view of an IPv4 client */
  expect_prefix ("::ffff:198.51.100.77", 24, 48, "198.51.100.0/24");
}

GST_END_TEST;

static MeshLocalityTable *
parse (const gchar * text, MeshLocalityTableKind kind)
{
  g_autoptr (GError) error = NULL;
  MeshLocalityTable *table =
      mesh_locality_table_parse (text, strlen (text), kind, &error);

  fail_unless (table != NULL, "%s: %s", text, error ? error->message : "");
  return table;
}

/* @text must be refused with a message starting "line @line:". */
static void
expect_refused (const gchar * text, MeshLocalityTableKind kind, guint line)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *start = g_strdup_printf ("line %u: ", line);
  MeshLocalityTable *table =
      mesh_locality_table_parse (text, strlen (text), kind, &error);

  fail_unless (table == NULL, "accepted: %s", text);
  fail_unless (g_str_has_prefix (error->message, start), "%s: \"%s\"", text,
      error->message);
}

/* Looks @address up; its ASN, name and region must be the ones given
 * (asn 0 and NULLs: no match at all). */
static void
expect_match (MeshLocalityTable * table, const gchar * address, guint32 asn,
    const gchar * name, const gchar * region)
{
  g_autoptr (GInetAddress) a = inet (address);
  MeshLocalityMatch match;
  gboolean found = mesh_locality_table_lookup (table, a, &match);

  if (!asn && !name && !region) {
    fail_if (found, "%s matched", address);
    return;
  }
  fail_unless (found, "%s did not match", address);
  fail_unless_equals_int (match.asn, asn);
  fail_unless_equals_string (match.name, name);
  fail_unless_equals_string (match.region, region);
}

GST_START_TEST (test_csv_parsing)
{
  MeshLocalityTable *table = parse ("prefix,asn,name,region\n"
      "# a comment\r\n"
      "\n"
      "198.51.100.0/24,64500,Example Net,EU\r\n"
      "203.0.113.0/24 , AS64501 , \"Quoted, \"\"Inc\"\"\" ,\n"
      "192.0.2.7,64502,One host\n"
      "10.1.2.3/8,64503,Host bits cleared\n"
      "2001:db8::/32,64504,Six,US\n" "2001:db8:1::/48,64505,Six more",
      MESH_LOCALITY_TABLE_ASN);

  fail_unless_equals_int (mesh_locality_table_get_size (table), 6);
  expect_match (table, "198.51.100.9", 64500, "Example Net", "EU");
  expect_match (table, "203.0.113.200", 64501, "Quoted, \"Inc\"", NULL);
  expect_match (table, "192.0.2.7", 64502, "One host", NULL);
  expect_match (table, "192.0.2.8", 0, NULL, NULL);
  expect_match (table, "10.200.0.1", 64503, "Host bits cleared", NULL);
  expect_match (table, "2001:db8:2::1", 64504, "Six", "US");
  expect_match (table, "2001:db8:1:5::1", 64505, "Six more", NULL);
  expect_match (table, "::ffff:198.51.100.1", 64500, "Example Net", "EU");
  expect_match (table, "2001:db9::1", 0, NULL, NULL);
  mesh_locality_table_unref (table);

  table = parse ("198.51.100.0/24,EU-West\n0.0.0.0/0,World\n",
      MESH_LOCALITY_TABLE_REGION);
  expect_match (table, "198.51.100.1", 0, NULL, "EU-West");
  expect_match (table, "8.8.8.8", 0, NULL, "World");
  mesh_locality_table_unref (table);

  /* empty, and only comments */
  table = parse ("", MESH_LOCALITY_TABLE_ASN);
  fail_unless_equals_int (mesh_locality_table_get_size (table), 0);
  expect_match (table, "198.51.100.1", 0, NULL, NULL);
  mesh_locality_table_unref (table);
}

GST_END_TEST;

GST_START_TEST (test_csv_malformed)
{
  g_autofree gchar *long_line = NULL;
  g_autofree gchar *long_name = NULL;
  const MeshLocalityTableKind asn = MESH_LOCALITY_TABLE_ASN;

  expect_refused ("198.51.100.0/24,64500", asn, 1);
  expect_refused ("198.51.100.0/24,64500,a,b,c", asn, 1);
  expect_refused ("# ok\n198.51.100.0/24,64500,a,b,c,d,e,f", asn, 2);
  expect_refused ("198.51.100.0/33,64500,a", asn, 1);
  expect_refused ("198.51.100.0/,64500,a", asn, 1);
  expect_refused ("198.51.100.0/-1,64500,a", asn, 1);
  expect_refused ("198.51.100.0/24x,64500,a", asn, 1);
  expect_refused ("198.51.100/24,64500,a", asn, 1);
  expect_refused ("2001:db8::/129,64500,a", asn, 1);
  expect_refused ("/24,64500,a", asn, 1);
  expect_refused ("host.example,64500,a", asn, 1);
  expect_refused ("198.51.100.0/24,ASX,a", asn, 1);
  expect_refused ("198.51.100.0/24,4294967296,a", asn, 1);
  expect_refused ("198.51.100.0/24,-5,a", asn, 1);
  expect_refused ("198.51.100.0/24,,a", asn, 1);
  expect_refused ("198.51.100.0/24,64500,\"open", asn, 1);
  expect_refused ("198.51.100.0/24,64500,\"a\"b", asn, 1);
  expect_refused ("198.51.100.0/24,64500,a\x01", asn, 1);
  expect_refused ("198.51.100.0/24,64500,\xff\xfe", asn, 1);
  expect_refused ("1.0.0.0/8,1,a\n\n2.0.0.0/8,2,b\nprefix,asn,name", asn, 4);
  expect_refused ("198.51.100.0/24,EU,x", MESH_LOCALITY_TABLE_REGION, 1);
  expect_refused ("198.51.100.0/24", MESH_LOCALITY_TABLE_REGION, 1);

  long_name = g_strnfill (MESH_LOCALITY_MAX_NAME + 1, 'n');
  long_line = g_strdup_printf ("1.0.0.0/8,1,%s", long_name);
  expect_refused (long_line, asn, 1);
  g_free (long_line);
  long_line = g_strdup_printf ("1.0.0.0/8,1,a,%s", long_name);
  expect_refused (long_line, asn, 1);
  g_free (long_line);
  long_line = g_strdup_printf ("# %s%s%s%s%s", long_name, long_name,
      long_name, long_name, long_name);
  expect_refused (long_line, asn, 1);
}

GST_END_TEST;

/* The longest covering prefix by brute force over @prefixes. */
static gint
reference_lookup (const guint8 (*prefixes)[4], const guint * lengths,
    guint count, const guint8 * address)
{
  gint best = -1;
  guint i, bit;

  for (i = 0; i < count; i++) {
    for (bit = 0; bit < lengths[i]; bit++) {
      guint mask = 0x80 >> (bit % 8);

      if ((prefixes[i][bit / 8] & mask) != (address[bit / 8] & mask))
        break;
    }
    /* a later duplicate replaces an earlier one, as in the table */
    if (bit == lengths[i] && (best < 0 || lengths[i] >= lengths[best]))
      best = i;
  }
  return best;
}

/* Random IPv4 tables, built from few distinct top bits so that prefixes
 * nest and share paths, checked address by address against brute force. */
GST_START_TEST (test_longest_match)
{
  enum
  { PREFIXES = 300, LOOKUPS = 3000 };
  static guint8 prefixes[PREFIXES][4];
  static guint lengths[PREFIXES];
  GRand *rand = g_rand_new_with_seed (7);
  guint round, i;

  for (round = 0; round < 5; round++) {
    GString *csv = g_string_new (NULL);
    MeshLocalityTable *table;

    for (i = 0; i < PREFIXES; i++) {
      guint32 value = g_rand_int (rand) & 0xf0f0ffff;

      lengths[i] = g_rand_int_range (rand, 0, 33);
      if (lengths[i] < 32)
        value &= lengths[i] ? ~(G_MAXUINT32 >> lengths[i]) : 0;
      prefixes[i][0] = value >> 24;
      prefixes[i][1] = value >> 16;
      prefixes[i][2] = value >> 8;
      prefixes[i][3] = value;
      g_string_append_printf (csv, "%u.%u.%u.%u/%u,%u,n%u\n", prefixes[i][0],
          prefixes[i][1], prefixes[i][2], prefixes[i][3], lengths[i], i + 1, i);
    }
    table = parse (csv->str, MESH_LOCALITY_TABLE_ASN);
    for (i = 0; i < LOOKUPS; i++) {
      guint8 address[4];
      g_autoptr (GInetAddress) a = NULL;
      MeshLocalityMatch match;
      gint expected;
      gboolean found;

      /* half the time near a prefix of the table */
      memcpy (address, prefixes[g_rand_int_range (rand, 0, PREFIXES)], 4);
      if (i % 2)
        address[g_rand_int_range (rand, 0, 4)] ^= 1 << g_rand_int_range (rand,
            0, 8);
      else
        *(guint32 *) address = g_rand_int (rand) & 0xf0f0ffff;
      a = g_inet_address_new_from_bytes (address, G_SOCKET_FAMILY_IPV4);
      expected = reference_lookup ((const guint8 (*)[4]) prefixes, lengths,
          PREFIXES, address);
      found = mesh_locality_table_lookup (table, a, &match);
      fail_unless_equals_int (found, expected >= 0);
      if (found) {
        fail_unless_equals_int (match.prefix_length, lengths[expected]);
        fail_unless_equals_int (match.asn, expected + 1);
      }
    }
    mesh_locality_table_unref (table);
    g_string_free (csv, TRUE);
  }
  g_rand_free (rand);
}

GST_END_TEST;

GST_START_TEST (test_nested_v6)
{
  MeshLocalityTable *table = parse ("::/0,1,all\n"
      "2001:db8::/32,2,doc\n"
      "2001:db8:8000::/33,3,upper half\n"
      "2001:db8:8000::1/128,4,one host\n"
      "2001:db8:8000::/48,5,a site\n", MESH_LOCALITY_TABLE_ASN);

  expect_match (table, "2001:db8:8000::1", 4, "one host", NULL);
  expect_match (table, "2001:db8:8000::2", 5, "a site", NULL);
  expect_match (table, "2001:db8:8001::2", 3, "upper half", NULL);
  expect_match (table, "2001:db8:1::2", 2, "doc", NULL);
  expect_match (table, "fe80::1", 1, "all", NULL);
  /* no IPv4 prefix at all: ::/0 is not an IPv4 default route */
  expect_match (table, "198.51.100.1", 0, NULL, NULL);
  mesh_locality_table_unref (table);
}

GST_END_TEST;

GST_START_TEST (test_keys)
{
  MeshLocalityTable *asn = parse ("198.51.100.0/22,64500,Example,EU\n",
      MESH_LOCALITY_TABLE_ASN);
  MeshLocalityTable *regions = parse ("198.51.101.0/24,EU-North\n",
      MESH_LOCALITY_TABLE_REGION);
  g_autoptr (GInetAddress) a = inet ("198.51.100.5");
  g_autoptr (GInetAddress) b = inet ("198.51.101.5");
  MeshLocalityKey ka, kb, kc, none;

  mesh_locality_key_init (&ka, a, NULL, 24, 48, asn, regions);
  fail_unless_equals_string (ka.prefix, "198.51.100.0/24");
  fail_unless_equals_int (ka.asn, 64500);
  fail_unless_equals_string (ka.region, "EU");
  fail_unless (ka.hint == NULL);
  /* the region table wins over the ASN table's region */
  mesh_locality_key_init (&kb, b, "site-7", 24, 48, asn, regions);
  fail_unless_equals_string (kb.region, "EU-North");
  fail_unless_equals_string (kb.hint, "site-7");
  fail_unless_equals_int (mesh_locality_tier (&ka, &kb),
      MESH_LOCALITY_TIER_ASN);
  mesh_locality_key_init (&kc, NULL, "site-7", 24, 48, asn, regions);
  fail_unless (kc.prefix == NULL && kc.asn == 0 && kc.region == NULL);
  fail_unless_equals_int (mesh_locality_tier (&kb, &kc),
      MESH_LOCALITY_TIER_SITE);
  fail_unless_equals_int (mesh_locality_tier (&ka, &kc),
      MESH_LOCALITY_TIER_ANY);
  /* unknown never matches unknown */
  mesh_locality_key_init (&none, NULL, NULL, 24, 48, NULL, NULL);
  fail_unless_equals_int (mesh_locality_tier (&none, &none),
      MESH_LOCALITY_TIER_ANY);
  mesh_locality_key_clear (&ka);
  mesh_locality_key_clear (&kb);
  mesh_locality_key_clear (&kc);
  mesh_locality_key_clear (&none);
  mesh_locality_table_unref (asn);
  mesh_locality_table_unref (regions);
}

GST_END_TEST;

GST_START_TEST (test_cross_count)
{
  fail_unless_equals_int (mesh_locality_cross_count (10, 0), 0);
  fail_unless_equals_int (mesh_locality_cross_count (10, 20), 2);
  fail_unless_equals_int (mesh_locality_cross_count (10, 1), 1);
  fail_unless_equals_int (mesh_locality_cross_count (4, 20), 1);
  fail_unless_equals_int (mesh_locality_cross_count (10, 100), 10);
  fail_unless_equals_int (mesh_locality_cross_count (10, 500), 10);
  fail_unless_equals_int (mesh_locality_cross_count (0, 20), 0);
}

GST_END_TEST;

/* A swarm of members numbered from 1 (the member pointers), each with a
 * key made of the parts given (NULL / 0: unknown). */
typedef struct
{
  MeshLocalityIndex *index;
  GPtrArray *entries;
} Swarm;

static void
swarm_add (Swarm * swarm, const gchar * prefix, guint32 asn,
    const gchar * region, const gchar * hint)
{
  MeshLocalityKey key = { (gchar *) prefix, asn, (gchar *) region,
    (gchar *) hint
  };

  g_ptr_array_add (swarm->entries, mesh_locality_index_add (swarm->index,
          GUINT_TO_POINTER (swarm->entries->len + 1), &key));
}

static void
swarm_init (Swarm * swarm)
{
  swarm->index = mesh_locality_index_new ();
  swarm->entries = g_ptr_array_new ();
}

static void
swarm_clear (Swarm * swarm)
{
  guint i;

  for (i = 0; i < swarm->entries->len; i++)
    mesh_locality_index_remove (swarm->index,
        g_ptr_array_index (swarm->entries, i));
  fail_unless_equals_int (mesh_locality_index_get_size (swarm->index), 0);
  mesh_locality_index_free (swarm->index);
  g_ptr_array_unref (swarm->entries);
}

/* Tiers of a pick for member @asker (1-based), counted in @tiers. */
static GPtrArray *
pick_tiers (Swarm * swarm, guint asker, guint max, guint share, guint tiers[4])
{
  MeshLocalityEntry *entry = g_ptr_array_index (swarm->entries, asker - 1);
  GPtrArray *picked = mesh_locality_index_pick (swarm->index, entry, max,
      share);
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  guint i;

  memset (tiers, 0, 4 * sizeof (guint));
  fail_unless (picked->len <= max);
  for (i = 0; i < picked->len; i++) {
    guint member = GPOINTER_TO_UINT (g_ptr_array_index (picked, i));
    MeshLocalityEntry *other = g_ptr_array_index (swarm->entries, member - 1);

    fail_unless (member != asker, "picked itself");
    fail_unless (g_hash_table_add (seen, other), "picked twice");
    tiers[mesh_locality_tier (mesh_locality_entry_get_key (entry),
            mesh_locality_entry_get_key (other))]++;
  }
  return picked;
}

GST_START_TEST (test_ranking_tiers)
{
  Swarm swarm;
  guint tiers[4], i;

  swarm_init (&swarm);
  /* 1..3: the asker's /24; 4..6: same ASN; 7..9: same region; 10..29:
   * elsewhere; 30: another /24 but the same hint as 1 */
  for (i = 0; i < 3; i++)
    swarm_add (&swarm, "10.0.0.0/24", 1, "EU", i == 0 ? "site" : NULL);
  for (i = 0; i < 3; i++)
    swarm_add (&swarm, "10.0.1.0/24", 1, "EU", NULL);
  for (i = 0; i < 3; i++)
    swarm_add (&swarm, "10.0.2.0/24", 2, "EU", NULL);
  for (i = 0; i < 20; i++)
    swarm_add (&swarm, "10.0.3.0/24", 3, "US", NULL);
  swarm_add (&swarm, "10.9.9.0/24", 9, "AS", "site");

  for (i = 0; i < 20; i++) {
    g_autoptr (GPtrArray) picked = pick_tiers (&swarm, 1, 10, 20, tiers);

    fail_unless_equals_int (picked->len, 10);
    /* 8 near places: 3 of the site (2 by prefix, 1 by hint), 3 of the
     * ASN, 2 of the 3 of the region; then 2 of other networks */
    fail_unless_equals_int (tiers[MESH_LOCALITY_TIER_SITE], 3);
    fail_unless_equals_int (tiers[MESH_LOCALITY_TIER_ASN], 3);
    fail_unless (tiers[MESH_LOCALITY_TIER_REGION] >= 2);
    fail_unless (tiers[MESH_LOCALITY_TIER_ANY] <= 2);
    /* the nearest come first, the hint's bucket before the prefix's */
    fail_unless_equals_int (GPOINTER_TO_UINT (g_ptr_array_index (picked, 0)),
        30);
    fail_unless (GPOINTER_TO_UINT (g_ptr_array_index (picked, 1)) <= 3);
  }
  /* without a cross-network share, the list is all nearest */
  for (i = 0; i < 20; i++) {
    g_autoptr (GPtrArray) picked = pick_tiers (&swarm, 1, 10, 0, tiers);

    fail_unless_equals_int (tiers[MESH_LOCALITY_TIER_REGION], 3);
    fail_unless_equals_int (tiers[MESH_LOCALITY_TIER_ANY], 1);
  }
  swarm_clear (&swarm);
}

GST_END_TEST;

/* Two sites of 50: every list holds members of the other one, at the
 * share asked, and over a few lists each far member is seen (randomised). */
GST_START_TEST (test_ranking_cross_share)
{
  Swarm swarm;
  guint tiers[4], i, share;
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);

  swarm_init (&swarm);
  for (i = 0; i < 100; i++)
    swarm_add (&swarm, i < 50 ? "10.0.0.0/24" : "10.0.1.0/24", 0, NULL, NULL);

  for (share = 10; share <= 50; share += 20) {
    for (i = 0; i < 50; i++) {
      g_autoptr (GPtrArray) picked = pick_tiers (&swarm, 1, 10, share, tiers);

      fail_unless_equals_int (tiers[MESH_LOCALITY_TIER_ANY],
          mesh_locality_cross_count (10, share));
      fail_unless_equals_int (tiers[MESH_LOCALITY_TIER_SITE],
          10 - mesh_locality_cross_count (10, share));
    }
  }
  /* the other site's places are spread over the list, so that a client
   * calling its first few calls one: at 20 %, places 2 and 7 of 10 */
  for (i = 0; i < 20; i++) {
    g_autoptr (GPtrArray) picked = pick_tiers (&swarm, 1, 10, 20, tiers);
    guint j;

    for (j = 0; j < 10; j++)
      fail_unless_equals_int (GPOINTER_TO_UINT (g_ptr_array_index (picked,
                  j)) > 50, j == 2 || j == 7);
  }
  for (i = 0; i < 1000; i++) {
    g_autoptr (GPtrArray) picked = pick_tiers (&swarm, 1, 10, 10, tiers);
    guint j;

    for (j = 0; j < picked->len; j++)
      g_hash_table_add (seen, g_ptr_array_index (picked, j));
  }
  fail_unless_equals_int (g_hash_table_size (seen), 99);
  swarm_clear (&swarm);
}

GST_END_TEST;

/* One network only: the reserved places go to it (nobody else to take);
 * a swarm smaller than the list gives everyone; a lone member gets none. */
GST_START_TEST (test_ranking_small)
{
  Swarm swarm;
  guint tiers[4], i;

  swarm_init (&swarm);
  swarm_add (&swarm, "10.0.0.0/24", 0, NULL, NULL);
  {
    g_autoptr (GPtrArray) picked = pick_tiers (&swarm, 1, 10, 20, tiers);

    fail_unless_equals_int (picked->len, 0);
  }
  for (i = 0; i < 20; i++)
    swarm_add (&swarm, "10.0.0.0/24", 0, NULL, NULL);
  {
    g_autoptr (GPtrArray) picked = pick_tiers (&swarm, 1, 10, 20, tiers);

    fail_unless_equals_int (tiers[MESH_LOCALITY_TIER_SITE], 10);
  }
  swarm_add (&swarm, NULL, 0, NULL, NULL);
  {
    g_autoptr (GPtrArray) picked = pick_tiers (&swarm, 22, 30, 20, tiers);

    fail_unless_equals_int (picked->len, 21);
    fail_unless_equals_int (tiers[MESH_LOCALITY_TIER_ANY], 21);
  }
  swarm_clear (&swarm);
}

GST_END_TEST;

/* 20,000 members in 2,000 /24s, removed in a random order halfway: the
 * index stays consistent (slots moved on removal), a site's members are
 * found though they are 0.05 % of the swarm. */
GST_START_TEST (test_ranking_large)
{
  Swarm swarm;
  guint tiers[4], i;
  GRand *rand = g_rand_new_with_seed (3);

  swarm_init (&swarm);
  for (i = 0; i < 20000; i++) {
    g_autofree gchar *prefix = g_strdup_printf ("10.%u.%u.0/24", i % 2000 / 256,
        i % 256);

    swarm_add (&swarm, prefix, 1 + i % 7, NULL, NULL);
  }
  for (i = 0; i < 10000; i++) {
    guint j = g_rand_int_range (rand, i, swarm.entries->len);
    gpointer swap = g_ptr_array_index (swarm.entries, j);

    g_ptr_array_index (swarm.entries, j) = g_ptr_array_index (swarm.entries, i);
    g_ptr_array_index (swarm.entries, i) = swap;
  }
  for (i = 0; i < 10000; i++)
    mesh_locality_index_remove (swarm.index, g_ptr_array_steal_index_fast
        (swarm.entries, swarm.entries->len - 1));
  fail_unless_equals_int (mesh_locality_index_get_size (swarm.index), 10000);
  /* members are numbered by their first slot: rebuild a lookup order */
  {
    g_autoptr (GPtrArray) kept = swarm.entries;

    swarm.entries = g_ptr_array_new ();
    for (i = 0; i < kept->len; i++) {
      MeshLocalityEntry *entry = g_ptr_array_index (kept, i);
      MeshLocalityKey key = *mesh_locality_entry_get_key (entry);

      g_ptr_array_add (swarm.entries, mesh_locality_index_add (swarm.index,
              GUINT_TO_POINTER (swarm.entries->len + 1), &key));
      mesh_locality_index_remove (swarm.index, entry);
    }
  }
  for (i = 1; i <= 200; i++) {
    g_autoptr (GPtrArray) picked = pick_tiers (&swarm, i * 50, 10, 20, tiers);
    const MeshLocalityKey *key = mesh_locality_entry_get_key
        (g_ptr_array_index (swarm.entries, i * 50 - 1));
    guint same = 0, j;

    for (j = 0; j < swarm.entries->len; j++) {
      MeshLocalityEntry *other = g_ptr_array_index (swarm.entries, j);

      if (j != i * 50 - 1 && mesh_locality_tier (key,
              mesh_locality_entry_get_key (other)) == MESH_LOCALITY_TIER_SITE)
        same++;
    }
    fail_unless_equals_int (picked->len, 10);
    fail_unless_equals_int (tiers[MESH_LOCALITY_TIER_SITE], MIN (same, 8));
    /* the near places: the site, then the ASN (a seventh of the swarm) */
    fail_unless (tiers[MESH_LOCALITY_TIER_SITE] +
        tiers[MESH_LOCALITY_TIER_ASN] >= 8);
    fail_unless (tiers[MESH_LOCALITY_TIER_ANY] <= 2);
  }
  g_rand_free (rand);
  swarm_clear (&swarm);
}

GST_END_TEST;

static Suite *
tracker_locality_suite (void)
{
  Suite *s = suite_create ("tracker-locality");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_prefixes);
  tcase_add_test (tc, test_csv_parsing);
  tcase_add_test (tc, test_csv_malformed);
  tcase_add_test (tc, test_longest_match);
  tcase_add_test (tc, test_nested_v6);
  tcase_add_test (tc, test_keys);
  tcase_add_test (tc, test_cross_count);
  tcase_add_test (tc, test_ranking_tiers);
  tcase_add_test (tc, test_ranking_cross_share);
  tcase_add_test (tc, test_ranking_small);
  tcase_add_test (tc, test_ranking_large);
  return s;
}

GST_CHECK_MAIN (tracker_locality);
