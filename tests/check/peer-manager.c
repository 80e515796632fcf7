/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshPeerManager (ext/mesh/p2p/mesh-peer-manager.[ch]) in one process:
 * two or three managers ("viewers") meet through the in-memory signaller
 * and talk over the loopback transport, on one fake clock. The test plays
 * the fetcher (MeshPeerSink) and, where it needs to speak the wire protocol
 * itself, a raw peer.
 *
 * Threads and time: only the test's thread, which runs one GMainContext
 * (pushed as thread-default) owning every manager, signaller and transport.
 * Nothing sleeps: RUN_UNTIL iterates the context and, whenever nothing is
 * ready, moves the fake clock on by STEP, until a condition holds; a test
 * fails when it does not within a bound of fake time (or of real time, in
 * case something spins).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>

#include "p2p/mesh-loopback-transport.h"
#include "p2p/mesh-memory-signaller.h"
#include "p2p/mesh-peer-manager.h"
#include "p2p/mesh-wire.h"

#define S G_GINT64_CONSTANT (1000000)
#define MS G_GINT64_CONSTANT (1000)
#define T0 (1000 * S)
#define STEP (1 * MS)
#define REAL_LIMIT (60 * S)
#define SWARM "swarm-1"
#define MAX_VIEWERS 3

typedef struct _Swarm Swarm;

typedef struct
{
  Swarm *swarm;
  MeshPeerManager *manager;
  MeshSignaller *signaller;
  MeshLoopbackTransport *transport;
  guint n_connected;
  guint n_disconnected;
} Viewer;

struct _Swarm
{
  GMainContext *context;
  gint64 now;                   /* the fake clock */
  MeshPeerClock clock;
  MeshMemoryHub *hub;
  MeshLoopbackNetwork *network;
  Viewer viewers[MAX_VIEWERS];
  guint n_viewers;
};

/* The test as the fetcher of one segment. */
typedef struct
{
  Swarm *swarm;
  GByteArray *data;             /* what deliver() gave */
  gint64 first_data;            /* fake time of the first deliver() */
  guint n_complete, n_use_cdn;
  gint64 ended;                 /* fake time of complete() or use_cdn() */
} Fetch;

/* ------------------------------------------------------------------------ */
/* Running */

static gint64
fake_now (gpointer data)
{
  return ((Swarm *) data)->now;
}

/* Iterates @swarm's context until @cond, moving the fake clock on by STEP
 * whenever nothing was ready; fails after @max_us of fake time. */
#define RUN_UNTIL(swarm, cond, max_us) G_STMT_START {                   \
  gint64 _end = (swarm)->now + (max_us);                                 \
  gint64 _real_end = g_get_monotonic_time () + REAL_LIMIT;               \
  while (!(cond) && (swarm)->now <= _end                                 \
      && g_get_monotonic_time () < _real_end) {                          \
    if (!g_main_context_iteration ((swarm)->context, FALSE))             \
      (swarm)->now += STEP;                                              \
  }                                                                      \
  fail_unless ((cond), "not within %" G_GINT64_FORMAT " ms: %s",         \
      (gint64) (max_us) / 1000, #cond);                                  \
} G_STMT_END

/* Runs for @us of fake time, whatever happens. */
static void
run_for (Swarm * swarm, gint64 us)
{
  gint64 end = swarm->now + us;

  RUN_UNTIL (swarm, swarm->now >= end, us + STEP);
}

static GBytes *
make_segment (gsize size, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  guint8 *data = g_malloc (size);
  gsize i;

  for (i = 0; i < size; i++)
    data[i] = g_rand_int (rand);
  g_rand_free (rand);
  return g_bytes_new_take (data, size);
}

/* ------------------------------------------------------------------------ */
/* Viewers */

static MeshPeerConfig
default_config (void)
{
  MeshPeerConfig config = {
    .swarm_id = SWARM,
    .max_peers = 10,
    .upload = TRUE,
    .cache_size = 64 * 1024 * 1024,
  };

  return config;
}

static void
on_peer_connected (MeshPeerManager * m, const gchar * id, Viewer * v)
{
  v->n_connected++;
}

static void
on_peer_disconnected (MeshPeerManager * m, const gchar * id, Viewer * v)
{
  v->n_disconnected++;
}

static Swarm *
swarm_new (void)
{
  Swarm *swarm = g_new0 (Swarm, 1);

  swarm->context = g_main_context_new ();
  g_main_context_push_thread_default (swarm->context);
  swarm->now = T0;
  swarm->clock.now = fake_now;
  swarm->clock.user_data = swarm;
  swarm->hub = mesh_memory_hub_new ();
  swarm->network = mesh_loopback_network_new ();
  return swarm;
}

static Viewer *
viewer_add (Swarm * swarm, const MeshPeerConfig * config)
{
  Viewer *v = &swarm->viewers[swarm->n_viewers++];

  g_assert (swarm->n_viewers <= MAX_VIEWERS);
  v->swarm = swarm;
  v->signaller = mesh_memory_signaller_new (swarm->hub);
  v->transport = mesh_loopback_transport_new (swarm->network, swarm->context,
      &swarm->clock);
  v->manager = mesh_peer_manager_new_with_signaller (v->signaller,
      MESH_PEER_TRANSPORT (v->transport), &swarm->clock, config);
  fail_unless (v->manager != NULL);
  g_signal_connect (v->manager, "peer-connected",
      G_CALLBACK (on_peer_connected), v);
  g_signal_connect (v->manager, "peer-disconnected",
      G_CALLBACK (on_peer_disconnected), v);
  return v;
}

static const gchar *
viewer_id (Viewer * v)
{
  return mesh_peer_manager_get_peer_id (v->manager);
}

/* @from's end of its connection to @to. */
static MeshLoopbackConnection *
path (Viewer * from, Viewer * to)
{
  MeshLoopbackConnection *c =
      mesh_loopback_transport_get_connection (from->transport, viewer_id (to));

  fail_unless (c != NULL, "no connection %s -> %s", viewer_id (from),
      viewer_id (to));
  return c;
}

/* @holder holds @segment as "seg-1", and @requester has heard so (HAVE). */
static void
hold_segment (Swarm * swarm, Viewer * holder, Viewer * requester,
    GBytes * segment)
{
  guint heard = mesh_loopback_connection_count_received (path (requester,
          holder), MESH_WIRE_TYPE_HAVE);

  mesh_peer_manager_segment_complete (holder->manager, "seg-1", segment);
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (requester,
              holder), MESH_WIRE_TYPE_HAVE) > heard, 2 * S);
}

static void
viewer_clear (Viewer * v)
{
  if (v->manager) {
    g_signal_handlers_disconnect_by_data (v->manager, v);
    mesh_peer_manager_stop (v->manager);
    g_clear_object (&v->manager);
  }
  g_clear_object (&v->signaller);
  g_clear_object (&v->transport);
}

static void
swarm_free (Swarm * swarm)
{
  guint i;

  for (i = 0; i < swarm->n_viewers; i++)
    viewer_clear (&swarm->viewers[i]);
  /* what the signaller queued for the gone */
  while (g_main_context_iteration (swarm->context, FALSE));
  g_object_unref (swarm->hub);
  g_object_unref (swarm->network);
  g_main_context_pop_thread_default (swarm->context);
  g_main_context_unref (swarm->context);
  g_free (swarm);
}

/* Two viewers, connected to each other; @config_a for the first. */
static Swarm *
swarm_new_pair (const MeshPeerConfig * config_a)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  Viewer *a, *b;

  a = viewer_add (swarm, config_a ? config_a : &config);
  b = viewer_add (swarm, &config);
  RUN_UNTIL (swarm, a->n_connected == 1 && b->n_connected == 1, 2 * S);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (a->manager), 1);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (b->manager), 1);
  return swarm;
}

/* ------------------------------------------------------------------------ */
/* The test as the fetcher */

static void
sink_deliver (gpointer owner, GBytes * bytes, const gchar * peer_id)
{
  Fetch *f = owner;

  fail_unless (f->n_complete + f->n_use_cdn == 0, "deliver() after the end");
  if (f->data->len == 0)
    f->first_data = f->swarm->now;
  g_byte_array_append (f->data, g_bytes_get_data (bytes, NULL),
      g_bytes_get_size (bytes));
}

static void
sink_complete (gpointer owner)
{
  Fetch *f = owner;

  f->n_complete++;
  f->ended = f->swarm->now;
}

static void
sink_use_cdn (gpointer owner)
{
  Fetch *f = owner;

  f->n_use_cdn++;
  f->ended = f->swarm->now;
}

static const MeshPeerSink sink = { sink_deliver, sink_complete, sink_use_cdn };

static Fetch *
fetch_new (Swarm * swarm)
{
  Fetch *f = g_new0 (Fetch, 1);

  f->swarm = swarm;
  f->data = g_byte_array_new ();
  return f;
}

static void
fetch_free (Fetch * f)
{
  g_byte_array_unref (f->data);
  g_free (f);
}

static void
free_fetches (Fetch ** f, GBytes ** segs, guint n)
{
  guint i;

  for (i = 0; i < n; i++) {
    fetch_free (f[i]);
    g_bytes_unref (segs[i]);
  }
}

static gboolean
fetch_ended (Fetch * f)
{
  return f->n_complete + f->n_use_cdn > 0;
}

