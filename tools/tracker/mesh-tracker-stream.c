/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MeshTrackerStream (see mesh-tracker-stream.h): a GIOStream over a client's
 * connection whose output stream takes every write and queues what the
 * socket does not take (MeshTrackerOutput), and whose input stream counts
 * what was read since the last complete message (MeshTrackerInput).
 *
 * Threads: everything runs on the GMainContext that was thread-default when
 * the stream was made (the tracker's); the output's flush source and the
 * close's linger timer are attached there. No lock.
 */

#include "mesh-tracker-stream.h"

#include <string.h>

/* how long a close waits for the queue to drain */
#define LINGER_MS 2000

/* ------------------------------------------------------------------------ */
/* MeshTrackerOutput                                                        */

#define MESH_TYPE_TRACKER_OUTPUT (mesh_tracker_output_get_type ())
G_DECLARE_FINAL_TYPE (MeshTrackerOutput, mesh_tracker_output, MESH,
    TRACKER_OUTPUT, GOutputStream)
     struct _MeshTrackerOutput
     {
       GOutputStream parent;

       GOutputStream *base;     /* pollable */
       GMainContext *context;
       GByteArray *queue;       /* what the socket has not taken */
       gsize head;              /* bytes of queue already written */
       gsize max_queued;
       gboolean too_slow;
       GError *broken;          /* the socket failed while flushing */
       GSource *flush_source;
       GTask *closing;          /* a close waiting for the queue to drain */
       GSource *linger_source;
     };

     static void
         mesh_tracker_output_pollable_init (GPollableOutputStreamInterface *
    iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MeshTrackerOutput, mesh_tracker_output,
    G_TYPE_OUTPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
        mesh_tracker_output_pollable_init));

     static void stream_finish_close (GTask * task);

     static gsize output_queued (MeshTrackerOutput * out)
{
  return out->queue->len - out->head;
}

static void
output_stop_flushing (MeshTrackerOutput * out)
{
  if (out->flush_source) {
    g_source_destroy (out->flush_source);
    g_source_unref (out->flush_source);
    out->flush_source = NULL;
  }
}

static void
output_drop_queue (MeshTrackerOutput * out)
{
  output_stop_flushing (out);
  g_byte_array_set_size (out->queue, 0);
  out->head = 0;
}

/* Writes what the socket takes now: >= 0 bytes, or -1 and @error. */
static gssize
output_write_base (MeshTrackerOutput * out, const guint8 * data, gsize size,
    GError ** error)
{
  GError *local = NULL;
  gssize written = g_pollable_output_stream_write_nonblocking
      (G_POLLABLE_OUTPUT_STREAM (out->base), data, size, NULL, &local);

  if (written >= 0)
    return written;
  if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
    g_error_free (local);
    return 0;
  }
  g_propagate_error (error, local);
  return -1;
}

static gboolean on_base_writable (GObject * base, gpointer data);

/* Writes the queue until the socket takes no more; a close that waited for
 * it goes on once it is empty. */
static void
output_flush (MeshTrackerOutput * out)
{
  while (output_queued (out) > 0 && !out->broken) {
    gssize written = output_write_base (out, out->queue->data + out->head,
        output_queued (out), &out->broken);

    if (written <= 0)
      break;
    out->head += written;
  }
  if (out->broken)
    output_drop_queue (out);

  if (output_queued (out) > 0) {
    if (!out->flush_source) {
      out->flush_source = g_pollable_output_stream_create_source
          (G_POLLABLE_OUTPUT_STREAM (out->base), NULL);
      g_source_set_callback (out->flush_source,
          (GSourceFunc) (GCallback) on_base_writable, out, NULL);
      g_source_attach (out->flush_source, out->context);
    }
    return;
  }
  output_drop_queue (out);
  if (out->closing)
    stream_finish_close (g_steal_pointer (&out->closing));
}

static gboolean
on_base_writable (GObject * base, gpointer data)
{
  MeshTrackerOutput *out = data;

  /* output_flush() replaces or drops the source: this one is done */
  g_source_unref (g_steal_pointer (&out->flush_source));
  output_flush (out);
  return G_SOURCE_REMOVE;
}

