/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mesh-hash-scan.h. Owned by one thread; blocking disk I/O only.
 */
#include "mesh-hash-scan.h"

#include "fetch/mesh-hash-list.h"
#include "hls/mesh-hls-playlist.h"
#include "dash/mesh-dash-mpd.h"
#include "dash/mesh-dash-segments.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper directories are not walked: a packager's tree is a few levels. */
#define MAX_WALK_DEPTH 32
/* Manifests and sidx indexes larger than this are not read for ranges. */
#define MAX_MANIFEST_BYTES (16 * 1024 * 1024)
#define MAX_INDEX_BYTES (16 * 1024 * 1024)
#define READ_CHUNK (256 * 1024)

/* What the walk saw of a media file. */
typedef struct
{
  gint64 size;
  gint64 mtime_ns;
} FileStat;

/* What the scan knows of a media file between updates. */
typedef struct
{
  FileStat seen;                /* at the last update */
  MeshHashEntry *entry;         /* NULL while not listed */
} FileRecord;

struct _MeshHashScan
{
  gchar *dir;                   /* absolute */
  gchar *list_uri;              /* file:// URI of DIR/mesh-hashes.json */
  GHashTable *files;            /* key -> FileRecord */
  GPtrArray *warnings;          /* gchar*, of the last update */
};

/* ------------------------------------------------------------------------ */
/* Entries and JSON                                                         */

MeshHashEntry *
mesh_hash_entry_new (const gchar * path, gint64 size, const guint8 digest[32])
{
  MeshHashEntry *entry = g_new0 (MeshHashEntry, 1);

  entry->path = g_strdup (path);
  entry->size = size;
  memcpy (entry->digest, digest, 32);
  entry->ranges = g_array_new (FALSE, FALSE, sizeof (MeshHashRange));
  return entry;
}

void
mesh_hash_entry_free (MeshHashEntry * entry)
{
  if (!entry)
    return;
  g_free (entry->path);
  g_array_unref (entry->ranges);
  g_free (entry);
}

static void
file_record_free (FileRecord * record)
{
  mesh_hash_entry_free (record->entry);
  g_free (record);
}

static gchar *
digest_to_hex (const guint8 digest[32])
{
  static const gchar hex[] = "0123456789abcdef";
  gchar *out = g_malloc (65);
  guint i;

  for (i = 0; i < 32; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 0xf];
  }
  out[64] = '\0';
  return out;
}

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  const MeshHashEntry *x = *(MeshHashEntry * const *) a;
  const MeshHashEntry *y = *(MeshHashEntry * const *) b;

  return strcmp (x->path, y->path);
}

static void
add_digest_member (JsonBuilder * builder, const guint8 digest[32])
{
  g_autofree gchar *hex = digest_to_hex (digest);

  json_builder_set_member_name (builder, "sha256");
  json_builder_add_string_value (builder, hex);
}

static void
add_entry (JsonBuilder * builder, const MeshHashEntry * entry)
{
  guint i;

  json_builder_set_member_name (builder, entry->path);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, entry->size);
  add_digest_member (builder, entry->digest);
  if (entry->ranges->len > 0) {
    json_builder_set_member_name (builder, "ranges");
    json_builder_begin_array (builder);
    for (i = 0; i < entry->ranges->len; i++) {
      const MeshHashRange *range = &g_array_index (entry->ranges,
          MeshHashRange, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "offset");
      json_builder_add_int_value (builder, range->offset);
      json_builder_set_member_name (builder, "length");
      json_builder_add_int_value (builder, range->length);
      add_digest_member (builder, range->digest);
      json_builder_end_object (builder);
    }
    json_builder_end_array (builder);
  }
  json_builder_end_object (builder);
}

