/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Unit tests for the hub of the tracker's threads (tools/tracker/mesh-
 * tracker-hub.h): two directories on one hub are two instances. A list
 * gives members of the other instance only, random ones of a large swarm;
 * a signal or peer-joined for a member of the other instance reaches that
 * instance, later, never within the call; one for nobody comes back as
 * undelivered; a leave reaches the other instance; an instance that goes
 * takes its members out of the lists, at once when disposed while a
 * message for it is pending; what waits for an instance is bounded.
 *
 * Threads: each instance is a GMainContext of its own, on the test's
 * thread (made thread-default when its directory is made, as a server's
 * is); the test iterates them until what it waits for arrived.
 */

#include <gst/check/gstcheck.h>
#include <string.h>

#include "mesh-tracker-hub.h"

typedef struct
{
  GMainContext *context;
  MeshTrackerDirectory *directory;
  GPtrArray *messages;          /* Received */
  guint undelivered;
} Instance;

typedef struct
{
  MeshTrackerDirectoryMessageType type;
  gchar *swarm, *to, *from, *data;
  gboolean upload;
  gchar *region;                /* of the key, or NULL without one */
} Received;

static void
received_free (Received * r)
{
  g_free (r->swarm);
  g_free (r->to);
  g_free (r->from);
  g_free (r->data);
  g_free (r->region);
  g_free (r);
}

static void
on_message (MeshTrackerDirectory * directory,
    const MeshTrackerDirectoryMessage * message, Instance * instance)
{
  Received *r = g_new0 (Received, 1);

  r->type = message->type;
  r->swarm = g_strdup (message->swarm);
  r->to = g_strdup (message->to);
  r->from = g_strdup (message->from);
  r->data = g_strdup (message->data);
  r->upload = message->upload;
  r->region = message->key ? g_strdup (message->key->region) : NULL;
  g_ptr_array_add (instance->messages, r);
}

static void
on_undelivered (MeshTrackerDirectory * directory, const gchar * swarm,
    const gchar * from, const gchar * to, Instance * instance)
{
  instance->undelivered++;
}

static void
instance_init (Instance * instance, MeshTrackerHub * hub)
{
  memset (instance, 0, sizeof (*instance));
  instance->context = g_main_context_new ();
  instance->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)
      received_free);
  g_main_context_push_thread_default (instance->context);
  instance->directory = mesh_tracker_hub_directory_new (hub);
  g_main_context_pop_thread_default (instance->context);
  g_signal_connect (instance->directory, "message", G_CALLBACK (on_message),
      instance);
  g_signal_connect (instance->directory, "undelivered",
      G_CALLBACK (on_undelivered), instance);
}

static void
instance_clear (Instance * instance)
{
  g_clear_object (&instance->directory);
  while (g_main_context_iteration (instance->context, FALSE));
  g_main_context_unref (instance->context);
  g_ptr_array_unref (instance->messages);
}

static void
drain (Instance * a, Instance * b)
{
  while (g_main_context_iteration (a->context, FALSE)
      || g_main_context_iteration (b->context, FALSE));
}

typedef struct
{
  GPtrArray *members;           /* MeshTrackerRemoteMember, copies */
  gboolean answered;
} Listed;

static void
on_listed (GPtrArray * members, gpointer data)
{
  Listed *listed = data;
  guint i;

  for (i = 0; i < members->len; i++) {
    MeshTrackerRemoteMember *m = members->pdata[i];
    MeshTrackerRemoteMember *copy = g_new0 (MeshTrackerRemoteMember, 1);

    copy->peer = g_strdup (m->peer);
    copy->upload = m->upload;
    copy->key.region = g_strdup (m->key.region);
    g_ptr_array_add (listed->members, copy);
  }
  listed->answered = TRUE;
}

