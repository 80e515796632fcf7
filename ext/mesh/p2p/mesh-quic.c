/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One QUIC connection on ngtcp2 0.12 and GnuTLS, over a datagram path that
 * the caller owns (see mesh-quic.h).
 *
 * Threads: everything (the ngtcp2 connection, the GnuTLS session, the stream
 * buffers, the timer source, every signal) belongs to the owner's
 * GMainContext; no locks. Entry points that may emit signals hold a
 * reference on the connection for their duration, as handlers may drop the
 * owner's last one.
 *
 * Callbacks: ngtcp2 forbids calls into it from its own callbacks, and signal
 * handlers may call anything (write, reset, close, unref). So the ngtcp2
 * callbacks only update our state and queue events (stream data copied);
 * the events are emitted once ngtcp2 has returned.
 *
 * Timer: one GSource with a ready time, on the owner context. It fires at
 * ngtcp2_conn_get_expiry() (loss detection, ACK delay, idle, keep-alive,
 * handshake timeout, and the pacing time of the next packet), at once when a
 * flush is wanted (new stream data, datagrams received in this iteration:
 * one flush answers them all), and at the end of the closing period.
 *
 * Pacing: a flush writes at most ngtcp2's send quantum, then tells ngtcp2
 * (ngtcp2_conn_update_pkt_tx_time) which computes when the next burst may
 * leave; writev returns 0 until then, and the timer wakes us for it.
 *
 * Send buffers: ngtcp2 does not copy stream data; it points into our buffer
 * until the bytes are acknowledged (it retransmits from there). Each stream
 * keeps its bytes in fixed blocks that never move, from the first
 * unacknowledged byte to the last written one, freed as acknowledgements
 * arrive.
 *
 * Closing: a local close (or a local error) writes one CONNECTION_CLOSE
 * datagram, keeps it, frees the ngtcp2 connection, and sends the datagram
 * again when the peer keeps talking, until three PTOs have passed (the
 * closing period of RFC 9000 §10.2). A close from the peer, the idle timeout
 * and the handshake timeout end it silently.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-quic.h"

#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#ifdef __linux__
#include <sys/timerfd.h>
#define HAVE_TIMERFD 1
#endif
#include <gst/gst.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

GST_DEBUG_CATEGORY_STATIC (mesh_quic_debug);
#define GST_CAT_DEFAULT mesh_quic_debug

G_DEFINE_QUARK (mesh_quic_error_quark, mesh_quic_error);

#define DEFAULT_STREAM_WINDOW (6 * 1024 * 1024)
#define DEFAULT_CONNECTION_WINDOW (12 * 1024 * 1024)
#define DEFAULT_STREAM_SEND_BUFFER (2 * 1024 * 1024)
/* The most of the congestion window a stream's buffer grows by. */
#define MAX_CWND_IN_STREAM (16 * 1024 * 1024)
#define DEFAULT_MAX_STREAMS 64
#define MAX_MAX_STREAMS 1024
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define DEFAULT_IDLE_TIMEOUT_MS 30000
#define DEFAULT_MAX_UDP_PAYLOAD 1452
/* QUIC's minimum (RFC 9000 §14) and the largest UDP payload. */
#define MIN_UDP_PAYLOAD 1200
#define MAX_UDP_PAYLOAD 65527
#define CID_LEN 16
#define SEND_BLOCK_SIZE (16 * 1024)
/* Longest reason phrase we send or report. */
#define MAX_REASON 512
/* Answers to a peer that keeps talking during our closing period. */
#define MAX_CLOSE_RETRANSMITS 8
/* How soon a datagram the path refused (EWOULDBLOCK) is tried again. */
#define SEND_RETRY_US 1000
/* Goodput is measured over windows of at least this long... */
#define GOODPUT_WINDOW_US (200 * G_TIME_SPAN_MILLISECOND)
/* ...during which bytes never paused for longer than this. */
#define GOODPUT_IDLE_US (100 * G_TIME_SPAN_MILLISECOND)

/* TLS 1.3 only, with the cipher suites QUIC allows (no CCM-8). */
#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:" \
  "+AES-128-GCM:+CHACHA20-POLY1305:+AES-256-GCM:%DISABLE_TLS13_COMPAT_MODE"

#define FINGERPRINT_PREFIX "sha-256 "
#define DIGEST_LEN 32

/* ------------------------------------------------------------------------ */
/* Debug category, shared by credentials and connections */

static void
ensure_debug_category (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized)) {
    GST_DEBUG_CATEGORY_INIT (mesh_quic_debug, "meshquic", 0,
        "gst-mesh QUIC connections");
    g_once_init_leave (&initialized, 1);
  }
}

static gboolean
check_gnutls (int rv, const gchar * what, GError ** error)
{
  if (rv >= 0)
    return TRUE;
  g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_CONFIG, "%s: %s", what,
      gnutls_strerror (rv));
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Fingerprints */

static gchar *
fingerprint_to_string (const guint8 digest[DIGEST_LEN])
{
  GString *s = g_string_new (FINGERPRINT_PREFIX);
  guint i;

  for (i = 0; i < DIGEST_LEN; i++)
    g_string_append_printf (s, i ? ":%02X" : "%02X", digest[i]);
  return g_string_free (s, FALSE);
}

gboolean
mesh_quic_fingerprint_parse (const gchar * text, guint8 digest[32])
{
  const gchar *p;
  guint i;

  g_return_val_if_fail (digest != NULL, FALSE);

  if (text == NULL || g_ascii_strncasecmp (text, FINGERPRINT_PREFIX,
          strlen (FINGERPRINT_PREFIX)) != 0)
    return FALSE;
  p = text + strlen (FINGERPRINT_PREFIX);
  for (i = 0; i < DIGEST_LEN; i++) {
    gint hi, lo;

    if (i > 0 && *p++ != ':')
      return FALSE;
    hi = g_ascii_xdigit_value (p[0]);
    lo = hi < 0 ? -1 : g_ascii_xdigit_value (p[1]);
    if (lo < 0)
      return FALSE;
    digest[i] = (guint8) (hi << 4 | lo);
    p += 2;
  }
  return *p == '\0';
}

/* ------------------------------------------------------------------------ */
/* Credentials */

struct _MeshQuicCredentials
{
  gnutls_certificate_credentials_t cred;
  gchar *fingerprint;
};

G_DEFINE_BOXED_TYPE (MeshQuicCredentials, mesh_quic_credentials,
    mesh_quic_credentials_ref, mesh_quic_credentials_unref);

static gboolean
fill_self_signed_certificate (gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
    GError ** error)
{
  time_t now = time (NULL);
  guint8 serial[16];
  const gchar *err_pos = NULL;

  /* A positive serial: the top bit clear. */
  if (!check_gnutls (gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial),
          "random serial", error))
    return FALSE;
  serial[0] &= 0x7f;
  /* Validity is not checked by peers (they pin the fingerprint), but a
   * certificate valid from yesterday survives clock skew in other tools. */
  return check_gnutls (gnutls_x509_crt_set_version (crt, 3), "version", error)
      && check_gnutls (gnutls_x509_crt_set_serial (crt, serial, sizeof serial),
      "serial", error)
      && check_gnutls (gnutls_x509_crt_set_activation_time (crt,
          now - 24 * 3600), "activation time", error)
      && check_gnutls (gnutls_x509_crt_set_expiration_time (crt,
          now + 30 * 24 * 3600), "expiration time", error)
      && check_gnutls (gnutls_x509_crt_set_dn (crt, "CN=gst-mesh", &err_pos),
      "subject", error)
      && check_gnutls (gnutls_x509_crt_set_key (crt, key), "public key", error)
      && check_gnutls (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256,
          0), "self-signature", error);
}

static gboolean
make_key_and_certificate (MeshQuicCredentials * creds, GError ** error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  guint8 digest[DIGEST_LEN];
  size_t digest_len = sizeof digest;
  gboolean ok;

  ok = check_gnutls (gnutls_x509_privkey_init (&key), "key", error)
      && check_gnutls (gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
          GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0),
      "key generation", error)
      && check_gnutls (gnutls_x509_crt_init (&crt), "certificate", error)
      && fill_self_signed_certificate (crt, key, error)
      && check_gnutls (gnutls_x509_crt_get_fingerprint (crt, GNUTLS_DIG_SHA256,
          digest, &digest_len), "fingerprint", error)
      && check_gnutls (gnutls_certificate_allocate_credentials (&creds->cred),
      "credentials", error)
      && check_gnutls (gnutls_certificate_set_x509_key (creds->cred, &crt, 1,
          key), "credentials key", error);
  if (ok)
    creds->fingerprint = fingerprint_to_string (digest);
  /* The credentials hold copies. */
  if (crt)
    gnutls_x509_crt_deinit (crt);
  if (key)
    gnutls_x509_privkey_deinit (key);
  return ok;
}

MeshQuicCredentials *
mesh_quic_credentials_new (GError ** error)
{
  MeshQuicCredentials *creds = g_atomic_rc_box_new0 (MeshQuicCredentials);

  ensure_debug_category ();
  if (!make_key_and_certificate (creds, error)) {
    mesh_quic_credentials_unref (creds);
    return NULL;
  }
  GST_DEBUG ("new credentials, %s", creds->fingerprint);
  return creds;
}

MeshQuicCredentials *
mesh_quic_credentials_ref (MeshQuicCredentials * creds)
{
  g_return_val_if_fail (creds != NULL, NULL);
  return g_atomic_rc_box_acquire (creds);
}

