/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Manifests built to make a player allocate (issue 9, "Manifests"), made
 * here at run time: for each, the peak RSS growth and the CPU time it costs
 * are printed, and the RSS growth must stay within a bound that the attack
 * exceeds many times over (1 GB and more before the parsers were bounded).
 * CPU time is printed only: on a shared machine, or under the sanitizers,
 * it says more about the machine than about the parser. The MPDs go through meshdashsrc, served by the test origin
 * from a scratch directory, until the first fragment comes out (the
 * element has parsed the MPD and listed what it fetches first); the HLS
 * playlist goes through the parser alone, since no origin serves the URI
 * it needs.
 *
 * Figures: the peak RSS is VmHWM, reset before each case through
 * /proc/self/clear_refs; CPU is getrusage() of the whole process (the
 * origin's thread included). check runs each case in a process of its
 * own (unless CK_FORK=no), so that one case's peak is not the next one's.
 *
 * Threads: the test thread drives the pipeline; the recorder's probe runs
 * on the element's streaming thread (see mesh-test-util.h).
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>

#include "mesh-test-util.h"
#include "hls/mesh-hls-playlist.h"

/* What a manifest may cost the player: the bombs below cost hundreds of
 * MB and seconds of CPU without bounds. The largest manifest the fetcher
 * takes (16 MiB) is held while it is read, in a buffer that grows to twice
 * that, and libxml2's tree of the most elements an MPD may have takes
 * some 40 MB. */
#if defined(__SANITIZE_ADDRESS__)
/* ASan's redzones and quarantine hold several times what is allocated */
#define MAX_RSS_GROWTH_KB (4 * 96 * 1024)
#else
#define MAX_RSS_GROWTH_KB (96 * 1024)
#endif
#define FIRST_FRAGMENT_TIMEOUT_MS 60000

typedef struct
{
  gsize rss_kb;
  gdouble cpu_s;
} Usage;

static gsize
status_kb (const gchar * field)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, field);
  return line ? g_ascii_strtoull (line + strlen (field), NULL, 10) : 0;
}

static gdouble
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
      (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* Resets the peak RSS to the current RSS and notes where we are. */
static Usage
usage_start (void)
{
  Usage start;
  FILE *clear_refs = fopen ("/proc/self/clear_refs", "w");

  /* "5" resets VmHWM (Linux >= 4.0) */
  fail_unless (clear_refs != NULL && fputs ("5", clear_refs) >= 0
      && fclose (clear_refs) == 0, "cannot reset the peak RSS");
  start.rss_kb = status_kb ("VmRSS:");
  start.cpu_s = cpu_seconds ();
  return start;
}

static void
usage_report (const gchar * name, gsize input_bytes, const Usage * start)
{
  gsize peak = status_kb ("VmHWM:");
  gsize growth = peak > start->rss_kb ? peak - start->rss_kb : 0;
  gdouble cpu = cpu_seconds () - start->cpu_s;

  g_print ("%-16s %8" G_GSIZE_FORMAT " bytes: peak RSS +%" G_GSIZE_FORMAT
      " MB, CPU %.2f s\n", name, input_bytes, growth / 1024, cpu);
  fail_unless (growth <= MAX_RSS_GROWTH_KB, "%s: RSS grew by %" G_GSIZE_FORMAT
      " MB", name, growth / 1024);
}

/* ------------------------------------------------------------------------ */
/* MPDs through meshdashsrc */

static gchar *scratch_dir;
static MeshOriginServer *scratch_origin;

static void
write_scratch_file (const gchar * name, const gchar * contents, gssize len)
{
  g_autofree gchar *path = g_build_filename (scratch_dir, name, NULL);
  GError *error = NULL;

  fail_unless (g_file_set_contents (path, contents, len, &error), "%s: %s",
      path, error ? error->message : "?");
}

static void
scratch_setup (void)
{
  MeshOriginConfig config = { NULL, "127.0.0.1", 0, 0 };
  g_autofree gchar *segment = g_strnfill (1000, 'x');
  GError *error = NULL;

  scratch_dir = g_dir_make_tmp ("manifest-bombs-XXXXXX", &error);
  fail_unless (scratch_dir != NULL, "%s", error ? error->message : "?");
  /* every segment URL of the bombs names this one file */
  write_scratch_file ("s.m4s", segment, -1);
  config.root = scratch_dir;
  scratch_origin = mesh_origin_server_start (&config, &error);
  fail_unless (scratch_origin != NULL, "%s", error ? error->message : "?");
}

static void
scratch_teardown (void)
{
  GDir *dir;
  const gchar *name;

  mesh_origin_server_stop (scratch_origin);
  scratch_origin = NULL;
  dir = g_dir_open (scratch_dir, 0, NULL);
  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *path = g_build_filename (scratch_dir, name, NULL);
    g_unlink (path);
  }
  g_clear_pointer (&dir, g_dir_close);
  g_rmdir (scratch_dir);
  g_clear_pointer (&scratch_dir, g_free);
}

