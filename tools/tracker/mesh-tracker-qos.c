/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tracker's aggregation of player reports (mesh-tracker-qos.h says what
 * and which bounds). No lock: one thread (the tracker's server thread) owns
 * a MeshTrackerQos and everything in it.
 *
 * A Connection remembers the totals its player claimed last, so that the
 * next report adds only the growth; what a report adds is capped by the
 * time since the previous one (or the join), so a client cannot inflate
 * the figures faster than a real player could. Swarm and overall totals
 * only grow; they are what /metrics exports as counters.
 */

#include "mesh-tracker-qos.h"

#include <math.h>
#include <string.h>

/* A ring of history points: the oldest is overwritten once full. */
typedef struct
{
  MeshTrackerQosPoint *points;
  guint length;
  guint start;                  /* index of the oldest */
  guint count;
} Ring;

typedef struct
{
  gchar *id;
  guint peers;                  /* joined connections */
  guint reporting;              /* of which reported */
  MeshTrackerQosTotals totals;
  Ring *ring;                   /* NULL: no history of its own */
  GList *retained_link;         /* in qos->retained while it has no peers */
  gint64 empty_since;
  guint64 ranking;              /* the last ranking it made the top of */
} Swarm;

typedef struct
{
  Swarm *swarm;
  MeshQosReport last;           /* the counters of its last report */
  gboolean reported;
  gint64 since;                 /* its last report, or its join */
} Connection;

struct _MeshTrackerQos
{
  MeshTrackerQosConfig config;
  GHashTable *swarms;           /* id -> Swarm (owned) */
  GHashTable *connections;      /* connection -> Connection (owned) */
  GQueue retained;              /* Swarm without peers, emptied first first */
  guint n_peers;
  MeshTrackerQosTotals totals;
  Ring overall;
  gint64 next_point;
  guint64 ranking;              /* rankings made for the rings */
  guint64 verdicts[MESH_TRACKER_QOS_N_VERDICTS];
};

#define OR_DEFAULT(value, fallback) ((value) ? (value) : (fallback))

/* ------------------------------------------------------------------------ */
/* Rings                                                                    */

static void
ring_init (Ring * ring, guint length)
{
  ring->points = g_new0 (MeshTrackerQosPoint, length);
  ring->length = length;
  ring->start = 0;
  ring->count = 0;
}

static Ring *
ring_new (guint length)
{
  Ring *ring = g_new (Ring, 1);

  ring_init (ring, length);
  return ring;
}

static void
ring_free (Ring * ring)
{
  if (!ring)
    return;
  g_free (ring->points);
  g_free (ring);
}

static const MeshTrackerQosPoint *
ring_last (const Ring * ring)
{
  if (ring->count == 0)
    return NULL;
  return &ring->points[(ring->start + ring->count - 1) % ring->length];
}

gdouble
mesh_tracker_qos_ratio (const MeshTrackerQosTotals * totals)
{
  guint64 all = totals->peer_bytes + totals->cdn_bytes;

  return all ? (gdouble) totals->peer_bytes / all : 0.0;
}

/* The ratio over the interval since @previous; its ratio when nothing
 * moved; the ratio of all the totals for a first point. */
static gdouble
interval_ratio (const MeshTrackerQosPoint * previous,
    const MeshTrackerQosTotals * totals)
{
  MeshTrackerQosTotals delta = { 0, };

  if (!previous)
    return mesh_tracker_qos_ratio (totals);
  delta.peer_bytes = totals->peer_bytes - previous->totals.peer_bytes;
  delta.cdn_bytes = totals->cdn_bytes - previous->totals.cdn_bytes;
  if (delta.peer_bytes + delta.cdn_bytes == 0)
    return previous->ratio;
  return mesh_tracker_qos_ratio (&delta);
}

static void
ring_push (Ring * ring, gint64 now, const MeshTrackerQosTotals * totals,
    guint peers)
{
  MeshTrackerQosPoint point = {
    .time = now,
    .totals = *totals,
    .peers = peers,
    .ratio = interval_ratio (ring_last (ring), totals),
  };

  if (ring->count < ring->length) {
    ring->points[(ring->start + ring->count) % ring->length] = point;
    ring->count++;
  } else {
    ring->points[ring->start] = point;
    ring->start = (ring->start + 1) % ring->length;
  }
}

static GArray *
ring_copy (const Ring * ring)
{
  GArray *points = g_array_sized_new (FALSE, FALSE,
      sizeof (MeshTrackerQosPoint), ring->count);
  guint i;

  for (i = 0; i < ring->count; i++)
    g_array_append_val (points, ring->points[(ring->start + i) % ring->length]);
  return points;
}

/* ------------------------------------------------------------------------ */
/* Swarms                                                                   */

static void
swarm_free (gpointer data)
{
  Swarm *swarm = data;

  ring_free (swarm->ring);
  g_free (swarm->id);
  g_free (swarm);
}

static void
swarm_forget (MeshTrackerQos * qos, Swarm * swarm)
{
  if (swarm->retained_link)
    g_queue_delete_link (&qos->retained, swarm->retained_link);
  g_hash_table_remove (qos->swarms, swarm->id);
}

static Swarm *
swarm_get (MeshTrackerQos * qos, const gchar * id)
{
  Swarm *swarm = g_hash_table_lookup (qos->swarms, id);

  if (!swarm) {
    swarm = g_new0 (Swarm, 1);
    swarm->id = g_strdup (id);
    g_hash_table_insert (qos->swarms, swarm->id, swarm);
  }
  return swarm;
}

static void
swarm_take_member (MeshTrackerQos * qos, Swarm * swarm)
{
  if (swarm->retained_link) {
    g_queue_delete_link (&qos->retained, swarm->retained_link);
    swarm->retained_link = NULL;
  }
  swarm->peers++;
}

/* Its last member left: it stays for the retention, unless too many do. */
static void
swarm_retain (MeshTrackerQos * qos, Swarm * swarm, gint64 now)
{
  while (qos->retained.length >= qos->config.max_retained)
    swarm_forget (qos, g_queue_peek_head (&qos->retained));
  swarm->empty_since = now;
  g_queue_push_tail (&qos->retained, swarm);
  swarm->retained_link = qos->retained.tail;
}

static void
swarms_expire (MeshTrackerQos * qos, gint64 now)
{
  gint64 retention_us = (gint64) qos->config.retention * G_USEC_PER_SEC;
  Swarm *oldest;

  while ((oldest = g_queue_peek_head (&qos->retained))
      && now - oldest->empty_since >= retention_us)
    swarm_forget (qos, oldest);
}

/* The most members first, then the most bytes, then by id (stable). */
static gint
compare_swarms (gconstpointer a, gconstpointer b)
{
  const MeshTrackerQosSwarm *x = a, *y = b;
  guint64 x_bytes = x->totals.cdn_bytes + x->totals.peer_bytes;
  guint64 y_bytes = y->totals.cdn_bytes + y->totals.peer_bytes;

  if (x->peers != y->peers)
    return x->peers > y->peers ? -1 : 1;
  if (x_bytes != y_bytes)
    return x_bytes > y_bytes ? -1 : 1;
  return strcmp (x->swarm, y->swarm);
}

static void
swarm_describe (const Swarm * swarm, MeshTrackerQosSwarm * out)
{
  out->swarm = swarm->id;
  out->peers = swarm->peers;
  out->reporting = swarm->reporting;
  out->totals = swarm->totals;
  out->ratio = mesh_tracker_qos_ratio (&swarm->totals);
  out->has_history = swarm->ring != NULL;
}

/* Where @entry goes in @top (sorted): after every entry it does not beat. */
static guint
insertion_point (GArray * top, const MeshTrackerQosSwarm * entry)
{
  guint low = 0, high = top->len;

  while (low < high) {
    guint middle = low + (high - low) / 2;

    if (compare_swarms (entry, &g_array_index (top, MeshTrackerQosSwarm,
                middle)) < 0)
      high = middle;
    else
      low = middle + 1;
  }
  return low;
}

/* The first @limit swarms of the ranking, described, in order; one pass
 * keeping the best so far, so that the top few of 100 000 swarms cost a
 * compare each, not a sort; transfer container. */
static GArray *
swarms_top (MeshTrackerQos * qos, guint limit)
{
  GArray *top = g_array_sized_new (FALSE, FALSE, sizeof
      (MeshTrackerQosSwarm), MIN (limit, g_hash_table_size (qos->swarms)) + 1);
  GHashTableIter iter;
  gpointer value;

  if (limit == 0)
    return top;
  g_hash_table_iter_init (&iter, qos->swarms);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    MeshTrackerQosSwarm entry;

    swarm_describe (value, &entry);
    if (top->len == limit && compare_swarms (&entry,
            &g_array_index (top, MeshTrackerQosSwarm, top->len - 1)) >= 0)
      continue;
    g_array_insert_val (top, insertion_point (top, &entry), entry);
    if (top->len > limit)
      g_array_set_size (top, limit);
  }
  return top;
}

