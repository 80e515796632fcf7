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
 * streams; the system clock thread posts mesh-stats and gathers the qos
 * reports, which it hands to the fetcher after releasing every lock (the
 * fetcher thread sends them to the tracker); the fetcher thread calls back
 * with peer events; the stream threads note the startup and stalls (under
 * priv->lock, see gst_mesh_adaptive_src_note_output()); a src pad's event
 * function stores the latency (object lock).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmeshadaptivesrc-private.h"

#include "fetch/mesh-ice-server.h"
#if HAVE_P2P
#include "p2p/mesh-tracker-proto.h"
#endif

#include <string.h>

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
  PROP_TRACKER_TOKEN,
  PROP_SWARM_ID,
  PROP_STUN_SERVER,
  PROP_TURN_SERVER,
  PROP_MAX_PEERS,
  PROP_UPLOAD,
  PROP_MAX_UPLOAD_RATE,
  PROP_PEER_CONGESTION_CONTROL,
  PROP_ICE_CANDIDATE_POLICY,
  PROP_INTEGRITY,
  PROP_CACHE_SIZE,
  PROP_LOCAL_ADDRESS,
  PROP_BYTES_UPLOADED,
  PROP_PEERS,
  PROP_CURRENT_BITRATE,
  PROP_REPORT_INTERVAL,
  PROP_NETWORK_HINT,
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
#define DEFAULT_PEER_CONGESTION_CONTROL MESH_PEER_CC_CUBIC
#define DEFAULT_ICE_CANDIDATE_POLICY MESH_PEER_CANDIDATES_ALL
#define DEFAULT_INTEGRITY MESH_INTEGRITY_AUTO
#define DEFAULT_REPORT_INTERVAL 5
#define MAX_REPORT_INTERVAL 3600
/* A fragment of the main stream that goes out more than this after the
 * pipeline clock reached its running time (+ latency) makes a stall, as
 * bench/mesh-viewer.c counts "late" */
#define STALL_TOLERANCE (100 * GST_MSECOND)

#define GST_TYPE_MESH_INTEGRITY (gst_mesh_integrity_get_type ())
static GType
gst_mesh_integrity_get_type (void)
{
  static const GEnumValue values[] = {
    {MESH_INTEGRITY_AUTO, "Verify every segment from peers with the digests "
          "the content provider publishes, else with those the tracker "
          "attests; without either, segments come from the CDN only (a bus "
          "warning says so)", "auto"},
    {MESH_INTEGRITY_HASH_LIST, "Verify with mesh-hashes.json, next to the "
          "manifest, only", "hash-list"},
    {MESH_INTEGRITY_TRACKER, "Verify with the digests the tracker attests "
          "only (mesh-tracker --attest-origin: it fetches each segment from "
          "the origin once per swarm)", "tracker"},
    {MESH_INTEGRITY_NONE, "Trust peers: play their bytes unverified. UNSAFE: "
          "any viewer of the stream can make the others play what it wants; "
          "for closed swarms of trusted players only", "none"},
    {0, NULL, NULL}
  };
  static GType type = 0;

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMeshIntegrity", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_MESH_PEER_CONGESTION_CONTROL \
    (gst_mesh_peer_congestion_control_get_type ())
static GType
gst_mesh_peer_congestion_control_get_type (void)
{
  static const GEnumValue values[] = {
    {MESH_PEER_CC_CUBIC, "CUBIC: backs off on loss, as TCP does; yields "
          "to the viewer's own traffic on a shared uplink", "cubic"},
    {MESH_PEER_CC_BBR, "BBR: paces at the path's measured bandwidth; holds "
          "its rate through random loss, fills shallow queues", "bbr"},
    {0, NULL, NULL}
  };
  static GType type = 0;

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMeshPeerCongestionControl", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_MESH_ICE_CANDIDATE_POLICY \
    (gst_mesh_ice_candidate_policy_get_type ())
static GType
gst_mesh_ice_candidate_policy_get_type (void)
{
  static const GEnumValue values[] = {
    {MESH_PEER_CANDIDATES_ALL, "All: peers learn the viewer's LAN and public "
          "addresses; the most direct paths, with or without STUN/TURN",
        "all"},
    {MESH_PEER_CANDIDATES_NO_HOST, "No host: peers learn the public address "
          "(server-reflexive) but no LAN address; needs stun-server or "
          "turn-server, and viewers on one LAN meet through their NAT or "
          "the relay", "no-host"},
    {MESH_PEER_CANDIDATES_RELAY_ONLY, "Relay only: peers learn the TURN "
          "server's address, none of the viewer's; needs turn-server, which "
          "then carries all peer traffic", "relay-only"},
    {0, NULL, NULL}
  };
  static GType type = 0;

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMeshIceCandidatePolicy", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

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
  MeshPeerStats peer_stats;
  guint64 prefetched, adopted;
} Counters;

/* The fetcher's figures, or the last ones once it is gone. */
static void
get_counters (GstMeshAdaptiveSrc * src, Counters * counters)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  g_autoptr (MeshFetcher) fetcher = NULL;

  GST_OBJECT_LOCK (src);
  fetcher = priv->fetcher ? g_object_ref (priv->fetcher) : NULL;
  counters->from_cdn = priv->last_bytes_from_cdn;
  counters->from_peers = priv->last_bytes_from_peers;
  counters->uploaded = priv->last_bytes_uploaded;
  counters->peers = 0;
  counters->peer_stats = priv->last_peer_stats;
  counters->prefetched = priv->last_prefetched;
  counters->adopted = priv->last_adopted;
  GST_OBJECT_UNLOCK (src);

  if (fetcher) {
    counters->from_cdn = mesh_fetcher_get_bytes_from_cdn (fetcher);
    counters->from_peers = mesh_fetcher_get_bytes_from_peers (fetcher);
    counters->uploaded = mesh_fetcher_get_bytes_uploaded (fetcher);
    counters->peers = mesh_fetcher_get_n_peers (fetcher);
    mesh_fetcher_get_peer_stats (fetcher, &counters->peer_stats);
    mesh_fetcher_get_prefetch_counts (fetcher, &counters->prefetched,
        &counters->adopted);
  }
}

/* "500:3,1000:0,...,inf:2": requests per slack bucket (upper bound, ms). */
static gchar *
slack_histogram (const MeshPeerStats * stats)
{
  GString *out = g_string_new (NULL);
  guint i;

  for (i = 0; i < MESH_PEER_STATS_N_SLACK; i++) {
    if (i > 0)
      g_string_append_c (out, ',');
    if (mesh_peer_stats_slack_bounds_ms[i] == G_MAXINT64)
      g_string_append (out, "inf");
    else
      g_string_append_printf (out, "%" G_GINT64_FORMAT,
          mesh_peer_stats_slack_bounds_ms[i]);
    g_string_append_printf (out, ":%" G_GUINT64_FORMAT, stats->slack[i]);
  }
  return g_string_free (out, FALSE);
}

/* current-bitrate: what the main stream (the first: the variant, or the
 * first AdaptationSet) plays now, as the manifest declares it or else as
 * measured; 0 before the first fragment. */
static guint
get_current_bitrate (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  guint bitrate = 0;

  g_mutex_lock (&priv->lock);
  if (priv->streams->len > 0)
    bitrate = ((GstMeshStream *) g_ptr_array_index (priv->streams, 0))
        ->playing_bitrate;
  g_mutex_unlock (&priv->lock);
  return bitrate;
}

/* The media held that downstream did not take yet: the lowest over the
 * streams. */
static GstClockTime
get_buffer_level (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  GstClockTime level = GST_CLOCK_TIME_NONE;
  guint i;

  g_mutex_lock (&priv->lock);
  for (i = 0; i < priv->streams->len; i++) {
    GstMeshStream *stream = g_ptr_array_index (priv->streams, i);

    level = GST_CLOCK_TIME_IS_VALID (level) ?
        MIN (level, stream->queued_duration) : stream->queued_duration;
  }
  g_mutex_unlock (&priv->lock);
  return GST_CLOCK_TIME_IS_VALID (level) ? level : 0;
}

static gdouble
p2p_ratio (guint64 from_cdn, guint64 from_peers)
{
  if (from_cdn + from_peers == 0)
    return 0.0;
  return (gdouble) from_peers / (gdouble) (from_cdn + from_peers);
}

/* What the fetcher gets from the properties, as one snapshot: taken under
 * the object lock, handed over without it, since g_object_set() on the
 * fetcher emits notify. */
typedef struct
{
  gchar *user_agent;
  guint timeout;
  gint retries;
  GstStructure *extra_headers;
} FetcherSettings;

/* Called with the object lock held. */
static void
fetcher_settings_snapshot_locked (GstMeshAdaptiveSrc * src,
    FetcherSettings * settings)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  settings->user_agent = g_strdup (priv->user_agent);
  settings->timeout = priv->timeout;
  settings->retries = priv->retries;
  settings->extra_headers = priv->extra_headers ?
      gst_structure_copy (priv->extra_headers) : NULL;
}

