/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tracker protocol's messages (docs/protocol.md, section 1): constants,
 * message types, encoding and decoding. Shared by the tracker client
 * (ext/mesh/p2p/mesh-tracker-client.c) and the tracker
 * (tools/tracker/mesh-tracker-server.c), so that both ends read and write
 * the same messages with the same bounds.
 *
 * GLib and json-glib only: the tracker runs on servers without GStreamer.
 * Pure: text in, messages out; no I/O, no global state, no clock. Every
 * function is reentrant and may be called from any thread; a
 * MeshTrackerMessage belongs to whoever declared it.
 *
 * What the decoder checks is the protocol's shape: JSON, nesting depth, an
 * object with a "type" string, members of the right JSON type, peer and
 * swarm ids within their bounds. What messages mean (join first, who may
 * signal whom, rate and size limits that the tracker makes configurable) is
 * the caller's business.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "mesh-qos-report.h"

G_BEGIN_DECLS

#define MESH_TRACKER_PROTOCOL_VERSION 1
#define MESH_TRACKER_SUBPROTOCOL "mesh-tracker.v1"

/* Peer ids: 8 to 64 characters of [A-Za-z0-9_-]. */
#define MESH_TRACKER_PEER_ID_MIN 8
#define MESH_TRACKER_PEER_ID_MAX 64
/* Swarm ids: 1 to 256 characters (not bytes) of UTF-8. */
#define MESH_TRACKER_SWARM_ID_MAX 256
/* Deepest nesting of arrays and objects a message may have. json-glib
 * parses recursively: without a bound a message of "[[[[..." exhausts the
 * stack. Protocol messages nest three levels, signalling data a few more. */
#define MESH_TRACKER_MAX_DEPTH 64
/* A report's "reason": 1 to 200 characters (not bytes), for the logs. */
#define MESH_TRACKER_REPORT_REASON_MAX 200
/* An attest's "url": 1 to 4096 bytes. */
#define MESH_TRACKER_ATTEST_URL_MAX 4096
/* An attested's "error": 1 to 200 characters (not bytes). */
#define MESH_TRACKER_ATTEST_ERROR_MAX 200
/* The "error" of an attested from a tracker that offers no attestation. */
#define MESH_TRACKER_ATTEST_NOT_OFFERED "not offered"

/* Which way a message goes: the same "type" may mean different things
 * (a "signal" names "to" on the way in, "from" on the way out). */
typedef enum {
  MESH_TRACKER_TO_TRACKER,      /* what a client sends */
  MESH_TRACKER_TO_CLIENT,       /* what the tracker sends */
} MeshTrackerDirection;

typedef enum {
  /* not a message at all: bad JSON, too deep, no object, no "type" string */
  MESH_TRACKER_MESSAGE_INVALID = 0,
  /* a "type" this version does not define in this direction (see
   * type_name); later versions may add some */
  MESH_TRACKER_MESSAGE_UNKNOWN,
  /* client -> tracker */
  MESH_TRACKER_MESSAGE_JOIN,
  MESH_TRACKER_MESSAGE_GET_PEERS,
  MESH_TRACKER_MESSAGE_HEARTBEAT,
  MESH_TRACKER_MESSAGE_LEAVE,
  MESH_TRACKER_MESSAGE_REPORT,
  MESH_TRACKER_MESSAGE_ATTEST,
  MESH_TRACKER_MESSAGE_QOS,
  /* both ways */
  MESH_TRACKER_MESSAGE_SIGNAL,
  /* tracker -> client */
  MESH_TRACKER_MESSAGE_WELCOME,
  MESH_TRACKER_MESSAGE_PEERS,
  MESH_TRACKER_MESSAGE_PEER_JOINED,
  MESH_TRACKER_MESSAGE_PEER_LEFT,
  MESH_TRACKER_MESSAGE_ERROR,
  MESH_TRACKER_MESSAGE_ATTESTED,
} MeshTrackerMessageType;

