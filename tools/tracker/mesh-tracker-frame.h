/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * WebSocket frames (RFC 6455, section 5) as a server reads and writes
 * them: a pure codec, no I/O and no state between calls, so that the
 * tracker's connections (mesh-tracker-conn.c) hold nothing for a frame
 * they are not reading, and so that it can be fuzzed alone
 * (tests/fuzz/ws-frame-fuzz.c).
 *
 * Reading is strict where the RFC says a server must fail the connection:
 * a client's frames are masked, no extension is negotiated (so the RSV
 * bits are zero), opcodes are the six defined ones, and a control frame is
 * final and at most 125 bytes long. Sizes are bounded before any payload
 * is held.
 *
 * Threads: none of its own; every function is reentrant.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS typedef enum
{
  MESH_TRACKER_FRAME_CONTINUATION = 0x0,
  MESH_TRACKER_FRAME_TEXT = 0x1,
  MESH_TRACKER_FRAME_BINARY = 0x2,
  MESH_TRACKER_FRAME_CLOSE = 0x8,
  MESH_TRACKER_FRAME_PING = 0x9,
  MESH_TRACKER_FRAME_PONG = 0xA,
} MeshTrackerFrameOpcode;

/* close codes (RFC 6455, section 7.4.1) the connection itself sends */
#define MESH_TRACKER_CLOSE_NORMAL 1000
#define MESH_TRACKER_CLOSE_GOING_AWAY 1001
#define MESH_TRACKER_CLOSE_PROTOCOL_ERROR 1002
#define MESH_TRACKER_CLOSE_NO_STATUS 1005
#define MESH_TRACKER_CLOSE_BAD_DATA 1007
#define MESH_TRACKER_CLOSE_POLICY_VIOLATION 1008
#define MESH_TRACKER_CLOSE_TOO_BIG 1009

/* a server's header: 2 bytes, 2 more for 126-65535 bytes, 8 beyond */
#define MESH_TRACKER_FRAME_MAX_SERVER_HEADER 10
/* the reason a close frame may carry, after its 2-byte code */
#define MESH_TRACKER_FRAME_MAX_CLOSE_REASON 123

typedef struct
{
  gboolean fin;
  MeshTrackerFrameOpcode opcode;
  guint64 payload_length;
  guint8 mask[4];
  gsize header_length;          /* where the payload starts */
} MeshTrackerFrameHeader;

typedef enum
{
  MESH_TRACKER_FRAME_OK,
  MESH_TRACKER_FRAME_NEED_MORE, /* the header is not all there yet */
  MESH_TRACKER_FRAME_PROTOCOL_ERROR,    /* close with 1002 */
  MESH_TRACKER_FRAME_TOO_BIG,   /* payload over the caller's bound: 1009 */
} MeshTrackerFrameResult;

/* Reads a client's frame header from the first @size bytes of @data
 * (which may hold less than the header, or more than the frame). */
MeshTrackerFrameResult mesh_tracker_frame_parse_header (const guint8 * data,
    gsize size, guint64 max_payload, MeshTrackerFrameHeader * header);

/* Unmasks a whole payload of @size bytes in place. */
void mesh_tracker_frame_unmask (guint8 * payload, gsize size,
    const guint8 mask[4]);

/* Writes the header of a final, unmasked frame (a server's) to @out;
 * returns its length. */
gsize mesh_tracker_frame_write_header (guint8
    out[MESH_TRACKER_FRAME_MAX_SERVER_HEADER], MeshTrackerFrameOpcode opcode,
    guint64 payload_length);

/* A code a peer may send in a close frame (1005, 1006 and 1015 are for
 * reporting only; 1004 and most of 1000-2999 are reserved). */
gboolean mesh_tracker_frame_close_code_is_valid (guint code);

/* The payload of a close frame: @code, then as much of @reason as fits
 * (cut at a character boundary). Returns its length, at most 125. */
gsize mesh_tracker_frame_close_payload (guint8 out[125], guint code,
    const gchar * reason);

G_END_DECLS
