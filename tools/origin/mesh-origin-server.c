/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The test origin (see mesh-origin-server.h for the HTTP interface).
 *
 * Threads and ownership:
 *  - mesh_origin_server_start() spawns the server thread, which creates its
 *    own GMainContext (server->context, pushed as its thread-default), the
 *    SoupServer and every GSource below. Everything in the SoupServer, every
 *    SoupServerMessage and every Transfer is touched by that thread only.
 *  - Callers on other threads read the counters and edit the fault table and
 *    the live clock offset: those live under server->lock, which the server
 *    thread also takes when it counts or consumes a fault. The lock is never
 *    held across a call into libsoup.
 *  - root, host, live_window, port, base_url, start_time and start_real are
 *    written before mesh_origin_server_start() returns and are read-only
 *    afterwards.
 *  - Live MPDs and their segments are worked out afresh from the static MPD
 *    on every request, on the server thread: there is no DASH state to share.
 *  - The digest lists (mesh-hashes.json, docs/hash-list.md) are built on the
 *    server thread by the code mesh-hashes runs (tools/hashes/), one
 *    incremental MeshHashScan per directory asked for, and the digests of
 *    looped live DASH segments are cached: both tables belong to the server
 *    thread alone.
 */

#define G_LOG_DOMAIN "mesh-origin"

#include "mesh-origin-server.h"
#include "mesh-hash-scan.h"
#include "fetch/mesh-hash-list.h"

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <string.h>

#define DEFAULT_LIVE_WINDOW 6
#define LIVE_PREFIX "/live/"
/* Paced bodies are appended in slices of 1/PACE_SLICES_PER_SEC seconds. */
#define PACE_SLICES_PER_SEC 20
/* Digests of looped live DASH segments kept at most (then forgotten all at
 * once: a window needs a few dozen). */
#define MAX_LOOPED_DIGESTS 4096

typedef struct
{
  guint64 bytes;
  guint requests;
} PathStats;

typedef struct
{
  gchar *path_prefix;
  guint remaining;              /* 0 = until cleared */
  guint status;
  guint delay_ms;
  guint64 rate;
  gint64 drop_after;
} Fault;

struct _MeshOriginServer
{
  gchar *root;
  gchar *host;
  guint live_window;
  guint port;
  gchar *base_url;
  gint64 start_time;            /* monotonic, µs */
  gint64 start_real;            /* wall clock at start_time, µs since 1970 */

  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *soup;             /* server thread only */

  GMutex lock;
  GCond cond;                   /* start-up handshake, with lock */
  gboolean thread_ready;
  GError *start_error;

  /* guarded by lock */
  GHashTable *stats;            /* decoded path -> PathStats */
  guint64 total_bytes;
  guint total_requests;
  GPtrArray *faults;            /* Fault, in the order they were added */
  gint64 time_offset;           /* µs added to the live clock */

  /* server thread only */
  GHashTable *hash_scans;       /* directory path -> MeshHashScan */
  GHashTable *looped_digests;   /* "<mpd>\n<segment>" -> MeshHashEntry */
};

/* What one (non-control) request is doing; owned by its SoupServerMessage
 * (object data), so it dies with it, taking its timers along. */
typedef struct
{
  MeshOriginServer *server;
  SoupServerMessage *msg;       /* not owned */
  gchar *path;                  /* stats key */
  gchar *live_mpd;              /* the ?mpd= of a live DASH segment, or NULL */
  Fault fault;                  /* the fault in force, zeroed if none */
  GSource *timer;               /* delay or pacing */
  GSource *drop_source;
  /* streamed bodies (pacing or drop) */
  GBytes *body;
  gsize appended;
  gsize limit;                  /* body bytes to send before ending/dropping */
  gboolean dropping;
  guint64 written;
  gint64 stream_start;
} Transfer;

typedef enum
{
  RANGE_NONE,
  RANGE_OK,
  RANGE_UNSATISFIABLE
} RangeResult;

/* ------------------------------------------------------------------------ */
/* Counters and faults (any thread, under lock)                             */

static void
fault_free (gpointer data)
{
  Fault *fault = data;

  g_free (fault->path_prefix);
  g_free (fault);
}

static void
count_request (MeshOriginServer * server, const gchar * path)
{
  PathStats *stats;

  g_mutex_lock (&server->lock);
  stats = g_hash_table_lookup (server->stats, path);
  if (!stats) {
    stats = g_new0 (PathStats, 1);
    g_hash_table_insert (server->stats, g_strdup (path), stats);
  }
  stats->requests++;
  server->total_requests++;
  g_mutex_unlock (&server->lock);
}

static void
count_bytes (MeshOriginServer * server, const gchar * path, guint64 bytes)
{
  PathStats *stats;

  g_mutex_lock (&server->lock);
  stats = g_hash_table_lookup (server->stats, path);
  /* NULL after a reset in the middle of a response: count it afresh */
  if (!stats) {
    stats = g_new0 (PathStats, 1);
    g_hash_table_insert (server->stats, g_strdup (path), stats);
  }
  stats->bytes += bytes;
  server->total_bytes += bytes;
  g_mutex_unlock (&server->lock);
}

/* Copies the first fault matching @path into @out and uses up one of its
 * requests. */
static gboolean
take_fault (MeshOriginServer * server, const gchar * path, Fault * out)
{
  gboolean found = FALSE;
  guint i;

  g_mutex_lock (&server->lock);
  for (i = 0; i < server->faults->len; i++) {
    Fault *fault = g_ptr_array_index (server->faults, i);

    if (!g_str_has_prefix (path, fault->path_prefix))
      continue;
    *out = *fault;
    out->path_prefix = NULL;
    found = TRUE;
    if (fault->remaining > 0 && --fault->remaining == 0)
      g_ptr_array_remove_index (server->faults, i);
    break;
  }
  g_mutex_unlock (&server->lock);

  return found;
}

/* Sums the counters of the paths under @path_prefix (all when NULL). */
static void
sum_stats (MeshOriginServer * server, const gchar * path_prefix,
    guint64 * bytes, guint * requests)
{
  GHashTableIter iter;
  gpointer key, value;

  *bytes = 0;
  *requests = 0;
  g_mutex_lock (&server->lock);
  g_hash_table_iter_init (&iter, server->stats);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    if (!path_prefix || g_str_has_prefix (key, path_prefix)) {
      *bytes += ((PathStats *) value)->bytes;
      *requests += ((PathStats *) value)->requests;
    }
  }
  g_mutex_unlock (&server->lock);
}

guint64
mesh_origin_server_get_bytes (MeshOriginServer * server,
    const gchar * path_prefix)
{
  guint64 bytes;
  guint requests;

  g_return_val_if_fail (server != NULL, 0);
  sum_stats (server, path_prefix, &bytes, &requests);
  return bytes;
}

guint
mesh_origin_server_get_requests (MeshOriginServer * server,
    const gchar * path_prefix)
{
  guint64 bytes;
  guint requests;

  g_return_val_if_fail (server != NULL, 0);
  sum_stats (server, path_prefix, &bytes, &requests);
  return requests;
}

void
mesh_origin_server_reset_stats (MeshOriginServer * server)
{
  g_return_if_fail (server != NULL);

  g_mutex_lock (&server->lock);
  g_hash_table_remove_all (server->stats);
  server->total_bytes = 0;
  server->total_requests = 0;
  g_mutex_unlock (&server->lock);
}

void
mesh_origin_server_add_fault (MeshOriginServer * server,
    const MeshOriginFault * fault)
{
  Fault *copy;

  g_return_if_fail (server != NULL);
  g_return_if_fail (fault != NULL);

  copy = g_new0 (Fault, 1);
  copy->path_prefix = g_strdup (fault->path_prefix ? fault->path_prefix : "/");
  copy->remaining = fault->count;
  copy->status = fault->status;
  copy->delay_ms = fault->delay_ms;
  copy->rate = fault->rate;
  copy->drop_after = fault->drop_after < 0 ? -1 : fault->drop_after;

  g_mutex_lock (&server->lock);
  g_ptr_array_add (server->faults, copy);
  g_mutex_unlock (&server->lock);
}

void
mesh_origin_server_clear_faults (MeshOriginServer * server)
{
  g_return_if_fail (server != NULL);

  g_mutex_lock (&server->lock);
  g_ptr_array_set_size (server->faults, 0);
  g_mutex_unlock (&server->lock);
}

void
mesh_origin_server_set_time_offset (MeshOriginServer * server, gint64 offset_us)
{
  g_return_if_fail (server != NULL);

  g_mutex_lock (&server->lock);
  server->time_offset = offset_us;
  g_mutex_unlock (&server->lock);
}

/* The live clock at monotonic time @monotonic_us. */
static gint64
live_clock_at (MeshOriginServer * server, gint64 monotonic_us)
{
  gint64 now;

  g_mutex_lock (&server->lock);
  now = monotonic_us - server->start_time + server->time_offset;
  g_mutex_unlock (&server->lock);

  return MAX (now, 0);
}

static gint64
live_clock_us (MeshOriginServer * server)
{
  return live_clock_at (server, g_get_monotonic_time ());
}

/* The server's UTC time: the wall clock at start plus the monotonic time
 * since, so that it keeps step with the live clock (a wall clock step does
 * not move live segments in or out of availability). */
static gint64
server_utc_at (MeshOriginServer * server, gint64 monotonic_us)
{
  return server->start_real + (monotonic_us - server->start_time);
}

guint
mesh_origin_server_get_port (MeshOriginServer * server)
{
  g_return_val_if_fail (server != NULL, 0);
  return server->port;
}

const gchar *
mesh_origin_server_get_base_url (MeshOriginServer * server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->base_url;
}

/* ------------------------------------------------------------------------ */
/* Live playlists: a VOD media playlist looped into a sliding window        */

typedef struct
{
  gint64 duration_us;
  gchar *uri;
  GPtrArray *tags;              /* EXTINF, normalised BYTERANGE and the rest */
  gchar *key;                   /* EXT-X-KEY in force, NULL for none */
  gchar *map;                   /* EXT-X-MAP in force, NULL for none */
  gboolean discontinuity;
  guint64 sequence;             /* media sequence number in the VOD */
} VodSegment;

typedef struct
{
  GPtrArray *header;            /* playlist-level tags repeated as they are */
  GPtrArray *segments;          /* VodSegment */
  gint64 *end_us;               /* cumulative end time of each segment */
  gint64 total_us;
  guint discontinuities;        /* segments with EXT-X-DISCONTINUITY */
  gboolean has_target_duration;
  gint64 max_duration_us;
} VodPlaylist;

static void
vod_segment_free (gpointer data)
{
  VodSegment *seg = data;

  g_free (seg->uri);
  g_ptr_array_unref (seg->tags);
  g_free (seg->key);
  g_free (seg->map);
  g_free (seg);
}

