/* gst-mesh
 * Copyright (C) 2026 gst-mesh developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A small player: playbin on a meshhls+http(s):// or meshdash+http(s)://
 * URI, printing the mesh-stats messages as they arrive (the P2P ratio and
 * the bitrate played), and the warnings. Everything runs on the main
 * thread's GMainContext; the bus watch and playbin's source-setup (on the
 * thread that changes the state, the main thread here) are the callbacks.
 *
 *   mesh-player [--no-video] [--seconds N] [--tracker ws://HOST:PORT/announce]
 *       [--local-address IP] [--name NAME] URI
 *
 * --no-video plays headless: fakesinks in real time instead of a window and
 * a sound card. With --tracker, the source shares segments with the other
 * viewers of the stream; the tracker and local-address are set on it from
 * playbin's source-setup signal.
 *
 * With the test origin (docs/test-origin.md) serving the test media:
 *
 *   build/tools/origin/mesh-origin --root build/tests/media \
 *       --listen 127.0.0.1:8080 &
 *   build/examples/mesh-player --no-video \
 *       meshhls+http://127.0.0.1:8080/hls/ts/master.m3u8
 *   build/examples/mesh-player --no-video \
 *       meshdash+http://127.0.0.1:8080/dash/template-timeline/manifest.mpd
 */
#include <gst/gst.h>

typedef struct
{
  GMainLoop *loop;
  GstElement *playbin;
  gint exit_code;
  const gchar *name;
  const gchar *tracker;
  const gchar *local_address;
} Player;

static void
print_stats (Player * player, const GstStructure * s)
{
  guint64 cdn = 0, from_peers = 0, uploaded = 0;
  gdouble ratio = 0;
  guint bitrate = 0, peers = 0;

  gst_structure_get_uint64 (s, "bytes-from-cdn", &cdn);
  gst_structure_get_uint64 (s, "bytes-from-peers", &from_peers);
  gst_structure_get_uint64 (s, "bytes-uploaded", &uploaded);
  gst_structure_get_double (s, "p2p-ratio", &ratio);
  gst_structure_get_uint (s, "current-bitrate", &bitrate);
  gst_structure_get_uint (s, "peers", &peers);
  g_print ("%s: p2p-ratio=%.3f from-cdn=%" G_GUINT64_FORMAT " from-peers=%"
      G_GUINT64_FORMAT " uploaded=%" G_GUINT64_FORMAT " peers=%u "
      "current-bitrate=%u\n", player->name, ratio, cdn, from_peers, uploaded,
      peers, bitrate);
}

/* The source's counters once playback is over. */
static void
print_final_stats (Player * player)
{
  GstElement *source = NULL;
  GstStructure *s;

  g_object_get (player->playbin, "source", &source, NULL);
  if (!source || !g_object_class_find_property (G_OBJECT_GET_CLASS (source),
          "p2p-ratio")) {
    gst_clear_object (&source);
    return;
  }
  s = gst_structure_new_empty ("final");
  {
    guint64 cdn, from_peers, uploaded;
    gdouble ratio;
    guint peers, bitrate;

    g_object_get (source, "bytes-from-cdn", &cdn, "bytes-from-peers",
        &from_peers, "bytes-uploaded", &uploaded, "p2p-ratio", &ratio,
        "peers", &peers, "current-bitrate", &bitrate, NULL);
    gst_structure_set (s, "bytes-from-cdn", G_TYPE_UINT64, cdn,
        "bytes-from-peers", G_TYPE_UINT64, from_peers, "bytes-uploaded",
        G_TYPE_UINT64, uploaded, "p2p-ratio", G_TYPE_DOUBLE, ratio, "peers",
        G_TYPE_UINT, peers, "current-bitrate", G_TYPE_UINT, bitrate, NULL);
  }
  g_print ("final ");
  print_stats (player, s);
  gst_structure_free (s);
  gst_object_unref (source);
}

static void
on_source_setup (GstElement * playbin, GstElement * source, Player * player)
{
  if (!g_object_class_find_property (G_OBJECT_GET_CLASS (source), "tracker"))
    return;
  if (player->tracker)
    g_object_set (source, "tracker", player->tracker, NULL);
  if (player->local_address)
    g_object_set (source, "local-address", player->local_address, NULL);
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
        print_stats (player, gst_message_get_structure (msg));
      break;
    case GST_MESSAGE_WARNING:
      /* e.g. a tracker that cannot be used: playback goes on from the CDN */
      gst_message_parse_warning (msg, &error, &debug);
      g_printerr ("%s: warning from %s: %s\n", player->name,
          GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), error->message);
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
  g_autofree gchar *tracker = NULL;
  g_autofree gchar *local_address = NULL;
  g_autofree gchar *name = NULL;
  g_auto (GStrv) uris = NULL;
  GOptionEntry entries[] = {
    {"no-video", 0, 0, G_OPTION_ARG_NONE, &no_video,
          "Headless: decode into fakesinks in real time, no window or sound",
        NULL},
    {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds,
        "Stop after this many seconds (0 = at the end)", "N"},
    {"tracker", 0, 0, G_OPTION_ARG_STRING, &tracker,
        "Share segments with other viewers through this mesh-tracker", "URL"},
    {"local-address", 0, 0, G_OPTION_ARG_STRING, &local_address,
        "Only offer peer connections on this IP address", "IP"},
    {"name", 0, 0, G_OPTION_ARG_STRING, &name,
        "Name printed before each statistics line", "NAME"},
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
    g_printerr ("usage: %s [--no-video] [--seconds N] [--tracker URL] "
        "[--local-address IP] [--name NAME] meshhls+http://HOST/PATH.m3u8 | "
        "meshdash+http://HOST/PATH.mpd\n", argv[0]);
    return 2;
  }

  player.name = name ? name : "mesh-stats";
  player.tracker = tracker;
  player.local_address = local_address;
  player.loop = g_main_loop_new (NULL, FALSE);
  player.playbin = gst_element_factory_make ("playbin", NULL);
  g_object_set (player.playbin, "uri", uris[0], NULL);
  g_signal_connect (player.playbin, "source-setup",
      G_CALLBACK (on_source_setup), &player);
  if (no_video) {
    GstElement *video = gst_element_factory_make ("fakesink", NULL);
    GstElement *audio = gst_element_factory_make ("fakesink", NULL);

    /* in real time, as a player would consume it */
    g_object_set (video, "sync", TRUE, NULL);
    g_object_set (audio, "sync", TRUE, NULL);
    g_object_set (player.playbin, "video-sink", video, "audio-sink", audio,
        NULL);
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

  print_final_stats (&player);
  gst_element_set_state (player.playbin, GST_STATE_NULL);
  gst_object_unref (player.playbin);
  g_main_loop_unref (player.loop);
  return player.exit_code;
}
