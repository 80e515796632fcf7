/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tracker's event log: one line per event (a join, a leave, a refused
 * connection, an error sent to a client, a ban, a report), for operators
 * and their log pipelines:
 *
 *   event=join swarm="https://cdn.example/live/ch1.m3u8" peer=a1b2 addr=192.0.2.7
 *   {"event":"join","swarm":"https://cdn.example/live/ch1.m3u8",...}   (json)
 *
 * Each event goes through GLib's structured log (g_log_structured_array(),
 * domain "mesh-tracker", level INFO) with the line as MESSAGE and every
 * field as MESH_<KEY> (MESH_EVENT, MESH_SWARM, ...), so that journald
 * stores them as fields. mesh_tracker_log_init() installs the writer
 * mesh-tracker runs with: the native journal protocol when stderr is the
 * journal, else the line alone on stdout, written by a thread of its own
 * from a queue bounded to 1 MiB (beyond it events are dropped, and a
 * "log-dropped" event counts them), so that logging never stalls the
 * server on a stdout nobody reads. Without it (the tests, a library user)
 * events go to GLib's default writer, which shows INFO messages only with
 * G_MESSAGES_DEBUG.
 *
 * Values come from clients: each is bounded (cut once
 * MESH_TRACKER_LOG_MAX_VALUE bytes are written, on a character boundary,
 * and marked "...": at most 10 bytes more), and every control character or invalid UTF-8 byte is
 * escaped (\xNN, \u{NNNN} in text; \u00NN in JSON), so a line is one line
 * and a value cannot forge another field. Text values are quoted when they
 * hold a space, '"', '=', '\\' or nothing.
 *
 * Thread-safe (any thread may log); the format is set once, before the
 * server starts. The writer thread owns stdout's event lines.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS
/* bytes of one value's text in a line, before "..." */
#define MESH_TRACKER_LOG_MAX_VALUE 256
/* fields of one event, beyond which the rest are dropped */
#define MESH_TRACKER_LOG_MAX_FIELDS 12
    typedef enum
{
  MESH_TRACKER_LOG_TEXT,        /* key=value */
  MESH_TRACKER_LOG_JSON,        /* one JSON object per line */
} MeshTrackerLogFormat;

/* "text" or "json"; FALSE for anything else. */
gboolean mesh_tracker_log_parse_format (const gchar * name,
    MeshTrackerLogFormat * format);

/* Sets the line format and installs the writer described above. Call once,
 * on the main thread, before anything logs. */
void mesh_tracker_log_init (MeshTrackerLogFormat format);

/* Waits until the events logged so far are written, at most @timeout_ms;
 * FALSE if some were not. For the end of main(). */
gboolean mesh_tracker_log_flush (guint timeout_ms);

/* The line of an event: @fields holds @n_fields key/value pairs (keys are
 * ours: [a-z0-9-]; a NULL value is left out). */
gchar *mesh_tracker_log_format_line (MeshTrackerLogFormat format,
    const gchar * event, const gchar * const *fields, guint n_fields);

/* Logs an event: key, value, key, value, ..., NULL (a NULL value leaves
 * its field out; fields past MESH_TRACKER_LOG_MAX_FIELDS are dropped). */
void
mesh_tracker_log_event (const gchar * event, const gchar * first_key, ...)
    G_GNUC_NULL_TERMINATED;

G_END_DECLS
