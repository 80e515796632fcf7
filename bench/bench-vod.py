#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""VOD benchmark: meshhlssrc against souphttpsrc + hlsdemux2, and with
--dash meshdashsrc against dashdemux2.

Serves one VOD HLS stream with the test origin (mesh-origin) and plays it
several times through each side, interleaved (mesh, hlsdemux2, mesh, ...),
each run in a process of its own (mesh-bench-play), so that CPU time and peak
RSS are those of one run. Both sides go through uridecodebin3 into fakesinks
(sync=false), decoding everything, or with --no-decode stopping after the
demuxers and parsers. See bench/README.md.

Python standard library only.
"""

import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, URI scheme prefix, element that must have done the work; the first
# side is ours, the second the reference
HLS_SIDES = (
    ("meshhlssrc", "meshhls+", "meshhlssrc"),
    ("hlsdemux2", "", "hlsdemux2"),
)
DASH_SIDES = (
    ("meshdashsrc", "meshdash+", "meshdashsrc"),
    ("dashdemux2", "", "dashdemux2"),
)
SIDES = HLS_SIDES

# (key in a run result, label)
FIGURES = (
    ("cpu_ms", "CPU time user+sys (ms)"),
    ("wall_ms", "wall PLAYING->EOS (ms)"),
    ("process_ms", "wall whole process (ms)"),
    ("first_buffer_ms", "time to first buffer (ms)"),
    ("max_rss_mib", "peak RSS (MiB)"),
    ("origin_requests", "origin requests"),
    ("origin_mib", "origin bytes (MiB)"),
)


class BenchError(Exception):
    pass


def parse_args():
    parser = argparse.ArgumentParser(
        description="Compare meshhlssrc with souphttpsrc+hlsdemux2 on a VOD "
        "HLS stream served by the test origin.")
    parser.add_argument("--runs", type=int, default=5,
                        help="measured runs per side (default 5)")
    parser.add_argument("--build", default=os.path.join(REPO, "build"),
                        help="meson build directory (default <repo>/build)")
    parser.add_argument("--playlist", default=None,
                        help="playlist to play, relative to the media root "
                        "(default ts/master.m3u8, or master.m3u8 with --long)")
    parser.add_argument("--dash", action="store_true",
                        help="MPEG-DASH: meshdashsrc against dashdemux2 on "
                        "the DASH test media (default MPD "
                        "template-timeline/manifest.mpd)")
    parser.add_argument("--no-decode", action="store_true",
                        help="stop after demuxing/parsing (no decoders)")
    parser.add_argument("--long", action="store_true",
                        help="generate and play a longer VOD (60 s, 2 "
                        "variants, 2 s segments, muxed audio) made with ffmpeg")
    parser.add_argument("--max-buffering-time", type=float, default=None,
                        metavar="SECONDS",
                        help="set max-buffering-time on meshhlssrc and "
                        "hlsdemux2 alike (default: their own, 30 s)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured runs per side first (default 1)")
    parser.add_argument("--timeout", type=int, default=120,
                        help="seconds one run may take (default 120)")
    parser.add_argument("--json", action="store_true",
                        help="also print the figures as one JSON object")
    args = parser.parse_args()
    if (args.runs < 1 or args.warmup < 0 or args.timeout < 1
            or (args.max_buffering_time is not None
                and args.max_buffering_time <= 0)):
        parser.error("--runs and --timeout must be >= 1, --warmup >= 0, "
                     "--max-buffering-time > 0")
    if args.dash and args.long:
        parser.error("--long makes HLS media only")
    if args.playlist is None:
        if args.dash:
            args.playlist = "template-timeline/manifest.mpd"
        else:
            args.playlist = "master.m3u8" if args.long else "ts/master.m3u8"
    return args


def find_build_files(build):
    files = {
        "origin": os.path.join(build, "tools", "origin", "mesh-origin"),
        "play": os.path.join(build, "bench", "mesh-bench-play"),
        "plugin_dir": os.path.join(build, "gst", "mesh"),
    }
    for key in ("origin", "play"):
        if not os.access(files[key], os.X_OK):
            raise BenchError("%s not built (ninja -C %s)" % (files[key], build))
    if not os.path.exists(os.path.join(files["plugin_dir"], "libgstmesh.so")):
        raise BenchError("the mesh plugin is not built in %s"
                         % files["plugin_dir"])
    return files


def make_test_media(build, tmpdir, kind):
    """The project's test streams (kind "hls" or "dash"): $MESH_TEST_MEDIA
    or $MESH_TEST_DASH_MEDIA, the build's, or new."""
    env_dir = os.environ.get("MESH_TEST_DASH_MEDIA" if kind == "dash"
                             else "MESH_TEST_MEDIA")
    if env_dir:
        return env_dir
    built = os.path.join(build, "tests", "media", kind)
    if os.path.exists(os.path.join(built, ".complete")):
        return built
    out = os.path.join(tmpdir, kind)
    script = os.path.join(REPO, "tests", "media", "make-%s-media.sh" % kind)
    print("making the test media in %s ..." % out, flush=True)
    subprocess.run([script, out, os.path.join(tmpdir, kind + ".stamp")],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def make_long_media(tmpdir):
    """60 s of 25 fps video in two variants with muxed AAC, 2 s segments."""
    if not shutil.which("ffmpeg"):
        raise BenchError("--long needs ffmpeg")
    out = os.path.join(tmpdir, "long")
    os.makedirs(out)
    print("making a 60 s VOD in %s ..." % out, flush=True)
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=60",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
        "-filter_complex", "[0:v]split=2[hi][lo0];[lo0]scale=320:180[lo]",
        "-map", "[lo]", "-map", "1:a", "-map", "[hi]", "-map", "1:a",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
        "-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50",
        "-sc_threshold", "0",
        "-b:v:0", "400k", "-maxrate:v:0", "400k", "-bufsize:v:0", "800k",
        "-b:v:1", "1500k", "-maxrate:v:1", "1500k", "-bufsize:v:1", "3000k",
        "-c:a", "aac", "-b:a", "64k", "-ac", "2",
        "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
        "-start_number", "0", "-master_pl_name", "master.m3u8",
        "-var_stream_map", "v:0,a:0 v:1,a:1",
        "-hls_segment_filename", os.path.join(out, "v%v", "seg%d.ts"),
        os.path.join(out, "v%v", "index.m3u8"),
    ]
    subprocess.run(cmd, check=True)
    return out


