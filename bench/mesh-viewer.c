/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mesh-viewer: one viewer of the peer-to-peer benchmark (bench-p2p.py).
 * Plays URI in real time for a fixed time and measures what a viewer
 * notices:
 *
 *   meshhlssrc ! tsdemux ! (per elementary stream) queue ! fakesink sync=true
 *
 *   mesh-viewer --uri URI [--tracker URL] [--local-address IP] [--seconds N]
 *               [--stun-server HOST:PORT] [--turn-server turn://U:P@HOST:PORT]
 *               [--set PROPERTY=VALUE]...
 *               [--json-interval MS] [--max-peers N] [--live-delay S]
 *               [--report-interval S] [--network-hint ID]
 *
 * At the end it prints one JSON line with "type": "result" (and, with
 * --json-interval, "type": "progress" lines before it):
 *
 *   startup_ms   PLAYING requested -> first buffer rendered by a sink
 *   stalls       interruptions a player would notice, each counted once
 *                (overlapping detections on several sinks merged):
 *                "dry": a sink renders a buffer more than 300 ms later
 *                after the one before than their timestamps are apart
 *                (the sink ran dry), the stall lasting from when the
 *                buffer would have been rendered until it was; a buffer
 *                counts as rendered when it arrives or, if it arrives
 *                early, when it is due;
 *                "late": a buffer arrives at the sink more than 100 ms after
 *                its running time (+ latency) on the pipeline clock, the
 *                stall lasting from when it was due until it arrived;
 *   the element's counters (bytes-from-cdn, bytes-from-peers,
 *   bytes-uploaded, p2p-ratio, peers), "swarm" (from the last mesh-stats:
 *   segments_to_peers, segments_from_peers, cdn_nobody, cdn_no_time,
 *   cdn_peer_failed, prefetched, prefetch_adopted, cache_bytes (segments
 *   held for other viewers at the end), and slack_ms: requests
 *   per slack bucket, {"500": n, ..., "inf": n}), current_bitrate (bit/s of the
 *   variant played when the line is printed), the peers seen, and the
 *   process's CPU time and peak RSS (getrusage: every thread of this
 *   process).
 *
 * Exit status: 0 when it played to the end, 1 on a pipeline error or EOS
 * (a live stream does not end), 2 on bad options.
 *
 * Threads: the main thread runs the GMainLoop (bus watch, timers, signals)
 * and prints. meshhlssrc adds its pads from its manifest task and tsdemux
 * from its streaming thread; the handlers there add and link elements. The
 * pad probes and fakesink handoffs run on the queues' streaming threads and
 * touch only their SinkState, except for the stall list, the first-render
 * time and the peer figures in Viewer, which Viewer.lock guards. Everything
 * else in Viewer is set before PLAYING and read-only afterwards, or belongs
 * to the main thread.
 */
#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

GST_DEBUG_CATEGORY_STATIC (mesh_viewer_debug);
#define GST_CAT_DEFAULT mesh_viewer_debug

/* How much worse than the stream's own pacing a sink may get fed before
 * the viewer notices (see the header). */
#define DRY_TOLERANCE (300 * GST_MSECOND)
#define LATE_TOLERANCE (100 * GST_MSECOND)
/* Stalls listed one by one in the result; all of them are counted. */
#define MAX_LISTED_STALLS 50

typedef enum
{
  STALL_DRY,
  STALL_LATE,
} StallKind;

