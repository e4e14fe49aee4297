#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Persistent state: overrides, API-added servers and the audit log, as
an operator sees them in DNS answers and through the API, across
restarts and kill -9, with tokens, the UNIX socket and a locked database."""

import concurrent.futures
import errno
import json
import os
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gslbtest  # noqa: E402
from gslbtest import (FAILOVER_PRIMARY, FAILOVER_SECONDARY,  # noqa: E402
                      RR_SERVERS, addresses)

FAILOVER = "failover.gslb.test"
RR = "rr.gslb.test"
TOKEN = "s3cret-token-for-ops-0123456789"


def with_api(extra=(), metrics=False):
    """The test config with the API on, plus extra api: lines."""
    text = gslbtest.config(api=True, metrics=metrics)
    old = '  socket: "$socket"\n'
    assert old in text
    return text.replace(old, old + "".join("  %s\n" % x for x in extra))


def override_path(service, address):
    return "/api/v1/overrides/%s/%s" % (service, address)


class StateTestCase(gslbtest.DaemonTestCase):
    """Helpers over the daemon's API (UNIX socket unless tcp=True)."""

    @classmethod
    def make_config(cls):
        return with_api()

    def call(self, path, method="GET", body=None, expect=200, tcp=False,
             headers=None):
        d = self.daemon
        fn = d.http if tcp else d.socket_http
        status, hdrs, data = fn(path, method, body, headers)
        self.assertEqual(status, expect, "%s %s: %r" % (method, path, data))
        return json.loads(data) if data else None

    def set_override(self, service, address, healthy, reason="test",
                     **extra):
        body = {"healthy": healthy, "reason": reason, "source": "tests"}
        body.update(extra)
        return self.call(override_path(service, address), "PUT", body)

    def answer_set(self, name, tries=12):
        """Every address name is answered with over several queries."""
        seen = set()
        for _ in range(tries):
            seen |= set(addresses(self.daemon.query(name), "A"))
        return seen

    def wait_answer(self, name, want, timeout=3.0):
        """Polls until name answers exactly with the set want."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.answer_set(name)
            if got == set(want) or time.monotonic() > deadline:
                self.assertEqual(got, set(want), "answers for %s" % name)
                return
            time.sleep(0.05)

    def audit(self, **query):
        q = "&".join("%s=%s" % kv for kv in query.items())
        return self.call("/api/v1/audit-logs" + ("?" + q if q else ""))

    def clear_all(self):
        for o in self.call("/api/v1/overrides")["overrides"]:
            self.call(override_path(o["service"], o["address"]), "DELETE",
                      expect=204)


class Overrides(StateTestCase):

    def tearDown(self):
        self.clear_all()

    def test_override_steers_dns_and_clears(self):
        self.wait_answer(FAILOVER, {FAILOVER_PRIMARY})
        doc = self.set_override(FAILOVER, FAILOVER_PRIMARY + ":80", False,
                                reason="maintenance window")
        self.assertEqual(doc["healthy"], False)
        self.assertEqual(doc["reason"], "maintenance window")
        self.assertEqual(doc["source"], "tests")
        self.assertEqual(doc["set_by"], "local")
        self.assertEqual(doc["authority"], "external_tool")
        self.assertEqual(doc["backends"], 1)
        self.assertNotIn("expires_at", doc)
        # Acknowledged means applied: the very next query sees it.
        self.assertEqual(self.answer_set(FAILOVER), {FAILOVER_SECONDARY})

        backend = [b for b in self.call(
            "/api/v1/overwatch/backends?service=" + FAILOVER)["backends"]
            if b["address"] == FAILOVER_PRIMARY][0]
        self.assertEqual(backend["effective_status"], "unhealthy")
        self.assertEqual(backend["override_status"], False)
        self.assertEqual(backend["override_reason"], "maintenance window")
        self.assertEqual(backend["override_by"], "local")

        got = self.call(override_path(FAILOVER, FAILOVER_PRIMARY + ":80"))
        self.assertEqual(got, doc)
        listed = self.call("/api/v1/overrides")["overrides"]
        self.assertEqual(listed, [doc])

        self.call(override_path(FAILOVER, FAILOVER_PRIMARY + ":80"),
                  "DELETE", expect=204)
        self.assertEqual(self.answer_set(FAILOVER), {FAILOVER_PRIMARY})
        self.call(override_path(FAILOVER, FAILOVER_PRIMARY + ":80"),
                  "DELETE", expect=404)
        self.assertEqual(self.call("/api/v1/overrides")["overrides"], [])

    def test_override_healthy_beats_nothing_else_changes(self):
        # Marking a healthy backend healthy changes no answer.
        self.set_override(FAILOVER, FAILOVER_PRIMARY, True)
        self.assertEqual(self.answer_set(FAILOVER), {FAILOVER_PRIMARY})

    def test_bare_ip_covers_every_port(self):
        doc = self.set_override(RR, RR_SERVERS[0], False)
        self.assertEqual(doc["address"], RR_SERVERS[0])
        self.assertEqual(self.answer_set(RR), set(RR_SERVERS[1:]))
        # An exact key wins over the bare IP.
        self.set_override(RR, RR_SERVERS[0] + ":80", True)
        self.assertEqual(self.answer_set(RR), set(RR_SERVERS))

    def test_replace_keeps_one(self):
        self.set_override(RR, RR_SERVERS[1] + ":80", False, reason="one")
        self.set_override(RR, RR_SERVERS[1] + ":80", False, reason="two")
        listed = self.call("/api/v1/overrides")["overrides"]
        self.assertEqual([o["reason"] for o in listed], ["two"])
        entries = self.audit(action="override.set", limit=1)["entries"]
        self.assertEqual(entries[0]["before"]["reason"], "one")
        self.assertEqual(entries[0]["after"]["reason"], "two")

    def test_expiry_reverts_by_itself(self):
        doc = self.set_override(FAILOVER, FAILOVER_PRIMARY + ":80", False,
                                expires_in="1s")
        self.assertIn("expires_at", doc)
        self.assertEqual(self.answer_set(FAILOVER), {FAILOVER_SECONDARY})
        self.wait_answer(FAILOVER, {FAILOVER_PRIMARY}, timeout=5)
        self.assertEqual(self.call("/api/v1/overrides")["overrides"], [])
        entry = self.audit(action="override.expire", limit=1)["entries"][0]
        self.assertEqual(entry["resource"], "overrides/%s/%s:80"
                         % (FAILOVER, FAILOVER_PRIMARY))
        self.assertEqual(entry["before"]["reason"], "test")
        self.assertEqual(entry["client_address"], "gslb-overwatchd")
        self.assertIn("expired", self.daemon.log())

    def test_expires_at(self):
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                           time.gmtime(time.time() + 3600))
        doc = self.set_override(RR, RR_SERVERS[2], False, expires_at=at)
        self.assertTrue(doc["expires_at"].startswith(at[:19]), doc)

    def test_ipv6_address_forms(self):
        v6 = gslbtest.V6ONLY_SERVERS[0]
        doc = self.set_override("v6only.gslb.test", "[%s]:80" % v6, False)
        self.assertEqual(doc["address"], "[%s]:80" % v6)
        got = self.call(override_path("v6only.gslb.test", "%5B" + v6 +
                                      "%5D:80"))
        self.assertEqual(got["address"], "[%s]:80" % v6)

    def test_original_backend_override_path(self):
        path = "/api/v1/overwatch/backends/%s/%s/80/override" % (
            FAILOVER, FAILOVER_PRIMARY)
        doc = self.call(path, "POST", {"healthy": False,
                                       "reason": "maintenance bypass"},
                        tcp=True, headers={"X-User": "admin"})
        self.assertEqual(doc, {"success": True, "message": "Override set: "
                               "backend marked as unhealthy"})
        self.assertEqual(self.answer_set(FAILOVER), {FAILOVER_SECONDARY})
        listed = self.call("/api/v1/overrides")["overrides"]
        self.assertEqual(listed[0]["set_by"], "admin")
        self.assertEqual(listed[0]["source"], "api")
        doc = self.call(path, "DELETE", tcp=True)
        self.assertEqual(doc, {"success": True, "message": "Override cleared"})
        self.assertEqual(self.answer_set(FAILOVER), {FAILOVER_PRIMARY})
        # Clearing nothing is fine; unknown backends and ports are not.
        self.call(path, "DELETE", tcp=True)
        self.call(path.replace("/80/", "/81/"), "POST",
                  {"healthy": True}, expect=404, tcp=True)
        self.call(path.replace("/80/", "/x/"), "POST", {"healthy": True},
                  expect=400, tcp=True)

    def test_concurrent_puts_all_recorded(self):
        before = self.audit(action="override.set", limit=1)["total"]

        def put(i):
            d = self.daemon
            return d.http(override_path(RR, RR_SERVERS[i % 3] + ":80"),
                          "PUT", {"healthy": True, "reason": "put %d" % i,
                                  "source": "storm"})[0]

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(put, range(100)))
        self.assertEqual(codes, [200] * 100)
        doc = self.audit(action="override.set", limit=1000)
        self.assertEqual(doc["total"] - before, 100)
        reasons = {e["after"]["reason"] for e in doc["entries"][:100]}
        self.assertEqual(reasons, {"put %d" % i for i in range(100)})
        self.assertEqual(len(self.call("/api/v1/overrides")["overrides"]), 3)


class BadRequests(StateTestCase):

    def assertRefused(self, path, method, body, status, message):
        d = self.daemon
        code, _, data = d.socket_http(path, method, body)
        self.assertEqual(code, status, data)
        doc = json.loads(data)
        self.assertEqual(doc["code"], status)
        self.assertIn(message, doc["error"])

    def test_override_bodies(self):
        path = override_path(RR, RR_SERVERS[0] + ":80")
        good = {"healthy": False, "reason": "r", "source": "s"}
        cases = [
            ("{", 400, "invalid request body"),
            ("[]", 400, "must be a JSON object"),
            ("", 400, "request body required"),
            ('{"healthy": false, "healthy": true}', 400,
             "invalid request body"),
            (dict(good, healthy="no"), 400, "healthy must be true or false"),
            ({"reason": "r", "source": "s"}, 400, "healthy is required"),
            (dict(good, reason=5), 400, "reason must be a string"),
            (dict(good, reason=""), 400, "reason must not be empty"),
            (dict(good, reason="a\nb"), 400, "control characters"),
            ({"healthy": False, "reason": "r"}, 400, "source is required"),
            (dict(good, extra=1), 400, 'unknown field "extra"'),
            (dict(good, expires_in="soon"), 400, "expires_in must be"),
            (dict(good, expires_in=-5), 400, "expires_in must be"),
            (dict(good, expires_at="tomorrow"), 400, "expires_at must be"),
            (dict(good, expires_at="2001-01-01T00:00:00Z"), 400,
             "expires_at must lie in the next"),
            (dict(good, expires_in="1h", expires_at="2099-01-01T00:00:00Z"),
             400, "not both"),
            ('{"reason": "' + "x" * 70000 + '"}', 413, "too large"),
        ]
        for body, status, message in cases:
            with self.subTest(body=str(body)[:60]):
                self.assertRefused(path, "PUT", body, status, message)
        self.assertEqual(self.call("/api/v1/overrides")["overrides"], [])

    def test_override_targets(self):
        body = {"healthy": False, "reason": "r", "source": "s"}
        self.assertRefused(override_path("nope.gslb.test", "192.0.2.11"),
                           "PUT", body, 404, 'unknown service "nope.gslb.test"')
        self.assertRefused(override_path(RR, "192.0.2.99:80"), "PUT", body,
                           404, "no backend 192.0.2.99:80 in service " + RR)
        self.assertRefused(override_path(RR, "not-an-ip:80"), "PUT", body,
                           400, "invalid address")
        self.assertRefused("/api/v1/overrides/" + RR, "PUT", body, 400,
                           "invalid path")
        self.assertRefused("/api/v1/overrides//x", "GET", None, 400,
                           "invalid path")
        self.assertRefused(override_path(RR, RR_SERVERS[0]), "PATCH", body,
                           405, "method not allowed")
        self.assertRefused("/api/v1/overrides", "POST", body, 405,
                           "method not allowed")
        self.assertRefused(override_path(RR, RR_SERVERS[0]), "GET", None,
                           404, "override not found")

    def test_server_bodies(self):
        good = {"service": RR, "address": "192.0.2.50", "port": 80}
        cases = [
            (dict(good, address="x"), 400, "address is required"),
            (dict(good, port=0), 400, "port is required"),
            (dict(good, port="80"), 400, "port is required"),
            (dict(good, weight=-1), 400, "weight must be"),
            ({"address": "192.0.2.50", "port": 80}, 400,
             "service is required"),
            (dict(good, service="nope.gslb.test"), 404, "unknown service"),
            (dict(good, region="mars"), 404, 'unknown region "mars"'),
            (dict(good, port=80, address=RR_SERVERS[0]), 409,
             "exists already (in the configuration file)"),
            (dict(good, color="red"), 400, 'unknown field "color"'),
        ]
        for body, status, message in cases:
            with self.subTest(body=body):
                self.assertRefused("/api/v1/servers", "POST", body, status,
                                   message)
        self.assertRefused("/api/v1/servers/%s:%s:80" % (RR, RR_SERVERS[0]),
                           "DELETE", None, 409, "configuration file")
        self.assertRefused("/api/v1/servers/%s:192.0.2.99:80" % RR,
                           "DELETE", None, 404, "server not found")
        self.assertRefused("/api/v1/servers/garbage", "GET", None, 404,
                           "server not found")

    def test_audit_queries(self):
        self.assertRefused("/api/v1/audit-logs?limit=0", "GET", None, 400,
                           "limit must be")
        self.assertRefused("/api/v1/audit-logs?limit=5000", "GET", None, 400,
                           "limit must be")
        self.assertRefused("/api/v1/audit-logs?since=yesterday", "GET", None,
                           400, "since must be")
        self.assertRefused("/api/v1/audit-logs", "POST", None, 405,
                           "method not allowed")

    def test_still_serving(self):
        self.assertEqual(self.answer_set(FAILOVER), {FAILOVER_PRIMARY})
        self.assertTrue(self.daemon.running())


class Servers(StateTestCase):

    def test_add_and_remove(self):
        doc = self.call("/api/v1/servers", "POST",
                        {"service": RR, "address": "192.0.2.14", "port": 80,
                         "region": "eu-west", "weight": 5}, expect=201)
        server = doc["server"]
        self.assertEqual(server["id"], RR + ":192.0.2.14:80")
        self.assertEqual(server["source"], "api")
        self.assertEqual(server["region"], "eu-west")
        self.assertEqual(server["weight"], 5)
        self.assertEqual(server["created_by"], "local")
        self.assertEqual(self.answer_set(RR),
                         set(RR_SERVERS) | {"192.0.2.14"})
        listed = self.call("/api/v1/servers")
        self.assertIn(server["id"], [s["id"] for s in listed["servers"]])
        self.assertEqual(self.call("/api/v1/servers/" + server["id"]),
                         {"server": server})
        self.call("/api/v1/servers/" + server["id"], "DELETE", expect=204)
        self.assertEqual(self.answer_set(RR), set(RR_SERVERS))
        self.call("/api/v1/servers/" + server["id"], expect=404)
        entries = self.audit(resource="servers/")["entries"]
        self.assertEqual([e["action"] for e in entries[:2]],
                         ["server.remove", "server.add"])

    def test_ipv6_server(self):
        v6 = "2001:db8::63"
        doc = self.call("/api/v1/servers", "POST",
                        {"service": "v6only.gslb.test", "address": v6,
                         "port": 8443}, expect=201)
        sid = doc["server"]["id"]
        self.assertEqual(sid, "v6only.gslb.test:[%s]:8443" % v6)
        encoded = sid.replace("[", "%5B").replace("]", "%5D")
        self.call("/api/v1/servers/" + encoded, "DELETE", expect=204)


class Tokens(StateTestCase):
    """api.tokens: TCP writes need a bearer token; reads and the UNIX
    socket do not."""

    @classmethod
    def make_config(cls):
        return with_api(["tokens:", "  ops: \"%s\"" % TOKEN])

    def put(self, headers, tcp=True):
        d = self.daemon
        fn = d.http if tcp else d.socket_http
        return fn(override_path(RR, RR_SERVERS[0] + ":80"), "PUT",
                  {"healthy": False, "reason": "r", "source": "s"},
                  headers)

    def test_write_needs_token(self):
        status, hdrs, data = self.put({})
        self.assertEqual(status, 401, data)
        self.assertIn("Authorization: Bearer", json.loads(data)["error"])
        self.assertIn("Bearer", hdrs.get("WWW-Authenticate", ""))
        status, _, data = self.put({"Authorization": "Bearer wrong-token"})
        self.assertEqual(status, 401, data)
        self.assertEqual(json.loads(data)["error"], "invalid token")
        self.assertEqual(self.call("/api/v1/overrides", tcp=True)
                         ["overrides"], [])

        status, _, data = self.put({"Authorization": "Bearer " + TOKEN})
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["set_by"], "ops")
        entry = self.audit(limit=1)["entries"][0]
        self.assertEqual(entry["actor"], "ops")
        self.assertEqual(entry["client_address"], "127.0.0.1")
        self.assertNotIn(TOKEN, self.daemon.log())

        # The socket's permissions are its authentication.
        status, _, data = self.put({}, tcp=False)
        self.assertEqual(status, 200, data)
        entry = self.audit(limit=1)["entries"][0]
        self.assertNotIn("actor", entry)
        self.assertRegex(entry["client_address"], r"^unix \(uid \d+\)$")
        self.clear_all()


class Persistence(unittest.TestCase):
    """What the API acknowledged is there after kill -9 and restart."""

    def setUp(self):
        self.d = gslbtest.Daemon(with_api(), name="persistence")
        self.d.start()

    def tearDown(self):
        try:
            self.d.stop()
        finally:
            self.d.cleanup()

    def call(self, path, method="GET", body=None, expect=200):
        status, _, data = self.d.socket_http(path, method, body)
        self.assertEqual(status, expect, "%s %s: %r\n%s"
                         % (method, path, data, self.d.describe()))
        return json.loads(data) if data else None

    def restart(self, hard):
        if hard:
            self.d.kill()
        else:
            self.d.stop()
        self.d.start()

    def answers(self, name):
        seen = set()
        for _ in range(12):
            seen |= set(addresses(self.d.query(name), "A"))
        return seen

    def check_survives(self, hard):
        self.call(override_path(FAILOVER, FAILOVER_PRIMARY + ":80"), "PUT",
                  {"healthy": False, "reason": "kept", "source": "tests"})
        self.call("/api/v1/servers", "POST",
                  {"service": RR, "address": "192.0.2.14", "port": 80},
                  expect=201)
        audit = self.call("/api/v1/audit-logs")["entries"]
        self.restart(hard)
        overrides = self.call("/api/v1/overrides")["overrides"]
        self.assertEqual([(o["address"], o["reason"]) for o in overrides],
                         [(FAILOVER_PRIMARY + ":80", "kept")])
        # The first answers after the restart already follow them.
        self.assertEqual(self.answers(FAILOVER), {FAILOVER_SECONDARY})
        self.assertEqual(self.answers(RR), set(RR_SERVERS) | {"192.0.2.14"})
        self.assertEqual(self.call("/api/v1/audit-logs")["entries"], audit)
        self.assertIn("1 overrides, 1 API servers", self.d.log())

    def test_survives_kill_9(self):
        self.check_survives(hard=True)

    def test_survives_restart(self):
        self.check_survives(hard=False)

    def test_storm_then_kill_9(self):
        def add(i):
            return self.d.http("/api/v1/servers", "POST",
                               {"service": RR, "address": "192.0.2.200",
                                "port": 1000 + i})[0]

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(add, range(100)))
        self.assertEqual(codes, [201] * 100)
        self.restart(hard=True)
        servers = [s for s in self.call("/api/v1/servers")["servers"]
                   if s["source"] == "api"]
        self.assertEqual(sorted(s["port"] for s in servers),
                         list(range(1000, 1100)))
        audit = self.call("/api/v1/audit-logs?action=server.add&limit=1")
        self.assertEqual(audit["total"], 100)

    def test_reload_keeps_the_database(self):
        self.call(override_path(FAILOVER, FAILOVER_PRIMARY), "PUT",
                  {"healthy": False, "reason": "kept", "source": "tests"})
        moved = with_api().replace('data_dir: "$state_dir"',
                                   'data_dir: "$state_dir-elsewhere"')
        outcome, logged = self.d.reload(moved)
        self.assertEqual(outcome, "reloaded", logged)
        self.assertIn("overwatch.data_dir, process.* and "
                      "overwatch.gossip.bind_address take effect after a "
                      "restart",
                      "\n".join(logged))
        store = self.call("/api/v1/overwatch/stats")["store"]
        self.assertEqual(store["path"],
                         os.path.join(self.d.state_dir, "overwatch.db"))
        self.assertEqual(len(self.call("/api/v1/overrides")["overrides"]), 1)
        self.assertEqual(self.answers(FAILOVER), {FAILOVER_SECONDARY})

    def test_socket_in_use_refuses_start(self):
        other = gslbtest.Daemon(with_api(), name="second")
        try:
            other.socket = self.d.socket
            other.state_dir = os.path.join(other.dir, "state")
            other.start(wait=False)
            code = other.proc.wait(gslbtest.timeout_s())
            self.assertEqual(code, 1, other.log())
            self.assertIn("cannot listen on api.socket %s: in use by "
                          "another process" % self.d.socket, other.log())
        finally:
            other.cleanup()
        # The first one still serves on it.
        self.assertEqual(self.call("/api/v1/overrides")["overrides"], [])

    def test_file_is_private(self):
        path = os.path.join(self.d.state_dir, "overwatch.db")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(self.d.socket).st_mode & 0o777, 0o660)


class LockedDatabase(StateTestCase):
    """Another process holding the database: changes are refused with the
    reason, DNS keeps answering, and writes resume once it lets go."""

    @classmethod
    def make_config(cls):
        return with_api(metrics=True)

    def metric(self, name):
        _, _, data = self.daemon.http("/metrics",
                                      port=self.daemon.metrics_port)
        for line in data.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        self.fail("no %s in /metrics" % name)

    def test_locked_then_released(self):
        path = os.path.join(self.daemon.state_dir, "overwatch.db")
        db = sqlite3.connect(path, timeout=1, isolation_level=None)
        try:
            db.execute("BEGIN EXCLUSIVE")
            status, _, data = self.daemon.socket_http(
                override_path(FAILOVER, FAILOVER_PRIMARY), "PUT",
                {"healthy": False, "reason": "r", "source": "s"},
                timeout=15)
            self.assertEqual(status, 503, data)
            self.assertIn("locked", json.loads(data)["error"])
            self.assertEqual(self.answer_set(FAILOVER), {FAILOVER_PRIMARY})
            store = self.call("/api/v1/overwatch/stats")["store"]
            self.assertFalse(store["ok"])
            self.assertIn("locked", store["error"])
            self.assertEqual(self.metric("opengslb_state_store_ok"), 0)
            self.assertEqual(self.call("/api/v1/overrides")["overrides"], [])
        finally:
            db.execute("ROLLBACK")
            db.close()
        self.set_override(FAILOVER, FAILOVER_PRIMARY, False)
        self.assertEqual(self.answer_set(FAILOVER), {FAILOVER_SECONDARY})
        self.assertTrue(self.call("/api/v1/overwatch/stats")["store"]["ok"])
        self.assertEqual(self.metric("opengslb_state_store_ok"), 1)
        self.assertEqual(self.metric("opengslb_overrides_active"), 1)
        self.assertIn("locked", self.daemon.log())
        self.clear_all()


class FullDisk(unittest.TestCase):
    """A state directory on a full file system: changes are refused with
    the reason, DNS keeps answering, and writes resume once there is room.
    Needs a tmpfs mount (root); skipped when mounting is not allowed."""

    def setUp(self):
        self.d = gslbtest.Daemon(with_api(), name="fulldisk")
        os.makedirs(self.d.state_dir)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0750",
                            "tmpfs", self.d.state_dir], capture_output=True)
        if p.returncode != 0:
            self.d.cleanup()
            self.skipTest("cannot mount a tmpfs: %s"
                          % p.stderr.decode().strip())
        self.filler = os.path.join(self.d.state_dir, "filler")

    def tearDown(self):
        try:
            self.d.stop()
        finally:
            self.d.kill()
            subprocess.run(["umount", self.d.state_dir])
            self.d.cleanup()

    def fill(self):
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as e:
            self.assertEqual(e.errno, errno.ENOSPC)
        finally:
            os.close(fd)

    def put(self, address):
        return self.d.socket_http(
            override_path(FAILOVER, address), "PUT",
            {"healthy": False, "reason": "r", "source": "s"})

    def test_full_then_room_again(self):
        self.d.start()
        self.fill()
        status, _, data = self.put(FAILOVER_PRIMARY)
        self.assertEqual(status, 503, data)
        self.assertIn("disk full", json.loads(data)["error"])
        self.assertEqual(set(addresses(self.d.query(FAILOVER), "A")),
                         {FAILOVER_PRIMARY})
        _, _, data = self.d.socket_http("/api/v1/overwatch/stats")
        self.assertIn("disk full", json.loads(data)["store"]["error"])
        self.assertIn("disk full", self.d.log())

        os.unlink(self.filler)
        status, _, data = self.put(FAILOVER_PRIMARY)
        self.assertEqual(status, 200, data)
        self.assertEqual(set(addresses(self.d.query(FAILOVER), "A")),
                         {FAILOVER_SECONDARY})
        self.assertIn("writable again", self.d.log())


class BadDatabase(unittest.TestCase):
    """A state database the daemon cannot use stops it at start, naming
    the file and the reason; the file is left as it was."""

    def start_with(self, setup):
        d = gslbtest.Daemon(with_api(), name="baddb")
        try:
            os.makedirs(d.state_dir)
            path = os.path.join(d.state_dir, "overwatch.db")
            setup(path)
            with open(path, "rb") as f:
                before = f.read()
            d.start(wait=False)
            code = d.proc.wait(gslbtest.timeout_s())
            with open(path, "rb") as f:
                self.assertEqual(f.read(), before)
            return code, d.log(), path
        finally:
            d.cleanup()

    def test_not_a_database(self):
        def garbage(path):
            with open(path, "wb") as f:
                f.write(b"this is not SQLite\n" * 100)
        code, log, path = self.start_with(garbage)
        self.assertEqual(code, 1, log)
        self.assertIn(path, log)
        self.assertIn("not a database", log)
        self.assertIn("no usable state database", log)

    def test_newer_schema(self):
        def newer(path):
            db = sqlite3.connect(path)
            db.execute("PRAGMA user_version = 999")
            db.close()
        code, log, path = self.start_with(newer)
        self.assertEqual(code, 1, log)
        self.assertIn(path, log)
        self.assertIn("newer version of gslb-overwatchd", log)


class RestoredVerdicts(unittest.TestCase):
    """A backend the overwatch found down stays out of DNS from the first
    answer after a restart, before any new check could say so."""

    def test_down_backend_stays_down(self):
        port = gslbtest.free_port()  # nobody listens: connection refused
        regions = [("r1", "v.gslb.test", "{ type: tcp, interval: %s, "
                    "timeout: 1s, failure_threshold: %d }",
                    [("127.0.0.1", port), ("127.0.0.2", port)])]

        def template(interval, threshold):
            name, domain, check, servers = regions[0]
            return gslbtest.checked_config(
                [(name, domain, check % (interval, threshold), servers)],
                api=True)

        d = gslbtest.Daemon(template("2s", 1), name="verdicts")
        try:
            d.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                status = d.api_json("/api/v1/overwatch/stats")
                if status["unhealthy_backends"] == 2:
                    break
                time.sleep(0.1)
            self.assertEqual(status["unhealthy_backends"], 2, d.describe())
            time.sleep(1.5)  # verdicts are written within a second
            d.stop()
            # Now a slow check: on its own it would need a minute.
            d.write_config(template("30s", 3))
            d.start()
            msg = d.query("v.gslb.test")
            self.assertEqual(gslbtest.rcode_text(msg), "SERVFAIL",
                             "%s\n%s" % (msg, d.describe()))
            self.assertIn("restored 2 health verdicts", d.log())
            d.stop()
        finally:
            d.cleanup()


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main(verbosity=2)
