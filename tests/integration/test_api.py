#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The REST API as an operator's tools see it, over real HTTP: every
endpoint's JSON and status codes, 404 and 405, the allow-list (IPv4, IPv6,
proxy headers, reload), readiness, and on-demand validation of real TCP
backends, slow ones included."""
import calendar
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gslbtest  # noqa: E402
from backends import TCPBackend  # noqa: E402
from gslbtest import (REGIONS, Daemon, DaemonTestCase,  # noqa: E402
                      config, default_domains)

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
SLACK = 3.0  # seconds a loaded machine may add to any wait


def api_config(address='"127.0.0.1:$api_port"', extra=(), **kw):
    """gslbtest.config() with the API at address and extra api: keys."""
    text = config(api=True, **kw)
    old = '  address: "127.0.0.1:$api_port"\n'
    assert old in text
    new = "  address: %s\n" % address + "".join("  %s\n" % line
                                                for line in extra)
    return text.replace(old, new)


def static_servers(domains=None):
    """(service, address, region) of every server, in config order."""
    domains = default_domains() if domains is None else domains
    return [(d.name, address, region) for region in REGIONS
            for d in domains for (r, address, _) in d.servers
            if r == region]


def backend_config(regions, check):
    """regions: (name, domain, [(ip, port)]), every one checked by check
    (a YAML flow mapping); validation and the API on."""
    return gslbtest.checked_config(
        [(name, domain, check, servers) for name, domain, servers in regions],
        api=True)


def header(headers, name):
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


class ApiCase(DaemonTestCase):
    """A daemon with the API; helpers that check every answer is JSON."""

    host = "127.0.0.1"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.wait_api(cls.daemon, cls.host)
        except BaseException:
            cls.tearDownClass()
            raise

    @staticmethod
    def wait_api(daemon, host="127.0.0.1"):
        """The API may be bound just after the DNS listeners' log line."""
        deadline = time.monotonic() + gslbtest.timeout_s()
        while True:
            try:
                status, _, _ = daemon.http("/api/v1/live", host=host)
                if status == 200:
                    return
            except OSError:
                pass
            if not daemon.running():
                raise AssertionError("gslb-overwatchd exited\n%s"
                                     % daemon.describe())
            if time.monotonic() > deadline:
                raise AssertionError("API not answering\n%s"
                                     % daemon.describe())
            time.sleep(0.02)

    def call(self, path, method="GET", headers=None, body=None, expect=None,
             host=None):
        """One request; returns (status, headers, parsed JSON body)."""
        status, hdrs, data = self.daemon.http(path, method, body, headers,
                                              host=host or self.host)
        self.assertEqual(header(hdrs, "Content-Type"), "application/json",
                         "%s %s: %r" % (method, path, hdrs))
        self.assertTrue(data.endswith(b"\n"), data)
        self.assertEqual(data.count(b"\n"), 1, data)
        doc = json.loads(data)
        if expect is not None:
            self.assertEqual(status, expect, "%s %s: %r" % (method, path,
                                                            doc))
        return status, hdrs, doc

    def get(self, path, **kw):
        return self.call(path, expect=kw.pop("expect", 200), **kw)[2]

    def assertError(self, path, status, message, method="GET", **kw):
        _, hdrs, doc = self.call(path, method, expect=status, **kw)
        self.assertEqual(doc, {"error": message, "code": status})
        return hdrs

    def assertTime(self, text):
        self.assertRegex(text, RFC3339)
        # Recent, and in UTC: never year 1 or a local-time offset.
        t = calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
        self.assertLess(abs(t - time.time()), 3600, text)


# ---------------------------------------------------------------------------
# Shapes and codes, validation off (the servers are documentation
# addresses nobody answers on).

