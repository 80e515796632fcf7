/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * meshdashsrc: the MPEG-DASH side of GstMeshAdaptiveSrc. It turns the MPD
 * into streams (the first video AdaptationSet, the first audio one, main role
 * first, and the first text one), lets ABR choose among the Representations
 * of each set, and walks the segments of each stream period after period. A
 * dynamic MPD is reloaded every minimumUpdatePeriod and its segments are
 * fetched once the (UTCTiming-synchronised) wall clock says they exist.
 *
 * Threads: load_manifest() runs on the base class's manifest task before any
 * stream exists; everything in a DashStream is then touched only by that
 * stream's task (and by seek(), which runs while all tasks are stopped).
 * `streams` and `location` are written by load_manifest() and reset() only,
 * when no stream task runs, and read-only in between.
 *
 * The MPD is one document for all the streams. Each parsed version lives in a
 * reference-counted DashManifest that is never modified; a stream walks the
 * version it holds (its pointers into the model stay valid) and adopts a
 * newer one from its own update(). self->lock guards the latest version
 * (self->manifest) and the clock offset; it is never held during I/O, and it
 * is taken before the object lock (installing a version sets the base
 * class's live flag and duration). `presentation_delay` (the property) is
 * guarded by the object lock.
 */
/**
 * SECTION:element-meshdashsrc
 * @title: meshdashsrc
 *
 * Plays an MPEG-DASH stream (static or dynamic MPD; SegmentTemplate with
 * $Number$ or SegmentTimeline, SegmentList, or SegmentBase with a sidx
 * index; one or several Periods) and outputs, on one pad per selected
 * AdaptationSet (video, audio, text), the init section followed by the media
 * segments of the Representation ABR chose, as they are served. decodebin,
 * playbin and playbin3 demux and decode them. ContentProtection elements
 * with a system id become protection events.
 *
 * Every request goes through the gst-mesh fetcher, which counts the bytes
 * (`bytes-from-cdn`, `bytes-from-peers`, `p2p-ratio`) and posts them in
 * `mesh-stats` element messages.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 playbin uri=meshdash+http://127.0.0.1:8080/manifest.mpd
 * gst-launch-1.0 meshdashsrc location=http://127.0.0.1:8080/manifest.mpd \
 *     presentation-delay=3f ! qtdemux ! h264parse ! avdec_h264 ! \
 *     autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmeshdashsrc.h"

#include <string.h>

#include "mesh-dash-segments.h"

GST_DEBUG_CATEGORY_STATIC (gst_mesh_dash_src_debug);
#define GST_CAT_DEFAULT gst_mesh_dash_src_debug


/* Segment starts computed from different timescales differ by rounding: a
 * segment that ends this close after a position does not contain it. */
#define POSITION_TOLERANCE (10 * GST_MSECOND)
/* Used when neither the MPD nor the Representation tells a duration. */
#define DEFAULT_SEGMENT_DURATION (2 * GST_SECOND)
/* A minimumUpdatePeriod of 0 (or a few ms) would mean reloading without
 * pause, a request loop on the origin and a parse each time. Half a second
 * is half the shortest segments live DASH packagers make (1 s), so a
 * stream never learns of a new segment much later than it could, and an
 * MPD that asks for less costs at most two reloads a second. */
#define MIN_RELOAD_PERIOD (500 * GST_MSECOND)
/* Segments listed at a time: a window from the position on (see
 * dash_stream_list_segments()), never the whole presentation, which the
 * MPD could make a million segments long in a few hundred bytes. 256
 * segments are minutes of media, far more than the fetcher looks ahead. */
#define WINDOW_SEGMENTS 256
/* Live windows reach a few segments either side of the position, of at
 * most this duration each: an hour is longer than any live segment, and
 * keeps the sums of times far from overflowing */
#define MAX_MARGIN_SEGMENT (3600 * GST_SECOND)
/* Parsed sidx boxes a stream keeps (one per file and index range): up to
 * 65535 subsegments each */
#define MAX_CACHED_INDEXES 16

enum
{
  PROP_0,
  PROP_PRESENTATION_DELAY,
};

/* One parsed version of the MPD, shared by the streams, never modified. */
typedef struct
{
  MeshDashMpd *mpd;
  gint64 fetched;               /* monotonic µs of the download */
} DashManifest;

struct _GstMeshDashSrc
{
  GstMeshAdaptiveSrc parent;

  /* see the top of the file */
  GPtrArray *streams;           /* DashStream*, not owned (the base frees) */

  /* self->lock */
  GMutex lock;
  DashManifest *manifest;       /* the latest version */
  gint64 clock_offset;          /* µs: server wall clock - g_get_real_time() */

  /* object lock */
  gchar *presentation_delay;
};

/* The state of one output stream. */
typedef struct
{
  gchar *name;
  MeshDashContentType kind;
  GstMeshStream *stream;        /* not a ref: the stream owns us */
  DashManifest *manifest;       /* the version walked (a ref) */
  guint period;                 /* index in the MPD; past the end: ended */
  guint adaptation_set;         /* index in the period */
  guint rep;                    /* index in the set's representations */
  gchar *set_id;                /* to find the set again in other periods */
  gchar *set_lang;
  GArray *segments;             /* MeshDashSegment of the current
                                 * Representation: a window from the one
                                 * holding `window_from` on, of at most
                                 * WINDOW_SEGMENTS; NULL = to be listed */
  GstClockTime window_from;
  gboolean window_truncated;    /* more segments follow the window's */
  guint hint;                   /* where the last lookup in it succeeded */
  GHashTable *indexes;          /* "url@offset" -> MeshIsobmffIndex: the
                                 * parsed sidx boxes, whichever Periods
                                 * share them */
  GstClockTime position;        /* period-relative start of the next segment */
  GstClockTime next_end;        /* end of what next_fragment() returned */
  gboolean discont;
  gboolean need_index;          /* update() must fetch the sidx */
  MeshAbrCandidate *declared;   /* what the base class was told last */
  guint n_declared;
  guint declared_current;
} DashStream;

typedef enum
{
  NEXT_FOUND,
  NEXT_END_OF_PERIOD,
  NEXT_NOT_YET,                 /* live: *available_at says when */
  NEXT_NEED_RELOAD,             /* live: the MPD lists nothing further yet */
  NEXT_NEED_INDEX,
  NEXT_ERROR,
} NextResult;

/* Logs about one stream name its pad (<meshdashsrc0:src_1>) */
#define DS_OBJECT(ds) gst_mesh_stream_get_pad ((ds)->stream)

G_DEFINE_TYPE_WITH_CODE (GstMeshDashSrc, gst_mesh_dash_src,
    GST_TYPE_MESH_ADAPTIVE_SRC,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_mesh_adaptive_src_uri_handler_init);
    GST_DEBUG_CATEGORY_INIT (gst_mesh_dash_src_debug, "meshdashsrc", 0,
        "gst-mesh DASH source"));
GST_ELEMENT_REGISTER_DEFINE (meshdashsrc, "meshdashsrc", GST_RANK_PRIMARY,
    GST_TYPE_MESH_DASH_SRC);

/* ------------------------------------------------------------------------ */
/* Manifest versions */

static DashManifest *
dash_manifest_new (MeshDashMpd * mpd)
{
  DashManifest *m = g_atomic_rc_box_new0 (DashManifest);

  m->mpd = mpd;
  m->fetched = g_get_monotonic_time ();
  return m;
}

static void
dash_manifest_clear (DashManifest * m)
{
  mesh_dash_mpd_free (m->mpd);
}

static DashManifest *
dash_manifest_ref (DashManifest * m)
{
  return g_atomic_rc_box_acquire (m);
}

