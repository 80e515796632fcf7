/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The mesh tracker: puts the viewers of one stream (a "swarm") in touch.
 * Peers connect over WebSocket, join a swarm, learn about a few other
 * members, and relay opaque signalling messages to each other through it.
 * The protocol is specified in docs/protocol.md, section 1; running it is
 * described in docs/tracker.md.
 *
 *   GET /announce   WebSocket, subprotocol "mesh-tracker.v1" (or none)
 *   GET /health     {"status":"ok","swarms":n,"peers":n}
 *   GET /metrics    Prometheus text format
 *   GET /api/...    player figures, and GET / the dashboard
 *                   (mesh-tracker-api.h)
 *
 * Threads: the server runs on a thread of its own with its own GMainContext
 * (started by mesh_tracker_server_start()). Swarms and peers live on that
 * thread only; the counters read by the getters below are copied out under
 * the server's `stats_lock` (see the .c file), so the getters are
 * thread-safe.
 */
#pragma once

#include <gio/gio.h>

/* the messages, MESH_TRACKER_PROTOCOL_VERSION and MESH_TRACKER_SUBPROTOCOL */
#include "p2p/mesh-tracker-proto.h"
#include "mesh-tracker-hub.h"

G_BEGIN_DECLS

/* Defaults, used for the config fields left at 0 */
#define MESH_TRACKER_DEFAULT_PORT 8765   /* of the command line tool only */
#define MESH_TRACKER_DEFAULT_MAX_PEERS 10
#define MESH_TRACKER_DEFAULT_HEARTBEAT 15
#define MESH_TRACKER_DEFAULT_MAX_MESSAGE_SIZE (64 * 1024)
#define MESH_TRACKER_DEFAULT_MAX_SIGNAL_SIZE (16 * 1024)
#define MESH_TRACKER_DEFAULT_RATE 50
#define MESH_TRACKER_DEFAULT_BURST 100
#define MESH_TRACKER_DEFAULT_MAX_SWARM_PEERS 10000
#define MESH_TRACKER_DEFAULT_MAX_SWARMS 100000
#define MESH_TRACKER_DEFAULT_MAX_CONNECTIONS 100000
#define MESH_TRACKER_DEFAULT_MAX_BAD_MESSAGES 10
#define MESH_TRACKER_DEFAULT_MAX_BACKLOG (256 * 1024)
#define MESH_TRACKER_DEFAULT_HEADER_TIMEOUT 10
#define MESH_TRACKER_DEFAULT_MAX_CONNECTIONS_PER_IP 256
#define MESH_TRACKER_DEFAULT_MAX_JOINS_PER_IP 240    /* per minute */
#define MESH_TRACKER_DEFAULT_MAX_PEERS_PER_TOKEN 8
#define MESH_TRACKER_DEFAULT_MAX_JOINS_PER_TOKEN 30  /* per minute */
#define MESH_TRACKER_DEFAULT_REPORT_THRESHOLD 2
#define MESH_TRACKER_DEFAULT_MAX_REPORTS 10          /* per minute */
#define MESH_TRACKER_DEFAULT_BAN_TIME (24 * 3600)
/* For the per-address and per-token bounds: no bound at all. */
#define MESH_TRACKER_UNLIMITED G_MAXUINT
/* Redis or threads mode: messages held for a newcomer while its welcome
 * waits for the other instances' members; past these the rest are dropped
 * (a peer-joined it will find again, a signal its sender retries). */
#define MESH_TRACKER_MAX_BEFORE_WELCOME 32
/* Token secrets read from files are at least this long. */
#define MESH_TRACKER_MIN_SECRET_SIZE 32

typedef struct _MeshTrackerServer MeshTrackerServer;

