/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerStream: the GIOStream one client's WebSocket runs on in the
 * tracker, between libsoup and the client's socket, so that the tracker
 * holds a bounded amount for any client.
 *
 *  - Outgoing: libsoup keeps what it cannot write in a queue of its own
 *    that has no bound and no size it tells (pongs included). This stream
 *    takes every write at once, so libsoup's queue stays empty, and keeps
 *    what the socket does not take yet in a queue whose size it knows.
 *    Past @max_queued bytes the client is not reading: the write fails
 *    (G_IO_ERROR_NO_SPACE), the queue is dropped, and libsoup closes the
 *    connection (its "error", then "closed").
 *  - Incoming: libsoup gathers a message's fragments without a bound, and
 *    answers pings without telling. This stream counts the bytes read since
 *    the last complete message (mesh_tracker_stream_note_message()); past
 *    @max_unframed a read fails (G_IO_ERROR_MESSAGE_TOO_LARGE), and libsoup
 *    closes the connection.
 *  - Closing waits (up to a second or two) for the queue to drain, so that a
 *    last error message and the close frame still reach a client that
 *    reads.
 *
 * Threads: a stream belongs to the thread-default GMainContext at its
 * creation (the tracker's), where libsoup uses it and where it flushes its
 * queue; it is not thread-safe.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  MESH_TRACKER_STREAM_OK,
  MESH_TRACKER_STREAM_TOO_SLOW,         /* over max_queued */
  MESH_TRACKER_STREAM_FLOODING,         /* over max_unframed */
} MeshTrackerStreamFault;

#define MESH_TYPE_TRACKER_STREAM (mesh_tracker_stream_get_type ())
G_DECLARE_FINAL_TYPE (MeshTrackerStream, mesh_tracker_stream, MESH,
    TRACKER_STREAM, GIOStream)

/* Wraps @base (a reference is taken; its streams must be pollable). */
MeshTrackerStream *mesh_tracker_stream_new (GIOStream * base,
    gsize max_queued, gsize max_unframed);

/* A complete message was read: the count of unframed bytes starts anew. */
void mesh_tracker_stream_note_message (MeshTrackerStream * stream);

/* Bytes written that the socket has not taken yet. */
gsize mesh_tracker_stream_get_queued (MeshTrackerStream * stream);

/* Which bound, if any, made the stream fail. */
MeshTrackerStreamFault mesh_tracker_stream_get_fault (MeshTrackerStream *
    stream);

G_END_DECLS
