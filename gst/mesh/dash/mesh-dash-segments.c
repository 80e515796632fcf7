/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MPEG-DASH segment listing: SegmentTemplate expansion, SegmentTimeline and
 * @duration numbering, SegmentList entries, init sections, and the segments
 * of a SegmentBase file from its 'sidx' index (parsed by
 * mesh-isobmff-index.c).
 *
 * Threading: none of its own. Every function works on the caller's data only
 * and may be called from any thread; there is no global state.
 *
 * Policy:
 *  - Segments are listed for a window, never for a whole presentation that
 *    the MPD could make as long as it likes: a player asks for the few it
 *    is about to fetch (mesh_dash_representation_list_window(), whose cost
 *    is its @max whatever the MPD says).
 *  - A listing call by time range appends at most MAX_LISTED_SEGMENTS
 *    segments, and counts them before allocating any, so that a timeline
 *    repeating a billion times costs an error, not the memory.
 *  - Expanded URLs are at most MAX_URL_LENGTH bytes.
 *  - Segments wholly before the Period start (presentationTimeOffset) are
 *    left out; one across it is clamped to start at 0.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-dash-segments.h"
#include "mesh-isobmff-index.h"
#include "../mesh-uri.h"

#include <string.h>

/* Bound on segments appended by one listing call */
#define MAX_LISTED_SEGMENTS 1000000
#define MAX_TEMPLATE_WIDTH 20
/* As the MPD parser's: a window of segments costs at most its size times
 * this */
#define MAX_URL_LENGTH (16 * 1024)

void
mesh_dash_segment_clear (MeshDashSegment * segment)
{
  g_clear_pointer (&segment->url, g_free);
}

/* ------------------------------------------------------------------------ */
/* Templates */

/* "%0Nd" with 1 <= N <= MAX_TEMPLATE_WIDTH; "" = no format */
static gboolean
parse_width_format (const gchar * format, gsize len, guint * width)
{
  const gchar *p;
  guint n = 0;

  *width = 0;
  if (len == 0)
    return TRUE;
  /* one or two digits between "%0" and "d" */
  if (len < 4 || len > 5 || format[0] != '%' || format[1] != '0'
      || format[len - 1] != 'd')
    return FALSE;
  for (p = format + 2; p < format + len - 1; p++) {
    if (!g_ascii_isdigit (*p))
      return FALSE;
    n = n * 10 + (*p - '0');
  }
  if (n < 1 || n > MAX_TEMPLATE_WIDTH)
    return FALSE;
  *width = n;
  return TRUE;
}

static gboolean
append_identifier (GString * out, const gchar * ident, gsize len,
    const MeshDashRepresentation * rep, guint64 number, guint64 time,
    gboolean allow_number_time, GError ** error)
{
  const gchar *percent = memchr (ident, '%', len);
  gsize name_len = percent ? (gsize) (percent - ident) : len;
  guint width;
  guint64 value;

  if (!parse_width_format (ident + name_len, len - name_len, &width)) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "$%.*s$ has a format other than %%0<width>d", (int) len, ident);
    return FALSE;
  }
#define IS(name) (name_len == strlen (name) && strncmp (ident, name, name_len) == 0)
  if (IS ("RepresentationID") && percent == NULL) {
    g_string_append (out, rep->id ? rep->id : "");
    return TRUE;
  }
  if ((IS ("Number") || IS ("Time")) && !allow_number_time) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "$%.*s$ is not allowed here", (int) len, ident);
    return FALSE;
  }
  if (IS ("Number"))
    value = number;
  else if (IS ("Time"))
    value = time;
  else if (IS ("Bandwidth"))
    value = rep->bandwidth;
  else {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "unknown identifier $%.*s$", (int) len, ident);
    return FALSE;
  }
#undef IS
  g_string_append_printf (out, "%0*" G_GUINT64_FORMAT, (int) width, value);
  return TRUE;
}

