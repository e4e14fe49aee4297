#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults under load, as an operator would notice them: kill -9 in the
middle of a storm of API writes, backends flapping while dnsperf queries
for a minute, SIGHUP every second under load, a state directory that is
or turns read-only, and garbage at line rate on the gossip and API ports.

Real daemons, real dnsperf (those tests are skipped without it), real
HTTP backends on loopback. Nothing here asserts a time: loads are rate
limited so that a sanitizer build keeps up, and every wait is generous.

Optional environment:
  GSLB_TEST_FLAP_SECONDS  how long backends flap under load (default 60)
"""
import http.client
import itertools
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import dns.exception

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gslbtest  # noqa: E402
from backends import HTTPBackend  # noqa: E402
from gslbtest import (FAILOVER_PRIMARY, FAILOVER_SECONDARY,  # noqa: E402
                      RR_SERVERS, Domain, addresses, rcode_text, timeout_s)

DNSPERF = shutil.which("dnsperf")
NO_DNSPERF = "dnsperf is not installed (./bootstrap installs it)"
# Under valgrind the daemon answers a few hundred queries a second: the
# load tests would measure valgrind. The sanitizer build runs them.
UNDER_WRAPPER = "under %s: the load tests run in the sanitizer build" % (
    os.environ.get("GSLB_TEST_WRAPPER", "").split(" ")[0])
# Under a wrapper such as valgrind everything stretches (as in
# test_health.py).
SCALE = int(os.environ.get(
    "GSLB_TEST_SCALE", "4" if os.environ.get("GSLB_TEST_WRAPPER") else "1"))
FLAP_SECONDS = float(os.environ.get("GSLB_TEST_FLAP_SECONDS", "60"))
# Queries per second dnsperf sends: a sanitizer build answers many times
# more, so a lost query is the daemon's fault, not the rate's.
RATE = 3000

FAILOVER = "failover.gslb.test"
RR = "rr.gslb.test"


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def override_path(service, address):
    return "/api/v1/overrides/%s/%s" % (service, address)


def override_body(reason, healthy=False):
    return {"healthy": healthy, "reason": reason, "source": "faults"}


# ---------------------------------------------------------------------------
# dnsperf and /metrics.

class DNSPerf:
    """dnsperf in the background: queries [(name, type)] in turn at rate
    queries a second for seconds, against daemon."""

    def __init__(self, daemon, queries, seconds, rate=RATE):
        self.seconds = seconds
        fd, path = tempfile.mkstemp(prefix="queries-", suffix=".txt",
                                    dir=daemon.dir)
        with os.fdopen(fd, "w") as f:
            f.write("".join("%s %s\n" % q for q in queries))
        self.proc = subprocess.Popen(
            [DNSPERF, "-s", daemon.host, "-p", str(daemon.port), "-d", path,
             "-l", "%g" % seconds, "-Q", str(rate)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def result(self):
        """The summary: sent, completed, lost, rcodes {name: count}, and
        the output itself."""
        try:
            out, _ = self.proc.communicate(
                timeout=self.seconds + 6 * timeout_s())
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            raise AssertionError("dnsperf did not finish:\n%s" % out)
        res = {"output": out, "rcodes": {}}
        for key, label in (("sent", "Queries sent"),
                           ("completed", "Queries completed"),
                           ("lost", "Queries lost")):
            m = re.search(r"%s:\s+(\d+)" % label, out)
            if m is None:
                raise AssertionError("no %r in dnsperf's output:\n%s"
                                     % (label, out))
            res[key] = int(m.group(1))
        m = re.search(r"Response codes:\s+(.*)", out)
        if m is not None:
            res["rcodes"] = {code: int(n) for code, n in
                             re.findall(r"([A-Z]+) (\d+) \(", m.group(1))}
        return res

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def scrape(daemon):
    """/metrics as {(name, ((label, value), ...)): value}."""
    status, _, body = daemon.http("/metrics", port=daemon.metrics_port,
                                  timeout=timeout_s())
    assert status == 200, status
    samples = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        m = re.match(r"(\w+)(?:\{(.*)\})?$", key)
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                         m.group(2) or "")))
        samples[(m.group(1), labels)] = float(value)
    return samples


def total(samples, name, **labels):
    """The sum of opengslb_NAME's samples whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, have), v in samples.items()
               if n == "opengslb_" + name and want <= set(have))


class FaultCase(unittest.TestCase):
    """Daemons made by daemon() are killed and removed after the test,
    their logs printed first if it failed."""

    def run(self, result=None):
        self.daemons = []
        failures = (len(result.failures) + len(result.errors)
                    if result is not None else 0)
        try:
            return super().run(result)
        finally:
            failed = result is not None and \
                len(result.failures) + len(result.errors) > failures
            for d in self.daemons:
                d.kill()
                if failed:
                    sys.stderr.write("\n%s: %s\n"
                                     % (self.id(), d.describe()))
                d.cleanup()

    def daemon(self, template, name):
        d = gslbtest.Daemon(template, name=name)
        self.daemons.append(d)
        return d

    def assertClean(self, res, what):
        """dnsperf had every query answered, and none with SERVFAIL."""
        summary = ("%s: sent %d, completed %d, lost %d, rcodes %r"
                   % (what, res["sent"], res["completed"], res["lost"],
                      res["rcodes"]))
        print(summary)
        self.assertGreater(res["sent"], 0, res["output"])
        self.assertEqual(res["rcodes"].get("SERVFAIL", 0), 0, summary)
        self.assertEqual(res["lost"], 0, summary)
        self.assertEqual(res["completed"], res["sent"], summary)
        self.assertEqual(res["rcodes"], {"NOERROR": res["sent"]}, summary)


