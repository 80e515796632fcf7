/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-tracker-config.h. Main thread only.
 */
#include "mesh-tracker-config.h"

#include <string.h>

/* What one entry of the table became. */
typedef struct
{
  const GOptionEntry *entry;
  gboolean is_key;
  gboolean set;                 /* by the command line or a file */
  gboolean from_cli;            /* by the command line */
  gchar *callback_value;        /* last value a callback entry was given */
} Slot;

struct _MeshTrackerOptions
{
  gchar *group;
  Slot *slots;
  guint n_slots;
  GOptionEntry *wrapped;        /* n_slots + 1, NULL-terminated */
  gpointer callback_data;
};

static Slot *
slot_by_option_name (MeshTrackerOptions * options, const gchar * name)
{
  guint i;

  for (i = 0; i < options->n_slots; i++) {
    const GOptionEntry *entry = options->slots[i].entry;

    if (g_str_has_prefix (name, "--") ? g_str_equal (name + 2,
            entry->long_name) : name[0] == '-' && name[1] != '\0'
        && name[2] == '\0' && name[1] == entry->short_name)
      return &options->slots[i];
  }
  return NULL;
}

static Slot *
slot_by_key (MeshTrackerOptions * options, const gchar * key)
{
  guint i;

  for (i = 0; i < options->n_slots; i++)
    if (options->slots[i].is_key
        && g_str_equal (options->slots[i].entry->long_name, key))
      return &options->slots[i];
  return NULL;
}

static gboolean
is_array (const GOptionEntry * entry)
{
  return entry->arg == G_OPTION_ARG_STRING_ARRAY
      || entry->arg == G_OPTION_ARG_FILENAME_ARRAY;
}

/* A flag: a boolean key (true = given). */
static gboolean
is_flag (const GOptionEntry * entry)
{
  return entry->arg == G_OPTION_ARG_NONE
      || (entry->arg == G_OPTION_ARG_CALLBACK
      && (entry->flags & G_OPTION_FLAG_NO_ARG));
}

static gboolean
parse_number (const GOptionEntry * entry, const gchar * value, GError ** error)
{
  gint64 number;

  if (entry->arg == G_OPTION_ARG_DOUBLE) {
    gchar *end = NULL;
    gdouble d = g_ascii_strtod (value, &end);

    if (value[0] == '\0' || *end != '\0') {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--%s wants a number, not '%s'", entry->long_name, value);
      return FALSE;
    }
    *(gdouble *) entry->arg_data = d;
    return TRUE;
  }
  if (!g_ascii_string_to_signed (value, 10, entry->arg == G_OPTION_ARG_INT ?
          G_MININT : G_MININT64, entry->arg == G_OPTION_ARG_INT ? G_MAXINT :
          G_MAXINT64, &number, NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--%s wants an integer, not '%s'", entry->long_name, value);
    return FALSE;
  }
  if (entry->arg == G_OPTION_ARG_INT)
    *(gint *) entry->arg_data = number;
  else
    *(gint64 *) entry->arg_data = number;
  return TRUE;
}

/* Appends @value to the entry's array, which the first value of the
 * command line (or the file) replaces. */
static void
array_take (Slot * slot, const gchar * value, gboolean first)
{
  gchar ***array = slot->entry->arg_data;
  guint len;

  if (first)
    g_clear_pointer (array, g_strfreev);
  len = *array ? g_strv_length (*array) : 0;
  *array = g_renew (gchar *, *array, len + 2);
  (*array)[len] = g_strdup (value);
  (*array)[len + 1] = NULL;
}

static gboolean
call_callback (MeshTrackerOptions * options, Slot * slot, const gchar * value,
    GError ** error)
{
  GOptionArgFunc func = (GOptionArgFunc) slot->entry->arg_data;
  g_autofree gchar *name = g_strconcat ("--", slot->entry->long_name, NULL);

  g_free (slot->callback_value);
  slot->callback_value = g_strdup (value);
  return func (name, value, options->callback_data, error);
}

/* Stores @value (NULL for a flag) as GOption would have. */
static gboolean
slot_take (MeshTrackerOptions * options, Slot * slot, const gchar * value,
    GError ** error)
{
  const GOptionEntry *entry = slot->entry;
  gboolean first = !slot->set;

  slot->set = TRUE;
  switch (entry->arg) {
    case G_OPTION_ARG_NONE:
      *(gboolean *) entry->arg_data = !(entry->flags & G_OPTION_FLAG_REVERSE);
      return TRUE;
    case G_OPTION_ARG_STRING:
    case G_OPTION_ARG_FILENAME:
      g_free (*(gchar **) entry->arg_data);
      *(gchar **) entry->arg_data = g_strdup (value);
      return TRUE;
    case G_OPTION_ARG_STRING_ARRAY:
    case G_OPTION_ARG_FILENAME_ARRAY:
      array_take (slot, value, first);
      return TRUE;
    case G_OPTION_ARG_INT:
    case G_OPTION_ARG_INT64:
    case G_OPTION_ARG_DOUBLE:
      return parse_number (entry, value, error);
    case G_OPTION_ARG_CALLBACK:
      return call_callback (options, slot, value, error);
  }
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
      "--%s: unsupported option type", entry->long_name);
  return FALSE;
}

