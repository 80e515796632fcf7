/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The peer-to-peer wire protocol codec (docs/protocol.md, section 2).
 *
 * Threads: none; no global state. A MeshWireDecoder belongs to one caller
 * (the thread reading one peer connection) and takes no lock.
 *
 * Every frame has exactly one encoding: the decoder accepts nothing the
 * encoder would not produce (no trailing bytes, no slack in counts, strict
 * UTF-8), so decode(encode(f)) == f and encode(decode(b)) == b. Both sides
 * share check_frame() for the bounds that do not depend on the layout.
 *
 * The decoder copies what it is fed into one buffer and parses frames out of
 * it in place; only a frame's variable parts (strings, key lists, a DATA
 * chunk) are copied out. The buffer is compacted whenever the decoder runs
 * out of complete frames, so after NEED_MORE it holds less than one frame.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-wire.h"

#include <string.h>

G_DEFINE_QUARK (mesh_wire_error_quark, mesh_wire_error);

#define MAGIC_SIZE 4
/* One decoder buffer above this, once drained, is given back. */
#define KEEP_BUFFER_SIZE (2 * (MESH_WIRE_LENGTH_SIZE + MESH_WIRE_MAX_FRAME))

G_STATIC_ASSERT (MESH_WIRE_MAX_FRAME >= 1 + 4 + 8 + MESH_WIRE_MAX_CHUNK);
G_STATIC_ASSERT (MESH_WIRE_MAX_FRAME >= 1 + 2 + MESH_WIRE_MAX_KEYS * 12);
G_STATIC_ASSERT (MESH_WIRE_MAX_FRAME >= 1 + 4 + 2 + 2 +
    MESH_WIRE_MAX_SWARM_ID + 2 + MESH_WIRE_MAX_PEER_ID);
G_STATIC_ASSERT (MESH_WIRE_MAX_FRAME >= 1 + 2 + 2 +
    MESH_WIRE_MAX_ERROR_MESSAGE);

struct _MeshWireDecoder
{
  GByteArray *buf;
  gsize pos;                    /* first byte not yet returned in a frame */
  GError *error;                /* sticky once set */
};

/* ------------------------------------------------------------------------ */
/* Types, keys, frames */

static const gchar *const type_names[] = {
  [MESH_WIRE_TYPE_HELLO] = "HELLO",
  [MESH_WIRE_TYPE_HAVE] = "HAVE",
  [MESH_WIRE_TYPE_FETCHING] = "FETCHING",
  [MESH_WIRE_TYPE_LOST] = "LOST",
  [MESH_WIRE_TYPE_REQUEST] = "REQUEST",
  [MESH_WIRE_TYPE_DATA] = "DATA",
  [MESH_WIRE_TYPE_END] = "END",
  [MESH_WIRE_TYPE_CANCEL] = "CANCEL",
  [MESH_WIRE_TYPE_ABSENT] = "ABSENT",
  [MESH_WIRE_TYPE_ERROR] = "ERROR",
  [MESH_WIRE_TYPE_PING] = "PING",
  [MESH_WIRE_TYPE_PONG] = "PONG",
};

static gboolean
type_is_known (guint type)
{
  return type >= MESH_WIRE_TYPE_HELLO && type <= MESH_WIRE_TYPE_PONG;
}

const gchar *
mesh_wire_type_name (MeshWireType type)
{
  return type_is_known (type) ? type_names[type] : "UNKNOWN";
}

guint64
mesh_wire_segment_key (const gchar * segment_id)
{
  GChecksum *sha;
  guint8 digest[32];
  gsize digest_len = sizeof (digest);
  guint64 key = 0;
  guint i;

  g_return_val_if_fail (segment_id != NULL, 0);

  sha = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sha, (const guchar *) segment_id, -1);
  g_checksum_get_digest (sha, digest, &digest_len);
  g_checksum_free (sha);

  for (i = 0; i < 8; i++)
    key = (key << 8) | digest[i];
  return key;
}

