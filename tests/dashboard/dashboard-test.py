#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The tracker's dashboard in a real browser (meson test "dashboard"):
#
#  1. starts mesh-tracker on 127.0.0.1:0 (a history point a second, an
#     admin token) and qos-feeder, a swarm of test viewers whose offload
#     grows every second;
#  2. loads the page in headless Chromium (--dump-dom, with virtual time so
#     that its script polls the API) through /?token=, and checks that the
#     swarm is listed (its hostile-looking id as text, not markup), that the
#     offload chart has points and the figures are there;
#  3. once the tracker has more history, loads it again: more points, a
#     higher offload;
#  4. takes a screenshot and counts the chart line's pixels in it.
#
# Exits 77 (meson: skipped) only when chromium is not installed; any other
# problem fails. Usage: dashboard-test.py MESH-TRACKER QOS-FEEDER

import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

SKIP = 77
TOKEN = 'dashboard-test-token-0123456789'
SWARM = 'test <b>swarm</b> & co'
VIEWERS = 6
FEED_SECONDS = 90
WAIT_S = 30
# the chart line's colour (dashboard.css: .chart .line)
LINE_RGB = (0x15, 0x65, 0xc0)


def fail(message, details=''):
    print('FAIL: ' + message)
    if details:
        print(details)
    sys.exit(1)


def find_chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        path = shutil.which(name)
        if path:
            return path
    return None


def wait_for(what, condition, timeout=WAIT_S):
    """Polls @condition (another process's state: nothing to wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    fail('timed out waiting for ' + what)


class Tracker:
    def __init__(self, binary):
        self.process = subprocess.Popen(
            [binary, '--listen', '127.0.0.1:0', '--qos-interval', '1',
             '--admin-token', TOKEN],
            stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.search(r'ws://([0-9.]+:[0-9]+)/announce', line)
        if not match:
            fail('mesh-tracker did not start', line)
        self.ws_url = 'ws://%s/announce' % match.group(1)
        self.http_url = 'http://%s' % match.group(1)

    def api(self, path):
        request = urllib.request.Request(
            self.http_url + path,
            headers={'Authorization': 'Bearer ' + TOKEN})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Browser:
    def __init__(self, binary, profile):
        self.binary = binary
        self.profile = profile

    def run(self, url, *extra):
        args = [self.binary, '--headless', '--no-sandbox', '--disable-gpu',
                '--disable-dev-shm-usage', '--no-first-run',
                '--disable-extensions', '--user-data-dir=' + self.profile,
                '--virtual-time-budget=5000', '--window-size=1200,1000']
        result = subprocess.run(args + list(extra) + [url], capture_output=True,
                                text=True, timeout=60)
        if result.returncode != 0:
            fail('chromium exited with %d' % result.returncode, result.stderr)
        return result.stdout

    def dump_dom(self, url):
        return self.run(url, '--dump-dom')


def page_state(dom):
    """The offload chart's points, the offload shown and the swarm rows."""
    chart = re.search(r'<svg[^>]*id="chart-offload"[^>]*>(.*?)</svg>', dom,
                      re.S)
    if not chart:
        fail('no offload chart in the page', dom)
    line = re.search(r'<polyline[^>]*>', chart.group(1))
    if not line:
        fail('the offload chart has no line', chart.group(0))
    n = int(re.search(r'data-n="(\d+)"', line.group(0)).group(1))
    points = re.search(r'points="([^"]*)"', line.group(0)).group(1).split()
    if len(points) != n:
        fail('data-n says %d points, the line has %d' % (n, len(points)))
    offload = re.search(r'id="offload-value"[^>]*>([0-9.]+) %<', dom)
    if not offload:
        fail('no offload figure', dom)
    rows = re.findall(r'<td class="swarm">(.*?)</td>', dom)
    return n, float(offload.group(1)), rows


def check_page(dom, label):
    n, offload, rows = page_state(dom)
    print('%s: %d points in the offload chart, offload %.1f %%, swarms %s'
          % (label, n, offload, rows))
    # the id is text: escaped in the DOM, never an element
    if html.escape(SWARM, quote=False) not in rows:
        fail('the test swarm is not listed', dom)
    if '<b>swarm</b>' in dom:
        fail('the swarm id became markup', dom)
    if 'id="status">updated' not in dom:
        fail('the page did not say it updated', dom)
    if n < 2:
        fail('the offload chart has fewer than 2 points')
    return n, offload


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        fail('the screenshot is not a PNG')
    offset, idat = 8, b''
    while offset < len(data):
        length, kind = struct.unpack('>I4s', data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b'IHDR':
            width, height, depth, colour = struct.unpack('>IIBB', body[:10])
        elif kind == b'IDAT':
            idat += body
        offset += 12 + length
    if depth != 8 or colour not in (2, 6):
        fail('unexpected PNG format (depth %d, colour type %d)'
             % (depth, colour))
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * size
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - size] if x >= size else 0
            b = previous[x]
            c = previous[x - size] if x >= size else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xff
            elif kind == 2:
                line[x] = (line[x] + b) & 0xff
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xff
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 0xff
        rows.append(line)
        previous = line
    return width, height, size, rows


def count_line_pixels(path):
    width, height, size, rows = png_pixels(path)
    count = 0
    for line in rows:
        for x in range(0, width * size, size):
            if all(abs(line[x + i] - LINE_RGB[i]) <= 40 for i in range(3)):
                count += 1
    return count


def history_length(tracker):
    return len(tracker.api('/api/overview')['points'])


def main():
    if len(sys.argv) != 3:
        print('usage: dashboard-test.py MESH-TRACKER QOS-FEEDER')
        return 2
    chromium = find_chromium()
    if not chromium:
        print('SKIP: chromium is not installed (scripts/setup-deps.sh '
              'installs it)')
        return SKIP

    tracker = Tracker(sys.argv[1])
    feeder = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            feeder = subprocess.Popen(
                [sys.argv[2], tracker.ws_url, SWARM, str(VIEWERS),
                 str(FEED_SECONDS)], stdout=subprocess.PIPE, text=True)
            joined = feeder.stdout.readline().strip()
            if joined != 'joined %d' % VIEWERS:
                fail('qos-feeder: ' + joined)

            # a few points with bytes in them
            wait_for('3 history points with reports', lambda: len(
                [p for p in tracker.api('/api/overview')['points']
                 if p['bytes_from_cdn'] > 0]) >= 3)
            browser = Browser(chromium, os.path.join(tmp, 'profile'))
            url = tracker.http_url + '/?token=' + TOKEN
            first_n, first_offload = check_page(browser.dump_dom(url),
                                                'first load')

            # the tracker takes a point a second: wait for 3 more
            target = history_length(tracker) + 3
            wait_for('3 more history points',
                     lambda: history_length(tracker) >= target)
            second_n, second_offload = check_page(browser.dump_dom(url),
                                                  'second load')
            if second_n <= first_n:
                fail('no new points: %d, then %d' % (first_n, second_n))
            if second_offload <= first_offload:
                fail('the offload did not climb: %.1f %%, then %.1f %%'
                     % (first_offload, second_offload))

            shot = os.path.join(tmp, 'dashboard.png')
            browser.run(url, '--screenshot=' + shot)
            pixels = count_line_pixels(shot)
            print('screenshot: %d pixels of the chart line colour' % pixels)
            if pixels < 200:
                fail('the charts look blank in the screenshot')

            swarms = tracker.api('/api/swarms')
            print('api: %s' % json.dumps(swarms))
    finally:
        if feeder:
            feeder.terminate()
            feeder.wait(timeout=10)
        tracker.stop()
    print('PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())