static void
fetcher_settings_clear (FetcherSettings * settings)
{
  g_clear_pointer (&settings->user_agent, g_free);
  g_clear_pointer (&settings->extra_headers, gst_structure_free);
}

/* Hands the fetcher settings of the properties to the fetcher, if there is
 * one. priv->config_lock makes snapshot and hand-over one step, so that
 * when two threads set properties at once the last value wins. Not with
 * the object lock held. */
static void
configure_fetcher (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  g_autoptr (MeshFetcher) fetcher = NULL;
  FetcherSettings settings = { NULL, };

  g_mutex_lock (&priv->config_lock);
  GST_OBJECT_LOCK (src);
  if (priv->fetcher) {
    fetcher = g_object_ref (priv->fetcher);
    fetcher_settings_snapshot_locked (src, &settings);
  }
  GST_OBJECT_UNLOCK (src);

  if (fetcher) {
    GST_DEBUG_OBJECT (src, "fetcher: user-agent '%s', timeout %u s, "
        "retries %d", settings.user_agent, settings.timeout, settings.retries);
    g_object_set (fetcher, "user-agent", settings.user_agent,
        "timeout", settings.timeout, "retries", settings.retries,
        "extra-headers", settings.extra_headers, NULL);
  }
  g_mutex_unlock (&priv->config_lock);
  fetcher_settings_clear (&settings);
}

/* Property problems: values the element cannot use, posted as warnings
 * on the bus when it starts (the bus is seldom there when properties are
 * set: gst-launch and most applications set them before adding the element
 * to a pipeline). */

void
gst_mesh_adaptive_src_report_property_problem (GstMeshAdaptiveSrc * src,
    const gchar * property, const gchar * problem)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  if (problem)
    GST_WARNING_OBJECT (src, "%s", problem);
  GST_OBJECT_LOCK (src);
  if (problem)
    g_hash_table_replace (priv->property_problems, g_strdup (property),
        g_strdup (problem));
  else
    g_hash_table_remove (priv->property_problems, property);
  GST_OBJECT_UNLOCK (src);
}

static void
post_property_problems (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer property, problem;
  guint i;

  GST_OBJECT_LOCK (src);
  g_hash_table_iter_init (&iter, priv->property_problems);
  while (g_hash_table_iter_next (&iter, &property, &problem)) {
    g_ptr_array_add (problems, g_strdup (property));
    g_ptr_array_add (problems, g_strdup (problem));
  }
  GST_OBJECT_UNLOCK (src);

  for (i = 0; i + 1 < problems->len; i += 2)
    GST_ELEMENT_WARNING (src, RESOURCE, SETTINGS, ("%s",
            (const gchar *) g_ptr_array_index (problems, i + 1)),
        ("property %s", (const gchar *) g_ptr_array_index (problems, i)));
}

/* Checks stun-server or turn-server (@property) and reports @value when it
 * is malformed: the peer manager would ignore it. */
static void
check_ice_server (GstMeshAdaptiveSrc * src, const gchar * property,
    const gchar * value)
{
  g_autofree gchar *problem = NULL;
  gboolean stun = g_str_equal (property, "stun-server");

  /* not the TURN value itself: it holds a password */
  if (value && *value && stun
      && !mesh_ice_server_parse_stun (value, NULL, NULL))
    problem =
        g_strdup_printf ("Ignoring stun-server '%s': not host:port", value);
  else if (value && *value && !stun
      && !mesh_ice_server_parse_turn (value, NULL, NULL, NULL, NULL))
    problem =
        g_strdup ("Ignoring turn-server: not "
        "turn://user:password@host:port");
  gst_mesh_adaptive_src_report_property_problem (src, property, problem);
}

static gboolean
network_hint_is_valid (const gchar * hint)
{
#if HAVE_P2P
  return mesh_tracker_is_valid_network (hint);
#else
  return hint != NULL;          /* never sent: there is no tracker client */
#endif
}

/* An invalid network-hint is ignored (the join goes without one), with a
 * warning on the bus when streaming starts, as for stun-server. */
static void
check_network_hint (GstMeshAdaptiveSrc * src, const gchar * hint)
{
  g_autofree gchar *problem = NULL;

  if (hint && !network_hint_is_valid (hint))
    problem = g_strdup_printf ("Ignoring network-hint '%s': not 1 to %d "
        "characters of [A-Za-z0-9._:-]", hint, MESH_QOS_NETWORK_MAX);
  gst_mesh_adaptive_src_report_property_problem (src, "network-hint", problem);
}

/* A token replaced while the element is in a swarm (tokens expire) is the
 * one its tracker client sends when it joins again. */
static void
replace_tracker_token (GstMeshAdaptiveSrc * src, const gchar * token)
{
  g_autoptr (MeshFetcher) fetcher = gst_mesh_adaptive_src_get_fetcher (src);

  if (fetcher)
    mesh_fetcher_set_tracker_token (fetcher, token);
}

