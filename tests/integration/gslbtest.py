# SPDX-License-Identifier: GPL-3.0-or-later
"""Harness for the integration tests: the real gslb-overwatchd on loopback.

A Daemon writes its config (a string.Template: $port is the DNS port it
picked) into a private temporary directory, starts the binary named by
$GSLB_OVERWATCHD (or --overwatchd PATH on the command line), captures its
stderr, waits for the "listeners started" line and stops it with SIGTERM,
expecting exit status 0.

Optional environment:
  GSLB_TEST_WRAPPER   command prefix, e.g. "valgrind --error-exitcode=1 -q"
  GSLB_TEST_TIMEOUT   seconds to wait for start-up and stop (default 10)
  GSLB_TEST_KEEP      keep the temporary directories (config, logs)
  GSLB_TEST_SCALE     stretch the health-check tests' intervals and
                      timeouts by this factor (default 4 under a wrapper,
                      else 1)
"""
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import string
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

DNSSEC_ACK = (
    "I understand that disabling DNSSEC removes cryptographic "
    "authentication of DNS responses and allows DNS spoofing attacks "
    "against my zones"
)

READY_LINE = "listeners started"
RELOADED_LINE = "configuration reloaded"
RELOAD_FAILED_LINE = "configuration reload failed"

EX_USAGE = 64
EX_CONFIG = 78


def timeout_s():
    return float(os.environ.get("GSLB_TEST_TIMEOUT", "10"))


def parse_args(argv=None):
    """Takes --overwatchd PATH out of argv (the rest is unittest's)."""
    argv = sys.argv if argv is None else argv
    for i, arg in enumerate(argv[1:], start=1):
        if arg == "--overwatchd" and i + 1 < len(argv):
            os.environ["GSLB_OVERWATCHD"] = os.path.abspath(argv[i + 1])
            del argv[i:i + 2]
            return
        if arg.startswith("--overwatchd="):
            path = arg.split("=", 1)[1]
            os.environ["GSLB_OVERWATCHD"] = os.path.abspath(path)
            del argv[i]
            return


def overwatchd_path():
    path = os.environ.get("GSLB_OVERWATCHD", "")
    if not path:
        raise RuntimeError(
            "set GSLB_OVERWATCHD to the gslb-overwatchd binary to test "
            "(make check does), or pass --overwatchd PATH")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError("GSLB_OVERWATCHD=%s is not an executable file"
                           % path)
    return path


def agent_sim_path():
    """tests/bench/agent-sim, the simulated agent (GSLB_AGENT_SIM)."""
    path = os.environ.get("GSLB_AGENT_SIM")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "bench", "agent-sim")
    return os.path.realpath(path)


def command(*args):
    wrapper = shlex.split(os.environ.get("GSLB_TEST_WRAPPER", ""))
    return wrapper + [overwatchd_path()] + list(args)


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port(hosts=("127.0.0.1",)):
    """A port free for both UDP and TCP on every host given."""
    for _ in range(100):
        fam = socket.AF_INET6 if ":" in hosts[0] else socket.AF_INET
        with socket.socket(fam, socket.SOCK_DGRAM) as probe:
            probe.bind((hosts[0], 0))
            port = probe.getsockname()[1]
        held = []
        try:
            for host in hosts:
                fam = socket.AF_INET6 if ":" in host else socket.AF_INET
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(fam, kind)
                    held.append(s)
                    if fam == socket.AF_INET6:
                        # As the daemon binds it: "::" apart from 0.0.0.0.
                        s.setsockopt(socket.IPPROTO_IPV6,
                                     socket.IPV6_V6ONLY, 1)
                    s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no free loopback port found")


