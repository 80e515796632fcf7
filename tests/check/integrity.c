/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshIntegrity (ext/mesh/fetch/mesh-integrity.[ch]): verifying segments
 * from peers against the list a SoupServer on 127.0.0.1 publishes as
 * /stream/mesh-hashes.json, which the tests change under it.
 *
 * Threads: the test's thread runs one GMainContext, thread-default, with
 * the server, the session and the MeshIntegrity; the tests iterate it until
 * what they wait for happened.
 */
#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include <string.h>

#include "fetch/mesh-integrity.h"
#include "p2p/mesh-memory-signaller.h"

#define WAIT_US (10 * G_USEC_PER_SEC)

typedef struct
{
  GMainContext *context;
  SoupServer *server;
  SoupSession *session;
  gchar *manifest_url;
  gchar *list;                  /* served as is; NULL = 404 */
  guint list_requests;
  gboolean available;
  guint state_changes;
  gchar *why;
} Fixture;

typedef struct
{
  gboolean done;
  MeshIntegrityResult result;
} Outcome;

static void
serve (SoupServer * server, SoupServerMessage * msg, const gchar * path,
    GHashTable * query, Fixture * f)
{
  if (strcmp (path, "/stream/mesh-hashes.json") != 0 || !f->list) {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }
  f->list_requests++;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json",
      SOUP_MEMORY_COPY, f->list, strlen (f->list));
}

static gchar *
sha256_hex (const gchar * text)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
}

/* A list with "seg1.ts" holding "one", and "seg2.ts" holding "two" when
 * @with_second. */
static gchar *
make_list (gboolean with_second)
{
  g_autofree gchar *one = sha256_hex ("one");
  g_autofree gchar *two = sha256_hex ("two");

  return g_strdup_printf ("{\"version\": 1, \"algorithm\": \"sha-256\", "
      "\"files\": {\"seg1.ts\": {\"size\": 3, \"sha256\": \"%s\"}%s%s%s}}",
      one, with_second ? ", \"seg2.ts\": {\"size\": 3, \"sha256\": \"" : "",
      with_second ? two : "", with_second ? "\"}" : "");
}

static void
on_state (gboolean available, const gchar * why, gpointer data)
{
  Fixture *f = data;

  f->available = available;
  f->state_changes++;
  g_free (f->why);
  f->why = g_strdup (why);
}

static Fixture *
fixture_new (gchar * list)
{
  Fixture *f = g_new0 (Fixture, 1);
  GError *error = NULL;
  GSList *uris;

  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->list = list;
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, (SoupServerCallback) serve, f,
      NULL);
  fail_unless (soup_server_listen_local (f->server, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, &error), "%s", error ?
      error->message : "");
  uris = soup_server_get_uris (f->server);
  f->manifest_url = g_strdup_printf ("http://127.0.0.1:%d/stream/index.m3u8",
      g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  f->session = soup_session_new ();
  f->available = TRUE;
  return f;
}

static void
fixture_free (Fixture * f)
{
  g_object_unref (f->session);
  g_object_unref (f->server);
  while (g_main_context_iteration (f->context, FALSE));
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
  g_free (f->manifest_url);
  g_free (f->list);
  g_free (f->why);
  g_free (f);
}

#define ITERATE_UNTIL(f, cond) G_STMT_START {                          \
  gint64 _end = g_get_monotonic_time () + WAIT_US;                      \
  while (!(cond) && g_get_monotonic_time () < _end)                     \
    g_main_context_iteration ((f)->context, TRUE);                      \
  fail_unless ((cond), "never: %s", #cond);                             \
} G_STMT_END

static void
on_result (MeshIntegrityResult result, gpointer data)
{
  Outcome *o = data;

  o->done = TRUE;
  o->result = result;
}

static MeshIntegrityResult
verify (Fixture * f, MeshIntegrity * integrity, const gchar * name,
    const gchar * text, gint64 since)
{
  g_autofree gchar *url = g_strdup_printf ("%.*s%s",
      (int) (strrchr (f->manifest_url, '/') - f->manifest_url + 1),
      f->manifest_url, name);
  g_autoptr (GBytes) data = g_bytes_new (text, strlen (text));
  Outcome o = { FALSE, };

  mesh_integrity_verify (integrity, url, 0, TRUE, data, since, on_result, &o,
      NULL);
  /* never from within the call */
  fail_if (o.done);
  ITERATE_UNTIL (f, o.done);
  return o.result;
}

