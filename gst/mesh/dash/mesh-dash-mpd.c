/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MPEG-DASH MPD parser (ISO/IEC 23009-1) on libxml2: the XML in, the model
 * of mesh-dash-mpd.h out. Listing segments is mesh-dash-segments.c, the
 * 'sidx' index mesh-isobmff-index.c.
 *
 * Threading: none of its own. Every function works on the caller's data only
 * and may be called from any thread. The only global state is the debug
 * category and libxml2's own initialisation, both done once under
 * g_once_init_enter(). Each parse has its own xmlParserCtxt whose structured
 * error handler and SAX hooks only write to that parse's state, so no global
 * libxml2 handler is ever changed.
 *
 * Policy for input the specification leaves open, or that servers get wrong:
 *  - A DOCTYPE is refused as soon as the parser sees it (before any entity
 *    can be declared, let alone expanded); entities are never substituted
 *    and the network is never used.
 *  - Elements match by local name in the DASH namespace; an MPD without any
 *    namespace is accepted too, elements of other namespaces are ignored.
 *  - Mandatory attributes that decide what is fetched and when
 *    (MPD@availabilityStartTime of a dynamic MPD, Representation@id, S@d,
 *    SegmentTemplate@media, ContentProtection@schemeIdUri...) are required:
 *    a document without them is MESH_DASH_ERROR_INVALID, with the place in
 *    the message. Two mandatory ones that packagers leave out and that
 *    playback can do without are defaulted instead, with a warning:
 *    MPD@minBufferTime (DEFAULT_MIN_BUFFER_TIME) and Representation@bandwidth
 *    (0, typically on a sidecar subtitle file).
 *  - Numbers written loosely but without doubt are read, with a warning: an
 *    integer with a '+' sign or a zero fraction ("1280.0"), a decimal
 *    frameRate ("30.0", "29.97"). Warnings go to the debug log and to
 *    MeshDashMpd.warnings, with the place.
 *  - xs:duration years and months count 365 and 30 days. Durations and
 *    times are bounded by MAX_TIME_NS so that sums of them cannot overflow.
 *  - A Representation without any segment information but with a BaseURL
 *    of its own or of its AdaptationSet is that one file for the whole
 *    Period (kind SINGLE, ISO/IEC 23009-1 5.3.9.1: sidecar subtitles);
 *    without such a BaseURL it keeps kind NONE, and listing its segments is
 *    MESH_DASH_ERROR_UNSUPPORTED.
 *  - ContentProtection elements of Representations are folded into their
 *    AdaptationSet's list (without duplicates).
 *  - A SegmentBase without Initialization has its init section before the
 *    index: bytes [0, indexRange start).
 *  - A first Period without @start starts at 0 also in a dynamic MPD.
 *
 * Limits: an MPD comes from a server we may not trust, and what it makes us
 * allocate must stay bounded whatever it says. Each limit exceeded is
 * MESH_DASH_ERROR_UNSUPPORTED naming it, never a partial model:
 *  - the document: MAX_MPD_SIZE bytes, MAX_XML_ELEMENTS elements (libxml2's
 *    tree costs some 360 bytes per element: 16 MiB of tiny elements would
 *    be 580 MB, the limit some 40 MB), MAX_ATTRIBUTES attributes on any
 *    element (counted before libxml2 sees them: it compares an element's
 *    attributes pairwise, and 80000 of them cost it 9 s);
 *  - the model: MAX_PERIODS Periods, MAX_ADAPTATION_SETS per Period,
 *    MAX_REPRESENTATIONS per AdaptationSet, MAX_TIMELINE_ENTRIES S per
 *    SegmentTimeline, MAX_SEGMENT_URLS per SegmentList,
 *    MAX_CONTENT_PROTECTIONS per AdaptationSet, MAX_UTC_TIMINGS, URLs of
 *    MAX_URL_LENGTH bytes, and MAX_MODEL_BYTES for what Representations
 *    inherit: what an AdaptationSet or Period says is copied into each of
 *    its Representations, so a few bytes of text could otherwise cost
 *    their product;
 *  - sharing rather than copying where that product would be large: a
 *    SegmentTimeline is one reference-counted array for all the
 *    Representations that inherit it, a SegmentList's resolved URLs one
 *    array for those of the same BaseURL;
 *  - at most MAX_WARNINGS warnings are kept.
 * Segments are never materialised here: mesh-dash-segments.c lists them
 * window by window.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mesh-dash-mpd.h"
#include "mesh-dash-segments.h"
#include "../mesh-uri.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/SAX2.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (mesh_dash_mpd_debug);
#define GST_CAT_DEFAULT mesh_dash_mpd_debug

#define DASH_NS "urn:mpeg:dash:schema:mpd:2011"
#define CENC_NS "urn:mpeg:cenc:2013"
#define ROLE_SCHEME "urn:mpeg:dash:role:2011"

/* ~146 years: sums of two such times cannot overflow a GstClockTime */
#define MAX_TIME_NS (G_GUINT64_CONSTANT (1) << 62)
/* What the specification suggests and packagers commonly write */
#define DEFAULT_MIN_BUFFER_TIME (2 * GST_SECOND)
/* Decimals of a frameRate kept: enough for 23.976 and 29.97 */
#define MAX_FRAME_RATE_DECIMALS 6

/* Limits (see the top of the file). The fetcher refuses larger manifests
 * too. A 24-hour time-shift window of 2 s audio segments, whose durations
 * alternate and so cannot be folded with @r, is 43200 S elements. */
#define MAX_MPD_SIZE (16 * 1024 * 1024)
#define MAX_XML_ELEMENTS 100000
#define MAX_ATTRIBUTES 256
#define MAX_PERIODS 1000
#define MAX_ADAPTATION_SETS 256
#define MAX_REPRESENTATIONS 256
#define MAX_TIMELINE_ENTRIES 50000
#define MAX_SEGMENT_URLS 50000
#define MAX_CONTENT_PROTECTIONS 64
#define MAX_UTC_TIMINGS 16
#define MAX_URL_LENGTH (16 * 1024)
#define MAX_MODEL_BYTES (32 * 1024 * 1024)
#define MAX_WARNINGS 100

G_DEFINE_QUARK (mesh_dash_error_quark, mesh_dash_error);

static void
ensure_initialised (void)
{
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised)) {
    GST_DEBUG_CATEGORY_INIT (mesh_dash_mpd_debug, "meshdashmpd", 0,
        "MPEG-DASH MPD parser");
    /* libxml2 wants this once, before parsing from several threads */
    xmlInitParser ();
    g_once_init_leave (&initialised, 1);
  }
}

/* ------------------------------------------------------------------------ */
/* Errors naming the place: "Period 2: AdaptationSet 'video': ..." */

enum
{
  WHERE_PERIOD,
  WHERE_ADAPTATION_SET,
  WHERE_REPRESENTATION,
  WHERE_LEVELS
};

typedef struct
{
  const gchar *url;
  GError **error;
  GPtrArray *warnings;          /* the model's */
  gchar *where[WHERE_LEVELS];
  gsize inherited_bytes;        /* what Representations took from above,
                                 * against MAX_MODEL_BYTES */
} ParseCtx;

static void
ctx_enter (ParseCtx * ctx, guint level, const gchar * kind, const gchar * id,
    guint position)
{
  guint i;

  for (i = level; i < WHERE_LEVELS; i++)
    g_clear_pointer (&ctx->where[i], g_free);
  if (id != NULL)
    ctx->where[level] = g_strdup_printf ("%s '%s'", kind, id);
  else
    ctx->where[level] = g_strdup_printf ("%s %u", kind, position);
}

static void
ctx_leave (ParseCtx * ctx, guint level)
{
  guint i;

  for (i = level; i < WHERE_LEVELS; i++)
    g_clear_pointer (&ctx->where[i], g_free);
}

/* *INDENT-OFF* */
static void set_error (ParseCtx * ctx, MeshDashError code,
    const gchar * format, ...) G_GNUC_PRINTF (3, 4);
static void set_warning (ParseCtx * ctx, const gchar * format, ...)
    G_GNUC_PRINTF (2, 3);
/* *INDENT-ON* */

static gchar *
message_with_place (ParseCtx * ctx, const gchar * format, va_list args)
{
  GString *message = g_string_new (NULL);
  guint i;

  for (i = 0; i < WHERE_LEVELS; i++) {
    if (ctx->where[i] != NULL)
      g_string_append_printf (message, "%s: ", ctx->where[i]);
  }
  g_string_append_vprintf (message, format, args);
  return g_string_free (message, FALSE);
}

static void
set_error (ParseCtx * ctx, MeshDashError code, const gchar * format, ...)
{
  gchar *message;
  va_list args;

  va_start (args, format);
  message = message_with_place (ctx, format, args);
  va_end (args);

  GST_DEBUG ("%s", message);
  /* the first error wins: later ones are consequences */
  if (ctx->error != NULL && *ctx->error == NULL)
    g_set_error_literal (ctx->error, MESH_DASH_ERROR, code, message);
  g_free (message);
}

/* Something read leniently: parsing goes on */
static void
set_warning (ParseCtx * ctx, const gchar * format, ...)
{
  gchar *message;
  va_list args;

  va_start (args, format);
  message = message_with_place (ctx, format, args);
  va_end (args);

  GST_WARNING ("%s", message);
  if (ctx->warnings->len < MAX_WARNINGS) {
    g_ptr_array_add (ctx->warnings, message);
    return;
  }
  if (ctx->warnings->len == MAX_WARNINGS)
    g_ptr_array_add (ctx->warnings, g_strdup ("more warnings were left out"));
  g_free (message);
}

/* ------------------------------------------------------------------------ */
/* XML helpers */

static gboolean
is_element (const xmlNode * node, const gchar * name)
{
  if (node->type != XML_ELEMENT_NODE
      || strcmp ((const gchar *) node->name, name) != 0)
    return FALSE;
  /* Early drafts spelled the namespace in upper case */
  return node->ns == NULL || node->ns->href == NULL
      || g_ascii_strcasecmp ((const gchar *) node->ns->href, DASH_NS) == 0;
}

static gboolean
is_cenc_element (const xmlNode * node, const gchar * name)
{
  return node->type == XML_ELEMENT_NODE
      && strcmp ((const gchar *) node->name, name) == 0
      && node->ns != NULL && node->ns->href != NULL
      && strcmp ((const gchar *) node->ns->href, CENC_NS) == 0;
}