# ---------------------------------------------------------------------------
# 1. kill -9 in the middle of a storm of writes.

STORM = "storm.gslb.test"
STORM_SERVERS = tuple("192.0.2.%d" % (100 + i) for i in range(16))
ADDED = "added.gslb.test"
ADDED_ADDRESS = "192.0.2.151"


def storm_config():
    return gslbtest.config(domains=[
        Domain(STORM, "round-robin", ["eu-west"],
               [("eu-west", a, None) for a in STORM_SERVERS],
               max_records=32),
        Domain(ADDED, "round-robin", ["us-east"],
               [("us-east", "192.0.2.150", None)]),
    ], api=True)


class OverrideWriter(threading.Thread):
    """PUTs overrides on one backend over TCP, one after the other, until
    a request fails (the daemon is gone). acked: the reasons acknowledged,
    in order; pending: the one sent last and never answered, if any."""

    def __init__(self, daemon, address, tag, healthy):
        super().__init__(daemon=True)
        self.d = daemon
        self.address = address
        self.tag = tag
        self.healthy = healthy  # reason -> healthy, shared
        self.acked = []
        self.pending = None
        self.unexpected = None

    def run(self):
        for i in itertools.count():
            reason = "%s-%d" % (self.tag, i)
            healthy = random.random() < 0.5
            self.healthy[reason] = healthy
            self.pending = reason
            try:
                status, _, body = self.d.http(
                    override_path(STORM, self.address), "PUT",
                    override_body(reason, healthy), timeout=timeout_s())
                doc = json.loads(body) if status == 200 else None
            except (OSError, http.client.HTTPException, ValueError):
                return  # no complete answer: not acknowledged
            if doc is None or doc.get("reason") != reason:
                self.unexpected = (status, body)
                return
            self.acked.append(reason)
            self.pending = None


class ServerWriter(threading.Thread):
    """POSTs new servers over the UNIX socket until a request fails; the
    ports come from ports (shared). acked and pending as above."""

    def __init__(self, daemon, ports):
        super().__init__(daemon=True)
        self.d = daemon
        self.ports = ports
        self.acked = []
        self.pending = None
        self.unexpected = None

    def run(self):
        while True:
            port = next(self.ports)
            self.pending = port
            try:
                status, _, body = self.d.socket_http(
                    "/api/v1/servers", "POST",
                    {"service": ADDED, "address": ADDED_ADDRESS,
                     "port": port}, timeout=timeout_s())
                doc = json.loads(body) if status == 201 else None
            except (OSError, http.client.HTTPException, ValueError):
                return
            if doc is None or doc["server"]["port"] != port:
                self.unexpected = (status, body)
                return
            self.acked.append(port)
            self.pending = None


