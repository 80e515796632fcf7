/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * tracker-load: a load generator for mesh-tracker (issue 11). One process
 * holds up to --peers WebSocket clients of the tracker protocol
 * (docs/protocol.md section 1, encoded with ext/mesh/p2p/mesh-tracker-proto):
 * it joins them across --swarms swarms at --rate joins/s, keeps them alive
 * with heartbeats, sends qos reports, sends offers to a few listed peers on
 * each welcome (answered by the receiver) plus background signals, makes
 * some leave and rejoin (--churn), and stops by itself after --seconds.
 * It prints one JSON line: counts, errors and fixed-size latency histograms
 * (bench/tracker-load.py merges those of several processes).
 *
 * --protocol webtorrent runs the same scenario against a WebTorrent tracker
 * (the bittorrent-tracker npm server, p2p-media-loader's default), speaking
 * its WebSocket announce protocol as a browser does: join = announce
 * "started" carrying --offers offers, which the tracker forwards to as many
 * peers of the swarm, each answered through the tracker; heartbeat = a
 * re-announce; leave = announce "stopped", then the client closes; a
 * background signal = an "answer" addressed to a known peer; no qos (the
 * protocol has none). The same counters, histograms and errors are printed,
 * mapped as bench/README.md "bittorrent-tracker side by side" says.
 *
 * Why a raw WebSocket client and not libsoup: a client here only writes
 * small masked text frames and reads small unmasked ones; a few hundred
 * bytes of state and one socket per connection suffice (measured in
 * bench/README.md, "Tracker load"), where a SoupWebsocketConnection brings a
 * GIOStream, GSources and buffers per connection, and a GMainContext
 * dispatch per message, i.e. the very costs measured in the tracker.
 *
 * Loopback only: the tracker's address must be in 127.0.0.0/8. Clients
 * bind source addresses 127.0.0.(--src-base + i mod --src-addrs) when one
 * address's ephemeral ports (about 28,000) do not suffice.
 *
 * Bounds: --peers connections (at most 200,000); per connection, unread
 * input and unsent output at most 256 KiB each (past that it counts as an
 * error and is closed); the histograms are fixed arrays.
 *
 * Threads: one. main() runs an epoll loop that owns every connection and
 * counter; no GMainContext is used.
 */

#include "p2p/mesh-tracker-proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PEERS 200000
#define IO_LIMIT (256 * 1024)
#define KNOWN_PEERS 4
#define PEER_ID_LEN 32
#define TICK_MS 10
#define PENDING_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define HEARTBEAT_S 10
#define MAX_FRAME (64 * 1024)
#define N_ERROR_KINDS 32
#define WT_ID_LEN 20            /* WebTorrent ids: 20-character strings */
#define WT_MAX_OFFERS 82        /* bittorrent-tracker's MAX_ANNOUNCE_PEERS */

/* Latency histogram in microseconds, log-linear: values below 16 exactly,
 * then 16 buckets per power of two (at most 6 % off), up to 2^44 us. */
#define HIST_SUB 16
#define HIST_SIZE (HIST_SUB + 40 * HIST_SUB)
typedef struct
{
  guint64 count[HIST_SIZE];
} Histogram;

typedef enum
{
  CONN_IDLE,                    /* in the queue of clients to (re)join */
  CONN_CONNECTING,              /* TCP connect in progress */
  CONN_HANDSHAKE,               /* HTTP upgrade sent, waiting for 101 */
  CONN_JOINING,                 /* join sent, waiting for welcome */
  CONN_JOINED,
  CONN_LEAVING,                 /* leave sent, waiting for the close */
} ConnState;

typedef struct
{
  int fd;
  ConnState state;
  guint generation;             /* a new peer id at every rejoin */
  gint64 t_connect;
  gint64 t_join;
  gint64 next_heartbeat;
  gint64 next_qos;
  guint8 *in;                   /* an incomplete frame, or NULL */
  gsize in_len;
  guint8 *out;                  /* what the socket did not take, or NULL */
  gsize out_len;
  guint n_known;
  gchar known[KNOWN_PEERS][PEER_ID_LEN];
  gint64 qos_bytes;
} Conn;

typedef struct
{
  /* options */
  gchar *host;
  gint port;
  gint peers;
  gint swarms;
  gdouble rate;
  gint offers;
  gdouble signal_rate;
  gint signal_size;
  gint qos_interval;
  gdouble churn;
  gint seconds;
  gint process;
  gint src_addrs;
  gint src_base;
  gint max_pending;
  gboolean webtorrent;          /* --protocol webtorrent */
  guint64 offer_ids;            /* offers made, for unique offer ids */

  struct sockaddr_in server;
  int epfd;
  Conn *conns;
  guint *idle;                  /* ring of idle connection indices */
  guint idle_head, idle_len;
  guint pending;                /* connecting, handshake or joining */
  guint joined;
  guint joined_peak;
  gint64 t_start;
  gint64 t_all_joined;          /* 0 until every peer was joined at once */
  gchar *padding;               /* the fake SDP of signals */

  /* results */
  guint64 joins_started, joins_done, leaves, signals_sent, signals_received;
  guint64 qos_sent, heartbeats_sent, peer_notices, bytes_out, bytes_in;
  Histogram join_latency;       /* join sent -> welcome (or announce reply) */
  Histogram connect_latency;    /* connect() -> welcome (or announce reply) */
  Histogram signal_latency;     /* signal sent -> relayed signal read */
  GHashTable *errors;           /* kind -> count (at most N_ERROR_KINDS) */
} Load;

static guint
histogram_index (gint64 us)
{
  guint e;

  if (us < HIST_SUB)
    return us < 0 ? 0 : (guint) us;
  e = g_bit_storage ((guint64) us) - 1;
  if (e >= 44)
    return HIST_SIZE - 1;
  return HIST_SUB + (e - 4) * HIST_SUB + ((us >> (e - 4)) & (HIST_SUB - 1));
}

static void
histogram_add (Histogram * h, gint64 us)
{
  h->count[histogram_index (us)]++;
}

static void
count_error (Load * load, const gchar * kind)
{
  gpointer old = g_hash_table_lookup (load->errors, kind);

  if (old == NULL && g_hash_table_size (load->errors) >= N_ERROR_KINDS)
    kind = "other";
  old = g_hash_table_lookup (load->errors, kind);
  g_hash_table_replace (load->errors, g_strdup (kind),
      GUINT_TO_POINTER (GPOINTER_TO_UINT (old) + 1));
}

static void
peer_id (Load * load, guint index, gchar * buf)
{
  g_snprintf (buf, PEER_ID_LEN, "L%02d-%06u-%u", load->process, index,
      load->conns[index].generation);
}

/* --- sending ------------------------------------------------------------ */

static void
watch (Load * load, guint index, guint32 events)
{
  struct epoll_event ev = {.events = events,.data.u32 = index };

  epoll_ctl (load->epfd, EPOLL_CTL_MOD, load->conns[index].fd, &ev);
}

static void close_conn (Load * load, guint index, const gchar * error);

/* Writes @data, keeping what the socket does not take (bounded). */
static void
send_raw (Load * load, guint index, const guint8 * data, gsize len)
{
  Conn *c = &load->conns[index];
  gssize n = 0;

  if (c->out_len == 0) {
    n = send (c->fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      close_conn (load, index, "send-failed");
      return;
    }
    n = MAX (n, 0);
    load->bytes_out += n;
    if ((gsize) n == len)
      return;
  }
  if (c->out_len + len - n > IO_LIMIT) {
    close_conn (load, index, "output-backlog");
    return;
  }
  c->out = g_realloc (c->out, c->out_len + len - n);
  memcpy (c->out + c->out_len, data + n, len - n);
  c->out_len += len - n;
  watch (load, index, EPOLLIN | EPOLLOUT);
}

static void
flush_output (Load * load, guint index)
{
  Conn *c = &load->conns[index];
  gssize n = send (c->fd, c->out, c->out_len, MSG_NOSIGNAL);

  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      close_conn (load, index, "send-failed");
    return;
  }
  load->bytes_out += n;
  memmove (c->out, c->out + n, c->out_len - n);
  c->out_len -= n;
  if (c->out_len == 0) {
    g_clear_pointer (&c->out, g_free);
    watch (load, index, EPOLLIN);
  }
}