/* The right bytes pass, forged ones do not, and a file the list does not
 * name is not accepted either. */
GST_START_TEST (test_verifies_against_the_list)
{
  Fixture *f = fixture_new (make_list (FALSE));
  MeshIntegrity *integrity =
      mesh_integrity_new (f->session, MESH_INTEGRITY_AUTO, f->manifest_url,
      NULL, NULL, on_state, f);

  ITERATE_UNTIL (f, f->list_requests == 1);
  fail_unless_equals_int (verify (f, integrity, "seg1.ts", "one", 1),
      MESH_INTEGRITY_VERIFIED);
  fail_unless_equals_int (verify (f, integrity, "seg1.ts", "One", 1),
      MESH_INTEGRITY_MISMATCH);
  fail_unless_equals_int (verify (f, integrity, "seg1.ts", "one!", 1),
      MESH_INTEGRITY_MISMATCH);
  fail_unless_equals_int (verify (f, integrity, "../seg1.ts", "one", 1),
      MESH_INTEGRITY_UNVERIFIABLE);
  /* older than the list: fetching it again would not help */
  fail_unless_equals_int (verify (f, integrity, "seg2.ts", "two", 1),
      MESH_INTEGRITY_UNVERIFIABLE);
  fail_unless_equals_int (f->list_requests, 1);
  fail_unless (mesh_integrity_may_use_peers (integrity));
  fail_unless_equals_int (f->state_changes, 0);

  mesh_integrity_free (integrity);
  fixture_free (f);
}

GST_END_TEST;

/* A live segment newer than the list at hand: the list is fetched again,
 * and verifies it. */
GST_START_TEST (test_newer_segment_refetches_the_list)
{
  Fixture *f = fixture_new (make_list (FALSE));
  MeshIntegrity *integrity =
      mesh_integrity_new (f->session, MESH_INTEGRITY_AUTO, f->manifest_url,
      NULL, NULL, on_state, f);
  gint64 since;

  ITERATE_UNTIL (f, f->list_requests == 1);
  /* the packager wrote seg2.ts and mesh-hashes --watch listed it */
  g_free (f->list);
  f->list = make_list (TRUE);
  since = g_get_monotonic_time ();
  fail_unless_equals_int (verify (f, integrity, "seg2.ts", "two", since),
      MESH_INTEGRITY_VERIFIED);
  fail_unless_equals_int (f->list_requests, 2);
  fail_unless_equals_int (verify (f, integrity, "seg2.ts", "tw0", since),
      MESH_INTEGRITY_MISMATCH);
  fail_unless_equals_int (f->list_requests, 2);

  mesh_integrity_free (integrity);
  fixture_free (f);
}

GST_END_TEST;

/* No list: peers may not be used, and the owner hears why. */
GST_START_TEST (test_missing_list_turns_peers_off)
{
  Fixture *f = fixture_new (NULL);
  MeshIntegrity *integrity =
      mesh_integrity_new (f->session, MESH_INTEGRITY_AUTO, f->manifest_url,
      NULL, NULL, on_state, f);

  fail_unless (mesh_integrity_may_use_peers (integrity));
  ITERATE_UNTIL (f, f->state_changes == 1);
  fail_if (f->available);
  fail_if (mesh_integrity_may_use_peers (integrity));
  fail_unless (strstr (f->why, "mesh-hashes.json") != NULL, "%s", f->why);
  fail_unless (strstr (f->why, "404") != NULL, "%s", f->why);
  fail_unless_equals_int (verify (f, integrity, "seg1.ts", "one", 1),
      MESH_INTEGRITY_UNVERIFIABLE);

  mesh_integrity_free (integrity);
  fixture_free (f);
}

GST_END_TEST;

/* A malformed list is no list. */
GST_START_TEST (test_malformed_list_turns_peers_off)
{
  Fixture *f = fixture_new (g_strdup ("{\"version\": 1, \"files\": []"));
  MeshIntegrity *integrity =
      mesh_integrity_new (f->session, MESH_INTEGRITY_AUTO, f->manifest_url,
      NULL, NULL, on_state, f);

  ITERATE_UNTIL (f, f->state_changes == 1);
  fail_if (mesh_integrity_may_use_peers (integrity));

  mesh_integrity_free (integrity);
  fixture_free (f);
}

