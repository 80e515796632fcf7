/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What GstMeshAdaptiveSrc does the same for meshhlssrc and meshdashsrc:
 * failing to start at once, gst-launch exiting, one NOT_LINKED error for
 * all the streams, ABR switches between fragments only, the final
 * mesh-stats, current-bitrate, property ranges, warnings for property
 * values the element cannot use, and seeks refused from a streaming
 * thread.
 *
 * Threads: the test thread drives the pipelines and the origins. Pad probes
 * run on the elements' streaming threads; what they record is guarded by
 * the lock of the struct they write (Barrier, BufferLog, BitrateWatch,
 * StreamSeek) and the test thread reads it under that lock, or after the
 * pipeline is back in NULL. Waits are on bus messages or GConds, always
 * with a deadline.
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <string.h>

#include "../mesh-test-util.h"
#include "../mesh-test-port.h"

#define PLAY_TIMEOUT_S 60
#define ERROR_TIMEOUT_S 20
#define LAUNCH_TIMEOUT_S 20

/* ------------------------------------------------------------------------ */
/* Origins: the HLS media (mesh_test_origin) and the DASH media */

static MeshOriginServer *dash_origin;

static void
origins_setup (void)
{
  MeshOriginConfig config = { NULL, "127.0.0.1", 0, 0 };
  GError *error = NULL;

  mesh_test_origin_setup ();
  config.root = g_getenv ("MESH_TEST_DASH_MEDIA");
  fail_unless (config.root != NULL, "MESH_TEST_DASH_MEDIA is not set (run "
      "through meson)");
  dash_origin = mesh_origin_server_start (&config, &error);
  fail_unless (dash_origin != NULL, "origin: %s", error ? error->message : "?");
}

static void
origins_teardown (void)
{
  mesh_origin_server_stop (dash_origin);
  dash_origin = NULL;
  mesh_test_origin_teardown ();
}

/* One element and a presentation it plays. */
typedef struct
{
  const gchar *factory;
  const gchar *path;            /* one or two streams */
  const gchar *two_streams;     /* two streams */
} ElementCase;

static const ElementCase cases[] = {
  {"meshhlssrc", "single/index.m3u8", "ts/master.m3u8"},
  {"meshdashsrc", "template-number/manifest.mpd",
      "template-number/manifest.mpd"},
};

static MeshOriginServer *
origin_of (const ElementCase * ec)
{
  return g_str_equal (ec->factory, "meshhlssrc") ? mesh_test_origin :
      dash_origin;
}

static GstElement *
make_src (const ElementCase * ec, const gchar * path)
{
  g_autofree gchar *url = mesh_test_origin_url (origin_of (ec), path);
  GstElement *src = gst_element_factory_make (ec->factory, NULL);

  fail_unless (src != NULL, "%s not found", ec->factory);
  g_object_set (src, "location", url, NULL);
  return src;
}

/* Plays @c to EOS; the element messages and warnings posted until then go
 * to @before (may be NULL), those posted while the pipeline goes to NULL to
 * @after (may be NULL). Fails on an error or a timeout. */
static void
play_collecting (MeshCollector * c, GPtrArray * before, GPtrArray * after)
{
  GstBus *bus = gst_element_get_bus (c->pipeline);
  GstMessage *msg;
  gboolean eos = FALSE;

  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  while (!eos) {
    msg = gst_bus_timed_pop_filtered (bus, PLAY_TIMEOUT_S * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT |
        GST_MESSAGE_WARNING);
    fail_unless (msg != NULL, "no EOS within %d s", PLAY_TIMEOUT_S);
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "error: %"
        GST_PTR_FORMAT, msg);
    eos = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
    if (!eos && before)
      g_ptr_array_add (before, gst_message_ref (msg));
    gst_message_unref (msg);
  }
  /* READY first: going to NULL flushes the bus */
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS);
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT |
              GST_MESSAGE_WARNING | GST_MESSAGE_ERROR))) {
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "error: %"
        GST_PTR_FORMAT, msg);
    if (after)
      g_ptr_array_add (after, gst_message_ref (msg));
    gst_message_unref (msg);
  }
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_NULL) ==
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (bus);
}

static GPtrArray *
message_list_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) gst_message_unref);
}

/* The last mesh-stats of @messages from @src, NULL if none. */
static const GstStructure *
last_stats (GPtrArray * messages, GstElement * src)
{
  const GstStructure *found = NULL;
  guint i;

  for (i = 0; i < messages->len; i++) {
    GstMessage *msg = g_ptr_array_index (messages, i);

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && GST_MESSAGE_SRC (msg) == GST_OBJECT (src)
        && gst_message_has_name (msg, "mesh-stats"))
      found = gst_message_get_structure (msg);
  }
  return found;
}

/* The warnings of @messages from @src whose message contains @text. */
static guint
count_warnings (GPtrArray * messages, GstElement * src, const gchar * text,
    GQuark domain, gint code)
{
  guint i, n = 0;

  for (i = 0; i < messages->len; i++) {
    GstMessage *msg = g_ptr_array_index (messages, i);
    g_autoptr (GError) error = NULL;

    if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_WARNING
        || GST_MESSAGE_SRC (msg) != GST_OBJECT (src))
      continue;
    gst_message_parse_warning (msg, &error, NULL);
    GST_INFO ("warning: %s", error->message);
    if (strstr (error->message, text) && error->domain == domain
        && error->code == code)
      n++;
  }
  return n;
}

/* ------------------------------------------------------------------------ */
/* A source that cannot start fails its state change at once */

static const gchar *const unusable_locations[] = {
  NULL,
  "file:///tmp/mesh-no-such-file.m3u8",
  "ftp://127.0.0.1/index.m3u8",
  "http:///index.m3u8",
  "not a URL",
};

static void
assert_start_fails (const gchar * factory, const gchar * location)
{
  GstElement *pipeline = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make (factory, NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  g_autoptr (GError) error = NULL;

  g_object_set (src, "location", location, NULL);
  gst_bin_add (GST_BIN (pipeline), src);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PAUSED) ==
      GST_STATE_CHANGE_FAILURE, "%s location=%s did not fail to start",
      factory, location);
  /* posted during the state change, not later from a task */
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "%s location=%s: no error on the bus", factory,
      location);
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (src));
  gst_message_parse_error (msg, &error, NULL);
  GST_INFO ("%s location=%s: %s", factory, location, error->message);
  fail_unless (error->domain == GST_RESOURCE_ERROR, "%s location=%s: %s",
      factory, location, error->message);
  gst_message_unref (msg);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

