/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The segment index of an ISO BMFF file: a 'sidx' box (ISO/IEC 14496-12
 * 8.16.3), the index a DASH SegmentBase names with @indexRange. Pure: bytes
 * in, the list of subsegments out; no I/O, no global state, any thread.
 * Knows nothing of DASH: mesh-dash-segments.h turns subsegments into the
 * segments of a Period.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define MESH_ISOBMFF_ERROR (mesh_isobmff_error_quark ())
GQuark mesh_isobmff_error_quark (void);

typedef enum {
  MESH_ISOBMFF_ERROR_INVALID,   /* truncated or inconsistent box */
  MESH_ISOBMFF_ERROR_UNSUPPORTED,       /* e.g. a hierarchical index */
} MeshIsobmffError;

/* One reference of type media: a subsegment of the file. */
typedef struct {
  guint64 offset;               /* of its first byte in the file */
  guint64 size;
  guint64 time;                 /* earliest presentation time, in the
                                 * index's timescale */
  guint64 duration;
} MeshIsobmffSubsegment;

typedef struct {
  guint64 timescale;            /* never 0 */
  GArray *subsegments;          /* MeshIsobmffSubsegment, in file order */
} MeshIsobmffIndex;

/* Parses the 'sidx' box at the start of @data, found at file offset
 * @offset (subsegment offsets count from the box's end, so the box's own
 * place in the file is needed). Bytes after the box are ignored. NULL with
 * @error when the box is truncated, is not a sidx, or refers to other sidx
 * boxes (hierarchical indexes are not supported). */
MeshIsobmffIndex *mesh_isobmff_index_parse (const guint8 * data, gsize len,
    guint64 offset, GError ** error);

void mesh_isobmff_index_free (MeshIsobmffIndex * index);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshIsobmffIndex, mesh_isobmff_index_free);

G_END_DECLS