static void
credentials_clear (gpointer data)
{
  MeshQuicCredentials *creds = data;

  if (creds->cred)
    gnutls_certificate_free_credentials (creds->cred);
  g_free (creds->fingerprint);
}

void
mesh_quic_credentials_unref (MeshQuicCredentials * creds)
{
  g_return_if_fail (creds != NULL);
  g_atomic_rc_box_release_full (creds, credentials_clear);
}

const gchar *
mesh_quic_credentials_get_fingerprint (MeshQuicCredentials * creds)
{
  g_return_val_if_fail (creds != NULL, NULL);
  return creds->fingerprint;
}

/* ------------------------------------------------------------------------ */
/* Congestion control names */

static const struct
{
  MeshQuicCongestionControl cc;
  const gchar *name;
  ngtcp2_cc_algo algo;
} cc_table[] = {
  {MESH_QUIC_CC_CUBIC, "cubic", NGTCP2_CC_ALGO_CUBIC},
  {MESH_QUIC_CC_BBR, "bbr", NGTCP2_CC_ALGO_BBR},
  {MESH_QUIC_CC_BBR2, "bbr2", NGTCP2_CC_ALGO_BBR2},
  {MESH_QUIC_CC_RENO, "reno", NGTCP2_CC_ALGO_RENO},
};

/* The default, chosen by measurement in the network lab. Alone on a path,
 * BBR2 wins: at 50 ms RTT and 1 % random loss it holds about 7.4 MB/s
 * where cubic falls to 0.4 (quic-udp-bench, 100 Mbit/s link). But a
 * viewer's uplink is shared by its links, one per peer, each with its own
 * controller: in a swarm of 10 viewers with 5 Mbit/s uplinks and 100 ms
 * drop-tail queues, BBR2's links overflowed the queues (31,000-62,000
 * drops in a 60-90 s run against 5,500-8,400 with cubic) and the swarm's
 * offload was 0.32-0.33 against 0.40-0.43 (bench/README.md). Cubic yields to the viewer's own traffic,
 * as a guest on someone's uplink must; BBR2 stays selectable for lossy
 * networks. (ngtcp2 1.x keeps only the BBRv2-based one, as "bbr".) */
#define DEFAULT_CC MESH_QUIC_CC_CUBIC

const gchar *
mesh_quic_cc_to_string (MeshQuicCongestionControl cc)
{
  guint i;

  if (cc == MESH_QUIC_CC_DEFAULT)
    cc = DEFAULT_CC;
  for (i = 0; i < G_N_ELEMENTS (cc_table); i++)
    if (cc_table[i].cc == cc)
      return cc_table[i].name;
  return NULL;
}

gboolean
mesh_quic_cc_from_string (const gchar * name, MeshQuicCongestionControl * cc)
{
  guint i;

  for (i = 0; name && i < G_N_ELEMENTS (cc_table); i++) {
    if (g_ascii_strcasecmp (cc_table[i].name, name) == 0) {
      *cc = cc_table[i].cc;
      return TRUE;
    }
  }
  return FALSE;
}

static ngtcp2_cc_algo
cc_to_ngtcp2 (MeshQuicCongestionControl cc)
{
  guint i;

  if (cc == MESH_QUIC_CC_DEFAULT)
    cc = DEFAULT_CC;
  for (i = 0; i < G_N_ELEMENTS (cc_table); i++)
    if (cc_table[i].cc == cc)
      return cc_table[i].algo;
  return NGTCP2_CC_ALGO_BBR2;
}

/* ------------------------------------------------------------------------ */
/* Types */

typedef struct
{
  guint64 offset;               /* stream offset of data[0] */
  gsize len;
  guint8 data[SEND_BLOCK_SIZE];
} SendBlock;

typedef struct
{
  gint64 id;
  GQueue blocks;                /* SendBlock, from the block holding the first
                                 * unacknowledged byte */
  GList *cursor;                /* a block at or before sent_offset, or NULL */
  guint64 acked_offset;         /* everything before was acknowledged */
  guint64 sent_offset;          /* everything before was given to ngtcp2 */
  guint64 queued_offset;        /* everything before was written by the app */
  gboolean fin_requested;
  gboolean fin_sent;
  gboolean in_send_queue;
  gboolean want_writable;       /* a write was short */
  gboolean local_reset;         /* mesh_quic_connection_stream_reset() */
  gboolean peer_cancelled;      /* "stream-reset" queued */
  gboolean write_refused;       /* ngtcp2 reset our direction */
  guint skip_flush;             /* ngtcp2 refused its data in this flush */
} Stream;

typedef enum
{
  EVENT_CONNECTED,
  EVENT_CLOSED,
  EVENT_STREAM_OPENED,
  EVENT_STREAM_DATA,
  EVENT_STREAM_RESET,
  EVENT_STREAM_CLOSED,
  EVENT_STREAM_WRITABLE,
  EVENT_STREAMS_AVAILABLE,
} EventType;

typedef struct
{
  EventType type;
  gint64 stream_id;
  guint64 code;
  GBytes *data;
  gboolean fin;
  GError *error;
} Event;

typedef struct
{
  gint64 start_us;              /* 0 = no window open */
  gint64 last_us;
  guint64 bytes;
  guint64 rate;
} Goodput;

enum
{
  SIGNAL_CONNECTED,
  SIGNAL_CLOSED,
  SIGNAL_STREAM_OPENED,
  SIGNAL_STREAM_DATA,
  SIGNAL_STREAM_RESET,
  SIGNAL_STREAM_CLOSED,
  SIGNAL_STREAM_WRITABLE,
  SIGNAL_STREAMS_AVAILABLE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

struct _MeshQuicConnection
{
  GObject parent;

  GMainContext *context;
  GSource *timer;

  /* configuration, defaults applied */
  MeshQuicRole role;
  MeshQuicCredentials *creds;
  guint8 remote_digest[DIGEST_LEN];
  gchar *alpn;
  MeshQuicCongestionControl cc;
  guint64 stream_window;
  guint64 connection_window;
  gsize stream_send_buffer;
  guint max_streams;
  guint handshake_timeout_ms;
  guint idle_timeout_ms;
  guint keep_alive_ms;
  gsize max_udp_payload;

  MeshQuicSendFunc send_func;
  gpointer send_data;
  GDestroyNotify send_notify;

  /* ngtcp2 and GnuTLS; NULL before the server's first datagram and once
   * closed */
  ngtcp2_crypto_conn_ref conn_ref;
  ngtcp2_conn *conn;
  gnutls_session_t session;
  struct sockaddr_in local_addr, remote_addr;
  ngtcp2_path path;
  GError *tls_failure;          /* why our check refused the peer */

  MeshQuicState state;
  gint64 server_deadline_us;    /* server: the client must show up by */
  GQueue events;                /* Event, waiting for emission */
  gboolean dispatching;
  gboolean in_flush;
  gboolean flush_pending;

  GHashTable *streams;          /* &Stream.id -> Stream */
  GQueue send_queue;            /* Stream with bytes or FIN to send */
  GQueue dead_streams;          /* closed by ngtcp2, freed after it returns */
  guint flush_count;
  gboolean want_streams;

  GBytes *blocked_datagram;     /* the path said EWOULDBLOCK */
  GBytes *close_datagram;       /* our CONNECTION_CLOSE, closing period */
  gint64 closing_deadline_us;
  guint close_retransmits;

  guint8 *tx_buf;

