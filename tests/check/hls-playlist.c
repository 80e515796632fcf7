/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Unit tests of the HLS playlist parser. Single-threaded: every test parses
 * text it owns.
 */
#include <gst/check/gstcheck.h>

#include <string.h>

#include "hls/mesh-hls-playlist.h"

#define BASE "http://cdn.example.com/live/stream/index.m3u8?token=abc"
#define BASE_DIR "http://cdn.example.com/live/stream/"

static MeshHlsMediaPlaylist *
parse_media_ok (const gchar * text)
{
  GError *error = NULL;
  MeshHlsMediaPlaylist *playlist;

  playlist = mesh_hls_media_playlist_parse (text, strlen (text), BASE, &error);
  fail_unless (playlist != NULL, "parse failed: %s",
      error ? error->message : "(no error)");
  fail_unless (error == NULL);
  return playlist;
}

static MeshHlsMasterPlaylist *
parse_master_ok (const gchar * text)
{
  GError *error = NULL;
  MeshHlsMasterPlaylist *master;

  master = mesh_hls_master_playlist_parse (text, strlen (text), BASE, &error);
  fail_unless (master != NULL, "parse failed: %s",
      error ? error->message : "(no error)");
  fail_unless (error == NULL);
  return master;
}

static const MeshHlsSegment *
segment_at (const MeshHlsMediaPlaylist * playlist, guint i)
{
  fail_unless (i < playlist->segments->len);
  return g_ptr_array_index (playlist->segments, i);
}

static const MeshHlsVariant *
variant_at (const MeshHlsMasterPlaylist * master, guint i)
{
  fail_unless (i < master->variants->len);
  return g_ptr_array_index (master->variants, i);
}

/* Asserts that parsing fails with @code and a message starting "line N:" */
static void
check_error (gboolean master, const gchar * text, MeshHlsError code, guint line)
{
  GError *error = NULL;
  gpointer result;
  gchar *prefix;

  if (master)
    result = mesh_hls_master_playlist_parse (text, strlen (text), BASE, &error);
  else
    result = mesh_hls_media_playlist_parse (text, strlen (text), BASE, &error);

  fail_unless (result == NULL, "parsing should have failed:\n%s", text);
  fail_unless (error != NULL);
  fail_unless (error->domain == MESH_HLS_ERROR);
  fail_unless_equals_int (error->code, code);
  prefix = g_strdup_printf ("line %u: ", line);
  fail_unless (g_str_has_prefix (error->message, prefix),
      "expected '%s' at the start of '%s'", prefix, error->message);
  g_free (prefix);
  g_error_free (error);
}

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_kind)
{
  static const struct
  {
    const gchar *text;
    MeshHlsKind kind;
  } cases[] = {
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n", MESH_HLS_KIND_MASTER},
    {"#EXTM3U\n#EXTINF:1,\na.ts\n", MESH_HLS_KIND_MEDIA},
    {"#EXTM3U\n#EXT-X-TARGETDURATION:4\n", MESH_HLS_KIND_MEDIA},
    /* STREAM-INF wins even after media tags */
    {"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-STREAM-INF:BANDWIDTH=1\nx\n",
        MESH_HLS_KIND_MASTER},
    /* an I-frame playlist is not a variant */
    {"#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"i.m3u8\"\n",
        MESH_HLS_KIND_INVALID},
    {"#EXTM3U\n#EXT-X-VERSION:3\n", MESH_HLS_KIND_INVALID},
    {"#EXTINF:1,\na.ts\n", MESH_HLS_KIND_INVALID},
    {"<html>#EXT-X-STREAM-INF</html>", MESH_HLS_KIND_INVALID},
    {"", MESH_HLS_KIND_INVALID},
    {"\xEF\xBB\xBF#EXTM3U\r\n#EXTINF:1,\r\na.ts\r\n", MESH_HLS_KIND_MEDIA},
    {"\n  #EXTM3U  \n\n#EXT-X-STREAM-INF:BANDWIDTH=1\na\n",
        MESH_HLS_KIND_MASTER},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    fail_unless_equals_int (mesh_hls_playlist_kind (cases[i].text,
            strlen (cases[i].text)), cases[i].kind);
  }
  /* @len is honoured: the STREAM-INF is past it */
  fail_unless_equals_int (mesh_hls_playlist_kind
      ("#EXTM3U\n#EXTINF:1,\na\n#EXT-X-STREAM-INF:BANDWIDTH=1\nb\n", 20),
      MESH_HLS_KIND_MEDIA);
}

GST_END_TEST;

static const gchar master_text[] =
    "#EXTM3U\n"
    "#EXT-X-VERSION:6\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "# a comment, ignored\n"
    "#EXT-X-UNKNOWN-TAG:FOO=BAR\n"
    "\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2200000,"
    "RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=29.970,"
    "AUDIO=\"aud\",SUBTITLES=\"subs\",CLOSED-CAPTIONS=\"cc\"\n"
    "720p/index.m3u8\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,"
    "CODECS=\"avc1.4d401e,mp4a.40.2\",CLOSED-CAPTIONS=NONE\n"
    "/abs/360p.m3u8?sig=x%2Fy&n=1\n"
    "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI=\"iframe.m3u8\"\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=5000000,VIDEO=\"vid\",FRAME-RATE=60\n"
    "https://other.example.org/1080p.m3u8\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n"
    "../360p-backup.m3u8\n";

