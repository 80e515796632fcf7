/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of MeshPeerLink and MeshNiceTransport (ext/mesh/p2p/mesh-peer-link.
 * [ch]): two links in one process, both on 127.0.0.1, each made by its own
 * transport (as two viewers would), their signalling relayed by the test.
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

#include "p2p/mesh-peer-link.h"

#include "mesh-test-wait.h"

#define TOTAL_BULK (4 * 1024 * 1024)
#define BULK_REQUEST 7
#define MAX_QUEUED (256 * 1024)

typedef enum
{
  RELAY_DIRECT,                 /* every message at once */
  RELAY_CREDENTIALS_LAST,       /* candidates first, credentials after
                                 * end-of-candidates, from an idle */
  RELAY_NONE,                   /* nothing: never connects */
} RelayMode;

typedef struct _Pair Pair;

typedef struct
{
  Pair *pair;
  MeshNiceTransport *transport;
  MeshPeerLink *link;
  gboolean ready;
  guint n_closed;
  GError *reason;
  gint64 closed_at;
  guint n_writable;
  GPtrArray *frames;            /* GBytes: each received frame, re-encoded */
  GByteArray *bulk;             /* DATA of BULK_REQUEST, in order */
  gboolean bulk_out_of_order;
  gboolean bulk_ended;
  GQueue held;                  /* JsonObject: credentials held back */
  guint n_candidates_out;
  gboolean relay_candidate_out;
  gboolean gathering_done;
} Side;

struct _Pair
{
  GMainContext *context;
  RelayMode mode;
  Side a, b;
};

/* ------------------------------------------------------------------------ */
/* Helpers */

/* Iterates @ctx until @cond holds or @ms pass. */
#define WAIT_FOR(ctx, cond, ms) MESH_TEST_ITERATE_UNTIL (ctx, cond, ms)

static Side *
other_side (Side * side)
{
  return side == &side->pair->a ? &side->pair->b : &side->pair->a;
}

static gboolean
deliver_held (gpointer user_data)
{
  Side *to = user_data;
  Side *from = other_side (to);
  JsonObject *data;

  while ((data = g_queue_pop_head (&from->held))) {
    if (to->link)
      mesh_peer_link_handle_signal (to->link, data);
    json_object_unref (data);
  }
  return G_SOURCE_REMOVE;
}

static void
on_signal_out (MeshPeerLink * link, JsonObject * data, Side * side)
{
  Side *to = other_side (side);
  const gchar *kind = json_object_get_string_member (data, "kind");

  fail_unless (kind != NULL);
  if (strcmp (kind, "candidate") == 0) {
    fail_unless (g_str_has_prefix (json_object_get_string_member (data,
                "sdp"), "a=candidate:"));
    fail_if (side->gathering_done);
    side->n_candidates_out++;
    if (strstr (json_object_get_string_member (data, "sdp"), " typ relay"))
      side->relay_candidate_out = TRUE;
  } else if (strcmp (kind, "end-of-candidates") == 0) {
    fail_if (side->gathering_done);
    side->gathering_done = TRUE;
  } else {
    fail_unless_equals_string (kind, "credentials");
    /* the first message of each side */
    fail_unless_equals_int (side->n_candidates_out, 0);
    fail_unless (json_object_get_string_member (data, "ufrag") != NULL);
    fail_unless (json_object_get_string_member (data, "pwd") != NULL);
  }
  switch (side->pair->mode) {
    case RELAY_NONE:
      return;
    case RELAY_DIRECT:
      break;
    case RELAY_CREDENTIALS_LAST:
      if (strcmp (kind, "credentials") == 0) {
        g_queue_push_tail (&side->held, json_object_ref (data));
        return;
      }
      if (strcmp (kind, "end-of-candidates") == 0) {
        GSource *idle = g_idle_source_new ();

        g_source_set_callback (idle, deliver_held, to, NULL);
        g_source_attach (idle, side->pair->context);
        g_source_unref (idle);
      }
      break;
  }
  if (to->link)
    mesh_peer_link_handle_signal (to->link, data);
}

static void
on_ready (MeshPeerLink * link, Side * side)
{
  fail_unless (!side->ready);
  fail_unless_equals_int (mesh_peer_link_get_state (link),
      MESH_PEER_CONNECTION_CONNECTED);
  side->ready = TRUE;
}

static void
on_frame (MeshPeerLink * link, const MeshWireFrame * f, Side * side)
{
  if (f->type == MESH_WIRE_TYPE_DATA && f->data.request_id == BULK_REQUEST) {
    gsize size;
    const guint8 *data = g_bytes_get_data (f->data.bytes, &size);

    if (f->data.offset != side->bulk->len)
      side->bulk_out_of_order = TRUE;
    g_byte_array_append (side->bulk, data, size);
    return;
  }
  if (f->type == MESH_WIRE_TYPE_END && f->end.request_id == BULK_REQUEST)
    side->bulk_ended = TRUE;
  g_ptr_array_add (side->frames, mesh_wire_encode (f));
}

static void
on_writable (MeshPeerLink * link, Side * side)
{
  fail_unless (mesh_peer_link_get_send_queue_size (link) <
      MESH_PEER_CONNECTION_LOW_WATER);
  side->n_writable++;
}

