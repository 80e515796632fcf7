#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tracker flood: what a hostile crowd costs mesh-tracker.

Starts mesh-tracker on 127.0.0.1, joins 2,000 WebSocket members to one
swarm, then for --duration seconds: 50 of them signal a member that never
reads (15,000-byte signals at 40 per second each, below the rate limit; when
the tracker cuts that receiver off, a new one joins), 300 HTTP requests are
left half-sent, and hostile connections send malformed, oversized, unending
and ping-flood messages. It prints the tracker's RSS (VmRSS and VmHWM of
/proc/PID/status) before, during and after, how long a fresh join takes
during and after the flood, and what the tracker closed and why (its
/metrics). See bench/README.md.

Python standard library only. Everything on 127.0.0.1; about a minute.
"""

import argparse
import asyncio
import base64
import json
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWARM = "flood"
SIGNAL_DATA = 15000          # bytes of a signal's "data"
SENDER_RATE = 40             # signals per second per sender (limit: 50)
HEARTBEAT_S = 10             # members beat more often than the 15 s asked
HOSTILE_BYTES = 8 << 20      # what one hostile connection sends, at most
HOSTILE_KINDS = ("malformed", "oversized", "huge-frame", "fragments", "pings")


class FloodError(Exception):
    pass


# ---------------------------------------------------------------------------
# WebSocket, the client side, by hand (RFC 6455)

MASK = b"\x5a\xa5\x3c\xc3"


def frame(payload, opcode=1, fin=True):
    """A masked client frame (one fixed mask: the tracker does not care)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = (MASK * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")) \
        .to_bytes(n, "big") if n else b""
    return head + MASK + masked


def join_message(peer):
    return json.dumps({"type": "join", "version": 1, "swarm": SWARM,
                       "peer": peer, "caps": {"upload": True}})


async def ws_connect(port, timeout=10):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((
        f"GET /announce HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: mesh-tracker.v1\r\n\r\n").encode())
    response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    if not response.startswith(b"HTTP/1.1 101"):
        writer.close()
        raise FloodError("handshake refused: " +
                         response.split(b"\r\n")[0].decode())
    return reader, writer


async def read_frame(reader):
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return head[0] & 0x0F, await reader.readexactly(n)


async def read_message(reader, timeout=10):
    while True:
        opcode, payload = await asyncio.wait_for(read_frame(reader), timeout)
        if opcode == 1:
            return json.loads(payload)
        if opcode == 8:
            raise FloodError("closed by the tracker")


# ---------------------------------------------------------------------------
# The tracker

def status_kib(pid):
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                figures[key] = int(value.split()[0])
    return figures


def fetch_metrics(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                    timeout=10) as response:
            text = response.read().decode()
    except OSError as error:
        return {"error": str(error)}
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def metrics(port):
    """/metrics, off the event loop: the crowd goes on meanwhile."""
    return await asyncio.to_thread(fetch_metrics, port)


def start_tracker(path):
    help_text = subprocess.run([path, "--help"], capture_output=True,
                               text=True).stdout
    argv = [path, "--listen", "127.0.0.1:0"]
    # the whole crowd comes from 127.0.0.1
    if "--max-connections-per-ip" in help_text:
        argv += ["--max-connections-per-ip", "0", "--max-joins-per-ip", "0"]
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log,
                               text=True)
    process.log = log
    line = process.stdout.readline()
    match = re.search(r":(\d+)/announce", line)
    if not match:
        process.kill()
        raise FloodError(f"{path} did not start: {line!r}")
    return process, int(match.group(1)), argv[1:]


# ---------------------------------------------------------------------------
# The crowd

