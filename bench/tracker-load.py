#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tracker load: how many peers one mesh-tracker holds, and how fast.

Starts mesh-tracker on 127.0.0.1 (any free port, per-address limits off,
its descriptor limit raised to the hard limit), spreads --peers clients over
--processes tracker-load processes (bench/tracker-load.c; each on its own
source address 127.0.0.(2+i), so that ports never run out), samples the
tracker's RSS and CPU from /proc every half second, and prints one summary:
joins/s, join and signal latency percentiles (merged from the processes'
fixed-size histograms), tracker RSS (peak, per peer) and CPU, errors. With
--json, the same as one JSON object. See bench/README.md, "Tracker load".

--tracker bittorrent-tracker runs the same scenario against the
bittorrent-tracker npm server (p2p-media-loader's default) instead, pinned
in bench/bittorrent-tracker/ (npm ci there when node_modules is missing)
and served by its serve.mjs on loopback, the generators speaking the
WebTorrent announce protocol; its node process is sampled alike. See
bench/README.md, "bittorrent-tracker side by side".

With --instances N (Redis mode, docs/tracker.md): starts redis-server on a
free loopback port (in memory only) and N trackers sharing it, points the
generator processes at them round-robin, and reports the trackers' RSS and
CPU summed, and Redis's CPU.

Everything on loopback, bounded by --seconds (at most 180). Python standard
library only.
"""

import argparse
import json
import math
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BT_DIR = os.path.join(REPO, "bench", "bittorrent-tracker")
HIST_SUB = 16
TICK = 0.5            # seconds between samples of the tracker


def bucket_low_us(index):
    """The lower bound of a histogram bucket (tracker-load.c's layout)."""
    if index < HIST_SUB:
        return index
    e = (index - HIST_SUB) // HIST_SUB + 4
    sub = (index - HIST_SUB) % HIST_SUB
    return (1 << e) + sub * (1 << (e - 4))


def percentile_ms(hist, q):
    total = sum(hist.values())
    if total == 0:
        return None
    rank = math.ceil(q * total)
    seen = 0
    for index in sorted(hist):
        seen += hist[index]
        if seen >= rank:
            return bucket_low_us(index) / 1000.0
    return None


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_tracker(path, extra):
    argv = [path, "--listen", "127.0.0.1:0", "--max-connections-per-ip", "0",
            "--max-joins-per-ip", "0"] + extra
    process = subprocess.Popen(argv, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True,
                               preexec_fn=raise_nofile)
    line = process.stdout.readline()
    match = re.search(r":(\d+)/announce", line)
    if not match:
        process.kill()
        sys.exit(f"{path} did not start: {line!r}")
    # the event log goes on: read it, or the tracker blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in process.stdout],
                     daemon=True).start()
    return process, int(match.group(1))


SKIP = 77             # meson's "skipped" exit status


def start_bittorrent_tracker(install):
    """serve.mjs on 127.0.0.1, any free port; npm ci first if needed."""
    have_modules = os.path.isdir(os.path.join(BT_DIR, "node_modules"))
    if shutil.which("node") is None or not (have_modules or install):
        print("skipped: no node, or bench/bittorrent-tracker/node_modules "
              "missing with --no-install", file=sys.stderr)
        sys.exit(SKIP)
    if not have_modules:
        # --ignore-scripts: the package's WebRTC client pulls in a native
        # module (built from source here) that the server never loads
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit",
                        "--no-fund"], cwd=BT_DIR, check=True,
                       stdout=subprocess.DEVNULL)
    process = subprocess.Popen(["node", "serve.mjs", "0"], cwd=BT_DIR,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=raise_nofile)
    line = process.stdout.readline()
    match = re.search(r":(\d+)/announce", line)
    if not match:
        process.kill()
        sys.exit(f"bittorrent-tracker did not start: {line!r}")
    return process, int(match.group(1))


def stop_tracker(process, bittorrent):
    """Stops the tracker; bittorrent-tracker's warnings by kind, or None."""
    process.terminate()
    if not bittorrent:
        process.wait()
        return None
    _, err = process.communicate()
    for line in err.splitlines():
        try:
            return json.loads(line)["warnings"]
        except (ValueError, KeyError, TypeError):
            continue
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis():
    """redis-server on a free loopback port, ready; (process, url)."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no"], stdout=subprocess.PIPE,
        text=True)
    for line in process.stdout:
        if "Ready to accept connections" in line:
            break
    else:
        sys.exit("redis-server did not start")
    threading.Thread(target=lambda: [None for _ in process.stdout],
                     daemon=True).start()
    return process, f"redis://127.0.0.1:{port}"


def read_procs(pids):
    """read_proc() summed over @pids."""
    cpu = rss = 0
    for pid in pids:
        c, r = read_proc(pid)
        cpu += c
        rss += r
    return cpu, rss


def read_proc(pid):
    """(utime + stime in seconds, VmRSS in KiB) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return cpu, rss


