/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-test-util.h.
 */
#include "mesh-test-util.h"

#include <gst/check/gstcheck.h>
#include <string.h>

static const gchar *
media_dir (void)
{
  const gchar *dir = g_getenv ("MESH_TEST_MEDIA");

  fail_unless (dir != NULL, "MESH_TEST_MEDIA is not set (run through meson)");
  return dir;
}

MeshOriginServer *
mesh_test_origin_start (void)
{
  MeshOriginConfig config = { media_dir (), "127.0.0.1", 0, 0 };
  GError *error = NULL;
  MeshOriginServer *origin = mesh_origin_server_start (&config, &error);

  fail_unless (origin != NULL, "origin: %s", error ? error->message : "?");
  return origin;
}

MeshOriginServer *mesh_test_origin;

void
mesh_test_origin_setup (void)
{
  mesh_test_origin = mesh_test_origin_start ();
}

void
mesh_test_origin_teardown (void)
{
  mesh_origin_server_stop (mesh_test_origin);
  mesh_test_origin = NULL;
}

gchar *
mesh_test_origin_url (MeshOriginServer * origin, const gchar * path)
{
  return g_strdup_printf ("%s/%s", mesh_origin_server_get_base_url (origin),
      path);
}

GstElement *
mesh_test_hlssrc_new_for_url (const gchar * url)
{
  GstElement *src = gst_element_factory_make ("meshhlssrc", NULL);

  fail_unless (src != NULL, "meshhlssrc not found");
  g_object_set (src, "location", url, NULL);
  return src;
}

GstElement *
mesh_test_hlssrc_new_on (MeshOriginServer * server, const gchar * path)
{
  g_autofree gchar *url = mesh_test_origin_url (server, path);

  return mesh_test_hlssrc_new_for_url (url);
}

GstElement *
mesh_test_hlssrc_new (const gchar * path)
{
  return mesh_test_hlssrc_new_on (mesh_test_origin, path);
}

GBytes *
mesh_test_read_media (const gchar * relpath)
{
  g_autofree gchar *path = g_build_filename (media_dir (), relpath, NULL);
  gchar *contents;
  gsize len;
  GError *error = NULL;

  fail_unless (g_file_get_contents (path, &contents, &len, &error),
      "%s: %s", path, error ? error->message : "?");
  return g_bytes_new_take (contents, len);
}

GBytes *
mesh_test_expected_stream (const gchar * playlist_relpath)
{
  g_autoptr (GBytes) playlist = mesh_test_read_media (playlist_relpath);
  g_autofree gchar *dir = g_path_get_dirname (playlist_relpath);
  g_autofree gchar *text = g_strndup (g_bytes_get_data (playlist, NULL),
      g_bytes_get_size (playlist));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GByteArray *all = g_byte_array_new ();
  guint i;

  for (i = 0; lines[i]; i++) {
    const gchar *line = g_strstrip (lines[i]);
    g_autofree gchar *rel = NULL;
    g_autoptr (GBytes) segment = NULL;

    if (line[0] == '\0' || line[0] == '#')
      continue;
    rel = g_build_filename (dir, line, NULL);
    segment = mesh_test_read_media (rel);
    g_byte_array_append (all, g_bytes_get_data (segment, NULL),
        g_bytes_get_size (segment));
  }
  return g_byte_array_free_to_bytes (all);
}

/* ------------------------------------------------------------------------ */

static void
on_handoff (GstElement * sink, GstBuffer * buffer, GstPad * pad,
    MeshCollector * c)
{
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (sink),
          "mesh-index"));
  GstMapInfo map;

  gst_buffer_map (buffer, &map, GST_MAP_READ);
  g_mutex_lock (&c->lock);
  g_byte_array_append (g_ptr_array_index (c->data, index), map.data, map.size);
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    c->buffers_with_pts++;
  if (GST_BUFFER_IS_DISCONT (buffer))
    c->discont_buffers++;
  g_mutex_unlock (&c->lock);
  gst_buffer_unmap (buffer, &map);
}