gchar *
mesh_hash_entries_to_json (GPtrArray * entries, gsize * length)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) sorted = g_ptr_array_copy (entries, NULL, NULL);
  GString *text;
  guint i;

  g_ptr_array_sort (sorted, compare_entries);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, MESH_HASH_LIST_VERSION);
  json_builder_set_member_name (builder, "algorithm");
  json_builder_add_string_value (builder, MESH_HASH_LIST_ALGORITHM);
  json_builder_set_member_name (builder, "files");
  json_builder_begin_object (builder);
  for (i = 0; i < sorted->len; i++)
    add_entry (builder, g_ptr_array_index (sorted, i));
  json_builder_end_object (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = g_string_new (NULL);
  json_generator_to_gstring (generator, text);
  g_string_append_c (text, '\n');
  if (length)
    *length = text->len;
  return g_string_free (text, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Hashing                                                                  */

void
mesh_hash_compute (GBytes * data, guint8 digest[32])
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize size;
  const guint8 *bytes = g_bytes_get_data (data, &size);
  gsize digest_length = 32;

  g_checksum_update (checksum, bytes, size);
  g_checksum_get_digest (checksum, digest, &digest_length);
}

/* Hashes @length bytes of @fd from @offset (-1: to the end); FALSE if the
 * file ends first or cannot be read. */
static gboolean
hash_fd (int fd, gint64 offset, gint64 length, guint8 digest[32],
    gint64 * hashed, GError ** error)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (READ_CHUNK);
  gint64 done = 0;
  gsize digest_length = 32;

  while (length < 0 || done < length) {
    gsize want = length < 0 ? READ_CHUNK : MIN (READ_CHUNK, length - done);
    gssize got = pread (fd, buffer, want, offset + done);

    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
          "%s", g_strerror (errno));
      return FALSE;
    }
    if (got == 0) {
      if (length < 0)
        break;
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "shorter than its ranges: changed while read");
      return FALSE;
    }
    g_checksum_update (checksum, buffer, got);
    done += got;
  }
  g_checksum_get_digest (checksum, digest, &digest_length);
  if (hashed)
    *hashed = done;
  return TRUE;
}

static void
stat_to_file_stat (const GStatBuf * buf, FileStat * out)
{
  out->size = buf->st_size;
  out->mtime_ns = (gint64) buf->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000)
      + buf->st_mtim.tv_nsec;
}

static gboolean
same_stat (const FileStat * a, const FileStat * b)
{
  return a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Hashes the file @key as it was @seen, with the ranges @wanted (pairs of
 * offset and length, sorted, within @seen's size). NULL with @error if it
 * cannot be read or was not @seen any more once read: a file that changes
 * under the reader gets no digest. */
static MeshHashEntry *
hash_file (MeshHashScan * scan, const gchar * key, const FileStat * seen,
    GArray * wanted, GError ** error)
{
  g_autofree gchar *filename = g_build_filename (scan->dir, key, NULL);
  MeshHashEntry *entry;
  guint8 digest[32];
  GStatBuf after;
  FileStat now;
  gint64 hashed = 0;
  guint i;
  int fd;

  fd = g_open (filename, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "%s", g_strerror (errno));
    return NULL;
  }
  if (!hash_fd (fd, 0, -1, digest, &hashed, error)) {
    close (fd);
    return NULL;
  }
  entry = mesh_hash_entry_new (key, hashed, digest);
  for (i = 0; i < wanted->len; i++) {
    MeshHashRange range = { 0, };

    range.offset = g_array_index (wanted, MeshHashRange, i).offset;
    range.length = g_array_index (wanted, MeshHashRange, i).length;
    if (!hash_fd (fd, range.offset, range.length, range.digest, NULL, error))
      goto failed;
    g_array_append_val (entry->ranges, range);
  }
  if (fstat (fd, &after) < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "%s", g_strerror (errno));
    goto failed;
  }
  stat_to_file_stat (&after, &now);
  if (!same_stat (&now, seen) || hashed != seen->size) {
    g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_AGAIN,
        "changed while read");
    goto failed;
  }
  close (fd);
  return entry;