static xmlNode *
first_child (const xmlNode * parent, const gchar * name)
{
  xmlNode *child;

  for (child = parent->children; child != NULL; child = child->next) {
    if (is_element (child, name))
      return child;
  }
  return NULL;
}

/* @value (xmlFree'd) as a stripped GLib string; NULL for NULL */
static gchar *
take_stripped (xmlChar * value)
{
  gchar *copy;

  if (value == NULL)
    return NULL;
  copy = g_strstrip (g_strdup ((const gchar *) value));
  xmlFree (value);
  return copy;
}

static gchar *
node_text (const xmlNode * node)
{
  gchar *text = take_stripped (xmlNodeGetContent (node));

  return text ? text : g_strdup ("");
}

/* Attribute without namespace (all DASH attributes are), stripped; NULL
 * when absent */
static gchar *
dup_attr (const xmlNode * node, const gchar * name)
{
  return take_stripped (xmlGetNoNsProp (node, (const xmlChar *) name));
}

static gchar *
dup_ns_attr (const xmlNode * node, const gchar * name, const gchar * ns)
{
  return take_stripped (xmlGetNsProp (node, (const xmlChar *) name,
          (const xmlChar *) ns));
}

static gboolean
require_attr (ParseCtx * ctx, const xmlNode * node, const gchar * name,
    gchar ** value)
{
  *value = dup_attr (node, name);
  if (*value == NULL) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "%s@%s is missing", node->name,
        name);
    return FALSE;
  }
  return TRUE;
}

static void
invalid_attr (ParseCtx * ctx, const xmlNode * node, const gchar * name,
    const gchar * value, const gchar * why)
{
  set_error (ctx, MESH_DASH_ERROR_INVALID, "%s@%s '%s' %s", node->name, name,
      value, why);
}

/* ------------------------------------------------------------------------ */
/* Values */

static gboolean
parse_uint64 (const gchar * s, guint64 * out)
{
  guint64 value = 0;

  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++) {
    guint digit;

    if (!g_ascii_isdigit (*s))
      return FALSE;
    digit = *s - '0';
    if (value > (G_MAXUINT64 - digit) / 10)
      return FALSE;
    value = value * 10 + digit;
  }
  *out = value;
  return TRUE;
}

/* An unsigned integer as packagers also write them: with a '+' sign, or
 * with a fraction of zeros ("1280.0"). *@loose is TRUE when it was not
 * plain digits. */
static gboolean
parse_loose_uint64 (const gchar * s, guint64 * out, gboolean * loose)
{
  const gchar *dot;
  gchar *digits;
  gboolean ok;

  *loose = FALSE;
  if (parse_uint64 (s, out))
    return TRUE;
  if (*s == '+')
    s++;
  dot = strchr (s, '.');
  if (dot != NULL && (dot == s || dot[1] == '\0'
          || strspn (dot + 1, "0") != strlen (dot + 1)))
    return FALSE;
  digits = g_strndup (s, dot ? (gsize) (dot - s) : strlen (s));
  ok = parse_uint64 (digits, out);
  g_free (digits);
  *loose = ok;
  return ok;
}

/* FALSE on error; @value untouched and *@present FALSE when absent */
static gboolean
get_uint_attr (ParseCtx * ctx, const xmlNode * node, const gchar * name,
    guint64 min, guint64 max, guint64 * value, gboolean * present)
{
  gchar *text = dup_attr (node, name);
  gboolean loose;
  guint64 v;

  if (present != NULL)
    *present = text != NULL;
  if (text == NULL)
    return TRUE;
  if (!parse_loose_uint64 (text, &v, &loose)) {
    invalid_attr (ctx, node, name, text, text[0] == '-' ? "is negative" :
        "is not a non-negative integer");
    g_free (text);
    return FALSE;
  }
  if (v < min || v > max) {
    invalid_attr (ctx, node, name, text, "is out of range");
    g_free (text);
    return FALSE;
  }
  if (loose)
    set_warning (ctx, "%s@%s '%s' is not written as an integer: read as %"
        G_GUINT64_FORMAT, node->name, name, text, v);
  g_free (text);
  *value = v;
  return TRUE;
}

/* An xs:integer that may be -1 (S@r) */
static gboolean
get_repeat_attr (ParseCtx * ctx, const xmlNode * node, gint64 * value)
{
  gchar *text = dup_attr (node, "r");
  guint64 v;

  *value = 0;
  if (text == NULL)
    return TRUE;
  if (strcmp (text, "-1") == 0) {
    *value = -1;
  } else if (!parse_uint64 (text, &v) || v >= G_MAXINT64) {
    invalid_attr (ctx, node, "r", text, "is not -1 or a non-negative integer");
    g_free (text);
    return FALSE;
  } else {
    *value = v;
  }
  g_free (text);
  return TRUE;
}

/* Reads up to @max_digits digits (exactly @max_digits when @exact) */
static gboolean
read_digits (const gchar ** p, guint max_digits, gboolean exact,
    guint64 * value)
{
  guint n = 0;

  *value = 0;
  while (n < max_digits && g_ascii_isdigit ((*p)[0])) {
    *value = *value * 10 + ((*p)[0] - '0');
    (*p)++;
    n++;
  }
  return n > 0 && (!exact || n == max_digits);
}

/* Fraction digits after a '.', as nanoseconds (digits past 9 dropped) */
static gboolean
read_fraction_ns (const gchar ** p, guint64 * ns)
{
  guint64 scale = 100000000;
  guint n = 0;

  *ns = 0;
  while (g_ascii_isdigit ((*p)[0])) {
    *ns += ((*p)[0] - '0') * scale;
    scale /= 10;
    (*p)++;
    n++;
  }
  return n > 0;
}

/* xs:duration ("PT1H2M3.5S", "P1DT2H") in ns. Negative durations are
 * refused, since nothing in an MPD may last less than nothing. */
static gboolean
parse_xs_duration (const gchar * s, GstClockTime * out, const gchar ** why)
{
  static const struct
  {
    gchar unit;
    gboolean in_time;
    guint64 ns;
  } units[] = {
    {'Y', FALSE, 365 * 24 * 3600 * GST_SECOND},
    {'M', FALSE, 30 * 24 * 3600 * GST_SECOND},
    {'D', FALSE, 24 * 3600 * GST_SECOND},
    {'H', TRUE, 3600 * GST_SECOND},
    {'M', TRUE, 60 * GST_SECOND},
    {'S', TRUE, GST_SECOND},
  };
  const gchar *p = s;
  gboolean in_time = FALSE, any = FALSE;
  guint next_unit = 0;
  guint64 total = 0;

  *why = "is not an xs:duration";
  if (*p == '-') {
    *why = "is negative";
    return FALSE;
  }
  if (*p++ != 'P')
    return FALSE;
  while (*p != '\0') {
    guint64 value, fraction = 0;
    gboolean has_fraction = FALSE;
    guint u;

    if (*p == 'T') {
      if (in_time || p[1] == '\0')
        return FALSE;
      in_time = TRUE;
      p++;
      continue;
    }
    /* 12 digits are far beyond any real duration but keep products exact */
    if (!read_digits (&p, 12, FALSE, &value) || g_ascii_isdigit (*p))
      return FALSE;
    if (*p == '.') {
      p++;
      if (!read_fraction_ns (&p, &fraction))
        return FALSE;
      has_fraction = TRUE;
    }
    for (u = next_unit; u < G_N_ELEMENTS (units); u++) {
      if (units[u].unit == *p && units[u].in_time == in_time)
        break;
    }
    if (u == G_N_ELEMENTS (units) || (has_fraction && units[u].unit != 'S'))
      return FALSE;
    if (value >= MAX_TIME_NS / units[u].ns) {
      *why = "is out of range";
      return FALSE;
    }
    total += value * units[u].ns + fraction;
    if (total >= MAX_TIME_NS) {
      *why = "is out of range";
      return FALSE;
    }
    next_unit = u + 1;
    any = TRUE;
    p++;
  }
  if (!any)
    return FALSE;
  *out = total;
  return TRUE;
}

/* xs:dateTime in µs since the epoch; no zone means UTC */
static gboolean
parse_xs_date_time (const gchar * s, gint64 * out)
{
  const gchar *p = s;
  guint64 year, month, day, hour, minute, second, fraction_ns = 0;
  gint64 offset_s = 0;
  GDateTime *dt;

  if (!read_digits (&p, 4, TRUE, &year) || *p++ != '-'
      || !read_digits (&p, 2, TRUE, &month) || *p++ != '-'
      || !read_digits (&p, 2, TRUE, &day) || *p++ != 'T'
      || !read_digits (&p, 2, TRUE, &hour) || *p++ != ':'
      || !read_digits (&p, 2, TRUE, &minute) || *p++ != ':'
      || !read_digits (&p, 2, TRUE, &second))
    return FALSE;
  if (*p == '.') {
    p++;
    if (!read_fraction_ns (&p, &fraction_ns))
      return FALSE;
  }
  if (*p == 'Z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    gint sign = *p == '-' ? -1 : 1;
    guint64 oh, om;

    p++;
    if (!read_digits (&p, 2, TRUE, &oh) || *p++ != ':'
        || !read_digits (&p, 2, TRUE, &om) || oh > 14 || om > 59)
      return FALSE;
    offset_s = sign * (gint64) (oh * 3600 + om * 60);
  }
  if (*p != '\0' || year == 0 || hour > 23 || minute > 59 || second > 59)
    return FALSE;

  /* GDateTime refuses impossible dates (February 30th...) */
  dt = g_date_time_new_utc (year, month, day, hour, minute, second);
  if (dt == NULL)
    return FALSE;
  *out = (g_date_time_to_unix (dt) - offset_s) * G_USEC_PER_SEC
      + fraction_ns / 1000;
  g_date_time_unref (dt);
  return TRUE;
}

static gboolean
get_duration_attr (ParseCtx * ctx, const xmlNode * node, const gchar * name,
    GstClockTime * value)
{
  gchar *text = dup_attr (node, name);
  const gchar *why;
  gboolean ok = TRUE;

  if (text == NULL)
    return TRUE;
  if (!parse_xs_duration (text, value, &why)) {
    invalid_attr (ctx, node, name, text, why);
    ok = FALSE;
  }
  g_free (text);
  return ok;
}