#define MPD_HEAD "<?xml version=\"1.0\"?>\n" \
  "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" " \
  "minBufferTime=\"PT2S\" mediaPresentationDuration=\"%s\">\n" \
  "<Period duration=\"%s\">\n" \
  "<AdaptationSet contentType=\"video\" mimeType=\"video/mp4\">\n"
#define MPD_TAIL "</AdaptationSet>\n</Period>\n</MPD>\n"

static const gchar warm_up_mpd[] = "<?xml version=\"1.0\"?>\n"
    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" "
    "minBufferTime=\"PT2S\" mediaPresentationDuration=\"PT4S\">\n"
    "<Period duration=\"PT4S\">\n"
    "<AdaptationSet contentType=\"video\" mimeType=\"video/mp4\">\n"
    "<SegmentTemplate media=\"s.m4s?$Number$\" duration=\"2\"/>\n"
    "<Representation id=\"v\" bandwidth=\"1000\"/>\n" MPD_TAIL;

/* Serves @mpd as @file and plays it until the first fragment (or, when
 * @refused, until the element's error); with @name, prints and checks what
 * that cost. */
static void
play_mpd (const gchar * file, const gchar * mpd, const gchar * name,
    gboolean refused)
{
  g_autofree gchar *url = NULL;
  GstElement *src = gst_element_factory_make ("meshdashsrc", NULL);
  MeshFragmentRecorder *r;
  MeshCollector *c;
  Usage start;

  fail_unless (src != NULL, "meshdashsrc not found");
  write_scratch_file (file, mpd, -1);
  url = mesh_test_origin_url (scratch_origin, file);
  g_object_set (src, "location", url, NULL);
  r = mesh_fragment_recorder_new (src, 0, MESH_FRAGMENT_RECORDER_NONE);
  c = mesh_collector_new (src);

  start = usage_start ();
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  if (refused) {
    GstMessage *msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS
        (c->pipeline), FIRST_FRAGMENT_TIMEOUT_MS * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    GError *error = NULL;

    fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR,
        "%s: no error within %d s", file, FIRST_FRAGMENT_TIMEOUT_MS / 1000);
    gst_message_parse_error (msg, &error, NULL);
    GST_INFO ("%s: %s", file, error->message);
    g_error_free (error);
    gst_message_unref (msg);
  } else {
    fail_unless (mesh_fragment_recorder_wait_fragments (r, 1,
            FIRST_FRAGMENT_TIMEOUT_MS), "%s: no fragment within %d s", file,
        FIRST_FRAGMENT_TIMEOUT_MS / 1000);
  }
  if (name)
    usage_report (name, strlen (mpd), &start);

  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  mesh_collector_free (c);
  mesh_fragment_recorder_free (r);
}

/* Plays @mpd after a small MPD of the same kind, which loads what any
 * pipeline needs (libraries, threads, the HTTP session): the figures are
 * then what @mpd costs */
static void
play_mpd_bomb (const gchar * name, const gchar * mpd, gboolean refused)
{
  play_mpd ("warm-up.mpd", warm_up_mpd, NULL, FALSE);
  play_mpd ("bomb.mpd", mpd, name, refused);
}

/* 800 bytes: a SegmentTemplate of 1 ms segments over 1000 s, a million
 * segments with URLs of half a kilobyte. */
GST_START_TEST (test_template_bomb)
{
  g_autofree gchar *padding = g_strnfill (480, 'p');
  g_autofree gchar *mpd = g_strdup_printf (MPD_HEAD
      "<SegmentTemplate timescale=\"1000\" duration=\"1\" "
      "media=\"s.m4s?n=$Number%%020d$&amp;p=%s\"/>\n"
      "<Representation id=\"v\" bandwidth=\"1000\"/>\n" MPD_TAIL,
      "PT1000S", "PT1000S", padding);

  play_mpd_bomb ("template", mpd, FALSE);
}

GST_END_TEST;

/* 1 MB: a SegmentTimeline of 50000 S at AdaptationSet level, inherited by
 * 200 Representations. */
GST_START_TEST (test_timeline_bomb)
{
  GString *mpd = g_string_new (NULL);
  guint i;

  g_string_printf (mpd, MPD_HEAD "<SegmentTemplate media=\"s.m4s?$Number$\">"
      "<SegmentTimeline>\n", "PT50000S", "PT50000S");
  for (i = 0; i < 50000; i++)
    g_string_append_printf (mpd, "<S t=\"%u\" d=\"1\"/>", i);
  g_string_append (mpd, "\n</SegmentTimeline></SegmentTemplate>\n");
  for (i = 0; i < 200; i++)
    g_string_append_printf (mpd, "<Representation id=\"r%u\" "
        "bandwidth=\"%u\"/>\n", i, 1000 + i);
  g_string_append (mpd, MPD_TAIL);

  play_mpd_bomb ("timeline", mpd->str, FALSE);
  g_string_free (mpd, TRUE);
}