class Origin:
    """mesh-origin in a subprocess; stop() (or the with block) ends it."""

    def __init__(self, binary, root):
        self.proc = subprocess.Popen([binary, "--root", root],
                                     stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.base_url = self._read_base_url()

    def _read_base_url(self):
        prefix = b"mesh-origin listening on "
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline() if ready else b""
        if not line.startswith(prefix):
            self.stop()
            raise BenchError("mesh-origin did not start (said %r)" % line)
        return line[len(prefix):].decode().strip()

    def _post(self, path):
        req = urllib.request.Request(self.base_url + path, data=b"",
                                     method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def reset_stats(self):
        self._post("/_stats/reset")

    def stats(self):
        with urllib.request.urlopen(self.base_url + "/_stats",
                                    timeout=10) as resp:
            return json.load(resp)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Runner:
    """Starts one mesh-bench-play process at a time, measured with wait4."""

    def __init__(self, play, plugin_dir, no_decode, timeout,
                 max_buffering_time):
        self.play = play
        self.max_buffering_time = max_buffering_time
        self.no_decode = no_decode
        self.timeout = timeout
        self.current = None
        # The same environment, hence the same registry, for both sides.
        self.env = dict(os.environ)
        path = self.env.get("GST_PLUGIN_PATH")
        self.env["GST_PLUGIN_PATH"] = (plugin_dir + os.pathsep + path
                                       if path else plugin_dir)

    def run(self, uri):
        cmd = [self.play, "--timeout", str(self.timeout), uri]
        if self.no_decode:
            cmd.insert(1, "--no-decode")
        if self.max_buffering_time is not None:
            cmd[1:1] = ["--max-buffering-time", str(self.max_buffering_time)]
        with tempfile.TemporaryFile() as err:
            start = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                    stdin=subprocess.DEVNULL, env=self.env)
            self.current = proc
            out = proc.stdout.read()
            proc.stdout.close()
            _, status, usage = os.wait4(proc.pid, 0)
            process_ms = (time.monotonic() - start) * 1000
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.current = None
            err.seek(0)
            stderr = err.read().decode(errors="replace").strip()
        try:
            result = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            result = {"error": "no result (exit %d): %s"
                      % (proc.returncode, stderr[-500:])}
        if proc.returncode != 0 and not result.get("error"):
            result["error"] = "exit status %d" % proc.returncode
        result["cpu_ms"] = (usage.ru_utime + usage.ru_stime) * 1000
        result["max_rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
        result["process_ms"] = process_ms
        return result

    def kill_current(self):
        proc = self.current
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()


def measure_one(runner, origin, side, url):
    name, prefix, element = side
    origin.reset_stats()
    result = runner.run(prefix + url)
    stats = origin.stats()
    result["origin_requests"] = stats["total_requests"]
    result["origin_mib"] = stats["total_bytes"] / (1024 * 1024)
    if not result.get("error") and element not in result.get("elements", []):
        result["error"] = "%s was not used (elements: %s)" % (
            element, ", ".join(result.get("elements", [])))
    return result


def fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.1f" % value
    return str(value)


def sizes_text(sizes):
    return ",".join("%s:%d" % item for item in (sizes or {}).items())


def print_run(index, name, r):
    line = "%-4s %-11s %8s %8s %8s %8s %7s %6s %6s  %s" % (
        index, name, fmt(r.get("cpu_ms")), fmt(r.get("wall_ms")),
        fmt(r.get("first_buffer_ms")), fmt(r.get("max_rss_mib")),
        fmt(r.get("video_frames")), fmt(r.get("origin_requests")),
        fmt(r.get("origin_mib")), sizes_text(r.get("video_sizes")))
    if r.get("error"):
        line += "  ERROR: " + r["error"]
    print(line, flush=True)


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values)}


