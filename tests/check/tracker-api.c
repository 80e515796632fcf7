/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tracker's player figures end to end: qos messages sent over real
 * WebSocket connections to a tracker on 127.0.0.1:0, then /api, /metrics,
 * the page and the admin token over HTTP (libsoup).
 *
 * Threads: the test drives its own GMainContext (the clients and the HTTP
 * session); the tracker runs on its own thread. A connection's messages are
 * handled in order, so a "get-peers" answered after a qos message means the
 * qos message was taken: no sleeping.
 */

#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "mesh-tracker-server.h"
#include "mesh-tracker-api.h"
#include "mesh-test-wait.h"

#define WAIT_MS 5000
#define ADMIN_TOKEN "0123456789abcdef-admin"

static GMainContext *context;
static SoupSession *session;
static MeshTrackerServer *tracker;
/* The tracker's state changes on its own thread and wakes nothing here: the
 * waits on it (its history, its peer count) look again at every tick. */
static GSource *ticker;

typedef struct
{
  SoupWebsocketConnection *ws;
  GQueue types;                 /* gchar *, types of the messages received */
} Client;

static void
client_free (Client * c)
{
  g_signal_handlers_disconnect_by_data (c->ws, c);
  g_object_unref (c->ws);
  g_queue_clear_full (&c->types, g_free);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free);

/* ------------------------------------------------------------------------ */
/* fixture                                                                  */

static gboolean
keep_ticking (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
setup (void)
{
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  session = soup_session_new ();
  tracker = NULL;
  ticker = g_timeout_source_new (50);
  g_source_set_callback (ticker, keep_ticking, NULL, NULL);
  g_source_attach (ticker, context);
}

static void
teardown (void)
{
  g_source_destroy (ticker);
  g_clear_pointer (&ticker, g_source_unref);
  g_clear_pointer (&tracker, mesh_tracker_server_stop);
  g_clear_object (&session);
  while (g_main_context_iteration (context, FALSE));
  g_main_context_pop_thread_default (context);
  g_clear_pointer (&context, g_main_context_unref);
}

static void
start_tracker (const gchar * admin_token)
{
  MeshTrackerConfig config = { 0, };
  GError *error = NULL;

  config.host = "127.0.0.1";
  config.port = 0;
  config.admin_token = admin_token;
  config.qos_interval = 1;
  tracker = mesh_tracker_server_start (&config, &error);
  fail_unless (tracker != NULL, "tracker: %s", error ? error->message : "");
}

/* ------------------------------------------------------------------------ */
/* WebSocket clients                                                        */

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer data)
{
  Client *c = data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);

  fail_unless (json_parser_load_from_data (parser, text, size, NULL));
  g_queue_push_tail (&c->types, g_strdup (json_object_get_string_member
          (json_node_get_object (json_parser_get_root (parser)), "type")));
}

static void
on_connected (GObject * source, GAsyncResult * result, gpointer data)
{
  Client *c = data;

  c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
      result, NULL);
  fail_unless (c->ws != NULL);
}

static gboolean
is_notification (const gchar * type)
{
  return g_str_equal (type, "peer-joined") || g_str_equal (type, "peer-left");
}

/* Waits for the next message but notifications, which must be of @type. */
static void
client_expect (Client * c, const gchar * type)
{
  g_autofree gchar *got = NULL;

  do {
    g_free (got);
    MESH_TEST_WAIT_UNTIL (context, !g_queue_is_empty (&c->types), WAIT_MS);
    got = g_queue_pop_head (&c->types);
  } while (is_notification (got));
  fail_unless_equals_string (got, type);
}

static Client *
client_join (const gchar * swarm, const gchar * peer)
{
  Client *c = g_new0 (Client, 1);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET",
      mesh_tracker_server_get_url (tracker));
  g_autofree gchar *join = NULL;

  g_queue_init (&c->types);
  soup_session_websocket_connect_async (session, msg, NULL, NULL,
      G_PRIORITY_DEFAULT, NULL, on_connected, c);
  MESH_TEST_WAIT_UNTIL (context, c->ws != NULL, WAIT_MS);
  g_signal_connect (c->ws, "message", G_CALLBACK (on_message), c);
  join = mesh_tracker_encode_join (swarm, peer, NULL, TRUE);
  soup_websocket_connection_send_text (c->ws, join);
  client_expect (c, "welcome");
  return c;
}

/* Sends a qos report and a get-peers, whose answer (client_expect (c,
 * "peers")) says that the tracker handled the report. */
