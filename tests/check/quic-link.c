/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of MeshQuicLink and MeshQuicTransport (ext/mesh/p2p/mesh-quic-link.
 * [ch]): two links in one process, both on 127.0.0.1, each made by its own
 * transport (as two viewers would, with their own credentials), their
 * signalling relayed by the test (which may tamper with it, reorder it or
 * drop it). The transport-independent helpers of mesh-peer-transport.h are
 * tested in peer-transport.c, the session rules in wire-session.c.
 *
 * Threads: only the test's own, which runs one GMainContext per test (pushed
 * as thread-default) that owns both transports and links; every wait
 * iterates it with a bounded timeout. The TURN test also runs coturn as a
 * child process.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#include "p2p/mesh-quic-link.h"

#include "mesh-test-wait.h"

#define WAIT_FOR(ctx, cond, ms) MESH_TEST_ITERATE_UNTIL (ctx, cond, ms)
#define BULK_SIZE (2 * 1024 * 1024)
#define N_TRANSFERS 3

typedef enum
{
  RELAY_DIRECT,                 /* every signal at once */
  RELAY_OFFER_LAST,             /* candidates first, the offer after
                                 * end-of-candidates, from an idle */
  RELAY_NONE,                   /* nothing: never connects */
} RelayMode;

typedef struct _Pair Pair;

typedef struct
{
  guint32 id;
  GByteArray *bytes;
  gboolean out_of_order;
  gboolean ended;
  gboolean absent;
} Transfer;

typedef struct
{
  Pair *pair;
  MeshQuicTransport *transport;
  MeshQuicLink *link;
  gboolean ready;
  guint n_closed;
  GError *reason;
  gint64 closed_at;
  guint n_writable;
  GPtrArray *frames;            /* GBytes: non-DATA frames, re-encoded */
  Transfer transfers[N_TRANSFERS];      /* ids 1..N_TRANSFERS */
  gboolean serve;               /* answer REQUESTs with BULK_SIZE bytes */
  GHashTable *serving;          /* request id -> next offset (guint64 *) */
  GSource *serve_idle;
  guint n_cancels;
  gchar *tamper_fingerprint;    /* replaces ours in the offer we send */
  gboolean relay_candidate_out;
  guint n_candidates_out;
  GPtrArray *candidates_out;    /* gchar *: the sdp of each, in order */
  gboolean gathering_done;
  JsonObject *held_offer;       /* RELAY_OFFER_LAST */
} Side;

struct _Pair
{
  GMainContext *context;
  RelayMode mode;
  Side a, b;
};

static Side *
other_side (Side * side)
{
  return side == &side->pair->a ? &side->pair->b : &side->pair->a;
}

static MeshPeerConnection *
conn (Side * side)
{
  return MESH_PEER_CONNECTION (side->link);
}

/* The bytes of the segment a holder serves: a position-dependent pattern. */
static GBytes *
bulk_chunk (guint64 offset, gsize size)
{
  guint8 *data = g_malloc (size);
  gsize i;

  for (i = 0; i < size; i++)
    data[i] = (guint8) ((offset + i) * 7 + ((offset + i) >> 12));
  return g_bytes_new_take (data, size);
}

static gboolean
deliver_held (gpointer user_data)
{
  Side *side = user_data;
  Side *to = other_side (side);
  JsonObject *offer = g_steal_pointer (&side->held_offer);

  if (offer && to->link)
    mesh_peer_connection_handle_signal (conn (to), offer);
  g_clear_pointer (&offer, json_object_unref);
  return G_SOURCE_REMOVE;
}

static void
on_signal_out (MeshPeerConnection * c, JsonObject * data, Side * side)
{
  Side *to = other_side (side);
  const gchar *kind = json_object_get_string_member (data, "kind");

  fail_unless (kind != NULL);
  if (strcmp (kind, "candidate") == 0)
    side->n_candidates_out++;
  else if (strcmp (kind, "end-of-candidates") == 0)
    side->gathering_done = TRUE;
  if (strcmp (kind, "quic-offer") == 0) {
    fail_unless (json_object_get_string_member (data, "ufrag") != NULL);
    fail_unless_equals_string (json_object_get_string_member (data, "alpn"),
        "gst-mesh/2");
    fail_unless_equals_string (json_object_get_string_member (data,
            "fingerprint"),
        mesh_quic_transport_get_fingerprint (side->transport));
    if (side->tamper_fingerprint)
      json_object_set_string_member (data, "fingerprint",
          side->tamper_fingerprint);
  } else if (strcmp (kind, "candidate") == 0) {
    const gchar *sdp = json_object_get_string_member (data, "sdp");

    if (strstr (sdp, " typ relay"))
      side->relay_candidate_out = TRUE;
    g_ptr_array_add (side->candidates_out, g_strdup (sdp));
  }
  switch (side->pair->mode) {
    case RELAY_NONE:
      return;
    case RELAY_OFFER_LAST:
      if (strcmp (kind, "quic-offer") == 0) {
        fail_unless (side->held_offer == NULL);
        side->held_offer = json_object_ref (data);
        return;
      }
      if (strcmp (kind, "end-of-candidates") == 0) {
        GSource *idle = g_idle_source_new ();

        g_source_set_callback (idle, deliver_held, side, NULL);
        g_source_attach (idle, side->pair->context);
        g_source_unref (idle);
      }
      break;
    case RELAY_DIRECT:
      break;
  }
  if (to->link)
    mesh_peer_connection_handle_signal (conn (to), data);
}

static void
on_connected (MeshPeerConnection * c, Side * side)
{
  fail_unless (!side->ready);
  fail_unless_equals_int (mesh_peer_connection_get_state (c),
      MESH_PEER_CONNECTION_CONNECTED);
  side->ready = TRUE;
}

static Transfer *
find_transfer (Side * side, guint32 id)
{
  if (id < 1 || id > N_TRANSFERS)
    return NULL;
  return &side->transfers[id - 1];
}

static void
send_frame (Side * side, GBytes * frame)
{
  fail_unless (mesh_peer_connection_send (conn (side), frame));
  g_bytes_unref (frame);
}

/* A holder's answer, paced like an uploader: the segment in 64 KiB DATA
 * frames, one per transfer and main loop iteration, then END. */
static gboolean
serve_some (gpointer user_data)
{
  Side *side = user_data;
  GHashTableIter iter;
  gpointer key, value;

  if (!side->link || mesh_peer_connection_get_state (conn (side)) !=
      MESH_PEER_CONNECTION_CONNECTED)
    g_hash_table_remove_all (side->serving);
  g_hash_table_iter_init (&iter, side->serving);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    guint32 id = GPOINTER_TO_UINT (key);
    guint64 *offset = value;
    GBytes *chunk = bulk_chunk (*offset, MIN (MESH_WIRE_MAX_CHUNK,
            BULK_SIZE - *offset));

    send_frame (side, mesh_wire_encode_data (id, *offset, chunk));
    *offset += g_bytes_get_size (chunk);
    g_bytes_unref (chunk);
    if (*offset == BULK_SIZE) {
      send_frame (side, mesh_wire_encode_end (id, BULK_SIZE));
      g_hash_table_iter_remove (&iter);
    }
  }
  if (g_hash_table_size (side->serving) > 0)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&side->serve_idle, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
serve (Side * side, const MeshWireFrame * f)
{
  g_hash_table_insert (side->serving,
      GUINT_TO_POINTER (f->request.request_id), g_new0 (guint64, 1));
  if (!side->serve_idle) {
    side->serve_idle = g_idle_source_new ();
    g_source_set_callback (side->serve_idle, serve_some, side, NULL);
    g_source_attach (side->serve_idle, side->pair->context);
  }
}

static void
on_frame (MeshPeerConnection * c, const MeshWireFrame * f, Side * side)
{
  Transfer *t;

  switch (f->type) {
    case MESH_WIRE_TYPE_DATA:
      t = find_transfer (side, f->data.request_id);
      fail_unless (t != NULL);
      {
        gsize size;
        const guint8 *data = g_bytes_get_data (f->data.bytes, &size);

        if (f->data.offset != t->bytes->len)
          t->out_of_order = TRUE;
        g_byte_array_append (t->bytes, data, size);
      }
      return;
    case MESH_WIRE_TYPE_END:
      t = find_transfer (side, f->end.request_id);
      if (t)
        t->ended = TRUE;
      break;
    case MESH_WIRE_TYPE_ABSENT:
      t = find_transfer (side, f->absent.request_id);
      if (t)
        t->absent = TRUE;
      break;
    case MESH_WIRE_TYPE_CANCEL:
      side->n_cancels++;
      g_hash_table_remove (side->serving,
          GUINT_TO_POINTER (f->cancel.request_id));
      break;
    case MESH_WIRE_TYPE_REQUEST:
      if (side->serve)
        serve (side, f);
      break;
    default:
      break;
  }
  g_ptr_array_add (side->frames, mesh_wire_encode (f));
}

