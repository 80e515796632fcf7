/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the peer-to-peer wire decoder (ext/mesh/p2p/mesh-wire.c).
 * See README.md in this directory for how to build and run it.
 *
 * Threads: libFuzzer's one; each input gets a decoder of its own.
 *
 * Input: byte 0 seeds how the rest is cut into feeds (the decoder must give
 * the same frames whatever the cuts), the rest is the stream. Beyond "no
 * crash, no leak", it checks what a decoder promises: every frame re-encodes
 * to the exact bytes it was decoded from, it holds less than one frame after
 * NEED_MORE, and an error is final and leaves nothing buffered.
 *
 * Built and run by run-fuzzers.sh, from the top of the tree, as these
 * lines say (README.md):
 *   fuzz-sources: ext/mesh/p2p/mesh-wire.c
 *   fuzz-cflags: -Iext/mesh
 *   fuzz-packages: glib-2.0
 *   fuzz-options: -max_len=140000 -dict=tests/fuzz/wire.dict
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/mesh-wire.h"

#define MAX_HELD (MESH_WIRE_LENGTH_SIZE + MESH_WIRE_MAX_FRAME)

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* a critical from the encoder means it refused a frame we decoded */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  return 0;
}

static uint32_t
next_cut (uint32_t * state)
{
  /* xorshift32: cheap, deterministic for a given input */
  *state ^= *state << 13;
  *state ^= *state >> 17;
  *state ^= *state << 5;
  switch (*state & 3) {
    case 0:
      return 1 + (*state >> 8) % 4;
    case 1:
      return 1 + (*state >> 8) % 64;
    case 2:
      return 1 + (*state >> 8) % 4096;
    default:
      return G_MAXUINT32;
  }
}

static void
check_frame_bytes (const MeshWireFrame * f, const uint8_t * from, size_t len)
{
  GBytes *again = mesh_wire_encode (f);

  if (again == NULL || g_bytes_get_size (again) != len
      || memcmp (g_bytes_get_data (again, NULL), from, len) != 0)
    abort ();
  g_bytes_unref (again);
}

/* Returns FALSE once the decoder is in error. */
static gboolean
drain (MeshWireDecoder * dec, const uint8_t * stream, size_t fed)
{
  for (;;) {
    size_t start = fed - mesh_wire_decoder_get_buffered (dec);
    MeshWireFrame f;
    GError *err = NULL;
    MeshWireResult res = mesh_wire_decoder_next (dec, &f, &err);

    switch (res) {
      case MESH_WIRE_RESULT_FRAME:
        check_frame_bytes (&f, stream + start,
            fed - mesh_wire_decoder_get_buffered (dec) - start);
        mesh_wire_frame_clear (&f);
        break;
      case MESH_WIRE_RESULT_NEED_MORE:
        if (err != NULL || mesh_wire_decoder_get_buffered (dec) >= MAX_HELD)
          abort ();
        return TRUE;
      case MESH_WIRE_RESULT_ERROR:
        if (err == NULL || err->domain != MESH_WIRE_ERROR
            || mesh_wire_decoder_get_buffered (dec) != 0)
          abort ();
        g_error_free (err);
        return FALSE;
    }
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  MeshWireDecoder *dec;
  uint32_t state;
  size_t fed = 0;
  MeshWireFrame f;
  GError *err = NULL;

  if (size < 1)
    return 0;
  state = 0x9e3779b9u ^ data[0];
  data++;
  size--;

  dec = mesh_wire_decoder_new ();
  while (fed < size) {
    size_t want = next_cut (&state);
    size_t n = MIN (want, size - fed);

    mesh_wire_decoder_feed (dec, data + fed, n);
    fed += n;
    if (!drain (dec, data, fed)) {
      /* final: nothing more is taken or returned */
      mesh_wire_decoder_feed (dec, data, size);
      if (mesh_wire_decoder_get_buffered (dec) != 0
          || mesh_wire_decoder_next (dec, &f, &err) != MESH_WIRE_RESULT_ERROR)
        abort ();
      g_clear_error (&err);
      break;
    }
  }
  mesh_wire_decoder_free (dec);
  return 0;
}
