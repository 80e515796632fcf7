/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tests of mesh-tracker's configuration file (tools/tracker/
 * mesh-tracker-config.c) and of its event lines (mesh-tracker-log.c).
 *
 * The configuration: an option table with every GOption arg type; every
 * entry maps to a key and back (set from a file, printed, read again: the
 * same values); the command line overrides the file, key by key; unknown
 * keys and groups, values of the wrong type and a missing explicit file are
 * errors naming the file (and the key); a missing default file is not.
 * Entries named "command line only" are not keys.
 *
 * The event lines: key=value and JSON, quoting, escaping of control
 * characters and invalid UTF-8 (a value can neither break the line nor
 * forge a field), the bound on a value's length.
 *
 * Threads: everything runs on the check thread.
 */

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "mesh-tracker-config.h"
#include "mesh-tracker-log.h"

/* The storage of the test table, reset by each test. */
typedef struct
{
  gchar *string;
  gchar *filename;
  gint number;
  gint64 big;
  gdouble ratio;
  gchar **list;
  gchar **files;
  gboolean flag;
  gboolean upload;              /* --no-upload: G_OPTION_FLAG_REVERSE */
  gchar *callback_value;
  guint callback_calls;
  gboolean switched;            /* --switch: a callback without argument */
  gchar *make;                  /* command line only */
} Values;

static Values values;

static gboolean
on_callback (const gchar * name, const gchar * value, gpointer data,
    GError ** error)
{
  fail_unless (data == &values);
  fail_unless_equals_string (name, "--hook");
  if (g_strcmp0 (value, "refuse") == 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "refused");
    return FALSE;
  }
  g_free (values.callback_value);
  values.callback_value = g_strdup (value);
  values.callback_calls++;
  return TRUE;
}

static gboolean
on_switch (const gchar * name, const gchar * value, gpointer data,
    GError ** error)
{
  fail_unless (value == NULL);
  values.switched = TRUE;
  return TRUE;
}

static const GOptionEntry *
test_entries (void)
{
  static GOptionEntry entries[] = {
    {"string", 's', 0, G_OPTION_ARG_STRING, &values.string,
        "A string (default abc)", "TEXT"},
    {"filename", 0, 0, G_OPTION_ARG_FILENAME, &values.filename,
        "A file", "FILE"},
    {"number", 'n', 0, G_OPTION_ARG_INT, &values.number,
        "A number (default 7, 0 = none)", "N"},
    {"big", 0, 0, G_OPTION_ARG_INT64, &values.big, "A big number", "N"},
    {"ratio", 0, 0, G_OPTION_ARG_DOUBLE, &values.ratio, "A ratio", "R"},
    {"list", 0, 0, G_OPTION_ARG_STRING_ARRAY, &values.list,
        "Several strings", "ITEM"},
    {"files", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &values.files,
        "Several files", "FILE"},
    {"flag", 'f', 0, G_OPTION_ARG_NONE, &values.flag, "A flag", NULL},
    {"no-upload", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE,
        &values.upload, "A reversed flag", NULL},
    {"hook", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) on_callback,
        "A callback", "VALUE"},
    {"switch", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
        (gpointer) on_switch, "A callback without argument", NULL},
    {"make", 0, 0, G_OPTION_ARG_STRING, &values.make, "Not a key", "X"},
    {NULL}
  };

  return entries;
}

static const gchar *const cli_only[] = { "make", NULL };

static gchar *tmpdir;

static void
values_clear (void)
{
  g_free (values.string);
  g_free (values.filename);
  g_strfreev (values.list);
  g_strfreev (values.files);
  g_free (values.callback_value);
  g_free (values.make);
  memset (&values, 0, sizeof values);
  values.upload = TRUE;
}

static void
config_setup (void)
{
  values_clear ();
  tmpdir = g_dir_make_tmp ("tracker-config-XXXXXX", NULL);
  fail_unless (tmpdir != NULL);
}

