/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The sharded main loop (mesh-tracker-loop.h says why and how to use it).
 *
 * A Shard is a GMainContext (the root, or one of ours) with the result of
 * its last prepare and query: the descriptors GLib wants polled, the
 * priority and the deadline. One round of the loop waits on the loop's
 * epoll (which holds each shard's epoll instance), then runs GLib's
 * check and dispatch, and prepare and query again, on the shards that are
 * ready or due only, which is GLib's own iteration (g_main_context_
 * iterate()) with the poll replaced.
 *
 * A shard must be iterated again when sources were added to it from
 * outside its own dispatch, by this thread while it dispatched another
 * shard: that is why the loop's users push a shard with
 * mesh_shard_loop_push() (the pop makes it due) or say so with
 * mesh_shard_loop_wake(). GLib's wakeup descriptor of a shard is not in
 * its set: GLib signals it on every dispatch of a source with a
 * descriptor (it takes the descriptor out of the poll and back), and a
 * shard woken by that would be iterated twice for each message. Only the
 * root, which other threads do add to, keeps its wakeup.
 *
 * Threads: all of it on the thread that made the loop (it acquires each
 * shard it makes), except mesh_shard_loop_quit().
 */

#include "mesh-tracker-loop.h"

#include <gio/gio.h>
#include <sys/epoll.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* GLib's conditions are poll()'s, which are epoll's */
G_STATIC_ASSERT ((gint) G_IO_IN == (gint) EPOLLIN
    && (gint) G_IO_OUT == (gint) EPOLLOUT && (gint) G_IO_PRI == (gint) EPOLLPRI
    && (gint) G_IO_ERR == (gint) EPOLLERR
    && (gint) G_IO_HUP == (gint) EPOLLHUP);

#define MAX_READY_SHARDS 256
#define NO_DEADLINE G_MAXINT64

typedef struct
{
  gint fd;
  gushort events;
} Registration;

typedef struct
{
  GMainContext *context;
  gboolean is_root;
  gint wakeup_fd;               /* GLib's, left out of epoll; -1: the root */
  gint epfd;
  guint members;
  gboolean has_room_queued;
  gboolean register_all;        /* a close or leave since the last sync */
  /* the last query */
  GPollFD *fds;
  gint n_fds;
  gint fds_size;
  gint max_priority;
  gint64 deadline;              /* monotonic µs, NO_DEADLINE */
  GArray *registered;           /* Registration, by fd */
  struct epoll_event *events;   /* room for every registered descriptor */
  guint events_size;
  gboolean in_round;
} Shard;

struct _MeshShardLoop
{
  guint shard_size;
  gint epfd;
  Shard *root;
  GPtrArray *shards;            /* Shard (owned), the root first */
  GHashTable *by_context;       /* GMainContext -> Shard */
  GQueue with_room;             /* Shard */
  GArray *wanted;               /* Registration, scratch */
  GPtrArray *round;             /* Shard, scratch */
  guint64 n_shard_iterations;   /* of shards other than the root */
  guint64 n_root_iterations;
  gint quit;                    /* atomic */
};

/* ------------------------------------------------------------------------ */
/* Registration of a shard's descriptors in its epoll instance             */

static gint
compare_registrations (gconstpointer a, gconstpointer b)
{
  const Registration *ra = a, *rb = b;

  return (ra->fd > rb->fd) - (ra->fd < rb->fd);
}

/* What the last query wants polled, one entry a descriptor (GLib may list
 * a descriptor twice, for reading and for writing), sorted; but not a
 * shard's wakeup (mesh_shard_loop_new() says why). */
static void
collect_wanted (Shard * shard, GArray * wanted)
{
  guint i, out = 0;
  gint k;

  g_array_set_size (wanted, 0);
  for (k = 0; k < shard->n_fds; k++) {
    Registration r = { shard->fds[k].fd,
      shard->fds[k].events & (G_IO_IN | G_IO_OUT | G_IO_PRI)
    };

    if (r.fd >= 0 && r.fd != shard->wakeup_fd)
      g_array_append_val (wanted, r);
  }
  g_array_sort (wanted, compare_registrations);
  for (i = 0; i < wanted->len; i++) {
    Registration *r = &g_array_index (wanted, Registration, i);

    if (out > 0 && g_array_index (wanted, Registration, out - 1).fd == r->fd)
      g_array_index (wanted, Registration, out - 1).events |= r->events;
    else
      g_array_index (wanted, Registration, out++) = *r;
  }
  g_array_set_size (wanted, out);
}

