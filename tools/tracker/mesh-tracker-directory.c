/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The MeshTrackerDirectory interface (see the header): the dispatch to the
 * implementation and its two signals. No state of its own; the threads are
 * the implementation's (the server thread's GMainContext).
 */

#include "mesh-tracker-directory.h"

#include <string.h>

enum
{
  SIGNAL_MESSAGE,
  SIGNAL_UNDELIVERED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_INTERFACE (MeshTrackerDirectory, mesh_tracker_directory,
    G_TYPE_OBJECT);

static void
mesh_tracker_directory_default_init (MeshTrackerDirectoryInterface * iface)
{
  /* MeshTrackerDirectory::message (directory, const
   * MeshTrackerDirectoryMessage *): for a local member, or a PEER_LEFT of a
   * member held elsewhere. The message is borrowed for the emission. */
  signals[SIGNAL_MESSAGE] = g_signal_new ("message",
      G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_POINTER);
  /* MeshTrackerDirectory::undelivered (directory, swarm, from, to): a
   * SIGNAL sent to @to reached no instance (no such member anywhere). */
  signals[SIGNAL_UNDELIVERED] = g_signal_new ("undelivered",
      G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

void
mesh_tracker_remote_member_free (MeshTrackerRemoteMember * member)
{
  if (!member)
    return;
  g_free (member->peer);
  mesh_locality_key_clear (&member->key);
  g_free (member);
}

void
mesh_tracker_directory_publish (MeshTrackerDirectory * directory,
    const gchar * swarm, const gchar * peer, gboolean upload,
    const MeshLocalityKey * key)
{
  g_return_if_fail (MESH_IS_TRACKER_DIRECTORY (directory));
  MESH_TRACKER_DIRECTORY_GET_IFACE (directory)->publish (directory, swarm,
      peer, upload, key);
}

void
mesh_tracker_directory_withdraw (MeshTrackerDirectory * directory,
    const gchar * swarm, const gchar * peer)
{
  g_return_if_fail (MESH_IS_TRACKER_DIRECTORY (directory));
  MESH_TRACKER_DIRECTORY_GET_IFACE (directory)->withdraw (directory, swarm,
      peer);
}

void
mesh_tracker_directory_list (MeshTrackerDirectory * directory,
    const gchar * swarm, guint max, MeshTrackerDirectoryListFunc func,
    gpointer user_data)
{
  g_return_if_fail (MESH_IS_TRACKER_DIRECTORY (directory));
  MESH_TRACKER_DIRECTORY_GET_IFACE (directory)->list (directory, swarm, max,
      func, user_data);
}

void
mesh_tracker_directory_send (MeshTrackerDirectory * directory,
    const MeshTrackerDirectoryMessage * message)
{
  g_return_if_fail (MESH_IS_TRACKER_DIRECTORY (directory));
  g_return_if_fail (message->type != MESH_TRACKER_DIRECTORY_PEER_LEFT);
  MESH_TRACKER_DIRECTORY_GET_IFACE (directory)->send (directory, message);
}

void
mesh_tracker_directory_get_stats (MeshTrackerDirectory * directory,
    MeshTrackerDirectoryStats * stats)
{
  g_return_if_fail (MESH_IS_TRACKER_DIRECTORY (directory));
  memset (stats, 0, sizeof (*stats));
  MESH_TRACKER_DIRECTORY_GET_IFACE (directory)->get_stats (directory, stats);
}

void
mesh_tracker_directory_emit_message (MeshTrackerDirectory * directory,
    const MeshTrackerDirectoryMessage * message)
{
  g_signal_emit (directory, signals[SIGNAL_MESSAGE], 0, message);
}

void
mesh_tracker_directory_emit_undelivered (MeshTrackerDirectory * directory,
    const gchar * swarm, const gchar * from, const gchar * to)
{
  g_signal_emit (directory, signals[SIGNAL_UNDELIVERED], 0, swarm, from, to);
}
