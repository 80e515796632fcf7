/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GstMeshAdaptiveSrc, the streams: each output pad's task downloads the
 * fragments the subclass names (init section, key, media), runs ahead of
 * the push up to max-buffering-time, pushes what it downloaded, feeds the
 * throughput to ABR and switches representations. The element side
 * (properties, state changes, seeking, the manifest task, statistics) is
 * gstmeshadaptivesrc.c.
 *
 * Threads: a stream's task alone touches its download and push state and
 * the subclass data (see struct _GstMeshStream); the application thread
 * touches them only while the task is stopped (seek, state change). The
 * figures the statistics read are written under priv->lock, and so are the
 * startup and stall figures of the qos reports, which a stream's task
 * notes as its buffers go out (gst_mesh_adaptive_src_note_output(), before
 * the push, with no lock held on entry); the rest of the locking is
 * described in gstmeshadaptivesrc-private.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmeshadaptivesrc-private.h"

#include <gst/base/gsttypefindhelper.h>

#include "fetch/mesh-aes.h"

#define GST_CAT_DEFAULT gst_mesh_adaptive_src_debug

#define MAX_INIT_SIZE (16 * 1024 * 1024)
/* At most this many fragments per stream are asked of the swarm ahead */
#define MAX_PREFETCH 16
#define AES_KEY_SIZE 16

static void stream_loop (GstMeshStream * stream);

/* The stream whose loop runs on this thread, NULL on any other thread. */
static GPrivate current_stream;

gboolean
gst_mesh_stream_thread_is_current (void)
{
  return g_private_get (&current_stream) != NULL;
}

/* ------------------------------------------------------------------------ */
/* Fragments and streams */

void
gst_mesh_fragment_clear (GstMeshFragment * fragment)
{
  g_clear_pointer (&fragment->url, g_free);
  g_clear_pointer (&fragment->init_url, g_free);
  g_clear_pointer (&fragment->key_url, g_free);
  g_clear_pointer (&fragment->segment_id, g_free);
}

GstPad *
gst_mesh_stream_get_pad (GstMeshStream * stream)
{
  return stream->pad;
}

gpointer
gst_mesh_stream_get_data (GstMeshStream * stream)
{
  return stream->data;
}

void
gst_mesh_stream_set_representations (GstMeshStream * stream,
    const MeshAbrCandidate * candidates, guint n_candidates, gint current)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);
  MeshAbrCandidate *copy = g_memdup2 (candidates,
      sizeof (MeshAbrCandidate) * n_candidates);

  /* the stats read them under the lock */
  g_mutex_lock (&priv->lock);
  g_free (stream->representations);
  stream->representations = copy;
  stream->n_representations = n_candidates;
  stream->current_representation = current;
  g_mutex_unlock (&priv->lock);
  /* a choice among the old candidates means nothing among the new ones */
  stream->pending_representation = -1;
}

void
gst_mesh_stream_add_tags (GstMeshStream * stream, GstTagList * tags)
{
  guint nominal;

  /* what current-bitrate says where no representations were declared */
  if (gst_tag_list_get_uint (tags, GST_TAG_NOMINAL_BITRATE, &nominal))
    stream->nominal_bitrate = nominal;
  if (stream->tags) {
    gst_tag_list_insert (stream->tags, tags, GST_TAG_MERGE_REPLACE);
    gst_tag_list_unref (tags);
  } else {
    stream->tags = tags;
  }
}

void
gst_mesh_stream_queue_event (GstMeshStream * stream, GstEvent * event)
{
  g_queue_push_tail (&stream->events, event);
}

void
gst_mesh_stream_set_next_update (GstMeshStream * stream, gint64 when)
{
  stream->next_update = when;
}

GstMeshStream *
gst_mesh_stream_new (GstMeshAdaptiveSrc * src, guint index, GstPad * pad,
    GstStream * gst_stream, gpointer data, GDestroyNotify destroy)
{
  GstMeshStream *stream = g_new0 (GstMeshStream, 1);

  stream->src = src;
  stream->index = index;
  stream->pad = gst_object_ref (pad);
  stream->gst_stream = gst_stream;
  stream->data = data;
  stream->destroy = destroy;
  stream->cancellable = g_cancellable_new ();
  stream->need_stream_start = TRUE;
  stream->need_segment = TRUE;
  stream->need_discont = TRUE;
  stream->segment_start = GST_CLOCK_TIME_NONE;
  stream->current_representation = 0;
  stream->pending_representation = -1;
  stream->prefetched = g_ptr_array_new_with_free_func (g_free);
  mesh_bandwidth_estimator_init (&stream->bandwidth);
  gst_segment_init (&stream->segment, GST_FORMAT_UNDEFINED);
  return stream;
}

void
gst_mesh_stream_free (GstMeshStream * stream)
{
  if (stream->destroy)
    stream->destroy (stream->data);
  g_clear_object (&stream->cancellable);
  gst_clear_object (&stream->gst_stream);
  gst_clear_caps (&stream->caps);
  g_clear_pointer (&stream->tags, gst_tag_list_unref);
  g_queue_clear_full (&stream->events, (GDestroyNotify) gst_event_unref);
  gst_mesh_stream_clear_queue (stream);
  g_ptr_array_unref (stream->prefetched);
  g_free (stream->current_init);
  g_free (stream->representations);
  gst_object_unref (stream->pad);
  g_free (stream);
}

/* ------------------------------------------------------------------------ */
/* Waiting, flushing */

static GCancellable *
stream_get_cancellable (GstMeshStream * stream)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);
  GCancellable *cancellable;

  g_mutex_lock (&priv->lock);
  cancellable = g_object_ref (stream->cancellable);
  g_mutex_unlock (&priv->lock);
  return cancellable;
}

/* Waits until the monotonic time @until, or until the stream must stop.
 * Returns FALSE when it must stop. */
