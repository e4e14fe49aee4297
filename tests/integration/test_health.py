#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Health checks and validation, end to end: real HTTP, HTTPS and TCP
backends on loopback go down and come back, and the DNS answers and the
API follow within the configured bounds."""
import os
import random
import re
import shutil
import socket
import tempfile
import time
import unittest

import gslbtest
from backends import HTTPBackend, TCPBackend, make_certificate, tls_context
from gslbtest import DaemonTestCase, addresses

# Under a wrapper such as valgrind a TLS handshake alone takes longer than
# the check timeout, so every time here stretches (GSLB_TEST_SCALE).
SCALE = int(os.environ.get(
    "GSLB_TEST_SCALE", "4" if os.environ.get("GSLB_TEST_WRAPPER") else "1"))
INTERVAL = 1.0 * SCALE
TIMEOUT = 0.5 * SCALE
FAILS = 2
PASSES = 2
# The documented bound (interval × threshold + timeout, + 100 ms to reach
# DNS), and slack for a loaded test machine. Timing is not what these
# tests measure (docs/benchmarks.md does); the slack only keeps a slow CI
# machine from failing while still catching "never" and "one interval
# late per check".
DOWN_BOUND = INTERVAL * FAILS + TIMEOUT + 0.1
UP_BOUND = INTERVAL * PASSES + 0.1
SLACK = 1.5 * SCALE

CHECK = ("{ type: %%s, interval: %ds, timeout: %dms, failure_threshold: %d, "
         "success_threshold: %d%%s }"
         % (INTERVAL, TIMEOUT * 1000, FAILS, PASSES))


def health_config(regions, return_last_healthy=False, validation=True):
    """regions: (name, check type, extra check keys, domain name,
    [(ip, port, host)]); the API on."""
    return gslbtest.checked_config(
        [(name, domain, CHECK % (kind, extra), servers)
         for name, kind, extra, domain, servers in regions],
        api=True, validation=validation,
        dns_extra=["return_last_healthy: %s"
                   % str(return_last_healthy).lower()])


class HealthCase(DaemonTestCase):
    """Helpers to watch the daemon's answers change."""

    def answer(self, name):
        msg = self.daemon.query(name, "A")
        if gslbtest.rcode_text(msg) != "NOERROR":
            return gslbtest.rcode_text(msg)
        return sorted(addresses(msg, "A"))

    def wait_answer(self, name, expected, bound):
        """Polls until name answers expected (a sorted address list or an
        RCODE); returns the seconds it took. Fails after bound + SLACK."""
        start = time.monotonic()
        deadline = start + bound + SLACK
        seen = None
        while time.monotonic() < deadline:
            seen = self.answer(name)
            if seen == expected:
                return time.monotonic() - start
            time.sleep(0.02)
        self.fail("%s: expected %r within %.1f s, still %r"
                  % (name, expected, bound + SLACK, seen))

    def server_status(self, ip):
        doc = self.daemon.api_json("/api/v1/health/servers")
        for s in doc["servers"]:
            if s["address"] == ip:
                return s
        self.fail("%s not in /api/v1/health/servers: %r" % (ip, doc))

    def wait_status(self, ip, status, bound):
        deadline = time.monotonic() + bound + SLACK
        while time.monotonic() < deadline:
            s = self.server_status(ip)
            if s["status"] == status:
                return s
            time.sleep(0.05)
        self.fail("%s: status %r expected, got %r" % (ip, status, s))


