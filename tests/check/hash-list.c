/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of the segment digest list parser (ext/mesh/fetch/mesh-hash-list.c,
 * docs/hash-list.md): lookups of whole files and of ranges, every kind of
 * malformed document refused with the error that says why, the size,
 * entry, value and depth caps, and the keys that segment URIs map to.
 *
 * Threads: the parser is pure; everything runs on the check thread, except
 * the test that shares one list between threads.
 */

#include <gst/check/gstcheck.h>
#include <string.h>

#include "fetch/mesh-hash-list.h"

/* The SHA-256 of "a", "b" and "c", in the format's spelling. */
#define HEX_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define HEX_B "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define HEX_C "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"

#define HEAD "{\"version\":1,\"algorithm\":\"sha-256\",\"files\":"

static MeshHashList *
parse_text (const gchar * text, GError ** error)
{
  g_autoptr (GBytes) bytes = g_bytes_new (text, strlen (text));

  return mesh_hash_list_parse (bytes, error);
}

static MeshHashList *
parse_ok (const gchar * text)
{
  g_autoptr (GError) error = NULL;
  MeshHashList *list = parse_text (text, &error);

  fail_unless (list != NULL, "%.300s: %s", text, error ? error->message : "");
  return list;
}

static void
expect_refused_bytes (GBytes * bytes, MeshHashListError code)
{
  g_autoptr (GError) error = NULL;
  MeshHashList *list = mesh_hash_list_parse (bytes, &error);
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);

  fail_if (list != NULL, "accepted: %.*s", (gint) MIN (size, 300), text);
  fail_unless (g_error_matches (error, MESH_HASH_LIST_ERROR, code),
      "%.*s: wrong error %s", (gint) MIN (size, 300), text,
      error ? error->message : "(none)");
  fail_unless (error->message && *error->message);
}

static void
expect_refused (const gchar * text, MeshHashListError code)
{
  g_autoptr (GBytes) bytes = g_bytes_new (text, strlen (text));

  expect_refused_bytes (bytes, code);
}

static void
expect_malformed (const gchar * text)
{
  expect_refused (text, MESH_HASH_LIST_ERROR_MALFORMED);
}

/* @files is the "files" object's body. */
static void
expect_files_malformed (const gchar * files)
{
  g_autofree gchar *text = g_strconcat (HEAD "{", files, "}}", NULL);

  expect_malformed (text);
}

static void
digest_from_hex (const gchar * hex, guint8 digest[32])
{
  guint i;

  for (i = 0; i < 32; i++)
    digest[i] = g_ascii_xdigit_value (hex[2 * i]) << 4
        | g_ascii_xdigit_value (hex[2 * i + 1]);
}

/* Looks @path up and checks that it is found with the digest of @hex, or
 * not found when @hex is NULL. */
static void
check_lookup (const MeshHashList * list, const gchar * path, gint64 offset,
    gint64 length, const gchar * hex)
{
  guint8 found[32], expected[32];
  gboolean ok;

  memset (found, 0xee, sizeof found);
  ok = mesh_hash_list_lookup (list, path, offset, length, found);
  if (!hex) {
    fail_if (ok, "%s %" G_GINT64_FORMAT "+%" G_GINT64_FORMAT " found", path,
        offset, length);
    return;
  }
  fail_unless (ok, "%s %" G_GINT64_FORMAT "+%" G_GINT64_FORMAT " not found",
      path, offset, length);
  digest_from_hex (hex, expected);
  fail_unless (memcmp (found, expected, 32) == 0, "%s: wrong digest", path);
}

