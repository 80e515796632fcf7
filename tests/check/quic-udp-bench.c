/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * quic-udp-bench: MeshQuicConnection over a real UDP socket between two
 * processes, to measure what the QUIC core moves on a given network (the
 * lab in bench/lab/ runs it between namespaces; 127.0.0.1 works too).
 *
 *   quic-udp-bench --listen 127.0.0.1:4433
 *   quic-udp-bench --connect 127.0.0.1:4433 [--cc bbr] [--bytes N] [--repeat K]
 *       [--json]
 *
 * The client asks the server for N bytes on one stream (the way a peer asks
 * for a segment) on K fresh connections, each from a new socket and timed
 * from its first handshake packet to the last byte; then K more times on
 * the last connection ("warm": handshake done, congestion state grown by
 * the transfer before). It prints MB/s (10^6 bytes per second) for each and
 * one "summary" line of key=value pairs; with --json, one line
 * {"fresh_s": [...], "warm_s": [...]} (seconds) as bench/lab/link-bench.py
 * reads it. The server prints "listening" once it listens and serves one
 * connection at a time until SIGINT or SIGTERM.
 *
 * Fingerprints: before QUIC, the client sends its certificate fingerprint
 * and congestion control in a plain "MESHBENCH1" datagram (resent every
 * 200 ms) and the server answers with its own: the part the tracker's
 * signalling plays between real peers. The server then uses the client's
 * congestion control, so --cc on the client picks the sender's algorithm.
 *
 * Threads: one, running the default GMainContext; the socket is a GLib fd
 * source on it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <glib-unix.h>
#include <gst/gst.h>

#include "p2p/mesh-quic.h"

#define HELLO_MAGIC "MESHBENCH1 "
#define HELLO_RESEND_MS 200
#define SOCKET_BUFFER (4 * 1024 * 1024)
#define MAX_DATAGRAM 65536
#define READS_PER_WAKEUP 256
#define WRITE_CHUNK (64 * 1024)

typedef struct
{
  /* options */
  gboolean server;
  gboolean json;
  gchar *address;
  MeshQuicCongestionControl cc;
  guint64 bytes;
  guint repeat;
  guint timeout_s;

  GMainLoop *loop;
  int fd;
  guint fd_source;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  gboolean have_peer;
  MeshQuicCredentials *creds;
  MeshQuicConnection *conn;
  gchar *peer_fingerprint;
  guint hello_timer;
  int exit_code;

  /* server: the answer being written */
  gint64 upload_stream;
  guint64 upload_left;

  /* client: the transfer being measured */
  gint64 stream;
  guint64 received;
  gint64 started_us;
  gint64 connect_started_us;
  gint64 connected_us;
  GArray *fresh_s;              /* gdouble, seconds */
  GArray *warm_s;
  GArray *handshake_ms;
} Bench;

static guint8 payload[WRITE_CHUNK];

/* ------------------------------------------------------------------------ */
/* Socket */

