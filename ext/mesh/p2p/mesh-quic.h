/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshQuicConnection: one QUIC connection (RFC 9000, ngtcp2 + GnuTLS) over a
 * datagram path that someone else owns: a libnice component in non-reliable
 * mode, or a UDP socket. The connection never touches a socket: datagrams
 * come in through mesh_quic_connection_receive_datagram() and go out through
 * the MeshQuicSendFunc given at creation.
 *
 * Security: TLS 1.3 with mutual authentication by certificate fingerprint,
 * the way WebRTC binds DTLS to the SDP's a=fingerprint. Each side has a
 * per-session key pair and self-signed certificate (MeshQuicCredentials),
 * publishes its fingerprint through signalling, and gives the connection the
 * fingerprint it expects from the other side. The server requires a client
 * certificate; each side checks the SHA-256 of the other's certificate and
 * the ALPN, and fails the handshake (with a TLS alert and a reason phrase the
 * other side can read) on a mismatch. No CA validation.
 *
 * Streams: one bidirectional stream per transfer. Writes are copied into a
 * per-stream send buffer of bounded size and accepted only up to its free
 * space ("stream-writable" says when there is room again); received bytes
 * are handed over at once ("stream-data") and their flow-control credit
 * returned, so the receive windows bound what a peer can make us hold.
 *
 * Threads: one owner, the GMainContext given at creation. Every function must
 * be called from the thread running it, and every signal is emitted there
 * (from mesh_quic_connection_receive_datagram() or from the connection's
 * timer source). Not thread-safe, no locks.
 *
 * This file pair is the only code that knows ngtcp2 (0.12 API).
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The wire protocol version the connection carries (docs/protocol.md §2). */
#define MESH_QUIC_DEFAULT_ALPN "gst-mesh/2"

/* ------------------------------------------------------------------------ */
/* Credentials */

/* A per-session ECDSA P-256 key pair and a self-signed certificate.
 * Immutable once made, so one can serve many connections. */
typedef struct _MeshQuicCredentials MeshQuicCredentials;

#define MESH_TYPE_QUIC_CREDENTIALS (mesh_quic_credentials_get_type ())
GType mesh_quic_credentials_get_type (void);

MeshQuicCredentials *mesh_quic_credentials_new (GError ** error);
MeshQuicCredentials *mesh_quic_credentials_ref (MeshQuicCredentials * creds);
void mesh_quic_credentials_unref (MeshQuicCredentials * creds);
/* "sha-256 AB:CD:…" (32 bytes, upper-case hex), as in SDP a=fingerprint. */
const gchar *mesh_quic_credentials_get_fingerprint (MeshQuicCredentials *
    creds);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshQuicCredentials, mesh_quic_credentials_unref)

/* Parses "sha-256 AB:CD:…" (hex in either case) into 32 bytes. */
gboolean mesh_quic_fingerprint_parse (const gchar * text, guint8 digest[32]);

/* ------------------------------------------------------------------------ */
/* Connection */

typedef enum {
  MESH_QUIC_ROLE_CLIENT,
  MESH_QUIC_ROLE_SERVER,
} MeshQuicRole;

typedef enum {
  MESH_QUIC_CC_DEFAULT,         /* BBR2: measured best, see mesh-quic.c */
  MESH_QUIC_CC_CUBIC,
  MESH_QUIC_CC_BBR,
  MESH_QUIC_CC_BBR2,
  MESH_QUIC_CC_RENO,
} MeshQuicCongestionControl;

/* "cubic", "bbr", "bbr2", "reno"; NULL for an unknown value. */
const gchar *mesh_quic_cc_to_string (MeshQuicCongestionControl cc);
gboolean mesh_quic_cc_from_string (const gchar * name,
    MeshQuicCongestionControl * cc);

