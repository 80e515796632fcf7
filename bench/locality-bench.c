/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * locality-bench: the cost of the tracker's locality (tools/tracker/
 * mesh-tracker-locality.c) at the sizes a public deployment has. It writes
 * a synthetic ASN table of N prefixes (default 500,000: the size of a full
 * public ip-to-ASN dump; 80 % IPv4 of /16 - /24, 20 % IPv6 of /32 - /48,
 * nested ones included) to a temporary file, loads it as the tracker does,
 * and prints: load time, the table's memory (its own count and the growth
 * of the process's RSS), lookups per second, and the time of a peer list
 * pick in a swarm of M members (default 10,000) spread over networks.
 * Nothing is kept: the file is removed.
 *
 *   locality-bench [--prefixes N] [--lookups N] [--members M] [--seed S]
 *
 * Threads: one; everything runs in main().
 */

#include "mesh-tracker-locality.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

/* The resident set size, in KiB (Linux). */
static gsize
rss_kib (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line ? g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

static void
append_v4 (GString * csv, GRand * rand, guint asn)
{
  guint bits = g_rand_int_range (rand, 16, 25);
  guint32 value = g_rand_int (rand) & ~(G_MAXUINT32 >> bits);

  g_string_append_printf (csv, "%u.%u.%u.%u/%u,%u,Network %u\n",
      value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff,
      bits, asn, asn);
}

static void
append_v6 (GString * csv, GRand * rand, guint asn)
{
  guint bits = g_rand_int_range (rand, 32, 49);
  guint16 groups[3];
  guint i;

  for (i = 0; i < 3; i++)
    groups[i] = g_rand_int (rand);
  /* 2000::/3, the bits past the length cleared */
  groups[0] = 0x2000 | (groups[0] & 0x1fff);
  if (bits < 48)
    groups[2] &= ~(0xffff >> (bits - 32));
  g_string_append_printf (csv, "%x:%x:%x::/%u,%u,Network %u,Region %u\n",
      groups[0], groups[1], groups[2], bits, asn, asn, asn % 20);
}

static gchar *
write_table (guint prefixes, GRand * rand)
{
  GString *csv = g_string_new ("prefix,asn,name,region\n");
  g_autoptr (GError) error = NULL;
  gchar *path = NULL;
  gint fd;
  guint i;

  for (i = 0; i < prefixes; i++) {
    /* some 70,000 ASNs, as in the public dumps */
    guint asn = 1 + g_rand_int_range (rand, 0, 70000);

    if (i % 5 == 4)
      append_v6 (csv, rand, asn);
    else
      append_v4 (csv, rand, asn);
  }
  fd = g_file_open_tmp ("locality-bench-XXXXXX.csv", &path, &error);
  if (fd < 0 || !g_file_set_contents (path, csv->str, csv->len, &error))
    g_error ("%s", error->message);
  g_close (fd, NULL);
  printf ("table: %u prefixes, %.1f MiB of CSV\n", prefixes,
      csv->len / 1048576.0);
  g_string_free (csv, TRUE);
  return path;
}

static void
bench_lookups (MeshLocalityTable * table, guint lookups, GRand * rand)
{
  GInetAddress **addresses = g_new (GInetAddress *, 1024);
  guint i, found = 0;
  gint64 start;
  gdouble seconds;

  for (i = 0; i < 1024; i++) {
    guint8 bytes[16];
    guint j;

    for (j = 0; j < 16; j++)
      bytes[j] = g_rand_int (rand);
    bytes[0] = i % 2 ? 0x20 | (bytes[0] & 0x1f) : bytes[0];
    addresses[i] = g_inet_address_new_from_bytes (bytes, i % 2 ?
        G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4);
  }
  start = g_get_monotonic_time ();
  for (i = 0; i < lookups; i++) {
    MeshLocalityMatch match;

    found += mesh_locality_table_lookup (table, addresses[i % 1024], &match);
  }
  seconds = (g_get_monotonic_time () - start) / 1e6;
  printf ("lookups: %u in %.3f s: %.2f M/s, %.0f ns each (%.0f %% matched; "
      "half IPv4, half IPv6)\n", lookups, seconds, lookups / seconds / 1e6,
      seconds * 1e9 / lookups, 100.0 * found / lookups);
  for (i = 0; i < 1024; i++)
    g_object_unref (addresses[i]);
  g_free (addresses);
}

/* A swarm of @members over /24s of 5 members on average, in 500 ASNs and
 * 20 regions; picks of 10 at 20 % for other networks. */
static void
bench_picks (guint members, GRand * rand)
{
  MeshLocalityIndex *index = mesh_locality_index_new ();
  GPtrArray *entries = g_ptr_array_new ();
  guint picks = 100000, i;
  gint64 start;
  gdouble seconds;

  for (i = 0; i < members; i++) {
    guint net = g_rand_int_range (rand, 0, MAX (members / 5, 1));
    g_autofree gchar *prefix = g_strdup_printf ("10.%u.%u.0/24", net >> 8,
        net & 0xff);
    g_autofree gchar *region = g_strdup_printf ("r%u", net % 20);
    MeshLocalityKey key = { prefix, 1 + net % 500, region, NULL };

    g_ptr_array_add (entries, mesh_locality_index_add (index,
            GUINT_TO_POINTER (i + 1), &key));
  }
  start = g_get_monotonic_time ();
  for (i = 0; i < picks; i++) {
    GPtrArray *picked = mesh_locality_index_pick (index,
        g_ptr_array_index (entries, i % members), 10, 20);

    g_ptr_array_unref (picked);
  }
  seconds = (g_get_monotonic_time () - start) / 1e6;
  printf ("picks: %u lists of 10 in a swarm of %u: %.1f us each\n", picks,
      members, seconds * 1e6 / picks);
  for (i = 0; i < entries->len; i++)
    mesh_locality_index_remove (index, g_ptr_array_index (entries, i));
  g_ptr_array_unref (entries);
  mesh_locality_index_free (index);
}

int
main (int argc, char **argv)
{
  gint prefixes = 500000, lookups = 10000000, members = 10000, seed = 1;
  GOptionEntry entries[] = {
    {"prefixes", 0, 0, G_OPTION_ARG_INT, &prefixes, "Prefixes in the table "
          "(default 500000)", "N"},
    {"lookups", 0, 0, G_OPTION_ARG_INT, &lookups, "Lookups timed (default "
          "10000000)", "N"},
    {"members", 0, 0, G_OPTION_ARG_INT, &members, "Members of the swarm "
          "picks are timed in (default 10000)", "M"},
    {"seed", 0, 0, G_OPTION_ARG_INT, &seed, "Random seed (default 1)", "S"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = g_option_context_new
      ("- the cost of the tracker's locality");
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path = NULL;
  MeshLocalityTable *table;
  GRand *rand;
  gsize rss_before;
  gint64 start;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)
      || prefixes < 1 || lookups < 1 || members < 2) {
    fprintf (stderr, "locality-bench: %s\n", error ? error->message :
        "the counts must be positive (members at least 2)");
    return 2;
  }
  rand = g_rand_new_with_seed (seed);
  path = write_table (prefixes, rand);

  rss_before = rss_kib ();
  start = g_get_monotonic_time ();
  table = mesh_locality_table_load (path, MESH_LOCALITY_TABLE_ASN, &error);
  if (!table)
    g_error ("%s", error->message);
  printf ("load: %.2f s; table %.1f MiB (its count), process RSS +%.1f MiB "
      "(%u prefixes: %.0f bytes each)\n",
      (g_get_monotonic_time () - start) / 1e6,
      mesh_locality_table_get_memory (table) / 1048576.0,
      (rss_kib () - rss_before) / 1024.0, mesh_locality_table_get_size (table),
      (gdouble) mesh_locality_table_get_memory (table) /
      mesh_locality_table_get_size (table));
  g_unlink (path);

  bench_lookups (table, lookups, rand);
  bench_picks (members, rand);
  mesh_locality_table_unref (table);
  g_rand_free (rand);
  return 0;
}
