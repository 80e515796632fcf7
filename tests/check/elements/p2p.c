/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Peer-to-peer delivery end to end: the test origin, a real mesh-tracker and
 * three meshhlssrc viewers in this process, linked over libnice on loopback.
 * Each viewer plays in real time (fakesink sync=true on the segment bytes, so
 * the first buffer of every fragment waits for its running time) and records
 * its fragments and how late each one arrived. And a tracker that cannot be
 * used (nothing listening, a join refused for want of a token) is a WARNING
 * naming it, while playback goes on from the CDN. And every viewer sends
 * the tracker its qos reports (seen through a relay, mesh-tracker-tap.h).
 * And, in Redis mode, viewers each on a tracker instance of their own meet
 * through the shared Redis, and one instance stopping mid-stream stalls
 * nobody: its viewer fails over to another instance.
 *
 * Threads: each viewer's streaming thread runs the probe, which writes the
 * viewer's record under `lock` and signals `cond`; the test thread waits on
 * it with deadlines.
 */
#include <gst/check/gstcheck.h>

#include "../mesh-test-util.h"
#include "../mesh-test-port.h"
#include "../mesh-test-redis.h"
#include "../p2p/mesh-hostile-peer.h"
#include "../p2p/mesh-tracker-tap.h"
#include "mesh-tracker-server.h"

#define N_VIEWERS 3
#define LIVE_SEGMENTS 10        /* live/segN.ts, looped by the origin */
#define WAIT_S 60
/* A fragment whose first buffer reaches the sink this late made the
 * player wait: a stall. */
#define STALL_NS (800 * GST_MSECOND)

typedef struct
{
  GstElement *pipeline;
  GstElement *src;
  GMutex lock;
  GCond cond;
  GPtrArray *fragments;         /* GByteArray*, one per fragment */
  GstClockTime worst_lateness;  /* after the first two fragments */
  gboolean saw_peer;            /* a mesh-peer-connected message came */
  guint64 from_cdn, from_peers; /* read when stopped */
  GstStructure *last_stats;     /* the last mesh-stats, if it posts them */
} Viewer;

static MeshOriginServer *origin;
static MeshTrackerServer *tracker;
/* Redis mode: the instances sharing the swarms, and their Redis */
#define N_INSTANCES 3
static MeshTrackerServer *instances[N_INSTANCES];
static GSubprocess *redis;

static void
p2p_setup (void)
{
  MeshTrackerConfig config = { 0, };
  GError *error = NULL;

  origin = mesh_test_origin_start ();
  tracker = mesh_tracker_server_start (&config, &error);
  fail_unless (tracker != NULL, "tracker: %s", error ? error->message : "");
}

static void
p2p_teardown (void)
{
  if (tracker)
    mesh_tracker_server_stop (tracker);
  tracker = NULL;
  mesh_origin_server_stop (origin);
  origin = NULL;
}

static GstPadProbeReturn
record_buffer (GstPad * pad, GstPadProbeInfo * info, Viewer * v)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstElement *sink = GST_ELEMENT (gst_pad_get_parent (pad));
  GstSegment *segment = NULL;
  GstEvent *event;
  GstMapInfo map;

  event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  if (event)
    gst_event_parse_segment (event, (const GstSegment **) &segment);

  g_mutex_lock (&v->lock);
  if (GST_BUFFER_PTS_IS_VALID (buffer) || v->fragments->len == 0)
    g_ptr_array_add (v->fragments, g_byte_array_new ());
  gst_buffer_map (buffer, &map, GST_MAP_READ);
  g_byte_array_append (g_ptr_array_index (v->fragments,
          v->fragments->len - 1), map.data, map.size);
  gst_buffer_unmap (buffer, &map);

  /* how late the fragment start is against the pipeline clock */
  if (GST_BUFFER_PTS_IS_VALID (buffer) && segment && v->fragments->len > 2
      && GST_STATE (sink) == GST_STATE_PLAYING) {
    GstClock *clock = gst_element_get_clock (sink);
    GstClockTime running = gst_segment_to_running_time (segment,
        GST_FORMAT_TIME, GST_BUFFER_PTS (buffer));

    if (clock && GST_CLOCK_TIME_IS_VALID (running)) {
      GstClockTime now = gst_clock_get_time (clock) -
          gst_element_get_base_time (sink);
      if (now > running)
        v->worst_lateness = MAX (v->worst_lateness, now - running);
    }
    gst_clear_object (&clock);
  }
  g_cond_broadcast (&v->cond);
  g_mutex_unlock (&v->lock);

  gst_clear_event (&event);
  gst_object_unref (sink);
  return GST_PAD_PROBE_OK;
}

/* Sync handler: bus messages are popped (and dropped) by the waits; the
 * last mesh-stats is kept, to say in a failure what the viewer saw. */
static GstBusSyncReply
watch_peer_messages (GstBus * bus, GstMessage * msg, Viewer * v)
{
  if (gst_message_has_name (msg, "mesh-peer-connected")) {
    g_mutex_lock (&v->lock);
    v->saw_peer = TRUE;
    g_cond_broadcast (&v->cond);
    g_mutex_unlock (&v->lock);
  } else if (gst_message_has_name (msg, "mesh-stats")) {
    g_mutex_lock (&v->lock);
    gst_clear_structure (&v->last_stats);
    v->last_stats = gst_structure_copy (gst_message_get_structure (msg));
    g_mutex_unlock (&v->lock);
  }
  return GST_BUS_PASS;
}