void
mesh_wire_frame_clear (MeshWireFrame * frame)
{
  g_return_if_fail (frame != NULL);

  switch (frame->type) {
    case MESH_WIRE_TYPE_HELLO:
      g_free (frame->hello.swarm_id);
      g_free (frame->hello.peer_id);
      break;
    case MESH_WIRE_TYPE_HAVE:
      g_free (frame->have.entries);
      break;
    case MESH_WIRE_TYPE_FETCHING:
    case MESH_WIRE_TYPE_LOST:
      g_free (frame->keys.keys);
      break;
    case MESH_WIRE_TYPE_DATA:
      g_clear_pointer (&frame->data.bytes, g_bytes_unref);
      break;
    case MESH_WIRE_TYPE_ERROR:
      g_free (frame->error.message);
      break;
    default:
      break;
  }
  memset (frame, 0, sizeof (*frame));
}

static gboolean
check_string (const gchar * what, const gchar * s, gsize len, gsize min,
    gsize max, GError ** error)
{
  if (len < min || len > max) {
    g_set_error (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
        "%s of %" G_GSIZE_FORMAT " bytes (allowed: %" G_GSIZE_FORMAT
        "..%" G_GSIZE_FORMAT ")", what, len, min, max);
    return FALSE;
  }
  /* also refuses NUL bytes, which a C string could not carry */
  if (!g_utf8_validate_len (s, len, NULL)) {
    g_set_error (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
        "%s is not valid UTF-8", what);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_count (guint count, gconstpointer items, GError ** error)
{
  if (count > MESH_WIRE_MAX_KEYS) {
    g_set_error (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
        "%u keys (at most %u)", count, MESH_WIRE_MAX_KEYS);
    return FALSE;
  }
  if (count > 0 && items == NULL) {
    g_set_error (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
        "%u keys but no array", count);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_range (guint64 offset, guint64 length, GError ** error)
{
  if (offset > G_MAXUINT64 - length) {
    g_set_error (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
        "range %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT " past 2^64",
        offset, length);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_chunk (GBytes * bytes, guint64 offset, GError ** error)
{
  gsize size = bytes ? g_bytes_get_size (bytes) : 0;

  if (size == 0 || size > MESH_WIRE_MAX_CHUNK) {
    g_set_error (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
        "chunk of %" G_GSIZE_FORMAT " bytes (allowed: 1..%u)", size,
        MESH_WIRE_MAX_CHUNK);
    return FALSE;
  }
  return check_range (offset, size, error);
}

/* The bounds that do not depend on the layout, for encoder and decoder. The
 * ERROR message is not checked here: the encoder repairs it. */
static gboolean
check_frame (const MeshWireFrame * f, GError ** error)
{
  const gchar *s;

  switch (f->type) {
    case MESH_WIRE_TYPE_HELLO:
      s = f->hello.swarm_id;
      if (!check_string ("swarm id", s, s ? strlen (s) : 0, 1,
              MESH_WIRE_MAX_SWARM_ID, error))
        return FALSE;
      s = f->hello.peer_id;
      return check_string ("peer id", s, s ? strlen (s) : 0, 1,
          MESH_WIRE_MAX_PEER_ID, error);
    case MESH_WIRE_TYPE_HAVE:
      return check_count (f->have.n_entries, f->have.entries, error);
    case MESH_WIRE_TYPE_FETCHING:
    case MESH_WIRE_TYPE_LOST:
      return check_count (f->keys.n_keys, f->keys.keys, error);
    case MESH_WIRE_TYPE_REQUEST:
      return check_range (f->request.offset, f->request.length, error);
    case MESH_WIRE_TYPE_DATA:
      return check_chunk (f->data.bytes, f->data.offset, error);
    case MESH_WIRE_TYPE_END:
    case MESH_WIRE_TYPE_CANCEL:
    case MESH_WIRE_TYPE_ABSENT:
    case MESH_WIRE_TYPE_ERROR:
    case MESH_WIRE_TYPE_PING:
    case MESH_WIRE_TYPE_PONG:
      return TRUE;
  }
  g_set_error (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_UNKNOWN_TYPE,
      "unknown frame type %d", (gint) f->type);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Encoding */

static void
put_u8 (GByteArray * out, guint8 v)
{
  g_byte_array_append (out, &v, 1);
}

static void
put_u16 (GByteArray * out, guint16 v)
{
  guint8 b[2] = { v >> 8, v };

  g_byte_array_append (out, b, sizeof (b));
}

static void
put_u32 (GByteArray * out, guint32 v)
{
  guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };

  g_byte_array_append (out, b, sizeof (b));
}

static void
put_u64 (GByteArray * out, guint64 v)
{
  put_u32 (out, v >> 32);
  put_u32 (out, v);
}

/* u16 length + bytes; the length was checked against the bound. */
static void
put_string (GByteArray * out, const gchar * s, gsize len)
{
  put_u16 (out, len);
  g_byte_array_append (out, (const guint8 *) s, len);
}

/* Valid UTF-8 of at most MESH_WIRE_MAX_ERROR_MESSAGE bytes, whole
 * characters. */
static gchar *
error_message_for_wire (const gchar * message)
{
  gchar *valid = g_utf8_make_valid (message ? message : "", -1);
  gsize len = strlen (valid);

  if (len > MESH_WIRE_MAX_ERROR_MESSAGE) {
    len = MESH_WIRE_MAX_ERROR_MESSAGE;
    /* back to the lead byte of the character straddling the bound */
    while (len > 0 && ((guchar) valid[len] & 0xc0) == 0x80)
      len--;
    valid[len] = '\0';
  }
  return valid;
}

static void
put_payload (GByteArray * out, const MeshWireFrame * f)
{
  guint i;

  switch (f->type) {
    case MESH_WIRE_TYPE_HELLO:
      g_byte_array_append (out, (const guint8 *) MESH_WIRE_MAGIC, MAGIC_SIZE);
      put_u8 (out, MESH_WIRE_VERSION);
      put_u8 (out, f->hello.flags);
      put_string (out, f->hello.swarm_id, strlen (f->hello.swarm_id));
      put_string (out, f->hello.peer_id, strlen (f->hello.peer_id));
      break;
    case MESH_WIRE_TYPE_HAVE:
      put_u16 (out, f->have.n_entries);
      for (i = 0; i < f->have.n_entries; i++) {
        put_u64 (out, f->have.entries[i].key);
        put_u32 (out, f->have.entries[i].size);
      }
      break;
    case MESH_WIRE_TYPE_FETCHING:
    case MESH_WIRE_TYPE_LOST:
      put_u16 (out, f->keys.n_keys);
      for (i = 0; i < f->keys.n_keys; i++)
        put_u64 (out, f->keys.keys[i]);
      break;
    case MESH_WIRE_TYPE_REQUEST:
      put_u32 (out, f->request.request_id);
      put_u64 (out, f->request.key);
      put_u64 (out, f->request.offset);
      put_u64 (out, f->request.length);
      put_u32 (out, f->request.budget_ms);
      break;
    case MESH_WIRE_TYPE_DATA:{
      gsize size;
      const guint8 *data = g_bytes_get_data (f->data.bytes, &size);

      put_u32 (out, f->data.request_id);
      put_u64 (out, f->data.offset);
      g_byte_array_append (out, data, size);
      break;
    }
    case MESH_WIRE_TYPE_END:
      put_u32 (out, f->end.request_id);
      put_u64 (out, f->end.total_size);
      break;
    case MESH_WIRE_TYPE_CANCEL:
      put_u32 (out, f->cancel.request_id);
      break;
    case MESH_WIRE_TYPE_ABSENT:
      put_u32 (out, f->absent.request_id);
      put_u8 (out, f->absent.reason);
      break;
    case MESH_WIRE_TYPE_ERROR:{
      gchar *message = error_message_for_wire (f->error.message);

      put_u16 (out, f->error.code);
      put_string (out, message, strlen (message));
      g_free (message);
      break;
    }
    case MESH_WIRE_TYPE_PING:
    case MESH_WIRE_TYPE_PONG:
      put_u64 (out, f->ping.opaque);
      break;
  }
}

GBytes *
mesh_wire_encode (const MeshWireFrame * frame)
{
  GByteArray *out;
  GError *err = NULL;
  gsize len;

  g_return_val_if_fail (frame != NULL, NULL);

  if (!check_frame (frame, &err)) {
    g_critical ("%s: invalid %s frame: %s", G_STRFUNC,
        mesh_wire_type_name (frame->type), err->message);
    g_error_free (err);
    return NULL;
  }

  out = g_byte_array_sized_new (64);
  put_u32 (out, 0);             /* length, patched below */
  put_u8 (out, frame->type);
  put_payload (out, frame);

  len = out->len - MESH_WIRE_LENGTH_SIZE;
  g_assert (len <= MESH_WIRE_MAX_FRAME);
  out->data[0] = len >> 24;
  out->data[1] = len >> 16;
  out->data[2] = len >> 8;
  out->data[3] = len;
  return g_byte_array_free_to_bytes (out);
}

GBytes *
mesh_wire_encode_hello (guint8 flags, const gchar * swarm_id,
    const gchar * peer_id)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_HELLO };

  f.hello.version = MESH_WIRE_VERSION;
  f.hello.flags = flags;
  f.hello.swarm_id = (gchar *) swarm_id;
  f.hello.peer_id = (gchar *) peer_id;
  return mesh_wire_encode (&f);
}

GBytes *
mesh_wire_encode_have (const MeshWireHaveEntry * entries, guint n_entries)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_HAVE };

  f.have.entries = (MeshWireHaveEntry *) entries;
  f.have.n_entries = n_entries;
  return mesh_wire_encode (&f);
}

static GBytes *
encode_keys (MeshWireType type, const guint64 * keys, guint n_keys)
{
  MeshWireFrame f = {.type = type };

  f.keys.keys = (guint64 *) keys;
  f.keys.n_keys = n_keys;
  return mesh_wire_encode (&f);
}

GBytes *
mesh_wire_encode_fetching (const guint64 * keys, guint n_keys)
{
  return encode_keys (MESH_WIRE_TYPE_FETCHING, keys, n_keys);
}

GBytes *
mesh_wire_encode_lost (const guint64 * keys, guint n_keys)
{
  return encode_keys (MESH_WIRE_TYPE_LOST, keys, n_keys);
}

GBytes *
mesh_wire_encode_request (guint32 request_id, guint64 key, guint64 offset,
    guint64 length, guint32 budget_ms)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_REQUEST };

  f.request.request_id = request_id;
  f.request.key = key;
  f.request.offset = offset;
  f.request.length = length;
  f.request.budget_ms = budget_ms;
  return mesh_wire_encode (&f);
}

