/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerTap (see mesh-tracker-tap.h): a relay between players and a
 * real tracker that records, per connection, what the player sent.
 *
 * Threads and ownership: everything but `record` belongs to the tap
 * thread, which runs tap->context: the SoupServer the players connect to,
 * the SoupSession of the upstream connections and the links. `record`
 * (one MeshTrackerTapConnection per link) is written by the tap thread and
 * read by the test through mesh_tracker_tap_dup_connections(), under
 * `lock`. Memory: what a player sends before the tracker accepted the
 * upstream connection waits in the link, at most MAX_PENDING messages (a
 * test tool, used with a handful of players).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-tracker-tap.h"

#include <libsoup/soup.h>

#include "p2p/mesh-tracker-proto.h"

#define MAX_PENDING 64

struct _MeshTrackerTap
{
  gchar *upstream;
  gchar *url;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;

  /* tap thread */
  SoupServer *server;
  SoupSession *session;
  GPtrArray *links;
  GCancellable *cancellable;    /* of the upstream connects */
  guint connecting;             /* upstream connects under way */

  GMutex lock;
  GCond cond;                   /* signalled at every change of the record */
  gboolean ready;               /* the thread listens (or failed to) */
  GArray *record;               /* MeshTrackerTapConnection */
};

/* One player's connection and its upstream one. */
typedef struct
{
  MeshTrackerTap *tap;
  guint index;                  /* in tap->record */
  SoupWebsocketConnection *down;        /* from the player */
  SoupWebsocketConnection *up;  /* to the tracker, NULL until it answers */
  GQueue pending;               /* gchar*, to send once `up` is there */
  gboolean down_closed;
} Link;

static void
link_free (Link * link)
{
  if (link->up) {
    g_signal_handlers_disconnect_by_data (link->up, link);
    g_object_unref (link->up);
  }
  g_signal_handlers_disconnect_by_data (link->down, link);
  g_object_unref (link->down);
  g_queue_clear_full (&link->pending, g_free);
  g_free (link);
}

