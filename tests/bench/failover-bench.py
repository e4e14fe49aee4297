#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""failover-bench.py - failover latency end to end: from a backend's death
(or an agent's drain signal) to the first DNS answer without it, with the
real daemons on loopback and a real DNS client.

Usage:
  tests/bench/failover-bench.py [-b BUILD_DIR] [-n REPS] [-s SCENARIOS]
                                [--write] [--keep]

  -b DIR        build directory holding overwatchd/gslb-overwatchd and
                agentd/gslb-agentd (default: the current directory);
                $GSLB_OVERWATCHD and $GSLB_AGENTD, if set, name the
                binaries directly and win over -b
  -n REPS       repetitions per scenario (default 20)
  -s LIST       comma-separated scenarios to run, or "all" (the default;
                -s list shows them)
  --write       also write the result into docs/benchmarks.md of this
                source tree (only the section between the failover-bench
                marker comments is replaced, or appended the first time)
  --keep        keep the work directory (configs, daemon logs)
  -h, --help    this text

  Example (release build, no --enable-developer, outside the source tree):
    mkdir -p /tmp/build-bench && cd /tmp/build-bench && \\
      /path/to/src/configure && make
    cd /path/to/src && \\
      tests/bench/failover-bench.py -b /tmp/build-bench -s all --write

Needs /usr/bin/python3 with dnspython, Linux. About 12 minutes with the
defaults (9 scenarios x 20 repetitions).

Method:
  * Each scenario runs its own gslb-overwatchd (DNSSEC on, as by default;
    one UDP worker; API on loopback) serving app.gslb.test, a round-robin
    name of three backends with max_records 8, so that every answer holds
    every backend DNS considers healthy: the first answer without a
    backend is exactly the moment DNS changed. The backends are HTTP
    servers, one Python process each, on their own loopback addresses
    127.77.x.1-3, answering 200 to GET /health with keep-alive.
  * A prober thread sends "app.gslb.test A" (UDP, no EDNS) to the
    overwatch every millisecond, waits for each answer, and timestamps it
    with time.monotonic(). The failure is triggered at a uniformly random
    moment within one check interval of the backend becoming healthy
    again (so that every phase of the check schedule is sampled); the
    sample is the time from just before the trigger to the receipt of the
    first answer that holds the other two backends and not this one. Any
    other answer in between (SERVFAIL, fewer backends) is counted as an
    anomaly. Then the backend is restored and the next repetition waits
    until it is back in the answers.
  * Failures: "kill" is SIGKILL of the backend's process (the kernel
    closes its sockets: connections are refused, a kept connection gets
    EOF); "hang" is SIGSTOP of it (connections are accepted by the kernel
    but never answered: every check runs into its timeout); "drain" is
    SIGUSR1 to the agent (docs/agent.md). Restored by starting the
    backend again, SIGCONT, SIGUSR2.
  * "overwatch" scenarios: the overwatch checks the three backends itself
    (regions[].health_check). "agent" scenarios: three real gslb-agentd
    processes, one per backend, each checking its backend with the given
    settings and reporting over the sealed gossip protocol (default
    heartbeat 10s x 3); the overwatch's own validation is off there, so
    that the agents' reports alone decide. The drain scenario keeps
    validation on, as by default (draining beats it). agent-kill-1-validated
    is agent-kill-1 with validation on (the overwatch's check every 3s,
    3 failures to find a backend down): the overwatch's own verdict beats
    the agent's claim, but a claim that disputes it makes the overwatch
    check again at once and then every second until its threshold decides.
  * Bounds (docs/ARCHITECTURE.md, docs/configuration.md): a backend's
    failure reaches DNS within interval x failure_threshold + 100 ms, plus
    the check timeout when the checks hang; the same formula with the
    agent's settings for an agent's check (the agent sends its state at
    once, docs/agent.md), plus, with validation on, the overwatch's
    re-checks a second apart (failure_threshold - 1 of them, each with
    its timeout when the checks hang); an agent's drain signal within 1 s.
  * For each scenario: min, median, p95 (nearest rank) and max; "met"
    when every repetition was observed and within the bound.
