/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pure part of mesh-shaper (shaper-link.[ch]) against fake time: what
 * delay, serialisation, the drop-tail queue, loss and jitter do to packets
 * offered at chosen instants, and the order the timer heap gives back.
 */
#include "shaper-link.h"

#define MS G_GINT64_CONSTANT (1000000)
#define US G_GINT64_CONSTANT (1000)
#define T0 (G_GINT64_CONSTANT (1000) * 1000 * MS)

static ShaperLink *
link_new (const ShaperLinkParams * params)
{
  ShaperLink *link = g_new0 (ShaperLink, 1);

  shaper_link_init (link, params, 42);
  return link;
}

static void
link_free (ShaperLink * link)
{
  shaper_link_clear (link);
  g_free (link);
}

static gint64
offer_ok (ShaperLink * link, gint64 now, gsize size)
{
  gint64 departure = -1;

  g_assert_cmpint (shaper_link_offer (link, now, size, &departure), ==,
      SHAPER_PASS);
  return departure;
}

static void
test_delay (void)
{
  ShaperLinkParams p = {.delay_ns = 10 * MS };
  ShaperLink *link = link_new (&p);

  g_assert_cmpint (offer_ok (link, T0, 1500), ==, T0 + 10 * MS);
  g_assert_cmpint (offer_ok (link, T0 + 5 * MS, 1500), ==, T0 + 15 * MS);
  /* no rate: back-to-back packets do not wait for each other */
  g_assert_cmpint (offer_ok (link, T0 + 5 * MS, 1500), ==, T0 + 15 * MS);
  g_assert_cmpuint (shaper_link_backlog (link, T0 + 5 * MS), ==, 0);
  link_free (link);
}

/* 8 Mbit/s is one byte per microsecond: 1000 bytes take 1 ms. */
static void
test_rate_serialisation (void)
{
  ShaperLinkParams p = {.rate_bps = 8000000,.delay_ns = 20 * MS };
  ShaperLink *link = link_new (&p);

  g_assert_cmpint (offer_ok (link, T0, 1000), ==, T0 + 21 * MS);
  g_assert_cmpint (offer_ok (link, T0, 1000), ==, T0 + 22 * MS);
  g_assert_cmpint (offer_ok (link, T0, 500), ==, T0 + 22 * MS + 500 * US);
  g_assert_cmpuint (shaper_link_backlog (link, T0), ==, 2500);
  g_assert_cmpuint (shaper_link_backlog (link, T0 + 2 * MS), ==, 500);
  /* an idle link starts the next packet at once */
  g_assert_cmpint (offer_ok (link, T0 + 10 * MS, 1000), ==, T0 + 31 * MS);
  link_free (link);
}

/* A long run at twice the rate: what leaves is the rate, what does not fit
 * the queue is dropped, and the queue never holds more than its bound. */
static void
test_rate_long_run (void)
{
  ShaperLinkParams p = {.rate_bps = 5000000,.queue_bytes = 30000 };
  ShaperLink *link = link_new (&p);
  gint64 now = T0, last = 0;
  gint i;

  /* 1250 bytes every ms = 10 Mbit/s offered for 10 s */
  for (i = 0; i < 10000; i++, now += MS) {
    gint64 departure;

    if (shaper_link_offer (link, now, 1250, &departure) == SHAPER_PASS)
      last = departure;
    g_assert_cmpuint (shaper_link_backlog (link, now), <=, 30000);
  }
  /* 10 s of 5 Mbit/s, plus what was queued at the start: about half */
  g_assert_cmpuint (link->stats.sent_bytes, >=, 6250000);
  g_assert_cmpuint (link->stats.sent_bytes, <=, 6250000 + 30000 + 1250);
  g_assert_cmpuint (link->stats.queue_drops + link->stats.sent_packets, ==,
      10000);
  /* the FIFO never idled: 1250 bytes at 5 Mbit/s take 2 ms each */
  g_assert_cmpint (last - T0, ==, (gint64) link->stats.sent_packets * 2 * MS);
  link_free (link);
}

