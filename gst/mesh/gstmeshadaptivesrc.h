/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GstMeshAdaptiveSrc: the machinery shared by meshhlssrc and meshdashsrc.
 * It owns the output pads and their streaming threads, fetching (through
 * MeshFetcher), decryption, buffering, ABR, seeking and statistics. A subclass
 * only knows its manifest format: it turns the manifest into streams and, for
 * each stream, tells which fragment comes next.
 */
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include "mesh-abr.h"

G_BEGIN_DECLS

#define GST_TYPE_MESH_ADAPTIVE_SRC (gst_mesh_adaptive_src_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstMeshAdaptiveSrc, gst_mesh_adaptive_src,
    GST, MESH_ADAPTIVE_SRC, GstElement)

/* What the subclass returns from next_fragment() when a live manifest has no
 * next fragment yet: the base class waits for the next update and asks again. */
#define GST_MESH_FLOW_WAIT GST_FLOW_CUSTOM_SUCCESS

/* One fragment to download and push. Filled by the subclass; strings are
 * owned by the fragment and freed by gst_mesh_fragment_clear(). */
typedef struct {
  gchar *url;
  gint64 offset;                /* byte range start, 0 for the whole file */
  gint64 size;                  /* byte range length, -1 for the whole file */

  gchar *init_url;              /* init section, NULL when there is none */
  gint64 init_offset;
  gint64 init_size;

  gchar *key_url;               /* AES-128 key, NULL when not encrypted */
  guint8 iv[16];

  GstClockTime timestamp;       /* stream time of the fragment start */
  GstClockTime duration;
  gboolean discont;             /* not contiguous with the previous fragment */
  gchar *segment_id;            /* identity across viewers, for P2P */
} GstMeshFragment;

void gst_mesh_fragment_clear (GstMeshFragment * fragment);

/* One output: a pad, its streaming thread and the state of its downloads.
 * The subclass keeps its own per-stream state in `data`; it is only touched
 * from the stream's thread (and from seek(), which runs while the thread is
 * paused). */
typedef struct _GstMeshStream GstMeshStream;

GstPad *gst_mesh_stream_get_pad (GstMeshStream * stream);
gpointer gst_mesh_stream_get_data (GstMeshStream * stream);

/* Declares the representations ABR may choose from for this stream (sorted by
 * ascending bandwidth) and which one is in use. Without it a stream never
 * switches. */
void gst_mesh_stream_set_representations (GstMeshStream * stream,
    const MeshAbrCandidate * candidates, guint n_candidates, gint current);

/* Live streams: the monotonic time (µs) at which the base class calls
 * update() next; 0 = never (VOD). Set it from load_manifest(). */
void gst_mesh_stream_set_next_update (GstMeshStream * stream, gint64 when);

/* An event to send downstream once, after stream-start, caps and segment
 * and before the next buffer (e.g. a protection event). Transfer full. */
void gst_mesh_stream_queue_event (GstMeshStream * stream, GstEvent * event);

/* Tags to send downstream before the first buffer (merged, transfer full). */
void gst_mesh_stream_add_tags (GstMeshStream * stream, GstTagList * tags);

struct _GstMeshAdaptiveSrcClass {
  GstElementClass parent_class;

  /* The URI handler: the protocols ("meshhls+http", "meshhls+https") and the
   * prefix before the http(s) URL ("meshhls+"). Set in class_init, and
   * implement GST_TYPE_URI_HANDLER with gst_mesh_adaptive_src_uri_handler_init. */
  const gchar *const *uri_protocols;
  const gchar *uri_prefix;

  /* Build the streams from the manifest at the URL the user gave (@url is the
   * URL after redirects). Calls gst_mesh_adaptive_src_add_stream() for each
   * output. May fetch more (media playlists) with
   * gst_mesh_adaptive_src_fetch_manifest() and @cancellable, which is
   * cancelled when the element stops. Runs on the manifest thread. */
  gboolean (*load_manifest) (GstMeshAdaptiveSrc * src, GBytes * manifest,
      const gchar * url, GCancellable * cancellable, GError ** error);

  /* The next fragment of @stream: GST_FLOW_OK with @fragment filled,
   * GST_FLOW_EOS at the end, GST_MESH_FLOW_WAIT when a live manifest has
   * nothing new yet, GST_FLOW_ERROR with @error set. Must not advance: the
   * base class calls advance() once the fragment was pushed. Stream thread. */
  GstFlowReturn (*next_fragment) (GstMeshAdaptiveSrc * src,
      GstMeshStream * stream, GstMeshFragment * fragment, GError ** error);

  /* Move past the fragment that next_fragment() returned. Stream thread. */
  void (*advance) (GstMeshAdaptiveSrc * src, GstMeshStream * stream);

