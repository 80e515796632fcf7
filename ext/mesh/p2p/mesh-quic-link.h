/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The QUIC transport (mesh-peer-transport.h):
 *
 * - MeshQuicTransport (MeshPeerTransport): opens MeshQuicLinks with one
 *   MeshQuicCredentials (key pair + self-signed certificate) for all of them,
 *   and owns the closed links' QUIC connections and ICE agents while they
 *   drain (the "lingering" ones).
 * - MeshQuicLink (MeshPeerConnection): one peer-to-peer connection. ICE is
 *   libnice's (host, server-reflexive and relayed candidates, trickled), in
 *   non-reliable mode: the selected pair carries UDP datagrams, and a
 *   MeshQuicConnection (mesh-quic.h) runs over them, the controlling side
 *   being the QUIC client. The wire protocol (mesh-wire.h) rides on QUIC
 *   streams: control frames on the first stream the client opens, each
 *   transfer (REQUEST ... END/ABSENT/CANCEL of one request id) on a stream
 *   of its own, opened by the requester, so transfers never wait for one
 *   another. HELLO, PING and the timeouts follow mesh-wire-session.h.
 *
 * Security: the local certificate's fingerprint goes out with the ICE
 * credentials; each side requires the fingerprint the signalling gave it,
 * so a link is bound to the peer the tracker introduced. TLS 1.3, ALPN
 * MESH_QUIC_DEFAULT_ALPN ("gst-mesh/2").
 *
 * Threads: one owner, the GMainContext given to the transport (the peer
 * manager's thread): the transport, its links, their agents, QUIC
 * connections and timers, the lingering ones, every signal. Every function
 * must be called from the thread running it. Not thread-safe, no locks.
 * Time is the real monotonic clock (libnice and QUIC timers use it).
 *
 * Signalling ("signal-out" kinds): {"kind":"quic-offer","ufrag":"...",
 * "pwd":"...","fingerprint":"sha-256 AB:...","alpn":"gst-mesh/2"} first,
 * then {"kind":"candidate","sdp":"a=candidate:..."} per local candidate and
 * {"kind":"end-of-candidates"}.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "mesh-peer-transport.h"
#include "mesh-quic.h"

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
  MeshPeerCandidatePolicy candidate_policy; /* what is signalled and
                                 * paired (relay-only needs TURN) */
  const gchar *local_address;   /* only gather host candidates on this IP;
                                 * NULL = all interfaces */
  guint connect_timeout_ms;     /* ICE + QUIC handshake + HELLO within;
                                 * 0 = 10000 */
  guint idle_timeout_ms;        /* no wire frame received for this long =
                                 * dead; 0 = 15000; PINGs every idle/3 */
  MeshQuicCongestionControl cc; /* 0 = mesh-quic's default */
} MeshQuicLinkConfig;

#define MESH_TYPE_QUIC_TRANSPORT (mesh_quic_transport_get_type ())
G_DECLARE_FINAL_TYPE (MeshQuicTransport, mesh_quic_transport, MESH,
    QUIC_TRANSPORT, GObject)

/* A transport whose links live on @context, with new credentials (NULL and
 * @error when they cannot be made). */
MeshQuicTransport *mesh_quic_transport_new (GMainContext * context,
    GError ** error);
/* "sha-256 AB:..." of the transport's certificate. */
const gchar *mesh_quic_transport_get_fingerprint (MeshQuicTransport *
    transport);
/* Closed links whose QUIC connection and agent are still draining (at most
 * about 3 s); each holds a reference on the transport. The owner context
 * must keep running until this is 0, or mesh_peer_transport_shutdown() ends
 * them. */
guint mesh_quic_transport_count_lingering (MeshQuicTransport * transport);

#define MESH_TYPE_QUIC_LINK (mesh_quic_link_get_type ())
G_DECLARE_FINAL_TYPE (MeshQuicLink, mesh_quic_link, MESH, QUIC_LINK, GObject)

/* @controlling: TRUE for the side that initiated (the QUIC client). Copies
 * the config. NULL when the ids exceed the wire bounds. */
MeshQuicLink *mesh_quic_link_new (MeshQuicTransport * transport,
    const MeshQuicLinkConfig * config, const gchar * remote_peer_id,
    gboolean controlling);

/* Once CLOSED: the MeshWireCloseCode of the ERROR sent or received
 * (TIMEOUT for timeouts, UNSPECIFIED when none applies). */
guint16 mesh_quic_link_get_close_code (MeshQuicLink * link);
/* The QUIC connection's statistics (zeroes before it exists). */
void mesh_quic_link_get_stats (MeshQuicLink * link, MeshQuicStats * stats);
/* SO_RCVBUF the kernel granted on the selected pair's socket (0 before). */
gint mesh_quic_link_get_socket_rcvbuf (MeshQuicLink * link);

/* Test hooks. Writes @data on the control stream as if it were frames
 * (CONNECTED only). */
gboolean mesh_quic_link_send_raw_for_test (MeshQuicLink * link,
    const guint8 * data, gsize len);
/* Writes @data on a new stream of its own. */
gboolean mesh_quic_link_send_raw_stream_for_test (MeshQuicLink * link,
    const guint8 * data, gsize len);
/* A silent link writes no wire frame (no PING, PONG, nor queued frame)
 * while QUIC still acknowledges: its remote sees an idle peer. */
void mesh_quic_link_set_silent_for_test (MeshQuicLink * link,
    gboolean silent);
/* Streams the link tracks (control included). */
guint mesh_quic_link_count_streams_for_test (MeshQuicLink * link);

/* Signals: those of MeshPeerConnection. "closed" reasons: TRANSPORT_FAILED
 * (no candidate pair, ICE failed, QUIC handshake failed), REJECTED (the
 * certificate is not the one signalled, on either side; or the HELLO
 * checks), REMOTE (ERROR received or QUIC closed by the peer), PROTOCOL,
 * IDLE_TIMEOUT, CONNECT_TIMEOUT, LOCAL, CONFIG. */

G_END_DECLS