static void
on_pad_added (GstElement * src, GstPad * pad, Viewer * v)
{
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  GstPad *sinkpad;

  g_object_set (sink, "sync", TRUE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (v->pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER,
      (GstPadProbeCallback) record_buffer, v, NULL);
  fail_unless_equals_int (gst_pad_link (pad, sinkpad), GST_PAD_LINK_OK);
  gst_object_unref (sinkpad);
}

/* A viewer of @path, with more properties of its source after @path
 * (name, value, ..., NULL), playing. */
static Viewer *
viewer_start_with (const gchar * path, const gchar * first_property, ...)
{
  g_autofree gchar *url = mesh_test_origin_url (origin, path);
  Viewer *v = g_new0 (Viewer, 1);
  va_list args;

  g_mutex_init (&v->lock);
  g_cond_init (&v->cond);
  v->fragments = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_byte_array_unref);
  v->pipeline = gst_pipeline_new (NULL);
  v->src = gst_element_factory_make ("meshhlssrc", NULL);
  g_object_set (v->src, "location", url,
      "tracker", tracker ? mesh_tracker_server_get_url (tracker) : NULL,
      "local-address", "127.0.0.1", "stats-interval", 0, NULL);
  va_start (args, first_property);
  if (first_property)
    g_object_set_valist (G_OBJECT (v->src), first_property, args);
  va_end (args);
  gst_bin_add (GST_BIN (v->pipeline), v->src);
  g_signal_connect (v->src, "pad-added", G_CALLBACK (on_pad_added), v);
  {
    GstBus *bus = gst_element_get_bus (v->pipeline);
    gst_bus_set_sync_handler (bus, (GstBusSyncHandler) watch_peer_messages,
        v, NULL);
    gst_object_unref (bus);
  }
  fail_unless (gst_element_set_state (v->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  return v;
}

static Viewer *
viewer_start (const gchar * path)
{
  return viewer_start_with (path, NULL);
}

/* Waits until @v has @n fragments (the last one may still be arriving). */
static void
viewer_wait_fragments (Viewer * v, guint n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  g_mutex_lock (&v->lock);
  while (v->fragments->len < n
      && g_cond_wait_until (&v->cond, &v->lock, deadline));
  g_mutex_unlock (&v->lock);
  fail_unless (v->fragments->len >= n, "viewer got %u of %u fragments",
      v->fragments->len, n);
}

static void
viewer_assert_no_error (Viewer * v)
{
  GstBus *bus = gst_element_get_bus (v->pipeline);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  fail_if (msg != NULL, "viewer error: %" GST_PTR_FORMAT, msg);
  gst_object_unref (bus);
}

static void
viewer_stop (Viewer * v)
{
  if (!v->pipeline)
    return;
  viewer_assert_no_error (v);
  gst_element_set_state (v->pipeline, GST_STATE_NULL);
  /* the element keeps its counters once stopped */
  g_object_get (v->src, "bytes-from-cdn", &v->from_cdn, "bytes-from-peers",
      &v->from_peers, NULL);
  GST_INFO ("viewer: %u fragments, %" G_GUINT64_FORMAT " bytes from the "
      "CDN, %" G_GUINT64_FORMAT " from peers, worst lateness %"
      GST_TIME_FORMAT, v->fragments->len, v->from_cdn, v->from_peers,
      GST_TIME_ARGS (v->worst_lateness));
  gst_clear_object (&v->pipeline);
}

static void
viewer_free (Viewer * v)
{
  viewer_stop (v);
  g_ptr_array_unref (v->fragments);
  gst_clear_structure (&v->last_stats);
  g_mutex_clear (&v->lock);
  g_cond_clear (&v->cond);
  g_free (v);
}

/* The fields of @v's last mesh-stats that say why it did not use a peer. */
static gchar *
viewer_describe_swarm_use (Viewer * v)
{
  guint peers = 0;
  guint64 from_peers = 0, nobody = 0, no_time = 0, failed = 0;

  g_mutex_lock (&v->lock);
  if (v->last_stats)
    gst_structure_get (v->last_stats, "peers", G_TYPE_UINT, &peers,
        "segments-from-peers", G_TYPE_UINT64, &from_peers,
        "cdn-nobody", G_TYPE_UINT64, &nobody,
        "cdn-no-time", G_TYPE_UINT64, &no_time,
        "cdn-peer-failed", G_TYPE_UINT64, &failed, NULL);
  g_mutex_unlock (&v->lock);
  return g_strdup_printf ("%u peers, %" G_GUINT64_FORMAT " segments from "
      "peers; to the CDN: %" G_GUINT64_FORMAT " nobody had it, %"
      G_GUINT64_FORMAT " no time, %" G_GUINT64_FORMAT " peer failed", peers,
      from_peers, nobody, no_time, failed);
}

static gboolean
fragment_is_file (const GByteArray * fragment, const gchar * relpath)
{
  g_autoptr (GBytes) file = mesh_test_read_media (relpath);

  return g_bytes_get_size (file) == fragment->len &&
      memcmp (g_bytes_get_data (file, NULL), fragment->data,
      fragment->len) == 0;
}

/* Live output: consecutive loop segments live/segN.ts, N = k, k+1, ... mod
 * LIVE_SEGMENTS. The last fragment may be cut short by the stop. */
static void
assert_live_output_is_cdn_content (Viewer * v)
{
  gint first = -1, i;
  guint f;

  fail_unless (v->fragments->len > 2);
  for (i = 0; i < LIVE_SEGMENTS && first < 0; i++) {
    g_autofree gchar *rel = g_strdup_printf ("live/seg%d.ts", i);
    if (fragment_is_file (g_ptr_array_index (v->fragments, 0), rel))
      first = i;
  }
  fail_unless (first >= 0, "first fragment is no live segment");
  for (f = 1; f + 1 < v->fragments->len; f++) {
    g_autofree gchar *rel = g_strdup_printf ("live/seg%u.ts",
        (first + f) % LIVE_SEGMENTS);
    fail_unless (fragment_is_file (g_ptr_array_index (v->fragments, f), rel),
        "fragment %u is not %s", f, rel);
  }
}

static guint
count_viewers_with_peer_bytes (Viewer ** viewers)
{
  guint i, n = 0;

  for (i = 0; i < N_VIEWERS; i++)
    n += viewers[i]->from_peers > 0;
  return n;
}

static guint64
total_received (Viewer ** viewers)
{
  guint64 total = 0;
  guint i;

  for (i = 0; i < N_VIEWERS; i++)
    total += viewers[i]->from_cdn + viewers[i]->from_peers;
  return total;
}

GST_START_TEST (test_live_three_viewers)
{
  Viewer *viewers[N_VIEWERS];
  guint64 origin_bytes;
  guint i;

  /* each joins once the one before plays, as viewers trickle in */
  for (i = 0; i < N_VIEWERS; i++) {
    viewers[i] = viewer_start ("live/live/index.m3u8");
    viewer_wait_fragments (viewers[i], 1);
  }
  for (i = 0; i < N_VIEWERS; i++)
    viewer_wait_fragments (viewers[i], 7);

  /* the first viewer leaves abruptly; the others carry on */
  viewer_stop (viewers[0]);
  for (i = 1; i < N_VIEWERS; i++)
    viewer_wait_fragments (viewers[i], 9);

  /* so does the tracker: links stay, playback goes on */
  mesh_tracker_server_stop (tracker);
  tracker = NULL;
  for (i = 1; i < N_VIEWERS; i++)
    viewer_wait_fragments (viewers[i], 11);

  for (i = 1; i < N_VIEWERS; i++) {
    fail_unless (viewers[i]->worst_lateness < STALL_NS, "viewer %u stalled "
        "(a fragment %" GST_TIME_FORMAT " late)", i,
        GST_TIME_ARGS (viewers[i]->worst_lateness));
    viewer_stop (viewers[i]);
  }

  origin_bytes = mesh_origin_server_get_bytes (origin, "/live/live/seg");
  GST_INFO ("origin served %" G_GUINT64_FORMAT " segment bytes, viewers "
      "received %" G_GUINT64_FORMAT, origin_bytes, total_received (viewers));
  fail_unless (count_viewers_with_peer_bytes (viewers) >= 2,
      "only %u viewers got bytes from peers",
      count_viewers_with_peer_bytes (viewers));
  fail_unless (origin_bytes < total_received (viewers));
  for (i = 0; i < N_VIEWERS; i++) {
    assert_live_output_is_cdn_content (viewers[i]);
    viewer_free (viewers[i]);
  }
}

GST_END_TEST;

GST_START_TEST (test_vod_three_viewers)
{
  /* 12 x 1 s */
  g_autoptr (GBytes) expected = mesh_test_expected_stream ("ts/v0/index.m3u8");
  Viewer *viewers[N_VIEWERS];
  guint64 origin_bytes;
  guint i;

  for (i = 0; i < N_VIEWERS; i++) {
    viewers[i] = viewer_start ("ts/v0/index.m3u8");
    viewer_wait_fragments (viewers[i], 2);
  }
  for (i = 0; i < N_VIEWERS; i++) {
    GstBus *bus = gst_element_get_bus (viewers[i]->pipeline);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, WAIT_S * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);

    fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
        "viewer %u: %" GST_PTR_FORMAT, i, msg);
    gst_message_unref (msg);
    gst_object_unref (bus);
    fail_unless (viewers[i]->worst_lateness < STALL_NS, "viewer %u stalled", i);
    viewer_stop (viewers[i]);
  }

  origin_bytes = mesh_origin_server_get_bytes (origin, "/ts/v0/seg");
  fail_unless (count_viewers_with_peer_bytes (viewers) >= 2);
  fail_unless (origin_bytes < total_received (viewers));
  for (i = 0; i < N_VIEWERS; i++) {
    GByteArray *all = g_byte_array_new ();
    g_autoptr (GBytes) got = NULL;
    guint f;

    fail_unless_equals_int (viewers[i]->fragments->len, 12);
    for (f = 0; f < viewers[i]->fragments->len; f++) {
      GByteArray *fragment = g_ptr_array_index (viewers[i]->fragments, f);
      g_byte_array_append (all, fragment->data, fragment->len);
    }
    got = g_byte_array_free_to_bytes (all);
    fail_unless (g_bytes_equal (got, expected), "viewer %u output differs "
        "from the CDN's", i);
    viewer_free (viewers[i]);
  }
}