typedef struct
{
  GstClockTime start;           /* pipeline clock time */
  GstClockTime end;
  StallKind kind;               /* of the first detection */
} Stall;

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *src;
  GstClock *clock;              /* the system clock, forced on the pipeline */
  GstClockTime play_time;       /* clock time PLAYING was requested */
  guint seconds;
  guint json_interval;
  guint timer_id;               /* main thread, 0 once fired */

  GMutex lock;
  GstClockTime first_arrival;   /* lock; NONE until a buffer reaches a sink */
  GstClockTime first_running_time;      /* lock; of that buffer */
  GstClockTime first_render;    /* lock; NONE until then */
  GArray *stalls;               /* lock; Stall, sorted, disjoint */
  guint64 backward_jumps;       /* lock; timestamps that went back */
  guint64 rendered;             /* lock */
  guint peers_max;              /* lock */
  guint peer_connects;          /* lock */
  guint peer_disconnects;       /* lock */
  guint sinks;                  /* lock */

  GstStructure *last_stats;     /* main thread: the last mesh-stats */
  gchar *error;                 /* main thread */
  gboolean eos;                 /* main thread */
  gboolean interrupted;         /* main thread */
} Viewer;

/* Per fakesink, owned by its sink-pad probe (freed with it). */
typedef struct
{
  Viewer *viewer;
  GstElement *sink;             /* not a ref: the probe dies with the pad */
  /* the sink's streaming thread only */
  GstSegment segment;
  gboolean have_prev;
  GstClockTime prev_rendered;   /* when the sink rendered the last buffer */
  GstClockTime prev_running_time;
} SinkState;

/* ------------------------------------------------------------------------ */
/* Stalls */

/* Stalls seen on several sinks at once (audio and video starve together)
 * or by both rules are one interruption to the viewer: merge overlaps. */
static void
add_stall (Viewer * viewer, GstClockTime start, GstClockTime end,
    StallKind kind)
{
  Stall stall = { start, end, kind };
  guint i;

  g_mutex_lock (&viewer->lock);
  i = viewer->stalls->len;
  while (i > 0 && g_array_index (viewer->stalls, Stall, i - 1).start > start)
    i--;
  g_array_insert_val (viewer->stalls, i, stall);
  if (i > 0) {
    Stall *prev = &g_array_index (viewer->stalls, Stall, i - 1);
    if (prev->end >= start)
      i--;
  }
  /* absorb every later stall that overlaps the one at i */
  while (i + 1 < viewer->stalls->len) {
    Stall *cur = &g_array_index (viewer->stalls, Stall, i);
    Stall *next = &g_array_index (viewer->stalls, Stall, i + 1);
    if (next->start > cur->end)
      break;
    cur->end = MAX (cur->end, next->end);
    g_array_remove_index (viewer->stalls, i + 1);
  }
  g_mutex_unlock (&viewer->lock);
}

static gboolean
sink_is_playing (GstElement * sink, GstClockTime * base_time)
{
  gboolean playing;

  GST_OBJECT_LOCK (sink);
  playing = GST_STATE (sink) == GST_STATE_PLAYING;
  *base_time = GST_ELEMENT_CAST (sink)->base_time;
  GST_OBJECT_UNLOCK (sink);
  return playing;
}

/* Before PLAYING buffers pile up at the prerolled sink: neither their
 * arrival gaps nor their lateness say anything then. */
