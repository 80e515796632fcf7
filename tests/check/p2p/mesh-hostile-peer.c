/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-hostile-peer.h. Everything but the counters belongs to the
 * peer's own thread and context.
 */
#include "mesh-hostile-peer.h"

#include <libsoup/soup.h>
#include <string.h>

#include "p2p/mesh-quic-link.h"
#include "p2p/mesh-tracker-client.h"
#include "p2p/mesh-wire.h"

/* What it says a segment weighs when nobody told it. */
#define GUESSED_SIZE (200 * 1000)
#define FLOOD_PERIOD_MS 2
#define FLOOD_BURST 50

typedef struct
{
  MeshHostilePeer *owner;
  gchar *id;
  MeshPeerConnection *conn;
  gboolean connected;
  guint32 endless_request;      /* ENDLESS: the request it never ends */
  guint64 endless_offset;
} Link;

struct _MeshHostilePeer
{
  MeshHostileMode mode;
  gchar *tracker_url;
  gchar *swarm_id;
  gchar *peer_id;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GMutex lock;
  GCond cond;
  gboolean ready;

  /* its thread */
  SoupSession *session;
  MeshSignaller *signaller;
  MeshQuicTransport *transport;
  GHashTable *links;            /* id -> Link* */
  GHashTable *sizes;            /* guint64 key -> announced size */
  guint32 last_size;
  GRand *rand;
  GSource *flood_timer;

  /* atomics */
  gint n_links, n_cut_off, n_served, expelled;
  guint64 bytes_sent;
};

static GBytes *
random_bytes (MeshHostilePeer * h, gsize size)
{
  guint8 *data = g_malloc (size);
  gsize i;

  for (i = 0; i < size; i++)
    data[i] = g_rand_int (h->rand);
  return g_bytes_new_take (data, size);
}

static void
link_send (Link * link, GBytes * frame)
{
  if (link->connected)
    mesh_peer_connection_send (link->conn, frame);
  g_bytes_unref (frame);
}

static void
broadcast (MeshHostilePeer * h, GBytes * frame)
{
  GHashTableIter iter;
  Link *link;

  g_hash_table_iter_init (&iter, h->links);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & link))
    link_send (link, g_bytes_ref (frame));
  g_bytes_unref (frame);
}

/* "I hold it whole": for every segment anyone holds or starts fetching. */
static void
claim (MeshHostilePeer * h, guint64 key, guint32 size)
{
  MeshWireHaveEntry entry = { key, size ? size : h->last_size };

  if (size)
    h->last_size = size;
  g_hash_table_insert (h->sizes, g_memdup2 (&key, sizeof (key)),
      GUINT_TO_POINTER (entry.size));
  broadcast (h, mesh_wire_encode_have (&entry, 1));
}

static void
serve_corrupt (MeshHostilePeer * h, Link * link, guint32 id, guint64 key)
{
  guint64 size = GPOINTER_TO_UINT (g_hash_table_lookup (h->sizes, &key));
  guint64 offset;

  if (size == 0)
    size = h->last_size;
  for (offset = 0; offset < size; offset += MESH_WIRE_MAX_CHUNK) {
    gsize len = MIN (MESH_WIRE_MAX_CHUNK, size - offset);

    link_send (link, mesh_wire_encode_data (id, offset, random_bytes (h, len)));
    __atomic_add_fetch (&h->bytes_sent, len, __ATOMIC_RELAXED);
  }
  link_send (link, mesh_wire_encode_end (id, size));
  g_atomic_int_inc (&h->n_served);
}

/* ENDLESS: a chunk more whenever the link takes it. */
static void
serve_endless_more (MeshHostilePeer * h, Link * link)
{
  while (link->endless_request && link->connected
      && mesh_peer_connection_get_send_queue_size (link->conn) <
      MESH_PEER_CONNECTION_LOW_WATER * 2) {
    link_send (link, mesh_wire_encode_data (link->endless_request,
            link->endless_offset, random_bytes (h, MESH_WIRE_MAX_CHUNK)));
    link->endless_offset += MESH_WIRE_MAX_CHUNK;
    __atomic_add_fetch (&h->bytes_sent, MESH_WIRE_MAX_CHUNK, __ATOMIC_RELAXED);
  }
}