/* Exactly one end, and what came from peers is the start of @segment. */
static void
assert_fetch_ended (Fetch * f, GBytes * segment, gboolean complete)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (segment, &size);

  fail_unless_equals_int (f->n_complete + f->n_use_cdn, 1);
  fail_unless_equals_int (f->n_complete, complete ? 1 : 0);
  fail_unless (f->data->len <= size);
  /* memcmp must not see the NULL of an empty array, even for 0 bytes */
  fail_unless (f->data->len == 0
      || memcmp (f->data->data, data, f->data->len) == 0,
      "peer bytes differ from the segment");
  if (complete)
    fail_unless_equals_int (f->data->len, size);
}

/* ------------------------------------------------------------------------ */
/* A raw peer: the test speaks the wire protocol to a manager itself */

typedef struct
{
  Swarm *swarm;
  MeshSignaller *signaller;
  MeshLoopbackTransport *transport;
  MeshPeerConnection *conn;
  gchar *target;
  gchar *id;
  gboolean connected;
  gboolean closed;
  MeshWireHaveEntry have[16];
  guint n_have;
  guint n_absent;
  guint8 absent_reason;
  guint64 data_bytes;
  gint64 first_data, last_data;
  gboolean ended;
  guint n_requests;
  guint32 last_request_id;
} RawPeer;

static void
raw_on_signal_out (MeshPeerConnection * conn, JsonObject * data, RawPeer * r)
{
  mesh_signaller_relay (r->signaller, r->target, data);
}

static void
raw_on_connected (MeshPeerConnection * conn, RawPeer * r)
{
  r->connected = TRUE;
}

static void
raw_on_closed (MeshPeerConnection * conn, GError * reason, RawPeer * r)
{
  r->closed = TRUE;
}

static void
raw_on_frame (MeshPeerConnection * conn, const MeshWireFrame * f, RawPeer * r)
{
  switch (f->type) {
    case MESH_WIRE_TYPE_HAVE:
      if (r->n_have + f->have.n_entries <= G_N_ELEMENTS (r->have)) {
        memcpy (&r->have[r->n_have], f->have.entries,
            f->have.n_entries * sizeof (MeshWireHaveEntry));
        r->n_have += f->have.n_entries;
      }
      break;
    case MESH_WIRE_TYPE_ABSENT:
      r->n_absent++;
      r->absent_reason = f->absent.reason;
      break;
    case MESH_WIRE_TYPE_DATA:
      if (r->data_bytes == 0)
        r->first_data = r->swarm->now;
      fail_unless_equals_uint64 (f->data.offset, r->data_bytes);
      r->data_bytes += g_bytes_get_size (f->data.bytes);
      r->last_data = r->swarm->now;
      break;
    case MESH_WIRE_TYPE_END:
      r->ended = TRUE;
      break;
    case MESH_WIRE_TYPE_REQUEST:
      r->n_requests++;
      r->last_request_id = f->request.request_id;
      break;
    default:
      break;
  }
}

static void
raw_on_welcome (MeshSignaller * s, GStrv ids, RawPeer * r)
{
  MeshPeerConnectParams params = {
    .swarm_id = SWARM,
    .local_peer_id = r->id,
    .remote_peer_id = r->target,
    .controlling = TRUE,
    /* so that the manager may ask it for what it announces */
    .upload = TRUE,
  };

  if (r->conn || !g_strv_contains ((const gchar * const *) ids, r->target))
    return;
  r->conn = mesh_peer_transport_connect (MESH_PEER_TRANSPORT (r->transport),
      &params);
  g_signal_connect (r->conn, "signal-out", G_CALLBACK (raw_on_signal_out), r);
  g_signal_connect (r->conn, "connected", G_CALLBACK (raw_on_connected), r);
  g_signal_connect (r->conn, "closed", G_CALLBACK (raw_on_closed), r);
  g_signal_connect (r->conn, "frame", G_CALLBACK (raw_on_frame), r);
  mesh_peer_connection_start (r->conn);
}

static void
raw_on_message (MeshSignaller * s, const gchar * from, JsonObject * payload,
    RawPeer * r)
{
  if (r->conn && g_strcmp0 (from, r->target) == 0)
    mesh_peer_connection_handle_signal (r->conn, payload);
}

/* Joins the swarm as @id with network hint @network (NULL: none) and calls
 * @target, without waiting. */
static RawPeer *
raw_peer_start_in (Swarm * swarm, Viewer * target, const gchar * id,
    const gchar * network)
{
  RawPeer *r = g_new0 (RawPeer, 1);

  r->swarm = swarm;
  r->id = g_strdup (id);
  r->target = g_strdup (viewer_id (target));
  r->signaller = mesh_memory_signaller_new (swarm->hub);
  r->transport = mesh_loopback_transport_new (swarm->network, swarm->context,
      &swarm->clock);
  g_signal_connect (r->signaller, "welcome", G_CALLBACK (raw_on_welcome), r);
  g_signal_connect (r->signaller, "message", G_CALLBACK (raw_on_message), r);
  mesh_signaller_join_full (r->signaller, SWARM, r->id, NULL, FALSE, network);
  return r;
}

static RawPeer *
raw_peer_start (Swarm * swarm, Viewer * target, const gchar * id)
{
  return raw_peer_start_in (swarm, target, id, NULL);
}

/* Joins the swarm and connects to @target. */
static RawPeer *
raw_peer_new (Swarm * swarm, Viewer * target)
{
  RawPeer *r = raw_peer_start (swarm, target, "raw-peer-0001");

  RUN_UNTIL (swarm, r->connected || r->closed, 2 * S);
  fail_unless (r->connected);
  return r;
}

static void
raw_send (RawPeer * r, GBytes * frame)
{
  fail_unless (mesh_peer_connection_send (r->conn, frame));
  g_bytes_unref (frame);
}

static void
raw_peer_free (RawPeer * r)
{
  if (r->conn) {
    g_signal_handlers_disconnect_by_data (r->conn, r);
    mesh_peer_connection_close (r->conn, MESH_WIRE_CLOSE_GOING_AWAY, "bye");
    g_object_unref (r->conn);
  }
  g_signal_handlers_disconnect_by_data (r->signaller, r);
  mesh_signaller_leave (r->signaller);
  g_object_unref (r->signaller);
  g_object_unref (r->transport);
  g_free (r->target);
  g_free (r->id);
  g_free (r);
}

/* ------------------------------------------------------------------------ */
/* The loopback transport itself (the fixture must be right) */

/* Its rate limit holds, a stall stops the flow, a break closes both ends. */
GST_START_TEST (test_loopback_fixture)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  MeshLoopbackConnection *ab = path (a, b), *ba = path (b, a);
  GBytes *chunk = make_segment (MESH_WIRE_MAX_CHUNK, 1);
  guint64 start_bytes;
  gint64 start;
  guint i;

  /* 20 DATA frames (of 65553 bytes) for an unknown request at 256 KiB/s:
   * the first at once, the 20th 19 × 65553 / 262144 = 4.75 s later */
  mesh_loopback_connection_set_rate (ab, 256 * 1024);
  start = swarm->now;
  start_bytes = mesh_loopback_connection_get_bytes_received (ba);
  for (i = 0; i < 20; i++)
    fail_unless (mesh_peer_connection_send (MESH_PEER_CONNECTION (ab),
            mesh_wire_encode_data (999, i * MESH_WIRE_MAX_CHUNK, chunk)));
  RUN_UNTIL (swarm, mesh_loopback_connection_get_bytes_received (ba) -
      start_bytes >= 20 * (guint64) MESH_WIRE_MAX_CHUNK, 10 * S);
  fail_unless (swarm->now - start >= 4700 * MS);
  fail_unless (swarm->now - start <= 4800 * MS);
  fail_unless (mesh_peer_connection_get_goodput (MESH_PEER_CONNECTION (ba))
      >= 230 * 1024);
  fail_unless (mesh_peer_connection_get_goodput (MESH_PEER_CONNECTION (ba))
      <= 280 * 1024);

  /* stalled: nothing arrives, the send queue grows */
  mesh_loopback_connection_set_stalled (ab, TRUE);
  start_bytes = mesh_loopback_connection_get_bytes_received (ba);
  fail_unless (mesh_peer_connection_send (MESH_PEER_CONNECTION (ab),
          mesh_wire_encode_data (999, 0, chunk)));
  run_for (swarm, 3 * S);
  fail_unless_equals_uint64 (mesh_loopback_connection_get_bytes_received (ba),
      start_bytes);
  fail_unless (mesh_peer_connection_get_send_queue_size
      (MESH_PEER_CONNECTION (ab)) > 0);

  /* a break closes both managers' connections */
  mesh_loopback_connection_break (ab);
  RUN_UNTIL (swarm, a->n_disconnected == 1 && b->n_disconnected == 1, 1 * S);

  g_bytes_unref (chunk);
  swarm_free (swarm);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Serving */

/* A viewer that holds a segment serves it: the bytes arrive whole, and
 * complete() (not use_cdn()) ends the request. */
/* The congestion control of the settings is the one links are made with. */
GST_START_TEST (test_links_get_congestion_control)
{
  MeshPeerConfig bbr = default_config ();
  Swarm *swarm;

  bbr.congestion_control = MESH_PEER_CC_BBR;
  swarm = swarm_new_pair (&bbr);
  fail_unless_equals_int (mesh_loopback_connection_get_congestion_control
      (path (&swarm->viewers[0], &swarm->viewers[1])), MESH_PEER_CC_BBR);
  fail_unless_equals_int (mesh_loopback_connection_get_congestion_control
      (path (&swarm->viewers[1], &swarm->viewers[0])), MESH_PEER_CC_DEFAULT);
  swarm_free (swarm);
}