static void
vod_playlist_free (VodPlaylist * vod)
{
  if (!vod)
    return;
  g_ptr_array_unref (vod->header);
  g_ptr_array_unref (vod->segments);
  g_free (vod->end_us);
  g_free (vod);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VodPlaylist, vod_playlist_free);

/* Relative URIs already resolve under /live/; absolute paths are moved under
 * it. @loop >= 0 tags the URI with its loop so that every pass over the VOD
 * is a resource of its own; the query is ignored when serving the file. */
static gchar *
rewrite_uri (const gchar * uri, gint64 loop)
{
  GString *out;

  if (g_uri_peek_scheme (uri) || g_str_has_prefix (uri, "//"))
    return g_strdup (uri);

  out = g_string_new (NULL);
  if (uri[0] == '/')
    g_string_append (out, "/live");
  g_string_append (out, uri);
  if (loop >= 0)
    g_string_append_printf (out, "%cloop=%" G_GINT64_FORMAT,
        strchr (uri, '?') ? '&' : '?', loop);

  return g_string_free (out, FALSE);
}

static gchar *
rewrite_uri_attribute (const gchar * line)
{
  const gchar *start, *end;
  g_autofree gchar *uri = NULL;
  g_autofree gchar *rewritten = NULL;

  start = strstr (line, "URI=\"");
  if (!start)
    return g_strdup (line);
  start += strlen ("URI=\"");
  end = strchr (start, '"');
  if (!end)
    return g_strdup (line);

  uri = g_strndup (start, end - start);
  rewritten = rewrite_uri (uri, -1);
  return g_strdup_printf ("%.*s%s%s", (int) (start - line), line, rewritten,
      end);
}

static gboolean
is_master_playlist (const gchar * text)
{
  return strstr (text, "#EXT-X-STREAM-INF") != NULL;
}

static gchar *
rewrite_master_playlist (const gchar * text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GString *out = g_string_new (NULL);
  guint i;

  for (i = 0; lines[i]; i++) {
    gchar *line = g_strstrip (lines[i]);

    if (line[0] == '\0')
      continue;
    if (line[0] != '#') {
      g_autofree gchar *uri = rewrite_uri (line, -1);
      g_string_append_printf (out, "%s\n", uri);
    } else if (strstr (line, "URI=\"")) {
      g_autofree gchar *rewritten = rewrite_uri_attribute (line);
      g_string_append_printf (out, "%s\n", rewritten);
    } else {
      g_string_append_printf (out, "%s\n", line);
    }
  }

  return g_string_free (out, FALSE);
}

static gboolean
is_header_tag (const gchar * line)
{
  static const gchar *const tags[] = {
    "#EXT-X-VERSION:", "#EXT-X-TARGETDURATION:", "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-START:", NULL
  };
  guint i;

  for (i = 0; tags[i]; i++)
    if (g_str_has_prefix (line, tags[i]))
      return TRUE;
  return FALSE;
}

/* Tags that describe the VOD as a whole and would be wrong in a live window. */
static gboolean
is_dropped_tag (const gchar * line)
{
  static const gchar *const tags[] = {
    "#EXTM3U", "#EXT-X-ENDLIST", "#EXT-X-PLAYLIST-TYPE:",
    "#EXT-X-MEDIA-SEQUENCE:", "#EXT-X-DISCONTINUITY-SEQUENCE:",
    "#EXT-X-PROGRAM-DATE-TIME:", NULL
  };
  guint i;

  for (i = 0; tags[i]; i++)
    if (g_str_has_prefix (line, tags[i]))
      return TRUE;
  return FALSE;
}

static gboolean
parse_byterange (const gchar * value, guint64 * length, gint64 * offset)
{
  gchar *end;

  *length = g_ascii_strtoull (value, &end, 10);
  if (end == value)
    return FALSE;
  *offset = -1;
  if (*end == '@') {
    const gchar *start = end + 1;

    *offset = (gint64) g_ascii_strtoull (start, &end, 10);
    if (end == start || *offset < 0)
      return FALSE;
  }
  return *end == '\0';
}

typedef struct
{
  GPtrArray *tags;
  gboolean have_extinf;
  gint64 duration_us;
  gboolean discontinuity;
  gboolean have_byterange;
  guint64 br_length;
  gint64 br_offset;
  gchar *key;
  gchar *map;
  const gchar *prev_br_uri;
  guint64 prev_br_end;
  guint64 sequence;
} VodParser;

static gboolean
vod_parse_segment_uri (VodParser * p, VodPlaylist * vod, const gchar * uri,
    GError ** error)
{
  VodSegment *seg;

  if (!p->have_extinf) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "segment '%s' has no EXTINF", uri);
    return FALSE;
  }

  seg = g_new0 (VodSegment, 1);
  seg->uri = g_strdup (uri);
  seg->duration_us = p->duration_us;
  seg->discontinuity = p->discontinuity;
  seg->key = g_strdup (p->key);
  seg->map = g_strdup (p->map);
  seg->sequence = p->sequence++;
  seg->tags = p->tags;

  /* An offset-less byte range continues the previous one: spell it out, as
   * the window may start at this segment. */
  if (p->have_byterange) {
    gint64 offset = p->br_offset;

    if (offset < 0)
      offset = (p->prev_br_uri && g_str_equal (p->prev_br_uri, uri)) ?
          (gint64) p->prev_br_end : 0;
    g_ptr_array_add (seg->tags,
        g_strdup_printf ("#EXT-X-BYTERANGE:%" G_GUINT64_FORMAT "@%"
            G_GINT64_FORMAT, p->br_length, offset));
    p->prev_br_end = offset + p->br_length;
  }
  g_ptr_array_add (vod->segments, seg);
  p->prev_br_uri = seg->uri;

  if (seg->discontinuity)
    vod->discontinuities++;
  vod->max_duration_us = MAX (vod->max_duration_us, seg->duration_us);

  p->tags = g_ptr_array_new_with_free_func (g_free);
  p->have_extinf = FALSE;
  p->discontinuity = FALSE;
  p->have_byterange = FALSE;
  return TRUE;
}

static gboolean
vod_parse_line (VodParser * p, VodPlaylist * vod, const gchar * line,
    GError ** error)
{
  if (line[0] == '\0')
    return TRUE;

  if (line[0] != '#')
    return vod_parse_segment_uri (p, vod, line, error);

  if (g_str_has_prefix (line, "#EXT-X-MEDIA-SEQUENCE:")) {
    p->sequence = g_ascii_strtoull (line + strlen ("#EXT-X-MEDIA-SEQUENCE:"),
        NULL, 10);
  } else if (is_dropped_tag (line)) {
    /* regenerated for the window */
  } else if (is_header_tag (line)) {
    if (g_str_has_prefix (line, "#EXT-X-TARGETDURATION:"))
      vod->has_target_duration = TRUE;
    g_ptr_array_add (vod->header, g_strdup (line));
  } else if (g_str_equal (line, "#EXT-X-DISCONTINUITY")) {
    p->discontinuity = TRUE;
  } else if (g_str_has_prefix (line, "#EXT-X-KEY:")) {
    g_free (p->key);
    p->key = strstr (line, "METHOD=NONE") ? NULL : rewrite_uri_attribute (line);
  } else if (g_str_has_prefix (line, "#EXT-X-MAP:")) {
    g_free (p->map);
    p->map = rewrite_uri_attribute (line);
  } else if (g_str_has_prefix (line, "#EXT-X-BYTERANGE:")) {
    if (!parse_byterange (line + strlen ("#EXT-X-BYTERANGE:"), &p->br_length,
            &p->br_offset)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "bad byte range '%s'", line);
      return FALSE;
    }
    p->have_byterange = TRUE;
  } else if (g_str_has_prefix (line, "#EXTINF:")) {
    gchar *end;
    gdouble duration = g_ascii_strtod (line + strlen ("#EXTINF:"), &end);

    if (end == line + strlen ("#EXTINF:") || !(duration >= 0.0)
        || duration > 86400.0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "bad EXTINF '%s'", line);
      return FALSE;
    }
    p->duration_us = (gint64) (duration * G_USEC_PER_SEC + 0.5);
    p->have_extinf = TRUE;
    g_ptr_array_add (p->tags, g_strdup (line));
  } else if (g_str_has_prefix (line, "#EXT")) {
    g_ptr_array_add (p->tags, g_strdup (line));
  }
  /* plain comments are dropped */
  return TRUE;
}

static VodPlaylist *
vod_playlist_parse (const gchar * text, GError ** error)
{
  g_auto (GStrv) lines = NULL;
  g_autoptr (VodPlaylist) vod = g_new0 (VodPlaylist, 1);
  VodParser p = { 0, };
  gboolean ok = TRUE;
  guint i;

  vod->header = g_ptr_array_new_with_free_func (g_free);
  vod->segments = g_ptr_array_new_with_free_func (vod_segment_free);

  if (!g_str_has_prefix (text, "#EXTM3U")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "not an M3U8 playlist");
    return NULL;
  }

  p.tags = g_ptr_array_new_with_free_func (g_free);
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; ok && lines[i]; i++)
    ok = vod_parse_line (&p, vod, g_strstrip (lines[i]), error);
  g_ptr_array_unref (p.tags);
  g_free (p.key);
  g_free (p.map);
  if (!ok)
    return NULL;

  if (vod->segments->len == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "playlist has no segments");
    return NULL;
  }

  vod->end_us = g_new (gint64, vod->segments->len);
  for (i = 0; i < vod->segments->len; i++) {
    VodSegment *seg = g_ptr_array_index (vod->segments, i);

    vod->total_us += seg->duration_us;
    vod->end_us[i] = vod->total_us;
  }
  if (vod->total_us <= 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "playlist lasts no time");
    return NULL;
  }

  return g_steal_pointer (&vod);
}

/* Availability time of live segment @k: the end of its pass over the VOD. */
static gint64
live_segment_end (const VodPlaylist * vod, guint64 k)
{
  guint n = vod->segments->len;

  return (gint64) (k / n) * vod->total_us + vod->end_us[k % n];
}

/* The last segment available at @now_us. The first @window segments are
 * available from the start so that a player can begin at once: segment k is
 * out when its end, less the end of segment window-1, has passed. */
static guint64
live_last_segment (const VodPlaylist * vod, guint window, gint64 now_us)
{
  guint n = vod->segments->len;
  gint64 threshold = now_us + live_segment_end (vod, window - 1);
  guint64 loop = threshold / vod->total_us;
  gint64 rem = threshold % vod->total_us;
  gint64 last_in_loop = -1;
  guint i;

  for (i = 0; i < n && vod->end_us[i] <= rem; i++)
    last_in_loop = i;

  /* -1 means the last segment of the previous pass */
  return loop * n + last_in_loop;
}

