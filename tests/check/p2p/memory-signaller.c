/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of the in-memory MeshSignaller (mesh-memory-signaller.h): joins,
 * welcome lists, peer-joined/left, relay, replacement, tokens, failures,
 * that nothing is emitted from inside a call nor after leave(), delivery on
 * the owner context of each member, and two MeshPeerManagers meeting
 * through it.
 *
 * Threads: each test runs on the check thread with a GMainContext of its own
 * pushed as thread-default; the signallers and managers live on it and the
 * helpers iterate it until what they wait for has happened or a deadline
 * passes. test_other_thread runs one member on a thread of its own.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <string.h>

#include "p2p/mesh-memory-signaller.h"
#include "p2p/mesh-quic-link.h"
#include "p2p/mesh-peer-manager.h"

#include "../mesh-test-wait.h"

#define WAIT_MS 5000
#define SWARM "swarm-1"

static GMainContext *context;
static MeshMemoryHub *hub;
static GPtrArray *recorders;

/* Iterates the test context until @cond holds or @ms pass, then asserts it. */
#define WAIT_UNTIL(cond, ms) MESH_TEST_WAIT_UNTIL (context, cond, ms)

/* Runs everything already queued on the test context. */
static void
flush (void)
{
  while (g_main_context_iteration (context, FALSE));
}

typedef struct
{
  MeshSignaller *signaller;
  guint welcomes;
  guint peer_lists;
  GStrv last_peers;
  GPtrArray *joined;            /* gchar * */
  GPtrArray *left;              /* gchar * */
  guint messages;
  gchar *message_from;
  JsonObject *message;
  guint errors;
  GError *error;
  GThread *thread;              /* where the last signal came from */
} Recorder;

static void
record_thread (Recorder * r)
{
  r->thread = g_thread_self ();
}

static void
on_welcome (MeshSignaller * s, GStrv peers, Recorder * r)
{
  r->welcomes++;
  g_strfreev (r->last_peers);
  r->last_peers = g_strdupv (peers);
  record_thread (r);
}

static void
on_peers (MeshSignaller * s, GStrv peers, Recorder * r)
{
  r->peer_lists++;
  g_strfreev (r->last_peers);
  r->last_peers = g_strdupv (peers);
  record_thread (r);
}

static void
on_peer_joined (MeshSignaller * s, const gchar * peer, Recorder * r)
{
  g_ptr_array_add (r->joined, g_strdup (peer));
  record_thread (r);
}

static void
on_peer_left (MeshSignaller * s, const gchar * peer, Recorder * r)
{
  g_ptr_array_add (r->left, g_strdup (peer));
  record_thread (r);
}

static void
on_message (MeshSignaller * s, const gchar * from, JsonObject * payload,
    Recorder * r)
{
  r->messages++;
  g_free (r->message_from);
  r->message_from = g_strdup (from);
  g_clear_pointer (&r->message, json_object_unref);
  r->message = json_object_ref (payload);
  record_thread (r);
}

static void
on_error (MeshSignaller * s, GError * error, Recorder * r)
{
  r->errors++;
  g_clear_error (&r->error);
  r->error = g_error_copy (error);
  record_thread (r);
}

static void
recorder_free (gpointer data)
{
  Recorder *r = data;

  mesh_signaller_leave (r->signaller);
  g_signal_handlers_disconnect_by_data (r->signaller, r);
  g_object_unref (r->signaller);
  g_strfreev (r->last_peers);
  g_ptr_array_unref (r->joined);
  g_ptr_array_unref (r->left);
  g_free (r->message_from);
  g_clear_pointer (&r->message, json_object_unref);
  g_clear_error (&r->error);
  g_free (r);
}

