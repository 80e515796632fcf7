#!/usr/bin/env bash
# The demo: builds gst-mesh, makes test media, starts the test origin with a
# simulated live HLS stream and plays it through meshhlssrc (playbin on a
# meshhls+http:// URI), printing the mesh-stats messages as they arrive.
# DEMO_SECONDS (default 20) sets how long it plays; ^C stops everything.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MESH_BUILD_DIR:-$top/build}
seconds=${DEMO_SECONDS:-20}

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

mkfifo "$workdir/origin.out"
"$build/tools/origin/mesh-origin" --root "$media" >"$workdir/origin.out" &
pids+=($!)
exec 3<"$workdir/origin.out"   # kept open: the origin may log more
read -r line <&3
origin=${line##* }
echo "origin: $origin (simulated live: /live/live/index.m3u8)"

export GST_PLUGIN_PATH=$build/gst/mesh
"$build/examples/mesh-player" --no-video --seconds "$seconds" \
  "meshhls+$origin/live/live/index.m3u8"

echo "origin served:"
python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())" "$origin/_stats"
