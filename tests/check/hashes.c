/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of mesh-hashes (tools/hashes/) on temporary directories: what
 * counts as media, the digests and ranges it lists (read back with the
 * elements' parser, checked against GChecksum over the bytes), its exit
 * statuses, the "settled" rule of the scan it shares with the origin, and
 * --watch picking up a new file and dropping a removed one, followed
 * through the lines the tool prints as it writes.
 *
 * Threads: the check thread, iterating its own GMainContext to read the
 * tool's output with a deadline.
 */

#include <gst/check/gstcheck.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "fetch/mesh-hash-list.h"
#include "mesh-hash-scan.h"
#include "mesh-test-wait.h"

/* Makes @path (relative to @dir, directories created) with @data. */
static void
put_file (const gchar * dir, const gchar * path, const gchar * data,
    gssize length)
{
  g_autofree gchar *filename = g_build_filename (dir, path, NULL);
  g_autofree gchar *parent = g_path_get_dirname (filename);
  FILE *f;

  /* written in place, not through a temporary file of another name that
   * a watching tool would see come and go */
  fail_unless (g_mkdir_with_parents (parent, 0755) == 0);
  fail_unless ((f = fopen (filename, "wb")) != NULL, "%s", filename);
  fail_unless (fwrite (data, 1, length < 0 ? strlen (data) : (gsize) length,
          f) == (length < 0 ? strlen (data) : (gsize) length));
  fail_unless (fclose (f) == 0);
}

static void
remove_tree (const gchar * path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR)
        && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
      remove_tree (child);
    else
      g_unlink (child);
  }
  g_rmdir (path);
}

static MeshHashList *
read_list (const gchar * dir)
{
  g_autofree gchar *filename = g_build_filename (dir, "mesh-hashes.json",
      NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  gchar *text;
  gsize length;
  MeshHashList *list;

  fail_unless (g_file_get_contents (filename, &text, &length, &error), "%s",
      error ? error->message : "");
  bytes = g_bytes_new_take (text, length);
  list = mesh_hash_list_parse (bytes, &error);
  fail_unless (list != NULL, "%s", error ? error->message : "");
  return list;
}

/* Checks that @list has @path (or its range) with the SHA-256 of @data. */
static void
check_listed (const MeshHashList * list, const gchar * path, gint64 offset,
    gint64 length, const gchar * data, gsize size)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 expected[32], found[32];
  gsize digest_length = 32;

  g_checksum_update (checksum, (const guchar *) data, size);
  g_checksum_get_digest (checksum, expected, &digest_length);
  fail_unless (mesh_hash_list_lookup (list, path, offset, length, found),
      "%s %" G_GINT64_FORMAT "+%" G_GINT64_FORMAT " not listed", path, offset,
      length);
  fail_unless (memcmp (found, expected, 32) == 0, "%s: wrong digest", path);
}

static gboolean
is_listed (const MeshHashList * list, const gchar * path)
{
  return mesh_hash_list_get_file_size (list, path, NULL);
}

