/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-tracker-log.h. Any thread; `log_format` is written once before
 * the threads that log exist.
 */
#include "mesh-tracker-log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_DOMAIN "mesh-tracker"
/* "MESH_" + the longest key we keep for a journal field name */
#define MAX_FIELD_NAME 64

static MeshTrackerLogFormat log_format = MESH_TRACKER_LOG_TEXT;

gboolean
mesh_tracker_log_parse_format (const gchar * name,
    MeshTrackerLogFormat * format)
{
  if (g_strcmp0 (name, "text") == 0)
    *format = MESH_TRACKER_LOG_TEXT;
  else if (g_strcmp0 (name, "json") == 0)
    *format = MESH_TRACKER_LOG_JSON;
  else
    return FALSE;
  return TRUE;
}

static gboolean
needs_quotes (const gchar * value)
{
  return value[0] == '\0' || strpbrk (value, " \"=\\") != NULL;
}

static void
append_escaped_char (GString * out, gunichar c, gboolean json)
{
  if (c == '"' || c == '\\')
    g_string_append_printf (out, "\\%c", (gchar) c);
  else if (json)
    g_string_append_printf (out, "\\u%04x", c);
  else if (c < 0x80)
    g_string_append_printf (out, "\\x%02x", c);
  else
    g_string_append_printf (out, "\\u{%04x}", c);
}

/* @value, bounded and escaped: control characters (C0, DEL, C1) and, in
 * text, the quote and backslash; an invalid UTF-8 byte as \xNN (text) or
 * U+FFFD (JSON). */
static void
append_value (GString * out, const gchar * value, gboolean json)
{
  const gchar *p = value;
  gsize start = out->len;

  while (*p) {
    gunichar c = g_utf8_get_char_validated (p, -1);

    if (out->len - start >= MESH_TRACKER_LOG_MAX_VALUE) {
      g_string_append (out, "...");
      return;
    }
    if (c == (gunichar) - 1 || c == (gunichar) - 2) {
      if (json)
        g_string_append (out, "\\ufffd");
      else
        g_string_append_printf (out, "\\x%02x", (guchar) * p);
      p++;
      continue;
    }
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '"'
        || c == '\\')
      append_escaped_char (out, c, json);
    else
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
    p = g_utf8_next_char (p);
  }
}

static void
append_text_field (GString * out, const gchar * key, const gchar * value)
{
  g_autoptr (GString) escaped = g_string_new (NULL);

  append_value (escaped, value, FALSE);
  if (out->len)
    g_string_append_c (out, ' ');
  if (needs_quotes (escaped->str))
    g_string_append_printf (out, "%s=\"%s\"", key, escaped->str);
  else
    g_string_append_printf (out, "%s=%s", key, escaped->str);
}

static void
append_json_field (GString * out, const gchar * key, const gchar * value)
{
  g_string_append_printf (out, "%s\"%s\":\"", out->len > 1 ? "," : "", key);
  append_value (out, value, TRUE);
  g_string_append_c (out, '"');
}

