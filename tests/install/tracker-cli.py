#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# mesh-tracker's command line as an operator meets it, on the real binary
# and its real option table (so options added to the table are covered):
#
# - every option of --help but the run-only ones (--make-token, --ttl,
#   --config, --print-config, --version, --help) is a key of the sample
#   configuration, commented with its default;
# - and back: a file setting every key to a value of its type is accepted,
#   and --print-config prints exactly those values;
# - the command line overrides the file; an unknown key fails naming it;
# - SIGHUP re-reads the token secret and the ASN table without stopping (a reload event line
#   says so), keeps the old secret when the new file is unusable, and
#   SIGTERM still stops it cleanly;
# - a stdout nobody reads (scripts that only want the "listening on" line)
#   never stalls the server: far more event lines than a pipe holds, and
#   every join is still answered, SIGTERM still ends it at once, and the
#   lines held meanwhile are all written, those past the queue's bound
#   counted by a log-dropped line.
#
# - with few open files allowed, the tracker takes the hard limit and fits
#   --max-connections to it (a client is a descriptor, a shard of 32 two
#   more), saying so, rather than abort when a shard cannot be made.
# - with --reuse-port, a second instance listens on the port of the first,
#   and both answer joins there; without it, the second fails to start,
#   saying why.
#
#   tracker-cli.py PATH/TO/mesh-tracker
import base64
import json
import os
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile

RUN_ONLY = {'make-token', 'ttl', 'config', 'print-config', 'version', 'help'}
TIMEOUT = 20


def check(condition, what):
    if not condition:
        print('FAIL:', what)
        sys.exit(1)
    print('ok:', what)


def tracker(*args):
    return subprocess.run([TRACKER, *args], capture_output=True, text=True)


def help_options():
    """long name -> takes a value, from --help"""
    out = tracker('--help-all').stdout
    return {m.group(1): m.group(2) is not None
            for m in re.finditer(r'^\s+(?:-\w, )?--([\w-]+)(=\S+)?', out, re.M)}


def keys_of(text, commented):
    prefix = '#' if commented else ''
    return dict(re.findall(r'^' + prefix + r'([a-z][\w-]*)=(.*)$', text, re.M))


def typed_value(key, default, takes_value, numbers):
    if not takes_value:
        return 'true'
    if key in numbers or re.fullmatch(r'-?\d+', default or ''):
        return str(int(default) + 1 if re.fullmatch(r'-?\d+', default or '') else 3)
    return f'value of {key}'


def test_every_option_is_a_key(tmp):
    options = help_options()
    sample = tracker('--config=', '--print-config')
    check(sample.returncode == 0, 'mesh-tracker --print-config')
    defaults = keys_of(sample.stdout, commented=True)
    keys = {name for name in options if name not in RUN_ONLY}
    check(len(keys) > 20, f'{len(keys)} options in --help')
    check(set(defaults) == keys,
          f'every option is a key of the sample: missing {sorted(keys - set(defaults))}, '
          f'extra {sorted(set(defaults) - keys)}')
    check(not keys_of(sample.stdout, commented=False), 'the sample sets nothing')

    # and back: every key set; a key found to be numeric gets a number
    numbers = set()
    path = os.path.join(tmp, 'all.conf')
    for attempt in range(len(keys) + 1):
        values = {k: typed_value(k, defaults[k], options[k], numbers) for k in sorted(keys)}
        with open(path, 'w') as f:
            f.write('[tracker]\n' + ''.join(f'{k}={v}\n' for k, v in values.items()))
        printed = tracker('--config', path, '--print-config')
        wrong = re.search(r"key '([\w-]+)': --[\w-]+ wants (an integer|a number)",
                          printed.stderr)
        if not wrong:
            break
        numbers.add(wrong.group(1))
    check(printed.returncode == 0, f'a file setting every key loads: {printed.stderr.strip()}')
    got = keys_of(printed.stdout, commented=False)
    # a list prints as "a;": the same value
    got = {k: v.rstrip(';') if not values[k].endswith(';') else v for k, v in got.items()}
    check(got == values, f'--print-config gives every value back: '
          f'{ {k: (values[k], got.get(k)) for k in values if got.get(k) != values[k]} }')

    over = tracker('--config', path, '--max-peers', '99', '--print-config')
    check('\nmax-peers=99\n' in over.stdout, 'the command line overrides the file')
    with open(path, 'a') as f:
        f.write('max-peer=3\n')
    bad = tracker('--config', path)
    check(bad.returncode == 2 and "unknown key 'max-peer'" in bad.stderr and path in bad.stderr,
          f'an unknown key is refused: {bad.stderr.strip()}')
    missing = tracker('--config', os.path.join(tmp, 'none.conf'))
    check(missing.returncode == 2 and 'none.conf' in missing.stderr,
          'a missing --config file is an error')