GST_START_TEST (test_start_fails_without_usable_location)
{
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    for (j = 0; j < G_N_ELEMENTS (unusable_locations); j++)
      assert_start_fails (cases[i].factory, unusable_locations[j]);
}

GST_END_TEST;

GST_START_TEST (test_launch_line_fails_to_start)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *line = g_strdup_printf ("%s ! fakesink",
        cases[i].factory);
    g_autoptr (GError) error = NULL;
    GstElement *pipeline = gst_parse_launch (line, &error);

    fail_unless (pipeline != NULL, "%s: %s", line, error->message);
    fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
        GST_STATE_CHANGE_FAILURE, "%s started", line);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (pipeline);
  }
}

GST_END_TEST;

typedef struct
{
  gboolean done;
  gboolean timed_out;
} LaunchWait;

static void
on_launch_exited (GObject * source, GAsyncResult * result, gpointer user_data)
{
  LaunchWait *wait = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  wait->done = TRUE;
}

static gboolean
on_launch_timeout (gpointer user_data)
{
  LaunchWait *wait = user_data;

  wait->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs gst-launch-1.0 @argv and checks that it exits, with a failure. */
static void
assert_launch_exits (const gchar * const *argv)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *line = g_strjoinv (" ", (gchar **) argv);
  GSource *timeout;
  LaunchWait wait = { FALSE, FALSE };

  g_main_context_push_thread_default (context);
  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
      G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  fail_unless (process != NULL, "%s: %s", line, error ? error->message : "?");
  g_subprocess_wait_async (process, NULL, on_launch_exited, &wait);
  timeout = g_timeout_source_new_seconds (LAUNCH_TIMEOUT_S);
  g_source_set_callback (timeout, on_launch_timeout, &wait, NULL);
  g_source_attach (timeout, context);
  while (!wait.done && !wait.timed_out)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  if (!wait.done) {
    g_subprocess_force_exit (process);
    while (!wait.done)
      g_main_context_iteration (context, TRUE);
  }
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  fail_if (wait.timed_out, "'%s' did not exit within %d s", line,
      LAUNCH_TIMEOUT_S);
  fail_unless (g_subprocess_get_if_exited (process));
  fail_if (g_subprocess_get_exit_status (process) == 0, "'%s' exited with 0",
      line);
}

GST_START_TEST (test_gst_launch_exits)
{
  const gchar *no_location[] = { "gst-launch-1.0", "meshdashsrc", "!",
    "fakesink", NULL
  };
  const gchar *file_url[] = { "gst-launch-1.0", "meshhlssrc",
    "location=file:///tmp/mesh-no-such-file.m3u8", "!", "fakesink", NULL
  };

  assert_launch_exits (no_location);
  assert_launch_exits (file_url);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* NOT_LINKED: one error, from the last stream */

/* Holds the first buffer of every pad until all pads have one, so that the
 * streams find out together that nothing is linked. */
typedef struct
{
  GMutex lock;
  GCond cond;
  guint arrived;
  guint expected;
} Barrier;

static GstPadProbeReturn
barrier_probe (GstPad * pad, GstPadProbeInfo * info, Barrier * b)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_mutex_lock (&b->lock);
  b->arrived++;
  g_cond_broadcast (&b->cond);
  while (b->arrived < b->expected
      && g_cond_wait_until (&b->cond, &b->lock, deadline)) {
  }
  g_mutex_unlock (&b->lock);
  return GST_PAD_PROBE_REMOVE;
}

static void
on_pad_added_barrier (GstElement * src, GstPad * pad, Barrier * b)
{
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
      (GstPadProbeCallback) barrier_probe, b, NULL);
}

static void
assert_one_not_linked_error (const ElementCase * ec)
{
  GstElement *pipeline = gst_pipeline_new (NULL);
  GstElement *src = make_src (ec, ec->two_streams);
  GstBus *bus = gst_element_get_bus (pipeline);
  Barrier b = { 0, };
  GstMessage *msg;
  guint errors = 0;
  gchar *debug = NULL;

  g_mutex_init (&b.lock);
  g_cond_init (&b.cond);
  b.expected = 2;
  g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added_barrier), &b);
  gst_bin_add (GST_BIN (pipeline), src);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, ERROR_TIMEOUT_S * GST_SECOND,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR,
      "%s: no error with no pad linked", ec->factory);
  gst_message_parse_error (msg, NULL, &debug);
  fail_unless (debug && strstr (debug, "not-linked"), "%s: %s", ec->factory,
      debug);
  g_free (debug);
  gst_message_unref (msg);
  errors++;

  /* the stream threads are joined: whatever they posted is on the bus
   * (until NULL flushes it) */
  gst_element_set_state (pipeline, GST_STATE_READY);
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR))) {
    errors++;
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  fail_unless_equals_int (b.arrived, 2);
  fail_unless (errors == 1, "%s: %u NOT_LINKED errors for one element",
      ec->factory, errors);

  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_mutex_clear (&b.lock);
  g_cond_clear (&b.cond);
}

GST_START_TEST (test_not_linked_posts_one_error)
{
  guint i, round;

  /* the race is narrow: a few rounds */
  for (round = 0; round < 5; round++)
    for (i = 0; i < G_N_ELEMENTS (cases); i++)
      assert_one_not_linked_error (&cases[i]);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* ABR: the switch (which fetches a media playlist) comes between fragments,
 * never between two chunks of one */

static gchar *abr_dir;
static MeshOriginServer *abr_origin;

static void
copy_media_file (const gchar * relpath, const gchar * to)
{
  g_autoptr (GBytes) bytes = mesh_test_read_media (relpath);
  g_autofree gchar *path = g_build_filename (abr_dir, to, NULL);
  g_autofree gchar *dir = g_path_get_dirname (path);
  GError *error = NULL;

  g_mkdir_with_parents (dir, 0755);
  fail_unless (g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), &error), "%s: %s", path,
      error ? error->message : "?");
}

