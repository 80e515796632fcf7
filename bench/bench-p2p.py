#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peer-to-peer benchmark: N viewers of one simulated live stream.

Starts the test origin (mesh-origin, the VOD test stream looped as live
under /live/), the tracker (mesh-tracker) and N mesh-viewer processes on
127.0.0.1, plays for S seconds in real time and reports the CDN offload as
the origin measured it, each viewer's p2p-ratio, stalls, startup time against
a CDN-only run, CPU and peak RSS. See bench/README.md.

Python standard library only.
"""

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The product's goal for N = 10, 120 s of live.
GOAL_OFFLOAD = 0.85
GOAL_STARTUP_RATIO = 1.10


class BenchError(Exception):
    pass


def parse_args():
    parser = argparse.ArgumentParser(
        description="N mesh-viewer processes on one simulated live HLS "
        "stream, sharing segments peer to peer; measures CDN offload, stalls, "
        "startup, CPU and RSS.")
    parser.add_argument("--viewers", type=int, default=10,
                        help="viewers in the swarm (default 10)")
    parser.add_argument("--seconds", type=int, default=120,
                        help="seconds each viewer plays (default 120)")
    parser.add_argument("--build", default=os.path.join(REPO, "build"),
                        help="meson build directory (default <repo>/build)")
    parser.add_argument("--stagger", type=int, default=300, metavar="MS",
                        help="delay between viewer starts (default 300 ms)")
    parser.add_argument("--cdn-only-baseline", action="store_true",
                        help="run N CDN-only viewers (staggered alike) as "
                        "the startup baseline instead of one")
    parser.add_argument("--baseline-seconds", type=int, default=None,
                        help="how long the CDN-only viewers play (default "
                        "min(--seconds, 20))")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the CDN-only run (no startup ratio)")
    parser.add_argument("--playlist", default="live/index.m3u8",
                        help="VOD media playlist under the media root, "
                        "played as live (default live/index.m3u8)")
    parser.add_argument("--max-peers", type=int, default=0,
                        help="max-peers of every viewer (default: the "
                        "element's own)")
    parser.add_argument("--log-dir", default=None,
                        help="keep each process's standard error there "
                        "(viewer-K.log, origin.log, tracker.log); set "
                        "GST_DEBUG in the environment to fill them")
    parser.add_argument("--json", action="store_true",
                        help="also print every figure as one JSON object")
    args = parser.parse_args()
    if args.viewers < 1 or args.seconds < 1 or args.stagger < 0:
        parser.error("--viewers and --seconds must be >= 1, --stagger >= 0")
    if args.baseline_seconds is None:
        args.baseline_seconds = min(args.seconds, 20)
    if args.baseline_seconds < 1:
        parser.error("--baseline-seconds must be >= 1")
    return args


def find_build_files(build):
    files = {
        "origin": os.path.join(build, "tools", "origin", "mesh-origin"),
        "tracker": os.path.join(build, "tools", "tracker", "mesh-tracker"),
        "viewer": os.path.join(build, "bench", "mesh-viewer"),
        "plugin_dir": os.path.join(build, "gst", "mesh"),
    }
    for key in ("origin", "tracker", "viewer"):
        if not os.access(files[key], os.X_OK):
            raise BenchError("%s not built (ninja -C %s)" % (files[key], build))
    if not os.path.exists(os.path.join(files["plugin_dir"], "libgstmesh.so")):
        raise BenchError("the mesh plugin is not built in %s"
                         % files["plugin_dir"])
    return files


def find_media(build, playlist):
    root = os.environ.get("MESH_TEST_MEDIA") or os.path.join(
        build, "tests", "media", "hls")
    if not os.path.isfile(os.path.join(root, playlist)):
        raise BenchError("no %s under %s (ninja -C %s tests/media/hls.stamp, "
                         "or set MESH_TEST_MEDIA)" % (playlist, root, build))
    return root


class Procs:
    """Every process the benchmark starts, so that all of them stop, also on
    ^C: each in a session of its own (the terminal's ^C reaches only us)."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.procs = []

    def _stderr(self, name):
        if not self.log_dir:
            return tempfile.TemporaryFile()
        return open(os.path.join(self.log_dir, name + ".log"), "wb")

    def start(self, name, cmd, env=None):
        err = self._stderr(name)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        proc.bench_name = name
        proc.bench_stderr = err
        self.procs.append(proc)
        return proc

    def stop(self, proc, timeout=5):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self):
        for proc in reversed(self.procs):
            self.stop(proc)
            if proc.stdout:
                proc.stdout.close()
            proc.bench_stderr.close()
        self.procs = []


