/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * HLS playlist model and parser (RFC 8216). Pure: text in, model out, no I/O
 * and no global state, so it is safe from any thread and testable without a
 * network. Every URI in the model is absolute, resolved against the URI the
 * playlist was fetched from (after redirects).
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define MESH_HLS_ERROR (mesh_hls_error_quark ())
GQuark mesh_hls_error_quark (void);

typedef enum {
  MESH_HLS_ERROR_NOT_M3U8,      /* no #EXTM3U on the first line */
  MESH_HLS_ERROR_SYNTAX,        /* a tag or attribute that cannot be read */
  MESH_HLS_ERROR_INVALID,       /* readable but inconsistent (e.g. no segments) */
  MESH_HLS_ERROR_UNSUPPORTED,   /* e.g. METHOD=SAMPLE-AES */
} MeshHlsError;

typedef enum {
  MESH_HLS_KIND_INVALID,
  MESH_HLS_KIND_MASTER,
  MESH_HLS_KIND_MEDIA,
} MeshHlsKind;

typedef enum {
  MESH_HLS_KEY_NONE,
  MESH_HLS_KEY_AES_128,
} MeshHlsKeyMethod;

/* EXT-X-KEY. Owned by the media playlist, shared by the segments it covers. */
typedef struct {
  MeshHlsKeyMethod method;
  gchar *uri;                   /* absolute; NULL for METHOD=NONE */
  gboolean has_iv;
  guint8 iv[16];                /* valid when has_iv; else the IV is the media
                                 * sequence number, big endian (RFC 8216 5.2) */
} MeshHlsKey;

/* EXT-X-MAP. Owned by the media playlist, shared by the segments it covers. */
typedef struct {
  gchar *uri;                   /* absolute */
  gint64 offset;                /* 0 without BYTERANGE */
  gint64 size;                  /* -1 without BYTERANGE (whole resource) */
} MeshHlsMap;

typedef struct {
  gchar *uri;                   /* absolute */
  GstClockTime duration;        /* EXTINF */
  gchar *title;                 /* EXTINF title, may be NULL */
  gint64 sequence;              /* media sequence number */
  gint64 discont_sequence;      /* discontinuity sequence number */
  gboolean discontinuity;       /* EXT-X-DISCONTINUITY precedes it */
  gint64 offset;                /* EXT-X-BYTERANGE offset (0 without) */
  gint64 size;                  /* EXT-X-BYTERANGE length, -1 without */
  const MeshHlsKey *key;        /* NULL when not encrypted (borrowed) */
  const MeshHlsMap *map;        /* init section, NULL for none (borrowed) */
  gint64 program_date_time;     /* EXT-X-PROGRAM-DATE-TIME, µs since the Unix
                                 * epoch, extrapolated from the last tag by
                                 * the durations; G_MININT64 when unknown */
  gboolean gap;                 /* EXT-X-GAP */
  GstClockTime start;           /* sum of the durations before it in this
                                 * playlist (0 for the first one) */
} MeshHlsSegment;

typedef enum {
  MESH_HLS_PLAYLIST_TYPE_NONE,
  MESH_HLS_PLAYLIST_TYPE_EVENT,
  MESH_HLS_PLAYLIST_TYPE_VOD,
} MeshHlsPlaylistType;

typedef struct {
  gchar *uri;
  gint version;                 /* EXT-X-VERSION, 1 when absent */
  GstClockTime target_duration;  /* without the tag: the longest EXTINF,
                                 * rounded up to whole seconds */
  gint64 media_sequence;
  gint64 discont_sequence;
  gboolean endlist;
  MeshHlsPlaylistType type;
  gboolean independent_segments;
  GPtrArray *segments;          /* MeshHlsSegment*, owned */
  GPtrArray *keys;              /* MeshHlsKey*, owned */
  GPtrArray *maps;              /* MeshHlsMap*, owned */
  GstClockTime duration;        /* sum of all EXTINF durations */
} MeshHlsMediaPlaylist;

