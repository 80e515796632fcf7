/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mesh-link-bench: goodput of OUR peer link (MeshQuicLink: the wire protocol
 * over QUIC over libnice ICE), set up exactly as in the product: both
 * processes join one swarm on a mesh-tracker (MeshTrackerClient), which
 * relays the links' signalling (ICE credentials, candidates, fingerprints).
 *
 *   mesh-link-bench --serve --tracker ws://H:8765 --swarm S [--local-address IP]
 *   mesh-link-bench --fetch --tracker ws://H:8765 --swarm S [--local-address IP]
 *       [--bytes N] [--repeat K] [--stun-server HOST:PORT]
 *
 * --serve answers REQUESTs with DATA frames of 64 KiB and END, as an upload
 * from the cache does (the peer manager's backpressure: stop above 256 KiB
 * queued, go on at "writable"); it prints "ready" once joined and serves
 * until SIGINT/SIGTERM. A new link from the same peer (its "quic-offer")
 * replaces the previous one.
 *
 * --fetch calls the first peer the tracker names, then K requests of N bytes
 * each on a fresh link (a new link per request, timed from the link's start,
 * and from the REQUEST, to the END), then K on one warm link (after one
 * unmeasured request). It prints one JSON line: MB/s (10^6 bytes/s) median,
 * min and max of each kind, the connect times, and the raw seconds
 * ("fresh_s" includes the set-up, "warm_s"), as bench/lab/link-bench.py reads
 * them.
 *
 * Threads: one, running the default GMainContext.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gst/gst.h>

#include "p2p/mesh-quic-link.h"
#include "p2p/mesh-tracker-client.h"
#include "p2p/mesh-wire.h"

#define UPLOAD_QUEUE_HIGH (256 * 1024)  /* as mesh-peer-manager.c */

static guint8 payload[MESH_WIRE_MAX_CHUNK];

typedef struct
{
  /* options */
  gboolean serve;
  gchar *tracker_url, *swarm, *local_address, *stun_server;
  MeshPeerCongestionControl congestion_control;
  guint64 bytes;
  guint repeat;

  GMainLoop *loop;
  SoupSession *session;
  MeshTrackerClient *tracker;
  MeshQuicTransport *transport;
  gchar *peer_id;
  gchar *remote_id;
  MeshPeerConnection *conn;     /* the current link */
  int exit_code;

  /* serve: the upload in progress */
  guint32 up_id;
  guint64 up_offset, up_length;
  gboolean uploading;

  /* fetch */
  guint run;                    /* transfers done in this phase */
  gboolean warm;                /* phase: fresh links, then the warm one */
  gint64 t_start, t_request;
  guint64 got;
  guint32 next_id;
  GArray *connect_s, *fresh_s, *fresh_transfer_s, *warm_s;
  gint64 rcvbuf_errors;         /* udp_rcvbuf_errors() at the start */
} Bench;

static void fetch_next (Bench * b);

static void
fail (Bench * b, const gchar * what)
{
  g_printerr ("mesh-link-bench: %s\n", what);
  b->exit_code = 1;
  g_main_loop_quit (b->loop);
}

static gdouble
seconds_since (gint64 t)
{
  return (g_get_monotonic_time () - t) / 1e6;
}

/* ------------------------------------------------------------------------ */
/* The link */

static void
on_signal_out (MeshPeerConnection * conn, JsonObject * data, Bench * b)
{
  mesh_signaller_relay (MESH_SIGNALLER (b->tracker), b->remote_id, data);
}

static void
drop_link (Bench * b)
{
  if (!b->conn)
    return;
  g_signal_handlers_disconnect_by_data (b->conn, b);
  mesh_peer_connection_close (b->conn, MESH_WIRE_CLOSE_GOING_AWAY, "bench");
  g_clear_object (&b->conn);
  b->uploading = FALSE;
}

static void
on_closed (MeshPeerConnection * conn, GError * reason, Bench * b)
{
  g_printerr ("mesh-link-bench: link closed: %s\n", reason->message);
  g_signal_handlers_disconnect_by_data (conn, b);
  g_clear_object (&b->conn);
  if (!b->serve)
    fail (b, "the link closed during the measurement");
}

