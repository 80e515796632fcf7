/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of the peer-to-peer wire codec (ext/mesh/mesh-wire.[ch]).
 *
 * Threads: only the test's own; every decoder is local to one test. Random
 * inputs come from GRand with fixed seeds, so every run sees the same bytes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>

#include "p2p/mesh-wire.h"

/* Largest number of bytes a decoder may hold after NEED_MORE. */
#define MAX_HELD (MESH_WIRE_LENGTH_SIZE + MESH_WIRE_MAX_FRAME)

/* ------------------------------------------------------------------------ */
/* Helpers */

static gboolean
bytes_equal0 (GBytes * a, GBytes * b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_bytes_equal (a, b);
}

/* Field by field: independent of the codec, so it can catch the codec. */
static gboolean
frames_equal (const MeshWireFrame * a, const MeshWireFrame * b)
{
  if (a->type != b->type)
    return FALSE;
  switch (a->type) {
    case MESH_WIRE_TYPE_HELLO:
      return a->hello.flags == b->hello.flags
          && g_strcmp0 (a->hello.swarm_id, b->hello.swarm_id) == 0
          && g_strcmp0 (a->hello.peer_id, b->hello.peer_id) == 0;
    case MESH_WIRE_TYPE_HAVE:{
      guint i;

      if (a->have.n_entries != b->have.n_entries)
        return FALSE;
      for (i = 0; i < a->have.n_entries; i++)
        if (a->have.entries[i].key != b->have.entries[i].key
            || a->have.entries[i].size != b->have.entries[i].size)
          return FALSE;
      return TRUE;
    }
    case MESH_WIRE_TYPE_FETCHING:
    case MESH_WIRE_TYPE_LOST:
      return a->keys.n_keys == b->keys.n_keys
          && (a->keys.n_keys == 0 || memcmp (a->keys.keys, b->keys.keys,
              a->keys.n_keys * sizeof (guint64)) == 0);
    case MESH_WIRE_TYPE_REQUEST:
      return a->request.request_id == b->request.request_id
          && a->request.key == b->request.key
          && a->request.offset == b->request.offset
          && a->request.length == b->request.length
          && a->request.budget_ms == b->request.budget_ms;
    case MESH_WIRE_TYPE_DATA:
      return a->data.request_id == b->data.request_id
          && a->data.offset == b->data.offset
          && bytes_equal0 (a->data.bytes, b->data.bytes);
    case MESH_WIRE_TYPE_END:
      return a->end.request_id == b->end.request_id
          && a->end.total_size == b->end.total_size;
    case MESH_WIRE_TYPE_CANCEL:
      return a->cancel.request_id == b->cancel.request_id;
    case MESH_WIRE_TYPE_ABSENT:
      return a->absent.request_id == b->absent.request_id
          && a->absent.reason == b->absent.reason;
    case MESH_WIRE_TYPE_ERROR:
      return a->error.code == b->error.code
          && g_strcmp0 (a->error.message ? a->error.message : "",
          b->error.message ? b->error.message : "") == 0;
    case MESH_WIRE_TYPE_PING:
    case MESH_WIRE_TYPE_PONG:
      return a->ping.opaque == b->ping.opaque;
  }
  return FALSE;
}

static void
free_frame (gpointer p)
{
  mesh_wire_frame_clear (p);
  g_free (p);
}

static GPtrArray *
frame_array_new (void)
{
  return g_ptr_array_new_with_free_func (free_frame);
}

/* Big-endian writers for hand-made (often broken) frames. */
static void
put_be (GByteArray * a, guint64 v, guint n)
{
  while (n-- > 0) {
    guint8 b = v >> (8 * n);

    g_byte_array_append (a, &b, 1);
  }
}

static void
put_raw (GByteArray * a, const void *data, gsize len)
{
  g_byte_array_append (a, data, len);
}

/* A frame whose length prefix says @len_delta more (or less) than its
 * actual type + payload. */
static GByteArray *
raw_frame (guint8 type, const GByteArray * payload, gint len_delta)
{
  GByteArray *a = g_byte_array_new ();

  put_be (a, 1 + payload->len + len_delta, 4);
  put_be (a, type, 1);
  put_raw (a, payload->data, payload->len);
  return a;
}

static MeshWireResult
decode_one (const guint8 * data, gsize len, MeshWireFrame * out,
    GError ** error)
{
  g_autoptr (MeshWireDecoder) dec = mesh_wire_decoder_new ();

  mesh_wire_decoder_feed (dec, data, len);
  return mesh_wire_decoder_next (dec, out, error);
}

/* The stream must decode to valid frames then stop with @code; the decoder
 * must stay in error, holding nothing, whatever comes next. */
static void
assert_stream_error (const guint8 * data, gsize len, gint code)
{
  g_autoptr (MeshWireDecoder) dec = mesh_wire_decoder_new ();
  g_autoptr (GBytes) ping = mesh_wire_encode_ping (1);
  MeshWireFrame f;
  GError *err = NULL;
  MeshWireResult res;

  mesh_wire_decoder_feed (dec, data, len);
  while ((res = mesh_wire_decoder_next (dec, &f, &err)) ==
      MESH_WIRE_RESULT_FRAME)
    mesh_wire_frame_clear (&f);
  fail_unless_equals_int (res, MESH_WIRE_RESULT_ERROR);
  fail_unless (g_error_matches (err, MESH_WIRE_ERROR, code),
      "expected code %d, got %s", code, err ? err->message : "no error");
  fail_unless (err->message != NULL && err->message[0] != '\0');
  g_clear_error (&err);
  fail_unless_equals_uint64 (mesh_wire_decoder_get_buffered (dec), 0);

  mesh_wire_decoder_feed (dec, g_bytes_get_data (ping, NULL),
      g_bytes_get_size (ping));
  fail_unless_equals_uint64 (mesh_wire_decoder_get_buffered (dec), 0);
  fail_unless_equals_int (mesh_wire_decoder_next (dec, &f, &err),
      MESH_WIRE_RESULT_ERROR);
  fail_unless (g_error_matches (err, MESH_WIRE_ERROR, code));
  g_clear_error (&err);
}

static void
assert_array_error (const GByteArray * a, gint code)
{
  assert_stream_error (a->data, a->len, code);
}

/* ------------------------------------------------------------------------ */
/* Sample frames with edge values */

static MeshWireFrame *
add_frame (GPtrArray * frames, MeshWireType type)
{
  MeshWireFrame *f = g_new0 (MeshWireFrame, 1);

  f->type = type;
  g_ptr_array_add (frames, f);
  return f;
}