static gboolean
parse_address (const gchar * text, struct sockaddr_storage *addr,
    socklen_t * len, gboolean passive)
{
  const gchar *colon = strrchr (text, ':');
  gchar *host;
  struct addrinfo hints = { 0 }, *res = NULL;
  int rv;

  if (colon == NULL)
    return FALSE;
  host = g_strndup (text, colon - text);
  if (host[0] == '[' && host[strlen (host) - 1] == ']') {
    memmove (host, host + 1, strlen (host));
    host[strlen (host) - 1] = '\0';
  }
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  rv = getaddrinfo (host[0] ? host : NULL, colon + 1, &hints, &res);
  g_free (host);
  if (rv != 0 || res == NULL)
    return FALSE;
  memcpy (addr, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo (res);
  return TRUE;
}

/* SO_*BUFFORCE passes net.core.[rw]mem_max when we may (CAP_NET_ADMIN). */
static void
set_buffer (int fd, int force_opt, int opt, const gchar * name)
{
  int size = SOCKET_BUFFER, got = 0;
  socklen_t len = sizeof got;

  if (setsockopt (fd, SOL_SOCKET, force_opt, &size, sizeof size) != 0)
    setsockopt (fd, SOL_SOCKET, opt, &size, sizeof size);
  getsockopt (fd, SOL_SOCKET, opt, &got, &len);
  /* Linux reports twice what it was asked for (bookkeeping). */
  if (got / 2 < SOCKET_BUFFER)
    g_printerr ("note: %s is %d bytes, below %d (raise net.core.%s)\n", name,
        got / 2, SOCKET_BUFFER, opt == SO_RCVBUF ? "rmem_max" : "wmem_max");
}

static gboolean on_readable (gint fd, GIOCondition condition,
    gpointer user_data);

/* The server's socket, or a new one for each client connection (a new
 * source port, so that the server sees a new client). */
static gboolean
open_socket (Bench * b)
{
  struct sockaddr_storage addr;
  socklen_t len;
  int fd;

  if (!parse_address (b->address, &addr, &len, b->server)) {
    g_printerr ("cannot resolve %s\n", b->address);
    return FALSE;
  }
  fd = socket (addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    g_printerr ("socket: %s\n", g_strerror (errno));
    return FALSE;
  }
  set_buffer (fd, SO_RCVBUFFORCE, SO_RCVBUF, "SO_RCVBUF");
  set_buffer (fd, SO_SNDBUFFORCE, SO_SNDBUF, "SO_SNDBUF");
  if (b->server && bind (fd, (struct sockaddr *) &addr, len) != 0) {
    g_printerr ("bind %s: %s\n", b->address, g_strerror (errno));
    close (fd);
    return FALSE;
  }
  if (!b->server) {
    memcpy (&b->peer, &addr, len);
    b->peer_len = len;
    b->have_peer = TRUE;
  }
  b->fd = fd;
  b->fd_source = g_unix_fd_add (fd, G_IO_IN, on_readable, b);
  return TRUE;
}

static void
close_socket (Bench * b)
{
  if (b->fd_source)
    g_source_remove (b->fd_source);
  b->fd_source = 0;
  if (b->fd >= 0)
    close (b->fd);
  b->fd = -1;
}

static gboolean
send_to_peer (const guint8 * data, gsize len, gpointer user_data)
{
  Bench *b = user_data;
  ssize_t n;

  do {
    n = sendto (b->fd, data, len, 0, (struct sockaddr *) &b->peer, b->peer_len);
  } while (n < 0 && errno == EINTR);
  /* A full socket buffer: the connection retries shortly. Anything else
   * is a loss that QUIC recovers from. */
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
    return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Hello: fingerprints and congestion control, in the clear */

static void
send_hello (Bench * b)
{
  gchar *text = g_strdup_printf (HELLO_MAGIC "%s|%s",
      mesh_quic_credentials_get_fingerprint (b->creds),
      mesh_quic_cc_to_string (b->cc));

  send_to_peer ((const guint8 *) text, strlen (text), b);
  g_free (text);
}

static gboolean
resend_hello (gpointer user_data)
{
  send_hello (user_data);
  return G_SOURCE_CONTINUE;
}

/* "<fingerprint>|<cc>" */
static gboolean
parse_hello (const guint8 * data, gsize len, gchar ** fingerprint,
    MeshQuicCongestionControl * cc)
{
  gchar *text = g_strndup ((const gchar *) data + strlen (HELLO_MAGIC),
      len - strlen (HELLO_MAGIC));
  gchar **parts = g_strsplit (text, "|", 2);
  guint8 digest[32];
  gboolean ok = g_strv_length (parts) == 2
      && mesh_quic_fingerprint_parse (parts[0], digest)
      && mesh_quic_cc_from_string (parts[1], cc);

  if (ok)
    *fingerprint = g_strdup (parts[0]);
  g_strfreev (parts);
  g_free (text);
  return ok;
}

static gboolean
is_hello (const guint8 * data, gsize len)
{
  return len > strlen (HELLO_MAGIC)
      && memcmp (data, HELLO_MAGIC, strlen (HELLO_MAGIC)) == 0;
}

/* ------------------------------------------------------------------------ */
/* Measurements (client) */

static void start_client_connection (Bench * b);

static gdouble
mbps (guint64 bytes, gdouble seconds)
{
  return seconds > 0 ? bytes / seconds / 1e6 : 0;
}

static void
start_transfer (Bench * b)
{
  guint64 be = GUINT64_TO_BE (b->bytes);
  GError *error = NULL;

  b->stream = mesh_quic_connection_open_stream (b->conn, &error);
  if (b->stream < 0) {
    g_printerr ("open stream: %s\n", error->message);
    g_clear_error (&error);
    b->exit_code = 1;
    g_main_loop_quit (b->loop);
    return;
  }
  b->received = 0;
  b->started_us = g_get_monotonic_time ();
  mesh_quic_connection_stream_write (b->conn, b->stream, (guint8 *) & be, 8,
      NULL);
  mesh_quic_connection_stream_finish (b->conn, b->stream, NULL);
}

static gint
compare_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y;
}

static gdouble
median (GArray * values)
{
  GArray *sorted = g_array_copy (values);
  gdouble m = 0;

  g_array_sort (sorted, compare_double);
  if (sorted->len)
    m = g_array_index (sorted, gdouble, sorted->len / 2);
  g_array_unref (sorted);
  return m;
}

/* MB/s of each transfer time in @seconds. */
static GArray *
rates_of (Bench * b, GArray * seconds)
{
  GArray *r = g_array_new (FALSE, FALSE, sizeof (gdouble));
  guint i;

  for (i = 0; i < seconds->len; i++) {
    gdouble rate = mbps (b->bytes, g_array_index (seconds, gdouble, i));

    g_array_append_val (r, rate);
  }
  return r;
}

static void
print_json (Bench * b)
{
  GString *s = g_string_new ("{\"fresh_s\": [");
  guint i;

  for (i = 0; i < b->fresh_s->len; i++)
    g_string_append_printf (s, "%s%.6f", i ? ", " : "",
        g_array_index (b->fresh_s, gdouble, i));
  g_string_append (s, "], \"warm_s\": [");
  for (i = 0; i < b->warm_s->len; i++)
    g_string_append_printf (s, "%s%.6f", i ? ", " : "",
        g_array_index (b->warm_s, gdouble, i));
  g_string_append (s, "]}");
  g_print ("%s\n", s->str);
  g_string_free (s, TRUE);
}

static void
print_summary (Bench * b)
{
  MeshQuicStats stats;
  GArray *fresh = rates_of (b, b->fresh_s), *warm = rates_of (b, b->warm_s);

  mesh_quic_connection_get_stats (b->conn, &stats);
  g_print ("summary cc=%s bytes=%" G_GUINT64_FORMAT " repeat=%u "
      "fresh_MBps_median=%.2f warm_MBps_median=%.2f handshake_ms_median=%.1f "
      "srtt_ms=%.2f min_rtt_ms=%.2f cwnd=%" G_GUINT64_FORMAT "\n",
      mesh_quic_cc_to_string (b->cc), b->bytes, b->repeat, median (fresh),
      median (warm), median (b->handshake_ms), stats.smoothed_rtt_us / 1000.0,
      stats.min_rtt_us / 1000.0, stats.cwnd);
  if (b->json)
    print_json (b);
  g_array_unref (fresh);
  g_array_unref (warm);
}

/* Closes it without hearing about it: "closed" would read as a failure. */
static void
retire_connection (Bench * b)
{
  if (b->conn == NULL)
    return;
  g_signal_handlers_disconnect_by_data (b->conn, b);
  mesh_quic_connection_close (b->conn, 0, "done");
  g_clear_object (&b->conn);
  g_clear_pointer (&b->peer_fingerprint, g_free);
}

static void
record (Bench * b, GArray * to, const gchar * what, gdouble seconds)
{
  g_array_append_val (to, seconds);
  g_print ("%s %u: %" G_GUINT64_FORMAT " bytes in %.3f s = %.2f MB/s\n", what,
      to->len, b->received, seconds, mbps (b->received, seconds));
}

static void
transfer_done (Bench * b)
{
  gint64 now = g_get_monotonic_time ();
  gboolean warm = b->fresh_s->len == b->repeat;

  if (b->received != b->bytes) {
    g_printerr ("got %" G_GUINT64_FORMAT " bytes instead of %" G_GUINT64_FORMAT
        "\n", b->received, b->bytes);
    b->exit_code = 1;
    g_main_loop_quit (b->loop);
    return;
  }
  if (!warm) {
    gdouble hs = (b->connected_us - b->connect_started_us) / 1000.0;

    g_array_append_val (b->handshake_ms, hs);
    record (b, b->fresh_s, "fresh", (now - b->connect_started_us) / 1e6);
  } else {
    record (b, b->warm_s, "warm", (now - b->started_us) / 1e6);
  }
  if (b->fresh_s->len < b->repeat) {
    retire_connection (b);
    start_client_connection (b);
  } else if (b->warm_s->len < b->repeat) {
    start_transfer (b);         /* the last fresh one warmed it up */
  } else {
    print_summary (b);
    retire_connection (b);
    g_main_loop_quit (b->loop);
  }
}

/* ------------------------------------------------------------------------ */
/* Connection signals */

static void
on_connected (MeshQuicConnection * conn, Bench * b)
{
  b->connected_us = g_get_monotonic_time ();
  g_printerr ("connected (%s)\n", b->server ? "server" : "client");
  if (!b->server)
    start_transfer (b);
}

static void
drop_connection (Bench * b)
{
  g_clear_object (&b->conn);
  g_clear_pointer (&b->peer_fingerprint, g_free);
  b->have_peer = FALSE;
  b->upload_left = 0;
}

static gboolean
drop_connection_idle (gpointer user_data)
{
  drop_connection (user_data);
  return G_SOURCE_REMOVE;
}

static void
on_closed (MeshQuicConnection * conn, GError * reason, Bench * b)
{
  g_printerr ("closed: %s\n", reason->message);
  if (b->server) {
    /* Not from inside the connection's own signal. */
    g_idle_add (drop_connection_idle, b);
  } else if (g_main_loop_is_running (b->loop)) {
    b->exit_code = 1;
    g_main_loop_quit (b->loop);
  }
}

static void
upload_more (Bench * b)
{
  while (b->upload_left > 0) {
    gssize n = mesh_quic_connection_stream_write (b->conn, b->upload_stream,
        payload, MIN (sizeof payload, b->upload_left), NULL);

    if (n <= 0)
      return;                   /* full (wait for writable), or cancelled */
    b->upload_left -= n;
  }
  mesh_quic_connection_stream_finish (b->conn, b->upload_stream, NULL);
}

static void
on_stream_data (MeshQuicConnection * conn, gint64 id, GBytes * data,
    gboolean fin, Bench * b)
{
  gsize len = g_bytes_get_size (data);

  if (b->server) {
    guint64 size;

    /* The request: 8 bytes, then FIN. */
    if (!fin || len != 8) {
      mesh_quic_connection_stream_reset (conn, id, 1);
      return;
    }
    memcpy (&size, g_bytes_get_data (data, NULL), 8);
    b->upload_stream = id;
    b->upload_left = GUINT64_FROM_BE (size);
    upload_more (b);
    return;
  }
  if (id != b->stream)
    return;
  b->received += len;
  if (fin)
    transfer_done (b);
}

static void
on_stream_writable (MeshQuicConnection * conn, gint64 id, Bench * b)
{
  if (b->server && id == b->upload_stream)
    upload_more (b);
}

static gboolean
create_connection (Bench * b)
{
  MeshQuicConfig config = { 0 };
  GError *error = NULL;

  config.role = b->server ? MESH_QUIC_ROLE_SERVER : MESH_QUIC_ROLE_CLIENT;
  config.credentials = b->creds;
  config.remote_fingerprint = b->peer_fingerprint;
  config.cc = b->cc;
  b->conn = mesh_quic_connection_new (NULL, &config, send_to_peer, b, NULL,
      &error);
  if (b->conn == NULL) {
    g_printerr ("%s\n", error->message);
    g_clear_error (&error);
    return FALSE;
  }
  b->connect_started_us = g_get_monotonic_time ();
  g_signal_connect (b->conn, "connected", G_CALLBACK (on_connected), b);
  g_signal_connect (b->conn, "closed", G_CALLBACK (on_closed), b);
  g_signal_connect (b->conn, "stream-data", G_CALLBACK (on_stream_data), b);
  g_signal_connect (b->conn, "stream-writable",
      G_CALLBACK (on_stream_writable), b);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Datagrams in */

static gboolean
same_address (const struct sockaddr_storage *a, socklen_t a_len,
    const struct sockaddr_storage *b, socklen_t b_len)
{
  return a_len == b_len && memcmp (a, b, a_len) == 0;
}

/* Server: a hello from a new client starts a connection; any hello from the
 * current one gets our answer again (ours may have been lost). */
static void
server_hello (Bench * b, const guint8 * data, gsize len,
    struct sockaddr_storage *from, socklen_t from_len)
{
  gchar *fingerprint = NULL;
  MeshQuicCongestionControl cc;

  if (b->have_peer && !same_address (&b->peer, b->peer_len, from, from_len))
    return;                     /* busy with another client */
  if (!parse_hello (data, len, &fingerprint, &cc))
    return;
  if (!b->have_peer) {
    memcpy (&b->peer, from, from_len);
    b->peer_len = from_len;
    b->have_peer = TRUE;
    b->peer_fingerprint = fingerprint;
    b->cc = cc;
    g_printerr ("client hello, cc %s\n", mesh_quic_cc_to_string (cc));
    if (!create_connection (b))
      drop_connection (b);
  } else {
    g_free (fingerprint);
  }
  send_hello (b);
}

static void
client_hello (Bench * b, const guint8 * data, gsize len)
{
  MeshQuicCongestionControl cc;

  if (b->conn || !parse_hello (data, len, &b->peer_fingerprint, &cc))
    return;
  g_clear_handle_id (&b->hello_timer, g_source_remove);
  if (!create_connection (b)) {
    b->exit_code = 1;
    g_main_loop_quit (b->loop);
  }
}

static void
start_client_connection (Bench * b)
{
  close_socket (b);
  if (!open_socket (b)) {
    b->exit_code = 1;
    g_main_loop_quit (b->loop);
    return;
  }
  send_hello (b);
  b->hello_timer = g_timeout_add (HELLO_RESEND_MS, resend_hello, b);
}

static void
handle_datagram (Bench * b, const guint8 * data, gsize len,
    struct sockaddr_storage *from, socklen_t from_len)
{
  if (is_hello (data, len)) {
    if (b->server)
      server_hello (b, data, len, from, from_len);
    else
      client_hello (b, data, len);
    return;
  }
  if (b->conn && same_address (&b->peer, b->peer_len, from, from_len))
    mesh_quic_connection_receive_datagram (b->conn, data, len);
}

static gboolean
on_readable (gint fd, GIOCondition condition, gpointer user_data)
{
  Bench *b = user_data;
  static guint8 buf[MAX_DATAGRAM];
  guint i;

  for (i = 0; i < READS_PER_WAKEUP; i++) {
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom (fd, buf, sizeof buf, 0, (struct sockaddr *) &from,
        &from_len);

    if (n < 0)
      break;
    handle_datagram (b, buf, n, &from, from_len);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout (gpointer user_data)
{
  Bench *b = user_data;

  g_printerr ("timed out\n");
  b->exit_code = 2;
  g_main_loop_quit (b->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (((Bench *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */

static gboolean
parse_options (Bench * b, int argc, char **argv)
{
  gchar *listen = NULL, *connect = NULL, *cc = NULL;
  gint64 bytes = 20 * 1000 * 1000;
  gint repeat = 3, timeout = 120;
  GOptionEntry entries[] = {
    {"listen", 0, 0, G_OPTION_ARG_STRING, &listen, "Serve on ADDR:PORT",
        "ADDR:PORT"},
    {"connect", 0, 0, G_OPTION_ARG_STRING, &connect, "Measure against "
          "ADDR:PORT", "ADDR:PORT"},
    {"cc", 0, 0, G_OPTION_ARG_STRING, &cc, "cubic (default), bbr, bbr2 or "
          "reno; the client's choice is the server's", "CC"},
    {"bytes", 0, 0, G_OPTION_ARG_INT64, &bytes, "Bytes per transfer "
          "(20000000)", "N"},
    {"repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Fresh connections, then "
          "warm transfers on the last one (3)", "K"},
    {"json", 0, 0, G_OPTION_ARG_NONE, &b->json, "Client: also print "
          "{\"fresh_s\": [...], \"warm_s\": [...]}", NULL},
    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "Client: give up after "
          "this many seconds (120)", "S"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- QUIC throughput over UDP");
  GError *error = NULL;
  gboolean ok;

  g_option_context_add_main_entries (ctx, entries, NULL);
  ok = g_option_context_parse (ctx, &argc, &argv, &error);
  g_option_context_free (ctx);
  if (!ok) {
    g_printerr ("%s\n", error->message);
    g_clear_error (&error);
  } else if ((listen == NULL) == (connect == NULL)) {
    g_printerr ("give one of --listen or --connect\n");
    ok = FALSE;
  } else if (cc && !mesh_quic_cc_from_string (cc, &b->cc)) {
    g_printerr ("unknown --cc %s\n", cc);
    ok = FALSE;
  } else if (bytes <= 0 || repeat <= 0 || timeout <= 0) {
    g_printerr ("--bytes, --repeat and --timeout must be positive\n");
    ok = FALSE;
  }
  b->server = listen != NULL;
  b->address = g_strdup (listen ? listen : connect);
  b->bytes = bytes;
  b->repeat = repeat;
  b->timeout_s = timeout;
  if (!cc)
    b->cc = MESH_QUIC_CC_DEFAULT;
  g_free (listen);
  g_free (connect);
  g_free (cc);
  return ok;
}

int
main (int argc, char **argv)
{
  Bench b = { 0 };
  GError *error = NULL;
  guint i;

  gst_init (&argc, &argv);
  b.fd = -1;
  if (!parse_options (&b, argc, argv))
    return 2;
  for (i = 0; i < sizeof payload; i++)
    payload[i] = (guint8) (i * 131 + 7);
  b.creds = mesh_quic_credentials_new (&error);
  if (b.creds == NULL) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  b.loop = g_main_loop_new (NULL, FALSE);
  b.fresh_s = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.warm_s = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.handshake_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_unix_signal_add (SIGINT, on_signal, &b);
  g_unix_signal_add (SIGTERM, on_signal, &b);
  if (b.server) {
    if (!open_socket (&b))
      return 1;
    g_print ("listening on %s\n", b.address);
    fflush (stdout);
  } else {
    g_print ("quic-udp-bench: cc=%s bytes=%" G_GUINT64_FORMAT " repeat=%u\n",
        mesh_quic_cc_to_string (b.cc), b.bytes, b.repeat);
    start_client_connection (&b);
    g_timeout_add_seconds (b.timeout_s, on_timeout, &b);
  }
  g_main_loop_run (b.loop);

  /* Let a last CONNECTION_CLOSE leave. */
  while (g_main_context_iteration (NULL, FALSE));
  g_clear_object (&b.conn);
  close_socket (&b);
  mesh_quic_credentials_unref (b.creds);
  g_array_unref (b.fresh_s);
  g_array_unref (b.warm_s);
  g_array_unref (b.handshake_ms);
  g_main_loop_unref (b.loop);
  g_free (b.address);
  g_free (b.peer_fingerprint);
  return b.exit_code;
}