def generator_argv(args, port, i):
    share = args.peers // args.processes + (i < args.peers % args.processes)
    return [args.generator, "--port", str(port), "--process", str(i),
            "--peers", str(share), "--swarms", str(args.swarms),
            "--rate", str(args.rate / args.processes),
            "--offers", str(args.offers),
            "--signal-rate", str(args.signal_rate / args.processes),
            "--qos-interval", str(args.qos_interval),
            "--churn", str(args.churn / args.processes),
            "--seconds", str(args.seconds),
            "--max-pending", str(args.max_pending),
            "--src-addrs", "1", "--src-base", str(2 + i),
            "--protocol", "webtorrent" if args.bittorrent else "mesh"]


def sample_until_done(trackers, generators, redis=None):
    """(t, trackers' CPU s, trackers' RSS KiB, Redis CPU s) every TICK."""
    samples = []
    t0 = time.monotonic()
    while any(g.poll() is None for g in generators):
        try:
            cpu, rss = read_procs([t.pid for t in trackers])
            redis_cpu = read_proc(redis.pid)[0] if redis else 0
        except (OSError, AttributeError):
            break
        samples.append((time.monotonic() - t0, cpu, rss, redis_cpu))
        time.sleep(TICK)
    return samples


def merge(results):
    total = {"joins_done": 0, "joins_started": 0, "leaves": 0,
             "signals_sent": 0, "signals_received": 0, "qos_sent": 0,
             "heartbeats_sent": 0, "joined_end": 0, "joined_peak": 0,
             "rss_peak_kib": 0, "errors": {}}
    hists = {"join_us": {}, "connect_us": {}, "signal_us": {}}
    for r in results:
        for key in total:
            if key != "errors":
                total[key] += r[key]
        for code, n in r["errors"].items():
            total["errors"][code] = total["errors"].get(code, 0) + n
        for name, hist in hists.items():
            for index, n in r[name]:
                hist[index] = hist.get(index, 0) + n
    all_joined = [r["all_joined_s"] for r in results]
    total["all_joined_s"] = max(all_joined) if min(all_joined) >= 0 else None
    return total, hists


def cpu_percent(samples, t_from, t_to, column=1):
    window = [s for s in samples if t_from <= s[0] <= t_to]
    if len(window) < 2 or window[-1][0] == window[0][0]:
        return None
    return 100.0 * (window[-1][column] - window[0][column]) / (
        window[-1][0] - window[0][0])


