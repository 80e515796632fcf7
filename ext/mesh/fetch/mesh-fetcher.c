/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshFetcher: HTTP(S) fetching with libsoup 3, with Range requests, retries
 * that resume where the body broke off, and a blocking pull interface for the
 * elements' streaming threads.
 *
 * Threads and ownership:
 *
 * - MeshFetcherShared is the state the fetcher thread needs. It is reference
 *   counted: the MeshFetcher object holds one reference and every transfer
 *   holds one, so a job outliving its fetcher never touches freed memory.
 *   `lock` guards the settings, `shutting_down` and `thread_gone`; `session`
 *   and `live` belong to the fetcher thread alone; the byte counters are
 *   atomic.
 *
 * - The fetcher thread runs `context` (pushed as its thread-default context)
 *   and owns the SoupSession: every libsoup call happens there. Other threads
 *   only reach it by attaching idle sources through shared_invoke(), which
 *   refuses once the thread is gone (so no source is ever stranded on a
 *   context nobody runs).
 *
 * - MeshTransfer is one job's state. The public MeshFetchJob object holds a
 *   reference on it; so does every pending callback on the fetcher thread.
 *   When the last MeshFetchJob reference goes away the transfer is cancelled,
 *   so an abandoned job stops downloading. The transfer's `lock` guards the
 *   chunk queue and everything a consumer may read (see the struct); `cond`
 *   is signalled whenever a chunk is queued, the transfer ends, or it is
 *   cancelled. The fields marked "fetcher thread" are never touched
 *   elsewhere.
 *
 * - Shutdown (last unref of the MeshFetcher): shutting_down is set, the
 *   thread's loop is quit, the thread aborts every live transfer, runs its
 *   context until they have all wound down, stops the peer manager and ends
 *   what its transport still holds, drops the session, and exits; finalize
 *   joins it.
 *
 * - QoS reports (mesh_fetcher_send_qos()): the caller's thread puts the
 *   report in one slot under `lock` (replacing one not handed on yet) and
 *   attaches at most one idle; the fetcher thread takes it, counts it from
 *   the current peer manager's creation (`qos_base`) and gives it to the
 *   manager's signaller, which does the network I/O.
 *
 * - Peer-to-peer (HAVE_P2P): the peer manager and its transport (libnice)
 *   belong to the fetcher thread. The glue is in two blocks, "Transfer,
 *   peer-to-peer side" and "Peer manager"; without HAVE_P2P they are stubs
 *   and `peers` stays NULL, so no transfer ever goes to peers.
 *
 * - "p2p-warning" is emitted on the fetcher thread, on the MeshFetcher that
 *   the thread must not reference (its last unref joins the thread). So
 *   the emission is gated: under `lock`, `warn_target` is the fetcher until
 *   dispose clears it, and `warnings_emitting` counts the emissions under
 *   way; dispose waits on `warn_cond` until none is, so the fetcher outlives
 *   every emission that started, and none starts after dispose.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-fetcher.h"

#include <string.h>
#include <libsoup/soup.h>

#if HAVE_P2P
#include "p2p/mesh-quic-link.h"
#include "p2p/mesh-peer-manager.h"
#include "mesh-integrity.h"
#else
/* never made without P2P: the pointers below stay NULL */
typedef struct _MeshPeerManager MeshPeerManager;
typedef struct _MeshPeerTransport MeshPeerTransport;
typedef struct _MeshIntegrity MeshIntegrity;
#endif

GST_DEBUG_CATEGORY_STATIC (mesh_fetcher_debug);
#define GST_CAT_DEFAULT mesh_fetcher_debug

#define DEFAULT_USER_AGENT "gst-mesh/0.1 GStreamer"
#define DEFAULT_TIMEOUT 15
#define DEFAULT_RETRIES 3

#define READ_SIZE (64 * 1024)
/* Segments started ahead for the swarm and not adopted yet: at most this
 * many, holding at most this many bytes; one still there this long after
 * its deadline was forgotten by its caller (a seek, a switch) and goes. */
#define PREFETCH_MAX_JOBS 32
#define PREFETCH_MAX_BYTES (64 * 1024 * 1024)
#define PREFETCH_STALE_US (10 * G_USEC_PER_SEC)
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 4000
/* No media segment or init section is larger: a server that sends more
 * fails the job (an 8K, 10 s segment at 100 Mbit/s is 125 MB). */
#define MAX_MEDIA_BODY (256 * 1024 * 1024)
/* Reading stops while this much waits for the consumer, and resumes below
 * half of it: a consumer that does not read bounds what a job holds. */
#define MAX_QUEUED (16 * 1024 * 1024)

G_DEFINE_QUARK (mesh_fetch_error_quark, mesh_fetch_error);

typedef struct _MeshFetcherShared MeshFetcherShared;
typedef struct _MeshTransfer MeshTransfer;

struct _MeshFetcherShared
{
  gatomicrefcount refcount;

  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;

  /* fetcher thread only */
  SoupSession *session;
  GList *live;                  /* MeshTransfer (one ref each) doing I/O */
  MeshPeerManager *peers;       /* peer-to-peer delivery, NULL when off;
                                 * written under `lock` (see the getters) */
  MeshPeerTransport *transport; /* the peer managers' connections, made with
                                 * the first one, ended at thread exit */
  MeshQosReport qos_latest;     /* the element's last totals */
  MeshQosReport qos_base;       /* its totals when the manager was made */
  MeshIntegrity *integrity;     /* verifies what peers deliver; NULL when
                                 * peers are trusted (integrity "none") */
  gpointer fetcher;             /* the MeshFetcher, for GST_*_OBJECT on the
                                 * fetcher thread only (finalize joins it) */

  GMutex lock;
  gchar *user_agent;
  guint timeout;
  gint retries;
  GstStructure *extra_headers;
  gboolean shutting_down;
  gboolean thread_gone;
  guint64 bytes_uploaded_before;        /* by peer managers now gone */
  MeshPeerStats peer_stats_before;      /* of peer managers now gone */
  gboolean p2p_on;              /* the last peer config has a tracker (and
                                 * this build peer-to-peer support) */
  MeshPeerEventFunc peer_event_func;
  gpointer peer_event_data;
  MeshFetcher *warn_target;     /* "p2p-warning" goes to it; NULL once the
                                 * fetcher is disposed */
  guint warnings_emitting;      /* emissions under way (fetcher thread) */
  /* QoS reports: one slot, replaced by the next report until the fetcher
   * thread hands it on (so they never pile up); `qos_scheduled`: an idle
   * to hand it on is attached */
  MeshQosReport qos_pending;
  gboolean qos_scheduled;
  GCond warn_cond;              /* signalled when one ends */

  /* atomic */
  guint64 bytes_from_cdn;
  guint64 bytes_from_peers;
};

/* What mesh_fetcher_set_peer_config() hands to the fetcher thread. */
typedef struct
{
  MeshFetcherShared *shared;
  MeshPeerConfig config;        /* strings owned */
} PeerConfigUpdate;

struct _MeshTransfer
{
  gatomicrefcount refcount;
  MeshFetcherShared *shared;
  guint id;                     /* for the debug log */

  /* immutable after creation */
  GUri *uri;                    /* NULL when the URL is invalid */
  gchar *url;
  gint64 offset;
  gint64 size;
  MeshFetchKind kind;
  gchar *segment_id;
  gint64 deadline;

  GMutex lock;
  GCond cond;
  GQueue chunks;                /* GBytes, in body order */
  gboolean done;                /* no chunk will be added any more */
  GError *error;                /* why it ended; NULL after success */
  gboolean cancelled;           /* pops fail from now on */
  gboolean abort_scheduled;
  gchar *final_url;
  guint64 bytes;                /* body bytes queued */
  gsize queued;                 /* of them, not popped yet */
  gboolean read_paused;         /* reading waits for the consumer */
  gint64 first_send_time;       /* monotonic, 0 before the first send */
  gint64 last_byte_time;
  gint64 content_size;

  /* fetcher thread only */
  gboolean aborting;
  gboolean live;
  gboolean finished;
  gchar *user_agent;
  gint retries;
  GstStructure *extra_headers;
  guint attempts;
  GCancellable *attempt_cancellable;
  SoupMessage *msg;
  GInputStream *stream;
  GSource *backoff;
  guint64 delivered;            /* bytes queued over all attempts */
  gint64 want;                  /* bytes this attempt may still deliver, -1 =
                                 * up to the end of the resource */
  gint64 skip;                  /* leading bytes to drop (Range ignored) */
  gint64 response_length;       /* this response's body length, -1 unknown */
  gint64 response_read;         /* body bytes read from this response */
  MeshFetchError last_kind;
  gboolean redirect_refused;    /* https redirected to http */
  /* peer-to-peer (fetcher thread only) */
  gboolean with_peers;          /* the peer manager chose the source */
  gboolean peer_pending;        /* the peer manager holds the transfer */
  GByteArray *assembly;         /* peer bytes, then the CDN rest, held until
                                 * accepted as a whole; NULL when the body
                                 * streams to the consumer */
  guint64 from_peers;           /* bytes of `assembly` from peers */
  GArray *senders;              /* Sender: who sent which bytes of it */
  gint64 asked_peers;           /* when it went to the peer manager */
  GBytes *verifying;            /* the assembly while its digest is
                                 * awaited */
  GBytes *suspect;              /* an assembly that failed verification,
                                 * kept until the CDN's copy names the
                                 * senders whose bytes differ */
  GByteArray *copy;             /* what streamed to the consumer, for the
                                 * peers' cache */
};

struct _MeshFetchJob
{
  GObject parent;
  MeshTransfer *transfer;
};

/* A run of a segment's bytes from one peer. */
typedef struct
{
  gchar *peer_id;
  guint64 start, end;
} Sender;

/* A segment started ahead by mesh_fetcher_prefetch(). */
typedef struct
{
  MeshFetchJob *job;
  gchar *segment_id;
  gchar *url;
  gint64 offset;
  gint64 size;
  gint64 deadline;
} Prefetch;

struct _MeshFetcher
{
  GObject parent;
  MeshFetcherShared *shared;

  GMutex prefetch_lock;         /* guards the fields below */
  GQueue prefetches;            /* Prefetch*, oldest first */
  guint64 n_prefetched, n_adopted;
};

G_DEFINE_FINAL_TYPE (MeshFetchJob, mesh_fetch_job, G_TYPE_OBJECT);
G_DEFINE_FINAL_TYPE (MeshFetcher, mesh_fetcher, G_TYPE_OBJECT);

enum
{
  PROP_0,
  PROP_USER_AGENT,
  PROP_TIMEOUT,
  PROP_RETRIES,
  PROP_EXTRA_HEADERS,
  PROP_BYTES_FROM_CDN,
  PROP_BYTES_FROM_PEERS,
};