static void on_frame (MeshPeerConnection * conn, const MeshWireFrame * f,
    Bench * b);
static void on_connected (MeshPeerConnection * conn, Bench * b);
static void upload_pump (Bench * b);

static void
open_link (Bench * b, gboolean controlling)
{
  MeshPeerConnectParams params = { 0, };

  params.swarm_id = b->swarm;
  params.local_peer_id = b->peer_id;
  params.remote_peer_id = b->remote_id;
  params.controlling = controlling;
  params.upload = b->serve;
  params.stun_server = b->stun_server;
  params.local_address = b->local_address;
  params.congestion_control = b->congestion_control;
  b->conn = mesh_peer_transport_connect (MESH_PEER_TRANSPORT (b->transport),
      &params);
  if (!b->conn) {
    fail (b, "no connection");
    return;
  }
  g_signal_connect (b->conn, "signal-out", G_CALLBACK (on_signal_out), b);
  g_signal_connect (b->conn, "connected", G_CALLBACK (on_connected), b);
  g_signal_connect (b->conn, "frame", G_CALLBACK (on_frame), b);
  g_signal_connect_swapped (b->conn, "writable", G_CALLBACK (upload_pump), b);
  g_signal_connect (b->conn, "closed", G_CALLBACK (on_closed), b);
  b->t_start = g_get_monotonic_time ();
  mesh_peer_connection_start (b->conn);
}

/* ------------------------------------------------------------------------ */
/* Serve */

static void
upload_pump (Bench * b)
{
  while (b->conn && b->uploading
      && mesh_peer_connection_get_send_queue_size (b->conn) <=
      UPLOAD_QUEUE_HIGH) {
    guint64 len = MIN (sizeof payload, b->up_length - b->up_offset);
    GBytes *chunk, *frame;

    if (len == 0) {
      mesh_peer_connection_send (b->conn, mesh_wire_encode_end (b->up_id,
              b->up_length));
      b->uploading = FALSE;
      return;
    }
    chunk = g_bytes_new_static (payload, len);
    frame = mesh_wire_encode_data (b->up_id, b->up_offset, chunk);
    g_bytes_unref (chunk);
    mesh_peer_connection_send (b->conn, frame);
    b->up_offset += len;
  }
}

/* ------------------------------------------------------------------------ */
/* Fetch */

static void
send_request (Bench * b)
{
  b->got = 0;
  b->t_request = g_get_monotonic_time ();
  mesh_peer_connection_send (b->conn, mesh_wire_encode_request (++b->next_id,
          mesh_wire_segment_key ("mesh-link-bench"), 0, b->bytes, 0));
}

static void
on_connected (MeshPeerConnection * conn, Bench * b)
{
  gdouble connect = seconds_since (b->t_start);

  if (b->serve)
    return;
  g_array_append_val (b->connect_s, connect);
  send_request (b);
}

static void
transfer_done (Bench * b)
{
  gdouble transfer = seconds_since (b->t_request);
  gdouble total = seconds_since (b->t_start);

  if (!b->warm) {
    g_array_append_val (b->fresh_s, total);
    g_array_append_val (b->fresh_transfer_s, transfer);
    drop_link (b);
    if (++b->run == b->repeat) {
      b->warm = TRUE;
      b->run = 0;
    }
    fetch_next (b);
    return;
  }
  if (b->run++ > 0)             /* the first one only warms the link up */
    g_array_append_val (b->warm_s, transfer);
  if (b->run <= b->repeat)
    send_request (b);
  else
    g_main_loop_quit (b->loop);
}

static void
on_frame (MeshPeerConnection * conn, const MeshWireFrame * f, Bench * b)
{
  if (b->serve) {
    if (f->type != MESH_WIRE_TYPE_REQUEST)
      return;
    b->up_id = f->request.request_id;
    b->up_offset = 0;
    b->up_length = f->request.length ? f->request.length : b->bytes;
    b->uploading = TRUE;
    upload_pump (b);
  } else if (f->type == MESH_WIRE_TYPE_DATA && f->data.request_id == b->next_id) {
    b->got += g_bytes_get_size (f->data.bytes);
  } else if (f->type == MESH_WIRE_TYPE_END && f->end.request_id == b->next_id) {
    if (b->got != b->bytes)
      fail (b, "END before every byte came");
    else
      transfer_done (b);
  } else if (f->type == MESH_WIRE_TYPE_ABSENT) {
    fail (b, "the server answered ABSENT");
  }
}