static void
config_teardown (void)
{
  g_autoptr (GDir) dir = g_dir_open (tmpdir, 0, NULL);
  const gchar *name;

  while ((name = g_dir_read_name (dir))) {
    g_autofree gchar *path = g_build_filename (tmpdir, name, NULL);
    g_unlink (path);
  }
  g_rmdir (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
  values_clear ();
}

static gchar *
write_file (const gchar * name, const gchar * text)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);

  fail_unless (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* Parses @args (NULL-terminated, without argv[0]) with the test table. */
static MeshTrackerOptions *
parse (const gchar * const *args, GError ** error)
{
  MeshTrackerOptions *options = mesh_tracker_options_new ("tracker",
      test_entries (), cli_only, &values);
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_auto (GStrv) argv = NULL;
  GStrvBuilder *builder = g_strv_builder_new ();

  g_strv_builder_add (builder, "test");
  if (args)
    g_strv_builder_addv (builder, (const gchar **) args);
  argv = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);

  g_option_context_set_main_group (context,
      mesh_tracker_options_get_group (options));
  g_option_context_set_help_enabled (context, FALSE);
  if (!g_option_context_parse_strv (context, &argv, error)) {
    mesh_tracker_options_free (options);
    return NULL;
  }
  return options;
}

static MeshTrackerOptions *
parse_ok (const gchar * const *args)
{
  g_autoptr (GError) error = NULL;
  MeshTrackerOptions *options = parse (args, &error);

  fail_unless (options != NULL, "%s", error ? error->message : "?");
  return options;
}

static void
load_ok (MeshTrackerOptions * options, const gchar * path)
{
  g_autoptr (GError) error = NULL;

  fail_unless (mesh_tracker_options_load (options, path, TRUE, &error),
      "%s", error ? error->message : "?");
}

/* Loads @text and checks the error names @file_part and @key_part. */
static void
expect_load_error (const gchar * text, const gchar * key_part)
{
  g_autoptr (MeshTrackerOptions) options = parse_ok (NULL);
  g_autofree gchar *path = write_file ("bad.conf", text);
  g_autoptr (GError) error = NULL;

  fail_if (mesh_tracker_options_load (options, path, FALSE, &error),
      "accepted: %s", text);
  fail_unless (strstr (error->message, path) != NULL, "%s", error->message);
  fail_unless (strstr (error->message, key_part) != NULL, "%s", error->message);
}

static const gchar full_config[] =
    "# every key\n"
    "[tracker]\n"
    "string=hello world\n"
    "filename=/etc/a b\n"
    "number=-42\n"
    "big=9007199254740993\n"
    "ratio=0.25\n"
    "list=one;two\\;half;three\n"
    "files=/a;/b\n"
    "flag=true\n" "no-upload=true\n" "hook=hooked\n" "switch=true\n";

static void
expect_full_values (void)
{
  const gchar *list[] = { "one", "two;half", "three", NULL };
  const gchar *files[] = { "/a", "/b", NULL };

  fail_unless_equals_string (values.string, "hello world");
  fail_unless_equals_string (values.filename, "/etc/a b");
  fail_unless_equals_int (values.number, -42);
  fail_unless (values.big == G_GINT64_CONSTANT (9007199254740993));
  fail_unless (values.ratio == 0.25);
  fail_unless (g_strv_equal ((const gchar * const *) values.list, list));
  fail_unless (g_strv_equal ((const gchar * const *) values.files, files));
  fail_unless (values.flag);
  fail_if (values.upload);
  fail_unless_equals_string (values.callback_value, "hooked");
  fail_unless (values.switched);
}

/* Every entry of the table (but the command-line only one) is a key: set
 * from a file, printed as a key file that sets it all again. */
