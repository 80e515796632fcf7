/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Unit tests of the MPEG-DASH MPD parser, segment listing and sidx parser.
 * Single-threaded except test_threads, where each thread parses documents of
 * its own.
 */
#include <gst/check/gstcheck.h>

#include <string.h>

#include "dash/mesh-dash-segments.h"

#define URL "http://cdn.example.com/vod/movie/manifest.mpd?token=abc"
#define DIR "http://cdn.example.com/vod/movie/"

#define MPD_NS "xmlns='urn:mpeg:dash:schema:mpd:2011' " \
  "xmlns:cenc='urn:mpeg:cenc:2013'"
#define STATIC_MPD "<?xml version='1.0' encoding='UTF-8'?>\n" \
  "<MPD " MPD_NS " type='static' minBufferTime='PT2S' " \
  "mediaPresentationDuration='PT60S'>\n"

/* ------------------------------------------------------------------------ */
/* Helpers */

static MeshDashMpd *
parse_ok (const gchar * text)
{
  GError *error = NULL;
  MeshDashMpd *mpd;

  mpd = mesh_dash_mpd_parse (text, strlen (text), URL, &error);
  fail_unless (mpd != NULL, "parse failed: %s",
      error ? error->message : "(no error)");
  fail_unless (error == NULL);
  return mpd;
}

/* Asserts that parsing fails with @code and a message containing @needle */
static void
check_error (const gchar * text, MeshDashError code, const gchar * needle)
{
  GError *error = NULL;
  MeshDashMpd *mpd;

  mpd = mesh_dash_mpd_parse (text, strlen (text), URL, &error);
  fail_unless (mpd == NULL, "parse should have failed (%s)", needle);
  fail_unless (error != NULL);
  fail_unless (error->domain == MESH_DASH_ERROR);
  fail_unless (error->code == (gint) code, "code %d instead of %d: %s",
      error->code, code, error->message);
  fail_unless (strstr (error->message, needle) != NULL,
      "'%s' not in '%s'", needle, error->message);
  g_error_free (error);
}

static const MeshDashPeriod *
period_at (const MeshDashMpd * mpd, guint p)
{
  fail_unless (p < mpd->periods->len);
  return g_ptr_array_index (mpd->periods, p);
}

static const MeshDashAdaptationSet *
as_at (const MeshDashMpd * mpd, guint p, guint a)
{
  const MeshDashPeriod *period = period_at (mpd, p);

  fail_unless (a < period->adaptation_sets->len);
  return g_ptr_array_index (period->adaptation_sets, a);
}

static const MeshDashRepresentation *
rep_at (const MeshDashMpd * mpd, guint p, guint a, guint r)
{
  const MeshDashAdaptationSet *as = as_at (mpd, p, a);

  fail_unless (r < as->representations->len);
  return g_ptr_array_index (as->representations, r);
}

static GArray *
segment_array (void)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (MeshDashSegment));

  g_array_set_clear_func (out, (GDestroyNotify) mesh_dash_segment_clear);
  return out;
}

static GArray *
list_ok (const MeshDashRepresentation * rep, GstClockTime period_duration,
    GstClockTime from, GstClockTime to)
{
  GError *error = NULL;
  GArray *out = segment_array ();

  fail_unless (mesh_dash_representation_list_segments (rep, period_duration,
          from, to, out, &error), "listing failed: %s",
      error ? error->message : "(no error)");
  fail_unless (error == NULL);
  return out;
}

static void
list_error (const MeshDashRepresentation * rep, GstClockTime period_duration,
    GstClockTime from, GstClockTime to, MeshDashError code,
    const gchar * needle)
{
  GError *error = NULL;
  GArray *out = segment_array ();

  fail_if (mesh_dash_representation_list_segments (rep, period_duration,
          from, to, out, &error));
  fail_unless (error != NULL && error->domain == MESH_DASH_ERROR);
  fail_unless (error->code == (gint) code, "code %d: %s", error->code,
      error->message);
  fail_unless (strstr (error->message, needle) != NULL, "'%s' not in '%s'",
      needle, error->message);
  g_error_free (error);
  g_array_unref (out);
}

static const MeshDashSegment *
seg (GArray * segments, guint i)
{
  fail_unless (i < segments->len, "segment %u of %u", i, segments->len);
  return &g_array_index (segments, MeshDashSegment, i);
}

static void
check_segment (GArray * segments, guint i, const gchar * url, guint64 number,
    guint64 time, GstClockTime start, GstClockTime duration)
{
  const MeshDashSegment *s = seg (segments, i);

  fail_unless_equals_string (s->url, url);
  fail_unless_equals_uint64 (s->number, number);
  fail_unless_equals_uint64 (s->time, time);
  fail_unless_equals_uint64 (s->start, start);
  fail_unless_equals_uint64 (s->duration, duration);
}

/* An MPD with one AdaptationSet of one Representation 'r' around @segments
 * (the segment element(s) of the Representation) */
static MeshDashMpd *
parse_single (const gchar * segments)
{
  gchar *text = g_strdup_printf (STATIC_MPD "<Period id='p'>"
      "<AdaptationSet id='as' mimeType='video/mp4'>"
      "<Representation id='r' bandwidth='1000'>%s</Representation>"
      "</AdaptationSet></Period></MPD>", segments);
  MeshDashMpd *mpd = parse_ok (text);

  g_free (text);
  return mpd;
}

static void
check_single_error (const gchar * segments, MeshDashError code,
    const gchar * needle)
{
  gchar *text = g_strdup_printf (STATIC_MPD "<Period id='p'>"
      "<AdaptationSet id='as' mimeType='video/mp4'>"
      "<Representation id='r' bandwidth='1000'>%s</Representation>"
      "</AdaptationSet></Period></MPD>", segments);

  check_error (text, code, needle);
  g_free (text);
}

/* ------------------------------------------------------------------------ */
/* A typical static MPD */

static const gchar vod_mpd[] = STATIC_MPD
    "  <BaseURL>media/</BaseURL>\n"
    "  <Period id='main' duration='PT60S'>\n"
    "    <AdaptationSet id='video' contentType='video' mimeType='video/mp4'\n"
    "        codecs='avc1.64001f' frameRate='25' lang='und'>\n"
    "      <Role schemeIdUri='urn:mpeg:dash:role:2011' value='main'/>\n"
    "      <Role schemeIdUri='urn:example:other' value='ignored'/>\n"
    "      <SegmentTemplate timescale='1000' duration='4000' startNumber='1'\n"
    "          initialization='$RepresentationID$/init.mp4'\n"
    "          media='$RepresentationID$/seg-$Number%05d$.m4s'/>\n"
    "      <Representation id='v720' bandwidth='3000000' width='1280'\n"
    "          height='720' frameRate='30000/1001'/>\n"
    "      <Representation id='v360' bandwidth='800000' width='640'\n"
    "          height='360' codecs='avc1.42c01e'/>\n"
    "    </AdaptationSet>\n"
    "    <AdaptationSet id='audio' mimeType='audio/mp4' codecs='mp4a.40.2'\n"
    "        lang='en'>\n"
    "      <SegmentTemplate timescale='48000' duration='192000'\n"
    "          initialization='$RepresentationID$-init.mp4'\n"
    "          media='$RepresentationID$-$Number$.m4s'/>\n"
    "      <Representation id='a' bandwidth='128000'/>\n"
    "    </AdaptationSet>\n" "  </Period>\n" "</MPD>\n";

