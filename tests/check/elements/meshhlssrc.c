/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * meshhlssrc against the test origin serving media made by tests/media:
 * what each pad outputs, byte for byte; decoding through playbin paths;
 * live, seeking, ABR, and broken servers and playlists.
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "../mesh-test-util.h"

/* Plays @path to the end and checks that pad @pad output @expected. */
static MeshCollector *
play_to_end (const gchar * path, GstElement * src)
{
  MeshCollector *c =
      mesh_collector_new (src ? src : mesh_test_hlssrc_new (path));
  GError *error = NULL;

  fail_unless (mesh_collector_run (c, 60, &error), "%s did not reach EOS: %s",
      path, error ? error->message : "timeout");
  return c;
}

GST_START_TEST (test_media_playlist_ts_bytes)
{
  MeshCollector *c = play_to_end ("single/index.m3u8", NULL);
  g_autoptr (GBytes) got = NULL;
  g_autoptr (GBytes) expected = mesh_test_expected_stream ("single/index.m3u8");

  fail_unless_equals_int (c->pads->len, 1);
  fail_unless_equals_string (mesh_collector_caps_name (c, 0), "video/mpegts");
  got = mesh_collector_get_bytes (c, 0);
  mesh_test_assert_bytes_equal (got, expected, "single");
  /* one timestamped buffer (the first) per segment */
  fail_unless_equals_int (c->buffers_with_pts, 8);
  mesh_collector_free (c);
}

GST_END_TEST;

GST_START_TEST (test_master_variant_and_audio_rendition)
{
  GstElement *src = mesh_test_hlssrc_new ("ts/master.m3u8");
  MeshCollector *c;
  g_autoptr (GBytes) video = NULL;
  g_autoptr (GBytes) audio = NULL;
  g_autoptr (GBytes) expected_video =
      mesh_test_expected_stream ("ts/v0/index.m3u8");
  g_autoptr (GBytes) expected_audio =
      mesh_test_expected_stream ("ts/audio/index.m3u8");

  /* a fixed speed below the high variant keeps ABR on the low one */
  g_object_set (src, "connection-speed", 400, NULL);
  c = play_to_end ("ts/master.m3u8", src);
  fail_unless_equals_int (c->pads->len, 2);
  video = mesh_collector_get_bytes (c, 0);
  audio = mesh_collector_get_bytes (c, 1);
  mesh_test_assert_bytes_equal (video, expected_video, "variant v0");
  mesh_test_assert_bytes_equal (audio, expected_audio, "audio rendition");
  mesh_collector_free (c);
}

GST_END_TEST;

/* What the CDN serves for a byte-range playlist: the ranges in order. */
static GBytes *
expected_byterange_stream (const gchar * dir)
{
  g_autofree gchar *playlist_path = g_build_filename (dir, "index.m3u8", NULL);
  g_autoptr (GBytes) playlist = mesh_test_read_media (playlist_path);
  g_autofree gchar *text = g_strndup (g_bytes_get_data (playlist, NULL),
      g_bytes_get_size (playlist));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GByteArray *all = g_byte_array_new ();
  guint64 length = 0, offset = 0;
  guint i, ranges = 0;

  for (i = 0; lines[i]; i++) {
    g_autofree gchar *media_path = NULL;
    g_autoptr (GBytes) media = NULL;

    if (sscanf (lines[i], "#EXT-X-BYTERANGE:%" G_GUINT64_FORMAT "@%"
            G_GUINT64_FORMAT, &length, &offset) == 2 || lines[i][0] == '#'
        || lines[i][0] == '\0')
      continue;
    media_path = g_build_filename (dir, g_strstrip (lines[i]), NULL);
    media = mesh_test_read_media (media_path);
    fail_unless (offset + length <= g_bytes_get_size (media));
    g_byte_array_append (all, (const guint8 *) g_bytes_get_data (media,
            NULL) + offset, length);
    ranges++;
  }
  fail_unless (ranges > 1, "no byte ranges in %s", playlist_path);
  return g_byte_array_free_to_bytes (all);
}

