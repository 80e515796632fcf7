/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * HLS playlist parser (RFC 8216).
 *
 * Threading: none of its own. Every function works on the caller's data only
 * and may be called from any thread; the one piece of global state is the
 * debug category, initialised once under g_once_init_enter().
 *
 * Policy for input that RFC 8216 leaves to the client, or that real servers
 * get wrong:
 *  - Text that cannot be read (bad number, unterminated quote, a required
 *    attribute missing) is MESH_HLS_ERROR_SYNTAX; readable but inconsistent
 *    text (negative duration, URI line without EXTINF, no segments, a byte
 *    range that cannot continue a previous one) is MESH_HLS_ERROR_INVALID.
 *  - A media playlist without EXT-X-TARGETDURATION is accepted: the target
 *    duration becomes the longest EXTINF rounded up to whole seconds.
 *  - EXT-X-KEY with a KEYFORMAT other than "identity" is skipped, since those
 *    keys are for DRM systems we do not implement. Servers often list an
 *    identity key next to them; only when a segment follows a run of key tags
 *    that were all skipped is the playlist MESH_HLS_ERROR_UNSUPPORTED, because
 *    that segment could not be decrypted.
 *  - Blank lines, CR LF endings, a UTF-8 BOM, surrounding whitespace,
 *    comments and unknown tags are tolerated. Tags between EXT-X-STREAM-INF
 *    and its URI line are tolerated too, except another EXT-X-STREAM-INF.
 *  - Limits keep the arithmetic in range whatever the input: lines of at most
 *    64 KiB, at most 100000 segments, EXTINF of at most one day, byte
 *    offsets and sequence numbers that cannot overflow gint64.
 *  - Limits keep what a playlist makes us allocate bounded, since it comes
 *    from a server we may not trust: playlists of at most MAX_PLAYLIST_SIZE
 *    bytes, MAX_VARIANTS variants, MAX_RENDITIONS renditions, MAX_KEYS keys
 *    and MAX_MAPS maps, and MAX_URI_BYTES of resolved URIs in all. URIs
 *    resolve against the playlist's own URI, which can be long (a master
 *    playlist or a redirect chose it): 20000 segments "s.ts" under a 32 KiB
 *    URI would otherwise cost 640 MB. An exceeded limit is
 *    MESH_HLS_ERROR_INVALID with the line.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-hls-playlist.h"
#include "../mesh-uri.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (mesh_hls_playlist_debug);
#define GST_CAT_DEFAULT mesh_hls_playlist_debug

#define MAX_LINE_LENGTH (64 * 1024)
#define MAX_SEGMENTS 100000
/* Real master playlists have tens of variants and renditions */
#define MAX_VARIANTS 1000
#define MAX_RENDITIONS 1000
/* A key or a map per segment at most is what a playlist can use */
#define MAX_KEYS MAX_SEGMENTS
#define MAX_MAPS MAX_SEGMENTS
/* As the fetcher's limit on manifests */
#define MAX_PLAYLIST_SIZE (16 * 1024 * 1024)
/* 100000 segments of URIs of 300 bytes fit */
#define MAX_URI_BYTES (32 * 1024 * 1024)
/* With MAX_SEGMENTS, the sum of all durations stays far below G_MAXUINT64 ns */
#define MAX_SEGMENT_DURATION_S 86400
#define MAX_TARGET_DURATION_S 86400
/* Leaves room to add a segment index to a sequence number without overflow */
#define MAX_SEQUENCE (G_MAXINT64 - MAX_SEGMENTS - 1)

G_DEFINE_QUARK (mesh_hls_error_quark, mesh_hls_error);

static void
ensure_debug_category (void)
{
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised)) {
    GST_DEBUG_CATEGORY_INIT (mesh_hls_playlist_debug, "meshhlsplaylist", 0,
        "HLS playlist parser");
    g_once_init_leave (&initialised, 1);
  }
}

/* *INDENT-OFF* */
static void set_line_error (GError ** error, MeshHlsError code, guint lineno,
    const gchar * format, ...) G_GNUC_PRINTF (4, 5);
/* *INDENT-ON* */

static void
set_line_error (GError ** error, MeshHlsError code, guint lineno,
    const gchar * format, ...)
{
  va_list args;
  gchar *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  GST_DEBUG ("line %u: %s", lineno, message);
  g_set_error (error, MESH_HLS_ERROR, code, "line %u: %s", lineno, message);
  g_free (message);
}

/* ------------------------------------------------------------------------ */
/* Lines */

typedef struct
{
  const gchar *pos;
  const gchar *end;
  guint lineno;                 /* of the line last returned */
} LineReader;

static void
line_reader_init (LineReader * reader, const gchar * text, gsize len)
{
  if (text == NULL) {
    text = "";
    len = 0;
  }
  reader->pos = text;
  reader->end = text + len;
  reader->lineno = 0;

  if (len >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0)
    reader->pos += 3;
}

/* Returns the next line, stripped of surrounding whitespace, in @line (to be
 * freed); FALSE at the end of the text or on error (then @error is set). */
static gboolean
line_reader_next (LineReader * reader, gchar ** line, GError ** error)
{
  const gchar *start, *p;
  gsize len;

  *line = NULL;
  if (reader->pos >= reader->end)
    return FALSE;

  reader->lineno++;
  start = p = reader->pos;
  while (p < reader->end && *p != '\n' && *p != '\r')
    p++;
  len = p - start;

  /* CR LF, lone LF and lone CR all end a line */
  if (p < reader->end && *p == '\r')
    p++;
  if (p < reader->end && *p == '\n')
    p++;
  reader->pos = p;

  if (len > MAX_LINE_LENGTH) {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX,
        reader->lineno, "line longer than %u bytes", MAX_LINE_LENGTH);
    return FALSE;
  }
  if (memchr (start, '\0', len) != NULL) {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, reader->lineno,
        "contains a NUL byte");
    return FALSE;
  }

  *line = g_strstrip (g_strndup (start, len));
  return TRUE;
}

/* Splits "#EXT-X-FOO:value" into its name and value (NULL without ':').
 * Returns FALSE for lines that are not tags (URIs, comments, blank). */
static gboolean
split_tag (gchar * line, const gchar ** name, const gchar ** value)
{
  gchar *colon;

  if (!g_str_has_prefix (line, "#EXT"))
    return FALSE;

  *name = line + 1;
  colon = strchr (line, ':');
  if (colon) {
    *colon = '\0';
    *value = g_strstrip (colon + 1);
  } else {
    *value = NULL;
  }
  return TRUE;
}

static gboolean
is_uri_line (const gchar * line)
{
  return line[0] != '\0' && line[0] != '#';
}