static void
dash_manifest_unref (DashManifest * m)
{
  g_atomic_rc_box_release_full (m, (GDestroyNotify) dash_manifest_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DashManifest, dash_manifest_unref);

/* Monotonic µs at which this version is due for a reload; G_MAXINT64 for
 * never (static MPD, or dynamic without minimumUpdatePeriod). */
static gint64
dash_manifest_next_reload (const DashManifest * m)
{
  GstClockTime period = m->mpd->minimum_update_period;

  if (!m->mpd->dynamic || !GST_CLOCK_TIME_IS_VALID (period))
    return G_MAXINT64;
  return m->fetched + GST_TIME_AS_USECONDS (MAX (period, MIN_RELOAD_PERIOD));
}

static DashManifest *
get_latest_manifest (GstMeshDashSrc * self)
{
  DashManifest *m;

  g_mutex_lock (&self->lock);
  m = self->manifest ? dash_manifest_ref (self->manifest) : NULL;
  g_mutex_unlock (&self->lock);
  return m;
}

static GstClockTime
mpd_duration (const MeshDashMpd * mpd)
{
  const MeshDashPeriod *last;

  if (mpd->dynamic)
    return GST_CLOCK_TIME_NONE;
  if (GST_CLOCK_TIME_IS_VALID (mpd->media_presentation_duration))
    return mpd->media_presentation_duration;
  if (mpd->periods->len == 0)
    return GST_CLOCK_TIME_NONE;
  last = g_ptr_array_index (mpd->periods, mpd->periods->len - 1);
  if (!GST_CLOCK_TIME_IS_VALID (last->duration))
    return GST_CLOCK_TIME_NONE;
  return last->start + last->duration;
}

/* Makes @m the latest version unless a newer one arrived meanwhile; returns
 * the latest (a ref). */
static DashManifest *
install_manifest (GstMeshDashSrc * self, DashManifest * m)
{
  DashManifest *latest;

  g_mutex_lock (&self->lock);
  if (!self->manifest || self->manifest->fetched <= m->fetched) {
    g_clear_pointer (&self->manifest, dash_manifest_unref);
    self->manifest = dash_manifest_ref (m);
    if (gst_mesh_adaptive_src_is_live (GST_MESH_ADAPTIVE_SRC (self))
        && !m->mpd->dynamic)
      GST_INFO_OBJECT (self, "the MPD became static");
    gst_mesh_adaptive_src_set_presentation (GST_MESH_ADAPTIVE_SRC (self),
        m->mpd->dynamic, mpd_duration (m->mpd));
  }
  latest = dash_manifest_ref (self->manifest);
  g_mutex_unlock (&self->lock);
  return latest;
}

/* ------------------------------------------------------------------------ */
/* Looking at the model */

static const MeshDashPeriod *
period_at (const MeshDashMpd * mpd, guint index)
{
  return g_ptr_array_index (mpd->periods, index);
}

static const MeshDashAdaptationSet *
set_at (const MeshDashPeriod * period, guint index)
{
  return g_ptr_array_index (period->adaptation_sets, index);
}

static const MeshDashRepresentation *
rep_at (const MeshDashAdaptationSet * set, guint index)
{
  return g_ptr_array_index (set->representations, index);
}

/* "Period 'p0', AdaptationSet 1, Representation 'v0'" for error messages;
 * a negative index leaves that level out. */
static gchar *
describe (const MeshDashMpd * mpd, guint period_index, gint set_index,
    gint rep_index)
{
  const MeshDashPeriod *period = period_at (mpd, period_index);
  GString *s = g_string_new (NULL);

  if (period->id)
    g_string_append_printf (s, "Period '%s'", period->id);
  else
    g_string_append_printf (s, "Period %u", period_index);
  if (set_index >= 0) {
    const MeshDashAdaptationSet *set = set_at (period, set_index);

    if (set->id)
      g_string_append_printf (s, ", AdaptationSet '%s'", set->id);
    else
      g_string_append_printf (s, ", AdaptationSet %d", set_index);
    if (rep_index >= 0) {
      const MeshDashRepresentation *rep = rep_at (set, rep_index);

      if (rep->id)
        g_string_append_printf (s, ", Representation '%s'", rep->id);
      else
        g_string_append_printf (s, ", Representation %d", rep_index);
    }
  }
  return g_string_free (s, FALSE);
}

static MeshDashContentType
kind_from_mime_or_codecs (const gchar * mime, const gchar * codecs)
{
  if (mime && g_str_has_prefix (mime, "video/"))
    return MESH_DASH_CONTENT_VIDEO;
  if (mime && g_str_has_prefix (mime, "audio/"))
    return MESH_DASH_CONTENT_AUDIO;
  if (mime && (g_str_has_prefix (mime, "text/")
          || g_str_has_prefix (mime, "application/ttml")))
    return MESH_DASH_CONTENT_TEXT;
  if (!codecs)
    return MESH_DASH_CONTENT_UNKNOWN;
  if (g_str_has_prefix (codecs, "avc") || g_str_has_prefix (codecs, "hvc")
      || g_str_has_prefix (codecs, "hev") || g_str_has_prefix (codecs, "vp0")
      || g_str_has_prefix (codecs, "av01"))
    return MESH_DASH_CONTENT_VIDEO;
  if (g_str_has_prefix (codecs, "mp4a") || g_str_has_prefix (codecs, "ac-3")
      || g_str_has_prefix (codecs, "ec-3") || g_str_has_prefix (codecs, "opus")
      || g_str_has_prefix (codecs, "fLaC"))
    return MESH_DASH_CONTENT_AUDIO;
  if (g_str_has_prefix (codecs, "wvtt") || g_str_has_prefix (codecs, "stpp"))
    return MESH_DASH_CONTENT_TEXT;
  return MESH_DASH_CONTENT_UNKNOWN;
}

/* contentType, else from the mime types and codecs of the set and of its
 * first Representation. */
static MeshDashContentType
set_kind (const MeshDashAdaptationSet * set)
{
  const MeshDashRepresentation *rep;
  MeshDashContentType kind;

  if (set->content_type != MESH_DASH_CONTENT_UNKNOWN)
    return set->content_type;
  kind = kind_from_mime_or_codecs (set->mime_type, set->codecs);
  if (kind != MESH_DASH_CONTENT_UNKNOWN || set->representations->len == 0)
    return kind;
  rep = rep_at (set, 0);
  return kind_from_mime_or_codecs (rep->mime_type, rep->codecs);
}

static gboolean
set_has_role (const MeshDashAdaptationSet * set, const gchar * role)
{
  guint i;

  for (i = 0; set->roles && i < set->roles->len; i++)
    if (g_strcmp0 (g_ptr_array_index (set->roles, i), role) == 0)
      return TRUE;
  return FALSE;
}

/* Common Encryption (ISO/IEC 23001-7): samples are encrypted, the ISO BMFF
 * boxes are not, so the demuxer and a decryptor downstream play it from the
 * protection events. */
#define CENC_SCHEME "urn:mpeg:dash:mp4protection:2011"
/* Segment Encryption and Authentication (ISO/IEC 23009-4): whole segments
 * are encrypted with keys the MPD points at; not implemented. */
#define SEA_SCHEME "urn:mpeg:dash:sea:2012"

/* NULL when @set is clear, or protected by Common Encryption or a DRM
 * system (urn:uuid:); else why it cannot be played: its segments would
 * reach the demuxer encrypted, and fail as data of an unknown type. */
static gchar *
protection_problem (const MeshDashAdaptationSet * set)
{
  const gchar *unknown = NULL;
  gboolean usable = FALSE;
  guint i;

  for (i = 0; set->content_protections && i < set->content_protections->len;
      i++) {
    const MeshDashContentProtection *cp =
        g_ptr_array_index (set->content_protections, i);

    if (g_ascii_strcasecmp (cp->scheme_id_uri, SEA_SCHEME) == 0)
      return g_strdup ("ContentProtection " SEA_SCHEME " (segment "
          "encryption) is not supported");
    if (g_ascii_strcasecmp (cp->scheme_id_uri, CENC_SCHEME) == 0
        || g_ascii_strncasecmp (cp->scheme_id_uri, "urn:uuid:", 9) == 0)
      usable = TRUE;
    else if (!unknown)
      unknown = cp->scheme_id_uri;
  }
  if (unknown && !usable)
    return g_strdup_printf ("ContentProtection %s is not a supported "
        "protection scheme", unknown);
  return NULL;
}

/* WebM files index their clusters with Cues, which is not a sidx */
static gboolean
rep_is_webm (const MeshDashRepresentation * rep)
{
  return rep->mime_type && (g_str_has_prefix (rep->mime_type, "video/webm")
      || g_str_has_prefix (rep->mime_type, "audio/webm"));
}

/* NULL when every Representation of the set can be played, else why not. */
static gchar *
set_problem (const MeshDashMpd * mpd, guint period_index, guint set_index)
{
  const MeshDashAdaptationSet *set =
      set_at (period_at (mpd, period_index), set_index);
  g_autofree gchar *where = NULL;
  g_autofree gchar *protection = NULL;
  guint i;

  if (set->representations->len == 0) {
    where = describe (mpd, period_index, set_index, -1);
    return g_strdup_printf ("%s has no Representation", where);
  }
  if ((protection = protection_problem (set))) {
    where = describe (mpd, period_index, set_index, -1);
    return g_strdup_printf ("%s: %s", where, protection);
  }
  for (i = 0; i < set->representations->len; i++) {
    const MeshDashRepresentation *rep = rep_at (set, i);

    if (rep->segments.kind == MESH_DASH_SEGMENTS_NONE) {
      where = describe (mpd, period_index, set_index, i);
      return g_strdup_printf ("%s has no supported segment information "
          "(SegmentTemplate, SegmentList or SegmentBase)", where);
    }
    if (rep->segments.kind == MESH_DASH_SEGMENTS_BASE && rep_is_webm (rep)) {
      where = describe (mpd, period_index, set_index, i);
      return g_strdup_printf ("%s: WebM SegmentBase (Cues index) is not "
          "supported", where);
    }
    if (rep->segments.kind == MESH_DASH_SEGMENTS_BASE
        && rep->segments.index_offset < 0) {
      where = describe (mpd, period_index, set_index, i);
      return g_strdup_printf ("%s uses SegmentBase without indexRange, "
          "which is not supported", where);
    }
  }
  return NULL;
}

/* The set a new stream of @kind plays in @period: the first playable one
 * (audio: the first with Role main, else the first). -1 when there is none;
 * *@problem gets why the first set of that kind could not be played. */
static gint
select_set (const MeshDashMpd * mpd, guint period_index,
    MeshDashContentType kind, gchar ** problem)
{
  const MeshDashPeriod *period = period_at (mpd, period_index);
  gint first = -1;
  guint i;

  for (i = 0; i < period->adaptation_sets->len; i++) {
    const MeshDashAdaptationSet *set = set_at (period, i);
    gchar *why;

    if (set_kind (set) != kind)
      continue;
    why = set_problem (mpd, period_index, i);
    if (why) {
      if (problem && !*problem)
        *problem = why;
      else
        g_free (why);
      continue;
    }
    if (kind != MESH_DASH_CONTENT_AUDIO || set_has_role (set, "main"))
      return i;
    if (first < 0)
      first = i;
  }
  return first;
}

/* The set of @period that continues what @ds played: the same id, else the
 * same kind and language, else the default choice. */
static gint
find_matching_set (const MeshDashMpd * mpd, guint period_index,
    const DashStream * ds)
{
  const MeshDashPeriod *period = period_at (mpd, period_index);
  guint i;

  for (i = 0; ds->set_id && i < period->adaptation_sets->len; i++) {
    const MeshDashAdaptationSet *set = set_at (period, i);
    g_autofree gchar *why = NULL;

    if (g_strcmp0 (set->id, ds->set_id) != 0 || set_kind (set) != ds->kind)
      continue;
    why = set_problem (mpd, period_index, i);
    if (!why)
      return i;
  }
  for (i = 0; ds->set_lang && i < period->adaptation_sets->len; i++) {
    const MeshDashAdaptationSet *set = set_at (period, i);
    g_autofree gchar *why = NULL;

    if (g_strcmp0 (set->lang, ds->set_lang) != 0 || set_kind (set) != ds->kind)
      continue;
    why = set_problem (mpd, period_index, i);
    if (!why)
      return i;
  }
  return select_set (mpd, period_index, ds->kind, NULL);
}

/* Index of the Representation of @set closest to @bandwidth from below (the
 * lowest when all are above). */
static guint
find_rep_by_bandwidth (const MeshDashAdaptationSet * set, guint64 bandwidth)
{
  guint i, best = 0;

  for (i = 0; i < set->representations->len; i++)
    if (rep_at (set, i)->bandwidth <= bandwidth)
      best = i;
  return best;
}

/* A typical segment duration of @rep, for delays counted in segments. */
static GstClockTime
rep_segment_duration (const MeshDashMpd * mpd,
    const MeshDashRepresentation * rep)
{
  const MeshDashSegmentInfo *info = &rep->segments;
  guint64 timescale = MAX (info->timescale, 1);

  if (info->duration > 0)
    return gst_util_uint64_scale (info->duration, GST_SECOND, timescale);
  if (info->timeline && info->timeline->len > 0) {
    const MeshDashTimelineEntry *last = &g_array_index (info->timeline,
        MeshDashTimelineEntry, info->timeline->len - 1);
    return gst_util_uint64_scale (last->d, GST_SECOND, timescale);
  }
  if (GST_CLOCK_TIME_IS_VALID (mpd->max_segment_duration))
    return mpd->max_segment_duration;
  return DEFAULT_SEGMENT_DURATION;
}

/* ------------------------------------------------------------------------ */
/* Wall clock (dynamic MPDs) */

static gint64
server_now (GstMeshDashSrc * self)
{
  gint64 offset;

  g_mutex_lock (&self->lock);
  offset = self->clock_offset;
  g_mutex_unlock (&self->lock);
  return g_get_real_time () + offset;
}

/* Where the live edge is in @period (ns, negative before it starts). */
static GstClockTimeDiff
live_edge_in_period (GstMeshDashSrc * self, const MeshDashMpd * mpd,
    const MeshDashPeriod * period)
{
  gint64 since_start = server_now (self) - mpd->availability_start_time;

  return since_start * GST_USECOND - (GstClockTimeDiff) period->start;
}

/* The monotonic µs at which the live edge reaches @time of @period. */
static gint64
monotonic_time_at (GstMeshDashSrc * self, const MeshDashMpd * mpd,
    const MeshDashPeriod * period, GstClockTime time)
{
  gint64 wall = mpd->availability_start_time +
      (gint64) GST_TIME_AS_USECONDS (period->start + time);

  return g_get_monotonic_time () + (wall - server_now (self));
}

static gboolean
parse_utc_date (const gchar * text, gsize len, gint64 * us)
{
  g_autofree gchar *s = g_strstrip (g_strndup (text, len));
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) date = g_date_time_new_from_iso8601 (s, utc);

  if (!date)
    return FALSE;
  *us = g_date_time_to_unix (date) * G_USEC_PER_SEC +
      g_date_time_get_microsecond (date);
  return TRUE;
}

