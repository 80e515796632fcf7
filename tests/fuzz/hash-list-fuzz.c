/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the segment digest list parser
 * (ext/mesh/fetch/mesh-hash-list.c). See README.md in this directory.
 *
 * Threads: libFuzzer's one; nothing is shared between inputs.
 *
 * Input: the whole of it is a mesh-hashes.json document. Beyond "no crash,
 * no leak, no critical", a refused document has an error of the list's
 * domain with a message, an accepted one stays within the entry cap, and
 * its lookups answer for the paths it could hold: every "..." string of
 * the input is looked up whole and for a few ranges, and mapped from a URI
 * under the list's directory back to itself.
 *
 * Built and run by run-fuzzers.sh, from the top of the tree, as these
 * lines say (README.md):
 *   fuzz-sources: ext/mesh/fetch/mesh-hash-list.c
 *   fuzz-cflags: -Iext/mesh
 *   fuzz-packages: json-glib-1.0 glib-2.0
 *   fuzz-options: -max_len=16384
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/mesh-hash-list.h"
#include "mesh-fuzz.h"

#define LIST_URI "http://h/v/mesh-hashes.json"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_default_handler (mesh_fuzz_log_handler, NULL);
  return 0;
}

/* Looks @path up whole and in a few ranges; a valid path also goes through
 * a URI and must come back the same. */
static void
look_up (const MeshHashList * list, const gchar * path)
{
  static const gint64 spans[][2] = {
    {0, -1}, {0, 0}, {0, 1}, {1, -1}, {-1, 5}, {G_MAXINT64, 1},
    {G_MAXINT64, G_MAXINT64}, {0, G_MAXINT64},
  };
  guint8 digest[MESH_HASH_LIST_DIGEST_SIZE];
  gint64 size = -1;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (spans); i++)
    mesh_hash_list_lookup (list, path, spans[i][0], spans[i][1], digest);
  if (mesh_hash_list_get_file_size (list, path, &size)) {
    check (size >= 0);
    check (mesh_hash_list_lookup (list, path, 0, -1, digest));
    check (mesh_hash_list_lookup (list, path, 0, size, digest));
    check (mesh_hash_list_is_valid_path (path));
  }
  if (mesh_hash_list_is_valid_path (path)) {
    g_autofree gchar *escaped = g_uri_escape_string (path, "/", TRUE);
    g_autofree gchar *uri = g_strconcat ("http://h/v/", escaped, NULL);
    g_autofree gchar *back = mesh_hash_list_path_for_uri (LIST_URI, uri);

    check (back != NULL && strcmp (back, path) == 0);
  }
}

/* Every "..." of @text (escapes not decoded), as a candidate key. */
static void
look_up_strings (const MeshHashList * list, const gchar * text, gsize size)
{
  const gchar *end = text + size, *start;

  for (start = memchr (text, '"', size); start && start + 1 < end;) {
    const gchar *close = memchr (start + 1, '"', end - start - 1);
    g_autofree gchar *path = NULL;

    if (!close)
      break;
    path = g_strndup (start + 1, close - start - 1);
    look_up (list, path);
    start = close + 1 < end ? memchr (close + 1, '"', end - close - 1) : NULL;
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshHashList) list = mesh_hash_list_parse (bytes, &error);

  if (!list) {
    check (error != NULL && error->domain == MESH_HASH_LIST_ERROR
        && error->message && *error->message);
    return 0;
  }
  check (error == NULL);
  check (mesh_hash_list_get_n_files (list) <= MESH_HASH_LIST_MAX_ENTRIES);
  mesh_hash_list_unref (mesh_hash_list_ref (list));
  look_up_strings (list, (const gchar *) data, size);
  return 0;
}