"""

import argparse
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.version  # noqa: E402

import gslbtest  # noqa: E402

SRC = os.path.realpath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
NAME = "app.gslb.test"
TOKEN = "failover-bench-token-0123456789"
REGION = "dc"
PROBE_PERIOD = 0.001   # seconds between the prober's queries
PROBE_TIMEOUT = 0.25   # a query unanswered this long counts as lost
BEGIN_MARK = ("<!-- failover-bench:begin (generated by "
              "tests/bench/failover-bench.py --write; edits inside are "
              "overwritten) -->")
END_MARK = "<!-- failover-bench:end -->"

# One backend: GET answers 200 "ok", connections kept alive.
BACKEND_CODE = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


class Check:
    """A health_check section: interval and timeout in seconds."""

    def __init__(self, interval, timeout, failures, successes):
        self.interval = interval
        self.timeout = timeout
        self.failures = failures
        self.successes = successes

    def yaml(self):
        return ("{ type: http, path: /health, interval: %s, timeout: %s, "
                "failure_threshold: %d, success_threshold: %d }"
                % (duration(self.interval), duration(self.timeout),
                   self.failures, self.successes))

    def text(self):
        return "%s / %s / %d / %d" % (duration(self.interval),
                                      duration(self.timeout), self.failures,
                                      self.successes)


def duration(seconds):
    ms = int(round(seconds * 1000))
    return "%ds" % (ms // 1000) if ms % 1000 == 0 else "%dms" % ms


class Scenario:
    """checker: overwatch or agent; failure: kill, hang or drain."""

    def __init__(self, key, checker, failure, check, validation=None):
        self.key = key
        self.checker = checker
        self.failure = failure
        self.check = check
        # None: validation off; "default": on with its defaults; a Check:
        # on, with these settings for the agents' region.
        self.validation = validation

    def bound(self):
        """The bound in seconds and how it is made up."""
        if self.failure == "drain":
            return 1.0, "1 s"
        c = self.check
        b = c.interval * c.failures + 0.1
        text = "%d × %g s" % (c.failures, c.interval)
        if self.failure == "hang":
            b += c.timeout
            text += " + %g s" % c.timeout
        text += " + 0.1 s"
        v = self.validation
        if self.checker == "agent" and isinstance(v, Check):
            # The overwatch re-checks a second apart until its threshold
            # decides (overwatchd/validator.c, RECHECK_GAP).
            b += (v.failures - 1) * 1.0
            text += " + %d × 1 s re-checks" % (v.failures - 1)
            if self.failure == "hang":
                b += v.failures * v.timeout
                text += " + %d × %g s" % (v.failures, v.timeout)
        return b, text

    def validation_text(self):
        if self.checker == "overwatch":
            return "on (the check shown)"
        if self.validation is None:
            return "off"
        if self.validation == "default":
            return "on (defaults: 30s / 5s / 3 / 2)"
        return "on (%s)" % self.validation.text()


DEFAULT_CHECK = Check(1.0, 0.5, 3, 2)
FAST_CHECK = Check(1.0, 0.2, 1, 1)

SCENARIOS = [
    Scenario("ow-kill-3", "overwatch", "kill", DEFAULT_CHECK),
    Scenario("ow-hang-3", "overwatch", "hang", DEFAULT_CHECK),
    Scenario("ow-kill-1", "overwatch", "kill", FAST_CHECK),
    Scenario("ow-hang-1", "overwatch", "hang", FAST_CHECK),
    Scenario("agent-kill-3", "agent", "kill", DEFAULT_CHECK),
    Scenario("agent-hang-3", "agent", "hang", DEFAULT_CHECK),
    Scenario("agent-kill-1", "agent", "kill", FAST_CHECK),
    Scenario("agent-drain", "agent", "drain", DEFAULT_CHECK,
             validation="default"),
    # An agent's report against the overwatch's own validation, which
    # beats it but checks again at once (opengslb.yaml(5),
    # overwatch.validation.enabled).
    Scenario("agent-kill-1-validated", "agent", "kill", FAST_CHECK,
             validation=Check(3.0, 1.0, 3, 2)),
]


def log(msg):
    sys.stderr.write("# %s\n" % msg)
    sys.stderr.flush()


def die(msg):
    sys.stderr.write("failover-bench: %s\n" % msg)
    sys.exit(1)


# ---------------------------------------------------------------------------
# Processes


class Backend:
    """One HTTP backend process on ip:port."""

    def __init__(self, ip, port, workdir):
        self.ip = ip
        self.port = port
        self.log_path = os.path.join(workdir, "backend-%s.log" % ip)
        self.proc = None

    def start(self, timeout=10.0):
        with open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", BACKEND_CODE, self.ip, str(self.port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die("backend %s:%d exited (%s)" % (self.ip, self.port,
                                                   self.log_path))
            try:
                socket.create_connection((self.ip, self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.01)
        die("backend %s:%d did not start" % (self.ip, self.port))

    def send(self, sig):
        os.kill(self.proc.pid, sig)

    def kill(self):
        self.send(signal.SIGKILL)
        self.proc.wait()

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # also ends a stopped process
            self.proc.wait()


class Agent:
    """One gslb-agentd reporting one backend to one overwatch."""

    def __init__(self, binary, workdir, agent_id, backend, gossip_port,
                 check):
        self.binary = binary
        self.dir = os.path.join(workdir, agent_id)
        os.makedirs(self.dir, mode=0o700)
        self.config_path = os.path.join(self.dir, "agent.yaml")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.proc = None
        gslbtest.write_private(self.config_path, "\n".join([
            "mode: agent",
            "logging: { level: info, format: text }",
            "agent:",
            "  identity:",
            '    service_token: "%s"' % TOKEN,
            "    agent_id: %s" % agent_id,
            "    region: %s" % REGION,
            '    cert_path: "%s"' % os.path.join(self.dir, "agent.crt"),
            '    key_path: "%s"' % os.path.join(self.dir, "agent.key"),
            "  backends:",
            "    - service: %s" % NAME,
            "      address: %s" % backend.ip,
            "      port: %d" % backend.port,
            "      health_check: %s" % check.yaml(),
            "  gossip:",
            '    encryption_key: "%s"' % gslbtest.GOSSIP_KEY,
            '    overwatch_nodes: ["127.0.0.1:%d"]' % gossip_port,
        ]) + "\n")

    def start(self):
        with open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(
                [self.binary, "-c", self.config_path],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True)

    def send(self, sig):
        os.kill(self.proc.pid, sig)

    def close(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------
# The DNS prober


class Watch:
    """Waits for the first answer equal to after, received after t0."""

    def __init__(self, t0, before, after):
        self.t0 = t0
        self.before = before
        self.after = after
        self.t_before = None  # last answer still equal to before
        self.t_after = None
        self.anomalies = 0
        self.first_anomaly = None
        self.done = threading.Event()

    def feed(self, t, result):
        if self.done.is_set() or t < self.t0:
            return
        if result == self.after:
            self.t_after = t
            self.done.set()
        elif result == self.before:
            self.t_before = t
        else:
            self.anomalies += 1
            if self.first_anomaly is None:
                self.first_anomaly = result


class Prober(threading.Thread):
    """Queries NAME A at 127.0.0.1:port every PROBE_PERIOD seconds.
    A result is (rcode text, frozenset of addresses); None when lost."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(PROBE_TIMEOUT)
        self.query = bytearray(dns.message.make_query(NAME, "A").to_wire())
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.last = (0.0, None)
        self.watch = None
        self.answers = 0
        self.lost = 0
        self.gaps = []  # between consecutive answers, while watching

    def run(self):
        qid = random.randrange(65536)
        prev = None
        while not self.stopping.is_set():
            qid = (qid + 1) & 0xFFFF
            struct.pack_into("!H", self.query, 0, qid)
            try:
                self.sock.send(self.query)
                result = None
                while True:
                    wire = self.sock.recv(4096)
                    t = time.monotonic()
                    msg = dns.message.from_wire(wire)
                    if msg.id == qid:
                        break
                result = (dns.rcode.to_text(msg.rcode()),
                          frozenset(gslbtest.addresses(msg,
                                                       dns.rdatatype.A)))
            except socket.timeout:
                t = time.monotonic()
            except OSError:
                if self.stopping.is_set():
                    return
                raise
            with self.lock:
                if result is None:
                    self.lost += 1
                else:
                    self.answers += 1
                    self.last = (t, result)
                    w = self.watch
                    if w is not None:
                        if prev is not None and not w.done.is_set():
                            self.gaps.append(t - prev)
                        w.feed(t, result)
                    prev = t
            time.sleep(PROBE_PERIOD)

    def arm(self, watch):
        with self.lock:
            self.watch = watch

    def disarm(self):
        with self.lock:
            self.watch = None

    def wait_for(self, want, timeout, what):
        """Until the latest answers (for 50 ms) are want."""
        deadline = time.monotonic() + timeout
        since = None
        while time.monotonic() < deadline:
            with self.lock:
                result = self.last[1]
            if result == want:
                if since is None:
                    since = time.monotonic()
                elif time.monotonic() - since >= 0.05:
                    return
            else:
                since = None
            time.sleep(0.005)
        raise RuntimeError("timed out after %.0f s waiting for %s (last "
                           "answer: %r)" % (timeout, what, result))

    def close(self):
        self.stopping.set()
        self.join(2)
        self.sock.close()