static GPtrArray *
sample_frames (gboolean with_big)
{
  GPtrArray *frames = frame_array_new ();
  MeshWireFrame *f;
  GString *s;
  guint i;

  /* longest ids, multi-byte characters, every flag bit */
  f = add_frame (frames, MESH_WIRE_TYPE_HELLO);
  f->hello.version = MESH_WIRE_VERSION;
  f->hello.flags = 0xff;
  s = g_string_new (NULL);
  for (i = 0; i < MESH_WIRE_MAX_SWARM_ID / 2; i++)
    g_string_append (s, "\xc3\xa9");    /* é */
  f->hello.swarm_id = g_string_free (s, FALSE);
  f->hello.peer_id = g_strnfill (MESH_WIRE_MAX_PEER_ID, 'p');

  /* shortest ids */
  f = add_frame (frames, MESH_WIRE_TYPE_HELLO);
  f->hello.version = MESH_WIRE_VERSION;
  f->hello.flags = MESH_WIRE_HELLO_UPLOAD;
  f->hello.swarm_id = g_strdup ("s");
  f->hello.peer_id = g_strdup ("x");

  f = add_frame (frames, MESH_WIRE_TYPE_HAVE);

  f = add_frame (frames, MESH_WIRE_TYPE_HAVE);
  f->have.n_entries = MESH_WIRE_MAX_KEYS;
  f->have.entries = g_new (MeshWireHaveEntry, MESH_WIRE_MAX_KEYS);
  for (i = 0; i < MESH_WIRE_MAX_KEYS; i++) {
    f->have.entries[i].key = i == 0 ? G_MAXUINT64 : i * 0x0101010101010101ULL;
    f->have.entries[i].size = i == 1 ? G_MAXUINT32 : i;
  }

  f = add_frame (frames, MESH_WIRE_TYPE_FETCHING);
  f->keys.n_keys = 1;
  f->keys.keys = g_new (guint64, 1);
  f->keys.keys[0] = G_MAXUINT64;

  f = add_frame (frames, MESH_WIRE_TYPE_LOST);
  f->keys.n_keys = MESH_WIRE_MAX_KEYS;
  f->keys.keys = g_new (guint64, MESH_WIRE_MAX_KEYS);
  for (i = 0; i < MESH_WIRE_MAX_KEYS; i++)
    f->keys.keys[i] = G_MAXUINT64 - i;

  f = add_frame (frames, MESH_WIRE_TYPE_FETCHING);

  f = add_frame (frames, MESH_WIRE_TYPE_REQUEST);

  f = add_frame (frames, MESH_WIRE_TYPE_REQUEST);
  f->request.request_id = G_MAXUINT32;
  f->request.key = G_MAXUINT64;
  f->request.offset = G_MAXUINT64;
  f->request.length = 0;

  f = add_frame (frames, MESH_WIRE_TYPE_REQUEST);
  f->request.request_id = 7;
  f->request.key = 0x8000000000000001ULL;
  f->request.offset = G_MAXUINT64 - 10;
  f->request.length = 10;
  f->request.budget_ms = G_MAXUINT32;

  f = add_frame (frames, MESH_WIRE_TYPE_DATA);
  f->data.request_id = 3;
  f->data.offset = 0;
  f->data.bytes = g_bytes_new ("\0", 1);

  if (with_big) {
    guint8 *chunk = g_malloc (MESH_WIRE_MAX_CHUNK);

    for (i = 0; i < MESH_WIRE_MAX_CHUNK; i++)
      chunk[i] = i * 7 + (i >> 8);
    f = add_frame (frames, MESH_WIRE_TYPE_DATA);
    f->data.request_id = G_MAXUINT32;
    f->data.offset = G_MAXUINT64 - MESH_WIRE_MAX_CHUNK;
    f->data.bytes = g_bytes_new_take (chunk, MESH_WIRE_MAX_CHUNK);
  }

  f = add_frame (frames, MESH_WIRE_TYPE_END);
  f->end.request_id = G_MAXUINT32;
  f->end.total_size = G_MAXUINT64;

  f = add_frame (frames, MESH_WIRE_TYPE_END);

  f = add_frame (frames, MESH_WIRE_TYPE_CANCEL);
  f->cancel.request_id = 0x01020304;

  for (i = MESH_WIRE_ABSENT_NOT_HELD; i <= MESH_WIRE_ABSENT_BAD_RANGE + 1; i++) {
    f = add_frame (frames, MESH_WIRE_TYPE_ABSENT);
    f->absent.request_id = i;
    f->absent.reason = i;
  }
  f = add_frame (frames, MESH_WIRE_TYPE_ABSENT);
  f->absent.reason = 255;

  f = add_frame (frames, MESH_WIRE_TYPE_ERROR);
  f->error.message = g_strdup ("");

  f = add_frame (frames, MESH_WIRE_TYPE_ERROR);
  f->error.code = G_MAXUINT16;
  f->error.message = g_strnfill (MESH_WIRE_MAX_ERROR_MESSAGE, 'e');

  f = add_frame (frames, MESH_WIRE_TYPE_PING);
  f = add_frame (frames, MESH_WIRE_TYPE_PONG);
  f->ping.opaque = G_MAXUINT64;
  f = add_frame (frames, MESH_WIRE_TYPE_PING);
  f->ping.opaque = 0x0102030405060708ULL;

  return frames;
}