/* Offset (µs) of the server clock from ours, by one UTCTiming element.
 * FALSE when this one did not work (*error says why; cancellation too). */
static gboolean
measure_clock_offset (GstMeshDashSrc * self, const MeshDashUtcTiming * timing,
    GCancellable * cancellable, gint64 * offset, GError ** error)
{
  g_autoptr (GBytes) body = NULL;
  gint64 before, after, server;

  switch (timing->scheme) {
    case MESH_DASH_UTC_DIRECT:
      if (!timing->value || !parse_utc_date (timing->value,
              strlen (timing->value), &server))
        break;
      *offset = server - g_get_real_time ();
      return TRUE;
    case MESH_DASH_UTC_HTTP_ISO:
    case MESH_DASH_UTC_HTTP_XSDATE:
      if (!timing->value)
        break;
      before = g_get_real_time ();
      body = gst_mesh_adaptive_src_fetch_manifest (GST_MESH_ADAPTIVE_SRC
          (self), timing->value, NULL, cancellable, error);
      after = g_get_real_time ();
      if (!body)
        return FALSE;
      if (!parse_utc_date (g_bytes_get_data (body, NULL),
              g_bytes_get_size (body), &server))
        break;
      /* the server read its clock about halfway through the request */
      *offset = server - (before + (after - before) / 2);
      return TRUE;
    case MESH_DASH_UTC_HTTP_HEAD:
      g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_UNSUPPORTED,
          "UTCTiming http-head is not supported");
      return FALSE;
  }
  g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
      "UTCTiming %s gave no valid date", timing->value ? timing->value : "");
  return FALSE;
}

/* Synchronises with the first UTCTiming that works (ours when none does).
 * FALSE only when cancelled. */
static gboolean
sync_clock (GstMeshDashSrc * self, const MeshDashMpd * mpd,
    GCancellable * cancellable, GError ** error)
{
  gint64 offset = 0;
  guint i;

  for (i = 0; mpd->utc_timings && i < mpd->utc_timings->len; i++) {
    g_autoptr (GError) err = NULL;

    if (measure_clock_offset (self, g_ptr_array_index (mpd->utc_timings, i),
            cancellable, &offset, &err)) {
      GST_INFO_OBJECT (self, "server clock is %" G_GINT64_FORMAT " µs ahead",
          offset);
      g_mutex_lock (&self->lock);
      self->clock_offset = offset;
      g_mutex_unlock (&self->lock);
      return TRUE;
    }
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_error (error, g_steal_pointer (&err));
      return FALSE;
    }
    GST_WARNING_OBJECT (self, "clock synchronisation failed: %s", err->message);
  }
  if (mpd->utc_timings && mpd->utc_timings->len > 0)
    GST_WARNING_OBJECT (self, "no UTCTiming worked, trusting the local clock");
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Presentation delay */

/* "12s", "2500ms" or "3f" (segments). FALSE when malformed. */
static gboolean
parse_presentation_delay (const gchar * text, GstClockTime * time,
    guint64 * segments)
{
  gchar *end = NULL;
  gdouble value;

  if (!text || !g_ascii_isdigit (text[0]))
    return FALSE;
  value = g_ascii_strtod (text, &end);
  if (end == text || value < 0 || value > 1e9)
    return FALSE;
  *time = GST_CLOCK_TIME_NONE;
  *segments = 0;
  if (g_str_equal (end, "s")) {
    *time = (GstClockTime) (value * GST_SECOND);
  } else if (g_str_equal (end, "ms")) {
    *time = (GstClockTime) (value * GST_MSECOND);
  } else if (g_str_equal (end, "f") && value == (guint64) value) {
    *segments = (guint64) value;
  } else {
    return FALSE;
  }
  return TRUE;
}

/* How far behind the live edge to start: live-delay, else
 * presentation-delay, else suggestedPresentationDelay, else three segments
 * of @rep. */
