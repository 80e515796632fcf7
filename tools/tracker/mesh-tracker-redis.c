/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerRedis: several tracker instances share their swarms through
 * one Redis server (docs/tracker.md "Redis mode"). The layout, with P the
 * prefix "mesh:DB:" (pub/sub channels are not per database, so the
 * database number is in every name):
 *
 *   Pm:SWARM       sorted set of the swarm's members, all instances: each
 *                  a JSON record {"p":peer,"i":instance,"u":upload,
 *                  "x":prefix,"a":asn,"r":region,"h":hint}, scored by its
 *                  expiry (unix ms). Each instance re-adds its members
 *                  every heartbeat/3 with expiry now + heartbeat and
 *                  removes the expired ones of its swarms; a dead
 *                  instance's members are never listed past their expiry
 *                  (a list skips them) and are gone from the set at the
 *                  next sweep of any live instance of the swarm.
 *   Pp:PEER:SWARM  channel of one member (peer ids have no ':'), which its
 *                  instance subscribes to: {"t":"signal","f":from,"d":data}
 *                  or {"t":"joined","f":from,"u":..,"x":..,...}. PUBLISH
 *                  answering 0 means nobody holds that member.
 *   Ps:SWARM       channel of the swarm, subscribed to by each instance
 *                  with members in it: {"t":"left","f":peer,"i":instance}.
 *
 * Two connections: one for commands, one subscribed. Each reconnects with
 * backoff after a failure (REDIS_BACKOFF_MIN_MS doubling to _MAX_MS), and
 * on connecting re-adds every member (commands) or re-subscribes every
 * channel (subscriber): a Redis restarted empty is filled again.
 *
 * What comes from Redis is another instance's word, and that instance may
 * be old or broken: messages over max_message_size or nested deeper than
 * MESH_TRACKER_MAX_DEPTH are dropped before parsing, every field is
 * checked as a client's would be, a list takes at most the members it
 * asked for.
 *
 * Threads: everything here runs on the GMainContext that was the
 * thread-default one at mesh_tracker_redis_new() (the server thread's);
 * hiredis' I/O is driven by a GSource of ours on each connection's socket,
 * never blocking (an IP address is connected to at once, a host name
 * resolved first with GResolver).
 */

#define G_LOG_DOMAIN "mesh-tracker"

#include "config.h"

#include "mesh-tracker-redis.h"
#include "p2p/mesh-tracker-proto.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

gboolean
mesh_tracker_redis_parse_url (const gchar * url, gchar ** host, guint * port,
    guint * db, GError ** error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const gchar *path;
  guint64 number = 0;

  if (!uri || g_strcmp0 (g_uri_get_scheme (uri), "redis") != 0
      || !g_uri_get_host (uri) || !*g_uri_get_host (uri)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s' is not a redis://HOST[:PORT][/DB] URL", url);
    return FALSE;
  }
  path = g_uri_get_path (uri);
  if (path && *path && g_strcmp0 (path, "/") != 0
      && !g_ascii_string_to_unsigned (path + 1, 10, 0, 65535, &number, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "'%s': the database is a number", url);
    return FALSE;
  }
  *host = g_strdup (g_uri_get_host (uri));
  *port = g_uri_get_port (uri) > 0 ? (guint) g_uri_get_port (uri) : 6379;
  *db = number;
  return TRUE;
}

#if HAVE_HIREDIS

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/sds.h>

/* reconnect delays */
#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
/* a list not answered by then is answered empty: a join waits no longer */
#define LIST_TIMEOUT_MS 1000
/* how long freeing the directory waits for the last commands (the leaves
 * of the members) to be answered */
#define FLUSH_TIMEOUT_MS 500
/* channels per SUBSCRIBE and members per ZADD when (re)doing them all */
#define BATCH 256
/* longest prefix string of a record ("ffff:...:ffff/128" is 43) */
#define MAX_PREFIX 64
/* What may wait for Redis on one connection: bytes not written yet, and
 * commands not answered (each holds a callback and maybe a request of
 * ours). Past either, commands are refused (and counted as errors) until
 * Redis catches up: a Redis that stops reading must not grow the tracker
 * without bound. */
#define MAX_OUTPUT_BYTES (16 * 1024 * 1024)
#define MAX_IN_FLIGHT 100000
/* the instance id: random hex */
#define INSTANCE_ID_BYTES 8

struct _MeshTrackerRedis
{
  GObject parent;

  gchar *host;
  guint port;
  guint db;
  gchar *prefix;                /* "mesh:DB:" */
  gint64 ttl_ms;                /* a member's expiry after a refresh */
  guint max_message_size;
  gchar *instance;
  GMainContext *context;
  gboolean disposing;

  struct _Link *commands;
  struct _Link *subscriber;

  /* the local members, by swarm: swarm id -> GHashTable (peer -> record) */
  GHashTable *swarms;
  GSource *refresh_source;
  GHashTable *lists;            /* ListRequest not answered yet */

  MeshTrackerDirectoryStats stats;
};

/* One connection to Redis and its reconnection. */
typedef struct _Link
{
  MeshTrackerRedis *self;
  const gchar *name;            /* for the logs */
  gboolean subscriber;
  redisAsyncContext *ac;        /* NULL while disconnected */
  GSource *source;              /* drives ac */
  gboolean connected;
  gboolean ever_connected;
  guint backoff_ms;
  GSource *retry_source;
  GCancellable *resolving;
  /* commands connection: commands sent and not answered, and when Redis
   * last answered one (monotonic µs) */
  guint in_flight;
  gint64 last_reply;
} Link;

static void directory_iface_init (MeshTrackerDirectoryInterface * iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MeshTrackerRedis, mesh_tracker_redis,
    G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (MESH_TYPE_TRACKER_DIRECTORY,
        directory_iface_init));

gboolean
mesh_tracker_redis_is_supported (void)
{
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The GSource that drives a redisAsyncContext on our main context          */

typedef struct
{
  GSource source;
  redisAsyncContext *ac;        /* NULL once hiredis let go of it */
  gpointer tag;
  GIOCondition events;
} RedisSource;

static void
redis_source_update (RedisSource * source, GIOCondition add,
    GIOCondition remove)
{
  source->events = (source->events | add) & ~remove;
  if (source->tag)
    g_source_modify_unix_fd ((GSource *) source, source->tag, source->events);
}

static void
redis_source_add_read (void *data)
{
  redis_source_update (data, G_IO_IN, 0);
}

static void
redis_source_del_read (void *data)
{
  redis_source_update (data, 0, G_IO_IN);
}

static void
redis_source_add_write (void *data)
{
  redis_source_update (data, G_IO_OUT, 0);
}

static void
redis_source_del_write (void *data)
{
  redis_source_update (data, 0, G_IO_OUT);
}

/* hiredis frees the context: nothing to drive any more */
static void
redis_source_cleanup (void *data)
{
  RedisSource *source = data;

  if (source->tag)
    g_source_remove_unix_fd ((GSource *) source, source->tag);
  source->tag = NULL;
  source->ac = NULL;
}

/* Reading may free the context (a disconnect): write only if it is still
 * there. */
static gboolean
redis_source_dispatch (GSource * gsource, GSourceFunc callback, gpointer data)
{
  RedisSource *source = (RedisSource *) gsource;
  GIOCondition ready = source->tag ?
      g_source_query_unix_fd (gsource, source->tag) : 0;

  if (source->ac && (ready & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    redisAsyncHandleRead (source->ac);
  if (source->ac && (ready & G_IO_OUT))
    redisAsyncHandleWrite (source->ac);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs redis_source_funcs = {
  NULL, NULL, redis_source_dispatch, NULL, NULL, NULL
};

static GSource *
redis_source_new (redisAsyncContext * ac)
{
  RedisSource *source = (RedisSource *) g_source_new (&redis_source_funcs,
      sizeof (RedisSource));

  source->ac = ac;
  source->tag = g_source_add_unix_fd ((GSource *) source, ac->c.fd, 0);
  ac->ev.addRead = redis_source_add_read;
  ac->ev.delRead = redis_source_del_read;
  ac->ev.addWrite = redis_source_add_write;
  ac->ev.delWrite = redis_source_del_write;
  ac->ev.cleanup = redis_source_cleanup;
  ac->ev.data = source;
  return (GSource *) source;
}

/* ------------------------------------------------------------------------ */
/* Names, records and messages                                              */

static gchar *
members_key (MeshTrackerRedis * self, const gchar * swarm)
{
  return g_strconcat (self->prefix, "m:", swarm, NULL);
}

static gchar *
peer_channel (MeshTrackerRedis * self, const gchar * peer, const gchar * swarm)
{
  return g_strconcat (self->prefix, "p:", peer, ":", swarm, NULL);
}

static gchar *
swarm_channel (MeshTrackerRedis * self, const gchar * swarm)
{
  return g_strconcat (self->prefix, "s:", swarm, NULL);
}

static void
add_key_members (JsonBuilder * builder, const MeshLocalityKey * key)
{
  if (!key)
    return;
  if (key->prefix) {
    json_builder_set_member_name (builder, "x");
    json_builder_add_string_value (builder, key->prefix);
  }
  if (key->asn) {
    json_builder_set_member_name (builder, "a");
    json_builder_add_int_value (builder, key->asn);
  }
  if (key->region) {
    json_builder_set_member_name (builder, "r");
    json_builder_add_string_value (builder, key->region);
  }
  if (key->hint) {
    json_builder_set_member_name (builder, "h");
    json_builder_add_string_value (builder, key->hint);
  }
}

static gchar *
builder_to_text (JsonBuilder * builder)
{
  g_autoptr (JsonNode) root = NULL;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

static gchar *
make_record (MeshTrackerRedis * self, const gchar * peer, gboolean upload,
    const MeshLocalityKey * key)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "p");
  json_builder_add_string_value (builder, peer);
  json_builder_set_member_name (builder, "i");
  json_builder_add_string_value (builder, self->instance);
  json_builder_set_member_name (builder, "u");
  json_builder_add_boolean_value (builder, upload);
  add_key_members (builder, key);
  return builder_to_text (builder);
}

/* The object in @text (of @size bytes, untrusted), or NULL. */
static JsonNode *
parse_object (MeshTrackerRedis * self, const gchar * text, gsize size)
{
  if (size == 0 || size > self->max_message_size)
    return NULL;
  return mesh_tracker_parse_object (text, size, NULL);
}

/* A string member of @object, or NULL when absent or not a string. */
static const gchar *
get_string (JsonObject * object, const gchar * name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (!node || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
get_boolean (JsonObject * object, const gchar * name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_BOOLEAN
      && json_node_get_boolean (node);
}

/* A printable ASCII string of 1 to @max bytes, else NULL. */
static gchar *
dup_printable (const gchar * text, gsize max)
{
  gsize i, length;

  if (!text)
    return NULL;
  length = strlen (text);
  if (length == 0 || length > max)
    return NULL;
  for (i = 0; i < length; i++)
    if (!g_ascii_isprint (text[i]))
      return NULL;
  return g_strdup (text);
}

/* The network fields of @object into @key; invalid ones are left empty. */
static void
read_key (JsonObject * object, MeshLocalityKey * key)
{
  JsonNode *asn = json_object_get_member (object, "a");
  const gchar *hint = get_string (object, "h");

  memset (key, 0, sizeof (*key));
  key->prefix = dup_printable (get_string (object, "x"), MAX_PREFIX);
  key->region = dup_printable (get_string (object, "r"),
      MESH_LOCALITY_MAX_REGION);
  if (hint && mesh_tracker_is_valid_network (hint))
    key->hint = g_strdup (hint);
  if (asn && JSON_NODE_HOLDS_VALUE (asn)
      && json_node_get_value_type (asn) == G_TYPE_INT64
      && json_node_get_int (asn) > 0 && json_node_get_int (asn) <= G_MAXUINT32)
    key->asn = json_node_get_int (asn);
}

/* A member of another instance from a record of the sorted set, or NULL
 * (malformed, or ours). */
static MeshTrackerRemoteMember *
read_record (MeshTrackerRedis * self, const gchar * text, gsize size)
{
  g_autoptr (JsonNode) root = parse_object (self, text, size);
  MeshTrackerRemoteMember *member;
  JsonObject *object;
  const gchar *peer, *instance;

  if (!root)
    return NULL;
  object = json_node_get_object (root);
  peer = get_string (object, "p");
  instance = get_string (object, "i");
  if (!peer || !mesh_tracker_is_valid_peer_id (peer) || !instance
      || g_strcmp0 (instance, self->instance) == 0)
    return NULL;
  member = g_new0 (MeshTrackerRemoteMember, 1);
  member->peer = g_strdup (peer);
  member->upload = get_boolean (object, "u");
  read_key (object, &member->key);
  return member;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

static void link_connect (Link * link);

static void
count_error (MeshTrackerRedis * self, const gchar * what, const gchar * why)
{
  self->stats.errors++;
  g_warning ("Redis %s:%u: %s: %s", self->host, self->port, what, why);
}

/* For the commands whose answer only matters when it is an error. */
static void
on_reply_checked (redisAsyncContext * ac, void *reply_data, void *data)
{
  redisReply *reply = reply_data;
  MeshTrackerRedis *self = data;

  if (reply && reply->type == REDIS_REPLY_ERROR)
    count_error (self, "command failed", reply->str);
}

/* A command of the commands connection, counted while in flight. */
typedef struct
{
  Link *link;
  redisCallbackFn *callback;
  gpointer data;
} Command;

/* hiredis calls it once per command: with the reply, or with NULL when the
 * connection goes first. */
static void
on_command_reply (redisAsyncContext * ac, void *reply, void *data)
{
  Command *command = data;

  command->link->in_flight--;
  if (reply)
    command->link->last_reply = g_get_monotonic_time ();
  if (command->callback)
    command->callback (ac, reply, command->data);
  g_free (command);
}

static gboolean
link_is_backed_up (Link * link)
{
  return sdslen (link->ac->c.obuf) > MAX_OUTPUT_BYTES
      || link->in_flight >= MAX_IN_FLIGHT;
}

/* Sends @argv (@argc strings) on @link if it is up and not backed up; else
 * it is dropped (what matters is redone on reconnecting). @callback is
 * called (if not NULL) once the command is answered or the connection
 * lost, and only if this returned TRUE. A subscriber's @callback is
 * hiredis' for every message of the channels. */
static gboolean
link_command (Link * link, redisCallbackFn * callback, gpointer data,
    guint argc, const gchar ** argv)
{
  g_autofree size_t *lengths = g_new (size_t, argc);
  Command *command;
  guint i;

  if (!link->connected)
    return FALSE;
  if (link_is_backed_up (link)) {
    link->self->stats.errors++;
    return FALSE;
  }
  for (i = 0; i < argc; i++)
    lengths[i] = strlen (argv[i]);
  if (link->subscriber)
    return redisAsyncCommandArgv (link->ac, callback, data, argc, argv,
        lengths) == REDIS_OK;
  command = g_new (Command, 1);
  command->link = link;
  command->callback = callback;
  command->data = data;
  if (redisAsyncCommandArgv (link->ac, on_command_reply, command, argc, argv,
          lengths) != REDIS_OK) {
    g_free (command);
    return FALSE;
  }
  link->in_flight++;
  return TRUE;
}

/* A Redis that holds the connection open but answers nothing (stopped,
 * swapping) for a heartbeat: the connection is dropped and made again, and
 * what waited is answered empty meanwhile. */
static void
link_check_answering (Link * link)
{
  MeshTrackerRedis *self = link->self;

  if (!link->connected || link->in_flight == 0
      || g_get_monotonic_time () - link->last_reply < self->ttl_ms * 1000)
    return;
  count_error (self, link->name, "no answer for a heartbeat, reconnecting");
  redisAsyncFree (link->ac);
}

static gchar *
expiry_score (MeshTrackerRedis * self)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT,
      g_get_real_time () / 1000 + self->ttl_ms);
}

/* ZADD of @records (GPtrArray of strings) in @swarm, BATCH at a time, then
 * the key kept twice a member's life past this refresh. */
static void
add_records (MeshTrackerRedis * self, const gchar * swarm, GPtrArray * records)
{
  g_autofree gchar *key = members_key (self, swarm);
  g_autofree gchar *score = expiry_score (self);
  g_autofree gchar *key_ttl = g_strdup_printf ("%" G_GINT64_FORMAT,
      self->ttl_ms * 2);
  const gchar *argv[2 + 2 * BATCH];
  guint done = 0;

  while (done < records->len) {
    guint argc = 2, n;

    argv[0] = "ZADD";
    argv[1] = key;
    for (n = 0; n < BATCH && done < records->len; n++, done++) {
      argv[argc++] = score;
      argv[argc++] = g_ptr_array_index (records, done);
    }
    link_command (self->commands, on_reply_checked, self, argc, argv);
  }
  argv[0] = "PEXPIRE";
  argv[1] = key;
  argv[2] = key_ttl;
  link_command (self->commands, on_reply_checked, self, 3, argv);
}

/* Forgets the members of @swarm (ours and others') that expired. */
static void
remove_expired (MeshTrackerRedis * self, const gchar * swarm)
{
  g_autofree gchar *key = members_key (self, swarm);
  g_autofree gchar *now = g_strdup_printf ("(%" G_GINT64_FORMAT,
      g_get_real_time () / 1000);
  const gchar *argv[] = { "ZREMRANGEBYSCORE", key, "-inf", now };

  link_command (self->commands, on_reply_checked, self, 4, argv);
}

static void
refresh_swarm (MeshTrackerRedis * self, const gchar * swarm,
    GHashTable * members)
{
  g_autoptr (GPtrArray) records = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer record;

  g_hash_table_iter_init (&iter, members);
  while (g_hash_table_iter_next (&iter, NULL, &record))
    g_ptr_array_add (records, record);
  add_records (self, swarm, records);
  remove_expired (self, swarm);
}

static gboolean
on_refresh (gpointer data)
{
  MeshTrackerRedis *self = data;
  GHashTableIter iter;
  gpointer swarm, members;

  link_check_answering (self->commands);

  g_hash_table_iter_init (&iter, self->swarms);
  while (g_hash_table_iter_next (&iter, &swarm, &members))
    refresh_swarm (self, swarm, members);
  return G_SOURCE_CONTINUE;
}

/* SUBSCRIBE (or UNSUBSCRIBE) @channels, BATCH at a time. */
static void
subscribe_channels (MeshTrackerRedis * self, const gchar * command,
    GPtrArray * channels);

static void
resubscribe_all (MeshTrackerRedis * self)
{
  g_autoptr (GPtrArray) channels = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter, members_iter;
  gpointer swarm, members, peer;

  g_hash_table_iter_init (&iter, self->swarms);
  while (g_hash_table_iter_next (&iter, &swarm, &members)) {
    g_ptr_array_add (channels, swarm_channel (self, swarm));
    g_hash_table_iter_init (&members_iter, members);
    while (g_hash_table_iter_next (&members_iter, &peer, NULL))
      g_ptr_array_add (channels, peer_channel (self, peer, swarm));
  }
  subscribe_channels (self, "SUBSCRIBE", channels);
}

/* ------------------------------------------------------------------------ */
/* Incoming messages (the subscriber connection)                            */

static void
deliver_left (MeshTrackerRedis * self, const gchar * swarm, JsonObject * object)
{
  const gchar *from = get_string (object, "f");
  MeshTrackerDirectoryMessage message = {
    MESH_TRACKER_DIRECTORY_PEER_LEFT, swarm, NULL, from, NULL, FALSE, NULL
  };

  if (g_strcmp0 (get_string (object, "i"), self->instance) == 0)
    return;                     /* our own news */
  if (!from || !mesh_tracker_is_valid_peer_id (from)) {
    self->stats.dropped++;
    return;
  }
  self->stats.messages_in++;
  mesh_tracker_directory_emit_message (MESH_TRACKER_DIRECTORY (self), &message);
}

static void
deliver_to_peer (MeshTrackerRedis * self, const gchar * swarm,
    const gchar * to, JsonObject * object)
{
  const gchar *type = get_string (object, "t");
  const gchar *from = get_string (object, "f");
  JsonNode *data = json_object_get_member (object, "d");
  g_autofree gchar *data_text = NULL;
  MeshLocalityKey key = { 0 };
  MeshTrackerDirectoryMessage message = { 0 };

  if (!from || !mesh_tracker_is_valid_peer_id (from) || !type) {
    self->stats.dropped++;
    return;
  }
  message.swarm = swarm;
  message.to = to;
  message.from = from;
  if (g_str_equal (type, "signal") && data) {
    message.type = MESH_TRACKER_DIRECTORY_SIGNAL;
    message.data = data_text = json_to_string (data, FALSE);
  } else if (g_str_equal (type, "joined")) {
    message.type = MESH_TRACKER_DIRECTORY_PEER_JOINED;
    message.upload = get_boolean (object, "u");
    read_key (object, &key);
    message.key = &key;
  } else {
    self->stats.dropped++;
    return;
  }
  self->stats.messages_in++;
  mesh_tracker_directory_emit_message (MESH_TRACKER_DIRECTORY (self), &message);
  mesh_locality_key_clear (&key);
}

/* "PREFIXp:PEER:SWARM" or "PREFIXs:SWARM": whose the message is. */
static void
deliver (MeshTrackerRedis * self, const gchar * channel, JsonObject * object)
{
  gsize prefix_length = strlen (self->prefix);
  const gchar *name, *colon;
  g_autofree gchar *peer = NULL;

  if (!g_str_has_prefix (channel, self->prefix))
    return;
  name = channel + prefix_length;
  if (g_str_has_prefix (name, "s:")) {
    deliver_left (self, name + 2, object);
    return;
  }
  if (!g_str_has_prefix (name, "p:") || !(colon = strchr (name + 2, ':')))
    return;
  peer = g_strndup (name + 2, colon - (name + 2));
  deliver_to_peer (self, colon + 1, peer, object);
}

static void
on_subscriber_reply (redisAsyncContext * ac, void *reply_data, void *data)
{
  redisReply *reply = reply_data;
  MeshTrackerRedis *self = data;
  g_autoptr (JsonNode) root = NULL;
  redisReply *payload;

  if (!reply || self->disposing)
    return;
  if (reply->type == REDIS_REPLY_ERROR) {
    count_error (self, "subscription", reply->str);
    return;
  }
  /* ["message", channel, payload]; subscribe confirmations are ignored */
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
      || reply->element[0]->type != REDIS_REPLY_STRING
      || strcmp (reply->element[0]->str, "message") != 0
      || reply->element[1]->type != REDIS_REPLY_STRING
      || reply->element[2]->type != REDIS_REPLY_STRING)
    return;
  payload = reply->element[2];
  root = parse_object (self, payload->str, payload->len);
  if (!root) {
    self->stats.dropped++;
    return;
  }
  deliver (self, reply->element[1]->str, json_node_get_object (root));
}

static void
subscribe_channels (MeshTrackerRedis * self, const gchar * command,
    GPtrArray * channels)
{
  const gchar *argv[1 + BATCH];
  guint done = 0;

  while (done < channels->len) {
    guint argc = 1;

    argv[0] = command;
    while (argc <= BATCH && done < channels->len)
      argv[argc++] = g_ptr_array_index (channels, done++);
    /* hiredis keeps the callback per channel; UNSUBSCRIBE takes none */
    if (g_str_equal (command, "SUBSCRIBE"))
      link_command (self->subscriber, on_subscriber_reply, self, argc, argv);
    else
      link_command (self->subscriber, NULL, NULL, argc, argv);
  }
}

static void
subscribe_one (MeshTrackerRedis * self, const gchar * command, gchar * channel)
{
  g_autoptr (GPtrArray) channels = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (channels, channel);
  subscribe_channels (self, command, channels);
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

static gboolean
on_retry (gpointer data)
{
  Link *link = data;

  g_clear_pointer (&link->retry_source, g_source_unref);
  link_connect (link);
  return G_SOURCE_REMOVE;
}

static void
link_schedule_retry (Link * link)
{
  MeshTrackerRedis *self = link->self;

  if (self->disposing || link->retry_source)
    return;
  link->backoff_ms = link->backoff_ms ?
      MIN (link->backoff_ms * 2, REDIS_BACKOFF_MAX_MS) : REDIS_BACKOFF_MIN_MS;
  link->retry_source = g_timeout_source_new (link->backoff_ms);
  g_source_set_callback (link->retry_source, on_retry, link, NULL);
  g_source_attach (link->retry_source, self->context);
}

/* hiredis let go of the context (failed to connect, or disconnected). */
static void
link_lost (Link * link, const gchar * why)
{
  MeshTrackerRedis *self = link->self;

  if (link->source) {
    g_source_destroy (link->source);
    g_source_unref (link->source);
    link->source = NULL;
  }
  link->ac = NULL;
  if (self->disposing)
    return;
  /* a warning when the connection goes, then once per REDIS_BACKOFF_MAX_MS
   * while it does not come back */
  if (link->connected || link->backoff_ms == 0
      || link->backoff_ms >= REDIS_BACKOFF_MAX_MS)
    count_error (self, link->name, why);
  else
    self->stats.errors++;
  link->connected = FALSE;
  self->stats.connected = self->commands->connected
      && self->subscriber->connected;
  link_schedule_retry (link);
}

static void
on_connect (const redisAsyncContext * ac, int status)
{
  Link *link = ac->data;
  MeshTrackerRedis *self = link->self;

  if (status != REDIS_OK) {
    link_lost (link, ac->errstr);
    return;
  }
  if (link->ever_connected)
    self->stats.reconnects++;
  if (link->ever_connected || link->backoff_ms)
    g_message ("Redis %s:%u: %s connection up", self->host, self->port,
        link->name);
  link->ever_connected = TRUE;
  link->connected = TRUE;
  link->backoff_ms = 0;
  link->last_reply = g_get_monotonic_time ();
  self->stats.connected = self->commands->connected
      && self->subscriber->connected;
  if (link->subscriber) {
    resubscribe_all (self);
  } else {
    g_autofree gchar *db = g_strdup_printf ("%u", self->db);
    const gchar *argv[] = { "SELECT", db };

    link_command (link, on_reply_checked, self, 2, argv);
    on_refresh (self);
  }
}

static void
on_disconnect (const redisAsyncContext * ac, int status)
{
  Link *link = ac->data;

  link_lost (link, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void
link_open (Link * link, const gchar * address)
{
  MeshTrackerRedis *self = link->self;
  redisAsyncContext *ac = redisAsyncConnect (address, self->port);

  if (!ac) {
    link_lost (link, "out of memory");
    return;
  }
  if (ac->err) {
    g_autofree gchar *why = g_strdup (ac->errstr);

    redisAsyncFree (ac);
    link_lost (link, why);
    return;
  }
  ac->data = link;
  link->ac = ac;
  link->source = redis_source_new (ac);
  g_source_attach (link->source, self->context);
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);
  /* hiredis completes the connection once it has something to write */
  {
    const gchar *argv[] = { "PING" };
    size_t lengths[] = { 4 };

    redisAsyncCommandArgv (ac, NULL, NULL, 1, argv, lengths);
  }
}

static void
on_resolved (GObject * resolver, GAsyncResult * result, gpointer data)
{
  Link *link = data;
  g_autoptr (GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (resolver),
      result, &error);
  g_autofree gchar *address = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&link->resolving);
  if (!addresses) {
    link_lost (link, error->message);
    return;
  }
  address = g_inet_address_to_string (addresses->data);
  g_resolver_free_addresses (addresses);
  link_open (link, address);
}

/* hiredis resolves host names with getaddrinfo(), which blocks: names go
 * through GResolver first. */
static void
link_connect (Link * link)
{
  MeshTrackerRedis *self = link->self;
  g_autoptr (GResolver) resolver = NULL;

  if (g_hostname_is_ip_address (self->host)) {
    link_open (link, self->host);
    return;
  }
  resolver = g_resolver_get_default ();
  link->resolving = g_cancellable_new ();
  g_main_context_push_thread_default (self->context);
  g_resolver_lookup_by_name_async (resolver, self->host, link->resolving,
      on_resolved, link);
  g_main_context_pop_thread_default (self->context);
}

static Link *
link_new (MeshTrackerRedis * self, const gchar * name, gboolean subscriber)
{
  Link *link = g_new0 (Link, 1);

  link->self = self;
  link->name = name;
  link->subscriber = subscriber;
  return link;
}

static void
link_free (Link * link)
{
  if (link->resolving)
    g_cancellable_cancel (link->resolving);
  g_clear_object (&link->resolving);
  if (link->retry_source) {
    g_source_destroy (link->retry_source);
    g_source_unref (link->retry_source);
  }
  /* calls the callbacks waiting (with no reply), then on_disconnect */
  if (link->ac)
    redisAsyncFree (link->ac);
  if (link->source) {
    g_source_destroy (link->source);
    g_source_unref (link->source);
  }
  g_free (link);
}

/* ------------------------------------------------------------------------ */
/* The directory                                                            */

static void
redis_publish (MeshTrackerDirectory * directory, const gchar * swarm,
    const gchar * peer, gboolean upload, const MeshLocalityKey * key)
{
  MeshTrackerRedis *self = MESH_TRACKER_REDIS (directory);
  GHashTable *members = g_hash_table_lookup (self->swarms, swarm);
  gchar *record = make_record (self, peer, upload, key);
  g_autoptr (GPtrArray) records = g_ptr_array_new ();

  if (!members) {
    members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_insert (self->swarms, g_strdup (swarm), members);
    subscribe_one (self, "SUBSCRIBE", swarm_channel (self, swarm));
  }
  g_hash_table_replace (members, g_strdup (peer), record);
  subscribe_one (self, "SUBSCRIBE", peer_channel (self, peer, swarm));
  g_ptr_array_add (records, record);
  add_records (self, swarm, records);
}

static void
publish_message (MeshTrackerRedis * self, const gchar * channel,
    const gchar * payload, redisCallbackFn * callback, gpointer data)
{
  const gchar *argv[] = { "PUBLISH", channel, payload };

  if (link_command (self->commands, callback, data, 3, argv))
    self->stats.messages_out++;
  else if (callback)
    callback (NULL, NULL, data);
}

static void
redis_withdraw (MeshTrackerDirectory * directory, const gchar * swarm,
    const gchar * peer)
{
  MeshTrackerRedis *self = MESH_TRACKER_REDIS (directory);
  GHashTable *members = g_hash_table_lookup (self->swarms, swarm);
  g_autofree gchar *key = members_key (self, swarm);
  g_autofree gchar *channel = swarm_channel (self, swarm);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree gchar *news = NULL;
  const gchar *record;

  if (!members || !(record = g_hash_table_lookup (members, peer)))
    return;
  {
    const gchar *argv[] = { "ZREM", key, record };

    link_command (self->commands, on_reply_checked, self, 3, argv);
  }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "t");
  json_builder_add_string_value (builder, "left");
  json_builder_set_member_name (builder, "f");
  json_builder_add_string_value (builder, peer);
  json_builder_set_member_name (builder, "i");
  json_builder_add_string_value (builder, self->instance);
  news = builder_to_text (builder);
  publish_message (self, channel, news, NULL, NULL);

  subscribe_one (self, "UNSUBSCRIBE", peer_channel (self, peer, swarm));
  g_hash_table_remove (members, peer);
  if (g_hash_table_size (members) == 0) {
    subscribe_one (self, "UNSUBSCRIBE", g_steal_pointer (&channel));
    g_hash_table_remove (self->swarms, swarm);
  }
}

/* One list, answered by Redis or by its timeout, whichever comes first;
 * freed once both are done with it. */
typedef struct
{
  MeshTrackerRedis *self;
  guint max;
  MeshTrackerDirectoryListFunc func;
  gpointer user_data;
  GSource *timeout;
  gboolean sent;                /* FALSE: Redis was not connected */
  gboolean answered;
  gint refs;
} ListRequest;

static void
list_request_unref (ListRequest * request)
{
  if (--request->refs > 0)
    return;
  if (request->timeout) {
    g_source_destroy (request->timeout);
    g_source_unref (request->timeout);
  }
  g_free (request);
}

static void
list_answer (ListRequest * request, GPtrArray * members)
{
  if (request->answered)
    return;
  request->answered = TRUE;
  g_hash_table_remove (request->self->lists, request);
  request->self->stats.remote_listed += members->len;
  request->func (members, request->user_data);
  /* not left to fire: a crowd's lists would keep hundreds of timers in
   * the root, which GLib walks on each of its iterations. Last: the timer
   * holds a reference, which may be the last one. */
  g_source_destroy (request->timeout);
}

/* The records of a ZRANDMEMBER .. WITHSCORES reply (member, score, ...)
 * that are not ours and not expired, at most request->max. */
static GPtrArray *
read_members (ListRequest * request, redisReply * reply)
{
  MeshTrackerRedis *self = request->self;
  GPtrArray *members = g_ptr_array_new_with_free_func ((GDestroyNotify)
      mesh_tracker_remote_member_free);
  gint64 now = g_get_real_time () / 1000;
  size_t i;

  if (!reply || reply->type != REDIS_REPLY_ARRAY)
    return members;
  for (i = 0; i + 1 < reply->elements && members->len < request->max; i += 2) {
    redisReply *record = reply->element[i], *score = reply->element[i + 1];
    MeshTrackerRemoteMember *member;

    if (record->type != REDIS_REPLY_STRING
        || score->type != REDIS_REPLY_STRING
        || g_ascii_strtod (score->str, NULL) < now)
      continue;
    member = read_record (self, record->str, record->len);
    if (member)
      g_ptr_array_add (members, member);
    else
      self->stats.dropped++;
  }
  return members;
}

static void
on_listed (redisAsyncContext * ac, void *reply_data, void *data)
{
  redisReply *reply = reply_data;
  ListRequest *request = data;
  g_autoptr (GPtrArray) members = NULL;

  if (reply && reply->type == REDIS_REPLY_ERROR)
    count_error (request->self, "listing members", reply->str);
  members = read_members (request, reply);
  list_answer (request, members);
  list_request_unref (request);
}

static gboolean
on_list_timeout (gpointer data)
{
  ListRequest *request = data;
  g_autoptr (GPtrArray) members = g_ptr_array_new ();

  if (!request->answered && request->sent)
    count_error (request->self, "listing members", "no answer in time");
  list_answer (request, members);
  return G_SOURCE_REMOVE;
}

static void
redis_list (MeshTrackerDirectory * directory, const gchar * swarm, guint max,
    MeshTrackerDirectoryListFunc func, gpointer user_data)
{
  MeshTrackerRedis *self = MESH_TRACKER_REDIS (directory);
  ListRequest *request = g_new0 (ListRequest, 1);
  g_autofree gchar *key = members_key (self, swarm);
  /* ours are in the set too: ask for more, keep @max */
  g_autofree gchar *count = g_strdup_printf ("%u", MIN (max, 10000) * 2 + 1);
  const gchar *argv[] = { "ZRANDMEMBER", key, count, "WITHSCORES" };

  request->self = self;
  request->max = max;
  request->func = func;
  request->user_data = user_data;
  request->refs = 2;            /* the timeout's, the reply's */
  request->timeout = g_timeout_source_new (LIST_TIMEOUT_MS);
  g_source_set_callback (request->timeout, on_list_timeout, request,
      (GDestroyNotify) list_request_unref);
  g_source_attach (request->timeout, self->context);
  g_hash_table_add (self->lists, request);
  request->sent = link_command (self->commands, on_listed, request, 4, argv);
  if (request->sent)
    return;
  /* not connected: answered (empty) at once from the main loop */
  g_source_set_ready_time (request->timeout, 0);
  list_request_unref (request);
}

/* A SIGNAL sent, waiting for PUBLISH to say how many received it. */
typedef struct
{
  MeshTrackerRedis *self;
  gchar *swarm;
  gchar *from;
  gchar *to;
} SentSignal;

static void
on_signal_published (redisAsyncContext * ac, void *reply_data, void *data)
{
  redisReply *reply = reply_data;
  SentSignal *sent = data;

  if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0
      && !sent->self->disposing)
    mesh_tracker_directory_emit_undelivered (MESH_TRACKER_DIRECTORY
        (sent->self), sent->swarm, sent->from, sent->to);
  g_free (sent->swarm);
  g_free (sent->from);
  g_free (sent->to);
  g_free (sent);
}

static void
redis_send (MeshTrackerDirectory * directory,
    const MeshTrackerDirectoryMessage * message)
{
  MeshTrackerRedis *self = MESH_TRACKER_REDIS (directory);
  g_autofree gchar *channel = peer_channel (self, message->to, message->swarm);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree gchar *payload = NULL;
  JsonNode *data;
  SentSignal *sent;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "f");
  json_builder_add_string_value (builder, message->from);
  json_builder_set_member_name (builder, "t");
  if (message->type == MESH_TRACKER_DIRECTORY_PEER_JOINED) {
    json_builder_add_string_value (builder, "joined");
    json_builder_set_member_name (builder, "u");
    json_builder_add_boolean_value (builder, message->upload);
    add_key_members (builder, message->key);
    payload = builder_to_text (builder);
    publish_message (self, channel, payload, NULL, NULL);
    return;
  }
  json_builder_add_string_value (builder, "signal");
  json_builder_set_member_name (builder, "d");
  data = json_from_string (message->data, NULL);
  json_builder_add_value (builder,
      data ? data : json_node_new (JSON_NODE_NULL));
  payload = builder_to_text (builder);
  sent = g_new0 (SentSignal, 1);
  sent->self = self;
  sent->swarm = g_strdup (message->swarm);
  sent->from = g_strdup (message->from);
  sent->to = g_strdup (message->to);
  publish_message (self, channel, payload, on_signal_published, sent);
}

static void
redis_get_stats (MeshTrackerDirectory * directory,
    MeshTrackerDirectoryStats * stats)
{
  *stats = MESH_TRACKER_REDIS (directory)->stats;
}

static void
directory_iface_init (MeshTrackerDirectoryInterface * iface)
{
  iface->publish = redis_publish;
  iface->withdraw = redis_withdraw;
  iface->list = redis_list;
  iface->send = redis_send;
  iface->get_stats = redis_get_stats;
}

static gboolean
on_flush_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Lets @link send what is queued and read the answers, for at most
 * FLUSH_TIMEOUT_MS, running our context meanwhile. */
static void
link_flush (Link * link)
{
  MeshTrackerRedis *self = link->self;
  gboolean timed_out = FALSE;
  GSource *timeout;

  if (!link->connected)
    return;
  timeout = g_timeout_source_new (FLUSH_TIMEOUT_MS);
  g_source_set_callback (timeout, on_flush_timeout, &timed_out, NULL);
  g_source_attach (timeout, self->context);
  redisAsyncDisconnect (link->ac);
  while (link->ac && !timed_out)
    g_main_context_iteration (self->context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
}

/* The lists still waiting are answered (empty) now. */
static void
answer_all_lists (MeshTrackerRedis * self)
{
  g_autoptr (GPtrArray) members = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer request;

  while (g_hash_table_size (self->lists) > 0) {
    g_hash_table_iter_init (&iter, self->lists);
    g_hash_table_iter_next (&iter, &request, NULL);
    /* which takes its timer away, and may free it */
    list_answer (request, members);
  }
}

static void
mesh_tracker_redis_dispose (GObject * object)
{
  MeshTrackerRedis *self = MESH_TRACKER_REDIS (object);

  self->disposing = TRUE;
  if (self->refresh_source) {
    g_source_destroy (self->refresh_source);
    g_clear_pointer (&self->refresh_source, g_source_unref);
  }
  if (self->commands)
    link_flush (self->commands);
  g_clear_pointer (&self->commands, link_free);
  g_clear_pointer (&self->subscriber, link_free);
  if (self->lists)
    answer_all_lists (self);
  G_OBJECT_CLASS (mesh_tracker_redis_parent_class)->dispose (object);
}

static void
mesh_tracker_redis_finalize (GObject * object)
{
  MeshTrackerRedis *self = MESH_TRACKER_REDIS (object);

  g_hash_table_unref (self->swarms);
  g_hash_table_unref (self->lists);
  g_free (self->host);
  g_free (self->prefix);
  g_free (self->instance);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (mesh_tracker_redis_parent_class)->finalize (object);
}

static void
mesh_tracker_redis_class_init (MeshTrackerRedisClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mesh_tracker_redis_dispose;
  object_class->finalize = mesh_tracker_redis_finalize;
}

static void
mesh_tracker_redis_init (MeshTrackerRedis * self)
{
  GString *instance = g_string_new (NULL);
  guint i;

  for (i = 0; i < INSTANCE_ID_BYTES; i++)
    g_string_append_printf (instance, "%02x", g_random_int_range (0, 256));
  self->instance = g_string_free (instance, FALSE);
  self->swarms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_hash_table_unref);
  self->lists = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->context = g_main_context_ref_thread_default ();
}

MeshTrackerDirectory *
mesh_tracker_redis_new (const gchar * url, guint heartbeat,
    guint max_message_size, GError ** error)
{
  MeshTrackerRedis *self;
  gchar *host;
  guint port, db;

  g_return_val_if_fail (heartbeat > 0, NULL);

  if (!mesh_tracker_redis_parse_url (url, &host, &port, &db, error))
    return NULL;
  self = g_object_new (MESH_TYPE_TRACKER_REDIS, NULL);
  self->host = host;
  self->port = port;
  self->db = db;
  self->prefix = g_strdup_printf ("mesh:%u:", db);
  self->ttl_ms = (gint64) heartbeat *1000;
  self->max_message_size = max_message_size;
  self->commands = link_new (self, "command", FALSE);
  self->subscriber = link_new (self, "subscriber", TRUE);
  self->refresh_source = g_timeout_source_new (MAX (heartbeat * 1000 / 3, 1));
  g_source_set_callback (self->refresh_source, on_refresh, self, NULL);
  g_source_attach (self->refresh_source, self->context);
  g_message ("Redis mode: %s, instance %s", url, self->instance);
  link_connect (self->commands);
  link_connect (self->subscriber);
  return MESH_TRACKER_DIRECTORY (self);
}

#else /* !HAVE_HIREDIS */

gboolean
mesh_tracker_redis_is_supported (void)
{
  return FALSE;
}

MeshTrackerDirectory *
mesh_tracker_redis_new (const gchar * url, guint heartbeat,
    guint max_message_size, GError ** error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "--redis: this mesh-tracker was built without hiredis");
  return NULL;
}

#endif