static gboolean
get_date_time_attr (ParseCtx * ctx, const xmlNode * node, const gchar * name,
    gint64 * value)
{
  gchar *text = dup_attr (node, name);
  gboolean ok = TRUE;

  if (text == NULL)
    return TRUE;
  if (!parse_xs_date_time (text, value)) {
    invalid_attr (ctx, node, name, text, "is not an xs:dateTime");
    ok = FALSE;
  }
  g_free (text);
  return ok;
}

/* "first-last", both inclusive, as in HTTP */
static gboolean
get_range_attr (ParseCtx * ctx, const xmlNode * node, const gchar * name,
    gint64 * offset, gint64 * size, gboolean * present)
{
  gchar *text = dup_attr (node, name);
  gchar **parts;
  guint64 first, last;
  gboolean ok;

  if (present != NULL)
    *present = text != NULL;
  if (text == NULL)
    return TRUE;
  parts = g_strsplit (text, "-", 3);
  ok = g_strv_length (parts) == 2 && parse_uint64 (parts[0], &first)
      && parse_uint64 (parts[1], &last) && first <= last && last < G_MAXINT64;
  g_strfreev (parts);
  if (!ok) {
    invalid_attr (ctx, node, name, text, "is not a byte range 'first-last'");
  } else {
    *offset = first;
    *size = last - first + 1;
  }
  g_free (text);
  return ok;
}

/* A decimal frame rate ("29.97") as a fraction (2997/100, reduced) */
static gboolean
parse_decimal_frame_rate (const gchar * s, guint64 * num, guint64 * den)
{
  const gchar *dot = strchr (s, '.');
  gchar *whole;
  guint64 integer, fraction = 0, scale = 1, a, b;
  gboolean ok;
  guint decimals;

  if (dot == NULL || dot == s)
    return FALSE;
  decimals = strlen (dot + 1);
  if (decimals == 0 || decimals > MAX_FRAME_RATE_DECIMALS
      || !parse_uint64 (dot + 1, &fraction))
    return FALSE;
  whole = g_strndup (s, dot - s);
  ok = parse_uint64 (whole, &integer) && integer <= G_MAXINT;
  g_free (whole);
  if (!ok)
    return FALSE;
  while (decimals-- > 0)
    scale *= 10;
  *num = integer * scale + fraction;
  *den = scale;
  /* Euclid */
  for (a = *num, b = *den; b != 0;) {
    guint64 r = a % b;

    a = b;
    b = r;
  }
  if (a > 1) {
    *num /= a;
    *den /= a;
  }
  return TRUE;
}

/* "25" or "30000/1001"; "29.97" with a warning */
static gboolean
get_frame_rate_attr (ParseCtx * ctx, const xmlNode * node, gint * n, gint * d)
{
  gchar *text = dup_attr (node, "frameRate");
  gchar **parts;
  guint64 num = 0, den = 1;
  gboolean ok, decimal = FALSE;

  if (text == NULL)
    return TRUE;
  parts = g_strsplit (text, "/", 3);
  ok = parts[0] != NULL && parse_uint64 (parts[0], &num)
      && (parts[1] == NULL || (parts[2] == NULL
          && parse_uint64 (parts[1], &den)));
  if (!ok && parts[0] != NULL && parts[1] == NULL)
    ok = decimal = parse_decimal_frame_rate (parts[0], &num, &den);
  ok = ok && num > 0 && den > 0 && num <= G_MAXINT && den <= G_MAXINT;
  g_strfreev (parts);
  if (!ok) {
    invalid_attr (ctx, node, "frameRate", text, "is not a frame rate");
  } else {
    if (decimal)
      set_warning (ctx, "%s@frameRate '%s' is not written as a fraction: "
          "read as %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, node->name,
          text, num, den);
    *n = num;
    *d = den;
  }
  g_free (text);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* URLs */

static gchar *
resolve_url (ParseCtx * ctx, const gchar * base, const gchar * reference,
    const gchar * what)
{
  GError *uri_error = NULL;
  gchar *resolved;

  resolved = mesh_uri_resolve (base, reference, &uri_error);
  if (resolved == NULL) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "%s '%s' cannot be resolved: %s",
        what, reference, uri_error->message);
    g_error_free (uri_error);
  } else if (strlen (resolved) > MAX_URL_LENGTH) {
    set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "%s resolves to a URL "
        "longer than %u bytes", what, MAX_URL_LENGTH);
    g_clear_pointer (&resolved, g_free);
  } else {
    /* g_uri_to_string() hands over a GString's buffer, with up to as much
     * again of spare room: that would double what the model holds */
    resolved = g_realloc (resolved, strlen (resolved) + 1);
  }
  return resolved;
}

/* The first BaseURL child of @node resolved against @parent, or @parent */
static gchar *
resolve_base_url (ParseCtx * ctx, const xmlNode * node, const gchar * parent)
{
  xmlNode *base = first_child (node, "BaseURL");
  gchar *text, *resolved;

  if (base == NULL)
    return g_strdup (parent);
  text = node_text (base);
  resolved = resolve_url (ctx, parent, text, "BaseURL");
  g_free (text);
  return resolved;
}

/* ------------------------------------------------------------------------ */
/* Segment information of one level (Period, AdaptationSet, Representation) */

enum
{
  SEG_TIMESCALE = 1 << 0,
  SEG_PTO = 1 << 1,
  SEG_DURATION = 1 << 2,
  SEG_START_NUMBER = 1 << 3,
  SEG_END_NUMBER = 1 << 4,
  SEG_MEDIA = 1 << 5,
  SEG_INIT_TEMPLATE = 1 << 6,
  SEG_INIT = 1 << 7,
  SEG_INDEX_RANGE = 1 << 8,
  SEG_TIMELINE = 1 << 9,
  SEG_URLS = 1 << 10,
};

/* What one level says, with a bit per attribute it sets so that lower levels
 * override attribute by attribute. URLs are kept as written: they resolve
 * against the Representation's BaseURL. */
typedef struct
{
  MeshDashSegmentsKind kind;    /* NONE: no segment element at this level */
  guint set;
  MeshDashSegmentInfo info;
  /* info.urls resolved for the last Representation that inherited them:
   * the next one with the same BaseURL shares them */
  gchar *resolved_base;
  GPtrArray *resolved_urls;
} SegmentLevel;

static void
segment_url_free (MeshDashSegmentUrl * url)
{
  g_free (url->media);
  g_free (url);
}

static void
segment_info_clear (MeshDashSegmentInfo * info)
{
  g_free (info->media_template);
  g_free (info->init_template);
  g_free (info->init_url);
  g_clear_pointer (&info->timeline, g_array_unref);
  g_clear_pointer (&info->urls, g_ptr_array_unref);
}

static void
segment_level_clear (SegmentLevel * level)
{
  segment_info_clear (&level->info);
  g_free (level->resolved_base);
  g_clear_pointer (&level->resolved_urls, g_ptr_array_unref);
  memset (level, 0, sizeof (*level));
}

static gboolean
add_timeline_entry (ParseCtx * ctx, const xmlNode * s, guint position,
    GArray * timeline, guint64 * end, gboolean * open)
{
  MeshDashTimelineEntry entry;
  gboolean has_t;

  if (!get_uint_attr (ctx, s, "t", 0, G_MAXUINT64, &entry.t, &has_t)
      || !get_uint_attr (ctx, s, "d", 1, G_MAXUINT64, &entry.d, NULL)
      || !get_repeat_attr (ctx, s, &entry.r))
    return FALSE;
  if (xmlHasProp (s, (const xmlChar *) "d") == NULL) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "SegmentTimeline: S %u: S@d is "
        "missing", position);
    return FALSE;
  }
  if (!has_t) {
    if (*open) {
      set_error (ctx, MESH_DASH_ERROR_INVALID, "SegmentTimeline: S %u: S@t "
          "is required after an S with @r=-1", position);
      return FALSE;
    }
    /* the first S starts at 0 when it does not say */
    entry.t = *end;
  } else if (timeline->len > 0) {
    const MeshDashTimelineEntry *prev = &g_array_index (timeline,
        MeshDashTimelineEntry, timeline->len - 1);

    if (*open ? entry.t <= prev->t : entry.t < *end) {
      set_error (ctx, MESH_DASH_ERROR_INVALID, "SegmentTimeline: S %u: S@t %"
          G_GUINT64_FORMAT " goes back into the previous S", position, entry.t);
      return FALSE;
    }
  }

  /* r = -1 lasts at least one segment; its real end is known later */
  {
    guint64 count = entry.r >= 0 ? (guint64) entry.r + 1 : 1;

    if (entry.d > G_MAXUINT64 / count
        || entry.t > G_MAXUINT64 - entry.d * count) {
      set_error (ctx, MESH_DASH_ERROR_INVALID, "SegmentTimeline: S %u: the "
          "timeline overflows", position);
      return FALSE;
    }
    *end = entry.t + entry.d * count;
  }
  *open = entry.r < 0;
  g_array_append_val (timeline, entry);
  return TRUE;
}

static gboolean
parse_timeline (ParseCtx * ctx, const xmlNode * node, GArray ** out)
{
  GArray *timeline = g_array_new (FALSE, FALSE,
      sizeof (MeshDashTimelineEntry));
  guint64 end = 0;
  gboolean open = FALSE;
  guint position = 0;
  xmlNode *child;

  for (child = node->children; child != NULL; child = child->next) {
    if (!is_element (child, "S"))
      continue;
    if (timeline->len >= MAX_TIMELINE_ENTRIES) {
      set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "SegmentTimeline has more "
          "than %u S elements", MAX_TIMELINE_ENTRIES);
      g_array_unref (timeline);
      return FALSE;
    }
    if (!add_timeline_entry (ctx, child, ++position, timeline, &end, &open)) {
      g_array_unref (timeline);
      return FALSE;
    }
  }
  if (timeline->len == 0) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "SegmentTimeline has no S");
    g_array_unref (timeline);
    return FALSE;
  }
  *out = timeline;
  return TRUE;
}

static gboolean
parse_initialization (ParseCtx * ctx, const xmlNode * node,
    SegmentLevel * level)
{
  xmlNode *init = first_child (node, "Initialization");

  /* an early spelling some packagers still write */
  if (init == NULL)
    init = first_child (node, "Initialisation");
  if (init == NULL)
    return TRUE;
  level->set |= SEG_INIT;
  level->info.init_url = dup_attr (init, "sourceURL");
  level->info.init_offset = level->info.init_size = -1;
  return get_range_attr (ctx, init, "range", &level->info.init_offset,
      &level->info.init_size, NULL);
}