/* Queues @size bytes, or fails the stream when that would pass the bound. */
static gboolean
output_enqueue (MeshTrackerOutput * out, const guint8 * data, gsize size,
    GError ** error)
{
  if (output_queued (out) + size > out->max_queued) {
    out->too_slow = TRUE;
    output_drop_queue (out);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "the client did not "
        "read %" G_GSIZE_FORMAT " bytes", out->max_queued);
    return FALSE;
  }
  /* what was written goes once it is half the queue: each byte is moved
   * about once */
  if (out->head > 0 && out->head >= out->queue->len / 2) {
    g_byte_array_remove_range (out->queue, 0, out->head);
    out->head = 0;
  }
  g_byte_array_append (out->queue, data, size);
  if (!out->flush_source)
    output_flush (out);
  return TRUE;
}

static gssize
output_write_nonblocking (GPollableOutputStream * pollable,
    const void *buffer, gsize count, GError ** error)
{
  MeshTrackerOutput *out = MESH_TRACKER_OUTPUT (pollable);
  gssize written = 0;

  if (out->too_slow) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
        "the client does not read");
    return -1;
  }
  if (out->broken) {
    g_propagate_error (error, g_error_copy (out->broken));
    return -1;
  }
  /* in order: straight to the socket only when nothing waits before */
  if (output_queued (out) == 0) {
    written = output_write_base (out, buffer, count, error);
    if (written < 0)
      return -1;
  }
  if ((gsize) written < count && !output_enqueue (out,
          (const guint8 *) buffer + written, count - written, error))
    return -1;
  return count;
}

/* It never blocks: what the socket does not take is queued. */
static gssize
output_write (GOutputStream * stream, const void *buffer, gsize count,
    GCancellable * cancellable, GError ** error)
{
  return output_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (stream), buffer,
      count, error);
}

static gboolean
output_is_writable (GPollableOutputStream * pollable)
{
  return TRUE;
}

/* Always ready, as the stream always takes more. */
static GSource *
output_create_source (GPollableOutputStream * pollable,
    GCancellable * cancellable)
{
  GSource *ready = g_timeout_source_new (0);
  GSource *source = g_pollable_source_new_full (pollable, ready, cancellable);

  g_source_unref (ready);
  return source;
}

/* The socket is closed with the connection (see stream_close_base()). */
static gboolean
output_close (GOutputStream * stream, GCancellable * cancellable,
    GError ** error)
{
  output_drop_queue (MESH_TRACKER_OUTPUT (stream));
  return TRUE;
}

static void
mesh_tracker_output_finalize (GObject * object)
{
  MeshTrackerOutput *out = MESH_TRACKER_OUTPUT (object);

  output_stop_flushing (out);
  g_byte_array_unref (out->queue);
  g_clear_error (&out->broken);
  g_object_unref (out->base);
  g_main_context_unref (out->context);
  G_OBJECT_CLASS (mesh_tracker_output_parent_class)->finalize (object);
}

static void
mesh_tracker_output_class_init (MeshTrackerOutputClass * klass)
{
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = mesh_tracker_output_finalize;
  stream_class->write_fn = output_write;
  stream_class->close_fn = output_close;
}

static void
mesh_tracker_output_pollable_init (GPollableOutputStreamInterface * iface)
{
  iface->is_writable = output_is_writable;
  iface->create_source = output_create_source;
  iface->write_nonblocking = output_write_nonblocking;
}

static void
mesh_tracker_output_init (MeshTrackerOutput * out)
{
  out->queue = g_byte_array_new ();
  out->context = g_main_context_ref_thread_default ();
}

/* ------------------------------------------------------------------------ */
/* MeshTrackerInput                                                         */

#define MESH_TYPE_TRACKER_INPUT (mesh_tracker_input_get_type ())
G_DECLARE_FINAL_TYPE (MeshTrackerInput, mesh_tracker_input, MESH,
    TRACKER_INPUT, GInputStream)
     struct _MeshTrackerInput
     {
       GInputStream parent;

       GInputStream *base;      /* pollable */
       gsize unframed;          /* read since the last complete message */
       gsize max_unframed;
       gboolean flooding;
     };

     static void mesh_tracker_input_pollable_init (GPollableInputStreamInterface
    * iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MeshTrackerInput, mesh_tracker_input,
    G_TYPE_INPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
        mesh_tracker_input_pollable_init));

