/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tracker's /api, dashboard page and player metrics (see
 * mesh-tracker-api.h). Everything here runs on the tracker's server thread,
 * which owns the MeshTrackerQos it reads: no lock. The page, its script and
 * style sheet are compiled in (GResource, tools/tracker/dashboard/), so the
 * dashboard needs no other server and no network beyond the tracker.
 *
 * Whatever a request carries is hostile: the swarm id in a path is
 * validated as the protocol's ids are and looked up, never used otherwise; ?limit= is bounded; the token is compared in a time that
 * depends on neither its length nor its contents.
 */

#define G_LOG_DOMAIN "mesh-tracker"

#include "mesh-tracker-api.h"
#include "mesh-tracker-dashboard-resources.h"
#include "p2p/mesh-tracker-proto.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define API_PATH "/api"
#define ASSETS_PATH "/dashboard"
#define RESOURCE_PREFIX "/org/gstmesh/tracker/dashboard/"
#define SWARMS_PREFIX "/api/swarms/"
#define HISTORY_SUFFIX "/history"
#define COOKIE_NAME "mesh_admin"
/* the page loads nothing from elsewhere, and is not framed */
#define PAGE_POLICY "default-src 'self'; img-src 'self' data:; " \
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

struct _MeshTrackerApi
{
  MeshTrackerQos *qos;
  gchar *admin_token;           /* NULL: open */
  GResource *resource;
};

typedef struct
{
  const gchar *name;
  const gchar *content_type;
} Asset;

static const Asset assets[] = {
  {"index.html", "text/html; charset=utf-8"},
  {"dashboard.js", "text/javascript; charset=utf-8"},
  {"dashboard.css", "text/css; charset=utf-8"},
};

/* ------------------------------------------------------------------------ */
/* Admin token                                                              */

gboolean
mesh_tracker_is_valid_admin_token (const gchar * token)
{
  gsize length, i;

  if (!token)
    return FALSE;
  length = strlen (token);
  if (length < MESH_TRACKER_ADMIN_TOKEN_MIN
      || length > MESH_TRACKER_ADMIN_TOKEN_MAX)
    return FALSE;
  for (i = 0; i < length; i++) {
    if (!g_ascii_isalnum (token[i]) && !strchr ("._~+/=-", token[i]))
      return FALSE;
  }
  return TRUE;
}

gchar *
mesh_tracker_read_admin_token (const gchar * filename, GError ** error)
{
  g_autofree gchar *contents = NULL;

  if (!g_file_get_contents (filename, &contents, NULL, error))
    return NULL;
  g_strchomp (contents);
  if (!mesh_tracker_is_valid_admin_token (contents)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s: an admin token is %d to %d characters of [A-Za-z0-9._~+/=-]",
        filename, MESH_TRACKER_ADMIN_TOKEN_MIN, MESH_TRACKER_ADMIN_TOKEN_MAX);
    return NULL;
  }
  return g_steal_pointer (&contents);
}

/* Compares digests, so that the time depends neither on where the strings
 * differ nor on their lengths. */
static gboolean
token_matches (const gchar * expected, const gchar * given)
{
  g_autofree gchar *a = NULL, *b = NULL;
  guint8 diff = 0;
  gsize i;

  if (!given)
    return FALSE;
  a = g_compute_checksum_for_string (G_CHECKSUM_SHA256, expected, -1);
  b = g_compute_checksum_for_string (G_CHECKSUM_SHA256, given, -1);
  for (i = 0; a[i]; i++)
    diff |= (guint8) a[i] ^ (guint8) b[i];
  return diff == 0;
}

static gchar *
cookie_token (SoupMessageHeaders * headers)
{
  const gchar *cookie = soup_message_headers_get_list (headers, "Cookie");
  GHashTable *params;
  gchar *token;

  if (!cookie)
    return NULL;
  params = soup_header_parse_semi_param_list (cookie);
  token = g_strdup (g_hash_table_lookup (params, COOKIE_NAME));
  soup_header_free_param_list (params);
  return token;
}