typedef enum {
  MESH_HLS_RENDITION_AUDIO,
  MESH_HLS_RENDITION_VIDEO,
  MESH_HLS_RENDITION_SUBTITLES,
  MESH_HLS_RENDITION_CLOSED_CAPTIONS,
} MeshHlsRenditionType;

/* EXT-X-MEDIA */
typedef struct {
  MeshHlsRenditionType type;
  gchar *group_id;
  gchar *name;
  gchar *language;              /* may be NULL */
  gchar *uri;                   /* absolute; NULL when the rendition is muxed
                                 * into the variant streams */
  gboolean is_default;
  gboolean autoselect;
  gboolean forced;
} MeshHlsRendition;

/* EXT-X-STREAM-INF */
typedef struct {
  guint64 bandwidth;            /* bits/s */
  guint64 average_bandwidth;    /* 0 when absent */
  gint width, height;           /* 0 when absent */
  gdouble frame_rate;           /* 0 when absent */
  gchar *codecs;                /* may be NULL */
  gchar *audio_group;           /* AUDIO=, may be NULL */
  gchar *video_group;           /* VIDEO=, may be NULL */
  gchar *subtitles_group;       /* SUBTITLES=, may be NULL */
  gchar *uri;                   /* absolute */
  gchar *closed_captions_group; /* CLOSED-CAPTIONS=, NULL when absent or NONE */
} MeshHlsVariant;

typedef struct {
  gchar *uri;
  GPtrArray *variants;          /* MeshHlsVariant*, owned, sorted by ascending
                                 * bandwidth (stable: playlist order on ties) */
  GPtrArray *renditions;        /* MeshHlsRendition*, owned, playlist order */
  gboolean independent_segments;
} MeshHlsMasterPlaylist;

/* Which kind of playlist @text is, from its tags (EXT-X-STREAM-INF means
 * master; EXTINF or EXT-X-TARGETDURATION means media). */
MeshHlsKind mesh_hls_playlist_kind (const gchar * text, gsize len);

/* Parse a master playlist. I-frame playlists (EXT-X-I-FRAME-STREAM-INF) are
 * skipped; unknown tags ignored. On error returns NULL and sets @error with a
 * message naming the line number. */
MeshHlsMasterPlaylist *mesh_hls_master_playlist_parse (const gchar * text,
    gsize len, const gchar * uri, GError ** error);

/* A master playlist with a single variant pointing at the media playlist
 * @uri, for when the user gives a media playlist directly. */
MeshHlsMasterPlaylist *mesh_hls_master_playlist_new_single (const gchar * uri);

void mesh_hls_master_playlist_free (MeshHlsMasterPlaylist * master);

/* Parse a media playlist; same error behaviour as the master parser. */
MeshHlsMediaPlaylist *mesh_hls_media_playlist_parse (const gchar * text,
    gsize len, const gchar * uri, GError ** error);

void mesh_hls_media_playlist_free (MeshHlsMediaPlaylist * playlist);

/* The segment with media sequence number @sequence, or NULL. */
const MeshHlsSegment *mesh_hls_media_playlist_find_sequence (const
    MeshHlsMediaPlaylist * playlist, gint64 sequence);

/* Index of the segment whose [start, start + duration) contains @position
 * (playlist-relative time); the last segment when @position is past the end;
 * -1 when there are no segments. */
gint mesh_hls_media_playlist_find_position (const MeshHlsMediaPlaylist *
    playlist, GstClockTime position);

/* The renditions of @type in @group_id, in playlist order (borrowed
 * pointers; free the array only). */
GPtrArray *mesh_hls_master_playlist_get_group (const MeshHlsMasterPlaylist *
    master, MeshHlsRenditionType type, const gchar * group_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshHlsMasterPlaylist,
    mesh_hls_master_playlist_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshHlsMediaPlaylist,
    mesh_hls_media_playlist_free);

G_END_DECLS