/* What @instance's directory lists of @swarm, at most @max. */
static GPtrArray *
list (Instance * instance, const gchar * swarm, guint max)
{
  Listed listed = { g_ptr_array_new_with_free_func ((GDestroyNotify)
        mesh_tracker_remote_member_free), FALSE
  };

  mesh_tracker_directory_list (instance->directory, swarm, max, on_listed,
      &listed);
  fail_if (listed.answered, "the list was answered within the call");
  while (!listed.answered)
    fail_unless (g_main_context_iteration (instance->context, FALSE),
        "the list was never answered");
  return listed.members;
}

static gboolean
listed_has (GPtrArray * members, const gchar * peer)
{
  guint i;

  for (i = 0; i < members->len; i++)
    if (g_str_equal (((MeshTrackerRemoteMember *) members->pdata[i])->peer,
            peer))
      return TRUE;
  return FALSE;
}

static void
publish (Instance * instance, const gchar * swarm, const gchar * peer,
    const gchar * region)
{
  MeshLocalityKey key = { NULL, 0, (gchar *) region, NULL };

  mesh_tracker_directory_publish (instance->directory, swarm, peer, TRUE,
      region ? &key : NULL);
}

GST_START_TEST (test_lists_give_the_other_instance_members)
{
  g_autoptr (MeshTrackerHub) hub = mesh_tracker_hub_new ();
  Instance a, b;
  g_autoptr (GPtrArray) from_a = NULL;
  g_autoptr (GPtrArray) from_b = NULL;
  g_autoptr (GPtrArray) other_swarm = NULL;

  instance_init (&a, hub);
  instance_init (&b, hub);
  publish (&a, "s", "peer-a-01", "eu-west");
  publish (&b, "s", "peer-b-01", NULL);
  publish (&b, "t", "peer-b-02", NULL);

  from_a = list (&a, "s", 10);
  fail_unless_equals_int (from_a->len, 1);
  fail_unless (listed_has (from_a, "peer-b-01"));
  from_b = list (&b, "s", 10);
  fail_unless_equals_int (from_b->len, 1);
  fail_unless (listed_has (from_b, "peer-a-01"));
  fail_unless_equals_string (((MeshTrackerRemoteMember *) from_b->
          pdata[0])->key.region, "eu-west");
  other_swarm = list (&a, "t", 10);
  fail_unless (listed_has (other_swarm, "peer-b-02"));

  instance_clear (&a);
  instance_clear (&b);
}

GST_END_TEST;

/* 1,000 members on B: A gets 10, all distinct, and not the same 10 each
 * time; none of A's own is ever listed. */
GST_START_TEST (test_large_swarm_random_and_distinct)
{
  g_autoptr (MeshTrackerHub) hub = mesh_tracker_hub_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash,
      g_str_equal, g_free, NULL);
  Instance a, b;
  guint i, round;

  instance_init (&a, hub);
  instance_init (&b, hub);
  for (i = 0; i < 1000; i++) {
    g_autofree gchar *id = g_strdup_printf ("peer-b-%04u", i);
    publish (&b, "big", id, NULL);
  }
  for (i = 0; i < 50; i++) {
    g_autofree gchar *id = g_strdup_printf ("peer-a-%04u", i);
    publish (&a, "big", id, NULL);
  }
  for (round = 0; round < 5; round++) {
    g_autoptr (GPtrArray) members = list (&a, "big", 10);
    g_autoptr (GHashTable) once = g_hash_table_new (g_str_hash, g_str_equal);

    fail_unless_equals_int (members->len, 10);
    for (i = 0; i < members->len; i++) {
      const gchar *peer = ((MeshTrackerRemoteMember *) members->pdata[i])->peer;

      fail_unless (g_str_has_prefix (peer, "peer-b-"), "listed own %s", peer);
      fail_unless (g_hash_table_add (once, (gpointer) peer), "%s twice", peer);
      g_hash_table_add (seen, g_strdup (peer));
    }
  }
  /* 50 picks of 1,000: all in one set of 10 would be 1 in 10^100 */
  fail_unless (g_hash_table_size (seen) > 10);

  instance_clear (&a);
  instance_clear (&b);
}

GST_END_TEST;