GST_START_TEST (test_master_variants)
{
  MeshHlsMasterPlaylist *master = parse_master_ok (master_text);
  const MeshHlsVariant *v;

  fail_unless_equals_string (master->uri, BASE);
  fail_unless (master->independent_segments);
  /* the I-frame playlist is not a variant */
  fail_unless_equals_int (master->variants->len, 4);

  /* ascending bandwidth, playlist order on the 800000 tie */
  v = variant_at (master, 0);
  fail_unless_equals_uint64 (v->bandwidth, 800000);
  fail_unless_equals_string (v->uri,
      "http://cdn.example.com/abs/360p.m3u8?sig=x%2Fy&n=1");
  fail_unless_equals_string (v->codecs, "avc1.4d401e,mp4a.40.2");
  fail_unless_equals_int (v->width, 640);
  fail_unless_equals_int (v->height, 360);
  fail_unless (v->closed_captions_group == NULL);
  fail_unless_equals_uint64 (v->average_bandwidth, 0);
  fail_unless (v->frame_rate == 0);
  fail_unless (v->audio_group == NULL);

  v = variant_at (master, 1);
  fail_unless_equals_uint64 (v->bandwidth, 800000);
  fail_unless_equals_string (v->uri,
      "http://cdn.example.com/live/360p-backup.m3u8");
  fail_unless (v->codecs == NULL);

  v = variant_at (master, 2);
  fail_unless_equals_uint64 (v->bandwidth, 2500000);
  fail_unless_equals_uint64 (v->average_bandwidth, 2200000);
  fail_unless_equals_int (v->width, 1280);
  fail_unless_equals_int (v->height, 720);
  fail_unless_equals_string (v->codecs, "avc1.64001f,mp4a.40.2");
  fail_unless (G_APPROX_VALUE (v->frame_rate, 29.97, 1e-9));
  fail_unless_equals_string (v->audio_group, "aud");
  fail_unless_equals_string (v->subtitles_group, "subs");
  fail_unless_equals_string (v->closed_captions_group, "cc");
  fail_unless (v->video_group == NULL);
  fail_unless_equals_string (v->uri, BASE_DIR "720p/index.m3u8");

  v = variant_at (master, 3);
  fail_unless_equals_uint64 (v->bandwidth, 5000000);
  fail_unless_equals_string (v->video_group, "vid");
  fail_unless (G_APPROX_VALUE (v->frame_rate, 60.0, 1e-9));
  fail_unless_equals_int (v->width, 0);
  fail_unless_equals_string (v->uri, "https://other.example.org/1080p.m3u8");

  mesh_hls_master_playlist_free (master);
}

GST_END_TEST;

static const gchar renditions_text[] =
    "#EXTM3U\n"
    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English, main\","
    "LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"audio/en.m3u8\"\n"
    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"a=b\",LANGUAGE=\"fr\","
    "DEFAULT=NO,AUTOSELECT=NO,URI=\"https://x.example/fr.m3u8?k=v\"\n"
    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"other\",NAME=\"Muxed\"\n"
    "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Deutsch\","
    "LANGUAGE=\"de\",FORCED=YES,AUTOSELECT=YES,URI=\"subs/de.m3u8\"\n"
    "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"CC1\","
    "INSTREAM-ID=\"CC1\"\n"
    "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"vid\",NAME=\"Angle 2\","
    "URI=\"angle2.m3u8\"\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO=\"aud\",SUBTITLES=\"subs\","
    "CLOSED-CAPTIONS=\"cc\",VIDEO=\"vid\"\n" "v.m3u8\n";

GST_START_TEST (test_master_renditions)
{
  MeshHlsMasterPlaylist *master = parse_master_ok (renditions_text);
  const MeshHlsRendition *r;
  GPtrArray *group;

  fail_unless_equals_int (master->renditions->len, 6);
  fail_unless (!master->independent_segments);

  r = g_ptr_array_index (master->renditions, 0);
  fail_unless_equals_int (r->type, MESH_HLS_RENDITION_AUDIO);
  fail_unless_equals_string (r->group_id, "aud");
  fail_unless_equals_string (r->name, "English, main");
  fail_unless_equals_string (r->language, "en");
  fail_unless (r->is_default);
  fail_unless (r->autoselect);
  fail_unless (!r->forced);
  fail_unless_equals_string (r->uri, BASE_DIR "audio/en.m3u8");

  r = g_ptr_array_index (master->renditions, 1);
  fail_unless_equals_string (r->name, "a=b");
  fail_unless (!r->is_default);
  fail_unless (!r->autoselect);
  fail_unless_equals_string (r->uri, "https://x.example/fr.m3u8?k=v");

  r = g_ptr_array_index (master->renditions, 2);
  fail_unless (r->uri == NULL);
  fail_unless (r->language == NULL);

  r = g_ptr_array_index (master->renditions, 3);
  fail_unless_equals_int (r->type, MESH_HLS_RENDITION_SUBTITLES);
  fail_unless (r->forced);
  fail_unless_equals_string (r->language, "de");

  r = g_ptr_array_index (master->renditions, 4);
  fail_unless_equals_int (r->type, MESH_HLS_RENDITION_CLOSED_CAPTIONS);
  fail_unless (r->uri == NULL);

  r = g_ptr_array_index (master->renditions, 5);
  fail_unless_equals_int (r->type, MESH_HLS_RENDITION_VIDEO);
  fail_unless_equals_string (r->uri, BASE_DIR "angle2.m3u8");

  group = mesh_hls_master_playlist_get_group (master,
      MESH_HLS_RENDITION_AUDIO, "aud");
  fail_unless_equals_int (group->len, 2);
  fail_unless (g_ptr_array_index (group, 0) ==
      g_ptr_array_index (master->renditions, 0));
  fail_unless (g_ptr_array_index (group, 1) ==
      g_ptr_array_index (master->renditions, 1));
  g_ptr_array_unref (group);

  group = mesh_hls_master_playlist_get_group (master,
      MESH_HLS_RENDITION_AUDIO, "other");
  fail_unless_equals_int (group->len, 1);
  g_ptr_array_unref (group);

  /* right group, wrong type */
  group = mesh_hls_master_playlist_get_group (master,
      MESH_HLS_RENDITION_SUBTITLES, "aud");
  fail_unless_equals_int (group->len, 0);
  g_ptr_array_unref (group);

  group = mesh_hls_master_playlist_get_group (master,
      MESH_HLS_RENDITION_AUDIO, "missing");
  fail_unless_equals_int (group->len, 0);
  g_ptr_array_unref (group);

  mesh_hls_master_playlist_free (master);
}

GST_END_TEST;

GST_START_TEST (test_master_new_single)
{
  g_autoptr (MeshHlsMasterPlaylist) master =
      mesh_hls_master_playlist_new_single ("http://h/x/media.m3u8");
  const MeshHlsVariant *v;

  fail_unless_equals_string (master->uri, "http://h/x/media.m3u8");
  fail_unless_equals_int (master->variants->len, 1);
  fail_unless_equals_int (master->renditions->len, 0);
  v = variant_at (master, 0);
  fail_unless_equals_string (v->uri, "http://h/x/media.m3u8");
  fail_unless_equals_uint64 (v->bandwidth, 0);
}

GST_END_TEST;

static const gchar media_text[] =
    "#EXTM3U\n"
    "#EXT-X-VERSION:7\n"
    "#EXT-X-TARGETDURATION:6\n"
    "#EXT-X-MEDIA-SEQUENCE:1000\n"
    "#EXT-X-PLAYLIST-TYPE:VOD\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-SOME-FUTURE-TAG:X=1\n"
    "#EXTINF:6.006,First, with a comma\n"
    "seg0.ts\n"
    "# comment between segments\n"
    "#EXTINF:5,\n"
    "sub/seg1.ts?x=1&y=2\n"
    "#EXTINF:4.5\n"
    "/root/seg2.ts\n"
    "#EXTINF:0.5,  \n" "https://other.example.net/seg3.ts\n" "#EXT-X-ENDLIST\n";

