/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Helpers for the element tests: the test origin on the generated media, a
 * pipeline that collects what each pad of a source element outputs, and a
 * recorder that splits what a pad outputs into fragments.
 * Everything runs on the test's thread; the collector's byte arrays are
 * written by streaming threads under the collector's lock. The recorder's
 * fragments are written by the streaming thread of the pad it watches under
 * the recorder's lock, and the test thread waits on the recorder's GCond
 * (always with a deadline) for them; its accessors take the lock.
 */
#pragma once

#include <gst/gst.h>

#include "mesh-origin-server.h"

G_BEGIN_DECLS

/* The test origin serving $MESH_TEST_MEDIA (made by tests/media). */
MeshOriginServer *mesh_test_origin_start (void);

/* The origin of the fixture below: started by mesh_test_origin_setup,
 * stopped (and NULL again) by mesh_test_origin_teardown. */
extern MeshOriginServer *mesh_test_origin;

/* A checked fixture (tcase_add_checked_fixture) around each test. */
void mesh_test_origin_setup (void);
void mesh_test_origin_teardown (void);

/* A meshhlssrc whose location is @url / @path at @server / @path at
 * mesh_test_origin. */
GstElement *mesh_test_hlssrc_new_for_url (const gchar * url);
GstElement *mesh_test_hlssrc_new_on (MeshOriginServer * server,
    const gchar * path);
GstElement *mesh_test_hlssrc_new (const gchar * path);

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

/* The bytes collected on all pads together. */
guint64 mesh_collector_total_bytes (MeshCollector * c);

/* Back to a pipeline of the source alone (the pipeline must be in NULL):
 * removes the sinks and forgets what was collected, to run again. */
void mesh_collector_reset (MeshCollector * c);

void mesh_collector_free (MeshCollector * c);

/* The name of the first caps pad @index got (fails the test if none). */
const gchar *mesh_collector_caps_name (MeshCollector * c, guint index);

/* Fails the test unless @got and @expected are the same bytes; @what names
 * them in the message. */
void mesh_test_assert_bytes_equal (GBytes * got, GBytes * expected,
    const gchar * what);

/* The next message of @types on @bus (transfer full); fails the test on an
 * ERROR or after 30 s. */
GstMessage *mesh_test_wait_for (GstBus * bus, GstMessageType types);

/* Plays @uri through "@decodebin ! videoconvert ! I420 appsink" (sync off;
 * @decodebin is "uridecodebin" or "uridecodebin3") and returns the number of
 * decoded video frames; *checksum gets a checksum (SHA-256 in hex) of all
 * decoded frames in order. -1 on error. */
gint mesh_test_decode_video (const gchar * decodebin, const gchar * uri,
    gchar ** checksum, guint timeout_s);

/* The same for the reference player (the system's hlsdemux2/dashdemux2 behind
 * @decodebin), which is not under test: a run that fails is tried again, up
 * to three runs, since the reference itself fails now and then on edge cases
 * (a variant switch after the last segment). -1 when all failed. */
gint mesh_test_decode_reference (const gchar * decodebin, const gchar * uri,
    gchar ** checksum, guint timeout_s);

/* Plays @uri to the end (EOS within @timeout_s, or the test fails) in
 * @player ("playbin" or "playbin3", no clock, fakesinks) and returns the
 * first cue its text sink got (transfer full, NULL for none); *@n_buffers
 * gets how many text buffers arrived. */
gchar *mesh_test_play_first_cue (const gchar * player, const gchar * uri,
    guint * n_buffers, guint timeout_s);

/* Plays @uri in playbin and in playbin3 (mesh_test_play_first_cue) and
 * fails the test unless each shows @first_cue first and @n_cues text
 * buffers in all. */
void mesh_test_check_players_show (const gchar * uri, const gchar * first_cue,
    guint n_cues, guint timeout_s);

/* A probe on pad "src_0" of a source element that splits what it pushes into
 * fragments (a buffer with a valid PTS starts one) and records, per fragment,
 * its bytes, the PTS and DISCONT flag of its first buffer and when that
 * arrived. It can hold the streaming thread at the start of chosen
 * fragments while the test changes the network. */
typedef struct _MeshFragmentRecorder MeshFragmentRecorder;

typedef enum
{
  MESH_FRAGMENT_RECORDER_NONE = 0,
  /* buffers flagged HEADER (an init section) are not recorded: they
   * belong to the fragment that follows */
  MESH_FRAGMENT_RECORDER_SKIP_HEADERS = 1 << 0,
} MeshFragmentRecorderFlags;

/* Bit i of @hold_mask (i < 64): hold the streaming thread at the start of
 * fragment i until mesh_fragment_recorder_release (or 30 s). Connect before
 * @src adds its pads. */
MeshFragmentRecorder *mesh_fragment_recorder_new (GstElement * src,
    guint64 hold_mask, MeshFragmentRecorderFlags flags);

/* The streaming thread must not be in the probe any more (pipeline in
 * NULL). */
void mesh_fragment_recorder_free (MeshFragmentRecorder * r);

/* Wait until @n fragments have started; FALSE after @timeout_ms. */
gboolean mesh_fragment_recorder_wait_fragments (MeshFragmentRecorder * r,
    guint n, guint timeout_ms);

/* Wait until fragment @index has @size bytes or more; FALSE after
 * @timeout_ms. */
gboolean mesh_fragment_recorder_wait_fragment_size (MeshFragmentRecorder * r,
    guint index, gsize size, guint timeout_ms);

/* Wait until the streaming thread is held at the start of fragment @index;
 * FALSE after @timeout_ms. */
gboolean mesh_fragment_recorder_wait_held (MeshFragmentRecorder * r,
    gint index, guint timeout_ms);

/* Let the streaming thread go on past every fragment up to @index. */
void mesh_fragment_recorder_release (MeshFragmentRecorder * r, gint index);

/* Releases every hold, for the end of a test. */
void mesh_fragment_recorder_release_all (MeshFragmentRecorder * r);

guint mesh_fragment_recorder_get_n_fragments (MeshFragmentRecorder * r);

/* Fragments whose first buffer had no PTS (only the very first can). */
guint mesh_fragment_recorder_get_untimed_starts (MeshFragmentRecorder * r);

/* The pad recorded (transfer none), NULL until the source adds it. */
GstPad *mesh_fragment_recorder_get_pad (MeshFragmentRecorder * r);

/* Fragment @index as recorded so far (transfer full: a copy). The
 * accessors fail the test for a fragment that has not started. */
GBytes *mesh_fragment_recorder_get_bytes (MeshFragmentRecorder * r,
    guint index);

GstClockTime mesh_fragment_recorder_get_pts (MeshFragmentRecorder * r,
    guint index);

/* g_get_monotonic_time () when fragment @index started. */
gint64 mesh_fragment_recorder_get_arrival (MeshFragmentRecorder * r,
    guint index);

gboolean mesh_fragment_recorder_get_discont (MeshFragmentRecorder * r,
    guint index);

G_END_DECLS
