/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * meshdashsrc against the test origin serving the DASH media made by
 * tests/media (make-dash-media.sh): what each pad outputs, byte for byte, for
 * every segment scheme; timestamps across periods; decoding compared with
 * dashdemux2; seeking, ABR, live (dynamic MPD with UTCTiming) and broken
 * MPDs.
 *
 * What a pad should output is worked out from the MPD text and the files on
 * disk with a few regular expressions, independently of the MPD parser the
 * element uses.
 *
 * Threads: the test thread drives the pipelines and the origin. Pad probes
 * run on the element's streaming threads and share a MeshFragmentRecorder
 * (see mesh-test-util.h) with the test thread under the recorder's lock; the
 * test thread waits on its GCond, always with a deadline.
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <stdlib.h>
#include <string.h>

#include "../mesh-test-util.h"

#define PLAY_TIMEOUT_S 60
#define ERROR_TIMEOUT_S 20

static MeshOriginServer *origin;

static const gchar *
dash_dir (void)
{
  const gchar *dir = g_getenv ("MESH_TEST_DASH_MEDIA");

  fail_unless (dir != NULL, "MESH_TEST_DASH_MEDIA is not set (run through "
      "meson)");
  return dir;
}

static GBytes *
read_dash (const gchar * relpath)
{
  g_autofree gchar *path = g_build_filename (dash_dir (), relpath, NULL);
  gchar *contents;
  gsize len;
  GError *error = NULL;

  fail_unless (g_file_get_contents (path, &contents, &len, &error),
      "%s: %s", path, error ? error->message : "?");
  return g_bytes_new_take (contents, len);
}

static gchar *
read_dash_text (const gchar * relpath)
{
  g_autoptr (GBytes) bytes = read_dash (relpath);

  return g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static void
origin_setup (void)
{
  MeshOriginConfig config = { NULL, "127.0.0.1", 0, 0 };
  GError *error = NULL;

  config.root = dash_dir ();
  origin = mesh_origin_server_start (&config, &error);
  fail_unless (origin != NULL, "origin: %s", error ? error->message : "?");
}

static void
origin_teardown (void)
{
  mesh_origin_server_stop (origin);
  origin = NULL;
}

static GstElement *
make_src_on (MeshOriginServer * server, const gchar * path)
{
  g_autofree gchar *url = mesh_test_origin_url (server, path);
  GstElement *src = gst_element_factory_make ("meshdashsrc", NULL);

  fail_unless (src != NULL, "meshdashsrc not found");
  g_object_set (src, "location", url, NULL);
  return src;
}

static GstElement *
make_src (const gchar * path)
{
  return make_src_on (origin, path);
}

static MeshCollector *
play_to_end (GstElement * src, const gchar * what)
{
  MeshCollector *c = mesh_collector_new (src);
  GError *error = NULL;

  fail_unless (mesh_collector_run (c, PLAY_TIMEOUT_S, &error),
      "%s did not reach EOS: %s", what, error ? error->message : "timeout");
  return c;
}

/* ------------------------------------------------------------------------ */
/* Reading the MPD text, without the parser under test */

/* The elements <@tag ...>...</@tag> (or <@tag .../>) of @text, in order. */
static GPtrArray *
xml_elements (const gchar * text, const gchar * tag)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *open = g_strdup_printf ("<%s", tag);
  g_autofree gchar *close = g_strdup_printf ("</%s>", tag);
  const gchar *p = text;

  while ((p = strstr (p, open))) {
    const gchar *gt = strchr (p, '>'), *end;

    if (!gt)
      break;
    if (!g_ascii_isspace (p[strlen (open)]) && p[strlen (open)] != '>'
        && p[strlen (open)] != '/') {
      p++;
      continue;
    }
    if (gt[-1] == '/')
      end = gt + 1;
    else if ((end = strstr (gt, close)))
      end += strlen (close);
    else
      end = p + strlen (p);
    g_ptr_array_add (out, g_strndup (p, end - p));
    p = end;
  }
  return out;
}