static GByteArray *
encode_all (GPtrArray * frames)
{
  GByteArray *stream = g_byte_array_new ();
  guint i;

  for (i = 0; i < frames->len; i++) {
    g_autoptr (GBytes) b = mesh_wire_encode (g_ptr_array_index (frames, i));

    fail_unless (b != NULL);
    put_raw (stream, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  }
  return stream;
}

/* Feeds @stream in chunks of the sizes @next_chunk picks, draining after
 * each one; checks the buffering bound; returns the frames. */
static GPtrArray *
decode_in_chunks (const GByteArray * stream, gsize (*next_chunk) (GRand *),
    GRand * rand)
{
  g_autoptr (MeshWireDecoder) dec = mesh_wire_decoder_new ();
  GPtrArray *frames = frame_array_new ();
  gsize pos = 0;

  while (pos < stream->len) {
    gsize want = next_chunk (rand);
    gsize n = MIN (want, stream->len - pos);
    MeshWireFrame *f = g_new0 (MeshWireFrame, 1);
    MeshWireResult res;
    GError *err = NULL;

    mesh_wire_decoder_feed (dec, stream->data + pos, n);
    pos += n;
    while ((res = mesh_wire_decoder_next (dec, f, &err)) ==
        MESH_WIRE_RESULT_FRAME) {
      g_ptr_array_add (frames, f);
      f = g_new0 (MeshWireFrame, 1);
    }
    g_free (f);
    fail_unless_equals_int (res, MESH_WIRE_RESULT_NEED_MORE);
    fail_unless (mesh_wire_decoder_get_buffered (dec) < MAX_HELD);
  }
  fail_unless_equals_uint64 (mesh_wire_decoder_get_buffered (dec), 0);
  return frames;
}

static void
assert_same_frames (GPtrArray * expected, GPtrArray * got)
{
  guint i;

  fail_unless_equals_int (got->len, expected->len);
  for (i = 0; i < expected->len; i++)
    fail_unless (frames_equal (g_ptr_array_index (expected, i),
            g_ptr_array_index (got, i)), "frame %u (%s) differs", i,
        mesh_wire_type_name (((MeshWireFrame *)
                g_ptr_array_index (expected, i))->type));
}

/* ------------------------------------------------------------------------ */
/* Round trips */

static gsize
expected_size (const MeshWireFrame * f)
{
  switch (f->type) {
    case MESH_WIRE_TYPE_HELLO:
      return 5 + 4 + 1 + 1 + 2 + strlen (f->hello.swarm_id) + 2 +
          strlen (f->hello.peer_id);
    case MESH_WIRE_TYPE_HAVE:
      return 5 + 2 + 12 * f->have.n_entries;
    case MESH_WIRE_TYPE_FETCHING:
    case MESH_WIRE_TYPE_LOST:
      return 5 + 2 + 8 * f->keys.n_keys;
    case MESH_WIRE_TYPE_REQUEST:
      return 5 + 4 + 8 + 8 + 8 + 4;
    case MESH_WIRE_TYPE_DATA:
      return 5 + 4 + 8 + g_bytes_get_size (f->data.bytes);
    case MESH_WIRE_TYPE_END:
      return 5 + 4 + 8;
    case MESH_WIRE_TYPE_CANCEL:
      return 5 + 4;
    case MESH_WIRE_TYPE_ABSENT:
      return 5 + 4 + 1;
    case MESH_WIRE_TYPE_ERROR:
      return 5 + 2 + 2 + strlen (f->error.message);
    case MESH_WIRE_TYPE_PING:
    case MESH_WIRE_TYPE_PONG:
      return 5 + 8;
  }
  return 0;
}

GST_START_TEST (test_round_trip_every_type)
{
  g_autoptr (GPtrArray) frames = sample_frames (TRUE);
  gboolean seen[MESH_WIRE_TYPE_PONG + 1] = { FALSE, };
  guint i, t;

  for (i = 0; i < frames->len; i++) {
    const MeshWireFrame *f = g_ptr_array_index (frames, i);
    g_autoptr (MeshWireDecoder) dec = mesh_wire_decoder_new ();
    g_autoptr (GBytes) b = mesh_wire_encode (f);
    g_autoptr (GBytes) again = NULL;
    g_auto (MeshWireFrame) got = { 0, };
    const guint8 *p;
    gsize size;
    GError *err = NULL;

    fail_unless (b != NULL);
    p = g_bytes_get_data (b, &size);
    fail_unless_equals_uint64 (size, expected_size (f));
    fail_unless_equals_uint64 (((guint32) p[0] << 24 | p[1] << 16 | p[2] << 8
            | p[3]), size - 4);
    fail_unless_equals_int (p[4], f->type);

    mesh_wire_decoder_feed (dec, p, size);
    fail_unless_equals_int (mesh_wire_decoder_next (dec, &got, &err),
        MESH_WIRE_RESULT_FRAME);
    g_assert_no_error (err);
    fail_unless (frames_equal (f, &got), "%s frame differs",
        mesh_wire_type_name (f->type));
    if (got.type == MESH_WIRE_TYPE_HELLO)
      fail_unless_equals_int (got.hello.version, MESH_WIRE_VERSION);
    fail_unless_equals_uint64 (mesh_wire_decoder_get_buffered (dec), 0);

    /* one encoding per frame */
    again = mesh_wire_encode (&got);
    fail_unless (g_bytes_equal (b, again));
    seen[f->type] = TRUE;
  }
  for (t = MESH_WIRE_TYPE_HELLO; t <= MESH_WIRE_TYPE_PONG; t++)
    fail_unless (seen[t], "no sample of %s", mesh_wire_type_name (t));
}

GST_END_TEST;

/* The layout of docs/protocol.md section 2, byte for byte. */
GST_START_TEST (test_layout_matches_spec)
{
  static const guint8 request[] = {
    0, 0, 0, 33, 5,
    0x01, 0x02, 0x03, 0x04,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0, 0, 0, 0, 0, 0, 0x01, 0x00,
    0, 0, 0, 0, 0, 0, 0, 0x20,
    0, 0, 0x05, 0xdc,
  };
  static const guint8 hello[] = {
    0, 0, 0, 16, 1,
    'M', 'E', 'S', 'H', 2, 1,
    0, 2, 's', 'w',
    0, 3, 'p', 'e', 'e',
  };
  static const guint8 have[] = {
    0, 0, 0, 15, 2,
    0, 1,
    0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0, 0x01, 0, 0x02,
  };
  static const guint8 data[] = {
    0, 0, 0, 15, 6,
    0, 0, 0, 9,
    0, 0, 0, 0, 0, 0, 0, 5,
    'h', 'i',
  };
  static const guint8 error[] = {
    0, 0, 0, 7, 10,
    0, 3,
    0, 2, 'n', 'o',
  };
  static const guint8 absent[] = { 0, 0, 0, 6, 9, 0, 0, 0, 4, 2 };
  MeshWireHaveEntry entry = { 0xa1a2a3a4a5a6a7a8ULL, 0x00010002 };
  g_autoptr (GBytes) data_chunk = g_bytes_new_static ("hi", 2);
  struct
  {
    GBytes *encoded;
    const guint8 *expected;
    gsize size;
  } cases[] = {
    {mesh_wire_encode_request (0x01020304, 0x1011121314151617ULL, 256, 32,
              1500),
        request, sizeof (request)},
    {mesh_wire_encode_hello (MESH_WIRE_HELLO_UPLOAD, "sw", "pee"), hello,
        sizeof (hello)},
    {mesh_wire_encode_have (&entry, 1), have, sizeof (have)},
    {mesh_wire_encode_data (9, 5, data_chunk), data, sizeof (data)},
    {mesh_wire_encode_error (MESH_WIRE_CLOSE_WRONG_SWARM, "no"), error,
        sizeof (error)},
    {mesh_wire_encode_absent (4, MESH_WIRE_ABSENT_BUSY), absent,
        sizeof (absent)},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GBytes) expected = g_bytes_new_static (cases[i].expected,
        cases[i].size);

    fail_unless (g_bytes_equal (cases[i].encoded, expected), "case %u", i);
    g_bytes_unref (cases[i].encoded);
  }
}