static void
test_queue_limit (void)
{
  ShaperLinkParams p = {.rate_bps = 8000000,.queue_bytes = 3000 };
  ShaperLink *link = link_new (&p);
  gint64 departure;

  offer_ok (link, T0, 1000);
  offer_ok (link, T0, 1000);
  offer_ok (link, T0, 1000);
  g_assert_cmpint (shaper_link_offer (link, T0, 1000, &departure), ==,
      SHAPER_DROP_QUEUE);
  g_assert_cmpint (shaper_link_offer (link, T0, 1, &departure), ==,
      SHAPER_DROP_QUEUE);
  g_assert_cmpuint (link->stats.queue_drops, ==, 2);
  /* 1 ms later one packet is out: room for exactly one more */
  g_assert_cmpint (offer_ok (link, T0 + MS, 1000), ==, T0 + 4 * MS);
  g_assert_cmpint (shaper_link_offer (link, T0 + MS, 1000, &departure), ==,
      SHAPER_DROP_QUEUE);
  g_assert_cmpuint (link->stats.sent_packets, ==, 4);
  g_assert_cmpuint (link->stats.packets, ==, 7);
  link_free (link);
}

static void
test_default_queue (void)
{
  ShaperLinkParams p = {.rate_bps = 100000000 };
  ShaperLink *link = link_new (&p);

  /* 100 ms at 100 Mbit/s */
  g_assert_cmpuint (link->params.queue_bytes, ==, 1250000);
  /* and at least 16 full packets on a slow link */
  g_assert_cmpuint (shaper_link_default_queue (64000), ==, 16 * 1500);
  link_free (link);
}

/* With a fixed seed the draws are reproducible; over 200000 packets a 2 %
 * loss lands within 0.1 % of 2 % (more than 6 standard deviations). */
static void
test_loss_ratio (void)
{
  ShaperLinkParams p = {.loss = 0.02,.delay_ns = 5 * MS };
  ShaperLink *link = link_new (&p), *again = link_new (&p);
  gint i, n = 200000;
  gdouble ratio;

  for (i = 0; i < n; i++) {
    gint64 d1 = 0, d2 = 0;
    ShaperVerdict v1 = shaper_link_offer (link, T0 + i * US, 1200, &d1);
    ShaperVerdict v2 = shaper_link_offer (again, T0 + i * US, 1200, &d2);

    g_assert_cmpint (v1, ==, v2);
    g_assert_cmpint (d1, ==, d2);
  }
  ratio = (gdouble) link->stats.loss_drops / n;
  g_assert_cmpfloat (ratio, >, 0.019);
  g_assert_cmpfloat (ratio, <, 0.021);
  g_assert_cmpuint (link->stats.sent_packets + link->stats.loss_drops, ==, n);
  link_free (link);
  link_free (again);
}

static void
test_no_loss (void)
{
  ShaperLinkParams p = { 0, };
  ShaperLink *link = link_new (&p);
  gint i;

  for (i = 0; i < 10000; i++)
    g_assert_cmpint (offer_ok (link, T0 + i, 1500), ==, T0 + i);
  link_free (link);
}

/* 50 + [0, 25] ms of jitter on a packet every ms would reorder most of
 * them if each were delayed independently: the link keeps them in order,
 * every one at least `delay` late and at most `delay + jitter`. (Holding
 * the order pushes dense packets towards the top of the range: the mean
 * extra delay is above the draw's 12.5 ms.) */
static void
test_jitter_keeps_order (void)
{
  ShaperLinkParams p = {.delay_ns = 50 * MS,.jitter_ns = 25 * MS };
  ShaperLink *link = link_new (&p);
  gint64 previous = 0, extra_sum = 0;
  gint i, n = 5000;

  for (i = 0; i < n; i++) {
    gint64 now = T0 + i * MS;
    gint64 departure = offer_ok (link, now, 1000);
    gint64 extra = departure - now - 50 * MS;

    g_assert_cmpint (departure, >=, previous);
    g_assert_cmpint (extra, >=, 0);
    g_assert_cmpint (extra, <=, 25 * MS);
    extra_sum += extra;
    previous = departure;
  }
  g_assert_cmpint (extra_sum / n, >, 12 * MS);
  link_free (link);
}

/* Packets further apart than the jitter never catch up with each other:
 * their extra delays are the uniform draws themselves. */
static void
test_jitter_spread (void)
{
  ShaperLinkParams p = {.delay_ns = 50 * MS,.jitter_ns = 25 * MS };
  ShaperLink *link = link_new (&p);
  gint64 extra_sum = 0, extra_min = G_MAXINT64, extra_max = 0;
  gint i, n = 5000;

  for (i = 0; i < n; i++) {
    gint64 now = T0 + i * 30 * MS;
    gint64 extra = offer_ok (link, now, 1000) - now - 50 * MS;

    extra_sum += extra;
    extra_min = MIN (extra_min, extra);
    extra_max = MAX (extra_max, extra);
  }
  g_assert_cmpint (extra_sum / n, >, 12 * MS);
  g_assert_cmpint (extra_sum / n, <, 13 * MS);
  g_assert_cmpint (extra_min, <, MS / 2);
  g_assert_cmpint (extra_max, >, 24 * MS + MS / 2);
  link_free (link);
}

