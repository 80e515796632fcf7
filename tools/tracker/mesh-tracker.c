/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mesh-tracker: runs the tracker from the command line, or makes an access
 * token for a content provider's backend (see docs/tracker.md).
 *
 *   mesh-tracker [--config FILE] [--listen HOST:PORT] [--max-peers N] ...
 *   mesh-tracker --make-token SWARM --token-secret FILE [--ttl SECONDS]
 *   mesh-tracker [--config FILE] [OPTION...] --print-config
 *
 * Every option of the table in main() but --make-token and --ttl is also a
 * key of the configuration file (mesh-tracker-config.h); the command line
 * overrides the file.
 *
 * Threads: the main thread only waits for SIGINT/SIGTERM (stop) and SIGHUP
 * (reload) on the default GMainContext; the server runs on its own thread
 * (mesh-tracker-server.c).
 */

#include "mesh-tracker-server.h"
#include "mesh-tracker-api.h"
#include "mesh-tracker-config.h"
#include "mesh-tracker-log.h"
#include "mesh-tool.h"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define DEFAULT_TTL 3600
#define UNSET -1
#define DEFAULT_CONFIG MESH_SYSCONFDIR "/gst-mesh/tracker.conf"
#define LOG_FLUSH_TIMEOUT_MS 1000

typedef struct
{
  gchar *listen;
  gint max_peers;
  gint heartbeat;
  gint max_message_size;
  gint max_signal_size;
  gint rate;
  gint burst;
  gint max_swarm_peers;
  gint max_swarms;
  gint max_connections;
  gint max_bad_messages;
  gint max_backlog;
  gint header_timeout;
  gint max_connections_per_ip;
  gint max_joins_per_ip;
  gint max_peers_per_token;
  gint max_joins_per_token;
  gint report_threshold;
  gint max_reports;
  gint ban_time;
  gchar **trusted_proxies;
  gchar *token_secret_file;
  gchar *make_token;
  gint ttl;
  gchar **attest_origins;
  gint attest_max_outstanding;
  gint attest_rate;
  gint attest_timeout;
  gchar *log_format;
  gchar *admin_token;
  gchar *admin_token_file;
  gint qos_interval;
  gchar *asn_db;
  gchar *region_db;
  gint prefix_v4;
  gint prefix_v6;
  gint cross_network_share;
  gchar *locality;
  gchar *redis;
  gboolean reuse_port;
  gint threads;
  /* not configuration keys */
  gchar *config_file;
  gboolean print_config;
} Options;

/* Copies a positive option into @field, leaves 0 (the default) if unset. */
static gboolean
take_bound (const gchar * name, gint value, guint * field)
{
  if (value == UNSET)
    return TRUE;
  if (value < 1) {
    g_printerr ("mesh-tracker: --%s must be at least 1\n", name);
    return FALSE;
  }
  *field = value;
  return TRUE;
}

/* The same for a per-address or per-token bound, where 0 is no bound. */
static gboolean
take_limit (const gchar * name, gint value, guint * field)
{
  if (value == 0) {
    *field = MESH_TRACKER_UNLIMITED;
    return TRUE;
  }
  return take_bound (name, value, field);
}

static gboolean
take_limits (const Options * opts, MeshTrackerConfig * config)
{
  return take_limit ("max-connections-per-ip", opts->max_connections_per_ip,
      &config->max_connections_per_ip)
      && take_limit ("max-joins-per-ip", opts->max_joins_per_ip,
      &config->max_joins_per_ip)
      && take_limit ("max-peers-per-token", opts->max_peers_per_token,
      &config->max_peers_per_token)
      && take_limit ("max-joins-per-token", opts->max_joins_per_token,
      &config->max_joins_per_token)
      && take_bound ("report-threshold", opts->report_threshold,
      &config->report_threshold)
      && take_bound ("max-reports", opts->max_reports, &config->max_reports)
      && take_bound ("ban-time", opts->ban_time, &config->ban_time);
}

static gboolean
take_attest_bounds (const Options * opts, MeshTrackerConfig * config)
{
  return take_bound ("attest-max-outstanding", opts->attest_max_outstanding,
      &config->attest_max_outstanding)
      && take_bound ("attest-rate", opts->attest_rate, &config->attest_rate)
      && take_bound ("attest-timeout", opts->attest_timeout,
      &config->attest_timeout);
}

