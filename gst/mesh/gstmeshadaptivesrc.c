/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GstMeshAdaptiveSrc, the element: properties, state changes, seeking and
 * queries, the manifest task, statistics and the URI handler. The streams
 * (their tasks, downloads, buffering, push and ABR) are in
 * gstmeshadaptivesrc-stream.c; what both share is in
 * gstmeshadaptivesrc-private.h, which also says which thread owns what and
 * what each lock guards.
 *
 * Threads here: the application thread sets properties, changes state and
 * seeks (under priv->seek_lock); the manifest task builds and exposes the
 * streams; the system clock thread posts mesh-stats; the fetcher thread
 * calls back with peer events.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmeshadaptivesrc-private.h"

GST_DEBUG_CATEGORY (gst_mesh_adaptive_src_debug);
#define GST_CAT_DEFAULT gst_mesh_adaptive_src_debug

#define MAX_MANIFEST_SIZE (16 * 1024 * 1024)

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_CONNECTION_SPEED,
  PROP_BANDWIDTH_TARGET_RATIO,
  PROP_MIN_BITRATE,
  PROP_MAX_BITRATE,
  PROP_START_BITRATE,
  PROP_MAX_VIDEO_WIDTH,
  PROP_MAX_VIDEO_HEIGHT,
  PROP_MAX_BUFFERING_TIME,
  PROP_LIVE_DELAY,
  PROP_CURRENT_BANDWIDTH,
  PROP_RETRIES,
  PROP_TIMEOUT,
  PROP_USER_AGENT,
  PROP_EXTRA_HEADERS,
  PROP_BYTES_FROM_CDN,
  PROP_BYTES_FROM_PEERS,
  PROP_P2P_RATIO,
  PROP_STATS_INTERVAL,
  PROP_TRACKER,
  PROP_SWARM_ID,
  PROP_STUN_SERVER,
  PROP_TURN_SERVER,
  PROP_MAX_PEERS,
  PROP_UPLOAD,
  PROP_MAX_UPLOAD_RATE,
  PROP_CACHE_SIZE,
  PROP_LOCAL_ADDRESS,
  PROP_BYTES_UPLOADED,
  PROP_PEERS,
};

#define DEFAULT_CONNECTION_SPEED 0
#define DEFAULT_BANDWIDTH_TARGET_RATIO 0.8
#define DEFAULT_MIN_BITRATE 0
#define DEFAULT_MAX_BITRATE 0
#define DEFAULT_START_BITRATE 0
#define DEFAULT_MAX_VIDEO_WIDTH 0
#define DEFAULT_MAX_VIDEO_HEIGHT 0
#define DEFAULT_MAX_BUFFERING_TIME (30 * GST_SECOND)
#define DEFAULT_LIVE_DELAY (-1)
#define DEFAULT_RETRIES 3
#define DEFAULT_TIMEOUT 15
#define DEFAULT_USER_AGENT "gst-mesh/" VERSION " GStreamer"
#define DEFAULT_STATS_INTERVAL 1000
#define DEFAULT_MAX_PEERS 10
#define DEFAULT_UPLOAD TRUE
#define DEFAULT_MAX_UPLOAD_RATE 0
#define DEFAULT_CACHE_SIZE (64 * 1024 * 1024)

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (GstMeshAdaptiveSrc, gst_mesh_adaptive_src,
    GST_TYPE_ELEMENT, G_ADD_PRIVATE (GstMeshAdaptiveSrc);
    GST_DEBUG_CATEGORY_INIT (gst_mesh_adaptive_src_debug, "meshadaptivesrc", 0,
        "gst-mesh adaptive source base class"));

GstMeshAdaptiveSrcPrivate *
gst_mesh_adaptive_src_get_private (GstMeshAdaptiveSrc * src)
{
  return gst_mesh_adaptive_src_get_instance_private (src);
}

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src_%u",
    GST_PAD_SRC,
    GST_PAD_SOMETIMES,
    GST_STATIC_CAPS_ANY);


/* ------------------------------------------------------------------------ */
/* Properties and counters */

MeshFetcher *
gst_mesh_adaptive_src_get_fetcher (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  MeshFetcher *fetcher;

  GST_OBJECT_LOCK (src);
  fetcher = priv->fetcher ? g_object_ref (priv->fetcher) : NULL;
  GST_OBJECT_UNLOCK (src);
  return fetcher;
}

typedef struct
{
  guint64 from_cdn;
  guint64 from_peers;
  guint64 uploaded;
  guint peers;
} Counters;

static void
get_counters (GstMeshAdaptiveSrc * src, Counters * counters)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  GST_OBJECT_LOCK (src);
  if (priv->fetcher) {
    counters->from_cdn = mesh_fetcher_get_bytes_from_cdn (priv->fetcher);
    counters->from_peers = mesh_fetcher_get_bytes_from_peers (priv->fetcher);
    counters->uploaded = mesh_fetcher_get_bytes_uploaded (priv->fetcher);
    counters->peers = mesh_fetcher_get_n_peers (priv->fetcher);
  } else {
    counters->from_cdn = priv->last_bytes_from_cdn;
    counters->from_peers = priv->last_bytes_from_peers;
    counters->uploaded = priv->last_bytes_uploaded;
    counters->peers = 0;
  }
  GST_OBJECT_UNLOCK (src);
}

static gdouble
p2p_ratio (guint64 from_cdn, guint64 from_peers)
{
  if (from_cdn + from_peers == 0)
    return 0.0;
  return (gdouble) from_peers / (gdouble) (from_cdn + from_peers);
}

/* Called with the object lock held. */
static void
configure_fetcher_locked (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  if (!priv->fetcher)
    return;
  g_object_set (priv->fetcher, "user-agent", priv->user_agent,
      "timeout", priv->timeout, "retries", priv->retries,
      "extra-headers", priv->extra_headers, NULL);
}