/* The value of the first @name="..." in @text, NULL when there is none. */
static gchar *
xml_attr (const gchar * text, const gchar * name)
{
  g_autofree gchar *pattern = g_strdup_printf ("[\\s<]%s=\"([^\"]*)\"", name);
  g_autoptr (GRegex) regex = g_regex_new (pattern, 0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;

  if (!g_regex_match (regex, text, 0, &match))
    return NULL;
  return g_match_info_fetch (match, 1);
}

/* The value of attribute @name of the element @text starts with. */
static gchar *
xml_own_attr (const gchar * text, const gchar * name)
{
  g_autofree gchar *tag = g_strndup (text, strcspn (text, ">"));

  return xml_attr (tag, name);
}

/* The text of the first <@tag>...</@tag>, trimmed. */
static gchar *
xml_text (const gchar * text, const gchar * tag)
{
  g_autoptr (GPtrArray) elements = xml_elements (text, tag);
  const gchar *e, *start, *end;

  if (elements->len == 0)
    return NULL;
  e = g_ptr_array_index (elements, 0);
  start = strchr (e, '>') + 1;
  end = strrchr (e, '<');
  if (!end || end < start)
    return NULL;
  return g_strstrip (g_strndup (start, end - start));
}

static gboolean
is_set_of (const gchar * set, const gchar * kind)
{
  g_autofree gchar *ct = xml_attr (set, "contentType");
  g_autofree gchar *mime = xml_attr (set, "mimeType");
  g_autofree gchar *prefix = g_strdup_printf ("%s/", kind);

  return g_strcmp0 (ct, kind) == 0 || (mime && g_str_has_prefix (mime, prefix));
}

/* The first AdaptationSet of @kind in @period_text (transfer full). */
static gchar *
find_set (const gchar * period_text, const gchar * kind)
{
  g_autoptr (GPtrArray) sets = xml_elements (period_text, "AdaptationSet");
  guint i;

  for (i = 0; i < sets->len; i++)
    if (is_set_of (g_ptr_array_index (sets, i), kind))
      return g_strdup (g_ptr_array_index (sets, i));
  return NULL;
}

/* Id of the Representation of @set with the lowest (or highest) bandwidth. */
static gchar *
rep_id_by_bandwidth (const gchar * set, gboolean highest)
{
  g_autoptr (GPtrArray) reps = xml_elements (set, "Representation");
  gchar *best = NULL;
  guint64 best_bw = 0;
  guint i;

  for (i = 0; i < reps->len; i++) {
    g_autofree gchar *bw = xml_attr (g_ptr_array_index (reps, i),
        "bandwidth");
    guint64 b = bw ? g_ascii_strtoull (bw, NULL, 10) : 0;

    if (!best || (highest ? b > best_bw : b < best_bw)) {
      g_free (best);
      best = xml_attr (g_ptr_array_index (reps, i), "id");
      best_bw = b;
    }
  }
  fail_unless (best != NULL, "no Representation in %s", set);
  return best;
}

/* The text of Representation @id of @set. */
static gchar *
find_rep (const gchar * set, const gchar * id)
{
  g_autoptr (GPtrArray) reps = xml_elements (set, "Representation");
  guint i;

  for (i = 0; i < reps->len; i++) {
    g_autofree gchar *rid = xml_attr (g_ptr_array_index (reps, i), "id");
    if (g_strcmp0 (rid, id) == 0)
      return g_strdup (g_ptr_array_index (reps, i));
  }
  fail ("no Representation %s", id);
  return NULL;
}

typedef struct
{
  gchar *name;
  guint64 n;
} NumberedFile;

static gint
compare_numbered (gconstpointer a, gconstpointer b)
{
  const NumberedFile *x = a, *y = b;

  return x->n < y->n ? -1 : x->n > y->n;
}

/* The files of @dir whose names match the media template @media for
 * Representation @rep_id, in the order of their $Number$ or $Time$. */
static GArray *
files_of_template (const gchar * dir, const gchar * media, const gchar * rep_id)
{
  g_autofree gchar *escaped = g_regex_escape_string (media, -1);
  g_autoptr (GRegex) ident = g_regex_new ("\\\\\\$(Number|Time)[^$]*\\\\\\$",
      0, 0, NULL);
  g_autofree gchar *with_id = NULL;
  g_autofree gchar *pattern = NULL;
  g_autofree gchar *anchored = NULL;
  g_autoptr (GRegex) regex = NULL;
  g_autofree gchar *path = g_build_filename (dash_dir (), dir, NULL);
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  GArray *files = g_array_new (FALSE, FALSE, sizeof (NumberedFile));
  g_auto (GStrv) parts = NULL;
  const gchar *name;

  /* "\$RepresentationID\$" -> the id, "\$Number%05d\$" -> (\d+) */
  parts = g_strsplit (escaped, "\\$RepresentationID\\$", -1);
  with_id = g_strjoinv (rep_id, parts);
  pattern = g_regex_replace_literal (ident, with_id, -1, 0, "(\\d+)", 0, NULL);
  anchored = g_strdup_printf ("^%s$", pattern);
  regex = g_regex_new (anchored, 0, 0, NULL);
  fail_unless (regex != NULL, "bad pattern %s", anchored);
  fail_unless (d != NULL, "no directory %s", path);
  while ((name = g_dir_read_name (d))) {
    g_autoptr (GMatchInfo) match = NULL;

    if (g_regex_match (regex, name, 0, &match)) {
      g_autofree gchar *digits = g_match_info_fetch (match, 1);
      NumberedFile f = { g_build_filename (dir, name, NULL),
        g_ascii_strtoull (digits, NULL, 10)
      };
      g_array_append_val (files, f);
    }
  }
  g_array_sort (files, compare_numbered);
  return files;
}

static void
append_file (GByteArray * all, const gchar * relpath, gint64 offset,
    gint64 size)
{
  g_autoptr (GBytes) file = read_dash (relpath);
  gsize len = g_bytes_get_size (file);

  if (offset < 0)
    offset = 0;
  if (size < 0)
    size = len - offset;
  fail_unless ((gsize) (offset + size) <= len, "%s is too short", relpath);
  g_byte_array_append (all, (const guint8 *) g_bytes_get_data (file, NULL) +
      offset, size);
}

/* @dir joined with the BaseURL of @text, when it has a relative one. */
static gchar *
apply_base_url (const gchar * dir, const gchar * text)
{
  g_autofree gchar *base = xml_text (text, "BaseURL");

  if (!base || strstr (base, "://"))
    return g_strdup (dir);
  return g_build_filename (dir, base, NULL);
}

/* Total duration of a period's segments from the MPD's Period@duration. */
static GstClockTime
xs_duration (const gchar * text)
{
  gdouble seconds = 0;

  fail_unless (text != NULL);
  /* the media uses PTnS and PTn.nS only */
  fail_unless (sscanf (text, "PT%lfS", &seconds) == 1, "duration %s", text);
  return (GstClockTime) (seconds * GST_SECOND + 0.5);
}

/* How many segments the SegmentTemplate of @rep (else of @set) lists in a
 * period of @period_duration: the S elements of its timeline, or the
 * period cut in @duration pieces. */
static guint
template_segment_count (const gchar * set, const gchar * rep,
    GstClockTime period_duration)
{
  g_autoptr (GPtrArray) templates = xml_elements (rep, "SegmentTemplate");
  g_autoptr (GPtrArray) entries = NULL;
  const gchar *template;
  g_autofree gchar *duration = NULL;
  g_autofree gchar *timescale = NULL;
  guint i, count = 0;

  if (templates->len == 0) {
    g_ptr_array_unref (templates);
    templates = xml_elements (set, "SegmentTemplate");
  }
  fail_unless (templates->len > 0, "no SegmentTemplate");
  template = g_ptr_array_index (templates, 0);
  entries = xml_elements (template, "S");
  for (i = 0; i < entries->len; i++) {
    g_autofree gchar *r = xml_attr (g_ptr_array_index (entries, i), "r");

    fail_if (r && r[0] == '-', "open-ended timeline in the test media");
    count += 1 + (r ? atoi (r) : 0);
  }
  if (entries->len > 0)
    return count;
  duration = xml_attr (template, "duration");
  timescale = xml_attr (template, "timescale");
  fail_unless (duration != NULL && GST_CLOCK_TIME_IS_VALID (period_duration));
  return (guint) gst_util_uint64_scale_ceil (period_duration,
      timescale ? g_ascii_strtoull (timescale, NULL, 10) : 1,
      g_ascii_strtoull (duration, NULL, 10) * GST_SECOND);
}

/* What the CDN serves for Representation @rep_id of a SegmentTemplate set
 * in a period of @period_duration: the init section, then the numbered
 * files the MPD lists. Appended to @all; returns the number of media
 * segments. */
static guint
append_template_stream (GByteArray * all, const gchar * dir,
    const gchar * set, const gchar * rep_id, GstClockTime period_duration)
{
  g_autofree gchar *rep = find_rep (set, rep_id);
  g_autofree gchar *rep_dir = apply_base_url (dir, rep);
  g_autofree gchar *init = xml_attr (rep, "initialization");
  g_autofree gchar *media = xml_attr (rep, "media");
  g_autoptr (GArray) files = NULL;
  guint i, n;

  if (!media) {
    g_free (init);
    init = xml_attr (set, "initialization");
    media = xml_attr (set, "media");
  }
  fail_unless (media != NULL, "no SegmentTemplate@media for %s", rep_id);
  if (init) {
    g_auto (GStrv) parts = g_strsplit (init, "$RepresentationID$", -1);
    g_autofree gchar *name = g_strjoinv (rep_id, parts);
    g_autofree gchar *path = g_build_filename (rep_dir, name, NULL);

    append_file (all, path, -1, -1);
  }
  files = files_of_template (rep_dir, media, rep_id);
  n = template_segment_count (set, rep, period_duration);
  fail_unless (n > 1 && files->len >= n, "%u segments for %s in %s, the MPD "
      "lists %u", files->len, media, rep_dir, n);
  for (i = 0; i < files->len; i++) {
    NumberedFile *f = &g_array_index (files, NumberedFile, i);

    /* encoders may leave a last scrap beyond the MPD's duration */
    if (i < n)
      append_file (all, f->name, -1, -1);
    g_free (f->name);
  }
  return n;
}

/* mediaPresentationDuration, else the duration of the only Period. */
static GstClockTime
mpd_total_duration (const gchar * text)
{
  g_autofree gchar *mpd_duration = xml_attr (text, "mediaPresentationDuration");
  g_autoptr (GPtrArray) periods = NULL;

  if (mpd_duration)
    return xs_duration (mpd_duration);
  periods = xml_elements (text, "Period");
  if (periods->len == 1) {
    g_autofree gchar *d = xml_own_attr (g_ptr_array_index (periods, 0),
        "duration");
    if (d)
      return xs_duration (d);
  }
  return GST_CLOCK_TIME_NONE;
}

static GBytes *
expected_template_stream (const gchar * mpd_relpath, const gchar * kind,
    gboolean highest, guint * segments)
{
  g_autofree gchar *text = read_dash_text (mpd_relpath);
  g_autofree gchar *dir = g_path_get_dirname (mpd_relpath);
  g_autofree gchar *set = find_set (text, kind);
  g_autofree gchar *rep_id = NULL;
  GByteArray *all = g_byte_array_new ();
  guint n;

  fail_unless (set != NULL, "no %s AdaptationSet in %s", kind, mpd_relpath);
  rep_id = rep_id_by_bandwidth (set, highest);
  n = append_template_stream (all, dir, set, rep_id, mpd_total_duration (text));
  if (segments)
    *segments = n;
  return g_byte_array_free_to_bytes (all);
}

/* ------------------------------------------------------------------------ */
/* VOD, byte for byte */

/* Plays @mpd with the lowest Representations and checks the video pad (and
 * the audio pad when @with_audio) output init + segments exactly. */
static void
check_template_vod (const gchar * mpd, gboolean with_audio)
{
  GstElement *src = make_src (mpd);
  MeshCollector *c;
  guint video_segments = 0, audio_segments = 0;
  g_autoptr (GBytes) video = expected_template_stream (mpd, "video", FALSE,
      &video_segments);
  g_autoptr (GBytes) audio = with_audio ?
      expected_template_stream (mpd, "audio", FALSE, &audio_segments) : NULL;
  g_autoptr (GBytes) got_video = NULL;
  g_autoptr (GBytes) got_audio = NULL;

  /* a fixed speed below the high Representation keeps ABR on the low one */
  g_object_set (src, "connection-speed", 100, NULL);
  c = play_to_end (src, mpd);
  fail_unless_equals_int (c->pads->len, with_audio ? 2 : 1);
  fail_unless_equals_string (mesh_collector_caps_name (c, 0),
      "video/quicktime");
  got_video = mesh_collector_get_bytes (c, 0);
  mesh_test_assert_bytes_equal (got_video, video, "video pad");
  if (with_audio) {
    fail_unless_equals_string (mesh_collector_caps_name (c, 1),
        "video/quicktime");
    got_audio = mesh_collector_get_bytes (c, 1);
    mesh_test_assert_bytes_equal (got_audio, audio, "audio pad");
  }
  /* one timestamped buffer (the first) per media segment */
  fail_unless_equals_int (c->buffers_with_pts, video_segments + audio_segments);
  mesh_collector_free (c);
}

GST_START_TEST (test_template_timeline)
{
  check_template_vod ("template-timeline/manifest.mpd", TRUE);
}

GST_END_TEST;

GST_START_TEST (test_template_number)
{
  g_autofree gchar *text = read_dash_text ("template-number/manifest.mpd");
  g_autofree gchar *set = find_set (text, "audio");

  check_template_vod ("template-number/manifest.mpd", set != NULL);
}

GST_END_TEST;

/* What the CDN serves for the lowest Representation of the @kind set of a
 * SegmentList MPD: the init section, then every SegmentURL. */
static GBytes *
expected_segment_list (const gchar * mpd, const gchar * kind, guint * count)
{
  g_autofree gchar *text = read_dash_text (mpd);
  g_autofree gchar *dir = g_path_get_dirname (mpd);
  g_autofree gchar *set = find_set (text, kind);
  g_autofree gchar *rep_id = NULL;
  g_autofree gchar *rep = NULL;
  g_autofree gchar *rep_dir = NULL;
  g_autofree gchar *init = NULL;
  g_autoptr (GPtrArray) urls = NULL;
  GByteArray *all = g_byte_array_new ();
  guint i;

  fail_unless (set != NULL, "no %s set in %s", kind, mpd);
  rep_id = rep_id_by_bandwidth (set, FALSE);
  rep = find_rep (set, rep_id);
  rep_dir = apply_base_url (dir, rep);
  init = xml_attr (rep, "sourceURL");
  if (init) {
    g_autofree gchar *path = g_build_filename (rep_dir, init, NULL);
    append_file (all, path, -1, -1);
  }
  urls = xml_elements (rep, "SegmentURL");
  fail_unless (urls->len > 1, "no SegmentURL in %s", mpd);
  for (i = 0; i < urls->len; i++) {
    g_autofree gchar *media = xml_attr (g_ptr_array_index (urls, i), "media");
    g_autofree gchar *path = g_build_filename (rep_dir, media, NULL);

    append_file (all, path, -1, -1);
  }
  *count = urls->len;
  return g_byte_array_free_to_bytes (all);
}

GST_START_TEST (test_segment_list)
{
  const gchar *mpd = "segment-list/manifest.mpd";
  g_autofree gchar *text = read_dash_text (mpd);
  g_autofree gchar *audio_set = find_set (text, "audio");
  guint video_count = 0, audio_count = 0;
  g_autoptr (GBytes) video = expected_segment_list (mpd, "video", &video_count);
  g_autoptr (GBytes) audio = audio_set ? expected_segment_list (mpd, "audio",
      &audio_count) : NULL;
  g_autoptr (GBytes) got_video = NULL;
  g_autoptr (GBytes) got_audio = NULL;
  GstElement *src = make_src (mpd);
  MeshCollector *c;

  g_object_set (src, "connection-speed", 100, NULL);
  c = play_to_end (src, mpd);
  fail_unless_equals_int (c->pads->len, audio ? 2 : 1);
  got_video = mesh_collector_get_bytes (c, 0);
  mesh_test_assert_bytes_equal (got_video, video, "segment list, video");
  if (audio) {
    got_audio = mesh_collector_get_bytes (c, 1);
    mesh_test_assert_bytes_equal (got_audio, audio, "segment list, audio");
  }
  fail_unless_equals_int (c->buffers_with_pts, video_count + audio_count);
  mesh_collector_free (c);
}

GST_END_TEST;

static void
parse_range (const gchar * range, gint64 * offset, gint64 * size)
{
  guint64 first, last;

  fail_unless (range != NULL);
  fail_unless (sscanf (range, "%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT,
          &first, &last) == 2, "bad range %s", range);
  *offset = first;
  *size = last - first + 1;
}

static guint64
read_be (const guint8 * p, guint bytes)
{
  guint64 v = 0;

  while (bytes--)
    v = (v << 8) | *p++;
  return v;
}

/* Appends the bytes of the media references of the sidx box at @offset of
 * @relpath (ISO/IEC 14496-12 8.16.3) that overlap [@from, @to) of the
 * file's presentation time (ns), and returns how many. */
static guint
append_sidx_window (GByteArray * all, const gchar * relpath, gint64 offset,
    gint64 size, GstClockTime from, GstClockTime to)
{
  g_autoptr (GBytes) file = read_dash (relpath);
  const guint8 *box = (const guint8 *) g_bytes_get_data (file, NULL) + offset;
  guint version, field, count, i, appended = 0;
  const guint8 *p;
  guint64 position, timescale, t;

  fail_unless ((gsize) (offset + size) <= g_bytes_get_size (file));
  fail_unless (memcmp (box + 4, "sidx", 4) == 0, "no sidx at %"
      G_GINT64_FORMAT, offset);
  version = box[8];
  field = version == 0 ? 4 : 8;
  timescale = read_be (box + 16, 4);
  p = box + 12 + 4 + 4;         /* header, reference_ID, timescale */
  t = read_be (p, field);       /* earliest_presentation_time */
  p += field;
  position = offset + read_be (box, 4) + read_be (p, field);
  p += field + 2;
  count = read_be (p, 2);
  p += 2;
  fail_unless (count > 1, "%u references", count);
  for (i = 0; i < count; i++, p += 12) {
    guint64 referenced = read_be (p, 4) & 0x7fffffff;
    guint64 duration = read_be (p + 4, 4);
    GstClockTime start = gst_util_uint64_scale (t, GST_SECOND, timescale);
    GstClockTime end = gst_util_uint64_scale (t + duration, GST_SECOND,
        timescale);

    fail_if (p[0] & 0x80, "hierarchical sidx in the test media");
    if (end > from && start < to) {
      append_file (all, relpath, position, referenced);
      appended++;
    }
    position += referenced;
    t += duration;
  }
  return appended;
}

/* All of them */
static guint
append_sidx_ranges (GByteArray * all, const gchar * relpath, gint64 offset,
    gint64 size)
{
  return append_sidx_window (all, relpath, offset, size, 0,
      GST_CLOCK_TIME_NONE);
}

GST_START_TEST (test_segment_base_sidx)
{
  const gchar *mpd = "segment-base/manifest.mpd";
  g_autofree gchar *text = read_dash_text (mpd);
  g_autofree gchar *dir = g_path_get_dirname (mpd);
  g_autofree gchar *set = find_set (text, "video");
  g_autofree gchar *rep = NULL;
  g_autofree gchar *rep_id = NULL;
  g_autofree gchar *base = NULL;
  g_autofree gchar *file = NULL;
  g_autofree gchar *file_path = NULL;
  g_autofree gchar *index_range = NULL;
  g_autofree gchar *init_element = NULL;
  g_autoptr (GBytes) got = NULL;
  g_autoptr (GBytes) expected = NULL;
  GByteArray *all = g_byte_array_new ();
  gint64 init_offset = 0, init_size, index_offset, index_size;
  GstElement *src = make_src (mpd);
  MeshCollector *c;
  guint requests, segments;

  fail_unless (set != NULL);
  rep_id = rep_id_by_bandwidth (set, FALSE);
  rep = find_rep (set, rep_id);
  base = xml_text (rep, "BaseURL");
  fail_unless (base != NULL, "no BaseURL in the Representation");
  file = g_build_filename (dir, base, NULL);
  file_path = g_strdup_printf ("/%s", file);
  index_range = xml_attr (rep, "indexRange");
  parse_range (index_range, &index_offset, &index_size);
  {
    g_autoptr (GPtrArray) inits = xml_elements (rep, "Initialization");
    g_autofree gchar *range = inits->len ?
        xml_attr (g_ptr_array_index (inits, 0), "range") : NULL;

    if (range)
      parse_range (range, &init_offset, &init_size);
    else
      init_size = index_offset;
  }
  /* the init range, then the media ranges the sidx lists */
  append_file (all, file, init_offset, init_size);
  segments = append_sidx_ranges (all, file, index_offset, index_size);
  expected = g_byte_array_free_to_bytes (all);

  g_object_set (src, "connection-speed", 100, NULL);
  c = play_to_end (src, mpd);
  fail_unless_equals_string (mesh_collector_caps_name (c, 0),
      "video/quicktime");
  got = mesh_collector_get_bytes (c, 0);
  mesh_test_assert_bytes_equal (got, expected, "segment base");
  /* byte ranges: the index, the init section and each segment on its own */
  requests = mesh_origin_server_get_requests (origin, file_path);
  fail_unless_equals_int (requests, segments + 2);
  /* and never the whole file */
  fail_unless (mesh_origin_server_get_bytes (origin, file_path) <
      g_bytes_get_size (expected) + index_size + 1);
  mesh_collector_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Timestamps: a MeshFragmentRecorder records the PTS and DISCONT flag of
 * each fragment */

GST_START_TEST (test_multi_period_timestamps)
{
  const gchar *mpd = "multi-period/manifest.mpd";
  g_autofree gchar *text = read_dash_text (mpd);
  g_autofree gchar *dir = g_path_get_dirname (mpd);
  g_autoptr (GPtrArray) periods = xml_elements (text, "Period");
  GstElement *src = make_src (mpd);
  MeshFragmentRecorder *r = mesh_fragment_recorder_new (src, 0,
      MESH_FRAGMENT_RECORDER_SKIP_HEADERS);
  MeshCollector *c;
  GByteArray *all = g_byte_array_new ();
  g_autoptr (GBytes) expected = NULL;
  g_autoptr (GBytes) got = NULL;
  GstClockTime boundary, first_duration;
  guint first_period_segments = 0, total = 0, i;

  fail_unless (periods->len >= 2, "%u periods in %s", periods->len, mpd);
  for (i = 0; i < periods->len; i++) {
    const gchar *period = g_ptr_array_index (periods, i);
    g_autofree gchar *period_dir = apply_base_url (dir, period);
    g_autofree gchar *set = find_set (period, "video");
    g_autofree gchar *rep_id = rep_id_by_bandwidth (set, FALSE);
    g_autofree gchar *d = xml_own_attr (period, "duration");
    guint n = append_template_stream (all, period_dir, set, rep_id,
        d ? xs_duration (d) : GST_CLOCK_TIME_NONE);

    if (i == 0)
      first_period_segments = n;
    total += n;
  }
  expected = g_byte_array_free_to_bytes (all);
  {
    g_autofree gchar *d = xml_own_attr (g_ptr_array_index (periods, 0),
        "duration");
    first_duration = xs_duration (d);
  }

  g_object_set (src, "connection-speed", 100, NULL);
  c = play_to_end (src, mpd);
  got = mesh_collector_get_bytes (c, 0);
  mesh_test_assert_bytes_equal (got, expected, "both periods");

  fail_unless_equals_int (mesh_fragment_recorder_get_n_fragments (r), total);
  fail_unless_equals_uint64 (mesh_fragment_recorder_get_pts (r, 0), 0);
  for (i = 1; i < mesh_fragment_recorder_get_n_fragments (r); i++)
    fail_unless (mesh_fragment_recorder_get_pts (r, i) >
        mesh_fragment_recorder_get_pts (r, i - 1),
        "fragment %u at %" GST_TIME_FORMAT " after %" GST_TIME_FORMAT, i,
        GST_TIME_ARGS (mesh_fragment_recorder_get_pts (r, i)),
        GST_TIME_ARGS (mesh_fragment_recorder_get_pts (r, i - 1)));
  /* the second period continues where the first ends */
  boundary = mesh_fragment_recorder_get_pts (r, first_period_segments);
  GST_INFO ("second period starts at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (boundary));
  fail_unless (boundary + GST_MSECOND >= first_duration
      && boundary <= first_duration + GST_MSECOND, "second period at %"
      GST_TIME_FORMAT ", the first lasts %" GST_TIME_FORMAT,
      GST_TIME_ARGS (boundary), GST_TIME_ARGS (first_duration));
  fail_unless (mesh_fragment_recorder_get_discont (r, first_period_segments),
      "no DISCONT at the period boundary");
  fail_if (mesh_fragment_recorder_get_discont (r, 1),
      "DISCONT inside a period");

  mesh_collector_free (c);
  mesh_fragment_recorder_free (r);
}

GST_END_TEST;

GST_START_TEST (test_template_timestamps)
{
  const gchar *mpd = "template-timeline/manifest.mpd";
  GstElement *src = make_src (mpd);
  MeshFragmentRecorder *r = mesh_fragment_recorder_new (src, 0,
      MESH_FRAGMENT_RECORDER_SKIP_HEADERS);
  MeshCollector *c;
  guint i;

  g_object_set (src, "connection-speed", 100, NULL);
  c = play_to_end (src, mpd);
  fail_unless (mesh_fragment_recorder_get_n_fragments (r) >= 8,
      "%u fragments", mesh_fragment_recorder_get_n_fragments (r));
  /* 1 s segments from 0 */
  for (i = 0; i < mesh_fragment_recorder_get_n_fragments (r); i++)
    fail_unless (mesh_fragment_recorder_get_pts (r, i) + 50 * GST_MSECOND >=
        (GstClockTime) i * GST_SECOND
        && mesh_fragment_recorder_get_pts (r, i) <=
        (GstClockTime) i * GST_SECOND + 50 * GST_MSECOND,
        "fragment %u at %" GST_TIME_FORMAT, i,
        GST_TIME_ARGS (mesh_fragment_recorder_get_pts (r, i)));
  fail_unless (mesh_fragment_recorder_get_discont (r, 0));
  mesh_collector_free (c);
  mesh_fragment_recorder_free (r);
}

GST_END_TEST;

GST_START_TEST (test_dashsink_mpd)
{
  g_autofree gchar *mpd = NULL;
  g_autofree gchar *path = g_build_filename (dash_dir (), "dashsink", NULL);
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  const gchar *name;
  MeshCollector *c;
  guint i;

  for (; d && (name = g_dir_read_name (d));)
    if (g_str_has_suffix (name, ".mpd"))
      mpd = g_build_filename ("dashsink", name, NULL);
  if (!mpd) {
    GST_INFO ("no dashsink media: skipping");
    return;
  }
  c = play_to_end (make_src (mpd), mpd);
  fail_unless (c->pads->len >= 1);
  for (i = 0; i < c->pads->len; i++) {
    g_autoptr (GBytes) got = mesh_collector_get_bytes (c, i);

    fail_unless (g_bytes_get_size (got) > 1000, "pad %u: %" G_GSIZE_FORMAT
        " bytes", i, g_bytes_get_size (got));
    fail_unless (g_ptr_array_index (c->caps, i) != NULL);
  }
  mesh_collector_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Decoding, URI handler */

/* The same MPD decoded through dashdemux2 and through meshdashsrc. */
GST_START_TEST (test_decodes_like_dashdemux2)
{
  g_autofree gchar *url = mesh_test_origin_url (origin,
      "template-number/manifest.mpd");
  g_autofree gchar *mesh_uri = g_strconcat ("meshdash+", url, NULL);
  g_autofree gchar *ref_sum = NULL;
  g_autofree gchar *mesh_sum = NULL;
  gint ref_frames, mesh_frames;

  ref_frames = mesh_test_decode_reference ("uridecodebin3", url, &ref_sum,
      PLAY_TIMEOUT_S);
  mesh_frames = mesh_test_decode_video ("uridecodebin3", mesh_uri, &mesh_sum,
      PLAY_TIMEOUT_S);
  GST_INFO ("dashdemux2 %d frames %s, meshdashsrc %d frames %s", ref_frames,
      ref_sum, mesh_frames, mesh_sum);
  fail_unless (ref_frames > 100, "dashdemux2 decoded %d frames", ref_frames);
  fail_unless_equals_int (mesh_frames, ref_frames);
  fail_unless_equals_string (mesh_sum, ref_sum);
}

GST_END_TEST;

GST_START_TEST (test_uri_handler)
{
  GstElement *src;
  GError *error = NULL;
  gchar *uri, *location = NULL, *klass;
  const gchar *const *protocols;

  src = gst_element_make_from_uri (GST_URI_SRC,
      "meshdash+https://cdn.example/live/manifest.mpd?token=1", NULL, &error);
  fail_unless (src != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (G_OBJECT_TYPE_NAME (src), "GstMeshDashSrc");
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (src));
  fail_unless_equals_string (uri,
      "meshdash+https://cdn.example/live/manifest.mpd?token=1");
  g_free (uri);
  g_object_get (src, "location", &location, NULL);
  fail_unless_equals_string (location,
      "https://cdn.example/live/manifest.mpd?token=1");
  g_free (location);
  protocols = gst_uri_handler_get_protocols (GST_URI_HANDLER (src));
  fail_unless (g_strv_contains (protocols, "meshdash+http"));
  fail_unless (g_strv_contains (protocols, "meshdash+https"));
  klass = (gchar *) gst_element_class_get_metadata (GST_ELEMENT_GET_CLASS
      (src), GST_ELEMENT_METADATA_KLASS);
  fail_unless_equals_string (klass, "Source/Network/Adaptive");

  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "meshdash+ftp://x/y.mpd", &error));
  g_clear_error (&error);
  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "meshhls+http://x/y.mpd", &error));
  g_clear_error (&error);

  /* presentation-delay takes 12s, 2500ms, 3f and nothing else */
  g_object_set (src, "presentation-delay", "2500ms", NULL);
  g_object_get (src, "presentation-delay", &location, NULL);
  fail_unless_equals_string (location, "2500ms");
  g_free (location);
  g_object_set (src, "presentation-delay", "soon", NULL);
  g_object_get (src, "presentation-delay", &location, NULL);
  fail_unless_equals_string (location, "2500ms");
  g_free (location);
  g_object_set (src, "presentation-delay", "3f", NULL);
  g_object_get (src, "presentation-delay", &location, NULL);
  fail_unless_equals_string (location, "3f");
  g_free (location);
  gst_object_unref (src);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Seeking */

/* "/template-number/<file of segment @n (0-based) of the video>" */
static gchar *
video_segment_path (const gchar * mpd, guint n)
{
  g_autofree gchar *text = read_dash_text (mpd);
  g_autofree gchar *dir = g_path_get_dirname (mpd);
  g_autofree gchar *set = find_set (text, "video");
  g_autofree gchar *rep_id = rep_id_by_bandwidth (set, FALSE);
  g_autofree gchar *rep = find_rep (set, rep_id);
  g_autofree gchar *media = xml_attr (rep, "media");
  g_autoptr (GArray) files = NULL;
  gchar *path;
  guint i;

  if (!media)
    media = xml_attr (set, "media");
  files = files_of_template (dir, media, rep_id);
  fail_unless (n < files->len);
  path = g_strdup_printf ("/%s", g_array_index (files, NumberedFile, n).name);
  for (i = 0; i < files->len; i++)
    g_free (g_array_index (files, NumberedFile, i).name);
  return path;
}

GST_START_TEST (test_seek_vod)
{
  const gchar *mpd = "template-number/manifest.mpd";
  g_autofree gchar *url = mesh_test_origin_url (origin, mpd);
  g_autofree gchar *uri = g_strconcat ("meshdash+", url, NULL);
  g_autofree gchar *seg5 = video_segment_path (mpd, 5);
  g_autofree gchar *seg2 = video_segment_path (mpd, 2);
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

  mesh_origin_server_reset_stats (origin);
  fail_unless (gst_element_seek_simple (playbin, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, 5 * GST_SECOND));
  gst_message_unref (mesh_test_wait_for (bus, GST_MESSAGE_ASYNC_DONE));

  fail_unless (gst_element_query_position (playbin, GST_FORMAT_TIME,
          &position));
  GST_INFO ("position after seek %" GST_TIME_FORMAT, GST_TIME_ARGS (position));
  fail_unless (position >= 4 * GST_SECOND && position <= 6 * GST_SECOND,
      "position %" GST_TIME_FORMAT, GST_TIME_ARGS (position));
  /* downloads restarted at the segment holding the target */
  fail_unless (mesh_origin_server_get_requests (origin, seg5) >= 1,
      "%s not requested", seg5);
  fail_unless_equals_int (mesh_origin_server_get_requests (origin, seg2), 0);

  gst_element_set_state (playbin, GST_STATE_PLAYING);
  gst_message_unref (mesh_test_wait_for (bus, GST_MESSAGE_EOS));
  gst_element_set_state (playbin, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (playbin);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* ABR */

/* Held at these fragments: the fault goes in at 2, is cleared at 5. */
#define ABR_FAULT_AT 2
#define ABR_CLEAR_AT 5
/* 90 kB/s = 720 kbit/s: below what the ~1.2 Mbit/s Representation needs at
 * the 0.8 target ratio, far above the ~300 kbit/s one */
#define ABR_SLOW_RATE 90000

/* Which Representation (0 low, 1 high) fragment @n is, byte for byte. */
static gint
identify_fragment (GArray * low, GArray * high, GBytes * fragment, guint n)
{
  GArray *files[2] = { low, high };
  guint v;

  for (v = 0; v < 2; v++) {
    g_autoptr (GBytes) file = NULL;

    if (n >= files[v]->len)
      continue;
    file = read_dash (g_array_index (files[v], NumberedFile, n).name);
    if (g_bytes_equal (file, fragment))
      return v;
  }
  return -1;
}

static void
numbered_files_free (GArray * files)
{
  guint i;

  for (i = 0; i < files->len; i++)
    g_free (g_array_index (files, NumberedFile, i).name);
  g_array_unref (files);
}

GST_START_TEST (test_abr_switch_on_slow_link)
{
  const gchar *mpd = "template-timeline/manifest.mpd";
  g_autofree gchar *text = read_dash_text (mpd);
  g_autofree gchar *set = find_set (text, "video");
  g_autofree gchar *low_id = rep_id_by_bandwidth (set, FALSE);
  g_autofree gchar *high_id = rep_id_by_bandwidth (set, TRUE);
  g_autofree gchar *low_rep = find_rep (set, low_id);
  g_autofree gchar *high_rep = find_rep (set, high_id);
  g_autofree gchar *media = xml_attr (high_rep, "media");
  GArray *low = NULL, *high = NULL;
  g_autofree gchar *high_prefix = NULL;
  GstElement *src = make_src (mpd);
  MeshCollector *c = mesh_collector_new (src);
  MeshFragmentRecorder *r = mesh_fragment_recorder_new (src,
      (1 << ABR_FAULT_AT) | (1 << ABR_CLEAR_AT),
      MESH_FRAGMENT_RECORDER_SKIP_HEADERS);
  gint variant[64];
  GstBus *bus;
  GstMessage *msg;
  guint i, n;

  if (!media)
    media = xml_attr (set, "media");
  low = files_of_template ("template-timeline", media, low_id);
  high = files_of_template ("template-timeline", media, high_id);
  fail_if (g_strcmp0 (low_id, high_id) == 0, "one video Representation");
  /* the fault matches the high Representation's files only */
  {
    const gchar *name = g_array_index (high, NumberedFile, 0).name;
    g_autofree gchar *low_name = g_strdup (g_array_index (low, NumberedFile,
            0).name);
    gsize common = 0;

    while (name[common] && name[common] == low_name[common])
      common++;
    high_prefix = g_strdup_printf ("/%.*s", (int) (common + 1), name);
  }
  GST_INFO ("low %s, high %s, fault on %s", low_id, high_id, high_prefix);

  g_object_set (src, "max-buffering-time", GST_SECOND, NULL);
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless (mesh_fragment_recorder_wait_held (r, ABR_FAULT_AT,
          PLAY_TIMEOUT_S * 1000), "fragment %d never came", ABR_FAULT_AT);
  {
    MeshOriginFault fault = { high_prefix, 0, 0, 0, ABR_SLOW_RATE, -1 };
    mesh_origin_server_add_fault (origin, &fault);
  }
  mesh_fragment_recorder_release (r, ABR_FAULT_AT);
  fail_unless (mesh_fragment_recorder_wait_held (r, ABR_CLEAR_AT,
          PLAY_TIMEOUT_S * 1000), "fragment %d never came", ABR_CLEAR_AT);
  mesh_origin_server_clear_faults (origin);
  mesh_fragment_recorder_release (r, G_MAXINT);

  bus = gst_element_get_bus (c->pipeline);
  msg = gst_bus_timed_pop_filtered (bus, PLAY_TIMEOUT_S * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "no EOS: %" GST_PTR_FORMAT, msg);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (c->pipeline, GST_STATE_NULL);

  n = mesh_fragment_recorder_get_n_fragments (r);
  fail_unless_equals_int (n, low->len);
  for (i = 0; i < n && i < G_N_ELEMENTS (variant); i++) {
    g_autoptr (GBytes) fragment = mesh_fragment_recorder_get_bytes (r, i);

    variant[i] = identify_fragment (low, high, fragment, i);
    fail_unless (variant[i] >= 0, "fragment %u is neither Representation's "
        "segment %u", i, i);
    GST_INFO ("fragment %u: %s", i, variant[i] ? "high" : "low");
  }
  /* the lowest to start with, the highest once a download was measured */
  fail_unless_equals_int (variant[0], 0);
  fail_unless_equals_int (variant[ABR_FAULT_AT], 1);
  /* a slow high segment sends it down */
  {
    gboolean went_down = FALSE;

    for (i = ABR_FAULT_AT + 1; i <= ABR_CLEAR_AT; i++)
      went_down |= variant[i] == 0;
    fail_unless (went_down, "still on the high Representation after slow "
        "downloads");
  }
  /* a switch is a discontinuity; nothing else is */
  fail_unless (mesh_fragment_recorder_get_discont (r, 0));
  for (i = 1; i < n; i++) {
    if (variant[i] != variant[i - 1])
      fail_unless (mesh_fragment_recorder_get_discont (r, i),
          "fragment %u switched without DISCONT", i);
    else
      fail_if (mesh_fragment_recorder_get_discont (r, i),
          "fragment %u is DISCONT without a switch", i);
  }

  numbered_files_free (low);
  numbered_files_free (high);
  mesh_collector_free (c);
  mesh_fragment_recorder_free (r);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Live: the origin serves the MPD as dynamic under /live/ */

#define LIVE_MPD "live/live/manifest.mpd"

/* The body of @path on the origin, as text (a plain libsoup request: the
 * element is what is under test). */
static gchar *
origin_get_text (const gchar * path)
{
  g_autofree gchar *url = mesh_test_origin_url (origin, path);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = NULL;
  GError *error = NULL;

  body = soup_session_send_and_read (session, msg, NULL, &error);
  fail_unless (body != NULL, "%s: %s", url, error ? error->message : "?");
  fail_unless_equals_int (soup_message_get_status (msg), SOUP_STATUS_OK);
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* The wall clock of the origin's /_time (ISO 8601), µs since the epoch. */
static gint64
origin_time (void)
{
  g_autofree gchar *text = g_strstrip (origin_get_text ("_time"));
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) date = g_date_time_new_from_iso8601 (text, utc);

  fail_unless (date != NULL, "/_time said '%s'", text);
  return g_date_time_to_unix (date) * G_USEC_PER_SEC +
      g_date_time_get_microsecond (date);
}

/* The dynamic MPD as the origin serves it now. */
static gchar *
fetch_live_mpd (void)
{
  return origin_get_text (LIVE_MPD);
}

static gint64
parse_date_us (const gchar * text)
{
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) date = g_date_time_new_from_iso8601 (text, utc);

  fail_unless (date != NULL, "not a date: %s", text);
  return g_date_time_to_unix (date) * G_USEC_PER_SEC +
      g_date_time_get_microsecond (date);
}

/* The origin's live clock starts with it: move it on so that there is a
 * window to start in. */
#define LIVE_CLOCK_OFFSET (30 * G_USEC_PER_SEC)

GST_START_TEST (test_live_edge_and_reload)
{
  g_autofree gchar *text = (mesh_origin_server_set_time_offset (origin,
          LIVE_CLOCK_OFFSET), fetch_live_mpd ());
  g_autofree gchar *type = xml_attr (text, "type");
  g_autofree gchar *ast = xml_attr (text, "availabilityStartTime");
  g_autofree gchar *update_period = xml_attr (text, "minimumUpdatePeriod");
  GstElement *src = make_src (LIVE_MPD);
  MeshFragmentRecorder *r = mesh_fragment_recorder_new (src, 0,
      MESH_FRAGMENT_RECORDER_SKIP_HEADERS);
  MeshCollector *c = mesh_collector_new (src);
  GstClockTime delay = 3 * GST_SECOND, edge, first;
  gint64 start_us, t0;
  guint i, mpd_requests;

  fail_unless_equals_string (type, "dynamic");
  fail_unless (ast != NULL, "no availabilityStartTime");
  fail_unless (strstr (text, "UTCTiming") != NULL, "no UTCTiming");
  start_us = parse_date_us (ast);

  g_object_set (src, "presentation-delay", "3s", NULL);
  t0 = g_get_monotonic_time ();
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless (mesh_fragment_recorder_wait_fragments (r, 2, 10000),
      "no 2 fragments within 10 s (%u)",
      mesh_fragment_recorder_get_n_fragments (r));
  GST_INFO ("2 fragments after %" G_GINT64_FORMAT " ms",
      (g_get_monotonic_time () - t0) / 1000);

  /* the live edge when playback started, as presentation time */
  edge = (origin_time () - start_us) * GST_USECOND;
  edge -= MIN (edge, (GstClockTime) (g_get_monotonic_time () - t0) *
      GST_USECOND);
  first = mesh_fragment_recorder_get_pts (r, 0);
  GST_INFO ("edge %" GST_TIME_FORMAT ", first fragment %" GST_TIME_FORMAT,
      GST_TIME_ARGS (edge), GST_TIME_ARGS (first));
  /* the last available segment at edge - delay: at most a segment (2 s)
   * before it */
  fail_unless (first + delay + 2500 * GST_MSECOND >= edge,
      "started at %" GST_TIME_FORMAT ", more than the delay behind the edge "
      "%" GST_TIME_FORMAT, GST_TIME_ARGS (first), GST_TIME_ARGS (edge));
  fail_unless (first + delay <= edge + 500 * GST_MSECOND,
      "started at %" GST_TIME_FORMAT ", closer than the delay to the edge %"
      GST_TIME_FORMAT, GST_TIME_ARGS (first), GST_TIME_ARGS (edge));

  /* segments keep coming as they become available */
  fail_unless (mesh_fragment_recorder_wait_fragments (r, 4, 10000),
      "only %u fragments", mesh_fragment_recorder_get_n_fragments (r));
  for (i = 1; i < mesh_fragment_recorder_get_n_fragments (r); i++)
    fail_unless (mesh_fragment_recorder_get_pts (r, i) >
        mesh_fragment_recorder_get_pts (r, i - 1));
  /* reloaded every minimumUpdatePeriod (the test fetched it once) */
  mpd_requests = mesh_origin_server_get_requests (origin, "/" LIVE_MPD);
  GST_INFO ("MPD requested %u times", mpd_requests);
  if (update_period)
    fail_unless (mpd_requests >= 3, "the MPD was not reloaded");

  {
    GstQuery *query = gst_query_new_seeking (GST_FORMAT_TIME);
    gboolean seekable = TRUE;

    fail_unless (gst_pad_query (mesh_fragment_recorder_get_pad (r), query));
    gst_query_parse_seeking (query, NULL, &seekable, NULL, NULL);
    fail_if (seekable, "a live stream claims to be seekable");
    gst_query_unref (query);
  }
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  mesh_collector_free (c);
  mesh_fragment_recorder_free (r);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Broken MPDs, served from a directory of their own */

static gchar *bad_dir;
static MeshOriginServer *bad_origin;

static const gchar garbage_mpd[] =
    "<html><body>Service temporarily moved</body></html>\n\x01\x02\x03\n";
static const gchar no_set_mpd[] =
    "<?xml version=\"1.0\"?>\n"
    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" "
    "mediaPresentationDuration=\"PT8S\" minBufferTime=\"PT2S\">\n"
    "  <Period id=\"only\" duration=\"PT8S\"/>\n</MPD>\n";
static const gchar no_segments_mpd[] =
    "<?xml version=\"1.0\"?>\n"
    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" "
    "mediaPresentationDuration=\"PT8S\" minBufferTime=\"PT2S\">\n"
    "  <Period id=\"p0\" duration=\"PT8S\">\n"
    "    <AdaptationSet id=\"vid\" contentType=\"video\" "
    "mimeType=\"video/mp4\">\n"
    "      <Representation id=\"v0\" bandwidth=\"300000\" "
    "codecs=\"avc1.42c00d\">\n"
    "        <SegmentFromTheFuture media=\"x$Number$.m4s\"/>\n"
    "      </Representation>\n    </AdaptationSet>\n  </Period>\n</MPD>\n";

static void
write_bad_file (const gchar * name, const gchar * contents, gssize len)
{
  g_autofree gchar *path = g_build_filename (bad_dir, name, NULL);
  GError *error = NULL;

  fail_unless (g_file_set_contents (path, contents, len, &error), "%s: %s",
      path, error ? error->message : "?");
}

/* A pssh box: size, "pssh", version 0, flags, system id, no data. */
static const guint8 test_pssh[] = {
  0, 0, 0, 32, 'p', 's', 's', 'h', 0, 0, 0, 0,
  0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce,
  0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d, 0x21, 0xed, 0, 0, 0, 0
};

#define TEST_SYSTEM_ID "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
#define OTHER_SYSTEM_ID "9a04f079-9840-4286-ab92-e65be0885f95"

/* template-number's video set on the main origin, with ContentProtection. */
static gchar *
protected_mpd (void)
{
  g_autofree gchar *text = read_dash_text ("template-number/manifest.mpd");
  g_autofree gchar *set = find_set (text, "video");
  g_autofree gchar *base = mesh_test_origin_url (origin, "template-number/");
  g_autofree gchar *pssh = g_base64_encode (test_pssh, sizeof (test_pssh));
  g_autofree gchar *system_id = g_ascii_strup (TEST_SYSTEM_ID, -1);
  const gchar *rep = strstr (set, "<Representation");

  fail_unless (rep != NULL);
  return g_strdup_printf ("<?xml version=\"1.0\"?>\n"
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
      "xmlns:cenc=\"urn:mpeg:cenc:2013\" type=\"static\" "
      "mediaPresentationDuration=\"PT8S\" minBufferTime=\"PT2S\">\n"
      "<BaseURL>%s</BaseURL>\n<Period id=\"p0\" duration=\"PT8S\">\n"
      "<AdaptationSet contentType=\"video\" mimeType=\"video/mp4\">\n"
      "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" "
      "value=\"cenc\"/>\n"
      "<ContentProtection schemeIdUri=\"urn:uuid:%s\">"
      "<cenc:pssh>%s</cenc:pssh></ContentProtection>\n"
      "<ContentProtection schemeIdUri=\"urn:uuid:%s\" value=\"other\"/>\n"
      "%s\n</Period>\n</MPD>\n", base, system_id, pssh, OTHER_SYSTEM_ID, rep);
}

static void
bad_origin_setup (void)
{
  MeshOriginConfig config = { NULL, "127.0.0.1", 0, 0 };
  g_autofree gchar *protected = NULL;
  GError *error = NULL;

  origin_setup ();
  bad_dir = g_dir_make_tmp ("meshdashsrc-XXXXXX", &error);
  fail_unless (bad_dir != NULL, "%s", error ? error->message : "?");
  write_bad_file ("garbage.mpd", garbage_mpd, sizeof (garbage_mpd) - 1);
  write_bad_file ("no-set.mpd", no_set_mpd, -1);
  write_bad_file ("no-segments.mpd", no_segments_mpd, -1);
  protected = protected_mpd ();
  write_bad_file ("protected.mpd", protected, -1);

  config.root = bad_dir;
  bad_origin = mesh_origin_server_start (&config, &error);
  fail_unless (bad_origin != NULL, "%s", error ? error->message : "?");
}

static void
bad_origin_teardown (void)
{
  GDir *dir;
  const gchar *name;

  mesh_origin_server_stop (bad_origin);
  bad_origin = NULL;
  /* whatever the tests wrote */
  dir = g_dir_open (bad_dir, 0, NULL);
  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *path = g_build_filename (bad_dir, name, NULL);
    g_unlink (path);
  }
  g_clear_pointer (&dir, g_dir_close);
  g_rmdir (bad_dir);
  g_clear_pointer (&bad_dir, g_free);
  origin_teardown ();
}

/* Plays @name from the scratch origin, expecting an element error (DEMUX);
 * @with_pads: the error comes once the pads were added (from a stream), not
 * while loading the MPD. */
static GError *
play_bad_mpd_full (const gchar * name, gboolean with_pads)
{
  MeshCollector *c = mesh_collector_new (make_src_on (bad_origin, name));
  GstBus *bus = gst_element_get_bus (c->pipeline);
  GstMessage *msg;
  GError *error = NULL;

  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, ERROR_TIMEOUT_S * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error within %d s", ERROR_TIMEOUT_S);
  fail_unless (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR,
      "expected an error, got %" GST_PTR_FORMAT, msg);
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (c->src));
  gst_message_parse_error (msg, &error, NULL);
  GST_INFO ("%s: %s", name, error->message);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  if (with_pads)
    fail_unless (c->pads->len > 0, "the MPD was refused before the streams");
  else
    fail_unless_equals_int (c->pads->len, 0);
  mesh_collector_free (c);
  fail_unless (error->domain == GST_STREAM_ERROR
      && error->code == GST_STREAM_ERROR_DEMUX, "%s: error %s/%d: %s", name,
      g_quark_to_string (error->domain), error->code, error->message);
  return error;
}

static GError *
play_bad_mpd (const gchar * name)
{
  return play_bad_mpd_full (name, FALSE);
}

static void
assert_mentions (const GError * error, const gchar * text)
{
  fail_unless (strstr (error->message, text) != NULL,
      "error message '%s' does not mention '%s'", error->message, text);
}

GST_START_TEST (test_garbage_mpd)
{
  g_autoptr (GError) error = play_bad_mpd ("garbage.mpd");

  fail_unless (error->message[0] != '\0');
}

GST_END_TEST;

GST_START_TEST (test_mpd_without_adaptation_set)
{
  g_autoptr (GError) error = play_bad_mpd ("no-set.mpd");

  assert_mentions (error, "AdaptationSet");
  assert_mentions (error, "only");
}

GST_END_TEST;

GST_START_TEST (test_unknown_segment_scheme)
{
  g_autoptr (GError) error = play_bad_mpd ("no-segments.mpd");

  assert_mentions (error, "v0");
  assert_mentions (error, "p0");
}

GST_END_TEST;

typedef struct
{
  GMutex lock;
  GPtrArray *system_ids;
  GPtrArray *data;              /* GBytes* */
  GPtrArray *origins;
} ProtectionSeen;

static GstPadProbeReturn
protection_probe (GstPad * pad, GstPadProbeInfo * info, ProtectionSeen * seen)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  const gchar *system_id, *origin_name;
  GstBuffer *data;
  GstMapInfo map;

  if (GST_EVENT_TYPE (event) != GST_EVENT_PROTECTION)
    return GST_PAD_PROBE_OK;
  gst_event_parse_protection (event, &system_id, &data, &origin_name);
  gst_buffer_map (data, &map, GST_MAP_READ);
  g_mutex_lock (&seen->lock);
  g_ptr_array_add (seen->system_ids, g_strdup (system_id));
  g_ptr_array_add (seen->data, g_bytes_new (map.data, map.size));
  g_ptr_array_add (seen->origins, g_strdup (origin_name));
  g_mutex_unlock (&seen->lock);
  gst_buffer_unmap (data, &map);
  return GST_PAD_PROBE_OK;
}

static void
protection_on_pad_added (GstElement * src, GstPad * pad, ProtectionSeen * seen)
{
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      (GstPadProbeCallback) protection_probe, seen, NULL);
}