GST_START_TEST (test_messages_reach_the_holder_later)
{
  g_autoptr (MeshTrackerHub) hub = mesh_tracker_hub_new ();
  MeshLocalityKey key = { NULL, 64500, (gchar *) "ap-south", NULL };
  MeshTrackerDirectoryMessage signal = { MESH_TRACKER_DIRECTORY_SIGNAL, "s",
    "peer-a-01", "peer-b-01", "{\"sdp\":\"x\"}", FALSE, NULL
  };
  MeshTrackerDirectoryMessage joined = {
    MESH_TRACKER_DIRECTORY_PEER_JOINED, "s", "peer-a-01", "peer-b-02", NULL,
    TRUE, &key
  };
  MeshTrackerDirectoryMessage lost = { MESH_TRACKER_DIRECTORY_SIGNAL, "s",
    "peer-nobody", "peer-b-01", "{}", FALSE, NULL
  };
  Received *r;
  Instance a, b;

  instance_init (&a, hub);
  instance_init (&b, hub);
  publish (&a, "s", "peer-a-01", NULL);
  publish (&b, "s", "peer-b-01", NULL);

  mesh_tracker_directory_send (b.directory, &signal);
  mesh_tracker_directory_send (b.directory, &joined);
  mesh_tracker_directory_send (b.directory, &lost);
  fail_unless_equals_int (a.messages->len, 0);
  fail_unless_equals_int (b.undelivered, 0);
  drain (&a, &b);

  fail_unless_equals_int (a.messages->len, 2);
  r = a.messages->pdata[0];
  fail_unless_equals_int (r->type, MESH_TRACKER_DIRECTORY_SIGNAL);
  fail_unless_equals_string (r->to, "peer-a-01");
  fail_unless_equals_string (r->from, "peer-b-01");
  fail_unless_equals_string (r->data, "{\"sdp\":\"x\"}");
  r = a.messages->pdata[1];
  fail_unless_equals_int (r->type, MESH_TRACKER_DIRECTORY_PEER_JOINED);
  fail_unless_equals_string (r->from, "peer-b-02");
  fail_unless (r->upload);
  fail_unless_equals_string (r->region, "ap-south");
  /* the signal for nobody comes back to its sender's instance */
  fail_unless_equals_int (b.undelivered, 1);
  fail_unless_equals_int (b.messages->len, 0);

  instance_clear (&a);
  instance_clear (&b);
}

GST_END_TEST;

GST_START_TEST (test_leaves_and_a_stopped_instance)
{
  g_autoptr (MeshTrackerHub) hub = mesh_tracker_hub_new ();
  g_autoptr (GPtrArray) after_leave = NULL;
  g_autoptr (GPtrArray) after_stop = NULL;
  Received *r;
  Instance a, b;

  instance_init (&a, hub);
  instance_init (&b, hub);
  publish (&a, "s", "peer-a-01", NULL);
  publish (&a, "s", "peer-a-02", NULL);
  publish (&b, "s", "peer-b-01", NULL);

  /* another instance cannot withdraw A's member */
  mesh_tracker_directory_withdraw (b.directory, "s", "peer-a-02");
  mesh_tracker_directory_withdraw (a.directory, "s", "peer-a-01");
  drain (&a, &b);
  fail_unless_equals_int (b.messages->len, 1);
  r = b.messages->pdata[0];
  fail_unless_equals_int (r->type, MESH_TRACKER_DIRECTORY_PEER_LEFT);
  fail_unless_equals_string (r->from, "peer-a-01");
  fail_unless (r->to == NULL);
  after_leave = list (&b, "s", 10);
  fail_unless_equals_int (after_leave->len, 1);
  fail_unless (listed_has (after_leave, "peer-a-02"));

  instance_clear (&a);
  after_stop = list (&b, "s", 10);
  fail_unless_equals_int (after_stop->len, 0);
  instance_clear (&b);
}

GST_END_TEST;

/* A stopping server disposes its directory while a message another
 * instance handed it still holds it: it leaves the hub at once (its
 * members unlisted, signals to them undelivered), and what was pending in
 * its context goes with the context, and the directory with it. */