static void
fetch_next (Bench * b)
{
  if (b->remote_id && !b->conn)
    open_link (b, TRUE);
}

/* ------------------------------------------------------------------------ */
/* Signalling */

static void
on_peers (MeshSignaller * s, GStrv ids, Bench * b)
{
  if (!b->serve && !b->remote_id && ids[0]) {
    b->remote_id = g_strdup (ids[0]);
    fetch_next (b);
  }
}

static void
on_peer_joined (MeshSignaller * s, const gchar * id, Bench * b)
{
  gchar *ids[] = { (gchar *) id, NULL };
  on_peers (s, ids, b);
}

static void
on_welcome (MeshSignaller * s, GStrv ids, Bench * b)
{
  if (b->serve) {
    g_print ("ready: %s in swarm %s\n", b->peer_id, b->swarm);
    fflush (stdout);
  }
  on_peers (s, ids, b);
}

static void
on_message (MeshSignaller * s, const gchar * from, JsonObject * data, Bench * b)
{
  const gchar *kind = json_object_get_string_member_with_default (data,
      "kind", "");

  if (b->serve && (!b->conn || g_strcmp0 (kind, "quic-offer") == 0)) {
    /* a new link from the fetcher: it replaces the last one */
    drop_link (b);
    g_free (b->remote_id);
    b->remote_id = g_strdup (from);
    open_link (b, FALSE);
  }
  if (b->conn && g_strcmp0 (from, b->remote_id) == 0)
    mesh_peer_connection_handle_signal (b->conn, data);
}

static void
on_signaller_error (MeshSignaller * s, GError * error, Bench * b)
{
  fail (b, error->message);
}

/* ------------------------------------------------------------------------ */

/* RcvbufErrors of /proc/net/snmp: UDP datagrams this network namespace
 * dropped because a socket's receive buffer was full; -1 if unknown. */
static gint64
udp_rcvbuf_errors (void)
{
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  gint64 value = -1;
  guint i, j;

  if (!g_file_get_contents ("/proc/net/snmp", &text, NULL, NULL))
    return -1;
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] && lines[i + 1]; i++) {
    g_auto (GStrv) names = g_strsplit (lines[i], " ", -1);
    g_auto (GStrv) values = g_strsplit (lines[i + 1], " ", -1);

    if (g_strcmp0 (names[0], "Udp:") != 0 || g_strcmp0 (values[0], "Udp:"))
      continue;
    for (j = 0; names[j] && values[j]; j++)
      if (g_strcmp0 (names[j], "RcvbufErrors") == 0)
        value = g_ascii_strtoll (values[j], NULL, 10);
    break;
  }
  return value;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

/* "name": {"median": .., "min": .., "max": ..} of @scale / each value
 * (@invert: of @scale * each value). */
static void
add_stats (GString * out, const gchar * name, GArray * s, gdouble scale,
    gboolean invert)
{
  g_autoptr (GArray) v = g_array_copy (s);
  gdouble x[3];
  guint i;

  g_array_sort (v, compare_doubles);
  x[0] = v->len % 2 ? g_array_index (v, gdouble, v->len / 2)
      : (g_array_index (v, gdouble, v->len / 2 - 1)
      + g_array_index (v, gdouble, v->len / 2)) / 2;
  x[1] = g_array_index (v, gdouble, invert ? 0 : v->len - 1);
  x[2] = g_array_index (v, gdouble, invert ? v->len - 1 : 0);
  for (i = 0; i < 3; i++)
    x[i] = invert ? x[i] * scale : scale / x[i];
  g_string_append_printf (out, "\"%s\": {\"median\": %.3f, \"min\": %.3f, "
      "\"max\": %.3f}, ", name, x[0], x[1], x[2]);
}

static void
add_seconds (GString * out, const gchar * name, GArray * s)
{
  guint i;

  g_string_append_printf (out, "\"%s\": [", name);
  for (i = 0; i < s->len; i++)
    g_string_append_printf (out, "%s%.4f", i ? ", " : "",
        g_array_index (s, gdouble, i));
  g_string_append (out, "], ");
}