/* A signaller of the hub, owned by the thread-default context. */
static Recorder *
recorder_new (void)
{
  Recorder *r = g_new0 (Recorder, 1);

  r->signaller = mesh_memory_signaller_new (hub);
  r->joined = g_ptr_array_new_with_free_func (g_free);
  r->left = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (r->signaller, "welcome", G_CALLBACK (on_welcome), r);
  g_signal_connect (r->signaller, "peers", G_CALLBACK (on_peers), r);
  g_signal_connect (r->signaller, "peer-joined", G_CALLBACK (on_peer_joined),
      r);
  g_signal_connect (r->signaller, "peer-left", G_CALLBACK (on_peer_left), r);
  g_signal_connect (r->signaller, "message", G_CALLBACK (on_message), r);
  g_signal_connect (r->signaller, "error", G_CALLBACK (on_error), r);
  g_ptr_array_add (recorders, r);
  return r;
}

static Recorder *
join (const gchar * peer, gboolean upload)
{
  Recorder *r = recorder_new ();

  mesh_signaller_join (r->signaller, SWARM, peer, NULL, upload);
  WAIT_UNTIL (r->welcomes == 1, WAIT_MS);
  return r;
}

static guint
total_signals (Recorder * r)
{
  return r->welcomes + r->peer_lists + r->joined->len + r->left->len +
      r->messages + r->errors;
}

static void
setup (void)
{
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  hub = mesh_memory_hub_new ();
  recorders = g_ptr_array_new_with_free_func (recorder_free);
}

static void
teardown (void)
{
  g_clear_pointer (&recorders, g_ptr_array_unref);
  g_clear_object (&hub);
  flush ();
  g_main_context_pop_thread_default (context);
  g_clear_pointer (&context, g_main_context_unref);
}

GST_START_TEST (test_join_welcome_and_relay)
{
  Recorder *a, *b;
  g_autoptr (JsonObject) payload = json_object_new ();

  a = join ("peer-alice", TRUE);
  fail_unless_equals_int (g_strv_length (a->last_peers), 0);

  b = recorder_new ();
  mesh_signaller_join (b->signaller, SWARM, "peer-bob00", NULL, FALSE);
  /* nothing from inside the call */
  fail_unless_equals_int (total_signals (a) + total_signals (b), 1);
  WAIT_UNTIL (b->welcomes == 1 && a->joined->len == 1, WAIT_MS);
  fail_unless_equals_int (g_strv_length (b->last_peers), 1);
  fail_unless_equals_string (b->last_peers[0], "peer-alice");
  fail_unless_equals_string (g_ptr_array_index (a->joined, 0), "peer-bob00");
  fail_unless_equals_int (mesh_memory_hub_get_n_members (hub, SWARM), 2);

  json_object_set_string_member (payload, "kind", "candidate");
  mesh_signaller_relay (b->signaller, "peer-alice", payload);
  fail_unless_equals_int (a->messages, 0);
  /* what the receiver gets is a copy */
  json_object_set_string_member (payload, "kind", "changed");
  WAIT_UNTIL (a->messages == 1, WAIT_MS);
  fail_unless_equals_string (a->message_from, "peer-bob00");
  fail_unless_equals_string (json_object_get_string_member (a->message,
          "kind"), "candidate");
  fail_unless_equals_int (mesh_memory_hub_get_n_relayed (hub), 1);

  /* to nobody, or to ourselves: dropped */
  mesh_signaller_relay (b->signaller, "peer-nobody", payload);
  mesh_signaller_relay (b->signaller, "peer-bob00", payload);
  flush ();
  fail_unless_equals_int (b->messages, 0);
  fail_unless_equals_int (mesh_memory_hub_get_n_relayed (hub), 1);

  mesh_signaller_request_peers (a->signaller);
  WAIT_UNTIL (a->peer_lists == 1, WAIT_MS);
  fail_unless_equals_int (g_strv_length (a->last_peers), 1);
  fail_unless_equals_string (a->last_peers[0], "peer-bob00");

  mesh_signaller_leave (b->signaller);
  WAIT_UNTIL (a->left->len == 1, WAIT_MS);
  fail_unless_equals_string (g_ptr_array_index (a->left, 0), "peer-bob00");
  fail_unless_equals_int (mesh_memory_hub_get_n_members (hub, SWARM), 1);
  fail_unless_equals_int (a->errors + b->errors, 0);
}

