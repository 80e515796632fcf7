#!/usr/bin/env bash
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and
# runs each on a copy of its seed corpus, tests/fuzz/corpus/<name>/ for
# <name>-fuzz.c. A target is every tests/fuzz/*-fuzz.c; how to build and
# run it is in its
# own header comment, lines the runner reads (README.md shows them):
#   fuzz-sources: files of the project it links, from the top of the tree
#   fuzz-cflags: compiler flags, e.g. -Igst/mesh
#   fuzz-packages: pkg-config packages
#   fuzz-options: libFuzzer options, e.g. -max_len=16384
# A target without fuzz-sources is an error, not skipped.
#
# Without clang and its libFuzzer runtime (Debian: clang-14 and
# libclang-rt-14-dev, which scripts/setup-deps.sh installs) it prints SKIP
# and exits 77, which meson counts as a skipped test.
#
# Usage: run-fuzzers.sh [--time SECONDS | --runs N] [--out DIR] [TARGET...]
#   --time S   run each target S seconds (default 15: the test suite's run)
#   --runs N   run each target N inputs instead (the long runs: 10000000)
#   --out DIR  binaries, working corpora and crash files (default
#              build/fuzz); the working corpus of a target grows from run
#              to run, the committed seeds are never written
# Prints one line per target: executions, seconds, crashes, OOMs. Exits 1
# when a target failed to build or found a crash, a leak, an OOM or a hang
# (the input is then saved as DIR/<target>-crash-*, -leak-*, -oom-* or
# -timeout-*; README.md says how to replay it).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/fuzz
seconds=15
runs=
targets=()

usage () {
  sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "$0" | sed '/^$/q'
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
    --time) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) targets+=("${1%.c}"); shift ;;
  esac
done
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)

skip () {
  echo "SKIP fuzz: $1 (Debian: apt-get install clang-14 libclang-rt-14-dev," \
    "or ./scripts/setup-deps.sh)"
  exit 77
}

# clang with a libFuzzer runtime that links: a program of one empty target
clang=
for candidate in ${CLANG:-} clang-14 clang; do
  if command -v "$candidate" >/dev/null 2>&1; then
    clang=$candidate
    break
  fi
done
[ -n "$clang" ] || skip "no clang"
echo 'int LLVMFuzzerTestOneInput (const unsigned char *d, unsigned long n)
{ return 0; }' > "$out/probe.c"
"$clang" -fsanitize=fuzzer,address,undefined "$out/probe.c" \
  -o "$out/probe" >/dev/null 2>&1 || skip "$clang cannot link libFuzzer"

if [ ${#targets[@]} -eq 0 ]; then
  for source in "$top"/tests/fuzz/*-fuzz.c; do
    targets+=("$(basename "$source" .c)")
  done
fi

# The value of the "fuzz-@2:" line of the header of @1
recipe () {
  sed -n "s/^ \*  *fuzz-$2: *//p" "$1" | tr '\n' ' '
}

build () {
  local name=$1 source=$top/tests/fuzz/$1.c sources cflags packages pkg=
  sources=$(recipe "$source" sources)
  cflags=$(recipe "$source" cflags)
  packages=$(recipe "$source" packages)
  if [ -z "$sources" ]; then
    echo "$name: no ' * fuzz-sources:' line in tests/fuzz/$name.c" \
      "(tests/fuzz/README.md says how a target says how it is built)" >&2
    return 1
  fi
  if [ -n "$packages" ]; then
    pkg=$(pkg-config --cflags --libs $packages) || return 1
  fi
  # shellcheck disable=SC2086 # lists of words
  (cd "$top" && "$clang" -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined $cflags "tests/fuzz/$name.c" $sources \
    $pkg -o "$out/$name")
}

# libFuzzer's last words: "Done 10000000 runs in 1234 second(s)"
report () {
  local name=$1 log=$2 status=$3 executions seconds crashes ooms
  executions=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' \
    "$log" | tail -n 1)
  seconds=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' \
    "$log" | tail -n 1)
  ooms=$(grep -c 'ERROR: libFuzzer: out-of-memory' "$log")
  crashes=0
  if [ "$status" -ne 0 ] && [ "$ooms" -eq 0 ]; then
    crashes=1
  fi
  printf '%-16s %10s executions in %5s s, %d crashes, %d OOMs%s\n' "$name" \
    "${executions:-?}" "${seconds:-?}" "$crashes" "$ooms" \
    "$([ "$status" -ne 0 ] && echo ": FAILED, see $log")"
}

failed=0
for name in "${targets[@]}"; do
  if [ ! -f "$top/tests/fuzz/$name.c" ]; then
    echo "$name: no tests/fuzz/$name.c" >&2
    failed=1
    continue
  fi
  if ! build "$name"; then
    echo "$name: FAILED to build" >&2
    failed=1
    continue
  fi
  corpus=$out/corpus-$name
  seeds=$top/tests/fuzz/corpus/${name%-fuzz}
  mkdir -p "$corpus"
  if [ -d "$seeds" ]; then
    cp -n "$seeds"/* "$corpus"/ 2>/dev/null
  else
    echo "$name: no seeds in tests/fuzz/corpus/${name%-fuzz}, starting empty"
  fi
  options=$(recipe "$top/tests/fuzz/$name.c" options)
  if [ -n "$runs" ]; then
    length=-runs=$runs
  else
    # the short runs of the test suite start from one seed, so that a run
    # of the same code explores the same inputs first (a finding fails
    # every run, not one in ten); the long runs explore at random
    length="-max_total_time=$seconds -seed=1"
  fi
  log=$out/$name.log
  # Leaks are found input by input (libFuzzer checks after each input
  # that freed less than it allocated). Not at exit, where GLib's one
  # allocation while it loads (tests/lsan.supp) shows up: its suppression
  # needs full malloc stacks, which slow fuzzing down twelvefold.
  # shellcheck disable=SC2086 # a list of options
  (cd "$top" && ASAN_OPTIONS=leak_check_at_exit=0 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$out/$name" $length -rss_limit_mb=2048 -timeout=30 \
    -artifact_prefix="$out/$name-" -print_final_stats=1 $options \
    "$corpus" >"$log" 2>&1)
  status=$?
  report "$name" "$log" "$status"
  [ "$status" -eq 0 ] || failed=1
done
exit $failed