GST_START_TEST (test_media_basic)
{
  MeshHlsMediaPlaylist *playlist = parse_media_ok (media_text);
  const MeshHlsSegment *s;
  guint i;

  fail_unless_equals_string (playlist->uri, BASE);
  fail_unless_equals_int (playlist->version, 7);
  fail_unless_equals_uint64 (playlist->target_duration, 6 * GST_SECOND);
  fail_unless_equals_int64 (playlist->media_sequence, 1000);
  fail_unless_equals_int64 (playlist->discont_sequence, 0);
  fail_unless (playlist->endlist);
  fail_unless_equals_int (playlist->type, MESH_HLS_PLAYLIST_TYPE_VOD);
  fail_unless (playlist->independent_segments);
  fail_unless_equals_int (playlist->segments->len, 4);
  fail_unless_equals_int (playlist->keys->len, 0);
  fail_unless_equals_int (playlist->maps->len, 0);
  fail_unless_equals_uint64 (playlist->duration, 16006 * GST_MSECOND);

  s = segment_at (playlist, 0);
  fail_unless_equals_string (s->uri, BASE_DIR "seg0.ts");
  fail_unless_equals_uint64 (s->duration, 6006 * GST_MSECOND);
  fail_unless_equals_string (s->title, "First, with a comma");
  fail_unless_equals_uint64 (s->start, 0);

  s = segment_at (playlist, 1);
  fail_unless_equals_string (s->uri, BASE_DIR "sub/seg1.ts?x=1&y=2");
  fail_unless_equals_uint64 (s->duration, 5 * GST_SECOND);
  fail_unless (s->title == NULL);
  fail_unless_equals_uint64 (s->start, 6006 * GST_MSECOND);

  s = segment_at (playlist, 2);
  fail_unless_equals_string (s->uri, "http://cdn.example.com/root/seg2.ts");
  fail_unless_equals_uint64 (s->duration, 4500 * GST_MSECOND);
  fail_unless_equals_uint64 (s->start, 11006 * GST_MSECOND);

  s = segment_at (playlist, 3);
  fail_unless_equals_string (s->uri, "https://other.example.net/seg3.ts");
  fail_unless (s->title == NULL);
  fail_unless_equals_uint64 (s->start, 15506 * GST_MSECOND);

  for (i = 0; i < playlist->segments->len; i++) {
    s = segment_at (playlist, i);
    fail_unless_equals_int64 (s->sequence, 1000 + i);
    fail_unless_equals_int64 (s->discont_sequence, 0);
    fail_unless (!s->discontinuity);
    fail_unless (!s->gap);
    fail_unless_equals_int64 (s->offset, 0);
    fail_unless_equals_int64 (s->size, -1);
    fail_unless (s->key == NULL);
    fail_unless (s->map == NULL);
    fail_unless_equals_int64 (s->program_date_time, G_MININT64);
  }

  mesh_hls_media_playlist_free (playlist);
}

GST_END_TEST;

GST_START_TEST (test_media_defaults)
{
  /* live playlist: no ENDLIST, no PLAYLIST-TYPE, no VERSION, no
   * MEDIA-SEQUENCE, and no TARGETDURATION (derived, rounded up) */
  g_autoptr (MeshHlsMediaPlaylist) playlist =
      parse_media_ok ("#EXTM3U\n#EXTINF:3.2,\na.ts\n#EXTINF:4.001,\nb.ts\n"
      "#EXTINF:2,\nc.ts\n");

  fail_unless_equals_int (playlist->version, 1);
  fail_unless (!playlist->endlist);
  fail_unless_equals_int (playlist->type, MESH_HLS_PLAYLIST_TYPE_NONE);
  fail_unless (!playlist->independent_segments);
  fail_unless_equals_int64 (playlist->media_sequence, 0);
  fail_unless_equals_uint64 (playlist->target_duration, 5 * GST_SECOND);
  fail_unless_equals_int64 (segment_at (playlist, 0)->sequence, 0);
  fail_unless_equals_int64 (segment_at (playlist, 2)->sequence, 2);
}

GST_END_TEST;

GST_START_TEST (test_media_playlist_type_event)
{
  g_autoptr (MeshHlsMediaPlaylist) playlist =
      parse_media_ok ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
      "#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:2,\na.ts\n");

  fail_unless_equals_int (playlist->type, MESH_HLS_PLAYLIST_TYPE_EVENT);
  /* an explicit target duration is not overridden */
  fail_unless_equals_uint64 (playlist->target_duration, 2 * GST_SECOND);
}

GST_END_TEST;

GST_START_TEST (test_media_tolerance)
{
  /* BOM, CRLF, a lone CR, blank lines, surrounding whitespace */
  static const gchar text[] =
      "\xEF\xBB\xBF#EXTM3U\r\n"
      "\r\n"
      "   #EXT-X-TARGETDURATION:10   \r\n"
      "\t#EXTINF:9.5,Title\t\r\n"
      "  seg a.ts  \r\n" "\r\n" "#EXTINF:10,\r" "b.ts\r\n" "#EXT-X-ENDLIST\r\n";
  g_autoptr (MeshHlsMediaPlaylist) playlist = parse_media_ok (text);

  fail_unless_equals_int (playlist->segments->len, 2);
  fail_unless_equals_uint64 (playlist->target_duration, 10 * GST_SECOND);
  fail_unless_equals_string (segment_at (playlist, 0)->title, "Title");
  fail_unless_equals_string (segment_at (playlist, 0)->uri,
      BASE_DIR "seg%20a.ts");
  fail_unless_equals_uint64 (segment_at (playlist, 0)->duration,
      9500 * GST_MSECOND);
  fail_unless_equals_string (segment_at (playlist, 1)->uri, BASE_DIR "b.ts");
  fail_unless (playlist->endlist);
}

GST_END_TEST;

