/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the HLS playlist parser
 * (gst/mesh/hls/mesh-hls-playlist.c). See README.md in this directory.
 *
 * Threads: libFuzzer's one; each input gets playlists of its own.
 *
 * Input: the whole input is one playlist, parsed both as a master and as a
 * media playlist. Beyond "no crash, no leak", it checks what the model
 * promises: consecutive sequence numbers, each segment's start the sum of
 * the durations before it, keys and maps owned by the playlist, variants
 * sorted by bandwidth, and that the lookups find every segment.
 *
 * Built and run by run-fuzzers.sh, from the top of the tree, as these
 * lines say (README.md):
 *   fuzz-sources: gst/mesh/hls/mesh-hls-playlist.c
 *   fuzz-cflags: -Igst/mesh
 *   fuzz-packages: gstreamer-1.0
 *   fuzz-options: -max_len=16384
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hls/mesh-hls-playlist.h"
#include "mesh-fuzz.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gst_init (NULL, NULL);
  g_log_set_default_handler (mesh_fuzz_log_handler, NULL);
  return 0;
}

static gboolean
owned (GPtrArray * array, gconstpointer p)
{
  return p == NULL || g_ptr_array_find (array, p, NULL);
}

static void
check_media (const MeshHlsMediaPlaylist * pl)
{
  GstClockTime start = 0;
  guint i;

  check (pl->segments->len > 0);
  for (i = 0; i < pl->segments->len; i++) {
    const MeshHlsSegment *s = g_ptr_array_index (pl->segments, i);

    check (s->uri != NULL);
    check (s->sequence == pl->media_sequence + (gint64) i);
    check (s->start == start);
    check (GST_CLOCK_TIME_IS_VALID (s->duration));
    check (s->size == -1 || (s->size >= 0 && s->offset >= 0));
    check (owned (pl->keys, s->key));
    check (owned (pl->maps, s->map));
    check (mesh_hls_media_playlist_find_sequence (pl, s->sequence) == s);
    check (mesh_hls_media_playlist_find_position (pl, s->start) >= 0);
    start += s->duration;
  }
  check (pl->duration == start);
  check (mesh_hls_media_playlist_find_position (pl, start) ==
      (gint) pl->segments->len - 1);
}

static void
check_master (const MeshHlsMasterPlaylist * m)
{
  guint i;

  for (i = 0; i < m->variants->len; i++) {
    const MeshHlsVariant *v = g_ptr_array_index (m->variants, i);

    check (v->uri != NULL);
    if (i > 0)
      check (((MeshHlsVariant *) g_ptr_array_index (m->variants,
                  i - 1))->bandwidth <= v->bandwidth);
    if (v->audio_group) {
      GPtrArray *group = mesh_hls_master_playlist_get_group (m,
          MESH_HLS_RENDITION_AUDIO, v->audio_group);

      g_ptr_array_free (group, TRUE);
    }
  }
  for (i = 0; i < m->renditions->len; i++) {
    const MeshHlsRendition *r = g_ptr_array_index (m->renditions, i);

    check (r->group_id != NULL && r->name != NULL);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  /* the parser takes a length: no terminator, so ASan sees any read past */
  g_autofree gchar *text = g_memdup2 (data, size);
  const gchar *uri = "https://example.com/a/b/playlist.m3u8?q=1";
  MeshHlsMasterPlaylist *master;
  MeshHlsMediaPlaylist *media;
  GError *err = NULL;

  (void) mesh_hls_playlist_kind (size ? text : "", size);

  master = mesh_hls_master_playlist_parse (size ? text : "", size, uri, &err);
  check ((master == NULL) == (err != NULL));
  if (master) {
    check_master (master);
    mesh_hls_master_playlist_free (master);
  }
  g_clear_error (&err);

  media = mesh_hls_media_playlist_parse (size ? text : "", size, uri, &err);
  check ((media == NULL) == (err != NULL));
  if (media) {
    check_media (media);
    mesh_hls_media_playlist_free (media);
  }
  g_clear_error (&err);
  return 0;
}
