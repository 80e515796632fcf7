/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tracker protocol codec (see mesh-tracker-proto.h). No GStreamer in
 * here: the tracker links this without it. Stateless, so reentrant; nothing
 * is shared between calls.
 */

#include "mesh-tracker-proto.h"

#include <string.h>

G_DEFINE_QUARK (mesh_tracker_proto_error_quark, mesh_tracker_proto_error);

static const gchar *const error_code_names[MESH_TRACKER_N_ERRORS] = {
  "bad-message", "unsupported-version", "not-joined", "unknown-peer",
  "message-too-large", "rate-limited", "swarm-full", "too-many-swarms",
  "too-many-connections", "unauthorized", "replaced", "timeout",
  "peer-id-taken", "banned", "join-limited", "too-many-reports",
};

typedef struct
{
  MeshTrackerMessageType type;
  const gchar *name;
  MeshTrackerDirection direction;
} TypeName;

/* "signal" goes both ways, so it is listed once per direction */
static const TypeName type_names[] = {
  {MESH_TRACKER_MESSAGE_JOIN, "join", MESH_TRACKER_TO_TRACKER},
  {MESH_TRACKER_MESSAGE_GET_PEERS, "get-peers", MESH_TRACKER_TO_TRACKER},
  {MESH_TRACKER_MESSAGE_HEARTBEAT, "heartbeat", MESH_TRACKER_TO_TRACKER},
  {MESH_TRACKER_MESSAGE_LEAVE, "leave", MESH_TRACKER_TO_TRACKER},
  {MESH_TRACKER_MESSAGE_REPORT, "report", MESH_TRACKER_TO_TRACKER},
  {MESH_TRACKER_MESSAGE_ATTEST, "attest", MESH_TRACKER_TO_TRACKER},
  {MESH_TRACKER_MESSAGE_QOS, "qos", MESH_TRACKER_TO_TRACKER},
  {MESH_TRACKER_MESSAGE_SIGNAL, "signal", MESH_TRACKER_TO_TRACKER},
  {MESH_TRACKER_MESSAGE_SIGNAL, "signal", MESH_TRACKER_TO_CLIENT},
  {MESH_TRACKER_MESSAGE_WELCOME, "welcome", MESH_TRACKER_TO_CLIENT},
  {MESH_TRACKER_MESSAGE_PEERS, "peers", MESH_TRACKER_TO_CLIENT},
  {MESH_TRACKER_MESSAGE_PEER_JOINED, "peer-joined", MESH_TRACKER_TO_CLIENT},
  {MESH_TRACKER_MESSAGE_PEER_LEFT, "peer-left", MESH_TRACKER_TO_CLIENT},
  {MESH_TRACKER_MESSAGE_ERROR, "error", MESH_TRACKER_TO_CLIENT},
  {MESH_TRACKER_MESSAGE_ATTESTED, "attested", MESH_TRACKER_TO_CLIENT},
};

const gchar *
mesh_tracker_message_type_name (MeshTrackerMessageType type)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (type_names); i++) {
    if (type_names[i].type == type)
      return type_names[i].name;
  }
  return NULL;
}

static MeshTrackerMessageType
type_from_name (const gchar * name, MeshTrackerDirection direction)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (type_names); i++) {
    if (type_names[i].direction == direction
        && g_str_equal (type_names[i].name, name))
      return type_names[i].type;
  }
  return MESH_TRACKER_MESSAGE_UNKNOWN;
}

const gchar *
mesh_tracker_error_code_name (MeshTrackerErrorCode code)
{
  g_return_val_if_fail (code < MESH_TRACKER_N_ERRORS, NULL);
  return error_code_names[code];
}

gint
mesh_tracker_error_code_from_name (const gchar * name)
{
  gint i;

  for (i = 0; name && i < MESH_TRACKER_N_ERRORS; i++) {
    if (g_str_equal (error_code_names[i], name))
      return i;
  }
  return -1;
}

gboolean
mesh_tracker_is_valid_peer_id (const gchar * id)
{
  gsize length, i;

  if (!id)
    return FALSE;
  length = strlen (id);
  if (length < MESH_TRACKER_PEER_ID_MIN || length > MESH_TRACKER_PEER_ID_MAX)
    return FALSE;
  for (i = 0; i < length; i++) {
    if (!g_ascii_isalnum (id[i]) && id[i] != '_' && id[i] != '-')
      return FALSE;
  }
  return TRUE;
}