GST_START_TEST (test_fmp4_init_then_fragments)
{
  MeshCollector *c = play_to_end ("fmp4/index.m3u8", NULL);
  g_autoptr (GBytes) init = mesh_test_read_media ("fmp4/init.mp4");
  g_autoptr (GBytes) fragments = mesh_test_expected_stream ("fmp4/index.m3u8");
  g_autoptr (GBytes) got = mesh_collector_get_bytes (c, 0);
  GByteArray *expected = g_byte_array_new ();
  g_autoptr (GBytes) expected_bytes = NULL;

  g_byte_array_append (expected, g_bytes_get_data (init, NULL),
      g_bytes_get_size (init));
  g_byte_array_append (expected, g_bytes_get_data (fragments, NULL),
      g_bytes_get_size (fragments));
  expected_bytes = g_byte_array_free_to_bytes (expected);

  fail_unless_equals_int (c->pads->len, 1);
  fail_unless_equals_string (mesh_collector_caps_name (c, 0),
      "video/quicktime");
  mesh_test_assert_bytes_equal (got, expected_bytes, "fmp4");
  mesh_collector_free (c);
}

GST_END_TEST;

GST_START_TEST (test_byterange_playlist)
{
  MeshCollector *c = play_to_end ("byterange/index.m3u8", NULL);
  g_autoptr (GBytes) expected = expected_byterange_stream ("byterange");
  g_autoptr (GBytes) got = mesh_collector_get_bytes (c, 0);

  mesh_test_assert_bytes_equal (got, expected, "byterange");
  /* every range was a request of its own */
  fail_unless (mesh_origin_server_get_requests (mesh_test_origin,
          "/byterange/media.ts") > 1);
  mesh_collector_free (c);
}

GST_END_TEST;

static void
check_decrypts_to_plain (const gchar * playlist)
{
  MeshCollector *c = play_to_end (playlist, NULL);
  g_autoptr (GBytes) expected = mesh_test_expected_stream ("single/index.m3u8");
  g_autoptr (GBytes) got = mesh_collector_get_bytes (c, 0);
  g_autoptr (GBytes) encrypted = mesh_test_expected_stream (playlist);

  fail_if (g_bytes_equal (encrypted, expected), "the test media is not "
      "encrypted");
  mesh_test_assert_bytes_equal (got, expected, playlist);
  /* the key is fetched once, not per segment */
  fail_unless_equals_int (mesh_origin_server_get_requests (mesh_test_origin,
          strstr (playlist, "aes-seq") ? "/aes-seq/key.bin" : "/aes/key.bin"),
      1);
  mesh_collector_free (c);
}

GST_START_TEST (test_aes128_explicit_iv)
{
  check_decrypts_to_plain ("aes/index.m3u8");
}

GST_END_TEST;

GST_START_TEST (test_aes128_iv_from_sequence)
{
  check_decrypts_to_plain ("aes-seq/index.m3u8");
}

GST_END_TEST;

/* The same stream decoded through hlsdemux2 and through meshhlssrc. */
static void
compare_with_hlsdemux2 (const gchar * path)
{
  g_autofree gchar *url = mesh_test_origin_url (mesh_test_origin, path);
  g_autofree gchar *mesh_uri = g_strconcat ("meshhls+", url, NULL);
  g_autofree gchar *ref_sum = NULL;
  g_autofree gchar *mesh_sum = NULL;
  gint ref_frames, mesh_frames;

  ref_frames = mesh_test_decode_reference ("uridecodebin3", url, &ref_sum, 60);
  mesh_frames = mesh_test_decode_video ("uridecodebin3", mesh_uri, &mesh_sum,
      60);
  GST_INFO ("%s: hlsdemux2 %d frames %s, meshhlssrc %d frames %s", path,
      ref_frames, ref_sum, mesh_frames, mesh_sum);
  fail_unless (ref_frames > 100, "hlsdemux2 decoded %d frames", ref_frames);
  fail_unless_equals_int (mesh_frames, ref_frames);
  fail_unless_equals_string (mesh_sum, ref_sum);
}

GST_START_TEST (test_decodes_like_hlsdemux2_ts)
{
  compare_with_hlsdemux2 ("single/index.m3u8");
}