GBytes *
mesh_wire_encode_data (guint32 request_id, guint64 offset, GBytes * bytes)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_DATA };

  f.data.request_id = request_id;
  f.data.offset = offset;
  f.data.bytes = bytes;
  return mesh_wire_encode (&f);
}

GBytes *
mesh_wire_encode_end (guint32 request_id, guint64 total_size)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_END };

  f.end.request_id = request_id;
  f.end.total_size = total_size;
  return mesh_wire_encode (&f);
}

GBytes *
mesh_wire_encode_cancel (guint32 request_id)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_CANCEL };

  f.cancel.request_id = request_id;
  return mesh_wire_encode (&f);
}

GBytes *
mesh_wire_encode_absent (guint32 request_id, MeshWireAbsentReason reason)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_ABSENT };

  f.absent.request_id = request_id;
  f.absent.reason = reason;
  return mesh_wire_encode (&f);
}

GBytes *
mesh_wire_encode_error (guint16 code, const gchar * message)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_ERROR };

  f.error.code = code;
  f.error.message = (gchar *) message;
  return mesh_wire_encode (&f);
}

GBytes *
mesh_wire_encode_ping (guint64 opaque)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_PING };

  f.ping.opaque = opaque;
  return mesh_wire_encode (&f);
}

GBytes *
mesh_wire_encode_pong (guint64 opaque)
{
  MeshWireFrame f = {.type = MESH_WIRE_TYPE_PONG };

  f.ping.opaque = opaque;
  return mesh_wire_encode (&f);
}

