/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Unit tests for the tracker's timer wheel (tools/tracker/mesh-tracker-
 * wheel.h): never early, at most a tick late, cancel and reschedule from
 * any slot, deadlines beyond one lap, a long pause, and a reference model
 * run on random operations. The wheel has no clock: each test moves `now`.
 * Single thread.
 */

#include <gst/check/gstcheck.h>

#include "mesh-tracker-wheel.h"

#define TICK 250000
#define SLOTS 16

typedef struct
{
  MeshWheelTimer timer;
  guint id;
} Item;

static Item *
item_of (MeshWheelTimer * timer)
{
  return (Item *) ((guint8 *) timer - G_STRUCT_OFFSET (Item, timer));
}

/* The ids due at @now, in pop order. */
static GArray *
pop_all (MeshWheel * wheel, gint64 now)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint));
  MeshWheelTimer *timer;

  while ((timer = mesh_wheel_pop_due (wheel, now))) {
    fail_if (timer->scheduled);
    fail_unless (timer->deadline <= now, "popped %" G_GINT64_FORMAT
        " at %" G_GINT64_FORMAT, timer->deadline, now);
    g_array_append_val (ids, item_of (timer)->id);
  }
  return ids;
}

GST_START_TEST (test_never_early_at_most_a_tick_late)
{
  MeshWheel *wheel = mesh_wheel_new (TICK, SLOTS, 1000000);
  Item a = { {0,}, 1 };
  gint64 now;
  gboolean popped = FALSE;

  mesh_wheel_schedule (wheel, &a.timer, 1000000 + 3 * TICK + 10);
  fail_unless_equals_int (mesh_wheel_size (wheel), 1);
  for (now = 1000000; now < 1000000 + 5 * TICK && !popped; now += TICK / 10) {
    g_autoptr (GArray) ids = pop_all (wheel, now);

    popped = ids->len == 1;
  }
  fail_unless (popped);
  fail_unless (now - TICK / 10 <= 1000000 + 3 * TICK + 10 + TICK);
  fail_unless_equals_int (mesh_wheel_size (wheel), 0);
  mesh_wheel_free (wheel);
}

GST_END_TEST;

GST_START_TEST (test_past_deadline_is_due_at_once)
{
  MeshWheel *wheel = mesh_wheel_new (TICK, SLOTS, 50 * TICK);
  Item a = { {0,}, 7 };
  g_autoptr (GArray) none = NULL;
  g_autoptr (GArray) ids = NULL;

  none = pop_all (wheel, 60 * TICK);
  fail_unless_equals_int (none->len, 0);
  mesh_wheel_schedule (wheel, &a.timer, 3 * TICK);
  ids = pop_all (wheel, 60 * TICK);
  fail_unless_equals_int (ids->len, 1);
  fail_unless_equals_int (g_array_index (ids, guint, 0), 7);
  mesh_wheel_free (wheel);
}

GST_END_TEST;

GST_START_TEST (test_cancel_and_reschedule)
{
  MeshWheel *wheel = mesh_wheel_new (TICK, SLOTS, 0);
  Item items[3] = { {{0,}, 0}, {{0,}, 1}, {{0,}, 2}
  };
  g_autoptr (GArray) early = NULL;
  g_autoptr (GArray) late = NULL;
  guint i;

  for (i = 0; i < 3; i++)
    mesh_wheel_schedule (wheel, &items[i].timer, 2 * TICK);
  /* the middle of a slot's list, then its head */
  mesh_wheel_cancel (wheel, &items[1].timer);
  mesh_wheel_cancel (wheel, &items[2].timer);
  mesh_wheel_cancel (wheel, &items[2].timer);
  mesh_wheel_schedule (wheel, &items[0].timer, 5 * TICK);
  mesh_wheel_schedule (wheel, &items[0].timer, 6 * TICK);
  fail_unless_equals_int (mesh_wheel_size (wheel), 1);

  early = pop_all (wheel, 5 * TICK + TICK - 1);
  fail_unless_equals_int (early->len, 0);
  late = pop_all (wheel, 6 * TICK);
  fail_unless_equals_int (late->len, 1);
  fail_unless_equals_int (g_array_index (late, guint, 0), 0);
  fail_unless_equals_int (mesh_wheel_size (wheel), 0);
  mesh_wheel_free (wheel);
}

