/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The mesh tracker (see mesh-tracker-server.h, and docs/protocol.md for the
 * protocol). Messages are read and written with the codec the client
 * shares (ext/mesh/p2p/mesh-tracker-proto.h); what they mean is here.
 *
 * Threads and ownership:
 *  - mesh_tracker_server_start() spawns the server thread, which creates its
 *    own GMainContext (server->context, pushed as its thread-default), the
 *    SoupServer and every GSource below. Swarms, peers, every connection
 *    (HTTP or WebSocket), the per-address and per-token bookkeeping, the
 *    bans and the "who was told about whom" bookkeeping are touched by that
 *    thread only, so they need no lock.
 *  - The counters (server->stats and the per-code/per-reason tables) are
 *    written by the server thread and read by any thread through the getters:
 *    they live under server->stats_lock, which is never held across a call
 *    into libsoup or json-glib.
 *  - The configuration, port and URLs are written before
 *    mesh_tracker_server_start() returns and are read-only afterwards.
 *  - The locality tables (server->asn_table, region_table) are swapped by
 *    mesh_tracker_server_load_networks() from any thread under
 *    server->networks_lock; a join takes a reference under it and looks
 *    up without it (a table is immutable). Each swarm's MeshLocalityIndex
 *    is the server thread's.
 *  - Redis mode (--redis): server->directory (mesh-tracker-directory.h) is
 *    made and freed on the server thread and runs on its context; it calls
 *    back there, so what it reports needs no lock either. It never blocks.
 *
 * Life of a connection: libsoup accepts it and announces its first request
 * ("request-started"), where it is counted against --max-connections and
 * its address's --max-connections-per-ip (refused at once past them), and
 * given --header-timeout seconds to become a WebSocket (a Pending). The
 * upgrade (handle_announce(), on_upgraded()) takes the descriptor from
 * libsoup into a MeshTrackerConn (mesh-tracker-conn.h: our WebSocket, which
 * bounds what is queued for the client and what it sends without
 * completing a message) and makes a Peer of it, owned by
 * server->connections. Closing it ourselves (leave, fatal error, timeout,
 * shutdown) goes through peer_close(), which takes the peer out of its
 * swarm at once and starts the WebSocket close handshake. The
 * connection's "closed" callback (which may come in the middle of a send
 * to that peer, from any shard) only schedules peer_reap() on an idle
 * source, so a Peer never disappears under a function that is busy with
 * it; a client over a bound is closed by its connection, which then says
 * "closed" too.
 *
 * Addresses and tokens: an Address (per client IP, an IPv6 one by its /64)
 * counts its connections and holds the bucket of its joins; a Grant (per
 * access token) counts its joined peers and holds the bucket of its joins.
 * Both are made on demand and forgotten by a sweep once unused and full
 * again, so they are bounded by what was used within a minute.
 */

#define G_LOG_DOMAIN "mesh-tracker"

#include "mesh-tracker-server.h"
#include "mesh-tracker-conn.h"
#include "mesh-tracker-log.h"
#include "mesh-tracker-attest.h"
#include "mesh-tracker-qos.h"
#include "mesh-tracker-api.h"
#include "mesh-tracker-locality.h"
#include "mesh-tracker-wheel.h"
#include "mesh-tracker-loop.h"
#include "mesh-tracker-directory.h"
#include "mesh-tracker-redis.h"

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <string.h>

#define ANNOUNCE_PATH "/announce"
/* a peer is gone after this many heartbeat intervals of silence */
#define HEARTBEAT_GRACE 2.5
/* how long shutdown waits for the close handshakes */
#define SHUTDOWN_TIMEOUT_MS 2000
/* how often unused addresses, grants and bans are forgotten */
#define SWEEP_INTERVAL_S 60
/* peer ids refused at once, at most (the oldest ban goes first) */
#define MAX_BANS 100000
/* what a client may send, beyond one message of twice the size limit (the
 * most a connection takes in one message), without completing a message:
 * frame headers and a few pings */
#define UNFRAMED_SLACK 4096
/* connections the kernel holds for us to accept (GLib's default is 10: a
 * crowd reconnecting at once would see its SYNs dropped, and retry after
 * 1, 3, 7 s...); the kernel caps it at net.core.somaxconn */
#define LISTEN_BACKLOG 4096
/* how long a client has to answer our close frame (see on_peer_deadline()) */
#define CLOSE_GRACE_US (3 * G_USEC_PER_SEC)
/* the resolution of the connections' deadlines, and the wheel's horizon
 * (deadlines further out, such as a long --timeout, wait for their lap) */
#define WHEEL_TICK_US (G_USEC_PER_SEC / 4)
#define WHEEL_SLOTS 512
/* WebSocket clients a shard of the main loop takes: a message wakes and
 * walks its shard only (mesh-tracker-loop.h) */
#define SHARD_SIZE 32
/* descriptors kept for anything but clients and shards: the listener, the
 * event log, Redis, attestation fetches, the libraries' own */
#define RESERVED_DESCRIPTORS 256
/* Redis mode: the members of other instances a peer is remembered to know
 * (was told about, or signalled with), so that their leave reaches it; past
 * this it learns of further leaves from its links. 128 ids of 64 bytes and
 * their table slots: some 16 KiB a peer at worst. */
#define MAX_REMOTE_KNOWS 128
/* Runs the statement with the root the thread-default context, and has the loop
 * look at the root again: what Redis mode's directory starts (commands to
 * write, timers) lives there, whatever shard's client asked. */
#define IN_ROOT(server, ...) G_STMT_START {                      \
    mesh_shard_loop_push ((server)->loop, (server)->context);    \
    __VA_ARGS__;                                                \
    mesh_shard_loop_pop ((server)->loop, (server)->context);     \
  } G_STMT_END
/* RFC 6455 close codes */
#define CLOSE_POLICY_VIOLATION SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION
#define CLOSE_GOING_AWAY SOUP_WEBSOCKET_CLOSE_GOING_AWAY
#define CLOSE_NORMAL SOUP_WEBSOCKET_CLOSE_NORMAL

typedef enum
{
  DISCONNECT_CLOSED,            /* the client closed (or the network did) */
  DISCONNECT_LEAVE,
  DISCONNECT_TIMEOUT,
  DISCONNECT_BANNED,
  DISCONNECT_ERROR,             /* any other fatal error */
  DISCONNECT_SHUTDOWN,
  DISCONNECT_TOO_SLOW,          /* did not read what we sent */
  DISCONNECT_FLOODING,          /* sent too much without a message */
  N_DISCONNECT_REASONS
} DisconnectReason;

static const gchar *const disconnect_reason_names[N_DISCONNECT_REASONS] = {
  "closed", "leave", "timeout", "banned", "error", "shutdown", "too-slow",
  "flooding",
};

/* Why an HTTP connection was closed before it became a WebSocket. */
typedef enum
{
  HTTP_CLOSE_TOO_MANY_CONNECTIONS,
  HTTP_CLOSE_TOO_MANY_FROM_IP,
  HTTP_CLOSE_HEADER_TIMEOUT,
  N_HTTP_CLOSE_REASONS
} HttpCloseReason;

static const gchar *const http_close_reason_names[N_HTTP_CLOSE_REASONS] = {
  "too-many-connections", "too-many-from-ip", "header-timeout",
};

typedef struct _Swarm Swarm;
typedef struct _Peer Peer;

/* Token bucket: refills at some rate up to some depth. */
typedef struct
{
  gdouble tokens;
  gint64 refilled;              /* monotonic µs */
} Bucket;

/* One client address: its connections and the bucket of its joins. */
typedef struct
{
  gchar *key;                   /* "192.0.2.1", "2001:db8:1:2::/64" */
  guint connections;            /* pending and WebSocket */
  Bucket joins;
} Address;

/* One access token: its joined peers and the bucket of its joins. */
typedef struct
{
  gchar *token;
  guint peers;
  Bucket joins;
} Grant;

/* A peer id removed after reports, refused until @expiry. */
typedef struct
{
  gchar *id;
  gint64 expiry;                /* monotonic µs */
} Ban;

/* An HTTP connection that has not become a WebSocket (yet). */
typedef struct
{
  MeshTrackerServer *server;
  GSocket *socket;              /* weak: libsoup owns it */
  Address *address;             /* NULL for a trusted proxy's connection */
  GSource *timeout_source;
} Pending;

struct _Swarm
{
  gchar *id;
  GPtrArray *members;           /* Peer, unordered; Peer.index is the slot */
  GHashTable *by_id;            /* peer id -> Peer */
  MeshLocalityIndex *locality;  /* the members by network; NULL when off */
  /* Redis mode: id of a member of another instance -> set of the Peers
   * that know it (each in its remote_knows); NULL until needed */
  GHashTable *remote_listeners;
};

/* One WebSocket connection, joined to a swarm or not (yet). */
struct _Peer
{
  MeshTrackerServer *server;
  MeshTrackerConn *conn;
  GMainContext *shard;          /* where conn has its source */
  Address *address;
  gchar *id;                    /* NULL until joined */
  Swarm *swarm;                 /* NULL until joined and after leaving */
  guint index;                  /* in swarm->members */
  gboolean upload;
  Grant *grant;                 /* the token it joined with, if counted */
  GInetAddress *inet;           /* as the tracker sees it, NULL: unknown */
  MeshLocalityEntry *locality;  /* in swarm->locality while joined */

  /* who was told about whom, so that a departure reaches exactly those */
  GHashTable *knows;            /* Peer this one was told about */
  GHashTable *known_by;         /* Peer told about this one */
  /* Redis mode: ids of the members of other instances it knows (at most
   * MAX_REMOTE_KNOWS); NULL until needed */
  GHashTable *remote_knows;
  guint64 serial;               /* tells a connection from a later one with
                                 * the same id, across a directory round
                                 * trip */
  /* Redis or threads mode: what others sent it between its join and its
   * welcome, which waits for the directory's list: the welcome answers the
   * join and goes first (at most MESH_TRACKER_MAX_BEFORE_WELCOME). NULL:
   * not waiting. */
  GPtrArray *before_welcome;

  GHashTable *reporters;        /* ids of the members that reported it,
                                 * NULL until one did (most never are) */
  Bucket reports;               /* the reports it may send */

  gint64 last_seen;             /* monotonic µs */
  Bucket messages;              /* rate limit */
  guint bad_messages;
  gboolean closing;             /* we are done with it, waiting for "closed" */
  MeshWheelTimer deadline;      /* in server->wheel */
  GSource *reap_source;
};

struct _MeshTrackerServer
{
  /* configuration, read-only once started */
  gchar *host;
  guint port;
  gboolean reuse_port;
  guint max_peers;
  guint heartbeat;
  gint64 timeout_us;
  guint max_message_size;
  guint max_signal_size;
  guint rate;
  guint burst;
  guint max_swarm_peers;
  guint max_swarms;
  guint max_connections;
  guint max_bad_messages;
  guint max_backlog;
  guint header_timeout;
  guint max_connections_per_ip;
  guint max_joins_per_ip;
  guint max_peers_per_token;
  guint max_joins_per_token;
  guint report_threshold;
  guint max_reports;
  guint ban_time;
  GPtrArray *trusted_proxies;   /* GInetAddress */
  GBytes *token_secret;         /* guarded by secret_lock: replaced by
                                 * mesh_tracker_server_set_token_secret() */
  GMutex secret_lock;
  MeshTrackerAttest *attest;    /* NULL: attestation not offered */
  gchar *admin_token;           /* NULL: /api and / open to all */
  gboolean locality;
  guint prefix_v4;
  guint prefix_v6;
  guint cross_network_share;
  gchar *url;
  gchar *http_url;

  GThread *thread;
  GMainContext *context;        /* the root of loop */
  MeshShardLoop *loop;          /* made and run by the server thread */
  GMutex lock;                  /* start-up handshake, with cond */
  GCond cond;
  gboolean thread_ready;
  GError *start_error;

  /* server thread only */
  SoupServer *soup;
  GHashTable *swarms;           /* id -> Swarm */
  GHashTable *connections;      /* Peer (owned) */
  GHashTable *pending;          /* GSocket -> Pending (owned) */
  GHashTable *addresses;        /* key -> Address (owned) */
  GHashTable *grants;           /* token -> Grant (owned) */
  GHashTable *bans;             /* id -> Ban (in ban_order) */
  GQueue ban_order;             /* Ban (owned), oldest first */
  GSource *sweep_source;
  /* every connection's deadline, on one clock tick (not a GSource each:
   * the main loop walks all its sources on every iteration) */
  MeshWheel *wheel;
  GSource *wheel_source;
  gboolean stopping;
  /* player figures (mesh-tracker-qos.h), read by the handlers of /api and
   * /metrics, which run on this thread too */
  MeshTrackerQos *qos;
  MeshTrackerApi *api;
  GSource *qos_source;          /* mesh_tracker_qos_tick() every second */

  /* guarded by stats_lock */
  GMutex stats_lock;
  MeshTrackerStats stats;
  guint64 errors_by_code[MESH_TRACKER_N_ERRORS];
  guint64 disconnects_by_reason[N_DISCONNECT_REASONS];
  guint64 http_closes_by_reason[N_HTTP_CLOSE_REASONS];

  /* the prefix tables, swapped by mesh_tracker_server_load_networks() from
   * any thread: guarded by networks_lock, held only to take a reference */
  GMutex networks_lock;
  MeshLocalityTable *asn_table;
  MeshLocalityTable *region_table;

  /* Redis mode: shares the swarms with other instances; server thread
   * only, NULL without --redis */
  gchar *redis_url;
  MeshTrackerHub *hub;
  MeshTrackerDirectory *directory;
  guint64 next_serial;
};

static void peer_close (Peer * peer, DisconnectReason reason, gushort code,
    const gchar * why);

