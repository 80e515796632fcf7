/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mesh-bench-play: one benchmark run. Plays URI through uridecodebin3 into
 * fakesinks (sync=false, so as fast as the machine goes) until EOS and prints
 * one JSON line:
 *
 *   {"first_buffer_ms": F, "wall_ms": W, "video_frames": N,
 *    "video_sizes": {"WxH": frames, ...}, "elements": ["hlsdemux2", ...],
 *    "error": null}
 *
 * first_buffer_ms and wall_ms count from the moment the pipeline is set to
 * PLAYING (g_get_monotonic_time) to the first buffer reaching any sink and to
 * EOS. video_frames counts the buffers that reach the video sinks: decoded
 * frames, or access units with --no-decode (uridecodebin3 then stops after
 * demuxing and parsing); video_sizes splits them by resolution, which tells
 * whether both sides decoded the same variants. The process exits non-zero on error or timeout, with
 * "error" set to the reason.
 *
 *   mesh-bench-play [--no-decode] [--timeout SECONDS]
 *                   [--max-buffering-time SECONDS] URI
 *
 * --max-buffering-time sets the property of that name on whichever adaptive
 * element has it (meshhlssrc and hlsdemux2 both do, default 30 s), so that
 * both sides can be given the same download-ahead limit.
 *
 * Threads: the main thread runs the GMainLoop with the bus watch and the
 * timeout. uridecodebin3 emits pad-added on streaming threads (the handler
 * only adds and links a sink), deep-element-added on whichever thread adds
 * the element, and the pad probes run on the streaming threads. What they share lives in
 * BenchRun: the frame counters and the first-buffer flag are atomics; the
 * first-buffer time, the size names and the element names are guarded by
 * BenchRun.lock (a size slot, once named, is never renamed, so a pad may
 * count into it without the lock). start_us is written before PLAYING and
 * only read after.
 */
#include <gst/gst.h>
#include <stdlib.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (mesh_bench_play_debug);
#define GST_CAT_DEFAULT mesh_bench_play_debug

/* What uridecodebin3 may expose with --no-decode: the demuxed, parsed
 * elementary streams of the formats the tests and the benchmark use. */
/* Distinct video resolutions counted apart; more than that go to the last. */
#define MAX_SIZES 16

#define NO_DECODE_CAPS \
  "video/x-h264; video/x-h265; audio/mpeg; audio/x-ac3; audio/x-eac3; " \
  "audio/x-opus; text/x-raw; application/x-subtitle-vtt"

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *decodebin;

  GMutex lock;
  gint64 start_us;
  gint got_first_buffer;        /* atomic */
  gint64 first_buffer_us;       /* lock */
  gint64 eos_us;                /* main thread */
  gint video_frames;            /* atomic */
  gchar *size_names[MAX_SIZES]; /* lock; "WxH", in order of appearance */
  gint size_frames[MAX_SIZES];  /* atomic */
  GPtrArray *elements;          /* lock; gchar* factory names, distinct */
  gchar *error;                 /* main thread */
  guint64 max_buffering_time;   /* ns, 0 = leave the default; read-only */
  guint timeout_id;             /* main thread, 0 once fired */
} BenchRun;

/* Per sink pad, owned by the probe (destroyed with it). */
typedef struct
{
  BenchRun *run;
  /* streaming thread of that pad only */
  gboolean is_video;
  gint size_slot;               /* index in BenchRun.size_names, -1 = none */
} SinkPadState;

static void
note_first_buffer (BenchRun * run)
{
  if (!g_atomic_int_compare_and_exchange (&run->got_first_buffer, 0, 1))
    return;
  g_mutex_lock (&run->lock);
  run->first_buffer_us = g_get_monotonic_time ();
  g_mutex_unlock (&run->lock);
}

static void
add_distinct (BenchRun * run, GPtrArray * array, const gchar * value)
{
  guint i;

  g_mutex_lock (&run->lock);
  for (i = 0; i < array->len; i++) {
    if (strcmp (g_ptr_array_index (array, i), value) == 0)
      break;
  }
  if (i == array->len)
    g_ptr_array_add (array, g_strdup (value));
  g_mutex_unlock (&run->lock);
}

static gint
find_size_slot (BenchRun * run, const gchar * size)
{
  gint i;

  g_mutex_lock (&run->lock);
  for (i = 0; i < MAX_SIZES - 1 && run->size_names[i]; i++) {
    if (strcmp (run->size_names[i], size) == 0)
      break;
  }
  if (!run->size_names[i])
    run->size_names[i] = g_strdup (i < MAX_SIZES - 1 ? size : "other");
  g_mutex_unlock (&run->lock);
  return i;
}

