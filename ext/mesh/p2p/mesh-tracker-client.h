/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerClient: the client side of the tracker protocol (JSON over
 * WebSocket, docs/protocol.md section 1), and the MeshSignaller the peer
 * manager uses by default (mesh-signaller.h): it joins the swarm of a
 * stream, learns about other peers and relays the messages that set up
 * peer-to-peer connections.
 *
 * Threads: a client lives on the thread-default GMainContext at the time it
 * is created (the peer manager's thread). Every function below must be called
 * from the thread that runs that context, and every signal is emitted there,
 * from its main loop (never from inside a call). It is not thread-safe and
 * takes no lock.
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "mesh-signaller.h"

G_BEGIN_DECLS
/* Peers the tracker called near that a client remembers at most (the ids
 * of its lists and announcements, each at most a peer id's length): past
 * it, more near peers are taken as far, which costs only the preference. */
#define MESH_TRACKER_CLIENT_MAX_NEAR_PEERS 4096
#define MESH_TYPE_TRACKER_CLIENT (mesh_tracker_client_get_type ())
G_DECLARE_FINAL_TYPE (MeshTrackerClient, mesh_tracker_client, MESH,
    TRACKER_CLIENT, GObject)
/* @session: the SoupSession to use (shared with the CDN fetches; a reference
 * is taken). @url: ws:// or wss://. @token: NULL when the tracker needs none.
 * @upload: whether this peer offers segments to others. mesh_signaller_join()
 * replaces the swarm, peer id, token and upload given here.
 *
 * Construct-only properties besides those: "min-backoff-ms" (first reconnect
 * delay, default 1000; doubles up to 30 s), "join-timeout-ms" (how long
 * the tracker may take to answer a join, default 10000) and
 * "unusable-after" (connection attempts in a row without a welcome after
 * which the tracker is reported unusable, default 3). Read-write:
 * "network" (default NULL), the network hint of the next join and of the
 * qos reports, which mesh_signaller_join_full() sets. */
     MeshTrackerClient *mesh_tracker_client_new (SoupSession * session,
    const gchar * url, const gchar * swarm_id, const gchar * peer_id,
    const gchar * token, gboolean upload);

/* The URLs of a "url" that names several trackers (separated by spaces,
 * commas or tabs; empty ones skipped), in a NULL-terminated array that has
 * at least one ("" when there were none). */
gchar **mesh_tracker_client_split_urls (const gchar * urls);

/* A client of the tracker at @url that joins nothing before
 * mesh_signaller_join(). */
     MeshTrackerClient *mesh_tracker_client_new_for_url (SoupSession * session,
    const gchar * url);

/* Connects and joins (from the main loop: nothing happens inside the call).
 * After a failure or a drop it reconnects with backoff (1 s doubling to
 * 30 s, with jitter) until stopped. What retrying cannot cure stops the
 * retries: the fatal errors unauthorized, unsupported-version, swarm-full,
 * replaced and banned, a join the tracker finds malformed (bad-message before the
 * welcome: the swarm or peer id does not suit it), an unusable URL. start()
 * again to try anew. Does nothing if already started.
 * mesh_signaller_join() is stop(), new settings, start(). */
     void mesh_tracker_client_start (MeshTrackerClient * client);

/* Sends "leave" if joined and closes. No signal is emitted once it returns.
 * Also mesh_signaller_leave(). */
     void mesh_tracker_client_stop (MeshTrackerClient * client);

     gboolean mesh_tracker_client_is_joined (MeshTrackerClient * client);

/* Relays @data (transfer none) to peer @to. Dropped, with a debug log, when
 * not joined. Also mesh_signaller_relay(). */
     void mesh_tracker_client_send_signal (MeshTrackerClient * client,
    const gchar * to, JsonObject * data);

/* Asks for a fresh sample of the swarm; answered by the "peers" signal.
 * Ignored when not joined. Also mesh_signaller_request_peers(). */
     void mesh_tracker_client_request_peers (MeshTrackerClient * client);

/* Reports @peer_id, which sent us data that failed verification, to the
 * tracker (@reason: short text, may be NULL). Dropped, with a debug log,
 * when not joined or when @peer_id is no valid peer id. Also
 * mesh_signaller_report(). */
     void mesh_tracker_client_send_report (MeshTrackerClient * client,
    const gchar * peer_id, const gchar * reason);

/* Sends a "qos" report (docs/protocol.md 1.4) of @totals, the owner's
 * totals since its first report, rebased at every (re)join (see
 * mesh-tracker-client.c) and with the join's network hint. Nothing is sent
 * or queued when not joined. Also mesh_signaller_send_qos(). */
     void mesh_tracker_client_send_qos (MeshTrackerClient * client,
    const MeshQosReport * totals);

/* Signals: those of MeshSignaller (mesh-signaller.h), where
 *  "welcome" comes after every (re)connection, with the welcome's list;
 *  "message" carries relayed signals whose "data" is an object (the
 *      protocol lets it be any JSON value; others are logged and dropped);
 *  "error" (GError *): the tracker cannot be used (MESH_SIGNALLER_ERROR:
 *      INVALID_CONFIG for a URL that is no ws:// or wss:// one; UNREACHABLE
 *      after "unusable-after" failed attempts in a row, retries going on;
 *      REFUSED or UNAUTHORIZED for the refusals that stop the retries);
 *      the message names the tracker URL and the reason.
 * and of the tracker client itself:
 *  "tracker-error" (const gchar *code, const gchar *message, gboolean
 *      fatal): an "error" message of the tracker (fatal = it closes the
 *      connection).
 *  "disconnected" (GError *reason): the connection dropped or could not be
 *      made; a reconnect is scheduled unless stopped or the cause is fatal.
 */

G_END_DECLS