static void
check_buffer (SinkState * state, GstBuffer * buffer)
{
  Viewer *viewer = state->viewer;
  GstClockTime ts = GST_BUFFER_DTS_OR_PTS (buffer);
  GstClockTime now, base_time, running_time, latency, due, rendered;

  if (!GST_CLOCK_TIME_IS_VALID (ts) || state->segment.format != GST_FORMAT_TIME)
    return;
  running_time = gst_segment_to_running_time (&state->segment,
      GST_FORMAT_TIME, ts);
  if (!GST_CLOCK_TIME_IS_VALID (running_time))
    return;
  now = gst_clock_get_time (viewer->clock);
  GST_LOG_OBJECT (state->sink, "buffer at running time %" GST_TIME_FORMAT,
      GST_TIME_ARGS (running_time));
  g_mutex_lock (&viewer->lock);
  if (!GST_CLOCK_TIME_IS_VALID (viewer->first_arrival)) {
    viewer->first_arrival = now;
    viewer->first_running_time = running_time;
  }
  g_mutex_unlock (&viewer->lock);
  if (!sink_is_playing (state->sink, &base_time)) {
    state->have_prev = FALSE;
    return;
  }

  latency = gst_base_sink_get_latency (GST_BASE_SINK (state->sink));
  due = base_time + running_time +
      (GST_CLOCK_TIME_IS_VALID (latency) ? latency : 0);
  /* A synchronising sink renders a buffer when it is due or, if it came
   * late, when it came. */
  rendered = MAX (now, due);

  /* (a) the sink ran dry: rendered later after the previous buffer than
   * their timestamps are apart. Arrival times alone would mislead: a sink
   * takes the next buffer as soon as it has rendered the one before, which
   * may be long before that one's end (TS audio comes in ~0.3 s PES). */
  if (state->have_prev) {
    GstClockTimeDiff ts_gap = GST_CLOCK_DIFF (state->prev_running_time,
        running_time);
    GstClockTime expected;

    if (ts_gap < 0) {
      g_mutex_lock (&viewer->lock);
      viewer->backward_jumps++;
      g_mutex_unlock (&viewer->lock);
      ts_gap = 0;
    }
    expected = state->prev_rendered + ts_gap;
    if (rendered > expected + DRY_TOLERANCE)
      add_stall (viewer, expected, rendered, STALL_DRY);
  }
  state->have_prev = TRUE;
  state->prev_rendered = rendered;
  state->prev_running_time = running_time;

  /* (b) the buffer came after the sink should have shown it */
  if (now > due + LATE_TOLERANCE)
    add_stall (viewer, due, now, STALL_LATE);
}

static GstPadProbeReturn
on_sink_pad_data (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  SinkState *state = user_data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    check_buffer (state, GST_PAD_PROBE_INFO_BUFFER (info));
  } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

    if (GST_EVENT_TYPE (event) == GST_EVENT_SEGMENT) {
      gst_event_copy_segment (event, &state->segment);
      state->have_prev = FALSE;
    } else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
      state->have_prev = FALSE;
    }
  }
  return GST_PAD_PROBE_OK;
}

/* fakesink's handoff is emitted when it renders, after the clock wait. */
static void
on_handoff (GstElement * sink, GstBuffer * buffer, GstPad * pad,
    gpointer user_data)
{
  Viewer *viewer = user_data;

  g_mutex_lock (&viewer->lock);
  if (!GST_CLOCK_TIME_IS_VALID (viewer->first_render))
    viewer->first_render = gst_clock_get_time (viewer->clock);
  viewer->rendered++;
  g_mutex_unlock (&viewer->lock);
}

/* ------------------------------------------------------------------------ */
/* Pipeline */

static GstElement *
make_element (const gchar * factory)
{
  GstElement *element = gst_element_factory_make (factory, NULL);

  if (!element)
    g_printerr ("mesh-viewer: no element %s\n", factory);
  return element;
}

static gboolean
add_and_link_chain (Viewer * viewer, GstPad * srcpad, GstElement * first,
    GstElement * last)
{
  GstPad *sinkpad;
  gboolean ok;

  gst_element_sync_state_with_parent (last);
  if (first != last)
    gst_element_sync_state_with_parent (first);
  sinkpad = gst_element_get_static_pad (first, "sink");
  ok = gst_pad_link (srcpad, sinkpad) == GST_PAD_LINK_OK;
  gst_object_unref (sinkpad);
  if (!ok)
    GST_WARNING_OBJECT (srcpad, "could not link to %" GST_PTR_FORMAT, first);
  return ok;
}

