/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the tracker's WebSocket connection
 * (tools/tracker/mesh-tracker-conn.c) and its frame codec
 * (tools/tracker/mesh-tracker-frame.c): what any client may write to the
 * tracker after the handshake. See README.md in this directory.
 *
 * Threads: libFuzzer's one; a GMainContext per input.
 *
 * Input: byte 0 chooses the bounds (max_message 16 to 1024 bytes, so that
 * they are reached), byte 1 the size of the pieces (1 to 256 bytes) the
 * rest is written in, through a socketpair, with the connection reading
 * between pieces (frames split anywhere); then the writing end closes.
 * Beyond "no crash, no leak, no critical": every message is at most
 * max_message bytes and a text one is valid UTF-8; nothing is delivered
 * after the close; the closed callback runs exactly once (at the end of
 * the stream at the latest); what is held for a half-read frame stays under
 * the frame's bound.
 *
 * Built and run by run-fuzzers.sh, from the top of the tree, as these
 * lines say (README.md):
 *   fuzz-sources: tools/tracker/mesh-tracker-conn.c
 *   fuzz-sources: tools/tracker/mesh-tracker-frame.c
 *   fuzz-cflags: -Itools/tracker
 *   fuzz-packages: glib-2.0
 *   fuzz-options: -max_len=16384
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "mesh-tracker-conn.h"
#include "mesh-fuzz.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_default_handler (mesh_fuzz_log_handler, NULL);
  return 0;
}

typedef struct
{
  gsize max_message;
  guint closed;
  guint messages;
} Run;

/* UTF-8 with U+0000 allowed (g_utf8_validate_len() refuses it): a 0 byte
 * is U+0000 alone, so it may stand for any other one-byte character. */
static gboolean
text_is_utf8 (const gchar * data, gsize size)
{
  g_autofree gchar *copy = g_memdup2 (data, size);
  gsize i;

  for (i = 0; i < size; i++)
    if (copy[i] == 0)
      copy[i] = ' ';
  return g_utf8_validate_len (copy, size, NULL);
}

static void
on_message (MeshTrackerConn * conn, gboolean text, const gchar * data,
    gsize size, gpointer user_data)
{
  Run *run = user_data;

  check (run->closed == 0);
  check (mesh_tracker_conn_is_open (conn));
  check (size <= run->max_message);
  check (!text || text_is_utf8 (data, size));
  run->messages++;
  /* a client's message may be answered at once */
  if (size > 0 && data[0] == '!')
    mesh_tracker_conn_close (conn, MESH_TRACKER_CLOSE_NORMAL, "done");
  else if (text)
    mesh_tracker_conn_send_text (conn, data, size);
}

static void
on_closed (MeshTrackerConn * conn, gpointer user_data)
{
  Run *run = user_data;

  run->closed++;
}

static const MeshTrackerConnCallbacks callbacks = {
  .message = on_message,
  .closed = on_closed,
};

static void
run_until_idle (GMainContext * context)
{
  while (g_main_context_iteration (context, FALSE));
}

/* The header codec alone: a server's header for @length, masked as a
 * client would, reads back as the same frame. */
static void
check_header_round_trip (guint64 length)
{
  guint8 header[MESH_TRACKER_FRAME_MAX_SERVER_HEADER + 4] = { 0, };
  MeshTrackerFrameHeader parsed;
  gsize size = mesh_tracker_frame_write_header (header,
      MESH_TRACKER_FRAME_BINARY, length);

  header[1] |= 0x80;
  memcpy (header + size, "mask", 4);
  check (mesh_tracker_frame_parse_header (header, size + 4, G_MAXUINT64,
          &parsed) == MESH_TRACKER_FRAME_OK);
  check (parsed.payload_length == length && parsed.fin);
  check (parsed.header_length == size + 4);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GMainContext *context;
  MeshTrackerConn *conn;
  Run run = { 0, };
  gsize piece, done;
  gint fds[2];

  if (size < 2)
    return 0;
  run.max_message = 16 + (data[0] & 0x3F) * 16;
  piece = 1 + data[1];
  check_header_round_trip (((guint64) data[0] << 9 | data[1]) * 97);
  data += 2;
  size -= 2;

  check (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
          fds) == 0);
  context = g_main_context_new ();
  conn = mesh_tracker_conn_new (fds[0], context, 4096, run.max_message,
      run.max_message * 2 + 64, &callbacks, &run);
  for (done = 0; done < size && run.closed == 0; done += piece) {
    gsize n = MIN (piece, size - done);

    /* the reader may have stopped: what it does not take is dropped */
    if (write (fds[1], data + done, n) < 0)
      break;
    run_until_idle (context);
  }
  shutdown (fds[1], SHUT_WR);
  run_until_idle (context);
  /* at the end of the stream a connection ends, answered or not */
  check (run.closed == 1);
  check (!mesh_tracker_conn_is_open (conn));
  check (mesh_tracker_conn_get_queued (conn) == 0);

  mesh_tracker_conn_free (conn);
  close (fds[1]);
  run_until_idle (context);
  g_main_context_unref (context);
  return 0;
}