static GstPadProbeReturn
record_caps (GstPad * pad, GstPadProbeInfo * info, MeshCollector * c)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (pad),
          "mesh-index"));
  GstCaps *caps;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (event, &caps);
  g_mutex_lock (&c->lock);
  if (!g_ptr_array_index (c->caps, index))
    g_ptr_array_index (c->caps, index) = gst_caps_ref (caps);
  g_mutex_unlock (&c->lock);
  return GST_PAD_PROBE_OK;
}

static void
on_pad_added (GstElement * src, GstPad * pad, MeshCollector * c)
{
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  GstPad *sinkpad;
  guint index;

  g_mutex_lock (&c->lock);
  index = c->pads->len;
  g_ptr_array_add (c->pads, gst_object_ref (pad));
  g_ptr_array_add (c->data, g_byte_array_new ());
  g_ptr_array_add (c->caps, NULL);
  g_ptr_array_add (c->sinks, sink);
  g_mutex_unlock (&c->lock);

  g_object_set (sink, "sync", FALSE, "signal-handoffs", TRUE, "async", FALSE,
      NULL);
  g_object_set_data (G_OBJECT (sink), "mesh-index", GUINT_TO_POINTER (index));
  g_object_set_data (G_OBJECT (pad), "mesh-index", GUINT_TO_POINTER (index));
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), c);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      (GstPadProbeCallback) record_caps, c, NULL);

  gst_bin_add (GST_BIN (c->pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  sinkpad = gst_element_get_static_pad (sink, "sink");
  fail_unless_equals_int (gst_pad_link (pad, sinkpad), GST_PAD_LINK_OK);
  gst_object_unref (sinkpad);
}

MeshCollector *
mesh_collector_new (GstElement * src)
{
  MeshCollector *c = g_new0 (MeshCollector, 1);

  g_mutex_init (&c->lock);
  c->pipeline = gst_pipeline_new (NULL);
  c->src = src;
  c->pads = g_ptr_array_new_with_free_func (gst_object_unref);
  c->data = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_byte_array_unref);
  c->caps = g_ptr_array_new ();
  c->sinks = g_ptr_array_new ();
  gst_bin_add (GST_BIN (c->pipeline), src);
  g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added), c);
  return c;
}

gboolean
mesh_collector_run (MeshCollector * c, guint timeout_s, GError ** error_out)
{
  GstBus *bus = gst_element_get_bus (c->pipeline);
  GstMessage *msg;
  gboolean eos = FALSE;

  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, timeout_s * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
    eos = TRUE;
  } else if (msg) {
    GError *error = NULL;
    gst_message_parse_error (msg, &error, NULL);
    GST_INFO ("error: %s", error->message);
    if (error_out)
      *error_out = error;
    else
      g_error_free (error);
  }
  gst_clear_message (&msg);
  gst_object_unref (bus);
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  return eos;
}

GBytes *
mesh_collector_get_bytes (MeshCollector * c, guint pad_index)
{
  GByteArray *data;

  fail_unless (pad_index < c->data->len, "no pad %u (%u pads)", pad_index,
      c->data->len);
  data = g_ptr_array_index (c->data, pad_index);
  return g_bytes_new (data->data, data->len);
}

void
mesh_collector_reset (MeshCollector * c)
{
  guint i;

  for (i = 0; i < c->sinks->len; i++) {
    GstElement *sink = g_ptr_array_index (c->sinks, i);
    gst_element_set_state (sink, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (c->pipeline), sink);
  }
  for (i = 0; i < c->caps->len; i++)
    gst_clear_caps ((GstCaps **) & g_ptr_array_index (c->caps, i));
  g_ptr_array_set_size (c->sinks, 0);
  g_ptr_array_set_size (c->caps, 0);
  g_ptr_array_set_size (c->pads, 0);
  g_ptr_array_set_size (c->data, 0);
  c->buffers_with_pts = c->discont_buffers = 0;
}

void
mesh_collector_free (MeshCollector * c)
{
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  mesh_collector_reset (c);
  gst_object_unref (c->pipeline);
  g_ptr_array_unref (c->sinks);
  g_ptr_array_unref (c->caps);
  g_ptr_array_unref (c->pads);
  g_ptr_array_unref (c->data);
  g_mutex_clear (&c->lock);
  g_free (c);
}