class Flood:
    def __init__(self, args, port, pid):
        self.args = args
        self.port = port
        self.pid = pid
        self.members = []             # (reader, writer)
        self.deaf_id = None
        self.deaf_gone = asyncio.Event()
        self.deaf_cut = 0
        self.deaf_joined = 0
        self.signals_sent = 0
        self.stop = False
        self.rss_max = {"VmRSS": 0, "VmHWM": 0}
        self.rss_samples = 0
        self.half_open_closed = []    # seconds after opening
        self.hostile = {kind: {"closed": 0, "sent": 0, "refused": 0}
                        for kind in HOSTILE_KINDS}
        self.join_ms = {}
        self.members_lost = 0
        self.join_retries = 0

    # members --------------------------------------------------------------

    async def member_reader(self, reader):
        try:
            while True:
                opcode, payload = await read_frame(reader)
                if opcode == 8:
                    break
                if opcode == 1 and b'"peer-left"' in payload:
                    peer = json.loads(payload).get("peer")
                    if peer == self.deaf_id:
                        self.deaf_gone.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        if not self.stop:
            self.members_lost += 1

    async def join_member(self, index, gate):
        async with gate:
            for attempt in range(3):
                try:
                    reader, writer = await ws_connect(self.port)
                    break
                except asyncio.TimeoutError:
                    self.join_retries += 1
            else:
                raise FloodError(f"member {index}: no handshake in 3 x 10 s")
            writer.write(frame(join_message(f"member-{index:05d}")))
            welcome = await read_message(reader)
            if welcome.get("type") != "welcome":
                raise FloodError(f"member {index}: {welcome}")
        self.members.append((reader, writer))
        asyncio.ensure_future(self.member_reader(reader))

    async def heartbeats(self):
        beat = frame('{"type":"heartbeat"}')
        while not self.stop:
            for _, writer in self.members:
                if not writer.is_closing():
                    writer.write(beat)
            await asyncio.sleep(HEARTBEAT_S)

    # the receiver that never reads, and its senders -----------------------

    async def deaf_receivers(self):
        while not self.stop:
            self.deaf_joined += 1
            self.deaf_id = f"deaf-{self.deaf_joined:05d}"
            self.deaf_gone.clear()
            _, writer = await ws_connect(self.port)
            writer.write(frame(join_message(self.deaf_id)))
            # it never reads; the senders' peer-left says when it is gone
            while not self.stop:
                try:
                    await asyncio.wait_for(self.deaf_gone.wait(), 1)
                    self.deaf_cut += 1
                    break
                except asyncio.TimeoutError:
                    pass
            writer.close()

    async def sender(self, writer):
        data = "d" * SIGNAL_DATA
        target, message = None, None
        interval = 1.0 / SENDER_RATE
        next_at = time.monotonic()
        while not self.stop:
            if target != self.deaf_id:
                target = self.deaf_id
                message = frame(json.dumps({"type": "signal", "to": target,
                                            "data": data}))
            writer.write(message)
            self.signals_sent += 1
            await writer.drain()
            # no catching up after a slow drain: a burst would pass the
            # tracker's rate limit
            next_at = max(next_at + interval, time.monotonic())
            await asyncio.sleep(next_at - time.monotonic())

    # requests that never end ----------------------------------------------

    async def half_open(self):
        opened = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1",
                                                           self.port)
        except OSError:
            return
        writer.write(b"GET /announce HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            while await reader.read(4096):
                pass
            self.half_open_closed.append(time.monotonic() - opened)
        except ConnectionError:
            self.half_open_closed.append(time.monotonic() - opened)
        writer.close()

    # hostile connections ----------------------------------------------------

    async def hostile_one(self, kind, index):
        counts = self.hostile[kind]
        try:
            reader, writer = await ws_connect(self.port)
        except (FloodError, OSError, asyncio.TimeoutError):
            counts["refused"] += 1
            return
        writer.write(frame(join_message(f"{kind}-{index:04d}")))
        sent = 0
        try:
            if kind == "malformed":
                bad = [frame("{oops"), frame(b"\x01\x02", opcode=2),
                       frame("[" * 30000 + "]" * 30000),
                       frame('{"type":"no-such-type"}')]
                for i in range(12):
                    chunk = bad[i % len(bad)]
                    writer.write(chunk)
                    sent += len(chunk)
            elif kind == "oversized":
                chunk = frame('{"type":"heartbeat","pad":"%s"}'
                              % ("o" * 100000))
                writer.write(chunk)
                sent += len(chunk)
            elif kind == "huge-frame":
                chunk = frame("h" * 200000)
                writer.write(chunk)
                sent += len(chunk)
            elif kind == "fragments":
                writer.write(frame('{"type":"heartbeat","pad":"',
                                   fin=False))
                chunk = frame("f" * 4000, opcode=0, fin=False)
                while sent < HOSTILE_BYTES and not self.stop:
                    writer.write(chunk * 16)
                    sent += len(chunk) * 16
                    await writer.drain()
            elif kind == "pings":
                # never reads its pongs; a heartbeat every 64 KiB, 20 a
                # second, below the bounds on messages and on what comes
                # between them
                chunk = frame(b"p" * 125, opcode=9) * 512 + \
                    frame('{"type":"heartbeat"}')
                while sent < HOSTILE_BYTES and not self.stop:
                    writer.write(chunk)
                    sent += len(chunk)
                    await writer.drain()
                    await asyncio.sleep(0.05)
            await writer.drain()
            if kind != "pings":
                # read until the tracker closes
                while await asyncio.wait_for(reader.read(65536), 15):
                    pass
            else:
                await asyncio.wait_for(self.wait_closed(writer), 15)
            counts["closed"] += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            counts["closed"] += 1
        except asyncio.TimeoutError:
            pass
        counts["sent"] += sent
        writer.close()

    @staticmethod
    async def wait_closed(writer):
        """Without reading: a write fails once the tracker has closed."""
        while True:
            writer.write(frame('{"type":"heartbeat"}'))
            await writer.drain()
            await asyncio.sleep(0.2)

    # measuring ---------------------------------------------------------------

    async def sample_rss(self):
        while not self.stop:
            figures = status_kib(self.pid)
            for key in self.rss_max:
                self.rss_max[key] = max(self.rss_max[key], figures[key])
            self.rss_samples += 1
            await asyncio.sleep(0.25)

    async def fresh_join(self, label):
        """A newcomer's join: how long until its welcome (10 s at most)."""
        start = time.monotonic()
        try:
            reader, writer = await ws_connect(self.port)
            writer.write(frame(join_message(f"fresh-{label}")))
            welcome = await read_message(reader)
        except (FloodError, OSError, asyncio.TimeoutError,
                asyncio.IncompleteReadError) as error:
            self.join_ms[label] = (None, f"failed: {error!r}")
            return
        elapsed = (time.monotonic() - start) * 1000
        if welcome.get("type") != "welcome":
            self.join_ms[label] = (None, f"answered {welcome}")
        else:
            self.join_ms[label] = (elapsed, len(welcome.get("peers", [])))
        writer.write(frame('{"type":"leave"}'))
        writer.close()


async def run(args, tracker_path):
    process, port, argv = start_tracker(tracker_path)
    report = {"tracker": tracker_path, "argv": argv}
    try:
        flood = Flood(args, port, process.pid)
        report["rss_start"] = status_kib(process.pid)
        began = time.monotonic()

        gate = asyncio.Semaphore(200)
        await asyncio.gather(*(flood.join_member(i, gate)
                               for i in range(args.connections)))
        report["join_s"] = time.monotonic() - began
        report["join_retries"] = flood.join_retries
        await asyncio.sleep(1)
        report["rss_joined"] = status_kib(process.pid)

        tasks = [asyncio.ensure_future(flood.heartbeats()),
                 asyncio.ensure_future(flood.sample_rss()),
                 asyncio.ensure_future(flood.deaf_receivers())]
        await asyncio.sleep(0.2)
        tasks += [asyncio.ensure_future(flood.sender(writer))
                  for _, writer in flood.members[:args.senders]]
        half = [asyncio.ensure_future(flood.half_open())
                for _ in range(args.half_open)]
        hostile = [asyncio.ensure_future(flood.hostile_one(kind, i))
                   for kind in HOSTILE_KINDS for i in range(args.hostile)]
        await asyncio.sleep(args.duration / 2)
        await flood.fresh_join("during")
        await asyncio.sleep(args.duration / 2)
        report["rss_flood_max"] = dict(flood.rss_max)
        report["metrics_flood"] = await metrics(port)

        flood.stop = True
        await asyncio.wait(half + hostile, timeout=5)
        for task in tasks + half + hostile:
            task.cancel()
        await asyncio.sleep(2)
        report["rss_after"] = status_kib(process.pid)
        await flood.fresh_join("after")
        report["metrics"] = await metrics(port)
        report["total_s"] = time.monotonic() - began
        report.update(deaf_joined=flood.deaf_joined, deaf_cut=flood.deaf_cut,
                      signals_sent=flood.signals_sent,
                      half_open_closed=flood.half_open_closed,
                      hostile=flood.hostile, join_ms=flood.join_ms,
                      members_lost=flood.members_lost)
        for _, writer in flood.members:
            writer.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        process.log.seek(0)
        report["log"] = [line for line in process.log.read().splitlines()
                         if line.strip()]
    return report


# ---------------------------------------------------------------------------
# Report

def mib(kib):
    return f"{kib / 1024:7.1f}"


def print_report(args, r):
    m = r["metrics"]

    def by_label(prefix):
        out = []
        for name, value in sorted(m.items()):
            if name.startswith(prefix) and value:
                label = re.search(r'"(.*)"', name).group(1)
                out.append(f"{label}={int(value)}")
        return " ".join(out) or "none"

    print(f"tracker: {r['tracker']} {' '.join(r['argv'])}")
    print(f"flood: {args.connections} members joined in {r['join_s']:.1f} s "
          f"({r['join_retries']} handshakes timed out and were retried);"
          f" {args.senders} of them signal a receiver that never reads "
          f"({SIGNAL_DATA}-byte signals, {SENDER_RATE}/s each); "
          f"{args.half_open} half-sent HTTP requests; {args.hostile} hostile "
          f"connections of each kind ({', '.join(HOSTILE_KINDS)}); "
          f"{args.duration:.0f} s")
    print("tracker RSS (MiB)      VmRSS   VmHWM")
    for label, key in (("start", "rss_start"), ("2000 joined", "rss_joined"),
                       ("flood (max)", "rss_flood_max"),
                       ("after", "rss_after")):
        figures = r[key]
        print(f"  {label:<18} {mib(figures['VmRSS'])} "
              f"{mib(figures['VmHWM'])}")
    print(f"signals sent to receivers that never read: {r['signals_sent']} "
          f"({r['signals_sent'] * SIGNAL_DATA / 2**20:.0f} MiB); receivers "
          f"cut off: {r['deaf_cut']} of {r['deaf_joined']}")
    closed = r["half_open_closed"]
    if closed:
        print(f"half-sent requests closed by the tracker: {len(closed)} of "
              f"{args.half_open}, after {min(closed):.1f} to "
              f"{max(closed):.1f} s")
    else:
        print(f"half-sent requests closed by the tracker: 0 of "
              f"{args.half_open}")
    for kind, c in r["hostile"].items():
        print(f"hostile {kind:<10}: {c['closed']} of {args.hostile} closed "
              f"by the tracker, {c['refused']} refused at once, "
              f"{c['sent'] / 2**20:.1f} MiB sent")
    for label, (ms, peers) in r["join_ms"].items():
        if ms is None:
            print(f"fresh join {label:<6}: no welcome, {peers}")
        else:
            print(f"fresh join {label:<6}: welcome in {ms:.0f} ms, {peers} "
                  f"peers listed")
    if "error" in m:
        print(f"tracker's /metrics: no answer ({m['error']})")
    print(f"members still joined: "
          f"{int(m.get('mesh_tracker_peers', 0))} (of {args.connections}; "
          f"lost: {r['members_lost']})")
    print(f"tracker's /metrics: disconnects {by_label('mesh_tracker_disconnects_total')}")
    print(f"  HTTP closes {by_label('mesh_tracker_http_closes_total')}")
    print(f"  errors {by_label('mesh_tracker_errors_total')}")
    kinds = {}
    for line in r["log"]:
        kind = re.sub(r"^.*\d\d:\d\d:\d\d\.\d+: (peer \S+ from \S+: )?", "",
                      line)
        kind = re.sub(r"\d+", "N", kind)
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"tracker log: {len(r['log'])} lines")
    for kind, count in sorted(kinds.items(), key=lambda k: -k[1])[:4]:
        print(f"  {count:5d} x {kind}")
    print(f"took {r['total_s']:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(REPO, "build"),
                        help="meson build directory (default: REPO/build)")
    parser.add_argument("--tracker", help="mesh-tracker binary (default: "
                        "BUILD/tools/tracker/mesh-tracker)")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--half-open", type=int, default=300)
    parser.add_argument("--hostile", type=int, default=20,
                        help="connections of each hostile kind")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--json", action="store_true",
                        help="also print every figure as one JSON object")
    args = parser.parse_args()

    tracker = args.tracker or os.path.join(args.build, "tools", "tracker",
                                           "mesh-tracker")
    if not os.access(tracker, os.X_OK):
        print(f"tracker-flood: no {tracker} (build first, or --tracker)",
              file=sys.stderr)
        return 2
    # one descriptor per connection on both ends (the tracker inherits it)
    needed = args.connections + args.half_open + \
        args.hostile * len(HOSTILE_KINDS) + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            print(f"tracker-flood: needs {needed} file descriptors, the hard "
                  f"limit is {hard}", file=sys.stderr)
            return 2
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))

    try:
        report = asyncio.run(run(args, tracker))
    except FloodError as error:
        print(f"tracker-flood: {error}", file=sys.stderr)
        return 1
    print_report(args, report)
    if args.json:
        print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
