/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mesh-shaper: the "internet" of the network lab (bench/lab/). One process
 * holds one TUN device per public lab host (origin, tracker, TURN server,
 * each public viewer, each NAT router's WAN side) and forwards the IPv4
 * packets they send to the host that owns the destination address, through
 * the sender's uplink and then the receiver's downlink (shaper-link.h:
 * delay, jitter without reordering, random loss, rate cap with a drop-tail
 * queue). The kernel here has no netem, hence a userspace emulator.
 *
 *   mesh-shaper --config FILE [--exit-on-eof]
 *
 * The config file (GKeyFile, written by lab.py):
 *
 *   [shaper]
 *   seed=1                        # loss and jitter draws (default 1)
 *   max-held-bytes=67108864       # packets in flight, all links (64 MiB)
 *
 *   [host v0]
 *   netns=/run/netns/mlab-123-v0  # create the TUN there (default: here)
 *   dev=wan                       # its name (default wan)
 *   address=203.0.113.10          # IPv4 addresses it owns (; separated)
 *   up-delay-ms=12.5              # and up-jitter-ms, up-loss (0 - 1),
 *   down-rate-kbit=20000          # up-rate-kbit (0 = no cap), up-queue-bytes
 *                                 # (0 = 100 ms at the rate), same for down-
 *
 * The TUN devices are created (in each host's namespace: the fd stays ours)
 * but not configured: the lab gives them their address and routes, then
 * traffic flows. Once they exist it prints "mesh-shaper ready: N hosts".
 *
 * Packets to an address no host owns are dropped: nothing leaves the lab.
 * SIGUSR1 prints the counters as one JSON line ("type": "stats"); SIGINT
 * and SIGTERM print them and exit 0. With --exit-on-eof it also exits when
 * its standard input reaches end of file, so that it does not outlive a
 * lab runner that was killed. Exit status 1 when it could not start, 2 on
 * bad options or config.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "shaper-link.h"

#define READ_BUDGET 64          /* packets read from one TUN per wake-up,
                                 * so that one busy host cannot starve the
                                 * others or the timers */
#define MAX_PACKET 65536
#define DEFAULT_MAX_HELD (64 * 1024 * 1024)

typedef struct
{
  gchar *name;
  gchar *netns;
  gchar *dev;
  GArray *addresses;            /* guint32, network order */
  int fd;
  ShaperLink up;
  ShaperLink down;
  guint64 write_errors;
} Host;

typedef struct
{
  Host *dst;
  gboolean on_downlink;         /* past the sender's uplink already */
  gsize len;
  guint8 data[];
} Packet;

typedef struct
{
  GPtrArray *hosts;
  GHashTable *routes;           /* address -> Host */
  ShaperHeap heap;
  guint64 held_bytes;
  guint64 max_held_bytes;
  guint64 unroutable;
  guint64 not_ipv4;
  guint64 overflow_drops;
  guint32 seed;
  int epoll_fd;
  int timer_fd;
  int signal_fd;
  gboolean exit_on_eof;
  gboolean quit;
} Shaper;

/* epoll data: which kind of fd woke us */
enum
{
  SOURCE_TIMER = -1,
  SOURCE_SIGNAL = -2,
  SOURCE_STDIN = -3,
};

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
host_free (Host * host)
{
  if (host->fd >= 0)
    close (host->fd);
  shaper_link_clear (&host->up);
  shaper_link_clear (&host->down);
  g_array_unref (host->addresses);
  g_free (host->name);
  g_free (host->netns);
  g_free (host->dev);
  g_free (host);
}

/* ------------------------------------------------------------------------ */
/* Config */

static gdouble
key_double (GKeyFile * kf, const gchar * group, const gchar * dir,
    const gchar * key, gdouble min, gdouble max, GError ** error)
{
  gchar *name = g_strdup_printf ("%s-%s", dir, key);
  gdouble value = 0;

  if (g_key_file_has_key (kf, group, name, NULL)) {
    GError *err = NULL;

    value = g_key_file_get_double (kf, group, name, &err);
    if (!err && (value < min || value > max))
      g_set_error (&err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
          "[%s] %s must be in %g - %g", group, name, min, max);
    if (err)
      g_propagate_error (error, err);
  }
  g_free (name);
  return value;
}

static gboolean
parse_link (GKeyFile * kf, const gchar * group, const gchar * dir,
    ShaperLinkParams * p, GError ** error)
{
  GError *err = NULL;
  gdouble delay_ms = key_double (kf, group, dir, "delay-ms", 0, 60000, &err);
  gdouble jitter_ms = err ? 0 : key_double (kf, group, dir, "jitter-ms", 0,
      60000, &err);
  gdouble loss = err ? 0 : key_double (kf, group, dir, "loss", 0, 1, &err);
  gdouble rate_kbit = err ? 0 : key_double (kf, group, dir, "rate-kbit", 0,
      1e8, &err);
  gdouble queue = err ? 0 : key_double (kf, group, dir, "queue-bytes", 0,
      1e9, &err);

  if (err) {
    g_propagate_error (error, err);
    return FALSE;
  }
  p->delay_ns = (gint64) (delay_ms * 1e6);
  p->jitter_ns = (gint64) (jitter_ms * 1e6);
  p->loss = loss;
  p->rate_bps = (guint64) (rate_kbit * 1000);
  p->queue_bytes = (guint64) queue;
  return TRUE;
}

static gboolean
parse_addresses (GKeyFile * kf, const gchar * group, Host * host,
    GError ** error)
{
  gchar **list = g_key_file_get_string_list (kf, group, "address", NULL,
      error);
  gboolean ok = list != NULL;
  guint i;

  for (i = 0; ok && list[i]; i++) {
    struct in_addr addr;

    if (inet_pton (AF_INET, g_strstrip (list[i]), &addr) != 1) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
          "[%s] address: '%s' is not an IPv4 address", group, list[i]);
      ok = FALSE;
    } else {
      g_array_append_val (host->addresses, addr.s_addr);
    }
  }
  g_strfreev (list);
  return ok;
}

