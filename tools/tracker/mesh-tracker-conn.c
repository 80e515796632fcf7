/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerConn (see mesh-tracker-conn.h): a GSource of its own type
 * that watches the client's descriptor, reads frames with the codec of
 * mesh-tracker-frame.c and writes its answers straight to the socket.
 *
 * Threads: the thread that owns the connection's context does everything
 * here; the read buffer is one per thread (GPrivate). No lock.
 */

#include "mesh-tracker-conn.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* what one read asks of the socket, at least */
#define READ_SIZE (64 * 1024)
/* read_frames() found no complete message */
#define NO_MESSAGE G_MAXSIZE

typedef enum
{
  STATE_OPEN,
  STATE_CLOSING,                /* our close frame is queued or sent */
  STATE_CLOSED,
} State;

struct _MeshTrackerConn
{
  GSource source;
  gint fd;
  gpointer tag;                 /* fd's in the source */
  State state;
  MeshTrackerConnFault fault;
  gushort close_code;           /* the client's */
  gboolean end_when_written;    /* a close handshake is complete */

  gsize max_queued;
  gsize max_message;
  gsize max_unframed;
  const MeshTrackerConnCallbacks *callbacks;
  gpointer user_data;

  /* incoming: NULL and 0 unless a frame or a message is half there */
  guint8 *partial;              /* the start of a frame not all read */
  gsize partial_size;
  gsize partial_capacity;
  GByteArray *fragments;        /* a message's payload so far */
  gboolean fragments_text;
  gsize unframed;               /* read since the last complete message */
  gboolean delivered;           /* a message, in the frame just read */

  /* outgoing: NULL unless the socket left some */
  GByteArray *queue;
  gsize queue_head;             /* bytes of queue written */
};

static void
scratch_free (gpointer data)
{
  g_byte_array_unref (data);
}

static GPrivate scratch_key = G_PRIVATE_INIT (scratch_free);

/* The thread's read buffer, with room for @size bytes. */
static guint8 *
scratch_get (gsize size)
{
  GByteArray *scratch = g_private_get (&scratch_key);

  if (!scratch) {
    scratch = g_byte_array_sized_new (size);
    g_private_set (&scratch_key, scratch);
  }
  if (scratch->len < size)
    g_byte_array_set_size (scratch, size);
  return scratch->data;
}

/* ------------------------------------------------------------------------ */
/* The end                                                                  */

static void
conn_release (MeshTrackerConn * conn)
{
  if (conn->fd >= 0) {
    g_source_remove_unix_fd (&conn->source, conn->tag);
    close (conn->fd);
    conn->fd = -1;
  }
  g_clear_pointer (&conn->partial, g_free);
  conn->partial_size = conn->partial_capacity = 0;
  g_clear_pointer (&conn->fragments, g_byte_array_unref);
  g_clear_pointer (&conn->queue, g_byte_array_unref);
  conn->queue_head = 0;
}

/* Closed for good: the socket, what was held, and the source. */
static void
conn_shut (MeshTrackerConn * conn)
{
  conn->state = STATE_CLOSED;
  conn_release (conn);
  g_source_destroy (&conn->source);
}

static void
conn_end (MeshTrackerConn * conn)
{
  if (conn->state == STATE_CLOSED)
    return;
  conn_shut (conn);
  conn->callbacks->closed (conn, conn->user_data);
}