class KillStorm(FaultCase):
    """kill -9 while many clients write: every write answered with a 2xx
    is there after the restart, in the listings, in the audit log and in
    DNS; a write in flight may or may not be."""

    ROUNDS = 5
    ACKS_BEFORE_KILL = 150

    def all_audit(self, d, action):
        entries = []
        while True:
            status, _, body = d.socket_http(
                "/api/v1/audit-logs?action=%s&limit=1000&offset=%d"
                % (action, len(entries)), timeout=timeout_s())
            self.assertEqual(status, 200, body)
            doc = json.loads(body)
            entries += doc["entries"]
            if len(entries) >= doc["total"] or not doc["entries"]:
                return entries

    def test_kill_9_loses_no_acknowledged_write(self):
        d = self.daemon(storm_config(), "killstorm")
        d.start()
        healthy = {}  # reason -> healthy, every override write
        current = dict.fromkeys(STORM_SERVERS)  # address -> reason
        acked_reasons, acked_ports, sent_ports = set(), set(), set()
        ports = itertools.count(1024)
        stats = {"acked": 0, "in_flight": 0, "in_flight_kept": 0}
        for rnd in range(self.ROUNDS):
            overriders = [OverrideWriter(d, a, "r%d-%s" % (rnd, a), healthy)
                          for a in STORM_SERVERS]
            adders = [ServerWriter(d, ports) for _ in range(4)]
            writers = overriders + adders
            for w in writers:
                w.start()
            deadline = time.monotonic() + 6 * timeout_s()
            while (sum(len(w.acked) for w in writers) <
                   self.ACKS_BEFORE_KILL and time.monotonic() < deadline):
                time.sleep(0.01)
            time.sleep(random.uniform(0, 0.2))
            d.kill()
            for w in writers:
                w.join(timeout_s())
                self.assertFalse(w.is_alive(), "a writer hangs")
                self.assertIsNone(w.unexpected, "unexpected answer")
            acks = sum(len(w.acked) for w in writers)
            self.assertGreater(acks, 0, "nothing acknowledged")
            stats["acked"] += acks
            d.start()

            # The overrides: the last acknowledged one per backend, or the
            # one in flight after it.
            listed = {o["address"]: o for o in json.loads(
                d.socket_http("/api/v1/overrides")[2])["overrides"]}
            self.assertLessEqual(set(listed), set(STORM_SERVERS))
            for w in overriders:
                allowed = {w.acked[-1] if w.acked else current[w.address]}
                if w.pending is not None:
                    allowed.add(w.pending)
                    stats["in_flight"] += 1
                got = listed.get(w.address, {}).get("reason")
                self.assertIn(got, allowed, "override of %s after kill %d"
                              % (w.address, rnd + 1))
                if got is not None:
                    self.assertEqual(listed[w.address]["healthy"],
                                     healthy[got])
                    if got == w.pending:
                        stats["in_flight_kept"] += 1
                current[w.address] = got
                acked_reasons.update(w.acked)

            # The servers added: every acknowledged one, and nothing that
            # was never sent.
            for w in adders:
                acked_ports.update(w.acked)
                sent_ports.update(w.acked)
                if w.pending is not None:
                    sent_ports.add(w.pending)
                    stats["in_flight"] += 1
            servers = json.loads(d.socket_http("/api/v1/servers")[2])
            have = {s["port"] for s in servers["servers"]
                    if s["source"] == "api"}
            self.assertLessEqual(acked_ports, have, "acknowledged servers "
                                 "lost at kill %d" % (rnd + 1))
            self.assertLessEqual(have, sent_ports)
            stats["in_flight_kept"] += len(
                have & {w.pending for w in adders})

            # The audit log has an entry for each, in the same transaction.
            logged = {e["after"]["reason"]
                      for e in self.all_audit(d, "override.set")}
            self.assertLessEqual(acked_reasons, logged)
            self.assertLessEqual({r for r in current.values() if r},
                                 logged)
            logged_ports = {int(e["resource"].rsplit(":", 1)[1])
                            for e in self.all_audit(d, "server.add")}
            self.assertEqual(logged_ports, have)

            # DNS answers follow what the database holds.
            up = {a for a, r in current.items() if r is None or healthy[r]}
            msg = d.query(STORM)
            if up:
                self.assertEqual(rcode_text(msg), "NOERROR", str(msg))
                self.assertEqual(set(addresses(msg, "A")), up)
            else:
                self.assertEqual(rcode_text(msg), "SERVFAIL", str(msg))
        print("%d kills: %d writes acknowledged, all kept; %d unanswered "
              "at the kills, %d of them kept; %d overrides, %d API servers "
              "at the end"
              % (self.ROUNDS, stats["acked"], stats["in_flight"],
                 stats["in_flight_kept"],
                 len([r for r in current.values() if r]), len(have)))
        d.stop()


# ---------------------------------------------------------------------------
# 2. Flapping backends under load.

FLAP = "flap.gslb.test"
HALF = "half.gslb.test"


class FlakyHTTP:
    """An HTTP backend on ip that refuses connections while down; up, it
    answers each request 200 "ok" and closes the connection."""

    def __init__(self, ip):
        self.ip = ip
        self.port = 0
        self.sock = None
        self.set_up(True)

    def set_up(self, up):
        if not up:
            s, self.sock = self.sock, None
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            return
        if self.sock is not None:
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((self.ip, self.port))
        except OSError:
            s.close()  # the port is taken meanwhile: stay down
            return
        s.listen(64)
        self.port = s.getsockname()[1]
        self.sock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s):
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,),
                             daemon=True).start()

    @staticmethod
    def _answer(conn):
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                             b"Connection: close\r\n\r\nok\n")
            except OSError:
                pass

    def close(self):
        self.set_up(False)


