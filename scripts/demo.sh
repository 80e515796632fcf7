#!/usr/bin/env bash
# The demo: builds gst-mesh, makes test media, starts the test origin with a
# simulated live HLS stream (6 segments of 2 s in the window), a mesh-tracker,
# and several viewers (playbin on meshhls+http://, decoding in real time)
# that share segments with each other, printing each viewer's P2P ratio and
# the bitrate it plays as they go and, at the end, what the origin served.
# The tracker's dashboard (its own /) shows the swarm meanwhile.
#   DEMO_VIEWERS (default 4), DEMO_SECONDS (default 40); ^C stops everything.
#   DEMO_HOLD=1 keeps the origin and the tracker (and its dashboard) up after
#   the viewers are done, until ^C.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MESH_BUILD_DIR:-$top/build}
viewers=${DEMO_VIEWERS:-4}
seconds=${DEMO_SECONDS:-40}

"$top/scripts/build.sh"
ninja -C "$build" tests/media/hls.stamp >/dev/null
media=$build/tests/media/hls

workdir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a server in the background; its URL, from its first output line,
# goes to $server_url. Not in a subshell: the pid and the fifo's reader must
# stay with this shell.
start_server() {
  local fifo=$workdir/$1.out fd line
  shift
  mkfifo "$fifo"
  "$@" >"$fifo" &
  pids+=($!)
  exec {fd}<"$fifo"             # kept open: the server may log more
  read -r line <&"$fd"
  server_url=${line##* }
}

start_server origin "$build/tools/origin/mesh-origin" --root "$media"
origin=$server_url
# a history point every 2 s, so that the dashboard's charts move
start_server tracker "$build/tools/tracker/mesh-tracker" --listen 127.0.0.1:0 \
  --qos-interval 2
tracker=$server_url
dashboard=${tracker/#ws:/http:}
dashboard=${dashboard%/announce}/
uri="meshhls+$origin/live/live/index.m3u8"
echo "origin:  $origin (simulated live: /live/live/index.m3u8)"
echo "tracker: $tracker"
echo "dashboard: $dashboard (offload, viewers, stalls, as the viewers report them)"
echo "$viewers viewers for $seconds s; each line is a viewer's mesh-stats"
echo "(current-bitrate: the bitrate of the variant the viewer plays, bit/s)"

export GST_PLUGIN_PATH=$build/gst/mesh
viewer_pids=()
for i in $(seq 1 "$viewers"); do
  "$build/examples/mesh-player" --no-video --seconds "$seconds" \
    --tracker "$tracker" --local-address 127.0.0.1 --name "viewer $i" \
    "$uri" >"$workdir/viewer$i.log" 2>&1 &
  viewer_pids+=($!)
  pids+=($!)
  sleep 1                       # viewers trickle in
done
tail -q -n +1 -f "$workdir"/viewer*.log &
pids+=($!)
wait "${viewer_pids[@]}" 2>/dev/null || true

python3 - "$origin/_stats" "${dashboard}api/swarms" "$workdir"/viewer*.log <<'PY'
import json, re, sys, urllib.request
stats = json.load(urllib.request.urlopen(sys.argv[1]))
reported = json.load(urllib.request.urlopen(sys.argv[2]))
del sys.argv[2]
served = sum(v["bytes"] for p, v in stats["paths"].items() if p.endswith(".ts"))
received = 0
for log in sys.argv[2:]:
    finals = [l for l in open(log) if l.startswith("final ")]
    if not finals:
        print(f"{log}: no final statistics (did the viewer fail?)")
        continue
    m = re.search(r"from-cdn=(\d+) from-peers=(\d+)", finals[-1])
    received += int(m.group(1)) + int(m.group(2))
    ratio = re.search(r"p2p-ratio=([0-9.]+)", finals[-1])
    bitrate = re.search(r"current-bitrate=(\d+)", finals[-1])
    print(f"{log.rsplit('/', 1)[-1][:-4]}: p2p-ratio {ratio.group(1)}, "
          f"playing {int(bitrate.group(1)) / 1000:.0f} kbit/s")
n = len(sys.argv) - 2
print(f"origin served {served} segment bytes; viewers received {received}")
if received:
    print(f"offload {1 - served / received:.3f} (ceiling for {n} viewers: {1 - 1 / n:.3f})")
# what the players told the tracker (their qos reports), as the dashboard shows it
for swarm in reported:
    print(f"tracker: {swarm['swarm']}: viewers reported "
          f"{swarm['bytes_from_cdn']} bytes from the CDN, {swarm['bytes_from_peers']} "
          f"from peers: p2p ratio {swarm['p2p_ratio']:.3f}, {swarm['stalls']} stalls")
PY
if [ "${DEMO_HOLD:-0}" = 1 ]; then
  echo "dashboard: $dashboard stays up; ^C ends the demo"
  while :; do sleep 3600; done
fi