static gboolean
on_option (const gchar * name, const gchar * value, gpointer data,
    GError ** error)
{
  MeshTrackerOptions *options = data;
  Slot *slot = slot_by_option_name (options, name);

  if (!slot) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
        "unknown option %s", name);
    return FALSE;
  }
  slot->from_cli = TRUE;
  return slot_take (options, slot, value, error);
}

static GOptionFlags
wrapped_flags (const GOptionEntry * entry)
{
  GOptionFlags flags = entry->flags & ~G_OPTION_FLAG_REVERSE;

  if (entry->arg == G_OPTION_ARG_NONE)
    flags |= G_OPTION_FLAG_NO_ARG;
  if (entry->arg == G_OPTION_ARG_FILENAME
      || entry->arg == G_OPTION_ARG_FILENAME_ARRAY)
    flags |= G_OPTION_FLAG_FILENAME;
  return flags;
}

MeshTrackerOptions *
mesh_tracker_options_new (const gchar * group, const GOptionEntry * entries,
    const gchar * const *cli_only, gpointer callback_data)
{
  MeshTrackerOptions *options = g_new0 (MeshTrackerOptions, 1);
  guint i;

  options->group = g_strdup (group);
  options->callback_data = callback_data;
  while (entries[options->n_slots].long_name)
    options->n_slots++;
  options->slots = g_new0 (Slot, options->n_slots);
  options->wrapped = g_new0 (GOptionEntry, options->n_slots + 1);
  for (i = 0; i < options->n_slots; i++) {
    options->slots[i].entry = &entries[i];
    options->slots[i].is_key = !cli_only
        || !g_strv_contains (cli_only, entries[i].long_name);
    options->wrapped[i] = entries[i];
    options->wrapped[i].flags = wrapped_flags (&entries[i]);
    options->wrapped[i].arg = G_OPTION_ARG_CALLBACK;
    options->wrapped[i].arg_data = (gpointer) on_option;
  }
  return options;
}

void
mesh_tracker_options_free (MeshTrackerOptions * options)
{
  guint i;

  if (!options)
    return;
  for (i = 0; i < options->n_slots; i++)
    g_free (options->slots[i].callback_value);
  g_free (options->slots);
  g_free (options->wrapped);
  g_free (options->group);
  g_free (options);
}

GOptionGroup *
mesh_tracker_options_get_group (MeshTrackerOptions * options)
{
  GOptionGroup *group = g_option_group_new (options->group,
      "Options that are also keys of the configuration file",
      "Show the options that are also configuration keys", options, NULL);

  g_option_group_add_entries (group, options->wrapped);
  return group;
}

gboolean
mesh_tracker_options_is_set (MeshTrackerOptions * options, const gchar * key)
{
  Slot *slot = slot_by_key (options, key);

  return slot && slot->set;
}

/* ------------------------------------------------------------------------ */
/* Reading a file                                                           */

static gboolean
take_flag_key (MeshTrackerOptions * options, Slot * slot, GKeyFile * file,
    GError ** error)
{
  GError *local = NULL;
  gboolean given = g_key_file_get_boolean (file, options->group,
      slot->entry->long_name, &local);

  if (local) {
    g_propagate_error (error, local);
    return FALSE;
  }
  return !given || slot_take (options, slot, NULL, error);
}

static gboolean
take_list_key (MeshTrackerOptions * options, Slot * slot, GKeyFile * file,
    GError ** error)
{
  g_auto (GStrv) values = g_key_file_get_string_list (file, options->group,
      slot->entry->long_name, NULL, error);
  guint i;

  if (!values)
    return FALSE;
  for (i = 0; values[i]; i++)
    array_take (slot, values[i], i == 0);
  if (i == 0)
    g_clear_pointer ((gchar ***) slot->entry->arg_data, g_strfreev);
  slot->set = TRUE;
  return TRUE;
}

static gboolean
take_value_key (MeshTrackerOptions * options, Slot * slot, GKeyFile * file,
    GError ** error)
{
  g_autofree gchar *value = g_key_file_get_string (file, options->group,
      slot->entry->long_name, error);
  gboolean optional = slot->entry->arg == G_OPTION_ARG_CALLBACK
      && (slot->entry->flags & G_OPTION_FLAG_OPTIONAL_ARG);

  if (!value)
    return FALSE;
  return slot_take (options, slot, optional && value[0] == '\0' ? NULL :
      value, error);
}

static gboolean
take_key (MeshTrackerOptions * options, Slot * slot, GKeyFile * file,
    GError ** error)
{
  if (is_flag (slot->entry))
    return take_flag_key (options, slot, file, error);
  if (is_array (slot->entry))
    return take_list_key (options, slot, file, error);
  return take_value_key (options, slot, file, error);
}