static const gchar *const valid_list = HEAD "{"
    "\"a/seg1.ts\":{\"size\":1,\"sha256\":\"" HEX_A "\"},"
    "\"single.mp4\":{\"size\":1000,\"sha256\":\"" HEX_B "\",\"ranges\":["
    "{\"offset\":800,\"length\":200,\"sha256\":\"" HEX_A "\"},"
    "{\"offset\":0,\"length\":800,\"sha256\":\"" HEX_C "\"},"
    "{\"offset\":0,\"length\":1000,\"sha256\":\"" HEX_A "\"}]},"
    "\"dir/sub/name with space.m4s\":{\"size\":0,\"sha256\":\"" HEX_C "\"}"
    "}}";

GST_START_TEST (test_lookup_whole_files)
{
  g_autoptr (MeshHashList) list = parse_ok (valid_list);
  gint64 size = -5;

  fail_unless_equals_int (mesh_hash_list_get_n_files (list), 3);
  check_lookup (list, "a/seg1.ts", 0, -1, HEX_A);
  check_lookup (list, "a/seg1.ts", 0, 1, HEX_A);
  check_lookup (list, "dir/sub/name with space.m4s", 0, -1, HEX_C);
  check_lookup (list, "dir/sub/name with space.m4s", 0, 0, HEX_C);
  /* keys are compared as they are: no normalising */
  check_lookup (list, "/a/seg1.ts", 0, -1, NULL);
  check_lookup (list, "a//seg1.ts", 0, -1, NULL);
  check_lookup (list, "A/seg1.ts", 0, -1, NULL);
  check_lookup (list, "seg1.ts", 0, -1, NULL);
  /* -1 is the whole file only from offset 0; other negatives mean nothing */
  check_lookup (list, "a/seg1.ts", 1, -1, NULL);
  check_lookup (list, "a/seg1.ts", -1, 1, NULL);
  check_lookup (list, "a/seg1.ts", 0, -2, NULL);
  /* not the whole file, and no range listed */
  check_lookup (list, "a/seg1.ts", 0, 2, NULL);

  fail_unless (mesh_hash_list_get_file_size (list, "single.mp4", &size));
  fail_unless_equals_int64 (size, 1000);
  fail_unless (mesh_hash_list_get_file_size (list, "a/seg1.ts", NULL));
  fail_if (mesh_hash_list_get_file_size (list, "nothing.ts", &size));
}

GST_END_TEST;

GST_START_TEST (test_lookup_ranges)
{
  g_autoptr (MeshHashList) list = parse_ok (valid_list);

  check_lookup (list, "single.mp4", 0, 800, HEX_C);
  check_lookup (list, "single.mp4", 800, 200, HEX_A);
  /* offset 0 and the file's size is the file, whatever a range says */
  check_lookup (list, "single.mp4", 0, 1000, HEX_B);
  check_lookup (list, "single.mp4", 0, -1, HEX_B);
  /* exactly the listed offset and length, nothing overlapping */
  check_lookup (list, "single.mp4", 0, 799, NULL);
  check_lookup (list, "single.mp4", 1, 800, NULL);
  check_lookup (list, "single.mp4", 800, 100, NULL);
  check_lookup (list, "single.mp4", 800, 201, NULL);
  check_lookup (list, "single.mp4", 1000, 0, NULL);
  /* a file's ranges are not another file's */
  check_lookup (list, "a/seg1.ts", 800, 200, NULL);
}

GST_END_TEST;

