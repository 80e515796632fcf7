/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-tracker-hub.h. The hub's tables belong to whoever holds its
 * lock; a directory's fields to its server's thread, but for its context,
 * which the hub's lock guards too: a message for another instance is
 * attached to that instance's context under the lock, so that it is
 * either in the context before the instance leaves the hub (dispose), or
 * never made.
 */

#include "mesh-tracker-hub.h"

/* Random probes of a large swarm per list, for each member wanted. */
#define PROBES_PER_MEMBER 4

typedef struct
{
  MeshTrackerHubDirectory *owner;       /* not a ref: see hub_forget() */
  gchar *peer;
  gboolean upload;
  gboolean has_key;
  MeshLocalityKey key;
  guint index;                  /* in its swarm's members */
} Member;

typedef struct
{
  GPtrArray *members;           /* Member, owned: random picks */
  GHashTable *by_peer;          /* peer id -> Member */
} HubSwarm;

struct _MeshTrackerHub
{
  gint ref_count;
  GMutex lock;
  GHashTable *swarms;           /* id -> HubSwarm */
  GPtrArray *directories;       /* MeshTrackerHubDirectory, not refs */
};

struct _MeshTrackerHubDirectory
{
  GObject parent;

  MeshTrackerHub *hub;
  GMainContext *context;        /* its server's, where it calls back;
                                 * NULL once disposed (the hub's lock) */
  gint pending;                 /* hand-overs attached and not yet freed;
                                 * atomic */
  MeshTrackerDirectoryStats stats;
};

static void hub_directory_iface_init (MeshTrackerDirectoryInterface * iface);

G_DEFINE_TYPE_WITH_CODE (MeshTrackerHubDirectory, mesh_tracker_hub_directory,
    G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (MESH_TYPE_TRACKER_DIRECTORY,
        hub_directory_iface_init));

/* ------------------------------------------------------------------------ */
/* Members and swarms (the hub's lock held)                                 */

static void
member_free (Member * member)
{
  mesh_locality_key_clear (&member->key);
  g_free (member->peer);
  g_free (member);
}

static void
hub_swarm_free (HubSwarm * swarm)
{
  g_hash_table_unref (swarm->by_peer);
  g_ptr_array_unref (swarm->members);
  g_free (swarm);
}

static HubSwarm *
hub_swarm_ensure (MeshTrackerHub * hub, const gchar * id)
{
  HubSwarm *swarm = g_hash_table_lookup (hub->swarms, id);

  if (swarm)
    return swarm;
  swarm = g_new0 (HubSwarm, 1);
  swarm->members = g_ptr_array_new_with_free_func ((GDestroyNotify)
      member_free);
  swarm->by_peer = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (hub->swarms, g_strdup (id), swarm);
  return swarm;
}

/* Takes @member out of @swarm, and the swarm out of the hub when it was
 * the last. */
static void
hub_remove_member (MeshTrackerHub * hub, const gchar * swarm_id,
    HubSwarm * swarm, Member * member)
{
  guint index = member->index;
  guint last = swarm->members->len - 1;

  g_hash_table_remove (swarm->by_peer, member->peer);
  if (index != last) {
    Member *moved = g_ptr_array_index (swarm->members, last);

    swarm->members->pdata[index] = moved;
    swarm->members->pdata[last] = member;
    moved->index = index;
  }
  g_ptr_array_remove_index (swarm->members, last);
  if (swarm->members->len == 0)
    g_hash_table_remove (hub->swarms, swarm_id);
}

static MeshTrackerRemoteMember *
remote_member_new (const Member * member)
{
  MeshTrackerRemoteMember *remote = g_new0 (MeshTrackerRemoteMember, 1);

  remote->peer = g_strdup (member->peer);
  remote->upload = member->upload;
  mesh_locality_key_copy (&remote->key, &member->key);
  return remote;
}

/* Up to @max members of @swarm not held by @self, random ones: every
 * eligible member of a small swarm shuffled, random probes of a large one
 * (which may find fewer than @max when @self holds most of it). */
