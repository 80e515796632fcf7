/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the tracker protocol codec
 * (ext/mesh/p2p/mesh-tracker-proto.c): what a client sends the tracker and
 * what the tracker sends a client. See README.md in this directory.
 *
 * Threads: libFuzzer's one; nothing is shared between inputs.
 *
 * Input: bit 0 of byte 0 chooses the direction (0: to the tracker, 1: to a
 * client), the rest is one WebSocket text message. Beyond "no crash, no
 * leak", a message that decodes is encoded again with the encoder of its
 * type and must decode to the same members (the tracker relays what it
 * decoded; a client answers what it decoded).
 *
 * Built and run by run-fuzzers.sh, from the top of the tree, as these
 * lines say (README.md):
 *   fuzz-sources: ext/mesh/p2p/mesh-tracker-proto.c
 *   fuzz-cflags: -Iext/mesh
 *   fuzz-packages: json-glib-1.0 glib-2.0
 *   fuzz-options: -max_len=8192
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/mesh-tracker-proto.h"
#include "mesh-fuzz.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_default_handler (mesh_fuzz_log_handler, NULL);
  return 0;
}

static gboolean
same_peers (GPtrArray * a, GPtrArray * b)
{
  guint i;

  if (a == NULL || b == NULL)
    return (a == NULL) == (b == NULL) || (a ? a->len : b->len) == 0;
  if (a->len != b->len)
    return FALSE;
  for (i = 0; i < a->len; i++) {
    MeshTrackerPeerEntry *x = g_ptr_array_index (a, i);
    MeshTrackerPeerEntry *y = g_ptr_array_index (b, i);

    if (g_strcmp0 (x->peer, y->peer) != 0 || !x->upload != !y->upload
        || !x->near != !y->near)
      return FALSE;
  }
  return TRUE;
}

static MeshTrackerPeerEntry *
flat_peers (GPtrArray * peers)
{
  MeshTrackerPeerEntry *flat;
  guint i;

  if (peers == NULL || peers->len == 0)
    return NULL;
  flat = g_new (MeshTrackerPeerEntry, peers->len);
  for (i = 0; i < peers->len; i++)
    flat[i] = *(MeshTrackerPeerEntry *) g_ptr_array_index (peers, i);
  return flat;
}

/* The same message again, through the encoder; NULL when this type has
 * no encoder that can say all of @m. */
static gchar *
reencode (const MeshTrackerMessage * m, MeshTrackerDirection direction)
{
  g_autofree MeshTrackerPeerEntry *flat = flat_peers (m->peers);
  guint n = m->peers ? m->peers->len : 0;

  switch (m->type) {
    case MESH_TRACKER_MESSAGE_JOIN:
      return mesh_tracker_encode_join_full (m->swarm, m->peer, m->token,
          m->upload, m->network);
    case MESH_TRACKER_MESSAGE_GET_PEERS:
    case MESH_TRACKER_MESSAGE_HEARTBEAT:
    case MESH_TRACKER_MESSAGE_LEAVE:
      return mesh_tracker_encode_bare (m->type);
    case MESH_TRACKER_MESSAGE_SIGNAL:
      if (direction == MESH_TRACKER_TO_TRACKER)
        return mesh_tracker_encode_signal (m->peer, m->data);
      else {
        g_autofree gchar *json = json_to_string (m->data, FALSE);

        return mesh_tracker_encode_relayed_signal (m->peer, json);
      }
    case MESH_TRACKER_MESSAGE_WELCOME:
      if (m->peer == NULL || m->swarm == NULL || m->heartbeat < 0
          || m->heartbeat > G_MAXUINT)
        return NULL;
      return mesh_tracker_encode_welcome (m->peer, m->swarm, m->heartbeat,
          flat, n);
    case MESH_TRACKER_MESSAGE_PEERS:
      return mesh_tracker_encode_peers (flat, n);
    case MESH_TRACKER_MESSAGE_PEER_JOINED:
      return mesh_tracker_encode_peer_joined (m->peer, m->upload, m->near);
    case MESH_TRACKER_MESSAGE_PEER_LEFT:
      return mesh_tracker_encode_peer_left (m->peer);
    case MESH_TRACKER_MESSAGE_ERROR:{
      gint code = mesh_tracker_error_code_from_name (m->code);

      if (code < 0 || m->message == NULL)
        return NULL;
      return mesh_tracker_encode_error (code, m->message, m->fatal);
    }
    case MESH_TRACKER_MESSAGE_ATTEST:
      return mesh_tracker_encode_attest (m->id, m->url, m->offset, m->length);
    case MESH_TRACKER_MESSAGE_QOS:
      /* the encoder writes its own version */
      if (m->qos.version != MESH_QOS_REPORT_VERSION)
        return NULL;
      return mesh_tracker_encode_qos (&m->qos, m->network);
    case MESH_TRACKER_MESSAGE_ATTESTED:
      if (m->attest_error)
        return mesh_tracker_encode_attested_error (m->id, m->attest_error);
      return mesh_tracker_encode_attested (m->id, m->digest, m->size);
    default:
      return NULL;
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  MeshTrackerDirection direction;
  MeshTrackerMessage m, again;
  GError *err = NULL;
  g_autofree gchar *text = NULL;
  gboolean ok;

  if (size < 1)
    return 0;
  direction = (data[0] & 1) ? MESH_TRACKER_TO_CLIENT : MESH_TRACKER_TO_TRACKER;
  /* the codec takes a length: no terminator, so ASan sees any read past */
  text = g_memdup2 (data + 1, size - 1);

  ok = mesh_tracker_message_decode (&m, direction, size > 1 ? text : "",
      size - 1, &err);
  check (ok == (err == NULL));
  if (!ok) {
    check (m.type != MESH_TRACKER_MESSAGE_INVALID || m.type_name == NULL);
    g_clear_error (&err);
    mesh_tracker_message_clear (&m);
    return 0;
  }
  check (m.type != MESH_TRACKER_MESSAGE_INVALID && m.type_name != NULL);

  {
    g_autofree gchar *enc = reencode (&m, direction);

    if (enc != NULL) {
      check (mesh_tracker_message_decode (&again, direction, enc,
              strlen (enc), NULL));
      check (again.type == m.type);
      check (g_strcmp0 (again.peer, m.peer) == 0);
      check (g_strcmp0 (again.swarm, m.swarm) == 0);
      check (g_strcmp0 (again.token, m.token) == 0);
      check (!again.upload == !m.upload);
      check (!again.near == !m.near);
      check ((again.data == NULL) == (m.data == NULL));
      check (again.data == NULL || json_node_equal (again.data, m.data));
      check (same_peers (again.peers, m.peers));
      check (g_strcmp0 (again.message, m.message) == 0);
      check (!again.fatal == !m.fatal);
      check (again.id == m.id);
      check (g_strcmp0 (again.url, m.url) == 0);
      check (again.offset == m.offset && again.length == m.length);
      check (memcmp (again.digest, m.digest, sizeof (m.digest)) == 0);
      check (again.size == m.size);
      check (g_strcmp0 (again.attest_error, m.attest_error) == 0);
      check (g_strcmp0 (again.network, m.network) == 0);
      check (memcmp (&again.qos, &m.qos, sizeof (m.qos)) == 0);
      mesh_tracker_message_clear (&again);
    }
  }
  mesh_tracker_message_clear (&m);
  return 0;
}
