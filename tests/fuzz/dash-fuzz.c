/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the MPEG-DASH parsers: the MPD parser
 * (gst/mesh/dash/mesh-dash-mpd.c) with the segment lists it leads to
 * (mesh-dash-segments.c), and the 'sidx' index parser
 * (mesh-isobmff-index.c) on raw bytes. See README.md in this directory.
 *
 * Threads: libFuzzer's one; nothing is shared between inputs.
 *
 * Input: bit 0 of byte 0 chooses the parser. 0: the rest is an MPD; every
 * Representation of every Period has its init section and segments listed
 * as meshdashsrc lists them, window after window from the start
 * (mesh_dash_representation_list_window(), bounded to two minutes of an
 * open Period; SegmentBase ones through a fixed index), and the first
 * Representation of the first Period its first second by time range as
 * well. 1: the rest is a sidx box, whose subsegments must follow each
 * other, turned into the segments of a SegmentBase Representation whose
 * timescale and presentationTimeOffset come from the box's first bytes,
 * all at once and window after window. Listed segments must lie in the
 * range asked for, a window start with the segment that holds where it
 * was asked from, and windows follow each other.
 *
 * Built and run by run-fuzzers.sh, from the top of the tree, as these
 * lines say (README.md):
 *   fuzz-sources: gst/mesh/dash/mesh-dash-mpd.c gst/mesh/dash/mesh-dash-segments.c
 *   fuzz-sources: gst/mesh/dash/mesh-isobmff-index.c
 *   fuzz-cflags: -Igst/mesh
 *   fuzz-packages: gstreamer-1.0 libxml-2.0
 *   fuzz-options: -max_len=16384
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dash/mesh-dash-mpd.h"
#include "dash/mesh-dash-segments.h"
#include "mesh-fuzz.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

#define URL "https://cdn.example.com/vod/movie/manifest.mpd?token=abc"
#define OPEN_WINDOW (120 * GST_SECOND)
/* Small windows, a few of them: the walk from one to the next is what
 * matters */
#define WINDOW_SEGMENTS 8
#define MAX_WINDOWS 4

static MeshIsobmffIndex *fixed_index;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  MeshIsobmffSubsegment subs[3] = {
    {1000, 500, 0, 90000}, {1500, 700, 90000, 90000},
    {2200, 300, 180000, 45000},
  };

  gst_init (NULL, NULL);
  g_log_set_default_handler (mesh_fuzz_log_handler, NULL);
  fixed_index = g_new0 (MeshIsobmffIndex, 1);
  fixed_index->timescale = 90000;
  fixed_index->subsegments = g_array_new (FALSE, FALSE,
      sizeof (MeshIsobmffSubsegment));
  g_array_append_vals (fixed_index->subsegments, subs, 3);
  return 0;
}

static GArray *
segment_array (void)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (MeshDashSegment));

  g_array_set_clear_func (out, (GDestroyNotify) mesh_dash_segment_clear);
  return out;
}

static void
check_segments (GArray * out, GstClockTime to)
{
  guint i;

  for (i = 0; i < out->len; i++) {
    const MeshDashSegment *s = &g_array_index (out, MeshDashSegment, i);

    check (s->url != NULL);
    check (!GST_CLOCK_TIME_IS_VALID (to) || s->start < to);
  }
}

/* A window asked from @from: its first segment holds @from, the others
 * follow it; where the next window is asked from */
static GstClockTime
check_window (GArray * out, GstClockTime from, GstClockTime to)
{
  const MeshDashSegment *last = NULL;
  guint i;

  check_segments (out, to);
  for (i = 0; i < out->len; i++) {
    const MeshDashSegment *s = &g_array_index (out, MeshDashSegment, i);

    check (s->start + s->duration > from || s->duration == 0);
    check (last == NULL || s->start >= last->start);
    last = s;
  }
  return last ? last->start + last->duration : from;
}

/* Lists @rep (or, with @index, its SegmentBase subsegments) window by
 * window from the start, as meshdashsrc does */
static void
walk_windows (const MeshDashRepresentation * rep,
    const MeshIsobmffIndex * index, GstClockTime period_duration,
    GstClockTime to)
{
  GstClockTime from = 0;
  guint n;

  for (n = 0; n < MAX_WINDOWS; n++) {
    g_autoptr (GArray) out = segment_array ();
    gboolean truncated = FALSE, ok;
    GError *err = NULL;
    GstClockTime next;

    if (index)
      ok = mesh_dash_representation_index_window (rep, index,
          period_duration, from, WINDOW_SEGMENTS, out, &truncated, &err);
    else
      ok = mesh_dash_representation_list_window (rep, period_duration, from,
          to, WINDOW_SEGMENTS, out, &truncated, &err);
    check (ok == (err == NULL));
    check (ok || out->len == 0);
    check (out->len <= WINDOW_SEGMENTS);
    check (!truncated || out->len == WINDOW_SEGMENTS);
    g_clear_error (&err);
    if (!ok || !truncated)
      return;
    next = check_window (out, from, index ? GST_CLOCK_TIME_NONE : to);
    /* a window that did not get past @from: segments of no duration */
    if (next <= from)
      return;
    from = next;
  }
}

