/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A main loop for many connections: the GMainContext of the server (the
 * root) plus shards, small GMainContexts of at most shard_size members
 * each, all run on one thread and driven by epoll.
 *
 * Why: GLib's own loop walks every source of a context and polls every
 * descriptor on every iteration. With a source and a descriptor per
 * client, a busy tracker spends its time walking clients that have
 * nothing to say (three quarters of its CPU at 3,000 clients: perf, in
 * docs/scaling.md). Here a ready descriptor wakes only its shard, and a
 * shard's walk costs its few members.
 *
 * How a member is placed in a shard: whoever creates its sources does it
 * with the shard pushed as the thread-default context (libsoup and
 * GIO attach theirs there); mesh_shard_loop_join() names the shard,
 * mesh_shard_loop_leave() gives the place back. A shard dispatches with
 * itself as the thread-default context, so what its sources start from
 * there stays in it.
 *
 * Each shard registers its descriptors in an epoll instance of its own
 * (a descriptor may be in two contexts for a while, as when a connection
 * moves from the root to a shard), and the loop's epoll watches those
 * instances. The set is kept by difference after each iteration; a close
 * (mesh_shard_loop_forget()) or a leave makes the next one re-register
 * everything, which is how a descriptor number closed and reused for a
 * new member before the shard looked again is caught: the kernel forgot
 * the old registration with the close, and the difference sees nothing
 * new. Whoever closes a member's descriptor says so. The root, where
 * connections are accepted and closed without telling anyone, is always
 * re-registered in full.
 *
 * Threads: everything here runs on the thread that made the loop, which
 * owns (has acquired) every context; only mesh_shard_loop_quit() may be
 * called from another thread. Another thread may attach sources to the
 * root, never to a shard: a shard does not listen to GLib's wakeup (see
 * the .c), so such a source would wait for the shard's next iteration.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS typedef struct _MeshShardLoop MeshShardLoop;

/* @root: the context of everything that is not a member (acquired by the
 * caller's thread, which must be the one to run the loop).
 * @shard_size: members a shard takes. NULL with @error when epoll fails. */
MeshShardLoop *mesh_shard_loop_new (GMainContext * root, guint shard_size,
    GError ** error);
void mesh_shard_loop_free (MeshShardLoop * loop);

/* A shard with room for one more member, counted from now on: create the
 * member's sources with it pushed as the thread-default context. */
GMainContext *mesh_shard_loop_join (MeshShardLoop * loop);
/* A descriptor of @shard was closed (its number may come back for a new
 * member before the shard looks again). */
void mesh_shard_loop_forget (MeshShardLoop * loop, GMainContext * shard);
/* Takes @fd out of @context's epoll instance now, while it is open. For a
 * descriptor whose socket lives on under another number (dup()): the
 * kernel drops a registration only when the socket's last descriptor
 * closes, so the old number would go on waking @context. */
void mesh_shard_loop_unregister (MeshShardLoop * loop, GMainContext * context,
    gint fd);
/* The member of @shard is gone (its sources may linger a little). */
void mesh_shard_loop_leave (MeshShardLoop * loop, GMainContext * shard);

/* Makes @context (the root or a shard) the thread-default context, to
 * create or touch sources there from outside its own dispatch; the pop
 * makes sure the shard sees them. */
void mesh_shard_loop_push (MeshShardLoop * loop, GMainContext * context);
void mesh_shard_loop_pop (MeshShardLoop * loop, GMainContext * context);
/* Says that sources were attached to @context (the root or a shard) from
 * this thread outside its dispatch, without a push. */
void mesh_shard_loop_wake (MeshShardLoop * loop, GMainContext * context);

/* Dispatches until mesh_shard_loop_quit(). */
void mesh_shard_loop_run (MeshShardLoop * loop);
void mesh_shard_loop_quit (MeshShardLoop * loop);
/* One pass over the root and every shard without waiting, as
 * g_main_context_iteration (ctx, FALSE) would: TRUE if anything was
 * dispatched. */
gboolean mesh_shard_loop_iterate_all (MeshShardLoop * loop);

guint mesh_shard_loop_get_n_shards (MeshShardLoop * loop);
/* Times a shard (not the root) was checked and prepared, dispatched or
 * not: what the loop costs beyond the sources' own work. */
guint64 mesh_shard_loop_get_n_shard_iterations (MeshShardLoop * loop);
/* Iterations of the root (for tests). */
guint64 mesh_shard_loop_get_n_root_iterations (MeshShardLoop * loop);

G_END_DECLS