GST_START_TEST (test_disposed_while_a_message_is_pending)
{
  g_autoptr (MeshTrackerHub) hub = mesh_tracker_hub_new ();
  MeshTrackerDirectoryMessage signal = { MESH_TRACKER_DIRECTORY_SIGNAL, "s",
    "peer-a-01", "peer-b-01", "{}", FALSE, NULL
  };
  g_autoptr (GPtrArray) after = NULL;
  gpointer gone;
  Instance a, b;

  instance_init (&a, hub);
  instance_init (&b, hub);
  publish (&a, "s", "peer-a-01", NULL);
  publish (&b, "s", "peer-b-01", NULL);
  mesh_tracker_directory_send (b.directory, &signal);

  g_object_run_dispose (G_OBJECT (a.directory));
  after = list (&b, "s", 10);
  fail_unless_equals_int (after->len, 0);
  mesh_tracker_directory_send (b.directory, &signal);
  while (g_main_context_iteration (b.context, FALSE));
  fail_unless_equals_int (b.undelivered, 1);

  /* the pending signal is never delivered: its context goes first, and
   * takes the last reference of the directory with it */
  g_signal_handlers_disconnect_by_data (a.directory, &a);
  gone = a.directory;
  g_object_add_weak_pointer (G_OBJECT (gone), &gone);
  g_clear_object (&a.directory);
  fail_unless (gone != NULL, "the pending signal held no reference");
  g_main_context_unref (a.context);
  fail_unless (gone == NULL, "the directory and its context hold each "
      "other");
  g_ptr_array_unref (a.messages);
  instance_clear (&b);
}

GST_END_TEST;

/* An instance that does not take what is handed to it (a stalled thread)
 * holds at most MESH_TRACKER_HUB_MAX_PENDING; more are dropped and
 * counted as errors of the sender. */
GST_START_TEST (test_pending_hand_overs_bounded)
{
  g_autoptr (MeshTrackerHub) hub = mesh_tracker_hub_new ();
  MeshTrackerDirectoryMessage signal = { MESH_TRACKER_DIRECTORY_SIGNAL, "s",
    "peer-a-01", "peer-b-01", "{}", FALSE, NULL
  };
  MeshTrackerDirectoryStats stats;
  Instance a, b;
  guint i;

  instance_init (&a, hub);
  instance_init (&b, hub);
  publish (&a, "s", "peer-a-01", NULL);
  for (i = 0; i < MESH_TRACKER_HUB_MAX_PENDING + 10; i++)
    mesh_tracker_directory_send (b.directory, &signal);
  mesh_tracker_directory_get_stats (b.directory, &stats);
  fail_unless_equals_uint64 (stats.messages_out, MESH_TRACKER_HUB_MAX_PENDING);
  fail_unless_equals_uint64 (stats.errors, 10);

  while (g_main_context_iteration (a.context, FALSE));
  fail_unless_equals_int (a.messages->len, MESH_TRACKER_HUB_MAX_PENDING);
  /* taken, there is room again */
  mesh_tracker_directory_send (b.directory, &signal);
  while (g_main_context_iteration (a.context, FALSE));
  fail_unless_equals_int (a.messages->len, MESH_TRACKER_HUB_MAX_PENDING + 1);

  instance_clear (&a);
  instance_clear (&b);
}

GST_END_TEST;

static Suite *
tracker_hub_suite (void)
{
  Suite *s = suite_create ("tracker-hub");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_lists_give_the_other_instance_members);
  tcase_add_test (tc, test_large_swarm_random_and_distinct);
  tcase_add_test (tc, test_messages_reach_the_holder_later);
  tcase_add_test (tc, test_leaves_and_a_stopped_instance);
  tcase_add_test (tc, test_disposed_while_a_message_is_pending);
  tcase_add_test (tc, test_pending_hand_overs_bounded);
  return s;
}

GST_CHECK_MAIN (tracker_hub);