failed:
  close (fd);
  mesh_hash_entry_free (entry);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Walking                                                                  */

gboolean
mesh_hash_scan_is_media_name (const gchar * name)
{
  static const gchar *const not_media[] = {
    ".m3u8", ".mpd", ".json", ".tmp", ".part",
  };
  guint i;

  if (!name || name[0] == '\0' || name[0] == '.')
    return FALSE;
  for (i = 0; i < G_N_ELEMENTS (not_media); i++) {
    if (g_str_has_suffix (name, not_media[i]))
      return FALSE;
  }
  return TRUE;
}

static gboolean
is_manifest_name (const gchar * name)
{
  return name[0] != '.' && (g_str_has_suffix (name, ".m3u8")
      || g_str_has_suffix (name, ".mpd"));
}

static void
warn (MeshHashScan * scan, const gchar * format, ...)
G_GNUC_PRINTF (2, 3);

     static void warn (MeshHashScan * scan, const gchar * format, ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (scan->warnings, g_strdup_vprintf (format, args));
  va_end (args);
}

typedef struct
{
  GHashTable *media;            /* key -> FileStat */
  GPtrArray *manifests;         /* absolute file names */
  guint skipped;
} Walk;

/* Walks @abs (relative path @rel, "" at the top). */
static gboolean
walk_dir (MeshHashScan * scan, Walk * walk, const gchar * abs,
    const gchar * rel, guint depth, GError ** error)
{
  g_autoptr (GError) local = NULL;
  const gchar *name;
  GDir *dir;

  dir = g_dir_open (abs, 0, depth == 0 ? error : &local);
  if (!dir) {
    if (depth == 0)
      return FALSE;
    warn (scan, "%s: %s", rel, local->message);
    walk->skipped++;
    return TRUE;
  }
  while ((name = g_dir_read_name (dir))) {
    g_autofree gchar *child = g_build_filename (abs, name, NULL);
    g_autofree gchar *key = *rel ? g_strconcat (rel, "/", name, NULL) :
        g_strdup (name);
    GStatBuf buf;

    if (g_lstat (child, &buf) < 0)
      continue;                 /* gone since the listing */
    if (S_ISDIR (buf.st_mode)) {
      if (name[0] == '.')
        continue;
      if (depth + 1 >= MAX_WALK_DEPTH) {
        warn (scan, "%s: more than %u directories deep, not walked", key,
            MAX_WALK_DEPTH);
        walk->skipped++;
        continue;
      }
      walk_dir (scan, walk, child, key, depth + 1, NULL);
      continue;
    }
    if (S_ISLNK (buf.st_mode) && (g_stat (child, &buf) < 0
            || !S_ISREG (buf.st_mode)))
      continue;
    if (!S_ISREG (buf.st_mode))
      continue;
    if (is_manifest_name (name)) {
      g_ptr_array_add (walk->manifests, g_steal_pointer (&child));
    } else if (mesh_hash_scan_is_media_name (name)) {
      FileStat *stat;

      if (!mesh_hash_list_is_valid_path (key)) {
        warn (scan, "%s: not a name the list can hold (UTF-8, no control "
            "characters, at most %u bytes)", key, MESH_HASH_LIST_MAX_PATH);
        walk->skipped++;
        continue;
      }
      stat = g_new (FileStat, 1);
      stat_to_file_stat (&buf, stat);
      g_hash_table_insert (walk->media, g_steal_pointer (&key), stat);
    }
  }
  g_dir_close (dir);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Ranges, from the manifests                                               */

typedef struct
{
  MeshHashScan *scan;
  GHashTable *ranges;           /* key -> GArray of MeshHashRange (no
                                 * digests yet) */
} RangeFinder;

static void
add_range (RangeFinder * finder, const gchar * uri, gint64 offset,
    gint64 length)
{
  g_autofree gchar *key = NULL;
  MeshHashRange range = { 0, };
  GArray *ranges;

  if (!uri || offset < 0 || length <= 0)
    return;
  /* a resource elsewhere (another server, outside DIR) is not ours */
  if (!(key = mesh_hash_list_path_for_uri (finder->scan->list_uri, uri)))
    return;
  if (!(ranges = g_hash_table_lookup (finder->ranges, key))) {
    ranges = g_array_new (FALSE, FALSE, sizeof (MeshHashRange));
    g_hash_table_insert (finder->ranges, g_strdup (key), ranges);
  }
  range.offset = offset;
  range.length = length;
  g_array_append_val (ranges, range);
}

static void
find_hls_ranges (RangeFinder * finder, const gchar * text, gsize size,
    const gchar * uri, const gchar * name)
{
  g_autoptr (GError) error = NULL;
  MeshHlsMediaPlaylist *playlist;
  guint i;

  if (mesh_hls_playlist_kind (text, size) != MESH_HLS_KIND_MEDIA)
    return;
  playlist = mesh_hls_media_playlist_parse (text, size, uri, &error);
  if (!playlist) {
    warn (finder->scan, "%s: no ranges read: %s", name, error->message);
    return;
  }
  for (i = 0; i < playlist->segments->len; i++) {
    const MeshHlsSegment *seg = g_ptr_array_index (playlist->segments, i);

    if (seg->size >= 0)
      add_range (finder, seg->uri, seg->offset, seg->size);
  }
  for (i = 0; i < playlist->maps->len; i++) {
    const MeshHlsMap *map = g_ptr_array_index (playlist->maps, i);

    if (map->size >= 0)
      add_range (finder, map->uri, map->offset, map->size);
  }
  mesh_hls_media_playlist_free (playlist);
}

/* Reads bytes @offset .. @offset + @size - 1 of the file under DIR that
 * @uri names; NULL if it is not one or cannot be read whole. */
static GBytes *
read_local_range (MeshHashScan * scan, const gchar * uri, gint64 offset,
    gint64 size)
{
  g_autofree gchar *key = mesh_hash_list_path_for_uri (scan->list_uri, uri);
  g_autofree gchar *filename = NULL;
  g_autofree guint8 *data = NULL;
  gssize got;
  int fd;

  if (!key || offset < 0 || size <= 0 || size > MAX_INDEX_BYTES)
    return NULL;
  filename = g_build_filename (scan->dir, key, NULL);
  if ((fd = g_open (filename, O_RDONLY | O_CLOEXEC, 0)) < 0)
    return NULL;
  data = g_malloc (size);
  got = pread (fd, data, size, offset);
  close (fd);
  if (got != size)
    return NULL;
  return g_bytes_new_take (g_steal_pointer (&data), size);
}

/* SegmentBase: the index range itself and the subsegments its sidx lists. */
static void
find_index_ranges (RangeFinder * finder, const MeshDashRepresentation * rep,
    GstClockTime period_duration, GArray * segments, const gchar * name)
{
  const MeshDashSegmentInfo *info = &rep->segments;
  g_autoptr (GBytes) data = NULL;
  g_autoptr (MeshIsobmffIndex) index = NULL;
  g_autoptr (GError) error = NULL;

  if (info->index_offset < 0 || !rep->base_url)
    return;
  add_range (finder, rep->base_url, info->index_offset, info->index_size);
  data = read_local_range (finder->scan, rep->base_url, info->index_offset,
      info->index_size);
  if (!data)
    return;
  index = mesh_dash_parse_index (g_bytes_get_data (data, NULL),
      g_bytes_get_size (data), info->index_offset, &error);
  if (!index || !mesh_dash_representation_index_segments (rep, index,
          period_duration, segments, &error))
    warn (finder->scan, "%s: Representation %s: no subsegment ranges: %s",
        name, rep->id ? rep->id : "(no id)", error->message);
}

static void
find_representation_ranges (RangeFinder * finder,
    const MeshDashRepresentation * rep, GstClockTime period_duration,
    const gchar * name)
{
  g_autoptr (GArray) segments = g_array_new (FALSE, TRUE,
      sizeof (MeshDashSegment));
  g_autofree gchar *init_url = NULL;
  g_autoptr (GError) error = NULL;
  gint64 offset, size;
  guint i;

  g_array_set_clear_func (segments, (GDestroyNotify) mesh_dash_segment_clear);
  if (mesh_dash_representation_get_init (rep, &init_url, &offset, &size,
          NULL) && offset >= 0)
    add_range (finder, init_url, offset, size);

  switch (rep->segments.kind) {
    case MESH_DASH_SEGMENTS_LIST:
      /* templates name whole files; lists may give mediaRange */
      if (!mesh_dash_representation_list_segments (rep, period_duration, 0,
              GST_CLOCK_TIME_NONE, segments, &error))
        warn (finder->scan, "%s: Representation %s: no segment ranges: %s",
            name, rep->id ? rep->id : "(no id)", error->message);
      break;
    case MESH_DASH_SEGMENTS_BASE:
      find_index_ranges (finder, rep, period_duration, segments, name);
      break;
    default:
      break;
  }
  for (i = 0; i < segments->len; i++) {
    const MeshDashSegment *seg = &g_array_index (segments, MeshDashSegment, i);

    if (seg->offset >= 0)
      add_range (finder, seg->url, seg->offset, seg->size);
  }
}

static void
find_dash_ranges (RangeFinder * finder, const gchar * text, gsize size,
    const gchar * uri, const gchar * name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MeshDashMpd) mpd = mesh_dash_mpd_parse (text, size, uri, &error);
  guint p, s, r;

  if (!mpd) {
    warn (finder->scan, "%s: no ranges read: %s", name, error->message);
    return;
  }
  for (p = 0; p < mpd->periods->len; p++) {
    const MeshDashPeriod *period = g_ptr_array_index (mpd->periods, p);

    for (s = 0; s < period->adaptation_sets->len; s++) {
      const MeshDashAdaptationSet *set =
          g_ptr_array_index (period->adaptation_sets, s);

      for (r = 0; r < set->representations->len; r++)
        find_representation_ranges (finder,
            g_ptr_array_index (set->representations, r), period->duration,
            name);
    }
  }
}