GST_END_TEST;

/* The candidate policy of the settings is the one links are made with. */
GST_START_TEST (test_links_get_candidate_policy)
{
  MeshPeerConfig no_host = default_config ();
  Swarm *swarm;

  no_host.candidate_policy = MESH_PEER_CANDIDATES_NO_HOST;
  swarm = swarm_new_pair (&no_host);
  fail_unless_equals_int (mesh_loopback_connection_get_candidate_policy
      (path (&swarm->viewers[0], &swarm->viewers[1])),
      MESH_PEER_CANDIDATES_NO_HOST);
  fail_unless_equals_int (mesh_loopback_connection_get_candidate_policy
      (path (&swarm->viewers[1], &swarm->viewers[0])),
      MESH_PEER_CANDIDATES_ALL);
  swarm_free (swarm);
}

GST_END_TEST;

GST_START_TEST (test_holder_serves_segment)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  GBytes *segment = make_segment (700 * 1000, 2);
  Fetch *f = fetch_new (swarm);

  hold_segment (swarm, a, b, segment);

  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 6 * S,
      &sink, f);
  RUN_UNTIL (swarm, fetch_ended (f), 6 * S);
  assert_fetch_ended (f, segment, TRUE);
  fail_unless (f->ended < swarm->now + 6 * S);
  fail_unless_equals_uint64 (mesh_peer_manager_get_bytes_uploaded
      (a->manager), g_bytes_get_size (segment));
  fail_unless (mesh_peer_manager_accept_segment (b->manager, "seg-1",
          segment, 0, NULL));

  /* nothing more happens to a finished request */
  run_for (swarm, 2 * S);
  fail_unless_equals_int (f->n_complete + f->n_use_cdn, 1);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* A holder that evicted the segment announces LOST: the other goes to the
 * CDN (after its back-off) without asking. */
GST_START_TEST (test_lost_segment_goes_to_cdn)
{
  MeshPeerConfig small = default_config ();
  Swarm *swarm;
  Viewer *a, *b;
  GBytes *seg1 = make_segment (400 * 1000, 3);
  GBytes *seg2 = make_segment (400 * 1000, 4);
  Fetch *f;

  small.cache_size = 500 * 1000;        /* one segment */
  swarm = swarm_new_pair (&small);
  a = &swarm->viewers[0];
  b = &swarm->viewers[1];
  f = fetch_new (swarm);

  mesh_peer_manager_segment_complete (a->manager, "seg-1", seg1);
  mesh_peer_manager_segment_complete (a->manager, "seg-2", seg2);
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (b, a),
          MESH_WIRE_TYPE_LOST) > 0, 1 * S);

  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 5 * S,
      &sink, f);
  RUN_UNTIL (swarm, fetch_ended (f), 5 * S);
  assert_fetch_ended (f, seg1, FALSE);
  fail_unless_equals_int (f->data->len, 0);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (a,
              b), MESH_WIRE_TYPE_REQUEST), 0);

  /* seg-2 is still there and is served */
  fetch_free (f);
  f = fetch_new (swarm);
  mesh_peer_manager_request (b->manager, "seg-2", 0, swarm->now + 5 * S,
      &sink, f);
  RUN_UNTIL (swarm, fetch_ended (f), 5 * S);
  assert_fetch_ended (f, seg2, TRUE);

  fetch_free (f);
  g_bytes_unref (seg1);
  g_bytes_unref (seg2);
  swarm_free (swarm);
}

GST_END_TEST;

/* The request crosses the LOST announcement: the holder answers ABSENT,
 * and the requester goes to the CDN. */
GST_START_TEST (test_absent_goes_to_cdn)
{
  MeshPeerConfig small = default_config ();
  Swarm *swarm;
  Viewer *a, *b;
  GBytes *seg1 = make_segment (400 * 1000, 5);
  GBytes *seg2 = make_segment (400 * 1000, 6);
  Fetch *f;

  small.cache_size = 500 * 1000;
  swarm = swarm_new_pair (&small);
  a = &swarm->viewers[0];
  b = &swarm->viewers[1];
  f = fetch_new (swarm);

  hold_segment (swarm, a, b, seg1);
  /* a's LOST takes 300 ms to reach b */
  mesh_loopback_connection_set_delay (path (a, b), 300 * MS);
  mesh_peer_manager_segment_complete (a->manager, "seg-2", seg2);
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 5 * S,
      &sink, f);
  RUN_UNTIL (swarm, fetch_ended (f), 5 * S);
  assert_fetch_ended (f, seg1, FALSE);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (a,
              b), MESH_WIRE_TYPE_REQUEST), 1);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (b,
              a), MESH_WIRE_TYPE_ABSENT), 1);

  fetch_free (f);
  g_bytes_unref (seg1);
  g_bytes_unref (seg2);
  swarm_free (swarm);
}

GST_END_TEST;

/* upload=FALSE: requesters are told so (ABSENT UPLOAD_DISABLED), and
 * managers do not even ask (HELLO says it). */
GST_START_TEST (test_upload_disabled_answers_absent)
{
  MeshPeerConfig no_upload = default_config ();
  Swarm *swarm;
  Viewer *a, *b;
  GBytes *segment = make_segment (100 * 1000, 7);
  RawPeer *raw;
  Fetch *f;

  no_upload.upload = FALSE;
  swarm = swarm_new_pair (&no_upload);
  a = &swarm->viewers[0];
  b = &swarm->viewers[1];
  mesh_peer_manager_segment_complete (a->manager, "seg-1", segment);

  raw = raw_peer_new (swarm, a);
  RUN_UNTIL (swarm, raw->n_have > 0, 1 * S);
  fail_unless_equals_uint64 (raw->have[0].key, mesh_wire_segment_key ("seg-1"));
  raw_send (raw, mesh_wire_encode_request (1, raw->have[0].key, 0, 0, 0));
  RUN_UNTIL (swarm, raw->n_absent > 0, 1 * S);
  fail_unless_equals_int (raw->absent_reason, MESH_WIRE_ABSENT_UPLOAD_DISABLED);
  fail_unless_equals_uint64 (raw->data_bytes, 0);

  f = fetch_new (swarm);
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 5 * S,
      &sink, f);
  RUN_UNTIL (swarm, fetch_ended (f), 5 * S);
  assert_fetch_ended (f, segment, FALSE);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (a,
              b), MESH_WIRE_TYPE_REQUEST), 0);
  fail_unless_equals_uint64 (mesh_peer_manager_get_bytes_uploaded
      (a->manager), 0);

  fetch_free (f);
  raw_peer_free (raw);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Peers that fail */

/* A 1 MB segment at 200 kB/s, request with a deadline 8 s away; the
 * holder's path to the requester stalls once @stall_after bytes arrived. */
static Swarm *
start_slow_transfer (GBytes * segment, Fetch ** fetch, gint64 * deadline,
    guint64 stall_after)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];

  hold_segment (swarm, a, b, segment);
  mesh_loopback_connection_set_rate (path (a, b), 200 * 1000);
  *fetch = fetch_new (swarm);
  *deadline = swarm->now + 8 * S;
  mesh_peer_manager_request (b->manager, "seg-1", 0, *deadline, &sink, *fetch);
  RUN_UNTIL (swarm, (*fetch)->data->len >= stall_after, 5 * S);
  return swarm;
}

/* Stalled mid-transfer: the CDN takes over before the deadline, resuming
 * after the bytes delivered, and the holder is told to stop. */
GST_START_TEST (test_stalled_peer_goes_to_cdn)
{
  GBytes *segment = make_segment (1000 * 1000, 8);
  Fetch *f;
  gint64 deadline, stalled_at;
  Swarm *swarm = start_slow_transfer (segment, &f, &deadline, 300 * 1000);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  guint delivered;

  mesh_loopback_connection_set_stalled (path (a, b), TRUE);
  stalled_at = swarm->now;
  RUN_UNTIL (swarm, fetch_ended (f), 5 * S);
  assert_fetch_ended (f, segment, FALSE);
  delivered = f->data->len;
  fail_unless (delivered >= 300 * 1000);
  fail_unless (delivered < g_bytes_get_size (segment));
  /* the CDN's rest (700 kB at the default 1 MB/s) still fits */
  fail_unless (f->ended <= deadline - 700 * MS - 700 * MS,
      "use_cdn %" G_GINT64_FORMAT " ms before the deadline",
      (deadline - f->ended) / 1000);
  /* no sooner than a stall can be told from a pause */
  fail_unless (f->ended - stalled_at >= 1000 * MS);
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (a, b),
          MESH_WIRE_TYPE_CANCEL) == 1, 1 * S);

  /* what was on its way after use_cdn() is not delivered */
  mesh_loopback_connection_set_stalled (path (a, b), FALSE);
  run_for (swarm, 2 * S);
  fail_unless_equals_int (f->data->len, delivered);
  fail_unless_equals_int (f->n_use_cdn, 1);
  /* the link itself is fine */
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (b->manager), 1);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* The fetcher cancels: the holder stops sending, and the sink hears
 * nothing more. */