/* One masked text frame (RFC 6455 5.2: a client masks every frame). */
static void
send_text (Load * load, guint index, gchar * text)
{
  static const guint8 mask[4] = { 0x3a, 0xc5, 0x5c, 0xa3 };
  gsize len = strlen (text), head = 2, i;
  guint8 *frame = g_malloc (len + 14);

  frame[0] = 0x81;
  if (len < 126) {
    frame[1] = 0x80 | len;
  } else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = len >> 8;
    frame[3] = len & 0xff;
    head = 4;
  } else {
    /* an announce with many offers of large SDP */
    frame[1] = 0x80 | 127;
    for (i = 0; i < 8; i++)
      frame[2 + i] = (guint64) len >> (8 * (7 - i));
    head = 10;
  }
  memcpy (frame + head, mask, 4);
  for (i = 0; i < len; i++)
    frame[head + 4 + i] = text[i] ^ mask[i & 3];
  send_raw (load, index, frame, head + 4 + len);
  g_free (frame);
  g_free (text);
}

static void
send_signal (Load * load, guint index, const gchar * to, const gchar * kind)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) data = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, kind);
  json_builder_set_member_name (b, "t");
  json_builder_add_int_value (b, g_get_monotonic_time ());
  json_builder_set_member_name (b, "sdp");
  json_builder_add_string_value (b, load->padding);
  json_builder_end_object (b);
  data = json_builder_get_root (b);
  send_text (load, index, mesh_tracker_encode_signal (to, data));
  load->signals_sent++;
}

static void
send_qos (Load * load, guint index)
{
  Conn *c = &load->conns[index];
  MeshQosReport r = { 0 };

  c->qos_bytes += 2500000;      /* 4 Mb/s for 5 s, half from peers */
  r.cdn_bytes = c->qos_bytes / 2;
  r.peer_bytes = c->qos_bytes / 2;
  r.uploaded_bytes = c->qos_bytes / 3;
  r.startup_ms = 900;
  r.bitrate = 4000000;
  r.width = 1280;
  r.height = 720;
  r.peers = c->n_known;
  send_text (load, index, mesh_tracker_encode_qos (&r, NULL));
  load->qos_sent++;
}

/* --- connection life ------------------------------------------------------ */

static void
push_idle (Load * load, guint index)
{
  guint n = load->peers;

  load->idle[(load->idle_head + load->idle_len) % n] = index;
  load->idle_len++;
}

