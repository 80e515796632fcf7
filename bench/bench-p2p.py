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

With --lab, the same swarm runs in the network lab (bench/lab/): every
viewer, the origin and the tracker in a network namespace of its own, with
RTT, jitter, loss, capped links, NAT routers, STUN/TURN and churn. See
bench/lab/README.md.

Python standard library only.
"""

import argparse
import json
import os
import random
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
sys.path.insert(0, os.path.join(REPO, "bench", "lab"))
import lab as netlab  # noqa: E402  (bench/lab/lab.py)

# The product's goal for N = 10, 120 s of live on loopback (--goal-offload
# sets another scenario's, e.g. issue 8's 0.80 at 50 ms in the lab).
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
    parser.add_argument("--live-delay", type=float, default=None,
                        metavar="S",
                        help="live-delay of every viewer in seconds (default: "
                        "the element's own, three segments)")
    parser.add_argument("--set", action="append", default=[],
                        metavar="PROPERTY=VALUE",
                        help="any other property of every viewer's "
                        "meshhlssrc (repeatable), e.g. max-upload-rate=560000")
    parser.add_argument("--tracker-arg", action="append", default=[],
                        metavar="ARG",
                        help="an option for mesh-tracker (repeatable), e.g. "
                        "--tracker-arg=--locality=off")
    parser.add_argument("--log-dir", default=None,
                        help="keep each process's standard error there "
                        "(viewer-K.log, origin.log, tracker.log); set "
                        "GST_DEBUG in the environment to fill them")
    parser.add_argument("--goal-offload", type=float, default=GOAL_OFFLOAD,
                        metavar="F", help="origin-measured offload this "
                        "scenario must reach (default %.2f, the goal of 10 "
                        "viewers on loopback)" % GOAL_OFFLOAD)
    parser.add_argument("--json", action="store_true",
                        help="also print every figure as one JSON object")
    parser.add_argument("--stream-kbps", type=int, default=0,
                        help="make a live test stream of about this many "
                        "kbit/s with ffmpeg (cached in the build directory) "
                        "instead of the test media")
    parser.add_argument("--segment", type=int, default=2, metavar="S",
                        help="segment duration of --stream-kbps (default 2)")
    add_lab_args(parser)
    args = parser.parse_args()
    if args.viewers < 1 or args.seconds < 1 or args.stagger < 0:
        parser.error("--viewers and --seconds must be >= 1, --stagger >= 0")
    if args.baseline_seconds is None:
        args.baseline_seconds = min(args.seconds, 20)
    if args.baseline_seconds < 1:
        parser.error("--baseline-seconds must be >= 1")
    if args.stream_kbps and not 200 <= args.stream_kbps <= 50000:
        parser.error("--stream-kbps must be in 200 - 50000")
    if not 1 <= args.segment <= 10:
        parser.error("--segment must be in 1 - 10")
    check_lab_args(parser, args)
    return args


def add_lab_args(parser):
    group = parser.add_argument_group(
        "network lab (root; see bench/lab/README.md)")
    group.add_argument("--lab", action="store_true",
                       help="run in the network lab instead of on loopback")
    group.add_argument("--rtt", type=float, default=0, metavar="MS",
                       help="RTT between two viewers (each viewer's access "
                       "link adds half of it; default 0)")
    group.add_argument("--origin-rtt", type=float, default=None, metavar="MS",
                       help="RTT between a viewer and the origin (default "
                       "--rtt / 2: the origin's own link adds nothing)")
    group.add_argument("--jitter", type=float, default=0, metavar="MS",
                       help="jitter on each direction of each viewer's link")
    group.add_argument("--loss", type=float, default=0, metavar="P",
                       help="random loss (0 - 1) on each direction of each "
                       "viewer's link")
    group.add_argument("--down", type=float, default=0, metavar="KBIT",
                       help="viewers' downlink cap in kbit/s (0 = none)")
    group.add_argument("--up", type=float, default=0, metavar="KBIT",
                       help="viewers' uplink cap in kbit/s (0 = none)")
    group.add_argument("--viewer", action="append", default=[],
                       metavar="K:KEY=V,...",
                       help="override viewer K's link: rtt, jitter, loss, "
                       "down, up (e.g. 2:rtt=200,up=1000); repeatable")
    group.add_argument("--nat", action="append", default=[],
                       metavar="TYPE:N",
                       help="N viewers behind one NAT router of TYPE (%s); "
                       "repeatable; the groups take the first viewers"
                       % ", ".join(netlab.NAT_TYPES))
    group.add_argument("--nat-interleave", action="store_true",
                       help="the NAT groups' viewers take the first slots "
                       "in turns (group 0, 1, ..., 0, 1, ...), so that they "
                       "start interleaved rather than group after group")
    group.add_argument("--stun", action="store_true",
                       help="run coturn and give it to viewers as STUN server")
    group.add_argument("--turn", action="store_true",
                       help="run coturn and give it to viewers as TURN server")
    group.add_argument("--churn", type=float, default=0, metavar="F",
                       help="every --churn-interval, this fraction of the "
                       "viewers leaves and as many join in their places")
    group.add_argument("--churn-interval", type=float, default=60,
                       metavar="S", help="default 60")
    group.add_argument("--seed", type=int, default=1,
                       help="loss, jitter and churn draws (default 1)")


LINK_KEYS = ("rtt", "jitter", "loss", "down", "up")


def check_lab_args(parser, args):
    lab_only = (args.rtt or args.origin_rtt is not None or args.jitter
                or args.loss or args.down or args.up or args.viewer
                or args.nat or args.nat_interleave or args.stun or args.turn
                or args.churn)
    if lab_only and not args.lab:
        parser.error("the link, NAT, STUN/TURN and churn options need --lab")
    if args.rtt < 0 or args.jitter < 0 or not 0 <= args.loss < 1:
        parser.error("--rtt and --jitter must be >= 0, --loss in [0, 1)")
    if args.origin_rtt is None:
        args.origin_rtt = args.rtt / 2
    if args.origin_rtt < args.rtt / 2:
        parser.error("--origin-rtt must be >= --rtt / 2 (a viewer's own "
                     "link already adds that much)")
    args.viewer_links = {}
    for spec in args.viewer:
        try:
            k, rest = spec.split(":", 1)
            link = dict(item.split("=", 1) for item in rest.split(","))
            link = {key: float(v) for key, v in link.items()}
            k = int(k)
        except ValueError:
            parser.error("--viewer %r: expected K:KEY=V,..." % spec)
        if not 0 <= k < args.viewers or set(link) - set(LINK_KEYS):
            parser.error("--viewer %r: K in 0 - %d, keys %s" % (
                spec, args.viewers - 1, ", ".join(LINK_KEYS)))
        args.viewer_links[k] = link
    args.nat_groups = []
    for spec in args.nat:
        nat_type, _, count = spec.partition(":")
        if nat_type not in netlab.NAT_TYPES or not count.isdigit() \
                or int(count) < 1:
            parser.error("--nat %r: expected TYPE:N, TYPE one of %s"
                         % (spec, ", ".join(netlab.NAT_TYPES)))
        args.nat_groups.append((nat_type, int(count)))
    if sum(n for _, n in args.nat_groups) > args.viewers:
        parser.error("more viewers behind NAT than --viewers")
    if not 0 <= args.churn < 1 or args.churn_interval < 5:
        parser.error("--churn must be in [0, 1), --churn-interval >= 5")


def find_build_files(build):
    files = {
        "build": build,
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


def stream_size(kbps):
    if kbps >= 2500:
        return "1280x720"
    return "640x360" if kbps >= 800 else "320x180"


def make_stream(build, kbps, segment):
    """A VOD of ~30 s in `segment`-second TS segments at about `kbps`
    (CBR H.264 test pattern + 64k AAC), for the origin to loop as live
    (/live/live/index.m3u8). Made once with ffmpeg, kept in the build
    directory; media are never committed."""
    root = os.path.join(build, "bench", "lab", "media",
                        "hls-%dk-%ds" % (kbps, segment))
    out = os.path.join(root, "live")
    if os.path.exists(os.path.join(out, ".complete")):
        return root
    if not shutil.which("ffmpeg"):
        raise BenchError("--stream-kbps needs ffmpeg")
    seconds = max(30, 5 * segment) // segment * segment
    # the TS muxing overhead and the audio come on top of the video
    video = max(100, int(kbps * 0.95) - 64)
    fps = 25
    os.makedirs(out, exist_ok=True)
    print("making a %d kbit/s stream (%s, %d s in %d s segments) with ffmpeg "
          "..." % (kbps, stream_size(kbps), seconds, segment), flush=True)
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", "testsrc2=size=%s:rate=%d:duration=%d"
           % (stream_size(kbps), fps, seconds),
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:"
           "duration=%d" % seconds,
           "-c:v", "libx264", "-threads", "2", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-g", str(fps * segment),
           "-keyint_min", str(fps * segment), "-sc_threshold", "0",
           "-b:v", "%dk" % video, "-minrate", "%dk" % video,
           "-maxrate", "%dk" % video, "-bufsize", "%dk" % video,
           "-x264-params", "nal-hrd=cbr",
           "-c:a", "aac", "-b:a", "64k", "-ac", "2",
           "-f", "hls", "-hls_time", str(segment), "-hls_playlist_type",
           "vod", "-start_number", "0",
           "-hls_segment_filename", os.path.join(out, "seg%d.ts"),
           os.path.join(out, "index.m3u8")]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise BenchError("ffmpeg failed: %s"
                         % proc.stderr.decode(errors="replace")[-400:])
    with open(os.path.join(out, ".complete"), "w") as f:
        f.write("%d kbit/s\n" % kbps)
    return root


def media_bitrate(root, playlist):
    """Average kbit/s of a media playlist's segments (size / EXTINF)."""
    path = os.path.join(root, playlist)
    total_bytes = total_s = 0.0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                total_s += float(line[8:].split(",")[0])
            elif line and not line.startswith("#"):
                total_bytes += os.path.getsize(
                    os.path.join(os.path.dirname(path), line))
    return total_bytes * 8 / total_s / 1000 if total_s else None


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

    def start(self, name, cmd, env=None, netns=None):
        """netns: run inside that lab namespace."""
        err = self._stderr(name)
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True,
                                preexec_fn=netlab.die_with_parent
                                if netns else None)
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