GST_START_TEST (test_valid_variants)
{
  g_autoptr (MeshHashList) empty = parse_ok (HEAD "{}}");
  g_autoptr (MeshHashList) spaced = NULL, extra = NULL, no_ranges = NULL;

  fail_unless_equals_int (mesh_hash_list_get_n_files (empty), 0);
  check_lookup (empty, "a", 0, -1, NULL);

  spaced = parse_ok ("\n { \"files\" : { \"x\" : { \"sha256\" : \"" HEX_A
      "\" , \"size\" : 5 } } , \"algorithm\" : \"sha-256\" , "
      "\"version\" : 1 }\n\n");
  check_lookup (spaced, "x", 0, 5, HEX_A);

  /* members of later minor additions are ignored, wherever they are */
  extra = parse_ok ("{\"version\":1,\"algorithm\":\"sha-256\","
      "\"generator\":\"x\",\"generated\":[1,{\"a\":null}],\"files\":{"
      "\"x\":{\"size\":5,\"sha256\":\"" HEX_A "\",\"mtime\":12,\"ranges\":["
      "{\"offset\":1,\"length\":4,\"sha256\":\"" HEX_B "\",\"note\":\"\"}]}}}");
  check_lookup (extra, "x", 1, 4, HEX_B);

  no_ranges = parse_ok (HEAD "{\"x\":{\"size\":5,\"sha256\":\"" HEX_A
      "\",\"ranges\":[]}}}");
  check_lookup (no_ranges, "x", 0, -1, HEX_A);

  /* a range may end exactly at the file's end */
  mesh_hash_list_unref (parse_ok (HEAD "{\"x\":{\"size\":9223372036854775807,"
          "\"sha256\":\"" HEX_A "\",\"ranges\":[{\"offset\":"
          "9223372036854775806,\"length\":1,\"sha256\":\"" HEX_A "\"}]}}}"));
}

GST_END_TEST;

GST_START_TEST (test_refcount)
{
  MeshHashList *list = parse_ok (valid_list);

  fail_unless (mesh_hash_list_ref (list) == list);
  mesh_hash_list_unref (list);
  check_lookup (list, "a/seg1.ts", 0, -1, HEX_A);
  mesh_hash_list_unref (list);
}

GST_END_TEST;

static gpointer
look_up_many (gpointer data)
{
  MeshHashList *list = data;
  guint i;

  for (i = 0; i < 20000; i++) {
    check_lookup (list, "single.mp4", 800, 200, HEX_A);
    check_lookup (list, "a/seg1.ts", 0, -1, HEX_A);
    mesh_hash_list_unref (mesh_hash_list_ref (list));
  }
  mesh_hash_list_unref (list);
  return NULL;
}

/* One list, looked up and referenced from several threads at once: it never
 * changes, so this needs no lock (ThreadSanitizer builds would say). */
GST_START_TEST (test_shared_between_threads)
{
  MeshHashList *list = parse_ok (valid_list);
  GThread *threads[4];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("lookup", look_up_many,
        mesh_hash_list_ref (list));
  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  check_lookup (list, "a/seg1.ts", 0, -1, HEX_A);
  mesh_hash_list_unref (list);
}

GST_END_TEST;

GST_START_TEST (test_malformed_document)
{
  static const gchar nul[] = HEAD "{}}\0";
  g_autoptr (GBytes) with_nul = g_bytes_new_static (nul, sizeof nul);
  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);

  expect_refused_bytes (empty, MESH_HASH_LIST_ERROR_MALFORMED);
  expect_refused_bytes (with_nul, MESH_HASH_LIST_ERROR_MALFORMED);
  expect_malformed ("   ");
  expect_malformed ("not json");
  expect_malformed (HEAD "{}");
  expect_malformed (HEAD "{}}}");
  expect_malformed (HEAD "{}} {}");
  expect_malformed (HEAD "{}} x");
  expect_malformed ("[" HEAD "{}}]");
  expect_malformed ("\"a\"");
  expect_malformed ("1");
  expect_malformed ("null");
  /* version: missing, not an integer */
  expect_malformed ("{\"algorithm\":\"sha-256\",\"files\":{}}");
  expect_malformed ("{\"version\":\"1\",\"algorithm\":\"sha-256\","
      "\"files\":{}}");
  expect_malformed ("{\"version\":1.0,\"algorithm\":\"sha-256\","
      "\"files\":{}}");
  expect_malformed ("{\"version\":null,\"algorithm\":\"sha-256\","
      "\"files\":{}}");
  /* algorithm: missing, not a string */
  expect_malformed ("{\"version\":1,\"files\":{}}");
  expect_malformed ("{\"version\":1,\"algorithm\":256,\"files\":{}}");
  /* files: missing, not an object */
  expect_malformed ("{\"version\":1,\"algorithm\":\"sha-256\"}");
  expect_malformed (HEAD "[]}");
  expect_malformed (HEAD "null}");
  expect_malformed (HEAD "\"\"}");
}

