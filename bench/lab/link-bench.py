#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Link goodput micro-benchmark in the network lab.

Between two lab hosts (a server and a client whose access link has the RTT
and loss of each condition), times transfers of --size bytes from the
server to the client, request to last byte: on fresh connections (the
clock starts before the connection is opened, so the handshake counts) and
on one warm connection (after an unmeasured transfer on it), --runs of
each, and prints the median goodput in MB/s (10^6 bytes per second).

Transports are pluggable. Each is a pair of commands (shell words; {addr},
{port}, {size}, {runs}, {client_addr} (the client's own address), {build}
(the build directory) and {tracker} are replaced; a transport naming
{tracker} gets a mesh-tracker on a host of its own, unshaped, whose URL that
is):

  server: runs in the server's namespace, listens on {addr}:{port}, prints
          one line to standard output once it listens, serves until
          SIGTERM;
  client: runs in the client's namespace, prints one JSON line
          {"fresh_s": [seconds, ...], "warm_s": [seconds, ...]}
          ({runs} of each, {size} bytes each, from {addr}:{port}); it may
          add "fresh_transfer_s" (fresh, request to last byte, set-up
          excluded) and "connect_s" (set-up times).

Kernel TCP (cubic, set on every socket) is built in and always measured,
through the same interface (this file's _tcp-server and _tcp-client), and
every other transport is printed as a ratio against TCP in the same run:

  link-bench.py --transport quic 'quic-peer serve {addr} {port}' \\
      'quic-peer fetch {addr} {port} {size} {runs}'

Built in as well: --mesh-quic-link (our peer link, bench/mesh-link-bench,
set up through a mesh-tracker as in the product) and --quic-udp (the QUIC
core over a plain UDP socket, tests/check/quic-udp-bench).

Python standard library only; needs root (see lab.py check).
"""

import argparse
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as netlab  # noqa: E402

PORT = 9100
DEFAULT_CONDITIONS = ["20", "50", "100", "50:0.01"]


# ---------------------------------------------------------------------------
# The built-in TCP transport (runs inside the namespaces)

def cubic(sock):
    # the machine's default may be bbr; as root any built-in algorithm
    # can be set per socket
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")


def tcp_server(addr, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cubic(srv)
    srv.bind((addr, int(port)))
    srv.listen(16)
    print("listening", flush=True)
    payload = b"\x5a" * (1 << 20)
    while True:
        conn, _ = srv.accept()
        cubic(conn)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn, conn.makefile("rb") as requests:
            for line in requests:
                left = int(line)
                while left > 0:
                    n = min(left, len(payload))
                    conn.sendall(payload[:n])
                    left -= n


def fetch(sock, size):
    sock.sendall(b"%d\n" % size)
    got = 0
    while got < size:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise OSError("connection closed after %d of %d bytes"
                          % (got, size))
        got += len(chunk)


def connect(addr, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cubic(sock)
    sock.settimeout(120)
    sock.connect((addr, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def tcp_client(addr, port, size, runs):
    port, size, runs = int(port), int(size), int(runs)
    fresh, transfer, connected = [], [], []
    for _ in range(runs):
        start = time.monotonic()
        with connect(addr, port) as sock:
            connected.append(time.monotonic() - start)
            fetch(sock, size)
            fresh.append(time.monotonic() - start)
            transfer.append(fresh[-1] - connected[-1])
    warm = []
    with connect(addr, port) as sock:
        fetch(sock, size)           # warms the congestion window up
        for _ in range(runs):
            start = time.monotonic()
            fetch(sock, size)
            warm.append(time.monotonic() - start)
    return {"fresh_s": fresh, "warm_s": warm, "fresh_transfer_s": transfer,
            "connect_s": connected}


TCP = ("tcp",
       "%s %s _tcp-server {addr} {port}" % (sys.executable,
                                            os.path.abspath(__file__)),
       "%s %s _tcp-client {addr} {port} {size} {runs}"
       % (sys.executable, os.path.abspath(__file__)))

# Our peer link: MeshQuicLink set up by the tracker's signalling
MESH_QUIC_LINK = (
    "mesh-quic-link",
    "{build}/bench/mesh-link-bench --serve --tracker {tracker} "
    "--local-address {addr}",
    "{build}/bench/mesh-link-bench --fetch --tracker {tracker} "
    "--local-address {client_addr} --bytes {size} --repeat {runs}")

# The same with BBR (peer-congestion-control=bbr) on both ends
MESH_QUIC_LINK_BBR = (
    "mesh-quic-link-bbr",
    MESH_QUIC_LINK[1] + " --congestion-control bbr",
    MESH_QUIC_LINK[2] + " --congestion-control bbr")

# The QUIC core alone, over a plain UDP socket (no ICE, no libnice)
QUIC_UDP = (
    "quic-udp",
    "{build}/tests/check/quic-udp-bench --listen {addr}:{port}",
    "{build}/tests/check/quic-udp-bench --connect {addr}:{port} "
    "--bytes {size} --repeat {runs} --json")


# ---------------------------------------------------------------------------
# The harness

def parse_condition(text):
    rtt, _, loss = text.partition(":")
    return float(rtt), float(loss or 0)


def expand(template, **values):
    return [word.format(**values) for word in shlex.split(template)]


def measure(lab, server, client, transport, size, runs, build, tracker):
    name, server_cmd, client_cmd = transport
    values = dict(addr=server.addr, port=PORT, size=size, runs=runs,
                  client_addr=client.addr, build=build, tracker=tracker)
    srv = lab.spawn(server, expand(server_cmd, **values))
    try:
        ready = srv.stdout.readline()
        if not ready:
            raise netlab.LabError("%s server did not start" % name)
        out = lab.run_in(client, expand(client_cmd, **values), timeout=600)
        answer = json.loads(out.stdout.decode().strip().splitlines()[-1])
    finally:
        lab.stop(srv)
    row = {kind: {"seconds": answer[kind + "_s"],
                  "mb_s": size / statistics.median(answer[kind + "_s"]) / 1e6}
           for kind in ("fresh", "warm", "fresh_transfer")
           if answer.get(kind + "_s")}
    if answer.get("connect_s"):
        row["connect_ms"] = statistics.median(answer["connect_s"]) * 1e3
    return row


def uses_tracker(transports):
    return any("{tracker}" in cmd for t in transports for cmd in t[1:])


def start_tracker(lab, host, build):
    """A mesh-tracker on host; its ws:// URL."""
    proc = lab.spawn(host, [os.path.join(build, "tools", "tracker",
                                         "mesh-tracker"),
                            "--listen", "%s:8765" % host.addr])
    banner = proc.stdout.readline().decode().strip()
    prefix = "mesh-tracker listening on "
    if not banner.startswith(prefix):
        raise netlab.LabError("mesh-tracker did not start: %r" % banner)
    return banner[len(prefix):]


def run_condition(args, rtt, loss, transports):
    lab = netlab.Lab(netlab.default_shaper(args.build))
    try:
        server = lab.add_public("server")
        client = lab.add_public("client", netlab.Access.make(
            rtt_ms=rtt, loss=loss, down_kbit=args.rate_kbit,
            up_kbit=args.rate_kbit))
        tracker_host = (lab.add_public("tracker", addr=netlab.TRACKER_ADDR)
                        if uses_tracker(transports) else None)
        lab.start()
        tracker = (start_tracker(lab, tracker_host, args.build)
                   if tracker_host else None)
        pings = [r for r in lab.ping(client, server.addr, count=5,
                                     interval=0.05) if r is not None]
        row = {"rtt_ms": rtt, "loss": loss,
               "measured_rtt_ms": statistics.median(pings) if pings else None,
               "transports": {}}
        for transport in transports:
            row["transports"][transport[0]] = measure(
                lab, server, client, transport, args.size, args.runs,
                args.build, tracker)
        return row
    finally:
        lab.close()


HEADER = ("condition (ping ms)", "transport", "fresh MB/s", "warm MB/s",
          "fresh/TCP", "warm/TCP", "xfer MB/s", "conn ms")
FORMAT = "%-26s %-14s %10s %10s %9s %9s %9s %7s"


def print_row(row):
    tcp = row["transports"]["tcp"]
    cond = "RTT %g ms%s" % (row["rtt_ms"], " loss %g%%" % (row["loss"] * 100)
                            if row["loss"] else "")
    measured = row["measured_rtt_ms"]
    for name, r in row["transports"].items():
        print(FORMAT % (
            "%s (%s)" % (cond, "%.1f" % measured if measured else "-")
            if name == "tcp" else "", name,
            "%.2f" % r["fresh"]["mb_s"], "%.2f" % r["warm"]["mb_s"],
            "%.2f" % (r["fresh"]["mb_s"] / tcp["fresh"]["mb_s"]),
            "%.2f" % (r["warm"]["mb_s"] / tcp["warm"]["mb_s"]),
            "%.2f" % r["fresh_transfer"]["mb_s"]
            if "fresh_transfer" in r else "-",
            "%.0f" % r["connect_ms"] if "connect_ms" in r else "-"),
            flush=True)


def parse_args():
    parser = argparse.ArgumentParser(
        description="Goodput of transfers between two lab hosts at given "
        "RTT and loss: kernel TCP and pluggable transports.")
    parser.add_argument("--build", default=os.path.join(netlab.REPO, "build"),
                        help="meson build directory (default <repo>/build)")
    parser.add_argument("--condition", action="append", metavar="RTT[:LOSS]",
                        help="RTT in ms and loss (0 - 1) of the client's "
                        "link, on each direction; repeatable (default %s)"
                        % " ".join(DEFAULT_CONDITIONS))
    parser.add_argument("--size", type=int, default=2000000,
                        help="bytes per transfer (default 2000000)")
    parser.add_argument("--runs", type=int, default=4,
                        help="transfers of each kind (default 4)")
    parser.add_argument("--rate-kbit", type=float, default=100000,
                        help="cap of the client's link, both ways (default "
                        "100000: a 100 Mbit/s access link; 0 = no cap, "
                        "then the shaper's own speed, which varies with "
                        "the machine's load, is the bottleneck)")
    parser.add_argument("--transport", nargs=3, action="append", default=[],
                        metavar=("NAME", "SERVER_CMD", "CLIENT_CMD"),
                        help="another transport to compare with TCP")
    parser.add_argument("--mesh-quic-link", action="store_true",
                        help="measure our peer link (bench/mesh-link-bench, "
                        "set up through a mesh-tracker)")
    parser.add_argument("--mesh-quic-link-bbr", action="store_true",
                        help="measure our peer link with BBR "
                        "(peer-congestion-control=bbr)")
    parser.add_argument("--quic-udp", action="store_true",
                        help="measure the QUIC core over plain UDP "
                        "(tests/check/quic-udp-bench)")
    parser.add_argument("--json", action="store_true",
                        help="also print every figure as one JSON object")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    if args.size < 1 or args.runs < 1:
        parser.error("--size and --runs must be >= 1")
    try:
        args.conditions = [parse_condition(c) for c in
                           (args.condition or DEFAULT_CONDITIONS)]
    except ValueError:
        parser.error("--condition: expected RTT_MS[:LOSS]")
    return args


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_tcp-server":
        tcp_server(*sys.argv[2:])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "_tcp-client":
        print(json.dumps(tcp_client(*sys.argv[2:])), flush=True)
        return 0
    args = parse_args()
    netlab.install_signal_handlers()
    transports = ([TCP] + [QUIC_UDP] * args.quic_udp
                  + [MESH_QUIC_LINK] * args.mesh_quic_link
                  + [MESH_QUIC_LINK_BBR] * args.mesh_quic_link_bbr
                  + [tuple(t) for t in args.transport])
    print("link-bench: %d-byte transfers server -> client, median of %d, "
          "client link %s; MB/s = 10^6 bytes/s; fresh includes the "
          "handshake (xfer: fresh, request to last byte; conn: set-up)"
          % (args.size, args.runs,
                         "%g kbit/s" % args.rate_kbit if args.rate_kbit
                         else "uncapped"))
    print(FORMAT % HEADER)
    rows = []
    try:
        for rtt, loss in args.conditions:
            rows.append(run_condition(args, rtt, loss, transports))
            print_row(rows[-1])
    except (netlab.LabError, OSError, subprocess.SubprocessError,
            ValueError, KeyError) as e:
        print("link-bench: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("link-bench: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps({"size": args.size, "runs": args.runs,
                          "rate_kbit": args.rate_kbit, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