/* ------------------------------------------------------------------------ */
/* History                                                                  */

/* The first max_histories swarms of the ranking have a ring, the others
 * none: a swarm that drops out of the ranking loses its history. */
static void
assign_rings (MeshTrackerQos * qos)
{
  g_autoptr (GArray) top = swarms_top (qos, qos->config.max_histories);
  GHashTableIter iter;
  gpointer value;
  guint i;

  qos->ranking++;
  for (i = 0; i < top->len; i++) {
    const gchar *id = g_array_index (top, MeshTrackerQosSwarm, i).swarm;
    Swarm *swarm = g_hash_table_lookup (qos->swarms, id);

    swarm->ranking = qos->ranking;
    if (!swarm->ring)
      swarm->ring = ring_new (qos->config.history_length);
  }
  g_hash_table_iter_init (&iter, qos->swarms);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Swarm *swarm = value;

    if (swarm->ranking != qos->ranking)
      g_clear_pointer (&swarm->ring, ring_free);
  }
}

static void
take_points (MeshTrackerQos * qos, gint64 now)
{
  GHashTableIter iter;
  gpointer value;

  assign_rings (qos);
  ring_push (&qos->overall, now, &qos->totals, qos->n_peers);
  g_hash_table_iter_init (&iter, qos->swarms);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Swarm *swarm = value;

    if (swarm->ring)
      ring_push (swarm->ring, now, &swarm->totals, swarm->peers);
  }
}