static void
gst_mesh_adaptive_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMeshAdaptiveSrc *src = GST_MESH_ADAPTIVE_SRC (object);
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_LOCATION:
      g_free (priv->location);
      priv->location = g_value_dup_string (value);
      break;
    case PROP_CONNECTION_SPEED:
      priv->connection_speed = g_value_get_uint (value);
      break;
    case PROP_BANDWIDTH_TARGET_RATIO:
      priv->bandwidth_target_ratio = g_value_get_float (value);
      break;
    case PROP_MIN_BITRATE:
      priv->min_bitrate = g_value_get_uint (value);
      break;
    case PROP_MAX_BITRATE:
      priv->max_bitrate = g_value_get_uint (value);
      break;
    case PROP_START_BITRATE:
      priv->start_bitrate = g_value_get_uint (value);
      break;
    case PROP_MAX_VIDEO_WIDTH:
      priv->max_video_width = g_value_get_uint (value);
      break;
    case PROP_MAX_VIDEO_HEIGHT:
      priv->max_video_height = g_value_get_uint (value);
      break;
    case PROP_MAX_BUFFERING_TIME:
      priv->max_buffering_time = g_value_get_uint64 (value);
      break;
    case PROP_LIVE_DELAY:
      priv->live_delay = g_value_get_int64 (value);
      break;
    case PROP_RETRIES:
      priv->retries = g_value_get_int (value);
      configure_fetcher_locked (src);
      break;
    case PROP_TIMEOUT:
      priv->timeout = g_value_get_uint (value);
      configure_fetcher_locked (src);
      break;
    case PROP_USER_AGENT:
      g_free (priv->user_agent);
      priv->user_agent = g_value_dup_string (value);
      configure_fetcher_locked (src);
      break;
    case PROP_EXTRA_HEADERS:
      g_clear_pointer (&priv->extra_headers, gst_structure_free);
      if (gst_value_get_structure (value))
        priv->extra_headers = gst_structure_copy (gst_value_get_structure
            (value));
      configure_fetcher_locked (src);
      break;
    case PROP_STATS_INTERVAL:
      priv->stats_interval = g_value_get_uint (value);
      break;
    case PROP_TRACKER:
      g_free (priv->tracker);
      priv->tracker = g_value_dup_string (value);
      break;
    case PROP_SWARM_ID:
      g_free (priv->swarm_id);
      priv->swarm_id = g_value_dup_string (value);
      break;
    case PROP_STUN_SERVER:
      g_free (priv->stun_server);
      priv->stun_server = g_value_dup_string (value);
      break;
    case PROP_TURN_SERVER:
      g_free (priv->turn_server);
      priv->turn_server = g_value_dup_string (value);
      break;
    case PROP_MAX_PEERS:
      priv->max_peers = g_value_get_uint (value);
      break;
    case PROP_UPLOAD:
      priv->upload = g_value_get_boolean (value);
      break;
    case PROP_MAX_UPLOAD_RATE:
      priv->max_upload_rate = g_value_get_uint64 (value);
      break;
    case PROP_CACHE_SIZE:
      priv->cache_size = g_value_get_uint64 (value);
      break;
    case PROP_LOCAL_ADDRESS:
      g_free (priv->local_address);
      priv->local_address = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (src);
}

static void
gst_mesh_adaptive_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMeshAdaptiveSrc *src = GST_MESH_ADAPTIVE_SRC (object);
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  Counters counters;

  switch (prop_id) {
    case PROP_BYTES_FROM_CDN:
      get_counters (src, &counters);
      g_value_set_uint64 (value, counters.from_cdn);
      return;
    case PROP_BYTES_FROM_PEERS:
      get_counters (src, &counters);
      g_value_set_uint64 (value, counters.from_peers);
      return;
    case PROP_P2P_RATIO:
      get_counters (src, &counters);
      g_value_set_double (value, p2p_ratio (counters.from_cdn,
              counters.from_peers));
      return;
    case PROP_BYTES_UPLOADED:
      get_counters (src, &counters);
      g_value_set_uint64 (value, counters.uploaded);
      return;
    case PROP_PEERS:
      get_counters (src, &counters);
      g_value_set_uint (value, counters.peers);
      return;
    default:
      break;
  }

  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, priv->location);
      break;
    case PROP_CONNECTION_SPEED:
      g_value_set_uint (value, priv->connection_speed);
      break;
    case PROP_BANDWIDTH_TARGET_RATIO:
      g_value_set_float (value, priv->bandwidth_target_ratio);
      break;
    case PROP_MIN_BITRATE:
      g_value_set_uint (value, priv->min_bitrate);
      break;
    case PROP_MAX_BITRATE:
      g_value_set_uint (value, priv->max_bitrate);
      break;
    case PROP_START_BITRATE:
      g_value_set_uint (value, priv->start_bitrate);
      break;
    case PROP_MAX_VIDEO_WIDTH:
      g_value_set_uint (value, priv->max_video_width);
      break;
    case PROP_MAX_VIDEO_HEIGHT:
      g_value_set_uint (value, priv->max_video_height);
      break;
    case PROP_MAX_BUFFERING_TIME:
      g_value_set_uint64 (value, priv->max_buffering_time);
      break;
    case PROP_LIVE_DELAY:
      g_value_set_int64 (value, priv->live_delay);
      break;
    case PROP_CURRENT_BANDWIDTH:
      g_value_set_uint (value, priv->current_bandwidth);
      break;
    case PROP_RETRIES:
      g_value_set_int (value, priv->retries);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, priv->timeout);
      break;
    case PROP_USER_AGENT:
      g_value_set_string (value, priv->user_agent);
      break;
    case PROP_EXTRA_HEADERS:
      gst_value_set_structure (value, priv->extra_headers);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint (value, priv->stats_interval);
      break;
    case PROP_TRACKER:
      g_value_set_string (value, priv->tracker);
      break;
    case PROP_SWARM_ID:
      g_value_set_string (value, priv->swarm_id);
      break;
    case PROP_STUN_SERVER:
      g_value_set_string (value, priv->stun_server);
      break;
    case PROP_TURN_SERVER:
      g_value_set_string (value, priv->turn_server);
      break;
    case PROP_MAX_PEERS:
      g_value_set_uint (value, priv->max_peers);
      break;
    case PROP_UPLOAD:
      g_value_set_boolean (value, priv->upload);
      break;
    case PROP_MAX_UPLOAD_RATE:
      g_value_set_uint64 (value, priv->max_upload_rate);
      break;
    case PROP_CACHE_SIZE:
      g_value_set_uint64 (value, priv->cache_size);
      break;
    case PROP_LOCAL_ADDRESS:
      g_value_set_string (value, priv->local_address);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (src);
}

gchar *
gst_mesh_adaptive_src_dup_location (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  gchar *location;

  GST_OBJECT_LOCK (src);
  location = g_strdup (priv->location);
  GST_OBJECT_UNLOCK (src);
  return location;
}

static gboolean
set_uri (GstMeshAdaptiveSrc * src, const gchar * uri,
    const gchar * scheme_prefix, GError ** error)
{
  const gchar *url;
  GstState state;

  GST_OBJECT_LOCK (src);
  state = GST_STATE (src);
  GST_OBJECT_UNLOCK (src);
  if (state != GST_STATE_NULL && state != GST_STATE_READY) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
        "Changing the URI is only allowed in NULL or READY state");
    return FALSE;
  }

  if (!g_str_has_prefix (uri, scheme_prefix)) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_UNSUPPORTED_PROTOCOL,
        "URI '%s' does not start with '%s'", uri, scheme_prefix);
    return FALSE;
  }
  url = uri + strlen (scheme_prefix);
  if (!g_str_has_prefix (url, "http://") && !g_str_has_prefix (url, "https://")) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_UNSUPPORTED_PROTOCOL,
        "URI '%s' is not %shttp:// or %shttps://", uri, scheme_prefix,
        scheme_prefix);
    return FALSE;
  }
  if (!g_uri_is_valid (url, G_URI_FLAGS_NONE, NULL)) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "URI '%s' is not valid", uri);
    return FALSE;
  }
  g_object_set (src, "location", url, NULL);
  return TRUE;
}