static GstClockTime
choose_live_delay (GstMeshDashSrc * self, const MeshDashMpd * mpd,
    const MeshDashRepresentation * rep)
{
  GstClockTime segment = rep_segment_duration (mpd, rep);
  GstClockTime delay = 3 * segment, time;
  g_autofree gchar *property = NULL;
  guint64 segments;

  GST_OBJECT_LOCK (self);
  property = g_strdup (self->presentation_delay);
  GST_OBJECT_UNLOCK (self);

  if (property && parse_presentation_delay (property, &time, &segments))
    delay = GST_CLOCK_TIME_IS_VALID (time) ? time : segments * segment;
  else if (GST_CLOCK_TIME_IS_VALID (mpd->suggested_presentation_delay))
    delay = mpd->suggested_presentation_delay;
  return gst_mesh_adaptive_src_get_live_delay (GST_MESH_ADAPTIVE_SRC (self),
      delay);
}

/* ------------------------------------------------------------------------ */
/* Streams */

static void
dash_stream_drop_segments (DashStream * ds)
{
  g_clear_pointer (&ds->segments, g_array_unref);
  ds->hint = 0;
}

static void
dash_stream_free (DashStream * ds)
{
  dash_stream_drop_segments (ds);
  g_clear_pointer (&ds->manifest, dash_manifest_unref);
  g_hash_table_unref (ds->indexes);
  g_free (ds->name);
  g_free (ds->set_id);
  g_free (ds->set_lang);
  g_free (ds->declared);
  g_free (ds);
}

static const MeshDashMpd *
ds_mpd (const DashStream * ds)
{
  return ds->manifest->mpd;
}

static gboolean
ds_ended (const DashStream * ds)
{
  return ds->period >= ds_mpd (ds)->periods->len;
}

static const MeshDashPeriod *
ds_period (const DashStream * ds)
{
  return period_at (ds_mpd (ds), ds->period);
}

static const MeshDashAdaptationSet *
ds_set (const DashStream * ds)
{
  return set_at (ds_period (ds), ds->adaptation_set);
}

static const MeshDashRepresentation *
ds_rep (const DashStream * ds)
{
  return rep_at (ds_set (ds), ds->rep);
}

/* The ABR candidates are the Representations of the current set. Declared
 * again only when they change: the base class reads them from its
 * statistics thread. */
static void
dash_stream_declare_representations (DashStream * ds)
{
  const MeshDashAdaptationSet *set = ds_set (ds);
  guint i, n = set->representations->len;
  MeshAbrCandidate *candidates = g_new0 (MeshAbrCandidate, n);

  for (i = 0; i < n; i++) {
    const MeshDashRepresentation *rep = rep_at (set, i);

    candidates[i].bandwidth = rep->bandwidth;
    candidates[i].width = rep->width;
    candidates[i].height = rep->height;
  }
  if (ds->declared && ds->n_declared == n && ds->declared_current == ds->rep
      && memcmp (ds->declared, candidates, n * sizeof (*candidates)) == 0) {
    g_free (candidates);
    return;
  }
  gst_mesh_stream_set_representations (ds->stream, candidates, n, ds->rep);
  g_free (ds->declared);
  ds->declared = candidates;
  ds->n_declared = n;
  ds->declared_current = ds->rep;
}

/* The pssh box of a ContentProtection element (cenc:pssh, base64), if any. */
static GBytes *
pssh_from_xml (const gchar * xml)
{
  const gchar *p;

  for (p = strchr (xml, '<'); p; p = strchr (p + 1, '<')) {
    const gchar *name = p + 1, *name_end, *local, *body, *body_end;
    g_autofree gchar *text = NULL;
    guchar *box;
    gsize len;

    name_end = name + strcspn (name, " \t\r\n/>");
    local = name;
    while (memchr (local, ':', name_end - local))
      local = (const gchar *) memchr (local, ':', name_end - local) + 1;
    if (name_end - local != 4 || strncmp (local, "pssh", 4) != 0)
      continue;
    body = strchr (name_end, '>');
    if (!body || body[-1] == '/')
      continue;
    body_end = strchr (++body, '<');
    if (!body_end)
      return NULL;
    text = g_strstrip (g_strndup (body, body_end - body));
    box = g_base64_decode (text, &len);
    if (len >= 8 && memcmp (box + 4, "pssh", 4) == 0)
      return g_bytes_new_take (box, len);
    g_free (box);
  }
  return NULL;
}

/* One protection event per ContentProtection with a system id. */
static void
dash_stream_queue_protection (DashStream * ds)
{
  const MeshDashAdaptationSet *set = ds_set (ds);
  guint i;

  for (i = 0; set->content_protections && i < set->content_protections->len;
      i++) {
    const MeshDashContentProtection *cp =
        g_ptr_array_index (set->content_protections, i);
    g_autofree gchar *system_id = NULL;
    g_autoptr (GBytes) data = NULL;
    GstBuffer *buffer;

    if (!cp->scheme_id_uri || g_ascii_strncasecmp (cp->scheme_id_uri,
            "urn:uuid:", 9) != 0)
      continue;
    system_id = g_ascii_strdown (cp->scheme_id_uri + 9, -1);
    data = cp->xml ? pssh_from_xml (cp->xml) : NULL;
    if (!data)
      data = g_bytes_new (cp->xml, cp->xml ? strlen (cp->xml) : 0);
    buffer = gst_buffer_new_wrapped_bytes (data);
    GST_DEBUG_OBJECT (DS_OBJECT (ds), "%s: protection system %s", ds->name,
        system_id);
    gst_mesh_stream_queue_event (ds->stream,
        gst_event_new_protection (system_id, buffer, "dash/mpd"));
    gst_buffer_unref (buffer);
  }
}

static void
dash_stream_remember_set (DashStream * ds)
{
  const MeshDashAdaptationSet *set = ds_set (ds);

  g_free (ds->set_id);
  ds->set_id = g_strdup (set->id);
  g_free (ds->set_lang);
  ds->set_lang = g_strdup (set->lang);
}

/* Moves @ds to the start of period @index, or of the first one after it that
 * has a set for it; past the last period when none has. */
static void
dash_stream_enter_period (DashStream * ds, guint index)
{
  const MeshDashMpd *mpd = ds_mpd (ds);
  guint64 bandwidth = ds_ended (ds) ? 0 : ds_rep (ds)->bandwidth;
  gint set = -1;

  for (; index < mpd->periods->len; index++) {
    set = find_matching_set (mpd, index, ds);
    if (set >= 0)
      break;
    GST_INFO_OBJECT (DS_OBJECT (ds), "%s: nothing to play in period %u",
        ds->name, index);
  }
  dash_stream_drop_segments (ds);
  ds->period = index;
  ds->position = 0;
  ds->discont = TRUE;
  if (set < 0)
    return;
  ds->adaptation_set = set;
  ds->rep = find_rep_by_bandwidth (ds_set (ds), bandwidth);
  dash_stream_remember_set (ds);
  dash_stream_declare_representations (ds);
  dash_stream_queue_protection (ds);
}

/* The period of @mpd that contains @time (presentation time). */
static guint
find_period (const MeshDashMpd * mpd, GstClockTime time)
{
  guint i, found = 0;

  for (i = 0; i < mpd->periods->len; i++)
    if (period_at (mpd, i)->start <= time)
      found = i;
  return found;
}

/* Switches @ds to a newer version of the MPD, keeping its place: the same
 * period (by id, else by start), set and Representation (by id). */
static void
dash_stream_adopt (DashStream * ds, DashManifest * m)
{
  const MeshDashMpd *mpd = m->mpd;
  const MeshDashPeriod *old_period = ds_ended (ds) ? NULL : ds_period (ds);
  g_autofree gchar *rep_id = NULL;
  GstClockTime absolute;
  guint64 bandwidth = 0;
  gint period = -1, set;
  guint i;

  if (!old_period) {
    dash_manifest_unref (ds->manifest);
    ds->manifest = dash_manifest_ref (m);
    ds->period = mpd->periods->len;
    return;
  }
  absolute = old_period->start + ds->position;
  rep_id = g_strdup (ds_rep (ds)->id);
  bandwidth = ds_rep (ds)->bandwidth;

  for (i = 0; i < mpd->periods->len && period < 0; i++) {
    const MeshDashPeriod *p = period_at (mpd, i);

    if (old_period->id ? g_strcmp0 (p->id, old_period->id) == 0
        : p->start == old_period->start)
      period = i;
  }
  dash_stream_drop_segments (ds);
  dash_manifest_unref (ds->manifest);
  ds->manifest = dash_manifest_ref (m);

  if (period < 0) {
    GST_WARNING_OBJECT (DS_OBJECT (ds), "%s: period %s left the MPD", ds->name,
        old_period->id ? old_period->id : "");
    period = find_period (mpd, absolute);
    ds->discont = TRUE;
  }
  ds->period = period;
  ds->position = absolute > period_at (mpd, period)->start ?
      absolute - period_at (mpd, period)->start : 0;

  set = find_matching_set (mpd, period, ds);
  if (set < 0) {
    dash_stream_enter_period (ds, period + 1);
    return;
  }
  ds->adaptation_set = set;
  ds->rep = find_rep_by_bandwidth (ds_set (ds), bandwidth);
  for (i = 0; rep_id && i < ds_set (ds)->representations->len; i++)
    if (g_strcmp0 (rep_at (ds_set (ds), i)->id, rep_id) == 0)
      ds->rep = i;
  dash_stream_declare_representations (ds);
}