def ratio(mesh, ref):
    if not mesh or not ref or ref["median"] == 0:
        return None
    return mesh["median"] / ref["median"]


def side_names():
    return SIDES[0][0], SIDES[1][0]


def check_frames(results):
    """One message per run whose two sides disagree, or that failed."""
    problems = []
    ours, theirs = side_names()
    for i, (mesh, ref) in enumerate(zip(results[ours], results[theirs]), 1):
        if mesh.get("error") or ref.get("error"):
            problems.append("run %d failed" % i)
        elif mesh.get("video_frames") != ref.get("video_frames"):
            problems.append("run %d: video frames differ: %s %s, %s %s"
                            % (i, ours, mesh.get("video_frames"), theirs,
                               ref.get("video_frames")))
    return problems


def check_sizes(results):
    """Runs whose sides decoded the same count at different resolutions:
    not an error (ABR may switch a segment apart), but the work differs."""
    notes = []
    ours, theirs = side_names()
    for i, (mesh, ref) in enumerate(zip(results[ours], results[theirs]), 1):
        if mesh.get("error") or ref.get("error"):
            continue
        if mesh.get("video_sizes") != ref.get("video_sizes"):
            notes.append("run %d: frames per size differ: %s %s, %s %s"
                         % (i, ours, sizes_text(mesh.get("video_sizes")),
                            theirs, sizes_text(ref.get("video_sizes"))))
    return notes


