#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Locality in the network lab: the tracker's --locality on against off.

Two NAT groups of viewers (default 2 x 4), each group behind a router of its
own: one public address per group as the tracker sees it (--prefix-v4 32
makes each address a network: the two routers share a /24 of the lab), a
LAN between the viewers of a group (unshaped, a fraction of a millisecond),
50 ms between groups, the routers' access links capped (the group's shared
uplink), a ~4 Mbit/s live stream, coturn as STUN so that the groups can
reach each other. The viewers start in turns, one of each group after
the other (--nat-interleave: group after group, the first group's viewers
would fill their links among themselves and with the first of the other
before the rest arrive, whatever the lists); --grouped starts them group
after group all the same, for comparison. Each configuration runs --repeat times, alternating
(on, off, on, off: the machine's load drifts), through bench-p2p.py --lab,
and the figures are printed side by side:

  offload        origin-measured, 1 - segment bytes served / bytes received
  peer bytes     bytes the viewers received from peers
  cross bytes    bytes the routers' uplinks carried during the run: every
                 byte that left a group (peer data to the other group, and
                 the requests, ACKs and tracker messages to the origin and
                 the tracker), an upper bound of the peer bytes between
                 groups
  within share   1 - cross bytes / peer bytes: a lower bound of the share
                 of peer bytes moved within a group
  links          the peer links the viewers made (each viewer's log says
                 "peer ID connected"; GST_DEBUG=meshpeermanager:4 is set
                 for the runs), within a group / between groups: every
                 link made during the run, also those dropped later
  replaced       far links the viewers dropped for a near peer (their
                 logs: "far link dropped for near peer")

The viewers keep max-peers 4 links and the tracker lists 4 (3 of the
asker's network and 1 of another at the default --cross-network-share 20),
so that the lists choose the links: with the default 10, a viewer of 8
would be listed everyone. Root only (the lab); Python standard library.

  sudo ./bench/locality-lab.py [--build build] [--seconds 45] [--repeat 2]
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--group", type=int, default=4,
                        help="viewers per NAT group (default 4)")
    parser.add_argument("--seconds", type=int, default=45)
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each configuration (default 2)")
    parser.add_argument("--rtt", type=float, default=50,
                        help="RTT between groups in ms (default 50)")
    parser.add_argument("--up", type=float, default=5000,
                        help="each group's uplink in kbit/s (default 5000)")
    parser.add_argument("--down", type=float, default=40000,
                        help="each group's downlink in kbit/s (default "
                        "40000)")
    parser.add_argument("--stream-kbps", type=int, default=4000)
    parser.add_argument("--max-peers", type=int, default=4,
                        help="links per viewer and tracker list size "
                        "(default 4)")
    parser.add_argument("--grouped", action="store_true",
                        help="start the viewers group after group (default: "
                        "in turns)")
    parser.add_argument("--json", action="store_true",
                        help="also print every run's figures as JSON")
    args = parser.parse_args()
    if args.group < 2 or args.repeat < 1 or args.seconds < 10:
        parser.error("--group >= 2, --repeat >= 1, --seconds >= 10")
    return args


def bench_command(args, locality):
    return [sys.executable, os.path.join(REPO, "bench", "bench-p2p.py"),
            "--build", args.build, "--lab", "--stun",
            "--viewers", str(2 * args.group),
            "--nat", "eim:%d" % args.group, "--nat", "eim:%d" % args.group,
            ] + ([] if args.grouped else ["--nat-interleave"]) + [
            "--rtt", str(args.rtt), "--up", str(args.up),
            "--down", str(args.down), "--stream-kbps", str(args.stream_kbps),
            "--seconds", str(args.seconds), "--no-baseline", "--json",
            "--max-peers", str(args.max_peers),
            "--tracker-arg=--max-peers=%d" % args.max_peers,
            "--tracker-arg=--prefix-v4=32",
            "--tracker-arg=--locality=%s" % locality]


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


JOINING = re.compile(r"peer (\w+) joining swarm")
CONNECTED = re.compile(r"peer (\w+) connected \(")
REPLACED = re.compile(r"far link dropped for near peer")


def group_of(args, k):
    """Viewer K's group: K % 2 in turns (--nat-interleave), else K // group."""
    return k // args.group if args.grouped else k % 2


def count_links(args, log_dir):
    """(links within a group, links between groups, far links replaced)
    from the viewers' logs."""
    ids, links, replaced = {}, set(), 0
    for path in glob.glob(os.path.join(log_dir, "viewer-*.log")):
        k = int(re.search(r"viewer-(\d+)\.log$", path).group(1))
        with open(path, errors="replace") as log:
            text = log.read()
        replaced += len(REPLACED.findall(text))
        me = JOINING.search(text)
        if not me:
            continue
        ids[me.group(1)] = group_of(args, k)
        for other in CONNECTED.findall(text):
            links.add(tuple(sorted((me.group(1), other))))
    known = [(ids[a], ids[b]) for a, b in links if a in ids and b in ids]
    within = sum(1 for a, b in known if a == b)
    return within, len(known) - within, replaced


def run_once(args, locality):
    before = load()
    log_dir = tempfile.mkdtemp(prefix="locality-lab-")
    env = dict(os.environ, GST_DEBUG="meshpeermanager:4",
               GST_DEBUG_NO_COLOR="1")
    out = subprocess.run(bench_command(args, locality) + ["--log-dir",
                                                          log_dir],
                         capture_output=True, env=env,
                         timeout=args.seconds * 4 + 180)
    text = out.stdout.decode(errors="replace")
    report = None
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            report = json.loads(line)
            break
    if report is None:
        raise RuntimeError("bench-p2p.py gave no JSON (exit %d): %s" % (
            out.returncode, out.stderr.decode(errors="replace")[-800:]))
    s = report["summary"]
    ok = [v for v in report["viewers"] if not v.get("error")]
    peer = sum(v.get("bytes_from_peers", 0) for v in ok)
    cross = sum(r["up"] for r in s["lab"]["routers"].values())
    links_within, links_between, replaced = count_links(args, log_dir)
    subprocess.run(["rm", "-rf", log_dir])
    return {"links_within": links_within, "links_between": links_between,
            "replaced": replaced,
            "locality": locality, "load_before": before, "load_after": load(),
            "offload": s["offload"], "peer_bytes": peer,
            "cross_bytes": cross,
            "within": 1 - cross / peer if peer else None,
            "stalls": s["stalls"], "viewers_ok": s["viewers_ok"],
            "viewers": s["viewers"]}


def fmt(value, spec):
    return spec % value if value is not None else "-"


def print_table(runs):
    print()
    print("%-9s %-4s %8s %9s %10s %7s %14s %8s %6s  %s" % (
        "locality", "run", "offload", "peer MiB", "cross MiB", "within",
        "links in/btw", "replaced", "stalls",
        "load (1/5/15 min) before / after"))
    for i, r in enumerate(runs):
        print("%-9s %-4d %8s %9.1f %10.1f %7s %14s %8d %6d  %s / %s" % (
            r["locality"], i + 1, fmt(r["offload"], "%.3f"),
            r["peer_bytes"] / 1048576, r["cross_bytes"] / 1048576,
            fmt(r["within"], "%.3f"),
            "%d / %d" % (r["links_within"], r["links_between"]),
            r["replaced"], r["stalls"], r["load_before"], r["load_after"]))
    print()
    for locality in ("on", "off"):
        mine = [r for r in runs if r["locality"] == locality]
        offloads = [r["offload"] for r in mine if r["offload"] is not None]
        withins = [r["within"] for r in mine if r["within"] is not None]
        print("locality %-3s: offload %s, within-group share of peer bytes "
              "%s, links within / between groups %s (%d runs)" % (
                  locality,
                  " ".join("%.3f" % o for o in offloads) or "-",
                  " ".join("%.3f" % w for w in withins) or "-",
                  " ".join("%d/%d" % (r["links_within"], r["links_between"])
                           for r in mine), len(mine)))


def main():
    args = parse_args()
    runs = []
    for i in range(args.repeat):
        for locality in ("on", "off"):
            print("run %d, locality %s ..." % (i + 1, locality), flush=True)
            runs.append(run_once(args, locality))
            r = runs[-1]
            print("  offload %s, within %s, links %d within / %d between, "
                  "%d replaced, stalls %d, %d/%d viewers ok"
                  % (fmt(r["offload"], "%.3f"), fmt(r["within"], "%.3f"),
                     r["links_within"], r["links_between"], r["replaced"],
                     r["stalls"], r["viewers_ok"], r["viewers"]),
                  flush=True)
    print_table(runs)
    if args.json:
        print(json.dumps(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