GST_START_TEST (test_every_option_is_a_key)
{
  g_autoptr (MeshTrackerOptions) options = parse_ok (NULL);
  g_autoptr (MeshTrackerOptions) again = NULL;
  g_autofree gchar *path = write_file ("full.conf", full_config);
  g_autofree gchar *printed = NULL;
  g_autofree gchar *printed_again = NULL;
  g_autofree gchar *path_again = NULL;
  const GOptionEntry *entry;

  load_ok (options, path);
  expect_full_values ();
  for (entry = test_entries (); entry->long_name; entry++)
    fail_unless (mesh_tracker_options_is_set (options, entry->long_name) ==
        !g_str_equal (entry->long_name, "make"), "%s", entry->long_name);

  printed = mesh_tracker_options_to_data (options, "# header\n");
  fail_unless (g_str_has_prefix (printed, "# header\n[tracker]\n"));
  fail_if (strstr (printed, "make=") != NULL, "%s", printed);
  for (entry = test_entries (); entry->long_name; entry++) {
    g_autofree gchar *line = g_strdup_printf ("\n%s=", entry->long_name);

    if (!g_str_equal (entry->long_name, "make"))
      fail_unless (strstr (printed, line) != NULL, "%s not in %s",
          entry->long_name, printed);
  }

  /* and back */
  values_clear ();
  again = parse_ok (NULL);
  path_again = write_file ("printed.conf", printed);
  load_ok (again, path_again);
  expect_full_values ();
  printed_again = mesh_tracker_options_to_data (again, "# header\n");
  fail_unless_equals_string (printed_again, printed);
}

GST_END_TEST;

/* Nothing set: every key commented, with the default its description
 * names, else the placeholder, and loading that sets nothing. */
GST_START_TEST (test_defaults_commented)
{
  g_autoptr (MeshTrackerOptions) options = parse_ok (NULL);
  g_autoptr (MeshTrackerOptions) again = NULL;
  g_autofree gchar *printed = mesh_tracker_options_to_data (options, NULL);
  g_autofree gchar *path = write_file ("sample.conf", printed);
  const GOptionEntry *entry;

  fail_unless (strstr (printed, "\n# A string (default abc)\n#string=abc\n"),
      "%s", printed);
  fail_unless (strstr (printed, "\n#number=7\n"), "%s", printed);
  fail_unless (strstr (printed, "\n#filename=FILE\n"), "%s", printed);
  fail_unless (strstr (printed, "\n#flag=false\n"), "%s", printed);
  again = parse_ok (NULL);
  load_ok (again, path);
  for (entry = test_entries (); entry->long_name; entry++)
    fail_if (mesh_tracker_options_is_set (again, entry->long_name));
  fail_unless (values.string == NULL && values.number == 0);
}

GST_END_TEST;

GST_START_TEST (test_command_line_overrides)
{
  const gchar *args[] = { "--number", "5", "--list", "x", "-s", "cli",
    "--list=y", "--hook", "from-cli", "--make", "m", NULL
  };
  const gchar *list[] = { "x", "y", NULL };
  g_autoptr (MeshTrackerOptions) options = parse_ok (args);
  g_autofree gchar *path = write_file ("full.conf", full_config);

  load_ok (options, path);
  fail_unless_equals_int (values.number, 5);
  fail_unless_equals_string (values.string, "cli");
  fail_unless (g_strv_equal ((const gchar * const *) values.list, list));
  fail_unless_equals_string (values.callback_value, "from-cli");
  fail_unless_equals_int (values.callback_calls, 1);
  fail_unless_equals_string (values.make, "m");
  /* what the command line did not give comes from the file */
  fail_unless_equals_string (values.filename, "/etc/a b");
  fail_unless (values.flag);
  fail_if (values.upload);
}

GST_END_TEST;