GST_END_TEST;

/* 800 kB: a SegmentList of 30000 SegmentURL at AdaptationSet level,
 * inherited by 200 Representations. */
GST_START_TEST (test_segment_list_bomb)
{
  GString *mpd = g_string_new (NULL);
  guint i;

  g_string_printf (mpd, MPD_HEAD "<SegmentList duration=\"1\">\n",
      "PT30000S", "PT30000S");
  for (i = 0; i < 30000; i++)
    g_string_append (mpd, "<SegmentURL media=\"s.m4s\"/>");
  g_string_append (mpd, "\n</SegmentList>\n");
  for (i = 0; i < 200; i++)
    g_string_append_printf (mpd, "<Representation id=\"r%u\" "
        "bandwidth=\"%u\"/>\n", i, 1000 + i);
  g_string_append (mpd, MPD_TAIL);

  play_mpd_bomb ("segment-list", mpd->str, FALSE);
  g_string_free (mpd, TRUE);
}

GST_END_TEST;

/* 600 kB: an AdaptationSet of 60000 attributes, which libxml2 compares
 * pairwise. Refused. */
GST_START_TEST (test_attributes_bomb)
{
  GString *mpd = g_string_new (NULL);
  guint i;

  g_string_printf (mpd, "<?xml version=\"1.0\"?>\n"
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" "
      "minBufferTime=\"PT2S\" mediaPresentationDuration=\"PT4S\">\n"
      "<Period duration=\"PT4S\">\n<AdaptationSet");
  for (i = 0; i < 60000; i++)
    g_string_append_printf (mpd, " a%u=\"\"", i);
  g_string_append (mpd, ">\n<SegmentTemplate media=\"s.m4s?$Number$\" "
      "duration=\"2\"/>\n<Representation id=\"v\" bandwidth=\"1\"/>\n"
      MPD_TAIL);

  play_mpd_bomb ("attributes", mpd->str, TRUE);
  g_string_free (mpd, TRUE);
}

GST_END_TEST;

/* 16 MB, as much as the fetcher takes: 1.6 million S elements, whose tree
 * in libxml2 would take 580 MB. Refused, past 100000 elements. */
GST_START_TEST (test_elements_bomb)
{
  GString *mpd = g_string_new (NULL);

  g_string_printf (mpd, MPD_HEAD "<SegmentTemplate media=\"s.m4s?$Number$\">"
      "<SegmentTimeline>\n", "PT100000S", "PT100000S");
  while (mpd->len < 16 * 1000 * 1000)
    g_string_append (mpd, "<S d=\"1\"/>");
  g_string_append (mpd, "\n</SegmentTimeline></SegmentTemplate>\n"
      "<Representation id=\"v\" bandwidth=\"1\"/>\n" MPD_TAIL);

  play_mpd_bomb ("elements", mpd->str, TRUE);
  g_string_free (mpd, TRUE);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* HLS through the parser */

/* 300 kB: 20000 segments "s.ts" in a media playlist fetched from a URI of
 * 32 KiB (a master playlist, or a redirect, may point anywhere): each
 * segment URI resolves to 32 KiB. */
GST_START_TEST (test_hls_long_base_bomb)
{
  g_autofree gchar *path = g_strnfill (32 * 1024, 'a');
  g_autofree gchar *base = g_strdup_printf ("http://cdn.example.com/%s/"
      "index.m3u8", path);
  GString *text = g_string_new ("#EXTM3U\n#EXT-X-TARGETDURATION:1\n");
  MeshHlsMediaPlaylist *playlist;
  GError *error = NULL;
  Usage start;
  guint i;

  for (i = 0; i < 20000; i++)
    g_string_append (text, "#EXTINF:1,\ns.ts\n");
  start = usage_start ();
  playlist = mesh_hls_media_playlist_parse (text->str, text->len, base, &error);
  usage_report ("hls-long-base", text->len, &start);
  if (playlist == NULL)
    GST_INFO ("refused: %s", error->message);
  g_clear_error (&error);
  mesh_hls_media_playlist_free (playlist);
  g_string_free (text, TRUE);
}

GST_END_TEST;

static Suite *
manifest_bombs_suite (void)
{
  Suite *s = suite_create ("manifest-bombs");
  TCase *tc = tcase_create ("dash");

  tcase_add_checked_fixture (tc, scratch_setup, scratch_teardown);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_template_bomb);
  tcase_add_test (tc, test_timeline_bomb);
  tcase_add_test (tc, test_segment_list_bomb);
  tcase_add_test (tc, test_attributes_bomb);
  tcase_add_test (tc, test_elements_bomb);
  suite_add_tcase (s, tc);

  tc = tcase_create ("hls");
  tcase_add_test (tc, test_hls_long_base_bomb);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (manifest_bombs);