static GstURIType
uri_get_type (GType type)
{
  return GST_URI_SRC;
}

static const gchar *const *
uri_get_protocols (GType type)
{
  GstMeshAdaptiveSrcClass *klass = g_type_class_ref (type);
  const gchar *const *protocols = klass->uri_protocols;

  /* registered types and their classes live as long as the process */
  g_type_class_unref (klass);
  return protocols;
}

static gchar *
uri_get_uri (GstURIHandler * handler)
{
  GstMeshAdaptiveSrcClass *klass = GST_MESH_ADAPTIVE_SRC_GET_CLASS (handler);
  g_autofree gchar *location =
      gst_mesh_adaptive_src_dup_location (GST_MESH_ADAPTIVE_SRC (handler));

  return location ? g_strconcat (klass->uri_prefix, location, NULL) : NULL;
}

static gboolean
uri_set_uri (GstURIHandler * handler, const gchar * uri, GError ** error)
{
  GstMeshAdaptiveSrcClass *klass = GST_MESH_ADAPTIVE_SRC_GET_CLASS (handler);

  return set_uri (GST_MESH_ADAPTIVE_SRC (handler), uri, klass->uri_prefix,
      error);
}

void
gst_mesh_adaptive_src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = (GstURIHandlerInterface *) g_iface;

  iface->get_type = uri_get_type;
  iface->get_protocols = uri_get_protocols;
  iface->get_uri = uri_get_uri;
  iface->set_uri = uri_set_uri;
}

/* ------------------------------------------------------------------------ */
/* Fetching */

GBytes *
gst_mesh_adaptive_src_fetch_manifest (GstMeshAdaptiveSrc * src,
    const gchar * url, gchar ** final_url, GCancellable * cancellable,
    GError ** error)
{
  g_autoptr (MeshFetcher) fetcher = gst_mesh_adaptive_src_get_fetcher (src);
  g_autoptr (MeshFetchJob) job = NULL;
  MeshFetchRequest request = { url, 0, -1, MESH_FETCH_KIND_PLAYLIST, 0, NULL };
  GBytes *bytes;

  if (!fetcher) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "element stopped");
    return NULL;
  }
  job = mesh_fetcher_fetch (fetcher, &request);
  bytes = mesh_fetch_job_read_all (job, cancellable, MAX_MANIFEST_SIZE, error);
  if (bytes && final_url)
    *final_url = mesh_fetch_job_dup_final_url (job);
  return bytes;
}

GBytes *
gst_mesh_adaptive_src_fetch_range (GstMeshAdaptiveSrc * src,
    const gchar * url, gint64 offset, gint64 size, GCancellable * cancellable,
    GError ** error)
{
  g_autoptr (MeshFetcher) fetcher = gst_mesh_adaptive_src_get_fetcher (src);
  g_autoptr (MeshFetchJob) job = NULL;
  MeshFetchRequest request = { url, offset, size, MESH_FETCH_KIND_PLAYLIST, 0,
    NULL
  };

  if (!fetcher) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "element stopped");
    return NULL;
  }
  job = mesh_fetcher_fetch (fetcher, &request);
  return mesh_fetch_job_read_all (job, cancellable, MAX_MANIFEST_SIZE, error);
}

void
gst_mesh_adaptive_src_get_abr_limits (GstMeshAdaptiveSrc * src,
    MeshAbrLimits * limits)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  GST_OBJECT_LOCK (src);
  limits->connection_speed = (guint64) priv->connection_speed * 1000;
  limits->target_ratio = priv->bandwidth_target_ratio;
  limits->min_bitrate = priv->min_bitrate;
  limits->max_bitrate = priv->max_bitrate;
  limits->max_width = priv->max_video_width;
  limits->max_height = priv->max_video_height;
  GST_OBJECT_UNLOCK (src);
}

void
gst_mesh_adaptive_src_set_current_bandwidth (GstMeshAdaptiveSrc * src,
    guint64 bandwidth)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  GST_OBJECT_LOCK (src);
  priv->current_bandwidth = MIN (bandwidth, G_MAXUINT);
  GST_OBJECT_UNLOCK (src);
}

GstClockTime
gst_mesh_adaptive_src_get_max_buffering_time (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  GstClockTime max;

  GST_OBJECT_LOCK (src);
  max = priv->max_buffering_time;
  GST_OBJECT_UNLOCK (src);
  return max;
}

gint
gst_mesh_adaptive_src_choose_initial (GstMeshAdaptiveSrc * src,
    const MeshAbrCandidate * candidates, guint n_candidates)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  MeshAbrLimits limits;
  guint64 start_bitrate;

  gst_mesh_adaptive_src_get_abr_limits (src, &limits);
  GST_OBJECT_LOCK (src);
  start_bitrate = priv->start_bitrate;
  GST_OBJECT_UNLOCK (src);

  return mesh_abr_choose (candidates, n_candidates, &limits, 0, start_bitrate);
}

GstClockTime
gst_mesh_adaptive_src_get_live_delay (GstMeshAdaptiveSrc * src,
    GstClockTime default_delay)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  gint64 delay;

  GST_OBJECT_LOCK (src);
  delay = priv->live_delay;
  GST_OBJECT_UNLOCK (src);
  return delay >= 0 ? (GstClockTime) delay : default_delay;
}

void
gst_mesh_adaptive_src_post_fetch_error (GstMeshAdaptiveSrc * src,
    const gchar * what, GError * err)
{
  if (g_error_matches (err, MESH_FETCH_ERROR, MESH_FETCH_ERROR_HTTP_CLIENT)
      && (strstr (err->message, " 401 ") || strstr (err->message, " 403 "))) {
    GST_ELEMENT_ERROR (src, RESOURCE, NOT_AUTHORIZED, ("%s", err->message),
        ("while fetching %s", what));
  } else if (g_error_matches (err, MESH_FETCH_ERROR,
          MESH_FETCH_ERROR_HTTP_CLIENT)) {
    GST_ELEMENT_ERROR (src, RESOURCE, NOT_FOUND, ("%s", err->message),
        ("while fetching %s", what));
  } else if (err->domain == MESH_FETCH_ERROR) {
    GST_ELEMENT_ERROR (src, RESOURCE, READ, ("%s", err->message),
        ("while fetching %s", what));
  } else {
    GST_ELEMENT_ERROR (src, STREAM, DEMUX, ("%s", err->message),
        ("while processing %s", what));
  }
}