GST_START_TEST (test_command_line_types)
{
  const gchar *args[] = { "-n", "12", "--big=-3", "--ratio", "1.5", "-f",
    "--no-upload", "--switch", "--files", "/x", NULL
  };
  const gchar *bad_int[] = { "--number", "12x", NULL };
  const gchar *bad_double[] = { "--ratio", "much", NULL };
  const gchar *refused[] = { "--hook", "refuse", NULL };
  g_autoptr (MeshTrackerOptions) options = parse_ok (args);
  g_autoptr (GError) error = NULL;

  fail_unless_equals_int (values.number, 12);
  fail_unless (values.big == -3);
  fail_unless (values.ratio == 1.5);
  fail_unless (values.flag && !values.upload && values.switched);
  fail_unless_equals_string (values.files[0], "/x");

  fail_if (parse (bad_int, &error));
  fail_unless (strstr (error->message, "--number") != NULL);
  g_clear_error (&error);
  fail_if (parse (bad_double, &error));
  fail_unless (strstr (error->message, "--ratio") != NULL);
  g_clear_error (&error);
  fail_if (parse (refused, &error));
  fail_unless (strstr (error->message, "refused") != NULL);
}

GST_END_TEST;

GST_START_TEST (test_file_errors)
{
  g_autoptr (MeshTrackerOptions) options = parse_ok (NULL);
  g_autofree gchar *missing = g_build_filename (tmpdir, "none.conf", NULL);
  g_autoptr (GError) error = NULL;

  expect_load_error ("[tracker]\nnumbr=3\n", "'numbr'");
  expect_load_error ("[tracker]\nmake=3\n", "'make'");
  expect_load_error ("[tracker]\nnumber=3\n[other]\n", "[other]");
  expect_load_error ("[tracker]\nnumber=three\n", "'number'");
  expect_load_error ("[tracker]\nnumber=99999999999\n", "'number'");
  expect_load_error ("[tracker]\nratio=1.5x\n", "'ratio'");
  expect_load_error ("[tracker]\nflag=yes please\n", "'flag'");
  expect_load_error ("[tracker]\nhook=refuse\n", "'hook'");
  expect_load_error ("not a key file\n", "bad.conf");

  /* missing: fine for the default file, an error for an explicit one */
  fail_unless (mesh_tracker_options_load (options, missing, FALSE, NULL));
  fail_if (mesh_tracker_options_load (options, missing, TRUE, &error));
  fail_unless (strstr (error->message, missing) != NULL);
}

GST_END_TEST;