static gboolean
parse_segment_urls (ParseCtx * ctx, const xmlNode * node, SegmentLevel * level)
{
  xmlNode *child;

  for (child = node->children; child != NULL; child = child->next) {
    MeshDashSegmentUrl *url;

    if (!is_element (child, "SegmentURL"))
      continue;
    if (level->info.urls != NULL && level->info.urls->len >= MAX_SEGMENT_URLS) {
      set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "SegmentList has more "
          "than %u SegmentURL elements", MAX_SEGMENT_URLS);
      return FALSE;
    }
    if (level->info.urls == NULL) {
      level->info.urls =
          g_ptr_array_new_with_free_func ((GDestroyNotify) segment_url_free);
      level->set |= SEG_URLS;
    }
    url = g_new0 (MeshDashSegmentUrl, 1);
    url->media = dup_attr (child, "media");
    url->media_offset = url->media_size = -1;
    g_ptr_array_add (level->info.urls, url);
    if (!get_range_attr (ctx, child, "mediaRange", &url->media_offset,
            &url->media_size, NULL))
      return FALSE;
  }
  return TRUE;
}

/* Attributes of SegmentBaseType, MultipleSegmentBaseType and
 * SegmentTemplate, each flagged when present */
static gboolean
parse_segment_attributes (ParseCtx * ctx, const xmlNode * node,
    SegmentLevel * level)
{
  MeshDashSegmentInfo *info = &level->info;
  guint64 end_number = 0;
  gboolean present;

#define FLAG_IF(bit) G_STMT_START { if (present) level->set |= (bit); } G_STMT_END
  if (!get_uint_attr (ctx, node, "timescale", 1, G_MAXUINT32, &info->timescale,
          &present))
    return FALSE;
  FLAG_IF (SEG_TIMESCALE);
  if (!get_uint_attr (ctx, node, "presentationTimeOffset", 0, G_MAXUINT64,
          &info->presentation_time_offset, &present))
    return FALSE;
  FLAG_IF (SEG_PTO);
  if (!get_uint_attr (ctx, node, "duration", 1, G_MAXUINT64, &info->duration,
          &present))
    return FALSE;
  FLAG_IF (SEG_DURATION);
  if (!get_uint_attr (ctx, node, "startNumber", 0, G_MAXUINT64,
          &info->start_number, &present))
    return FALSE;
  FLAG_IF (SEG_START_NUMBER);
  if (!get_uint_attr (ctx, node, "endNumber", 0, G_MAXINT64, &end_number,
          &present))
    return FALSE;
  info->end_number = end_number;
  FLAG_IF (SEG_END_NUMBER);
  if (!get_range_attr (ctx, node, "indexRange", &info->index_offset,
          &info->index_size, &present))
    return FALSE;
  FLAG_IF (SEG_INDEX_RANGE);
#undef FLAG_IF

  if (level->kind == MESH_DASH_SEGMENTS_TEMPLATE) {
    info->media_template = dup_attr (node, "media");
    if (info->media_template != NULL)
      level->set |= SEG_MEDIA;
    info->init_template = dup_attr (node, "initialization");
    if (info->init_template != NULL)
      level->set |= SEG_INIT_TEMPLATE;
  }
  return TRUE;
}

/* The first SegmentTemplate, SegmentList or SegmentBase child of @node */
static gboolean
parse_segment_level (ParseCtx * ctx, const xmlNode * node, SegmentLevel * level)
{
  xmlNode *child, *timeline;

  memset (level, 0, sizeof (*level));
  for (child = node->children; child != NULL; child = child->next) {
    if (is_element (child, "SegmentTemplate"))
      level->kind = MESH_DASH_SEGMENTS_TEMPLATE;
    else if (is_element (child, "SegmentList"))
      level->kind = MESH_DASH_SEGMENTS_LIST;
    else if (is_element (child, "SegmentBase"))
      level->kind = MESH_DASH_SEGMENTS_BASE;
    else
      continue;
    break;
  }
  if (child == NULL)
    return TRUE;

  if (!parse_segment_attributes (ctx, child, level)
      || !parse_initialization (ctx, child, level))
    return FALSE;
  timeline = first_child (child, "SegmentTimeline");
  if (timeline != NULL && level->kind != MESH_DASH_SEGMENTS_BASE) {
    if (!parse_timeline (ctx, timeline, &level->info.timeline))
      return FALSE;
    level->set |= SEG_TIMELINE;
  }
  if (level->kind == MESH_DASH_SEGMENTS_LIST)
    return parse_segment_urls (ctx, child, level);
  return TRUE;
}

/* The lowest of the levels (Period, AdaptationSet, Representation) that sets
 * @bit */
/* The lowest of the levels that sets @bit */
static SegmentLevel *
pick_level (SegmentLevel * const *levels, guint bit)
{
  gint i;

  for (i = 2; i >= 0; i--) {
    if (levels[i] != NULL && (levels[i]->set & bit))
      return levels[i];
  }
  return NULL;
}

static const MeshDashSegmentInfo *
pick (SegmentLevel * const *levels, guint bit)
{
  SegmentLevel *level = pick_level (levels, bit);

  return level ? &level->info : NULL;
}

/* Counts @bytes that a Representation takes from the levels above it (or
 * that its own attributes cost) against MAX_MODEL_BYTES */
static gboolean
charge_inherited (ParseCtx * ctx, gsize bytes)
{
  ctx->inherited_bytes += bytes;
  if (ctx->inherited_bytes <= MAX_MODEL_BYTES)
    return TRUE;
  set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "the Representations of the "
      "MPD take more than %u MiB (what an AdaptationSet or a Period says is "
      "repeated in each of its Representations)", MAX_MODEL_BYTES >> 20);
  return FALSE;
}

static gsize
string_cost (const gchar * s)
{
  return s ? strlen (s) + 1 : 0;
}

/* The SegmentURLs of @level resolved against @base_url, a new array */
static GPtrArray *
resolve_segment_urls (ParseCtx * ctx, const SegmentLevel * level,
    const gchar * base_url)
{
  GPtrArray *urls =
      g_ptr_array_new_with_free_func ((GDestroyNotify) segment_url_free);
  gsize cost = 0;
  guint i;

  for (i = 0; i < level->info.urls->len; i++) {
    const MeshDashSegmentUrl *src = g_ptr_array_index (level->info.urls, i);
    MeshDashSegmentUrl *url = g_new0 (MeshDashSegmentUrl, 1);

    g_ptr_array_add (urls, url);
    url->media_offset = src->media_offset;
    url->media_size = src->media_size;
    if (src->media != NULL) {
      url->media = resolve_url (ctx, base_url, src->media, "SegmentURL@media");
      if (url->media == NULL) {
        g_ptr_array_unref (urls);
        return NULL;
      }
    }
    cost += sizeof (*url) + sizeof (gpointer) + string_cost (url->media);
  }
  if (!charge_inherited (ctx, cost)) {
    g_ptr_array_unref (urls);
    return NULL;
  }
  return urls;
}

static gboolean
inherit_urls (ParseCtx * ctx, SegmentLevel * const *levels,
    MeshDashRepresentation * rep)
{
  MeshDashSegmentInfo *info = &rep->segments;
  const MeshDashSegmentInfo *from;
  SegmentLevel *level;

  if ((from = pick (levels, SEG_INIT)) != NULL) {
    info->init_url = from->init_url ? resolve_url (ctx, rep->base_url,
        from->init_url, "Initialization@sourceURL") : g_strdup (rep->base_url);
    if (info->init_url == NULL)
      return FALSE;
    info->init_offset = from->init_offset;
    info->init_size = from->init_size;
  }
  if ((level = pick_level (levels, SEG_URLS)) == NULL)
    return TRUE;
  /* Representations of one file each resolve them differently; those
   * that share a BaseURL share the result */
  if (level->resolved_urls == NULL
      || g_strcmp0 (level->resolved_base, rep->base_url) != 0) {
    GPtrArray *urls = resolve_segment_urls (ctx, level, rep->base_url);

    if (urls == NULL)
      return FALSE;
    g_clear_pointer (&level->resolved_urls, g_ptr_array_unref);
    g_free (level->resolved_base);
    level->resolved_urls = urls;
    level->resolved_base = g_strdup (rep->base_url);
  }
  info->urls = g_ptr_array_ref (level->resolved_urls);
  return TRUE;
}

static void
inherit_attributes (SegmentLevel * const *levels, MeshDashSegmentInfo * info)
{
  const MeshDashSegmentInfo *from;

  info->timescale = 1;
  info->start_number = 1;
  info->end_number = -1;
  info->init_offset = info->init_size = -1;
  info->index_offset = info->index_size = -1;
  if ((from = pick (levels, SEG_TIMESCALE)) != NULL)
    info->timescale = from->timescale;
  if ((from = pick (levels, SEG_PTO)) != NULL)
    info->presentation_time_offset = from->presentation_time_offset;
  if ((from = pick (levels, SEG_DURATION)) != NULL)
    info->duration = from->duration;
  if ((from = pick (levels, SEG_START_NUMBER)) != NULL)
    info->start_number = from->start_number;
  if ((from = pick (levels, SEG_END_NUMBER)) != NULL)
    info->end_number = from->end_number;
  if ((from = pick (levels, SEG_MEDIA)) != NULL)
    info->media_template = g_strdup (from->media_template);
  if ((from = pick (levels, SEG_INIT_TEMPLATE)) != NULL)
    info->init_template = g_strdup (from->init_template);
  if ((from = pick (levels, SEG_INDEX_RANGE)) != NULL) {
    info->index_offset = from->index_offset;
    info->index_size = from->index_size;
  }
  /* shared: a long timeline inherited by many Representations would
   * otherwise cost their product */
  if ((from = pick (levels, SEG_TIMELINE)) != NULL)
    info->timeline = g_array_ref (from->timeline);
}

static gboolean
check_template (ParseCtx * ctx, const MeshDashRepresentation * rep,
    const gchar * template, const gchar * what, gboolean is_init)
{
  GError *template_error = NULL;
  gchar *url;

  url = mesh_dash_expand_template (rep, template,
      rep->segments.start_number, 0, !is_init, &template_error);
  if (url == NULL) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "%s: %s", what,
        template_error->message);
    g_error_free (template_error);
    return FALSE;
  }
  g_free (url);
  return TRUE;
}