static void
gst_mesh_adaptive_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMeshAdaptiveSrc *src = GST_MESH_ADAPTIVE_SRC (object);
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  gboolean fetcher_setting = FALSE, token_changed = FALSE;

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
      fetcher_setting = TRUE;
      break;
    case PROP_TIMEOUT:
      priv->timeout = g_value_get_uint (value);
      fetcher_setting = TRUE;
      break;
    case PROP_USER_AGENT:
      g_free (priv->user_agent);
      priv->user_agent = g_value_dup_string (value);
      fetcher_setting = TRUE;
      break;
    case PROP_EXTRA_HEADERS:
      g_clear_pointer (&priv->extra_headers, gst_structure_free);
      if (gst_value_get_structure (value))
        priv->extra_headers = gst_structure_copy (gst_value_get_structure
            (value));
      fetcher_setting = TRUE;
      break;
    case PROP_STATS_INTERVAL:
      priv->stats_interval = g_value_get_uint (value);
      break;
    case PROP_TRACKER:
      g_free (priv->tracker);
      priv->tracker = g_value_dup_string (value);
      break;
    case PROP_TRACKER_TOKEN:
      g_free (priv->tracker_token);
      priv->tracker_token = g_value_dup_string (value);
      token_changed = TRUE;
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
    case PROP_PEER_CONGESTION_CONTROL:
      priv->peer_congestion_control = g_value_get_enum (value);
      break;
    case PROP_ICE_CANDIDATE_POLICY:
      priv->ice_candidate_policy = g_value_get_enum (value);
      break;
    case PROP_INTEGRITY:
      priv->integrity = g_value_get_enum (value);
      break;
    case PROP_CACHE_SIZE:
      priv->cache_size = g_value_get_uint64 (value);
      break;
    case PROP_LOCAL_ADDRESS:
      g_free (priv->local_address);
      priv->local_address = g_value_dup_string (value);
      break;
    case PROP_REPORT_INTERVAL:
      priv->report_interval = g_value_get_uint (value);
      break;
    case PROP_NETWORK_HINT:
      g_free (priv->network_hint);
      priv->network_hint = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (src);

  /* calls into other objects, after the object lock */
  if (fetcher_setting)
    configure_fetcher (src);
  if (token_changed)
    replace_tracker_token (src, g_value_get_string (value));
  if (prop_id == PROP_STUN_SERVER || prop_id == PROP_TURN_SERVER)
    check_ice_server (src, pspec->name, g_value_get_string (value));
  if (prop_id == PROP_NETWORK_HINT)
    check_network_hint (src, g_value_get_string (value));
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
    case PROP_CURRENT_BITRATE:
      g_value_set_uint (value, get_current_bitrate (src));
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
    case PROP_TRACKER_TOKEN:
      g_value_set_string (value, priv->tracker_token);
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
    case PROP_PEER_CONGESTION_CONTROL:
      g_value_set_enum (value, priv->peer_congestion_control);
      break;
    case PROP_ICE_CANDIDATE_POLICY:
      g_value_set_enum (value, priv->ice_candidate_policy);
      break;
    case PROP_INTEGRITY:
      g_value_set_enum (value, priv->integrity);
      break;
    case PROP_CACHE_SIZE:
      g_value_set_uint64 (value, priv->cache_size);
      break;
    case PROP_LOCAL_ADDRESS:
      g_value_set_string (value, priv->local_address);
      break;
    case PROP_REPORT_INTERVAL:
      g_value_set_uint (value, priv->report_interval);
      break;
    case PROP_NETWORK_HINT:
      g_value_set_string (value, priv->network_hint);
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

/* Called with the seek lock held (see priv->streams). */
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

  /* A seek stops the stream tasks and changes their state: from a stream's
   * own thread (a pad probe or a downstream element reacting to a buffer)
   * it would do that under the feet of the loop that pushes. */
  g_return_val_if_fail (!gst_mesh_stream_thread_is_current (), FALSE);

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
    case GST_EVENT_LATENCY:
      /* what the stall figures count from (see the report-interval
       * property); nothing upstream of us to forward it to */
      GST_OBJECT_LOCK (src);
      gst_event_parse_latency (event, &GET_PRIV (src)->latency);
      GST_OBJECT_UNLOCK (src);
      gst_event_unref (event);
      return TRUE;
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

/* What the viewer sees of playback, for mesh-stats and the qos reports. */
typedef struct
{
  gint64 startup_ms;            /* -1: no buffer out yet */
  guint64 stalls;
  guint64 stall_ms;
  guint bitrate;                /* of the main stream's variant, 0 */
  gint width, height;           /* its resolution, 0 when unknown */
} Playback;

static void
get_playback (GstMeshAdaptiveSrc * src, Playback * playback)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  memset (playback, 0, sizeof (*playback));
  g_mutex_lock (&priv->lock);
  playback->startup_ms = priv->startup_ms;
  playback->stalls = priv->stalls;
  playback->stall_ms = priv->stall_time / GST_MSECOND;
  if (priv->streams->len > 0) {
    GstMeshStream *main_stream = g_ptr_array_index (priv->streams, 0);
    gint current = main_stream->current_representation;

    playback->bitrate = main_stream->playing_bitrate;
    if (current >= 0 && (guint) current < main_stream->n_representations) {
      playback->width = main_stream->representations[current].width;
      playback->height = main_stream->representations[current].height;
    }
  }
  g_mutex_unlock (&priv->lock);
}

static void
post_stats_message (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  Counters counters;
  Playback playback;
  guint bandwidth;
  g_autofree gchar *slack = NULL;

  get_counters (src, &counters);
  get_playback (src, &playback);
  slack = slack_histogram (&counters.peer_stats);
  GST_OBJECT_LOCK (src);
  bandwidth = priv->current_bandwidth;
  GST_OBJECT_UNLOCK (src);

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
              "current-bitrate", G_TYPE_UINT, get_current_bitrate (src),
              "buffer-level", G_TYPE_UINT64,
              (guint64) get_buffer_level (src),
              "segments-to-peers", G_TYPE_UINT64,
              counters.peer_stats.requests,
              "segments-from-peers", G_TYPE_UINT64,
              counters.peer_stats.from_peers,
              "cdn-nobody", G_TYPE_UINT64, counters.peer_stats.cdn_nobody,
              "cdn-no-time", G_TYPE_UINT64, counters.peer_stats.cdn_no_time,
              "cdn-peer-failed", G_TYPE_UINT64,
              counters.peer_stats.cdn_peer_failed,
              "segments-rejected", G_TYPE_UINT64,
              counters.peer_stats.rejected,
              "peers-cut-off", G_TYPE_UINT64,
              counters.peer_stats.peers_banned,
              "slack-histogram", G_TYPE_STRING, slack,
              "cache-bytes", G_TYPE_UINT64, counters.peer_stats.cache_bytes,
              "prefetched", G_TYPE_UINT64, counters.prefetched,
              "prefetch-adopted", G_TYPE_UINT64, counters.adopted,
              "stalls", G_TYPE_UINT64, playback.stalls,
              "stall-ms", G_TYPE_UINT64, playback.stall_ms,
              "startup-ms", G_TYPE_INT64, playback.startup_ms, NULL)));
}