void
mesh_tracker_qos_tick (MeshTrackerQos * qos, gint64 now)
{
  gint64 interval_us = (gint64) qos->config.interval * G_USEC_PER_SEC;

  g_return_if_fail (qos != NULL);

  swarms_expire (qos, now);
  if (now < qos->next_point)
    return;
  take_points (qos, now);
  qos->next_point += interval_us;
  /* after a long pause (a suspended host): no burst of catch-up points */
  if (qos->next_point <= now)
    qos->next_point = now + interval_us;
}

/* ------------------------------------------------------------------------ */
/* Connections and reports                                                  */

static void
connection_free (gpointer data)
{
  g_free (data);
}

void
mesh_tracker_qos_join (MeshTrackerQos * qos, gconstpointer connection,
    const gchar * swarm_id, gint64 now)
{
  Connection *c;

  g_return_if_fail (qos != NULL && connection != NULL && swarm_id != NULL);

  mesh_tracker_qos_leave (qos, connection, now);
  c = g_new0 (Connection, 1);
  c->swarm = swarm_get (qos, swarm_id);
  c->since = now;
  swarm_take_member (qos, c->swarm);
  qos->n_peers++;
  g_hash_table_insert (qos->connections, (gpointer) connection, c);
}

void
mesh_tracker_qos_leave (MeshTrackerQos * qos, gconstpointer connection,
    gint64 now)
{
  Connection *c;

  g_return_if_fail (qos != NULL);

  c = g_hash_table_lookup (qos->connections, connection);
  if (!c)
    return;
  c->swarm->peers--;
  if (c->reported)
    c->swarm->reporting--;
  if (c->swarm->peers == 0)
    swarm_retain (qos, c->swarm, now);
  qos->n_peers--;
  g_hash_table_remove (qos->connections, connection);
}

