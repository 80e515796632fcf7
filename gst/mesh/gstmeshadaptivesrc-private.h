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
 * - the system clock thread posts the periodic mesh-stats message;
 * - the MeshFetcher's own thread does the network I/O (see mesh-fetcher.c).
 *
 * - GST_OBJECT_LOCK guards the properties and priv->fetcher;
 * - priv->lock guards the stream list, each stream's `flushing` flag and
 *   `cancellable`, the key cache, the writes of the figures the stats read
 *   (`queued_duration`, `current_representation`), and is the mutex of
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
  /* written by the stream thread under priv->lock, read by the stats */
  GstClockTime queued_duration; /* media held: queued + pushing */
  gint64 next_update;           /* monotonic µs of the next live reload */
  MeshBandwidthEstimator bandwidth;
  MeshAbrCandidate *representations;
  guint n_representations;
  gint current_representation;  /* these three written under priv->lock */
  gboolean not_linked;

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
  gchar *swarm_id;
  gchar *stun_server;
  gchar *turn_server;
  guint max_peers;
  gboolean upload;
  guint64 max_upload_rate;
  guint64 cache_size;
  gchar *local_address;
  /* what the manifest says, set by the subclass */
  gboolean live;
  GstClockTime duration;

  /* GST_OBJECT_LOCK: the fetcher exists from READY to NULL; the counters keep
   * its last figures once it is gone */
  MeshFetcher *fetcher;
  guint64 last_bytes_from_cdn, last_bytes_from_peers, last_bytes_uploaded;

  GstTask *manifest_task;
  GRecMutex manifest_task_lock;
  GCancellable *manifest_cancellable;

  /* priv->lock (see the top of the file) */
  GMutex lock;
  GCond cond;
  GPtrArray *streams;
  GHashTable *keys;             /* URL -> GBytes */
  gboolean stopping;

  /* priv->seek_lock */
  GMutex seek_lock;
  gboolean exposed;
  guint group_id;
  GstStreamCollection *collection;
  GstClockID stats_id;
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
