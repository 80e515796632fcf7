/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tracker-attested segment digests (see mesh-tracker-attest.h).
 *
 * Threads: everything here but the counters belongs to the tracker's server
 * thread (its GMainContext runs the SoupSession and every callback), so it
 * needs no lock. The counters live under stats_lock, never held across a
 * call into libsoup.
 *
 * A request names a swarm, a URL and a byte range: its key. An answer in
 * the cache (keyed the same, so each swarm pays for its own fetch and one
 * swarm cannot poison another's digests) goes back at once; a fetch of that
 * key under way takes one more waiter; else a Job is made, which runs when
 * fewer than max_fetches do (else it queues). A Job streams the body
 * through SHA-256, never keeping it, and answers all its waiters at once.
 */

#define G_LOG_DOMAIN "mesh-tracker"

#include "mesh-tracker-attest.h"
#include "p2p/mesh-tracker-proto.h"

#include <libsoup/soup.h>
#include <string.h>

#define READ_CHUNK (64 * 1024)
/* what a cache entry costs beyond its key: the entry, the hash table's
 * slot and the queue's link, roughly */
#define ENTRY_OVERHEAD 128

typedef struct
{
  gpointer client;
  gint64 id;
} Waiter;

/* What a client has outstanding, and the bucket of its requests. */
typedef struct
{
  guint outstanding;
  gdouble tokens;
  gint64 refilled;              /* monotonic µs */
} Client;

typedef struct
{
  gchar *key;
  guint8 digest[32];
  guint64 size;
  gint64 expiry;                /* monotonic µs */
  GList *link;                  /* in cache_order */
} Entry;

typedef struct
{
  MeshTrackerAttest *attest;
  gchar *key;
  gchar *url;                   /* normalised */
  gint64 offset;
  gint64 length;
  GArray *waiters;              /* Waiter */
  GCancellable *cancellable;
  GSource *timeout_source;
  SoupMessage *msg;
  GInputStream *body;
  GChecksum *checksum;
  guint8 *buffer;
  guint64 read;                 /* body bytes read */
  guint64 skip;                 /* of them, before the range (a 200) */
  guint64 want;                 /* bytes to digest, G_MAXUINT64: all */
  guint64 hashed;
  gboolean timed_out;
} Job;

/* One prefix, normalised. */
typedef struct
{
  gchar *scheme;
  gchar *host;
  gint port;
  gchar *path;                  /* decoded */
} Origin;

struct _MeshTrackerAttest
{
  /* configuration, read-only */
  GArray *origins;              /* Origin */
  guint64 max_size;
  guint timeout;
  guint max_fetches;
  guint max_queued;
  guint max_outstanding;
  guint rate;
  guint cache_entries;
  gsize cache_bytes;
  gint64 cache_ttl_us;
  MeshTrackerAttestReply reply;
  gpointer reply_data;

  /* server thread only */
  SoupSession *session;         /* made by the first fetch */
  GHashTable *clients;          /* client -> Client (owned) */
  GHashTable *jobs;             /* key -> Job (owned), running or queued */
  GQueue queued;                /* Job, waiting for a fetch slot */
  guint running;
  GHashTable *cache;            /* key -> Entry (owned) */
  GQueue cache_order;           /* Entry, oldest first */
  gsize cache_size;             /* bytes */
  gboolean stopping;

  GMutex stats_lock;
  MeshTrackerAttestStats stats;
};

#define STATS_LOCKED(attest, ...) G_STMT_START {        \
    g_mutex_lock (&(attest)->stats_lock);               \
    __VA_ARGS__;                                        \
    g_mutex_unlock (&(attest)->stats_lock);             \
  } G_STMT_END

static void job_start (Job * job);

/* ------------------------------------------------------------------------ */
/* URLs                                                                     */

static gint
default_port (const gchar * scheme)
{
  return g_str_equal (scheme, "https") ? 443 : 80;
}

/* @path decoded, when it has no encoded "/", NUL or bad escape, no "\",
 * and no "." or ".." segment: what the origin will see is what we
 * compare. */