/* ------------------------------------------------------------------------ */
/* Segments */

static gchar *
index_key (const MeshDashRepresentation * rep)
{
  return g_strdup_printf ("%s@%" G_GINT64_FORMAT, rep->base_url,
      rep->segments.index_offset);
}

/* Fetches and parses the sidx of a SegmentBase Representation of the
 * current set, once per file and index range: Periods may share it. */
static gboolean
dash_stream_fetch_index (GstMeshDashSrc * self, DashStream * ds,
    guint rep_index, GCancellable * cancellable, GError ** error)
{
  const MeshDashRepresentation *rep = rep_at (ds_set (ds), rep_index);
  const MeshDashSegmentInfo *info = &rep->segments;
  g_autoptr (GBytes) data = NULL;
  g_autofree gchar *key = index_key (rep);
  MeshIsobmffIndex *index;

  if (g_hash_table_contains (ds->indexes, key))
    return TRUE;
  data = gst_mesh_adaptive_src_fetch_range (GST_MESH_ADAPTIVE_SRC (self),
      rep->base_url, info->index_offset, info->index_size, cancellable, error);
  if (!data)
    return FALSE;
  index = mesh_dash_parse_index (g_bytes_get_data (data, NULL),
      g_bytes_get_size (data), info->index_offset, error);
  if (!index) {
    g_autofree gchar *where = describe (ds_mpd (ds), ds->period,
        ds->adaptation_set, rep_index);

    g_prefix_error (error, "%s: ", where);
    return FALSE;
  }
  /* one per Representation and Period file at most: an MPD of many of
   * them would keep them all; fetching one again is cheap */
  if (g_hash_table_size (ds->indexes) >= MAX_CACHED_INDEXES)
    g_hash_table_remove_all (ds->indexes);
  GST_DEBUG_OBJECT (DS_OBJECT (ds), "%s: %u subsegments in the index of %s",
      ds->name, index->subsegments->len, rep->base_url);
  g_hash_table_insert (ds->indexes, g_steal_pointer (&key), index);
  return TRUE;
}

static GArray *
segment_array_new (void)
{
  GArray *segments = g_array_new (FALSE, TRUE, sizeof (MeshDashSegment));

  g_array_set_clear_func (segments, (GDestroyNotify) mesh_dash_segment_clear);
  return segments;
}

/* Where dash_stream_find_segment() looks for ds->position: the segment to
 * play is the first that ends after this */
static GstClockTime
dash_stream_lookup_time (const DashStream * ds)
{
  return ds->position + POSITION_TOLERANCE;
}

/* TRUE when the listed window has the segment that holds ds->position, or
 * says that there is none: the window starts at or before it, and either
 * reaches past it or is all there is (static MPD, or an index; a dynamic
 * MPD may list more as time goes on). */
static gboolean
dash_stream_window_covers (const DashStream * ds)
{
  GstClockTime lookup = dash_stream_lookup_time (ds);
  const MeshDashSegment *last;

  if (!ds->segments || lookup < ds->window_from)
    return FALSE;
  if (!ds->window_truncated && (!ds_mpd (ds)->dynamic
          || ds_rep (ds)->segments.kind == MESH_DASH_SEGMENTS_BASE))
    return TRUE;
  if (ds->segments->len == 0)
    return FALSE;
  last = &g_array_index (ds->segments, MeshDashSegment, ds->segments->len - 1);
  return lookup < last->start + last->duration;
}

/* Lists the window of the current Representation from the segment that
 * holds @from on, starting before @to: from its file's index for
 * SegmentBase, which must have been fetched. */
static NextResult
dash_stream_list_window (DashStream * ds, GstClockTime from, GstClockTime to,
    GError ** error)
{
  const MeshDashRepresentation *rep = ds_rep (ds);
  const MeshDashPeriod *period = ds_period (ds);
  GArray *segments = segment_array_new ();
  gboolean ok, truncated = FALSE;

  if (rep->segments.kind == MESH_DASH_SEGMENTS_BASE) {
    g_autofree gchar *key = index_key (rep);
    const MeshIsobmffIndex *index = g_hash_table_lookup (ds->indexes, key);

    if (!index) {
      g_array_unref (segments);
      return NEXT_NEED_INDEX;
    }
    ok = mesh_dash_representation_index_window (rep, index, period->duration,
        from, WINDOW_SEGMENTS, segments, &truncated, error);
  } else {
    ok = mesh_dash_representation_list_window (rep, period->duration, from,
        to, WINDOW_SEGMENTS, segments, &truncated, error);
  }
  if (!ok) {
    g_autofree gchar *where = describe (ds_mpd (ds), ds->period,
        ds->adaptation_set, ds->rep);

    g_prefix_error (error, "%s: ", where);
    g_array_unref (segments);
    return NEXT_ERROR;
  }
  GST_LOG_OBJECT (DS_OBJECT (ds), "%s: %u segments from %" GST_TIME_FORMAT
      " in period %u%s", ds->name, segments->len, GST_TIME_ARGS (from),
      ds->period, truncated ? ", more follow" : "");
  dash_stream_drop_segments (ds);
  ds->segments = segments;
  ds->window_from = from;
  ds->window_truncated = truncated;
  return NEXT_FOUND;
}

/* Lists the segments of the current Representation that may hold
 * ds->position, unless those listed already do: a window from the position
 * on (static MPD, index), or (dynamic) from a little before it, for a live
 * start to pick an available segment, to a little past the live edge
 * @edge, for the next one's availability time. */
static NextResult
dash_stream_list_segments (DashStream * ds, GstClockTime edge, GError ** error)
{
  const MeshDashRepresentation *rep = ds_rep (ds);
  const MeshDashPeriod *period = ds_period (ds);
  GstClockTime from = dash_stream_lookup_time (ds), to = GST_CLOCK_TIME_NONE;
  GstClockTime margin;
  NextResult res;

  if (dash_stream_window_covers (ds))
    return NEXT_FOUND;

  if (ds_mpd (ds)->dynamic && rep->segments.kind != MESH_DASH_SEGMENTS_BASE) {
    /* a duration from the MPD, which may say anything */
    margin = MAX (10 * GST_SECOND, 3 * MIN (rep_segment_duration (ds_mpd (ds),
                rep), MAX_MARGIN_SEGMENT));
    from = ds->position > margin ? ds->position - margin : 0;
    to = MAX (ds->position, edge) + margin;
  } else if (!GST_CLOCK_TIME_IS_VALID (period->duration)
      && rep->segments.kind == MESH_DASH_SEGMENTS_TEMPLATE
      && !rep->segments.timeline) {
    g_autofree gchar *where = describe (ds_mpd (ds), ds->period,
        ds->adaptation_set, ds->rep);
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "%s: the period has no duration to bound its SegmentTemplate", where);
    return NEXT_ERROR;
  }

  res = dash_stream_list_window (ds, from, to, error);
  /* segments so short that the window ended before the position */
  if (res == NEXT_FOUND && from < dash_stream_lookup_time (ds)
      && !dash_stream_window_covers (ds))
    res = dash_stream_list_window (ds, dash_stream_lookup_time (ds), to, error);
  return res;
}

/* The segment to play at @position: the first one that ends after it. */
static gint
dash_stream_find_segment (DashStream * ds, GstClockTime position)
{
  GArray *segments = ds->segments;
  guint i = 0;

  if (ds->hint < segments->len
      && g_array_index (segments, MeshDashSegment, ds->hint).start <= position)
    i = ds->hint;
  for (; i < segments->len; i++) {
    const MeshDashSegment *s = &g_array_index (segments, MeshDashSegment, i);

    if (s->start + s->duration > position + POSITION_TOLERANCE) {
      ds->hint = i;
      return i;
    }
  }
  return -1;
}