static gboolean
check_groups (MeshTrackerOptions * options, GKeyFile * file,
    const gchar * filename, GError ** error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (file, NULL);
  guint i;

  for (i = 0; groups[i]; i++) {
    if (!g_str_equal (groups[i], options->group)) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
          "%s: unknown group [%s] (the keys go in [%s])", filename, groups[i],
          options->group);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
take_keys (MeshTrackerOptions * options, GKeyFile * file,
    const gchar * filename, GError ** error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (file, options->group, NULL, NULL);
  guint i;

  for (i = 0; keys && keys[i]; i++) {
    Slot *slot = slot_by_key (options, keys[i]);
    GError *local = NULL;

    if (!slot) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
          "%s: unknown key '%s' in [%s]", filename, keys[i], options->group);
      return FALSE;
    }
    /* the command line overrides the file */
    if (slot->from_cli)
      continue;
    if (!take_key (options, slot, file, &local)) {
      g_set_error (error, local->domain, local->code, "%s: key '%s': %s",
          filename, keys[i], local->message);
      g_error_free (local);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
mesh_tracker_options_load (MeshTrackerOptions * options,
    const gchar * filename, gboolean required, GError ** error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  GError *local = NULL;

  if (!g_key_file_load_from_file (file, filename, G_KEY_FILE_NONE, &local)) {
    if (!required && g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_error_free (local);
      return TRUE;
    }
    g_set_error (error, local->domain, local->code, "%s: %s", filename,
        local->message);
    g_error_free (local);
    return FALSE;
  }
  return check_groups (options, file, filename, error)
      && take_keys (options, file, filename, error);
}

/* ------------------------------------------------------------------------ */
/* Writing one                                                              */

/* The value an entry holds, escaped for a key file. */
static gchar *
slot_value (MeshTrackerOptions * options, Slot * slot)
{
  const GOptionEntry *entry = slot->entry;
  g_autoptr (GKeyFile) file = g_key_file_new ();
  const gchar *key = entry->long_name;

  switch (entry->arg) {
    case G_OPTION_ARG_NONE:
      return g_strdup ("true");
    case G_OPTION_ARG_INT:
      return g_strdup_printf ("%d", *(gint *) entry->arg_data);
    case G_OPTION_ARG_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, *(gint64 *) entry->arg_data);
    case G_OPTION_ARG_DOUBLE:{
      gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

      return g_strdup (g_ascii_dtostr (buf, sizeof buf,
              *(gdouble *) entry->arg_data));
    }
    case G_OPTION_ARG_STRING_ARRAY:
    case G_OPTION_ARG_FILENAME_ARRAY:{
      gchar **array = *(gchar ***) entry->arg_data;

      g_key_file_set_string_list (file, "g", key,
          (const gchar * const *) array, array ? g_strv_length (array) : 0);
      break;
    }
    case G_OPTION_ARG_CALLBACK:
      if (is_flag (entry))
        return g_strdup ("true");
      g_key_file_set_string (file, "g", key,
          slot->callback_value ? slot->callback_value : "");
      break;
    default:{
      const gchar *text = *(gchar **) entry->arg_data;

      g_key_file_set_string (file, "g", key, text ? text : "");
      break;
    }
  }
  return g_key_file_get_value (file, "g", key, NULL);
}

/* "X" from a description's "(default X)" or "(default X, ...)", else the
 * placeholder. */
static gchar *
default_value (const GOptionEntry * entry)
{
  const gchar *start = entry->description ?
      strstr (entry->description, "(default ") : NULL;

  if (is_flag (entry))
    return g_strdup ("false");
  if (start) {
    start += strlen ("(default ");
    return g_strndup (start, strcspn (start, ",;)"));
  }
  return g_strdup (entry->arg_description ? entry->arg_description : "");
}

gchar *
mesh_tracker_options_to_data (MeshTrackerOptions * options,
    const gchar * header)
{
  GString *out = g_string_new (header);
  guint i;

  g_string_append_printf (out, "[%s]\n", options->group);
  for (i = 0; i < options->n_slots; i++) {
    Slot *slot = &options->slots[i];
    g_autofree gchar *value = NULL;
    g_auto (GStrv) lines = NULL;
    g_autofree gchar *comment = NULL;

    if (!slot->is_key)
      continue;
    value = slot->set ? slot_value (options, slot) :
        default_value (slot->entry);
    /* a description may span lines: each one a comment */
    lines = g_strsplit (slot->entry->description ? slot->entry->description :
        "", "\n", -1);
    comment = g_strjoinv ("\n# ", lines);
    g_string_append_printf (out, "\n# %s\n%s%s=%s\n", comment,
        slot->set ? "" : "#", slot->entry->long_name, value);
  }
  return g_string_free (out, FALSE);
}