guint64
mesh_collector_total_bytes (MeshCollector * c)
{
  guint64 total = 0;
  guint i;

  for (i = 0; i < c->data->len; i++)
    total += ((GByteArray *) g_ptr_array_index (c->data, i))->len;
  return total;
}

const gchar *
mesh_collector_caps_name (MeshCollector * c, guint index)
{
  GstCaps *caps = g_ptr_array_index (c->caps, index);

  fail_unless (caps != NULL, "pad %u got no caps", index);
  return gst_structure_get_name (gst_caps_get_structure (caps, 0));
}

void
mesh_test_assert_bytes_equal (GBytes * got, GBytes * expected,
    const gchar * what)
{
  gsize got_len = g_bytes_get_size (got), exp_len = g_bytes_get_size (expected);

  fail_unless (got_len == exp_len, "%s: got %" G_GSIZE_FORMAT " bytes, "
      "expected %" G_GSIZE_FORMAT, what, got_len, exp_len);
  fail_unless (g_bytes_equal (got, expected), "%s: content differs", what);
}

GstMessage *
mesh_test_wait_for (GstBus * bus, GstMessageType types)
{
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      types | GST_MESSAGE_ERROR);

  fail_unless (msg != NULL, "timed out");
  fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "error: %"
      GST_PTR_FORMAT, msg);
  return msg;
}

/* ------------------------------------------------------------------------ */

/* Past this a held streaming thread goes on by itself, so that a test that
 * fails before releasing it can still shut its pipeline down. */
#define RECORDER_HOLD_TIMEOUT_US (30 * G_USEC_PER_SEC)

/* How a fragment started: its first buffer. */
typedef struct
{
  GstClockTime pts;
  gint64 arrival;               /* g_get_monotonic_time () */
  gboolean discont;
} FragmentStart;

struct _MeshFragmentRecorder
{
  MeshFragmentRecorderFlags flags;
  guint64 hold_mask;            /* bit i: hold at the start of fragment i */

  GMutex lock;
  GCond cond;
  /* the rest guarded by lock */
  GPtrArray *fragments;         /* GByteArray* in push order */
  GArray *starts;               /* FragmentStart, same order */
  guint untimed_starts;         /* fragments that began without a PTS */
  gint held;                    /* fragment held at, -1 none */
  gint released;                /* last fragment released */
  GstPad *pad;
};

/* Called with the lock held. */
static void
recorder_hold (MeshFragmentRecorder * r, guint index)
{
  gint64 deadline = g_get_monotonic_time () + RECORDER_HOLD_TIMEOUT_US;

  r->held = index;
  g_cond_broadcast (&r->cond);
  while (r->released < (gint) index
      && g_cond_wait_until (&r->cond, &r->lock, deadline)) {
  }
  r->held = -1;
}

static GstPadProbeReturn
recorder_probe (GstPad * pad, GstPadProbeInfo * info, MeshFragmentRecorder * r)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  gboolean starts = GST_BUFFER_PTS_IS_VALID (buffer);
  GstMapInfo map;
  guint index;

  if ((r->flags & MESH_FRAGMENT_RECORDER_SKIP_HEADERS)
      && GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_HEADER))
    return GST_PAD_PROBE_OK;

  g_mutex_lock (&r->lock);
  if (!starts && r->fragments->len == 0)
    r->untimed_starts++;
  if (starts || r->fragments->len == 0) {
    FragmentStart start = { GST_BUFFER_PTS (buffer), g_get_monotonic_time (),
      GST_BUFFER_IS_DISCONT (buffer)
    };

    g_ptr_array_add (r->fragments, g_byte_array_new ());
    g_array_append_val (r->starts, start);
  }
  index = r->fragments->len - 1;
  gst_buffer_map (buffer, &map, GST_MAP_READ);
  g_byte_array_append (g_ptr_array_index (r->fragments, index), map.data,
      map.size);
  gst_buffer_unmap (buffer, &map);
  g_cond_broadcast (&r->cond);

  if (starts && index < 64
      && (r->hold_mask & (G_GUINT64_CONSTANT (1) << index)))
    recorder_hold (r, index);
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