static gboolean
stream_wait_until (GstMeshStream * stream, gint64 until)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);
  gboolean running;

  g_mutex_lock (&priv->lock);
  while (!stream->flushing && g_get_monotonic_time () < until)
    g_cond_wait_until (&priv->cond, &priv->lock, until);
  running = !stream->flushing;
  g_mutex_unlock (&priv->lock);
  return running;
}

void
gst_mesh_stream_set_flushing (GstMeshStream * stream, gboolean flushing)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);

  g_mutex_lock (&priv->lock);
  stream->flushing = flushing;
  if (flushing) {
    g_cancellable_cancel (stream->cancellable);
    g_cond_broadcast (&priv->cond);
  } else if (g_cancellable_is_cancelled (stream->cancellable)) {
    g_object_unref (stream->cancellable);
    stream->cancellable = g_cancellable_new ();
  }
  g_mutex_unlock (&priv->lock);
}

void
gst_mesh_stream_prepare_restart (GstMeshStream * stream, GstClockTime start,
    guint32 seqnum)
{
  stream->need_segment = TRUE;
  stream->segment_start = start;
  stream->segment_seqnum = seqnum;
  stream->need_discont = TRUE;
  stream->timed_output = FALSE;
  g_clear_pointer (&stream->current_init, g_free);
}

void
gst_mesh_stream_start_task (GstMeshStream * stream)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);

  gst_mesh_stream_set_flushing (stream, FALSE);
  /* the other streams read these to tell whether they are the last */
  g_mutex_lock (&priv->lock);
  stream->not_linked = FALSE;
  stream->eos = FALSE;
  g_mutex_unlock (&priv->lock);
  gst_pad_start_task (stream->pad, (GstTaskFunction) stream_loop, stream, NULL);
}

/* ------------------------------------------------------------------------ */
/* Download-ahead: each stream downloads the fragments after the one it
 * pushes, one at a time, until it holds max-buffering-time of media that was
 * not pushed yet. A fast consumer drains it at network speed; a consumer
 * playing in real time blocks the push, and downloads stop once
 * max-buffering-time is held. */

typedef struct _QueuedFragment
{
  GstMeshFragment fragment;
  MeshFetchJob *job;            /* the media download */
  guint nominal_bitrate;        /* of its representation, 0 when unknown */
  gboolean measured;            /* its throughput went to ABR */
} QueuedFragment;

static void
queued_fragment_free (QueuedFragment * queued)
{
  if (queued->job) {
    mesh_fetch_job_cancel (queued->job);
    g_object_unref (queued->job);
  }
  gst_mesh_fragment_clear (&queued->fragment);
  g_free (queued);
}

/* Media held by the stream, for the stats too (see the struct). */
static void
stream_set_queued_duration (GstMeshStream * stream, GstClockTime duration)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);

  g_mutex_lock (&priv->lock);
  stream->queued_duration = duration;
  g_mutex_unlock (&priv->lock);
}

static void stream_cancel_prefetches (GstMeshStream * stream);

void
gst_mesh_stream_clear_queue (GstMeshStream * stream)
{
  stream_cancel_prefetches (stream);
  g_queue_clear_full (&stream->queued, (GDestroyNotify) queued_fragment_free);
  g_clear_pointer (&stream->pushing, queued_fragment_free);
  stream_set_queued_duration (stream, 0);
}

static void stream_choose_representation (GstMeshStream * stream);

/* The download started last: the tail of the queue, else the one being
 * pushed, else NULL. */
static QueuedFragment *
stream_last_download (GstMeshStream * stream)
{
  QueuedFragment *last = g_queue_peek_tail (&stream->queued);

  return last ? last : stream->pushing;
}

/* A download ended: its throughput feeds the estimator and ABR chooses
 * before the next download starts, so that the next one already uses the
 * choice. Only the choice is made here; the switch may fetch a media
 * playlist and is a step of its own between fragments
 * (stream_switch_representation). */
static void
stream_download_done (GstMeshStream * stream, QueuedFragment * queued)
{
  if (queued->measured)
    return;
  queued->measured = TRUE;
  mesh_bandwidth_estimator_add (&stream->bandwidth,
      mesh_fetch_job_get_bytes (queued->job),
      mesh_fetch_job_get_elapsed (queued->job));
  stream_choose_representation (stream);
}

/* Whether another download may start: the last one has ended and ABR has
 * seen it, no switch waits for the stream loop, and less than
 * max-buffering-time is held. A predicate: no side effects, no network. */
static gboolean
stream_has_room (GstMeshStream * stream)
{
  QueuedFragment *last = stream_last_download (stream);

  if (last && !last->measured)
    return FALSE;
  if (stream->pending_representation >= 0)
    return FALSE;
  return stream->queued_duration <
      gst_mesh_adaptive_src_get_max_buffering_time (stream->src);
}

/* Running time the pipeline has reached, or NONE when not playing. */
static GstClockTime
current_running_time (GstMeshAdaptiveSrc * src)
{
  GstClock *clock;
  GstClockTime now, base_time;
  GstState state;

  GST_OBJECT_LOCK (src);
  state = GST_STATE (src);
  clock = GST_ELEMENT_CLOCK (src) ? gst_object_ref (GST_ELEMENT_CLOCK (src))
      : NULL;
  base_time = GST_ELEMENT_CAST (src)->base_time;
  GST_OBJECT_UNLOCK (src);

  if (!clock)
    return GST_CLOCK_TIME_NONE;
  now = gst_clock_get_time (clock);
  gst_object_unref (clock);
  if (state != GST_STATE_PLAYING || now < base_time)
    return GST_CLOCK_TIME_NONE;
  return now - base_time;
}

