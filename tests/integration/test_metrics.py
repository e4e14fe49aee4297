#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Prometheus endpoint as a scraper sees it: a valid exposition (checked
by promtool), DNS, routing, reload and health counters that move exactly
with what the test does, and /health."""
import errno
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gslbtest  # noqa: E402
from backends import TCPBackend  # noqa: E402
from gslbtest import DaemonTestCase, addresses  # noqa: E402

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# ---------------------------------------------------------------------------
# A small parser of the text exposition format 0.0.4.

class Exposition:
    """Families (name -> type), HELP texts, and samples as
    (name, labels dict, value)."""

    def __init__(self, text):
        self.types = {}
        self.helps = {}
        self.samples = []
        for n, line in enumerate(text.split("\n"), start=1):
            if line == "":
                continue
            try:
                self._line(line)
            except (ValueError, IndexError) as e:
                raise AssertionError("line %d %r: %s" % (n, line, e))

    def _line(self, line):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] == "TYPE":
                self.types[parts[2]] = parts[3]
            elif len(parts) >= 3 and parts[1] == "HELP":
                self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
            return
        i = 0
        while i < len(line) and line[i] not in "{ ":
            i += 1
        name, labels = line[:i], {}
        if line[i] == "{":
            i += 1
            while line[i] != "}":
                eq = line.index("=", i)
                key = line[i:eq].strip(", ")
                if line[eq + 1] != '"':
                    raise ValueError("label value not quoted")
                i, value = eq + 2, []
                while line[i] != '"':
                    if line[i] == "\\":
                        esc = line[i + 1]
                        if esc not in '\\"n':
                            raise ValueError("bad escape \\%s" % esc)
                        value.append("\n" if esc == "n" else esc)
                        i += 2
                    else:
                        value.append(line[i])
                        i += 1
                i += 1
                if line[i] == ",":
                    i += 1
                labels[key] = "".join(value)
            i += 1
        fields = line[i:].split()
        self.samples.append((name, labels, float(fields[0])))

    def family_of(self, name):
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and \
                    self.types.get(base) == "histogram":
                return base
        return None

    def find(self, name, **labels):
        return [(lb, v) for n, lb, v in self.samples if n == name and
                all(lb.get(k) == val for k, val in labels.items())]

    def get(self, name, **labels):
        """The value of the one sample of name whose labels include
        labels; None when there is none."""
        found = self.find(name, **labels)
        if len(found) > 1:
            raise AssertionError("%d samples of %s match %r"
                                 % (len(found), name, labels))
        return found[0][1] if found else None

    def sum(self, name, **labels):
        return sum(v for _, v in self.find(name, **labels))


def promtool():
    path = shutil.which("promtool") or "/usr/bin/promtool"
    if not os.access(path, os.X_OK):
        raise AssertionError("promtool not found: install the Debian "
                             "package prometheus")
    return path


class MetricsCase(DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The metrics listener is bound just after the DNS readiness line
        # is logged; give it the moment that takes.
        deadline = time.monotonic() + 2
        while True:
            try:
                cls.daemon.http("/health", port=cls.daemon.metrics_port)
                return
            except OSError as e:
                if e.errno != errno.ECONNREFUSED or \
                        time.monotonic() > deadline:
                    cls.tearDownClass()
                    raise
                time.sleep(0.02)

    def fetch(self):
        status, headers, body = self.daemon.http(
            "/metrics", port=self.daemon.metrics_port)
        self.assertEqual(status, 200, body)
        return headers, body.decode()

    def scrape(self):
        return Exposition(self.fetch()[1])

    def wait_for(self, what, predicate, timeout):
        """Scrapes until predicate(exposition) holds; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.scrape()
            if predicate(m):
                return m
            if time.monotonic() > deadline:
                self.fail("%s: not within %g s" % (what, timeout))
            time.sleep(0.1)

    def assertFamiliesWellFormed(self, m):
        """What promtool also checks, said here in the words of the task."""
        for name, _, _ in m.samples:
            family = m.family_of(name)
            self.assertIsNotNone(family, "%s has no TYPE line" % name)
            self.assertIn(family, m.helps, "%s has no HELP line" % family)
        for family, kind in m.types.items():
            if kind == "counter":
                self.assertTrue(family.endswith("_total"), family)
            else:
                self.assertFalse(family.endswith("_total"), family)