GST_START_TEST (test_cancel_stops_transfer)
{
  GBytes *segment = make_segment (1000 * 1000, 9);
  Fetch *f;
  gint64 deadline;
  Swarm *swarm = start_slow_transfer (segment, &f, &deadline, 200 * 1000);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  guint64 uploaded;

  mesh_peer_manager_cancel (b->manager, f);
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (a, b),
          MESH_WIRE_TYPE_CANCEL) == 1, 1 * S);
  /* at most what the link had queued before the CANCEL arrived */
  uploaded = mesh_peer_manager_get_bytes_uploaded (a->manager);
  run_for (swarm, 5 * S);
  fail_unless_equals_uint64 (mesh_peer_manager_get_bytes_uploaded
      (a->manager), uploaded);
  fail_unless (uploaded < g_bytes_get_size (segment));
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (b,
              a), MESH_WIRE_TYPE_END), 0);
  fail_unless_equals_int (f->n_complete + f->n_use_cdn, 0);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* A holder with a slow uplink and three prefetched requests of one peer
 * serves them one after another, in the order of their deadlines: the most
 * urgent gets the whole uplink, each makes its deadline, none is abandoned.
 * (Served together, each would get a third of it and the first, paced at
 * a third, would be abandoned.) */
GST_START_TEST (test_holder_serves_requests_in_turn)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  GBytes *segs[3];
  Fetch *f[3];
  gint64 deadline[3];
  guint i;

  for (i = 0; i < 3; i++) {
    gchar *id = g_strdup_printf ("seg-%u", i);

    segs[i] = make_segment (400 * 1000, 20 + i);
    mesh_peer_manager_segment_complete (a->manager, id, segs[i]);
    g_free (id);
  }
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (b, a),
          MESH_WIRE_TYPE_HAVE) >= 3, 1 * S);
  /* 400 kB/s: a segment a second alone, all three in 3 s */
  mesh_loopback_connection_set_rate (path (a, b), 400 * 1000);
  for (i = 0; i < 3; i++) {
    gchar *id = g_strdup_printf ("seg-%u", i);

    f[i] = fetch_new (swarm);
    deadline[i] = swarm->now + (2500 + 1000 * i) * MS;
    mesh_peer_manager_request (b->manager, id, 0, deadline[i], &sink, f[i]);
    g_free (id);
  }
  RUN_UNTIL (swarm, fetch_ended (f[0]) && fetch_ended (f[1])
      && fetch_ended (f[2]), 6 * S);
  for (i = 0; i < 3; i++) {
    assert_fetch_ended (f[i], segs[i], TRUE);
    fail_unless (f[i]->ended <= deadline[i] - 700 * MS,
        "seg-%u done %" G_GINT64_FORMAT " ms before its deadline", i,
        (deadline[i] - f[i]->ended) / 1000);
  }
  /* in turn */
  fail_unless (f[0]->ended < f[1]->ended && f[1]->ended < f[2]->ended);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (a,
              b), MESH_WIRE_TYPE_CANCEL), 0);

  free_fetches (f, segs, 3);
  swarm_free (swarm);
}

GST_END_TEST;

/* A transfer resumed from a second holder is judged on what is left of it:
 * 400 kB at the default pace fit in the time left, the whole 1 MB would
 * not. (The resumed request once counted from the first holder's first
 * DATA, and gave up on the second holder before its first byte.) */
GST_START_TEST (test_resumed_transfer_judged_on_its_rest)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  Viewer *a, *b, *c;
  GBytes *segment = make_segment (1000 * 1000, 14);
  Fetch *f = fetch_new (swarm);

  a = viewer_add (swarm, &config);
  b = viewer_add (swarm, &config);
  RUN_UNTIL (swarm, a->n_connected == 1 && b->n_connected == 1, 2 * S);
  hold_segment (swarm, a, b, segment);
  mesh_loopback_connection_set_rate (path (a, b), 400 * 1000);

  /* a brings 600 kB in 1.5 s, then stalls: noticed 1.5 s later, 1.6 s
   * before the deadline */
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 4600 * MS,
      &sink, f);
  RUN_UNTIL (swarm, f->data->len >= 600 * 1000, 2 * S);
  mesh_loopback_connection_set_stalled (path (a, b), TRUE);

  /* c holds it too, 200 ms away, fast once it sends */
  c = viewer_add (swarm, &config);
  RUN_UNTIL (swarm, c->n_connected == 2, 1 * S);
  hold_segment (swarm, c, b, segment);
  mesh_loopback_connection_set_delay (path (c, b), 200 * MS);

  RUN_UNTIL (swarm, fetch_ended (f), 3 * S);
  assert_fetch_ended (f, segment, TRUE);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (c,
              b), MESH_WIRE_TYPE_REQUEST), 1);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* A transfer abandoned as too slow stops the holder's upload: the bytes it
 * sends stop growing once the CANCEL is in. */
GST_START_TEST (test_abandoned_transfer_stops_upload)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  GBytes *segment = make_segment (1000 * 1000, 30);
  Fetch *f = fetch_new (swarm);
  guint64 sent;

  hold_segment (swarm, a, b, segment);
  /* 1 MB at 150 kB/s: ~6.7 s, the deadline is in 3 s */
  mesh_loopback_connection_set_rate (path (a, b), 150 * 1000);
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 3 * S,
      &sink, f);
  RUN_UNTIL (swarm, fetch_ended (f), 3 * S);
  assert_fetch_ended (f, segment, FALSE);
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (a, b),
          MESH_WIRE_TYPE_CANCEL) == 1, 1 * S);
  /* what the link had queued still drains; then no more DATA (control
   * frames, a few bytes, still go) */
  run_for (swarm, 3 * S);
  sent = mesh_loopback_connection_get_bytes_sent (path (a, b));
  run_for (swarm, 5 * S);
  fail_unless (mesh_loopback_connection_get_bytes_sent (path (a, b)) - sent <
      1000);
  fail_unless (mesh_peer_manager_get_bytes_uploaded (a->manager) <
      g_bytes_get_size (segment));

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* The holder leaves the swarm mid-transfer: the CDN takes over at once. */
GST_START_TEST (test_peer_leaves_mid_transfer)
{
  GBytes *segment = make_segment (1000 * 1000, 10);
  Fetch *f;
  gint64 deadline, left_at;
  Swarm *swarm = start_slow_transfer (segment, &f, &deadline, 200 * 1000);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];

  viewer_clear (a);
  left_at = swarm->now;
  RUN_UNTIL (swarm, fetch_ended (f), 1 * S);
  assert_fetch_ended (f, segment, FALSE);
  fail_unless (f->data->len >= 200 * 1000);
  fail_unless (f->ended - left_at < 100 * MS);
  RUN_UNTIL (swarm, b->n_disconnected == 1, 1 * S);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (b->manager), 0);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* The path to the holder is lost mid-transfer (no goodbye): the same. */
/* A holder stalls half-way: the rest comes from another holder, from
 * where the first one stopped (a REQUEST at that offset), not from the
 * CDN. */
GST_START_TEST (test_stalled_transfer_resumes_from_another_peer)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  Viewer *a, *b, *c, *first, *second;
  GBytes *segment = make_segment (600 * 1000, 13);
  Fetch *f = fetch_new (swarm);
  guint64 got_before;

  a = viewer_add (swarm, &config);
  b = viewer_add (swarm, &config);
  c = viewer_add (swarm, &config);
  RUN_UNTIL (swarm, a->n_connected == 2 && b->n_connected == 2
      && c->n_connected == 2, 2 * S);
  mesh_peer_manager_segment_complete (a->manager, "seg-1", segment);
  mesh_peer_manager_segment_complete (c->manager, "seg-1", segment);
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (b, a),
          MESH_WIRE_TYPE_HAVE) == 1
      && mesh_loopback_connection_count_received (path (b, c),
          MESH_WIRE_TYPE_HAVE) == 1, 1 * S);
  mesh_loopback_connection_set_rate (path (a, b), 200 * 1000);
  mesh_loopback_connection_set_rate (path (c, b), 200 * 1000);

  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 10 * S,
      &sink, f);
  RUN_UNTIL (swarm, f->data->len >= 200 * 1000, 2 * S);
  first = mesh_loopback_connection_count_received (path (a, b),
      MESH_WIRE_TYPE_REQUEST) == 1 ? a : c;
  second = first == a ? c : a;
  mesh_loopback_connection_set_stalled (path (first, b), TRUE);
  got_before = f->data->len;

  RUN_UNTIL (swarm, fetch_ended (f), 6 * S);
  assert_fetch_ended (f, segment, TRUE);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path
          (second, b), MESH_WIRE_TYPE_REQUEST), 1);
  /* the second sent the rest only */
  fail_unless (mesh_peer_manager_get_bytes_uploaded (second->manager) <=
      g_bytes_get_size (segment) - got_before);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* The link to the holder is lost before its first byte came: the request
 * goes elsewhere (here the CDN), never again to the peer that is gone
 * (which had freed it under a timer of the request; ASan saw it). */
GST_START_TEST (test_path_lost_before_first_byte)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  GBytes *segment = make_segment (300 * 1000, 12);
  Fetch *f = fetch_new (swarm);

  hold_segment (swarm, a, b, segment);
  mesh_loopback_connection_set_stalled (path (a, b), TRUE);
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 8 * S,
      &sink, f);
  run_for (swarm, 200 * MS);
  fail_unless_equals_int (f->data->len, 0);

  mesh_loopback_connection_break (path (a, b));
  RUN_UNTIL (swarm, b->n_disconnected == 1, 1 * S);
  RUN_UNTIL (swarm, fetch_ended (f), 3 * S);
  assert_fetch_ended (f, segment, FALSE);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (b->manager), 0);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