  MeshQuicStats stats;
  Goodput send_goodput, receive_goodput;
};

G_DEFINE_TYPE (MeshQuicConnection, mesh_quic_connection, G_TYPE_OBJECT);

static void request_flush (MeshQuicConnection * self);
static void rearm_timer (MeshQuicConnection * self);

static ngtcp2_tstamp
now_ns (void)
{
  /* The same clock as GSource ready times, in ngtcp2's unit. */
  return (ngtcp2_tstamp) g_get_monotonic_time () * NGTCP2_MICROSECONDS;
}

/* ------------------------------------------------------------------------ */
/* Events */

static Event *
event_new (EventType type, gint64 stream_id)
{
  Event *ev = g_new0 (Event, 1);

  ev->type = type;
  ev->stream_id = stream_id;
  return ev;
}

static void
event_free (Event * ev)
{
  if (ev->data)
    g_bytes_unref (ev->data);
  g_clear_error (&ev->error);
  g_free (ev);
}

static void
queue_event (MeshQuicConnection * self, Event * ev)
{
  g_queue_push_tail (&self->events, ev);
}

static void
emit_event (MeshQuicConnection * self, Event * ev)
{
  switch (ev->type) {
    case EVENT_CONNECTED:
      g_signal_emit (self, signals[SIGNAL_CONNECTED], 0);
      break;
    case EVENT_CLOSED:
      g_signal_emit (self, signals[SIGNAL_CLOSED], 0, ev->error);
      break;
    case EVENT_STREAM_OPENED:
      g_signal_emit (self, signals[SIGNAL_STREAM_OPENED], 0, ev->stream_id);
      break;
    case EVENT_STREAM_DATA:
      g_signal_emit (self, signals[SIGNAL_STREAM_DATA], 0, ev->stream_id,
          ev->data, ev->fin);
      break;
    case EVENT_STREAM_RESET:
      g_signal_emit (self, signals[SIGNAL_STREAM_RESET], 0, ev->stream_id,
          ev->code);
      break;
    case EVENT_STREAM_CLOSED:
      g_signal_emit (self, signals[SIGNAL_STREAM_CLOSED], 0, ev->stream_id);
      break;
    case EVENT_STREAM_WRITABLE:
      g_signal_emit (self, signals[SIGNAL_STREAM_WRITABLE], 0, ev->stream_id);
      break;
    case EVENT_STREAMS_AVAILABLE:
      g_signal_emit (self, signals[SIGNAL_STREAMS_AVAILABLE], 0);
      break;
  }
}

/* Emits the queued events in order. Once closed, only "closed" goes out:
 * nothing a handler could do with a stream would work any more. */
static void
dispatch_events (MeshQuicConnection * self)
{
  Event *ev;

  if (self->dispatching)
    return;                     /* the outer call goes on with the queue */
  self->dispatching = TRUE;
  g_object_ref (self);
  while ((ev = g_queue_pop_head (&self->events))) {
    if (self->state != MESH_QUIC_STATE_CLOSED || ev->type == EVENT_CLOSED)
      emit_event (self, ev);
    event_free (ev);
  }
  self->dispatching = FALSE;
  g_object_unref (self);
}

/* ------------------------------------------------------------------------ */
/* Goodput */

static void
goodput_add (Goodput * g, guint64 bytes)
{
  gint64 now = g_get_monotonic_time ();

  /* A pause ends the window without a sample: idle time is not slowness. */
  if (g->start_us == 0 || now - g->last_us > GOODPUT_IDLE_US) {
    g->start_us = now;
    g->bytes = 0;
  }
  g->bytes += bytes;
  g->last_us = now;
  if (now - g->start_us >= GOODPUT_WINDOW_US) {
    g->rate = g->bytes * G_USEC_PER_SEC / (guint64) (now - g->start_us);
    g->start_us = now;
    g->bytes = 0;
  }
}

/* ------------------------------------------------------------------------ */
/* Streams */

static Stream *
stream_new (gint64 id)
{
  Stream *s = g_new0 (Stream, 1);

  s->id = id;
  return s;
}

static void
stream_free (Stream * s)
{
  g_queue_clear_full (&s->blocks, g_free);
  g_free (s);
}

static Stream *
lookup_stream (MeshQuicConnection * self, gint64 id)
{
  return g_hash_table_lookup (self->streams, &id);
}

static Stream *
add_stream (MeshQuicConnection * self, gint64 id)
{
  Stream *s = stream_new (id);

  g_hash_table_insert (self->streams, &s->id, s);
  self->stats.n_streams = g_hash_table_size (self->streams);
  return s;
}

/* What a stream may hold, queued or unacknowledged: the configured buffer
 * on top of the congestion window, so that a stream never holds the link
 * below what congestion control would send (the bytes in flight stay in
 * the stream until acknowledged), and holds little beyond it (what is
 * queued is sent whatever the application wants meanwhile). */
static gsize
stream_send_limit (MeshQuicConnection * self)
{
  ngtcp2_conn_stat cstat;

  if (!self->conn)
    return self->stream_send_buffer;
  ngtcp2_conn_get_conn_stat (self->conn, &cstat);
  return self->stream_send_buffer + (gsize) MIN (cstat.cwnd,
      MAX_CWND_IN_STREAM);
}

static gsize
stream_write_space (MeshQuicConnection * self, Stream * s)
{
  guint64 held = s->queued_offset - s->acked_offset;
  gsize limit = stream_send_limit (self);

  return held >= limit ? 0 : limit - (gsize) held;
}

static gboolean
stream_has_pending (Stream * s)
{
  if (s->local_reset)
    return FALSE;
  return s->sent_offset < s->queued_offset || (s->fin_requested
      && !s->fin_sent);
}

static void
send_queue_remove (MeshQuicConnection * self, Stream * s)
{
  if (s->in_send_queue) {
    g_queue_remove (&self->send_queue, s);
    s->in_send_queue = FALSE;
  }
}

static void
send_queue_add (MeshQuicConnection * self, Stream * s)
{
  if (!s->in_send_queue && stream_has_pending (s)) {
    g_queue_push_tail (&self->send_queue, s);
    s->in_send_queue = TRUE;
  }
}

/* Round robin: a stream that just sent goes behind the others. */
static void
send_queue_rotate (MeshQuicConnection * self, Stream * s)
{
  send_queue_remove (self, s);
  send_queue_add (self, s);
}

static void
stream_append (Stream * s, const guint8 * data, gsize len)
{
  while (len > 0) {
    SendBlock *b = g_queue_peek_tail (&s->blocks);
    gsize n;

    if (b == NULL || b->len == SEND_BLOCK_SIZE) {
      b = g_malloc (sizeof (SendBlock));
      b->offset = s->queued_offset;
      b->len = 0;
      g_queue_push_tail (&s->blocks, b);
    }
    /* Appending behind bytes ngtcp2 points to never moves them. */
    n = MIN (len, SEND_BLOCK_SIZE - b->len);
    memcpy (b->data + b->len, data, n);
    b->len += n;
    s->queued_offset += n;
    data += n;
    len -= n;
  }
}

/* The block holding @offset, or NULL when nothing is queued there. */
static GList *
stream_find_block (Stream * s, guint64 offset)
{
  GList *l = s->cursor ? s->cursor : s->blocks.head;

  if (l && ((SendBlock *) l->data)->offset > offset)
    l = s->blocks.head;
  for (; l; l = l->next) {
    SendBlock *b = l->data;

    if (offset < b->offset + b->len) {
      s->cursor = l;
      return l;
    }
  }
  return NULL;
}

/* Fills @vec with the bytes not yet given to ngtcp2; TRUE when they all
 * fit (so that a FIN may go with them). */
static gboolean
stream_unsent_vecs (Stream * s, ngtcp2_vec * vec, gsize max, gsize * n_vec)
{
  guint64 offset = s->sent_offset;
  GList *l = stream_find_block (s, offset);

  *n_vec = 0;
  for (; l && *n_vec < max; l = l->next) {
    SendBlock *b = l->data;
    gsize skip = (gsize) (offset - b->offset);

    vec[*n_vec].base = b->data + skip;
    vec[*n_vec].len = b->len - skip;
    offset = b->offset + b->len;
    (*n_vec)++;
  }
  return offset == s->queued_offset;
}

static void
stream_free_acked_blocks (Stream * s)
{
  SendBlock *b;

  while ((b = g_queue_peek_head (&s->blocks))
      && b->offset + b->len <= s->acked_offset) {
    if (s->cursor == s->blocks.head)
      s->cursor = NULL;
    g_free (g_queue_pop_head (&s->blocks));
  }
}

/* ------------------------------------------------------------------------ */
/* Closing */

static void
free_ngtcp2 (MeshQuicConnection * self)
{
  if (self->conn) {
    ngtcp2_conn_del (self->conn);
    self->conn = NULL;
  }
  if (self->session) {
    gnutls_deinit (self->session);
    self->session = NULL;
  }
}

static void
free_streams (MeshQuicConnection * self)
{
  g_queue_clear (&self->send_queue);
  g_hash_table_remove_all (self->streams);
  g_queue_clear_full (&self->dead_streams, (GDestroyNotify) stream_free);
  self->stats.n_streams = 0;
}

/* The end: queues "closed" with @reason (taken) and frees what a closed
 * connection no longer needs. Only the closing-period datagram stays. */
static void
finish (MeshQuicConnection * self, GError * reason)
{
  Event *ev;

  if (self->state == MESH_QUIC_STATE_CLOSED) {
    g_error_free (reason);
    return;
  }
  GST_INFO_OBJECT (self, "closed: %s", reason->message);
  self->state = MESH_QUIC_STATE_CLOSED;
  ev = event_new (EVENT_CLOSED, -1);
  ev->error = reason;
  queue_event (self, ev);
  free_ngtcp2 (self);
  free_streams (self);
  g_clear_pointer (&self->blocked_datagram, g_bytes_unref);
  rearm_timer (self);
}

/* Sends CONNECTION_CLOSE with @ccerr, keeps it for the closing period,
 * then finishes with @reason. */
static void
close_with_frame (MeshQuicConnection * self,
    const ngtcp2_connection_close_error * ccerr, GError * reason)
{
  ngtcp2_path_storage ps;
  ngtcp2_ssize n;
  ngtcp2_tstamp now = now_ns ();

  if (self->conn && !ngtcp2_conn_is_in_closing_period (self->conn)
      && !ngtcp2_conn_is_in_draining_period (self->conn)) {
    ngtcp2_path_storage_zero (&ps);
    n = ngtcp2_conn_write_connection_close (self->conn, &ps.path, NULL,
        self->tx_buf, self->max_udp_payload, ccerr, now);
    if (n > 0) {
      self->close_datagram = g_bytes_new (self->tx_buf, n);
      self->closing_deadline_us = g_get_monotonic_time () +
          3 * ngtcp2_conn_get_pto (self->conn) / NGTCP2_MICROSECONDS;
      self->send_func (self->tx_buf, n, self->send_data);
      self->stats.bytes_sent += n;
    }
  }
  finish (self, reason);
}

static void
close_with_liberr (MeshQuicConnection * self, int liberr)
{
  ngtcp2_connection_close_error ccerr;
  const gchar *what = ngtcp2_strerror (liberr);

  ngtcp2_connection_close_error_set_transport_error_liberr (&ccerr, liberr,
      (const uint8_t *) what, strlen (what));
  close_with_frame (self, &ccerr, g_error_new (MESH_QUIC_ERROR,
          MESH_QUIC_ERROR_PROTOCOL, "QUIC error: %s", what));
}

/* Our TLS stack failed the handshake: tell the peer with the TLS alert and
 * a short reason. */
static void
close_after_tls_failure (MeshQuicConnection * self)
{
  ngtcp2_connection_close_error ccerr;
  guint8 alert = ngtcp2_conn_get_tls_alert (self->conn);
  GError *reason = g_steal_pointer (&self->tls_failure);
  const gchar *phrase;

  if (alert == 0)
    alert = GNUTLS_A_HANDSHAKE_FAILURE;

  if (reason == NULL)
    reason = g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_HANDSHAKE,
        "TLS handshake failed (alert: %s)",
        gnutls_alert_get_name ((gnutls_alert_description_t) alert));
  phrase = reason->code == MESH_QUIC_ERROR_FINGERPRINT_MISMATCH ?
      "certificate fingerprint mismatch" : "handshake failed";
  ngtcp2_connection_close_error_set_transport_error_tls_alert (&ccerr, alert,
      (const uint8_t *) phrase, strlen (phrase));
  close_with_frame (self, &ccerr, reason);
}

