/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pure scheduling part of mesh-shaper (the network lab's link
 * emulator): no I/O, no clock of its own, so that the unit test drives it
 * with fake time.
 *
 * ShaperLink is one direction of a host's access link (its uplink or its
 * downlink). A packet offered at time `now` is either dropped (random loss,
 * or a full drop-tail queue) or given the time it leaves the link:
 *
 *   serialisation: the link is a FIFO that sends `rate` bits per second;
 *                  a packet starts when the one before it is out;
 *   queue:         the bytes still to serialise (the backlog, the packet
 *                  in service included) may not exceed `queue_bytes`;
 *   propagation:   `delay` plus a uniform random `jitter` in [0, jitter],
 *                  but never before the packet ahead of it has left:
 *                  jitter delays, it never reorders.
 *
 * The backlog is computed from when the FIFO drains, not from a list of
 * packets, so a link costs O(1) per packet and holds no packets itself: the
 * caller keeps each packet until its departure time (ShaperHeap).
 *
 * Times are monotonic nanoseconds (gint64), rates bits per second.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 delay_ns;              /* one-way propagation delay */
  gint64 jitter_ns;             /* extra delay, uniform in [0, jitter_ns] */
  gdouble loss;                 /* probability of a random drop, 0 - 1 */
  guint64 rate_bps;             /* 0 = no cap (no serialisation, no queue) */
  guint64 queue_bytes;          /* drop-tail bound on the backlog; 0 = the
                                 * default, shaper_link_default_queue () */
} ShaperLinkParams;

typedef struct
{
  guint64 packets;              /* offered */
  guint64 bytes;
  guint64 sent_packets;         /* given a departure time */
  guint64 sent_bytes;
  guint64 loss_drops;
  guint64 queue_drops;
} ShaperLinkStats;

typedef enum
{
  SHAPER_PASS,
  SHAPER_DROP_LOSS,
  SHAPER_DROP_QUEUE,
} ShaperVerdict;

typedef struct
{
  ShaperLinkParams params;
  ShaperLinkStats stats;
  GRand *rand;                  /* loss and jitter draws */
  gint64 busy_until;            /* when the FIFO will have sent everything */
  gint64 last_departure;        /* jitter may not reorder behind this */
} ShaperLink;

void shaper_link_init (ShaperLink * link, const ShaperLinkParams * params,
    guint32 seed);
void shaper_link_clear (ShaperLink * link);

/* The drop-tail bound used when params.queue_bytes is 0: 100 ms at the
 * link's rate, and never less than 16 full-size packets (a slow link must
 * still hold a TCP window's worth of a few packets). */
guint64 shaper_link_default_queue (guint64 rate_bps);

/* Bytes that the FIFO still has to serialise at `now`. */
guint64 shaper_link_backlog (const ShaperLink * link, gint64 now);

/* Offers a packet of `size` bytes at `now` (never earlier than the previous
 * offer). SHAPER_PASS sets *departure to when it leaves the link. */
ShaperVerdict shaper_link_offer (ShaperLink * link, gint64 now, gsize size,
    gint64 * departure);

/* ShaperHeap: the packets in flight, a binary min-heap on (time, order of
 * push), so that packets due at the same time come out in the order they
 * went in. */
typedef struct
{
  gint64 time;
  guint64 seq;
  gpointer data;
} ShaperHeapEntry;

typedef struct
{
  GArray *entries;              /* of ShaperHeapEntry */
  guint64 next_seq;
} ShaperHeap;

void shaper_heap_init (ShaperHeap * heap);
void shaper_heap_clear (ShaperHeap * heap, GDestroyNotify free_data);
void shaper_heap_push (ShaperHeap * heap, gint64 time, gpointer data);
/* TRUE and the earliest entry's time, or FALSE when empty. */
gboolean shaper_heap_peek (const ShaperHeap * heap, gint64 * time);
gpointer shaper_heap_pop (ShaperHeap * heap, gint64 * time);
guint shaper_heap_size (const ShaperHeap * heap);

G_END_DECLS