static void
find_manifest_ranges (RangeFinder * finder, const gchar * filename)
{
  g_autofree gchar *text = NULL;
  g_autofree gchar *uri = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *name = filename + strlen (finder->scan->dir) + 1;
  gsize size;
  GStatBuf buf;

  if (g_stat (filename, &buf) < 0 || buf.st_size > MAX_MANIFEST_BYTES) {
    warn (finder->scan, "%s: not read for ranges (larger than %u bytes)",
        name, MAX_MANIFEST_BYTES);
    return;
  }
  if (!g_file_get_contents (filename, &text, &size, &error)) {
    warn (finder->scan, "%s: %s", name, error->message);
    return;
  }
  if (!(uri = g_filename_to_uri (filename, NULL, NULL)))
    return;
  if (g_str_has_suffix (filename, ".m3u8"))
    find_hls_ranges (finder, text, size, uri, name);
  else
    find_dash_ranges (finder, text, size, uri, name);
}

static gint
compare_ranges (gconstpointer a, gconstpointer b)
{
  const MeshHashRange *x = a, *y = b;

  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  if (x->length != y->length)
    return x->length < y->length ? -1 : 1;
  return 0;
}

/* The ranges @key's file of @size needs: sorted, each once, none that is
 * the whole file (its own digest says that) or ends past it. */