static gchar *
sanitize_reason (const uint8_t * reason, size_t len)
{
  if (reason == NULL || len == 0)
    return g_strdup ("no reason given");
  return g_utf8_make_valid ((const gchar *) reason, MIN (len, MAX_REASON));
}

static GError *
error_from_peer_close (const ngtcp2_connection_close_error * ccerr)
{
  gchar *reason = sanitize_reason (ccerr->reason, ccerr->reasonlen);
  GError *error;

  if (ccerr->type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION)
    error = g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_REMOTE_CLOSED,
        "the peer closed the connection (code %" G_GUINT64_FORMAT "): %s",
        ccerr->error_code, reason);
  else if ((ccerr->error_code & ~(guint64) 0xff) == NGTCP2_CRYPTO_ERROR)
    error = g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_REJECTED,
        "the peer refused the handshake (TLS alert: %s): %s",
        gnutls_alert_get_name ((gnutls_alert_description_t)
            (ccerr->error_code & 0xff)), reason);
  else if (ccerr->error_code == NGTCP2_NO_ERROR)
    error = g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_REMOTE_CLOSED,
        "the peer closed the connection: %s", reason);
  else
    error = g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_PROTOCOL,
        "the peer closed with transport error 0x%" G_GINT64_MODIFIER "x: %s",
        ccerr->error_code, reason);
  g_free (reason);
  return error;
}

/* ------------------------------------------------------------------------ */
/* ngtcp2 callbacks: state updates and queued events only */

static void
on_random (uint8_t * dest, size_t destlen, const ngtcp2_rand_ctx * rand_ctx)
{
  gnutls_rnd (GNUTLS_RND_NONCE, dest, destlen);
}

static int
on_get_new_connection_id (ngtcp2_conn * conn, ngtcp2_cid * cid,
    uint8_t * token, size_t cidlen, void *user_data)
{
  /* Stateless reset tokens must be unguessable. */
  if (gnutls_rnd (GNUTLS_RND_RANDOM, cid->data, cidlen) != 0
      || gnutls_rnd (GNUTLS_RND_RANDOM, token,
          NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  cid->datalen = cidlen;
  return 0;
}

static void
set_connected (MeshQuicConnection * self)
{
  GST_INFO_OBJECT (self, "connected");
  self->state = MESH_QUIC_STATE_CONNECTED;
  queue_event (self, event_new (EVENT_CONNECTED, -1));
}

/* Client: confirmed, not just completed. A client completes before the
 * server has checked its certificate; HANDSHAKE_DONE says the server did. */
static int
on_handshake_confirmed (ngtcp2_conn * conn, void *user_data)
{
  set_connected (user_data);
  return 0;
}

/* Server: completion comes after the client's certificate was checked.
 * (ngtcp2 0.12 calls handshake_confirmed on clients only.) */
static int
on_handshake_completed (ngtcp2_conn * conn, void *user_data)
{
  MeshQuicConnection *self = user_data;

  if (self->role == MESH_QUIC_ROLE_SERVER)
    set_connected (self);
  return 0;
}

static int
on_stream_open (ngtcp2_conn * conn, int64_t stream_id, void *user_data)
{
  MeshQuicConnection *self = user_data;

  GST_DEBUG_OBJECT (self, "peer opened stream %" G_GINT64_FORMAT, stream_id);
  add_stream (self, stream_id);
  queue_event (self, event_new (EVENT_STREAM_OPENED, stream_id));
  return 0;
}

static int
on_recv_stream_data (ngtcp2_conn * conn, uint32_t flags, int64_t stream_id,
    uint64_t offset, const uint8_t * data, size_t datalen, void *user_data,
    void *stream_user_data)
{
  MeshQuicConnection *self = user_data;
  Event *ev;

  /* Handed over (copied) now, so the credit goes back now: the windows
   * alone bound what the peer can make ngtcp2 hold. */
  ngtcp2_conn_extend_max_stream_offset (conn, stream_id, datalen);
  ngtcp2_conn_extend_max_offset (conn, datalen);
  if (lookup_stream (self, stream_id) == NULL)
    return 0;
  self->stats.stream_bytes_received += datalen;
  goodput_add (&self->receive_goodput, datalen);
  ev = event_new (EVENT_STREAM_DATA, stream_id);
  ev->data = g_bytes_new (data, datalen);
  ev->fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
  queue_event (self, ev);
  return 0;
}

static int
on_acked_stream_data_offset (ngtcp2_conn * conn, int64_t stream_id,
    uint64_t offset, uint64_t datalen, void *user_data, void *stream_user_data)
{
  MeshQuicConnection *self = user_data;
  Stream *s = lookup_stream (self, stream_id);

  if (s == NULL || offset + datalen <= s->acked_offset)
    return 0;
  self->stats.stream_bytes_acked += offset + datalen - s->acked_offset;
  goodput_add (&self->send_goodput, offset + datalen - s->acked_offset);
  s->acked_offset = offset + datalen;
  stream_free_acked_blocks (s);
  if (s->want_writable && !s->local_reset
      && stream_write_space (self, s) >= stream_send_limit (self) / 2) {
    s->want_writable = FALSE;
    queue_event (self, event_new (EVENT_STREAM_WRITABLE, stream_id));
  }
  return 0;
}

static void
queue_peer_cancel (MeshQuicConnection * self, Stream * s, guint64 code)
{
  Event *ev;

  if (s->local_reset || s->peer_cancelled)
    return;
  s->peer_cancelled = TRUE;
  ev = event_new (EVENT_STREAM_RESET, s->id);
  ev->code = code;
  queue_event (self, ev);
}

static int
on_stream_close (ngtcp2_conn * conn, uint32_t flags, int64_t stream_id,
    uint64_t app_error_code, void *user_data, void *stream_user_data)
{
  MeshQuicConnection *self = user_data;
  Stream *s = lookup_stream (self, stream_id);

  GST_DEBUG_OBJECT (self, "stream %" G_GINT64_FORMAT " closed", stream_id);
  /* ngtcp2 leaves it to us to let the peer open another one. */
  if (!ngtcp2_conn_is_local_stream (conn, stream_id))
    ngtcp2_conn_extend_max_streams_bidi (conn, 1);
  if (s == NULL)
    return 0;
  if (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)
    queue_peer_cancel (self, s, app_error_code);
  send_queue_remove (self, s);
  g_hash_table_steal (self->streams, &s->id);
  self->stats.n_streams = g_hash_table_size (self->streams);
  /* A flush may still hold it: freed once ngtcp2 has returned. */
  g_queue_push_tail (&self->dead_streams, s);
  queue_event (self, event_new (EVENT_STREAM_CLOSED, stream_id));
  return 0;
}

static int
on_stream_reset (ngtcp2_conn * conn, int64_t stream_id, uint64_t final_size,
    uint64_t app_error_code, void *user_data, void *stream_user_data)
{
  MeshQuicConnection *self = user_data;
  Stream *s = lookup_stream (self, stream_id);

  GST_DEBUG_OBJECT (self, "peer reset stream %" G_GINT64_FORMAT
      " (code %" G_GUINT64_FORMAT ")", stream_id, app_error_code);
  if (s)
    queue_peer_cancel (self, s, app_error_code);
  return 0;
}

static int
on_extend_max_local_streams_bidi (ngtcp2_conn * conn, uint64_t max_streams,
    void *user_data)
{
  MeshQuicConnection *self = user_data;

  if (self->want_streams) {
    self->want_streams = FALSE;
    queue_event (self, event_new (EVENT_STREAMS_AVAILABLE, -1));
  }
  return 0;
}

static int
on_extend_max_stream_data (ngtcp2_conn * conn, int64_t stream_id,
    uint64_t max_data, void *user_data, void *stream_user_data)
{
  /* The stream is still in the send queue; the flush after this read
   * sends it. */
  return 0;
}

static void
on_ngtcp2_log (void *user_data, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  gst_debug_log_valist (GST_CAT_DEFAULT, GST_LEVEL_TRACE, __FILE__, "ngtcp2",
      __LINE__, G_OBJECT (user_data), format, args);
  va_end (args);
}

static void
fill_callbacks (MeshQuicRole role, ngtcp2_callbacks * cb)
{
  memset (cb, 0, sizeof *cb);
  if (role == MESH_QUIC_ROLE_CLIENT) {
    cb->client_initial = ngtcp2_crypto_client_initial_cb;
    cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
  } else {
    cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  }
  cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb->encrypt = ngtcp2_crypto_encrypt_cb;
  cb->decrypt = ngtcp2_crypto_decrypt_cb;
  cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb->update_key = ngtcp2_crypto_update_key_cb;
  cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb->rand = on_random;
  cb->get_new_connection_id = on_get_new_connection_id;
  cb->handshake_completed = on_handshake_completed;
  cb->handshake_confirmed = on_handshake_confirmed;
  cb->stream_open = on_stream_open;
  cb->recv_stream_data = on_recv_stream_data;
  cb->acked_stream_data_offset = on_acked_stream_data_offset;
  cb->stream_close = on_stream_close;
  cb->stream_reset = on_stream_reset;
  cb->extend_max_local_streams_bidi = on_extend_max_local_streams_bidi;
  cb->extend_max_stream_data = on_extend_max_stream_data;
}

/* ------------------------------------------------------------------------ */
/* TLS: the peer check */

static GError *
check_alpn (MeshQuicConnection * self, gnutls_session_t session)
{
  gnutls_datum_t selected = { NULL, 0 };

  if (gnutls_alpn_get_selected_protocol (session, &selected) == 0
      && selected.size == strlen (self->alpn)
      && memcmp (selected.data, self->alpn, selected.size) == 0)
    return NULL;
  return g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_HANDSHAKE,
      "the peer does not speak %s", self->alpn);
}

static GError *
check_fingerprint (MeshQuicConnection * self, gnutls_session_t session)
{
  const gnutls_datum_t *certs;
  unsigned int n_certs = 0;
  guint8 digest[DIGEST_LEN];
  gchar *got, *expected;
  GError *error;

  certs = gnutls_certificate_get_peers (session, &n_certs);
  if (certs == NULL || n_certs == 0)
    return g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_HANDSHAKE,
        "the peer sent no certificate");
  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, certs[0].data, certs[0].size,
          digest) < 0)
    return g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_HANDSHAKE,
        "cannot hash the peer's certificate");
  if (memcmp (digest, self->remote_digest, DIGEST_LEN) == 0)
    return NULL;
  got = fingerprint_to_string (digest);
  expected = fingerprint_to_string (self->remote_digest);
  error = g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_FINGERPRINT_MISMATCH,
      "the peer's certificate fingerprint is %s, expected %s", got, expected);
  g_free (got);
  g_free (expected);
  return error;
}

