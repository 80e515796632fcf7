/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The peer-to-peer wire protocol, version 1 (docs/protocol.md, section 2):
 * framing, encoding and incremental decoding of the frames peers exchange
 * over reliable byte streams (QUIC streams, mesh-quic-link.h).
 *
 * Pure: bytes in, frames out; no I/O, no global state, no clock. A decoder
 * has one owner and takes no lock (not thread-safe); the encoders are
 * reentrant. The codec checks that every frame is well formed; what frames
 * mean (HELLO first and once, swarm and peer checks, request bookkeeping) is
 * the caller's business.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MESH_WIRE_VERSION 2
#define MESH_WIRE_MAGIC "MESH"

/* Bytes of the length prefix in front of every frame. */
#define MESH_WIRE_LENGTH_SIZE 4
/* Most bytes of a DATA frame's chunk. */
#define MESH_WIRE_MAX_CHUNK (64 * 1024)
/* Largest length prefix (type + payload) a frame may carry. */
#define MESH_WIRE_MAX_FRAME (MESH_WIRE_MAX_CHUNK + 32)
/* Most keys (or entries) in a HAVE, FETCHING or LOST frame. */
#define MESH_WIRE_MAX_KEYS 512
/* Most bytes (UTF-8) of the strings. */
#define MESH_WIRE_MAX_SWARM_ID 256
#define MESH_WIRE_MAX_PEER_ID 64
#define MESH_WIRE_MAX_ERROR_MESSAGE 1024

typedef enum {
  MESH_WIRE_TYPE_HELLO = 1,
  MESH_WIRE_TYPE_HAVE = 2,
  MESH_WIRE_TYPE_FETCHING = 3,
  MESH_WIRE_TYPE_LOST = 4,
  MESH_WIRE_TYPE_REQUEST = 5,
  MESH_WIRE_TYPE_DATA = 6,
  MESH_WIRE_TYPE_END = 7,
  MESH_WIRE_TYPE_CANCEL = 8,
  MESH_WIRE_TYPE_ABSENT = 9,
  MESH_WIRE_TYPE_ERROR = 10,
  MESH_WIRE_TYPE_PING = 11,
  MESH_WIRE_TYPE_PONG = 12,
} MeshWireType;

/* HELLO flags; bits not defined here are sent as 0 and ignored. */
typedef enum {
  MESH_WIRE_HELLO_UPLOAD = 1 << 0,      /* the sender serves REQUESTs */
} MeshWireHelloFlags;

/* Why an ABSENT; receivers treat unknown values like NOT_HELD. */
typedef enum {
  MESH_WIRE_ABSENT_NOT_HELD = 0,
  MESH_WIRE_ABSENT_UPLOAD_DISABLED = 1,
  MESH_WIRE_ABSENT_BUSY = 2,    /* rate-limited, too many uploads */
  MESH_WIRE_ABSENT_BAD_RANGE = 3,       /* offset at or after the end */
} MeshWireAbsentReason;

/* Codes of ERROR frames (informational: the connection closes anyway). */
typedef enum {
  MESH_WIRE_CLOSE_UNSPECIFIED = 0,
  MESH_WIRE_CLOSE_PROTOCOL = 1, /* a frame we could not decode */
  MESH_WIRE_CLOSE_VERSION = 2,
  MESH_WIRE_CLOSE_WRONG_SWARM = 3,
  MESH_WIRE_CLOSE_DUPLICATE_PEER = 4,
  MESH_WIRE_CLOSE_BUSY = 5,     /* too many peers */
  MESH_WIRE_CLOSE_GOING_AWAY = 6,
  MESH_WIRE_CLOSE_TIMEOUT = 7,
} MeshWireCloseCode;

#define MESH_WIRE_ERROR (mesh_wire_error_quark ())
GQuark mesh_wire_error_quark (void);

/* Decoding errors: all of them mean the peer must be disconnected. */
typedef enum {
  MESH_WIRE_ERROR_TOO_LARGE,    /* length prefix above MESH_WIRE_MAX_FRAME */
  MESH_WIRE_ERROR_UNKNOWN_TYPE,
  MESH_WIRE_ERROR_MALFORMED,    /* inconsistent lengths, counts or ranges,
                                 * bad UTF-8, trailing bytes */
  MESH_WIRE_ERROR_BAD_MAGIC,    /* HELLO not starting with "MESH" */
  MESH_WIRE_ERROR_UNSUPPORTED_VERSION,  /* HELLO of another version */
} MeshWireError;

typedef struct
{
  guint64 key;
  guint32 size;                 /* bytes of the complete segment */
} MeshWireHaveEntry;

/* One frame. Decoded frames own what the pointers point to (free with
 * mesh_wire_frame_clear()); frames given to mesh_wire_encode() are only
 * read. */