/* A master playlist of the two video variants of ts/, without the audio
 * rendition, so that the segment bytes counted are the video's alone. */
static void
abr_origin_setup (void)
{
  static const gchar master[] = "#EXTM3U\n#EXT-X-VERSION:3\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=340409,RESOLUTION=320x180\nv0/index.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=1772217,RESOLUTION=640x360\n"
      "v1/index.m3u8\n";
  MeshOriginConfig config = { NULL, "127.0.0.1", 0, 0 };
  g_autofree gchar *master_path = NULL;
  GError *error = NULL;
  guint v, i;

  mesh_test_origin_setup ();
  abr_dir = g_dir_make_tmp ("meshadaptivesrc-XXXXXX", &error);
  fail_unless (abr_dir != NULL, "%s", error ? error->message : "?");
  for (v = 0; v < 2; v++) {
    g_autofree gchar *playlist = g_strdup_printf ("ts/v%u/index.m3u8", v);
    g_autofree gchar *to = g_strdup_printf ("v%u/index.m3u8", v);

    copy_media_file (playlist, to);
    for (i = 0; i < 12; i++) {
      g_autofree gchar *seg = g_strdup_printf ("ts/v%u/seg%u.ts", v, i);
      g_autofree gchar *seg_to = g_strdup_printf ("v%u/seg%u.ts", v, i);

      copy_media_file (seg, seg_to);
    }
  }
  master_path = g_build_filename (abr_dir, "master.m3u8", NULL);
  fail_unless (g_file_set_contents (master_path, master, -1, &error));
  config.root = abr_dir;
  abr_origin = mesh_origin_server_start (&config, &error);
  fail_unless (abr_origin != NULL, "%s", error ? error->message : "?");
}

static void
remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR))
      remove_tree (child);
    else
      g_unlink (child);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (path);
}

static void
abr_origin_teardown (void)
{
  mesh_origin_server_stop (abr_origin);
  abr_origin = NULL;
  remove_tree (abr_dir);
  g_clear_pointer (&abr_dir, g_free);
  mesh_test_origin_teardown ();
}

/* Per buffer of src_0: the fragment it belongs to, and how many times the
 * origin had been asked for the v1 playlist when it was pushed. */
typedef struct
{
  GMutex lock;
  GArray *fragment;             /* guint per buffer */
  GArray *playlist_requests;    /* guint per buffer */
  guint fragments;
} BufferLog;

static GstPadProbeReturn
buffer_log_probe (GstPad * pad, GstPadProbeInfo * info, BufferLog * log)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  guint requests = mesh_origin_server_get_requests (abr_origin,
      "/v1/index.m3u8");
  guint fragment;

  g_mutex_lock (&log->lock);
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    log->fragments++;
  fragment = log->fragments - 1;
  g_array_append_val (log->fragment, fragment);
  g_array_append_val (log->playlist_requests, requests);
  g_mutex_unlock (&log->lock);
  return GST_PAD_PROBE_OK;
}

static void
on_pad_added_log (GstElement * src, GstPad * pad, BufferLog * log)
{
  if (g_str_equal (GST_PAD_NAME (pad), "src_0"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) buffer_log_probe, log, NULL);
}

static guint64
media_size (const gchar * relpath)
{
  g_autoptr (GBytes) bytes = mesh_test_read_media (relpath);

  return g_bytes_get_size (bytes);
}

/* Waits until the element received @bytes of media from the CDN. The
 * counter has no notification: polled, with a deadline. */
static gboolean
wait_bytes_from_cdn (GstElement * src, guint64 bytes, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  guint64 got = 0;

  while (g_get_monotonic_time () < deadline) {
    g_object_get (src, "bytes-from-cdn", &got, NULL);
    if (got >= bytes)
      return TRUE;
    g_usleep (5000);
  }
  return FALSE;
}

GST_START_TEST (test_abr_switches_between_fragments)
{
  g_autofree gchar *url = mesh_test_origin_url (abr_origin, "master.m3u8");
  GstElement *src = mesh_test_hlssrc_new_for_url (url);
  MeshCollector *c = mesh_collector_new (src);
  MeshFragmentRecorder *r = mesh_fragment_recorder_new (src, 1 << 1,
      MESH_FRAGMENT_RECORDER_NONE);
  /* fragment 1 in slices of 3000 bytes: a good ten chunks */
  MeshOriginFault slow = { "/v0/seg1.ts", 0, 0, 0, 60000, -1 };
  BufferLog log = { 0, };
  guint64 two_fragments = media_size ("ts/v0/seg0.ts") +
      media_size ("ts/v0/seg1.ts");
  guint i, n, first_v1 = 0, buffers_in_1 = 0;

  g_mutex_init (&log.lock);
  log.fragment = g_array_new (FALSE, FALSE, sizeof (guint));
  log.playlist_requests = g_array_new (FALSE, FALSE, sizeof (guint));
  g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added_log), &log);
  mesh_origin_server_add_fault (abr_origin, &slow);
  /* v0 to start with; one fragment ahead at most */
  g_object_set (src, "connection-speed", 400, "max-buffering-time",
      GST_SECOND, NULL);
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);

  /* held at the first chunk of fragment 1 until all of it is downloaded:
   * the ABR decision then falls between two of its chunks */
  fail_unless (mesh_fragment_recorder_wait_held (r, 1, PLAY_TIMEOUT_S * 1000));
  g_object_set (src, "connection-speed", 100000, NULL);
  fail_unless (wait_bytes_from_cdn (src, two_fragments, PLAY_TIMEOUT_S),
      "fragments 0 and 1 were not downloaded");
  mesh_fragment_recorder_release (r, 1);
  fail_unless (mesh_collector_run (c, PLAY_TIMEOUT_S, NULL), "no EOS");
  mesh_fragment_recorder_release_all (r);

  /* the switch happened, once */
  fail_unless_equals_int (mesh_origin_server_get_requests (abr_origin,
          "/v1/index.m3u8"), 1);
  n = mesh_fragment_recorder_get_n_fragments (r);
  fail_unless_equals_int (n, 12);
  for (i = 1; i < n && !first_v1; i++) {
    g_autofree gchar *rel = g_strdup_printf ("ts/v1/seg%u.ts", i);
    g_autoptr (GBytes) v1 = mesh_test_read_media (rel);
    g_autoptr (GBytes) got = mesh_fragment_recorder_get_bytes (r, i);

    if (g_bytes_equal (v1, got))
      first_v1 = i;
  }
  fail_unless (first_v1 >= 2, "no fragment after 1 is from v1 (%u)", first_v1);
  fail_unless (mesh_fragment_recorder_get_discont (r, first_v1));

  /* the v1 playlist was fetched between two fragments: the count the
   * buffers saw changes only where a fragment starts */
  g_mutex_lock (&log.lock);
  for (i = 0; i < log.fragment->len; i++) {
    guint fragment = g_array_index (log.fragment, guint, i);

    buffers_in_1 += fragment == 1;
    if (i > 0 && g_array_index (log.fragment, guint, i - 1) == fragment)
      fail_unless (g_array_index (log.playlist_requests, guint, i) ==
          g_array_index (log.playlist_requests, guint, i - 1),
          "the v1 playlist was fetched while fragment %u was pushed "
          "(buffer %u)", fragment, i);
  }
  g_mutex_unlock (&log.lock);
  fail_unless (buffers_in_1 >= 2, "fragment 1 came in %u buffer(s): the test "
      "needs it in several", buffers_in_1);

  mesh_collector_free (c);
  mesh_fragment_recorder_free (r);
  g_array_unref (log.fragment);
  g_array_unref (log.playlist_requests);
  g_mutex_clear (&log.lock);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* mesh-stats at the end, even for runs shorter than stats-interval */