/* ------------------------------------------------------------------------ */
/* Streams: stopping and starting */

/* Stops every stream thread; they can be started again after a seek. */
static void
stop_stream_tasks (GstMeshAdaptiveSrc * src, gboolean pause)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  g_autoptr (GPtrArray) streams = NULL;
  guint i;

  g_mutex_lock (&priv->lock);
  streams = g_ptr_array_copy (priv->streams, NULL, NULL);
  g_mutex_unlock (&priv->lock);

  for (i = 0; i < streams->len; i++)
    gst_mesh_stream_set_flushing (g_ptr_array_index (streams, i), TRUE);
  for (i = 0; i < streams->len; i++) {
    GstMeshStream *stream = g_ptr_array_index (streams, i);

    if (pause)
      gst_pad_pause_task (stream->pad);
    else
      gst_pad_stop_task (stream->pad);
  }
}


/* ------------------------------------------------------------------------ */
/* Seeking and queries */

void
gst_mesh_adaptive_src_set_presentation (GstMeshAdaptiveSrc * src,
    gboolean live, GstClockTime duration)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  GST_OBJECT_LOCK (src);
  priv->live = live;
  priv->duration = live ? GST_CLOCK_TIME_NONE : duration;
  GST_OBJECT_UNLOCK (src);
}

gboolean
gst_mesh_adaptive_src_is_live (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  gboolean live;

  GST_OBJECT_LOCK (src);
  live = priv->live;
  GST_OBJECT_UNLOCK (src);
  return live;
}

GstClockTime
gst_mesh_adaptive_src_get_duration (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  GstClockTime duration;

  GST_OBJECT_LOCK (src);
  duration = priv->duration;
  GST_OBJECT_UNLOCK (src);
  return duration;
}

/* Called with the seek lock held. */
static gboolean
streams_are_running (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  gboolean running;

  g_mutex_lock (&priv->lock);
  running = priv->exposed && !priv->stopping;
  g_mutex_unlock (&priv->lock);
  return running;
}

static void
push_event_to_all (GstMeshAdaptiveSrc * src, GstEvent * event)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  guint i;

  for (i = 0; i < priv->streams->len; i++) {
    GstMeshStream *stream = g_ptr_array_index (priv->streams, i);
    gst_pad_push_event (stream->pad, gst_event_ref (event));
  }
  gst_event_unref (event);
}

static gboolean
gst_mesh_adaptive_src_do_seek (GstMeshAdaptiveSrc * src, GstEvent * event)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  GstMeshAdaptiveSrcClass *klass = GST_MESH_ADAPTIVE_SRC_GET_CLASS (src);
  gdouble rate;
  GstFormat format;
  GstSeekFlags flags;
  GstSeekType start_type, stop_type;
  gint64 start, stop;
  guint32 seqnum = gst_event_get_seqnum (event);
  GstClockTime actual;
  GstEvent *flush_stop;
  guint i;

  gst_event_parse_seek (event, &rate, &format, &flags, &start_type, &start,
      &stop_type, &stop);
  if (format != GST_FORMAT_TIME || rate != 1.0
      || start_type != GST_SEEK_TYPE_SET || start < 0
      || !(flags & GST_SEEK_FLAG_FLUSH)) {
    GST_WARNING_OBJECT (src, "only flushing TIME seeks at rate 1.0 to an "
        "absolute position are supported");
    return FALSE;
  }
  if (gst_mesh_adaptive_src_is_live (src) || !klass->seek) {
    GST_WARNING_OBJECT (src, "cannot seek in a live stream");
    return FALSE;
  }

  g_mutex_lock (&priv->seek_lock);
  if (!streams_are_running (src)) {
    g_mutex_unlock (&priv->seek_lock);
    return FALSE;
  }
  GST_INFO_OBJECT (src, "seeking to %" GST_TIME_FORMAT, GST_TIME_ARGS (start));

  {
    GstEvent *flush_start = gst_event_new_flush_start ();
    gst_event_set_seqnum (flush_start, seqnum);
    push_event_to_all (src, flush_start);
  }
  stop_stream_tasks (src, TRUE);
  for (i = 0; i < priv->streams->len; i++)
    gst_mesh_stream_clear_queue (g_ptr_array_index (priv->streams, i));

  actual = klass->seek (src, start);
  GST_DEBUG_OBJECT (src, "streams restart at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (actual));

  flush_stop = gst_event_new_flush_stop (TRUE);
  gst_event_set_seqnum (flush_stop, seqnum);
  push_event_to_all (src, flush_stop);

  for (i = 0; i < priv->streams->len; i++) {
    GstMeshStream *stream = g_ptr_array_index (priv->streams, i);

    gst_mesh_stream_prepare_restart (stream, start, seqnum);
    gst_mesh_stream_start_task (stream);
  }
  g_mutex_unlock (&priv->seek_lock);
  return TRUE;
}

static gboolean
gst_mesh_adaptive_src_src_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstMeshAdaptiveSrc *src = GST_MESH_ADAPTIVE_SRC (parent);
  gboolean ret;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_SEEK:
      ret = gst_mesh_adaptive_src_do_seek (src, event);
      gst_event_unref (event);
      return ret;
    case GST_EVENT_RECONFIGURE:
    case GST_EVENT_QOS:
    case GST_EVENT_NAVIGATION:
      gst_event_unref (event);
      return TRUE;
    default:
      return gst_pad_event_default (pad, parent, event);
  }
}

