/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MPEG-DASH MPD model and parser (ISO/IEC 23009-1), on libxml2. Pure: text
 * in, model out, no I/O and no global state beyond libxml2's own
 * initialisation, so it is safe from any thread and testable without a
 * network. Every URL in the model is absolute: BaseURL elements are resolved
 * at MPD, Period, AdaptationSet and Representation level against the URL the
 * MPD was fetched from (after redirects). Segment information is inherited
 * from Period and AdaptationSet into each Representation while parsing, so a
 * Representation carries everything needed to list its segments: that is
 * mesh-dash-segments.h, and the 'sidx' index of SegmentBase files is
 * mesh-isobmff-index.h.
 *
 * Times are GstClockTime (ns) unless said otherwise; wall-clock instants are
 * gint64 µs since the Unix epoch (G_MININT64 when absent).
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define MESH_DASH_ERROR (mesh_dash_error_quark ())
GQuark mesh_dash_error_quark (void);

typedef enum {
  MESH_DASH_ERROR_XML,          /* not well-formed XML (message has the line) */
  MESH_DASH_ERROR_NOT_MPD,      /* root element is not MPD */
  MESH_DASH_ERROR_INVALID,      /* an attribute or element that is wrong */
  MESH_DASH_ERROR_UNSUPPORTED,  /* e.g. no usable segment information */
} MeshDashError;

typedef enum {
  MESH_DASH_SEGMENTS_NONE,
  MESH_DASH_SEGMENTS_TEMPLATE,  /* SegmentTemplate, with or without timeline */
  MESH_DASH_SEGMENTS_LIST,      /* SegmentList / SegmentURL */
  MESH_DASH_SEGMENTS_BASE,      /* SegmentBase: one file, index in a sidx */
  MESH_DASH_SEGMENTS_SINGLE,    /* no segment information but a BaseURL of
                                 * the Representation or its AdaptationSet:
                                 * that file is the one segment of the
                                 * Period (e.g. a sidecar subtitle file) */
} MeshDashSegmentsKind;

/* One S element of a SegmentTimeline, r expanded only when >= 0:
 * r = -1 ("until the next S or the end of the period") is kept as -1. */
typedef struct {
  guint64 t;                    /* in timescale units; the previous end when
                                 * the MPD omits it */
  guint64 d;
  gint64 r;
} MeshDashTimelineEntry;

typedef struct {
  gchar *media;                 /* absolute URL, NULL = the Representation's
                                 * BaseURL */
  gint64 media_offset;          /* mediaRange, -1 when absent */
  gint64 media_size;
} MeshDashSegmentUrl;

/* The resolved (inherited) segment information of a Representation. */
typedef struct {
  MeshDashSegmentsKind kind;
  guint64 timescale;            /* 1 when absent */
  guint64 presentation_time_offset;     /* timescale units */
  guint64 duration;             /* @duration in timescale units, 0 = none */
  guint64 start_number;         /* 1 when absent */
  gint64 end_number;            /* @endNumber, -1 when absent */
  gchar *media_template;        /* SegmentTemplate@media, identifiers kept
                                 * as written ($Number%05d$ ...), NOT yet
                                 * made absolute: use mesh_dash_expand_url */
  gchar *init_template;         /* SegmentTemplate@initialization, likewise */
  gchar *init_url;              /* absolute Initialization@sourceURL, or the
                                 * BaseURL when only a range is given */
  gint64 init_offset;           /* Initialization@range, -1 = none */
  gint64 init_size;
  gint64 index_offset;          /* SegmentBase@indexRange, -1 = none */
  gint64 index_size;
  GArray *timeline;             /* MeshDashTimelineEntry, NULL = none;
                                 * shared (reference-counted) by the
                                 * Representations that inherit it: never
                                 * modify it */
  GPtrArray *urls;              /* MeshDashSegmentUrl*, SegmentList only;
                                 * shared like the timeline by the
                                 * Representations that inherit it with the
                                 * same BaseURL */
} MeshDashSegmentInfo;

typedef struct {
  gchar *scheme_id_uri;
  gchar *value;                 /* may be NULL */
  gchar *default_kid;           /* cenc:default_KID, may be NULL */
  gchar *xml;                   /* the whole element, serialised, for the
                                 * protection event */
  GBytes *pssh;                 /* the cenc:pssh child, base64-decoded (a
                                 * whole 'pssh' box), NULL when absent */
} MeshDashContentProtection;