GST_START_TEST (test_final_stats_at_eos_and_stop)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstElement *src = make_src (&cases[i], cases[i].path);
    MeshCollector *c = mesh_collector_new (src);
    g_autoptr (GPtrArray) before = message_list_new ();
    g_autoptr (GPtrArray) after = message_list_new ();
    const GstStructure *at_eos, *at_stop;
    guint64 from_cdn = 0, stalls = 1;
    gint64 startup_ms = -1;
    guint bitrate = 0;

    /* far longer than the run: only the final messages can show */
    g_object_set (src, "stats-interval", 3600 * 1000, NULL);
    play_collecting (c, before, after);

    at_eos = last_stats (before, src);
    fail_unless (at_eos != NULL, "%s: no mesh-stats before EOS",
        cases[i].factory);
    fail_unless (gst_structure_get_uint64 (at_eos, "bytes-from-cdn",
            &from_cdn));
    /* everything was downloaded by then */
    fail_unless (from_cdn == mesh_collector_total_bytes (c), "%s: %"
        G_GUINT64_FORMAT " bytes from the CDN at EOS, %" G_GUINT64_FORMAT
        " output", cases[i].factory, from_cdn, mesh_collector_total_bytes (c));
    fail_unless (gst_structure_get_uint (at_eos, "current-bitrate", &bitrate));
    fail_unless (bitrate > 0, "%s: current-bitrate 0 at EOS", cases[i].factory);
    /* nothing held the output: no stall; the first buffer went out */
    fail_unless (gst_structure_get_uint64 (at_eos, "stalls", &stalls));
    fail_unless_equals_uint64 (stalls, 0);
    fail_unless (gst_structure_get_int64 (at_eos, "startup-ms", &startup_ms));
    fail_unless (startup_ms >= 0, "%s: startup-ms %" G_GINT64_FORMAT,
        cases[i].factory, startup_ms);

    at_stop = last_stats (after, src);
    fail_unless (at_stop != NULL, "%s: no mesh-stats on stop",
        cases[i].factory);
    fail_unless (gst_structure_get_uint64 (at_stop, "bytes-from-cdn",
            &from_cdn));
    fail_unless (from_cdn == mesh_collector_total_bytes (c));
    mesh_collector_free (c);
  }
}

GST_END_TEST;

GST_START_TEST (test_no_final_stats_when_disabled)
{
  GstElement *src = make_src (&cases[0], cases[0].path);
  MeshCollector *c = mesh_collector_new (src);
  g_autoptr (GPtrArray) before = message_list_new ();
  g_autoptr (GPtrArray) after = message_list_new ();

  g_object_set (src, "stats-interval", 0, NULL);
  play_collecting (c, before, after);
  fail_unless (last_stats (before, src) == NULL);
  fail_unless (last_stats (after, src) == NULL);
  mesh_collector_free (c);
}

GST_END_TEST;

static void
on_source_setup (GstElement * playbin, GstElement * source,
    GstElement ** source_out)
{
  g_object_set (source, "stats-interval", 3600 * 1000, NULL);
  *source_out = gst_object_ref (source);
}

/* gst-launch-1.0 -m playbin uri=meshhls+http://… video-sink=fakesink
 * audio-sink=fakesink */