static gchar *
decode_path (const gchar * path)
{
  g_autofree gchar *decoded = NULL;
  g_auto (GStrv) segments = NULL;
  guint i;

  if (!*path)
    return g_strdup ("/");
  if (path[0] != '/')
    return NULL;
  decoded = g_uri_unescape_string (path, "/");
  if (!decoded || strchr (decoded, '\\'))
    return NULL;
  segments = g_strsplit (decoded, "/", -1);
  for (i = 0; segments[i]; i++) {
    if (g_str_equal (segments[i], ".") || g_str_equal (segments[i], ".."))
      return NULL;
  }
  return g_steal_pointer (&decoded);
}

static gboolean
is_plain_ascii (const gchar * text)
{
  for (; *text; text++) {
    if ((guchar) * text <= 0x20 || (guchar) * text >= 0x7f)
      return FALSE;
  }
  return TRUE;
}

static gboolean
refuse (GError ** error, const gchar * why)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, why);
  return FALSE;
}

/* Parses @text into @origin (fields owned by the caller) and, when
 * @fetch_url is not NULL, the URL to fetch (without fragment). */
static gboolean
parse_url (const gchar * text, Origin * origin, gchar ** fetch_url,
    GError ** error)
{
  g_autoptr (GUri) uri = NULL;
  const gchar *host;

  if (!is_plain_ascii (text))
    return refuse (error, "not an URL");
  uri = g_uri_parse (text, G_URI_FLAGS_ENCODED, NULL);
  if (!uri)
    return refuse (error, "not an URL");
  origin->scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  if (!g_str_equal (origin->scheme, "http")
      && !g_str_equal (origin->scheme, "https"))
    return refuse (error, "not an http or https URL");
  if (g_uri_get_userinfo (uri))
    return refuse (error, "URLs with userinfo are refused");
  host = g_uri_get_host (uri);
  if (!host || !*host || strchr (host, '%'))
    return refuse (error, "not an URL with a plain host");
  origin->host = g_ascii_strdown (host, -1);
  origin->port = g_uri_get_port (uri);
  if (origin->port < 0)
    origin->port = default_port (origin->scheme);
  origin->path = decode_path (g_uri_get_path (uri));
  if (!origin->path)
    return refuse (error, "the path has dot segments or encoded slashes");
  if (fetch_url)
    *fetch_url = g_uri_join (G_URI_FLAGS_ENCODED, origin->scheme, NULL,
        origin->host, g_uri_get_port (uri), g_uri_get_path (uri),
        g_uri_get_query (uri), NULL);
  else if (g_uri_get_query (uri) || g_uri_get_fragment (uri))
    return refuse (error, "a prefix has no query or fragment");
  return TRUE;
}

static void
origin_clear (gpointer data)
{
  Origin *origin = data;

  g_free (origin->scheme);
  g_free (origin->host);
  g_free (origin->path);
}

/* A prefix path that does not end with "/" matches whole segments only:
 * "/live" takes "/live/a.ts", not "/live-private/a.ts". */
static gboolean
origin_matches (const Origin * prefix, const Origin * url)
{
  gsize n = strlen (prefix->path);

  if (!g_str_equal (prefix->scheme, url->scheme)
      || !g_str_equal (prefix->host, url->host) || prefix->port != url->port)
    return FALSE;
  if (strncmp (prefix->path, url->path, n) != 0)
    return FALSE;
  return prefix->path[n - 1] == '/' || url->path[n] == '\0'
      || url->path[n] == '/';
}