static void
epoll_set (gint epfd, const Registration * r, gboolean known)
{
  struct epoll_event ev = { 0, };

  ev.events = r->events;
  ev.data.fd = r->fd;
  /* a descriptor believed registered may have been closed (the kernel
   * forgot it) and its number reused; one believed new may not be */
  if (epoll_ctl (epfd, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, r->fd, &ev) == 0)
    return;
  if (errno == ENOENT || errno == EEXIST)
    epoll_ctl (epfd, known ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, r->fd, &ev);
  /* else not pollable (closed under a lingering source): GLib's poll
   * would say so with G_IO_NVAL, which no source here waits for */
}

/* Brings the shard's epoll instance to what the last query wants: by
 * difference with what it registered, or in full after a close or leave
 * (and always for the root). */
static void
shard_sync (Shard * shard, GArray * wanted)
{
  GArray *old = shard->registered;
  gboolean all = shard->is_root || shard->register_all;
  guint i = 0, j = 0;

  collect_wanted (shard, wanted);
  while (i < old->len || j < wanted->len) {
    Registration *o = i < old->len ?
        &g_array_index (old, Registration, i) : NULL;
    Registration *w = j < wanted->len ?
        &g_array_index (wanted, Registration, j) : NULL;

    if (o && (!w || o->fd < w->fd)) {
      epoll_ctl (shard->epfd, EPOLL_CTL_DEL, o->fd, NULL);
      i++;
    } else if (w && (!o || w->fd < o->fd)) {
      epoll_set (shard->epfd, w, FALSE);
      j++;
    } else {
      if (all || o->events != w->events)
        epoll_set (shard->epfd, w, TRUE);
      i++;
      j++;
    }
  }
  g_array_set_size (old, 0);
  g_array_append_vals (old, wanted->data, wanted->len);
  shard->register_all = FALSE;
  if (shard->events_size < MAX (old->len, 1)) {
    shard->events_size = MAX (old->len, 1) * 2;
    shard->events = g_renew (struct epoll_event, shard->events,
        shard->events_size);
  }
}

/* ------------------------------------------------------------------------ */
/* One GLib iteration of a shard, with the poll done by epoll              */

static void
shard_prepare (Shard * shard, GArray * wanted)
{
  gint timeout;

  g_main_context_prepare (shard->context, &shard->max_priority);
  for (;;) {
    shard->n_fds = g_main_context_query (shard->context, shard->max_priority,
        &timeout, shard->fds, shard->fds_size);
    if (shard->n_fds <= shard->fds_size)
      break;
    shard->fds_size = shard->n_fds * 2;
    shard->fds = g_renew (GPollFD, shard->fds, shard->fds_size);
  }
  shard->deadline = timeout < 0 ? NO_DEADLINE :
      g_get_monotonic_time () + (gint64) timeout *1000;
  shard_sync (shard, wanted);
}

/* Sets the revents GLib's check reads from what the shard's epoll
 * instance says is ready. */
static void
shard_collect_revents (Shard * shard)
{
  gint n, i, k;

  for (k = 0; k < shard->n_fds; k++)
    shard->fds[k].revents = 0;
  n = epoll_wait (shard->epfd, shard->events, shard->events_size, 0);
  for (i = 0; i < n; i++) {
    for (k = 0; k < shard->n_fds; k++) {
      GPollFD *fd = &shard->fds[k];

      if (fd->fd == shard->events[i].data.fd)
        fd->revents |= shard->events[i].events & (fd->events | G_IO_ERR |
            G_IO_HUP);
    }
  }
}

/* TRUE if a source was dispatched. */
static gboolean
shard_iterate (MeshShardLoop * loop, Shard * shard)
{
  gboolean ready;

  shard_collect_revents (shard);
  if (shard->is_root)
    loop->n_root_iterations++;
  else {
    loop->n_shard_iterations++;
    g_main_context_push_thread_default (shard->context);
  }
  ready = g_main_context_check (shard->context, shard->max_priority,
      shard->fds, shard->n_fds);
  if (ready)
    g_main_context_dispatch (shard->context);
  if (!shard->is_root)
    g_main_context_pop_thread_default (shard->context);
  shard_prepare (shard, loop->wanted);
  return ready;
}

/* ------------------------------------------------------------------------ */
/* Shards                                                                   */

static void
shard_free (gpointer data)
{
  Shard *shard = data;

  if (shard->epfd >= 0)
    close (shard->epfd);
  if (!shard->is_root)
    g_main_context_release (shard->context);
  g_main_context_unref (shard->context);
  g_free (shard->fds);
  g_free (shard->events);
  g_array_unref (shard->registered);
  g_free (shard);
}

static void
set_epoll_error (GError ** error, gint errsv)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "epoll: %s",
      g_strerror (errsv));
}