class Flapping(FaultCase):
    """Backends flap between up and down several times a second while
    dnsperf asks for names that always keep one healthy backend: no
    SERVFAIL, no lost query, and every answer holds the healthy backend
    and only backends that exist."""

    def setUp(self):
        super().setUp()
        if DNSPERF is None:
            self.skipTest(NO_DNSPERF)
        if os.environ.get("GSLB_TEST_WRAPPER"):
            self.skipTest(UNDER_WRAPPER)
        # Per name: one backend always up, the others flapping (HTTP 503
        # or connection refused).
        self.steady = {FLAP: HTTPBackend("127.0.0.171"),
                       HALF: HTTPBackend("127.0.0.181")}
        self.flappers = {
            FLAP: [HTTPBackend("127.0.0.172"), HTTPBackend("127.0.0.173"),
                   FlakyHTTP("127.0.0.174")],
            HALF: [HTTPBackend("127.0.0.182"), FlakyHTTP("127.0.0.183")],
        }
        for b in list(self.steady.values()) + \
                [b for bs in self.flappers.values() for b in bs]:
            self.addCleanup(b.close)

    def flap(self, backend, stop, toggles):
        """Takes backend down and up at random moments, 3 to 20 times a
        second."""
        up, n = True, 0
        while not stop.wait(random.uniform(0.05, 0.35)):
            up = not up
            if isinstance(backend, FlakyHTTP):
                backend.set_up(up)
            else:
                backend.set_mode("ok" if up else "error")
            n += 1
        toggles.append(n)
        if isinstance(backend, FlakyHTTP):
            backend.set_up(True)
        else:
            backend.set_mode("ok")

    def validate(self, d, stop, count):
        """What an impatient operator does: re-check everything, often
        (checks run at most once a second by themselves)."""
        while not stop.wait(0.2):
            try:
                status = d.http("/api/v1/overwatch/validate", "POST",
                                timeout=timeout_s())[0]
            except (OSError, http.client.HTTPException):
                continue
            if status == 200:
                count[0] += 1

    def sample(self, d, stop, seen, bad):
        """Asks dnspython what the names answer while dnsperf runs."""
        for n in itertools.cycle((FLAP, HALF)):
            if stop.wait(0.01):
                return
            allowed = {self.steady[n].ip} | {b.ip for b in self.flappers[n]}
            try:
                msg = d.query(n, timeout=timeout_s())
            except (dns.exception.DNSException, OSError) as e:
                bad.append((n, "no answer: %r" % e))
                continue
            got = frozenset(addresses(msg, "A"))
            seen.setdefault(n, {}).setdefault(got, 0)
            seen[n][got] += 1
            if rcode_text(msg) != "NOERROR" or \
                    self.steady[n].ip not in got or not got <= allowed:
                bad.append((n, str(msg)))

    def test_flapping_backends_under_load(self):
        check = ("{ type: http, path: /health, interval: %ds, "
                 "timeout: %dms, failure_threshold: 1, "
                 "success_threshold: 1 }" % (SCALE, 800 * SCALE))
        regions = [(n.split(".")[0], n, check,
                    [(b.ip, b.port) for b in [self.steady[n]] +
                     self.flappers[n]])
                   for n in (FLAP, HALF)]
        d = self.daemon(gslbtest.checked_config(regions, api=True,
                                                metrics=True), "flapping")
        d.start()
        # Every backend up and checked before the flapping starts.
        deadline = time.monotonic() + 3 * timeout_s()
        while time.monotonic() < deadline:
            servers = d.api_json("/api/v1/health/servers")["servers"]
            if all(s["status"] == "healthy" for s in servers):
                break
            time.sleep(0.1)
        self.assertEqual({s["status"] for s in servers}, {"healthy"})
        since = len(d.log_lines())

        stop = threading.Event()
        toggles, validations = [], [0]
        seen, bad = {}, []
        perf = DNSPerf(d, [(FLAP, "A"), (HALF, "A")], FLAP_SECONDS)
        self.addCleanup(perf.kill)
        threads = [threading.Thread(target=self.flap, args=(b, stop,
                                                            toggles))
                   for bs in self.flappers.values() for b in bs]
        threads.append(threading.Thread(target=self.validate,
                                        args=(d, stop, validations)))
        threads.append(threading.Thread(target=self.sample,
                                        args=(d, stop, seen, bad)))
        for t in threads:
            t.daemon = True
            t.start()
        try:
            res = perf.result()
        finally:
            stop.set()
            for t in threads:
                t.join(2 * timeout_s())

        self.assertTrue(d.running())
        self.assertClean(res, "dnsperf under flapping for %gs"
                         % FLAP_SECONDS)
        samples = sum(c for per in seen.values() for c in per.values())
        print("%d toggles of %d flapping backends, %d validations, "
              "%d sampled answers (%d wrong), distinct answers: %s"
              % (sum(toggles), len(toggles),
                 validations[0], samples, len(bad),
                 {n: len(per) for n, per in seen.items()}))
        self.assertEqual(bad[:5], [], "%d wrong answers" % len(bad))
        self.assertGreater(samples, 100)

        # The flapping was real: the overwatch saw the backends go down
        # and come back many times, and the steady ones never down.
        transitions = 0
        steady = [b.ip for b in self.steady.values()]
        pattern = re.compile(r"\[health\] (\S+) backend (\S+) port \d+: "
                             r"(healthy|unhealthy)")
        for line in d.log_lines()[since:]:
            m = pattern.search(line)
            if m is not None:
                transitions += 1
                self.assertNotIn(m.group(2), steady, line)
            m = re.search(r"(\d+) more backends changed state", line)
            if m is not None:
                transitions += int(m.group(1))
        m = scrape(d)
        failed = {b.ip: total(m, "health_check_results_total",
                              result="unhealthy",
                              server="%s:%d" % (b.ip, b.port))
                  for b in list(self.steady.values()) +
                  [b for bs in self.flappers.values() for b in bs]}
        print("%d health transitions logged; failed checks per backend: %r"
              % (transitions, failed))
        self.assertGreater(transitions, 20)
        for ip in steady:
            self.assertEqual(failed[ip], 0)
        for n in (FLAP, HALF):
            self.assertGreater(len(seen.get(n, {})), 1,
                               "the answers for %s never changed" % n)
        d.stop()