GST_END_TEST;

/* A signaller joined to a swarm of @hub, as the peer manager's would be. */
static MeshSignaller *
joined_signaller (Fixture * f, MeshMemoryHub * hub)
{
  MeshSignaller *s = MESH_SIGNALLER (mesh_memory_signaller_new (hub));

  mesh_signaller_join (s, "swarm", "viewer-0001", NULL, TRUE);
  ITERATE_UNTIL (f, mesh_memory_hub_get_n_members (hub, "swarm") == 1);
  return s;
}

/* No list, but a tracker that attests digests: segments are verified with
 * what it attests, and peers stay usable. */
GST_START_TEST (test_attested_digest_verifies_without_list)
{
  Fixture *f = fixture_new (NULL);
  g_autoptr (MeshMemoryHub) hub = mesh_memory_hub_new ();
  g_autoptr (MeshSignaller) signaller = joined_signaller (f, hub);
  g_autofree gchar *url = g_strdup_printf ("%.*sseg1.ts",
      (int) (strrchr (f->manifest_url, '/') - f->manifest_url + 1),
      f->manifest_url);
  guint8 digest[32];
  gsize len = sizeof (digest);
  GChecksum *sha = g_checksum_new (G_CHECKSUM_SHA256);
  MeshIntegrity *integrity;

  g_checksum_update (sha, (const guchar *) "one", 3);
  g_checksum_get_digest (sha, digest, &len);
  g_checksum_free (sha);
  mesh_memory_hub_set_attestation (hub, url, 0, -1, digest, 3);
  integrity = mesh_integrity_new (f->session, MESH_INTEGRITY_AUTO,
      f->manifest_url, NULL, signaller, on_state, f);

  fail_unless_equals_int (verify (f, integrity, "seg1.ts", "one", 1),
      MESH_INTEGRITY_VERIFIED);
  fail_unless_equals_int (verify (f, integrity, "seg1.ts", "One", 1),
      MESH_INTEGRITY_MISMATCH);
  fail_unless (mesh_integrity_may_use_peers (integrity));
  fail_unless_equals_int (f->state_changes, 0);

  mesh_integrity_free (integrity);
  mesh_signaller_leave (signaller);
  fixture_free (f);
}

GST_END_TEST;

/* No list, and a tracker that attests nothing: peers are off once it said
 * so, and the owner hears why. With integrity=hash-list the tracker is not
 * asked at all. */
GST_START_TEST (test_no_source_turns_peers_off)
{
  Fixture *f = fixture_new (NULL);
  g_autoptr (MeshMemoryHub) hub = mesh_memory_hub_new ();
  g_autoptr (MeshSignaller) signaller = joined_signaller (f, hub);
  MeshIntegrity *integrity = mesh_integrity_new (f->session,
      MESH_INTEGRITY_AUTO, f->manifest_url, NULL, signaller, on_state, f);

  fail_unless_equals_int (verify (f, integrity, "seg1.ts", "one", 1),
      MESH_INTEGRITY_UNVERIFIABLE);
  ITERATE_UNTIL (f, f->state_changes == 1);
  fail_if (f->available);
  fail_if (mesh_integrity_may_use_peers (integrity));
  fail_unless (strstr (f->why, "attest") != NULL, "%s", f->why);
  mesh_integrity_free (integrity);
  mesh_signaller_leave (signaller);
  fixture_free (f);
}

GST_END_TEST;

static Suite *
integrity_suite (void)
{
  Suite *s = suite_create ("integrity");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_verifies_against_the_list);
  tcase_add_test (tc, test_newer_segment_refetches_the_list);
  tcase_add_test (tc, test_missing_list_turns_peers_off);
  tcase_add_test (tc, test_malformed_list_turns_peers_off);
  tcase_add_test (tc, test_attested_digest_verifies_without_list);
  tcase_add_test (tc, test_no_source_turns_peers_off);
  return s;
}

GST_CHECK_MAIN (integrity);