# lines read from a process's stdout and not yet looked at, by process
unread = {}


def read_line(proc, pattern):
    """the next stdout line matching pattern, within TIMEOUT (the lines
    before it are skipped, the ones after it kept for the next call)"""
    lines = unread.setdefault(proc.pid, [b''])
    fd = proc.stdout.fileno()
    while True:
        while len(lines) > 1:
            text = lines.pop(0).decode('utf-8', 'replace')
            if re.search(pattern, text):
                return text
        ready, _, _ = select.select([fd], [], [], TIMEOUT)
        if not ready:
            check(False, f'a line matching {pattern!r} in {TIMEOUT} s')
        chunk = os.read(fd, 4096)
        if not chunk:
            check(False, f'a line matching {pattern!r} before the tracker exited')
        lines[-1:] = (lines[-1] + chunk).split(b'\n')


def test_sighup(tmp):
    secret = os.path.join(tmp, 'secret')
    with open(secret, 'w') as f:
        f.write('a' * 40)
    asn_db = os.path.join(tmp, 'asn.csv')
    with open(asn_db, 'w') as f:
        f.write('192.0.2.0/24,64500,Example\n')
    proc = subprocess.Popen([TRACKER, '--config=', '--listen', '127.0.0.1:0',
                             '--token-secret', secret, '--asn-db', asn_db],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        read_line(proc, r'^mesh-tracker listening on ws://127\.0\.0\.1:\d+/announce$')
        with open(secret, 'w') as f:
            f.write('b' * 40)
        proc.send_signal(signal.SIGHUP)
        line = read_line(proc, r'^event=reload what=token-secret ')
        check(line == 'event=reload what=token-secret result=ok', f'SIGHUP: {line}')
        read_line(proc, r'^event=reload what=networks ')
        with open(secret, 'w') as f:
            f.write('short')
        proc.send_signal(signal.SIGHUP)
        line = read_line(proc, r'^event=reload what=token-secret ')
        check(line.startswith('event=reload what=token-secret '
                              'result="kept the previous one" why="') and 'at least' in line,
              f'an unusable secret is not taken: {line}')
        read_line(proc, r'^event=reload what=networks ')
        # the ASN table: a malformed one is refused with its line, a good
        # one taken (each SIGHUP reads the secret, then the tables)
        with open(asn_db, 'w') as f:
            f.write('192.0.2.0/24,64500,Example\n198.51.100.0/24,not-an-asn,X\n')
        proc.send_signal(signal.SIGHUP)
        line = read_line(proc, r'^event=reload what=networks ')
        check(line.startswith('event=reload what=networks '
                              'result="kept the previous ones" why="') and 'line 2' in line,
              f'a malformed ASN table is not taken: {line}')
        with open(asn_db, 'w') as f:
            f.write('198.51.100.0/24,64501,Other\n')
        proc.send_signal(signal.SIGHUP)
        line = read_line(proc, r'^event=reload what=networks ')
        check(line == 'event=reload what=networks result=ok', f'SIGHUP, ASN table: {line}')
        check(proc.poll() is None, 'the tracker still runs')
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(TIMEOUT) == 0, 'SIGTERM stops it with status 0')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def recv_exact(sock, size):
    data = b''
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError('closed')
        data += chunk
    return data


def ws_join(port, peer):
    """a WebSocket join to the tracker; the first message it answers"""
    with socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f'GET /announce HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
                      'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                      f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n'
                      'Sec-WebSocket-Protocol: mesh-tracker.v1\r\n\r\n').encode())
        head = b''
        while b'\r\n\r\n' not in head:
            head += recv_exact(sock, 1)
        if b' 101 ' not in head.split(b'\r\n')[0]:
            raise ConnectionError(head.split(b'\r\n')[0].decode())
        payload = json.dumps({'type': 'join', 'version': 1, 'swarm': 'flood',
                              'peer': peer}).encode()
        mask = os.urandom(4)
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask +
                     bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        first, length = recv_exact(sock, 2)
        if length & 0x7f == 126:
            length = struct.unpack('!H', recv_exact(sock, 2))[0]
        elif length & 0x7f == 127:
            length = struct.unpack('!Q', recv_exact(sock, 8))[0]
        return json.loads(recv_exact(sock, length & 0x7fffffffffffffff))