gchar *
mesh_tracker_attest_check_url (MeshTrackerAttest * attest, const gchar * url,
    GError ** error)
{
  Origin parsed = { 0, };
  g_autofree gchar *fetch_url = NULL;
  guint i;

  if (!parse_url (url, &parsed, &fetch_url, error)) {
    origin_clear (&parsed);
    return NULL;
  }
  for (i = 0; i < attest->origins->len; i++) {
    if (origin_matches (&g_array_index (attest->origins, Origin, i), &parsed)) {
      origin_clear (&parsed);
      return g_steal_pointer (&fetch_url);
    }
  }
  origin_clear (&parsed);
  refuse (error, "not under an attested origin");
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                  */

/* The client's bucket takes one request, if it has one. */
static gboolean
client_take (MeshTrackerAttest * attest, Client * client)
{
  gdouble depth = 2.0 * attest->rate;
  gint64 now = g_get_monotonic_time ();

  client->tokens = MIN (depth, client->tokens + attest->rate *
      (now - client->refilled) / (gdouble) G_USEC_PER_SEC);
  client->refilled = now;
  if (client->tokens < 1.0)
    return FALSE;
  client->tokens -= 1.0;
  return TRUE;
}

static Client *
client_lookup (MeshTrackerAttest * attest, gpointer key)
{
  Client *client = g_hash_table_lookup (attest->clients, key);

  if (!client) {
    client = g_new0 (Client, 1);
    client->tokens = 2.0 * attest->rate;
    client->refilled = g_get_monotonic_time ();
    g_hash_table_insert (attest->clients, key, client);
  }
  return client;
}

static void
answer_error (MeshTrackerAttest * attest, gpointer client, gint64 id,
    const gchar * why)
{
  g_autofree gchar *text = mesh_tracker_encode_attested_error (id, why);

  STATS_LOCKED (attest, attest->stats.refused++);
  attest->reply (client, text, attest->reply_data);
}

/* ------------------------------------------------------------------------ */
/* Cache                                                                    */

static gsize
entry_cost (const Entry * entry)
{
  return strlen (entry->key) + ENTRY_OVERHEAD;
}

static void
cache_drop_oldest (MeshTrackerAttest * attest)
{
  Entry *entry = g_queue_pop_head (&attest->cache_order);

  attest->cache_size -= entry_cost (entry);
  g_hash_table_remove (attest->cache, entry->key);
}

static void
cache_expire (MeshTrackerAttest * attest, gint64 now)
{
  Entry *oldest;

  /* one lifetime for all: the oldest expires first */
  while ((oldest = g_queue_peek_head (&attest->cache_order))
      && oldest->expiry <= now)
    cache_drop_oldest (attest);
}

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  g_free (entry->key);
  g_free (entry);
}

static void
cache_add (MeshTrackerAttest * attest, const gchar * key,
    const guint8 digest[32], guint64 size)
{
  Entry *entry;

  if (g_hash_table_contains (attest->cache, key))
    return;
  entry = g_new0 (Entry, 1);
  entry->key = g_strdup (key);
  memcpy (entry->digest, digest, 32);
  entry->size = size;
  entry->expiry = g_get_monotonic_time () + attest->cache_ttl_us;
  while (attest->cache_order.length > 0
      && (attest->cache_order.length >= attest->cache_entries
          || attest->cache_size + entry_cost (entry) > attest->cache_bytes))
    cache_drop_oldest (attest);
  g_queue_push_tail (&attest->cache_order, entry);
  entry->link = attest->cache_order.tail;
  attest->cache_size += entry_cost (entry);
  g_hash_table_insert (attest->cache, entry->key, entry);
}

/* ------------------------------------------------------------------------ */
/* Jobs: one origin fetch, and who waits for it                             */

static void
job_free (Job * job)
{
  g_free (job->key);
  g_free (job->url);
  g_array_unref (job->waiters);
  g_clear_object (&job->cancellable);
  if (job->timeout_source) {
    g_source_destroy (job->timeout_source);
    g_source_unref (job->timeout_source);
  }
  g_clear_object (&job->msg);
  g_clear_object (&job->body);
  g_clear_pointer (&job->checksum, g_checksum_free);
  g_free (job->buffer);
  g_free (job);
}

static void
start_queued (MeshTrackerAttest * attest)
{
  while (!attest->stopping && attest->running < attest->max_fetches
      && attest->queued.length > 0)
    job_start (g_queue_pop_head (&attest->queued));
}

/* Answers every waiter of @job (with the digest, or @why there is none),
 * forgets it and starts the next. */