/* Runs mesh-hashes with @args to its end; its stdout in @out. */
static gint
run_tool (const gchar * const *args, gchar ** out)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *err = NULL;
  guint i;

  g_ptr_array_add (argv, (gpointer) g_getenv ("MESH_HASHES"));
  for (i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_newv ((const gchar * const *) argv->pdata,
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  fail_unless (process != NULL, "%s", error ? error->message : "");
  fail_unless (g_subprocess_communicate_utf8 (process, NULL, NULL, out, &err,
          &error), "%s", error ? error->message : "");
  GST_INFO ("stderr: %s", err);
  return g_subprocess_get_exit_status (process);
}

/* A playlist addressing byte ranges of single.ts, and one segment of
 * another directory by an absolute path. */
static const gchar byterange_playlist[] =
    "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:1\n"
    "#EXTINF:1,\n#EXT-X-BYTERANGE:4@0\nsingle.ts\n"
    "#EXTINF:1,\n#EXT-X-BYTERANGE:6@4\nsingle.ts\n"
    "#EXTINF:1,\n#EXT-X-BYTERANGE:6@4\nsingle.ts\n"
    "#EXTINF:1,\n#EXT-X-BYTERANGE:10@0\nsingle.ts\n"
    "#EXTINF:1,\n#EXT-X-BYTERANGE:4@20\nsingle.ts\n" "#EXT-X-ENDLIST\n";

GST_START_TEST (test_one_shot)
{
  g_autofree gchar *dir = g_dir_make_tmp ("mesh-hashes-XXXXXX", NULL);
  g_autofree gchar *out = NULL;
  g_autoptr (MeshHashList) list = NULL;
  g_autoptr (GDir) listing = NULL;
  const gchar *args[] = { dir, NULL };
  const gchar *name;

  put_file (dir, "a/seg1.ts", "first segment", -1);
  put_file (dir, "b/c/seg2.m4s", "", 0);
  put_file (dir, "name with space.aac", "sp", -1);
  put_file (dir, "single.ts", "0123456789", -1);
  put_file (dir, "index.m3u8", byterange_playlist, -1);
  put_file (dir, "manifest.mpd", "<MPD/>", -1);
  put_file (dir, "other.json", "{}", -1);
  put_file (dir, ".hidden.ts", "x", -1);
  put_file (dir, ".hidden/seg.ts", "x", -1);
  put_file (dir, "seg3.ts.tmp", "x", -1);
  put_file (dir, "seg4.ts.part", "x", -1);

  fail_unless_equals_int (run_tool (args, &out), 0);
  fail_unless (g_str_has_prefix (out, "wrote "), "%s", out);
  fail_unless (strstr (out, "files=4 ranges=2 "), "%s", out);

  list = read_list (dir);
  fail_unless_equals_int (mesh_hash_list_get_n_files (list), 4);
  check_listed (list, "a/seg1.ts", 0, -1, "first segment", 13);
  check_listed (list, "b/c/seg2.m4s", 0, -1, "", 0);
  check_listed (list, "name with space.aac", 0, -1, "sp", 2);
  check_listed (list, "single.ts", 0, -1, "0123456789", 10);
  /* the playlist's ranges, once each; the whole file and a range past its
   * end are not ranges */
  check_listed (list, "single.ts", 0, 4, "0123", 4);
  check_listed (list, "single.ts", 4, 6, "456789", 6);
  fail_if (is_listed (list, "index.m3u8") || is_listed (list, "other.json")
      || is_listed (list, ".hidden.ts") || is_listed (list, ".hidden/seg.ts")
      || is_listed (list, "seg3.ts.tmp") || is_listed (list, "seg4.ts.part"));

  /* written by rename: no temporary file left behind */
  listing = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (listing)))
    fail_if (g_str_has_prefix (name, ".mesh-hashes"), "left %s", name);
  remove_tree (dir);
}

GST_END_TEST;

GST_START_TEST (test_exit_status)
{
  g_autofree gchar *dir = g_dir_make_tmp ("mesh-hashes-XXXXXX", NULL);
  g_autofree gchar *file = g_build_filename (dir, "f.ts", NULL);
  g_autofree gchar *bad_name = g_build_filename (dir, "bad\x01name.ts", NULL);
  g_autofree gchar *out = NULL;
  const gchar *no_dir[] = { NULL };
  const gchar *two_dirs[] = { dir, dir, NULL };
  const gchar *bad_option[] = { "--nope", dir, NULL };
  const gchar *bad_interval[] = { "--watch", "--interval", "0", dir, NULL };
  const gchar *not_dir[] = { file, NULL };
  const gchar *missing[] = { "/nonexistent/mesh-hashes-test", NULL };
  const gchar *ok[] = { dir, NULL };

  put_file (dir, "f.ts", "f", -1);
  fail_unless_equals_int (run_tool (no_dir, NULL), 2);
  fail_unless_equals_int (run_tool (two_dirs, NULL), 2);
  fail_unless_equals_int (run_tool (bad_option, NULL), 2);
  fail_unless_equals_int (run_tool (bad_interval, NULL), 2);
  fail_unless_equals_int (run_tool (not_dir, NULL), 1);
  fail_unless_equals_int (run_tool (missing, NULL), 1);
  fail_unless_equals_int (run_tool (ok, NULL), 0);

  /* a name the list cannot hold: written without it, status 3 */
  fail_unless (g_file_set_contents (bad_name, "b", 1, NULL));
  fail_unless_equals_int (run_tool (ok, &out), 3);
  fail_unless (strstr (out, "files=1 ") && strstr (out, "skipped=1"), "%s",
      out);
  remove_tree (dir);
}