class Endpoints(ApiCase):
    @classmethod
    def make_config(cls):
        return api_config()

    def test_live(self):
        self.assertEqual(self.get("/api/v1/live"), {"alive": True})

    def test_version(self):
        doc = self.get("/api/v1/version")
        self.assertEqual(set(doc), {"version", "libknot", "node_id",
                                    "started_at"})
        self.assertRegex(doc["version"], r"^\d+\.\d+")
        self.assertRegex(doc["libknot"], r"^3\.\d+\.\d+$")
        self.assertEqual(doc["node_id"], "integration-test")
        self.assertTime(doc["started_at"])

    def test_ready_without_checks(self):
        # Nothing is checked with validation off: ready at once.
        self.assertEqual(self.get("/api/v1/ready"),
                         {"ready": True, "dns_ready": True,
                          "health_ready": True})

    def test_health_servers(self):
        doc = self.get("/api/v1/health/servers")
        self.assertEqual(set(doc), {"servers", "generated_at"})
        self.assertTime(doc["generated_at"])
        expected = static_servers()
        self.assertEqual([(s["service"], s["address"], s["region"])
                          for s in doc["servers"]], expected)
        for s in doc["servers"]:
            # Never checked: no times, no latency, no error.
            self.assertEqual(s, {
                "address": s["address"], "port": 80,
                "service": s["service"], "region": s["region"],
                "healthy": False, "status": "unknown",
                "consecutive_failures": 0, "consecutive_successes": 0})
        # IPv6 addresses keep their own port.
        v6 = [s for s in doc["servers"] if s["address"] == "2001:db8::61"]
        self.assertEqual(len(v6), 1)
        self.assertEqual(v6[0]["port"], 80)

    def test_health_regions(self):
        doc = self.get("/api/v1/health/regions")
        self.assertEqual(set(doc), {"regions", "generated_at"})
        self.assertTime(doc["generated_at"])
        self.assertEqual([r["name"] for r in doc["regions"]], list(REGIONS))
        servers = static_servers()
        for r in doc["regions"]:
            n = len([s for s in servers if s[2] == r["name"]])
            # Unchecked servers count as unhealthy.
            self.assertEqual(r, {"name": r["name"], "total_servers": n,
                                 "healthy_count": 0, "unhealthy_count": n,
                                 "health_percent": 0})

    def test_backends(self):
        doc = self.get("/api/v1/overwatch/backends")
        self.assertEqual(set(doc), {"backends", "generated_at"})
        self.assertTime(doc["generated_at"])
        self.assertEqual([(b["service"], b["address"], b["region"])
                          for b in doc["backends"]], static_servers())
        weights = {a: w for d in default_domains()
                   for (_, a, w) in d.servers}
        for b in doc["backends"]:
            # Not validated, not overridden, not from an agent: only the
            # base fields.
            self.assertEqual(b, {
                "service": b["service"], "address": b["address"],
                "port": 80, "weight": b["weight"], "agent_id": "",
                "region": b["region"], "source": "static",
                "effective_status": "healthy",
                "agent_healthy": b["agent_healthy"]})
            self.assertIsInstance(b["agent_healthy"], bool)
            w = weights[b["address"]]
            self.assertEqual(b["weight"], 100 if w is None else w)

    def backends(self, query):
        return self.get("/api/v1/overwatch/backends?" + query)["backends"]

    def test_backends_filters(self):
        servers = static_servers()
        rr = self.backends("service=rr.gslb.test")
        self.assertEqual(sorted(b["address"] for b in rr),
                         sorted(gslbtest.RR_SERVERS))
        # Names compare as DNS names do: case and final dot do not matter.
        self.assertEqual(self.backends("service=RR.Gslb.Test."), rr)
        east = self.backends("region=us-east")
        self.assertEqual([b["address"] for b in east],
                         [s[1] for s in servers if s[2] == "us-east"])
        # Values are URL-decoded.
        self.assertEqual(self.backends("region=us%2Deast"), east)
        both = self.backends("service=failover.gslb.test&region=us-east")
        self.assertEqual([b["address"] for b in both],
                         [gslbtest.FAILOVER_SECONDARY])
        self.assertEqual(len(self.backends("status=healthy")), len(servers))
        self.assertEqual(self.backends("status=unhealthy"), [])
        # An unknown value matches nothing; an unknown key is ignored.
        self.assertEqual(self.backends("status=sideways"), [])
        self.assertEqual(self.backends("service=nope.gslb.test"), [])
        self.assertEqual(self.backends("region=mars"), [])
        self.assertEqual(len(self.backends("color=blue")), len(servers))
        # An empty value is no filter.
        self.assertEqual(len(self.backends("service=&status=")), len(servers))

    def test_backends_invalid_query(self):
        for query in ("service", "service=rr.gslb.test&region", "=x",
                      "a=1&&b=2"):
            with self.subTest(query=query):
                self.assertError("/api/v1/overwatch/backends?" + query, 400,
                                 "invalid query")

    def test_stats(self):
        doc = self.get("/api/v1/overwatch/stats")
        servers = static_servers()
        by_service, by_region = {}, {}
        for service, _, region in servers:
            by_service[service] = by_service.get(service, 0) + 1
            by_region[region] = by_region.get(region, 0) + 1
        self.assertTime(doc.pop("generated_at"))
        self.assertEqual(doc, {
            "total_backends": len(servers),
            "healthy_backends": len(servers), "unhealthy_backends": 0,
            "stale_backends": 0, "draining_backends": 0,
            "active_overrides": 0, "validation_enabled": False,
            "validated_backends": 0, "disagreement_count": 0,
            "active_agents": 0, "unique_services": len(by_service),
            "backends_by_service": by_service,
            "backends_by_region": by_region,
            "store": {"path": os.path.join(self.daemon.state_dir,
                                           "overwatch.db"),
                      "ok": True}})

    def test_validate_disabled(self):
        self.assertError("/api/v1/overwatch/validate", 503,
                         "validator not available", method="POST")
        self.assertError("/api/v1/overwatch/validate?service=rr.gslb.test"
                         "&address=192.0.2.11&port=80", 503,
                         "validator not available", method="POST")

    def test_not_found(self):
        for path in ("/", "/api", "/api/v1", "/api/v1/health",
                     "/api/v1/nope", "/api/v1/live/", "/api/v1/LIVE",
                     "/api/v1/health/servers/", "/api/health",
                     "/api/v1/dnssecs"):
            with self.subTest(path=path):
                self.assertError(path, 404, "not found")
        # Below backends/ only the original's override path exists.
        self.assertError("/api/v1/overwatch/backends/x", 400,
                         "invalid path: expected /api/v1/overwatch/backends/"
                         "{service}/{address}/{port}/override")

    def test_method_not_allowed(self):
        cases = [("/api/v1/live", "POST", "GET"),
                 ("/api/v1/ready", "DELETE", "GET"),
                 ("/api/v1/version", "PUT", "GET"),
                 ("/api/v1/health/servers", "POST", "GET"),
                 ("/api/v1/health/regions", "PATCH", "GET"),
                 ("/api/v1/overwatch/backends", "POST", "GET"),
                 ("/api/v1/overwatch/stats", "OPTIONS", "GET"),
                 ("/api/v1/overwatch/validate", "GET", "POST")]
        for path, method, allow in cases:
            with self.subTest(path=path, method=method):
                hdrs = self.assertError(path, 405, "method not allowed",
                                        method=method)
                self.assertEqual(header(hdrs, "Allow"),
                                 "GET, HEAD" if allow == "GET" else allow)

    def test_head(self):
        # Probes may use HEAD: the status and headers of GET, no body.
        for path, status in (("/api/v1/ready", 200),
                             ("/api/v1/overwatch/stats", 200),
                             ("/api/v1/overwatch/validate", 405),
                             ("/api/v1/nope", 404)):
            with self.subTest(path=path):
                got, hdrs, body = self.daemon.http(path, "HEAD")
                self.assertEqual(got, status)
                self.assertEqual(header(hdrs, "Content-Type"),
                                 "application/json")
                self.assertEqual(body, b"")
        # No body follows (pipelined, so stray bytes would show).
        with socket.create_connection(("127.0.0.1", self.daemon.api_port),
                                      timeout=5) as s:
            s.sendall(b"HEAD /api/v1/live HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"HEAD /api/v1/nope HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        self.assertEqual(re.findall(rb"HTTP/1\.1 (\d+)", out),
                         [b"200", b"404"])
        self.assertNotIn(b"{", out)

    def test_query_does_not_change_the_route(self):
        self.assertEqual(self.get("/api/v1/live?verbose=1&x"),
                         {"alive": True})
        self.assertError("/api/v1/nope?service=x", 404, "not found")

    def test_body_on_get_is_ignored(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.api_port,
                                          timeout=5)
        try:
            conn.request("GET", "/api/v1/overwatch/stats", body=b'{"x": [',
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertIn("total_backends", json.loads(resp.read()))
            # The body was consumed: the next request on the same
            # connection is read correctly.
            conn.request("GET", "/api/v1/live")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.read()), {"alive": True})
        finally:
            conn.close()

    def test_bad_requests_do_not_hurt(self):
        port = self.daemon.api_port
        for raw in (b"NOT HTTP AT ALL\r\n\r\n",
                    b"GET /api/v1/live HTTP/1.1\r\nX-Big: " +
                    b"a" * 20000 + b"\r\n\r\n",
                    b"POST /api/v1/overwatch/validate HTTP/1.1\r\n"
                    b"Content-Length: 100000\r\n\r\n" + b"x" * 70000,
                    b"GET /api/v1/live HTTP/1.1\r\nHost: x\r\n"):
            with self.subTest(raw=raw[:40]):
                with socket.create_connection(("127.0.0.1", port),
                                              timeout=5) as s:
                    try:
                        s.sendall(raw)
                        s.shutdown(socket.SHUT_WR)
                        reply = s.recv(200)
                    except OSError:
                        reply = b""
                # Refused or closed, never a success.
                self.assertFalse(reply.startswith(b"HTTP/1.1 2"), reply)
        self.assertEqual(self.get("/api/v1/live"), {"alive": True})
        self.assertTrue(self.daemon.running())