GST_END_TEST;

GST_START_TEST (test_uploaders_first_and_max_peers)
{
  const gchar *ids[] = { "peer-down-1", "peer-up-001", "peer-down-2",
    "peer-up-002"
  };
  Recorder *newcomer;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    join (ids[i], g_str_has_prefix (ids[i], "peer-up"));
  newcomer = join ("peer-newcomer", FALSE);
  fail_unless_equals_int (g_strv_length (newcomer->last_peers), 4);
  fail_unless (g_str_has_prefix (newcomer->last_peers[0], "peer-up"));
  fail_unless (g_str_has_prefix (newcomer->last_peers[1], "peer-up"));
  fail_unless (g_str_has_prefix (newcomer->last_peers[2], "peer-down"));

  g_object_set (hub, "max-peers", 2, NULL);
  mesh_signaller_request_peers (newcomer->signaller);
  WAIT_UNTIL (newcomer->peer_lists == 1, WAIT_MS);
  fail_unless_equals_int (g_strv_length (newcomer->last_peers), 2);
  fail_unless (g_str_has_prefix (newcomer->last_peers[0], "peer-up"));
  fail_unless (g_str_has_prefix (newcomer->last_peers[1], "peer-up"));
}

GST_END_TEST;

/* What was queued for a member that leaves never reaches it, and a member
 * disposed without leave() leaves. */
/* Members that joined with the same network hint are near one another;
 * no hint is near nobody. */
GST_START_TEST (test_near_by_network_hint)
{
  Recorder *a = recorder_new (), *b = recorder_new (), *c = recorder_new (),
      *d = recorder_new ();

  mesh_signaller_join_full (a->signaller, SWARM, "peer-a", NULL, TRUE,
      "site-1");
  mesh_signaller_join_full (b->signaller, SWARM, "peer-b", NULL, TRUE,
      "site-1");
  mesh_signaller_join_full (c->signaller, SWARM, "peer-c", NULL, TRUE,
      "site-2");
  mesh_signaller_join (d->signaller, SWARM, "peer-d", NULL, TRUE);
  WAIT_UNTIL (d->welcomes == 1, WAIT_MS);
  fail_unless (mesh_signaller_is_near (a->signaller, "peer-b"));
  fail_unless (mesh_signaller_is_near (b->signaller, "peer-a"));
  fail_if (mesh_signaller_is_near (a->signaller, "peer-a"));
  fail_if (mesh_signaller_is_near (a->signaller, "peer-c"));
  fail_if (mesh_signaller_is_near (c->signaller, "peer-a"));
  fail_if (mesh_signaller_is_near (a->signaller, "peer-d"));
  fail_if (mesh_signaller_is_near (d->signaller, "peer-a"));
  fail_if (mesh_signaller_is_near (a->signaller, "peer-nobody"));
  mesh_signaller_leave (b->signaller);
  fail_if (mesh_signaller_is_near (a->signaller, "peer-b"));
}

GST_END_TEST;

GST_START_TEST (test_nothing_after_leave)
{
  Recorder *a = join ("peer-alice", FALSE);
  Recorder *b = join ("peer-bob00", FALSE);
  MeshSignaller *c = mesh_memory_signaller_new (hub);
  JsonObject *payload = json_object_new ();
  guint before;

  WAIT_UNTIL (a->joined->len == 1, WAIT_MS);
  mesh_signaller_relay (b->signaller, "peer-alice", payload);
  mesh_signaller_request_peers (a->signaller);
  before = total_signals (a);
  mesh_signaller_leave (a->signaller);
  flush ();
  fail_unless_equals_int (total_signals (a), before);
  WAIT_UNTIL (b->left->len == 1, WAIT_MS);

  mesh_signaller_join (c, SWARM, "peer-carol", NULL, FALSE);
  WAIT_UNTIL (b->joined->len == 1, WAIT_MS);
  g_object_unref (c);
  flush ();
  WAIT_UNTIL (b->left->len == 2, WAIT_MS);
  fail_unless_equals_string (g_ptr_array_index (b->left, 1), "peer-carol");
  fail_unless_equals_int (mesh_memory_hub_get_n_members (hub, SWARM), 1);
  json_object_unref (payload);
}