/* ------------------------------------------------------------------------ */
/* Parsing one complete frame body (type byte excluded) */

typedef struct
{
  const guint8 *p;
  gsize left;
} Reader;

static gboolean
take (Reader * r, gsize n, const guint8 ** out)
{
  if (r->left < n)
    return FALSE;
  *out = r->p;
  r->p += n;
  r->left -= n;
  return TRUE;
}

static gboolean
get_u8 (Reader * r, guint8 * v)
{
  const guint8 *b;

  if (!take (r, 1, &b))
    return FALSE;
  *v = b[0];
  return TRUE;
}

static gboolean
get_u16 (Reader * r, guint16 * v)
{
  const guint8 *b;

  if (!take (r, 2, &b))
    return FALSE;
  *v = (guint16) b[0] << 8 | b[1];
  return TRUE;
}

static gboolean
get_u32 (Reader * r, guint32 * v)
{
  const guint8 *b;

  if (!take (r, 4, &b))
    return FALSE;
  *v = (guint32) b[0] << 24 | (guint32) b[1] << 16 | (guint32) b[2] << 8 | b[3];
  return TRUE;
}

static gboolean
get_u64 (Reader * r, guint64 * v)
{
  guint32 hi, lo;

  if (!get_u32 (r, &hi) || !get_u32 (r, &lo))
    return FALSE;
  *v = (guint64) hi << 32 | lo;
  return TRUE;
}