GST_END_TEST;

/* Whether @condition of @hostile holds within @seconds (its thread sets
 * what it reads; there is nothing else to wait on). */
static gboolean
hostile_reaches (MeshHostilePeer * hostile,
    gboolean (*condition) (MeshHostilePeer * hostile), guint seconds)
{
  gint64 end = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  while (!condition (hostile) && g_get_monotonic_time () < end)
    g_usleep (10 * 1000);
  return condition (hostile);
}

/* The tracker sent it away. */
static gboolean
hostile_expelled (MeshHostilePeer * hostile)
{
  return mesh_hostile_peer_get_expelled (hostile);
}

/* Asked already, or linked to both viewers of the test: a viewer it has
 * no link with never tells it what it fetches, and the forger learns what
 * to claim only from those it is linked with. */
static gboolean
hostile_asked_or_linked_to_both (MeshHostilePeer * hostile)
{
  return mesh_hostile_peer_get_n_served (hostile) > 0
      || mesh_hostile_peer_get_n_links (hostile) >= 2;
}

static guint
viewer_n_fragments (Viewer * v)
{
  guint n;

  g_mutex_lock (&v->lock);
  n = v->fragments->len;
  g_mutex_unlock (&v->lock);
  return n;
}

/* A viewer that claims every segment first, then serves forged copies of
 * the right size, or DATA without end, or floods its links with REQUEST
 * and PING (one mode per run of the loop): the honest viewers of a live
 * stream play exactly the CDN's bytes, with no stall, and cut it off; a
 * forger is reported, and removed from the swarm by a tracker that acts on
 * one report.
 * Live, so that segments keep coming once every link is up (a short VOD
 * stream can be all fetched before, on a slow machine). */
