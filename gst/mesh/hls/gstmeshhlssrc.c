/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * meshhlssrc: the HLS side of GstMeshAdaptiveSrc. It turns the master
 * playlist into streams (the variant chosen by ABR, plus the default audio and
 * subtitle renditions that are not muxed into it) and walks each stream's
 * media playlist, reloading it while the stream is live.
 *
 * Threads: load_manifest() runs on the base class's manifest task before any
 * stream exists; everything in a HlsStream is then touched only by that
 * stream's task (and by seek(), which runs while all tasks are stopped).
 * The fields of GstMeshHlsSrc are written by load_manifest() and reset()
 * only, when no stream task runs, and read-only in between.
 */
/**
 * SECTION:element-meshhlssrc
 * @title: meshhlssrc
 *
 * Plays an HLS stream (master or media playlist; VOD, event or live) and
 * outputs, on one pad per selected stream, the media segments as they are
 * served (decrypted when the playlist uses AES-128): MPEG-TS, fMP4/CMAF
 * (init section first), packed audio or WebVTT. decodebin, playbin and
 * playbin3 demux and decode them.
 *
 * Every request goes through the gst-mesh fetcher, which counts the bytes
 * (`bytes-from-cdn`, `bytes-from-peers`, `p2p-ratio`) and posts them in
 * `mesh-stats` element messages.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 playbin uri=meshhls+http://127.0.0.1:8080/master.m3u8
 * gst-launch-1.0 meshhlssrc location=http://127.0.0.1:8080/index.m3u8 ! \
 *     tsdemux ! h264parse ! avdec_h264 ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmeshhlssrc.h"

#include "mesh-hls-playlist.h"
#include "fetch/mesh-aes.h"

GST_DEBUG_CATEGORY_STATIC (gst_mesh_hls_src_debug);
#define GST_CAT_DEFAULT gst_mesh_hls_src_debug

/* EXTINF durations are rounded: segment boundaries of two variants computed
 * from their sums differ by up to this much. */
#define POSITION_TOLERANCE (10 * GST_MSECOND)
/* A live playlist is reloaded after its target duration, or half of it
 * when it had not changed (RFC 8216 6.3.4). A target duration of 0 (as
 * written, or without the tag when every EXTINF is 0) would mean reloading
 * without pause, a request loop on the origin. The floor is half the
 * shortest target duration a valid playlist can declare (1 s): it never
 * delays a valid playlist, and costs at most two reloads a second. */
#define MIN_RELOAD_WAIT (500 * GST_MSECOND)

struct _GstMeshHlsSrc
{
  GstMeshAdaptiveSrc parent;

  /* see the top of the file */
  MeshHlsMasterPlaylist *master;
  GPtrArray *streams;           /* HlsStream*, not owned (the base frees) */
};

/* The state of one output stream. */
typedef struct
{
  gchar *name;
  GstMeshStream *stream;        /* not a ref: the stream owns us */
  GPtrArray *uris;              /* media playlists it may switch between,
                                 * by ascending bandwidth */
  guint current;                /* index into uris */
  GPtrArray *ids;               /* the rendition identity of each of uris,
                                 * for segment_identity() */
  MeshHlsMediaPlaylist *playlist;
  GBytes *playlist_text;        /* to notice unchanged reloads */
  gint64 next_sequence;         /* media sequence number to fetch next */
  GstClockTime next_timestamp;  /* its stream time */
  GstClockTime next_duration;   /* its duration, once next_fragment() ran */
  gboolean discont;
} HlsStream;

/* Logs about one stream name its pad (<meshhlssrc0:src_1>) */
#define HS_OBJECT(hs) gst_mesh_stream_get_pad ((hs)->stream)

G_DEFINE_TYPE_WITH_CODE (GstMeshHlsSrc, gst_mesh_hls_src,
    GST_TYPE_MESH_ADAPTIVE_SRC,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_mesh_adaptive_src_uri_handler_init);
    GST_DEBUG_CATEGORY_INIT (gst_mesh_hls_src_debug, "meshhlssrc", 0,
        "gst-mesh HLS source"));
GST_ELEMENT_REGISTER_DEFINE (meshhlssrc, "meshhlssrc", GST_RANK_PRIMARY,
    GST_TYPE_MESH_HLS_SRC);