static gboolean
check_timeline_range (ParseCtx * ctx, const MeshDashSegmentInfo * info)
{
  const MeshDashTimelineEntry *last;
  guint64 end;

  if (info->timeline == NULL)
    return TRUE;
  last = &g_array_index (info->timeline, MeshDashTimelineEntry,
      info->timeline->len - 1);
  /* checked against overflow while parsing */
  end = last->t + last->d * (last->r >= 0 ? (guint64) last->r + 1 : 1);
  if (gst_util_uint64_scale (end, GST_SECOND, info->timescale) >= MAX_TIME_NS) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "SegmentTimeline ends too far "
        "in the future");
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_segment_info (ParseCtx * ctx, const MeshDashRepresentation * rep)
{
  const MeshDashSegmentInfo *info = &rep->segments;

  if (info->end_number >= 0 && (guint64) info->end_number < info->start_number) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "@endNumber %" G_GINT64_FORMAT
        " is before @startNumber %" G_GUINT64_FORMAT, info->end_number,
        info->start_number);
    return FALSE;
  }
  if (!check_timeline_range (ctx, info))
    return FALSE;

  switch (info->kind) {
    case MESH_DASH_SEGMENTS_TEMPLATE:
      if (info->media_template == NULL) {
        set_error (ctx, MESH_DASH_ERROR_INVALID,
            "SegmentTemplate@media is missing");
        return FALSE;
      }
      if (info->timeline == NULL && info->duration == 0) {
        set_error (ctx, MESH_DASH_ERROR_INVALID, "SegmentTemplate has neither "
            "@duration nor SegmentTimeline");
        return FALSE;
      }
      if (!check_template (ctx, rep, info->media_template,
              "SegmentTemplate@media", FALSE))
        return FALSE;
      if (info->init_template != NULL && !check_template (ctx, rep,
              info->init_template, "SegmentTemplate@initialization", TRUE))
        return FALSE;
      break;
    case MESH_DASH_SEGMENTS_LIST:
      if (info->urls == NULL || info->urls->len == 0) {
        set_error (ctx, MESH_DASH_ERROR_INVALID, "SegmentList has no "
            "SegmentURL");
        return FALSE;
      }
      if (info->urls->len > 1 && info->timeline == NULL && info->duration == 0) {
        set_error (ctx, MESH_DASH_ERROR_INVALID, "SegmentList has neither "
            "@duration nor SegmentTimeline");
        return FALSE;
      }
      break;
    default:
      break;
  }
  return TRUE;
}

/* Fills rep->segments from the three levels, rep->base_url being known;
 * @own_base_url: the Representation or its AdaptationSet has a BaseURL */
static gboolean
resolve_segment_info (ParseCtx * ctx, SegmentLevel * const *levels,
    gboolean own_base_url, MeshDashRepresentation * rep)
{
  gint i;

  rep->segments.kind = own_base_url ? MESH_DASH_SEGMENTS_SINGLE :
      MESH_DASH_SEGMENTS_NONE;
  for (i = 2; i >= 0; i--) {
    if (levels[i] != NULL && levels[i]->kind != MESH_DASH_SEGMENTS_NONE) {
      rep->segments.kind = levels[i]->kind;
      break;
    }
  }
  inherit_attributes (levels, &rep->segments);
  return inherit_urls (ctx, levels, rep) && check_segment_info (ctx, rep);
}

/* ------------------------------------------------------------------------ */
/* Representation */

/* What a Representation inherits from its AdaptationSet */
typedef struct
{
  const gchar *base_url;
  const gchar *mime_type;
  const gchar *codecs;
  gint width, height;
  gint framerate_n, framerate_d;
  SegmentLevel *period_level;   /* shared SegmentURLs are cached there */
  SegmentLevel *as_level;
  gboolean as_base_url;         /* the AdaptationSet has a BaseURL */
  /* the AdaptationSet's, where the Representation's are folded */
  GPtrArray *content_protections;
} RepresentationDefaults;

static gboolean add_content_protections (ParseCtx * ctx, const xmlNode * node,
    GPtrArray * list);

static void
representation_free (MeshDashRepresentation * rep)
{
  if (rep == NULL)
    return;
  g_free (rep->id);
  g_free (rep->codecs);
  g_free (rep->mime_type);
  g_free (rep->base_url);
  segment_info_clear (&rep->segments);
  g_free (rep);
}

static gboolean
parse_representation_attributes (ParseCtx * ctx, const xmlNode * node,
    const RepresentationDefaults * defaults, MeshDashRepresentation * rep)
{
  guint64 width = defaults->width, height = defaults->height;

  rep->framerate_n = defaults->framerate_n;
  rep->framerate_d = defaults->framerate_d;
  if (!get_uint_attr (ctx, node, "bandwidth", 0, G_MAXUINT64,
          &rep->bandwidth, NULL)
      || !get_uint_attr (ctx, node, "width", 0, G_MAXINT, &width, NULL)
      || !get_uint_attr (ctx, node, "height", 0, G_MAXINT, &height, NULL)
      || !get_frame_rate_attr (ctx, node, &rep->framerate_n, &rep->framerate_d))
    return FALSE;
  /* mandatory, but meaningless for a sidecar subtitle file, where it is
   * often left out: the lowest then */
  if (xmlHasProp (node, (const xmlChar *) "bandwidth") == NULL)
    set_warning (ctx, "Representation@bandwidth is missing: 0 assumed");
  rep->width = width;
  rep->height = height;
  rep->codecs = dup_attr (node, "codecs");
  if (rep->codecs == NULL)
    rep->codecs = g_strdup (defaults->codecs);
  rep->mime_type = dup_attr (node, "mimeType");
  if (rep->mime_type == NULL)
    rep->mime_type = g_strdup (defaults->mime_type);
  return TRUE;
}

/* What @rep holds of its own (shared timelines and SegmentURLs are
 * counted where they are made) */
static gsize
representation_cost (const MeshDashRepresentation * rep)
{
  const MeshDashSegmentInfo *info = &rep->segments;

  return sizeof (*rep) + string_cost (rep->id) + string_cost (rep->codecs)
      + string_cost (rep->mime_type) + string_cost (rep->base_url)
      + string_cost (info->media_template) + string_cost (info->init_template)
      + string_cost (info->init_url);
}

static MeshDashRepresentation *
parse_representation (ParseCtx * ctx, const xmlNode * node, guint position,
    const RepresentationDefaults * defaults)
{
  MeshDashRepresentation *rep = g_new0 (MeshDashRepresentation, 1);
  SegmentLevel level;
  SegmentLevel *levels[3];
  gboolean ok;

  rep->framerate_d = 1;
  rep->id = dup_attr (node, "id");
  ctx_enter (ctx, WHERE_REPRESENTATION, "Representation", rep->id, position);
  if (rep->id == NULL) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "Representation@id is missing");
    representation_free (rep);
    return NULL;
  }
  if (!parse_representation_attributes (ctx, node, defaults, rep)
      || !add_content_protections (ctx, node, defaults->content_protections)
      || !(rep->base_url = resolve_base_url (ctx, node, defaults->base_url))) {
    representation_free (rep);
    return NULL;
  }

  ok = parse_segment_level (ctx, node, &level);
  if (ok) {
    levels[0] = defaults->period_level;
    levels[1] = defaults->as_level;
    levels[2] = &level;
    ok = resolve_segment_info (ctx, levels, defaults->as_base_url
        || first_child (node, "BaseURL") != NULL, rep)
        && charge_inherited (ctx, representation_cost (rep));
  }
  segment_level_clear (&level);
  if (!ok) {
    representation_free (rep);
    return NULL;
  }
  ctx_leave (ctx, WHERE_REPRESENTATION);
  return rep;
}

/* ------------------------------------------------------------------------ */
/* AdaptationSet */

static void
content_protection_free (MeshDashContentProtection * cp)
{
  if (cp == NULL)
    return;
  g_free (cp->scheme_id_uri);
  g_free (cp->value);
  g_free (cp->default_kid);
  g_free (cp->xml);
  g_clear_pointer (&cp->pssh, g_bytes_unref);
  g_free (cp);
}

static void
adaptation_set_free (MeshDashAdaptationSet * as)
{
  if (as == NULL)
    return;
  g_free (as->id);
  g_free (as->mime_type);
  g_free (as->codecs);
  g_free (as->lang);
  g_clear_pointer (&as->roles, g_ptr_array_unref);
  g_clear_pointer (&as->content_protections, g_ptr_array_unref);
  g_clear_pointer (&as->representations, g_ptr_array_unref);
  g_free (as);
}

/* The element with the namespace declarations it uses, so that a DRM
 * system reading it alone understands the cenc: prefix. Copying into a
 * document of its own declares them on the copy. */
static gchar *
serialise_element (const xmlNode * node)
{
  xmlDoc *doc = xmlNewDoc ((const xmlChar *) "1.0");
  xmlNode *copy = xmlDocCopyNode ((xmlNode *) node, doc, 1);
  xmlBuffer *buffer = xmlBufferCreate ();
  gchar *xml = NULL;

  if (copy != NULL && buffer != NULL) {
    xmlDocSetRootElement (doc, copy);
    if (xmlNodeDump (buffer, doc, copy, 0, 0) >= 0)
      xml = g_strdup ((const gchar *) xmlBufferContent (buffer));
  }
  if (buffer != NULL)
    xmlBufferFree (buffer);
  xmlFreeDoc (doc);
  return xml;
}

/* g_base64_decode() accepts anything: check first */
static gboolean
is_base64 (const gchar * text)
{
  gsize n = 0, padding = 0;

  for (; *text != '\0'; text++, n++) {
    if (*text == '=')
      padding++;
    else if (padding > 0 || !(g_ascii_isalnum (*text) || *text == '+'
            || *text == '/'))
      return FALSE;
  }
  return n > 0 && n % 4 == 0 && padding <= 2;
}

