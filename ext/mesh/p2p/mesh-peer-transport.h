/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The transport seam: how the peer manager reaches other viewers, whatever
 * carries the bytes. Two interfaces:
 *
 * - MeshPeerTransport, a factory: it opens a connection to a peer from the
 *   connection parameters (who, which side initiated, the ICE servers...),
 *   and owns whatever outlives a connection (a libnice agent finishing its
 *   last bytes, a QUIC connection draining).
 * - MeshPeerConnection, one connection to one peer: it trades its set-up
 *   (credentials, candidates) with the remote through signalling, then
 *   carries wire frames (mesh-wire.h, docs/protocol.md section 2) both ways.
 *   The connection does the HELLO exchange and its checks, PING/PONG and the
 *   connect and idle timeouts itself; its owner sees "connected", then the
 *   frames after HELLO except PING, PONG and ERROR.
 *
 * Implementations: MeshQuicTransport (mesh-quic-link.h, QUIC over libnice
 * ICE), the loopback transport of the tests (tests/check/p2p/); both apply
 * the session rules of mesh-wire-session.h. A WebRTC data-channel transport
 * would implement the same two interfaces.
 *
 * Threads: a transport and its connections belong to one GMainContext, the
 * owner context given to the implementation's constructor (the peer
 * manager's, i.e. the MeshFetcher's thread). Every function must be called
 * from the thread running it and every signal is emitted there. No locks.
 * Entry points that may emit hold a reference on the connection for their
 * duration, as handlers may drop the owner's last reference.
 *
 * Signalling data: each connection emits "signal-out" with JSON objects for
 * the remote's handle_signal(), relayed as they are (the tracker relays any
 * JSON object). Their "kind" member says what they are; kinds are private
 * to the transport, except "busy", which the peer manager uses itself and
 * no transport may emit.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "fetch/mesh-peer-config.h"
#include "mesh-wire.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------------ */
/* Time */

/* The monotonic time, in µs, of a peer manager and its transports: the real
 * g_get_monotonic_time() except in tests, which drive everything from one
 * fake clock. */
typedef gint64 (*MeshPeerClockFunc) (gpointer user_data);

typedef struct {
  MeshPeerClockFunc now;        /* NULL = g_get_monotonic_time() */
  gpointer user_data;
} MeshPeerClock;

gint64 mesh_peer_clock_now (const MeshPeerClock * clock);

/* A GSource that is ready once @clock reaches @when (µs, on @clock). With a
 * fake clock the poll timeout is what is left on that clock; whoever moves
 * the fake clock wakes the context (or iterates it) afterwards. Attach it
 * and set a callback like any GSource; it fires once per readiness: the
 * callback returns G_SOURCE_REMOVE or calls mesh_peer_clock_source_set. */
GSource *mesh_peer_clock_source_new (const MeshPeerClock * clock, gint64 when);
void mesh_peer_clock_source_set (GSource * source, gint64 when);

/* ------------------------------------------------------------------------ */
/* Goodput */

/* Received payload bytes per second, measured over busy periods only (a
 * link idle between requests is not slow), smoothed. For implementations
 * of get_goodput(). Pure: times are passed in. */
typedef struct {
  /* private */
  gint64 window_start;
  gint64 last;
  guint64 window_bytes;
  guint64 rate;
} MeshGoodputMeter;

void mesh_goodput_meter_add (MeshGoodputMeter * meter, gint64 now,
    guint64 bytes);
/* bytes/s, 0 while unknown */
guint64 mesh_goodput_meter_get (const MeshGoodputMeter * meter);

/* ------------------------------------------------------------------------ */
/* Connections */

#define MESH_PEER_CONNECTION_ERROR (mesh_peer_connection_error_quark ())
GQuark mesh_peer_connection_error_quark (void);

