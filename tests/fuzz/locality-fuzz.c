/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the tracker's prefix table parser
 * (tools/tracker/mesh-tracker-locality.c). See README.md in this directory.
 *
 * Threads: libFuzzer's one; nothing is shared between inputs.
 *
 * Input: bit 0 of the first byte chooses the kind (0: prefix,asn,name
 * [,region]; 1: prefix,region), the rest is the CSV. Beyond "no crash, no
 * leak, no critical", a refused table has an error naming a line; an
 * accepted one answers a lookup for the first address of each of its
 * lines' prefixes with a prefix at least as long as the line's (longest
 * match), and for a few fixed addresses.
 *
 * Built and run by run-fuzzers.sh, from the top of the tree, as these
 * lines say (README.md):
 *   fuzz-sources: tools/tracker/mesh-tracker-locality.c
 *   fuzz-cflags: -Itools/tracker
 *   fuzz-packages: gio-2.0 glib-2.0
 *   fuzz-options: -max_len=8192
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh-tracker-locality.h"
#include "mesh-fuzz.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_default_handler (mesh_fuzz_log_handler, NULL);
  return 0;
}

/* The line's prefix, if its first field is "address/length": looked up,
 * the match must be at least that long. */
static void
look_up_line (MeshLocalityTable * table, const gchar * line)
{
  g_auto (GStrv) parts = g_strsplit_set (line, ",/", 3);
  g_autoptr (GInetAddress) address = NULL;
  MeshLocalityMatch match;
  guint64 length;

  if (!parts[0] || !parts[1] || !g_ascii_isdigit (parts[1][0])
      || strlen (parts[1]) > 3)
    return;
  address = g_inet_address_new_from_string (parts[0]);
  length = g_ascii_strtoull (parts[1], NULL, 10);
  if (!address || length > g_inet_address_get_native_size (address) * 8)
    return;
  /* ::ffff:a.b.c.d is looked up as a.b.c.d: another trie */
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6
      && memcmp (g_inet_address_to_bytes (address),
          "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
    return;
  check (mesh_locality_table_lookup (table, address, &match));
  check (match.prefix_length >= length);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  static const gchar *fixed[] = { "0.0.0.0", "255.255.255.255", "10.0.0.1",
    "::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
  };
  g_autoptr (GError) error = NULL;
  MeshLocalityTableKind kind;
  MeshLocalityTable *table;
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint i;

  if (size < 1)
    return 0;
  kind = data[0] & 1 ? MESH_LOCALITY_TABLE_REGION : MESH_LOCALITY_TABLE_ASN;
  table = mesh_locality_table_parse ((const gchar *) data + 1, size - 1, kind,
      &error);
  if (!table) {
    check (error != NULL && g_str_has_prefix (error->message, "line "));
    return 0;
  }
  for (i = 0; i < G_N_ELEMENTS (fixed); i++) {
    g_autoptr (GInetAddress) address = g_inet_address_new_from_string
        (fixed[i]);
    MeshLocalityMatch match;

    if (mesh_locality_table_lookup (table, address, &match))
      check (match.prefix_length <= 128);
  }
  /* lines as the parser splits them; a NUL ends the text here, the
   * parser reads it as a byte of a field (and refuses it or not) */
  text = g_strndup ((const gchar *) data + 1, size - 1);
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i]; i++)
    look_up_line (table, g_strstrip (lines[i]));
  mesh_locality_table_unref (table);
  return 0;
}
