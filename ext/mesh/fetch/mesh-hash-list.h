/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The segment digest list a content provider publishes next to its manifest
 * (`mesh-hashes.json`, docs/hash-list.md): the SHA-256 of every media file,
 * and of byte ranges of files that streams address by range. The elements
 * check the segments that came from peers against it.
 *
 * GLib and json-glib only. Pure: bytes in, list out; no I/O, no clock, no
 * global state. A MeshHashList never changes once parsed, so it may be
 * shared between threads (references are atomic) and looked up from any
 * of them without a lock.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MESH_HASH_LIST_FILE_NAME "mesh-hashes.json"
#define MESH_HASH_LIST_VERSION 1
#define MESH_HASH_LIST_ALGORITHM "sha-256"
#define MESH_HASH_LIST_DIGEST_SIZE 32

/* Bounds on what the parser takes, so that a hostile or broken document
 * costs bounded memory and time. An entry (a file or a range) takes some
 * 90 to 130 bytes as the tool writes it, so a list at the entry cap is
 * 25 to 35 MB: a two-hour presentation in 2 s segments is 3,600 entries a
 * rendition. */
#define MESH_HASH_LIST_MAX_BYTES (32 * 1024 * 1024)
/* Files plus ranges, all files together. */
#define MESH_HASH_LIST_MAX_ENTRIES 250000
/* A path (a key of "files"), in bytes. */
#define MESH_HASH_LIST_MAX_PATH 4096

#define MESH_HASH_LIST_ERROR (mesh_hash_list_error_quark ())
GQuark mesh_hash_list_error_quark (void);

typedef enum {
  /* not JSON, or not the shape docs/hash-list.md describes */
  MESH_HASH_LIST_ERROR_MALFORMED,
  /* a "version" or "algorithm" this code does not know */
  MESH_HASH_LIST_ERROR_UNSUPPORTED,
  /* over MESH_HASH_LIST_MAX_BYTES, MESH_HASH_LIST_MAX_ENTRIES or the
   * nesting and value counts they imply */
  MESH_HASH_LIST_ERROR_TOO_LARGE,
} MeshHashListError;

typedef struct _MeshHashList MeshHashList;

/* Parses a whole document; NULL and @error (MESH_HASH_LIST_ERROR, a message
 * that names the offending path) on anything it does not accept. */
MeshHashList *mesh_hash_list_parse (GBytes * json, GError ** error);

MeshHashList *mesh_hash_list_ref (MeshHashList * list);
void mesh_hash_list_unref (MeshHashList * list);

/* The SHA-256 of bytes @offset .. @offset + @length - 1 of @path (a key as
 * in the document: relative, '/'-separated); @length -1 means the whole
 * file, and then @offset must be 0. TRUE and @digest filled when the list
 * has that digest: the file's for the whole file (or @offset 0 and @length
 * its size), else a range entry with exactly @offset and @length. A range
 * that only overlaps entries is not found: a caller verifies what was
 * listed, as it was listed. */
gboolean mesh_hash_list_lookup (const MeshHashList * list,
    const gchar * path, gint64 offset, gint64 length,
    guint8 digest[MESH_HASH_LIST_DIGEST_SIZE]);

/* The size the list gives for @path, when it lists @path. */
gboolean mesh_hash_list_get_file_size (const MeshHashList * list,
    const gchar * path, gint64 * size);

guint mesh_hash_list_get_n_files (const MeshHashList * list);

/* Whether @path may be a key: not empty, at most MESH_HASH_LIST_MAX_PATH
 * bytes of UTF-8, '/'-separated components none of which is empty, "." or
 * "..", no control characters. */
gboolean mesh_hash_list_is_valid_path (const gchar * path);

/* The key under which a list fetched from @list_uri lists the resource at
 * @uri (both absolute): @uri's path relative to the list's directory,
 * percent-decoded, query and fragment ignored; NULL when @uri is on another
 * origin, outside that directory, or decodes to no valid path. Newly
 * allocated. */
gchar *mesh_hash_list_path_for_uri (const gchar * list_uri,
    const gchar * uri);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshHashList, mesh_hash_list_unref);

G_END_DECLS
