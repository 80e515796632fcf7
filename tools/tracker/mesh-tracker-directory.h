/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerDirectory: what the tracker shares with other tracker
 * instances serving the same swarms (docs/tracker.md "Redis mode"), behind
 * one seam so that the server knows nothing of how it is shared.
 *
 *  - publish/withdraw: a local member joins or leaves a swarm; the
 *    directory keeps it listed for the other instances while it is joined
 *    (refreshing it as often as it needs to) and tells them of the leave.
 *  - list: up to a number of members of a swarm held by other instances,
 *    asynchronously (one round trip to wherever the directory lives).
 *  - send: a message (signal, peer-joined) for a member of another
 *    instance; "undelivered" says when nobody held that member.
 *  - "message": a message from another instance for a local member, or
 *    (MESH_TRACKER_DIRECTORY_PEER_LEFT) the news that a member held
 *    elsewhere left.
 *
 * Threads: an implementation is created, used and destroyed on the
 * server thread, its I/O on that thread's GMainContext (the thread-default
 * context when it is created). It never blocks that thread and calls back
 * (list callbacks, signals) from that context only, never from within the
 * call that started the operation. Everything it hands over comes from
 * another process and was validated as a client's message would be.
 */
#pragma once

#include <glib-object.h>

#include "mesh-tracker-locality.h"

G_BEGIN_DECLS

#define MESH_TYPE_TRACKER_DIRECTORY (mesh_tracker_directory_get_type ())
G_DECLARE_INTERFACE (MeshTrackerDirectory, mesh_tracker_directory, MESH,
    TRACKER_DIRECTORY, GObject)

/* A member of a swarm as the directory lists it. */
typedef struct
{
  gchar *peer;                  /* a valid peer id */
  gboolean upload;
  MeshLocalityKey key;          /* its network; fields may be empty */
} MeshTrackerRemoteMember;

void mesh_tracker_remote_member_free (MeshTrackerRemoteMember * member);

typedef enum
{
  MESH_TRACKER_DIRECTORY_SIGNAL, /* @data for @to, from @from */
  MESH_TRACKER_DIRECTORY_PEER_JOINED, /* @from joined, tell @to */
  MESH_TRACKER_DIRECTORY_PEER_LEFT, /* @from left; @to is NULL */
} MeshTrackerDirectoryMessageType;

/* Borrowed for the duration of a call or an emission. */
typedef struct
{
  MeshTrackerDirectoryMessageType type;
  const gchar *swarm;
  const gchar *to;
  const gchar *from;
  const gchar *data;            /* SIGNAL: the "data" as JSON text */
  gboolean upload;              /* PEER_JOINED: of @from */
  const MeshLocalityKey *key;   /* PEER_JOINED: of @from; NULL: unknown */
} MeshTrackerDirectoryMessage;

/* Counters since the directory was made, for /metrics. */
typedef struct
{
  guint64 messages_in;          /* messages for local members taken */
  guint64 messages_out;         /* messages sent to other instances */
  guint64 dropped;              /* incoming ones refused as malformed */
  guint64 errors;               /* failed commands, connection errors */
  guint64 reconnects;           /* connections (re)established after the
                                 * first */
  guint64 remote_listed;        /* members of other instances listed */
  gboolean connected;
} MeshTrackerDirectoryStats;

/* @members: MeshTrackerRemoteMember (owned by the array), possibly empty
 * (the directory unreachable, or no other member). */
typedef void (*MeshTrackerDirectoryListFunc) (GPtrArray * members,
    gpointer user_data);

struct _MeshTrackerDirectoryInterface
{
  GTypeInterface parent_iface;

  void (*publish) (MeshTrackerDirectory * directory, const gchar * swarm,
      const gchar * peer, gboolean upload, const MeshLocalityKey * key);
  void (*withdraw) (MeshTrackerDirectory * directory, const gchar * swarm,
      const gchar * peer);
  void (*list) (MeshTrackerDirectory * directory, const gchar * swarm,
      guint max, MeshTrackerDirectoryListFunc func, gpointer user_data);
  void (*send) (MeshTrackerDirectory * directory,
      const MeshTrackerDirectoryMessage * message);
  void (*get_stats) (MeshTrackerDirectory * directory,
      MeshTrackerDirectoryStats * stats);
};

/* @key: NULL when locality is off. */
void mesh_tracker_directory_publish (MeshTrackerDirectory * directory,
    const gchar * swarm, const gchar * peer, gboolean upload,
    const MeshLocalityKey * key);
void mesh_tracker_directory_withdraw (MeshTrackerDirectory * directory,
    const gchar * swarm, const gchar * peer);
/* Calls @func exactly once, later, with at most @max members of @swarm
 * held by other instances (random ones when there are more). */
void mesh_tracker_directory_list (MeshTrackerDirectory * directory,
    const gchar * swarm, guint max, MeshTrackerDirectoryListFunc func,
    gpointer user_data);
/* @message: a SIGNAL or PEER_JOINED for a member of another instance. */
void mesh_tracker_directory_send (MeshTrackerDirectory * directory,
    const MeshTrackerDirectoryMessage * message);
void mesh_tracker_directory_get_stats (MeshTrackerDirectory * directory,
    MeshTrackerDirectoryStats * stats);

/* For implementations: emit "message" / "undelivered". */
void mesh_tracker_directory_emit_message (MeshTrackerDirectory * directory,
    const MeshTrackerDirectoryMessage * message);
void mesh_tracker_directory_emit_undelivered (MeshTrackerDirectory *
    directory, const gchar * swarm, const gchar * from, const gchar * to);

G_END_DECLS