static void
on_writable (MeshPeerConnection * c, Side * side)
{
  fail_unless (mesh_peer_connection_get_send_queue_size (c) <
      MESH_PEER_CONNECTION_LOW_WATER);
  side->n_writable++;
}

static void
on_closed (MeshPeerConnection * c, GError * reason, Side * side)
{
  fail_unless (reason != NULL);
  fail_unless (reason->domain == MESH_PEER_CONNECTION_ERROR);
  fail_unless_equals_int (mesh_peer_connection_get_state (c),
      MESH_PEER_CONNECTION_CLOSED);
  side->n_closed++;
  side->closed_at = g_get_monotonic_time ();
  g_clear_error (&side->reason);
  side->reason = g_error_copy (reason);
}

static MeshQuicLinkConfig
default_config (const gchar * peer_id)
{
  MeshQuicLinkConfig config = {
    .swarm_id = "swarm-1",
    .local_peer_id = peer_id,
    .local_address = "127.0.0.1",
  };

  return config;
}

static void
side_connect_signals (Side * side)
{
  g_signal_connect (side->link, "signal-out", G_CALLBACK (on_signal_out), side);
  g_signal_connect (side->link, "connected", G_CALLBACK (on_connected), side);
  g_signal_connect (side->link, "frame", G_CALLBACK (on_frame), side);
  g_signal_connect (side->link, "writable", G_CALLBACK (on_writable), side);
  g_signal_connect (side->link, "closed", G_CALLBACK (on_closed), side);
}

static void
side_init_common (Pair * pair, Side * side)
{
  GError *err = NULL;
  guint i;

  side->pair = pair;
  side->serving = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  side->frames = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_bytes_unref);
  side->candidates_out = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; i < N_TRANSFERS; i++) {
    side->transfers[i].id = i + 1;
    side->transfers[i].bytes = g_byte_array_new ();
  }
  side->transport = mesh_quic_transport_new (pair->context, &err);
  fail_unless (side->transport != NULL, "%s", err ? err->message : "");
}

static void
side_init (Pair * pair, Side * side, const MeshQuicLinkConfig * config,
    const gchar * remote_id, gboolean controlling)
{
  side_init_common (pair, side);
  side->link = mesh_quic_link_new (side->transport, config, remote_id,
      controlling);
  fail_unless (side->link != NULL);
  side_connect_signals (side);
}

/* The peer manager's way: mesh_peer_transport_connect(). */
static void
side_init_connect (Pair * pair, Side * side,
    const MeshPeerConnectParams * params)
{
  MeshPeerConnection *c;

  side_init_common (pair, side);
  c = mesh_peer_transport_connect (MESH_PEER_TRANSPORT (side->transport),
      params);
  fail_unless (MESH_IS_QUIC_LINK (c));
  side->link = MESH_QUIC_LINK (c);
  side_connect_signals (side);
}

static Pair *
pair_alloc (RelayMode mode)
{
  Pair *pair = g_new0 (Pair, 1);

  pair->mode = mode;
  pair->context = g_main_context_new ();
  g_main_context_push_thread_default (pair->context);
  return pair;
}

/* A ("peer-a", controlling = QUIC client) and B ("peer-b"), each expecting
 * the other under @a_expects / @b_expects. */
static Pair *
pair_new_ids (RelayMode mode, const MeshQuicLinkConfig * ca,
    const MeshQuicLinkConfig * cb, const gchar * a_expects,
    const gchar * b_expects)
{
  Pair *pair = pair_alloc (mode);

  side_init (pair, &pair->a, ca, a_expects, TRUE);
  side_init (pair, &pair->b, cb, b_expects, FALSE);
  return pair;
}

static Pair *
pair_new_full (const MeshQuicLinkConfig * ca, const MeshQuicLinkConfig * cb)
{
  return pair_new_ids (RELAY_DIRECT, ca, cb, "peer-b", "peer-a");
}

static MeshPeerConnectParams
default_params (const gchar * local, const gchar * remote, gboolean controlling)
{
  MeshPeerConnectParams params = {
    .swarm_id = "swarm-1",
    .local_peer_id = local,
    .remote_peer_id = remote,
    .controlling = controlling,
    .local_address = "127.0.0.1",
  };

  return params;
}

static Pair *
pair_new_connect (const MeshPeerConnectParams * pa,
    const MeshPeerConnectParams * pb)
{
  Pair *pair = pair_alloc (RELAY_DIRECT);

  side_init_connect (pair, &pair->a, pa);
  side_init_connect (pair, &pair->b, pb);
  return pair;
}

/* A uploads. */
static Pair *
pair_new_mode (RelayMode mode)
{
  MeshQuicLinkConfig ca = default_config ("peer-a");
  MeshQuicLinkConfig cb = default_config ("peer-b");

  ca.upload = TRUE;
  return pair_new_ids (mode, &ca, &cb, "peer-b", "peer-a");
}

static Pair *
pair_new (void)
{
  return pair_new_mode (RELAY_DIRECT);
}

static void
pair_start (Pair * pair)
{
  mesh_peer_connection_start (conn (&pair->a));
  mesh_peer_connection_start (conn (&pair->b));
}

/* @server_log: what a server the pair goes through printed, to tell in a
 * failure (or NULL). */
static void
pair_wait_ready_explained (Pair * pair, const GString * server_log)
{
  const gchar *heading = server_log ? "\nthe server printed:\n" : "";
  const gchar *log = server_log ? server_log->str : "";

  WAIT_FOR (pair->context, (pair->a.ready && pair->b.ready)
      || pair->a.n_closed || pair->b.n_closed, 20000);
  fail_unless (pair->a.ready, "A not ready: %s%s%s", pair->a.reason ?
      pair->a.reason->message : "timeout", heading, log);
  fail_unless (pair->b.ready, "B not ready: %s%s%s", pair->b.reason ?
      pair->b.reason->message : "timeout", heading, log);
}

static void
pair_wait_ready (Pair * pair)
{
  pair_wait_ready_explained (pair, NULL);
}

static guint
count_lingering (Pair * pair)
{
  return (pair->a.transport ?
      mesh_quic_transport_count_lingering (pair->a.transport) : 0) +
      (pair->b.transport ?
      mesh_quic_transport_count_lingering (pair->b.transport) : 0);
}

static void
side_clear (Side * side)
{
  gpointer weak;
  guint i;

  g_clear_object (&side->link);
  g_clear_error (&side->reason);
  if (side->serve_idle)
    g_source_destroy (side->serve_idle);
  g_clear_pointer (&side->serve_idle, g_source_unref);
  g_hash_table_unref (side->serving);
  g_ptr_array_unref (side->frames);
  g_ptr_array_unref (side->candidates_out);
  for (i = 0; i < N_TRANSFERS; i++)
    g_byte_array_unref (side->transfers[i].bytes);
  g_free (side->tamper_fingerprint);
  g_clear_pointer (&side->held_offer, json_object_unref);
  if (!side->transport)
    return;
  /* the transport is freed once its lingering links are */
  weak = side->transport;
  g_object_add_weak_pointer (G_OBJECT (side->transport), &weak);
  g_clear_object (&side->transport);
  fail_unless (weak == NULL, "transport still referenced");
}

/* Also checks that every lingering connection drained by itself. */
static void
pair_free (Pair * pair)
{
  g_clear_object (&pair->a.link);
  g_clear_object (&pair->b.link);
  WAIT_FOR (pair->context, count_lingering (pair) == 0, 10000);
  fail_unless_equals_int (count_lingering (pair), 0);
  /* idles that would relay a held offer */
  while (g_main_context_iteration (pair->context, FALSE));
  side_clear (&pair->a);
  side_clear (&pair->b);
  while (g_main_context_iteration (pair->context, FALSE));
  g_main_context_pop_thread_default (pair->context);
  g_main_context_unref (pair->context);
  g_free (pair);
}

