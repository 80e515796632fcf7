/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Where a segment comes from: the decisions of the peer manager as pure
 * functions of what it knows. Times are monotonic microseconds given by the
 * caller (a fake clock in the tests); nothing here reads a clock, keeps state
 * or draws random numbers.
 *
 * The rules, in order:
 * - the CDN when the deadline leaves no time for anything else: a CDN
 *   download must still fit before the deadline with a safety margin;
 * - a peer that holds the segment, when its link can deliver it in time;
 * - wait for a peer that announced it is downloading the segment from the
 *   CDN, at most until the CDN must start;
 * - while links to peers are still being set up (a viewer that just joined),
 *   wait a little for them and for what they hold;
 * - otherwise a random back-off before the CDN, so that of the viewers who
 *   need a new live segment at the same moment about one fetches it from the
 *   CDN (and announces it) while the others wait for it. The window grows
 *   with the number of peers and never eats into the safety margin.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Kept between the end of a download and the deadline. */
#define MESH_SCHEDULE_SAFETY_US (700 * G_TIME_SPAN_MILLISECOND)
/* The longest random back-off before a CDN download. */
#define MESH_SCHEDULE_MAX_BACKOFF_US (1500 * G_TIME_SPAN_MILLISECOND)
/* Assumed when nothing was measured yet: 1 MB/s, 8 Mbit/s. */
#define MESH_SCHEDULE_DEFAULT_THROUGHPUT 1000000
/* Assumed segment size when unknown. */
#define MESH_SCHEDULE_DEFAULT_SIZE (512 * 1024)
/* How long a request waits for links still being set up. */
#define MESH_SCHEDULE_CONNECT_GRACE_US (600 * G_TIME_SPAN_MILLISECOND)
/* A peer transfer's pace is judged once its data has flowed this long. */
#define MESH_SCHEDULE_JUDGE_PACE_US (400 * G_TIME_SPAN_MILLISECOND)
/* A peer transfer without progress for this long is abandoned. */
#define MESH_SCHEDULE_STALL_US (1500 * G_TIME_SPAN_MILLISECOND)
/* How often the caller checks a running peer transfer. */
#define MESH_SCHEDULE_CHECK_US (100 * G_TIME_SPAN_MILLISECOND)

typedef enum {
  MESH_SCHEDULE_CDN,            /* download from the CDN now */
  MESH_SCHEDULE_PEER,           /* request it from a peer that holds it */
  MESH_SCHEDULE_WAIT,           /* decide again at wait_until at the latest,
                                 * or when an announcement arrives */
} MeshScheduleAction;

typedef struct {
  gint64 now;
  gint64 deadline;              /* when playback needs it; 0 = no slack */
  guint64 size;                 /* expected bytes, 0 = unknown */
  guint n_peers;                /* connected peers that upload */
  guint n_connecting;           /* links being set up */
  gboolean peer_has_it;         /* one of them holds it complete */
  guint64 peer_throughput;      /* bytes/s of that link, 0 = unknown */
  gboolean peer_fetching_it;    /* one of them is downloading it */
  guint64 cdn_throughput;       /* bytes/s from the CDN, 0 = unknown */
  gint64 waiting_since;         /* when the request arrived */
  guint32 random;               /* uniformly random, for the back-off */
} MeshScheduleInput;

/* Why a segment goes to the CDN (for the statistics). */
typedef enum {
  MESH_SCHEDULE_REASON_NONE,    /* not the CDN */
  MESH_SCHEDULE_REASON_NO_TIME, /* the deadline left no time for a peer */
  MESH_SCHEDULE_REASON_NOBODY,  /* no peer had it or announced it in time */
} MeshScheduleReason;

typedef struct {
  MeshScheduleAction action;
  gint64 wait_until;            /* for MESH_SCHEDULE_WAIT */
  MeshScheduleReason reason;    /* for MESH_SCHEDULE_CDN */
} MeshScheduleDecision;

MeshScheduleDecision mesh_schedule_decide (const MeshScheduleInput * in);

/* The latest time a CDN download of @size bytes can start and still end a
 * safety margin before @deadline. */
gint64 mesh_schedule_latest_cdn_start (gint64 deadline, guint64 size,
    guint64 cdn_throughput);

typedef struct {
  gint64 now;
  gint64 deadline;              /* 0 = no slack */
  gint64 started;               /* when the peer transfer was requested */
  gint64 last_progress;         /* when bytes last arrived (or started) */
  guint64 received;
  guint64 size;                 /* 0 = unknown */
  gboolean waiting;             /* no byte yet: it waits its turn at the
                                 * holder, which serves one request after
                                 * another and took it (else BUSY) */
  guint64 throughput;           /* bytes/s expected of the holder, 0 =
                                 * unknown */
  guint64 cdn_throughput;       /* bytes/s from the CDN, 0 = unknown */
} MeshTransferProgress;

/* TRUE when a running peer transfer must give way to the CDN for the rest:
 * it stalled, or at its pace it would end after the deadline minus the
 * safety margin and the CDN must start on the rest now to be in time
 * (until then every byte it brings is one the CDN does not send); while
 * it waits its turn, once even the holder's whole pace could not bring it
 * in time (a queued request is no stall). Checked every
 * MESH_SCHEDULE_CHECK_US. */
gboolean mesh_schedule_should_abandon (const MeshTransferProgress * p);

G_END_DECLS