enum
{
  SIGNAL_P2P_WARNING,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void transfer_send_attempt (MeshTransfer * t);
static void transfer_read_next (MeshTransfer * t);

/* ------------------------------------------------------------------------ */
/* Shared state */

static MeshFetcherShared *
shared_ref (MeshFetcherShared * shared)
{
  g_atomic_ref_count_inc (&shared->refcount);
  return shared;
}

static void
shared_unref (MeshFetcherShared * shared)
{
  if (!g_atomic_ref_count_dec (&shared->refcount))
    return;

  g_assert (shared->thread == NULL);
  g_main_loop_unref (shared->loop);
  g_main_context_unref (shared->context);
  g_free (shared->user_agent);
  g_assert (shared->peers == NULL);
  g_assert (shared->transport == NULL);
  if (shared->extra_headers)
    gst_structure_free (shared->extra_headers);
  g_mutex_clear (&shared->lock);
  g_cond_clear (&shared->warn_cond);
  g_free (shared);
}

/* Runs @func on the fetcher thread. Returns FALSE (after calling @notify) when
 * the thread has already exited. Thread-safe. */
static gboolean
shared_invoke (MeshFetcherShared * shared, GSourceFunc func, gpointer data,
    GDestroyNotify notify)
{
  gboolean attached = FALSE;

  g_mutex_lock (&shared->lock);
  if (!shared->thread_gone) {
    GSource *source = g_idle_source_new ();

    g_source_set_priority (source, G_PRIORITY_DEFAULT);
    g_source_set_callback (source, func, data, notify);
    g_source_attach (source, shared->context);
    g_source_unref (source);
    attached = TRUE;
  }
  g_mutex_unlock (&shared->lock);

  if (!attached && notify)
    notify (data);
  return attached;
}

static void
shared_add_bytes_from_cdn (MeshFetcherShared * shared, guint64 n)
{
  /* GLib has no 64-bit atomics; the GCC/Clang builtins do */
  __atomic_add_fetch (&shared->bytes_from_cdn, n, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------ */
/* Transfer state, consumer side (any thread) */

static MeshTransfer *
transfer_ref (MeshTransfer * t)
{
  g_atomic_ref_count_inc (&t->refcount);
  return t;
}

static void
transfer_unref (gpointer data)
{
  MeshTransfer *t = data;

  if (!g_atomic_ref_count_dec (&t->refcount))
    return;

  g_assert (t->stream == NULL && t->msg == NULL && t->backoff == NULL);
  g_queue_clear_full (&t->chunks, (GDestroyNotify) g_bytes_unref);
  g_clear_error (&t->error);
  g_clear_pointer (&t->uri, g_uri_unref);
  g_free (t->url);
  g_free (t->segment_id);
  if (t->assembly)
    g_byte_array_unref (t->assembly);
  if (t->copy)
    g_byte_array_unref (t->copy);
  if (t->senders)
    g_array_unref (t->senders);
  g_clear_pointer (&t->suspect, g_bytes_unref);
  g_clear_pointer (&t->verifying, g_bytes_unref);
  g_free (t->final_url);
  g_free (t->user_agent);
  if (t->extra_headers)
    gst_structure_free (t->extra_headers);
  g_clear_object (&t->attempt_cancellable);
  g_mutex_clear (&t->lock);
  g_cond_clear (&t->cond);
  shared_unref (t->shared);
  g_free (t);
}

/* Ends the chunk stream; @error (taken) is NULL on success. Any thread. */
static void
transfer_end_queue (MeshTransfer * t, GError * error)
{
  g_mutex_lock (&t->lock);
  if (t->done) {
    g_clear_error (&error);
  } else {
    t->done = TRUE;
    t->error = error;
    if (error == NULL || t->last_byte_time == 0)
      t->last_byte_time = g_get_monotonic_time ();
  }
  g_cond_broadcast (&t->cond);
  g_mutex_unlock (&t->lock);
}

static gboolean transfer_abort_cb (gpointer data);

/* Makes every pending and later pop fail with G_IO_ERROR_CANCELLED and stops
 * the network transfer. Any thread, idempotent. */
static void
transfer_cancel (MeshTransfer * t)
{
  gboolean schedule;

  g_mutex_lock (&t->lock);
  t->cancelled = TRUE;
  schedule = !t->done && !t->abort_scheduled;
  t->abort_scheduled = TRUE;
  g_cond_broadcast (&t->cond);
  g_mutex_unlock (&t->lock);

  if (schedule)
    shared_invoke (t->shared, transfer_abort_cb, transfer_ref (t),
        transfer_unref);
}

/* ------------------------------------------------------------------------ */
/* Transfer, fetcher thread side */

static void
transfer_drop_io (MeshTransfer * t)
{
  /* Cancelling first tells libsoup that the rest of the response is not
   * wanted, so releasing the stream never waits for it (the connection is
   * closed instead of reused). */
  if (t->stream != NULL && t->attempt_cancellable != NULL)
    g_cancellable_cancel (t->attempt_cancellable);
  g_clear_object (&t->stream);
  g_clear_object (&t->msg);
  g_clear_object (&t->attempt_cancellable);
}

/* The transfer is over for the fetcher thread: release the network objects
 * and wake the consumer. @error is taken. */
static gboolean transfer_release_assembly (MeshTransfer * t);
static void transfer_share_with_peers (MeshTransfer * t);
static void transfer_stream_to_peers (MeshTransfer * t, GBytes * part);
static void transfer_unshare (MeshTransfer * t);
static void transfer_leave_peers (MeshTransfer * t);

static void
transfer_finish (MeshTransfer * t, GError * error)
{
  if (t->finished) {
    g_clear_error (&error);
    return;
  }
  transfer_leave_peers (t);
  /* a rejected assembly starts again from the CDN instead of ending */
  if (error == NULL && t->assembly && !transfer_release_assembly (t))
    return;
  if (error == NULL)
    transfer_share_with_peers (t);
  else
    transfer_unshare (t);
  t->finished = TRUE;

  if (error)
    GST_DEBUG_OBJECT (t->shared->fetcher, "job %u: failed: %s", t->id,
        error->message);
  else
    GST_DEBUG_OBJECT (t->shared->fetcher, "job %u: done, %" G_GUINT64_FORMAT
        " bytes", t->id, t->delivered);

  transfer_drop_io (t);
  transfer_end_queue (t, error);

  if (t->live) {
    t->live = FALSE;
    t->shared->live = g_list_remove (t->shared->live, t);
    transfer_unref (t);
  }
}

static void
transfer_finish_cancelled (MeshTransfer * t)
{
  transfer_finish (t, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
          "Fetch cancelled"));
}

static void
transfer_abort_in_thread (MeshTransfer * t)
{
  gboolean paused;

  if (t->finished)
    return;

  t->aborting = TRUE;
  g_mutex_lock (&t->lock);
  paused = t->read_paused;
  t->read_paused = FALSE;
  g_mutex_unlock (&t->lock);
  if (paused) {
    /* no operation pending to end it */
    transfer_finish_cancelled (t);
  } else if (t->backoff != NULL) {
    g_source_destroy (t->backoff);
    g_clear_pointer (&t->backoff, g_source_unref);
    transfer_finish_cancelled (t);
  } else if (t->attempt_cancellable != NULL) {
    /* the pending operation's callback finishes the transfer */
    g_cancellable_cancel (t->attempt_cancellable);
  } else if (t->peer_pending || t->verifying) {
    transfer_finish_cancelled (t);
  }
  /* else: not started yet; transfer_start_cb sees `aborting` */
}

static gboolean
transfer_abort_cb (gpointer data)
{
  transfer_abort_in_thread (data);
  return G_SOURCE_REMOVE;
}

static guint
backoff_delay_ms (guint failed_attempts)
{
  guint ms = BACKOFF_FIRST_MS;

  while (failed_attempts-- > 1 && ms < BACKOFF_MAX_MS)
    ms *= 2;
  return MIN (ms, BACKOFF_MAX_MS);
}

static gboolean
on_backoff_done (gpointer data)
{
  MeshTransfer *t = data;

  g_clear_pointer (&t->backoff, g_source_unref);
  transfer_send_attempt (t);
  return G_SOURCE_REMOVE;
}

/* An attempt failed in a way worth retrying: try again after a pause, or give
 * up when the retries are used up. @reason is taken. */
static void
transfer_attempt_failed (MeshTransfer * t, MeshFetchError kind, gchar * reason)
{
  guint delay;

  transfer_drop_io (t);
  t->last_kind = kind;

  if (t->retries >= 0 && t->attempts > (guint) t->retries) {
    GError *error = g_error_new (MESH_FETCH_ERROR, kind,
        "GET %s failed after %u attempt%s: %s", t->url, t->attempts,
        t->attempts == 1 ? "" : "s", reason);
    g_free (reason);
    transfer_finish (t, error);
    return;
  }

  delay = backoff_delay_ms (t->attempts);
  GST_INFO_OBJECT (t->shared->fetcher, "job %u: attempt %u failed (%s), "
      "retrying in %u ms", t->id, t->attempts, reason, delay);
  g_free (reason);

  t->backoff = g_timeout_source_new (delay);
  g_source_set_callback (t->backoff, on_backoff_done, transfer_ref (t),
      transfer_unref);
  g_source_attach (t->backoff, t->shared->context);
}

static void
append_header_value (SoupMessageHeaders * headers, const gchar * name,
    const GValue * value)
{
  if (G_VALUE_HOLDS_STRING (value)) {
    const gchar *s = g_value_get_string (value);

    if (s != NULL)
      soup_message_headers_append (headers, name, s);
  } else if (GST_VALUE_HOLDS_ARRAY (value)) {
    guint i, n = gst_value_array_get_size (value);

    for (i = 0; i < n; i++)
      append_header_value (headers, name, gst_value_array_get_value (value, i));
  } else if (GST_VALUE_HOLDS_LIST (value)) {
    guint i, n = gst_value_list_get_size (value);

    for (i = 0; i < n; i++)
      append_header_value (headers, name, gst_value_list_get_value (value, i));
  } else if (g_value_type_transformable (G_VALUE_TYPE (value), G_TYPE_STRING)) {
    GValue s = G_VALUE_INIT;

    g_value_init (&s, G_TYPE_STRING);
    if (g_value_transform (value, &s) && g_value_get_string (&s) != NULL)
      soup_message_headers_append (headers, name, g_value_get_string (&s));
    g_value_unset (&s);
  } else {
    GST_WARNING ("extra header %s: cannot turn a %s into a string", name,
        G_VALUE_TYPE_NAME (value));
  }
}

static gboolean
append_extra_header (GQuark field, const GValue * value, gpointer headers)
{
  append_header_value (headers, g_quark_to_string (field), value);
  return TRUE;
}

static SoupMessage *
transfer_build_message (MeshTransfer * t, gint64 range_start)
{
  SoupMessage *msg = soup_message_new_from_uri (SOUP_METHOD_GET, t->uri);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);

  /* no Range header for a plain whole-body request */
  if (range_start > 0 || t->want > 0)
    soup_message_headers_set_range (headers, range_start,
        t->want > 0 ? range_start + t->want - 1 : -1);

  if (t->user_agent != NULL && *t->user_agent != '\0')
    soup_message_headers_replace (headers, "User-Agent", t->user_agent);
  if (t->extra_headers != NULL)
    gst_structure_foreach (t->extra_headers, append_extra_header, headers);

  return msg;
}

static void on_sent (GObject * source, GAsyncResult * result, gpointer data);

static gboolean
same_origin (GUri * a, GUri * b)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0
      && g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0
      && g_uri_get_port (a) == g_uri_get_port (b);
}