static void
recorder_on_pad_added (GstElement * src, GstPad * pad, MeshFragmentRecorder * r)
{
  if (!g_str_equal (GST_PAD_NAME (pad), "src_0"))
    return;
  g_mutex_lock (&r->lock);
  r->pad = gst_object_ref (pad);
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
      (GstPadProbeCallback) recorder_probe, r, NULL);
}

MeshFragmentRecorder *
mesh_fragment_recorder_new (GstElement * src, guint64 hold_mask,
    MeshFragmentRecorderFlags flags)
{
  MeshFragmentRecorder *r = g_new0 (MeshFragmentRecorder, 1);

  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->flags = flags;
  r->hold_mask = hold_mask;
  r->fragments = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_byte_array_unref);
  r->starts = g_array_new (FALSE, FALSE, sizeof (FragmentStart));
  r->held = -1;
  r->released = -1;
  g_signal_connect (src, "pad-added", G_CALLBACK (recorder_on_pad_added), r);
  return r;
}

void
mesh_fragment_recorder_free (MeshFragmentRecorder * r)
{
  gst_clear_object (&r->pad);
  g_ptr_array_unref (r->fragments);
  g_array_unref (r->starts);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r);
}

gboolean
mesh_fragment_recorder_wait_fragments (MeshFragmentRecorder * r, guint n,
    guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64) 1000;
  gboolean reached;

  g_mutex_lock (&r->lock);
  while (r->fragments->len < n
      && g_cond_wait_until (&r->cond, &r->lock, deadline)) {
  }
  reached = r->fragments->len >= n;
  g_mutex_unlock (&r->lock);
  return reached;
}

/* Called with the lock held. */
static gboolean
recorder_has_size (MeshFragmentRecorder * r, guint index, gsize size)
{
  return index < r->fragments->len
      && ((GByteArray *) g_ptr_array_index (r->fragments, index))->len >= size;
}

gboolean
mesh_fragment_recorder_wait_fragment_size (MeshFragmentRecorder * r,
    guint index, gsize size, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64) 1000;
  gboolean complete;

  g_mutex_lock (&r->lock);
  while (!recorder_has_size (r, index, size)
      && g_cond_wait_until (&r->cond, &r->lock, deadline)) {
  }
  complete = recorder_has_size (r, index, size);
  g_mutex_unlock (&r->lock);
  return complete;
}

gboolean
mesh_fragment_recorder_wait_held (MeshFragmentRecorder * r, gint index,
    guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64) 1000;
  gboolean held;

  g_mutex_lock (&r->lock);
  while (r->held != index && g_cond_wait_until (&r->cond, &r->lock, deadline)) {
  }
  held = r->held == index;
  g_mutex_unlock (&r->lock);
  return held;
}