static void
assert_closed (Side * side, MeshPeerConnectionError why, guint16 code)
{
  fail_unless_equals_int (side->n_closed, 1);
  fail_unless (g_error_matches (side->reason, MESH_PEER_CONNECTION_ERROR, why),
      "closed with %d (%s), expected %d", side->reason->code,
      side->reason->message, why);
  fail_unless_equals_int (mesh_quic_link_get_close_code (side->link), code);
}

static gboolean
transfer_is_bulk (Transfer * t)
{
  GBytes *expected = bulk_chunk (0, BULK_SIZE);
  gboolean same = t->bytes->len == BULK_SIZE && !t->out_of_order
      && memcmp (t->bytes->data, g_bytes_get_data (expected, NULL),
      BULK_SIZE) == 0;

  g_bytes_unref (expected);
  return same;
}

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_connect_and_exchange)
{
  Pair *pair = pair_new ();
  MeshWireHaveEntry have[] = { {1, 1000}, {2, 2000}
  };
  GBytes *f1 = mesh_wire_encode_have (have, G_N_ELEMENTS (have));
  GBytes *f2 = mesh_wire_encode_lost ((guint64[]){ 3 }, 1);
  GBytes *f3 = mesh_wire_encode_fetching ((guint64[]){ 4 }, 1);
  const gchar *type;

  pair_start (pair);
  pair_wait_ready (pair);
  fail_unless_equals_string (mesh_peer_connection_get_remote_peer_id (conn
          (&pair->a)), "peer-b");
  /* A uploads, B does not */
  fail_if (mesh_peer_connection_get_remote_uploads (conn (&pair->a)));
  fail_unless (mesh_peer_connection_get_remote_uploads (conn (&pair->b)));
  type = mesh_peer_connection_get_path_type (conn (&pair->a));
  fail_unless (g_strv_contains ((const gchar *[]) { "host", "prflx", NULL },
          type), "selected %s on loopback", type);
  fail_unless (mesh_quic_link_get_socket_rcvbuf (pair->a.link) > 0);
  fail_unless (mesh_peer_connection_get_rtt (conn (&pair->a)) >= 0);

  fail_unless (mesh_peer_connection_send (conn (&pair->a), f1));
  fail_unless (mesh_peer_connection_send (conn (&pair->a), f2));
  fail_unless (mesh_peer_connection_send (conn (&pair->b), f3));
  WAIT_FOR (pair->context, pair->b.frames->len == 2
      && pair->a.frames->len == 1, 5000);
  fail_unless_equals_int (pair->b.frames->len, 2);
  fail_unless_equals_int (pair->a.frames->len, 1);
  /* in order on the control stream, byte for byte */
  fail_unless (g_bytes_equal (g_ptr_array_index (pair->b.frames, 0), f1));
  fail_unless (g_bytes_equal (g_ptr_array_index (pair->b.frames, 1), f2));
  fail_unless (g_bytes_equal (g_ptr_array_index (pair->a.frames, 0), f3));
  fail_unless_equals_int (pair->a.n_closed, 0);
  fail_unless_equals_int (pair->b.n_closed, 0);
  /* only the control stream */
  fail_unless_equals_int (mesh_quic_link_count_streams_for_test
      (pair->a.link), 1);

  g_bytes_unref (f1);
  g_bytes_unref (f2);
  g_bytes_unref (f3);
  pair_free (pair);
}

GST_END_TEST;

/* Through the MeshPeerTransport interface, as the peer manager does:
 * connections from mesh_peer_transport_connect(), used through
 * MeshPeerConnection only. */
GST_START_TEST (test_transport_interface)
{
  MeshPeerConnectParams pa = default_params ("peer-a", "peer-b", TRUE);
  MeshPeerConnectParams pb = default_params ("peer-b", "peer-a", FALSE);
  MeshWireHaveEntry have[] = { {5, 500} };
  GBytes *frame = mesh_wire_encode_have (have, 1);
  MeshPeerConnection *a, *b;
  Pair *pair;

  pa.upload = TRUE;
  /* unusable servers are ignored (with a warning), not fatal */
  pa.stun_server = "no port";
  pb.turn_server = "http://not-turn";
  pair = pair_new_connect (&pa, &pb);
  a = conn (&pair->a);
  b = conn (&pair->b);
  fail_unless_equals_int (mesh_peer_connection_get_state (a),
      MESH_PEER_CONNECTION_CONNECTING);
  /* nothing may be sent before CONNECTED */
  fail_if (mesh_peer_connection_send (a, frame));
  fail_unless (mesh_peer_connection_get_path_type (a) == NULL);
  fail_unless_equals_int (mesh_peer_connection_get_rtt (a), -1);
  fail_if (mesh_peer_connection_get_remote_uploads (b));

  pair_start (pair);
  pair_wait_ready (pair);
  fail_unless_equals_string (mesh_peer_connection_get_remote_peer_id (a),
      "peer-b");
  fail_unless (mesh_peer_connection_get_remote_uploads (b));
  fail_if (mesh_peer_connection_get_remote_uploads (a));
  fail_unless (mesh_peer_connection_get_path_type (a) != NULL);

  fail_unless (mesh_peer_connection_send (a, frame));
  fail_unless (mesh_peer_connection_get_send_queue_size (a) <
      MESH_PEER_CONNECTION_LOW_WATER);
  WAIT_FOR (pair->context, pair->b.frames->len == 1
      && mesh_peer_connection_get_rtt (a) >= 0, 5000);
  fail_unless_equals_int (pair->b.frames->len, 1);
  fail_unless (g_bytes_equal (g_ptr_array_index (pair->b.frames, 0), frame));
  fail_unless (mesh_peer_connection_get_rtt (a) >= 0);

  mesh_peer_connection_close (a, MESH_WIRE_CLOSE_GOING_AWAY, "bye");
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_LOCAL,
      MESH_WIRE_CLOSE_GOING_AWAY);
  WAIT_FOR (pair->context, pair->b.n_closed, 5000);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_GOING_AWAY);
  g_bytes_unref (frame);
  pair_free (pair);
}

GST_END_TEST;

/* The congestion control a connection is asked for is the one its QUIC
 * connection runs; without a choice, CUBIC (see DEFAULT_CC). */
GST_START_TEST (test_congestion_control_through_connect)
{
  MeshPeerConnectParams pa = default_params ("peer-a", "peer-b", TRUE);
  MeshPeerConnectParams pb = default_params ("peer-b", "peer-a", FALSE);
  MeshQuicStats sa, sb;
  Pair *pair;

  pa.congestion_control = MESH_PEER_CC_BBR;
  pair = pair_new_connect (&pa, &pb);
  pair_start (pair);
  pair_wait_ready (pair);
  mesh_quic_link_get_stats (MESH_QUIC_LINK (conn (&pair->a)), &sa);
  mesh_quic_link_get_stats (MESH_QUIC_LINK (conn (&pair->b)), &sb);
  fail_unless_equals_string (mesh_quic_cc_to_string (sa.cc), "bbr2");
  fail_unless_equals_string (mesh_quic_cc_to_string (sb.cc), "cubic");
  pair_free (pair);
}

GST_END_TEST;

/* Closed before it got anywhere: the transport ends what is left. */
GST_START_TEST (test_transport_close_connecting)
{
  GMainContext *context = g_main_context_new ();
  MeshPeerConnectParams params = default_params ("peer-a", "peer-b", TRUE);
  MeshQuicTransport *t = mesh_quic_transport_new (context, NULL);
  MeshPeerConnection *c;

  fail_unless (t != NULL);
  c = mesh_peer_transport_connect (MESH_PEER_TRANSPORT (t), &params);
  fail_unless (MESH_IS_QUIC_LINK (c));
  mesh_peer_connection_start (c);
  mesh_peer_connection_close (c, MESH_WIRE_CLOSE_GOING_AWAY, "bye");
  fail_unless_equals_int (mesh_peer_connection_get_state (c),
      MESH_PEER_CONNECTION_CLOSED);
  g_object_unref (c);
  mesh_peer_transport_shutdown (MESH_PEER_TRANSPORT (t), 5000);
  fail_unless_equals_int (mesh_quic_transport_count_lingering (t), 0);
  g_object_unref (t);
  g_main_context_unref (context);
}

GST_END_TEST;