/* The periodic clock id's callback, on the system clock's thread. */
static gboolean
post_stats (GstClock * clock, GstClockTime time, GstClockID id,
    gpointer user_data)
{
  post_stats_message (GST_MESH_ADAPTIVE_SRC (user_data));
  return TRUE;
}

void
gst_mesh_adaptive_src_post_final_stats (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  guint interval;

  GST_OBJECT_LOCK (src);
  interval = priv->stats_interval;
  GST_OBJECT_UNLOCK (src);
  if (interval == 0)
    return;
  GST_DEBUG_OBJECT (src, "final mesh-stats");
  post_stats_message (src);
}

/* @func every @interval on the system clock's thread, from @interval on;
 * holds a reference on @src. */
static GstClockID
start_periodic (GstMeshAdaptiveSrc * src, GstClockTime interval,
    GstClockCallback func)
{
  GstClock *clock = gst_system_clock_obtain ();
  GstClockID id = gst_clock_new_periodic_id (clock,
      gst_clock_get_time (clock) + interval, interval);

  gst_clock_id_wait_async (id, func, gst_object_ref (src), gst_object_unref);
  gst_object_unref (clock);
  return id;
}

/* Stops what start_periodic() started; FALSE if nothing was. */
static gboolean
stop_periodic (GstClockID * id)
{
  if (!*id)
    return FALSE;
  gst_clock_id_unschedule (*id);
  gst_clock_id_unref (*id);
  *id = NULL;
  return TRUE;
}

static void
start_stats (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  guint interval;

  GST_OBJECT_LOCK (src);
  interval = priv->stats_interval;
  GST_OBJECT_UNLOCK (src);
  if (interval > 0)
    priv->stats_id = start_periodic (src, interval * GST_MSECOND, post_stats);
}

static void
stop_stats (GstMeshAdaptiveSrc * src)
{
  stop_periodic (&GET_PRIV (src)->stats_id);
}

/* ------------------------------------------------------------------------ */
/* QoS reports to the tracker (report-interval) */

/* Gathers the figures (each under its own lock, briefly) and hands them to
 * the fetcher with no lock held; the fetcher thread sends them. */
static void
send_qos_report (GstMeshAdaptiveSrc * src)
{
  g_autoptr (MeshFetcher) fetcher = gst_mesh_adaptive_src_get_fetcher (src);
  MeshQosReport report = { MESH_QOS_REPORT_VERSION, };
  Counters counters;
  Playback playback;

  if (!fetcher)
    return;
  get_counters (src, &counters);
  get_playback (src, &playback);
  report.cdn_bytes = MIN (counters.from_cdn, MESH_QOS_REPORT_MAX_VALUE);
  report.peer_bytes = MIN (counters.from_peers, MESH_QOS_REPORT_MAX_VALUE);
  report.uploaded_bytes = MIN (counters.uploaded, MESH_QOS_REPORT_MAX_VALUE);
  report.stalls = MIN (playback.stalls, MESH_QOS_REPORT_MAX_VALUE);
  report.stall_ms = MIN (playback.stall_ms, MESH_QOS_REPORT_MAX_VALUE);
  report.startup_ms = playback.startup_ms;
  report.bitrate = playback.bitrate;
  report.width = playback.width;
  report.height = playback.height;
  report.peers = counters.peers;
  GST_LOG_OBJECT (src, "qos report: %" G_GINT64_FORMAT " bytes from the CDN, "
      "%" G_GINT64_FORMAT " from peers, %" G_GINT64_FORMAT " stalls",
      report.cdn_bytes, report.peer_bytes, report.stalls);
  mesh_fetcher_send_qos (fetcher, &report);
}

/* The periodic clock id's callback, on the system clock's thread. */
static gboolean
on_report_time (GstClock * clock, GstClockTime time, GstClockID id,
    gpointer user_data)
{
  send_qos_report (GST_MESH_ADAPTIVE_SRC (user_data));
  return TRUE;
}

static guint
get_report_interval (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  guint interval;

  GST_OBJECT_LOCK (src);
  interval = priv->report_interval;
  GST_OBJECT_UNLOCK (src);
  return interval;
}

static void
start_reports (GstMeshAdaptiveSrc * src)
{
  guint interval = get_report_interval (src);

  if (interval > 0)
    GET_PRIV (src)->report_id = start_periodic (src, interval * GST_SECOND,
        on_report_time);
}

/* The last report goes out before the swarm is left (the fetcher hands on
 * what it is given in order), so that a run shorter than the interval
 * reports too. */
static void
stop_reports (GstMeshAdaptiveSrc * src)
{
  if (stop_periodic (&GET_PRIV (src)->report_id))
    send_qos_report (src);
}

/* A stall (see the report-interval property): a run of the main stream's
 * fragments that each go out more than STALL_TOLERANCE late, lasting as
 * long as the latest of them was late. Called with priv->lock. */
static void
note_lateness_locked (GstMeshAdaptiveSrc * src, GstMeshStream * stream,
    GstClockTime lateness)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  if (lateness <= STALL_TOLERANCE) {
    stream->stall_lateness = 0;
    return;
  }
  if (stream->stall_lateness == 0) {
    priv->stalls++;
    GST_INFO_OBJECT (src, "stall: a fragment went out %" GST_TIME_FORMAT
        " late", GST_TIME_ARGS (lateness));
  }
  if (lateness > stream->stall_lateness) {
    priv->stall_time += lateness - stream->stall_lateness;
    stream->stall_lateness = lateness;
  }
}

void
gst_mesh_adaptive_src_note_output (GstMeshAdaptiveSrc * src,
    GstMeshStream * stream, GstClockTime lateness)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  g_mutex_lock (&priv->lock);
  if (priv->startup_ms < 0 && priv->start_time > 0) {
    priv->startup_ms = (g_get_monotonic_time () - priv->start_time) / 1000;
    GST_INFO_OBJECT (src, "first buffer out after %" G_GINT64_FORMAT " ms",
        priv->startup_ms);
  }
  if (stream->index == 0 && GST_CLOCK_TIME_IS_VALID (lateness))
    note_lateness_locked (src, stream, lateness);
  g_mutex_unlock (&priv->lock);
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

  /* without a host, a path of "//..." (http:/..//a) cannot be written: GLib
   * logs a critical and gives NULL; no host is no usable location anyway */
  if (!uri || !g_uri_get_host (uri))
    return g_strdup (location);
  return g_uri_join (G_URI_FLAGS_NONE, g_uri_get_scheme (uri), NULL,
      g_uri_get_host (uri), g_uri_get_port (uri), g_uri_get_path (uri), NULL,
      NULL);
}

