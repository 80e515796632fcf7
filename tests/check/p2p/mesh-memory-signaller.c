/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshMemoryHub and MeshMemorySignaller (see mesh-memory-signaller.h).
 *
 * Threads and ownership: the hub's swarms, its settings and counters, and
 * the membership fields of every signaller (swarm_id, peer_id, upload,
 * generation) and its reports are guarded by hub->lock. A signaller's hub and context are
 * set at creation and read-only after. Nothing is emitted under the lock:
 * whatever a member should hear becomes a Delivery, an idle source on the
 * member's owner context that emits there, unless the member's generation
 * changed meanwhile (it left, or joined anew: stale news are dropped).
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-memory-signaller.h"

#include <string.h>

#define DEFAULT_MAX_PEERS 10

struct _MeshMemoryHub
{
  GObject parent;

  GMutex lock;
  GHashTable *swarms;           /* swarm id -> GPtrArray of members (not
                                 * owned: a member leaves when disposed) */
  gchar *token;
  guint max_peers;
  guint64 n_relayed;
  GHashTable *attestations;     /* attestation_key() -> Attestation, NULL
                                 * until a test sets one */
};

typedef struct
{
  guint8 digest[32];
  guint64 size;
} Attestation;

struct _MeshMemorySignaller
{
  GObject parent;

  MeshMemoryHub *hub;
  GMainContext *context;

  /* under hub->lock */
  gchar *swarm_id;              /* NULL when not a member */
  gchar *peer_id;
  gboolean upload;
  gchar *network;               /* the join's hint, NULL = none */
  guint generation;             /* changes at every join and leave */
  GPtrArray *reports;           /* "reporter->peer" */
};

enum
{
  PROP_0,
  PROP_MAX_PEERS,
};

static void mesh_memory_signaller_iface_init (MeshSignallerInterface * iface);

G_DEFINE_FINAL_TYPE (MeshMemoryHub, mesh_memory_hub, G_TYPE_OBJECT);
G_DEFINE_FINAL_TYPE_WITH_CODE (MeshMemorySignaller, mesh_memory_signaller,
    G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (MESH_TYPE_SIGNALLER,
        mesh_memory_signaller_iface_init));

/* ------------------------------------------------------------------------ */
/* Deliveries                                                               */

typedef enum
{
  DELIVER_WELCOME,
  DELIVER_PEERS,
  DELIVER_PEER_JOINED,
  DELIVER_PEER_LEFT,
  DELIVER_MESSAGE,
  DELIVER_ERROR,
} DeliveryKind;

typedef struct
{
  MeshMemorySignaller *target;
  guint generation;
  DeliveryKind kind;
  GStrv peers;
  gchar *peer;
  JsonObject *payload;
  GError *error;
} Delivery;

static void
delivery_free (gpointer data)
{
  Delivery *d = data;

  g_object_unref (d->target);
  g_strfreev (d->peers);
  g_free (d->peer);
  g_clear_pointer (&d->payload, json_object_unref);
  g_clear_error (&d->error);
  g_free (d);
}

static gboolean
deliver_cb (gpointer data)
{
  Delivery *d = data;
  MeshSignaller *target = MESH_SIGNALLER (d->target);
  gboolean current;

  g_mutex_lock (&d->target->hub->lock);
  current = d->target->generation == d->generation;
  g_mutex_unlock (&d->target->hub->lock);
  if (!current)
    return G_SOURCE_REMOVE;

  switch (d->kind) {
    case DELIVER_WELCOME:
      mesh_signaller_emit_welcome (target, (const gchar * const *) d->peers);
      break;
    case DELIVER_PEERS:
      mesh_signaller_emit_peers (target, (const gchar * const *) d->peers);
      break;
    case DELIVER_PEER_JOINED:
      mesh_signaller_emit_peer_joined (target, d->peer);
      break;
    case DELIVER_PEER_LEFT:
      mesh_signaller_emit_peer_left (target, d->peer);
      break;
    case DELIVER_MESSAGE:
      mesh_signaller_emit_message (target, d->peer, d->payload);
      break;
    case DELIVER_ERROR:
      mesh_signaller_emit_error (target, d->error);
      break;
  }
  return G_SOURCE_REMOVE;
}

/* Queues @d for its target's context (hub->lock held: attaching a source
 * runs nothing). Takes @d. */