# ---------------------------------------------------------------------------
# The allow-list.

ACL_ROUTES = [("/api/v1/health/servers", "GET"),
              ("/api/v1/health/regions", "GET"),
              ("/api/v1/overwatch/backends", "GET"),
              ("/api/v1/overwatch/stats", "GET"),
              ("/api/v1/overwatch/validate", "POST")]
PUBLIC_ROUTES = ["/api/v1/ready", "/api/v1/live", "/api/v1/version"]


class Denied(ApiCase):
    """Only 10.0.0.0/8 may use the API; the test calls from 127.0.0.1."""

    @classmethod
    def make_config(cls):
        return api_config(extra=["allowed_networks: [10.0.0.0/8]"])

    def test_acl_routes_forbidden(self):
        for path, method in ACL_ROUTES + [("/api/v1/nope", "GET")]:
            with self.subTest(path=path):
                self.assertError(path, 403, "forbidden", method=method)

    def test_public_routes_open(self):
        for path in PUBLIC_ROUTES:
            with self.subTest(path=path):
                self.call(path, expect=200)

    def test_proxy_headers_not_trusted(self):
        for name in ("X-Forwarded-For", "X-Real-IP"):
            with self.subTest(header=name):
                self.assertError("/api/v1/overwatch/stats", 403, "forbidden",
                                 headers={name: "10.1.2.3"})