GST_START_TEST (test_path_lost_mid_transfer)
{
  GBytes *segment = make_segment (1000 * 1000, 11);
  Fetch *f;
  gint64 deadline;
  Swarm *swarm = start_slow_transfer (segment, &f, &deadline, 200 * 1000);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];

  mesh_loopback_connection_break (path (a, b));
  RUN_UNTIL (swarm, fetch_ended (f), 1 * S);
  assert_fetch_ended (f, segment, FALSE);
  fail_unless (f->data->len >= 200 * 1000);
  RUN_UNTIL (swarm, b->n_disconnected == 1 && a->n_disconnected == 1, 1 * S);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Upload rate */

/* Served at max-upload-rate: the rate holds over the transfer. */
GST_START_TEST (test_upload_rate_holds)
{
  MeshPeerConfig capped = default_config ();
  Swarm *swarm;
  Viewer *a, *b;
  GBytes *segment = make_segment (2 * 1024 * 1024, 12);
  Fetch *f;
  gint64 elapsed, expected;

  capped.max_upload_rate = 512 * 1024;
  swarm = swarm_new_pair (&capped);
  a = &swarm->viewers[0];
  b = &swarm->viewers[1];
  hold_segment (swarm, a, b, segment);

  f = fetch_new (swarm);
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 30 * S,
      &sink, f);
  RUN_UNTIL (swarm, fetch_ended (f), 30 * S);
  assert_fetch_ended (f, segment, TRUE);
  /* the bucket starts full (one second of the rate): 8 frames of 64 KiB at
   * once, the 9th as soon as it is not empty, then one per 1/8 s: the 32nd
   * 23/8 s after the first */
  elapsed = f->ended - f->first_data;
  expected = 23 * S / 8;
  fail_unless (elapsed >= expected - 50 * MS && elapsed <= expected + 100 * MS,
      "2 MiB at 512 KiB/s in %" G_GINT64_FORMAT " ms", elapsed / 1000);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* A cap below one 64 KiB frame per second still sends, at that rate. */
GST_START_TEST (test_upload_rate_below_one_frame_per_second)
{
  MeshPeerConfig capped = default_config ();
  Swarm *swarm;
  Viewer *a;
  GBytes *segment = make_segment (400 * 1024, 13);
  RawPeer *raw;
  gint64 start, elapsed;

  capped.max_upload_rate = 20 * 1024;
  swarm = swarm_new_pair (&capped);
  a = &swarm->viewers[0];
  mesh_peer_manager_segment_complete (a->manager, "seg-1", segment);
  raw = raw_peer_new (swarm, a);
  RUN_UNTIL (swarm, raw->n_have > 0, 1 * S);

  start = swarm->now;
  raw_send (raw, mesh_wire_encode_request (1, raw->have[0].key, 0, 0, 0));
  RUN_UNTIL (swarm, raw->ended, 40 * S);
  fail_unless_equals_uint64 (raw->data_bytes, 400 * 1024);
  /* a 64 KiB frame leaves whenever the bucket is not empty and its debt
   * holds back the next: the 7th and last frame (16 KiB) leaves once the
   * 6 × 64 KiB before it are paid for, beyond the 20 KiB the bucket held:
   * (384 - 20) / 20 = 18.2 s */
  elapsed = raw->last_data - start;
  fail_unless (elapsed >= 18100 * MS && elapsed <= 18400 * MS,
      "%" G_GINT64_FORMAT " ms", elapsed / 1000);

  raw_peer_free (raw);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* What the scheduler decides */

/* A viewer downloads a segment from the CDN and says so (FETCHING): the two
 * others ask it at once rather than downloading it too, and it serves them
 * what it has while the rest is still on its way. */
GST_START_TEST (test_fetching_peer_serves_as_it_downloads)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  Viewer *a, *b, *c;
  GBytes *segment = make_segment (300 * 1000, 14);
  g_autoptr (GBytes) first = g_bytes_new_from_bytes (segment, 0, 100 * 1000);
  g_autoptr (GBytes) rest = g_bytes_new_from_bytes (segment, 100 * 1000,
      200 * 1000);
  Fetch *fb, *fc;

  a = viewer_add (swarm, &config);
  b = viewer_add (swarm, &config);
  c = viewer_add (swarm, &config);
  RUN_UNTIL (swarm, a->n_connected == 2 && b->n_connected == 2
      && c->n_connected == 2, 2 * S);

  mesh_peer_manager_cdn_started (a->manager, "seg-1");
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (b, a),
          MESH_WIRE_TYPE_FETCHING) == 1
      && mesh_loopback_connection_count_received (path (c, a),
          MESH_WIRE_TYPE_FETCHING) == 1, 1 * S);

  fb = fetch_new (swarm);
  fc = fetch_new (swarm);
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 5 * S,
      &sink, fb);
  mesh_peer_manager_request (c->manager, "seg-1", 0, swarm->now + 5 * S,
      &sink, fc);
  mesh_peer_manager_cdn_progress (a->manager, "seg-1", first);
  /* both get the first part, although a has not got the rest */
  RUN_UNTIL (swarm, fb->data->len == 100 * 1000
      && fc->data->len == 100 * 1000, 1 * S);
  fail_unless (!fetch_ended (fb) && !fetch_ended (fc));

  mesh_peer_manager_cdn_progress (a->manager, "seg-1", rest);
  mesh_peer_manager_segment_complete (a->manager, "seg-1", segment);
  RUN_UNTIL (swarm, fetch_ended (fb) && fetch_ended (fc), 3 * S);
  assert_fetch_ended (fb, segment, TRUE);
  assert_fetch_ended (fc, segment, TRUE);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (a,
              b), MESH_WIRE_TYPE_REQUEST), 1);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (a,
              c), MESH_WIRE_TYPE_REQUEST), 1);
  fail_unless_equals_uint64 (mesh_peer_manager_get_bytes_uploaded
      (a->manager), 2 * g_bytes_get_size (segment));

  fetch_free (fb);
  fetch_free (fc);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* A viewer that receives a segment from a peer relays it as it arrives:
 * a third viewer gets its bytes before the relay has the whole. */
GST_START_TEST (test_relays_peer_bytes_as_they_arrive)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  Viewer *a, *b, *c;

  /* only a trusted swarm relays what it has not verified */
  config.integrity = MESH_INTEGRITY_NONE;
  GBytes *segment = make_segment (600 * 1000, 17);
  Fetch *fb = NULL, *fc = NULL;

  a = viewer_add (swarm, &config);
  b = viewer_add (swarm, &config);
  RUN_UNTIL (swarm, a->n_connected == 1 && b->n_connected == 1, 2 * S);
  hold_segment (swarm, a, b, segment);
  /* a -> b takes 2 s */
  mesh_loopback_connection_set_rate (path (a, b), 300 * 1000);
  fb = fetch_new (swarm);
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 8 * S,
      &sink, fb);
  RUN_UNTIL (swarm, fb->data->len > 0, 1 * S);
  /* (long enough for a to know its uplink's pace: two looks at its
   * queues, one per refill) */
  run_for (swarm, 1300 * MS);

  /* c joins while b receives, and b tells it it is fetching seg-1. c asks
   * a first (it holds the whole), which is busy with b and refuses what it
   * could not send in time, then b */
  c = viewer_add (swarm, &config);
  RUN_UNTIL (swarm, c->n_connected == 2, 2 * S);
  fc = fetch_new (swarm);
  mesh_peer_manager_request (c->manager, "seg-1", 0,
      swarm->now + 2500 * MS, &sink, fc);
  RUN_UNTIL (swarm, fc->data->len > 0, 1 * S);
  fail_unless (!fetch_ended (fb), "b had the whole before c got a byte");
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (b,
              c), MESH_WIRE_TYPE_REQUEST), 1);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (c,
              a), MESH_WIRE_TYPE_ABSENT), 1);

  /* b accepts the whole, as its fetcher would, which ends c's request */
  RUN_UNTIL (swarm, fetch_ended (fb), 2 * S);
  assert_fetch_ended (fb, segment, TRUE);
  fail_unless (!fetch_ended (fc));
  mesh_peer_manager_segment_complete (b->manager, "seg-1", segment);
  RUN_UNTIL (swarm, fetch_ended (fc), 1 * S);
  assert_fetch_ended (fc, segment, TRUE);

  fetch_free (fb);
  fetch_free (fc);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* The FETCHING viewer never delivers a byte: the requester stops waiting
 * after the stall time and goes to the CDN, long before its deadline. */
GST_START_TEST (test_fetching_peer_that_never_delivers)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  GBytes *segment = make_segment (300 * 1000, 15);
  Fetch *f = fetch_new (swarm);
  gint64 asked, deadline;

  mesh_peer_manager_cdn_started (a->manager, "seg-1");
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (b, a),
          MESH_WIRE_TYPE_FETCHING) == 1, 1 * S);
  asked = swarm->now;
  deadline = asked + 8 * S;
  mesh_peer_manager_request (b->manager, "seg-1", 0, deadline, &sink, f);
  RUN_UNTIL (swarm, fetch_ended (f), 8 * S);
  assert_fetch_ended (f, segment, FALSE);
  fail_unless_equals_int (f->data->len, 0);
  fail_unless (f->ended >= asked + 1500 * MS);
  fail_unless (f->ended <= asked + 2 * S);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* The FETCHING viewer's download fails half-way: its requester keeps what
 * came and the CDN gives it the rest, at once (ABSENT after DATA). */
