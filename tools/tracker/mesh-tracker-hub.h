/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerHub: the swarms of the tracker instances of one process, one
 * instance a thread (mesh-tracker --threads, docs/scaling.md "Several
 * cores"). It is Redis mode's directory (mesh-tracker-directory.h) kept in
 * memory: each instance has a MeshTrackerHubDirectory on the hub, and a
 * message for a member of another instance is handed to that instance's
 * thread instead of going through a Redis server.
 *
 * Threads: the hub is shared by every instance's thread and guarded by its
 * own lock, never held across a call out. A directory is made, used and
 * dropped on its server's thread and calls back there only (as the
 * interface says), from that thread's thread-default context when it was
 * made: messages from other instances arrive there as idle sources, which
 * is why that context must listen to its wakeup (the root of
 * mesh-tracker-loop.h does).
 */

#pragma once

#include "mesh-tracker-directory.h"

G_BEGIN_DECLS

typedef struct _MeshTrackerHub MeshTrackerHub;

/* Messages handed to one instance and not yet taken by its thread: past
 * these, more are dropped and counted as errors of their sender (an
 * instance that stalls must not make the others grow without end). */
#define MESH_TRACKER_HUB_MAX_PENDING 100000

MeshTrackerHub *mesh_tracker_hub_new (void);
MeshTrackerHub *mesh_tracker_hub_ref (MeshTrackerHub * hub);
void mesh_tracker_hub_unref (MeshTrackerHub * hub);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshTrackerHub, mesh_tracker_hub_unref)

#define MESH_TYPE_TRACKER_HUB_DIRECTORY (mesh_tracker_hub_directory_get_type ())
G_DECLARE_FINAL_TYPE (MeshTrackerHubDirectory, mesh_tracker_hub_directory,
    MESH, TRACKER_HUB_DIRECTORY, GObject)

/* On the instance's thread, its context the thread-default one. */
MeshTrackerDirectory *mesh_tracker_hub_directory_new (MeshTrackerHub * hub);

G_END_DECLS