GST_START_TEST (test_final_stats_through_playbin)
{
  g_autofree gchar *url = mesh_test_origin_url (mesh_test_origin,
      "single/index.m3u8");
  g_autofree gchar *uri = g_strconcat ("meshhls+", url, NULL);
  GstElement *playbin = gst_element_factory_make ("playbin", NULL);
  GstElement *vsink = gst_element_factory_make ("fakesink", NULL);
  GstElement *asink = gst_element_factory_make ("fakesink", NULL);
  GstElement *source = NULL;
  GstBus *bus = gst_element_get_bus (playbin);
  GstMessage *msg;
  guint stats = 0;
  gboolean eos = FALSE;

  fail_unless (playbin != NULL);
  g_object_set (vsink, "sync", FALSE, NULL);
  g_object_set (asink, "sync", FALSE, NULL);
  g_object_set (playbin, "uri", uri, "video-sink", vsink, "audio-sink", asink,
      NULL);
  g_signal_connect (playbin, "source-setup", G_CALLBACK (on_source_setup),
      &source);
  fail_unless (gst_element_set_state (playbin, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  while (!eos) {
    msg = gst_bus_timed_pop_filtered (bus, PLAY_TIMEOUT_S * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "no EOS");
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "error: %"
        GST_PTR_FORMAT, msg);
    eos = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
    stats += gst_message_has_name (msg, "mesh-stats");
    gst_message_unref (msg);
  }
  fail_unless (source != NULL, "playbin did not use the mesh source");
  fail_unless (stats >= 1, "no mesh-stats through playbin");
  gst_element_set_state (playbin, GST_STATE_NULL);
  gst_object_unref (source);
  gst_object_unref (bus);
  gst_object_unref (playbin);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* current-bitrate */

/* current-bitrate as read while each buffer of src_0 is pushed. */
typedef struct
{
  GMutex lock;
  GstElement *src;
  guint buffers;
  guint zero;                   /* buffers pushed while it read 0 */
  guint last;
  guint min, max;
} BitrateWatch;

static GstPadProbeReturn
bitrate_probe (GstPad * pad, GstPadProbeInfo * info, BitrateWatch * w)
{
  guint bitrate = 0;

  g_object_get (w->src, "current-bitrate", &bitrate, NULL);
  g_mutex_lock (&w->lock);
  w->buffers++;
  w->zero += bitrate == 0;
  w->last = bitrate;
  w->min = MIN (w->min, bitrate);
  w->max = MAX (w->max, bitrate);
  g_mutex_unlock (&w->lock);
  return GST_PAD_PROBE_OK;
}

static void
on_pad_added_bitrate (GstElement * src, GstPad * pad, BitrateWatch * w)
{
  if (g_str_equal (GST_PAD_NAME (pad), "src_0"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) bitrate_probe, w, NULL);
}

/* Plays @src to EOS watching current-bitrate; returns the final mesh-stats'
 * figure. */
static guint
play_watching_bitrate (GstElement * src, BitrateWatch * w)
{
  MeshCollector *c = mesh_collector_new (src);
  g_autoptr (GPtrArray) before = message_list_new ();
  const GstStructure *stats;
  guint bitrate = 0;

  g_mutex_init (&w->lock);
  w->src = src;
  w->min = G_MAXUINT;
  g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added_bitrate), w);
  play_collecting (c, before, NULL);
  stats = last_stats (before, src);
  fail_unless (stats != NULL);
  fail_unless (gst_structure_get_uint (stats, "current-bitrate", &bitrate));
  g_mutex_clear (&w->lock);
  mesh_collector_free (c);

  fail_unless (w->buffers > 0);
  fail_unless (w->zero == 0, "current-bitrate read 0 during %u of %u "
      "buffers", w->zero, w->buffers);
  return bitrate;
}

/* Waits on @pipeline's clock until its running time reaches @running. */
static void
wait_running_time (GstElement * pipeline, GstClockTime running)
{
  GstClock *clock = gst_pipeline_get_clock (GST_PIPELINE (pipeline));
  GstClockID id = gst_clock_new_single_shot_id (clock,
      gst_element_get_base_time (pipeline) + running);

  gst_clock_id_wait (id, NULL);
  gst_clock_id_unref (id);
  gst_object_unref (clock);
}

/* A stall as the qos reports count it, in mesh-stats: fragment 1 held
 * (downstream stopped taking data) until the running time is 3.5 s, so
 * fragment 2 (due at 2 s) goes out 1.5 s late and fragment 3 (due at 3 s)
 * too: one stall of about 1.5 s. A run that nothing holds has none. */
GST_START_TEST (test_stall_in_stats)
{
  GstElement *src = make_src (&cases[0], "single/index.m3u8");
  MeshCollector *c = mesh_collector_new (src);
  MeshFragmentRecorder *r = mesh_fragment_recorder_new (src, 1 << 1,
      MESH_FRAGMENT_RECORDER_NONE);
  g_autoptr (GPtrArray) before = message_list_new ();
  const GstStructure *stats;
  guint64 stalls = 0, stall_ms = 0;
  gint64 startup_ms = -1;

  g_object_set (src, "stats-interval", 3600 * 1000, NULL);
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless (mesh_fragment_recorder_wait_held (r, 1, PLAY_TIMEOUT_S * 1000));
  wait_running_time (c->pipeline, 3500 * GST_MSECOND);
  mesh_fragment_recorder_release_all (r);
  /* the mesh-stats of the end of the stream */
  {
    GstBus *bus = gst_element_get_bus (c->pipeline);
    GstMessage *msg;

    while ((msg = gst_bus_timed_pop_filtered (bus, PLAY_TIMEOUT_S * GST_SECOND,
                GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT))
        && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT)
      g_ptr_array_add (before, msg);
    fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
        "no EOS: %" GST_PTR_FORMAT, msg);
    gst_message_unref (msg);
    gst_object_unref (bus);
  }
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_NULL) ==
      GST_STATE_CHANGE_SUCCESS);
  mesh_fragment_recorder_free (r);
  stats = last_stats (before, src);
  fail_unless (stats != NULL);
  fail_unless (gst_structure_get_uint64 (stats, "stalls", &stalls));
  fail_unless (gst_structure_get_uint64 (stats, "stall-ms", &stall_ms));
  fail_unless (gst_structure_get_int64 (stats, "startup-ms", &startup_ms));
  GST_INFO ("%" G_GUINT64_FORMAT " stalls, %" G_GUINT64_FORMAT " ms, startup "
      "%" G_GINT64_FORMAT " ms", stalls, stall_ms, startup_ms);
  fail_unless_equals_uint64 (stalls, 1);
  fail_unless (stall_ms >= 1300 && stall_ms < 3000, "stalled %"
      G_GUINT64_FORMAT " ms", stall_ms);
  fail_unless (startup_ms >= 0 && startup_ms < PLAY_TIMEOUT_S * 1000);
  mesh_collector_free (c);
}

GST_END_TEST;

GST_START_TEST (test_current_bitrate_declared)
{
  GstElement *hls = make_src (&cases[0], "ts/master.m3u8");
  GstElement *dash = make_src (&cases[1], "template-number/manifest.mpd");
  BitrateWatch w = { 0, };
  guint bitrate;

  /* the low variant: BANDWIDTH=340409 */
  g_object_set (hls, "connection-speed", 400, NULL);
  bitrate = play_watching_bitrate (hls, &w);
  fail_unless_equals_int (w.min, 340409);
  fail_unless_equals_int (w.max, 340409);
  fail_unless_equals_int (bitrate, 340409);

  /* the video Representation: bandwidth="300000" */
  memset (&w, 0, sizeof (w));
  bitrate = play_watching_bitrate (dash, &w);
  fail_unless_equals_int (w.min, 300000);
  fail_unless_equals_int (w.max, 300000);
  fail_unless_equals_int (bitrate, 300000);
}