class Session:
    """One viewer process: the viewer slot (where it runs), when it starts
    (seconds after the first one) and how long it plays."""

    def __init__(self, slot, start, seconds):
        self.slot = slot
        self.start = start
        self.seconds = seconds


def plan_sessions(count, seconds, stagger_ms, churn=0.0, interval=60.0,
                  seed=1):
    """`count` viewers `stagger_ms` apart, each playing `seconds`. With
    churn, every `interval` a fraction of those playing (drawn with `seed`)
    leave, and as many join in their slots and play to the end."""
    sessions = [Session(i, i * stagger_ms / 1000, seconds)
                for i in range(count)]
    if churn <= 0:
        return sessions
    rng = random.Random(seed)
    end = max(s.start + s.seconds for s in sessions)
    leaving = max(1, round(churn * count))
    t = interval
    while t <= end - 10:            # a joiner plays at least 10 s
        playing = [s for s in sessions if s.start + 1 <= t
                   < s.start + s.seconds]
        leavers = sorted(rng.sample(playing, min(leaving, len(playing))),
                         key=lambda s: s.slot)
        for j, s in enumerate(leavers):
            # mesh-viewer plays whole seconds
            s.seconds = max(1, round(t - s.start))
            start = s.start + s.seconds + j * stagger_ms / 1000
            sessions.append(Session(s.slot, start, max(1, round(end - start))))
        t += interval
    return sorted(sessions, key=lambda s: s.start)


