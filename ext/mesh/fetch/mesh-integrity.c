/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-integrity.h. Threads: the owner context only (the fetcher's);
 * an asynchronous fetch outlives a mesh_integrity_free() only as a Fetch
 * whose owner is NULL, which its next callback frees.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-integrity.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (mesh_integrity_debug);
#define GST_CAT_DEFAULT mesh_integrity_debug

#define LIST_NAME "mesh-hashes.json"
/* The list of a long VOD stream is a few MiB; a larger one is refused
 * before it is all read (mesh_hash_list_parse() has its own bounds). */
#define LIST_MAX_BYTES (32 * 1024 * 1024)
#define READ_SIZE (64 * 1024)
/* A live list is fetched again at most this often, however many segments
 * newer than it wait: their verifications share the next fetch. */
#define MIN_REFRESH_US (250 * G_TIME_SPAN_MILLISECOND)
/* Without a list, another try after this (a provider may add it). */
#define RETRY_UNAVAILABLE_S 30

typedef struct _Fetch Fetch;

struct _MeshIntegrity
{
  MeshIntegrityMode mode;
  SoupSession *session;
  GMainContext *context;
  MeshSignaller *signaller;     /* attests digests; NULL = no attestation */
  gchar *list_url;
  MeshIntegrityRequestFunc make_request;
  MeshIntegrityStateFunc state_func;
  gpointer state_data;

  MeshHashList *list;           /* the last one fetched, NULL before */
  gint64 list_time;             /* when its fetch started, 0 = none */
  gboolean unavailable;         /* no list: the last fetch failed without
                                 * one, or the mode does not want one */
  gboolean attest_unavailable;  /* the tracker attests nothing */
  gboolean announced;           /* what the state func heard last: peers
                                 * usable */
  GCancellable *attest_cancellable;
  GQueue hashing;               /* Waiter*: digest being computed */
  GQueue attesting;             /* Waiter*: asked of the tracker */
  Fetch *fetch;                 /* the one running, NULL when none */
  gint64 last_fetch;            /* when the last one started */
  GSource *timer;               /* the next fetch, when one is due later */
  GQueue waiters;               /* Waiter*: need a newer list */
};

struct _Fetch
{
  MeshIntegrity *owner;         /* NULL once the owner is gone */
  gint64 started;
  GCancellable *cancellable;
  SoupMessage *msg;
  GInputStream *stream;
  GByteArray *body;
};

typedef struct
{
  MeshIntegrity *owner;         /* NULL once it is gone */
  GMainContext *context;
  gchar *url;
  gchar *path;                  /* NULL: not under the list's directory */
  gint64 offset;
  gboolean whole;
  GBytes *data;
  guint8 digest[32];            /* SHA-256 of data, once hashed */
  gint64 since;
  MeshIntegrityResult result;
  MeshIntegrityFunc func;
  gpointer user_data;
  GDestroyNotify notify;
} Waiter;

static void integrity_fetch (MeshIntegrity * integrity);

/* ------------------------------------------------------------------------ */
/* Pure */

static void
sha256 (GBytes * data, guint8 digest[32])
{
  g_autoptr (GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  gsize len = 32, size;
  const guint8 *bytes = g_bytes_get_data (data, &size);

  g_checksum_update (sha, bytes, size);
  g_checksum_get_digest (sha, digest, &len);
}

static MeshIntegrityResult
compare_digests (const guint8 want[32], const guint8 got[32])
{
  return memcmp (want, got, 32) == 0 ? MESH_INTEGRITY_VERIFIED :
      MESH_INTEGRITY_MISMATCH;
}

MeshIntegrityResult
mesh_integrity_check (const MeshHashList * list, const gchar * path,
    gint64 offset, gint64 length, const guint8 digest[32])
{
  guint8 want[32];

  if (!list || !path || !mesh_hash_list_lookup (list, path, offset, length,
          want))
    return MESH_INTEGRITY_UNVERIFIABLE;
  return compare_digests (want, digest);
}

/* ------------------------------------------------------------------------ */
/* Verifications */

static void
waiter_free (Waiter * w)
{
  if (w->notify)
    w->notify (w->user_data);
  g_main_context_unref (w->context);
  g_free (w->url);
  g_free (w->path);
  g_bytes_unref (w->data);
  g_free (w);
}

static gboolean
waiter_report (gpointer data)
{
  Waiter *w = data;

  w->func (w->result, w->user_data);
  return G_SOURCE_REMOVE;
}

static void
waiter_disown (gpointer w, gpointer unused)
{
  ((Waiter *) w)->owner = NULL;
}

/* Calls back with @result from the main loop, then frees @w. */
static void
waiter_report_later (Waiter * w, MeshIntegrityResult result)
{
  GSource *source = g_idle_source_new ();

  w->result = result;
  g_source_set_callback (source, waiter_report, w,
      (GDestroyNotify) waiter_free);
  g_source_attach (source, w->context);
  g_source_unref (source);
}

static gboolean
attest_usable (MeshIntegrity * integrity)
{
  return integrity->mode != MESH_INTEGRITY_HASH_LIST && integrity->signaller
      && !integrity->attest_unavailable;
}

gboolean
mesh_integrity_may_use_peers (MeshIntegrity * integrity)
{
  return !integrity->unavailable || attest_usable (integrity);
}

/* Tells the owner when peers became usable or unusable (@why: what the
 * last source lost said). */
static void
integrity_note_state (MeshIntegrity * integrity, const gchar * why)
{
  gboolean usable = mesh_integrity_may_use_peers (integrity);

  if (usable == integrity->announced)
    return;
  integrity->announced = usable;
  if (integrity->state_func)
    integrity->state_func (usable, why, integrity->state_data);
}

static void
on_attested (GObject * source, GAsyncResult * res, gpointer data)
{
  Waiter *w = data;
  MeshIntegrity *integrity = w->owner;
  g_autoptr (GError) error = NULL;
  guint8 digest[32];
  guint64 size = 0;
  MeshIntegrityResult result = MESH_INTEGRITY_UNVERIFIABLE;

  if (mesh_signaller_attest_finish (MESH_SIGNALLER (source), res, digest,
          &size, &error)) {
    result = size == g_bytes_get_size (w->data) ?
        compare_digests (digest, w->digest) : MESH_INTEGRITY_MISMATCH;
  } else if (integrity && g_error_matches (error, G_IO_ERROR,
          G_IO_ERROR_NOT_SUPPORTED)) {
    g_autofree gchar *why = g_strdup_printf ("the tracker attests no "
        "digest: %s", error->message);

    integrity->attest_unavailable = TRUE;
    integrity_note_state (integrity, why);
  }
  if (error)
    GST_DEBUG ("%s: no attested digest: %s", w->url, error->message);
  if (integrity)
    g_queue_remove (&integrity->attesting, w);
  waiter_report_later (w, result);
}

/* @w's verdict: a segment the list cannot vouch for is asked of the
 * tracker when it attests digests. */
static void
waiter_done (MeshIntegrity * integrity, Waiter * w, MeshIntegrityResult result)
{
  if (result != MESH_INTEGRITY_UNVERIFIABLE || !attest_usable (integrity)) {
    waiter_report_later (w, result);
    return;
  }
  g_queue_push_tail (&integrity->attesting, w);
  mesh_signaller_attest (integrity->signaller, w->url, w->whole ? 0 :
      w->offset, w->whole ? -1 : (gint64) g_bytes_get_size (w->data),
      integrity->attest_cancellable, on_attested, w);
}

/* Whether @w can be decided with the list at hand: it has the digest, or
 * it is newer than @w's segment, so no later one will say more. */
static gboolean
waiter_decidable (MeshIntegrity * integrity, Waiter * w,
    MeshIntegrityResult * result)
{
  *result = mesh_integrity_check (integrity->list, w->path, w->whole ? 0 :
      w->offset, w->whole ? -1 : (gint64) g_bytes_get_size (w->data),
      w->digest);
  return *result != MESH_INTEGRITY_UNVERIFIABLE || !w->path
      || integrity->unavailable
      || (integrity->list_time > 0 && integrity->list_time >= w->since);
}

/* A fetch ended: the verifications it can decide are decided; those newer
 * than it (it began before their segment) wait for the next, unless it
 * failed (@failed): no list would come soon. */
static void
waiters_decide (MeshIntegrity * integrity, gboolean failed)
{
  GQueue waiting = G_QUEUE_INIT;
  Waiter *w;

  while ((w = g_queue_pop_head (&integrity->waiters))) {
    MeshIntegrityResult result;

    if (waiter_decidable (integrity, w, &result) || failed)
      waiter_done (integrity, w, result);
    else
      g_queue_push_tail (&waiting, w);
  }
  integrity->waiters = waiting;
  if (!g_queue_is_empty (&integrity->waiters))
    integrity_fetch (integrity);
}

/* With the list at hand, or once a newer one came. */
static void
waiter_decide (MeshIntegrity * integrity, Waiter * w)
{
  MeshIntegrityResult result;

  if (waiter_decidable (integrity, w, &result)) {
    GST_LOG ("%s: %s", w->url, result == MESH_INTEGRITY_VERIFIED ?
        "verified" : result == MESH_INTEGRITY_MISMATCH ? "MISMATCH" :
        "no digest");
    waiter_done (integrity, w, result);
    return;
  }
  GST_LOG ("%s: newer than the list, fetching it again", w->url);
  g_queue_push_tail (&integrity->waiters, w);
  integrity_fetch (integrity);
}

static void
hash_in_thread (GTask * task, gpointer source, gpointer data,
    GCancellable * cancellable)
{
  Waiter *w = data;

  sha256 (w->data, w->digest);
  g_task_return_boolean (task, TRUE);
}

static void
on_hashed (GObject * source, GAsyncResult * res, gpointer unused)
{
  Waiter *w = g_task_get_task_data (G_TASK (res));
  MeshIntegrity *integrity = w->owner;

  if (!integrity) {
    waiter_report_later (w, MESH_INTEGRITY_UNVERIFIABLE);
    return;
  }
  g_queue_remove (&integrity->hashing, w);
  waiter_decide (integrity, w);
}

void
mesh_integrity_verify (MeshIntegrity * integrity, const gchar * url,
    gint64 offset, gboolean whole, GBytes * data, gint64 since,
    MeshIntegrityFunc func, gpointer user_data, GDestroyNotify notify)
{
  Waiter *w = g_new0 (Waiter, 1);
  g_autoptr (GTask) task = NULL;

  w->owner = integrity;
  w->context = g_main_context_ref (integrity->context);
  w->url = g_strdup (url);
  w->path = mesh_hash_list_path_for_uri (integrity->list_url, url);
  w->offset = offset;
  w->whole = whole;
  w->data = g_bytes_ref (data);
  w->since = since;
  w->func = func;
  w->user_data = user_data;
  w->notify = notify;
  /* a segment is megabytes: hashed once, off the owner's context, which
   * the peer links share */
  g_queue_push_tail (&integrity->hashing, w);
  task = g_task_new (NULL, NULL, on_hashed, NULL);
  g_task_set_task_data (task, w, NULL);
  g_task_run_in_thread (task, hash_in_thread);
}


/* ------------------------------------------------------------------------ */
/* Fetching the list */

static void
fetch_free (Fetch * f)
{
  g_clear_object (&f->cancellable);
  g_clear_object (&f->msg);
  g_clear_object (&f->stream);
  if (f->body)
    g_byte_array_unref (f->body);
  g_free (f);
}

static void
integrity_set_available (MeshIntegrity * integrity, gboolean available,
    const gchar * why)
{
  integrity->unavailable = !available;
  integrity_note_state (integrity, why);
}

static gboolean
on_retry_timer (gpointer data)
{
  MeshIntegrity *integrity = data;

  g_clear_pointer (&integrity->timer, g_source_unref);
  integrity_fetch (integrity);
  return G_SOURCE_REMOVE;
}

static void
integrity_fetch_later (MeshIntegrity * integrity, guint ms)
{
  gint64 when = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  if (integrity->timer && g_source_get_ready_time (integrity->timer) <= when)
    return;
  if (integrity->timer) {
    g_source_destroy (integrity->timer);
    g_source_unref (integrity->timer);
  }
  integrity->timer = g_timeout_source_new (ms);
  g_source_set_callback (integrity->timer, on_retry_timer, integrity, NULL);
  g_source_attach (integrity->timer, integrity->context);
}

/* The fetch ended with @json (NULL: failed, @error says why). */
static void
fetch_done (Fetch * f, GBytes * json, const gchar * error)
{
  MeshIntegrity *integrity = f->owner;
  g_autoptr (GError) parse_error = NULL;
  MeshHashList *list = NULL;

  integrity->fetch = NULL;
  if (json && !(list = mesh_hash_list_parse (json, &parse_error)))
    error = parse_error->message;
  if (list) {
    GST_DEBUG ("%s: %u files", integrity->list_url,
        mesh_hash_list_get_n_files (list));
    g_clear_pointer (&integrity->list, mesh_hash_list_unref);
    integrity->list = list;
    integrity->list_time = f->started;
    integrity_set_available (integrity, TRUE, NULL);
  } else {
    g_autofree gchar *why = g_strdup_printf ("cannot use %s: %s",
        integrity->list_url, error);

    GST_WARNING ("%s", why);
    if (!integrity->list) {
      integrity_set_available (integrity, FALSE, why);
      integrity_fetch_later (integrity, RETRY_UNAVAILABLE_S * 1000);
    }
  }
  fetch_free (f);
  waiters_decide (integrity, list == NULL);
}

static void fetch_read_next (Fetch * f);

static void
on_fetch_read (GObject * source, GAsyncResult * result, gpointer data)
{
  Fetch *f = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) chunk = g_input_stream_read_bytes_finish
      (G_INPUT_STREAM (source), result, &error);

  if (!f->owner) {
    fetch_free (f);
    return;
  }
  if (!chunk) {
    fetch_done (f, NULL, error->message);
    return;
  }
  if (g_bytes_get_size (chunk) == 0) {
    g_autoptr (GBytes) json = g_byte_array_free_to_bytes (f->body);

    f->body = NULL;
    fetch_done (f, json, NULL);
    return;
  }
  if (f->body->len + g_bytes_get_size (chunk) > LIST_MAX_BYTES) {
    fetch_done (f, NULL, "larger than " G_STRINGIFY (LIST_MAX_BYTES)
        " bytes");
    return;
  }
  g_byte_array_append (f->body, g_bytes_get_data (chunk, NULL),
      g_bytes_get_size (chunk));
  fetch_read_next (f);
}

static void
fetch_read_next (Fetch * f)
{
  g_input_stream_read_bytes_async (f->stream, READ_SIZE, G_PRIORITY_DEFAULT,
      f->cancellable, on_fetch_read, f);
}

static void
on_fetch_sent (GObject * source, GAsyncResult * result, gpointer data)
{
  Fetch *f = data;
  g_autoptr (GError) error = NULL;
  guint status;

  f->stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (!f->owner) {
    fetch_free (f);
    return;
  }
  if (!f->stream) {
    fetch_done (f, NULL, error->message);
    return;
  }
  status = soup_message_get_status (f->msg);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status)) {
    g_autofree gchar *why = g_strdup_printf ("HTTP %u %s", status,
        GST_STR_NULL (soup_message_get_reason_phrase (f->msg)));

    fetch_done (f, NULL, why);
    return;
  }
  f->body = g_byte_array_new ();
  fetch_read_next (f);
}