GST_END_TEST;

GST_START_TEST (test_decodes_like_hlsdemux2_fmp4)
{
  compare_with_hlsdemux2 ("fmp4/index.m3u8");
}

GST_END_TEST;

/* playbin (uridecodebin, decodebin2) finds meshhlssrc by its URI scheme. */
GST_START_TEST (test_uridecodebin_plays_uri)
{
  g_autofree gchar *url = mesh_test_origin_url (mesh_test_origin,
      "single/index.m3u8");
  g_autofree gchar *mesh_uri = g_strconcat ("meshhls+", url, NULL);
  g_autofree gchar *sum = NULL;
  g_autofree gchar *ref_sum = NULL;
  gint frames, ref_frames;

  frames = mesh_test_decode_video ("uridecodebin", mesh_uri, &sum, 60);
  ref_frames = mesh_test_decode_video ("uridecodebin3", mesh_uri, &ref_sum, 60);
  fail_unless (frames > 100, "decoded %d frames", frames);
  fail_unless_equals_int (frames, ref_frames);
  fail_unless_equals_string (sum, ref_sum);
}

GST_END_TEST;

GST_START_TEST (test_uri_handler)
{
  GstElement *src;
  GError *error = NULL;
  gchar *uri;
  const gchar *const *protocols;

  src = gst_element_make_from_uri (GST_URI_SRC,
      "meshhls+https://cdn.example/live/master.m3u8?token=1", NULL, &error);
  fail_unless (src != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (G_OBJECT_TYPE_NAME (src), "GstMeshHlsSrc");
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (src));
  fail_unless_equals_string (uri,
      "meshhls+https://cdn.example/live/master.m3u8?token=1");
  g_free (uri);
  {
    gchar *location;
    g_object_get (src, "location", &location, NULL);
    fail_unless_equals_string (location,
        "https://cdn.example/live/master.m3u8?token=1");
    g_free (location);
  }
  protocols = gst_uri_handler_get_protocols (GST_URI_HANDLER (src));
  fail_unless (g_strv_contains (protocols, "meshhls+http"));
  fail_unless (g_strv_contains (protocols, "meshhls+https"));

  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "meshhls+ftp://x/y.m3u8", &error));
  fail_unless (error != NULL);
  g_clear_error (&error);
  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "http://x/y.m3u8", &error));
  g_clear_error (&error);
  gst_object_unref (src);
}

GST_END_TEST;

/* The timestamp of the first fragment pushed after a flush. Written by the
 * streaming thread, read once the seek prerolled, under `lock`. */
typedef struct
{
  GMutex lock;
  gboolean flushed;
  GstClockTime first_after_flush;
} SeekWatch;