/* For the event log: NULL for a trusted proxy's connection. */
static const gchar *
peer_address (Peer * peer)
{
  return peer->address ? peer->address->key : NULL;
}

/* ------------------------------------------------------------------------ */
/* Counters (written here, read from any thread under stats_lock)           */

#define STATS_LOCKED(server, ...) G_STMT_START {        \
    g_mutex_lock (&(server)->stats_lock);               \
    __VA_ARGS__;                                        \
    g_mutex_unlock (&(server)->stats_lock);             \
  } G_STMT_END

static void
stats_update_sizes (MeshTrackerServer * server)
{
  guint connections = g_hash_table_size (server->connections);
  guint pending = g_hash_table_size (server->pending);
  guint swarms = g_hash_table_size (server->swarms);
  guint banned = g_hash_table_size (server->bans);

  STATS_LOCKED (server, {
        server->stats.connections = connections;
        server->stats.pending = pending; server->stats.swarms = swarms;
        server->stats.banned = banned;
      });
}

guint
mesh_tracker_server_get_peers (MeshTrackerServer * server)
{
  guint peers;

  g_return_val_if_fail (server != NULL, 0);
  STATS_LOCKED (server, peers = server->stats.peers);
  return peers;
}

guint
mesh_tracker_server_get_swarms (MeshTrackerServer * server)
{
  guint swarms;

  g_return_val_if_fail (server != NULL, 0);
  STATS_LOCKED (server, swarms = server->stats.swarms);
  return swarms;
}

/* The attestation's counters, kept (and locked) by it. */
static void
attest_stats (MeshTrackerServer * server, MeshTrackerStats * stats)
{
  MeshTrackerAttestStats attest = { 0, };

  if (server->attest)
    mesh_tracker_attest_get_stats (server->attest, &attest);
  stats->attest_requests = attest.requests;
  stats->attest_fetches = attest.fetches;
}

void
mesh_tracker_server_get_stats (MeshTrackerServer * server,
    MeshTrackerStats * stats)
{
  g_return_if_fail (server != NULL);
  g_return_if_fail (stats != NULL);
  STATS_LOCKED (server, *stats = server->stats);
  attest_stats (server, stats);
}

guint
mesh_tracker_server_get_port (MeshTrackerServer * server)
{
  g_return_val_if_fail (server != NULL, 0);
  return server->port;
}

const gchar *
mesh_tracker_server_get_url (MeshTrackerServer * server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->url;
}

const gchar *
mesh_tracker_server_get_http_url (MeshTrackerServer * server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->http_url;
}

/* ------------------------------------------------------------------------ */
/* Buckets                                                                  */

static void
bucket_fill (Bucket * bucket, gdouble depth, gint64 now)
{
  bucket->tokens = depth;
  bucket->refilled = now;
}

/* Refills at @per_second up to @depth, and takes one token if there is. */
static gboolean
bucket_take (Bucket * bucket, gdouble per_second, gdouble depth, gint64 now)
{
  bucket->tokens += (now - bucket->refilled) * per_second / G_USEC_PER_SEC;
  bucket->tokens = MIN (bucket->tokens, depth);
  bucket->refilled = now;
  if (bucket->tokens < 1.0)
    return FALSE;
  bucket->tokens -= 1.0;
  return TRUE;
}

static gboolean
bucket_is_full (const Bucket * bucket, gdouble per_second, gdouble depth,
    gint64 now)
{
  return bucket->tokens + (now - bucket->refilled) * per_second /
      G_USEC_PER_SEC >= depth;
}

/* A bound of @per_minute (per minute, bursts as large), or TRUE when
 * unlimited. */
static gboolean
bucket_take_per_minute (Bucket * bucket, guint per_minute, gint64 now)
{
  if (per_minute == MESH_TRACKER_UNLIMITED)
    return TRUE;
  return bucket_take (bucket, per_minute / 60.0, per_minute, now);
}

static gboolean
bucket_is_full_per_minute (const Bucket * bucket, guint per_minute, gint64 now)
{
  return per_minute == MESH_TRACKER_UNLIMITED ||
      bucket_is_full (bucket, per_minute / 60.0, per_minute, now);
}

/* ------------------------------------------------------------------------ */
/* Addresses                                                                */

/* The key limits are counted under: the address itself, the /64 of an
 * IPv6 one (what one subscriber usually has), the IPv4 one of an
 * IPv4-mapped IPv6 one. */
static gchar *
address_key (GInetAddress * inet)
{
  const guint8 *bytes = g_inet_address_to_bytes (inet);
  g_autoptr (GInetAddress) prefix = NULL;
  g_autofree gchar *text = NULL;
  guint8 masked[16] = { 0, };

  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4)
    return g_inet_address_to_string (inet);
  if (g_inet_address_get_is_loopback (inet))
    return g_strdup ("::1");
  /* ::ffff:a.b.c.d */
  if (memcmp (bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
    return g_strdup_printf ("%u.%u.%u.%u", bytes[12], bytes[13], bytes[14],
        bytes[15]);
  memcpy (masked, bytes, 8);
  prefix = g_inet_address_new_from_bytes (masked, G_SOCKET_FAMILY_IPV6);
  text = g_inet_address_to_string (prefix);
  return g_strconcat (text, "/64", NULL);
}

static void
address_free (gpointer data)
{
  Address *address = data;

  g_free (address->key);
  g_free (address);
}

/* The Address of @inet, made on first use. */
static Address *
address_lookup (MeshTrackerServer * server, GInetAddress * inet)
{
  g_autofree gchar *key = address_key (inet);
  Address *address = g_hash_table_lookup (server->addresses, key);

  if (address)
    return address;
  address = g_new0 (Address, 1);
  address->key = g_steal_pointer (&key);
  bucket_fill (&address->joins, server->max_joins_per_ip,
      g_get_monotonic_time ());
  g_hash_table_insert (server->addresses, address->key, address);
  return address;
}

static gboolean
address_is_full (MeshTrackerServer * server, Address * address)
{
  return server->max_connections_per_ip != MESH_TRACKER_UNLIMITED &&
      address->connections >= server->max_connections_per_ip;
}

static gboolean
is_trusted_proxy (MeshTrackerServer * server, GInetAddress * inet)
{
  guint i;

  for (i = 0; i < server->trusted_proxies->len; i++) {
    if (g_inet_address_equal (inet, g_ptr_array_index
            (server->trusted_proxies, i)))
      return TRUE;
  }
  return FALSE;
}

static GInetAddress *
socket_peer_address (GSocket * socket)
{
  g_autoptr (GSocketAddress) remote = g_socket_get_remote_address (socket,
      NULL);

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return NULL;
  return g_object_ref (g_inet_socket_address_get_address
      (G_INET_SOCKET_ADDRESS (remote)));
}

/* ------------------------------------------------------------------------ */
/* Access tokens                                                            */

static gchar *
token_signature (const guint8 * secret, gsize secret_size,
    const gchar * swarm, const gchar * expiry)
{
  g_autofree gchar *text = g_strconcat (swarm, "|", expiry, NULL);

  return g_compute_hmac_for_string (G_CHECKSUM_SHA256, secret, secret_size,
      text, -1);
}

gchar *
mesh_tracker_make_token_full (const guint8 * secret, gsize secret_size,
    const gchar * swarm, gint64 expiry)
{
  g_autofree gchar *expiry_text = NULL;
  g_autofree gchar *signature = NULL;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (swarm != NULL, NULL);

  expiry_text = g_strdup_printf ("%" G_GINT64_FORMAT, MAX (expiry, 0));
  signature = token_signature (secret, secret_size, swarm, expiry_text);
  return g_strconcat (expiry_text, ".", signature, NULL);
}

gchar *
mesh_tracker_make_token (const gchar * secret, const gchar * swarm,
    gint64 expiry)
{
  g_return_val_if_fail (secret != NULL, NULL);

  return mesh_tracker_make_token_full ((const guint8 *) secret,
      strlen (secret), swarm, expiry);
}

/* Compares in a time independent of where the strings differ, so that the
 * signature cannot be guessed byte by byte. */
static gboolean
equal_in_constant_time (const gchar * a, const gchar * b)
{
  gsize length = strlen (a), i;
  guint8 diff = 0;

  if (length != strlen (b))
    return FALSE;
  for (i = 0; i < length; i++)
    diff |= (guint8) a[i] ^ (guint8) b[i];
  return diff == 0;
}

gboolean
mesh_tracker_check_token_full (const guint8 * secret, gsize secret_size,
    const gchar * swarm, const gchar * token, gint64 now)
{
  const gchar *dot;
  g_autofree gchar *expiry_text = NULL;
  g_autofree gchar *expected = NULL;
  guint64 expiry;

  g_return_val_if_fail (secret != NULL, FALSE);
  g_return_val_if_fail (swarm != NULL, FALSE);

  if (!token || !(dot = strchr (token, '.')))
    return FALSE;
  expiry_text = g_strndup (token, dot - token);
  if (!g_ascii_string_to_unsigned (expiry_text, 10, 0, G_MAXINT64, &expiry,
          NULL))
    return FALSE;
  if ((gint64) expiry < now)
    return FALSE;

  expected = token_signature (secret, secret_size, swarm, expiry_text);
  return equal_in_constant_time (dot + 1, expected);
}

gboolean
mesh_tracker_check_token (const gchar * secret, const gchar * swarm,
    const gchar * token, gint64 now)
{
  g_return_val_if_fail (secret != NULL, FALSE);

  return mesh_tracker_check_token_full ((const guint8 *) secret,
      strlen (secret), swarm, token, now);
}

GBytes *
mesh_tracker_read_secret (const gchar * filename, GError ** error)
{
  gchar *contents;
  gsize size;

  g_return_val_if_fail (filename != NULL, NULL);

  if (!g_file_get_contents (filename, &contents, &size, error))
    return NULL;
  while (size > 0 && g_ascii_isspace (contents[size - 1]))
    size--;
  if (size < MESH_TRACKER_MIN_SECRET_SIZE) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "the token secret "
        "in '%s' is %" G_GSIZE_FORMAT " bytes long: it must be at least %d "
        "(head -c 32 /dev/urandom | base64 > FILE makes one)", filename, size,
        MESH_TRACKER_MIN_SECRET_SIZE);
    g_free (contents);
    return NULL;
  }
  return g_bytes_new_take (contents, size);
}

static void
grant_free (gpointer data)
{
  Grant *grant = data;

  g_free (grant->token);
  g_free (grant);
}

/* The Grant of @token (a valid one), made on first use. */
static Grant *
grant_lookup (MeshTrackerServer * server, const gchar * token)
{
  Grant *grant = g_hash_table_lookup (server->grants, token);

  if (grant)
    return grant;
  grant = g_new0 (Grant, 1);
  grant->token = g_strdup (token);
  bucket_fill (&grant->joins, server->max_joins_per_token,
      g_get_monotonic_time ());
  g_hash_table_insert (server->grants, grant->token, grant);
  return grant;
}

/* ------------------------------------------------------------------------ */
/* Bans                                                                     */

static void
ban_free (gpointer data)
{
  Ban *ban = data;

  g_free (ban->id);
  g_free (ban);
}

static void
bans_drop_oldest (MeshTrackerServer * server)
{
  Ban *ban = g_queue_pop_head (&server->ban_order);

  g_hash_table_remove (server->bans, ban->id);
  ban_free (ban);
}

/* All bans last as long: the oldest expires first. */
static void
bans_expire (MeshTrackerServer * server, gint64 now)
{
  Ban *oldest;

  while ((oldest = g_queue_peek_head (&server->ban_order))
      && oldest->expiry <= now)
    bans_drop_oldest (server);
}

static void
ban_add (MeshTrackerServer * server, const gchar * id)
{
  gint64 now = g_get_monotonic_time ();
  Ban *ban;

  bans_expire (server, now);
  if (g_hash_table_contains (server->bans, id))
    return;
  if (g_hash_table_size (server->bans) >= MAX_BANS)
    bans_drop_oldest (server);
  ban = g_new0 (Ban, 1);
  ban->id = g_strdup (id);
  ban->expiry = now + server->ban_time * G_USEC_PER_SEC;
  g_queue_push_tail (&server->ban_order, ban);
  g_hash_table_insert (server->bans, ban->id, ban);
}

static gboolean
is_banned (MeshTrackerServer * server, const gchar * id)
{
  bans_expire (server, g_get_monotonic_time ());
  return g_hash_table_contains (server->bans, id);
}

/* Forgets the addresses and grants nothing uses whose joins have refilled,
 * and the bans that expired. */
static gboolean
on_sweep (gpointer data)
{
  MeshTrackerServer *server = data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, server->addresses);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Address *address = value;

    if (address->connections == 0 && bucket_is_full_per_minute
        (&address->joins, server->max_joins_per_ip, now))
      g_hash_table_iter_remove (&iter);
  }
  g_hash_table_iter_init (&iter, server->grants);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Grant *grant = value;

    if (grant->peers == 0 && bucket_is_full_per_minute (&grant->joins,
            server->max_joins_per_token, now))
      g_hash_table_iter_remove (&iter);
  }
  bans_expire (server, now);
  stats_update_sizes (server);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                  */

static gboolean
peer_can_send (Peer * peer)
{
  return !peer->closing && mesh_tracker_conn_is_open (peer->conn);
}

/* The hot path: the frame is written at once, from whichever shard is
 * dispatching, and @peer's shard needs to look at its source again only
 * when the socket left some of it queued (the source then waits to
 * write). */
static void
wake_if_queued (Peer * peer, gboolean was_queued)
{
  if (!was_queued && mesh_tracker_conn_get_queued (peer->conn) > 0)
    mesh_shard_loop_wake (peer->server->loop, peer->shard);
}