gchar *
mesh_dash_expand_template (const MeshDashRepresentation * rep,
    const gchar * template, guint64 number, guint64 time,
    gboolean allow_number_time, GError ** error)
{
  GString *out = g_string_new (NULL);
  const gchar *p = template;
  GError *uri_error = NULL;
  gchar *resolved;

  g_return_val_if_fail (rep != NULL, NULL);
  g_return_val_if_fail (template != NULL, NULL);

  while (*p != '\0') {
    const gchar *start = strchr (p, '$'), *end;

    if (start == NULL) {
      g_string_append (out, p);
      break;
    }
    g_string_append_len (out, p, start - p);
    end = strchr (start + 1, '$');
    if (end == NULL) {
      g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
          "unterminated identifier in '%s'", template);
      g_string_free (out, TRUE);
      return NULL;
    }
    if (end == start + 1)
      g_string_append_c (out, '$');
    else if (!append_identifier (out, start + 1, end - start - 1, rep, number,
            time, allow_number_time, error)) {
      g_string_free (out, TRUE);
      return NULL;
    }
    p = end + 1;
  }

  resolved = mesh_uri_resolve (rep->base_url, out->str, &uri_error);
  if (resolved == NULL) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "'%s' cannot be resolved: %s", out->str, uri_error->message);
    g_error_free (uri_error);
  } else if (strlen (resolved) > MAX_URL_LENGTH) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_UNSUPPORTED,
        "'%s' expands to a URL longer than %u bytes", template, MAX_URL_LENGTH);
    g_clear_pointer (&resolved, g_free);
  }
  g_string_free (out, TRUE);
  return resolved;
}

gchar *
mesh_dash_expand_url (const MeshDashRepresentation * rep,
    const gchar * template, guint64 number, guint64 time, GError ** error)
{
  return mesh_dash_expand_template (rep, template, number, time, TRUE, error);
}

/* ------------------------------------------------------------------------ */
/* Segment listing */

typedef enum
{
  EMIT_CONTINUE,
  EMIT_DONE,
  EMIT_FAILED,
} EmitResult;

typedef struct
{
  const MeshDashRepresentation *rep;
  const MeshDashSegmentInfo *info;
  GstClockTime from;
  GstClockTime limit;           /* min (to, period end), NONE = unbounded */
  GstClockTime period_duration;
  GArray *out;
  gboolean counting;            /* only count, to refuse too many segments
                                 * before allocating anything */
  gboolean holding;             /* a window: from the segment that holds
                                 * @from (ends after it), not the first
                                 * that starts at or after it */
  guint max;                    /* a window's size: more is not an error */
  gboolean truncated;           /* the window is full, more follow */
  guint appended;
  GError **error;
} Lister;

/* Period-relative ns of media time @t; a segment starting before the
 * period start is clamped to it */
static GstClockTime
period_time (const MeshDashSegmentInfo * info, guint64 t)
{
  if (t <= info->presentation_time_offset)
    return 0;
  return gst_util_uint64_scale (t - info->presentation_time_offset,
      GST_SECOND, info->timescale);
}

/* Media time at or just below period-relative @ns, saturating */
static guint64
media_time (const MeshDashSegmentInfo * info, GstClockTime ns)
{
  guint64 units = gst_util_uint64_scale (ns, info->timescale, GST_SECOND);

  if (units > G_MAXUINT64 - info->presentation_time_offset)
    return G_MAXUINT64;
  return units + info->presentation_time_offset;
}

static gboolean
segment_url (Lister * l, guint64 seq, guint64 number, guint64 t,
    MeshDashSegment * segment)
{
  const MeshDashSegmentInfo *info = l->info;
  const MeshDashSegmentUrl *url;

  if (info->kind == MESH_DASH_SEGMENTS_SINGLE) {
    segment->url = g_strdup (l->rep->base_url);
    return TRUE;
  }
  if (info->kind == MESH_DASH_SEGMENTS_TEMPLATE) {
    segment->url =
        mesh_dash_expand_template (l->rep, info->media_template, number, t,
        TRUE, l->error);
    return segment->url != NULL;
  }
  url = g_ptr_array_index (info->urls, seq);
  segment->url = g_strdup (url->media ? url->media : l->rep->base_url);
  segment->offset = url->media_offset;
  segment->size = url->media_size;
  return TRUE;
}