typedef struct {
  gchar *id;
  guint64 bandwidth;            /* bits/s; 0 when absent (see warnings) */
  gint width, height;           /* 0 when absent */
  gint framerate_n, framerate_d;        /* 0/1 when absent */
  gchar *codecs;                /* inherited from the AdaptationSet */
  gchar *mime_type;             /* inherited from the AdaptationSet */
  gchar *base_url;              /* absolute, every level applied */
  MeshDashSegmentInfo segments;
} MeshDashRepresentation;

typedef enum {
  MESH_DASH_CONTENT_UNKNOWN,
  MESH_DASH_CONTENT_VIDEO,
  MESH_DASH_CONTENT_AUDIO,
  MESH_DASH_CONTENT_TEXT,
} MeshDashContentType;

typedef struct {
  gchar *id;                    /* may be NULL */
  MeshDashContentType content_type;     /* contentType, else from mimeType */
  gchar *mime_type;
  gchar *codecs;
  gchar *lang;
  GPtrArray *roles;             /* gchar*: Role@value of urn:mpeg:dash:role */
  GPtrArray *content_protections;       /* MeshDashContentProtection* */
  GPtrArray *representations;   /* MeshDashRepresentation*, sorted by
                                 * ascending bandwidth (stable) */
} MeshDashAdaptationSet;

typedef struct {
  gchar *id;
  GstClockTime start;           /* Period@start, or the previous period's
                                 * end; 0 for the first of a static MPD */
  GstClockTime duration;        /* @duration, or up to the next period's
                                 * start or the MPD duration; NONE if open */
  GPtrArray *adaptation_sets;   /* MeshDashAdaptationSet* */
} MeshDashPeriod;

typedef enum {
  MESH_DASH_UTC_HTTP_XSDATE,    /* urn:mpeg:dash:utc:http-xsdate:2014 */
  MESH_DASH_UTC_HTTP_ISO,       /* urn:mpeg:dash:utc:http-iso:2014 */
  MESH_DASH_UTC_HTTP_HEAD,      /* urn:mpeg:dash:utc:http-head:2014 */
  MESH_DASH_UTC_DIRECT,         /* urn:mpeg:dash:utc:direct:2014 */
} MeshDashUtcScheme;

typedef struct {
  MeshDashUtcScheme scheme;
  gchar *value;                 /* an absolute URL, or the date itself */
} MeshDashUtcTiming;

typedef struct {
  gchar *url;                   /* where it was fetched from */
  gboolean dynamic;             /* MPD@type="dynamic" */
  gint64 availability_start_time;       /* µs since epoch */
  gint64 publish_time;          /* µs since epoch */
  GstClockTime media_presentation_duration;     /* NONE when absent */
  GstClockTime minimum_update_period;   /* NONE when absent */
  GstClockTime time_shift_buffer_depth; /* NONE when absent */
  GstClockTime suggested_presentation_delay;    /* NONE when absent */
  GstClockTime min_buffer_time;        /* 2 s when absent (see warnings) */
  GstClockTime max_segment_duration;    /* NONE when absent */
  gchar *location;              /* Location element, absolute, may be NULL */
  GPtrArray *utc_timings;       /* MeshDashUtcTiming*, document order */
  GPtrArray *periods;           /* MeshDashPeriod* */
  GPtrArray *warnings;          /* gchar*: what was read leniently (a missing
                                 * mandatory attribute defaulted, a number
                                 * written loosely), with the place */
} MeshDashMpd;

/* Parses an MPD. On error returns NULL and sets @error with a message that
 * names the element (and line for XML errors). Rejects DTDs and external
 * entities (no network, no file access from the parser). What an MPD may
 * make it allocate is bounded (size, elements, Periods, AdaptationSets,
 * Representations, S and SegmentURL elements...: the top of
 * mesh-dash-mpd.c lists the limits); one exceeded is
 * MESH_DASH_ERROR_UNSUPPORTED. */
MeshDashMpd *mesh_dash_mpd_parse (const gchar * text, gsize len,
    const gchar * url, GError ** error);

void mesh_dash_mpd_free (MeshDashMpd * mpd);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshDashMpd, mesh_dash_mpd_free);

G_END_DECLS