static Host *
parse_host (GKeyFile * kf, const gchar * group, guint index, guint32 seed,
    GError ** error)
{
  Host *host = g_new0 (Host, 1);
  ShaperLinkParams up = { 0, }, down = { 0, };

  host->fd = -1;
  host->name = g_strdup (group + strlen ("host "));
  host->addresses = g_array_new (FALSE, FALSE, sizeof (guint32));
  host->netns = g_key_file_get_string (kf, group, "netns", NULL);
  host->dev = g_key_file_get_string (kf, group, "dev", NULL);
  if (!host->dev)
    host->dev = g_strdup ("wan");
  if (strlen (host->dev) >= IFNAMSIZ || !*host->dev) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
        "[%s] dev: '%s' is not a valid interface name", group, host->dev);
  } else if (parse_addresses (kf, group, host, error)
      && parse_link (kf, group, "up", &up, error)
      && parse_link (kf, group, "down", &down, error)) {
    /* each link gets its own seed, so that adding a host does not change
     * the draws of the others */
    shaper_link_init (&host->up, &up, seed + 2 * index);
    shaper_link_init (&host->down, &down, seed + 2 * index + 1);
    return host;
  }
  host_free (host);
  return NULL;
}

static gboolean
add_routes (Shaper * shaper, Host * host, GError ** error)
{
  guint i;

  for (i = 0; i < host->addresses->len; i++) {
    guint32 addr = g_array_index (host->addresses, guint32, i);

    if (g_hash_table_contains (shaper->routes, GUINT_TO_POINTER (addr))) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
          "[host %s]: an address is owned by two hosts", host->name);
      return FALSE;
    }
    g_hash_table_insert (shaper->routes, GUINT_TO_POINTER (addr), host);
  }
  return TRUE;
}

static gboolean
load_config (Shaper * shaper, const gchar * path, GError ** error)
{
  GKeyFile *kf = g_key_file_new ();
  gchar **groups = NULL;
  gboolean ok = g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, error);
  guint i;

  if (ok && g_key_file_has_key (kf, "shaper", "seed", NULL))
    shaper->seed = g_key_file_get_integer (kf, "shaper", "seed", NULL);
  if (ok && g_key_file_has_key (kf, "shaper", "max-held-bytes", NULL))
    shaper->max_held_bytes = g_key_file_get_uint64 (kf, "shaper",
        "max-held-bytes", NULL);
  if (ok)
    groups = g_key_file_get_groups (kf, NULL);
  for (i = 0; ok && groups[i]; i++) {
    Host *host;

    if (!g_str_has_prefix (groups[i], "host "))
      continue;
    host = parse_host (kf, groups[i], shaper->hosts->len, shaper->seed, error);
    ok = host != NULL;
    if (ok) {
      g_ptr_array_add (shaper->hosts, host);
      ok = add_routes (shaper, host, error);
    }
  }
  if (ok && shaper->hosts->len == 0) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
        "%s: no [host NAME] group", path);
    ok = FALSE;
  }
  g_strfreev (groups);
  g_key_file_unref (kf);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* TUN devices */