static void
post_locked (Delivery * d)
{
  GSource *source = g_idle_source_new ();

  d->generation = d->target->generation;
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, deliver_cb, d, delivery_free);
  g_source_attach (source, d->target->context);
  g_source_unref (source);
}

static Delivery *
delivery_new (MeshMemorySignaller * target, DeliveryKind kind)
{
  Delivery *d = g_new0 (Delivery, 1);

  d->target = g_object_ref (target);
  d->kind = kind;
  return d;
}

static void
post_peer_event_locked (MeshMemorySignaller * target, DeliveryKind kind,
    const gchar * peer)
{
  Delivery *d = delivery_new (target, kind);

  d->peer = g_strdup (peer);
  post_locked (d);
}

static void
post_error_locked (MeshMemorySignaller * target, MeshSignallerError code,
    const gchar * message)
{
  Delivery *d = delivery_new (target, DELIVER_ERROR);

  d->error = g_error_new (MESH_SIGNALLER_ERROR, code, "memory hub: %s",
      message);
  post_locked (d);
}

/* ------------------------------------------------------------------------ */
/* Membership (hub->lock held)                                              */

static GPtrArray *
swarm_members_locked (MeshMemoryHub * hub, const gchar * swarm_id)
{
  return swarm_id ? g_hash_table_lookup (hub->swarms, swarm_id) : NULL;
}

static MeshMemorySignaller *
find_member_locked (GPtrArray * members, const gchar * peer_id)
{
  guint i;

  for (i = 0; members && i < members->len; i++) {
    MeshMemorySignaller *member = g_ptr_array_index (members, i);

    if (g_str_equal (member->peer_id, peer_id))
      return member;
  }
  return NULL;
}

/* Up to max-peers ids of @self's swarm other than @self, uploaders first. */
static GStrv
sample_locked (MeshMemorySignaller * self)
{
  GPtrArray *members = swarm_members_locked (self->hub, self->swarm_id);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  guint pass, i, n = 0;

  for (pass = 0; pass < 2; pass++) {
    for (i = 0; members && i < members->len; i++) {
      MeshMemorySignaller *member = g_ptr_array_index (members, i);

      if (member == self || member->upload != (pass == 0)
          || n >= self->hub->max_peers)
        continue;
      g_strv_builder_add (builder, member->peer_id);
      n++;
    }
  }
  return g_strv_builder_end (builder);
}

/* Out of the swarm, and the others told; nothing queued for it arrives. */
static void
leave_locked (MeshMemorySignaller * self)
{
  GPtrArray *members = swarm_members_locked (self->hub, self->swarm_id);
  guint i;

  self->generation++;
  if (!members)
    return;
  g_ptr_array_remove (members, self);
  for (i = 0; i < members->len; i++)
    post_peer_event_locked (g_ptr_array_index (members, i),
        DELIVER_PEER_LEFT, self->peer_id);
  if (members->len == 0)
    g_hash_table_remove (self->hub->swarms, self->swarm_id);
  g_clear_pointer (&self->swarm_id, g_free);
}

static void
join_locked (MeshMemorySignaller * self, const gchar * swarm_id,
    const gchar * peer_id, gboolean upload, const gchar * network)
{
  MeshMemoryHub *hub = self->hub;
  GPtrArray *members = swarm_members_locked (hub, swarm_id);
  MeshMemorySignaller *previous = find_member_locked (members, peer_id);
  Delivery *welcome;
  guint i;

  if (previous) {
    leave_locked (previous);
    post_error_locked (previous, MESH_SIGNALLER_ERROR_REFUSED,
        "another member joined with this peer id");
    members = swarm_members_locked (hub, swarm_id);
  }
  if (!members) {
    members = g_ptr_array_new ();
    g_hash_table_insert (hub->swarms, g_strdup (swarm_id), members);
  }
  for (i = 0; i < members->len && i < hub->max_peers; i++)
    post_peer_event_locked (g_ptr_array_index (members, i),
        DELIVER_PEER_JOINED, peer_id);

  self->swarm_id = g_strdup (swarm_id);
  g_free (self->peer_id);
  self->peer_id = g_strdup (peer_id);
  self->upload = upload;
  g_free (self->network);
  self->network = g_strdup (network);
  g_ptr_array_add (members, self);

  welcome = delivery_new (self, DELIVER_WELCOME);
  welcome->peers = sample_locked (self);
  post_locked (welcome);
}

