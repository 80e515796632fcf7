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
 *    SoupServer and every GSource below. Swarms, peers, every WebSocket
 *    connection and the "who was told about whom" bookkeeping are touched by
 *    that thread only, so they need no lock.
 *  - The counters (server->stats and the per-code/per-reason tables) are
 *    written by the server thread and read by any thread through the getters:
 *    they live under server->stats_lock, which is never held across a call
 *    into libsoup or json-glib.
 *  - The configuration, port and URLs are written before
 *    mesh_tracker_server_start() returns and are read-only afterwards.
 *
 * Life of a connection: on_websocket() wraps it in a Peer, owned by
 * server->connections. Closing it ourselves (leave, fatal error, timeout,
 * shutdown) goes through peer_close(), which takes the peer out of its swarm
 * at once and starts the WebSocket close handshake. libsoup's "closed" signal
 * (which may fire in the middle of a send to that peer) only schedules
 * peer_reap() on an idle source, so a Peer never disappears under a function
 * that is busy with it.
 *
 * Clients that do not read: libsoup queues what we send without a bound,
 * and libsoup 3.2 does not tell how much is queued. It writes whenever the
 * socket takes more, so while the socket is writable its queue is (about)
 * empty; what we send while it is not piles up in that queue. `backlog`
 * counts the bytes sent since the socket was last seen writable; past
 * max_backlog the client is cut off (peer_too_slow(), from an idle source:
 * sends happen in the middle of loops over peers). The kernel's buffers come
 * on top, bounded by the kernel.
 */

#define G_LOG_DOMAIN "mesh-tracker"

#include "mesh-tracker-server.h"

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define ANNOUNCE_PATH "/announce"
/* a peer is gone after this many heartbeat intervals of silence */
#define HEARTBEAT_GRACE 2.5
/* how long shutdown waits for the close handshakes */
#define SHUTDOWN_TIMEOUT_MS 2000
/* RFC 6455 close codes */
#define CLOSE_POLICY_VIOLATION SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION
#define CLOSE_GOING_AWAY SOUP_WEBSOCKET_CLOSE_GOING_AWAY
#define CLOSE_NORMAL SOUP_WEBSOCKET_CLOSE_NORMAL

typedef enum
{
  DISCONNECT_CLOSED,            /* the client closed (or the network did) */
  DISCONNECT_LEAVE,
  DISCONNECT_TIMEOUT,
  DISCONNECT_REPLACED,
  DISCONNECT_ERROR,             /* any other fatal error */
  DISCONNECT_SHUTDOWN,
  DISCONNECT_TOO_SLOW,          /* did not read what we sent */
  N_DISCONNECT_REASONS
} DisconnectReason;

static const gchar *const disconnect_reason_names[N_DISCONNECT_REASONS] = {
  "closed", "leave", "timeout", "replaced", "error", "shutdown", "too-slow",
};

typedef struct _Swarm Swarm;
typedef struct _Peer Peer;

struct _Swarm
{
  gchar *id;
  GPtrArray *members;           /* Peer, unordered; Peer.index is the slot */
  GHashTable *by_id;            /* peer id -> Peer */
};

/* One WebSocket connection, joined to a swarm or not (yet). */
struct _Peer
{
  MeshTrackerServer *server;
  SoupWebsocketConnection *ws;
  gchar *id;                    /* NULL until joined */
  Swarm *swarm;                 /* NULL until joined and after leaving */
  guint index;                  /* in swarm->members */
  gboolean upload;

  /* who was told about whom, so that a departure reaches exactly those */
  GHashTable *knows;            /* Peer this one was told about */
  GHashTable *known_by;         /* Peer told about this one */

  gint64 last_seen;             /* monotonic µs */
  gdouble tokens;               /* rate limit bucket */
  gint64 refilled;              /* monotonic µs */
  guint bad_messages;
  gboolean closing;             /* we are done with it, waiting for "closed" */
  GSource *timeout_source;
  GSource *reap_source;