static GPtrArray *
hub_pick_members (HubSwarm * swarm, MeshTrackerHubDirectory * self, guint max)
{
  GPtrArray *picked = g_ptr_array_new_with_free_func ((GDestroyNotify)
      mesh_tracker_remote_member_free);
  g_autoptr (GPtrArray) chosen = g_ptr_array_new ();
  g_autoptr (GHashTable) once = g_hash_table_new (NULL, NULL);
  guint n = swarm ? swarm->members->len : 0, i, probes;

  if (n <= PROBES_PER_MEMBER * max) {
    for (i = 0; i < n; i++) {
      Member *member = g_ptr_array_index (swarm->members, i);

      if (member->owner != self)
        g_ptr_array_add (chosen, member);
    }
    for (i = 0; i < chosen->len && i < max; i++) {
      guint j = g_random_int_range (i, chosen->len);
      gpointer tmp = chosen->pdata[i];

      chosen->pdata[i] = chosen->pdata[j];
      chosen->pdata[j] = tmp;
    }
    g_ptr_array_set_size (chosen, MIN (chosen->len, max));
  } else {
    for (probes = 0; probes < PROBES_PER_MEMBER * max && chosen->len < max;
        probes++) {
      Member *member = g_ptr_array_index (swarm->members,
          g_random_int_range (0, n));

      if (member->owner != self && g_hash_table_add (once, member))
        g_ptr_array_add (chosen, member);
    }
  }
  for (i = 0; i < chosen->len; i++)
    g_ptr_array_add (picked, remote_member_new (chosen->pdata[i]));
  return picked;
}

/* ------------------------------------------------------------------------ */
/* Handing over to a directory's thread                                     */

typedef struct
{
  MeshTrackerHubDirectory *to;  /* a ref */
  MeshTrackerDirectoryMessageType type;
  gchar *swarm;
  gchar *peer_to;
  gchar *from;
  gchar *data;
  gboolean upload;
  gboolean has_key;
  MeshLocalityKey key;
} Handover;

static void
handover_free (Handover * h)
{
  g_atomic_int_add (&h->to->pending, -1);
  g_object_unref (h->to);
  g_free (h->swarm);
  g_free (h->peer_to);
  g_free (h->from);
  g_free (h->data);
  mesh_locality_key_clear (&h->key);
  g_free (h);
}

static gboolean
deliver (gpointer data)
{
  Handover *h = data;
  MeshTrackerDirectoryMessage message = { h->type, h->swarm, h->peer_to,
    h->from, h->data, h->upload, h->has_key ? &h->key : NULL
  };

  h->to->stats.messages_in++;
  mesh_tracker_directory_emit_message (MESH_TRACKER_DIRECTORY (h->to),
      &message);
  return G_SOURCE_REMOVE;
}

/* Runs @func (@data) later on @self's thread, then @notify (@data); only
 * @notify once @self was disposed. For another instance's directory, with
 * the hub's lock held. */
static void
run_later (MeshTrackerHubDirectory * self, GSourceFunc func, gpointer data,
    GDestroyNotify notify)
{
  GSource *source;

  if (!self->context) {
    notify (data);
    return;
  }
  source = g_idle_source_new ();

  /* an idle waits for the busy root to have nothing else: under a flash
   * crowd, a welcome waiting for its list would wait behind every accept */
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_attach (source, self->context);
  g_source_unref (source);
}

/* The hub's lock held. FALSE: @to has MESH_TRACKER_HUB_MAX_PENDING
 * waiting already, @message is dropped. */
static gboolean
hand_over (MeshTrackerHubDirectory * to,
    const MeshTrackerDirectoryMessage * message)
{
  Handover *h;

  if (g_atomic_int_get (&to->pending) >= MESH_TRACKER_HUB_MAX_PENDING)
    return FALSE;
  g_atomic_int_inc (&to->pending);
  h = g_new0 (Handover, 1);
  h->to = g_object_ref (to);
  h->type = message->type;
  h->swarm = g_strdup (message->swarm);
  h->peer_to = g_strdup (message->to);
  h->from = g_strdup (message->from);
  h->data = g_strdup (message->data);
  h->upload = message->upload;
  h->has_key = message->key != NULL;
  if (message->key)
    mesh_locality_key_copy (&h->key, message->key);
  run_later (to, deliver, h, (GDestroyNotify) handover_free);
  return TRUE;
}

/* Hands @message to @to, counted in @from's stats (the hub's lock held). */
static void
hand_over_from (MeshTrackerHubDirectory * from, MeshTrackerHubDirectory * to,
    const MeshTrackerDirectoryMessage * message)
{
  if (hand_over (to, message))
    from->stats.messages_out++;
  else
    from->stats.errors++;
}

/* ------------------------------------------------------------------------ */
/* The directory interface                                                  */