static gboolean
gst_mesh_adaptive_src_src_query (GstPad * pad, GstObject * parent,
    GstQuery * query)
{
  GstMeshAdaptiveSrc *src = GST_MESH_ADAPTIVE_SRC (parent);
  GstMeshAdaptiveSrcClass *klass = GST_MESH_ADAPTIVE_SRC_GET_CLASS (src);
  GstFormat format;

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_DURATION:{
      GstClockTime duration;

      gst_query_parse_duration (query, &format, NULL);
      if (format != GST_FORMAT_TIME)
        return FALSE;
      duration = gst_mesh_adaptive_src_get_duration (src);
      if (!GST_CLOCK_TIME_IS_VALID (duration))
        return FALSE;
      gst_query_set_duration (query, GST_FORMAT_TIME, duration);
      return TRUE;
    }
    case GST_QUERY_SEEKING:{
      gboolean seekable;

      gst_query_parse_seeking (query, &format, NULL, NULL, NULL);
      if (format != GST_FORMAT_TIME)
        return FALSE;
      seekable = !gst_mesh_adaptive_src_is_live (src) && klass->seek;
      gst_query_set_seeking (query, GST_FORMAT_TIME, seekable, 0,
          seekable
          && GST_CLOCK_TIME_IS_VALID (gst_mesh_adaptive_src_get_duration (src))
          ? (gint64) gst_mesh_adaptive_src_get_duration (src) : -1);
      return TRUE;
    }
    case GST_QUERY_URI:{
      g_autofree gchar *location = gst_mesh_adaptive_src_dup_location (src);

      if (!location)
        return FALSE;
      gst_query_set_uri (query, location);
      return TRUE;
    }
    case GST_QUERY_LATENCY:
      /* we push as fast as downstream takes it: not a live source */
      gst_query_set_latency (query, FALSE, 0, GST_CLOCK_TIME_NONE);
      return TRUE;
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

/* ------------------------------------------------------------------------ */
/* Streams and pads */

GstMeshStream *
gst_mesh_adaptive_src_add_stream (GstMeshAdaptiveSrc * src,
    GstStreamType type, const gchar * name, gpointer data,
    GDestroyNotify destroy)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  GstMeshStream *stream;
  GstStream *gst_stream;
  GstPad *pad;
  g_autofree gchar *pad_name = NULL;
  g_autofree gchar *stream_id = NULL;
  guint index;

  g_mutex_lock (&priv->lock);
  index = priv->streams->len;
  g_mutex_unlock (&priv->lock);

  pad_name = g_strdup_printf ("src_%u", index);
  pad = gst_pad_new_from_static_template (&src_template, pad_name);
  gst_object_ref_sink (pad);
  gst_pad_set_event_function (pad, gst_mesh_adaptive_src_src_event);
  gst_pad_set_query_function (pad, gst_mesh_adaptive_src_src_query);
  gst_pad_use_fixed_caps (pad);

  stream_id = gst_pad_create_stream_id (pad, GST_ELEMENT (src), name);
  gst_stream = gst_stream_new (stream_id, NULL, type, GST_STREAM_FLAG_SELECT);
  gst_object_ref_sink (gst_stream);

  stream = gst_mesh_stream_new (src, index, pad, gst_stream, data, destroy);
  gst_pad_set_element_private (pad, stream);
  gst_object_unref (pad);

  g_mutex_lock (&priv->lock);
  g_ptr_array_add (priv->streams, stream);
  g_mutex_unlock (&priv->lock);
  return stream;
}

static void
expose_streams (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  guint i;

  priv->exposed = TRUE;
  priv->group_id = gst_util_group_id_next ();
  priv->collection = gst_stream_collection_new (NULL);
  for (i = 0; i < priv->streams->len; i++) {
    GstMeshStream *stream = g_ptr_array_index (priv->streams, i);
    gst_stream_collection_add_stream (priv->collection,
        gst_object_ref (stream->gst_stream));
  }

  for (i = 0; i < priv->streams->len; i++) {
    GstMeshStream *stream = g_ptr_array_index (priv->streams, i);

    gst_pad_set_active (stream->pad, TRUE);
    gst_element_add_pad (GST_ELEMENT (src), gst_object_ref (stream->pad));
  }
  gst_element_post_message (GST_ELEMENT (src),
      gst_message_new_stream_collection (GST_OBJECT (src), priv->collection));
  gst_element_no_more_pads (GST_ELEMENT (src));

  for (i = 0; i < priv->streams->len; i++)
    gst_mesh_stream_start_task (g_ptr_array_index (priv->streams, i));
}

static void
remove_streams (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  GstMeshAdaptiveSrcClass *klass = GST_MESH_ADAPTIVE_SRC_GET_CLASS (src);
  g_autoptr (GPtrArray) streams = NULL;
  guint i;

  g_mutex_lock (&priv->lock);
  streams = g_steal_pointer (&priv->streams);
  priv->streams = g_ptr_array_new ();
  g_hash_table_remove_all (priv->keys);
  g_mutex_unlock (&priv->lock);

  for (i = 0; i < streams->len; i++) {
    GstMeshStream *stream = g_ptr_array_index (streams, i);

    gst_pad_set_active (stream->pad, FALSE);
    if (GST_OBJECT_PARENT (stream->pad) == GST_OBJECT (src))
      gst_element_remove_pad (GST_ELEMENT (src), stream->pad);
    gst_mesh_stream_free (stream);
  }
  if (klass->reset)
    klass->reset (src);
  gst_mesh_adaptive_src_set_presentation (src, FALSE, GST_CLOCK_TIME_NONE);
  gst_clear_object (&priv->collection);
}

/* ------------------------------------------------------------------------ */
/* The manifest task */

static void
manifest_task_func (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  GstMeshAdaptiveSrcClass *klass = GST_MESH_ADAPTIVE_SRC_GET_CLASS (src);
  g_autofree gchar *location = gst_mesh_adaptive_src_dup_location (src);
  g_autofree gchar *final_url = NULL;
  g_autoptr (GBytes) manifest = NULL;
  g_autoptr (GError) error = NULL;

  gst_task_stop (priv->manifest_task);

  if (!location) {
    GST_ELEMENT_ERROR (src, RESOURCE, NOT_FOUND, ("No location set"), (NULL));
    return;
  }
  manifest = gst_mesh_adaptive_src_fetch_manifest (src, location, &final_url,
      priv->manifest_cancellable, &error);
  if (!manifest) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      gst_mesh_adaptive_src_post_fetch_error (src, "the manifest", error);
    return;
  }
  if (!klass->load_manifest (src, manifest, final_url,
          priv->manifest_cancellable, &error)) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      return;
    if (error->domain == MESH_FETCH_ERROR)
      gst_mesh_adaptive_src_post_fetch_error (src, "a media playlist", error);
    else
      GST_ELEMENT_ERROR (src, STREAM, DEMUX, ("%s", error->message),
          ("invalid manifest %s", final_url));
    return;
  }

  g_mutex_lock (&priv->seek_lock);
  if (!g_cancellable_is_cancelled (priv->manifest_cancellable))
    expose_streams (src);
  g_mutex_unlock (&priv->seek_lock);
}

/* ------------------------------------------------------------------------ */
/* Statistics */

