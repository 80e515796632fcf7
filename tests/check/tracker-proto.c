/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of the tracker protocol codec (ext/mesh/p2p/mesh-tracker-proto.c):
 * every message encoded and decoded again, in the direction it travels;
 * malformed and hostile JSON refused with an error that says why; ids at
 * and past their bounds; the leniency of the client side (peer lists with
 * some bad entries, shapeless errors) and the strictness of the tracker
 * side.
 *
 * Threads: the codec is pure; everything runs on the check thread.
 */

#include <gst/check/gstcheck.h>
#include <string.h>

#include "p2p/mesh-tracker-proto.h"

/* Decodes @text (NUL-terminated) and checks that it fails with @code. The
 * message's type is returned (how far decoding got). */
static MeshTrackerMessageType
expect_refused (MeshTrackerDirection direction, const gchar * text,
    MeshTrackerProtoError code)
{
  g_autoptr (GError) error = NULL;
  MeshTrackerMessage msg;
  MeshTrackerMessageType type;

  fail_if (mesh_tracker_message_decode (&msg, direction, text, strlen (text),
          &error), "accepted: %.200s", text);
  fail_unless (g_error_matches (error, MESH_TRACKER_PROTO_ERROR, code),
      "%.200s: wrong error %s", text, error ? error->message : "(none)");
  fail_unless (error->message && *error->message);
  type = msg.type;
  mesh_tracker_message_clear (&msg);
  return type;
}

static void
expect_malformed (MeshTrackerDirection direction, const gchar * text)
{
  expect_refused (direction, text, MESH_TRACKER_PROTO_ERROR_MALFORMED);
}

/* Decodes @text, which must decode; @msg must be cleared by the caller. */
static void
decode_ok (MeshTrackerMessage * msg, MeshTrackerDirection direction,
    const gchar * text)
{
  g_autoptr (GError) error = NULL;

  fail_unless (mesh_tracker_message_decode (msg, direction, text,
          strlen (text), &error), "%.200s: %s", text,
      error ? error->message : "");
}

/* @text nested @depth arrays deep inside a signal's data. */
static gchar *
deep_signal (guint depth)
{
  GString *text = g_string_new ("{\"type\":\"signal\",\"to\":\"peer-bbbb\","
      "\"data\":");
  guint i;

  for (i = 0; i < depth; i++)
    g_string_append_c (text, '[');
  for (i = 0; i < depth; i++)
    g_string_append_c (text, ']');
  g_string_append_c (text, '}');
  return g_string_free (text, FALSE);
}

GST_START_TEST (test_join_round_trip)
{
  g_autofree gchar *with_token = mesh_tracker_encode_join ("live/ch1",
      "peer-aaaa", "1700000000.abcdef", TRUE);
  g_autofree gchar *without = mesh_tracker_encode_join ("live/ch1",
      "peer-bbbb", NULL, FALSE);
  MeshTrackerMessage msg;

  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, with_token);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_JOIN);
  fail_unless_equals_string (msg.type_name, "join");
  fail_unless_equals_int (msg.version, 1);
  fail_unless_equals_string (msg.swarm, "live/ch1");
  fail_unless_equals_string (msg.peer, "peer-aaaa");
  fail_unless_equals_string (msg.token, "1700000000.abcdef");
  fail_unless (msg.upload);
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, without);
  fail_unless_equals_string (msg.peer, "peer-bbbb");
  fail_unless (msg.token == NULL);
  fail_if (msg.upload);
  /* the wire format of docs/protocol.md */
  fail_unless (strstr (without, "\"version\":1") != NULL, "%s", without);
  fail_unless (strstr (without, "\"caps\":{\"upload\":false}") != NULL, "%s",
      without);
  fail_unless (strstr (without, "token") == NULL, "%s", without);
  mesh_tracker_message_clear (&msg);

  /* a join is no message the tracker sends */
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, with_token);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_UNKNOWN);
  fail_unless_equals_string (msg.type_name, "join");
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

GST_START_TEST (test_signal_round_trip)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *data;
  g_autofree gchar *out = NULL;
  g_autofree gchar *data_text = NULL;
  g_autofree gchar *relayed = NULL;
  MeshTrackerMessage msg;

  fail_unless (json_parser_load_from_data (parser, "{\"kind\":\"candidate\","
          "\"sdp\":\"a=candidate:1 1 UDP 2013266431 127.0.0.1 4242 typ host"
          "\\r\\n\",\"quote\":\"\\\"}{\",\"n\":[1,2.5,null,true],"
          "\"unicode\":\"h\\u00e9 \\u2603\"}", -1, NULL));
  data = json_parser_get_root (parser);

  out = mesh_tracker_encode_signal ("peer-bbbb", data);
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, out);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_SIGNAL);
  fail_unless_equals_string (msg.peer, "peer-bbbb");
  fail_unless (json_node_equal (msg.data, data), "data changed: %s", out);

  /* the tracker relays the data as serialised, with "from" */
  data_text = json_to_string (msg.data, FALSE);
  relayed = mesh_tracker_encode_relayed_signal ("peer-aaaa", data_text);
  mesh_tracker_message_clear (&msg);
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, relayed);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_SIGNAL);
  fail_unless_equals_string (msg.peer, "peer-aaaa");
  fail_unless (json_node_equal (msg.data, data), "data changed: %s", relayed);
  mesh_tracker_message_clear (&msg);

  /* data may be any JSON value */
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT,
      "{\"type\":\"signal\",\"from\":\"peer-aaaa\",\"data\":\"text\"}");
  fail_unless (JSON_NODE_HOLDS_VALUE (msg.data));
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