static void
close_conn (Load * load, guint index, const gchar * error)
{
  Conn *c = &load->conns[index];

  if (c->state == CONN_IDLE)
    return;
  if (error)
    count_error (load, error);
  if (c->state == CONN_JOINED || c->state == CONN_LEAVING)
    load->joined--;
  else
    load->pending--;
  epoll_ctl (load->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close (c->fd);
  c->fd = -1;
  g_clear_pointer (&c->in, g_free);
  g_clear_pointer (&c->out, g_free);
  c->in_len = c->out_len = 0;
  c->n_known = 0;
  c->state = CONN_IDLE;
  c->generation++;
  push_idle (load, index);
}

static void
start_connect (Load * load, guint index)
{
  Conn *c = &load->conns[index];
  struct epoll_event ev = {.events = EPOLLOUT,.data.u32 = index };
  int one = 1;

  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    count_error (load, "socket-failed");
    push_idle (load, index);
    return;
  }
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (load->src_addrs > 0) {
    struct sockaddr_in src = {.sin_family = AF_INET };

    /* the port is chosen at connect(), per destination: the source
     * address multiplies the ports available to one tracker */
    setsockopt (c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    src.sin_addr.s_addr = htonl ((127u << 24) | (load->src_base +
            index % load->src_addrs));
    bind (c->fd, (struct sockaddr *) &src, sizeof src);
  }
  c->t_connect = g_get_monotonic_time ();
  c->state = CONN_CONNECTING;
  load->pending++;
  load->joins_started++;
  if (connect (c->fd, (struct sockaddr *) &load->server,
          sizeof load->server) < 0 && errno != EINPROGRESS) {
    int err = errno;

    close (c->fd);
    c->fd = -1;
    c->state = CONN_IDLE;
    load->pending--;
    count_error (load, err == EADDRNOTAVAIL ? "no-ports" : "connect-failed");
    push_idle (load, index);
    return;
  }
  epoll_ctl (load->epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
on_connected (Load * load, guint index)
{
  Conn *c = &load->conns[index];
  int err = 0;
  socklen_t len = sizeof err;
  gchar *request;

  getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    close_conn (load, index, "connect-failed");
    return;
  }
  c->state = CONN_HANDSHAKE;
  watch (load, index, EPOLLIN);
  /* the key need not be random for a benchmark on loopback */
  request = g_strdup_printf ("GET /announce HTTP/1.1\r\nHost: %s:%d\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n", load->host, load->port,
      load->webtorrent ? "" : "Sec-WebSocket-Protocol: ",
      load->webtorrent ? "" : MESH_TRACKER_SUBPROTOCOL,
      load->webtorrent ? "" : "\r\n");
  send_raw (load, index, (guint8 *) request, strlen (request));
  g_free (request);
}

static void
send_join (Load * load, guint index)
{
  Conn *c = &load->conns[index];
  gchar id[PEER_ID_LEN], swarm[32];

  peer_id (load, index, id);
  g_snprintf (swarm, sizeof swarm, "load-%u", index % load->swarms);
  c->state = CONN_JOINING;
  c->t_join = g_get_monotonic_time ();
  send_text (load, index, mesh_tracker_encode_join (swarm, id, NULL,
          index % 2 == 0));
}

/* --- receiving ------------------------------------------------------------ */

static void
remember_peer (Conn * c, const gchar * id)
{
  guint slot = c->n_known < KNOWN_PEERS ? c->n_known++ :
      (guint) g_random_int_range (0, KNOWN_PEERS);

  g_strlcpy (c->known[slot], id, PEER_ID_LEN);
}

/* The tracker took the join (a welcome, or the reply to announce "started"):
 * latencies, counters, and the client's timers from now on. */
static void
count_joined (Load * load, guint index)
{
  Conn *c = &load->conns[index];
  gint64 now = g_get_monotonic_time ();

  histogram_add (&load->join_latency, now - c->t_join);
  histogram_add (&load->connect_latency, now - c->t_connect);
  load->joins_done++;
  load->pending--;
  load->joined++;
  load->joined_peak = MAX (load->joined_peak, load->joined);
  if (load->t_all_joined == 0 && load->joined == (guint) load->peers)
    load->t_all_joined = now;
  c->state = CONN_JOINED;
  c->next_heartbeat = now + g_random_int_range (HEARTBEAT_S / 2,
      HEARTBEAT_S) * G_USEC_PER_SEC;
  c->next_qos = now + (load->qos_interval > 0 ?
      g_random_int_range (1, load->qos_interval + 1) * G_USEC_PER_SEC : 0);
}

static void
on_welcome (Load * load, guint index, MeshTrackerMessage * msg)
{
  Conn *c = &load->conns[index];
  guint i;

  if (c->state != CONN_JOINING) {
    count_error (load, "unexpected-welcome");
    return;
  }
  count_joined (load, index);
  for (i = 0; msg->peers && i < msg->peers->len; i++) {
    MeshTrackerPeerEntry *e = g_ptr_array_index (msg->peers, i);

    remember_peer (c, e->peer);
    if (i < (guint) load->offers)
      send_signal (load, index, e->peer, "offer");
    if (c->state != CONN_JOINED)
      return;
  }
}

static void
on_signal (Load * load, guint index, MeshTrackerMessage * msg)
{
  JsonObject *data;
  const gchar *kind;

  load->signals_received++;
  if (!msg->data || !JSON_NODE_HOLDS_OBJECT (msg->data)) {
    count_error (load, "bad-signal-data");
    return;
  }
  data = json_node_get_object (msg->data);
  histogram_add (&load->signal_latency, g_get_monotonic_time () -
      json_object_get_int_member_with_default (data, "t", 0));
  kind = json_object_get_string_member_with_default (data, "kind", "");
  if (load->conns[index].state != CONN_JOINED)
    return;
  remember_peer (&load->conns[index], msg->peer);
  if (g_str_equal (kind, "offer"))
    send_signal (load, index, msg->peer, "answer");
}

/* --- the WebTorrent protocol (--protocol webtorrent) ---------------------- */

/* Ids are 20-character "binary strings" in that protocol; ours are ASCII so
 * that they travel through JSON unchanged, and the tracker's echoes of them
 * are checked to be so before they go into a message of ours. */
static gboolean
wt_is_valid_id (const gchar * id)
{
  guint i;

  if (id == NULL || strlen (id) != WT_ID_LEN)
    return FALSE;
  for (i = 0; i < WT_ID_LEN; i++)
    if (!g_ascii_isalnum (id[i]) && id[i] != '-')
      return FALSE;
  return TRUE;
}

/* The string member @name of @o, or NULL when it is missing or not a
 * string (json-glib's getters warn, or return NULL, on other types). */
static const gchar *
wt_get_string (JsonObject * o, const gchar * name)
{
  JsonNode *node = json_object_get_member (o, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The members every announce of a client starts with. */
static gchar *
wt_announce_head (Load * load, guint index)
{
  return g_strdup_printf ("{\"action\":\"announce\",\"info_hash\":"
      "\"load-swarm-%09u\",\"peer_id\":\"-TL%02d%07u%08u\"",
      index % load->swarms, load->process % 100, index % 10000000,
      load->conns[index].generation % 100000000);
}

/* Fake SDP, as JSON string content: its origin line carries the send time
 * and an attribute the kind, for the relay latency at the receiver. */
static gchar *
wt_sdp (Load * load, const gchar * kind)
{
  return g_strdup_printf ("v=0\\r\\no=- %" G_GINT64_FORMAT
      " 2 IN IP4 127.0.0.1\\r\\na=x-load:%s\\r\\na=x-pad:%s\\r\\n",
      g_get_monotonic_time (), kind, load->padding);
}

/* An announce: "started" with @n_offers offers (the join), "stopped" (the
 * leave) or none (the periodic re-announce, our heartbeat). */
static void
wt_send_announce (Load * load, guint index, const gchar * event, gint n_offers)
{
  g_autofree gchar *head = wt_announce_head (load, index);
  GString *s = g_string_new (head);
  gint i;

  g_string_append_printf (s, ",\"numwant\":%d,\"uploaded\":0,"
      "\"downloaded\":0,\"left\":1", n_offers);
  if (event)
    g_string_append_printf (s, ",\"event\":\"%s\"", event);
  if (n_offers > 0) {
    g_string_append (s, ",\"offers\":[");
    for (i = 0; i < n_offers; i++) {
      g_autofree gchar *sdp = wt_sdp (load, "offer");

      g_string_append_printf (s, "%s{\"offer\":{\"type\":\"offer\",\"sdp\":"
          "\"%s\"},\"offer_id\":\"o%019" G_GUINT64_FORMAT "\"}",
          i > 0 ? "," : "", sdp, load->offer_ids++ % G_GUINT64_CONSTANT
          (10000000000000000000));
    }
    g_string_append_c (s, ']');
    /* sent to as many peers as the swarm has, less this one */
    load->signals_sent += n_offers;
  }
  g_string_append_c (s, '}');
  send_text (load, index, g_string_free (s, FALSE));
}

/* An answer to @to's offer @offer_id, or with @kind "candidate" a
 * background signal: the only message of the protocol addressed to one
 * peer. */
static void
wt_send_answer (Load * load, guint index, const gchar * to,
    const gchar * offer_id, const gchar * kind)
{
  g_autofree gchar *head = wt_announce_head (load, index);
  g_autofree gchar *sdp = wt_sdp (load, kind);

  send_text (load, index, g_strdup_printf ("%s,\"to_peer_id\":\"%s\","
          "\"offer_id\":\"%s\",\"answer\":{\"type\":\"answer\",\"sdp\":"
          "\"%s\"}}", head, to, offer_id, sdp));
  load->signals_sent++;
}

static void
wt_send_join (Load * load, guint index)
{
  Conn *c = &load->conns[index];

  c->state = CONN_JOINING;
  c->t_join = g_get_monotonic_time ();
  wt_send_announce (load, index, "started", load->offers);
}

/* A client that leaves closes its socket (the tracker does not). */
static void
wt_close (Load * load, guint index)
{
  static guint8 close_frame[] = { 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8 };

  send_raw (load, index, close_frame, sizeof close_frame);
  close_conn (load, index, NULL);
}

/* A reply to an announce (interval, complete, incomplete): the join's
 * answer, the leave's, or a re-announce's. */
static void
wt_on_reply (Load * load, guint index)
{
  switch (load->conns[index].state) {
    case CONN_JOINING:
      count_joined (load, index);
      break;
    case CONN_LEAVING:
      load->leaves++;
      wt_close (load, index);
      break;
    default:
      break;
  }
}

/* An offer or answer relayed by the tracker (@member says which). */
static void
wt_on_relayed (Load * load, guint index, JsonObject * o, const gchar * member)
{
  JsonNode *node = json_object_get_member (o, member);
  const gchar *from, *offer_id, *sdp, *t, *kind;

  from = wt_get_string (o, "peer_id");
  offer_id = wt_get_string (o, "offer_id");
  if (!JSON_NODE_HOLDS_OBJECT (node) || !wt_is_valid_id (from)
      || !wt_is_valid_id (offer_id)) {
    count_error (load, "bad-signal-data");
    return;
  }
  sdp = wt_get_string (json_node_get_object (node), "sdp");
  t = sdp ? strstr (sdp, "o=- ") : NULL;
  kind = sdp ? strstr (sdp, "a=x-load:") : NULL;
  if (t == NULL || kind == NULL) {
    count_error (load, "bad-signal-data");
    return;
  }
  load->signals_received++;
  histogram_add (&load->signal_latency, g_get_monotonic_time () -
      g_ascii_strtoll (t + 4, NULL, 10));
  if (load->conns[index].state != CONN_JOINED)
    return;
  remember_peer (&load->conns[index], from);
  if (g_str_equal (member, "offer") && g_str_has_prefix (kind + 9, "offer"))
    wt_send_answer (load, index, from, offer_id, "answer");
}

/* "failure reason": the protocol's only error, free text. */
static void
wt_on_failure (Load * load, JsonObject * o)
{
  const gchar *reason = wt_get_string (o, "failure reason");
  g_autofree gchar *kind = g_strdup_printf ("tracker:%.40s",
      reason ? reason : "?");

  g_strcanon (kind, G_CSET_a_2_z G_CSET_A_2_Z G_CSET_DIGITS ":-_ ", '_');
  count_error (load, kind);
}

static void
wt_on_text (Load * load, guint index, const gchar * text, gsize len)
{
  g_autoptr (JsonNode) root = mesh_tracker_parse_object (text, len, NULL);
  JsonObject *o;

  if (root == NULL) {
    count_error (load, "undecodable");
    return;
  }
  o = json_node_get_object (root);
  if (json_object_has_member (o, "failure reason"))
    wt_on_failure (load, o);
  else if (json_object_has_member (o, "offer"))
    wt_on_relayed (load, index, o, "offer");
  else if (json_object_has_member (o, "answer"))
    wt_on_relayed (load, index, o, "answer");
  else if (json_object_has_member (o, "interval"))
    wt_on_reply (load, index);
  else
    count_error (load, "unexpected-message");
}

/* A background signal from a random joined client to one it knows. */
static void
wt_send_background_signal (Load * load, guint index)
{
  Conn *c = &load->conns[index];
  gchar offer_id[WT_ID_LEN + 1];

  g_snprintf (offer_id, sizeof offer_id, "b%019" G_GUINT64_FORMAT,
      load->offer_ids++ % G_GUINT64_CONSTANT (10000000000000000000));
  wt_send_answer (load, index, c->known[g_random_int_range (0, c->n_known)],
      offer_id, "candidate");
}

static void
on_text (Load * load, guint index, const gchar * text, gsize len)
{
  MeshTrackerMessage msg;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *kind = NULL;

  if (load->webtorrent) {
    wt_on_text (load, index, text, len);
    return;
  }
  /* peer-joined and peer-left only count: no need to parse them; but the
   * welcome answers the join, and nothing may come before it */
  if (len > 14 && memcmp (text, "{\"type\":\"peer-", 14) == 0) {
    if (load->conns[index].state == CONN_JOINING)
      count_error (load, "before-welcome");
    load->peer_notices++;
    return;
  }
  if (!mesh_tracker_message_decode (&msg, MESH_TRACKER_TO_CLIENT, text, len,
          &error)) {
    count_error (load, "undecodable");
    mesh_tracker_message_clear (&msg);
    return;
  }
  switch (msg.type) {
    case MESH_TRACKER_MESSAGE_WELCOME:
      on_welcome (load, index, &msg);
      break;
    case MESH_TRACKER_MESSAGE_SIGNAL:
      if (load->conns[index].state == CONN_JOINING)
        count_error (load, "before-welcome");
      on_signal (load, index, &msg);
      break;
    case MESH_TRACKER_MESSAGE_ERROR:
      kind = g_strdup_printf ("tracker:%s", msg.code ? msg.code : "?");
      count_error (load, kind);
      break;
    default:
      break;
  }
  mesh_tracker_message_clear (&msg);
}

/* Handles the frames complete in @buf; returns the bytes used, or -1 when
 * the connection was closed. */
static gssize
parse_frames (Load * load, guint index, guint8 * buf, gsize len)
{
  gsize used = 0;

  while (len - used >= 2) {
    guint8 *p = buf + used;
    guint op = p[0] & 0x0f;
    gsize head = 2;
    guint64 size = p[1] & 0x7f;

    if (size == 126) {
      if (len - used < 4)
        break;
      size = (p[2] << 8) | p[3];
      head = 4;
    } else if (size == 127) {
      close_conn (load, index, "frame-too-large");
      return -1;
    }
    if ((p[1] & 0x80) || !(p[0] & 0x80) || size > MAX_FRAME) {
      close_conn (load, index, "bad-frame");
      return -1;
    }
    if (len - used < head + size)
      break;
    used += head + size;
    if (op == 0x1) {
      on_text (load, index, (const gchar *) p + head, size);
    } else if (op == 0x8) {
      Conn *c = &load->conns[index];

      if (c->state == CONN_LEAVING)
        load->leaves++;
      close_conn (load, index, c->state == CONN_LEAVING ? NULL : "closed");
      return -1;
    } else if (op == 0x9 && size <= 125) {
      guint8 pong[2 + 4 + 125] = { 0x8a, 0x80 | size, 0, 0, 0, 0 };

      memcpy (pong + 6, p + head, size);        /* mask 0: payload as is */
      send_raw (load, index, pong, 6 + size);
    }
    if (load->conns[index].state == CONN_IDLE)
      return -1;
  }
  return used;
}

/* The tracker's answer to the upgrade; returns the bytes it took, 0 while
 * incomplete, -1 when refused. */
static gssize
parse_handshake (Load * load, guint index, const guint8 * buf, gsize len)
{
  const gchar *end = g_strstr_len ((const gchar *) buf, len, "\r\n\r\n");

  if (end == NULL) {
    if (len > 8192) {
      close_conn (load, index, "handshake-too-long");
      return -1;
    }
    return 0;
  }
  if (len < 12 || memcmp (buf, "HTTP/1.1 101", 12) != 0) {
    /* "http-" and the status code, if it is three digits: it ends up in
     * the JSON report */
    gchar status[9] = "http-???";

    if (len >= 12 && g_ascii_isdigit (buf[9]) && g_ascii_isdigit (buf[10])
        && g_ascii_isdigit (buf[11]))
      memcpy (status + 5, buf + 9, 3);
    close_conn (load, index, status);
    return -1;
  }
  if (load->webtorrent)
    wt_send_join (load, index);
  else
    send_join (load, index);
  return end + 4 - (const gchar *) buf;
}

static gssize
parse_input (Load * load, guint index, guint8 * buf, gsize len)
{
  gssize used = 0, n;

  if (load->conns[index].state == CONN_HANDSHAKE) {
    used = parse_handshake (load, index, buf, len);
    if (used <= 0)
      return used;
  }
  n = parse_frames (load, index, buf + used, len - used);
  return n < 0 ? -1 : used + n;
}

/* Reads what there is; complete frames are handled from the shared buffer,
 * an incomplete one is kept by the connection. */
static void
on_readable (Load * load, guint index, guint8 * scratch, gsize scratch_size)
{
  Conn *c = &load->conns[index];
  gssize n, used;
  guint8 *buf;
  gsize len;

  n = recv (c->fd, scratch, scratch_size, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
    if (c->state == CONN_LEAVING)
      load->leaves++;
    close_conn (load, index, c->state == CONN_LEAVING ? NULL : "eof");
    return;
  }
  if (n < 0)
    return;
  load->bytes_in += n;
  if (c->in_len + n > IO_LIMIT) {
    close_conn (load, index, "input-backlog");
    return;
  }
  if (c->in) {
    c->in = g_realloc (c->in, c->in_len + n);
    memcpy (c->in + c->in_len, scratch, n);
    c->in_len += n;
    buf = c->in;
    len = c->in_len;
  } else {
    buf = scratch;
    len = n;
  }
  used = parse_input (load, index, buf, len);
  if (used < 0)
    return;
  if ((gsize) used == len) {
    g_clear_pointer (&c->in, g_free);
    c->in_len = 0;
  } else if (buf == c->in) {
    memmove (c->in, c->in + used, len - used);
    c->in_len = len - used;
  } else {
    c->in = g_memdup2 (buf + used, len - used);
    c->in_len = len - used;
  }
}

/* --- pacing --------------------------------------------------------------- */

static gint
random_joined (Load * load)
{
  guint tries;

  for (tries = 0; tries < 16; tries++) {
    guint i = g_random_int_range (0, load->peers);

    if (load->conns[i].state == CONN_JOINED)
      return i;
  }
  return -1;
}

/* Every TICK_MS: joins, churn and background signals by their rates, each
 * a token bucket so that fractional rates work. */
static void
pace (Load * load, gdouble dt, gdouble * join_tokens, gdouble * churn_tokens,
    gdouble * signal_tokens)
{
  *join_tokens = MIN (*join_tokens + load->rate * dt, load->rate + 1);
  while (*join_tokens >= 1 && load->idle_len > 0
      && load->pending < (guint) load->max_pending) {
    guint index = load->idle[load->idle_head];

    load->idle_head = (load->idle_head + 1) % load->peers;
    load->idle_len--;
    *join_tokens -= 1;
    start_connect (load, index);
  }
  *churn_tokens = MIN (*churn_tokens + load->churn * dt, load->churn + 1);
  while (*churn_tokens >= 1) {
    gint i = random_joined (load);

    *churn_tokens -= 1;
    if (i < 0)
      break;
    load->conns[i].state = CONN_LEAVING;
    /* the tracker closes at once; past this the leave counts as lost */
    load->conns[i].next_heartbeat = g_get_monotonic_time () +
        PENDING_TIMEOUT_US;
    if (load->webtorrent)
      wt_send_announce (load, i, "stopped", 0);
    else
      send_text (load, i,
          mesh_tracker_encode_bare (MESH_TRACKER_MESSAGE_LEAVE));
  }
  *signal_tokens = MIN (*signal_tokens + load->signal_rate * dt,
      load->signal_rate + 1);
  while (*signal_tokens >= 1) {
    gint i = random_joined (load);

    *signal_tokens -= 1;
    if (i < 0 || load->conns[i].n_known == 0)
      continue;
    if (load->webtorrent) {
      wt_send_background_signal (load, i);
      continue;
    }
    send_signal (load, i, load->conns[i].known[g_random_int_range (0,
                load->conns[i].n_known)], "candidate");
  }
}

/* Once a second: heartbeats, qos reports, and clients stuck on the way in. */
static void
sweep (Load * load, gint64 now)
{
  guint i;

  for (i = 0; i < (guint) load->peers; i++) {
    Conn *c = &load->conns[i];

    if (c->state == CONN_LEAVING && now >= c->next_heartbeat)
      close_conn (load, i, "timeout-leave");
    if (c->state == CONN_JOINED && now >= c->next_heartbeat) {
      if (load->webtorrent)
        wt_send_announce (load, i, NULL, 0);
      else
        send_text (load, i,
            mesh_tracker_encode_bare (MESH_TRACKER_MESSAGE_HEARTBEAT));
      c->next_heartbeat = now + HEARTBEAT_S * G_USEC_PER_SEC;
      load->heartbeats_sent++;
    }
    if (c->state == CONN_JOINED && load->qos_interval > 0 && now >= c->next_qos) {
      send_qos (load, i);
      c->next_qos = now + load->qos_interval * G_USEC_PER_SEC;
    }
    if (c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKE
        || c->state == CONN_JOINING) {
      /* which step hangs tells what the tracker is short of: accepting
       * (connect), the HTTP upgrade (handshake) or the join itself */
      static const gchar *const step[] = { NULL, "timeout-connect",
        "timeout-handshake", "timeout-join"
      };

      if (now - c->t_connect > PENDING_TIMEOUT_US)
        close_conn (load, i, step[c->state]);
    }
  }
}

/* --- results -------------------------------------------------------------- */

static void
append_histogram (GString * s, const gchar * name, const Histogram * h)
{
  gboolean first = TRUE;
  guint i;

  g_string_append_printf (s, ",\"%s\":[", name);
  for (i = 0; i < HIST_SIZE; i++) {
    if (h->count[i] == 0)
      continue;
    g_string_append_printf (s, "%s[%u,%" G_GUINT64_FORMAT "]",
        first ? "" : ",", i, h->count[i]);
    first = FALSE;
  }
  g_string_append_c (s, ']');
}

static gsize
self_rss_kib (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmHWM:");
  return line ? g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

/* One JSON line on stdout, for tracker-load.py (or a human). Histograms
 * are [bucket, count] pairs; the bucket's lower bound in us is 2^e * (16 +
 * sub) / 16 for bucket 16 + (e - 4) * 16 + sub, or the bucket itself below
 * 16. */
static void
print_results (Load * load, gint64 now)
{
  GString *s = g_string_new (NULL);
  GHashTableIter it;
  gpointer key, value;
  gboolean first = TRUE;

  g_string_append_printf (s, "{\"process\":%d,\"peers\":%d,\"elapsed_s\":%.3f,"
      "\"all_joined_s\":%.3f,\"joined_end\":%u,\"joined_peak\":%u,"
      "\"joins_started\":%" G_GUINT64_FORMAT ",\"joins_done\":%"
      G_GUINT64_FORMAT ",\"leaves\":%" G_GUINT64_FORMAT ",\"signals_sent\":%"
      G_GUINT64_FORMAT ",\"signals_received\":%" G_GUINT64_FORMAT
      ",\"qos_sent\":%" G_GUINT64_FORMAT ",\"heartbeats_sent\":%"
      G_GUINT64_FORMAT ",\"peer_notices\":%" G_GUINT64_FORMAT
      ",\"bytes_out\":%" G_GUINT64_FORMAT ",\"bytes_in\":%" G_GUINT64_FORMAT
      ",\"rss_peak_kib\":%" G_GSIZE_FORMAT, load->process, load->peers,
      (now - load->t_start) / 1e6, load->t_all_joined ?
      (load->t_all_joined - load->t_start) / 1e6 : -1.0, load->joined,
      load->joined_peak, load->joins_started, load->joins_done, load->leaves,
      load->signals_sent, load->signals_received, load->qos_sent,
      load->heartbeats_sent, load->peer_notices, load->bytes_out,
      load->bytes_in, self_rss_kib ());
  append_histogram (s, "join_us", &load->join_latency);
  append_histogram (s, "connect_us", &load->connect_latency);
  append_histogram (s, "signal_us", &load->signal_latency);
  g_string_append (s, ",\"errors\":{");
  g_hash_table_iter_init (&it, load->errors);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    g_string_append_printf (s, "%s\"%s\":%u", first ? "" : ",",
        (const gchar *) key, GPOINTER_TO_UINT (value));
    first = FALSE;
  }
  g_string_append (s, "}}\n");
  fputs (s->str, stdout);
  fflush (stdout);
  g_string_free (s, TRUE);
}

/* --- set-up --------------------------------------------------------------- */

static gboolean
check_options (Load * load, const gchar * protocol, GError ** error)
{
  if (protocol && !g_str_equal (protocol, "mesh")
      && !g_str_equal (protocol, "webtorrent")) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--protocol is mesh or webtorrent");
    return FALSE;
  }
  load->webtorrent = protocol && g_str_equal (protocol, "webtorrent");
  if (load->webtorrent) {
    /* the protocol has no qos report; the tracker takes so many offers */
    load->qos_interval = 0;
    if (load->offers > WT_MAX_OFFERS) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--offers is at most %d with --protocol webtorrent", WT_MAX_OFFERS);
      return FALSE;
    }
  }
  if (inet_pton (AF_INET, load->host, &load->server.sin_addr) != 1
      || (ntohl (load->server.sin_addr.s_addr) >> 24) != 127) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--host must be an address in 127.0.0.0/8 (loopback only)");
    return FALSE;
  }
  load->server.sin_family = AF_INET;
  load->server.sin_port = htons (load->port);
  if (load->port <= 0 || load->port > 65535 || load->peers < 1
      || load->peers > MAX_PEERS || load->swarms < 1 || load->rate <= 0
      || load->offers < 0 || load->signal_rate < 0 || load->churn < 0
      || load->signal_size < 0 || load->signal_size > 12000
      || load->qos_interval < 0 || load->seconds < 1 || load->seconds > 3600
      || load->src_addrs < 0 || load->src_addrs > 250 || load->src_base < 1
      || load->src_base + load->src_addrs > 255 || load->max_pending < 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "an option is out of range (see --help)");
    return FALSE;
  }
  return TRUE;
}