/* Reads the first line, which must be #EXTM3U (blank lines before it are
 * tolerated). */
static gboolean
read_header (LineReader * reader, GError ** error)
{
  GError *local_error = NULL;
  gchar *line = NULL;
  gboolean ok;

  do {
    g_free (line);
    if (!line_reader_next (reader, &line, &local_error)) {
      if (local_error)
        g_propagate_error (error, local_error);
      else
        set_line_error (error, MESH_HLS_ERROR_NOT_M3U8, MAX (reader->lineno,
                1), "empty playlist, expected #EXTM3U");
      return FALSE;
    }
  } while (line[0] == '\0');

  ok = strcmp (line, "#EXTM3U") == 0;
  if (!ok)
    set_line_error (error, MESH_HLS_ERROR_NOT_M3U8, reader->lineno,
        "expected #EXTM3U");
  g_free (line);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Values */

/* Decimal integer of digits only, at most @max. */
static gboolean
parse_uint64 (const gchar * s, guint64 max, guint64 * out)
{
  guint64 value = 0;

  if (s == NULL || *s == '\0')
    return FALSE;

  for (; *s; s++) {
    guint digit;

    if (!g_ascii_isdigit (*s))
      return FALSE;
    digit = *s - '0';
    if (digit > max || value > (max - digit) / 10)
      return FALSE;
    value = value * 10 + digit;
  }

  *out = value;
  return TRUE;
}

/* Decimal floating point as RFC 8216 writes it (digits, optionally a point
 * and more digits), with an optional leading '-' so that the caller can
 * report negative values for what they are. Rejects "nan", "inf", exponents
 * and hex floats that g_ascii_strtod() would accept. */
static gboolean
parse_decimal (const gchar * s, gdouble * out)
{
  const gchar *p = s;
  gboolean digits = FALSE, point = FALSE;
  gchar *end;

  if (s == NULL)
    return FALSE;
  if (*p == '-')
    p++;
  for (; *p; p++) {
    if (g_ascii_isdigit (*p))
      digits = TRUE;
    else if (*p == '.' && !point)
      point = TRUE;
    else
      return FALSE;
  }
  if (!digits)
    return FALSE;

  *out = g_ascii_strtod (s, &end);
  return *end == '\0';
}

static gint
hex_value (gchar c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* "0x" and up to 32 hex digits, a 128-bit big-endian integer. */
static gboolean
parse_iv (const gchar * s, guint8 iv[16])
{
  gsize ndigits, i;

  if (s == NULL || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
    return FALSE;
  s += 2;
  ndigits = strlen (s);
  if (ndigits == 0 || ndigits > 32)
    return FALSE;

  memset (iv, 0, 16);
  /* Fill from the least significant nibble so that short values are
   * right-aligned like the integer they are. */
  for (i = 0; i < ndigits; i++) {
    gint v = hex_value (s[ndigits - 1 - i]);
    gsize byte = 15 - i / 2;

    if (v < 0)
      return FALSE;
    iv[byte] |= (i % 2) ? (v << 4) : v;
  }
  return TRUE;
}

/* "n[@o]"; *offset is -1 without "@o". */
static gboolean
parse_byterange (const gchar * s, gint64 * size, gint64 * offset)
{
  g_autofree gchar *copy = NULL;
  gchar *at;
  guint64 n, o = 0;

  if (s == NULL)
    return FALSE;
  copy = g_strdup (s);
  at = strchr (copy, '@');
  if (at)
    *at = '\0';

  if (!parse_uint64 (copy, G_MAXINT64, &n) || n == 0)
    return FALSE;
  if (at && !parse_uint64 (at + 1, G_MAXINT64 - n, &o))
    return FALSE;

  *size = n;
  *offset = at ? (gint64) o : -1;
  return TRUE;
}

static GstClockTime
seconds_to_clock_time (gdouble seconds)
{
  return (GstClockTime) (seconds * GST_SECOND + 0.5);
}

/* Counts @bytes of URIs against MAX_URI_BYTES (*@total: the playlist's) */
static gboolean
charge_uri_bytes (gsize * total, gsize bytes, guint lineno, GError ** error)
{
  *total += bytes;
  if (*total <= MAX_URI_BYTES)
    return TRUE;
  set_line_error (error, MESH_HLS_ERROR_INVALID, lineno, "the playlist's "
      "URIs take more than %u MiB once resolved", MAX_URI_BYTES >> 20);
  return FALSE;
}

static gchar *
resolve_uri (const gchar * base, const gchar * reference, guint lineno,
    gsize * uri_bytes, GError ** error)
{
  GError *uri_error = NULL;
  gchar *resolved;

  resolved = mesh_uri_resolve (base, reference, &uri_error);
  if (resolved == NULL) {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
        "cannot resolve URI '%s': %s", reference, uri_error->message);
    g_error_free (uri_error);
  } else if (!charge_uri_bytes (uri_bytes, strlen (resolved) + 1, lineno,
          error)) {
    g_clear_pointer (&resolved, g_free);
  } else {
    /* g_uri_to_string() hands over a GString's buffer, with up to as much
     * again of spare room: that would double what the model holds */
    resolved = g_realloc (resolved, strlen (resolved) + 1);
  }
  return resolved;
}

/* FALSE with @error for a playlist longer than MAX_PLAYLIST_SIZE */
static gboolean
check_size (gsize len, GError ** error)
{
  if (len <= MAX_PLAYLIST_SIZE)
    return TRUE;
  set_line_error (error, MESH_HLS_ERROR_INVALID, 1, "the playlist is larger "
      "than %u MiB", MAX_PLAYLIST_SIZE >> 20);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Attribute lists (RFC 8216 4.2) */

typedef struct
{
  gchar *name;
  gchar *value;
  gboolean quoted;
} Attribute;

typedef struct
{
  GPtrArray *attributes;        /* Attribute* */
  const gchar *tag;
  guint lineno;
} AttributeList;

static void
attribute_free (gpointer data)
{
  Attribute *attr = data;

  g_free (attr->name);
  g_free (attr->value);
  g_free (attr);
}

static void
attribute_list_clear (AttributeList * list)
{
  g_clear_pointer (&list->attributes, g_ptr_array_unref);
}

static gboolean
is_attribute_name (const gchar * name)
{
  if (*name == '\0')
    return FALSE;
  for (; *name; name++) {
    if (!g_ascii_isupper (*name) && !g_ascii_isdigit (*name) && *name != '-')
      return FALSE;
  }
  return TRUE;
}

static const gchar *
skip_spaces (const gchar * p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static gboolean
attribute_list_parse (AttributeList * list, const gchar * tag,
    const gchar * text, guint lineno, GError ** error)
{
  const gchar *p = text ? text : "";

  list->attributes = g_ptr_array_new_with_free_func (attribute_free);
  list->tag = tag;
  list->lineno = lineno;

  while (*(p = skip_spaces (p)) != '\0') {
    const gchar *name_start = p, *value_start;
    Attribute *attr;

    while (*p && *p != '=' && *p != ',')
      p++;
    if (*p != '=') {
      set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
          "%s: attribute '%.*s' has no value", tag, (gint) (p - name_start),
          name_start);
      return FALSE;
    }

    attr = g_new0 (Attribute, 1);
    g_ptr_array_add (list->attributes, attr);
    attr->name = g_strstrip (g_strndup (name_start, p - name_start));
    if (!is_attribute_name (attr->name)) {
      set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
          "%s: invalid attribute name '%s'", tag, attr->name);
      return FALSE;
    }

    p = skip_spaces (p + 1);
    if (*p == '"') {
      const gchar *close = strchr (p + 1, '"');

      if (close == NULL) {
        set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
            "%s: unterminated quoted string in %s", tag, attr->name);
        return FALSE;
      }
      attr->value = g_strndup (p + 1, close - p - 1);
      attr->quoted = TRUE;
      p = skip_spaces (close + 1);
    } else {
      value_start = p;
      while (*p && *p != ',')
        p++;
      attr->value = g_strstrip (g_strndup (value_start, p - value_start));
      if (attr->value[0] == '\0') {
        set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
            "%s: attribute %s has an empty value", tag, attr->name);
        return FALSE;
      }
    }

    if (*p == ',') {
      p++;
    } else if (*p != '\0') {
      set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
          "%s: expected ',' after attribute %s", tag, attr->name);
      return FALSE;
    }
  }
  return TRUE;
}