static gboolean
is_authorized (MeshTrackerApi * api, SoupServerMessage * msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const gchar *authorization;
  g_autofree gchar *cookie = NULL;

  if (!api->admin_token)
    return TRUE;
  authorization = soup_message_headers_get_one (headers, "Authorization");
  if (authorization && g_str_has_prefix (authorization, "Bearer ")
      && token_matches (api->admin_token, authorization + strlen ("Bearer ")))
    return TRUE;
  cookie = cookie_token (headers);
  return token_matches (api->admin_token, cookie);
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                */

static void
respond_text (SoupServerMessage * msg, guint status, const gchar * text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8",
      SOUP_MEMORY_COPY, text, strlen (text));
}

static void
refuse_unauthorized (SoupServerMessage * msg)
{
  soup_message_headers_replace (soup_server_message_get_response_headers
      (msg), "WWW-Authenticate", "Bearer realm=\"mesh-tracker\"");
  respond_text (msg, SOUP_STATUS_UNAUTHORIZED, "the admin token is needed: "
      "Authorization: Bearer TOKEN, or open /?token=TOKEN once\n");
}

static gboolean
accept_get (SoupServerMessage * msg)
{
  const gchar *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;
  respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET only\n");
  return FALSE;
}

static void
respond_json (SoupServerMessage * msg, JsonBuilder * builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  gchar *text = json_to_string (root, FALSE);

  soup_message_headers_replace (soup_server_message_get_response_headers
      (msg), "Cache-Control", "no-store");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
      text, strlen (text));
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */

static void
add_uint (JsonBuilder * builder, const gchar * name, guint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, MIN (value, (guint64) G_MAXINT64));
}

static void
add_double (JsonBuilder * builder, const gchar * name, gdouble value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_double_value (builder, value);
}

static void
add_totals (JsonBuilder * builder, const MeshTrackerQosTotals * totals)
{
  add_uint (builder, "bytes_from_cdn", totals->cdn_bytes);
  add_uint (builder, "bytes_from_peers", totals->peer_bytes);
  add_uint (builder, "bytes_uploaded", totals->uploaded_bytes);
  add_uint (builder, "stalls", totals->stalls);
  add_uint (builder, "stall_ms", totals->stall_ms);
}

static void
add_swarm (JsonBuilder * builder, const MeshTrackerQosSwarm * swarm)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "swarm");
  json_builder_add_string_value (builder, swarm->swarm);
  add_uint (builder, "peers", swarm->peers);
  add_uint (builder, "reporting", swarm->reporting);
  add_totals (builder, &swarm->totals);
  add_double (builder, "p2p_ratio", swarm->ratio);
  json_builder_set_member_name (builder, "has_history");
  json_builder_add_boolean_value (builder, swarm->has_history);
  json_builder_end_object (builder);
}

/* "points": [...], with wall-clock times (ms) for monotonic ones */
static void
add_points (JsonBuilder * builder, GArray * points)
{
  gint64 monotonic = g_get_monotonic_time ();
  gint64 real = g_get_real_time ();
  guint i;

  json_builder_set_member_name (builder, "points");
  json_builder_begin_array (builder);
  for (i = 0; i < points->len; i++) {
    const MeshTrackerQosPoint *p =
        &g_array_index (points, MeshTrackerQosPoint, i);

    json_builder_begin_object (builder);
    add_uint (builder, "time", (real - (monotonic - p->time)) / 1000);
    add_uint (builder, "peers", p->peers);
    add_totals (builder, &p->totals);
    add_double (builder, "p2p_ratio", p->ratio);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
}

/* ------------------------------------------------------------------------ */
/* /api                                                                     */

static void
serve_overview (MeshTrackerApi * api, SoupServerMessage * msg)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GArray) points = mesh_tracker_qos_get_history (api->qos, NULL);
  MeshTrackerQosTotals totals;

  mesh_tracker_qos_get_totals (api->qos, &totals);
  json_builder_begin_object (builder);
  add_uint (builder, "peers", mesh_tracker_qos_get_peers (api->qos));
  add_uint (builder, "swarms", mesh_tracker_qos_get_n_swarms (api->qos));
  add_totals (builder, &totals);
  add_double (builder, "p2p_ratio", mesh_tracker_qos_ratio (&totals));
  add_uint (builder, "interval", mesh_tracker_qos_get_interval (api->qos));
  add_points (builder, points);
  json_builder_end_object (builder);
  respond_json (msg, builder);
}