def loopback_place(slot):
    """(namespace, --local-address, extra viewer options) of a slot."""
    return None, "127.0.0.1", []


def viewer_options(args):
    """mesh-viewer options every viewer (and CDN-only viewer) gets."""
    opts = []
    if args.max_peers:
        opts += ["--max-peers", str(args.max_peers)]
    if args.live_delay is not None:
        opts += ["--live-delay", str(args.live_delay)]
    for assignment in args.set:
        opts += ["--set", assignment]
    return opts


def run_viewers(procs, files, uri, sessions, tracker, options, label,
                place=loopback_place):
    """Starts the sessions on time, waits for them, returns their results
    (the viewer's last JSON line, plus how it exited), in start order."""
    env = dict(os.environ)
    path = env.get("GST_PLUGIN_PATH")
    env["GST_PLUGIN_PATH"] = (files["plugin_dir"] + os.pathsep + path
                              if path else files["plugin_dir"])
    started = []
    t0 = time.monotonic()
    for i, session in enumerate(sessions):
        wait = t0 + session.start - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        netns, address, extra = place(session.slot)
        cmd = [files["viewer"], "--uri", uri, "--seconds",
               str(session.seconds)]
        if tracker:
            cmd += ["--tracker", tracker, "--local-address", address] + extra
        cmd += options
        started.append((session, procs.start("%s-%d" % (label, i), cmd, env,
                                             netns)))

    results = []
    deadline = t0 + max(s.start + s.seconds for s in sessions) + 60
    for session, proc in started:
        try:
            out, _ = proc.communicate(
                timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            procs.stop(proc)
            out, _ = proc.communicate()
        result = parse_viewer_output(proc, out)
        result["slot"] = session.slot
        result["joined_s"] = session.start
        results.append(result)
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
        if r.get("joined_s", 0) >= 1 and r.get("slot") is not None:
            notes.append("joined at %.0f s in slot %d" % (r["joined_s"],
                                                          r["slot"]))
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
    # with churn there are more sessions than viewers playing at once
    concurrent = n if len(results) > n else len(ok)
    summary = {
        "viewers": n, "seconds": args.seconds, "stagger_ms": args.stagger,
        "sessions": len(results),
        "viewers_ok": len(ok),
        "origin_segment_bytes": seg_bytes,
        "origin_segment_requests": seg_requests,
        "viewers_received_bytes": received,
        "viewers_cdn_bytes": cdn_reported,
        "offload": offload,
        "ceiling": ceiling,
        "offload_of_ceiling": (offload / ceiling if offload is not None
                               and ceiling > 0 else None),
        "stream_copies_from_origin": (seg_bytes / (received / concurrent)
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
        "cache_mib": mib(median((r.get("swarm") or {}).get("cache_bytes", 0)
                                / 1024 for r in ok)),
        "links_max": median(r.get("peers_max") for r in ok),
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
    summary["swarm"] = summarize_swarm(ok)
    return summary


def memory_per_link(s, b):
    """What a peer link costs in memory (MiB): the median viewer's peak RSS
    above the CDN-only viewer's, less the segments it holds for others, per
    link it held at most. None without a baseline or links."""
    if not b or b.get("rss_mib") is None or not s.get("links_max") \
            or s["rss_mib"]["median"] is None:
        return None
    extra = s["rss_mib"]["median"] - b["rss_mib"] - (s["cache_mib"] or 0)
    return extra / s["links_max"]


SWARM_COUNTERS = ("segments_to_peers", "segments_from_peers", "cdn_nobody",
                  "cdn_no_time", "cdn_peer_failed", "prefetched",
                  "prefetch_adopted", "cache_bytes")


def slack_percentile(histogram, q):
    """The upper bound (ms, None = open) of the slack bucket holding the
    q-quantile of the requests."""
    total = sum(histogram.values())
    if not total:
        return None
    seen = 0
    for bound, count in histogram.items():
        seen += count
        if seen >= q * total:
            return None if bound == "inf" else int(bound)
    return None


def summarize_swarm(ok):
    """How the segments asked of the swarm fared, over every viewer (the
    "swarm" object of mesh-viewer's result), or None when none reported."""
    swarms = [r["swarm"] for r in ok if r.get("swarm")]
    if not swarms:
        return None
    out = {k: sum(w.get(k, 0) for w in swarms) for k in SWARM_COUNTERS}
    histogram = {}
    for w in swarms:
        for bound, count in w.get("slack_ms", {}).items():
            histogram[bound] = histogram.get(bound, 0) + count
    out["slack_ms"] = histogram
    out["slack_ms_p10"] = slack_percentile(histogram, 0.1)
    out["slack_ms_p50"] = slack_percentile(histogram, 0.5)
    out["slack_ms_p90"] = slack_percentile(histogram, 0.9)
    return out


def print_swarm(w):
    if not w:
        return
    asked = w["segments_to_peers"]
    print("swarm requests              %d segments asked of peers, %d came "
          "from peers; to the CDN: %d nobody had it, %d no time, %d peer "
          "failed; %d prefetched, %d adopted" % (
              asked, w["segments_from_peers"], w["cdn_nobody"],
              w["cdn_no_time"], w["cdn_peer_failed"], w["prefetched"],
              w["prefetch_adopted"]))
    print("slack (deadline - request)  %s; p10 <= %s ms, median <= %s ms, "
          "p90 <= %s ms" % (
              " ".join("<%s:%d" % (b, c) for b, c in w["slack_ms"].items()),
              fmt(w["slack_ms_p10"]), fmt(w["slack_ms_p50"]),
              fmt(w["slack_ms_p90"])))


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
    print_swarm(s.get("swarm"))
    p = s["p2p_ratio"]
    print("p2p-ratio per viewer        median %s [%s..%s]" % (
        fmt(p["median"], "%.3f"), fmt(p["min"], "%.3f"),
        fmt(p["max"], "%.3f")))
    print("stalls                      %d (%.0f ms in all) on %d of %d "
          "viewers%s" % (s["stalls"], s["stall_ms"], s["viewers_with_stalls"],
                         s["viewers_ok"], " (sessions, with churn)"
                         if s["sessions"] > s["viewers"] else ""))
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
    per_link = memory_per_link(s, b)
    print("memory per link             %s MiB (peak RSS beyond the CDN-only "
          "viewer's, less the segment cache of %s MiB, over the %s links a "
          "viewer held at most; medians)" % (
              fmt(per_link, "%.2f"), fmt(s["cache_mib"]),
              fmt(s["links_max"], "%g")))
    m = s["machine_busy"]
    print("machine                     %d cores, %.0f%% busy during the run "
          "(origin %s s, tracker %s s%s CPU)%s" % (
              m["cores"], m["busy"] * 100,
              fmt(s["helpers_cpu_s"].get("origin"), "%.2f"),
              fmt(s["helpers_cpu_s"].get("tracker"), "%.2f"),
              ", lab shaper %s s" % fmt(s["helpers_cpu_s"].get("shaper"),
                                        "%.2f")
              if "shaper" in s["helpers_cpu_s"] else "",
              "  -- CPU SATURATED, figures are CPU-bound" if m["busy"] > 0.9
              else ""))
    if s["teardown_failures"]:
        print("note: %d viewer(s) printed their figures but then failed "
              "while stopping (see the notes column)" % s["teardown_failures"])
    print()
    print("goals (--goal-offload %.2f; ceiling %.3f):" % (
        s["goal_offload"], 1 - 1 / s["viewers"] if s["viewers"] else 0))
    if s["offload"] is not None:
        print("  offload >= %.2f:            %.3f  %s" % (
            s["goal_offload"], s["offload"],
            verdict(s["offload"] >= s["goal_offload"])))
    print("  zero stalls:                %d  %s" % (s["stalls"],
                                                   verdict(s["stalls"] == 0)))
    if s.get("startup_ratio") is not None:
        print("  startup <= %.2f x CDN-only: %.3f  %s" % (
            GOAL_STARTUP_RATIO, s["startup_ratio"],
            verdict(s["startup_ratio"] <= GOAL_STARTUP_RATIO)))


def pct(x):
    return None if x is None else x * 100


def goals_met(s):
    return (s["offload"] is not None and s["offload"] >= s["goal_offload"]
            and s["stalls"] == 0 and s["viewers_ok"] == s["sessions"]
            and (s.get("startup_ratio") is None
                 or s["startup_ratio"] <= GOAL_STARTUP_RATIO))


# ---------------------------------------------------------------------------
# The network lab (--lab)

class LabRun:
    """The lab of one run: origin, tracker, coturn if asked, and a host per
    viewer slot (public, or behind the NAT router of its group)."""

    def __init__(self, args, files):
        self.args = args
        shaper = os.path.join(files["build"], "bench", "lab", "mesh-shaper")
        self.lab = netlab.Lab(shaper, seed=args.seed)
        self.viewer_opts = []
        self.slots = []
        self.turn = None
        self.rtts = {}

    def viewer_access(self, k):
        a = dict(rtt=self.args.rtt, jitter=self.args.jitter,
                 loss=self.args.loss, down=self.args.down, up=self.args.up)
        a.update(self.args.viewer_links.get(k, {}))
        # an access link adds half the RTT between two alike viewers
        return netlab.Access.make(rtt_ms=a["rtt"] / 2, jitter_ms=a["jitter"],
                                  loss=a["loss"], down_kbit=a["down"],
                                  up_kbit=a["up"])

    def build(self, files):
        args, lab = self.args, self.lab
        lab.add_public("origin", netlab.Access.make(
            rtt_ms=args.origin_rtt - args.rtt / 2), addr=netlab.ORIGIN_ADDR)
        lab.add_public("tracker", addr=netlab.TRACKER_ADDR)
        if args.stun or args.turn:
            self.turn = lab.add_public("turn", addr=netlab.TURN_ADDR)
        k = 0
        groups = []
        for g, (nat_type, count) in enumerate(args.nat_groups):
            # the household's one access link: its first viewer's
            router = lab.add_nat("nat%d" % g, nat_type, self.viewer_access(k))
            groups.append([])
            for _ in range(count):
                groups[-1].append(lab.add_behind("v%d" % k, router))
                k += 1
        if args.nat_interleave:
            while any(groups):
                for group in groups:
                    if group:
                        self.slots.append(group.pop(0))
        else:
            for group in groups:
                self.slots += group
        while k < args.viewers:
            self.slots.append(lab.add_public("v%d" % k,
                                             self.viewer_access(k)))
            k += 1
        lab.start()
        if self.turn:
            lab.start_turn(self.turn)
            self.viewer_opts = turn_options(files, args, self.turn)

    def place(self, slot):
        host = self.slots[slot]
        return host.netns, host.addr, self.viewer_opts

    def measure_rtts(self):
        """Pings from viewer 0 to the origin and to viewer 1, against what
        the links were asked for."""
        lab, v0 = self.lab, self.slots[0]
        targets = [("origin", lab.hosts["origin"], self.args.origin_rtt)]
        if len(self.slots) > 1 and not self.slots[1].router:
            targets.append(("viewer 1", self.slots[1], None))
        for name, host, target in targets:
            if target is None:
                target = (v0.router or v0).access.rtt_ms() + \
                    host.access.rtt_ms()
            rtts = [r for r in lab.ping(v0, host.public_addr, count=5,
                                        interval=0.1) if r is not None]
            self.rtts[name] = {"target_ms": target, "measured_ms":
                               statistics.median(rtts) if rtts else None}

    def header(self):
        a = self.args
        lines = ["lab: viewer<->viewer RTT %g ms, viewer<->origin RTT %g ms, "
                 "jitter %g ms, loss %g, down %s, up %s" % (
                     a.rtt, a.origin_rtt, a.jitter, a.loss,
                     kbit(a.down), kbit(a.up))]
        lines += self.lab.describe()
        if self.turn:
            lines.append("  viewers get coturn %s:%d as %s" % (
                self.turn.addr, netlab.TURN_PORT, " and ".join(
                    w for w, on in (("STUN", a.stun), ("TURN", a.turn))
                    if on)))
        for name, r in self.rtts.items():
            lines.append("  measured RTT viewer 0 -> %s: %s ms (target %g)"
                         % (name, fmt(r["measured_ms"], "%.1f"),
                            r["target_ms"]))
        return "\n".join(lines)

    def info(self, stats):
        drops = {"loss": 0, "queue": 0, "packets": 0, "queue_up": 0,
                 "queue_down": 0}
        for host in (stats or {}).get("hosts", {}).values():
            for d in ("up", "down"):
                drops["loss"] += host[d]["loss_drops"]
                drops["queue"] += host[d]["queue_drops"]
                drops["queue_" + d] += host[d]["queue_drops"]
                drops["packets"] += host[d]["packets"]
        # what each NAT router's access link carried: its uplink is the
        # group's traffic to the rest of the lab (peers of other groups,
        # plus requests and ACKs to the origin and the tracker)
        routers = {name: {d: host[d]["sent_bytes"] for d in ("up", "down")}
                   for name, host in (stats or {}).get("hosts", {}).items()
                   if name.startswith("nat")}
        return {"rtt": self.rtts, "shaper": drops, "routers": routers,
                "nat": self.args.nat_groups,
                "hosts": {h.name: h.describe()
                          for h in self.lab.hosts.values()}}


def kbit(value):
    return "%g kbit/s" % value if value else "uncapped"


def turn_options(files, args, turn):
    """mesh-viewer options for coturn, if this mesh-viewer has them."""
    out = subprocess.run([files["viewer"], "--help"], capture_output=True)
    usage = out.stdout.decode(errors="replace")
    opts = []
    for wanted, option, value in (
            (args.stun, "--stun-server", "%s:%d" % (turn.addr,
                                                    netlab.TURN_PORT)),
            (args.turn, "--turn-server", "turn://%s:%s@%s:%d" % (
                netlab.TURN_USER, netlab.TURN_PASSWORD, turn.addr,
                netlab.TURN_PORT))):
        if not wanted:
            continue
        if option not in usage:
            raise BenchError("this mesh-viewer has no %s option (the "
                             "element's %s property is not reachable "
                             "from bench/mesh-viewer.c yet)"
                             % (option, option[2:]))
        opts += [option, value]
    return opts


# ---------------------------------------------------------------------------

def run_benchmark(args, files, root, procs, lab=None):
    """lab: a LabRun whose lab is started, or None for loopback."""
    place = lab.place if lab else loopback_place
    if lab:
        origin_host = lab.lab.hosts["origin"]
        origin = procs.start("origin", [
            files["origin"], "--root", root, "--listen",
            "%s:8080" % netlab.ORIGIN_ADDR], netns=origin_host.netns)
        tracker = procs.start("tracker", [
            files["tracker"], "--listen", "%s:8765" % netlab.TRACKER_ADDR]
            + args.tracker_arg, netns=lab.lab.hosts["tracker"].netns)

        def control(url, method="GET"):
            # from the origin's own namespace: the lab is not reachable
            # from here, by design
            return lab.lab.http(origin_host, url, method)
    else:
        origin = procs.start("origin", [files["origin"], "--root", root])
        tracker = procs.start("tracker", [files["tracker"], "--listen",
                                          "127.0.0.1:0"] + args.tracker_arg)
        control = http
    base_url = read_banner(origin, b"mesh-origin listening on ", "mesh-origin")
    tracker_url = read_banner(tracker, b"mesh-tracker listening on ",
                              "mesh-tracker")
    uri = base_url + "/live/" + args.playlist.lstrip("/")
    print("p2p benchmark: %d viewers x %d s, stagger %d ms, %s, tracker %s"
          % (args.viewers, args.seconds, args.stagger, uri, tracker_url),
          flush=True)
    bitrate = media_bitrate(root, args.playlist)
    if bitrate:
        print("stream: %.0f kbit/s on average" % bitrate, flush=True)
    if lab:
        lab.measure_rtts()
        print(lab.header(), flush=True)
    sessions = plan_sessions(args.viewers, args.seconds, args.stagger,
                             args.churn, args.churn_interval, args.seed)
    if len(sessions) > args.viewers:
        print("churn: %d leave and join every %g s (%d sessions in all)" % (
            max(1, round(args.churn * args.viewers)), args.churn_interval,
            len(sessions)), flush=True)

    baseline = None
    if not args.no_baseline:
        count = args.viewers if args.cdn_only_baseline else 1
        print("CDN-only baseline: %d viewer%s x %d s ..."
              % (count, "s" if count > 1 else "", args.baseline_seconds),
              flush=True)
        baseline = run_viewers(procs, files, uri,
                               plan_sessions(count, args.baseline_seconds,
                                             args.stagger),
                               None, viewer_options(args), "cdn", place)
        for i, r in enumerate(baseline):
            if r.get("error"):
                print("  CDN-only viewer %d: ERROR %s" % (i, r["error"]))

    control(base_url + "/_stats/reset", "POST")
    helper_procs = [("origin", origin), ("tracker", tracker)]
    if lab:
        helper_procs.append(("shaper", lab.lab.shaper))
    helpers_before = {name: proc_cpu_seconds(proc.pid)
                      for name, proc in helper_procs}
    stats_before = lab.lab.shaper_stats() if lab else None
    busy0, total0 = machine_cpu_times()
    print("p2p run ...", flush=True)
    results = run_viewers(procs, files, uri, sessions, tracker_url,
                          viewer_options(args), "viewer", place)
    busy1, total1 = machine_cpu_times()
    # the origin's counters trail its writes by a moment
    time.sleep(0.2)
    origin_stats = json.loads(control(base_url + "/_stats"))
    helpers = {}
    for name, proc in helper_procs:
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
    if lab:
        summary["lab"] = lab.info(shaper_delta(stats_before,
                                               lab.lab.shaper_stats()))
    summary["goal_offload"] = args.goal_offload
    print_summary(summary)
    if lab:
        d = summary["lab"]["shaper"]
        print("lab shaper: %d packets offered to the links during the run, "
              "%d dropped by loss, %d by full queues (%d going up, %d "
              "going down)" % (d["packets"], d["loss"], d["queue"],
                               d["queue_up"], d["queue_down"]))
    if args.json:
        print(json.dumps({"summary": summary, "viewers": results,
                          "baseline": baseline, "origin_stats": origin_stats}))
    return 0 if goals_met(summary) else 1


def shaper_delta(before, after):
    """The shaper's counters over the run (after - before)."""
    if not before or not after:
        return after
    for name, host in after["hosts"].items():
        for d in ("up", "down"):
            for key, value in host[d].items():
                value -= before["hosts"][name][d][key]
                host[d][key] = value
    return after


def main():
    args = parse_args()
    # ^C and SIGTERM unwind through the finally block, which stops every
    # process started (and deletes the lab's namespaces).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # also when started with SIGINT ignored (a background job of a script)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    procs = Procs(args.log_dir)
    lab = None
    try:
        if args.log_dir:
            os.makedirs(args.log_dir, exist_ok=True)
        build = os.path.abspath(args.build)
        files = find_build_files(build)
        if args.stream_kbps:
            root = make_stream(build, args.stream_kbps, args.segment)
            args.playlist = "live/index.m3u8"
        else:
            root = find_media(build, args.playlist)
        if args.lab:
            lab = LabRun(args, files)
            lab.build(files)
        return run_benchmark(args, files, root, procs, lab)
    except (BenchError, OSError, urllib.error.URLError, netlab.LabError,
            subprocess.SubprocessError) as e:
        print("bench-p2p: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench-p2p: interrupted", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        if lab:
            lab.lab.close()


if __name__ == "__main__":
    sys.exit(main())