static void
on_frame (MeshPeerConnection * conn, const MeshWireFrame * f, Link * link)
{
  MeshHostilePeer *h = link->owner;
  guint i;

  switch (f->type) {
    case MESH_WIRE_TYPE_HAVE:
      for (i = 0; i < f->have.n_entries; i++)
        claim (h, f->have.entries[i].key, f->have.entries[i].size);
      break;
    case MESH_WIRE_TYPE_FETCHING:
      for (i = 0; i < f->keys.n_keys; i++)
        claim (h, f->keys.keys[i], 0);
      break;
    case MESH_WIRE_TYPE_REQUEST:
      if (h->mode == MESH_HOSTILE_CORRUPT) {
        serve_corrupt (h, link, f->request.request_id, f->request.key);
      } else if (h->mode == MESH_HOSTILE_ENDLESS && !link->endless_request) {
        link->endless_request = f->request.request_id;
        g_atomic_int_inc (&h->n_served);
        serve_endless_more (h, link);
      }
      break;
    default:
      break;
  }
}

static void
on_writable (MeshPeerConnection * conn, Link * link)
{
  serve_endless_more (link->owner, link);
}

static void
on_signal_out (MeshPeerConnection * conn, JsonObject * data, Link * link)
{
  mesh_signaller_relay (link->owner->signaller, link->id, data);
}

static void
on_connected (MeshPeerConnection * conn, Link * link)
{
  link->connected = TRUE;
  g_atomic_int_inc (&link->owner->n_links);
}

static void
on_closed (MeshPeerConnection * conn, GError * reason, Link * link)
{
  MeshHostilePeer *h = link->owner;

  if (link->connected) {
    g_atomic_int_add (&h->n_links, -1);
    g_atomic_int_inc (&h->n_cut_off);
  }
  link->connected = FALSE;
  g_hash_table_remove (h->links, link->id);
}

static void
link_free (Link * link)
{
  g_signal_handlers_disconnect_by_data (link->conn, link);
  mesh_peer_connection_close (link->conn, MESH_WIRE_CLOSE_GOING_AWAY, "bye");
  g_object_unref (link->conn);
  g_free (link->id);
  g_free (link);
}

static Link *
link_add (MeshHostilePeer * h, const gchar * id, gboolean controlling)
{
  MeshPeerConnectParams params = {
    .swarm_id = h->swarm_id,
    .local_peer_id = h->peer_id,
    .remote_peer_id = id,
    .controlling = controlling,
    .upload = TRUE,
    .local_address = "127.0.0.1",
  };
  Link *link = g_new0 (Link, 1);

  link->owner = h;
  link->id = g_strdup (id);
  link->conn = mesh_peer_transport_connect (MESH_PEER_TRANSPORT
      (h->transport), &params);
  g_signal_connect (link->conn, "signal-out", G_CALLBACK (on_signal_out), link);
  g_signal_connect (link->conn, "connected", G_CALLBACK (on_connected), link);
  g_signal_connect (link->conn, "closed", G_CALLBACK (on_closed), link);
  g_signal_connect (link->conn, "frame", G_CALLBACK (on_frame), link);
  g_signal_connect (link->conn, "writable", G_CALLBACK (on_writable), link);
  g_hash_table_insert (h->links, link->id, link);
  mesh_peer_connection_start (link->conn);
  return g_hash_table_lookup (h->links, id);
}

static void
on_peers (MeshSignaller * s, GStrv ids, MeshHostilePeer * h)
{
  guint i;

  for (i = 0; ids[i]; i++)
    if (!g_hash_table_contains (h->links, ids[i]))
      link_add (h, ids[i], TRUE);
}

static void
on_message (MeshSignaller * s, const gchar * from, JsonObject * payload,
    MeshHostilePeer * h)
{
  Link *link = g_hash_table_lookup (h->links, from);

  if (!link && !(link = link_add (h, from, FALSE)))
    return;
  mesh_peer_connection_handle_signal (link->conn, payload);
}

static void
on_error (MeshSignaller * s, const GError * error, MeshHostilePeer * h)
{
  g_atomic_int_set (&h->expelled, TRUE);
}