GST_START_TEST (test_hostile_viewer_cannot_corrupt)
{
  static const MeshHostileMode modes[] = { MESH_HOSTILE_CORRUPT,
    MESH_HOSTILE_ENDLESS, MESH_HOSTILE_FLOOD
  };
  MeshTrackerConfig config = { 0, };
  MeshTrackerServer *strict;
  MeshHostilePeer *hostile;
  Viewer *viewers[2];
  GError *error = NULL;
  guint i, n, first, links;

  config.report_threshold = 1;
  strict = mesh_tracker_server_start (&config, &error);
  fail_unless (strict != NULL, "tracker: %s", error ? error->message : "");
  hostile = mesh_hostile_peer_new (mesh_tracker_server_get_url (strict),
      "hostile-swarm", modes[__i__]);
  for (i = 0; i < G_N_ELEMENTS (viewers); i++) {
    viewers[i] = viewer_start_with ("live/live/index.m3u8", "swarm-id",
        "hostile-swarm", "tracker", mesh_tracker_server_get_url (strict),
        "stats-interval", 1000, NULL);
    viewer_wait_fragments (viewers[i], 1);
  }
  for (i = 0; i < G_N_ELEMENTS (viewers); i++)
    viewer_wait_fragments (viewers[i], 8);
  if (modes[__i__] == MESH_HOSTILE_CORRUPT) {
    /* a link that failed on a loaded machine (CI once: the viewer that
     * fetched from the CDN had none to the forger) is retried after a
     * back-off: give it the time */
    fail_unless (hostile_reaches (hostile, hostile_asked_or_linked_to_both,
            60), "the forger's links did not come up (%u)",
        mesh_hostile_peer_get_n_links (hostile));
    /* the forger is asked only for a segment whose forged claim reached a
     * viewer before that viewer chose where to get it, a race each
     * segment; on a loaded machine it can be lost many times in a row (15
     * segments with the 2 cores three times oversubscribed here): play
     * on, a fragment at a time, until it was asked (up to 40 more) */
    first = viewer_n_fragments (viewers[0]);
    for (n = first + 1; n <= first + 40
        && mesh_hostile_peer_get_n_served (hostile) == 0; n++)
      viewer_wait_fragments (viewers[0], n);
  }
  links = mesh_hostile_peer_get_n_links (hostile);
  for (i = 0; i < G_N_ELEMENTS (viewers); i++) {
    fail_unless (viewers[i]->worst_lateness < STALL_NS, "viewer %u stalled "
        "(a fragment %" GST_TIME_FORMAT " late)", i,
        GST_TIME_ARGS (viewers[i]->worst_lateness));
    viewer_stop (viewers[i]);
    assert_live_output_is_cdn_content (viewers[i]);
  }

  GST_INFO ("hostile peer: served %u forged segments (%" G_GUINT64_FORMAT
      " bytes), cut off %u times", mesh_hostile_peer_get_n_served (hostile),
      mesh_hostile_peer_get_bytes_sent (hostile),
      mesh_hostile_peer_get_n_cut_off (hostile));
  /* else this test proved nothing: the forger claims every segment first
   * and is asked; DATA without end is asked of it only when a viewer picks
   * it among the holders (timing), and cut off when it was */
  if (modes[__i__] == MESH_HOSTILE_CORRUPT
      && mesh_hostile_peer_get_n_served (hostile) == 0) {
    g_autofree gchar *v0 = viewer_describe_swarm_use (viewers[0]);
    g_autofree gchar *v1 = viewer_describe_swarm_use (viewers[1]);

    fail ("nobody asked the hostile peer (%u links to it; viewer 0: %s; "
        "viewer 1: %s)", links, v0, v1);
  }
  if (modes[__i__] != MESH_HOSTILE_ENDLESS
      || mesh_hostile_peer_get_n_served (hostile) > 0)
    fail_unless (mesh_hostile_peer_get_n_cut_off (hostile) > 0);
  if (modes[__i__] == MESH_HOSTILE_CORRUPT)
    fail_unless (hostile_reaches (hostile, hostile_expelled, 5), "the forger "
        "is still in the swarm");
  for (i = 0; i < G_N_ELEMENTS (viewers); i++)
    viewer_free (viewers[i]);
  mesh_hostile_peer_free (hostile);
  mesh_tracker_server_stop (strict);
}

GST_END_TEST;

/* Plays @c until EOS and until a WARNING came (the pipeline stays PLAYING
 * after EOS for it), within WAIT_S; fails on an ERROR. Returns the
 * warning's message and debug text, joined. */
static gchar *
run_to_eos_and_warning (MeshCollector * c)
{
  GstBus *bus = gst_element_get_bus (c->pipeline);
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;
  gchar *warning = NULL;
  gboolean eos = FALSE;

  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  while (!(eos && warning) && g_get_monotonic_time () < deadline) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus,
        (deadline - g_get_monotonic_time ()) * GST_USECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
    GError *error = NULL;
    gchar *debug = NULL;

    if (!msg)
      break;
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "error: %"
        GST_PTR_FORMAT, msg);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      eos = TRUE;
    } else if (!warning) {
      fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (c->src),
          "a warning of %" GST_PTR_FORMAT, GST_MESSAGE_SRC (msg));
      gst_message_parse_warning (msg, &error, &debug);
      warning = g_strdup_printf ("%s (%s)", error->message, debug);
      GST_INFO ("warning: %s", warning);
      g_error_free (error);
      g_free (debug);
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  fail_unless (eos, "no EOS");
  fail_unless (warning != NULL, "no warning");
  return warning;
}

/* The whole of single/index.m3u8 came out, every byte from the CDN. */
static void
assert_played_from_cdn (MeshCollector * c)
{
  g_autoptr (GBytes) expected = mesh_test_expected_stream ("single/index.m3u8");
  g_autoptr (GBytes) got = mesh_collector_get_bytes (c, 0);
  guint64 from_peers = 1;

  fail_unless (g_bytes_equal (got, expected));
  g_object_get (c->src, "bytes-from-peers", &from_peers, NULL);
  fail_unless_equals_uint64 (from_peers, 0);
}

/* No tracker reachable: exactly the CDN-only playback, and a warning that
 * names the tracker once the reconnect attempts have failed. */
GST_START_TEST (test_unreachable_tracker_plays_from_cdn)
{
  GstElement *src = gst_element_factory_make ("meshhlssrc", NULL);
  g_autofree gchar *url = mesh_test_origin_url (origin, "single/index.m3u8");
  g_autofree gchar *dead_tracker = NULL;
  g_autofree gchar *warning = NULL;
  MeshCollector *c;
  guint port = mesh_tracker_server_get_port (tracker);

  mesh_tracker_server_stop (tracker);
  tracker = NULL;
  dead_tracker = g_strdup_printf ("ws://127.0.0.1:%u/announce", port);
  g_object_set (src, "location", url, "tracker", dead_tracker,
      "local-address", "127.0.0.1", NULL);
  c = mesh_collector_new (src);
  warning = run_to_eos_and_warning (c);
  fail_unless (strstr (warning, dead_tracker) != NULL,
      "the warning does not name the tracker: %s", warning);
  fail_unless (strstr (warning, "unreachable") != NULL,
      "the warning does not say why: %s", warning);
  assert_played_from_cdn (c);
  mesh_collector_free (c);
}

GST_END_TEST;

/* A tracker that wants a token the viewer does not have refuses the join:
 * a warning naming it and the reason at once, and CDN-only playback. */
GST_START_TEST (test_refused_token_plays_from_cdn)
{
  MeshTrackerConfig config = { 0, };
  MeshTrackerServer *strict;
  GError *error = NULL;
  GstElement *src = gst_element_factory_make ("meshhlssrc", NULL);
  g_autofree gchar *url = mesh_test_origin_url (origin, "single/index.m3u8");
  g_autofree gchar *warning = NULL;
  MeshCollector *c;

  config.host = "127.0.0.1";
  config.token_secret = "the content provider's secret";
  strict = mesh_tracker_server_start (&config, &error);
  fail_unless (strict != NULL, "tracker: %s", error ? error->message : "");
  g_object_set (src, "location", url, "tracker",
      mesh_tracker_server_get_url (strict), "local-address", "127.0.0.1", NULL);
  c = mesh_collector_new (src);
  warning = run_to_eos_and_warning (c);
  fail_unless (strstr (warning, mesh_tracker_server_get_url (strict)) != NULL,
      "the warning does not name the tracker: %s", warning);
  fail_unless (strstr (warning, "token") != NULL,
      "the warning does not say why: %s", warning);
  assert_played_from_cdn (c);
  mesh_collector_free (c);
  mesh_tracker_server_stop (strict);
}

