/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Link emulation for mesh-shaper: see shaper-link.h.
 */
#include "shaper-link.h"

#include <string.h>

#define NS_PER_S G_GINT64_CONSTANT (1000000000)
#define FULL_PACKET 1500
#define MIN_QUEUE_PACKETS 16

void
shaper_link_init (ShaperLink * link, const ShaperLinkParams * params,
    guint32 seed)
{
  memset (link, 0, sizeof (*link));
  link->params = *params;
  if (link->params.queue_bytes == 0)
    link->params.queue_bytes =
        shaper_link_default_queue (link->params.rate_bps);
  link->rand = g_rand_new_with_seed (seed);
  link->busy_until = G_MININT64;
  link->last_departure = G_MININT64;
}

void
shaper_link_clear (ShaperLink * link)
{
  g_clear_pointer (&link->rand, g_rand_free);
}

guint64
shaper_link_default_queue (guint64 rate_bps)
{
  guint64 bytes = rate_bps / 8 / 10;

  return MAX (bytes, (guint64) MIN_QUEUE_PACKETS * FULL_PACKET);
}

guint64
shaper_link_backlog (const ShaperLink * link, gint64 now)
{
  gdouble remaining_s;

  if (link->params.rate_bps == 0 || link->busy_until <= now)
    return 0;
  /* in double: nanoseconds times bits per second overflows 64 bits */
  remaining_s = (gdouble) (link->busy_until - now) / NS_PER_S;
  return (guint64) (remaining_s * link->params.rate_bps / 8 + 0.5);
}

/* Nanoseconds to put `size` bytes on the wire, rounded up so that a link
 * never runs faster than its rate. */
static gint64
serialisation_ns (guint64 rate_bps, gsize size)
{
  return (gint64) (((guint64) size * 8 * NS_PER_S + rate_bps - 1) / rate_bps);
}

static gint64
jitter_draw (ShaperLink * link)
{
  if (link->params.jitter_ns <= 0)
    return 0;
  return (gint64) (g_rand_double (link->rand) * (link->params.jitter_ns + 1));
}

ShaperVerdict
shaper_link_offer (ShaperLink * link, gint64 now, gsize size,
    gint64 * departure)
{
  gint64 out = now;

  link->stats.packets++;
  link->stats.bytes += size;
  /* draw only when lossy, so that a link's jitter draws do not depend on
   * whether loss is configured */
  if (link->params.loss > 0 && g_rand_double (link->rand) < link->params.loss) {
    link->stats.loss_drops++;
    return SHAPER_DROP_LOSS;
  }
  if (link->params.rate_bps > 0) {
    if (shaper_link_backlog (link, now) + size > link->params.queue_bytes) {
      link->stats.queue_drops++;
      return SHAPER_DROP_QUEUE;
    }
    link->busy_until = MAX (now, link->busy_until) +
        serialisation_ns (link->params.rate_bps, size);
    out = link->busy_until;
  }
  out += link->params.delay_ns + jitter_draw (link);
  out = MAX (out, link->last_departure);
  link->last_departure = out;
  link->stats.sent_packets++;
  link->stats.sent_bytes += size;
  *departure = out;
  return SHAPER_PASS;
}

/* ------------------------------------------------------------------------ */

void
shaper_heap_init (ShaperHeap * heap)
{
  heap->entries = g_array_new (FALSE, FALSE, sizeof (ShaperHeapEntry));
  heap->next_seq = 0;
}

void
shaper_heap_clear (ShaperHeap * heap, GDestroyNotify free_data)
{
  guint i;

  if (!heap->entries)
    return;
  for (i = 0; free_data && i < heap->entries->len; i++)
    free_data (g_array_index (heap->entries, ShaperHeapEntry, i).data);
  g_clear_pointer (&heap->entries, g_array_unref);
}

static gboolean
entry_before (const ShaperHeapEntry * a, const ShaperHeapEntry * b)
{
  return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void
swap_entries (ShaperHeapEntry * e, guint i, guint j)
{
  ShaperHeapEntry tmp = e[i];

  e[i] = e[j];
  e[j] = tmp;
}

void
shaper_heap_push (ShaperHeap * heap, gint64 time, gpointer data)
{
  ShaperHeapEntry entry = { time, heap->next_seq++, data };
  ShaperHeapEntry *e;
  guint i;

  g_array_append_val (heap->entries, entry);
  e = (ShaperHeapEntry *) heap->entries->data;
  for (i = heap->entries->len - 1; i > 0; i = (i - 1) / 2) {
    if (!entry_before (&e[i], &e[(i - 1) / 2]))
      break;
    swap_entries (e, i, (i - 1) / 2);
  }
}

gboolean
shaper_heap_peek (const ShaperHeap * heap, gint64 * time)
{
  if (heap->entries->len == 0)
    return FALSE;
  *time = g_array_index (heap->entries, ShaperHeapEntry, 0).time;
  return TRUE;
}

static void
sift_down (ShaperHeapEntry * e, guint len)
{
  guint i = 0;

  while (TRUE) {
    guint left = 2 * i + 1, right = left + 1, least = i;

    if (left < len && entry_before (&e[left], &e[least]))
      least = left;
    if (right < len && entry_before (&e[right], &e[least]))
      least = right;
    if (least == i)
      return;
    swap_entries (e, i, least);
    i = least;
  }
}

gpointer
shaper_heap_pop (ShaperHeap * heap, gint64 * time)
{
  ShaperHeapEntry *e = (ShaperHeapEntry *) heap->entries->data;
  guint last = heap->entries->len - 1;
  gpointer data;

  g_return_val_if_fail (heap->entries->len > 0, NULL);
  data = e[0].data;
  if (time)
    *time = e[0].time;
  e[0] = e[last];
  g_array_set_size (heap->entries, last);
  sift_down ((ShaperHeapEntry *) heap->entries->data, last);
  return data;
}

guint
shaper_heap_size (const ShaperHeap * heap)
{
  return heap->entries->len;
}