/* "from" is quoted whatever it holds: no way to break out of the string. */
GST_START_TEST (test_relayed_signal_quoting)
{
  g_autofree gchar *text = mesh_tracker_encode_relayed_signal
      ("x\",\"type\":\"welcome", "{}");
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *object;

  fail_unless (json_parser_load_from_data (parser, text, -1, NULL), "%s", text);
  object = json_node_get_object (json_parser_get_root (parser));
  fail_unless_equals_string (json_object_get_string_member (object, "type"),
      "signal");
  fail_unless_equals_string (json_object_get_string_member (object, "from"),
      "x\",\"type\":\"welcome");
  /* and a client refuses it: not a peer id */
  expect_malformed (MESH_TRACKER_TO_CLIENT, text);
}

GST_END_TEST;

GST_START_TEST (test_tracker_messages_round_trip)
{
  MeshTrackerPeerEntry entries[] = {
    {(gchar *) "peer-up-0001", TRUE},
    {(gchar *) "peer-down-01", FALSE},
  };
  g_autofree gchar *welcome = mesh_tracker_encode_welcome ("peer-me-0001",
      "swarm \xe2\x98\x83", 15, entries, G_N_ELEMENTS (entries));
  g_autofree gchar *empty_welcome = mesh_tracker_encode_welcome
      ("peer-me-0001", "s", 30, NULL, 0);
  g_autofree gchar *peers = mesh_tracker_encode_peers (entries, 1);
  g_autofree gchar *joined = mesh_tracker_encode_peer_joined ("peer-new-001",
      TRUE, FALSE);
  g_autofree gchar *left = mesh_tracker_encode_peer_left ("peer-old-001");
  g_autofree gchar *error = mesh_tracker_encode_error
      (MESH_TRACKER_ERROR_UNAUTHORIZED, "the token is \"expired\"", TRUE);
  MeshTrackerPeerEntry *entry;
  MeshTrackerMessage msg;

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, welcome);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_WELCOME);
  fail_unless_equals_int (msg.version, 1);
  fail_unless_equals_int (msg.heartbeat, 15);
  fail_unless_equals_string (msg.peer, "peer-me-0001");
  fail_unless_equals_string (msg.swarm, "swarm \xe2\x98\x83");
  fail_unless_equals_int (msg.peers->len, 2);
  entry = g_ptr_array_index (msg.peers, 0);
  fail_unless_equals_string (entry->peer, "peer-up-0001");
  fail_unless (entry->upload);
  entry = g_ptr_array_index (msg.peers, 1);
  fail_unless_equals_string (entry->peer, "peer-down-01");
  fail_if (entry->upload);
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, empty_welcome);
  fail_unless (msg.peers != NULL);
  fail_unless_equals_int (msg.peers->len, 0);
  fail_unless_equals_int (msg.heartbeat, 30);
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, peers);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_PEERS);
  fail_unless_equals_int (msg.peers->len, 1);
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, joined);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_PEER_JOINED);
  fail_unless_equals_string (msg.peer, "peer-new-001");
  fail_unless (msg.upload);
  fail_if (msg.near);
  fail_unless (strstr (joined, "near") == NULL, "%s", joined);
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, left);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_PEER_LEFT);
  fail_unless_equals_string (msg.peer, "peer-old-001");
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, error);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_ERROR);
  fail_unless_equals_string (msg.code, "unauthorized");
  fail_unless_equals_string (msg.message, "the token is \"expired\"");
  fail_unless (msg.fatal);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

/* "near" goes out only when true, and is read leniently: absent or not a
 * boolean is far. */
GST_START_TEST (test_near_round_trip)
{
  MeshTrackerPeerEntry entries[] = {
    {(gchar *) "peer-near-01", TRUE, TRUE},
    {(gchar *) "peer-far-001", TRUE, FALSE},
  };
  g_autofree gchar *peers = mesh_tracker_encode_peers (entries, 2);
  g_autofree gchar *joined = mesh_tracker_encode_peer_joined ("peer-new-001",
      FALSE, TRUE);
  MeshTrackerPeerEntry *entry;
  MeshTrackerMessage msg;

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, peers);
  fail_unless_equals_int (msg.peers->len, 2);
  entry = g_ptr_array_index (msg.peers, 0);
  fail_unless (entry->near);
  entry = g_ptr_array_index (msg.peers, 1);
  fail_if (entry->near);
  mesh_tracker_message_clear (&msg);
  /* one "near" member, the near entry's */
  fail_unless (strstr (peers, "\"near\":true") != NULL, "%s", peers);
  fail_if (strstr (strstr (peers, "\"near\"") + 1, "\"near\""), "%s", peers);
  fail_if (strstr (strstr (peers, "peer-far-001"), "\"near\""), "%s", peers);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, joined);
  fail_unless (msg.near);
  fail_if (msg.upload);
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, "{\"type\":\"peers\",\"peers\":"
      "[{\"peer\":\"peer-odd-001\",\"near\":\"yes\"},"
      "{\"peer\":\"peer-odd-002\",\"near\":1}]}");
  fail_unless_equals_int (msg.peers->len, 2);
  fail_if (((MeshTrackerPeerEntry *) g_ptr_array_index (msg.peers, 0))->near);
  fail_if (((MeshTrackerPeerEntry *) g_ptr_array_index (msg.peers, 1))->near);
  mesh_tracker_message_clear (&msg);

  /* a peer-left has no nearness */
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT,
      "{\"type\":\"peer-left\",\"peer\":\"peer-old-001\",\"near\":true}");
  fail_if (msg.near);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