GST_END_TEST;

/* The last EXTINF of a media playlist, in nanoseconds. */
static GstClockTime
last_extinf (const gchar * relpath)
{
  g_autoptr (GBytes) playlist = mesh_test_read_media (relpath);
  g_autofree gchar *text = g_strndup (g_bytes_get_data (playlist, NULL),
      g_bytes_get_size (playlist));
  const gchar *at = g_strrstr (text, "#EXTINF:");

  fail_unless (at != NULL);
  return (GstClockTime) (g_ascii_strtod (at + strlen ("#EXTINF:"), NULL) *
      GST_SECOND);
}

GST_START_TEST (test_current_bitrate_measured)
{
  /* a media playlist alone: no BANDWIDTH anywhere */
  GstElement *src = make_src (&cases[0], "single/index.m3u8");
  BitrateWatch w = { 0, };
  guint64 last_size = media_size ("single/seg7.ts");
  GstClockTime duration = last_extinf ("single/index.m3u8");
  guint expected = gst_util_uint64_scale (last_size, 8 * GST_SECOND, duration);
  guint bitrate = play_watching_bitrate (src, &w);

  /* what the last fragment weighs over its duration */
  fail_unless_equals_int (bitrate, expected);
  fail_unless (w.min > 10000 && w.max < 10000000, "current-bitrate from %u "
      "to %u bit/s", w.min, w.max);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Properties */

static const gchar *const unsigned_properties[] = {
  "cache-size", "max-upload-rate", "max-buffering-time", "min-bitrate",
  "max-bitrate", "start-bitrate", "max-video-width", "max-video-height",
  "connection-speed", "stats-interval", "timeout", "max-peers",
};

static void
value_to_string_of (GstElement * src, const gchar * name, gchar ** out)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src),
      name);
  GValue value = G_VALUE_INIT;

  fail_unless (pspec != NULL, "no property %s", name);
  g_value_init (&value, pspec->value_type);
  g_object_get_property (G_OBJECT (src), name, &value);
  *out = gst_value_serialize (&value);
  g_value_unset (&value);
}

/* "cache-size=-1" on a launch line is refused, not read as 2^64-1. */
GST_START_TEST (test_negative_values_refused)
{
  guint i, j;

  for (j = 0; j < G_N_ELEMENTS (cases); j++) {
    GstElement *src = gst_element_factory_make (cases[j].factory, NULL);

    for (i = 0; i < G_N_ELEMENTS (unsigned_properties); i++) {
      const gchar *name = unsigned_properties[i];
      GParamSpec *pspec =
          g_object_class_find_property (G_OBJECT_GET_CLASS (src), name);
      g_autofree gchar *before = NULL;
      g_autofree gchar *after = NULL;

      fail_unless (pspec != NULL, "no property %s", name);
      fail_unless (pspec->value_type == G_TYPE_UINT
          || pspec->value_type == G_TYPE_UINT64, "%s is not unsigned", name);
      value_to_string_of (src, name, &before);
      ASSERT_WARNING (gst_util_set_object_arg (G_OBJECT (src), name, "-1"));
      value_to_string_of (src, name, &after);
      fail_unless_equals_string (after, before);
    }
    gst_object_unref (src);
  }
}

GST_END_TEST;

/* What gst-inspect-1.0 shows reads like a manual: every property has a
 * blurb that says more than its name, and a default within its range. */
GST_START_TEST (test_properties_documented)
{
  guint i, j, n;

  for (j = 0; j < G_N_ELEMENTS (cases); j++) {
    GstElement *src = gst_element_factory_make (cases[j].factory, NULL);
    GParamSpec **specs =
        g_object_class_list_properties (G_OBJECT_GET_CLASS (src), &n);

    for (i = 0; i < n; i++) {
      GParamSpec *pspec = specs[i];
      const gchar *blurb = g_param_spec_get_blurb (pspec);
      GValue value = G_VALUE_INIT;

      if (pspec->owner_type == GST_TYPE_OBJECT
          || pspec->owner_type == G_TYPE_OBJECT
          || g_type_is_a (GST_TYPE_ELEMENT, pspec->owner_type))
        continue;
      fail_unless (blurb && strlen (blurb) > strlen (pspec->name) + 10,
          "%s: blurb '%s'", pspec->name, blurb);
      g_value_init (&value, pspec->value_type);
      g_param_value_set_default (pspec, &value);
      fail_if (g_param_value_validate (pspec, &value), "%s: default out of "
          "range", pspec->name);
      g_value_unset (&value);
    }
    g_free (specs);
    gst_object_unref (src);
  }
}

GST_END_TEST;

/* peer-congestion-control: cubic unless told, "bbr" from a launch line. */
GST_START_TEST (test_peer_congestion_control_property)
{
  guint j;

  for (j = 0; j < G_N_ELEMENTS (cases); j++) {
    GstElement *src = gst_element_factory_make (cases[j].factory, NULL);
    g_autofree gchar *before = NULL;
    g_autofree gchar *after = NULL;

    value_to_string_of (src, "peer-congestion-control", &before);
    fail_unless_equals_string (before, "cubic");
    gst_util_set_object_arg (G_OBJECT (src), "peer-congestion-control", "bbr");
    value_to_string_of (src, "peer-congestion-control", &after);
    fail_unless_equals_string (after, "bbr");
    gst_object_unref (src);
  }
}

GST_END_TEST;

/* ice-candidate-policy: all unless told; no-host and relay-only from a
 * launch line, each kept apart from the other. */