static void
serve_swarms (MeshTrackerApi * api, SoupServerMessage * msg, GHashTable * query)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GArray) list = NULL;
  const gchar *limit_text = query ? g_hash_table_lookup (query, "limit") : NULL;
  guint64 limit = MESH_TRACKER_API_DEFAULT_LIMIT;
  guint i;

  if (limit_text && !g_ascii_string_to_unsigned (limit_text, 10, 1,
          MESH_TRACKER_API_MAX_LIMIT, &limit, NULL)) {
    respond_text (msg, SOUP_STATUS_BAD_REQUEST, "limit: 1 to "
        G_STRINGIFY (MESH_TRACKER_API_MAX_LIMIT) "\n");
    return;
  }
  list = mesh_tracker_qos_list_swarms (api->qos, limit);
  json_builder_begin_array (builder);
  for (i = 0; i < list->len; i++)
    add_swarm (builder, &g_array_index (list, MeshTrackerQosSwarm, i));
  json_builder_end_array (builder);
  respond_json (msg, builder);
}

/* The swarm id of "/api/swarms/ID/history", valid; NULL if the path is not
 * one. libsoup hands handlers the path unescaped: the id is what lies
 * between the prefix and the last "/history", "/" and all (an id ending in
 * "/history" too). */
static gchar *
history_swarm_id (const gchar * path)
{
  gchar *id;
  gsize length;

  if (!g_str_has_prefix (path, SWARMS_PREFIX)
      || !g_str_has_suffix (path, HISTORY_SUFFIX))
    return NULL;
  length = strlen (path) - strlen (SWARMS_PREFIX) - strlen (HISTORY_SUFFIX);
  if ((gssize) length <= 0)
    return NULL;
  id = g_strndup (path + strlen (SWARMS_PREFIX), length);
  if (!mesh_tracker_is_valid_swarm_id (id))
    g_clear_pointer (&id, g_free);
  return id;
}

static void
serve_history (MeshTrackerApi * api, SoupServerMessage * msg,
    const gchar * path)
{
  g_autofree gchar *id = history_swarm_id (path);
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (GArray) points = NULL;
  MeshTrackerQosSwarm swarm;

  if (!id || !mesh_tracker_qos_lookup_swarm (api->qos, id, &swarm)) {
    respond_text (msg, SOUP_STATUS_NOT_FOUND, "no such swarm\n");
    return;
  }
  points = mesh_tracker_qos_get_history (api->qos, id);
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "swarm");
  add_swarm (builder, &swarm);
  add_uint (builder, "interval", mesh_tracker_qos_get_interval (api->qos));
  add_points (builder, points);
  json_builder_end_object (builder);
  respond_json (msg, builder);
}

static void
handle_api (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  MeshTrackerApi *api = data;

  if (!accept_get (msg))
    return;
  if (!is_authorized (api, msg))
    refuse_unauthorized (msg);
  else if (g_str_equal (path, "/api/overview"))
    serve_overview (api, msg);
  else if (g_str_equal (path, "/api/swarms"))
    serve_swarms (api, msg, query);
  else
    serve_history (api, msg, path);
}

/* ------------------------------------------------------------------------ */
/* The page and its assets                                                  */

static gboolean
serve_asset (MeshTrackerApi * api, SoupServerMessage * msg, const gchar * name)
{
  g_autofree gchar *resource_path = NULL;
  g_autoptr (GBytes) bytes = NULL;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (assets); i++) {
    if (g_str_equal (assets[i].name, name))
      break;
  }
  if (i == G_N_ELEMENTS (assets))
    return FALSE;
  resource_path = g_strconcat (RESOURCE_PREFIX, name, NULL);
  bytes = g_resource_lookup_data (api->resource, resource_path,
      G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  g_return_val_if_fail (bytes != NULL, FALSE);

  soup_message_headers_replace (headers, "Content-Security-Policy",
      PAGE_POLICY);
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, assets[i].content_type,
      SOUP_MEMORY_COPY, g_bytes_get_data (bytes, NULL),
      g_bytes_get_size (bytes));
  return TRUE;
}

static void
handle_assets (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  if (!accept_get (msg))
    return;
  if (!g_str_has_prefix (path, ASSETS_PATH "/") || g_str_equal (path,
          ASSETS_PATH "/index.html")
      || !serve_asset (data, msg, path + strlen (ASSETS_PATH "/")))
    respond_text (msg, SOUP_STATUS_NOT_FOUND, "no such file\n");
}