/* GnuTLS calls this once the peer's certificate (and, on the client, the
 * server's choice of ALPN) arrived. Non-zero fails the handshake. */
static int
verify_peer (gnutls_session_t session)
{
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr (session);
  MeshQuicConnection *self = ref->user_data;
  GError *error = check_alpn (self, session);

  if (error == NULL)
    error = check_fingerprint (self, session);
  if (error == NULL) {
    GST_DEBUG_OBJECT (self, "peer certificate and ALPN checked");
    return 0;
  }
  GST_WARNING_OBJECT (self, "refusing the peer: %s", error->message);
  g_clear_error (&self->tls_failure);
  self->tls_failure = error;
  return GNUTLS_E_CERTIFICATE_ERROR;
}

static ngtcp2_conn *
get_conn (ngtcp2_crypto_conn_ref * ref)
{
  MeshQuicConnection *self = ref->user_data;

  return self->conn;
}

static gboolean
setup_tls (MeshQuicConnection * self, GError ** error)
{
  gboolean server = self->role == MESH_QUIC_ROLE_SERVER;
  gnutls_datum_t alpn = { (guchar *) self->alpn, strlen (self->alpn) };
  int rv;

  /* No tickets: every connection uses fresh per-session credentials. */
  if (!check_gnutls (gnutls_init (&self->session,
              server ? GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET :
              GNUTLS_CLIENT), "TLS session", error))
    return FALSE;
  rv = server ? ngtcp2_crypto_gnutls_configure_server_session (self->session)
      : ngtcp2_crypto_gnutls_configure_client_session (self->session);
  if (rv != 0) {
    g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_CONFIG,
        "cannot set up QUIC on the TLS session");
    return FALSE;
  }
  if (!check_gnutls (gnutls_priority_set_direct (self->session, TLS_PRIORITY,
              NULL), "TLS priority", error)
      || !check_gnutls (gnutls_credentials_set (self->session,
              GNUTLS_CRD_CERTIFICATE, self->creds->cred), "TLS credentials",
          error)
      || !check_gnutls (gnutls_alpn_set_protocols (self->session, &alpn, 1,
              GNUTLS_ALPN_MANDATORY), "ALPN", error))
    return FALSE;
  if (server)
    gnutls_certificate_server_set_request (self->session, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_verify_function (self->session, verify_peer);
  self->conn_ref.get_conn = get_conn;
  self->conn_ref.user_data = self;
  gnutls_session_set_ptr (self->session, &self->conn_ref);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* ngtcp2 connection */

/* The path is the caller's business (ICE picks it): ngtcp2 gets two fixed
 * documentation addresses so that it never sees a change of path. */
static void
init_path (MeshQuicConnection * self)
{
  gboolean server = self->role == MESH_QUIC_ROLE_SERVER;

  self->local_addr.sin_family = AF_INET;
  self->local_addr.sin_addr.s_addr = htonl (server ? 0xc0000202 : 0xc0000201);
  self->local_addr.sin_port = htons (server ? 2 : 1);
  self->remote_addr.sin_family = AF_INET;
  self->remote_addr.sin_addr.s_addr = htonl (server ? 0xc0000201 : 0xc0000202);
  self->remote_addr.sin_port = htons (server ? 1 : 2);
  self->path.local.addr = (ngtcp2_sockaddr *) & self->local_addr;
  self->path.local.addrlen = sizeof self->local_addr;
  self->path.remote.addr = (ngtcp2_sockaddr *) & self->remote_addr;
  self->path.remote.addrlen = sizeof self->remote_addr;
}

static void
fill_settings (MeshQuicConnection * self, ngtcp2_settings * settings)
{
  ngtcp2_settings_default (settings);
  settings->cc_algo = cc_to_ngtcp2 (self->cc);
  settings->initial_ts = now_ns ();
  settings->max_tx_udp_payload_size = self->max_udp_payload;
  settings->handshake_timeout =
      (ngtcp2_duration) self->handshake_timeout_ms * NGTCP2_MILLISECONDS;
  if (gst_debug_category_get_threshold (GST_CAT_DEFAULT) >= GST_LEVEL_TRACE)
    settings->log_printf = on_ngtcp2_log;
}

/* The receive windows are set at their full size from the start: sized for
 * the bandwidth-delay product, and the bound on what a peer may send. */
static void
fill_transport_params (MeshQuicConnection * self,
    ngtcp2_transport_params * params)
{
  ngtcp2_transport_params_default (params);
  params->initial_max_stream_data_bidi_local = self->stream_window;
  params->initial_max_stream_data_bidi_remote = self->stream_window;
  params->initial_max_stream_data_uni = 0;
  params->initial_max_data = self->connection_window;
  params->initial_max_streams_bidi = self->max_streams;
  params->initial_max_streams_uni = 0;
  params->max_idle_timeout =
      (ngtcp2_duration) self->idle_timeout_ms * NGTCP2_MILLISECONDS;
}

static void
random_cid (ngtcp2_cid * cid)
{
  cid->datalen = CID_LEN;
  gnutls_rnd (GNUTLS_RND_NONCE, cid->data, CID_LEN);
}

static void
apply_conn_options (MeshQuicConnection * self)
{
  if (self->keep_alive_ms != G_MAXUINT)
    ngtcp2_conn_set_keep_alive_timeout (self->conn,
        (ngtcp2_duration) self->keep_alive_ms * NGTCP2_MILLISECONDS);
  ngtcp2_conn_set_tls_native_handle (self->conn, self->session);
}

static gboolean
create_client (MeshQuicConnection * self, GError ** error)
{
  ngtcp2_callbacks callbacks;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid dcid, scid;
  int rv;

  if (!setup_tls (self, error))
    return FALSE;
  random_cid (&dcid);
  random_cid (&scid);
  fill_callbacks (self->role, &callbacks);
  fill_settings (self, &settings);
  fill_transport_params (self, &params);
  rv = ngtcp2_conn_client_new (&self->conn, &dcid, &scid, &self->path,
      NGTCP2_PROTO_VER_V1, &callbacks, &settings, &params, NULL, self);
  if (rv != 0) {
    g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_CONFIG,
        "ngtcp2_conn_client_new: %s", ngtcp2_strerror (rv));
    return FALSE;
  }
  apply_conn_options (self);
  return TRUE;
}