static gboolean
get_string (Reader * r, const gchar * what, gsize min, gsize max,
    gchar ** out, GError ** error)
{
  guint16 len;
  const guint8 *s;

  if (!get_u16 (r, &len) || !take (r, len, &s)) {
    g_set_error (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
        "%s runs past the end of the frame", what);
    return FALSE;
  }
  if (!check_string (what, (const gchar *) s, len, min, max, error))
    return FALSE;
  *out = g_strndup ((const gchar *) s, len);
  return TRUE;
}

static gboolean
truncated (GError ** error)
{
  g_set_error_literal (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
      "frame too short");
  return FALSE;
}

/* The count, once it agrees with the bytes left for @item_size items. */
static gboolean
get_count (Reader * r, gsize item_size, guint * count, GError ** error)
{
  guint16 n;

  if (!get_u16 (r, &n))
    return truncated (error);
  /* r->p only stands for "an array": the items are read below */
  if (!check_count (n, r->p, error))
    return FALSE;
  if (r->left != n * item_size) {
    g_set_error (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
        "%u keys in %" G_GSIZE_FORMAT " bytes", n, r->left);
    return FALSE;
  }
  *count = n;
  return TRUE;
}

static gboolean
parse_hello (Reader * r, MeshWireFrame * f, GError ** error)
{
  const guint8 *magic;
  guint8 version;

  if (!take (r, MAGIC_SIZE, &magic) || memcmp (magic, MESH_WIRE_MAGIC,
          MAGIC_SIZE) != 0) {
    g_set_error_literal (error, MESH_WIRE_ERROR, MESH_WIRE_ERROR_BAD_MAGIC,
        "not a mesh peer (bad magic)");
    return FALSE;
  }
  /* what follows the version byte may differ in other versions */
  if (!get_u8 (r, &version))
    return truncated (error);
  if (version != MESH_WIRE_VERSION) {
    g_set_error (error, MESH_WIRE_ERROR,
        MESH_WIRE_ERROR_UNSUPPORTED_VERSION,
        "peer speaks protocol version %u, we speak %u", version,
        MESH_WIRE_VERSION);
    return FALSE;
  }
  f->hello.version = version;
  if (!get_u8 (r, &f->hello.flags))
    return truncated (error);
  return get_string (r, "swarm id", 1, MESH_WIRE_MAX_SWARM_ID,
      &f->hello.swarm_id, error)
      && get_string (r, "peer id", 1, MESH_WIRE_MAX_PEER_ID,
      &f->hello.peer_id, error);
}

static gboolean
parse_have (Reader * r, MeshWireFrame * f, GError ** error)
{
  guint n, i;

  if (!get_count (r, 12, &n, error))
    return FALSE;
  f->have.n_entries = n;
  f->have.entries = g_new (MeshWireHaveEntry, n);
  for (i = 0; i < n; i++) {
    get_u64 (r, &f->have.entries[i].key);
    get_u32 (r, &f->have.entries[i].size);
  }
  return TRUE;
}

static gboolean
parse_keys (Reader * r, MeshWireFrame * f, GError ** error)
{
  guint n, i;

  if (!get_count (r, 8, &n, error))
    return FALSE;
  f->keys.n_keys = n;
  f->keys.keys = g_new (guint64, n);
  for (i = 0; i < n; i++)
    get_u64 (r, &f->keys.keys[i]);
  return TRUE;
}

/* @owner, when not NULL, holds the bytes @r reads: the chunk is then a slice
 * of it rather than a copy. */