/* The codes of "error" messages (docs/protocol.md 1.5). */
typedef enum {
  MESH_TRACKER_ERROR_BAD_MESSAGE,
  MESH_TRACKER_ERROR_UNSUPPORTED_VERSION,
  MESH_TRACKER_ERROR_NOT_JOINED,
  MESH_TRACKER_ERROR_UNKNOWN_PEER,
  MESH_TRACKER_ERROR_MESSAGE_TOO_LARGE,
  MESH_TRACKER_ERROR_RATE_LIMITED,
  MESH_TRACKER_ERROR_SWARM_FULL,
  MESH_TRACKER_ERROR_TOO_MANY_SWARMS,
  MESH_TRACKER_ERROR_TOO_MANY_CONNECTIONS,
  MESH_TRACKER_ERROR_UNAUTHORIZED,
  /* sent by trackers before this one, which replaced a peer whose id
   * joined again; a join with an id in use now gets PEER_ID_TAKEN */
  MESH_TRACKER_ERROR_REPLACED,
  MESH_TRACKER_ERROR_TIMEOUT,
  MESH_TRACKER_ERROR_PEER_ID_TAKEN,
  MESH_TRACKER_ERROR_BANNED,
  MESH_TRACKER_ERROR_JOIN_LIMITED,
  MESH_TRACKER_ERROR_TOO_MANY_REPORTS,
  MESH_TRACKER_N_ERRORS
} MeshTrackerErrorCode;

/* Why a message could not be decoded. */
#define MESH_TRACKER_PROTO_ERROR (mesh_tracker_proto_error_quark ())
GQuark mesh_tracker_proto_error_quark (void);

typedef enum {
  /* bad JSON, too deep, not an object, no "type", a member missing or of
   * the wrong JSON type, an id out of bounds */
  MESH_TRACKER_PROTO_ERROR_MALFORMED,
  /* a join of another protocol version (checked before its other members) */
  MESH_TRACKER_PROTO_ERROR_UNSUPPORTED_VERSION,
} MeshTrackerProtoError;

/* One entry of a "welcome" or "peers" list. */
typedef struct {
  gchar *peer;
  gboolean upload;
  /* the tracker counts the peer in the receiver's own network (same hint
   * or same prefix, docs/protocol.md 1.5); FALSE when absent */
  gboolean near;
} MeshTrackerPeerEntry;

/* A decoded message. Only the members of its type are set; the others are
 * 0 or NULL. Strings and nodes belong to the message. */
typedef struct {
  MeshTrackerMessageType type;
  gchar *type_name;             /* "type" as received (any valid message) */
  gint64 version;               /* join: checked to be 1; welcome: -1 when
                                 * missing or not an integer */
  gchar *swarm;                 /* join; welcome (NULL if not a string) */
  /* join: our id; signal: "to" (to the tracker: any string) or "from"
   * (from the tracker: a valid id); peer-joined, peer-left, report: a
   * valid id; welcome: our id as the tracker saw it (NULL if not a
   * string) */
  gchar *peer;
  gchar *reason;                /* report */
  gchar *token;                 /* join: NULL when absent or null */
  gboolean upload;              /* join: caps.upload; peer-joined */
  gboolean near;                /* peer-joined: in the receiver's network
                                 * (FALSE when absent) */
  JsonNode *data;               /* signal: any JSON value */
  gint64 heartbeat;             /* welcome: seconds, 0 when missing or not
                                 * an integer (range is the caller's) */
  /* welcome, peers: MeshTrackerPeerEntry*, in the order received. Entries
   * of the wrong shape or with an invalid id are left out. NULL for a
   * welcome without a "peers" array */
  GPtrArray *peers;
  gchar *code;                  /* error: NULL when missing or not a string */
  gchar *message;               /* error: NULL when missing or not a string */
  gboolean fatal;               /* error: FALSE unless a true boolean */
  gint64 id;                    /* attest, attested: the client's request id
                                 * (0 to 2^53) */
  gchar *url;                   /* attest: 1 to MESH_TRACKER_ATTEST_URL_MAX
                                 * bytes, not checked further */
  gint64 offset;                /* attest: >= 0 (0 when missing) */
  gint64 length;                /* attest: > 0, or -1 (when missing) for
                                 * the rest of the resource */
  /* attested: either digest and size (an answer) or attest_error */
  guint8 digest[32];            /* SHA-256, from "sha256" (64 hex digits) */
  gint64 size;                  /* bytes digested, >= 0 */
  gchar *attest_error;          /* NULL for an answer */
  /* join, qos: the player's network hint (mesh_tracker_is_valid_network());
   * NULL when absent or null */
  gchar *network;
  MeshQosReport qos;            /* qos */
} MeshTrackerMessage;

/* Decodes @size bytes of @text (one WebSocket text message) into @msg,
 * which it initialises. On failure @msg->type tells how far decoding got:
 * MESH_TRACKER_MESSAGE_INVALID when the envelope was wrong, else the type
 * whose members were. Clear @msg with mesh_tracker_message_clear() in
 * either case. Messages from the tracker are read leniently (a peer list
 * with some bad entries, an error without a code still decode); messages to
 * the tracker strictly, with the errors the tracker reports as
 * "bad-message" (error->message says what is wrong). */
