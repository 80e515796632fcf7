/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of MeshWireSession (ext/mesh/p2p/mesh-wire-session.[ch]) on its
 * own: the connection-level rules of the wire protocol every transport
 * applies (HELLO first and once and its checks, PING/PONG, ERROR, the idle
 * timeout), with frames built by mesh-wire and times from a fake clock.
 *
 * Threads: only the test's own; the session is pure.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>

#include "p2p/mesh-wire-session.h"

#define MS G_TIME_SPAN_MILLISECOND
#define T0 (1000 * G_USEC_PER_SEC)

static MeshWireSession *
session_new (guint idle_timeout_ms)
{
  MeshWireSessionConfig config = {
    .swarm_id = "swarm-1",
    .local_peer_id = "peer-a",
    .remote_peer_id = "peer-b",
    .upload = TRUE,
    .idle_timeout_ms = idle_timeout_ms,
  };
  MeshWireSession *s = mesh_wire_session_new (&config);

  fail_unless (s != NULL);
  return s;
}

/* @bytes (taken) decoded into @frame: exactly one frame. */
static void
decode (GBytes * bytes, MeshWireFrame * frame)
{
  MeshWireDecoder *dec = mesh_wire_decoder_new ();
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  GError *err = NULL;

  mesh_wire_decoder_feed (dec, data, size);
  fail_unless_equals_int (mesh_wire_decoder_next (dec, frame, &err),
      MESH_WIRE_RESULT_FRAME);
  fail_unless_equals_int (mesh_wire_decoder_get_buffered (dec), 0);
  mesh_wire_decoder_free (dec);
  g_bytes_unref (bytes);
}

typedef struct
{
  MeshWireSessionAction action;
  GBytes *reply;
  guint16 code;
  GError *error;
} Result;

static void
result_clear (Result * r)
{
  g_clear_pointer (&r->reply, g_bytes_unref);
  g_clear_error (&r->error);
  r->code = 0;
}

/* Hands the frame encoded in @bytes (taken) to @s at @now. */
static void
handle (MeshWireSession * s, GBytes * bytes, gint64 now, Result * r)
{
  MeshWireFrame frame;

  result_clear (r);
  decode (bytes, &frame);
  r->action = mesh_wire_session_handle_frame (s, &frame, now, &r->reply,
      &r->code, &r->error);
  mesh_wire_frame_clear (&frame);
  if (r->action == MESH_WIRE_SESSION_CLOSE)
    fail_unless (r->error != NULL
        && r->error->domain == MESH_PEER_CONNECTION_ERROR);
  else
    fail_unless (r->error == NULL);
}

static void
assert_close (Result * r, MeshPeerConnectionError why, guint16 code)
{
  fail_unless_equals_int (r->action, MESH_WIRE_SESSION_CLOSE);
  fail_unless (g_error_matches (r->error, MESH_PEER_CONNECTION_ERROR, why),
      "closed with %d (%s), expected %d", r->error->code, r->error->message,
      why);
  fail_unless_equals_int (r->code, code);
}

static MeshWireSession *
connected_session (guint idle_timeout_ms, gint64 now)
{
  MeshWireSession *s = session_new (idle_timeout_ms);
  Result r = { 0, };

  handle (s, mesh_wire_encode_hello (0, "swarm-1", "peer-b"), now, &r);
  fail_unless_equals_int (r.action, MESH_WIRE_SESSION_CONNECTED);
  result_clear (&r);
  return s;
}

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_our_hello)
{
  MeshWireSession *s = session_new (0);
  MeshWireFrame f;

  decode (mesh_wire_session_encode_hello (s), &f);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_HELLO);
  fail_unless_equals_string (f.hello.swarm_id, "swarm-1");
  fail_unless_equals_string (f.hello.peer_id, "peer-a");
  fail_unless (f.hello.flags & MESH_WIRE_HELLO_UPLOAD);
  mesh_wire_frame_clear (&f);
  fail_unless_equals_int (mesh_wire_session_get_idle_timeout_ms (s),
      MESH_WIRE_SESSION_DEFAULT_IDLE_TIMEOUT_MS);
  fail_unless_equals_int (mesh_wire_session_get_ping_interval_ms (s),
      MESH_WIRE_SESSION_DEFAULT_IDLE_TIMEOUT_MS / 3);
  fail_if (mesh_wire_session_is_connected (s));
  fail_if (mesh_wire_session_get_remote_uploads (s));
  fail_unless_equals_int64 (mesh_wire_session_get_rtt (s), -1);
  mesh_wire_session_free (s);
  mesh_wire_session_free (NULL);
}

