/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshSignaller (see mesh-signaller.h): the interface, its signals and the
 * helpers implementations emit them with. No state of its own; the thread
 * rules are the implementation's (owner context, see the header).
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-signaller.h"

G_DEFINE_QUARK (mesh_signaller_error_quark, mesh_signaller_error);

G_DEFINE_INTERFACE (MeshSignaller, mesh_signaller, G_TYPE_OBJECT);

enum
{
  SIGNAL_WELCOME,
  SIGNAL_PEERS,
  SIGNAL_PEER_JOINED,
  SIGNAL_PEER_LEFT,
  SIGNAL_MESSAGE,
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
mesh_signaller_default_init (MeshSignallerInterface * iface)
{
  GType type = G_TYPE_FROM_INTERFACE (iface);

  signals[SIGNAL_WELCOME] = g_signal_new ("welcome", type, G_SIGNAL_RUN_LAST,
      0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRV);
  signals[SIGNAL_PEERS] = g_signal_new ("peers", type, G_SIGNAL_RUN_LAST,
      0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRV);
  signals[SIGNAL_PEER_JOINED] = g_signal_new ("peer-joined", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_PEER_LEFT] = g_signal_new ("peer-left", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_MESSAGE] = g_signal_new ("message", type, G_SIGNAL_RUN_LAST,
      0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, JSON_TYPE_OBJECT);
  signals[SIGNAL_ERROR] = g_signal_new ("error", type, G_SIGNAL_RUN_LAST,
      0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

void
mesh_signaller_join (MeshSignaller * self, const gchar * swarm_id,
    const gchar * peer_id, const gchar * token, gboolean upload)
{
  g_return_if_fail (MESH_IS_SIGNALLER (self));
  g_return_if_fail (swarm_id != NULL && peer_id != NULL);

  MESH_SIGNALLER_GET_IFACE (self)->join (self, swarm_id, peer_id, token,
      upload);
}

void
mesh_signaller_join_full (MeshSignaller * self, const gchar * swarm_id,
    const gchar * peer_id, const gchar * token, gboolean upload,
    const gchar * network)
{
  MeshSignallerInterface *iface;

  g_return_if_fail (MESH_IS_SIGNALLER (self));
  g_return_if_fail (swarm_id != NULL && peer_id != NULL);

  iface = MESH_SIGNALLER_GET_IFACE (self);
  if (iface->join_full)
    iface->join_full (self, swarm_id, peer_id, token, upload, network);
  else
    iface->join (self, swarm_id, peer_id, token, upload);
}

void
mesh_signaller_leave (MeshSignaller * self)
{
  g_return_if_fail (MESH_IS_SIGNALLER (self));

  MESH_SIGNALLER_GET_IFACE (self)->leave (self);
}

void
mesh_signaller_relay (MeshSignaller * self, const gchar * to,
    JsonObject * payload)
{
  g_return_if_fail (MESH_IS_SIGNALLER (self));
  g_return_if_fail (to != NULL && payload != NULL);

  MESH_SIGNALLER_GET_IFACE (self)->relay (self, to, payload);
}

void
mesh_signaller_request_peers (MeshSignaller * self)
{
  g_return_if_fail (MESH_IS_SIGNALLER (self));

  MESH_SIGNALLER_GET_IFACE (self)->request_peers (self);
}

void
mesh_signaller_report (MeshSignaller * self, const gchar * peer_id,
    const gchar * reason)
{
  MeshSignallerInterface *iface;

  g_return_if_fail (MESH_IS_SIGNALLER (self));
  g_return_if_fail (peer_id != NULL);

  iface = MESH_SIGNALLER_GET_IFACE (self);
  if (iface->report)
    iface->report (self, peer_id, reason);
}

gboolean
mesh_signaller_is_near (MeshSignaller * self, const gchar * peer_id)
{
  MeshSignallerInterface *iface;

  g_return_val_if_fail (MESH_IS_SIGNALLER (self), FALSE);
  g_return_val_if_fail (peer_id != NULL, FALSE);

  iface = MESH_SIGNALLER_GET_IFACE (self);
  return iface->is_near ? iface->is_near (self, peer_id) : FALSE;
}

void
mesh_signaller_send_qos (MeshSignaller * self, const MeshQosReport * totals)
{
  MeshSignallerInterface *iface;

  g_return_if_fail (MESH_IS_SIGNALLER (self));
  g_return_if_fail (totals != NULL);

  iface = MESH_SIGNALLER_GET_IFACE (self);
  if (iface->send_qos)
    iface->send_qos (self, totals);
}

void
mesh_signaller_attest (MeshSignaller * self, const gchar * url,
    gint64 offset, gint64 length, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data)
{
  MeshSignallerInterface *iface;

  g_return_if_fail (MESH_IS_SIGNALLER (self));
  g_return_if_fail (url != NULL);
  g_return_if_fail (offset >= 0 && (length == -1 || length > 0));

  iface = MESH_SIGNALLER_GET_IFACE (self);
  if (iface->attest && iface->attest_finish) {
    iface->attest (self, url, offset, length, cancellable, callback, user_data);
    return;
  }
  /* a GTask completes from the main loop, never inside this call */
  g_task_report_new_error (self, callback, user_data, mesh_signaller_attest,
      G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "this signaller attests no digests");
}

gboolean
mesh_signaller_attest_finish (MeshSignaller * self, GAsyncResult * result,
    guint8 digest[32], guint64 * size, GError ** error)
{
  MeshSignallerInterface *iface;

  g_return_val_if_fail (MESH_IS_SIGNALLER (self), FALSE);
  g_return_val_if_fail (digest != NULL, FALSE);

  if (g_async_result_is_tagged (result, mesh_signaller_attest))
    return g_task_propagate_boolean (G_TASK (result), error);
  iface = MESH_SIGNALLER_GET_IFACE (self);
  return iface->attest_finish (self, result, digest, size, error);
}

void
mesh_signaller_emit_welcome (MeshSignaller * self,
    const gchar * const *peer_ids)
{
  g_signal_emit (self, signals[SIGNAL_WELCOME], 0, peer_ids);
}

void
mesh_signaller_emit_peers (MeshSignaller * self, const gchar * const *peer_ids)
{
  g_signal_emit (self, signals[SIGNAL_PEERS], 0, peer_ids);
}

void
mesh_signaller_emit_peer_joined (MeshSignaller * self, const gchar * peer_id)
{
  g_signal_emit (self, signals[SIGNAL_PEER_JOINED], 0, peer_id);
}

void
mesh_signaller_emit_peer_left (MeshSignaller * self, const gchar * peer_id)
{
  g_signal_emit (self, signals[SIGNAL_PEER_LEFT], 0, peer_id);
}

void
mesh_signaller_emit_message (MeshSignaller * self, const gchar * from,
    JsonObject * payload)
{
  g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, from, payload);
}

void
mesh_signaller_emit_error (MeshSignaller * self, const GError * error)
{
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}