gboolean mesh_tracker_message_decode (MeshTrackerMessage * msg,
    MeshTrackerDirection direction, const gchar * text, gsize size,
    GError ** error);

void mesh_tracker_message_clear (MeshTrackerMessage * msg);

/* Parses @text as one JSON object nested at most MESH_TRACKER_MAX_DEPTH
 * deep (the decoder's own first step, for readers of other JSON protocols
 * such as bench/tracker-load's WebTorrent mode): the root node (unref it),
 * or NULL and @error. */
JsonNode *mesh_tracker_parse_object (const gchar * text, gsize size,
    GError ** error);

/* The protocol's name of @type ("join", "peer-left", ...); NULL for INVALID
 * and UNKNOWN. */
const gchar *mesh_tracker_message_type_name (MeshTrackerMessageType type);

/* "bad-message", "unauthorized", ... */
const gchar *mesh_tracker_error_code_name (MeshTrackerErrorCode code);

/* The code named @name, or -1 for a code this version does not know. */
gint mesh_tracker_error_code_from_name (const gchar * name);

/* @size bytes of JSON, nested at most MESH_TRACKER_MAX_DEPTH deep, one
 * object: its root node (transfer full), or NULL and @error. For what
 * comes from outside (json-glib parses recursively). */
JsonNode *mesh_tracker_parse_object (const gchar * text, gsize size,
    GError ** error);

gboolean mesh_tracker_is_valid_peer_id (const gchar * id);
gboolean mesh_tracker_is_valid_swarm_id (const gchar * id);
/* 1 to MESH_QOS_NETWORK_MAX characters of [A-Za-z0-9._:-] */
gboolean mesh_tracker_is_valid_network (const gchar * network);

/* Encoders: one compact JSON text each (transfer full). */

/* client -> tracker. @token may be NULL. */
gchar *mesh_tracker_encode_join (const gchar * swarm, const gchar * peer,
    const gchar * token, gboolean upload);
/* The same, with the player's network hint (NULL: none), which groups
 * players behind one NAT (docs/protocol.md 1.4). */
gchar *mesh_tracker_encode_join_full (const gchar * swarm, const gchar * peer,
    const gchar * token, gboolean upload, const gchar * network);
gchar *mesh_tracker_encode_signal (const gchar * to, JsonNode * data);
/* get-peers, heartbeat or leave: a message with nothing but its type */
gchar *mesh_tracker_encode_bare (MeshTrackerMessageType type);
/* @peer, of our swarm, sent us data that failed verification; @reason is
 * cut to MESH_TRACKER_REPORT_REASON_MAX characters (an empty one becomes
 * "unspecified"). */
gchar *mesh_tracker_encode_report (const gchar * peer, const gchar * reason);
/* The digest of @url's bytes @offset to @offset + @length - 1 (@length -1:
 * to its end), answered by "attested" with the same @id (0 to 2^53). */
gchar *mesh_tracker_encode_attest (gint64 id, const gchar * url,
    gint64 offset, gint64 length);

/* @report's members, with version MESH_QOS_REPORT_VERSION; values are
 * clamped to 0 .. MESH_QOS_REPORT_MAX_VALUE (startup_ms to -1 ..), and
 * @network (NULL: none) must be valid. */
gchar *mesh_tracker_encode_qos (const MeshQosReport * report,
    const gchar * network);

/* tracker -> client */
gchar *mesh_tracker_encode_welcome (const gchar * peer, const gchar * swarm,
    guint heartbeat, const MeshTrackerPeerEntry * peers, guint n_peers);
gchar *mesh_tracker_encode_peers (const MeshTrackerPeerEntry * peers,
    guint n_peers);
/* @near: the newcomer is in the receiver's network ("near" is sent only
 * when TRUE) */
gchar *mesh_tracker_encode_peer_joined (const gchar * peer, gboolean upload,
    gboolean near);
gchar *mesh_tracker_encode_peer_left (const gchar * peer);
/* @data_json: the "data" a client sent, serialised once by the tracker,
 * which measured it against its limit; it must be valid JSON. */
gchar *mesh_tracker_encode_relayed_signal (const gchar * from,
    const gchar * data_json);
gchar *mesh_tracker_encode_error (MeshTrackerErrorCode code,
    const gchar * message, gboolean fatal);
/* The answer to attest @id: the SHA-256 @digest of @size bytes, or @why the
 * tracker has none (cut to MESH_TRACKER_ATTEST_ERROR_MAX characters). */
gchar *mesh_tracker_encode_attested (gint64 id, const guint8 digest[32],
    guint64 size);
gchar *mesh_tracker_encode_attested_error (gint64 id, const gchar * why);

G_END_DECLS