static gboolean
post_stats (GstClock * clock, GstClockTime time, GstClockID id,
    gpointer user_data)
{
  GstMeshAdaptiveSrc *src = GST_MESH_ADAPTIVE_SRC (user_data);
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  Counters counters;
  guint bandwidth, bitrate = 0;
  GstClockTime level = GST_CLOCK_TIME_NONE;
  guint i;

  get_counters (src, &counters);
  GST_OBJECT_LOCK (src);
  bandwidth = priv->current_bandwidth;
  GST_OBJECT_UNLOCK (src);

  g_mutex_lock (&priv->lock);
  for (i = 0; i < priv->streams->len; i++) {
    GstMeshStream *stream = g_ptr_array_index (priv->streams, i);
    GstClockTime stream_level = stream->queued_duration;

    if (stream->n_representations > 0 && bitrate == 0)
      bitrate = stream->representations[stream->current_representation]
          .bandwidth;
    level = GST_CLOCK_TIME_IS_VALID (level) ? MIN (level, stream_level)
        : stream_level;
  }
  g_mutex_unlock (&priv->lock);

  gst_element_post_message (GST_ELEMENT (src),
      gst_message_new_element (GST_OBJECT (src),
          gst_structure_new ("mesh-stats",
              "bytes-from-cdn", G_TYPE_UINT64, counters.from_cdn,
              "bytes-from-peers", G_TYPE_UINT64, counters.from_peers,
              "bytes-uploaded", G_TYPE_UINT64, counters.uploaded,
              "p2p-ratio", G_TYPE_DOUBLE, p2p_ratio (counters.from_cdn,
                  counters.from_peers),
              "peers", G_TYPE_UINT, counters.peers,
              "current-bandwidth", G_TYPE_UINT, bandwidth,
              "current-bitrate", G_TYPE_UINT, bitrate,
              "buffer-level", G_TYPE_UINT64, (guint64) (GST_CLOCK_TIME_IS_VALID
                  (level) ? level : 0), NULL)));
  return TRUE;
}

static void
start_stats (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  GstClock *clock;
  guint interval;

  GST_OBJECT_LOCK (src);
  interval = priv->stats_interval;
  GST_OBJECT_UNLOCK (src);
  if (interval == 0)
    return;

  clock = gst_system_clock_obtain ();
  priv->stats_id = gst_clock_new_periodic_id (clock,
      gst_clock_get_time (clock) + interval * GST_MSECOND,
      interval * GST_MSECOND);
  gst_clock_id_wait_async (priv->stats_id, post_stats, gst_object_ref (src),
      gst_object_unref);
  gst_object_unref (clock);
}

static void
stop_stats (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  if (!priv->stats_id)
    return;
  gst_clock_id_unschedule (priv->stats_id);
  gst_clock_id_unref (priv->stats_id);
  priv->stats_id = NULL;
}

/* ------------------------------------------------------------------------ */
/* State changes */

/* mesh-peer-connected / mesh-peer-disconnected, from the fetcher thread. */
static void
post_peer_event (const gchar * peer_id, gboolean connected, gpointer user_data)
{
  GstMeshAdaptiveSrc *src = user_data;

  gst_element_post_message (GST_ELEMENT (src),
      gst_message_new_element (GST_OBJECT (src),
          gst_structure_new (connected ? "mesh-peer-connected" :
              "mesh-peer-disconnected", "peer-id", G_TYPE_STRING, peer_id,
              NULL)));
}

/* The default swarm: the manifest URL without its query string, so that
 * viewers with different access tokens meet. */
static gchar *
default_swarm_id (const gchar * location)
{
  g_autoptr (GUri) uri = g_uri_parse (location, G_URI_FLAGS_NONE, NULL);

  if (!uri)
    return g_strdup (location);
  return g_uri_join (G_URI_FLAGS_NONE, g_uri_get_scheme (uri), NULL,
      g_uri_get_host (uri), g_uri_get_port (uri), g_uri_get_path (uri), NULL,
      NULL);
}

/* Joins the swarm when a tracker is set; leaves it otherwise. */
static void
configure_peers (GstMeshAdaptiveSrc * src, gboolean on)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  g_autoptr (MeshFetcher) fetcher = gst_mesh_adaptive_src_get_fetcher (src);
  g_autofree gchar *swarm = NULL;
  MeshPeerConfig config = { 0, };

  if (!fetcher)
    return;
  GST_OBJECT_LOCK (src);
  if (on && priv->tracker && *priv->tracker && priv->location) {
    swarm = priv->swarm_id && *priv->swarm_id ? g_strdup (priv->swarm_id) :
        default_swarm_id (priv->location);
    config.tracker_url = priv->tracker;
    config.swarm_id = swarm;
    config.stun_server = priv->stun_server;
    config.turn_server = priv->turn_server;
    config.local_address = priv->local_address;
    config.max_peers = priv->max_peers;
    config.upload = priv->upload;
    config.max_upload_rate = priv->max_upload_rate;
    config.cache_size = priv->cache_size;
    GST_INFO_OBJECT (src, "joining swarm '%s' at %s", swarm, priv->tracker);
  }
  mesh_fetcher_set_peer_config (fetcher, &config);
  GST_OBJECT_UNLOCK (src);
}

static void
create_fetcher (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  MeshFetcher *fetcher = mesh_fetcher_new ();

  /* the element outlives the fetcher thread, which calls back */
  mesh_fetcher_set_peer_event_func (fetcher, post_peer_event, src);
  GST_OBJECT_LOCK (src);
  priv->fetcher = fetcher;
  configure_fetcher_locked (src);
  GST_OBJECT_UNLOCK (src);
}

static void
destroy_fetcher (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  MeshFetcher *fetcher;

  GST_OBJECT_LOCK (src);
  fetcher = g_steal_pointer (&priv->fetcher);
  if (fetcher) {
    priv->last_bytes_from_cdn = mesh_fetcher_get_bytes_from_cdn (fetcher);
    priv->last_bytes_from_peers = mesh_fetcher_get_bytes_from_peers (fetcher);
    priv->last_bytes_uploaded = mesh_fetcher_get_bytes_uploaded (fetcher);
  }
  GST_OBJECT_UNLOCK (src);
  g_clear_object (&fetcher);
}

static void
start_streaming (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  g_mutex_lock (&priv->lock);
  priv->stopping = FALSE;
  g_mutex_unlock (&priv->lock);
  g_clear_object (&priv->manifest_cancellable);
  priv->manifest_cancellable = g_cancellable_new ();
  configure_peers (src, TRUE);
  gst_task_start (priv->manifest_task);
  start_stats (src);
}

static void
stop_streaming (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  g_mutex_lock (&priv->lock);
  priv->stopping = TRUE;
  g_mutex_unlock (&priv->lock);
  g_cancellable_cancel (priv->manifest_cancellable);
  gst_task_stop (priv->manifest_task);
  gst_task_join (priv->manifest_task);

  g_mutex_lock (&priv->seek_lock);
  stop_stream_tasks (src, FALSE);
  priv->exposed = FALSE;
  g_mutex_unlock (&priv->seek_lock);
  stop_stats (src);
  configure_peers (src, FALSE);
}