class HTTPAndTCP(HealthCase):
    web = tcp = None

    @classmethod
    def make_config(cls):
        cls.web = [HTTPBackend("127.0.0.11"), HTTPBackend("127.0.0.12")]
        cls.tcp = [TCPBackend("127.0.0.21"), TCPBackend("127.0.0.22")]
        return health_config([
            ("web", "http", ", path: /health, expected_body: ok",
             "web.gslb.test",
             [(b.ip, b.port, None) for b in cls.web[:1]] +
             [(cls.web[1].ip, cls.web[1].port, "app.example.test")]),
            ("tcp", "tcp", "", "tcp.gslb.test",
             [(b.ip, b.port, None) for b in cls.tcp]),
        ])

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Every backend answers: all are healthy once the pass threshold
        # is met (they are served meanwhile too, as unknown).
        for ip in ("127.0.0.11", "127.0.0.12", "127.0.0.21", "127.0.0.22"):
            HealthCase.wait_status(cls("run"), ip, "healthy", UP_BOUND + 1)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for b in cls.web + cls.tcp:
                b.close()

    def tearDown(self):
        for b in self.web:
            b.set_mode("ok")
        for b in self.tcp:
            if b.sock is None:
                b.reopen()
        for ip in ("127.0.0.11", "127.0.0.12", "127.0.0.21", "127.0.0.22"):
            self.wait_status(ip, "healthy", UP_BOUND + 1)

    def fail_and_recover(self, mode, error):
        web = self.web[1]
        self.assertEqual(self.answer("web.gslb.test"),
                         ["127.0.0.11", "127.0.0.12"])
        web.set_mode(mode)
        took = self.wait_answer("web.gslb.test", ["127.0.0.11"], DOWN_BOUND)
        print("%s: left the answers after %.2f s (bound %.2f s)"
              % (mode, took, DOWN_BOUND))
        s = self.server_status("127.0.0.12")
        self.assertEqual(s["status"], "unhealthy")
        self.assertFalse(s["healthy"])
        self.assertIn(error, s["last_error"])
        self.assertGreaterEqual(s["consecutive_failures"], FAILS)
        web.set_mode("ok")
        took = self.wait_answer("web.gslb.test",
                                ["127.0.0.11", "127.0.0.12"], UP_BOUND)
        print("%s: back in the answers after %.2f s (bound %.2f s)"
              % (mode, took, UP_BOUND))

    def test_http_5xx_takes_backend_out_and_back(self):
        self.fail_and_recover("error", "unexpected status code: 503")

    def test_http_wrong_body_takes_backend_out(self):
        self.fail_and_recover("body", 'body does not contain "ok"')

    def test_http_timeout_takes_backend_out(self):
        # As the config writes durations: "500ms", "2s".
        timeout = ("%dms" % (TIMEOUT * 1000) if TIMEOUT < 1
                   else "%gs" % TIMEOUT)
        self.fail_and_recover("hang", "timeout after " + timeout)

    def test_every_backend_down_is_servfail(self):
        for b in self.web:
            b.set_mode("error")
        self.wait_answer("web.gslb.test", "SERVFAIL", DOWN_BOUND)
        # Another name is not affected.
        self.assertEqual(self.answer("tcp.gslb.test"),
                         ["127.0.0.21", "127.0.0.22"])

    def test_tcp_closed_port_takes_backend_out_and_back(self):
        tcp = self.tcp[0]
        tcp.close()
        took = self.wait_answer("tcp.gslb.test", ["127.0.0.22"], DOWN_BOUND)
        print("tcp: left the answers after %.2f s" % took)
        s = self.server_status("127.0.0.21")
        self.assertIn("tcp connect failed", s["last_error"])
        tcp.reopen()
        self.wait_answer("tcp.gslb.test", ["127.0.0.21", "127.0.0.22"],
                         UP_BOUND)

    def test_requests_carry_path_host_and_user_agent(self):
        _, path, headers, _ = self.web[1].last_request()
        self.assertEqual(path, "/health")
        self.assertEqual(headers.get("Host"), "app.example.test")
        self.assertTrue(headers.get("User-Agent", "").startswith(
            "OpenGSLB-HealthCheck/"), headers)
        _, _, headers, _ = self.web[0].last_request()
        self.assertEqual(headers.get("Host"),
                         "127.0.0.11:%d" % self.web[0].port)

    def test_plain_http_reuses_its_connection(self):
        t = time.monotonic()
        time.sleep(3.2 * SCALE)
        ports = {r[3] for r in self.web[0].requests_since(t)}
        self.assertEqual(len(ports), 1, "a new connection per check")

    def test_backend_closing_kept_connections_is_not_a_failure(self):
        web = self.web[0]
        before = self.server_status("127.0.0.11")["consecutive_successes"]
        web.set_mode("drop")
        t = time.monotonic()
        time.sleep(3.2 * SCALE)
        reqs = web.requests_since(t)
        # Each check found the last connection closed and opened another.
        self.assertGreaterEqual(len({r[3] for r in reqs}), 3)
        s = self.server_status("127.0.0.11")
        self.assertEqual(s["consecutive_failures"], 0, s)
        self.assertGreater(s["consecutive_successes"], before)
        self.assertEqual(s["status"], "healthy")

    def test_checks_run_once_per_interval(self):
        before = self.web[0].request_count()
        time.sleep(3.2 * SCALE)
        n = self.web[0].request_count() - before
        self.assertGreaterEqual(n, 2)
        self.assertLessEqual(n, 5)

    def test_reload_stops_removed_and_starts_new_checks(self):
        extra = HTTPBackend("127.0.0.13")
        try:
            template = self.daemon.template
            new = health_config([
                ("web", "http", ", path: /health", "web.gslb.test",
                 [(self.web[0].ip, self.web[0].port, None),
                  (extra.ip, extra.port, None)]),
                ("tcp", "tcp", "", "tcp.gslb.test",
                 [(b.ip, b.port, None) for b in self.tcp]),
            ])
            outcome, _ = self.daemon.reload(new)
            self.assertEqual(outcome, "reloaded")
            t0 = time.monotonic()
            # The new server is checked at once, not an interval later.
            while extra.request_count() == 0:
                self.assertLess(time.monotonic() - t0, SCALE + SLACK)
                time.sleep(0.02)
            gone = self.web[1].request_count()
            time.sleep(2 * INTERVAL + 0.2)
            self.assertLessEqual(self.web[1].request_count() - gone, 1,
                                 "the removed server is still checked")
            self.assertEqual(self.answer("web.gslb.test"),
                             ["127.0.0.11", "127.0.0.13"])
            outcome, _ = self.daemon.reload(template)
            self.assertEqual(outcome, "reloaded")
        finally:
            extra.close()


