/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-hash-list.h and docs/hash-list.md. Pure: no I/O, no globals. A
 * list is built once by mesh_hash_list_parse() and never written again, so
 * its lookups take no lock.
 */
#include "mesh-hash-list.h"

#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

/* The document nests five levels (root, files, a file, its ranges, a
 * range); unknown members may add a few. json-glib parses recursively, so
 * the depth is checked before it runs. */
#define MAX_DEPTH 16
/* JSON values the parser may build, counted before it runs: json-glib
 * builds the whole tree first, about 100 bytes a value, and a dense
 * document ("[0,0,0,...") has a value every two bytes. A file or a range
 * as the tool writes it counts four here; six leaves room for members that
 * later versions add. */
#define MAX_VALUES (6 * MESH_HASH_LIST_MAX_ENTRIES + 64)

G_DEFINE_QUARK (mesh_hash_list_error_quark, mesh_hash_list_error);

typedef struct
{
  gint64 offset;
  gint64 length;
  guint8 digest[MESH_HASH_LIST_DIGEST_SIZE];
} HashRange;

typedef struct
{
  gint64 size;
  guint8 digest[MESH_HASH_LIST_DIGEST_SIZE];
  /* sorted by offset, then length; no two alike */
  HashRange *ranges;
  guint n_ranges;
} HashFile;

struct _MeshHashList
{
  gatomicrefcount refcount;
  /* path (owned) -> HashFile (owned) */
  GHashTable *files;
};

static void
hash_file_free (HashFile * file)
{
  g_free (file->ranges);
  g_free (file);
}

static MeshHashList *
hash_list_new (void)
{
  MeshHashList *list = g_new0 (MeshHashList, 1);

  g_atomic_ref_count_init (&list->refcount);
  list->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) hash_file_free);
  return list;
}

MeshHashList *
mesh_hash_list_ref (MeshHashList * list)
{
  g_return_val_if_fail (list != NULL, NULL);
  g_atomic_ref_count_inc (&list->refcount);
  return list;
}