GST_START_TEST (test_ice_candidate_policy_property)
{
  static const gchar *policies[] = { "no-host", "relay-only", "all" };
  guint i, j;

  for (j = 0; j < G_N_ELEMENTS (cases); j++) {
    GstElement *src = gst_element_factory_make (cases[j].factory, NULL);
    g_autofree gchar *before = NULL;

    value_to_string_of (src, "ice-candidate-policy", &before);
    fail_unless_equals_string (before, "all");
    for (i = 0; i < G_N_ELEMENTS (policies); i++) {
      g_autofree gchar *after = NULL;

      gst_util_set_object_arg (G_OBJECT (src), "ice-candidate-policy",
          policies[i]);
      value_to_string_of (src, "ice-candidate-policy", &after);
      fail_unless_equals_string (after, policies[i]);
    }
    gst_object_unref (src);
  }
}

GST_END_TEST;

GST_START_TEST (current_bitrate_is_read_only)
{
  GstElement *src = gst_element_factory_make ("meshhlssrc", NULL);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src),
      "current-bitrate");
  guint bitrate = 1;

  fail_unless (pspec != NULL);
  fail_unless (pspec->value_type == G_TYPE_UINT);
  fail_if (pspec->flags & G_PARAM_WRITABLE);
  g_object_get (src, "current-bitrate", &bitrate, NULL);
  fail_unless_equals_int (bitrate, 0);
  gst_object_unref (src);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Warnings on the bus for values the element cannot use */

GST_START_TEST (test_malformed_ice_servers_warn)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstElement *src = make_src (&cases[i], cases[i].path);
    MeshCollector *c = mesh_collector_new (src);
    g_autoptr (GPtrArray) before = message_list_new ();

    g_object_set (src, "stun-server", "stun.example.com", "turn-server",
        "http://user:secret@127.0.0.1:3478", NULL);
    play_collecting (c, before, NULL);
    fail_unless_equals_int (count_warnings (before, src, "stun-server",
            GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS), 1);
    fail_unless_equals_int (count_warnings (before, src, "turn-server",
            GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS), 1);
    /* the password stays out of the message */
    fail_unless_equals_int (count_warnings (before, src, "secret",
            GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS), 0);

    /* well-formed values, and the warnings are gone */
    g_ptr_array_set_size (before, 0);
    mesh_collector_reset (c);
    g_object_set (src, "stun-server", "127.0.0.1:3478", "turn-server",
        "turn://user:secret@127.0.0.1:3478", NULL);
    play_collecting (c, before, NULL);
    fail_unless_equals_int (count_warnings (before, src, "", GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_SETTINGS), 0);
    mesh_collector_free (c);
  }
}

GST_END_TEST;

/* An invalid network-hint is ignored with one warning that names it; a
 * valid one draws none. */
GST_START_TEST (test_invalid_network_hint_warns)
{
  GstElement *src = make_src (&cases[0], cases[0].path);
  MeshCollector *c = mesh_collector_new (src);
  g_autoptr (GPtrArray) before = message_list_new ();

  g_object_set (src, "network-hint", "site 7/bad", NULL);
  play_collecting (c, before, NULL);
  fail_unless_equals_int (count_warnings (before, src, "network-hint",
          GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS), 1);

  g_ptr_array_set_size (before, 0);
  mesh_collector_reset (c);
  g_object_set (src, "network-hint", "site-7", NULL);
  play_collecting (c, before, NULL);
  fail_unless_equals_int (count_warnings (before, src, "", GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS), 0);
  mesh_collector_free (c);
}

GST_END_TEST;

GST_START_TEST (test_malformed_presentation_delay_warns)
{
  GstElement *src = make_src (&cases[1], cases[1].path);
  MeshCollector *c = mesh_collector_new (src);
  g_autoptr (GPtrArray) before = message_list_new ();
  gchar *delay = NULL;

  g_object_set (src, "presentation-delay", "3x", NULL);
  g_object_get (src, "presentation-delay", &delay, NULL);
  fail_unless (delay == NULL, "presentation-delay took '%s'", delay);
  play_collecting (c, before, NULL);
  fail_unless_equals_int (count_warnings (before, src,
          "presentation-delay '3x'", GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS), 1);

  g_ptr_array_set_size (before, 0);
  mesh_collector_reset (c);
  g_object_set (src, "presentation-delay", "2500ms", NULL);
  play_collecting (c, before, NULL);
  fail_unless_equals_int (count_warnings (before, src, "presentation-delay",
          GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS), 0);
  mesh_collector_free (c);
}

GST_END_TEST;

GST_START_TEST (test_unusable_tracker_warns_and_plays)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstElement *src = make_src (&cases[i], cases[i].path);
    MeshCollector *c = mesh_collector_new (src);
    g_autoptr (GPtrArray) before = message_list_new ();
    guint64 from_cdn = 0, from_peers = 1;

    g_object_set (src, "tracker", "http://127.0.0.1:8765/announce", NULL);
    play_collecting (c, before, NULL);
    fail_unless_equals_int (count_warnings (before, src,
            "http://127.0.0.1:8765/announce", GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_OPEN_READ_WRITE), 1);
    g_object_get (src, "bytes-from-cdn", &from_cdn, "bytes-from-peers",
        &from_peers, NULL);
    fail_unless (from_cdn == mesh_collector_total_bytes (c));
    fail_unless (from_peers == 0);
    mesh_collector_free (c);
  }
}

GST_END_TEST;

/* The fetcher's "p2p-warning" (when it has the signal): an unreachable
 * tracker is a warning on the bus, and playback goes on from the CDN. The
 * fetcher gives up on the tracker after a few attempts (seconds): the
 * warning may come after EOS. */