GST_START_TEST (test_bare_messages)
{
  const MeshTrackerMessageType types[] = {
    MESH_TRACKER_MESSAGE_GET_PEERS, MESH_TRACKER_MESSAGE_HEARTBEAT,
    MESH_TRACKER_MESSAGE_LEAVE,
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (types); i++) {
    g_autofree gchar *text = mesh_tracker_encode_bare (types[i]);
    g_autofree gchar *expected = g_strdup_printf ("{\"type\":\"%s\"}",
        mesh_tracker_message_type_name (types[i]));
    MeshTrackerMessage msg;

    fail_unless_equals_string (text, expected);
    decode_ok (&msg, MESH_TRACKER_TO_TRACKER, text);
    fail_unless_equals_int (msg.type, types[i]);
    mesh_tracker_message_clear (&msg);
  }
}

GST_END_TEST;

GST_START_TEST (test_error_codes)
{
  gint i;

  for (i = 0; i < MESH_TRACKER_N_ERRORS; i++)
    fail_unless_equals_int (mesh_tracker_error_code_from_name
        (mesh_tracker_error_code_name (i)), i);
  fail_unless_equals_string (mesh_tracker_error_code_name
      (MESH_TRACKER_ERROR_BAD_MESSAGE), "bad-message");
  fail_unless_equals_string (mesh_tracker_error_code_name
      (MESH_TRACKER_ERROR_TOO_MANY_CONNECTIONS), "too-many-connections");
  fail_unless_equals_string (mesh_tracker_error_code_name
      (MESH_TRACKER_ERROR_PEER_ID_TAKEN), "peer-id-taken");
  fail_unless_equals_string (mesh_tracker_error_code_name
      (MESH_TRACKER_ERROR_BANNED), "banned");
  fail_unless_equals_string (mesh_tracker_error_code_name
      (MESH_TRACKER_ERROR_JOIN_LIMITED), "join-limited");
  fail_unless_equals_string (mesh_tracker_error_code_name
      (MESH_TRACKER_ERROR_TOO_MANY_REPORTS), "too-many-reports");
  fail_unless_equals_int (mesh_tracker_error_code_from_name ("no-such"), -1);
  fail_unless_equals_int (mesh_tracker_error_code_from_name (NULL), -1);
}

GST_END_TEST;

GST_START_TEST (test_malformed_envelopes)
{
  const gchar *bad[] = {
    "",
    "{not json",
    "{\"type\":\"join\"",
    "[1,2,3]",
    "\"just a string\"",
    "42",
    "null",
    "{}",
    "{\"no\":\"type\"}",
    "{\"type\":5}",
    "{\"type\":null}",
    "{\"type\":[\"join\"]}",
    "{\"type\":\"heartbeat\"} {\"type\":\"heartbeat\"}",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_TRACKER, bad[i],
            MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_INVALID);
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_CLIENT, bad[i],
            MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_INVALID);
  }
}

GST_END_TEST;

/* Bytes past @size, a NUL inside, invalid UTF-8: the decoder reads exactly
 * what it is given and refuses what is not JSON text. */
GST_START_TEST (test_hostile_bytes)
{
  const gchar with_nul[] = "{\"type\":\"heartbeat\",\"x\":\"a\0b\"}";
  const gchar truncated[] = "{\"type\":\"heartbeat\"}garbage";
  const gchar *bad_utf8 = "{\"type\":\"join\",\"version\":1,"
      "\"swarm\":\"\xff\xfe\",\"peer\":\"peer-aaaa\"}";
  g_autoptr (GError) error = NULL;
  MeshTrackerMessage msg;

  fail_if (mesh_tracker_message_decode (&msg, MESH_TRACKER_TO_TRACKER,
          with_nul, sizeof (with_nul) - 1, &error));
  fail_unless (g_error_matches (error, MESH_TRACKER_PROTO_ERROR,
          MESH_TRACKER_PROTO_ERROR_MALFORMED));
  mesh_tracker_message_clear (&msg);
  g_clear_error (&error);

  fail_unless (mesh_tracker_message_decode (&msg, MESH_TRACKER_TO_TRACKER,
          truncated, strlen ("{\"type\":\"heartbeat\"}"), &error), "%s",
      error ? error->message : "");
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_HEARTBEAT);
  mesh_tracker_message_clear (&msg);

  expect_malformed (MESH_TRACKER_TO_TRACKER, bad_utf8);
  /* an escape json-glib decodes into a byte that is not UTF-8, inside a
   * signal's data (found by tracker-fuzz): relayed, it would be malformed
   * JSON for the peer */
  expect_malformed (MESH_TRACKER_TO_TRACKER, "{\"type\":\"signal\","
      "\"to\":\"peer-aaaa\",\"data\":{\"k\":\"v\\277\"}}");
  expect_malformed (MESH_TRACKER_TO_CLIENT, "{\"type\":\"signal\","
      "\"from\":\"peer-aaaa\",\"data\":{\"k\":\"v\\277\"}}");

  /* one value per message, whitespace around it is fine */
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, " {\"type\":\"heartbeat\"} \n");
  mesh_tracker_message_clear (&msg);
  expect_malformed (MESH_TRACKER_TO_TRACKER,
      "{\"type\":\"heartbeat\"}{\"type\":\"leave\"}");
  expect_malformed (MESH_TRACKER_TO_CLIENT, "{\"type\":\"peers\","
      "\"peers\":[]}[]");
}

GST_END_TEST;