static void
hls_stream_free (HlsStream * hs)
{
  g_free (hs->name);
  g_ptr_array_unref (hs->uris);
  g_ptr_array_unref (hs->ids);
  g_clear_pointer (&hs->playlist, mesh_hls_media_playlist_free);
  g_clear_pointer (&hs->playlist_text, g_bytes_unref);
  g_free (hs);
}

/* ------------------------------------------------------------------------ */
/* Media playlists */

static MeshHlsMediaPlaylist *
parse_media_playlist (GBytes * text, const gchar * url, GError ** error)
{
  gsize len;
  const gchar *data = g_bytes_get_data (text, &len);

  return mesh_hls_media_playlist_parse (data, len, url, error);
}

/* Fetches and parses the media playlist at @url into @hs. */
static gboolean
hls_stream_load (GstMeshHlsSrc * self, HlsStream * hs, const gchar * url,
    GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *final_url = NULL;
  g_autoptr (GBytes) text = NULL;
  MeshHlsMediaPlaylist *playlist;

  text = gst_mesh_adaptive_src_fetch_manifest (GST_MESH_ADAPTIVE_SRC (self),
      url, &final_url, cancellable, error);
  if (!text)
    return FALSE;
  playlist = parse_media_playlist (text, final_url, error);
  if (!playlist)
    return FALSE;
  g_clear_pointer (&hs->playlist, mesh_hls_media_playlist_free);
  hs->playlist = playlist;
  g_clear_pointer (&hs->playlist_text, g_bytes_unref);
  hs->playlist_text = g_steal_pointer (&text);
  return TRUE;
}

static const MeshHlsSegment *
segment_at (const MeshHlsMediaPlaylist * playlist, guint index)
{
  return g_ptr_array_index (playlist->segments, index);
}

/* Index of the segment to start a live stream at: the last one that still
 * leaves @delay of media before the end of the playlist. */
static guint
live_start_index (const MeshHlsMediaPlaylist * playlist, GstClockTime delay)
{
  GstClockTime from_end = 0;
  gint i;

  for (i = playlist->segments->len - 1; i > 0; i--) {
    from_end += segment_at (playlist, i)->duration;
    if (from_end >= delay)
      return i;
  }
  return 0;
}

static void
hls_stream_start_at (HlsStream * hs, guint index)
{
  const MeshHlsSegment *segment = segment_at (hs->playlist, index);

  hs->next_sequence = segment->sequence;
  hs->next_timestamp = segment->start;
  hs->discont = TRUE;
}

/* Starts @hs at the same distance from the end of its playlist as @main is
 * from the end of its own: live playlists of one stream end at the same
 * time, whatever their window start. */
static void
hls_stream_align_live (HlsStream * hs, const HlsStream * main)
{
  const MeshHlsMediaPlaylist *mp = main->playlist;
  const MeshHlsSegment *start =
      mesh_hls_media_playlist_find_sequence (mp, main->next_sequence);
  GstClockTime from_end = mp->duration - start->start;
  GstClockTime position = hs->playlist->duration > from_end ?
      hs->playlist->duration - from_end : 0;

  hls_stream_start_at (hs,
      mesh_hls_media_playlist_find_position (hs->playlist, position));
  /* one timeline for all the streams */
  hs->next_timestamp = main->next_timestamp;
}

/* ------------------------------------------------------------------------ */
/* load_manifest */

static GstStreamType
stream_type_from_codecs (const gchar * codecs)
{
  GstStreamType type = GST_STREAM_TYPE_UNKNOWN;
  g_auto (GStrv) list = NULL;
  guint i;

  if (!codecs)
    return GST_STREAM_TYPE_UNKNOWN;
  list = g_strsplit (codecs, ",", -1);
  for (i = 0; list[i]; i++) {
    const gchar *codec = g_strstrip (list[i]);

    if (g_str_has_prefix (codec, "avc") || g_str_has_prefix (codec, "hvc")
        || g_str_has_prefix (codec, "hev") || g_str_has_prefix (codec, "vp0")
        || g_str_has_prefix (codec, "av01") || g_str_has_prefix (codec, "dvh"))
      type |= GST_STREAM_TYPE_VIDEO;
    else if (g_str_has_prefix (codec, "mp4a") || g_str_has_prefix (codec,
            "ac-3") || g_str_has_prefix (codec, "ec-3")
        || g_str_has_prefix (codec, "opus") || g_str_has_prefix (codec, "fLaC"))
      type |= GST_STREAM_TYPE_AUDIO;
    else if (g_str_has_prefix (codec, "wvtt") || g_str_has_prefix (codec,
            "stpp"))
      type |= GST_STREAM_TYPE_TEXT;
  }
  return type;
}

