/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mesh-hashes: writes the segment digest list of a directory
 * (DIR/mesh-hashes.json, docs/hash-list.md) once, or keeps it current
 * while a live packager writes (--watch).
 *
 *   mesh-hashes [--watch [--interval SECONDS]] DIR
 *
 * Threads: the main thread only, on the default GMainContext (--watch polls
 * from a timeout there and stops on SIGINT or SIGTERM).
 */

#include "mesh-hash-scan.h"
#include "mesh-tool.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

/* Exit statuses, for scripts (and listed in --help). */
enum
{
  EXIT_OK = 0,
  EXIT_FAILED = 1,              /* nothing written */
  EXIT_USAGE = 2,
  EXIT_INCOMPLETE = 3,          /* written, but some files left out */
};

#define DEFAULT_INTERVAL 1.0

typedef struct
{
  MeshHashScan *scan;
  GMainLoop *loop;
  const gchar *dir;
  gboolean written_once;
} Watch;

static void
print_warnings (MeshHashScan * scan)
{
  GPtrArray *warnings = mesh_hash_scan_get_warnings (scan);
  guint i;

  for (i = 0; i < warnings->len; i++)
    g_printerr ("mesh-hashes: warning: %s\n",
        (const gchar *) g_ptr_array_index (warnings, i));
}

/* The line scripts (and the tests) read: one per list written. */
static void
print_written (const gchar * dir, const MeshHashScanStats * stats)
{
  g_autofree gchar *path = g_build_filename (dir, "mesh-hashes.json", NULL);

  g_print ("wrote %s files=%u ranges=%u added=%u removed=%u hashed=%u "
      "pending=%u skipped=%u\n", path, stats->files, stats->ranges,
      stats->added, stats->removed, stats->hashed, stats->pending,
      stats->skipped);
  fflush (stdout);
}

/* One update and, if the list changed (or was never written), one write. */
static gboolean
update_and_write (MeshHashScan * scan, const gchar * dir,
    MeshHashScanFlags flags, gboolean force, MeshHashScanStats * stats)
{
  g_autoptr (GError) error = NULL;

  if (!mesh_hash_scan_update (scan, flags, stats, &error)) {
    g_printerr ("mesh-hashes: error: %s\n", error->message);
    return FALSE;
  }
  print_warnings (scan);
  if (!force && !stats->changed)
    return TRUE;
  if (!mesh_hash_scan_write (scan, &error)) {
    g_printerr ("mesh-hashes: error: %s\n", error->message);
    return FALSE;
  }
  print_written (dir, stats);
  return TRUE;
}

static gboolean
on_poll (gpointer data)
{
  Watch *watch = data;
  MeshHashScanStats stats;

  /* errors are reported and retried: a packager may replace its directory */
  if (update_and_write (watch->scan, watch->dir, MESH_HASH_SCAN_SETTLE,
          !watch->written_once, &stats))
    watch->written_once = TRUE;
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

static int
run_once (const gchar * dir)
{
  g_autoptr (GError) error = NULL;
  MeshHashScan *scan = mesh_hash_scan_new (dir);
  MeshHashScanStats stats;
  gboolean ok = update_and_write (scan, dir, MESH_HASH_SCAN_NONE, TRUE, &stats);

  mesh_hash_scan_free (scan);
  if (!ok)
    return EXIT_FAILED;
  return stats.skipped ? EXIT_INCOMPLETE : EXIT_OK;
}

/* Polls rather than following inotify (GFileMonitor): one stat per file per
 * interval is cheap for a live window, needs no watch per subdirectory,
 * works on network file systems, and two polls are exactly the "settled"
 * rule (same size and time twice in a row). */
static int
run_watch (const gchar * dir, gdouble interval)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Watch watch = { mesh_hash_scan_new (dir), loop, dir, FALSE };
  MeshHashScanStats stats;
  guint sigint, sigterm, timer;

  /* the first update writes the list (what has settled: nothing yet) and
   * says whether DIR can be read at all */
  if (!update_and_write (watch.scan, dir, MESH_HASH_SCAN_SETTLE, TRUE, &stats)) {
    mesh_hash_scan_free (watch.scan);
    return EXIT_FAILED;
  }
  watch.written_once = TRUE;
  sigint = g_unix_signal_add (SIGINT, on_signal, loop);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, loop);
  timer = g_timeout_add ((guint) (interval * 1000), on_poll, &watch);
  g_main_loop_run (loop);
  g_source_remove (timer);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  mesh_hash_scan_free (watch.scan);
  return EXIT_OK;
}

int
main (int argc, char **argv)
{
  gboolean watch = FALSE;
  gdouble interval = DEFAULT_INTERVAL;
  GOptionEntry entries[] = {
    {"watch", 'w', 0, G_OPTION_ARG_NONE, &watch,
        "Keep the list current until SIGINT or SIGTERM", NULL},
    {"interval", 'i', 0, G_OPTION_ARG_DOUBLE, &interval,
        "Seconds between two looks at DIR with --watch (default 1)", "S"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;

  context = g_option_context_new ("DIR - write DIR/mesh-hashes.json, the "
      "SHA-256 of its media files");
  g_option_context_set_description (context,
      "Media files: every regular file under DIR, recursively, except\n"
      "*.m3u8, *.mpd, *.json, *.tmp, *.part and hidden names (.*); links to\n"
      "files are followed, links to directories are not. Byte ranges that\n"
      "the playlists and MPDs under DIR address (EXT-X-BYTERANGE, EXT-X-MAP\n"
      "BYTERANGE, SegmentBase and its sidx, SegmentList mediaRange,\n"
      "Initialization range) are listed with their own digests.\n"
      "\n"
      "The list is written to a hidden temporary file in DIR, then renamed,\n"
      "so that readers never see part of one. A line on standard output\n"
      "says each write:\n"
      "  wrote DIR/mesh-hashes.json files=N ranges=N added=N removed=N "
      "hashed=N pending=N skipped=N\n"
      "Warnings (files left out, manifests not read) go to standard error.\n"
      "\n"
      "--watch: DIR is looked at every interval; a file is listed once two\n"
      "looks in a row found the same size and modification time and it did\n"
      "not change while read (so a segment still being written is not\n"
      "listed yet), hashed again when either changes, and dropped when it\n"
      "leaves. The list is rewritten when it changes.\n"
      "\n"
      "Exit status: 0 written (--watch: stopped by a signal), 1 nothing\n"
      "written (DIR unreadable, list not writable), 2 bad usage, 3 written\n"
      "but some files left out (see the warnings).\n" "See docs/hash-list.md.");
  g_option_context_add_main_entries (context, entries, NULL);
  mesh_tool_add_version_option (context);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("mesh-hashes: %s\n", error->message);
    return EXIT_USAGE;
  }
  if (argc != 2) {
    g_printerr ("mesh-hashes: one DIR is needed (see --help)\n");
    return EXIT_USAGE;
  }
  if (!g_file_test (argv[1], G_FILE_TEST_IS_DIR)) {
    g_printerr ("mesh-hashes: error: %s is not a directory\n", argv[1]);
    return EXIT_FAILED;
  }
  if (interval < 0.01 || interval > 3600) {
    g_printerr ("mesh-hashes: --interval must be 0.01 to 3600 seconds\n");
    return EXIT_USAGE;
  }
  return watch ? run_watch (argv[1], interval) : run_once (argv[1]);
}