/* Each client needs a descriptor: raise the soft limit up to the hard one. */
static gboolean
raise_fd_limit (guint needed, GError ** error)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < needed) {
    rl.rlim_cur = MIN (rl.rlim_max, needed);
    setrlimit (RLIMIT_NOFILE, &rl);
  }
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < needed) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "RLIMIT_NOFILE is below the %u descriptors needed", needed);
    return FALSE;
  }
  return TRUE;
}

static void
run (Load * load)
{
  struct epoll_event events[256];
  static guint8 scratch[128 * 1024];
  gdouble join_tokens = 1, churn_tokens = 0, signal_tokens = 0;
  gint64 last_tick, next_sweep, end;
  gint i, n;

  load->t_start = last_tick = g_get_monotonic_time ();
  next_sweep = load->t_start + G_USEC_PER_SEC;
  end = load->t_start + load->seconds * G_USEC_PER_SEC;
  for (;;) {
    gint64 now = g_get_monotonic_time ();

    if (now >= end)
      break;
    if (now - last_tick >= TICK_MS * 1000) {
      pace (load, (now - last_tick) / 1e6, &join_tokens, &churn_tokens,
          &signal_tokens);
      last_tick = now;
    }
    if (now >= next_sweep) {
      sweep (load, now);
      next_sweep += G_USEC_PER_SEC;
    }
    n = epoll_wait (load->epfd, events, G_N_ELEMENTS (events), TICK_MS);
    for (i = 0; i < n; i++) {
      guint index = events[i].data.u32;
      Conn *c = &load->conns[index];

      if (c->state == CONN_CONNECTING) {
        on_connected (load, index);
        continue;
      }
      if ((events[i].events & EPOLLOUT) && c->out_len > 0)
        flush_output (load, index);
      if (c->state != CONN_IDLE && (events[i].events & (EPOLLIN | EPOLLHUP
                  | EPOLLERR)))
        on_readable (load, index, scratch, sizeof scratch);
    }
  }
  print_results (load, g_get_monotonic_time ());
}