static void
hub_publish (MeshTrackerDirectory * directory, const gchar * swarm_id,
    const gchar * peer, gboolean upload, const MeshLocalityKey * key)
{
  MeshTrackerHubDirectory *self = MESH_TRACKER_HUB_DIRECTORY (directory);
  MeshTrackerHub *hub = self->hub;
  HubSwarm *swarm;
  Member *member;

  g_mutex_lock (&hub->lock);
  swarm = hub_swarm_ensure (hub, swarm_id);
  member = g_hash_table_lookup (swarm->by_peer, peer);
  if (!member) {
    member = g_new0 (Member, 1);
    member->peer = g_strdup (peer);
    member->index = swarm->members->len;
    g_ptr_array_add (swarm->members, member);
    g_hash_table_insert (swarm->by_peer, member->peer, member);
  }
  mesh_locality_key_clear (&member->key);
  member->owner = self;
  member->upload = upload;
  member->has_key = key != NULL;
  if (key)
    mesh_locality_key_copy (&member->key, key);
  g_mutex_unlock (&hub->lock);
}

static void
hub_withdraw (MeshTrackerDirectory * directory, const gchar * swarm_id,
    const gchar * peer)
{
  MeshTrackerHubDirectory *self = MESH_TRACKER_HUB_DIRECTORY (directory);
  MeshTrackerHub *hub = self->hub;
  MeshTrackerDirectoryMessage left = { MESH_TRACKER_DIRECTORY_PEER_LEFT,
    swarm_id, NULL, peer, NULL, FALSE, NULL
  };
  HubSwarm *swarm;
  Member *member;
  guint i;

  g_mutex_lock (&hub->lock);
  swarm = g_hash_table_lookup (hub->swarms, swarm_id);
  member = swarm ? g_hash_table_lookup (swarm->by_peer, peer) : NULL;
  if (member && member->owner == self) {
    hub_remove_member (hub, swarm_id, swarm, member);
    /* those that told their members of it forget it (the others ignore
     * it) */
    for (i = 0; i < hub->directories->len; i++) {
      MeshTrackerHubDirectory *other = hub->directories->pdata[i];

      if (other != self)
        hand_over_from (self, other, &left);
    }
  }
  g_mutex_unlock (&hub->lock);
}

typedef struct
{
  GPtrArray *members;
  MeshTrackerDirectoryListFunc func;
  gpointer user_data;
} ListAnswer;

static void
list_answer_free (ListAnswer * answer)
{
  g_ptr_array_unref (answer->members);
  g_free (answer);
}

static gboolean
answer_list (gpointer data)
{
  ListAnswer *answer = data;

  answer->func (answer->members, answer->user_data);
  return G_SOURCE_REMOVE;
}

static void
hub_list (MeshTrackerDirectory * directory, const gchar * swarm_id, guint max,
    MeshTrackerDirectoryListFunc func, gpointer user_data)
{
  MeshTrackerHubDirectory *self = MESH_TRACKER_HUB_DIRECTORY (directory);
  ListAnswer *answer = g_new0 (ListAnswer, 1);

  g_mutex_lock (&self->hub->lock);
  answer->members = hub_pick_members (g_hash_table_lookup (self->hub->swarms,
          swarm_id), self, max);
  g_mutex_unlock (&self->hub->lock);
  answer->func = func;
  answer->user_data = user_data;
  self->stats.remote_listed += answer->members->len;
  run_later (self, answer_list, answer, (GDestroyNotify) list_answer_free);
}

typedef struct
{
  MeshTrackerHubDirectory *self;        /* a ref */
  gchar *swarm, *from, *to;
} Undelivered;

static void
undelivered_free (Undelivered * u)
{
  g_object_unref (u->self);
  g_free (u->swarm);
  g_free (u->from);
  g_free (u->to);
  g_free (u);
}

static gboolean
say_undelivered (gpointer data)
{
  Undelivered *u = data;

  mesh_tracker_directory_emit_undelivered (MESH_TRACKER_DIRECTORY (u->self),
      u->swarm, u->from, u->to);
  return G_SOURCE_REMOVE;
}

static void
hub_send (MeshTrackerDirectory * directory,
    const MeshTrackerDirectoryMessage * message)
{
  MeshTrackerHubDirectory *self = MESH_TRACKER_HUB_DIRECTORY (directory);
  MeshTrackerHub *hub = self->hub;
  HubSwarm *swarm;
  Member *member;
  gboolean handed = FALSE;

  g_mutex_lock (&hub->lock);
  swarm = g_hash_table_lookup (hub->swarms, message->swarm);
  member = swarm && message->to ?
      g_hash_table_lookup (swarm->by_peer, message->to) : NULL;
  if (member && member->owner != self) {
    hand_over_from (self, member->owner, message);
    handed = TRUE;
  }
  g_mutex_unlock (&hub->lock);

  if (!handed && message->type == MESH_TRACKER_DIRECTORY_SIGNAL) {
    Undelivered *u = g_new0 (Undelivered, 1);

    u->self = g_object_ref (self);
    u->swarm = g_strdup (message->swarm);
    u->from = g_strdup (message->from);
    u->to = g_strdup (message->to);
    run_later (self, say_undelivered, u, (GDestroyNotify) undelivered_free);
  }
}