# ---------------------------------------------------------------------------

def server_count(domains):
    return sum(len(d.servers) for d in domains)


class Metrics(MetricsCase):
    """The standard test zone, validation off, the API on."""

    @classmethod
    def make_config(cls):
        return gslbtest.config(metrics=True, api=True)

    # -- the endpoint ------------------------------------------------------

    def test_exposition_passes_promtool(self):
        # Some traffic first, so that the labelled families have samples.
        self.daemon.query("rr.gslb.test", "A")
        self.daemon.query("nope.gslb.test", "A")
        headers, body = self.fetch()
        self.assertEqual(headers.get("Content-Type"), CONTENT_TYPE)
        p = subprocess.run([promtool(), "check", "metrics"],
                           input=body.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0,
                         "promtool check metrics:\n%s"
                         % p.stdout.decode(errors="replace"))
        m = Exposition(body)
        self.assertFamiliesWellFormed(m)
        self.assertIn("opengslb_dns_queries_total", m.types)

    def test_health_endpoint(self):
        status, headers, body = self.daemon.http(
            "/health", port=self.daemon.metrics_port)
        self.assertEqual((status, body), (200, b"OK\n"))

    def test_unknown_path_is_404(self):
        status, _, _ = self.daemon.http("/nope",
                                        port=self.daemon.metrics_port)
        self.assertEqual(status, 404)

    def test_other_methods_are_405(self):
        for method in ("POST", "DELETE"):
            status, headers, _ = self.daemon.http(
                "/metrics", method=method, body=b"",
                port=self.daemon.metrics_port)
            self.assertEqual(status, 405, method)
            self.assertEqual(headers.get("Allow"), "GET, HEAD")

    def test_api_responses_counted_by_class(self):
        def counts():
            m = self.scrape()
            return {c: m.get("opengslb_api_responses_total", code=c)
                    for c in ("2xx", "4xx")}
        before = counts()
        self.daemon.api_json("/api/v1/live")
        self.daemon.api_json("/api/v1/nope", expect=404)
        self.daemon.api_json("/api/v1/nope", expect=404)
        after = counts()
        self.assertEqual(after["2xx"] - before["2xx"], 1)
        self.assertEqual(after["4xx"] - before["4xx"], 2)

    # -- configuration -----------------------------------------------------

    def test_app_info_and_configuration(self):
        m = self.scrape()
        self.assertEqual(m.get("opengslb_app_info"), 1)
        self.assertTrue(m.find("opengslb_app_info")[0][0]["version"])
        domains = gslbtest.default_domains()
        self.assertEqual(m.get("opengslb_configured_domains"), len(domains))
        self.assertEqual(m.get("opengslb_configured_servers"),
                         server_count(domains))
        loaded = m.get("opengslb_config_load_timestamp_seconds")
        self.assertLessEqual(loaded, time.time())
        self.assertGreater(loaded, time.time() - 3600)

    def test_reloads_are_counted_by_result(self):
        def reloads(m):
            return (m.get("opengslb_config_reloads_total", result="success"),
                    m.get("opengslb_config_reloads_total", result="failure"))

        m = self.scrape()
        ok, failed = reloads(m)
        self.assertIsNotNone(ok)
        self.assertIsNotNone(failed)

        before = time.time()
        outcome, _ = self.daemon.reload()
        self.assertEqual(outcome, "reloaded")
        m = self.scrape()
        self.assertEqual(reloads(m), (ok + 1, failed))
        when = m.get("opengslb_config_reload_timestamp_seconds")
        self.assertGreaterEqual(when, before - 0.001)
        self.assertLessEqual(when, time.time())
        self.assertGreaterEqual(
            m.get("opengslb_config_load_timestamp_seconds"), before - 0.001)

        good = self.daemon.template
        try:
            outcome, _ = self.daemon.reload(good + "no_such_key: 1\n")
            self.assertEqual(outcome, "failed")
            m = self.scrape()
            self.assertEqual(reloads(m), (ok + 1, failed + 1))
            # A failed reload is not a reload.
            self.assertEqual(
                m.get("opengslb_config_reload_timestamp_seconds"), when)
        finally:
            self.daemon.write_config(good)

    # -- DNS ---------------------------------------------------------------

    def test_queries_counted_by_type_and_rcode(self):
        def counts(m):
            return {(t, r): m.get("opengslb_dns_queries_total", type=t,
                                  rcode=r) or 0
                    for t, r in (("A", "NOERROR"), ("A", "NXDOMAIN"),
                                 ("A", "REFUSED"), ("AAAA", "NOERROR"))}

        m = self.scrape()
        before = counts(m)
        refused = m.get("opengslb_dns_refused_total")
        received = m.get("opengslb_dns_messages_received_total")

        for _ in range(7):
            self.assertRcode(self.daemon.query("rr.gslb.test", "A"),
                             "NOERROR")
        for _ in range(3):
            self.assertRcode(self.daemon.query("nope.gslb.test", "A"),
                             "NXDOMAIN")
        for _ in range(2):
            self.assertRcode(self.daemon.query("example.com", "A"),
                             "REFUSED")
        self.assertRcode(self.daemon.query("v6only.gslb.test", "AAAA"),
                         "NOERROR")

        m = self.scrape()
        after = counts(m)
        self.assertEqual({k: after[k] - before[k] for k in after},
                         {("A", "NOERROR"): 7, ("A", "NXDOMAIN"): 3,
                          ("A", "REFUSED"): 2, ("AAAA", "NOERROR"): 1})
        self.assertEqual(m.get("opengslb_dns_refused_total") - refused, 2)
        self.assertEqual(
            m.get("opengslb_dns_messages_received_total") - received, 13)
        # Query names never become label values.
        for labels, _ in m.find("opengslb_dns_queries_total"):
            self.assertEqual(set(labels), {"type", "rcode"})

    def test_garbage_is_counted_as_dropped(self):
        before = self.scrape().get("opengslb_dns_messages_dropped_total")
        self.assertIsNone(self.daemon.udp_raw(b"\x01\x02\x03", timeout=0.5))
        after = self.scrape().get("opengslb_dns_messages_dropped_total")
        self.assertEqual(after - before, 1)

    # -- routing -----------------------------------------------------------

    def routing(self, m, domain):
        return {lb["server"]: v for lb, v in
                m.find("opengslb_routing_decisions_total", domain=domain)}

    def test_round_robin_decisions_split_evenly(self):
        before = self.routing(self.scrape(), "rr.gslb.test")
        self.assertEqual(set(before), set(gslbtest.RR_SERVERS))
        given = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(30):
                msg = self.daemon.query("rr.gslb.test", "A", sock=sock)
                given += addresses(msg, "A")
        m = self.scrape()
        after = self.routing(m, "rr.gslb.test")
        delta = {s: after[s] - before[s] for s in after}
        self.assertEqual(sum(delta.values()), len(given))
        self.assertEqual(delta, {s: 10 for s in gslbtest.RR_SERVERS})
        for labels, _ in m.find("opengslb_routing_decisions_total",
                                domain="rr.gslb.test"):
            self.assertEqual(labels["algorithm"], "round-robin")

    def test_decisions_count_every_record_of_an_answer(self):
        before = self.routing(self.scrape(), "multi.gslb.test")
        given = 0
        for _ in range(5):
            given += len(addresses(self.daemon.query("multi.gslb.test", "A"),
                                   "A"))
        self.assertEqual(given, 15)  # max_records 3
        after = self.routing(self.scrape(), "multi.gslb.test")
        self.assertEqual(sum(after.values()) - sum(before.values()), given)

    def test_decisions_survive_reloads(self):
        before = self.routing(self.scrape(), "rr.gslb.test")
        given = 0
        for round_ in range(3):
            # New sockets, so that every DNS thread answers and the
            # snapshots replaced by the reloads get freed.
            for _ in range(6):
                given += len(addresses(
                    self.daemon.query("rr.gslb.test", "A"), "A"))
                given += len(addresses(
                    self.daemon.query("rr.gslb.test", "A", tcp=True), "A"))
            self.assertEqual(self.daemon.reload()[0], "reloaded")
            now = self.routing(self.scrape(), "rr.gslb.test")
            for server, value in now.items():
                self.assertGreaterEqual(value, before[server], server)
        self.assertEqual(sum(now.values()) - sum(before.values()), given)

    # -- backends ----------------------------------------------------------

    def test_static_backends_are_healthy_by_default(self):
        m = self.scrape()
        for address in gslbtest.RR_SERVERS:
            states = {lb["status"]: v for lb, v in m.find(
                "opengslb_backend_status", service="rr.gslb.test",
                address="%s:80" % address, region="eu-west")}
            self.assertEqual(states, {"healthy": 1, "unhealthy": 0,
                                      "stale": 0, "draining": 0})
        v6 = m.find("opengslb_backend_status", service="v6only.gslb.test",
                    status="healthy")
        self.assertEqual(sorted(lb["address"] for lb, _ in v6),
                         sorted("[%s]:80" % a
                                for a in gslbtest.V6ONLY_SERVERS))

        n = server_count(gslbtest.default_domains())
        self.assertEqual(m.get("opengslb_overwatch_backends"), n)
        self.assertIsNone(m.get("opengslb_overwatch_backends_total"))
        self.assertEqual(m.get("opengslb_overwatch_backends_healthy"), n)
        authority = {lb["authority"]: v for lb, v in
                     m.find("opengslb_overwatch_backends_by_authority")}
        self.assertEqual(authority, {"override": 0, "draining": 0,
                                     "validation": 0, "stale": 0,
                                     "agent": 0, "default": n})
        self.assertEqual(m.get("opengslb_overwatch_overrides_active"), 0)
        self.assertEqual(m.get("opengslb_overwatch_agents_registered"), 0)
        self.assertEqual(m.get("opengslb_overwatch_validation_enabled"), 0)
        self.assertEqual(m.find("opengslb_health_check_results_total"), [])

    # -- process -----------------------------------------------------------

    def test_process_metrics(self):
        m = self.scrape()
        start = m.get("process_start_time_seconds")
        self.assertLessEqual(start, time.time())
        self.assertGreater(start, time.time() - 3600)
        self.assertGreater(m.get("process_resident_memory_bytes"), 0)
        self.assertGreaterEqual(m.get("process_virtual_memory_bytes"),
                                m.get("process_resident_memory_bytes"))
        fds = m.get("process_open_fds")
        self.assertGreater(fds, 3)
        self.assertLessEqual(fds, m.get("process_max_fds"))
        self.assertGreaterEqual(m.get("process_cpu_seconds_total"), 0)