/* The first attribute called @name (RFC 8216 forbids duplicates). */
static const Attribute *
attribute_list_find (const AttributeList * list, const gchar * name)
{
  guint i;

  for (i = 0; i < list->attributes->len; i++) {
    const Attribute *attr = g_ptr_array_index (list->attributes, i);

    if (strcmp (attr->name, name) == 0)
      return attr;
  }
  return NULL;
}

/* Any string value, quoted or not; NULL when absent. */
static const gchar *
attribute_list_get_string (const AttributeList * list, const gchar * name)
{
  const Attribute *attr = attribute_list_find (list, name);

  return attr ? attr->value : NULL;
}

static const gchar *
attribute_list_require_string (const AttributeList * list,
    const gchar * name, GError ** error)
{
  const gchar *value = attribute_list_get_string (list, name);

  if (value == NULL)
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, list->lineno,
        "%s without %s", list->tag, name);
  return value;
}

static void
report_bad_value (const AttributeList * list, const Attribute * attr,
    const gchar * expected, GError ** error)
{
  set_line_error (error, MESH_HLS_ERROR_SYNTAX, list->lineno,
      "%s: %s '%s' is not %s", list->tag, attr->name, attr->value, expected);
}

/* Leaves *out alone when the attribute is absent. */
static gboolean
attribute_list_get_uint64 (const AttributeList * list, const gchar * name,
    guint64 max, guint64 * out, GError ** error)
{
  const Attribute *attr = attribute_list_find (list, name);

  if (attr == NULL)
    return TRUE;
  if (attr->quoted || !parse_uint64 (attr->value, max, out)) {
    report_bad_value (list, attr, "a decimal integer in range", error);
    return FALSE;
  }
  return TRUE;
}

static gboolean
attribute_list_get_double (const AttributeList * list, const gchar * name,
    gdouble * out, GError ** error)
{
  const Attribute *attr = attribute_list_find (list, name);
  gdouble value;

  if (attr == NULL)
    return TRUE;
  if (attr->quoted || !parse_decimal (attr->value, &value) || value < 0) {
    report_bad_value (list, attr, "a non-negative decimal number", error);
    return FALSE;
  }
  *out = value;
  return TRUE;
}

static gboolean
attribute_list_get_resolution (const AttributeList * list,
    const gchar * name, gint * width, gint * height, GError ** error)
{
  const Attribute *attr = attribute_list_find (list, name);
  g_auto (GStrv) parts = NULL;
  guint64 w, h;

  if (attr == NULL)
    return TRUE;

  parts = g_strsplit_set (attr->value, "xX", 3);
  if (attr->quoted || g_strv_length (parts) != 2
      || !parse_uint64 (parts[0], G_MAXINT, &w)
      || !parse_uint64 (parts[1], G_MAXINT, &h)) {
    report_bad_value (list, attr, "a resolution WIDTHxHEIGHT", error);
    return FALSE;
  }
  *width = w;
  *height = h;
  return TRUE;
}

static gboolean
attribute_list_get_yes_no (const AttributeList * list, const gchar * name,
    gboolean * out, GError ** error)
{
  const Attribute *attr = attribute_list_find (list, name);

  if (attr == NULL)
    return TRUE;
  if (strcmp (attr->value, "YES") == 0) {
    *out = TRUE;
  } else if (strcmp (attr->value, "NO") == 0) {
    *out = FALSE;
  } else {
    report_bad_value (list, attr, "YES or NO", error);
    return FALSE;
  }
  return TRUE;
}

/* A group name that may also be the enumerated NONE (CLOSED-CAPTIONS). */
static gchar *
attribute_list_dup_group (const AttributeList * list, const gchar * name)
{
  const Attribute *attr = attribute_list_find (list, name);

  if (attr == NULL || (!attr->quoted && strcmp (attr->value, "NONE") == 0))
    return NULL;
  return g_strdup (attr->value);
}

/* ------------------------------------------------------------------------ */
/* Kind detection */

MeshHlsKind
mesh_hls_playlist_kind (const gchar * text, gsize len)
{
  LineReader reader;
  gchar *line;
  MeshHlsKind kind = MESH_HLS_KIND_INVALID;

  g_return_val_if_fail (text != NULL || len == 0, MESH_HLS_KIND_INVALID);

  ensure_debug_category ();
  line_reader_init (&reader, text, len);
  if (!read_header (&reader, NULL))
    return MESH_HLS_KIND_INVALID;

  while (line_reader_next (&reader, &line, NULL)) {
    const gchar *name, *value;

    if (split_tag (line, &name, &value)) {
      if (strcmp (name, "EXT-X-STREAM-INF") == 0) {
        g_free (line);
        return MESH_HLS_KIND_MASTER;
      }
      if (strcmp (name, "EXTINF") == 0
          || strcmp (name, "EXT-X-TARGETDURATION") == 0)
        kind = MESH_HLS_KIND_MEDIA;
    }
    g_free (line);
  }
  return kind;
}

/* ------------------------------------------------------------------------ */
/* Master playlists */