GST_START_TEST (test_media_uri_resolution)
{
  g_autoptr (MeshHlsMediaPlaylist) playlist = NULL;
  GError *error = NULL;
  static const gchar text[] =
      "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
      "#EXTINF:1,\nseg.ts\n"
      "#EXTINF:1,\n../up/seg.ts?q=1\n"
      "#EXTINF:1,\n/root.ts\n"
      "#EXTINF:1,\n//cdn2.example.com/p.ts\n"
      "#EXTINF:1,\nhttps://abs.example.com/a/b.ts?sig=a%2Fb\n"
      "#EXTINF:1,\n?other=1\n";

  playlist = mesh_hls_media_playlist_parse (text, strlen (text),
      "https://h.example/a/b/c.m3u8?t=9", &error);
  fail_unless (playlist != NULL);
  fail_unless_equals_string (segment_at (playlist, 0)->uri,
      "https://h.example/a/b/seg.ts");
  fail_unless_equals_string (segment_at (playlist, 1)->uri,
      "https://h.example/a/up/seg.ts?q=1");
  fail_unless_equals_string (segment_at (playlist, 2)->uri,
      "https://h.example/root.ts");
  fail_unless_equals_string (segment_at (playlist, 3)->uri,
      "https://cdn2.example.com/p.ts");
  fail_unless_equals_string (segment_at (playlist, 4)->uri,
      "https://abs.example.com/a/b.ts?sig=a%2Fb");
  fail_unless_equals_string (segment_at (playlist, 5)->uri,
      "https://h.example/a/b/c.m3u8?other=1");

  /* without a base URI, relative references cannot be resolved */
  fail_unless (mesh_hls_media_playlist_parse (text, strlen (text), NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, MESH_HLS_ERROR, MESH_HLS_ERROR_SYNTAX));
  fail_unless (g_str_has_prefix (error->message, "line 4: "));
  g_clear_error (&error);
}

GST_END_TEST;

GST_START_TEST (test_media_byterange)
{
  static const gchar text[] =
      "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:4\n"
      "#EXTINF:4,\n#EXT-X-BYTERANGE:1000@0\nmain.ts\n"
      /* continues main.ts at 1000 */
      "#EXT-X-BYTERANGE:2000\n#EXTINF:4,\nmain.ts\n"
      "#EXTINF:4,\n#EXT-X-BYTERANGE:500@100\nother.ts\n"
      /* continues other.ts at 600 */
      "#EXTINF:4,\n#EXT-X-BYTERANGE:10\nother.ts\n"
      /* continues main.ts at 3000, the last range of main.ts */
      "#EXTINF:4,\n#EXT-X-BYTERANGE:7\nmain.ts\n"
      "#EXTINF:4,\nwhole.ts\n"
      "#EXTINF:4,\n#EXT-X-BYTERANGE:9223372036854775806@1\nbig.ts\n";
  g_autoptr (MeshHlsMediaPlaylist) playlist = parse_media_ok (text);

  fail_unless_equals_int (playlist->segments->len, 7);
  fail_unless_equals_int64 (segment_at (playlist, 0)->offset, 0);
  fail_unless_equals_int64 (segment_at (playlist, 0)->size, 1000);
  fail_unless_equals_int64 (segment_at (playlist, 1)->offset, 1000);
  fail_unless_equals_int64 (segment_at (playlist, 1)->size, 2000);
  fail_unless_equals_int64 (segment_at (playlist, 2)->offset, 100);
  fail_unless_equals_int64 (segment_at (playlist, 2)->size, 500);
  fail_unless_equals_int64 (segment_at (playlist, 3)->offset, 600);
  fail_unless_equals_int64 (segment_at (playlist, 3)->size, 10);
  fail_unless_equals_int64 (segment_at (playlist, 4)->offset, 3000);
  fail_unless_equals_int64 (segment_at (playlist, 4)->size, 7);
  fail_unless_equals_int64 (segment_at (playlist, 5)->offset, 0);
  fail_unless_equals_int64 (segment_at (playlist, 5)->size, -1);
  fail_unless_equals_int64 (segment_at (playlist, 6)->offset, 1);
  fail_unless_equals_int64 (segment_at (playlist, 6)->size, G_MAXINT64 - 1);
}

GST_END_TEST;

static const guint8 expected_iv[16] = {
  0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
};

GST_START_TEST (test_media_keys)
{
  static const gchar text[] =
      "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
      "#EXTINF:4,\nclear0.ts\n"
      "#EXT-X-KEY:METHOD=AES-128,URI=\"keys/k1?id=1,2\","
      "IV=0x00112233445566778899AaBbCcDdEeFf\n"
      "#EXTINF:4,\nenc1.ts\n" "#EXTINF:4,\nenc2.ts\n"
      /* identity key listed with a DRM key: the DRM one is skipped */
      "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://x\","
      "KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"\n"
      "#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k2\","
      "KEYFORMAT=\"identity\"\n"
      "#EXTINF:4,\nenc3.ts\n"
      "#EXT-X-KEY:METHOD=NONE\n"
      "#EXTINF:4,\nclear4.ts\n"
      "#EXT-X-KEY:METHOD=AES-128,URI=\"k3\",IV=0X1\n" "#EXTINF:4,\nenc5.ts\n";
  g_autoptr (MeshHlsMediaPlaylist) playlist = parse_media_ok (text);
  const MeshHlsKey *k1, *k2, *k3;
  guint8 iv[16] = { 0, };

  fail_unless_equals_int (playlist->segments->len, 6);
  fail_unless_equals_int (playlist->keys->len, 3);
  fail_unless (segment_at (playlist, 0)->key == NULL);

  k1 = segment_at (playlist, 1)->key;
  fail_unless (k1 != NULL);
  fail_unless (k1 == g_ptr_array_index (playlist->keys, 0));
  fail_unless_equals_int (k1->method, MESH_HLS_KEY_AES_128);
  fail_unless_equals_string (k1->uri, BASE_DIR "keys/k1?id=1,2");
  fail_unless (k1->has_iv);
  fail_unless (memcmp (k1->iv, expected_iv, 16) == 0);
  /* inherited by the next segment */
  fail_unless (segment_at (playlist, 2)->key == k1);

  k2 = segment_at (playlist, 3)->key;
  fail_unless (k2 != NULL && k2 != k1);
  fail_unless_equals_string (k2->uri, "https://keys.example/k2");
  fail_unless (!k2->has_iv);

  /* METHOD=NONE clears */
  fail_unless (segment_at (playlist, 4)->key == NULL);

  /* a short IV is the same 128-bit integer, right-aligned */
  k3 = segment_at (playlist, 5)->key;
  fail_unless (k3 != NULL);
  fail_unless_equals_string (k3->uri, BASE_DIR "k3");
  fail_unless (k3->has_iv);
  iv[15] = 1;
  fail_unless (memcmp (k3->iv, iv, 16) == 0);
}

GST_END_TEST;