void
mesh_fragment_recorder_release (MeshFragmentRecorder * r, gint index)
{
  g_mutex_lock (&r->lock);
  r->released = MAX (r->released, index);
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

void
mesh_fragment_recorder_release_all (MeshFragmentRecorder * r)
{
  mesh_fragment_recorder_release (r, G_MAXINT);
}

guint
mesh_fragment_recorder_get_n_fragments (MeshFragmentRecorder * r)
{
  guint n;

  g_mutex_lock (&r->lock);
  n = r->fragments->len;
  g_mutex_unlock (&r->lock);
  return n;
}

guint
mesh_fragment_recorder_get_untimed_starts (MeshFragmentRecorder * r)
{
  guint n;

  g_mutex_lock (&r->lock);
  n = r->untimed_starts;
  g_mutex_unlock (&r->lock);
  return n;
}

GstPad *
mesh_fragment_recorder_get_pad (MeshFragmentRecorder * r)
{
  GstPad *pad;

  /* set once and kept until freed: no reference needed past the lock */
  g_mutex_lock (&r->lock);
  pad = r->pad;
  g_mutex_unlock (&r->lock);
  return pad;
}

/* Locks; fails the test (unlocked) for a fragment that has not started. */
static void
recorder_lock_fragment (MeshFragmentRecorder * r, guint index)
{
  guint n;

  g_mutex_lock (&r->lock);
  n = r->fragments->len;
  if (index < n)
    return;
  g_mutex_unlock (&r->lock);
  fail ("no fragment %u (%u fragments)", index, n);
}

GBytes *
mesh_fragment_recorder_get_bytes (MeshFragmentRecorder * r, guint index)
{
  GByteArray *fragment;
  GBytes *bytes;

  recorder_lock_fragment (r, index);
  fragment = g_ptr_array_index (r->fragments, index);
  bytes = g_bytes_new (fragment->data, fragment->len);
  g_mutex_unlock (&r->lock);
  return bytes;
}

static FragmentStart
recorder_get_start (MeshFragmentRecorder * r, guint index)
{
  FragmentStart start;

  recorder_lock_fragment (r, index);
  start = g_array_index (r->starts, FragmentStart, index);
  g_mutex_unlock (&r->lock);
  return start;
}

GstClockTime
mesh_fragment_recorder_get_pts (MeshFragmentRecorder * r, guint index)
{
  return recorder_get_start (r, index).pts;
}

gint64
mesh_fragment_recorder_get_arrival (MeshFragmentRecorder * r, guint index)
{
  return recorder_get_start (r, index).arrival;
}

gboolean
mesh_fragment_recorder_get_discont (MeshFragmentRecorder * r, guint index)
{
  return recorder_get_start (r, index).discont;
}

/* ------------------------------------------------------------------------ */

typedef struct
{
  GChecksum *checksum;
  gint frames;
  GstElement *pipeline;
} DecodeState;

static GstFlowReturn
on_new_sample (GstElement * appsink, DecodeState * state)
{
  GstSample *sample = NULL;
  GstMapInfo map;

  g_signal_emit_by_name (appsink, "pull-sample", &sample);
  if (!sample)
    return GST_FLOW_EOS;
  gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ);
  g_checksum_update (state->checksum, map.data, map.size);
  state->frames++;
  gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static GstElement *
make_video_branch (DecodeState * state)
{
  GstElement *bin = gst_parse_bin_from_description ("videoconvert ! "
      "video/x-raw,format=I420 ! appsink name=sink sync=false "
      "emit-signals=true", TRUE, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (bin), "sink");

  g_signal_connect (sink, "new-sample", G_CALLBACK (on_new_sample), state);
  gst_object_unref (sink);
  return bin;
}

static void
on_decoded_pad (GstElement * decodebin, GstPad * pad, DecodeState * state)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gboolean video;
  GstElement *branch;
  GstPad *sinkpad;

  if (!caps)
    caps = gst_pad_query_caps (pad, NULL);
  video = g_str_has_prefix (gst_structure_get_name (gst_caps_get_structure
          (caps, 0)), "video/");
  gst_caps_unref (caps);

  if (video) {
    branch = make_video_branch (state);
  } else {
    branch = gst_element_factory_make ("fakesink", NULL);
    g_object_set (branch, "sync", FALSE, NULL);
  }
  gst_bin_add (GST_BIN (state->pipeline), branch);
  gst_element_sync_state_with_parent (branch);
  sinkpad = gst_element_get_static_pad (branch, "sink");
  gst_pad_link (pad, sinkpad);
  gst_object_unref (sinkpad);
}