static GArray *
ranges_for (MeshHashScan * scan, GHashTable * found, const gchar * key,
    gint64 size)
{
  GArray *found_ranges = g_hash_table_lookup (found, key);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (MeshHashRange));
  guint i;

  if (!found_ranges)
    return out;
  g_array_sort (found_ranges, compare_ranges);
  for (i = 0; i < found_ranges->len; i++) {
    MeshHashRange *range = &g_array_index (found_ranges, MeshHashRange, i);

    if (range->offset == 0 && range->length == size)
      continue;
    if (range->offset > size || range->length > size - range->offset) {
      warn (scan, "%s: range %" G_GINT64_FORMAT " + %" G_GINT64_FORMAT
          " ends past its %" G_GINT64_FORMAT " bytes, not listed", key,
          range->offset, range->length, size);
      continue;
    }
    if (out->len > 0 && compare_ranges (range, &g_array_index (out,
                MeshHashRange, out->len - 1)) == 0)
      continue;
    g_array_append_val (out, *range);
  }
  return out;
}

static gboolean
same_ranges (GArray * listed, GArray * wanted)
{
  guint i;

  if (listed->len != wanted->len)
    return FALSE;
  for (i = 0; i < listed->len; i++) {
    if (compare_ranges (&g_array_index (listed, MeshHashRange, i),
            &g_array_index (wanted, MeshHashRange, i)) != 0)
      return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Updates                                                                  */

MeshHashScan *
mesh_hash_scan_new (const gchar * dir)
{
  MeshHashScan *scan = g_new0 (MeshHashScan, 1);
  g_autofree gchar *list = NULL;

  scan->dir = g_canonicalize_filename (dir, NULL);
  list = g_build_filename (scan->dir, MESH_HASH_LIST_FILE_NAME, NULL);
  scan->list_uri = g_filename_to_uri (list, NULL, NULL);
  scan->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) file_record_free);
  scan->warnings = g_ptr_array_new_with_free_func (g_free);
  return scan;
}