class HTTPS(HealthCase):
    """Certificates made by the test: trusted through tls_ca_file (by IP
    and by host name), untrusted, and untrusted but not verified."""

    tmp = None
    backends = []

    @classmethod
    def make_config(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gslb-it-tls-")
        by_ip = make_certificate(cls.tmp, ips=("127.0.0.31",))
        by_name = make_certificate(cls.tmp, names=("backend.test",))
        cls.backends = [
            HTTPBackend("127.0.0.31", tls=tls_context(*by_ip)),
            HTTPBackend("127.0.0.32", tls=tls_context(*by_name)),
            HTTPBackend("127.0.0.33", tls=tls_context(*by_name)),
            HTTPBackend("127.0.0.34", tls=tls_context(*by_name)),
        ]
        b = cls.backends
        return health_config([
            ("byip", "https", ", tls_ca_file: %s" % by_ip[0],
             "byip.gslb.test", [(b[0].ip, b[0].port, None)]),
            ("byname", "https", ", tls_ca_file: %s" % by_name[0],
             "byname.gslb.test", [(b[1].ip, b[1].port, "backend.test")]),
            ("untrusted", "https", "", "untrusted.gslb.test",
             [(b[2].ip, b[2].port, "backend.test")]),
            ("noverify", "https", ", tls_skip_verify: true",
             "noverify.gslb.test", [(b[3].ip, b[3].port, None)]),
        ])

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for b in cls.backends:
                b.close()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_trusted_certificate_by_ip_is_healthy(self):
        self.wait_status("127.0.0.31", "healthy", UP_BOUND + 1)
        self.assertEqual(self.answer("byip.gslb.test"), ["127.0.0.31"])

    def test_trusted_certificate_by_host_name_is_healthy(self):
        self.wait_status("127.0.0.32", "healthy", UP_BOUND + 1)
        _, _, headers, _ = self.backends[1].last_request()
        self.assertEqual(headers.get("Host"), "backend.test")

    def test_untrusted_certificate_fails(self):
        s = self.wait_status("127.0.0.33", "unhealthy", DOWN_BOUND + 1)
        self.assertIn("request failed", s["last_error"])
        self.assertEqual(self.answer("untrusted.gslb.test"), "SERVFAIL")
        # The handshake failed, so no request ever reached the server.
        self.assertEqual(self.backends[2].request_count(), 0)

    def test_skip_verify_accepts_any_certificate(self):
        self.wait_status("127.0.0.34", "healthy", UP_BOUND + 1)
        self.assertEqual(self.answer("noverify.gslb.test"), ["127.0.0.34"])


class ReturnLastHealthy(HealthCase):
    web = []

    @classmethod
    def make_config(cls):
        cls.web = [HTTPBackend("127.0.0.41"), HTTPBackend("127.0.0.42")]
        return health_config(
            [("web", "http", "", "last.gslb.test",
              [(b.ip, b.port, None) for b in cls.web])],
            return_last_healthy=True)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for b in cls.web:
                b.close()

    def test_all_down_answers_last_healthy_set(self):
        self.web[0].set_mode("error")
        self.wait_answer("last.gslb.test", ["127.0.0.42"], DOWN_BOUND)
        self.web[1].set_mode("error")
        self.wait_status("127.0.0.42", "unhealthy", DOWN_BOUND)
        time.sleep(0.3 * SCALE)
        self.assertEqual(self.answer("last.gslb.test"), ["127.0.0.42"])
        self.web[0].set_mode("ok")
        self.wait_answer("last.gslb.test", ["127.0.0.41"], UP_BOUND)


def closed_ports(n):
    """n TCP ports on 127.0.0.1 that nothing listens on. They are taken
    below the kernel's ephemeral range (32768 and up by default), where
    ports bound to 0 never land: neither a daemon another test starts
    meanwhile nor a checker's own connection (a TCP self-connect) can open
    them."""
    low, _ = (int(x) for x in open(
        "/proc/sys/net/ipv4/ip_local_port_range").read().split())
    rng = random.Random()
    ports = set()
    while len(ports) < n:
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as sk:
            try:
                sk.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.add(port)
    return sorted(ports)


class MassFailure(HealthCase):
    """Many servers failing at once: the log names the first ones and
    sums up the rest instead of flooding."""

    N = 120
    BURST = 50

    @classmethod
    def make_config(cls):
        return gslbtest.checked_config(
            [("dc", "dc.gslb.test",
              "{ type: tcp, interval: %ds, timeout: %dms, "
              "failure_threshold: 1 }" % (INTERVAL, TIMEOUT * 1000),
              [("127.0.0.1", p) for p in closed_ports(cls.N)])],
            api=True)

    def test_log_sums_up_beyond_the_burst(self):
        self.wait_answer("dc.gslb.test", "SERVFAIL", DOWN_BOUND)
        deadline = time.monotonic() + 2 * SCALE + SLACK
        while True:
            lines = self.daemon.log_lines()
            one_by_one = [ln for ln in lines
                          if "dc.gslb.test backend" in ln
                          and "unhealthy" in ln]
            summed = sum(int(m.group(1)) for m in
                         (re.search(r"(\d+) more backends changed state",
                                    ln) for ln in lines) if m)
            if len(one_by_one) + summed >= self.N or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(len(one_by_one) + summed, self.N)
        self.assertGreater(summed, 0)
        self.assertLessEqual(len(one_by_one), 2 * self.BURST)


class ValidationOff(HealthCase):
    """With overwatch.validation.enabled false nothing is checked and
    static servers are served."""

    closed = None

    @classmethod
    def make_config(cls):
        cls.closed = TCPBackend("127.0.0.51")
        cls.closed.close()
        return health_config([("r", "tcp", "", "off.gslb.test",
                               [(cls.closed.ip, cls.closed.port, None)])],
                             validation=False)

    def test_nothing_checked_and_served(self):
        time.sleep(DOWN_BOUND)
        self.assertEqual(self.answer("off.gslb.test"), ["127.0.0.51"])
        s = self.server_status("127.0.0.51")
        self.assertEqual(s["status"], "unknown")
        ready = self.daemon.api_json("/api/v1/ready")
        self.assertTrue(ready["ready"])


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main(verbosity=2)