static void
write_text (Peer * peer, const gchar * text)
{
  gboolean was_queued;

  if (!peer_can_send (peer))
    return;
  was_queued = mesh_tracker_conn_get_queued (peer->conn) > 0;
  mesh_tracker_conn_send_text (peer->conn, text, strlen (text));
  wake_if_queued (peer, was_queued);
}

/* What the server says to @peer: held back while its welcome waits. */
static void
send_text (Peer * peer, const gchar * text)
{
  if (!peer->before_welcome) {
    write_text (peer, text);
    return;
  }
  if (peer->before_welcome->len < MESH_TRACKER_MAX_BEFORE_WELCOME)
    g_ptr_array_add (peer->before_welcome, g_strdup (text));
}

/* The welcome went out: what was held for @peer (@held, NULL: nothing)
 * follows it. */
static void
write_held (Peer * peer, GPtrArray * held)
{
  guint i;

  for (i = 0; held && i < held->len; i++)
    write_text (peer, held->pdata[i]);
}

static void
send_error (Peer * peer, MeshTrackerErrorCode code, const gchar * message,
    gboolean fatal)
{
  MeshTrackerServer *server = peer->server;
  g_autofree gchar *text = mesh_tracker_encode_error (code, message, fatal);

  mesh_tracker_log_event ("rejected", "swarm", peer->swarm ?
      peer->swarm->id : NULL, "peer", peer->id, "addr", peer_address (peer),
      "code", mesh_tracker_error_code_name (code), "fatal",
      fatal ? "yes" : "no", "why", message, NULL);
  STATS_LOCKED (server, {
        server->stats.errors++;
        server->errors_by_code[code]++;
      });
  /* an error answers what the peer just sent: not held for a welcome */
  write_text (peer, text);
}

/* Sends the error, then closes with 1008 and the code as the reason: a client
 * that misses the error message (it can be overtaken by the close frame when
 * the socket is congested) still learns why. */
static void
fail_peer (Peer * peer, MeshTrackerErrorCode code, const gchar * message)
{
  DisconnectReason reason = DISCONNECT_ERROR;

  send_error (peer, code, message, TRUE);
  if (code == MESH_TRACKER_ERROR_TIMEOUT)
    reason = DISCONNECT_TIMEOUT;
  else if (code == MESH_TRACKER_ERROR_BANNED)
    reason = DISCONNECT_BANNED;
  peer_close (peer, reason, CLOSE_POLICY_VIOLATION,
      mesh_tracker_error_code_name (code));
}