gchar *
mesh_tracker_log_format_line (MeshTrackerLogFormat format,
    const gchar * event, const gchar * const *fields, guint n_fields)
{
  gboolean json = format == MESH_TRACKER_LOG_JSON;
  GString *out = g_string_new (json ? "{" : NULL);
  guint i;

  if (json)
    append_json_field (out, "event", event);
  else
    append_text_field (out, "event", event);
  for (i = 0; i < n_fields; i++) {
    const gchar *value = fields[2 * i + 1];

    if (!value)
      continue;
    if (json)
      append_json_field (out, fields[2 * i], value);
    else
      append_text_field (out, fields[2 * i], value);
  }
  if (json)
    g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/* "MESH_SWARM" for "swarm": journald wants [A-Z0-9_]. */
static void
journal_field_name (gchar * name, gsize size, const gchar * key)
{
  gchar *p;

  g_snprintf (name, size, "MESH_%s", key);
  for (p = name; *p; p++)
    *p = g_ascii_isalnum (*p) ? g_ascii_toupper (*p) : '_';
}

static void
add_field (GLogField * fields, guint * n, const gchar * key,
    const gchar * value)
{
  fields[*n].key = key;
  fields[*n].value = value;
  fields[*n].length = -1;
  (*n)++;
}

void
mesh_tracker_log_event (const gchar * event, const gchar * first_key, ...)
{
  const gchar *fields[2 * MESH_TRACKER_LOG_MAX_FIELDS];
  gchar names[MESH_TRACKER_LOG_MAX_FIELDS][MAX_FIELD_NAME];
  GLogField log_fields[MESH_TRACKER_LOG_MAX_FIELDS + 4];
  g_autofree gchar *line = NULL;
  const gchar *key = first_key;
  guint n = 0, n_log = 0, i;
  va_list args;

  va_start (args, first_key);
  while (key && n < MESH_TRACKER_LOG_MAX_FIELDS) {
    fields[2 * n] = key;
    fields[2 * n + 1] = va_arg (args, const gchar *);
    n++;
    key = va_arg (args, const gchar *);
  }
  va_end (args);

  line = mesh_tracker_log_format_line (log_format, event, fields, n);
  add_field (log_fields, &n_log, "MESSAGE", line);
  add_field (log_fields, &n_log, "PRIORITY", "6");
  add_field (log_fields, &n_log, "GLIB_DOMAIN", LOG_DOMAIN);
  add_field (log_fields, &n_log, "MESH_EVENT", event);
  for (i = 0; i < n; i++) {
    if (!fields[2 * i + 1])
      continue;
    journal_field_name (names[i], sizeof names[i], fields[2 * i]);
    add_field (log_fields, &n_log, names[i], fields[2 * i + 1]);
  }
  g_log_structured_array (G_LOG_LEVEL_INFO, log_fields, n_log);
}

static gboolean
is_event (const GLogField * fields, gsize n_fields)
{
  gsize i;

  for (i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESH_EVENT"))
      return TRUE;
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* The writer of mesh-tracker: a thread of its own                          */

/* An event waiting for the writer thread: a copy of its fields, in one
 * block. */
typedef struct
{
  GLogLevelFlags level;
  gsize n_fields;
  gsize size;                   /* bytes, counted against MAX_QUEUED */
  GLogField fields[];
} Entry;

/* What the writer thread has not written yet, guarded by `queue_lock`:
 * whoever logs (the server thread) only queues, so that a reader of stdout
 * that does not read (a script that only wanted the first line), or a
 * journal that is slow, never stalls the server. Past MAX_QUEUED bytes
 * events are dropped and counted; the writer says how many. */
#define MAX_QUEUED (1024 * 1024)
static GMutex queue_lock;
static GCond queue_cond;
static GQueue queue = G_QUEUE_INIT;
static gsize queued_bytes;
static guint64 dropped;
static gboolean writing;        /* the writer holds an entry out of the queue */

static Entry *
entry_new (GLogLevelFlags level, const GLogField * fields, gsize n_fields)
{
  gsize size = sizeof (Entry) + n_fields * sizeof (GLogField);
  Entry *entry;
  gchar *p;
  gsize i;

  for (i = 0; i < n_fields; i++)
    size += strlen (fields[i].key) + 1 + (fields[i].length < 0 ?
        strlen (fields[i].value) : (gsize) fields[i].length) + 1;
  entry = g_malloc (size);
  entry->level = level;
  entry->n_fields = n_fields;
  entry->size = size;
  p = (gchar *) & entry->fields[n_fields];
  for (i = 0; i < n_fields; i++) {
    gsize len = fields[i].length < 0 ? strlen (fields[i].value) :
        (gsize) fields[i].length;

    entry->fields[i].key = strcpy (p, fields[i].key);
    p += strlen (fields[i].key) + 1;
    memcpy (p, fields[i].value, len);
    p[len] = '\0';
    entry->fields[i].value = p;
    entry->fields[i].length = fields[i].length < 0 ? -1 : (gssize) len;
    p += len + 1;
  }
  return entry;
}

/* With write(2), not stdio: what a blocked write holds is this thread's
 * only, and exit() has nothing of ours to flush into a pipe nobody reads. */
static void
write_line (const gchar * line)
{
  g_autofree gchar *text = g_strconcat (line, "\n", NULL);
  gsize size = strlen (text), done = 0;

  while (done < size) {
    gssize n = write (STDOUT_FILENO, text + done, size - done);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    done += n;
  }
}

static void
write_entry (Entry * entry)
{
  gsize i;

  if (g_log_writer_is_journald (fileno (stderr))
      && g_log_writer_journald (entry->level, entry->fields, entry->n_fields,
          NULL) == G_LOG_WRITER_HANDLED)
    return;
  for (i = 0; i < entry->n_fields; i++)
    if (g_str_equal (entry->fields[i].key, "MESSAGE"))
      write_line (entry->fields[i].value);
}

static void
write_dropped (guint64 count)
{
  g_autofree gchar *text = g_strdup_printf ("%" G_GUINT64_FORMAT, count);

  mesh_tracker_log_event ("log-dropped", "events", text, NULL);
}

static gpointer
writer_thread (gpointer data)
{
  for (;;) {
    Entry *entry;
    guint64 lost;

    g_mutex_lock (&queue_lock);
    while (g_queue_is_empty (&queue) && dropped == 0)
      g_cond_wait (&queue_cond, &queue_lock);
    entry = g_queue_pop_head (&queue);
    if (entry)
      queued_bytes -= entry->size;
    lost = entry ? 0 : dropped;
    if (!entry)
      dropped = 0;
    writing = TRUE;
    g_mutex_unlock (&queue_lock);

    if (entry)
      write_entry (entry);
    else
      write_dropped (lost);
    g_free (entry);

    g_mutex_lock (&queue_lock);
    writing = FALSE;
    g_cond_broadcast (&queue_cond);
    g_mutex_unlock (&queue_lock);
  }
  return NULL;
}

static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField * fields, gsize n_fields,
    gpointer data)
{
  Entry *entry;

  if (!is_event (fields, n_fields))
    return g_log_writer_default (level, fields, n_fields, data);
  entry = entry_new (level, fields, n_fields);
  g_mutex_lock (&queue_lock);
  if (queued_bytes + entry->size > MAX_QUEUED) {
    dropped++;
    g_clear_pointer (&entry, g_free);
  } else {
    g_queue_push_tail (&queue, entry);
    queued_bytes += entry->size;
  }
  g_cond_broadcast (&queue_cond);
  g_mutex_unlock (&queue_lock);
  return G_LOG_WRITER_HANDLED;
}

void
mesh_tracker_log_init (MeshTrackerLogFormat format)
{
  log_format = format;
  g_thread_unref (g_thread_new ("mesh-tracker-log", writer_thread, NULL));
  g_log_set_writer_func (write_log, NULL, NULL);
}

gboolean
mesh_tracker_log_flush (guint timeout_ms)
{
  gint64 deadline =
      g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean empty;

  g_mutex_lock (&queue_lock);
  while (!(empty = g_queue_is_empty (&queue) && !writing && dropped == 0)
      && g_cond_wait_until (&queue_cond, &queue_lock, deadline));
  empty = g_queue_is_empty (&queue) && !writing && dropped == 0;
  g_mutex_unlock (&queue_lock);
  return empty;
}