GST_END_TEST;

GST_START_TEST (test_unsupported)
{
  expect_refused ("{\"version\":2,\"algorithm\":\"sha-256\",\"files\":{}}",
      MESH_HASH_LIST_ERROR_UNSUPPORTED);
  expect_refused ("{\"version\":0,\"algorithm\":\"sha-256\",\"files\":{}}",
      MESH_HASH_LIST_ERROR_UNSUPPORTED);
  /* a later version is refused as such, whatever its other members */
  expect_refused ("{\"version\":2,\"algorithm\":\"blake3\",\"files\":[]}",
      MESH_HASH_LIST_ERROR_UNSUPPORTED);
  expect_refused ("{\"version\":1,\"algorithm\":\"sha256\",\"files\":{}}",
      MESH_HASH_LIST_ERROR_UNSUPPORTED);
  expect_refused ("{\"version\":1,\"algorithm\":\"SHA-256\",\"files\":{}}",
      MESH_HASH_LIST_ERROR_UNSUPPORTED);
  expect_refused ("{\"version\":1,\"algorithm\":\"sha-1\",\"files\":{}}",
      MESH_HASH_LIST_ERROR_UNSUPPORTED);
}

GST_END_TEST;

GST_START_TEST (test_malformed_file)
{
  /* not an object */
  expect_files_malformed ("\"x\":\"" HEX_A "\"");
  expect_files_malformed ("\"x\":null");
  expect_files_malformed ("\"x\":[]");
  /* size: missing, negative, fractional, a string, too large */
  expect_files_malformed ("\"x\":{\"sha256\":\"" HEX_A "\"}");
  expect_files_malformed ("\"x\":{\"size\":-1,\"sha256\":\"" HEX_A "\"}");
  expect_files_malformed ("\"x\":{\"size\":1.5,\"sha256\":\"" HEX_A "\"}");
  expect_files_malformed ("\"x\":{\"size\":\"1\",\"sha256\":\"" HEX_A "\"}");
  expect_files_malformed ("\"x\":{\"size\":true,\"sha256\":\"" HEX_A "\"}");
  expect_files_malformed ("\"x\":{\"size\":1e3,\"sha256\":\"" HEX_A "\"}");
  expect_files_malformed ("\"x\":{\"size\":92233720368547758070,"
      "\"sha256\":\"" HEX_A "\"}");
  /* sha256: missing, short, long, upper case, not hex, not a string */
  expect_files_malformed ("\"x\":{\"size\":1}");
  expect_files_malformed ("\"x\":{\"size\":1,\"sha256\":\""
      "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48b\"}");
  expect_files_malformed ("\"x\":{\"size\":1,\"sha256\":\"" HEX_A "0\"}");
  expect_files_malformed ("\"x\":{\"size\":1,\"sha256\":\""
      "CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB\"}");
  expect_files_malformed ("\"x\":{\"size\":1,\"sha256\":\""
      "ga978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb\"}");
  expect_files_malformed ("\"x\":{\"size\":1,\"sha256\":\""
      " a978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb\"}");
  expect_files_malformed ("\"x\":{\"size\":1,\"sha256\":\"\"}");
  expect_files_malformed ("\"x\":{\"size\":1,\"sha256\":7}");
  /* a bad entry after good ones is refused all the same */
  expect_files_malformed ("\"x\":{\"size\":1,\"sha256\":\"" HEX_A "\"},"
      "\"y\":{\"size\":1,\"sha256\":\"" HEX_A "\"},\"z\":{\"size\":1}");
}

GST_END_TEST;

