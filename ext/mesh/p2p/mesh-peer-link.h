/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The libnice transport (mesh-peer-transport.h):
 *
 * - MeshNiceTransport (MeshPeerTransport): opens MeshPeerLinks, and owns the
 *   agents of closed links while they finish sending their last bytes (the
 *   "lingering" agents), so that a transport's owner can end them when its
 *   thread ends.
 * - MeshPeerLink (MeshPeerConnection): one peer-to-peer connection. A
 *   libnice agent in reliable mode (pseudo-TCP over ICE, one stream, one
 *   component) carries the wire protocol of mesh-wire.h: both sides send
 *   HELLO first, then any frame; PING/PONG and the idle and connect timeouts
 *   are handled inside.
 *
 * Threads: one owner, the GMainContext given to the transport (the peer
 * manager's thread): the transport, its links, their agents and the
 * lingering agents live there. Every function must be called from the
 * thread running it, and every signal is emitted there. Not thread-safe, no
 * locks. Time is the real monotonic clock (libnice's own timers use it).
 *
 * Signalling (through the tracker, relayed by the owner): both sides emit
 * their credentials when started, then each local candidate as it is
 * gathered (trickle ICE), then "end-of-candidates". Remote candidates that
 * arrive before the remote credentials, or before start, are buffered. The
 * controlling side is the one that initiated the connection.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "mesh-peer-transport.h"
#include "mesh-wire.h"

G_BEGIN_DECLS

typedef struct
{
  const gchar *swarm_id;        /* sent and checked in HELLO */
  const gchar *local_peer_id;
  gboolean upload;              /* HELLO flag MESH_WIRE_HELLO_UPLOAD */
  const gchar *stun_host;       /* NULL = no STUN */
  guint stun_port;
  const gchar *turn_host;       /* NULL = no TURN (UDP relay) */
  guint turn_port;
  const gchar *turn_user;
  const gchar *turn_password;
  gboolean relay_only;          /* only relayed candidates (needs TURN) */
  const gchar *local_address;   /* only gather host candidates on this IP;
                                 * NULL = all interfaces */
  guint connect_timeout_ms;     /* ICE connected + HELLO exchanged within;
                                 * 0 = 10000 */
  guint idle_timeout_ms;        /* nothing received for this long = dead;
                                 * 0 = 15000; PINGs every idle/3 keep it alive
                                 * and measure the RTT */
} MeshPeerLinkConfig;

#define MESH_TYPE_NICE_TRANSPORT (mesh_nice_transport_get_type ())
G_DECLARE_FINAL_TYPE (MeshNiceTransport, mesh_nice_transport, MESH,
    NICE_TRANSPORT, GObject)

/* A transport whose links and agents live on @context. connect() takes the
 * STUN and TURN servers of MeshPeerConnectParams as text (unusable ones are
 * ignored with a warning, once per distinct value). */
MeshNiceTransport *mesh_nice_transport_new (GMainContext * context);

/* Closed links hand their agent over to a short linger (at most 3 s) that
 * finishes sending the ERROR frame and then frees the agent, on the owner
 * context: that context must keep running until this is 0, or
 * mesh_peer_transport_shutdown() ends them, for everything to be freed. A
 * lingering agent holds a reference on its transport. */
guint mesh_nice_transport_count_lingering (MeshNiceTransport * transport);

#define MESH_TYPE_PEER_LINK (mesh_peer_link_get_type ())
G_DECLARE_FINAL_TYPE (MeshPeerLink, mesh_peer_link, MESH, PEER_LINK, GObject)

/* @controlling: TRUE for the side that initiated. Copies the config. For
 * settings that MeshPeerConnectParams does not have (relay_only, the idle
 * timeout); the peer manager uses mesh_peer_transport_connect(). */
MeshPeerLink *mesh_peer_link_new (MeshNiceTransport * transport,
    const MeshPeerLinkConfig * config, const gchar * remote_peer_id,
    gboolean controlling);

/* Emits the local credentials and starts gathering; candidates leave through
 * "signal-out". May emit "closed" at once (bad local address). */
void mesh_peer_link_start (MeshPeerLink * link);

/* Signalling from the remote peer (the "data" object of a tracker signal
 * message). Malformed → ignored, with a GST warning. */
void mesh_peer_link_handle_signal (MeshPeerLink * link, JsonObject * data);

/* Queues an encoded frame (from mesh_wire_encode_*) for sending. Only when
 * CONNECTED: returns FALSE (and queues nothing) otherwise. */
gboolean mesh_peer_link_send (MeshPeerLink * link, GBytes * frame);

/* Bytes queued but not yet accepted by the transport (for upload pacing and
 * backpressure). "writable" is emitted when this falls below
 * MESH_PEER_CONNECTION_LOW_WATER after having reached it. */
gsize mesh_peer_link_get_send_queue_size (MeshPeerLink * link);

/* Sends ERROR (@code, @message) if the transport is up, then closes: emits
 * "closed" with MESH_PEER_CONNECTION_ERROR_LOCAL before returning.
 * Idempotent. */
void mesh_peer_link_close (MeshPeerLink * link, guint16 code,
    const gchar * message);

MeshPeerConnectionState mesh_peer_link_get_state (MeshPeerLink * link);
const gchar *mesh_peer_link_get_remote_peer_id (MeshPeerLink * link);
gboolean mesh_peer_link_is_controlling (MeshPeerLink * link);
/* The remote HELLO flag MESH_WIRE_HELLO_UPLOAD (FALSE before CONNECTED). */
gboolean mesh_peer_link_remote_uploads (MeshPeerLink * link);
/* Round-trip time of the last PING, in µs; -1 while unknown. */
gint64 mesh_peer_link_get_rtt (MeshPeerLink * link);
/* Bytes accepted by the transport / received from it. */
guint64 mesh_peer_link_get_bytes_sent (MeshPeerLink * link);
guint64 mesh_peer_link_get_bytes_received (MeshPeerLink * link);
/* The candidate type of the selected pair: "relay" if either candidate is
 * relayed, else "srflx", "prflx" or "host" likewise (the most indirect of the
 * two); NULL before CONNECTED. */
const gchar *mesh_peer_link_get_selected_type (MeshPeerLink * link);
/* Once CLOSED: the MeshWireCloseCode of the ERROR sent or received
 * (MESH_WIRE_CLOSE_TIMEOUT for timeouts, UNSPECIFIED when none applies). */
guint16 mesh_peer_link_get_close_code (MeshPeerLink * link);

/* Test hooks. Feeds @data as if received from the transport. */
void mesh_peer_link_inject_received_for_test (MeshPeerLink * link,
    const guint8 * data, gsize len);
/* A silent link sends nothing more (no PING, no PONG, no queued frame) while
 * still receiving: its remote sees an idle peer. */
void mesh_peer_link_set_silent_for_test (MeshPeerLink * link,
    gboolean silent);

/* Signals: those of MeshPeerConnection. "closed" is TRANSPORT_FAILED when
 * no candidate pair worked or ICE failed later. The "signal-out" data is
 * one of {"kind":"credentials","ufrag":"...","pwd":"..."},
 * {"kind":"candidate","sdp":"a=candidate:..."}, {"kind":"end-of-candidates"}.
 */

G_END_DECLS