GST_END_TEST;

GST_START_TEST (test_replaced)
{
  Recorder *old = join ("peer-alice", FALSE);
  Recorder *other = join ("peer-other", FALSE);
  Recorder *again = join ("peer-alice", TRUE);

  WAIT_UNTIL (old->errors == 1, WAIT_MS);
  fail_unless (g_error_matches (old->error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_REFUSED));
  WAIT_UNTIL (other->left->len == 1, WAIT_MS);
  fail_unless_equals_int (mesh_memory_hub_get_n_members (hub, SWARM), 2);
  fail_unless_equals_int (again->errors, 0);
  fail_unless_equals_string (again->last_peers[0], "peer-other");
}

GST_END_TEST;

GST_START_TEST (test_token_and_failure)
{
  Recorder *none = recorder_new ();
  Recorder *wrong = recorder_new ();
  Recorder *right = recorder_new ();

  mesh_memory_hub_set_token (hub, "open-sesame");
  mesh_signaller_join (none->signaller, SWARM, "peer-none01", NULL, FALSE);
  mesh_signaller_join (wrong->signaller, SWARM, "peer-wrong1", "nope", FALSE);
  mesh_signaller_join (right->signaller, SWARM, "peer-right1", "open-sesame",
      FALSE);
  WAIT_UNTIL (none->errors == 1 && wrong->errors == 1 && right->welcomes == 1,
      WAIT_MS);
  fail_unless (g_error_matches (none->error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_UNAUTHORIZED));
  fail_unless (g_error_matches (wrong->error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_UNAUTHORIZED));
  fail_unless_equals_int (none->welcomes + wrong->welcomes, 0);
  fail_unless_equals_int (mesh_memory_hub_get_n_members (hub, SWARM), 1);

  mesh_memory_hub_fail (hub, MESH_SIGNALLER_ERROR_UNREACHABLE, "gone");
  WAIT_UNTIL (right->errors == 1, WAIT_MS);
  fail_unless (g_error_matches (right->error, MESH_SIGNALLER_ERROR,
          MESH_SIGNALLER_ERROR_UNREACHABLE));
  fail_unless_equals_int (none->errors + wrong->errors, 2);
}

GST_END_TEST;

/* A member on another thread hears on its own context. */
typedef struct
{
  GMainContext *context;
  GMainLoop *loop;
  Recorder *r;                  /* the remote thread's own */
  GMutex lock;                  /* guards what follows */
  GCond cond;
  gboolean ready;
  guint checks;
  guint messages;
  gboolean on_remote_thread;
  gchar *from;
} Remote;