/* When playback will need the fragment at @timestamp (monotonic µs): while
 * playing, when the running time reaches it, which counts what downstream
 * holds; before, once what the element holds ahead of it has played. The
 * peer manager spends the time left on waiting for peers. */
static gint64
stream_deadline (GstMeshStream * stream, GstClockTime timestamp)
{
  gint64 now = g_get_monotonic_time ();
  GstClockTime running_now = current_running_time (stream->src);
  GstClockTime running_at;

  if (GST_CLOCK_TIME_IS_VALID (running_now)
      && GST_CLOCK_TIME_IS_VALID (timestamp)
      && stream->segment.format == GST_FORMAT_TIME) {
    running_at = gst_segment_to_running_time (&stream->segment,
        GST_FORMAT_TIME, timestamp);
    if (GST_CLOCK_TIME_IS_VALID (running_at))
      return now + (running_at > running_now ?
          (gint64) GST_TIME_AS_USECONDS (running_at - running_now) : 0);
  }
  return now + GST_TIME_AS_USECONDS (stream->queued_duration);
}

/* ------------------------------------------------------------------------ */
/* Asking the swarm ahead: with peer-to-peer on, every fragment known within
 * max-buffering-time of the playback position is handed to the fetcher
 * with its real deadline, long before the download-ahead above reaches it;
 * the fetcher starts it through the peer manager (which keeps the CDN
 * fallback on that deadline) and the later download adopts that job. */

/* The stream time playback has reached, NONE before playing. */
static GstClockTime
stream_playback_position (GstMeshStream * stream)
{
  GstClockTime running_now = current_running_time (stream->src);

  if (!GST_CLOCK_TIME_IS_VALID (running_now)
      || stream->segment.format != GST_FORMAT_TIME)
    return GST_CLOCK_TIME_NONE;
  return gst_segment_position_from_running_time (&stream->segment,
      GST_FORMAT_TIME, running_now);
}

/* When playback needs the fragment at @timestamp, @first being the
 * fragment the next download fetches (it plays once what is held did). */
static gint64
stream_deadline_ahead (GstMeshStream * stream, GstClockTime timestamp,
    GstClockTime first)
{
  gint64 deadline = stream_deadline (stream, timestamp);

  if (!GST_CLOCK_TIME_IS_VALID (current_running_time (stream->src))
      && GST_CLOCK_TIME_IS_VALID (first) && timestamp > first)
    deadline += GST_TIME_AS_USECONDS (timestamp - first);
  return deadline;
}

static void
stream_remember_prefetch (GstMeshStream * stream, const gchar * segment_id)
{
  guint i;

  for (i = 0; i < stream->prefetched->len; i++)
    if (g_str_equal (g_ptr_array_index (stream->prefetched, i), segment_id))
      return;
  /* the old ones were adopted or expired in the fetcher long ago */
  if (stream->prefetched->len >= 4 * MAX_PREFETCH)
    g_ptr_array_remove_range (stream->prefetched, 0, MAX_PREFETCH);
  g_ptr_array_add (stream->prefetched, g_strdup (segment_id));
}

/* After each fragment and live reload: ask for what is coming. */
static void
stream_prefetch (GstMeshStream * stream)
{
  GstMeshAdaptiveSrcClass *klass =
      GST_MESH_ADAPTIVE_SRC_GET_CLASS (stream->src);
  g_autoptr (MeshFetcher) fetcher = NULL;
  GstMeshFragment fragments[MAX_PREFETCH] = { {0,}, };
  GstClockTime max_buffering =
      gst_mesh_adaptive_src_get_max_buffering_time (stream->src);
  GstClockTime position, until = GST_CLOCK_TIME_NONE;
  guint i, n;

  if (!klass->peek_fragments || stream->pending_representation >= 0)
    return;
  fetcher = gst_mesh_adaptive_src_get_fetcher (stream->src);
  /* no link up yet (a viewer that just joined): asked now, everything
   * would go to the CDN before the links and their announcements come */
  if (!fetcher || mesh_fetcher_get_n_peers (fetcher) == 0)
    return;
  position = stream_playback_position (stream);
  if (GST_CLOCK_TIME_IS_VALID (position))
    until = position + max_buffering;
  n = klass->peek_fragments (stream->src, stream, until, fragments,
      MAX_PREFETCH);
  for (i = 0; i < n; i++) {
    GstMeshFragment *fragment = &fragments[i];
    MeshFetchRequest request = { fragment->url, fragment->offset,
      fragment->size, MESH_FETCH_KIND_SEGMENT, 0, fragment->segment_id
    };

    /* before playing: what max-buffering-time holds from the next one */
    if (fragment->segment_id && (GST_CLOCK_TIME_IS_VALID (position)
            || fragment->timestamp < fragments[0].timestamp + max_buffering)) {
      request.deadline = stream_deadline_ahead (stream, fragment->timestamp,
          fragments[0].timestamp);
      if (mesh_fetcher_prefetch (fetcher, &request))
        stream_remember_prefetch (stream, fragment->segment_id);
    }
    gst_mesh_fragment_clear (fragment);
  }
}

/* The prefetches of this stream nobody adopted (switch, flush, stop). */
static void
stream_cancel_prefetches (GstMeshStream * stream)
{
  g_autoptr (MeshFetcher) fetcher = NULL;
  guint i;

  if (stream->prefetched->len == 0)
    return;
  fetcher = gst_mesh_adaptive_src_get_fetcher (stream->src);
  for (i = 0; fetcher && i < stream->prefetched->len; i++)
    mesh_fetcher_cancel_prefetch (fetcher,
        g_ptr_array_index (stream->prefetched, i));
  g_ptr_array_set_size (stream->prefetched, 0);
}