static gboolean
live_segment_has_discontinuity (const VodPlaylist * vod, guint64 k)
{
  guint n = vod->segments->len;
  VodSegment *seg = g_ptr_array_index (vod->segments, k % n);

  return seg->discontinuity || (k % n == 0 && k >= n);
}

static guint64
live_discontinuities_before (const VodPlaylist * vod, guint64 first)
{
  guint n = vod->segments->len;
  guint64 loop = first / n;
  VodSegment *seg0 = g_ptr_array_index (vod->segments, 0);
  guint64 per_wrapped_loop = vod->discontinuities + (seg0->discontinuity ? 0 :
      1);
  guint64 count = 0, k;

  if (loop > 0)
    count = vod->discontinuities + (loop - 1) * per_wrapped_loop;
  for (k = loop * n; k < first; k++)
    count += live_segment_has_discontinuity (vod, k);

  return count;
}

/* AES-128 without IV takes the media sequence number as IV, which the
 * window renumbers: spell out the VOD's number. */
static gchar *
live_key_line (const VodSegment * seg)
{
  if (!seg->key)
    return NULL;
  if (strstr (seg->key, "METHOD=AES-128") && !strstr (seg->key, ",IV=")
      && !strstr (seg->key, ":IV="))
    return g_strdup_printf ("%s,IV=0x0000000000000000%016" G_GINT64_MODIFIER
        "x", seg->key, seg->sequence);
  return g_strdup (seg->key);
}

static gchar *
live_window_playlist (const VodPlaylist * vod, guint window, gint64 now_us)
{
  GString *out = g_string_new ("#EXTM3U\n");
  guint n = vod->segments->len;
  guint64 last = live_last_segment (vod, window, now_us);
  guint64 first = last + 1 >= window ? last + 1 - window : 0;
  g_autofree gchar *prev_key = NULL;
  const gchar *prev_map = NULL;
  guint64 k;
  guint i;

  for (i = 0; i < vod->header->len; i++)
    g_string_append_printf (out, "%s\n",
        (gchar *) g_ptr_array_index (vod->header, i));
  if (!vod->has_target_duration)
    g_string_append_printf (out, "#EXT-X-TARGETDURATION:%" G_GINT64_FORMAT "\n",
        (vod->max_duration_us + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC);
  g_string_append_printf (out, "#EXT-X-MEDIA-SEQUENCE:%" G_GUINT64_FORMAT "\n",
      first);
  g_string_append_printf (out,
      "#EXT-X-DISCONTINUITY-SEQUENCE:%" G_GUINT64_FORMAT "\n",
      live_discontinuities_before (vod, first));

  for (k = first; k <= last; k++) {
    VodSegment *seg = g_ptr_array_index (vod->segments, k % n);
    g_autofree gchar *key = live_key_line (seg);
    g_autofree gchar *uri = rewrite_uri (seg->uri, k / n);

    if (live_segment_has_discontinuity (vod, k))
      g_string_append (out, "#EXT-X-DISCONTINUITY\n");
    if (g_strcmp0 (key, prev_key) != 0) {
      g_string_append_printf (out, "%s\n",
          key ? key : "#EXT-X-KEY:METHOD=NONE");
      g_free (prev_key);
      prev_key = g_steal_pointer (&key);
    }
    if (seg->map && g_strcmp0 (seg->map, prev_map) != 0) {
      g_string_append_printf (out, "%s\n", seg->map);
      prev_map = seg->map;
    }
    for (i = 0; i < seg->tags->len; i++)
      g_string_append_printf (out, "%s\n",
          (gchar *) g_ptr_array_index (seg->tags, i));
    g_string_append_printf (out, "%s\n", uri);
  }

  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Live DASH: a static $Number$ MPD made dynamic                            */

#define LIVE_MPD_UPDATE_PERIOD "PT2S"
#define LIVE_MPD_TIME_SHIFT_BUFFER "PT12S"
#define LIVE_MPD_PRESENTATION_DELAY "PT6S"
/* bounds that keep the arithmetic below far from overflowing */
#define LIVE_MPD_MAX_SECONDS (10.0 * 365 * 24 * 3600)
#define LIVE_MPD_MAX_SEGMENTS 10000000

/* One Representation of the static MPD and its effective SegmentTemplate. */
typedef struct
{
  gchar *id;
  gchar *bandwidth;
  gchar *media;                 /* SegmentTemplate@media */
  gchar *initialization;        /* SegmentTemplate@initialization or NULL */
  guint64 timescale;
  guint64 duration;             /* in timescale units */
  guint64 start_number;
  guint64 count;                /* segments in the VOD */
} LiveRep;

typedef struct
{
  xmlDoc *doc;
  xmlNode *period;
  GPtrArray *reps;              /* LiveRep */
} LiveMpd;

static void
live_rep_free (gpointer data)
{
  LiveRep *rep = data;

  g_free (rep->id);
  g_free (rep->bandwidth);
  g_free (rep->media);
  g_free (rep->initialization);
  g_free (rep);
}

static void
live_mpd_free (LiveMpd * mpd)
{
  if (!mpd)
    return;
  if (mpd->doc)
    xmlFreeDoc (mpd->doc);
  if (mpd->reps)
    g_ptr_array_unref (mpd->reps);
  g_free (mpd);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LiveMpd, live_mpd_free);

static gboolean
xml_is (const xmlNode * node, const gchar * name)
{
  return node && node->type == XML_ELEMENT_NODE
      && xmlStrEqual (node->name, (const xmlChar *) name);
}

static xmlNode *
xml_child (const xmlNode * parent, const gchar * name)
{
  xmlNode *child;

  if (!parent)
    return NULL;
  for (child = parent->children; child; child = child->next)
    if (xml_is (child, name))
      return child;
  return NULL;
}

/* The attribute as a g_malloc'ed string, NULL when absent. */
static gchar *
xml_attr (const xmlNode * node, const gchar * name)
{
  xmlChar *value;
  gchar *copy;

  if (!node)
    return NULL;
  value = xmlGetProp (node, (const xmlChar *) name);
  if (!value)
    return NULL;
  copy = g_strdup ((const gchar *) value);
  xmlFree (value);
  return copy;
}

/* An xs:duration as DASH uses it (PnDTnHnMn.nS; years and months only as
 * 0, since their length is ambiguous), in seconds. */
static gboolean
parse_xs_duration (const gchar * text, gdouble * seconds)
{
  const gchar *p = text;
  gboolean in_time = FALSE, any = FALSE;
  gdouble total = 0;

  if (!p || *p++ != 'P')
    return FALSE;
  while (*p) {
    gchar *end;
    gdouble value;

    if (*p == 'T' && !in_time) {
      in_time = TRUE;
      p++;
      continue;
    }
    /* g_ascii_strtod() would take "inf", "nan", signs and hex too */
    if (!g_ascii_isdigit (*p) && *p != '.')
      return FALSE;
    value = g_ascii_strtod (p, &end);
    if (end == p || !(value >= 0.0 && value < LIVE_MPD_MAX_SECONDS))
      return FALSE;
    if (!in_time && (*end == 'Y' || *end == 'M')) {
      if (value != 0.0)
        return FALSE;
    } else if (!in_time && *end == 'D')
      total += value * 86400;
    else if (in_time && *end == 'H')
      total += value * 3600;
    else if (in_time && *end == 'M')
      total += value * 60;
    else if (in_time && *end == 'S')
      total += value;
    else
      return FALSE;
    any = TRUE;
    p = end + 1;
  }
  if (!any || total >= LIVE_MPD_MAX_SECONDS)
    return FALSE;
  *seconds = total;
  return TRUE;
}

/* The attribute @name of the most specific SegmentTemplate that has it,
 * looking at @levels from the most specific (Representation) out. */
static gchar *
template_attr (xmlNode ** templates, guint n_levels, const gchar * name)
{
  guint i;

  for (i = 0; i < n_levels; i++) {
    gchar *value = xml_attr (templates[i], name);

    if (value)
      return value;
  }
  return NULL;
}

static gboolean
parse_template_number (const gchar * text, guint64 min, guint64 max,
    guint64 * value)
{
  return text && g_ascii_string_to_unsigned (text, 10, min, max, value, NULL);
}

static LiveRep *
live_rep_new (xmlNode * period, xmlNode * set, xmlNode * rep_node,
    gdouble total_seconds, GError ** error)
{
  xmlNode *templates[] = {
    xml_child (rep_node, "SegmentTemplate"),
    xml_child (set, "SegmentTemplate"),
    xml_child (period, "SegmentTemplate"),
  };
  g_autofree gchar *timescale = template_attr (templates, 3, "timescale");
  g_autofree gchar *duration = template_attr (templates, 3, "duration");
  g_autofree gchar *start = template_attr (templates, 3, "startNumber");
  LiveRep *rep = g_new0 (LiveRep, 1);
  gdouble segment_seconds, count;
  guint i;

  rep->id = xml_attr (rep_node, "id");
  rep->bandwidth = xml_attr (rep_node, "bandwidth");
  rep->media = template_attr (templates, 3, "media");
  rep->initialization = template_attr (templates, 3, "initialization");
  rep->timescale = 1;
  rep->start_number = 1;

  for (i = 0; i < G_N_ELEMENTS (templates); i++) {
    if (xml_child (templates[i], "SegmentTimeline")) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "SegmentTimeline is not supported, only @duration");
      goto fail;
    }
  }
  if (!rep->id || !rep->media || !strstr (rep->media, "$Number")
      || strstr (rep->media, "$Time")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "Representation '%s' has no SegmentTemplate@media with $Number$",
        rep->id ? rep->id : "(no id)");
    goto fail;
  }
  if ((timescale && !parse_template_number (timescale, 1, G_MAXUINT32,
              &rep->timescale))
      || !parse_template_number (duration, 1, G_MAXUINT32, &rep->duration)
      || (start && !parse_template_number (start, 0, G_MAXUINT32,
              &rep->start_number))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "Representation '%s': missing or bad SegmentTemplate @duration, "
        "@timescale or @startNumber", rep->id);
    goto fail;
  }

  segment_seconds = (gdouble) rep->duration / rep->timescale;
  count = ceil (total_seconds / segment_seconds - 1e-6);
  if (!(count >= 1 && count <= LIVE_MPD_MAX_SEGMENTS)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "Representation '%s' would have %g segments", rep->id, count);
    goto fail;
  }
  rep->count = (guint64) count;
  return rep;

fail:
  live_rep_free (rep);
  return NULL;
}

/* Parses a static single-Period MPD whose Representations all use
 * SegmentTemplate with @duration and $Number$. */