static void
on_closed (MeshPeerLink * link, GError * reason, Side * side)
{
  fail_unless (reason != NULL);
  fail_unless (reason->domain == MESH_PEER_CONNECTION_ERROR);
  fail_unless_equals_int (mesh_peer_link_get_state (link),
      MESH_PEER_CONNECTION_CLOSED);
  side->n_closed++;
  g_clear_error (&side->reason);
  side->reason = g_error_copy (reason);
  side->closed_at = g_get_monotonic_time ();
}

static MeshPeerLinkConfig
default_config (const gchar * peer_id)
{
  MeshPeerLinkConfig config = {
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
  g_signal_connect (side->link, "connected", G_CALLBACK (on_ready), side);
  g_signal_connect (side->link, "frame", G_CALLBACK (on_frame), side);
  g_signal_connect (side->link, "writable", G_CALLBACK (on_writable), side);
  g_signal_connect (side->link, "closed", G_CALLBACK (on_closed), side);
}

static void
side_init_common (Pair * pair, Side * side)
{
  side->pair = pair;
  side->frames = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_bytes_unref);
  side->bulk = g_byte_array_new ();
  g_queue_init (&side->held);
  side->transport = mesh_nice_transport_new (pair->context);
}

static void
side_init (Pair * pair, Side * side, const MeshPeerLinkConfig * config,
    const gchar * remote_id, gboolean controlling)
{
  side_init_common (pair, side);
  side->link = mesh_peer_link_new (side->transport, config, remote_id,
      controlling);
  fail_unless (side->link != NULL);
  side_connect_signals (side);
}

/* Through the MeshPeerTransport interface, as the peer manager does. */
static void
side_init_connect (Pair * pair, Side * side,
    const MeshPeerConnectParams * params)
{
  MeshPeerConnection *conn;

  side_init_common (pair, side);
  conn = mesh_peer_transport_connect (MESH_PEER_TRANSPORT (side->transport),
      params);
  fail_unless (MESH_IS_PEER_LINK (conn));
  side->link = MESH_PEER_LINK (conn);
  side_connect_signals (side);
}

/* A ("peer-a", controlling, uploads) and B ("peer-b"); @a_expects and
 * @b_expects: the remote ids they are told to expect. */
static Pair *
pair_new_full (RelayMode mode, const MeshPeerLinkConfig * ca,
    const MeshPeerLinkConfig * cb, const gchar * a_expects,
    const gchar * b_expects)
{
  Pair *pair = g_new0 (Pair, 1);

  pair->context = g_main_context_new ();
  g_main_context_push_thread_default (pair->context);
  pair->mode = mode;
  side_init (pair, &pair->a, ca, a_expects, TRUE);
  side_init (pair, &pair->b, cb, b_expects, FALSE);
  return pair;
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
  Pair *pair = g_new0 (Pair, 1);

  pair->context = g_main_context_new ();
  g_main_context_push_thread_default (pair->context);
  pair->mode = RELAY_DIRECT;
  side_init_connect (pair, &pair->a, pa);
  side_init_connect (pair, &pair->b, pb);
  return pair;
}

static Pair *
pair_new (RelayMode mode)
{
  MeshPeerLinkConfig ca = default_config ("peer-a");
  MeshPeerLinkConfig cb = default_config ("peer-b");

  ca.upload = TRUE;
  return pair_new_full (mode, &ca, &cb, "peer-b", "peer-a");
}

static void
pair_start (Pair * pair)
{
  mesh_peer_link_start (pair->a.link);
  mesh_peer_link_start (pair->b.link);
}

static void
pair_wait_ready (Pair * pair)
{
  WAIT_FOR (pair->context, (pair->a.ready && pair->b.ready)
      || pair->a.n_closed || pair->b.n_closed, 20000);
  fail_unless (pair->a.ready, "A not ready: %s", pair->a.reason ?
      pair->a.reason->message : "timeout");
  fail_unless (pair->b.ready, "B not ready: %s", pair->b.reason ?
      pair->b.reason->message : "timeout");
}

static guint
count_lingering (Pair * pair)
{
  Side *sides[] = { &pair->a, &pair->b };
  guint i, n = 0;

  for (i = 0; i < G_N_ELEMENTS (sides); i++)
    if (sides[i]->transport)
      n += mesh_nice_transport_count_lingering (sides[i]->transport);
  return n;
}

/* The transport is freed once its lingering agents are. */
static void
side_clear_transport (Side * side)
{
  gpointer weak = side->transport;

  if (!side->transport)
    return;
  g_object_add_weak_pointer (G_OBJECT (side->transport), &weak);
  g_clear_object (&side->transport);
  fail_unless (weak == NULL, "transport still referenced");
}

static void
side_clear (Side * side)
{
  g_clear_object (&side->link);
  g_clear_error (&side->reason);
  g_ptr_array_unref (side->frames);
  g_byte_array_unref (side->bulk);
  g_queue_clear_full (&side->held, (GDestroyNotify) json_object_unref);
}