/* Why a connection closed (the GError of "closed"). */
typedef enum {
  MESH_PEER_CONNECTION_ERROR_CONNECT_TIMEOUT,
  MESH_PEER_CONNECTION_ERROR_TRANSPORT_FAILED,  /* no path worked, or the
                                                 * path failed later */
  MESH_PEER_CONNECTION_ERROR_IDLE_TIMEOUT,
  MESH_PEER_CONNECTION_ERROR_PROTOCOL,  /* undecodable bytes, frames out of
                                         * order */
  MESH_PEER_CONNECTION_ERROR_REJECTED,  /* remote HELLO: other swarm or
                                         * unexpected peer id */
  MESH_PEER_CONNECTION_ERROR_REMOTE,    /* the remote sent ERROR */
  MESH_PEER_CONNECTION_ERROR_LOCAL,     /* mesh_peer_connection_close() */
  MESH_PEER_CONNECTION_ERROR_CONFIG,    /* unusable local settings */
} MeshPeerConnectionError;

typedef enum {
  MESH_PEER_CONNECTION_CONNECTING,
  MESH_PEER_CONNECTION_CONNECTED,
  MESH_PEER_CONNECTION_CLOSED,
} MeshPeerConnectionState;

/* "writable" is emitted when the send queue falls below this after having
 * reached it. */
#define MESH_PEER_CONNECTION_LOW_WATER (64 * 1024)
/* A connection whose send queue would grow past this is closed: its peer
 * does not read (the peer manager keeps a few hundred KiB queued at most,
 * and what else goes out, announcements, PONG, ABSENT, is small). */
#define MESH_PEER_CONNECTION_MAX_QUEUE (4 * 1024 * 1024)

#define MESH_TYPE_PEER_CONNECTION (mesh_peer_connection_get_type ())
G_DECLARE_INTERFACE (MeshPeerConnection, mesh_peer_connection, MESH,
    PEER_CONNECTION, GObject)

struct _MeshPeerConnectionInterface
{
  GTypeInterface parent_iface;

  void (*start) (MeshPeerConnection * conn);
  void (*handle_signal) (MeshPeerConnection * conn, JsonObject * data);
  gboolean (*send) (MeshPeerConnection * conn, GBytes * frame);
  gsize (*get_send_queue_size) (MeshPeerConnection * conn);
  void (*close) (MeshPeerConnection * conn, guint16 code,
      const gchar * message);
  MeshPeerConnectionState (*get_state) (MeshPeerConnection * conn);
  const gchar *(*get_remote_peer_id) (MeshPeerConnection * conn);
  gboolean (*get_remote_uploads) (MeshPeerConnection * conn);
  gint64 (*get_rtt) (MeshPeerConnection * conn);
  guint64 (*get_goodput) (MeshPeerConnection * conn);
  /* optional: "host", "srflx", "relay"... for logs; NULL when unknown */
  const gchar *(*get_path_type) (MeshPeerConnection * conn);
};

/* Emits the local set-up ("signal-out") and starts connecting. May emit
 * "closed" at once (unusable settings). */
void mesh_peer_connection_start (MeshPeerConnection * conn);

/* Signalling from the remote (its "signal-out" data). Malformed or unknown
 * kinds are ignored with a GST warning. May come before start(): kept. */
void mesh_peer_connection_handle_signal (MeshPeerConnection * conn,
    JsonObject * data);

/* Queues an encoded frame (from mesh_wire_encode_*). Only when CONNECTED:
 * returns FALSE and queues nothing otherwise. Never emits. */
gboolean mesh_peer_connection_send (MeshPeerConnection * conn,
    GBytes * frame);

/* Bytes queued and not yet taken by the transport (upload pacing and
 * backpressure); see "writable". */
gsize mesh_peer_connection_get_send_queue_size (MeshPeerConnection * conn);

/* Sends ERROR (@code, @message) when it can, then closes: "closed" (LOCAL)
 * is emitted before this returns. Idempotent. */
void mesh_peer_connection_close (MeshPeerConnection * conn, guint16 code,
    const gchar * message);

MeshPeerConnectionState mesh_peer_connection_get_state (MeshPeerConnection *
    conn);
const gchar *mesh_peer_connection_get_remote_peer_id (MeshPeerConnection *
    conn);