void
mesh_hash_scan_free (MeshHashScan * scan)
{
  if (!scan)
    return;
  g_free (scan->dir);
  g_free (scan->list_uri);
  g_hash_table_unref (scan->files);
  g_ptr_array_unref (scan->warnings);
  g_free (scan);
}

GPtrArray *
mesh_hash_scan_get_warnings (MeshHashScan * scan)
{
  return scan->warnings;
}

/* Lists (or keeps listing) @key as @seen with @wanted ranges: hashes it
 * when it is new, changed, settled or needs other ranges. */
static void
update_file (MeshHashScan * scan, const gchar * key, const FileStat * seen,
    GArray * wanted, MeshHashScanFlags flags, MeshHashScanStats * stats)
{
  FileRecord *record = g_hash_table_lookup (scan->files, key);
  g_autoptr (GError) error = NULL;
  gboolean was_listed, unchanged;
  MeshHashEntry *entry;

  if (!record) {
    record = g_new0 (FileRecord, 1);
    record->seen.size = -1;
    g_hash_table_insert (scan->files, g_strdup (key), record);
  }
  was_listed = record->entry != NULL;
  unchanged = same_stat (&record->seen, seen);
  record->seen = *seen;
  if (was_listed && unchanged && same_ranges (record->entry->ranges, wanted))
    return;

  g_clear_pointer (&record->entry, mesh_hash_entry_free);
  if ((flags & MESH_HASH_SCAN_SETTLE) && !unchanged) {
    stats->pending++;
  } else if (!(entry = hash_file (scan, key, seen, wanted, &error))) {
    stats->hashed++;
    if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_AGAIN)
        && (flags & MESH_HASH_SCAN_SETTLE)) {
      /* the packager is still at it: next update */
      record->seen.size = -1;
      stats->pending++;
    } else {
      warn (scan, "%s: %s", key, error->message);
      stats->skipped++;
    }
  } else {
    stats->hashed++;
    record->entry = entry;
  }
  if (was_listed || record->entry)
    stats->changed = TRUE;
  if (!was_listed && record->entry)
    stats->added++;
  else if (was_listed && !record->entry)
    stats->removed++;
}