static gboolean
remove_extra_header (GQuark field, const GValue * value, gpointer headers)
{
  soup_message_headers_remove (headers, g_quark_to_string (field));
  return TRUE;
}

/* A redirect (libsoup follows them): never from https to http, which
 * would hand the request to anyone on the path; and extra-headers
 * (credentials, often) do not follow to another origin. */
static void
on_restarted (SoupMessage * msg, MeshTransfer * t)
{
  GUri *now = soup_message_get_uri (msg);

  if (g_ascii_strcasecmp (g_uri_get_scheme (t->uri), "https") == 0
      && g_ascii_strcasecmp (g_uri_get_scheme (now), "https") != 0) {
    GST_WARNING_OBJECT (t->shared->fetcher, "job %u: %s redirected to "
        "plain http: refused", t->id, t->url);
    t->redirect_refused = TRUE;
    g_cancellable_cancel (t->attempt_cancellable);
    return;
  }
  if (t->extra_headers && !same_origin (t->uri, now))
    gst_structure_foreach (t->extra_headers, remove_extra_header,
        soup_message_get_request_headers (msg));
}

static void
transfer_send_attempt (MeshTransfer * t)
{
  gint64 range_start = t->offset + t->delivered;

  if (t->aborting) {
    transfer_finish_cancelled (t);
    return;
  }

  t->want = t->size < 0 ? -1 : t->size - (gint64) t->delivered;
  if (t->want == 0) {
    g_mutex_lock (&t->lock);
    if (t->content_size < 0)
      t->content_size = t->delivered;
    g_mutex_unlock (&t->lock);
    transfer_finish (t, NULL);
    return;
  }

  t->attempts++;
  t->skip = 0;
  t->response_length = -1;
  t->response_read = 0;
  t->attempt_cancellable = g_cancellable_new ();
  t->msg = transfer_build_message (t, range_start);
  g_signal_connect (t->msg, "restarted", G_CALLBACK (on_restarted), t);

  GST_DEBUG_OBJECT (t->shared->fetcher, "job %u: attempt %u, GET %s from "
      "byte %" G_GINT64_FORMAT
      ", %" G_GINT64_FORMAT " bytes", t->id, t->attempts, t->url,
      range_start, t->want);

  g_mutex_lock (&t->lock);
  if (t->first_send_time == 0)
    t->first_send_time = g_get_monotonic_time ();
  g_mutex_unlock (&t->lock);

  soup_session_send_async (t->shared->session, t->msg, G_PRIORITY_DEFAULT,
      t->attempt_cancellable, on_sent, transfer_ref (t));
}

static MeshFetchError
error_kind (const GError * error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return MESH_FETCH_ERROR_TIMEOUT;
  return MESH_FETCH_ERROR_NETWORK;
}

static gchar *
status_text (SoupMessage * msg)
{
  guint status = soup_message_get_status (msg);
  const gchar *phrase = soup_message_get_reason_phrase (msg);

  if (phrase == NULL || *phrase == '\0')
    phrase = soup_status_get_phrase (status);
  return g_strdup_printf ("%u %s", status, phrase ? phrase : "");
}

/* Works out which part of this response's body belongs to the job. Returns
 * FALSE (after finishing the transfer) when the response is unusable. */
static gboolean
transfer_accept_response (MeshTransfer * t)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (t->msg);
  guint status = soup_message_get_status (t->msg);
  gint64 range_start = t->offset + t->delivered;
  gint64 available = -1;

  if (status == SOUP_STATUS_PARTIAL_CONTENT) {
    goffset start, end, total;

    if (!soup_message_headers_get_content_range (headers, &start, &end,
            &total) || start != range_start || end < start) {
      transfer_finish (t, g_error_new (MESH_FETCH_ERROR,
              MESH_FETCH_ERROR_HTTP_SERVER,
              "GET %s failed: 206 response with a Content-Range not matching "
              "bytes=%" G_GINT64_FORMAT "-", t->url, range_start));
      return FALSE;
    }
    t->response_length = end - start + 1;
    available = t->response_length;
  } else {
    /* the whole resource: the server ignored the Range header (or we sent
     * none) */
    t->skip = range_start;
    t->response_length = soup_message_headers_get_content_length (headers);
    if (soup_message_headers_get_encoding (headers) !=
        SOUP_ENCODING_CONTENT_LENGTH)
      t->response_length = -1;
    if (t->response_length >= 0)
      available = MAX (t->response_length - t->skip, 0);
    if (t->skip > 0)
      GST_DEBUG_OBJECT (t->shared->fetcher, "job %u: server ignored Range, "
          "skipping %" G_GINT64_FORMAT " bytes", t->id, t->skip);
  }

  if (available >= 0 && t->want >= 0)
    available = MIN (available, t->want);

  g_mutex_lock (&t->lock);
  g_free (t->final_url);
  t->final_url = g_uri_to_string (soup_message_get_uri (t->msg));
  if (t->content_size < 0 && available >= 0)
    t->content_size = t->delivered + available;
  g_mutex_unlock (&t->lock);

  return TRUE;
}

static void
on_sent (GObject * source, GAsyncResult * result, gpointer data)
{
  MeshTransfer *t = data;
  GError *error = NULL;
  GInputStream *stream;
  guint status;

  stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);

  if (t->aborting) {
    g_clear_object (&stream);
    g_clear_error (&error);
    transfer_finish_cancelled (t);
    goto out;
  }

  if (t->redirect_refused) {
    g_clear_object (&stream);
    g_clear_error (&error);
    transfer_finish (t, g_error_new (MESH_FETCH_ERROR,
            MESH_FETCH_ERROR_HTTP_CLIENT, "GET %s failed: redirected from "
            "https to http, refused", t->url));
    goto out;
  }

  if (stream == NULL) {
    transfer_attempt_failed (t, error_kind (error), g_strdup (error->message));
    g_clear_error (&error);
    goto out;
  }

  t->stream = stream;
  status = soup_message_get_status (t->msg);
  GST_DEBUG_OBJECT (t->shared->fetcher, "job %u: response %u", t->id, status);

  if (SOUP_STATUS_IS_SERVER_ERROR (status)) {
    transfer_attempt_failed (t, MESH_FETCH_ERROR_HTTP_SERVER,
        status_text (t->msg));
  } else if (!SOUP_STATUS_IS_SUCCESSFUL (status)) {
    gchar *text = status_text (t->msg);

    transfer_finish (t, g_error_new (MESH_FETCH_ERROR,
            MESH_FETCH_ERROR_HTTP_CLIENT, "GET %s failed: %s", t->url, text));
    g_free (text);
  } else if (transfer_accept_response (t)) {
    transfer_read_next (t);
  }

out:
  transfer_unref (t);
}

/* Gives @part (taken) to the consumer. */
static void
transfer_queue_chunk (MeshTransfer * t, GBytes * part)
{
  g_mutex_lock (&t->lock);
  g_queue_push_tail (&t->chunks, part);
  t->bytes += g_bytes_get_size (part);
  t->queued += g_bytes_get_size (part);
  t->last_byte_time = g_get_monotonic_time ();
  g_cond_signal (&t->cond);
  g_mutex_unlock (&t->lock);
}

/* Body bytes that belong to the job (@part, taken): held in the assembly
 * while peers are involved, else straight to the consumer. */
static void
transfer_hand_over (MeshTransfer * t, GBytes * part)
{
  if (t->assembly) {
    /* the CDN completes what peers began */
    g_byte_array_append (t->assembly, g_bytes_get_data (part, NULL),
        g_bytes_get_size (part));
    transfer_stream_to_peers (t, part);
    g_bytes_unref (part);
    return;
  }
  if (t->copy) {
    g_byte_array_append (t->copy, g_bytes_get_data (part, NULL),
        g_bytes_get_size (part));
    transfer_stream_to_peers (t, part);
  }
  transfer_queue_chunk (t, part);
}

/* Queues the part of a freshly read chunk that belongs to the job. */
static void
transfer_deliver (MeshTransfer * t, GBytes * chunk)
{
  gsize len = g_bytes_get_size (chunk);
  gsize start = 0;
  GBytes *part;

  if (t->skip > 0) {
    start = MIN ((gint64) len, t->skip);
    t->skip -= start;
  }
  if (t->want >= 0)
    len = MIN ((gint64) len, (gint64) start + t->want);
  if (len <= start)
    return;

  part = g_bytes_new_from_bytes (chunk, start, len - start);
  t->delivered += len - start;
  if (t->want >= 0)
    t->want -= len - start;
  transfer_hand_over (t, part);
}

static void
transfer_end_of_body (MeshTransfer * t)
{
  if (t->response_length >= 0 && t->response_read < t->response_length) {
    transfer_attempt_failed (t, MESH_FETCH_ERROR_NETWORK,
        g_strdup_printf ("body ended after %" G_GINT64_FORMAT " of %"
            G_GINT64_FORMAT " bytes", t->response_read, t->response_length));
    return;
  }
  /* complete response; if it was shorter than asked for, the resource ends
   * there */
  transfer_finish (t, NULL);
}

/* A media body past MAX_MEDIA_BODY fails the job (no retry: the server
 * would send as much again). */
static gboolean
transfer_too_large (MeshTransfer * t)
{
  if ((t->kind != MESH_FETCH_KIND_SEGMENT && t->kind != MESH_FETCH_KIND_INIT)
      || t->delivered <= MAX_MEDIA_BODY)
    return FALSE;
  transfer_finish (t, g_error_new (MESH_FETCH_ERROR,
          MESH_FETCH_ERROR_TOO_LARGE, "GET %s failed: more than %u bytes",
          t->url, MAX_MEDIA_BODY));
  return TRUE;
}

/* Whether reading waits for the consumer to take what is queued. */
static gboolean
transfer_pause_reading (MeshTransfer * t)
{
  gboolean pause;

  g_mutex_lock (&t->lock);
  pause = t->queued >= MAX_QUEUED && !t->cancelled;
  t->read_paused = pause;
  g_mutex_unlock (&t->lock);
  if (pause)
    GST_DEBUG_OBJECT (t->shared->fetcher, "job %u: %u bytes wait for the "
        "consumer, reading paused", t->id, MAX_QUEUED);
  return pause;
}

