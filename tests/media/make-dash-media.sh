#!/bin/bash
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make-dash-media.sh OUTDIR STAMPFILE
#
# Makes the small DASH test streams the tests and the demo play (synthetic
# lavfi sources, so nothing is downloaded and nothing is committed). All video
# is H.264 (libx264, a keyframe at every segment start), 25 fps; all audio is
# AAC-LC 48 kHz stereo 64k; all fragments are fMP4 unless said otherwise.
#
#   template-timeline/manifest.mpd
#       ffmpeg's MPD, SegmentTemplate + SegmentTimeline ($Number%05d$),
#       video AdaptationSet with reps 0 (320x180 ~300k CBR) and 1 (640x360
#       ~1200k CBR), audio AdaptationSet with rep 2; 8 x 1 s each
#   template-number/manifest.mpd
#       ffmpeg's MPD, SegmentTemplate @duration ($Number%05d$, no timeline),
#       rep 0 video 320x180 ~300k, rep 1 audio; 8 x 1 s each
#   segment-list/manifest.mpd
#       template-number's files (hard links) described by a SegmentList:
#       <Initialization sourceURL>, one <SegmentURL media> per fragment
#   segment-base/manifest.mpd
#       one fMP4 file per rep (video.mp4, audio.mp4) with a global 'sidx' of
#       8 x 1 s subsegments; SegmentBase indexRange + Initialization range
#       computed from the files' boxes
#   multi-period/manifest.mpd
#       two Periods of 4 s (p0: testsrc2 + 440 Hz, p1: smptebars + 880 Hz),
#       each with its own SegmentTemplate @duration (files p0-* and p1-*),
#       Period@start and @duration set; 4 x 1 s per rep and Period
#   live/manifest.mpd
#       static SegmentTemplate @duration MPD, 30 x 2 s (60 s), rep 0 video
#       320x180 + rep 1 audio: the origin's /live/ turns it into a dynamic one
#   dashsink/manifest.mpd
#       made by GStreamer's dashsink (ffmpeg-encoded H.264/AAC remuxed by
#       gst-launch-1.0): SegmentTemplate @duration, MPEG-TS fragments, no
#       init segment; video_0 8 segments, audio_0 9 (the last one short).
#       dashsink's mp4 muxer hangs in GStreamer 1.22, hence TS.
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

for tool in ffmpeg gst-launch-1.0 od; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 1; }
done

script_sum=$(cksum < "$0" | cut -d' ' -f1)
if [ -e "$STAMP" ] && [ -f "$OUT/.complete" ] &&
    [ "$(cat "$OUT/.complete")" = "$script_sum" ]; then
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT"/template-timeline "$OUT"/template-number "$OUT"/segment-list \
  "$OUT"/segment-base "$OUT"/multi-period "$OUT"/live "$OUT"/dashsink \
  "$OUT"/.work

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)

# $1 source (testsrc2, smptebars), $2 size, $3 seconds
video_in () {
  echo "-f lavfi -i $1=size=$2:rate=25:duration=$3"
}

# An AAC frame (1024 samples) does not divide a second: a full N s would leave
# an extra segment of a frame or two, so the audio stops a little short.
# $1 frequency, $2 seconds
audio_in () {
  echo "-f lavfi -i sine=frequency=$1:sample_rate=48000:duration=$2"
}

# $1 GOP in frames = one segment
x264_args () {
  echo "-c:v libx264 -threads 1 -preset veryfast -profile:v high \
    -pix_fmt yuv420p -g $1 -keyint_min $1 -sc_threshold 0"
}

# $1 kbit/s, $2 stream specifier suffix (":0" or empty)
cbr_args () {
  local s=${2:-}
  echo "-b:v$s $1k -minrate:v$s $1k -maxrate:v$s $1k -bufsize:v$s $1k"
}

aac_args () {
  echo "-c:a aac -b:a 64k -ac 2"
}

