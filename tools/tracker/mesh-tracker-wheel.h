/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A timer wheel: many deadlines, one clock tick. The tracker gives every
 * connection a deadline (the heartbeat timeout, then the close grace); a
 * GSource each would make the main loop walk one more source per client
 * on every iteration, which is what saturated it at a few thousand
 * clients (bench/README.md, "Tracker load").
 *
 * Pure code: no clock of its own (every call takes "now"), no allocation
 * per timer (MeshWheelTimer is embedded in its owner), O(1) to schedule or
 * cancel, and popping costs the timers due plus the slots passed. A
 * deadline is honoured to within one tick, never early.
 *
 * Not thread-safe: one owner (the tracker's server thread).
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS typedef struct _MeshWheel MeshWheel;
typedef struct _MeshWheelTimer MeshWheelTimer;

/* Embed in the owner; zero-initialised it is not scheduled. */
struct _MeshWheelTimer
{
  MeshWheelTimer *prev;
  MeshWheelTimer *next;
  gint64 deadline;
  guint slot;
  gboolean scheduled;
};

/* @tick_us: the resolution; @n_slots: deadlines further than
 * tick_us * n_slots ahead are fine, but are looked at once a lap. */
MeshWheel *mesh_wheel_new (gint64 tick_us, guint n_slots, gint64 now);
void mesh_wheel_free (MeshWheel * wheel);

/* (Re)schedules @timer at @deadline (monotonic µs, may be in the past). */
void mesh_wheel_schedule (MeshWheel * wheel, MeshWheelTimer * timer,
    gint64 deadline);
/* Unschedules @timer; harmless when it is not scheduled. */
void mesh_wheel_cancel (MeshWheel * wheel, MeshWheelTimer * timer);
/* One timer whose deadline is <= @now, unscheduled, or NULL when none is
 * due. Call until NULL; the caller may schedule or cancel any timer in
 * between. */
MeshWheelTimer *mesh_wheel_pop_due (MeshWheel * wheel, gint64 now);
guint mesh_wheel_size (const MeshWheel * wheel);

G_END_DECLS