typedef struct
{
  MeshWireType type;
  union
  {
    struct
    {
      guint8 version;           /* decoded: always MESH_WIRE_VERSION;
                                 * the encoder ignores it */
      guint8 flags;             /* MeshWireHelloFlags, unknown bits kept */
      gchar *swarm_id;          /* 1..MESH_WIRE_MAX_SWARM_ID bytes */
      gchar *peer_id;           /* 1..MESH_WIRE_MAX_PEER_ID bytes */
    } hello;
    struct
    {
      guint n_entries;          /* 0..MESH_WIRE_MAX_KEYS */
      MeshWireHaveEntry *entries;
    } have;
    struct
    {
      guint n_keys;             /* 0..MESH_WIRE_MAX_KEYS */
      guint64 *keys;
    } keys;                     /* FETCHING and LOST */
    struct
    {
      guint32 request_id;
      guint64 key;
      guint64 offset;
      guint64 length;           /* 0: to the end of the segment */
      guint32 budget_ms;        /* how long the requester can wait for the
                                 * last byte; 0 = no deadline */
    } request;
    struct
    {
      guint32 request_id;
      guint64 offset;
      GBytes *bytes;            /* 1..MESH_WIRE_MAX_CHUNK bytes */
    } data;
    struct
    {
      guint32 request_id;
      guint64 total_size;
    } end;
    struct
    {
      guint32 request_id;
    } cancel;
    struct
    {
      guint32 request_id;
      guint8 reason;            /* MeshWireAbsentReason */
    } absent;
    struct
    {
      guint16 code;             /* MeshWireCloseCode */
      gchar *message;           /* 0..MESH_WIRE_MAX_ERROR_MESSAGE bytes;
                                 * the encoder takes NULL as "" */
    } error;
    struct
    {
      guint64 opaque;
    } ping;                     /* PING and PONG */
  };
} MeshWireFrame;

typedef enum {
  MESH_WIRE_RESULT_FRAME,
  MESH_WIRE_RESULT_NEED_MORE,
  MESH_WIRE_RESULT_ERROR,
} MeshWireResult;

typedef struct _MeshWireDecoder MeshWireDecoder;

/* The segment key: the first 8 bytes, big endian, of the SHA-256 of the
 * segment identity string. */
guint64 mesh_wire_segment_key (const gchar * segment_id);

const gchar *mesh_wire_type_name (MeshWireType type);

/* Frees what a decoded frame owns and zeroes it. */
void mesh_wire_frame_clear (MeshWireFrame * frame);

/* The frame with its length prefix, ready to write. An invalid frame (a
 * bound exceeded, an empty id, a string not UTF-8, a range past 2^64) is a
 * programming error: critical warning and NULL. An ERROR message is never
 * refused: invalid UTF-8 is replaced and a long one is cut at a character
 * boundary. */
GBytes *mesh_wire_encode (const MeshWireFrame * frame);

GBytes *mesh_wire_encode_hello (guint8 flags, const gchar * swarm_id,
    const gchar * peer_id);
GBytes *mesh_wire_encode_have (const MeshWireHaveEntry * entries,
    guint n_entries);
GBytes *mesh_wire_encode_fetching (const guint64 * keys, guint n_keys);
GBytes *mesh_wire_encode_lost (const guint64 * keys, guint n_keys);
GBytes *mesh_wire_encode_request (guint32 request_id, guint64 key,
    guint64 offset, guint64 length, guint32 budget_ms);
GBytes *mesh_wire_encode_data (guint32 request_id, guint64 offset,
    GBytes * bytes);
GBytes *mesh_wire_encode_end (guint32 request_id, guint64 total_size);
GBytes *mesh_wire_encode_cancel (guint32 request_id);
GBytes *mesh_wire_encode_absent (guint32 request_id,
    MeshWireAbsentReason reason);
GBytes *mesh_wire_encode_error (guint16 code, const gchar * message);
GBytes *mesh_wire_encode_ping (guint64 opaque);
GBytes *mesh_wire_encode_pong (guint64 opaque);

MeshWireDecoder *mesh_wire_decoder_new (void);
void mesh_wire_decoder_free (MeshWireDecoder * dec);

/* Appends received bytes (copied). Ignored once the decoder is in error. */
void mesh_wire_decoder_feed (MeshWireDecoder * dec, const guint8 * data,
    gsize len);

/* The next complete frame into @out (overwritten: clear a previous frame
 * first), or NEED_MORE, or ERROR with @error set. After an ERROR every call
 * returns ERROR again. Call until it stops returning FRAME: several frames
 * may be buffered. */
MeshWireResult mesh_wire_decoder_next (MeshWireDecoder * dec,
    MeshWireFrame * out, GError ** error);

/* Bytes fed and not yet returned as frames (0 once in error). Non-zero at the
 * end of the stream means the peer sent a truncated frame. After next()
 * returned NEED_MORE this is below MESH_WIRE_LENGTH_SIZE +
 * MESH_WIRE_MAX_FRAME. */
gsize mesh_wire_decoder_get_buffered (MeshWireDecoder * dec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireDecoder, mesh_wire_decoder_free);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MeshWireFrame, mesh_wire_frame_clear);

G_END_DECLS