/* Counts the @read bytes just read; fails past the bound. */
     static gssize
         input_count (MeshTrackerInput * in, gssize read, GError ** error)
{
  if (read <= 0)
    return read;
  in->unframed += read;
  if (in->unframed <= in->max_unframed)
    return read;
  in->flooding = TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "more than %"
      G_GSIZE_FORMAT " bytes without a complete message", in->max_unframed);
  return -1;
}

static gboolean
input_check (MeshTrackerInput * in, GError ** error)
{
  if (!in->flooding)
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
      "too much without a complete message");
  return FALSE;
}

static gssize
input_read_nonblocking (GPollableInputStream * pollable, void *buffer,
    gsize count, GError ** error)
{
  MeshTrackerInput *in = MESH_TRACKER_INPUT (pollable);

  if (!input_check (in, error))
    return -1;
  return input_count (in, g_pollable_input_stream_read_nonblocking
      (G_POLLABLE_INPUT_STREAM (in->base), buffer, count, NULL, error), error);
}

static gssize
input_read (GInputStream * stream, void *buffer, gsize count,
    GCancellable * cancellable, GError ** error)
{
  MeshTrackerInput *in = MESH_TRACKER_INPUT (stream);

  if (!input_check (in, error))
    return -1;
  return input_count (in, g_input_stream_read (in->base, buffer, count,
          cancellable, error), error);
}

static gboolean
input_is_readable (GPollableInputStream * pollable)
{
  MeshTrackerInput *in = MESH_TRACKER_INPUT (pollable);

  return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM
      (in->base));
}

static GSource *
input_create_source (GPollableInputStream * pollable,
    GCancellable * cancellable)
{
  MeshTrackerInput *in = MESH_TRACKER_INPUT (pollable);
  GSource *readable = g_pollable_input_stream_create_source
      (G_POLLABLE_INPUT_STREAM (in->base), NULL);
  GSource *source = g_pollable_source_new_full (pollable, readable,
      cancellable);

  g_source_unref (readable);
  return source;
}

/* The socket is closed with the connection (see stream_close_base()). */
static gboolean
input_close (GInputStream * stream, GCancellable * cancellable, GError ** error)
{
  return TRUE;
}

static void
mesh_tracker_input_finalize (GObject * object)
{
  g_object_unref (MESH_TRACKER_INPUT (object)->base);
  G_OBJECT_CLASS (mesh_tracker_input_parent_class)->finalize (object);
}

static void
mesh_tracker_input_class_init (MeshTrackerInputClass * klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = mesh_tracker_input_finalize;
  stream_class->read_fn = input_read;
  stream_class->close_fn = input_close;
}

static void
mesh_tracker_input_pollable_init (GPollableInputStreamInterface * iface)
{
  iface->is_readable = input_is_readable;
  iface->create_source = input_create_source;
  iface->read_nonblocking = input_read_nonblocking;
}

static void
mesh_tracker_input_init (MeshTrackerInput * in)
{
}

/* ------------------------------------------------------------------------ */
/* MeshTrackerStream                                                        */

struct _MeshTrackerStream
{
  GIOStream parent;

  GIOStream *base;
  MeshTrackerInput *input;
  MeshTrackerOutput *output;
};

G_DEFINE_FINAL_TYPE (MeshTrackerStream, mesh_tracker_stream, G_TYPE_IO_STREAM);

static void
stream_close_base (MeshTrackerStream * stream)
{
  output_drop_queue (stream->output);
  g_io_stream_close (stream->base, NULL, NULL);
}

static gboolean
on_linger_over (gpointer data)
{
  GTask *task = data;
  MeshTrackerStream *stream = g_task_get_source_object (task);
  MeshTrackerOutput *out = stream->output;

  /* the task is the one out->closing holds */
  g_clear_pointer (&out->linger_source, g_source_unref);
  stream_finish_close (g_steal_pointer (&out->closing));
  return G_SOURCE_REMOVE;
}

