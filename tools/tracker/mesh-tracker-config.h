/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The configuration file of mesh-tracker (GKeyFile, by default
 * SYSCONFDIR/gst-mesh/tracker.conf), read generically from the command
 * line's option table: every GOptionEntry's long name is a key of one group,
 * typed by the entry's arg type, so that an option added to the table is a
 * key with no extra code. The command line overrides the file.
 *
 *   [tracker]
 *   listen=0.0.0.0:8765        # G_OPTION_ARG_STRING, _FILENAME, _INT,
 *   trusted-proxy=10.0.0.1;10.0.0.2   # _INT64, _DOUBLE: one value;
 *   some-flag=true             # _STRING_ARRAY, _FILENAME_ARRAY: a ;-list;
 *                              # G_OPTION_ARG_NONE: true = given
 *
 * How: the table is wrapped, each entry becoming a G_OPTION_ARG_CALLBACK
 * that stores the value as GOption would and remembers that the command
 * line gave it; the file is then read for the others only. A callback
 * entry is called with the file's value (a boolean key for one with
 * G_OPTION_FLAG_NO_ARG, "" = no argument for G_OPTION_FLAG_OPTIONAL_ARG).
 *
 * Main thread only (it is command-line parsing). The file is the operator's
 * and trusted as such, but a defect in it is an error naming the file and
 * the key: unknown keys and groups, values of the wrong type.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS typedef struct _MeshTrackerOptions MeshTrackerOptions;

/* Wraps @entries (NULL-terminated; not copied: it and the storage it points
 * to must outlive the result) as the keys of group @group. Entries named in
 * @cli_only (NULL-terminated, may be NULL) are options and never keys.
 * Callback entries are called with @callback_data. */
MeshTrackerOptions *mesh_tracker_options_new (const gchar * group,
    const GOptionEntry * entries, const gchar * const *cli_only,
    gpointer callback_data);
void mesh_tracker_options_free (MeshTrackerOptions * options);

/* A GOptionGroup holding the wrapped entries (transfer full), to make the
 * main group of a GOptionContext (g_option_context_set_main_group()) or to
 * add. It refers to @options: free the context first. */
GOptionGroup *mesh_tracker_options_get_group (MeshTrackerOptions * options);

/* Reads @filename into the entries the command line did not give (parse
 * the command line first). A missing file is fine unless @required. */
gboolean mesh_tracker_options_load (MeshTrackerOptions * options,
    const gchar * filename, gboolean required, GError ** error);

/* The configuration as a key file: @header (comment lines, may be NULL),
 * the group, then each key with its entry's description as a comment: set
 * (by the command line or a file) as "key=value", else commented out with
 * the default the description names ("(default X" ...) or the entry's
 * argument placeholder. Loading the text sets what was set. */
gchar *mesh_tracker_options_to_data (MeshTrackerOptions * options,
    const gchar * header);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshTrackerOptions, mesh_tracker_options_free)
/* TRUE if @key (an entry's long name) was set, by the command line or a
 * file. */
     gboolean mesh_tracker_options_is_set (MeshTrackerOptions * options,
    const gchar * key);

G_END_DECLS