static int
tun_create (const gchar * dev, GError ** error)
{
  struct ifreq ifr;
  int fd = open ("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

  if (fd < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "/dev/net/tun: %s", g_strerror (errno));
    return -1;
  }
  memset (&ifr, 0, sizeof (ifr));
  /* IFF_NO_PI: bare IP packets, the first nibble tells the version */
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  g_strlcpy (ifr.ifr_name, dev, IFNAMSIZ);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "TUNSETIFF %s: %s", dev, g_strerror (errno));
    close (fd);
    return -1;
  }
  return fd;
}

/* The device belongs to the namespace the process is in when it is
 * created; the fd keeps working from here once we are back home. */
static int
tun_create_in (const gchar * netns, const gchar * dev, GError ** error)
{
  int home, target, fd;

  if (!netns)
    return tun_create (dev, error);
  home = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  target = open (netns, O_RDONLY | O_CLOEXEC);
  if (home < 0 || target < 0 || setns (target, CLONE_NEWNET) < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "entering %s: %s", netns, g_strerror (errno));
    fd = -1;
  } else {
    fd = tun_create (dev, error);
    /* staying in a host's namespace would be a lab with crossed wires */
    if (setns (home, CLONE_NEWNET) < 0)
      g_error ("cannot return to our network namespace: %s",
          g_strerror (errno));
  }
  if (home >= 0)
    close (home);
  if (target >= 0)
    close (target);
  return fd;
}

/* ------------------------------------------------------------------------ */
/* Forwarding */

static void
packet_free (gpointer data)
{
  g_free (data);
}

static Host *
route (Shaper * shaper, const guint8 * data, gsize len)
{
  guint32 dst;

  memcpy (&dst, data + 16, sizeof (dst));
  return g_hash_table_lookup (shaper->routes, GUINT_TO_POINTER (dst));
}

/* A packet the kernel of `src` sent: through src's uplink, then (from
 * run_due) dst's downlink. */
static void
on_packet (Shaper * shaper, Host * src, const guint8 * data, gsize len,
    gint64 now)
{
  Host *dst;
  Packet *packet;
  gint64 departure;

  if (len < 20 || (data[0] >> 4) != 4) {
    shaper->not_ipv4++;
    return;
  }
  dst = route (shaper, data, len);
  if (!dst || dst == src) {
    shaper->unroutable++;
    return;
  }
  if (shaper->held_bytes + len > shaper->max_held_bytes) {
    shaper->overflow_drops++;
    return;
  }
  if (shaper_link_offer (&src->up, now, len, &departure) != SHAPER_PASS)
    return;
  packet = g_malloc (sizeof (Packet) + len);
  packet->dst = dst;
  packet->on_downlink = FALSE;
  packet->len = len;
  memcpy (packet->data, data, len);
  shaper->held_bytes += len;
  shaper_heap_push (&shaper->heap, departure, packet);
}

static void
read_host (Shaper * shaper, Host * host)
{
  static guint8 buf[MAX_PACKET];
  gint64 now = now_ns ();
  guint i;

  for (i = 0; i < READ_BUDGET; i++) {
    ssize_t n = read (host->fd, buf, sizeof (buf));

    if (n <= 0)
      return;
    on_packet (shaper, host, buf, n, now);
  }
}

static void
deliver (Shaper * shaper, Packet * packet)
{
  Host *dst = packet->dst;

  /* a full TUN queue (EAGAIN) is a drop, as a full NIC ring would be */
  if (write (dst->fd, packet->data, packet->len) != (ssize_t) packet->len)
    dst->write_errors++;
}

/* Moves every packet whose time has come to its next stage. The downlink
 * is offered the packet at the time it left the uplink, not at the time we
 * got round to it, so that a late wake-up does not shift the schedule. */