static gpointer
remote_thread (gpointer data)
{
  Remote *remote = data;

  g_main_context_push_thread_default (remote->context);
  remote->r = g_new0 (Recorder, 1);
  remote->r->signaller = mesh_memory_signaller_new (hub);
  remote->r->joined = g_ptr_array_new_with_free_func (g_free);
  remote->r->left = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (remote->r->signaller, "welcome", G_CALLBACK (on_welcome),
      remote->r);
  g_signal_connect (remote->r->signaller, "message", G_CALLBACK (on_message),
      remote->r);
  mesh_signaller_join (remote->r->signaller, SWARM, "peer-remote", NULL, FALSE);
  g_mutex_lock (&remote->lock);
  remote->ready = TRUE;
  g_cond_signal (&remote->cond);
  g_mutex_unlock (&remote->lock);
  g_main_loop_run (remote->loop);
  recorder_free (remote->r);
  while (g_main_context_iteration (remote->context, FALSE));
  g_main_context_pop_thread_default (remote->context);
  return NULL;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* On the remote thread: copies what its recorder saw for the test thread. */
static gboolean
check_remote (gpointer data)
{
  Remote *remote = data;

  g_mutex_lock (&remote->lock);
  remote->messages = remote->r->messages;
  remote->on_remote_thread = remote->r->thread == g_thread_self ();
  g_free (remote->from);
  remote->from = g_strdup (remote->r->message_from);
  remote->checks++;
  g_cond_signal (&remote->cond);
  g_mutex_unlock (&remote->lock);
  return G_SOURCE_REMOVE;
}

GST_START_TEST (test_other_thread)
{
  Remote remote = { 0, };
  Recorder *local;
  GThread *thread;
  JsonObject *payload = json_object_new ();
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  g_mutex_init (&remote.lock);
  g_cond_init (&remote.cond);
  remote.context = g_main_context_new ();
  remote.loop = g_main_loop_new (remote.context, FALSE);
  thread = g_thread_new ("remote", remote_thread, &remote);
  g_mutex_lock (&remote.lock);
  while (!remote.ready)
    g_cond_wait (&remote.cond, &remote.lock);
  g_mutex_unlock (&remote.lock);

  local = join ("peer-local", FALSE);
  fail_unless_equals_int (g_strv_length (local->last_peers), 1);
  fail_unless (local->thread == g_thread_self ());
  mesh_signaller_relay (local->signaller, "peer-remote", payload);

  /* asks the remote thread what it saw until it saw the message */
  g_mutex_lock (&remote.lock);
  while (remote.messages == 0 && g_get_monotonic_time () < deadline) {
    guint checks = remote.checks;

    g_main_context_invoke (remote.context, check_remote, &remote);
    while (remote.checks == checks
        && g_cond_wait_until (&remote.cond, &remote.lock, deadline));
  }
  fail_unless_equals_int (remote.messages, 1);
  fail_unless (remote.on_remote_thread, "delivered on the wrong thread");
  fail_unless_equals_string (remote.from, "peer-local");
  g_mutex_unlock (&remote.lock);

  g_main_context_invoke (remote.context, quit_loop, remote.loop);
  g_thread_join (thread);
  WAIT_UNTIL (local->left->len == 1, WAIT_MS);
  g_main_loop_unref (remote.loop);
  g_main_context_unref (remote.context);
  g_mutex_clear (&remote.lock);
  g_cond_clear (&remote.cond);
  g_free (remote.from);
  json_object_unref (payload);
}

GST_END_TEST;

static void
count_connected (MeshPeerManager * m, const gchar * peer, guint * n)
{
  (*n)++;
}

/* What the hub is for: two peer managers meet through it, without a
 * tracker, and set up a real (QUIC over ICE, loopback) link. */
GST_START_TEST (test_two_peer_managers)
{
  MeshPeerConfig config = { 0, };
  MeshPeerTransport *transport =
      MESH_PEER_TRANSPORT (mesh_quic_transport_new (context, NULL));
  MeshSignaller *sa = mesh_memory_signaller_new (hub);
  MeshSignaller *sb = mesh_memory_signaller_new (hub);
  MeshPeerManager *a, *b;
  guint a_connected = 0, b_connected = 0;

  fail_unless (transport != NULL);
  config.swarm_id = SWARM;
  config.local_address = "127.0.0.1";
  config.max_peers = 4;
  config.upload = TRUE;
  config.cache_size = 1024 * 1024;

  a = mesh_peer_manager_new_with_signaller (sa, transport, NULL, &config);
  g_signal_connect (a, "peer-connected", G_CALLBACK (count_connected),
      &a_connected);
  b = mesh_peer_manager_new_with_signaller (sb, transport, NULL, &config);
  g_signal_connect (b, "peer-connected", G_CALLBACK (count_connected),
      &b_connected);
  fail_unless_equals_int (mesh_memory_hub_get_n_members (hub, SWARM), 2);

  WAIT_UNTIL (a_connected == 1 && b_connected == 1, 20000);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (a), 1);
  fail_unless_equals_int (mesh_peer_manager_get_n_peers (b), 1);
  /* the link's set-up went through the hub */
  fail_unless (mesh_memory_hub_get_n_relayed (hub) >= 2);

  mesh_peer_manager_stop (a);
  mesh_peer_manager_stop (b);
  fail_unless_equals_int (mesh_memory_hub_get_n_members (hub, SWARM), 0);
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (sa);
  g_object_unref (sb);
  mesh_peer_transport_shutdown (transport, 2000);
  g_object_unref (transport);
}