GST_END_TEST;

static void
viewer_wait_eos (Viewer * v)
{
  GstBus *bus = gst_element_get_bus (v->pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, WAIT_S * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);

  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "no EOS: %" GST_PTR_FORMAT, msg);
  gst_message_unref (msg);
  gst_object_unref (bus);
}

static gboolean
viewer_saw_peer (Viewer * v)
{
  gboolean seen;

  g_mutex_lock (&v->lock);
  seen = v->saw_peer;
  g_mutex_unlock (&v->lock);
  return seen;
}

static guint64
viewer_uploaded (Viewer * v)
{
  guint64 uploaded;

  g_object_get (v->src, "bytes-uploaded", &uploaded, NULL);
  return uploaded;
}

/* Waits until @v has seen a peer connect. */
static gboolean
viewer_wait_peer (Viewer * v)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;
  gboolean seen;

  g_mutex_lock (&v->lock);
  while (!v->saw_peer && g_cond_wait_until (&v->cond, &v->lock, deadline));
  seen = v->saw_peer;
  g_mutex_unlock (&v->lock);
  return seen;
}

/* Viewers that present a token made for their swarm (the manifest URL
 * without its query, by default) join a tracker that requires tokens and
 * link up; a wrong token is refused with a warning. */
GST_START_TEST (test_tracker_token_admits_viewers)
{
  const gchar *secret = "the content provider's secret";
  const gchar *path = "ts/v0/index.m3u8";
  MeshTrackerConfig config = { 0, };
  MeshTrackerServer *strict;
  GError *error = NULL;
  g_autofree gchar *url = mesh_test_origin_url (origin, path);
  g_autofree gchar *token = NULL, *wrong = NULL;
  Viewer *a, *b;

  config.host = "127.0.0.1";
  config.token_secret = secret;
  strict = mesh_tracker_server_start (&config, &error);
  fail_unless (strict != NULL, "tracker: %s", error ? error->message : "");
  token = mesh_tracker_make_token (secret, url,
      g_get_real_time () / G_USEC_PER_SEC + 600);
  wrong = mesh_tracker_make_token ("another secret", url,
      g_get_real_time () / G_USEC_PER_SEC + 600);

  a = viewer_start_with (path, "tracker", mesh_tracker_server_get_url (strict),
      "tracker-token", token, NULL);
  b = viewer_start_with (path, "tracker", mesh_tracker_server_get_url (strict),
      "tracker-token", token, NULL);
  fail_unless (viewer_wait_peer (a), "viewers with a valid token never met");
  fail_unless (viewer_wait_peer (b), "viewers with a valid token never met");
  viewer_free (a);
  viewer_free (b);

  {
    GstElement *src = gst_element_factory_make ("meshhlssrc", NULL);
    g_autofree gchar *single = mesh_test_origin_url (origin,
        "single/index.m3u8");
    g_autofree gchar *warning = NULL;
    MeshCollector *c;

    g_object_set (src, "location", single, "tracker",
        mesh_tracker_server_get_url (strict), "tracker-token", wrong,
        "local-address", "127.0.0.1", NULL);
    c = mesh_collector_new (src);
    warning = run_to_eos_and_warning (c);
    fail_unless (strstr (warning, "token") != NULL,
        "the warning does not say why: %s", warning);
    fail_if (strstr (warning, wrong) != NULL, "the warning shows the token");
    assert_played_from_cdn (c);
    mesh_collector_free (c);
  }
  mesh_tracker_server_stop (strict);
}

GST_END_TEST;

/* A viewer on a metered link (upload=FALSE) serves nobody. */
GST_START_TEST (test_upload_disabled)
{
  Viewer *metered = viewer_start_with ("ts/v0/index.m3u8", "upload", FALSE,
      NULL);
  Viewer *other;

  viewer_wait_fragments (metered, 3);
  other = viewer_start ("ts/v0/index.m3u8");
  viewer_wait_eos (metered);
  viewer_wait_eos (other);
  fail_unless (viewer_saw_peer (metered), "the viewers never connected");
  fail_unless_equals_uint64 (viewer_uploaded (metered), 0);
  viewer_stop (metered);
  viewer_stop (other);
  fail_unless_equals_uint64 (other->from_peers, 0);
  viewer_free (metered);
  viewer_free (other);
}

GST_END_TEST;

/* max-upload-rate bounds what a viewer sends, and a peer held back by it
 * costs the other viewer a switch to the CDN, not a stall. */
GST_START_TEST (test_max_upload_rate)
{
  const guint64 rate = 20000;   /* bytes/s, half the stream's bitrate */
  Viewer *slow = viewer_start_with ("ts/v0/index.m3u8", "max-upload-rate",
      rate, NULL);
  Viewer *other;
  gint64 started = g_get_monotonic_time ();
  gdouble seconds;

  viewer_wait_fragments (slow, 3);
  other = viewer_start ("ts/v0/index.m3u8");
  viewer_wait_eos (other);
  seconds = (g_get_monotonic_time () - started) / (gdouble) G_USEC_PER_SEC;
  fail_unless (viewer_saw_peer (slow), "the viewers never connected");
  GST_INFO ("%" G_GUINT64_FORMAT " bytes uploaded in %.1f s",
      viewer_uploaded (slow), seconds);
  fail_unless (viewer_uploaded (slow) > 0, "the slow peer served nothing");
  /* the rate over the time, plus the bucket's one second and a frame */
  fail_unless (viewer_uploaded (slow) <= rate * (seconds + 1) + 65536,
      "%" G_GUINT64_FORMAT " bytes uploaded in %.1f s at %" G_GUINT64_FORMAT
      " bytes/s", viewer_uploaded (slow), seconds, rate);
  fail_unless (other->worst_lateness < STALL_NS, "stalled behind a slow "
      "peer (a fragment %" GST_TIME_FORMAT " late)",
      GST_TIME_ARGS (other->worst_lateness));
  viewer_stop (other);
  viewer_stop (slow);
  viewer_free (other);
  viewer_free (slow);
}

GST_END_TEST;