GST_START_TEST (test_content_protection_events)
{
  ProtectionSeen seen = { 0, };
  GstElement *src = make_src_on (bad_origin, "protected.mpd");
  MeshCollector *c;
  g_autoptr (GBytes) pssh = g_bytes_new_static (test_pssh, sizeof (test_pssh));
  GBytes *other;

  g_mutex_init (&seen.lock);
  seen.system_ids = g_ptr_array_new_with_free_func (g_free);
  seen.data = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  seen.origins = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (src, "pad-added", G_CALLBACK (protection_on_pad_added),
      &seen);
  g_object_set (src, "connection-speed", 100, NULL);
  c = play_to_end (src, "protected.mpd");

  /* one per ContentProtection with a system id, before the first buffer */
  fail_unless_equals_int (seen.system_ids->len, 2);
  fail_unless_equals_string (g_ptr_array_index (seen.system_ids, 0),
      TEST_SYSTEM_ID);
  fail_unless_equals_string (g_ptr_array_index (seen.origins, 0), "dash/mpd");
  fail_unless (g_bytes_equal (g_ptr_array_index (seen.data, 0), pssh),
      "the data of the first event is not its pssh box");
  fail_unless_equals_string (g_ptr_array_index (seen.system_ids, 1),
      OTHER_SYSTEM_ID);
  /* without a pssh: the element itself */
  other = g_ptr_array_index (seen.data, 1);
  fail_unless (g_strstr_len (g_bytes_get_data (other, NULL),
          g_bytes_get_size (other), "other") != NULL);

  mesh_collector_free (c);
  g_ptr_array_unref (seen.system_ids);
  g_ptr_array_unref (seen.data);
  g_ptr_array_unref (seen.origins);
  g_mutex_clear (&seen.lock);
}

