/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshLinkBackoff: when to call a peer again whose link failed to come up.
 * A link that cannot be made (NAT that does not map, no TURN, a peer gone
 * quiet) costs a connect timeout each time; calling the same peer again at
 * every peer refresh cost three viewers 24 timeouts in 30 s. Each failure
 * doubles the wait before that peer is called again, up to a ceiling, with
 * random jitter so that viewers that failed together do not retry in step;
 * a link that comes up forgets the record.
 *
 * Pure, like the scheduler: times are monotonic microseconds given by the
 * caller, randomness comes from the caller's GRand. Bounded: at most
 * MESH_LINK_BACKOFF_MAX_ENTRIES peers are remembered; past that the record
 * that allows a call soonest is forgotten first. Not thread-safe: the peer
 * manager keeps it on its own thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The first wait after a failure, and the ceiling. */
#define MESH_LINK_BACKOFF_BASE_US (10 * G_USEC_PER_SEC)
#define MESH_LINK_BACKOFF_MAX_US (300 * G_USEC_PER_SEC)
#define MESH_LINK_BACKOFF_MAX_ENTRIES 1024

typedef struct _MeshLinkBackoff MeshLinkBackoff;

MeshLinkBackoff *mesh_link_backoff_new (void);
void mesh_link_backoff_free (MeshLinkBackoff * backoff);

/* Whether @peer_id may be called at @now. */
gboolean mesh_link_backoff_may_call (MeshLinkBackoff * backoff,
    const gchar * peer_id, gint64 now);

/* The link to @peer_id failed to come up at @now; returns when it may be
 * called again. */
gint64 mesh_link_backoff_failed (MeshLinkBackoff * backoff,
    const gchar * peer_id, gint64 now, GRand * rand);

/* The link came up, or the peer left the swarm: forget it. */
void mesh_link_backoff_forget (MeshLinkBackoff * backoff,
    const gchar * peer_id);

/* Failures in a row recorded for @peer_id (0 = none). */
guint mesh_link_backoff_get_failures (MeshLinkBackoff * backoff,
    const gchar * peer_id);

guint mesh_link_backoff_size (MeshLinkBackoff * backoff);

G_END_DECLS