static MeshFetchJob *
start_media_download (GstMeshStream * stream, const GstMeshFragment * fragment)
{
  g_autoptr (MeshFetcher) fetcher =
      gst_mesh_adaptive_src_get_fetcher (stream->src);
  MeshFetchRequest request = { fragment->url, fragment->offset, fragment->size,
    MESH_FETCH_KIND_SEGMENT, stream_deadline (stream, fragment->timestamp),
    fragment->segment_id
  };

  return fetcher ? mesh_fetcher_fetch (fetcher, &request) : NULL;
}

/* Bitrate the manifest declares for what the stream downloads now. */
static guint
stream_nominal_bitrate (GstMeshStream * stream)
{
  if (stream->current_representation >= 0
      && (guint) stream->current_representation < stream->n_representations)
    return MIN (stream->representations[stream->current_representation]
        .bandwidth, G_MAXUINT);
  return stream->nominal_bitrate;
}

/* Starts downloading the next fragment. GST_FLOW_OK when it did; otherwise
 * what next_fragment() said (GST_MESH_FLOW_WAIT, GST_FLOW_EOS,
 * GST_FLOW_ERROR), or GST_FLOW_FLUSHING once the element stopped. */
static GstFlowReturn
stream_start_download (GstMeshStream * stream, GError ** error)
{
  GstMeshAdaptiveSrcClass *klass =
      GST_MESH_ADAPTIVE_SRC_GET_CLASS (stream->src);
  QueuedFragment *queued;
  GstFlowReturn ret;

  queued = g_new0 (QueuedFragment, 1);
  queued->fragment.size = -1;
  queued->fragment.init_size = -1;
  queued->fragment.timestamp = GST_CLOCK_TIME_NONE;
  ret = klass->next_fragment (stream->src, stream, &queued->fragment, error);
  if (ret == GST_FLOW_OK)
    queued->job = start_media_download (stream, &queued->fragment);
  if (ret != GST_FLOW_OK || !queued->job) {
    queued_fragment_free (queued);
    return ret == GST_FLOW_OK ? GST_FLOW_FLUSHING : ret;
  }

  GST_DEBUG_OBJECT (stream->pad, "downloading %s (%" GST_TIME_FORMAT
      ") with %" GST_TIME_FORMAT " held", queued->fragment.url,
      GST_TIME_ARGS (queued->fragment.timestamp),
      GST_TIME_ARGS (stream->queued_duration));
  klass->advance (stream->src, stream);
  queued->nominal_bitrate = stream_nominal_bitrate (stream);
  if (stream->switched)
    queued->fragment.discont = TRUE;
  stream->switched = FALSE;
  stream_set_queued_duration (stream,
      stream->queued_duration + queued->fragment.duration);
  g_queue_push_tail (&stream->queued, queued);
  return GST_FLOW_OK;
}

/* Between two pushed chunks: a download that ended goes to ABR, and the
 * next one starts when there is room. GST_FLOW_OK when there is no room;
 * otherwise as stream_start_download(). */
static GstFlowReturn
stream_queue_next (GstMeshStream * stream, GError ** error)
{
  QueuedFragment *last = stream_last_download (stream);

  if (last && mesh_fetch_job_is_done (last->job))
    stream_download_done (stream, last);
  if (!stream_has_room (stream))
    return GST_FLOW_OK;
  return stream_start_download (stream, error);
}

/* ------------------------------------------------------------------------ */
/* Pushing */

static GstCaps *
caps_from_extension (const gchar * url)
{
  g_autofree gchar *path = NULL;
  GUri *uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (!uri)
    return NULL;
  path = g_ascii_strdown (g_uri_get_path (uri), -1);
  g_uri_unref (uri);

  if (g_str_has_suffix (path, ".ts"))
    return gst_caps_new_simple ("video/mpegts", "systemstream", G_TYPE_BOOLEAN,
        TRUE, "packetsize", G_TYPE_INT, 188, NULL);
  if (g_str_has_suffix (path, ".aac"))
    return gst_caps_new_simple ("audio/mpeg", "mpegversion", G_TYPE_INT, 4,
        "stream-format", G_TYPE_STRING, "adts", NULL);
  if (g_str_has_suffix (path, ".mp3"))
    return gst_caps_new_simple ("audio/mpeg", "mpegversion", G_TYPE_INT, 1,
        NULL);
  if (g_str_has_suffix (path, ".ac3"))
    return gst_caps_new_empty_simple ("audio/x-ac3");
  if (g_str_has_suffix (path, ".vtt") || g_str_has_suffix (path, ".webvtt"))
    return gst_caps_new_empty_simple ("application/x-subtitle-vtt");
  if (g_str_has_suffix (path, ".mp4") || g_str_has_suffix (path, ".m4s")
      || g_str_has_suffix (path, ".m4v") || g_str_has_suffix (path, ".m4a")
      || g_str_has_suffix (path, ".cmfv") || g_str_has_suffix (path, ".cmfa"))
    return gst_caps_new_simple ("video/quicktime", "variant", G_TYPE_STRING,
        "iso-fragmented", NULL);
  return NULL;
}

/* Caps of the data that starts with @data: typefinding, then the URL. */
static GstCaps *
detect_caps (GstMeshStream * stream, GBytes * data, const gchar * url)
{
  GstTypeFindProbability probability = GST_TYPE_FIND_NONE;
  GstCaps *caps;
  gsize size;
  const guint8 *bytes = g_bytes_get_data (data, &size);

  caps = gst_type_find_helper_for_data_with_extension (GST_OBJECT (stream->pad),
      bytes, size, NULL, &probability);
  if (caps && probability >= GST_TYPE_FIND_LIKELY)
    return caps;
  gst_clear_caps (&caps);
  return caps_from_extension (url);
}