/* Whether peer-to-peer can use @tracker: a ws:// or wss:// URL with a host.
 * @reason says why not. */
static gboolean
tracker_url_is_usable (const gchar * tracker, const gchar ** reason)
{
  g_autoptr (GUri) uri = g_uri_parse (tracker, G_URI_FLAGS_NONE, NULL);
  const gchar *scheme = uri ? g_uri_get_scheme (uri) : NULL;

  if (!uri || (g_ascii_strcasecmp (scheme, "ws") != 0
          && g_ascii_strcasecmp (scheme, "wss") != 0)) {
    *reason = "not a ws:// or wss:// URL";
    return FALSE;
  }
  if (!g_uri_get_host (uri) || !*g_uri_get_host (uri)) {
    *reason = "no host";
    return FALSE;
  }
  return TRUE;
}

/* The same for a "tracker" naming several (spaces or commas between
 * them): each must be usable. */
static gboolean
tracker_is_usable (const gchar * tracker, const gchar ** reason)
{
  g_auto (GStrv) urls = g_strsplit_set (tracker, " ,\t", -1);
  guint i, n = 0;

  for (i = 0; urls[i]; i++) {
    if (!*urls[i])
      continue;
    if (!tracker_url_is_usable (urls[i], reason))
      return FALSE;
    n++;
  }
  if (n == 0)
    *reason = "not a ws:// or wss:// URL";
  return n > 0;
}

/* Peer-to-peer is off, as @message (naming the tracker and the reason)
 * says: the element plays from the CDN. Any thread, never under a lock of
 * the element. */
static void
post_tracker_unusable (GstMeshAdaptiveSrc * src, const gchar * message,
    const gchar * tracker)
{
  GST_ELEMENT_WARNING (src, RESOURCE, OPEN_READ_WRITE, ("%s", message),
      ("tracker property: %s", tracker ? tracker : "(none)"));
}

/* "p2p-warning" of the fetcher, on the fetcher thread: the tracker cannot
 * be used (unreachable, refused, gone, or no peer-to-peer in this build).
 * Not under any lock of ours: the object lock is only held to copy the
 * property. */
static void
on_p2p_warning (MeshFetcher * fetcher, const gchar * message,
    GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  g_autofree gchar *tracker = NULL;

  GST_OBJECT_LOCK (src);
  tracker = g_strdup (priv->tracker);
  GST_OBJECT_UNLOCK (src);
  post_tracker_unusable (src, message, tracker);
}

/* The peer settings of the properties, as one snapshot (copies): taken
 * under the object lock, handed to the fetcher without it. */
typedef struct
{
  gchar *tracker;
  gchar *tracker_token;
  gchar *swarm_id;
  gchar *stun_server;
  gchar *turn_server;
  gchar *local_address;
  guint max_peers;
  gboolean upload;
  guint64 max_upload_rate;
  MeshPeerCongestionControl congestion_control;
  MeshPeerCandidatePolicy candidate_policy;
  MeshIntegrityMode integrity;
  gchar *manifest_url;
  guint64 cache_size;
  gchar *network_hint;
} PeerSettings;

/* Called with the object lock held. */
static void
peer_settings_snapshot_locked (GstMeshAdaptiveSrc * src,
    PeerSettings * settings)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  settings->tracker = g_strdup (priv->tracker);
  settings->tracker_token = g_strdup (priv->tracker_token);
  settings->swarm_id = priv->swarm_id && *priv->swarm_id ?
      g_strdup (priv->swarm_id) : priv->location ?
      default_swarm_id (priv->location) : NULL;
  settings->stun_server = g_strdup (priv->stun_server);
  settings->turn_server = g_strdup (priv->turn_server);
  settings->local_address = g_strdup (priv->local_address);
  settings->max_peers = priv->max_peers;
  settings->upload = priv->upload;
  settings->max_upload_rate = priv->max_upload_rate;
  settings->congestion_control = priv->peer_congestion_control;
  settings->candidate_policy = priv->ice_candidate_policy;
  settings->integrity = priv->integrity;
  settings->manifest_url = g_strdup (priv->location);
  settings->cache_size = priv->cache_size;
  settings->network_hint = g_strdup (priv->network_hint);
}

static void
peer_settings_clear (PeerSettings * settings)
{
  g_free (settings->tracker);
  g_free (settings->tracker_token);
  g_free (settings->swarm_id);
  g_free (settings->stun_server);
  g_free (settings->turn_server);
  g_free (settings->local_address);
  g_free (settings->manifest_url);
  g_free (settings->network_hint);
}

/* Joins the swarm when a usable tracker is set (@on), leaves it otherwise.
 * A tracker that cannot be used is a warning on the bus, and playback goes
 * on from the CDN; so are malformed ICE servers, left out (see
 * check_ice_server()). */
static void
configure_peers (GstMeshAdaptiveSrc * src, gboolean on)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  g_autoptr (MeshFetcher) fetcher = gst_mesh_adaptive_src_get_fetcher (src);
  PeerSettings settings = { NULL, };
  MeshPeerConfig config = { 0, };
  const gchar *reason = NULL;

  if (!fetcher)
    return;
  GST_OBJECT_LOCK (src);
  if (on)
    peer_settings_snapshot_locked (src, &settings);
  GST_OBJECT_UNLOCK (src);

  if (settings.tracker && *settings.tracker
      && !tracker_is_usable (settings.tracker, &reason)) {
    g_autofree gchar *message = g_strdup_printf ("Cannot use the tracker "
        "%s: %s; segments come from the CDN", settings.tracker, reason);

    post_tracker_unusable (src, message, settings.tracker);
  } else if (settings.tracker && *settings.tracker && settings.swarm_id) {
    config.tracker_url = settings.tracker;
    config.token = settings.tracker_token;
    config.swarm_id = settings.swarm_id;
    if (settings.stun_server
        && mesh_ice_server_parse_stun (settings.stun_server, NULL, NULL))
      config.stun_server = settings.stun_server;
    if (settings.turn_server
        && mesh_ice_server_parse_turn (settings.turn_server, NULL, NULL, NULL,
            NULL))
      config.turn_server = settings.turn_server;
    config.local_address = settings.local_address;
    config.max_peers = settings.max_peers;
    config.upload = settings.upload;
    config.max_upload_rate = settings.max_upload_rate;
    config.congestion_control = settings.congestion_control;
    config.candidate_policy = settings.candidate_policy;
    config.integrity = settings.integrity;
    config.manifest_url = settings.manifest_url;
    config.cache_size = settings.cache_size;
    if (settings.network_hint && network_hint_is_valid (settings.network_hint))
      config.network = settings.network_hint;
    GST_INFO_OBJECT (src, "joining swarm '%s' at %s", settings.swarm_id,
        settings.tracker);
  }
  g_mutex_lock (&priv->config_lock);
  mesh_fetcher_set_peer_config (fetcher, &config);
  g_mutex_unlock (&priv->config_lock);
  peer_settings_clear (&settings);
}