static gboolean
transfer_resume_reading_cb (gpointer data)
{
  MeshTransfer *t = data;

  if (t->finished || t->aborting || !t->stream)
    return G_SOURCE_REMOVE;
  GST_DEBUG_OBJECT (t->shared->fetcher, "job %u: reading again", t->id);
  transfer_read_next (t);
  return G_SOURCE_REMOVE;
}

static void
on_read (GObject * source, GAsyncResult * result, gpointer data)
{
  MeshTransfer *t = data;
  GError *error = NULL;
  GBytes *chunk;
  gsize len;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result,
      &error);

  if (t->aborting) {
    g_clear_pointer (&chunk, g_bytes_unref);
    g_clear_error (&error);
    transfer_finish_cancelled (t);
    goto out;
  }

  if (chunk == NULL) {
    transfer_attempt_failed (t, error_kind (error),
        g_strdup_printf ("reading the body after %" G_GINT64_FORMAT
            " bytes: %s", t->response_read, error->message));
    g_clear_error (&error);
    goto out;
  }

  len = g_bytes_get_size (chunk);
  if (len == 0) {
    g_bytes_unref (chunk);
    transfer_end_of_body (t);
    goto out;
  }

  t->response_read += len;
  if (t->kind == MESH_FETCH_KIND_INIT || t->kind == MESH_FETCH_KIND_SEGMENT)
    shared_add_bytes_from_cdn (t->shared, len);

  transfer_deliver (t, chunk);
  g_bytes_unref (chunk);
  if (transfer_too_large (t))
    goto out;

  if (t->want == 0 && (t->response_length < 0
          || t->response_read < t->response_length)) {
    /* everything asked for is here, but the server has more to send */
    transfer_finish (t, NULL);
  } else if (!transfer_pause_reading (t)) {
    /* read on, to the end of the response, which lets libsoup reuse the
     * connection */
    transfer_read_next (t);
  }

out:
  transfer_unref (t);
}

static void
transfer_read_next (MeshTransfer * t)
{
  g_input_stream_read_bytes_async (t->stream, READ_SIZE, G_PRIORITY_DEFAULT,
      t->attempt_cancellable, on_read, transfer_ref (t));
}

/* ------------------------------------------------------------------------ */
/* Transfer, peer-to-peer side (fetcher thread) */

#if HAVE_P2P

static void
shared_add_bytes_from_peers (MeshFetcherShared * shared, guint64 n)
{
  __atomic_fetch_add (&shared->bytes_from_peers, n, __ATOMIC_RELAXED);
}

/* Gives the accepted whole to the consumer in reads of the usual size. */
static void
transfer_queue_whole (MeshTransfer * t, GBytes * whole)
{
  gsize size = g_bytes_get_size (whole), pos;

  for (pos = 0; pos < size; pos += READ_SIZE)
    transfer_queue_chunk (t, g_bytes_new_from_bytes (whole, pos,
            MIN (READ_SIZE, size - pos)));
}

/* Rejected: its bytes go, and the segment comes from the CDN alone (what
 * peers were served of it as it arrived ends here). A copy is kept to
 * share, and to name the senders of a forged one. */
static void
transfer_reject_assembly (MeshTransfer * t, const gchar * why)
{
  MeshPeerManager *peers = t->shared->peers;

  if (peers)
    mesh_peer_manager_segment_rejected (peers, t->segment_id);
  GST_WARNING_OBJECT (t->shared->fetcher, "job %u: %s from peers rejected: "
      "%s; downloading it from the CDN", t->id, t->segment_id, why);
  t->from_peers = 0;
  t->delivered = 0;
  t->copy = g_byte_array_new ();
  transfer_send_attempt (t);
}

static void
transfer_accept_assembly (MeshTransfer * t, GBytes * whole)
{
  MeshPeerManager *peers = t->shared->peers;

  GST_DEBUG_OBJECT (t->shared->fetcher, "job %u: accepted %" G_GSIZE_FORMAT
      " bytes, %" G_GUINT64_FORMAT
      " from peers", t->id, g_bytes_get_size (whole), t->from_peers);
  shared_add_bytes_from_peers (t->shared, t->from_peers);
  transfer_queue_whole (t, whole);
  if (peers)
    mesh_peer_manager_segment_complete (peers, t->segment_id, whole);
}

static guint
transfer_count_senders (MeshTransfer * t)
{
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  guint i;

  for (i = 0; t->senders && i < t->senders->len; i++)
    g_hash_table_add (ids, g_array_index (t->senders, Sender, i).peer_id);
  return g_hash_table_size (ids);
}

/* The peers that sent bytes of @suspect which @truth (the CDN's copy; NULL
 * when one peer sent it all) does not have are cut off and reported. */
static void
transfer_blame_senders (MeshTransfer * t, GBytes * suspect, GBytes * truth)
{
  MeshPeerManager *peers = t->shared->peers;
  gsize truth_size = truth ? g_bytes_get_size (truth) : 0;
  const guint8 *a = g_bytes_get_data (suspect, NULL);
  const guint8 *b = truth ? g_bytes_get_data (truth, NULL) : NULL;
  guint i;

  for (i = 0; peers && t->senders && i < t->senders->len; i++) {
    Sender *s = &g_array_index (t->senders, Sender, i);

    if (truth && s->end <= truth_size
        && memcmp (a + s->start, b + s->start, s->end - s->start) == 0)
      continue;
    mesh_peer_manager_report_peer (peers, s->peer_id, t->segment_id);
  }
}

static void
on_assembly_verified (MeshIntegrityResult result, gpointer data)
{
  MeshTransfer *t = data;
  g_autoptr (GBytes) whole = g_steal_pointer (&t->verifying);

  if (t->finished)
    return;
  if (t->aborting) {
    transfer_finish_cancelled (t);
    return;
  }
  switch (result) {
    case MESH_INTEGRITY_VERIFIED:
      transfer_accept_assembly (t, whole);
      transfer_finish (t, NULL);
      break;
    case MESH_INTEGRITY_MISMATCH:
      if (transfer_count_senders (t) == 1)
        transfer_blame_senders (t, whole, NULL);
      else
        t->suspect = g_bytes_ref (whole);
      transfer_reject_assembly (t, "its SHA-256 does not match the "
          "provider's digest");
      break;
    case MESH_INTEGRITY_UNVERIFIABLE:
      transfer_reject_assembly (t, "the provider's list has no digest for it");
      break;
  }
}

/* The assembly is complete: checked (size, then digest), it goes to the
 * consumer and the cache (TRUE); otherwise the transfer goes on (FALSE):
 * rejected, from the CDN alone, or until its digest is known. */
static gboolean
transfer_release_assembly (MeshTransfer * t)
{
  g_autoptr (GBytes) whole = g_byte_array_free_to_bytes (t->assembly);
  g_autoptr (GError) error = NULL;
  MeshPeerManager *peers = t->shared->peers;
  guint64 expected = t->size > 0 ? (guint64) t->size : 0;

  t->assembly = NULL;
  if (peers && !mesh_peer_manager_accept_segment (peers, t->segment_id,
          whole, expected, &error)) {
    transfer_reject_assembly (t, error->message);
    return FALSE;
  }
  if (t->shared->integrity && t->from_peers > 0) {
    t->verifying = g_bytes_ref (whole);
    mesh_integrity_verify (t->shared->integrity, t->url, t->offset,
        t->offset == 0 && t->size < 0, whole, t->asked_peers,
        on_assembly_verified, transfer_ref (t), transfer_unref);
    return FALSE;
  }
  transfer_accept_assembly (t, whole);
  return TRUE;
}

/* A segment that streamed from the CDN: peers may have it now. */
static void
transfer_share_with_peers (MeshTransfer * t)
{
  MeshPeerManager *peers = t->shared->peers;
  g_autoptr (GBytes) whole = NULL;
  g_autoptr (GBytes) suspect = g_steal_pointer (&t->suspect);
  gint64 elapsed;

  if (!t->copy)
    return;
  whole = g_byte_array_free_to_bytes (t->copy);
  t->copy = NULL;
  if (suspect)
    transfer_blame_senders (t, suspect, whole);
  if (!peers || g_bytes_get_size (whole) == 0)
    return;
  elapsed = t->last_byte_time - t->first_send_time;
  if (elapsed > 0)
    mesh_peer_manager_note_cdn_throughput (peers,
        g_bytes_get_size (whole) * G_USEC_PER_SEC / elapsed);
  mesh_peer_manager_segment_complete (peers, t->segment_id, whole);
}

/* Peers that asked us for the segment get its bytes as they come. */
static void
transfer_stream_to_peers (MeshTransfer * t, GBytes * part)
{
  if (t->shared->peers)
    mesh_peer_manager_cdn_progress (t->shared->peers, t->segment_id, part);
}

/* The download ended without the whole segment: peers that were served
 * from it as it arrived learn it. */
static void
transfer_unshare (MeshTransfer * t)
{
  if (t->with_peers && t->shared->peers)
    mesh_peer_manager_segment_abandoned (t->shared->peers, t->segment_id);
}

static void
sender_clear (Sender * s)
{
  g_free (s->peer_id);
}

/* A transfer switches peers a few times at most; past this many runs the
 * rest is not recorded (a forged run among them still fails the digest). */
#define MAX_SENDERS 64

static void
transfer_note_sender (MeshTransfer * t, const gchar * peer_id, guint64 start,
    gsize len)
{
  Sender *last = NULL, run = { NULL, start, start + len };

  if (!t->senders) {
    t->senders = g_array_new (FALSE, TRUE, sizeof (Sender));
    g_array_set_clear_func (t->senders, (GDestroyNotify) sender_clear);
  }
  if (t->senders->len > 0)
    last = &g_array_index (t->senders, Sender, t->senders->len - 1);
  if (last && last->end == start && strcmp (last->peer_id, peer_id) == 0) {
    last->end += len;
    return;
  }
  if (t->senders->len >= MAX_SENDERS)
    return;
  run.peer_id = g_strdup (peer_id);
  g_array_append_val (t->senders, run);
}

static void
peer_sink_deliver (gpointer owner, GBytes * bytes, const gchar * peer_id)
{
  MeshTransfer *t = owner;
  gsize len = g_bytes_get_size (bytes);

  if (!t->assembly)
    t->assembly = g_byte_array_new ();
  transfer_note_sender (t, peer_id, t->assembly->len, len);
  g_byte_array_append (t->assembly, g_bytes_get_data (bytes, NULL), len);
  t->from_peers += len;
  t->delivered += len;
  g_mutex_lock (&t->lock);
  if (t->first_send_time == 0)
    t->first_send_time = g_get_monotonic_time ();
  t->last_byte_time = g_get_monotonic_time ();
  g_mutex_unlock (&t->lock);
}

static void
peer_sink_complete (gpointer owner)
{
  MeshTransfer *t = owner;

  t->peer_pending = FALSE;
  if (t->aborting) {
    transfer_finish_cancelled (t);
    return;
  }
  if (!t->assembly)
    t->assembly = g_byte_array_new ();
  g_mutex_lock (&t->lock);
  t->content_size = t->assembly->len;
  g_mutex_unlock (&t->lock);
  transfer_finish (t, NULL);
}