class ProxyHeaders(ApiCase):
    """trust_proxy_headers: the client is the proxy's first address."""

    @classmethod
    def make_config(cls):
        return api_config(extra=["allowed_networks: [10.0.0.0/8]",
                                 "trust_proxy_headers: true"])

    def status(self, headers):
        return self.call("/api/v1/overwatch/stats", headers=headers)[0]

    def test_forwarded_for(self):
        self.assertEqual(self.status({"X-Forwarded-For":
                                      " 10.1.2.3 , 127.0.0.1"}), 200)
        self.assertEqual(self.status({"X-Forwarded-For":
                                      "::ffff:10.1.2.3"}), 200)
        # Only the first element counts.
        self.assertEqual(self.status({"X-Forwarded-For":
                                      "127.0.0.1, 10.1.2.3"}), 403)
        # X-Forwarded-For wins over X-Real-IP.
        self.assertEqual(self.status({"X-Forwarded-For": "192.0.2.1",
                                      "X-Real-IP": "10.1.1.1"}), 403)

    def test_real_ip(self):
        self.assertEqual(self.status({"X-Real-IP": " 10.9.9.9 "}), 200)
        # Not an address: the next source is used.
        self.assertEqual(self.status({"X-Forwarded-For": "proxy.example",
                                      "X-Real-IP": "10.1.1.1"}), 200)

    def test_no_headers_is_the_peer(self):
        self.assertEqual(self.status({}), 403)
        self.assertEqual(self.status({"X-Forwarded-For": "garbage"}), 403)