static gboolean
parse_pssh (ParseCtx * ctx, const xmlNode * node,
    MeshDashContentProtection * cp)
{
  xmlNode *child;
  gchar *text, **words, *joined;
  guchar *data;
  gsize len;

  for (child = node->children; child != NULL; child = child->next) {
    if (is_cenc_element (child, "pssh"))
      break;
  }
  if (child == NULL)
    return TRUE;

  /* base64 may be wrapped over lines */
  text = node_text (child);
  words = g_strsplit_set (text, " \t\r\n", -1);
  joined = g_strjoinv ("", words);
  g_strfreev (words);
  g_free (text);
  if (!is_base64 (joined)) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "ContentProtection '%s': "
        "cenc:pssh is not base64", cp->scheme_id_uri);
    g_free (joined);
    return FALSE;
  }
  data = g_base64_decode (joined, &len);
  cp->pssh = g_bytes_new_take (data, len);
  g_free (joined);
  return TRUE;
}

static MeshDashContentProtection *
parse_content_protection (ParseCtx * ctx, const xmlNode * node)
{
  MeshDashContentProtection *cp = g_new0 (MeshDashContentProtection, 1);

  if (!require_attr (ctx, node, "schemeIdUri", &cp->scheme_id_uri)) {
    content_protection_free (cp);
    return NULL;
  }
  cp->value = dup_attr (node, "value");
  cp->default_kid = dup_ns_attr (node, "default_KID", CENC_NS);
  cp->xml = serialise_element (node);
  if (!parse_pssh (ctx, node, cp)) {
    content_protection_free (cp);
    return NULL;
  }
  return cp;
}

static gboolean
same_protection (const MeshDashContentProtection * a,
    const MeshDashContentProtection * b)
{
  return g_strcmp0 (a->scheme_id_uri, b->scheme_id_uri) == 0
      && g_strcmp0 (a->value, b->value) == 0
      && g_strcmp0 (a->default_kid, b->default_kid) == 0;
}

/* ContentProtection children of @node, appended unless already listed */
static gboolean
add_content_protections (ParseCtx * ctx, const xmlNode * node, GPtrArray * list)
{
  xmlNode *child;

  for (child = node->children; child != NULL; child = child->next) {
    MeshDashContentProtection *cp;
    guint i;

    if (!is_element (child, "ContentProtection"))
      continue;
    if ((cp = parse_content_protection (ctx, child)) == NULL)
      return FALSE;
    for (i = 0; i < list->len; i++) {
      if (same_protection (g_ptr_array_index (list, i), cp))
        break;
    }
    if (i < list->len) {
      content_protection_free (cp);
    } else if (list->len >= MAX_CONTENT_PROTECTIONS) {
      content_protection_free (cp);
      set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "more than %u different "
          "ContentProtection elements", MAX_CONTENT_PROTECTIONS);
      return FALSE;
    } else {
      g_ptr_array_add (list, cp);
    }
  }
  return TRUE;
}

static gboolean
add_roles (ParseCtx * ctx, const xmlNode * node, GPtrArray * roles)
{
  xmlNode *child;

  for (child = node->children; child != NULL; child = child->next) {
    gchar *scheme, *value;

    if (!is_element (child, "Role"))
      continue;
    if (!require_attr (ctx, child, "schemeIdUri", &scheme))
      return FALSE;
    value = dup_attr (child, "value");
    if (strcmp (scheme, ROLE_SCHEME) == 0 && value != NULL)
      g_ptr_array_add (roles, value);
    else
      g_free (value);
    g_free (scheme);
  }
  return TRUE;
}

static MeshDashContentType
content_type_from_mime (const gchar * mime, const gchar * codecs)
{
  if (mime == NULL)
    return MESH_DASH_CONTENT_UNKNOWN;
  if (g_str_has_prefix (mime, "video/"))
    return MESH_DASH_CONTENT_VIDEO;
  if (g_str_has_prefix (mime, "audio/"))
    return MESH_DASH_CONTENT_AUDIO;
  if (g_str_has_prefix (mime, "text/")
      || strcmp (mime, "application/ttml+xml") == 0)
    return MESH_DASH_CONTENT_TEXT;
  /* subtitles in fragmented MP4 */
  if (strcmp (mime, "application/mp4") == 0 && codecs != NULL
      && (g_str_has_prefix (codecs, "stpp") || g_str_has_prefix (codecs,
              "wvtt")))
    return MESH_DASH_CONTENT_TEXT;
  return MESH_DASH_CONTENT_UNKNOWN;
}

static MeshDashContentType
content_type_of (const xmlNode * node, const MeshDashAdaptationSet * as)
{
  gchar *content_type = dup_attr (node, "contentType");
  MeshDashContentType type = MESH_DASH_CONTENT_UNKNOWN;

  if (g_strcmp0 (content_type, "video") == 0)
    type = MESH_DASH_CONTENT_VIDEO;
  else if (g_strcmp0 (content_type, "audio") == 0)
    type = MESH_DASH_CONTENT_AUDIO;
  else if (g_strcmp0 (content_type, "text") == 0)
    type = MESH_DASH_CONTENT_TEXT;
  g_free (content_type);

  if (type == MESH_DASH_CONTENT_UNKNOWN)
    type = content_type_from_mime (as->mime_type, as->codecs);
  /* mimeType is often only on the Representations */
  if (type == MESH_DASH_CONTENT_UNKNOWN && as->representations->len > 0) {
    const MeshDashRepresentation *rep = g_ptr_array_index
        (as->representations, 0);

    type = content_type_from_mime (rep->mime_type, rep->codecs);
  }
  return type;
}

static gint
compare_bandwidth (gconstpointer a, gconstpointer b)
{
  const MeshDashRepresentation *ra = *(MeshDashRepresentation **) a;
  const MeshDashRepresentation *rb = *(MeshDashRepresentation **) b;

  return ra->bandwidth < rb->bandwidth ? -1 : ra->bandwidth > rb->bandwidth;
}

static gboolean
parse_representations (ParseCtx * ctx, const xmlNode * node,
    const RepresentationDefaults * defaults, MeshDashAdaptationSet * as)
{
  xmlNode *child;
  guint position = 0;

  for (child = node->children; child != NULL; child = child->next) {
    MeshDashRepresentation *rep;

    if (!is_element (child, "Representation"))
      continue;
    if (position >= MAX_REPRESENTATIONS) {
      set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "more than %u "
          "Representations", MAX_REPRESENTATIONS);
      return FALSE;
    }
    rep = parse_representation (ctx, child, ++position, defaults);
    if (rep == NULL)
      return FALSE;
    g_ptr_array_add (as->representations, rep);
  }
  /* g_ptr_array_sort() is stable */
  g_ptr_array_sort (as->representations, compare_bandwidth);
  return TRUE;
}

static gboolean
parse_adaptation_set_body (ParseCtx * ctx, const xmlNode * node,
    RepresentationDefaults * defaults, MeshDashAdaptationSet * as)
{
  guint64 width = 0, height = 0;
  SegmentLevel level;
  gchar *base_url;
  gboolean ok;

  defaults->framerate_d = 1;
  if (!get_uint_attr (ctx, node, "width", 0, G_MAXINT, &width, NULL)
      || !get_uint_attr (ctx, node, "height", 0, G_MAXINT, &height, NULL)
      || !get_frame_rate_attr (ctx, node, &defaults->framerate_n,
          &defaults->framerate_d)
      || !add_roles (ctx, node, as->roles)
      || !add_content_protections (ctx, node, as->content_protections))
    return FALSE;
  defaults->width = width;
  defaults->height = height;
  defaults->mime_type = as->mime_type;
  defaults->codecs = as->codecs;

  base_url = resolve_base_url (ctx, node, defaults->base_url);
  if (base_url == NULL)
    return FALSE;
  defaults->base_url = base_url;
  defaults->as_base_url = first_child (node, "BaseURL") != NULL;
  ok = parse_segment_level (ctx, node, &level);
  if (ok) {
    defaults->as_level = &level;
    ok = parse_representations (ctx, node, defaults, as);
  }
  segment_level_clear (&level);
  g_free (base_url);
  if (ok)
    as->content_type = content_type_of (node, as);
  return ok;
}

static MeshDashAdaptationSet *
parse_adaptation_set (ParseCtx * ctx, const xmlNode * node, guint position,
    const gchar * period_base, SegmentLevel * period_level)
{
  MeshDashAdaptationSet *as = g_new0 (MeshDashAdaptationSet, 1);
  RepresentationDefaults defaults = { 0, };

  as->id = dup_attr (node, "id");
  ctx_enter (ctx, WHERE_ADAPTATION_SET, "AdaptationSet", as->id, position);
  as->mime_type = dup_attr (node, "mimeType");
  as->codecs = dup_attr (node, "codecs");
  as->lang = dup_attr (node, "lang");
  as->roles = g_ptr_array_new_with_free_func (g_free);
  as->content_protections = g_ptr_array_new_with_free_func ((GDestroyNotify)
      content_protection_free);
  as->representations = g_ptr_array_new_with_free_func ((GDestroyNotify)
      representation_free);

  defaults.base_url = period_base;
  defaults.period_level = period_level;
  defaults.content_protections = as->content_protections;
  if (!parse_adaptation_set_body (ctx, node, &defaults, as)) {
    adaptation_set_free (as);
    return NULL;
  }
  ctx_leave (ctx, WHERE_ADAPTATION_SET);
  return as;
}

/* ------------------------------------------------------------------------ */
/* Period */

/* A Period as written, before start and duration are derived */
typedef struct
{
  MeshDashPeriod *period;
  GstClockTime start;           /* @start, NONE when absent */
  GstClockTime duration;        /* @duration, NONE when absent */
  gchar *label;                 /* for errors */
} PeriodDraft;

static void
period_free (MeshDashPeriod * period)
{
  if (period == NULL)
    return;
  g_free (period->id);
  g_clear_pointer (&period->adaptation_sets, g_ptr_array_unref);
  g_free (period);
}

static gboolean
parse_adaptation_sets (ParseCtx * ctx, const xmlNode * node,
    const gchar * base_url, SegmentLevel * level, MeshDashPeriod * period)
{
  xmlNode *child;
  guint position = 0;

  for (child = node->children; child != NULL; child = child->next) {
    MeshDashAdaptationSet *as;

    if (!is_element (child, "AdaptationSet"))
      continue;
    if (position >= MAX_ADAPTATION_SETS) {
      set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "more than %u "
          "AdaptationSets", MAX_ADAPTATION_SETS);
      return FALSE;
    }
    as = parse_adaptation_set (ctx, child, ++position, base_url, level);
    if (as == NULL)
      return FALSE;
    g_ptr_array_add (period->adaptation_sets, as);
  }
  return TRUE;
}

