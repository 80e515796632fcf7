/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "gstmeshadaptivesrc.h"

G_BEGIN_DECLS

#define GST_TYPE_MESH_HLS_SRC (gst_mesh_hls_src_get_type ())
G_DECLARE_FINAL_TYPE (GstMeshHlsSrc, gst_mesh_hls_src, GST, MESH_HLS_SRC,
    GstMeshAdaptiveSrc)

GST_ELEMENT_REGISTER_DECLARE (meshhlssrc);

G_END_DECLS