GST_START_TEST (test_static_vod)
{
  MeshDashMpd *mpd = parse_ok (vod_mpd);
  const MeshDashAdaptationSet *video, *audio;
  const MeshDashRepresentation *low, *high, *a;
  const MeshDashPeriod *period;
  GArray *segments;
  gchar *init_url;
  gint64 offset, size;

  fail_unless_equals_string (mpd->url, URL);
  fail_if (mpd->dynamic);
  fail_unless_equals_uint64 (mpd->min_buffer_time, 2 * GST_SECOND);
  fail_unless_equals_uint64 (mpd->media_presentation_duration, 60 * GST_SECOND);
  fail_unless (mpd->availability_start_time == G_MININT64);
  fail_unless (mpd->publish_time == G_MININT64);
  fail_unless (mpd->minimum_update_period == GST_CLOCK_TIME_NONE);
  fail_unless (mpd->time_shift_buffer_depth == GST_CLOCK_TIME_NONE);
  fail_unless (mpd->suggested_presentation_delay == GST_CLOCK_TIME_NONE);
  fail_unless (mpd->max_segment_duration == GST_CLOCK_TIME_NONE);
  fail_unless (mpd->location == NULL);
  fail_unless_equals_int (mpd->utc_timings->len, 0);
  fail_unless_equals_int (mpd->periods->len, 1);

  period = period_at (mpd, 0);
  fail_unless_equals_string (period->id, "main");
  fail_unless_equals_uint64 (period->start, 0);
  fail_unless_equals_uint64 (period->duration, 60 * GST_SECOND);
  fail_unless_equals_int (period->adaptation_sets->len, 2);

  video = as_at (mpd, 0, 0);
  fail_unless_equals_string (video->id, "video");
  fail_unless_equals_int (video->content_type, MESH_DASH_CONTENT_VIDEO);
  fail_unless_equals_string (video->mime_type, "video/mp4");
  fail_unless_equals_string (video->codecs, "avc1.64001f");
  fail_unless_equals_string (video->lang, "und");
  fail_unless_equals_int (video->roles->len, 1);
  fail_unless_equals_string (g_ptr_array_index (video->roles, 0), "main");
  fail_unless_equals_int (video->content_protections->len, 0);
  fail_unless_equals_int (video->representations->len, 2);

  /* sorted by bandwidth */
  low = rep_at (mpd, 0, 0, 0);
  high = rep_at (mpd, 0, 0, 1);
  fail_unless_equals_string (low->id, "v360");
  fail_unless_equals_uint64 (low->bandwidth, 800000);
  fail_unless_equals_int (low->width, 640);
  fail_unless_equals_int (low->height, 360);
  /* own codecs, inherited mimeType and frame rate */
  fail_unless_equals_string (low->codecs, "avc1.42c01e");
  fail_unless_equals_string (low->mime_type, "video/mp4");
  fail_unless_equals_int (low->framerate_n, 25);
  fail_unless_equals_int (low->framerate_d, 1);
  fail_unless_equals_string (low->base_url, DIR "media/");
  fail_unless_equals_string (high->id, "v720");
  fail_unless_equals_string (high->codecs, "avc1.64001f");
  fail_unless_equals_int (high->framerate_n, 30000);
  fail_unless_equals_int (high->framerate_d, 1001);

  fail_unless_equals_int (high->segments.kind, MESH_DASH_SEGMENTS_TEMPLATE);
  fail_unless_equals_uint64 (high->segments.timescale, 1000);
  fail_unless_equals_uint64 (high->segments.duration, 4000);
  fail_unless_equals_uint64 (high->segments.start_number, 1);
  fail_unless (high->segments.end_number == -1);
  fail_unless (high->segments.timeline == NULL);
  fail_unless_equals_string (high->segments.media_template,
      "$RepresentationID$/seg-$Number%05d$.m4s");

  fail_unless (mesh_dash_representation_get_init (high, &init_url, &offset,
          &size, NULL));
  fail_unless_equals_string (init_url, DIR "media/v720/init.mp4");
  fail_unless (offset == -1);
  g_free (init_url);

  /* 60 s in 4 s segments */
  segments = list_ok (high, period->duration, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 15);
  check_segment (segments, 0, DIR "media/v720/seg-00001.m4s", 1, 0, 0,
      4 * GST_SECOND);
  check_segment (segments, 14, DIR "media/v720/seg-00015.m4s", 15, 56000,
      56 * GST_SECOND, 4 * GST_SECOND);
  fail_unless (seg (segments, 3)->offset == -1);
  g_array_unref (segments);

  audio = as_at (mpd, 0, 1);
  fail_unless_equals_int (audio->content_type, MESH_DASH_CONTENT_AUDIO);
  fail_unless_equals_string (audio->lang, "en");
  fail_unless_equals_int (audio->roles->len, 0);
  a = rep_at (mpd, 0, 1, 0);
  fail_unless_equals_string (a->codecs, "mp4a.40.2");
  fail_unless_equals_int (a->framerate_n, 0);
  fail_unless_equals_int (a->framerate_d, 1);
  fail_unless_equals_int (a->width, 0);
  /* 48000 Hz timescale, 4 s segments, starting 20 s in */
  segments = list_ok (a, period->duration, 20 * GST_SECOND, 28 * GST_SECOND);
  fail_unless_equals_int (segments->len, 2);
  check_segment (segments, 0, DIR "media/a-6.m4s", 6, 960000,
      20 * GST_SECOND, 4 * GST_SECOND);
  check_segment (segments, 1, DIR "media/a-7.m4s", 7, 1152000,
      24 * GST_SECOND, 4 * GST_SECOND);
  g_array_unref (segments);

  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* MPD attributes */

GST_START_TEST (test_dynamic_attributes)
{
  static const gchar text[] =
      "<MPD " MPD_NS " type='dynamic' minBufferTime='PT1.5S'\n"
      "    availabilityStartTime='2024-01-02T03:04:05.25+01:00'\n"
      "    publishTime='2024-01-02T03:04:05'\n"
      "    minimumUpdatePeriod='PT2S' timeShiftBufferDepth='PT5M'\n"
      "    suggestedPresentationDelay='PT6S' maxSegmentDuration='PT2.002S'>\n"
      "  <Location>../live/next.mpd</Location>\n"
      "  <UTCTiming schemeIdUri='urn:mpeg:dash:utc:ntp:2014'\n"
      "      value='pool.ntp.org'/>\n"
      "  <UTCTiming schemeIdUri='urn:mpeg:dash:utc:http-xsdate:2014'\n"
      "      value='/time?xs'/>\n"
      "  <UTCTiming schemeIdUri='urn:mpeg:dash:utc:http-iso:2014'\n"
      "      value='https://time.example.com/iso https://b.example.com/'/>\n"
      "  <UTCTiming schemeIdUri='urn:mpeg:dash:utc:http-head:2014'\n"
      "      value='https://time.example.com/head'/>\n"
      "  <UTCTiming schemeIdUri='urn:mpeg:dash:utc:direct:2014'\n"
      "      value='2024-01-02T03:04:05Z'/>\n"
      "  <UTCTiming schemeIdUri='urn:mpeg:dash:utc:http-xsdate:2012'\n"
      "      value='http://t.example.com/2012'/>\n"
      "  <UTCTiming schemeIdUri='urn:mpeg:dash:utc:http-iso:2012'\n"
      "      value='http://t.example.com/iso2012'/>\n"
      "  <UTCTiming schemeIdUri='urn:mpeg:dash:utc:http-head:2012'\n"
      "      value='http://t.example.com/head2012'/>\n"
      "  <UTCTiming schemeIdUri='urn:mpeg:dash:utc:direct:2012'\n"
      "      value='2012-01-01T00:00:00Z'/>\n"
      "  <UTCTiming schemeIdUri='urn:example:unknown' value='x'/>\n"
      "  <Period id='live' start='PT0S'>\n"
      "    <AdaptationSet mimeType='video/mp4'>\n"
      "      <SegmentTemplate timescale='90000' media='$Time$.m4s'>\n"
      "        <SegmentTimeline><S t='900000' d='180000' r='-1'/>"
      "</SegmentTimeline>\n"
      "      </SegmentTemplate>\n"
      "      <Representation id='v' bandwidth='1'/>\n"
      "    </AdaptationSet>\n" "  </Period>\n" "</MPD>\n";
  static const struct
  {
    MeshDashUtcScheme scheme;
    const gchar *value;
  } timings[] = {
    {MESH_DASH_UTC_HTTP_XSDATE, "http://cdn.example.com/time?xs"},
    {MESH_DASH_UTC_HTTP_ISO, "https://time.example.com/iso"},
    {MESH_DASH_UTC_HTTP_HEAD, "https://time.example.com/head"},
    {MESH_DASH_UTC_DIRECT, "2024-01-02T03:04:05Z"},
    {MESH_DASH_UTC_HTTP_XSDATE, "http://t.example.com/2012"},
    {MESH_DASH_UTC_HTTP_ISO, "http://t.example.com/iso2012"},
    {MESH_DASH_UTC_HTTP_HEAD, "http://t.example.com/head2012"},
    {MESH_DASH_UTC_DIRECT, "2012-01-01T00:00:00Z"},
  };
  MeshDashMpd *mpd = parse_ok (text);
  const MeshDashRepresentation *rep;
  GArray *segments;
  guint i;

  fail_unless (mpd->dynamic);
  /* 03:04:05.25 at +01:00 is 02:04:05.25 UTC */
  fail_unless_equals_int64 (mpd->availability_start_time,
      (G_GINT64_CONSTANT (1704164645) - 3600) * G_USEC_PER_SEC + 250000);
  /* no zone: UTC */
  fail_unless_equals_int64 (mpd->publish_time,
      G_GINT64_CONSTANT (1704164645) * G_USEC_PER_SEC);
  fail_unless_equals_uint64 (mpd->min_buffer_time, 1500 * GST_MSECOND);
  fail_unless_equals_uint64 (mpd->minimum_update_period, 2 * GST_SECOND);
  fail_unless_equals_uint64 (mpd->time_shift_buffer_depth, 300 * GST_SECOND);
  fail_unless_equals_uint64 (mpd->suggested_presentation_delay, 6 * GST_SECOND);
  fail_unless_equals_uint64 (mpd->max_segment_duration, 2002 * GST_MSECOND);
  fail_unless (mpd->media_presentation_duration == GST_CLOCK_TIME_NONE);
  fail_unless_equals_string (mpd->location,
      "http://cdn.example.com/vod/live/next.mpd");

  /* the NTP and unknown schemes are skipped */
  fail_unless_equals_int (mpd->utc_timings->len, G_N_ELEMENTS (timings));
  for (i = 0; i < G_N_ELEMENTS (timings); i++) {
    const MeshDashUtcTiming *t = g_ptr_array_index (mpd->utc_timings, i);

    fail_unless_equals_int (t->scheme, timings[i].scheme);
    fail_unless_equals_string (t->value, timings[i].value);
  }

  /* the only period of a dynamic MPD is open */
  fail_unless_equals_uint64 (period_at (mpd, 0)->start, 0);
  fail_unless (period_at (mpd, 0)->duration == GST_CLOCK_TIME_NONE);
  fail_unless (as_at (mpd, 0, 0)->id == NULL);

  /* r=-1 in an open period needs an end time */
  rep = rep_at (mpd, 0, 0, 0);
  list_error (rep, GST_CLOCK_TIME_NONE, 0, GST_CLOCK_TIME_NONE,
      MESH_DASH_ERROR_INVALID, "open");
  segments = list_ok (rep, GST_CLOCK_TIME_NONE, 0, 25 * GST_SECOND);
  /* the timeline starts at 10 s (no presentationTimeOffset): 10..24 */
  fail_unless_equals_int (segments->len, 8);
  check_segment (segments, 0, DIR "900000.m4s", 1, 900000, 10 * GST_SECOND,
      2 * GST_SECOND);
  check_segment (segments, 7, DIR "2160000.m4s", 8, 2160000,
      24 * GST_SECOND, 2 * GST_SECOND);
  g_array_unref (segments);

  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

static gchar *
mpd_with_root_attribute (const gchar * attribute)
{
  return g_strdup_printf ("<MPD " MPD_NS " minBufferTime='PT1S' %s>"
      "<Period/></MPD>", attribute);
}

GST_START_TEST (test_durations)
{
  static const struct
  {
    const gchar *text;
    GstClockTime ns;
  } good[] = {
    {"PT1H2M3.5S", (3600 + 120 + 3) * GST_SECOND + 500 * GST_MSECOND},
    {"P1DT2H", 26 * 3600 * GST_SECOND},
    {"PT0S", 0},
    {"PT0.000000001S", 1},
    {"PT0.1234567891S", 123456789},
    {"PT1M", 60 * GST_SECOND},
    {"P1M", 30 * 24 * 3600 * GST_SECOND},
    {"P1Y", 365 * 24 * 3600 * GST_SECOND},
    {"P1Y2M3DT4H5M6S", ((365 + 60 + 3) * 24 * 3600 + 4 * 3600 + 5 * 60 + 6)
        * GST_SECOND},
    {"PT90S", 90 * GST_SECOND},
    {" PT5S ", 5 * GST_SECOND},
  };
  static const gchar *bad[] = {
    "-PT5S", "", "P", "PT", "P1DT", "PT1H1H", "PT1S1M", "P1H", "PTS", "PT5",
    "PT1.5M", "1H", "PT1.S", "PT.5S", "P1D2H", "PT1,5S", "abc",
    "PT999999999999S", "P99999999Y", "PT+5S", "PT-5S",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (good); i++) {
    gchar *attr = g_strdup_printf ("mediaPresentationDuration='%s'",
        good[i].text);
    gchar *text = mpd_with_root_attribute (attr);
    MeshDashMpd *mpd = parse_ok (text);

    fail_unless_equals_uint64 (mpd->media_presentation_duration, good[i].ns);
    /* the last period lasts to the end */
    fail_unless_equals_uint64 (period_at (mpd, 0)->duration, good[i].ns);
    mesh_dash_mpd_free (mpd);
    g_free (text);
    g_free (attr);
  }
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    gchar *attr = g_strdup_printf ("timeShiftBufferDepth='%s'", bad[i]);
    gchar *text = mpd_with_root_attribute (attr);

    check_error (text, MESH_DASH_ERROR_INVALID, "MPD@timeShiftBufferDepth");
    g_free (text);
    g_free (attr);
  }
  check_error ("<MPD " MPD_NS " minBufferTime='-PT1S'><Period/></MPD>",
      MESH_DASH_ERROR_INVALID, "MPD@minBufferTime '-PT1S' is negative");
}

GST_END_TEST;

GST_START_TEST (test_date_times)
{
  static const struct
  {
    const gchar *text;
    gint64 us;
  } good[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"1970-01-01T00:00:00", 0},
    {"1970-01-01T01:00:00+01:00", 0},
    {"1970-01-01T00:00:00-00:30", 1800 * G_USEC_PER_SEC},
    {"2024-01-02T03:04:05.123456Z", G_GINT64_CONSTANT (1704164645123456)},
    {"2024-01-02T03:04:05.1234567Z", G_GINT64_CONSTANT (1704164645123456)},
    {"2015-06-30T23:59:59Z", G_GINT64_CONSTANT (1435708799000000)},
    {"2024-02-29T00:00:00Z", G_GINT64_CONSTANT (1709164800000000)},
  };
  static const gchar *bad[] = {
    "2023-02-29T00:00:00Z", "2024-01-01 00:00:00", "2024-01-01T25:00:00Z",
    "2024-13-01T00:00:00Z", "2024-01-01T00:00:00+1:00", "yesterday",
    "2024-01-01", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00Zjunk",
    "0000-01-01T00:00:00Z", "2024-01-01T00:60:00Z",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (good); i++) {
    gchar *attr = g_strdup_printf ("availabilityStartTime='%s'",
        good[i].text);
    gchar *text = mpd_with_root_attribute (attr);
    MeshDashMpd *mpd = parse_ok (text);

    fail_unless_equals_int64 (mpd->availability_start_time, good[i].us);
    mesh_dash_mpd_free (mpd);
    g_free (text);
    g_free (attr);
  }
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    gchar *attr = g_strdup_printf ("publishTime='%s'", bad[i]);
    gchar *text = mpd_with_root_attribute (attr);

    check_error (text, MESH_DASH_ERROR_INVALID, "is not an xs:dateTime");
    check_error (text, MESH_DASH_ERROR_INVALID, "MPD@publishTime");
    g_free (text);
    g_free (attr);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* BaseURL */

GST_START_TEST (test_base_urls)
{
  static const gchar text[] = STATIC_MPD
      "<BaseURL>http://origin.example.net/root/</BaseURL>\n"
      "<BaseURL>http://ignored.example.net/</BaseURL>\n"
      "<Period duration='PT30S'><BaseURL>period/</BaseURL>\n"
      "  <AdaptationSet><BaseURL>as/</BaseURL>\n"
      "    <SegmentTemplate duration='1' media='s$Number$.m4s'/>\n"
      "    <Representation id='rel' bandwidth='1'><BaseURL>rep/</BaseURL>"
      "</Representation>\n"
      "    <Representation id='none' bandwidth='2'/>\n"
      "    <Representation id='abs' bandwidth='3'>"
      "<BaseURL>https://other.example.org/x/</BaseURL></Representation>\n"
      "    <Representation id='file' bandwidth='4'>"
      "<BaseURL>video.mp4</BaseURL></Representation>\n"
      "    <Representation id='up' bandwidth='5'>"
      "<BaseURL>../up/</BaseURL></Representation>\n"
      "    <Representation id='rooted' bandwidth='6'>"
      "<BaseURL> /rooted/ </BaseURL></Representation>\n"
      "  </AdaptationSet>\n"
      "  <AdaptationSet><BaseURL>https://as.example.com/dir</BaseURL>\n"
      "    <SegmentTemplate duration='1' media='s$Number$.m4s'/>\n"
      "    <Representation id='noslash' bandwidth='1'>"
      "<BaseURL>rep/</BaseURL></Representation>\n"
      "  </AdaptationSet>\n"
      "</Period>\n"
      "<Period duration='PT1S'>\n"
      "  <AdaptationSet>\n"
      "    <SegmentTemplate duration='1' media='s$Number$.m4s'/>\n"
      "    <Representation id='mpd-only' bandwidth='1'/>\n"
      "  </AdaptationSet>\n" "</Period>\n" "</MPD>";
  static const gchar no_base[] = STATIC_MPD
      "<Period><AdaptationSet>\n"
      "  <SegmentTemplate duration='1' media='s$Number$.m4s'/>\n"
      "  <Representation id='r' bandwidth='1'/>\n"
      "</AdaptationSet></Period></MPD>";
  static const gchar *expected[] = {
    "http://origin.example.net/root/period/as/rep/",
    "http://origin.example.net/root/period/as/",
    "https://other.example.org/x/",
    "http://origin.example.net/root/period/as/video.mp4",
    "http://origin.example.net/root/period/up/",
    "http://origin.example.net/rooted/",
  };
  MeshDashMpd *mpd = parse_ok (text);
  GArray *segments;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (expected); i++)
    fail_unless_equals_string (rep_at (mpd, 0, 0, i)->base_url, expected[i]);
  /* without a trailing slash the last segment is replaced */
  fail_unless_equals_string (rep_at (mpd, 0, 1, 0)->base_url,
      "https://as.example.com/rep/");
  fail_unless_equals_string (rep_at (mpd, 1, 0, 0)->base_url,
      "http://origin.example.net/root/");

  /* segment URLs resolve against the Representation's BaseURL */
  segments = list_ok (rep_at (mpd, 0, 0, 0), GST_SECOND, 0,
      GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 1);
  check_segment (segments, 0,
      "http://origin.example.net/root/period/as/rep/s1.m4s", 1, 0, 0,
      GST_SECOND);
  g_array_unref (segments);
  segments = list_ok (rep_at (mpd, 0, 0, 3), GST_SECOND, 0,
      GST_CLOCK_TIME_NONE);
  check_segment (segments, 0, "http://origin.example.net/root/period/as/"
      "s1.m4s", 1, 0, 0, GST_SECOND);
  g_array_unref (segments);
  mesh_dash_mpd_free (mpd);

  /* no BaseURL at all: the MPD's URL, without its query */
  mpd = parse_ok (no_base);
  fail_unless_equals_string (rep_at (mpd, 0, 0, 0)->base_url, URL);
  segments = list_ok (rep_at (mpd, 0, 0, 0), GST_SECOND, 0,
      GST_CLOCK_TIME_NONE);
  check_segment (segments, 0, DIR "s1.m4s", 1, 0, 0, GST_SECOND);
  g_array_unref (segments);
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Templates */

GST_START_TEST (test_template_expansion)
{
  static const struct
  {
    const gchar *template;
    const gchar *url;
  } good[] = {
    {"$RepresentationID$.m4s", DIR "base/v%201.m4s"},
    {"$Number$.m4s", DIR "base/42.m4s"},
    {"$Number%05d$.m4s", DIR "base/00042.m4s"},
    {"$Number%01d$.m4s", DIR "base/42.m4s"},
    {"$Number%020d$", DIR "base/00000000000000000042"},
    {"$Time$", DIR "base/9000000000"},
    {"$Time%03d$", DIR "base/9000000000"},
    {"$Time%012d$", DIR "base/009000000000"},
    {"$Bandwidth$", DIR "base/2500000"},
    {"$Bandwidth%09d$", DIR "base/002500000"},
    {"a$$b$$$Number$", DIR "base/a$b$42"},
    {"$$", DIR "base/$"},
    {"plain.m4s", DIR "base/plain.m4s"},
    {"../up/$Number$.m4s", DIR "up/42.m4s"},
    {"https://abs.example.com/$RepresentationID$/$Number$",
        "https://abs.example.com/v%201/42"},
    {"?n=$Number$", DIR "base/?n=42"},
  };
  static const gchar *bad[] = {
    "$Foo$", "$Number%5d$", "$Number%05x$", "$Number%021d$",
    "$Number%00d$", "$Number%0d$", "$RepresentationID%05d$", "$Number",
    "x$", "$Number%05d", "$number$", "$Number%05dd$", "$Number%-5d$",
    "$Number%05lld$", "$%05d$",
    /* resolves to a path "//$Number$" without a host: GLib cannot write
     * it, and returned NULL without an error (fuzzing found it) */
    "x:/..//$Number$",
  };
  MeshDashRepresentation rep = { 0, };
  guint i;

  rep.id = (gchar *) "v%201";
  rep.bandwidth = 2500000;
  rep.base_url = (gchar *) DIR "base/";

  for (i = 0; i < G_N_ELEMENTS (good); i++) {
    GError *error = NULL;
    gchar *url = mesh_dash_expand_url (&rep, good[i].template, 42,
        G_GUINT64_CONSTANT (9000000000), &error);

    fail_unless (url != NULL, "%s: %s", good[i].template,
        error ? error->message : "");
    fail_unless_equals_string (url, good[i].url);
    g_free (url);
  }
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    GError *error = NULL;
    gchar *url = mesh_dash_expand_url (&rep, bad[i], 42, 0, &error);

    fail_unless (url == NULL, "'%s' gave '%s'", bad[i], url);
    fail_unless (g_error_matches (error, MESH_DASH_ERROR,
            MESH_DASH_ERROR_INVALID));
    g_error_free (error);
  }
}

GST_END_TEST;