/* Appends segment @seq (0-based from the first of the Representation) at
 * media time @t lasting @d units (0: unknown, then @duration_ns) */
static EmitResult
emit (Lister * l, guint64 seq, guint64 t, guint64 d, GstClockTime duration_ns)
{
  const MeshDashSegmentInfo *info = l->info;
  MeshDashSegment segment = { 0, };
  GstClockTime start, duration;
  guint64 number;

  if (info->kind == MESH_DASH_SEGMENTS_LIST && seq >= info->urls->len)
    return EMIT_DONE;
  start = period_time (info, t);
  if (l->limit != GST_CLOCK_TIME_NONE && start >= l->limit)
    return EMIT_DONE;
  if (seq > G_MAXUINT64 - info->start_number)
    return EMIT_DONE;
  number = info->start_number + seq;
  if (info->end_number >= 0 && number > (guint64) info->end_number)
    return EMIT_DONE;
  if (d == 0)
    duration = duration_ns;
  else if (t > G_MAXUINT64 - d)
    duration = period_time (info, G_MAXUINT64) - start;
  else
    duration = period_time (info, t + d) - start;
  if (l->holding ? start + duration <= l->from : start < l->from)
    return EMIT_CONTINUE;
  if (l->appended >= l->max) {
    l->truncated = TRUE;
    return EMIT_DONE;
  }
  if (l->appended >= MAX_LISTED_SEGMENTS) {
    g_set_error (l->error, MESH_DASH_ERROR, MESH_DASH_ERROR_UNSUPPORTED,
        "Representation '%s': more than %u segments in the requested range",
        l->rep->id, MAX_LISTED_SEGMENTS);
    return EMIT_FAILED;
  }
  if (l->counting) {
    l->appended++;
    return EMIT_CONTINUE;
  }

  segment.offset = segment.size = -1;
  if (!segment_url (l, seq, number, t, &segment))
    return EMIT_FAILED;
  segment.number = number;
  segment.time = t;
  segment.start = start;
  segment.duration = duration;
  g_array_append_val (l->out, segment);
  l->appended++;
  return EMIT_CONTINUE;
}

/* How many segments S number @i stands for; G_MAXUINT64 when it repeats to
 * the end of an open range (the limit stops it) */
static guint64
timeline_count (const Lister * l, guint i)
{
  const GArray *timeline = l->info->timeline;
  const MeshDashTimelineEntry *e = &g_array_index (timeline,
      MeshDashTimelineEntry, i);
  guint64 end;

  if (e->r >= 0)
    return (guint64) e->r + 1;
  if (i + 1 < timeline->len)
    end = g_array_index (timeline, MeshDashTimelineEntry, i + 1).t;
  else if (l->limit != GST_CLOCK_TIME_NONE)
    return G_MAXUINT64;
  else
    return 0;
  return end > e->t ? (end - e->t + e->d - 1) / e->d : 0;
}

static gboolean
list_timeline (Lister * l)
{
  const GArray *timeline = l->info->timeline;
  guint64 seq = 0, from_t = media_time (l->info, l->from);
  guint i;

  for (i = 0; i < timeline->len; i++) {
    const MeshDashTimelineEntry *e = &g_array_index (timeline,
        MeshDashTimelineEntry, i);
    guint64 count = timeline_count (l, i), k = 0;

    /* jump to the segment holding @from (repeat counts may be huge); this
     * also leaves out segments wholly before the period start */
    if (from_t > e->t)
      k = MIN ((from_t - e->t) / e->d, count);
    for (; k < count; k++) {
      EmitResult result;

      if (k > (G_MAXUINT64 - e->t) / e->d || k > G_MAXUINT64 - seq)
        return TRUE;
      result = emit (l, seq + k, e->t + k * e->d, e->d, 0);
      if (result == EMIT_FAILED)
        return FALSE;
      if (result == EMIT_DONE)
        return TRUE;
    }
    if (count > G_MAXUINT64 - seq)
      return TRUE;
    seq += count;
  }
  return TRUE;
}