def print_summary(results):
    summary = {}
    ours, theirs = side_names()
    print()
    print("%-27s %-26s %-26s %s" % ("figure (median [min..max])", ours,
                                    theirs, "mesh/" + theirs))
    for key, label in FIGURES:
        ok = {name: [r.get(key) for r in results[name] if not r.get("error")]
              for name, _, _ in SIDES}
        mesh = summarize(ok[ours])
        ref = summarize(ok[theirs])
        r = ratio(mesh, ref)
        summary[key] = {ours: mesh, theirs: ref, "ratio": r}

        def cell(s):
            if not s:
                return "-"
            return "%s [%s..%s]" % (fmt(float(s["median"])),
                                    fmt(float(s["min"])), fmt(float(s["max"])))
        verdict = ""
        if r is not None and key not in ("origin_requests", "origin_mib"):
            verdict = "  ok" if r <= 1.0 else "  above 1.0"
        print("%-27s %-26s %-26s %s%s" % (label, cell(mesh), cell(ref),
                                          "%.3f" % r if r is not None else "-",
                                          verdict))
    return summary


def run_benchmark(args, files, origin):
    url = origin.base_url + "/" + args.playlist.lstrip("/")
    runner = Runner(files["play"], files["plugin_dir"], args.no_decode,
                    args.timeout, args.max_buffering_time)
    results = {name: [] for name, _, _ in SIDES}
    mode = "no-decode" if args.no_decode else "decode"
    if args.max_buffering_time is not None:
        mode += ", max-buffering-time %g s" % args.max_buffering_time
    print("VOD benchmark: %s (%s), %d runs per side, interleaved, origin %s"
          % (args.playlist, mode, args.runs, origin.base_url), flush=True)
    try:
        for _ in range(args.warmup):
            for side in SIDES:
                r = measure_one(runner, origin, side, url)
                if r.get("error"):
                    raise BenchError("warm-up run of %s failed: %s"
                                     % (side[0], r["error"]))
        print("%-4s %-11s %8s %8s %8s %8s %7s %6s %6s  %s" % (
            "run", "side", "cpu_ms", "wall_ms", "first_ms", "rss_MiB",
            "frames", "reqs", "MiB", "video frames per size"))
        for i in range(1, args.runs + 1):
            for side in SIDES:
                r = measure_one(runner, origin, side, url)
                results[side[0]].append(r)
                print_run(i, side[0], r)
    finally:
        runner.kill_current()

    summary = print_summary(results)
    problems = check_frames(results)
    frames = sorted({r.get("video_frames") for rs in results.values()
                     for r in rs if not r.get("error")}, key=str)
    print()
    if problems:
        for p in problems:
            print("MISMATCH/FAILURE: " + p)
    else:
        print("video frames: both sides equal in every run (%s)"
              % ", ".join(str(f) for f in frames))
    for note in check_sizes(results):
        print("note: " + note)
    for name, _, _ in SIDES:
        elements = results[name][0].get("elements", []) if results[name] else []
        print("%s pipeline: %s" % (name, ", ".join(elements)))

    if args.json:
        print(json.dumps({"playlist": args.playlist, "mode": mode,
                          "runs": args.runs, "summary": summary,
                          "problems": problems, "results": results}))
    return 1 if problems else 0


def main():
    global SIDES
    args = parse_args()
    SIDES = DASH_SIDES if args.dash else HLS_SIDES
    # ^C and SIGTERM unwind through the finally blocks (origin, current run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        files = find_build_files(os.path.abspath(args.build))
        with tempfile.TemporaryDirectory(prefix="mesh-bench-") as tmpdir:
            if args.long:
                root = make_long_media(tmpdir)
            else:
                root = make_test_media(os.path.abspath(args.build), tmpdir,
                                       "dash" if args.dash else "hls")
            if not os.path.isfile(os.path.join(root, args.playlist)):
                raise BenchError("no playlist %s under %s"
                                 % (args.playlist, root))
            with Origin(files["origin"], root) as origin:
                return run_benchmark(args, files, origin)
    except BenchError as e:
        print("bench-vod: %s" % e, file=sys.stderr)
        return 2
    except (subprocess.CalledProcessError, urllib.error.URLError) as e:
        print("bench-vod: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench-vod: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