gboolean
mesh_tracker_is_valid_swarm_id (const gchar * id)
{
  glong length;

  if (!id || !g_utf8_validate (id, -1, NULL))
    return FALSE;
  length = g_utf8_strlen (id, -1);
  return length >= 1 && length <= MESH_TRACKER_SWARM_ID_MAX;
}

gboolean
mesh_tracker_is_valid_network (const gchar * network)
{
  gsize length, i;

  if (!network)
    return FALSE;
  length = strlen (network);
  if (length < 1 || length > MESH_QOS_NETWORK_MAX)
    return FALSE;
  for (i = 0; i < length; i++) {
    if (!g_ascii_isalnum (network[i]) && !strchr ("._:-", network[i]))
      return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */

/* The string member @name of @object, NULL if missing or not a string.
 * json-glib decodes escapes such as \672 into bytes that are not UTF-8: such
 * a string is no string, or whatever we wrote it back into (the tracker's
 * answers, the logs) would not be JSON or text. */
static const gchar *
get_string (JsonObject * object, const gchar * name)
{
  JsonNode *node = json_object_get_member (object, name);
  const gchar *value;

  if (!node || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  value = json_node_get_string (node);
  return g_utf8_validate (value, -1, NULL) ? value : NULL;
}

static gboolean
is_boolean (JsonNode * node)
{
  return node && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_BOOLEAN;
}

static gboolean
is_integer (JsonNode * node)
{
  return node && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_INT64;
}

static gboolean
get_boolean (JsonObject * object, const gchar * name)
{
  JsonNode *node = json_object_get_member (object, name);

  return is_boolean (node) && json_node_get_boolean (node);
}

static gint64
get_int (JsonObject * object, const gchar * name, gint64 fallback)
{
  JsonNode *node = json_object_get_member (object, name);

  return is_integer (node) ? json_node_get_int (node) : fallback;
}

static gboolean
malformed (GError ** error, const gchar * why)
{
  g_set_error_literal (error, MESH_TRACKER_PROTO_ERROR,
      MESH_TRACKER_PROTO_ERROR_MALFORMED, why);
  return FALSE;
}

/* Checks what the parser would let through or choke on, before it runs:
 * nesting deeper than @max_depth (it recurses that deep), and anything
 * after the first top-level object or array (json-glib silently drops a
 * second value: a message is one object). Brackets inside strings do not
 * count; whatever else is not JSON, the parser finds. */
static gboolean
prescan (const gchar * text, gsize size, guint max_depth, GError ** error)
{
  gboolean in_string = FALSE;
  gboolean closed = FALSE;
  guint depth = 0;
  gsize i;

  for (i = 0; i < size; i++) {
    gchar c = text[i];

    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (closed && !g_ascii_isspace (c)) {
      return malformed (error, "malformed JSON: more than one value");
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        g_set_error (error, MESH_TRACKER_PROTO_ERROR,
            MESH_TRACKER_PROTO_ERROR_MALFORMED, "malformed JSON: nested more "
            "than %u levels deep", max_depth);
        return FALSE;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      closed = --depth == 0;
    }
  }
  return TRUE;
}

/* "caps" is optional; when there, an object whose "upload" (optional) is a
 * boolean. */
static gboolean
decode_caps (MeshTrackerMessage * msg, JsonObject * object, GError ** error)
{
  JsonNode *caps = json_object_get_member (object, "caps");
  JsonNode *upload;

  if (!caps || JSON_NODE_HOLDS_NULL (caps))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (caps))
    goto bad;
  upload = json_object_get_member (json_node_get_object (caps), "upload");
  if (!upload)
    return TRUE;
  if (!is_boolean (upload))
    goto bad;
  msg->upload = json_node_get_boolean (upload);
  return TRUE;

bad:
  return malformed (error, "join: \"caps\" must be an object, \"upload\" a "
      "boolean");
}

/* "network" is optional (null is absent); when there, a valid hint. */
static gboolean
decode_network (MeshTrackerMessage * msg, JsonObject * object, GError ** error)
{
  JsonNode *node = json_object_get_member (object, "network");
  const gchar *network = get_string (object, "network");

  if (!node || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!mesh_tracker_is_valid_network (network))
    return malformed (error, "\"network\" must be 1 to "
        G_STRINGIFY (MESH_QOS_NETWORK_MAX) " characters of [A-Za-z0-9._:-]");
  msg->network = g_strdup (network);
  return TRUE;
}

/* The checks run in this order so that the tracker's answer to a join of
 * another version does not depend on the version's other members. */
static gboolean
decode_join (MeshTrackerMessage * msg, JsonObject * object, GError ** error)
{
  JsonNode *version = json_object_get_member (object, "version");
  JsonNode *token = json_object_get_member (object, "token");
  const gchar *swarm = get_string (object, "swarm");
  const gchar *peer = get_string (object, "peer");

  if (!is_integer (version))
    return malformed (error, "join: \"version\" must be an integer");
  msg->version = json_node_get_int (version);
  if (msg->version != MESH_TRACKER_PROTOCOL_VERSION) {
    g_set_error (error, MESH_TRACKER_PROTO_ERROR,
        MESH_TRACKER_PROTO_ERROR_UNSUPPORTED_VERSION, "join: version %"
        G_GINT64_FORMAT ", not %d", msg->version,
        MESH_TRACKER_PROTOCOL_VERSION);
    return FALSE;
  }
  if (!mesh_tracker_is_valid_swarm_id (swarm))
    return malformed (error, "join: \"swarm\" must be a string of 1 to 256 "
        "characters");
  if (!mesh_tracker_is_valid_peer_id (peer))
    return malformed (error, "join: \"peer\" must be 8 to 64 characters of "
        "[A-Za-z0-9_-]");
  if (token && !JSON_NODE_HOLDS_NULL (token) && !get_string (object, "token"))
    return malformed (error, "join: \"token\" must be a string");
  if (!decode_caps (msg, object, error))
    return FALSE;
  if (!decode_network (msg, object, error))
    return FALSE;

  msg->swarm = g_strdup (swarm);
  msg->peer = g_strdup (peer);
  msg->token = g_strdup (get_string (object, "token"));
  return TRUE;
}

/* json-glib decodes escapes such as \277 into bytes that are not UTF-8:
 * relayed as they are, they would make the JSON other clients get
 * malformed. */
static gboolean
node_is_valid_utf8 (JsonNode * node)
{
  g_autofree gchar *text = json_to_string (node, FALSE);

  return text && g_utf8_validate (text, -1, NULL);
}

static gboolean
decode_signal (MeshTrackerMessage * msg, JsonObject * object,
    MeshTrackerDirection direction, GError ** error)
{
  JsonNode *data = json_object_get_member (object, "data");
  const gchar *peer;

  if (direction == MESH_TRACKER_TO_TRACKER) {
    /* any string: the tracker looks it up, and an unknown one is an
     * "unknown-peer", not a malformed message */
    peer = get_string (object, "to");
    if (!peer || !data)
      return malformed (error, "signal: needs \"to\" (a string) and "
          "\"data\"");
  } else {
    peer = get_string (object, "from");
    if (!mesh_tracker_is_valid_peer_id (peer) || !data)
      return malformed (error, "signal: needs \"from\" (a peer id) and "
          "\"data\"");
  }
  if (!g_utf8_validate (peer, -1, NULL) || !node_is_valid_utf8 (data))
    return malformed (error, "signal: not valid UTF-8");
  msg->peer = g_strdup (peer);
  msg->data = json_node_copy (data);
  return TRUE;
}

static gboolean
is_valid_reason (const gchar * reason)
{
  glong length;

  if (!reason || !g_utf8_validate (reason, -1, NULL))
    return FALSE;
  length = g_utf8_strlen (reason, -1);
  return length >= 1 && length <= MESH_TRACKER_REPORT_REASON_MAX;
}

static gboolean
decode_report (MeshTrackerMessage * msg, JsonObject * object, GError ** error)
{
  const gchar *peer = get_string (object, "peer");
  const gchar *reason = get_string (object, "reason");

  if (!mesh_tracker_is_valid_peer_id (peer))
    return malformed (error, "report: \"peer\" must be a peer id");
  if (!is_valid_reason (reason))
    return malformed (error, "report: \"reason\" must be a string of 1 to "
        G_STRINGIFY (MESH_TRACKER_REPORT_REASON_MAX) " characters");
  msg->peer = g_strdup (peer);
  msg->reason = g_strdup (reason);
  return TRUE;
}

/* Request ids are integers a double holds exactly, so that clients in any
 * language can use them. */
#define MAX_ATTEST_ID (G_GINT64_CONSTANT (1) << 53)

static gboolean
decode_attest_id (MeshTrackerMessage * msg, JsonObject * object,
    GError ** error)
{
  msg->id = get_int (object, "id", -1);
  if (msg->id < 0 || msg->id > MAX_ATTEST_ID)
    return malformed (error, "attest: \"id\" must be an integer from 0 to "
        "2^53");
  return TRUE;
}

/* A member that is missing or null takes @fallback; any other must be an
 * integer. */
static gboolean
get_optional_int (JsonObject * object, const gchar * name, gint64 fallback,
    gint64 * value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (!node || JSON_NODE_HOLDS_NULL (node)) {
    *value = fallback;
    return TRUE;
  }
  if (!is_integer (node))
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

static gboolean
decode_attest (MeshTrackerMessage * msg, JsonObject * object, GError ** error)
{
  const gchar *url = get_string (object, "url");
  gint64 offset, length;

  if (!decode_attest_id (msg, object, error))
    return FALSE;
  /* json-glib lets escapes such as "\\277" through as bytes that are not
   * UTF-8 */
  if (!url || !*url || strlen (url) > MESH_TRACKER_ATTEST_URL_MAX
      || !g_utf8_validate (url, -1, NULL))
    return malformed (error, "attest: \"url\" must be a UTF-8 string of 1 to "
        G_STRINGIFY (MESH_TRACKER_ATTEST_URL_MAX) " bytes");
  if (!get_optional_int (object, "offset", 0, &offset) || offset < 0)
    return malformed (error, "attest: \"offset\" must be an integer >= 0");
  if (!get_optional_int (object, "length", -1, &length)
      || (length != -1 && length <= 0) || offset > G_MAXINT64 - MAX (length, 0))
    return malformed (error, "attest: \"length\" must be -1 or an integer "
        "> 0");
  msg->url = g_strdup (url);
  msg->offset = offset;
  msg->length = length;
  return TRUE;
}

/* One integer member of a qos message, at @offset in MeshQosReport. */
typedef struct
{
  const gchar *name;
  gsize offset;
  gint64 min;                   /* and the value when missing or null */
} QosMember;

static const QosMember qos_members[] = {
  {"cdn_bytes", G_STRUCT_OFFSET (MeshQosReport, cdn_bytes), 0},
  {"peer_bytes", G_STRUCT_OFFSET (MeshQosReport, peer_bytes), 0},
  {"uploaded_bytes", G_STRUCT_OFFSET (MeshQosReport, uploaded_bytes), 0},
  {"stalls", G_STRUCT_OFFSET (MeshQosReport, stalls), 0},
  {"stall_ms", G_STRUCT_OFFSET (MeshQosReport, stall_ms), 0},
  {"startup_ms", G_STRUCT_OFFSET (MeshQosReport, startup_ms), -1},
  {"bitrate", G_STRUCT_OFFSET (MeshQosReport, bitrate), 0},
  {"width", G_STRUCT_OFFSET (MeshQosReport, width), 0},
  {"height", G_STRUCT_OFFSET (MeshQosReport, height), 0},
  {"peers", G_STRUCT_OFFSET (MeshQosReport, peers), 0},
};

#define QOS_VALUE(report, member) \
  (*(gint64 *) G_STRUCT_MEMBER_P ((report), (member)->offset))

/* Every member is optional, so that a player reports what it knows and
 * later versions can drop one; what is there must be in range. */
static gboolean
decode_qos (MeshTrackerMessage * msg, JsonObject * object, GError ** error)
{
  JsonNode *version = json_object_get_member (object, "version");
  guint i;

  if (!is_integer (version) || json_node_get_int (version) < 1)
    return malformed (error, "qos: \"version\" must be an integer >= 1");
  msg->qos.version = json_node_get_int (version);
  for (i = 0; i < G_N_ELEMENTS (qos_members); i++) {
    const QosMember *member = &qos_members[i];
    gint64 *value = &QOS_VALUE (&msg->qos, member);

    if (!get_optional_int (object, member->name, member->min, value)
        || *value < member->min || *value > MESH_QOS_REPORT_MAX_VALUE)
      return malformed (error, "qos: counters must be integers from 0 (-1 "
          "for \"startup_ms\") to 2^53");
  }
  return decode_network (msg, object, error);
}

/* 64 hex digits, either case, into @digest. */
static gboolean
parse_digest (const gchar * hex, guint8 digest[32])
{
  guint i;

  if (!hex || strlen (hex) != 64)
    return FALSE;
  for (i = 0; i < 32; i++) {
    gint high = g_ascii_xdigit_value (hex[2 * i]);
    gint low = g_ascii_xdigit_value (hex[2 * i + 1]);

    if (high < 0 || low < 0)
      return FALSE;
    digest[i] = high << 4 | low;
  }
  return TRUE;
}

static gboolean
is_valid_attest_error (const gchar * why)
{
  glong length;

  if (!why || !g_utf8_validate (why, -1, NULL))
    return FALSE;
  length = g_utf8_strlen (why, -1);
  return length >= 1 && length <= MESH_TRACKER_ATTEST_ERROR_MAX;
}

/* Strict, unlike the other messages from the tracker: a digest is only
 * worth something when it is exactly right. */
static gboolean
decode_attested (MeshTrackerMessage * msg, JsonObject * object, GError ** error)
{
  const gchar *why = get_string (object, "error");

  if (!decode_attest_id (msg, object, error))
    return FALSE;
  if (why) {
    if (!is_valid_attest_error (why))
      return malformed (error, "attested: \"error\" must be a string of 1 "
          "to " G_STRINGIFY (MESH_TRACKER_ATTEST_ERROR_MAX) " characters");
    msg->attest_error = g_strdup (why);
    return TRUE;
  }
  msg->size = get_int (object, "size", -1);
  if (!parse_digest (get_string (object, "sha256"), msg->digest)
      || msg->size < 0)
    return malformed (error, "attested: needs \"sha256\" (64 hex digits) "
        "and \"size\" (an integer >= 0), or \"error\"");
  return TRUE;
}

static void
peer_entry_free (gpointer data)
{
  MeshTrackerPeerEntry *entry = data;

  g_free (entry->peer);
  g_free (entry);
}

/* The usable entries of the array @node; a tracker may send more than this
 * version understands, or a broken one garbage, and a list with some bad
 * entries still has good ones. */
static GPtrArray *
decode_peer_list (JsonNode * node)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func (peer_entry_free);
  JsonArray *array = json_node_get_array (node);
  guint i, length = json_array_get_length (array);

  for (i = 0; i < length; i++) {
    JsonNode *element = json_array_get_element (array, i);
    MeshTrackerPeerEntry *entry;
    const gchar *id;

    if (!JSON_NODE_HOLDS_OBJECT (element))
      continue;
    id = get_string (json_node_get_object (element), "peer");
    if (!mesh_tracker_is_valid_peer_id (id))
      continue;
    entry = g_new0 (MeshTrackerPeerEntry, 1);
    entry->peer = g_strdup (id);
    entry->upload = get_boolean (json_node_get_object (element), "upload");
    entry->near = get_boolean (json_node_get_object (element), "near");
    g_ptr_array_add (entries, entry);
  }
  return entries;
}

static gboolean
decode_peers (MeshTrackerMessage * msg, JsonObject * object, gboolean needed,
    GError ** error)
{
  JsonNode *node = json_object_get_member (object, "peers");

  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    return needed ? malformed (error, "peers: needs a \"peers\" array") : TRUE;
  msg->peers = decode_peer_list (node);
  return TRUE;
}

/* Lenient: the client can use a welcome with odd members (it falls back to
 * defaults), and a welcome is what it must not miss. */
static gboolean
decode_welcome (MeshTrackerMessage * msg, JsonObject * object, GError ** error)
{
  msg->version = get_int (object, "version", -1);
  msg->heartbeat = get_int (object, "heartbeat", 0);
  msg->peer = g_strdup (get_string (object, "peer"));
  msg->swarm = g_strdup (get_string (object, "swarm"));
  return decode_peers (msg, object, FALSE, error);
}

static gboolean
decode_peer_event (MeshTrackerMessage * msg, JsonObject * object,
    GError ** error)
{
  const gchar *peer = get_string (object, "peer");

  if (!mesh_tracker_is_valid_peer_id (peer))
    return malformed (error, "peer event: needs \"peer\" (a peer id)");
  msg->peer = g_strdup (peer);
  /* only a newcomer says whether it uploads; a peer-left's is ignored */
  if (msg->type == MESH_TRACKER_MESSAGE_PEER_JOINED) {
    msg->upload = get_boolean (object, "upload");
    msg->near = get_boolean (object, "near");
  }
  return TRUE;
}

/* Lenient: an error, even a shapeless one, is worth reporting. */
static gboolean
decode_error (MeshTrackerMessage * msg, JsonObject * object)
{
  msg->code = g_strdup (get_string (object, "code"));
  msg->message = g_strdup (get_string (object, "message"));
  msg->fatal = get_boolean (object, "fatal");
  return TRUE;
}

static gboolean
decode_members (MeshTrackerMessage * msg, JsonObject * object,
    MeshTrackerDirection direction, GError ** error)
{
  switch (msg->type) {
    case MESH_TRACKER_MESSAGE_JOIN:
      return decode_join (msg, object, error);
    case MESH_TRACKER_MESSAGE_SIGNAL:
      return decode_signal (msg, object, direction, error);
    case MESH_TRACKER_MESSAGE_REPORT:
      return decode_report (msg, object, error);
    case MESH_TRACKER_MESSAGE_QOS:
      return decode_qos (msg, object, error);
    case MESH_TRACKER_MESSAGE_WELCOME:
      return decode_welcome (msg, object, error);
    case MESH_TRACKER_MESSAGE_PEERS:
      return decode_peers (msg, object, TRUE, error);
    case MESH_TRACKER_MESSAGE_PEER_JOINED:
    case MESH_TRACKER_MESSAGE_PEER_LEFT:
      return decode_peer_event (msg, object, error);
    case MESH_TRACKER_MESSAGE_ERROR:
      return decode_error (msg, object);
    case MESH_TRACKER_MESSAGE_ATTEST:
      return decode_attest (msg, object, error);
    case MESH_TRACKER_MESSAGE_ATTESTED:
      return decode_attested (msg, object, error);
    default:
      /* get-peers, heartbeat, leave, and unknown types: members ignored */
      return TRUE;
  }
}

JsonNode *
mesh_tracker_parse_object (const gchar * text, gsize size, GError ** error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) parse_error = NULL;
  JsonNode *root;

  if (!prescan (text, size, MESH_TRACKER_MAX_DEPTH, error))
    return NULL;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, size, &parse_error)) {
    g_set_error (error, MESH_TRACKER_PROTO_ERROR,
        MESH_TRACKER_PROTO_ERROR_MALFORMED, "malformed JSON: %s",
        parse_error->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    malformed (error, "a message must be a JSON object");
    return NULL;
  }
  return json_node_ref (root);
}