/* Starts a fetch of the list, unless one runs or the last began less than
 * MIN_REFRESH_US ago (then one is due then). */
static void
integrity_fetch (MeshIntegrity * integrity)
{
  gint64 now = g_get_monotonic_time ();
  SoupMessageHeaders *headers;
  Fetch *f;

  if (integrity->fetch)
    return;
  if (integrity->last_fetch > 0 && now - integrity->last_fetch < MIN_REFRESH_US) {
    integrity_fetch_later (integrity, (integrity->last_fetch +
            MIN_REFRESH_US - now) / 1000 + 1);
    return;
  }
  if (integrity->timer) {
    g_source_destroy (integrity->timer);
    g_clear_pointer (&integrity->timer, g_source_unref);
  }
  f = g_new0 (Fetch, 1);
  f->owner = integrity;
  f->started = integrity->last_fetch = now;
  f->cancellable = g_cancellable_new ();
  f->msg = integrity->make_request ?
      integrity->make_request (integrity->list_url, integrity->state_data) :
      soup_message_new (SOUP_METHOD_GET, integrity->list_url);
  if (!f->msg) {
    fetch_done (f, NULL, "not a valid URL");
    return;
  }
  headers = soup_message_get_request_headers (f->msg);
  /* a live list changes with every segment */
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  integrity->fetch = f;
  GST_DEBUG ("fetching %s", integrity->list_url);
  soup_session_send_async (integrity->session, f->msg, G_PRIORITY_DEFAULT,
      f->cancellable, on_fetch_sent, f);
}