GST_START_TEST (test_template_errors_at_parse)
{
  check_single_error ("<SegmentTemplate duration='1' media='$Foo$.m4s'/>",
      MESH_DASH_ERROR_INVALID, "Period 'p': AdaptationSet 'as': "
      "Representation 'r': SegmentTemplate@media: unknown identifier $Foo$");
  check_single_error ("<SegmentTemplate duration='1' media='$Number$' "
      "initialization='init-$Number$.mp4'/>", MESH_DASH_ERROR_INVALID,
      "SegmentTemplate@initialization: $Number$ is not allowed");
  check_single_error ("<SegmentTemplate duration='1' media='$Number$' "
      "initialization='init-$Time$.mp4'/>", MESH_DASH_ERROR_INVALID,
      "$Time$ is not allowed");
  check_single_error ("<SegmentTemplate duration='1' "
      "media='$Number%5d$'/>", MESH_DASH_ERROR_INVALID,
      "has a format other than %0<width>d");
  check_single_error ("<SegmentTemplate duration='1'/>",
      MESH_DASH_ERROR_INVALID, "SegmentTemplate@media is missing");
  check_single_error ("<SegmentTemplate media='$Number$'/>",
      MESH_DASH_ERROR_INVALID, "neither @duration nor SegmentTimeline");
  check_single_error ("<SegmentTemplate duration='0' media='$Number$'/>",
      MESH_DASH_ERROR_INVALID, "SegmentTemplate@duration '0' is out of range");
  check_single_error ("<SegmentTemplate timescale='0' duration='1' "
      "media='$Number$'/>", MESH_DASH_ERROR_INVALID,
      "SegmentTemplate@timescale '0'");
  check_single_error ("<SegmentTemplate startNumber='-1' duration='1' "
      "media='$Number$'/>", MESH_DASH_ERROR_INVALID,
      "SegmentTemplate@startNumber '-1' is negative");
  check_single_error ("<SegmentTemplate startNumber='5' endNumber='4' "
      "duration='1' media='$Number$'/>", MESH_DASH_ERROR_INVALID,
      "@endNumber 4 is before @startNumber 5");
  check_single_error ("<SegmentTemplate duration='1x' media='$Number$'/>",
      MESH_DASH_ERROR_INVALID, "SegmentTemplate@duration '1x' is not a "
      "non-negative integer");
  check_single_error ("<SegmentTemplate duration='99999999999999999999' "
      "media='$Number$'/>", MESH_DASH_ERROR_INVALID,
      "SegmentTemplate@duration");
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Inheritance */

GST_START_TEST (test_inheritance)
{
  static const gchar text[] = STATIC_MPD
      "<Period duration='PT20S'>\n"
      "  <SegmentTemplate timescale='1000' duration='2000'\n"
      "      presentationTimeOffset='500' media='p/$Number$.m4s'\n"
      "      initialization='p-init.mp4'/>\n"
      "  <AdaptationSet mimeType='video/mp4' width='640' height='360'\n"
      "      frameRate='24'>\n"
      "    <SegmentTemplate startNumber='10' endNumber='14'/>\n"
      "    <Representation id='own' bandwidth='1'>\n"
      "      <SegmentTemplate duration='4000' media='own/$Number$.m4s'/>\n"
      "    </Representation>\n"
      "    <Representation id='inherit' bandwidth='2' width='1280'/>\n"
      "    <Representation id='pto' bandwidth='3'>\n"
      "      <SegmentTemplate presentationTimeOffset='0' endNumber='100'/>\n"
      "    </Representation>\n"
      "  </AdaptationSet>\n"
      "  <AdaptationSet mimeType='audio/mp4'>\n"
      "    <SegmentTemplate timescale='10' media='t/$Time$.m4s'>\n"
      "      <SegmentTimeline><S t='470' d='20' r='3'/></SegmentTimeline>\n"
      "    </SegmentTemplate>\n"
      "    <Representation id='timeline' bandwidth='1'>\n"
      "      <SegmentTemplate media='own/$Time$.m4s'/>\n"
      "    </Representation>\n"
      "    <Representation id='replace' bandwidth='2'>\n"
      "      <SegmentTemplate><SegmentTimeline><S d='50'/>"
      "</SegmentTimeline></SegmentTemplate>\n"
      "    </Representation>\n" "  </AdaptationSet>\n" "</Period></MPD>";
  MeshDashMpd *mpd = parse_ok (text);
  const MeshDashRepresentation *own, *inherit, *pto, *timeline, *replace;
  const MeshDashTimelineEntry *e;
  GArray *segments;

  own = rep_at (mpd, 0, 0, 0);
  inherit = rep_at (mpd, 0, 0, 1);
  pto = rep_at (mpd, 0, 0, 2);

  /* own: @duration and @media of its own, the rest from above */
  fail_unless_equals_uint64 (own->segments.timescale, 1000);
  fail_unless_equals_uint64 (own->segments.duration, 4000);
  fail_unless_equals_uint64 (own->segments.presentation_time_offset, 500);
  fail_unless_equals_uint64 (own->segments.start_number, 10);
  fail_unless_equals_int64 (own->segments.end_number, 14);
  fail_unless_equals_string (own->segments.media_template, "own/$Number$.m4s");
  fail_unless_equals_string (own->segments.init_template, "p-init.mp4");
  fail_unless_equals_int (own->width, 640);
  fail_unless_equals_int (own->height, 360);
  fail_unless_equals_int (own->framerate_n, 24);

  fail_unless_equals_uint64 (inherit->segments.duration, 2000);
  fail_unless_equals_string (inherit->segments.media_template,
      "p/$Number$.m4s");
  fail_unless_equals_int (inherit->width, 1280);
  fail_unless_equals_int (inherit->height, 360);

  fail_unless_equals_uint64 (pto->segments.presentation_time_offset, 0);
  fail_unless_equals_int64 (pto->segments.end_number, 100);
  fail_unless_equals_uint64 (pto->segments.duration, 2000);

  /* numbers 10..14 only (endNumber); the media time includes the offset */
  segments = list_ok (inherit, 20 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 5);
  check_segment (segments, 0, DIR "p/10.m4s", 10, 500, 0, 2 * GST_SECOND);
  check_segment (segments, 4, DIR "p/14.m4s", 14, 8500, 8 * GST_SECOND,
      2 * GST_SECOND);
  g_array_unref (segments);
  segments = list_ok (pto, 20 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 10);
  g_array_unref (segments);

  /* the timeline is inherited as a whole, or replaced as a whole */
  timeline = rep_at (mpd, 0, 1, 0);
  replace = rep_at (mpd, 0, 1, 1);
  fail_unless (timeline->segments.timeline != NULL);
  fail_unless_equals_int (timeline->segments.timeline->len, 1);
  e = &g_array_index (timeline->segments.timeline, MeshDashTimelineEntry, 0);
  fail_unless_equals_uint64 (e->t, 470);
  fail_unless_equals_uint64 (e->d, 20);
  fail_unless_equals_int64 (e->r, 3);
  fail_unless_equals_uint64 (timeline->segments.timescale, 10);
  fail_unless_equals_string (timeline->segments.media_template,
      "own/$Time$.m4s");
  fail_unless_equals_int (replace->segments.timeline->len, 1);
  e = &g_array_index (replace->segments.timeline, MeshDashTimelineEntry, 0);
  fail_unless_equals_uint64 (e->t, 0);
  fail_unless_equals_uint64 (e->d, 50);
  fail_unless_equals_int64 (e->r, 0);
  fail_unless_equals_string (replace->segments.media_template, "t/$Time$.m4s");
  /* the Period's presentationTimeOffset (500, here 50 s) still applies: a
   * segment wholly before it is left out, one across it starts at 0 */
  segments = list_ok (timeline, 20 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 3);
  check_segment (segments, 0, DIR "own/490.m4s", 2, 490, 0, GST_SECOND);
  check_segment (segments, 1, DIR "own/510.m4s", 3, 510, GST_SECOND,
      2 * GST_SECOND);
  check_segment (segments, 2, DIR "own/530.m4s", 4, 530, 3 * GST_SECOND,
      2 * GST_SECOND);
  g_array_unref (segments);

  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* SegmentTimeline */

GST_START_TEST (test_timeline)
{
  MeshDashMpd *mpd = parse_single ("<SegmentTemplate timescale='1000' "
      "presentationTimeOffset='1000' startNumber='5' "
      "media='$Number$-$Time$.m4s'><SegmentTimeline>"
      /* 1000, 3000, 5000 */
      "<S t='1000' d='2000' r='2'/>"
      /* implicit t = 7000 */
      "<S d='1000'/>"
      /* a gap: 10000, 13000 then up to the next S (17000) */
      "<S t='10000' d='3000' r='-1'/>" "<S t='17000' d='500'/>"
      /* last: repeats to the period end */
      "<S t='20000' d='4000' r='-1'/>" "</SegmentTimeline></SegmentTemplate>");
  const MeshDashRepresentation *rep = rep_at (mpd, 0, 0, 0);
  const GArray *tl = rep->segments.timeline;
  GArray *segments;

  fail_unless_equals_int (tl->len, 5);
  fail_unless_equals_uint64 (g_array_index (tl, MeshDashTimelineEntry,
          1).t, 7000);
  fail_unless_equals_int64 (g_array_index (tl, MeshDashTimelineEntry, 2).r, -1);
  fail_unless_equals_int64 (g_array_index (tl, MeshDashTimelineEntry, 4).r, -1);

  /* the period lasts 30 s: the last S covers 20000..29000 (presentation
   * time 19 s to 28 s) */
  segments = list_ok (rep, 30 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 3 + 1 + 3 + 1 + 3);
  check_segment (segments, 0, DIR "5-1000.m4s", 5, 1000, 0, 2 * GST_SECOND);
  check_segment (segments, 2, DIR "7-5000.m4s", 7, 5000, 4 * GST_SECOND,
      2 * GST_SECOND);
  check_segment (segments, 3, DIR "8-7000.m4s", 8, 7000, 6 * GST_SECOND,
      GST_SECOND);
  check_segment (segments, 4, DIR "9-10000.m4s", 9, 10000, 9 * GST_SECOND,
      3 * GST_SECOND);
  /* the r=-1 repeat stops at the next S@t: 10000, 13000, 16000 */
  check_segment (segments, 6, DIR "11-16000.m4s", 11, 16000,
      15 * GST_SECOND, 3 * GST_SECOND);
  check_segment (segments, 7, DIR "12-17000.m4s", 12, 17000,
      16 * GST_SECOND, 500 * GST_MSECOND);
  check_segment (segments, 10, DIR "15-28000.m4s", 15, 28000,
      27 * GST_SECOND, 4 * GST_SECOND);
  g_array_unref (segments);

  /* a window: segments starting in [9 s, 16 s) */
  segments = list_ok (rep, 30 * GST_SECOND, 9 * GST_SECOND, 16 * GST_SECOND);
  fail_unless_equals_int (segments->len, 3);
  fail_unless_equals_uint64 (seg (segments, 0)->number, 9);
  fail_unless_equals_uint64 (seg (segments, 2)->number, 11);
  g_array_unref (segments);

  /* @to bounds the open end when the period is open */
  segments = list_ok (rep, GST_CLOCK_TIME_NONE, 20 * GST_SECOND,
      40 * GST_SECOND);
  fail_unless_equals_int (segments->len, 5);
  check_segment (segments, 0, DIR "14-24000.m4s", 14, 24000,
      23 * GST_SECOND, 4 * GST_SECOND);
  check_segment (segments, 4, DIR "18-40000.m4s", 18, 40000,
      39 * GST_SECOND, 4 * GST_SECOND);
  g_array_unref (segments);
  list_error (rep, GST_CLOCK_TIME_NONE, 0, GST_CLOCK_TIME_NONE,
      MESH_DASH_ERROR_INVALID, "Representation 'r'");

  /* nothing in an empty window */
  segments = list_ok (rep, 30 * GST_SECOND, 5 * GST_SECOND, 5 * GST_SECOND);
  fail_unless_equals_int (segments->len, 0);
  g_array_unref (segments);
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

GST_START_TEST (test_timeline_huge_repeat)
{
  MeshDashMpd *mpd = parse_single ("<SegmentTemplate timescale='1000000000' "
      "media='$Number$.m4s'><SegmentTimeline>"
      "<S t='0' d='1' r='999999999999'/>"
      "</SegmentTimeline></SegmentTemplate>");
  const MeshDashRepresentation *rep = rep_at (mpd, 0, 0, 0);
  GArray *segments;

  /* a window far in: found without walking the repeats */
  segments = list_ok (rep, GST_CLOCK_TIME_NONE, 500 * GST_SECOND,
      500 * GST_SECOND + 3);
  fail_unless_equals_int (segments->len, 3);
  check_segment (segments, 0, DIR "500000000001.m4s",
      G_GUINT64_CONSTANT (500000000001), G_GUINT64_CONSTANT (500000000000),
      500 * GST_SECOND, 1);
  g_array_unref (segments);

  /* the whole of it is refused, not allocated */
  list_error (rep, GST_CLOCK_TIME_NONE, 0, GST_CLOCK_TIME_NONE,
      MESH_DASH_ERROR_UNSUPPORTED, "more than 1000000 segments");
  /* the same with @duration templates */
  mesh_dash_mpd_free (mpd);
  mpd = parse_single ("<SegmentTemplate timescale='1000' duration='1' "
      "media='$Number$.m4s'/>");
  list_error (rep_at (mpd, 0, 0, 0), 3600 * GST_SECOND, 0,
      GST_CLOCK_TIME_NONE, MESH_DASH_ERROR_UNSUPPORTED, "Representation 'r'");
  mesh_dash_mpd_free (mpd);

  /* repeats whose end cannot be represented */
  check_single_error ("<SegmentTemplate media='$Number$'><SegmentTimeline>"
      "<S t='0' d='1000' r='9223372036854775806'/></SegmentTimeline>"
      "</SegmentTemplate>", MESH_DASH_ERROR_INVALID, "Representation 'r': "
      "SegmentTimeline: S 1: the timeline overflows");
  check_single_error ("<SegmentTemplate media='$Number$'><SegmentTimeline>"
      "<S t='0' d='1' r='999999999999999'/></SegmentTimeline>"
      "</SegmentTemplate>", MESH_DASH_ERROR_INVALID,
      "SegmentTimeline ends too far in the future");
}

GST_END_TEST;

GST_START_TEST (test_timeline_errors)
{
  check_single_error ("<SegmentTemplate media='$Number$'><SegmentTimeline>"
      "<S t='0'/></SegmentTimeline></SegmentTemplate>",
      MESH_DASH_ERROR_INVALID, "Representation 'r': SegmentTimeline: S 1: "
      "S@d is missing");
  check_single_error ("<SegmentTemplate media='$Number$'><SegmentTimeline>"
      "<S d='1' r='-2'/></SegmentTimeline></SegmentTemplate>",
      MESH_DASH_ERROR_INVALID, "S@r '-2' is not -1 or a non-negative");
  check_single_error ("<SegmentTemplate media='$Number$'><SegmentTimeline>"
      "<S d='10' r='1'/><S t='15' d='10'/></SegmentTimeline>"
      "</SegmentTemplate>", MESH_DASH_ERROR_INVALID, "S 2: S@t 15 goes back");
  check_single_error ("<SegmentTemplate media='$Number$'><SegmentTimeline>"
      "<S d='10' r='-1'/><S d='10'/></SegmentTimeline></SegmentTemplate>",
      MESH_DASH_ERROR_INVALID, "S 2: S@t is required after an S with @r=-1");
  check_single_error ("<SegmentTemplate media='$Number$'><SegmentTimeline>"
      "</SegmentTimeline></SegmentTemplate>", MESH_DASH_ERROR_INVALID,
      "SegmentTimeline has no S");
  check_single_error ("<SegmentTemplate media='$Number$'><SegmentTimeline>"
      "<S d='-5'/></SegmentTimeline></SegmentTemplate>",
      MESH_DASH_ERROR_INVALID, "S@d '-5' is negative");
  check_single_error ("<SegmentTemplate media='$Number$'><SegmentTimeline>"
      "<S t='abc' d='5'/></SegmentTimeline></SegmentTemplate>",
      MESH_DASH_ERROR_INVALID, "S@t 'abc'");
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* @duration templates */

GST_START_TEST (test_duration_template)
{
  MeshDashMpd *mpd = parse_single ("<SegmentTemplate timescale='90000' "
      "duration='180000' startNumber='0' presentationTimeOffset='9000' "
      "media='$Number$_$Time$.ts'/>");
  const MeshDashRepresentation *rep = rep_at (mpd, 0, 0, 0);
  GArray *segments;

  /* 9 s in 2 s segments: ceil gives 5 */
  segments = list_ok (rep, 9 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 5);
  check_segment (segments, 0, DIR "0_9000.ts", 0, 9000, 0, 2 * GST_SECOND);
  check_segment (segments, 4, DIR "4_729000.ts", 4, 729000, 8 * GST_SECOND,
      2 * GST_SECOND);
  g_array_unref (segments);

  /* exactly 10 s: 5 as well */
  segments = list_ok (rep, 10 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 5);
  g_array_unref (segments);

  /* from inside a segment: the next start */
  segments = list_ok (rep, 10 * GST_SECOND, 3 * GST_SECOND,
      GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 3);
  fail_unless_equals_uint64 (seg (segments, 0)->number, 2);
  fail_unless_equals_uint64 (seg (segments, 0)->start, 4 * GST_SECOND);
  g_array_unref (segments);

  /* open period: @to is needed */
  list_error (rep, GST_CLOCK_TIME_NONE, 0, GST_CLOCK_TIME_NONE,
      MESH_DASH_ERROR_INVALID, "open");
  segments = list_ok (rep, GST_CLOCK_TIME_NONE, 100 * GST_SECOND,
      106 * GST_SECOND);
  fail_unless_equals_int (segments->len, 3);
  check_segment (segments, 2, DIR "52_9369000.ts", 52, 9369000,
      104 * GST_SECOND, 2 * GST_SECOND);
  g_array_unref (segments);
  mesh_dash_mpd_free (mpd);

  /* @endNumber bounds both an open and a closed period */
  mpd = parse_single ("<SegmentTemplate duration='2' startNumber='3' "
      "endNumber='6' media='$Number$.m4s'/>");
  rep = rep_at (mpd, 0, 0, 0);
  segments = list_ok (rep, GST_CLOCK_TIME_NONE, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 4);
  check_segment (segments, 3, DIR "6.m4s", 6, 6, 6 * GST_SECOND,
      2 * GST_SECOND);
  g_array_unref (segments);
  segments = list_ok (rep, 60 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 4);
  g_array_unref (segments);
  segments = list_ok (rep, 5 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 3);
  g_array_unref (segments);
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* SegmentList and SegmentBase */

GST_START_TEST (test_segment_list)
{
  static const gchar text[] = STATIC_MPD
      "<Period duration='PT10S'><BaseURL>list/</BaseURL>\n"
      "  <AdaptationSet mimeType='video/mp4'>\n"
      "    <SegmentList timescale='10' duration='40'>\n"
      "      <Initialization sourceURL='init.mp4' range='0-799'/>\n"
      "      <SegmentURL media='a.mp4' mediaRange='800-1999'/>\n"
      "      <SegmentURL media='a.mp4' mediaRange='2000-2999'/>\n"
      "      <SegmentURL media='http://elsewhere.example.com/c.mp4'/>\n"
      "    </SegmentList>\n"
      "    <Representation id='dur' bandwidth='1'/>\n"
      "    <Representation id='tl' bandwidth='2'>\n"
      "      <SegmentList><SegmentTimeline><S d='30'/><S d='50' r='1'/>"
      "</SegmentTimeline></SegmentList>\n"
      "    </Representation>\n"
      "  </AdaptationSet>\n"
      "  <AdaptationSet mimeType='video/mp4'>\n"
      "    <Representation id='one' bandwidth='3'>\n"
      "      <BaseURL>whole.mp4</BaseURL>\n"
      "      <SegmentList><Initialization range='0-99'/>"
      "<SegmentURL/></SegmentList>\n"
      "    </Representation>\n" "  </AdaptationSet>\n" "</Period></MPD>";
  MeshDashMpd *mpd = parse_ok (text);
  const MeshDashRepresentation *dur, *tl, *one;
  const MeshDashSegmentUrl *u;
  GArray *segments;
  gchar *init;
  gint64 offset, size;

  dur = rep_at (mpd, 0, 0, 0);
  tl = rep_at (mpd, 0, 0, 1);
  one = rep_at (mpd, 0, 1, 0);

  fail_unless_equals_int (dur->segments.kind, MESH_DASH_SEGMENTS_LIST);
  fail_unless_equals_int (dur->segments.urls->len, 3);
  u = g_ptr_array_index (dur->segments.urls, 0);
  fail_unless_equals_string (u->media, DIR "list/a.mp4");
  fail_unless_equals_int64 (u->media_offset, 800);
  fail_unless_equals_int64 (u->media_size, 1200);
  u = g_ptr_array_index (dur->segments.urls, 2);
  fail_unless_equals_string (u->media, "http://elsewhere.example.com/c.mp4");
  fail_unless_equals_int64 (u->media_offset, -1);
  fail_unless_equals_string (dur->segments.init_url, DIR "list/init.mp4");
  fail_unless_equals_int64 (dur->segments.init_offset, 0);
  fail_unless_equals_int64 (dur->segments.init_size, 800);
  fail_unless (mesh_dash_representation_get_init (dur, &init, &offset, &size,
          NULL));
  fail_unless_equals_string (init, DIR "list/init.mp4");
  fail_unless_equals_int64 (offset, 0);
  fail_unless_equals_int64 (size, 800);
  g_free (init);

  segments = list_ok (dur, 10 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 3);
  check_segment (segments, 1, DIR "list/a.mp4", 2, 40, 4 * GST_SECOND,
      4 * GST_SECOND);
  fail_unless_equals_int64 (seg (segments, 1)->offset, 2000);
  fail_unless_equals_int64 (seg (segments, 1)->size, 1000);
  check_segment (segments, 2, "http://elsewhere.example.com/c.mp4", 3, 80,
      8 * GST_SECOND, 4 * GST_SECOND);
  fail_unless_equals_int64 (seg (segments, 2)->offset, -1);
  g_array_unref (segments);

  /* the Representation's timeline gives the durations, its URLs inherited */
  segments = list_ok (tl, 10 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 3);
  check_segment (segments, 0, DIR "list/a.mp4", 1, 0, 0, 3 * GST_SECOND);
  check_segment (segments, 1, DIR "list/a.mp4", 2, 30, 3 * GST_SECOND,
      5 * GST_SECOND);
  check_segment (segments, 2, "http://elsewhere.example.com/c.mp4", 3, 80,
      8 * GST_SECOND, 5 * GST_SECOND);
  g_array_unref (segments);
  segments = list_ok (tl, 10 * GST_SECOND, 3 * GST_SECOND, 8 * GST_SECOND);
  fail_unless_equals_int (segments->len, 1);
  fail_unless_equals_uint64 (seg (segments, 0)->number, 2);
  g_array_unref (segments);

  /* one segment without @duration: the whole period, the BaseURL */
  segments = list_ok (one, 10 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 1);
  check_segment (segments, 0, DIR "list/whole.mp4", 1, 0, 0, 10 * GST_SECOND);
  g_array_unref (segments);
  fail_unless (mesh_dash_representation_get_init (one, &init, &offset, &size,
          NULL));
  fail_unless_equals_string (init, DIR "list/whole.mp4");
  fail_unless_equals_int64 (offset, 0);
  fail_unless_equals_int64 (size, 100);
  g_free (init);

  mesh_dash_mpd_free (mpd);

  check_single_error ("<SegmentList duration='1'/>", MESH_DASH_ERROR_INVALID,
      "SegmentList has no SegmentURL");
  check_single_error ("<SegmentList><SegmentURL/><SegmentURL/></SegmentList>",
      MESH_DASH_ERROR_INVALID, "SegmentList has neither @duration");
  check_single_error ("<SegmentList duration='1'><SegmentURL "
      "mediaRange='10-5'/></SegmentList>", MESH_DASH_ERROR_INVALID,
      "SegmentURL@mediaRange '10-5' is not a byte range");
  check_single_error ("<SegmentList duration='1'><SegmentURL "
      "mediaRange='10-'/></SegmentList>", MESH_DASH_ERROR_INVALID,
      "SegmentURL@mediaRange");
  check_single_error ("<SegmentList duration='1'><SegmentURL "
      "mediaRange='-1-5'/></SegmentList>", MESH_DASH_ERROR_INVALID,
      "SegmentURL@mediaRange");
}

GST_END_TEST;

GST_START_TEST (test_segment_base)
{
  MeshDashMpd *mpd = parse_single ("<BaseURL>video.mp4</BaseURL>"
      "<SegmentBase timescale='12800' presentationTimeOffset='1024' "
      "indexRange='864-1023'><Initialization range='0-863'/></SegmentBase>");
  const MeshDashRepresentation *rep = rep_at (mpd, 0, 0, 0);
  gchar *init;
  gint64 offset, size;

  fail_unless_equals_int (rep->segments.kind, MESH_DASH_SEGMENTS_BASE);
  fail_unless_equals_uint64 (rep->segments.timescale, 12800);
  fail_unless_equals_uint64 (rep->segments.presentation_time_offset, 1024);
  fail_unless_equals_int64 (rep->segments.index_offset, 864);
  fail_unless_equals_int64 (rep->segments.index_size, 160);
  fail_unless_equals_string (rep->segments.init_url, DIR "video.mp4");
  fail_unless_equals_int64 (rep->segments.init_offset, 0);
  fail_unless_equals_int64 (rep->segments.init_size, 864);
  fail_unless (mesh_dash_representation_get_init (rep, &init, &offset, &size,
          NULL));
  fail_unless_equals_string (init, DIR "video.mp4");
  fail_unless_equals_int64 (offset, 0);
  fail_unless_equals_int64 (size, 864);
  g_free (init);
  list_error (rep, GST_SECOND, 0, GST_CLOCK_TIME_NONE,
      MESH_DASH_ERROR_UNSUPPORTED, "sidx");
  mesh_dash_mpd_free (mpd);

  /* no Initialization: what precedes the index */
  mpd = parse_single ("<BaseURL>v.mp4</BaseURL>"
      "<SegmentBase indexRange='700-899'/>");
  rep = rep_at (mpd, 0, 0, 0);
  fail_unless (rep->segments.init_url == NULL);
  fail_unless (mesh_dash_representation_get_init (rep, &init, &offset, &size,
          NULL));
  fail_unless_equals_string (init, DIR "v.mp4");
  fail_unless_equals_int64 (offset, 0);
  fail_unless_equals_int64 (size, 700);
  g_free (init);
  mesh_dash_mpd_free (mpd);

  /* Initialization@sourceURL elsewhere, at AdaptationSet level */
  mpd = parse_ok (STATIC_MPD "<Period><AdaptationSet>"
      "<SegmentBase><Initialization sourceURL='init/$x.mp4'/></SegmentBase>"
      "<Representation id='r' bandwidth='1'><BaseURL>v/</BaseURL>"
      "<SegmentBase indexRange='0-99'/></Representation>"
      "</AdaptationSet></Period></MPD>");
  rep = rep_at (mpd, 0, 0, 0);
  fail_unless (mesh_dash_representation_get_init (rep, &init, &offset, &size,
          NULL));
  fail_unless_equals_string (init, DIR "v/init/$x.mp4");
  fail_unless_equals_int64 (offset, -1);
  fail_unless_equals_int64 (size, -1);
  g_free (init);
  mesh_dash_mpd_free (mpd);

  /* no segment information at all */
  mpd = parse_single ("");
  rep = rep_at (mpd, 0, 0, 0);
  fail_unless_equals_int (rep->segments.kind, MESH_DASH_SEGMENTS_NONE);
  fail_if (mesh_dash_representation_get_init (rep, &init, &offset, &size,
          NULL));
  fail_unless (init == NULL);
  list_error (rep, GST_SECOND, 0, GST_CLOCK_TIME_NONE,
      MESH_DASH_ERROR_UNSUPPORTED, "no segment information");
  mesh_dash_mpd_free (mpd);

  check_single_error ("<SegmentBase indexRange='abc'/>",
      MESH_DASH_ERROR_INVALID, "SegmentBase@indexRange 'abc'");
  check_single_error ("<SegmentBase><Initialization range='5'/>"
      "</SegmentBase>", MESH_DASH_ERROR_INVALID,
      "Initialization@range '5' is not a byte range");
}

GST_END_TEST;

/* A Representation that is one file: a sidecar subtitle file */
GST_START_TEST (test_single_file_representation)
{
  MeshDashMpd *mpd = parse_ok (STATIC_MPD "<Period duration='PT30S'>"
      "<AdaptationSet contentType='text' mimeType='text/vtt' lang='en'>"
      "<Representation id='en' bandwidth='256'><BaseURL>subs/en.vtt</BaseURL>"
      "</Representation></AdaptationSet>"
      "<AdaptationSet contentType='text' mimeType='text/vtt' lang='fr'>"
      "<BaseURL>subs/fr.vtt</BaseURL><Representation id='fr' bandwidth='256'/>"
      "</AdaptationSet></Period></MPD>");
  const MeshDashRepresentation *en = rep_at (mpd, 0, 0, 0);
  const MeshDashRepresentation *fr = rep_at (mpd, 0, 1, 0);
  GArray *segments;
  gchar *init = NULL;

  fail_unless_equals_int (en->segments.kind, MESH_DASH_SEGMENTS_SINGLE);
  fail_unless_equals_int (fr->segments.kind, MESH_DASH_SEGMENTS_SINGLE);
  /* no init section, one segment lasting the period */
  fail_if (mesh_dash_representation_get_init (en, &init, NULL, NULL, NULL));
  segments = list_ok (en, 30 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 1);
  check_segment (segments, 0, DIR "subs/en.vtt", 1, 0, 0, 30 * GST_SECOND);
  fail_unless_equals_int64 (seg (segments, 0)->offset, -1);
  g_array_unref (segments);
  segments = list_ok (fr, 30 * GST_SECOND, 0, GST_CLOCK_TIME_NONE);
  check_segment (segments, 0, DIR "subs/fr.vtt", 1, 0, 0, 30 * GST_SECOND);
  g_array_unref (segments);
  /* past the start: nothing more */
  segments = list_ok (en, 30 * GST_SECOND, GST_SECOND, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (segments->len, 0);
  g_array_unref (segments);
  /* its duration is the period's: an open one has none */
  list_error (en, GST_CLOCK_TIME_NONE, 0, 60 * GST_SECOND,
      MESH_DASH_ERROR_INVALID, "open period");
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

GST_START_TEST (test_template_init)
{
  MeshDashMpd *mpd = parse_ok (STATIC_MPD "<Period><AdaptationSet>"
      "<SegmentTemplate duration='1' media='$Number$' "
      "initialization='i/$RepresentationID$-$Bandwidth%08d$.mp4'/>"
      "<Representation id='a' bandwidth='64000'/>"
      "<Representation id='b' bandwidth='96000'><SegmentTemplate>"
      "<Initialization sourceURL='own-init.mp4' range='0-499'/>"
      "</SegmentTemplate></Representation>"
      "</AdaptationSet><AdaptationSet>"
      "<SegmentTemplate duration='1' media='$Number$'>"
      "<Initialization sourceURL='elem.mp4' range='10-19'/>"
      "</SegmentTemplate><Representation id='c' bandwidth='1'/>"
      "</AdaptationSet><AdaptationSet>"
      "<SegmentTemplate duration='1' media='$Number$'/>"
      "<Representation id='d' bandwidth='1'/>"
      "</AdaptationSet></Period></MPD>");
  GError *error = NULL;
  gchar *init;
  gint64 offset, size;

  fail_unless (mesh_dash_representation_get_init (rep_at (mpd, 0, 0, 0),
          &init, &offset, &size, NULL));
  fail_unless_equals_string (init, DIR "i/a-00064000.mp4");
  fail_unless_equals_int64 (offset, -1);
  g_free (init);
  /* the template wins over an Initialization element */
  fail_unless (mesh_dash_representation_get_init (rep_at (mpd, 0, 0, 1),
          &init, &offset, &size, NULL));
  fail_unless_equals_string (init, DIR "i/b-00096000.mp4");
  g_free (init);
  fail_unless (mesh_dash_representation_get_init (rep_at (mpd, 0, 1, 0),
          &init, &offset, &size, NULL));
  fail_unless_equals_string (init, DIR "elem.mp4");
  fail_unless_equals_int64 (offset, 10);
  fail_unless_equals_int64 (size, 10);
  g_free (init);
  /* none: FALSE without error */
  fail_if (mesh_dash_representation_get_init (rep_at (mpd, 0, 2, 0),
          &init, &offset, &size, &error));
  fail_unless (error == NULL);
  fail_unless (init == NULL);
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Periods */

GST_START_TEST (test_periods)
{
  static const gchar text[] = "<MPD " MPD_NS " minBufferTime='PT1S' "
      "mediaPresentationDuration='PT60S'>"
      "<Period id='a' duration='PT10S'/>"
      "<Period id='b'/>"
      "<Period id='c' start='PT30S'/>"
      "<Period id='d' start='PT45S' duration='PT5S'/>"
      "<Period id='e'/>" "</MPD>";
  static const GstClockTime starts[] = { 0, 10, 30, 45, 50 };
  static const GstClockTime durations[] = { 10, 20, 15, 5, 10 };
  MeshDashMpd *mpd = parse_ok (text);
  guint i;

  fail_unless_equals_int (mpd->periods->len, 5);
  for (i = 0; i < 5; i++) {
    fail_unless_equals_uint64 (period_at (mpd, i)->start,
        starts[i] * GST_SECOND);
    fail_unless_equals_uint64 (period_at (mpd, i)->duration,
        durations[i] * GST_SECOND);
    fail_unless_equals_int (period_at (mpd, i)->adaptation_sets->len, 0);
  }
  mesh_dash_mpd_free (mpd);

  /* dynamic: the last period is open */
  mpd = parse_ok ("<MPD " MPD_NS " type='dynamic' minBufferTime='PT1S' "
      "availabilityStartTime='2020-01-01T00:00:00Z'>"
      "<Period id='x' start='PT100S'/><Period id='y' start='PT160S'/></MPD>");
  fail_unless_equals_uint64 (period_at (mpd, 0)->start, 100 * GST_SECOND);
  fail_unless_equals_uint64 (period_at (mpd, 0)->duration, 60 * GST_SECOND);
  fail_unless_equals_uint64 (period_at (mpd, 1)->start, 160 * GST_SECOND);
  fail_unless (period_at (mpd, 1)->duration == GST_CLOCK_TIME_NONE);
  mesh_dash_mpd_free (mpd);

  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'><Period/><Period/>"
      "</MPD>", MESH_DASH_ERROR_INVALID, "Period 2: Period@start is missing "
      "and the previous Period has no @duration");
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'><Period start='PT5S'/>"
      "<Period id='late' start='PT1S'/></MPD>", MESH_DASH_ERROR_INVALID,
      "Period 'late': starts before the previous Period");
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S' "
      "mediaPresentationDuration='PT10S'><Period start='PT20S'/></MPD>",
      MESH_DASH_ERROR_INVALID, "Period 1: starts after the end");
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'><Period "
      "start='soon'/></MPD>", MESH_DASH_ERROR_INVALID,
      "Period 1: Period@start 'soon' is not an xs:duration");
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'></MPD>",
      MESH_DASH_ERROR_INVALID, "MPD has no Period");
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* AdaptationSet details */

static const gchar pssh_b64[] =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw==";

GST_START_TEST (test_content_protection)
{
  gchar *text = g_strdup_printf (STATIC_MPD "<Period><AdaptationSet "
      "mimeType='video/mp4'>\n"
      "<ContentProtection schemeIdUri='urn:mpeg:dash:mp4protection:2011' "
      "value='cenc' cenc:default_KID='10000000-1000-1000-1000-100000000001'/>\n"
      "<ContentProtection "
      "schemeIdUri='urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed'>\n"
      "  <cenc:pssh>\n  %.20s\n  %s\n  </cenc:pssh>\n"
      "</ContentProtection>\n"
      "<ContentProtection "
      "schemeIdUri='urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95'>"
      "<other:pssh xmlns:other='urn:example'>AAAA</other:pssh>"
      "</ContentProtection>\n"
      "<Representation id='r' bandwidth='1'>"
      "<ContentProtection schemeIdUri='urn:mpeg:dash:mp4protection:2011' "
      "value='cenc' cenc:default_KID='10000000-1000-1000-1000-100000000001'/>"
      "<ContentProtection schemeIdUri='urn:example:rep-level'/>"
      "</Representation>\n"
      "</AdaptationSet></Period></MPD>", pssh_b64, pssh_b64 + 20);
  MeshDashMpd *mpd = parse_ok (text);
  const MeshDashAdaptationSet *as = as_at (mpd, 0, 0);
  const MeshDashContentProtection *cp;
  gconstpointer data;
  gsize size, i;

  /* the Representation's duplicate is dropped, its new one kept */
  fail_unless_equals_int (as->content_protections->len, 4);

  cp = g_ptr_array_index (as->content_protections, 0);
  fail_unless_equals_string (cp->scheme_id_uri,
      "urn:mpeg:dash:mp4protection:2011");
  fail_unless_equals_string (cp->value, "cenc");
  fail_unless_equals_string (cp->default_kid,
      "10000000-1000-1000-1000-100000000001");
  fail_unless (cp->pssh == NULL);
  /* serialised with the namespaces it uses declared */
  fail_unless (strstr (cp->xml, "<ContentProtection") != NULL, "%s", cp->xml);
  fail_unless (strstr (cp->xml, "xmlns:cenc=\"urn:mpeg:cenc:2013\"") != NULL,
      "%s", cp->xml);
  fail_unless (strstr (cp->xml, "cenc:default_KID=\"10000000-1000-1000-1000-"
          "100000000001\"") != NULL, "%s", cp->xml);

  cp = g_ptr_array_index (as->content_protections, 1);
  fail_unless_equals_string (cp->scheme_id_uri,
      "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed");
  fail_unless (cp->value == NULL);
  fail_unless (cp->default_kid == NULL);
  fail_unless (cp->pssh != NULL);
  data = g_bytes_get_data (cp->pssh, &size);
  fail_unless_equals_int (size, 40);
  for (i = 0; i < size; i++)
    fail_unless_equals_int (((const guint8 *) data)[i], i);
  fail_unless (strstr (cp->xml, "<cenc:pssh>") != NULL, "%s", cp->xml);

  /* a pssh of another namespace is not cenc's */
  cp = g_ptr_array_index (as->content_protections, 2);
  fail_unless (cp->pssh == NULL);

  cp = g_ptr_array_index (as->content_protections, 3);
  fail_unless_equals_string (cp->scheme_id_uri, "urn:example:rep-level");
  mesh_dash_mpd_free (mpd);
  g_free (text);

  check_error (STATIC_MPD "<Period><AdaptationSet id='v'><ContentProtection "
      "schemeIdUri='urn:x'><cenc:pssh>not*base64</cenc:pssh>"
      "</ContentProtection></AdaptationSet></Period></MPD>",
      MESH_DASH_ERROR_INVALID, "Period 1: AdaptationSet 'v': "
      "ContentProtection 'urn:x': cenc:pssh is not base64");
  check_error (STATIC_MPD "<Period><AdaptationSet><ContentProtection "
      "schemeIdUri='urn:x'><cenc:pssh>AA=A</cenc:pssh></ContentProtection>"
      "</AdaptationSet></Period></MPD>", MESH_DASH_ERROR_INVALID,
      "cenc:pssh is not base64");
  check_error (STATIC_MPD "<Period><AdaptationSet><ContentProtection "
      "schemeIdUri='urn:x'><cenc:pssh>AAA</cenc:pssh></ContentProtection>"
      "</AdaptationSet></Period></MPD>", MESH_DASH_ERROR_INVALID,
      "cenc:pssh is not base64");
  check_error (STATIC_MPD "<Period><AdaptationSet><ContentProtection "
      "value='cenc'/></AdaptationSet></Period></MPD>",
      MESH_DASH_ERROR_INVALID, "Period 1: AdaptationSet 1: "
      "ContentProtection@schemeIdUri is missing");
}

GST_END_TEST;

static MeshDashContentType
content_type_of (const gchar * as_attributes, const gchar * rep_attributes)
{
  gchar *text = g_strdup_printf (STATIC_MPD "<Period><AdaptationSet %s>"
      "<Representation id='r' bandwidth='1' %s/></AdaptationSet></Period>"
      "</MPD>", as_attributes, rep_attributes);
  MeshDashMpd *mpd = parse_ok (text);
  MeshDashContentType type = as_at (mpd, 0, 0)->content_type;

  mesh_dash_mpd_free (mpd);
  g_free (text);
  return type;
}

GST_START_TEST (test_content_types)
{
  fail_unless_equals_int (content_type_of ("contentType='video'", ""),
      MESH_DASH_CONTENT_VIDEO);
  fail_unless_equals_int (content_type_of ("contentType='audio' "
          "mimeType='video/mp4'", ""), MESH_DASH_CONTENT_AUDIO);
  fail_unless_equals_int (content_type_of ("contentType='text'", ""),
      MESH_DASH_CONTENT_TEXT);
  fail_unless_equals_int (content_type_of ("mimeType='audio/mp4'", ""),
      MESH_DASH_CONTENT_AUDIO);
  fail_unless_equals_int (content_type_of ("mimeType='video/webm'", ""),
      MESH_DASH_CONTENT_VIDEO);
  fail_unless_equals_int (content_type_of ("mimeType='text/vtt'", ""),
      MESH_DASH_CONTENT_TEXT);
  fail_unless_equals_int (content_type_of ("mimeType='application/ttml+xml'",
          ""), MESH_DASH_CONTENT_TEXT);
  fail_unless_equals_int (content_type_of ("mimeType='application/mp4' "
          "codecs='stpp.ttml.im1t'", ""), MESH_DASH_CONTENT_TEXT);
  fail_unless_equals_int (content_type_of ("mimeType='application/mp4'",
          "codecs='wvtt'"), MESH_DASH_CONTENT_TEXT);
  fail_unless_equals_int (content_type_of ("mimeType='application/mp4' "
          "codecs='avc1'", ""), MESH_DASH_CONTENT_UNKNOWN);
  fail_unless_equals_int (content_type_of ("contentType='image' "
          "mimeType='image/jpeg'", ""), MESH_DASH_CONTENT_UNKNOWN);
  /* from the Representation when the AdaptationSet says nothing */
  fail_unless_equals_int (content_type_of ("", "mimeType='audio/mp4'"),
      MESH_DASH_CONTENT_AUDIO);
  fail_unless_equals_int (content_type_of ("", ""), MESH_DASH_CONTENT_UNKNOWN);
}

GST_END_TEST;

GST_START_TEST (test_representation_attributes)
{
  static const gchar *bad_rates[] = {
    "0", "25/0", "abc", "1/2/3", "-25", "", "30000/", "/1001",
    "99999999999",
  };
  MeshDashMpd *mpd = parse_ok (STATIC_MPD "<Period><AdaptationSet>"
      "<Representation id='b1' bandwidth='500' frameRate='50'/>"
      "<Representation id='a' bandwidth='100' frameRate='24000/1001'/>"
      "<Representation id='b2' bandwidth='500'/>"
      "<Representation id='c' bandwidth='300'/>"
      "<Representation id='b3' bandwidth='500'/>"
      "<Representation id='z' bandwidth='0'/>"
      "</AdaptationSet></Period></MPD>");
  static const gchar *order[] = { "z", "a", "c", "b1", "b2", "b3" };
  guint i;

  /* ascending bandwidth, document order among equals */
  for (i = 0; i < G_N_ELEMENTS (order); i++)
    fail_unless_equals_string (rep_at (mpd, 0, 0, i)->id, order[i]);
  fail_unless_equals_int (rep_at (mpd, 0, 0, 1)->framerate_n, 24000);
  fail_unless_equals_int (rep_at (mpd, 0, 0, 1)->framerate_d, 1001);
  fail_unless_equals_int (rep_at (mpd, 0, 0, 3)->framerate_n, 50);
  fail_unless_equals_int (rep_at (mpd, 0, 0, 3)->framerate_d, 1);
  fail_unless (rep_at (mpd, 0, 0, 3)->codecs == NULL);
  fail_unless (rep_at (mpd, 0, 0, 3)->mime_type == NULL);
  mesh_dash_mpd_free (mpd);

  for (i = 0; i < G_N_ELEMENTS (bad_rates); i++) {
    gchar *text = g_strdup_printf (STATIC_MPD "<Period><AdaptationSet "
        "id='v'><Representation id='r' bandwidth='1' frameRate='%s'/>"
        "</AdaptationSet></Period></MPD>", bad_rates[i]);

    check_error (text, MESH_DASH_ERROR_INVALID, "Period 1: AdaptationSet "
        "'v': Representation 'r': Representation@frameRate");
    g_free (text);
  }
  check_error (STATIC_MPD "<Period><AdaptationSet frameRate='x'/></Period>"
      "</MPD>", MESH_DASH_ERROR_INVALID, "AdaptationSet@frameRate 'x'");
  check_error (STATIC_MPD "<Period><AdaptationSet id='v'><Representation "
      "bandwidth='1'/></AdaptationSet></Period></MPD>",
      MESH_DASH_ERROR_INVALID, "Period 1: AdaptationSet 'v': "
      "Representation 1: Representation@id is missing");
  check_error (STATIC_MPD "<Period><AdaptationSet id='v'><Representation "
      "id='x' bandwidth='-5'/></AdaptationSet></Period></MPD>",
      MESH_DASH_ERROR_INVALID, "Representation@bandwidth '-5' is negative");
  check_error (STATIC_MPD "<Period><AdaptationSet id='v'><Representation "
      "id='x' bandwidth='1' width='wide'/></AdaptationSet></Period></MPD>",
      MESH_DASH_ERROR_INVALID, "Representation@width 'wide' is not");
  check_error (STATIC_MPD "<Period><AdaptationSet id='v'><Representation "
      "id='x' bandwidth='1' height='99999999999'/></AdaptationSet></Period>"
      "</MPD>", MESH_DASH_ERROR_INVALID, "Representation@height "
      "'99999999999' is out of range");
  check_error (STATIC_MPD "<Period><AdaptationSet><Role value='main'/>"
      "</AdaptationSet></Period></MPD>", MESH_DASH_ERROR_INVALID,
      "Role@schemeIdUri is missing");
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* What packagers write: defaults and loose numbers, with a warning each */

/* Asserts that one of @mpd's warnings contains @needle */
static void
check_warning (const MeshDashMpd * mpd, const gchar * needle)
{
  guint i;

  for (i = 0; i < mpd->warnings->len; i++) {
    if (strstr (g_ptr_array_index (mpd->warnings, i), needle) != NULL)
      return;
  }
  fail ("no warning mentions '%s' (%u warnings)", needle, mpd->warnings->len);
}

GST_START_TEST (test_missing_mandatory_defaulted)
{
  MeshDashMpd *mpd;

  /* MPD@minBufferTime */
  mpd = parse_ok ("<MPD " MPD_NS "><Period/></MPD>");
  fail_unless_equals_uint64 (mpd->min_buffer_time, 2 * GST_SECOND);
  fail_unless_equals_int (mpd->warnings->len, 1);
  check_warning (mpd, "MPD@minBufferTime is missing: 0:00:02");
  mesh_dash_mpd_free (mpd);

  /* a sidecar subtitle file without Representation@bandwidth */
  mpd = parse_ok (STATIC_MPD "<Period><AdaptationSet id='subs' "
      "contentType='text' mimeType='text/vtt' lang='en'><Representation "
      "id='sub-en'><BaseURL>subs/en.vtt</BaseURL></Representation>"
      "</AdaptationSet></Period></MPD>");
  fail_unless_equals_uint64 (rep_at (mpd, 0, 0, 0)->bandwidth, 0);
  fail_unless_equals_int (as_at (mpd, 0, 0)->content_type,
      MESH_DASH_CONTENT_TEXT);
  check_warning (mpd, "Period 1: AdaptationSet 'subs': Representation "
      "'sub-en': Representation@bandwidth is missing: 0 assumed");
  mesh_dash_mpd_free (mpd);

  /* nothing to say about a complete MPD */
  mpd = parse_ok (vod_mpd);
  fail_unless_equals_int (mpd->warnings->len, 0);
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

static MeshDashMpd *
parse_rep_attributes (const gchar * attributes)
{
  g_autofree gchar *text = g_strdup_printf (STATIC_MPD "<Period>"
      "<AdaptationSet id='v'><Representation id='r' %s/></AdaptationSet>"
      "</Period></MPD>", attributes);

  return parse_ok (text);
}

static void
check_frame_rate (const gchar * written, gint n, gint d)
{
  g_autofree gchar *attributes = g_strdup_printf ("bandwidth='1' "
      "frameRate='%s'", written);
  g_autofree gchar *warning = g_strdup_printf ("Representation@frameRate "
      "'%s' is not written as a fraction: read as %d/%d", written, n, d);
  MeshDashMpd *mpd = parse_rep_attributes (attributes);

  fail_unless_equals_int (rep_at (mpd, 0, 0, 0)->framerate_n, n);
  fail_unless_equals_int (rep_at (mpd, 0, 0, 0)->framerate_d, d);
  check_warning (mpd, warning);
  mesh_dash_mpd_free (mpd);
}

GST_START_TEST (test_loose_numbers)
{
  static const gchar *still_wrong[] = {
    "width='1280.5'", "width='.0'", "width='1280.'", "width='+-1'",
    "width='++1'", "height='1e3'", "frameRate='30.'", "frameRate='.5'",
    "frameRate='29.9700001'", "frameRate='0.0'", "frameRate='1.2.3'",
    "frameRate='-29.97'", "frameRate='30000/1001.0'",
  };
  MeshDashMpd *mpd;
  guint i;

  check_frame_rate ("30.0", 30, 1);
  check_frame_rate ("29.97", 2997, 100);
  check_frame_rate ("23.976", 2997, 125);
  check_frame_rate ("25.000", 25, 1);

  mpd = parse_rep_attributes ("bandwidth='+500000' width='1280.0' "
      "height='720.00'");
  fail_unless_equals_uint64 (rep_at (mpd, 0, 0, 0)->bandwidth, 500000);
  fail_unless_equals_int (rep_at (mpd, 0, 0, 0)->width, 1280);
  fail_unless_equals_int (rep_at (mpd, 0, 0, 0)->height, 720);
  fail_unless_equals_int (mpd->warnings->len, 3);
  check_warning (mpd, "Representation 'r': Representation@bandwidth "
      "'+500000' is not written as an integer: read as 500000");
  check_warning (mpd, "Representation@width '1280.0'");
  check_warning (mpd, "Representation@height '720.00'");
  mesh_dash_mpd_free (mpd);

  /* segment timing read the same way */
  mpd = parse_single ("<SegmentTemplate timescale='90000.0' "
      "duration='+180000' startNumber='1.0' media='$Number$.m4s'/>");
  fail_unless_equals_uint64 (rep_at (mpd, 0, 0, 0)->segments.timescale, 90000);
  fail_unless_equals_uint64 (rep_at (mpd, 0, 0, 0)->segments.duration, 180000);
  fail_unless_equals_uint64 (rep_at (mpd, 0, 0, 0)->segments.start_number, 1);
  fail_unless_equals_int (mpd->warnings->len, 3);
  mesh_dash_mpd_free (mpd);

  /* what is not a number with no doubt stays an error */
  for (i = 0; i < G_N_ELEMENTS (still_wrong); i++) {
    g_autofree gchar *text = g_strdup_printf (STATIC_MPD "<Period>"
        "<AdaptationSet id='v'><Representation id='r' bandwidth='1' %s/>"
        "</AdaptationSet></Period></MPD>", still_wrong[i]);
    GError *error = NULL;

    fail_unless (mesh_dash_mpd_parse (text, strlen (text), URL, &error) ==
        NULL, "%s was accepted", still_wrong[i]);
    fail_unless (g_error_matches (error, MESH_DASH_ERROR,
            MESH_DASH_ERROR_INVALID), "%s", still_wrong[i]);
    g_error_free (error);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Namespaces and malformed documents */

GST_START_TEST (test_namespaces)
{
  MeshDashMpd *mpd;

  /* a prefixed DASH namespace; elements of other namespaces are ignored */
  mpd = parse_ok ("<d:MPD xmlns:d='urn:mpeg:dash:schema:mpd:2011' "
      "xmlns:x='urn:example:x' minBufferTime='PT1S'>"
      "<x:BaseURL>http://wrong.example.com/</x:BaseURL>"
      "<d:BaseURL>right/</d:BaseURL>"
      "<x:Period/>"
      "<d:Period id='only'><d:AdaptationSet>"
      "<x:Representation id='no' bandwidth='1'/>"
      "<d:Representation id='yes' bandwidth='1'/>"
      "</d:AdaptationSet></d:Period></d:MPD>");
  fail_unless_equals_int (mpd->periods->len, 1);
  fail_unless_equals_string (period_at (mpd, 0)->id, "only");
  fail_unless_equals_int (as_at (mpd, 0, 0)->representations->len, 1);
  fail_unless_equals_string (rep_at (mpd, 0, 0, 0)->base_url, DIR "right/");
  mesh_dash_mpd_free (mpd);

  /* no namespace at all is tolerated */
  mpd = parse_ok ("<MPD minBufferTime='PT1S'><Period/></MPD>");
  fail_unless_equals_int (mpd->periods->len, 1);
  mesh_dash_mpd_free (mpd);

  check_error ("<x:MPD xmlns:x='urn:example:x' minBufferTime='PT1S'>"
      "<Period/></x:MPD>", MESH_DASH_ERROR_NOT_MPD, "<x:MPD>");
}

GST_END_TEST;

GST_START_TEST (test_malformed)
{
  GError *error = NULL;
  static const gchar not_mpd_nul[] = "<MPD\0>";

  check_error ("this is not XML", MESH_DASH_ERROR_XML,
      "line 1: XML parse error: ");
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'>\n<Period>\n"
      "</MPD>", MESH_DASH_ERROR_XML, "line 3: XML parse error: ");
  check_error ("<?xml version='1.0'?>\n\n<MPD " MPD_NS
      " minBufferTime='PT1S'><Period/></MPD><MPD/>\n",
      MESH_DASH_ERROR_XML, "line 3: XML parse error: ");
  check_error ("", MESH_DASH_ERROR_XML, "XML parse error: the document is "
      "empty");
  fail_unless (mesh_dash_mpd_parse (not_mpd_nul, sizeof (not_mpd_nul) - 1,
          URL, &error) == NULL);
  fail_unless (g_error_matches (error, MESH_DASH_ERROR, MESH_DASH_ERROR_XML));
  g_clear_error (&error);
  fail_unless (mesh_dash_mpd_parse (NULL, 0, URL, &error) == NULL);
  fail_unless (g_error_matches (error, MESH_DASH_ERROR, MESH_DASH_ERROR_XML));
  g_clear_error (&error);

  check_error ("<html><body/></html>", MESH_DASH_ERROR_NOT_MPD,
      "the root element is <html>, not a DASH <MPD>");
  check_error ("<MPD xmlns='urn:example:other' minBufferTime='PT1S'>"
      "<Period/></MPD>", MESH_DASH_ERROR_NOT_MPD, "not a DASH <MPD>");

  /* an undeclared entity is an XML error, no DTD to declare it in */
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'>\n"
      "<BaseURL>&evil;</BaseURL><Period/></MPD>", MESH_DASH_ERROR_XML,
      "line 2: XML parse error: Entity 'evil' not defined");

  check_error ("<MPD " MPD_NS " type='live' minBufferTime='PT1S'><Period/>"
      "</MPD>", MESH_DASH_ERROR_INVALID,
      "MPD@type 'live' is neither static nor dynamic");
  check_error ("<MPD " MPD_NS " type='dynamic' minBufferTime='PT1S'>"
      "<Period/></MPD>", MESH_DASH_ERROR_INVALID,
      "MPD@availabilityStartTime is missing");
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'><UTCTiming "
      "schemeIdUri='urn:mpeg:dash:utc:http-iso:2014'/><Period/></MPD>",
      MESH_DASH_ERROR_INVALID, "UTCTiming@value is missing");
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'><UTCTiming "
      "value='x'/><Period/></MPD>", MESH_DASH_ERROR_INVALID,
      "UTCTiming@schemeIdUri is missing");
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'><BaseURL>http://[bad"
      "</BaseURL><Period/></MPD>", MESH_DASH_ERROR_INVALID,
      "BaseURL 'http://[bad' cannot be resolved");
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'><Period><BaseURL>"
      "http://[bad</BaseURL></Period></MPD>", MESH_DASH_ERROR_INVALID,
      "Period 1: BaseURL 'http://[bad'");
  /* path "//h/" without a host: was a NULL GError dereferenced */
  check_error ("<MPD " MPD_NS " minBufferTime='PT1S'><BaseURL>x:/..//h/"
      "</BaseURL><Period/></MPD>", MESH_DASH_ERROR_INVALID,
      "BaseURL 'x:/..//h/' cannot be resolved");

  /* the MPD URL must be absolute */
  fail_unless (mesh_dash_mpd_parse ("<MPD/>", 6, "relative/x.mpd",
          &error) == NULL);
  fail_unless (g_error_matches (error, MESH_DASH_ERROR,
          MESH_DASH_ERROR_INVALID));
  g_clear_error (&error);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Limits: what an MPD can make us allocate */

/* An MPD of one Period and AdaptationSet: @set_head inside the set before
 * @n_reps Representations (with bandwidth, ids r0...), then @set_tail */
static GString *
mpd_with_reps (const gchar * set_head, guint n_reps, const gchar * set_tail)
{
  GString *text = g_string_new (STATIC_MPD "<Period id='p'>"
      "<AdaptationSet id='as' mimeType='video/mp4'>");
  guint i;

  g_string_append (text, set_head);
  for (i = 0; i < n_reps; i++)
    g_string_append_printf (text, "<Representation id='r%u' "
        "bandwidth='%u'/>\n", i, i + 1);
  g_string_append (text, set_tail);
  g_string_append (text, "</AdaptationSet></Period></MPD>");
  return text;
}

/* @count copies of @element */
static GString *
repeated (const gchar * element, guint count)
{
  GString *text = g_string_new (NULL);
  guint i;

  for (i = 0; i < count; i++)
    g_string_append (text, element);
  return text;
}

GST_START_TEST (test_timeline_shared)
{
  g_autoptr (GString) timeline = repeated ("<S d='2'/>", 1000);
  g_autofree gchar *head = g_strdup_printf ("<SegmentTemplate "
      "media='$Number$.m4s'><SegmentTimeline>%s</SegmentTimeline>"
      "</SegmentTemplate>", timeline->str);
  g_autoptr (GString) text = mpd_with_reps (head, 3, "");
  MeshDashMpd *mpd = parse_ok (text->str);
  const GArray *shared = rep_at (mpd, 0, 0, 0)->segments.timeline;

  fail_unless (shared != NULL);
  fail_unless_equals_int (shared->len, 1000);
  /* one array for all, not a copy each */
  fail_unless (rep_at (mpd, 0, 0, 1)->segments.timeline == shared);
  fail_unless (rep_at (mpd, 0, 0, 2)->segments.timeline == shared);
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

GST_START_TEST (test_segment_urls_shared)
{
  g_autoptr (GString) text = g_string_new (STATIC_MPD "<Period id='p'>"
      "<AdaptationSet id='as' mimeType='video/mp4'><SegmentList duration='1'>"
      "<SegmentURL media='a.m4s'/><SegmentURL media='b.m4s'/></SegmentList>"
      "<Representation id='r0' bandwidth='1'/>"
      "<Representation id='r1' bandwidth='2'/>"
      "<Representation id='r2' bandwidth='3'><BaseURL>hi/</BaseURL>"
      "</Representation></AdaptationSet></Period></MPD>");
  MeshDashMpd *mpd = parse_ok (text->str);
  const MeshDashRepresentation *r0 = rep_at (mpd, 0, 0, 0);
  const MeshDashRepresentation *r2 = rep_at (mpd, 0, 0, 2);
  const MeshDashSegmentUrl *u;

  /* the same BaseURL: the same resolved list */
  fail_unless (rep_at (mpd, 0, 0, 1)->segments.urls == r0->segments.urls);
  /* another: its own */
  fail_unless (r2->segments.urls != r0->segments.urls);
  u = g_ptr_array_index (r0->segments.urls, 1);
  fail_unless_equals_string (u->media, DIR "b.m4s");
  u = g_ptr_array_index (r2->segments.urls, 1);
  fail_unless_equals_string (u->media, DIR "hi/b.m4s");
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

GST_START_TEST (test_limits)
{
  g_autofree gchar *big = g_strnfill (16 * 1024 * 1024 + 1, ' ');
  g_autofree gchar *long_url = g_strnfill (16 * 1024 + 1, 'a');
  g_autofree gchar *codecs = g_strnfill (200 * 1024, 'c');
  g_autoptr (GString) attrs = g_string_new ("<MPD");
  g_autoptr (GString) text = NULL;
  g_autoptr (GString) body = NULL;
  g_autofree gchar *head = NULL;
  MeshDashMpd *mpd;
  GError *error = NULL;
  guint i;

  /* the document */
  memcpy (big, STATIC_MPD, strlen (STATIC_MPD));
  fail_if (mesh_dash_mpd_parse (big, strlen (big), URL, &error));
  fail_unless (g_error_matches (error, MESH_DASH_ERROR,
          MESH_DASH_ERROR_UNSUPPORTED), "%s", error->message);
  fail_unless (strstr (error->message, "larger than 16 MiB") != NULL);
  g_clear_error (&error);

  for (i = 0; i < 257; i++)
    g_string_append_printf (attrs, " a%u='='", i);
  g_string_append (attrs, "/>");
  check_error (attrs->str, MESH_DASH_ERROR_UNSUPPORTED, "more than 256 "
      "attributes");
  /* counted outside quoted values, comments and CDATA only */
  g_string_assign (attrs, STATIC_MPD "<!-- ");
  for (i = 0; i < 300; i++)
    g_string_append (attrs, "a=b ");
  g_string_append (attrs, "--><Period><BaseURL><![CDATA[");
  for (i = 0; i < 300; i++)
    g_string_append (attrs, "a=b&amp;");
  g_string_append (attrs, "]]></BaseURL><AdaptationSet mimeType='");
  for (i = 0; i < 300; i++)
    g_string_append (attrs, "a=b>");
  g_string_append (attrs, "'/></Period></MPD>");
  mpd = parse_ok (attrs->str);
  mesh_dash_mpd_free (mpd);

  body = repeated ("<x/>", 100000);
  text = mpd_with_reps (body->str, 1, "");
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "more than 100000 "
      "XML elements");
  g_string_free (g_steal_pointer (&text), TRUE);
  g_string_free (g_steal_pointer (&body), TRUE);

  /* the model */
  body = repeated ("<Period duration='PT1S'/>", 1001);
  text = g_string_new (STATIC_MPD);
  g_string_append_printf (text, "%s</MPD>", body->str);
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "more than 1000 "
      "Periods");
  g_string_free (g_steal_pointer (&text), TRUE);
  g_string_free (g_steal_pointer (&body), TRUE);

  body = repeated ("<AdaptationSet/>", 257);
  text = g_string_new (STATIC_MPD "<Period id='p'>");
  g_string_append_printf (text, "%s</Period></MPD>", body->str);
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "Period 'p': more "
      "than 256 AdaptationSets");
  g_string_free (g_steal_pointer (&text), TRUE);
  g_string_free (g_steal_pointer (&body), TRUE);

  text = mpd_with_reps ("<SegmentTemplate duration='1' media='$Number$'/>",
      257, "");
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "AdaptationSet 'as': "
      "more than 256 Representations");
  g_string_free (g_steal_pointer (&text), TRUE);

  body = repeated ("<S d='1'/>", 50001);
  head = g_strdup_printf ("<SegmentTemplate media='$Number$'>"
      "<SegmentTimeline>%s</SegmentTimeline></SegmentTemplate>", body->str);
  text = mpd_with_reps (head, 1, "");
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "SegmentTimeline has "
      "more than 50000 S elements");
  g_string_free (g_steal_pointer (&text), TRUE);
  g_string_free (g_steal_pointer (&body), TRUE);
  g_clear_pointer (&head, g_free);

  body = repeated ("<SegmentURL/>", 50001);
  head = g_strdup_printf ("<SegmentList duration='1'>%s</SegmentList>",
      body->str);
  text = mpd_with_reps (head, 1, "");
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "SegmentList has more "
      "than 50000 SegmentURL elements");
  g_string_free (g_steal_pointer (&text), TRUE);
  g_string_free (g_steal_pointer (&body), TRUE);
  g_clear_pointer (&head, g_free);

  body = g_string_new (NULL);
  for (i = 0; i < 65; i++)
    g_string_append_printf (body, "<ContentProtection schemeIdUri='urn:uuid:"
        "%u'/>", i);
  text = mpd_with_reps (body->str, 0, "");
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "more than 64 "
      "different ContentProtection elements");
  g_string_free (g_steal_pointer (&text), TRUE);
  g_string_free (g_steal_pointer (&body), TRUE);

  body = repeated ("<UTCTiming schemeIdUri='urn:mpeg:dash:utc:direct:2014' "
      "value='2024-01-01T00:00:00Z'/>", 17);
  text = g_string_new (STATIC_MPD);
  g_string_append_printf (text, "%s<Period/></MPD>", body->str);
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "more than 16 usable "
      "UTCTiming elements");
  g_string_free (g_steal_pointer (&text), TRUE);
  g_string_free (g_steal_pointer (&body), TRUE);

  head = g_strdup_printf ("<BaseURL>%s</BaseURL>", long_url);
  text = mpd_with_reps (head, 1, "");
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "BaseURL resolves to "
      "a URL longer than 16384 bytes");
  g_string_free (g_steal_pointer (&text), TRUE);
  g_clear_pointer (&head, g_free);

  /* 200 kB of codecs, inherited by 200 Representations: 40 MB */
  text = g_string_new (STATIC_MPD "<Period id='p'><AdaptationSet id='as' "
      "mimeType='video/mp4' codecs='");
  g_string_append_printf (text, "%s'><SegmentTemplate duration='1' "
      "media='$Number$'/>", codecs);
  for (i = 0; i < 200; i++)
    g_string_append_printf (text, "<Representation id='r%u' "
        "bandwidth='1'/>", i);
  g_string_append (text, "</AdaptationSet></Period></MPD>");
  check_error (text->str, MESH_DASH_ERROR_UNSUPPORTED, "the Representations "
      "of the MPD take more than 32 MiB");
  g_string_free (g_steal_pointer (&text), TRUE);

  /* warnings are kept up to a hundred */
  body = g_string_new (NULL);
  for (i = 0; i < 150; i++)
    g_string_append_printf (body, "<Representation id='r%u'/>", i);
  text = mpd_with_reps ("<SegmentTemplate duration='1' media='$Number$'/>", 0,
      body->str);
  mpd = parse_ok (text->str);
  fail_unless_equals_int (mpd->warnings->len, 101);
  fail_unless_equals_string (g_ptr_array_index (mpd->warnings, 100),
      "more warnings were left out");
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