gboolean
mesh_hash_scan_update (MeshHashScan * scan, MeshHashScanFlags flags,
    MeshHashScanStats * stats_out, GError ** error)
{
  g_autoptr (GHashTable) media = g_hash_table_new_full (g_str_hash,
      g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) found = g_hash_table_new_full (g_str_hash,
      g_str_equal, g_free, (GDestroyNotify) g_array_unref);
  g_autoptr (GPtrArray) manifests = g_ptr_array_new_with_free_func (g_free);
  MeshHashScanStats stats = { 0, };
  RangeFinder finder = { scan, found };
  Walk walk = { media, manifests, 0 };
  GHashTableIter iter;
  gpointer key, value;
  guint i;

  g_ptr_array_set_size (scan->warnings, 0);
  if (!walk_dir (scan, &walk, scan->dir, "", 0, error))
    return FALSE;
  stats.skipped = walk.skipped;
  for (i = 0; i < manifests->len; i++)
    find_manifest_ranges (&finder, g_ptr_array_index (manifests, i));

  /* files that left */
  g_hash_table_iter_init (&iter, scan->files);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    FileRecord *record = value;

    if (g_hash_table_contains (media, key))
      continue;
    if (record->entry) {
      stats.removed++;
      stats.changed = TRUE;
    }
    g_hash_table_iter_remove (&iter);
  }

  g_hash_table_iter_init (&iter, media);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    const FileStat *seen = value;
    g_autoptr (GArray) wanted = ranges_for (scan, found, key, seen->size);

    update_file (scan, key, seen, wanted, flags, &stats);
  }

  g_hash_table_iter_init (&iter, scan->files);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    FileRecord *record = value;

    if (record->entry) {
      stats.files++;
      stats.ranges += record->entry->ranges->len;
    }
  }
  if (stats_out)
    *stats_out = stats;
  return TRUE;
}

GPtrArray *
mesh_hash_scan_get_entries (MeshHashScan * scan)
{
  GPtrArray *entries = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, scan->files);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    FileRecord *record = value;

    if (record->entry)
      g_ptr_array_add (entries, record->entry);
  }
  return entries;
}

gchar *
mesh_hash_scan_to_json (MeshHashScan * scan, gsize * length)
{
  g_autoptr (GPtrArray) entries = mesh_hash_scan_get_entries (scan);

  return mesh_hash_entries_to_json (entries, length);
}

static gboolean
write_all (int fd, const gchar * data, gsize length, GError ** error)
{
  while (length > 0) {
    gssize written = write (fd, data, length);

    if (written < 0 && errno == EINTR)
      continue;
    if (written < 0) {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
          "%s", g_strerror (errno));
      return FALSE;
    }
    data += written;
    length -= written;
  }
  return TRUE;
}

gboolean
mesh_hash_scan_write (MeshHashScan * scan, GError ** error)
{
  g_autofree gchar *target = g_build_filename (scan->dir,
      MESH_HASH_LIST_FILE_NAME, NULL);
  g_autofree gchar *temp = g_build_filename (scan->dir,
      "." MESH_HASH_LIST_FILE_NAME ".XXXXXX", NULL);
  g_autofree gchar *text = NULL;
  gsize length;
  int fd;

  text = mesh_hash_scan_to_json (scan, &length);
  fd = g_mkstemp_full (temp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "cannot create a temporary file in %s: %s", scan->dir,
        g_strerror (errno));
    return FALSE;
  }
  /* mkstemp's mode is 0600 whatever it is asked: a list is public */
  if (fchmod (fd, 0644) < 0 || !write_all (fd, text, length, error)
      || fsync (fd) < 0) {
    if (error && !*error)
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
          "%s: %s", temp, g_strerror (errno));
    close (fd);
    g_unlink (temp);
    return FALSE;
  }
  close (fd);
  if (g_rename (temp, target) < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "cannot rename %s to %s: %s", temp, target, g_strerror (errno));
    g_unlink (temp);
    return FALSE;
  }
  return TRUE;
}