/* The next segment of @ds in its current period. */
static NextResult
dash_stream_next_segment (GstMeshDashSrc * self, DashStream * ds,
    const MeshDashSegment ** segment, gint64 * available_at, GError ** error)
{
  const MeshDashMpd *mpd = ds_mpd (ds);
  const MeshDashPeriod *period = ds_period (ds);
  GstClockTimeDiff edge = 0;
  NextResult res;
  gint index;

  if (mpd->dynamic) {
    edge = live_edge_in_period (self, mpd, period);
    if (edge < 0) {
      *available_at = monotonic_time_at (self, mpd, period, 0);
      return NEXT_NOT_YET;
    }
    /* fell behind the time-shift buffer: what we wanted is gone */
    if (GST_CLOCK_TIME_IS_VALID (mpd->time_shift_buffer_depth)
        && (GstClockTime) edge > mpd->time_shift_buffer_depth
        && ds->position + rep_segment_duration (mpd, ds_rep (ds)) <
        (GstClockTime) edge - mpd->time_shift_buffer_depth) {
      GST_WARNING_OBJECT (DS_OBJECT (ds),
          "%s: %" GST_TIME_FORMAT " left the time-shift buffer, "
          "skipping ahead", ds->name, GST_TIME_ARGS (ds->position));
      ds->position = edge - mpd->time_shift_buffer_depth;
      ds->discont = TRUE;
    }
  }

  res = dash_stream_list_segments (ds, MAX (edge, 0), error);
  if (res != NEXT_FOUND)
    return res;
  index = dash_stream_find_segment (ds, ds->position);
  if (index < 0) {
    if (!mpd->dynamic || (GST_CLOCK_TIME_IS_VALID (period->duration)
            && ds->position + POSITION_TOLERANCE >= period->duration))
      return NEXT_END_OF_PERIOD;
    return NEXT_NEED_RELOAD;
  }
  *segment = &g_array_index (ds->segments, MeshDashSegment, index);
  if (mpd->dynamic && (*segment)->start + (*segment)->duration >
      (GstClockTime) edge) {
    *available_at = monotonic_time_at (self, mpd, period,
        (*segment)->start + (*segment)->duration);
    return NEXT_NOT_YET;
  }
  return NEXT_FOUND;
}

/* ------------------------------------------------------------------------ */
/* Fragments */

/* An MPD id, escaped so that it holds no separator, or @index when the
 * element has none. */
static gchar *
id_or_index (const gchar * id, guint index)
{
  g_autofree gchar *escaped = id ? g_uri_escape_string (id, NULL, FALSE) : NULL;

  return escaped ? g_strdup_printf ("id:%s", escaped) :
      g_strdup_printf ("index:%u", index);
}

/* Identity of a segment across viewers (within a swarm): what is the same
 * on every CDN hostname, never a URL. The Period (its id, else its start
 * time, which stays when earlier Periods leave a live MPD), the
 * AdaptationSet and the Representation (ids, else indexes), the segment's
 * number (or time, for $Time$ templates) and, for byte ranges (SegmentBase
 * indexes, SegmentList mediaRange), the offset:
 * "dash/id:p0/id:0/id:1/n:17@-1" (docs/protocol.md). */
static gchar *
segment_identity (const DashStream * ds, const MeshDashSegment * segment)
{
  const MeshDashPeriod *period = ds_period (ds);
  const MeshDashRepresentation *rep = ds_rep (ds);
  g_autofree gchar *escaped = period->id ?
      g_uri_escape_string (period->id, NULL, FALSE) : NULL;
  g_autofree gchar *period_id = escaped ? g_strdup_printf ("id:%s", escaped) :
      g_strdup_printf ("start:%" G_GUINT64_FORMAT, period->start);
  g_autofree gchar *set_id = id_or_index (ds_set (ds)->id, ds->adaptation_set);
  g_autofree gchar *rep_id = id_or_index (rep->id, ds->rep);
  gboolean by_time = rep->segments.media_template &&
      strstr (rep->segments.media_template, "$Time") != NULL;

  return g_strdup_printf ("dash/%s/%s/%s/%s:%" G_GUINT64_FORMAT "@%"
      G_GINT64_FORMAT, period_id, set_id, rep_id, by_time ? "t" : "n",
      by_time ? segment->time : segment->number, segment->offset);
}

/* The init section: as the MPD gives it, else (SegmentBase) everything
 * before the index. */
static gboolean
fill_init (const DashStream * ds, GstMeshFragment * fragment, GError ** error)
{
  const MeshDashRepresentation *rep = ds_rep (ds);
  g_autofree gchar *url = NULL;
  gint64 offset = -1, size = -1;

  if (!mesh_dash_representation_get_init (rep, &url, &offset, &size, error)) {
    if (error && *error) {
      g_autofree gchar *where = describe (ds_mpd (ds), ds->period,
          ds->adaptation_set, ds->rep);
      g_prefix_error (error, "%s: ", where);
      return FALSE;
    }
    if (rep->segments.kind != MESH_DASH_SEGMENTS_BASE
        || rep->segments.index_offset <= 0)
      return TRUE;
    url = g_strdup (rep->base_url);
    offset = 0;
    size = rep->segments.index_offset;
  }
  fragment->init_url = g_steal_pointer (&url);
  fragment->init_offset = MAX (offset, 0);
  fragment->init_size = offset >= 0 ? size : -1;
  return TRUE;
}

static gboolean
fill_fragment (DashStream * ds, const MeshDashSegment * segment,
    GstMeshFragment * fragment, GError ** error)
{
  if (!fill_init (ds, fragment, error))
    return FALSE;
  fragment->url = g_strdup (segment->url);
  fragment->offset = MAX (segment->offset, 0);
  fragment->size = segment->offset >= 0 ? segment->size : -1;
  fragment->timestamp = ds_period (ds)->start + segment->start;
  fragment->duration = segment->duration;
  fragment->discont = ds->discont;
  fragment->segment_id = segment_identity (ds, segment);
  ds->next_end = segment->start + segment->duration;
  return TRUE;
}

static GstFlowReturn
gst_mesh_dash_src_next_fragment (GstMeshAdaptiveSrc * src,
    GstMeshStream * stream, GstMeshFragment * fragment, GError ** error)
{
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (src);
  DashStream *ds = gst_mesh_stream_get_data (stream);
  const MeshDashSegment *segment = NULL;
  gint64 available_at = 0, reload;

  for (;;) {
    if (ds_ended (ds))
      return ds_mpd (ds)->dynamic && dash_manifest_next_reload (ds->manifest)
          < G_MAXINT64 ? GST_MESH_FLOW_WAIT : GST_FLOW_EOS;

    switch (dash_stream_next_segment (self, ds, &segment, &available_at, error)) {
      case NEXT_FOUND:
        return fill_fragment (ds, segment, fragment, error) ? GST_FLOW_OK :
            GST_FLOW_ERROR;
      case NEXT_END_OF_PERIOD:
        GST_DEBUG_OBJECT (DS_OBJECT (ds), "%s: end of period %u", ds->name,
            ds->period);
        dash_stream_enter_period (ds, ds->period + 1);
        if (ds_ended (ds) && !ds_mpd (ds)->dynamic)
          return GST_FLOW_EOS;
        continue;
      case NEXT_NOT_YET:
        reload = dash_manifest_next_reload (ds->manifest);
        GST_LOG_OBJECT (DS_OBJECT (ds),
            "%s: next segment available in %" G_GINT64_FORMAT " ms", ds->name,
            (available_at - g_get_monotonic_time ()) / 1000);
        gst_mesh_stream_set_next_update (stream, MIN (available_at, reload));
        return GST_MESH_FLOW_WAIT;
      case NEXT_NEED_RELOAD:
        reload = dash_manifest_next_reload (ds->manifest);
        if (reload == G_MAXINT64)
          return GST_FLOW_EOS;
        gst_mesh_stream_set_next_update (stream, reload);
        return GST_MESH_FLOW_WAIT;
      case NEXT_NEED_INDEX:
        /* fetched by update(), which has a cancellable: right away */
        ds->need_index = TRUE;
        gst_mesh_stream_set_next_update (stream, g_get_monotonic_time ());
        return GST_MESH_FLOW_WAIT;
      case NEXT_ERROR:
        return GST_FLOW_ERROR;
    }
  }
}

static void
gst_mesh_dash_src_advance (GstMeshAdaptiveSrc * src, GstMeshStream * stream)
{
  DashStream *ds = gst_mesh_stream_get_data (stream);

  ds->position = ds->next_end;
  ds->discont = FALSE;
}

/* The fragments from the one next_fragment() returns on, up to @until,
 * among the segments of the current Period already listed (and, live,
 * available): no listing, no reload, the position does not move. */
static guint
gst_mesh_dash_src_peek_fragments (GstMeshAdaptiveSrc * src,
    GstMeshStream * stream, GstClockTime until, GstMeshFragment * fragments,
    guint max)
{
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (src);
  DashStream *ds = gst_mesh_stream_get_data (stream);
  GstClockTime next_end = ds->next_end;
  gboolean discont = ds->discont;
  const MeshDashMpd *mpd;
  const MeshDashPeriod *period;
  GstClockTimeDiff edge = G_MAXINT64;
  guint n = 0;
  gint i;

  if (ds_ended (ds) || !ds->segments)
    return 0;
  mpd = ds_mpd (ds);
  period = ds_period (ds);
  if (mpd->dynamic)
    edge = live_edge_in_period (self, mpd, period);
  i = dash_stream_find_segment (ds, ds->position);
  for (; i >= 0 && (guint) i < ds->segments->len && n < max; i++) {
    const MeshDashSegment *segment =
        &g_array_index (ds->segments, MeshDashSegment, i);

    if (period->start + segment->start >= until
        || (GstClockTimeDiff) (segment->start + segment->duration) > edge)
      break;
    if (!fill_fragment (ds, segment, &fragments[n], NULL)) {
      gst_mesh_fragment_clear (&fragments[n]);
      break;
    }
    n++;
    ds->discont = FALSE;
  }
  ds->next_end = next_end;
  ds->discont = discont;
  return n;
}