/* One counter of a report: what it claims, what the connection claimed
 * before, the growth allowed, and the totals it adds to. */
typedef struct
{
  gint64 claimed;
  gint64 previous;
  guint64 ceiling;
  guint64 *swarm_total;
  guint64 *total;
} Counter;

static gboolean
any_decreased (const Counter * counters, guint n)
{
  guint i;

  for (i = 0; i < n; i++) {
    if (counters[i].claimed < counters[i].previous)
      return TRUE;
  }
  return FALSE;
}

/* Adds each counter's growth, at most its ceiling; TRUE if one was cut. */
static gboolean
add_growth (const Counter * counters, guint n)
{
  gboolean capped = FALSE;
  guint i;

  for (i = 0; i < n; i++) {
    guint64 growth = counters[i].claimed - counters[i].previous;

    if (growth > counters[i].ceiling) {
      growth = counters[i].ceiling;
      capped = TRUE;
    }
    *counters[i].swarm_total += growth;
    *counters[i].total += growth;
  }
  return capped;
}

#define N_COUNTERS 5

/* @report's counters against @c's last ones, each with the growth allowed
 * in @seconds. */
static void
fill_counters (Counter counters[N_COUNTERS], MeshTrackerQos * qos,
    Connection * c, const MeshQosReport * report, gdouble seconds)
{
  MeshTrackerQosTotals *swarm = &c->swarm->totals;
  guint64 bytes = qos->config.max_byte_rate * seconds;
  guint64 stalls = ceil (qos->config.max_stall_rate * seconds);
  Counter filled[N_COUNTERS] = {
    {report->cdn_bytes, c->last.cdn_bytes, bytes, &swarm->cdn_bytes,
        &qos->totals.cdn_bytes},
    {report->peer_bytes, c->last.peer_bytes, bytes, &swarm->peer_bytes,
        &qos->totals.peer_bytes},
    {report->uploaded_bytes, c->last.uploaded_bytes, bytes,
        &swarm->uploaded_bytes, &qos->totals.uploaded_bytes},
    {report->stalls, c->last.stalls, stalls, &swarm->stalls,
        &qos->totals.stalls},
    {report->stall_ms, c->last.stall_ms, seconds * 1000, &swarm->stall_ms,
        &qos->totals.stall_ms},
  };

  memcpy (counters, filled, sizeof (filled));
}

static MeshTrackerQosVerdict
take_report (MeshTrackerQos * qos, gconstpointer connection,
    const MeshQosReport * report, gint64 now)
{
  Connection *c = g_hash_table_lookup (qos->connections, connection);
  Counter counters[N_COUNTERS];
  gboolean capped;

  if (!c)
    return MESH_TRACKER_QOS_UNKNOWN;
  /* a first report right after the join may still claim a second's worth */
  fill_counters (counters, qos, c, report,
      MAX (now - c->since, G_USEC_PER_SEC) / (gdouble) G_USEC_PER_SEC);
  /* a violation whenever it comes, so checked first */
  if (any_decreased (counters, N_COUNTERS))
    return MESH_TRACKER_QOS_DECREASED;
  if (c->reported && now - c->since < MESH_TRACKER_QOS_MIN_REPORT_INTERVAL_US)
    return MESH_TRACKER_QOS_TOO_SOON;

  capped = add_growth (counters, N_COUNTERS);
  if (!c->reported)
    c->swarm->reporting++;
  c->reported = TRUE;
  c->last = *report;
  c->since = now;
  return capped ? MESH_TRACKER_QOS_CAPPED : MESH_TRACKER_QOS_TAKEN;
}

MeshTrackerQosVerdict
mesh_tracker_qos_report (MeshTrackerQos * qos, gconstpointer connection,
    const MeshQosReport * report, gint64 now)
{
  MeshTrackerQosVerdict verdict;

  g_return_val_if_fail (qos != NULL && report != NULL,
      MESH_TRACKER_QOS_UNKNOWN);

  verdict = take_report (qos, connection, report, now);
  qos->verdicts[verdict]++;
  return verdict;
}

/* ------------------------------------------------------------------------ */
/* Life cycle and queries                                                   */