/* ------------------------------------------------------------------------ */
/* MeshSignaller                                                            */

static void
memory_join_full (MeshSignaller * signaller, const gchar * swarm_id,
    const gchar * peer_id, const gchar * token, gboolean upload,
    const gchar * network)
{
  MeshMemorySignaller *self = MESH_MEMORY_SIGNALLER (signaller);
  MeshMemoryHub *hub = self->hub;

  g_mutex_lock (&hub->lock);
  leave_locked (self);
  if (hub->token && g_strcmp0 (token, hub->token) != 0)
    post_error_locked (self, MESH_SIGNALLER_ERROR_UNAUTHORIZED, token ?
        "the token is wrong" : "a token is needed");
  else
    join_locked (self, swarm_id, peer_id, upload, network);
  g_mutex_unlock (&hub->lock);
}

static void
memory_join (MeshSignaller * signaller, const gchar * swarm_id,
    const gchar * peer_id, const gchar * token, gboolean upload)
{
  memory_join_full (signaller, swarm_id, peer_id, token, upload, NULL);
}

/* As the tracker's site tier, by hint only: a member of our swarm that
 * joined with our (non-NULL) network hint. */
static gboolean
memory_is_near (MeshSignaller * signaller, const gchar * peer_id)
{
  MeshMemorySignaller *self = MESH_MEMORY_SIGNALLER (signaller);
  MeshMemorySignaller *other;
  gboolean near;

  g_mutex_lock (&self->hub->lock);
  other = find_member_locked (swarm_members_locked (self->hub,
          self->swarm_id), peer_id);
  near = self->network && other && other != self
      && g_strcmp0 (other->network, self->network) == 0;
  g_mutex_unlock (&self->hub->lock);
  return near;
}

static void
memory_leave (MeshSignaller * signaller)
{
  MeshMemorySignaller *self = MESH_MEMORY_SIGNALLER (signaller);

  g_mutex_lock (&self->hub->lock);
  leave_locked (self);
  g_mutex_unlock (&self->hub->lock);
}

/* A deep copy, through text as a tracker would relay it: what the receiver
 * does with it is no business of the sender's object (json_node_copy()
 * shares objects). */
static JsonObject *
copy_object (JsonObject * object)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (),
      object);
  g_autofree gchar *text = json_to_string (node, FALSE);
  g_autoptr (JsonNode) copy = json_from_string (text, NULL);

  return json_node_dup_object (copy);
}

static void
memory_relay (MeshSignaller * signaller, const gchar * to, JsonObject * payload)
{
  MeshMemorySignaller *self = MESH_MEMORY_SIGNALLER (signaller);
  MeshMemoryHub *hub = self->hub;
  MeshMemorySignaller *target;

  g_mutex_lock (&hub->lock);
  target = find_member_locked (swarm_members_locked (hub, self->swarm_id), to);
  if (self->swarm_id && target && target != self) {
    Delivery *d = delivery_new (target, DELIVER_MESSAGE);

    d->peer = g_strdup (self->peer_id);
    d->payload = copy_object (payload);
    post_locked (d);
    hub->n_relayed++;
  }
  g_mutex_unlock (&hub->lock);
}

static void
memory_request_peers (MeshSignaller * signaller)
{
  MeshMemorySignaller *self = MESH_MEMORY_SIGNALLER (signaller);

  g_mutex_lock (&self->hub->lock);
  if (self->swarm_id) {
    Delivery *d = delivery_new (self, DELIVER_PEERS);

    d->peers = sample_locked (self);
    post_locked (d);
  }
  g_mutex_unlock (&self->hub->lock);
}

/* Recorded, not acted upon: the tests look at what was reported. */
static void
memory_report (MeshSignaller * signaller, const gchar * peer_id,
    const gchar * reason)
{
  MeshMemorySignaller *self = MESH_MEMORY_SIGNALLER (signaller);

  g_mutex_lock (&self->hub->lock);
  if (self->swarm_id)
    g_ptr_array_add (self->reports, g_strdup_printf ("%s->%s", self->peer_id,
            peer_id));
  g_mutex_unlock (&self->hub->lock);
}

static gchar *
attestation_key (const gchar * url, gint64 offset, gint64 length)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %s",
      offset, length, url);
}

/* Answered at once, from the owner context's main loop (a GTask returned in
 * the iteration that made it completes from an idle). */