GST_START_TEST (test_media_unsupported_keys)
{
  /* SAMPLE-AES in the identity format */
  check_error (FALSE, "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
      "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k\"\n#EXTINF:4,\na.ts\n",
      MESH_HLS_ERROR_UNSUPPORTED, 3);
  /* only DRM keys before a segment */
  check_error (FALSE, "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
      "#EXTINF:4,\nclear.ts\n"
      "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://a\",KEYFORMAT=\"com.apple\"\n"
      "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"data:x\",KEYFORMAT=\"urn:uuid:w\"\n"
      "#EXTINF:4,\nenc.ts\n", MESH_HLS_ERROR_UNSUPPORTED, 5);
  /* an unknown method */
  check_error (FALSE, "#EXTM3U\n#EXT-X-KEY:METHOD=ROT13,URI=\"k\"\n"
      "#EXTINF:4,\na.ts\n", MESH_HLS_ERROR_UNSUPPORTED, 2);
}

GST_END_TEST;

GST_START_TEST (test_media_drm_key_then_none)
{
  /* a DRM-only key is fine when METHOD=NONE is listed with it */
  g_autoptr (MeshHlsMediaPlaylist) playlist =
      parse_media_ok ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
      "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://a\",KEYFORMAT=\"com.apple\"\n"
      "#EXT-X-KEY:METHOD=NONE\n" "#EXTINF:4,\na.ts\n");

  fail_unless (segment_at (playlist, 0)->key == NULL);
  fail_unless_equals_int (playlist->keys->len, 0);
}

GST_END_TEST;

GST_START_TEST (test_media_map)
{
  static const gchar text[] =
      "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:6\n"
      "#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\n"
      "#EXTINF:4,\na.m4s\n"
      "#EXTINF:4,\nb.m4s\n"
      "#EXT-X-DISCONTINUITY\n"
      "#EXT-X-MAP:URI=\"https://x.example/init2.mp4?v=2\"\n"
      "#EXTINF:4,\nc.m4s\n"
      "#EXT-X-MAP:URI=\"init3.mp4\",BYTERANGE=\"100\"\n" "#EXTINF:4,\nd.m4s\n";
  g_autoptr (MeshHlsMediaPlaylist) playlist = parse_media_ok (text);
  const MeshHlsMap *m1, *m2, *m3;

  fail_unless_equals_int (playlist->maps->len, 3);
  m1 = segment_at (playlist, 0)->map;
  fail_unless (m1 != NULL);
  fail_unless (m1 == g_ptr_array_index (playlist->maps, 0));
  fail_unless_equals_string (m1->uri, BASE_DIR "init.mp4");
  fail_unless_equals_int64 (m1->offset, 0);
  fail_unless_equals_int64 (m1->size, 720);
  fail_unless (segment_at (playlist, 1)->map == m1);

  m2 = segment_at (playlist, 2)->map;
  fail_unless (m2 != NULL && m2 != m1);
  fail_unless_equals_string (m2->uri, "https://x.example/init2.mp4?v=2");
  fail_unless_equals_int64 (m2->offset, 0);
  fail_unless_equals_int64 (m2->size, -1);

  m3 = segment_at (playlist, 3)->map;
  fail_unless_equals_int64 (m3->offset, 0);
  fail_unless_equals_int64 (m3->size, 100);
}

GST_END_TEST;

GST_START_TEST (test_media_discontinuity)
{
  static const gchar text[] =
      "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n"
      "#EXT-X-DISCONTINUITY-SEQUENCE:3\n"
      "#EXTINF:4,\na.ts\n"
      "#EXT-X-DISCONTINUITY\n#EXTINF:4,\nb.ts\n"
      "#EXTINF:4,\nc.ts\n"
      "#EXTINF:4,\n#EXT-X-DISCONTINUITY\nd.ts\n"
      "#EXT-X-DISCONTINUITY\n#EXTINF:4,\ne.ts\n";
  g_autoptr (MeshHlsMediaPlaylist) playlist = parse_media_ok (text);
  static const gint64 expected_discont_seq[] = { 3, 4, 4, 5, 6 };
  static const gboolean expected_discont[] = { FALSE, TRUE, FALSE, TRUE, TRUE };
  guint i;

  fail_unless_equals_int64 (playlist->discont_sequence, 3);
  fail_unless_equals_int (playlist->segments->len, 5);
  for (i = 0; i < 5; i++) {
    const MeshHlsSegment *s = segment_at (playlist, i);

    fail_unless_equals_int64 (s->sequence, 7 + i);
    fail_unless_equals_int64 (s->discont_sequence, expected_discont_seq[i]);
    fail_unless_equals_int (s->discontinuity, expected_discont[i]);
  }
}

GST_END_TEST;

#define PDT_BASE_US G_GINT64_CONSTANT (1704164645250000)        /* 2024-01-02T03:04:05.25Z */

GST_START_TEST (test_media_program_date_time)
{
  static const gchar text[] =
      "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
      "#EXTINF:4,\nbefore.ts\n"
      "#EXT-X-PROGRAM-DATE-TIME:2024-01-02T03:04:05.250Z\n"
      "#EXTINF:4.5,\na.ts\n" "#EXTINF:2.25,\nb.ts\n" "#EXTINF:4,\nc.ts\n"
      /* same instant, another zone: the tag wins over extrapolation */
      "#EXT-X-PROGRAM-DATE-TIME:2024-01-02T05:04:05.250+02:00\n"
      "#EXTINF:4,\nd.ts\n" "#EXTINF:4,\ne.ts\n";
  g_autoptr (MeshHlsMediaPlaylist) playlist = parse_media_ok (text);

  fail_unless_equals_int64 (segment_at (playlist, 0)->program_date_time,
      G_MININT64);
  fail_unless_equals_int64 (segment_at (playlist, 1)->program_date_time,
      PDT_BASE_US);
  fail_unless_equals_int64 (segment_at (playlist, 2)->program_date_time,
      PDT_BASE_US + 4500000);
  fail_unless_equals_int64 (segment_at (playlist, 3)->program_date_time,
      PDT_BASE_US + 6750000);
  fail_unless_equals_int64 (segment_at (playlist, 4)->program_date_time,
      PDT_BASE_US);
  fail_unless_equals_int64 (segment_at (playlist, 5)->program_date_time,
      PDT_BASE_US + 4000000);
}

GST_END_TEST;