# ---------------------------------------------------------------------------

# Quotes, a backslash and a line feed: label values must escape them.
REGION = 'lab "one" \\ two\nthree'
SERVICE = "app.gslb.test"


def validation_config(port):
    """One TCP-checked server, 127.0.0.1:port, checked every second."""
    return gslbtest.checked_config(
        [(REGION, SERVICE,
          "{ type: tcp, interval: 1s, timeout: 500ms, "
          "failure_threshold: 1, success_threshold: 1 }",
          [("127.0.0.1", port)])],
        metrics=True)


class ValidationMetrics(MetricsCase):
    """A real TCP listener the test owns, checked by the overwatch."""

    backend = None

    @classmethod
    def make_config(cls):
        cls.backend = TCPBackend("127.0.0.1")
        return validation_config(cls.backend.port)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if cls.backend is not None:
                cls.backend.close()

    def status(self, m):
        return {lb["status"]: v for lb, v in m.find(
            "opengslb_backend_status", service=SERVICE,
            address="127.0.0.1:%d" % self.backend.port, region=REGION)}

    def results(self, m, result):
        return m.get("opengslb_health_check_results_total", region=REGION,
                     server="127.0.0.1:%d" % self.backend.port,
                     result=result) or 0

    def test_checks_counted_and_backend_goes_down(self):
        m = self.wait_for("two passed checks",
                          lambda m: self.results(m, "healthy") >= 2, 5)
        self.assertEqual(self.status(m)["healthy"], 1)
        self.assertEqual(m.get("opengslb_healthy_servers", region=REGION), 1)
        self.assertEqual(m.get("opengslb_overwatch_validation_enabled"), 1)
        self.assertEqual(m.get("opengslb_overwatch_backends_by_authority",
                               authority="validation"), 1)
        self.assertGreaterEqual(
            m.get("opengslb_overwatch_validation_checks_total",
                  service=SERVICE, result="healthy"), 2)

        # The histogram: cumulative buckets, +Inf equal to the count.
        name = "opengslb_health_check_duration_seconds"
        buckets = sorted((float(lb["le"]), v) for lb, v in
                         m.find(name + "_bucket", region=REGION))
        self.assertEqual([le for le, _ in buckets],
                         [.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5,
                          10, float("inf")])
        values = [v for _, v in buckets]
        self.assertEqual(values, sorted(values))
        count = m.get(name + "_count", region=REGION)
        self.assertEqual(values[-1], count)
        self.assertGreaterEqual(count, 2)
        self.assertGreaterEqual(m.get(name + "_sum", region=REGION), 0)
        self.assertEqual(m.types[name], "histogram")

        failed = self.results(m, "unhealthy")
        self.backend.close()
        # One failure is the threshold: one interval plus the time-out,
        # and slack for a loaded machine.
        m = self.wait_for("backend_status unhealthy",
                          lambda m: self.status(m)["unhealthy"] == 1, 5)
        self.assertEqual(self.status(m), {"healthy": 0, "unhealthy": 1,
                                          "stale": 0, "draining": 0})
        self.assertGreater(self.results(m, "unhealthy"), failed)
        self.assertEqual(m.get("opengslb_healthy_servers", region=REGION), 0)
        self.assertEqual(m.get("opengslb_overwatch_backends_healthy"), 0)

        p = subprocess.run([promtool(), "check", "metrics"],
                           input=self.fetch()[1].encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors="replace"))


class MetricsListenFailure(unittest.TestCase):
    """A metrics.address that cannot be bound stops the daemon."""

    def test_busy_address_refuses_to_start(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            taken = busy.getsockname()[1]
            template = gslbtest.config(metrics=True).replace(
                "$metrics_port", str(taken))
            expected = "cannot listen on metrics.address 127.0.0.1:%d: " \
                % taken
            for attempt in range(3):
                d = gslbtest.Daemon(template, name="MetricsListenFailure")
                try:
                    d.start(wait=False)
                    try:
                        d.proc.wait(gslbtest.timeout_s())
                    except subprocess.TimeoutExpired:
                        self.fail("started although metrics.address is "
                                  "taken\n" + d.describe())
                    log = d.log()
                    if expected not in log and "cannot listen" in log \
                            and attempt < 2:
                        continue  # lost a race for the DNS port
                    self.assertNotEqual(d.proc.returncode, 0)
                    self.assertIn(expected, log)
                    return
                finally:
                    d.cleanup()


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main()