static void
stream_push_stream_start (GstMeshStream * stream)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);
  GstEvent *event;

  event = gst_event_new_stream_start (gst_stream_get_stream_id
      (stream->gst_stream));
  gst_event_set_group_id (event, priv->group_id);
  gst_event_set_stream (event, stream->gst_stream);
  gst_pad_push_event (stream->pad, event);
  /* No stream-collection event downstream: what we output are containers,
   * and the demuxer behind each pad announces the elementary streams. A
   * collection of containers reaching decodebin3 through a demuxer that
   * forwards it (qtdemux does) would hide the real streams. The collection
   * is posted on the bus only. */
  stream->need_stream_start = FALSE;
}

static void
stream_push_segment (GstMeshStream * stream, GstClockTime first_timestamp)
{
  GstEvent *event;
  GstClockTime start = GST_CLOCK_TIME_IS_VALID (stream->segment_start) ?
      stream->segment_start : first_timestamp;

  gst_segment_init (&stream->segment, GST_FORMAT_TIME);
  stream->segment.start = start;
  stream->segment.time = start;
  stream->segment.position = start;
  event = gst_event_new_segment (&stream->segment);
  if (stream->segment_seqnum)
    gst_event_set_seqnum (event, stream->segment_seqnum);
  gst_pad_push_event (stream->pad, event);
  stream->need_segment = FALSE;
}

/* Sticky events due before @data, the first bytes of a fragment. */
static gboolean
caps_are_elementary_text (const GstCaps * caps)
{
  const gchar *name = gst_structure_get_name (gst_caps_get_structure (caps,
          0));

  return g_str_has_prefix (name, "application/x-subtitle")
      || g_str_has_prefix (name, "text/")
      || g_str_equal (name, "application/ttml+xml");
}

/* decodebin3 (playbin3) only selects streams it finds in a stream
 * collection. No collection goes downstream in general (a collection of
 * containers reaching decodebin3 through qtdemux would hide the elementary
 * streams the demuxers announce), but a pad that carries text itself (a
 * WebVTT rendition, a sidecar TTML file) has no demuxer to announce it:
 * it announces its own one stream, after caps and before the first buffer. */
static void
stream_push_own_collection (GstMeshStream * stream)
{
  GstStreamCollection *collection = gst_stream_collection_new (NULL);

  gst_stream_collection_add_stream (collection,
      gst_object_ref (stream->gst_stream));
  gst_pad_push_event (stream->pad,
      gst_event_new_stream_collection (collection));
  gst_object_unref (collection);
  GST_DEBUG_OBJECT (stream->pad, "announced its text stream");
}

static gboolean
stream_push_headers (GstMeshStream * stream, GBytes * data,
    const gchar * url, GstClockTime timestamp, GError ** error)
{
  if (stream->need_stream_start)
    stream_push_stream_start (stream);

  if (!stream->caps) {
    stream->caps = detect_caps (stream, data, url);
    if (!stream->caps) {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_TYPE_NOT_FOUND,
          "Could not determine the type of %s", url);
      return FALSE;
    }
    GST_INFO_OBJECT (stream->pad, "caps %" GST_PTR_FORMAT, stream->caps);
    gst_stream_set_caps (stream->gst_stream, stream->caps);
    gst_pad_push_event (stream->pad, gst_event_new_caps (stream->caps));
    if (caps_are_elementary_text (stream->caps))
      stream_push_own_collection (stream);
  }

  if (stream->need_segment)
    stream_push_segment (stream, timestamp);

  if (stream->tags) {
    gst_stream_set_tags (stream->gst_stream, stream->tags);
    gst_pad_push_event (stream->pad, gst_event_new_tag (stream->tags));
    stream->tags = NULL;
  }

  while (!g_queue_is_empty (&stream->events))
    gst_pad_push_event (stream->pad, g_queue_pop_head (&stream->events));
  return TRUE;
}

/* How late the buffer at @timestamp goes out: how far the pipeline clock
 * is past its running time + the latency of the last LATENCY event (0 when
 * early); NONE when that cannot be told (no timestamp, not PLAYING) or
 * must not be: the first fragment after a start or a seek is what startup
 * (or the seek) takes, not a stall. */
static GstClockTime
stream_output_lateness (GstMeshStream * stream, GstClockTime timestamp)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);
  GstClockTime running_now, due, latency;
  gboolean first = !stream->timed_output;

  if (!GST_CLOCK_TIME_IS_VALID (timestamp)
      || stream->segment.format != GST_FORMAT_TIME)
    return GST_CLOCK_TIME_NONE;
  stream->timed_output = TRUE;
  if (first)
    return GST_CLOCK_TIME_NONE;
  due = gst_segment_to_running_time (&stream->segment, GST_FORMAT_TIME,
      timestamp);
  running_now = current_running_time (stream->src);
  if (!GST_CLOCK_TIME_IS_VALID (due) || !GST_CLOCK_TIME_IS_VALID (running_now))
    return GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (stream->src);
  latency = priv->latency;
  GST_OBJECT_UNLOCK (stream->src);
  due += latency;
  return running_now > due ? running_now - due : 0;
}

/* Pushes @data (transfer full); @timestamp is set on the buffer when valid
 * (the first buffer of a fragment). */
static GstFlowReturn
stream_push_bytes (GstMeshStream * stream, GBytes * data, const gchar * url,
    GstClockTime timestamp, GstBufferFlags flags, GError ** error)
{
  GstBuffer *buffer;

  if (g_bytes_get_size (data) == 0) {
    g_bytes_unref (data);
    return GST_FLOW_OK;
  }
  if (!stream_push_headers (stream, data, url, timestamp, error)) {
    g_bytes_unref (data);
    return GST_FLOW_ERROR;
  }

  buffer = gst_buffer_new_wrapped_bytes (data);
  g_bytes_unref (data);
  GST_BUFFER_PTS (buffer) = timestamp;
  if (stream->need_discont) {
    flags |= GST_BUFFER_FLAG_DISCONT;
    stream->need_discont = FALSE;
  }
  GST_BUFFER_FLAG_SET (buffer, flags);
  gst_mesh_adaptive_src_note_output (stream->src, stream,
      stream_output_lateness (stream, timestamp));
  return gst_pad_push (stream->pad, buffer);
}