static gboolean
take_bounds (const Options * opts, MeshTrackerConfig * config)
{
  return take_bound ("max-peers", opts->max_peers, &config->max_peers)
      && take_bound ("heartbeat", opts->heartbeat, &config->heartbeat)
      && take_bound ("max-message-size", opts->max_message_size,
      &config->max_message_size)
      && take_bound ("max-signal-size", opts->max_signal_size,
      &config->max_signal_size)
      && take_bound ("rate", opts->rate, &config->rate)
      && take_bound ("burst", opts->burst, &config->burst)
      && take_bound ("max-swarm-peers", opts->max_swarm_peers,
      &config->max_swarm_peers)
      && take_bound ("max-swarms", opts->max_swarms, &config->max_swarms)
      && take_bound ("max-connections", opts->max_connections,
      &config->max_connections)
      && take_bound ("max-bad-messages", opts->max_bad_messages,
      &config->max_bad_messages)
      && take_bound ("max-backlog", opts->max_backlog, &config->max_backlog)
      && take_bound ("header-timeout", opts->header_timeout,
      &config->header_timeout)
      && take_limits (opts, config)
      && take_attest_bounds (opts, config)
      && take_bound ("qos-interval", opts->qos_interval, &config->qos_interval);
}

/* FALSE, and says so, when @value is set and not within @min - @max. */
static gboolean
in_range (const gchar * name, gint value, gint min, gint max)
{
  if (value == UNSET || (value >= min && value <= max))
    return TRUE;
  g_printerr ("mesh-tracker: --%s must be %d - %d\n", name, min, max);
  return FALSE;
}

/* The locality options: prefixes of 1 - 32 and 1 - 128 bits, a
 * cross-network share of 1 - 100 percent (never 0: the swarm must stay
 * connected). */
static gboolean
take_locality (const Options * opts, MeshTrackerConfig * config)
{
  if (!in_range ("prefix-v4", opts->prefix_v4, 1, 32)
      || !in_range ("prefix-v6", opts->prefix_v6, 1, 128)
      || !in_range ("cross-network-share", opts->cross_network_share, 1, 100))
    return FALSE;
  if (opts->locality && g_strcmp0 (opts->locality, "on") != 0
      && g_strcmp0 (opts->locality, "off") != 0) {
    g_printerr ("mesh-tracker: --locality must be on or off\n");
    return FALSE;
  }
  config->no_locality = g_strcmp0 (opts->locality, "off") == 0;
  config->prefix_v4 = opts->prefix_v4 == UNSET ? 0 : opts->prefix_v4;
  config->prefix_v6 = opts->prefix_v6 == UNSET ? 0 : opts->prefix_v6;
  config->cross_network_share = opts->cross_network_share == UNSET ? 0 :
      opts->cross_network_share;
  config->asn_db = opts->asn_db;
  config->region_db = opts->region_db;
  return TRUE;
}

#define MAX_THREADS 64

/* How this instance shares its swarms: with others through Redis, or with
 * the other threads of this process (the port too), or not at all. */
static gboolean
take_sharing (const Options * opts, MeshTrackerConfig * config)
{
  config->redis = opts->redis;
  config->reuse_port = opts->reuse_port;
  if (!in_range ("threads", opts->threads, 1, MAX_THREADS))
    return FALSE;
  if (opts->threads > 1 && opts->redis) {
    g_printerr ("mesh-tracker: --threads and --redis do not go together: "
        "run a process per core with --reuse-port instead\n");
    return FALSE;
  }
  return TRUE;
}

static int
print_token (const Options * opts, GBytes * secret)
{
  g_autofree gchar *token = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (!secret) {
    g_printerr ("mesh-tracker: --make-token needs --token-secret FILE\n");
    return 2;
  }
  if (opts->ttl < 0) {
    g_printerr ("mesh-tracker: --ttl must not be negative\n");
    return 2;
  }
  token = mesh_tracker_make_token_full (g_bytes_get_data (secret, NULL),
      g_bytes_get_size (secret), opts->make_token, now + opts->ttl);
  printf ("%s\n", token);
  return 0;
}

typedef struct
{
  const Options *opts;
  GPtrArray *servers;           /* MeshTrackerServer, the instances */
} Reload;