static void
bad_message (Peer * peer, const gchar * message)
{
  MeshTrackerServer *server = peer->server;

  peer->bad_messages++;
  if (peer->bad_messages > server->max_bad_messages)
    fail_peer (peer, MESH_TRACKER_ERROR_BAD_MESSAGE, message);
  else
    send_error (peer, MESH_TRACKER_ERROR_BAD_MESSAGE, message, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Swarms                                                                   */

static void
swarm_free (gpointer data)
{
  Swarm *swarm = data;

  g_free (swarm->id);
  g_ptr_array_unref (swarm->members);
  g_hash_table_unref (swarm->by_id);
  mesh_locality_index_free (swarm->locality);
  g_clear_pointer (&swarm->remote_listeners, g_hash_table_unref);
  g_free (swarm);
}

static Swarm *
swarm_new (const gchar * id, gboolean locality)
{
  Swarm *swarm = g_new0 (Swarm, 1);

  swarm->id = g_strdup (id);
  swarm->members = g_ptr_array_new ();
  swarm->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  if (locality)
    swarm->locality = mesh_locality_index_new ();
  return swarm;
}

static void
swarm_add (Swarm * swarm, Peer * peer)
{
  peer->swarm = swarm;
  peer->index = swarm->members->len;
  g_ptr_array_add (swarm->members, peer);
  g_hash_table_insert (swarm->by_id, peer->id, peer);
}

/* Files @peer in its swarm's index under its network: the prefix of its
 * address, what the tables in use say of it, and its hint. */
static void
swarm_locate (Swarm * swarm, Peer * peer, const gchar * hint)
{
  MeshTrackerServer *server = peer->server;
  MeshLocalityTable *asn_table = NULL, *region_table = NULL;
  MeshLocalityKey key;

  if (!swarm->locality)
    return;
  g_mutex_lock (&server->networks_lock);
  if (server->asn_table)
    asn_table = mesh_locality_table_ref (server->asn_table);
  if (server->region_table)
    region_table = mesh_locality_table_ref (server->region_table);
  g_mutex_unlock (&server->networks_lock);

  mesh_locality_key_init (&key, peer->inet, hint, server->prefix_v4,
      server->prefix_v6, asn_table, region_table);
  peer->locality = mesh_locality_index_add (swarm->locality, peer, &key);
  g_debug ("peer %s: prefix %s, ASN %u, region %s, hint %s", peer->id,
      key.prefix ? key.prefix : "-", key.asn, key.region ? key.region : "-",
      key.hint ? key.hint : "-");
  mesh_locality_key_clear (&key);
  mesh_locality_table_unref (asn_table);
  mesh_locality_table_unref (region_table);
}

static void
swarm_remove (Swarm * swarm, Peer * peer)
{
  Peer *last;

  g_hash_table_remove (swarm->by_id, peer->id);
  /* the last member takes the empty slot: O(1) */
  last = g_ptr_array_index (swarm->members, swarm->members->len - 1);
  g_ptr_array_index (swarm->members, peer->index) = last;
  last->index = peer->index;
  g_ptr_array_set_size (swarm->members, swarm->members->len - 1);
  if (peer->locality)
    mesh_locality_index_remove (swarm->locality, peer->locality);
  peer->locality = NULL;
  peer->swarm = NULL;
}

/* Up to @max random members of @peer's swarm other than @peer, in O(max)
 * whatever the size of the swarm (Floyd's sampling). */
static GPtrArray *
pick_random_members (Peer * peer, guint max)
{
  GPtrArray *members = peer->swarm->members;
  guint others = members->len - 1;
  GPtrArray *picked = g_ptr_array_new ();
  g_autoptr (GHashTable) chosen = NULL;
  guint i;

  if (others <= max) {
    for (i = 0; i < members->len; i++) {
      if (i != peer->index)
        g_ptr_array_add (picked, g_ptr_array_index (members, i));
    }
    return picked;
  }

  chosen = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (i = others - max; i < others; i++) {
    guint j = g_random_int_range (0, i + 1);

    if (g_hash_table_contains (chosen, GUINT_TO_POINTER (j + 1)))
      j = i;
    g_hash_table_add (chosen, GUINT_TO_POINTER (j + 1));
    /* slots past @peer's own are shifted by one to skip it */
    g_ptr_array_add (picked, g_ptr_array_index (members,
            j < peer->index ? j : j + 1));
  }
  return picked;
}

/* Up to @max members of @peer's swarm other than @peer: the nearest
 * networks first (with some places for others) when locality is on, in
 * O(max) either way. */
static GPtrArray *
pick_members (Peer * peer, guint max)
{
  if (peer->locality)
    return mesh_locality_index_pick (peer->swarm->locality, peer->locality,
        max, peer->server->cross_network_share);
  return pick_random_members (peer, max);
}

/* Remembers that @listener was told about @subject. */
static void
tell (Peer * listener, Peer * subject)
{
  g_hash_table_add (listener->knows, subject);
  g_hash_table_add (subject->known_by, listener);
}

/* ------------------------------------------------------------------------ */
/* Lists: local members, and in Redis mode those of other instances       */

/* Remembers that @listener was told about @remote_id, a member of another
 * instance, so that its leave reaches @listener (up to MAX_REMOTE_KNOWS). */
static void
remote_tell (Peer * listener, const gchar * remote_id)
{
  Swarm *swarm = listener->swarm;
  GHashTable *listeners;

  if (!listener->remote_knows)
    listener->remote_knows = g_hash_table_new_full (g_str_hash, g_str_equal,
        g_free, NULL);
  if (g_hash_table_contains (listener->remote_knows, remote_id)
      || g_hash_table_size (listener->remote_knows) >= MAX_REMOTE_KNOWS)
    return;
  if (!swarm->remote_listeners)
    swarm->remote_listeners = g_hash_table_new_full (g_str_hash, g_str_equal,
        g_free, (GDestroyNotify) g_hash_table_unref);
  listeners = g_hash_table_lookup (swarm->remote_listeners, remote_id);
  if (!listeners) {
    listeners = g_hash_table_new (g_direct_hash, g_direct_equal);
    g_hash_table_insert (swarm->remote_listeners, g_strdup (remote_id),
        listeners);
  }
  g_hash_table_add (listeners, listener);
  g_hash_table_add (listener->remote_knows, g_strdup (remote_id));
}

/* @peer, leaving @swarm, no longer listens for remote leaves. */
static void
remote_forget_all (Swarm * swarm, Peer * peer)
{
  GHashTableIter iter;
  gpointer id;

  if (!peer->remote_knows)
    return;
  g_hash_table_iter_init (&iter, peer->remote_knows);
  while (g_hash_table_iter_next (&iter, &id, NULL)) {
    GHashTable *listeners = g_hash_table_lookup (swarm->remote_listeners, id);

    g_hash_table_remove (listeners, peer);
    if (g_hash_table_size (listeners) == 0)
      g_hash_table_remove (swarm->remote_listeners, id);
  }
  g_hash_table_remove_all (peer->remote_knows);
}

/* One member for a list: a local Peer or a member of another instance. */
typedef struct
{
  Peer *local;
  const MeshTrackerRemoteMember *remote;
  MeshLocalityTier tier;        /* from the asker */
  guint32 order;                /* random, within a tier */
} Candidate;

static gint
compare_candidates (gconstpointer a, gconstpointer b)
{
  const Candidate *x = a, *y = b;

  if (x->tier != y->tier)
    return x->tier < y->tier ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static const MeshLocalityKey *
peer_key (Peer * peer)
{
  return peer->locality ? mesh_locality_entry_get_key (peer->locality) : NULL;
}

/* How near @key is to @asker. "near" in lists (docs/protocol.md 1.5) is
 * the site tier, same hint or same address prefix. The same ASN is not
 * near: an ASN may be a whole national operator, and a player gives its
 * link slots to a near peer before a far one (a far link may be dropped
 * for it), which only a shared site (LAN, NAT, campus) repays. Always
 * the farthest tier with locality off. */
static MeshLocalityTier
tier_of (Peer * asker, const MeshLocalityKey * key)
{
  if (!peer_key (asker) || !key)
    return MESH_LOCALITY_TIER_ANY;
  return mesh_locality_tier (peer_key (asker), key);
}

/* Up to max-peers members for @asker: the local pick (pick_members()),
 * in its order, and with members of other instances (@remote, Redis
 * mode) nearest tiers first, random within a tier. The cross-network
 * places of the local pick are not kept apart then: they compete by tier
 * with the remote members. */
static GArray *
pick_candidates (Peer * asker, GPtrArray * remote)
{
  MeshTrackerServer *server = asker->server;
  g_autoptr (GPtrArray) local = pick_members (asker, server->max_peers);
  GArray *candidates = g_array_new (FALSE, TRUE, sizeof (Candidate));
  guint i;

  for (i = 0; i < local->len; i++) {
    Candidate c = { g_ptr_array_index (local, i), NULL, 0, g_random_int () };

    c.tier = tier_of (asker, peer_key (c.local));
    g_array_append_val (candidates, c);
  }
  if (!remote)
    return candidates;
  for (i = 0; i < remote->len; i++) {
    Candidate c = { NULL, g_ptr_array_index (remote, i), 0, g_random_int () };

    /* an id of ours too (ids are the clients' choice): the local one wins */
    if (g_hash_table_contains (asker->swarm->by_id, c.remote->peer))
      continue;
    c.tier = tier_of (asker, &c.remote->key);
    g_array_append_val (candidates, c);
  }
  g_array_sort (candidates, compare_candidates);
  if (candidates->len > server->max_peers)
    g_array_set_size (candidates, server->max_peers);
  return candidates;
}

static const gchar *
candidate_id (const Candidate * c)
{
  return c->local ? c->local->id : c->remote->peer;
}

/* A welcome (@welcome) or peers list, of local members and @remote ones
 * (NULL: none). */
static void
send_list (Peer * peer, GPtrArray * remote, gboolean welcome)
{
  MeshTrackerServer *server = peer->server;
  g_autoptr (GArray) candidates = pick_candidates (peer, remote);
  g_autofree MeshTrackerPeerEntry *entries = g_new0 (MeshTrackerPeerEntry,
      MAX (candidates->len, 1));
  g_autofree gchar *text = NULL;
  guint i;

  for (i = 0; i < candidates->len; i++) {
    Candidate *c = &g_array_index (candidates, Candidate, i);

    entries[i].peer = (gchar *) candidate_id (c);
    entries[i].upload = c->local ? c->local->upload : c->remote->upload;
    entries[i].near = c->tier == MESH_LOCALITY_TIER_SITE;
  }
  text = welcome ? mesh_tracker_encode_welcome (peer->id, peer->swarm->id,
      server->heartbeat, entries, candidates->len) :
      mesh_tracker_encode_peers (entries, candidates->len);
  send_text (peer, text);
  for (i = 0; i < candidates->len; i++) {
    Candidate *c = &g_array_index (candidates, Candidate, i);

    if (c->local)
      tell (peer, c->local);
    else
      remote_tell (peer, c->remote->peer);
  }
}

/* Tells a few members, not the whole swarm: a join costs O(max-peers).
 * The others find the newcomer through "peers" or its signals. Members of
 * other instances (@remote, NULL: none) hear of it through their
 * instance, which remembers that they know @peer. */
static void
announce_join (Peer * peer, GPtrArray * remote)
{
  MeshTrackerServer *server = peer->server;
  g_autoptr (GArray) candidates = pick_candidates (peer, remote);
  guint i;

  for (i = 0; i < candidates->len; i++) {
    Candidate *c = &g_array_index (candidates, Candidate, i);
    gboolean near = c->tier == MESH_LOCALITY_TIER_SITE;

    if (c->local) {
      g_autofree gchar *text = mesh_tracker_encode_peer_joined (peer->id,
          peer->upload, near);

      send_text (c->local, text);
      tell (c->local, peer);
    } else {
      MeshTrackerDirectoryMessage message = {
        MESH_TRACKER_DIRECTORY_PEER_JOINED, peer->swarm->id, c->remote->peer,
        peer->id, NULL, peer->upload, peer_key (peer)
      };

      IN_ROOT (server, mesh_tracker_directory_send (server->directory,
              &message));
    }
  }
  STATS_LOCKED (server, server->stats.peer_joined_sent += candidates->len);
}

/* A peer waiting for the directory's list: found again by swarm, id and
 * serial, in case it left meanwhile. */
typedef struct
{
  MeshTrackerServer *server;
  gchar *swarm;
  gchar *peer;
  guint64 serial;
  gboolean join;                /* a join (else a get-peers) */
} ListWait;

static void
on_remote_listed (GPtrArray * remote, gpointer data)
{
  ListWait *wait = data;
  MeshTrackerServer *server = wait->server;
  Swarm *swarm = g_hash_table_lookup (server->swarms, wait->swarm);
  Peer *peer = swarm ? g_hash_table_lookup (swarm->by_id, wait->peer) : NULL;

  if (peer && peer->serial == wait->serial && !peer->closing
      && !server->stopping) {
    g_autoptr (GPtrArray) held = wait->join ?
        g_steal_pointer (&peer->before_welcome) : NULL;

    if (wait->join)
      announce_join (peer, remote);
    send_list (peer, remote, wait->join);
    write_held (peer, held);
  }
  g_free (wait->swarm);
  g_free (wait->peer);
  g_free (wait);
}

/* Asks the directory for members of other instances, then sends @peer its
 * welcome (and announces it) if @join, else its peers list. */
static void
list_remote (Peer * peer, gboolean join)
{
  MeshTrackerServer *server = peer->server;
  ListWait *wait = g_new0 (ListWait, 1);

  wait->server = server;
  wait->swarm = g_strdup (peer->swarm->id);
  wait->peer = g_strdup (peer->id);
  wait->serial = peer->serial;
  wait->join = join;
  IN_ROOT (server, mesh_tracker_directory_list (server->directory,
          peer->swarm->id, server->max_peers, on_remote_listed, wait));
}

/* The local member @id of @swarm a directory message is for, or NULL. */
static Peer *
local_member (MeshTrackerServer * server, const gchar * swarm_id,
    const gchar * id)
{
  Swarm *swarm = g_hash_table_lookup (server->swarms, swarm_id);
  Peer *peer = swarm && id ? g_hash_table_lookup (swarm->by_id, id) : NULL;

  return peer && peer_can_send (peer) ? peer : NULL;
}

/* A member of another instance left: those here that know it are told. */
static void
on_remote_left (MeshTrackerServer * server, const gchar * swarm_id,
    const gchar * id)
{
  Swarm *swarm = g_hash_table_lookup (server->swarms, swarm_id);
  g_autoptr (GHashTable) listeners = NULL;
  g_autofree gchar *text = NULL;
  GHashTableIter iter;
  gpointer key;
  guint told = 0;

  if (!swarm || !swarm->remote_listeners
      || !g_hash_table_steal_extended (swarm->remote_listeners, id, &key,
          (gpointer *) & listeners))
    return;
  g_free (key);
  text = mesh_tracker_encode_peer_left (id);
  g_hash_table_iter_init (&iter, listeners);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    Peer *listener = key;

    g_hash_table_remove (listener->remote_knows, id);
    if (peer_can_send (listener)) {
      send_text (listener, text);
      told++;
    }
  }
  STATS_LOCKED (server, server->stats.peer_left_sent += told);
}

static void
on_directory_message (MeshTrackerDirectory * directory,
    const MeshTrackerDirectoryMessage * message, gpointer data)
{
  MeshTrackerServer *server = data;
  Peer *target;

  if (server->stopping)
    return;
  if (message->type == MESH_TRACKER_DIRECTORY_PEER_LEFT) {
    on_remote_left (server, message->swarm, message->from);
    return;
  }
  target = local_member (server, message->swarm, message->to);
  if (!target || g_str_equal (message->from, target->id))
    return;
  if (message->type == MESH_TRACKER_DIRECTORY_SIGNAL) {
    g_autofree gchar *text = NULL;

    if (strlen (message->data) > server->max_signal_size)
      return;
    text = mesh_tracker_encode_relayed_signal (message->from, message->data);
    send_text (target, text);
  } else {
    g_autofree gchar *text = mesh_tracker_encode_peer_joined (message->from,
        message->upload, tier_of (target, message->key) ==
        MESH_LOCALITY_TIER_SITE);

    send_text (target, text);
    STATS_LOCKED (server, server->stats.peer_joined_sent++);
  }
  remote_tell (target, message->from);
}

/* A signal to a member nobody holds: its sender learns as it would have
 * without Redis, only later. */
static void
on_directory_undelivered (MeshTrackerDirectory * directory,
    const gchar * swarm, const gchar * from, const gchar * to, gpointer data)
{
  MeshTrackerServer *server = data;
  Peer *sender = local_member (server, swarm, from);

  if (sender && !server->stopping)
    send_error (sender, MESH_TRACKER_ERROR_UNKNOWN_PEER,
        "no such peer in this swarm", FALSE);
}

/* @msg: a signal for a member that is not ours; the directory relays it to
 * the instance holding it. */
static void
send_remote_signal (Peer * peer, MeshTrackerMessage * msg,
    const gchar * data_text)
{
  MeshTrackerServer *server = peer->server;
  MeshTrackerDirectoryMessage message = {
    MESH_TRACKER_DIRECTORY_SIGNAL, peer->swarm->id, msg->peer, peer->id,
    data_text, FALSE, NULL
  };

  IN_ROOT (server, mesh_tracker_directory_send (server->directory, &message));
  remote_tell (peer, msg->peer);
  STATS_LOCKED (server, server->stats.signals++);
}

static void
append_directory_metrics (GString * out, MeshTrackerServer * server)
{
  MeshTrackerDirectoryStats stats = { 0, };

  if (!server->directory)
    return;
  mesh_tracker_directory_get_stats (server->directory, &stats);
  mesh_tracker_append_metric (out, "mesh_tracker_directory_connected",
      "gauge", "1 when the shared directory (Redis) is reachable.",
      stats.connected);
  mesh_tracker_append_metric (out, "mesh_tracker_directory_messages_in_total",
      "counter", "Messages from other instances delivered here.",
      stats.messages_in);
  mesh_tracker_append_metric (out, "mesh_tracker_directory_messages_out_total",
      "counter", "Messages sent to other instances.", stats.messages_out);
  mesh_tracker_append_metric (out, "mesh_tracker_directory_dropped_total",
      "counter", "Malformed records and messages from the directory dropped.",
      stats.dropped);
  mesh_tracker_append_metric (out, "mesh_tracker_directory_errors_total",
      "counter", "Directory (Redis) errors: failed commands and connections.",
      stats.errors);
  mesh_tracker_append_metric (out,
      "mesh_tracker_directory_reconnects_total", "counter",
      "Directory (Redis) connections re-established.", stats.reconnects);
  mesh_tracker_append_metric (out,
      "mesh_tracker_directory_remote_listed_total", "counter",
      "Members of other instances listed to peers here.", stats.remote_listed);
}

/* Takes @peer out of its swarm and tells those who knew about it. */
static void
peer_detach (Peer * peer)
{
  MeshTrackerServer *server = peer->server;
  Swarm *swarm = peer->swarm;
  g_autofree gchar *text = NULL;
  GHashTableIter iter;
  gpointer key;
  guint told = 0;

  if (!swarm)
    return;

  swarm_remove (swarm, peer);
  /* what it reported stays counted */
  mesh_tracker_qos_leave (server->qos, peer, g_get_monotonic_time ());
  text = mesh_tracker_encode_peer_left (peer->id);

  g_hash_table_iter_init (&iter, peer->known_by);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    Peer *listener = key;

    g_hash_table_remove (listener->knows, peer);
    /* nobody needs the news while everything shuts down */
    if (!server->stopping && peer_can_send (listener)) {
      send_text (listener, text);
      told++;
    }
  }
  g_hash_table_remove_all (peer->known_by);

  g_hash_table_iter_init (&iter, peer->knows);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_hash_table_remove (((Peer *) key)->known_by, peer);
  g_hash_table_remove_all (peer->knows);

  if (server->directory) {
    /* the other instances tell those of theirs that know it */
    IN_ROOT (server, mesh_tracker_directory_withdraw (server->directory,
            swarm->id, peer->id));
    remote_forget_all (swarm, peer);
  }

  if (peer->grant)
    peer->grant->peers--;
  peer->grant = NULL;

  if (swarm->members->len == 0)
    g_hash_table_remove (server->swarms, swarm->id);

  g_debug ("peer %s left swarm, %u told", peer->id, told);
  STATS_LOCKED (server, {
        server->stats.peers--;
        server->stats.peer_left_sent += told;
      }
  );
  stats_update_sizes (server);
}

/* ------------------------------------------------------------------------ */
/* Peers (connections)                                                      */

static void
address_release (MeshTrackerServer * server, Address * address)
{
  if (address)
    address->connections--;
}

static void
peer_free (gpointer data)
{
  Peer *peer = data;

  g_warn_if_fail (peer->swarm == NULL);
  g_clear_pointer (&peer->before_welcome, g_ptr_array_unref);
  if (peer->server->attest)
    mesh_tracker_attest_forget (peer->server->attest, peer);
  mesh_tracker_conn_free (peer->conn);
  mesh_shard_loop_leave (peer->server->loop, peer->shard);
  mesh_wheel_cancel (peer->server->wheel, &peer->deadline);
  if (peer->reap_source) {
    g_source_destroy (peer->reap_source);
    g_source_unref (peer->reap_source);
  }
  address_release (peer->server, peer->address);
  g_clear_object (&peer->inet);
  g_hash_table_unref (peer->knows);
  g_hash_table_unref (peer->known_by);
  g_clear_pointer (&peer->remote_knows, g_hash_table_unref);
  g_clear_pointer (&peer->reporters, g_hash_table_unref);
  g_free (peer->id);
  g_free (peer);
}

/* Ends our business with @peer: out of its swarm now, the socket closed
 * with @code once what was queued went out. */
static void
peer_close (Peer * peer, DisconnectReason reason, gushort code,
    const gchar * why)
{
  MeshTrackerServer *server = peer->server;
  gboolean was_queued;

  if (peer->closing)
    return;

  if (peer->swarm)
    mesh_tracker_log_event ("leave", "swarm", peer->swarm->id, "peer",
        peer->id, "addr", peer_address (peer), "reason",
        disconnect_reason_names[reason], NULL);
  peer_detach (peer);
  peer->closing = TRUE;
  mesh_wheel_schedule (server->wheel, &peer->deadline,
      g_get_monotonic_time () + CLOSE_GRACE_US);
  STATS_LOCKED (server, {
        server->stats.disconnects++;
        server->disconnects_by_reason[reason]++;
      }
  );
  was_queued = mesh_tracker_conn_get_queued (peer->conn) > 0;
  mesh_tracker_conn_close (peer->conn, code, why);
  wake_if_queued (peer, was_queued);
}

static void
maybe_finish_shutdown (MeshTrackerServer * server)
{
  if (server->stopping && g_hash_table_size (server->connections) == 0)
    mesh_shard_loop_quit (server->loop);
}

/* Why a connection we had not closed ended: one of its bounds, or the
 * client. */
static DisconnectReason
closed_reason (Peer * peer)
{
  switch (mesh_tracker_conn_get_fault (peer->conn)) {
    case MESH_TRACKER_CONN_TOO_SLOW:
      return DISCONNECT_TOO_SLOW;
    case MESH_TRACKER_CONN_FLOODING:
      return DISCONNECT_FLOODING;
    default:
      return DISCONNECT_CLOSED;
  }
}

static gboolean
peer_reap (gpointer data)
{
  Peer *peer = data;
  MeshTrackerServer *server = peer->server;

  peer_close (peer, closed_reason (peer), CLOSE_NORMAL, NULL);
  g_hash_table_remove (server->connections, peer);
  stats_update_sizes (server);
  maybe_finish_shutdown (server);
  return G_SOURCE_REMOVE;
}

/* A client over a bound is worth a line in the log; one that closed, or
 * that does not speak WebSocket, is not. */
static void
log_closed (Peer * peer, MeshTrackerConnFault fault)
{
  const gchar *id = peer->id ? peer->id : "(not joined)";

  if (fault == MESH_TRACKER_CONN_TOO_SLOW
      || fault == MESH_TRACKER_CONN_FLOODING)
    g_message ("peer %s from %s: %s, disconnected", id,
        peer->address ? peer->address->key : "?",
        mesh_tracker_conn_fault_describe (fault));
  else
    g_debug ("peer %s: connection closed (code %u, %s)", id,
        mesh_tracker_conn_get_close_code (peer->conn),
        mesh_tracker_conn_fault_describe (fault));
}

/* May come from any shard (a write that failed), or from inside the
 * peer's own dispatch: the peer is reaped from the root, later. */
static void
on_closed (MeshTrackerConn * conn, gpointer data)
{
  Peer *peer = data;

  log_closed (peer, mesh_tracker_conn_get_fault (conn));
  mesh_shard_loop_forget (peer->server->loop, peer->shard);
  if (peer->reap_source)
    return;
  peer->reap_source = g_idle_source_new ();
  g_source_set_callback (peer->reap_source, peer_reap, peer, NULL);
  g_source_attach (peer->reap_source, peer->server->context);
  /* from the peer's shard, most often */
  mesh_shard_loop_wake (peer->server->loop, peer->server->context);
}

/* A client that did not answer our close frame in CLOSE_GRACE_US is let
 * go. */
static void
peer_end_close (Peer * peer)
{
  mesh_tracker_conn_end (peer->conn);
}

/* The deadline is re-armed lazily: a message only updates last_seen, and
 * this moves the deadline when it finds the peer was heard from since.
 * Once the peer is closing, it is the deadline of its close. */
static void
on_peer_deadline (Peer * peer, gint64 now)
{
  gint64 deadline = peer->last_seen + peer->server->timeout_us;

  if (peer->closing)
    peer_end_close (peer);
  else if (now < deadline)
    mesh_wheel_schedule (peer->server->wheel, &peer->deadline, deadline);
  else
    fail_peer (peer, MESH_TRACKER_ERROR_TIMEOUT,
        "no message within the heartbeat timeout");
}

static Peer *
peer_of_deadline (MeshWheelTimer * timer)
{
  return (Peer *) ((guint8 *) timer - G_STRUCT_OFFSET (Peer, deadline));
}

static gboolean
on_wheel_tick (gpointer data)
{
  MeshTrackerServer *server = data;
  gint64 now = g_get_monotonic_time ();
  MeshWheelTimer *timer;

  while ((timer = mesh_wheel_pop_due (server->wheel, now)))
    on_peer_deadline (peer_of_deadline (timer), now);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Incoming messages                                                        */

/* The secret joins are checked against now, or NULL. */
static GBytes *
token_secret_ref (MeshTrackerServer * server)
{
  GBytes *secret;

  g_mutex_lock (&server->secret_lock);
  secret = server->token_secret ? g_bytes_ref (server->token_secret) : NULL;
  g_mutex_unlock (&server->secret_lock);
  return secret;
}

void
mesh_tracker_server_set_token_secret (MeshTrackerServer * server,
    const guint8 * secret, gsize secret_size)
{
  GBytes *old;

  g_return_if_fail (server != NULL);
  g_return_if_fail (secret != NULL && secret_size > 0);

  g_mutex_lock (&server->secret_lock);
  old = server->token_secret;
  server->token_secret = g_bytes_new (secret, secret_size);
  g_mutex_unlock (&server->secret_lock);
  g_clear_pointer (&old, g_bytes_unref);
}

/* Checks what a join's origin may still do: joins from its address, and
 * with a token, the joins and peers of that token. Fails @peer if not;
 * else sets *grant (NULL without tokens). */
static gboolean
admit_origin (Peer * peer, MeshTrackerMessage * msg, Grant ** grant)
{
  MeshTrackerServer *server = peer->server;
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GBytes) secret = NULL;

  *grant = NULL;
  if (peer->address && !bucket_take_per_minute (&peer->address->joins,
          server->max_joins_per_ip, now)) {
    fail_peer (peer, MESH_TRACKER_ERROR_JOIN_LIMITED,
        "too many joins from this address");
    return FALSE;
  }
  secret = token_secret_ref (server);
  if (!secret)
    return TRUE;
  if (!mesh_tracker_check_token_full (g_bytes_get_data (secret, NULL),
          g_bytes_get_size (secret), msg->swarm, msg->token,
          g_get_real_time () / G_USEC_PER_SEC)) {
    fail_peer (peer, MESH_TRACKER_ERROR_UNAUTHORIZED, msg->token ?
        "the token is invalid or expired" : "this tracker needs a token");
    return FALSE;
  }
  *grant = grant_lookup (server, msg->token);
  if (!bucket_take_per_minute (&(*grant)->joins, server->max_joins_per_token,
          now)) {
    fail_peer (peer, MESH_TRACKER_ERROR_JOIN_LIMITED,
        "too many joins with this token");
    return FALSE;
  }
  if (server->max_peers_per_token != MESH_TRACKER_UNLIMITED
      && (*grant)->peers >= server->max_peers_per_token) {
    fail_peer (peer, MESH_TRACKER_ERROR_JOIN_LIMITED,
        "too many peers with this token");
    return FALSE;
  }
  return TRUE;
}

/* Checks the bounds a join must fit in: the id is neither banned nor in use
 * (a second connection never takes an id over), the swarm has room.
 * Returns the swarm to join (NULL = a new one is needed), or fails @peer
 * and sets *refused. */
static Swarm *
admit (Peer * peer, const gchar * swarm_id, const gchar * peer_id,
    gboolean * refused)
{
  MeshTrackerServer *server = peer->server;
  Swarm *swarm = g_hash_table_lookup (server->swarms, swarm_id);

  *refused = TRUE;
  if (is_banned (server, peer_id))
    fail_peer (peer, MESH_TRACKER_ERROR_BANNED, "this peer id was removed "
        "after reports from other members");
  else if (swarm && g_hash_table_contains (swarm->by_id, peer_id))
    fail_peer (peer, MESH_TRACKER_ERROR_PEER_ID_TAKEN,
        "another connection is in this swarm with this peer id");
  else if (swarm && swarm->members->len >= server->max_swarm_peers)
    fail_peer (peer, MESH_TRACKER_ERROR_SWARM_FULL,
        "this swarm has too many peers");
  else if (!swarm && g_hash_table_size (server->swarms) >= server->max_swarms)
    fail_peer (peer, MESH_TRACKER_ERROR_TOO_MANY_SWARMS,
        "the tracker has too many swarms");
  else
    *refused = FALSE;
  return swarm;
}

/* @msg: a join that decoded. */
static void
handle_join (Peer * peer, MeshTrackerMessage * msg)
{
  MeshTrackerServer *server = peer->server;
  gboolean refused;
  Grant *grant;
  Swarm *swarm;

  if (!admit_origin (peer, msg, &grant))
    return;
  swarm = admit (peer, msg->swarm, msg->peer, &refused);
  if (refused)
    return;
  if (!swarm) {
    swarm = swarm_new (msg->swarm, server->locality);
    g_hash_table_insert (server->swarms, swarm->id, swarm);
  }

  peer->id = g_strdup (msg->peer);
  peer->upload = msg->upload;
  peer->grant = grant;
  if (grant)
    grant->peers++;
  swarm_add (swarm, peer);
  mesh_tracker_qos_join (server->qos, peer, swarm->id, g_get_monotonic_time ());
  swarm_locate (swarm, peer, msg->network);
  STATS_LOCKED (server, {
        server->stats.joins++;
        server->stats.peers++;
      }
  );
  stats_update_sizes (server);
  mesh_tracker_log_event ("join", "swarm", swarm->id, "peer", peer->id,
      "addr", peer_address (peer), "upload", peer->upload ? "yes" : "no", NULL);

  if (server->directory) {
    /* listed for the other instances at once; the welcome waits for their
     * members */
    IN_ROOT (server, mesh_tracker_directory_publish (server->directory,
            swarm->id, peer->id, peer->upload, peer_key (peer)));
    peer->before_welcome = g_ptr_array_new_with_free_func (g_free);
    list_remote (peer, TRUE);
    return;
  }
  /* notifications first: once the welcome is out, the counters include
   * everything this join cost */
  announce_join (peer, NULL);
  send_list (peer, NULL, TRUE);
}

/* A join, decoded (@decoded) or not: a second join is refused before
 * anything else, another version is fatal, other defects are not. */
static void
handle_join_message (Peer * peer, MeshTrackerMessage * msg, gboolean decoded,
    const GError * error)
{
  if (peer->id)
    bad_message (peer, "already joined");
  else if (decoded)
    handle_join (peer, msg);
  else if (g_error_matches (error, MESH_TRACKER_PROTO_ERROR,
          MESH_TRACKER_PROTO_ERROR_UNSUPPORTED_VERSION))
    fail_peer (peer, MESH_TRACKER_ERROR_UNSUPPORTED_VERSION,
        "this tracker speaks version 1");
  else
    bad_message (peer, error->message);
}

/* @msg: a signal that decoded. */
static void
handle_signal (Peer * peer, MeshTrackerMessage * msg)
{
  MeshTrackerServer *server = peer->server;
  g_autofree gchar *data_text = json_to_string (msg->data, FALSE);
  g_autofree gchar *text = NULL;
  Peer *target;

  if (strlen (data_text) > server->max_signal_size) {
    g_autofree gchar *why = g_strdup_printf ("signal: \"data\" is over %u "
        "bytes", server->max_signal_size);
    bad_message (peer, why);
    return;
  }
  target = g_hash_table_lookup (peer->swarm->by_id, msg->peer);
  if (!target && server->directory && !g_str_equal (msg->peer, peer->id)) {
    send_remote_signal (peer, msg, data_text);
    return;
  }
  if (!target || target == peer) {
    send_error (peer, MESH_TRACKER_ERROR_UNKNOWN_PEER,
        "no such peer in this swarm", FALSE);
    return;
  }

  text = mesh_tracker_encode_relayed_signal (peer->id, data_text);
  send_text (target, text);
  tell (target, peer);
  tell (peer, target);
  STATS_LOCKED (server, server->stats.signals++);
}

/* Removes @peer for good: out of the swarm (the others told), its id
 * refused for ban_time. */
static void
ban_peer (Peer * peer)
{
  MeshTrackerServer *server = peer->server;
  g_autofree gchar *why = g_strdup_printf ("removed from the swarm: %u "
      "members reported that its data failed verification",
      g_hash_table_size (peer->reporters));

  g_autofree gchar *ban_time = g_strdup_printf ("%u", server->ban_time);

  mesh_tracker_log_event ("ban", "swarm", peer->swarm->id, "peer", peer->id,
      "addr", peer_address (peer), "why", why, "seconds", ban_time, NULL);
  ban_add (server, peer->id);
  fail_peer (peer, MESH_TRACKER_ERROR_BANNED, why);
  stats_update_sizes (server);
}

/* @msg: a report that decoded. Distinct reporters count, each once. */
static void
handle_report (Peer * peer, MeshTrackerMessage * msg)
{
  MeshTrackerServer *server = peer->server;
  Peer *target;

  if (!bucket_take_per_minute (&peer->reports, server->max_reports,
          g_get_monotonic_time ())) {
    send_error (peer, MESH_TRACKER_ERROR_TOO_MANY_REPORTS,
        "too many reports per minute", FALSE);
    return;
  }
  target = g_hash_table_lookup (peer->swarm->by_id, msg->peer);
  if (!target || target == peer) {
    send_error (peer, MESH_TRACKER_ERROR_UNKNOWN_PEER,
        "no such peer in this swarm", FALSE);
    return;
  }

  mesh_tracker_log_event ("report", "swarm", peer->swarm->id, "peer",
      peer->id, "addr", peer_address (peer), "target", target->id, "reason",
      msg->reason, NULL);
  STATS_LOCKED (server, server->stats.reports++);
  if (!target->reporters)
    target->reporters = g_hash_table_new_full (g_str_hash, g_str_equal,
        g_free, NULL);
  g_hash_table_add (target->reporters, g_strdup (peer->id));
  if (g_hash_table_size (target->reporters) >= server->report_threshold)
    ban_peer (target);
}

static void
attest_reply (gpointer client, const gchar * text, gpointer user_data)
{
  send_text (client, text);
}

/* @msg: an attest that decoded. A client over its attest bounds is
 * answered, and counted as if it sent a bad message: a flood of them ends
 * its connection. */
static void
handle_attest (Peer * peer, MeshTrackerMessage * msg)
{
  MeshTrackerServer *server = peer->server;
  g_autofree gchar *text = NULL;
  MeshTrackerAttestOutcome outcome;

  if (!server->attest) {
    text = mesh_tracker_encode_attested_error (msg->id,
        MESH_TRACKER_ATTEST_NOT_OFFERED);
    send_text (peer, text);
    return;
  }
  /* its HTTP session and timers live in the root, whatever shard asks */
  mesh_shard_loop_push (server->loop, server->context);
  outcome = mesh_tracker_attest_request (server->attest, peer,
      peer->swarm->id, msg->id, msg->url, msg->offset, msg->length);
  mesh_shard_loop_pop (server->loop, server->context);
  if (outcome == MESH_TRACKER_ATTEST_LIMITED
      && ++peer->bad_messages > server->max_bad_messages)
    fail_peer (peer, MESH_TRACKER_ERROR_BAD_MESSAGE,
        "too many attest requests");
}

/* A player's figures. A report within a second of the connection's
 * previous one is dropped, not punished: the next one carries the totals,
 * so nothing is lost. A counter going down is a bad message. */
static void
handle_qos (Peer * peer, MeshTrackerMessage * msg)
{
  MeshTrackerQosVerdict verdict = mesh_tracker_qos_report (peer->server->qos,
      peer, &msg->qos, g_get_monotonic_time ());

  if (verdict == MESH_TRACKER_QOS_DECREASED)
    bad_message (peer, "qos: a counter went down");
}

/* Before its join, a peer may only join or leave: whatever else it sends,
 * well formed or not, is "not-joined". */
static void
handle_message (Peer * peer, MeshTrackerMessage * msg, gboolean decoded,
    const GError * error)
{
  if (msg->type == MESH_TRACKER_MESSAGE_INVALID) {
    bad_message (peer, error->message);
  } else if (msg->type == MESH_TRACKER_MESSAGE_JOIN) {
    handle_join_message (peer, msg, decoded, error);
  } else if (!peer->swarm) {
    if (msg->type == MESH_TRACKER_MESSAGE_LEAVE)
      peer_close (peer, DISCONNECT_LEAVE, CLOSE_NORMAL, "leave");
    else
      fail_peer (peer, MESH_TRACKER_ERROR_NOT_JOINED,
          "the first message must be a join");
  } else if (!decoded) {
    bad_message (peer, error->message);
  } else if (msg->type == MESH_TRACKER_MESSAGE_SIGNAL) {
    handle_signal (peer, msg);
  } else if (msg->type == MESH_TRACKER_MESSAGE_REPORT) {
    handle_report (peer, msg);
  } else if (msg->type == MESH_TRACKER_MESSAGE_ATTEST) {
    handle_attest (peer, msg);
  } else if (msg->type == MESH_TRACKER_MESSAGE_QOS) {
    handle_qos (peer, msg);
  } else if (msg->type == MESH_TRACKER_MESSAGE_GET_PEERS) {
    if (peer->server->directory)
      list_remote (peer, FALSE);
    else
      send_list (peer, NULL, FALSE);
  } else if (msg->type == MESH_TRACKER_MESSAGE_HEARTBEAT) {
    /* last_seen is all it is for */
  } else if (msg->type == MESH_TRACKER_MESSAGE_LEAVE) {
    peer_close (peer, DISCONNECT_LEAVE, CLOSE_NORMAL, "leave");
  } else {
    g_autofree gchar *why = g_strdup_printf ("unknown message type \"%s\"",
        msg->type_name);
    bad_message (peer, why);
  }
}

static void
on_message (MeshTrackerConn * conn, gboolean is_text, const gchar * text,
    gsize size, gpointer data)
{
  Peer *peer = data;
  MeshTrackerServer *server = peer->server;
  g_autoptr (GError) error = NULL;
  MeshTrackerMessage msg;
  gboolean decoded;
  gint64 now = g_get_monotonic_time ();

  if (peer->closing)
    return;

  peer->last_seen = now;
  STATS_LOCKED (server, server->stats.messages++);

  if (!bucket_take (&peer->messages, server->rate, server->burst, now)) {
    fail_peer (peer, MESH_TRACKER_ERROR_RATE_LIMITED,
        "too many messages per second");
    return;
  }
  if (size > server->max_message_size) {
    g_autofree gchar *why = g_strdup_printf ("messages are limited to %u "
        "bytes", server->max_message_size);
    fail_peer (peer, MESH_TRACKER_ERROR_MESSAGE_TOO_LARGE, why);
    return;
  }
  if (!is_text) {
    bad_message (peer, "binary frames are not part of the protocol");
    return;
  }

  decoded = mesh_tracker_message_decode (&msg, MESH_TRACKER_TO_TRACKER, text,
      size, &error);
  handle_message (peer, &msg, decoded, error);
  mesh_tracker_message_clear (&msg);
}

/* Takes @address (a connection of it is counted already). */
static Peer *
peer_new (MeshTrackerServer * server, gint fd, Address * address)
{
  static const MeshTrackerConnCallbacks callbacks = {
    .message = on_message,
    .closed = on_closed,
  };
  Peer *peer = g_new0 (Peer, 1);
  gint64 now = g_get_monotonic_time ();
  /* room above the limit, so that a slightly larger message gets our
   * "message-too-large" rather than a bare close 1009 */
  gsize max_message = MAX ((gsize) server->max_message_size * 2, 4096);

  peer->server = server;
  peer->shard = mesh_shard_loop_join (server->loop);
  peer->conn = mesh_tracker_conn_new (fd, peer->shard, server->max_backlog,
      max_message, max_message + UNFRAMED_SLACK, &callbacks, peer);
  mesh_shard_loop_wake (server->loop, peer->shard);
  peer->address = address;
  peer->knows = g_hash_table_new (g_direct_hash, g_direct_equal);
  peer->known_by = g_hash_table_new (g_direct_hash, g_direct_equal);
  peer->last_seen = now;
  peer->serial = ++server->next_serial;
  bucket_fill (&peer->messages, server->burst, now);
  bucket_fill (&peer->reports, server->max_reports, now);

  mesh_wheel_schedule (server->wheel, &peer->deadline,
      now + server->timeout_us);
  return peer;
}

/* ------------------------------------------------------------------------ */
/* HTTP connections, until they become WebSockets                          */

static void
count_http_close (MeshTrackerServer * server, HttpCloseReason reason)
{
  gboolean timeout = reason == HTTP_CLOSE_HEADER_TIMEOUT;

  STATS_LOCKED (server, {
        server->http_closes_by_reason[reason]++;
        server->stats.header_timeouts += timeout;
        server->stats.refused += !timeout;
      });
}

static void on_pending_socket_gone (gpointer data,
    GObject * where_the_socket_was);

static void
pending_free (gpointer data)
{
  Pending *pending = data;

  if (pending->socket)
    g_object_weak_unref (G_OBJECT (pending->socket), on_pending_socket_gone,
        pending);
  if (pending->timeout_source) {
    g_source_destroy (pending->timeout_source);
    g_source_unref (pending->timeout_source);
  }
  g_free (pending);
}

static void
on_pending_socket_gone (gpointer data, GObject * where_the_socket_was)
{
  Pending *pending = data;
  MeshTrackerServer *server = pending->server;

  pending->socket = NULL;
  address_release (server, pending->address);
  g_hash_table_remove (server->pending, where_the_socket_was);
  stats_update_sizes (server);
}

/* The connection is ours (upgraded): no longer pending, nor timed. Its
 * Address (counted already, NULL for a trusted proxy's) goes to the
 * caller. FALSE if libsoup never said it started (then nothing is
 * counted). */
static gboolean
pending_take (MeshTrackerServer * server, GSocket * socket, Address ** address)
{
  Pending *pending = g_hash_table_lookup (server->pending, socket);

  *address = NULL;
  if (!pending)
    return FALSE;
  *address = pending->address;
  g_hash_table_remove (server->pending, socket);
  stats_update_sizes (server);
  return TRUE;
}

/* Shuts the socket down: libsoup sees the end of it and lets it go (the
 * socket's weak reference then forgets the Pending). */
static gboolean
on_header_timeout (gpointer data)
{
  Pending *pending = data;

  g_debug ("HTTP connection from %s: no WebSocket after %u s, closing",
      pending->address ? pending->address->key : "a trusted proxy",
      pending->server->header_timeout);
  count_http_close (pending->server, HTTP_CLOSE_HEADER_TIMEOUT);
  g_clear_pointer (&pending->timeout_source, g_source_unref);
  g_socket_shutdown (pending->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

/* Answers a connection we will not serve, without reading its request:
 * a fresh socket takes these few bytes at once. */
static void
refuse_connection (MeshTrackerServer * server, GSocket * socket,
    HttpCloseReason reason, const gchar * address)
{
  static const gchar unavailable[] = "HTTP/1.1 503 Service Unavailable\r\n"
      "Connection: close\r\nContent-Length: 0\r\nRetry-After: 10\r\n\r\n";
  static const gchar too_many[] = "HTTP/1.1 429 Too Many Requests\r\n"
      "Connection: close\r\nContent-Length: 0\r\nRetry-After: 10\r\n\r\n";
  const gchar *answer = reason == HTTP_CLOSE_TOO_MANY_FROM_IP ? too_many :
      unavailable;

  mesh_tracker_log_event ("refused", "addr", address, "reason",
      http_close_reason_names[reason], NULL);
  count_http_close (server, reason);
  g_socket_send_with_blocking (socket, answer, strlen (answer), FALSE, NULL,
      NULL);
  g_socket_shutdown (socket, TRUE, TRUE, NULL);
}

/* libsoup 3.1.2 to 3.3.x keep the reference on the socket that accepting
 * returned (fixed in 3.4.0 by "soup-listener: Plug a leak"): some 370 bytes
 * per connection for ever, and a socket that is never finalized, which
 * Pending relies on. We drop that reference for libsoup, once per socket,
 * while libsoup's connection still holds its own. */
static void
drop_leaked_socket_reference (GSocket * socket)
{
  guint version = soup_get_major_version () * 10000 +
      soup_get_minor_version () * 100 + soup_get_micro_version ();

  if (version >= 30102 && version < 30400)
    g_object_unref (socket);
}

static guint
open_connections (MeshTrackerServer * server)
{
  return g_hash_table_size (server->connections) +
      g_hash_table_size (server->pending);
}

/* libsoup starts a request: the first of a new connection, or the next one
 * on a connection kept alive (already counted). A new connection is
 * counted, or refused when there are too many, and timed.
 *
 * Every plain HTTP answer closes its connection: libsoup before 3.3 loses
 * track of a kept-alive connection that the client closes while idle (its
 * descriptor stays open for ever), and /health and /metrics gain nothing
 * from keeping one. */
static void
on_request_started (SoupServer * soup, SoupServerMessage * msg, gpointer data)
{
  MeshTrackerServer *server = data;
  GSocket *socket = soup_server_message_get_socket (msg);
  g_autoptr (GInetAddress) inet = NULL;
  g_autofree gchar *text = NULL;
  Address *address = NULL;
  Pending *pending;

  soup_message_headers_replace (soup_server_message_get_response_headers
      (msg), "Connection", "close");
  if (!socket || g_hash_table_contains (server->pending, socket))
    return;
  drop_leaked_socket_reference (socket);
  inet = socket_peer_address (socket);
  text = inet ? g_inet_address_to_string (inet) : g_strdup ("?");
  if (inet && !is_trusted_proxy (server, inet))
    address = address_lookup (server, inet);
  if (server->stopping || open_connections (server) >= server->max_connections) {
    refuse_connection (server, socket, HTTP_CLOSE_TOO_MANY_CONNECTIONS, text);
    return;
  }
  if (address && address_is_full (server, address)) {
    refuse_connection (server, socket, HTTP_CLOSE_TOO_MANY_FROM_IP, text);
    return;
  }

  pending = g_new0 (Pending, 1);
  pending->server = server;
  pending->socket = socket;
  pending->address = address;
  if (address)
    address->connections++;
  pending->timeout_source = g_timeout_source_new_seconds
      (server->header_timeout);
  g_source_set_callback (pending->timeout_source, on_header_timeout, pending,
      NULL);
  g_source_attach (pending->timeout_source, server->context);
  g_object_weak_ref (G_OBJECT (socket), on_pending_socket_gone, pending);
  g_hash_table_insert (server->pending, socket, pending);
  stats_update_sizes (server);
}

/* The client a trusted proxy speaks for: the last X-Forwarded-For entry,
 * the one the proxy added. NULL when there is none that parses. */
static GInetAddress *
forwarded_address (SoupServerMessage * msg)
{
  const gchar *header = soup_message_headers_get_list
      (soup_server_message_get_request_headers (msg), "X-Forwarded-For");
  const gchar *last;
  g_autofree gchar *entry = NULL;

  if (!header)
    return NULL;
  last = strrchr (header, ',');
  entry = g_strstrip (g_strdup (last ? last + 1 : header));
  return g_inet_address_new_from_string (entry);
}

/* The Address a proxied connection counts under, or NULL (the proxy named
 * none: it is only counted in all). */
static Address *
proxied_address (MeshTrackerServer * server, SoupServerMessage * msg)
{
  g_autoptr (GInetAddress) inet = forwarded_address (msg);
  Address *address;

  if (!inet) {
    g_debug ("a trusted proxy sent no usable X-Forwarded-For");
    return NULL;
  }
  address = address_lookup (server, inet);
  address->connections++;
  return address;
}

/* The descriptor of the connection libsoup hands over, ours alone: libsoup
 * and GIO let go of theirs (the stream is closed), and the root's epoll of
 * it, which would otherwise outlive it. -1 if there is none. */
static gint
take_descriptor (MeshTrackerServer * server, GSocket * socket, GIOStream * base)
{
  gint fd = socket ? fcntl (g_socket_get_fd (socket), F_DUPFD_CLOEXEC, 0) : -1;

  if (fd < 0)
    g_warning ("cannot take over a WebSocket's descriptor: %s",
        socket ? g_strerror (errno) : "no socket");
  if (socket)
    mesh_shard_loop_unregister (server->loop, server->context,
        g_socket_get_fd (socket));
  g_io_stream_close (base, NULL, NULL);
  return fd;
}

/* The 101 went out: the connection is a WebSocket, on its own descriptor
 * from now on. */
static void
on_upgraded (SoupServerMessage * msg, gpointer data)
{
  MeshTrackerServer *server = data;
  GSocket *socket = soup_server_message_get_socket (msg);
  g_autoptr (GIOStream) base = NULL;
  g_autoptr (GInetAddress) inet = NULL;
  Address *address;
  gboolean proxied;
  Peer *peer;
  gint fd;

  proxied = pending_take (server, socket, &address) && !address;
  if (proxied)
    address = proxied_address (server, msg);
  if (proxied)
    inet = forwarded_address (msg);
  else if (socket)
    inet = socket_peer_address (socket);

  base = soup_server_message_steal_connection (msg);
  fd = take_descriptor (server, socket, base);
  if (fd < 0) {
    address_release (server, address);
    return;
  }
  peer = peer_new (server, fd, address);
  peer->inet = g_steal_pointer (&inet);
  g_hash_table_add (server->connections, peer);
  stats_update_sizes (server);
  if (server->stopping)
    peer_close (peer, DISCONNECT_SHUTDOWN, CLOSE_GOING_AWAY, "shutting down");
  else if (proxied && address && address->connections >
      server->max_connections_per_ip)
    fail_peer (peer, MESH_TRACKER_ERROR_TOO_MANY_CONNECTIONS,
        "too many connections from this address");
}

/* GET /announce: the WebSocket handshake, with no extension (a
 * permessage-deflate context costs some 100 KiB per connection, for
 * messages of a few hundred bytes). */
static void
handle_announce (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  const gchar *protocols[] = { MESH_TRACKER_SUBPROTOCOL, NULL };
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);

  /* the handshake says "Connection: Upgrade" */
  soup_message_headers_remove (response, "Connection");
  if (soup_websocket_server_process_handshake (msg, NULL,
          (gchar **) protocols, NULL, NULL))
    g_signal_connect (msg, "wrote-informational", G_CALLBACK (on_upgraded),
        data);
  else
    soup_message_headers_replace (response, "Connection", "close");
}

/* ------------------------------------------------------------------------ */
/* HTTP: /health and /metrics                                               */

static gboolean
accept_get (SoupServerMessage * msg)
{
  const gchar *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;
  soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC,
      "GET only\n", strlen ("GET only\n"));
  return FALSE;
}

static void
handle_health (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  MeshTrackerServer *server = data;
  gchar *text;

  if (!accept_get (msg))
    return;
  text = g_strdup_printf ("{\"status\":\"ok\",\"swarms\":%u,\"peers\":%u}\n",
      g_hash_table_size (server->swarms), mesh_tracker_server_get_peers
      (server));
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json",
      SOUP_MEMORY_TAKE, text, strlen (text));
}