/* Multi-CDN: a viewer on each of two origins serving the same files
 * (two CDN hostnames), with the same swarm-id, share segments: their
 * identities name the rendition and the segment, not the host. */
static guint64
segment_bytes (MeshOriginServer * server, const gchar * const *prefixes)
{
  guint64 total = 0;

  for (; *prefixes; prefixes++)
    total += mesh_origin_server_get_bytes (server, *prefixes);
  return total;
}

/* @prefixes: the paths of the segment files (NULL-terminated). */
static void
two_cdns_one_swarm (const gchar * path, const gchar * const *prefixes,
    GBytes * expected)
{
  MeshOriginServer *second = mesh_test_origin_start ();
  g_autofree gchar *url = mesh_test_origin_url (origin, path);
  g_autofree gchar *second_url = mesh_test_origin_url (second, path);
  Viewer *viewers[2];
  guint64 second_bytes;
  guint i;

  /* max-bitrate pins the lowest variant of a master playlist */
  viewers[0] = viewer_start_with (path, "location", url, "swarm-id",
      "multi-cdn", "max-bitrate", 500000, NULL);
  viewer_wait_fragments (viewers[0], 2);
  viewers[1] = viewer_start_with (path, "location", second_url, "swarm-id",
      "multi-cdn", "max-bitrate", 500000, NULL);
  for (i = 0; i < 2; i++) {
    viewer_wait_eos (viewers[i]);
    viewer_stop (viewers[i]);
  }

  second_bytes = segment_bytes (second, prefixes);
  GST_INFO ("second origin served %" G_GUINT64_FORMAT " segment bytes, its "
      "viewer received %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " from "
      "peers); the first served %" G_GUINT64_FORMAT, second_bytes,
      viewers[1]->from_cdn + viewers[1]->from_peers, viewers[1]->from_peers,
      segment_bytes (origin, prefixes));
  fail_unless (viewers[0]->from_peers + viewers[1]->from_peers > 0,
      "no viewer got bytes from a peer on the other CDN");
  /* one origin served less than its viewer played: which one depends on
   * which viewer runs ahead (under the sanitizers the first can fall
   * behind the second and take from it) */
  fail_unless (second_bytes < viewers[1]->from_cdn + viewers[1]->from_peers
      || segment_bytes (origin, prefixes) <
      viewers[0]->from_cdn + viewers[0]->from_peers,
      "each origin served all its viewer played (the second %"
      G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT ")", second_bytes,
      viewers[1]->from_cdn + viewers[1]->from_peers);
  for (i = 0; i < 2; i++) {
    if (expected) {
      GByteArray *all = g_byte_array_new ();
      g_autoptr (GBytes) got = NULL;
      guint f;

      for (f = 0; f < viewers[i]->fragments->len; f++) {
        GByteArray *fragment = g_ptr_array_index (viewers[i]->fragments, f);
        g_byte_array_append (all, fragment->data, fragment->len);
      }
      got = g_byte_array_free_to_bytes (all);
      fail_unless (g_bytes_equal (got, expected), "viewer %u output differs "
          "from the CDN's", i);
    }
    viewer_free (viewers[i]);
  }
  mesh_origin_server_stop (second);
}

/* A media playlist (one output: compared byte for byte). */
GST_START_TEST (test_two_cdns_one_swarm_media_playlist)
{
  g_autoptr (GBytes) expected = mesh_test_expected_stream ("ts/v0/index.m3u8");
  const gchar *const prefixes[] = { "/ts/v0/seg", NULL };

  two_cdns_one_swarm ("ts/v0/index.m3u8", prefixes, expected);
}

GST_END_TEST;

/* A master playlist: the variant (by its path relative to the master) and
 * the audio rendition (by TYPE, GROUP-ID, NAME) are shared. */
GST_START_TEST (test_two_cdns_one_swarm_master_playlist)
{
  const gchar *const prefixes[] = { "/ts/v0/seg", "/ts/audio/seg", NULL };

  two_cdns_one_swarm ("ts/master.m3u8", prefixes, NULL);
}

GST_END_TEST;

/* Asking the swarm ahead (mesh_fetcher_prefetch): the last mesh-stats
 * that @v posted so far. */
static GstStructure *
viewer_last_stats (Viewer * v)
{
  GstBus *bus = gst_element_get_bus (v->pipeline);
  GstStructure *last = NULL;
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    if (gst_message_has_name (msg, "mesh-stats")) {
      g_clear_pointer (&last, gst_structure_free);
      last = gst_structure_copy (gst_message_get_structure (msg));
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  return last;
}

static guint64
stats_get (const GstStructure * s, const gchar * field)
{
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (s, field, &v), "no %s in %"
      GST_PTR_FORMAT, field, s);
  return v;
}

/* Requests in the slack buckets of @s from @min_ms on, and in all. */
static guint64
slack_at_least (const GstStructure * s, gint64 min_ms, guint64 * all)
{
  const gchar *histogram = gst_structure_get_string (s, "slack-histogram");
  g_auto (GStrv) buckets = NULL;
  gint64 lower = 0;
  guint64 n = 0;
  guint i;

  fail_unless (histogram != NULL);
  buckets = g_strsplit (histogram, ",", -1);
  *all = 0;
  for (i = 0; buckets[i]; i++) {
    g_auto (GStrv) kv = g_strsplit (buckets[i], ":", 2);
    guint64 count = g_ascii_strtoull (kv[1], NULL, 10);

    *all += count;
    if (lower >= min_ms)
      n += count;
    lower = g_str_equal (kv[0], "inf") ? G_MAXINT64 :
        g_ascii_strtoll (kv[0], NULL, 10);
  }
  return n;
}