static void
note_caps (SinkPadState * state, GstCaps * caps)
{
  const GstStructure *s;
  gint width = 0, height = 0;

  if (gst_caps_get_size (caps) == 0)
    return;
  s = gst_caps_get_structure (caps, 0);
  state->is_video = g_str_has_prefix (gst_structure_get_name (s), "video/");
  state->size_slot = -1;
  if (!state->is_video)
    return;
  if (gst_structure_get_int (s, "width", &width) &&
      gst_structure_get_int (s, "height", &height)) {
    g_autofree gchar *size = g_strdup_printf ("%dx%d", width, height);
    state->size_slot = find_size_slot (state->run, size);
  }
}

static GstPadProbeReturn
on_sink_data (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  SinkPadState *state = user_data;
  gint frames = 1;

  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

    if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      note_caps (state, caps);
    }
    return GST_PAD_PROBE_OK;
  }

  note_first_buffer (state->run);
  if (!state->is_video)
    return GST_PAD_PROBE_OK;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    frames = gst_buffer_list_length (GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  g_atomic_int_add (&state->run->video_frames, frames);
  if (state->size_slot >= 0)
    g_atomic_int_add (&state->run->size_frames[state->size_slot], frames);
  return GST_PAD_PROBE_OK;
}

/* Each output of uridecodebin3 goes to a fakesink of its own. */
static void
on_pad_added (GstElement * decodebin, GstPad * pad, gpointer user_data)
{
  BenchRun *run = user_data;
  GstElement *sink;
  GstPad *sink_pad;
  SinkPadState *state;

  sink = gst_element_factory_make ("fakesink", NULL);
  if (!sink) {
    GST_ERROR ("no fakesink");
    return;
  }
  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (run->pipeline), sink);

  sink_pad = gst_element_get_static_pad (sink, "sink");
  state = g_new0 (SinkPadState, 1);
  state->run = run;
  state->size_slot = -1;
  gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      on_sink_data, state, g_free);

  gst_element_sync_state_with_parent (sink);
  if (gst_pad_link (pad, sink_pad) != GST_PAD_LINK_OK)
    GST_ERROR_OBJECT (pad, "could not link to a fakesink");
  gst_object_unref (sink_pad);
}

/* Which elements did the work (the adaptive source or demuxer, the decoders):
 * the script checks that each side ran the pipeline it meant to. Also where
 * the adaptive element gets its max-buffering-time. */
static void
on_deep_element_added (GstBin * bin, GstBin * sub_bin, GstElement * element,
    gpointer user_data)
{
  BenchRun *run = user_data;
  GstElementFactory *factory = gst_element_get_factory (element);
  GParamSpec *pspec;

  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (element),
      "max-buffering-time");
  if (run->max_buffering_time && pspec && pspec->value_type == G_TYPE_UINT64)
    g_object_set (element, "max-buffering-time", run->max_buffering_time, NULL);
  if (factory)
    add_distinct (run, run->elements,
        gst_plugin_feature_get_name (GST_PLUGIN_FEATURE (factory)));
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  BenchRun *run = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_EOS:
      run->eos_us = g_get_monotonic_time ();
      g_main_loop_quit (run->loop);
      break;
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) error = NULL;
      g_autofree gchar *debug = NULL;

      gst_message_parse_error (msg, &error, &debug);
      if (!run->error)
        run->error = g_strdup_printf ("%s: %s",
            GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), error->message);
      GST_ERROR ("%s (%s)", run->error, GST_STR_NULL (debug));
      g_main_loop_quit (run->loop);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout (gpointer user_data)
{
  BenchRun *run = user_data;

  run->timeout_id = 0;
  if (!run->error)
    run->error = g_strdup ("timeout before EOS");
  g_main_loop_quit (run->loop);
  return G_SOURCE_REMOVE;
}

static void
append_json_string (GString * out, const gchar * value)
{
  const gchar *p;

  if (!value) {
    g_string_append (out, "null");
    return;
  }
  g_string_append_c (out, '"');
  for (p = value; *p; p++) {
    guchar c = *p;

    if (c == '"' || c == '\\')
      g_string_append_printf (out, "\\%c", c);
    else if (c < 0x20)
      g_string_append_printf (out, "\\u%04x", c);
    else
      g_string_append_c (out, c);
  }
  g_string_append_c (out, '"');
}

static void
append_json_array (GString * out, GPtrArray * array)
{
  guint i;

  g_string_append_c (out, '[');
  for (i = 0; i < array->len; i++) {
    if (i > 0)
      g_string_append (out, ", ");
    append_json_string (out, g_ptr_array_index (array, i));
  }
  g_string_append_c (out, ']');
}

/* Milliseconds from start to t, or null when t never happened. */
static void
append_json_ms (GString * out, gint64 start_us, gint64 t_us)
{
  if (t_us == 0)
    g_string_append (out, "null");
  else
    g_string_append_printf (out, "%.3f", (t_us - start_us) / 1000.0);
}

static void
append_json_sizes (GString * out, BenchRun * run)
{
  gint i;

  g_string_append_c (out, '{');
  for (i = 0; i < MAX_SIZES && run->size_names[i]; i++) {
    if (i > 0)
      g_string_append (out, ", ");
    append_json_string (out, run->size_names[i]);
    g_string_append_printf (out, ": %d",
        g_atomic_int_get (&run->size_frames[i]));
  }
  g_string_append_c (out, '}');
}