GST_START_TEST (test_nesting_depth)
{
  g_autofree gchar *at_limit = deep_signal (MESH_TRACKER_MAX_DEPTH - 1);
  g_autofree gchar *past_limit = deep_signal (MESH_TRACKER_MAX_DEPTH);
  /* deep enough to exhaust json-glib's stack if it were parsed */
  g_autofree gchar *hostile = deep_signal (500000);
  /* brackets inside strings do not count, escaped quotes do not end them */
  g_autofree gchar *in_string = NULL;
  g_autofree gchar *brackets = g_strnfill (1000, '[');
  MeshTrackerMessage msg;

  /* the message object is one level: data adds the rest */
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, at_limit);
  mesh_tracker_message_clear (&msg);
  expect_malformed (MESH_TRACKER_TO_TRACKER, past_limit);
  expect_malformed (MESH_TRACKER_TO_TRACKER, hostile);
  expect_malformed (MESH_TRACKER_TO_CLIENT, hostile);

  in_string = g_strdup_printf ("{\"type\":\"signal\",\"to\":\"peer-bbbb\","
      "\"data\":\"\\\"%s\"}", brackets);
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, in_string);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

GST_START_TEST (test_join_strict)
{
  const gchar *bad[] = {
    "{\"type\":\"join\",\"swarm\":\"s\",\"peer\":\"peer-aaaa\"}",
    "{\"type\":\"join\",\"version\":\"1\",\"swarm\":\"s\","
        "\"peer\":\"peer-aaaa\"}",
    "{\"type\":\"join\",\"version\":1.0,\"swarm\":\"s\","
        "\"peer\":\"peer-aaaa\"}",
    "{\"type\":\"join\",\"version\":1,\"peer\":\"peer-aaaa\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"\",\"peer\":\"peer-aaaa\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":7,\"peer\":\"peer-aaaa\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"short\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"bad peer!\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"peer-\xc3\xa9t\xc3\xa9\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"peer-aaaa\","
        "\"token\":5}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"peer-aaaa\","
        "\"caps\":{\"upload\":\"yes\"}}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\",\"peer\":\"peer-aaaa\","
        "\"caps\":[]}",
  };
  MeshTrackerMessage msg;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_TRACKER, bad[i],
            MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_JOIN);

  /* another version is refused before anything else is looked at */
  fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_TRACKER,
          "{\"type\":\"join\",\"version\":2,\"swarm\":\"\"}",
          MESH_TRACKER_PROTO_ERROR_UNSUPPORTED_VERSION),
      MESH_TRACKER_MESSAGE_JOIN);

  /* optional members may be null; unknown ones are ignored */
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, "{\"type\":\"join\",\"version\":1,"
      "\"swarm\":\"s\",\"peer\":\"peer-aaaa\",\"token\":null,\"caps\":null,"
      "\"future\":{\"x\":[1]}}");
  fail_unless (msg.token == NULL);
  fail_if (msg.upload);
  mesh_tracker_message_clear (&msg);
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, "{\"type\":\"join\",\"version\":1,"
      "\"swarm\":\"s\",\"peer\":\"peer-aaaa\",\"caps\":{}}");
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

/* The bounds of docs/protocol.md 1.1: 1..256 characters (not bytes) of
 * swarm id, 8..64 of peer id. */
GST_START_TEST (test_id_bounds)
{
  g_autofree gchar *peer_8 = g_strnfill (8, 'p');
  g_autofree gchar *peer_7 = g_strnfill (7, 'p');
  g_autofree gchar *peer_64 = g_strnfill (64, 'p');
  g_autofree gchar *peer_65 = g_strnfill (65, 'p');
  g_autofree gchar *swarm_256 = g_strnfill (256, 's');
  g_autofree gchar *swarm_257 = g_strnfill (257, 's');
  GString *snowmen = g_string_new (NULL);
  guint i;

  fail_unless (mesh_tracker_is_valid_peer_id (peer_8));
  fail_unless (mesh_tracker_is_valid_peer_id (peer_64));
  fail_unless (mesh_tracker_is_valid_peer_id ("A-z_0-9-"));
  fail_if (mesh_tracker_is_valid_peer_id (peer_7));
  fail_if (mesh_tracker_is_valid_peer_id (peer_65));
  fail_if (mesh_tracker_is_valid_peer_id ("peer aaaa"));
  fail_if (mesh_tracker_is_valid_peer_id ("peer/aaaa"));
  fail_if (mesh_tracker_is_valid_peer_id (NULL));

  fail_unless (mesh_tracker_is_valid_swarm_id ("s"));
  fail_unless (mesh_tracker_is_valid_swarm_id (swarm_256));
  fail_if (mesh_tracker_is_valid_swarm_id (swarm_257));
  fail_if (mesh_tracker_is_valid_swarm_id (""));
  fail_if (mesh_tracker_is_valid_swarm_id ("\xc3("));
  /* 256 characters of 3 bytes each */
  for (i = 0; i < 256; i++)
    g_string_append (snowmen, "\xe2\x98\x83");
  fail_unless (mesh_tracker_is_valid_swarm_id (snowmen->str));
  g_string_append (snowmen, "\xe2\x98\x83");
  fail_if (mesh_tracker_is_valid_swarm_id (snowmen->str));
  g_string_free (snowmen, TRUE);
}

GST_END_TEST;