void
mesh_hash_list_unref (MeshHashList * list)
{
  g_return_if_fail (list != NULL);
  if (!g_atomic_ref_count_dec (&list->refcount))
    return;
  g_hash_table_unref (list->files);
  g_free (list);
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */

gboolean
mesh_hash_list_is_valid_path (const gchar * path)
{
  const gchar *component, *end;
  gsize length, i;

  if (!path)
    return FALSE;
  length = strlen (path);
  if (length == 0 || length > MESH_HASH_LIST_MAX_PATH
      || !g_utf8_validate (path, length, NULL))
    return FALSE;
  for (i = 0; i < length; i++) {
    if ((guchar) path[i] < 0x20 || path[i] == 0x7f)
      return FALSE;
  }
  /* empty components catch a leading, trailing or doubled '/' */
  for (component = path;; component = end + 1) {
    gsize n;

    end = strchr (component, '/');
    n = end ? (gsize) (end - component) : strlen (component);
    if (n == 0 || (n == 1 && component[0] == '.')
        || (n == 2 && component[0] == '.' && component[1] == '.'))
      return FALSE;
    if (!end)
      return TRUE;
  }
}

/* @uri's path percent-decoded; NULL if it encodes a '/' or a NUL, which
 * name no file the tool lists. */
static gchar *
decoded_path (GUri * uri)
{
  return g_uri_unescape_string (g_uri_get_path (uri), "/");
}

static gboolean
same_origin (GUri * a, GUri * b)
{
  const gchar *host_a = g_uri_get_host (a), *host_b = g_uri_get_host (b);

  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0
      && host_a && host_b && g_ascii_strcasecmp (host_a, host_b) == 0
      && g_uri_get_port (a) == g_uri_get_port (b);
}

gchar *
mesh_hash_list_path_for_uri (const gchar * list_uri, const gchar * uri)
{
  const GUriFlags flags = G_URI_FLAGS_ENCODED | G_URI_FLAGS_SCHEME_NORMALIZE;
  g_autoptr (GUri) base = NULL, target = NULL;
  g_autofree gchar *base_path = NULL, *target_path = NULL;
  const gchar *slash;
  gsize dir_length;

  g_return_val_if_fail (list_uri != NULL && uri != NULL, NULL);
  if (!(base = g_uri_parse (list_uri, flags, NULL))
      || !(target = g_uri_parse (uri, flags, NULL)) || !same_origin (base,
          target))
    return NULL;
  if (!(base_path = decoded_path (base)) || !(target_path = decoded_path
          (target)) || !(slash = strrchr (base_path, '/')))
    return NULL;
  dir_length = slash - base_path + 1;
  if (strncmp (base_path, target_path, dir_length) != 0
      || !mesh_hash_list_is_valid_path (target_path + dir_length))
    return NULL;
  return g_strdup (target_path + dir_length);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */

static gboolean
fail (GError ** error, MeshHashListError code, const gchar * format, ...)
G_GNUC_PRINTF (3, 4);

     static gboolean
         fail (GError ** error, MeshHashListError code, const gchar * format,
    ...)
{
  va_list args;

  if (!error)
    return FALSE;
  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (MESH_HASH_LIST_ERROR, code,
          format, args));
  va_end (args);
  return FALSE;
}

/* What the parser would choke on or let through, checked before it runs:
 * NUL bytes, nesting deeper than MAX_DEPTH, more than MAX_VALUES values,
 * anything after the top-level value (json-glib ignores it). Brackets and
 * commas inside strings do not count; what else is not JSON, the parser
 * finds. */
static gboolean
prescan (const gchar * text, gsize size, GError ** error)
{
  gboolean in_string = FALSE, closed = FALSE;
  guint depth = 0;
  guint64 values = 1;
  gsize i;

  for (i = 0; i < size; i++) {
    gchar c = text[i];

    if (c == '\0')
      return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
          "malformed JSON: NUL byte at offset %" G_GSIZE_FORMAT, i);
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (closed && !g_ascii_isspace (c)) {
      return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
          "malformed JSON: more than one value");
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{' || c == ',') {
      if (c != ',' && ++depth > MAX_DEPTH)
        return fail (error, MESH_HASH_LIST_ERROR_TOO_LARGE,
            "malformed JSON: nested more than %u levels deep", MAX_DEPTH);
      if (++values > MAX_VALUES)
        return fail (error, MESH_HASH_LIST_ERROR_TOO_LARGE,
            "more than %u JSON values", MAX_VALUES);
    } else if ((c == ']' || c == '}') && depth > 0) {
      closed = --depth == 0;
    }
  }
  return TRUE;
}

static gboolean
is_integer (JsonNode * node)
{
  return node && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_INT64;
}

static const gchar *
get_string (JsonObject * object, const gchar * name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (!node || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The integer member @name of @object into @value, if it is an integer of
 * at least @min. */
static gboolean
get_integer (JsonObject * object, const gchar * name, gint64 min,
    gint64 * value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (!is_integer (node) || json_node_get_int (node) < min)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

static gint
hex_value (gchar c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* 64 lowercase hex digits: one spelling per digest, so that lists compare
 * as text too. */
static gboolean
parse_digest (const gchar * hex, guint8 digest[MESH_HASH_LIST_DIGEST_SIZE])
{
  guint i;

  if (!hex || strlen (hex) != 2 * MESH_HASH_LIST_DIGEST_SIZE)
    return FALSE;
  for (i = 0; i < MESH_HASH_LIST_DIGEST_SIZE; i++) {
    gint high = hex_value (hex[2 * i]), low = hex_value (hex[2 * i + 1]);

    if (high < 0 || low < 0)
      return FALSE;
    digest[i] = high << 4 | low;
  }
  return TRUE;
}

static gint
compare_ranges (gconstpointer a, gconstpointer b)
{
  const HashRange *x = a, *y = b;

  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  if (x->length != y->length)
    return x->length < y->length ? -1 : 1;
  return 0;
}

static gboolean
parse_range (JsonNode * node, const gchar * path, guint index,
    gint64 file_size, HashRange * range, GError ** error)
{
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"%.200s\": range %u is not an object", path, index);
  object = json_node_get_object (node);
  if (!get_integer (object, "offset", 0, &range->offset)
      || !get_integer (object, "length", 1, &range->length))
    return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"%.200s\": range %u needs an integer \"offset\" >= 0 and "
        "\"length\" >= 1", path, index);
  /* written so that it cannot overflow: both are at most G_MAXINT64 */
  if (range->offset > file_size || range->length > file_size - range->offset)
    return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"%.200s\": range %u (%" G_GINT64_FORMAT " + %" G_GINT64_FORMAT
        ") ends past the file's size %" G_GINT64_FORMAT, path, index,
        range->offset, range->length, file_size);
  if (!parse_digest (get_string (object, "sha256"), range->digest))
    return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"%.200s\": range %u needs \"sha256\": 64 lowercase hex digits",
        path, index);
  return TRUE;
}