static void
variant_free (gpointer data)
{
  MeshHlsVariant *variant = data;

  g_free (variant->codecs);
  g_free (variant->audio_group);
  g_free (variant->video_group);
  g_free (variant->subtitles_group);
  g_free (variant->closed_captions_group);
  g_free (variant->uri);
  g_free (variant);
}

static void
rendition_free (gpointer data)
{
  MeshHlsRendition *rendition = data;

  g_free (rendition->group_id);
  g_free (rendition->name);
  g_free (rendition->language);
  g_free (rendition->uri);
  g_free (rendition);
}

static MeshHlsMasterPlaylist *
master_playlist_new (const gchar * uri)
{
  MeshHlsMasterPlaylist *master = g_new0 (MeshHlsMasterPlaylist, 1);

  master->uri = g_strdup (uri);
  master->variants = g_ptr_array_new_with_free_func (variant_free);
  master->renditions = g_ptr_array_new_with_free_func (rendition_free);
  return master;
}

void
mesh_hls_master_playlist_free (MeshHlsMasterPlaylist * master)
{
  if (master == NULL)
    return;

  g_free (master->uri);
  g_ptr_array_unref (master->variants);
  g_ptr_array_unref (master->renditions);
  g_free (master);
}

MeshHlsMasterPlaylist *
mesh_hls_master_playlist_new_single (const gchar * uri)
{
  MeshHlsMasterPlaylist *master;
  MeshHlsVariant *variant;

  g_return_val_if_fail (uri != NULL, NULL);

  master = master_playlist_new (uri);
  variant = g_new0 (MeshHlsVariant, 1);
  variant->uri = g_strdup (uri);
  g_ptr_array_add (master->variants, variant);
  return master;
}

static MeshHlsVariant *
parse_stream_inf (const gchar * value, guint lineno, GError ** error)
{
  AttributeList attrs = { 0, };
  MeshHlsVariant *variant = g_new0 (MeshHlsVariant, 1);
  gboolean ok;

  ok = attribute_list_parse (&attrs, "EXT-X-STREAM-INF", value, lineno, error)
      && attribute_list_require_string (&attrs, "BANDWIDTH", error) != NULL
      && attribute_list_get_uint64 (&attrs, "BANDWIDTH", G_MAXINT64,
      &variant->bandwidth, error)
      && attribute_list_get_uint64 (&attrs, "AVERAGE-BANDWIDTH", G_MAXINT64,
      &variant->average_bandwidth, error)
      && attribute_list_get_resolution (&attrs, "RESOLUTION", &variant->width,
      &variant->height, error)
      && attribute_list_get_double (&attrs, "FRAME-RATE",
      &variant->frame_rate, error);

  if (ok) {
    variant->codecs = g_strdup (attribute_list_get_string (&attrs, "CODECS"));
    variant->audio_group = g_strdup (attribute_list_get_string (&attrs,
            "AUDIO"));
    variant->video_group = g_strdup (attribute_list_get_string (&attrs,
            "VIDEO"));
    variant->subtitles_group = g_strdup (attribute_list_get_string (&attrs,
            "SUBTITLES"));
    variant->closed_captions_group = attribute_list_dup_group (&attrs,
        "CLOSED-CAPTIONS");
  } else {
    g_clear_pointer (&variant, variant_free);
  }

  attribute_list_clear (&attrs);
  return variant;
}

static gboolean
parse_rendition_type (const gchar * s, MeshHlsRenditionType * type)
{
  static const struct
  {
    const gchar *name;
    MeshHlsRenditionType type;
  } types[] = {
    {"AUDIO", MESH_HLS_RENDITION_AUDIO},
    {"VIDEO", MESH_HLS_RENDITION_VIDEO},
    {"SUBTITLES", MESH_HLS_RENDITION_SUBTITLES},
    {"CLOSED-CAPTIONS", MESH_HLS_RENDITION_CLOSED_CAPTIONS},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (types); i++) {
    if (strcmp (s, types[i].name) == 0) {
      *type = types[i].type;
      return TRUE;
    }
  }
  return FALSE;
}

static MeshHlsRendition *
parse_media (const gchar * value, const gchar * base_uri, guint lineno,
    gsize * uri_bytes, GError ** error)
{
  AttributeList attrs = { 0, };
  MeshHlsRendition *rendition = g_new0 (MeshHlsRendition, 1);
  const gchar *type = NULL, *group_id = NULL, *name = NULL, *uri;
  gboolean ok;

  ok = attribute_list_parse (&attrs, "EXT-X-MEDIA", value, lineno, error)
      && (type = attribute_list_require_string (&attrs, "TYPE", error))
      && (group_id = attribute_list_require_string (&attrs, "GROUP-ID", error))
      && (name = attribute_list_require_string (&attrs, "NAME", error))
      && attribute_list_get_yes_no (&attrs, "DEFAULT", &rendition->is_default,
      error)
      && attribute_list_get_yes_no (&attrs, "AUTOSELECT",
      &rendition->autoselect, error)
      && attribute_list_get_yes_no (&attrs, "FORCED", &rendition->forced,
      error);

  if (ok && !parse_rendition_type (type, &rendition->type)) {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
        "EXT-X-MEDIA: unknown TYPE '%s'", type);
    ok = FALSE;
  }

  if (ok) {
    rendition->group_id = g_strdup (group_id);
    rendition->name = g_strdup (name);
    rendition->language = g_strdup (attribute_list_get_string (&attrs,
            "LANGUAGE"));
    uri = attribute_list_get_string (&attrs, "URI");
    /* Closed captions are always inside the video; RFC 8216 forbids a URI */
    if (uri && rendition->type != MESH_HLS_RENDITION_CLOSED_CAPTIONS) {
      rendition->uri = resolve_uri (base_uri, uri, lineno, uri_bytes, error);
      ok = rendition->uri != NULL;
    }
  }

  if (!ok)
    g_clear_pointer (&rendition, rendition_free);
  attribute_list_clear (&attrs);
  return rendition;
}

static gint
compare_variant_bandwidth (gconstpointer a, gconstpointer b)
{
  const MeshHlsVariant *va = *(const MeshHlsVariant * const *) a;
  const MeshHlsVariant *vb = *(const MeshHlsVariant * const *) b;

  if (va->bandwidth < vb->bandwidth)
    return -1;
  return va->bandwidth > vb->bandwidth;
}

typedef struct
{
  MeshHlsMasterPlaylist *master;
  MeshHlsVariant *pending;      /* EXT-X-STREAM-INF awaiting its URI line */
  guint pending_lineno;
  gsize uri_bytes;
} MasterParser;

