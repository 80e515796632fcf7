/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A redis-server for the tests of the tracker's Redis mode: in memory only,
 * on 127.0.0.1 at a port of the caller's, ready when started. Header only:
 * the tests that use it link different libraries and no common test
 * helper. Runs on the calling thread (it blocks reading the server's
 * output until it says it is ready).
 */
#pragma once

#include "config.h"

#include <gst/check/gstcheck.h>
#include <gio/gio.h>
#include <string.h>

/* Whether the tracker has Redis mode (hiredis was found) and redis-server
 * is installed (scripts/setup-deps.sh installs both). */
static inline gboolean
mesh_test_have_redis (void)
{
  g_autofree gchar *path = g_find_program_in_path ("redis-server");

  return HAVE_HIREDIS && path != NULL;
}

/* redis-server on 127.0.0.1:@port, no persistence, accepting connections
 * when this returns. */
static inline GSubprocess *
mesh_test_redis_start (guint port)
{
  g_autofree gchar *port_text = g_strdup_printf ("%u", port);
  g_autoptr (GDataInputStream) out = NULL;
  GSubprocess *redis;
  GError *error = NULL;
  gboolean ready = FALSE;
  gchar *line;

  redis = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
      "redis-server", "--port", port_text, "--bind", "127.0.0.1", "--save",
      "", "--appendonly", "no", NULL);
  fail_unless (redis != NULL, "redis-server: %s", error ? error->message : "");
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (redis));
  /* the pipe stays open after this: redis-server must not see it closed */
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (out),
      FALSE);
  while (!ready && (line = g_data_input_stream_read_line (out, NULL, NULL,
              NULL))) {
    ready = strstr (line, "Ready to accept connections") != NULL;
    g_free (line);
  }
  fail_unless (ready, "redis-server on port %u did not start", port);
  return redis;
}