GST_END_TEST;

/* Ids the wire cannot carry: no session. */
GST_START_TEST (test_bad_ids)
{
  gchar *long_id = g_strnfill (MESH_WIRE_MAX_PEER_ID + 1, 'x');
  MeshWireSessionConfig config = {
    .swarm_id = "swarm-1",
    .local_peer_id = long_id,
    .remote_peer_id = "peer-b",
  };

  ASSERT_CRITICAL (fail_unless (mesh_wire_session_new (&config) == NULL));
  g_free (long_id);
}

GST_END_TEST;

/* The remote's HELLO comes first, and once. */
GST_START_TEST (test_hello_first_and_once)
{
  MeshWireSession *s;
  Result r = { 0, };
  MeshWireFrame ping;

  /* anything else first is a protocol error: PING, a control frame */
  s = session_new (0);
  handle (s, mesh_wire_encode_ping (7), T0, &r);
  assert_close (&r, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
      MESH_WIRE_CLOSE_PROTOCOL);
  fail_unless (strstr (r.error->message, "PING before HELLO") != NULL, "%s",
      r.error->message);
  fail_unless (r.reply == NULL);
  mesh_wire_session_free (s);

  s = session_new (0);
  handle (s, mesh_wire_encode_have (NULL, 0), T0, &r);
  assert_close (&r, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
      MESH_WIRE_CLOSE_PROTOCOL);
  fail_if (mesh_wire_session_is_connected (s));
  mesh_wire_session_free (s);

  /* HELLO: connected, with a first PING to send at once */
  s = session_new (0);
  handle (s, mesh_wire_encode_hello (MESH_WIRE_HELLO_UPLOAD, "swarm-1",
          "peer-b"), T0, &r);
  fail_unless_equals_int (r.action, MESH_WIRE_SESSION_CONNECTED);
  fail_unless (mesh_wire_session_is_connected (s));
  fail_unless (mesh_wire_session_get_remote_uploads (s));
  fail_unless (r.reply != NULL);
  decode (g_steal_pointer (&r.reply), &ping);
  fail_unless_equals_int (ping.type, MESH_WIRE_TYPE_PING);
  mesh_wire_frame_clear (&ping);

  /* frames after HELLO are the owner's */
  handle (s, mesh_wire_encode_cancel (3), T0, &r);
  fail_unless_equals_int (r.action, MESH_WIRE_SESSION_DELIVER);
  fail_unless (r.reply == NULL);

  /* a second HELLO is not */
  handle (s, mesh_wire_encode_hello (MESH_WIRE_HELLO_UPLOAD, "swarm-1",
          "peer-b"), T0, &r);
  assert_close (&r, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
      MESH_WIRE_CLOSE_PROTOCOL);
  result_clear (&r);
  mesh_wire_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_hello_refused)
{
  MeshWireSession *s;
  Result r = { 0, };

  /* another swarm */
  s = session_new (0);
  handle (s, mesh_wire_encode_hello (0, "swarm-2", "peer-b"), T0, &r);
  assert_close (&r, MESH_PEER_CONNECTION_ERROR_REJECTED,
      MESH_WIRE_CLOSE_WRONG_SWARM);
  fail_unless (strstr (r.error->message, "swarm-2") != NULL);
  fail_if (mesh_wire_session_is_connected (s));
  mesh_wire_session_free (s);

  /* not the peer the signalling introduced */
  s = session_new (0);
  handle (s, mesh_wire_encode_hello (MESH_WIRE_HELLO_UPLOAD, "swarm-1",
          "peer-x"), T0, &r);
  assert_close (&r, MESH_PEER_CONNECTION_ERROR_REJECTED,
      MESH_WIRE_CLOSE_UNSPECIFIED);
  fail_unless (strstr (r.error->message, "peer-x") != NULL);
  fail_if (mesh_wire_session_is_connected (s));
  fail_if (mesh_wire_session_get_remote_uploads (s));
  result_clear (&r);
  mesh_wire_session_free (s);
}