static gboolean
on_flood_timer (gpointer data)
{
  MeshHostilePeer *h = data;
  GHashTableIter iter;
  Link *link;
  guint i;

  g_hash_table_iter_init (&iter, h->links);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & link))
    for (i = 0; i < FLOOD_BURST; i++) {
      link_send (link, mesh_wire_encode_request (g_rand_int (h->rand),
              g_rand_int (h->rand), 0, 0, 0));
      link_send (link, mesh_wire_encode_ping (g_rand_int (h->rand) + 1));
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
start_in_thread (gpointer data)
{
  MeshHostilePeer *h = data;
  GError *error = NULL;

  h->session = soup_session_new ();
  h->transport = mesh_quic_transport_new (h->context, &error);
  g_assert_no_error (error);
  h->signaller = MESH_SIGNALLER (mesh_tracker_client_new_for_url (h->session,
          h->tracker_url));
  g_signal_connect (h->signaller, "welcome", G_CALLBACK (on_peers), h);
  g_signal_connect (h->signaller, "peers", G_CALLBACK (on_peers), h);
  g_signal_connect (h->signaller, "message", G_CALLBACK (on_message), h);
  g_signal_connect (h->signaller, "error", G_CALLBACK (on_error), h);
  mesh_signaller_join (h->signaller, h->swarm_id, h->peer_id, NULL, TRUE);
  if (h->mode == MESH_HOSTILE_FLOOD) {
    h->flood_timer = g_timeout_source_new (FLOOD_PERIOD_MS);
    g_source_set_callback (h->flood_timer, on_flood_timer, h, NULL);
    g_source_attach (h->flood_timer, h->context);
  }
  g_mutex_lock (&h->lock);
  h->ready = TRUE;
  g_cond_signal (&h->cond);
  g_mutex_unlock (&h->lock);
  return G_SOURCE_REMOVE;
}

static void
stop_in_thread (MeshHostilePeer * h)
{
  if (h->flood_timer) {
    g_source_destroy (h->flood_timer);
    g_source_unref (h->flood_timer);
  }
  g_signal_handlers_disconnect_by_data (h->signaller, h);
  mesh_signaller_leave (h->signaller);
  g_hash_table_remove_all (h->links);
  mesh_peer_transport_shutdown (MESH_PEER_TRANSPORT (h->transport), 2000);
  g_object_unref (h->signaller);
  g_object_unref (h->transport);
  g_object_unref (h->session);
}

static gpointer
thread_main (gpointer data)
{
  MeshHostilePeer *h = data;

  g_main_context_push_thread_default (h->context);
  g_main_context_invoke (h->context, start_in_thread, h);
  g_main_loop_run (h->loop);
  stop_in_thread (h);
  g_main_context_pop_thread_default (h->context);
  return NULL;
}

MeshHostilePeer *
mesh_hostile_peer_new (const gchar * tracker_url, const gchar * swarm_id,
    MeshHostileMode mode)
{
  MeshHostilePeer *h = g_new0 (MeshHostilePeer, 1);

  h->mode = mode;
  h->tracker_url = g_strdup (tracker_url);
  h->swarm_id = g_strdup (swarm_id);
  h->rand = g_rand_new ();
  h->peer_id = g_strdup_printf ("%08x%08x", g_rand_int (h->rand),
      g_rand_int (h->rand));
  h->last_size = GUESSED_SIZE;
  h->links = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) link_free);
  h->sizes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_mutex_init (&h->lock);
  g_cond_init (&h->cond);
  h->context = g_main_context_new ();
  h->loop = g_main_loop_new (h->context, FALSE);
  h->thread = g_thread_new ("hostile-peer", thread_main, h);
  g_mutex_lock (&h->lock);
  while (!h->ready)
    g_cond_wait (&h->cond, &h->lock);
  g_mutex_unlock (&h->lock);
  return h;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
mesh_hostile_peer_free (MeshHostilePeer * h)
{
  g_main_context_invoke (h->context, quit_cb, h->loop);
  g_thread_join (h->thread);
  g_hash_table_unref (h->links);
  g_hash_table_unref (h->sizes);
  g_main_loop_unref (h->loop);
  g_main_context_unref (h->context);
  g_rand_free (h->rand);
  g_mutex_clear (&h->lock);
  g_cond_clear (&h->cond);
  g_free (h->tracker_url);
  g_free (h->swarm_id);
  g_free (h->peer_id);
  g_free (h);
}

guint
mesh_hostile_peer_get_n_links (MeshHostilePeer * h)
{
  return g_atomic_int_get (&h->n_links);
}

guint
mesh_hostile_peer_get_n_cut_off (MeshHostilePeer * h)
{
  return g_atomic_int_get (&h->n_cut_off);
}

guint
mesh_hostile_peer_get_n_served (MeshHostilePeer * h)
{
  return g_atomic_int_get (&h->n_served);
}

guint64
mesh_hostile_peer_get_bytes_sent (MeshHostilePeer * h)
{
  return __atomic_load_n (&h->bytes_sent, __ATOMIC_RELAXED);
}

gboolean
mesh_hostile_peer_get_expelled (MeshHostilePeer * h)
{
  return g_atomic_int_get (&h->expelled);
}
