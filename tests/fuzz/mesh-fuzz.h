/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the libFuzzer targets of this directory share (README.md).
 *
 * Threads: libFuzzer's one.
 */
#pragma once

#include <glib.h>
#include <stdlib.h>

/* A critical or warning is a bug (from an encoder, say, a critical means it
 * refused what the decoder took): abort, which libFuzzer catches and saves
 * the input for (g_log_set_always_fatal() traps, which it does not). Set
 * with g_log_set_default_handler() in LLVMFuzzerInitialize(). */
static inline void
mesh_fuzz_log_handler (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  g_log_default_handler (domain, level, message, user_data);
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();
}

/* A promise of the code under test that broke: abort. */
static inline void
check (gboolean ok)
{
  if (!ok)
    abort ();
}