static LiveMpd *
live_mpd_parse (const gchar * data, gsize size, GError ** error)
{
  g_autoptr (LiveMpd) mpd = g_new0 (LiveMpd, 1);
  g_autofree gchar *type = NULL;
  g_autofree gchar *length = NULL;
  xmlNode *root, *node, *set, *rep_node;
  gdouble total_seconds;

  if (size > G_MAXINT) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "MPD too big");
    return NULL;
  }
  mpd->doc = xmlReadMemory (data, (int) size, NULL, NULL,
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  root = mpd->doc ? xmlDocGetRootElement (mpd->doc) : NULL;
  if (!xml_is (root, "MPD")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not an MPD");
    return NULL;
  }
  type = xml_attr (root, "type");
  if (type && !g_str_equal (type, "static")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "MPD is not static");
    return NULL;
  }

  for (node = root->children; node; node = node->next) {
    if (!xml_is (node, "Period"))
      continue;
    if (mpd->period) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "only single-Period MPDs can be made live");
      return NULL;
    }
    mpd->period = node;
  }
  if (!mpd->period) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no Period");
    return NULL;
  }

  length = xml_attr (root, "mediaPresentationDuration");
  if (!length)
    length = xml_attr (mpd->period, "duration");
  if (!parse_xs_duration (length, &total_seconds) || total_seconds <= 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "missing or bad mediaPresentationDuration");
    return NULL;
  }

  mpd->reps = g_ptr_array_new_with_free_func (live_rep_free);
  for (set = mpd->period->children; set; set = set->next) {
    if (!xml_is (set, "AdaptationSet"))
      continue;
    for (rep_node = set->children; rep_node; rep_node = rep_node->next) {
      LiveRep *rep;

      if (!xml_is (rep_node, "Representation"))
        continue;
      rep = live_rep_new (mpd->period, set, rep_node, total_seconds, error);
      if (!rep)
        return NULL;
      g_ptr_array_add (mpd->reps, rep);
    }
  }
  if (mpd->reps->len == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "no Representation");
    return NULL;
  }

  return g_steal_pointer (&mpd);
}

/* Reads the template identifier that starts at the '$' at @p: its name
 * (empty for "$$"), the width of a %0<width>d format (0 for none) and
 * where it ends. */
static gboolean
template_identifier (const gchar * p, gchar ** name, guint * width,
    const gchar ** next)
{
  const gchar *close = strchr (p + 1, '$');
  const gchar *format;

  if (!close)
    return FALSE;
  format = memchr (p + 1, '%', close - p - 1);
  *width = 0;
  if (format) {
    const gchar *digits = format + 1;
    gchar *end;
    guint64 w;

    if (*digits == '0')
      digits++;
    w = g_ascii_strtoull (digits, &end, 10);
    if (end == digits || end + 1 != close || *end != 'd' || w > 32)
      return FALSE;
    *width = w;
  }
  *name = g_strndup (p + 1, (format ? format : close) - p - 1);
  *next = close + 1;
  return TRUE;
}

/* The text an identifier other than $Number$ stands for, NULL if unknown. */
static gchar *
template_value (const LiveRep * rep, const gchar * name, guint width)
{
  if (name[0] == '\0')
    return g_strdup ("$");
  if (g_str_equal (name, "RepresentationID"))
    return g_strdup (rep->id);
  if (g_str_equal (name, "Bandwidth") && rep->bandwidth)
    return g_strdup_printf ("%0*" G_GUINT64_FORMAT, width,
        g_ascii_strtoull (rep->bandwidth, NULL, 10));
  return NULL;
}

/* The URL template @tpl of @rep for segment @number. */
static gchar *
template_expand (const LiveRep * rep, const gchar * tpl, guint64 number)
{
  GString *out = g_string_new (NULL);
  const gchar *p = tpl;

  while (*p) {
    g_autofree gchar *name = NULL;
    g_autofree gchar *value = NULL;
    guint width;

    if (*p != '$') {
      g_string_append_c (out, *p++);
      continue;
    }
    if (!template_identifier (p, &name, &width, &p))
      goto fail;
    if (g_str_equal (name, "Number"))
      value = g_strdup_printf ("%0*" G_GUINT64_FORMAT, width, number);
    else
      value = template_value (rep, name, width);
    if (!value)
      goto fail;
    g_string_append (out, value);
  }
  return g_string_free (out, FALSE);

fail:
  g_string_free (out, TRUE);
  return NULL;
}

/* Whether @path is SegmentTemplate@media of @rep for some number, which is
 * returned in *number. */
static gboolean
template_match (const LiveRep * rep, const gchar * path, guint64 * number)
{
  const gchar *p = rep->media;
  gboolean have_number = FALSE;

  while (*p) {
    g_autofree gchar *name = NULL;
    g_autofree gchar *value = NULL;
    guint width;

    if (*p != '$') {
      if (*path++ != *p++)
        return FALSE;
      continue;
    }
    if (!template_identifier (p, &name, &width, &p))
      return FALSE;
    if (g_str_equal (name, "Number")) {
      gchar *end;

      if (!g_ascii_isdigit (*path))
        return FALSE;
      *number = g_ascii_strtoull (path, &end, 10);
      /* more digits than a guint64 holds: no segment of ours */
      if (end - path > 18)
        return FALSE;
      path = end;
      have_number = TRUE;
      continue;
    }
    value = template_value (rep, name, width);
    if (!value || !g_str_has_prefix (path, value))
      return FALSE;
    path += strlen (value);
  }
  return have_number && *path == '\0';
}

/* When live segment @number of @rep becomes available: the end of the
 * segment, in µs of the live clock. */
static gdouble
live_rep_available_us (const LiveRep * rep, guint64 number)
{
  return (gdouble) (number - rep->start_number + 1) * rep->duration
      * G_USEC_PER_SEC / rep->timescale;
}

static gchar *
format_utc (gint64 unix_us)
{
  g_autoptr (GDateTime) time =
      g_date_time_new_from_unix_utc (unix_us / G_USEC_PER_SEC);
  g_autofree gchar *seconds = g_date_time_format (time, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", seconds,
      (int) (unix_us % G_USEC_PER_SEC / 1000));
}

static void
xml_set (xmlNode * node, const gchar * name, const gchar * value)
{
  xmlSetProp (node, (const xmlChar *) name, (const xmlChar *) value);
}

static void
xml_unset (xmlNode * node, const gchar * name)
{
  xmlUnsetProp (node, (const xmlChar *) name);
}

/* Sends segment requests back with ?mpd=<static MPD>, so that the segment
 * handler knows which templates the request path follows. */
static void
tag_segment_templates (xmlNode * node, const gchar * mpd_query)
{
  xmlNode *child;

  for (child = node->children; child; child = child->next) {
    if (child->type != XML_ELEMENT_NODE)
      continue;
    if (xml_is (child, "SegmentTemplate")) {
      g_autofree gchar *media = xml_attr (child, "media");

      if (media) {
        g_autofree gchar *tagged = g_strdup_printf ("%s%c%s", media,
            strchr (media, '?') ? '&' : '?', mpd_query);
        xml_set (child, "media", tagged);
      }
    }
    tag_segment_templates (child, mpd_query);
  }
}

static gboolean
xml_uses_ns (xmlNode * node, xmlNs * ns)
{
  xmlNode *child;
  xmlAttr *attr;

  if (node->ns == ns)
    return TRUE;
  for (attr = node->properties; attr; attr = attr->next)
    if (attr->ns == ns)
      return TRUE;
  for (child = node->children; child; child = child->next)
    if (child->type == XML_ELEMENT_NODE && xml_uses_ns (child, ns))
      return TRUE;
  return FALSE;
}

/* GStreamer's MPD typefinder (push mode, as over HTTP) only recognises an
 * MPD whose start tag ends within its first 512 bytes, and the live
 * attributes make it longer: drop the schema hint and the namespace
 * declarations nothing uses. */
static void
shorten_mpd_start_tag (xmlNode * root)
{
  xmlAttr *attr, *next_attr;
  xmlNs **link;

  for (attr = root->properties; attr; attr = next_attr) {
    next_attr = attr->next;
    if (attr->ns
        && xmlStrEqual (attr->name, (const xmlChar *) "schemaLocation"))
      xmlRemoveProp (attr);
  }
  link = &root->nsDef;
  while (*link) {
    xmlNs *ns = *link;

    if (ns->prefix && !xml_uses_ns (root, ns)) {
      *link = ns->next;
      ns->next = NULL;
      xmlFreeNs (ns);
    } else {
      link = &ns->next;
    }
  }
}

/* Rewrites the parsed static MPD into a dynamic one: @ast_us and
 * @publish_us are UTC times in µs, @mpd_path the static MPD's path under the
 * root, @time_url the UTCTiming URL. */
static gchar *
live_mpd_render (LiveMpd * mpd, gint64 ast_us, gint64 publish_us,
    const gchar * mpd_path, const gchar * time_url, gsize * length)
{
  xmlNode *root = xmlDocGetRootElement (mpd->doc);
  g_autofree gchar *ast = format_utc (ast_us);
  g_autofree gchar *publish = format_utc (publish_us);
  g_autofree gchar *escaped = g_uri_escape_string (mpd_path, "/", FALSE);
  g_autofree gchar *mpd_query = g_strconcat ("mpd=", escaped, NULL);
  xmlNode *node, *next, *timing;
  xmlChar *text = NULL;
  int size = 0;
  gchar *out;

  xml_set (root, "type", "dynamic");
  xml_set (root, "availabilityStartTime", ast);
  xml_set (root, "publishTime", publish);
  xml_set (root, "minimumUpdatePeriod", LIVE_MPD_UPDATE_PERIOD);
  xml_set (root, "timeShiftBufferDepth", LIVE_MPD_TIME_SHIFT_BUFFER);
  xml_set (root, "suggestedPresentationDelay", LIVE_MPD_PRESENTATION_DELAY);
  xml_unset (root, "mediaPresentationDuration");
  xml_unset (root, "availabilityEndTime");
  shorten_mpd_start_tag (root);
  xml_set (mpd->period, "start", "PT0S");
  xml_unset (mpd->period, "duration");
  tag_segment_templates (root, mpd_query);

  for (node = root->children; node; node = next) {
    next = node->next;
    if (xml_is (node, "UTCTiming")) {
      xmlUnlinkNode (node);
      xmlFreeNode (node);
    }
  }
  timing = xmlNewChild (root, root->ns, (const xmlChar *) "UTCTiming", NULL);
  xml_set (timing, "schemeIdUri", "urn:mpeg:dash:utc:http-iso:2014");
  xml_set (timing, "value", time_url);

  xmlDocDumpMemoryEnc (mpd->doc, &text, &size, "UTF-8");
  out = g_strndup ((const gchar *) text, size);
  *length = size;
  xmlFree (text);
  return out;
}

/* Looped segments carry the decode times of the first pass; their 'tfdt'
 * (and 'sidx') are moved on by the passes before, so that the live timeline
 * keeps going forward as the MPD says it does. */