/* An epoll instance, when there is also a descriptor left for the
 * wakeup of a new GMainContext: GLib aborts when it cannot make one. */
static gint
epoll_for_new_context (GError ** error)
{
  gint epfd = epoll_create1 (EPOLL_CLOEXEC);
  gint probe = epfd >= 0 ? dup (epfd) : -1;
  gint saved = errno;

  if (probe >= 0) {
    close (probe);
    return epfd;
  }
  if (epfd >= 0)
    close (epfd);
  set_epoll_error (error, saved);
  return -1;
}

/* The descriptor GLib signals whenever @context's sources or their
 * descriptors change (its wakeup): the only one a context without sources
 * polls. */
static gint
context_wakeup_fd (GMainContext * context)
{
  GPollFD fd = { -1, };
  gint max_priority, timeout;

  g_main_context_prepare (context, &max_priority);
  if (g_main_context_query (context, max_priority, &timeout, &fd, 1) != 1)
    return -1;
  return fd.fd;
}

static Shard *
shard_new (MeshShardLoop * loop, GMainContext * context, GError ** error)
{
  struct epoll_event ev = { 0, };
  gint epfd = epoll_for_new_context (error);
  Shard *shard;

  if (epfd < 0)
    return NULL;
  shard = g_new0 (Shard, 1);
  shard->epfd = epfd;
  shard->is_root = context != NULL;
  shard->context = context ? g_main_context_ref (context) :
      g_main_context_new ();
  shard->wakeup_fd = -1;
  if (!shard->is_root) {
    g_main_context_acquire (shard->context);
    shard->wakeup_fd = context_wakeup_fd (shard->context);
  }
  shard->registered = g_array_new (FALSE, FALSE, sizeof (Registration));
  shard->deadline = NO_DEADLINE;
  ev.events = EPOLLIN;
  ev.data.ptr = shard;
  if (epoll_ctl (loop->epfd, EPOLL_CTL_ADD, shard->epfd, &ev) < 0) {
    set_epoll_error (error, errno);
    shard_free (shard);
    return NULL;
  }
  g_ptr_array_add (loop->shards, shard);
  g_hash_table_insert (loop->by_context, shard->context, shard);
  shard_prepare (shard, loop->wanted);
  return shard;
}

MeshShardLoop *
mesh_shard_loop_new (GMainContext * root, guint shard_size, GError ** error)
{
  MeshShardLoop *loop = g_new0 (MeshShardLoop, 1);

  g_return_val_if_fail (root != NULL && shard_size > 0, NULL);

  loop->shard_size = shard_size;
  loop->shards = g_ptr_array_new_with_free_func (shard_free);
  loop->by_context = g_hash_table_new (NULL, NULL);
  loop->wanted = g_array_new (FALSE, FALSE, sizeof (Registration));
  loop->round = g_ptr_array_new ();
  loop->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (loop->epfd < 0) {
    set_epoll_error (error, errno);
    mesh_shard_loop_free (loop);
    return NULL;
  }
  loop->root = shard_new (loop, root, error);
  if (!loop->root) {
    mesh_shard_loop_free (loop);
    return NULL;
  }
  return loop;
}

void
mesh_shard_loop_free (MeshShardLoop * loop)
{
  if (!loop)
    return;
  g_queue_clear (&loop->with_room);
  g_ptr_array_unref (loop->shards);
  g_hash_table_unref (loop->by_context);
  g_array_unref (loop->wanted);
  g_ptr_array_unref (loop->round);
  if (loop->epfd >= 0)
    close (loop->epfd);
  g_free (loop);
}

GMainContext *
mesh_shard_loop_join (MeshShardLoop * loop)
{
  Shard *shard = g_queue_peek_head (&loop->with_room);

  if (!shard) {
    shard = shard_new (loop, NULL, NULL);
    /* epoll refused a new instance (descriptors exhausted): crowd the
     * shards there are rather than fail a client */
    if (!shard)
      shard = g_ptr_array_index (loop->shards, loop->shards->len > 1 ?
          g_random_int_range (1, loop->shards->len) : 0);
    else {
      g_queue_push_head (&loop->with_room, shard);
      shard->has_room_queued = TRUE;
    }
  }
  shard->members++;
  if (shard->has_room_queued && shard->members >= loop->shard_size) {
    g_queue_remove (&loop->with_room, shard);
    shard->has_room_queued = FALSE;
  }
  return shard->context;
}

void
mesh_shard_loop_forget (MeshShardLoop * loop, GMainContext * context)
{
  Shard *shard = g_hash_table_lookup (loop->by_context, context);

  g_return_if_fail (shard != NULL);

  shard->register_all = TRUE;
}