/* ?token= on the page: a cookie for the browser, and the address without
 * the token (out of the history and of what the page shows). */
static void
sign_in (MeshTrackerApi * api, SoupServerMessage * msg, const gchar * token)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autofree gchar *cookie = NULL;

  if (!token_matches (api->admin_token, token)) {
    refuse_unauthorized (msg);
    return;
  }
  cookie = g_strdup_printf ("%s=%s; Path=/; HttpOnly; SameSite=Strict",
      COOKIE_NAME, api->admin_token);
  soup_message_headers_append (headers, "Set-Cookie", cookie);
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_server_message_set_redirect (msg, SOUP_STATUS_SEE_OTHER, "/");
}

void
mesh_tracker_api_serve_page (MeshTrackerApi * api, SoupServerMessage * msg,
    GHashTable * query)
{
  const gchar *token = query ? g_hash_table_lookup (query, "token") : NULL;

  if (!accept_get (msg))
    return;
  if (api->admin_token && token)
    sign_in (api, msg, token);
  else if (!is_authorized (api, msg))
    refuse_unauthorized (msg);
  else
    serve_asset (api, msg, "index.html");
}

/* ------------------------------------------------------------------------ */
/* /metrics                                                                 */

void
mesh_tracker_append_metric (GString * out, const gchar * name,
    const gchar * type, const gchar * help, guint64 value)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n%s %"
      G_GUINT64_FORMAT "\n", name, help, name, type, name, value);
}

void
mesh_tracker_api_append_metrics (MeshTrackerQos * qos, GString * out)
{
  MeshTrackerQosTotals totals;
  guint i;

  mesh_tracker_qos_get_totals (qos, &totals);
  mesh_tracker_append_metric (out, "mesh_reported_bytes_from_cdn_total",
      "counter", "Bytes players report fetching from the CDN (growth capped).",
      totals.cdn_bytes);
  mesh_tracker_append_metric (out, "mesh_reported_bytes_from_peers_total",
      "counter", "Bytes players report receiving from peers (growth capped).",
      totals.peer_bytes);
  mesh_tracker_append_metric (out, "mesh_reported_bytes_uploaded_total",
      "counter", "Bytes players report sending to peers (growth capped).",
      totals.uploaded_bytes);
  mesh_tracker_append_metric (out, "mesh_reported_stalls_total", "counter",
      "Stalls players report (growth capped).", totals.stalls);
  mesh_tracker_append_metric (out, "mesh_peers", "gauge",
      "Joined players, as the player figures count them.",
      mesh_tracker_qos_get_peers (qos));
  mesh_tracker_append_metric (out, "mesh_swarms", "gauge",
      "Swarms with figures: with members, or emptied within the retention.",
      mesh_tracker_qos_get_n_swarms (qos));
  g_string_append (out,
      "# HELP mesh_tracker_qos_reports_total Qos reports, "
      "by what became of them.\n# TYPE mesh_tracker_qos_reports_total "
      "counter\n");
  for (i = 0; i < MESH_TRACKER_QOS_N_VERDICTS; i++)
    g_string_append_printf (out, "mesh_tracker_qos_reports_total"
        "{result=\"%s\"} %" G_GUINT64_FORMAT "\n",
        mesh_tracker_qos_verdict_name (i), mesh_tracker_qos_get_count (qos, i));
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */

MeshTrackerApi *
mesh_tracker_api_new (SoupServer * soup, MeshTrackerQos * qos,
    const gchar * admin_token)
{
  MeshTrackerApi *api;

  g_return_val_if_fail (admin_token == NULL
      || mesh_tracker_is_valid_admin_token (admin_token), NULL);

  api = g_new0 (MeshTrackerApi, 1);
  api->qos = qos;
  api->admin_token = g_strdup (admin_token);
  api->resource = mesh_tracker_dashboard_get_resource ();
  soup_server_add_handler (soup, API_PATH, handle_api, api, NULL);
  soup_server_add_handler (soup, ASSETS_PATH, handle_assets, api, NULL);
  return api;
}

void
mesh_tracker_api_free (MeshTrackerApi * api)
{
  if (!api)
    return;
  g_free (api->admin_token);
  g_free (api);
}