static void
peer_sink_use_cdn (gpointer owner)
{
  MeshTransfer *t = owner;

  t->peer_pending = FALSE;
  if (t->aborting) {
    transfer_finish_cancelled (t);
    return;
  }
  if (!t->assembly) {
    /* nothing from peers: stream to the consumer, keep a copy for them */
    t->copy = g_byte_array_new ();
    if (t->shared->peers)
      mesh_peer_manager_cdn_started (t->shared->peers, t->segment_id);
  }
  transfer_send_attempt (t);
}

static const MeshPeerSink peer_sink = {
  peer_sink_deliver,
  peer_sink_complete,
  peer_sink_use_cdn,
};

static void
transfer_ask_peers (MeshTransfer * t)
{
  t->with_peers = TRUE;
  t->peer_pending = TRUE;
  t->asked_peers = g_get_monotonic_time ();
  mesh_peer_manager_request (t->shared->peers, t->segment_id,
      t->size > 0 ? (guint64) t->size : 0, t->deadline, &peer_sink, t);
}

/* The transfer ends: the peer manager lets go of it. */
static void
transfer_leave_peers (MeshTransfer * t)
{
  if (!t->peer_pending)
    return;
  t->peer_pending = FALSE;
  if (t->shared->peers)
    mesh_peer_manager_cancel (t->shared->peers, t);
}

#else /* !HAVE_P2P: no transfer goes to peers, nothing is assembled */

static gboolean
transfer_release_assembly (MeshTransfer * t)
{
  return TRUE;
}

static void
transfer_share_with_peers (MeshTransfer * t)
{
}

static void
transfer_stream_to_peers (MeshTransfer * t, GBytes * part)
{
}

static void
transfer_unshare (MeshTransfer * t)
{
}

static void
transfer_ask_peers (MeshTransfer * t)
{
  g_assert_not_reached ();
}

static void
transfer_leave_peers (MeshTransfer * t)
{
}

#endif /* HAVE_P2P */

static void
transfer_take_settings (MeshTransfer * t)
{
  MeshFetcherShared *shared = t->shared;
  guint timeout;

  g_mutex_lock (&shared->lock);
  t->user_agent = g_strdup (shared->user_agent);
  t->retries = shared->retries;
  t->extra_headers = shared->extra_headers ?
      gst_structure_copy (shared->extra_headers) : NULL;
  timeout = shared->timeout;
  g_mutex_unlock (&shared->lock);

  /* session-wide in libsoup; takes effect for connections opened from now */
  if (soup_session_get_timeout (shared->session) != timeout)
    soup_session_set_timeout (shared->session, timeout);
}

static gboolean peers_usable (MeshFetcherShared * shared);