/* One elementary stream: queue ! fakesink sync=true, watched. */
static void
on_demux_pad_added (GstElement * demux, GstPad * pad, gpointer user_data)
{
  Viewer *viewer = user_data;
  GstElement *queue = make_element ("queue");
  GstElement *sink = make_element ("fakesink");
  SinkState *state;
  GstPad *sinkpad;

  if (!queue || !sink) {
    gst_clear_object (&queue);
    gst_clear_object (&sink);
    return;
  }
  /* A player holds a couple of seconds decoded ahead, not more. */
  g_object_set (queue, "max-size-buffers", 0, "max-size-bytes", 0,
      "max-size-time", (guint64) 2 * GST_SECOND, NULL);
  g_object_set (sink, "sync", TRUE, "async", TRUE, "signal-handoffs", TRUE,
      NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), viewer);

  state = g_new0 (SinkState, 1);
  state->viewer = viewer;
  state->sink = sink;
  gst_segment_init (&state->segment, GST_FORMAT_UNDEFINED);
  sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_EVENT_FLUSH,
      on_sink_pad_data, state, g_free);
  gst_object_unref (sinkpad);

  gst_bin_add_many (GST_BIN (viewer->pipeline), queue, sink, NULL);
  gst_element_link (queue, sink);
  if (add_and_link_chain (viewer, pad, queue, sink)) {
    g_mutex_lock (&viewer->lock);
    viewer->sinks++;
    g_mutex_unlock (&viewer->lock);
  }
}

static void
on_src_pad_added (GstElement * src, GstPad * pad, gpointer user_data)
{
  Viewer *viewer = user_data;
  GstElement *demux = make_element ("tsdemux");

  if (!demux)
    return;
  g_signal_connect (demux, "pad-added", G_CALLBACK (on_demux_pad_added),
      viewer);
  gst_bin_add (GST_BIN (viewer->pipeline), demux);
  add_and_link_chain (viewer, pad, demux, demux);
}

/* "--set PROPERTY=VALUE": any other property of the source element. */
static gboolean
set_source_properties (GstElement * src, gchar ** assignments)
{
  for (; assignments && *assignments; assignments++) {
    g_auto (GStrv) pair = g_strsplit (*assignments, "=", 2);

    if (!pair[0] || !pair[1]
        || !g_object_class_find_property (G_OBJECT_GET_CLASS (src), pair[0])) {
      g_printerr ("mesh-viewer: --set %s: not PROPERTY=VALUE of %s\n",
          *assignments, G_OBJECT_TYPE_NAME (src));
      return FALSE;
    }
    gst_util_set_object_arg (G_OBJECT (src), pair[0], pair[1]);
  }
  return TRUE;
}