static void
print_result (Bench * b)
{
  GString *out = g_string_new ("{");
  MeshQuicStats st = { 0, };

  if (b->conn)
    mesh_quic_link_get_stats (MESH_QUIC_LINK (b->conn), &st);
  g_string_append_printf (out, "\"transport\": \"mesh-quic-link\", "
      "\"bytes\": %" G_GUINT64_FORMAT ", \"repeat\": %u, \"path\": \"%s\", "
      "\"rcvbuf\": %d, ", b->bytes, b->repeat, b->conn ?
      GST_STR_NULL (mesh_peer_connection_get_path_type (b->conn)) : "-",
      b->conn ? mesh_quic_link_get_socket_rcvbuf (MESH_QUIC_LINK (b->conn)) :
      0);
  add_stats (out, "fresh_mb_s", b->fresh_s, b->bytes / 1e6, FALSE);
  add_stats (out, "fresh_transfer_mb_s", b->fresh_transfer_s, b->bytes / 1e6,
      FALSE);
  add_stats (out, "warm_mb_s", b->warm_s, b->bytes / 1e6, FALSE);
  add_stats (out, "connect_ms", b->connect_s, 1e3, TRUE);
  add_seconds (out, "connect_s", b->connect_s);
  add_seconds (out, "fresh_transfer_s", b->fresh_transfer_s);
  add_seconds (out, "fresh_s", b->fresh_s);
  add_seconds (out, "warm_s", b->warm_s);
  g_string_append_printf (out, "\"udp_rcvbuf_errors\": %" G_GINT64_FORMAT
      ", ", udp_rcvbuf_errors () - b->rcvbuf_errors);
  g_string_append_printf (out, "\"warm_quic\": {\"srtt_ms\": %.1f, "
      "\"min_rtt_ms\": %.1f, \"cwnd\": %" G_GUINT64_FORMAT ", \"pacing_mb_s\": "
      "%.2f, \"delivery_mb_s\": %.2f, \"bytes_sent\": %" G_GUINT64_FORMAT
      ", \"bytes_received\": %" G_GUINT64_FORMAT "}}", st.smoothed_rtt_us / 1e3,
      st.min_rtt_us / 1e3, st.cwnd, st.pacing_rate / 1e6,
      st.delivery_rate / 1e6, st.bytes_sent, st.bytes_received);
  g_print ("%s\n", out->str);
  g_string_free (out, TRUE);
}

static gboolean
on_timeout (gpointer user_data)
{
  fail (user_data, "timed out");
  return G_SOURCE_REMOVE;
}

