/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerClient: the client side of the tracker protocol (JSON over
 * WebSocket, docs/protocol.md section 1). The peer manager uses it to join
 * the swarm of a stream, learn about other peers and relay the signalling
 * messages that set up peer-to-peer connections.
 *
 * Threads: a client lives on the thread-default GMainContext at the time it
 * is created (the peer manager's thread). Every function below must be called
 * from the thread that runs that context, and every signal is emitted there.
 * It is not thread-safe and takes no lock.
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define MESH_TYPE_TRACKER_CLIENT (mesh_tracker_client_get_type ())
G_DECLARE_FINAL_TYPE (MeshTrackerClient, mesh_tracker_client, MESH,
    TRACKER_CLIENT, GObject)

/* @session: the SoupSession to use (shared with the CDN fetches; a reference
 * is taken). @url: ws:// or wss://. @token: NULL when the tracker needs none.
 * @upload: whether this peer offers segments to others.
 *
 * Construct-only properties besides those: "min-backoff-ms" (first reconnect
 * delay, default 1000; doubles up to 30 s) and "join-timeout-ms" (how long
 * the tracker may take to answer a join, default 10000). */
MeshTrackerClient *mesh_tracker_client_new (SoupSession * session,
    const gchar * url, const gchar * swarm_id, const gchar * peer_id,
    const gchar * token, gboolean upload);

/* Connects and joins. After a failure or a drop it reconnects with backoff
 * (1 s doubling to 30 s, with jitter) until stopped. What retrying cannot
 * cure stops the retries: the fatal errors unauthorized, unsupported-version,
 * swarm-full and replaced, a join the tracker finds malformed (bad-message
 * before the welcome: the swarm or peer id does not suit it), an unusable
 * URL. start() again to try anew. Does nothing if already started. */
void mesh_tracker_client_start (MeshTrackerClient * client);

/* Sends "leave" if joined and closes. No signal is emitted once it returns. */
void mesh_tracker_client_stop (MeshTrackerClient * client);

gboolean mesh_tracker_client_is_joined (MeshTrackerClient * client);

/* Relays @data (transfer none) to peer @to. Dropped, with a debug log, when
 * not joined. */
void mesh_tracker_client_send_signal (MeshTrackerClient * client,
    const gchar * to, JsonObject * data);

/* Asks for a fresh sample of the swarm; answered by the "peers" signal.
 * Ignored when not joined. */
void mesh_tracker_client_request_peers (MeshTrackerClient * client);

/* Signals:
 *  "joined" (): the tracker welcomed us (after every (re)connection).
 *  "peers" (GStrv peer_ids): from the welcome and "peers" messages; the peers
 *      that upload come first, then the others. Never contains our own id.
 *  "peer-joined" (const gchar *peer_id), "peer-left" (const gchar *peer_id)
 *  "signal" (const gchar *from, JsonObject *data): the protocol lets "data"
 *      be any JSON value; relayed signals whose data is no object are
 *      logged and dropped.
 *  "error" (const gchar *code, const gchar *message, gboolean fatal): an
 *      "error" message of the tracker (fatal = it closes the connection).
 *  "disconnected" (GError *reason): the connection dropped or could not be
 *      made; a reconnect is scheduled unless stopped or the cause is fatal.
 */

G_END_DECLS
