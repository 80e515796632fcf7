/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * plugin-mesh:
 *
 * Adaptive streaming sources (HLS and MPEG-DASH) whose segment fetching
 * goes through one fetch interface, the base of peer-assisted delivery.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "dash/gstmeshdashsrc.h"
#include "hls/gstmeshhlssrc.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (meshhlssrc, plugin);
  ret |= GST_ELEMENT_REGISTER (meshdashsrc, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, mesh,
    "Peer-assisted adaptive streaming sources", plugin_init, VERSION,
    GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
