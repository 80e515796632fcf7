/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshIntegrity: verifies segments that came from peers against SHA-256
 * digests no peer can forge: the list their content provider publishes
 * next to the manifest (`mesh-hashes.json`, written by mesh-hashes;
 * docs/hash-list.md), fetched from the CDN, never from peers, and again
 * when a segment newer than it needs verifying (a live stream's list grows
 * with it); and, for a segment the list cannot vouch for, the digest the
 * tracker attests (it fetched the segment from the origin itself;
 * mesh-tracker --attest-origin), asked through the signaller.
 *
 * Threads: one owner, the MeshFetcher's thread and GMainContext (the
 * thread-default one at creation), where its SoupSession lives; callbacks
 * are called there, from the main loop. A segment's SHA-256 is computed
 * once, in GLib's thread pool (GTask), so that the owner context, which
 * the peer links share, does not stall on megabytes. The pure function at
 * the end may be called from anywhere.
 */
#pragma once

#include <gst/gst.h>
#include <libsoup/soup.h>

#include "mesh-hash-list.h"
#include "mesh-peer-config.h"
#include "p2p/mesh-signaller.h"

G_BEGIN_DECLS

typedef enum {
  MESH_INTEGRITY_VERIFIED,      /* the digest matches */
  MESH_INTEGRITY_MISMATCH,      /* it does not: the bytes are forged */
  MESH_INTEGRITY_UNVERIFIABLE,  /* no digest for it: not accepted either */
} MeshIntegrityResult;

typedef struct _MeshIntegrity MeshIntegrity;

/* @available FALSE: no list could be had (@why says why, for people);
 * TRUE: a list came after all. */
typedef void (*MeshIntegrityStateFunc) (gboolean available, const gchar * why,
    gpointer user_data);
typedef void (*MeshIntegrityFunc) (MeshIntegrityResult result,
    gpointer user_data);
/* A GET of @url as the owner makes them (its User-Agent, its extra
 * headers); NULL when @url is unusable. */
typedef SoupMessage *(*MeshIntegrityRequestFunc) (const gchar * url,
    gpointer user_data);

/* Verifies with the sources @mode allows (AUTO: the list, then the
 * tracker; HASH_LIST: the list only; TRACKER: the tracker only). Starts
 * fetching `mesh-hashes.json` from the directory of @manifest_url with
 * @session, in requests @make_request makes (NULL: plain GETs; the list
 * lives on the manifest's origin, so the owner's headers apply); asks
 * @signaller (may be NULL: no attestation) for attested digests. @user_data
 * goes to @make_request and @state_func. */
MeshIntegrity *mesh_integrity_new (SoupSession * session,
    MeshIntegrityMode mode, const gchar * manifest_url,
    MeshIntegrityRequestFunc make_request, MeshSignaller * signaller,
    MeshIntegrityStateFunc state_func, gpointer user_data);

/* Stops; verifications waiting for a newer list are decided UNVERIFIABLE
 * (from the main loop, as ever). */
void mesh_integrity_free (MeshIntegrity * integrity);

/* FALSE once every source proved unavailable (no list; a tracker that
 * attests nothing): peers cannot be used. TRUE until then (what peers
 * deliver meanwhile waits for a source). */
gboolean mesh_integrity_may_use_peers (MeshIntegrity * integrity);

/* Verifies @data, the bytes from @offset of @url (@whole: all of the file,
 * else a byte range of @data's size), a segment first asked of peers at
 * @since (monotonic): with the list at hand when it has the digest, else
 * once the list was fetched again if the one at hand is older than @since,
 * else UNVERIFIABLE. @func comes from the main loop, never from this call;
 * @notify (may be NULL) is called on @user_data once @func was, or the
 * verification dropped. */
void mesh_integrity_verify (MeshIntegrity * integrity, const gchar * url,
    gint64 offset, gboolean whole, GBytes * data, gint64 since,
    MeshIntegrityFunc func, gpointer user_data, GDestroyNotify notify);

/* Pure: whether @digest (the SHA-256 of bytes @offset .. @offset + @length
 * - 1 of the resource the list names @path, @length -1 for all of it; see
 * mesh_hash_list_path_for_uri(): on the list's origin, under its
 * directory) is @list's digest for it. */
MeshIntegrityResult mesh_integrity_check (const MeshHashList * list,
    const gchar * path, gint64 offset, gint64 length,
    const guint8 digest[32]);

G_END_DECLS
