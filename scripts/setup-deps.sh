#!/usr/bin/env bash
# Installs what gst-mesh needs to build, test and run its demo on Debian 12.
# Idempotent: installs only the packages that are missing.
set -euo pipefail

PACKAGES=(
  gcc meson ninja-build pkg-config
  libglib2.0-dev libsoup-3.0-dev libjson-glib-dev nettle-dev libxml2-dev
  libnice-dev
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base-apps
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-libav
  ffmpeg openssl python3 coturn
  indent
  clang-14 libclang-rt-14-dev   # the fuzz targets (tests/fuzz): libFuzzer
  iproute2 nftables   # the network lab (bench/lab, lab-smoke)
  systemd man-db      # the install test: the unit directory, systemd-analyze, man -l
  chromium   # the dashboard test (tests/dashboard): the page in a real browser
  libhiredis-dev redis-server   # mesh-tracker --redis and its tests
)

# bench/tracker-load.py --tracker bittorrent-tracker runs node and npm (npm ci
# at run time; its test skips without them). A node installed otherwise
# (NodeSource's bundles npm and conflicts with Debian's npm) is left alone.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
fi
echo "Installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
