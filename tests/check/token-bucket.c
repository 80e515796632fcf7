/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The upload rate limiter (ext/mesh/p2p/mesh-token-bucket.[ch]) against a
 * fake clock: a sender that sends a chunk whenever the bucket lets it, the
 * way the peer manager's upload pump does.
 */
#include <gst/check/gstcheck.h>

#include "p2p/mesh-token-bucket.h"

#define S G_GINT64_CONSTANT (1000000)
#define MS G_TIME_SPAN_MILLISECOND
#define T0 (1000 * S)
#define CHUNK (64 * 1024)

typedef struct
{
  MeshTokenBucket bucket;
  gint64 now;
  guint64 sent;
  guint sends;
} Sender;

/* Sends @chunk-byte chunks as soon as the bucket allows, until @until.
 * Every wait the bucket asks for must be finite. */
static void
sender_run (Sender * s, gsize chunk, gint64 until)
{
  while (TRUE) {
    gint64 delay = mesh_token_bucket_delay (&s->bucket, s->now);

    fail_unless (delay >= 0);
    /* never longer than the debt of one chunk takes to pay */
    fail_unless (delay <= (gint64) (chunk * S /
            mesh_token_bucket_get_rate (&s->bucket)) + 1,
        "waits %" G_GINT64_FORMAT " µs", delay);
    if (s->now + delay > until) {
      s->now = until;
      return;
    }
    s->now += delay;
    fail_unless_equals_int64 (mesh_token_bucket_delay (&s->bucket, s->now), 0);
    mesh_token_bucket_consume (&s->bucket, chunk, s->now);
    s->sent += chunk;
    s->sends++;
  }
}

static void
sender_init (Sender * s, guint64 rate, guint64 burst)
{
  memset (s, 0, sizeof (*s));
  s->now = T0;
  mesh_token_bucket_init (&s->bucket, rate, burst, s->now);
}

/* Bytes of a steady sender after the initial burst: rate × time, within
 * one chunk. */
static void
assert_rate_held (guint64 rate, gsize chunk, gint64 duration)
{
  Sender s;
  guint64 after_burst, expected;

  sender_init (&s, rate, 0);
  /* the full bucket goes out first */
  sender_run (&s, chunk, T0);
  after_burst = s.sent;
  fail_unless (after_burst <= rate + chunk);

  sender_run (&s, chunk, T0 + duration);
  expected = rate * (duration / S);
  fail_unless (s.sent - after_burst + chunk >= expected,
      "rate %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " bytes in %"
      G_GINT64_FORMAT " s", rate, s.sent - after_burst, duration / S);
  fail_unless (s.sent - after_burst <= expected + chunk,
      "rate %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " bytes in %"
      G_GINT64_FORMAT " s", rate, s.sent - after_burst, duration / S);
}

GST_START_TEST (test_rate_holds_over_time)
{
  assert_rate_held (1000000, CHUNK, 60 * S);
  assert_rate_held (256 * 1024, CHUNK, 100 * S);
  assert_rate_held (10 * 1000 * 1000, 1500, 10 * S);
  /* a rate that is no multiple of anything */
  assert_rate_held (123457, 4099, 77 * S);
}

GST_END_TEST;

/* At rates below one chunk per second a chunk is still sent whenever the
 * bucket is not empty, and the debt spaces them out: at 1000 B/s, a 64 KiB
 * chunk every 65.5 s or so (this once sent nothing at all). */
GST_START_TEST (test_rate_below_one_chunk_per_second)
{
  Sender s;

  sender_init (&s, 1000, 0);
  sender_run (&s, CHUNK, T0);
  fail_unless_equals_int (s.sends, 1);
  sender_run (&s, CHUNK, T0 + 60 * S);
  fail_unless_equals_int (s.sends, 1);
  sender_run (&s, CHUNK, T0 + 70 * S);
  fail_unless_equals_int (s.sends, 2);

  /* over an hour: the rate, within a chunk */
  sender_run (&s, CHUNK, T0 + 3600 * S);
  fail_unless (s.sent >= 3600 * 1000);
  fail_unless (s.sent <= 3600 * 1000 + 1000 + CHUNK);

  /* 1 byte/s: still one chunk, then one more once its debt is paid (the
   * bucket held 1 byte) */
  sender_init (&s, 1, 0);
  sender_run (&s, CHUNK, T0 + (CHUNK - 1) * S);
  fail_unless_equals_int (s.sends, 1);
  sender_run (&s, CHUNK, T0 + (CHUNK - 1) * S + 1);
  fail_unless_equals_int (s.sends, 2);
}

GST_END_TEST;