static GstPadProbeReturn
watch_after_flush (GstPad * pad, GstPadProbeInfo * info, SeekWatch * w)
{
  g_mutex_lock (&w->lock);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_FLUSH) {
    if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) ==
        GST_EVENT_FLUSH_STOP)
      w->flushed = TRUE;
  } else if (w->flushed && !GST_CLOCK_TIME_IS_VALID (w->first_after_flush)
      && GST_BUFFER_PTS_IS_VALID (GST_PAD_PROBE_INFO_BUFFER (info))) {
    w->first_after_flush = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));
  }
  g_mutex_unlock (&w->lock);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_seek_vod)
{
  SeekWatch watch = { {0,}, FALSE, GST_CLOCK_TIME_NONE };
  GstElement *source = NULL;
  GstPad *source_pad;
  g_autofree gchar *url = mesh_test_origin_url (mesh_test_origin,
      "single/index.m3u8");
  g_autofree gchar *uri = g_strconcat ("meshhls+", url, NULL);
  GstElement *playbin = gst_element_factory_make ("playbin", NULL);
  GstBus *bus = gst_element_get_bus (playbin);
  gint64 position = -1, duration = -1;
  GstQuery *query;
  gboolean seekable;

  g_object_set (playbin, "uri", uri,
      "video-sink", gst_element_factory_make ("fakesink", NULL),
      "audio-sink", gst_element_factory_make ("fakesink", NULL), NULL);
  gst_element_set_state (playbin, GST_STATE_PAUSED);
  gst_message_unref (mesh_test_wait_for (bus, GST_MESSAGE_ASYNC_DONE));

  fail_unless (gst_element_query_duration (playbin, GST_FORMAT_TIME,
          &duration));
  fail_unless (duration > 7 * GST_SECOND && duration < 9 * GST_SECOND,
      "duration %" GST_TIME_FORMAT, GST_TIME_ARGS (duration));
  query = gst_query_new_seeking (GST_FORMAT_TIME);
  fail_unless (gst_element_query (playbin, query));
  gst_query_parse_seeking (query, NULL, &seekable, NULL, NULL);
  fail_unless (seekable);
  gst_query_unref (query);

  g_mutex_init (&watch.lock);
  g_object_get (playbin, "source", &source, NULL);
  source_pad = gst_element_get_static_pad (source, "src_0");
  gst_pad_add_probe (source_pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_FLUSH, (GstPadProbeCallback) watch_after_flush,
      &watch, NULL);
  gst_object_unref (source_pad);
  gst_object_unref (source);

  mesh_origin_server_reset_stats (mesh_test_origin);
  fail_unless (gst_element_seek_simple (playbin, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, 5 * GST_SECOND));
  gst_message_unref (mesh_test_wait_for (bus, GST_MESSAGE_ASYNC_DONE));

  fail_unless (gst_element_query_position (playbin, GST_FORMAT_TIME,
          &position));
  GST_INFO ("position after seek %" GST_TIME_FORMAT, GST_TIME_ARGS (position));
  /* within one segment (1 s) of the target */
  fail_unless (position >= 4 * GST_SECOND && position <= 6 * GST_SECOND,
      "position %" GST_TIME_FORMAT, GST_TIME_ARGS (position));
  /* the output restarted with the segment holding the target (downloads
   * started before the seek may still end after it, so the origin's
   * counters cannot tell) */
  fail_unless (mesh_origin_server_get_requests (mesh_test_origin,
          "/single/seg5.ts") >= 1);
  g_mutex_lock (&watch.lock);
  fail_unless_equals_uint64 (watch.first_after_flush, 5 * GST_SECOND);
  g_mutex_unlock (&watch.lock);

  gst_element_set_state (playbin, GST_STATE_PLAYING);
  gst_message_unref (mesh_test_wait_for (bus, GST_MESSAGE_EOS));
  gst_element_set_state (playbin, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (playbin);
  g_mutex_clear (&watch.lock);
}

GST_END_TEST;

GST_START_TEST (test_restart_after_stop)
{
  GstElement *src = mesh_test_hlssrc_new ("single/index.m3u8");
  MeshCollector *c = mesh_collector_new (src);
  g_autoptr (GBytes) expected = mesh_test_expected_stream ("single/index.m3u8");
  guint64 from_cdn = 0;
  gint round;

  /* the same element plays twice: state is reset between runs */
  for (round = 0; round < 2; round++) {
    g_autoptr (GBytes) got = NULL;

    mesh_collector_reset (c);
    fail_unless (mesh_collector_run (c, 60, NULL));
    fail_unless_equals_int (c->pads->len, 1);
    got = mesh_collector_get_bytes (c, 0);
    mesh_test_assert_bytes_equal (got, expected, "replay");
  }
  g_object_get (src, "bytes-from-cdn", &from_cdn, NULL);
  fail_unless (from_cdn >= g_bytes_get_size (expected));
  mesh_collector_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Playlists the tests write, served by an origin of their own (the
 * "scratch" origin) around the generated media of mesh_test_origin */

static gchar *scratch_dir;
static MeshOriginServer *scratch_origin;
static GPtrArray *scratch_files;

static void
scratch_setup (void)
{
  MeshOriginConfig config = { NULL, "127.0.0.1", 0, 0 };
  GError *error = NULL;

  mesh_test_origin_setup ();
  scratch_dir = g_dir_make_tmp ("meshhlssrc-XXXXXX", &error);
  fail_unless (scratch_dir != NULL, "%s", error ? error->message : "?");
  scratch_files = g_ptr_array_new_with_free_func (g_free);
  config.root = scratch_dir;
  scratch_origin = mesh_origin_server_start (&config, &error);
  fail_unless (scratch_origin != NULL, "%s", error ? error->message : "?");
}

static void
scratch_teardown (void)
{
  guint i;

  mesh_origin_server_stop (scratch_origin);
  scratch_origin = NULL;
  for (i = 0; i < scratch_files->len; i++)
    g_unlink (g_ptr_array_index (scratch_files, i));
  g_clear_pointer (&scratch_files, g_ptr_array_unref);
  g_rmdir (scratch_dir);
  g_clear_pointer (&scratch_dir, g_free);
  mesh_test_origin_teardown ();
}

/* *INDENT-OFF* */
static void scratch_write (const gchar * name, const gchar * format, ...)
    G_GNUC_PRINTF (2, 3);
/* *INDENT-ON* */

static void
scratch_write (const gchar * name, const gchar * format, ...)
{
  gchar *path = g_build_filename (scratch_dir, name, NULL);
  g_autofree gchar *contents = NULL;
  GError *error = NULL;
  va_list args;

  va_start (args, format);
  contents = g_strdup_vprintf (format, args);
  va_end (args);
  fail_unless (g_file_set_contents (path, contents, -1, &error), "%s: %s",
      path, error ? error->message : "?");
  g_ptr_array_add (scratch_files, path);
}

/* A VOD media playlist of one 1 s segment of the generated media. */
static void
scratch_write_one_segment (const gchar * name, const gchar * media_path)
{
  g_autofree gchar *segment = mesh_test_origin_url (mesh_test_origin,
      media_path);

  scratch_write (name, "#EXTM3U\n#EXT-X-VERSION:3\n"
      "#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
      "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:1.000000,\n%s\n#EXT-X-ENDLIST\n",
      segment);
}

/* ------------------------------------------------------------------------ */
/* Variant switches */

/* Two variants of one segment each. ABR starts on the lowest and the first
 * download, at loopback speed, makes it switch up, after the only segment:
 * nothing is left to play in either variant. */
GST_START_TEST (test_switch_after_last_segment)
{
  GstElement *src;
  MeshCollector *c;
  g_autoptr (GBytes) got = NULL;
  g_autoptr (GBytes) expected = mesh_test_read_media ("ts/v0/seg0.ts");
  g_autofree gchar *url = NULL;
  g_autofree gchar *mesh_uri = NULL;
  g_autofree gchar *ref_sum = NULL;
  g_autofree gchar *mesh_sum = NULL;
  gint ref_frames, mesh_frames;

  scratch_write_one_segment ("low.m3u8", "ts/v0/seg0.ts");
  scratch_write_one_segment ("high.m3u8", "ts/v1/seg0.ts");
  scratch_write ("master.m3u8", "#EXTM3U\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=20000,RESOLUTION=320x180\nlow.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=40000,RESOLUTION=640x360\nhigh.m3u8\n");

  src = mesh_test_hlssrc_new_on (scratch_origin, "master.m3u8");
  c = play_to_end ("master.m3u8", src);
  /* the switch happened: the high variant's playlist was loaded */
  fail_unless (mesh_origin_server_get_requests (scratch_origin,
          "/high.m3u8") >= 1, "ABR did not switch");
  fail_unless_equals_int (c->pads->len, 1);
  got = mesh_collector_get_bytes (c, 0);
  mesh_test_assert_bytes_equal (got, expected,
      "the low variant's only segment");
  mesh_collector_free (c);

  url = mesh_test_origin_url (scratch_origin, "master.m3u8");
  mesh_uri = g_strconcat ("meshhls+", url, NULL);
  ref_frames = mesh_test_decode_reference ("uridecodebin3", url, &ref_sum, 60);
  mesh_frames = mesh_test_decode_video ("uridecodebin3", mesh_uri, &mesh_sum,
      60);
  GST_INFO ("hlsdemux2 %d frames, meshhlssrc %d", ref_frames, mesh_frames);
  fail_unless (ref_frames > 0, "hlsdemux2 decoded %d frames", ref_frames);
  fail_unless_equals_int (mesh_frames, ref_frames);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Subtitle renditions */

/* Two WebVTT renditions (en, fr) of 2 x 4 s beside single/ (8 s), in
 * master @name with the EXT-X-MEDIA attributes @en and @fr */
static void
scratch_write_subtitled (const gchar * name, const gchar * en, const gchar * fr)
{
  static const gchar *const languages[] = { "en", "fr" };
  g_autofree gchar *variant = mesh_test_origin_url (mesh_test_origin,
      "single/index.m3u8");
  guint l, s, c;

  for (l = 0; l < G_N_ELEMENTS (languages); l++) {
    g_autofree gchar *playlist = g_strdup_printf ("subs-%s.m3u8",
        languages[l]);

    for (s = 0; s < 2; s++) {
      g_autofree gchar *file = g_strdup_printf ("subs-%s-%u.vtt",
          languages[l], s);
      GString *cues = g_string_new ("WEBVTT\n\n");

      for (c = 4 * s; c < 4 * s + 4; c++)
        g_string_append_printf (cues, "00:00:%02u.000 --> 00:00:%02u.900\n"
            "%s cue %u\n\n", c, c, languages[l], c);
      scratch_write (file, "%s", cues->str);
      g_string_free (cues, TRUE);
    }
    scratch_write (playlist, "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4.0,\nsubs-%s-0.vtt\n"
        "#EXTINF:4.0,\nsubs-%s-1.vtt\n#EXT-X-ENDLIST\n", languages[l],
        languages[l]);
  }
  scratch_write (name, "#EXTM3U\n"
      "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\","
      "LANGUAGE=\"en\",%s,URI=\"subs-en.m3u8\"\n"
      "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Francais\","
      "LANGUAGE=\"fr\",%s,URI=\"subs-fr.m3u8\"\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=400000,SUBTITLES=\"subs\"\n%s\n", en, fr,
      variant);
}

/* The text meshhlssrc outputs for master @name: the rendition hlsdemux2
 * selects (DEFAULT=YES, else the first one), as served. */
static void
check_subtitle_pad (const gchar * name, const gchar * language)
{
  MeshCollector *c = play_to_end (name, mesh_test_hlssrc_new_on
      (scratch_origin, name));
  g_autofree gchar *file0 = g_strdup_printf ("subs-%s-0.vtt", language);
  g_autofree gchar *file1 = g_strdup_printf ("subs-%s-1.vtt", language);
  g_autofree gchar *path0 = g_build_filename (scratch_dir, file0, NULL);
  g_autofree gchar *path1 = g_build_filename (scratch_dir, file1, NULL);
  g_autofree gchar *text0 = NULL;
  g_autofree gchar *text1 = NULL;
  g_autofree gchar *expected_text = NULL;
  g_autoptr (GBytes) expected = NULL;
  g_autoptr (GBytes) got = NULL;

  fail_unless (g_file_get_contents (path0, &text0, NULL, NULL));
  fail_unless (g_file_get_contents (path1, &text1, NULL, NULL));
  expected_text = g_strconcat (text0, text1, NULL);
  expected = g_bytes_new (expected_text, strlen (expected_text));
  fail_unless_equals_int (c->pads->len, 2);
  fail_unless_equals_string (mesh_collector_caps_name (c, 1),
      "application/x-subtitle-vtt");
  got = mesh_collector_get_bytes (c, 1);
  mesh_test_assert_bytes_equal (got, expected, name);
  mesh_collector_free (c);
}

/* The cue playbin and playbin3 show through meshhlssrc for master @name,
 * and the one playbin3 shows through hlsdemux2 (which refuses playbin,
 * where the legacy hlsdemux plays no rendition at all). */
static void
check_players_show (const gchar * name, const gchar * first_cue)
{
  g_autofree gchar *url = mesh_test_origin_url (scratch_origin, name);
  g_autofree gchar *mesh_uri = g_strconcat ("meshhls+", url, NULL);
  g_autofree gchar *reference = NULL;
  guint n;

  reference = mesh_test_play_first_cue ("playbin3", url, &n, 60);
  fail_unless_equals_string (reference, first_cue);
  mesh_test_check_players_show (mesh_uri, first_cue, 8, 60);
}

GST_START_TEST (test_subtitles_default)
{
  scratch_write_subtitled ("fr-default.m3u8", "DEFAULT=NO,AUTOSELECT=YES",
      "DEFAULT=YES,AUTOSELECT=YES");
  check_subtitle_pad ("fr-default.m3u8", "fr");
  check_players_show ("fr-default.m3u8", "fr cue 0");
}

GST_END_TEST;

GST_START_TEST (test_subtitles_without_default)
{
  /* AUTOSELECT does not matter to hlsdemux2: the first one */
  scratch_write_subtitled ("no-default.m3u8", "DEFAULT=NO,AUTOSELECT=NO",
      "DEFAULT=NO,AUTOSELECT=YES");
  check_subtitle_pad ("no-default.m3u8", "en");
  check_players_show ("no-default.m3u8", "en cue 0");
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Live reloads */

/* EXT-X-TARGETDURATION:0 does not make the element reload the playlist
 * without pause: at most every MIN_RELOAD_WAIT (500 ms) */
GST_START_TEST (test_reload_floor)
{
  g_autofree gchar *segment = mesh_test_origin_url (mesh_test_origin,
      "ts/v0/seg0.ts");
  GstElement *src;
  MeshCollector *c;
  GstMessage *msg;
  guint requests;

  /* live: no EXT-X-ENDLIST; the one segment never changes */
  scratch_write ("zero-target.m3u8", "#EXTM3U\n#EXT-X-VERSION:3\n"
      "#EXT-X-TARGETDURATION:0\n#EXT-X-MEDIA-SEQUENCE:0\n"
      "#EXTINF:1.000000,\n%s\n", segment);
  src = mesh_test_hlssrc_new_on (scratch_origin, "zero-target.m3u8");
  c = mesh_collector_new (src);
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  /* playing for 3 s, which no error may cut short */
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (c->pipeline),
      3 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg == NULL, "%" GST_PTR_FORMAT, msg);
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  requests = mesh_origin_server_get_requests (scratch_origin,
      "/zero-target.m3u8");
  GST_INFO ("%u playlist requests in 3 s", requests);
  /* the first, then one per 500 ms at most */
  fail_unless (requests >= 2 && requests <= 8, "%u playlist requests in 3 s",
      requests);
  fail_unless (mesh_collector_total_bytes (c) > 0);
  mesh_collector_free (c);
}

GST_END_TEST;

static Suite *
meshhlssrc_suite (void)
{
  Suite *s = suite_create ("meshhlssrc");
  TCase *tc = tcase_create ("vod");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, mesh_test_origin_setup,
      mesh_test_origin_teardown);
  tcase_add_test (tc, test_media_playlist_ts_bytes);
  tcase_add_test (tc, test_master_variant_and_audio_rendition);
  tcase_add_test (tc, test_fmp4_init_then_fragments);
  tcase_add_test (tc, test_byterange_playlist);
  tcase_add_test (tc, test_aes128_explicit_iv);
  tcase_add_test (tc, test_aes128_iv_from_sequence);
  tcase_add_test (tc, test_decodes_like_hlsdemux2_ts);
  tcase_add_test (tc, test_decodes_like_hlsdemux2_fmp4);
  tcase_add_test (tc, test_uridecodebin_plays_uri);
  tcase_add_test (tc, test_uri_handler);
  tcase_add_test (tc, test_seek_vod);
  tcase_add_test (tc, test_restart_after_stop);

  tc = tcase_create ("compat");
  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, scratch_setup, scratch_teardown);
  tcase_add_test (tc, test_switch_after_last_segment);
  tcase_add_test (tc, test_subtitles_default);
  tcase_add_test (tc, test_subtitles_without_default);
  tcase_add_test (tc, test_reload_floor);
  return s;
}

GST_CHECK_MAIN (meshhlssrc);