GST_START_TEST (test_media_gap)
{
  g_autoptr (MeshHlsMediaPlaylist) playlist =
      parse_media_ok ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
      "#EXTINF:4,\na.ts\n#EXT-X-GAP\n#EXTINF:4,\nb.ts\n#EXTINF:4,\nc.ts\n");

  fail_unless (!segment_at (playlist, 0)->gap);
  fail_unless (segment_at (playlist, 1)->gap);
  fail_unless (!segment_at (playlist, 2)->gap);
}

GST_END_TEST;

GST_START_TEST (test_media_find)
{
  g_autoptr (MeshHlsMediaPlaylist) playlist =
      parse_media_ok ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
      "#EXT-X-MEDIA-SEQUENCE:50\n"
      "#EXTINF:4,\na.ts\n#EXTINF:2,\nb.ts\n#EXTINF:3,\nc.ts\n");
  const MeshHlsSegment *s;
  MeshHlsMediaPlaylist empty = { 0, };

  s = mesh_hls_media_playlist_find_sequence (playlist, 50);
  fail_unless (s == segment_at (playlist, 0));
  s = mesh_hls_media_playlist_find_sequence (playlist, 52);
  fail_unless (s == segment_at (playlist, 2));
  fail_unless (mesh_hls_media_playlist_find_sequence (playlist, 49) == NULL);
  fail_unless (mesh_hls_media_playlist_find_sequence (playlist, 53) == NULL);
  fail_unless (mesh_hls_media_playlist_find_sequence (playlist,
          G_MININT64) == NULL);
  fail_unless (mesh_hls_media_playlist_find_sequence (playlist,
          G_MAXINT64) == NULL);

  fail_unless_equals_int (mesh_hls_media_playlist_find_position (playlist,
          0), 0);
  fail_unless_equals_int (mesh_hls_media_playlist_find_position (playlist,
          4 * GST_SECOND - 1), 0);
  fail_unless_equals_int (mesh_hls_media_playlist_find_position (playlist,
          4 * GST_SECOND), 1);
  fail_unless_equals_int (mesh_hls_media_playlist_find_position (playlist,
          5 * GST_SECOND), 1);
  fail_unless_equals_int (mesh_hls_media_playlist_find_position (playlist,
          6 * GST_SECOND), 2);
  fail_unless_equals_int (mesh_hls_media_playlist_find_position (playlist,
          9 * GST_SECOND - 1), 2);
  fail_unless_equals_int (mesh_hls_media_playlist_find_position (playlist,
          9 * GST_SECOND), 2);
  fail_unless_equals_int (mesh_hls_media_playlist_find_position (playlist,
          G_MAXUINT64), 2);

  empty.segments = g_ptr_array_new ();
  fail_unless_equals_int (mesh_hls_media_playlist_find_position (&empty, 0),
      -1);
  fail_unless (mesh_hls_media_playlist_find_sequence (&empty, 0) == NULL);
  g_ptr_array_unref (empty.segments);
}

GST_END_TEST;

GST_START_TEST (test_media_malformed)
{
  static const struct
  {
    const gchar *text;
    MeshHlsError code;
    guint line;
  } cases[] = {
    {"", MESH_HLS_ERROR_NOT_M3U8, 1},
    {"#EXTINF:4,\na.ts\n", MESH_HLS_ERROR_NOT_M3U8, 1},
    {"\n\nhello\n", MESH_HLS_ERROR_NOT_M3U8, 3},
    {"#EXTM3U\n#EXT-X-TARGETDURATION:4\n\n#EXTINF:4,\na.ts\n#EXTINF:4,\n",
        MESH_HLS_ERROR_INVALID, 6},
    {"#EXTM3U\n#EXTINF:4,\n#EXTINF:4,\na.ts\n", MESH_HLS_ERROR_INVALID, 2},
    {"#EXTM3U\n#EXTINF:4,\na.ts\nb.ts\n", MESH_HLS_ERROR_INVALID, 4},
    {"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:abc,\na.ts\n",
        MESH_HLS_ERROR_SYNTAX, 3},
    {"#EXTM3U\n#EXTINF:nan,\na.ts\n", MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXTINF:inf,\na.ts\n", MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXTINF:1e3,\na.ts\n", MESH_HLS_ERROR_SYNTAX, 2},
    /* resolves to path "//a" without a host, which GLib cannot write: was a
     * NULL GError dereferenced (fuzzing found it) */
    {"#EXTM3U\n#EXTINF:1,\nx:/..//a\n", MESH_HLS_ERROR_SYNTAX, 3},
    {"#EXTM3U\n#EXTINF\na.ts\n", MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXTINF:-4,\na.ts\n", MESH_HLS_ERROR_INVALID, 2},
    {"#EXTM3U\n#EXTINF:86401,\na.ts\n", MESH_HLS_ERROR_INVALID, 2},
    {"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-ENDLIST\n",
        MESH_HLS_ERROR_INVALID, 3},
    {"#EXTM3U\n#EXT-X-TARGETDURATION:x\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-TARGETDURATION:99999999999999999999999\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:9223372036854775807\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-DISCONTINUITY-SEQUENCE:1x\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-VERSION:4294967296\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-PLAYLIST-TYPE:LIVE\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:abc\na.ts\n",
        MESH_HLS_ERROR_SYNTAX, 3},
    {"#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:10@\na.ts\n",
        MESH_HLS_ERROR_SYNTAX, 3},
    {"#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:0@0\na.ts\n",
        MESH_HLS_ERROR_SYNTAX, 3},
    {"#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:-5@0\na.ts\n",
        MESH_HLS_ERROR_SYNTAX, 3},
    {"#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:9223372036854775807@1\na.ts\n",
        MESH_HLS_ERROR_SYNTAX, 3},
    /* no previous range to continue */
    {"#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:10\na.ts\n",
        MESH_HLS_ERROR_INVALID, 3},
    /* previous range is of another resource */
    {"#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:10@0\na.ts\n"
          "#EXTINF:1,\n#EXT-X-BYTERANGE:10\nb.ts\n", MESH_HLS_ERROR_INVALID, 6},
    /* continuation past G_MAXINT64 */
    {"#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:9223372036854775806@0\na.ts\n"
          "#EXTINF:1,\n#EXT-X-BYTERANGE:10\na.ts\n",
        MESH_HLS_ERROR_INVALID, 6},
    {"#EXTM3U\n#EXT-X-KEY:URI=\"k\"\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x123G\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\","
          "IV=0x00112233445566778899aabbccddeeff00\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=1234\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"x\"\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    /* no time zone */
    {"#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2024-01-02T03:04:05\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",=x\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"junk\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",lower=1\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-KEY:METHOD=,URI=\"k\"\n#EXTINF:1,\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXTINF:1,\nhttp://[::1\n", MESH_HLS_ERROR_SYNTAX, 3},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GST_INFO ("case %u", i);
    check_error (FALSE, cases[i].text, cases[i].code, cases[i].line);
  }

  /* an embedded NUL byte */
  {
    static const gchar text[] = "#EXTM3U\n#EXTINF:1,\na\n#EXTINF:1,\nb\0c\n";
    GError *error = NULL;

    fail_unless (mesh_hls_media_playlist_parse (text, sizeof (text) - 1, BASE,
            &error) == NULL);
    fail_unless (g_error_matches (error, MESH_HLS_ERROR,
            MESH_HLS_ERROR_SYNTAX));
    fail_unless (g_str_has_prefix (error->message, "line 5: "));
    g_error_free (error);
  }

  /* the message says what is wrong, not only where */
  {
    GError *error = NULL;
    const gchar *text = "#EXTM3U\n#EXTINF:abc,\na.ts\n";

    fail_unless (mesh_hls_media_playlist_parse (text, strlen (text), BASE,
            &error) == NULL);
    fail_unless_equals_string (error->message,
        "line 2: EXTINF duration 'abc' is not a number");
    g_error_free (error);
  }
}

GST_END_TEST;

GST_START_TEST (test_master_malformed)
{
  static const struct
  {
    const gchar *text;
    MeshHlsError code;
    guint line;
  } cases[] = {
    {"", MESH_HLS_ERROR_NOT_M3U8, 1},
    {"#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n", MESH_HLS_ERROR_NOT_M3U8, 1},
    {"#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\na.m3u8\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", MESH_HLS_ERROR_INVALID, 2},
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\n"
          "b.m3u8\n", MESH_HLS_ERROR_INVALID, 2},
    {"#EXTM3U\n\n#EXT-X-STREAM-INF:BANDWIDTH=abc\na.m3u8\n",
        MESH_HLS_ERROR_SYNTAX, 3},
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=99999999999999999999\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=\"1\"\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1x2x3\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=99999999999x1\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,FRAME-RATE=fast\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1\na\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\nlonely.m3u8\n", MESH_HLS_ERROR_INVALID, 2},
    {"#EXTM3U\n#EXT-X-VERSION:3\n", MESH_HLS_ERROR_INVALID, 2},
    {"#EXTM3U\n#EXT-X-MEDIA:GROUP-ID=\"a\",NAME=\"n\"\n", MESH_HLS_ERROR_SYNTAX,
        2},
    {"#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"n\"\n", MESH_HLS_ERROR_SYNTAX,
        2},
    {"#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\"\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-MEDIA:TYPE=SOUND,GROUP-ID=\"a\",NAME=\"n\"\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"n\",DEFAULT=yes\n",
        MESH_HLS_ERROR_SYNTAX, 2},
    {"#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"n\",FORCED=1\n",
        MESH_HLS_ERROR_SYNTAX, 2},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GST_INFO ("case %u", i);
    check_error (TRUE, cases[i].text, cases[i].code, cases[i].line);
  }
}