typedef struct {
  const gchar *host;            /* address to bind, "127.0.0.1" when NULL */
  guint port;                   /* 0 = the OS picks */
  gboolean reuse_port;          /* SO_REUSEPORT: other instances may listen
                                 * on host:port too */
  guint max_peers;              /* peers in welcome/peers lists, and members
                                 * told of a join */
  guint heartbeat;              /* seconds; silence for 2.5 x this = gone */
  guint max_message_size;       /* bytes of one incoming message */
  guint max_signal_size;        /* bytes of a signal's "data", serialised */
  guint rate;                   /* messages per second per connection */
  guint burst;                  /* token bucket depth */
  guint max_swarm_peers;        /* members of one swarm */
  guint max_swarms;
  guint max_connections;        /* TCP connections: WebSocket ones, joined
                                 * or not, and HTTP ones not (yet) upgraded */
  guint max_bad_messages;       /* tolerated before "bad-message" is fatal */
  guint max_backlog;            /* bytes queued for a client that does not
                                 * read, before it is disconnected */
  guint header_timeout;         /* seconds an HTTP connection may take to
                                 * become a WebSocket */
  /* Per client address (an IPv6 one by its /64), or MESH_TRACKER_UNLIMITED */
  guint max_connections_per_ip; /* TCP connections, as max_connections */
  guint max_joins_per_ip;       /* join messages per minute */
  /* Per access token (with token_secret), or MESH_TRACKER_UNLIMITED */
  guint max_peers_per_token;    /* joined peers at once */
  guint max_joins_per_token;    /* join messages per minute */
  guint report_threshold;       /* distinct members whose reports remove a
                                 * peer */
  guint max_reports;            /* reports per minute per member */
  guint ban_time;               /* seconds a removed peer id stays refused */
  /* Addresses of reverse proxies whose X-Forwarded-For (last entry) names
   * the client; NULL-terminated, NULL = none */
  const gchar *const *trusted_proxies;
  const gchar *token_secret;    /* NULL = no access tokens needed */
  gsize token_secret_size;      /* bytes; 0 = strlen (token_secret) */
  /* Attested digests (mesh-tracker-attest.h): URL prefixes the tracker
   * fetches segments under, NULL-terminated; NULL = not offered */
  const gchar *const *attest_origins;
  guint attest_max_outstanding; /* requests per client not yet answered */
  guint attest_rate;            /* requests per second per client */
  guint attest_timeout;         /* seconds an origin fetch may take */
  guint attest_max_fetches;     /* origin fetches at once */
  /* Player figures (mesh-tracker-qos.h, mesh-tracker-api.h) */
  const gchar *admin_token;     /* needed by /api and /; NULL = open */
  guint qos_interval;           /* seconds between history points */
  /* Locality (docs/tracker.md "Locality"): peer lists prefer members of the
   * asker's network */
  gboolean no_locality;         /* TRUE: random lists (a baseline) */
  guint prefix_v4;              /* bits of a network's prefix; 0 = 24 */
  guint prefix_v6;              /* 0 = 48 */
  guint cross_network_share;    /* percent of a list kept for other
                                 * networks, 1 - 100; 0 = 20 */
  const gchar *asn_db;          /* prefix,asn,name[,region] CSV; NULL: none */
  const gchar *region_db;       /* prefix,region CSV; NULL: none */
  /* Redis mode (docs/tracker.md "Redis mode"): "redis://HOST[:PORT][/DB]"
   * shared with other instances; NULL: this instance alone */
  const gchar *redis;
  /* Threads mode (docs/scaling.md "Several cores"): the hub this instance
   * shares its swarms with, the other instances of the process (a ref is
   * taken); NULL: none. Not with @redis. */
  MeshTrackerHub *hub;
  guint instances;              /* of this process, sharing its open-files
                                 * limit evenly; 0 = 1 */
} MeshTrackerConfig;