/* ------------------------------------------------------------------------ */
/* Life cycle */

MeshIntegrity *
mesh_integrity_new (SoupSession * session, MeshIntegrityMode mode,
    const gchar * manifest_url, MeshIntegrityRequestFunc make_request,
    MeshSignaller * signaller, MeshIntegrityStateFunc state_func,
    gpointer user_data)
{
  MeshIntegrity *integrity = g_new0 (MeshIntegrity, 1);

  GST_DEBUG_CATEGORY_INIT (mesh_integrity_debug, "meshintegrity", 0,
      "gst-mesh segment verification");
  integrity->session = g_object_ref (session);
  integrity->context = g_main_context_ref_thread_default ();
  integrity->list_url = g_uri_resolve_relative (manifest_url, LIST_NAME,
      G_URI_FLAGS_ENCODED, NULL);
  if (!integrity->list_url)
    integrity->list_url = g_strdup (LIST_NAME);
  integrity->make_request = make_request;
  integrity->state_func = state_func;
  integrity->state_data = user_data;
  integrity->mode = mode;
  integrity->signaller = signaller ? g_object_ref (signaller) : NULL;
  integrity->attest_cancellable = g_cancellable_new ();
  integrity->announced = TRUE;
  g_queue_init (&integrity->waiters);
  g_queue_init (&integrity->hashing);
  g_queue_init (&integrity->attesting);
  if (mode == MESH_INTEGRITY_TRACKER)
    integrity->unavailable = TRUE;
  else
    integrity_fetch (integrity);
  integrity_note_state (integrity, "integrity=tracker, and no tracker to "
      "attest digests");
  return integrity;
}