#define FOURCC(a, b, c, d) \
  (((guint32) (a) << 24) | ((guint32) (b) << 16) | ((guint32) (c) << 8) | (d))

static guint32
read_u32 (const guint8 * p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
      ((guint32) p[2] << 8) | p[3];
}

static guint64
read_u64 (const guint8 * p)
{
  return ((guint64) read_u32 (p) << 32) | read_u32 (p + 4);
}

static void
write_u32 (guint8 * p, guint32 value)
{
  p[0] = value >> 24;
  p[1] = value >> 16;
  p[2] = value >> 8;
  p[3] = value;
}

static void
write_u64 (guint8 * p, guint64 value)
{
  write_u32 (p, value >> 32);
  write_u32 (p + 4, (guint32) value);
}

/* Steps over the box at *pos within [*pos, end): its type, where its body
 * starts and where it ends. FALSE at the end or on a malformed box. */
static gboolean
next_box (const guint8 * data, gsize * pos, gsize end, guint32 * type,
    gsize * body, gsize * box_end)
{
  guint64 size;
  gsize header = 8;

  if (*pos > end || end - *pos < 8)
    return FALSE;
  size = read_u32 (data + *pos);
  *type = read_u32 (data + *pos + 4);
  if (size == 1) {
    if (end - *pos < 16)
      return FALSE;
    size = read_u64 (data + *pos + 8);
    header = 16;
  } else if (size == 0) {
    size = end - *pos;
  }
  if (size < header || size > end - *pos)
    return FALSE;
  *body = *pos + header;
  *box_end = *pos + size;
  *pos = *box_end;
  return TRUE;
}

static gboolean
find_box (const guint8 * data, gsize start, gsize end, guint32 want,
    gsize * body, gsize * box_end)
{
  gsize pos = start;
  guint32 type;

  while (next_box (data, &pos, end, &type, body, box_end))
    if (type == want)
      return TRUE;
  return FALSE;
}

/* The media timescale of the (first) track of an init segment, 0 if none. */
static guint32
init_track_timescale (GBytes * init)
{
  gsize size, body, end, at;
  const guint8 *data = g_bytes_get_data (init, &size);

  if (!find_box (data, 0, size, FOURCC ('m', 'o', 'o', 'v'), &body, &end)
      || !find_box (data, body, end, FOURCC ('t', 'r', 'a', 'k'), &body, &end)
      || !find_box (data, body, end, FOURCC ('m', 'd', 'i', 'a'), &body, &end)
      || !find_box (data, body, end, FOURCC ('m', 'd', 'h', 'd'), &body,
          &end) || body >= end)
    return 0;
  /* version, flags, creation and modification times, then the timescale */
  at = body + (data[body] == 1 ? 20 : 12);
  return at + 4 <= end ? read_u32 (data + at) : 0;
}

/* Adds @delta to the version 0 (32 bits) or 1 (64 bits) time at @at. */
static void
add_box_time (guint8 * data, gsize at, gsize end, guint8 version, guint64 delta)
{
  if (version == 1 && at + 8 <= end)
    write_u64 (data + at, read_u64 (data + at) + delta);
  else if (version == 0 && at + 4 <= end)
    write_u32 (data + at, (guint32) (read_u32 (data + at) + delta));
}

static void
shift_traf_times (guint8 * data, gsize start, gsize end, guint64 delta)
{
  gsize pos = start, body, box_end;
  guint32 type;

  while (next_box (data, &pos, end, &type, &body, &box_end))
    if (type == FOURCC ('t', 'f', 'd', 't') && body < box_end)
      add_box_time (data, body + 4, box_end, data[body], delta);
}

/* Moves the fragments in @data on by @seconds: 'tfdt' in @track_timescale
 * units, 'sidx' in its own. */