GST_END_TEST;

GST_START_TEST (test_convenience_encoders)
{
  guint64 keys[2] = { 1, G_MAXUINT64 };
  g_autoptr (GBytes) fetching = mesh_wire_encode_fetching (keys, 2);
  g_autoptr (GBytes) lost = mesh_wire_encode_lost (keys, 2);
  g_autoptr (GBytes) end = mesh_wire_encode_end (5, 1000);
  g_autoptr (GBytes) cancel = mesh_wire_encode_cancel (6);
  g_autoptr (GBytes) ping = mesh_wire_encode_ping (42);
  g_autoptr (GBytes) pong = mesh_wire_encode_pong (43);
  g_auto (MeshWireFrame) f = { 0, };

  fail_unless_equals_int (decode_one (g_bytes_get_data (fetching, NULL),
          g_bytes_get_size (fetching), &f, NULL), MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_FETCHING);
  fail_unless_equals_int (f.keys.n_keys, 2);
  fail_unless_equals_uint64 (f.keys.keys[1], G_MAXUINT64);
  mesh_wire_frame_clear (&f);

  fail_unless_equals_int (decode_one (g_bytes_get_data (lost, NULL),
          g_bytes_get_size (lost), &f, NULL), MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_LOST);
  fail_unless_equals_uint64 (f.keys.keys[0], 1);
  mesh_wire_frame_clear (&f);

  fail_unless_equals_int (decode_one (g_bytes_get_data (end, NULL),
          g_bytes_get_size (end), &f, NULL), MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_END);
  fail_unless_equals_int (f.end.request_id, 5);
  fail_unless_equals_uint64 (f.end.total_size, 1000);
  mesh_wire_frame_clear (&f);

  fail_unless_equals_int (decode_one (g_bytes_get_data (cancel, NULL),
          g_bytes_get_size (cancel), &f, NULL), MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_CANCEL);
  fail_unless_equals_int (f.cancel.request_id, 6);
  mesh_wire_frame_clear (&f);

  fail_unless_equals_int (decode_one (g_bytes_get_data (ping, NULL),
          g_bytes_get_size (ping), &f, NULL), MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_PING);
  fail_unless_equals_uint64 (f.ping.opaque, 42);
  mesh_wire_frame_clear (&f);

  fail_unless_equals_int (decode_one (g_bytes_get_data (pong, NULL),
          g_bytes_get_size (pong), &f, NULL), MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_PONG);
  fail_unless_equals_uint64 (f.ping.opaque, 43);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Splitting the stream */

static gsize
whole (GRand * rand)
{
  return G_MAXSIZE;
}

static gsize
one_byte (GRand * rand)
{
  return 1;
}

static gsize
random_split (GRand * rand)
{
  /* mostly small reads, sometimes larger than a frame */
  switch (g_rand_int_range (rand, 0, 4)) {
    case 0:
      return g_rand_int_range (rand, 1, 8);
    case 1:
      return g_rand_int_range (rand, 1, 1500);
    case 2:
      return g_rand_int_range (rand, 1, 20000);
    default:
      return g_rand_int_range (rand, 1, 3 * MESH_WIRE_MAX_FRAME);
  }
}

GST_START_TEST (test_splits_give_same_frames)
{
  g_autoptr (GPtrArray) frames = sample_frames (TRUE);
  g_autoptr (GByteArray) stream = encode_all (frames);
  g_autoptr (GRand) rand = g_rand_new_with_seed (20260501);
  GPtrArray *got;
  guint round;

  got = decode_in_chunks (stream, whole, NULL);
  assert_same_frames (frames, got);
  g_ptr_array_unref (got);

  got = decode_in_chunks (stream, one_byte, NULL);
  assert_same_frames (frames, got);
  g_ptr_array_unref (got);

  for (round = 0; round < 50; round++) {
    got = decode_in_chunks (stream, random_split, rand);
    assert_same_frames (frames, got);
    g_ptr_array_unref (got);
  }
}

GST_END_TEST;

/* A DATA chunk must stay valid after the decoder moved on and is gone. */
GST_START_TEST (test_data_outlives_decoder)
{
  g_autoptr (GBytes) chunk = g_bytes_new_take (g_strnfill (5000, 'z'), 5000);
  g_autoptr (GBytes) b = mesh_wire_encode_data (1, 0, chunk);
  g_autoptr (GBytes) ping = mesh_wire_encode_ping (9);
  MeshWireDecoder *dec = mesh_wire_decoder_new ();
  MeshWireFrame f1, f2, f3;
  const guint8 *p = g_bytes_get_data (b, NULL);
  gsize size = g_bytes_get_size (b);

  /* alone in the buffer: sliced out of it */
  mesh_wire_decoder_feed (dec, p, 10);
  fail_unless_equals_int (mesh_wire_decoder_next (dec, &f1, NULL),
      MESH_WIRE_RESULT_NEED_MORE);
  mesh_wire_decoder_feed (dec, p + 10, size - 10);
  fail_unless_equals_int (mesh_wire_decoder_next (dec, &f1, NULL),
      MESH_WIRE_RESULT_FRAME);

  /* followed by another frame: copied */
  mesh_wire_decoder_feed (dec, p, size);
  mesh_wire_decoder_feed (dec, g_bytes_get_data (ping, NULL),
      g_bytes_get_size (ping));
  fail_unless_equals_int (mesh_wire_decoder_next (dec, &f2, NULL),
      MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (mesh_wire_decoder_next (dec, &f3, NULL),
      MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (f3.type, MESH_WIRE_TYPE_PING);
  mesh_wire_decoder_free (dec);

  fail_unless (g_bytes_equal (f1.data.bytes, chunk));
  fail_unless (g_bytes_equal (f2.data.bytes, chunk));
  mesh_wire_frame_clear (&f1);
  mesh_wire_frame_clear (&f2);
  mesh_wire_frame_clear (&f3);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Truncation and framing errors */

GST_START_TEST (test_truncated_needs_more)
{
  g_autoptr (GPtrArray) frames = sample_frames (TRUE);
  guint i;

  for (i = 0; i < frames->len; i++) {
    g_autoptr (GBytes) b = mesh_wire_encode (g_ptr_array_index (frames, i));
    g_autoptr (MeshWireDecoder) dec = mesh_wire_decoder_new ();
    g_auto (MeshWireFrame) f = { 0, };
    const guint8 *p;
    gsize size;

    p = g_bytes_get_data (b, &size);
    mesh_wire_decoder_feed (dec, p, size - 1);
    fail_unless_equals_int (mesh_wire_decoder_next (dec, &f, NULL),
        MESH_WIRE_RESULT_NEED_MORE);
    /* what the caller checks at end of stream */
    fail_unless_equals_uint64 (mesh_wire_decoder_get_buffered (dec), size - 1);
    mesh_wire_decoder_feed (dec, p + size - 1, 1);
    fail_unless_equals_int (mesh_wire_decoder_next (dec, &f, NULL),
        MESH_WIRE_RESULT_FRAME);
    fail_unless (frames_equal (g_ptr_array_index (frames, i), &f));
    fail_unless_equals_uint64 (mesh_wire_decoder_get_buffered (dec), 0);
  }
}

GST_END_TEST;

GST_START_TEST (test_oversized_length)
{
  static const guint8 over[] = { 0x00, 0x01, 0x00, 0x21 };      /* MAX + 1 */
  static const guint8 huge[] = { 0xff, 0xff, 0xff, 0xff };
  static const guint8 at_bound[] = { 0x00, 0x01, 0x00, 0x20, 6 };
  g_autoptr (MeshWireDecoder) dec = mesh_wire_decoder_new ();
  MeshWireFrame f;

  G_STATIC_ASSERT (MESH_WIRE_MAX_FRAME == 0x00010020);
  /* refused from the length prefix alone, before any buffering */
  assert_stream_error (over, sizeof (over), MESH_WIRE_ERROR_TOO_LARGE);
  assert_stream_error (huge, sizeof (huge), MESH_WIRE_ERROR_TOO_LARGE);

  mesh_wire_decoder_feed (dec, at_bound, sizeof (at_bound));
  fail_unless_equals_int (mesh_wire_decoder_next (dec, &f, NULL),
      MESH_WIRE_RESULT_NEED_MORE);
}

GST_END_TEST;

GST_START_TEST (test_length_zero_and_unknown_type)
{
  static const guint8 empty[] = { 0, 0, 0, 0 };
  static const guint8 type0[] = { 0, 0, 0, 1, 0 };
  static const guint8 type13[] = { 0, 0, 0, 9, 13 };    /* rest never sent */
  static const guint8 type255[] = { 0, 0, 1, 0, 255 };

  assert_stream_error (empty, sizeof (empty), MESH_WIRE_ERROR_MALFORMED);
  assert_stream_error (type0, sizeof (type0), MESH_WIRE_ERROR_UNKNOWN_TYPE);
  assert_stream_error (type13, sizeof (type13), MESH_WIRE_ERROR_UNKNOWN_TYPE);
  assert_stream_error (type255, sizeof (type255), MESH_WIRE_ERROR_UNKNOWN_TYPE);
}

GST_END_TEST;

GST_START_TEST (test_frames_before_error_are_returned)
{
  g_autoptr (GBytes) ping = mesh_wire_encode_ping (77);
  g_autoptr (MeshWireDecoder) dec = mesh_wire_decoder_new ();
  static const guint8 junk[] = { 0, 0, 0, 1, 99 };
  MeshWireFrame f;
  GError *err = NULL;

  mesh_wire_decoder_feed (dec, g_bytes_get_data (ping, NULL),
      g_bytes_get_size (ping));
  mesh_wire_decoder_feed (dec, junk, sizeof (junk));
  fail_unless_equals_int (mesh_wire_decoder_next (dec, &f, NULL),
      MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_uint64 (f.ping.opaque, 77);
  fail_unless_equals_int (mesh_wire_decoder_next (dec, &f, &err),
      MESH_WIRE_RESULT_ERROR);
  fail_unless (g_error_matches (err, MESH_WIRE_ERROR,
          MESH_WIRE_ERROR_UNKNOWN_TYPE));
  g_clear_error (&err);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Malformed payloads */

static GByteArray *
payload_new (void)
{
  return g_byte_array_new ();
}

static void
put_string (GByteArray * a, const gchar * s, gsize len)
{
  put_be (a, len, 2);
  put_raw (a, s, len);
}

static GByteArray *
hello_payload (const gchar * magic, guint version, const gchar * swarm,
    gsize swarm_len, const gchar * peer, gsize peer_len)
{
  GByteArray *p = payload_new ();

  put_raw (p, magic, 4);
  put_be (p, version, 1);
  put_be (p, 0, 1);
  put_string (p, swarm, swarm_len);
  put_string (p, peer, peer_len);
  return p;
}

static void
assert_payload_error (guint8 type, GByteArray * payload, gint len_delta,
    gint code)
{
  GByteArray *frame = raw_frame (type, payload, len_delta);

  /* a shorter prefix leaves bytes that would start the next frame */
  if (len_delta < 0)
    g_byte_array_set_size (frame, frame->len + len_delta);
  assert_array_error (frame, code);
  g_byte_array_unref (frame);
  g_byte_array_unref (payload);
}

static void
assert_payload_ok (guint8 type, GByteArray * payload)
{
  GByteArray *frame = raw_frame (type, payload, 0);
  g_auto (MeshWireFrame) f = { 0, };
  GError *err = NULL;

  fail_unless_equals_int (decode_one (frame->data, frame->len, &f, &err),
      MESH_WIRE_RESULT_FRAME);
  g_assert_no_error (err);
  g_byte_array_unref (frame);
  g_byte_array_unref (payload);
}

GST_START_TEST (test_count_limits)
{
  GByteArray *p;
  guint i;

  /* one over the limit, with the bytes to match */
  p = payload_new ();
  put_be (p, MESH_WIRE_MAX_KEYS + 1, 2);
  for (i = 0; i < MESH_WIRE_MAX_KEYS + 1; i++) {
    put_be (p, i, 8);
    put_be (p, i, 4);
  }
  assert_payload_error (MESH_WIRE_TYPE_HAVE, p, 0, MESH_WIRE_ERROR_MALFORMED);

  p = payload_new ();
  put_be (p, MESH_WIRE_MAX_KEYS + 1, 2);
  for (i = 0; i < MESH_WIRE_MAX_KEYS + 1; i++)
    put_be (p, i, 8);
  assert_payload_error (MESH_WIRE_TYPE_FETCHING, p, 0,
      MESH_WIRE_ERROR_MALFORMED);

  p = payload_new ();
  put_be (p, G_MAXUINT16, 2);
  assert_payload_error (MESH_WIRE_TYPE_LOST, p, 0, MESH_WIRE_ERROR_MALFORMED);

  /* count and bytes disagree, both ways */
  p = payload_new ();
  put_be (p, 2, 2);
  put_be (p, 1, 8);
  put_be (p, 1, 4);
  assert_payload_error (MESH_WIRE_TYPE_HAVE, p, 0, MESH_WIRE_ERROR_MALFORMED);

  p = payload_new ();
  put_be (p, 1, 2);
  put_be (p, 1, 8);
  put_be (p, 2, 8);
  assert_payload_error (MESH_WIRE_TYPE_LOST, p, 0, MESH_WIRE_ERROR_MALFORMED);

  /* no count at all */
  assert_payload_error (MESH_WIRE_TYPE_HAVE, payload_new (), 0,
      MESH_WIRE_ERROR_MALFORMED);

  /* the limit itself is fine (built by hand, not by the encoder) */
  p = payload_new ();
  put_be (p, MESH_WIRE_MAX_KEYS, 2);
  for (i = 0; i < MESH_WIRE_MAX_KEYS; i++)
    put_be (p, i, 8);
  assert_payload_ok (MESH_WIRE_TYPE_FETCHING, p);
}

GST_END_TEST;

GST_START_TEST (test_strings)
{
  gchar long_swarm[MESH_WIRE_MAX_SWARM_ID + 1];
  gchar long_peer[MESH_WIRE_MAX_PEER_ID + 1];
  gchar long_message[MESH_WIRE_MAX_ERROR_MESSAGE + 1];
  GByteArray *p;

  memset (long_swarm, 'a', sizeof (long_swarm));
  memset (long_peer, 'b', sizeof (long_peer));
  memset (long_message, 'c', sizeof (long_message));

  assert_payload_ok (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH",
          MESH_WIRE_VERSION, "sw", 2, "pe", 2));

  /* beyond the bounds */
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH",
          MESH_WIRE_VERSION, long_swarm, sizeof (long_swarm), "pe", 2), 0,
      MESH_WIRE_ERROR_MALFORMED);
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH",
          MESH_WIRE_VERSION, "sw", 2, long_peer, sizeof (long_peer)), 0,
      MESH_WIRE_ERROR_MALFORMED);
  p = payload_new ();
  put_be (p, 1, 2);
  put_string (p, long_message, sizeof (long_message));
  assert_payload_error (MESH_WIRE_TYPE_ERROR, p, 0, MESH_WIRE_ERROR_MALFORMED);

  /* empty ids */
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH",
          MESH_WIRE_VERSION, "", 0, "pe", 2), 0, MESH_WIRE_ERROR_MALFORMED);
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH",
          MESH_WIRE_VERSION, "sw", 2, "", 0), 0, MESH_WIRE_ERROR_MALFORMED);

  /* string length beyond the frame: the peer id's bytes are cut off */
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH",
          MESH_WIRE_VERSION, "sw", 2, "peer", 4), -2,
      MESH_WIRE_ERROR_MALFORMED);
  /* ... and a length field that is itself cut */
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH",
          MESH_WIRE_VERSION, "sw", 2, "", 0), -1, MESH_WIRE_ERROR_MALFORMED);
  p = payload_new ();
  put_be (p, 1, 2);
  put_be (p, 10, 2);
  put_raw (p, "short", 5);
  assert_payload_error (MESH_WIRE_TYPE_ERROR, p, 0, MESH_WIRE_ERROR_MALFORMED);

  /* invalid UTF-8: bad bytes, a cut sequence, an embedded NUL */
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH",
          MESH_WIRE_VERSION, "\xff\xfe", 2, "pe", 2), 0,
      MESH_WIRE_ERROR_MALFORMED);
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH",
          MESH_WIRE_VERSION, "sw", 2, "a\0b", 3), 0, MESH_WIRE_ERROR_MALFORMED);
  p = payload_new ();
  put_be (p, 1, 2);
  put_string (p, "caf\xc3", 4);
  assert_payload_error (MESH_WIRE_TYPE_ERROR, p, 0, MESH_WIRE_ERROR_MALFORMED);
  /* overlong encoding of '/' */
  p = payload_new ();
  put_be (p, 1, 2);
  put_string (p, "\xc0\xaf", 2);
  assert_payload_error (MESH_WIRE_TYPE_ERROR, p, 0, MESH_WIRE_ERROR_MALFORMED);
}