static void
conn_fail (MeshTrackerConn * conn, MeshTrackerConnFault fault)
{
  if (conn->fault == MESH_TRACKER_CONN_OK)
    conn->fault = fault;
  conn_end (conn);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

static void
watch_writable (MeshTrackerConn * conn, gboolean writable)
{
  g_source_modify_unix_fd (&conn->source, conn->tag, G_IO_IN |
      (writable ? G_IO_OUT : 0));
}

static gsize
queued (MeshTrackerConn * conn)
{
  return conn->queue ? conn->queue->len - conn->queue_head : 0;
}

/* Keeps what the socket did not take of @iov (@written bytes were). */
static void
enqueue (MeshTrackerConn * conn, const struct iovec *iov, guint n_iov,
    gsize written)
{
  guint i;

  if (!conn->queue) {
    conn->queue = g_byte_array_new ();
    watch_writable (conn, TRUE);
  }
  for (i = 0; i < n_iov; i++) {
    gsize skip = MIN (written, iov[i].iov_len);

    g_byte_array_append (conn->queue, (const guint8 *) iov[i].iov_base + skip,
        iov[i].iov_len - skip);
    written -= skip;
  }
  if (queued (conn) > conn->max_queued)
    conn_fail (conn, MESH_TRACKER_CONN_TOO_SLOW);
}

static gboolean
write_failed (gssize written)
{
  return written < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
      errno != EINTR;
}

/* One frame: at once when nothing waits before it, else after the rest. */
static void
send_frame (MeshTrackerConn * conn, MeshTrackerFrameOpcode opcode,
    const void *payload, gsize size)
{
  guint8 header[MESH_TRACKER_FRAME_MAX_SERVER_HEADER];
  struct iovec iov[2];
  struct msghdr msg = { 0, };
  gssize written = 0;

  iov[0].iov_base = header;
  iov[0].iov_len = mesh_tracker_frame_write_header (header, opcode, size);
  iov[1].iov_base = (void *) payload;
  iov[1].iov_len = size;
  if (!conn->queue) {
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    written = sendmsg (conn->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (write_failed (written)) {
      conn_end (conn);
      return;
    }
    if ((gsize) MAX (written, 0) == iov[0].iov_len + size)
      return;
  }
  enqueue (conn, iov, 2, MAX (written, 0));
}

static void
flush_queue (MeshTrackerConn * conn)
{
  gssize written = send (conn->fd, conn->queue->data + conn->queue_head,
      queued (conn), MSG_NOSIGNAL | MSG_DONTWAIT);

  if (write_failed (written)) {
    conn_end (conn);
    return;
  }
  conn->queue_head += MAX (written, 0);
  if (queued (conn) > 0) {
    /* keep the array from growing at its head */
    if (conn->queue_head > conn->queue->len / 2) {
      g_byte_array_remove_range (conn->queue, 0, conn->queue_head);
      conn->queue_head = 0;
    }
    return;
  }
  g_clear_pointer (&conn->queue, g_byte_array_unref);
  conn->queue_head = 0;
  watch_writable (conn, FALSE);
  if (conn->end_when_written)
    conn_end (conn);
}

/* After a close frame went out in answer, or for an error: nothing more
 * to wait for once it is written. */
static void
end_once_written (MeshTrackerConn * conn)
{
  conn->end_when_written = TRUE;
  if (!conn->queue)
    conn_end (conn);
}

static void
send_close (MeshTrackerConn * conn, guint code, const gchar * reason)
{
  guint8 payload[125];
  gsize size = 0;

  if (code != MESH_TRACKER_CLOSE_NO_STATUS)
    size = mesh_tracker_frame_close_payload (payload, code, reason);
  conn->state = STATE_CLOSING;
  send_frame (conn, MESH_TRACKER_FRAME_CLOSE, payload, size);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

static void
protocol_error (MeshTrackerConn * conn, guint code)
{
  conn->fault = code == MESH_TRACKER_CLOSE_TOO_BIG ?
      MESH_TRACKER_CONN_FLOODING : MESH_TRACKER_CONN_PROTOCOL_ERROR;
  if (conn->state == STATE_OPEN)
    send_close (conn, code, NULL);
  if (conn->state != STATE_CLOSED)
    end_once_written (conn);
}

/* RFC 6455 text is UTF-8, where U+0000 is a character like any other
 * (g_utf8_validate_len() refuses it; no longer sequence holds a 0 byte). */
static gboolean
utf8_is_valid (const guint8 * data, gsize size)
{
  const guint8 *end;

  if (size == 0)
    return TRUE;                /* data may be NULL */
  end = data + size;
  while (data < end) {
    const guint8 *nul = memchr (data, 0, end - data);
    gsize piece = (nul ? nul : end) - data;

    if (!g_utf8_validate_len ((const gchar *) data, piece, NULL))
      return FALSE;
    data += piece + (nul ? 1 : 0);
  }
  return TRUE;
}

static void
deliver (MeshTrackerConn * conn, gboolean text, const guint8 * data, gsize size)
{
  if (text && !utf8_is_valid (data, size)) {
    protocol_error (conn, MESH_TRACKER_CLOSE_BAD_DATA);
    return;
  }
  conn->delivered = TRUE;
  if (conn->state == STATE_OPEN)
    conn->callbacks->message (conn, text, (const gchar *) data, size,
        conn->user_data);
}

static void
on_close_frame (MeshTrackerConn * conn, const guint8 * payload, gsize size)
{
  guint code = size >= 2 ? (guint) payload[0] << 8 | payload[1] :
      MESH_TRACKER_CLOSE_NO_STATUS;

  if (size == 1 || (size >= 2 && !mesh_tracker_frame_close_code_is_valid
          (code))) {
    protocol_error (conn, MESH_TRACKER_CLOSE_PROTOCOL_ERROR);
    return;
  }
  if (size > 2 && !utf8_is_valid (payload + 2, size - 2)) {
    protocol_error (conn, MESH_TRACKER_CLOSE_BAD_DATA);
    return;
  }
  conn->close_code = code;
  /* ours went first (we are closing) or this is the answer to it */
  if (conn->state == STATE_OPEN)
    send_close (conn, code, NULL);
  if (conn->state != STATE_CLOSED)
    end_once_written (conn);
}

static void
on_data_frame (MeshTrackerConn * conn, const MeshTrackerFrameHeader * header,
    const guint8 * payload)
{
  gsize size = header->payload_length;

  if (header->opcode == MESH_TRACKER_FRAME_CONTINUATION) {
    if (!conn->fragments) {
      protocol_error (conn, MESH_TRACKER_CLOSE_PROTOCOL_ERROR);
      return;
    }
    if (conn->fragments->len + size > conn->max_message) {
      protocol_error (conn, MESH_TRACKER_CLOSE_TOO_BIG);
      return;
    }
    g_byte_array_append (conn->fragments, payload, size);
    if (header->fin) {
      GByteArray *message = g_steal_pointer (&conn->fragments);

      deliver (conn, conn->fragments_text, message->data, message->len);
      g_byte_array_unref (message);
    }
    return;
  }
  if (conn->fragments) {
    /* a new message before the last one ended */
    protocol_error (conn, MESH_TRACKER_CLOSE_PROTOCOL_ERROR);
    return;
  }
  if (header->fin) {
    deliver (conn, header->opcode == MESH_TRACKER_FRAME_TEXT, payload, size);
    return;
  }
  conn->fragments = g_byte_array_sized_new (size);
  conn->fragments_text = header->opcode == MESH_TRACKER_FRAME_TEXT;
  g_byte_array_append (conn->fragments, payload, size);
}

static void
on_frame (MeshTrackerConn * conn, const MeshTrackerFrameHeader * header,
    const guint8 * payload)
{
  switch (header->opcode) {
    case MESH_TRACKER_FRAME_PING:
      if (conn->state == STATE_OPEN)
        send_frame (conn, MESH_TRACKER_FRAME_PONG, payload,
            header->payload_length);
      break;
    case MESH_TRACKER_FRAME_PONG:
      break;
    case MESH_TRACKER_FRAME_CLOSE:
      on_close_frame (conn, payload, header->payload_length);
      break;
    default:
      on_data_frame (conn, header, payload);
      break;
  }
}

/* Handles the complete frames of @data; returns how many bytes they took
 * (the rest is the start of a frame), and in @after_message where the
 * last frame that completed a message ended (NO_MESSAGE: none did). */
static gsize
read_frames (MeshTrackerConn * conn, guint8 * data, gsize size,
    gsize * after_message)
{
  gsize done = 0;

  *after_message = NO_MESSAGE;
  while (conn->state != STATE_CLOSED && !conn->end_when_written) {
    MeshTrackerFrameHeader header;
    MeshTrackerFrameResult result;
    guint8 *payload;

    result = mesh_tracker_frame_parse_header (data + done, size - done,
        conn->max_message, &header);
    if (result == MESH_TRACKER_FRAME_NEED_MORE)
      break;
    if (result != MESH_TRACKER_FRAME_OK) {
      protocol_error (conn, result == MESH_TRACKER_FRAME_TOO_BIG ?
          MESH_TRACKER_CLOSE_TOO_BIG : MESH_TRACKER_CLOSE_PROTOCOL_ERROR);
      break;
    }
    if (size - done < header.header_length + header.payload_length)
      break;
    payload = data + done + header.header_length;
    mesh_tracker_frame_unmask (payload, header.payload_length, header.mask);
    done += header.header_length + header.payload_length;
    conn->delivered = FALSE;
    on_frame (conn, &header, payload);
    if (conn->delivered)
      *after_message = done;
  }
  return done;
}

/* FALSE when there is nothing to read now, or the connection ended. */
static gboolean
received (MeshTrackerConn * conn, gssize got)
{
  if (got > 0)
    return TRUE;
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return FALSE;
  conn_end (conn);
  return FALSE;
}

/* Counts what came since the end of the last complete message (@size
 * bytes held, of which @got new, the last message ending at
 * @after_message); past the bound the client only sends what makes no
 * message (pings, a message that never ends), and is cut off. */
static void
count_unframed (MeshTrackerConn * conn, gsize got, gsize size,
    gsize after_message)
{
  if (conn->state == STATE_CLOSED)
    return;
  if (after_message != NO_MESSAGE)
    conn->unframed = size - after_message;
  else
    conn->unframed += got;
  if (conn->unframed > conn->max_unframed)
    conn_fail (conn, MESH_TRACKER_CONN_FLOODING);
}

/* The length of the frame begun in conn->partial; 0 while its header is
 * not all there. */
static gsize
partial_frame_length (MeshTrackerConn * conn)
{
  MeshTrackerFrameHeader header;

  if (mesh_tracker_frame_parse_header (conn->partial, conn->partial_size,
          conn->max_message, &header) != MESH_TRACKER_FRAME_OK)
    return 0;
  return header.header_length + header.payload_length;
}

/* The rest of a frame whose header is here, read into its own buffer: a
 * frame that comes a byte at a time costs no more copying than one that
 * comes whole. The buffer grows by READ_SIZE at most, so that what a
 * client makes the tracker hold follows what it sent, not what its header
 * announced. */
static void
read_rest_of_frame (MeshTrackerConn * conn, gsize length)
{
  gsize after_message = NO_MESSAGE;
  guint8 *frame;
  gssize got;

  if (conn->partial_capacity == conn->partial_size) {
    conn->partial_capacity = MIN (length, conn->partial_size + READ_SIZE);
    conn->partial = g_realloc (conn->partial, conn->partial_capacity);
  }
  got = recv (conn->fd, conn->partial + conn->partial_size,
      conn->partial_capacity - conn->partial_size, MSG_DONTWAIT);
  if (!received (conn, got))
    return;
  conn->partial_size += got;
  if (conn->partial_size == length) {
    /* the connection may end while the frame is handled */
    frame = g_steal_pointer (&conn->partial);
    conn->partial_size = conn->partial_capacity = 0;
    read_frames (conn, frame, length, &after_message);
    g_free (frame);
  }
  count_unframed (conn, got, length, after_message);
}

/* What was left of a frame's header, if any, then what the socket has, in
 * the thread's buffer; what is left of a frame is kept. */
static void
read_into_scratch (MeshTrackerConn * conn)
{
  guint8 *data = scratch_get (conn->partial_size + READ_SIZE);
  gsize size, done, after_message;
  gssize got;

  if (conn->partial)
    memcpy (data, conn->partial, conn->partial_size);
  got = recv (conn->fd, data + conn->partial_size, READ_SIZE, MSG_DONTWAIT);
  if (!received (conn, got))
    return;
  size = conn->partial_size + got;
  g_clear_pointer (&conn->partial, g_free);
  conn->partial_size = conn->partial_capacity = 0;
  done = read_frames (conn, data, size, &after_message);
  count_unframed (conn, got, size, after_message);
  if (conn->state != STATE_CLOSED && !conn->end_when_written && done < size) {
    conn->partial = g_memdup2 (data + done, size - done);
    conn->partial_size = conn->partial_capacity = size - done;
  }
}

static void
read_socket (MeshTrackerConn * conn)
{
  gsize length = conn->partial ? partial_frame_length (conn) : 0;

  if (length > 0)
    read_rest_of_frame (conn, length);
  else
    read_into_scratch (conn);
}

static gboolean
conn_dispatch (GSource * source, GSourceFunc callback, gpointer data)
{
  MeshTrackerConn *conn = (MeshTrackerConn *) source;
  GIOCondition ready = g_source_query_unix_fd (source, conn->tag);

  if ((ready & G_IO_OUT) && conn->queue)
    flush_queue (conn);
  if (conn->state != STATE_CLOSED && (ready & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    read_socket (conn);
  return G_SOURCE_CONTINUE;
}

static void
conn_finalize (GSource * source)
{
  conn_release ((MeshTrackerConn *) source);
}

static GSourceFuncs conn_funcs = {
  .dispatch = conn_dispatch,
  .finalize = conn_finalize,
};

/* ------------------------------------------------------------------------ */
/* API                                                                      */

MeshTrackerConn *
mesh_tracker_conn_new (gint fd, GMainContext * context, gsize max_queued,
    gsize max_message, gsize max_unframed,
    const MeshTrackerConnCallbacks * callbacks, gpointer user_data)
{
  MeshTrackerConn *conn = (MeshTrackerConn *) g_source_new (&conn_funcs,
      sizeof (MeshTrackerConn));

  g_source_set_static_name (&conn->source, "mesh-tracker-conn");
  /* GLib takes a source that may not recurse out of the poll for its
   * dispatch and puts it back after, and each time wakes the context (an
   * eventfd write, two a message); nothing here runs a loop inside it */
  g_source_set_can_recurse (&conn->source, TRUE);
  conn->fd = fd;
  conn->tag = g_source_add_unix_fd (&conn->source, fd, G_IO_IN);
  conn->max_queued = max_queued;
  conn->max_message = max_message;
  conn->max_unframed = max_unframed;
  conn->callbacks = callbacks;
  conn->user_data = user_data;
  g_source_attach (&conn->source, context);
  return conn;
}

void
mesh_tracker_conn_free (MeshTrackerConn * conn)
{
  conn_shut (conn);
  g_source_unref (&conn->source);
}

gboolean
mesh_tracker_conn_is_open (MeshTrackerConn * conn)
{
  return conn->state == STATE_OPEN;
}

void
mesh_tracker_conn_send_text (MeshTrackerConn * conn, const gchar * text,
    gsize size)
{
  if (conn->state == STATE_OPEN)
    send_frame (conn, MESH_TRACKER_FRAME_TEXT, text, size);
}

gsize
mesh_tracker_conn_get_queued (MeshTrackerConn * conn)
{
  return queued (conn);
}

void
mesh_tracker_conn_close (MeshTrackerConn * conn, gushort code,
    const gchar * reason)
{
  if (conn->state == STATE_OPEN)
    send_close (conn, code, reason);
}

void
mesh_tracker_conn_end (MeshTrackerConn * conn)
{
  conn_end (conn);
}

MeshTrackerConnFault
mesh_tracker_conn_get_fault (MeshTrackerConn * conn)
{
  return conn->fault;
}

const gchar *
mesh_tracker_conn_fault_describe (MeshTrackerConnFault fault)
{
  switch (fault) {
    case MESH_TRACKER_CONN_TOO_SLOW:
      return "it does not read what it is sent";
    case MESH_TRACKER_CONN_FLOODING:
      return "it sends more than a message may hold";
    case MESH_TRACKER_CONN_PROTOCOL_ERROR:
      return "it does not speak WebSocket";
    default:
      return "no fault";
  }
}

gushort
mesh_tracker_conn_get_close_code (MeshTrackerConn * conn)
{
  return conn->close_code;
}