static gboolean
parse_period (ParseCtx * ctx, const xmlNode * node, guint position,
    const gchar * mpd_base, PeriodDraft * draft)
{
  MeshDashPeriod *period = g_new0 (MeshDashPeriod, 1);
  SegmentLevel level;
  gchar *base_url;
  gboolean ok;

  draft->period = period;
  draft->start = draft->duration = GST_CLOCK_TIME_NONE;
  period->id = dup_attr (node, "id");
  ctx_enter (ctx, WHERE_PERIOD, "Period", period->id, position);
  draft->label = g_strdup (ctx->where[WHERE_PERIOD]);
  period->adaptation_sets = g_ptr_array_new_with_free_func ((GDestroyNotify)
      adaptation_set_free);

  if (!get_duration_attr (ctx, node, "start", &draft->start)
      || !get_duration_attr (ctx, node, "duration", &draft->duration))
    return FALSE;
  base_url = resolve_base_url (ctx, node, mpd_base);
  if (base_url == NULL)
    return FALSE;
  ok = parse_segment_level (ctx, node, &level)
      && parse_adaptation_sets (ctx, node, base_url, &level, period);
  segment_level_clear (&level);
  g_free (base_url);
  if (ok)
    ctx_leave (ctx, WHERE_PERIOD);
  return ok;
}

/* Period starts and durations as ISO/IEC 23009-1 5.3.2.1 derives them */
static gboolean
derive_period_times (ParseCtx * ctx, MeshDashMpd * mpd, GArray * drafts)
{
  guint i;

  for (i = 0; i < drafts->len; i++) {
    PeriodDraft *d = &g_array_index (drafts, PeriodDraft, i);
    PeriodDraft *prev = i > 0 ? d - 1 : NULL;

    if (d->start != GST_CLOCK_TIME_NONE)
      d->period->start = d->start;
    else if (prev == NULL)
      d->period->start = 0;
    else if (prev->duration != GST_CLOCK_TIME_NONE)
      d->period->start = prev->period->start + prev->duration;
    else {
      set_error (ctx, MESH_DASH_ERROR_INVALID, "%s: Period@start is missing "
          "and the previous Period has no @duration", d->label);
      return FALSE;
    }
    if (prev != NULL && d->period->start < prev->period->start) {
      set_error (ctx, MESH_DASH_ERROR_INVALID, "%s: starts before the "
          "previous Period", d->label);
      return FALSE;
    }
  }

  for (i = 0; i < drafts->len; i++) {
    PeriodDraft *d = &g_array_index (drafts, PeriodDraft, i);
    GstClockTime start = d->period->start;

    if (d->duration != GST_CLOCK_TIME_NONE)
      d->period->duration = d->duration;
    else if (i + 1 < drafts->len)
      d->period->duration = (d + 1)->period->start - start;
    else if (mpd->media_presentation_duration == GST_CLOCK_TIME_NONE)
      d->period->duration = GST_CLOCK_TIME_NONE;
    else if (mpd->media_presentation_duration >= start)
      d->period->duration = mpd->media_presentation_duration - start;
    else {
      set_error (ctx, MESH_DASH_ERROR_INVALID, "%s: starts after the end of "
          "MPD@mediaPresentationDuration", d->label);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
parse_periods (ParseCtx * ctx, const xmlNode * root, const gchar * base_url,
    MeshDashMpd * mpd)
{
  GArray *drafts = g_array_new (FALSE, TRUE, sizeof (PeriodDraft));
  gboolean ok = TRUE;
  xmlNode *child;
  guint i;

  for (child = root->children; ok && child != NULL; child = child->next) {
    PeriodDraft draft = { 0, };

    if (!is_element (child, "Period"))
      continue;
    if (drafts->len >= MAX_PERIODS) {
      set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "more than %u Periods",
          MAX_PERIODS);
      ok = FALSE;
      break;
    }
    ok = parse_period (ctx, child, drafts->len + 1, base_url, &draft);
    g_array_append_val (drafts, draft);
  }
  if (ok && drafts->len == 0) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "MPD has no Period");
    ok = FALSE;
  }
  if (ok)
    ok = derive_period_times (ctx, mpd, drafts);

  for (i = 0; i < drafts->len; i++) {
    PeriodDraft *d = &g_array_index (drafts, PeriodDraft, i);

    if (ok)
      g_ptr_array_add (mpd->periods, d->period);
    else
      period_free (d->period);
    g_free (d->label);
  }
  g_array_unref (drafts);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* MPD */

static const struct
{
  const gchar *scheme;
  MeshDashUtcScheme value;
} utc_schemes[] = {
  {"urn:mpeg:dash:utc:http-xsdate:2014", MESH_DASH_UTC_HTTP_XSDATE},
  {"urn:mpeg:dash:utc:http-xsdate:2012", MESH_DASH_UTC_HTTP_XSDATE},
  {"urn:mpeg:dash:utc:http-iso:2014", MESH_DASH_UTC_HTTP_ISO},
  {"urn:mpeg:dash:utc:http-iso:2012", MESH_DASH_UTC_HTTP_ISO},
  {"urn:mpeg:dash:utc:http-head:2014", MESH_DASH_UTC_HTTP_HEAD},
  {"urn:mpeg:dash:utc:http-head:2012", MESH_DASH_UTC_HTTP_HEAD},
  {"urn:mpeg:dash:utc:direct:2014", MESH_DASH_UTC_DIRECT},
  {"urn:mpeg:dash:utc:direct:2012", MESH_DASH_UTC_DIRECT},
};

static void
utc_timing_free (MeshDashUtcTiming * timing)
{
  g_free (timing->value);
  g_free (timing);
}

/* NULL without error for schemes we cannot use (NTP...) */
static MeshDashUtcTiming *
parse_utc_timing (ParseCtx * ctx, const xmlNode * node)
{
  MeshDashUtcTiming *timing;
  gchar *scheme, *value, **urls;
  guint i;

  if (!require_attr (ctx, node, "schemeIdUri", &scheme))
    return NULL;
  for (i = 0; i < G_N_ELEMENTS (utc_schemes); i++) {
    if (strcmp (scheme, utc_schemes[i].scheme) == 0)
      break;
  }
  g_free (scheme);
  if (i == G_N_ELEMENTS (utc_schemes))
    return NULL;
  if (!require_attr (ctx, node, "value", &value))
    return NULL;

  timing = g_new0 (MeshDashUtcTiming, 1);
  timing->scheme = utc_schemes[i].value;
  if (timing->scheme == MESH_DASH_UTC_DIRECT) {
    timing->value = value;
    return timing;
  }
  /* a white-space separated list of servers: the first will do */
  urls = g_strsplit_set (value, " \t\r\n", 2);
  timing->value = resolve_url (ctx, ctx->url, urls[0], "UTCTiming@value");
  g_strfreev (urls);
  g_free (value);
  if (timing->value == NULL) {
    utc_timing_free (timing);
    return NULL;
  }
  return timing;
}

static gboolean
parse_utc_timings (ParseCtx * ctx, const xmlNode * root, MeshDashMpd * mpd)
{
  xmlNode *child;

  for (child = root->children; child != NULL; child = child->next) {
    MeshDashUtcTiming *timing;

    if (!is_element (child, "UTCTiming"))
      continue;
    if (mpd->utc_timings->len >= MAX_UTC_TIMINGS) {
      set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "more than %u usable "
          "UTCTiming elements", MAX_UTC_TIMINGS);
      return FALSE;
    }
    timing = parse_utc_timing (ctx, child);
    if (timing != NULL)
      g_ptr_array_add (mpd->utc_timings, timing);
    else if (*ctx->error != NULL)
      return FALSE;
  }
  return TRUE;
}

static gboolean
parse_mpd_type (ParseCtx * ctx, const xmlNode * root, MeshDashMpd * mpd)
{
  gchar *type = dup_attr (root, "type");
  gboolean ok = TRUE;

  if (type == NULL || strcmp (type, "static") == 0)
    mpd->dynamic = FALSE;
  else if (strcmp (type, "dynamic") == 0)
    mpd->dynamic = TRUE;
  else {
    invalid_attr (ctx, root, "type", type, "is neither static nor dynamic");
    ok = FALSE;
  }
  g_free (type);
  return ok;
}

