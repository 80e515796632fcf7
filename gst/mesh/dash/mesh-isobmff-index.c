/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * 'sidx' box parsing (ISO/IEC 14496-12 8.16.3).
 *
 * Threading: none of its own. Every function works on the caller's data only
 * and may be called from any thread; the only global state is the debug
 * category, initialised once under g_once_init_enter().
 *
 * Every length and offset read from the box is checked against the bytes
 * given and against overflow before use: a hostile index gives an error,
 * never a read past the buffer.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-isobmff-index.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (mesh_isobmff_debug);
#define GST_CAT_DEFAULT mesh_isobmff_debug

G_DEFINE_QUARK (mesh_isobmff_error_quark, mesh_isobmff_error);

static void
ensure_debug_category (void)
{
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised)) {
    GST_DEBUG_CATEGORY_INIT (mesh_isobmff_debug, "meshisobmff", 0,
        "ISO BMFF segment index parser");
    g_once_init_leave (&initialised, 1);
  }
}

typedef struct
{
  const guint8 *data;
  gsize len;
  gsize pos;
} ByteReader;

static gboolean
read_be (ByteReader * r, guint bytes, guint64 * value)
{
  guint i;

  if (r->len - r->pos < bytes)
    return FALSE;
  *value = 0;
  for (i = 0; i < bytes; i++)
    *value = (*value << 8) | r->data[r->pos++];
  return TRUE;
}

static gboolean
sidx_error (GError ** error, MeshIsobmffError code, const gchar * message)
{
  g_set_error (error, MESH_ISOBMFF_ERROR, code, "sidx: %s", message);
  return FALSE;
}

/* The box header: on success @r spans exactly the box */
static gboolean
read_sidx_header (ByteReader * r, guint64 * box_size, GError ** error)
{
  guint64 size;

  if (r->len < 8 || !read_be (r, 4, &size))
    return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID,
        "truncated box header");
  if (memcmp (r->data + 4, "sidx", 4) != 0)
    return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID, "not a sidx box");
  r->pos += 4;
  if (size == 1 && !read_be (r, 8, &size))
    return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID,
        "truncated box header");
  if (size < r->pos)
    return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID,
        "box size is smaller than its header");
  if (size > r->len)
    return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID, "truncated box");
  r->len = size;
  *box_size = size;
  return TRUE;
}

/* The fields before the references; @r is left at the first reference. */
static gboolean
read_sidx_fields (ByteReader * r, guint64 * timescale, guint64 * ept,
    guint64 * first_offset, guint64 * count, GError ** error)
{
  guint64 version_flags, skip;
  guint field;

  if (!read_be (r, 4, &version_flags))
    return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID, "truncated box");
  if ((version_flags >> 24) > 1)
    return sidx_error (error, MESH_ISOBMFF_ERROR_UNSUPPORTED,
        "unknown version");
  /* version 1 has 64-bit earliest_presentation_time and first_offset */
  field = (version_flags >> 24) == 0 ? 4 : 8;
  if (!read_be (r, 4, &skip) || !read_be (r, 4, timescale)
      || !read_be (r, field, ept) || !read_be (r, field, first_offset)
      || !read_be (r, 2, &skip) || !read_be (r, 2, count))
    return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID, "truncated box");
  if (*timescale == 0)
    return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID, "timescale is 0");
  if (r->len - r->pos < *count * 12)
    return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID,
        "truncated references");
  return TRUE;
}

/* Appends the @count references at @r, the first subsegment starting at
 * file offset @offset and presentation time @t. */
static gboolean
read_references (ByteReader * r, guint64 count, guint64 offset, guint64 t,
    GArray * out, GError ** error)
{
  guint64 i;

  for (i = 0; i < count; i++) {
    guint64 word = 0, duration = 0, sap = 0;
    MeshIsobmffSubsegment sub;

    /* the length was checked by read_sidx_fields() */
    read_be (r, 4, &word);
    read_be (r, 4, &duration);
    read_be (r, 4, &sap);
    if (word >> 31)
      return sidx_error (error, MESH_ISOBMFF_ERROR_UNSUPPORTED,
          "hierarchical index (reference to a sidx) is not supported");
    word &= 0x7fffffff;
    if (offset > (guint64) G_MAXINT64 - word || t > G_MAXUINT64 - duration)
      return sidx_error (error, MESH_ISOBMFF_ERROR_INVALID,
          "offsets out of range");
    sub.offset = offset;
    sub.size = word;
    sub.time = t;
    sub.duration = duration;
    g_array_append_val (out, sub);
    offset += word;
    t += duration;
  }
  return TRUE;
}

MeshIsobmffIndex *
mesh_isobmff_index_parse (const guint8 * data, gsize len, guint64 offset,
    GError ** error)
{
  ByteReader r = { data, len, 0 };
  guint64 box_size = 0, timescale = 0, ept = 0, first_offset = 0, count = 0;
  g_autoptr (MeshIsobmffIndex) index = NULL;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  ensure_debug_category ();

  if (!read_sidx_header (&r, &box_size, error)
      || !read_sidx_fields (&r, &timescale, &ept, &first_offset, &count, error))
    return NULL;
  if (offset > G_MAXINT64 - box_size
      || first_offset > G_MAXINT64 - offset - box_size) {
    sidx_error (error, MESH_ISOBMFF_ERROR_INVALID, "offsets out of range");
    return NULL;
  }

  index = g_new0 (MeshIsobmffIndex, 1);
  index->timescale = timescale;
  index->subsegments = g_array_sized_new (FALSE, FALSE,
      sizeof (MeshIsobmffSubsegment), count);
  if (!read_references (&r, count, offset + box_size + first_offset, ept,
          index->subsegments, error))
    return NULL;
  GST_LOG ("sidx at %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " references",
      offset, count);
  return g_steal_pointer (&index);
}

void
mesh_isobmff_index_free (MeshIsobmffIndex * index)
{
  if (index == NULL)
    return;
  g_clear_pointer (&index->subsegments, g_array_unref);
  g_free (index);
}