gboolean
mesh_tracker_message_decode (MeshTrackerMessage * msg,
    MeshTrackerDirection direction, const gchar * text, gsize size,
    GError ** error)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  const gchar *type;

  g_return_val_if_fail (msg != NULL, FALSE);
  g_return_val_if_fail (text != NULL || size == 0, FALSE);

  memset (msg, 0, sizeof (*msg));
  root = mesh_tracker_parse_object (text, size, error);
  if (!root)
    return FALSE;
  object = json_node_get_object (root);
  type = get_string (object, "type");
  if (!type)
    return malformed (error, "a message needs a \"type\" string");

  msg->type_name = g_strdup (type);
  msg->type = type_from_name (type, direction);
  if (!decode_members (msg, object, direction, error)) {
    /* the type stays: the caller may answer by type (not-joined...) */
    MeshTrackerMessageType decoded = msg->type;

    mesh_tracker_message_clear (msg);
    msg->type = decoded;
    msg->type_name = g_strdup (type);
    return FALSE;
  }
  return TRUE;
}

void
mesh_tracker_message_clear (MeshTrackerMessage * msg)
{
  g_return_if_fail (msg != NULL);

  g_free (msg->type_name);
  g_free (msg->swarm);
  g_free (msg->peer);
  g_free (msg->reason);
  g_free (msg->token);
  g_clear_pointer (&msg->data, json_node_unref);
  g_clear_pointer (&msg->peers, g_ptr_array_unref);
  g_free (msg->code);
  g_free (msg->message);
  g_free (msg->url);
  g_free (msg->attest_error);
  g_free (msg->network);
  memset (msg, 0, sizeof (*msg));
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */

static gchar *
builder_to_text (JsonBuilder * builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);

  return json_to_string (root, FALSE);
}