/* ------------------------------------------------------------------------ */
/* Fragment downloads */

static GBytes *
fetch_whole (GstMeshStream * stream, const MeshFetchRequest * request,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (MeshFetcher) fetcher =
      gst_mesh_adaptive_src_get_fetcher (stream->src);
  g_autoptr (MeshFetchJob) job = NULL;

  if (!fetcher) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "element stopped");
    return NULL;
  }
  job = mesh_fetcher_fetch (fetcher, request);
  return mesh_fetch_job_read_all (job, cancellable, MAX_INIT_SIZE, error);
}

static GBytes *
get_key (GstMeshStream * stream, const gchar * url, GCancellable * cancellable,
    GError ** error)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);
  MeshFetchRequest request = { url, 0, -1, MESH_FETCH_KIND_KEY, 0, NULL };
  GBytes *key;

  g_mutex_lock (&priv->lock);
  key = g_hash_table_lookup (priv->keys, url);
  if (key)
    key = g_bytes_ref (key);
  g_mutex_unlock (&priv->lock);
  if (key)
    return key;

  key = fetch_whole (stream, &request, cancellable, error);
  if (!key)
    return NULL;
  if (g_bytes_get_size (key) != AES_KEY_SIZE) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_DECRYPT,
        "Key %s is %" G_GSIZE_FORMAT " bytes long, AES-128 needs 16", url,
        g_bytes_get_size (key));
    g_bytes_unref (key);
    return NULL;
  }
  g_mutex_lock (&priv->lock);
  g_hash_table_replace (priv->keys, g_strdup (url), g_bytes_ref (key));
  g_mutex_unlock (&priv->lock);
  return key;
}

static gchar *
init_identity (const GstMeshFragment * fragment)
{
  return g_strdup_printf ("%s@%" G_GINT64_FORMAT "+%" G_GINT64_FORMAT,
      fragment->init_url, fragment->init_offset, fragment->init_size);
}

/* Pushes the init section when it differs from the one sent last. */
static GstFlowReturn
stream_push_init (GstMeshStream * stream, const GstMeshFragment * fragment,
    GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *identity = NULL;
  g_autoptr (GBytes) data = NULL;
  MeshFetchRequest request = { fragment->init_url, fragment->init_offset,
    fragment->init_size, MESH_FETCH_KIND_INIT, g_get_monotonic_time (), NULL
  };
  GstFlowReturn ret;

  if (!fragment->init_url)
    return GST_FLOW_OK;
  identity = init_identity (fragment);
  if (g_strcmp0 (identity, stream->current_init) == 0)
    return GST_FLOW_OK;

  request.segment_id = identity;
  data = fetch_whole (stream, &request, cancellable, error);
  if (!data)
    return GST_FLOW_ERROR;
  /* a new init section may bring other caps (ABR switch to another codec) */
  if (stream->current_init)
    gst_clear_caps (&stream->caps);
  /* the segment starts at the fragment, not at the untimed init section */
  if (!stream_push_headers (stream, data, fragment->init_url,
          fragment->timestamp, error))
    return GST_FLOW_ERROR;
  ret = stream_push_bytes (stream, g_steal_pointer (&data),
      fragment->init_url, GST_CLOCK_TIME_NONE, GST_BUFFER_FLAG_HEADER, error);
  if (ret == GST_FLOW_OK) {
    g_free (stream->current_init);
    stream->current_init = g_steal_pointer (&identity);
  }
  return ret;
}

static MeshAesDecryptor *
stream_make_decryptor (GstMeshStream * stream, const GstMeshFragment * fragment,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (GBytes) key = NULL;

  key = get_key (stream, fragment->key_url, cancellable, error);
  if (!key)
    return NULL;
  return mesh_aes_decryptor_new (g_bytes_get_data (key, NULL), fragment->iv);
}

/* bit/s of @bytes of media lasting @duration; 0 when either is unknown. */
static guint
bitrate_of (gint64 bytes, GstClockTime duration)
{
  if (bytes <= 0 || !GST_CLOCK_TIME_IS_VALID (duration) || duration == 0)
    return 0;
  return MIN (gst_util_uint64_scale (bytes, 8 * GST_SECOND, duration),
      G_MAXUINT);
}

/* The bitrate of the fragment being pushed, for current-bitrate: the one
 * its manifest declares, else its size over its duration (the final size
 * when @complete, else the size announced or received so far). */
static void
stream_set_playing_bitrate (GstMeshStream * stream, QueuedFragment * queued,
    gboolean complete)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);
  const GstMeshFragment *fragment = &queued->fragment;
  gint64 size = mesh_fetch_job_get_bytes (queued->job);
  guint bitrate = queued->nominal_bitrate;

  if (bitrate == 0 && !complete) {
    if (fragment->size > 0)
      size = fragment->size;
    else if (mesh_fetch_job_get_content_size (queued->job) > 0)
      size = mesh_fetch_job_get_content_size (queued->job);
  }
  if (bitrate == 0)
    bitrate = bitrate_of (size, fragment->duration);
  if (bitrate == 0)
    return;
  g_mutex_lock (&priv->lock);
  stream->playing_bitrate = bitrate;
  g_mutex_unlock (&priv->lock);
}

/* Pushes the media of @queued as it arrives, starting the next download as
 * soon as there is room. */
static gboolean stream_update_if_due (GstMeshStream * stream,
    GCancellable * cancellable, GError ** error);

/* Live, with peer-to-peer on: a reload that falls due while a fragment is
 * pushed (in real time, a whole fragment's duration) is done between two
 * chunks, so that the swarm hears of new segments as they appear. A
 * failure shows again at the top of the stream loop. */
