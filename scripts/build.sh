#!/usr/bin/env bash
# Configures (once) and builds gst-mesh in ./build (or $MESH_BUILD_DIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MESH_BUILD_DIR:-$top/build}

"$top/scripts/setup-deps.sh"
# --prefix=/usr: the layout a distribution installs (the install test
# checks it); MESH_MESON_ARGS come after and may change it.
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" --prefix=/usr ${MESH_MESON_ARGS:-} >/dev/null
fi
ninja -C "$build" >/dev/null