# ---------------------------------------------------------------------------
# One scenario


def overwatch_template(sc, backends):
    """The overwatch's config for gslbtest.Daemon ($port etc. left)."""
    if sc.checker == "agent" and sc.validation is None:
        validation = "{ enabled: false }"
    else:
        validation = "{ enabled: true }"
    out = [
        "mode: overwatch",
        "logging: { level: info, format: text }",
        "dns:",
        '  listen_address: "127.0.0.1:$port"',
        "  workers: 1",
        "  zones: [{ name: %s, nameservers: [{ name: ns1.%s, "
        "addresses: [127.0.0.1] }] }]" % (gslbtest.ZONE, gslbtest.ZONE),
        "overwatch:",
        "  identity: { node_id: failover-bench }",
    ] + gslbtest.GOSSIP_BLOCK + [
        "  validation: %s" % validation,
        '  agent_tokens: { %s: "%s" }' % (NAME, TOKEN),
        '  data_dir: "$state_dir"',
        "api:",
        "  enabled: true",
        '  address: "127.0.0.1:$api_port"',
        '  socket: "$socket"',
        "regions:",
        "  - name: %s" % REGION,
        "    servers:",
    ]
    if sc.checker == "overwatch":
        for b in backends:
            out.append("      - { address: %s, port: %d, service: %s }"
                       % (b.ip, b.port, NAME))
        out.append("    health_check: %s" % sc.check.yaml())
    else:
        # A region needs a server: one of another name, which no answer
        # of app.gslb.test holds. The agents' backends are in this region.
        out.append("      - { address: %s, port: 9, service: static.%s }"
                   % (backends[0].ip.rsplit(".", 1)[0] + ".250",
                      gslbtest.ZONE))
        if isinstance(sc.validation, Check):
            out.append("    health_check: %s" % sc.validation.yaml())
    out += ["domains:",
            "  - { name: %s, regions: [%s], max_records: 8 }"
            % (NAME, REGION)]
    if sc.checker == "agent":
        out.append("  - { name: static.%s, regions: [%s] }"
                   % (gslbtest.ZONE, REGION))
    return "\n".join(out) + "\n"


