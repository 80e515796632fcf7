/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Helpers for the element tests: the test origin on the generated media, and
 * a pipeline that collects what each pad of a source element outputs.
 * Everything runs on the test's thread; the collector's byte arrays are
 * written by streaming threads under the collector's lock.
 */
#pragma once

#include <gst/gst.h>

#include "mesh-origin-server.h"

G_BEGIN_DECLS

/* The test origin serving $MESH_TEST_MEDIA (made by tests/media). */
MeshOriginServer *mesh_test_origin_start (void);

/* "http://127.0.0.1:PORT/@path" (transfer full). */
gchar *mesh_test_origin_url (MeshOriginServer * origin, const gchar * path);

/* A file of the generated media (@relpath under $MESH_TEST_MEDIA). */
GBytes *mesh_test_read_media (const gchar * relpath);

/* The concatenation of the files a VOD media playlist lists (no byte
 * ranges), read from the media directory: what the CDN serves. */
GBytes *mesh_test_expected_stream (const gchar * playlist_relpath);

typedef struct
{
  GstElement *pipeline;
  GstElement *src;
  GMutex lock;
  GPtrArray *pads;              /* GstPad* of src, in pad-added order */
  GPtrArray *data;              /* GByteArray* per pad, same order */
  GPtrArray *caps;              /* GstCaps* (first caps) per pad */
  GPtrArray *sinks;             /* the fakesinks, same order */
  guint buffers_with_pts;       /* buffers that carry a timestamp */
  guint discont_buffers;
} MeshCollector;

/* A pipeline of @src whose every pad is linked to a fakesink that appends
 * the bytes it receives to the pad's GByteArray. */
MeshCollector *mesh_collector_new (GstElement * src);

/* Runs until EOS (TRUE) or an error (FALSE, *error_out gets the message if
 * not NULL) or @timeout_s seconds (FALSE). */
gboolean mesh_collector_run (MeshCollector * c, guint timeout_s,
    GError ** error_out);

GBytes *mesh_collector_get_bytes (MeshCollector * c, guint pad_index);

/* Back to a pipeline of the source alone (the pipeline must be in NULL):
 * removes the sinks and forgets what was collected, to run again. */
void mesh_collector_reset (MeshCollector * c);

void mesh_collector_free (MeshCollector * c);

/* Plays @uri through "@decodebin ! videoconvert ! I420 appsink" (sync off;
 * @decodebin is "uridecodebin" or "uridecodebin3") and returns the number of
 * decoded video frames; *checksum gets a checksum (SHA-256 in hex) of all
 * decoded frames in order. -1 on error. */
gint mesh_test_decode_video (const gchar * decodebin, const gchar * uri,
    gchar ** checksum, guint timeout_s);

G_END_DECLS