static void
shift_fragment_times (guint8 * data, gsize size, gdouble seconds,
    guint32 track_timescale)
{
  gsize pos = 0, body, box_end;
  guint32 type;

  while (next_box (data, &pos, size, &type, &body, &box_end)) {
    if (type == FOURCC ('s', 'i', 'd', 'x') && body + 12 <= box_end) {
      /* version, flags, reference_ID, timescale, earliest time */
      guint32 timescale = read_u32 (data + body + 8);

      add_box_time (data, body + 12, box_end, data[body],
          (guint64) llround (seconds * timescale));
    } else if (type == FOURCC ('m', 'o', 'o', 'f')) {
      gsize traf_pos = body, traf_body, traf_end;
      guint32 child;

      while (next_box (data, &traf_pos, box_end, &child, &traf_body, &traf_end))
        if (child == FOURCC ('t', 'r', 'a', 'f'))
          shift_traf_times (data, traf_body, traf_end,
              (guint64) llround (seconds * track_timescale));
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Responses (server thread)                                                */

static const gchar *
content_type_for (const gchar * path)
{
  static const struct
  {
    const gchar *ext;
    const gchar *type;
  } types[] = {
    {".m3u8", "application/vnd.apple.mpegurl"},
    {".ts", "video/mp2t"},
    {".mp4", "video/mp4"},
    {".m4s", "video/mp4"},
    {".aac", "audio/aac"},
    {".vtt", "text/vtt"},
    {".mpd", "application/dash+xml"},
    {".key", "application/octet-stream"},
    {".bin", "application/octet-stream"},
    {".json", "application/json"},
    {".txt", "text/plain"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_has_suffix (path, types[i].ext))
      return types[i].type;
  return "application/octet-stream";
}

static void
respond_text (SoupServerMessage * msg, guint status, const gchar * text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY,
      text, strlen (text));
}

/* Single ranges only: anything else is ignored and the whole body sent, as
 * RFC 9110 allows. */
static RangeResult
parse_range (const gchar * header, gsize size, gsize * start, gsize * end)
{
  const gchar *spec, *dash;
  gchar *stop;
  guint64 a, b;

  if (!header || !g_str_has_prefix (header, "bytes="))
    return RANGE_NONE;
  spec = header + strlen ("bytes=");
  if (strchr (spec, ',') || !(dash = strchr (spec, '-')))
    return RANGE_NONE;

  if (dash == spec) {
    /* suffix: the last b bytes */
    if (!g_ascii_isdigit (dash[1]))
      return RANGE_NONE;
    b = g_ascii_strtoull (dash + 1, &stop, 10);
    if (*stop != '\0')
      return RANGE_NONE;
    if (b == 0 || size == 0)
      return RANGE_UNSATISFIABLE;
    *start = b >= size ? 0 : size - b;
    *end = size - 1;
    return RANGE_OK;
  }

  if (!g_ascii_isdigit (spec[0]))
    return RANGE_NONE;
  a = g_ascii_strtoull (spec, &stop, 10);
  if (stop != dash)
    return RANGE_NONE;
  if (dash[1] == '\0') {
    b = G_MAXUINT64;
  } else {
    if (!g_ascii_isdigit (dash[1]))
      return RANGE_NONE;
    b = g_ascii_strtoull (dash + 1, &stop, 10);
    if (*stop != '\0' || b < a)
      return RANGE_NONE;
  }
  if (a >= size)
    return RANGE_UNSATISFIABLE;
  *start = a;
  *end = MIN (b, (guint64) size - 1);
  return RANGE_OK;
}

static void
transfer_free (gpointer data)
{
  Transfer *t = data;

  if (t->timer) {
    g_source_destroy (t->timer);
    g_source_unref (t->timer);
  }
  if (t->drop_source) {
    g_source_destroy (t->drop_source);
    g_source_unref (t->drop_source);
  }
  g_clear_pointer (&t->body, g_bytes_unref);
  g_free (t->path);
  g_free (t->live_mpd);
  g_free (t);
}

static void
transfer_schedule (Transfer * t, GSource ** slot, guint delay_ms,
    GSourceFunc func)
{
  if (*slot) {
    g_source_destroy (*slot);
    g_source_unref (*slot);
  }
  *slot = delay_ms ? g_timeout_source_new (delay_ms) : g_idle_source_new ();
  g_source_set_callback (*slot, func, t, NULL);
  g_source_attach (*slot, t->server->context);
}

static void
transfer_append_slice (Transfer * t)
{
  SoupMessageBody *body = soup_server_message_get_response_body (t->msg);
  gsize slice = t->limit - t->appended;

  if (t->fault.rate > 0)
    slice = MIN (slice, MAX (t->fault.rate / PACE_SLICES_PER_SEC, 1));
  if (slice > 0) {
    GBytes *bytes = g_bytes_new_from_bytes (t->body, t->appended, slice);

    soup_message_body_append_bytes (body, bytes);
    g_bytes_unref (bytes);
    t->appended += slice;
  }
  if (t->appended == g_bytes_get_size (t->body))
    soup_message_body_complete (body);
}

static gboolean
on_pace_timer (gpointer data)
{
  Transfer *t = data;

  g_clear_pointer (&t->timer, g_source_unref);
  transfer_append_slice (t);
  soup_server_message_unpause (t->msg);
  return G_SOURCE_REMOVE;
}

/* libsoup pauses the message by itself once it runs out of body; the next
 * slice is due when the bytes so far have taken their share of time. */
static void
on_wrote_chunk (SoupServerMessage * msg, Transfer * t)
{
  gint64 due, wait_us;

  if (t->fault.rate == 0 || t->appended >= t->limit)
    return;
  due = t->stream_start + (gint64) (t->appended * G_USEC_PER_SEC /
      t->fault.rate);
  wait_us = MAX (due - g_get_monotonic_time (), 0);
  transfer_schedule (t, &t->timer, (guint) ((wait_us + 999) / 1000),
      on_pace_timer);
}

/* Half-closing both ways makes the client see the body end early; the rest
 * of the message then ends cleanly inside libsoup. */
static gboolean
on_drop (gpointer data)
{
  Transfer *t = data;
  GSocket *socket = soup_server_message_get_socket (t->msg);

  g_clear_pointer (&t->drop_source, g_source_unref);
  g_debug ("dropping %s after %" G_GUINT64_FORMAT " bytes", t->path,
      t->written);
  if (socket)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  soup_message_body_complete (soup_server_message_get_response_body (t->msg));
  soup_server_message_unpause (t->msg);
  return G_SOURCE_REMOVE;
}

static void
maybe_drop (Transfer * t)
{
  if (t->dropping && t->written >= t->limit && !t->drop_source) {
    t->dropping = FALSE;
    transfer_schedule (t, &t->drop_source, 0, on_drop);
  }
}

static void
on_wrote_headers (SoupServerMessage * msg, Transfer * t)
{
  maybe_drop (t);
}

static void
on_wrote_body_data (SoupServerMessage * msg, gsize size, Transfer * t)
{
  t->written += size;
  count_bytes (t->server, t->path, size);
  maybe_drop (t);
}

static void
transfer_stream_body (Transfer * t, GBytes * body)
{
  gsize size = g_bytes_get_size (body);
  SoupMessageHeaders *headers =
      soup_server_message_get_response_headers (t->msg);

  t->body = g_bytes_ref (body);
  t->limit = size;
  if (t->fault.drop_after >= 0 && (guint64) t->fault.drop_after < size) {
    t->limit = t->fault.drop_after;
    t->dropping = TRUE;
  }
  t->stream_start = g_get_monotonic_time ();

  soup_message_headers_set_content_length (headers, size);
  soup_message_body_set_accumulate (soup_server_message_get_response_body
      (t->msg), FALSE);
  g_signal_connect (t->msg, "wrote-headers", G_CALLBACK (on_wrote_headers), t);
  g_signal_connect (t->msg, "wrote-chunk", G_CALLBACK (on_wrote_chunk), t);
  transfer_append_slice (t);
}

static void
respond_bytes (Transfer * t, GBytes * all, const gchar * content_type)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (t->msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (t->msg);
  gsize size = g_bytes_get_size (all), start = 0, end = 0;
  g_autoptr (GBytes) body = NULL;
  gboolean streamed;

  soup_message_headers_replace (resp, "Accept-Ranges", "bytes");
  soup_message_headers_replace (resp, "Content-Type", content_type);

  switch (parse_range (soup_message_headers_get_one (req, "Range"), size,
          &start, &end)) {
    case RANGE_UNSATISFIABLE:{
      g_autofree gchar *cr = g_strdup_printf ("bytes */%" G_GSIZE_FORMAT, size);

      soup_message_headers_replace (resp, "Content-Range", cr);
      soup_server_message_set_status (t->msg,
          SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, NULL);
      return;
    }
    case RANGE_OK:
      soup_server_message_set_status (t->msg, SOUP_STATUS_PARTIAL_CONTENT,
          NULL);
      soup_message_headers_set_content_range (resp, start, end, size);
      body = g_bytes_new_from_bytes (all, start, end - start + 1);
      break;
    case RANGE_NONE:
      /* keep libsoup from applying a range we chose to ignore */
      soup_message_headers_remove (req, "Range");
      soup_server_message_set_status (t->msg, SOUP_STATUS_OK, NULL);
      body = g_bytes_ref (all);
      break;
  }

  streamed = t->fault.rate > 0 || (t->fault.drop_after >= 0
      && (guint64) t->fault.drop_after < g_bytes_get_size (body));
  if (streamed && soup_server_message_get_method (t->msg) == SOUP_METHOD_GET)
    transfer_stream_body (t, body);
  else if (g_bytes_get_size (body) > 0)
    soup_message_body_append_bytes (soup_server_message_get_response_body
        (t->msg), body);
}

/* @path is the decoded request path relative to the root; what it names
 * must pass @test. */
static gchar *
resolve_path (MeshOriginServer * server, const gchar * path, GFileTest test,
    guint * status)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  g_autofree gchar *filename = NULL;
  guint i;

  g_ptr_array_add (kept, server->root);
  for (i = 0; parts[i]; i++) {
    if (parts[i][0] == '\0' || g_str_equal (parts[i], "."))
      continue;
    if (g_str_equal (parts[i], "..") || strchr (parts[i], '\\')) {
      *status = SOUP_STATUS_FORBIDDEN;
      return NULL;
    }
    g_ptr_array_add (kept, parts[i]);
  }
  g_ptr_array_add (kept, NULL);

  filename = g_build_filenamev ((gchar **) kept->pdata);
  if (!g_file_test (filename, test)) {
    *status = SOUP_STATUS_NOT_FOUND;
    return NULL;
  }
  return g_steal_pointer (&filename);
}

static gchar *
resolve_file (MeshOriginServer * server, const gchar * path, guint * status)
{
  return resolve_path (server, path, G_FILE_TEST_IS_REGULAR, status);
}

static GBytes *
load_file (MeshOriginServer * server, const gchar * path, guint * status)
{
  g_autofree gchar *filename = resolve_file (server, path, status);
  g_autoptr (GError) error = NULL;
  GMappedFile *mapped;
  GBytes *bytes;

  if (!filename)
    return NULL;
  mapped = g_mapped_file_new (filename, FALSE, &error);
  if (!mapped) {
    g_debug ("cannot map %s: %s", filename, error->message);
    *status = SOUP_STATUS_NOT_FOUND;
    return NULL;
  }
  bytes = g_mapped_file_get_bytes (mapped);
  g_mapped_file_unref (mapped);
  return bytes;
}

static void
respond_live_playlist (Transfer * t, const gchar * vod_path)
{
  MeshOriginServer *server = t->server;
  guint status = SOUP_STATUS_OK;
  g_autoptr (GBytes) vod_bytes = load_file (server, vod_path, &status);
  g_autofree gchar *text = NULL;
  g_autofree gchar *live = NULL;
  g_autoptr (VodPlaylist) vod = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;

  if (!vod_bytes) {
    respond_text (t->msg, status, soup_status_get_phrase (status));
    return;
  }
  text = g_strndup (g_bytes_get_data (vod_bytes, NULL),
      g_bytes_get_size (vod_bytes));

  if (is_master_playlist (text)) {
    live = rewrite_master_playlist (text);
  } else {
    vod = vod_playlist_parse (text, &error);
    if (!vod) {
      g_autofree gchar *why = g_strdup_printf ("cannot loop %s: %s\n",
          vod_path, error->message);
      respond_text (t->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, why);
      return;
    }
    live = live_window_playlist (vod, server->live_window,
        live_clock_us (server));
  }

  soup_message_headers_replace (soup_server_message_get_response_headers
      (t->msg), "Cache-Control", "no-cache");
  body = g_bytes_new_take (live, strlen (live));
  live = NULL;
  respond_bytes (t, body, "application/vnd.apple.mpegurl");
}

static void
respond_file (Transfer * t, const gchar * path)
{
  guint status = SOUP_STATUS_OK;
  g_autoptr (GBytes) bytes = load_file (t->server, path, &status);

  if (!bytes) {
    respond_text (t->msg, status, soup_status_get_phrase (status));
    return;
  }
  respond_bytes (t, bytes, content_type_for (path));
}

/* Loads and parses the static MPD at @mpd_path; on failure answers the
 * request itself and returns NULL. */
static LiveMpd *
load_live_mpd (Transfer * t, const gchar * mpd_path)
{
  guint status = SOUP_STATUS_OK;
  g_autoptr (GBytes) bytes = load_file (t->server, mpd_path, &status);
  g_autoptr (GError) error = NULL;
  LiveMpd *mpd;

  if (!bytes) {
    respond_text (t->msg, status, soup_status_get_phrase (status));
    return NULL;
  }
  mpd = live_mpd_parse (g_bytes_get_data (bytes, NULL),
      g_bytes_get_size (bytes), &error);
  if (!mpd) {
    g_autofree gchar *why = g_strdup_printf ("cannot make %s live: %s\n",
        mpd_path, error->message);
    respond_text (t->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, why);
  }
  return mpd;
}

static void
respond_live_mpd (Transfer * t, const gchar * mpd_path)
{
  MeshOriginServer *server = t->server;
  g_autoptr (LiveMpd) mpd = load_live_mpd (t, mpd_path);
  g_autofree gchar *time_url = NULL;
  g_autoptr (GBytes) body = NULL;
  gint64 monotonic, utc;
  gchar *text;
  gsize length;

  if (!mpd)
    return;

  /* availabilityStartTime is where the live clock was 0 */
  monotonic = g_get_monotonic_time ();
  utc = server_utc_at (server, monotonic);
  time_url = g_strconcat (server->base_url, "/_time", NULL);
  text = live_mpd_render (mpd, utc - live_clock_at (server, monotonic), utc,
      mpd_path, time_url, &length);

  soup_message_headers_replace (soup_server_message_get_response_headers
      (t->msg), "Cache-Control", "no-cache");
  body = g_bytes_new_take (text, length);
  respond_bytes (t, body, "application/dash+xml");
}

/* The media timescale of @rep's init segment (0 if unknown). */
static guint32
live_rep_track_timescale (MeshOriginServer * server, const LiveRep * rep,
    const gchar * prefix)
{
  g_autofree gchar *name = NULL;
  g_autofree gchar *path = NULL;
  g_autoptr (GBytes) init = NULL;
  guint status = SOUP_STATUS_OK;

  if (!rep->initialization)
    return 0;
  name = template_expand (rep, rep->initialization, 0);
  if (!name)
    return 0;
  path = g_strconcat (prefix, name, NULL);
  init = load_file (server, path, &status);
  return init ? init_track_timescale (init) : 0;
}

/* The bytes of VOD segment @file as a segment of pass @loop (0 = the
 * first), or NULL and an HTTP @status. What is served and what the digest
 * list says of it both come from here. */
static GBytes *
looped_segment_bytes (MeshOriginServer * server, const LiveRep * rep,
    const gchar * prefix, const gchar * file, guint64 loop, guint * status)
{
  GBytes *bytes = load_file (server, file, status);
  guint32 track_timescale;

  if (!bytes)
    return NULL;
  track_timescale = loop > 0 ? live_rep_track_timescale (server, rep,
      prefix) : 0;
  if (track_timescale > 0) {
    gsize size;
    const guint8 *original = g_bytes_get_data (bytes, &size);
    guint8 *data = g_memdup2 (original, size);

    shift_fragment_times (data, size, (gdouble) loop * rep->count *
        rep->duration / rep->timescale, track_timescale);
    g_bytes_unref (bytes);
    bytes = g_bytes_new_take (data, size);
  }
  return bytes;
}

/* Serves VOD segment @file as a segment of pass @loop (0 = the first). */
static void
respond_looped_segment (Transfer * t, const LiveRep * rep,
    const gchar * prefix, const gchar * file, guint64 loop)
{
  guint status = SOUP_STATUS_OK;
  g_autoptr (GBytes) bytes = looped_segment_bytes (t->server, rep, prefix,
      file, loop, &status);

  if (!bytes) {
    respond_text (t->msg, status, soup_status_get_phrase (status));
    return;
  }
  respond_bytes (t, bytes, content_type_for (file));
}

/* A media segment of a live MPD (its URL carries ?mpd=): segments of the
 * future are 404, numbers past the VOD loop over its files. Anything that
 * is not a media segment of the MPD (such as an init segment) is served as
 * it is. */
static void
respond_live_segment (Transfer * t, const gchar * path)
{
  g_autoptr (LiveMpd) mpd = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *prefix = NULL;
  guint i;

  if (t->live_mpd[0] != '/' || !g_str_has_suffix (t->live_mpd, ".mpd")) {
    respond_text (t->msg, SOUP_STATUS_BAD_REQUEST, "bad mpd parameter\n");
    return;
  }
  mpd = load_live_mpd (t, t->live_mpd);
  if (!mpd)
    return;

  dir = g_path_get_dirname (t->live_mpd);
  prefix = g_str_has_suffix (dir, "/") ? g_strdup (dir) :
      g_strconcat (dir, "/", NULL);
  if (!g_str_has_prefix (path, prefix)) {
    respond_file (t, path);
    return;
  }

  for (i = 0; i < mpd->reps->len; i++) {
    LiveRep *rep = g_ptr_array_index (mpd->reps, i);
    g_autofree gchar *name = NULL;
    g_autofree gchar *file = NULL;
    guint64 number;

    if (!template_match (rep, path + strlen (prefix), &number))
      continue;
    if (number < rep->start_number || live_rep_available_us (rep, number) >
        (gdouble) live_clock_us (t->server)) {
      g_autofree gchar *why = g_strdup_printf ("segment %" G_GUINT64_FORMAT
          " of '%s' is not available\n", number, rep->id);
      respond_text (t->msg, SOUP_STATUS_NOT_FOUND, why);
      return;
    }
    name = template_expand (rep, rep->media, rep->start_number +
        (number - rep->start_number) % rep->count);
    if (!name) {
      respond_text (t->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
          "bad SegmentTemplate@media\n");
      return;
    }
    file = g_strconcat (prefix, name, NULL);
    respond_looped_segment (t, rep, prefix, file,
        (number - rep->start_number) / rep->count);
    return;
  }
  respond_file (t, path);
}

/* ------------------------------------------------------------------------ */
/* Digest lists (server thread)                                             */

static gboolean
is_hash_list_path (const gchar * path)
{
  return g_str_has_suffix (path, "/" MESH_HASH_LIST_FILE_NAME);
}

/* Whether the directory @abs holds a playlist or an MPD of its own: lists
 * are published next to manifests only. */
static gboolean
dir_has_manifest (const gchar * abs)
{
  GDir *dir = g_dir_open (abs, 0, NULL);
  const gchar *name;
  gboolean found = FALSE;

  while (dir && !found && (name = g_dir_read_name (dir)))
    found = g_str_has_suffix (name, ".m3u8") || g_str_has_suffix (name, ".mpd");
  if (dir)
    g_dir_close (dir);
  return found;
}

/* The digest of segment @number of @rep as respond_live_segment serves it,
 * from the cache or computed; NULL if its file cannot be read. */
static MeshHashEntry *
looped_entry (MeshOriginServer * server, const gchar * mpd_path,
    const LiveRep * rep, const gchar * prefix, guint64 number)
{
  g_autofree gchar *name = template_expand (rep, rep->media, number);
  g_autofree gchar *key = NULL, *vod_name = NULL, *file = NULL;
  g_autoptr (GBytes) bytes = NULL;
  MeshHashEntry *entry;
  guint8 digest[32];
  guint status = SOUP_STATUS_OK;

  if (!name || !mesh_hash_list_is_valid_path (name))
    return NULL;
  key = g_strconcat (mpd_path, "\n", name, NULL);
  if ((entry = g_hash_table_lookup (server->looped_digests, key)))
    return entry;
  vod_name = template_expand (rep, rep->media, rep->start_number +
      (number - rep->start_number) % rep->count);
  if (!vod_name)
    return NULL;
  file = g_strconcat (prefix, vod_name, NULL);
  bytes = looped_segment_bytes (server, rep, prefix, file,
      (number - rep->start_number) / rep->count, &status);
  if (!bytes)
    return NULL;
  mesh_hash_compute (bytes, digest);
  entry = mesh_hash_entry_new (name, g_bytes_get_size (bytes), digest);
  g_hash_table_insert (server->looped_digests, g_steal_pointer (&key), entry);
  return entry;
}

/* Adds to @entries (borrowed) the segments of passes after the first that
 * the live MPD made of @mpd_path offers now, within its time-shift buffer:
 * their bytes are not any file's (their times are moved on), so the scan
 * of the directory does not have them. */
static void
add_looped_entries (MeshOriginServer * server, const gchar * mpd_path,
    GPtrArray * entries)
{
  guint status = SOUP_STATUS_OK;
  g_autoptr (GBytes) bytes = load_file (server, mpd_path, &status);
  g_autoptr (LiveMpd) mpd = NULL;
  g_autofree gchar *dir = NULL, *prefix = NULL;
  gdouble buffer_s = 0, now_us = live_clock_us (server);
  guint i;

  if (!bytes || !(mpd = live_mpd_parse (g_bytes_get_data (bytes, NULL),
              g_bytes_get_size (bytes), NULL)))
    return;                     /* not an MPD the origin makes live */
  parse_xs_duration (LIVE_MPD_TIME_SHIFT_BUFFER, &buffer_s);
  dir = g_path_get_dirname (mpd_path);
  prefix = g_str_has_suffix (dir, "/") ? g_strdup (dir) :
      g_strconcat (dir, "/", NULL);

  for (i = 0; i < mpd->reps->len; i++) {
    const LiveRep *rep = g_ptr_array_index (mpd->reps, i);
    gdouble segment_us = (gdouble) rep->duration * G_USEC_PER_SEC /
        rep->timescale;
    guint64 available = (guint64) floor (now_us / segment_us);
    guint64 window = (guint64) ceil (buffer_s * G_USEC_PER_SEC / segment_us)
        + 1;
    guint64 first, last, number;

    if (available == 0)
      continue;
    last = rep->start_number + available - 1;
    first = available > window ? last - window + 1 : rep->start_number;
    /* the first pass is the files themselves, which the scan lists */
    first = MAX (first, rep->start_number + rep->count);
    for (number = first; number <= last; number++) {
      MeshHashEntry *entry = looped_entry (server, mpd_path, rep, prefix,
          number);

      if (entry)
        g_ptr_array_add (entries, entry);
    }
  }
}

/* The looped segments of every MPD in the directory @dir_path (@abs). */
static void
add_live_entries (MeshOriginServer * server, const gchar * dir_path,
    const gchar * abs, GPtrArray * entries)
{
  GDir *dir = g_dir_open (abs, 0, NULL);
  const gchar *name;

  /* forgotten between requests, never during one: @entries borrows them */
  if (g_hash_table_size (server->looped_digests) > MAX_LOOPED_DIGESTS)
    g_hash_table_remove_all (server->looped_digests);
  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *mpd_path = NULL;

    if (!g_str_has_suffix (name, ".mpd"))
      continue;
    mpd_path = g_strconcat (dir_path, g_str_has_suffix (dir_path, "/") ? ""
        : "/", name, NULL);
    add_looped_entries (server, mpd_path, entries);
  }
  if (dir)
    g_dir_close (dir);
}

/* GET /<dir>/mesh-hashes.json: a list on disk is served as it is (as a CDN
 * would); otherwise the directory's list, built as mesh-hashes builds it,
 * brought up to date on each request; under /live/, with the looped DASH
 * segments the live MPDs offer now. */
static void
respond_hash_list (Transfer * t, const gchar * path, gboolean live)
{
  MeshOriginServer *server = t->server;
  g_autofree gchar *on_disk = NULL, *dir_path = NULL, *abs = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  guint status = SOUP_STATUS_OK;
  MeshHashScan *scan;
  GPtrArray *warnings;
  gchar *text;
  gsize length;
  guint i;

  if ((on_disk = resolve_file (server, path, &status))) {
    respond_file (t, path);
    return;
  }
  dir_path = g_path_get_dirname (path);
  abs = resolve_path (server, dir_path, G_FILE_TEST_IS_DIR, &status);
  if (!abs || !dir_has_manifest (abs)) {
    respond_text (t->msg, SOUP_STATUS_NOT_FOUND, "no manifest here\n");
    return;
  }
  if (!(scan = g_hash_table_lookup (server->hash_scans, abs))) {
    scan = mesh_hash_scan_new (abs);
    g_hash_table_insert (server->hash_scans, g_strdup (abs), scan);
  }
  if (!mesh_hash_scan_update (scan, MESH_HASH_SCAN_NONE, NULL, &error)) {
    g_autofree gchar *why = g_strdup_printf ("%s\n", error->message);

    respond_text (t->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, why);
    return;
  }
  warnings = mesh_hash_scan_get_warnings (scan);
  for (i = 0; i < warnings->len; i++)
    g_debug ("%s: %s", dir_path, (const gchar *) g_ptr_array_index (warnings,
            i));
  entries = mesh_hash_scan_get_entries (scan);
  if (live)
    add_live_entries (server, dir_path, abs, entries);
  text = mesh_hash_entries_to_json (entries, &length);
  body = g_bytes_new_take (text, length);
  soup_message_headers_replace (soup_server_message_get_response_headers
      (t->msg), "Cache-Control", "no-cache");
  respond_bytes (t, body, "application/json");
}

static void
transfer_respond (Transfer * t)
{
  if (t->fault.status) {
    g_autofree gchar *text = g_strdup_printf ("injected fault %u\n",
        t->fault.status);
    respond_text (t->msg, t->fault.status, text);
    return;
  }

  if (g_str_has_prefix (t->path, LIVE_PREFIX)) {
    const gchar *vod_path = t->path + strlen (LIVE_PREFIX) - 1;

    if (is_hash_list_path (vod_path))
      respond_hash_list (t, vod_path, TRUE);
    else if (g_str_has_suffix (t->path, ".m3u8"))
      respond_live_playlist (t, vod_path);
    else if (g_str_has_suffix (t->path, ".mpd"))
      respond_live_mpd (t, vod_path);
    else if (t->live_mpd)
      respond_live_segment (t, vod_path);
    else
      respond_file (t, vod_path);
  } else if (is_hash_list_path (t->path)) {
    respond_hash_list (t, t->path, FALSE);
  } else {
    respond_file (t, t->path);
  }
}

static gboolean
on_delay_done (gpointer data)
{
  Transfer *t = data;

  g_clear_pointer (&t->timer, g_source_unref);
  transfer_respond (t);
  soup_server_message_unpause (t->msg);
  return G_SOURCE_REMOVE;
}

static void
handle_content (MeshOriginServer * server, SoupServerMessage * msg,
    const gchar * path, GHashTable * query)
{
  const gchar *method = soup_server_message_get_method (msg);
  Transfer *t;

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET or HEAD only\n");
    return;
  }

  t = g_new0 (Transfer, 1);
  t->server = server;
  t->msg = msg;
  t->path = g_strdup (path);
  if (query && g_str_has_prefix (path, LIVE_PREFIX))
    t->live_mpd = g_strdup (g_hash_table_lookup (query, "mpd"));
  t->fault.drop_after = -1;
  g_object_set_data_full (G_OBJECT (msg), "mesh-origin-transfer", t,
      transfer_free);
  g_signal_connect (msg, "wrote-body-data", G_CALLBACK (on_wrote_body_data), t);

  count_request (server, path);
  take_fault (server, path, &t->fault);

  if (t->fault.delay_ms > 0) {
    soup_server_message_pause (msg);
    transfer_schedule (t, &t->timer, t->fault.delay_ms, on_delay_done);
    return;
  }
  transfer_respond (t);
}