/* A builder inside an object whose "type" is set. */
static JsonBuilder *
begin_message (const gchar * type)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  return builder;
}

static gchar *
end_message (JsonBuilder * builder)
{
  gchar *text;

  json_builder_end_object (builder);
  text = builder_to_text (builder);
  g_object_unref (builder);
  return text;
}

static void
add_string (JsonBuilder * builder, const gchar * name, const gchar * value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

static void
add_boolean (JsonBuilder * builder, const gchar * name, gboolean value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_boolean_value (builder, value);
}

static void
add_int (JsonBuilder * builder, const gchar * name, gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

gchar *
mesh_tracker_encode_join (const gchar * swarm, const gchar * peer,
    const gchar * token, gboolean upload)
{
  return mesh_tracker_encode_join_full (swarm, peer, token, upload, NULL);
}

gchar *
mesh_tracker_encode_join_full (const gchar * swarm, const gchar * peer,
    const gchar * token, gboolean upload, const gchar * network)
{
  JsonBuilder *builder;

  g_return_val_if_fail (swarm != NULL && peer != NULL, NULL);
  g_return_val_if_fail (network == NULL
      || mesh_tracker_is_valid_network (network), NULL);

  builder = begin_message ("join");
  add_int (builder, "version", MESH_TRACKER_PROTOCOL_VERSION);
  add_string (builder, "swarm", swarm);
  add_string (builder, "peer", peer);
  if (token)
    add_string (builder, "token", token);
  json_builder_set_member_name (builder, "caps");
  json_builder_begin_object (builder);
  add_boolean (builder, "upload", upload);
  json_builder_end_object (builder);
  if (network)
    add_string (builder, "network", network);
  return end_message (builder);
}

gchar *
mesh_tracker_encode_signal (const gchar * to, JsonNode * data)
{
  JsonBuilder *builder;

  g_return_val_if_fail (to != NULL && data != NULL, NULL);

  builder = begin_message ("signal");
  add_string (builder, "to", to);
  json_builder_set_member_name (builder, "data");
  json_builder_add_value (builder, json_node_copy (data));
  return end_message (builder);
}

gchar *
mesh_tracker_encode_bare (MeshTrackerMessageType type)
{
  g_return_val_if_fail (type == MESH_TRACKER_MESSAGE_GET_PEERS
      || type == MESH_TRACKER_MESSAGE_HEARTBEAT
      || type == MESH_TRACKER_MESSAGE_LEAVE, NULL);

  return end_message (begin_message (mesh_tracker_message_type_name (type)));
}

/* The first MESH_TRACKER_REPORT_REASON_MAX characters of @reason, or of
 * "unspecified" when it is empty (transfer full). */
static gchar *
bounded_reason (const gchar * reason)
{
  const gchar *end;

  if (!reason || !*reason)
    reason = "unspecified";
  if (g_utf8_strlen (reason, -1) <= MESH_TRACKER_REPORT_REASON_MAX)
    return g_strdup (reason);
  end = g_utf8_offset_to_pointer (reason, MESH_TRACKER_REPORT_REASON_MAX);
  return g_strndup (reason, end - reason);
}

gchar *
mesh_tracker_encode_report (const gchar * peer, const gchar * reason)
{
  g_autofree gchar *bounded = NULL;
  JsonBuilder *builder;

  g_return_val_if_fail (peer != NULL, NULL);
  g_return_val_if_fail (reason == NULL || g_utf8_validate (reason, -1, NULL),
      NULL);

  bounded = bounded_reason (reason);
  builder = begin_message ("report");
  add_string (builder, "peer", peer);
  add_string (builder, "reason", bounded);
  return end_message (builder);
}

gchar *
mesh_tracker_encode_qos (const MeshQosReport * report, const gchar * network)
{
  JsonBuilder *builder;
  guint i;

  g_return_val_if_fail (report != NULL, NULL);
  g_return_val_if_fail (network == NULL
      || mesh_tracker_is_valid_network (network), NULL);

  builder = begin_message ("qos");
  add_int (builder, "version", MESH_QOS_REPORT_VERSION);
  for (i = 0; i < G_N_ELEMENTS (qos_members); i++) {
    const QosMember *member = &qos_members[i];

    add_int (builder, member->name, CLAMP (QOS_VALUE (report, member),
            member->min, MESH_QOS_REPORT_MAX_VALUE));
  }
  if (network)
    add_string (builder, "network", network);
  return end_message (builder);
}

gchar *
mesh_tracker_encode_attest (gint64 id, const gchar * url, gint64 offset,
    gint64 length)
{
  JsonBuilder *builder;

  g_return_val_if_fail (id >= 0 && id <= MAX_ATTEST_ID, NULL);
  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (offset >= 0 && (length == -1 || length > 0), NULL);

  builder = begin_message ("attest");
  add_int (builder, "id", id);
  add_string (builder, "url", url);
  add_int (builder, "offset", offset);
  add_int (builder, "length", length);
  return end_message (builder);
}

static void
add_peer_list (JsonBuilder * builder, const MeshTrackerPeerEntry * peers,
    guint n_peers)
{
  guint i;

  json_builder_set_member_name (builder, "peers");
  json_builder_begin_array (builder);
  for (i = 0; i < n_peers; i++) {
    json_builder_begin_object (builder);
    add_string (builder, "peer", peers[i].peer);
    add_boolean (builder, "upload", peers[i].upload);
    /* only when true: a tracker without locality sends what it sent */
    if (peers[i].near)
      add_boolean (builder, "near", TRUE);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
}

gchar *
mesh_tracker_encode_welcome (const gchar * peer, const gchar * swarm,
    guint heartbeat, const MeshTrackerPeerEntry * peers, guint n_peers)
{
  JsonBuilder *builder;

  g_return_val_if_fail (peer != NULL && swarm != NULL, NULL);
  g_return_val_if_fail (peers != NULL || n_peers == 0, NULL);

  builder = begin_message ("welcome");
  add_int (builder, "version", MESH_TRACKER_PROTOCOL_VERSION);
  add_string (builder, "peer", peer);
  add_string (builder, "swarm", swarm);
  add_int (builder, "heartbeat", heartbeat);
  add_peer_list (builder, peers, n_peers);
  return end_message (builder);
}

gchar *
mesh_tracker_encode_peers (const MeshTrackerPeerEntry * peers, guint n_peers)
{
  JsonBuilder *builder;

  g_return_val_if_fail (peers != NULL || n_peers == 0, NULL);

  builder = begin_message ("peers");
  add_peer_list (builder, peers, n_peers);
  return end_message (builder);
}

gchar *
mesh_tracker_encode_peer_joined (const gchar * peer, gboolean upload,
    gboolean near)
{
  JsonBuilder *builder;

  g_return_val_if_fail (peer != NULL, NULL);

  builder = begin_message ("peer-joined");
  add_string (builder, "peer", peer);
  add_boolean (builder, "upload", upload);
  if (near)
    add_boolean (builder, "near", TRUE);
  return end_message (builder);
}

gchar *
mesh_tracker_encode_peer_left (const gchar * peer)
{
  JsonBuilder *builder;

  g_return_val_if_fail (peer != NULL, NULL);

  builder = begin_message ("peer-left");
  add_string (builder, "peer", peer);
  return end_message (builder);
}

/* Pasted rather than parsed and built again: the data can be 16 KiB, and
 * the tracker relays many. Only "from" needs quoting. */
gchar *
mesh_tracker_encode_relayed_signal (const gchar * from, const gchar * data_json)
{
  g_autoptr (JsonNode) from_node = NULL;
  g_autofree gchar *quoted = NULL;

  g_return_val_if_fail (from != NULL && data_json != NULL, NULL);

  from_node = json_node_init_string (json_node_alloc (), from);
  quoted = json_to_string (from_node, FALSE);
  return g_strdup_printf ("{\"type\":\"signal\",\"from\":%s,\"data\":%s}",
      quoted, data_json);
}

gchar *
mesh_tracker_encode_error (MeshTrackerErrorCode code, const gchar * message,
    gboolean fatal)
{
  JsonBuilder *builder;

  g_return_val_if_fail (code < MESH_TRACKER_N_ERRORS, NULL);
  g_return_val_if_fail (message != NULL, NULL);

  builder = begin_message ("error");
  add_string (builder, "code", error_code_names[code]);
  add_string (builder, "message", message);
  add_boolean (builder, "fatal", fatal);
  return end_message (builder);
}

gchar *
mesh_tracker_encode_attested (gint64 id, const guint8 digest[32], guint64 size)
{
  JsonBuilder *builder;
  gchar hex[65];
  guint i;

  g_return_val_if_fail (id >= 0 && id <= MAX_ATTEST_ID, NULL);
  g_return_val_if_fail (digest != NULL && size <= G_MAXINT64, NULL);

  for (i = 0; i < 32; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", digest[i]);
  builder = begin_message ("attested");
  add_int (builder, "id", id);
  add_string (builder, "sha256", hex);
  add_int (builder, "size", size);
  return end_message (builder);
}

gchar *
mesh_tracker_encode_attested_error (gint64 id, const gchar * why)
{
  g_autofree gchar *bounded = NULL;
  JsonBuilder *builder;
  const gchar *end;

  g_return_val_if_fail (id >= 0 && id <= MAX_ATTEST_ID, NULL);
  g_return_val_if_fail (why != NULL && *why && g_utf8_validate (why, -1,
          NULL), NULL);

  end = g_utf8_strlen (why, -1) > MESH_TRACKER_ATTEST_ERROR_MAX ?
      g_utf8_offset_to_pointer (why, MESH_TRACKER_ATTEST_ERROR_MAX) :
      why + strlen (why);
  bounded = g_strndup (why, end - why);
  builder = begin_message ("attested");
  add_int (builder, "id", id);
  add_string (builder, "error", bounded);
  return end_message (builder);
}