/* "ranges" is optional; when there, an array of ranges inside the file,
 * each (offset, length) once. */
static gboolean
parse_ranges (JsonObject * object, const gchar * path, HashFile * file,
    guint * n_entries, GError ** error)
{
  JsonNode *node = json_object_get_member (object, "ranges");
  JsonArray *array;
  guint i, n;

  if (!node)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"%.200s\": \"ranges\" is not an array", path);
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if (n > MESH_HASH_LIST_MAX_ENTRIES - *n_entries)
    return fail (error, MESH_HASH_LIST_ERROR_TOO_LARGE,
        "more than %u files and ranges", MESH_HASH_LIST_MAX_ENTRIES);
  *n_entries += n;
  file->ranges = g_new0 (HashRange, n);
  file->n_ranges = n;
  for (i = 0; i < n; i++) {
    if (!parse_range (json_array_get_element (array, i), path, i, file->size,
            &file->ranges[i], error))
      return FALSE;
  }
  if (n > 1)
    qsort (file->ranges, n, sizeof (HashRange), compare_ranges);
  for (i = 1; i < n; i++) {
    if (compare_ranges (&file->ranges[i - 1], &file->ranges[i]) == 0)
      return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
          "\"%.200s\": range %" G_GINT64_FORMAT " + %" G_GINT64_FORMAT
          " listed twice", path, file->ranges[i].offset,
          file->ranges[i].length);
  }
  return TRUE;
}

static HashFile *
parse_file (const gchar * path, JsonNode * node, guint * n_entries,
    GError ** error)
{
  g_autoptr (GError) local = NULL;
  JsonObject *object;
  HashFile *file;

  if (!mesh_hash_list_is_valid_path (path)) {
    fail (error, MESH_HASH_LIST_ERROR_MALFORMED, "\"%.200s\" is not a "
        "relative path of '/'-separated names (no empty, \".\" or \"..\" "
        "names, no control characters)", path);
    return NULL;
  }
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    fail (error, MESH_HASH_LIST_ERROR_MALFORMED, "\"%.200s\": not an object",
        path);
    return NULL;
  }
  object = json_node_get_object (node);
  file = g_new0 (HashFile, 1);
  if (!get_integer (object, "size", 0, &file->size))
    fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"%.200s\": \"size\" must be an integer >= 0", path);
  else if (!parse_digest (get_string (object, "sha256"), file->digest))
    fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"%.200s\": \"sha256\" must be 64 lowercase hex digits", path);
  else if (parse_ranges (object, path, file, n_entries, error))
    return file;
  hash_file_free (file);
  return NULL;
}

static gboolean
parse_files (MeshHashList * list, JsonNode * node, GError ** error)
{
  JsonObjectIter iter;
  const gchar *path;
  JsonNode *member;
  guint n_entries = 0;

  if (!node || !JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"files\" must be an object");
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &path, &member)) {
    HashFile *file;

    if (++n_entries > MESH_HASH_LIST_MAX_ENTRIES)
      return fail (error, MESH_HASH_LIST_ERROR_TOO_LARGE,
          "more than %u files and ranges", MESH_HASH_LIST_MAX_ENTRIES);
    if (!(file = parse_file (path, member, &n_entries, error)))
      return FALSE;
    g_hash_table_insert (list->files, g_strdup (path), file);
  }
  return TRUE;
}