GST_END_TEST;

/* A dynamic MPD whose server clock runs an hour ahead of ours: only a
 * client that synchronises with its UTCTiming (a plain file on the origin
 * here, so that the origin counts the requests) finds segments in it. */
#define CLOCK_AHEAD_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)
/* the live edge, on the server's clock, at the time of the test */
#define CLOCK_EDGE_US (6 * G_USEC_PER_SEC)

static gchar *
format_date (gint64 us)
{
  g_autoptr (GDateTime) date = g_date_time_new_from_unix_utc (us /
      G_USEC_PER_SEC);
  g_autoptr (GDateTime) exact = g_date_time_add (date, us % G_USEC_PER_SEC);

  return g_date_time_format (exact, "%Y-%m-%dT%H:%M:%S.%fZ");
}

static void
write_clock_files (void)
{
  g_autofree gchar *text = read_dash_text ("template-number/manifest.mpd");
  g_autofree gchar *set = find_set (text, "video");
  g_autofree gchar *base = mesh_test_origin_url (origin, "template-number/");
  g_autofree gchar *clock_url = mesh_test_origin_url (bad_origin,
      "clock.txt");
  gint64 server_now = g_get_real_time () + CLOCK_AHEAD_US;
  g_autofree gchar *now = format_date (server_now);
  g_autofree gchar *ast = format_date (server_now - CLOCK_EDGE_US);
  g_autofree gchar *mpd = NULL;

  fail_unless (set != NULL);
  mpd = g_strdup_printf ("<?xml version=\"1.0\"?>\n"
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\" "
      "availabilityStartTime=\"%s\" minBufferTime=\"PT2S\" "
      "suggestedPresentationDelay=\"PT2S\">\n"
      "<BaseURL>%s</BaseURL>\n<Period id=\"p0\" start=\"PT0S\">\n%s\n"
      "</Period>\n<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" "
      "value=\"%s\"/>\n</MPD>\n", ast, base, set, clock_url);
  write_bad_file ("clock.mpd", mpd, -1);
  write_bad_file ("clock.txt", now, -1);
}

