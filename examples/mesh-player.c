/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A small player: playbin on a meshhls+http(s):// URI, printing the
 * mesh-stats messages as they arrive. Everything runs on the main thread's
 * GMainContext; the bus watch is the only callback.
 *
 *   mesh-player meshhls+http://127.0.0.1:8080/master.m3u8 [--no-video] [--seconds N]
 */
#include <gst/gst.h>

typedef struct
{
  GMainLoop *loop;
  GstElement *playbin;
  gint exit_code;
} Player;

static void
print_stats (const GstStructure * s)
{
  guint64 cdn = 0, peers = 0;
  gdouble ratio = 0;
  guint bitrate = 0;

  gst_structure_get_uint64 (s, "bytes-from-cdn", &cdn);
  gst_structure_get_uint64 (s, "bytes-from-peers", &peers);
  gst_structure_get_double (s, "p2p-ratio", &ratio);
  gst_structure_get_uint (s, "current-bitrate", &bitrate);
  g_print ("mesh-stats: cdn=%" G_GUINT64_FORMAT " peers=%" G_GUINT64_FORMAT
      " p2p-ratio=%.3f bitrate=%u\n", cdn, peers, ratio, bitrate);
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Player *player = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, "mesh-stats"))
        print_stats (gst_message_get_structure (msg));
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, &debug);
      g_printerr ("error: %s\n%s\n", error->message, debug ? debug : "");
      player->exit_code = 1;
      g_main_loop_quit (player->loop);
      break;
    case GST_MESSAGE_EOS:
      g_print ("end of stream\n");
      g_main_loop_quit (player->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout (gpointer user_data)
{
  Player *player = user_data;

  g_print ("stopping after the requested time\n");
  g_main_loop_quit (player->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  Player player = { 0, };
  gboolean no_video = FALSE;
  gint seconds = 0;
  g_auto (GStrv) uris = NULL;
  GOptionEntry entries[] = {
    {"no-video", 0, 0, G_OPTION_ARG_NONE, &no_video,
        "Decode but do not display (fakesink)", NULL},
    {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds,
        "Stop after this many seconds (0 = at the end)", "N"},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &uris, NULL, "URI"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("URI");
  g_autoptr (GError) error = NULL;
  GstBus *bus;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error) || !uris
      || !uris[0]) {
    g_printerr ("usage: %s [--no-video] [--seconds N] "
        "meshhls+http://HOST/PATH.m3u8\n", argv[0]);
    return 2;
  }

  player.loop = g_main_loop_new (NULL, FALSE);
  player.playbin = gst_element_factory_make ("playbin", NULL);
  g_object_set (player.playbin, "uri", uris[0], NULL);
  if (no_video) {
    g_object_set (player.playbin,
        "video-sink", gst_element_factory_make ("fakesink", NULL),
        "audio-sink", gst_element_factory_make ("fakesink", NULL), NULL);
  }

  bus = gst_element_get_bus (player.playbin);
  gst_bus_add_watch (bus, on_bus_message, &player);
  gst_object_unref (bus);
  if (seconds > 0)
    g_timeout_add_seconds (seconds, on_timeout, &player);

  if (gst_element_set_state (player.playbin, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_printerr ("could not start playback of %s\n", uris[0]);
    return 1;
  }
  g_main_loop_run (player.loop);

  gst_element_set_state (player.playbin, GST_STATE_NULL);
  gst_object_unref (player.playbin);
  g_main_loop_unref (player.loop);
  return player.exit_code;
}