static void
job_finish (Job * job, const gchar * why)
{
  MeshTrackerAttest *attest = job->attest;
  g_autofree gchar *answer = NULL;
  guint8 digest[32];
  gsize digest_size = sizeof (digest);
  guint i;

  if (!why) {
    g_checksum_get_digest (job->checksum, digest, &digest_size);
    cache_add (attest, job->key, digest, job->hashed);
  }
  g_debug ("attest %s [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]: %s, %u "
      "waiting", job->url, job->offset, job->length, why ? why : "digest",
      job->waiters->len);

  /* out of the tables before anyone hears: a reply may lead to a new
   * request for the same key */
  g_hash_table_steal (attest->jobs, job->key);
  attest->running--;
  for (i = 0; !attest->stopping && i < job->waiters->len; i++) {
    Waiter *waiter = &g_array_index (job->waiters, Waiter, i);
    Client *client = g_hash_table_lookup (attest->clients, waiter->client);

    client->outstanding--;
    if (why) {
      answer_error (attest, waiter->client, waiter->id, why);
    } else {
      g_free (answer);
      answer = mesh_tracker_encode_attested (waiter->id, digest, job->hashed);
      attest->reply (waiter->client, answer, attest->reply_data);
    }
  }
  job_free (job);
  start_queued (attest);
}

static gboolean
on_job_timeout (gpointer data)
{
  Job *job = data;

  job->timed_out = TRUE;
  g_cancellable_cancel (job->cancellable);
  return G_SOURCE_REMOVE;
}

/* Why the fetch failed, for the answer (the origin's details stay in our
 * log). */
static const gchar *
fetch_failure (Job * job, GError * error)
{
  if (job->timed_out)
    return "the origin timed out";
  if (job->attest->stopping)
    return "the tracker is shutting down";
  g_debug ("attest %s: %s", job->url, error->message);
  return "the origin could not be reached";
}

/* Takes the bytes of @buffer[0, @size) that are in the range. TRUE when the
 * range is complete. */
static gboolean
job_digest (Job * job, const guint8 * buffer, gsize size)
{
  guint64 skip = 0, take;

  if (job->read < job->skip)
    skip = MIN (size, job->skip - job->read);
  job->read += size;
  take = MIN (size - skip, job->want - job->hashed);
  g_checksum_update (job->checksum, buffer + skip, take);
  job->hashed += take;
  return job->hashed == job->want;
}

static void job_read_next (Job * job);

static void
on_read (GObject * source, GAsyncResult * result, gpointer data)
{
  Job *job = data;
  g_autoptr (GError) error = NULL;
  gssize size = g_input_stream_read_finish (G_INPUT_STREAM (source), result,
      &error);

  if (size < 0) {
    job_finish (job, fetch_failure (job, error));
  } else if (size == 0) {
    if (job->want != G_MAXUINT64 && job->hashed < job->want)
      job_finish (job, "the resource is shorter than the range");
    else
      job_finish (job, NULL);
  } else if (job_digest (job, job->buffer, size)) {
    job_finish (job, NULL);
  } else if (job->read >= job->attest->max_size) {
    job_finish (job, "the resource is over the tracker's size limit");
  } else {
    job_read_next (job);
  }
}

static void
job_read_next (Job * job)
{
  gsize room = MIN (READ_CHUNK, job->attest->max_size - job->read);

  g_input_stream_read_async (job->body, job->buffer, room,
      G_PRIORITY_DEFAULT, job->cancellable, on_read, job);
}

/* Where the range starts in what the origin sends, from its status: NULL
 * when the answer can be used, else why not. */
static const gchar *
job_check_answer (Job * job)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (job->msg);
  guint status = soup_message_get_status (job->msg);
  gboolean ranged = job->offset > 0 || job->length != -1;
  goffset start, end, total, announced;
  guint64 needed;

  job->want = job->length == -1 ? G_MAXUINT64 : (guint64) job->length;
  if (status == SOUP_STATUS_OK) {
    /* the whole resource: the range is cut out here */
    job->skip = job->offset;
  } else if (status == SOUP_STATUS_PARTIAL_CONTENT && ranged) {
    if (!soup_message_headers_get_content_range (headers, &start, &end,
            &total) || start != job->offset || (job->length != -1
            && end != job->offset + job->length - 1))
      return "the origin answered another range";
  } else if (SOUP_STATUS_IS_REDIRECTION (status)) {
    return "the origin redirected (not followed)";
  } else {
    return "the origin did not answer 200";
  }
  /* what we would read, when the origin says how much it sends */
  announced = soup_message_headers_get_content_length (headers);
  needed = job->want == G_MAXUINT64 ? (guint64) announced :
      MIN ((guint64) announced, job->skip + job->want);
  if (needed > job->attest->max_size)
    return "the resource is over the tracker's size limit";
  return NULL;
}