static GstStateChangeReturn
gst_mesh_adaptive_src_change_state (GstElement * element,
    GstStateChange transition)
{
  GstMeshAdaptiveSrc *src = GST_MESH_ADAPTIVE_SRC (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      create_fetcher (src);
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      start_streaming (src);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      stop_streaming (src);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (gst_mesh_adaptive_src_parent_class)->change_state
      (element, transition);

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      remove_streams (src);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      destroy_fetcher (src);
      break;
    default:
      break;
  }
  return ret;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
gst_mesh_adaptive_src_init (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  priv->bandwidth_target_ratio = DEFAULT_BANDWIDTH_TARGET_RATIO;
  priv->max_buffering_time = DEFAULT_MAX_BUFFERING_TIME;
  priv->live_delay = DEFAULT_LIVE_DELAY;
  priv->retries = DEFAULT_RETRIES;
  priv->timeout = DEFAULT_TIMEOUT;
  priv->user_agent = g_strdup (DEFAULT_USER_AGENT);
  priv->stats_interval = DEFAULT_STATS_INTERVAL;
  priv->max_peers = DEFAULT_MAX_PEERS;
  priv->upload = DEFAULT_UPLOAD;
  priv->max_upload_rate = DEFAULT_MAX_UPLOAD_RATE;
  priv->cache_size = DEFAULT_CACHE_SIZE;
  priv->duration = GST_CLOCK_TIME_NONE;

  g_mutex_init (&priv->lock);
  g_cond_init (&priv->cond);
  g_mutex_init (&priv->seek_lock);
  priv->streams = g_ptr_array_new ();
  priv->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);

  g_rec_mutex_init (&priv->manifest_task_lock);
  priv->manifest_task = gst_task_new ((GstTaskFunction) manifest_task_func,
      src, NULL);
  gst_task_set_lock (priv->manifest_task, &priv->manifest_task_lock);
  gst_object_set_name (GST_OBJECT (priv->manifest_task), "manifest");

  GST_OBJECT_FLAG_SET (src, GST_ELEMENT_FLAG_SOURCE);
}

static void
gst_mesh_adaptive_src_finalize (GObject * object)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (object);

  gst_object_unref (priv->manifest_task);
  g_rec_mutex_clear (&priv->manifest_task_lock);
  g_clear_object (&priv->manifest_cancellable);
  g_ptr_array_unref (priv->streams);
  g_hash_table_unref (priv->keys);
  g_mutex_clear (&priv->lock);
  g_cond_clear (&priv->cond);
  g_mutex_clear (&priv->seek_lock);
  g_free (priv->location);
  g_free (priv->user_agent);
  g_free (priv->tracker);
  g_free (priv->swarm_id);
  g_free (priv->stun_server);
  g_free (priv->turn_server);
  g_free (priv->local_address);
  g_clear_pointer (&priv->extra_headers, gst_structure_free);
  g_clear_object (&priv->fetcher);

  G_OBJECT_CLASS (gst_mesh_adaptive_src_parent_class)->finalize (object);
}

static void
install_properties (GObjectClass * gobject_class)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  /**
   * GstMeshAdaptiveSrc:location:
   *
   * The http:// or https:// URL of the manifest.
   */
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "URL of the manifest (http:// or https://)", NULL,
          rw | GST_PARAM_MUTABLE_READY));

  /**
   * GstMeshAdaptiveSrc:connection-speed:
   *
   * Network speed to assume instead of measuring it, in kbit/s.
   */
  g_object_class_install_property (gobject_class, PROP_CONNECTION_SPEED,
      g_param_spec_uint ("connection-speed", "Connection speed",
          "Network connection speed to use in kbit/s (0 = measure it)",
          0, G_MAXUINT / 1000, DEFAULT_CONNECTION_SPEED, rw));

  /**
   * GstMeshAdaptiveSrc:bandwidth-target-ratio:
   *
   * Share of the measured bandwidth that the chosen bitrate may use; the
   * rest is the safety margin against throughput drops.
   */
  g_object_class_install_property (gobject_class, PROP_BANDWIDTH_TARGET_RATIO,
      g_param_spec_float ("bandwidth-target-ratio",
          "Ratio of target bandwidth / available bandwidth",
          "Limit of the available bitrate to use when switching to "
          "alternates", 0, 1, DEFAULT_BANDWIDTH_TARGET_RATIO, rw));

  g_object_class_install_property (gobject_class, PROP_MIN_BITRATE,
      g_param_spec_uint ("min-bitrate", "Minimum Bitrate",
          "Minimum bitrate to use when switching to alternates (bits/s, "
          "0 = no limit)", 0, G_MAXUINT, DEFAULT_MIN_BITRATE, rw));

  g_object_class_install_property (gobject_class, PROP_MAX_BITRATE,
      g_param_spec_uint ("max-bitrate", "Maximum Bitrate",
          "Maximum bitrate to use when switching to alternates (bits/s, "
          "0 = no limit)", 0, G_MAXUINT, DEFAULT_MAX_BITRATE, rw));

  g_object_class_install_property (gobject_class, PROP_START_BITRATE,
      g_param_spec_uint ("start-bitrate", "Starting Bitrate",
          "Initial bitrate to use to choose the first alternate (bits/s, "
          "0 = the lowest)", 0, G_MAXUINT, DEFAULT_START_BITRATE, rw));

  g_object_class_install_property (gobject_class, PROP_MAX_VIDEO_WIDTH,
      g_param_spec_uint ("max-video-width", "Max video width",
          "Maximum video width of the alternates to choose from (0 = no "
          "limit)", 0, G_MAXUINT, DEFAULT_MAX_VIDEO_WIDTH, rw));

  g_object_class_install_property (gobject_class, PROP_MAX_VIDEO_HEIGHT,
      g_param_spec_uint ("max-video-height", "Max video height",
          "Maximum video height of the alternates to choose from (0 = no "
          "limit)", 0, G_MAXUINT, DEFAULT_MAX_VIDEO_HEIGHT, rw));

  /**
   * GstMeshAdaptiveSrc:max-buffering-time:
   *
   * Downloads run ahead of what downstream has taken until this much media
   * is held, and resume as downstream takes it.
   */
  g_object_class_install_property (gobject_class, PROP_MAX_BUFFERING_TIME,
      g_param_spec_uint64 ("max-buffering-time", "Maximum buffering time",
          "Media to download ahead of what downstream has taken (ns)",
          GST_SECOND, G_MAXUINT64, DEFAULT_MAX_BUFFERING_TIME, rw));

  /**
   * GstMeshAdaptiveSrc:live-delay:
   *
   * How far behind the live edge a live stream starts. -1 uses the
   * manifest's advice: three target durations for HLS.
   */
  g_object_class_install_property (gobject_class, PROP_LIVE_DELAY,
      g_param_spec_int64 ("live-delay", "Live delay",
          "How far behind the live edge to start a live stream (ns, -1 = "
          "as the manifest advises)", -1, G_MAXINT64, DEFAULT_LIVE_DELAY,
          rw | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_CURRENT_BANDWIDTH,
      g_param_spec_uint ("current-bandwidth", "Current download bandwidth",
          "Download bandwidth measured over the last fragments (bits/s)",
          0, G_MAXUINT, 0, ro));

  g_object_class_install_property (gobject_class, PROP_RETRIES,
      g_param_spec_int ("retries", "Retries",
          "Times a failed request is retried (timeouts, lost connections, "
          "5xx) before it is an error (-1 = forever)", -1, G_MAXINT,
          DEFAULT_RETRIES, rw));

  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "Seconds without network activity before a request is retried "
          "(0 = never)", 0, 3600, DEFAULT_TIMEOUT, rw));

  g_object_class_install_property (gobject_class, PROP_USER_AGENT,
      g_param_spec_string ("user-agent", "User-Agent",
          "Value of the User-Agent HTTP request header", DEFAULT_USER_AGENT,
          rw));

  /**
   * GstMeshAdaptiveSrc:extra-headers:
   *
   * Extra HTTP request headers, as in souphttpsrc: each field is a header
   * name; a string value, or an array or list of them for repeated headers.
   */
  g_object_class_install_property (gobject_class, PROP_EXTRA_HEADERS,
      g_param_spec_boxed ("extra-headers", "Extra Headers",
          "Extra headers to append to the HTTP requests", GST_TYPE_STRUCTURE,
          rw));

  g_object_class_install_property (gobject_class, PROP_BYTES_FROM_CDN,
      g_param_spec_uint64 ("bytes-from-cdn", "Bytes from CDN",
          "Media bytes (segments and init sections) downloaded from the CDN",
          0, G_MAXUINT64, 0, ro));

  g_object_class_install_property (gobject_class, PROP_BYTES_FROM_PEERS,
      g_param_spec_uint64 ("bytes-from-peers", "Bytes from peers",
          "Media bytes received from other viewers", 0, G_MAXUINT64, 0, ro));

  g_object_class_install_property (gobject_class, PROP_P2P_RATIO,
      g_param_spec_double ("p2p-ratio", "P2P ratio",
          "Share of the media bytes that came from peers: bytes-from-peers / "
          "(bytes-from-peers + bytes-from-cdn)", 0.0, 1.0, 0.0, ro));

  /**
   * GstMeshAdaptiveSrc:stats-interval:
   *
   * Period of the `mesh-stats` element message, with the fields
   * bytes-from-cdn, bytes-from-peers, bytes-uploaded (guint64), p2p-ratio
   * (gdouble), peers (guint),
   * current-bandwidth, current-bitrate (guint, bit/s) and buffer-level
   * (guint64, ns).
   */
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Statistics interval",
          "Milliseconds between mesh-stats messages on the bus (0 = none)",
          0, G_MAXUINT, DEFAULT_STATS_INTERVAL, rw | GST_PARAM_MUTABLE_READY));
}