void
mesh_shard_loop_unregister (MeshShardLoop * loop, GMainContext * context,
    gint fd)
{
  Shard *shard = g_hash_table_lookup (loop->by_context, context);
  guint i;

  g_return_if_fail (shard != NULL);

  epoll_ctl (shard->epfd, EPOLL_CTL_DEL, fd, NULL);
  for (i = 0; i < shard->registered->len; i++) {
    if (g_array_index (shard->registered, Registration, i).fd == fd) {
      g_array_remove_index (shard->registered, i);
      break;
    }
  }
}

void
mesh_shard_loop_leave (MeshShardLoop * loop, GMainContext * context)
{
  Shard *shard = g_hash_table_lookup (loop->by_context, context);

  g_return_if_fail (shard != NULL && shard->members > 0);

  shard->members--;
  shard->register_all = TRUE;
  if (!shard->has_room_queued && !shard->is_root) {
    g_queue_push_tail (&loop->with_room, shard);
    shard->has_room_queued = TRUE;
  }
}

void
mesh_shard_loop_push (MeshShardLoop * loop, GMainContext * context)
{
  g_main_context_push_thread_default (context);
}

void
mesh_shard_loop_wake (MeshShardLoop * loop, GMainContext * context)
{
  Shard *shard = g_hash_table_lookup (loop->by_context, context);

  if (shard)
    shard->deadline = 0;
}

void
mesh_shard_loop_pop (MeshShardLoop * loop, GMainContext * context)
{
  g_main_context_pop_thread_default (context);
  mesh_shard_loop_wake (loop, context);
}

/* ------------------------------------------------------------------------ */
/* Rounds                                                                   */

static gint
next_timeout_ms (MeshShardLoop * loop)
{
  gint64 first = NO_DEADLINE, now;
  guint i;

  for (i = 0; i < loop->shards->len; i++)
    first = MIN (first, ((Shard *) g_ptr_array_index (loop->shards,
                i))->deadline);
  if (first == NO_DEADLINE)
    return -1;
  now = g_get_monotonic_time ();
  if (first <= now)
    return 0;
  /* rounded up: never wake before a deadline only to wait again */
  return (gint) MIN ((first - now + 999) / 1000, G_MAXINT);
}

static void
round_add (MeshShardLoop * loop, Shard * shard)
{
  if (shard->in_round)
    return;
  shard->in_round = TRUE;
  g_ptr_array_add (loop->round, shard);
}

static gboolean
loop_round (MeshShardLoop * loop, gint timeout_ms)
{
  struct epoll_event events[MAX_READY_SHARDS];
  gboolean dispatched = FALSE;
  gint64 now;
  gint n, i;
  guint k;

  n = epoll_wait (loop->epfd, events, MAX_READY_SHARDS, timeout_ms);
  now = g_get_monotonic_time ();
  for (i = 0; i < n; i++)
    round_add (loop, events[i].data.ptr);
  for (k = 0; k < loop->shards->len; k++) {
    Shard *shard = g_ptr_array_index (loop->shards, k);

    if (shard->deadline <= now)
      round_add (loop, shard);
  }

  for (k = 0; k < loop->round->len; k++) {
    Shard *shard = g_ptr_array_index (loop->round, k);
    dispatched |= shard_iterate (loop, shard);
    shard->in_round = FALSE;
  }
  g_ptr_array_set_size (loop->round, 0);
  return dispatched;
}

static void
make_all_due (MeshShardLoop * loop)
{
  guint k;

  for (k = 0; k < loop->shards->len; k++)
    ((Shard *) g_ptr_array_index (loop->shards, k))->deadline = 0;
}

/* Starts with every shard due: what was attached since the last round
 * (before the loop ran, say) is seen at once. */
void
mesh_shard_loop_run (MeshShardLoop * loop)
{
  make_all_due (loop);
  while (!g_atomic_int_get (&loop->quit))
    loop_round (loop, next_timeout_ms (loop));
  g_atomic_int_set (&loop->quit, FALSE);
}

void
mesh_shard_loop_quit (MeshShardLoop * loop)
{
  g_atomic_int_set (&loop->quit, TRUE);
  g_main_context_wakeup (loop->root->context);
}

gboolean
mesh_shard_loop_iterate_all (MeshShardLoop * loop)
{
  make_all_due (loop);
  return loop_round (loop, 0);
}

guint
mesh_shard_loop_get_n_shards (MeshShardLoop * loop)
{
  return loop->shards->len - 1;
}

guint64
mesh_shard_loop_get_n_root_iterations (MeshShardLoop * loop)
{
  return loop->n_root_iterations;
}

guint64
mesh_shard_loop_get_n_shard_iterations (MeshShardLoop * loop)
{
  return loop->n_shard_iterations;
}