/* Ids the wire cannot carry: no connection. */
GST_START_TEST (test_transport_refuses_bad_ids)
{
  GMainContext *context = g_main_context_new ();
  MeshQuicTransport *transport = mesh_quic_transport_new (context, NULL);
  gchar *long_id = g_strnfill (MESH_WIRE_MAX_PEER_ID + 1, 'x');
  gchar *long_swarm = g_strnfill (MESH_WIRE_MAX_SWARM_ID + 1, 's');
  MeshPeerConnectParams params = default_params (long_id, "peer-b", TRUE);

  fail_unless (transport != NULL);
  ASSERT_CRITICAL (fail_unless (mesh_peer_transport_connect
          (MESH_PEER_TRANSPORT (transport), &params) == NULL));
  params = default_params ("peer-a", "peer-b", TRUE);
  params.swarm_id = long_swarm;
  ASSERT_CRITICAL (fail_unless (mesh_peer_transport_connect
          (MESH_PEER_TRANSPORT (transport), &params) == NULL));
  g_free (long_id);
  g_free (long_swarm);
  g_object_unref (transport);
  g_main_context_unref (context);
}

GST_END_TEST;

/* A STUN server given as "host:port" through connect(): the link asks it
 * for its server-reflexive address (a Binding request reaches it). */
GST_START_TEST (test_stun_server_through_connect)
{
  MeshPeerConnectParams params = default_params ("peer-a", "peer-b", TRUE);
  GMainContext *context = g_main_context_new ();
  GSocket *server = g_socket_new (G_SOCKET_FAMILY_IPV4,
      G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0);
  GSocketAddress *bound;
  MeshQuicTransport *t;
  MeshPeerConnection *c;
  gchar *stun;
  guint8 buf[1500];
  gssize n = -1;
  gint64 end;

  g_main_context_push_thread_default (context);
  fail_unless (g_socket_bind (server, addr, FALSE, NULL));
  g_socket_set_blocking (server, FALSE);
  bound = g_socket_get_local_address (server, NULL);
  stun = g_strdup_printf ("127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  params.stun_server = stun;
  t = mesh_quic_transport_new (context, NULL);
  c = mesh_peer_transport_connect (MESH_PEER_TRANSPORT (t), &params);
  fail_unless (c != NULL);
  mesh_peer_connection_start (c);
  end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end) {
    n = g_socket_receive (server, (gchar *) buf, sizeof (buf), NULL, NULL);
    if (n > 0)
      break;
    g_main_context_iteration (context, FALSE);
    g_usleep (1000);
  }
  /* a STUN Binding request: type 0x0001, a 20-byte header, then the
   * attributes it announces (libnice asks servers in RFC 3489 style, without
   * the RFC 5389 magic cookie) */
  fail_unless (n >= 20, "no STUN request");
  fail_unless (buf[0] == 0x00 && buf[1] == 0x01, "type %02x%02x", buf[0],
      buf[1]);
  fail_unless_equals_int (n, 20 + (buf[2] << 8 | buf[3]));

  mesh_peer_connection_close (c, MESH_WIRE_CLOSE_GOING_AWAY, "bye");
  g_object_unref (c);
  mesh_peer_transport_shutdown (MESH_PEER_TRANSPORT (t), 5000);
  g_object_unref (t);
  g_free (stun);
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  g_object_unref (server);
  while (g_main_context_iteration (context, FALSE));
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

GST_END_TEST;

/* Settings that cannot work end the link at start(), cleanly. */
GST_START_TEST (test_unusable_local_settings)
{
  MeshQuicLinkConfig ca = default_config ("peer-a");
  MeshQuicLinkConfig cb = default_config ("peer-b");
  Pair *pair;

  /* not an IP address */
  ca.local_address = "not-an-address";
  pair = pair_new_ids (RELAY_NONE, &ca, &cb, "peer-b", "peer-a");
  mesh_peer_connection_start (conn (&pair->a));
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_CONFIG,
      MESH_WIRE_CLOSE_UNSPECIFIED);
  fail_unless (strstr (pair->a.reason->message, "not-an-address") != NULL);
  pair_free (pair);

  /* relay only without a TURN server */
  ca = default_config ("peer-a");
  ca.candidate_policy = MESH_PEER_CANDIDATES_RELAY_ONLY;
  pair = pair_new_ids (RELAY_NONE, &ca, &cb, "peer-b", "peer-a");
  mesh_peer_connection_start (conn (&pair->a));
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_CONFIG,
      MESH_WIRE_CLOSE_UNSPECIFIED);
  pair_free (pair);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Candidate policy: which addresses a viewer reveals to its peers */

/* The address a viewer seems to have behind the fake NAT (TEST-NET-1,
 * never routed). */
static const guint8 nat_ip[4] = { 192, 0, 2, 7 };

#define NAT_ADDRESS "192.0.2.7"

/* A STUN server that answers every Binding request with NAT_ADDRESS and
 * the client's port: the agent gets a server-reflexive candidate of its
 * own, based on its host one (a plain server on 127.0.0.1 would map the
 * host candidate to itself, a duplicate libnice drops). */
typedef struct
{
  GSocket *socket;
  GSource *source;
  gchar *address;               /* "127.0.0.1:port", for stun_server */
} FakeStun;

static gboolean
fake_stun_answer (GSocket * socket, GIOCondition cond, gpointer user_data)
{
  GSocketAddress *from = NULL;
  guint8 buf[1500], answer[32] = { 0, };
  gssize n;
  guint16 port;

  n = g_socket_receive_from (socket, &from, (gchar *) buf, sizeof (buf),
      NULL, NULL);
  if (n >= 20 && buf[0] == 0x00 && buf[1] == 0x01) {
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from));
    answer[0] = 0x01;           /* Binding success response */
    answer[1] = 0x01;
    answer[3] = 12;             /* one attribute */
    memcpy (answer + 4, buf + 4, 16);   /* the transaction id */
    answer[21] = 0x01;          /* MAPPED-ADDRESS, 8 bytes */
    answer[23] = 8;
    answer[25] = 0x01;          /* IPv4 */
    answer[26] = port >> 8;
    answer[27] = port & 0xff;
    memcpy (answer + 28, nat_ip, sizeof (nat_ip));
    g_socket_send_to (socket, from, (gchar *) answer, sizeof (answer), NULL,
        NULL);
  }
  g_clear_object (&from);
  return G_SOURCE_CONTINUE;
}

static void
fake_stun_start (FakeStun * stun)
{
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0);
  GSocketAddress *bound;

  stun->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
      G_SOCKET_PROTOCOL_UDP, NULL);
  fail_unless (g_socket_bind (stun->socket, addr, FALSE, NULL));
  g_socket_set_blocking (stun->socket, FALSE);
  bound = g_socket_get_local_address (stun->socket, NULL);
  stun->address = g_strdup_printf ("127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
}

static void
fake_stun_serve (FakeStun * stun, GMainContext * context)
{
  stun->source = g_socket_create_source (stun->socket, G_IO_IN, NULL);
  g_source_set_callback (stun->source, G_SOURCE_FUNC (fake_stun_answer), NULL,
      NULL);
  g_source_attach (stun->source, context);
}

static void
fake_stun_stop (FakeStun * stun)
{
  g_source_destroy (stun->source);
  g_source_unref (stun->source);
  g_object_unref (stun->socket);
  g_free (stun->address);
}

static gboolean
signalled (Side * side, const gchar * text)
{
  guint i;

  for (i = 0; i < side->candidates_out->len; i++)
    if (strstr (g_ptr_array_index (side->candidates_out, i), text))
      return TRUE;
  return FALSE;
}

/* A behind the fake NAT, B on 127.0.0.1, through connect(). */
static Pair *
pair_new_behind_nat (FakeStun * stun, MeshPeerCandidatePolicy policy)
{
  MeshPeerConnectParams pa = default_params ("peer-a", "peer-b", TRUE);
  MeshPeerConnectParams pb = default_params ("peer-b", "peer-a", FALSE);
  Pair *pair;

  pa.stun_server = stun->address;
  pa.candidate_policy = policy;
  pa.connect_timeout_ms = pb.connect_timeout_ms = 3000;
  pair = pair_new_connect (&pa, &pb);
  fake_stun_serve (stun, pair->context);
  return pair;
}

/* With "all", A signals its host candidate, and a server-reflexive one
 * whose related address is that host address (libnice's way). With
 * no-host, A signals the server-reflexive one only, without a related
 * address: its host address appears in nothing it signals. Nor does A
 * pair with B's host candidates: with no other way between them (A's
 * public address is unreachable), the link fails where "all" came up host
 * to host, and it fails cleanly (ICE failure or connect timeout). */