/* SIGHUP: what can change without dropping a connection is read again. A
 * file that cannot be read leaves the running state as it was. */
static void
on_reload (gpointer data)
{
  Reload *reload = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) secret = NULL;
  gboolean loaded = TRUE;
  guint i;

  if (reload->opts->token_secret_file) {
    secret = mesh_tracker_read_secret (reload->opts->token_secret_file, &error);
    for (i = 0; secret && i < reload->servers->len; i++)
      mesh_tracker_server_set_token_secret (reload->servers->pdata[i],
          g_bytes_get_data (secret, NULL), g_bytes_get_size (secret));
    mesh_tracker_log_event ("reload", "what", "token-secret", "result",
        secret ? "ok" : "kept the previous one", "why",
        error ? error->message : NULL, NULL);
  }
  g_clear_error (&error);
  if (reload->opts->asn_db || reload->opts->region_db) {
    for (i = 0; loaded && i < reload->servers->len; i++)
      loaded = mesh_tracker_server_load_networks (reload->servers->pdata[i],
          reload->opts->asn_db, reload->opts->region_db, &error);
    mesh_tracker_log_event ("reload", "what", "networks", "result",
        loaded ? "ok" : "kept the previous ones", "why",
        error ? error->message : NULL, NULL);
  }
}


/* One open file a client: a server takes the hard limit (systemd's
 * LimitNOFILE=, ulimit -Hn) rather than the soft one, 1024 on most
 * systems; the server fits max-connections to what it gets. */
static void
raise_open_files_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
  }
}

/* @threads instances, the first on the configured port, the others on the
 * same one (SO_REUSEPORT), sharing their swarms through a hub. */
static gboolean
start_instances (MeshTrackerConfig * config, guint threads,
    GPtrArray * servers, GError ** error)
{
  g_autoptr (MeshTrackerHub) hub = threads > 1 ? mesh_tracker_hub_new () : NULL;
  guint i;

  config->hub = hub;
  config->reuse_port |= threads > 1;
  config->instances = threads;
  /* the bound is the process's: each instance takes its share */
  config->max_connections = MAX ((config->max_connections ?
          config->max_connections : MESH_TRACKER_DEFAULT_MAX_CONNECTIONS) /
      threads, 1);
  for (i = 0; i < threads; i++) {
    MeshTrackerServer *server = mesh_tracker_server_start (config, error);

    if (!server)
      return FALSE;
    g_ptr_array_add (servers, server);
    config->port = mesh_tracker_server_get_port (server);
  }
  return TRUE;
}

static int
serve (MeshTrackerConfig * config, const Options * opts)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) servers = g_ptr_array_new_with_free_func
      ((GDestroyNotify) mesh_tracker_server_stop);
  Reload reload = { opts, servers };
  guint threads = opts->threads == UNSET ? 1 : opts->threads;

  raise_open_files_limit ();
  if (!start_instances (config, threads, servers, &error)) {
    g_printerr ("mesh-tracker: %s\n", error->message);
    return 1;
  }

  mesh_tool_serve_until_signal_full ("mesh-tracker",
      mesh_tracker_server_get_url (servers->pdata[0]), on_reload, &reload);
  g_ptr_array_set_size (servers, 0);
  /* the leaves of the shutdown; a stdout nobody reads does not hold the
   * exit for long */
  mesh_tracker_log_flush (LOG_FLUSH_TIMEOUT_MS);
  return 0;
}

/* The sample configuration (installed as tracker.conf) and what
 * --print-config shows. */
static int
print_config (MeshTrackerOptions * options)
{
  g_autofree gchar *text = mesh_tracker_options_to_data (options,
      "# mesh-tracker's configuration (mesh-tracker(1), mesh-tracker.conf(5)).\n"
      "# Every key is the option of the same name; the command line overrides\n"
      "# this file. Lists are separated by ';'. A commented key shows its\n"
      "# default. SIGHUP re-reads the token secret file (not this file).\n\n");

  printf ("%s", text);
  return 0;
}

/* Reads the configuration file into the options the command line did not
 * give: --config FILE, else the default one if it exists. */
static gboolean
load_config (MeshTrackerOptions * options, const Options * opts,
    GError ** error)
{
  if (opts->config_file && opts->config_file[0] == '\0')
    return TRUE;
  return mesh_tracker_options_load (options, opts->config_file ?
      opts->config_file : DEFAULT_CONFIG, opts->config_file != NULL, error);
}