GST_END_TEST;

GST_START_TEST (test_limits)
{
  GString *text = g_string_new ("#EXTM3U\n#EXT-X-TARGETDURATION:1\n");
  MeshHlsMediaPlaylist *playlist;
  gchar *long_line;
  guint i;

  /* 100000 segments are fine... */
  for (i = 0; i < 100000; i++)
    g_string_append (text, "#EXTINF:1,\ns.ts\n");
  playlist = parse_media_ok (text->str);
  fail_unless_equals_int (playlist->segments->len, 100000);
  fail_unless_equals_uint64 (playlist->duration, 100000 * GST_SECOND);
  fail_unless_equals_int (mesh_hls_media_playlist_find_position (playlist,
          77777 * GST_SECOND + 1), 77777);
  mesh_hls_media_playlist_free (playlist);

  /* ...one more is not (line 2 + 2 * 100001) */
  g_string_append (text, "#EXTINF:1,\ns.ts\n");
  check_error (FALSE, text->str, MESH_HLS_ERROR_INVALID, 200004);
  g_string_free (text, TRUE);

  /* a 64 KiB URI is accepted, longer lines are not */
  long_line = g_strnfill (64 * 1024, 'a');
  text = g_string_new ("#EXTM3U\n#EXTINF:1,\n");
  g_string_append (text, long_line);
  playlist = parse_media_ok (text->str);
  mesh_hls_media_playlist_free (playlist);
  g_string_append (text, "b\n");
  check_error (FALSE, text->str, MESH_HLS_ERROR_SYNTAX, 3);
  g_string_free (text, TRUE);
  g_free (long_line);
}

GST_END_TEST;

/* What a playlist can make the parser allocate */
GST_START_TEST (test_allocation_limits)
{
  g_autofree gchar *big = g_strnfill (16 * 1024 * 1024 + 1, '\n');
  g_autofree gchar *path = g_strnfill (32 * 1024, 'a');
  g_autofree gchar *long_base = g_strdup_printf ("http://cdn.example.com/%s/"
      "index.m3u8", path);
  GString *text;
  MeshHlsMediaPlaylist *playlist;
  GError *error = NULL;
  guint i;

  /* 16 MiB of text at most */
  memcpy (big, "#EXTM3U", 7);
  fail_if (mesh_hls_media_playlist_parse (big, strlen (big), BASE, &error));
  fail_unless (g_error_matches (error, MESH_HLS_ERROR, MESH_HLS_ERROR_INVALID));
  fail_unless (strstr (error->message, "larger than 16 MiB") != NULL, "%s",
      error->message);
  g_clear_error (&error);
  fail_if (mesh_hls_master_playlist_parse (big, strlen (big), BASE, &error));
  fail_unless (strstr (error->message, "larger than 16 MiB") != NULL);
  g_clear_error (&error);

  /* 1000 variants and renditions (line 1 + 2 * 1001, 1 + 1001) */
  text = g_string_new ("#EXTM3U\n");
  for (i = 0; i < 1001; i++)
    g_string_append_printf (text, "#EXT-X-STREAM-INF:BANDWIDTH=%u\nv.m3u8\n",
        i + 1);
  check_error (TRUE, text->str, MESH_HLS_ERROR_INVALID, 2002);
  g_string_assign (text, "#EXTM3U\n");
  for (i = 0; i < 1001; i++)
    g_string_append (text, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\","
        "NAME=\"n\"\n");
  check_error (TRUE, text->str, MESH_HLS_ERROR_INVALID, 1002);

  /* 100000 keys and maps (lines 2 + 100001) */
  g_string_assign (text, "#EXTM3U\n");
  for (i = 0; i < 100001; i++)
    g_string_append (text, "#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n");
  g_string_append (text, "#EXTINF:1,\ns.ts\n");
  check_error (FALSE, text->str, MESH_HLS_ERROR_INVALID, 100002);
  g_string_assign (text, "#EXTM3U\n");
  for (i = 0; i < 100001; i++)
    g_string_append (text, "#EXT-X-MAP:URI=\"init.mp4\"\n");
  g_string_append (text, "#EXTINF:1,\ns.ts\n");
  check_error (FALSE, text->str, MESH_HLS_ERROR_INVALID, 100002);

  /* 32 MiB of resolved URIs: "s.ts" is 32 KiB under a 32 KiB base, and
   * the 1024th is one too many (line 1 + 2 * 1024) */
  g_string_assign (text, "#EXTM3U\n");
  for (i = 0; i < 2000; i++)
    g_string_append (text, "#EXTINF:1,\ns.ts\n");
  fail_if (mesh_hls_media_playlist_parse (text->str, text->len, long_base,
          &error));
  fail_unless (g_error_matches (error, MESH_HLS_ERROR, MESH_HLS_ERROR_INVALID));
  fail_unless_equals_string (error->message, "line 2049: the playlist's URIs "
      "take more than 32 MiB once resolved");
  g_clear_error (&error);
  /* under a short base, the same playlist is fine */
  playlist = parse_media_ok (text->str);
  mesh_hls_media_playlist_free (playlist);
  g_string_free (text, TRUE);
}