static gboolean
transfer_start_cb (gpointer data)
{
  MeshTransfer *t = data;
  MeshFetcherShared *shared = t->shared;
  gboolean shutting_down;

  g_mutex_lock (&shared->lock);
  shutting_down = shared->shutting_down;
  g_mutex_unlock (&shared->lock);

  if (t->aborting || shutting_down) {
    transfer_finish_cancelled (t);
    return G_SOURCE_REMOVE;
  }

  t->live = TRUE;
  shared->live = g_list_prepend (shared->live, transfer_ref (t));
  transfer_take_settings (t);
  if (t->kind == MESH_FETCH_KIND_SEGMENT && t->segment_id
      && peers_usable (shared))
    transfer_ask_peers (t);
  else
    transfer_send_attempt (t);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* Fetcher thread */

static gboolean
quit_loop_cb (gpointer data)
{
  MeshFetcherShared *shared = data;

  g_main_loop_quit (shared->loop);
  return G_SOURCE_REMOVE;
}

static void
peer_config_update_free (PeerConfigUpdate * update)
{
  MeshPeerConfig *c = &update->config;

  g_free ((gchar *) c->tracker_url);
  g_free ((gchar *) c->token);
  g_free ((gchar *) c->swarm_id);
  g_free ((gchar *) c->manifest_url);
  g_free ((gchar *) c->stun_server);
  g_free ((gchar *) c->turn_server);
  g_free ((gchar *) c->local_address);
  g_free ((gchar *) c->network);
  shared_unref (update->shared);
  g_free (update);
}

/* ------------------------------------------------------------------------ */
/* Warnings (fetcher thread) */

/* Emits "p2p-warning" unless the fetcher is being disposed (see the top of
 * the file); no lock is held while the handlers run. */
static void
shared_emit_p2p_warning (MeshFetcherShared * shared, const gchar * message)
{
  MeshFetcher *target;

  g_mutex_lock (&shared->lock);
  target = shared->warn_target;
  if (target)
    shared->warnings_emitting++;
  g_mutex_unlock (&shared->lock);
  if (!target)
    return;

  g_signal_emit (target, signals[SIGNAL_P2P_WARNING], 0, message);

  g_mutex_lock (&shared->lock);
  shared->warnings_emitting--;
  g_cond_broadcast (&shared->warn_cond);
  g_mutex_unlock (&shared->lock);
}

/* ------------------------------------------------------------------------ */
/* Peer manager (fetcher thread, except the getters' glue) */

#if HAVE_P2P

/* The callback is copied under the lock and called without it: its user
 * data outlives the fetcher thread (see mesh_fetcher_set_peer_event_func). */
static void
shared_peer_event (MeshFetcherShared * shared, const gchar * id,
    gboolean connected)
{
  MeshPeerEventFunc func;
  gpointer data;

  g_mutex_lock (&shared->lock);
  func = shared->peer_event_func;
  data = shared->peer_event_data;
  g_mutex_unlock (&shared->lock);
  if (func)
    func (id, connected, data);
}

static void
on_peer_connected (MeshPeerManager * peers, const gchar * id,
    MeshFetcherShared * shared)
{
  shared_peer_event (shared, id, TRUE);
}

static void
on_peer_disconnected (MeshPeerManager * peers, const gchar * id,
    MeshFetcherShared * shared)
{
  shared_peer_event (shared, id, FALSE);
}

/* The tracker cannot be used (its URL and why are in @error): playback
 * goes on from the CDN, and the element tells the application. */
static void
on_signaller_error (MeshPeerManager * peers, const GError * error,
    MeshFetcherShared * shared)
{
  g_autofree gchar *message = g_strdup_printf ("peer-to-peer delivery "
      "unavailable, segments come from the CDN: %s", error->message);

  GST_WARNING_OBJECT (shared->fetcher, "%s", message);
  shared_emit_p2p_warning (shared, message);
}

/* Without the provider's digests, peers cannot be trusted with a segment:
 * the application hears why (once per change), playback stays on the
 * CDN. */
static void
on_integrity_state (gboolean available, const gchar * why, gpointer data)
{
  MeshFetcherShared *shared = data;
  g_autofree gchar *message = NULL;

  if (available) {
    GST_INFO_OBJECT (shared->fetcher, "segment digests available: segments "
        "come from peers again");
    return;
  }
  message = g_strdup_printf ("peer-to-peer delivery off, segments come from "
      "the CDN: nothing to verify peers' segments with (%s); publish "
      "mesh-hashes.json with mesh-hashes, or run the tracker with "
      "--attest-origin, or set integrity=none for a trusted swarm", why);
  GST_WARNING_OBJECT (shared->fetcher, "%s", message);
  shared_emit_p2p_warning (shared, message);
}

/* The digest list's requests: the list lives on the manifest's origin, so
 * they carry what the element's requests do. */
static SoupMessage *
integrity_request (const gchar * url, gpointer data)
{
  MeshFetcherShared *shared = data;
  SoupMessage *msg = soup_message_new (SOUP_METHOD_GET, url);
  SoupMessageHeaders *headers;

  if (!msg)
    return NULL;
  headers = soup_message_get_request_headers (msg);
  g_mutex_lock (&shared->lock);
  if (shared->user_agent && *shared->user_agent)
    soup_message_headers_replace (headers, "User-Agent", shared->user_agent);
  if (shared->extra_headers)
    gst_structure_foreach (shared->extra_headers, append_extra_header, headers);
  g_mutex_unlock (&shared->lock);
  return msg;
}

/* Verification of what peers deliver, unless they are trusted. */
static void
integrity_set_up (MeshFetcherShared * shared, const MeshPeerConfig * config)
{
  if (config->integrity == MESH_INTEGRITY_NONE) {
    GST_WARNING_OBJECT (shared->fetcher, "integrity=none: segments from "
        "peers are not verified");
    return;
  }
  shared->integrity = mesh_integrity_new (shared->session, config->integrity,
      config->manifest_url ? config->manifest_url : "", integrity_request,
      mesh_peer_manager_get_signaller (shared->peers), on_integrity_state,
      shared);
}

/* Whether a segment may be asked of peers now. */
static gboolean
peers_usable (MeshFetcherShared * shared)
{
  return shared->peers && (!shared->integrity
      || mesh_integrity_may_use_peers (shared->integrity));
}

static void
peers_shut_down (MeshFetcherShared * shared)
{
  MeshPeerManager *peers = shared->peers;

  g_clear_pointer (&shared->integrity, mesh_integrity_free);
  if (!peers)
    return;
  g_mutex_lock (&shared->lock);
  shared->peers = NULL;
  shared->bytes_uploaded_before += mesh_peer_manager_get_bytes_uploaded (peers);
  {
    MeshPeerStats stats;

    mesh_peer_manager_get_stats (peers, &stats);
    mesh_peer_stats_add (&shared->peer_stats_before, &stats);
  }
  g_mutex_unlock (&shared->lock);
  g_signal_handlers_disconnect_by_data (peers, shared);
  mesh_peer_manager_stop (peers);
  g_object_unref (peers);
}

/* Made with the first peer manager; one for the fetcher thread, so that
 * at thread exit it can end what every manager's closed connections left
 * (QUIC connections draining, their libnice agents). NULL, with @error,
 * when its TLS credentials cannot be made. */
static MeshPeerTransport *
peers_get_transport (MeshFetcherShared * shared, GError ** error)
{
  if (!shared->transport) {
    MeshQuicTransport *quic = mesh_quic_transport_new (shared->context, error);

    shared->transport = quic ? MESH_PEER_TRANSPORT (quic) : NULL;
  }
  return shared->transport;
}

/* Replaces the peer manager (fetcher thread). Jobs already with the old one
 * go to the CDN. */
static gboolean
peers_reconfigure_cb (gpointer data)
{
  PeerConfigUpdate *update = data;
  MeshFetcherShared *shared = update->shared;

  peers_shut_down (shared);
  /* the new manager's reports count from here */
  shared->qos_base = shared->qos_latest;
  if (update->config.tracker_url && *update->config.tracker_url) {
    g_autoptr (GError) error = NULL;
    MeshPeerTransport *transport = peers_get_transport (shared, &error);
    MeshPeerManager *peers;

    if (!transport) {
      g_autofree gchar *message = g_strdup_printf ("peer-to-peer delivery "
          "unavailable, segments come from the CDN: no peer transport: %s",
          error->message);

      GST_WARNING_OBJECT (shared->fetcher, "%s", message);
      shared_emit_p2p_warning (shared, message);
      return G_SOURCE_REMOVE;
    }
    peers = mesh_peer_manager_new (shared->session, transport, NULL,
        &update->config);

    GST_INFO_OBJECT (shared->fetcher, "peer-to-peer through %" GST_PTR_FORMAT,
        peers);
    g_signal_connect (peers, "peer-connected",
        G_CALLBACK (on_peer_connected), shared);
    g_signal_connect (peers, "peer-disconnected",
        G_CALLBACK (on_peer_disconnected), shared);
    g_signal_connect (peers, "signaller-error",
        G_CALLBACK (on_signaller_error), shared);
    g_mutex_lock (&shared->lock);
    shared->peers = peers;
    g_mutex_unlock (&shared->lock);
    integrity_set_up (shared, &update->config);
  }
  return G_SOURCE_REMOVE;
}

/* At thread exit: the manager stops, and what its transport still holds
 * (agents finishing their last bytes) ends at once. */
static void
peers_finish (MeshFetcherShared * shared)
{
  peers_shut_down (shared);
  if (shared->transport) {
    mesh_peer_transport_shutdown (shared->transport, 2000);
    g_clear_object (&shared->transport);
  }
}

/* Under `lock`: the manager's atomic counters are safe from any thread. */
static guint64
peers_get_bytes_uploaded (MeshFetcherShared * shared)
{
  return shared->peers ?
      mesh_peer_manager_get_bytes_uploaded (shared->peers) : 0;
}

static guint
peers_get_n_peers (MeshFetcherShared * shared)
{
  return shared->peers ? mesh_peer_manager_get_n_peers (shared->peers) : 0;
}

static void
peers_get_stats (MeshFetcherShared * shared, MeshPeerStats * stats)
{
  if (shared->peers)
    mesh_peer_manager_get_stats (shared->peers, stats);
}

#else /* !HAVE_P2P: CDN only; a tracker in the settings is only reported */

static gboolean
peers_usable (MeshFetcherShared * shared)
{
  return FALSE;
}

static gboolean
peers_reconfigure_cb (gpointer data)
{
  PeerConfigUpdate *update = data;

  if (update->config.tracker_url && *update->config.tracker_url) {
    g_autofree gchar *message = g_strdup_printf ("tracker %s ignored: "
        "built without peer-to-peer support (-Dp2p=disabled)",
        update->config.tracker_url);

    GST_WARNING_OBJECT (update->shared->fetcher, "%s", message);
    shared_emit_p2p_warning (update->shared, message);
  }
  return G_SOURCE_REMOVE;
}

static void
peers_finish (MeshFetcherShared * shared)
{
}

static guint64
peers_get_bytes_uploaded (MeshFetcherShared * shared)
{
  return 0;
}

static guint
peers_get_n_peers (MeshFetcherShared * shared)
{
  return 0;
}

static void
peers_get_stats (MeshFetcherShared * shared, MeshPeerStats * stats)
{
}

#endif /* HAVE_P2P */

static void
shared_wind_down (MeshFetcherShared * shared)
{
  GList *live, *l;

  /* aborting may take a transfer off `live` at once */
  live = g_list_copy (shared->live);
  for (l = live; l != NULL; l = l->next)
    transfer_ref (l->data);
  for (l = live; l != NULL; l = l->next)
    transfer_abort_in_thread (l->data);
  g_list_free_full (live, transfer_unref);

  while (shared->live != NULL)
    g_main_context_iteration (shared->context, TRUE);

  peers_finish (shared);
  soup_session_abort (shared->session);
  g_clear_object (&shared->session);

  /* after this no source can be attached any more: run what is queued */
  g_mutex_lock (&shared->lock);
  shared->thread_gone = TRUE;
  g_mutex_unlock (&shared->lock);
  while (g_main_context_iteration (shared->context, FALSE));
}

static gpointer
fetcher_thread_main (gpointer data)
{
  MeshFetcherShared *shared = data;

  g_main_context_push_thread_default (shared->context);

  g_mutex_lock (&shared->lock);
  shared->session = soup_session_new_with_options ("timeout", shared->timeout,
      "max-conns", 64, "max-conns-per-host", 8, NULL);
  g_mutex_unlock (&shared->lock);
  /* segments are already compressed, and byte ranges must address the
   * stored representation */
  soup_session_remove_feature_by_type (shared->session,
      SOUP_TYPE_CONTENT_DECODER);

  GST_DEBUG_OBJECT (shared->fetcher, "fetcher thread running");
  g_main_loop_run (shared->loop);
  shared_wind_down (shared);
  GST_DEBUG_OBJECT (shared->fetcher, "fetcher thread exiting");

  g_main_context_pop_thread_default (shared->context);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* MeshFetcher */

MeshFetcher *
mesh_fetcher_new (void)
{
  return g_object_new (MESH_TYPE_FETCHER, NULL);
}

static MeshTransfer *
transfer_new (MeshFetcher * fetcher, const MeshFetchRequest * request)
{
  static gint next_id = 0;
  MeshTransfer *t = g_new0 (MeshTransfer, 1);

  g_atomic_ref_count_init (&t->refcount);
  t->shared = shared_ref (fetcher->shared);
  t->id = g_atomic_int_add (&next_id, 1);
  t->url = g_strdup (request->url ? request->url : "(null)");
  t->offset = request->offset;
  t->size = request->size;
  t->kind = request->kind;
  t->segment_id = g_strdup (request->segment_id);
  t->deadline = request->deadline;
  g_mutex_init (&t->lock);
  g_cond_init (&t->cond);
  g_queue_init (&t->chunks);
  t->final_url = g_strdup (t->url);
  t->content_size = -1;
  return t;
}

/* Checks the request before anything is scheduled; on failure returns the
 * error the job fails with. */
static GError *
transfer_validate (MeshTransfer * t, const MeshFetchRequest * request)
{
  const gchar *scheme;

  if (request->url == NULL)
    return g_error_new_literal (MESH_FETCH_ERROR, MESH_FETCH_ERROR_INVALID_URL,
        "No URL to fetch");

  if (!g_uri_is_valid (request->url, SOUP_HTTP_URI_FLAGS, NULL)
      || (t->uri = g_uri_parse (request->url, SOUP_HTTP_URI_FLAGS,
              NULL)) == NULL)
    return g_error_new (MESH_FETCH_ERROR, MESH_FETCH_ERROR_INVALID_URL,
        "Invalid URL \"%s\"", request->url);

  scheme = g_uri_get_scheme (t->uri);
  if ((g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0)
      || g_uri_get_host (t->uri) == NULL || *g_uri_get_host (t->uri) == '\0')
    return g_error_new (MESH_FETCH_ERROR, MESH_FETCH_ERROR_INVALID_URL,
        "Not an http(s) URL: \"%s\"", request->url);

  if (request->offset < 0 || request->size < -1)
    return g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "Invalid byte range (offset %" G_GINT64_FORMAT ", size %"
        G_GINT64_FORMAT ") for %s", request->offset, request->size,
        request->url);

  return NULL;
}

static MeshFetchJob *
fetcher_start (MeshFetcher * fetcher, const MeshFetchRequest * request)
{
  MeshFetchJob *job;
  MeshTransfer *t;
  GError *error;

  t = transfer_new (fetcher, request);
  job = g_object_new (MESH_TYPE_FETCH_JOB, NULL);
  job->transfer = t;

  error = transfer_validate (t, request);
  if (error != NULL) {
    GST_WARNING_OBJECT (fetcher, "job %u: %s", t->id, error->message);
    transfer_end_queue (t, error);
    return job;
  }

  GST_DEBUG_OBJECT (fetcher, "job %u: kind %d, %s, offset %" G_GINT64_FORMAT
      ", size %" G_GINT64_FORMAT, t->id, t->kind, t->url, t->offset, t->size);

  if (!shared_invoke (t->shared, transfer_start_cb, transfer_ref (t),
          transfer_unref))
    transfer_end_queue (t, g_error_new_literal (G_IO_ERROR,
            G_IO_ERROR_CANCELLED, "Fetcher is shutting down"));
  return job;
}

/* ------------------------------------------------------------------------ */
/* Prefetching: segments asked of the swarm ahead of need */

static void
prefetch_free (Prefetch * prefetch)
{
  mesh_fetch_job_cancel (prefetch->job);
  g_object_unref (prefetch->job);
  g_free (prefetch->segment_id);
  g_free (prefetch->url);
  g_free (prefetch);
}

static gboolean
prefetch_matches (const Prefetch * prefetch, const MeshFetchRequest * request)
{
  return g_strcmp0 (prefetch->url, request->url) == 0
      && prefetch->offset == request->offset && prefetch->size == request->size;
}

/* Under prefetch_lock. */
static GList *
prefetch_find (MeshFetcher * fetcher, const gchar * segment_id)
{
  GList *l;

  for (l = fetcher->prefetches.head; l; l = l->next)
    if (g_strcmp0 (((Prefetch *) l->data)->segment_id, segment_id) == 0)
      return l;
  return NULL;
}

/* Under prefetch_lock: forgets the prefetches long past their deadline,
 * returns the bytes the others hold. */
static guint64
prefetch_expire (MeshFetcher * fetcher, gint64 now)
{
  guint64 bytes = 0;
  GList *l = fetcher->prefetches.head;

  while (l) {
    Prefetch *prefetch = l->data;
    GList *next = l->next;

    if (prefetch->deadline && prefetch->deadline + PREFETCH_STALE_US < now) {
      GST_DEBUG_OBJECT (fetcher, "prefetch of %s not adopted, dropped",
          prefetch->segment_id);
      g_queue_delete_link (&fetcher->prefetches, l);
      prefetch_free (prefetch);
    } else {
      bytes += mesh_fetch_job_get_bytes (prefetch->job);
    }
    l = next;
  }
  return bytes;
}

gboolean
mesh_fetcher_prefetch (MeshFetcher * fetcher, const MeshFetchRequest * request)
{
  Prefetch *prefetch;
  gboolean on, started = FALSE;
  guint64 held;

  g_return_val_if_fail (MESH_IS_FETCHER (fetcher), FALSE);
  g_return_val_if_fail (request != NULL, FALSE);

  if (request->kind != MESH_FETCH_KIND_SEGMENT || !request->segment_id)
    return FALSE;
  g_mutex_lock (&fetcher->shared->lock);
  on = fetcher->shared->p2p_on;
  g_mutex_unlock (&fetcher->shared->lock);
  if (!on)
    return FALSE;

  g_mutex_lock (&fetcher->prefetch_lock);
  held = prefetch_expire (fetcher, g_get_monotonic_time ());
  if (prefetch_find (fetcher, request->segment_id)) {
    started = TRUE;
  } else if (fetcher->prefetches.length < PREFETCH_MAX_JOBS
      && held < PREFETCH_MAX_BYTES) {
    prefetch = g_new0 (Prefetch, 1);
    prefetch->segment_id = g_strdup (request->segment_id);
    prefetch->url = g_strdup (request->url);
    prefetch->offset = request->offset;
    prefetch->size = request->size;
    prefetch->deadline = request->deadline;
    prefetch->job = fetcher_start (fetcher, request);
    g_queue_push_tail (&fetcher->prefetches, prefetch);
    fetcher->n_prefetched++;
    started = TRUE;
    GST_DEBUG_OBJECT (fetcher, "prefetching %s, %" G_GINT64_FORMAT
        " ms before its deadline", request->segment_id, request->deadline ?
        (request->deadline - g_get_monotonic_time ()) / 1000 : 0);
  }
  g_mutex_unlock (&fetcher->prefetch_lock);
  return started;
}

/* The prefetched job of @request, taken out of the table; NULL when there is
 * none (a prefetch of the same segment for another range is dropped). */
static MeshFetchJob *
prefetch_adopt (MeshFetcher * fetcher, const MeshFetchRequest * request)
{
  MeshFetchJob *job = NULL;
  Prefetch *prefetch;
  GList *l;

  if (request->kind != MESH_FETCH_KIND_SEGMENT || !request->segment_id)
    return NULL;
  g_mutex_lock (&fetcher->prefetch_lock);
  l = prefetch_find (fetcher, request->segment_id);
  if (l) {
    prefetch = l->data;
    g_queue_delete_link (&fetcher->prefetches, l);
    if (prefetch_matches (prefetch, request)) {
      job = g_steal_pointer (&prefetch->job);
      fetcher->n_adopted++;
      GST_DEBUG_OBJECT (fetcher, "adopting the prefetch of %s (%"
          G_GUINT64_FORMAT " bytes so far)", request->segment_id,
          mesh_fetch_job_get_bytes (job));
    }
    if (prefetch->job)
      mesh_fetch_job_cancel (prefetch->job);
    g_clear_object (&prefetch->job);
    g_free (prefetch->segment_id);
    g_free (prefetch->url);
    g_free (prefetch);
  }
  g_mutex_unlock (&fetcher->prefetch_lock);
  return job;
}

void
mesh_fetcher_cancel_prefetches (MeshFetcher * fetcher)
{
  GQueue dropped = G_QUEUE_INIT;

  g_return_if_fail (MESH_IS_FETCHER (fetcher));

  g_mutex_lock (&fetcher->prefetch_lock);
  dropped = fetcher->prefetches;
  g_queue_init (&fetcher->prefetches);
  g_mutex_unlock (&fetcher->prefetch_lock);
  g_queue_clear_full (&dropped, (GDestroyNotify) prefetch_free);
}

void
mesh_fetcher_cancel_prefetch (MeshFetcher * fetcher, const gchar * segment_id)
{
  Prefetch *prefetch = NULL;
  GList *l;

  g_return_if_fail (MESH_IS_FETCHER (fetcher));

  g_mutex_lock (&fetcher->prefetch_lock);
  l = prefetch_find (fetcher, segment_id);
  if (l) {
    prefetch = l->data;
    g_queue_delete_link (&fetcher->prefetches, l);
  }
  g_mutex_unlock (&fetcher->prefetch_lock);
  if (prefetch)
    prefetch_free (prefetch);
}

guint
mesh_fetcher_get_n_prefetches (MeshFetcher * fetcher)
{
  guint n;

  g_return_val_if_fail (MESH_IS_FETCHER (fetcher), 0);

  g_mutex_lock (&fetcher->prefetch_lock);
  n = fetcher->prefetches.length;
  g_mutex_unlock (&fetcher->prefetch_lock);
  return n;
}

MeshFetchJob *
mesh_fetcher_fetch (MeshFetcher * fetcher, const MeshFetchRequest * request)
{
  MeshFetchJob *job;

  g_return_val_if_fail (MESH_IS_FETCHER (fetcher), NULL);
  g_return_val_if_fail (request != NULL, NULL);

  job = prefetch_adopt (fetcher, request);
  return job ? job : fetcher_start (fetcher, request);
}

typedef struct
{
  MeshFetcherShared *shared;
  gchar *token;
} TokenUpdate;

static void
token_update_free (TokenUpdate * update)
{
  shared_unref (update->shared);
  g_free (update->token);
  g_free (update);
}

static gboolean
set_tracker_token_cb (gpointer data)
{
#if HAVE_P2P
  TokenUpdate *update = data;

  if (update->shared->peers)
    mesh_peer_manager_set_token (update->shared->peers, update->token);
#endif
  return G_SOURCE_REMOVE;
}

void
mesh_fetcher_set_tracker_token (MeshFetcher * fetcher, const gchar * token)
{
  TokenUpdate *update = g_new0 (TokenUpdate, 1);

  g_return_if_fail (MESH_IS_FETCHER (fetcher));

  update->shared = shared_ref (fetcher->shared);
  update->token = g_strdup (token);
  shared_invoke (fetcher->shared, set_tracker_token_cb, update,
      (GDestroyNotify) token_update_free);
}

/* Fetcher thread: the pending report, counted from the peer manager's
 * creation, to its signaller. */
static gboolean
send_qos_cb (gpointer data)
{
  MeshFetcherShared *shared = data;
  MeshQosReport report;

  g_mutex_lock (&shared->lock);
  report = shared->qos_pending;
  shared->qos_scheduled = FALSE;
  g_mutex_unlock (&shared->lock);

  shared->qos_latest = report;
  report.cdn_bytes = MAX (report.cdn_bytes - shared->qos_base.cdn_bytes, 0);
  report.peer_bytes = MAX (report.peer_bytes - shared->qos_base.peer_bytes, 0);
  report.uploaded_bytes = MAX (report.uploaded_bytes -
      shared->qos_base.uploaded_bytes, 0);
  report.stalls = MAX (report.stalls - shared->qos_base.stalls, 0);
  report.stall_ms = MAX (report.stall_ms - shared->qos_base.stall_ms, 0);
#if HAVE_P2P
  if (shared->peers)
    mesh_peer_manager_send_qos (shared->peers, &report);
#endif
  return G_SOURCE_REMOVE;
}

void
mesh_fetcher_send_qos (MeshFetcher * fetcher, const MeshQosReport * totals)
{
  MeshFetcherShared *shared;
  gboolean schedule;

  g_return_if_fail (MESH_IS_FETCHER (fetcher));
  g_return_if_fail (totals != NULL);

  shared = fetcher->shared;
  g_mutex_lock (&shared->lock);
  shared->qos_pending = *totals;
  schedule = !shared->qos_scheduled;
  shared->qos_scheduled = TRUE;
  g_mutex_unlock (&shared->lock);
  if (schedule)
    shared_invoke (shared, send_qos_cb, shared_ref (shared),
        (GDestroyNotify) shared_unref);
}

void
mesh_fetcher_set_peer_event_func (MeshFetcher * fetcher,
    MeshPeerEventFunc func, gpointer user_data)
{
  g_mutex_lock (&fetcher->shared->lock);
  fetcher->shared->peer_event_func = func;
  fetcher->shared->peer_event_data = user_data;
  g_mutex_unlock (&fetcher->shared->lock);
}

void
mesh_fetcher_set_peer_config (MeshFetcher * fetcher,
    const MeshPeerConfig * config)
{
  PeerConfigUpdate *update = g_new0 (PeerConfigUpdate, 1);

  g_return_if_fail (MESH_IS_FETCHER (fetcher));

  update->shared = shared_ref (fetcher->shared);
  update->config = *config;
  update->config.tracker_url = g_strdup (config->tracker_url);
  update->config.token = g_strdup (config->token);
  update->config.swarm_id = g_strdup (config->swarm_id);
  update->config.manifest_url = g_strdup (config->manifest_url);
  update->config.stun_server = g_strdup (config->stun_server);
  update->config.turn_server = g_strdup (config->turn_server);
  update->config.local_address = g_strdup (config->local_address);
  update->config.network = g_strdup (config->network);
  g_mutex_lock (&fetcher->shared->lock);
  fetcher->shared->p2p_on = HAVE_P2P && config->tracker_url
      && *config->tracker_url;
  g_mutex_unlock (&fetcher->shared->lock);
  shared_invoke (fetcher->shared, peers_reconfigure_cb, update,
      (GDestroyNotify) peer_config_update_free);
}

/* The peer manager belongs to the fetcher thread, which sets and clears
 * `peers` under the shared lock and releases it only after clearing it: read
 * under the lock, its atomic counters are safe from any thread. */
guint64
mesh_fetcher_get_bytes_uploaded (MeshFetcher * fetcher)
{
  MeshFetcherShared *shared = fetcher->shared;
  guint64 bytes;

  g_mutex_lock (&shared->lock);
  bytes = peers_get_bytes_uploaded (shared);
  bytes += shared->bytes_uploaded_before;
  g_mutex_unlock (&shared->lock);
  return bytes;
}

guint
mesh_fetcher_get_n_peers (MeshFetcher * fetcher)
{
  MeshFetcherShared *shared = fetcher->shared;
  guint n;

  g_mutex_lock (&shared->lock);
  n = peers_get_n_peers (shared);
  g_mutex_unlock (&shared->lock);
  return n;
}

void
mesh_fetcher_get_peer_stats (MeshFetcher * fetcher, MeshPeerStats * stats)
{
  MeshFetcherShared *shared = fetcher->shared;
  MeshPeerStats current = { 0, };

  g_mutex_lock (&shared->lock);
  peers_get_stats (shared, &current);
  *stats = shared->peer_stats_before;
  g_mutex_unlock (&shared->lock);
  mesh_peer_stats_add (stats, &current);
}

void
mesh_fetcher_get_prefetch_counts (MeshFetcher * fetcher, guint64 * prefetched,
    guint64 * adopted)
{
  g_mutex_lock (&fetcher->prefetch_lock);
  *prefetched = fetcher->n_prefetched;
  *adopted = fetcher->n_adopted;
  g_mutex_unlock (&fetcher->prefetch_lock);
}

guint64
mesh_fetcher_get_bytes_from_cdn (MeshFetcher * fetcher)
{
  g_return_val_if_fail (MESH_IS_FETCHER (fetcher), 0);
  return __atomic_load_n (&fetcher->shared->bytes_from_cdn, __ATOMIC_RELAXED);
}

guint64
mesh_fetcher_get_bytes_from_peers (MeshFetcher * fetcher)
{
  g_return_val_if_fail (MESH_IS_FETCHER (fetcher), 0);
  return __atomic_load_n (&fetcher->shared->bytes_from_peers, __ATOMIC_RELAXED);
}

static void
mesh_fetcher_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  MeshFetcherShared *shared = MESH_FETCHER (object)->shared;

  g_mutex_lock (&shared->lock);
  switch (prop_id) {
    case PROP_USER_AGENT:
      g_free (shared->user_agent);
      shared->user_agent = g_value_dup_string (value);
      break;
    case PROP_TIMEOUT:
      shared->timeout = g_value_get_uint (value);
      break;
    case PROP_RETRIES:
      shared->retries = g_value_get_int (value);
      break;
    case PROP_EXTRA_HEADERS:{
      const GstStructure *s = gst_value_get_structure (value);

      if (shared->extra_headers)
        gst_structure_free (shared->extra_headers);
      shared->extra_headers = s ? gst_structure_copy (s) : NULL;
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&shared->lock);
}

static void
mesh_fetcher_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  MeshFetcher *fetcher = MESH_FETCHER (object);
  MeshFetcherShared *shared = fetcher->shared;

  switch (prop_id) {
    case PROP_BYTES_FROM_CDN:
      g_value_set_uint64 (value, mesh_fetcher_get_bytes_from_cdn (fetcher));
      return;
    case PROP_BYTES_FROM_PEERS:
      g_value_set_uint64 (value, mesh_fetcher_get_bytes_from_peers (fetcher));
      return;
    default:
      break;
  }

  g_mutex_lock (&shared->lock);
  switch (prop_id) {
    case PROP_USER_AGENT:
      g_value_set_string (value, shared->user_agent);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, shared->timeout);
      break;
    case PROP_RETRIES:
      g_value_set_int (value, shared->retries);
      break;
    case PROP_EXTRA_HEADERS:
      gst_value_set_structure (value, shared->extra_headers);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&shared->lock);
}