/* Also checks that every agent got freed. */
static void
pair_free (Pair * pair)
{
  side_clear (&pair->a);
  side_clear (&pair->b);
  WAIT_FOR (pair->context, count_lingering (pair) == 0, 10000);
  fail_unless_equals_int (count_lingering (pair), 0);
  side_clear_transport (&pair->a);
  side_clear_transport (&pair->b);
  /* let idles of the freed agents run */
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
  fail_unless_equals_int (mesh_peer_link_get_close_code (side->link), code);
}

static gboolean
frame_received (Side * side, GBytes * frame)
{
  guint i;

  for (i = 0; i < side->frames->len; i++)
    if (g_bytes_equal (g_ptr_array_index (side->frames, i), frame))
      return TRUE;
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Connecting */

static void
check_exchange (Pair * pair)
{
  MeshWireHaveEntry have[] = { {1, 1000}, {2, 2000} };
  GBytes *f1 = mesh_wire_encode_have (have, G_N_ELEMENTS (have));
  GBytes *f2 = mesh_wire_encode_request (1, 42, 0, 0);
  GBytes *f3 = mesh_wire_encode_end (1, 3000);
  const gchar *type;

  fail_unless_equals_string (mesh_peer_link_get_remote_peer_id (pair->a.link),
      "peer-b");
  fail_unless (mesh_peer_link_is_controlling (pair->a.link));
  fail_if (mesh_peer_link_is_controlling (pair->b.link));
  /* A uploads, B does not */
  fail_if (mesh_peer_link_remote_uploads (pair->a.link));
  fail_unless (mesh_peer_link_remote_uploads (pair->b.link));
  type = mesh_peer_link_get_selected_type (pair->a.link);
  fail_unless (type != NULL);
  fail_unless (g_strv_contains ((const gchar *[]) { "host", "prflx", NULL },
          type), "selected %s on loopback", type);

  fail_unless (mesh_peer_link_send (pair->a.link, f1));
  fail_unless (mesh_peer_link_send (pair->a.link, f2));
  fail_unless (mesh_peer_link_send (pair->b.link, f3));
  WAIT_FOR (pair->context, pair->b.frames->len == 2
      && pair->a.frames->len == 1, 5000);
  fail_unless_equals_int (pair->b.frames->len, 2);
  fail_unless_equals_int (pair->a.frames->len, 1);
  /* in order, byte for byte */
  fail_unless (g_bytes_equal (g_ptr_array_index (pair->b.frames, 0), f1));
  fail_unless (g_bytes_equal (g_ptr_array_index (pair->b.frames, 1), f2));
  fail_unless (g_bytes_equal (g_ptr_array_index (pair->a.frames, 0), f3));
  fail_unless (frame_received (&pair->a, f3));

  fail_unless (mesh_peer_link_get_bytes_sent (pair->a.link) >=
      g_bytes_get_size (f1) + g_bytes_get_size (f2));
  fail_unless (mesh_peer_link_get_bytes_received (pair->b.link) >=
      g_bytes_get_size (f1) + g_bytes_get_size (f2));
  fail_unless_equals_int (pair->a.n_closed, 0);
  fail_unless_equals_int (pair->b.n_closed, 0);

  g_bytes_unref (f1);
  g_bytes_unref (f2);
  g_bytes_unref (f3);
}

GST_START_TEST (test_connect_and_exchange)
{
  Pair *pair = pair_new (RELAY_DIRECT);

  fail_unless_equals_int (mesh_peer_link_get_state (pair->a.link),
      MESH_PEER_CONNECTION_CONNECTING);
  fail_unless (mesh_peer_link_get_selected_type (pair->a.link) == NULL);
  fail_unless_equals_int (mesh_peer_link_get_rtt (pair->a.link), -1);
  {
    /* nothing may be sent before READY */
    GBytes *f = mesh_wire_encode_cancel (1);
    GBytes *hello = mesh_wire_encode_hello (MESH_WIRE_HELLO_UPLOAD,
        "swarm-1", "peer-a");

    fail_if (mesh_peer_link_send (pair->a.link, f));
    /* only HELLO waits */
    fail_unless_equals_int (mesh_peer_link_get_send_queue_size (pair->a.link),
        g_bytes_get_size (hello));
    g_bytes_unref (hello);
    g_bytes_unref (f);
  }

  pair_start (pair);
  pair_wait_ready (pair);
  check_exchange (pair);
  pair_free (pair);
}

GST_END_TEST;

static void
inject_bad_signals (MeshPeerLink * link)
{
  static const gchar *const bad[] = {
    "{}",
    "{\"kind\":42}",
    "{\"kind\":\"what\"}",
    "{\"kind\":\"credentials\"}",
    "{\"kind\":\"credentials\",\"ufrag\":\"abcd\"}",
    "{\"kind\":\"credentials\",\"ufrag\":[],\"pwd\":\"x\"}",
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
    mesh_peer_link_handle_signal (link, json_node_get_object (node));
    json_node_unref (node);
  }
}

/* Remote candidates before the remote credentials (and before start), and
 * malformed signals, which must change nothing. */
GST_START_TEST (test_reordered_signalling)
{
  Pair *pair = pair_new (RELAY_CREDENTIALS_LAST);

  inject_bad_signals (pair->a.link);
  inject_bad_signals (pair->b.link);
  /* B gets all of A's candidates before it even starts */
  mesh_peer_link_start (pair->a.link);
  WAIT_FOR (pair->context, pair->a.gathering_done
      && g_queue_is_empty (&pair->a.held), 5000);
  fail_unless (pair->a.gathering_done);
  fail_unless (pair->a.n_candidates_out > 0);
  mesh_peer_link_start (pair->b.link);
  pair_wait_ready (pair);
  check_exchange (pair);
  pair_free (pair);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* HELLO checks */

GST_START_TEST (test_wrong_swarm)
{
  MeshPeerLinkConfig ca = default_config ("peer-a");
  MeshPeerLinkConfig cb = default_config ("peer-b");
  Pair *pair;

  cb.swarm_id = "swarm-2";
  pair = pair_new_full (RELAY_DIRECT, &ca, &cb, "peer-b", "peer-a");
  pair_start (pair);
  WAIT_FOR (pair->context, pair->a.n_closed && pair->b.n_closed, 20000);
  fail_if (pair->a.ready);
  fail_if (pair->b.ready);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_REJECTED,
      MESH_WIRE_CLOSE_WRONG_SWARM);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REJECTED,
      MESH_WIRE_CLOSE_WRONG_SWARM);
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_wrong_peer_id)
{
  MeshPeerLinkConfig ca = default_config ("peer-a");
  MeshPeerLinkConfig cb = default_config ("peer-b");
  Pair *pair;

  /* A expected someone else; B is happy with A */
  pair = pair_new_full (RELAY_DIRECT, &ca, &cb, "peer-x", "peer-a");
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

/* ------------------------------------------------------------------------ */
/* Bulk transfer */

typedef struct
{
  MeshPeerLink *link;
  GBytes *payload;
  gsize next;
  gboolean done;
} Pump;

/* Keeps at most MAX_QUEUED bytes queued; refilled on "writable". */
static void
pump (Pump * p)
{
  while (!p->done && mesh_peer_link_get_send_queue_size (p->link) < MAX_QUEUED) {
    gsize total = g_bytes_get_size (p->payload);
    gsize len = MIN (MESH_WIRE_MAX_CHUNK, total - p->next);
    GBytes *chunk, *frame;

    if (len == 0) {
      frame = mesh_wire_encode_end (BULK_REQUEST, total);
      p->done = TRUE;
    } else {
      chunk = g_bytes_new_from_bytes (p->payload, p->next, len);
      frame = mesh_wire_encode_data (BULK_REQUEST, p->next, chunk);
      g_bytes_unref (chunk);
      p->next += len;
    }
    fail_unless (mesh_peer_link_send (p->link, frame));
    g_bytes_unref (frame);
  }
}

static void
on_pump_writable (MeshPeerLink * link, Pump * p)
{
  pump (p);
}

static GBytes *
random_payload (gsize size, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  guint32 *words = g_new (guint32, size / 4);
  gsize i;

  for (i = 0; i < size / 4; i++)
    words[i] = g_rand_int (rand);
  g_rand_free (rand);
  return g_bytes_new_take (words, size);
}

GST_START_TEST (test_bulk_transfer)
{
  Pair *pair = pair_new (RELAY_DIRECT);
  Pump p = { 0 };
  gint64 start, elapsed;

  pair_start (pair);
  pair_wait_ready (pair);

  p.link = pair->a.link;
  p.payload = random_payload (TOTAL_BULK, 1234);
  g_signal_connect (p.link, "writable", G_CALLBACK (on_pump_writable), &p);
  start = g_get_monotonic_time ();
  pump (&p);
  /* the transport took only part of it: the rest waits in the queue */
  fail_unless (mesh_peer_link_get_send_queue_size (p.link) > 0);

  WAIT_FOR (pair->context, pair->b.bulk_ended || pair->a.n_closed
      || pair->b.n_closed, 100000);
  elapsed = g_get_monotonic_time () - start;
  fail_unless (pair->b.bulk_ended, "transfer incomplete: %u of %u bytes",
      pair->b.bulk->len, TOTAL_BULK);
  fail_if (pair->b.bulk_out_of_order);
  fail_unless_equals_int (pair->b.bulk->len, TOTAL_BULK);
  fail_unless (memcmp (pair->b.bulk->data, g_bytes_get_data (p.payload,
              NULL), TOTAL_BULK) == 0);
  /* the queue filled and drained: "writable" paced the sender */
  fail_unless (pair->a.n_writable > 0);
  fail_unless_equals_int (mesh_peer_link_get_send_queue_size (p.link), 0);
  fail_unless (mesh_peer_link_get_bytes_sent (pair->a.link) > TOTAL_BULK);
  fail_unless (mesh_peer_link_get_bytes_received (pair->b.link) > TOTAL_BULK);
  g_print ("peer-link: %d MiB over loopback in %.2f s: %.1f MiB/s "
      "(%u writable)\n", TOTAL_BULK >> 20, elapsed / 1e6,
      (TOTAL_BULK / 1048576.0) / (elapsed / 1e6), pair->a.n_writable);

  g_signal_handlers_disconnect_by_data (p.link, &p);
  g_bytes_unref (p.payload);
  pair_free (pair);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Liveness and closing */

GST_START_TEST (test_rtt)
{
  Pair *pair = pair_new (RELAY_DIRECT);

  pair_start (pair);
  pair_wait_ready (pair);
  /* the first PING leaves as soon as READY */
  WAIT_FOR (pair->context, mesh_peer_link_get_rtt (pair->a.link) >= 0
      && mesh_peer_link_get_rtt (pair->b.link) >= 0, 5000);
  fail_unless (mesh_peer_link_get_rtt (pair->a.link) >= 0);
  fail_unless (mesh_peer_link_get_rtt (pair->b.link) >= 0);
  fail_unless (mesh_peer_link_get_rtt (pair->a.link) < G_USEC_PER_SEC);
  /* PING and PONG are not frames for the owner */
  fail_unless_equals_int (pair->a.frames->len, 0);
  fail_unless_equals_int (pair->b.frames->len, 0);
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_close_reaches_remote)
{
  Pair *pair = pair_new (RELAY_DIRECT);
  GBytes *f = mesh_wire_encode_cancel (3);

  pair_start (pair);
  pair_wait_ready (pair);

  mesh_peer_link_close (pair->a.link, MESH_WIRE_CLOSE_GOING_AWAY, "bye");
  /* at once for the closing side, once only */
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_LOCAL,
      MESH_WIRE_CLOSE_GOING_AWAY);
  mesh_peer_link_close (pair->a.link, MESH_WIRE_CLOSE_BUSY, "again");
  fail_unless_equals_int (pair->a.n_closed, 1);
  fail_if (mesh_peer_link_send (pair->a.link, f));
  mesh_peer_link_handle_signal (pair->a.link, json_object_new ());

  WAIT_FOR (pair->context, pair->b.n_closed, 3000);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_GOING_AWAY);
  fail_unless (strstr (pair->b.reason->message, "bye") != NULL);
  fail_unless ((pair->b.closed_at - pair->a.closed_at) < G_USEC_PER_SEC);
  fail_if (mesh_peer_link_send (pair->b.link, f));
  g_bytes_unref (f);
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_connect_timeout)
{
  MeshPeerLinkConfig ca = default_config ("peer-a");
  MeshPeerLinkConfig cb = default_config ("peer-b");
  Pair *pair;
  gint64 start;

  ca.connect_timeout_ms = cb.connect_timeout_ms = 400;
  pair = pair_new_full (RELAY_NONE, &ca, &cb, "peer-b", "peer-a");
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

GST_START_TEST (test_idle_timeout)
{
  MeshPeerLinkConfig ca = default_config ("peer-a");
  MeshPeerLinkConfig cb = default_config ("peer-b");
  Pair *pair;
  gint64 silenced;

  ca.idle_timeout_ms = cb.idle_timeout_ms = 900;
  pair = pair_new_full (RELAY_DIRECT, &ca, &cb, "peer-b", "peer-a");
  pair_start (pair);
  pair_wait_ready (pair);

  /* PINGs keep an idle link alive past its timeout */
  WAIT_FOR (pair->context, pair->a.n_closed || pair->b.n_closed, 1500);
  fail_unless_equals_int (pair->a.n_closed, 0);
  fail_unless_equals_int (pair->b.n_closed, 0);

  /* B stops answering: A must give up after about 900 ms */
  mesh_peer_link_set_silent_for_test (pair->b.link, TRUE);
  silenced = g_get_monotonic_time ();
  WAIT_FOR (pair->context, pair->a.n_closed, 5000);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_IDLE_TIMEOUT,
      MESH_WIRE_CLOSE_TIMEOUT);
  fail_unless (pair->a.closed_at - silenced >= 500 * 1000);
  fail_unless (pair->a.closed_at - silenced < 2500 * 1000);
  /* B still hears, and gets A's ERROR */
  WAIT_FOR (pair->context, pair->b.n_closed, 3000);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_TIMEOUT);
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_garbage_received)
{
  static const guint8 garbage[] = { 0, 0, 0, 5, 0xee, 1, 2, 3, 4 };
  Pair *pair = pair_new (RELAY_DIRECT);

  pair_start (pair);
  pair_wait_ready (pair);

  mesh_peer_link_inject_received_for_test (pair->a.link, garbage,
      sizeof (garbage));
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
      MESH_WIRE_CLOSE_PROTOCOL);
  WAIT_FOR (pair->context, pair->b.n_closed, 3000);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_PROTOCOL);
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_frame_before_hello)
{
  Pair *pair = pair_new (RELAY_NONE);
  GBytes *ping = mesh_wire_encode_ping (1);
  GBytes *hello = mesh_wire_encode_hello (0, "swarm-1", "peer-a");
  gsize size;
  const guint8 *data;

  pair_start (pair);
  data = g_bytes_get_data (ping, &size);
  mesh_peer_link_inject_received_for_test (pair->a.link, data, size);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
      MESH_WIRE_CLOSE_PROTOCOL);
  fail_unless (strstr (pair->a.reason->message, "PING before HELLO"));

  /* two HELLOs */
  data = g_bytes_get_data (hello, &size);
  mesh_peer_link_inject_received_for_test (pair->b.link, data, size);
  fail_unless (pair->b.ready);
  mesh_peer_link_inject_received_for_test (pair->b.link, data, size);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_PROTOCOL,
      MESH_WIRE_CLOSE_PROTOCOL);

  g_bytes_unref (ping);
  g_bytes_unref (hello);
  pair_free (pair);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Dropping links */

