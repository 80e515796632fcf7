/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The timer wheel (mesh-tracker-wheel.h). Slot i holds the timers whose
 * deadline falls in a tick t with t % n_slots == i, in any lap, as a
 * doubly linked list through the timers themselves. @cursor is the last
 * tick whose slot holds nothing due any more; popping walks the slots
 * after it up to now's tick.
 *
 * Owned by its caller's thread; no locking.
 */

#include "mesh-tracker-wheel.h"

struct _MeshWheel
{
  gint64 tick_us;
  guint n_slots;
  MeshWheelTimer **slots;       /* heads */
  gint64 cursor;                /* a tick number */
  guint size;
};

static gint64
tick_of (const MeshWheel * wheel, gint64 time)
{
  return time / wheel->tick_us;
}

static guint
slot_of (const MeshWheel * wheel, gint64 tick)
{
  return (guint) (tick % wheel->n_slots);
}

MeshWheel *
mesh_wheel_new (gint64 tick_us, guint n_slots, gint64 now)
{
  MeshWheel *wheel;

  g_return_val_if_fail (tick_us > 0 && n_slots > 0 && now >= 0, NULL);

  wheel = g_new0 (MeshWheel, 1);
  wheel->tick_us = tick_us;
  wheel->n_slots = n_slots;
  wheel->slots = g_new0 (MeshWheelTimer *, n_slots);
  wheel->cursor = tick_of (wheel, now) - 1;
  return wheel;
}

void
mesh_wheel_free (MeshWheel * wheel)
{
  if (!wheel)
    return;
  g_free (wheel->slots);
  g_free (wheel);
}

static void
unlink_timer (MeshWheel * wheel, MeshWheelTimer * timer)
{
  if (timer->prev)
    timer->prev->next = timer->next;
  else
    wheel->slots[timer->slot] = timer->next;
  if (timer->next)
    timer->next->prev = timer->prev;
  timer->prev = timer->next = NULL;
  timer->scheduled = FALSE;
  wheel->size--;
}

void
mesh_wheel_cancel (MeshWheel * wheel, MeshWheelTimer * timer)
{
  if (timer->scheduled)
    unlink_timer (wheel, timer);
}

/* A deadline already behind the cursor goes in the next slot to be
 * walked, so that it is found at once. */
void
mesh_wheel_schedule (MeshWheel * wheel, MeshWheelTimer * timer, gint64 deadline)
{
  guint slot;

  mesh_wheel_cancel (wheel, timer);
  timer->deadline = MAX (deadline, 0);
  slot = slot_of (wheel, MAX (tick_of (wheel, timer->deadline),
          wheel->cursor + 1));
  timer->slot = slot;
  timer->next = wheel->slots[slot];
  if (timer->next)
    timer->next->prev = timer;
  wheel->slots[slot] = timer;
  timer->scheduled = TRUE;
  wheel->size++;
}

static MeshWheelTimer *
due_in_slot (MeshWheel * wheel, gint64 tick, gint64 now)
{
  MeshWheelTimer *timer;

  for (timer = wheel->slots[slot_of (wheel, tick)]; timer; timer = timer->next) {
    if (timer->deadline <= now)
      return timer;
  }
  return NULL;
}

MeshWheelTimer *
mesh_wheel_pop_due (MeshWheel * wheel, gint64 now)
{
  gint64 now_tick = tick_of (wheel, now);
  gint64 tick;

  /* after a long pause, one lap visits every slot */
  if (now_tick - wheel->cursor > wheel->n_slots)
    wheel->cursor = now_tick - wheel->n_slots;

  for (tick = wheel->cursor + 1; tick <= now_tick; tick++) {
    MeshWheelTimer *timer = due_in_slot (wheel, tick, now);

    if (timer) {
      unlink_timer (wheel, timer);
      return timer;
    }
    /* now's own tick may still get deadlines later in it */
    if (tick < now_tick)
      wheel->cursor = tick;
  }
  return NULL;
}

guint
mesh_wheel_size (const MeshWheel * wheel)
{
  return wheel->size;
}