class Stats:
    def __init__(self, sc, samples, missed, anomalies, gaps, lost, answers):
        self.sc = sc
        self.samples = sorted(samples)
        self.missed = missed
        self.anomalies = anomalies
        self.gaps = gaps
        self.lost = lost
        self.answers = answers
        self.bound, self.bound_text = sc.bound()

    def pct(self, p):
        """Nearest rank."""
        s = self.samples
        return s[max(0, math.ceil(len(s) * p / 100) - 1)]

    def met(self):
        return (self.missed == 0 and bool(self.samples) and
                self.samples[-1] <= self.bound)


def run_scenario(sc, reps, bins, workdir, subnet, cleanups):
    """Runs sc reps times; returns its Stats."""
    d = os.path.join(workdir, sc.key)
    os.makedirs(d)
    backends = []
    for i in range(3):
        ip = "127.77.%d.%d" % (subnet, i + 1)
        backends.append(Backend(ip, gslbtest.free_port((ip,)), d))
    for b in backends:
        cleanups.append(b.close)
        b.start()

    os.environ["GSLB_OVERWATCHD"] = bins["overwatchd"]
    ow = gslbtest.Daemon(overwatch_template(sc, backends),
                         name="failover-bench-%s" % sc.key)
    cleanups.append(lambda: stop_daemon(ow, d))
    ow.start()

    agents = []
    if sc.checker == "agent":
        for i, b in enumerate(backends):
            a = Agent(bins["agentd"], d, "bench-%d" % (i + 1), b,
                      ow.gossip_port, sc.check)
            cleanups.append(a.close)
            a.start()
            agents.append(a)

    prober = Prober(ow.port)
    cleanups.append(prober.close)
    prober.start()
    full = ("NOERROR", frozenset(b.ip for b in backends))
    prober.wait_for(full, 30, "all three backends in the answers")
    # Past the first verdicts (success_threshold checks; the overwatch's
    # own too), so that the first repetition starts like the others.
    interval = sc.check.interval
    warm = interval * (sc.check.successes + 1)
    if isinstance(sc.validation, Check):
        warm = max(warm, sc.validation.interval *
                   (sc.validation.successes + 1) + 0.5)
    time.sleep(warm)
    prober.wait_for(full, 30, "all three backends in the answers")

    bound, _ = sc.bound()
    wait = 3 * bound + 5
    phase = interval
    if isinstance(sc.validation, Check):
        # The overwatch's own check decides when it beats the agent.
        v = sc.validation
        wait = max(wait, 3 * (v.interval * v.failures + v.timeout) + 5)
        phase = v.interval
    samples, missed, anomalies = [], 0, 0
    gaps_at_change = []
    for rep in range(reps):
        victim = rep % 3
        b = backends[victim]
        after = ("NOERROR", frozenset(x.ip for x in backends if x is not b))
        # A random phase within the interval of the check that decides
        # (the drain: within a second).
        time.sleep(0.2 + random.uniform(0, 1.0 if sc.failure == "drain"
                                        else phase))
        w = Watch(0.0, full, after)
        prober.arm(w)
        t0 = time.monotonic()
        w.t0 = t0
        wall0 = time.time()
        if sc.failure == "kill":
            b.kill()
        elif sc.failure == "hang":
            b.send(signal.SIGSTOP)
        else:
            agents[victim].send(signal.SIGUSR1)
        seen = w.done.wait(wait)
        prober.disarm()
        anomalies += w.anomalies
        if seen:
            took = w.t_after - t0
            samples.append(took)
            gap = w.t_after - max(w.t_before or t0, t0)
            gaps_at_change.append(gap)
            log("%s %2d/%d: %s %s at %s: %.3f s (resolution %.1f ms)%s" % (
                sc.key, rep + 1, reps, sc.failure, b.ip,
                time.strftime("%H:%M:%S", time.gmtime(wall0)) +
                ".%03dZ" % (wall0 % 1 * 1000), took, gap * 1000,
                "" if took <= bound else "  (over the bound, %.3f s)"
                % bound))
        else:
            missed += 1
            log("%s %2d/%d: %s %s: no answer without it within %.0f s"
                "%s" % (sc.key, rep + 1, reps, sc.failure, b.ip,
                        wait,
                        "" if w.first_anomaly is None else
                        " (first odd answer: %r)" % (w.first_anomaly,)))
        if w.anomalies:
            log("%s %2d/%d: %d odd answers meanwhile, the first %r"
                % (sc.key, rep + 1, reps, w.anomalies, w.first_anomaly))
        # Restore, and wait until it is back.
        if sc.failure == "kill":
            b.start()
        elif sc.failure == "hang":
            b.send(signal.SIGCONT)
        else:
            agents[victim].send(signal.SIGUSR2)
        restore = (sc.validation.interval * (sc.validation.successes + 1)
                   if isinstance(sc.validation, Check) else 0)
        prober.wait_for(full, 30 + restore, "%s back in the answers" % b.ip)

    with prober.lock:
        lost, answers = prober.lost, prober.answers
        gaps = sorted(prober.gaps)
    prober.close()
    for a in agents:
        a.close()
    stop_daemon(ow, d)
    for b in backends:
        b.close()
    return Stats(sc, samples, missed, anomalies,
                 {"median": gaps[len(gaps) // 2] if gaps else 0,
                  "max": gaps[-1] if gaps else 0,
                  "max_at_change": max(gaps_at_change, default=0)},
                 lost, answers)


def stop_daemon(ow, keep_dir):
    """Stops the overwatch; its log goes to keep_dir."""
    if ow.proc is None:
        return
    try:
        if ow.running():
            ow.stop()
    except AssertionError as e:
        log(str(e).splitlines()[0])
    finally:
        if os.path.exists(ow.log_path):
            shutil.copy(ow.log_path, os.path.join(keep_dir, "overwatch.log"))
        ow.cleanup()
        ow.proc = None


# ---------------------------------------------------------------------------
# Output


def fmt(s):
    """Seconds as milliseconds."""
    return "%.1f" % (s * 1000)


def table(stats):
    rows = [
        "| scenario | checked by | failure | check: interval / timeout / "
        "failure / success threshold | overwatch validation | n | min ms | "
        "median ms | p95 ms | max ms | bound | met |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for st in stats:
        sc = st.sc
        failure = {"kill": "kill (connection refused)",
                   "hang": "hang (checks time out)",
                   "drain": "drain (SIGUSR1)"}[sc.failure]
        checker = ("gslb-overwatchd" if sc.checker == "overwatch"
                   else "gslb-agentd")
        n = len(st.samples)
        n_text = "%d" % n if not st.missed else "%d of %d" % (
            n, n + st.missed)
        if st.samples:
            nums = [fmt(st.samples[0]), fmt(st.pct(50)), fmt(st.pct(95)),
                    fmt(st.samples[-1])]
        else:
            nums = ["-"] * 4
        bound = st.bound_text
        if sc.failure != "drain":
            bound += " = %.1f s" % st.bound
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                    % (sc.key, checker, failure, sc.check.text(),
                       sc.validation_text(), n_text, " | ".join(nums),
                       bound, "yes" if st.met() else "**no**"))
    return "\n".join(rows) + "\n"


def command_output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    model = ""
    for line in command_output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
            break
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    return "%d CPUs (%s), %s RAM, Linux %s" % (
        os.cpu_count(), model or "unknown model", mem, platform.release())


def versions(bins):
    commit = command_output(["git", "-C", SRC, "rev-parse", "--short",
                             "HEAD"]) or "unknown"
    if commit != "unknown" and command_output(
            ["git", "--no-optional-locks", "-C", SRC, "status",
             "--porcelain", "--untracked-files=no", "--", ".",
             ":(exclude)docs"]):
        commit += " + uncommitted changes"
    cflags = []
    makefile = os.path.join(os.path.dirname(os.path.dirname(
        bins["overwatchd"])), "Makefile")
    try:
        with open(makefile) as f:
            for line in f:
                m = re.match(r"(CFLAGS|GSLB_CFLAGS) = (.*)", line)
                if m:
                    cflags.append(m.group(2).strip())
    except OSError:
        pass
    return ("%s; %s (commit %s, CFLAGS `%s`); Python %s, dnspython %s" % (
        command_output([bins["overwatchd"], "-V"]).splitlines()[0],
        command_output([bins["agentd"], "-V"]).splitlines()[0], commit,
        " ".join(cflags) or "unknown", platform.python_version(),
        dns.version.version))


def cpu_times():
    """(busy, niced busy, total) clock ticks of all CPUs, /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq + steal, nice,
            sum(v))


def paragraph(text):
    """text wrapped at 79 columns."""
    return textwrap.fill(" ".join(text.split()), width=79,
                         break_long_words=False, break_on_hyphens=False)


def measured(busy, nice, total, load):
    """When, where, and how busy the machine was."""
    text = ("Measured %s on %s. During the run %.0f%% of the machine's CPU "
            "time was busy (this benchmark included)"
            % (time.strftime("%Y-%m-%d", time.gmtime()), machine(),
               100 * busy / max(total, 1)))
    if nice >= total / 100:
        text += ("; processes at a positive nice value (other work on "
                 "the machine, such as a fuzzer at nice 19) took %.0f%% of "
                 "it" % (100 * nice / max(total, 1)))
    return text + "; load average %.2f at the start, %.2f at the end." % load


def section(stats, args, bins, elapsed, load, cpu):
    scen = [st.sc for st in stats]
    gap_med = max(st.gaps["median"] for st in stats) * 1000
    gap_max = max(st.gaps["max_at_change"] for st in stats) * 1000
    stall = max(st.gaps["max"] for st in stats) * 1000
    anomalies = sum(st.anomalies for st in stats)
    lost = sum(st.lost for st in stats)
    answers = sum(st.answers for st in stats)
    busy, nice, total = (b - a for a, b in zip(cpu[0], cpu[1]))
    repro = "tests/bench/failover-bench.py -b /tmp/build-bench -n %d" % \
        args.n
    if scen == SCENARIOS:
        repro += " -s all"
    elif args.scenarios:
        repro += " -s %s" % ",".join(sc.key for sc in scen)
    repro += " --write"
    checkers = set(sc.checker for sc in scen)
    out = [
        BEGIN_MARK,
        "## Failover: from a backend's death or a drain to the DNS answers",
        "",
        paragraph(measured(busy, nice, total, load)),
        paragraph("Versions: %s." % versions(bins)),
        "",
    ]
    method = (
        "**Method.** Each scenario runs its own gslb-overwatchd on "
        "127.0.0.1 (DNSSEC on, as by default; `dns.workers: 1`; logging "
        "at info) serving `app.gslb.test`, a round-robin name of three "
        "HTTP backends with `max_records: 8`, so that every answer holds "
        "every backend DNS considers healthy and the first answer without "
        "one is exactly when DNS changed. Each backend is a Python HTTP "
        "server of its own on its own loopback address, answering `GET "
        "/health` with 200 and keeping connections alive. A prober thread "
        "sends `app.gslb.test A` over UDP every millisecond, waits for "
        "each answer and timestamps it with `time.monotonic()` (median gap "
        "between answers %.1f ms; between the last answer with the backend "
        "and the first without it at most %.1f ms: the resolution of a "
        "sample; the longest gap while waiting for a change was %.0f ms, "
        "which shows how long processes here can wait for a CPU). The "
        "failure is triggered at a uniformly random moment "
        "within one check interval, at the earliest 0.2 s after the "
        "backend is back in the answers, so that every phase of the check "
        "schedule is sampled; a sample is the time from just before the "
        "trigger to the first answer holding the other two backends only. "
        "**kill**: SIGKILL of the backend's process (the kernel closes its "
        "sockets: new connections are refused, a kept one ends); "
        "**hang**: SIGSTOP of it (the kernel still accepts connections, "
        "nothing answers, every check runs into its timeout); **drain**: "
        "SIGUSR1 to the agent (docs/agent.md). Then the backend is "
        "restored (started again, SIGCONT, SIGUSR2) and the next "
        "repetition waits until it is back in the answers; the victim "
        "rotates over the three backends."
        % (gap_med, gap_max, stall))
    if "overwatch" in checkers:
        method += (
            " In the gslb-overwatchd rows the overwatch checks the backends "
            "itself (`regions[].health_check`, type http, path /health).")
    if "agent" in checkers:
        method += (
            " In the gslb-agentd rows three real agents, one per backend, "
            "check them (type http, path /health, the settings shown) and "
            "report over the sealed gossip protocol to the overwatch "
            "(heartbeat at its default, 10 s × 3: a change of state is sent "
            "at once, not with the heartbeat), whose own validation is off "
            "unless the row says otherwise, so that the agents' reports "
            "alone decide; a drain beats validation, which stays on for it "
            "as by default.")
    method += (
        " Bounds from docs/ARCHITECTURE.md and docs/configuration.md: "
        "interval × failure_threshold + 100 ms, plus the check timeout "
        "when the checks hang, with the agent's settings for an agent's "
        "check (docs/agent.md gives the agent's path no bound of its own; "
        "it sends a change at once); a drain within 1 s. p95 is the "
        "nearest rank; \"met\" means every repetition was observed and "
        "within the bound. %d answers in all, %d queries unanswered within "
        "%.0f ms, %d answers other than the full set or the set without "
        "the victim." % (answers, lost, PROBE_TIMEOUT * 1000, anomalies))
    out += [paragraph(method), "", table(stats).rstrip("\n"), ""]
    for p in reading(stats):
        out += [paragraph(p), ""]
    out += [
        paragraph(
            "**Reproduce** (a release build, i.e. without "
            "`--enable-developer`, outside the source tree; this run took "
            "%.0f s):" % elapsed),
        "",
        "```sh",
        "mkdir -p /tmp/build-bench && cd /tmp/build-bench && "
        "/path/to/opengslb/configure && make",
        "cd /path/to/opengslb && %s" % repro,
        "```",
        END_MARK,
    ]
    return "\n".join(out) + "\n"


def reading(stats):
    """Paragraphs on the results."""
    over = [st for st in stats if not st.met()]
    if not over:
        first = "**Reading the numbers.** Every sample is within its bound."
    else:
        first = ("**Reading the numbers.** Over the bound: %s."
                 % "; ".join("%s (%d of %d samples%s, the worst %.0f ms over "
                             "its %.1f s)"
                             % (st.sc.key,
                                sum(1 for x in st.samples if x > st.bound)
                                + st.missed,
                                len(st.samples) + st.missed,
                                ", %d not observed" % st.missed
                                if st.missed else "",
                                (st.samples[-1] - st.bound) * 1000
                                if st.samples else float("nan"),
                                st.bound)
                             for st in over))
        stall = max(st.gaps["max"] for st in stats)
        if stall > 0.05 and any(not isinstance(st.sc.validation, Check)
                                for st in over):
            first += (" The prober once waited %.0f ms between two answers "
                      "here: processes on this machine can wait that long "
                      "for a CPU, which the bound's 100 ms does not allow "
                      "for." % (stall * 1000))
    first += (
        " A check-driven failover takes failure_threshold − 1 intervals, "
        "plus the wait for the next scheduled check (uniform over one "
        "interval, since the failure falls at a random phase), plus the "
        "timeout when the checks hang, plus the snapshot rebuild (at most "
        "every 20 ms); so each row spreads over about one interval and its "
        "max approaches the bound from below.")
    if any(st.sc.failure == "drain" for st in stats):
        first += (
            " A drain needs no check: the agent sends its state at once and "
            "the overwatch rebuilds the answers, so it takes milliseconds.")
    out = [first]
    for st in stats:
        v = st.sc.validation
        if st.sc.checker != "agent" or not isinstance(v, Check):
            continue
        out.append(
            "`%s` is the gslb-agentd kill row with the overwatch's own "
            "validation on, as it is by default: the overwatch's verdict "
            "(healthy until its own check has failed %d times in a row) "
            "beats the agent's claim (docs/ARCHITECTURE.md: override > "
            "draining > validation > stale > agent claim), but a claim that "
            "disputes it makes the overwatch check again at once and then a "
            "second apart until its threshold decides. So the failure "
            "reaches DNS %d s or so after the agent reports it, not at the "
            "pace of the overwatch's %g s interval (%d × %g s)."
            % (st.sc.key, v.failures, v.failures - 1, v.interval,
               v.failures, v.interval))
    return out


def write_doc(text):
    path = os.path.join(SRC, "docs", "benchmarks.md")
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except FileNotFoundError:
        old = None
    if old is None:
        new = ("# Benchmarks\n\nNumbers measured on real machines; each "
               "section says how to reproduce it.\n\n" + text)
    else:
        begin = old.find("<!-- failover-bench:begin")
        end = old.find(END_MARK, begin if begin >= 0 else 0)
        if begin >= 0 and end >= 0:
            new = old[:begin] + text.rstrip("\n") + \
                old[end + len(END_MARK):]
        else:
            new = old.rstrip("\n") + "\n\n" + text
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)
    log("wrote %s" % path)


# ---------------------------------------------------------------------------


def binaries(build):
    build = os.path.abspath(build)
    out = {
        "overwatchd": os.environ.get("GSLB_OVERWATCHD") or os.path.join(
            build, "overwatchd", "gslb-overwatchd"),
        "agentd": os.environ.get("GSLB_AGENTD") or os.path.join(
            build, "agentd", "gslb-agentd"),
    }
    for what, path in out.items():
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            die("no gslb-%s at %s (give -b BUILD_DIR)" % (what, path))
        out[what] = os.path.realpath(path)
    return out


def on_term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Needs " + __doc__.split("\nNeeds ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=__doc__.split("Usage:\n", 1)[1].split("\n\n")[0].strip())
    ap.add_argument("-b", "--build", default=".",
                    help="build directory (default: .)")
    ap.add_argument("-n", type=int, default=20,
                    help="repetitions per scenario (default 20)")
    ap.add_argument("-s", "--scenarios", default="",
                    help="comma-separated scenarios, 'all', or 'list'")
    ap.add_argument("--write", action="store_true",
                    help="write the section of docs/benchmarks.md")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory")
    args = ap.parse_args()

    if args.scenarios == "list":
        for sc in SCENARIOS:
            print("%-24s %-9s %-5s check %s, validation %s, bound %s"
                  % (sc.key, sc.checker, sc.failure, sc.check.text(),
                     sc.validation_text(), sc.bound()[1]))
        return 0
    if args.n < 1:
        die("-n must be at least 1")
    if args.scenarios in ("all", None, ""):
        chosen = list(SCENARIOS)
    else:
        by_key = {sc.key: sc for sc in SCENARIOS}
        chosen = []
        for key in args.scenarios.split(","):
            if key not in by_key:
                die("unknown scenario %r (-s list shows them)" % key)
            chosen.append(by_key[key])
    bins = binaries(args.build)

    signal.signal(signal.SIGTERM, on_term)
    # Also when started in the background, where SIGINT is ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="failover-bench-"))
    cleanups = []
    stats = []
    started = time.monotonic()
    load0 = os.getloadavg()[0]
    cpu0 = cpu_times()
    # Our own 127.77.x.0/24 per scenario, clear of the integration tests'.
    base = random.randrange(0, 200)
    try:
        for i, sc in enumerate(chosen):
            log("%s: %s checks (%s), %s, %d repetitions; bound %s"
                % (sc.key, sc.checker, sc.check.text(), sc.failure, args.n,
                   sc.bound()[1]))
            stats.append(run_scenario(sc, args.n, bins, workdir, base + i,
                                      cleanups))
            while cleanups:  # all done by run_scenario; drop the handles
                cleanups.pop()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        for f in reversed(cleanups):
            try:
                f()
            except Exception as e:  # keep cleaning up
                log("cleanup: %s" % e)
        if args.keep:
            log("work directory kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    load1 = os.getloadavg()[0]
    cpu1 = cpu_times()

    sys.stdout.write(table(stats))
    print("prober: %d answers, %d queries lost; median gap between answers "
          "%.1f ms, longest %.1f ms, at the change at most %.1f ms; %d odd "
          "answers"
          % (sum(st.answers for st in stats), sum(st.lost for st in stats),
             max(st.gaps["median"] for st in stats) * 1000,
             max(st.gaps["max"] for st in stats) * 1000,
             max(st.gaps["max_at_change"] for st in stats) * 1000,
             sum(st.anomalies for st in stats)))
    for st in stats:
        if st.anomalies or st.missed:
            print("%s: %d odd answers, %d repetitions not observed"
                  % (st.sc.key, st.anomalies, st.missed))
    log("measured in %.0f s" % elapsed)
    if args.write:
        write_doc(section(stats, args, bins, elapsed, (load0, load1),
                          (cpu0, cpu1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
