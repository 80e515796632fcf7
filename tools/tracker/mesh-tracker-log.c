/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-tracker-log.h. Any thread; `log_format` is written once before
 * the threads that log exist.
 */
#include "mesh-tracker-log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

void
mesh_tracker_log_event (const gchar * event, const gchar * first_key, ...)
{
  const gchar *fields[2 * MESH_TRACKER_LOG_MAX_FIELDS];
  gchar names[MESH_TRACKER_LOG_MAX_FIELDS + 1][MAX_FIELD_NAME];
  GLogField log_fields[MESH_TRACKER_LOG_MAX_FIELDS + 4];
  g_autofree gchar *line = NULL;
  const gchar *key = first_key;
  guint n = 0, n_log = 0, i;
  va_list args;

  va_start (args, first_key);
  for (; key && n < MESH_TRACKER_LOG_MAX_FIELDS; key = va_arg (args,
          const gchar *))
  {
    fields[2 * n] = key;
    fields[2 * n + 1] = va_arg (args, const gchar *);
    n++;
  }
  va_end (args);

  line = mesh_tracker_log_format_line (log_format, event, fields, n);
  log_fields[n_log++] = (GLogField) {
  "MESSAGE", line, -1};
  log_fields[n_log++] = (GLogField) {
  "PRIORITY", "6", -1};
  log_fields[n_log++] = (GLogField) {
  "GLIB_DOMAIN", LOG_DOMAIN, -1};
  log_fields[n_log++] = (GLogField) {
  "MESH_EVENT", event, -1};
  for (i = 0; i < n; i++) {
    if (!fields[2 * i + 1])
      continue;
    journal_field_name (names[i], sizeof names[i], fields[2 * i]);
    log_fields[n_log++] = (GLogField) {
    names[i], fields[2 * i + 1], -1};
  }
  g_log_structured_array (G_LOG_LEVEL_INFO, log_fields, n_log);
}

static gboolean
is_event (const GLogField * fields, gsize n_fields, const gchar ** message)
{
  gboolean event = FALSE;
  gsize i;

  for (i = 0; i < n_fields; i++) {
    if (g_str_equal (fields[i].key, "MESH_EVENT"))
      event = TRUE;
    else if (g_str_equal (fields[i].key, "MESSAGE"))
      *message = fields[i].value;
  }
  return event && *message;
}

static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField * fields, gsize n_fields,
    gpointer data)
{
  const gchar *message = NULL;

  if (!is_event (fields, n_fields, &message))
    return g_log_writer_default (level, fields, n_fields, data);
  if (g_log_writer_is_journald (fileno (stderr))
      && g_log_writer_journald (level, fields, n_fields,
          data) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  /* one write per line: lines of several threads do not interleave */
  flockfile (stdout);
  fputs (message, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
  funlockfile (stdout);
  return G_LOG_WRITER_HANDLED;
}

void
mesh_tracker_log_init (MeshTrackerLogFormat format)
{
  log_format = format;
  g_log_set_writer_func (write_log, NULL, NULL);
}