GST_START_TEST (test_unreachable_tracker_warns)
{
  g_autofree gchar *tracker = g_strdup_printf ("ws://127.0.0.1:%u/announce",
      mesh_test_unused_port ());
  GstElement *src = make_src (&cases[0], cases[0].path);
  MeshCollector *c = mesh_collector_new (src);
  GstBus *bus = gst_element_get_bus (c->pipeline);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  gboolean eos = FALSE, warned = FALSE, has_signal;
  guint64 from_cdn = 0;
  GType fetcher_type;

  g_object_set (src, "tracker", tracker, NULL);
  /* the fetcher's type is registered once an element made one */
  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS);
  fetcher_type = g_type_from_name ("MeshFetcher");
  fail_unless (fetcher_type != 0);
  has_signal = g_signal_lookup ("p2p-warning", fetcher_type) != 0;
  if (!has_signal)
    GST_WARNING ("MeshFetcher has no p2p-warning signal: only checking that "
        "playback goes on");

  fail_unless (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  while (!eos || (has_signal && !warned)) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg = left <= 0 ? NULL : gst_bus_timed_pop_filtered (bus,
        left * GST_USECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
        GST_MESSAGE_WARNING);
    g_autoptr (GError) error = NULL;

    fail_unless (msg != NULL, "%s within 30 s", eos ? "no warning for the "
        "unreachable tracker" : "no EOS");
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "error: %"
        GST_PTR_FORMAT, msg);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      eos = TRUE;
    } else {
      gst_message_parse_warning (msg, &error, NULL);
      GST_INFO ("warning: %s", error->message);
      fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (src));
      fail_unless (g_error_matches (error, GST_RESOURCE_ERROR,
              GST_RESOURCE_ERROR_OPEN_READ_WRITE), "%s", error->message);
      fail_unless (strstr (error->message, tracker) != NULL, "the warning "
          "'%s' does not name the tracker", error->message);
      warned = TRUE;
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  g_object_get (src, "bytes-from-cdn", &from_cdn, NULL);
  fail_unless (from_cdn == mesh_collector_total_bytes (c));
  gst_object_unref (bus);
  mesh_collector_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* A seek from a streaming thread is refused */

typedef struct
{
  GMutex lock;
  gboolean tried;
  gboolean result;
  guint criticals;              /* log filter: the test thread and probe */
} StreamSeek;

static gboolean
count_critical (const gchar * log_domain, GLogLevelFlags log_level,
    const gchar * message, gpointer user_data)
{
  StreamSeek *s = user_data;

  GST_INFO ("critical: %s", message);
  g_mutex_lock (&s->lock);
  s->criticals++;
  g_mutex_unlock (&s->lock);
  return TRUE;
}

static GstPadProbeReturn
seek_from_stream_probe (GstPad * pad, GstPadProbeInfo * info, StreamSeek * s)
{
  gboolean result = gst_pad_send_event (pad, gst_event_new_seek (1.0,
          GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, 0,
          GST_SEEK_TYPE_NONE, -1));

  g_mutex_lock (&s->lock);
  s->tried = TRUE;
  s->result = result;
  g_mutex_unlock (&s->lock);
  return GST_PAD_PROBE_REMOVE;
}

static void
on_pad_added_seek (GstElement * src, GstPad * pad, StreamSeek * s)
{
  if (g_str_equal (GST_PAD_NAME (pad), "src_0"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) seek_from_stream_probe, s, NULL);
}

GST_START_TEST (test_seek_from_stream_thread_refused)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstElement *src = make_src (&cases[i], cases[i].path);
    MeshCollector *c = mesh_collector_new (src);
    StreamSeek s = { 0, };
    GstCheckLogFilter *filter;

    g_mutex_init (&s.lock);
    filter = gst_check_add_log_filter (NULL, G_LOG_LEVEL_CRITICAL,
        g_regex_new ("gst_mesh_stream_thread_is_current", 0, 0, NULL),
        count_critical, &s, NULL);
    g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added_seek), &s);
    play_collecting (c, NULL, NULL);
    gst_check_remove_log_filter (filter);

    fail_unless (s.tried);
    fail_if (s.result, "%s: a seek from the streaming thread was accepted",
        cases[i].factory);
    fail_unless_equals_int (s.criticals, 1);
    g_mutex_clear (&s.lock);
    mesh_collector_free (c);
  }
}

GST_END_TEST;

static Suite *
meshadaptivesrc_suite (void)
{
  Suite *s = suite_create ("meshadaptivesrc");
  TCase *tc_start = tcase_create ("start");
  TCase *tc_streams = tcase_create ("streams");
  TCase *tc_abr = tcase_create ("abr");
  TCase *tc_stats = tcase_create ("stats");
  TCase *tc_props = tcase_create ("properties");

  suite_add_tcase (s, tc_start);
  tcase_add_test (tc_start, test_start_fails_without_usable_location);
  tcase_add_test (tc_start, test_launch_line_fails_to_start);
  tcase_add_test (tc_start, test_gst_launch_exits);

  suite_add_tcase (s, tc_streams);
  tcase_add_checked_fixture (tc_streams, origins_setup, origins_teardown);
  tcase_add_test (tc_streams, test_not_linked_posts_one_error);
  tcase_add_test (tc_streams, test_seek_from_stream_thread_refused);

  suite_add_tcase (s, tc_abr);
  tcase_add_checked_fixture (tc_abr, abr_origin_setup, abr_origin_teardown);
  tcase_add_test (tc_abr, test_abr_switches_between_fragments);

  suite_add_tcase (s, tc_stats);
  tcase_add_checked_fixture (tc_stats, origins_setup, origins_teardown);
  tcase_add_test (tc_stats, test_final_stats_at_eos_and_stop);
  tcase_add_test (tc_stats, test_no_final_stats_when_disabled);
  tcase_add_test (tc_stats, test_final_stats_through_playbin);
  tcase_add_test (tc_stats, test_stall_in_stats);
  tcase_add_test (tc_stats, test_current_bitrate_declared);
  tcase_add_test (tc_stats, test_current_bitrate_measured);

  suite_add_tcase (s, tc_props);
  tcase_add_checked_fixture (tc_props, origins_setup, origins_teardown);
  tcase_add_test (tc_props, test_negative_values_refused);
  tcase_add_test (tc_props, test_properties_documented);
  tcase_add_test (tc_props, test_peer_congestion_control_property);
  tcase_add_test (tc_props, test_ice_candidate_policy_property);
  tcase_add_test (tc_props, current_bitrate_is_read_only);
  tcase_add_test (tc_props, test_invalid_network_hint_warns);
  tcase_add_test (tc_props, test_malformed_ice_servers_warn);
  tcase_add_test (tc_props, test_malformed_presentation_delay_warns);
  tcase_add_test (tc_props, test_unusable_tracker_warns_and_plays);
  tcase_add_test (tc_props, test_unreachable_tracker_warns);
  return s;
}

GST_CHECK_MAIN (meshadaptivesrc);