def write_private(path, text, mode=0o600):
    """Writes text to path atomically with the given mode."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def line_of(text, needle):
    """1-based number of the first line of text containing needle."""
    for n, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return n
    raise ValueError("%r not in the config" % needle)


# ---------------------------------------------------------------------------
# The test configuration.

# Regions in the order they are written in the file. failover.gslb.test
# lists them the other way round, so its priority must come from the
# domain, not from the file order.
REGIONS = ("us-east", "eu-west")

RR_SERVERS = ("192.0.2.11", "192.0.2.12", "192.0.2.13")
WEIGHTED_SERVERS = (("192.0.2.21", 300), ("192.0.2.22", 100),
                    ("192.0.2.23", 100), ("192.0.2.24", 0))
FAILOVER_PRIMARY = "192.0.2.2"    # region eu-west, listed first
FAILOVER_SECONDARY = "192.0.2.3"  # region us-east
V6ONLY_SERVERS = ("2001:db8::61", "2001:db8::62")
MIXED_V4 = ("192.0.2.71", "192.0.2.72")
MIXED_V6 = ("2001:db8::71", "2001:db8::72")
MULTI_SERVERS = ("192.0.2.81", "192.0.2.82", "192.0.2.83", "192.0.2.84",
                 "192.0.2.85")
BIG_SERVERS = tuple("2001:db8:b16::%x" % i for i in range(1, 61))
DEEP_SERVER = "192.0.2.91"
LOW_SERVER = "198.51.100.1"

ZONE = "gslb.test"
SOA_SERIAL = 2026112801
SOA_REFRESH = 7200
SOA_RETRY = 900
SOA_EXPIRE = 1209600
SOA_MINIMUM = 120
ZONE_TTL = 3600
DEFAULT_TTL = 30
RR_TTL = 10
# A second zone whose TTL is below its SOA minimum.
LOW_ZONE = "low.test"
LOW_ZONE_TTL = 30
LOW_SOA_MINIMUM = 300


class Domain:
    """One domains[] entry and its servers: (region, address, weight)."""

    def __init__(self, name, algorithm, regions, servers, ttl=None,
                 max_records=None):
        self.name = name
        self.algorithm = algorithm
        self.regions = regions
        self.servers = servers
        self.ttl = ttl
        self.max_records = max_records


def default_domains():
    return [
        Domain("rr.gslb.test", "round-robin", ["eu-west"],
               [("eu-west", a, None) for a in RR_SERVERS], ttl=RR_TTL),
        Domain("weighted.gslb.test", "weighted", ["eu-west"],
               [("eu-west", a, w) for a, w in WEIGHTED_SERVERS]),
        Domain("failover.gslb.test", "failover", ["eu-west", "us-east"],
               [("us-east", FAILOVER_SECONDARY, None),
                ("eu-west", FAILOVER_PRIMARY, None)]),
        Domain("v6only.gslb.test", "round-robin", ["eu-west"],
               [("eu-west", a, None) for a in V6ONLY_SERVERS]),
        Domain("mixed.gslb.test", "round-robin", ["eu-west"],
               [("eu-west", a, None) for a in MIXED_V4 + MIXED_V6]),
        Domain("multi.gslb.test", "round-robin", ["eu-west"],
               [("eu-west", a, None) for a in MULTI_SERVERS],
               max_records=3),
        Domain("big.gslb.test", "round-robin", ["eu-west"],
               [("eu-west", a, None) for a in BIG_SERVERS],
               max_records=64),
        Domain("a.b.deep.gslb.test", "round-robin", ["eu-west"],
               [("eu-west", DEEP_SERVER, None)]),
        Domain("app.low.test", "round-robin", ["us-east"],
               [("us-east", LOW_SERVER, None)]),
    ]


# The gossip key of every test overwatch and agent (any 32 bytes).
GOSSIP_KEY = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="
GOSSIP_BLOCK = ["  gossip:",
                '    encryption_key: "%s"' % GOSSIP_KEY,
                '    bind_address: "127.0.0.1:$gossip_port"']


# The placeholders in etc/*.yaml, which the daemons refuse.
SAMPLE_GOSSIP_KEY = "Q0hBTkdFLU1FLWdlbmVyYXRlLXlvdXItb3duLWtleSE="
SAMPLE_TOKEN = "CHANGE-ME-to-the-service-token"
SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "..", "etc")


def sample_config(name):
    """etc/NAME as shipped."""
    with open(os.path.join(SAMPLE_DIR, name), encoding="utf-8") as f:
        return f.read()


def with_secrets(text):
    """A sample config with its placeholder secrets replaced, as an
    operator does."""
    return text.replace(SAMPLE_GOSSIP_KEY, GOSSIP_KEY).replace(
        SAMPLE_TOKEN, "lab-service-token-0123456789")


def config(domains=None, listen='"127.0.0.1:$port"', log_format="text",
           dns_extra=(), validation=False, api=False, metrics=False):
    """The overwatch config as a template ($port, $api_port,
    $metrics_port, $gossip_port, $state_dir and $socket still to substitute). The
    servers are documentation addresses nobody answers on, so validation
    is off unless asked for."""
    domains = default_domains() if domains is None else domains
    out = [
        "# gslb-overwatchd integration test configuration",
        "mode: overwatch",
        "",
        "logging:",
        "  level: info",
        "  format: %s" % log_format,
        "",
        "dns:",
        "  listen_address: %s" % listen,
        "  default_ttl: %d" % DEFAULT_TTL,
        "  workers: 2",
    ]
    out += ["  " + line for line in dns_extra]
    out += [
        "  zones:",
        "    - name: %s" % ZONE,
        "      ttl: %d" % ZONE_TTL,
        "      soa:",
        "        rname: hostmaster@%s" % ZONE,
        "        serial: %d" % SOA_SERIAL,
        # SOA timers are durations in the file, seconds on the wire.
        "        refresh: %ds" % SOA_REFRESH,
        "        retry: %ds" % SOA_RETRY,
        "        expire: %ds" % SOA_EXPIRE,
        "        minimum: %ds" % SOA_MINIMUM,
        "      nameservers:",
        "        - { name: ns1.%s, addresses: [127.0.0.1] }" % ZONE,
        "    - name: %s" % LOW_ZONE,
        "      ttl: %d" % LOW_ZONE_TTL,
        "      soa:",
        "        rname: hostmaster@%s" % LOW_ZONE,
        "        serial: 1",
        "        minimum: %ds" % LOW_SOA_MINIMUM,
        "      nameservers:",
        "        - { name: ns1.%s, addresses: [127.0.0.1] }" % LOW_ZONE,
        "",
        "overwatch:",
        "  identity:",
        "    node_id: integration-test",
    ] + GOSSIP_BLOCK + [
        "  validation:",
        "    enabled: %s" % ("true" if validation else "false"),
        "  dnssec:",
        "    enabled: false",
        '    security_acknowledgment: "%s"' % DNSSEC_ACK,
        '  data_dir: "$state_dir"',
        "",
    ]
    if api:
        out += ["api:", "  enabled: true",
                '  address: "127.0.0.1:$api_port"',
                '  socket: "$socket"', ""]
    if metrics:
        out += ["metrics:", "  enabled: true",
                '  address: "127.0.0.1:$metrics_port"', ""]
    out += ["regions:"]
    for region in REGIONS:
        out += ["  - name: %s" % region, "    servers:"]
        servers = [(d, s) for d in domains for s in d.servers
                   if s[0] == region]
        for d, (_, address, weight) in servers:
            w = "" if weight is None else ", weight: %d" % weight
            out.append("      - { address: \"%s\", port: 80%s, service: %s }"
                       % (address, w, d.name))
        out += ["    health_check: { type: tcp, interval: 10s, timeout: 2s }"]
    out += ["", "domains:"]
    for d in domains:
        out += ["  - name: %s" % d.name,
                "    routing_algorithm: %s" % d.algorithm,
                "    regions: [%s]" % ", ".join(d.regions)]
        if d.ttl is not None:
            out.append("    ttl: %d" % d.ttl)
        if d.max_records is not None:
            out.append("    max_records: %d" % d.max_records)
    return "\n".join(out) + "\n"


def yaml_string(text):
    """text as a double-quoted YAML scalar."""
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"') \
        .replace("\n", "\\n")


def checked_config(regions, api=False, metrics=False, dns_extra=(),
                   validation=True, api_extra=(), api_address=None):
    """A config of servers the overwatch checks itself (unless validation
    is false):
    zone gslb.test and, for each region (name, domain, health_check as a
    YAML flow mapping, [(ip, port) or (ip, port, host)]), that region and
    one domain answering all its healthy servers at once. A template:
    $port, $api_port, $metrics_port, $state_dir and $socket still to
    substitute."""
    out = [
        "mode: overwatch",
        "logging: { level: info, format: text }",
        "dns:",
        '  listen_address: "127.0.0.1:$port"',
        "  workers: 1",
    ]
    out += ["  " + line for line in dns_extra]
    out += [
        "  zones:",
        "    - name: %s" % ZONE,
        "      nameservers: [{ name: ns1.%s, addresses: [127.0.0.1] }]"
        % ZONE,
        "overwatch:",
        "  identity: { node_id: integration-test }",
    ] + GOSSIP_BLOCK + [
        "  validation: { enabled: %s }" % str(validation).lower(),
        "  dnssec:",
        "    enabled: false",
        '    security_acknowledgment: "%s"' % DNSSEC_ACK,
        '  data_dir: "$state_dir"',
    ]
    if api:
        out += ["api:", "  enabled: true",
                '  address: "%s"' % (api_address or "127.0.0.1:$api_port"),
                '  socket: "$socket"']
        out += ["  " + line for line in api_extra]
    if metrics:
        out += ["metrics:", "  enabled: true",
                '  address: "127.0.0.1:$metrics_port"']
    out.append("regions:")
    for name, domain, check, servers in regions:
        out += ["  - name: %s" % yaml_string(name), "    servers:"]
        for server in servers:
            ip, port = server[:2]
            host = server[2] if len(server) > 2 else None
            out.append("      - { address: %s, port: %d, service: %s%s }"
                       % (ip, port, domain,
                          ", host: %s" % host if host else ""))
        out.append("    health_check: %s" % check)
    out.append("domains:")
    for name, domain, _, _ in regions:
        out += ["  - name: %s" % domain,
                "    regions: [%s]" % yaml_string(name),
                "    max_records: 16"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Raw transport helpers (for what dnspython will not send).

def udp_exchange(host, port, wire, timeout=2.0, sock=None):
    """Sends one datagram; the reply's bytes, or None on time-out."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    own = sock is None
    if own:
        sock = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        sock.sendto(wire, (host, port))
        try:
            return sock.recvfrom(65535)[0]
        except socket.timeout:
            return None
    finally:
        if own:
            sock.close()