GST_START_TEST (test_no_host_reveals_no_host_address)
{
  FakeStun stun = { 0, };
  Pair *pair;

  fake_stun_start (&stun);
  pair = pair_new_behind_nat (&stun, MESH_PEER_CANDIDATES_ALL);
  pair_start (pair);
  pair_wait_ready (pair);
  WAIT_FOR (pair->context, pair->a.gathering_done, 5000);
  fail_unless (signalled (&pair->a, " typ host"));
  fail_unless (signalled (&pair->a, NAT_ADDRESS));
  fail_unless (signalled (&pair->a, " raddr 127.0.0.1"));
  g_source_destroy (stun.source);
  g_clear_pointer (&stun.source, g_source_unref);
  pair_free (pair);

  pair = pair_new_behind_nat (&stun, MESH_PEER_CANDIDATES_NO_HOST);
  pair_start (pair);
  WAIT_FOR (pair->context, pair->a.n_closed && pair->b.n_closed, 20000);
  fail_unless (pair->a.gathering_done);
  fail_unless (signalled (&pair->a, NAT_ADDRESS " "));
  fail_if (signalled (&pair->a, " typ host"));
  fail_if (signalled (&pair->a, "127.0.0.1"), "host address signalled");
  fail_if (pair->a.ready || pair->b.ready);
  fail_unless_equals_int (pair->a.n_closed, 1);
  fail_unless (g_error_matches (pair->a.reason, MESH_PEER_CONNECTION_ERROR,
          MESH_PEER_CONNECTION_ERROR_TRANSPORT_FAILED)
      || g_error_matches (pair->a.reason, MESH_PEER_CONNECTION_ERROR,
          MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT), "%s",
      pair->a.reason->message);
  pair_free (pair);
  fake_stun_stop (&stun);
}

GST_END_TEST;

/* relay-only without a TURN server: the link ends at start(), saying why,
 * and signals nothing; the same link with "all" comes up. */
GST_START_TEST (test_relay_only_needs_turn)
{
  MeshPeerConnectParams pa = default_params ("peer-a", "peer-b", TRUE);
  MeshPeerConnectParams pb = default_params ("peer-b", "peer-a", FALSE);
  Pair *pair;

  pair = pair_new_connect (&pa, &pb);
  pair_start (pair);
  pair_wait_ready (pair);
  pair_free (pair);

  pa.candidate_policy = MESH_PEER_CANDIDATES_RELAY_ONLY;
  pair = pair_new_connect (&pa, &pb);
  pair_start (pair);
  WAIT_FOR (pair->context, pair->a.n_closed, 5000);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_CONFIG,
      MESH_WIRE_CLOSE_UNSPECIFIED);
  fail_unless (strstr (pair->a.reason->message, "TURN") != NULL, "%s",
      pair->a.reason->message);
  fail_unless_equals_int (pair->a.n_candidates_out, 0);
  fail_if (pair->b.ready);
  pair_free (pair);
}

GST_END_TEST;

/* The signalling says B's certificate is another one: A refuses B's, and
 * the link never connects. */
GST_START_TEST (test_wrong_fingerprint)
{
  Pair *pair = pair_new ();
  GError *err = NULL;
  MeshQuicCredentials *other = mesh_quic_credentials_new (&err);

  fail_unless (other != NULL);
  pair->b.tamper_fingerprint =
      g_strdup (mesh_quic_credentials_get_fingerprint (other));
  mesh_quic_credentials_unref (other);
  pair_start (pair);
  WAIT_FOR (pair->context, pair->a.n_closed && pair->b.n_closed, 20000);
  fail_if (pair->a.ready || pair->b.ready);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_REJECTED,
      MESH_WIRE_CLOSE_UNSPECIFIED);
  fail_unless (strstr (pair->a.reason->message, "QUIC") != NULL, "%s",
      pair->a.reason->message);
  fail_unless_equals_int (pair->b.n_closed, 1);
  fail_if (g_error_matches (pair->b.reason, MESH_PEER_CONNECTION_ERROR,
          MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT), "B: %s",
      pair->b.reason->message);
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_wrong_swarm)
{
  MeshQuicLinkConfig ca = default_config ("peer-a");
  MeshQuicLinkConfig cb = default_config ("peer-b");
  Pair *pair;

  cb.swarm_id = "swarm-2";
  pair = pair_new_full (&ca, &cb);
  pair_start (pair);
  WAIT_FOR (pair->context, pair->a.n_closed && pair->b.n_closed, 20000);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_REJECTED,
      MESH_WIRE_CLOSE_WRONG_SWARM);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REJECTED,
      MESH_WIRE_CLOSE_WRONG_SWARM);
  pair_free (pair);
}

GST_END_TEST;

/* B serves a 2 MB segment over 32 DATA frames on the transfer's stream. */
GST_START_TEST (test_bulk_transfer)
{
  Pair *pair = pair_new ();
  Transfer *t = &pair->a.transfers[0];

  pair->b.serve = TRUE;
  pair_start (pair);
  pair_wait_ready (pair);
  send_frame (&pair->a, mesh_wire_encode_request (1, 42, 0, 0, 0));
  WAIT_FOR (pair->context, t->ended || pair->a.n_closed, 20000);
  fail_unless (t->ended);
  fail_unless (transfer_is_bulk (t), "got %u bytes", t->bytes->len);
  {
    MeshQuicStats stats;

    mesh_quic_link_get_stats (pair->a.link, &stats);
    fail_unless (stats.stream_bytes_received >= BULK_SIZE);
  }
  /* both directions ended: the stream is gone on both sides */
  WAIT_FOR (pair->context,
      mesh_quic_link_count_streams_for_test (pair->a.link) == 1
      && mesh_quic_link_count_streams_for_test (pair->b.link) == 1, 5000);
  fail_unless_equals_int (mesh_quic_link_count_streams_for_test
      (pair->a.link), 1);
  fail_unless_equals_int (mesh_quic_link_count_streams_for_test
      (pair->b.link), 1);
  fail_unless_equals_int (mesh_peer_connection_get_send_queue_size (conn
          (&pair->b)), 0);
  pair_free (pair);
}

GST_END_TEST;

/* Two transfers at once, each on its stream; cancelling one leaves the
 * other whole. */
GST_START_TEST (test_concurrent_and_cancel)
{
  Pair *pair = pair_new ();
  Transfer *t1 = &pair->a.transfers[0];
  Transfer *t2 = &pair->a.transfers[1];
  Transfer *t3 = &pair->a.transfers[2];

  pair->b.serve = TRUE;
  pair_start (pair);
  pair_wait_ready (pair);
  send_frame (&pair->a, mesh_wire_encode_request (1, 42, 0, 0, 0));
  send_frame (&pair->a, mesh_wire_encode_request (2, 43, 0, 0, 0));
  send_frame (&pair->a, mesh_wire_encode_request (3, 44, 0, 0, 0));
  /* 3 is cancelled at once, 1 as soon as some of it arrived */
  send_frame (&pair->a, mesh_wire_encode_cancel (3));
  WAIT_FOR (pair->context, t1->bytes->len > 0 || pair->a.n_closed, 10000);
  fail_unless (t1->bytes->len > 0);
  fail_if (t1->ended);
  send_frame (&pair->a, mesh_wire_encode_cancel (1));
  WAIT_FOR (pair->context, t2->ended || pair->a.n_closed, 20000);
  fail_unless (t2->ended);
  fail_unless (transfer_is_bulk (t2));
  WAIT_FOR (pair->context, pair->b.n_cancels == 2, 5000);
  fail_unless_equals_int (pair->b.n_cancels, 2);
  fail_if (t1->ended);
  fail_if (t3->ended);
  fail_unless_equals_int (t3->bytes->len, 0);
  /* every stream but control ends on both sides */
  WAIT_FOR (pair->context,
      mesh_quic_link_count_streams_for_test (pair->a.link) == 1
      && mesh_quic_link_count_streams_for_test (pair->b.link) == 1, 5000);
  fail_unless_equals_int (mesh_quic_link_count_streams_for_test
      (pair->a.link), 1);
  fail_unless_equals_int (mesh_quic_link_count_streams_for_test
      (pair->b.link), 1);
  fail_unless_equals_int (pair->a.n_closed + pair->b.n_closed, 0);
  /* frames of forgotten transfers are dropped, not errors */
  send_frame (&pair->a, mesh_wire_encode_cancel (1));
  send_frame (&pair->b, mesh_wire_encode_end (2, BULK_SIZE));
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_remote_close)
{
  Pair *pair = pair_new ();
  GBytes *f = mesh_wire_encode_cancel (3);

  pair_start (pair);
  pair_wait_ready (pair);
  mesh_peer_connection_close (conn (&pair->a), MESH_WIRE_CLOSE_GOING_AWAY,
      "bye");
  /* at once for the closing side, once only; nothing more after */
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_LOCAL,
      MESH_WIRE_CLOSE_GOING_AWAY);
  mesh_peer_connection_close (conn (&pair->a), MESH_WIRE_CLOSE_BUSY, "again");
  fail_unless_equals_int (pair->a.n_closed, 1);
  fail_if (mesh_peer_connection_send (conn (&pair->a), f));
  {
    JsonObject *empty = json_object_new ();

    mesh_peer_connection_handle_signal (conn (&pair->a), empty);
    json_object_unref (empty);
  }
  fail_unless_equals_int (mesh_quic_transport_count_lingering
      (pair->a.transport), 1);
  WAIT_FOR (pair->context, pair->b.n_closed, 5000);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_GOING_AWAY);
  fail_unless (strstr (pair->b.reason->message, "bye") != NULL);
  fail_unless (pair->b.closed_at - pair->a.closed_at < G_USEC_PER_SEC);
  fail_if (mesh_peer_connection_send (conn (&pair->b), f));
  g_bytes_unref (f);
  /* both drain by themselves */
  WAIT_FOR (pair->context, count_lingering (pair) == 0, 5000);
  fail_unless_equals_int (count_lingering (pair), 0);
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_idle_timeout)
{
  MeshQuicLinkConfig ca = default_config ("peer-a");
  MeshQuicLinkConfig cb = default_config ("peer-b");
  Pair *pair;
  gint64 start;

  ca.idle_timeout_ms = 900;
  cb.idle_timeout_ms = 60000;
  pair = pair_new_full (&ca, &cb);
  pair_start (pair);
  pair_wait_ready (pair);
  /* B keeps acknowledging QUIC packets but sends no frame */
  mesh_quic_link_set_silent_for_test (pair->b.link, TRUE);
  start = g_get_monotonic_time ();
  WAIT_FOR (pair->context, pair->a.n_closed, 5000);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_IDLE_TIMEOUT,
      MESH_WIRE_CLOSE_TIMEOUT);
  fail_unless (g_get_monotonic_time () - start >= 500 * 1000);
  WAIT_FOR (pair->context, pair->b.n_closed, 5000);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_TIMEOUT);
  pair_free (pair);
}