/* Version and algorithm first, so that a list of a later format is refused
 * as such, whatever else it holds. */
static gboolean
parse_root (MeshHashList * list, JsonNode * root, GError ** error)
{
  JsonObject *object;
  JsonNode *version;
  const gchar *algorithm;

  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "a hash list must be a JSON object");
  object = json_node_get_object (root);
  version = json_object_get_member (object, "version");
  if (!is_integer (version))
    return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"version\" must be an integer");
  if (json_node_get_int (version) != MESH_HASH_LIST_VERSION)
    return fail (error, MESH_HASH_LIST_ERROR_UNSUPPORTED,
        "version %" G_GINT64_FORMAT " is not supported (this reads %d)",
        json_node_get_int (version), MESH_HASH_LIST_VERSION);
  if (!(algorithm = get_string (object, "algorithm")))
    return fail (error, MESH_HASH_LIST_ERROR_MALFORMED,
        "\"algorithm\" must be a string");
  if (!g_str_equal (algorithm, MESH_HASH_LIST_ALGORITHM))
    return fail (error, MESH_HASH_LIST_ERROR_UNSUPPORTED,
        "algorithm \"%.64s\" is not supported (this reads \"%s\")",
        algorithm, MESH_HASH_LIST_ALGORITHM);
  return parse_files (list, json_object_get_member (object, "files"), error);
}

MeshHashList *
mesh_hash_list_parse (GBytes * json, GError ** error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) parse_error = NULL;
  MeshHashList *list;
  const gchar *text;
  gsize size;

  g_return_val_if_fail (json != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  text = g_bytes_get_data (json, &size);
  if (size > MESH_HASH_LIST_MAX_BYTES) {
    fail (error, MESH_HASH_LIST_ERROR_TOO_LARGE, "%" G_GSIZE_FORMAT
        " bytes, more than the %u a hash list may have", size,
        MESH_HASH_LIST_MAX_BYTES);
    return NULL;
  }
  if (!prescan (text, size, error))
    return NULL;
  parser = json_parser_new_immutable ();
  /* json-glib reads an empty buffer as a document without a root */
  if (!json_parser_load_from_data (parser, size ? text : "", size,
          &parse_error)) {
    fail (error, MESH_HASH_LIST_ERROR_MALFORMED, "malformed JSON: %s",
        parse_error->message);
    return NULL;
  }
  list = hash_list_new ();
  if (!parse_root (list, json_parser_get_root (parser), error)) {
    mesh_hash_list_unref (list);
    return NULL;
  }
  return list;
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                  */

gboolean
mesh_hash_list_lookup (const MeshHashList * list, const gchar * path,
    gint64 offset, gint64 length, guint8 digest[MESH_HASH_LIST_DIGEST_SIZE])
{
  const HashFile *file;
  const HashRange *range;
  HashRange key;

  g_return_val_if_fail (list != NULL && path != NULL && digest != NULL, FALSE);

  if (!(file = g_hash_table_lookup (list->files, path)) || offset < 0
      || (length == -1 && offset != 0) || (length < 0 && length != -1))
    return FALSE;
  if (length == -1 || (offset == 0 && length == file->size)) {
    memcpy (digest, file->digest, MESH_HASH_LIST_DIGEST_SIZE);
    return TRUE;
  }
  key.offset = offset;
  key.length = length;
  range = file->n_ranges ? bsearch (&key, file->ranges, file->n_ranges,
      sizeof (HashRange), compare_ranges) : NULL;
  if (!range)
    return FALSE;
  memcpy (digest, range->digest, MESH_HASH_LIST_DIGEST_SIZE);
  return TRUE;
}

gboolean
mesh_hash_list_get_file_size (const MeshHashList * list, const gchar * path,
    gint64 * size)
{
  const HashFile *file;

  g_return_val_if_fail (list != NULL && path != NULL, FALSE);

  if (!(file = g_hash_table_lookup (list->files, path)))
    return FALSE;
  if (size)
    *size = file->size;
  return TRUE;
}

guint
mesh_hash_list_get_n_files (const MeshHashList * list)
{
  g_return_val_if_fail (list != NULL, 0);
  return g_hash_table_size (list->files);
}