class Reload(ApiCase):
    """The allow-list follows a configuration reload."""

    @classmethod
    def make_config(cls):
        return api_config(extra=["allowed_networks: [10.0.0.0/8]"])

    def test_reload_opens_and_closes(self):
        self.assertError("/api/v1/overwatch/stats", 403, "forbidden")
        outcome, _ = self.daemon.reload(api_config(
            extra=["allowed_networks: [10.0.0.0/8, 127.0.0.0/8]"]))
        self.assertEqual(outcome, "reloaded")
        self.call("/api/v1/overwatch/stats", expect=200)
        outcome, _ = self.daemon.reload(api_config(
            extra=["allowed_networks: [10.0.0.0/8]"]))
        self.assertEqual(outcome, "reloaded")
        self.assertError("/api/v1/overwatch/stats", 403, "forbidden")


def bindv6only():
    try:
        with open("/proc/sys/net/ipv6/bindv6only") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


@unittest.skipUnless(gslbtest.ipv6_available(), "no IPv6 loopback")
class IPv6Allowed(ApiCase):
    host = "::1"

    @classmethod
    def make_config(cls):
        return api_config('"[::1]:$api_port"',
                          extra=['allowed_networks: ["::1/128"]'])

    def test_served_on_ipv6(self):
        doc = self.get("/api/v1/overwatch/backends?service=v6only.gslb.test")
        self.assertEqual(sorted(b["address"] for b in doc["backends"]),
                         sorted(gslbtest.V6ONLY_SERVERS))


@unittest.skipUnless(gslbtest.ipv6_available(), "no IPv6 loopback")
class IPv6Denied(ApiCase):
    host = "::1"

    @classmethod
    def make_config(cls):
        return api_config('"[::1]:$api_port"',
                          extra=["allowed_networks: [127.0.0.1/32]"])

    def test_ipv4_list_does_not_cover_ipv6(self):
        self.assertError("/api/v1/health/servers", 403, "forbidden")
        self.call("/api/v1/live", expect=200)


@unittest.skipUnless(gslbtest.ipv6_available() and not bindv6only(),
                     "no dual-stack IPv6 socket")
class DualStack(ApiCase):
    """An empty host listens on every address; IPv4 clients then arrive
    as ::ffff:a.b.c.d and must still match IPv4 entries."""

    @classmethod
    def make_config(cls):
        return api_config('":$api_port"',
                          extra=["allowed_networks: [127.0.0.1/32]"])

    def test_mapped_ipv4_matches_ipv4_entries(self):
        self.call("/api/v1/overwatch/stats", expect=200)
        self.assertError("/api/v1/overwatch/stats", 403, "forbidden",
                         host="::1")