GST_START_TEST (test_oversized_fields)
{
  g_autofree gchar *peer_65 = g_strnfill (65, 'p');
  g_autofree gchar *swarm_257 = g_strnfill (257, 's');
  g_autofree gchar *join_long_peer = g_strdup_printf ("{\"type\":\"join\","
      "\"version\":1,\"swarm\":\"s\",\"peer\":\"%s\"}", peer_65);
  g_autofree gchar *join_long_swarm = g_strdup_printf ("{\"type\":\"join\","
      "\"version\":1,\"swarm\":\"%s\",\"peer\":\"peer-aaaa\"}", swarm_257);
  g_autofree gchar *joined_long = g_strdup_printf ("{\"type\":\"peer-joined\","
      "\"peer\":\"%s\"}", peer_65);
  g_autofree gchar *left_long = g_strdup_printf ("{\"type\":\"peer-left\","
      "\"peer\":\"%s\"}", peer_65);
  g_autofree gchar *signal_long = g_strdup_printf ("{\"type\":\"signal\","
      "\"from\":\"%s\",\"data\":{}}", peer_65);
  g_autofree gchar *list_long = g_strdup_printf ("{\"type\":\"peers\","
      "\"peers\":[{\"peer\":\"%s\"},{\"peer\":\"peer-good-01\"}]}", peer_65);
  MeshTrackerMessage msg;

  expect_malformed (MESH_TRACKER_TO_TRACKER, join_long_peer);
  expect_malformed (MESH_TRACKER_TO_TRACKER, join_long_swarm);
  expect_malformed (MESH_TRACKER_TO_CLIENT, joined_long);
  expect_malformed (MESH_TRACKER_TO_CLIENT, left_long);
  expect_malformed (MESH_TRACKER_TO_CLIENT, signal_long);
  /* in a list, the bad entry goes and the good one stays */
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, list_long);
  fail_unless_equals_int (msg.peers->len, 1);
  fail_unless_equals_string (((MeshTrackerPeerEntry *)
          g_ptr_array_index (msg.peers, 0))->peer, "peer-good-01");
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

GST_START_TEST (test_signal_strict)
{
  const gchar *bad_in[] = {
    "{\"type\":\"signal\",\"to\":5,\"data\":{}}",
    "{\"type\":\"signal\",\"to\":\"peer-bbbb\"}",
    "{\"type\":\"signal\",\"data\":{}}",
  };
  const gchar *bad_out[] = {
    "{\"type\":\"signal\",\"from\":\"peer-bbbb\"}",
    "{\"type\":\"signal\",\"data\":{}}",
    "{\"type\":\"signal\",\"from\":[],\"data\":{}}",
    "{\"type\":\"signal\",\"from\":\"\",\"data\":{}}",
    /* a client's "to" is no tracker's "from" */
    "{\"type\":\"signal\",\"to\":\"peer-bbbb\",\"data\":{}}",
  };
  MeshTrackerMessage msg;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad_in); i++)
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_TRACKER,
            bad_in[i], MESH_TRACKER_PROTO_ERROR_MALFORMED),
        MESH_TRACKER_MESSAGE_SIGNAL);
  for (i = 0; i < G_N_ELEMENTS (bad_out); i++)
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_CLIENT,
            bad_out[i], MESH_TRACKER_PROTO_ERROR_MALFORMED),
        MESH_TRACKER_MESSAGE_SIGNAL);

  /* the tracker looks "to" up: any string decodes */
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER,
      "{\"type\":\"signal\",\"to\":\"x\",\"data\":null}");
  fail_unless_equals_string (msg.peer, "x");
  fail_unless (JSON_NODE_HOLDS_NULL (msg.data));
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

GST_START_TEST (test_report_round_trip)
{
  g_autofree gchar *text = mesh_tracker_encode_report ("peer-bbbb",
      "segment 12: sha-256 mismatch \"quoted\" h\u00e9");
  g_autofree gchar *empty = mesh_tracker_encode_report ("peer-bbbb", "");
  g_autofree gchar *long_reason = g_strnfill (300, 'r');
  g_autofree gchar *cut = mesh_tracker_encode_report ("peer-bbbb",
      long_reason);
  MeshTrackerMessage msg;

  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, text);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_REPORT);
  fail_unless_equals_string (msg.type_name, "report");
  fail_unless_equals_string (msg.peer, "peer-bbbb");
  fail_unless_equals_string (msg.reason,
      "segment 12: sha-256 mismatch \"quoted\" h\u00e9");
  mesh_tracker_message_clear (&msg);

  /* what the encoder makes of reasons the decoder would refuse */
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, empty);
  fail_unless_equals_string (msg.reason, "unspecified");
  mesh_tracker_message_clear (&msg);
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, cut);
  fail_unless_equals_int (strlen (msg.reason), MESH_TRACKER_REPORT_REASON_MAX);
  mesh_tracker_message_clear (&msg);

  /* clients do not get reports */
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, text);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_UNKNOWN);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

GST_START_TEST (test_report_strict)
{
  g_autofree gchar *too_long = g_strnfill (MESH_TRACKER_REPORT_REASON_MAX + 1,
      'r');
  g_autofree gchar *longest = g_strnfill (MESH_TRACKER_REPORT_REASON_MAX, 'r');
  g_autofree gchar *over = g_strdup_printf ("{\"type\":\"report\","
      "\"peer\":\"peer-bbbb\",\"reason\":\"%s\"}", too_long);
  g_autofree gchar *at = g_strdup_printf ("{\"type\":\"report\","
      "\"peer\":\"peer-bbbb\",\"reason\":\"%s\"}", longest);
  const gchar *bad[] = {
    "{\"type\":\"report\",\"peer\":\"peer-bbbb\"}",
    "{\"type\":\"report\",\"reason\":\"bad data\"}",
    "{\"type\":\"report\",\"peer\":\"short\",\"reason\":\"bad data\"}",
    "{\"type\":\"report\",\"peer\":7,\"reason\":\"bad data\"}",
    "{\"type\":\"report\",\"peer\":\"peer-bbbb\",\"reason\":\"\"}",
    "{\"type\":\"report\",\"peer\":\"peer-bbbb\",\"reason\":[]}",
    over,
  };
  MeshTrackerMessage msg;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_TRACKER, bad[i],
            MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_REPORT);
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, at);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