/* Closes the socket and completes @task (taken). */
static void
stream_finish_close (GTask * task)
{
  MeshTrackerStream *stream = g_task_get_source_object (task);
  MeshTrackerOutput *out = stream->output;

  if (out->linger_source) {
    g_source_destroy (out->linger_source);
    g_clear_pointer (&out->linger_source, g_source_unref);
  }
  stream_close_base (stream);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* What libsoup calls once it is done: what is still queued gets a little
 * time to go out, unless the client is the reason for the close. */
static void
stream_close_async (GIOStream * io, int priority, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer data)
{
  MeshTrackerStream *stream = MESH_TRACKER_STREAM (io);
  MeshTrackerOutput *out = stream->output;
  GTask *task = g_task_new (io, cancellable, callback, data);

  g_task_set_source_tag (task, stream_close_async);
  if (output_queued (out) == 0 || out->closing) {
    stream_finish_close (task);
    return;
  }
  out->closing = task;
  out->linger_source = g_timeout_source_new (LINGER_MS);
  g_source_set_callback (out->linger_source, on_linger_over, task, NULL);
  g_source_attach (out->linger_source, out->context);
}

static gboolean
stream_close_finish (GIOStream * io, GAsyncResult * result, GError ** error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
stream_close (GIOStream * io, GCancellable * cancellable, GError ** error)
{
  stream_close_base (MESH_TRACKER_STREAM (io));
  return TRUE;
}

static GInputStream *
stream_get_input (GIOStream * io)
{
  return G_INPUT_STREAM (MESH_TRACKER_STREAM (io)->input);
}

static GOutputStream *
stream_get_output (GIOStream * io)
{
  return G_OUTPUT_STREAM (MESH_TRACKER_STREAM (io)->output);
}

static void
mesh_tracker_stream_finalize (GObject * object)
{
  MeshTrackerStream *stream = MESH_TRACKER_STREAM (object);

  g_object_unref (stream->input);
  g_object_unref (stream->output);
  g_object_unref (stream->base);
  G_OBJECT_CLASS (mesh_tracker_stream_parent_class)->finalize (object);
}

static void
mesh_tracker_stream_class_init (MeshTrackerStreamClass * klass)
{
  GIOStreamClass *io_class = G_IO_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = mesh_tracker_stream_finalize;
  io_class->get_input_stream = stream_get_input;
  io_class->get_output_stream = stream_get_output;
  io_class->close_fn = stream_close;
  io_class->close_async = stream_close_async;
  io_class->close_finish = stream_close_finish;
}

static void
mesh_tracker_stream_init (MeshTrackerStream * stream)
{
}

MeshTrackerStream *
mesh_tracker_stream_new (GIOStream * base, gsize max_queued, gsize max_unframed)
{
  MeshTrackerStream *stream;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);
  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM
      (g_io_stream_get_input_stream (base)), NULL);
  g_return_val_if_fail (G_IS_POLLABLE_OUTPUT_STREAM
      (g_io_stream_get_output_stream (base)), NULL);

  stream = g_object_new (MESH_TYPE_TRACKER_STREAM, NULL);
  stream->base = g_object_ref (base);
  stream->input = g_object_new (MESH_TYPE_TRACKER_INPUT, NULL);
  stream->input->base = g_object_ref (g_io_stream_get_input_stream (base));
  stream->input->max_unframed = max_unframed;
  stream->output = g_object_new (MESH_TYPE_TRACKER_OUTPUT, NULL);
  stream->output->base = g_object_ref (g_io_stream_get_output_stream (base));
  stream->output->max_queued = max_queued;
  return stream;
}

void
mesh_tracker_stream_note_message (MeshTrackerStream * stream)
{
  g_return_if_fail (MESH_IS_TRACKER_STREAM (stream));

  stream->input->unframed = 0;
}

gsize
mesh_tracker_stream_get_queued (MeshTrackerStream * stream)
{
  g_return_val_if_fail (MESH_IS_TRACKER_STREAM (stream), 0);

  return output_queued (stream->output);
}

MeshTrackerStreamFault
mesh_tracker_stream_get_fault (MeshTrackerStream * stream)
{
  g_return_val_if_fail (MESH_IS_TRACKER_STREAM (stream),
      MESH_TRACKER_STREAM_OK);

  if (stream->output->too_slow)
    return MESH_TRACKER_STREAM_TOO_SLOW;
  if (stream->input->flooding)
    return MESH_TRACKER_STREAM_FLOODING;
  return MESH_TRACKER_STREAM_OK;
}