GST_START_TEST (test_live_clock_from_utc_timing)
{
  GstElement *src;
  MeshFragmentRecorder *r;
  MeshCollector *c;
  GstClockTime first;

  write_clock_files ();
  src = make_src_on (bad_origin, "clock.mpd");
  r = mesh_fragment_recorder_new (src, 0, MESH_FRAGMENT_RECORDER_SKIP_HEADERS);
  c = mesh_collector_new (src);
  g_object_set (src, "connection-speed", 100, NULL);
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  /* by our own clock the stream would start in an hour */
  fail_unless (mesh_fragment_recorder_wait_fragments (r, 2, 10000),
      "%u fragments: the server's clock was not used",
      mesh_fragment_recorder_get_n_fragments (r));
  fail_unless (mesh_origin_server_get_requests (bad_origin, "/clock.txt")
      >= 1, "UTCTiming was not requested");
  first = mesh_fragment_recorder_get_pts (r, 0);
  /* 2 s (suggestedPresentationDelay) behind the 6 s edge, in 1 s segments */
  fail_unless (first >= 3 * GST_SECOND && first <= 4 * GST_SECOND,
      "started at %" GST_TIME_FORMAT, GST_TIME_ARGS (first));
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  mesh_collector_free (c);
  mesh_fragment_recorder_free (r);
}