static void
append_metric (GString * out, const gchar * name, const gchar * type,
    const gchar * help)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
      name, type);
}

/* Its cost: one origin fetch per segment per swarm. */
static void
append_attest_metrics (GString * out, MeshTrackerServer * server)
{
  MeshTrackerAttestStats stats = { 0, };

  if (server->attest)
    mesh_tracker_attest_get_stats (server->attest, &stats);
  mesh_tracker_append_metric (out, "mesh_tracker_attest_requests_total",
      "counter", "Attest requests taken.", stats.requests);
  mesh_tracker_append_metric (out, "mesh_tracker_attest_cache_hits_total",
      "counter", "Attest requests answered from the cache.", stats.cached);
  mesh_tracker_append_metric (out, "mesh_tracker_attest_refused_total",
      "counter", "Attest requests answered with an error.", stats.refused);
  mesh_tracker_append_metric (out, "mesh_tracker_attest_fetches_total",
      "counter", "Origin fetches made for attested digests.", stats.fetches);
}

static gchar *
render_metrics (MeshTrackerServer * server)
{
  GString *out = g_string_new (NULL);
  MeshTrackerStats stats;
  guint64 errors[MESH_TRACKER_N_ERRORS];
  guint64 disconnects[N_DISCONNECT_REASONS];
  guint64 http_closes[N_HTTP_CLOSE_REASONS];
  guint i;

  STATS_LOCKED (server, {
        stats = server->stats;
        memcpy (errors, server->errors_by_code, sizeof (errors));
        memcpy (disconnects, server->disconnects_by_reason,
            sizeof (disconnects));
        memcpy (http_closes, server->http_closes_by_reason,
            sizeof (http_closes));
      }
  );

  mesh_tracker_append_metric (out, "mesh_tracker_peers", "gauge",
      "Joined peers.", stats.peers);
  mesh_tracker_append_metric (out, "mesh_tracker_swarms", "gauge",
      "Swarms with members.", stats.swarms);
  mesh_tracker_append_metric (out, "mesh_tracker_connections", "gauge",
      "Open WebSocket connections, joined or not.", stats.connections);
  mesh_tracker_append_metric (out, "mesh_tracker_pending_connections", "gauge",
      "HTTP connections not (yet) upgraded to WebSocket.", stats.pending);
  mesh_tracker_append_metric (out, "mesh_tracker_banned_ids", "gauge",
      "Peer ids refused after reports.", stats.banned);
  mesh_tracker_append_metric (out, "mesh_tracker_joins_total", "counter",
      "Successful joins.", stats.joins);
  mesh_tracker_append_metric (out, "mesh_tracker_signals_total", "counter",
      "Signal messages relayed.", stats.signals);
  mesh_tracker_append_metric (out, "mesh_tracker_messages_total", "counter",
      "Messages received from clients.", stats.messages);
  mesh_tracker_append_metric (out, "mesh_tracker_reports_total", "counter",
      "Reports taken (a member's data failed another's verification).",
      stats.reports);
  append_metric (out, "mesh_tracker_notifications_total", "counter",
      "peer-joined and peer-left messages sent.");
  g_string_append_printf (out,
      "mesh_tracker_notifications_total" "{type=\"peer-joined\"} %"
      G_GUINT64_FORMAT "\n", stats.peer_joined_sent);
  g_string_append_printf (out,
      "mesh_tracker_notifications_total" "{type=\"peer-left\"} %"
      G_GUINT64_FORMAT "\n", stats.peer_left_sent);
  append_metric (out, "mesh_tracker_errors_total", "counter",
      "Error messages sent, by code.");
  for (i = 0; i < MESH_TRACKER_N_ERRORS; i++)
    g_string_append_printf (out, "mesh_tracker_errors_total{code=\"%s\"} %"
        G_GUINT64_FORMAT "\n", mesh_tracker_error_code_name (i), errors[i]);
  append_metric (out, "mesh_tracker_disconnects_total", "counter",
      "Connections ended, by reason.");
  for (i = 0; i < N_DISCONNECT_REASONS; i++)
    g_string_append_printf (out, "mesh_tracker_disconnects_total"
        "{reason=\"%s\"} %" G_GUINT64_FORMAT "\n", disconnect_reason_names[i],
        disconnects[i]);
  append_metric (out, "mesh_tracker_http_closes_total", "counter",
      "HTTP connections closed before becoming WebSockets, by reason.");
  for (i = 0; i < N_HTTP_CLOSE_REASONS; i++)
    g_string_append_printf (out, "mesh_tracker_http_closes_total"
        "{reason=\"%s\"} %" G_GUINT64_FORMAT "\n", http_close_reason_names[i],
        http_closes[i]);
  append_attest_metrics (out, server);
  append_directory_metrics (out, server);
  mesh_tracker_api_append_metrics (server->qos, out);

  return g_string_free (out, FALSE);
}