GST_END_TEST;

/* Deadlines several laps ahead share slots with nearer ones and must wait
 * for their own lap. */
GST_START_TEST (test_beyond_one_lap)
{
  MeshWheel *wheel = mesh_wheel_new (TICK, SLOTS, 0);
  Item near = { {0,}, 1 }, far = { {0,}, 2 };
  g_autoptr (GArray) at_near = NULL;
  g_autoptr (GArray) before_far = NULL;
  g_autoptr (GArray) at_far = NULL;

  mesh_wheel_schedule (wheel, &near.timer, 3 * TICK);
  mesh_wheel_schedule (wheel, &far.timer, (3 + 3 * SLOTS) * TICK);
  at_near = pop_all (wheel, 3 * TICK);
  fail_unless_equals_int (at_near->len, 1);
  fail_unless_equals_int (g_array_index (at_near, guint, 0), 1);
  before_far = pop_all (wheel, (3 + 3 * SLOTS) * TICK - 1);
  fail_unless_equals_int (before_far->len, 0);
  at_far = pop_all (wheel, (3 + 3 * SLOTS) * TICK);
  fail_unless_equals_int (at_far->len, 1);
  mesh_wheel_free (wheel);
}

GST_END_TEST;

/* Random schedules, cancels and clock steps (some longer than a lap)
 * against a plain list: the same timers pop, none early, none later than
 * a tick after its deadline. */
GST_START_TEST (test_against_a_model)
{
  enum
  { N = 200, STEPS = 20000 };
  MeshWheel *wheel = mesh_wheel_new (TICK, SLOTS, 0);
  Item *items = g_new0 (Item, N);
  GRand *rand = g_rand_new_with_seed (11);
  gint64 now = 0;
  guint step, i, scheduled = 0;

  for (i = 0; i < N; i++)
    items[i].id = i;

  for (step = 0; step < STEPS; step++) {
    Item *item = &items[g_rand_int_range (rand, 0, N)];
    guint op = g_rand_int_range (rand, 0, 10);

    if (op < 5) {
      scheduled += !item->timer.scheduled;
      mesh_wheel_schedule (wheel, &item->timer, now +
          g_rand_int_range (rand, -TICK, 40 * TICK));
    } else if (op < 6) {
      scheduled -= item->timer.scheduled;
      mesh_wheel_cancel (wheel, &item->timer);
    } else {
      g_autoptr (GArray) ids = NULL;

      now += g_rand_int_range (rand, 0, op == 9 ? 30 * TICK : TICK);
      ids = pop_all (wheel, now);
      scheduled -= ids->len;
      /* nothing due is left behind */
      for (i = 0; i < N; i++)
        fail_if (items[i].timer.scheduled
            && items[i].timer.deadline <= now, "timer %u left behind", i);
    }
    fail_unless_equals_int (mesh_wheel_size (wheel), scheduled);
  }
  g_rand_free (rand);
  g_free (items);
  mesh_wheel_free (wheel);
}

GST_END_TEST;

static Suite *
tracker_wheel_suite (void)
{
  Suite *s = suite_create ("tracker-wheel");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_never_early_at_most_a_tick_late);
  tcase_add_test (tc, test_past_deadline_is_due_at_once);
  tcase_add_test (tc, test_cancel_and_reschedule);
  tcase_add_test (tc, test_beyond_one_lap);
  tcase_add_test (tc, test_against_a_model);
  return s;
}

GST_CHECK_MAIN (tracker_wheel);