GST_START_TEST (test_live_prefetch_asks_peers_early)
{
  Viewer *viewers[N_VIEWERS];
  GstStructure *stats[N_VIEWERS];
  guint64 origin_bytes, early = 0;
  guint i;

  for (i = 0; i < N_VIEWERS; i++) {
    viewers[i] = viewer_start_with ("live/live/index.m3u8", "stats-interval",
        250, NULL);
    viewer_wait_fragments (viewers[i], 1);
  }
  for (i = 0; i < N_VIEWERS; i++)
    viewer_wait_fragments (viewers[i], 8);
  for (i = 0; i < N_VIEWERS; i++) {
    stats[i] = viewer_last_stats (viewers[i]);
    fail_unless (stats[i] != NULL, "viewer %u posted no mesh-stats", i);
    fail_unless (viewers[i]->worst_lateness < STALL_NS, "viewer %u stalled", i);
    viewer_stop (viewers[i]);
  }

  origin_bytes = mesh_origin_server_get_bytes (origin, "/live/live/seg");
  fail_unless (origin_bytes < total_received (viewers),
      "origin served %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
      origin_bytes, total_received (viewers));
  for (i = 0; i < N_VIEWERS; i++) {
    guint64 requests = stats_get (stats[i], "segments-to-peers");
    guint64 all;

    GST_INFO ("viewer %u: %" GST_PTR_FORMAT, i, stats[i]);
    /* upcoming segments went to the swarm ahead of their download, which
     * adopted them */
    fail_unless (stats_get (stats[i], "prefetched") > 0);
    fail_unless (stats_get (stats[i], "prefetch-adopted") > 0);
    fail_unless (requests > 0);
    fail_unless (stats_get (stats[i], "cdn-nobody") + stats_get (stats[i],
            "cdn-no-time") + stats_get (stats[i], "cdn-peer-failed")
        <= requests);
    early += slack_at_least (stats[i], 2000, &all);
    fail_unless_equals_uint64 (all, requests);
    gst_structure_free (stats[i]);
  }
  /* fetched one fragment ahead of a sink that holds nothing, no request
   * would have 2 s of slack */
  fail_unless (early > 0, "no request was made 2 s ahead of its deadline");
  for (i = 0; i < N_VIEWERS; i++) {
    assert_live_output_is_cdn_content (viewers[i]);
    viewer_free (viewers[i]);
  }
}

GST_END_TEST;

/* The connection of the tap that joined with @network (borrowed from
 * @connections); fails the test when there is none. */
static const MeshTrackerTapConnection *
tap_connection (GArray * connections, const gchar * network)
{
  guint i;

  for (i = 0; i < connections->len; i++) {
    const MeshTrackerTapConnection *c =
        &g_array_index (connections, MeshTrackerTapConnection, i);

    if (g_strcmp0 (c->network, network) == 0)
      return c;
  }
  fail ("no connection joined with network \"%s\"", network);
  return NULL;
}

/* What a viewer's last qos report says is what it played: CDN bytes, peer
 * bytes when it had some, a startup and a bitrate; and the counters grew
 * from the first report. */
static void
assert_viewer_reports (Viewer * v, const MeshTrackerTapConnection * c)
{
  const MeshQosReport *first = &c->first_qos, *last = &c->last_qos;

  fail_unless (c->peer != NULL);
  fail_unless_equals_int (c->qos_before_join, 0);
  fail_unless_equals_int (c->malformed, 0);
  fail_unless (c->qos >= 2, "%u qos reports", c->qos);
  fail_unless (last->cdn_bytes > 0);
  fail_unless (last->cdn_bytes <= (gint64) v->from_cdn, "reported %"
      G_GINT64_FORMAT " bytes from the CDN of %" G_GUINT64_FORMAT,
      last->cdn_bytes, v->from_cdn);
  fail_unless (last->peer_bytes <= (gint64) v->from_peers);
  if (v->from_peers > 0)
    fail_unless (last->peer_bytes > 0, "%" G_GUINT64_FORMAT " bytes from "
        "peers, none reported", v->from_peers);
  fail_unless (last->cdn_bytes + last->peer_bytes >
      first->cdn_bytes + first->peer_bytes, "the byte counts did not grow");
  fail_unless (last->cdn_bytes >= first->cdn_bytes);
  fail_unless (last->uploaded_bytes >= first->uploaded_bytes);
  fail_unless (last->startup_ms >= 0 && last->startup_ms < WAIT_S * 1000,
      "startup %" G_GINT64_FORMAT " ms", last->startup_ms);
  fail_unless (last->bitrate > 0);
  fail_unless (last->stalls >= 0 && last->stall_ms >= 0);
}

/* Every viewer tells the tracker how it plays, once a second here: a relay
 * in front of the tracker sees each one's qos reports after its join, with
 * its network hint, and the bytes it got from the CDN and from peers; a
 * viewer with report-interval 0 sends none. */
GST_START_TEST (test_viewers_send_qos_reports)
{
  MeshTrackerTap *tap =
      mesh_tracker_tap_start (mesh_tracker_server_get_url (tracker));
  const gchar *tap_url = mesh_tracker_tap_get_url (tap);
  Viewer *viewers[N_VIEWERS], *quiet;
  GArray *connections;
  const MeshTrackerTapConnection *c;
  guint i;

  quiet = viewer_start_with ("ts/v0/index.m3u8", "tracker", tap_url,
      "report-interval", 0, "network-hint", "quiet", NULL);
  for (i = 0; i < N_VIEWERS; i++) {
    g_autofree gchar *network = g_strdup_printf ("viewer-%u", i);

    viewers[i] = viewer_start_with ("ts/v0/index.m3u8", "tracker", tap_url,
        "report-interval", 1, "network-hint", network, NULL);
    viewer_wait_fragments (viewers[i], 2);
  }
  for (i = 0; i < N_VIEWERS; i++) {
    g_autofree gchar *network = g_strdup_printf ("viewer-%u", i);

    viewer_wait_eos (viewers[i]);
    fail_unless (mesh_tracker_tap_wait_qos (tap, network, 2, WAIT_S * 1000),
        "viewer %u: fewer than 2 qos reports", i);
    viewer_stop (viewers[i]);
  }
  viewer_wait_eos (quiet);
  viewer_stop (quiet);
  fail_unless (count_viewers_with_peer_bytes (viewers) >= 1);

  connections = mesh_tracker_tap_dup_connections (tap);
  for (i = 0; i < N_VIEWERS; i++) {
    g_autofree gchar *network = g_strdup_printf ("viewer-%u", i);

    c = tap_connection (connections, network);
    GST_INFO ("viewer %u: %u qos reports, last: %" G_GINT64_FORMAT " bytes "
        "from the CDN, %" G_GINT64_FORMAT " from peers, %" G_GINT64_FORMAT
        " uploaded, %" G_GINT64_FORMAT " stalls (%" G_GINT64_FORMAT " ms), "
        "startup %" G_GINT64_FORMAT " ms, %" G_GINT64_FORMAT " bit/s, %"
        G_GINT64_FORMAT " peers", i, c->qos, c->last_qos.cdn_bytes,
        c->last_qos.peer_bytes, c->last_qos.uploaded_bytes,
        c->last_qos.stalls, c->last_qos.stall_ms, c->last_qos.startup_ms,
        c->last_qos.bitrate, c->last_qos.peers);
    assert_viewer_reports (viewers[i], c);
  }
  c = tap_connection (connections, "quiet");
  fail_unless (c->peer != NULL, "the quiet viewer did not join");
  fail_unless_equals_int (c->qos + c->qos_before_join, 0);
  mesh_tracker_tap_connections_free (connections);

  for (i = 0; i < N_VIEWERS; i++)
    viewer_free (viewers[i]);
  viewer_free (quiet);
  mesh_tracker_tap_stop (tap);
}

