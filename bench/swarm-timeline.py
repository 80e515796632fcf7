#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""How each segment went through a swarm, from the viewers' logs.

Reads the viewer-K.log files of a bench-p2p.py run made with
GST_DEBUG=meshpeermanager:5 and --log-dir, lines them up on the wall clock
each peer manager logs when it joins, and names peers by viewer number.

  swarm-timeline.py DIR             a line per segment: which viewers went
                                    to the CDN (C) and which did not (.)
  swarm-timeline.py DIR SEGMENT_ID  every decision about one segment, in
                                    order, seconds from the first line
"""
import argparse
import glob
import os
import re
import signal
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = re.compile(r"(\d+):(\d+):(\d+\.\d+)")
JOIN = re.compile(r"peer (\w+) joining swarm .*\(wall clock (\d+) us\)")
PEER = re.compile(r"peer (\w{16})")


def read_viewer(path):
    """(viewer number, its peer id, [(wall clock s, message)])."""
    viewer = int(re.search(r"viewer-(\d+)\.log$", path).group(1))
    peer_id, offset, lines = None, None, []
    with open(path, errors="replace") as log:
        for raw in log:
            line = ANSI.sub("", raw)
            stamp = STAMP.match(line)
            if not stamp:
                continue
            t = (int(stamp.group(1)) * 3600 + int(stamp.group(2)) * 60
                 + float(stamp.group(3)))
            message = line[line.find("> ") + 2:].strip() if "> " in line \
                else line.strip()
            join = JOIN.search(message)
            if join:
                peer_id = join.group(1)
                offset = int(join.group(2)) / 1e6 - t
            lines.append((t, message))
    if offset is None:
        sys.exit("%s: no 'joining swarm ... (wall clock' line: was "
                 "GST_DEBUG=meshpeermanager:5 set?" % path)
    return viewer, peer_id, [(t + offset, m) for t, m in lines]


def sequence_of(segment_id):
    numbers = re.findall(r"\d+", segment_id)
    return [int(n) for n in numbers]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log_dir")
    parser.add_argument("segment_id", nargs="?")
    args = parser.parse_args()

    paths = sorted(glob.glob(os.path.join(args.log_dir, "viewer-*.log")))
    if not paths:
        sys.exit("no viewer-K.log in %s" % args.log_dir)
    viewers, names, events = [], {}, []
    for path in paths:
        viewer, peer_id, lines = read_viewer(path)
        viewers.append(viewer)
        names[peer_id] = "v%d" % viewer
        events += [(t, viewer, m) for t, m in lines]
    events.sort()
    start = events[0][0]

    def named(message):
        return PEER.sub(lambda m: names.get(m.group(1), m.group(0)), message)

    if args.segment_id:
        prefix = args.segment_id + ": "
        for t, viewer, message in events:
            if message.startswith(prefix):
                print("%8.3f v%-2d %s" % (t - start, viewer,
                                          named(message[len(prefix):])))
        return

    to_cdn = {}
    for t, viewer, message in events:
        m = re.match(r"(\S+): (CDN|asked)", message)
        if m:
            row = to_cdn.setdefault(m.group(1), {})
            if m.group(2) == "CDN" or viewer not in row:
                row[viewer] = "C" if m.group(2) == "CDN" else "."
    print("segment  " + "".join(str(v % 10) for v in viewers)
          + "   (C: went to the CDN)")
    for segment in sorted(to_cdn, key=sequence_of):
        row = to_cdn[segment]
        print("%s %s" % (segment,
                         "".join(row.get(v, " ") for v in viewers)))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # | head
    main()