/* Closes what is still open and frees everything (so that a leak checker
 * sees only real leaks). */
static void
free_load (Load * load)
{
  guint i;

  for (i = 0; i < (guint) load->peers; i++) {
    if (load->conns[i].fd >= 0)
      close (load->conns[i].fd);
    g_free (load->conns[i].in);
    g_free (load->conns[i].out);
  }
  close (load->epfd);
  g_free (load->conns);
  g_free (load->idle);
  g_free (load->padding);
  g_free (load->host);
  g_hash_table_destroy (load->errors);
}

int
main (int argc, char **argv)
{
  Load load = {.host = NULL,.port = 8765,.peers = 1000,.swarms = 10,
    .rate = 500,.offers = 3,.signal_rate = 0,.signal_size = 600,
    .qos_interval = 5,.churn = 0,.seconds = 30,.process = 0,.src_addrs = 0,
    .src_base = 2,.max_pending = 100
  };
  g_autofree gchar *protocol = NULL;
  GOptionEntry entries[] = {
    {"host", 0, 0, G_OPTION_ARG_STRING, &load.host,
        "Tracker address, in 127.0.0.0/8 (default 127.0.0.1)", "ADDR"},
    {"port", 0, 0, G_OPTION_ARG_INT, &load.port, "Tracker port", "PORT"},
    {"peers", 0, 0, G_OPTION_ARG_INT, &load.peers,
        "Clients of this process (default 1000)", "N"},
    {"swarms", 0, 0, G_OPTION_ARG_INT, &load.swarms,
        "Swarms they spread over (default 10)", "S"},
    {"rate", 0, 0, G_OPTION_ARG_DOUBLE, &load.rate,
        "Joins (connections started) per second (default 500)", "R"},
    {"offers", 0, 0, G_OPTION_ARG_INT, &load.offers,
        "Offers sent to listed peers on each welcome, each answered "
          "(default 3)", "N"},
    {"signal-rate", 0, 0, G_OPTION_ARG_DOUBLE, &load.signal_rate,
        "Background signals per second, to known peers (default 0)", "R"},
    {"signal-size", 0, 0, G_OPTION_ARG_INT, &load.signal_size,
        "Bytes of fake SDP in each signal (default 600)", "BYTES"},
    {"qos-interval", 0, 0, G_OPTION_ARG_INT, &load.qos_interval,
        "Seconds between qos reports of a peer, 0 = none (default 5)", "S"},
    {"churn", 0, 0, G_OPTION_ARG_DOUBLE, &load.churn,
        "Leaves per second, each followed by a rejoin (default 0)", "R"},
    {"seconds", 0, 0, G_OPTION_ARG_INT, &load.seconds,
        "Run time (default 30)", "S"},
    {"process", 0, 0, G_OPTION_ARG_INT, &load.process,
        "This process's number, part of its peer ids (default 0)", "I"},
    {"src-addrs", 0, 0, G_OPTION_ARG_INT, &load.src_addrs,
        "Source addresses 127.0.0.B .. B+K-1 to spread clients over, 0 = "
          "let the kernel choose (default 0)", "K"},
    {"src-base", 0, 0, G_OPTION_ARG_INT, &load.src_base,
        "Last byte B of the first source address (default 2)", "B"},
    {"max-pending", 0, 0, G_OPTION_ARG_INT, &load.max_pending,
        "Joins in progress at once (default 100)", "N"},
    {"protocol", 0, 0, G_OPTION_ARG_STRING, &protocol,
        "mesh (mesh-tracker's, the default) or webtorrent (a WebTorrent "
          "tracker's announces; no qos)", "P"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("- load generator for mesh-tracker (and, to "
      "compare, a WebTorrent tracker)");
  g_autoptr (GError) error = NULL;
  guint i;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    goto fail;
  if (load.host == NULL)
    load.host = g_strdup ("127.0.0.1");
  if (!check_options (&load, protocol, &error)
      || !raise_fd_limit (load.peers + 64, &error))
    goto fail;
  load.epfd = epoll_create1 (EPOLL_CLOEXEC);
  load.conns = g_new0 (Conn, load.peers);
  load.idle = g_new (guint, load.peers);
  load.errors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  load.padding = g_strnfill (load.signal_size, 'x');
  for (i = 0; i < (guint) load.peers; i++) {
    load.conns[i].fd = -1;
    push_idle (&load, i);
  }
  run (&load);
  free_load (&load);
  return 0;

fail:
  g_printerr ("tracker-load: %s\n", error->message);
  return 1;
}