GST_END_TEST;

/* The settled rule, one update at a time: a file is listed once two
 * updates in a row saw it the same, not while it grows. */
GST_START_TEST (test_settle_rule)
{
  g_autofree gchar *dir = g_dir_make_tmp ("mesh-hashes-XXXXXX", NULL);
  g_autofree gchar *growing = g_build_filename (dir, "growing.ts", NULL);
  MeshHashScan *scan = mesh_hash_scan_new (dir);
  MeshHashScanStats stats;
  FILE *f;

  put_file (dir, "done.ts", "done", -1);
  fail_unless ((f = fopen (growing, "w")) != NULL);
  fputs ("part one", f);
  fflush (f);

  fail_unless (mesh_hash_scan_update (scan, MESH_HASH_SCAN_SETTLE, &stats,
          NULL));
  fail_unless_equals_int (stats.files, 0);
  fail_unless_equals_int (stats.pending, 2);
  fail_if (stats.changed);

  fputs (", part two", f);
  fflush (f);
  fail_unless (mesh_hash_scan_update (scan, MESH_HASH_SCAN_SETTLE, &stats,
          NULL));
  fail_unless_equals_int (stats.files, 1);
  fail_unless_equals_int (stats.added, 1);
  fail_unless_equals_int (stats.pending, 1);
  fail_unless (stats.changed);

  fclose (f);
  fail_unless (mesh_hash_scan_update (scan, MESH_HASH_SCAN_SETTLE, &stats,
          NULL));
  fail_unless_equals_int (stats.files, 2);
  fail_unless_equals_int (stats.hashed, 1);
  fail_unless_equals_int (stats.pending, 0);

  /* nothing changed: nothing read, nothing to write */
  fail_unless (mesh_hash_scan_update (scan, MESH_HASH_SCAN_SETTLE, &stats,
          NULL));
  fail_unless_equals_int (stats.hashed, 0);
  fail_if (stats.changed);

  /* a listed file that changes leaves the list until it settles again */
  fail_unless ((f = fopen (growing, "a")) != NULL);
  fputs (", part three", f);
  fclose (f);
  fail_unless (mesh_hash_scan_update (scan, MESH_HASH_SCAN_SETTLE, &stats,
          NULL));
  fail_unless_equals_int (stats.files, 1);
  fail_unless_equals_int (stats.removed, 1);
  fail_unless (mesh_hash_scan_update (scan, MESH_HASH_SCAN_SETTLE, &stats,
          NULL));
  fail_unless_equals_int (stats.files, 2);

  mesh_hash_scan_free (scan);
  remove_tree (dir);
}

GST_END_TEST;

typedef struct
{
  GDataInputStream *stdout_lines;
  GPtrArray *lines;
  gboolean eof;
} ToolOutput;

static void
on_line (GObject * source, GAsyncResult * result, gpointer data)
{
  ToolOutput *output = data;
  gchar *line = g_data_input_stream_read_line_finish_utf8
      (G_DATA_INPUT_STREAM (source), result, NULL, NULL);

  if (!line) {
    output->eof = TRUE;
    return;
  }
  GST_INFO ("mesh-hashes: %s", line);
  g_ptr_array_add (output->lines, line);
  g_data_input_stream_read_line_async (output->stdout_lines,
      G_PRIORITY_DEFAULT, NULL, on_line, output);
}