GST_END_TEST;

/* PING is answered with PONG of the same opaque; the PONG of our last PING
 * gives the RTT, others are ignored. */
GST_START_TEST (test_ping_pong)
{
  MeshWireSession *s = connected_session (900, T0);
  Result r = { 0, };
  MeshWireFrame f;
  GBytes *ping = NULL;
  GError *err = NULL;
  guint16 code = 0;
  guint64 opaque;

  handle (s, mesh_wire_encode_ping (G_GUINT64_CONSTANT (0x1122334455667788)),
      T0, &r);
  fail_unless_equals_int (r.action, MESH_WIRE_SESSION_CONSUMED);
  fail_unless (r.reply != NULL);
  decode (g_steal_pointer (&r.reply), &f);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_PONG);
  fail_unless_equals_uint64 (f.ping.opaque,
      G_GUINT64_CONSTANT (0x1122334455667788));
  mesh_wire_frame_clear (&f);

  /* our PING at T0 + 300 ms, its PONG 40 ms later */
  fail_unless (mesh_wire_session_tick (s, T0 + 300 * MS, &ping, &code, &err));
  decode (ping, &f);
  fail_unless_equals_int (f.type, MESH_WIRE_TYPE_PING);
  opaque = f.ping.opaque;
  mesh_wire_frame_clear (&f);
  /* a PONG of something else: no RTT */
  handle (s, mesh_wire_encode_pong (opaque + 1), T0 + 310 * MS, &r);
  fail_unless_equals_int (r.action, MESH_WIRE_SESSION_CONSUMED);
  fail_unless (r.reply == NULL);
  fail_unless_equals_int64 (mesh_wire_session_get_rtt (s), -1);
  handle (s, mesh_wire_encode_pong (opaque), T0 + 340 * MS, &r);
  fail_unless_equals_int (r.action, MESH_WIRE_SESSION_CONSUMED);
  fail_unless_equals_int64 (mesh_wire_session_get_rtt (s), 40 * MS);
  result_clear (&r);
  mesh_wire_session_free (s);
}

GST_END_TEST;

/* On a fake clock: PINGs every idle timeout / 3 while bytes come in; the
 * idle timeout once nothing was received for that long. */
GST_START_TEST (test_idle_timeout)
{
  MeshWireSession *s = connected_session (900, T0);
  GBytes *ping = NULL;
  GError *err = NULL;
  guint16 code = 0;
  gint64 now;

  fail_unless_equals_int (mesh_wire_session_get_idle_timeout_ms (s), 900);
  fail_unless_equals_int (mesh_wire_session_get_ping_interval_ms (s), 300);

  /* bytes keep arriving: it stays alive for as long as they do */
  for (now = T0 + 300 * MS; now <= T0 + 3000 * MS; now += 300 * MS) {
    mesh_wire_session_received (s, now - 100 * MS);
    fail_unless (mesh_wire_session_tick (s, now, &ping, &code, &err));
    fail_unless (ping != NULL);
    g_clear_pointer (&ping, g_bytes_unref);
  }
  /* the last bytes at T0 + 2900 ms: alive up to 899 ms later */
  fail_unless (mesh_wire_session_tick (s, T0 + 3799 * MS, &ping, &code, &err));
  g_clear_pointer (&ping, g_bytes_unref);
  fail_if (mesh_wire_session_tick (s, T0 + 3800 * MS, &ping, &code, &err));
  fail_unless (ping == NULL);
  fail_unless (g_error_matches (err, MESH_PEER_CONNECTION_ERROR,
          MESH_PEER_CONNECTION_ERROR_IDLE_TIMEOUT));
  fail_unless_equals_int (code, MESH_WIRE_CLOSE_TIMEOUT);
  g_clear_error (&err);
  mesh_wire_session_free (s);

  /* the remote HELLO counts as received */
  s = connected_session (900, T0);
  fail_if (mesh_wire_session_tick (s, T0 + 900 * MS, &ping, &code, &err));
  fail_unless (g_error_matches (err, MESH_PEER_CONNECTION_ERROR,
          MESH_PEER_CONNECTION_ERROR_IDLE_TIMEOUT));
  g_clear_error (&err);
  mesh_wire_session_free (s);
}

