/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An in-memory MeshSignaller (ext/mesh/p2p/mesh-signaller.h) for unit tests:
 * several peer managers in one process meet through a MeshMemoryHub instead
 * of a tracker. No network, no server thread, no timers.
 *
 * How to use it (peer-manager tests): link `meshp2ptest_dep`
 * (tests/check/meson.build), then
 *
 *   #include "p2p/mesh-memory-signaller.h"
 *
 *   MeshMemoryHub *hub = mesh_memory_hub_new ();
 *   // with the manager's context pushed as thread-default:
 *   MeshSignaller *sa = mesh_memory_signaller_new (hub);
 *   MeshPeerManager *a = mesh_peer_manager_new_with_signaller (sa,
 *       transport_a, clock, &config);       // joins config.swarm_id
 *   MeshSignaller *sb = mesh_memory_signaller_new (hub);
 *   MeshPeerManager *b = mesh_peer_manager_new_with_signaller (sb, ...);
 *   // iterate the context(s): b's welcome lists a, b calls a, their
 *   // transports' set-up messages go through the hub
 *   ...
 *   mesh_peer_manager_stop (a); g_object_unref (a); g_object_unref (sa);
 *   g_object_unref (hub);                   // any time: members keep it
 *
 * It behaves like the tracker (docs/protocol.md 1.3) where the managers can
 * tell: a joiner's welcome lists the other members of its swarm (uploaders
 * first, at most "max-peers" of them), the members get "peer-joined", a
 * member that leaves (or is disposed) is announced with "peer-left",
 * relay() reaches the member of the same swarm with that id, and a second
 * join with a member's id replaces it (the old one gets "error" REFUSED;
 * the tracker now refuses the second join instead, which a peer manager
 * cannot tell from a slow join). report() is recorded, for the tests to
 * read (mesh_memory_signaller_get_reports()); unlike the tracker, the hub
 * removes nobody. attest() answers with the digests a test set
 * (mesh_memory_hub_set_attestation()), as a tracker with --attest-origin
 * would; a hub given none attests nothing (G_IO_ERROR_NOT_SUPPORTED).
 * Members that joined with the same network hint (join_full()) are near
 * one another (is_near()), as the tracker's site tier by hint.
 * Tests can also make the hub refuse tokens (mesh_memory_hub_set_token())
 * or fail (mesh_memory_hub_fail()), and count what went through it.
 *
 * Threads: the hub is thread-safe (one lock, never held while a signal is
 * emitted or a callback runs). Each signaller belongs to the thread-default
 * GMainContext at its creation (its owner context), where its methods are
 * called; everything it emits is delivered by an idle source on that
 * context, so never from inside a method call, and members on different
 * threads can share a hub. What was queued for a signaller that left or
 * joined anew in the meantime is dropped.
 */
#pragma once

#include "p2p/mesh-signaller.h"

G_BEGIN_DECLS

#define MESH_TYPE_MEMORY_HUB (mesh_memory_hub_get_type ())
G_DECLARE_FINAL_TYPE (MeshMemoryHub, mesh_memory_hub, MESH, MEMORY_HUB,
    GObject)

#define MESH_TYPE_MEMORY_SIGNALLER (mesh_memory_signaller_get_type ())
G_DECLARE_FINAL_TYPE (MeshMemorySignaller, mesh_memory_signaller, MESH,
    MEMORY_SIGNALLER, GObject)

/* Property "max-peers" (guint, default 10): the most peers a welcome or
 * peers list holds. */
MeshMemoryHub *mesh_memory_hub_new (void);

/* A signaller of @hub (a reference is taken), owned by the thread-default
 * context. */
MeshSignaller *mesh_memory_signaller_new (MeshMemoryHub * hub);

/* Joins need @token from now on (NULL: no token needed, the default); a
 * join without it gets "error" UNAUTHORIZED and joins nothing. */
void mesh_memory_hub_set_token (MeshMemoryHub * hub, const gchar * token);

/* Every member gets "error" with @code and @message, as if the service
 * went away; they stay members. */
void mesh_memory_hub_fail (MeshMemoryHub * hub, MeshSignallerError code,
    const gchar * message);

/* attest() of @url, @offset, @length (the same three) answers @digest
 * (32 bytes) and @size from now on. Thread-safe. */
void mesh_memory_hub_set_attestation (MeshMemoryHub * hub, const gchar * url,
    gint64 offset, gint64 length, const guint8 digest[32], guint64 size);

/* Members of @swarm_id now. */
guint mesh_memory_hub_get_n_members (MeshMemoryHub * hub,
    const gchar * swarm_id);

/* relay() calls that reached a member, since the hub was made. */
guint64 mesh_memory_hub_get_n_relayed (MeshMemoryHub * hub);

/* The report() calls @self made while a member, oldest first, as
 * "REPORTER->PEER" strings (REPORTER: @self's peer id then); transfer
 * full. Thread-safe. */
GPtrArray *mesh_memory_signaller_get_reports (MeshMemorySignaller * self);

G_END_DECLS