/* Jitter on a rate-capped link applies after serialisation. */
static void
test_jitter_after_rate (void)
{
  ShaperLinkParams p = {.rate_bps = 8000000,.jitter_ns = 3 * MS };
  ShaperLink *link = link_new (&p);
  gint64 previous = 0;
  gint i;

  for (i = 0; i < 100; i++) {
    gint64 departure = offer_ok (link, T0, 1000);

    g_assert_cmpint (departure, >=, T0 + (i + 1) * MS);
    g_assert_cmpint (departure, <=, T0 + (i + 1) * MS + 3 * MS);
    g_assert_cmpint (departure, >=, previous);
    previous = departure;
  }
  link_free (link);
}

static void
test_heap_order (void)
{
  ShaperHeap heap;
  GRand *rand = g_rand_new_with_seed (7);
  gint64 time, previous = G_MININT64;
  guint i, n = 2000;

  shaper_heap_init (&heap);
  g_assert_false (shaper_heap_peek (&heap, &time));
  for (i = 0; i < n; i++)
    shaper_heap_push (&heap, g_rand_int_range (rand, 0, 100),
        GUINT_TO_POINTER (i + 1));
  g_assert_cmpuint (shaper_heap_size (&heap), ==, n);
  for (i = 0; i < n; i++) {
    gint64 peeked;

    g_assert_true (shaper_heap_peek (&heap, &peeked));
    shaper_heap_pop (&heap, &time);
    g_assert_cmpint (time, ==, peeked);
    g_assert_cmpint (time, >=, previous);
    previous = time;
  }
  g_assert_cmpuint (shaper_heap_size (&heap), ==, 0);
  shaper_heap_clear (&heap, NULL);
  g_rand_free (rand);
}

/* Packets due at the same instant leave in the order they were pushed. */
static void
test_heap_ties_fifo (void)
{
  ShaperHeap heap;
  guint i, last_a = 0, last_b = 0;

  shaper_heap_init (&heap);
  for (i = 1; i <= 500; i++) {
    shaper_heap_push (&heap, 20, GUINT_TO_POINTER (i));
    shaper_heap_push (&heap, 10, GUINT_TO_POINTER (1000 + i));
  }
  for (i = 0; i < 1000; i++) {
    gint64 time;
    guint v = GPOINTER_TO_UINT (shaper_heap_pop (&heap, &time));

    if (time == 10) {
      g_assert_cmpuint (v, ==, 1000 + last_b + 1);
      last_b++;
    } else {
      g_assert_cmpuint (last_b, ==, 500);
      g_assert_cmpuint (v, ==, last_a + 1);
      last_a++;
    }
  }
  shaper_heap_clear (&heap, NULL);
}

static void
test_heap_clear_frees (void)
{
  ShaperHeap heap;

  shaper_heap_init (&heap);
  shaper_heap_push (&heap, 1, g_malloc (10));
  shaper_heap_push (&heap, 2, g_malloc (10));
  /* the leak checkers of sanitizer builds see it if this frees nothing */
  shaper_heap_clear (&heap, g_free);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/shaper/delay", test_delay);
  g_test_add_func ("/shaper/rate-serialisation", test_rate_serialisation);
  g_test_add_func ("/shaper/rate-long-run", test_rate_long_run);
  g_test_add_func ("/shaper/queue-limit", test_queue_limit);
  g_test_add_func ("/shaper/default-queue", test_default_queue);
  g_test_add_func ("/shaper/loss-ratio", test_loss_ratio);
  g_test_add_func ("/shaper/no-loss", test_no_loss);
  g_test_add_func ("/shaper/jitter-keeps-order", test_jitter_keeps_order);
  g_test_add_func ("/shaper/jitter-spread", test_jitter_spread);
  g_test_add_func ("/shaper/jitter-after-rate", test_jitter_after_rate);
  g_test_add_func ("/shaper/heap-order", test_heap_order);
  g_test_add_func ("/shaper/heap-ties-fifo", test_heap_ties_fifo);
  g_test_add_func ("/shaper/heap-clear-frees", test_heap_clear_frees);
  return g_test_run ();
}