/* The remote HELLO flag MESH_WIRE_HELLO_UPLOAD (FALSE before CONNECTED). */
gboolean mesh_peer_connection_get_remote_uploads (MeshPeerConnection * conn);
/* Round-trip time in µs; -1 while unknown. */
gint64 mesh_peer_connection_get_rtt (MeshPeerConnection * conn);
/* Received payload bytes/s while busy (MeshGoodputMeter); 0 = unknown. */
guint64 mesh_peer_connection_get_goodput (MeshPeerConnection * conn);
/* NULL when the implementation does not say. */
const gchar *mesh_peer_connection_get_path_type (MeshPeerConnection * conn);

/* For implementations: emit the interface's signals. */
void mesh_peer_connection_emit_signal_out (MeshPeerConnection * conn,
    JsonObject * data);
void mesh_peer_connection_emit_connected (MeshPeerConnection * conn);
void mesh_peer_connection_emit_frame (MeshPeerConnection * conn,
    const MeshWireFrame * frame);
void mesh_peer_connection_emit_writable (MeshPeerConnection * conn);
void mesh_peer_connection_emit_closed (MeshPeerConnection * conn,
    const GError * reason);

/* Signals (emitted on the owner context):
 *  "signal-out" (JsonObject *data): to relay to the remote's
 *      handle_signal() through signalling
 *  "connected": the path is up and both HELLOs were exchanged and checked
 *      (same swarm id, remote peer id as expected)
 *  "frame" (gpointer: const MeshWireFrame *, valid during the emission):
 *      every frame after HELLO except PING, PONG and ERROR
 *  "writable": the send queue fell below MESH_PEER_CONNECTION_LOW_WATER
 *      after having reached it
 *  "closed" (GError *reason, domain MESH_PEER_CONNECTION_ERROR): once,
 *      whatever the reason. Afterwards the connection sends and emits
 *      nothing more.
 */

/* ------------------------------------------------------------------------ */
/* Transports */

/* What a connection needs to know; strings are copied. */
typedef struct {
  const gchar *swarm_id;        /* sent and checked in HELLO */
  const gchar *local_peer_id;
  const gchar *remote_peer_id;  /* checked in the remote HELLO */
  gboolean controlling;         /* TRUE on the side that initiated */
  gboolean upload;              /* HELLO flag MESH_WIRE_HELLO_UPLOAD */
  const gchar *stun_server;     /* "host:port", NULL = none */
  const gchar *turn_server;     /* "turn://user:pass@host:port", NULL */
  const gchar *local_address;   /* only this local IP; NULL = all */
  guint connect_timeout_ms;     /* 0 = the transport's default */
  MeshPeerCongestionControl congestion_control;
  MeshPeerCandidatePolicy candidate_policy;
} MeshPeerConnectParams;

#define MESH_TYPE_PEER_TRANSPORT (mesh_peer_transport_get_type ())
G_DECLARE_INTERFACE (MeshPeerTransport, mesh_peer_transport, MESH,
    PEER_TRANSPORT, GObject)

struct _MeshPeerTransportInterface
{
  GTypeInterface parent_iface;

  MeshPeerConnection *(*connect) (MeshPeerTransport * transport,
      const MeshPeerConnectParams * params);
  void (*shutdown) (MeshPeerTransport * transport, guint timeout_ms);
};

/* A new connection, not started (connect the signals, then start()).
 * NULL, with a GST warning, when @params are unusable (ids beyond the wire
 * bounds). */
MeshPeerConnection *mesh_peer_transport_connect (MeshPeerTransport *
    transport, const MeshPeerConnectParams * params);

/* For the owner thread when it ends (or a test): ends at once what the
 * transport still holds after its connections closed (lingering agents,
 * draining connections), and runs the owner context until all of it is
 * freed, for at most @timeout_ms. Connections still open are not touched.
 * The transport stays usable. */
void mesh_peer_transport_shutdown (MeshPeerTransport * transport,
    guint timeout_ms);

G_END_DECLS