/* The server learns the connection IDs from the client's first Initial. */
static gboolean
create_server (MeshQuicConnection * self, const ngtcp2_pkt_hd * hd)
{
  ngtcp2_callbacks callbacks;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  GError *error = NULL;
  int rv;

  if (!setup_tls (self, &error)) {
    GST_ERROR_OBJECT (self, "%s", error->message);
    g_error_free (error);
    free_ngtcp2 (self);
    return FALSE;
  }
  random_cid (&scid);
  fill_callbacks (self->role, &callbacks);
  fill_settings (self, &settings);
  fill_transport_params (self, &params);
  params.original_dcid = hd->dcid;
  params.disable_active_migration = 1;
  rv = ngtcp2_conn_server_new (&self->conn, &hd->scid, &scid, &self->path,
      hd->version, &callbacks, &settings, &params, NULL, self);
  if (rv != 0) {
    GST_ERROR_OBJECT (self, "ngtcp2_conn_server_new: %s", ngtcp2_strerror (rv));
    free_ngtcp2 (self);
    return FALSE;
  }
  apply_conn_options (self);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Sending */

/* FALSE when the path refused it: kept for a retry, nothing more goes out
 * before it. */
static gboolean
send_datagram (MeshQuicConnection * self, const guint8 * data, gsize len)
{
  if (!self->send_func (data, len, self->send_data)) {
    self->blocked_datagram = g_bytes_new (data, len);
    return FALSE;
  }
  self->stats.bytes_sent += len;
  return TRUE;
}

static gboolean
retry_blocked_datagram (MeshQuicConnection * self)
{
  GBytes *bytes = g_steal_pointer (&self->blocked_datagram);
  gsize len;
  const guint8 *data;
  gboolean sent;

  if (bytes == NULL)
    return TRUE;
  data = g_bytes_get_data (bytes, &len);
  sent = send_datagram (self, data, len);
  g_bytes_unref (bytes);
  return sent;
}

static Stream *
next_stream_to_send (MeshQuicConnection * self)
{
  GList *l;

  for (l = self->send_queue.head; l; l = l->next) {
    Stream *s = l->data;

    if (s->skip_flush != self->flush_count)
      return s;
  }
  return NULL;
}

static void
stream_advance (MeshQuicConnection * self, Stream * s, ngtcp2_ssize n,
    gboolean fin)
{
  if (n > 0)
    s->sent_offset += n;
  if (fin && s->sent_offset == s->queued_offset)
    s->fin_sent = TRUE;
  if (n <= 0 && !fin)
    s->skip_flush = self->flush_count;  /* no progress: not again now */
  send_queue_rotate (self, s);
}

/* The peer sent STOP_SENDING (ngtcp2 reset our side) or the stream is
 * gone: what is queued will never go, and writes fail from now on. The
 * peer's code only comes with the stream's close (ngtcp2 0.12 has no
 * callback for STOP_SENDING), so "stream-reset" waits for it. */
static void
stream_write_refused (MeshQuicConnection * self, Stream * s)
{
  GST_DEBUG_OBJECT (self, "stream %" G_GINT64_FORMAT " no longer writable",
      s->id);
  s->write_refused = TRUE;
  s->want_writable = FALSE;
  s->sent_offset = s->queued_offset;
  s->fin_sent = TRUE;
  send_queue_remove (self, s);
}

/* Writes one datagram into tx_buf, coalescing the frames of several streams
 * when they are small. Returns its size, 0 when ngtcp2 has nothing to send
 * now (congestion window, pacing, flow control), or a fatal error. */
static ngtcp2_ssize
write_datagram (MeshQuicConnection * self, ngtcp2_tstamp ts)
{
  ngtcp2_path_storage ps;
  ngtcp2_pkt_info pi;

  ngtcp2_path_storage_zero (&ps);
  for (;;) {
    Stream *s = next_stream_to_send (self);
    ngtcp2_vec vec[4];
    gsize n_vec = 0;
    guint32 flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    ngtcp2_ssize datalen = -1, n;

    if (s && stream_unsent_vecs (s, vec, G_N_ELEMENTS (vec), &n_vec)
        && s->fin_requested)
      flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    n = ngtcp2_conn_writev_stream (self->conn, &ps.path, &pi, self->tx_buf,
        self->max_udp_payload, &datalen, flags, s ? s->id : -1, vec, n_vec, ts);
    switch (n) {
      case NGTCP2_ERR_WRITE_MORE:
        if (s == NULL)
          return 0;             /* not with stream -1; never loop on it */
        stream_advance (self, s, datalen, flags & NGTCP2_WRITE_STREAM_FLAG_FIN);
        continue;
      case NGTCP2_ERR_STREAM_DATA_BLOCKED:
        s->skip_flush = self->flush_count;
        continue;
      case NGTCP2_ERR_STREAM_SHUT_WR:
      case NGTCP2_ERR_STREAM_NOT_FOUND:
        stream_write_refused (self, s);
        continue;
      default:
        break;
    }
    if (n > 0 && s && datalen >= 0)
      stream_advance (self, s, datalen, flags & NGTCP2_WRITE_STREAM_FLAG_FIN);
    return n;
  }
}

/* Sends what ngtcp2 lets us send now: at most one send quantum, after
 * which pacing decides when the next one may go. */
static void
flush (MeshQuicConnection * self)
{
  ngtcp2_tstamp ts = now_ns ();
  size_t quantum;
  gsize sent = 0;
  ngtcp2_ssize n = 0;

  if (self->conn == NULL || !retry_blocked_datagram (self))
    return;
  self->flush_count++;
  self->in_flush = TRUE;
  quantum = MAX (ngtcp2_conn_get_send_quantum (self->conn),
      self->max_udp_payload);
  while (sent < quantum) {
    n = write_datagram (self, ts);
    if (n <= 0)
      break;
    sent += n;
    if (!send_datagram (self, self->tx_buf, n))
      break;
  }
  self->in_flush = FALSE;
  if (n < 0) {
    close_with_liberr (self, (int) n);
    return;
  }
  ngtcp2_conn_update_pkt_tx_time (self->conn, ts);
}

static void
free_dead_streams (MeshQuicConnection * self)
{
  g_queue_clear_full (&self->dead_streams, (GDestroyNotify) stream_free);
}

/* ------------------------------------------------------------------------ */
/* Timer */

/* The timer source. GLib polls with millisecond timeouts, rounded up, which
 * would stretch pacing intervals of about a millisecond (BBR's send quantum
 * at tens of Mbit/s) to one or two. On Linux a timerfd on CLOCK_MONOTONIC
 * (GLib's clock) wakes us to the microsecond; "at once" stays a ready time.
 */
typedef struct
{
  GSource source;
  int fd;
  gpointer fd_tag;
  gint64 armed_us;              /* the timerfd's deadline, -1 = disarmed */
} TimerSource;

static gboolean
timer_source_dispatch (GSource * source, GSourceFunc callback,
    gpointer user_data)
{
  TimerSource *t = (TimerSource *) source;
  guint64 expirations;

  if (t->fd >= 0 && (g_source_query_unix_fd (source, t->fd_tag) & G_IO_IN)
      && read (t->fd, &expirations, sizeof expirations) > 0)
    t->armed_us = -1;
  return callback (user_data);
}

static void
timer_source_finalize (GSource * source)
{
  TimerSource *t = (TimerSource *) source;

  if (t->fd >= 0)
    close (t->fd);
}

static GSourceFuncs timer_source_funcs = {
  NULL, NULL, timer_source_dispatch, timer_source_finalize, NULL, NULL
};

static GSource *
timer_source_new (void)
{
  GSource *source = g_source_new (&timer_source_funcs, sizeof (TimerSource));
  TimerSource *t = (TimerSource *) source;

  t->fd = -1;
  t->armed_us = -1;
#ifdef HAVE_TIMERFD
  t->fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (t->fd >= 0)
    t->fd_tag = g_source_add_unix_fd (source, t->fd, G_IO_IN);
#endif
  return source;
}

#ifdef HAVE_TIMERFD
static void
timer_source_arm_fd (TimerSource * t, gint64 ready_us)
{
  struct itimerspec its = { {0, 0}, {0, 0} };

  if (ready_us == t->armed_us)
    return;
  if (ready_us > 0) {
    its.it_value.tv_sec = ready_us / G_USEC_PER_SEC;
    its.it_value.tv_nsec = (ready_us % G_USEC_PER_SEC) * 1000;
  }
  timerfd_settime (t->fd, TFD_TIMER_ABSTIME, &its, NULL);
  t->armed_us = ready_us > 0 ? ready_us : -1;
}
#endif

/* @ready_us: monotonic time in microseconds; 0 = at once, -1 = never. */
static void
timer_source_set (GSource * source, gint64 ready_us)
{
#ifdef HAVE_TIMERFD
  TimerSource *t = (TimerSource *) source;

  if (t->fd >= 0) {
    timer_source_arm_fd (t, ready_us);
    g_source_set_ready_time (source, ready_us == 0 ? 0 : -1);
    return;
  }
#endif
  g_source_set_ready_time (source, ready_us);
}

static void
rearm_timer (MeshQuicConnection * self)
{
  gint64 ready = -1;

  if (self->timer == NULL)
    return;
  if (self->flush_pending || !g_queue_is_empty (&self->events)) {
    ready = 0;
  } else if (self->state == MESH_QUIC_STATE_CLOSED) {
    if (self->close_datagram)
      ready = self->closing_deadline_us;
  } else if (self->conn == NULL) {
    ready = self->server_deadline_us;
  } else {
    ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry (self->conn);

    if (expiry != UINT64_MAX)
      ready = (gint64) ((expiry + NGTCP2_MICROSECONDS - 1) /
          NGTCP2_MICROSECONDS);
    if (self->blocked_datagram) {
      gint64 retry = g_get_monotonic_time () + SEND_RETRY_US;

      ready = ready < 0 ? retry : MIN (ready, retry);
    }
  }
  timer_source_set (self->timer, ready);
}

static void
request_flush (MeshQuicConnection * self)
{
  self->flush_pending = TRUE;
  rearm_timer (self);
}

static void
handle_expiry (MeshQuicConnection * self)
{
  int rv = ngtcp2_conn_handle_expiry (self->conn, now_ns ());

  switch (rv) {
    case 0:
      break;
    case NGTCP2_ERR_IDLE_CLOSE:
      finish (self, g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_IDLE_TIMEOUT,
              "nothing received for %u ms", self->idle_timeout_ms));
      break;
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      finish (self, g_error_new (MESH_QUIC_ERROR,
              MESH_QUIC_ERROR_HANDSHAKE_TIMEOUT,
              "no handshake within %u ms", self->handshake_timeout_ms));
      break;
    default:
      close_with_liberr (self, rv);
      break;
  }
}

