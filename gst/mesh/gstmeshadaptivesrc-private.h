/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What gstmeshadaptivesrc.c (the element: properties, state changes,
 * seeking, the manifest task, statistics, the URI handler) and
 * gstmeshadaptivesrc-stream.c (the streams: their tasks, downloads,
 * buffering, push and ABR) share. Not installed, not for subclasses.
 *
 * Threads and locks (both files follow this):
 * - the application thread sets properties, changes state and seeks;
 * - the manifest task (one GstTask per element) fetches the manifest when
 *   going to PAUSED, lets the subclass build the streams, exposes the pads
 *   and starts the stream tasks, then stops;
 * - one GstTask per stream (the pad's task) fetches and pushes fragments.
 *   It alone touches its stream's download state and the subclass data;
 * - the system clock thread posts the periodic mesh-stats message, and
 *   gathers the periodic qos report, which it hands to the fetcher (the
 *   fetcher thread sends it: no network I/O, no lock held while handing);
 * - the MeshFetcher's own thread does the network I/O (see mesh-fetcher.c).
 *
 * - GST_OBJECT_LOCK guards the properties, priv->fetcher and the latency
 *   of the last LATENCY event;
 * - priv->lock guards the stream list, each stream's `flushing` flag and
 *   `cancellable`, the key cache, the writes of the figures the stats read
 *   (`queued_duration`, `current_representation`, the playback figures of
 *   the qos reports: startup, stalls), and is the mutex of
 *   priv->cond, which wakes stream threads that wait (live reloads) when
 *   they must stop;
 * - priv->seek_lock serialises seeks against each other and state changes.
 */
#pragma once

#include "gstmeshadaptivesrc.h"

#include "fetch/mesh-fetcher.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_mesh_adaptive_src_debug);

struct _QueuedFragment;

struct _GstMeshStream
{
  GstMeshAdaptiveSrc *src;      /* not a ref: the element owns the stream */
  GstPad *pad;
  guint index;                  /* 0 for the main stream */
  GstStream *gst_stream;

  /* guarded by priv->lock */
  gboolean flushing;
  GCancellable *cancellable;

  /* stream thread only (or while it is stopped) */
  gboolean need_stream_start;
  gboolean need_segment;
  gboolean need_discont;
  gboolean timed_output;        /* a timestamped buffer went out since the
                                 * start or the last seek */
  GstClockTime segment_start;   /* NONE: the first fragment's timestamp */
  guint32 segment_seqnum;
  GstSegment segment;           /* the one sent downstream */
  GstCaps *caps;
  GstTagList *tags;             /* pending, NULL once sent */
  GQueue events;                /* GstEvent*, pending */
  gchar *current_init;          /* identity of the init section sent last */
  GQueue queued;                /* QueuedFragment*: downloads started ahead
                                 * of the push, oldest first */
  struct _QueuedFragment *pushing;      /* the one being pushed, or NULL */
  gint64 next_update;           /* monotonic µs of the next live reload */
  MeshBandwidthEstimator bandwidth;
  /* the representation ABR chose after the last download, -1 for none:
   * the switch to it (network I/O) is a step of the stream loop between
   * fragments, and no download starts before it is done */
  gint pending_representation;
  gboolean switched;            /* the next download is the first of a new
                                 * representation: DISCONT */
  GPtrArray *prefetched;        /* segment ids asked of the swarm ahead
                                 * (gchar*), newest last, for cancelling the
                                 * ones not adopted on a switch or flush */
  guint nominal_bitrate;        /* GST_TAG_NOMINAL_BITRATE of the tags, 0 */

  /* written by the stream thread under priv->lock, read by the stats and
   * by the other streams (not_linked, eos) */
  GstClockTime queued_duration; /* media held: queued + pushing */
  MeshAbrCandidate *representations;
  guint n_representations;
  gint current_representation;
  guint playing_bitrate;        /* bit/s of the fragment being pushed */
  gboolean not_linked;          /* the last push returned NOT_LINKED */
  gboolean eos;                 /* EOS was pushed */
  /* the main stream's stall under way: how late its latest late fragment
   * was (0: none under way) */
  GstClockTime stall_lateness;

  gpointer data;
  GDestroyNotify destroy;
};

typedef struct
{
  /* properties, GST_OBJECT_LOCK */
  gchar *location;
  guint connection_speed;       /* kbit/s */
  gdouble bandwidth_target_ratio;
  guint min_bitrate, max_bitrate, start_bitrate;
  guint max_video_width, max_video_height;
  GstClockTime max_buffering_time;
  gint64 live_delay;
  gint retries;
  guint timeout;
  gchar *user_agent;
  GstStructure *extra_headers;
  guint stats_interval;
  guint current_bandwidth;
  gchar *tracker;
  gchar *tracker_token;
  gchar *swarm_id;
  gchar *stun_server;
  gchar *turn_server;
  guint max_peers;
  gboolean upload;
  guint64 max_upload_rate;
  MeshPeerCongestionControl peer_congestion_control;
  MeshPeerCandidatePolicy ice_candidate_policy;
  MeshIntegrityMode integrity;
  guint64 cache_size;
  gchar *local_address;
  guint report_interval;        /* s between qos reports, 0 = none */
  gchar *network_hint;          /* as set; sent only when valid */
  GstClockTime latency;         /* of the last LATENCY event, 0 before */
  /* what the manifest says, set by the subclass */
  gboolean live;
  GstClockTime duration;
  /* property name -> the problem with its value, posted at start */
  GHashTable *property_problems;

  /* serialises the hand-over of settings to the fetcher (taken before the
   * object lock, never under it): the last snapshot handed over wins */
  GMutex config_lock;

  /* GST_OBJECT_LOCK: the fetcher exists from READY to NULL; the counters keep
   * its last figures once it is gone */
  MeshFetcher *fetcher;
  guint64 last_bytes_from_cdn, last_bytes_from_peers, last_bytes_uploaded;
  MeshPeerStats last_peer_stats;
  guint64 last_prefetched, last_adopted;

  GstTask *manifest_task;
  GRecMutex manifest_task_lock;
  GCancellable *manifest_cancellable;

  /* priv->lock (see the top of the file) */
  GMutex lock;
  GCond cond;
  /* GstMeshStream*. Written under priv->lock, only while no stream task
   * runs and no seek can: added by the manifest task before
   * expose_streams(), removed after stop_streaming(). Read under priv->lock
   * by the stream threads and the stats; read WITHOUT it by do_seek() and
   * push_event_to_all(), which rely on priv->seek_lock instead: a seek
   * checks `exposed` under the seek lock, and `exposed` is only TRUE
   * between expose_streams() and stop_streaming(), both of which hold the
   * seek lock, so the list cannot change while a seek runs. */
  GPtrArray *streams;
  GHashTable *keys;             /* URL -> GBytes */
  gboolean stopping;
  /* the playback figures of the qos reports (see the report-interval
   * property): startup counts from the start of streaming; stalls and
   * their time add up from the fetcher's creation, as its byte counters */
  gint64 start_time;            /* monotonic µs of READY -> PAUSED */
  gint64 startup_ms;            /* to the first buffer out; -1: not yet */
  guint64 stalls;
  GstClockTime stall_time;

  /* priv->seek_lock */
  GMutex seek_lock;
  gboolean exposed;
  guint group_id;
  GstStreamCollection *collection;
  GstClockID stats_id;
  GstClockID report_id;
} GstMeshAdaptiveSrcPrivate;

/* gstmeshadaptivesrc.c: the element, for the streams */

GstMeshAdaptiveSrcPrivate *gst_mesh_adaptive_src_get_private
    (GstMeshAdaptiveSrc * src);
#define GET_PRIV(src) gst_mesh_adaptive_src_get_private \
    (GST_MESH_ADAPTIVE_SRC (src))

/* The fetcher (a ref), NULL outside READY..PLAYING. Any thread. */
MeshFetcher *gst_mesh_adaptive_src_get_fetcher (GstMeshAdaptiveSrc * src);

/* Translates a fetch failure into the element error that names it. */
void gst_mesh_adaptive_src_post_fetch_error (GstMeshAdaptiveSrc * src,
    const gchar * what, GError * err);

GstClockTime gst_mesh_adaptive_src_get_max_buffering_time (GstMeshAdaptiveSrc *
    src);

/* The ABR settings of the properties, as one snapshot. */
void gst_mesh_adaptive_src_get_abr_limits (GstMeshAdaptiveSrc * src,
    MeshAbrLimits * limits);

/* The mesh-stats of the end (the last stream's EOS, or stopping), when
 * stats-interval is not 0. Not under any lock of the element. */
void gst_mesh_adaptive_src_post_final_stats (GstMeshAdaptiveSrc * src);

/* A buffer of @stream is about to go out, @lateness after the pipeline
 * clock reached its running time + latency (0 when early; NONE when that
 * cannot be told: not PLAYING, or no timestamp): the startup and stall
 * figures of the qos reports. Stream thread, no lock held. */
void gst_mesh_adaptive_src_note_output (GstMeshAdaptiveSrc * src,
    GstMeshStream * stream, GstClockTime lateness);

/* `current-bandwidth`: what the main stream measured. */
void gst_mesh_adaptive_src_set_current_bandwidth (GstMeshAdaptiveSrc * src,
    guint64 bandwidth);

/* gstmeshadaptivesrc-stream.c: the streams, for the element */

/* A stream of @src around @pad (a ref is taken) and @gst_stream (taken). */
GstMeshStream *gst_mesh_stream_new (GstMeshAdaptiveSrc * src, guint index,
    GstPad * pad, GstStream * gst_stream, gpointer data,
    GDestroyNotify destroy);
void gst_mesh_stream_free (GstMeshStream * stream);

/* Wakes the stream thread from any wait (fetch, throttle, live reload) with
 * the order to stop, or lets it run again. Any thread. */
void gst_mesh_stream_set_flushing (GstMeshStream * stream, gboolean flushing);

/* TRUE on the thread of a stream's task, inside its loop (also while it
 * pushes downstream). */
gboolean gst_mesh_stream_thread_is_current (void);

/* (Re)starts the pad task. Application or manifest thread. */
void gst_mesh_stream_start_task (GstMeshStream * stream);

/* Forgets every download started ahead (flush, seek, stop). The stream
 * thread, or any thread while it is stopped. */
void gst_mesh_stream_clear_queue (GstMeshStream * stream);

/* After a flushing seek to @start: a new segment with @seqnum, DISCONT and
 * the init section again. While the stream thread is stopped. */
void gst_mesh_stream_prepare_restart (GstMeshStream * stream,
    GstClockTime start, guint32 seqnum);

G_END_DECLS
