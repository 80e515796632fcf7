#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tracker-load --protocol webtorrent against a hostile WebTorrent tracker.

A fake tracker on 127.0.0.1 (any free port) takes one client's WebSocket
upgrade and announce, then sends what a broken or hostile tracker could:
JSON nested 10,000 deep, bad JSON, ids that are not 20 characters of
[A-Za-z0-9-] (one with a quote, which would break the answer the client
builds), members of the wrong type, an SDP without the fields the client
reads, a "failure reason" with characters that do not belong in an error
name, and a message with none of the members the protocol uses; then a
valid announce reply. The generator must count each as an error, take the
join, exit 0 and print its JSON (run under ASan, it must also be clean).
Exit 0 when it did, 1 otherwise. One thread per connection; the listening
socket is closed at the end. Python standard library only.
"""

import base64
import hashlib
import json
import socket
import struct
import subprocess
import sys
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
GOOD_ID = "-TL00000000100000000"
HOSTILE = [
    "[" * 10000 + "]" * 10000,
    "{\"offer\":",
    json.dumps({"action": "announce", "offer": {"type": "offer",
                "sdp": "o=- 1 a=x-load:offer"}, "offer_id": GOOD_ID,
                "peer_id": "-TL0000\"00100000000"}),
    json.dumps({"action": "announce", "offer": {"type": "offer",
                "sdp": "o=- 1 a=x-load:offer"}, "offer_id": 7,
                "peer_id": GOOD_ID}),
    json.dumps({"action": "announce", "answer": "not an object",
                "offer_id": GOOD_ID, "peer_id": GOOD_ID}),
    json.dumps({"action": "announce", "answer": {"type": "answer",
                "sdp": 12}, "offer_id": GOOD_ID, "peer_id": GOOD_ID}),
    json.dumps({"failure reason": "bad \"thing\"\n\u00e9" + "x" * 300}),
    json.dumps({"action": "announce"}),
    json.dumps({"action": "announce", "interval": 120, "complete": 0,
                "incomplete": 1, "info_hash": "load-swarm-000000000"}),
]
EXPECTED = {"undecodable": 2, "bad-signal-data": 4, "unexpected-message": 1}


def text_frame(text):
    data = text.encode()
    if len(data) < 126:
        return bytes([0x81, len(data)]) + data
    return bytes([0x81, 126]) + struct.pack("!H", len(data)) + data


def read_frame(conn, buf):
    """One masked client frame's payload; @buf holds what was read ahead."""
    while True:
        if len(buf) >= 2 and buf[1] & 0x7F != 127:
            size, head = buf[1] & 0x7F, 2
            if size == 126:
                size = struct.unpack("!H", buf[2:4])[0] if len(buf) >= 4 \
                    else 1 << 20
                head = 4
            if len(buf) >= head + 4 + size:
                mask = buf[head:head + 4]
                payload = bytes(b ^ mask[i % 4] for i, b in
                                enumerate(buf[head + 4:head + 4 + size]))
                del buf[:head + 4 + size]
                return payload
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk


def serve(conn):
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            return
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    key = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
           if line.lower().startswith(b"sec-websocket-key:")][0]
    accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                 b"\r\n\r\n")
    buf = bytearray(rest)
    announce = read_frame(conn, buf)
    if announce is None or b"\"started\"" not in announce:
        return
    for message in HOSTILE:
        conn.sendall(text_frame(message))
    while read_frame(conn, buf) is not None:
        pass


def main():
    generator = sys.argv[1] if len(sys.argv) > 1 else "build/bench/tracker-load"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept_all():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_all, daemon=True).start()
    run = subprocess.run([generator, "--protocol", "webtorrent", "--port",
                          str(port), "--peers", "1", "--seconds", "2"],
                         capture_output=True, text=True, timeout=30)
    listener.close()
    failures = []
    if run.returncode != 0:
        failures.append(f"exit {run.returncode}: {run.stderr[-2000:]}")
    else:
        out = json.loads(run.stdout)
        errors = out["errors"]
        for kind, n in EXPECTED.items():
            if errors.get(kind) != n:
                failures.append(f"{kind}: {errors.get(kind)}, expected {n}")
        tracker = [k for k in errors if k.startswith("tracker:")]
        if len(tracker) != 1 or not all(
                c.isalnum() or c in ":-_ " for c in tracker[0]):
            failures.append(f"failure reason counted as {tracker}")
        if out["joins_done"] != 1 or out["signals_received"] != 0:
            failures.append(f"joins {out['joins_done']}, signals received "
                            f"{out['signals_received']}")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