static gboolean
master_parser_handle_tag (MasterParser * parser, const gchar * name,
    const gchar * value, guint lineno, GError ** error)
{
  MeshHlsMasterPlaylist *master = parser->master;

  if (strcmp (name, "EXT-X-STREAM-INF") == 0) {
    if (parser->pending) {
      set_line_error (error, MESH_HLS_ERROR_INVALID, parser->pending_lineno,
          "EXT-X-STREAM-INF is not followed by a URI line");
      return FALSE;
    }
    if (master->variants->len >= MAX_VARIANTS) {
      set_line_error (error, MESH_HLS_ERROR_INVALID, lineno,
          "more than %u variants", MAX_VARIANTS);
      return FALSE;
    }
    parser->pending = parse_stream_inf (value, lineno, error);
    parser->pending_lineno = lineno;
    return parser->pending != NULL;
  }

  if (strcmp (name, "EXT-X-MEDIA") == 0) {
    MeshHlsRendition *rendition;

    if (master->renditions->len >= MAX_RENDITIONS) {
      set_line_error (error, MESH_HLS_ERROR_INVALID, lineno,
          "more than %u renditions", MAX_RENDITIONS);
      return FALSE;
    }
    rendition = parse_media (value, master->uri, lineno, &parser->uri_bytes,
        error);
    if (rendition == NULL)
      return FALSE;
    g_ptr_array_add (master->renditions, rendition);
    return TRUE;
  }

  if (strcmp (name, "EXT-X-INDEPENDENT-SEGMENTS") == 0) {
    master->independent_segments = TRUE;
    return TRUE;
  }

  /* Including EXT-X-I-FRAME-STREAM-INF: trick modes are not supported */
  GST_LOG ("line %u: ignoring %s", lineno, name);
  return TRUE;
}

static gboolean
master_parser_handle_uri (MasterParser * parser, const gchar * line,
    guint lineno, GError ** error)
{
  MeshHlsVariant *variant = parser->pending;

  if (variant == NULL) {
    set_line_error (error, MESH_HLS_ERROR_INVALID, lineno,
        "URI '%s' without EXT-X-STREAM-INF before it", line);
    return FALSE;
  }

  variant->uri = resolve_uri (parser->master->uri, line, lineno,
      &parser->uri_bytes, error);
  if (variant->uri == NULL)
    return FALSE;

  g_ptr_array_add (parser->master->variants, variant);
  parser->pending = NULL;
  return TRUE;
}

MeshHlsMasterPlaylist *
mesh_hls_master_playlist_parse (const gchar * text, gsize len,
    const gchar * uri, GError ** error)
{
  MasterParser parser = { 0, };
  LineReader reader;
  GError *local_error = NULL;
  gchar *line;
  gboolean ok = TRUE;

  g_return_val_if_fail (text != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ensure_debug_category ();
  if (!check_size (len, error))
    return NULL;
  line_reader_init (&reader, text, len);
  if (!read_header (&reader, error))
    return NULL;

  parser.master = master_playlist_new (uri);
  while (ok && line_reader_next (&reader, &line, &local_error)) {
    const gchar *name, *value;

    if (split_tag (line, &name, &value))
      ok = master_parser_handle_tag (&parser, name, value, reader.lineno,
          &local_error);
    else if (is_uri_line (line))
      ok = master_parser_handle_uri (&parser, line, reader.lineno,
          &local_error);
    g_free (line);
  }

  if (local_error == NULL && parser.pending)
    set_line_error (&local_error, MESH_HLS_ERROR_INVALID,
        parser.pending_lineno,
        "EXT-X-STREAM-INF is not followed by a URI line");
  if (local_error == NULL && parser.master->variants->len == 0)
    set_line_error (&local_error, MESH_HLS_ERROR_INVALID, reader.lineno,
        "master playlist without EXT-X-STREAM-INF");

  g_clear_pointer (&parser.pending, variant_free);
  if (local_error) {
    g_propagate_error (error, local_error);
    g_clear_pointer (&parser.master, mesh_hls_master_playlist_free);
    return NULL;
  }

  /* g_ptr_array_sort() is stable, as the header promises on ties */
  g_ptr_array_sort (parser.master->variants, compare_variant_bandwidth);
  GST_DEBUG ("master playlist %s: %u variants, %u renditions", uri,
      parser.master->variants->len, parser.master->renditions->len);
  return parser.master;
}

GPtrArray *
mesh_hls_master_playlist_get_group (const MeshHlsMasterPlaylist * master,
    MeshHlsRenditionType type, const gchar * group_id)
{
  GPtrArray *group;
  guint i;

  g_return_val_if_fail (master != NULL, NULL);
  g_return_val_if_fail (group_id != NULL, NULL);

  group = g_ptr_array_new ();
  for (i = 0; i < master->renditions->len; i++) {
    MeshHlsRendition *rendition = g_ptr_array_index (master->renditions, i);

    if (rendition->type == type && strcmp (rendition->group_id, group_id) == 0)
      g_ptr_array_add (group, rendition);
  }
  return group;
}

/* ------------------------------------------------------------------------ */
/* Media playlists */

static void
segment_free (gpointer data)
{
  MeshHlsSegment *segment = data;

  g_free (segment->uri);
  g_free (segment->title);
  g_free (segment);
}

static void
key_free (gpointer data)
{
  MeshHlsKey *key = data;

  g_free (key->uri);
  g_free (key);
}

static void
map_free (gpointer data)
{
  MeshHlsMap *map = data;

  g_free (map->uri);
  g_free (map);
}

void
mesh_hls_media_playlist_free (MeshHlsMediaPlaylist * playlist)
{
  if (playlist == NULL)
    return;

  g_free (playlist->uri);
  /* Segments borrow keys and maps, so they go first */
  g_ptr_array_unref (playlist->segments);
  g_ptr_array_unref (playlist->keys);
  g_ptr_array_unref (playlist->maps);
  g_free (playlist);
}

static MeshHlsMediaPlaylist *
media_playlist_new (const gchar * uri)
{
  MeshHlsMediaPlaylist *playlist = g_new0 (MeshHlsMediaPlaylist, 1);

  playlist->uri = g_strdup (uri);
  playlist->version = 1;
  playlist->target_duration = GST_CLOCK_TIME_NONE;
  playlist->segments = g_ptr_array_new_with_free_func (segment_free);
  playlist->keys = g_ptr_array_new_with_free_func (key_free);
  playlist->maps = g_ptr_array_new_with_free_func (map_free);
  return playlist;
}

/* What the tags seen since the last URI line say about the next segment */
typedef struct
{
  MeshHlsSegment *segment;      /* from EXTINF; NULL before it */
  guint extinf_lineno;
  gboolean discontinuity;
  gboolean gap;
  gboolean has_byterange;
  gint64 size, offset;          /* offset -1: continue the previous range */
  guint byterange_lineno;
  gint64 program_date_time;     /* G_MININT64 without the tag */
  guint skipped_key_lineno;     /* a DRM key with no identity key beside it */
} PendingSegment;

typedef struct
{
  MeshHlsMediaPlaylist *playlist;
  PendingSegment next;
  const MeshHlsKey *key;        /* in effect; NULL when clear */
  const MeshHlsMap *map;        /* in effect */
  gboolean in_key_run;          /* the previous tag was EXT-X-KEY */
  gboolean run_has_usable_key;
  GHashTable *range_ends;       /* resource URI -> gint64* end of last range */
  gboolean seen_target_duration;
  GstClockTime max_duration;
  gsize uri_bytes;              /* range_ends' keys included */
} MediaParser;

static void
pending_segment_reset (PendingSegment * next)
{
  g_clear_pointer (&next->segment, segment_free);
  memset (next, 0, sizeof (*next));
  next->program_date_time = G_MININT64;
}

static gboolean
media_parser_handle_extinf (MediaParser * parser, const gchar * value,
    guint lineno, GError ** error)
{
  g_autofree gchar *number = NULL;
  const gchar *comma;
  gdouble seconds;
  MeshHlsSegment *segment;

  if (parser->next.segment) {
    set_line_error (error, MESH_HLS_ERROR_INVALID, parser->next.extinf_lineno,
        "EXTINF is not followed by a URI line");
    return FALSE;
  }
  if (value == NULL) {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
        "EXTINF without a duration");
    return FALSE;
  }

  comma = strchr (value, ',');
  number = comma ? g_strndup (value, comma - value) : g_strdup (value);
  g_strstrip (number);
  if (!parse_decimal (number, &seconds)) {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
        "EXTINF duration '%s' is not a number", number);
    return FALSE;
  }
  if (seconds < 0 || seconds > MAX_SEGMENT_DURATION_S) {
    set_line_error (error, MESH_HLS_ERROR_INVALID, lineno,
        "EXTINF duration '%s' is %s", number,
        seconds < 0 ? "negative" : "longer than a day");
    return FALSE;
  }

  segment = g_new0 (MeshHlsSegment, 1);
  segment->duration = seconds_to_clock_time (seconds);
  segment->size = -1;
  segment->program_date_time = G_MININT64;
  if (comma) {
    g_autofree gchar *title = g_strstrip (g_strdup (comma + 1));

    if (title[0] != '\0')
      segment->title = g_steal_pointer (&title);
  }
  parser->next.segment = segment;
  parser->next.extinf_lineno = lineno;
  return TRUE;
}

