/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Unit tests for the tracker's sharded main loop (tools/tracker/mesh-
 * tracker-loop.h): descriptors in many shards each wake their own source,
 * timeouts in shards fire, a source added to a shard from another
 * shard's dispatch runs, a dispatch does not wake its own shard again,
 * the root is woken from another thread, and a
 * descriptor number closed and reused inside one shard still delivers
 * (after a leave, or after a close said with mesh_shard_loop_forget()),
 * and a descriptor taken from the root under a new number wakes only its
 * shard.
 * Everything but the waking thread runs on the test's thread, which owns
 * the loop.
 */

#include <gst/check/gstcheck.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mesh-tracker-loop.h"

#define SHARD_SIZE 8

typedef struct
{
  MeshShardLoop *loop;
  guint expected;
  guint seen;
} Counter;

static void
count_one (Counter * counter)
{
  if (++counter->seen == counter->expected)
    mesh_shard_loop_quit (counter->loop);
}

typedef struct
{
  Counter *counter;
  gint fd;
  gchar want;
} Reader;

static gboolean
on_readable (gint fd, GIOCondition condition, gpointer data)
{
  Reader *reader = data;
  gchar byte = 0;

  fail_unless (read (fd, &byte, 1) == 1);
  fail_unless_equals_int (byte, reader->want);
  count_one (reader->counter);
  return G_SOURCE_REMOVE;
}