/* Segments of @duration units each from the period start */
static gboolean
list_by_duration (Lister * l)
{
  const MeshDashSegmentInfo *info = l->info;
  guint64 pto = info->presentation_time_offset, d = info->duration;
  guint64 seq = (media_time (info, l->from) - pto) / d;

  for (;; seq++) {
    EmitResult result;

    if (seq > (G_MAXUINT64 - pto) / d)
      return TRUE;
    result = emit (l, seq, pto + seq * d, d, 0);
    if (result == EMIT_FAILED)
      return FALSE;
    if (result == EMIT_DONE)
      return TRUE;
  }
}

static gboolean
list_segments (Lister * l)
{
  const MeshDashSegmentInfo *info = l->info;
  const MeshDashRepresentation *rep = l->rep;
  GError **error = l->error;

  if (info->timeline != NULL) {
    const MeshDashTimelineEntry *last = &g_array_index (info->timeline,
        MeshDashTimelineEntry, info->timeline->len - 1);

    if (last->r < 0 && l->limit == GST_CLOCK_TIME_NONE) {
      g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
          "Representation '%s': the period is open and the SegmentTimeline "
          "ends with @r=-1: an end time is needed", rep->id);
      return FALSE;
    }
    return list_timeline (l);
  }
  if (info->duration != 0) {
    if (l->limit == GST_CLOCK_TIME_NONE && info->end_number < 0) {
      g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
          "Representation '%s': the period is open: an end time is needed",
          rep->id);
      return FALSE;
    }
    return list_by_duration (l);
  }
  /* one segment lasting the whole period: a SegmentList of one, or a file */
  if ((info->kind == MESH_DASH_SEGMENTS_LIST && info->urls != NULL
          && info->urls->len == 1) || info->kind == MESH_DASH_SEGMENTS_SINGLE) {
    if (l->period_duration == GST_CLOCK_TIME_NONE) {
      g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
          "Representation '%s': one segment for an open period: its "
          "duration is needed", rep->id);
      return FALSE;
    }
    return emit (l, 0, info->presentation_time_offset, 0,
        l->period_duration) != EMIT_FAILED;
  }
  g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
      "Representation '%s': neither @duration nor SegmentTimeline", rep->id);
  return FALSE;
}

/* FALSE with @error when @rep has no segments that can be listed */
static gboolean
lister_init (Lister * l, const MeshDashRepresentation * rep,
    GstClockTime period_duration, GstClockTime from, GstClockTime to,
    GArray * out, GError ** error)
{
  const MeshDashSegmentInfo *info = &rep->segments;

  if (info->kind != MESH_DASH_SEGMENTS_TEMPLATE
      && info->kind != MESH_DASH_SEGMENTS_LIST
      && info->kind != MESH_DASH_SEGMENTS_SINGLE) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_UNSUPPORTED,
        "Representation '%s': %s", rep->id,
        info->kind == MESH_DASH_SEGMENTS_BASE ? "SegmentBase segments come "
        "from the sidx box" : "no segment information");
    return FALSE;
  }
  if (info->timescale == 0 || (info->kind == MESH_DASH_SEGMENTS_TEMPLATE
          && info->media_template == NULL) || (info->kind ==
          MESH_DASH_SEGMENTS_LIST && (info->urls == NULL
              || info->urls->len == 0))) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "Representation '%s': incomplete segment information", rep->id);
    return FALSE;
  }
  memset (l, 0, sizeof (*l));
  l->rep = rep;
  l->info = info;
  l->from = from;
  l->limit = MIN (to, period_duration);
  l->period_duration = period_duration;
  l->out = out;
  l->max = G_MAXUINT;
  l->error = error;
  return TRUE;
}

