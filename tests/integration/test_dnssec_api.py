#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""DNSSEC keys as an operator and the other overwatches see them: DS
records (JSON, zone-file text, gslbctl), key status, the sealed key list
for key sync, keys that survive restarts and kill -9, and overwatches that
converge on one key per zone, checked against the DNSKEY served in DNS."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.dnssec  # noqa: E402
import dns.name  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402

import gslbtest  # noqa: E402
from gslbtest import DNSSEC_ACK, LOW_ZONE, ZONE  # noqa: E402
from test_gslbctl import ctl, parse_table  # noqa: E402

OTHER_KEY = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="
ZONES = (ZONE, LOW_ZONE)
RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
OK, REFUSED = 0, 1
DISABLED_BLOCK = ('  dnssec:\n    enabled: false\n'
                  '    security_acknowledgment: "%s"\n' % DNSSEC_ACK)


def dnssec_config(gossip=True, peers=(), poll="1s", extra=(), node=None,
                  algorithm=None, zones_extra=()):
    """The test config with DNSSEC on (and the API on its port and
    socket), optionally a gossip key and key sync peers."""
    text = gslbtest.config(api=True, metrics=True)
    assert DISABLED_BLOCK in text
    block = ["  dnssec:", "    enabled: true"]
    if algorithm:
        block.append("    algorithm: %s" % algorithm)
    if peers:
        block += ["    key_sync:",
                  "      peers: [%s]" % ", ".join('"%s"' % p for p in peers),
                  "      poll_interval: %s" % poll,
                  "      timeout: 2s"]
    block += list(extra)
    text = text.replace(DISABLED_BLOCK, "\n".join(block) + "\n")
    harness_gossip = "\n".join(gslbtest.GOSSIP_BLOCK) + "\n"
    assert harness_gossip in text
    if not gossip:
        text = text.replace(harness_gossip, "")
    elif isinstance(gossip, str):
        text = text.replace(gslbtest.GOSSIP_KEY, gossip)
    if node:
        text = text.replace("node_id: integration-test", "node_id: " + node)
    for z in zones_extra:
        old = "  zones:\n"
        text = text.replace(old, old + (
            "    - name: %s\n"
            "      nameservers: [{ name: ns1.%s, addresses: [127.0.0.1] }]\n"
            % (z, z)), 1)
    return text


def get(d, path, expect=200, headers=None):
    status, hdrs, data = d.http(path, headers=headers)
    if status != expect:
        raise AssertionError("GET %s: %d, expected %d: %r\n%s"
                             % (path, status, expect, data, d.describe()))
    return hdrs, data


def get_json(d, path, expect=200):
    return json.loads(get(d, path, expect)[1])


def ds_records(d):
    return {r["zone"]: r for r in get_json(d, "/api/v1/dnssec/ds")
            ["ds_records"]}