GST_END_TEST;

/* template-number's video set as a dynamic MPD whose edge is @edge_us
 * into it, reloaded every second; or, @dynamic FALSE, the same as a static
 * MPD of 8 s. */
static gchar *
switching_mpd (gboolean dynamic, gint64 edge_us)
{
  g_autofree gchar *text = read_dash_text ("template-number/manifest.mpd");
  g_autofree gchar *set = find_set (text, "video");
  g_autofree gchar *base = mesh_test_origin_url (origin, "template-number/");
  g_autofree gchar *ast = format_date (g_get_real_time () - edge_us);
  g_autofree gchar *type = dynamic ? g_strdup_printf ("type=\"dynamic\" "
      "availabilityStartTime=\"%s\" minimumUpdatePeriod=\"PT1S\" "
      "suggestedPresentationDelay=\"PT2S\"", ast) :
      g_strdup ("type=\"static\" mediaPresentationDuration=\"PT8S\"");

  fail_unless (set != NULL);
  return g_strdup_printf ("<?xml version=\"1.0\"?>\n"
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" %s "
      "minBufferTime=\"PT2S\">\n<BaseURL>%s</BaseURL>\n"
      "<Period id=\"p0\" start=\"PT0S\">\n%s\n</Period>\n</MPD>\n", type,
      base, set);
}

/* A live stream whose MPD turns static plays to the end of it and stops. */
GST_START_TEST (test_live_becomes_static)
{
  g_autofree gchar *dynamic_mpd = switching_mpd (TRUE, 5 * G_USEC_PER_SEC);
  g_autofree gchar *static_mpd = switching_mpd (FALSE, 0);
  GstElement *src;
  MeshFragmentRecorder *r;
  MeshCollector *c;
  GstMessage *msg;
  guint n;

  write_bad_file ("switching.mpd", dynamic_mpd, -1);
  src = make_src_on (bad_origin, "switching.mpd");
  r = mesh_fragment_recorder_new (src, 0, MESH_FRAGMENT_RECORDER_SKIP_HEADERS);
  c = mesh_collector_new (src);
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless (mesh_fragment_recorder_wait_fragments (r, 1, 10000),
      "no fragment");
  fail_unless (mesh_fragment_recorder_get_pts (r, 0) <= 3 * GST_SECOND,
      "started at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (mesh_fragment_recorder_get_pts (r, 0)));
  /* the next reload finds it static: the rest of it, then EOS */
  write_bad_file ("switching.mpd", static_mpd, -1);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (c->pipeline),
      20 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "no EOS after the MPD became static: %" GST_PTR_FORMAT, msg);
  gst_message_unref (msg);
  gst_element_set_state (c->pipeline, GST_STATE_NULL);

  n = mesh_fragment_recorder_get_n_fragments (r);
  fail_unless (n >= 2);
  /* up to the last segment of the 8 s, each once */
  fail_unless_equals_uint64 (mesh_fragment_recorder_get_pts (r, n - 1),
      7 * GST_SECOND);
  fail_unless_equals_uint64 (mesh_fragment_recorder_get_pts (r, n - 1) -
      mesh_fragment_recorder_get_pts (r, 0), (n - 1) * GST_SECOND);
  fail_unless (mesh_origin_server_get_requests (bad_origin, "/switching.mpd")
      >= 2);
  mesh_collector_free (c);
  mesh_fragment_recorder_free (r);
}

GST_END_TEST;

/* The element lists segments a window at a time (256 of them): a static
 * MPD of 600 segments of 100 ms, by @duration and by SegmentTimeline, plays
 * each segment once and in order across the windows. */
#define MANY_SEGMENTS 600

static void
write_many_segment_files (void)
{
  guint i;

  for (i = 1; i <= MANY_SEGMENTS; i++) {
    g_autofree gchar *name = g_strdup_printf ("w-%u.m4s", i);
    g_autofree gchar *contents = g_strdup_printf ("segment %u\n", i);

    write_bad_file (name, contents, -1);
  }
}