/* Counters since the start, as /metrics reports them. */
typedef struct {
  guint connections;            /* open WebSocket connections */
  guint pending;                /* HTTP connections not (yet) upgraded */
  guint peers;                  /* joined peers */
  guint swarms;
  guint banned;                 /* peer ids refused now */
  guint64 joins;
  guint64 signals;              /* relayed */
  guint64 messages;             /* received from clients */
  guint64 peer_joined_sent;     /* "peer-joined" notifications sent */
  guint64 peer_left_sent;       /* "peer-left" notifications sent */
  guint64 errors;               /* "error" messages sent, all codes */
  guint64 disconnects;
  guint64 reports;              /* reports taken (not refused) */
  guint64 header_timeouts;      /* HTTP connections closed by the timeout */
  guint64 refused;              /* TCP connections refused at once (too
                                 * many, in all or from the address) */
  guint64 attest_requests;      /* attest messages taken */
  guint64 attest_fetches;       /* origin fetches they made */
} MeshTrackerStats;

/* Binds and starts serving on the server's own thread. NULL on failure. */
MeshTrackerServer *mesh_tracker_server_start (const MeshTrackerConfig * config,
    GError ** error);

/* Closes every connection (WebSocket close 1001, going away), stops the
 * thread and frees everything. */
void mesh_tracker_server_stop (MeshTrackerServer * server);

guint mesh_tracker_server_get_port (MeshTrackerServer * server);

/* "ws://127.0.0.1:PORT/announce"; transfer none. */
const gchar *mesh_tracker_server_get_url (MeshTrackerServer * server);

/* "http://127.0.0.1:PORT" (no trailing slash), for /health and /metrics;
 * transfer none. */
const gchar *mesh_tracker_server_get_http_url (MeshTrackerServer * server);

/* Thread-safe. */
guint mesh_tracker_server_get_peers (MeshTrackerServer * server);
guint mesh_tracker_server_get_swarms (MeshTrackerServer * server);
void mesh_tracker_server_get_stats (MeshTrackerServer * server,
    MeshTrackerStats * stats);

/* Replaces the token secret (@secret_size bytes, at least one) with which
 * joins are checked, as a reload does. Thread-safe; the joins the server
 * reads after it returns use the new secret, and tokens of the old one are
 * refused from then on; peers that joined with them stay joined. The
 * per-token bounds keep counting the tokens they counted. */
void mesh_tracker_server_set_token_secret (MeshTrackerServer * server,
    const guint8 * secret, gsize secret_size);

/* Loads the prefix tables (NULL: none) and, if both load, puts them in
 * place of the ones in use, for the joins from now on (a peer keeps the
 * network it joined with); the old ones stay in use otherwise. Thread-safe;
 * the parsing runs on the calling thread. */
gboolean mesh_tracker_server_load_networks (MeshTrackerServer * server,
    const gchar * asn_db, const gchar * region_db, GError ** error);

/* An access token for @swarm valid until @expiry (unix seconds):
 * "<expiry>.<hex HMAC-SHA256(secret, swarm + '|' + expiry)>". The secret
 * is @secret_size bytes (any bytes, NUL included). */
gchar *mesh_tracker_make_token_full (const guint8 * secret,
    gsize secret_size, const gchar * swarm, gint64 expiry);

/* TRUE if @token grants @swarm at unix time @now. */
gboolean mesh_tracker_check_token_full (const guint8 * secret,
    gsize secret_size, const gchar * swarm, const gchar * token, gint64 now);

/* The same, for a secret that is a string. */
gchar *mesh_tracker_make_token (const gchar * secret, const gchar * swarm,
    gint64 expiry);
gboolean mesh_tracker_check_token (const gchar * secret, const gchar * swarm,
    const gchar * token, gint64 now);

/* The token secret in @filename: its bytes, all of them (NUL included),
 * without trailing whitespace (so that `echo secret > file` and `printf
 * secret > file` give the same tokens). NULL and @error when it cannot be
 * read or is shorter than MESH_TRACKER_MIN_SECRET_SIZE bytes. */
GBytes *mesh_tracker_read_secret (const gchar * filename, GError ** error);

G_END_DECLS