def served_dnskey(d, zone):
    """The DNSKEY RRset served for zone, after checking its RRSIG."""
    msg = d.query(zone, "DNSKEY", want_dnssec=True)
    name = dns.name.from_text(zone)
    keys = msg.find_rrset(msg.answer, name, dns.rdataclass.IN,
                          dns.rdatatype.DNSKEY)
    sigs = msg.find_rrset(msg.answer, name, dns.rdataclass.IN,
                          dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
    dns.dnssec.validate(keys, sigs, {name: keys})
    return keys


def ds_of_served(d, zone):
    """(key tag, DS digest in upper-case hex) of the served DNSKEY."""
    keys = served_dnskey(d, zone)
    assert len(keys) == 1, keys
    key = keys[0]
    ds = dns.dnssec.make_ds(dns.name.from_text(zone), key, "SHA256")
    return dns.dnssec.key_id(key), ds.digest.hex().upper()


def wait_for(what, fn, timeout=15.0):
    """Polls fn until it returns a true value; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("no %s within %g s" % (what, timeout))
        time.sleep(0.1)


def same_ds(ds):
    """What must stay equal for the parent zone: tag, algorithm, digest."""
    return {z: (r["key_tag"], r["algorithm"], r["digest"])
            for z, r in ds.items()}


class PinnedDaemon(gslbtest.Daemon):
    """A daemon whose API port is chosen up front and kept across
    restarts, so that its peers' configs can name it."""

    def __init__(self, template_fn, api_port, name):
        self.template_fn = template_fn
        super().__init__("", name=name)
        self.pinned_api_port = api_port
        self.template = template_fn()

    def start(self, wait=True):
        for attempt in range(3):
            self.port = gslbtest.free_port(self.hosts)
            self.api_port = self.pinned_api_port
            self.metrics_port = gslbtest.free_port()
            if self.gossip_port is None:
                self.gossip_port = gslbtest.free_port()
            self.write_config()
            since = len(self.log_lines())
            with open(self.log_path, "ab") as err, \
                    open(self.stdout_path, "ab") as out:
                self.proc = subprocess.Popen(
                    gslbtest.command("-c", self.config_path),
                    stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            self.returncode = None
            if not wait:
                return
            try:
                self.wait_log(gslbtest.READY_LINE, since=since)
                return
            except AssertionError:
                if self.proc.poll() is not None and \
                        "cannot listen" in self.log()[-2000:] and \
                        attempt < 2:
                    continue
                self.kill()
                raise


# ---------------------------------------------------------------------------
# One overwatch with DNSSEC on

class Dnssec(gslbtest.DaemonTestCase):

    @classmethod
    def make_config(cls):
        return dnssec_config()

    def test_ds_json(self):
        doc = get_json(self.daemon, "/api/v1/dnssec/ds")
        self.assertIs(doc["enabled"], True)
        recs = {r["zone"]: r for r in doc["ds_records"]}
        self.assertEqual(sorted(recs), sorted(ZONES))
        for zone, r in recs.items():
            with self.subTest(zone=zone):
                self.assertEqual(r["algorithm"], 13)
                self.assertEqual(r["digest_type"], 2)
                self.assertRegex(r["digest"], r"^[0-9A-F]{64}$")
                self.assertRegex(r["created_at"], RFC3339)
                self.assertRegex(
                    r["ds_record"], r"^%s\.\s+(\d+\s+)?IN\s+DS\s+%d 13 2 %s$"
                    % (re.escape(zone), r["key_tag"], r["digest"]))
                self.assertRegex(r["dnskey_record"],
                                 r"^%s\.\s+\d+\s+IN\s+DNSKEY\s+257 3 13 \S+$"
                                 % re.escape(zone))
                # The DS is the one of the DNSKEY that DNS serves.
                self.assertEqual(ds_of_served(self.daemon, zone),
                                 (r["key_tag"], r["digest"]))

    def test_ds_zone_filter(self):
        for q in (ZONE, ZONE + ".", ZONE.upper() + "."):
            doc = get_json(self.daemon, "/api/v1/dnssec/ds?zone=" + q)
            self.assertEqual([r["zone"] for r in doc["ds_records"]], [ZONE],
                             q)
        doc = get_json(self.daemon, "/api/v1/dnssec/ds?zone=nope.test",
                       expect=404)
        self.assertEqual(doc, {"error": "zone not found: nope.test",
                               "code": 404})

    def test_ds_text(self):
        recs = ds_records(self.daemon)
        want = "".join(recs[z]["ds_record"] + "\n" for z in ZONES)
        for path, headers in (("/api/v1/dnssec/ds?format=text", {}),
                              ("/api/v1/dnssec/ds",
                               {"Accept": "text/plain"})):
            hdrs, body = get(self.daemon, path, headers=headers)
            self.assertTrue(hdrs["Content-Type"].startswith("text/plain"),
                            hdrs)
            self.assertEqual(body.decode(), want)
        _, body = get(self.daemon, "/api/v1/dnssec/ds?format=text&zone="
                      + LOW_ZONE)
        self.assertEqual(body.decode(), recs[LOW_ZONE]["ds_record"] + "\n")
        doc = get_json(self.daemon, "/api/v1/dnssec/ds?format=xml", 400)
        self.assertEqual(doc["error"], "format must be json or text")

    def test_status(self):
        doc = get_json(self.daemon, "/api/v1/dnssec/status")
        self.assertEqual(get_json(self.daemon, "/api/v1/dnssec"), doc)
        self.assertIs(doc["enabled"], True)
        self.assertEqual(doc["algorithm"], "ECDSAP256SHA256")
        self.assertEqual(doc["denial"], "nsec")
        ds = ds_records(self.daemon)
        keys = {k["zone"]: k for k in doc["keys"]}
        self.assertEqual(sorted(keys), sorted(ZONES))
        for zone, k in keys.items():
            with self.subTest(zone=zone):
                self.assertEqual(k["key_tag"], ds[zone]["key_tag"])
                self.assertRegex(k["key_id"], r"^[0-9a-f]{40}$")
                self.assertEqual(k["algorithm"], 13)
                self.assertEqual(k["flags"], 257)
                self.assertEqual(k["node_id"], "integration-test")
                self.assertIs(k["can_sign"], True)
                self.assertIs(k["active"], True)
                self.assertGreaterEqual(k["age_seconds"], 0)
                self.assertEqual(k["created_at"], ds[zone]["created_at"])
                self.assertIn(k["public_key"], ds[zone]["dnskey_record"])
                sig = doc["signatures"][zone]
                self.assertGreater(sig["cached"], 0)
                self.assertGreater(sig["signed"], 0)
                self.assertRegex(sig["next_refresh"], RFC3339)
        self.assertEqual(doc["sync"], {"running": False,
                                       "poll_interval": "1h",
                                       "peers": []})

    def test_keys_are_sealed(self):
        _, body = get(self.daemon, "/api/v1/dnssec/keys")
        self.assertNotIn(b"PRIVATE KEY", body)
        doc = json.loads(body)
        self.assertIs(doc["enabled"], True)
        status = {k["zone"]: k for k in
                  get_json(self.daemon, "/api/v1/dnssec")["keys"]}
        self.assertEqual(sorted(k["zone"] for k in doc["keys"]),
                         sorted(ZONES))
        for k in doc["keys"]:
            self.assertEqual(k["public_key"], status[k["zone"]]["public_key"])
            self.assertEqual(k["key_tag"], status[k["zone"]]["key_tag"])
            self.assertEqual(k["key_id"], status[k["zone"]]["key_id"])
            # Base64 of nonce, ciphertext and tag: nothing readable.
            self.assertRegex(k["private_key_sealed"], r"^[A-Za-z0-9+/]+=*$")
            self.assertGreater(len(k["private_key_sealed"]), 100)

    def test_sync_without_peers(self):
        status, _, data = self.daemon.http("/api/v1/dnssec/sync", "POST")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(data), {
            "error": "key sync is not configured", "code": 400})

    def test_methods_and_paths(self):
        d = self.daemon
        for path in ("/api/v1/dnssec", "/api/v1/dnssec/status",
                     "/api/v1/dnssec/ds", "/api/v1/dnssec/keys"):
            status, hdrs, _ = d.http(path, "POST")
            self.assertEqual(status, 405, path)
            self.assertEqual(hdrs["Allow"], "GET, HEAD", path)
            status, _, body = d.http(path, "HEAD")
            self.assertEqual((status, body), (200, b""), path)
        status, hdrs, _ = d.http("/api/v1/dnssec/sync")
        self.assertEqual((status, hdrs["Allow"]), (405, "POST"))
        for path in ("/api/v1/dnssec/nope", "/api/v1/dnssec/ds/x"):
            status, _, data = d.http(path)
            self.assertEqual(status, 404, path)
            self.assertEqual(json.loads(data)["code"], 404)

    def test_gslbctl_ds(self):
        sock = ("--socket", self.daemon.socket)
        recs = ds_records(self.daemon)
        r = ctl(*sock, "dnssec", "ds")
        self.assertEqual(r.returncode, OK, r)
        self.assertEqual(r.stdout, "".join(recs[z]["ds_record"] + "\n"
                                           for z in ZONES))
        r = ctl(*sock, "dnssec", "ds", "--zone", ZONE + ".")
        self.assertEqual((r.returncode, r.stdout),
                         (OK, recs[ZONE]["ds_record"] + "\n"), r)
        r = ctl(*sock, "--json", "dnssec", "ds")
        self.assertEqual(r.returncode, OK, r)
        self.assertEqual(json.loads(r.stdout),
                         get_json(self.daemon, "/api/v1/dnssec/ds"))
        r = ctl(*sock, "dnssec", "ds", "--zone", "nope.test")
        self.assertEqual(r.returncode, REFUSED, r)
        self.assertIn("zone not found: nope.test", r.stderr)
        self.assertEqual(r.stdout, "")
        # Over TCP too: a GET needs no token.
        r = ctl("--api", "http://127.0.0.1:%d" % self.daemon.api_port,
                "dnssec", "ds", "--zone", LOW_ZONE)
        self.assertEqual((r.returncode, r.stdout),
                         (OK, recs[LOW_ZONE]["ds_record"] + "\n"), r)

    def test_gslbctl_status_and_sync(self):
        sock = ("--socket", self.daemon.socket)
        r = ctl(*sock, "dnssec", "status")
        self.assertEqual(r.returncode, OK, r)
        head, table, sync = r.stdout.split("\n\n")
        self.assertEqual(head, "DNSSEC:     enabled (new keys "
                         "ECDSAP256SHA256, denial nsec)")
        rows = {row["ZONE"]: row for row in parse_table(table)}
        ds = ds_records(self.daemon)
        self.assertEqual(sorted(rows), sorted(ZONES))
        for zone, row in rows.items():
            self.assertEqual(row["KEY-TAG"], str(ds[zone]["key_tag"]))
            self.assertEqual(row["ALGORITHM"], "ECDSAP256SHA256")
            self.assertEqual(row["CREATED"], ds[zone]["created_at"])
            self.assertEqual(row["NODE"], "integration-test")
            self.assertGreater(int(row["SIGNATURES"]), 0)
        self.assertEqual(sync, "Key sync:   not configured\n")
        r = ctl(*sock, "--json", "dnssec", "status")
        self.assertEqual(json.loads(r.stdout)["enabled"], True)

        r = ctl(*sock, "dnssec", "sync")
        self.assertEqual(r.returncode, REFUSED, r)
        self.assertIn("key sync is not configured", r.stderr)

    def test_metrics(self):
        status, _, body = self.daemon.http(
            "/metrics", port=self.daemon.metrics_port)
        self.assertEqual(status, 200)
        text = body.decode()
        ds = ds_records(self.daemon)
        for zone in ZONES:
            self.assertIn('opengslb_dnssec_key_info{zone="%s",key_tag="%d",'
                          'algorithm="ECDSAP256SHA256"} 1\n'
                          % (zone, ds[zone]["key_tag"]), text)
            self.assertRegex(text, r'opengslb_dnssec_key_created_timestamp_'
                             r'seconds\{zone="%s"\} \d{10}\n'
                             % re.escape(zone))
        self.assertIn('opengslb_dnssec_keys_total{origin="generated"} 2\n',
                      text)
        self.assertIn('opengslb_dnssec_keys_total{origin="peer"} 0\n', text)
        self.assertNotIn("dnssec_key_sync_peer_failures", text)

    def test_gslbctl_help(self):
        for words in (("dnssec",), ("dnssec", "ds"), ("dnssec", "status"),
                      ("dnssec", "sync")):
            r = ctl(*words, "--help")
            self.assertEqual(r.returncode, OK, r)
            self.assertTrue(r.stdout.startswith(
                "Usage: gslbctl %s" % " ".join(words)), r.stdout)
        self.assertIn("\n  --zone ZONE", ctl("dnssec", "ds", "--help").stdout)
        r = ctl("dnssec")
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("'dnssec' needs a sub-command: ds, status or sync",
                      r.stderr)


class Disabled(gslbtest.DaemonTestCase):

    @classmethod
    def make_config(cls):
        return gslbtest.config(api=True)

    def test_api(self):
        d = self.daemon
        self.assertEqual(get_json(d, "/api/v1/dnssec/ds"),
                         {"enabled": False, "message": "DNSSEC is disabled"})
        doc = get_json(d, "/api/v1/dnssec/status")
        self.assertIs(doc["enabled"], False)
        self.assertEqual(doc["keys"], [])
        self.assertIs(doc["sync"]["running"], False)
        doc = get_json(d, "/api/v1/dnssec/keys")
        self.assertEqual((doc["enabled"], doc["keys"]), (False, []))
        status, _, data = d.http("/api/v1/dnssec/sync", "POST")
        self.assertEqual((status, json.loads(data)),
                         (400, {"error": "DNSSEC is disabled", "code": 400}))
        # Nothing signed, no key made.
        msg = d.query(ZONE, "DNSKEY", want_dnssec=True)
        self.assertEqual(msg.answer, [])
        self.assertNotIn("generated a new key", d.log())

    def test_gslbctl(self):
        sock = ("--socket", self.daemon.socket)
        r = ctl(*sock, "dnssec", "ds")
        self.assertEqual((r.returncode, r.stdout), (REFUSED, ""), r)
        self.assertEqual(r.stderr,
                         "gslbctl: DNSSEC is disabled on this overwatch\n")
        r = ctl(*sock, "dnssec", "status")
        self.assertEqual((r.returncode, r.stdout),
                         (OK, "DNSSEC:     disabled\n"), r)


# ---------------------------------------------------------------------------
# Restarts

class Persistence(unittest.TestCase):

    def setUp(self):
        self.d = gslbtest.Daemon(dnssec_config(), name="dnssec-keep")

    def tearDown(self):
        try:
            self.d.stop()
        finally:
            self.d.cleanup()

    def fail_msg(self):
        return self.d.describe()

    def test_same_key_after_restart(self):
        self.d.start()
        before = ds_records(self.d)
        served = ds_of_served(self.d, ZONE)
        self.d.stop()
        self.d.start()
        self.assertEqual(same_ds(ds_records(self.d)), same_ds(before))
        self.assertEqual(ds_of_served(self.d, ZONE), served)
        self.assertEqual(self.d.log().count("generated a new key"), 2,
                         self.fail_msg())
        self.assertEqual(self.d.log().count("signing with its stored key"),
                         2, self.fail_msg())

    def test_same_key_after_kill_9_right_after_start(self):
        self.d.start()
        # What an operator copied from the first start's log ...
        logged = {}
        for line in self.d.log_lines():
            m = re.search(r"zone (\S+): publish its DS record at the "
                          r"parent zone: (.*)$", line)
            if m:
                logged[m.group(1)] = m.group(2)
        self.d.kill()
        self.assertEqual(sorted(logged), sorted(ZONES), self.fail_msg())
        since = len(self.d.log_lines())
        self.d.start()
        # ... is still the zone's DS.
        self.assertEqual({z: r["ds_record"]
                          for z, r in ds_records(self.d).items()}, logged)
        self.assertNotIn("generated a new key",
                         "\n".join(self.d.log_lines()[since:]))

    def test_unloadable_key_stops_the_start(self):
        self.d.start()
        self.d.stop()
        db = sqlite3.connect(os.path.join(self.d.state_dir, "overwatch.db"))
        db.execute("UPDATE dnssec_keys SET private_pem = X'00' "
                   "WHERE zone = ?", (LOW_ZONE,))
        db.commit()
        db.close()
        since = len(self.d.log_lines())
        self.d.start(wait=False)
        code = self.d.proc.wait(gslbtest.timeout_s())
        self.d.returncode = code
        self.assertEqual(code, 1, self.fail_msg())
        log = "\n".join(self.d.log_lines()[since:])
        self.assertRegex(log, r"zone %s: its DNSSEC key [0-9a-f]{40} "
                         r"\(ECDSAP256SHA256\) in \S+overwatch.db cannot "
                         r"be loaded" % re.escape(LOW_ZONE))
        self.assertIn("start-up failed: no usable DNSSEC keys", log)
        self.assertNotIn("generated a new key", log)
        self.d.returncode = 0  # for tearDown: it was meant to fail

    def test_reload(self):
        self.d.start()
        before = same_ds(ds_records(self.d))
        # A new zone gets a key; the others keep theirs, also when the
        # algorithm for new keys changes.
        outcome, lines = self.d.reload(dnssec_config(
            algorithm="ECDSAP384SHA384", zones_extra=("new.test",)))
        self.assertEqual(outcome, "reloaded", lines)
        ds = ds_records(self.d)
        self.assertEqual({z: v for z, v in same_ds(ds).items()
                          if z != "new.test"}, before)
        self.assertEqual(ds["new.test"]["algorithm"], 14)
        self.assertEqual(ds_of_served(self.d, "new.test"),
                         (ds["new.test"]["key_tag"],
                          ds["new.test"]["digest"]))
        text = "\n".join(lines)
        for zone in ZONES:
            self.assertIn("zone %s: keeping its ECDSAP256SHA256 key (tag %d) "
                          "although overwatch.dnssec.algorithm is "
                          "ECDSAP384SHA384: key rollover is not implemented"
                          % (zone, ds[zone]["key_tag"]), text)
        # Back to one zone fewer and again: the key comes back unchanged.
        self.assertEqual(self.d.reload(dnssec_config())[0], "reloaded")
        self.assertNotIn("new.test", ds_records(self.d))
        self.assertEqual(self.d.reload(dnssec_config(
            zones_extra=("new.test",)))[0], "reloaded")
        self.assertEqual(same_ds(ds_records(self.d))["new.test"],
                         same_ds(ds)["new.test"])
        # Restarted: the same, read from the database.
        self.d.stop()
        self.d.start()
        self.assertEqual(same_ds(ds_records(self.d))["new.test"],
                         same_ds(ds)["new.test"])


class ConfigCheck(unittest.TestCase):

    def test_gossip_key_required(self):
        d = gslbtest.Daemon(dnssec_config(gossip=False,
                                          peers=["http://127.0.0.1:9"]),
                            name="dnssec-config")
        try:
            d.start(wait=False)
            code = d.proc.wait(gslbtest.timeout_s())
            d.returncode = code
            self.assertEqual(code, gslbtest.EX_CONFIG, d.describe())
            # Key sync seals keys with it; agents need it too.
            self.assertRegex(d.log(), r"overwatch\.gossip: encryption_key is "
                             r"required\. OpenGSLB requires encrypted "
                             r"gossip communication\. Generate a key with: "
                             r"openssl rand -base64 32")
        finally:
            d.cleanup()


# ---------------------------------------------------------------------------
# Key sync between overwatches

class KeySync(unittest.TestCase):
    """Three overwatches with the same gossip key: two that made keys of
    their own converge on the newer one; a third, new one joins with it."""

    def setUp(self):
        self.ports = [gslbtest.free_port() for _ in range(3)]
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            try:
                if d.running():
                    d.stop()
            finally:
                d.cleanup()

    def url(self, i):
        return "http://127.0.0.1:%d" % self.ports[i]

    def make(self, i, peers, gossip=True):
        d = PinnedDaemon(lambda: dnssec_config(
            peers=[self.url(p) for p in peers], node="ow%d" % i,
            gossip=gossip), self.ports[i], name="dnssec-sync%d" % i)
        self.daemons.append(d)
        return d

    def describe(self):
        return "\n".join(d.describe(60) for d in self.daemons)

    def test_converge_and_join(self):
        a = self.make(0, [1])
        b = self.make(1, [0])
        # a makes its key alone; then b, later, while a is down: two keys.
        a.start()
        key_a = same_ds(ds_records(a))
        a.stop()
        time.sleep(1.1)  # b's key is newer by at least a second
        b.start()
        key_b = same_ds(ds_records(b))
        self.assertNotEqual(key_a[ZONE], key_b[ZONE])
        a.start()
        # The newer key wins, on both.
        wait_for("convergence", lambda: same_ds(ds_records(a)) == key_b,
                 timeout=20)
        time.sleep(2.5)  # a few more rounds change nothing
        self.assertEqual(same_ds(ds_records(a)), key_b, self.describe())
        self.assertEqual(same_ds(ds_records(b)), key_b, self.describe())
        for zone in ZONES:
            tag, _, digest = key_b[zone]
            self.assertEqual(ds_of_served(a, zone), (tag, digest))
            self.assertEqual(ds_of_served(b, zone), (tag, digest))
            self.assertRegex(
                a.log(), r"zone %s: adopted key tag %d \(ECDSAP256SHA256\) "
                r"created \S+Z from peer %s\n" % (re.escape(zone), tag,
                                                  re.escape(self.url(1))))
        self.assertNotIn("adopted key", b.log())
        status = get_json(a, "/api/v1/dnssec/status")
        self.assertEqual({k["zone"]: k["node_id"] for k in status["keys"]},
                         {z: "ow1" for z in ZONES})
        sync = status["sync"]
        self.assertEqual((sync["running"], sync["poll_interval"]),
                         (True, "1s"))
        peer = wait_for("a successful poll", lambda: [
            p for p in get_json(a, "/api/v1/dnssec")["sync"]["peers"]
            if p.get("last_success")])[0]
        self.assertEqual(peer["peer"], self.url(1))
        self.assertRegex(peer["last_sync"], r"Z$")
        self.assertNotIn("last_error", peer)
        self.assertEqual(peer["failures"], 0)
        _, _, body = a.http("/metrics", port=a.metrics_port)
        self.assertIn('opengslb_dnssec_keys_total{origin="peer"} 2\n',
                      body.decode())
        self.assertIn('opengslb_dnssec_key_sync_peer_failures{peer="%s"} 0\n'
                      % self.url(1), body.decode())
        # A sync on demand, and its table.
        status, _, data = a.http("/api/v1/dnssec/sync", "POST")
        self.assertEqual((status, json.loads(data)), (200, {
            "status": "ok", "message": "key sync triggered"}))
        r = ctl("--socket", a.socket, "dnssec", "sync")
        self.assertEqual(r.returncode, OK, r)
        r = ctl("--socket", a.socket, "dnssec", "status")
        self.assertEqual(r.returncode, OK, r)
        sync_text = r.stdout.split("\n\n", 3)
        self.assertEqual(sync_text[2], "Key sync:   1 peer, every 1s")
        rows = parse_table(sync_text[3])
        self.assertEqual([row["PEER"] for row in rows], [self.url(1)])
        self.assertEqual(rows[0]["FAILURES"], "0")

        # A third overwatch, new, joins with the key the others have.
        c = self.make(2, [0, 1])
        c.start()
        self.assertEqual(same_ds(ds_records(c)), key_b, self.describe())
        self.assertIn("from peer %s" % self.url(0), c.log())
        self.assertNotIn("generated a new key", c.log())
        for zone in ZONES:
            self.assertEqual(ds_of_served(c, zone),
                             (key_b[zone][0], key_b[zone][2]))
        time.sleep(2.5)
        for d in (a, b, c):
            self.assertEqual(same_ds(ds_records(d)), key_b, self.describe())
        # Restarted, all keep it.
        a.kill()
        a.start()
        self.assertEqual(same_ds(ds_records(a)), key_b)

    def test_peer_down_or_with_another_key(self):
        # The peer's gossip key is not ours: its keys cannot be unsealed.
        a = self.make(0, [1], gossip=OTHER_KEY)
        b = self.make(1, [0])
        a.start()
        b.start()
        self.assertIn("generated a new key", b.log())
        wait_for("keys refused", lambda: "peer %s: keys ignored" % self.url(0)
                 in b.log())
        self.assertNotIn("adopted", b.log())
        self.assertNotEqual(same_ds(ds_records(a)), same_ds(ds_records(b)))
        # A peer that is down changes nothing either.
        a.stop()
        before = same_ds(ds_records(b))
        peer = wait_for("a failed poll", lambda: [
            p for p in get_json(b, "/api/v1/dnssec")["sync"]["peers"]
            if p["failures"] > 0])[0]
        self.assertEqual(peer["peer"], self.url(0))
        self.assertIn("127.0.0.1:%d" % self.ports[0], peer["last_error"])
        self.assertEqual(same_ds(ds_records(b)), before)
        for zone in ZONES:
            self.assertEqual(ds_of_served(b, zone),
                             (before[zone][0], before[zone][2]))


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main(verbosity=2)
