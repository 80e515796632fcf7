/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the players of each swarm report about how they play ("qos"
 * messages, docs/protocol.md 1.4), added up per swarm and overall, with a
 * bounded history (docs/tracker.md, "Player figures"). Pure bookkeeping: no
 * I/O, no clock of its own (every call takes the time, monotonic µs), so
 * that the tests drive it with a clock of their own.
 *
 * Threads: none of its own and no lock: the tracker's server thread owns it
 * (it feeds it from its WebSocket handlers and reads it from its HTTP
 * handlers, which libsoup runs on that same thread).
 *
 * The reports are claims from the network: the growth one report may add is
 * bounded by the time since the connection's previous report (or its join),
 * a counter going down refuses the report, and a connection may report once
 * a second (more often is dropped; the next report carries the totals).
 *
 * Memory: one record per joined connection (bounded by the tracker's
 * --max-connections), one per swarm with members (--max-swarms) plus at most
 * max_retained swarms kept after their last member left, a history ring
 * of history_length points overall and for at most max_histories swarms
 * (the ones with the most members when a point is taken).
 */
#pragma once

#include <glib.h>

#include "p2p/mesh-qos-report.h"

G_BEGIN_DECLS
#define MESH_TRACKER_QOS_DEFAULT_INTERVAL 10    /* seconds between points */
#define MESH_TRACKER_QOS_DEFAULT_HISTORY_LENGTH 360     /* an hour of them */
#define MESH_TRACKER_QOS_DEFAULT_MAX_HISTORIES 100
#define MESH_TRACKER_QOS_DEFAULT_RETENTION 600  /* seconds after the last
                                                 * member left */
#define MESH_TRACKER_QOS_DEFAULT_MAX_RETAINED 1000
/* 1 Gbit/s per counter and connection: far above any player */
#define MESH_TRACKER_QOS_DEFAULT_MAX_BYTE_RATE (G_GUINT64_CONSTANT (125000000))
#define MESH_TRACKER_QOS_DEFAULT_MAX_STALL_RATE 1       /* stalls per second */
/* A connection's reports closer than this are dropped. */
#define MESH_TRACKER_QOS_MIN_REPORT_INTERVAL_US G_USEC_PER_SEC
typedef struct _MeshTrackerQos MeshTrackerQos;

/* Fields left at 0 take the defaults above. */
typedef struct
{
  guint interval;               /* seconds between history points */
  guint history_length;         /* points in each ring */
  guint max_histories;          /* swarms with a ring of their own */
  guint retention;              /* seconds a swarm without members stays */
  guint max_retained;           /* swarms without members kept at most */
  guint64 max_byte_rate;        /* bytes/s one counter may grow */
  guint max_stall_rate;         /* stalls/s */
} MeshTrackerQosConfig;

/* Counters, summed over reports. */
typedef struct
{
  guint64 cdn_bytes;
  guint64 peer_bytes;
  guint64 uploaded_bytes;
  guint64 stalls;
  guint64 stall_ms;
} MeshTrackerQosTotals;

/* One history point: the totals when it was taken and the members then. */
typedef struct
{
  gint64 time;                  /* monotonic µs */
  MeshTrackerQosTotals totals;
  guint peers;
  gdouble ratio;                /* peer / (peer + cdn) bytes over the
                                 * interval before; the previous point's
                                 * when no bytes moved; 0 at first */
} MeshTrackerQosPoint;

/* A swarm as the API shows it. */
typedef struct
{
  const gchar *swarm;           /* transfer none, valid until the next
                                 * call that changes the aggregator */
  guint peers;                  /* joined connections now */
  guint reporting;              /* of which sent a report */
  MeshTrackerQosTotals totals;
  gdouble ratio;                /* peer / (peer + cdn) bytes, 0 if none */
  gboolean has_history;
} MeshTrackerQosSwarm;

typedef enum
{
  MESH_TRACKER_QOS_TAKEN,
  MESH_TRACKER_QOS_CAPPED,      /* taken, some growth beyond the ceilings
                                 * ignored */
  MESH_TRACKER_QOS_TOO_SOON,    /* dropped: within a second of the last */
  MESH_TRACKER_QOS_DECREASED,   /* refused: a counter went down */
  MESH_TRACKER_QOS_UNKNOWN,     /* refused: the connection is not joined */
  MESH_TRACKER_QOS_N_VERDICTS
} MeshTrackerQosVerdict;

MeshTrackerQos *mesh_tracker_qos_new (const MeshTrackerQosConfig * config,
    gint64 now);
void mesh_tracker_qos_free (MeshTrackerQos * qos);

/* @connection (any unique pointer) joined @swarm. */
void mesh_tracker_qos_join (MeshTrackerQos * qos, gconstpointer connection,
    const gchar * swarm, gint64 now);
/* Its report: totals since its join (docs/protocol.md 1.4). */
MeshTrackerQosVerdict mesh_tracker_qos_report (MeshTrackerQos * qos,
    gconstpointer connection, const MeshQosReport * report, gint64 now);
/* It left (or was cut off): what it reported stays counted. */
void mesh_tracker_qos_leave (MeshTrackerQos * qos, gconstpointer connection,
    gint64 now);

/* Takes the history points that are due and forgets the swarms empty for
 * longer than the retention; call it every second or so. */
void mesh_tracker_qos_tick (MeshTrackerQos * qos, gint64 now);

guint mesh_tracker_qos_get_interval (MeshTrackerQos * qos);
void mesh_tracker_qos_get_totals (MeshTrackerQos * qos,
    MeshTrackerQosTotals * totals);
guint mesh_tracker_qos_get_peers (MeshTrackerQos * qos);        /* joined */
guint mesh_tracker_qos_get_n_swarms (MeshTrackerQos * qos);     /* kept */
/* Reports that had @verdict since the start. */
guint64 mesh_tracker_qos_get_count (MeshTrackerQos * qos,
    MeshTrackerQosVerdict verdict);
const gchar *mesh_tracker_qos_verdict_name (MeshTrackerQosVerdict verdict);

/* At most @limit swarms, the most members first (then the most bytes);
 * transfer container. */
GArray *mesh_tracker_qos_list_swarms (MeshTrackerQos * qos, guint limit);
/* FALSE if @swarm is not kept; @out may be NULL. */
gboolean mesh_tracker_qos_lookup_swarm (MeshTrackerQos * qos,
    const gchar * swarm, MeshTrackerQosSwarm * out);
/* The points of @swarm's ring (NULL: overall), oldest first; NULL if there
 * is no such swarm; transfer container. */
GArray *mesh_tracker_qos_get_history (MeshTrackerQos * qos,
    const gchar * swarm);

gdouble mesh_tracker_qos_ratio (const MeshTrackerQosTotals * totals);

G_END_DECLS