/* Found by tracker-fuzz: \672 is an octal escape to json-glib, a byte
 * that is not UTF-8, which the join used to keep as its token. */
GST_START_TEST (test_strings_not_utf8)
{
  const gchar *bad = "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
      "\"peer\":\"peer-aaaa\",\"token\":\"1\\67225e9\"}";

  fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_TRACKER, bad,
          MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_JOIN);
}

GST_END_TEST;

GST_START_TEST (test_join_network)
{
  g_autofree gchar *text = mesh_tracker_encode_join_full ("live/ch1",
      "peer-aaaa", NULL, TRUE, "site-7.lan:b");
  g_autofree gchar *too_long = g_strnfill (MESH_QOS_NETWORK_MAX + 1, 'n');
  g_autofree gchar *over = g_strdup_printf ("{\"type\":\"join\","
      "\"version\":1,\"swarm\":\"s\",\"peer\":\"peer-aaaa\","
      "\"network\":\"%s\"}", too_long);
  const gchar *bad[] = {
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
        "\"peer\":\"peer-aaaa\",\"network\":\"\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
        "\"peer\":\"peer-aaaa\",\"network\":\"a b\"}",
    "{\"type\":\"join\",\"version\":1,\"swarm\":\"s\","
        "\"peer\":\"peer-aaaa\",\"network\":7}",
    over,
  };
  MeshTrackerMessage msg;
  guint i;

  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, text);
  fail_unless_equals_string (msg.network, "site-7.lan:b");
  fail_unless (msg.upload);
  mesh_tracker_message_clear (&msg);
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, "{\"type\":\"join\","
      "\"version\":1,\"swarm\":\"s\",\"peer\":\"peer-aaaa\","
      "\"network\":null}");
  fail_unless (msg.network == NULL);
  mesh_tracker_message_clear (&msg);
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_TRACKER, bad[i],
            MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_JOIN);
}

GST_END_TEST;

GST_START_TEST (test_qos_round_trip)
{
  MeshQosReport report = {
    .cdn_bytes = 1000,.peer_bytes = 3000,.uploaded_bytes = 2500,
    .stalls = 1,.stall_ms = 420,.startup_ms = 850,.bitrate = 4000000,
    .width = 1280,.height = 720,.peers = 4,
  };
  MeshQosReport huge = {.cdn_bytes = G_MAXINT64,.startup_ms = -7 };
  g_autofree gchar *text = mesh_tracker_encode_qos (&report, "site-7");
  g_autofree gchar *clamped = mesh_tracker_encode_qos (&huge, NULL);
  MeshTrackerMessage msg;

  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, text);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_QOS);
  fail_unless_equals_int (msg.qos.version, MESH_QOS_REPORT_VERSION);
  report.version = MESH_QOS_REPORT_VERSION;
  fail_unless (memcmp (&msg.qos, &report, sizeof (report)) == 0);
  fail_unless_equals_string (msg.network, "site-7");
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, clamped);
  fail_unless (msg.qos.cdn_bytes == MESH_QOS_REPORT_MAX_VALUE);
  fail_unless_equals_int (msg.qos.startup_ms, -1);
  fail_unless (msg.network == NULL);
  mesh_tracker_message_clear (&msg);

  /* a later version with members this one does not know, and a member
   * left out */
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, "{\"type\":\"qos\","
      "\"version\":3,\"cdn_bytes\":5,\"codec\":\"av1\"}");
  fail_unless_equals_int (msg.qos.version, 3);
  fail_unless_equals_int (msg.qos.cdn_bytes, 5);
  fail_unless_equals_int (msg.qos.peer_bytes, 0);
  fail_unless_equals_int (msg.qos.startup_ms, -1);
  mesh_tracker_message_clear (&msg);

  /* clients do not get qos */
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, text);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_UNKNOWN);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

GST_START_TEST (test_qos_strict)
{
  const gchar *bad[] = {
    "{\"type\":\"qos\"}",
    "{\"type\":\"qos\",\"version\":0}",
    "{\"type\":\"qos\",\"version\":\"1\"}",
    "{\"type\":\"qos\",\"version\":1,\"cdn_bytes\":-1}",
    "{\"type\":\"qos\",\"version\":1,\"startup_ms\":-2}",
    "{\"type\":\"qos\",\"version\":1,\"peer_bytes\":9007199254740993}",
    "{\"type\":\"qos\",\"version\":1,\"stalls\":1.5}",
    "{\"type\":\"qos\",\"version\":1,\"peers\":\"4\"}",
    "{\"type\":\"qos\",\"version\":1,\"network\":\"a/b\"}",
  };
  MeshTrackerMessage msg;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_TRACKER, bad[i],
            MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_QOS);
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, "{\"type\":\"qos\","
      "\"version\":1,\"peer_bytes\":9007199254740992,\"startup_ms\":null}");
  fail_unless (msg.qos.peer_bytes == MESH_QOS_REPORT_MAX_VALUE);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

static const guint8 test_digest[32] = {
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
  0x0c, 0x0d, 0x0e, 0x0f, 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
  0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0xff,
};