gint
mesh_test_decode_video (const gchar * decodebin_name, const gchar * uri,
    gchar ** checksum, guint timeout_s)
{
  DecodeState state = { g_checksum_new (G_CHECKSUM_SHA256), 0, NULL };
  GstElement *decodebin = gst_element_factory_make (decodebin_name, NULL);
  GstBus *bus;
  GstMessage *msg;
  gint frames = -1;

  state.pipeline = gst_pipeline_new (NULL);
  g_object_set (decodebin, "uri", uri, NULL);
  g_signal_connect (decodebin, "pad-added", G_CALLBACK (on_decoded_pad),
      &state);
  gst_bin_add (GST_BIN (state.pipeline), decodebin);

  bus = gst_element_get_bus (state.pipeline);
  gst_element_set_state (state.pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, timeout_s * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
    frames = state.frames;
  else if (msg)
    GST_ERROR ("decoding %s failed: %" GST_PTR_FORMAT, uri, msg);
  gst_clear_message (&msg);
  gst_element_set_state (state.pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (state.pipeline);

  *checksum = g_strdup (g_checksum_get_string (state.checksum));
  g_checksum_free (state.checksum);
  return frames;
}

gint
mesh_test_decode_reference (const gchar * decodebin, const gchar * uri,
    gchar ** checksum, guint timeout_s)
{
  gint frames = -1;
  guint run;

  for (run = 0; run < 3 && frames < 0; run++) {
    if (run > 0) {
      GST_WARNING ("the reference failed on %s; running it again", uri);
      g_free (*checksum);
    }
    frames = mesh_test_decode_video (decodebin, uri, checksum, timeout_s);
  }
  return frames;
}

/* What reached a player's text sink */
typedef struct
{
  GMutex lock;
  guint buffers;
  gchar *first;                 /* the first cue's text */
} TextSeen;

static void
on_text (GstElement * sink, GstBuffer * buffer, GstPad * pad, TextSeen * seen)
{
  GstMapInfo map;

  g_mutex_lock (&seen->lock);
  if (seen->buffers++ == 0 && gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    seen->first = g_strndup ((const gchar *) map.data, map.size);
    gst_buffer_unmap (buffer, &map);
  }
  g_mutex_unlock (&seen->lock);
}

gchar *
mesh_test_play_first_cue (const gchar * player, const gchar * uri,
    guint * n_buffers, guint timeout_s)
{
  GstElement *playbin = gst_element_factory_make (player, NULL);
  GstElement *text_sink = gst_element_factory_make ("fakesink", NULL);
  GstBus *bus = gst_element_get_bus (playbin);
  TextSeen seen = { {0,}, 0, NULL };
  GstCheckLogFilter *filter = NULL;
  GstMessage *msg;
  gchar *first;

  /* Now and then (one suite run in four to eight, with meshhlssrc and
   * meshdashsrc alike, and with hlsdemux2) playbin3 warns "Got data flow
   * before stream-start event" (or "before segment event") on a subtitle
   * branch. A debug log of a failing run shows the buffer coming from
   * decodebin3's own identity element, which it puts on an elementary
   * input (a text pad) in place of a parsebin, into its multiqueue, just
   * after linking them while the identity was still flushing
   * (decodebin3-parse.c, 1.22: "Re-use existing input streams" FIXME); the
   * source pad's stream-start is pushed first and stays stored (checked).
   * A race inside decodebin3, tolerated in these subtitle runs only; the
   * cues must still show. */
  if (g_str_equal (player, "playbin3"))
    filter = gst_check_add_log_filter ("GStreamer", G_LOG_LEVEL_WARNING,
        g_regex_new ("Got data flow before (stream-start|segment) event", 0,
            0, NULL), NULL, NULL, NULL);
  g_mutex_init (&seen.lock);
  g_object_set (text_sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
  g_signal_connect (text_sink, "handoff", G_CALLBACK (on_text), &seen);
  g_object_set (playbin, "uri", uri, "text-sink", text_sink,
      "video-sink", gst_element_factory_make ("fakesink", NULL),
      "audio-sink", gst_element_factory_make ("fakesink", NULL), NULL);
  /* playsink makes its text sink sync: without a clock nothing waits */
  gst_pipeline_use_clock (GST_PIPELINE (playbin), NULL);
  gst_element_set_state (playbin, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, timeout_s * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "%s: %s timed out", player, uri);
  fail_unless (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "%s: %s: %"
      GST_PTR_FORMAT, player, uri, msg);
  gst_message_unref (msg);
  gst_element_set_state (playbin, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (playbin);
  if (filter)
    gst_check_remove_log_filter (filter);

  *n_buffers = seen.buffers;
  first = seen.first;
  g_mutex_clear (&seen.lock);
  GST_INFO ("%s %s: %u text buffers, first '%s'", player, uri, *n_buffers,
      first ? first : "");
  return first;
}

void
mesh_test_check_players_show (const gchar * uri, const gchar * first_cue,
    guint n_cues, guint timeout_s)
{
  static const gchar *const players[] = { "playbin", "playbin3" };
  guint i, n;

  for (i = 0; i < G_N_ELEMENTS (players); i++) {
    g_autofree gchar *cue =
        mesh_test_play_first_cue (players[i], uri, &n, timeout_s);

    fail_unless (cue != NULL, "%s showed no subtitle", players[i]);
    fail_unless_equals_string (cue, first_cue);
    fail_unless_equals_int (n, n_cues);
  }
}