static void
check_many_segments (const gchar * name, const gchar * segment_info)
{
  g_autofree gchar *mpd = g_strdup_printf ("<?xml version=\"1.0\"?>\n"
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" "
      "minBufferTime=\"PT2S\" mediaPresentationDuration=\"PT60S\">\n"
      "<Period duration=\"PT60S\"><AdaptationSet contentType=\"video\" "
      "mimeType=\"video/mp4\">%s<Representation id=\"v\" bandwidth=\"1000\"/>"
      "</AdaptationSet></Period></MPD>\n", segment_info);
  GString *expected = g_string_new (NULL);
  g_autoptr (GBytes) expected_bytes = NULL;
  g_autoptr (GBytes) got = NULL;
  MeshCollector *c;
  guint i;

  write_bad_file (name, mpd, -1);
  for (i = 1; i <= MANY_SEGMENTS; i++)
    g_string_append_printf (expected, "segment %u\n", i);
  expected_bytes = g_string_free_to_bytes (expected);

  c = play_to_end (make_src_on (bad_origin, name), name);
  got = mesh_collector_get_bytes (c, 0);
  mesh_test_assert_bytes_equal (got, expected_bytes, name);
  mesh_collector_free (c);
}

GST_START_TEST (test_windows_of_many_segments)
{
  write_many_segment_files ();
  check_many_segments ("many-number.mpd", "<SegmentTemplate "
      "timescale=\"10\" duration=\"1\" media=\"w-$Number$.m4s\"/>");
  check_many_segments ("many-timeline.mpd", "<SegmentTemplate "
      "timescale=\"10\" media=\"w-$Number$.m4s\"><SegmentTimeline>"
      "<S d=\"1\" r=\"299\"/><S d=\"1\" r=\"-1\"/></SegmentTimeline>"
      "</SegmentTemplate>");
}

GST_END_TEST;

/* minimumUpdatePeriod="PT0S" does not make the element reload the MPD
 * without pause: at most every MIN_RELOAD_PERIOD (500 ms) */
GST_START_TEST (test_reload_floor)
{
  g_autofree gchar *dynamic_mpd = switching_mpd (TRUE, 5 * G_USEC_PER_SEC);
  gchar *update_period = strstr (dynamic_mpd, "minimumUpdatePeriod=\"PT1S\"");
  GstElement *src;
  MeshCollector *c;
  GstMessage *msg;
  guint requests;

  fail_unless (update_period != NULL);
  /* same length: "PT1S" -> "PT0S" */
  update_period[strlen ("minimumUpdatePeriod=\"PT")] = '0';
  write_bad_file ("reload-floor.mpd", dynamic_mpd, -1);
  src = make_src_on (bad_origin, "reload-floor.mpd");
  c = mesh_collector_new (src);
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  /* playing for 3 s, which no error may cut short */
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (c->pipeline),
      3 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg == NULL, "%" GST_PTR_FORMAT, msg);
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  requests = mesh_origin_server_get_requests (bad_origin, "/reload-floor.mpd");
  GST_INFO ("%u MPD requests in 3 s", requests);
  /* the first, then one per 500 ms at most */
  fail_unless (requests >= 2 && requests <= 8, "%u MPD requests in 3 s",
      requests);
  fail_unless (mesh_collector_total_bytes (c) > 0);
  mesh_collector_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* What packagers write: MPDs written by the tests on the scratch origin
 * (bad_origin), over the generated media of the main one */

/* The SegmentBase of segment-base/'s video Representation, from its MPD */
typedef struct
{
  gchar *file;                  /* under the media directory */
  gchar *codecs;
  gint64 init_offset, init_size;
  gint64 index_offset, index_size;
} SegmentBaseFile;

static void
segment_base_file_init (SegmentBaseFile * f)
{
  const gchar *mpd = "segment-base/manifest.mpd";
  g_autofree gchar *text = read_dash_text (mpd);
  g_autofree gchar *set = find_set (text, "video");
  g_autofree gchar *rep_id = rep_id_by_bandwidth (set, FALSE);
  g_autofree gchar *rep = find_rep (set, rep_id);
  g_autofree gchar *base = xml_text (rep, "BaseURL");
  g_autofree gchar *index_range = xml_attr (rep, "indexRange");
  g_autoptr (GPtrArray) inits = xml_elements (rep, "Initialization");
  g_autofree gchar *init_range = NULL;

  fail_unless (base != NULL && inits->len == 1);
  init_range = xml_attr (g_ptr_array_index (inits, 0), "range");
  f->file = g_build_filename ("segment-base", base, NULL);
  f->codecs = xml_attr (rep, "codecs");
  parse_range (init_range, &f->init_offset, &f->init_size);
  parse_range (index_range, &f->index_offset, &f->index_size);
}

static void
segment_base_file_clear (SegmentBaseFile * f)
{
  g_free (f->file);
  g_free (f->codecs);
}

/* A Period of one video Representation: SegmentBase @f with
 * presentationTimeOffset @pto_ms (in a 1 kHz timescale) */
static gchar *
period_over_file (const SegmentBaseFile * f, const gchar * id,
    const gchar * start, const gchar * duration, guint pto_ms)
{
  g_autofree gchar *url = mesh_test_origin_url (origin, f->file);

  return g_strdup_printf ("  <Period id=\"%s\" start=\"%s\" "
      "duration=\"%s\">\n"
      "    <AdaptationSet contentType=\"video\" mimeType=\"video/mp4\">\n"
      "      <Representation id=\"v\" bandwidth=\"300000\" "
      "codecs=\"%s\">\n        <BaseURL>%s</BaseURL>\n"
      "        <SegmentBase timescale=\"1000\" presentationTimeOffset=\"%u\" "
      "indexRange=\"%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT "\">\n"
      "          <Initialization range=\"%" G_GINT64_FORMAT "-%"
      G_GINT64_FORMAT "\"/>\n        </SegmentBase>\n"
      "      </Representation>\n    </AdaptationSet>\n  </Period>\n", id,
      start, duration, f->codecs, url, pto_ms, f->index_offset,
      f->index_offset + f->index_size - 1, f->init_offset,
      f->init_offset + f->init_size - 1);
}

#define STATIC_MPD_HEAD "<?xml version=\"1.0\"?>\n" \
  "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" " \
  "minBufferTime=\"PT2S\" "

/* Two Periods cut from one SegmentBase file: p0 plays its [0, 2 s), p1
 * (presentationTimeOffset 4 s) its [4 s, 7 s). Each plays the subsegments
 * of its own part, not the whole file (dashdemux2 1.22 plays the whole file
 * in each Period). */
GST_START_TEST (test_periods_over_one_segment_base_file)
{
  SegmentBaseFile f = { 0, };
  g_autofree gchar *p0 = NULL;
  g_autofree gchar *p1 = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *mesh_uri = NULL;
  g_autofree gchar *sum = NULL;
  GByteArray *all = g_byte_array_new ();
  g_autoptr (GBytes) expected = NULL;
  g_autoptr (GBytes) got = NULL;
  MeshCollector *c;
  guint n0, n1;
  gint frames;

  segment_base_file_init (&f);
  p0 = period_over_file (&f, "p0", "PT0S", "PT2S", 0);
  p1 = period_over_file (&f, "p1", "PT2S", "PT3S", 4000);
  text = g_strdup_printf (STATIC_MPD_HEAD "mediaPresentationDuration="
      "\"PT5S\">\n%s%s</MPD>\n", p0, p1);
  write_bad_file ("periods.mpd", text, -1);

  /* the init section once (the same for both), then each Period's part */
  append_file (all, f.file, f.init_offset, f.init_size);
  n0 = append_sidx_window (all, f.file, f.index_offset, f.index_size, 0,
      2 * GST_SECOND);
  n1 = append_sidx_window (all, f.file, f.index_offset, f.index_size,
      4 * GST_SECOND, 7 * GST_SECOND);
  expected = g_byte_array_free_to_bytes (all);
  fail_unless (n0 == 2 && n1 == 3, "the test media has no 1 s subsegments "
      "(%u and %u)", n0, n1);

  c = play_to_end (make_src_on (bad_origin, "periods.mpd"), "periods.mpd");
  got = mesh_collector_get_bytes (c, 0);
  mesh_test_assert_bytes_equal (got, expected, "two Periods of one file");
  fail_unless_equals_int (c->buffers_with_pts, n0 + n1);
  mesh_collector_free (c);

  /* 1 s subsegments of 25 frames */
  url = mesh_test_origin_url (bad_origin, "periods.mpd");
  mesh_uri = g_strconcat ("meshdash+", url, NULL);
  frames = mesh_test_decode_video ("uridecodebin3", mesh_uri, &sum,
      PLAY_TIMEOUT_S);
  fail_unless_equals_int (frames, 25 * (n0 + n1));
  segment_base_file_clear (&f);
}

GST_END_TEST;

/* A WebM SegmentBase: refused by name, from the mimeType when the MPD says
 * so, else from the index itself (a Cues element where a sidx should be) */
GST_START_TEST (test_webm_segment_base_refused)
{
  /* Cues, size 0x85, a CuePoint: what a WebM indexRange holds */
  static const guint8 cues[] = { 0x1c, 0x53, 0xbb, 0x6b, 0x85, 0xbb, 0x83,
    0xb3, 0x81, 0x00, 0, 0, 0, 0, 0, 0
  };
  g_autofree gchar *webm = NULL;
  g_autofree gchar *mislabelled = NULL;
  g_autofree gchar *cues_url = mesh_test_origin_url (bad_origin, "cues.bin");
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) index_error = NULL;

  webm = g_strdup_printf (STATIC_MPD_HEAD "mediaPresentationDuration="
      "\"PT8S\">\n<Period id=\"p0\"><AdaptationSet contentType=\"video\" "
      "mimeType=\"video/webm\"><Representation id=\"vp9\" "
      "bandwidth=\"300000\" codecs=\"vp9\"><BaseURL>%s</BaseURL>"
      "<SegmentBase indexRange=\"0-15\"><Initialization range=\"0-9\"/>"
      "</SegmentBase></Representation></AdaptationSet></Period></MPD>\n",
      cues_url);
  write_bad_file ("webm.mpd", webm, -1);
  mislabelled = g_strdup_printf (STATIC_MPD_HEAD "mediaPresentationDuration="
      "\"PT8S\">\n<Period id=\"p0\"><AdaptationSet contentType=\"video\" "
      "mimeType=\"video/mp4\"><Representation id=\"v\" "
      "bandwidth=\"300000\"><BaseURL>%s</BaseURL>"
      "<SegmentBase indexRange=\"0-15\"/></Representation></AdaptationSet>"
      "</Period></MPD>\n", cues_url);
  write_bad_file ("mislabelled.mpd", mislabelled, -1);
  write_bad_file ("cues.bin", (const gchar *) cues, sizeof (cues));

  error = play_bad_mpd ("webm.mpd");
  assert_mentions (error, "WebM SegmentBase (Cues index) is not supported");
  assert_mentions (error, "vp9");

  index_error = play_bad_mpd_full ("mislabelled.mpd", TRUE);
  assert_mentions (index_error, "WebM SegmentBase (Cues index) is not "
      "supported");
  assert_mentions (index_error, "Representation 'v'");
}

GST_END_TEST;