static void
create_fetcher (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  MeshFetcher *fetcher = mesh_fetcher_new ();

  /* the element outlives the fetcher thread, which calls back */
  mesh_fetcher_set_peer_event_func (fetcher, post_peer_event, src);
  /* looked up: a fetcher without the signal still plays, silently */
  if (g_signal_lookup ("p2p-warning", MESH_TYPE_FETCHER) != 0)
    g_signal_connect (fetcher, "p2p-warning", G_CALLBACK (on_p2p_warning), src);
  else
    GST_WARNING_OBJECT (src, "the fetcher has no p2p-warning signal: an "
        "unusable tracker will not show on the bus");
  GST_OBJECT_LOCK (src);
  priv->fetcher = fetcher;
  GST_OBJECT_UNLOCK (src);
  /* the stall figures count along with the fetcher's bytes */
  g_mutex_lock (&priv->lock);
  priv->stalls = 0;
  priv->stall_time = 0;
  g_mutex_unlock (&priv->lock);
  configure_fetcher (src);
}

static void
destroy_fetcher (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);
  MeshFetcher *fetcher;

  GST_OBJECT_LOCK (src);
  fetcher = g_steal_pointer (&priv->fetcher);
  GST_OBJECT_UNLOCK (src);
  if (!fetcher)
    return;

  g_signal_handlers_disconnect_by_data (fetcher, src);
  /* what the counters say from now on */
  {
    guint64 from_cdn = mesh_fetcher_get_bytes_from_cdn (fetcher);
    guint64 from_peers = mesh_fetcher_get_bytes_from_peers (fetcher);
    guint64 uploaded = mesh_fetcher_get_bytes_uploaded (fetcher);
    MeshPeerStats peer_stats;
    guint64 prefetched, adopted;

    mesh_fetcher_cancel_prefetches (fetcher);
    mesh_fetcher_get_peer_stats (fetcher, &peer_stats);
    mesh_fetcher_get_prefetch_counts (fetcher, &prefetched, &adopted);
    GST_OBJECT_LOCK (src);
    priv->last_peer_stats = peer_stats;
    priv->last_prefetched = prefetched;
    priv->last_adopted = adopted;
    priv->last_bytes_from_cdn = from_cdn;
    priv->last_bytes_from_peers = from_peers;
    priv->last_bytes_uploaded = uploaded;
    GST_OBJECT_UNLOCK (src);
  }
  g_object_unref (fetcher);
}

/* A source that cannot start fails its state change at once, with an
 * error on the bus, as souphttpsrc does: there must be an http(s) URL
 * with a host to fetch. */
static gboolean
check_location (GstMeshAdaptiveSrc * src)
{
  g_autofree gchar *location = gst_mesh_adaptive_src_dup_location (src);
  g_autoptr (GUri) uri = NULL;
  const gchar *scheme;

  if (!location || !*location) {
    GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ, ("No URL set."),
        ("Missing location property"));
    return FALSE;
  }
  uri = g_uri_parse (location, G_URI_FLAGS_NONE, NULL);
  scheme = uri ? g_uri_get_scheme (uri) : NULL;
  if (!uri || (g_ascii_strcasecmp (scheme, "http") != 0
          && g_ascii_strcasecmp (scheme, "https") != 0)) {
    GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ,
        ("Not an http:// or https:// URL: \"%s\"", location), (NULL));
    return FALSE;
  }
  if (!g_uri_get_host (uri) || !*g_uri_get_host (uri)) {
    GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ,
        ("No host in the URL \"%s\"", location), (NULL));
    return FALSE;
  }
  return TRUE;
}

static gboolean
start_streaming (GstMeshAdaptiveSrc * src)
{
  GstMeshAdaptiveSrcPrivate *priv = GET_PRIV (src);

  if (!check_location (src))
    return FALSE;
  post_property_problems (src);

  g_mutex_lock (&priv->lock);
  priv->stopping = FALSE;
  priv->start_time = g_get_monotonic_time ();
  priv->startup_ms = -1;
  g_mutex_unlock (&priv->lock);
  g_clear_object (&priv->manifest_cancellable);
  priv->manifest_cancellable = g_cancellable_new ();
  configure_peers (src, TRUE);
  gst_task_start (priv->manifest_task);
  start_stats (src);
  start_reports (src);
  return TRUE;
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
  /* what the run came to, even when it was shorter than stats-interval */
  gst_mesh_adaptive_src_post_final_stats (src);
  stop_reports (src);
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
      if (!start_streaming (src))
        return GST_STATE_CHANGE_FAILURE;
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
  priv->report_interval = DEFAULT_REPORT_INTERVAL;
  priv->startup_ms = -1;
  priv->max_peers = DEFAULT_MAX_PEERS;
  priv->upload = DEFAULT_UPLOAD;
  priv->max_upload_rate = DEFAULT_MAX_UPLOAD_RATE;
  priv->peer_congestion_control = DEFAULT_PEER_CONGESTION_CONTROL;
  priv->ice_candidate_policy = DEFAULT_ICE_CANDIDATE_POLICY;
  priv->integrity = DEFAULT_INTEGRITY;
  priv->cache_size = DEFAULT_CACHE_SIZE;
  priv->duration = GST_CLOCK_TIME_NONE;

  g_mutex_init (&priv->lock);
  g_cond_init (&priv->cond);
  g_mutex_init (&priv->seek_lock);
  g_mutex_init (&priv->config_lock);
  priv->property_problems = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, g_free);
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
  g_mutex_clear (&priv->config_lock);
  g_hash_table_unref (priv->property_problems);
  g_free (priv->location);
  g_free (priv->user_agent);
  g_free (priv->tracker);
  g_free (priv->tracker_token);
  g_free (priv->swarm_id);
  g_free (priv->stun_server);
  g_free (priv->turn_server);
  g_free (priv->local_address);
  g_free (priv->network_hint);
  g_clear_pointer (&priv->extra_headers, gst_structure_free);
  g_clear_object (&priv->fetcher);

  G_OBJECT_CLASS (gst_mesh_adaptive_src_parent_class)->finalize (object);
}

/* Ranges: numbers a user types stop at G_MAXINT / G_MAXINT64, so that a
 * negative value typed for an unsigned property ("cache-size=-1", which
 * reads as the largest unsigned number) is out of range and refused, not
 * taken as "huge". */
