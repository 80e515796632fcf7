/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Waiting on a GMainContext with a deadline, for the unit tests that drive
 * one themselves. Header only: the tests that use it link different
 * libraries and no common test helper.
 */
#pragma once

#include <gst/check/gstcheck.h>

/* A GSourceFunc that sets the gboolean at @data, once. */
static inline gboolean
mesh_test_set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates @ctx until @cond holds or @ms pass; the caller checks @cond. */
#define MESH_TEST_ITERATE_UNTIL(ctx, cond, ms) G_STMT_START {           \
    gboolean expired_ = FALSE;                                          \
    GSource *timer_ = g_timeout_source_new (ms);                        \
    g_source_set_callback (timer_, mesh_test_set_flag, &expired_, NULL); \
    g_source_attach (timer_, ctx);                                      \
    while (!(cond) && !expired_)                                        \
      g_main_context_iteration (ctx, TRUE);                             \
    g_source_destroy (timer_);                                          \
    g_source_unref (timer_);                                            \
  } G_STMT_END

/* The same, then asserts @cond. */
#define MESH_TEST_WAIT_UNTIL(ctx, cond, ms) G_STMT_START {              \
    MESH_TEST_ITERATE_UNTIL (ctx, cond, ms);                            \
    fail_unless (cond, "timed out waiting for: %s", #cond);             \
  } G_STMT_END