GST_START_TEST (test_malformed_path)
{
  static const gchar *const bad[] = {
    "", "/a.ts", "a.ts/", "a//b.ts", "../a.ts", "a/../b.ts", "a/..", "..",
    ".", "./a.ts", "a/./b.ts", "a\\u0001b.ts", "a\\nb.ts", "a\\u007fb.ts",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree gchar *files = g_strdup_printf ("\"%s\":{\"size\":1,"
        "\"sha256\":\"" HEX_A "\"}", bad[i]);

    expect_files_malformed (files);
  }
}

GST_END_TEST;

GST_START_TEST (test_path_validity)
{
  g_autofree gchar *longest = g_strnfill (MESH_HASH_LIST_MAX_PATH, 'a');
  g_autofree gchar *too_long = g_strnfill (MESH_HASH_LIST_MAX_PATH + 1, 'a');

  fail_unless (mesh_hash_list_is_valid_path ("a"));
  fail_unless (mesh_hash_list_is_valid_path ("a/b/c.ts"));
  fail_unless (mesh_hash_list_is_valid_path ("..a/b../.c/c."));
  fail_unless (mesh_hash_list_is_valid_path ("été/😀.ts"));
  fail_unless (mesh_hash_list_is_valid_path ("a b\\c%20.ts"));
  fail_unless (mesh_hash_list_is_valid_path (longest));
  fail_if (mesh_hash_list_is_valid_path (too_long));
  fail_if (mesh_hash_list_is_valid_path (NULL));
  fail_if (mesh_hash_list_is_valid_path ("a/\xff.ts"));
  fail_if (mesh_hash_list_is_valid_path ("a\t.ts"));
}

GST_END_TEST;

GST_START_TEST (test_malformed_ranges)
{
#define FILE_WITH(ranges) "\"x\":{\"size\":1000,\"sha256\":\"" HEX_A \
    "\",\"ranges\":" ranges "}"
#define RANGE(o, l) "{\"offset\":" o ",\"length\":" l ",\"sha256\":\"" \
    HEX_B "\"}"
  expect_files_malformed (FILE_WITH ("{}"));
  expect_files_malformed (FILE_WITH ("null"));
  expect_files_malformed (FILE_WITH ("[1]"));
  expect_files_malformed (FILE_WITH ("[[]]"));
  /* members missing, negative, zero length, not integers */
  expect_files_malformed (FILE_WITH ("[{\"offset\":0,\"length\":1}]"));
  expect_files_malformed (FILE_WITH ("[{\"offset\":0,\"sha256\":\"" HEX_B
          "\"}]"));
  expect_files_malformed (FILE_WITH ("[{\"length\":1,\"sha256\":\"" HEX_B
          "\"}]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("-1", "1") "]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("0", "0") "]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("0", "-5") "]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("0.5", "1") "]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("\"0\"", "1") "]"));
  expect_files_malformed (FILE_WITH ("[{\"offset\":0,\"length\":1,"
          "\"sha256\":\"" HEX_B "ff\"}]"));
  /* past the file's size, including by overflow */
  expect_files_malformed (FILE_WITH ("[" RANGE ("0", "1001") "]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("1000", "1") "]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("1001", "1") "]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("999", "2") "]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("1",
              "9223372036854775807") "]"));
  expect_files_malformed (FILE_WITH ("[" RANGE ("9223372036854775807",
              "9223372036854775807") "]"));
  /* the same range twice, in any order */
  expect_files_malformed (FILE_WITH ("[" RANGE ("0", "10") "," RANGE ("10",
              "10") "," RANGE ("0", "10") "]"));
  /* and a bad range after good ones */
  expect_files_malformed (FILE_WITH ("[" RANGE ("0", "10") "," RANGE ("10",
              "991") "]"));
#undef RANGE
#undef FILE_WITH
}

GST_END_TEST;

/* A document of @n_files files, each with @n_ranges ranges of one byte,
 * padded with spaces to @pad_to bytes if shorter. */