static void
client_report (Client * c, gint64 cdn, gint64 peer, gint64 uploaded,
    gint64 stalls)
{
  MeshQosReport report = {.version = 1,.cdn_bytes = cdn,.peer_bytes = peer,
    .uploaded_bytes = uploaded,.stalls = stalls,.startup_ms = 500
  };
  g_autofree gchar *text = mesh_tracker_encode_qos (&report, NULL);
  g_autofree gchar *get_peers =
      mesh_tracker_encode_bare (MESH_TRACKER_MESSAGE_GET_PEERS);

  soup_websocket_connection_send_text (c->ws, text);
  soup_websocket_connection_send_text (c->ws, get_peers);
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                     */

/* GET @path; the body, and the message for its status and headers. */
static gchar *
http_get_full (const gchar * path, const gchar * header, const gchar * value,
    SoupMessage ** out)
{
  g_autofree gchar *url = g_strconcat (mesh_tracker_server_get_http_url
      (tracker), path, NULL);
  SoupMessage *msg = soup_message_new ("GET", url);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;

  fail_unless (msg != NULL, "bad URL %s", url);
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  if (header)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
        header, value);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  fail_unless (body != NULL, "GET %s: %s", path, error ? error->message : "");
  *out = msg;
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static guint
http_status (const gchar * path, const gchar * header, const gchar * value)
{
  SoupMessage *msg;
  g_autofree gchar *body = http_get_full (path, header, value, &msg);
  guint status = soup_message_get_status (msg);

  g_object_unref (msg);
  return status;
}

/* GET @path, which must answer 200 with JSON; transfer full. */
static JsonNode *
http_get_json (const gchar * path)
{
  SoupMessage *msg;
  g_autofree gchar *body = http_get_full (path, NULL, NULL, &msg);
  g_autoptr (JsonParser) parser = json_parser_new ();

  fail_unless_equals_int (soup_message_get_status (msg), 200);
  fail_unless_equals_string (soup_message_headers_get_content_type
      (soup_message_get_response_headers (msg), NULL), "application/json");
  g_object_unref (msg);
  fail_unless (json_parser_load_from_data (parser, body, -1, NULL),
      "not JSON: %s", body);
  return json_node_ref (json_parser_get_root (parser));
}

static void
expect_metric (const gchar * metrics, const gchar * line)
{
  g_autofree gchar *needle = g_strconcat ("\n", line, "\n", NULL);

  if (!strstr (metrics, needle))
    g_printerr ("%s", metrics);
  fail_unless (strstr (metrics, needle) != NULL, "no line \"%s\"", line);
}

static guint
history_length (const gchar * path)
{
  g_autoptr (JsonNode) history = http_get_json (path);

  return json_array_get_length (json_object_get_array_member
      (json_node_get_object (history), "points"));
}

/* ------------------------------------------------------------------------ */
/* tests                                                                    */

#define SWARM "live/one ü"
#define SWARM_ESCAPED "live%2Fone%20%C3%BC"

GST_START_TEST (test_swarms_after_qos)
{
  g_autoptr (Client) a = NULL;
  g_autoptr (Client) b = NULL;
  g_autoptr (Client) other = NULL;
  g_autoptr (JsonNode) list = NULL;
  JsonObject *swarm;

  start_tracker (NULL);
  a = client_join (SWARM, "peer-aaaa");
  b = client_join (SWARM, "peer-bbbb");
  other = client_join ("other", "peer-cccc");

  client_report (a, 1000, 3000, 200, 1);
  client_expect (a, "peers");
  client_report (b, 1000, 0, 2800, 0);
  client_expect (b, "peers");
  client_report (other, 500, 0, 0, 0);
  client_expect (other, "peers");

  list = http_get_json ("/api/swarms");
  fail_unless_equals_int (json_array_get_length (json_node_get_array (list)),
      2);
  /* the most members first */
  swarm = json_array_get_object_element (json_node_get_array (list), 0);
  fail_unless_equals_string (json_object_get_string_member (swarm, "swarm"),
      SWARM);
  fail_unless_equals_int (json_object_get_int_member (swarm, "peers"), 2);
  fail_unless_equals_int (json_object_get_int_member (swarm,
          "bytes_from_cdn"), 2000);
  fail_unless_equals_int (json_object_get_int_member (swarm,
          "bytes_from_peers"), 3000);
  fail_unless_equals_int (json_object_get_int_member (swarm,
          "bytes_uploaded"), 3000);
  fail_unless_equals_int (json_object_get_int_member (swarm, "stalls"), 1);
  fail_unless (G_APPROX_VALUE (json_object_get_double_member (swarm,
              "p2p_ratio"), 0.6, 1e-9));
  g_clear_pointer (&list, json_node_unref);

  list = http_get_json ("/api/swarms?limit=1");
  fail_unless_equals_int (json_array_get_length (json_node_get_array (list)),
      1);
  fail_unless_equals_int (http_status ("/api/swarms?limit=0", NULL, NULL), 400);
  fail_unless_equals_int (http_status ("/api/swarms?limit=x", NULL, NULL), 400);

  /* a point a second (qos_interval): the history grows */
  {
    guint first = history_length ("/api/swarms/" SWARM_ESCAPED "/history");

    MESH_TEST_WAIT_UNTIL (context, history_length ("/api/swarms/"
            SWARM_ESCAPED "/history") > first, WAIT_MS);
  }
  fail_unless_equals_int (http_status ("/api/swarms/nope/history", NULL,
          NULL), 404);
  fail_unless_equals_int (http_status ("/api/swarms/live/one/history", NULL,
          NULL), 404);
  fail_unless_equals_int (http_status ("/api/swarms//history", NULL, NULL),
      404);
  fail_unless_equals_int (http_status ("/api/swarms/%FF/history", NULL,
          NULL), 404);
}

GST_END_TEST;

GST_START_TEST (test_refused_and_left)
{
  g_autoptr (Client) a = NULL;
  g_autoptr (Client) b = NULL;
  g_autoptr (JsonNode) overview = NULL;
  JsonObject *o;

  start_tracker (NULL);
  a = client_join ("live", "peer-aaaa");
  b = client_join ("live", "peer-bbbb");
  client_report (a, 1000, 4000, 0, 0);
  client_expect (a, "peers");

  /* at once again: dropped, no error */
  client_report (a, 2000, 8000, 0, 0);
  client_expect (a, "peers");
  {
    g_autofree gchar *metrics = NULL;
    SoupMessage *msg;

    overview = http_get_json ("/api/overview");
    o = json_node_get_object (overview);
    fail_unless_equals_int (json_object_get_int_member (o,
            "bytes_from_peers"), 4000);
    g_clear_pointer (&overview, json_node_unref);

    metrics = http_get_full ("/metrics", NULL, NULL, &msg);
    g_object_unref (msg);
    expect_metric (metrics, "mesh_tracker_qos_reports_total"
        "{result=\"too-soon\"} 1");
  }

  /* b leaves: its swarm stays, what a reported stays counted */
  soup_websocket_connection_close (b->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  MESH_TEST_WAIT_UNTIL (context, mesh_tracker_server_get_peers (tracker) == 1,
      WAIT_MS);
  overview = http_get_json ("/api/overview");
  o = json_node_get_object (overview);
  fail_unless_equals_int (json_object_get_int_member (o, "peers"), 1);
  fail_unless_equals_int (json_object_get_int_member (o, "swarms"), 1);
  fail_unless_equals_int (json_object_get_int_member (o, "bytes_from_cdn"),
      1000);
  fail_unless (json_object_get_array_member (o, "points") != NULL);
}

GST_END_TEST;

GST_START_TEST (test_counter_down_is_bad_message)
{
  g_autoptr (Client) a = NULL;
  g_autoptr (JsonNode) overview = NULL;
  MeshQosReport report = {.version = 1,.cdn_bytes = 10 };
  g_autofree gchar *down = mesh_tracker_encode_qos (&report, NULL);

  start_tracker (NULL);
  a = client_join ("live", "peer-aaaa");
  client_report (a, 1000, 0, 0, 0);
  client_expect (a, "peers");
  /* within the second of the rate bound: refused for going down all the
   * same, a bad message (not fatal) */
  soup_websocket_connection_send_text (a->ws, down);
  client_expect (a, "error");
  client_report (a, 1000, 0, 0, 0);
  client_expect (a, "peers");
  overview = http_get_json ("/api/overview");
  fail_unless_equals_int (json_object_get_int_member (json_node_get_object
          (overview), "bytes_from_cdn"), 1000);
}

GST_END_TEST;

GST_START_TEST (test_metrics_totals)
{
  g_autoptr (Client) a = NULL;
  g_autofree gchar *metrics = NULL;
  SoupMessage *msg;

  start_tracker (ADMIN_TOKEN);
  a = client_join ("live", "peer-aaaa");
  client_report (a, 1234, 5678, 910, 1);
  client_expect (a, "peers");
  /* /metrics stays open with an admin token */
  metrics = http_get_full ("/metrics", NULL, NULL, &msg);
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  g_object_unref (msg);
  expect_metric (metrics, "mesh_reported_bytes_from_cdn_total 1234");
  expect_metric (metrics, "mesh_reported_bytes_from_peers_total 5678");
  expect_metric (metrics, "mesh_reported_bytes_uploaded_total 910");
  expect_metric (metrics, "mesh_reported_stalls_total 1");
  expect_metric (metrics, "mesh_peers 1");
  expect_metric (metrics, "mesh_swarms 1");
  expect_metric (metrics, "# TYPE mesh_reported_stalls_total counter");
  /* aggregates only: no swarm in a label */
  fail_if (strstr (metrics, "swarm=") != NULL);
}

GST_END_TEST;

GST_START_TEST (test_admin_token)
{
  const gchar *bearer = "Bearer " ADMIN_TOKEN;
  SoupMessage *msg;
  g_autofree gchar *body = NULL;
  const gchar *cookie;
  g_autofree gchar *name_value = NULL;

  start_tracker (ADMIN_TOKEN);
  fail_unless_equals_int (http_status ("/api/swarms", NULL, NULL), 401);
  fail_unless_equals_int (http_status ("/api/overview", NULL, NULL), 401);
  fail_unless_equals_int (http_status ("/", NULL, NULL), 401);
  fail_unless_equals_int (http_status ("/api/swarms", "Authorization",
          "Bearer " ADMIN_TOKEN "x"), 401);
  fail_unless_equals_int (http_status ("/api/swarms", "Authorization",
          "Bearer 0123456789abcdef-admio"), 401);
  fail_unless_equals_int (http_status ("/api/swarms", "Authorization",
          bearer), 200);
  fail_unless_equals_int (http_status ("/", "Authorization", bearer), 200);
  fail_unless_equals_int (http_status ("/health", NULL, NULL), 200);
  fail_unless_equals_int (http_status ("/dashboard/dashboard.js", NULL,
          NULL), 200);
  fail_unless_equals_int (http_status ("/?token=wrong", NULL, NULL), 401);

  /* ?token= once: an HttpOnly cookie, and the address without it */
  body = http_get_full ("/?token=" ADMIN_TOKEN, NULL, NULL, &msg);
  fail_unless_equals_int (soup_message_get_status (msg), 303);
  cookie = soup_message_headers_get_one (soup_message_get_response_headers
      (msg), "Set-Cookie");
  fail_unless (cookie != NULL);
  fail_unless (strstr (cookie, "HttpOnly") != NULL, "%s", cookie);
  fail_unless (strstr (cookie, "SameSite=Strict") != NULL, "%s", cookie);
  fail_unless (g_str_has_suffix (soup_message_headers_get_one
          (soup_message_get_response_headers (msg), "Location"), "/"));
  name_value = g_strndup (cookie, strcspn (cookie, ";"));
  g_object_unref (msg);
  fail_unless_equals_int (http_status ("/api/swarms", "Cookie", name_value),
      200);
  fail_unless_equals_int (http_status ("/", "Cookie", name_value), 200);
  fail_unless_equals_int (http_status ("/api/swarms", "Cookie",
          "mesh_admin=nope"), 401);
}

GST_END_TEST;

GST_START_TEST (test_page_and_assets)
{
  SoupMessage *msg;
  g_autofree gchar *page = NULL;
  SoupMessageHeaders *headers;

  start_tracker (NULL);
  page = http_get_full ("/", NULL, NULL, &msg);
  headers = soup_message_get_response_headers (msg);
  fail_unless_equals_int (soup_message_get_status (msg), 200);
  fail_unless_equals_string (soup_message_headers_get_content_type (headers,
          NULL), "text/html");
  fail_unless (strstr (soup_message_headers_get_one (headers,
              "Content-Security-Policy"), "default-src 'self'") != NULL);
  fail_unless (strstr (page, "chart-offload") != NULL);
  fail_unless (strstr (page, "/dashboard/dashboard.js") != NULL);
  g_object_unref (msg);
  fail_unless_equals_int (http_status ("/dashboard/dashboard.css", NULL,
          NULL), 200);
  fail_unless_equals_int (http_status ("/dashboard/nope.js", NULL, NULL), 404);
  fail_unless_equals_int (http_status ("/dashboard/../mesh-tracker", NULL,
          NULL), 404);
  fail_unless_equals_int (http_status ("/elsewhere", NULL, NULL), 404);
}

GST_END_TEST;

GST_START_TEST (test_admin_token_validity)
{
  fail_unless (mesh_tracker_is_valid_admin_token (ADMIN_TOKEN));
  fail_if (mesh_tracker_is_valid_admin_token ("short"));
  fail_if (mesh_tracker_is_valid_admin_token ("0123456789abcdef;x"));
  fail_if (mesh_tracker_is_valid_admin_token ("0123456789abcdef x"));
  fail_if (mesh_tracker_is_valid_admin_token (NULL));
}

GST_END_TEST;

static Suite *
tracker_api_suite (void)
{
  Suite *s = suite_create ("tracker-api");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_swarms_after_qos);
  tcase_add_test (tc, test_refused_and_left);
  tcase_add_test (tc, test_counter_down_is_bad_message);
  tcase_add_test (tc, test_metrics_totals);
  tcase_add_test (tc, test_admin_token);
  tcase_add_test (tc, test_page_and_assets);
  tcase_add_test (tc, test_admin_token_validity);
  return s;
}

GST_CHECK_MAIN (tracker_api);