static void
hub_get_stats (MeshTrackerDirectory * directory,
    MeshTrackerDirectoryStats * stats)
{
  *stats = MESH_TRACKER_HUB_DIRECTORY (directory)->stats;
}

static void
hub_directory_iface_init (MeshTrackerDirectoryInterface * iface)
{
  iface->publish = hub_publish;
  iface->withdraw = hub_withdraw;
  iface->list = hub_list;
  iface->send = hub_send;
  iface->get_stats = hub_get_stats;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */

/* @self leaves the hub with the members it still held (its server is
 * stopping: their leaves were told, or will not be). From then on nobody
 * can find it to hand it something, and its own calls answer nothing
 * (the server disposes it before it lets it go). */
static void
hub_forget (MeshTrackerHubDirectory * self)
{
  MeshTrackerHub *hub = self->hub;
  GHashTableIter iter;
  gpointer id;
  HubSwarm *swarm;
  guint i;

  g_mutex_lock (&hub->lock);
  g_ptr_array_remove (hub->directories, self);
  /* what was attached to it stays there, holding refs of @self, until
   * its server drops the context: no cycle through this one */
  g_clear_pointer (&self->context, g_main_context_unref);
  g_hash_table_iter_init (&iter, hub->swarms);
  while (g_hash_table_iter_next (&iter, &id, (gpointer *) & swarm)) {
    for (i = swarm->members->len; i-- > 0;) {
      Member *member = g_ptr_array_index (swarm->members, i);

      if (member->owner != self)
        continue;
      g_hash_table_remove (swarm->by_peer, member->peer);
      g_ptr_array_remove_index_fast (swarm->members, i);
      if (i < swarm->members->len)
        ((Member *) g_ptr_array_index (swarm->members, i))->index = i;
    }
    if (swarm->members->len == 0)
      g_hash_table_iter_remove (&iter);
  }
  g_mutex_unlock (&hub->lock);
}

static void
mesh_tracker_hub_directory_dispose (GObject * object)
{
  MeshTrackerHubDirectory *self = MESH_TRACKER_HUB_DIRECTORY (object);

  if (self->hub) {
    hub_forget (self);
    g_clear_pointer (&self->hub, mesh_tracker_hub_unref);
  }
  G_OBJECT_CLASS (mesh_tracker_hub_directory_parent_class)->dispose (object);
}

static void
mesh_tracker_hub_directory_class_init (MeshTrackerHubDirectoryClass * klass)
{
  G_OBJECT_CLASS (klass)->dispose = mesh_tracker_hub_directory_dispose;
}

static void
mesh_tracker_hub_directory_init (MeshTrackerHubDirectory * self)
{
  self->stats.connected = TRUE;
}

MeshTrackerDirectory *
mesh_tracker_hub_directory_new (MeshTrackerHub * hub)
{
  MeshTrackerHubDirectory *self =
      g_object_new (MESH_TYPE_TRACKER_HUB_DIRECTORY, NULL);

  self->hub = mesh_tracker_hub_ref (hub);
  self->context = g_main_context_ref_thread_default ();
  g_mutex_lock (&hub->lock);
  g_ptr_array_add (hub->directories, self);
  g_mutex_unlock (&hub->lock);
  return MESH_TRACKER_DIRECTORY (self);
}

MeshTrackerHub *
mesh_tracker_hub_new (void)
{
  MeshTrackerHub *hub = g_new0 (MeshTrackerHub, 1);

  hub->ref_count = 1;
  g_mutex_init (&hub->lock);
  hub->swarms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) hub_swarm_free);
  hub->directories = g_ptr_array_new ();
  return hub;
}

MeshTrackerHub *
mesh_tracker_hub_ref (MeshTrackerHub * hub)
{
  g_atomic_int_inc (&hub->ref_count);
  return hub;
}

void
mesh_tracker_hub_unref (MeshTrackerHub * hub)
{
  if (!g_atomic_int_dec_and_test (&hub->ref_count))
    return;
  g_hash_table_unref (hub->swarms);
  g_ptr_array_unref (hub->directories);
  g_mutex_clear (&hub->lock);
  g_free (hub);
}