/* ------------------------------------------------------------------------ */
/* load_manifest */

static GstStreamType
stream_type_of (MeshDashContentType kind)
{
  switch (kind) {
    case MESH_DASH_CONTENT_VIDEO:
      return GST_STREAM_TYPE_VIDEO;
    case MESH_DASH_CONTENT_AUDIO:
      return GST_STREAM_TYPE_AUDIO;
    case MESH_DASH_CONTENT_TEXT:
      return GST_STREAM_TYPE_TEXT;
    default:
      return GST_STREAM_TYPE_UNKNOWN;
  }
}

static const gchar *
kind_name (MeshDashContentType kind)
{
  switch (kind) {
    case MESH_DASH_CONTENT_VIDEO:
      return "video";
    case MESH_DASH_CONTENT_AUDIO:
      return "audio";
    case MESH_DASH_CONTENT_TEXT:
      return "text";
    default:
      return "other";
  }
}

static GstTagList *
set_tags (const MeshDashAdaptationSet * set, const MeshDashRepresentation * rep)
{
  GstTagList *tags = gst_tag_list_new_empty ();

  if (set->lang)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_LANGUAGE_CODE,
        set->lang, NULL);
  if (set->roles && set->roles->len > 0) {
    GString *roles = g_string_new (NULL);
    guint i;

    for (i = 0; i < set->roles->len; i++)
      g_string_append_printf (roles, "%s%s", i ? ", " : "",
          (const gchar *) g_ptr_array_index (set->roles, i));
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_TITLE, roles->str,
        NULL);
    g_string_free (roles, TRUE);
  }
  if (rep->bandwidth)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_NOMINAL_BITRATE,
        (guint) MIN (rep->bandwidth, G_MAXUINT), NULL);
  return tags;
}

/* The place to start a live stream: the last available segment that starts
 * at or before @target (presentation time), else the first available. */
static void
dash_stream_start_live (GstMeshDashSrc * self, DashStream * ds,
    GstClockTime target)
{
  const MeshDashMpd *mpd = ds_mpd (ds);
  GstClockTimeDiff edge;
  g_autoptr (GError) error = NULL;
  const MeshDashSegment *pick = NULL;
  guint i;

  if (find_period (mpd, target) != ds->period)
    dash_stream_enter_period (ds, find_period (mpd, target));
  if (ds_ended (ds))
    return;
  ds->position = target > ds_period (ds)->start ?
      target - ds_period (ds)->start : 0;
  edge = live_edge_in_period (self, mpd, ds_period (ds));
  if (edge <= 0 || dash_stream_list_segments (ds, edge, &error) != NEXT_FOUND)
    return;
  for (i = 0; i < ds->segments->len; i++) {
    const MeshDashSegment *s = &g_array_index (ds->segments, MeshDashSegment,
        i);

    if (s->start + s->duration > (GstClockTime) edge)
      break;
    if (GST_CLOCK_TIME_IS_VALID (mpd->time_shift_buffer_depth)
        && s->start + s->duration + mpd->time_shift_buffer_depth <
        (GstClockTime) edge)
      continue;
    if (!pick || s->start <= ds->position)
      pick = s;
  }
  if (pick)
    ds->position = pick->start;
  GST_INFO_OBJECT (DS_OBJECT (ds),
      "%s: live start at %" GST_TIME_FORMAT " in period %u (edge %"
      GST_TIME_FORMAT ")", ds->name, GST_TIME_ARGS (ds->position), ds->period,
      GST_TIME_ARGS (edge));
}

static DashStream *
add_stream (GstMeshDashSrc * self, DashManifest * m, guint period_index,
    guint set_index)
{
  GstMeshAdaptiveSrc *src = GST_MESH_ADAPTIVE_SRC (self);
  const MeshDashAdaptationSet *set =
      set_at (period_at (m->mpd, period_index), set_index);
  DashStream *ds = g_new0 (DashStream, 1);
  g_autofree MeshAbrCandidate *candidates = NULL;
  guint i, n = set->representations->len;

  ds->kind = set_kind (set);
  ds->name = set->lang ? g_strdup_printf ("%s-%s", kind_name (ds->kind),
      set->lang) : g_strdup (kind_name (ds->kind));
  ds->manifest = dash_manifest_ref (m);
  ds->period = period_index;
  ds->adaptation_set = set_index;
  ds->indexes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) mesh_isobmff_index_free);
  ds->discont = TRUE;
  dash_stream_remember_set (ds);

  candidates = g_new0 (MeshAbrCandidate, n);
  for (i = 0; i < n; i++) {
    candidates[i].bandwidth = rep_at (set, i)->bandwidth;
    candidates[i].width = rep_at (set, i)->width;
    candidates[i].height = rep_at (set, i)->height;
  }
  ds->rep = gst_mesh_adaptive_src_choose_initial (src, candidates, n);

  ds->stream = gst_mesh_adaptive_src_add_stream (src, stream_type_of
      (ds->kind), ds->name, ds, (GDestroyNotify) dash_stream_free);
  g_ptr_array_add (self->streams, ds);
  gst_mesh_stream_add_tags (ds->stream, set_tags (set, ds_rep (ds)));
  dash_stream_declare_representations (ds);
  dash_stream_queue_protection (ds);
  return ds;
}

/* Parses @text; what the parser read leniently is logged at @level (a
 * warning once, debug on every live reload of the same MPD). */
static MeshDashMpd *
parse_mpd (GstMeshDashSrc * self, GBytes * text, const gchar * url,
    GstDebugLevel level, GError ** error)
{
  gsize len;
  const gchar *data = g_bytes_get_data (text, &len);
  MeshDashMpd *mpd = mesh_dash_mpd_parse (data, len, url, error);
  guint i;

  for (i = 0; mpd && i < mpd->warnings->len; i++)
    GST_CAT_LEVEL_LOG (GST_CAT_DEFAULT, level, self, "%s: %s", url,
        (const gchar *) g_ptr_array_index (mpd->warnings, i));
  return mpd;
}

static gboolean
gst_mesh_dash_src_load_manifest (GstMeshAdaptiveSrc * src, GBytes * manifest,
    const gchar * url, GCancellable * cancellable, GError ** error)
{
  static const MeshDashContentType kinds[] = { MESH_DASH_CONTENT_VIDEO,
    MESH_DASH_CONTENT_AUDIO, MESH_DASH_CONTENT_TEXT
  };
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (src);
  MeshDashMpd *mpd;
  g_autoptr (DashManifest) m = NULL;
  g_autofree gchar *problem = NULL;
  GstClockTime target = 0;
  guint period = 0, i;

  mpd = parse_mpd (self, manifest, url, GST_LEVEL_WARNING, error);
  if (!mpd)
    return FALSE;
  m = dash_manifest_new (mpd);
  if (mpd->periods->len == 0) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "MPD %s has no Period", url);
    return FALSE;
  }
  if (mpd->dynamic && mpd->availability_start_time == G_MININT64) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "dynamic MPD %s has no availabilityStartTime", url);
    return FALSE;
  }
  dash_manifest_unref (install_manifest (self, m));

  if (mpd->dynamic) {
    if (!sync_clock (self, mpd, cancellable, error))
      return FALSE;
    /* the live edge as presentation time */
    target = MAX (server_now (self) - mpd->availability_start_time, 0) *
        GST_USECOND;
    period = find_period (mpd, target);
  }

  for (i = 0; i < G_N_ELEMENTS (kinds); i++) {
    g_autofree gchar *why = NULL;
    gint set = select_set (mpd, period, kinds[i], &why);

    if (set >= 0)
      add_stream (self, m, period, set);
    else if (why)
      GST_WARNING_OBJECT (self, "no %s output: %s", kind_name (kinds[i]), why);
    if (why && !problem)
      problem = g_steal_pointer (&why);
  }
  if (self->streams->len == 0) {
    g_autofree gchar *where = describe (mpd, period, -1, -1);

    if (problem)
      g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_UNSUPPORTED,
          "No usable AdaptationSet in %s: %s", where, problem);
    else
      g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_UNSUPPORTED,
          "No video, audio or text AdaptationSet in %s", where);
    return FALSE;
  }

  if (mpd->dynamic) {
    const DashStream *main = g_ptr_array_index (self->streams, 0);
    GstClockTime delay = choose_live_delay (self, mpd, ds_rep (main));

    target = target > delay ? target - delay : 0;
    GST_INFO_OBJECT (self, "live: starting %" GST_TIME_FORMAT " behind the "
        "edge", GST_TIME_ARGS (delay));
  }
  for (i = 0; i < self->streams->len; i++) {
    DashStream *ds = g_ptr_array_index (self->streams, i);

    if (mpd->dynamic) {
      dash_stream_start_live (self, ds, target);
      gst_mesh_stream_set_next_update (ds->stream,
          dash_manifest_next_reload (m));
    }
  }

  GST_INFO_OBJECT (self, "%s MPD with %u periods and %u outputs",
      mpd->dynamic ? "dynamic" : "static", mpd->periods->len,
      self->streams->len);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Live updates */