/* A source on @fd, in a shard of @loop, as a member. */
static GMainContext *
watch_in_shard (MeshShardLoop * loop, Reader * reader)
{
  GMainContext *shard = mesh_shard_loop_join (loop);
  GSource *source = g_unix_fd_source_new (reader->fd, G_IO_IN);

  mesh_shard_loop_push (loop, shard);
  g_source_set_callback (source, G_SOURCE_FUNC (on_readable), reader, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  g_source_unref (source);
  mesh_shard_loop_pop (loop, shard);
  return shard;
}

static MeshShardLoop *
loop_new (GMainContext * root)
{
  g_autoptr (GError) error = NULL;
  MeshShardLoop *loop;

  g_main_context_push_thread_default (root);
  loop = mesh_shard_loop_new (root, SHARD_SIZE, &error);
  fail_unless (loop != NULL, "%s", error ? error->message : "");
  return loop;
}

static void
loop_free (MeshShardLoop * loop, GMainContext * root)
{
  mesh_shard_loop_free (loop);
  g_main_context_pop_thread_default (root);
  g_main_context_unref (root);
}

/* Ends a test that would hang otherwise. */
static gboolean
on_too_late (gpointer data)
{
  fail ("the loop did not deliver in time");
  return G_SOURCE_REMOVE;
}

static void
run_with_limit (MeshShardLoop * loop, GMainContext * root)
{
  GSource *limit = g_timeout_source_new_seconds (10);

  g_source_set_callback (limit, on_too_late, NULL, NULL);
  g_source_attach (limit, root);
  mesh_shard_loop_run (loop);
  g_source_destroy (limit);
  g_source_unref (limit);
}

GST_START_TEST (test_many_shards_each_wakes_its_own)
{
  enum
  { N = 100 };
  GMainContext *root = g_main_context_new ();
  MeshShardLoop *loop = loop_new (root);
  Counter counter = { loop, N, 0 };
  Reader readers[N];
  gint writers[N];
  guint i;

  for (i = 0; i < N; i++) {
    gint pair[2];

    fail_unless (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    readers[i].counter = &counter;
    readers[i].fd = pair[0];
    readers[i].want = (gchar) ('a' + i % 26);
    writers[i] = pair[1];
    watch_in_shard (loop, &readers[i]);
  }
  fail_unless_equals_int (mesh_shard_loop_get_n_shards (loop),
      (N + SHARD_SIZE - 1) / SHARD_SIZE);
  /* in reverse, one at a time from the root: each write must wake its
   * own reader, whatever shard it is in */
  for (i = N; i-- > 0;)
    fail_unless (write (writers[i], &readers[i].want, 1) == 1);
  run_with_limit (loop, root);
  fail_unless_equals_int (counter.seen, N);

  for (i = 0; i < N; i++) {
    close (readers[i].fd);
    close (writers[i]);
  }
  loop_free (loop, root);
}

GST_END_TEST;

static gboolean
on_timeout (gpointer data)
{
  count_one (data);
  return G_SOURCE_REMOVE;
}

GST_START_TEST (test_timeouts_in_shards)
{
  GMainContext *root = g_main_context_new ();
  MeshShardLoop *loop = loop_new (root);
  Counter counter = { loop, 3, 0 };
  gint64 start = g_get_monotonic_time ();
  guint i;

  for (i = 0; i < 3; i++) {
    GMainContext *shard = mesh_shard_loop_join (loop);
    GSource *timeout = g_timeout_source_new (50 * (i + 1));

    g_source_set_callback (timeout, on_timeout, &counter, NULL);
    g_source_attach (timeout, shard);
    g_source_unref (timeout);
    /* attached without a push: make it due as a pop would */
    mesh_shard_loop_push (loop, shard);
    mesh_shard_loop_pop (loop, shard);
  }
  run_with_limit (loop, root);
  fail_unless_equals_int (counter.seen, 3);
  fail_unless (g_get_monotonic_time () - start >= 150 * 1000);
  loop_free (loop, root);
}

GST_END_TEST;

typedef struct
{
  MeshShardLoop *loop;
  GMainContext *other;
  Counter *counter;
} Hop;

static gboolean
on_idle_in_other (gpointer data)
{
  Hop *hop = data;

  fail_unless (g_main_context_get_thread_default () == hop->other);
  count_one (hop->counter);
  return G_SOURCE_REMOVE;
}

/* Runs in one shard and starts an idle source in another, as a tracker
 * relaying to a client of another shard does. */
static gboolean
on_readable_hop (gint fd, GIOCondition condition, gpointer data)
{
  Hop *hop = data;
  GSource *idle = g_idle_source_new ();
  gchar byte;

  fail_unless (read (fd, &byte, 1) == 1);
  mesh_shard_loop_push (hop->loop, hop->other);
  g_source_set_callback (idle, on_idle_in_other, hop, NULL);
  g_source_attach (idle, g_main_context_get_thread_default ());
  g_source_unref (idle);
  mesh_shard_loop_pop (hop->loop, hop->other);
  return G_SOURCE_REMOVE;
}

GST_START_TEST (test_source_added_from_another_shard)
{
  GMainContext *root = g_main_context_new ();
  MeshShardLoop *loop = loop_new (root);
  Counter counter = { loop, 1, 0 };
  Hop hop = { loop, NULL, &counter };
  GMainContext *first = NULL;
  GSource *source;
  gint pair[2];
  guint i;

  /* two shards: fill the first */
  for (i = 0; i < SHARD_SIZE; i++)
    first = mesh_shard_loop_join (loop);
  hop.other = mesh_shard_loop_join (loop);
  fail_if (hop.other == first);

  fail_unless (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  source = g_unix_fd_source_new (pair[0], G_IO_IN);
  g_source_set_callback (source, G_SOURCE_FUNC (on_readable_hop), &hop, NULL);
  mesh_shard_loop_push (loop, first);
  g_source_attach (source, first);
  mesh_shard_loop_pop (loop, first);
  g_source_unref (source);
  fail_unless (write (pair[1], "x", 1) == 1);

  run_with_limit (loop, root);
  fail_unless_equals_int (counter.seen, 1);
  close (pair[0]);
  close (pair[1]);
  loop_free (loop, root);
}

GST_END_TEST;

static gboolean
on_invoked (gpointer data)
{
  count_one (data);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  GMainContext *root;
  Counter *counter;
} Waker;

static gpointer
wake_root (gpointer data)
{
  Waker *waker = data;
  GSource *idle = g_idle_source_new ();

  g_source_set_callback (idle, on_invoked, waker->counter, NULL);
  g_source_attach (idle, waker->root);
  g_source_unref (idle);
  return NULL;
}

typedef struct
{
  MeshShardLoop *loop;
  gint reader, writer;
  guint n_written, n_read, n;
} PingPong;

static gboolean
on_byte (gint fd, GIOCondition condition, gpointer data)
{
  PingPong *pp = data;
  gchar byte;

  fail_unless (read (fd, &byte, 1) == 1);
  if (++pp->n_read == pp->n)
    mesh_shard_loop_quit (pp->loop);
  return G_SOURCE_CONTINUE;
}

/* From the root, the next byte once the last one was read: from a timer,
 * so that the shard has a round with nothing to do after each byte. */
static gboolean
write_next_byte (gpointer data)
{
  PingPong *pp = data;

  if (pp->n_written == pp->n_read && pp->n_written < pp->n) {
    fail_unless (write (pp->writer, "x", 1) == 1);
    pp->n_written++;
  }
  return G_SOURCE_CONTINUE;
}

/* GLib signals a context's wakeup whenever it dispatches a source with a
 * descriptor (it takes the descriptor out of the poll and back): a shard
 * must not take that for work, or every message costs it a second
 * iteration (a write, a wake, a check and a prepare for nothing). */
GST_START_TEST (test_dispatch_does_not_wake_its_shard)
{
  GMainContext *root = g_main_context_new ();
  MeshShardLoop *loop = loop_new (root);
  PingPong pp = { loop, -1, -1, 0, 0, 200 };
  GMainContext *shard;
  GSource *source, *writer;
  gint pair[2];
  guint64 before;

  fail_unless (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  pp.reader = pair[0];
  pp.writer = pair[1];
  shard = mesh_shard_loop_join (loop);
  mesh_shard_loop_push (loop, shard);
  source = g_unix_fd_source_new (pp.reader, G_IO_IN);
  g_source_set_callback (source, G_SOURCE_FUNC (on_byte), &pp, NULL);
  g_source_attach (source, shard);
  mesh_shard_loop_pop (loop, shard);
  writer = g_timeout_source_new (1);
  g_source_set_callback (writer, write_next_byte, &pp, NULL);
  g_source_attach (writer, root);

  before = mesh_shard_loop_get_n_shard_iterations (loop);
  run_with_limit (loop, root);
  fail_unless_equals_int (pp.n_read, pp.n);
  /* one per byte, and the first round of the run (every shard is due) */
  fail_unless (mesh_shard_loop_get_n_shard_iterations (loop) - before <=
      pp.n + 1, "%" G_GUINT64_FORMAT " iterations of the shard for %u "
      "bytes", mesh_shard_loop_get_n_shard_iterations (loop) - before, pp.n);

  g_source_destroy (writer);
  g_source_unref (writer);
  g_source_destroy (source);
  g_source_unref (source);
  close (pp.reader);
  close (pp.writer);
  loop_free (loop, root);
}

GST_END_TEST;

GST_START_TEST (test_root_woken_from_another_thread)
{
  GMainContext *root = g_main_context_new ();
  MeshShardLoop *loop = loop_new (root);
  Counter counter = { loop, 1, 0 };
  Waker waker = { root, &counter };
  GThread *thread;

  /* the loop is blocked in epoll (no deadline) when the thread attaches */
  thread = g_thread_new ("waker", wake_root, &waker);
  run_with_limit (loop, root);
  g_thread_join (thread);
  fail_unless_equals_int (counter.seen, 1);
  loop_free (loop, root);
}

GST_END_TEST;

typedef enum
{
  SAID_BY_LEAVE,
  SAID_BY_FORGET,
} CloseSaid;

/* A member's descriptor is closed, the loop is told (@said), and the next
 * member of the same shard gets the same descriptor number before the
 * shard looked again: the kernel forgot the old registration with the
 * close, and the shard must register the new one. */
static void
check_descriptor_reused (CloseSaid said)
{
  GMainContext *root = g_main_context_new ();
  MeshShardLoop *loop = loop_new (root);
  Counter counter = { loop, 1, 0 };
  Reader first = { &counter, -1, 'a' }, second = { &counter, -1, 'b' };
  GMainContext *shard, *again;
  gint pair[2], reused[2];

  fail_unless (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  first.fd = pair[0];
  shard = watch_in_shard (loop, &first);
  /* one round so that the shard registers the first descriptor */
  while (mesh_shard_loop_iterate_all (loop));

  g_main_context_push_thread_default (shard);
  g_source_destroy (g_main_context_find_source_by_user_data (shard, &first));
  g_main_context_pop_thread_default (shard);
  close (pair[0]);
  close (pair[1]);
  if (said == SAID_BY_LEAVE)
    mesh_shard_loop_leave (loop, shard);
  else
    mesh_shard_loop_forget (loop, shard);

  fail_unless (socketpair (AF_UNIX, SOCK_STREAM, 0, reused) == 0);
  fail_unless_equals_int (reused[0], pair[0]);
  second.fd = reused[0];
  again = watch_in_shard (loop, &second);
  fail_unless (again == shard);
  fail_unless (write (reused[1], "b", 1) == 1);
  run_with_limit (loop, root);
  fail_unless_equals_int (counter.seen, 1);
  close (reused[0]);
  close (reused[1]);
  loop_free (loop, root);
}

/* The member left. */
GST_START_TEST (test_descriptor_reused_in_one_shard)
{
  check_descriptor_reused (SAID_BY_LEAVE);
}

GST_END_TEST;

/* The member is still one (the server says a close at once, and the leave
 * comes later): a join alone does not make the shard register anew, the
 * close does. */
GST_START_TEST (test_descriptor_closed_then_reused)
{
  check_descriptor_reused (SAID_BY_FORGET);
}

GST_END_TEST;

typedef struct
{
  MeshShardLoop *loop;
  gint writer;
  guint n;
  GMutex lock;
  GCond read_one;
  guint n_read;                 /* under lock */
} Relay;

static gboolean
on_relayed_byte (gint fd, GIOCondition condition, gpointer data)
{
  Relay *relay = data;
  gchar byte;

  fail_unless (read (fd, &byte, 1) == 1);
  g_mutex_lock (&relay->lock);
  if (++relay->n_read == relay->n)
    mesh_shard_loop_quit (relay->loop);
  g_cond_signal (&relay->read_one);
  g_mutex_unlock (&relay->lock);
  return G_SOURCE_CONTINUE;
}

/* Another thread writes the bytes, each once the last was read: the loop
 * has nothing else to wake it. */
static gpointer
relay_write_bytes (gpointer data)
{
  Relay *relay = data;
  guint i;

  for (i = 0; i < relay->n; i++) {
    fail_unless (write (relay->writer, "x", 1) == 1);
    g_mutex_lock (&relay->lock);
    while (relay->n_read <= i)
      g_cond_wait (&relay->read_one, &relay->lock);
    g_mutex_unlock (&relay->lock);
  }
  return NULL;
}

/* The server takes over a connection that the root polled (libsoup's)
 * under a new number (dup()) and closes the old one: the kernel keeps the
 * root's registration for as long as the socket lives, so unless it is
 * unregistered, every byte the member reads wakes the root too. */
GST_START_TEST (test_descriptor_taken_from_root)
{
  GMainContext *root = g_main_context_new ();
  MeshShardLoop *loop = loop_new (root);
  Relay relay = { loop, -1, 50, };
  GSource *polled, *source;
  GMainContext *shard;
  GThread *writer;
  gint pair[2], taken;
  guint64 before;

  fail_unless (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  relay.writer = pair[1];
  polled = g_unix_fd_source_new (pair[0], G_IO_IN);
  g_source_attach (polled, root);
  while (mesh_shard_loop_iterate_all (loop));

  taken = dup (pair[0]);
  g_source_destroy (polled);
  g_source_unref (polled);
  mesh_shard_loop_unregister (loop, root, pair[0]);
  close (pair[0]);
  shard = mesh_shard_loop_join (loop);
  source = g_unix_fd_source_new (taken, G_IO_IN);
  g_source_set_callback (source, G_SOURCE_FUNC (on_relayed_byte), &relay, NULL);
  g_source_attach (source, shard);
  mesh_shard_loop_wake (loop, shard);
  while (mesh_shard_loop_iterate_all (loop));

  before = mesh_shard_loop_get_n_root_iterations (loop);
  writer = g_thread_new ("writer", relay_write_bytes, &relay);
  run_with_limit (loop, root);
  g_thread_join (writer);
  fail_unless_equals_int (relay.n_read, relay.n);
  /* the run's first round, where every context is due */
  fail_unless (mesh_shard_loop_get_n_root_iterations (loop) - before <= 2,
      "%" G_GUINT64_FORMAT " iterations of the root for %u bytes to a "
      "member", mesh_shard_loop_get_n_root_iterations (loop) - before, relay.n);

  g_source_destroy (source);
  g_source_unref (source);
  close (taken);
  close (pair[1]);
  loop_free (loop, root);
}

GST_END_TEST;

static Suite *
tracker_loop_suite (void)
{
  Suite *s = suite_create ("tracker-loop");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_many_shards_each_wakes_its_own);
  tcase_add_test (tc, test_timeouts_in_shards);
  tcase_add_test (tc, test_source_added_from_another_shard);
  tcase_add_test (tc, test_dispatch_does_not_wake_its_shard);
  tcase_add_test (tc, test_root_woken_from_another_thread);
  tcase_add_test (tc, test_descriptor_reused_in_one_shard);
  tcase_add_test (tc, test_descriptor_closed_then_reused);
  tcase_add_test (tc, test_descriptor_taken_from_root);
  return s;
}

GST_CHECK_MAIN (tracker_loop);