/* In any window, at most rate × window + burst + one chunk. */
GST_START_TEST (test_bursts_bounded)
{
  Sender s;
  guint64 rate = 500000, burst = 100000;
  gint64 idle;

  sender_init (&s, rate, burst);
  /* a full bucket at start: the burst and one chunk at most */
  sender_run (&s, 1000, T0);
  fail_unless (s.sent >= burst);
  fail_unless (s.sent <= burst + 1000);

  /* idle for a long time: the bucket does not fill beyond its depth */
  for (idle = 1 * S; idle <= 1000 * S; idle *= 10) {
    guint64 before;

    s.now += idle;
    before = s.sent;
    sender_run (&s, 1000, s.now);
    fail_unless (s.sent - before <= burst + 1000, "%" G_GUINT64_FORMAT
        " bytes at once after %" G_GINT64_FORMAT " s idle", s.sent - before,
        idle / S);
    fail_unless (s.sent - before >= burst);
  }

  /* the default depth is one second of the rate */
  sender_init (&s, rate, 0);
  s.now += 3600 * S;
  sender_run (&s, 1000, s.now);
  fail_unless (s.sent <= rate + 1000);
  fail_unless_equals_int64 (mesh_token_bucket_get_level (&s.bucket, s.now),
      (gint64) rate - (gint64) s.sent);
}

GST_END_TEST;

GST_START_TEST (test_rate_changes)
{
  Sender s;
  guint64 before;

  sender_init (&s, 100000, 0);
  sender_run (&s, 10000, T0 + 10 * S);
  /* tenfold: what was earned stays, the new rate holds from now */
  mesh_token_bucket_set_rate (&s.bucket, 1000000, 0, s.now);
  fail_unless_equals_uint64 (mesh_token_bucket_get_rate (&s.bucket), 1000000);
  before = s.sent;
  sender_run (&s, 10000, s.now + 10 * S);
  fail_unless (s.sent - before >= 10 * 1000000 - 10000);
  fail_unless (s.sent - before <= 10 * 1000000 + 100000 + 10000);

  /* down to a rate below a chunk per second, while in debt: the debt is
   * kept, and the new rate holds */
  mesh_token_bucket_consume (&s.bucket, CHUNK, s.now);
  mesh_token_bucket_set_rate (&s.bucket, 2000, 0, s.now);
  fail_unless (mesh_token_bucket_get_level (&s.bucket, s.now) < 0);
  before = s.sent;
  sender_run (&s, CHUNK, s.now + 600 * S);
  fail_unless (s.sent - before <= 600 * 2000 + CHUNK);
  fail_unless (s.sent - before + CHUNK >= 600 * 2000 - CHUNK);

  /* a full bucket does not grow when the depth shrinks */
  s.now += 3600 * S;
  mesh_token_bucket_set_rate (&s.bucket, 1000, 0, s.now);
  fail_unless_equals_int64 (mesh_token_bucket_get_level (&s.bucket, s.now),
      1000);

  /* unlimited: never waits; limited again: starts full */
  mesh_token_bucket_set_rate (&s.bucket, 0, 0, s.now);
  before = s.sends;
  mesh_token_bucket_consume (&s.bucket, 1 << 30, s.now);
  fail_unless_equals_int64 (mesh_token_bucket_delay (&s.bucket, s.now), 0);
  mesh_token_bucket_set_rate (&s.bucket, 5000, 0, s.now);
  fail_unless_equals_int64 (mesh_token_bucket_get_level (&s.bucket, s.now),
      5000);
  fail_unless_equals_int64 (mesh_token_bucket_delay (&s.bucket, s.now), 0);
}

GST_END_TEST;

/* Time that stands still or runs backwards (a clock jump in a caller) adds
 * nothing and breaks nothing; huge values do not overflow. */
GST_START_TEST (test_clock_and_extremes)
{
  MeshTokenBucket b;
  gint64 now = T0;

  mesh_token_bucket_init (&b, 1000, 0, now);
  mesh_token_bucket_consume (&b, 1000, now);
  fail_unless (mesh_token_bucket_delay (&b, now) > 0);
  fail_unless (mesh_token_bucket_delay (&b, now - 10 * S) > 0);
  fail_unless_equals_int64 (mesh_token_bucket_delay (&b, now + 1 * S), 0);

  mesh_token_bucket_init (&b, G_MAXUINT64, 0, now);
  fail_unless_equals_uint64 (mesh_token_bucket_get_rate (&b),
      MESH_TOKEN_BUCKET_MAX_RATE);
  mesh_token_bucket_consume (&b, G_MAXUINT64, now);
  fail_unless (mesh_token_bucket_delay (&b, now) > 0);
  fail_unless_equals_int64 (mesh_token_bucket_delay (&b, G_MAXINT64 / 2), 0);
  fail_unless (mesh_token_bucket_get_level (&b, G_MAXINT64 / 2) > 0);
}

GST_END_TEST;

static Suite *
token_bucket_suite (void)
{
  Suite *s = suite_create ("token-bucket");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_rate_holds_over_time);
  tcase_add_test (tc, test_rate_below_one_chunk_per_second);
  tcase_add_test (tc, test_bursts_bounded);
  tcase_add_test (tc, test_rate_changes);
  tcase_add_test (tc, test_clock_and_extremes);
  return s;
}

GST_CHECK_MAIN (token_bucket);