static void
list_representation (const MeshDashRepresentation * rep,
    GstClockTime period_duration, gboolean by_range)
{
  GstClockTime to = GST_CLOCK_TIME_IS_VALID (period_duration) ?
      GST_CLOCK_TIME_NONE : OPEN_WINDOW;
  g_autoptr (GArray) out = segment_array ();
  g_autofree gchar *init_url = NULL;
  gint64 init_offset, init_size;
  GError *err = NULL;
  gboolean ok;

  if (mesh_dash_representation_get_init (rep, &init_url, &init_offset,
          &init_size, &err))
    check (init_url != NULL);
  g_clear_error (&err);

  if (rep->segments.kind == MESH_DASH_SEGMENTS_BASE) {
    ok = mesh_dash_representation_index_segments (rep, fixed_index,
        period_duration, out, &err);
    check (ok);
    check_segments (out, GST_CLOCK_TIME_NONE);
    walk_windows (rep, fixed_index, period_duration, GST_CLOCK_TIME_NONE);
    return;
  }
  walk_windows (rep, NULL, period_duration, to);
  /* by time range: up to a million segments, so once per MPD */
  if (!by_range)
    return;
  ok = mesh_dash_representation_list_segments (rep, period_duration, 0,
      GST_SECOND, out, &err);
  check (ok == (err == NULL));
  check (ok || out->len == 0);
  g_clear_error (&err);
  check_segments (out, GST_SECOND);
}

static void
fuzz_mpd (const gchar * text, gsize len)
{
  g_autoptr (MeshDashMpd) mpd = NULL;
  GError *err = NULL;
  guint p, a, r;

  mpd = mesh_dash_mpd_parse (text, len, URL, &err);
  check ((mpd == NULL) == (err != NULL));
  g_clear_error (&err);
  if (mpd == NULL)
    return;

  for (p = 0; p < mpd->periods->len; p++) {
    const MeshDashPeriod *period = g_ptr_array_index (mpd->periods, p);

    for (a = 0; a < period->adaptation_sets->len; a++) {
      const MeshDashAdaptationSet *set =
          g_ptr_array_index (period->adaptation_sets, a);

      for (r = 0; r < set->representations->len; r++)
        list_representation (g_ptr_array_index (set->representations, r),
            period->duration, p == 0 && a == 0 && r == 0);
    }
  }
}

static void
fuzz_sidx (const guint8 * data, gsize len)
{
  g_autoptr (MeshIsobmffIndex) index = NULL;
  MeshDashRepresentation rep = { 0, };
  GError *err = NULL;
  guint i;

  index = mesh_dash_parse_index (data, len, 4096, &err);
  check ((index == NULL) == (err != NULL));
  g_clear_error (&err);
  if (index == NULL)
    return;

  check (index->timescale != 0);
  for (i = 1; i < index->subsegments->len; i++) {
    const MeshIsobmffSubsegment *prev = &g_array_index (index->subsegments,
        MeshIsobmffSubsegment, i - 1);
    const MeshIsobmffSubsegment *sub = &g_array_index (index->subsegments,
        MeshIsobmffSubsegment, i);

    check (sub->offset == prev->offset + prev->size);
    check (sub->time == prev->time + prev->duration);
  }

  /* a SegmentBase Representation; its numbers from the box's size field */
  rep.id = (gchar *) "r";
  rep.base_url = (gchar *) "https://cdn.example.com/file.mp4";
  rep.segments.kind = MESH_DASH_SEGMENTS_BASE;
  rep.segments.timescale = 1 + data[0];
  rep.segments.presentation_time_offset = data[1] | data[2] << 8;
  {
    g_autoptr (GArray) out = segment_array ();
    GstClockTime period_duration = (data[3] & 1) ? GST_CLOCK_TIME_NONE :
        (GstClockTime) data[3] * GST_SECOND;

    check (mesh_dash_representation_index_segments (&rep, index,
            period_duration, out, NULL));
    check_segments (out, GST_CLOCK_TIME_NONE);
    walk_windows (&rep, index, period_duration, GST_CLOCK_TIME_NONE);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  /* the parsers take a length: no terminator, so ASan sees any read past */
  g_autofree guint8 *copy = NULL;

  if (size < 1)
    return 0;
  copy = g_memdup2 (data + 1, size - 1);
  if (data[0] & 1)
    fuzz_sidx (size > 1 ? copy : (const guint8 *) "", size - 1);
  else
    fuzz_mpd (size > 1 ? (const gchar *) copy : "", size - 1);
  return 0;
}