/* ------------------------------------------------------------------------ */
/* Control endpoints                                                        */

static void
respond_json (SoupServerMessage * msg, JsonBuilder * builder)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  gsize length;
  gchar *text;

  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &length);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json",
      SOUP_MEMORY_TAKE, text, length);
}

static void
respond_stats (MeshOriginServer * server, SoupServerMessage * msg)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GList) keys = NULL;
  GList *l;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "paths");
  json_builder_begin_object (builder);

  g_mutex_lock (&server->lock);
  keys = g_list_sort (g_hash_table_get_keys (server->stats),
      (GCompareFunc) strcmp);
  for (l = keys; l; l = l->next) {
    PathStats *stats = g_hash_table_lookup (server->stats, l->data);

    json_builder_set_member_name (builder, l->data);
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "requests");
    json_builder_add_int_value (builder, stats->requests);
    json_builder_set_member_name (builder, "bytes");
    json_builder_add_int_value (builder, stats->bytes);
    json_builder_end_object (builder);
  }
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "total_bytes");
  json_builder_add_int_value (builder, server->total_bytes);
  json_builder_set_member_name (builder, "total_requests");
  json_builder_add_int_value (builder, server->total_requests);
  g_mutex_unlock (&server->lock);

  json_builder_end_object (builder);
  respond_json (msg, builder);
}

