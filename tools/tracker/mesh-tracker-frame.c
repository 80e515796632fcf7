/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * WebSocket frame codec (see mesh-tracker-frame.h).
 *
 * Threads: none; no state.
 */

#include "mesh-tracker-frame.h"

#include <string.h>

#define FIN_BIT 0x80
#define RSV_BITS 0x70
#define OPCODE_BITS 0x0F
#define MASK_BIT 0x80
#define LENGTH_BITS 0x7F
#define LENGTH_16 126
#define LENGTH_64 127
#define MAX_CONTROL_PAYLOAD 125

static gboolean
opcode_is_known (guint opcode)
{
  return opcode <= MESH_TRACKER_FRAME_BINARY ||
      (opcode >= MESH_TRACKER_FRAME_CLOSE && opcode <= MESH_TRACKER_FRAME_PONG);
}

static gboolean
opcode_is_control (guint opcode)
{
  return opcode >= MESH_TRACKER_FRAME_CLOSE;
}

static guint64
read_big_endian (const guint8 * data, gsize bytes)
{
  guint64 value = 0;
  gsize i;

  for (i = 0; i < bytes; i++)
    value = value << 8 | data[i];
  return value;
}

MeshTrackerFrameResult
mesh_tracker_frame_parse_header (const guint8 * data, gsize size,
    guint64 max_payload, MeshTrackerFrameHeader * header)
{
  guint opcode, length;
  gsize extended, needed;

  if (size < 2)
    return MESH_TRACKER_FRAME_NEED_MORE;
  opcode = data[0] & OPCODE_BITS;
  length = data[1] & LENGTH_BITS;
  if ((data[0] & RSV_BITS) || !opcode_is_known (opcode)
      || !(data[1] & MASK_BIT))
    return MESH_TRACKER_FRAME_PROTOCOL_ERROR;
  if (opcode_is_control (opcode) && (!(data[0] & FIN_BIT)
          || length > MAX_CONTROL_PAYLOAD))
    return MESH_TRACKER_FRAME_PROTOCOL_ERROR;

  extended = length == LENGTH_16 ? 2 : length == LENGTH_64 ? 8 : 0;
  needed = 2 + extended + 4;
  if (size < needed)
    return MESH_TRACKER_FRAME_NEED_MORE;

  header->fin = (data[0] & FIN_BIT) != 0;
  header->opcode = opcode;
  header->payload_length = extended ? read_big_endian (data + 2, extended) :
      length;
  /* the most significant bit of a 64-bit length must be 0 */
  if (header->payload_length >> 63)
    return MESH_TRACKER_FRAME_PROTOCOL_ERROR;
  if (header->payload_length > max_payload)
    return MESH_TRACKER_FRAME_TOO_BIG;
  memcpy (header->mask, data + 2 + extended, 4);
  header->header_length = needed;
  return MESH_TRACKER_FRAME_OK;
}

void
mesh_tracker_frame_unmask (guint8 * payload, gsize size, const guint8 mask[4])
{
  gsize i;

  for (i = 0; i < size; i++)
    payload[i] ^= mask[i & 3];
}

gsize
mesh_tracker_frame_write_header (guint8
    out[MESH_TRACKER_FRAME_MAX_SERVER_HEADER], MeshTrackerFrameOpcode opcode,
    guint64 payload_length)
{
  gsize extended, i;

  out[0] = FIN_BIT | opcode;
  if (payload_length < LENGTH_16) {
    out[1] = payload_length;
    return 2;
  }
  extended = payload_length <= G_MAXUINT16 ? 2 : 8;
  out[1] = extended == 2 ? LENGTH_16 : LENGTH_64;
  for (i = 0; i < extended; i++)
    out[2 + i] = payload_length >> (8 * (extended - 1 - i));
  return 2 + extended;
}

gboolean
mesh_tracker_frame_close_code_is_valid (guint code)
{
  if (code >= 3000 && code <= 4999)
    return TRUE;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011);
}

gsize
mesh_tracker_frame_close_payload (guint8 out[125], guint code,
    const gchar * reason)
{
  gsize size = reason ? strlen (reason) : 0;
  const gchar *end;

  out[0] = code >> 8;
  out[1] = code & 0xFF;
  if (size > MESH_TRACKER_FRAME_MAX_CLOSE_REASON) {
    /* the reason is UTF-8 text: do not cut a character in two */
    end = g_utf8_find_prev_char (reason,
        reason + MESH_TRACKER_FRAME_MAX_CLOSE_REASON + 1);
    size = end ? (gsize) (end - reason) : 0;
  }
  memcpy (out + 2, reason ? reason : "", size);
  return 2 + size;
}