GST_START_TEST (test_attest_round_trip)
{
  g_autofree gchar *text = mesh_tracker_encode_attest (7,
      "https://cdn.example.com/live/seg-1.m4s?t=\"x\"", 1000, 500);
  g_autofree gchar *whole = mesh_tracker_encode_attest (8,
      "https://cdn.example.com/live/seg-2.m4s", 0, -1);
  const gchar *bare = "{\"type\":\"attest\",\"id\":9,\"url\":\"http://a/b\"}";
  MeshTrackerMessage msg;

  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, text);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_ATTEST);
  fail_unless_equals_string (msg.type_name, "attest");
  fail_unless_equals_int64 (msg.id, 7);
  fail_unless_equals_string (msg.url,
      "https://cdn.example.com/live/seg-1.m4s?t=\"x\"");
  fail_unless_equals_int64 (msg.offset, 1000);
  fail_unless_equals_int64 (msg.length, 500);
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, whole);
  fail_unless_equals_int64 (msg.offset, 0);
  fail_unless_equals_int64 (msg.length, -1);
  mesh_tracker_message_clear (&msg);

  /* offset and length may be left out: the whole resource */
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, bare);
  fail_unless_equals_int64 (msg.offset, 0);
  fail_unless_equals_int64 (msg.length, -1);
  mesh_tracker_message_clear (&msg);

  /* the tracker does not ask clients */
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, text);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_UNKNOWN);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

GST_START_TEST (test_attest_strict)
{
  g_autofree gchar *longest_url = g_strnfill (MESH_TRACKER_ATTEST_URL_MAX, 'u');
  g_autofree gchar *too_long_url =
      g_strnfill (MESH_TRACKER_ATTEST_URL_MAX + 1, 'u');
  g_autofree gchar *at = g_strdup_printf ("{\"type\":\"attest\",\"id\":1,"
      "\"url\":\"%s\"}", longest_url);
  g_autofree gchar *over = g_strdup_printf ("{\"type\":\"attest\",\"id\":1,"
      "\"url\":\"%s\"}", too_long_url);
  const gchar *bad[] = {
    "{\"type\":\"attest\",\"url\":\"http://a/b\"}",
    "{\"type\":\"attest\",\"id\":-1,\"url\":\"http://a/b\"}",
    "{\"type\":\"attest\",\"id\":9007199254740993,\"url\":\"http://a/b\"}",
    "{\"type\":\"attest\",\"id\":1.5,\"url\":\"http://a/b\"}",
    "{\"type\":\"attest\",\"id\":\"1\",\"url\":\"http://a/b\"}",
    "{\"type\":\"attest\",\"id\":1}",
    "{\"type\":\"attest\",\"id\":1,\"url\":\"\"}",
    "{\"type\":\"attest\",\"id\":1,\"url\":[]}",
    /* json-glib turns this escape into a byte that is not UTF-8 */
    "{\"type\":\"attest\",\"id\":1,\"url\":\"http://a/\\277\"}",
    "{\"type\":\"attest\",\"id\":1,\"url\":\"http://a/b\",\"offset\":-1}",
    "{\"type\":\"attest\",\"id\":1,\"url\":\"http://a/b\",\"offset\":\"0\"}",
    "{\"type\":\"attest\",\"id\":1,\"url\":\"http://a/b\",\"length\":0}",
    "{\"type\":\"attest\",\"id\":1,\"url\":\"http://a/b\",\"length\":-2}",
    "{\"type\":\"attest\",\"id\":1,\"url\":\"http://a/b\",\"length\":true}",
    /* offset + length past 2^63 */
    "{\"type\":\"attest\",\"id\":1,\"url\":\"http://a/b\","
        "\"offset\":9223372036854775807,\"length\":1}",
    over,
  };
  MeshTrackerMessage msg;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_TRACKER, bad[i],
            MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_ATTEST);
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, at);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

GST_START_TEST (test_attested_round_trip)
{
  g_autofree gchar *text = mesh_tracker_encode_attested (42, test_digest,
      1234567);
  g_autofree gchar *refused = mesh_tracker_encode_attested_error (43,
      MESH_TRACKER_ATTEST_NOT_OFFERED);
  g_autofree gchar *long_why = g_strnfill (300, 'w');
  g_autofree gchar *cut = mesh_tracker_encode_attested_error (44, long_why);
  MeshTrackerMessage msg;

  fail_unless (strstr (text, "\"sha256\":\"000102030405060708090a0b0c0d0e0f"
          "f0e1d2c3b4a5968778695a4b3c2d1eff\"") != NULL, "%s", text);
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, text);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_ATTESTED);
  fail_unless_equals_int64 (msg.id, 42);
  fail_unless (memcmp (msg.digest, test_digest, 32) == 0);
  fail_unless_equals_int64 (msg.size, 1234567);
  fail_unless (msg.attest_error == NULL);
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, refused);
  fail_unless_equals_int64 (msg.id, 43);
  fail_unless_equals_string (msg.attest_error, "not offered");
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, cut);
  fail_unless_equals_int (strlen (msg.attest_error),
      MESH_TRACKER_ATTEST_ERROR_MAX);
  mesh_tracker_message_clear (&msg);

  /* clients do not send answers */
  decode_ok (&msg, MESH_TRACKER_TO_TRACKER, text);
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_UNKNOWN);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