static void
memory_attest (MeshSignaller * signaller, const gchar * url, gint64 offset,
    gint64 length, GCancellable * cancellable, GAsyncReadyCallback callback,
    gpointer user_data)
{
  MeshMemorySignaller *self = MESH_MEMORY_SIGNALLER (signaller);
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree gchar *key = attestation_key (url, offset, length);
  Attestation *found = NULL;
  gboolean joined, offered;

  g_task_set_source_tag (task, memory_attest);
  g_mutex_lock (&self->hub->lock);
  joined = self->swarm_id != NULL;
  offered = self->hub->attestations != NULL;
  if (joined && offered)
    found = g_memdup2 (g_hash_table_lookup (self->hub->attestations, key),
        sizeof (Attestation));
  g_mutex_unlock (&self->hub->lock);

  if (!joined)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
        "not joined");
  else if (!offered)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "the hub attests no digests");
  else if (!found)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED,
        "no attestation of %s", key);
  else
    g_task_return_pointer (task, found, g_free);
}

static gboolean
memory_attest_finish (MeshSignaller * signaller, GAsyncResult * result,
    guint8 digest[32], guint64 * size, GError ** error)
{
  g_autofree Attestation *found = NULL;

  g_return_val_if_fail (g_task_is_valid (result, signaller), FALSE);

  found = g_task_propagate_pointer (G_TASK (result), error);
  if (!found)
    return FALSE;
  memcpy (digest, found->digest, sizeof (found->digest));
  if (size)
    *size = found->size;
  return TRUE;
}

static void
mesh_memory_signaller_iface_init (MeshSignallerInterface * iface)
{
  iface->join = memory_join;
  iface->join_full = memory_join_full;
  iface->is_near = memory_is_near;
  iface->leave = memory_leave;
  iface->relay = memory_relay;
  iface->request_peers = memory_request_peers;
  iface->report = memory_report;
  iface->attest = memory_attest;
  iface->attest_finish = memory_attest_finish;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

MeshMemoryHub *
mesh_memory_hub_new (void)
{
  return g_object_new (MESH_TYPE_MEMORY_HUB, NULL);
}

MeshSignaller *
mesh_memory_signaller_new (MeshMemoryHub * hub)
{
  MeshMemorySignaller *self;

  g_return_val_if_fail (MESH_IS_MEMORY_HUB (hub), NULL);

  self = g_object_new (MESH_TYPE_MEMORY_SIGNALLER, NULL);
  self->hub = g_object_ref (hub);
  return MESH_SIGNALLER (self);
}

void
mesh_memory_hub_set_token (MeshMemoryHub * hub, const gchar * token)
{
  g_return_if_fail (MESH_IS_MEMORY_HUB (hub));

  g_mutex_lock (&hub->lock);
  g_free (hub->token);
  hub->token = g_strdup (token);
  g_mutex_unlock (&hub->lock);
}

void
mesh_memory_hub_fail (MeshMemoryHub * hub, MeshSignallerError code,
    const gchar * message)
{
  GHashTableIter iter;
  GPtrArray *members;
  guint i;

  g_return_if_fail (MESH_IS_MEMORY_HUB (hub));

  g_mutex_lock (&hub->lock);
  g_hash_table_iter_init (&iter, hub->swarms);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & members)) {
    for (i = 0; i < members->len; i++)
      post_error_locked (g_ptr_array_index (members, i), code, message);
  }
  g_mutex_unlock (&hub->lock);
}

void
mesh_memory_hub_set_attestation (MeshMemoryHub * hub, const gchar * url,
    gint64 offset, gint64 length, const guint8 digest[32], guint64 size)
{
  Attestation *attestation;

  g_return_if_fail (MESH_IS_MEMORY_HUB (hub));
  g_return_if_fail (url != NULL && digest != NULL);

  attestation = g_new0 (Attestation, 1);
  memcpy (attestation->digest, digest, sizeof (attestation->digest));
  attestation->size = size;
  g_mutex_lock (&hub->lock);
  if (!hub->attestations)
    hub->attestations = g_hash_table_new_full (g_str_hash, g_str_equal,
        g_free, g_free);
  g_hash_table_replace (hub->attestations, attestation_key (url, offset,
          length), attestation);
  g_mutex_unlock (&hub->lock);
}

