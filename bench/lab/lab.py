#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The network lab: lab hosts in network namespaces, joined by mesh-shaper.

Every lab host is a network namespace named mlab-<pid>-<host> (pid: the
process that made the lab). Public hosts (origin, tracker, TURN server,
public viewers, the WAN side of NAT routers) each get a TUN device "wan"
held by one mesh-shaper process, which forwards packets between them with
per-host uplink and downlink impairments (delay, jitter, loss, rate cap).
A viewer behind NAT sits in its own namespace on a veth into its router's
namespace (LAN bridge, nftables NAT towards "wan"). See README.md.

Safety: nothing is connected to the root namespace. The shaper routes only
to addresses of lab hosts and drops everything else, so no packet leaves the
lab; Lab.close() (also on errors, ^C and SIGTERM in the callers) stops every
process and deletes every namespace; cleanup_stale() removes what a killed
run left behind; the shaper exits when its parent's pipe closes.

As a program:
  lab.py check                     # exit 0 if the lab can run here, else 77
  lab.py selftest [--build DIR]    # RTT, rate cap, NAT types, STUN and TURN
  lab.py cleanup                   # remove leftovers of crashed runs
(and helper subcommands, starting with "_", run inside namespaces).

Python standard library only.
"""

import argparse
import ctypes
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

PREFIX = "mlab-"
# Documentation ranges (RFC 5737) for the lab's internet: they exist only in
# namespaces the lab creates, and no real network uses them.
PUBLIC_NET = "203.0.113."       # origin .2, tracker .3, TURN .4, hosts .10+
NAT_WAN_NET = "198.51.100."     # NAT routers' WAN addresses .1+
LAN_NET = "192.168.%d."         # LAN of router k: router .1, hosts .10+
ORIGIN_ADDR = PUBLIC_NET + "2"
TRACKER_ADDR = PUBLIC_NET + "3"
TURN_ADDR = PUBLIC_NET + "4"
TURN_PORT = 3478
TURN_USER, TURN_PASSWORD, TURN_REALM = "mesh", "lab", "mesh.lab"
PRIVATE_RANGES = ("10.0.0.0-10.255.255.255", "172.16.0.0-172.31.255.255",
                  "192.168.0.0-192.168.255.255", "127.0.0.0-127.255.255.255")

NAT_TYPES = {
    # mapping: endpoint independent (conntrack keeps the source port);
    # filtering: a home router's stateful firewall.
    "eim": "endpoint-independent mapping, stateful firewall "
           "(established/related in, new inbound dropped)",
    # a fresh random port for every destination: hole punching fails
    "symmetric": "random port per destination (masquerade random,"
                 "fully-random), stateful firewall",
    # no firewall at all: inbound that matches no mapping reaches the
    # router itself (ICMP port unreachable), see README.md
    "masquerade": "bare masquerade, no firewall",
}


class LabError(Exception):
    pass


@dataclass
class Link:
    """One direction of an access link, as mesh-shaper applies it."""
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0           # 0 - 1
    rate_kbit: float = 0.0      # 0 = no cap
    queue_bytes: int = 0        # 0 = 100 ms at the rate (mesh-shaper)


@dataclass
class Access:
    """A host's access link to the lab's internet. The RTT between two
    hosts is the sum of their access RTTs (each adds rtt/2 each way)."""
    up: Link = field(default_factory=Link)
    down: Link = field(default_factory=Link)

    @classmethod
    def make(cls, rtt_ms=0.0, jitter_ms=0.0, loss=0.0, down_kbit=0.0,
             up_kbit=0.0, queue_bytes=0):
        return cls(Link(rtt_ms / 2, jitter_ms, loss, up_kbit, queue_bytes),
                   Link(rtt_ms / 2, jitter_ms, loss, down_kbit, queue_bytes))

    def rtt_ms(self):
        return self.up.delay_ms + self.down.delay_ms


@dataclass
class Host:
    name: str
    netns: str
    addr: str
    access: Access = None       # public hosts and routers: their shaper link
    router: "Host" = None       # hosts behind NAT
    nat_type: str = None        # routers
    lan_index: int = 0          # routers: k of 192.168.k.0/24
    lan_hosts: list = field(default_factory=list)

    @property
    def public_addr(self):
        """The address the lab's internet sees this host as."""
        return self.router.addr if self.router else self.addr

    def describe(self):
        if self.nat_type:
            return "%s NAT router %s (LAN %s0/24)" % (
                self.nat_type, self.addr, LAN_NET % self.lan_index)
        if self.router:
            return "%s behind %s" % (self.addr, self.router.name)
        return self.addr