MeshTrackerQos *
mesh_tracker_qos_new (const MeshTrackerQosConfig * config, gint64 now)
{
  MeshTrackerQos *qos = g_new0 (MeshTrackerQos, 1);
  MeshTrackerQosConfig *c = &qos->config;

  *c = *config;
  c->interval = OR_DEFAULT (c->interval, MESH_TRACKER_QOS_DEFAULT_INTERVAL);
  c->history_length = OR_DEFAULT (c->history_length,
      MESH_TRACKER_QOS_DEFAULT_HISTORY_LENGTH);
  c->max_histories = OR_DEFAULT (c->max_histories,
      MESH_TRACKER_QOS_DEFAULT_MAX_HISTORIES);
  c->retention = OR_DEFAULT (c->retention, MESH_TRACKER_QOS_DEFAULT_RETENTION);
  c->max_retained = OR_DEFAULT (c->max_retained,
      MESH_TRACKER_QOS_DEFAULT_MAX_RETAINED);
  c->max_byte_rate = OR_DEFAULT (c->max_byte_rate,
      MESH_TRACKER_QOS_DEFAULT_MAX_BYTE_RATE);
  c->max_stall_rate = OR_DEFAULT (c->max_stall_rate,
      MESH_TRACKER_QOS_DEFAULT_MAX_STALL_RATE);

  qos->swarms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      swarm_free);
  qos->connections = g_hash_table_new_full (g_direct_hash, g_direct_equal,
      NULL, connection_free);
  g_queue_init (&qos->retained);
  ring_init (&qos->overall, c->history_length);
  qos->next_point = now;
  return qos;
}

void
mesh_tracker_qos_free (MeshTrackerQos * qos)
{
  if (!qos)
    return;
  g_hash_table_unref (qos->connections);
  g_queue_clear (&qos->retained);
  g_hash_table_unref (qos->swarms);
  g_free (qos->overall.points);
  g_free (qos);
}

guint
mesh_tracker_qos_get_interval (MeshTrackerQos * qos)
{
  return qos->config.interval;
}

void
mesh_tracker_qos_get_totals (MeshTrackerQos * qos,
    MeshTrackerQosTotals * totals)
{
  *totals = qos->totals;
}

guint
mesh_tracker_qos_get_peers (MeshTrackerQos * qos)
{
  return qos->n_peers;
}

guint
mesh_tracker_qos_get_n_swarms (MeshTrackerQos * qos)
{
  return g_hash_table_size (qos->swarms);
}

guint64
mesh_tracker_qos_get_count (MeshTrackerQos * qos, MeshTrackerQosVerdict verdict)
{
  g_return_val_if_fail (verdict < MESH_TRACKER_QOS_N_VERDICTS, 0);
  return qos->verdicts[verdict];
}

const gchar *
mesh_tracker_qos_verdict_name (MeshTrackerQosVerdict verdict)
{
  static const gchar *const names[MESH_TRACKER_QOS_N_VERDICTS] = {
    "taken", "capped", "too-soon", "decreased", "unknown",
  };

  g_return_val_if_fail (verdict < MESH_TRACKER_QOS_N_VERDICTS, NULL);
  return names[verdict];
}

GArray *
mesh_tracker_qos_list_swarms (MeshTrackerQos * qos, guint limit)
{
  return swarms_top (qos, limit);
}

gboolean
mesh_tracker_qos_lookup_swarm (MeshTrackerQos * qos, const gchar * id,
    MeshTrackerQosSwarm * out)
{
  Swarm *swarm = g_hash_table_lookup (qos->swarms, id);

  if (!swarm)
    return FALSE;
  if (out)
    swarm_describe (swarm, out);
  return TRUE;
}

GArray *
mesh_tracker_qos_get_history (MeshTrackerQos * qos, const gchar * id)
{
  Swarm *swarm;

  if (!id)
    return ring_copy (&qos->overall);
  swarm = g_hash_table_lookup (qos->swarms, id);
  if (!swarm)
    return NULL;
  if (!swarm->ring)
    return g_array_new (FALSE, FALSE, sizeof (MeshTrackerQosPoint));
  return ring_copy (swarm->ring);
}