GST_END_TEST;

/* ERROR from the remote closes, with its code: the owner sends none back. */
GST_START_TEST (test_error_closes)
{
  MeshWireSession *s = connected_session (0, T0);
  Result r = { 0, };

  handle (s, mesh_wire_encode_error (MESH_WIRE_CLOSE_GOING_AWAY, "bye"), T0,
      &r);
  assert_close (&r, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_GOING_AWAY);
  fail_unless (strstr (r.error->message, "bye") != NULL);
  fail_unless (r.reply == NULL);
  result_clear (&r);
  mesh_wire_session_free (s);

  /* before HELLO, ERROR is out of order like anything else */
  s = session_new (0);
  handle (s, mesh_wire_encode_error (MESH_WIRE_CLOSE_BUSY, "full"), T0, &r);
  assert_close (&r, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
      MESH_WIRE_CLOSE_PROTOCOL);
  result_clear (&r);
  mesh_wire_session_free (s);
}

GST_END_TEST;

/* Undecodable bytes: PROTOCOL, or VERSION for another protocol version. */
GST_START_TEST (test_decode_error)
{
  MeshWireSession *s = session_new (0);
  GError *decode_error, *err = NULL;
  guint16 code = 0;

  decode_error = g_error_new (MESH_WIRE_ERROR,
      MESH_WIRE_ERROR_UNSUPPORTED_VERSION, "version 9");
  fail_unless_equals_int (mesh_wire_session_decode_error (s, decode_error,
          &code, &err), MESH_WIRE_SESSION_CLOSE);
  fail_unless (g_error_matches (err, MESH_PEER_CONNECTION_ERROR,
          MESH_PEER_CONNECTION_ERROR_PROTOCOL));
  fail_unless (strstr (err->message, "version 9") != NULL);
  fail_unless_equals_int (code, MESH_WIRE_CLOSE_VERSION);
  g_clear_error (&err);
  g_clear_error (&decode_error);

  {
    static const guint8 garbage[] = { 0, 0, 0, 5, 99, 1, 2, 3, 4 };
    MeshWireDecoder *dec = mesh_wire_decoder_new ();
    MeshWireFrame f;

    mesh_wire_decoder_feed (dec, garbage, sizeof (garbage));
    fail_unless_equals_int (mesh_wire_decoder_next (dec, &f, &decode_error),
        MESH_WIRE_RESULT_ERROR);
    mesh_wire_decoder_free (dec);
  }
  fail_unless_equals_int (mesh_wire_session_decode_error (s, decode_error,
          &code, &err), MESH_WIRE_SESSION_CLOSE);
  fail_unless (g_error_matches (err, MESH_PEER_CONNECTION_ERROR,
          MESH_PEER_CONNECTION_ERROR_PROTOCOL));
  fail_unless_equals_int (code, MESH_WIRE_CLOSE_PROTOCOL);
  g_clear_error (&err);
  g_error_free (decode_error);
  mesh_wire_session_free (s);
}

GST_END_TEST;

static Suite *
wire_session_suite (void)
{
  Suite *s = suite_create ("wire-session");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_our_hello);
  tcase_add_test (tc, test_bad_ids);
  tcase_add_test (tc, test_hello_first_and_once);
  tcase_add_test (tc, test_hello_refused);
  tcase_add_test (tc, test_ping_pong);
  tcase_add_test (tc, test_idle_timeout);
  tcase_add_test (tc, test_error_closes);
  tcase_add_test (tc, test_decode_error);
  return s;
}

GST_CHECK_MAIN (wire_session);
