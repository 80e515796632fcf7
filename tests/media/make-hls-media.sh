#!/bin/bash
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make-hls-media.sh OUTDIR STAMPFILE
#
# Makes the small HLS test streams the tests and the demo play (synthetic
# lavfi sources, so nothing is downloaded and nothing is committed):
#
#   ts/master.m3u8        two CBR video-only TS variants (v0 320x180 ~200k,
#                         v1 640x360 ~1500k) + alternate audio group "aud",
#                         12 x 1 s segments each
#   single/index.m3u8     muxed video+audio TS, 320x180, 8 x 1 s
#   fmp4/index.m3u8       fMP4/CMAF video+audio with EXT-X-MAP init.mp4, 6 x 1 s
#   byterange/index.m3u8  TS in one file with EXT-X-BYTERANGE, 6 x 1 s
#   aes/index.m3u8        single/'s segments AES-128-CBC encrypted, explicit IV
#   aes-seq/index.m3u8    the same key, IV = media sequence number
#   live/index.m3u8       TS VOD of 20 s in 2 s segments, for the origin's
#                         /live/ loop
#
# The AES key is written as aes/key.bin (binary) and aes/key.hex; the explicit
# IV as aes/iv.hex. Both aes playlists are segment-for-segment aligned with
# single/ (same EXTINF, media sequence 0), so decrypting them must give
# single/'s bytes back.
#
# Idempotent: when STAMPFILE exists and OUTDIR holds a complete set made by
# this same script, nothing is done.

set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 OUTDIR STAMPFILE" >&2
  exit 2
fi

OUT=$1
STAMP=$2
AES_KEY=000102030405060708090a0b0c0d0e0f
AES_IV=f0e0d0c0b0a090807060504030201000

for tool in ffmpeg ffprobe openssl; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 1; }
done

script_sum=$(cksum < "$0" | cut -d' ' -f1)
if [ -e "$STAMP" ] && [ -f "$OUT/.complete" ] &&
    [ "$(cat "$OUT/.complete")" = "$script_sum" ]; then
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT"/ts/v0 "$OUT"/ts/v1 "$OUT"/ts/audio "$OUT"/single \
  "$OUT"/fmp4 "$OUT"/byterange "$OUT"/aes "$OUT"/aes-seq "$OUT"/live

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)

# $1 size, $2 seconds
video_in () {
  echo "-f lavfi -i testsrc2=size=$1:rate=25:duration=$2"
}

# $1 seconds
audio_in () {
  echo "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=$1"
}

# $1 GOP in frames; CBR-ish by default so that bandwidths are predictable.
x264_args () {
  echo "-c:v libx264 -threads 1 -preset veryfast -profile:v high \
    -pix_fmt yuv420p -g $1 -keyint_min $1 -sc_threshold 0"
}

aac_args () {
  echo "-c:a aac -b:a 64k -ac 2"
}

# $1 segment seconds
hls_args () {
  echo "-f hls -hls_time $1 -hls_playlist_type vod -start_number 0"
}

make_ts_variants () {
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in 320x180 12) $(x264_args 25) \
    -b:v 200k -minrate 200k -maxrate 200k -bufsize 200k \
    -x264-params nal-hrd=cbr \
    $(hls_args 1) \
    -hls_segment_filename "$OUT/ts/v0/seg%d.ts" "$OUT/ts/v0/index.m3u8"
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in 640x360 12) $(x264_args 25) \
    -b:v 1500k -minrate 1500k -maxrate 1500k -bufsize 1500k \
    -x264-params nal-hrd=cbr \
    $(hls_args 1) \
    -hls_segment_filename "$OUT/ts/v1/seg%d.ts" "$OUT/ts/v1/index.m3u8"
}

# An AAC frame (1024 samples) does not divide a second: a full 12 s would leave
# a 13th segment of one frame, so stop a little short.
make_ts_audio () {
  # shellcheck disable=SC2046
  "${FF[@]}" $(audio_in 11.98) $(aac_args) $(hls_args 1) \
    -hls_segment_filename "$OUT/ts/audio/seg%d.ts" "$OUT/ts/audio/index.m3u8"
}

make_single () {
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in 320x180 8) $(audio_in 8) $(x264_args 25) -b:v 300k \
    $(aac_args) $(hls_args 1) \
    -hls_segment_filename "$OUT/single/seg%d.ts" "$OUT/single/index.m3u8"
}

make_fmp4 () {
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in 320x180 6) $(audio_in 6) $(x264_args 25) -b:v 300k \
    $(aac_args) $(hls_args 1) \
    -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
    -hls_segment_filename "$OUT/fmp4/seg%d.m4s" "$OUT/fmp4/index.m3u8"
}