static void
handle_metrics (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  gchar *text;

  if (!accept_get (msg))
    return;
  text = render_metrics (data);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain; version=0.0.4",
      SOUP_MEMORY_TAKE, text, strlen (text));
}

static void
handle_other (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  static const gchar text[] = "not found: try /announce (WebSocket), "
      "/health or /metrics\n";

  if (g_str_equal (path, "/")) {
    mesh_tracker_api_serve_page (((MeshTrackerServer *) data)->api, msg, query);
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC,
      text, strlen (text));
}

/* ------------------------------------------------------------------------ */
/* Server thread and life cycle                                             */

/* g_socket_bind() with SO_REUSEPORT set: GLib's own clears it on stream
 * sockets. */
static gboolean
bind_sharing_port (GSocket * socket, GSocketAddress * address, GError ** error)
{
  struct sockaddr_storage native;
  gsize size = g_socket_address_get_native_size (address);
  gint errsv;

  if (!g_socket_set_option (socket, SOL_SOCKET, SO_REUSEADDR, TRUE, error)
      || !g_socket_set_option (socket, SOL_SOCKET, SO_REUSEPORT, TRUE, error)
      || !g_socket_address_to_native (address, &native, sizeof (native), error))
    return FALSE;
  if (bind (g_socket_get_fd (socket), (struct sockaddr *) &native, size) == 0)
    return TRUE;
  errsv = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
      "Error binding to address: %s", g_strerror (errsv));
  return FALSE;
}