GST_START_TEST (test_doctype_refused)
{
  /* were the entity expanded, the BaseURL would name it */
  static const gchar internal[] = "<?xml version='1.0'?>\n"
      "<!DOCTYPE MPD [\n"
      "  <!ENTITY host 'http://expanded.example.com/'>\n"
      "]>\n"
      "<MPD " MPD_NS " minBufferTime='PT1S'><BaseURL>&host;</BaseURL>"
      "<Period/></MPD>";
  static const gchar laughs[] = "<?xml version='1.0'?>\n"
      "<!DOCTYPE MPD [\n"
      " <!ENTITY a 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'>\n"
      " <!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>\n"
      " <!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>\n"
      " <!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>\n"
      " <!ENTITY e '&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'>\n"
      "]>\n"
      "<MPD " MPD_NS " minBufferTime='PT1S'><BaseURL>&e;</BaseURL>"
      "<Period/></MPD>";
  static const gchar external[] = "<!DOCTYPE MPD SYSTEM "
      "'file:///etc/passwd'>\n"
      "<MPD " MPD_NS " minBufferTime='PT1S'><Period/></MPD>";
  static const gchar external_entity[] = "<!DOCTYPE MPD [\n"
      "<!ENTITY pw SYSTEM 'file:///etc/passwd'>]>\n"
      "<MPD " MPD_NS " minBufferTime='PT1S'><BaseURL>&pw;</BaseURL>"
      "<Period/></MPD>";

  check_error (internal, MESH_DASH_ERROR_XML,
      "line 2: XML parse error: a DOCTYPE is not allowed");
  check_error (laughs, MESH_DASH_ERROR_XML, "DOCTYPE is not allowed");
  check_error (external, MESH_DASH_ERROR_XML,
      "line 1: XML parse error: a DOCTYPE is not allowed");
  check_error (external_entity, MESH_DASH_ERROR_XML,
      "a DOCTYPE is not allowed");
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* sidx */

typedef struct
{
  GByteArray *bytes;
} Box;

static void
put_be (GByteArray * bytes, guint64 value, guint n)
{
  while (n-- > 0) {
    guint8 b = (value >> (8 * n)) & 0xff;

    g_byte_array_append (bytes, &b, 1);
  }
}

/* A sidx box: @refs of (type, size, duration) */
static GByteArray *
make_sidx (guint version, gboolean large, guint32 timescale, guint64 ept,
    guint64 first_offset, guint n_refs, const guint32 (*refs)[3],
    const gchar * fourcc)
{
  GByteArray *b = g_byte_array_new ();
  guint header = large ? 16 : 8, body, i;

  body = 4 + 4 + 4 + (version ? 16 : 8) + 4 + 12 * n_refs;
  if (large) {
    put_be (b, 1, 4);
    g_byte_array_append (b, (const guint8 *) fourcc, 4);
    put_be (b, header + body, 8);
  } else {
    put_be (b, header + body, 4);
    g_byte_array_append (b, (const guint8 *) fourcc, 4);
  }
  put_be (b, version << 24, 4);
  put_be (b, 1, 4);             /* reference_ID */
  put_be (b, timescale, 4);
  put_be (b, ept, version ? 8 : 4);
  put_be (b, first_offset, version ? 8 : 4);
  put_be (b, 0, 2);
  put_be (b, n_refs, 2);
  for (i = 0; i < n_refs; i++) {
    put_be (b, ((guint64) refs[i][0] << 31) | refs[i][1], 4);
    put_be (b, refs[i][2], 4);
    put_be (b, 0x90000000, 4);  /* starts with SAP, type 1 */
  }
  return b;
}

static void
check_sidx_error (GByteArray * b, MeshDashError code, const gchar * needle)
{
  GError *error = NULL;

  fail_unless (mesh_dash_parse_index (b->data, b->len, 0, &error) == NULL);
  fail_unless (error != NULL && error->domain == MESH_DASH_ERROR);
  fail_unless_equals_int (error->code, code);
  fail_unless (strstr (error->message, needle) != NULL, "'%s' not in '%s'",
      needle, error->message);
  g_error_free (error);
}

static const guint32 three_refs[3][3] = {
  {0, 1000, 48000}, {0, 2000, 48000}, {0, 500, 24000},
};

static const MeshIsobmffSubsegment *
sub_at (const MeshIsobmffIndex * index, guint i)
{
  fail_unless (i < index->subsegments->len, "subsegment %u of %u", i,
      index->subsegments->len);
  return &g_array_index (index->subsegments, MeshIsobmffSubsegment, i);
}

static MeshIsobmffIndex *
parse_index_ok (GByteArray * b, guint64 offset)
{
  GError *error = NULL;
  MeshIsobmffIndex *index;

  index = mesh_dash_parse_index (b->data, b->len, offset, &error);
  fail_unless (index != NULL, "%s", error ? error->message : "?");
  return index;
}

GST_START_TEST (test_sidx_v0)
{
  GByteArray *b = make_sidx (0, FALSE, 48000, 96000, 0, 3, three_refs,
      "sidx");
  MeshIsobmffIndex *index;

  /* the sidx at byte 900, 68 bytes long: media from byte 968 */
  fail_unless_equals_int (b->len, 32 + 36);
  index = parse_index_ok (b, 900);
  fail_unless_equals_uint64 (index->timescale, 48000);
  fail_unless_equals_int (index->subsegments->len, 3);
  fail_unless_equals_uint64 (sub_at (index, 0)->offset, 968);
  fail_unless_equals_uint64 (sub_at (index, 0)->size, 1000);
  fail_unless_equals_uint64 (sub_at (index, 0)->time, 96000);
  fail_unless_equals_uint64 (sub_at (index, 0)->duration, 48000);
  fail_unless_equals_uint64 (sub_at (index, 1)->offset, 1968);
  fail_unless_equals_uint64 (sub_at (index, 1)->size, 2000);
  fail_unless_equals_uint64 (sub_at (index, 1)->time, 144000);
  fail_unless_equals_uint64 (sub_at (index, 2)->offset, 3968);
  fail_unless_equals_uint64 (sub_at (index, 2)->size, 500);
  fail_unless_equals_uint64 (sub_at (index, 2)->time, 192000);
  fail_unless_equals_uint64 (sub_at (index, 2)->duration, 24000);
  mesh_isobmff_index_free (index);

  /* trailing bytes after the box are not part of it */
  g_byte_array_append (b, (const guint8 *) "moofjunk", 8);
  index = parse_index_ok (b, 0);
  fail_unless_equals_int (index->subsegments->len, 3);
  fail_unless_equals_uint64 (sub_at (index, 0)->offset, 68);
  mesh_isobmff_index_free (index);
  g_byte_array_unref (b);
}

GST_END_TEST;

GST_START_TEST (test_sidx_v1)
{
  GByteArray *b = make_sidx (1, FALSE, 1000,
      G_GUINT64_CONSTANT (0x100000000), G_GUINT64_CONSTANT (0x10), 2,
      three_refs, "sidx");
  MeshIsobmffIndex *index;

  fail_unless_equals_int (b->len, 40 + 24);
  index = parse_index_ok (b, 100);
  fail_unless_equals_int (index->subsegments->len, 2);
  /* first_offset skips 16 bytes after the box */
  fail_unless_equals_uint64 (sub_at (index, 0)->offset, 100 + 64 + 16);
  fail_unless_equals_uint64 (sub_at (index, 0)->time,
      G_GUINT64_CONSTANT (0x100000000));
  fail_unless_equals_uint64 (sub_at (index, 0)->duration, 48000);
  fail_unless_equals_uint64 (sub_at (index, 1)->offset, 100 + 64 + 16 + 1000);
  mesh_isobmff_index_free (index);
  g_byte_array_unref (b);

  /* 64-bit largesize header */
  b = make_sidx (0, TRUE, 1000, 0, 0, 1, three_refs, "sidx");
  index = parse_index_ok (b, 0);
  fail_unless_equals_int (index->subsegments->len, 1);
  fail_unless_equals_uint64 (sub_at (index, 0)->offset, b->len);
  mesh_isobmff_index_free (index);
  g_byte_array_unref (b);
}

GST_END_TEST;

GST_START_TEST (test_sidx_errors)
{
  static const guint32 hierarchical[2][3] = {
    {0, 1000, 48000}, {1, 2000, 48000},
  };
  GByteArray *b = make_sidx (1, FALSE, 48000, 0, 0, 3, three_refs, "sidx");
  GByteArray *prefix;
  GError *error = NULL;
  guint cut;

  /* every truncation is refused */
  for (cut = 0; cut < b->len; cut++) {
    prefix = g_byte_array_new ();
    g_byte_array_append (prefix, b->data, cut);
    check_sidx_error (prefix, MESH_DASH_ERROR_INVALID, "sidx: ");
    g_byte_array_unref (prefix);
  }
  g_byte_array_unref (b);

  b = make_sidx (0, FALSE, 48000, 0, 0, 2, hierarchical, "sidx");
  check_sidx_error (b, MESH_DASH_ERROR_UNSUPPORTED, "hierarchical");
  /* the ISO BMFF parser alone has its own domain */
  fail_unless (mesh_isobmff_index_parse (b->data, b->len, 0, &error) == NULL);
  fail_unless (g_error_matches (error, MESH_ISOBMFF_ERROR,
          MESH_ISOBMFF_ERROR_UNSUPPORTED));
  g_clear_error (&error);
  g_byte_array_unref (b);
  b = make_sidx (0, FALSE, 48000, 0, 0, 1, three_refs, "moof");
  check_sidx_error (b, MESH_DASH_ERROR_INVALID, "not a sidx box");
  g_byte_array_unref (b);
  b = make_sidx (0, FALSE, 0, 0, 0, 1, three_refs, "sidx");
  check_sidx_error (b, MESH_DASH_ERROR_INVALID, "timescale is 0");
  g_byte_array_unref (b);
  b = make_sidx (2, FALSE, 1000, 0, 0, 1, three_refs, "sidx");
  check_sidx_error (b, MESH_DASH_ERROR_UNSUPPORTED, "unknown version");
  g_byte_array_unref (b);

  /* a box size smaller than its header, or than its references */
  b = make_sidx (0, FALSE, 1000, 0, 0, 1, three_refs, "sidx");
  b->data[3] = 4;
  check_sidx_error (b, MESH_DASH_ERROR_INVALID, "smaller than its header");
  b->data[3] = 32 + 12 - 1;
  check_sidx_error (b, MESH_DASH_ERROR_INVALID, "truncated");
  g_byte_array_unref (b);

  /* offsets that would overflow */
  b = make_sidx (1, FALSE, 1000, 0, G_MAXUINT64, 1, three_refs, "sidx");
  check_sidx_error (b, MESH_DASH_ERROR_INVALID, "out of range");
  g_byte_array_unref (b);
}

GST_END_TEST;

/* A WebM SegmentBase names a Cues element as its index: refused by name,
 * however the MPD labels the Representation. */
GST_START_TEST (test_webm_cues_index)
{
  /* Cues (1C 53 BB 6B), size 0x85, a CuePoint (BB) */
  static const guint8 cues[] = { 0x1c, 0x53, 0xbb, 0x6b, 0x85, 0xbb, 0x83,
    0xb3, 0x81, 0x00
  };
  GByteArray *b = g_byte_array_new ();

  g_byte_array_append (b, cues, sizeof (cues));
  check_sidx_error (b, MESH_DASH_ERROR_UNSUPPORTED,
      "WebM SegmentBase (Cues index) is not supported");
  g_byte_array_unref (b);
}

GST_END_TEST;

/* The segments of a SegmentBase Representation in a Period with
 * presentationTimeOffset @pto (@timescale units) lasting @duration: the
 * index has 8 subsegments of 1 s (timescale 1000) from 0, of 100 bytes from
 * byte 1000. */
static GArray *
period_segments (guint timescale, guint64 pto, GstClockTime duration)
{
  static const guint32 second_refs[8][3] = {
    {0, 100, 1000}, {0, 100, 1000}, {0, 100, 1000}, {0, 100, 1000},
    {0, 100, 1000}, {0, 100, 1000}, {0, 100, 1000}, {0, 100, 1000},
  };
  g_autofree gchar *segment_base = g_strdup_printf ("<BaseURL>v.mp4</BaseURL>"
      "<SegmentBase timescale='%u' presentationTimeOffset='%" G_GUINT64_FORMAT
      "' indexRange='944-999'/>", timescale, pto);
  MeshDashMpd *mpd = parse_single (segment_base);
  GByteArray *b = make_sidx (0, FALSE, 1000, 0, 0, 8, second_refs, "sidx");
  MeshIsobmffIndex *index;
  GArray *out = segment_array ();
  GError *error = NULL;

  fail_unless_equals_int (b->len, 32 + 8 * 12);
  index = parse_index_ok (b, 1000 - b->len);
  fail_unless (mesh_dash_representation_index_segments (rep_at (mpd, 0, 0, 0),
          index, duration, out, &error), "%s", error ? error->message : "?");
  mesh_isobmff_index_free (index);
  g_byte_array_unref (b);
  mesh_dash_mpd_free (mpd);
  return out;
}

static void
check_index_segment (GArray * segments, guint i, guint64 number,
    GstClockTime start, GstClockTime duration)
{
  const MeshDashSegment *s = seg (segments, i);

  fail_unless_equals_string (s->url, DIR "v.mp4");
  fail_unless_equals_uint64 (s->number, number);
  fail_unless_equals_int64 (s->offset, 1000 + (number - 1) * 100);
  fail_unless_equals_int64 (s->size, 100);
  fail_unless_equals_uint64 (s->start, start);
  fail_unless_equals_uint64 (s->duration, duration);
}

/* ------------------------------------------------------------------------ */
/* Windows: what a player lists */

static GArray *
window_ok (const MeshDashRepresentation * rep, GstClockTime period_duration,
    GstClockTime from, GstClockTime to, guint max, gboolean * truncated)
{
  GError *error = NULL;
  GArray *out = segment_array ();

  fail_unless (mesh_dash_representation_list_window (rep, period_duration,
          from, to, max, out, truncated, &error), "listing failed: %s",
      error ? error->message : "(no error)");
  return out;
}

GST_START_TEST (test_list_window)
{
  /* a million segments of 1 ms over 1000 s: listing all is refused, a
   * window anywhere costs its size */
  MeshDashMpd *mpd = parse_single ("<SegmentTemplate timescale='1000' "
      "duration='1' media='$Number$.m4s'/>");
  const MeshDashRepresentation *rep = rep_at (mpd, 0, 0, 0);
  gboolean truncated = FALSE;
  GArray *segments;

  segments = window_ok (rep, 1000 * GST_SECOND, 0, GST_CLOCK_TIME_NONE, 256,
      &truncated);
  fail_unless_equals_int (segments->len, 256);
  fail_unless (truncated);
  check_segment (segments, 0, DIR "1.m4s", 1, 0, 0, GST_MSECOND);
  check_segment (segments, 255, DIR "256.m4s", 256, 255, 255 * GST_MSECOND,
      GST_MSECOND);
  g_array_unref (segments);

  /* from the segment that holds @from, not the next one to start */
  segments = window_ok (rep, 1000 * GST_SECOND, 500 * GST_SECOND +
      GST_MSECOND / 2, GST_CLOCK_TIME_NONE, 2, &truncated);
  fail_unless_equals_int (segments->len, 2);
  fail_unless (truncated);
  check_segment (segments, 0, DIR "500001.m4s", 500001, 500000,
      500 * GST_SECOND, GST_MSECOND);
  g_array_unref (segments);

  /* the end of the period: nothing more, not truncated */
  segments = window_ok (rep, 1000 * GST_SECOND, 1000 * GST_SECOND -
      2 * GST_MSECOND, GST_CLOCK_TIME_NONE, 256, &truncated);
  fail_unless_equals_int (segments->len, 2);
  fail_if (truncated);
  g_array_unref (segments);

  /* up to @to */
  segments = window_ok (rep, 1000 * GST_SECOND, 0, 10 * GST_MSECOND, 256,
      &truncated);
  fail_unless_equals_int (segments->len, 10);
  fail_if (truncated);
  g_array_unref (segments);
  mesh_dash_mpd_free (mpd);

  /* a timeline repeating a trillion times, and the next S */
  mpd = parse_single ("<SegmentTemplate timescale='1000000000' "
      "media='$Time$.m4s'><SegmentTimeline><S t='0' d='1' "
      "r='999999999999'/><S d='5'/></SegmentTimeline></SegmentTemplate>");
  rep = rep_at (mpd, 0, 0, 0);
  segments = window_ok (rep, GST_CLOCK_TIME_NONE, 1000 * GST_SECOND - 1,
      GST_CLOCK_TIME_NONE, 10, &truncated);
  fail_unless_equals_int (segments->len, 2);
  fail_if (truncated);
  check_segment (segments, 0, DIR "999999999999.m4s",
      G_GUINT64_CONSTANT (1000000000000), G_GUINT64_CONSTANT (999999999999),
      1000 * GST_SECOND - 1, 1);
  check_segment (segments, 1, DIR "1000000000000.m4s",
      G_GUINT64_CONSTANT (1000000000001), G_GUINT64_CONSTANT (1000000000000),
      1000 * GST_SECOND, 5);
  g_array_unref (segments);
  mesh_dash_mpd_free (mpd);

  /* a SegmentList of one: the whole period holds any position */
  mpd = parse_single ("<BaseURL>whole.mp4</BaseURL><SegmentList>"
      "<SegmentURL/></SegmentList>");
  segments = window_ok (rep_at (mpd, 0, 0, 0), 10 * GST_SECOND,
      5 * GST_SECOND, GST_CLOCK_TIME_NONE, 4, &truncated);
  fail_unless_equals_int (segments->len, 1);
  check_segment (segments, 0, DIR "whole.mp4", 1, 0, 0, 10 * GST_SECOND);
  g_array_unref (segments);
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

GST_START_TEST (test_index_window)
{
  static const guint32 refs[8][3] = {
    {0, 100, 1000}, {0, 100, 1000}, {0, 100, 1000}, {0, 100, 1000},
    {0, 100, 1000}, {0, 100, 1000}, {0, 100, 1000}, {0, 100, 1000},
  };
  MeshDashMpd *mpd = parse_single ("<BaseURL>v.mp4</BaseURL><SegmentBase "
      "timescale='1000' indexRange='944-999'/>");
  GByteArray *b = make_sidx (0, FALSE, 1000, 0, 0, 8, refs, "sidx");
  MeshIsobmffIndex *index = parse_index_ok (b, 1000 - b->len);
  GArray *out = segment_array ();
  gboolean truncated = FALSE;

  /* from the subsegment holding 2.5 s, three of them, more follow */
  fail_unless (mesh_dash_representation_index_window (rep_at (mpd, 0, 0, 0),
          index, GST_CLOCK_TIME_NONE, 5 * GST_SECOND / 2, 3, out, &truncated,
          NULL));
  fail_unless_equals_int (out->len, 3);
  fail_unless (truncated);
  check_index_segment (out, 0, 3, 2 * GST_SECOND, GST_SECOND);
  check_index_segment (out, 2, 5, 4 * GST_SECOND, GST_SECOND);
  g_array_set_size (out, 0);

  /* to the end of the Period */
  fail_unless (mesh_dash_representation_index_window (rep_at (mpd, 0, 0, 0),
          index, 6 * GST_SECOND, 4 * GST_SECOND, 3, out, &truncated, NULL));
  fail_unless_equals_int (out->len, 2);
  fail_if (truncated);
  check_index_segment (out, 1, 6, 5 * GST_SECOND, GST_SECOND);

  g_array_unref (out);
  mesh_isobmff_index_free (index);
  g_byte_array_unref (b);
  mesh_dash_mpd_free (mpd);
}

GST_END_TEST;

GST_START_TEST (test_index_segments_in_period)
{
  GArray *out;

  /* no offset, an open period: the whole index */
  out = period_segments (1000, 0, GST_CLOCK_TIME_NONE);
  fail_unless_equals_int (out->len, 8);
  check_index_segment (out, 0, 1, 0, GST_SECOND);
  check_index_segment (out, 7, 8, 7 * GST_SECOND, GST_SECOND);
  g_array_unref (out);

  /* the first Period of a file: its first 2 s */
  out = period_segments (1000, 0, 2 * GST_SECOND);
  fail_unless_equals_int (out->len, 2);
  check_index_segment (out, 1, 2, GST_SECOND, GST_SECOND);
  g_array_unref (out);

  /* a later Period of the same file: from 4 s for 3 s, in the MPD's own
   * timescale (90 kHz where the index counts ms) */
  out = period_segments (90000, 4 * 90000, 3 * GST_SECOND);
  fail_unless_equals_int (out->len, 3);
  check_index_segment (out, 0, 5, 0, GST_SECOND);
  check_index_segment (out, 2, 7, 2 * GST_SECOND, GST_SECOND);
  g_array_unref (out);

  /* boundaries inside subsegments: the ones across them are kept, the one
   * across the start clamped to it */
  out = period_segments (1000, 2500, 2 * GST_SECOND);
  fail_unless_equals_int (out->len, 3);
  check_index_segment (out, 0, 3, 0, GST_SECOND / 2);
  check_index_segment (out, 1, 4, GST_SECOND / 2, GST_SECOND);
  check_index_segment (out, 2, 5, 3 * GST_SECOND / 2, GST_SECOND);
  g_array_unref (out);

  /* a Period past the end of the index has nothing */
  out = period_segments (1000, 9000, GST_SECOND);
  fail_unless_equals_int (out->len, 0);
  g_array_unref (out);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Robustness */

static const gchar fuzz_live[] =
    "<?xml version='1.0'?>\n"
    "<MPD " MPD_NS " type='dynamic' minBufferTime='PT2S'\n"
    "  availabilityStartTime='2024-01-01T00:00:00Z' publishTime='2024-01-01"
    "T00:01:00.5Z'\n  minimumUpdatePeriod='PT2S' timeShiftBufferDepth='PT30S'>\n"
    "<UTCTiming schemeIdUri='urn:mpeg:dash:utc:http-iso:2014' value='/t'/>\n"
    "<Period id='1' start='PT0S'><BaseURL>p/</BaseURL>\n"
    "<AdaptationSet id='v' contentType='video' mimeType='video/mp4'>\n"
    "<ContentProtection schemeIdUri='urn:mpeg:dash:mp4protection:2011' "
    "value='cenc' cenc:default_KID='10000000-1000-1000-1000-100000000001'>"
    "<cenc:pssh>AAAAHHBzc2g=</cenc:pssh></ContentProtection>\n"
    "<SegmentTemplate timescale='90000' presentationTimeOffset='90000' "
    "media='$RepresentationID$/$Time%08d$.m4s' initialization='i.mp4'>\n"
    "<SegmentTimeline><S t='90000' d='180000' r='3'/><S d='90000'/>"
    "<S t='900000' d='180000' r='-1'/></SegmentTimeline>\n"
    "</SegmentTemplate>\n"
    "<Representation id='a' bandwidth='100' width='10' height='10' "
    "frameRate='30000/1001'/>\n"
    "<Representation id='b' bandwidth='50'/>\n"
    "</AdaptationSet></Period></MPD>\n";

static void
exercise (const MeshDashMpd * mpd)
{
  guint p, a, r;

  for (p = 0; p < mpd->periods->len; p++) {
    const MeshDashPeriod *period = period_at (mpd, p);

    for (a = 0; a < period->adaptation_sets->len; a++) {
      const MeshDashAdaptationSet *as = as_at (mpd, p, a);

      for (r = 0; r < as->representations->len; r++) {
        const MeshDashRepresentation *rep =
            g_ptr_array_index (as->representations, r);
        GArray *out = segment_array ();
        GError *error = NULL;
        gchar *init = NULL;
        gboolean ok;

        ok = mesh_dash_representation_list_segments (rep, period->duration,
            0, 120 * GST_SECOND, out, &error);
        fail_unless (ok == (error == NULL));
        g_clear_error (&error);
        g_array_unref (out);
        ok = mesh_dash_representation_get_init (rep, &init, NULL, NULL, &error);
        fail_unless (ok == (init != NULL));
        fail_if (ok && error != NULL);
        g_free (init);
        g_clear_error (&error);
      }
    }
  }
}

static void
mangle (const gchar * valid)
{
  gsize len = strlen (valid), cut, n;
  GRand *rand = g_rand_new_with_seed (0xda5);
  gchar *copy;

  for (cut = 0; cut <= len; cut++) {
    GError *error = NULL;
    MeshDashMpd *mpd;

    /* the exact length, not NUL-terminated, so reads past it are caught */
    copy = g_memdup2 (valid, cut);
    mpd = mesh_dash_mpd_parse (copy, cut, URL, &error);
    fail_unless ((mpd == NULL) != (error == NULL));
    if (mpd != NULL)
      exercise (mpd);
    mesh_dash_mpd_free (mpd);
    g_clear_error (&error);
    g_free (copy);
  }

  for (n = 0; n < 2000; n++) {
    static const gchar interesting[] = "<>/'=\"$%&;-:.09 \xff\0T-PSr";
    guint flips = g_rand_int_range (rand, 1, 6), f;
    GError *error = NULL;
    MeshDashMpd *mpd;

    copy = g_memdup2 (valid, len);
    for (f = 0; f < flips; f++) {
      gsize at = g_rand_int_range (rand, 0, len);

      if (g_rand_boolean (rand))
        copy[at] = interesting[g_rand_int_range (rand, 0,
                sizeof (interesting) - 1)];
      else
        copy[at] ^= 1 << g_rand_int_range (rand, 0, 8);
    }
    mpd = mesh_dash_mpd_parse (copy, len, URL, &error);
    fail_unless ((mpd == NULL) != (error == NULL));
    if (mpd != NULL)
      exercise (mpd);
    mesh_dash_mpd_free (mpd);
    g_clear_error (&error);
    g_free (copy);
  }
  g_rand_free (rand);
}

GST_START_TEST (test_fuzz)
{
  gchar *list = g_strdup_printf (STATIC_MPD "<Period duration='PT8S'>"
      "<AdaptationSet mimeType='audio/mp4'><SegmentList duration='2'>"
      "<Initialization sourceURL='i.mp4' range='0-9'/>"
      "<SegmentURL media='a.mp4' mediaRange='10-99'/>"
      "<SegmentURL media='b.mp4'/></SegmentList>"
      "<Representation id='x' bandwidth='1'><SegmentBase "
      "indexRange='10-20'/></Representation>"
      "<Representation id='y' bandwidth='2'/>"
      "</AdaptationSet></Period></MPD>");
  GRand *rand = g_rand_new_with_seed (0x51d);
  GByteArray *b = make_sidx (1, FALSE, 1000, 5, 7, 3, three_refs, "sidx");
  MeshDashMpd *base;
  guint n;

  mangle (vod_mpd);
  mangle (fuzz_live);
  mangle (list);
  g_free (list);

  /* and the sidx parser, with the segments of a Period from what it
   * accepts */
  base = parse_single ("<BaseURL>v.mp4</BaseURL><SegmentBase timescale='90' "
      "presentationTimeOffset='45' indexRange='0-99'/>");
  for (n = 0; n < 3000; n++) {
    guint8 *copy = g_memdup2 (b->data, b->len);
    GArray *out = segment_array ();
    GError *error = NULL;
    gsize len = g_rand_int_range (rand, 0, b->len + 1);
    MeshIsobmffIndex *index;

    copy[g_rand_int_range (rand, 0, b->len)] ^= 1 << g_rand_int_range (rand,
        0, 8);
    index = mesh_dash_parse_index (copy, len, g_rand_int (rand), &error);
    fail_unless ((index == NULL) == (error != NULL));
    if (index)
      fail_unless (mesh_dash_representation_index_segments (rep_at (base, 0,
                  0, 0), index, 2 * GST_SECOND, out, NULL));
    g_clear_error (&error);
    g_clear_pointer (&index, mesh_isobmff_index_free);
    g_array_unref (out);
    g_free (copy);
  }
  mesh_dash_mpd_free (base);
  g_byte_array_unref (b);
  g_rand_free (rand);
}

GST_END_TEST;

static gpointer
parse_many (gpointer data)
{
  guint i;

  for (i = 0; i < 200; i++) {
    GError *error = NULL;
    MeshDashMpd *mpd;

    mpd = mesh_dash_mpd_parse (fuzz_live, strlen (fuzz_live), URL, &error);
    if (mpd == NULL || error != NULL)
      return GINT_TO_POINTER (FALSE);
    mesh_dash_mpd_free (mpd);
    /* errors go to the parse's own handler */
    mpd = mesh_dash_mpd_parse ("<MPD><", 6, URL, &error);
    if (mpd != NULL || !g_error_matches (error, MESH_DASH_ERROR,
            MESH_DASH_ERROR_XML))
      return GINT_TO_POINTER (FALSE);
    g_clear_error (&error);
  }
  return GINT_TO_POINTER (TRUE);
}

GST_START_TEST (test_threads)
{
  GThread *threads[4];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("parse", parse_many, NULL);
  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    fail_unless (GPOINTER_TO_INT (g_thread_join (threads[i])));
}

GST_END_TEST;

static Suite *
dash_mpd_suite (void)
{
  Suite *s = suite_create ("dash-mpd");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_static_vod);
  tcase_add_test (tc, test_dynamic_attributes);
  tcase_add_test (tc, test_durations);
  tcase_add_test (tc, test_date_times);
  tcase_add_test (tc, test_base_urls);
  tcase_add_test (tc, test_template_expansion);
  tcase_add_test (tc, test_template_errors_at_parse);
  tcase_add_test (tc, test_inheritance);
  tcase_add_test (tc, test_timeline);
  tcase_add_test (tc, test_timeline_huge_repeat);
  tcase_add_test (tc, test_timeline_errors);
  tcase_add_test (tc, test_duration_template);
  tcase_add_test (tc, test_segment_list);
  tcase_add_test (tc, test_segment_base);
  tcase_add_test (tc, test_single_file_representation);
  tcase_add_test (tc, test_template_init);
  tcase_add_test (tc, test_periods);
  tcase_add_test (tc, test_content_protection);
  tcase_add_test (tc, test_content_types);
  tcase_add_test (tc, test_representation_attributes);
  tcase_add_test (tc, test_missing_mandatory_defaulted);
  tcase_add_test (tc, test_loose_numbers);
  tcase_add_test (tc, test_namespaces);
  tcase_add_test (tc, test_malformed);
  tcase_add_test (tc, test_doctype_refused);
  tcase_add_test (tc, test_timeline_shared);
  tcase_add_test (tc, test_segment_urls_shared);
  tcase_add_test (tc, test_limits);
  tcase_add_test (tc, test_sidx_v0);
  tcase_add_test (tc, test_sidx_v1);
  tcase_add_test (tc, test_sidx_errors);
  tcase_add_test (tc, test_webm_cues_index);
  tcase_add_test (tc, test_index_segments_in_period);
  tcase_add_test (tc, test_list_window);
  tcase_add_test (tc, test_index_window);
  tcase_add_test (tc, test_fuzz);
  tcase_add_test (tc, test_threads);
  return s;
}

GST_CHECK_MAIN (dash_mpd);