int
main (int argc, char **argv)
{
  Options opts = {
    NULL, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET,
    UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET,
    NULL, NULL, NULL, DEFAULT_TTL, NULL, UNSET, UNSET, UNSET, NULL,
    NULL, NULL, UNSET, NULL, NULL, UNSET, UNSET, UNSET, NULL, NULL, FALSE,
    UNSET
  };
  GOptionEntry entries[] = {
    {"listen", 'l', 0, G_OPTION_ARG_STRING, &opts.listen,
        "Address to listen on (default 127.0.0.1:8765, port 0 = any free "
          "port)", "HOST:PORT"},
    {"max-peers", 0, 0, G_OPTION_ARG_INT, &opts.max_peers,
        "Peers in a welcome or peers list, and members told of a join "
          "(default 10)", "N"},
    {"heartbeat", 0, 0, G_OPTION_ARG_INT, &opts.heartbeat,
        "Heartbeat interval; 2.5 times this without a message and a peer is "
          "gone (default 15)", "SECONDS"},
    {"max-message-size", 0, 0, G_OPTION_ARG_INT, &opts.max_message_size,
        "Largest message accepted (default 65536)", "BYTES"},
    {"max-signal-size", 0, 0, G_OPTION_ARG_INT, &opts.max_signal_size,
        "Largest serialised signal \"data\" (default 16384)", "BYTES"},
    {"rate", 0, 0, G_OPTION_ARG_INT, &opts.rate,
        "Messages per second per connection (default 50)", "N"},
    {"burst", 0, 0, G_OPTION_ARG_INT, &opts.burst,
        "Burst of messages allowed above the rate (default 100)", "N"},
    {"max-swarm-peers", 0, 0, G_OPTION_ARG_INT, &opts.max_swarm_peers,
        "Peers in one swarm (default 10000)", "N"},
    {"max-swarms", 0, 0, G_OPTION_ARG_INT, &opts.max_swarms,
        "Swarms (default 100000)", "N"},
    {"max-connections", 0, 0, G_OPTION_ARG_INT, &opts.max_connections,
        "WebSocket connections (default 100000)", "N"},
    {"max-bad-messages", 0, 0, G_OPTION_ARG_INT, &opts.max_bad_messages,
        "Bad messages tolerated per connection before closing it (default "
          "10)", "N"},
    {"max-backlog", 0, 0, G_OPTION_ARG_INT, &opts.max_backlog,
        "Bytes queued for a client that does not read them before it is "
          "disconnected (default 262144)", "BYTES"},
    {"header-timeout", 0, 0, G_OPTION_ARG_INT, &opts.header_timeout,
        "Seconds an HTTP connection may take to become a WebSocket (default "
          "10)", "SECONDS"},
    {"max-connections-per-ip", 0, 0, G_OPTION_ARG_INT,
          &opts.max_connections_per_ip,
        "Connections from one address, an IPv6 one by its /64 (default 256, "
          "0 = no bound)", "N"},
    {"max-joins-per-ip", 0, 0, G_OPTION_ARG_INT, &opts.max_joins_per_ip,
        "Joins per minute from one address (default 240, 0 = no bound)", "N"},
    {"max-peers-per-token", 0, 0, G_OPTION_ARG_INT, &opts.max_peers_per_token,
        "Peers joined at once with one token (default 8, 0 = no bound)", "N"},
    {"max-joins-per-token", 0, 0, G_OPTION_ARG_INT, &opts.max_joins_per_token,
        "Joins per minute with one token (default 30, 0 = no bound)", "N"},
    {"report-threshold", 0, 0, G_OPTION_ARG_INT, &opts.report_threshold,
          "Members whose reports remove a peer from its swarm (default 2)",
        "N"},
    {"max-reports", 0, 0, G_OPTION_ARG_INT, &opts.max_reports,
        "Reports per minute one member may send (default 10)", "N"},
    {"ban-time", 0, 0, G_OPTION_ARG_INT, &opts.ban_time,
          "Seconds the id of a removed peer stays refused (default 86400)",
        "SECONDS"},
    {"trusted-proxy", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.trusted_proxies,
        "A reverse proxy whose X-Forwarded-For names the client (repeat "
          "for several)", "ADDRESS"},
    {"token-secret", 0, 0, G_OPTION_ARG_FILENAME, &opts.token_secret_file,
        "Require access tokens signed with the secret in FILE", "FILE"},
    {"make-token", 0, 0, G_OPTION_ARG_STRING, &opts.make_token,
          "Print an access token for SWARM and exit (needs --token-secret)",
        "SWARM"},
    {"attest-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.attest_origins,
        "Attest segment digests for URLs under PREFIX, fetching each once "
          "per swarm (repeat for several; default: not offered)", "PREFIX"},
    {"attest-max-outstanding", 0, 0, G_OPTION_ARG_INT,
          &opts.attest_max_outstanding,
        "Attest requests a client may have unanswered (default 16)", "N"},
    {"attest-rate", 0, 0, G_OPTION_ARG_INT, &opts.attest_rate,
        "Attest requests per second per client (default 10)", "N"},
    {"attest-timeout", 0, 0, G_OPTION_ARG_INT, &opts.attest_timeout,
          "Seconds an origin fetch for a digest may take (default 20)",
        "SECONDS"},
    {"admin-token", 0, 0, G_OPTION_ARG_STRING, &opts.admin_token,
        "Require TOKEN for /api and the dashboard (see also "
          "--admin-token-file)", "TOKEN"},
    {"admin-token-file", 0, 0, G_OPTION_ARG_FILENAME, &opts.admin_token_file,
          "The same, the token read from FILE (e.g. a systemd credential)",
        "FILE"},
    {"qos-interval", 0, 0, G_OPTION_ARG_INT, &opts.qos_interval,
        "Seconds between the points of the dashboard's history (default "
          "10; 360 points are kept)", "SECONDS"},
    {"locality", 0, 0, G_OPTION_ARG_STRING, &opts.locality,
        "Peer lists prefer the asker's network: on (default) or off "
          "(random lists)", "on|off"},
    {"asn-db", 0, 0, G_OPTION_ARG_FILENAME, &opts.asn_db,
          "Networks by IP prefix: CSV of prefix,asn,name[,region]",
        "FILE"},
    {"region-db", 0, 0, G_OPTION_ARG_FILENAME, &opts.region_db,
        "Regions by IP prefix: CSV of prefix,region (wins over --asn-db's "
          "region)", "FILE"},
    {"redis", 0, 0, G_OPTION_ARG_STRING, &opts.redis,
          "Share swarms with the other instances using this Redis server "
          "(docs/tracker.md \"Redis mode\"; default: none)",
        "redis://HOST[:PORT][/DB]"},
    {"threads", 0, 0, G_OPTION_ARG_INT, &opts.threads,
        "Instances in this process, a thread each, sharing the swarms and "
          "the port (default 1; not with --redis: docs/scaling.md)", "N"},
    {"reuse-port", 0, 0, G_OPTION_ARG_NONE, &opts.reuse_port,
        "Let other instances listen on the same address and port "
          "(SO_REUSEPORT; the kernel spreads new connections over them, "
          "which share swarms with --redis)", NULL},
    {"prefix-v4", 0, 0, G_OPTION_ARG_INT, &opts.prefix_v4,
        "Bits of the IPv4 prefix that makes one network (default 24)", "N"},
    {"prefix-v6", 0, 0, G_OPTION_ARG_INT, &opts.prefix_v6,
        "Bits of the IPv6 prefix that makes one network (default 48)", "N"},
    {"cross-network-share", 0, 0, G_OPTION_ARG_INT, &opts.cross_network_share,
        "Percent of a peer list kept for other networks, at least one place "
          "(default 20, 1 - 100)", "PERCENT"},
    {"ttl", 0, 0, G_OPTION_ARG_INT, &opts.ttl,
          "Lifetime of the token --make-token prints (default 3600)",
        "SECONDS"},
    {"log-format", 0, 0, G_OPTION_ARG_STRING, &opts.log_format,
          "Event log lines: text (key=value) or json (default text)",
        "FORMAT"},
    {NULL}
  };
  /* options of this run, not keys of the configuration file */
  const gchar *const cli_only[] = { "make-token", "ttl", NULL };
  GOptionEntry process_entries[] = {
    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &opts.config_file,
        "Configuration file (default " DEFAULT_CONFIG ", if it exists; "
          "'' = none)", "FILE"},
    {"print-config", 0, 0, G_OPTION_ARG_NONE, &opts.print_config,
          "Print the configuration (the file and the command line) and exit",
        NULL},
    {NULL}
  };
  g_autoptr (MeshTrackerOptions) options = NULL;
  MeshTrackerLogFormat log_format = MESH_TRACKER_LOG_TEXT;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *host = NULL;
  g_autoptr (GBytes) secret = NULL;
  MeshTrackerConfig config = { 0, };
  guint port = MESH_TRACKER_DEFAULT_PORT;
  int ret;

  context = g_option_context_new ("- the gst-mesh tracker");
  g_option_context_set_description (context,
      "WebSocket: ws://HOST:PORT/announce (protocol in docs/protocol.md).\n"
      "HTTP: GET /health, GET /metrics (Prometheus), GET / (dashboard),\n"
      "GET /api/overview, /api/swarms, /api/swarms/ID/history.\n"
      "See docs/tracker.md.\n");
  options = mesh_tracker_options_new ("tracker", entries, cli_only, NULL);
  g_option_context_set_main_group (context,
      mesh_tracker_options_get_group (options));
  g_option_context_add_main_entries (context, process_entries, NULL);
  mesh_tool_add_version_option (context);
  if (!g_option_context_parse (context, &argc, &argv, &error)
      || !load_config (options, &opts, &error)) {
    g_printerr ("mesh-tracker: %s\n", error->message);
    ret = 2;
    goto out;
  }
  if (opts.print_config) {
    ret = print_config (options);
    goto out;
  }
  if (opts.log_format
      && !mesh_tracker_log_parse_format (opts.log_format, &log_format)) {
    g_printerr ("mesh-tracker: --log-format is text or json, not '%s'\n",
        opts.log_format);
    ret = 2;
    goto out;
  }
  mesh_tracker_log_init (log_format);
  if (opts.listen
      && !mesh_tool_parse_listen (opts.listen, &host, &port, &error)) {
    g_printerr ("mesh-tracker: %s\n", error->message);
    ret = 2;
    goto out;
  }
  if (!take_bounds (&opts, &config) || !take_locality (&opts, &config)
      || !take_sharing (&opts, &config)) {
    ret = 2;
    goto out;
  }
  if (opts.token_secret_file) {
    secret = mesh_tracker_read_secret (opts.token_secret_file, &error);
    if (!secret) {
      g_printerr ("mesh-tracker: %s\n", error->message);
      ret = 2;
      goto out;
    }
  }

  if (opts.admin_token_file) {
    g_free (opts.admin_token);
    opts.admin_token = mesh_tracker_read_admin_token (opts.admin_token_file,
        &error);
    if (!opts.admin_token) {
      g_printerr ("mesh-tracker: %s\n", error->message);
      ret = 2;
      goto out;
    }
  }
  if (opts.admin_token && !mesh_tracker_is_valid_admin_token (opts.admin_token)) {
    g_printerr ("mesh-tracker: an admin token is %d to %d characters of "
        "[A-Za-z0-9._~+/=-]\n", MESH_TRACKER_ADMIN_TOKEN_MIN,
        MESH_TRACKER_ADMIN_TOKEN_MAX);
    ret = 2;
    goto out;
  }

  if (opts.make_token) {
    ret = print_token (&opts, secret);
    goto out;
  }

  config.host = host;
  config.port = port;
  if (secret) {
    config.token_secret = g_bytes_get_data (secret, NULL);
    config.token_secret_size = g_bytes_get_size (secret);
  }
  config.trusted_proxies = (const gchar * const *) opts.trusted_proxies;
  config.attest_origins = (const gchar * const *) opts.attest_origins;
  config.admin_token = opts.admin_token;
  ret = serve (&config, &opts);

out:
  g_free (opts.listen);
  g_free (opts.token_secret_file);
  g_free (opts.make_token);
  g_strfreev (opts.trusted_proxies);
  g_strfreev (opts.attest_origins);
  g_free (opts.log_format);
  g_free (opts.config_file);
  g_free (opts.admin_token);
  g_free (opts.admin_token_file);
  g_free (opts.asn_db);
  g_free (opts.region_db);
  g_free (opts.locality);
  g_free (opts.redis);
  return ret;
}