def test_stdout_not_read(pipes):
    """joins worth @pipes pipes of event lines while stdout is not read"""
    proc = subprocess.Popen([TRACKER, '--config=', '--listen', '127.0.0.1:0',
                             '--max-connections-per-ip', '0', '--max-joins-per-ip', '0'],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        banner = proc.stdout.readline().decode()
        port = int(re.search(r':(\d+)/announce', banner).group(1))
        # a join and a leave line each, about 170 bytes
        joins = pipes * 65536 // 170
        for i in range(joins):
            try:
                answer = ws_join(port, f'peer-{i:06d}')
            except (OSError, ValueError) as e:
                check(False, f'join {i} answered in {TIMEOUT} s: {e!r}')
            if answer.get('type') != 'welcome':
                check(False, f'join {i} answered {answer}')
        check(True, f'{joins} joins answered while nobody reads stdout')
        proc.send_signal(signal.SIGTERM)
        # read now: what waited in the queue comes out, then the count of
        # what did not fit in it
        out, _ = proc.communicate(timeout=5)
        check(proc.returncode == 0, 'SIGTERM ends it at once (status 0)')
        lines = out.decode().splitlines()
        written = sum(line.startswith(('event=join swarm=flood ',
                                       'event=leave swarm=flood ')) for line in lines)
        dropped = sum(int(m.group(1)) for line in lines
                      for m in [re.match(r'^event=log-dropped events=(\d+)$', line)] if m)
        check(written + dropped == 2 * joins,
              f'{written} join and leave lines written, {dropped} counted as dropped, '
              f'of {2 * joins}')
        return dropped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_open_files_limit():
    def few_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 400))
    proc = subprocess.Popen([TRACKER, '--config=', '--listen', '127.0.0.1:0',
                             '--max-connections', '100000'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=few_files)
    try:
        read_line(proc, r'ws://127\.0\.0\.1:\d+/announce')
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=5)
        # (400 - 256 reserved) * 32 / 34
        check('max-connections 100000 is more than 400 open files allow: '
              'using 135' in err.decode(),
              'max-connections fitted to the hard open-files limit')
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_listening(*args):
    proc = subprocess.Popen([TRACKER, '--config=', *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    port = int(re.search(r'ws://127\.0\.0\.1:(\d+)/announce',
                         read_line(proc, r'/announce')).group(1))
    return proc, port


def stop(proc):
    """SIGTERM; what it printed that read_line() did not take"""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=5)
    return b'\n'.join(unread.pop(proc.pid, [b''])) + out


def test_reuse_port():
    first, port = start_listening('--listen', '127.0.0.1:0', '--reuse-port')
    procs = [first]
    try:
        refused = tracker('--config=', '--listen', f'127.0.0.1:{port}')
        check(refused.returncode != 0 and 'in use' in refused.stderr,
              'without --reuse-port a second instance on the port fails: '
              + refused.stderr.strip()[-60:])
        second, same = start_listening('--listen', f'127.0.0.1:{port}',
                                       '--reuse-port')
        procs.append(second)
        check(same == port, '--reuse-port: a second instance on the port')
        # the kernel picks the instance by the connection's addresses: 64
        # joins from as many source ports reach both (2^-63 that they do not)
        welcomed = sum(ws_join(port, f'reuse-peer-{i:02d}')['type'] == 'welcome'
                       for i in range(64))
        check(welcomed == 64, f'--reuse-port: {welcomed} of 64 joins welcomed')
        joins = [stop(proc).count(b'event=join ') for proc in procs]
        check(sum(joins) == 64 and min(joins) > 0,
              f'--reuse-port: both instances took joins ({joins} of 64)')
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


if __name__ == '__main__':
    TRACKER = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix='mesh-tracker-cli-') as tmp:
        test_every_option_is_a_key(tmp)
        test_sighup(tmp)
    test_open_files_limit()
    test_reuse_port()
    check(test_stdout_not_read(2) == 0, 'two pipes\' worth: nothing dropped')
    check(test_stdout_not_read(12) > 0, 'twelve pipes\' worth: past the 1 MiB queue, dropped')