/* A false flag key leaves the flag as it was; an empty list empties. */
GST_START_TEST (test_false_flags_and_empty_lists)
{
  g_autoptr (MeshTrackerOptions) options = parse_ok (NULL);
  g_autofree gchar *path = write_file ("f.conf",
      "[tracker]\nflag=false\nno-upload=false\nswitch=false\nlist=\n");

  load_ok (options, path);
  fail_if (values.flag);
  fail_unless (values.upload);
  fail_if (values.switched);
  fail_unless (values.list == NULL);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Event lines                                                              */

static gchar *
line_of (MeshTrackerLogFormat format, const gchar * swarm, const gchar * peer)
{
  const gchar *fields[] = { "swarm", swarm, "peer", peer, "addr", NULL };

  return mesh_tracker_log_format_line (format, "join", fields, 3);
}

GST_START_TEST (test_log_text)
{
  g_autofree gchar *plain = line_of (MESH_TRACKER_LOG_TEXT, "ch1", "a1");
  g_autofree gchar *spaced = line_of (MESH_TRACKER_LOG_TEXT, "a b", "");
  g_autofree gchar *forged = line_of (MESH_TRACKER_LOG_TEXT,
      "x\" peer=evil\nevent=ban", "p\\q=r");
  g_autofree gchar *controls = line_of (MESH_TRACKER_LOG_TEXT,
      "\x1b[31mred\x7f\xc2\x85", "caf\xc3\xa9");
  g_autofree gchar *invalid = line_of (MESH_TRACKER_LOG_TEXT, "a\xff\xfe",
      "\xe2\x82");

  fail_unless_equals_string (plain, "event=join swarm=ch1 peer=a1");
  fail_unless_equals_string (spaced, "event=join swarm=\"a b\" peer=\"\"");
  fail_unless_equals_string (forged,
      "event=join swarm=\"x\\\" peer=evil\\x0aevent=ban\" peer=\"p\\\\q=r\"");
  fail_unless_equals_string (controls,
      "event=join swarm=\"\\x1b[31mred\\x7f\\u{0085}\" peer=café");
  fail_unless_equals_string (invalid,
      "event=join swarm=\"a\\xff\\xfe\" peer=\"\\xe2\\x82\"");
}

GST_END_TEST;

GST_START_TEST (test_log_json)
{
  g_autofree gchar *line = line_of (MESH_TRACKER_LOG_JSON,
      "x\"\n\x01\xff", "caf\xc3\xa9");
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *object;

  fail_unless_equals_string (line, "{\"event\":\"join\",\"swarm\":"
      "\"x\\\"\\u000a\\u0001\\ufffd\",\"peer\":\"café\"}");
  fail_unless (json_parser_load_from_data (parser, line, -1, NULL));
  object = json_node_get_object (json_parser_get_root (parser));
  fail_unless_equals_string (json_object_get_string_member (object, "swarm"),
      "x\"\n\x01\xef\xbf\xbd");
  fail_unless_equals_int (json_object_get_size (object), 3);
}

GST_END_TEST;

/* A value is cut at MESH_TRACKER_LOG_MAX_VALUE bytes, on a character
 * boundary, escapes included, and marked. */
GST_START_TEST (test_log_bounded)
{
  g_autofree gchar *huge = g_strnfill (100000, 'a');
  g_autofree gchar *controls = g_strnfill (1000, '\n');
  GString *accents = g_string_new (NULL);
  g_autofree gchar *line = NULL;
  g_autofree gchar *escaped = NULL;
  g_autofree gchar *accented = NULL;
  guint i;

  for (i = 0; i < 1000; i++)
    g_string_append (accents, "\xc3\xa9");

  line = line_of (MESH_TRACKER_LOG_TEXT, huge, "p");
  fail_unless_equals_int (strlen (line), strlen ("event=join swarm=") +
      MESH_TRACKER_LOG_MAX_VALUE + 3 + strlen (" peer=p"));
  fail_unless (strstr (line, "aaa... peer=p") != NULL);

  escaped = line_of (MESH_TRACKER_LOG_TEXT, controls, "p");
  fail_unless (strlen (escaped) < MESH_TRACKER_LOG_MAX_VALUE + 40);
  fail_if (strchr (escaped, '\n'));

  accented = line_of (MESH_TRACKER_LOG_JSON, accents->str, "p");
  fail_unless (g_utf8_validate (accented, -1, NULL));
  fail_unless (strlen (accented) < MESH_TRACKER_LOG_MAX_VALUE + 64);
  fail_unless (strstr (accented, "\xc3\xa9...\"") != NULL);
  g_string_free (accents, TRUE);
}

GST_END_TEST;

GST_START_TEST (test_log_format_names)
{
  MeshTrackerLogFormat format;

  fail_unless (mesh_tracker_log_parse_format ("json", &format));
  fail_unless_equals_int (format, MESH_TRACKER_LOG_JSON);
  fail_unless (mesh_tracker_log_parse_format ("text", &format));
  fail_unless_equals_int (format, MESH_TRACKER_LOG_TEXT);
  fail_if (mesh_tracker_log_parse_format ("xml", &format));
  fail_if (mesh_tracker_log_parse_format (NULL, &format));
}

GST_END_TEST;

static Suite *
tracker_config_suite (void)
{
  Suite *s = suite_create ("tracker-config");
  TCase *tc = tcase_create ("config");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, config_setup, config_teardown);
  tcase_add_test (tc, test_every_option_is_a_key);
  tcase_add_test (tc, test_defaults_commented);
  tcase_add_test (tc, test_command_line_overrides);
  tcase_add_test (tc, test_command_line_types);
  tcase_add_test (tc, test_file_errors);
  tcase_add_test (tc, test_false_flags_and_empty_lists);

  tc = tcase_create ("log");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_log_text);
  tcase_add_test (tc, test_log_json);
  tcase_add_test (tc, test_log_bounded);
  tcase_add_test (tc, test_log_format_names);
  return s;
}

GST_CHECK_MAIN (tracker_config);