static gboolean
media_parser_handle_byterange (MediaParser * parser, const gchar * value,
    guint lineno, GError ** error)
{
  if (!parse_byterange (value, &parser->next.size, &parser->next.offset)) {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
        "EXT-X-BYTERANGE '%s' is not LENGTH[@OFFSET]", value ? value : "");
    return FALSE;
  }
  parser->next.has_byterange = TRUE;
  parser->next.byterange_lineno = lineno;
  return TRUE;
}

static gboolean
media_parser_handle_key (MediaParser * parser, const gchar * value,
    guint lineno, GError ** error)
{
  MeshHlsMediaPlaylist *playlist = parser->playlist;
  AttributeList attrs = { 0, };
  const gchar *method = NULL, *keyformat, *uri, *iv;
  MeshHlsKey *key = NULL;
  gboolean ok = FALSE;

  if (!parser->in_key_run) {
    parser->in_key_run = TRUE;
    parser->run_has_usable_key = FALSE;
    parser->next.skipped_key_lineno = 0;
  }

  if (!attribute_list_parse (&attrs, "EXT-X-KEY", value, lineno, error)
      || !(method = attribute_list_require_string (&attrs, "METHOD", error)))
    goto out;

  if (strcmp (method, "NONE") == 0) {
    parser->key = NULL;
    parser->run_has_usable_key = TRUE;
    ok = TRUE;
    goto out;
  }

  keyformat = attribute_list_get_string (&attrs, "KEYFORMAT");
  if (keyformat && strcmp (keyformat, "identity") != 0) {
    GST_DEBUG ("line %u: skipping key of KEYFORMAT %s", lineno, keyformat);
    if (parser->next.skipped_key_lineno == 0)
      parser->next.skipped_key_lineno = lineno;
    ok = TRUE;
    goto out;
  }

  if (strcmp (method, "AES-128") != 0) {
    set_line_error (error, MESH_HLS_ERROR_UNSUPPORTED, lineno,
        "EXT-X-KEY METHOD %s is not supported", method);
    goto out;
  }

  if (!(uri = attribute_list_require_string (&attrs, "URI", error)))
    goto out;
  if (playlist->keys->len >= MAX_KEYS) {
    set_line_error (error, MESH_HLS_ERROR_INVALID, lineno,
        "more than %u EXT-X-KEY", MAX_KEYS);
    goto out;
  }

  key = g_new0 (MeshHlsKey, 1);
  key->method = MESH_HLS_KEY_AES_128;
  iv = attribute_list_get_string (&attrs, "IV");
  if (iv) {
    if (!parse_iv (iv, key->iv)) {
      set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
          "EXT-X-KEY: IV '%s' is not a 128-bit hexadecimal number", iv);
      goto out;
    }
    key->has_iv = TRUE;
  }
  key->uri = resolve_uri (playlist->uri, uri, lineno, &parser->uri_bytes,
      error);
  if (key->uri == NULL)
    goto out;

  g_ptr_array_add (playlist->keys, key);
  parser->key = g_steal_pointer (&key);
  parser->run_has_usable_key = TRUE;
  ok = TRUE;

out:
  g_clear_pointer (&key, key_free);
  attribute_list_clear (&attrs);
  return ok;
}

static gboolean
media_parser_handle_map (MediaParser * parser, const gchar * value,
    guint lineno, GError ** error)
{
  MeshHlsMediaPlaylist *playlist = parser->playlist;
  AttributeList attrs = { 0, };
  const gchar *uri = NULL, *byterange;
  MeshHlsMap *map = NULL;
  gboolean ok = FALSE;

  if (!attribute_list_parse (&attrs, "EXT-X-MAP", value, lineno, error)
      || !(uri = attribute_list_require_string (&attrs, "URI", error)))
    goto out;
  if (playlist->maps->len >= MAX_MAPS) {
    set_line_error (error, MESH_HLS_ERROR_INVALID, lineno,
        "more than %u EXT-X-MAP", MAX_MAPS);
    goto out;
  }

  map = g_new0 (MeshHlsMap, 1);
  map->size = -1;
  byterange = attribute_list_get_string (&attrs, "BYTERANGE");
  if (byterange) {
    if (!parse_byterange (byterange, &map->size, &map->offset)) {
      set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
          "EXT-X-MAP: BYTERANGE '%s' is not LENGTH[@OFFSET]", byterange);
      goto out;
    }
    /* Nothing precedes an init section to continue from */
    if (map->offset < 0)
      map->offset = 0;
  }
  map->uri = resolve_uri (playlist->uri, uri, lineno, &parser->uri_bytes,
      error);
  if (map->uri == NULL)
    goto out;

  g_ptr_array_add (playlist->maps, map);
  parser->map = g_steal_pointer (&map);
  ok = TRUE;

