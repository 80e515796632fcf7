/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshHostilePeer: a viewer gone bad, for the tests. It joins a swarm
 * through a real mesh-tracker and links with the viewers over the
 * product's own QUIC transport and wire codec, then lies: it announces
 * every segment any peer announces or starts fetching (so it is the first
 * complete holder of each), and answers every request as its mode says.
 *
 * Threads: it runs its own thread and GMainContext (the tracker client,
 * the transport and every link live there); the getters may be called
 * from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  /* random bytes of the announced size, then END: a forged segment */
  MESH_HOSTILE_CORRUPT,
  /* DATA that never ends, whatever size it announced */
  MESH_HOSTILE_ENDLESS,
  /* answers nothing and floods: REQUEST and PING as fast as it can */
  MESH_HOSTILE_FLOOD,
} MeshHostileMode;

typedef struct _MeshHostilePeer MeshHostilePeer;

MeshHostilePeer *mesh_hostile_peer_new (const gchar * tracker_url,
    const gchar * swarm_id, MeshHostileMode mode);
void mesh_hostile_peer_free (MeshHostilePeer * peer);

/* Its links up now, and links it had that the viewers closed. */
guint mesh_hostile_peer_get_n_links (MeshHostilePeer * peer);
guint mesh_hostile_peer_get_n_cut_off (MeshHostilePeer * peer);
/* Requests it answered with lies, and the bytes of them. */
guint mesh_hostile_peer_get_n_served (MeshHostilePeer * peer);
guint64 mesh_hostile_peer_get_bytes_sent (MeshHostilePeer * peer);
/* The tracker sent it away (an error after it joined). */
gboolean mesh_hostile_peer_get_expelled (MeshHostilePeer * peer);

G_END_DECLS