static void
stream_update_while_pushing (GstMeshStream * stream, GCancellable * cancellable)
{
  if (!stream->next_update || g_get_monotonic_time () < stream->next_update
      || stream->prefetched->len == 0)
    return;
  if (stream_update_if_due (stream, cancellable, NULL))
    stream_prefetch (stream);
}

static GstFlowReturn
stream_push_media (GstMeshStream * stream, QueuedFragment * queued,
    GCancellable * cancellable, GError ** error)
{
  const GstMeshFragment *fragment = &queued->fragment;
  g_autoptr (MeshAesDecryptor) decryptor = NULL;
  GstClockTime timestamp = fragment->timestamp;
  GstFlowReturn ret = GST_FLOW_OK;
  GBytes *chunk;

  if (fragment->key_url) {
    decryptor = stream_make_decryptor (stream, fragment, cancellable, error);
    if (!decryptor)
      return GST_FLOW_ERROR;
  }

  if (fragment->discont)
    stream->need_discont = TRUE;
  while (ret == GST_FLOW_OK
      && (chunk = mesh_fetch_job_pop (queued->job, cancellable, error))) {
    gboolean empty;

    if (decryptor) {
      GBytes *plain = mesh_aes_decryptor_push (decryptor, chunk);

      g_bytes_unref (chunk);
      chunk = plain;
    }
    empty = g_bytes_get_size (chunk) == 0;
    if (!empty && GST_CLOCK_TIME_IS_VALID (timestamp))
      stream_set_playing_bitrate (stream, queued, FALSE);
    ret = stream_push_bytes (stream, chunk, fragment->url, timestamp, 0, error);
    if (!empty)
      timestamp = GST_CLOCK_TIME_NONE;
    /* manifest trouble here shows again once the queue is empty */
    if (ret == GST_FLOW_OK) {
      stream_queue_next (stream, NULL);
      stream_update_while_pushing (stream, cancellable);
    }
  }
  if (ret != GST_FLOW_OK)
    return ret;
  if (error && *error)
    return GST_FLOW_ERROR;

  if (decryptor) {
    chunk = mesh_aes_decryptor_finish (decryptor, error);
    if (!chunk)
      return GST_FLOW_ERROR;
    ret = stream_push_bytes (stream, chunk, fragment->url, timestamp, 0, error);
  }

  stream_download_done (stream, queued);
  stream_set_playing_bitrate (stream, queued, TRUE);
  return ret;
}

/* ------------------------------------------------------------------------ */
/* ABR */

/* ABR's choice once a download ended (see stream_download_done()). Only a
 * choice: no network I/O, no lock held across anything slow. */
static void
stream_choose_representation (GstMeshStream * stream)
{
  GstMeshAdaptiveSrc *src = stream->src;
  GstMeshAdaptiveSrcClass *klass = GST_MESH_ADAPTIVE_SRC_GET_CLASS (src);
  guint64 estimate = mesh_bandwidth_estimator_get (&stream->bandwidth);
  MeshAbrLimits limits;
  gint choice;

  /* the figure of the main stream (the first), not of whichever rendition
   * finished a fragment last */
  if (stream->index == 0)
    gst_mesh_adaptive_src_set_current_bandwidth (src, estimate);

  if (stream->n_representations < 2 || !klass->switch_representation)
    return;
  gst_mesh_adaptive_src_get_abr_limits (src, &limits);
  choice = mesh_abr_choose (stream->representations,
      stream->n_representations, &limits, estimate, 0);
  if (choice == stream->current_representation) {
    stream->pending_representation = -1;
    return;
  }
  GST_DEBUG_OBJECT (stream->pad, "ABR chose %" G_GUINT64_FORMAT " bit/s "
      "(estimate %" G_GUINT64_FORMAT "); switching before the next download",
      stream->representations[choice].bandwidth, estimate);
  stream->pending_representation = choice;
}

/* A step of the stream loop, between two fragments: the switch ABR chose.
 * The subclass may fetch the new media playlist here, on the stream thread
 * with no lock held; no download starts before it is done. */
static void
stream_switch_representation (GstMeshStream * stream,
    GCancellable * cancellable)
{
  GstMeshAdaptiveSrc *src = stream->src;
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  GstMeshAdaptiveSrcClass *klass = GST_MESH_ADAPTIVE_SRC_GET_CLASS (src);
  g_autoptr (GError) error = NULL;
  gint choice = stream->pending_representation;

  if (choice < 0)
    return;
  stream->pending_representation = -1;

  GST_INFO_OBJECT (stream->pad, "switching from %" G_GUINT64_FORMAT
      " to %" G_GUINT64_FORMAT " bit/s",
      stream->representations[stream->current_representation].bandwidth,
      stream->representations[choice].bandwidth);
  if (!klass->switch_representation (src, stream, choice, cancellable, &error)) {
    /* keep playing the current one; a later fragment tries again */
    GST_WARNING_OBJECT (stream->pad, "switch failed: %s", error->message);
    return;
  }
  g_mutex_lock (&priv->lock);
  stream->current_representation = choice;
  g_mutex_unlock (&priv->lock);
  /* what was asked of the swarm for the old representation is not needed */
  stream_cancel_prefetches (stream);
  /* the first fragment of the new representation is not contiguous with
   * the last of the old one */
  stream->switched = TRUE;
}

/* ------------------------------------------------------------------------ */
/* The stream loop */

/* Sets the gboolean of GstMeshStream at @flag (G_STRUCT_OFFSET of
 * not_linked or eos) on @stream. TRUE for the one stream whose mark sets it
 * on every stream of the element: it alone acts on that (posts the error,
 * the final stats). The mark and the look at the others are one step under
 * priv->lock. */