static void
on_closing_period_timer (MeshQuicConnection * self)
{
  if (self->close_datagram
      && g_get_monotonic_time () >= self->closing_deadline_us) {
    GST_DEBUG_OBJECT (self, "closing period over");
    g_clear_pointer (&self->close_datagram, g_bytes_unref);
  }
}

static void
on_server_wait_timer (MeshQuicConnection * self)
{
  if (g_get_monotonic_time () >= self->server_deadline_us)
    finish (self, g_error_new (MESH_QUIC_ERROR,
            MESH_QUIC_ERROR_HANDSHAKE_TIMEOUT,
            "no client within %u ms", self->handshake_timeout_ms));
}

static gboolean
on_timer (gpointer user_data)
{
  MeshQuicConnection *self = g_object_ref (user_data);

  self->flush_pending = FALSE;
  if (self->state == MESH_QUIC_STATE_CLOSED) {
    on_closing_period_timer (self);
  } else if (self->conn == NULL) {
    on_server_wait_timer (self);
  } else {
    handle_expiry (self);
    flush (self);
  }
  free_dead_streams (self);
  dispatch_events (self);
  rearm_timer (self);
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Receiving */

/* Server, first datagram: only a client Initial creates the connection. */
static gboolean
accept_client (MeshQuicConnection * self, const guint8 * data, gsize len)
{
  ngtcp2_pkt_hd hd;

  if (ngtcp2_accept (&hd, data, len) != 0)
    return FALSE;
  GST_DEBUG_OBJECT (self, "client Initial, creating the connection");
  return create_server (self, &hd);
}

/* A server that got a bogus first Initial forgets it and waits for the
 * real one (ngtcp2 asks for that with DROP_CONN). */
static gboolean
server_forgets_bogus_initial (MeshQuicConnection * self, int rv)
{
  if (self->role != MESH_QUIC_ROLE_SERVER
      || self->state != MESH_QUIC_STATE_HANDSHAKING
      || (rv != NGTCP2_ERR_DROP_CONN && rv != NGTCP2_ERR_RETRY))
    return FALSE;
  GST_DEBUG_OBJECT (self, "dropping a bogus first Initial");
  free_ngtcp2 (self);
  free_streams (self);
  return TRUE;
}

static void
handle_read_error (MeshQuicConnection * self, int rv)
{
  ngtcp2_connection_close_error ccerr;

  if (server_forgets_bogus_initial (self, rv))
    return;
  switch (rv) {
    case NGTCP2_ERR_DRAINING:
      ngtcp2_conn_get_connection_close_error (self->conn, &ccerr);
      finish (self, error_from_peer_close (&ccerr));
      break;
    case NGTCP2_ERR_CRYPTO:
      close_after_tls_failure (self);
      break;
    case NGTCP2_ERR_DROP_CONN:
      finish (self, g_error_new (MESH_QUIC_ERROR, MESH_QUIC_ERROR_PROTOCOL,
              "connection dropped: %s", ngtcp2_strerror (rv)));
      break;
    default:
      close_with_liberr (self, rv);
      break;
  }
}

static void
answer_in_closing_period (MeshQuicConnection * self)
{
  const guint8 *data;
  gsize len;

  if (self->close_datagram == NULL
      || self->close_retransmits >= MAX_CLOSE_RETRANSMITS)
    return;
  self->close_retransmits++;
  data = g_bytes_get_data (self->close_datagram, &len);
  self->send_func (data, len, self->send_data);
}

void
mesh_quic_connection_receive_datagram (MeshQuicConnection * self,
    const guint8 * data, gsize len)
{
  int rv;

  g_return_if_fail (MESH_IS_QUIC_CONNECTION (self));
  g_return_if_fail (data != NULL || len == 0);
  /* ngtcp2 is in the middle of a write: the send function called back. */
  g_return_if_fail (!self->in_flush);

  if (self->state == MESH_QUIC_STATE_CLOSED) {
    answer_in_closing_period (self);
    return;
  }
  /* ngtcp2 0.12 takes an empty datagram for a bad call (INVALID_ARGUMENT),
   * which would end the connection. */
  if (len == 0 || (self->conn == NULL && !accept_client (self, data, len))) {
    self->stats.datagrams_dropped++;
    return;
  }
  g_object_ref (self);
  self->stats.bytes_received += len;
  rv = ngtcp2_conn_read_pkt (self->conn, &self->path, NULL, data, len,
      now_ns ());
  if (rv != 0) {
    GST_DEBUG_OBJECT (self, "read: %s", ngtcp2_strerror (rv));
    handle_read_error (self, rv);
  }
  free_dead_streams (self);
  /* Answer (ACKs, more data) once per main loop iteration, after all the
   * datagrams that arrived in it. */
  request_flush (self);
  dispatch_events (self);
  g_object_unref (self);
}

/* ------------------------------------------------------------------------ */
/* Public API */

static gboolean
apply_config (MeshQuicConnection * self, const MeshQuicConfig * config,
    GError ** error)
{
  if (config->credentials == NULL
      || !mesh_quic_fingerprint_parse (config->remote_fingerprint,
          self->remote_digest)) {
    g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_CONFIG,
        "credentials and the remote fingerprint (\"sha-256 AB:…\") are needed");
    return FALSE;
  }
  if (config->alpn && (config->alpn[0] == '\0' || strlen (config->alpn) > 255)) {
    g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_CONFIG,
        "ALPN must be 1 to 255 bytes");
    return FALSE;
  }
  if (config->max_udp_payload && (config->max_udp_payload < MIN_UDP_PAYLOAD
          || config->max_udp_payload > MAX_UDP_PAYLOAD)) {
    g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_CONFIG,
        "max_udp_payload must be within %u..%u", MIN_UDP_PAYLOAD,
        MAX_UDP_PAYLOAD);
    return FALSE;
  }
  if (mesh_quic_cc_to_string (config->cc) == NULL) {
    g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_CONFIG,
        "unknown congestion control %d", config->cc);
    return FALSE;
  }
  self->role = config->role;
  self->creds = mesh_quic_credentials_ref (config->credentials);
  self->alpn = g_strdup (config->alpn ? config->alpn : MESH_QUIC_DEFAULT_ALPN);
  self->cc = config->cc;
  self->stream_window = config->stream_window ? config->stream_window :
      DEFAULT_STREAM_WINDOW;
  self->connection_window = config->connection_window ?
      config->connection_window : DEFAULT_CONNECTION_WINDOW;
  self->stream_send_buffer = config->stream_send_buffer ?
      config->stream_send_buffer : DEFAULT_STREAM_SEND_BUFFER;
  self->max_streams = config->max_streams ?
      MIN (config->max_streams, MAX_MAX_STREAMS) : DEFAULT_MAX_STREAMS;
  self->handshake_timeout_ms = config->handshake_timeout_ms ?
      config->handshake_timeout_ms : DEFAULT_HANDSHAKE_TIMEOUT_MS;
  self->idle_timeout_ms = config->idle_timeout_ms ? config->idle_timeout_ms :
      DEFAULT_IDLE_TIMEOUT_MS;
  self->keep_alive_ms = config->keep_alive_ms ? config->keep_alive_ms :
      MAX (self->idle_timeout_ms / 3, 1);
  self->max_udp_payload = config->max_udp_payload ? config->max_udp_payload :
      DEFAULT_MAX_UDP_PAYLOAD;
  return TRUE;
}

MeshQuicConnection *
mesh_quic_connection_new (GMainContext * context,
    const MeshQuicConfig * config, MeshQuicSendFunc send_func,
    gpointer user_data, GDestroyNotify notify, GError ** error)
{
  MeshQuicConnection *self;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (send_func != NULL, NULL);

  self = g_object_new (MESH_TYPE_QUIC_CONNECTION, NULL);
  self->context = context ? g_main_context_ref (context) :
      g_main_context_ref_thread_default ();
  self->send_func = send_func;
  self->send_data = user_data;
  self->send_notify = notify;
  if (!apply_config (self, config, error)) {
    g_object_unref (self);
    return NULL;
  }
  self->tx_buf = g_malloc (self->max_udp_payload);
  init_path (self);
  if (self->role == MESH_QUIC_ROLE_CLIENT && !create_client (self, error)) {
    g_object_unref (self);
    return NULL;
  }
  self->server_deadline_us = g_get_monotonic_time () +
      (gint64) self->handshake_timeout_ms * G_TIME_SPAN_MILLISECOND;
  self->timer = timer_source_new ();
  g_source_set_callback (self->timer, on_timer, self, NULL);
  g_source_set_name (self->timer, "MeshQuicConnection timer");
  g_source_attach (self->timer, self->context);
  GST_DEBUG_OBJECT (self, "new %s, cc %s, expecting peer %s",
      self->role == MESH_QUIC_ROLE_CLIENT ? "client" : "server",
      mesh_quic_cc_to_string (self->cc), config->remote_fingerprint);
  /* The client's first flight leaves from the owner context. */
  request_flush (self);
  return self;
}

MeshQuicState
mesh_quic_connection_get_state (MeshQuicConnection * self)
{
  g_return_val_if_fail (MESH_IS_QUIC_CONNECTION (self), MESH_QUIC_STATE_CLOSED);
  return self->state;
}