GST_END_TEST;

/* A link whose remote takes nothing (silent here: nothing leaves) does
 * not queue without end: past MESH_PEER_CONNECTION_MAX_QUEUE it closes. */
GST_START_TEST (test_send_queue_bounded)
{
  Pair *pair = pair_new ();
  MeshWireHaveEntry entries[MESH_WIRE_MAX_KEYS];
  guint i, sent = 0;

  pair_start (pair);
  pair_wait_ready (pair);
  mesh_quic_link_set_silent_for_test (pair->a.link, TRUE);
  for (i = 0; i < MESH_WIRE_MAX_KEYS; i++) {
    entries[i].key = i + 1;
    entries[i].size = 1000;
  }
  /* 6 KiB a frame: twice the bound's worth */
  while (!pair->a.n_closed && sent < 2 * MESH_PEER_CONNECTION_MAX_QUEUE) {
    GBytes *have = mesh_wire_encode_have (entries, MESH_WIRE_MAX_KEYS);

    sent += g_bytes_get_size (have);
    mesh_peer_connection_send (MESH_PEER_CONNECTION (pair->a.link), have);
    g_bytes_unref (have);
    fail_unless (mesh_peer_connection_get_send_queue_size
        (MESH_PEER_CONNECTION (pair->a.link)) <=
        MESH_PEER_CONNECTION_MAX_QUEUE);
    g_main_context_iteration (pair->context, FALSE);
  }
  WAIT_FOR (pair->context, pair->a.n_closed, 5000);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
      MESH_WIRE_CLOSE_TIMEOUT);
  pair_free (pair);
}

GST_END_TEST;

/* Undecodable bytes on the control stream. */
GST_START_TEST (test_garbage_on_control)
{
  Pair *pair = pair_new ();
  const guint8 garbage[] = { 0, 0, 0, 5, 99, 1, 2, 3, 4 };

  pair_start (pair);
  pair_wait_ready (pair);
  fail_unless (mesh_quic_link_send_raw_for_test (pair->a.link, garbage,
          sizeof (garbage)));
  WAIT_FOR (pair->context, pair->b.n_closed && pair->a.n_closed, 5000);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
      MESH_WIRE_CLOSE_PROTOCOL);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_PROTOCOL);
  pair_free (pair);
}

GST_END_TEST;

/* Well-formed frames out of place: a control frame opening a transfer
 * stream, DATA on the control stream, a second HELLO. */
GST_START_TEST (test_frames_out_of_place)
{
  GBytes *frames[3];
  guint i;

  frames[0] = mesh_wire_encode_have (NULL, 0);
  frames[1] = mesh_wire_encode_data (1, 0, g_bytes_new_static ("x", 1));
  frames[2] = mesh_wire_encode_hello (0, "swarm-1", "peer-a");
  for (i = 0; i < G_N_ELEMENTS (frames); i++) {
    Pair *pair = pair_new ();
    gsize size;
    const guint8 *data = g_bytes_get_data (frames[i], &size);

    pair_start (pair);
    pair_wait_ready (pair);
    if (i == 0)
      fail_unless (mesh_quic_link_send_raw_stream_for_test (pair->a.link,
              data, size));
    else
      fail_unless (mesh_quic_link_send_raw_for_test (pair->a.link, data, size));
    WAIT_FOR (pair->context, pair->b.n_closed, 5000);
    assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
        MESH_WIRE_CLOSE_PROTOCOL);
    pair_free (pair);
    g_bytes_unref (frames[i]);
  }
}

GST_END_TEST;

/* Dropping a link without close() still tells the peer and drains. */
GST_START_TEST (test_finalize_during_transfer)
{
  Pair *pair = pair_new ();
  Transfer *t = &pair->a.transfers[0];

  pair->b.serve = TRUE;
  pair_start (pair);
  pair_wait_ready (pair);
  send_frame (&pair->a, mesh_wire_encode_request (1, 42, 0, 0, 0));
  WAIT_FOR (pair->context, t->bytes->len > 0, 10000);
  g_clear_object (&pair->b.link);
  WAIT_FOR (pair->context, pair->a.n_closed, 5000);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_GOING_AWAY);
  pair_free (pair);
}

GST_END_TEST;

/* A expected someone else; B is happy with A. */
GST_START_TEST (test_wrong_peer_id)
{
  MeshQuicLinkConfig ca = default_config ("peer-a");
  MeshQuicLinkConfig cb = default_config ("peer-b");
  Pair *pair;

  pair = pair_new_ids (RELAY_DIRECT, &ca, &cb, "peer-x", "peer-a");
  pair_start (pair);
  WAIT_FOR (pair->context, pair->a.n_closed && pair->b.n_closed, 20000);
  fail_if (pair->a.ready);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_REJECTED,
      MESH_WIRE_CLOSE_UNSPECIFIED);
  fail_unless (strstr (pair->a.reason->message, "peer-b") != NULL);
  /* B saw A's HELLO first, then A's ERROR */
  fail_unless (pair->b.ready);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_UNSPECIFIED);
  pair_free (pair);
}

GST_END_TEST;

static void
inject_bad_signals (Side * side)
{
  static const gchar *const bad[] = {
    "{}",
    "{\"kind\":42}",
    "{\"kind\":\"what\"}",
    /* a set-up kind this transport does not speak */
    "{\"kind\":\"credentials\",\"ufrag\":\"abcd\",\"pwd\":\"x\"}",
    "{\"kind\":\"quic-offer\"}",
    "{\"kind\":\"quic-offer\",\"ufrag\":\"abcd\"}",
    "{\"kind\":\"quic-offer\",\"ufrag\":[],\"pwd\":\"x\"}",
    /* no fingerprint, a malformed one, another hash */
    "{\"kind\":\"quic-offer\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef"
        "01234567\",\"alpn\":\"gst-mesh/2\"}",
    "{\"kind\":\"quic-offer\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef"
        "01234567\",\"alpn\":\"gst-mesh/2\",\"fingerprint\":\"sha-256 zz\"}",
    "{\"kind\":\"quic-offer\",\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdef"
        "01234567\",\"alpn\":\"gst-mesh/2\",\"fingerprint\":\"sha-1 AB:CD\"}",
    "{\"kind\":\"candidate\"}",
    "{\"kind\":\"candidate\",\"sdp\":17}",
    "{\"kind\":\"candidate\",\"sdp\":\"a=candidate:garbage\"}",
    "{\"kind\":\"candidate\",\"sdp\":\"hello\"}",
    /* component 2 does not exist */
    "{\"kind\":\"candidate\",\"sdp\":\"a=candidate:1 2 UDP 2013266431 "
        "127.0.0.1 9 typ host\"}",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    JsonNode *node = json_from_string (bad[i], NULL);

    fail_unless (node != NULL, "%s", bad[i]);
    mesh_peer_connection_handle_signal (conn (side),
        json_node_get_object (node));
    json_node_unref (node);
  }
  mesh_peer_connection_handle_signal (conn (side), NULL);
}