GST_START_TEST (test_fetching_peer_fails_mid_download)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  GBytes *segment = make_segment (300 * 1000, 16);
  g_autoptr (GBytes) first = g_bytes_new_from_bytes (segment, 0, 120 * 1000);
  Fetch *f = fetch_new (swarm);
  gint64 failed;

  mesh_peer_manager_cdn_started (a->manager, "seg-1");
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (b, a),
          MESH_WIRE_TYPE_FETCHING) == 1, 1 * S);
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 8 * S,
      &sink, f);
  mesh_peer_manager_cdn_progress (a->manager, "seg-1", first);
  RUN_UNTIL (swarm, f->data->len == 120 * 1000, 1 * S);

  failed = swarm->now;
  mesh_peer_manager_segment_abandoned (a->manager, "seg-1");
  RUN_UNTIL (swarm, fetch_ended (f), 1 * S);
  assert_fetch_ended (f, segment, FALSE);
  fail_unless_equals_int (f->data->len, 120 * 1000);
  fail_unless (f->ended - failed <= 100 * MS);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (b,
              a), MESH_WIRE_TYPE_ABSENT), 1);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (b,
              a), MESH_WIRE_TYPE_LOST), 1);

  fetch_free (f);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* a holds @n segments (seg-0..., @sizes bytes), b has heard of them, and
 * a's uplink to b carries 400 kB/s. */
static Swarm *
start_paced_holder (const gsize * sizes, guint n, GBytes ** segs, Fetch ** f)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  guint i;

  for (i = 0; i < n; i++) {
    gchar *id = g_strdup_printf ("seg-%u", i);

    segs[i] = make_segment (sizes[i], 30 + i);
    mesh_peer_manager_segment_complete (a->manager, id, segs[i]);
    f[i] = fetch_new (swarm);
    g_free (id);
  }
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (b, a),
          MESH_WIRE_TYPE_HAVE) >= n, 1 * S);
  mesh_loopback_connection_set_rate (path (a, b), 400 * 1000);
  return swarm;
}

/* The holder @a refused @f (ABSENT BUSY) and, nobody else having it, the
 * CDN brought all of it in time. */
static void
assert_refused_then_cdn (Swarm * swarm, Viewer * a, Viewer * b, Fetch * f,
    GBytes * seg)
{
  /* (the ABSENT queues behind the DATA already in a's queue to b) */
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (b, a),
          MESH_WIRE_TYPE_ABSENT) == 1, 800 * MS);
  RUN_UNTIL (swarm, fetch_ended (f), 1500 * MS);
  assert_fetch_ended (f, seg, FALSE);
  fail_unless_equals_int (f->data->len, 0);
}

/* A holder that knows its uplink's pace refuses (ABSENT BUSY) a request it
 * could not deliver by the requester's deadline, so that the requester
 * goes elsewhere at once, and serves an urgent request before a relaxed
 * one. */
GST_START_TEST (test_holder_refuses_what_it_cannot_deliver_in_time)
{
  const gsize sizes[3] = { 2 * 1000 * 1000, 400 * 1000, 400 * 1000 };
  GBytes *segs[3];
  Fetch *f[3];
  Swarm *swarm = start_paced_holder (sizes, 3, segs, f);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];

  /* a relaxed request, long enough for the holder to learn its pace */
  mesh_peer_manager_request (b->manager, "seg-0", 0, swarm->now + 20 * S,
      &sink, f[0]);
  run_for (swarm, 2 * S);
  /* behind the ~200 kB in the link's queue, 400 kB at 400 kB/s fit (with
   * the holder's margin) in the 1.9 s left after the requester's safety
   * margin, and go first */
  mesh_peer_manager_request (b->manager, "seg-1", 0,
      swarm->now + 2600 * MS, &sink, f[1]);
  /* after them, 400 kB more do not fit in 2.3 s */
  mesh_peer_manager_request (b->manager, "seg-2", 0,
      swarm->now + 3000 * MS, &sink, f[2]);
  assert_refused_then_cdn (swarm, a, b, f[2], segs[2]);

  RUN_UNTIL (swarm, fetch_ended (f[0]) && fetch_ended (f[1]), 8 * S);
  assert_fetch_ended (f[0], segs[0], TRUE);
  assert_fetch_ended (f[1], segs[1], TRUE);
  fail_unless (f[1]->ended < f[0]->ended);

  free_fetches (f, segs, 3);
  swarm_free (swarm);
}

GST_END_TEST;

/* An urgent request that would fit itself but make a running upload due
 * later miss its deadline is refused: served first, it would stall the
 * running one, whose requester would abandon it half-way (both the uplink
 * and the time spent lost). */
GST_START_TEST (test_holder_keeps_running_upload_on_time)
{
  const gsize sizes[2] = { 2 * 1000 * 1000, 400 * 1000 };
  GBytes *segs[2];
  Fetch *f[2];
  Swarm *swarm = start_paced_holder (sizes, 2, segs, f);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];

  /* 2 MB at 400 kB/s: 5 s of the 6.3 s its requester gives the holder */
  mesh_peer_manager_request (b->manager, "seg-0", 0, swarm->now + 7 * S,
      &sink, f[0]);
  run_for (swarm, 2 * S);
  /* 400 kB behind the link's queue fit in the 1.9 s this one gives, but
   * would leave seg-0's last ~1.2 MB 0.7 s late */
  mesh_peer_manager_request (b->manager, "seg-1", 0,
      swarm->now + 2600 * MS, &sink, f[1]);
  assert_refused_then_cdn (swarm, a, b, f[1], segs[1]);
  RUN_UNTIL (swarm, fetch_ended (f[0]), 6 * S);
  assert_fetch_ended (f[0], segs[0], TRUE);

  free_fetches (f, segs, 2);
  swarm_free (swarm);
}

GST_END_TEST;

/* A peer whose links never come up (behind a NAT that does not map) is not
 * called at every peer refresh: each failure doubles the wait before it is
 * called again (mesh-link-backoff.h). Before, three viewers made 24 failed
 * calls in 30 s, each costing a connect timeout. */
GST_START_TEST (test_failed_links_back_off)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  Viewer *a, *b;
  guint calls;

  a = viewer_add (swarm, &config);
  b = viewer_add (swarm, &config);
  mesh_loopback_transport_set_unreachable (b->transport, TRUE);
  run_for (swarm, 60 * S);
  fail_unless_equals_int (a->n_connected + b->n_connected, 0);
  calls = mesh_loopback_transport_get_n_connections (a->transport)
      + mesh_loopback_transport_get_n_connections (b->transport);
  /* one call and its answer per attempt: attempts at about 0, 15, 40 s
   * (5 s timeouts, then 10 and 20 s waits), where a refresh every 5 s
   * would make 6 */
  fail_unless (calls >= 2, "nobody tried: %u connections", calls);
  fail_unless (calls <= 2 * 3, "%u connections in 60 s", calls);

  /* once the path works, the next attempt after the back-off links them */
  mesh_loopback_transport_set_unreachable (b->transport, FALSE);
  RUN_UNTIL (swarm, a->n_connected == 1 && b->n_connected == 1, 120 * S);
  swarm_free (swarm);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Hostile peers: what a peer can make a viewer hold or do is bounded */

/* A viewer that verifies what peers send (the default) relays nothing of a
 * segment before its fetcher accepted the whole: no FETCHING for a segment
 * coming from a peer (the same run relays it in a trusted swarm, see
 * test_relays_peer_bytes_as_they_arrive). */
GST_START_TEST (test_verifying_viewer_relays_only_accepted_segments)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  Viewer *a, *b, *c;
  GBytes *segment = make_segment (600 * 1000, 17);
  Fetch *fb;

  a = viewer_add (swarm, &config);
  b = viewer_add (swarm, &config);
  RUN_UNTIL (swarm, a->n_connected == 1 && b->n_connected == 1, 2 * S);
  hold_segment (swarm, a, b, segment);
  mesh_loopback_connection_set_rate (path (a, b), 300 * 1000);
  fb = fetch_new (swarm);
  mesh_peer_manager_request (b->manager, "seg-1", 0, swarm->now + 8 * S,
      &sink, fb);
  RUN_UNTIL (swarm, fb->data->len > 0, 1 * S);
  c = viewer_add (swarm, &config);
  RUN_UNTIL (swarm, c->n_connected == 2, 2 * S);
  RUN_UNTIL (swarm, fetch_ended (fb), 4 * S);
  assert_fetch_ended (fb, segment, TRUE);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (c,
              b), MESH_WIRE_TYPE_FETCHING), 0);
  fail_unless_equals_int (mesh_loopback_connection_count_received (path (c,
              b), MESH_WIRE_TYPE_HAVE), 0);

  /* accepted: now it is shared */
  mesh_peer_manager_segment_complete (b->manager, "seg-1", segment);
  RUN_UNTIL (swarm, mesh_loopback_connection_count_received (path (c, b),
          MESH_WIRE_TYPE_HAVE) == 1, 1 * S);

  fetch_free (fb);
  g_bytes_unref (segment);
  swarm_free (swarm);
}