static gboolean
parse_data (Reader * r, GBytes * owner, MeshWireFrame * f, GError ** error)
{
  if (!get_u32 (r, &f->data.request_id) || !get_u64 (r, &f->data.offset))
    return truncated (error);
  if (owner) {
    const guint8 *base = g_bytes_get_data (owner, NULL);

    f->data.bytes = g_bytes_new_from_bytes (owner, r->p - base, r->left);
  } else {
    f->data.bytes = g_bytes_new (r->p, r->left);
  }
  r->p += r->left;
  r->left = 0;
  return TRUE;
}

static gboolean
parse_fixed (Reader * r, MeshWireFrame * f, GError ** error)
{
  gboolean ok = FALSE;

  switch (f->type) {
    case MESH_WIRE_TYPE_REQUEST:
      ok = get_u32 (r, &f->request.request_id) && get_u64 (r, &f->request.key)
          && get_u64 (r, &f->request.offset)
          && get_u64 (r, &f->request.length)
          && get_u32 (r, &f->request.budget_ms);
      break;
    case MESH_WIRE_TYPE_END:
      ok = get_u32 (r, &f->end.request_id) && get_u64 (r, &f->end.total_size);
      break;
    case MESH_WIRE_TYPE_CANCEL:
      ok = get_u32 (r, &f->cancel.request_id);
      break;
    case MESH_WIRE_TYPE_ABSENT:
      ok = get_u32 (r, &f->absent.request_id)
          && get_u8 (r, &f->absent.reason);
      break;
    case MESH_WIRE_TYPE_PING:
    case MESH_WIRE_TYPE_PONG:
      ok = get_u64 (r, &f->ping.opaque);
      break;
    default:
      g_assert_not_reached ();
  }
  return ok ? TRUE : truncated (error);
}

static gboolean
parse_body (Reader * r, GBytes * owner, MeshWireFrame * f, GError ** error)
{
  switch (f->type) {
    case MESH_WIRE_TYPE_HELLO:
      return parse_hello (r, f, error);
    case MESH_WIRE_TYPE_HAVE:
      return parse_have (r, f, error);
    case MESH_WIRE_TYPE_FETCHING:
    case MESH_WIRE_TYPE_LOST:
      return parse_keys (r, f, error);
    case MESH_WIRE_TYPE_DATA:
      return parse_data (r, owner, f, error);
    case MESH_WIRE_TYPE_ERROR:
      if (!get_u16 (r, &f->error.code))
        return truncated (error);
      return get_string (r, "error message", 0, MESH_WIRE_MAX_ERROR_MESSAGE,
          &f->error.message, error);
    default:
      return parse_fixed (r, f, error);
  }
}