GST_END_TEST;

GST_START_TEST (test_hello_magic_and_version)
{
  GByteArray *p;

  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESS", 1, "sw",
          2, "pe", 2), 0, MESH_WIRE_ERROR_BAD_MAGIC);
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("mesh", 1, "sw",
          2, "pe", 2), 0, MESH_WIRE_ERROR_BAD_MAGIC);
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH", 1, "sw",
          2, "pe", 2), 0, MESH_WIRE_ERROR_UNSUPPORTED_VERSION);
  assert_payload_error (MESH_WIRE_TYPE_HELLO, hello_payload ("MESH", 0, "sw",
          2, "pe", 2), 0, MESH_WIRE_ERROR_UNSUPPORTED_VERSION);

  /* a later version's HELLO may look different after the version byte */
  p = payload_new ();
  put_raw (p, "MESH", 4);
  put_be (p, 7, 1);
  put_raw (p, "\xff\xff\xff", 3);
  assert_payload_error (MESH_WIRE_TYPE_HELLO, p, 0,
      MESH_WIRE_ERROR_UNSUPPORTED_VERSION);

  /* too short to hold the magic */
  p = payload_new ();
  put_raw (p, "ME", 2);
  assert_payload_error (MESH_WIRE_TYPE_HELLO, p, 0, MESH_WIRE_ERROR_BAD_MAGIC);
  p = payload_new ();
  put_raw (p, "MESH", 4);
  assert_payload_error (MESH_WIRE_TYPE_HELLO, p, 0, MESH_WIRE_ERROR_MALFORMED);
}