make_template_timeline () {
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in testsrc2 640x360 8) $(audio_in 440 7.9) \
    -filter_complex "[0:v]split=2[a][v1];[a]scale=320:180[v0]" \
    -map "[v0]" -map "[v1]" -map 1:a \
    $(x264_args 25) -x264-params nal-hrd=cbr \
    $(cbr_args 300 :0) $(cbr_args 1200 :1) $(aac_args) \
    -f dash -use_template 1 -use_timeline 1 -seg_duration 1 \
    -adaptation_sets "id=0,streams=v id=1,streams=a" \
    "$OUT/template-timeline/manifest.mpd"
}

# $1 directory, $2 seconds, $3 segment seconds
make_template_number () {
  local gop=$((25 * $3))
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in testsrc2 320x180 "$2") $(audio_in 440 $(($2 - 1)).9) \
    $(x264_args $gop) -x264-params nal-hrd=cbr $(cbr_args 300) $(aac_args) \
    -f dash -use_template 1 -use_timeline 0 -seg_duration "$3" \
    -adaptation_sets "id=0,streams=v id=1,streams=a" "$1/manifest.mpd"
}

# One file per rep with a global sidx. ffmpeg describes such files with a
# SegmentList of byte ranges; segment-base/ gets its own MPD below.
make_segment_base_files () {
  local work=$OUT/.work/segment-base
  mkdir -p "$work"
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in testsrc2 320x180 8) $(audio_in 440 7.9) \
    $(x264_args 25) -b:v 300k $(aac_args) \
    -f dash -single_file 1 -global_sidx 1 -seg_duration 1 \
    -adaptation_sets "id=0,streams=v id=1,streams=a" "$work/sb.mpd"
  mv "$work/sb-stream0.mp4" "$OUT/segment-base/video.mp4"
  mv "$work/sb-stream1.mp4" "$OUT/segment-base/audio.mp4"
}

# $1 period name, $2 video source, $3 audio frequency
make_period () {
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in "$2" 320x180 4) $(audio_in "$3" 3.9) \
    $(x264_args 25) -b:v 300k $(aac_args) \
    -f dash -use_template 1 -use_timeline 0 -seg_duration 1 \
    -adaptation_sets "id=0,streams=v id=1,streams=a" \
    -init_seg_name "$1-init-\$RepresentationID\$.\$ext\$" \
    -media_seg_name "$1-chunk-\$RepresentationID\$-\$Number%05d\$.\$ext\$" \
    "$OUT/multi-period/$1.mpd"
}

# dashsink segments on keyframes it finds (send-keyframe-requests=false): the
# stream is encoded by ffmpeg like the others (no x264enc needed) and remuxed.
# dashsink (1.22) now and then never finishes at EOS, more often under ninja
# than from a shell: a run normally takes under a second, so a stuck one is
# cut short and tried again.
make_dashsink () {
  local src=$OUT/.work/dashsink-src.mp4 log=$OUT/.work/dashsink.log
  local attempt rc
  # shellcheck disable=SC2046
  "${FF[@]}" $(video_in testsrc2 320x180 8) $(audio_in 440 7.9) \
    $(x264_args 25) -b:v 300k $(aac_args) "$src"
  for attempt in 1 2 3; do
    rm -rf "$OUT/dashsink"
    mkdir -p "$OUT/dashsink"
    rc=0
    timeout 15 gst-launch-1.0 -e filesrc location="$src" ! qtdemux name=d \
      d.video_0 ! queue ! h264parse ! ds.video_0 \
      d.audio_0 ! queue ! aacparse ! ds.audio_0 \
      dashsink name=ds mpd-root-path="$OUT/dashsink" \
      mpd-filename=manifest.mpd target-duration=1 muxer=ts \
      send-keyframe-requests=false > "$log" 2>&1 < /dev/null || rc=$?
    if [ $rc = 0 ] && [ -s "$OUT/dashsink/manifest.mpd" ]; then
      return
    fi
    echo "$0: dashsink attempt $attempt failed (exit $rc)" >&2
  done
  tail -n 20 "$log" >&2
  exit 1
}

# ------------------------------------------------------------------------
# MPD writing helpers