/* The server's UTC time for DASH clients (UTCTiming http-iso). */
static void
respond_time (MeshOriginServer * server, SoupServerMessage * msg)
{
  g_autofree gchar *now = format_utc (server_utc_at (server,
          g_get_monotonic_time ()));

  soup_message_headers_replace (soup_server_message_get_response_headers
      (msg), "Cache-Control", "no-cache");
  respond_text (msg, SOUP_STATUS_OK, now);
}

static gboolean
parse_query_number (GHashTable * query, const gchar * name, gint64 min,
    gint64 max, gint64 * value, GString * errors)
{
  const gchar *text = query ? g_hash_table_lookup (query, name) : NULL;
  g_autoptr (GError) error = NULL;

  if (!text || !*text)
    return TRUE;
  if (!g_ascii_string_to_signed (text, 10, min, max, value, &error)) {
    g_string_append_printf (errors, "%s: %s\n", name, error->message);
    return FALSE;
  }
  return TRUE;
}

static void
handle_add_fault (MeshOriginServer * server, SoupServerMessage * msg,
    GHashTable * query)
{
  g_autoptr (GString) errors = g_string_new (NULL);
  gint64 count = 0, status = 0, delay_ms = 0, rate = 0, drop_after = -1;
  MeshOriginFault fault = { 0, };

  parse_query_number (query, "count", 0, G_MAXUINT, &count, errors);
  if (parse_query_number (query, "status", 0, 599, &status, errors)
      && status > 0 && status < 100)
    g_string_append (errors, "status: must be 0 or 100..599\n");
  parse_query_number (query, "delay_ms", 0, G_MAXUINT, &delay_ms, errors);
  parse_query_number (query, "rate", 0, G_MAXINT64, &rate, errors);
  parse_query_number (query, "drop_after", -1, G_MAXINT64, &drop_after, errors);
  fault.path_prefix = query ? g_hash_table_lookup (query, "path") : NULL;
  if (!fault.path_prefix || fault.path_prefix[0] != '/')
    g_string_append (errors, "path: must start with '/'\n");
  if (errors->len > 0) {
    respond_text (msg, SOUP_STATUS_BAD_REQUEST, errors->str);
    return;
  }

  fault.count = count;
  fault.status = status;
  fault.delay_ms = delay_ms;
  fault.rate = rate;
  fault.drop_after = drop_after;
  mesh_origin_server_add_fault (server, &fault);
  respond_text (msg, SOUP_STATUS_OK, "ok\n");
}

static void
handle_control (MeshOriginServer * server, SoupServerMessage * msg,
    const gchar * path, GHashTable * query)
{
  const gchar *method = soup_server_message_get_method (msg);
  gboolean post = method == SOUP_METHOD_POST;

  if (g_str_equal (path, "/_time")) {
    if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
      respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET or HEAD only\n");
    else
      respond_time (server, msg);
  } else if (g_str_equal (path, "/_stats")) {
    if (method != SOUP_METHOD_GET)
      respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET only\n");
    else
      respond_stats (server, msg);
  } else if (g_str_equal (path, "/_stats/reset") && post) {
    mesh_origin_server_reset_stats (server);
    respond_text (msg, SOUP_STATUS_OK, "ok\n");
  } else if (g_str_equal (path, "/_fault") && post) {
    handle_add_fault (server, msg, query);
  } else if (g_str_equal (path, "/_fault/clear") && post) {
    mesh_origin_server_clear_faults (server);
    respond_text (msg, SOUP_STATUS_OK, "ok\n");
  } else if (g_str_equal (path, "/_stats/reset")
      || g_str_has_prefix (path, "/_fault")) {
    respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "POST only\n");
  } else {
    respond_text (msg, SOUP_STATUS_NOT_FOUND, "no such control endpoint\n");
  }
}

static gboolean
is_control_path (const gchar * path)
{
  return g_str_equal (path, "/_time")
      || g_str_equal (path, "/_stats") || g_str_has_prefix (path, "/_stats/")
      || g_str_equal (path, "/_fault") || g_str_has_prefix (path, "/_fault/");
}

static void
handle_request (SoupServer * soup, SoupServerMessage * msg,
    const char *raw_path, GHashTable * query, gpointer user_data)
{
  MeshOriginServer *server = user_data;
  /* an escaped '/' or NUL could smuggle a separator past resolve_file() */
  g_autofree gchar *path = g_uri_unescape_string (raw_path, "/");

  if (!path || path[0] != '/') {
    respond_text (msg, SOUP_STATUS_BAD_REQUEST, "bad path\n");
    return;
  }

  if (is_control_path (path))
    handle_control (server, msg, path, query);
  else
    handle_content (server, msg, path, query);
}

/* ------------------------------------------------------------------------ */
/* Server thread and life cycle                                             */

static gboolean
server_listen (MeshOriginServer * server, GError ** error)
{
  g_autoptr (GSocketAddress) address = NULL;
  GSList *uris;
  GUri *uri;
  const gchar *url_host;

  address = g_inet_socket_address_new_from_string (server->host, server->port);
  if (!address) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s' is not an IP address", server->host);
    return FALSE;
  }

  server->soup = soup_server_new ("server-header", "mesh-origin ", NULL);
  soup_server_add_handler (server->soup, NULL, handle_request, server, NULL);
  if (!soup_server_listen (server->soup, address, 0, error))
    return FALSE;

  uris = soup_server_get_uris (server->soup);
  if (!uris) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "server has no URI");
    return FALSE;
  }
  uri = uris->data;
  server->port = g_uri_get_port (uri);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  /* a wildcard bind is reached through loopback */
  if (g_str_equal (server->host, "0.0.0.0"))
    url_host = "127.0.0.1";
  else if (g_str_equal (server->host, "::"))
    url_host = "::1";
  else
    url_host = server->host;
  server->base_url = strchr (url_host, ':') ?
      g_strdup_printf ("http://[%s]:%u", url_host, server->port) :
      g_strdup_printf ("http://%s:%u", url_host, server->port);
  return TRUE;
}

static gpointer
server_thread (gpointer data)
{
  MeshOriginServer *server = data;
  GError *error = NULL;
  gboolean ok;

  g_main_context_push_thread_default (server->context);

  ok = server_listen (server, &error);

  g_mutex_lock (&server->lock);
  server->start_error = error;
  server->thread_ready = TRUE;
  g_cond_signal (&server->cond);
  g_mutex_unlock (&server->lock);

  if (ok)
    g_main_loop_run (server->loop);

  if (server->soup) {
    soup_server_disconnect (server->soup);
    g_clear_object (&server->soup);
  }
  /* let closed connections release their messages (and Transfers) */
  while (g_main_context_iteration (server->context, FALSE));

  g_main_context_pop_thread_default (server->context);
  return NULL;
}

static void
server_free (MeshOriginServer * server)
{
  g_free (server->root);
  g_free (server->host);
  g_free (server->base_url);
  g_clear_pointer (&server->loop, g_main_loop_unref);
  g_clear_pointer (&server->context, g_main_context_unref);
  g_hash_table_unref (server->stats);
  g_ptr_array_unref (server->faults);
  g_hash_table_unref (server->hash_scans);
  g_hash_table_unref (server->looped_digests);
  g_clear_error (&server->start_error);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->cond);
  g_free (server);
}

MeshOriginServer *
mesh_origin_server_start (const MeshOriginConfig * config, GError ** error)
{
  MeshOriginServer *server;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!config->root || !g_file_test (config->root, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "root '%s' is not a directory", config->root ? config->root : "(null)");
    return NULL;
  }

  server = g_new0 (MeshOriginServer, 1);
  server->root = g_canonicalize_filename (config->root, NULL);
  server->host = g_strdup (config->host ? config->host : "127.0.0.1");
  server->port = config->port;
  server->live_window = config->live_window ? config->live_window :
      DEFAULT_LIVE_WINDOW;
  server->stats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  server->faults = g_ptr_array_new_with_free_func (fault_free);
  server->hash_scans = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) mesh_hash_scan_free);
  server->looped_digests = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, (GDestroyNotify) mesh_hash_entry_free);
  g_mutex_init (&server->lock);
  g_cond_init (&server->cond);
  server->context = g_main_context_new ();
  server->loop = g_main_loop_new (server->context, FALSE);
  server->start_time = g_get_monotonic_time ();
  server->start_real = g_get_real_time ();

  server->thread = g_thread_new ("mesh-origin", server_thread, server);

  g_mutex_lock (&server->lock);
  while (!server->thread_ready)
    g_cond_wait (&server->cond, &server->lock);
  g_mutex_unlock (&server->lock);

  if (server->start_error) {
    g_thread_join (server->thread);
    g_propagate_error (error, g_steal_pointer (&server->start_error));
    server_free (server);
    return NULL;
  }
  return server;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
mesh_origin_server_stop (MeshOriginServer * server)
{
  GSource *source;

  if (!server)
    return;

  /* a source rather than g_main_loop_quit(): the loop may not run yet */
  source = g_idle_source_new ();
  g_source_set_callback (source, quit_loop, server->loop, NULL);
  g_source_attach (source, server->context);
  g_source_unref (source);

  g_thread_join (server->thread);
  server_free (server);
}