GST_END_TEST;

/* Cuts and corrupts valid playlists: every result must be a model or a clean
 * error, never a crash or a leak (run under ASan). */
static void
mangle (const gchar * valid, gboolean master)
{
  gsize len = strlen (valid), cut, n;
  GRand *rand = g_rand_new_with_seed (0x5eed);
  gchar *copy;

  for (cut = 0; cut <= len; cut++) {
    /* the exact length, not a NUL-terminated copy, so that reads past @len
     * are caught */
    copy = g_memdup2 (valid, cut);
    if (master) {
      GError *error = NULL;
      MeshHlsMasterPlaylist *m = mesh_hls_master_playlist_parse (copy, cut,
          BASE, &error);

      fail_unless ((m == NULL) != (error == NULL));
      mesh_hls_master_playlist_free (m);
      g_clear_error (&error);
    } else {
      GError *error = NULL;
      MeshHlsMediaPlaylist *p = mesh_hls_media_playlist_parse (copy, cut,
          BASE, &error);

      fail_unless ((p == NULL) != (error == NULL));
      mesh_hls_media_playlist_free (p);
      g_clear_error (&error);
    }
    mesh_hls_playlist_kind (copy, cut);
    g_free (copy);
  }

  for (n = 0; n < 3000; n++) {
    guint flips = g_rand_int_range (rand, 1, 6), f;
    GError *error = NULL;
    static const gchar interesting[] = "\",=@:#\n\r\0x-.9 \xff";

    copy = g_memdup2 (valid, len);
    for (f = 0; f < flips; f++) {
      gsize at = g_rand_int_range (rand, 0, len);

      if (g_rand_boolean (rand))
        copy[at] = interesting[g_rand_int_range (rand, 0,
                sizeof (interesting) - 1)];
      else
        copy[at] = (gchar) g_rand_int_range (rand, 0, 256);
    }
    if (master) {
      MeshHlsMasterPlaylist *m = mesh_hls_master_playlist_parse (copy, len,
          BASE, &error);

      fail_unless ((m == NULL) != (error == NULL));
      if (error)
        fail_unless (strstr (error->message, "line ") == error->message);
      mesh_hls_master_playlist_free (m);
    } else {
      MeshHlsMediaPlaylist *p = mesh_hls_media_playlist_parse (copy, len,
          BASE, &error);

      fail_unless ((p == NULL) != (error == NULL));
      if (error)
        fail_unless (strstr (error->message, "line ") == error->message);
      mesh_hls_media_playlist_free (p);
    }
    g_clear_error (&error);
    mesh_hls_playlist_kind (copy, len);
    g_free (copy);
  }
  g_rand_free (rand);
}

GST_START_TEST (test_garbage)
{
  static const gchar media_all[] =
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n"
      "#EXT-X-MEDIA-SEQUENCE:9\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n"
      "#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"10@0\"\n"
      "#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x0123456789abcdef0123456789abcdef\n"
      "#EXT-X-PROGRAM-DATE-TIME:2024-01-02T03:04:05.250Z\n"
      "#EXTINF:4.0,t\n#EXT-X-BYTERANGE:100@10\nm.mp4\n"
      "#EXT-X-GAP\n#EXTINF:4,\n#EXT-X-BYTERANGE:100\nm.mp4\n"
      "#EXT-X-DISCONTINUITY\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:4,\nb.ts?x=1\n"
      "#EXT-X-ENDLIST\n";

  mangle (media_text, FALSE);
  mangle (media_all, FALSE);
  mangle (master_text, TRUE);
  mangle (renditions_text, TRUE);
}

GST_END_TEST;

static Suite *
hls_playlist_suite (void)
{
  Suite *s = suite_create ("hls-playlist");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_kind);
  tcase_add_test (tc, test_master_variants);
  tcase_add_test (tc, test_master_renditions);
  tcase_add_test (tc, test_master_new_single);
  tcase_add_test (tc, test_media_basic);
  tcase_add_test (tc, test_media_defaults);
  tcase_add_test (tc, test_media_playlist_type_event);
  tcase_add_test (tc, test_media_tolerance);
  tcase_add_test (tc, test_media_uri_resolution);
  tcase_add_test (tc, test_media_byterange);
  tcase_add_test (tc, test_media_keys);
  tcase_add_test (tc, test_media_unsupported_keys);
  tcase_add_test (tc, test_media_drm_key_then_none);
  tcase_add_test (tc, test_media_map);
  tcase_add_test (tc, test_media_discontinuity);
  tcase_add_test (tc, test_media_program_date_time);
  tcase_add_test (tc, test_media_gap);
  tcase_add_test (tc, test_media_find);
  tcase_add_test (tc, test_media_malformed);
  tcase_add_test (tc, test_master_malformed);
  tcase_add_test (tc, test_limits);
  tcase_add_test (tc, test_allocation_limits);
  tcase_add_test (tc, test_garbage);
  return s;
}

GST_CHECK_MAIN (hls_playlist);