GST_END_TEST;

/* One viewer with a raw peer linked to it: the hostile-peer tests. */
typedef struct
{
  Swarm *swarm;
  Viewer *a;
  RawPeer *raw;
} RawFixture;

static RawFixture
raw_fixture_new (void)
{
  RawFixture x;
  MeshPeerConfig config = default_config ();

  x.swarm = swarm_new ();
  x.a = viewer_add (x.swarm, &config);
  x.raw = raw_peer_new (x.swarm, x.a);
  return x;
}

static void
raw_fixture_free (RawFixture * x)
{
  raw_peer_free (x->raw);
  swarm_free (x->swarm);
}

/* The raw peer announces "seg-1" of @size bytes. */
static void
raw_announce (RawPeer * raw, guint32 size)
{
  MeshWireHaveEntry entry = { mesh_wire_segment_key ("seg-1"), size };

  raw_send (raw, mesh_wire_encode_have (&entry, 1));
}

/* @a asks the raw peer, which announced "seg-1" of @size bytes, for it
 * (the playlist gives no size), by @deadline. */
static Fetch *
request_from_raw (Swarm * swarm, Viewer * a, RawPeer * raw, guint32 size,
    gint64 deadline)
{
  Fetch *f = fetch_new (swarm);

  raw_announce (raw, size);
  run_for (swarm, 100 * MS);
  mesh_peer_manager_request (a->manager, "seg-1", 0, deadline, &sink, f);
  RUN_UNTIL (swarm, raw->n_requests == 1, 1 * S);
  return f;
}

/* A peer that announced 1000 bytes and sends more (the playlist gives no
 * size): its link is closed at once, the segment goes to the CDN. */
GST_START_TEST (test_data_beyond_announced_size_closes_link)
{
  RawFixture x = raw_fixture_new ();
  Swarm *swarm = x.swarm;
  Viewer *a = x.a;
  RawPeer *raw = x.raw;
  Fetch *f = request_from_raw (swarm, a, raw, 1000, swarm->now + 10 * S);
  GBytes *data = make_segment (1500, 3);

  raw_send (raw, mesh_wire_encode_data (raw->last_request_id, 0, data));
  RUN_UNTIL (swarm, raw->closed && fetch_ended (f), 1 * S);
  fail_unless_equals_int (f->n_use_cdn, 1);
  fail_unless_equals_int (f->data->len, 0);

  g_bytes_unref (data);
  fetch_free (f);
  raw_fixture_free (&x);
}

GST_END_TEST;

/* A segment of unknown size trickling in, never stalled long enough to be
 * called a stall, is abandoned at its deadline all the same. */
GST_START_TEST (test_trickle_of_unknown_size_ends_at_deadline)
{
  RawFixture x = raw_fixture_new ();
  Swarm *swarm = x.swarm;
  Viewer *a = x.a;
  RawPeer *raw = x.raw;
  gint64 deadline = swarm->now + 3 * S;
  Fetch *f = request_from_raw (swarm, a, raw, 0, deadline);
  guint64 offset = 0;

  while (!fetch_ended (f) && swarm->now < deadline + 2 * S) {
    GBytes *bit = make_segment (1000, offset);

    raw_send (raw, mesh_wire_encode_data (raw->last_request_id, offset, bit));
    offset += 1000;
    g_bytes_unref (bit);
    run_for (swarm, 500 * MS);
  }
  fail_unless_equals_int (f->n_use_cdn, 1);
  fail_unless (f->ended <= deadline + 100 * MS, "ended %" G_GINT64_FORMAT
      " ms after the deadline", (f->ended - deadline) / 1000);

  fetch_free (f);
  raw_fixture_free (&x);
}

GST_END_TEST;

/* One peer cannot take every upload slot: its third request at once is
 * refused BUSY. */
GST_START_TEST (test_uploads_per_peer_bounded)
{
  RawFixture x = raw_fixture_new ();
  Swarm *swarm = x.swarm;
  Viewer *a = x.a;
  RawPeer *raw = x.raw;
  GBytes *segment = make_segment (600 * 1000, 5);
  guint64 key = mesh_wire_segment_key ("seg-1");
  guint32 id;

  mesh_peer_manager_segment_complete (a->manager, "seg-1", segment);
  RUN_UNTIL (swarm, raw->n_have == 1, 1 * S);
  /* slow, so that the first two are still running */
  mesh_loopback_connection_set_rate (mesh_loopback_transport_get_connection
      (a->transport, "raw-peer-0001"), 100 * 1000);
  for (id = 1; id <= 3; id++)
    raw_send (raw, mesh_wire_encode_request (id, key, 0, 0, 0));
  /* (the loopback link is one ordered pipe: ABSENT waits behind DATA) */
  RUN_UNTIL (swarm, raw->n_absent == 1, 5 * S);
  fail_unless_equals_int (raw->absent_reason, MESH_WIRE_ABSENT_BUSY);
  fail_unless (raw->data_bytes > 0);

  g_bytes_unref (segment);
  raw_fixture_free (&x);
}

GST_END_TEST;

/* A peer that stops reading what we upload to it is cut off, rather than
 * holding our uplink (and every other upload) forever. */
GST_START_TEST (test_upload_to_non_reader_closes_link)
{
  RawFixture x = raw_fixture_new ();
  Swarm *swarm = x.swarm;
  Viewer *a = x.a;
  RawPeer *raw = x.raw;
  GBytes *segment = make_segment (2 * 1000 * 1000, 6);
  gint64 stalled_at;

  mesh_peer_manager_segment_complete (a->manager, "seg-1", segment);
  RUN_UNTIL (swarm, raw->n_have == 1, 1 * S);
  raw_send (raw, mesh_wire_encode_request (1, raw->have[0].key, 0, 0, 0));
  RUN_UNTIL (swarm, raw->data_bytes > 0, 1 * S);
  mesh_loopback_connection_set_stalled (mesh_loopback_transport_get_connection
      (a->transport, "raw-peer-0001"), TRUE);
  stalled_at = swarm->now;
  RUN_UNTIL (swarm, raw->closed, 10 * S);
  fail_unless (swarm->now - stalled_at >= 2 * S, "closed after %"
      G_GINT64_FORMAT " ms only", (swarm->now - stalled_at) / 1000);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (a->manager), 0);

  g_bytes_unref (segment);
  raw_fixture_free (&x);
}

GST_END_TEST;

/* HAVE (run 0) and FETCHING (run 1) are bounded per peer: announcing more
 * than any cache holds, or any viewer downloads, closes the link. */
GST_START_TEST (test_announcement_flood_closes_link)
{
  static const guint bounds[] = { 8192, 256 };
  guint64 keys[MESH_WIRE_MAX_KEYS];
  RawFixture x = raw_fixture_new ();
  Swarm *swarm = x.swarm;
  RawPeer *raw = x.raw;
  MeshWireHaveEntry entries[MESH_WIRE_MAX_KEYS];
  guint64 next = 1;
  guint frame, i;

  for (frame = 0; frame < 20 && !raw->closed; frame++) {
    for (i = 0; i < MESH_WIRE_MAX_KEYS; i++) {
      keys[i] = entries[i].key = next++;
      entries[i].size = 1000;
    }
    raw_send (raw, __i__ == 0 ? mesh_wire_encode_have (entries,
            MESH_WIRE_MAX_KEYS) : mesh_wire_encode_fetching (keys,
            MESH_WIRE_MAX_KEYS));
    run_for (swarm, 10 * MS);
  }
  RUN_UNTIL (swarm, raw->closed, 1 * S);
  fail_unless (next > bounds[__i__], "closed after %" G_GUINT64_FORMAT
      " keys only", next - 1);

  raw_fixture_free (&x);
}

GST_END_TEST;

/* A peer reported for bad data is cut off and never linked again. */
GST_START_TEST (test_reported_peer_is_cut_off)
{
  Swarm *swarm = swarm_new_pair (NULL);
  Viewer *a = &swarm->viewers[0], *b = &swarm->viewers[1];
  MeshPeerStats stats;
  GPtrArray *reports;

  mesh_peer_manager_report_peer (a->manager, viewer_id (b), "seg-1");
  RUN_UNTIL (swarm, a->n_disconnected == 1 && b->n_disconnected == 1, 1 * S);
  mesh_peer_manager_get_stats (a->manager, &stats);
  fail_unless_equals_int (stats.peers_banned, 1);
  reports = mesh_memory_signaller_get_reports (MESH_MEMORY_SIGNALLER
      (a->signaller));
  fail_unless_equals_int (reports->len, 1);
  fail_unless (strstr (reports->pdata[0], viewer_id (b)) != NULL);
  g_ptr_array_unref (reports);
  /* b calls again (its refresh timer), a does not answer */
  run_for (swarm, 15 * S);
  fail_unless_equals_int (a->n_connected, 1);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (a->manager), 0);

  swarm_free (swarm);
}

GST_END_TEST;

/* Callers that come at once are taken at a bounded rate: the rest are
 * told BUSY (each link costs an ICE agent, perhaps a TURN allocation). */