GST_END_TEST;

typedef struct
{
  gboolean done;
  gboolean ok;
  guint8 digest[32];
  guint64 size;
  GError *error;
} AttestResult;

static void
on_attested (GObject * source, GAsyncResult * result, gpointer data)
{
  AttestResult *r = data;

  r->ok = mesh_signaller_attest_finish (MESH_SIGNALLER (source), result,
      r->digest, &r->size, &r->error);
  r->done = TRUE;
}

/* The answer to attest (@url, @offset, @length), which never comes inside
 * the call. */
static void
attest (Recorder * r, const gchar * url, gint64 offset, gint64 length,
    AttestResult * result)
{
  memset (result, 0, sizeof (*result));
  mesh_signaller_attest (r->signaller, url, offset, length, NULL,
      on_attested, result);
  fail_if (result->done);
  WAIT_UNTIL (result->done, WAIT_MS);
}

GST_START_TEST (test_attest)
{
  const gchar *url = "https://cdn.example.com/live/seg-1.ts";
  guint8 digest[32];
  AttestResult result;
  Recorder *a, *idle;
  guint i;

  for (i = 0; i < sizeof (digest); i++)
    digest[i] = i * 3;
  a = join ("peer-alice", TRUE);
  idle = recorder_new ();

  /* a hub given no digest attests nothing */
  attest (a, url, 0, -1, &result);
  fail_unless (g_error_matches (result.error, G_IO_ERROR,
          G_IO_ERROR_NOT_SUPPORTED));
  g_clear_error (&result.error);

  mesh_memory_hub_set_attestation (hub, url, 0, -1, digest, 1234);
  attest (a, url, 0, -1, &result);
  fail_unless (result.ok);
  fail_unless (memcmp (result.digest, digest, 32) == 0);
  fail_unless_equals_int64 (result.size, 1234);

  /* another range of the same URL is another digest */
  attest (a, url, 100, 200, &result);
  fail_unless (g_error_matches (result.error, G_IO_ERROR, G_IO_ERROR_FAILED));
  g_clear_error (&result.error);

  /* not joined */
  attest (idle, url, 0, -1, &result);
  fail_unless (g_error_matches (result.error, G_IO_ERROR,
          G_IO_ERROR_NOT_CONNECTED));
  g_clear_error (&result.error);
}

GST_END_TEST;

static Suite *
memory_signaller_suite (void)
{
  Suite *s = suite_create ("memory-signaller");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_join_welcome_and_relay);
  tcase_add_test (tc, test_uploaders_first_and_max_peers);
  tcase_add_test (tc, test_near_by_network_hint);
  tcase_add_test (tc, test_nothing_after_leave);
  tcase_add_test (tc, test_replaced);
  tcase_add_test (tc, test_token_and_failure);
  tcase_add_test (tc, test_other_thread);
  tcase_add_test (tc, test_two_peer_managers);
  tcase_add_test (tc, test_attest);
  return s;
}

GST_CHECK_MAIN (memory_signaller);