# Attribute $3 of Representation id $2 in ffmpeg's MPD $1 (ffmpeg writes each
# Representation start tag on one line).
rep_attr () {
  local value
  value=$(sed -n "s/.*<Representation id=\"$2\"[^>]* $3=\"\([^\"]*\)\".*/\1/p" \
    "$1" | head -n 1)
  [ -n "$value" ] || { echo "$0: no $3 for rep $2 in $1" >&2; exit 1; }
  echo "$value"
}

mpd_header () {
  # $1 type-specific attributes, $2 profile
  cat <<EOF
<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="$2"
  type="static" minBufferTime="PT2S" $1>
EOF
}

# $1 ffmpeg MPD, $2 rep id
video_rep_attrs () {
  local codecs bandwidth
  codecs=$(rep_attr "$1" "$2" codecs)
  bandwidth=$(rep_attr "$1" "$2" bandwidth)
  echo "mimeType=\"video/mp4\" codecs=\"$codecs\" bandwidth=\"$bandwidth\"" \
    "width=\"320\" height=\"180\" frameRate=\"25\" startWithSAP=\"1\""
}

audio_rep_attrs () {
  local codecs bandwidth
  codecs=$(rep_attr "$1" "$2" codecs)
  bandwidth=$(rep_attr "$1" "$2" bandwidth)
  echo "mimeType=\"audio/mp4\" codecs=\"$codecs\" bandwidth=\"$bandwidth\"" \
    "audioSamplingRate=\"48000\" startWithSAP=\"1\""
}

# $1 rep id: SegmentList over template-number's fragments (1 s each).
segment_list () {
  local f n=0
  echo "        <SegmentList timescale=\"1000\" duration=\"1000\">"
  echo "          <Initialization sourceURL=\"init-stream$1.m4s\"/>"
  for f in "$OUT/segment-list/chunk-stream$1-"*.m4s; do
    echo "          <SegmentURL media=\"${f##*/}\"/>"
    n=$((n + 1))
  done
  echo "        </SegmentList>"
  [ $n -gt 0 ] || { echo "$0: no fragments for rep $1" >&2; exit 1; }
}

write_segment_list () {
  local src=$OUT/template-number/manifest.mpd f vattrs aattrs vlist alist
  for f in "$OUT/template-number/"*.m4s; do
    ln "$f" "$OUT/segment-list/" 2>/dev/null || cp "$f" "$OUT/segment-list/"
  done
  # assignments, not substitutions inside the here-document: set -e sees
  # their failures
  vattrs=$(video_rep_attrs "$src" 0)
  aattrs=$(audio_rep_attrs "$src" 1)
  vlist=$(segment_list 0)
  alist=$(segment_list 1)
  {
    mpd_header 'mediaPresentationDuration="PT8S"' \
      urn:mpeg:dash:profile:isoff-live:2011
    cat <<EOF
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" segmentAlignment="true">
      <Representation id="0" $vattrs>
$vlist
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" segmentAlignment="true">
      <Representation id="1" $aattrs>
$alist
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
EOF
  } > "$OUT/segment-list/manifest.mpd"
}

# "SIZE TYPE" of the box at byte $2 of file $1.
box_at () {
  local hex type
  hex=$(od -An -tx1 -j "$2" -N 4 "$1" | tr -d ' \n')
  type=$(od -An -c -j $(($2 + 4)) -N 4 "$1" | tr -d ' \n')
  echo "$((16#${hex:-0})) $type"
}

# Big-endian 32-bit number at byte $2 of file $1.
u32_at () {
  echo $((16#$(od -An -tx1 -j "$2" -N 4 "$1" | tr -d ' \n')))
}

# $1 file: "INIT_END SIDX_START SIDX_END TIMESCALE" of an fMP4 file whose
# top-level boxes go ftyp, moov, sidx, (moof, mdat)...
sidx_ranges () {
  local file=$1 offset=0 size type moov=0 total box
  total=$(stat -c %s "$file")
  while [ "$offset" -lt "$total" ]; do
    box=$(box_at "$file" "$offset")
    read -r size type <<< "$box"
    if [ "$size" -lt 8 ]; then
      echo "$0: $file: bad box at $offset" >&2
      exit 1
    fi
    case "$type" in
      moov) moov=1 ;;
      sidx)
        [ $moov = 1 ] || { echo "$0: $file: sidx before moov" >&2; exit 1; }
        # version+flags, reference_ID, then the timescale
        echo "$((offset - 1)) $offset $((offset + size - 1))" \
          "$(u32_at "$file" $((offset + 16)))"
        return
        ;;
    esac
    offset=$((offset + size))
  done
  echo "$0: $file: no sidx" >&2
  exit 1
}