static void
close_if_open (SoupWebsocketConnection * ws)
{
  if (ws && soup_websocket_connection_get_state (ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

/* What the player sent, as the tracker's codec reads it. */
static void
record_message (Link * link, const gchar * text, gsize size)
{
  MeshTrackerTap *tap = link->tap;
  MeshTrackerTapConnection *entry;
  MeshTrackerMessage msg;
  gboolean decoded;

  decoded = mesh_tracker_message_decode (&msg, MESH_TRACKER_TO_TRACKER, text,
      size, NULL);
  g_mutex_lock (&tap->lock);
  entry = &g_array_index (tap->record, MeshTrackerTapConnection, link->index);
  if (!decoded) {
    entry->malformed++;
  } else if (msg.type == MESH_TRACKER_MESSAGE_JOIN) {
    g_free (entry->peer);
    entry->peer = g_strdup (msg.peer);
    g_free (entry->network);
    entry->network = g_strdup (msg.network);
  } else if (msg.type == MESH_TRACKER_MESSAGE_QOS && !entry->peer) {
    entry->qos_before_join++;
  } else if (msg.type == MESH_TRACKER_MESSAGE_QOS) {
    if (entry->qos == 0)
      entry->first_qos = msg.qos;
    entry->last_qos = msg.qos;
    entry->qos++;
  }
  g_cond_broadcast (&tap->cond);
  g_mutex_unlock (&tap->lock);
  if (decoded)
    mesh_tracker_message_clear (&msg);
}

static void
on_down_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    Link * link)
{
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  record_message (link, text, size);
  if (link->up) {
    soup_websocket_connection_send_message (link->up, type, bytes);
  } else if (link->pending.length < MAX_PENDING) {
    g_queue_push_tail (&link->pending, g_strndup (text, size));
  } else {
    close_if_open (link->down);
  }
}

static void
on_up_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    Link * link)
{
  if (soup_websocket_connection_get_state (link->down) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_message (link->down, type, bytes);
}

static void
on_down_closed (SoupWebsocketConnection * ws, Link * link)
{
  link->down_closed = TRUE;
  close_if_open (link->up);
}

static void
on_up_closed (SoupWebsocketConnection * ws, Link * link)
{
  close_if_open (link->down);
}

static void
on_up_connected (GObject * source, GAsyncResult * result, gpointer data)
{
  Link *link = data;
  gchar *text;

  link->tap->connecting--;
  link->up = soup_session_websocket_connect_finish (SOUP_SESSION (source),
      result, NULL);
  if (!link->up || link->down_closed) {
    close_if_open (link->up);
    close_if_open (link->down);
    return;
  }
  g_signal_connect (link->up, "message", G_CALLBACK (on_up_message), link);
  g_signal_connect (link->up, "closed", G_CALLBACK (on_up_closed), link);
  while ((text = g_queue_pop_head (&link->pending))) {
    soup_websocket_connection_send_text (link->up, text);
    g_free (text);
  }
}

static void
on_player (SoupServer * server, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * ws, gpointer data)
{
  MeshTrackerTap *tap = data;
  const gchar *protocols[] = { MESH_TRACKER_SUBPROTOCOL, NULL };
  MeshTrackerTapConnection entry = { 0, };
  g_autoptr (SoupMessage) request = soup_message_new ("GET", tap->upstream);
  Link *link = g_new0 (Link, 1);

  link->tap = tap;
  link->down = g_object_ref (ws);
  g_queue_init (&link->pending);
  g_mutex_lock (&tap->lock);
  link->index = tap->record->len;
  g_array_append_val (tap->record, entry);
  g_mutex_unlock (&tap->lock);
  g_ptr_array_add (tap->links, link);
  g_signal_connect (ws, "message", G_CALLBACK (on_down_message), link);
  g_signal_connect (ws, "closed", G_CALLBACK (on_down_closed), link);
  /* links live until the tap stops, which waits for the connects */
  tap->connecting++;
  soup_session_websocket_connect_async (tap->session, request, NULL,
      (gchar **) protocols, G_PRIORITY_DEFAULT, tap->cancellable,
      on_up_connected, link);
}

static gboolean
listen_here (MeshTrackerTap * tap)
{
  const gchar *protocols[] = { MESH_TRACKER_SUBPROTOCOL, NULL };
  GSList *uris;

  tap->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (tap->server, "/announce", NULL,
      (gchar **) protocols, on_player, tap, NULL);
  if (!soup_server_listen_local (tap->server, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, NULL))
    return FALSE;
  uris = soup_server_get_uris (tap->server);
  if (!uris)
    return FALSE;
  tap->url = g_strdup_printf ("ws://127.0.0.1:%d/announce",
      g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return TRUE;
}

static gpointer
tap_thread (gpointer data)
{
  MeshTrackerTap *tap = data;
  gboolean listening;
  guint i;

  g_main_context_push_thread_default (tap->context);
  tap->session = soup_session_new ();
  tap->cancellable = g_cancellable_new ();
  tap->links = g_ptr_array_new_with_free_func ((GDestroyNotify) link_free);
  listening = listen_here (tap);
  g_mutex_lock (&tap->lock);
  tap->ready = TRUE;
  g_cond_signal (&tap->cond);
  g_mutex_unlock (&tap->lock);
  if (listening)
    g_main_loop_run (tap->loop);

  g_cancellable_cancel (tap->cancellable);
  while (tap->connecting > 0)
    g_main_context_iteration (tap->context, TRUE);
  for (i = 0; i < tap->links->len; i++) {
    Link *link = g_ptr_array_index (tap->links, i);

    close_if_open (link->down);
    close_if_open (link->up);
  }
  /* what is under way (close frames, a connect) ends or is abandoned */
  while (g_main_context_iteration (tap->context, FALSE));
  g_ptr_array_unref (tap->links);
  soup_server_disconnect (tap->server);
  g_object_unref (tap->server);
  g_object_unref (tap->session);
  g_object_unref (tap->cancellable);
  while (g_main_context_iteration (tap->context, FALSE));
  g_main_context_pop_thread_default (tap->context);
  return NULL;
}

MeshTrackerTap *
mesh_tracker_tap_start (const gchar * tracker_url)
{
  MeshTrackerTap *tap = g_new0 (MeshTrackerTap, 1);

  tap->upstream = g_strdup (tracker_url);
  tap->context = g_main_context_new ();
  tap->loop = g_main_loop_new (tap->context, FALSE);
  tap->record = g_array_new (FALSE, TRUE, sizeof (MeshTrackerTapConnection));
  g_mutex_init (&tap->lock);
  g_cond_init (&tap->cond);
  tap->thread = g_thread_new ("tracker-tap", tap_thread, tap);
  g_mutex_lock (&tap->lock);
  while (!tap->ready)
    g_cond_wait (&tap->cond, &tap->lock);
  g_mutex_unlock (&tap->lock);
  g_assert (tap->url != NULL);
  return tap;
}

const gchar *
mesh_tracker_tap_get_url (MeshTrackerTap * tap)
{
  return tap->url;
}

static void
connection_clear (MeshTrackerTapConnection * connection)
{
  g_free (connection->peer);
  g_free (connection->network);
}

GArray *
mesh_tracker_tap_dup_connections (MeshTrackerTap * tap)
{
  GArray *copy = g_array_new (FALSE, TRUE,
      sizeof (MeshTrackerTapConnection));
  guint i;

  g_array_set_clear_func (copy, (GDestroyNotify) connection_clear);
  g_mutex_lock (&tap->lock);
  for (i = 0; i < tap->record->len; i++) {
    MeshTrackerTapConnection entry =
        g_array_index (tap->record, MeshTrackerTapConnection, i);

    entry.peer = g_strdup (entry.peer);
    entry.network = g_strdup (entry.network);
    g_array_append_val (copy, entry);
  }
  g_mutex_unlock (&tap->lock);
  return copy;
}

/* The entry of the connection that joined with @network, or NULL. Called
 * with the lock. */
static MeshTrackerTapConnection *
find_by_network_locked (MeshTrackerTap * tap, const gchar * network)
{
  guint i;

  for (i = 0; i < tap->record->len; i++) {
    MeshTrackerTapConnection *entry =
        &g_array_index (tap->record, MeshTrackerTapConnection, i);

    if (g_strcmp0 (entry->network, network) == 0)
      return entry;
  }
  return NULL;
}

gboolean
mesh_tracker_tap_wait_qos (MeshTrackerTap * tap, const gchar * network,
    guint n, guint timeout_ms)
{
  gint64 deadline =
      g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  MeshTrackerTapConnection *entry;
  gboolean done;

  g_mutex_lock (&tap->lock);
  while (!((entry = find_by_network_locked (tap, network)) && entry->qos >= n)
      && g_cond_wait_until (&tap->cond, &tap->lock, deadline));
  entry = find_by_network_locked (tap, network);
  done = entry && entry->qos >= n;
  g_mutex_unlock (&tap->lock);
  return done;
}

void
mesh_tracker_tap_connections_free (GArray * connections)
{
  g_array_unref (connections);
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
mesh_tracker_tap_stop (MeshTrackerTap * tap)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, quit_loop, tap->loop, NULL);
  g_source_attach (source, tap->context);
  g_source_unref (source);
  g_thread_join (tap->thread);

  g_array_set_clear_func (tap->record, (GDestroyNotify) connection_clear);
  g_array_unref (tap->record);
  g_main_loop_unref (tap->loop);
  g_main_context_unref (tap->context);
  g_mutex_clear (&tap->lock);
  g_cond_clear (&tap->cond);
  g_free (tap->upstream);
  g_free (tap->url);
  g_free (tap);
}