static void
install_properties (GObjectClass * gobject_class)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  /**
   * GstMeshAdaptiveSrc:location:
   *
   * The http:// or https:// URL of the manifest. Without one, or with
   * another kind of URL, the element fails to go to PAUSED.
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
          "Network speed to assume when choosing a representation, in kbit/s "
          "(0 = measure it)", 0, G_MAXUINT / 1000, DEFAULT_CONNECTION_SPEED,
          rw));

  /**
   * GstMeshAdaptiveSrc:bandwidth-target-ratio:
   *
   * Share of the measured bandwidth that the chosen bitrate may use; the
   * rest is the safety margin against throughput drops.
   */
  g_object_class_install_property (gobject_class, PROP_BANDWIDTH_TARGET_RATIO,
      g_param_spec_float ("bandwidth-target-ratio",
          "Ratio of target bandwidth / available bandwidth",
          "Share of the measured bandwidth that the chosen representation "
          "may use; the rest is a safety margin", 0, 1,
          DEFAULT_BANDWIDTH_TARGET_RATIO, rw));

  g_object_class_install_property (gobject_class, PROP_MIN_BITRATE,
      g_param_spec_uint ("min-bitrate", "Minimum bitrate",
          "Lowest bitrate ABR may choose, in bit/s (0 = no limit)",
          0, G_MAXINT, DEFAULT_MIN_BITRATE, rw));

  g_object_class_install_property (gobject_class, PROP_MAX_BITRATE,
      g_param_spec_uint ("max-bitrate", "Maximum bitrate",
          "Highest bitrate ABR may choose, in bit/s (0 = no limit)",
          0, G_MAXINT, DEFAULT_MAX_BITRATE, rw));

  g_object_class_install_property (gobject_class, PROP_START_BITRATE,
      g_param_spec_uint ("start-bitrate", "Starting bitrate",
          "Bitrate that picks the first representation, in bit/s: the "
          "highest one that fits (0 = the lowest representation)",
          0, G_MAXINT, DEFAULT_START_BITRATE, rw));

  g_object_class_install_property (gobject_class, PROP_MAX_VIDEO_WIDTH,
      g_param_spec_uint ("max-video-width", "Maximum video width",
          "Widest video representation ABR may choose, in pixels (0 = no "
          "limit)", 0, G_MAXINT, DEFAULT_MAX_VIDEO_WIDTH, rw));

  g_object_class_install_property (gobject_class, PROP_MAX_VIDEO_HEIGHT,
      g_param_spec_uint ("max-video-height", "Maximum video height",
          "Tallest video representation ABR may choose, in pixels (0 = no "
          "limit)", 0, G_MAXINT, DEFAULT_MAX_VIDEO_HEIGHT, rw));

  /**
   * GstMeshAdaptiveSrc:max-buffering-time:
   *
   * Downloads run ahead of what downstream has taken until this much media
   * is held, and resume as downstream takes it.
   */
  g_object_class_install_property (gobject_class, PROP_MAX_BUFFERING_TIME,
      g_param_spec_uint64 ("max-buffering-time", "Maximum buffering time",
          "Media to download ahead of what downstream has taken, in "
          "nanoseconds (at least 1 s)", GST_SECOND, G_MAXINT64,
          DEFAULT_MAX_BUFFERING_TIME, rw));

  /**
   * GstMeshAdaptiveSrc:live-delay:
   *
   * How far behind the live edge a live stream starts. -1 uses the
   * manifest's advice: three target durations for HLS.
   */
  g_object_class_install_property (gobject_class, PROP_LIVE_DELAY,
      g_param_spec_int64 ("live-delay", "Live delay",
          "How far behind the live edge a live stream starts, in nanoseconds "
          "(-1 = as the manifest advises, else three segments)", -1,
          G_MAXINT64, DEFAULT_LIVE_DELAY, rw | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_CURRENT_BANDWIDTH,
      g_param_spec_uint ("current-bandwidth", "Current download bandwidth",
          "Download throughput measured over the last fragments of the main "
          "stream, in bit/s", 0, G_MAXUINT, 0, ro));

  /**
   * GstMeshAdaptiveSrc:current-bitrate:
   *
   * The bitrate of what the main stream (the HLS variant, or the first
   * DASH AdaptationSet) plays now: the bandwidth the manifest declares for
   * it, or the size of the fragment over its duration where the manifest
   * declares none. 0 until the first fragment.
   */
  g_object_class_install_property (gobject_class, PROP_CURRENT_BITRATE,
      g_param_spec_uint ("current-bitrate", "Current bitrate",
          "Bitrate of the representation the main stream plays now, in "
          "bit/s: as the manifest declares it, else as measured",
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
      g_param_spec_boxed ("extra-headers", "Extra headers",
          "Extra HTTP request headers: each field a header name, with a "
          "string value or an array of strings", GST_TYPE_STRUCTURE, rw));

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
   * (guint64, ns); and how the segments asked of the swarm fared (guint64):
   * segments-to-peers, segments-from-peers, cdn-nobody, cdn-no-time,
   * cdn-peer-failed (why one went to the CDN), prefetched and
   * prefetch-adopted (asked ahead of the download, and later adopted by
   * it), with slack-histogram (string, "500:3,1000:0,...,inf:2": requests
   * by their deadline minus request time, upper bounds in ms), and
   * cache-bytes (guint64: segments held now to serve other viewers, at
   * most cache-size); and what the viewer saw: stalls, stall-ms (guint64)
   * and startup-ms (gint64, -1 before the first buffer), as defined for
   * report-interval. One more is posted at the end of the stream and when
   * the element stops, so that a run shorter than the interval reports too.
   */
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Statistics interval",
          "Milliseconds between mesh-stats messages on the bus; one more at "
          "the end and on stop (0 = none at all)", 0, G_MAXINT,
          DEFAULT_STATS_INTERVAL, rw | GST_PARAM_MUTABLE_READY));
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
   * The mesh-tracker WebSocket URL, e.g. ws://127.0.0.1:8765/announce,
   * or several separated by spaces or commas: instances that share their
   * swarms (docs/tracker.md "Redis mode"), tried in turn on each
   * reconnect. Empty: every byte comes from the CDN. A URL that is not ws:// or
   * wss://, or a tracker that cannot be reached, is a warning on the bus,
   * and playback goes on from the CDN.
   */
  g_object_class_install_property (gobject_class, PROP_TRACKER,
      g_param_spec_string ("tracker", "Tracker",
          "mesh-tracker URL (ws:// or wss://) that puts viewers of the stream "
          "in touch, or several (space- or comma-separated) tried in turn "
          "(empty = CDN only)", NULL, rw));

  /**
   * GstMeshAdaptiveSrc:tracker-token:
   *
   * The access token the content provider's backend issued for this swarm,
   * presented when joining a tracker that requires tokens (see
   * docs/tracker.md). A bearer credential: it is never logged.
   */
  g_object_class_install_property (gobject_class, PROP_TRACKER_TOKEN,
      g_param_spec_string ("tracker-token", "Tracker access token",
          "Access token presented to the tracker when joining the swarm "
          "(NULL = none; needed when the tracker requires tokens). May be "
          "replaced while playing, before it expires: the next join (a "
          "reconnection) presents the new one", NULL, rw));

  /**
   * GstMeshAdaptiveSrc:swarm-id:
   *
   * Viewers with the same swarm id share segments. By default the manifest
   * URL without its query string, so that tokenised URLs of one stream meet.
   */
  g_object_class_install_property (gobject_class, PROP_SWARM_ID,
      g_param_spec_string ("swarm-id", "Swarm id",
          "Identity of the stream among viewers (NULL = the manifest URL "
          "without its query)", NULL, rw));

  g_object_class_install_property (gobject_class, PROP_STUN_SERVER,
      g_param_spec_string ("stun-server", "STUN server",
          "STUN server for server-reflexive ICE candidates, as host:port "
          "(NULL = none)", NULL, rw));

  g_object_class_install_property (gobject_class, PROP_TURN_SERVER,
      g_param_spec_string ("turn-server", "TURN server",
          "TURN server for relayed ICE candidates, as "
          "turn://user:password@host:port (NULL = none)", NULL, rw));

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
          0, G_MAXINT64, DEFAULT_MAX_UPLOAD_RATE, rw));

  g_object_class_install_property (gobject_class, PROP_PEER_CONGESTION_CONTROL,
      g_param_spec_enum ("peer-congestion-control", "Peer congestion control",
          "How links to other viewers share the network: cubic leaves room "
          "for the viewer's own traffic on a shared uplink (measured: fewer "
          "drops and more offload in a swarm of capped uplinks); bbr keeps "
          "its rate where packets are lost at random (lossy radio links). "
          "Read when the element joins the swarm",
          GST_TYPE_MESH_PEER_CONGESTION_CONTROL,
          DEFAULT_PEER_CONGESTION_CONTROL, rw));

  g_object_class_install_property (gobject_class, PROP_ICE_CANDIDATE_POLICY,
      g_param_spec_enum ("ice-candidate-policy", "ICE candidate policy",
          "Which of the viewer's addresses its peers learn (every peer of the "
          "stream gets the ICE candidates the viewer signals): all = its LAN "
          "(host) and public addresses, the most direct paths; no-host = the "
          "public address only (server-reflexive and relayed candidates), "
          "needs stun-server or turn-server, else no peer link can form; "
          "relay-only = the TURN server's address only, needs turn-server, "
          "which then carries all peer traffic (its bandwidth, added "
          "latency). no-host does not hide the LAN address from a peer on "
          "the same LAN, nor the public one from any peer. Read when the "
          "element joins the swarm",
          GST_TYPE_MESH_ICE_CANDIDATE_POLICY,
          DEFAULT_ICE_CANDIDATE_POLICY, rw));

  /**
   * GstMeshAdaptiveSrc:integrity:
   *
   * How segments from peers are verified before they are played or shared.
   * The content provider publishes the SHA-256 of every media file in
   * `mesh-hashes.json` next to the manifest (tools/hashes, mesh-hashes);
   * a segment whose bytes from peers do not match is fetched again from
   * the CDN in time, and its sender cut off and reported to the tracker.
   */
  g_object_class_install_property (gobject_class, PROP_INTEGRITY,
      g_param_spec_enum ("integrity", "Integrity",
          "How segments from peers are verified: auto verifies with the "
          "SHA-256 digests the provider publishes next to the manifest "
          "(mesh-hashes.json), else with those the tracker attests "
          "(mesh-tracker --attest-origin), and uses the CDN alone without "
          "either; none trusts every peer (unsafe outside closed swarms). "
          "Read when the element joins the swarm",
          GST_TYPE_MESH_INTEGRITY, DEFAULT_INTEGRITY, rw));

  g_object_class_install_property (gobject_class, PROP_CACHE_SIZE,
      g_param_spec_uint64 ("cache-size", "Cache size",
          "Bytes of recent segments kept to serve other viewers (0 = keep "
          "none)", 0, G_MAXINT64, DEFAULT_CACHE_SIZE, rw));

  g_object_class_install_property (gobject_class, PROP_LOCAL_ADDRESS,
      g_param_spec_string ("local-address", "Local address",
          "Only offer ICE host candidates on this IP address (NULL = all "
          "interfaces)", NULL, rw));

  g_object_class_install_property (gobject_class, PROP_BYTES_UPLOADED,
      g_param_spec_uint64 ("bytes-uploaded", "Bytes uploaded",
          "Media bytes sent to other viewers", 0, G_MAXUINT64, 0, ro));

  g_object_class_install_property (gobject_class, PROP_PEERS,
      g_param_spec_uint ("peers", "Peers", "Peer links connected now",
          0, G_MAXUINT, 0, ro));

  /**
   * GstMeshAdaptiveSrc:report-interval:
   *
   * Seconds between the `qos` reports sent to the tracker over the
   * signalling connection (docs/protocol.md 1.4); one more when the element
   * stops. Only with a tracker. A report carries bytes-from-cdn,
   * bytes-from-peers and bytes-uploaded, the stalls and their duration,
   * the startup time, the bitrate and resolution of the main stream's
   * variant, the peers connected and the network-hint. A stall is a run of
   * main-stream fragments that each leave the element more than 100 ms
   * after the pipeline clock reached their running time + latency (the
   * first fragment after the start or a seek is not counted: its wait is
   * the startup's); it lasts as long as the latest of them was late.
   * Startup is from READY -> PAUSED to the first buffer out.
   */
  g_object_class_install_property (gobject_class, PROP_REPORT_INTERVAL,
      g_param_spec_uint ("report-interval", "QoS report interval",
          "Seconds between the qos reports sent to the tracker (bytes from "
          "the CDN, from peers and uploaded; stalls: runs of main-stream "
          "fragments leaving more than 100 ms after their running time + "
          "latency, and their duration; startup from READY->PAUSED to the "
          "first buffer; bitrate and resolution playing; peers; "
          "network-hint); one more on stop (0 = none)", 0,
          MAX_REPORT_INTERVAL, DEFAULT_REPORT_INTERVAL, rw));

  /**
   * GstMeshAdaptiveSrc:network-hint:
   *
   * The viewer's network, e.g. the site id of an enterprise network behind
   * one NAT: sent with the join and the qos reports, the tracker groups
   * viewers with the same hint as if they shared an address prefix. 1 to
   * 64 characters of [A-Za-z0-9._:-]; anything else is ignored, with a
   * warning on the bus when streaming starts (the join goes without it).
   */
  g_object_class_install_property (gobject_class, PROP_NETWORK_HINT,
      g_param_spec_string ("network-hint", "Network hint",
          "The viewer's network (e.g. its site id behind one NAT), sent to "
          "the tracker with the join and the qos reports so that it groups "
          "viewers with the same hint: 1 to 64 characters of "
          "[A-Za-z0-9._:-]; an invalid one is ignored with a bus warning "
          "(NULL = none)", NULL, rw));
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
  gst_type_mark_as_plugin_api (GST_TYPE_MESH_PEER_CONGESTION_CONTROL, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_MESH_ICE_CANDIDATE_POLICY, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_MESH_INTEGRITY, 0);
}