static void
install_peer_properties (GObjectClass * gobject_class)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  /**
   * GstMeshAdaptiveSrc:tracker:
   *
   * The mesh-tracker WebSocket URL, e.g. ws://127.0.0.1:8765/announce.
   * Empty: every byte comes from the CDN.
   */
  g_object_class_install_property (gobject_class, PROP_TRACKER,
      g_param_spec_string ("tracker", "Tracker",
          "mesh-tracker URL (ws:// or wss://) that puts viewers of the stream "
          "in touch; empty = CDN only", NULL, rw));

  /**
   * GstMeshAdaptiveSrc:swarm-id:
   *
   * Viewers with the same swarm id share segments. By default the manifest
   * URL without its query string, so that tokenised URLs of one stream meet.
   */
  g_object_class_install_property (gobject_class, PROP_SWARM_ID,
      g_param_spec_string ("swarm-id", "Swarm id",
          "Identity of the stream among viewers (default: the manifest URL "
          "without its query)", NULL, rw));

  g_object_class_install_property (gobject_class, PROP_STUN_SERVER,
      g_param_spec_string ("stun-server", "STUN server",
          "STUN server for server-reflexive ICE candidates (host:port)", NULL,
          rw));

  g_object_class_install_property (gobject_class, PROP_TURN_SERVER,
      g_param_spec_string ("turn-server", "TURN server",
          "TURN server for relayed ICE candidates "
          "(turn://user:password@host:port)", NULL, rw));

  g_object_class_install_property (gobject_class, PROP_MAX_PEERS,
      g_param_spec_uint ("max-peers", "Maximum peers",
          "Peers to keep links with", 1, 100, DEFAULT_MAX_PEERS, rw));

  g_object_class_install_property (gobject_class, PROP_UPLOAD,
      g_param_spec_boolean ("upload", "Upload",
          "Serve segments to other viewers (FALSE on metered links)",
          DEFAULT_UPLOAD, rw));

  g_object_class_install_property (gobject_class, PROP_MAX_UPLOAD_RATE,
      g_param_spec_uint64 ("max-upload-rate", "Maximum upload rate",
          "Bytes per second sent to other viewers at most (0 = unlimited)",
          0, G_MAXUINT64, DEFAULT_MAX_UPLOAD_RATE, rw));

  g_object_class_install_property (gobject_class, PROP_CACHE_SIZE,
      g_param_spec_uint64 ("cache-size", "Cache size",
          "Bytes of recent segments kept to serve other viewers", 0,
          G_MAXUINT64, DEFAULT_CACHE_SIZE, rw));

  g_object_class_install_property (gobject_class, PROP_LOCAL_ADDRESS,
      g_param_spec_string ("local-address", "Local address",
          "Only offer ICE host candidates on this IP address (default: all "
          "interfaces)", NULL, rw));

  g_object_class_install_property (gobject_class, PROP_BYTES_UPLOADED,
      g_param_spec_uint64 ("bytes-uploaded", "Bytes uploaded",
          "Media bytes sent to other viewers", 0, G_MAXUINT64, 0, ro));

  g_object_class_install_property (gobject_class, PROP_PEERS,
      g_param_spec_uint ("peers", "Peers", "Peer links connected now",
          0, G_MAXUINT, 0, ro));
}

static void
gst_mesh_adaptive_src_class_init (GstMeshAdaptiveSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_mesh_adaptive_src_set_property;
  gobject_class->get_property = gst_mesh_adaptive_src_get_property;
  gobject_class->finalize = gst_mesh_adaptive_src_finalize;
  install_properties (gobject_class);
  install_peer_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->change_state = gst_mesh_adaptive_src_change_state;

  gst_type_mark_as_plugin_api (GST_TYPE_MESH_ADAPTIVE_SRC, 0);
}