out:
  g_clear_pointer (&map, map_free);
  attribute_list_clear (&attrs);
  return ok;
}

static gboolean
media_parser_handle_program_date_time (MediaParser * parser,
    const gchar * value, guint lineno, GError ** error)
{
  g_autoptr (GDateTime) date_time = NULL;

  /* Without a default time zone, a date without one is refused */
  if (value)
    date_time = g_date_time_new_from_iso8601 (value, NULL);
  if (date_time == NULL) {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
        "EXT-X-PROGRAM-DATE-TIME '%s' is not an ISO 8601 date with a time "
        "zone", value ? value : "");
    return FALSE;
  }

  parser->next.program_date_time =
      g_date_time_to_unix (date_time) * G_USEC_PER_SEC +
      g_date_time_get_microsecond (date_time);
  return TRUE;
}

static gboolean
media_parser_handle_integer_tag (const gchar * name, const gchar * value,
    guint64 max, guint64 * out, guint lineno, GError ** error)
{
  if (!parse_uint64 (value, max, out)) {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
        "%s '%s' is not a decimal integer in range", name, value ? value : "");
    return FALSE;
  }
  return TRUE;
}

static gboolean
media_parser_handle_playlist_type (MediaParser * parser, const gchar * value,
    guint lineno, GError ** error)
{
  if (g_strcmp0 (value, "VOD") == 0) {
    parser->playlist->type = MESH_HLS_PLAYLIST_TYPE_VOD;
  } else if (g_strcmp0 (value, "EVENT") == 0) {
    parser->playlist->type = MESH_HLS_PLAYLIST_TYPE_EVENT;
  } else {
    set_line_error (error, MESH_HLS_ERROR_SYNTAX, lineno,
        "EXT-X-PLAYLIST-TYPE '%s' is neither EVENT nor VOD",
        value ? value : "");
    return FALSE;
  }
  return TRUE;
}

static gboolean
media_parser_handle_tag (MediaParser * parser, const gchar * name,
    const gchar * value, guint lineno, GError ** error)
{
  MeshHlsMediaPlaylist *playlist = parser->playlist;
  guint64 number;

  if (strcmp (name, "EXT-X-KEY") == 0)
    return media_parser_handle_key (parser, value, lineno, error);

  /* Keys listed together are alternatives for the same segments */
  parser->in_key_run = FALSE;

  if (strcmp (name, "EXTINF") == 0)
    return media_parser_handle_extinf (parser, value, lineno, error);
  if (strcmp (name, "EXT-X-BYTERANGE") == 0)
    return media_parser_handle_byterange (parser, value, lineno, error);
  if (strcmp (name, "EXT-X-MAP") == 0)
    return media_parser_handle_map (parser, value, lineno, error);
  if (strcmp (name, "EXT-X-PROGRAM-DATE-TIME") == 0)
    return media_parser_handle_program_date_time (parser, value, lineno, error);
  if (strcmp (name, "EXT-X-PLAYLIST-TYPE") == 0)
    return media_parser_handle_playlist_type (parser, value, lineno, error);

  if (strcmp (name, "EXT-X-DISCONTINUITY") == 0) {
    parser->next.discontinuity = TRUE;
  } else if (strcmp (name, "EXT-X-GAP") == 0) {
    parser->next.gap = TRUE;
  } else if (strcmp (name, "EXT-X-ENDLIST") == 0) {
    playlist->endlist = TRUE;
  } else if (strcmp (name, "EXT-X-INDEPENDENT-SEGMENTS") == 0) {
    playlist->independent_segments = TRUE;
  } else if (strcmp (name, "EXT-X-TARGETDURATION") == 0) {
    if (!media_parser_handle_integer_tag (name, value, MAX_TARGET_DURATION_S,
            &number, lineno, error))
      return FALSE;
    playlist->target_duration = number * GST_SECOND;
    parser->seen_target_duration = TRUE;
  } else if (strcmp (name, "EXT-X-MEDIA-SEQUENCE") == 0) {
    if (!media_parser_handle_integer_tag (name, value, MAX_SEQUENCE, &number,
            lineno, error))
      return FALSE;
    playlist->media_sequence = number;
  } else if (strcmp (name, "EXT-X-DISCONTINUITY-SEQUENCE") == 0) {
    if (!media_parser_handle_integer_tag (name, value, MAX_SEQUENCE, &number,
            lineno, error))
      return FALSE;
    playlist->discont_sequence = number;
  } else if (strcmp (name, "EXT-X-VERSION") == 0) {
    if (!media_parser_handle_integer_tag (name, value, G_MAXINT, &number,
            lineno, error))
      return FALSE;
    playlist->version = number;
  } else {
    GST_LOG ("line %u: ignoring %s", lineno, name);
  }
  return TRUE;
}

/* Resolves a byte range without offset against the end of the previous
 * range of the same resource, and remembers where this one ends. */
static gboolean
media_parser_place_byterange (MediaParser * parser, MeshHlsSegment * segment,
    GError ** error)
{
  PendingSegment *next = &parser->next;
  gint64 *end;

  end = g_hash_table_lookup (parser->range_ends, segment->uri);
  if (next->offset < 0) {
    if (end == NULL) {
      set_line_error (error, MESH_HLS_ERROR_INVALID, next->byterange_lineno,
          "EXT-X-BYTERANGE without offset does not follow a range of the "
          "same resource");
      return FALSE;
    }
    next->offset = *end;
  }
  if (next->offset > G_MAXINT64 - next->size) {
    set_line_error (error, MESH_HLS_ERROR_INVALID, next->byterange_lineno,
        "EXT-X-BYTERANGE ends beyond the largest file size");
    return FALSE;
  }

  segment->offset = next->offset;
  segment->size = next->size;
  if (end == NULL) {
    if (!charge_uri_bytes (&parser->uri_bytes, strlen (segment->uri) + 1,
            next->byterange_lineno, error))
      return FALSE;
    end = g_new (gint64, 1);
    g_hash_table_insert (parser->range_ends, g_strdup (segment->uri), end);
  }
  *end = segment->offset + segment->size;
  return TRUE;
}