# ---------------------------------------------------------------------------
# 3. SIGHUP every second under load.

RELOAD_QUERIES = [(RR, "A"), ("weighted.gslb.test", "A"), (FAILOVER, "A"),
                  ("multi.gslb.test", "A"), ("a.b.deep.gslb.test", "A"),
                  ("v6only.gslb.test", "AAAA"), ("mixed.gslb.test", "A"),
                  ("mixed.gslb.test", "AAAA"), ("app.low.test", "A"),
                  (gslbtest.ZONE, "SOA"), (gslbtest.ZONE, "NS")]


def other_config():
    """The test config with other servers and TTLs, serving the same
    names."""
    domains = gslbtest.default_domains()
    for d in domains:
        if d.name == RR:
            d.servers = [("eu-west", a, None)
                         for a in RR_SERVERS[:2] + ("192.0.2.14",)]
        if d.name == "weighted.gslb.test":
            d.ttl = 5
    return gslbtest.config(domains=domains, api=True, metrics=True)


class ReloadStorm(FaultCase):
    """A SIGHUP every second, alternating between two valid configs,
    while dnsperf queries at a fixed rate: nothing lost, no SERVFAIL, and
    every reload completed."""

    RELOADS = 20

    def test_sighup_every_second_drops_no_query(self):
        if DNSPERF is None:
            self.skipTest(NO_DNSPERF)
        if os.environ.get("GSLB_TEST_WRAPPER"):
            self.skipTest(UNDER_WRAPPER)
        configs = [gslbtest.config(api=True, metrics=True), other_config()]
        d = self.daemon(configs[0], "reloadstorm")
        d.start()
        since = len(d.log_lines())
        perf = DNSPerf(d, RELOAD_QUERIES, self.RELOADS + 2)
        self.addCleanup(perf.kill)
        time.sleep(0.5)
        outcomes = []
        for i in range(self.RELOADS):
            start = time.monotonic()
            outcome, logged = d.reload(configs[(i + 1) % 2])
            outcomes.append(outcome)
            self.assertEqual(outcome, "reloaded", logged)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))
        res = perf.result()
        self.assertTrue(d.running())
        self.assertClean(res, "dnsperf over %d reloads" % self.RELOADS)
        done = [line for line in d.log_lines()[since:]
                if gslbtest.RELOADED_LINE in line]
        self.assertEqual(len(done), self.RELOADS)
        self.assertNotIn(gslbtest.RELOAD_FAILED_LINE, d.log())
        m = scrape(d)
        self.assertEqual(total(m, "config_reloads_total", result="success"),
                         self.RELOADS)
        self.assertEqual(total(m, "config_reloads_total", result="failure"),
                         0)
        # The last config is the one in force.
        seen = set()
        for _ in range(6):
            seen |= set(addresses(d.query(RR), "A"))
        want = RR_SERVERS if self.RELOADS % 2 == 0 else \
            RR_SERVERS[:2] + ("192.0.2.14",)
        self.assertEqual(seen, set(want))
        print("%d reloads, %d logged as completed"
              % (len(outcomes), len(done)))
        d.stop()


# ---------------------------------------------------------------------------
# 4. A read-only state directory.