def run(cmd, check=True, timeout=30, input=None):
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL if input is None
                          else None, input=input, capture_output=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError("%s: %s" % (" ".join(cmd), (proc.stderr or proc.stdout)
                                   .decode(errors="replace").strip()))
    return proc


def check_support(shaper=None):
    """None if the lab can run here, else why not."""
    if os.geteuid() != 0:
        return "not root (network namespaces need CAP_NET_ADMIN)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            return "%s is not installed" % tool
    if shaper and not os.access(shaper, os.X_OK):
        return "%s is not built" % shaper
    name = "%s%d-probe" % (PREFIX, os.getpid())
    try:
        run(["ip", "netns", "add", name])
    except (LabError, OSError, subprocess.TimeoutExpired) as e:
        return "ip netns does not work here: %s" % e
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def lab_namespaces():
    out = run(["ip", "netns", "list"]).stdout.decode()
    return [line.split()[0] for line in out.splitlines()
            if line.startswith(PREFIX)]


def _kill_netns_processes(netns):
    """Processes still in one of the lab's namespaces were started by the
    lab (every one of them, by construction): stop them by pid."""
    out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True)
    pids = [int(p) for p in out.stdout.split()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2
        while (any(_pid_alive(p) for p in pids)
               and time.monotonic() < deadline):
            time.sleep(0.05)


def _delete_netns(netns):
    _kill_netns_processes(netns)
    subprocess.run(["ip", "netns", "del", netns], capture_output=True)


def cleanup_stale(verbose=True):
    """Deletes the namespaces (and their processes) of lab runs whose
    process is gone; a lab that is still running is left alone."""
    removed = []
    for netns in lab_namespaces():
        m = re.match(re.escape(PREFIX) + r"(\d+)-", netns)
        if m and _pid_alive(int(m.group(1))):
            continue
        _delete_netns(netns)
        removed.append(netns)
    if removed and verbose:
        print("lab: removed %d namespace(s) left by a crashed run"
              % len(removed), file=sys.stderr)
    return removed


class Lab:
    """Build with add_* calls, then start(); close() undoes everything."""

    def __init__(self, shaper, seed=1, workdir=None):
        self.shaper_path = shaper
        self.seed = seed
        self.tag = "%s%d" % (PREFIX, os.getpid())
        self.hosts = {}
        self.procs = []
        self.shaper = None
        self.started = False
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="mesh-lab-")
        self._next_public = 10
        self._next_wan = 1
        self._next_lan = 1

    # -- topology ---------------------------------------------------------

    def _add(self, host):
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", host.name):
            raise LabError("bad host name %r" % host.name)
        if host.name in self.hosts:
            raise LabError("two hosts named %s" % host.name)
        if self.started:
            raise LabError("hosts are added before start()")
        self.hosts[host.name] = host
        return host

    def add_public(self, name, access=None, addr=None):
        """A host on the lab's internet (its own address, shaped)."""
        if addr is None:
            if self._next_public > 250:
                raise LabError("too many public hosts")
            addr = PUBLIC_NET + str(self._next_public)
            self._next_public += 1
        return self._add(Host(name, "%s-%s" % (self.tag, name), addr,
                              access=access or Access()))

    def add_nat(self, name, nat_type, access=None):
        """A NAT router: its WAN side on the lab's internet (shaped: the
        household's access link), a LAN bridge behind it."""
        if nat_type not in NAT_TYPES:
            raise LabError("unknown NAT type %r (%s)" % (
                nat_type, ", ".join(NAT_TYPES)))
        if self._next_lan > 250:
            raise LabError("too many NAT routers")
        host = Host(name, "%s-%s" % (self.tag, name),
                    NAT_WAN_NET + str(self._next_wan),
                    access=access or Access(), nat_type=nat_type,
                    lan_index=self._next_lan)
        self._next_wan += 1
        self._next_lan += 1
        return self._add(host)

    def add_behind(self, name, router):
        """A host on `router`'s LAN (not shaped: the home network)."""
        if len(router.lan_hosts) >= 200:
            raise LabError("too many hosts behind %s" % router.name)
        addr = (LAN_NET % router.lan_index) + str(10 + len(router.lan_hosts))
        host = self._add(Host(name, "%s-%s" % (self.tag, name), addr,
                              router=router))
        router.lan_hosts.append(host)
        return host

    # -- start ------------------------------------------------------------

    def start(self):
        cleanup_stale()
        reason = check_support(self.shaper_path)
        if reason:
            raise LabError("the lab cannot run here: " + reason)
        self.started = True
        for host in self.hosts.values():
            run(["ip", "netns", "add", host.netns])
            self._sh(host, self._base_setup(host))
        self._start_shaper()
        for host in self.hosts.values():
            if host.access is not None:
                self._sh(host, self._wan_setup(host))
            if host.nat_type:
                self._setup_router(host)

    def _sh(self, host, script):
        run(["ip", "netns", "exec", host.netns, "sh", "-e", "-c", script])

    def _base_setup(self, host):
        # No IPv6: the lab's internet is IPv4 (and libnice then gathers no
        # link-local candidates). TCP's congestion control stays the
        # machine's default: a namespace may only pick one of the root
        # namespace's tcp_allowed_congestion_control.
        lines = ["ip link set lo up",
                 "sysctl -qw net.ipv6.conf.all.disable_ipv6=1",
                 "sysctl -qw net.ipv6.conf.default.disable_ipv6=1"]
        if host.nat_type:
            lines.append("sysctl -qw net.ipv4.ip_forward=1")
        return "\n".join(lines)

    def _wan_setup(self, host):
        # The default route points at the shaper, which knows only lab
        # addresses: a packet to anywhere else is dropped there. Some
        # servers (coturn) want a default route to accept a peer address.
        return "\n".join(["ip link set wan up",
                          "ip addr add %s/32 dev wan" % host.addr,
                          "ip route add default dev wan"])

    def _shaper_config(self):
        lines = ["[shaper]", "seed=%d" % self.seed, ""]
        for host in self.hosts.values():
            if host.access is None:
                continue
            lines += ["[host %s]" % host.name,
                      "netns=/run/netns/%s" % host.netns,
                      "dev=wan", "address=%s" % host.addr]
            for direction, link in (("up", host.access.up),
                                    ("down", host.access.down)):
                lines += ["%s-delay-ms=%g" % (direction, link.delay_ms),
                          "%s-jitter-ms=%g" % (direction, link.jitter_ms),
                          "%s-loss=%g" % (direction, link.loss),
                          "%s-rate-kbit=%g" % (direction, link.rate_kbit),
                          "%s-queue-bytes=%d" % (direction, link.queue_bytes)]
            lines.append("")
        path = os.path.join(self.workdir, "shaper.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path

    def _start_shaper(self):
        conf = self._shaper_config()
        # stdin is a pipe that only closes when we are gone: the shaper
        # does not outlive a runner that was killed
        self.shaper = subprocess.Popen(
            [self.shaper_path, "--config", conf, "--exit-on-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.workdir, "shaper.log"), "wb"),
            start_new_session=True, preexec_fn=die_with_parent)
        # The links' timing is the shaper's wake-up latency: on a busy
        # machine a starved shaper adds delay spikes (which, among others,
        # make TCP's HyStart leave slow start early). It sleeps unless
        # packets are due, so a higher priority costs the others little.
        try:
            os.setpriority(os.PRIO_PROCESS, self.shaper.pid, -10)
        except OSError:
            pass
        ready, _, _ = select.select([self.shaper.stdout], [], [], 10)
        line = self.shaper.stdout.readline() if ready else b""
        if not line.startswith(b"mesh-shaper ready"):
            raise LabError("mesh-shaper did not start: %s" % self._shaper_log())

    def _shaper_log(self):
        try:
            with open(os.path.join(self.workdir, "shaper.log")) as f:
                return f.read().strip()[-400:]
        except OSError:
            return ""

    def _setup_router(self, router):
        k = router.lan_index
        lines = ["ip link add br-lan type bridge",
                 "ip addr add %s1/24 dev br-lan" % (LAN_NET % k),
                 "ip link set br-lan up"]
        for i, host in enumerate(router.lan_hosts):
            # made here and moved straight into the host's namespace: the
            # root namespace never sees either end
            lines += ["ip link add lan%d type veth peer name eth0 netns %s"
                      % (i, host.netns),
                      "ip link set lan%d master br-lan up" % i]
        self._sh(router, "\n".join(lines))
        run(["ip", "netns", "exec", router.netns, "nft", "-f", "-"],
            input=nat_ruleset(router.nat_type).encode())
        for host in router.lan_hosts:
            self._sh(host, "\n".join([
                "ip link set eth0 up",
                "ip addr add %s/24 dev eth0" % host.addr,
                "ip route add default via %s1" % (LAN_NET % k)]))

    # -- processes --------------------------------------------------------

    def spawn(self, host, cmd, stdout=subprocess.PIPE, stderr=None, env=None,
              stdin=subprocess.DEVNULL):
        """Starts cmd inside host's namespace (in a session of its own, so
        that the terminal's ^C reaches only the runner)."""
        proc = subprocess.Popen(["ip", "netns", "exec", host.netns] + cmd,
                                stdin=stdin, stdout=stdout,
                                stderr=stderr if stderr is not None
                                else subprocess.DEVNULL,
                                env=env, start_new_session=True,
                                preexec_fn=die_with_parent)
        self.procs.append(proc)
        return proc

    def run_in(self, host, cmd, timeout=60, check=True):
        return run(["ip", "netns", "exec", host.netns] + cmd, check=check,
                   timeout=timeout)

    def helper(self, host, args, timeout=60):
        """Runs one of this file's helper subcommands in host's namespace
        and returns its JSON answer."""
        out = self.run_in(host, [sys.executable, os.path.abspath(__file__)]
                          + args, timeout=timeout).stdout
        return json.loads(out.decode().strip().splitlines()[-1])

    def http(self, host, url, method="GET"):
        """A request to a lab address, sent from inside `host`."""
        answer = self.helper(host, ["_http", method, url])
        if answer.get("error"):
            raise LabError("%s %s: %s" % (method, url, answer["error"]))
        return answer["body"].encode("latin-1")

    def ping(self, host, addr, count=5, interval=0.2):
        """RTTs in ms of ICMP echoes from host to addr (None: lost)."""
        return self.helper(host, ["_ping", addr, str(count), str(interval)])

    def shaper_stats(self):
        if not self.shaper or self.shaper.poll() is not None:
            return None
        self.shaper.send_signal(signal.SIGUSR1)
        ready, _, _ = select.select([self.shaper.stdout], [], [], 5)
        return json.loads(self.shaper.stdout.readline()) if ready else None

    def start_turn(self, host):
        """coturn on host, STUN and TURN (UDP) on TURN_PORT, refusing to
        relay to private ranges: viewers are reached on their public lab
        addresses, never through a relay into someone's LAN."""
        conf = os.path.join(self.workdir, "turnserver.conf")
        lines = ["listening-ip=%s" % host.addr, "relay-ip=%s" % host.addr,
                 "listening-port=%d" % TURN_PORT,
                 "min-port=49152", "max-port=49999",
                 "realm=%s" % TURN_REALM, "lt-cred-mech",
                 "user=%s:%s" % (TURN_USER, TURN_PASSWORD),
                 "no-tls", "no-dtls", "no-cli", "no-multicast-peers",
                 "no-software-attribute",
                 "pidfile=%s" % os.path.join(self.workdir, "turnserver.pid"),
                 "userdb=%s" % os.path.join(self.workdir, "turndb"),
                 "log-file=stdout", "simple-log"]
        lines += ["denied-peer-ip=%s" % r for r in PRIVATE_RANGES]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        log = os.path.join(self.workdir, "turnserver.log")
        proc = self.spawn(host, ["turnserver", "-c", conf],
                          stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(log, errors="replace") as f:
                if "Total General servers" in f.read():
                    return proc
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        with open(log, errors="replace") as f:
            raise LabError("turnserver did not start: %s" % f.read()[-400:])

    def stop(self, proc, timeout=5):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # -- teardown ---------------------------------------------------------

    def close(self):
        """Stops every process and deletes every namespace. Safe to call
        twice, and after a failed start()."""
        for proc in reversed(self.procs):
            self.stop(proc)
        self.procs = []
        if self.shaper:
            self.stop(self.shaper)
            self.shaper = None
        for host in self.hosts.values():
            if host.netns in lab_namespaces():
                _delete_netns(host.netns)
        self.started = False
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def describe(self):
        return ["  %-10s %s%s" % (h.name, h.describe(),
                                  ("  access rtt %g ms" % h.access.rtt_ms())
                                  if h.access else "")
                for h in self.hosts.values()]


def nat_ruleset(nat_type):
    """nftables for a router: "wan" outside, "br-lan" inside."""
    masq = "masquerade random,fully-random" if nat_type == "symmetric" \
        else "masquerade"
    rules = ["table ip mlab {",
             "  chain postrouting {",
             "    type nat hook postrouting priority srcnat; policy accept;",
             '    oifname "wan" %s' % masq,
             "  }"]
    if nat_type != "masquerade":
        # a home router: replies come in, nothing else does; the router
        # itself stays silent (no ICMP errors to scanners)
        rules += ["  chain forward {",
                  "    type filter hook forward priority filter; "
                  "policy drop;",
                  "    ct state established,related accept",
                  '    iifname "br-lan" oifname "wan" accept',
                  # LAN to LAN: when br_netfilter is loaded (it is on
                  # machines that run Docker), bridged frames go through
                  # this chain too, as from br-lan to br-lan
                  '    iifname "br-lan" oifname "br-lan" accept',
                  "  }",
                  "  chain input {",
                  "    type filter hook input priority filter; policy accept;",
                  '    iifname "wan" ct state established,related accept',
                  '    iifname "wan" drop',
                  "  }"]
    rules.append("}")
    return "\n".join(rules) + "\n"


def die_with_parent():
    """preexec_fn for the lab's processes: the kernel sends them SIGTERM
    when the runner dies, even of SIGKILL (`ip netns exec` execs the
    command, which keeps the setting)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))      # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def install_signal_handlers():
    """^C and SIGTERM unwind through the callers' finally blocks, which
    close the lab."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)


# ---------------------------------------------------------------------------
# Helpers run inside namespaces: `lab.py _NAME ARGS`, one JSON line out.

def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def helper_ping(addr, count, interval):
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xffff
    rtts = []
    for seq in range(int(count)):
        packet = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"mesh-lab" * 7
        packet = packet[:2] + struct.pack("!H", _checksum(packet)) + packet[4:]
        sent = time.monotonic()
        sock.sendto(packet, (addr, 0))
        rtt = None
        deadline = sent + 2
        while rtt is None and time.monotonic() < deadline:
            ready, _, _ = select.select([sock], [], [],
                                        max(0, deadline - time.monotonic()))
            if not ready:
                break
            data, _ = sock.recvfrom(4096)
            ihl = (data[0] & 0x0f) * 4
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if typ == 0 and rid == ident and rseq == seq:
                rtt = (time.monotonic() - sent) * 1000
        rtts.append(rtt)
        time.sleep(float(interval))
    return rtts


def helper_http(method, url):
    import urllib.request
    req = urllib.request.Request(url, data=b"" if method == "POST" else None,
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return {"body": resp.read().decode("latin-1")}
    except OSError as e:
        return {"error": str(e)}


# -- STUN (RFC 5389), enough for a binding request ----------------------

STUN_MAGIC = 0x2112A442


def stun_binding(sock, server, timeout=2.0):
    """(ip, port) the server saw us as, or None."""
    tid = os.urandom(12)
    sock.sendto(struct.pack("!HHI", 0x0001, 0, STUN_MAGIC) + tid, server)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [],
                                    max(0, deadline - time.monotonic()))
        if not ready:
            return None
        data, _ = sock.recvfrom(2048)
        if len(data) < 20 or data[8:20] != tid:
            continue
        return _xor_mapped(data[20:])
    return None


def _xor_mapped(attrs):
    while len(attrs) >= 4:
        typ, length = struct.unpack("!HH", attrs[:4])
        value = attrs[4:4 + length]
        if typ == 0x0020 and length >= 8:
            port = struct.unpack("!H", value[2:4])[0] ^ (STUN_MAGIC >> 16)
            ip = struct.unpack("!I", value[4:8])[0] ^ STUN_MAGIC
            return socket.inet_ntoa(struct.pack("!I", ip)), port
        attrs = attrs[4 + (length + 3) // 4 * 4:]
    return None


def helper_udp_echo(addr, port, seconds):
    """Answers every datagram with the address it came from, as text."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, int(port)))
    print(json.dumps({"listening": True}), flush=True)
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [],
                                    max(0, deadline - time.monotonic()))
        if ready:
            data, peer = sock.recvfrom(2048)
            if data.startswith(b"to "):
                # "to IP PORT": send a probe to someone else's mapping
                _, ip, p = data.decode().split()
                sock.sendto(b"probe", (ip, int(p)))
            else:
                sock.sendto(("%s %d" % peer).encode(), peer)
    return {"done": True}


def helper_nat_probe(echo1, echo2, echo3, stun_server, port):
    """From behind a NAT, with echo servers on three public hosts:
    - the mapping echo1 and echo2 see for one socket (the same = endpoint
      independent mapping);
    - whether echo3, which we never wrote to from that socket, gets a
      packet through to its mapping (endpoint-independent filtering);
    - the port a second socket gets when a packet from echo3 hit the
      router on that port just before we first wrote to echo3 (a
      simultaneous open, as in ICE: the port is kept or not);
    - what the STUN server sees."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", int(port)))
    sock.settimeout(1.0)
    # a socket of its own for the control messages to echo3, so that they
    # do not open sock's mapping towards echo3
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    e1, e2, e3 = [(a, 7000) for a in (echo1, echo2, echo3)]

    def ask(s, server):
        s.sendto(b"who", server)
        try:
            return s.recvfrom(2048)[0].decode().split()
        except socket.timeout:
            return None

    m1, m2 = ask(sock, e1), ask(sock, e2)
    unsolicited = False
    if m1:
        ctl.sendto(("to %s %s" % (m1[0], m1[1])).encode(), e3)
        try:
            data, peer = sock.recvfrom(2048)
            unsolicited = data == b"probe" and peer[0] == echo3
        except socket.timeout:
            pass
    early = None
    if m1:
        second = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        second.bind(("0.0.0.0", int(port) + 1))
        second.settimeout(1.0)
        ctl.sendto(("to %s %d" % (m1[0], int(port) + 1)).encode(), e3)
        time.sleep(0.3)
        seen = ask(second, e3)
        early = int(seen[1]) if seen else None
    stun = stun_binding(sock, (stun_server, TURN_PORT))
    return {"local_port": int(port), "via_echo1": m1, "via_echo2": m2,
            "unsolicited_from_echo3": unsolicited,
            "port_after_early_inbound": early,
            "stun": list(stun) if stun else None}


def helper_tcp_sink(addr, port, seconds):
    """Serves `N\\n` requests with N bytes, for rate checks."""
    srv = socket.create_server((addr, int(port)))
    print(json.dumps({"listening": True}), flush=True)
    srv.settimeout(float(seconds))
    payload = b"\0" * (1 << 16)
    try:
        while True:
            conn, _ = srv.accept()
            with conn:
                f = conn.makefile("rb")
                for line in f:
                    left = int(line)
                    while left > 0:
                        conn.sendall(payload[:min(left, len(payload))])
                        left -= min(left, len(payload))
    except socket.timeout:
        return {"done": True}


def helper_tcp_fetch(addr, port, size):
    sock = socket.create_connection((addr, int(port)), timeout=60)
    start = time.monotonic()
    sock.sendall(b"%d\n" % int(size))
    got = 0
    while got < int(size):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        got += len(chunk)
    took = time.monotonic() - start
    return {"bytes": got, "seconds": took, "mbit_s": got * 8 / took / 1e6}


HELPERS = {
    "_ping": helper_ping, "_http": helper_http,
    "_udp-echo": helper_udp_echo, "_nat-probe": helper_nat_probe,
    "_tcp-sink": helper_tcp_sink, "_tcp-fetch": helper_tcp_fetch,
}


# ---------------------------------------------------------------------------
# selftest: the lab measured against what it was asked for

def default_shaper(build):
    return os.path.join(build, "bench", "lab", "mesh-shaper")


class Check:
    def __init__(self):
        self.failures = 0

    def __call__(self, ok, what):
        print("  %-4s %s" % ("ok" if ok else "FAIL", what), flush=True)
        if not ok:
            self.failures += 1


def selftest(args):
    check = Check()
    lab = Lab(default_shaper(args.build))
    try:
        a = lab.add_public("a", Access.make(rtt_ms=25))
        b = lab.add_public("b", Access.make(rtt_ms=25, down_kbit=5000))
        turn = lab.add_public("turn", addr=TURN_ADDR)
        echo2 = lab.add_public("echo2")
        routers = {t: lab.add_nat("nat-" + t[:3], t) for t in NAT_TYPES}
        inside = {t: lab.add_behind("in-" + t[:3], r)
                  for t, r in routers.items()}
        neighbour = lab.add_behind("in-eim2", routers["eim"])
        lab.start()
        print("lab: %d hosts" % len(lab.hosts))
        print("\n".join(lab.describe()))
        selftest_rtt(lab, check, a, b)
        selftest_rate(lab, check, a, b)
        lab.start_turn(turn)
        selftest_nat(lab, check, a, echo2, turn, inside)
        lan = [r for r in lab.ping(inside["eim"], neighbour.addr, count=3,
                                   interval=0.05) if r is not None]
        check(len(lan) == 3, "LAN: two hosts behind one router reach each "
              "other (%d of 3 pings)" % len(lan))
        selftest_turn(lab, check, a, inside)
        stats = lab.shaper_stats()
        check(stats is not None and stats["unroutable"] == 0,
              "shaper: nothing sent to an address outside the lab "
              "(unroutable %s)" % (stats or {}).get("unroutable"))
    finally:
        lab.close()
    check(not any(n.startswith(lab.tag) for n in lab_namespaces()),
          "teardown: no namespace left")
    print("selftest: %s" % ("passed" if not check.failures
                            else "%d FAILED" % check.failures))
    return 1 if check.failures else 0


def selftest_rtt(lab, check, a, b):
    rtts = lab.ping(a, b.addr, count=10, interval=0.1)
    got = [r for r in rtts if r is not None]
    med = statistics.median(got) if got else None
    check(med is not None and 50 <= med <= 53,
          "ping a -> b: median RTT %s ms (target 50)"
          % ("%.2f" % med if med else "-"))


def selftest_rate(lab, check, a, b):
    sink = lab.spawn(a, [sys.executable, os.path.abspath(__file__),
                         "_tcp-sink", a.addr, "9000", "30"])
    sink.stdout.readline()
    got = lab.helper(b, ["_tcp-fetch", a.addr, "9000", str(4 << 20)])
    lab.stop(sink)
    check(4.6 <= got["mbit_s"] <= 5.05,
          "TCP a -> b through b's 5 Mbit/s downlink: %.2f Mbit/s "
          "(4 MiB in %.2f s)" % (got["mbit_s"], got["seconds"]))


def selftest_nat(lab, check, a, echo2, turn, inside):
    echoes = [lab.spawn(h, [sys.executable, os.path.abspath(__file__),
                            "_udp-echo", h.addr, "7000", "30"])
              for h in (a, echo2, turn)]
    for proc in echoes:
        proc.stdout.readline()
    for i, (nat_type, host) in enumerate(inside.items()):
        r = lab.helper(host, ["_nat-probe", a.addr, echo2.addr, turn.addr,
                              turn.addr, str(40000 + i)])
        m1, m2 = r["via_echo1"], r["via_echo2"]
        public = host.router.addr
        check(m1 is not None and m1[0] == public,
              "%s: translated to %s (%s)" % (nat_type, public, m1))
        same = m1 == m2
        check(same == (nat_type != "symmetric"),
              "%s: mapping %s (to echo1 %s, to echo2 %s)" % (
                  nat_type, "endpoint independent" if same
                  else "per destination", m1 and m1[1], m2 and m2[1]))
        check(not r["unsolicited_from_echo3"],
              "%s: unsolicited packet from a third host %s" % (
                  nat_type, "got through" if r["unsolicited_from_echo3"]
                  else "filtered"))
        early = r["port_after_early_inbound"]
        kept = early == int(r["local_port"]) + 1
        print("       %s: after an early inbound packet the port was %s "
              "(%s)" % (nat_type, "kept" if kept else "changed",
                        early), flush=True)
        if nat_type == "eim":
            check(kept, "eim: port kept across a simultaneous open")
        check(r["stun"] is not None and r["stun"][0] == public,
              "%s: STUN binding via coturn -> %s" % (nat_type, r["stun"]))
    for proc in echoes:
        lab.stop(proc)


def selftest_turn(lab, check, a, inside):
    """An allocation on coturn from behind a NAT, relaying to a public
    host (turnutils_uclient to turnutils_peer)."""
    if not shutil.which("turnutils_uclient"):
        check(True, "TURN relay: turnutils_uclient not installed, skipped")
        return
    peer = lab.spawn(a, ["turnutils_peer", "-L", a.addr, "-p", "3480"])
    time.sleep(0.3)
    host = inside["eim"]
    out = lab.run_in(host, ["turnutils_uclient", "-u", TURN_USER, "-w",
                            TURN_PASSWORD, "-e", a.addr, "-r", "3480", "-n",
                            "20", TURN_ADDR], timeout=30, check=False)
    text = out.stdout.decode(errors="replace")
    lost = re.search(r"Total lost packets (\d+)", text)
    check(lost is not None and int(lost.group(1)) == 0,
          "TURN relay from behind eim NAT to %s: %s" % (
              a.addr, lost.group(0) if lost else text.strip()[-200:]))
    lab.stop(peer)


def main():
    if len(sys.argv) > 1 and sys.argv[1] in HELPERS:
        print(json.dumps(HELPERS[sys.argv[1]](*sys.argv[2:])), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "selftest", "cleanup"])
    parser.add_argument("--build", default=os.path.join(REPO, "build"),
                        help="meson build directory (default <repo>/build)")
    args = parser.parse_args()
    install_signal_handlers()
    if args.command == "cleanup":
        cleanup_stale()
        return 0
    if args.command == "check":
        reason = check_support(default_shaper(args.build))
        print("SKIP: %s" % reason if reason else "the lab can run here")
        return 77 if reason else 0
    try:
        return selftest(args)
    except (LabError, OSError, subprocess.SubprocessError) as e:
        print("lab: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