/* A socket bound to @address and listening, with our backlog; with
 * @reuse_port, other sockets that say so may bind the same address. */
static GSocket *
listening_socket (GSocketAddress * address, gboolean reuse_port,
    GError ** error)
{
  GSocketFamily family = g_socket_address_get_family (address);
  g_autoptr (GSocket) socket = g_socket_new (family, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_DEFAULT, error);

  if (!socket)
    return NULL;
  /* "::" is IPv6 alone, as soup_server_listen() has it */
  if (family == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!(reuse_port ? bind_sharing_port (socket, address, error) :
          g_socket_bind (socket, address, TRUE, error))
      || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

static gboolean
server_listen (MeshTrackerServer * server, GError ** error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  GSList *uris;
  const gchar *url_host;
  g_autofree gchar *authority = NULL;

  address = g_inet_socket_address_new_from_string (server->host, server->port);
  if (!address) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s' is not an IP address", server->host);
    return FALSE;
  }

  server->soup = soup_server_new ("server-header", "mesh-tracker ", NULL);
  soup_server_add_handler (server->soup, NULL, handle_other, server, NULL);
  soup_server_add_handler (server->soup, "/health", handle_health, server,
      NULL);
  soup_server_add_handler (server->soup, "/metrics", handle_metrics, server,
      NULL);
  soup_server_add_handler (server->soup, ANNOUNCE_PATH, handle_announce,
      server, NULL);
  server->api = mesh_tracker_api_new (server->soup, server->qos,
      server->admin_token);
  g_signal_connect (server->soup, "request-started",
      G_CALLBACK (on_request_started), server);
  socket = listening_socket (address, server->reuse_port, error);
  if (!socket || !soup_server_listen_socket (server->soup, socket, 0, error))
    return FALSE;

  uris = soup_server_get_uris (server->soup);
  if (!uris) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "server has no URI");
    return FALSE;
  }
  server->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  /* a wildcard bind is reached through loopback */
  if (g_str_equal (server->host, "0.0.0.0"))
    url_host = "127.0.0.1";
  else if (g_str_equal (server->host, "::"))
    url_host = "::1";
  else
    url_host = server->host;
  authority = strchr (url_host, ':') ?
      g_strdup_printf ("[%s]:%u", url_host, server->port) :
      g_strdup_printf ("%s:%u", url_host, server->port);
  server->url = g_strdup_printf ("ws://%s" ANNOUNCE_PATH, authority);
  server->http_url = g_strdup_printf ("http://%s", authority);
  return TRUE;
}

static gboolean
on_shutdown_timeout (gpointer data)
{
  MeshTrackerServer *server = data;

  g_debug ("%u connections did not finish closing",
      g_hash_table_size (server->connections));
  mesh_shard_loop_quit (server->loop);
  return G_SOURCE_REMOVE;
}

/* Closes every connection with 1001 and quits once they are all closed, or
 * after SHUTDOWN_TIMEOUT_MS. */