GST_END_TEST;

static void
redis_p2p_setup (void)
{
  guint port = mesh_test_unused_port ();
  g_autofree gchar *url = g_strdup_printf ("redis://127.0.0.1:%u", port);
  guint i;

  origin = mesh_test_origin_start ();
  redis = mesh_test_redis_start (port);
  for (i = 0; i < N_INSTANCES; i++) {
    MeshTrackerConfig config = { 0, };
    GError *error = NULL;

    config.redis = url;
    instances[i] = mesh_tracker_server_start (&config, &error);
    fail_unless (instances[i] != NULL, "instance %u: %s", i,
        error ? error->message : "");
  }
}

static void
redis_p2p_teardown (void)
{
  guint i;

  for (i = 0; i < N_INSTANCES; i++)
    g_clear_pointer (&instances[i], mesh_tracker_server_stop);
  g_subprocess_send_signal (redis, SIGTERM);
  g_subprocess_wait (redis, NULL, NULL);
  g_clear_object (&redis);
  mesh_origin_server_stop (origin);
  origin = NULL;
}

/* A "tracker" naming every instance, @first's first: the viewer joins
 * there, and fails over to the next ones. */
static gchar *
instance_urls (guint first)
{
  GString *urls = g_string_new (NULL);
  guint i;

  for (i = 0; i < N_INSTANCES; i++)
    g_string_append_printf (urls, "%s%s", i ? " " : "",
        mesh_tracker_server_get_url (instances[(first + i) % N_INSTANCES]));
  return g_string_free (urls, FALSE);
}

static guint
instances_peers (void)
{
  guint i, peers = 0;

  for (i = 0; i < N_INSTANCES; i++)
    if (instances[i])
      peers += mesh_tracker_server_get_peers (instances[i]);
  return peers;
}

/* Viewers whose element counted bytes from peers, while playing. */
static guint
count_viewers_playing_peer_bytes (Viewer ** viewers)
{
  guint i, n = 0;

  for (i = 0; i < N_VIEWERS; i++) {
    guint64 from_peers;

    g_object_get (viewers[i]->src, "bytes-from-peers", &from_peers, NULL);
    GST_INFO ("viewer %u: %" G_GUINT64_FORMAT " bytes from peers", i,
        from_peers);
    n += from_peers > 0;
  }
  return n;
}

/* Three live viewers, each alone on its instance: every peer byte a viewer
 * gets comes from a member of another instance. Then the last viewer's
 * instance stops mid-stream. */
GST_START_TEST (test_live_viewers_on_three_instances)
{
  Viewer *viewers[N_VIEWERS];
  guint i;

  for (i = 0; i < N_VIEWERS; i++) {
    g_autofree gchar *urls = instance_urls (i);

    viewers[i] = viewer_start_with ("live/live/index.m3u8", "tracker", urls,
        NULL);
    viewer_wait_fragments (viewers[i], 1);
  }
  for (i = 0; i < N_VIEWERS; i++)
    viewer_wait_fragments (viewers[i], 6);
  for (i = 0; i < N_INSTANCES; i++)
    fail_unless_equals_int (mesh_tracker_server_get_peers (instances[i]), 1);
  /* so far every peer byte crossed instances */
  fail_unless (count_viewers_playing_peer_bytes (viewers) >= 2,
      "only %u viewers got bytes from peers of other instances",
      count_viewers_playing_peer_bytes (viewers));

  /* the last viewer's instance goes away; it carries on, joins the next
   * instance and nobody stalls */
  g_clear_pointer (&instances[N_INSTANCES - 1], mesh_tracker_server_stop);
  for (i = 0; i < N_VIEWERS; i++)
    viewer_wait_fragments (viewers[i], 10);
  fail_unless_equals_int (instances_peers (), N_VIEWERS);
  fail_unless_equals_int (mesh_tracker_server_get_peers (instances[0]), 2);

  for (i = 0; i < N_VIEWERS; i++) {
    fail_unless (viewers[i]->worst_lateness < STALL_NS, "viewer %u stalled "
        "(a fragment %" GST_TIME_FORMAT " late)", i,
        GST_TIME_ARGS (viewers[i]->worst_lateness));
    viewer_stop (viewers[i]);
  }
  GST_INFO ("peer bytes: %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT ", %"
      G_GUINT64_FORMAT, viewers[0]->from_peers, viewers[1]->from_peers,
      viewers[2]->from_peers);
  for (i = 0; i < N_VIEWERS; i++) {
    assert_live_output_is_cdn_content (viewers[i]);
    viewer_free (viewers[i]);
  }
}

GST_END_TEST;

static Suite *
p2p_suite (void)
{
  Suite *s = suite_create ("p2p");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 180);
  tcase_add_checked_fixture (tc, p2p_setup, p2p_teardown);
  tcase_add_test (tc, test_live_three_viewers);
  tcase_add_test (tc, test_vod_three_viewers);
  tcase_add_loop_test (tc, test_hostile_viewer_cannot_corrupt, 0, 3);
  tcase_add_test (tc, test_unreachable_tracker_plays_from_cdn);
  tcase_add_test (tc, test_refused_token_plays_from_cdn);
  tcase_add_test (tc, test_tracker_token_admits_viewers);
  tcase_add_test (tc, test_upload_disabled);
  tcase_add_test (tc, test_max_upload_rate);
  tcase_add_test (tc, test_two_cdns_one_swarm_media_playlist);
  tcase_add_test (tc, test_two_cdns_one_swarm_master_playlist);
  tcase_add_test (tc, test_live_prefetch_asks_peers_early);
  tcase_add_test (tc, test_viewers_send_qos_reports);

  tc = tcase_create ("redis");
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  if (!mesh_test_have_redis ()) {
    GST_WARNING ("no Redis mode in this build, or no redis-server: "
        "skipping the Redis mode test");
    return s;
  }
  tcase_add_checked_fixture (tc, redis_p2p_setup, redis_p2p_teardown);
  tcase_add_test (tc, test_live_viewers_on_three_instances);
  return s;
}

GST_CHECK_MAIN (p2p);