static void
mesh_fetcher_init (MeshFetcher * fetcher)
{
  MeshFetcherShared *shared = g_new0 (MeshFetcherShared, 1);

  g_atomic_ref_count_init (&shared->refcount);
  g_mutex_init (&shared->lock);
  shared->user_agent = g_strdup (DEFAULT_USER_AGENT);
  shared->timeout = DEFAULT_TIMEOUT;
  shared->retries = DEFAULT_RETRIES;
  shared->context = g_main_context_new ();
  shared->loop = g_main_loop_new (shared->context, FALSE);
  shared->fetcher = fetcher;
  shared->warn_target = fetcher;
  g_cond_init (&shared->warn_cond);
  shared->thread = g_thread_new ("meshfetcher", fetcher_thread_main, shared);
  fetcher->shared = shared;
  g_mutex_init (&fetcher->prefetch_lock);
  g_queue_init (&fetcher->prefetches);
}

/* No "p2p-warning" starts from now on, and those under way end first. */
static void
mesh_fetcher_dispose (GObject * object)
{
  MeshFetcher *fetcher = MESH_FETCHER (object);
  MeshFetcherShared *shared = fetcher->shared;

  mesh_fetcher_cancel_prefetches (fetcher);
  g_mutex_lock (&shared->lock);
  shared->warn_target = NULL;
  while (shared->warnings_emitting > 0)
    g_cond_wait (&shared->warn_cond, &shared->lock);
  g_mutex_unlock (&shared->lock);

  G_OBJECT_CLASS (mesh_fetcher_parent_class)->dispose (object);
}