def tcp_connect(host, port, timeout=3.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect((host, port))
    return sock


def tcp_send(sock, wire):
    sock.sendall(struct.pack("!H", len(wire)) + wire)


def recv_exact(sock, n):
    """n bytes, or b"" if the peer closed first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return b""
        buf += chunk
    return buf


def tcp_recv(sock):
    """One length-prefixed message, or None when the server closed."""
    hdr = recv_exact(sock, 2)
    if not hdr:
        return None
    (length,) = struct.unpack("!H", hdr)
    body = recv_exact(sock, length)
    if len(body) != length:
        return None
    return body


def rcode_text(msg):
    return dns.rcode.to_text(msg.rcode())


def addresses(msg, rdtype):
    """Addresses of every rdata of the given type in the answer section."""
    rdtype = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) \
        else rdtype
    return [rd.address for rrset in msg.answer if rrset.rdtype == rdtype
            for rd in rrset]


# ---------------------------------------------------------------------------

class Daemon:
    """One gslb-overwatchd process with its own config and log."""

    def __init__(self, template, hosts=("127.0.0.1",), env=None,
                 name="overwatch"):
        self.template = template
        self.hosts = hosts
        self.host = hosts[0]
        self.extra_env = dict(env or {})
        self.dir = os.path.realpath(
            tempfile.mkdtemp(prefix="gslb-it-%s-" % name))
        self.config_path = os.path.join(self.dir, "overwatch.yaml")
        self.state_dir = os.path.join(self.dir, "state")
        self.socket = os.path.join(self.dir, "api.sock")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.port = None
        self.api_port = None
        self.metrics_port = None
        self.gossip_port = None
        self.proc = None
        self.returncode = None

    # -- configuration -----------------------------------------------------

    def render(self, template=None):
        template = self.template if template is None else template
        return string.Template(template).substitute(
            port=self.port, api_port=self.api_port,
            metrics_port=self.metrics_port, gossip_port=self.gossip_port,
            state_dir=self.state_dir, socket=self.socket)

    def write_config(self, template=None, mode=0o600):
        """Writes the (new) config; returns the text written."""
        if template is not None:
            self.template = template
        text = self.render()
        write_private(self.config_path, text, mode)
        return text

    # -- process -----------------------------------------------------------

    def start(self, wait=True):
        """Starts the daemon and waits for its listeners (3 port tries)."""
        for attempt in range(3):
            self.port = free_port(self.hosts)
            self.api_port = free_port()
            self.metrics_port = free_port()
            if self.gossip_port is None:  # agents keep talking to it
                self.gossip_port = free_port()
            self.write_config()
            since = len(self.log_lines())  # a restart appends to the log
            env = dict(os.environ)
            env.update(self.extra_env)
            with open(self.log_path, "ab") as err, \
                    open(self.stdout_path, "ab") as out:
                self.proc = subprocess.Popen(
                    command("-c", self.config_path), stdin=subprocess.DEVNULL,
                    stdout=out, stderr=err, env=env)
            self.returncode = None
            if not wait:
                return
            try:
                self.wait_log(READY_LINE, since=since)
                return
            except AssertionError:
                if self.proc.poll() is not None and \
                        "cannot listen" in self.log() and attempt < 2:
                    self.gossip_port = None
                    continue  # lost a race for the port: take another
                self.kill()
                raise

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        return self.log().splitlines()

    def describe(self, tail=200):
        lines = self.log_lines()
        return ("--- gslb-overwatchd log (%s), last %d of %d lines ---\n%s\n"
                "--- end of log ---" % (self.log_path, min(tail, len(lines)),
                                        len(lines), "\n".join(lines[-tail:])))

    def wait_log(self, needles, since=0, timeout=None):
        """Waits for a line containing one of needles among log lines
        [since:]; returns (index, line). Fails if the daemon exits first."""
        if isinstance(needles, str):
            needles = (needles,)
        deadline = time.monotonic() + (timeout or timeout_s())
        while True:
            lines = self.log_lines()
            for i in range(since, len(lines)):
                if any(n in lines[i] for n in needles):
                    return i, lines[i]
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise AssertionError(
                    "gslb-overwatchd exited with status %d while waiting "
                    "for %r\n%s" % (self.proc.returncode, needles,
                                    self.describe()))
            if time.monotonic() > deadline:
                raise AssertionError("no log line with %r within %g s\n%s"
                                     % (needles, timeout or timeout_s(),
                                        self.describe()))
            time.sleep(0.02)

    def reload(self, template=None, mode=0o600):
        """Writes a new config if given, sends SIGHUP, and waits for the
        outcome: returns "reloaded" or "failed" and the lines logged."""
        if template is not None:
            self.write_config(template, mode)
        since = len(self.log_lines())
        self.proc.send_signal(signal.SIGHUP)
        i, line = self.wait_log((RELOADED_LINE, RELOAD_FAILED_LINE),
                                since=since)
        logged = self.log_lines()[since:i + 1]
        return ("reloaded" if RELOADED_LINE in line else "failed"), logged

    def stop(self, sig=signal.SIGTERM):
        """Stops the daemon; AssertionError unless it exits 0 in time."""
        if self.proc is None or self.returncode is not None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout_s())
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("gslb-overwatchd did not stop within %g s "
                                 "of signal %d\n%s"
                                 % (timeout_s(), sig, self.describe()))
        if self.returncode != 0:
            raise AssertionError("gslb-overwatchd exited with status %d\n%s"
                                 % (self.returncode, self.describe()))
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.returncode = self.proc.returncode

    def cleanup(self):
        self.kill()
        if not os.environ.get("GSLB_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- HTTP (API and metrics) ---------------------------------------------

    def http(self, path, method="GET", body=None, headers=None, port=None,
             host="127.0.0.1", timeout=5.0):
        """One request to the API (or another port of the daemon's);
        returns (status, headers, body bytes)."""
        conn = http.client.HTTPConnection(host, port or self.api_port,
                                          timeout=timeout)
        try:
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def socket_http(self, path, method="GET", body=None, headers=None,
                    timeout=5.0):
        """As http(), over the API's UNIX socket (api.socket)."""
        conn = UnixHTTPConnection(self.socket, timeout=timeout)
        try:
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def api_json(self, path, method="GET", body=None, headers=None,
                 expect=200):
        """A JSON API call that must answer with status expect."""
        status, hdrs, data = self.http(path, method, body, headers)
        if status != expect:
            raise AssertionError("%s %s: status %d, expected %d: %r"
                                 % (method, path, status, expect, data))
        return json.loads(data)

    # -- DNS ---------------------------------------------------------------

    def query(self, name, rdtype="A", tcp=False, rdclass="IN", host=None,
              timeout=3.0, sock=None, **options):
        """Sends a query made by dns.message.make_query(name, rdtype,
        rdclass, **options); returns the response message."""
        q = dns.message.make_query(name, rdtype, rdclass, **options)
        return self.exchange(q, tcp=tcp, host=host, timeout=timeout,
                             sock=sock)

    def exchange(self, q, tcp=False, host=None, timeout=3.0, sock=None):
        host = host or self.host
        if tcp:
            return dns.query.tcp(q, host, timeout=timeout, port=self.port,
                                 sock=sock)
        return dns.query.udp(q, host, timeout=timeout, port=self.port,
                             sock=sock)

    def udp_raw(self, wire, timeout=2.0, host=None, sock=None):
        return udp_exchange(host or self.host, self.port, wire, timeout,
                            sock)

    def tcp_connect(self, host=None, timeout=3.0):
        return tcp_connect(host or self.host, self.port, timeout)


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a UNIX stream socket."""

    def __init__(self, path, timeout=5.0):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class DaemonTestCase(unittest.TestCase):
    """A test class with its own daemon, started once for all its tests.
    Subclasses override make_config() (returns a template)."""

    hosts = ("127.0.0.1",)
    daemon = None

    @classmethod
    def make_config(cls):
        return config()

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(cls.make_config(), hosts=cls.hosts,
                            name=cls.__name__)
        try:
            cls.daemon.start()
        except BaseException:
            cls.daemon.cleanup()
            cls.daemon = None
            raise

    @classmethod
    def tearDownClass(cls):
        d, cls.daemon = cls.daemon, None
        if d is None:
            return
        try:
            d.stop()
        finally:
            d.cleanup()

    def run(self, result=None):
        """Prints the daemon's log after a failing test."""
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        d = type(self).daemon
        if d is not None and len(result.failures) + len(result.errors) > \
                before:
            sys.stderr.write("\n%s: %s\n" % (self.id(), d.describe()))
        return out

    # -- assertions on answers ---------------------------------------------

    def assertRcode(self, msg, rcode):
        self.assertEqual(rcode_text(msg), rcode,
                         "unexpected RCODE in\n%s" % msg)

    def assertAA(self, msg, aa=True):
        self.assertEqual(bool(msg.flags & dns.flags.AA), aa,
                         "AA flag should be %s in\n%s" % (aa, msg))

    def assertNegative(self, msg, rcode, zone=ZONE,
                       soa_ttl=min(ZONE_TTL, SOA_MINIMUM)):
        """NXDOMAIN or NODATA: authoritative, no answer, the zone's SOA in
        the authority section with TTL min(SOA TTL, SOA MINIMUM)."""
        self.assertRcode(msg, rcode)
        self.assertAA(msg)
        self.assertEqual(msg.answer, [], "answer section not empty:\n%s"
                         % msg)
        soas = [r for r in msg.authority if r.rdtype == dns.rdatatype.SOA]
        self.assertEqual(len(soas), 1, "no SOA in authority:\n%s" % msg)
        self.assertEqual(soas[0].name, dns.name.from_text(zone))
        self.assertEqual(soas[0].ttl, soa_ttl, str(msg))