  GSocket *socket;              /* to see whether it takes more */
  gsize backlog;                /* bytes sent since it was last writable */
  GSource *too_slow_source;     /* set once backlog passed max_backlog */
};

struct _MeshTrackerServer
{
  /* configuration, read-only once started */
  gchar *host;
  guint port;
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
  gchar *token_secret;
  gchar *url;
  gchar *http_url;

  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GMutex lock;                  /* start-up handshake, with cond */
  GCond cond;
  gboolean thread_ready;
  GError *start_error;

  /* server thread only */
  SoupServer *soup;
  GHashTable *swarms;           /* id -> Swarm */
  GHashTable *connections;      /* Peer (owned) */
  gboolean stopping;

  /* guarded by stats_lock */
  GMutex stats_lock;
  MeshTrackerStats stats;
  guint64 errors_by_code[MESH_TRACKER_N_ERRORS];
  guint64 disconnects_by_reason[N_DISCONNECT_REASONS];
};

static void peer_close (Peer * peer, DisconnectReason reason, gushort code,
    const gchar * why);
static void peer_note_sent (Peer * peer, gsize size);

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
  guint swarms = g_hash_table_size (server->swarms);

  STATS_LOCKED (server, {
        server->stats.connections = connections;
        server->stats.swarms = swarms;
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

void
mesh_tracker_server_get_stats (MeshTrackerServer * server,
    MeshTrackerStats * stats)
{
  g_return_if_fail (server != NULL);
  g_return_if_fail (stats != NULL);
  STATS_LOCKED (server, *stats = server->stats);
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
/* Access tokens                                                            */

static gchar *
token_signature (const gchar * secret, const gchar * swarm,
    const gchar * expiry)
{
  g_autofree gchar *text = g_strconcat (swarm, "|", expiry, NULL);

  return g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      (const guchar *) secret, strlen (secret), text, -1);
}

gchar *
mesh_tracker_make_token (const gchar * secret, const gchar * swarm,
    gint64 expiry)
{
  g_autofree gchar *expiry_text = NULL;
  g_autofree gchar *signature = NULL;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (swarm != NULL, NULL);

  expiry_text = g_strdup_printf ("%" G_GINT64_FORMAT, MAX (expiry, 0));
  signature = token_signature (secret, swarm, expiry_text);
  return g_strconcat (expiry_text, ".", signature, NULL);
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
mesh_tracker_check_token (const gchar * secret, const gchar * swarm,
    const gchar * token, gint64 now)
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

  expected = token_signature (secret, swarm, expiry_text);
  return equal_in_constant_time (dot + 1, expected);
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                  */

static gboolean
peer_can_send (Peer * peer)
{
  return !peer->closing && !peer->too_slow_source &&
      soup_websocket_connection_get_state (peer->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN;
}

static void
send_text (Peer * peer, const gchar * text)
{
  if (peer_can_send (peer)) {
    peer_note_sent (peer, strlen (text));
    soup_websocket_connection_send_text (peer->ws, text);
  }
}

static void
send_error (Peer * peer, MeshTrackerErrorCode code, const gchar * message,
    gboolean fatal)
{
  MeshTrackerServer *server = peer->server;
  g_autofree gchar *text = mesh_tracker_encode_error (code, message, fatal);

  g_debug ("peer %s: error %s%s: %s", peer->id ? peer->id : "(not joined)",
      mesh_tracker_error_code_name (code), fatal ? " (fatal)" : "", message);
  STATS_LOCKED (server, {
        server->stats.errors++;
        server->errors_by_code[code]++;
      });
  send_text (peer, text);
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
  else if (code == MESH_TRACKER_ERROR_REPLACED)
    reason = DISCONNECT_REPLACED;
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
  g_free (swarm);
}

static Swarm *
swarm_new (const gchar * id)
{
  Swarm *swarm = g_new0 (Swarm, 1);

  swarm->id = g_strdup (id);
  swarm->members = g_ptr_array_new ();
  swarm->by_id = g_hash_table_new (g_str_hash, g_str_equal);
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
  peer->swarm = NULL;
}

/* Up to @max random members of @peer's swarm other than @peer, in O(max)
 * whatever the size of the swarm (Floyd's sampling). */
static GPtrArray *
pick_members (Peer * peer, guint max)
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

/* Remembers that @listener was told about @subject. */
static void
tell (Peer * listener, Peer * subject)
{
  g_hash_table_add (listener->knows, subject);
  g_hash_table_add (subject->known_by, listener);
}

/* The entries of a welcome or peers list for @peers (the ids are
 * borrowed). */
static MeshTrackerPeerEntry *
peer_entries (GPtrArray * peers)
{
  MeshTrackerPeerEntry *entries = g_new0 (MeshTrackerPeerEntry,
      MAX (peers->len, 1));
  guint i;

  for (i = 0; i < peers->len; i++) {
    Peer *other = g_ptr_array_index (peers, i);

    entries[i].peer = other->id;
    entries[i].upload = other->upload;
  }
  return entries;
}

static void
tell_about_all (Peer * peer, GPtrArray * peers)
{
  guint i;

  for (i = 0; i < peers->len; i++)
    tell (peer, g_ptr_array_index (peers, i));
}

static void
send_welcome (Peer * peer)
{
  MeshTrackerServer *server = peer->server;
  g_autoptr (GPtrArray) peers = pick_members (peer, server->max_peers);
  g_autofree MeshTrackerPeerEntry *entries = peer_entries (peers);
  g_autofree gchar *text = mesh_tracker_encode_welcome (peer->id,
      peer->swarm->id, server->heartbeat, entries, peers->len);

  send_text (peer, text);
  tell_about_all (peer, peers);
}

static void
send_peers (Peer * peer)
{
  g_autoptr (GPtrArray) peers = pick_members (peer, peer->server->max_peers);
  g_autofree MeshTrackerPeerEntry *entries = peer_entries (peers);
  g_autofree gchar *text = mesh_tracker_encode_peers (entries, peers->len);

  send_text (peer, text);
  tell_about_all (peer, peers);
}

/* Tells a few random members, not the whole swarm: a join costs O(max-peers).
 * The others find the newcomer through "peers" or its signals. */
static void
announce_join (Peer * peer)
{
  MeshTrackerServer *server = peer->server;
  g_autoptr (GPtrArray) members = pick_members (peer, server->max_peers);
  g_autofree gchar *text = NULL;
  guint i;

  if (members->len == 0)
    return;

  text = mesh_tracker_encode_peer_joined (peer->id, peer->upload);
  for (i = 0; i < members->len; i++) {
    Peer *member = g_ptr_array_index (members, i);

    send_text (member, text);
    tell (member, peer);
  }
  STATS_LOCKED (server, server->stats.peer_joined_sent += members->len);
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
peer_free (gpointer data)
{
  Peer *peer = data;

  g_warn_if_fail (peer->swarm == NULL);
  g_signal_handlers_disconnect_by_data (peer->ws, peer);
  g_object_unref (peer->ws);
  if (peer->timeout_source) {
    g_source_destroy (peer->timeout_source);
    g_source_unref (peer->timeout_source);
  }
  if (peer->reap_source) {
    g_source_destroy (peer->reap_source);
    g_source_unref (peer->reap_source);
  }
  if (peer->too_slow_source) {
    g_source_destroy (peer->too_slow_source);
    g_source_unref (peer->too_slow_source);
  }
  g_clear_object (&peer->socket);
  g_hash_table_unref (peer->knows);
  g_hash_table_unref (peer->known_by);
  g_free (peer->id);
  g_free (peer);
}

/* Ends our business with @peer: out of its swarm now, the socket closed
 * with @code once libsoup has flushed what was queued. */
static void
peer_close (Peer * peer, DisconnectReason reason, gushort code,
    const gchar * why)
{
  MeshTrackerServer *server = peer->server;

  if (peer->closing)
    return;

  peer_detach (peer);
  peer->closing = TRUE;
  STATS_LOCKED (server, {
        server->stats.disconnects++;
        server->disconnects_by_reason[reason]++;
      }
  );
  if (soup_websocket_connection_get_state (peer->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (peer->ws, code, why);
}

static void
maybe_finish_shutdown (MeshTrackerServer * server)
{
  if (server->stopping && g_hash_table_size (server->connections) == 0)
    g_main_loop_quit (server->loop);
}

static gboolean
peer_reap (gpointer data)
{
  Peer *peer = data;
  MeshTrackerServer *server = peer->server;

  peer_close (peer, DISCONNECT_CLOSED, CLOSE_NORMAL, NULL);
  g_hash_table_remove (server->connections, peer);
  stats_update_sizes (server);
  maybe_finish_shutdown (server);
  return G_SOURCE_REMOVE;
}

/* Cuts off a client that does not read: out of its swarm, a close frame
 * queued (it will not read that either), and the socket shut down, so that
 * libsoup gives up on what it holds for it and reports "closed". */
static gboolean
peer_too_slow (gpointer data)
{
  Peer *peer = data;

  g_debug ("peer %s: more than %u bytes not read, disconnecting",
      peer->id ? peer->id : "(not joined)", peer->server->max_backlog);
  peer_close (peer, DISCONNECT_TOO_SLOW, CLOSE_POLICY_VIOLATION, "too-slow");
  if (peer->socket)
    g_socket_shutdown (peer->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

/* Counts @size bytes about to be sent (see the top of the file). */
static void
peer_note_sent (Peer * peer, gsize size)
{
  MeshTrackerServer *server = peer->server;

  if (!peer->socket
      || (g_socket_condition_check (peer->socket, G_IO_OUT) & G_IO_OUT))
    peer->backlog = 0;
  peer->backlog += size;
  if (peer->backlog <= server->max_backlog || peer->too_slow_source)
    return;
  peer->too_slow_source = g_idle_source_new ();
  g_source_set_callback (peer->too_slow_source, peer_too_slow, peer, NULL);
  g_source_attach (peer->too_slow_source, server->context);
}

static void
on_closed (SoupWebsocketConnection * ws, gpointer data)
{
  Peer *peer = data;

  g_debug ("peer %s: connection closed (code %u)",
      peer->id ? peer->id : "(not joined)",
      soup_websocket_connection_get_close_code (ws));
  if (peer->reap_source)
    return;
  peer->reap_source = g_idle_source_new ();
  g_source_set_callback (peer->reap_source, peer_reap, peer, NULL);
  g_source_attach (peer->reap_source, peer->server->context);
}

static void
on_error (SoupWebsocketConnection * ws, GError * error, gpointer data)
{
  Peer *peer = data;

  g_debug ("peer %s: %s", peer->id ? peer->id : "(not joined)", error->message);
}

/* Dispatches when the ready time has come; that is all we need. */
static gboolean
deadline_dispatch (GSource * source, GSourceFunc callback, gpointer data)
{
  return callback (data);
}

static GSourceFuncs deadline_funcs = {
  NULL, NULL, deadline_dispatch, NULL, NULL, NULL
};

/* The deadline is re-armed lazily: a message only updates last_seen, and
 * this moves the ready time when it finds the peer was heard from since. */
static gboolean
on_peer_deadline (gpointer data)
{
  Peer *peer = data;
  gint64 deadline = peer->last_seen + peer->server->timeout_us;

  if (peer->closing) {
    g_source_set_ready_time (peer->timeout_source, -1);
    return G_SOURCE_CONTINUE;
  }
  if (g_get_monotonic_time () < deadline) {
    g_source_set_ready_time (peer->timeout_source, deadline);
    return G_SOURCE_CONTINUE;
  }
  g_source_set_ready_time (peer->timeout_source, -1);
  fail_peer (peer, MESH_TRACKER_ERROR_TIMEOUT,
      "no message within the heartbeat timeout");
  return G_SOURCE_CONTINUE;
}

/* Token bucket: @rate messages per second, bursts of @burst. */
static gboolean
peer_take_token (Peer * peer, gint64 now)
{
  MeshTrackerServer *server = peer->server;

  peer->tokens += (now - peer->refilled) * (gdouble) server->rate /
      G_USEC_PER_SEC;
  peer->tokens = MIN (peer->tokens, (gdouble) server->burst);
  peer->refilled = now;
  if (peer->tokens < 1.0)
    return FALSE;
  peer->tokens -= 1.0;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Incoming messages                                                        */

/* Checks the bounds a join must fit in; replaces an older connection of the
 * same peer id. Returns the swarm to join (NULL = a new one is needed), or
 * fails @peer and sets *refused. */
static Swarm *
admit (Peer * peer, const gchar * swarm_id, const gchar * peer_id,
    gboolean * refused)
{
  MeshTrackerServer *server = peer->server;
  Swarm *swarm = g_hash_table_lookup (server->swarms, swarm_id);
  Peer *previous = swarm ? g_hash_table_lookup (swarm->by_id, peer_id) : NULL;

  *refused = FALSE;
  if (previous) {
    fail_peer (previous, MESH_TRACKER_ERROR_REPLACED,
        "another connection joined with this peer id");
    /* it may have been the last member */
    return g_hash_table_lookup (server->swarms, swarm_id);
  }
  if (swarm && swarm->members->len >= server->max_swarm_peers) {
    fail_peer (peer, MESH_TRACKER_ERROR_SWARM_FULL,
        "this swarm has too many peers");
    *refused = TRUE;
  } else if (!swarm && g_hash_table_size (server->swarms) >= server->max_swarms) {
    fail_peer (peer, MESH_TRACKER_ERROR_TOO_MANY_SWARMS,
        "the tracker has too many swarms");
    *refused = TRUE;
  }
  return swarm;
}

/* @msg: a join that decoded. */
static void
handle_join (Peer * peer, MeshTrackerMessage * msg)
{
  MeshTrackerServer *server = peer->server;
  gboolean refused;
  Swarm *swarm;

  if (server->token_secret && !mesh_tracker_check_token (server->token_secret,
          msg->swarm, msg->token, g_get_real_time () / G_USEC_PER_SEC)) {
    fail_peer (peer, MESH_TRACKER_ERROR_UNAUTHORIZED, msg->token ?
        "the token is invalid or expired" : "this tracker needs a token");
    return;
  }

  swarm = admit (peer, msg->swarm, msg->peer, &refused);
  if (refused)
    return;
  if (!swarm) {
    swarm = swarm_new (msg->swarm);
    g_hash_table_insert (server->swarms, swarm->id, swarm);
  }

  peer->id = g_strdup (msg->peer);
  peer->upload = msg->upload;
  swarm_add (swarm, peer);
  STATS_LOCKED (server, {
        server->stats.joins++;
        server->stats.peers++;
      }
  );
  stats_update_sizes (server);
  g_debug ("peer %s joined swarm %s (%u members)", peer->id, swarm->id,
      swarm->members->len);

  /* notifications first: once the welcome is out, the counters include
   * everything this join cost */
  announce_join (peer);
  send_welcome (peer);
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
  } else if (msg->type == MESH_TRACKER_MESSAGE_GET_PEERS) {
    send_peers (peer);
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
on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer data)
{
  Peer *peer = data;
  MeshTrackerServer *server = peer->server;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);
  g_autoptr (GError) error = NULL;
  MeshTrackerMessage msg;
  gboolean decoded;
  gint64 now = g_get_monotonic_time ();

  if (peer->closing)
    return;

  peer->last_seen = now;
  STATS_LOCKED (server, server->stats.messages++);

  if (!peer_take_token (peer, now)) {
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
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    bad_message (peer, "binary frames are not part of the protocol");
    return;
  }

  decoded = mesh_tracker_message_decode (&msg, MESH_TRACKER_TO_TRACKER, text,
      size, &error);
  handle_message (peer, &msg, decoded, error);
  mesh_tracker_message_clear (&msg);
}

static Peer *
peer_new (MeshTrackerServer * server, SoupWebsocketConnection * ws,
    GSocket * socket)
{
  Peer *peer = g_new0 (Peer, 1);
  gint64 now = g_get_monotonic_time ();

  peer->server = server;
  peer->ws = g_object_ref (ws);
  peer->socket = socket ? g_object_ref (socket) : NULL;
  peer->knows = g_hash_table_new (g_direct_hash, g_direct_equal);
  peer->known_by = g_hash_table_new (g_direct_hash, g_direct_equal);
  peer->last_seen = now;
  peer->refilled = now;
  peer->tokens = server->burst;

  /* room above the limit, so that a slightly larger message gets our
   * "message-too-large" rather than libsoup's bare close 1009 */
  soup_websocket_connection_set_max_incoming_payload_size (ws,
      MAX ((guint64) server->max_message_size * 2, 4096));
  g_signal_connect (ws, "message", G_CALLBACK (on_message), peer);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), peer);
  g_signal_connect (ws, "error", G_CALLBACK (on_error), peer);

  peer->timeout_source = g_source_new (&deadline_funcs, sizeof (GSource));
  g_source_set_callback (peer->timeout_source, on_peer_deadline, peer, NULL);
  g_source_set_ready_time (peer->timeout_source, now + server->timeout_us);
  g_source_attach (peer->timeout_source, server->context);
  return peer;
}

static void
on_websocket (SoupServer * soup, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * ws, gpointer data)
{
  MeshTrackerServer *server = data;
  gboolean full = g_hash_table_size (server->connections) >=
      server->max_connections;
  Peer *peer;

  if (server->stopping) {
    soup_websocket_connection_close (ws, CLOSE_GOING_AWAY, "shutting down");
    return;
  }

  peer = peer_new (server, ws, soup_server_message_get_socket (msg));
  g_hash_table_add (server->connections, peer);
  stats_update_sizes (server);
  if (full)
    fail_peer (peer, MESH_TRACKER_ERROR_TOO_MANY_CONNECTIONS,
        "the tracker has too many connections");
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

static gchar *
render_metrics (MeshTrackerServer * server)
{
  GString *out = g_string_new (NULL);
  MeshTrackerStats stats;
  guint64 errors[MESH_TRACKER_N_ERRORS];
  guint64 disconnects[N_DISCONNECT_REASONS];
  guint i;

  STATS_LOCKED (server, {
        stats = server->stats;
        memcpy (errors, server->errors_by_code, sizeof (errors));
        memcpy (disconnects, server->disconnects_by_reason,
            sizeof (disconnects));
      }
  );

  append_metric (out, "mesh_tracker_peers", "gauge", "Joined peers.");
  g_string_append_printf (out, "mesh_tracker_peers %u\n", stats.peers);
  append_metric (out, "mesh_tracker_swarms", "gauge", "Swarms with members.");
  g_string_append_printf (out, "mesh_tracker_swarms %u\n", stats.swarms);
  append_metric (out, "mesh_tracker_connections", "gauge",
      "Open WebSocket connections, joined or not.");
  g_string_append_printf (out, "mesh_tracker_connections %u\n",
      stats.connections);
  append_metric (out, "mesh_tracker_joins_total", "counter",
      "Successful joins.");
  g_string_append_printf (out, "mesh_tracker_joins_total %" G_GUINT64_FORMAT
      "\n", stats.joins);
  append_metric (out, "mesh_tracker_signals_total", "counter",
      "Signal messages relayed.");
  g_string_append_printf (out, "mesh_tracker_signals_total %"
      G_GUINT64_FORMAT "\n", stats.signals);
  append_metric (out, "mesh_tracker_messages_total", "counter",
      "Messages received from clients.");
  g_string_append_printf (out, "mesh_tracker_messages_total %"
      G_GUINT64_FORMAT "\n", stats.messages);
  append_metric (out, "mesh_tracker_notifications_total", "counter",
      "peer-joined and peer-left messages sent.");
  g_string_append_printf (out, "mesh_tracker_notifications_total"
      "{type=\"peer-joined\"} %" G_GUINT64_FORMAT "\n", stats.peer_joined_sent);
  g_string_append_printf (out, "mesh_tracker_notifications_total"
      "{type=\"peer-left\"} %" G_GUINT64_FORMAT "\n", stats.peer_left_sent);
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

  soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC,
      text, strlen (text));
}

/* ------------------------------------------------------------------------ */
/* Server thread and life cycle                                             */

static gboolean
server_listen (MeshTrackerServer * server, GError ** error)
{
  const gchar *protocols[] = { MESH_TRACKER_SUBPROTOCOL, NULL };
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
  soup_server_add_websocket_handler (server->soup, ANNOUNCE_PATH, NULL,
      (char **) protocols, on_websocket, server, NULL);
  if (!soup_server_listen (server->soup, address, 0, error))
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
  g_main_loop_quit (server->loop);
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

static gpointer
server_thread (gpointer data)
{
  MeshTrackerServer *server = data;
  GError *error = NULL;
  gboolean ok;

  g_main_context_push_thread_default (server->context);

  ok = server_listen (server, &error);

  g_mutex_lock (&server->lock);
  server->start_error = error;
  server->thread_ready = TRUE;
  g_cond_signal (&server->cond);
  g_mutex_unlock (&server->lock);

  if (ok)
    g_main_loop_run (server->loop);

  /* the peers that did not close in time (all are out of their swarms) */
  g_hash_table_remove_all (server->connections);
  g_hash_table_remove_all (server->swarms);
  if (server->soup) {
    soup_server_disconnect (server->soup);
    g_clear_object (&server->soup);
  }
  while (g_main_context_iteration (server->context, FALSE));

  g_main_context_pop_thread_default (server->context);
  return NULL;
}

static void
server_free (MeshTrackerServer * server)
{
  g_free (server->host);
  g_free (server->token_secret);
  g_free (server->url);
  g_free (server->http_url);
  g_clear_pointer (&server->loop, g_main_loop_unref);
  g_clear_pointer (&server->context, g_main_context_unref);
  g_hash_table_unref (server->connections);
  g_hash_table_unref (server->swarms);
  g_clear_error (&server->start_error);
  g_mutex_clear (&server->lock);
  g_mutex_clear (&server->stats_lock);
  g_cond_clear (&server->cond);
  g_free (server);
}

#define OR_DEFAULT(value, fallback) ((value) ? (value) : (fallback))

static void
server_configure (MeshTrackerServer * server, const MeshTrackerConfig * config)
{
  server->host = g_strdup (OR_DEFAULT (config->host, "127.0.0.1"));
  server->port = config->port;
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
  server->token_secret = g_strdup (config->token_secret);
}

MeshTrackerServer *
mesh_tracker_server_start (const MeshTrackerConfig * config, GError ** error)
{
  MeshTrackerServer *server;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (config->token_secret && config->token_secret[0] == '\0') {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "the token secret is empty");
    return NULL;
  }

  server = g_new0 (MeshTrackerServer, 1);
  server_configure (server, config);
  server->swarms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      swarm_free);
  server->connections = g_hash_table_new_full (g_direct_hash, g_direct_equal,
      peer_free, NULL);
  g_mutex_init (&server->lock);
  g_mutex_init (&server->stats_lock);
  g_cond_init (&server->cond);
  server->context = g_main_context_new ();
  server->loop = g_main_loop_new (server->context, FALSE);

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