static HlsStream *
hls_stream_new (const gchar * name)
{
  HlsStream *hs = g_new0 (HlsStream, 1);

  hs->name = g_strdup (name);
  hs->uris = g_ptr_array_new_with_free_func (g_free);
  hs->ids = g_ptr_array_new_with_free_func (g_free);
  return hs;
}

static GstMeshStream *
add_stream (GstMeshHlsSrc * self, HlsStream * hs, GstStreamType type,
    GstTagList * tags)
{
  GstMeshStream *stream;

  stream = gst_mesh_adaptive_src_add_stream (GST_MESH_ADAPTIVE_SRC (self),
      type, hs->name, hs, (GDestroyNotify) hls_stream_free);
  hs->stream = stream;
  g_ptr_array_add (self->streams, hs);
  if (tags)
    gst_mesh_stream_add_tags (stream, tags);
  if (gst_mesh_adaptive_src_is_live (GST_MESH_ADAPTIVE_SRC (self)))
    gst_mesh_stream_set_next_update (stream, g_get_monotonic_time () +
        GST_TIME_AS_USECONDS (MAX (hs->playlist->target_duration,
                MIN_RELOAD_WAIT)));
  return stream;
}

/* Rendition identities (see segment_identity()): names that are the same on
 * every CDN, each component escaped so that none holds a separator. */

/* The path of @uri relative to the directory of @base (the master playlist,
 * where it was fetched from), without scheme, host, port, query or fragment:
 * the same on every CDN that mirrors the origin's tree. A URI outside that
 * directory keeps its absolute path (with its leading '/'). */
static gchar *
path_relative_to (const gchar * base, const gchar * uri)
{
  g_autoptr (GUri) b = g_uri_parse (base, G_URI_FLAGS_NONE, NULL);
  g_autoptr (GUri) u = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);
  const gchar *path, *dir, *slash;

  if (!u)
    return g_strndup (uri, strcspn (uri, "?#"));
  path = g_uri_get_path (u);
  dir = b ? g_uri_get_path (b) : NULL;
  slash = dir ? strrchr (dir, '/') : NULL;
  if (slash && strncmp (path, dir, slash + 1 - dir) == 0)
    return g_strdup (path + (slash + 1 - dir));
  return g_strdup (path);
}

/* A variant: its URI relative to the master playlist, and its BANDWIDTH
 * (which tells apart variants whose URIs differ only by their query). */
static gchar *
variant_identity (const MeshHlsMasterPlaylist * master,
    const MeshHlsVariant * variant)
{
  g_autofree gchar *path = path_relative_to (master->uri, variant->uri);
  g_autofree gchar *escaped = g_uri_escape_string (path, NULL, FALSE);

  return g_strdup_printf ("variant:%s:%" G_GUINT64_FORMAT, escaped,
      variant->bandwidth);
}

/* An audio or subtitles rendition: TYPE, GROUP-ID and NAME (unique in the
 * master playlist). */
static gchar *
rendition_identity (const MeshHlsRendition * rendition)
{
  g_autofree gchar *group = g_uri_escape_string (rendition->group_id, NULL,
      FALSE);
  g_autofree gchar *name = g_uri_escape_string (rendition->name, NULL, FALSE);

  return g_strdup_printf ("%s:%s:%s",
      rendition->type == MESH_HLS_RENDITION_AUDIO ? "AUDIO" : "SUBTITLES",
      group, name);
}