static void
mesh_fetcher_finalize (GObject * object)
{
  MeshFetcherShared *shared = MESH_FETCHER (object)->shared;

  g_mutex_lock (&shared->lock);
  shared->shutting_down = TRUE;
  g_mutex_unlock (&shared->lock);

  /* the thread aborts the jobs still running before it exits */
  shared_invoke (shared, quit_loop_cb, shared, NULL);
  g_thread_join (shared->thread);
  shared->thread = NULL;
  shared_unref (shared);
  g_mutex_clear (&MESH_FETCHER (object)->prefetch_lock);

  G_OBJECT_CLASS (mesh_fetcher_parent_class)->finalize (object);
}

static void
mesh_fetcher_class_init (MeshFetcherClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (mesh_fetcher_debug, "meshfetcher", 0,
      "gst-mesh segment fetcher");

  gobject_class->set_property = mesh_fetcher_set_property;
  gobject_class->get_property = mesh_fetcher_get_property;
  gobject_class->dispose = mesh_fetcher_dispose;
  gobject_class->finalize = mesh_fetcher_finalize;

  g_object_class_install_property (gobject_class, PROP_USER_AGENT,
      g_param_spec_string ("user-agent", "User-Agent",
          "Value of the User-Agent HTTP request header", DEFAULT_USER_AGENT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "Seconds of network inactivity after which an attempt fails "
          "(0 = never)", 0, 3600, DEFAULT_TIMEOUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_RETRIES,
      g_param_spec_int ("retries", "Retries",
          "Attempts after the first one for network errors, timeouts and "
          "5xx responses (-1 = unlimited)", -1, G_MAXINT, DEFAULT_RETRIES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_EXTRA_HEADERS,
      g_param_spec_boxed ("extra-headers", "Extra Headers",
          "Extra request headers: field name = header name, value a string "
          "or an array/list of strings", GST_TYPE_STRUCTURE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_BYTES_FROM_CDN,
      g_param_spec_uint64 ("bytes-from-cdn", "Bytes from CDN",
          "Body bytes of init sections and media segments received from the "
          "CDN", 0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_BYTES_FROM_PEERS,
      g_param_spec_uint64 ("bytes-from-peers", "Bytes from peers",
          "Body bytes received from peers", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  signals[SIGNAL_P2P_WARNING] = g_signal_new ("p2p-warning",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_STRING);
}

/* ------------------------------------------------------------------------ */
/* MeshFetchJob */

static void
mesh_fetch_job_init (MeshFetchJob * job)
{
}

static void
mesh_fetch_job_finalize (GObject * object)
{
  MeshFetchJob *job = MESH_FETCH_JOB (object);

  /* nobody can pop any more: stop downloading */
  if (job->transfer) {
    transfer_cancel (job->transfer);
    transfer_unref (job->transfer);
  }

  G_OBJECT_CLASS (mesh_fetch_job_parent_class)->finalize (object);
}

static void
mesh_fetch_job_class_init (MeshFetchJobClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = mesh_fetch_job_finalize;
}

static void
on_pop_cancelled (GCancellable * cancellable, gpointer data)
{
  transfer_cancel (data);
}

GBytes *
mesh_fetch_job_pop (MeshFetchJob * job, GCancellable * cancellable,
    GError ** error)
{
  MeshTransfer *t;
  GBytes *chunk = NULL;
  gulong handler = 0;
  gboolean resume;

  g_return_val_if_fail (MESH_IS_FETCH_JOB (job), NULL);
  t = job->transfer;

  /* connected before taking the lock: the handler runs at once when
   * @cancellable is already cancelled, and it takes the lock */
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable,
        G_CALLBACK (on_pop_cancelled), t, NULL);

  g_mutex_lock (&t->lock);
  while (!t->cancelled && !t->done && g_queue_is_empty (&t->chunks))
    g_cond_wait (&t->cond, &t->lock);

  if (t->cancelled)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
        "Fetch cancelled");
  else if ((chunk = g_queue_pop_head (&t->chunks)) == NULL && t->error)
    g_propagate_error (error, g_error_copy (t->error));
  if (chunk)
    t->queued -= g_bytes_get_size (chunk);
  resume = t->read_paused && t->queued < MAX_QUEUED / 2;
  if (resume)
    t->read_paused = FALSE;
  g_mutex_unlock (&t->lock);

  if (resume)
    shared_invoke (t->shared, transfer_resume_reading_cb, transfer_ref (t),
        transfer_unref);

  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  return chunk;
}

GBytes *
mesh_fetch_job_read_all (MeshFetchJob * job, GCancellable * cancellable,
    gsize max_size, GError ** error)
{
  GByteArray *body;
  GBytes *chunk;
  GError *local_error = NULL;

  g_return_val_if_fail (MESH_IS_FETCH_JOB (job), NULL);

  body = g_byte_array_new ();
  while ((chunk = mesh_fetch_job_pop (job, cancellable, &local_error))) {
    gsize len = g_bytes_get_size (chunk);

    if (len > max_size || body->len > max_size - len) {
      g_bytes_unref (chunk);
      mesh_fetch_job_cancel (job);
      g_set_error (&local_error, MESH_FETCH_ERROR, MESH_FETCH_ERROR_TOO_LARGE,
          "GET %s: body larger than %" G_GSIZE_FORMAT " bytes",
          job->transfer->url, max_size);
      break;
    }
    g_byte_array_append (body, g_bytes_get_data (chunk, NULL), len);
    g_bytes_unref (chunk);
  }

  if (local_error != NULL) {
    g_propagate_error (error, local_error);
    g_byte_array_unref (body);
    return NULL;
  }
  return g_byte_array_free_to_bytes (body);
}

void
mesh_fetch_job_cancel (MeshFetchJob * job)
{
  g_return_if_fail (MESH_IS_FETCH_JOB (job));
  transfer_cancel (job->transfer);
}

gchar *
mesh_fetch_job_dup_final_url (MeshFetchJob * job)
{
  gchar *url;

  g_return_val_if_fail (MESH_IS_FETCH_JOB (job), NULL);

  g_mutex_lock (&job->transfer->lock);
  url = g_strdup (job->transfer->final_url);
  g_mutex_unlock (&job->transfer->lock);
  return url;
}

guint64
mesh_fetch_job_get_bytes (MeshFetchJob * job)
{
  guint64 bytes;

  g_return_val_if_fail (MESH_IS_FETCH_JOB (job), 0);

  g_mutex_lock (&job->transfer->lock);
  bytes = job->transfer->bytes;
  g_mutex_unlock (&job->transfer->lock);
  return bytes;
}

gint64
mesh_fetch_job_get_elapsed (MeshFetchJob * job)
{
  MeshTransfer *t;
  gint64 elapsed = 0;

  g_return_val_if_fail (MESH_IS_FETCH_JOB (job), 0);
  t = job->transfer;

  g_mutex_lock (&t->lock);
  if (t->first_send_time != 0 && t->last_byte_time > t->first_send_time)
    elapsed = t->last_byte_time - t->first_send_time;
  g_mutex_unlock (&t->lock);
  return elapsed;
}

gint64
mesh_fetch_job_get_content_size (MeshFetchJob * job)
{
  gint64 size;

  g_return_val_if_fail (MESH_IS_FETCH_JOB (job), -1);

  g_mutex_lock (&job->transfer->lock);
  size = job->transfer->content_size;
  g_mutex_unlock (&job->transfer->lock);
  return size;
}

gboolean
mesh_fetch_job_is_done (MeshFetchJob * job)
{
  gboolean done;

  g_return_val_if_fail (MESH_IS_FETCH_JOB (job), TRUE);

  g_mutex_lock (&job->transfer->lock);
  done = job->transfer->done;
  g_mutex_unlock (&job->transfer->lock);
  return done;
}