static gboolean
build_pipeline (Viewer * viewer, const gchar * uri, const gchar * tracker,
    const gchar * local_address, guint max_peers, gint64 live_delay,
    gchar ** assignments)
{
  const gchar *location = uri;

  /* meshhlssrc's own URI scheme is accepted too */
  if (g_str_has_prefix (location, "meshhls+"))
    location += strlen ("meshhls+");

  viewer->pipeline = gst_pipeline_new ("viewer");
  viewer->src = make_element ("meshhlssrc");
  if (!viewer->src)
    return FALSE;
  g_object_set (viewer->src, "location", location, NULL);
  if (tracker && *tracker)
    g_object_set (viewer->src, "tracker", tracker, NULL);
  if (local_address && *local_address)
    g_object_set (viewer->src, "local-address", local_address, NULL);
  if (max_peers > 0)
    g_object_set (viewer->src, "max-peers", max_peers, NULL);
  if (live_delay >= 0)
    g_object_set (viewer->src, "live-delay", live_delay, NULL);
  if (!set_source_properties (viewer->src, assignments))
    return FALSE;
  g_signal_connect (viewer->src, "pad-added", G_CALLBACK (on_src_pad_added),
      viewer);
  gst_bin_add (GST_BIN (viewer->pipeline), viewer->src);

  /* The stall arithmetic compares with monotonic wall time. */
  viewer->clock = gst_system_clock_obtain ();
  gst_pipeline_use_clock (GST_PIPELINE (viewer->pipeline), viewer->clock);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Report */

typedef struct
{
  guint64 from_cdn, from_peers, uploaded;
  gdouble ratio;
  guint peers;
  guint bitrate;
} ElementCounters;

static void
read_counters (Viewer * viewer, ElementCounters * c)
{
  g_object_get (viewer->src, "bytes-from-cdn", &c->from_cdn,
      "bytes-from-peers", &c->from_peers, "bytes-uploaded", &c->uploaded,
      "p2p-ratio", &c->ratio, "peers", &c->peers, "current-bitrate",
      &c->bitrate, NULL);
}

static gdouble
ms_since_play (Viewer * viewer, GstClockTime t)
{
  return (gdouble) GST_CLOCK_DIFF (viewer->play_time, t) / GST_MSECOND;
}

static void
append_stalls (Viewer * viewer, GString * out, gboolean list)
{
  GstClockTime total = 0, longest = 0;
  guint i;

  g_mutex_lock (&viewer->lock);
  for (i = 0; i < viewer->stalls->len; i++) {
    Stall *s = &g_array_index (viewer->stalls, Stall, i);
    total += s->end - s->start;
    longest = MAX (longest, s->end - s->start);
  }
  g_string_append_printf (out, ", \"stalls\": %u, \"stall_ms\": %.1f, "
      "\"stall_max_ms\": %.1f", viewer->stalls->len,
      (gdouble) total / GST_MSECOND, (gdouble) longest / GST_MSECOND);
  if (list) {
    g_string_append (out, ", \"stall_list\": [");
    for (i = 0; i < MIN (viewer->stalls->len, MAX_LISTED_STALLS); i++) {
      Stall *s = &g_array_index (viewer->stalls, Stall, i);
      g_string_append_printf (out, "%s{\"at_ms\": %.1f, \"ms\": %.1f, "
          "\"kind\": \"%s\"}", i ? ", " : "", ms_since_play (viewer, s->start),
          (gdouble) (s->end - s->start) / GST_MSECOND,
          s->kind == STALL_DRY ? "dry" : "late");
    }
    g_string_append (out, "]");
  }
  g_mutex_unlock (&viewer->lock);
}

static gchar *
json_string (const gchar * s)
{
  GString *out = g_string_new ("\"");
  const gchar *p;

  for (p = s; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (out, "\\%c", *p);
    else if ((guchar) * p < 0x20)
      g_string_append_printf (out, "\\u%04x", *p);
    else
      g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

/* "swarm": how the segments asked of the swarm fared (the last
 * mesh-stats; main thread). */
static void
append_swarm (Viewer * viewer, GString * out)
{
  static const gchar *const fields[] = { "segments-to-peers",
    "segments-from-peers", "cdn-nobody", "cdn-no-time", "cdn-peer-failed",
    "prefetched", "prefetch-adopted", "cache-bytes"
  };
  const GstStructure *s = viewer->last_stats;
  const gchar *slack;
  guint i;

  if (!s || !gst_structure_has_field (s, "segments-to-peers"))
    return;
  g_string_append (out, ", \"swarm\": {");
  for (i = 0; i < G_N_ELEMENTS (fields); i++) {
    guint64 v = 0;
    g_autofree gchar *key = g_strdelimit (g_strdup (fields[i]), "-", '_');

    gst_structure_get_uint64 (s, fields[i], &v);
    g_string_append_printf (out, "%s\"%s\": %" G_GUINT64_FORMAT,
        i ? ", " : "", key, v);
  }
  slack = gst_structure_get_string (s, "slack-histogram");
  g_string_append (out, ", \"slack_ms\": {");
  if (slack) {
    g_auto (GStrv) buckets = g_strsplit (slack, ",", -1);

    for (i = 0; buckets[i]; i++) {
      g_auto (GStrv) kv = g_strsplit (buckets[i], ":", 2);

      if (kv[0] && kv[1])
        g_string_append_printf (out, "%s\"%s\": %s", i ? ", " : "", kv[0],
            kv[1]);
    }
  }
  g_string_append (out, "}}");
}

static void
print_report (Viewer * viewer, gboolean final)
{
  GString *out = g_string_new (NULL);
  ElementCounters c;
  struct rusage usage;
  GstClockTime now = gst_clock_get_time (viewer->clock);
  GstClockTime first_render, first_arrival;

  read_counters (viewer, &c);
  getrusage (RUSAGE_SELF, &usage);
  g_mutex_lock (&viewer->lock);
  first_render = viewer->first_render;
  first_arrival = viewer->first_arrival;
  g_string_append_printf (out, "{\"type\": \"%s\", \"t_ms\": %.1f, "
      "\"startup_ms\": ", final ? "result" : "progress",
      ms_since_play (viewer, now));
  if (GST_CLOCK_TIME_IS_VALID (first_render))
    g_string_append_printf (out, "%.1f", ms_since_play (viewer, first_render));
  else
    g_string_append (out, "null");
  g_string_append (out, ", \"first_buffer_ms\": ");
  if (GST_CLOCK_TIME_IS_VALID (first_arrival))
    g_string_append_printf (out, "%.1f, \"first_running_time_ms\": %.1f",
        ms_since_play (viewer, first_arrival),
        (gdouble) viewer->first_running_time / GST_MSECOND);
  else
    g_string_append (out, "null, \"first_running_time_ms\": null");
  g_string_append_printf (out, ", \"rendered_buffers\": %" G_GUINT64_FORMAT
      ", \"sinks\": %u, \"backward_jumps\": %" G_GUINT64_FORMAT
      ", \"peers_max\": %u, \"peer_connects\": %u, \"peer_disconnects\": %u",
      viewer->rendered, viewer->sinks, viewer->backward_jumps,
      viewer->peers_max, viewer->peer_connects, viewer->peer_disconnects);
  g_mutex_unlock (&viewer->lock);
  append_stalls (viewer, out, final);
  g_string_append_printf (out, ", \"bytes_from_cdn\": %" G_GUINT64_FORMAT
      ", \"bytes_from_peers\": %" G_GUINT64_FORMAT ", \"bytes_uploaded\": %"
      G_GUINT64_FORMAT ", \"p2p_ratio\": %.4f, \"peers\": %u, "
      "\"current_bitrate\": %u", c.from_cdn, c.from_peers, c.uploaded, c.ratio,
      c.peers, c.bitrate);
  append_swarm (viewer, out);
  g_string_append_printf (out, ", \"cpu_ms\": %.1f, \"user_ms\": %.1f, "
      "\"sys_ms\": %.1f, \"max_rss_kib\": %ld",
      (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000.0 +
      (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000.0,
      usage.ru_utime.tv_sec * 1000.0 + usage.ru_utime.tv_usec / 1000.0,
      usage.ru_stime.tv_sec * 1000.0 + usage.ru_stime.tv_usec / 1000.0,
      usage.ru_maxrss);
  if (final) {
    g_string_append_printf (out, ", \"eos\": %s, \"interrupted\": %s, "
        "\"error\": ", viewer->eos ? "true" : "false",
        viewer->interrupted ? "true" : "false");
    if (viewer->error) {
      gchar *e = json_string (viewer->error);
      g_string_append (out, e);
      g_free (e);
    } else {
      g_string_append (out, "null");
    }
  }
  g_string_append (out, "}\n");
  fputs (out->str, stdout);
  fflush (stdout);
  g_string_free (out, TRUE);
}

/* ------------------------------------------------------------------------ */
/* Main loop */

static void
note_peers (Viewer * viewer, const GstStructure * s)
{
  guint peers;

  g_mutex_lock (&viewer->lock);
  if (gst_structure_has_name (s, "mesh-peer-connected"))
    viewer->peer_connects++;
  else if (gst_structure_has_name (s, "mesh-peer-disconnected"))
    viewer->peer_disconnects++;
  else if (gst_structure_get_uint (s, "peers", &peers))
    viewer->peers_max = MAX (viewer->peers_max, peers);
  g_mutex_unlock (&viewer->lock);
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Viewer *viewer = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *debug = NULL;

      gst_message_parse_error (msg, &err, &debug);
      if (!viewer->error)
        viewer->error = g_strdup_printf ("%s: %s (%s)",
            GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message,
            debug ? debug : "");
      g_clear_error (&err);
      g_free (debug);
      g_main_loop_quit (viewer->loop);
      break;
    }
    case GST_MESSAGE_EOS:
      viewer->eos = TRUE;
      g_main_loop_quit (viewer->loop);
      break;
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);

      if (s && GST_MESSAGE_SRC (msg) == GST_OBJECT (viewer->src)) {
        note_peers (viewer, s);
        if (gst_structure_has_name (s, "mesh-stats")) {
          g_clear_pointer (&viewer->last_stats, gst_structure_free);
          viewer->last_stats = gst_structure_copy (s);
        }
      }
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_time_up (gpointer user_data)
{
  Viewer *viewer = user_data;

  viewer->timer_id = 0;
  g_main_loop_quit (viewer->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_progress (gpointer user_data)
{
  print_report (user_data, FALSE);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  Viewer *viewer = user_data;

  viewer->interrupted = TRUE;
  g_main_loop_quit (viewer->loop);
  return G_SOURCE_CONTINUE;
}

static int
run_viewer (Viewer * viewer)
{
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (viewer->pipeline));
  guint bus_watch, progress = 0, sigint, sigterm;
  bus_watch = gst_bus_add_watch (bus, on_bus_message, viewer);
  gst_object_unref (bus);
  sigint = g_unix_signal_add (SIGINT, on_signal, viewer);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, viewer);

  viewer->play_time = gst_clock_get_time (viewer->clock);
  if (gst_element_set_state (viewer->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE && !viewer->error)
    viewer->error = g_strdup ("could not set the pipeline to PLAYING");
  viewer->timer_id = g_timeout_add (viewer->seconds * 1000, on_time_up, viewer);
  if (viewer->json_interval > 0)
    progress = g_timeout_add (viewer->json_interval, on_progress, viewer);
  if (!viewer->error)
    g_main_loop_run (viewer->loop);

  /* the counters and stalls as they are at the end of the run, before the
   * peers go away with the state change */
  print_report (viewer, TRUE);
  gst_element_set_state (viewer->pipeline, GST_STATE_NULL);

  g_source_remove (bus_watch);
  if (viewer->timer_id)
    g_source_remove (viewer->timer_id);
  if (progress)
    g_source_remove (progress);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  return viewer->error || viewer->eos ? 1 : 0;
}

/* Appends "NAME=VALUE" to a NULL-terminated array it takes and returns. */
static gchar **
strv_append (gchar ** strv, const gchar * name, const gchar * value)
{
  guint n = strv ? g_strv_length (strv) : 0;

  strv = g_renew (gchar *, strv, n + 2);
  strv[n] = g_strdup_printf ("%s=%s", name, value);
  strv[n + 1] = NULL;
  return strv;
}

int
main (int argc, char **argv)
{
  gchar *uri = NULL, *tracker = NULL, *local_address = NULL;
  gchar *stun_server = NULL, *turn_server = NULL, *network_hint = NULL;
  gchar **assignments = NULL;
  gint seconds = 60, json_interval = 0, max_peers = 0, report_interval = -1;
  gdouble live_delay = -1;
  GOptionEntry entries[] = {
    {"uri", 0, 0, G_OPTION_ARG_STRING, &uri,
        "HLS URL (http://... or meshhls+http://...)", "URI"},
    {"tracker", 0, 0, G_OPTION_ARG_STRING, &tracker,
        "mesh-tracker URL (none: CDN only)", "URL"},
    {"local-address", 0, 0, G_OPTION_ARG_STRING, &local_address,
        "only offer ICE candidates on this IP", "IP"},
    {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds,
        "how long to play (default 60)", "N"},
    {"json-interval", 0, 0, G_OPTION_ARG_INT, &json_interval,
        "also print a progress line every MS (default 0: none)", "MS"},
    {"max-peers", 0, 0, G_OPTION_ARG_INT, &max_peers,
        "max-peers of the element (default: its own)", "N"},
    {"live-delay", 0, 0, G_OPTION_ARG_DOUBLE, &live_delay,
        "live-delay of the element in seconds (default: its own)", "S"},
    {"stun-server", 0, 0, G_OPTION_ARG_STRING, &stun_server,
        "stun-server of the element", "HOST:PORT"},
    {"turn-server", 0, 0, G_OPTION_ARG_STRING, &turn_server,
        "turn-server of the element", "turn://USER:PASS@HOST:PORT"},
    {"report-interval", 0, 0, G_OPTION_ARG_INT, &report_interval,
        "report-interval of the element: seconds between qos reports to "
          "the tracker, 0 = none (default: its own)", "S"},
    {"network-hint", 0, 0, G_OPTION_ARG_STRING, &network_hint,
        "network-hint of the element (e.g. a site id)", "ID"},
    {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &assignments,
        "any other property of the element (repeatable)", "PROPERTY=VALUE"},
    {NULL}
  };
  GOptionContext *context = g_option_context_new ("- one viewer of the "
      "gst-mesh peer-to-peer benchmark");
  GError *error = NULL;
  Viewer viewer = { 0 };
  int ret;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("mesh-viewer: %s\n", error->message);
    return 2;
  }
  g_option_context_free (context);
  if (!uri || seconds < 1 || json_interval < 0 || max_peers < 0) {
    g_printerr ("mesh-viewer: --uri is required, --seconds must be >= 1, "
        "--json-interval and --max-peers >= 0\n");
    return 2;
  }
  GST_DEBUG_CATEGORY_INIT (mesh_viewer_debug, "meshviewer", 0,
      "mesh-viewer benchmark process");

  g_mutex_init (&viewer.lock);
  viewer.stalls = g_array_new (FALSE, FALSE, sizeof (Stall));
  viewer.first_render = GST_CLOCK_TIME_NONE;
  viewer.first_arrival = GST_CLOCK_TIME_NONE;
  viewer.seconds = seconds;
  viewer.json_interval = json_interval;
  viewer.loop = g_main_loop_new (NULL, FALSE);
  if (stun_server)
    assignments = strv_append (assignments, "stun-server", stun_server);
  if (turn_server)
    assignments = strv_append (assignments, "turn-server", turn_server);
  if (network_hint)
    assignments = strv_append (assignments, "network-hint", network_hint);
  if (report_interval >= 0) {
    g_autofree gchar *value = g_strdup_printf ("%d", report_interval);

    assignments = strv_append (assignments, "report-interval", value);
  }
  if (!build_pipeline (&viewer, uri, tracker, local_address, max_peers,
          live_delay >= 0 ? (gint64) (live_delay * GST_SECOND) : -1,
          assignments)) {
    ret = 2;
  } else {
    ret = run_viewer (&viewer);
  }

  gst_clear_object (&viewer.pipeline);
  gst_clear_object (&viewer.clock);
  g_main_loop_unref (viewer.loop);
  g_array_unref (viewer.stalls);
  g_mutex_clear (&viewer.lock);
  g_free (viewer.error);
  g_clear_pointer (&viewer.last_stats, gst_structure_free);
  g_free (uri);
  g_free (tracker);
  g_free (local_address);
  g_free (stun_server);
  g_free (turn_server);
  g_free (network_hint);
  g_strfreev (assignments);
  gst_deinit ();
  return ret;
}