guint
mesh_memory_hub_get_n_members (MeshMemoryHub * hub, const gchar * swarm_id)
{
  GPtrArray *members;
  guint n;

  g_return_val_if_fail (MESH_IS_MEMORY_HUB (hub), 0);

  g_mutex_lock (&hub->lock);
  members = swarm_members_locked (hub, swarm_id);
  n = members ? members->len : 0;
  g_mutex_unlock (&hub->lock);
  return n;
}

guint64
mesh_memory_hub_get_n_relayed (MeshMemoryHub * hub)
{
  guint64 n;

  g_return_val_if_fail (MESH_IS_MEMORY_HUB (hub), 0);

  g_mutex_lock (&hub->lock);
  n = hub->n_relayed;
  g_mutex_unlock (&hub->lock);
  return n;
}

GPtrArray *
mesh_memory_signaller_get_reports (MeshMemorySignaller * self)
{
  GPtrArray *reports;
  guint i;

  g_return_val_if_fail (MESH_IS_MEMORY_SIGNALLER (self), NULL);

  reports = g_ptr_array_new_with_free_func (g_free);
  g_mutex_lock (&self->hub->lock);
  for (i = 0; i < self->reports->len; i++)
    g_ptr_array_add (reports, g_strdup (g_ptr_array_index (self->reports, i)));
  g_mutex_unlock (&self->hub->lock);
  return reports;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
mesh_memory_hub_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  MeshMemoryHub *hub = MESH_MEMORY_HUB (object);

  switch (prop_id) {
    case PROP_MAX_PEERS:
      g_mutex_lock (&hub->lock);
      hub->max_peers = g_value_get_uint (value);
      g_mutex_unlock (&hub->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
mesh_memory_hub_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  MeshMemoryHub *hub = MESH_MEMORY_HUB (object);

  switch (prop_id) {
    case PROP_MAX_PEERS:
      g_mutex_lock (&hub->lock);
      g_value_set_uint (value, hub->max_peers);
      g_mutex_unlock (&hub->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
mesh_memory_hub_finalize (GObject * object)
{
  MeshMemoryHub *hub = MESH_MEMORY_HUB (object);

  /* members hold a reference: none is left */
  g_hash_table_unref (hub->swarms);
  g_clear_pointer (&hub->attestations, g_hash_table_unref);
  g_free (hub->token);
  g_mutex_clear (&hub->lock);
  G_OBJECT_CLASS (mesh_memory_hub_parent_class)->finalize (object);
}

static void
mesh_memory_hub_class_init (MeshMemoryHubClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = mesh_memory_hub_set_property;
  object_class->get_property = mesh_memory_hub_get_property;
  object_class->finalize = mesh_memory_hub_finalize;

  g_object_class_install_property (object_class, PROP_MAX_PEERS,
      g_param_spec_uint ("max-peers", "Max peers", "Most peers in a welcome "
          "or peers list", 1, G_MAXUINT, DEFAULT_MAX_PEERS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
}

static void
mesh_memory_hub_init (MeshMemoryHub * hub)
{
  g_mutex_init (&hub->lock);
  hub->swarms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_ptr_array_unref);
  hub->max_peers = DEFAULT_MAX_PEERS;
}

/* Disposed members leave; dispose may run twice, leaving once is enough. */
static void
mesh_memory_signaller_dispose (GObject * object)
{
  MeshMemorySignaller *self = MESH_MEMORY_SIGNALLER (object);

  if (self->hub) {
    g_mutex_lock (&self->hub->lock);
    if (self->swarm_id)
      leave_locked (self);
    g_mutex_unlock (&self->hub->lock);
  }
  G_OBJECT_CLASS (mesh_memory_signaller_parent_class)->dispose (object);
}

static void
mesh_memory_signaller_finalize (GObject * object)
{
  MeshMemorySignaller *self = MESH_MEMORY_SIGNALLER (object);

  g_clear_object (&self->hub);
  g_main_context_unref (self->context);
  g_ptr_array_unref (self->reports);
  g_free (self->peer_id);
  g_free (self->network);
  G_OBJECT_CLASS (mesh_memory_signaller_parent_class)->finalize (object);
}

static void
mesh_memory_signaller_class_init (MeshMemorySignallerClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mesh_memory_signaller_dispose;
  object_class->finalize = mesh_memory_signaller_finalize;
}

static void
mesh_memory_signaller_init (MeshMemorySignaller * self)
{
  self->context = g_main_context_ref_thread_default ();
  self->reports = g_ptr_array_new_with_free_func (g_free);
}