static GBytes *
make_list (guint n_files, guint n_ranges, gsize pad_to)
{
  GString *text = g_string_new (HEAD "{");
  guint i, j;

  for (i = 0; i < n_files; i++) {
    g_string_append_printf (text, "%s\"%u\":{\"size\":%u,\"sha256\":\"" HEX_A
        "\"", i ? "," : "", i, MAX (n_ranges, 1));
    if (n_ranges) {
      g_string_append (text, ",\"ranges\":[");
      for (j = 0; j < n_ranges; j++)
        g_string_append_printf (text, "%s{\"offset\":%u,\"length\":1,"
            "\"sha256\":\"" HEX_B "\"}", j ? "," : "", j);
      g_string_append_c (text, ']');
    }
    g_string_append_c (text, '}');
  }
  g_string_append (text, "}}");
  while (text->len < pad_to)
    g_string_append_c (text, ' ');
  return g_string_free_to_bytes (text);
}

GST_START_TEST (test_size_cap)
{
  g_autoptr (GBytes) largest = make_list (2, 0, MESH_HASH_LIST_MAX_BYTES);
  g_autoptr (GBytes) too_large = make_list (2, 0, MESH_HASH_LIST_MAX_BYTES + 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshHashList) list = mesh_hash_list_parse (largest, &error);

  fail_unless (list != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (mesh_hash_list_get_n_files (list), 2);
  expect_refused_bytes (too_large, MESH_HASH_LIST_ERROR_TOO_LARGE);
}

GST_END_TEST;

static void
expect_entries_accepted (GBytes * bytes, const gchar * path, guint n_files)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshHashList) list = mesh_hash_list_parse (bytes, &error);

  fail_unless (list != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (mesh_hash_list_get_n_files (list), n_files);
  fail_unless (mesh_hash_list_get_file_size (list, path, NULL));
}

/* Files and ranges count together against the entry cap. Each document is
 * some 25 MB: they are made and dropped one at a time. */
GST_START_TEST (test_entry_cap)
{
  const guint max = MESH_HASH_LIST_MAX_ENTRIES;
  GBytes *bytes;

  bytes = make_list (max, 0, 0);
  expect_entries_accepted (bytes, "249999", max);
  g_bytes_unref (bytes);
  bytes = make_list (max + 1, 0, 0);
  expect_refused_bytes (bytes, MESH_HASH_LIST_ERROR_TOO_LARGE);
  g_bytes_unref (bytes);
  /* one file and max - 1 ranges, then one range more */
  bytes = make_list (1, max - 1, 0);
  expect_entries_accepted (bytes, "0", 1);
  g_bytes_unref (bytes);
  bytes = make_list (1, max, 0);
  expect_refused_bytes (bytes, MESH_HASH_LIST_ERROR_TOO_LARGE);
  g_bytes_unref (bytes);
}

GST_END_TEST;

/* Dense and deep documents are refused before json-glib builds them: a
 * value every two bytes would cost it gigabytes, deep nesting its stack. */
GST_START_TEST (test_value_and_depth_caps)
{
  GString *dense = g_string_new (HEAD "{},\"x\":[0");
  g_autoptr (GBytes) dense_bytes = NULL;
  g_autofree gchar *deep = NULL, *shallow = NULL;
  GString *nest = g_string_new (NULL);
  guint i;

  for (i = 0; i < 6 * MESH_HASH_LIST_MAX_ENTRIES + 64; i++)
    g_string_append (dense, ",0");
  g_string_append (dense, "]}");
  dense_bytes = g_string_free_to_bytes (dense);
  expect_refused_bytes (dense_bytes, MESH_HASH_LIST_ERROR_TOO_LARGE);

  /* brackets and commas inside strings do not count */
  for (i = 0; i < 10000; i++)
    g_string_append (nest, "[{,");
  shallow = g_strdup_printf (HEAD "{},\"x\":\"%s\"}", nest->str);
  mesh_hash_list_unref (parse_ok (shallow));

  g_string_truncate (nest, 0);
  for (i = 0; i < 100000; i++)
    g_string_append_c (nest, '[');
  deep = g_strdup_printf (HEAD "{},\"x\":%s}", nest->str);
  expect_refused (deep, MESH_HASH_LIST_ERROR_TOO_LARGE);
  g_string_free (nest, TRUE);
}