static void
on_sent (GObject * source, GAsyncResult * result, gpointer data)
{
  Job *job = data;
  g_autoptr (GError) error = NULL;
  const gchar *why;

  job->body = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (!job->body) {
    job_finish (job, fetch_failure (job, error));
    return;
  }
  why = job_check_answer (job);
  if (why) {
    g_debug ("attest %s: HTTP %u", job->url,
        soup_message_get_status (job->msg));
    job_finish (job, why);
    return;
  }
  job->buffer = g_malloc (READ_CHUNK);
  job->checksum = g_checksum_new (G_CHECKSUM_SHA256);
  if (job->want == 0)
    job_finish (job, NULL);
  else
    job_read_next (job);
}

static SoupSession *
attest_session (MeshTrackerAttest * attest)
{
  if (!attest->session) {
    attest->session = soup_session_new_with_options ("max-conns",
        MAX (attest->max_fetches, 2), "max-conns-per-host",
        MAX (attest->max_fetches, 2), "timeout", attest->timeout,
        "user-agent", "mesh-tracker", NULL);
    /* the digest is of the bytes as stored, as viewers hash them */
    soup_session_remove_feature_by_type (attest->session,
        SOUP_TYPE_CONTENT_DECODER);
  }
  return attest->session;
}

static void
job_start (Job * job)
{
  MeshTrackerAttest *attest = job->attest;
  SoupMessageHeaders *headers;

  attest->running++;
  STATS_LOCKED (attest, attest->stats.fetches++);
  job->msg = soup_message_new (SOUP_METHOD_GET, job->url);
  soup_message_add_flags (job->msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (job->msg);
  soup_message_headers_replace (headers, "Accept-Encoding", "identity");
  if (job->offset > 0 || job->length != -1)
    soup_message_headers_set_range (headers, job->offset,
        job->length == -1 ? -1 : job->offset + job->length - 1);

  job->timeout_source = g_timeout_source_new_seconds (attest->timeout);
  g_source_set_callback (job->timeout_source, on_job_timeout, job, NULL);
  g_source_attach (job->timeout_source, g_main_context_get_thread_default ());
  soup_session_send_async (attest_session (attest), job->msg,
      G_PRIORITY_DEFAULT, job->cancellable, on_sent, job);
}

static Job *
job_new (MeshTrackerAttest * attest, const gchar * key, gchar * url,
    gint64 offset, gint64 length)
{
  Job *job = g_new0 (Job, 1);

  job->attest = attest;
  job->key = g_strdup (key);
  job->url = url;
  job->offset = offset;
  job->length = length;
  job->waiters = g_array_new (FALSE, FALSE, sizeof (Waiter));
  job->cancellable = g_cancellable_new ();
  g_hash_table_insert (attest->jobs, job->key, job);
  return job;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */

/* From the cache, if there. */
static gboolean
answer_cached (MeshTrackerAttest * attest, gpointer client, gint64 id,
    const gchar * key)
{
  g_autofree gchar *text = NULL;
  Entry *entry;

  cache_expire (attest, g_get_monotonic_time ());
  entry = g_hash_table_lookup (attest->cache, key);
  if (!entry)
    return FALSE;
  text = mesh_tracker_encode_attested (id, entry->digest, entry->size);
  STATS_LOCKED (attest, attest->stats.cached++);
  attest->reply (client, text, attest->reply_data);
  return TRUE;
}

/* The job for @key, made (and started or queued) if need be; NULL when
 * the queue is full. Takes @url. */
static Job *
job_for (MeshTrackerAttest * attest, const gchar * key, gchar * url,
    gint64 offset, gint64 length)
{
  Job *job = g_hash_table_lookup (attest->jobs, key);

  if (job) {
    g_free (url);
    return job;
  }
  if (attest->running >= attest->max_fetches
      && attest->queued.length >= attest->max_queued) {
    g_free (url);
    return NULL;
  }
  job = job_new (attest, key, url, offset, length);
  if (attest->running < attest->max_fetches)
    job_start (job);
  else
    g_queue_push_tail (&attest->queued, job);
  return job;
}

MeshTrackerAttestOutcome
mesh_tracker_attest_request (MeshTrackerAttest * attest, gpointer client,
    const gchar * swarm, gint64 id, const gchar * url, gint64 offset,
    gint64 length)
{
  Client *state = client_lookup (attest, client);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *key = NULL;
  gchar *fetch_url;
  Waiter waiter = { client, id };
  Job *job;

  STATS_LOCKED (attest, attest->stats.requests++);
  if (state->outstanding >= attest->max_outstanding) {
    answer_error (attest, client, id, "too many attest requests outstanding");
    return MESH_TRACKER_ATTEST_LIMITED;
  }
  if (!client_take (attest, state)) {
    answer_error (attest, client, id, "too many attest requests per second");
    return MESH_TRACKER_ATTEST_LIMITED;
  }
  fetch_url = mesh_tracker_attest_check_url (attest, url, &error);
  if (!fetch_url) {
    answer_error (attest, client, id, error->message);
    return MESH_TRACKER_ATTEST_TAKEN;
  }

  /* the swarm first: it cannot contain a newline */
  key = g_strdup_printf ("%s\n%" G_GINT64_FORMAT "\n%" G_GINT64_FORMAT "\n%s",
      swarm, offset, length, fetch_url);
  if (answer_cached (attest, client, id, key)) {
    g_free (fetch_url);
    return MESH_TRACKER_ATTEST_TAKEN;
  }
  job = job_for (attest, key, fetch_url, offset, length);
  if (!job) {
    answer_error (attest, client, id, "the tracker is busy");
    return MESH_TRACKER_ATTEST_TAKEN;
  }
  g_array_append_val (job->waiters, waiter);
  state->outstanding++;
  return MESH_TRACKER_ATTEST_TAKEN;
}

static void
job_drop_waiters (Job * job, gpointer client)
{
  guint i;

  for (i = job->waiters->len; i > 0; i--) {
    if (g_array_index (job->waiters, Waiter, i - 1).client == client)
      g_array_remove_index_fast (job->waiters, i - 1);
  }
}

void
mesh_tracker_attest_forget (MeshTrackerAttest * attest, gpointer client)
{
  GHashTableIter iter;
  gpointer value;

  if (!g_hash_table_remove (attest->clients, client))
    return;
  g_hash_table_iter_init (&iter, attest->jobs);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Job *job = value;

    job_drop_waiters (job, client);
    /* a queued fetch nobody waits for is not worth making; a running one
     * goes on, its digest cached for the swarm */
    if (!job->msg && job->waiters->len == 0) {
      g_hash_table_iter_steal (&iter);
      g_queue_remove (&attest->queued, job);
      job_free (job);
    }
  }
}

void
mesh_tracker_attest_shutdown (MeshTrackerAttest * attest)
{
  GMainContext *context = g_main_context_get_thread_default ();
  GHashTableIter iter;
  gpointer value;
  Job *job;

  attest->stopping = TRUE;
  while ((job = g_queue_pop_head (&attest->queued))) {
    g_hash_table_steal (attest->jobs, job->key);
    job_free (job);
  }
  g_hash_table_iter_init (&iter, attest->jobs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_cancellable_cancel (((Job *) value)->cancellable);
  /* a cancelled GIO operation always completes, on this context */
  while (g_hash_table_size (attest->jobs) > 0)
    g_main_context_iteration (context, TRUE);
  g_clear_object (&attest->session);
  g_hash_table_remove_all (attest->clients);
}

/* ------------------------------------------------------------------------ */
/* Life                                                                     */

#define OR_DEFAULT(value, fallback) ((value) ? (value) : (fallback))

static void
attest_configure (MeshTrackerAttest * attest,
    const MeshTrackerAttestConfig * config)
{
  attest->max_size = OR_DEFAULT (config->max_size,
      MESH_TRACKER_ATTEST_DEFAULT_MAX_SIZE);
  attest->timeout = OR_DEFAULT (config->timeout,
      MESH_TRACKER_ATTEST_DEFAULT_TIMEOUT);
  attest->max_fetches = OR_DEFAULT (config->max_fetches,
      MESH_TRACKER_ATTEST_DEFAULT_MAX_FETCHES);
  attest->max_queued = OR_DEFAULT (config->max_queued,
      MESH_TRACKER_ATTEST_DEFAULT_MAX_QUEUED);
  attest->max_outstanding = OR_DEFAULT (config->max_outstanding,
      MESH_TRACKER_ATTEST_DEFAULT_MAX_OUTSTANDING);
  attest->rate = OR_DEFAULT (config->rate, MESH_TRACKER_ATTEST_DEFAULT_RATE);
  attest->cache_entries = OR_DEFAULT (config->cache_entries,
      MESH_TRACKER_ATTEST_DEFAULT_CACHE_ENTRIES);
  attest->cache_bytes = OR_DEFAULT (config->cache_bytes,
      MESH_TRACKER_ATTEST_DEFAULT_CACHE_BYTES);
  attest->cache_ttl_us = (gint64) OR_DEFAULT (config->cache_ttl,
      MESH_TRACKER_ATTEST_DEFAULT_CACHE_TTL) * G_USEC_PER_SEC;
}

static gboolean
attest_add_origins (MeshTrackerAttest * attest, const gchar * const *origins,
    GError ** error)
{
  guint i;

  for (i = 0; origins && origins[i]; i++) {
    Origin origin = { 0, };
    g_autoptr (GError) why = NULL;

    if (!parse_url (origins[i], &origin, NULL, &why)) {
      origin_clear (&origin);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "attest origin '%s': %s", origins[i], why->message);
      return FALSE;
    }
    g_array_append_val (attest->origins, origin);
  }
  if (attest->origins->len == 0) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "no attest origin");
    return FALSE;
  }
  return TRUE;
}