class ReadOnlyState(FaultCase):
    """The state directory read-only: at start-up (a tmpfs remounted
    read-only), and under a running daemon. Linux refuses to remount a
    file system read-only while a process has a file open for writing
    (EBUSY), as the daemon has its database; what does turn it read-only
    under the daemon is the kernel after an error (errors=remount-ro), so
    that is done with ext4 on a loop device and its trigger_fs_error.
    Needs mounting (root); skipped when not allowed."""

    def mount(self, *args):
        target = args[-1]
        p = run("mount", *args)
        if p.returncode != 0:
            self.skipTest("cannot mount: %s" % p.stderr.strip())
        self.addCleanup(self.umount, target)

    def umount(self, target):
        for d in self.daemons:
            d.kill()
        if os.path.ismount(target) and run("umount", target).returncode:
            run("umount", "-l", target)

    def put(self, d, address, reason="faults"):
        return d.socket_http(override_path(FAILOVER, address), "PUT",
                             override_body(reason), timeout=timeout_s())

    def answers(self, d, name=FAILOVER):
        seen = set()
        for _ in range(6):
            msg = d.query(name)
            self.assertEqual(rcode_text(msg), "NOERROR", str(msg))
            seen |= set(addresses(msg, "A"))
        return seen

    def test_start_on_read_only_directory(self):
        d = self.daemon(gslbtest.config(api=True), "rostart")
        os.makedirs(d.state_dir)
        self.mount("-t", "tmpfs", "-o", "size=4m,mode=0750", "tmpfs",
                   d.state_dir)
        d.start()
        status, _, body = self.put(d, FAILOVER_PRIMARY, "kept")
        self.assertEqual(status, 200, body)
        d.stop()
        path = os.path.join(d.state_dir, "overwatch.db")
        with open(path, "rb") as f:
            before = f.read()
        p = run("mount", "-o", "remount,ro", d.state_dir)
        self.assertEqual(p.returncode, 0, p.stderr)

        # It refuses to start, and says why: without its database it
        # would answer without the operator's overrides.
        since = len(d.log_lines())
        d.start(wait=False)
        code = d.proc.wait(timeout_s())
        log = "\n".join(d.log_lines()[since:])
        print("started on a read-only state directory: exit status %d, "
              "log:\n%s" % (code, log))
        self.assertEqual(code, 1, log)
        self.assertIn("%s: Read-only file system" % path, log)
        self.assertIn("no usable state database", log)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), before)

        p = run("mount", "-o", "remount,rw", d.state_dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        d.start()
        self.assertEqual(self.answers(d), {FAILOVER_SECONDARY})
        overrides = json.loads(d.socket_http("/api/v1/overrides")[2])
        self.assertEqual([o["reason"] for o in overrides["overrides"]],
                         ["kept"])
        d.stop()

    def test_turns_read_only_under_the_daemon(self):
        for tool in ("mkfs.ext4", "e2fsck", "findmnt"):
            if shutil.which(tool) is None:
                self.skipTest("%s is not installed" % tool)
        d = self.daemon(gslbtest.config(api=True, metrics=True), "roturn")
        os.makedirs(d.state_dir)
        image = os.path.join(d.dir, "state.img")
        with open(image, "wb") as f:
            f.truncate(16 << 20)
        p = run("mkfs.ext4", "-q", "-F", "-O", "^has_journal", image)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.mount("-o", "loop,errors=remount-ro", image, d.state_dir)
        dev = run("findmnt", "-n", "-o", "SOURCE", d.state_dir).stdout
        trigger = "/sys/fs/ext4/%s/trigger_fs_error" % \
            os.path.basename(dev.strip())
        if not os.path.exists(trigger):
            self.skipTest("no %s" % trigger)

        d.start()
        status, _, body = self.put(d, FAILOVER_PRIMARY, "kept")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.answers(d), {FAILOVER_SECONDARY})

        # The disk fails: the kernel makes the file system read-only.
        with open(trigger, "w") as f:
            f.write("test_faults.py: simulated disk error")
        probe = os.path.join(d.state_dir, "probe")
        try:
            open(probe, "w").close()
            self.fail("the file system is still writable")
        except OSError as e:
            self.assertEqual(e.errno, 30, e)  # EROFS

        status, _, body = self.put(d, FAILOVER_SECONDARY)
        print("PUT on a read-only file system: %d %s"
              % (status, body.decode().strip()))
        self.assertEqual(status, 503, body)
        error = json.loads(body)["error"]
        self.assertIn("read-only", error)
        self.assertIn(os.path.join(d.state_dir, "overwatch.db"), error)
        # Nothing changed, and DNS answers as before.
        self.assertEqual(self.answers(d), {FAILOVER_SECONDARY})
        overrides = json.loads(d.socket_http("/api/v1/overrides")[2])
        self.assertEqual([o["reason"] for o in overrides["overrides"]],
                         ["kept"])
        status, _, body = d.socket_http("/api/v1/servers", "POST",
                                        {"service": RR,
                                         "address": "192.0.2.14",
                                         "port": 80})
        self.assertEqual(status, 503, body)
        store = d.api_json("/api/v1/overwatch/stats")["store"]
        self.assertFalse(store["ok"])
        self.assertIn("read-only", store["error"])
        self.assertEqual(total(scrape(d), "state_store_ok"), 0)
        self.assertIn("read-only", "\n".join(
            line for line in d.log_lines() if "[store]" in line))

        # The operator stops it, repairs the file system and starts it
        # again: what was acknowledged is there, and writes work.
        d.stop()
        p = run("umount", d.state_dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("e2fsck", "-f", "-y", image)
        self.assertIn(p.returncode, (0, 1), p.stdout + p.stderr)
        p = run("mount", "-o", "loop,errors=remount-ro", image, d.state_dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        d.start()
        overrides = json.loads(d.socket_http("/api/v1/overrides")[2])
        self.assertEqual([o["reason"] for o in overrides["overrides"]],
                         ["kept"])
        status, _, body = d.socket_http(override_path(FAILOVER,
                                                      FAILOVER_PRIMARY),
                                        "DELETE")
        self.assertEqual(status, 204, body)
        self.assertEqual(self.answers(d), {FAILOVER_PRIMARY})
        self.assertTrue(d.api_json("/api/v1/overwatch/stats")["store"]["ok"])
        d.stop()


# ---------------------------------------------------------------------------
# 5. Garbage on the gossip and API ports.

class Garbage(FaultCase):
    """Random datagrams at line rate on the gossip port and broken HTTP
    on the API port change nothing an operator sees but the counters."""

    SECONDS = 4
    SIMS = 3           # agent-sim processes, one socket each
    SIM_BATCH = 20000  # datagrams per agent-sim run
    SLOW = 40          # slowloris connections

    def view(self, d):
        """What an operator sees: DNS answers for every name, the
        listings, the audit log, the statistics."""
        out = {}
        for dom in gslbtest.default_domains():
            for rdtype in ("A", "AAAA"):
                rcodes, seen = set(), set()
                for _ in range(80 if dom.algorithm == "weighted" else 12):
                    msg = d.query(dom.name, rdtype, use_edns=0,
                                  payload=4096)
                    rcodes.add(rcode_text(msg))
                    seen |= set(addresses(msg, rdtype))
                out[(dom.name, rdtype)] = (sorted(rcodes), sorted(seen))
        for path in ("/api/v1/overrides", "/api/v1/servers",
                     "/api/v1/audit-logs?limit=1000",
                     "/api/v1/overwatch/agents",
                     "/api/v1/overwatch/stats"):
            doc = d.api_json(path)
            doc.pop("generated_at", None)
            out[path] = doc
        return out

    def blast_gossip(self, d, stop, sent):
        """agent-sim's garbage (random bytes, protocol prefixes, sealed
        junk, sealed fake headers), over and over."""
        while not stop.is_set():
            p = run(gslbtest.agent_sim_path(), "garbage", "--overwatch",
                    "127.0.0.1:%d" % d.gossip_port, "--key",
                    gslbtest.GOSSIP_KEY, "--count", str(self.SIM_BATCH))
            if p.returncode != 0:
                sent.append(("failed", p.stderr))
                return
            sent.append(json.loads(p.stdout.splitlines()[-1])["sent"])

    def blast_odd_sizes(self, d, stop, sent):
        """What agent-sim does not send: empty, tiny, truncated headers
        and datagrams far beyond the protocol's size."""
        rng = random.Random()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not stop.is_set():
                kind = rng.randrange(3)
                if kind == 0:
                    data = b"OGSL\x01\x00" + os.urandom(40)
                    data = data[:rng.randrange(len(data))]
                elif kind == 1:
                    data = os.urandom(rng.randrange(1501, 65000))
                else:
                    data = os.urandom(rng.randrange(8))
                try:
                    s.sendto(data, ("127.0.0.1", d.gossip_port))
                    sent[0] += 1
                except OSError:
                    time.sleep(0.001)

    def api_garbage(self, d, stop, counts, wrong):
        """Connections that send junk, half requests, huge headers,
        requests the API refuses, or a body cut short, and close. Those
        that make a whole request wait for the answer they must get."""
        rng = random.Random()
        put = ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: "
               "application/json\r\n" % override_path(
                   FAILOVER, FAILOVER_SECONDARY)).encode()
        body = json.dumps(override_body("never")).encode()
        kinds = [
            ("random", lambda: os.urandom(rng.randrange(1, 4096)), None),
            ("half request line", lambda: b"GET /api/v1/overr", None),
            ("half headers", lambda: b"GET /api/v1/overrides HTTP/1.1\r\n"
             b"Host: x\r\nX-Long: " + b"a" * rng.randrange(100), None),
            ("body cut short", lambda: put + b"Content-Length: %d\r\n\r\n"
             % (len(body) + 10) + body, None),
            # Refused while it is still being sent: the answer may be
            # lost to a reset.
            ("huge headers", lambda: b"GET /api/v1/live HTTP/1.1\r\n" +
             b"X-Filler: " + b"x" * 20000 + b"\r\n\r\n", ("400", "reset")),
            ("bad method", lambda: b"BREW /pot HTTP/1.1\r\n\r\n", ("501",)),
            ("nul bytes", lambda: b"GET /\0\0 HTTP/1.1\r\n\0\r\n\r\n",
             ("400",)),
            ("bad json", lambda: put + b"Content-Length: 8\r\n\r\n{garbage",
             ("400",)),
            ("unknown path", lambda: b"GET /api/v1/nope HTTP/1.1\r\n"
             b"Host: x\r\n\r\n", ("404",)),
        ]
        while not stop.is_set():
            name, make, expect = rng.choice(kinds)
            try:
                with socket.create_connection(("127.0.0.1", d.api_port),
                                              timeout=timeout_s()) as s:
                    s.sendall(make())
                    if expect is not None:
                        m = re.match(rb"HTTP/1\.[01] (\d+)", s.recv(64))
                        got = m.group(1).decode() if m else "closed"
                    else:
                        got = None
            except ConnectionError:
                got = "reset"
            except OSError as e:
                got = repr(e)
            with counts["lock"]:
                counts[name] = counts.get(name, 0) + 1
                if got is not None:
                    counts[got] = counts.get(got, 0) + 1
                if expect is not None and got not in expect:
                    wrong.append((name, got))

    def slowloris(self, d, stop, counts):
        """Connections that send a header byte now and then."""
        socks = []
        try:
            for _ in range(self.SLOW):
                s = socket.create_connection(("127.0.0.1", d.api_port),
                                             timeout=timeout_s())
                s.sendall(b"GET /api/v1/overrides HTTP/1.1\r\nX-Slow: ")
                socks.append(s)
            counts["slowloris"] = len(socks)
            while not stop.wait(0.25):
                for s in socks:
                    try:
                        s.sendall(b"z")
                    except OSError:
                        counts["slowloris cut"] = \
                            counts.get("slowloris cut", 0) + 1
        finally:
            for s in socks:
                s.close()

    def test_garbage_changes_nothing_but_counters(self):
        if not os.access(gslbtest.agent_sim_path(), os.X_OK):
            self.skipTest("no agent-sim at %s (make check builds it)"
                          % gslbtest.agent_sim_path())
        d = self.daemon(gslbtest.config(api=True, metrics=True), "garbage")
        d.start()
        # Some state to keep: an override and a server from the API.
        d.api_json(override_path(FAILOVER, FAILOVER_PRIMARY), "PUT",
                   override_body("kept"))
        d.api_json("/api/v1/servers", "POST",
                   {"service": RR, "address": "192.0.2.14", "port": 80},
                   expect=201)
        before = self.view(d)
        m0 = scrape(d)

        stop = threading.Event()
        sim_sent, odd_sent, wrong = [], [0], []
        api_counts = {"lock": threading.Lock()}
        threads = [threading.Thread(target=self.blast_gossip,
                                    args=(d, stop, sim_sent))
                   for _ in range(self.SIMS)]
        threads.append(threading.Thread(target=self.blast_odd_sizes,
                                        args=(d, stop, odd_sent)))
        threads += [threading.Thread(target=self.api_garbage,
                                     args=(d, stop, api_counts, wrong))
                    for _ in range(4)]
        threads.append(threading.Thread(target=self.slowloris,
                                        args=(d, stop, api_counts)))
        for t in threads:
            t.daemon = True
            t.start()
        # Meanwhile the API answers others, and DNS answers.
        live = 0
        try:
            deadline = time.monotonic() + self.SECONDS
            while time.monotonic() < deadline:
                self.assertEqual(d.http("/api/v1/live",
                                        timeout=timeout_s())[0], 200)
                self.assertEqual(set(addresses(d.query(FAILOVER), "A")),
                                 {FAILOVER_SECONDARY})
                live += 1
                time.sleep(0.2)
        finally:
            stop.set()
            for t in threads:
                t.join(6 * timeout_s())
        self.assertTrue(d.running())
        del api_counts["lock"]
        self.assertEqual(wrong[:5], [], "%d wrong answers" % len(wrong))
        self.assertNotIn("failed", [x[0] for x in sim_sent
                                    if isinstance(x, tuple)], sim_sent)

        after = self.view(d)
        for key in before:
            self.assertEqual(after[key], before[key], key)
        m1 = scrape(d)

        def delta(name, **labels):
            return total(m1, name, **labels) - total(m0, name, **labels)

        rejected = {dict(k[1]).get("reason"): v - m0.get(k, 0)
                    for k, v in m1.items()
                    if k[0] == "opengslb_gossip_messages_rejected_total"
                    and v > m0.get(k, 0)}
        print("gossip: %d datagrams from %d agent-sim runs, %d odd sizes; "
              "rejected +%r, decryption failures +%d, accepted +%d"
              % (sum(x for x in sim_sent if isinstance(x, int)),
                 len(sim_sent), odd_sent[0], rejected,
                 delta("gossip_decryption_failures_total"),
                 delta("gossip_messages_received_total")))
        print("API: %r; responses +2xx %d +4xx %d +5xx %d; %d checks of "
              "/api/v1/live meanwhile"
              % (api_counts, delta("api_responses_total", code="2xx"),
                 delta("api_responses_total", code="4xx"),
                 delta("api_responses_total", code="5xx"), live))
        self.assertGreater(sum(rejected.values()), 0)
        self.assertGreater(delta("gossip_decryption_failures_total"), 0)
        # Sealed with the right key, a junk heartbeat can pass for an
        # agent's first contact (answered "register first"): nothing more.
        self.assertEqual(delta("overwatch_agent_auth_success_total"), 0)
        self.assertEqual(total(m1, "overwatch_agents_registered"), 0)
        self.assertGreater(delta("api_responses_total", code="4xx"), 0)
        self.assertEqual(delta("api_responses_total", code="5xx"), 0)
        self.assertEqual(total(m1, "state_store_changes_total"),
                         total(m0, "state_store_changes_total"))

        # Every connection is closed again: no descriptor kept.
        deadline = time.monotonic() + 2 * timeout_s()
        while time.monotonic() < deadline:
            fds = scrape(d)[("process_open_fds", ())]
            if fds <= m0[("process_open_fds", ())]:
                break
            time.sleep(0.1)
        self.assertLessEqual(fds, m0[("process_open_fds", ())])
        d.stop()


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main(verbosity=2)