make_byterange () {
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in 320x180 6) $(audio_in 6) $(x264_args 25) -b:v 300k \
    $(aac_args) $(hls_args 1) -hls_flags single_file \
    -hls_segment_filename "$OUT/byterange/media.ts" \
    "$OUT/byterange/index.m3u8"
}

make_live () {
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in 320x180 20) $(audio_in 20) $(x264_args 50) -b:v 300k \
    $(aac_args) $(hls_args 2) \
    -hls_segment_filename "$OUT/live/seg%d.ts" "$OUT/live/index.m3u8"
}

hex_to_file () {
  printf '%b' "$(echo "$1" | sed 's/../\\x&/g')" > "$2"
}

# Copies single/'s playlist to $1 with the EXT-X-KEY line $2 before the first
# segment, and encrypts each segment; with no $3 the IV is the segment's media
# sequence number (single/ starts at 0).
make_aes_dir () {
  local dir=$1 key_line=$2 iv=${3:-} seq=0 line
  : > "$dir/index.m3u8"
  local keyed=0
  while IFS= read -r line; do
    case "$line" in
      "#EXTINF"*)
        if [ $keyed = 0 ]; then
          echo "$key_line" >> "$dir/index.m3u8"
          keyed=1
        fi
        echo "$line" >> "$dir/index.m3u8"
        ;;
      "#"*|"")
        echo "$line" >> "$dir/index.m3u8"
        ;;
      *)
        local seg_iv=$iv
        [ -n "$seg_iv" ] || seg_iv=$(printf '%032x' "$seq")
        openssl enc -aes-128-cbc -K "$AES_KEY" -iv "$seg_iv" \
          -in "$OUT/single/$line" -out "$dir/$line"
        echo "$line" >> "$dir/index.m3u8"
        seq=$((seq + 1))
        ;;
    esac
  done < "$OUT/single/index.m3u8"
  hex_to_file "$AES_KEY" "$dir/key.bin"
  echo "$AES_KEY" > "$dir/key.hex"
}

make_aes () {
  make_aes_dir "$OUT/aes" \
    "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x$AES_IV" "$AES_IV"
  echo "$AES_IV" > "$OUT/aes/iv.hex"
  make_aes_dir "$OUT/aes-seq" "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\""
}

# Peak bits per second over a media playlist's segments (size / EXTINF).
peak_bandwidth () {
  local dir=$1
  awk -v dir="$dir" '
    /^#EXTINF:/ { sub(/^#EXTINF:/, ""); sub(/,.*/, ""); dur = $0 + 0; next }
    /^#/ || /^$/ { next }
    {
      cmd = "stat -c %s \"" dir "/" $0 "\""
      cmd | getline size; close(cmd)
      if (dur > 0) { bw = size * 8 / dur; if (bw > peak) peak = bw }
    }
    END { printf "%d\n", peak + 0.5 }' "$dir/index.m3u8"
}

# avc1.PPCCLL from the first segment's stream (profile_idc, constraints, level).
avc_codec () {
  local profile level pidc
  profile=$(ffprobe -v error -select_streams v:0 -show_entries stream=profile \
    -of default=nw=1:nk=1 "$1" | head -n 1)
  level=$(ffprobe -v error -select_streams v:0 -show_entries stream=level \
    -of default=nw=1:nk=1 "$1" | head -n 1)
  case "$profile" in
    High) pidc=64 ;;
    Main) pidc=4d ;;
    *) pidc=42 ;;
  esac
  printf 'avc1.%s00%02x\n' "$pidc" "$level"
}

write_master () {
  local abw v0bw v1bw v0codec v1codec
  abw=$(peak_bandwidth "$OUT/ts/audio")
  v0bw=$(peak_bandwidth "$OUT/ts/v0")
  v1bw=$(peak_bandwidth "$OUT/ts/v1")
  v0codec=$(avc_codec "$OUT/ts/v0/seg0.ts")
  v1codec=$(avc_codec "$OUT/ts/v1/seg0.ts")
  cat > "$OUT/ts/master.m3u8" <<EOF
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=$((v0bw + abw)),RESOLUTION=320x180,FRAME-RATE=25.000,CODECS="$v0codec,mp4a.40.2",AUDIO="aud"
v0/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=$((v1bw + abw)),RESOLUTION=640x360,FRAME-RATE=25.000,CODECS="$v1codec,mp4a.40.2",AUDIO="aud"
v1/index.m3u8
EOF
}

# Two cores: run the encodes two by two.
make_ts_variants &
pid_a=$!
make_live &
pid_b=$!
make_ts_audio
make_single
make_fmp4
make_byterange
wait $pid_a
wait $pid_b

make_aes
write_master

echo "$script_sum" > "$OUT/.complete"
touch "$STAMP"
echo "make-hls-media: test streams ready in $OUT"