gboolean
mesh_dash_representation_list_segments (const MeshDashRepresentation * rep,
    GstClockTime period_duration, GstClockTime from, GstClockTime to,
    GArray * out, GError ** error)
{
  Lister l;
  guint initial_len;
  gboolean ok;

  g_return_val_if_fail (rep != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (GST_CLOCK_TIME_IS_VALID (from), FALSE);

  if (!lister_init (&l, rep, period_duration, from, to, out, error))
    return FALSE;
  if (from >= l.limit)
    return TRUE;

  initial_len = out->len;
  l.counting = TRUE;
  if (!list_segments (&l))
    return FALSE;
  l.counting = FALSE;
  l.appended = 0;
  ok = list_segments (&l);
  /* nothing half-done on error */
  if (!ok)
    g_array_set_size (out, initial_len);
  return ok;
}

gboolean
mesh_dash_representation_list_window (const MeshDashRepresentation * rep,
    GstClockTime period_duration, GstClockTime from, GstClockTime to,
    guint max, GArray * out, gboolean * truncated, GError ** error)
{
  Lister l;
  guint initial_len;

  g_return_val_if_fail (rep != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (GST_CLOCK_TIME_IS_VALID (from), FALSE);
  g_return_val_if_fail (max > 0 && max <= MAX_LISTED_SEGMENTS, FALSE);

  if (truncated)
    *truncated = FALSE;
  if (!lister_init (&l, rep, period_duration, from, to, out, error))
    return FALSE;
  if (from >= l.limit)
    return TRUE;

  /* @max bounds the work: no counting pass */
  initial_len = out->len;
  l.holding = TRUE;
  l.max = max;
  if (!list_segments (&l)) {
    g_array_set_size (out, initial_len);
    return FALSE;
  }
  if (truncated)
    *truncated = l.truncated;
  return TRUE;
}

gboolean
mesh_dash_representation_get_init (const MeshDashRepresentation * rep,
    gchar ** url, gint64 * offset, gint64 * size, GError ** error)
{
  const MeshDashSegmentInfo *info;

  g_return_val_if_fail (rep != NULL, FALSE);
  g_return_val_if_fail (url != NULL, FALSE);

  info = &rep->segments;
  *url = NULL;
  if (offset)
    *offset = -1;
  if (size)
    *size = -1;

  if (info->kind == MESH_DASH_SEGMENTS_TEMPLATE && info->init_template) {
    *url =
        mesh_dash_expand_template (rep, info->init_template, info->start_number,
        0, FALSE, error);
    return *url != NULL;
  }
  if (info->init_url != NULL) {
    *url = g_strdup (info->init_url);
    if (offset)
      *offset = info->init_offset;
    if (size)
      *size = info->init_offset >= 0 ? info->init_size : -1;
    return TRUE;
  }
  /* on-demand profile: ftyp and moov come before the sidx */
  if (info->kind == MESH_DASH_SEGMENTS_BASE && info->index_offset > 0
      && rep->base_url != NULL) {
    *url = g_strdup (rep->base_url);
    if (offset)
      *offset = 0;
    if (size)
      *size = info->index_offset;
    return TRUE;
  }
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* SegmentBase: the index */

/* The EBML ID a WebM Cues element starts with (Matroska 0x1C53BB6B) */
static const guint8 webm_cues_id[] = { 0x1c, 0x53, 0xbb, 0x6b };

MeshIsobmffIndex *
mesh_dash_parse_index (const guint8 * data, gsize len, guint64 offset,
    GError ** error)
{
  MeshIsobmffIndex *index;
  GError *index_error = NULL;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  /* a packager's choice the MPD does not always tell (mimeType may be
   * wrong): name it rather than call it a broken sidx */
  if (len >= sizeof (webm_cues_id)
      && memcmp (data, webm_cues_id, sizeof (webm_cues_id)) == 0) {
    g_set_error_literal (error, MESH_DASH_ERROR, MESH_DASH_ERROR_UNSUPPORTED,
        "WebM SegmentBase (Cues index) is not supported");
    return NULL;
  }
  index = mesh_isobmff_index_parse (data, len, offset, &index_error);
  if (index == NULL) {
    g_set_error_literal (error, MESH_DASH_ERROR,
        index_error->code == MESH_ISOBMFF_ERROR_UNSUPPORTED ?
        MESH_DASH_ERROR_UNSUPPORTED : MESH_DASH_ERROR_INVALID,
        index_error->message);
    g_error_free (index_error);
  }
  return index;
}

/* ns of time @t of @index */
static GstClockTime
index_time (const MeshIsobmffIndex * index, guint64 t)
{
  return gst_util_uint64_scale (t, GST_SECOND, index->timescale);
}

/* The subsegments of @index within the Period, from the one that ends
 * after @from on, at most @max of them */
static gboolean
list_index (const MeshDashRepresentation * rep,
    const MeshIsobmffIndex * index, GstClockTime period_duration,
    GstClockTime from, guint max, GArray * out, gboolean * truncated,
    GError ** error)
{
  const MeshDashSegmentInfo *info = &rep->segments;
  GstClockTime pto;
  guint i, appended = 0;

  if (truncated)
    *truncated = FALSE;
  if (info->kind != MESH_DASH_SEGMENTS_BASE) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "Representation '%s' has no SegmentBase", rep->id);
    return FALSE;
  }
  /* presentationTimeOffset counts in the MPD's timescale, the index in its
   * own: compare them in ns */
  pto = gst_util_uint64_scale (info->presentation_time_offset, GST_SECOND,
      MAX (info->timescale, 1));

  for (i = 0; i < index->subsegments->len; i++) {
    const MeshIsobmffSubsegment *sub = &g_array_index (index->subsegments,
        MeshIsobmffSubsegment, i);
    GstClockTime start = index_time (index, sub->time);
    GstClockTime end = index_time (index, sub->time + sub->duration);
    MeshDashSegment segment = { 0, };

    /* wholly before the Period: it belongs to another one */
    if (end <= pto)
      continue;
    /* subsegments follow each other: the rest is after the Period */
    if (start >= pto && start - pto >= period_duration)
      break;
    if (end - pto <= from)
      continue;
    if (appended == max) {
      if (truncated)
        *truncated = TRUE;
      break;
    }
    appended++;
    segment.url = g_strdup (rep->base_url);
    segment.offset = sub->offset;
    segment.size = sub->size;
    segment.number = i + 1;
    segment.time = sub->time;
    segment.start = start > pto ? start - pto : 0;
    segment.duration = end - pto - segment.start;
    g_array_append_val (out, segment);
  }
  return TRUE;
}

gboolean
mesh_dash_representation_index_segments (const MeshDashRepresentation * rep,
    const MeshIsobmffIndex * index, GstClockTime period_duration,
    GArray * out, GError ** error)
{
  g_return_val_if_fail (rep != NULL, FALSE);
  g_return_val_if_fail (index != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  return list_index (rep, index, period_duration, 0, G_MAXUINT, out, NULL,
      error);
}

gboolean
mesh_dash_representation_index_window (const MeshDashRepresentation * rep,
    const MeshIsobmffIndex * index, GstClockTime period_duration,
    GstClockTime from, guint max, GArray * out, gboolean * truncated,
    GError ** error)
{
  g_return_val_if_fail (rep != NULL, FALSE);
  g_return_val_if_fail (index != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (GST_CLOCK_TIME_IS_VALID (from), FALSE);
  g_return_val_if_fail (max > 0, FALSE);

  return list_index (rep, index, period_duration, from, max, out, truncated,
      error);
}