/* A static MPD of 8 s (attributes @mpd_attributes) whose one Period has
 * template-number's video set on the main origin, as AdaptationSet 'vid'
 * with @set_attributes and @set_children, then @sets */
static gchar *
template_number_mpd (const gchar * mpd_attributes,
    const gchar * set_attributes, const gchar * set_children,
    const gchar * sets)
{
  g_autofree gchar *text = read_dash_text ("template-number/manifest.mpd");
  g_autofree gchar *set = find_set (text, "video");
  g_autofree gchar *base = mesh_test_origin_url (origin, "template-number/");
  const gchar *rep = strstr (set, "<Representation");

  fail_unless (rep != NULL);
  return g_strdup_printf ("<?xml version=\"1.0\"?>\n"
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" "
      "mediaPresentationDuration=\"PT8S\" %s>\n<BaseURL>%s</BaseURL>\n"
      "<Period id=\"p0\" duration=\"PT8S\">\n<AdaptationSet id=\"vid\" "
      "contentType=\"video\" mimeType=\"video/mp4\" %s>\n%s\n%s\n%s"
      "</Period>\n</MPD>\n", mpd_attributes, base, set_attributes,
      set_children, rep, sets);
}

/* ... with @protection (ContentProtection elements) in the video set */
static gchar *
template_number_with (const gchar * protection)
{
  return template_number_mpd ("minBufferTime=\"PT2S\"", "", protection, "");
}

/* Protection the element cannot work with is refused by name, before any
 * segment is fetched: SEA encrypts whole segments, which would otherwise
 * fail as "Could not determine the type". */
GST_START_TEST (test_unsupported_protection_refused)
{
  g_autofree gchar *sea = template_number_with ("<ContentProtection "
      "schemeIdUri=\"urn:mpeg:dash:sea:2012\"/>");
  g_autofree gchar *unknown = template_number_with ("<ContentProtection "
      "schemeIdUri=\"urn:example:drm:2024\"/>");
  g_autofree gchar *with_cenc = template_number_with ("<ContentProtection "
      "schemeIdUri=\"urn:example:drm:2024\"/><ContentProtection "
      "schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\"/>");
  g_autoptr (GError) sea_error = NULL;
  g_autoptr (GError) unknown_error = NULL;
  MeshCollector *c;

  mesh_origin_server_reset_stats (origin);
  write_bad_file ("sea.mpd", sea, -1);
  write_bad_file ("unknown.mpd", unknown, -1);
  write_bad_file ("with-cenc.mpd", with_cenc, -1);

  sea_error = play_bad_mpd ("sea.mpd");
  assert_mentions (sea_error, "AdaptationSet 'vid': ContentProtection "
      "urn:mpeg:dash:sea:2012 (segment encryption) is not supported");
  fail_if (strstr (sea_error->message, "Could not determine") != NULL);

  unknown_error = play_bad_mpd ("unknown.mpd");
  assert_mentions (unknown_error, "ContentProtection urn:example:drm:2024 is "
      "not a supported protection scheme");

  fail_unless_equals_int (mesh_origin_server_get_requests (origin,
          "/template-number/"), 0);

  /* beside Common Encryption, an unknown scheme is only one more */
  c = play_to_end (make_src_on (bad_origin, "with-cenc.mpd"), "with-cenc.mpd");
  fail_unless_equals_int (c->pads->len, 1);
  mesh_collector_free (c);
}

GST_END_TEST;

/* sub-en.vtt and sub-fr.vtt on the scratch origin: 8 cues of 1 s each */
static void
write_sidecar_files (void)
{
  static const gchar *const languages[] = { "en", "fr" };
  guint l, c;

  for (l = 0; l < G_N_ELEMENTS (languages); l++) {
    g_autofree gchar *name = g_strdup_printf ("sub-%s.vtt", languages[l]);
    GString *cues = g_string_new ("WEBVTT\n\n");

    for (c = 0; c < 8; c++)
      g_string_append_printf (cues, "00:00:%02u.000 --> 00:00:%02u.900\n"
          "%s cue %u\n\n", c, c, languages[l], c);
    write_bad_file (name, cues->str, -1);
    g_string_free (cues, TRUE);
  }
}

/* A text AdaptationSet (with @set_children) of the sidecar file of
 * @language: no segment information, the file is the Period's one segment */
static gchar *
sidecar_set (const gchar * language, const gchar * set_children,
    const gchar * representation_attributes)
{
  g_autofree gchar *file = g_strdup_printf ("sub-%s.vtt", language);
  g_autofree gchar *url = mesh_test_origin_url (bad_origin, file);

  return g_strdup_printf ("<AdaptationSet id=\"subs-%s\" "
      "contentType=\"text\" mimeType=\"text/vtt\" lang=\"%s\">%s\n"
      "<Representation id=\"sub-%s\" %s><BaseURL>%s</BaseURL>"
      "</Representation>\n</AdaptationSet>\n", language, language,
      set_children, language, representation_attributes, url);
}

/* Plays @name: a video pad and a text pad whose bytes are sub-en.vtt, the
 * first text AdaptationSet, as dashdemux2 selects */
static void
check_sidecar_pad (const gchar * name)
{
  MeshCollector *c = play_to_end (make_src_on (bad_origin, name), name);
  g_autofree gchar *path = g_build_filename (bad_dir, "sub-en.vtt", NULL);
  g_autofree gchar *text = NULL;
  g_autoptr (GBytes) expected = NULL;
  g_autoptr (GBytes) got = NULL;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL));
  expected = g_bytes_new (text, strlen (text));
  fail_unless_equals_int (c->pads->len, 2);
  fail_unless_equals_string (mesh_collector_caps_name (c, 1),
      "application/x-subtitle-vtt");
  got = mesh_collector_get_bytes (c, 1);
  mesh_test_assert_bytes_equal (got, expected, name);
  mesh_collector_free (c);
}

/* The first cue playbin and playbin3 show through meshdashsrc */
static void
check_players_show (const gchar * name, const gchar * first_cue)
{
  g_autofree gchar *url = mesh_test_origin_url (bad_origin, name);
  g_autofree gchar *mesh_uri = g_strconcat ("meshdash+", url, NULL);

  mesh_test_check_players_show (mesh_uri, first_cue, 8, PLAY_TIMEOUT_S);
}

/* Two sidecar WebVTT files in text AdaptationSets (the second with Role
 * main, which dashdemux2 does not prefer): the first is played, as
 * dashdemux2 does under playbin3 (and the legacy dashdemux under playbin). */
GST_START_TEST (test_sidecar_subtitles)
{
  g_autofree gchar *en = sidecar_set ("en", "", "bandwidth=\"256\"");
  g_autofree gchar *fr = sidecar_set ("fr", "<Role schemeIdUri="
      "\"urn:mpeg:dash:role:2011\" value=\"main\"/>", "bandwidth=\"256\"");
  g_autofree gchar *sets = g_strconcat (en, fr, NULL);
  g_autofree gchar *mpd = template_number_mpd ("minBufferTime=\"PT2S\"", "",
      "", sets);
  g_autofree gchar *url = NULL;
  g_autofree gchar *reference = NULL;
  guint n;

  write_sidecar_files ();
  write_bad_file ("subs.mpd", mpd, -1);

  check_sidecar_pad ("subs.mpd");
  url = mesh_test_origin_url (bad_origin, "subs.mpd");
  reference = mesh_test_play_first_cue ("playbin3", url, &n, PLAY_TIMEOUT_S);
  fail_unless_equals_string (reference, "en cue 0");
  check_players_show ("subs.mpd", "en cue 0");
}

GST_END_TEST;

/* The same as packagers also write it: no minBufferTime, no bandwidth on
 * the sidecar Representations (dashdemux2 refuses both), frameRate as a
 * decimal */
GST_START_TEST (test_sidecar_subtitles_lenient)
{
  g_autofree gchar *en = sidecar_set ("en", "", "");
  g_autofree gchar *fr = sidecar_set ("fr", "", "");
  g_autofree gchar *sets = g_strconcat (en, fr, NULL);
  g_autofree gchar *mpd = template_number_mpd ("", "frameRate=\"25.0\"",
      "", sets);

  write_sidecar_files ();
  write_bad_file ("subs-lenient.mpd", mpd, -1);
  check_sidecar_pad ("subs-lenient.mpd");
  check_players_show ("subs-lenient.mpd", "en cue 0");
}

GST_END_TEST;

static Suite *
meshdashsrc_suite (void)
{
  Suite *s = suite_create ("meshdashsrc");
  TCase *tc_vod = tcase_create ("vod");
  TCase *tc_net = tcase_create ("net");
  TCase *tc_live = tcase_create ("live");
  TCase *tc_bad = tcase_create ("bad");
  TCase *tc_compat;

  suite_add_tcase (s, tc_vod);
  tcase_add_checked_fixture (tc_vod, origin_setup, origin_teardown);
  tcase_add_test (tc_vod, test_template_timeline);
  tcase_add_test (tc_vod, test_template_number);
  tcase_add_test (tc_vod, test_segment_list);
  tcase_add_test (tc_vod, test_segment_base_sidx);
  tcase_add_test (tc_vod, test_template_timestamps);
  tcase_add_test (tc_vod, test_multi_period_timestamps);
  tcase_add_test (tc_vod, test_dashsink_mpd);
  tcase_add_test (tc_vod, test_decodes_like_dashdemux2);
  tcase_add_test (tc_vod, test_uri_handler);
  tcase_add_test (tc_vod, test_seek_vod);

  suite_add_tcase (s, tc_net);
  tcase_add_checked_fixture (tc_net, origin_setup, origin_teardown);
  tcase_add_test (tc_net, test_abr_switch_on_slow_link);

  suite_add_tcase (s, tc_live);
  tcase_add_checked_fixture (tc_live, origin_setup, origin_teardown);
  tcase_add_test (tc_live, test_live_edge_and_reload);

  suite_add_tcase (s, tc_bad);
  tcase_add_checked_fixture (tc_bad, bad_origin_setup, bad_origin_teardown);
  tcase_add_test (tc_bad, test_garbage_mpd);
  tcase_add_test (tc_bad, test_mpd_without_adaptation_set);
  tcase_add_test (tc_bad, test_unknown_segment_scheme);
  tcase_add_test (tc_bad, test_content_protection_events);
  tcase_add_test (tc_bad, test_live_clock_from_utc_timing);
  tcase_add_test (tc_bad, test_live_becomes_static);
  tcase_add_test (tc_bad, test_windows_of_many_segments);
  tcase_add_test (tc_bad, test_reload_floor);

  tc_compat = tcase_create ("compat");
  suite_add_tcase (s, tc_compat);
  tcase_add_checked_fixture (tc_compat, bad_origin_setup, bad_origin_teardown);
  tcase_add_test (tc_compat, test_periods_over_one_segment_base_file);
  tcase_add_test (tc_compat, test_webm_segment_base_refused);
  tcase_add_test (tc_compat, test_unsupported_protection_refused);
  tcase_add_test (tc_compat, test_sidecar_subtitles);
  tcase_add_test (tc_compat, test_sidecar_subtitles_lenient);
  return s;
}

GST_CHECK_MAIN (meshdashsrc);
