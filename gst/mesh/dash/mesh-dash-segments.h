/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The segments of an MPEG-DASH Representation (ISO/IEC 23009-1 5.3.9):
 * SegmentTemplate URLs, SegmentTimeline and @duration numbering,
 * SegmentList entries, init sections, the segments a SegmentBase file's
 * 'sidx' index lists within a Period, and single-file Representations.
 * Pure: a parsed MeshDashRepresentation in, segments out; no I/O, no
 * global state, any thread.
 *
 * Segment times are relative to the start of their Period: the
 * Representation's presentationTimeOffset is taken off.
 */
#pragma once

#include "mesh-dash-mpd.h"
#include "mesh-isobmff-index.h"

G_BEGIN_DECLS

/* A segment of a Representation. */
typedef struct {
  gchar *url;                   /* absolute */
  gint64 offset;                /* byte range, -1 = whole file */
  gint64 size;
  guint64 number;               /* $Number$ (or index + startNumber) */
  guint64 time;                 /* $Time$, timescale units */
  GstClockTime start;           /* presentation time relative to the
                                 * period start (presentationTimeOffset
                                 * removed) */
  GstClockTime duration;
} MeshDashSegment;

void mesh_dash_segment_clear (MeshDashSegment * segment);

/* Expands $RepresentationID$, $Number$, $Time$, $Bandwidth$ (with %0Nd width
 * formats) and $$ in @template and resolves the result against the
 * Representation's BaseURL. NULL with @error on a malformed template. */
gchar *mesh_dash_expand_url (const MeshDashRepresentation * rep,
    const gchar * template, guint64 number, guint64 time, GError ** error);

/* The same, for SegmentTemplate@initialization as well: with
 * @allow_number_time FALSE, $Number$ and $Time$ are errors. */
gchar *mesh_dash_expand_template (const MeshDashRepresentation * rep,
    const gchar * template, guint64 number, guint64 time,
    gboolean allow_number_time, GError ** error);

/* Lists the segments of @rep (TEMPLATE, LIST or SINGLE kinds) that start
 * within [@from, @to) of the period (period-relative times; @to NONE = to
 * the end).
 * @period_duration bounds templates without a timeline or with r = -1
 * (NONE: open, then @to must be valid). Appends MeshDashSegment to @out
 * (a GArray with mesh_dash_segment_clear as clear func). FALSE with @error
 * on malformed templates. SegmentBase needs the sidx: see below. At most
 * 1000000 segments per call: more is MESH_DASH_ERROR_UNSUPPORTED, and on any
 * error nothing is appended. Segments wholly before the period start
 * (presentationTimeOffset) are left out; one across it starts at 0. */
gboolean mesh_dash_representation_list_segments (const MeshDashRepresentation *
    rep, GstClockTime period_duration, GstClockTime from, GstClockTime to,
    GArray * out, GError ** error);

/* What a player lists: a window of at most @max segments (1 to 1000000)
 * from the one that holds @from (the first that ends after it) on, that
 * start before @to (NONE = the end of the period; an open period needs a
 * valid @to as above). Its cost is bounded by @max whatever the MPD says.
 * *@truncated (may be NULL) is TRUE when segments follow the last one
 * listed that the window had no room for. Errors as above; on error
 * nothing is appended. */
gboolean mesh_dash_representation_list_window (const MeshDashRepresentation *
    rep, GstClockTime period_duration, GstClockTime from, GstClockTime to,
    guint max, GArray * out, gboolean * truncated, GError ** error);

/* The init section of @rep: absolute URL and byte range (-1 offset = whole),
 * or FALSE when it has none. Transfer full for @url. */
gboolean mesh_dash_representation_get_init (const MeshDashRepresentation * rep,
    gchar ** url, gint64 * offset, gint64 * size, GError ** error);

/* Parses the index that SegmentBase@indexRange names: @data, found at file
 * offset @offset. The index is an ISO BMFF 'sidx' box; a WebM Cues element
 * (the index of WebM SegmentBase files) is refused by name. NULL with @error
 * (MESH_DASH_ERROR_INVALID, or _UNSUPPORTED for Cues and hierarchical
 * indexes) when it cannot be used. */
MeshIsobmffIndex *mesh_dash_parse_index (const guint8 * data, gsize len,
    guint64 offset, GError ** error);

/* Appends to @out the segments of SegmentBase Representation @rep that
 * @index (its file's index) lists within the Period: the subsegments that
 * overlap [0, @period_duration) of the Period once the Representation's
 * presentationTimeOffset is taken off (@period_duration NONE: to the end of
 * the index). One file may so serve several Periods. URLs are the
 * Representation's BaseURL, numbers count subsegments from 1. FALSE with
 * @error when @rep is not a SegmentBase Representation. */
gboolean mesh_dash_representation_index_segments (const MeshDashRepresentation
    * rep, const MeshIsobmffIndex * index, GstClockTime period_duration,
    GArray * out, GError ** error);

/* The same for a window: at most @max (> 0) of those segments, from the
 * one that holds period-relative @from (ends after it) on; *@truncated as
 * for mesh_dash_representation_list_window(). */
gboolean mesh_dash_representation_index_window (const MeshDashRepresentation
    * rep, const MeshIsobmffIndex * index, GstClockTime period_duration,
    GstClockTime from, guint max, GArray * out, gboolean * truncated,
    GError ** error);

G_END_DECLS
