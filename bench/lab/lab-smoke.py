#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The network lab's smoke test (meson test lab-smoke).

Three viewers of a 1 Mbit/s live stream for 20 s in the lab, 50 ms RTT
between viewers (bench-p2p.py --lab), and checks that:
  - the RTT measured between two viewers is within 10 % of 50 ms, and the
    one to the origin within 10 % of 25 ms;
  - every viewer played, with zero stalls;
  - some bytes came from peers, and the origin counted fewer segment bytes
    than the viewers received (peer-to-peer delivery did happen);
  - no lab namespace is left behind.
Prints "SKIP: reason" and exits 77 when the lab cannot run here (not root,
no network namespaces or /dev/net/tun, nothing built, no ffmpeg).

Python standard library only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as netlab  # noqa: E402

BENCH = os.path.join(os.path.dirname(HERE), "bench-p2p.py")
RTT = 50.0


def skip(reason):
    print("SKIP: %s" % reason, flush=True)
    return 77


def within(measured, target, share=0.10, floor_ms=2.0):
    return measured is not None and abs(measured - target) <= max(
        target * share, floor_ms)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(netlab.REPO, "build"))
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    reason = netlab.check_support(netlab.default_shaper(build))
    if reason:
        return skip(reason)
    if not shutil.which("ffmpeg"):
        return skip("ffmpeg is not installed")
    for path in ("bench/mesh-viewer", "tools/origin/mesh-origin",
                 "tools/tracker/mesh-tracker", "gst/mesh/libgstmesh.so"):
        if not os.path.exists(os.path.join(build, path)):
            return skip("%s is not built" % path)

    cmd = [sys.executable, BENCH, "--build", build, "--lab", "--viewers", "3",
           "--seconds", "20", "--rtt", str(RTT), "--stream-kbps", "1000",
           "--no-baseline", "--json"]
    print(" ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    try:
        out, _ = proc.communicate(timeout=100)
    except subprocess.TimeoutExpired:
        # SIGTERM: it tears its lab down
        proc.terminate()
        proc.communicate()
        print("FAIL: the scenario took more than 100 s")
        return 1
    out = out.decode(errors="replace")
    print(out, flush=True)
    # exit 1 = the product's goals for N = 10 missed, expected with 3
    if proc.returncode not in (0, 1):
        print("FAIL: bench-p2p.py exited %d" % proc.returncode)
        return 1
    report = json.loads(out.strip().splitlines()[-1])
    # the runner names its namespaces after its pid
    left = [n for n in netlab.lab_namespaces()
            if n.startswith("%s%d-" % (netlab.PREFIX, proc.pid))]
    return check(report, left)


def ms(value, spec="%.1f"):
    return "-" if value is None else spec % value


def check(report, left):
    s = report["summary"]
    rtt = s["lab"]["rtt"]
    peers = sum(v.get("bytes_from_peers", 0) for v in report["viewers"])
    checks = [
        (within(rtt["viewer 1"]["measured_ms"], RTT),
         "RTT viewer 0 -> viewer 1 %s ms, target %g"
         % (ms(rtt["viewer 1"]["measured_ms"]), RTT)),
        (within(rtt["origin"]["measured_ms"], RTT / 2),
         "RTT viewer 0 -> origin %s ms, target %g"
         % (ms(rtt["origin"]["measured_ms"]), RTT / 2)),
        (s["viewers_ok"] == s["sessions"] == 3,
         "%d of %d viewers played" % (s["viewers_ok"], s["sessions"])),
        (s["stalls"] == 0, "%d stalls" % s["stalls"]),
        (peers > 0, "%d bytes from peers" % peers),
        (s["offload"] is not None and s["offload"] > 0,
         "offload measured by the origin %s" % ms(s["offload"], "%.3f")),
        (not left, "no namespace left by the run %s" % (left or "")),
    ]
    failed = 0
    for ok, what in checks:
        print("%-4s %s" % ("ok" if ok else "FAIL", what))
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