/* The variant stream: every variant is a representation ABR may pick. */
static HlsStream *
add_variant_stream (GstMeshHlsSrc * self, GBytes * media_text,
    const gchar * media_url, GCancellable * cancellable, GError ** error)
{
  GPtrArray *variants = self->master->variants;
  g_autofree MeshAbrCandidate *candidates = g_new0 (MeshAbrCandidate,
      MAX (variants->len, 1));
  const MeshHlsVariant *variant;
  GstMeshStream *stream;
  HlsStream *hs = hls_stream_new ("variant");
  gboolean live;
  gint initial;
  guint i;

  for (i = 0; i < variants->len; i++) {
    variant = g_ptr_array_index (variants, i);
    candidates[i].bandwidth = variant->bandwidth;
    candidates[i].width = variant->width;
    candidates[i].height = variant->height;
    g_ptr_array_add (hs->uris, g_strdup (variant->uri));
    g_ptr_array_add (hs->ids, media_text ? g_strdup ("media") :
        variant_identity (self->master, variant));
  }
  initial = gst_mesh_adaptive_src_choose_initial (GST_MESH_ADAPTIVE_SRC (self),
      candidates, variants->len);
  hs->current = initial;
  variant = g_ptr_array_index (variants, initial);

  if (media_text) {
    hs->playlist = parse_media_playlist (media_text, media_url, error);
    hs->playlist_text = g_bytes_ref (media_text);
  } else {
    hls_stream_load (self, hs, variant->uri, cancellable, error);
  }
  if (!hs->playlist) {
    hls_stream_free (hs);
    return NULL;
  }

  live = !hs->playlist->endlist;
  gst_mesh_adaptive_src_set_presentation (GST_MESH_ADAPTIVE_SRC (self), live,
      hs->playlist->duration);
  if (live) {
    GstClockTime delay =
        gst_mesh_adaptive_src_get_live_delay (GST_MESH_ADAPTIVE_SRC (self),
        3 * hs->playlist->target_duration);
    hls_stream_start_at (hs, live_start_index (hs->playlist, delay));
  } else {
    hls_stream_start_at (hs, 0);
  }

  stream = add_stream (self, hs, stream_type_from_codecs (variant->codecs),
      variant->bandwidth ? gst_tag_list_new (GST_TAG_NOMINAL_BITRATE,
          (guint) MIN (variant->bandwidth, G_MAXUINT), NULL) : NULL);
  if (variants->len > 1)
    gst_mesh_stream_set_representations (stream, candidates, variants->len,
        initial);
  return hs;
}

/* The rendition of a group to play: DEFAULT=YES; else, for audio, the first
 * AUTOSELECT=YES, else the first; for subtitles the first, as hlsdemux2
 * selects (AUTOSELECT does not matter to it). NULL when it is muxed in the
 * variant (no URI). */
static const MeshHlsRendition *
pick_rendition (const MeshHlsMasterPlaylist * master,
    MeshHlsRenditionType type, const gchar * group_id)
{
  g_autoptr (GPtrArray) group = NULL;
  const MeshHlsRendition *pick = NULL;
  guint i;

  if (!group_id)
    return NULL;
  group = mesh_hls_master_playlist_get_group (master, type, group_id);
  for (i = 0; i < group->len && !pick; i++) {
    const MeshHlsRendition *r = g_ptr_array_index (group, i);
    if (r->is_default)
      pick = r;
  }
  for (i = 0; i < group->len && !pick; i++) {
    const MeshHlsRendition *r = g_ptr_array_index (group, i);
    if (r->autoselect && type != MESH_HLS_RENDITION_SUBTITLES)
      pick = r;
  }
  if (!pick && group->len > 0)
    pick = g_ptr_array_index (group, 0);
  return pick && pick->uri ? pick : NULL;
}

static gboolean
add_rendition_stream (GstMeshHlsSrc * self, const MeshHlsRendition * rendition,
    const HlsStream * main, GCancellable * cancellable, GError ** error)
{
  gboolean audio = rendition->type == MESH_HLS_RENDITION_AUDIO;
  g_autofree gchar *name = g_strdup_printf ("%s-%s", audio ? "audio" : "text",
      rendition->language ? rendition->language : rendition->name);
  HlsStream *hs = hls_stream_new (name);
  GstTagList *tags;

  g_ptr_array_add (hs->uris, g_strdup (rendition->uri));
  g_ptr_array_add (hs->ids, rendition_identity (rendition));
  if (!hls_stream_load (self, hs, rendition->uri, cancellable, error)) {
    hls_stream_free (hs);
    return FALSE;
  }
  if (gst_mesh_adaptive_src_is_live (GST_MESH_ADAPTIVE_SRC (self)))
    hls_stream_align_live (hs, main);
  else
    hls_stream_start_at (hs, 0);

  tags = gst_tag_list_new (GST_TAG_TITLE, rendition->name, NULL);
  if (rendition->language)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_LANGUAGE_CODE,
        rendition->language, NULL);
  add_stream (self, hs, audio ? GST_STREAM_TYPE_AUDIO : GST_STREAM_TYPE_TEXT,
      tags);
  return TRUE;
}