static gboolean
parse_mpd_attributes (ParseCtx * ctx, const xmlNode * root, MeshDashMpd * mpd)
{
  if (!parse_mpd_type (ctx, root, mpd)
      || !get_date_time_attr (ctx, root, "availabilityStartTime",
          &mpd->availability_start_time)
      || !get_date_time_attr (ctx, root, "publishTime", &mpd->publish_time)
      || !get_duration_attr (ctx, root, "mediaPresentationDuration",
          &mpd->media_presentation_duration)
      || !get_duration_attr (ctx, root, "minimumUpdatePeriod",
          &mpd->minimum_update_period)
      || !get_duration_attr (ctx, root, "timeShiftBufferDepth",
          &mpd->time_shift_buffer_depth)
      || !get_duration_attr (ctx, root, "suggestedPresentationDelay",
          &mpd->suggested_presentation_delay)
      || !get_duration_attr (ctx, root, "minBufferTime", &mpd->min_buffer_time)
      || !get_duration_attr (ctx, root, "maxSegmentDuration",
          &mpd->max_segment_duration))
    return FALSE;
  /* mandatory, but nothing here depends on it */
  if (mpd->min_buffer_time == GST_CLOCK_TIME_NONE) {
    mpd->min_buffer_time = DEFAULT_MIN_BUFFER_TIME;
    set_warning (ctx, "MPD@minBufferTime is missing: %" GST_TIME_FORMAT
        " assumed", GST_TIME_ARGS (mpd->min_buffer_time));
  }
  if (mpd->dynamic && mpd->availability_start_time == G_MININT64) {
    set_error (ctx, MESH_DASH_ERROR_INVALID, "MPD@availabilityStartTime is "
        "missing (required in a dynamic MPD)");
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_location (ParseCtx * ctx, const xmlNode * root, MeshDashMpd * mpd)
{
  xmlNode *node = first_child (root, "Location");
  gchar *text;

  if (node == NULL)
    return TRUE;
  text = node_text (node);
  mpd->location = resolve_url (ctx, ctx->url, text, "Location");
  g_free (text);
  return mpd->location != NULL;
}

static gboolean
parse_mpd_element (ParseCtx * ctx, const xmlNode * root, MeshDashMpd * mpd)
{
  gchar *base_url;
  gboolean ok;

  if (!is_element (root, "MPD")) {
    set_error (ctx, MESH_DASH_ERROR_NOT_MPD, "the root element is <%s%s%s>, "
        "not a DASH <MPD>", root->ns && root->ns->prefix ?
        (const gchar *) root->ns->prefix : "", root->ns
        && root->ns->prefix ? ":" : "", root->name);
    return FALSE;
  }
  if (!parse_mpd_attributes (ctx, root, mpd)
      || !parse_location (ctx, root, mpd)
      || !parse_utc_timings (ctx, root, mpd))
    return FALSE;
  base_url = resolve_base_url (ctx, root, mpd->url);
  if (base_url == NULL)
    return FALSE;
  ok = parse_periods (ctx, root, base_url, mpd);
  g_free (base_url);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* XML reading */

/* Per-parse state reached from the parser context's _private */
typedef struct
{
  gboolean saw_doctype;
  gint doctype_line;
  gchar *message;               /* the first (fatal) error */
  gint line;
  gboolean fatal;
  guint elements;
  gboolean too_many_elements;
} XmlState;

static void
on_xml_error (void *user_data, xmlErrorPtr err)
{
  xmlParserCtxt *ctxt = user_data;
  XmlState *state = ctxt->_private;

  if (err == NULL || err->level < XML_ERR_ERROR)
    return;
  /* keep the first error, unless it was not fatal and this one is */
  if (state->message != NULL && (state->fatal || err->level != XML_ERR_FATAL))
    return;
  g_free (state->message);
  state->message = g_strstrip (g_strdup (err->message ? err->message :
          "unknown error"));
  state->line = err->line;
  state->fatal = err->level == XML_ERR_FATAL;
}

/* A DOCTYPE could declare entities: stop before reading any of it */
static void
on_internal_subset (void *user_data, const xmlChar * name,
    const xmlChar * external_id, const xmlChar * system_id)
{
  xmlParserCtxt *ctxt = user_data;
  XmlState *state = ctxt->_private;

  state->saw_doctype = TRUE;
  state->doctype_line = xmlSAX2GetLineNumber (ctxt);
  xmlStopParser (ctxt);
}

/* Counts elements as libxml2 builds the tree, and stops it past
 * MAX_XML_ELEMENTS: the tree is what costs memory */
static void
on_start_element (void *user_data, const xmlChar * localname,
    const xmlChar * prefix, const xmlChar * uri, int nb_namespaces,
    const xmlChar ** namespaces, int nb_attributes, int nb_defaulted,
    const xmlChar ** attributes)
{
  xmlParserCtxt *ctxt = user_data;
  XmlState *state = ctxt->_private;

  if (++state->elements > MAX_XML_ELEMENTS) {
    state->too_many_elements = TRUE;
    xmlStopParser (ctxt);
    return;
  }
  xmlSAX2StartElementNs (ctxt, localname, prefix, uri, nb_namespaces,
      namespaces, nb_attributes, nb_defaulted, attributes);
}

/* Where @needle ends after @p, or @end; the text may hold NUL bytes */
static const gchar *
skip_past (const gchar * p, const gchar * end, const gchar * needle)
{
  gsize len = strlen (needle);

  while ((p = memchr (p, needle[0], end - p)) != NULL) {
    if ((gsize) (end - p) < len)
      break;
    if (memcmp (p, needle, len) == 0)
      return p + len;
    p++;
  }
  return end;
}

/* The most attributes (and namespace declarations) on one element of
 * @text, counted as the '=' of each tag outside quoted values: a scan that
 * knows of XML only where tags are, so that it can run before libxml2 */
static guint
max_attributes (const gchar * text, gsize len)
{
  const gchar *p = text, *end = text + len;
  guint most = 0;

  while ((p = memchr (p, '<', end - p)) != NULL) {
    gchar quote = 0;
    guint n = 0;

    if (end - p >= 4 && memcmp (p, "<!--", 4) == 0) {
      p = skip_past (p + 4, end, "-->");
      continue;
    }
    if (end - p >= 9 && memcmp (p, "<![CDATA[", 9) == 0) {
      p = skip_past (p + 9, end, "]]>");
      continue;
    }
    if (end - p >= 2 && memcmp (p, "<?", 2) == 0) {
      p = skip_past (p + 2, end, "?>");
      continue;
    }
    for (p++; p < end; p++) {
      if (quote != 0) {
        if (*p == quote)
          quote = 0;
      } else if (*p == '"' || *p == '\'') {
        quote = *p;
      } else if (*p == '=') {
        n++;
      } else if (*p == '>') {
        break;
      }
    }
    most = MAX (most, n);
  }
  return most;
}

static xmlDoc *
read_xml (ParseCtx * ctx, const gchar * text, gsize len)
{
  XmlState state = { 0, };
  xmlParserCtxt *ctxt;
  xmlDoc *doc;

  if (text == NULL || len == 0) {
    set_error (ctx, MESH_DASH_ERROR_XML, "line 1: XML parse error: the "
        "document is empty");
    return NULL;
  }
  if (len > MAX_MPD_SIZE) {
    set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "the MPD is larger than "
        "%u MiB", MAX_MPD_SIZE >> 20);
    return NULL;
  }
  if (max_attributes (text, len) > MAX_ATTRIBUTES) {
    set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "an element of the MPD has "
        "more than %u attributes", MAX_ATTRIBUTES);
    return NULL;
  }
  ctxt = xmlNewParserCtxt ();
  if (ctxt == NULL) {
    set_error (ctx, MESH_DASH_ERROR_XML, "XML parse error: out of memory");
    return NULL;
  }
  ctxt->_private = &state;
  ctxt->sax->serror = on_xml_error;
  ctxt->sax->internalSubset = on_internal_subset;
  ctxt->sax->startElementNs = on_start_element;

  /* no XML_PARSE_NOENT (entities would be substituted), nor DTDLOAD */
  doc = xmlCtxtReadMemory (ctxt, text, (int) len, NULL, NULL, XML_PARSE_NONET);

  if (state.too_many_elements) {
    set_error (ctx, MESH_DASH_ERROR_UNSUPPORTED, "the MPD has more than %u "
        "XML elements", MAX_XML_ELEMENTS);
    g_clear_pointer (&doc, xmlFreeDoc);
  } else if (state.saw_doctype || (doc != NULL && (doc->intSubset != NULL
              || doc->extSubset != NULL))) {
    set_error (ctx, MESH_DASH_ERROR_XML, "line %d: XML parse error: a "
        "DOCTYPE is not allowed in an MPD", state.doctype_line);
    g_clear_pointer (&doc, xmlFreeDoc);
  } else if (doc == NULL || !ctxt->wellFormed) {
    set_error (ctx, MESH_DASH_ERROR_XML, "line %d: XML parse error: %s",
        state.message ? state.line : 1,
        state.message ? state.message : "not well-formed");
    g_clear_pointer (&doc, xmlFreeDoc);
  } else if (xmlDocGetRootElement (doc) == NULL) {
    set_error (ctx, MESH_DASH_ERROR_NOT_MPD, "the document has no root "
        "element");
    g_clear_pointer (&doc, xmlFreeDoc);
  }
  g_free (state.message);
  ctxt->_private = NULL;
  xmlFreeParserCtxt (ctxt);
  return doc;
}

static MeshDashMpd *
mpd_new (const gchar * url)
{
  MeshDashMpd *mpd = g_new0 (MeshDashMpd, 1);

  mpd->url = g_strdup (url);
  mpd->availability_start_time = G_MININT64;
  mpd->publish_time = G_MININT64;
  mpd->media_presentation_duration = GST_CLOCK_TIME_NONE;
  mpd->minimum_update_period = GST_CLOCK_TIME_NONE;
  mpd->time_shift_buffer_depth = GST_CLOCK_TIME_NONE;
  mpd->suggested_presentation_delay = GST_CLOCK_TIME_NONE;
  mpd->min_buffer_time = GST_CLOCK_TIME_NONE;
  mpd->max_segment_duration = GST_CLOCK_TIME_NONE;
  mpd->utc_timings = g_ptr_array_new_with_free_func ((GDestroyNotify)
      utc_timing_free);
  mpd->periods = g_ptr_array_new_with_free_func ((GDestroyNotify)
      period_free);
  mpd->warnings = g_ptr_array_new_with_free_func (g_free);
  return mpd;
}

MeshDashMpd *
mesh_dash_mpd_parse (const gchar * text, gsize len, const gchar * url,
    GError ** error)
{
  GError *local_error = NULL;
  ParseCtx ctx = { 0, };
  MeshDashMpd *mpd;
  xmlDoc *doc;
  GUri *uri;
  gboolean ok;

  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  ensure_initialised ();

  ctx.url = url;
  ctx.error = &local_error;
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL) {
    set_error (&ctx, MESH_DASH_ERROR_INVALID, "the MPD URL '%s' is not an "
        "absolute URL", url);
    g_propagate_error (error, local_error);
    return NULL;
  }
  g_uri_unref (uri);

  doc = read_xml (&ctx, text, len);
  if (doc == NULL) {
    g_propagate_error (error, local_error);
    return NULL;
  }
  mpd = mpd_new (url);
  ctx.warnings = mpd->warnings;
  ok = parse_mpd_element (&ctx, xmlDocGetRootElement (doc), mpd);
  xmlFreeDoc (doc);
  ctx_leave (&ctx, 0);
  if (!ok) {
    mesh_dash_mpd_free (mpd);
    g_propagate_error (error, local_error);
    return NULL;
  }
  GST_DEBUG ("parsed %s MPD %s with %u periods", mpd->dynamic ? "dynamic" :
      "static", url, mpd->periods->len);
  return mpd;
}

void
mesh_dash_mpd_free (MeshDashMpd * mpd)
{
  if (mpd == NULL)
    return;
  g_free (mpd->url);
  g_free (mpd->location);
  g_clear_pointer (&mpd->utc_timings, g_ptr_array_unref);
  g_clear_pointer (&mpd->periods, g_ptr_array_unref);
  g_clear_pointer (&mpd->warnings, g_ptr_array_unref);
  g_free (mpd);
}