static void
run_due (Shaper * shaper, gint64 now)
{
  gint64 time;

  while (shaper_heap_peek (&shaper->heap, &time) && time <= now) {
    Packet *packet = shaper_heap_pop (&shaper->heap, &time);
    gint64 departure;

    if (!packet->on_downlink) {
      packet->on_downlink = TRUE;
      if (shaper_link_offer (&packet->dst->down, time, packet->len,
              &departure) == SHAPER_PASS) {
        shaper_heap_push (&shaper->heap, departure, packet);
        continue;
      }
    } else {
      deliver (shaper, packet);
    }
    shaper->held_bytes -= packet->len;
    packet_free (packet);
  }
}

static void
arm_timer (Shaper * shaper)
{
  struct itimerspec spec = { {0, 0}, {0, 0} };
  gint64 time;

  if (shaper_heap_peek (&shaper->heap, &time)) {
    /* 0 would disarm the timer */
    time = MAX (time, 1);
    spec.it_value.tv_sec = time / 1000000000;
    spec.it_value.tv_nsec = time % 1000000000;
  }
  timerfd_settime (shaper->timer_fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

/* ------------------------------------------------------------------------ */
/* Counters */

static void
append_link (GString * out, const gchar * name, const ShaperLink * link)
{
  const ShaperLinkStats *s = &link->stats;

  g_string_append_printf (out, "\"%s\": {\"packets\": %" G_GUINT64_FORMAT
      ", \"bytes\": %" G_GUINT64_FORMAT ", \"sent_packets\": %"
      G_GUINT64_FORMAT ", \"sent_bytes\": %" G_GUINT64_FORMAT
      ", \"loss_drops\": %" G_GUINT64_FORMAT ", \"queue_drops\": %"
      G_GUINT64_FORMAT "}", name, s->packets, s->bytes, s->sent_packets,
      s->sent_bytes, s->loss_drops, s->queue_drops);
}

static void
print_stats (Shaper * shaper)
{
  GString *out = g_string_new ("{\"type\": \"stats\", \"hosts\": {");
  guint i;

  for (i = 0; i < shaper->hosts->len; i++) {
    Host *host = g_ptr_array_index (shaper->hosts, i);

    /* host names come from the lab's config: plain identifiers */
    g_string_append_printf (out, "%s\"%s\": {", i ? ", " : "", host->name);
    append_link (out, "up", &host->up);
    g_string_append (out, ", ");
    append_link (out, "down", &host->down);
    g_string_append_printf (out, ", \"write_errors\": %" G_GUINT64_FORMAT
        "}", host->write_errors);
  }
  g_string_append_printf (out, "}, \"unroutable\": %" G_GUINT64_FORMAT
      ", \"not_ipv4\": %" G_GUINT64_FORMAT ", \"overflow_drops\": %"
      G_GUINT64_FORMAT ", \"in_flight\": %u}\n", shaper->unroutable,
      shaper->not_ipv4, shaper->overflow_drops,
      shaper_heap_size (&shaper->heap));
  fputs (out->str, stdout);
  fflush (stdout);
  g_string_free (out, TRUE);
}

/* ------------------------------------------------------------------------ */
/* Main loop */

static void
on_signal (Shaper * shaper)
{
  struct signalfd_siginfo info;

  while (read (shaper->signal_fd, &info, sizeof (info)) == sizeof (info)) {
    print_stats (shaper);
    if (info.ssi_signo != SIGUSR1)
      shaper->quit = TRUE;
  }
}

static void
on_stdin (Shaper * shaper)
{
  gchar buf[256];
  ssize_t n = read (STDIN_FILENO, buf, sizeof (buf));

  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
    shaper->quit = TRUE;
}

static void
dispatch (Shaper * shaper, const struct epoll_event *ev)
{
  guint64 expirations;

  if (ev->data.u64 == (guint64) SOURCE_TIMER) {
    if (read (shaper->timer_fd, &expirations, sizeof (expirations)) < 0)
      return;                   /* EAGAIN: already handled */
  } else if (ev->data.u64 == (guint64) SOURCE_SIGNAL) {
    on_signal (shaper);
  } else if (ev->data.u64 == (guint64) SOURCE_STDIN) {
    on_stdin (shaper);
  } else {
    read_host (shaper, g_ptr_array_index (shaper->hosts, ev->data.u64));
  }
}

static gboolean
watch (Shaper * shaper, int fd, guint64 tag, GError ** error)
{
  struct epoll_event ev = {.events = EPOLLIN,.data.u64 = tag };

  if (epoll_ctl (shaper->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "epoll_ctl: %s", g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

static gboolean
setup_loop (Shaper * shaper, GError ** error)
{
  sigset_t mask;
  guint i;

  sigemptyset (&mask);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGUSR1);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  signal (SIGPIPE, SIG_IGN);
  shaper->signal_fd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  shaper->timer_fd = timerfd_create (CLOCK_MONOTONIC,
      TFD_NONBLOCK | TFD_CLOEXEC);
  shaper->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (shaper->signal_fd < 0 || shaper->timer_fd < 0 || shaper->epoll_fd < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "setting up the loop: %s", g_strerror (errno));
    return FALSE;
  }
  if (!watch (shaper, shaper->signal_fd, (guint64) SOURCE_SIGNAL, error)
      || !watch (shaper, shaper->timer_fd, (guint64) SOURCE_TIMER, error))
    return FALSE;
  if (shaper->exit_on_eof
      && !watch (shaper, STDIN_FILENO, (guint64) SOURCE_STDIN, error))
    return FALSE;
  for (i = 0; i < shaper->hosts->len; i++) {
    Host *host = g_ptr_array_index (shaper->hosts, i);

    host->fd = tun_create_in (host->netns, host->dev, error);
    if (host->fd < 0 || !watch (shaper, host->fd, i, error))
      return FALSE;
  }
  return TRUE;
}

static void
run (Shaper * shaper)
{
  struct epoll_event events[32];

  while (!shaper->quit) {
    int i, n = epoll_wait (shaper->epoll_fd, events, G_N_ELEMENTS (events),
        -1);

    if (n < 0 && errno != EINTR)
      g_error ("epoll_wait: %s", g_strerror (errno));
    for (i = 0; i < n; i++)
      dispatch (shaper, &events[i]);
    run_due (shaper, now_ns ());
    arm_timer (shaper);
  }
}

static void
shaper_clear (Shaper * shaper)
{
  shaper_heap_clear (&shaper->heap, packet_free);
  g_hash_table_unref (shaper->routes);
  g_ptr_array_unref (shaper->hosts);
  if (shaper->epoll_fd >= 0)
    close (shaper->epoll_fd);
  if (shaper->timer_fd >= 0)
    close (shaper->timer_fd);
  if (shaper->signal_fd >= 0)
    close (shaper->signal_fd);
}

int
main (int argc, char **argv)
{
  Shaper shaper = {.seed = 1,.max_held_bytes = DEFAULT_MAX_HELD,
    .epoll_fd = -1,.timer_fd = -1,.signal_fd = -1
  };
  gchar *config = NULL;
  gboolean exit_on_eof = FALSE;
  GOptionEntry entries[] = {
    {"config", 0, 0, G_OPTION_ARG_FILENAME, &config,
        "the lab's hosts and links (see the source's header)", "FILE"},
    {"exit-on-eof", 0, 0, G_OPTION_ARG_NONE, &exit_on_eof,
        "exit when standard input reaches end of file", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- the network lab's links");
  GError *error = NULL;
  int status = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || !config) {
    g_printerr ("mesh-shaper: %s\n", error ? error->message :
        "--config FILE is required");
    return 2;
  }
  g_option_context_free (ctx);
  shaper.exit_on_eof = exit_on_eof;
  shaper.hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) host_free);
  shaper.routes = g_hash_table_new (g_direct_hash, g_direct_equal);
  shaper_heap_init (&shaper.heap);
  if (!load_config (&shaper, config, &error)) {
    status = 2;
  } else if (!setup_loop (&shaper, &error)) {
    status = 1;
  } else {
    printf ("mesh-shaper ready: %u hosts\n", shaper.hosts->len);
    fflush (stdout);
    run (&shaper);
  }
  if (error)
    g_printerr ("mesh-shaper: %s\n", error->message);
  g_clear_error (&error);
  shaper_clear (&shaper);
  g_free (config);
  return status;
}