/* Zero means the default for every number. */
typedef struct
{
  MeshQuicRole role;
  MeshQuicCredentials *credentials;     /* ours; referenced */
  const gchar *remote_fingerprint;      /* expected "sha-256 AB:…"; required */
  const gchar *alpn;            /* NULL = MESH_QUIC_DEFAULT_ALPN; both sides
                                 * must give the same */
  MeshQuicCongestionControl cc;
  guint64 stream_window;        /* receive window per stream; 6 MiB */
  guint64 connection_window;    /* receive window of the connection; 12 MiB */
  gsize stream_send_buffer;     /* queued + unacknowledged bytes a stream
                                 * accepts on top of the congestion window;
                                 * 2 MiB */
  guint max_streams;            /* concurrent streams the peer may open;
                                 * 64 (at most 1024) */
  guint handshake_timeout_ms;   /* 10000 */
  guint idle_timeout_ms;        /* nothing received for this long = closed;
                                 * 30000 (the smaller of both sides' wins) */
  guint keep_alive_ms;          /* PING after this long without traffic;
                                 * idle_timeout / 3; G_MAXUINT = never */
  gsize max_udp_payload;        /* largest datagram we send; 1452; path MTU
                                 * discovery probes up to it from 1200 */
} MeshQuicConfig;

/* Called from the owner context with each datagram (at most max_udp_payload
 * bytes) to put on the path. Return TRUE when it was sent (or dropped: QUIC
 * recovers), FALSE when the path cannot take it now (e.g. EWOULDBLOCK): the
 * connection keeps it and retries 1 ms later. Must not call back into the
 * connection. */
typedef gboolean (*MeshQuicSendFunc) (const guint8 * data, gsize len,
    gpointer user_data);

#define MESH_QUIC_ERROR (mesh_quic_error_quark ())
GQuark mesh_quic_error_quark (void);

/* Why the connection closed (the GError of "closed"), or why a call failed. */
typedef enum {
  MESH_QUIC_ERROR_CONFIG,       /* unusable configuration or credentials */
  MESH_QUIC_ERROR_FINGERPRINT_MISMATCH, /* the peer's certificate is not the
                                         * one expected (we refused it) */
  MESH_QUIC_ERROR_HANDSHAKE,    /* other local TLS failure: no certificate,
                                 * another ALPN, no common parameters */
  MESH_QUIC_ERROR_REJECTED,     /* the peer refused the handshake (TLS alert),
                                 * e.g. our fingerprint is not the one it
                                 * expects */
  MESH_QUIC_ERROR_HANDSHAKE_TIMEOUT,
  MESH_QUIC_ERROR_IDLE_TIMEOUT,
  MESH_QUIC_ERROR_REMOTE_CLOSED,        /* the peer closed the connection */
  MESH_QUIC_ERROR_PROTOCOL,     /* QUIC transport error, either side */
  MESH_QUIC_ERROR_LOCAL,        /* mesh_quic_connection_close() */
  MESH_QUIC_ERROR_NOT_CONNECTED,        /* stream call before "connected" or
                                         * after "closed" */
  MESH_QUIC_ERROR_STREAM_LIMIT, /* the peer allows no more streams now */
  MESH_QUIC_ERROR_STREAM,       /* unknown stream, or write after finish or
                                 * reset */
} MeshQuicError;

typedef enum {
  MESH_QUIC_STATE_HANDSHAKING,
  MESH_QUIC_STATE_CONNECTED,
  MESH_QUIC_STATE_CLOSED,
} MeshQuicState;

typedef struct
{
  guint64 smoothed_rtt_us;
  guint64 min_rtt_us;
  guint64 latest_rtt_us;
  guint64 cwnd;                 /* bytes */
  guint64 bytes_in_flight;
  guint64 pacing_rate;          /* bytes/s that packets are paced at */
  guint64 delivery_rate;        /* bytes/s ngtcp2 measured (acks) */
  guint64 bytes_sent;           /* UDP payload bytes */
  guint64 bytes_received;
  guint64 stream_bytes_acked;   /* stream bytes the peer acknowledged */
  guint64 stream_bytes_received;
  guint64 send_goodput;         /* bytes/s of stream bytes acknowledged, over
                                 * the last busy measurement window */
  guint64 receive_goodput;      /* bytes/s of stream bytes received, idem */
  guint64 datagrams_dropped;    /* empty ones, and (server) those before
                                 * the client's Initial that were not one */
  guint n_streams;              /* open streams */
  MeshQuicCongestionControl cc; /* the controller in use (never DEFAULT) */
} MeshQuicStats;