static gboolean
stream_mark (GstMeshStream * stream, glong flag)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (stream->src);
  gboolean all = TRUE;
  guint i;

  g_mutex_lock (&priv->lock);
  G_STRUCT_MEMBER (gboolean, stream, flag) = TRUE;
  for (i = 0; i < priv->streams->len; i++) {
    GstMeshStream *other = g_ptr_array_index (priv->streams, i);
    all &= G_STRUCT_MEMBER (gboolean, other, flag);
  }
  g_mutex_unlock (&priv->lock);
  return all;
}

static void
stream_push_eos (GstMeshStream * stream)
{
  GstEvent *eos = gst_event_new_eos ();

  if (stream->segment_seqnum)
    gst_event_set_seqnum (eos, stream->segment_seqnum);
  gst_pad_push_event (stream->pad, eos);
}

/* The end of the presentation on this stream. The last stream to get there
 * posts the final mesh-stats before its EOS, so that they reach the bus
 * ahead of the EOS message. */
static void
stream_finish (GstMeshStream * stream)
{
  GST_INFO_OBJECT (stream->pad, "end of stream");
  if (stream_mark (stream, G_STRUCT_OFFSET (GstMeshStream, eos)))
    gst_mesh_adaptive_src_post_final_stats (stream->src);
  stream_push_eos (stream);
}

/* Live: reload the manifest when its time has come. */
static gboolean
stream_update_if_due (GstMeshStream * stream, GCancellable * cancellable,
    GError ** error)
{
  GstMeshAdaptiveSrcClass *klass =
      GST_MESH_ADAPTIVE_SRC_GET_CLASS (stream->src);
  gint64 next;

  if (!stream->next_update || g_get_monotonic_time () < stream->next_update)
    return TRUE;
  next = klass->update (stream->src, stream, cancellable, error);
  if (next == 0)
    return FALSE;
  stream->next_update = next;
  return TRUE;
}

/* Waits for what the manifest said when nothing is held: GST_MESH_FLOW_WAIT
 * until the next live update, anything else is the end of the stream. */
static GstFlowReturn
stream_fill_queue (GstMeshStream * stream, GError ** error)
{
  GstFlowReturn ret;

  if (!g_queue_is_empty (&stream->queued))
    return GST_FLOW_OK;
  /* nothing is held: no throttle */
  ret = stream_start_download (stream, error);
  if (ret == GST_MESH_FLOW_WAIT) {
    GST_LOG_OBJECT (stream->pad, "waiting for the next live update");
    return stream_wait_until (stream, stream->next_update) ?
        GST_MESH_FLOW_WAIT : GST_FLOW_FLUSHING;
  }
  return ret;
}

static GstFlowReturn
stream_fetch_next (GstMeshStream * stream, GCancellable * cancellable,
    GError ** error)
{
  QueuedFragment *queued;
  GstFlowReturn ret;

  if (!stream_update_if_due (stream, cancellable, error))
    return GST_FLOW_ERROR;
  stream_switch_representation (stream, cancellable);
  stream_prefetch (stream);
  ret = stream_fill_queue (stream, error);
  if (ret == GST_MESH_FLOW_WAIT)
    return GST_FLOW_OK;
  if (ret != GST_FLOW_OK)
    return ret;

  queued = stream->pushing = g_queue_pop_head (&stream->queued);
  GST_DEBUG_OBJECT (stream->pad, "pushing %s at %" GST_TIME_FORMAT,
      queued->fragment.url, GST_TIME_ARGS (queued->fragment.timestamp));
  /* from its init section on; the first chunk refines a measured figure */
  stream_set_playing_bitrate (stream, queued, FALSE);
  ret = stream_push_init (stream, &queued->fragment, cancellable, error);
  if (ret == GST_FLOW_OK)
    ret = stream_push_media (stream, queued, cancellable, error);
  if (ret == GST_FLOW_OK) {
    stream_set_queued_duration (stream, stream->queued_duration -
        MIN (stream->queued_duration, queued->fragment.duration));
    g_clear_pointer (&stream->pushing, queued_fragment_free);
  }
  return ret;
}

/* What the loop does when a fragment could not be pushed: the end, an
 * error, or nothing when flushing; then the task pauses. */
static void
stream_stop_on (GstMeshStream * stream, GstFlowReturn ret, GError * error)
{
  GstMeshAdaptiveSrc *src = stream->src;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ret = GST_FLOW_FLUSHING;

  switch (ret) {
    case GST_FLOW_EOS:
      stream_finish (stream);
      break;
    case GST_FLOW_FLUSHING:
      GST_DEBUG_OBJECT (stream->pad, "flushing");
      break;
    case GST_FLOW_NOT_LINKED:
      if (stream_mark (stream, G_STRUCT_OFFSET (GstMeshStream, not_linked))) {
        GST_ELEMENT_FLOW_ERROR (src, ret);
        stream_push_eos (stream);
      }
      break;
    case GST_FLOW_ERROR:
      if (error)
        gst_mesh_adaptive_src_post_fetch_error (src, GST_PAD_NAME (stream->pad),
            error);
      else
        GST_ELEMENT_FLOW_ERROR (src, ret);
      stream_push_eos (stream);
      break;
    default:
      GST_ELEMENT_FLOW_ERROR (src, ret);
      stream_push_eos (stream);
      break;
  }
  gst_pad_pause_task (stream->pad);
}

static void
stream_loop (GstMeshStream * stream)
{
  g_autoptr (GCancellable) cancellable = stream_get_cancellable (stream);
  g_autoptr (GError) error = NULL;
  GstFlowReturn ret;

  g_private_set (&current_stream, stream);
  ret = stream_fetch_next (stream, cancellable, &error);
  if (ret != GST_FLOW_OK)
    stream_stop_on (stream, ret, error);
  g_private_set (&current_stream, NULL);
}