static gboolean
on_unix_signal (gpointer user_data)
{
  g_main_loop_quit (((Bench *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

/* NULL: the transport's default. */
static gboolean
parse_congestion_control (const gchar * name, MeshPeerCongestionControl * cc)
{
  if (!name)
    *cc = MESH_PEER_CC_DEFAULT;
  else if (g_str_equal (name, "cubic"))
    *cc = MESH_PEER_CC_CUBIC;
  else if (g_str_equal (name, "bbr"))
    *cc = MESH_PEER_CC_BBR;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_options (Bench * b, int argc, char **argv)
{
  gboolean fetch = FALSE;
  gint64 bytes = 2000000;
  gint repeat = 4, timeout = 120;
  gchar *cc = NULL;
  GOptionEntry entries[] = {
    {"serve", 0, 0, G_OPTION_ARG_NONE, &b->serve, "Answer requests", NULL},
    {"fetch", 0, 0, G_OPTION_ARG_NONE, &fetch, "Measure", NULL},
    {"tracker", 0, 0, G_OPTION_ARG_STRING, &b->tracker_url, "Tracker URL "
          "(ws://HOST:PORT)", "URL"},
    {"swarm", 0, 0, G_OPTION_ARG_STRING, &b->swarm, "Swarm id "
          "(mesh-link-bench)", "ID"},
    {"local-address", 0, 0, G_OPTION_ARG_STRING, &b->local_address,
        "Only this local IP", "IP"},
    {"stun-server", 0, 0, G_OPTION_ARG_STRING, &b->stun_server, "STUN server",
        "HOST:PORT"},
    {"bytes", 0, 0, G_OPTION_ARG_INT64, &bytes, "Bytes per transfer "
          "(2000000)", "N"},
    {"repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Transfers of each kind (4)",
        "K"},
    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "Fetch: give up after "
          "this many seconds (120)", "S"},
    {"congestion-control", 0, 0, G_OPTION_ARG_STRING, &cc, "cubic or bbr "
          "(default: the transport's, cubic)", "CC"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- goodput of the QUIC peer "
      "link, set up through the tracker");
  GError *error = NULL;
  gboolean ok;

  g_option_context_add_main_entries (ctx, entries, NULL);
  ok = g_option_context_parse (ctx, &argc, &argv, &error);
  g_option_context_free (ctx);
  if (!ok) {
    g_printerr ("%s\n", error->message);
    g_clear_error (&error);
  } else if (b->serve == fetch || !b->tracker_url) {
    g_printerr ("give --tracker and one of --serve or --fetch\n");
    ok = FALSE;
  } else if (bytes <= 0 || repeat <= 0 || timeout <= 0) {
    g_printerr ("--bytes, --repeat and --timeout must be positive\n");
    ok = FALSE;
  } else if (!parse_congestion_control (cc, &b->congestion_control)) {
    g_printerr ("--congestion-control: cubic or bbr\n");
    ok = FALSE;
  }
  g_free (cc);
  if (!b->swarm)
    b->swarm = g_strdup ("mesh-link-bench");
  b->bytes = bytes;
  b->repeat = repeat;
  if (ok && !b->serve)
    g_timeout_add_seconds (timeout, on_timeout, b);
  return ok;
}

int
main (int argc, char **argv)
{
  Bench b = { 0 };
  GError *error = NULL;
  guint i;

  gst_init (&argc, &argv);
  b.loop = g_main_loop_new (NULL, FALSE);
  if (!parse_options (&b, argc, argv))
    return 2;
  for (i = 0; i < sizeof payload; i++)
    payload[i] = (guint8) (i * 131 + 7);
  b.transport = mesh_quic_transport_new (g_main_context_default (), &error);
  if (!b.transport) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  b.connect_s = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.fresh_s = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.fresh_transfer_s = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.warm_s = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.rcvbuf_errors = udp_rcvbuf_errors ();
  b.peer_id = g_strdup_printf ("bench-%s-%d", b.serve ? "serve" : "fetch",
      (int) getpid ());
  b.session = soup_session_new ();
  b.tracker = mesh_tracker_client_new_for_url (b.session, b.tracker_url);
  g_signal_connect (b.tracker, "welcome", G_CALLBACK (on_welcome), &b);
  g_signal_connect (b.tracker, "peers", G_CALLBACK (on_peers), &b);
  g_signal_connect (b.tracker, "peer-joined", G_CALLBACK (on_peer_joined), &b);
  g_signal_connect (b.tracker, "message", G_CALLBACK (on_message), &b);
  g_signal_connect (b.tracker, "error", G_CALLBACK (on_signaller_error), &b);
  mesh_signaller_join (MESH_SIGNALLER (b.tracker), b.swarm, b.peer_id, NULL,
      b.serve);
  g_unix_signal_add (SIGINT, on_unix_signal, &b);
  g_unix_signal_add (SIGTERM, on_unix_signal, &b);

  g_main_loop_run (b.loop);

  if (!b.serve && b.exit_code == 0)
    print_result (&b);
  drop_link (&b);
  mesh_signaller_leave (MESH_SIGNALLER (b.tracker));
  mesh_peer_transport_shutdown (MESH_PEER_TRANSPORT (b.transport), 1000);
  g_object_unref (b.tracker);
  g_object_unref (b.session);
  g_object_unref (b.transport);
  g_array_unref (b.connect_s);
  g_array_unref (b.fresh_s);
  g_array_unref (b.fresh_transfer_s);
  g_array_unref (b.warm_s);
  g_free (b.peer_id);
  g_free (b.remote_id);
  g_main_loop_unref (b.loop);
  return b.exit_code;
}