/* Remote candidates before the remote offer (and before start), and
 * malformed signals, which must change nothing. */
GST_START_TEST (test_reordered_signalling)
{
  Pair *pair = pair_new_mode (RELAY_OFFER_LAST);

  inject_bad_signals (&pair->a);
  inject_bad_signals (&pair->b);
  /* B gets all of A's candidates before it even starts */
  mesh_peer_connection_start (conn (&pair->a));
  WAIT_FOR (pair->context, pair->a.gathering_done
      && pair->a.held_offer == NULL, 5000);
  fail_unless (pair->a.gathering_done);
  fail_unless (pair->a.n_candidates_out > 0);
  fail_unless_equals_int (pair->b.n_closed, 0);
  mesh_peer_connection_start (conn (&pair->b));
  pair_wait_ready (pair);
  fail_unless (mesh_peer_connection_get_remote_uploads (conn (&pair->b)));
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_connect_timeout)
{
  MeshQuicLinkConfig ca = default_config ("peer-a");
  MeshQuicLinkConfig cb = default_config ("peer-b");
  Pair *pair;
  gint64 start;

  ca.connect_timeout_ms = cb.connect_timeout_ms = 400;
  pair = pair_new_ids (RELAY_NONE, &ca, &cb, "peer-b", "peer-a");
  start = g_get_monotonic_time ();
  pair_start (pair);
  WAIT_FOR (pair->context, pair->a.n_closed && pair->b.n_closed, 5000);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT,
      MESH_WIRE_CLOSE_TIMEOUT);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT,
      MESH_WIRE_CLOSE_TIMEOUT);
  fail_unless (pair->a.closed_at - start >= 390 * 1000);
  fail_unless (pair->a.closed_at - start < 1500 * 1000);
  fail_unless (pair->b.closed_at - start < 1500 * 1000);
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_rtt)
{
  Pair *pair = pair_new ();

  pair_start (pair);
  pair_wait_ready (pair);
  /* the first PING leaves as soon as connected */
  WAIT_FOR (pair->context, mesh_peer_connection_get_rtt (conn (&pair->a)) >= 0
      && mesh_peer_connection_get_rtt (conn (&pair->b)) >= 0, 5000);
  fail_unless (mesh_peer_connection_get_rtt (conn (&pair->a)) >= 0);
  fail_unless (mesh_peer_connection_get_rtt (conn (&pair->b)) >= 0);
  fail_unless (mesh_peer_connection_get_rtt (conn (&pair->a)) < G_USEC_PER_SEC);
  /* PING and PONG are not frames for the owner */
  fail_unless_equals_int (pair->a.frames->len, 0);
  fail_unless_equals_int (pair->b.frames->len, 0);
  pair_free (pair);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Dropping links */

GST_START_TEST (test_finalize_connecting)
{
  Pair *pair;

  /* right after start, with gathering under way */
  pair = pair_new ();
  pair_start (pair);
  g_clear_object (&pair->a.link);
  g_clear_object (&pair->b.link);
  pair_free (pair);

  /* in the middle of the connectivity checks */
  pair = pair_new ();
  pair_start (pair);
  g_main_context_iteration (pair->context, FALSE);
  g_main_context_iteration (pair->context, FALSE);
  g_clear_object (&pair->a.link);
  WAIT_FOR (pair->context, FALSE, 100);
  g_clear_object (&pair->b.link);
  fail_unless_equals_int (pair->a.n_closed, 0);
  pair_free (pair);

  /* never started */
  pair = pair_new ();
  pair_free (pair);
}

GST_END_TEST;

/* Handlers that drop the link they are called for. */
static void
unref_on_closed (MeshPeerConnection * c, GError * reason, Side * side)
{
  g_clear_object (&side->link);
}

GST_START_TEST (test_unref_in_closed_handler)
{
  static const guint8 garbage[] = { 0, 0, 0, 0 };
  Pair *pair = pair_new ();

  pair_start (pair);
  pair_wait_ready (pair);
  g_signal_connect (pair->a.link, "closed", G_CALLBACK (unref_on_closed),
      &pair->a);
  g_signal_connect (pair->b.link, "closed", G_CALLBACK (unref_on_closed),
      &pair->b);
  /* B closes from inside its stream callback, A from the ERROR it gets */
  fail_unless (mesh_quic_link_send_raw_for_test (pair->a.link, garbage,
          sizeof (garbage)));
  WAIT_FOR (pair->context, pair->a.link == NULL && pair->b.link == NULL, 5000);
  fail_unless (pair->b.link == NULL);
  fail_unless (pair->a.link == NULL);
  pair_free (pair);
}

GST_END_TEST;

/* The lingering connections of closed links belong to their transport:
 * another transport's shutdown leaves them alone, their own ends them at
 * once, and a transport lives on while its links linger. */
GST_START_TEST (test_lingering_per_transport)
{
  Pair *pair = pair_new ();
  gpointer weak_a;
  gint64 start;

  pair->b.serve = TRUE;
  pair_start (pair);
  pair_wait_ready (pair);
  send_frame (&pair->a, mesh_wire_encode_request (1, 42, 0, 0, 0));
  WAIT_FOR (pair->context, pair->a.transfers[0].bytes->len > 0, 10000);

  /* B dropped in the middle of a transfer: its connection lingers */
  g_clear_object (&pair->b.link);
  fail_unless_equals_int (mesh_quic_transport_count_lingering
      (pair->b.transport), 1);
  fail_unless_equals_int (mesh_quic_transport_count_lingering
      (pair->a.transport), 0);

  /* A's transport has nothing to end: B's linger is untouched */
  mesh_peer_transport_shutdown (MESH_PEER_TRANSPORT (pair->a.transport), 1000);
  fail_unless_equals_int (mesh_quic_transport_count_lingering
      (pair->b.transport), 1);

  start = g_get_monotonic_time ();
  mesh_peer_transport_shutdown (MESH_PEER_TRANSPORT (pair->b.transport), 2000);
  fail_unless_equals_int (mesh_quic_transport_count_lingering
      (pair->b.transport), 0);
  /* at once, not after a drain */
  fail_unless (g_get_monotonic_time () - start < 400 * G_TIME_SPAN_MILLISECOND);
  pair_free (pair);

  /* the owner lets go of the transport while a link lingers: the linger
   * keeps it until it is done */
  pair = pair_new ();
  pair_start (pair);
  pair_wait_ready (pair);
  g_clear_object (&pair->a.link);
  fail_unless_equals_int (mesh_quic_transport_count_lingering
      (pair->a.transport), 1);
  weak_a = pair->a.transport;
  g_object_add_weak_pointer (G_OBJECT (weak_a), &weak_a);
  g_clear_object (&pair->a.transport);
  fail_unless (weak_a != NULL);
  WAIT_FOR (pair->context, weak_a == NULL, 10000);
  fail_unless (weak_a == NULL);
  pair_free (pair);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Through a TURN relay (coturn) */

typedef struct
{
  GSubprocess *proc;
  GDataInputStream *out;
  GString *log;                 /* its last lines, for a failure message */
  gboolean relays;              /* "Total General servers": relays up */
  gboolean authenticates;       /* its user database open */
  gboolean eof;
  gchar *dir;
} Turn;

#define TURN_LOG_KEEP 4096

static void
on_turn_line (GObject * source, GAsyncResult * res, gpointer user_data)
{
  Turn *turn = user_data;
  gchar *line = g_data_input_stream_read_line_finish (turn->out, res, NULL,
      NULL);

  if (!line) {
    turn->eof = TRUE;
    return;
  }
  /* the relays are up at the first line, the auth threads that answer an
   * Allocate only once they opened the user database, a little later */
  if (strstr (line, "Total General servers"))
    turn->relays = TRUE;
  if (strstr (line, "DB connection success"))
    turn->authenticates = TRUE;
  g_string_append_printf (turn->log, "%s\n", line);
  if (turn->log->len > TURN_LOG_KEEP)
    g_string_erase (turn->log, 0, turn->log->len - TURN_LOG_KEEP);
  g_free (line);
  /* keep draining, or coturn blocks on a full pipe */
  g_data_input_stream_read_line_async (turn->out, G_PRIORITY_DEFAULT, NULL,
      on_turn_line, turn);
}

/* coturn cannot listen on port 0: take a free port from the OS. */
static guint
free_udp_port (void)
{
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
      G_SOCKET_PROTOCOL_UDP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0);
  GSocketAddress *bound;
  guint port;

  fail_unless (g_socket_bind (sock, addr, FALSE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  g_object_unref (sock);
  return port;
}

static gboolean
turn_start (Turn * turn, GMainContext * context, guint port)
{
  gchar *path = g_find_program_in_path ("turnserver");
  gchar *listen = g_strdup_printf ("--listening-port=%u", port);
  gchar *pidfile, *userdb;
  GError *err = NULL;

  if (!path)
    return FALSE;
  turn->dir = g_dir_make_tmp ("mesh-turn-XXXXXX", NULL);
  fail_unless (turn->dir != NULL);
  pidfile = g_strdup_printf ("--pidfile=%s/turn.pid", turn->dir);
  userdb = g_strdup_printf ("--userdb=%s/turndb", turn->dir);
  turn->proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_MERGE, &err, path, "-n",
      "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", listen,
      "--no-tls", "--no-dtls", "--no-cli", "--lt-cred-mech",
      "--user=mesh:secret", "--realm=mesh.test", "--allow-loopback-peers",
      "--log-file=stdout", "--simple-log", pidfile, userdb, NULL);
  fail_unless (turn->proc != NULL, "turnserver: %s", err ? err->message : "");
  turn->log = g_string_new (NULL);
  turn->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe
      (turn->proc));
  g_data_input_stream_read_line_async (turn->out, G_PRIORITY_DEFAULT, NULL,
      on_turn_line, turn);
  WAIT_FOR (context, (turn->relays && turn->authenticates) || turn->eof, 10000);
  fail_unless (turn->relays && turn->authenticates, "turnserver did not "
      "start; it printed:\n%s", turn->log->str);
  g_free (path);
  g_free (listen);
  g_free (pidfile);
  g_free (userdb);
  return TRUE;
}

static void
turn_stop (Turn * turn, GMainContext * context)
{
  gchar *file;

  g_subprocess_force_exit (turn->proc);
  WAIT_FOR (context, turn->eof, 10000);
  fail_unless (g_subprocess_wait (turn->proc, NULL, NULL));
  g_object_unref (turn->out);
  g_object_unref (turn->proc);
  g_string_free (turn->log, TRUE);
  file = g_build_filename (turn->dir, "turn.pid", NULL);
  g_unlink (file);
  g_free (file);
  file = g_build_filename (turn->dir, "turndb", NULL);
  g_unlink (file);
  g_free (file);
  g_rmdir (turn->dir);
  g_free (turn->dir);
}

/* Relayed candidates only: QUIC over TURN, a transfer across it. */
GST_START_TEST (test_turn_relay_only)
{
  MeshQuicLinkConfig ca = default_config ("peer-a");
  MeshQuicLinkConfig cb;
  GMainContext *context = g_main_context_new ();
  Turn turn = { 0 };
  guint port = free_udp_port ();
  Pair *pair;

  g_main_context_push_thread_default (context);
  if (!turn_start (&turn, context, port)) {
    g_print ("quic-link: turnserver not found, TURN test skipped\n");
    g_main_context_pop_thread_default (context);
    g_main_context_unref (context);
    return;
  }
  ca.turn_host = "127.0.0.1";
  ca.turn_port = port;
  ca.turn_user = "mesh";
  ca.turn_password = "secret";
  ca.candidate_policy = MESH_PEER_CANDIDATES_RELAY_ONLY;
  cb = ca;
  cb.local_peer_id = "peer-b";
  pair = pair_new_full (&ca, &cb);
  pair->b.serve = TRUE;
  pair_start (pair);
  pair_wait_ready_explained (pair, turn.log);
  fail_unless (pair->a.relay_candidate_out);
  /* libnice would name the relayed candidate's base, a host address */
  fail_if (signalled (&pair->a, " raddr "), "related address signalled");
  fail_if (signalled (&pair->a, " typ host"));
  fail_unless_equals_string (mesh_peer_connection_get_path_type (conn
          (&pair->a)), "relay");
  send_frame (&pair->a, mesh_wire_encode_request (1, 42, 0, 0, 0));
  WAIT_FOR (pair->context, pair->a.transfers[0].ended || pair->a.n_closed,
      20000);
  fail_unless (transfer_is_bulk (&pair->a.transfers[0]));
  pair_free (pair);

  /* the peer manager's way: the TURN server as a turn:// URL in the
   * connection parameters gives relayed candidates too (on A only) */
  {
    MeshPeerConnectParams pa = default_params ("peer-a", "peer-b", TRUE);
    MeshPeerConnectParams pb = default_params ("peer-b", "peer-a", FALSE);
    gchar *url = g_strdup_printf ("turn://mesh:secret@127.0.0.1:%u", port);

    pa.turn_server = url;
    pair = pair_new_connect (&pa, &pb);
    pair_start (pair);
    pair_wait_ready_explained (pair, turn.log);
    WAIT_FOR (pair->context, pair->a.gathering_done, 5000);
    fail_unless (pair->a.relay_candidate_out);
    fail_if (pair->b.relay_candidate_out);
    pair_free (pair);

    /* no-host on both sides: they meet through the relay, and neither
     * signals a host address */
    pa.candidate_policy = pb.candidate_policy = MESH_PEER_CANDIDATES_NO_HOST;
    pb.turn_server = url;
    pair = pair_new_connect (&pa, &pb);
    pair_start (pair);
    pair_wait_ready_explained (pair, turn.log);
    WAIT_FOR (pair->context, pair->a.gathering_done
        && pair->b.gathering_done, 5000);
    fail_unless (pair->a.relay_candidate_out && pair->b.relay_candidate_out);
    fail_if (signalled (&pair->a, " typ host")
        || signalled (&pair->b, " typ host"));
    fail_if (signalled (&pair->a, " raddr ") || signalled (&pair->b,
            " raddr "));
    fail_unless_equals_string (mesh_peer_connection_get_path_type (conn
            (&pair->a)), "relay");
    pair_free (pair);
    g_free (url);
  }

  turn_stop (&turn, context);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

GST_END_TEST;

static Suite *
quic_link_suite (void)
{
  Suite *s = suite_create ("quic-link");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_connect_and_exchange);
  tcase_add_test (tc, test_transport_interface);
  tcase_add_test (tc, test_congestion_control_through_connect);
  tcase_add_test (tc, test_transport_close_connecting);
  tcase_add_test (tc, test_transport_refuses_bad_ids);
  tcase_add_test (tc, test_stun_server_through_connect);
  tcase_add_test (tc, test_unusable_local_settings);
  tcase_add_test (tc, test_no_host_reveals_no_host_address);
  tcase_add_test (tc, test_relay_only_needs_turn);
  tcase_add_test (tc, test_wrong_fingerprint);
  tcase_add_test (tc, test_wrong_swarm);
  tcase_add_test (tc, test_wrong_peer_id);
  tcase_add_test (tc, test_reordered_signalling);
  tcase_add_test (tc, test_connect_timeout);
  tcase_add_test (tc, test_rtt);
  tcase_add_test (tc, test_bulk_transfer);
  tcase_add_test (tc, test_concurrent_and_cancel);
  tcase_add_test (tc, test_remote_close);
  tcase_add_test (tc, test_idle_timeout);
  tcase_add_test (tc, test_send_queue_bounded);
  tcase_add_test (tc, test_garbage_on_control);
  tcase_add_test (tc, test_frames_out_of_place);
  tcase_add_test (tc, test_finalize_during_transfer);
  tcase_add_test (tc, test_finalize_connecting);
  tcase_add_test (tc, test_unref_in_closed_handler);
  tcase_add_test (tc, test_lingering_per_transport);
  tcase_add_test (tc, test_turn_relay_only);
  return s;
}

GST_CHECK_MAIN (quic_link);