static gboolean
gst_mesh_hls_src_load_manifest (GstMeshAdaptiveSrc * src, GBytes * manifest,
    const gchar * url, GCancellable * cancellable, GError ** error)
{
  GstMeshHlsSrc *self = GST_MESH_HLS_SRC (src);
  const gchar *text;
  gsize len;
  const HlsStream *main;
  const MeshHlsVariant *variant;
  const MeshHlsRendition *rendition;
  gboolean media_only;

  text = g_bytes_get_data (manifest, &len);
  media_only = mesh_hls_playlist_kind (text, len) == MESH_HLS_KIND_MEDIA;
  if (media_only)
    self->master = mesh_hls_master_playlist_new_single (url);
  else
    self->master = mesh_hls_master_playlist_parse (text, len, url, error);
  if (!self->master)
    return FALSE;
  if (self->master->variants->len == 0) {
    g_set_error (error, MESH_HLS_ERROR, MESH_HLS_ERROR_INVALID,
        "Master playlist %s has no variant stream", url);
    return FALSE;
  }

  main = add_variant_stream (self, media_only ? manifest : NULL, url,
      cancellable, error);
  if (!main)
    return FALSE;

  variant = g_ptr_array_index (self->master->variants, main->current);
  rendition = pick_rendition (self->master, MESH_HLS_RENDITION_AUDIO,
      variant->audio_group);
  if (rendition && !add_rendition_stream (self, rendition, main, cancellable,
          error))
    return FALSE;
  rendition = pick_rendition (self->master, MESH_HLS_RENDITION_SUBTITLES,
      variant->subtitles_group);
  if (rendition && !add_rendition_stream (self, rendition, main, cancellable,
          error))
    return FALSE;

  GST_INFO_OBJECT (self, "%s stream with %u variants and %u outputs",
      gst_mesh_adaptive_src_is_live (src) ? "live" : "VOD",
      self->master->variants->len, self->streams->len);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Fragments */

/* Identity of a segment across viewers (within a swarm): what is the same
 * on every CDN hostname, never a URL's scheme, host, port or query. The
 * rendition as the master playlist names it (variant_identity(),
 * rendition_identity(), or "media" for a media playlist opened directly),
 * then the discontinuity sequence (so that a packager that numbers its
 * segments again after a discontinuity, and counts it, reuses no identity),
 * media sequence number and byte range offset:
 * "hls/variant:v0%2Findex.m3u8:300000/0/17@0" (docs/protocol.md). */
static gchar *
segment_identity (const HlsStream * hs, const MeshHlsSegment * segment)
{
  return g_strdup_printf ("hls/%s/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
      "@%" G_GINT64_FORMAT, (const gchar *) g_ptr_array_index (hs->ids,
          hs->current), segment->discont_sequence, segment->sequence,
      segment->offset);
}

static void
fill_fragment (const HlsStream * hs, const MeshHlsSegment * segment,
    GstMeshFragment * fragment)
{
  fragment->url = g_strdup (segment->uri);
  fragment->offset = segment->offset;
  fragment->size = segment->size;
  if (segment->map) {
    fragment->init_url = g_strdup (segment->map->uri);
    fragment->init_offset = segment->map->offset;
    fragment->init_size = segment->map->size;
  }
  if (segment->key && segment->key->method == MESH_HLS_KEY_AES_128) {
    fragment->key_url = g_strdup (segment->key->uri);
    if (segment->key->has_iv)
      memcpy (fragment->iv, segment->key->iv, sizeof (fragment->iv));
    else
      mesh_aes_iv_from_sequence (segment->sequence, fragment->iv);
  }
  fragment->timestamp = hs->next_timestamp;
  fragment->duration = segment->duration;
  fragment->discont = hs->discont || segment->discontinuity;
  fragment->segment_id = segment_identity (hs, segment);
}

/* A live stream that fell behind the window skips to its start. */
static gboolean
skip_if_out_of_window (HlsStream * hs)
{
  const MeshHlsSegment *first = segment_at (hs->playlist, 0);

  if (hs->next_sequence >= first->sequence)
    return FALSE;
  GST_WARNING_OBJECT (HS_OBJECT (hs), "%s: segment %" G_GINT64_FORMAT
      " left the live window, skipping to %" G_GINT64_FORMAT, hs->name,
      hs->next_sequence, first->sequence);
  hs->next_sequence = first->sequence;
  hs->discont = TRUE;
  return TRUE;
}

static GstFlowReturn
gst_mesh_hls_src_next_fragment (GstMeshAdaptiveSrc * src,
    GstMeshStream * stream, GstMeshFragment * fragment, GError ** error)
{
  HlsStream *hs = gst_mesh_stream_get_data (stream);
  const MeshHlsSegment *segment;

  skip_if_out_of_window (hs);
  for (;;) {
    segment = mesh_hls_media_playlist_find_sequence (hs->playlist,
        hs->next_sequence);
    if (!segment)
      return hs->playlist->endlist ? GST_FLOW_EOS : GST_MESH_FLOW_WAIT;
    if (!segment->gap)
      break;
    /* EXT-X-GAP: nothing to load; the next one follows a hole */
    hs->next_sequence++;
    hs->next_timestamp += segment->duration;
    hs->discont = TRUE;
  }

  hs->next_duration = segment->duration;
  fill_fragment (hs, segment, fragment);
  return GST_FLOW_OK;
}

static void
gst_mesh_hls_src_advance (GstMeshAdaptiveSrc * src, GstMeshStream * stream)
{
  HlsStream *hs = gst_mesh_stream_get_data (stream);

  hs->next_sequence++;
  hs->next_timestamp += hs->next_duration;
  hs->discont = FALSE;
}

/* The fragments from the one next_fragment() returns on, up to @until, as
 * the playlist lists them now: the walk moves a copy of the position. */
static guint
gst_mesh_hls_src_peek_fragments (GstMeshAdaptiveSrc * src,
    GstMeshStream * stream, GstClockTime until, GstMeshFragment * fragments,
    guint max)
{
  HlsStream probe = *(HlsStream *) gst_mesh_stream_get_data (stream);
  const MeshHlsSegment *segment;
  guint n = 0;

  if (!probe.playlist || probe.playlist->segments->len == 0)
    return 0;
  probe.next_sequence = MAX (probe.next_sequence,
      segment_at (probe.playlist, 0)->sequence);
  while (n < max && probe.next_timestamp < until
      && (segment = mesh_hls_media_playlist_find_sequence (probe.playlist,
              probe.next_sequence))) {
    if (!segment->gap) {
      fill_fragment (&probe, segment, &fragments[n++]);
      probe.discont = FALSE;
    }
    probe.next_sequence++;
    probe.next_timestamp += segment->duration;
  }
  return n;
}

/* RFC 8216 6.3.4: reload after the target duration, or half of it when the
 * playlist had not changed. */
static gint64
gst_mesh_hls_src_update (GstMeshAdaptiveSrc * src, GstMeshStream * stream,
    GCancellable * cancellable, GError ** error)
{
  GstMeshHlsSrc *self = GST_MESH_HLS_SRC (src);
  HlsStream *hs = gst_mesh_stream_get_data (stream);
  g_autoptr (GBytes) previous = g_bytes_ref (hs->playlist_text);
  GstClockTime wait;

  if (!hls_stream_load (self, hs, g_ptr_array_index (hs->uris, hs->current),
          cancellable, error))
    return 0;
  if (hs->playlist->endlist)
    return G_MAXINT64;
  wait = hs->playlist->target_duration;
  if (g_bytes_equal (previous, hs->playlist_text))
    wait /= 2;
  wait = MAX (wait, MIN_RELOAD_WAIT);
  GST_LOG_OBJECT (HS_OBJECT (hs), "%s: reloaded, next in %" GST_TIME_FORMAT,
      hs->name, GST_TIME_ARGS (wait));
  return g_get_monotonic_time () + GST_TIME_AS_USECONDS (wait);
}

/* The sequence number in @playlist of the segment that holds @position:
 * past the last one when @position is at its end. EXTINF sums of two
 * variants differ by rounding, so a segment that ends within
 * POSITION_TOLERANCE after @position does not hold it (it was played). */
static gint64
sequence_at_position (const MeshHlsMediaPlaylist * playlist,
    GstClockTime position)
{
  gint found = mesh_hls_media_playlist_find_position (playlist,
      position + POSITION_TOLERANCE);
  const MeshHlsSegment *segment;

  if (found < 0)
    return playlist->media_sequence;
  segment = segment_at (playlist, found);
  if (segment->start + segment->duration <= position + POSITION_TOLERANCE)
    return segment->sequence + 1;
  return segment->sequence;
}

static gboolean
gst_mesh_hls_src_switch_representation (GstMeshAdaptiveSrc * src,
    GstMeshStream * stream, guint index, GCancellable * cancellable,
    GError ** error)
{
  GstMeshHlsSrc *self = GST_MESH_HLS_SRC (src);
  HlsStream *hs = gst_mesh_stream_get_data (stream);
  MeshHlsMediaPlaylist *old = g_steal_pointer (&hs->playlist);
  const MeshHlsSegment *previous =
      mesh_hls_media_playlist_find_sequence (old, hs->next_sequence - 1);
  GstClockTime position = previous ? previous->start + previous->duration :
      hs->next_timestamp;

  if (!hls_stream_load (self, hs, g_ptr_array_index (hs->uris, index),
          cancellable, error)) {
    hs->playlist = old;
    return FALSE;
  }
  hs->current = index;

  /* variants are aligned by sequence number; by time when they are not.
   * After the last segment there is nothing left to play in any variant:
   * the number past the end keeps the stream at its end. */
  if (!mesh_hls_media_playlist_find_sequence (hs->playlist, hs->next_sequence)
      && hs->playlist->endlist) {
    gint64 next = sequence_at_position (hs->playlist, position);

    GST_DEBUG_OBJECT (HS_OBJECT (hs),
        "%s: variant %u has no segment %" G_GINT64_FORMAT ", going on at %"
        G_GINT64_FORMAT " (%" GST_TIME_FORMAT ")", hs->name, index,
        hs->next_sequence, next, GST_TIME_ARGS (position));
    hs->next_sequence = next;
  }
  hs->discont = TRUE;
  mesh_hls_media_playlist_free (old);
  return TRUE;
}

static GstClockTime
gst_mesh_hls_src_seek (GstMeshAdaptiveSrc * src, GstClockTime position)
{
  GstMeshHlsSrc *self = GST_MESH_HLS_SRC (src);
  GstClockTime actual = GST_CLOCK_TIME_NONE;
  guint i;

  for (i = 0; i < self->streams->len; i++) {
    HlsStream *hs = g_ptr_array_index (self->streams, i);
    gint index = mesh_hls_media_playlist_find_position (hs->playlist, position);

    hls_stream_start_at (hs, MAX (index, 0));
    if (i == 0)
      actual = hs->next_timestamp;
  }
  return actual;
}

static void
gst_mesh_hls_src_reset (GstMeshAdaptiveSrc * src)
{
  GstMeshHlsSrc *self = GST_MESH_HLS_SRC (src);

  g_ptr_array_set_size (self->streams, 0);
  g_clear_pointer (&self->master, mesh_hls_master_playlist_free);
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
gst_mesh_hls_src_init (GstMeshHlsSrc * self)
{
  self->streams = g_ptr_array_new ();
}

static void
gst_mesh_hls_src_finalize (GObject * object)
{
  GstMeshHlsSrc *self = GST_MESH_HLS_SRC (object);

  g_ptr_array_unref (self->streams);
  g_clear_pointer (&self->master, mesh_hls_master_playlist_free);
  G_OBJECT_CLASS (gst_mesh_hls_src_parent_class)->finalize (object);
}

static const gchar *const uri_protocols[] = {
  "meshhls+http", "meshhls+https", NULL
};

static void
gst_mesh_hls_src_class_init (GstMeshHlsSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstMeshAdaptiveSrcClass *adaptive_class = GST_MESH_ADAPTIVE_SRC_CLASS (klass);

  gobject_class->finalize = gst_mesh_hls_src_finalize;

  gst_element_class_set_static_metadata (element_class,
      "Mesh HLS source", "Source/Network/Adaptive",
      "Plays HTTP Live Streaming (HLS) streams, fetching segments through the "
      "gst-mesh fetcher", "gst-mesh developers");

  adaptive_class->uri_protocols = uri_protocols;
  adaptive_class->uri_prefix = "meshhls+";
  adaptive_class->load_manifest = gst_mesh_hls_src_load_manifest;
  adaptive_class->next_fragment = gst_mesh_hls_src_next_fragment;
  adaptive_class->advance = gst_mesh_hls_src_advance;
  adaptive_class->peek_fragments = gst_mesh_hls_src_peek_fragments;
  adaptive_class->update = gst_mesh_hls_src_update;
  adaptive_class->switch_representation =
      gst_mesh_hls_src_switch_representation;
  adaptive_class->seek = gst_mesh_hls_src_seek;
  adaptive_class->reset = gst_mesh_hls_src_reset;
}