def read_banner(proc, prefix, what):
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline() if ready else b""
    if not line.startswith(prefix):
        raise BenchError("%s did not start (said %r)" % (what, line))
    return line[len(prefix):].decode().strip()


def http(url, method="GET"):
    req = urllib.request.Request(url, data=b"" if method == "POST" else None,
                                 method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def proc_cpu_seconds(pid):
    """utime + stime of a running process we started (for origin/tracker)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def machine_cpu_times():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def stderr_tail(proc, limit=400):
    try:
        proc.bench_stderr.flush()
        proc.bench_stderr.seek(0, os.SEEK_END)
        size = proc.bench_stderr.tell()
        proc.bench_stderr.seek(max(0, size - limit))
        return proc.bench_stderr.read().decode(errors="replace").strip()
    except (OSError, ValueError):
        return ""


def run_viewers(procs, files, uri, count, seconds, stagger_ms, tracker,
                max_peers, label):
    """Starts `count` viewers `stagger_ms` apart, waits for them, returns
    their results (the viewer's last JSON line, plus how it exited)."""
    env = dict(os.environ)
    path = env.get("GST_PLUGIN_PATH")
    env["GST_PLUGIN_PATH"] = (files["plugin_dir"] + os.pathsep + path
                              if path else files["plugin_dir"])
    viewers = []
    for i in range(count):
        cmd = [files["viewer"], "--uri", uri, "--seconds", str(seconds)]
        if tracker:
            cmd += ["--tracker", tracker, "--local-address", "127.0.0.1"]
        if max_peers:
            cmd += ["--max-peers", str(max_peers)]
        viewers.append(procs.start("%s-%d" % (label, i), cmd, env))
        if i + 1 < count:
            time.sleep(stagger_ms / 1000)

    results = []
    deadline = time.monotonic() + seconds + 60
    for proc in viewers:
        try:
            out, _ = proc.communicate(
                timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            procs.stop(proc)
            out, _ = proc.communicate()
        results.append(parse_viewer_output(proc, out))
    return results


def parse_viewer_output(proc, out):
    result = None
    for line in reversed(out.decode(errors="replace").splitlines()):
        try:
            candidate = json.loads(line)
        except ValueError:
            continue
        if candidate.get("type") == "result":
            result = candidate
            break
    if result is None:
        return {"error": "no result (exit %s): %s"
                % (proc.returncode, stderr_tail(proc))}
    result["exit"] = proc.returncode
    if proc.returncode not in (0, None) and not result.get("error"):
        # The figures were printed before the teardown went wrong: keep
        # them, but say so.
        result["teardown"] = "exit status %d after the result" % proc.returncode
    return result


def origin_segment_bytes(stats):
    """Bytes of media segments (.ts under /live/) the origin served."""
    total = requests = 0
    for path, entry in stats.get("paths", {}).items():
        if path.startswith("/live/") and path.endswith(".ts"):
            total += entry["bytes"]
            requests += entry["requests"]
    return total, requests


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def maximum(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def fmt(value, spec="%.1f"):
    return "-" if value is None else spec % value


def print_viewers(results):
    print("%-3s %8s %7s %8s %8s %8s %5s %6s %8s %7s %7s  %s" % (
        "#", "start_ms", "p2p", "cdn_KiB", "peer_KiB", "up_KiB", "peers",
        "stalls", "stall_ms", "cpu_s", "rss_MiB", "notes"))
    for i, r in enumerate(results):
        notes = []
        if r.get("error"):
            notes.append("ERROR: " + r["error"])
        if r.get("teardown"):
            notes.append(r["teardown"])
        if r.get("backward_jumps"):
            notes.append("%d timestamp jumps back" % r["backward_jumps"])
        print("%-3d %8s %7s %8s %8s %8s %5s %6s %8s %7s %7s  %s" % (
            i, fmt(r.get("startup_ms")), fmt(r.get("p2p_ratio"), "%.3f"),
            fmt(kib(r.get("bytes_from_cdn")), "%.0f"),
            fmt(kib(r.get("bytes_from_peers")), "%.0f"),
            fmt(kib(r.get("bytes_uploaded")), "%.0f"),
            "%s/%s" % (r.get("peers", "-"), r.get("peers_max", "-")),
            fmt(r.get("stalls"), "%d"), fmt(r.get("stall_ms")),
            fmt(sec(r.get("cpu_ms")), "%.2f"),
            fmt(mib(r.get("max_rss_kib"))), "; ".join(notes)))


def kib(b):
    return None if b is None else b / 1024


def mib(k):
    return None if k is None else k / 1024


def sec(ms):
    return None if ms is None else ms / 1000


def print_stall_details(results):
    for i, r in enumerate(results):
        for s in r.get("stall_list", []):
            print("  viewer %d: stall at %.1f s for %.0f ms (%s)"
                  % (i, s["at_ms"] / 1000, s["ms"], s["kind"]))


def summarize(args, results, baseline, origin_stats, machine, helpers):
    ok = [r for r in results if not r.get("error")]
    received = sum(r.get("bytes_from_cdn", 0) + r.get("bytes_from_peers", 0)
                   for r in ok)
    cdn_reported = sum(r.get("bytes_from_cdn", 0) for r in ok)
    seg_bytes, seg_requests = origin_segment_bytes(origin_stats)
    n = args.viewers
    offload = 1 - seg_bytes / received if received else None
    ceiling = 1 - 1 / n
    summary = {
        "viewers": n, "seconds": args.seconds, "stagger_ms": args.stagger,
        "viewers_ok": len(ok),
        "origin_segment_bytes": seg_bytes,
        "origin_segment_requests": seg_requests,
        "viewers_received_bytes": received,
        "viewers_cdn_bytes": cdn_reported,
        "offload": offload,
        "ceiling": ceiling,
        "offload_of_ceiling": (offload / ceiling if offload is not None
                               and ceiling > 0 else None),
        "stream_copies_from_origin": (seg_bytes / (received / len(ok))
                                      if received and ok else None),
        "p2p_ratio": {"median": median(r.get("p2p_ratio") for r in ok),
                      "min": min((r["p2p_ratio"] for r in ok), default=None),
                      "max": maximum(r.get("p2p_ratio") for r in ok)},
        "stalls": sum(r.get("stalls", 0) for r in ok),
        "stall_ms": sum(r.get("stall_ms", 0) for r in ok),
        "viewers_with_stalls": sum(1 for r in ok if r.get("stalls")),
        "startup_ms": {"median": median(r.get("startup_ms") for r in ok),
                       "max": maximum(r.get("startup_ms") for r in ok)},
        "first_buffer_ms": {
            "median": median(r.get("first_buffer_ms") for r in ok),
            "max": maximum(r.get("first_buffer_ms") for r in ok)},
        "cpu_s": {"median": sec(median(r.get("cpu_ms") for r in ok)),
                  "max": sec(maximum(r.get("cpu_ms") for r in ok))},
        "rss_mib": {"median": mib(median(r.get("max_rss_kib") for r in ok)),
                    "max": mib(maximum(r.get("max_rss_kib") for r in ok))},
        "machine_busy": machine,
        "helpers_cpu_s": helpers,
        "teardown_failures": sum(1 for r in ok if r.get("teardown")),
    }
    if baseline:
        b_ok = [r for r in baseline if not r.get("error")]
        b_start = median(r.get("startup_ms") for r in b_ok)
        summary["baseline"] = {
            "viewers": len(baseline), "seconds": args.baseline_seconds,
            "startup_ms": {"median": b_start,
                           "max": maximum(r.get("startup_ms") for r in b_ok)},
            "first_buffer_ms": median(r.get("first_buffer_ms") for r in b_ok),
            "stall_ms": sum(r.get("stall_ms", 0) for r in b_ok),
            "stalls": sum(r.get("stalls", 0) for r in b_ok),
            "cpu_s_per_s": median(r["cpu_ms"] / r["t_ms"] for r in b_ok
                                  if r.get("t_ms")),
            "rss_mib": mib(median(r.get("max_rss_kib") for r in b_ok)),
            "errors": [r["error"] for r in baseline if r.get("error")],
        }
        p_start = summary["startup_ms"]["median"]
        summary["startup_ratio"] = (p_start / b_start if p_start and b_start
                                    else None)
        p_first = summary["first_buffer_ms"]["median"]
        b_first = summary["baseline"]["first_buffer_ms"]
        summary["first_buffer_ratio"] = (p_first / b_first if p_first
                                         and b_first else None)
    summary["cpu_s_per_s"] = median(r["cpu_ms"] / r["t_ms"] for r in ok
                                    if r.get("t_ms"))
    return summary


def verdict(ok):
    return "ok" if ok else "MISSED"


def print_summary(s):
    print()
    print("origin served %.0f KiB of segments in %d requests; viewers "
          "received %.0f KiB (of which %.0f KiB from the CDN by their own "
          "count)" % (s["origin_segment_bytes"] / 1024,
                      s["origin_segment_requests"],
                      s["viewers_received_bytes"] / 1024,
                      s["viewers_cdn_bytes"] / 1024))
    if s["offload"] is not None:
        print("offload (origin-measured)   %.3f   ceiling 1-1/N = %.3f   "
              "offload/ceiling = %.3f   (the origin sent the stream %.2f "
              "times; ideal 1)" % (s["offload"], s["ceiling"],
                                   s["offload_of_ceiling"],
                                   s["stream_copies_from_origin"]))
    p = s["p2p_ratio"]
    print("p2p-ratio per viewer        median %s [%s..%s]" % (
        fmt(p["median"], "%.3f"), fmt(p["min"], "%.3f"),
        fmt(p["max"], "%.3f")))
    print("stalls                      %d (%.0f ms in all) on %d of %d "
          "viewers" % (s["stalls"], s["stall_ms"], s["viewers_with_stalls"],
                       s["viewers_ok"]))
    line = "startup                     median %s ms, max %s ms" % (
        fmt(s["startup_ms"]["median"]), fmt(s["startup_ms"]["max"]))
    b = s.get("baseline")
    if b:
        line += "; CDN-only (%d viewer%s) median %s ms -> ratio %s" % (
            b["viewers"], "s" if b["viewers"] > 1 else "",
            fmt(b["startup_ms"]["median"]),
            fmt(s.get("startup_ratio"), "%.3f"))
    print(line)
    line = "first buffer at a sink      median %s ms, max %s ms" % (
        fmt(s["first_buffer_ms"]["median"]), fmt(s["first_buffer_ms"]["max"]))
    if b:
        line += "; CDN-only median %s ms -> ratio %s" % (
            fmt(b["first_buffer_ms"]), fmt(s.get("first_buffer_ratio"),
                                           "%.3f"))
    print(line)
    if b:
        print("CDN-only baseline stalls    %d (%.0f ms in all)"
              % (b["stalls"], b["stall_ms"]))
    print("CPU per viewer              median %s s, max %s s (%s of a core; "
          "CDN-only viewer: %s)" % (
              fmt(s["cpu_s"]["median"], "%.2f"), fmt(s["cpu_s"]["max"], "%.2f"),
              fmt(pct(s["cpu_s_per_s"]), "%.1f%%"),
              fmt(pct(b["cpu_s_per_s"]) if b else None, "%.1f%%")))
    print("peak RSS per viewer         median %s MiB, max %s MiB (CDN-only "
          "viewer: %s MiB)" % (fmt(s["rss_mib"]["median"]),
                               fmt(s["rss_mib"]["max"]),
                               fmt(b["rss_mib"] if b else None)))
    m = s["machine_busy"]
    print("machine                     %d cores, %.0f%% busy during the run "
          "(origin %s s, tracker %s s CPU)%s" % (
              m["cores"], m["busy"] * 100,
              fmt(s["helpers_cpu_s"].get("origin"), "%.2f"),
              fmt(s["helpers_cpu_s"].get("tracker"), "%.2f"),
              "  -- CPU SATURATED, figures are CPU-bound" if m["busy"] > 0.9
              else ""))
    if s["teardown_failures"]:
        print("note: %d viewer(s) printed their figures but then failed "
              "while stopping (see the notes column)" % s["teardown_failures"])
    print()
    print("goals (N = 10, 120 s):")
    if s["offload"] is not None:
        print("  offload >= %.2f:            %.3f  %s" % (
            GOAL_OFFLOAD, s["offload"], verdict(s["offload"] >= GOAL_OFFLOAD)))
    print("  zero stalls:                %d  %s" % (s["stalls"],
                                                   verdict(s["stalls"] == 0)))
    if s.get("startup_ratio") is not None:
        print("  startup <= %.2f x CDN-only: %.3f  %s" % (
            GOAL_STARTUP_RATIO, s["startup_ratio"],
            verdict(s["startup_ratio"] <= GOAL_STARTUP_RATIO)))


def pct(x):
    return None if x is None else x * 100


def goals_met(s):
    return (s["offload"] is not None and s["offload"] >= GOAL_OFFLOAD
            and s["stalls"] == 0 and s["viewers_ok"] == s["viewers"]
            and (s.get("startup_ratio") is None
                 or s["startup_ratio"] <= GOAL_STARTUP_RATIO))


def run_benchmark(args, files, root, procs):
    origin = procs.start("origin", [files["origin"], "--root", root])
    base_url = read_banner(origin, b"mesh-origin listening on ", "mesh-origin")
    tracker = procs.start("tracker", [files["tracker"], "--listen",
                                      "127.0.0.1:0"])
    tracker_url = read_banner(tracker, b"mesh-tracker listening on ",
                              "mesh-tracker")
    uri = base_url + "/live/" + args.playlist.lstrip("/")
    print("p2p benchmark: %d viewers x %d s, stagger %d ms, %s, tracker %s"
          % (args.viewers, args.seconds, args.stagger, uri, tracker_url),
          flush=True)

    baseline = None
    if not args.no_baseline:
        count = args.viewers if args.cdn_only_baseline else 1
        print("CDN-only baseline: %d viewer%s x %d s ..."
              % (count, "s" if count > 1 else "", args.baseline_seconds),
              flush=True)
        baseline = run_viewers(procs, files, uri, count,
                               args.baseline_seconds, args.stagger, None,
                               args.max_peers, "cdn")
        for i, r in enumerate(baseline):
            if r.get("error"):
                print("  CDN-only viewer %d: ERROR %s" % (i, r["error"]))

    http(base_url + "/_stats/reset", "POST")
    helpers_before = {"origin": proc_cpu_seconds(origin.pid),
                      "tracker": proc_cpu_seconds(tracker.pid)}
    busy0, total0 = machine_cpu_times()
    print("p2p run ...", flush=True)
    results = run_viewers(procs, files, uri, args.viewers, args.seconds,
                          args.stagger, tracker_url, args.max_peers, "viewer")
    busy1, total1 = machine_cpu_times()
    # the origin's counters trail its writes by a moment
    time.sleep(0.2)
    origin_stats = json.loads(http(base_url + "/_stats"))
    helpers = {}
    for name, proc in (("origin", origin), ("tracker", tracker)):
        after = proc_cpu_seconds(proc.pid)
        before = helpers_before[name]
        helpers[name] = (after - before if after is not None
                         and before is not None else None)
    machine = {"cores": os.cpu_count() or 1,
               "busy": (busy1 - busy0) / max(1, total1 - total0)}

    print()
    print_viewers(results)
    print_stall_details(results)
    summary = summarize(args, results, baseline, origin_stats, machine,
                        helpers)
    print_summary(summary)
    if args.json:
        print(json.dumps({"summary": summary, "viewers": results,
                          "baseline": baseline, "origin_stats": origin_stats}))
    return 0 if goals_met(summary) else 1


def main():
    args = parse_args()
    # ^C and SIGTERM unwind through the finally block, which stops every
    # process started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # also when started with SIGINT ignored (a background job of a script)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    procs = Procs(args.log_dir)
    try:
        if args.log_dir:
            os.makedirs(args.log_dir, exist_ok=True)
        build = os.path.abspath(args.build)
        files = find_build_files(build)
        root = find_media(build, args.playlist)
        return run_benchmark(args, files, root, procs)
    except (BenchError, OSError, urllib.error.URLError) as e:
        print("bench-p2p: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench-p2p: interrupted", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