GST_END_TEST;

GST_START_TEST (test_path_for_uri)
{
  static const struct
  {
    const gchar *list, *uri, *path;
  } cases[] = {
    {"http://h/v/mesh-hashes.json", "http://h/v/seg1.ts", "seg1.ts"},
    {"http://h/v/mesh-hashes.json", "http://h/v/720p/seg1.ts?t=1#f",
        "720p/seg1.ts"},
    {"http://h/v/mesh-hashes.json", "http://H:80/v/a%20b.ts", "a b.ts"},
    {"https://h:8443/mesh-hashes.json", "https://h:8443/x/y.m4s", "x/y.m4s"},
    {"http://h/v/mesh-hashes.json", "http://h/v/%C3%A9t%C3%A9.ts", "été.ts"},
    /* another origin */
    {"http://h/v/mesh-hashes.json", "https://h/v/seg1.ts", NULL},
    {"http://h/v/mesh-hashes.json", "http://h:81/v/seg1.ts", NULL},
    {"http://h/v/mesh-hashes.json", "http://g/v/seg1.ts", NULL},
    /* outside the list's directory, or nothing there */
    {"http://h/v/mesh-hashes.json", "http://h/w/seg1.ts", NULL},
    {"http://h/v/mesh-hashes.json", "http://h/v2/seg1.ts", NULL},
    {"http://h/v/mesh-hashes.json", "http://h/v/", NULL},
    {"http://h/v/mesh-hashes.json", "http://h/v/a//b.ts", NULL},
    {"http://h/v/mesh-hashes.json", "http://h/v/%2e%2e/x.ts", NULL},
    {"http://h/v/mesh-hashes.json", "http://h/v/a%2Fb.ts", NULL},
    {"http://h/v/mesh-hashes.json", "http://h/v/a%00b.ts", NULL},
    {"http://h/v/mesh-hashes.json", "not a uri", NULL},
    {"relative/mesh-hashes.json", "http://h/v/a.ts", NULL},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *path = mesh_hash_list_path_for_uri (cases[i].list,
        cases[i].uri);

    fail_unless (g_strcmp0 (path, cases[i].path) == 0, "%s in %s: %s, not %s",
        cases[i].uri, cases[i].list, path, cases[i].path);
  }
}

GST_END_TEST;

static Suite *
hash_list_suite (void)
{
  Suite *s = suite_create ("hash-list");
  TCase *tc = tcase_create ("general");

  /* test_entry_cap parses four documents of 25 MB: seconds, minutes under the
   * sanitizers */
  tcase_set_timeout (tc, 280);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_lookup_whole_files);
  tcase_add_test (tc, test_lookup_ranges);
  tcase_add_test (tc, test_valid_variants);
  tcase_add_test (tc, test_refcount);
  tcase_add_test (tc, test_shared_between_threads);
  tcase_add_test (tc, test_malformed_document);
  tcase_add_test (tc, test_unsupported);
  tcase_add_test (tc, test_malformed_file);
  tcase_add_test (tc, test_malformed_path);
  tcase_add_test (tc, test_path_validity);
  tcase_add_test (tc, test_malformed_ranges);
  tcase_add_test (tc, test_size_cap);
  tcase_add_test (tc, test_entry_cap);
  tcase_add_test (tc, test_value_and_depth_caps);
  tcase_add_test (tc, test_path_for_uri);
  return s;
}

GST_CHECK_MAIN (hash_list);