void
mesh_integrity_free (MeshIntegrity * integrity)
{
  if (!integrity)
    return;
  if (integrity->fetch) {
    /* its callback frees it */
    integrity->fetch->owner = NULL;
    g_cancellable_cancel (integrity->fetch->cancellable);
  }
  if (integrity->timer) {
    g_source_destroy (integrity->timer);
    g_source_unref (integrity->timer);
  }
  /* what waits for a newer list is decided without it, or a tracker */
  g_clear_pointer (&integrity->list, mesh_hash_list_unref);
  integrity->list_time = G_MAXINT64;
  integrity->attest_unavailable = TRUE;
  waiters_decide (integrity, TRUE);
  /* what the tracker still attests ends with the cancellation */
  g_queue_foreach (&integrity->hashing, waiter_disown, NULL);
  g_queue_clear (&integrity->hashing);
  g_queue_foreach (&integrity->attesting, waiter_disown, NULL);
  g_queue_clear (&integrity->attesting);
  g_cancellable_cancel (integrity->attest_cancellable);
  g_object_unref (integrity->attest_cancellable);
  g_clear_object (&integrity->signaller);
  g_object_unref (integrity->session);
  g_main_context_unref (integrity->context);
  g_free (integrity->list_url);
  g_free (integrity);
}