GST_START_TEST (test_inbound_calls_rate_limited)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  Viewer *a;
  RawPeer *raws[9];
  guint i, connected = 0;

  config.max_peers = 20;
  a = viewer_add (swarm, &config);
  for (i = 0; i < G_N_ELEMENTS (raws); i++) {
    g_autofree gchar *id = g_strdup_printf ("raw-peer-%04u", i);

    raws[i] = raw_peer_start (swarm, a, id);
  }
  run_for (swarm, 300 * MS);
  for (i = 0; i < G_N_ELEMENTS (raws); i++)
    connected += raws[i]->connected;
  fail_unless_equals_int (connected, 6);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (a->manager), 6);

  for (i = 0; i < G_N_ELEMENTS (raws); i++)
    raw_peer_free (raws[i]);
  swarm_free (swarm);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Near peers (the signaller's is_near(): here, the same network hint) */

/* A far viewer b joins, then a near one c, then a (site-1) with a single
 * outgoing slot: its welcome lists b first, and a calls c. */
GST_START_TEST (test_near_peers_called_first)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig far = default_config (), near = default_config ();
  MeshPeerConfig small = default_config ();
  Viewer *a, *b, *c;

  far.network = "site-2";
  near.network = small.network = "site-1";
  small.max_peers = 2;          /* one outgoing slot */
  b = viewer_add (swarm, &far);
  c = viewer_add (swarm, &near);
  RUN_UNTIL (swarm, b->n_connected == 1 && c->n_connected == 1, 2 * S);
  a = viewer_add (swarm, &small);
  RUN_UNTIL (swarm, a->n_connected == 1, 2 * S);
  run_for (swarm, 500 * MS);
  fail_unless (mesh_loopback_transport_get_connection (a->transport,
          viewer_id (c)) != NULL);
  fail_unless (mesh_loopback_transport_get_connection (a->transport,
          viewer_id (b)) == NULL);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (a->manager), 1);
  swarm_free (swarm);
}

GST_END_TEST;

static guint
count_connected (RawPeer ** raws, guint n)
{
  guint i, connected = 0;

  for (i = 0; i < n; i++)
    connected += raws[i]->connected && !raws[i]->closed;
  return connected;
}

/* @n raw peers of site-2 ("far-peer-<i>") call @a; their links come up. */
static void
far_callers (Swarm * swarm, Viewer * a, RawPeer ** far, guint n)
{
  guint i;

  for (i = 0; i < n; i++) {
    g_autofree gchar *id = g_strdup_printf ("far-peer-%04u", i);

    far[i] = raw_peer_start_in (swarm, a, id, "site-2");
  }
  RUN_UNTIL (swarm, count_connected (far, n) == n, 2 * S);
}

/* Raw peer "near-peer-@n" of site-1 calls @a, which has 2 s to answer. */
static RawPeer *
near_caller (Swarm * swarm, Viewer * a, guint n)
{
  g_autofree gchar *id = g_strdup_printf ("near-peer-%04u", n);
  RawPeer *r = raw_peer_start_in (swarm, a, id, "site-1");

  run_for (swarm, 2 * S);
  return r;
}

/* a (site-1) with its 3 slots taken by far callers: a near caller is
 * refused while they are young; later one takes the slot of the least
 * useful (not far[0], which delivered a segment); another near caller
 * within 5 s is refused; one after takes a second far slot, and far[0]
 * stays. */
GST_START_TEST (test_near_caller_replaces_far_link)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  g_autoptr (GBytes) segment = make_segment (16 * 1024, 7);
  RawPeer *far[3], *near[4];
  Fetch *f;
  Viewer *a;
  guint i;

  config.network = "site-1";
  config.max_peers = 3;
  a = viewer_add (swarm, &config);
  far_callers (swarm, a, far, G_N_ELEMENTS (far));
  /* far[0] is useful: it delivers seg-1 to a */
  f = request_from_raw (swarm, a, far[0], g_bytes_get_size (segment),
      swarm->now + 60 * S);
  raw_send (far[0], mesh_wire_encode_data (far[0]->last_request_id, 0,
          segment));
  raw_send (far[0], mesh_wire_encode_end (far[0]->last_request_id,
          g_bytes_get_size (segment)));
  RUN_UNTIL (swarm, fetch_ended (f), 2 * S);
  assert_fetch_ended (f, segment, TRUE);

  /* young far links are kept */
  near[0] = near_caller (swarm, a, 0);
  fail_if (near[0]->connected);
  fail_unless_equals_int (count_connected (far, 3), 3);

  run_for (swarm, 10 * S);
  near[1] = near_caller (swarm, a, 1);
  fail_unless (near[1]->connected && !near[1]->closed);
  fail_unless_equals_int (count_connected (far, 3), 2);
  fail_unless (far[0]->connected && !far[0]->closed);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (a->manager), 3);

  /* within 5 s of the last replacement: busy */
  near[2] = near_caller (swarm, a, 2);
  fail_if (near[2]->connected);
  fail_unless_equals_int (count_connected (far, 3), 2);

  /* later: the other idle far link goes, far[0] (useful) stays */
  run_for (swarm, 4 * S);
  near[3] = near_caller (swarm, a, 3);
  fail_unless (near[3]->connected && !near[3]->closed);
  fail_unless_equals_int (count_connected (far, 3), 1);
  fail_unless (far[0]->connected && !far[0]->closed);

  for (i = 0; i < G_N_ELEMENTS (near); i++)
    raw_peer_free (near[i]);
  for (i = 0; i < G_N_ELEMENTS (far); i++)
    raw_peer_free (far[i]);
  fetch_free (f);
  swarm_free (swarm);
}

GST_END_TEST;

/* Two far links, both idle: a near caller may take one, never the last
 * far link, whatever the time. */
GST_START_TEST (test_last_far_link_kept)
{
  Swarm *swarm = swarm_new ();
  MeshPeerConfig config = default_config ();
  RawPeer *far[2], *near[3];
  Viewer *a;
  guint i;

  config.network = "site-1";
  config.max_peers = 2;
  a = viewer_add (swarm, &config);
  far_callers (swarm, a, far, G_N_ELEMENTS (far));
  run_for (swarm, 11 * S);
  near[0] = near_caller (swarm, a, 0);
  fail_unless (near[0]->connected && !near[0]->closed);
  fail_unless_equals_int (count_connected (far, 2), 1);
  /* slots full (1 near, 1 far): the last far link stays */
  for (i = 1; i < G_N_ELEMENTS (near); i++) {
    run_for (swarm, 11 * S);
    near[i] = near_caller (swarm, a, i);
    fail_if (near[i]->connected);
    fail_unless_equals_int (count_connected (far, 2), 1);
  }
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (a->manager), 2);

  for (i = 0; i < G_N_ELEMENTS (near); i++)
    raw_peer_free (near[i]);
  for (i = 0; i < G_N_ELEMENTS (far); i++)
    raw_peer_free (far[i]);
  swarm_free (swarm);
}

GST_END_TEST;

static Suite *
peer_manager_suite (void)
{
  Suite *s = suite_create ("peer-manager");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_loopback_fixture);
  tcase_add_test (tc, test_links_get_congestion_control);
  tcase_add_test (tc, test_links_get_candidate_policy);
  tcase_add_test (tc, test_holder_serves_segment);
  tcase_add_test (tc, test_lost_segment_goes_to_cdn);
  tcase_add_test (tc, test_absent_goes_to_cdn);
  tcase_add_test (tc, test_upload_disabled_answers_absent);
  tcase_add_test (tc, test_stalled_peer_goes_to_cdn);
  tcase_add_test (tc, test_cancel_stops_transfer);
  tcase_add_test (tc, test_holder_serves_requests_in_turn);
  tcase_add_test (tc, test_abandoned_transfer_stops_upload);
  tcase_add_test (tc, test_peer_leaves_mid_transfer);
  tcase_add_test (tc, test_path_lost_mid_transfer);
  tcase_add_test (tc, test_path_lost_before_first_byte);
  tcase_add_test (tc, test_stalled_transfer_resumes_from_another_peer);
  tcase_add_test (tc, test_resumed_transfer_judged_on_its_rest);
  tcase_add_test (tc, test_upload_rate_holds);
  tcase_add_test (tc, test_upload_rate_below_one_frame_per_second);
  tcase_add_test (tc, test_fetching_peer_serves_as_it_downloads);
  tcase_add_test (tc, test_relays_peer_bytes_as_they_arrive);
  tcase_add_test (tc, test_verifying_viewer_relays_only_accepted_segments);
  tcase_add_test (tc, test_data_beyond_announced_size_closes_link);
  tcase_add_test (tc, test_trickle_of_unknown_size_ends_at_deadline);
  tcase_add_test (tc, test_uploads_per_peer_bounded);
  tcase_add_test (tc, test_upload_to_non_reader_closes_link);
  tcase_add_loop_test (tc, test_announcement_flood_closes_link, 0, 2);
  tcase_add_test (tc, test_reported_peer_is_cut_off);
  tcase_add_test (tc, test_inbound_calls_rate_limited);
  tcase_add_test (tc, test_near_peers_called_first);
  tcase_add_test (tc, test_near_caller_replaces_far_link);
  tcase_add_test (tc, test_last_far_link_kept);
  tcase_add_test (tc, test_fetching_peer_that_never_delivers);
  tcase_add_test (tc, test_fetching_peer_fails_mid_download);
  tcase_add_test (tc, test_holder_refuses_what_it_cannot_deliver_in_time);
  tcase_add_test (tc, test_holder_keeps_running_upload_on_time);
  tcase_add_test (tc, test_failed_links_back_off);
  return s;
}

GST_CHECK_MAIN (peer_manager);