GST_START_TEST (test_finalize_connecting)
{
  Pair *pair;

  /* right after start, with gathering under way */
  pair = pair_new (RELAY_DIRECT);
  pair_start (pair);
  g_clear_object (&pair->a.link);
  g_clear_object (&pair->b.link);
  pair_free (pair);

  /* in the middle of the connectivity checks */
  pair = pair_new (RELAY_DIRECT);
  pair_start (pair);
  g_main_context_iteration (pair->context, FALSE);
  g_main_context_iteration (pair->context, FALSE);
  g_clear_object (&pair->a.link);
  WAIT_FOR (pair->context, FALSE, 100);
  g_clear_object (&pair->b.link);
  fail_unless_equals_int (pair->a.n_closed, 0);
  pair_free (pair);

  /* never started */
  pair = pair_new (RELAY_DIRECT);
  pair_free (pair);
}

GST_END_TEST;

GST_START_TEST (test_finalize_during_transfer)
{
  Pair *pair = pair_new (RELAY_DIRECT);
  Pump p = { 0 };

  pair_start (pair);
  pair_wait_ready (pair);

  p.link = pair->a.link;
  p.payload = random_payload (1024 * 1024, 99);
  g_signal_connect (p.link, "writable", G_CALLBACK (on_pump_writable), &p);
  pump (&p);
  WAIT_FOR (pair->context, pair->b.bulk->len >= 100 * 1024, 10000);
  fail_unless (pair->b.bulk->len >= 100 * 1024);
  fail_if (p.done);

  /* dropped mid-frame: the frame is finished, then ERROR follows */
  g_signal_handlers_disconnect_by_data (p.link, &p);
  g_clear_object (&pair->a.link);
  WAIT_FOR (pair->context, pair->b.n_closed, 5000);
  assert_closed (&pair->b, MESH_PEER_CONNECTION_ERROR_REMOTE,
      MESH_WIRE_CLOSE_GOING_AWAY);
  fail_if (pair->b.bulk_out_of_order);
  fail_unless (memcmp (pair->b.bulk->data, g_bytes_get_data (p.payload,
              NULL), pair->b.bulk->len) == 0);

  g_bytes_unref (p.payload);
  pair_free (pair);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* The transport seam */

/* The peer manager's way: connections from mesh_peer_transport_connect(),
 * used through MeshPeerConnection only. */
GST_START_TEST (test_transport_interface)
{
  MeshPeerConnectParams pa = default_params ("peer-a", "peer-b", TRUE);
  MeshPeerConnectParams pb = default_params ("peer-b", "peer-a", FALSE);
  GBytes *frame = mesh_wire_encode_cancel (77);
  MeshPeerConnection *a, *b;
  Pair *pair;

  pa.upload = TRUE;
  /* unusable servers are ignored (with a warning), not fatal */
  pa.stun_server = "no port";
  pb.turn_server = "http://not-turn";
  pair = pair_new_connect (&pa, &pb);
  a = MESH_PEER_CONNECTION (pair->a.link);
  b = MESH_PEER_CONNECTION (pair->b.link);
  fail_unless_equals_int (mesh_peer_connection_get_state (a),
      MESH_PEER_CONNECTION_CONNECTING);
  fail_if (mesh_peer_connection_send (a, frame));
  fail_unless (mesh_peer_connection_get_path_type (a) == NULL);

  mesh_peer_connection_start (a);
  mesh_peer_connection_start (b);
  pair_wait_ready (pair);
  fail_unless_equals_int (mesh_peer_connection_get_state (a),
      MESH_PEER_CONNECTION_CONNECTED);
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
  fail_unless (frame_received (&pair->b, frame));
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

/* Ids the wire cannot carry: no connection. */
GST_START_TEST (test_transport_refuses_bad_ids)
{
  GMainContext *context = g_main_context_new ();
  MeshNiceTransport *transport = mesh_nice_transport_new (context);
  gchar *long_id = g_strnfill (MESH_WIRE_MAX_PEER_ID + 1, 'x');
  MeshPeerConnectParams params = default_params (long_id, "peer-b", TRUE);

  ASSERT_CRITICAL (fail_unless (mesh_peer_transport_connect
          (MESH_PEER_TRANSPORT (transport), &params) == NULL));
  g_free (long_id);
  g_object_unref (transport);
  g_main_context_unref (context);
}

GST_END_TEST;

/* The lingering agents of closed links belong to their transport: another
 * transport's shutdown leaves them alone, their own ends them at once (not
 * after the linger), and a transport lives on while its agents linger. */
GST_START_TEST (test_lingering_per_transport)
{
  Pair *pair = pair_new (RELAY_DIRECT);
  Pump p = { 0 };
  gpointer weak_a;
  gint64 start;

  pair_start (pair);
  pair_wait_ready (pair);
  p.link = pair->a.link;
  p.payload = random_payload (1024 * 1024, 7);
  pump (&p);
  WAIT_FOR (pair->context, pair->b.bulk->len > 0, 5000);
  fail_unless (mesh_peer_link_get_send_queue_size (p.link) > 0);

  /* dropped with bytes queued: its agent lingers to finish the frame */
  g_clear_object (&pair->a.link);
  fail_unless_equals_int (mesh_nice_transport_count_lingering
      (pair->a.transport), 1);
  fail_unless_equals_int (mesh_nice_transport_count_lingering
      (pair->b.transport), 0);

  mesh_peer_transport_shutdown (MESH_PEER_TRANSPORT (pair->b.transport), 1000);
  fail_unless_equals_int (mesh_nice_transport_count_lingering
      (pair->a.transport), 1);

  start = g_get_monotonic_time ();
  mesh_peer_transport_shutdown (MESH_PEER_TRANSPORT (pair->a.transport), 2000);
  fail_unless_equals_int (mesh_nice_transport_count_lingering
      (pair->a.transport), 0);
  /* well before the linger's grace of 500 ms */
  fail_unless (g_get_monotonic_time () - start < 400 * G_TIME_SPAN_MILLISECOND);
  pair_free (pair);

  /* the owner lets go of the transport while an agent lingers: the linger
   * keeps it until it is done */
  pair = pair_new (RELAY_DIRECT);
  pair_start (pair);
  pair_wait_ready (pair);
  p.link = pair->a.link;
  p.next = 0;
  p.done = FALSE;
  pump (&p);
  g_clear_object (&pair->a.link);
  fail_unless_equals_int (mesh_nice_transport_count_lingering
      (pair->a.transport), 1);
  weak_a = pair->a.transport;
  g_object_add_weak_pointer (G_OBJECT (weak_a), &weak_a);
  g_clear_object (&pair->a.transport);
  fail_unless (weak_a != NULL);
  WAIT_FOR (pair->context, weak_a == NULL, 5000);
  fail_unless (weak_a == NULL);

  g_bytes_unref (p.payload);
  pair_free (pair);
}

GST_END_TEST;

/* Busy periods only, smoothed; pauses do not count as slowness. */
GST_START_TEST (test_goodput_meter)
{
  MeshGoodputMeter m = { 0, };
  gint64 t = 1000 * G_USEC_PER_SEC, end;

  fail_unless_equals_uint64 (mesh_goodput_meter_get (&m), 0);
  /* 1 MB/s in 10 kB pieces every 10 ms, for a second */
  for (end = t + G_USEC_PER_SEC; t <= end; t += 10 * G_TIME_SPAN_MILLISECOND)
    mesh_goodput_meter_add (&m, t, 10000);
  fail_unless (mesh_goodput_meter_get (&m) >= 950000);
  fail_unless (mesh_goodput_meter_get (&m) <= 1050000);

  /* ten idle seconds, then more at the same pace: unchanged */
  t += 10 * G_USEC_PER_SEC;
  for (end = t + G_USEC_PER_SEC; t <= end; t += 10 * G_TIME_SPAN_MILLISECOND)
    mesh_goodput_meter_add (&m, t, 10000);
  fail_unless (mesh_goodput_meter_get (&m) >= 950000);
  fail_unless (mesh_goodput_meter_get (&m) <= 1050000);

  /* a slower link: the estimate follows within a few windows */
  for (end = t + 2 * G_USEC_PER_SEC; t <= end;
      t += 10 * G_TIME_SPAN_MILLISECOND)
    mesh_goodput_meter_add (&m, t, 1000);
  fail_unless (mesh_goodput_meter_get (&m) <= 150000);
  fail_unless (mesh_goodput_meter_get (&m) >= 90000);
}

GST_END_TEST;

/* Handlers that drop the link they are called for. */
static void
unref_on_closed (MeshPeerLink * link, GError * reason, Side * side)
{
  g_clear_object (&side->link);
}

GST_START_TEST (test_unref_in_closed_handler)
{
  static const guint8 garbage[] = { 0, 0, 0, 0 };
  Pair *pair = pair_new (RELAY_DIRECT);

  pair_start (pair);
  pair_wait_ready (pair);
  g_signal_connect (pair->a.link, "closed", G_CALLBACK (unref_on_closed),
      &pair->a);
  g_signal_connect (pair->b.link, "closed", G_CALLBACK (unref_on_closed),
      &pair->b);
  /* A closes from inside its receive path, B from a libnice callback */
  mesh_peer_link_inject_received_for_test (pair->a.link, garbage,
      sizeof (garbage));
  fail_unless (pair->a.link == NULL);
  WAIT_FOR (pair->context, pair->b.link == NULL, 3000);
  fail_unless (pair->b.link == NULL);
  pair_free (pair);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Through a TURN relay (coturn) */

typedef struct
{
  GSubprocess *proc;
  GDataInputStream *out;
  gboolean ready;
  gboolean eof;
  gchar *dir;
} Turn;

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
  if (strstr (line, "Total General servers"))
    turn->ready = TRUE;
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
  turn->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe
      (turn->proc));
  g_data_input_stream_read_line_async (turn->out, G_PRIORITY_DEFAULT, NULL,
      on_turn_line, turn);
  WAIT_FOR (context, turn->ready || turn->eof, 10000);
  fail_unless (turn->ready, "turnserver did not start");
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
  file = g_build_filename (turn->dir, "turn.pid", NULL);
  g_unlink (file);
  g_free (file);
  file = g_build_filename (turn->dir, "turndb", NULL);
  g_unlink (file);
  g_free (file);
  g_rmdir (turn->dir);
  g_free (turn->dir);
}

GST_START_TEST (test_turn_relay_only)
{
  MeshPeerLinkConfig ca = default_config ("peer-a");
  MeshPeerLinkConfig cb;
  GMainContext *context = g_main_context_new ();
  Turn turn = { 0 };
  guint port = free_udp_port ();
  Pair *pair;

  g_main_context_push_thread_default (context);
  if (!turn_start (&turn, context, port)) {
    g_print ("peer-link: turnserver not found, TURN test skipped\n");
    g_main_context_pop_thread_default (context);
    g_main_context_unref (context);
    return;
  }

  ca.turn_host = "127.0.0.1";
  ca.turn_port = port;
  ca.turn_user = "mesh";
  ca.turn_password = "secret";
  ca.relay_only = TRUE;
  cb = ca;
  cb.local_peer_id = "peer-b";
  pair = pair_new_full (RELAY_DIRECT, &ca, &cb, "peer-b", "peer-a");
  pair_start (pair);
  pair_wait_ready (pair);
  fail_unless (pair->a.relay_candidate_out);
  fail_unless_equals_string (mesh_peer_link_get_selected_type
      (pair->a.link), "relay");
  fail_unless_equals_string (mesh_peer_link_get_selected_type
      (pair->b.link), "relay");
  {
    GBytes *f = mesh_wire_encode_cancel (5);

    fail_unless (mesh_peer_link_send (pair->a.link, f));
    WAIT_FOR (pair->context, pair->b.frames->len == 1, 5000);
    fail_unless (frame_received (&pair->b, f));
    g_bytes_unref (f);
  }
  pair_free (pair);

  /* the peer manager's way: the TURN server as text in the connection
   * parameters gives relayed candidates too */
  {
    MeshPeerConnectParams pa = default_params ("peer-a", "peer-b", TRUE);
    MeshPeerConnectParams pb = default_params ("peer-b", "peer-a", FALSE);
    gchar *url = g_strdup_printf ("turn://mesh:secret@127.0.0.1:%u", port);

    pa.turn_server = url;
    pair = pair_new_connect (&pa, &pb);
    pair_start (pair);
    pair_wait_ready (pair);
    WAIT_FOR (pair->context, pair->a.gathering_done, 5000);
    fail_unless (pair->a.relay_candidate_out);
    fail_if (pair->b.relay_candidate_out);
    pair_free (pair);
    g_free (url);
  }

  turn_stop (&turn, context);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

GST_END_TEST;

/* Relay only without a TURN server cannot work: a clean close. */
GST_START_TEST (test_relay_only_without_turn)
{
  MeshPeerLinkConfig ca = default_config ("peer-a");
  MeshPeerLinkConfig cb = default_config ("peer-b");
  Pair *pair;

  ca.relay_only = TRUE;
  pair = pair_new_full (RELAY_NONE, &ca, &cb, "peer-b", "peer-a");
  mesh_peer_link_start (pair->a.link);
  assert_closed (&pair->a, MESH_PEER_CONNECTION_ERROR_CONFIG,
      MESH_WIRE_CLOSE_UNSPECIFIED);
  pair_free (pair);
}

GST_END_TEST;

static Suite *
peer_link_suite (void)
{
  Suite *s = suite_create ("peer-link");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_connect_and_exchange);
  tcase_add_test (tc, test_reordered_signalling);
  tcase_add_test (tc, test_wrong_swarm);
  tcase_add_test (tc, test_wrong_peer_id);
  tcase_add_test (tc, test_bulk_transfer);
  tcase_add_test (tc, test_rtt);
  tcase_add_test (tc, test_close_reaches_remote);
  tcase_add_test (tc, test_connect_timeout);
  tcase_add_test (tc, test_idle_timeout);
  tcase_add_test (tc, test_garbage_received);
  tcase_add_test (tc, test_frame_before_hello);
  tcase_add_test (tc, test_finalize_connecting);
  tcase_add_test (tc, test_finalize_during_transfer);
  tcase_add_test (tc, test_unref_in_closed_handler);
  tcase_add_test (tc, test_transport_interface);
  tcase_add_test (tc, test_transport_refuses_bad_ids);
  tcase_add_test (tc, test_lingering_per_transport);
  tcase_add_test (tc, test_goodput_meter);
  tcase_add_test (tc, test_turn_relay_only);
  tcase_add_test (tc, test_relay_only_without_turn);
  return s;
}

GST_CHECK_MAIN (peer_link);