class ListenFailure(unittest.TestCase):
    """An API that cannot listen stops the daemon from starting."""

    def test_port_in_use(self):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        d = Daemon(api_config('"127.0.0.1:%d"' % port), name="api-busy")
        try:
            d.start(wait=False)
            try:
                code = d.proc.wait(gslbtest.timeout_s())
            except Exception:
                self.fail("daemon kept running\n%s" % d.describe())
            self.assertNotEqual(code, 0)
            self.assertIn("cannot listen on api.address 127.0.0.1:%d" % port,
                          d.log(), d.describe())
        finally:
            holder.close()
            d.cleanup()


# ---------------------------------------------------------------------------
# Validation with real TCP backends.

FAST_CHECK = ("{ type: tcp, interval: 1s, timeout: 500ms, "
              "failure_threshold: 1, success_threshold: 1 }")


class Validation(ApiCase):
    """up.gslb.test (us-east) and other.gslb.test (eu-west) stay up;
    down.gslb.test (spare) is taken down by a test."""

    backends = {}

    @classmethod
    def make_config(cls):
        cls.backends = {name: TCPBackend("127.0.0.1") for name in ("up", "other", "down")}
        return backend_config([
            ("us-east", "up.gslb.test",
             [("127.0.0.1", cls.backends["up"].port)]),
            ("eu-west", "other.gslb.test",
             [("127.0.0.1", cls.backends["other"].port)]),
            ("spare", "down.gslb.test",
             [("127.0.0.1", cls.backends["down"].port)]),
        ], FAST_CHECK)

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
            # Every backend passes its first check within the interval.
            deadline = time.monotonic() + 1.5 + SLACK
            while True:
                _, _, data = cls.daemon.http("/api/v1/overwatch/backends")
                docs = json.loads(data)["backends"]
                if all(b.get("validation_healthy") for b in docs):
                    break
                if time.monotonic() > deadline:
                    raise AssertionError("not validated: %r\n%s"
                                         % (docs, cls.daemon.describe()))
                time.sleep(0.05)
        except BaseException:
            for b in cls.backends.values():
                b.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for b in cls.backends.values():
                b.close()

    def backend(self, service):
        docs = self.get("/api/v1/overwatch/backends?service=" + service)
        self.assertEqual(len(docs["backends"]), 1, docs)
        return docs["backends"][0]

    def server(self, service):
        docs = self.get("/api/v1/health/servers")["servers"]
        found = [s for s in docs if s["service"] == service]
        self.assertEqual(len(found), 1, docs)
        return found[0]

    def validate(self, service=None, expect=200):
        path = "/api/v1/overwatch/validate"
        if service is not None:
            path += "?service=%s&address=127.0.0.1&port=%d" % (
                service, self.backends[service.split(".")[0]].port)
        return self.call(path, "POST", expect=expect)[2]

    def test_servers_show_the_checks(self):
        s = self.server("up.gslb.test")
        self.assertEqual(s["port"], self.backends["up"].port)
        self.assertEqual(s["region"], "us-east")
        self.assertTrue(s["healthy"])
        self.assertEqual(s["status"], "healthy")
        self.assertTime(s["last_check"])
        self.assertTime(s["last_healthy"])
        self.assertEqual(s["consecutive_failures"], 0)
        self.assertGreaterEqual(s["consecutive_successes"], 1)
        self.assertIsInstance(s["latency_ms"], (int, float))
        self.assertGreaterEqual(s["latency_ms"], 0)
        self.assertLess(s["latency_ms"], 500)
        self.assertNotIn("last_error", s)

    def test_regions_count_healthy_servers(self):
        regions = {r["name"]: r for r in
                   self.get("/api/v1/health/regions")["regions"]}
        self.assertEqual(list(regions), ["us-east", "eu-west", "spare"])
        self.assertEqual(regions["us-east"], {
            "name": "us-east", "total_servers": 1, "healthy_count": 1,
            "unhealthy_count": 0, "health_percent": 100})

    def test_backends_show_validation(self):
        b = self.backend("up.gslb.test")
        self.assertTrue(b["validation_healthy"])
        self.assertTime(b["validation_last_check"])
        self.assertEqual(b["validation_error"], "")
        self.assertEqual(b["effective_status"], "healthy")
        self.assertNotIn("override_status", b)

    def test_stats_count_validation(self):
        doc = self.get("/api/v1/overwatch/stats")
        self.assertTrue(doc["validation_enabled"])
        self.assertEqual(doc["validated_backends"], 3)
        self.assertEqual(doc["total_backends"], 3)
        self.assertEqual(doc["healthy_backends"] +
                         doc["unhealthy_backends"], 3)
        self.assertEqual(doc["unique_services"], 3)

    def test_ready(self):
        self.assertEqual(self.get("/api/v1/ready"),
                         {"ready": True, "dns_ready": True,
                          "health_ready": True})

    def test_validate_all(self):
        self.assertEqual(self.validate(), {
            "success": True,
            "message": "Validation triggered for all backends"})

    def test_validate_one(self):
        before = self.server("up.gslb.test")["last_check"]
        self.assertEqual(self.validate("up.gslb.test"), {
            "success": True,
            "message": "Validation triggered for specific backend"})
        # The answer came after a new check.
        self.assertGreater(self.server("up.gslb.test")["last_check"], before)
        # The service is a DNS name: any case, with or without the dot.
        port = self.backends["up"].port
        self.call("/api/v1/overwatch/validate?service=UP.gslb.test."
                  "&address=127.0.0.1&port=%d" % port, "POST", expect=200)

    def test_validate_errors(self):
        path = "/api/v1/overwatch/validate?"
        port = self.backends["up"].port
        for q in ("port=0", "port=65536", "port=http", "port=-1", "port=",
                  "port=%2080"):
            with self.subTest(q=q):
                want = (400, "invalid port") if q != "port=" else \
                    (400, "service, address and port go together")
                self.assertError(path + "service=up.gslb.test&address="
                                 "127.0.0.1&" + q, *want, method="POST")
        self.assertError(path + "service=up.gslb.test&address=localhost"
                         "&port=%d" % port, 400, "invalid address",
                         method="POST")
        self.assertError(path + "service=up.gslb.test&address=127.0.0.1"
                         "&port=1", 404,
                         "backend not found: up.gslb.test:127.0.0.1:1",
                         method="POST")
        self.assertError(path + "service=nope.gslb.test&address=127.0.0.1"
                         "&port=%d" % port, 404,
                         "backend not found: nope.gslb.test:127.0.0.1:%d"
                         % port, method="POST")
        for q in ("service=up.gslb.test", "address=127.0.0.1",
                  "service=up.gslb.test&port=%d" % port):
            with self.subTest(q=q):
                self.assertError(path + q, 400,
                                 "service, address and port go together",
                                 method="POST")
        self.assertError(path + "service", 400, "invalid query",
                         method="POST")

    def test_validate_finds_a_backend_down(self):
        self.backends["down"].close()
        self.validate("down.gslb.test")
        # The answer comes once the check is done: its result shows.
        b = self.backend("down.gslb.test")
        self.assertFalse(b["validation_healthy"])
        self.assertEqual(b["effective_status"], "unhealthy")
        self.assertNotEqual(b["validation_error"], "")
        s = self.server("down.gslb.test")
        self.assertFalse(s["healthy"])
        self.assertEqual(s["status"], "unhealthy")
        self.assertGreaterEqual(s["consecutive_failures"], 1)
        self.assertNotEqual(s.get("last_error", ""), "")
        down = self.get("/api/v1/overwatch/backends?status=unhealthy")
        self.assertEqual([x["service"] for x in down["backends"]],
                         ["down.gslb.test"])
        spare = [r for r in self.get("/api/v1/health/regions")["regions"]
                 if r["name"] == "spare"]
        self.assertEqual(spare[0]["healthy_count"], 0)
        self.assertEqual(spare[0]["health_percent"], 0)