/* Whether a line after the first @from has @what; the next line to look
 * at in @from. */
static gboolean
has_line (ToolOutput * output, guint * from, const gchar * what)
{
  for (; *from < output->lines->len; (*from)++) {
    if (strstr (g_ptr_array_index (output->lines, *from), what)) {
      (*from)++;
      return TRUE;
    }
  }
  return FALSE;
}

/* Reads the tool's lines until one after @from has @what. */
static void
wait_for_line (GMainContext * context, ToolOutput * output, guint * from,
    const gchar * what)
{
  gboolean found = FALSE;

  MESH_TEST_ITERATE_UNTIL (context, (found = has_line (output, from, what))
      || output->eof, 10000);
  fail_unless (found, "mesh-hashes printed no line with \"%s\"", what);
}

static void
on_exited (GObject * source, GAsyncResult * result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) data = TRUE;
}

GST_START_TEST (test_watch)
{
  g_autofree gchar *dir = g_dir_make_tmp ("mesh-hashes-XXXXXX", NULL);
  g_autofree gchar *seg1 = g_build_filename (dir, "seg1.ts", NULL);
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshHashList) list = NULL;
  ToolOutput output = { NULL, g_ptr_array_new_with_free_func (g_free) };
  gboolean exited = FALSE;
  guint next = 0;

  put_file (dir, "seg1.ts", "segment one", -1);
  g_main_context_push_thread_default (context);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
      g_getenv ("MESH_HASHES"), "--watch", "--interval", "0.05", dir, NULL);
  fail_unless (process != NULL, "%s", error ? error->message : "");
  output.stdout_lines =
      g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  g_data_input_stream_read_line_async (output.stdout_lines,
      G_PRIORITY_DEFAULT, NULL, on_line, &output);

  /* first the empty list (nothing settled yet), then seg1 */
  wait_for_line (context, &output, &next, "files=0 ");
  wait_for_line (context, &output, &next, "files=1 ranges=0 added=1 ");
  list = read_list (dir);
  check_listed (list, "seg1.ts", 0, -1, "segment one", 11);
  g_clear_pointer (&list, mesh_hash_list_unref);

  put_file (dir, "live/seg2.ts", "segment two", -1);
  wait_for_line (context, &output, &next, "files=2 ranges=0 added=1 ");
  list = read_list (dir);
  check_listed (list, "seg1.ts", 0, -1, "segment one", 11);
  check_listed (list, "live/seg2.ts", 0, -1, "segment two", 11);
  g_clear_pointer (&list, mesh_hash_list_unref);

  fail_unless (g_unlink (seg1) == 0);
  wait_for_line (context, &output, &next, "files=1 ranges=0 added=0 removed=1");
  list = read_list (dir);
  fail_if (is_listed (list, "seg1.ts"));
  check_listed (list, "live/seg2.ts", 0, -1, "segment two", 11);

  /* SIGTERM stops it, with status 0 */
  g_subprocess_wait_async (process, NULL, on_exited, &exited);
  g_subprocess_send_signal (process, SIGTERM);
  MESH_TEST_WAIT_UNTIL (context, exited, 10000);
  fail_unless (g_subprocess_get_if_exited (process));
  fail_unless_equals_int (g_subprocess_get_exit_status (process), 0);

  MESH_TEST_ITERATE_UNTIL (context, output.eof, 5000);
  g_object_unref (output.stdout_lines);
  g_ptr_array_unref (output.lines);
  g_main_context_pop_thread_default (context);
  remove_tree (dir);
}

GST_END_TEST;

static Suite *
hashes_suite (void)
{
  Suite *s = suite_create ("hashes");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_one_shot);
  tcase_add_test (tc, test_exit_status);
  tcase_add_test (tc, test_settle_rule);
  tcase_add_test (tc, test_watch);
  return s;
}

GST_CHECK_MAIN (hashes);