/* Downloads the MPD again and makes it the latest version; returns the
 * latest version (a ref), or NULL with @error set. */
static DashManifest *
reload_manifest (GstMeshDashSrc * self, const DashManifest * current,
    GCancellable * cancellable, GError ** error)
{
  const gchar *url = current->mpd->location ? current->mpd->location :
      current->mpd->url;
  g_autofree gchar *final_url = NULL;
  g_autoptr (GBytes) text = NULL;
  g_autoptr (DashManifest) m = NULL;
  MeshDashMpd *mpd;

  text = gst_mesh_adaptive_src_fetch_manifest (GST_MESH_ADAPTIVE_SRC (self),
      url, &final_url, cancellable, error);
  if (!text)
    return NULL;
  mpd = parse_mpd (self, text, final_url, GST_LEVEL_DEBUG, error);
  if (!mpd)
    return NULL;
  if (mpd->periods->len == 0) {
    g_set_error (error, MESH_DASH_ERROR, MESH_DASH_ERROR_INVALID,
        "reloaded MPD %s has no Period", final_url);
    mesh_dash_mpd_free (mpd);
    return NULL;
  }
  m = dash_manifest_new (mpd);
  GST_LOG_OBJECT (self, "reloaded %s (%s)", final_url, mpd->dynamic ?
      "dynamic" : "static");
  return install_manifest (self, m);
}

/* The MPD is reloaded by whichever stream needs it first; the others adopt
 * that version when their own reload time comes. */
static gint64
gst_mesh_dash_src_update (GstMeshAdaptiveSrc * src, GstMeshStream * stream,
    GCancellable * cancellable, GError ** error)
{
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (src);
  DashStream *ds = gst_mesh_stream_get_data (stream);
  g_autoptr (DashManifest) latest = get_latest_manifest (self);

  if (latest && latest != ds->manifest
      && latest->fetched > ds->manifest->fetched) {
    dash_stream_adopt (ds, latest);
  } else if (g_get_monotonic_time () >=
      dash_manifest_next_reload (ds->manifest)) {
    g_autoptr (DashManifest) reloaded = reload_manifest (self, ds->manifest,
        cancellable, error);

    if (!reloaded)
      return 0;
    if (reloaded != ds->manifest)
      dash_stream_adopt (ds, reloaded);
  }

  if (ds->need_index && !ds_ended (ds)) {
    if (!dash_stream_fetch_index (self, ds, ds->rep, cancellable, error))
      return 0;
    ds->need_index = FALSE;
  }
  return dash_manifest_next_reload (ds->manifest);
}

/* ------------------------------------------------------------------------ */
/* ABR, seeking */

static gboolean
gst_mesh_dash_src_switch_representation (GstMeshAdaptiveSrc * src,
    GstMeshStream * stream, guint index, GCancellable * cancellable,
    GError ** error)
{
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (src);
  DashStream *ds = gst_mesh_stream_get_data (stream);

  if (ds_ended (ds) || index >= ds_set (ds)->representations->len)
    return FALSE;
  if (rep_at (ds_set (ds), index)->segments.kind == MESH_DASH_SEGMENTS_BASE
      && !dash_stream_fetch_index (self, ds, index, cancellable, error))
    return FALSE;
  GST_DEBUG_OBJECT (DS_OBJECT (ds), "%s: to representation %s", ds->name,
      rep_at (ds_set (ds), index)->id);
  /* Representations of a set are aligned: the position carries over */
  ds->rep = ds->declared_current = index;
  ds->discont = TRUE;
  dash_stream_drop_segments (ds);
  return TRUE;
}

static GstClockTime
gst_mesh_dash_src_seek (GstMeshAdaptiveSrc * src, GstClockTime position)
{
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (src);
  GstClockTime actual = position;
  guint i;

  for (i = 0; i < self->streams->len; i++) {
    DashStream *ds = g_ptr_array_index (self->streams, i);
    const MeshDashMpd *mpd = ds_mpd (ds);
    guint period = find_period (mpd, position);
    g_autoptr (GError) error = NULL;
    gint index;

    if (ds_ended (ds) || period != ds->period)
      dash_stream_enter_period (ds, period);
    ds->discont = TRUE;
    if (ds_ended (ds))
      continue;
    ds->position = position > ds_period (ds)->start ?
        position - ds_period (ds)->start : 0;
    /* without its index yet (SegmentBase), the stream finds its segment
     * once it has it */
    if (dash_stream_list_segments (ds, 0, &error) != NEXT_FOUND)
      continue;
    index = dash_stream_find_segment (ds, ds->position);
    if (index < 0)
      continue;
    ds->position = g_array_index (ds->segments, MeshDashSegment, index).start;
    if (i == 0)
      actual = ds_period (ds)->start + ds->position;
  }
  return actual;
}

static void
gst_mesh_dash_src_reset (GstMeshAdaptiveSrc * src)
{
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (src);

  g_ptr_array_set_size (self->streams, 0);
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->manifest, dash_manifest_unref);
  self->clock_offset = 0;
  g_mutex_unlock (&self->lock);
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
gst_mesh_dash_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (object);
  const gchar *delay;
  GstClockTime time;
  guint64 segments;

  switch (prop_id) {
    case PROP_PRESENTATION_DELAY:{
      g_autofree gchar *problem = NULL;

      delay = g_value_get_string (value);
      /* kept out, and a warning on the bus when the element starts */
      if (delay && !parse_presentation_delay (delay, &time, &segments))
        problem = g_strdup_printf ("Ignoring presentation-delay '%s': not "
            "like 12s, 2500ms or 3f", delay);
      gst_mesh_adaptive_src_report_property_problem (GST_MESH_ADAPTIVE_SRC
          (self), "presentation-delay", problem);
      if (problem)
        break;
      GST_OBJECT_LOCK (self);
      g_free (self->presentation_delay);
      self->presentation_delay = g_strdup (delay);
      GST_OBJECT_UNLOCK (self);
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_mesh_dash_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (object);

  switch (prop_id) {
    case PROP_PRESENTATION_DELAY:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->presentation_delay);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_mesh_dash_src_init (GstMeshDashSrc * self)
{
  self->streams = g_ptr_array_new ();
  g_mutex_init (&self->lock);
}

static void
gst_mesh_dash_src_finalize (GObject * object)
{
  GstMeshDashSrc *self = GST_MESH_DASH_SRC (object);

  g_ptr_array_unref (self->streams);
  g_clear_pointer (&self->manifest, dash_manifest_unref);
  g_mutex_clear (&self->lock);
  g_free (self->presentation_delay);
  G_OBJECT_CLASS (gst_mesh_dash_src_parent_class)->finalize (object);
}

static const gchar *const uri_protocols[] = {
  "meshdash+http", "meshdash+https", NULL
};

static void
gst_mesh_dash_src_class_init (GstMeshDashSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstMeshAdaptiveSrcClass *adaptive_class = GST_MESH_ADAPTIVE_SRC_CLASS (klass);

  gobject_class->set_property = gst_mesh_dash_src_set_property;
  gobject_class->get_property = gst_mesh_dash_src_get_property;
  gobject_class->finalize = gst_mesh_dash_src_finalize;

  /**
   * GstMeshDashSrc:presentation-delay:
   *
   * How far behind the live edge a dynamic MPD starts, in seconds ("12s"),
   * milliseconds ("2500ms") or segments ("3f"). NULL uses the MPD's
   * suggestedPresentationDelay, or three segments when it has none. The
   * `live-delay` property, when set, wins over both.
   */
  g_object_class_install_property (gobject_class, PROP_PRESENTATION_DELAY,
      g_param_spec_string ("presentation-delay", "Presentation delay",
          "Live start distance from the edge, e.g. 12s, 2500ms or 3f "
          "(segments); NULL = the MPD's suggestedPresentationDelay", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  gst_element_class_set_static_metadata (element_class,
      "Mesh DASH source", "Source/Network/Adaptive",
      "Plays MPEG-DASH streams, fetching segments through the gst-mesh "
      "fetcher", "gst-mesh developers");

  adaptive_class->uri_protocols = uri_protocols;
  adaptive_class->uri_prefix = "meshdash+";
  adaptive_class->load_manifest = gst_mesh_dash_src_load_manifest;
  adaptive_class->next_fragment = gst_mesh_dash_src_next_fragment;
  adaptive_class->advance = gst_mesh_dash_src_advance;
  adaptive_class->peek_fragments = gst_mesh_dash_src_peek_fragments;
  adaptive_class->update = gst_mesh_dash_src_update;
  adaptive_class->switch_representation =
      gst_mesh_dash_src_switch_representation;
  adaptive_class->seek = gst_mesh_dash_src_seek;
  adaptive_class->reset = gst_mesh_dash_src_reset;
}