static void
print_result (BenchRun * run)
{
  GString *out = g_string_new ("{\"first_buffer_ms\": ");

  g_mutex_lock (&run->lock);
  append_json_ms (out, run->start_us, run->first_buffer_us);
  g_string_append (out, ", \"wall_ms\": ");
  append_json_ms (out, run->start_us, run->eos_us);
  g_string_append_printf (out, ", \"video_frames\": %d, \"video_sizes\": ",
      g_atomic_int_get (&run->video_frames));
  append_json_sizes (out, run);
  g_string_append (out, ", \"elements\": ");
  append_json_array (out, run->elements);
  g_mutex_unlock (&run->lock);
  g_string_append (out, ", \"error\": ");
  append_json_string (out, run->error);
  g_string_append_c (out, '}');

  g_print ("%s\n", out->str);
  g_string_free (out, TRUE);
}

static gboolean
build_pipeline (BenchRun * run, const gchar * uri, gboolean no_decode)
{
  run->pipeline = gst_pipeline_new ("bench");
  run->decodebin = gst_element_factory_make ("uridecodebin3", NULL);
  if (!run->decodebin) {
    run->error = g_strdup ("uridecodebin3 is not available");
    return FALSE;
  }
  g_object_set (run->decodebin, "uri", uri, NULL);
  if (no_decode) {
    GstCaps *caps = gst_caps_from_string (NO_DECODE_CAPS);

    g_object_set (run->decodebin, "caps", caps, NULL);
    gst_caps_unref (caps);
  }
  gst_bin_add (GST_BIN (run->pipeline), run->decodebin);
  g_signal_connect (run->decodebin, "pad-added", G_CALLBACK (on_pad_added),
      run);
  g_signal_connect (run->pipeline, "deep-element-added",
      G_CALLBACK (on_deep_element_added), run);
  return TRUE;
}

static void
run_to_eos (BenchRun * run, guint timeout_s)
{
  GstBus *bus = gst_element_get_bus (run->pipeline);
  guint bus_watch = gst_bus_add_watch (bus, on_bus_message, run);

  run->timeout_id = g_timeout_add_seconds (timeout_s, on_timeout, run);
  gst_object_unref (bus);
  run->start_us = g_get_monotonic_time ();
  if (gst_element_set_state (run->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    /* the error message on the bus usually tells why */
    g_main_loop_run (run->loop);
    if (!run->error)
      run->error = g_strdup ("could not set the pipeline to PLAYING");
  } else {
    g_main_loop_run (run->loop);
  }
  if (!run->error && run->eos_us == 0)
    run->error = g_strdup ("stopped before EOS");

  g_source_remove (bus_watch);
  if (run->timeout_id)
    g_source_remove (run->timeout_id);
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
}

int
main (int argc, char **argv)
{
  gboolean no_decode = FALSE;
  gint timeout_s = 300;
  gdouble max_buffering_s = 0;
  g_auto (GStrv) uris = NULL;
  GOptionEntry entries[] = {
    {"no-decode", 0, 0, G_OPTION_ARG_NONE, &no_decode,
        "Stop after demuxing and parsing (no decoders)", NULL},
    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s,
        "Give up after SECONDS without EOS (default 300)", "SECONDS"},
    {"max-buffering-time", 0, 0, G_OPTION_ARG_DOUBLE, &max_buffering_s,
          "Set max-buffering-time on the adaptive element (default: its own)",
        "SECONDS"},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &uris, NULL, "URI"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("URI");
  g_autoptr (GError) error = NULL;
  BenchRun run = { 0 };
  int status, i;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("mesh-bench-play: %s\n", error->message);
    return 2;
  }
  if (!uris || !uris[0] || uris[1] || timeout_s <= 0 || max_buffering_s < 0) {
    g_printerr ("usage: mesh-bench-play [--no-decode] [--timeout SECONDS] "
        "[--max-buffering-time SECONDS] URI\n");
    return 2;
  }
  GST_DEBUG_CATEGORY_INIT (mesh_bench_play_debug, "mesh-bench-play", 0,
      "gst-mesh benchmark player");

  g_mutex_init (&run.lock);
  run.loop = g_main_loop_new (NULL, FALSE);
  run.elements = g_ptr_array_new_with_free_func (g_free);
  run.max_buffering_time = (guint64) (max_buffering_s * GST_SECOND);

  if (build_pipeline (&run, uris[0], no_decode))
    run_to_eos (&run, timeout_s);
  print_result (&run);
  status = run.error ? 1 : 0;

  if (run.pipeline)
    gst_object_unref (run.pipeline);
  for (i = 0; i < MAX_SIZES; i++)
    g_free (run.size_names[i]);
  g_ptr_array_unref (run.elements);
  g_free (run.error);
  g_main_loop_unref (run.loop);
  g_mutex_clear (&run.lock);
  return status;
}
