/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerConn: one client's WebSocket in the tracker, from the end of
 * its handshake (which libsoup serves) to its close, on the bare socket.
 *
 * Why not libsoup's SoupWebsocketConnection on the socket libsoup hands
 * over: a tracker holds a connection per viewer, and libsoup's costs some
 * 6.7 KiB each when idle (its read buffer, a dozen GObjects, their signal
 * closures and sources: docs/scaling.md), which puts 100,000 viewers far
 * over 500 MB. wslay (Debian's other WebSocket library) keeps 4 KiB
 * buffers inline in each context; libwebsockets brings its own server and
 * a GLib loop with a source per client, the walk our shard loop removed.
 * Here an idle connection is its GSource, a descriptor and a few fields:
 * a message is read into a buffer of the thread's, and only the rest of a
 * frame not yet all there, or a message in fragments, is kept.
 *
 * What it holds for a client is bounded:
 *  - outgoing: what the socket does not take is queued; past @max_queued
 *    bytes the client is not reading, and is cut off (fault TOO_SLOW);
 *  - incoming: a message (all its fragments) over @max_message bytes, or
 *    @max_unframed bytes read without a complete message (pings, frames
 *    that never end), cut it off (fault FLOODING);
 *  - a protocol error (RFC 6455: unmasked frame, bad opcode, invalid UTF-8
 *    in a text message...) sends a close frame with its code and ends the
 *    connection once that is written.
 * Pings are answered; pongs are ignored.
 *
 * Closing: mesh_tracker_conn_close() sends a close frame and waits for the
 * client's; the connection ends when it comes, at the client's end of the
 * stream, or at mesh_tracker_conn_end_close(), whichever is first. A close
 * frame from the client is answered and the connection ends once the
 * answer is written. However it ends, the closed callback runs once.
 *
 * Threads: a connection belongs to the thread that owns @context (a shard
 * of the tracker's loop), and is read there. mesh_tracker_conn_send_text()
 * may be called from any context of that thread (a message to this client
 * is sent from its sender's shard): it writes at once, and asks for the
 * socket's writability in @context only when something stays queued, so
 * the caller tells the loop (mesh_shard_loop_wake()). Not thread-safe.
 */
#pragma once

#include <glib.h>

#include "mesh-tracker-frame.h"

G_BEGIN_DECLS typedef struct _MeshTrackerConn MeshTrackerConn;

typedef enum
{
  MESH_TRACKER_CONN_OK,
  MESH_TRACKER_CONN_TOO_SLOW,   /* over max_queued */
  MESH_TRACKER_CONN_FLOODING,   /* over max_message or max_unframed */
  MESH_TRACKER_CONN_PROTOCOL_ERROR,     /* not RFC 6455 */
} MeshTrackerConnFault;

typedef struct
{
  /* A complete message: text (valid UTF-8) or binary. @data is the
   * connection's only until the callback returns. */
  void (*message) (MeshTrackerConn * conn, gboolean text,
      const gchar * data, gsize size, gpointer user_data);
  /* The connection ended: the socket is closed. Once, and never from
   * inside mesh_tracker_conn_free(). */
  void (*closed) (MeshTrackerConn * conn, gpointer user_data);
} MeshTrackerConnCallbacks;

/* Takes @fd (a connected, non-blocking stream socket, closed with the
 * connection) and reads it in @context. */
MeshTrackerConn *mesh_tracker_conn_new (gint fd, GMainContext * context,
    gsize max_queued, gsize max_message, gsize max_unframed,
    const MeshTrackerConnCallbacks * callbacks, gpointer user_data);
/* Closes the socket if it is still open, without the closed callback. */
void mesh_tracker_conn_free (MeshTrackerConn * conn);

/* Neither closing nor closed: messages may be sent. */
gboolean mesh_tracker_conn_is_open (MeshTrackerConn * conn);
void mesh_tracker_conn_send_text (MeshTrackerConn * conn, const gchar * text,
    gsize size);
/* Bytes the socket has not taken yet. */
gsize mesh_tracker_conn_get_queued (MeshTrackerConn * conn);

/* Sends a close frame with @code and @reason (cut to 123 bytes), then
 * waits for the client's. No-op unless open. */
void mesh_tracker_conn_close (MeshTrackerConn * conn, gushort code,
    const gchar * reason);
/* Stops waiting for the client: the connection ends now. */
void mesh_tracker_conn_end (MeshTrackerConn * conn);

MeshTrackerConnFault mesh_tracker_conn_get_fault (MeshTrackerConn * conn);
const gchar *mesh_tracker_conn_fault_describe (MeshTrackerConnFault fault);
/* The code of the client's close frame; 1005 if it had none, 0 if it sent
 * none. */
gushort mesh_tracker_conn_get_close_code (MeshTrackerConn * conn);

G_END_DECLS