# $1 file name: the SegmentBase of one rep.
segment_base () {
  local ranges init_end sidx_start sidx_end timescale
  ranges=$(sidx_ranges "$OUT/segment-base/$1")
  read -r init_end sidx_start sidx_end timescale <<< "$ranges"
  echo "        <BaseURL>$1</BaseURL>"
  echo "        <SegmentBase timescale=\"$timescale\"" \
    "indexRange=\"$sidx_start-$sidx_end\" indexRangeExact=\"true\">"
  echo "          <Initialization range=\"0-$init_end\"/>"
  echo "        </SegmentBase>"
}

write_segment_base () {
  local src=$OUT/.work/segment-base/sb.mpd vattrs aattrs vbase abase
  vattrs=$(video_rep_attrs "$src" 0)
  aattrs=$(audio_rep_attrs "$src" 1)
  vbase=$(segment_base video.mp4)
  abase=$(segment_base audio.mp4)
  {
    mpd_header 'mediaPresentationDuration="PT8S"' \
      urn:mpeg:dash:profile:isoff-on-demand:2011
    cat <<EOF
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" subsegmentAlignment="true"
        subsegmentStartsWithSAP="1">
      <Representation id="0" $vattrs>
$vbase
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" subsegmentAlignment="true"
        subsegmentStartsWithSAP="1">
      <Representation id="1" $aattrs>
$abase
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
EOF
  } > "$OUT/segment-base/manifest.mpd"
}

# The AdaptationSets of ffmpeg's single-Period MPD $1 (the lines between the
# Period tags).
period_body () {
  sed -n '/<Period /,/<\/Period>/p' "$1" | sed '1d;$d'
}

write_multi_period () {
  local dir=$OUT/multi-period
  {
    mpd_header 'mediaPresentationDuration="PT8S"' \
      urn:mpeg:dash:profile:isoff-live:2011
    echo "  <Period id=\"p0\" start=\"PT0S\" duration=\"PT4S\">"
    period_body "$dir/p0.mpd"
    echo "  </Period>"
    echo "  <Period id=\"p1\" start=\"PT4S\" duration=\"PT4S\">"
    period_body "$dir/p1.mpd"
    echo "  </Period>"
    echo "</MPD>"
  } > "$dir/manifest.mpd"
  rm -f "$dir/p0.mpd" "$dir/p1.mpd"
}

# Every MPD must exist and name only files that exist: a cheap guard against
# an ffmpeg whose muxer names things differently.
check_counts () {
  local dir=$1 pattern=$2 want=$3 got
  got=$(find "$OUT/$dir" -name "$pattern" | wc -l)
  if [ "$got" != "$want" ]; then
    echo "$0: $dir: $got files $pattern, expected $want" >&2
    exit 1
  fi
}

# Two cores: the 60 s live encode runs beside the rest.
make_template_number "$OUT/live" 60 2 &
pid_live=$!
make_template_timeline
make_template_number "$OUT/template-number" 8 1
make_segment_base_files
make_period p0 testsrc2 440
make_period p1 smptebars 880
make_dashsink
wait $pid_live

write_segment_list
write_segment_base
write_multi_period

check_counts template-timeline 'chunk-stream[012]-*.m4s' 24
check_counts template-number 'chunk-stream[01]-*.m4s' 16
check_counts segment-list 'chunk-stream[01]-*.m4s' 16
check_counts multi-period 'p[01]-chunk-*.m4s' 16
check_counts live 'chunk-stream[01]-*.m4s' 60
check_counts dashsink 'video_0_*.ts' 8

rm -rf "$OUT/.work"
echo "$script_sum" > "$OUT/.complete"
touch "$STAMP"
echo "make-dash-media: test streams ready in $OUT"