static gboolean
check_connected (MeshQuicConnection * self, GError ** error)
{
  if (self->state == MESH_QUIC_STATE_CONNECTED)
    return TRUE;
  g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_NOT_CONNECTED,
      self->state == MESH_QUIC_STATE_CLOSED ? "the connection is closed" :
      "the handshake is not done yet");
  return FALSE;
}

gint64
mesh_quic_connection_open_stream (MeshQuicConnection * self, GError ** error)
{
  int64_t id;
  int rv;

  g_return_val_if_fail (MESH_IS_QUIC_CONNECTION (self), -1);

  if (!check_connected (self, error))
    return -1;
  rv = ngtcp2_conn_open_bidi_stream (self->conn, &id, NULL);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) {
    self->want_streams = TRUE;
    g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_STREAM_LIMIT,
        "the peer allows no more streams for now");
    return -1;
  }
  if (rv != 0) {
    g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_STREAM,
        "cannot open a stream: %s", ngtcp2_strerror (rv));
    return -1;
  }
  add_stream (self, id);
  GST_DEBUG_OBJECT (self, "opened stream %" G_GINT64_FORMAT, (gint64) id);
  return id;
}

static Stream *
writable_stream (MeshQuicConnection * self, gint64 stream_id, GError ** error)
{
  Stream *s;

  if (!check_connected (self, error))
    return NULL;
  s = lookup_stream (self, stream_id);
  if (s == NULL || s->fin_requested || s->local_reset || s->peer_cancelled
      || s->write_refused) {
    g_set_error (error, MESH_QUIC_ERROR, MESH_QUIC_ERROR_STREAM,
        "stream %" G_GINT64_FORMAT " is %s", stream_id,
        s == NULL ? "unknown" : s->fin_requested ? "finished" : "reset");
    return NULL;
  }
  return s;
}

gssize
mesh_quic_connection_stream_write (MeshQuicConnection * self,
    gint64 stream_id, const guint8 * data, gsize len, GError ** error)
{
  Stream *s;
  gsize n;

  g_return_val_if_fail (MESH_IS_QUIC_CONNECTION (self), -1);
  g_return_val_if_fail (data != NULL || len == 0, -1);

  s = writable_stream (self, stream_id, error);
  if (s == NULL)
    return -1;
  n = MIN (len, stream_write_space (self, s));
  if (n < len)
    s->want_writable = TRUE;
  if (n == 0)
    return 0;
  stream_append (s, data, n);
  send_queue_add (self, s);
  request_flush (self);
  return n;
}

gboolean
mesh_quic_connection_stream_finish (MeshQuicConnection * self,
    gint64 stream_id, GError ** error)
{
  Stream *s;

  g_return_val_if_fail (MESH_IS_QUIC_CONNECTION (self), FALSE);

  s = writable_stream (self, stream_id, error);
  if (s == NULL)
    return FALSE;
  s->fin_requested = TRUE;
  send_queue_add (self, s);
  request_flush (self);
  return TRUE;
}

gsize
mesh_quic_connection_stream_get_write_space (MeshQuicConnection * self,
    gint64 stream_id)
{
  Stream *s;

  g_return_val_if_fail (MESH_IS_QUIC_CONNECTION (self), 0);

  s = lookup_stream (self, stream_id);
  if (s == NULL || s->fin_requested || s->local_reset || s->peer_cancelled
      || s->write_refused)
    return 0;
  return stream_write_space (self, s);
}

gboolean
mesh_quic_connection_stream_reset (MeshQuicConnection * self,
    gint64 stream_id, guint64 app_error_code)
{
  Stream *s;

  g_return_val_if_fail (MESH_IS_QUIC_CONNECTION (self), FALSE);

  s = lookup_stream (self, stream_id);
  if (self->state == MESH_QUIC_STATE_CLOSED || s == NULL || s->local_reset)
    return FALSE;
  GST_DEBUG_OBJECT (self, "resetting stream %" G_GINT64_FORMAT, stream_id);
  s->local_reset = TRUE;
  s->want_writable = FALSE;
  send_queue_remove (self, s);
  /* The blocks stay until ngtcp2 closes the stream: lost frames may still
   * point into them. */
  ngtcp2_conn_shutdown_stream (self->conn, stream_id, app_error_code);
  request_flush (self);
  return TRUE;
}

void
mesh_quic_connection_close (MeshQuicConnection * self, guint64 app_error_code,
    const gchar * reason)
{
  ngtcp2_connection_close_error ccerr;
  gchar *phrase;

  g_return_if_fail (MESH_IS_QUIC_CONNECTION (self));

  if (self->state == MESH_QUIC_STATE_CLOSED)
    return;
  phrase = sanitize_reason ((const uint8_t *) reason, reason ? strlen (reason)
      : 0);
  ngtcp2_connection_close_error_set_application_error (&ccerr, app_error_code,
      (const uint8_t *) phrase, strlen (phrase));
  close_with_frame (self, &ccerr, g_error_new (MESH_QUIC_ERROR,
          MESH_QUIC_ERROR_LOCAL, "closed locally (code %" G_GUINT64_FORMAT
          "): %s", app_error_code, phrase));
  g_free (phrase);
}

/* In bytes per second. BBR sets a rate (in bytes per nanosecond); for the
 * others ngtcp2 paces at 1.25 cwnd per smoothed RTT (RFC 9002 §7.7). */
static guint64
pacing_rate (const ngtcp2_conn_stat * cstat)
{
  if (cstat->pacing_rate > 0)
    return (guint64) (cstat->pacing_rate * NGTCP2_SECONDS);
  if (cstat->smoothed_rtt == 0)
    return 0;
  return (guint64) (1.25 * cstat->cwnd * NGTCP2_SECONDS / cstat->smoothed_rtt);
}

void
mesh_quic_connection_get_stats (MeshQuicConnection * self,
    MeshQuicStats * stats)
{
  ngtcp2_conn_stat cstat;

  g_return_if_fail (MESH_IS_QUIC_CONNECTION (self));
  g_return_if_fail (stats != NULL);

  if (self->conn) {
    ngtcp2_conn_get_conn_stat (self->conn, &cstat);
    self->stats.smoothed_rtt_us = cstat.smoothed_rtt / NGTCP2_MICROSECONDS;
    self->stats.min_rtt_us = cstat.min_rtt == UINT64_MAX ? 0 :
        cstat.min_rtt / NGTCP2_MICROSECONDS;
    self->stats.latest_rtt_us = cstat.latest_rtt / NGTCP2_MICROSECONDS;
    self->stats.cwnd = cstat.cwnd;
    self->stats.bytes_in_flight = cstat.bytes_in_flight;
    self->stats.pacing_rate = pacing_rate (&cstat);
    self->stats.delivery_rate = cstat.delivery_rate_sec;
  }
  self->stats.cc = self->cc == MESH_QUIC_CC_DEFAULT ? DEFAULT_CC : self->cc;
  self->stats.send_goodput = self->send_goodput.rate;
  self->stats.receive_goodput = self->receive_goodput.rate;
  *stats = self->stats;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
mesh_quic_connection_init (MeshQuicConnection * self)
{
  self->state = MESH_QUIC_STATE_HANDSHAKING;
  self->streams = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
      (GDestroyNotify) stream_free);
  g_queue_init (&self->events);
  g_queue_init (&self->send_queue);
  g_queue_init (&self->dead_streams);
}

static void
mesh_quic_connection_dispose (GObject * object)
{
  MeshQuicConnection *self = MESH_QUIC_CONNECTION (object);

  if (self->timer) {
    g_source_destroy (self->timer);
    g_clear_pointer (&self->timer, g_source_unref);
  }
  free_ngtcp2 (self);
  free_streams (self);
  g_queue_clear_full (&self->events, (GDestroyNotify) event_free);
  G_OBJECT_CLASS (mesh_quic_connection_parent_class)->dispose (object);
}

static void
mesh_quic_connection_finalize (GObject * object)
{
  MeshQuicConnection *self = MESH_QUIC_CONNECTION (object);

  if (self->send_notify)
    self->send_notify (self->send_data);
  g_clear_pointer (&self->blocked_datagram, g_bytes_unref);
  g_clear_pointer (&self->close_datagram, g_bytes_unref);
  g_clear_error (&self->tls_failure);
  g_hash_table_unref (self->streams);
  g_clear_pointer (&self->creds, mesh_quic_credentials_unref);
  g_free (self->alpn);
  g_free (self->tx_buf);
  if (self->context)
    g_main_context_unref (self->context);
  G_OBJECT_CLASS (mesh_quic_connection_parent_class)->finalize (object);
}

static void
mesh_quic_connection_class_init (MeshQuicConnectionClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  ensure_debug_category ();
  gobject_class->dispose = mesh_quic_connection_dispose;
  gobject_class->finalize = mesh_quic_connection_finalize;

  signals[SIGNAL_CONNECTED] = g_signal_new ("connected",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 0);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_STREAM_OPENED] = g_signal_new ("stream-opened",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_STREAM_DATA] = g_signal_new ("stream-data",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 3, G_TYPE_INT64, G_TYPE_BYTES, G_TYPE_BOOLEAN);
  signals[SIGNAL_STREAM_RESET] = g_signal_new ("stream-reset",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_UINT64);
  signals[SIGNAL_STREAM_CLOSED] = g_signal_new ("stream-closed",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_STREAM_WRITABLE] = g_signal_new ("stream-writable",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_STREAMS_AVAILABLE] = g_signal_new ("streams-available",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 0);
}