GST_END_TEST;

/* Every frame of the samples with one byte too many, and one too few. */
GST_START_TEST (test_trailing_and_missing_bytes)
{
  g_autoptr (GPtrArray) frames = sample_frames (FALSE);
  guint i;

  for (i = 0; i < frames->len; i++) {
    const MeshWireFrame *f = g_ptr_array_index (frames, i);
    g_autoptr (GBytes) b = mesh_wire_encode (f);
    GByteArray *payload = payload_new ();
    gsize size;
    const guint8 *p = g_bytes_get_data (b, &size);

    /* DATA's chunk is whatever follows its header: one byte more is a
     * longer chunk, one byte less a shorter one unless it was the only
     * byte */
    if (f->type != MESH_WIRE_TYPE_DATA) {
      put_raw (payload, p + 5, size - 5);
      put_be (payload, 0, 1);
      assert_payload_error (f->type, payload, 0, MESH_WIRE_ERROR_MALFORMED);
      payload = payload_new ();
    } else if (size - 5 > 13) {
      g_byte_array_unref (payload);
      continue;
    }
    put_raw (payload, p + 5, size - 6);
    assert_payload_error (f->type, payload, 0, MESH_WIRE_ERROR_MALFORMED);
  }
}

GST_END_TEST;

GST_START_TEST (test_data_and_range_bounds)
{
  GByteArray *p;
  guint8 *big;

  /* no bytes */
  p = payload_new ();
  put_be (p, 1, 4);
  put_be (p, 0, 8);
  assert_payload_error (MESH_WIRE_TYPE_DATA, p, 0, MESH_WIRE_ERROR_MALFORMED);

  /* more than a chunk, still within the frame bound */
  big = g_malloc0 (MESH_WIRE_MAX_CHUNK + 1);
  p = payload_new ();
  put_be (p, 1, 4);
  put_be (p, 0, 8);
  put_raw (p, big, MESH_WIRE_MAX_CHUNK + 1);
  g_free (big);
  assert_payload_error (MESH_WIRE_TYPE_DATA, p, 0, MESH_WIRE_ERROR_MALFORMED);

  /* chunk past 2^64 */
  p = payload_new ();
  put_be (p, 1, 4);
  put_be (p, G_MAXUINT64, 8);
  put_raw (p, "x", 1);
  assert_payload_error (MESH_WIRE_TYPE_DATA, p, 0, MESH_WIRE_ERROR_MALFORMED);

  /* request past 2^64; to the end (length 0) from anywhere is fine */
  p = payload_new ();
  put_be (p, 1, 4);
  put_be (p, 1, 8);
  put_be (p, G_MAXUINT64 - 5, 8);
  put_be (p, 6, 8);
  put_be (p, 0, 4);
  assert_payload_error (MESH_WIRE_TYPE_REQUEST, p, 0,
      MESH_WIRE_ERROR_MALFORMED);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Encoder */

GST_START_TEST (test_encoder_refuses_invalid)
{
  gchar *long_swarm = g_strnfill (MESH_WIRE_MAX_SWARM_ID + 1, 's');
  gchar *long_peer = g_strnfill (MESH_WIRE_MAX_PEER_ID + 1, 'p');
  MeshWireHaveEntry *entries = g_new0 (MeshWireHaveEntry,
      MESH_WIRE_MAX_KEYS + 1);
  guint8 *big = g_malloc0 (MESH_WIRE_MAX_CHUNK + 1);
  GBytes *too_big = g_bytes_new_take (big, MESH_WIRE_MAX_CHUNK + 1);
  GBytes *empty = g_bytes_new (NULL, 0);
  MeshWireFrame unknown = {.type = 0 };
  GBytes *b = NULL;

  ASSERT_CRITICAL (b = mesh_wire_encode_hello (0, "", "p"));
  ASSERT_CRITICAL (b = mesh_wire_encode_hello (0, NULL, "p"));
  ASSERT_CRITICAL (b = mesh_wire_encode_hello (0, long_swarm, "p"));
  ASSERT_CRITICAL (b = mesh_wire_encode_hello (0, "s", long_peer));
  ASSERT_CRITICAL (b = mesh_wire_encode_hello (0, "s", "\xff"));
  ASSERT_CRITICAL (b = mesh_wire_encode_have (entries, MESH_WIRE_MAX_KEYS + 1));
  ASSERT_CRITICAL (b = mesh_wire_encode_lost (NULL, 3));
  ASSERT_CRITICAL (b = mesh_wire_encode_request (1, 1, G_MAXUINT64, 1, 0));
  ASSERT_CRITICAL (b = mesh_wire_encode_data (1, 0, NULL));
  ASSERT_CRITICAL (b = mesh_wire_encode_data (1, 0, empty));
  ASSERT_CRITICAL (b = mesh_wire_encode_data (1, 0, too_big));
  ASSERT_CRITICAL (b = mesh_wire_encode (&unknown));
  fail_unless (b == NULL);

  g_free (long_swarm);
  g_free (long_peer);
  g_free (entries);
  g_bytes_unref (too_big);
  g_bytes_unref (empty);
}

GST_END_TEST;

static gchar *
decode_error_message (GBytes * b)
{
  g_auto (MeshWireFrame) f = { 0, };

  fail_unless_equals_int (decode_one (g_bytes_get_data (b, NULL),
          g_bytes_get_size (b), &f, NULL), MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_ERROR);
  return g_strdup (f.error.message);
}

GST_START_TEST (test_error_message_repaired)
{
  GString *accents = g_string_new (NULL);
  gchar *ascii = g_strnfill (MESH_WIRE_MAX_ERROR_MESSAGE + 1, 'x');
  GBytes *b;
  gchar *m;
  guint i;

  /* 3-byte characters: 1024 is not a boundary, 1023 is */
  for (i = 0; i < 400; i++)
    g_string_append (accents, "\xe2\x82\xac");  /* € */
  b = mesh_wire_encode_error (MESH_WIRE_CLOSE_PROTOCOL, accents->str);
  m = decode_error_message (b);
  fail_unless_equals_int (strlen (m), 1023);
  fail_unless (strncmp (m, accents->str, 1023) == 0);
  g_free (m);
  g_bytes_unref (b);

  b = mesh_wire_encode_error (MESH_WIRE_CLOSE_PROTOCOL, ascii);
  m = decode_error_message (b);
  fail_unless_equals_int (strlen (m), MESH_WIRE_MAX_ERROR_MESSAGE);
  g_free (m);
  g_bytes_unref (b);

  b = mesh_wire_encode_error (MESH_WIRE_CLOSE_PROTOCOL, "bad \xff byte");
  m = decode_error_message (b);
  fail_unless (g_utf8_validate (m, -1, NULL));
  fail_unless (g_str_has_prefix (m, "bad "));
  fail_unless (g_str_has_suffix (m, " byte"));
  g_free (m);
  g_bytes_unref (b);

  b = mesh_wire_encode_error (MESH_WIRE_CLOSE_GOING_AWAY, NULL);
  m = decode_error_message (b);
  fail_unless_equals_string (m, "");
  g_free (m);
  g_bytes_unref (b);

  g_string_free (accents, TRUE);
  g_free (ascii);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Segment keys */

GST_START_TEST (test_segment_key)
{
  /* first 8 bytes of SHA-256 test vectors (FIPS 180-2 "abc", the empty
   * string) and of a URL-like identity, from sha256sum */
  fail_unless_equals_uint64 (mesh_wire_segment_key ("abc"),
      0xba7816bf8f01cfeaULL);
  fail_unless_equals_uint64 (mesh_wire_segment_key (""), 0xe3b0c44298fc1c14ULL);
  fail_unless_equals_uint64 (mesh_wire_segment_key
      ("https://cdn.example.com/live/720p/seg-000042.ts"),
      0x3281540d186d3242ULL);
  fail_unless (mesh_wire_segment_key ("seg-1") !=
      mesh_wire_segment_key ("seg-2"));
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Garbage */

static GByteArray *
random_bytes (GRand * rand, gsize len)
{
  GByteArray *a = g_byte_array_sized_new (len);
  gsize i;

  for (i = 0; i < len; i++) {
    guint8 b = g_rand_int (rand);

    g_byte_array_append (a, &b, 1);
  }
  return a;
}

/* A plausible header (bounded length, known type) over random bytes: gets
 * past the framing checks into the parsers. */
static GByteArray *
random_frame (GRand * rand)
{
  guint len = g_rand_boolean (rand) ? g_rand_int_range (rand, 1, 64)
      : g_rand_int_range (rand, 1, MESH_WIRE_MAX_FRAME + 1);
  GByteArray *a = random_bytes (rand, MESH_WIRE_LENGTH_SIZE + len);

  a->data[0] = len >> 24;
  a->data[1] = len >> 16;
  a->data[2] = len >> 8;
  a->data[3] = len;
  a->data[4] = g_rand_int_range (rand, MESH_WIRE_TYPE_HELLO,
      MESH_WIRE_TYPE_PONG + 1);
  return a;
}

static GByteArray *
mutated_stream (GRand * rand, const GByteArray * stream)
{
  GByteArray *a = g_byte_array_sized_new (stream->len);
  guint n = g_rand_int_range (rand, 1, 5);

  put_raw (a, stream->data, stream->len);
  while (n-- > 0)
    a->data[g_rand_int_range (rand, 0, a->len)] = g_rand_int (rand);
  if (g_rand_boolean (rand))
    g_byte_array_set_size (a, g_rand_int_range (rand, 0, a->len));
  return a;
}

/* Feeds @input in random pieces. Every frame decoded must re-encode to the
 * very bytes it came from, and the decoder must never hold more than one
 * frame after NEED_MORE. */
static void
decode_garbage (GRand * rand, const GByteArray * input)
{
  g_autoptr (MeshWireDecoder) dec = mesh_wire_decoder_new ();
  gsize fed = 0;

  while (fed < input->len) {
    gsize want = g_rand_int_range (rand, 1, 4096);
    gsize n = MIN (want, input->len - fed);
    MeshWireResult res;

    mesh_wire_decoder_feed (dec, input->data + fed, n);
    fed += n;
    for (;;) {
      gsize start = fed - mesh_wire_decoder_get_buffered (dec);
      g_auto (MeshWireFrame) f = { 0, };
      g_autoptr (GBytes) again = NULL;
      g_autoptr (GBytes) original = NULL;
      GError *err = NULL;

      res = mesh_wire_decoder_next (dec, &f, &err);
      if (res != MESH_WIRE_RESULT_FRAME) {
        fail_unless (res != MESH_WIRE_RESULT_ERROR || err != NULL);
        g_clear_error (&err);
        break;
      }
      original = g_bytes_new (input->data + start,
          fed - mesh_wire_decoder_get_buffered (dec) - start);
      again = mesh_wire_encode (&f);
      fail_unless (again != NULL && g_bytes_equal (again, original));
    }
    if (res == MESH_WIRE_RESULT_ERROR) {
      fail_unless_equals_uint64 (mesh_wire_decoder_get_buffered (dec), 0);
      return;
    }
    fail_unless (mesh_wire_decoder_get_buffered (dec) < MAX_HELD);
  }
}

GST_START_TEST (test_garbage_loop)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (0x6d657368);
  g_autoptr (GPtrArray) frames = sample_frames (FALSE);
  g_autoptr (GByteArray) stream = encode_all (frames);
  guint i;

  for (i = 0; i < 10000; i++) {
    GByteArray *input;

    switch (i % 3) {
      case 0:
        input = random_bytes (rand, g_rand_int_range (rand, 0, 512));
        break;
      case 1:
        input = random_frame (rand);
        break;
      default:
        input = mutated_stream (rand, stream);
        break;
    }
    decode_garbage (rand, input);
    g_byte_array_unref (input);
  }
}

GST_END_TEST;

static Suite *
wire_suite (void)
{
  Suite *s = suite_create ("wire");
  TCase *tc_codec = tcase_create ("codec");
  TCase *tc_errors = tcase_create ("errors");
  TCase *tc_garbage = tcase_create ("garbage");

  suite_add_tcase (s, tc_codec);
  tcase_add_test (tc_codec, test_round_trip_every_type);
  tcase_add_test (tc_codec, test_layout_matches_spec);
  tcase_add_test (tc_codec, test_convenience_encoders);
  tcase_add_test (tc_codec, test_splits_give_same_frames);
  tcase_add_test (tc_codec, test_data_outlives_decoder);
  tcase_add_test (tc_codec, test_encoder_refuses_invalid);
  tcase_add_test (tc_codec, test_error_message_repaired);
  tcase_add_test (tc_codec, test_segment_key);

  suite_add_tcase (s, tc_errors);
  tcase_add_test (tc_errors, test_truncated_needs_more);
  tcase_add_test (tc_errors, test_oversized_length);
  tcase_add_test (tc_errors, test_length_zero_and_unknown_type);
  tcase_add_test (tc_errors, test_frames_before_error_are_returned);
  tcase_add_test (tc_errors, test_count_limits);
  tcase_add_test (tc_errors, test_strings);
  tcase_add_test (tc_errors, test_hello_magic_and_version);
  tcase_add_test (tc_errors, test_trailing_and_missing_bytes);
  tcase_add_test (tc_errors, test_data_and_range_bounds);

  suite_add_tcase (s, tc_garbage);
  tcase_add_test (tc_garbage, test_garbage_loop);
  return s;
}

GST_CHECK_MAIN (wire);