static gboolean
media_parser_handle_uri (MediaParser * parser, const gchar * line,
    guint lineno, GError ** error)
{
  MeshHlsMediaPlaylist *playlist = parser->playlist;
  PendingSegment *next = &parser->next;
  MeshHlsSegment *segment = next->segment, *previous = NULL;

  parser->in_key_run = FALSE;
  if (segment == NULL) {
    set_line_error (error, MESH_HLS_ERROR_INVALID, lineno,
        "URI '%s' without EXTINF before it", line);
    return FALSE;
  }
  if (next->skipped_key_lineno && !parser->run_has_usable_key) {
    set_line_error (error, MESH_HLS_ERROR_UNSUPPORTED,
        next->skipped_key_lineno,
        "segments are only encrypted for KEYFORMATs we do not support");
    return FALSE;
  }
  if (playlist->segments->len >= MAX_SEGMENTS) {
    set_line_error (error, MESH_HLS_ERROR_INVALID, lineno,
        "more than %u segments", MAX_SEGMENTS);
    return FALSE;
  }

  segment->uri = resolve_uri (playlist->uri, line, lineno,
      &parser->uri_bytes, error);
  if (segment->uri == NULL)
    return FALSE;
  if (next->has_byterange && !media_parser_place_byterange (parser, segment,
          error))
    return FALSE;

  if (playlist->segments->len > 0)
    previous = g_ptr_array_index (playlist->segments,
        playlist->segments->len - 1);

  segment->discontinuity = next->discontinuity;
  segment->gap = next->gap;
  segment->key = parser->key;
  segment->map = parser->map;
  segment->start = playlist->duration;
  if (next->program_date_time != G_MININT64)
    segment->program_date_time = next->program_date_time;
  else if (previous && previous->program_date_time != G_MININT64)
    segment->program_date_time = previous->program_date_time +
        (gint64) GST_TIME_AS_USECONDS (previous->duration);

  playlist->duration += segment->duration;
  parser->max_duration = MAX (parser->max_duration, segment->duration);
  g_ptr_array_add (playlist->segments, g_steal_pointer (&next->segment));
  pending_segment_reset (next);
  return TRUE;
}

/* Numbers the segments once EXT-X-MEDIA-SEQUENCE and
 * EXT-X-DISCONTINUITY-SEQUENCE are known, wherever they were. */
static void
media_parser_number_segments (MediaParser * parser)
{
  MeshHlsMediaPlaylist *playlist = parser->playlist;
  gint64 discont_sequence = playlist->discont_sequence;
  guint i;

  for (i = 0; i < playlist->segments->len; i++) {
    MeshHlsSegment *segment = g_ptr_array_index (playlist->segments, i);

    if (segment->discontinuity)
      discont_sequence++;
    segment->sequence = playlist->media_sequence + i;
    segment->discont_sequence = discont_sequence;
  }
}

static gboolean
media_parser_finish (MediaParser * parser, guint last_lineno, GError ** error)
{
  MeshHlsMediaPlaylist *playlist = parser->playlist;

  if (parser->next.segment) {
    set_line_error (error, MESH_HLS_ERROR_INVALID,
        parser->next.extinf_lineno, "EXTINF is not followed by a URI line");
    return FALSE;
  }
  if (playlist->segments->len == 0) {
    set_line_error (error, MESH_HLS_ERROR_INVALID, last_lineno,
        "media playlist without segments");
    return FALSE;
  }

  if (!parser->seen_target_duration) {
    GST_DEBUG ("no EXT-X-TARGETDURATION, using the longest EXTINF");
    playlist->target_duration = (parser->max_duration + GST_SECOND - 1) /
        GST_SECOND * GST_SECOND;
  }
  media_parser_number_segments (parser);
  return TRUE;
}

MeshHlsMediaPlaylist *
mesh_hls_media_playlist_parse (const gchar * text, gsize len,
    const gchar * uri, GError ** error)
{
  MediaParser parser = { 0, };
  LineReader reader;
  GError *local_error = NULL;
  gchar *line;
  gboolean ok = TRUE;

  g_return_val_if_fail (text != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ensure_debug_category ();
  if (!check_size (len, error))
    return NULL;
  line_reader_init (&reader, text, len);
  if (!read_header (&reader, error))
    return NULL;

  parser.playlist = media_playlist_new (uri);
  parser.range_ends = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  pending_segment_reset (&parser.next);

  while (ok && line_reader_next (&reader, &line, &local_error)) {
    const gchar *name, *value;

    if (split_tag (line, &name, &value))
      ok = media_parser_handle_tag (&parser, name, value, reader.lineno,
          &local_error);
    else if (is_uri_line (line))
      ok = media_parser_handle_uri (&parser, line, reader.lineno, &local_error);
    g_free (line);
  }
  if (local_error == NULL)
    media_parser_finish (&parser, reader.lineno, &local_error);

  pending_segment_reset (&parser.next);
  g_hash_table_unref (parser.range_ends);
  if (local_error) {
    g_propagate_error (error, local_error);
    g_clear_pointer (&parser.playlist, mesh_hls_media_playlist_free);
    return NULL;
  }

  GST_DEBUG ("media playlist %s: %u segments from %" G_GINT64_FORMAT
      ", duration %" GST_TIME_FORMAT, uri, parser.playlist->segments->len,
      parser.playlist->media_sequence,
      GST_TIME_ARGS (parser.playlist->duration));
  return parser.playlist;
}

const MeshHlsSegment *
mesh_hls_media_playlist_find_sequence (const MeshHlsMediaPlaylist * playlist,
    gint64 sequence)
{
  const MeshHlsSegment *first;
  guint len;

  g_return_val_if_fail (playlist != NULL, NULL);

  len = playlist->segments->len;
  if (len == 0)
    return NULL;

  /* Sequence numbers are consecutive within a playlist */
  first = g_ptr_array_index (playlist->segments, 0);
  if (sequence < first->sequence || sequence - first->sequence >= len)
    return NULL;
  return g_ptr_array_index (playlist->segments, sequence - first->sequence);
}

gint
mesh_hls_media_playlist_find_position (const MeshHlsMediaPlaylist * playlist,
    GstClockTime position)
{
  guint low = 0, high;

  g_return_val_if_fail (playlist != NULL, -1);

  if (playlist->segments->len == 0)
    return -1;

  /* The last segment starting at or before @position */
  high = playlist->segments->len - 1;
  while (low < high) {
    guint mid = low + (high - low + 1) / 2;
    const MeshHlsSegment *segment = g_ptr_array_index (playlist->segments, mid);

    if (segment->start <= position)
      low = mid;
    else
      high = mid - 1;
  }
  return low;
}