static gboolean
begin_shutdown (gpointer data)
{
  MeshTrackerServer *server = data;
  GHashTableIter iter;
  gpointer key;
  GSource *timeout;

  server->stopping = TRUE;
  /* peer_close() leaves server->connections alone: "closed" is handled on
   * an idle source */
  g_hash_table_iter_init (&iter, server->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    peer_close (key, DISCONNECT_SHUTDOWN, CLOSE_GOING_AWAY, "shutting down");

  timeout = g_timeout_source_new (SHUTDOWN_TIMEOUT_MS);
  g_source_set_callback (timeout, on_shutdown_timeout, server, NULL);
  g_source_attach (timeout, server->context);
  g_source_unref (timeout);

  maybe_finish_shutdown (server);
  return G_SOURCE_REMOVE;
}

static void
end_connection_now (gpointer key, gpointer value, gpointer data)
{
  Peer *peer = key;

  mesh_tracker_conn_end (peer->conn);
}

static gboolean
on_qos_tick (gpointer data)
{
  MeshTrackerServer *server = data;

  mesh_tracker_qos_tick (server->qos, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

/* On the server thread, its context the thread-default one: the directory
 * runs there. */
static void
server_start_directory (MeshTrackerServer * server)
{
  g_autoptr (GError) error = NULL;

  server->directory = server->hub ?
      mesh_tracker_hub_directory_new (server->hub) :
      mesh_tracker_redis_new (server->redis_url, server->heartbeat,
      server->max_message_size, &error);
  /* the URL was checked by mesh_tracker_server_start() */
  g_return_if_fail (server->directory != NULL);
  g_signal_connect (server->directory, "message",
      G_CALLBACK (on_directory_message), server);
  g_signal_connect (server->directory, "undelivered",
      G_CALLBACK (on_directory_undelivered), server);
}

static gpointer
server_thread (gpointer data)
{
  MeshTrackerServer *server = data;
  GError *error = NULL;
  gboolean ok;

  g_main_context_push_thread_default (server->context);

  server->loop = mesh_shard_loop_new (server->context, SHARD_SIZE, &error);
  ok = server->loop && server_listen (server, &error);

  g_mutex_lock (&server->lock);
  server->start_error = error;
  server->thread_ready = TRUE;
  g_cond_signal (&server->cond);
  g_mutex_unlock (&server->lock);

  if (ok) {
    server->sweep_source = g_timeout_source_new_seconds (SWEEP_INTERVAL_S);
    g_source_set_callback (server->sweep_source, on_sweep, server, NULL);
    g_source_attach (server->sweep_source, server->context);
    server->qos_source = g_timeout_source_new_seconds (1);
    g_source_set_callback (server->qos_source, on_qos_tick, server, NULL);
    g_source_attach (server->qos_source, server->context);
    server->wheel_source = g_timeout_source_new (WHEEL_TICK_US / 1000);
    g_source_set_callback (server->wheel_source, on_wheel_tick, server, NULL);
    g_source_attach (server->wheel_source, server->context);
    if (server->redis_url || server->hub)
      server_start_directory (server);
    mesh_shard_loop_run (server->loop);
    g_source_destroy (server->wheel_source);
    g_clear_pointer (&server->wheel_source, g_source_unref);
    g_source_destroy (server->sweep_source);
    g_clear_pointer (&server->sweep_source, g_source_unref);
    g_source_destroy (server->qos_source);
    g_clear_pointer (&server->qos_source, g_source_unref);
  }

  if (server->attest)
    mesh_tracker_attest_shutdown (server->attest);
  /* the peers that did not close in time (all are out of their swarms):
   * what waits for their queues to drain is over */
  g_hash_table_foreach (server->connections, end_connection_now, NULL);
  while (server->loop && mesh_shard_loop_iterate_all (server->loop));
  /* the leaves told (best effort), what waits for it answered: before the
   * swarms and peers go */
  if (server->directory) {
    g_signal_handlers_disconnect_by_data (server->directory, server);
    /* it leaves what it shares now, even if a message handed to it by
     * another instance still holds a reference */
    g_object_run_dispose (G_OBJECT (server->directory));
  }
  g_clear_object (&server->directory);
  g_hash_table_remove_all (server->connections);
  g_hash_table_remove_all (server->swarms);
  g_hash_table_remove_all (server->pending);
  if (server->soup) {
    soup_server_disconnect (server->soup);
    g_clear_object (&server->soup);
  }
  g_clear_pointer (&server->api, mesh_tracker_api_free);
  while (server->loop && mesh_shard_loop_iterate_all (server->loop));
  g_clear_pointer (&server->loop, mesh_shard_loop_free);

  g_main_context_pop_thread_default (server->context);
  return NULL;
}

static void
server_free (MeshTrackerServer * server)
{
  g_free (server->host);
  g_clear_pointer (&server->token_secret, g_bytes_unref);
  g_clear_pointer (&server->attest, mesh_tracker_attest_free);
  g_clear_pointer (&server->qos, mesh_tracker_qos_free);
  g_free (server->admin_token);
  g_free (server->redis_url);
  g_clear_pointer (&server->hub, mesh_tracker_hub_unref);
  mesh_locality_table_unref (server->asn_table);
  mesh_locality_table_unref (server->region_table);
  g_mutex_clear (&server->networks_lock);
  g_ptr_array_unref (server->trusted_proxies);
  g_free (server->url);
  g_free (server->http_url);
  g_clear_pointer (&server->context, g_main_context_unref);
  g_hash_table_unref (server->connections);
  g_hash_table_unref (server->swarms);
  mesh_wheel_free (server->wheel);
  g_hash_table_unref (server->pending);
  g_hash_table_unref (server->addresses);
  g_hash_table_unref (server->grants);
  g_hash_table_unref (server->bans);
  g_queue_clear_full (&server->ban_order, ban_free);
  g_clear_error (&server->start_error);
  g_mutex_clear (&server->lock);
  g_mutex_clear (&server->stats_lock);
  g_mutex_clear (&server->secret_lock);
  g_cond_clear (&server->cond);
  g_free (server);
}

#define OR_DEFAULT(value, fallback) ((value) ? (value) : (fallback))

static void
server_configure (MeshTrackerServer * server, const MeshTrackerConfig * config)
{
  server->host = g_strdup (OR_DEFAULT (config->host, "127.0.0.1"));
  server->port = config->port;
  server->reuse_port = config->reuse_port;
  server->max_peers = OR_DEFAULT (config->max_peers,
      MESH_TRACKER_DEFAULT_MAX_PEERS);
  server->heartbeat = OR_DEFAULT (config->heartbeat,
      MESH_TRACKER_DEFAULT_HEARTBEAT);
  server->timeout_us = server->heartbeat * HEARTBEAT_GRACE * G_USEC_PER_SEC;
  server->max_message_size = OR_DEFAULT (config->max_message_size,
      MESH_TRACKER_DEFAULT_MAX_MESSAGE_SIZE);
  server->max_signal_size = OR_DEFAULT (config->max_signal_size,
      MESH_TRACKER_DEFAULT_MAX_SIGNAL_SIZE);
  server->rate = OR_DEFAULT (config->rate, MESH_TRACKER_DEFAULT_RATE);
  server->burst = OR_DEFAULT (config->burst, MESH_TRACKER_DEFAULT_BURST);
  server->max_swarm_peers = OR_DEFAULT (config->max_swarm_peers,
      MESH_TRACKER_DEFAULT_MAX_SWARM_PEERS);
  server->max_swarms = OR_DEFAULT (config->max_swarms,
      MESH_TRACKER_DEFAULT_MAX_SWARMS);
  server->max_connections = OR_DEFAULT (config->max_connections,
      MESH_TRACKER_DEFAULT_MAX_CONNECTIONS);
  server->max_bad_messages = OR_DEFAULT (config->max_bad_messages,
      MESH_TRACKER_DEFAULT_MAX_BAD_MESSAGES);
  server->max_backlog = OR_DEFAULT (config->max_backlog,
      MESH_TRACKER_DEFAULT_MAX_BACKLOG);
  server->header_timeout = OR_DEFAULT (config->header_timeout,
      MESH_TRACKER_DEFAULT_HEADER_TIMEOUT);
  server->max_connections_per_ip = OR_DEFAULT (config->max_connections_per_ip,
      MESH_TRACKER_DEFAULT_MAX_CONNECTIONS_PER_IP);
  server->max_joins_per_ip = OR_DEFAULT (config->max_joins_per_ip,
      MESH_TRACKER_DEFAULT_MAX_JOINS_PER_IP);
  server->max_peers_per_token = OR_DEFAULT (config->max_peers_per_token,
      MESH_TRACKER_DEFAULT_MAX_PEERS_PER_TOKEN);
  server->max_joins_per_token = OR_DEFAULT (config->max_joins_per_token,
      MESH_TRACKER_DEFAULT_MAX_JOINS_PER_TOKEN);
  server->report_threshold = OR_DEFAULT (config->report_threshold,
      MESH_TRACKER_DEFAULT_REPORT_THRESHOLD);
  server->max_reports = OR_DEFAULT (config->max_reports,
      MESH_TRACKER_DEFAULT_MAX_REPORTS);
  server->ban_time = OR_DEFAULT (config->ban_time,
      MESH_TRACKER_DEFAULT_BAN_TIME);
  server->locality = !config->no_locality;
  server->prefix_v4 = OR_DEFAULT (config->prefix_v4,
      MESH_LOCALITY_DEFAULT_PREFIX_V4);
  server->prefix_v6 = OR_DEFAULT (config->prefix_v6,
      MESH_LOCALITY_DEFAULT_PREFIX_V6);
  server->cross_network_share = MIN (OR_DEFAULT (config->cross_network_share,
          MESH_LOCALITY_DEFAULT_CROSS_SHARE), 100);
  if (config->token_secret)
    server->token_secret = g_bytes_new (config->token_secret,
        OR_DEFAULT (config->token_secret_size, strlen (config->token_secret)));
  server->admin_token = g_strdup (config->admin_token);
  server->redis_url = g_strdup (config->redis);
  server->hub = config->hub ? mesh_tracker_hub_ref (config->hub) : NULL;
  {
    MeshTrackerQosConfig qos = {.interval = config->qos_interval };

    server->qos = mesh_tracker_qos_new (&qos, g_get_monotonic_time ());
  }
}

/* Parses the trusted proxies' addresses into @server. */
/* Brings max-connections within what the descriptor limit allows: a
 * client is a descriptor, and each shard of SHARD_SIZE takes two more (its
 * context's wakeup and its epoll instance). Past the limit accepting
 * fails, and GLib aborts when a new shard cannot get its wakeup. */
static void
fit_connections_to_descriptors (MeshTrackerServer * server, guint instances)
{
  struct rlimit limit;
  guint64 usable, fits;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return;
  usable = limit.rlim_cur > RESERVED_DESCRIPTORS ?
      (limit.rlim_cur - RESERVED_DESCRIPTORS) / MAX (instances, 1) : 0;
  fits = MAX (usable * SHARD_SIZE / (SHARD_SIZE + 2), 1);
  if (server->max_connections <= fits)
    return;
  g_message ("max-connections %u is more than %s%" G_GUINT64_FORMAT
      " open files allow: using %" G_GUINT64_FORMAT " (raise the limit: "
      "LimitNOFILE= in the unit, ulimit -n)", server->max_connections,
      instances > 1 ? "an instance's share of " : "",
      (guint64) limit.rlim_cur, fits);
  server->max_connections = (guint) fits;
}

static gboolean
server_configure_proxies (MeshTrackerServer * server,
    const MeshTrackerConfig * config, GError ** error)
{
  guint i;

  server->trusted_proxies = g_ptr_array_new_with_free_func (g_object_unref);
  for (i = 0; config->trusted_proxies && config->trusted_proxies[i]; i++) {
    GInetAddress *inet =
        g_inet_address_new_from_string (config->trusted_proxies[i]);

    if (!inet) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "trusted proxy '%s' is not an IP address",
          config->trusted_proxies[i]);
      return FALSE;
    }
    g_ptr_array_add (server->trusted_proxies, inet);
  }
  return TRUE;
}

static gboolean
server_configure_attest (MeshTrackerServer * server,
    const MeshTrackerConfig * config, GError ** error)
{
  MeshTrackerAttestConfig attest = {
    .origins = config->attest_origins,
    .max_outstanding = config->attest_max_outstanding,
    .rate = config->attest_rate,
    .timeout = config->attest_timeout,
    .max_fetches = config->attest_max_fetches,
  };

  if (!config->attest_origins)
    return TRUE;
  server->attest = mesh_tracker_attest_new (&attest, attest_reply, server,
      error);
  return server->attest != NULL;
}

/* @filename's table, or NULL (in *table) when @filename is NULL. */
static gboolean
load_table (const gchar * filename, MeshLocalityTableKind kind,
    MeshLocalityTable ** table, GError ** error)
{
  *table = NULL;
  if (!filename)
    return TRUE;
  *table = mesh_locality_table_load (filename, kind, error);
  if (*table)
    g_info ("%s: %u prefixes, %" G_GSIZE_FORMAT " KiB", filename,
        mesh_locality_table_get_size (*table),
        mesh_locality_table_get_memory (*table) / 1024);
  return *table != NULL;
}

gboolean
mesh_tracker_server_load_networks (MeshTrackerServer * server,
    const gchar * asn_db, const gchar * region_db, GError ** error)
{
  MeshLocalityTable *asn_table, *region_table, *old_asn, *old_region;

  g_return_val_if_fail (server != NULL, FALSE);
  if (!load_table (asn_db, MESH_LOCALITY_TABLE_ASN, &asn_table, error))
    return FALSE;
  if (!load_table (region_db, MESH_LOCALITY_TABLE_REGION, &region_table, error)) {
    mesh_locality_table_unref (asn_table);
    return FALSE;
  }
  g_mutex_lock (&server->networks_lock);
  old_asn = server->asn_table;
  old_region = server->region_table;
  server->asn_table = asn_table;
  server->region_table = region_table;
  g_mutex_unlock (&server->networks_lock);
  /* the last reference may be a join's, on the server thread */
  mesh_locality_table_unref (old_asn);
  mesh_locality_table_unref (old_region);
  return TRUE;
}

/* Redis mode is built in, and @url is a Redis URL. */
static gboolean
redis_url_is_usable (const gchar * url, GError ** error)
{
  g_autofree gchar *host = NULL;
  guint port, db;

  if (!mesh_tracker_redis_is_supported ()) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "Redis mode: this mesh-tracker was built without hiredis");
    return FALSE;
  }
  return mesh_tracker_redis_parse_url (url, &host, &port, &db, error);
}

MeshTrackerServer *
mesh_tracker_server_start (const MeshTrackerConfig * config, GError ** error)
{
  MeshTrackerServer *server;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (config->token_secret && config->token_secret_size == 0
      && config->token_secret[0] == '\0') {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "the token secret is empty");
    return NULL;
  }
  if (config->admin_token
      && !mesh_tracker_is_valid_admin_token (config->admin_token)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "an admin token is %d to %d characters of [A-Za-z0-9._~+/=-]",
        MESH_TRACKER_ADMIN_TOKEN_MIN, MESH_TRACKER_ADMIN_TOKEN_MAX);
    return NULL;
  }

  if (config->redis && config->hub) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "an instance shares its swarms through Redis or through the other "
        "threads of its process, not both");
    return NULL;
  }
  if (config->redis && !redis_url_is_usable (config->redis, error))
    return NULL;

  server = g_new0 (MeshTrackerServer, 1);
  server_configure (server, config);
  fit_connections_to_descriptors (server, config->instances);
  server->swarms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      swarm_free);
  server->connections = g_hash_table_new_full (g_direct_hash, g_direct_equal,
      peer_free, NULL);
  server->pending = g_hash_table_new_full (g_direct_hash, g_direct_equal,
      NULL, pending_free);
  server->addresses = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      address_free);
  server->grants = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      grant_free);
  server->bans = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&server->ban_order);
  g_mutex_init (&server->lock);
  g_mutex_init (&server->stats_lock);
  g_mutex_init (&server->secret_lock);
  g_mutex_init (&server->networks_lock);
  g_cond_init (&server->cond);
  server->context = g_main_context_new ();
  server->wheel = mesh_wheel_new (WHEEL_TICK_US, WHEEL_SLOTS,
      g_get_monotonic_time ());
  if (!server_configure_proxies (server, config, error)
      || !server_configure_attest (server, config, error)
      || !mesh_tracker_server_load_networks (server, config->asn_db,
          config->region_db, error)) {
    server_free (server);
    return NULL;
  }

  server->thread = g_thread_new ("mesh-tracker", server_thread, server);

  g_mutex_lock (&server->lock);
  while (!server->thread_ready)
    g_cond_wait (&server->cond, &server->lock);
  g_mutex_unlock (&server->lock);

  if (server->start_error) {
    g_thread_join (server->thread);
    g_propagate_error (error, g_steal_pointer (&server->start_error));
    server_free (server);
    return NULL;
  }
  return server;
}

void
mesh_tracker_server_stop (MeshTrackerServer * server)
{
  GSource *source;

  if (!server)
    return;

  /* a source rather than a direct call: the loop may not run yet, and the
   * state belongs to the server thread */
  source = g_idle_source_new ();
  g_source_set_callback (source, begin_shutdown, server, NULL);
  g_source_attach (source, server->context);
  g_source_unref (source);

  g_thread_join (server->thread);
  server_free (server);
}