SLOW_TIMEOUT = 2.0
# One slow check at start, then none for a minute: a validate request
# starts its own check rather than joining a scheduled one.
SLOW_CHECK = ("{ type: tcp, interval: 60s, timeout: 2s, "
              "failure_threshold: 1, success_threshold: 1 }")


class SlowValidation(ApiCase):
    """A backend whose checks hang until their timeout."""

    hole = None
    first_ready = None

    @classmethod
    def make_config(cls):
        cls.hole = TCPBackend("127.0.0.1", blackhole=True)
        return backend_config(
            [("us-east", "slow.gslb.test", [("127.0.0.1", cls.hole.port)])],
            SLOW_CHECK)

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
            # Asked at once: the first check cannot have finished.
            _, _, data = cls.daemon.http("/api/v1/ready")
            cls.first_ready = data
        except BaseException:
            cls.hole.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.hole.close()

    def validate_path(self):
        return ("/api/v1/overwatch/validate?service=slow.gslb.test"
                "&address=127.0.0.1&port=%d" % self.hole.port)

    def wait_ready(self):
        deadline = time.monotonic() + SLOW_TIMEOUT + 2 + SLACK
        while True:
            status, _, doc = self.call("/api/v1/ready")
            if status == 200 or time.monotonic() > deadline:
                return status, doc
            time.sleep(0.05)

    def test_ready_waits_for_the_first_checks(self):
        self.assertEqual(json.loads(self.first_ready), {
            "ready": False, "message": "health checks not ready",
            "dns_ready": True, "health_ready": False})
        status, doc = self.wait_ready()
        self.assertEqual(status, 200)
        self.assertEqual(doc, {"ready": True, "dns_ready": True,
                               "health_ready": True})

    def test_slow_check_does_not_block_other_requests(self):
        self.wait_ready()
        result = {}

        def post():
            result["answer"] = self.daemon.http(self.validate_path(), "POST",
                                                timeout=SLOW_TIMEOUT + SLACK)

        t = threading.Thread(target=post)
        t.start()
        try:
            time.sleep(0.3)
            self.assertTrue(t.is_alive(), "validation answered before its "
                            "check could time out: %r" % result)
            # Served while the validation waits.
            self.assertEqual(self.get("/api/v1/live"), {"alive": True})
            self.get("/api/v1/overwatch/stats")
            self.assertTrue(t.is_alive())
        finally:
            t.join(SLOW_TIMEOUT + 2 * SLACK)
        status, _, data = result["answer"]
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data), {
            "success": True,
            "message": "Validation triggered for specific backend"})
        b = self.get("/api/v1/overwatch/backends")["backends"][0]
        self.assertFalse(b["validation_healthy"])
        self.assertNotEqual(b["validation_error"], "")

    def test_client_leaving_early(self):
        self.wait_ready()
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", self.daemon.api_port),
                                          timeout=5) as s:
                s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 0\r\n\r\n"
                          % self.validate_path().encode())
                time.sleep(0.1)
        # Still serving, and a new validation completes normally.
        self.assertEqual(self.get("/api/v1/live"), {"alive": True})
        status, _, data = self.daemon.http(self.validate_path(), "POST",
                                           timeout=SLOW_TIMEOUT + SLACK)
        self.assertEqual(status, 200, data)
        self.assertTrue(self.daemon.running())


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main(verbosity=2)