/* @body: the type byte and the payload, @len bytes, type known. */
static gboolean
parse_frame (const guint8 * body, gsize len, GBytes * owner,
    MeshWireFrame * f, GError ** error)
{
  Reader r = { body + 1, len - 1 };
  GError *err = NULL;

  memset (f, 0, sizeof (*f));
  f->type = body[0];
  if (parse_body (&r, owner, f, &err) && r.left != 0)
    g_set_error (&err, MESH_WIRE_ERROR, MESH_WIRE_ERROR_MALFORMED,
        "%" G_GSIZE_FORMAT " trailing bytes", r.left);
  if (!err)
    check_frame (f, &err);

  if (err) {
    g_propagate_prefixed_error (error, err, "%s frame: ",
        mesh_wire_type_name (f->type));
    mesh_wire_frame_clear (f);
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Decoder */

MeshWireDecoder *
mesh_wire_decoder_new (void)
{
  MeshWireDecoder *dec = g_new0 (MeshWireDecoder, 1);

  dec->buf = g_byte_array_new ();
  return dec;
}

void
mesh_wire_decoder_free (MeshWireDecoder * dec)
{
  if (!dec)
    return;
  g_byte_array_unref (dec->buf);
  g_clear_error (&dec->error);
  g_free (dec);
}

void
mesh_wire_decoder_feed (MeshWireDecoder * dec, const guint8 * data, gsize len)
{
  g_return_if_fail (dec != NULL);
  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (len <= G_MAXUINT - dec->buf->len);

  if (dec->error || len == 0)
    return;
  g_byte_array_append (dec->buf, data, len);
}

gsize
mesh_wire_decoder_get_buffered (MeshWireDecoder * dec)
{
  g_return_val_if_fail (dec != NULL, 0);

  return dec->buf->len - dec->pos;
}

static void
replace_buffer (MeshWireDecoder * dec)
{
  g_byte_array_unref (dec->buf);
  dec->buf = g_byte_array_new ();
  dec->pos = 0;
}

static MeshWireResult
fail (MeshWireDecoder * dec, GError * err, GError ** error)
{
  dec->error = err;
  replace_buffer (dec);
  g_propagate_error (error, g_error_copy (err));
  return MESH_WIRE_RESULT_ERROR;
}

static MeshWireResult
need_more (MeshWireDecoder * dec)
{
  if (dec->pos > 0) {
    g_byte_array_remove_range (dec->buf, 0, dec->pos);
    dec->pos = 0;
  }
  return MESH_WIRE_RESULT_NEED_MORE;
}

/* The frame at dec->pos, complete, @len bytes after its length prefix. */
static gboolean
take_frame (MeshWireDecoder * dec, gsize len, MeshWireFrame * out,
    GError ** error)
{
  gsize total = MESH_WIRE_LENGTH_SIZE + len;
  const guint8 *body = dec->buf->data + dec->pos + MESH_WIRE_LENGTH_SIZE;
  GBytes *owner;
  gboolean ok;

  /* A DATA frame that is all the buffer holds (the usual case when it came
   * in several reads): hand the buffer itself over and slice the chunk out
   * of it rather than copy it. */
  if (body[0] == MESH_WIRE_TYPE_DATA && dec->pos == 0 && dec->buf->len == total) {
    owner = g_byte_array_free_to_bytes (dec->buf);
    dec->buf = g_byte_array_new ();
    body = (const guint8 *) g_bytes_get_data (owner, NULL)
        + MESH_WIRE_LENGTH_SIZE;
    ok = parse_frame (body, len, owner, out, error);
    g_bytes_unref (owner);
    return ok;
  }

  ok = parse_frame (body, len, NULL, out, error);
  dec->pos += total;
  if (dec->pos == dec->buf->len) {
    if (dec->buf->len > KEEP_BUFFER_SIZE)
      replace_buffer (dec);
    else
      g_byte_array_set_size (dec->buf, 0);
    dec->pos = 0;
  }
  return ok;
}

MeshWireResult
mesh_wire_decoder_next (MeshWireDecoder * dec, MeshWireFrame * out,
    GError ** error)
{
  const guint8 *p;
  gsize avail;
  guint32 len;
  GError *err = NULL;

  g_return_val_if_fail (dec != NULL, MESH_WIRE_RESULT_ERROR);
  g_return_val_if_fail (out != NULL, MESH_WIRE_RESULT_ERROR);

  memset (out, 0, sizeof (*out));
  if (dec->error) {
    g_propagate_error (error, g_error_copy (dec->error));
    return MESH_WIRE_RESULT_ERROR;
  }

  avail = dec->buf->len - dec->pos;
  if (avail < MESH_WIRE_LENGTH_SIZE)
    return need_more (dec);

  /* refuse a bad header as soon as it is seen, not after buffering */
  p = dec->buf->data + dec->pos;
  len = (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8
      | p[3];
  if (len == 0)
    return fail (dec, g_error_new_literal (MESH_WIRE_ERROR,
            MESH_WIRE_ERROR_MALFORMED, "empty frame (no type)"), error);
  if (len > MESH_WIRE_MAX_FRAME)
    return fail (dec, g_error_new (MESH_WIRE_ERROR, MESH_WIRE_ERROR_TOO_LARGE,
            "frame of %u bytes (at most %u)", len, MESH_WIRE_MAX_FRAME), error);
  if (avail > MESH_WIRE_LENGTH_SIZE
      && !type_is_known (p[MESH_WIRE_LENGTH_SIZE]))
    return fail (dec, g_error_new (MESH_WIRE_ERROR,
            MESH_WIRE_ERROR_UNKNOWN_TYPE, "unknown frame type %u",
            p[MESH_WIRE_LENGTH_SIZE]), error);
  if (avail - MESH_WIRE_LENGTH_SIZE < len)
    return need_more (dec);

  if (!take_frame (dec, len, out, &err))
    return fail (dec, err, error);
  return MESH_WIRE_RESULT_FRAME;
}