/* A digest is worth something only when exactly right: no leniency here. */
GST_START_TEST (test_attested_strict)
{
  const gchar *hex =
      "000102030405060708090a0b0c0d0e0ff0e1d2c3b4a5968778695a4b3c2d1eff";
  g_autofree gchar *upper = g_ascii_strup (hex, -1);
  g_autofree gchar *ok_upper = g_strdup_printf ("{\"type\":\"attested\","
      "\"id\":1,\"sha256\":\"%s\",\"size\":0}", upper);
  g_autofree gchar *short_hex = g_strdup_printf ("{\"type\":\"attested\","
      "\"id\":1,\"sha256\":\"%.63s\",\"size\":1}", hex);
  g_autofree gchar *long_hex = g_strdup_printf ("{\"type\":\"attested\","
      "\"id\":1,\"sha256\":\"%s0\",\"size\":1}", hex);
  g_autofree gchar *not_hex = g_strdup_printf ("{\"type\":\"attested\","
      "\"id\":1,\"sha256\":\"%.63sg\",\"size\":1}", hex);
  g_autofree gchar *no_size = g_strdup_printf ("{\"type\":\"attested\","
      "\"id\":1,\"sha256\":\"%s\"}", hex);
  g_autofree gchar *negative = g_strdup_printf ("{\"type\":\"attested\","
      "\"id\":1,\"sha256\":\"%s\",\"size\":-1}", hex);
  g_autofree gchar *no_id = g_strdup_printf ("{\"type\":\"attested\","
      "\"sha256\":\"%s\",\"size\":1}", hex);
  const gchar *bad[] = {
    short_hex, long_hex, not_hex, no_size, negative, no_id,
    "{\"type\":\"attested\",\"id\":1}",
    "{\"type\":\"attested\",\"id\":1,\"error\":\"\"}",
  };
  MeshTrackerMessage msg;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_CLIENT, bad[i],
            MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_ATTESTED);
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, ok_upper);
  fail_unless (memcmp (msg.digest, test_digest, 32) == 0);
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

/* What a client gets is read leniently: a welcome or an error with odd
 * members is still worth having. */
GST_START_TEST (test_client_side_leniency)
{
  MeshTrackerMessage msg;

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, "{\"type\":\"welcome\","
      "\"heartbeat\":\"soon\",\"peers\":[1,\"x\",null,[],{\"peer\":5},"
      "{\"upload\":true},{\"peer\":\"\"},"
      "{\"peer\":\"peer-ok-0001\",\"upload\":\"yes\"},"
      "{\"peer\":\"peer-up-0001\",\"upload\":true}]}");
  fail_unless_equals_int (msg.version, -1);
  fail_unless_equals_int (msg.heartbeat, 0);
  fail_unless (msg.peer == NULL && msg.swarm == NULL);
  fail_unless_equals_int (msg.peers->len, 2);
  fail_unless_equals_string (((MeshTrackerPeerEntry *)
          g_ptr_array_index (msg.peers, 0))->peer, "peer-ok-0001");
  fail_if (((MeshTrackerPeerEntry *) g_ptr_array_index (msg.peers, 0))->upload);
  fail_unless (((MeshTrackerPeerEntry *)
          g_ptr_array_index (msg.peers, 1))->upload);
  mesh_tracker_message_clear (&msg);

  /* a welcome without a list is still a welcome */
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, "{\"type\":\"welcome\"}");
  fail_unless (msg.peers == NULL);
  mesh_tracker_message_clear (&msg);

  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, "{\"type\":\"error\"}");
  fail_unless (msg.code == NULL && msg.message == NULL);
  fail_if (msg.fatal);
  mesh_tracker_message_clear (&msg);
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT, "{\"type\":\"error\",\"code\":5,"
      "\"message\":null,\"fatal\":\"yes\"}");
  fail_unless (msg.code == NULL);
  fail_if (msg.fatal);
  mesh_tracker_message_clear (&msg);

  /* a list answer needs its list */
  fail_unless_equals_int (expect_refused (MESH_TRACKER_TO_CLIENT,
          "{\"type\":\"peers\",\"peers\":{\"peer\":\"peer-ok-0001\"}}",
          MESH_TRACKER_PROTO_ERROR_MALFORMED), MESH_TRACKER_MESSAGE_PEERS);
  expect_malformed (MESH_TRACKER_TO_CLIENT, "{\"type\":\"peers\"}");
  expect_malformed (MESH_TRACKER_TO_CLIENT, "{\"type\":\"peer-joined\"}");
  expect_malformed (MESH_TRACKER_TO_CLIENT,
      "{\"type\":\"peer-left\",\"peer\":[]}");

  /* later versions may say more */
  decode_ok (&msg, MESH_TRACKER_TO_CLIENT,
      "{\"type\":\"a-future-message\",\"x\":{\"y\":[1,2]}}");
  fail_unless_equals_int (msg.type, MESH_TRACKER_MESSAGE_UNKNOWN);
  fail_unless_equals_string (msg.type_name, "a-future-message");
  mesh_tracker_message_clear (&msg);
}

GST_END_TEST;

static Suite *
tracker_proto_suite (void)
{
  Suite *s = suite_create ("tracker-proto");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_join_round_trip);
  tcase_add_test (tc, test_signal_round_trip);
  tcase_add_test (tc, test_relayed_signal_quoting);
  tcase_add_test (tc, test_tracker_messages_round_trip);
  tcase_add_test (tc, test_near_round_trip);
  tcase_add_test (tc, test_bare_messages);
  tcase_add_test (tc, test_error_codes);
  tcase_add_test (tc, test_malformed_envelopes);
  tcase_add_test (tc, test_hostile_bytes);
  tcase_add_test (tc, test_nesting_depth);
  tcase_add_test (tc, test_join_strict);
  tcase_add_test (tc, test_id_bounds);
  tcase_add_test (tc, test_oversized_fields);
  tcase_add_test (tc, test_signal_strict);
  tcase_add_test (tc, test_report_round_trip);
  tcase_add_test (tc, test_report_strict);
  tcase_add_test (tc, test_attest_round_trip);
  tcase_add_test (tc, test_attest_strict);
  tcase_add_test (tc, test_attested_round_trip);
  tcase_add_test (tc, test_attested_strict);
  tcase_add_test (tc, test_client_side_leniency);
  tcase_add_test (tc, test_strings_not_utf8);
  tcase_add_test (tc, test_join_network);
  tcase_add_test (tc, test_qos_round_trip);
  tcase_add_test (tc, test_qos_strict);
  return s;
}

GST_CHECK_MAIN (tracker_proto);