  /* Optional, for asking peers early: fill @fragments (zeroed, at most @max)
   * with the fragments from the one next_fragment() would return on, whose
   * timestamp is before @until, as the manifest lists them now. Must not
   * advance, reload or fetch anything. Returns how many were filled.
   * Stream thread. */
  guint (*peek_fragments) (GstMeshAdaptiveSrc * src, GstMeshStream * stream,
      GstClockTime until, GstMeshFragment * fragments, guint max);

  /* Live only: reload what @stream needs from the manifest. Returns the
   * monotonic time (µs) of the next reload, or 0 with @error set. Called by
   * the base class when the reload time has come. Stream thread. */
  gint64 (*update) (GstMeshAdaptiveSrc * src, GstMeshStream * stream,
      GCancellable * cancellable, GError ** error);

  /* Switch @stream to representation @index (of those it declared). Takes
   * effect from the next fragment on. Stream thread. */
  gboolean (*switch_representation) (GstMeshAdaptiveSrc * src,
      GstMeshStream * stream, guint index, GCancellable * cancellable,
      GError ** error);

  /* Position every stream at @position (VOD). Returns the time the streams
   * will actually start at (the start of the fragment holding @position).
   * Runs while every stream thread is stopped. */
  GstClockTime (*seek) (GstMeshAdaptiveSrc * src, GstClockTime position);

  /* Release everything load_manifest() built (back to READY). */
  void (*reset) (GstMeshAdaptiveSrc * src);
};

/* For subclasses. */

/* Adds an output; @name becomes part of the stream id ("video", "audio-en").
 * @data is the subclass state of the stream, freed with @destroy. */
GstMeshStream *gst_mesh_adaptive_src_add_stream (GstMeshAdaptiveSrc * src,
    GstStreamType type, const gchar * name, gpointer data,
    GDestroyNotify destroy);

/* Fetches a manifest (at most 16 MiB) through the fetcher; @final_url gets
 * the URL after redirects. Any thread. */
GBytes *gst_mesh_adaptive_src_fetch_manifest (GstMeshAdaptiveSrc * src,
    const gchar * url, gchar ** final_url, GCancellable * cancellable,
    GError ** error);

/* Fetches @size bytes at @offset of @url (e.g. a DASH segment index) through
 * the fetcher, as a manifest request: never cached, never from peers. At
 * most 16 MiB. Any thread. */
GBytes *gst_mesh_adaptive_src_fetch_range (GstMeshAdaptiveSrc * src,
    const gchar * url, gint64 offset, gint64 size, GCancellable * cancellable,
    GError ** error);

/* What the manifest says of the presentation: live (not seekable, no
 * duration) or not, and its duration (NONE when unknown). Set from
 * load_manifest(), and again when a reload changes it. Any thread. */
void gst_mesh_adaptive_src_set_presentation (GstMeshAdaptiveSrc * src,
    gboolean live, GstClockTime duration);
gboolean gst_mesh_adaptive_src_is_live (GstMeshAdaptiveSrc * src);
GstClockTime gst_mesh_adaptive_src_get_duration (GstMeshAdaptiveSrc * src);

/* The representation ABR would start with, for load_manifest(). */
gint gst_mesh_adaptive_src_choose_initial (GstMeshAdaptiveSrc * src,
    const MeshAbrCandidate * candidates, guint n_candidates);

/* How far behind the live edge to start: the `live-delay` property, or
 * @default_delay when the property is left at its default. */
GstClockTime gst_mesh_adaptive_src_get_live_delay (GstMeshAdaptiveSrc * src,
    GstClockTime default_delay);

/* A property value the element cannot use, such as a malformed
 * presentation-delay: @problem says what is wrong and what the element does
 * instead ("Ignoring presentation-delay '3x': not like 12s, 2500ms or 3f"),
 * NULL when the property is fine again. The element posts each problem as a
 * GST_RESOURCE_ERROR_SETTINGS warning on the bus when it starts
 * (READY to PAUSED): properties are mostly set before there is a bus. Any
 * thread, not under the object lock. */
void gst_mesh_adaptive_src_report_property_problem (GstMeshAdaptiveSrc * src,
    const gchar * property, const gchar * problem);

/* The URL the user gave (transfer full). */
gchar *gst_mesh_adaptive_src_dup_location (GstMeshAdaptiveSrc * src);

/* The GstURIHandler of subclasses, from their class's uri_protocols and
 * uri_prefix: `location` is the URI without the prefix. */
void gst_mesh_adaptive_src_uri_handler_init (gpointer g_iface,
    gpointer iface_data);

G_END_DECLS