def summarise(args, total, hists, samples, rss_idle):
    ramp = total["all_joined_s"]
    rss_peak = max(s[2] for s in samples) if samples else 0
    rss_end = samples[-1][2] if samples else 0
    peers_end = total["joined_end"]
    out = {
        "tracker": "bittorrent-tracker" if args.bittorrent else "mesh-tracker",
        "qos_interval": args.qos_interval, "peers": args.peers, "swarms":
        args.swarms, "processes": args.processes, "instances":
        args.instances, "rate": args.rate, "seconds": args.seconds,
        "all_joined_s": ramp,
        "ramp_joins_per_s": round(args.peers / ramp, 1) if ramp else None,
        "joins_per_s_run": round(total["joins_done"] / args.seconds, 1),
        "joins_done": total["joins_done"], "leaves": total["leaves"],
        "joined_end": peers_end,
        "join_ms_p50": percentile_ms(hists["join_us"], 0.50),
        "join_ms_p99": percentile_ms(hists["join_us"], 0.99),
        "connect_to_welcome_ms_p99": percentile_ms(hists["connect_us"], 0.99),
        "signals_sent": total["signals_sent"],
        "signals_received": total["signals_received"],
        "signal_ms_p50": percentile_ms(hists["signal_us"], 0.50),
        "signal_ms_p99": percentile_ms(hists["signal_us"], 0.99),
        "qos_sent": total["qos_sent"],
        "tracker_rss_idle_kib": rss_idle, "tracker_rss_peak_kib": rss_peak,
        "tracker_rss_end_kib": rss_end,
        "tracker_kib_per_peer": round((rss_end - rss_idle) / peers_end, 2)
        if peers_end else None,
        "tracker_cpu_pct_ramp": cpu_percent(samples, 0, ramp or args.seconds),
        "tracker_cpu_pct_steady": cpu_percent(samples, ramp, args.seconds)
        if ramp else None,
        # what the same offered load cost, whatever the machine's load
        "tracker_cpu_s": round(samples[-1][1] - samples[0][1], 2)
        if samples else None,
        "generator_rss_peak_kib_sum": total["rss_peak_kib"],
        "generator_kib_per_peer": round(total["rss_peak_kib"] /
                                        max(total["joined_peak"], 1), 2),
        "errors": total["errors"],
    }
    if args.instances > 1:
        out["redis_cpu_pct_ramp"] = cpu_percent(samples, 0, ramp or
                                                args.seconds, 3)
        out["redis_cpu_pct_steady"] = cpu_percent(samples, ramp,
                                                  args.seconds, 3) \
            if ramp else None
    for key in ("tracker_cpu_pct_ramp", "tracker_cpu_pct_steady",
                "redis_cpu_pct_ramp", "redis_cpu_pct_steady"):
        if key not in out:
            continue
        if out[key] is not None:
            out[key] = round(out[key], 1)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", type=int, default=2000)
    parser.add_argument("--swarms", type=int, default=10)
    parser.add_argument("--rate", type=float, default=1000,
                        help="joins per second, all processes together")
    parser.add_argument("--offers", type=int, default=3)
    parser.add_argument("--signal-rate", type=float, default=0,
                        help="background signals per second, in all")
    parser.add_argument("--qos-interval", type=int, default=5)
    parser.add_argument("--churn", type=float, default=0,
                        help="leaves (then rejoins) per second, in all")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--max-pending", type=int, default=100,
                        help="joins in progress at once, per process")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--tracker", default="mesh-tracker",
                        help="mesh-tracker (BUILD's, the default), "
                        "bittorrent-tracker, or the path of a mesh-tracker")
    parser.add_argument("--generator", default=os.path.join(
        REPO, "build", "bench", "tracker-load"))
    parser.add_argument("--tracker-arg", action="append", default=[],
                        help="an extra mesh-tracker argument (repeatable)")
    parser.add_argument("--no-install", action="store_true",
                        help="with --tracker bittorrent-tracker: exit 77 "
                        "(skipped) when node or node_modules is missing "
                        "instead of running npm ci")
    parser.add_argument("--instances", type=int, default=1,
                        help="trackers sharing one redis-server (Redis "
                        "mode) when more than 1; the generator processes "
                        "go to them round-robin")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless every peer joined, signals were "
                        "relayed and no error but unknown-peer happened "
                        "(the smoke test)")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 180 or not 1 <= args.processes <= 64 \
            or not 1 <= args.instances <= 16:
        sys.exit("--seconds 1..180, --processes 1..64, --instances 1..16")
    args.bittorrent = args.tracker == "bittorrent-tracker"
    if args.bittorrent and args.instances > 1:
        sys.exit("--instances is for mesh-tracker (Redis mode)")
    if args.tracker == "mesh-tracker":
        args.tracker = os.path.join(REPO, "build", "tools", "tracker",
                                    "mesh-tracker")
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]

    redis = None
    trackers, ports = [], []
    warnings = None
    try:
        extra = list(args.tracker_arg)
        if args.instances > 1:
            redis, url = start_redis()
            extra += ["--redis", url]
        for _ in range(args.instances):
            if args.bittorrent:
                args.qos_interval = 0     # the protocol has no qos report
                tracker, port = start_bittorrent_tracker(not args.no_install)
            else:
                tracker, port = start_tracker(args.tracker, extra)
            trackers.append(tracker)
            ports.append(port)
        time.sleep(0.3)
        rss_idle = read_procs([t.pid for t in trackers])[1]
        generators = [subprocess.Popen(
            generator_argv(args, ports[i % len(ports)], i),
            stdout=subprocess.PIPE, text=True, preexec_fn=raise_nofile)
            for i in range(args.processes)]
        samples = sample_until_done(trackers, generators, redis)
        results = []
        for g in generators:
            line = g.stdout.read().strip()
            if g.wait() != 0 or not line:
                sys.exit(f"a generator failed (exit {g.returncode})")
            results.append(json.loads(line))
    finally:
        if args.bittorrent and trackers:
            warnings = stop_tracker(trackers[0], True)
        for tracker in trackers if not args.bittorrent else []:
            stop_tracker(tracker, False)
        if redis:
            redis.terminate()
            redis.wait()
    total, hists = merge(results)
    out = summarise(args, total, hists, samples, rss_idle)
    out["loadavg_before"] = loadavg
    if args.bittorrent:
        out["tracker_warnings"] = warnings
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:28} {value}")
    if args.check:
        failures = check(out, args.churn)
        for failure in failures:
            print(f"FAIL: {failure}", file=sys.stderr)
        sys.exit(1 if failures else 0)


def check(out, churn):
    """What the smoke test requires of a short, light run: without churn,
    the signals reached their peers, wherever the tracker holds them, but
    for a few sent as the run ended (at most 3 %)."""
    failures = []
    if churn == 0 and out["signals_received"] < 0.97 * out["signals_sent"]:
        failures.append(f"{out['signals_received']} of {out['signals_sent']} "
                        "signals received")
    if out["joined_end"] != out["peers"]:
        failures.append(f"{out['joined_end']} of {out['peers']} joined")
    if out["join_ms_p99"] is None or out["signals_received"] == 0:
        failures.append("no welcome or no signal measured")
    unexpected = {k: n for k, n in out["errors"].items()
                  if k != "tracker:unknown-peer"}
    if unexpected:
        failures.append(f"errors: {unexpected}")
    return failures


if __name__ == "__main__":
    main()