#define MESH_TYPE_QUIC_CONNECTION (mesh_quic_connection_get_type ())
G_DECLARE_FINAL_TYPE (MeshQuicConnection, mesh_quic_connection, MESH,
    QUIC_CONNECTION, GObject)

/* The client sends its first flight from @context right after this returns;
 * the server waits for it. @notify frees @user_data when the connection is
 * finalized (or at once when creation fails). Signals:
 *
 * "connected" ()  the handshake is confirmed (both certificates checked)
 * "closed" (GError *reason)  once; no other signal follows
 * "stream-opened" (gint64 stream_id)  the peer opened a stream
 * "stream-data" (gint64 stream_id, GBytes *data, gboolean fin)  in order;
 *     @data may be empty when only @fin is news
 * "stream-reset" (gint64 stream_id, guint64 app_error_code)  the peer
 *     cancelled the stream: no more data arrives, writes fail. After a
 *     RESET_STREAM at once; after a STOP_SENDING alone (the peer had all our
 *     request already) when the stream closes, as ngtcp2 0.12 reports its
 *     code only then; writes fail from its arrival on
 * "stream-closed" (gint64 stream_id)  both directions are over and the id is
 *     gone (after fin both ways and acknowledgements, or after resets): each
 *     side must finish or reset its direction of every stream, the peer's
 *     ones too, or they stay open and count against the limit
 * "stream-writable" (gint64 stream_id)  a write was short and half of the
 *     stream's send buffer is free again
 * "streams-available" ()  open_stream() failed with STREAM_LIMIT and the peer
 *     now allows more
 */
MeshQuicConnection *mesh_quic_connection_new (GMainContext * context,
    const MeshQuicConfig * config, MeshQuicSendFunc send_func,
    gpointer user_data, GDestroyNotify notify, GError ** error);

/* Feeds one datagram from the path. Anything that is not QUIC for this
 * connection is dropped. May emit signals. Note for demultiplexing: ngtcp2
 * 0.12 always lets the peer grease the QUIC fixed bit (RFC 9287), so a
 * short-header packet's first byte can be anything in 0x00-0x7f: do not
 * tell QUIC from STUN or TURN by its first byte (RFC 9443) on a shared
 * path. */
void mesh_quic_connection_receive_datagram (MeshQuicConnection * conn,
    const guint8 * data, gsize len);

MeshQuicState mesh_quic_connection_get_state (MeshQuicConnection * conn);

/* Opens a bidirectional stream; -1 and @error when not connected or at the
 * peer's stream limit (MESH_QUIC_ERROR_STREAM_LIMIT). */
gint64 mesh_quic_connection_open_stream (MeshQuicConnection * conn,
    GError ** error);

/* Copies up to the stream's free send space and returns how much it took
 * (0 when full: wait for "stream-writable"), or -1 and @error. */
gssize mesh_quic_connection_stream_write (MeshQuicConnection * conn,
    gint64 stream_id, const guint8 * data, gsize len, GError ** error);

/* Ends our direction after the bytes already written (FIN). */
gboolean mesh_quic_connection_stream_finish (MeshQuicConnection * conn,
    gint64 stream_id, GError ** error);

/* Free send space of the stream (0 for an unknown one). */
gsize mesh_quic_connection_stream_get_write_space (MeshQuicConnection * conn,
    gint64 stream_id);

/* Cancels a transfer: both directions (RESET_STREAM and STOP_SENDING with
 * @app_error_code); queued bytes are dropped and no "stream-data" follows.
 * "stream-closed" follows once the peer has acknowledged. */
gboolean mesh_quic_connection_stream_reset (MeshQuicConnection * conn,
    gint64 stream_id, guint64 app_error_code);

/* Closes with an application error code and reason (for logs, at most 512
 * bytes are sent). "closed" follows with MESH_QUIC_ERROR_LOCAL. */
void mesh_quic_connection_close (MeshQuicConnection * conn,
    guint64 app_error_code, const gchar * reason);

void mesh_quic_connection_get_stats (MeshQuicConnection * conn,
    MeshQuicStats * stats);

G_END_DECLS