MeshTrackerAttest *
mesh_tracker_attest_new (const MeshTrackerAttestConfig * config,
    MeshTrackerAttestReply reply, gpointer user_data, GError ** error)
{
  MeshTrackerAttest *attest;

  g_return_val_if_fail (config != NULL && reply != NULL, NULL);

  attest = g_new0 (MeshTrackerAttest, 1);
  attest_configure (attest, config);
  attest->reply = reply;
  attest->reply_data = user_data;
  attest->origins = g_array_new (FALSE, TRUE, sizeof (Origin));
  g_array_set_clear_func (attest->origins, origin_clear);
  attest->clients = g_hash_table_new_full (g_direct_hash, g_direct_equal,
      NULL, g_free);
  attest->jobs = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&attest->queued);
  attest->cache = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      entry_free);
  g_queue_init (&attest->cache_order);
  g_mutex_init (&attest->stats_lock);
  if (!attest_add_origins (attest, config->origins, error)) {
    mesh_tracker_attest_free (attest);
    return NULL;
  }
  return attest;
}

void
mesh_tracker_attest_free (MeshTrackerAttest * attest)
{
  if (!attest)
    return;
  g_warn_if_fail (g_hash_table_size (attest->jobs) == 0);
  g_array_unref (attest->origins);
  g_hash_table_unref (attest->clients);
  g_hash_table_unref (attest->jobs);
  g_queue_clear (&attest->cache_order);
  g_hash_table_unref (attest->cache);
  g_clear_object (&attest->session);
  g_mutex_clear (&attest->stats_lock);
  g_free (attest);
}

void
mesh_tracker_attest_get_stats (MeshTrackerAttest * attest,
    MeshTrackerAttestStats * stats)
{
  STATS_LOCKED (attest, *stats = attest->stats);
}
