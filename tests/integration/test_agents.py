#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Agents and overwatches on loopback: real gslb-agentd processes checking
real HTTP backends, reporting over the sealed gossip protocol to two real
gslb-overwatchd processes, whose DNS answers follow what the agents say.
Attacks come from tests/bench/agent-sim ($GSLB_AGENT_SIM), which speaks the
protocol with chosen faults."""
import base64
import grp
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest  # noqa: E402
from backends import HTTPBackend  # noqa: E402
from gslbtest import Domain  # noqa: E402
from test_gslbctl import ctl, parse_table  # noqa: E402

SERVICE = "agents.gslb.test"
TOKEN = "agents-service-token-0123456789"
HEARTBEAT = 1.0  # agent.heartbeat.interval, seconds
MISSED = 2       # agent.heartbeat.missed_threshold
REMOVE_AFTER = 6  # overwatch.stale.remove_after, seconds
# What "at once" and "within one second" allow; more when the daemons run
# under valgrind (tests/qa/valgrind.sh sets GSLB_TEST_WRAPPER).
WRAPPER = shlex.split(os.environ.get("GSLB_TEST_WRAPPER", ""))
AT_ONCE = 10.0 if WRAPPER else 1.0


def agentd_path():
    path = os.environ.get("GSLB_AGENTD")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "agentd", "gslb-agentd")
    return os.path.realpath(path)


def overwatch_config(validation=False, check_interval="1s"):
    """The harness's overwatch, with a domain only agents serve, a token
    for it, and short stale limits. With validation, agents' backends in
    regions the file does not describe are checked every check_interval."""
    domains = gslbtest.default_domains() + [
        Domain(SERVICE, "round-robin", ["us-east"], [], ttl=5,
               max_records=16)]
    text = gslbtest.config(domains=domains, api=True, metrics=True,
                           validation=validation)
    if validation:
        # Agent backends get the fallback check: make it quick.
        old = "  validation:\n    enabled: true\n"
        assert old in text
        text = text.replace(old, old + "    check_interval: %s\n"
                            "    check_timeout: 500ms\n" % check_interval)
    gossip = "\n".join(gslbtest.GOSSIP_BLOCK) + "\n"
    assert gossip in text
    return text.replace(gossip, gossip + (
        "  agent_tokens:\n"
        '    %s: "%s"\n'
        "  stale: { threshold: 2s, remove_after: %ds }\n"
        % (SERVICE, TOKEN, REMOVE_AFTER)))


class Agent:
    """One gslb-agentd process with its own config, identity and log."""

    def __init__(self, agent_id, backends, overwatches, token=TOKEN,
                 predictive=None, region="us-east", extra=(), env=None,
                 identity_dir=None):
        self.extra = list(extra)
        self.env = env
        self.agent_id = agent_id
        self.backends = backends  # [(ip, port)]
        self.overwatches = overwatches
        self.token = token
        self.predictive = predictive
        self.region = region
        self.dir = os.path.realpath(
            tempfile.mkdtemp(prefix="gslb-it-agent-%s-" % agent_id))
        self.config_path = os.path.join(self.dir, "agent.yaml")
        self.identity_dir = identity_dir or self.dir
        self.cert_path = os.path.join(self.identity_dir, "agent.crt")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.proc = None

    def render(self):
        out = [
            "mode: agent",
            "logging: { level: info, format: text }",
            "agent:",
            "  identity:",
            '    service_token: "%s"' % self.token,
            "    agent_id: %s" % self.agent_id,
            "    region: %s" % self.region,
            '    cert_path: "%s"' % self.cert_path,
            '    key_path: "%s"' % os.path.join(self.identity_dir,
                                            "agent.key"),
            "  backends:",
        ]
        for ip, port in self.backends:
            out += ["    - service: %s" % SERVICE,
                    "      address: %s" % ip,
                    "      port: %d" % port,
                    "      health_check: { type: http, path: /health, "
                    "interval: 1s, timeout: 500ms, failure_threshold: 1, "
                    "success_threshold: 1 }"]
        out += [
            "  gossip:",
            '    encryption_key: "%s"' % gslbtest.GOSSIP_KEY,
            "    overwatch_nodes: [%s]" % ", ".join(
                '"127.0.0.1:%d"' % d.gossip_port for d in self.overwatches),
            "  heartbeat: { interval: %ds, missed_threshold: %d }"
            % (HEARTBEAT, MISSED),
        ]
        if self.predictive:
            out += ["  predictive:"] + ["    " + line
                                        for line in self.predictive]
        return "\n".join(out + self.extra) + "\n"

    def write_config(self, text=None):
        gslbtest.write_private(self.config_path,
                               self.render() if text is None else text)

    def start(self, *args):
        self.write_config()
        with open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(
                WRAPPER + [agentd_path(), "-c", self.config_path] +
                list(args),
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                env=dict(os.environ, **(self.env or {})))

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def fingerprint(self):
        """SHA-256 of the certificate's DER, as the overwatch pins it."""
        with open(self.cert_path, encoding="ascii") as f:
            pem = f.read()
        body = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END",
                         pem, re.S).group(1)
        return hashlib.sha256(base64.b64decode(body)).hexdigest()

    def cleanup(self):
        # SIGTERM: its backends leave at once, free for the next test.
        self.stop()
        self.last_log = self.log()
        shutil.rmtree(self.dir, ignore_errors=True)


def sim(*args, overwatch, timeout=60):
    """Runs agent-sim against an overwatch; its JSON lines, parsed."""
    cmd = [gslbtest.agent_sim_path(), args[0], "--overwatch",
           "127.0.0.1:%d" % overwatch.gossip_port,
           "--key", gslbtest.GOSSIP_KEY, "--service", SERVICE] + \
        list(args[1:])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("agent-sim %s: %r" % (args[0], r))
    return [json.loads(line) for line in r.stdout.splitlines() if line]


def answer_ips(daemon, name=SERVICE):
    """The A records the overwatch answers for name (empty on SERVFAIL)."""
    msg = daemon.query(name, "A")
    return sorted(gslbtest.addresses(msg, "A"))


def metric(daemon, name, labels=None):
    """One sample from /metrics (0 when absent)."""
    status, _, body = daemon.http("/metrics", port=daemon.metrics_port)
    assert status == 200, status
    want = "opengslb_" + name
    if labels:
        want += "{" + ",".join('%s="%s"' % kv for kv in
                               sorted(labels.items())) + "}"
    for line in body.decode().splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == want or (labels and _same_labels(key, name, labels)):
            return float(value)
    return 0.0


def _same_labels(key, name, labels):
    m = re.match(r"opengslb_%s\{(.*)\}$" % re.escape(name), key)
    if not m:
        return False
    have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
    return have == labels


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls predicate until it returns a true value; returns it. The
    timeout stretches under valgrind."""
    timeout *= 4 if WRAPPER else 1
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1f s waiting for %s (last: %r)"
                         % (timeout, what, last))


class AgentsCase(unittest.TestCase):
    """Two overwatches, real backends, and agents made per test."""

    backend_ips = ("127.0.0.41", "127.0.0.42", "127.0.0.43", "127.0.0.44",
                   "127.0.0.45", "127.0.0.46")

    @classmethod
    def setUpClass(cls):
        cls.backends = {ip: HTTPBackend(ip) for ip in cls.backend_ips}
        cls.overwatches = []
        try:
            for i in range(2):
                d = gslbtest.Daemon(overwatch_config(),
                                    name="agents-ow%d" % i)
                cls.overwatches.append(d)
                d.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for d in cls.overwatches:
            try:
                d.stop()
            finally:
                d.cleanup()
        for b in cls.backends.values():
            b.close()

    def setUp(self):
        self.agents = []
        for b in self.backends.values():
            b.set_mode("ok")
            b.path_modes = {}

    def tearDown(self):
        for a in self.agents:
            a.cleanup()

    def run(self, result=None):
        """Prints the daemons' and agents' logs after a failing test."""
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for d in type(self).overwatches:
                sys.stderr.write("\n%s\n" % d.describe(tail=60))
            for a in getattr(self, "agents", []):
                text = getattr(a, "last_log", None) or a.log()
                sys.stderr.write("\nagent %s:\n%s\n" % (a.agent_id,
                                                         text[-4000:]))
        return out

    def agent(self, agent_id, ips, **kw):
        a = Agent(agent_id, [(ip, self.backends[ip].port) for ip in ips],
                  self.overwatches, **kw)
        self.agents.append(a)
        a.start()
        return a

    def wait_answers(self, want, timeout=10.0, daemons=None):
        """Until every overwatch answers exactly the IPs in want."""
        want = sorted(want)
        for d in daemons or self.overwatches:
            wait_for(lambda: answer_ips(d) == want, timeout=timeout,
                     what="%s answering %s" % (d.dir, want))

    def agent_info(self, daemon, agent_id):
        status, _, body = daemon.http("/api/v1/overwatch/agents/" + agent_id)
        return json.loads(body) if status == 200 else None

    def backend_of(self, agent_id, daemon=None):
        """The agent's (only) backend as the backends API shows it."""
        d = daemon or self.overwatches[0]
        backends = json.loads(d.http(
            "/api/v1/overwatch/backends?service=" + SERVICE)[2])
        return [b for b in backends["backends"]
                if b["agent_id"] == agent_id][0]


class ValidatingCase(AgentsCase):
    """One overwatch with validation on, checking agents' backends in
    regions its file does not describe every check_interval."""

    check_interval = "1s"
    daemon_name = "agents-validation"

    @classmethod
    def setUpClass(cls):
        cls.backends = {ip: HTTPBackend(ip) for ip in cls.backend_ips}
        cls.overwatches = []
        try:
            d = gslbtest.Daemon(
                overwatch_config(validation=True,
                                 check_interval=cls.check_interval),
                name=cls.daemon_name)
            cls.overwatches.append(d)
            d.start()
        except BaseException:
            cls.tearDownClass()
            raise


class Basics(AgentsCase):

    def test_dns_follows_the_agents(self):
        self.agent("web-a", ["127.0.0.41"])
        self.agent("web-b", ["127.0.0.42"])
        self.wait_answers(["127.0.0.41", "127.0.0.42"])
        # The agent's own check fails: both overwatches drop it.
        self.backends["127.0.0.41"].set_mode("error")
        self.wait_answers(["127.0.0.42"])
        self.backends["127.0.0.41"].set_mode("ok")
        self.wait_answers(["127.0.0.41", "127.0.0.42"])

    def test_agents_api_and_gslbctl(self):
        a = self.agent("web-c", ["127.0.0.43"])
        self.wait_answers(["127.0.0.43"])
        for d in self.overwatches:
            info = self.agent_info(d, "web-c")
            self.assertEqual(info["fingerprint"], a.fingerprint())
            self.assertEqual(info["status"], "connected")
            self.assertEqual(info["services"], [SERVICE])
            self.assertEqual(info["region"], "us-east")
            self.assertEqual(info["backends"], 1)
            self.assertEqual(info["healthy_backends"], 1)
            self.assertFalse(info["draining"])
            listed = json.loads(d.http("/api/v1/overwatch/agents")[2])
            self.assertIn("web-c",
                          [x["agent_id"] for x in listed["agents"]])
            backends = json.loads(d.http(
                "/api/v1/overwatch/backends?service=" + SERVICE)[2])
            mine = [b for b in backends["backends"]
                    if b["address"] == "127.0.0.43"]
            self.assertEqual(len(mine), 1, backends)
            self.assertEqual(mine[0]["source"], "agent")
            self.assertEqual(mine[0]["agent_id"], "web-c")
        r = ctl("--socket", self.overwatches[0].socket, "agents", "list")
        self.assertEqual(r.returncode, 0, r)
        rows = parse_table(r.stdout)
        row = [x for x in rows if x["AGENT-ID"] == "web-c"]
        self.assertEqual(len(row), 1, r.stdout)
        self.assertEqual(row[0]["STATUS"], "connected")
        self.assertEqual(row[0]["BACKENDS"], "1/1")
        # The status counts the agents with backends: only this one.
        stats = json.loads(self.overwatches[0].http(
            "/api/v1/overwatch/stats")[2])
        self.assertEqual(stats["active_agents"], 1, stats)
        r = ctl("--socket", self.overwatches[0].socket, "status")
        self.assertRegex(r.stdout, r"Agents: +1 active")

    def test_name_without_backends_is_servfail(self):
        # No agent reports this name (the last test's have just left):
        # SERVFAIL, which resolvers do not cache and retry elsewhere, not
        # an empty answer.
        def rcodes():
            return [gslbtest.rcode_text(d.query(SERVICE, rdtype))
                    for d in self.overwatches for rdtype in ("A", "AAAA")]
        wait_for(lambda: rcodes() == ["SERVFAIL"] * 4,
                 what="SERVFAIL for A and AAAA on both overwatches")
        a = self.agent("web-sf", ["127.0.0.44"])
        self.wait_answers(["127.0.0.44"])
        # IPv4 backends only: AAAA is an honest NODATA meanwhile.
        msg = self.overwatches[0].query(SERVICE, "AAAA")
        self.assertEqual(gslbtest.rcode_text(msg), "NOERROR", msg)
        self.assertEqual(gslbtest.addresses(msg, "AAAA"), [])
        self.assertEqual(a.stop(), 0)
        wait_for(lambda: gslbtest.rcode_text(self.overwatches[0].query(
            SERVICE, "A")) == "SERVFAIL", what="SERVFAIL once it left")

    def test_sigterm_leaves_dns_at_once(self):
        a = self.agent("web-d", ["127.0.0.44"])
        self.wait_answers(["127.0.0.44"])
        a.stop(signal.SIGTERM)
        self.assertEqual(a.proc.returncode, 0, a.log())
        # Deregistration: gone at once, not after the stale limit.
        self.wait_answers([], timeout=AT_ONCE)
        info = self.agent_info(self.overwatches[0], "web-d")
        self.assertEqual(info["backends"], 0)

    def test_sigkill_goes_stale_then_is_removed(self):
        a = self.agent("web-e", ["127.0.0.45"])
        self.wait_answers(["127.0.0.45"])
        a.stop(signal.SIGKILL)
        d = self.overwatches[0]
        # Stale after missed_threshold heartbeats: out of DNS.
        started = time.monotonic()
        self.wait_answers([], timeout=HEARTBEAT * MISSED + 3)
        self.assertGreater(time.monotonic() - started, HEARTBEAT * 0.5)
        info = self.agent_info(d, "web-e")
        self.assertEqual(info["status"], "stale")
        backends = json.loads(d.http(
            "/api/v1/overwatch/backends?service=" + SERVICE)[2])["backends"]
        self.assertEqual([b["effective_status"] for b in backends
                          if b["address"] == "127.0.0.45"], ["stale"])
        self.assertGreaterEqual(metric(d, "overwatch_stale_agents"), 1)
        # Removed after stale.remove_after; the pin stays.
        wait_for(lambda: self.agent_info(d, "web-e")["backends"] == 0,
                 timeout=REMOVE_AFTER + 3, what="removal")
        self.assertIn("its 1 backends are removed", d.log())

    def test_drain_signal_within_one_second(self):
        a = self.agent("web-f", ["127.0.0.46"])
        self.agent("web-a2", ["127.0.0.41"])
        self.wait_answers(["127.0.0.41", "127.0.0.46"])
        a.send(signal.SIGUSR1)
        signalled = time.monotonic()
        self.wait_answers(["127.0.0.41"], timeout=AT_ONCE)
        took = time.monotonic() - signalled
        sys.stderr.write("drain reached DNS in %.0f ms\n" % (took * 1000))
        info = self.agent_info(self.overwatches[0], "web-f")
        self.assertTrue(info["draining"])
        self.assertEqual(info["drain_reason"], "manual")
        a.send(signal.SIGUSR2)
        self.wait_answers(["127.0.0.41", "127.0.0.46"])

    def test_predictive_error_rate_drains(self):
        # One failure a minute is the threshold: the first failure of its
        # backend drains the agent (draining beats its own claim).
        a = self.agent("web-g", ["127.0.0.42"], predictive=[
            "enabled: true", "check_interval: 1s",
            "error_rate: { threshold: 1, window: 60s, bleed_duration: 1s }"])
        d = self.overwatches[0]
        self.wait_answers(["127.0.0.42"])
        self.backends["127.0.0.42"].set_mode("error")
        wait_for(lambda: (self.agent_info(d, "web-g") or {}).get(
            "drain_reason") == "error_rate_threshold_exceeded", timeout=20,
            what="an error-rate drain")
        # The backend recovers; the agent keeps draining within the
        # window (hysteresis), and DNS keeps it out.
        self.backends["127.0.0.42"].set_mode("ok")
        wait_for(lambda: "127.0.0.42 port" in a.log() and
                 a.log().count(": healthy") >= 2, what="the recovery")
        self.assertNotIn("127.0.0.42", answer_ips(d))
        backends = json.loads(d.http(
            "/api/v1/overwatch/backends?service=" + SERVICE)[2])["backends"]
        self.assertEqual([b["effective_status"] for b in backends
                          if b["agent_id"] == "web-g"], ["draining"])

    def test_reload(self):
        a = self.agent("web-h", ["127.0.0.41"])
        self.wait_answers(["127.0.0.41"])
        a.backends.append(("127.0.0.43", self.backends["127.0.0.43"].port))
        a.write_config()
        a.send(signal.SIGHUP)
        self.wait_answers(["127.0.0.41", "127.0.0.43"])
        # A broken file: logged, and the running configuration stays.
        a.write_config(a.render().replace("missed_threshold: %d" % MISSED,
                                          "missed_threshold: lots"))
        a.send(signal.SIGHUP)
        wait_for(lambda: "keeping the running configuration" in a.log(),
                 what="the reload refused")
        self.assertIn("agent.heartbeat.missed_threshold", a.log())
        self.assertIsNone(a.proc.poll())
        self.assertEqual(answer_ips(self.overwatches[0]),
                         ["127.0.0.41", "127.0.0.43"])


class ValidationRecovers(ValidatingCase):
    """With validation on, the overwatch's own check of an agent backend
    beats staleness: a silent agent's backend that still answers stays in
    DNS until the agent is removed."""

    def test_stale_but_validated_stays(self):
        # A region the overwatch's config does not describe: its backends
        # get validation's own (quick) settings.
        a = self.agent("web-val", ["127.0.0.44"], region="agent-dc")
        d = self.overwatches[0]
        self.wait_answers(["127.0.0.44"])
        a.stop(signal.SIGKILL)
        wait_for(lambda: self.agent_info(d, "web-val")["status"] == "stale",
                 timeout=HEARTBEAT * MISSED + 3, what="a stale agent")
        wait_for(lambda: self.backend_of("web-val").get("validation_healthy"),
                 what="the overwatch's own verdict")
        self.assertEqual(self.backend_of("web-val")["effective_status"],
                         "healthy")
        self.assertEqual(answer_ips(d), ["127.0.0.44"])
        # The backend itself fails: the overwatch's check takes it out.
        self.backends["127.0.0.44"].set_mode("error")
        self.wait_answers([], timeout=10)


class ValidationDisputes(ValidatingCase):
    """With validation on and a long interval (10 s, 3 failures or 2
    passes to change the verdict), an agent's claim that disputes the
    overwatch's verdict makes the overwatch check again at once and every
    second until its threshold decides: a failure or a recovery the agent
    saw reaches DNS in seconds instead of intervals, and a claim the
    overwatch's own checks contradict changes nothing."""

    check_interval = "10s"
    daemon_name = "agents-disputes"

    def validated_agent(self, agent_id, ip):
        """An agent in a region the file does not describe, once the
        overwatch's own checks (on "/"; the agent's are on /health) have
        found its backend healthy."""
        self.agent(agent_id, [ip], region="agent-dc")
        self.wait_answers([ip])
        wait_for(lambda: self.backend_of(agent_id).get("validation_healthy")
                 is True, timeout=25, what="the overwatch's own verdict")

    def overwatch_checks(self, ip):
        b = self.backends[ip]
        with b.lock:
            return [t for t, path, _, _ in b.requests if path == "/"]

    def test_failure_and_recovery_the_agent_saw_reach_dns_in_seconds(self):
        ip = "127.0.0.45"
        self.validated_agent("web-dispute", ip)
        self.backends[ip].set_mode("error")
        # By its schedule alone the overwatch would need 20-30 s.
        self.wait_answers([], timeout=8)
        self.assertIs(self.backend_of("web-dispute")["validation_healthy"],
                      False)
        self.backends[ip].set_mode("ok")
        self.wait_answers([ip], timeout=8)
        self.assertIs(self.backend_of("web-dispute")["validation_healthy"],
                      True)

    def test_claim_the_checks_contradict_changes_nothing(self):
        ip = "127.0.0.46"
        self.validated_agent("web-wrong", ip)
        before = len(self.overwatch_checks(ip))
        # Only the agent's check path fails.
        self.backends[ip].path_modes = {"/health": "error"}
        wait_for(lambda: self.backend_of("web-wrong")["agent_healthy"]
                 is False, what="the agent's claim")
        time.sleep(4)
        d = self.overwatches[0]
        self.assertEqual(answer_ips(d), [ip])
        self.assertEqual(self.backend_of("web-wrong")["effective_status"],
                         "healthy")
        # Checked again three times (its failure threshold), a second
        # apart, then left to its interval: at most one more.
        extra = self.overwatch_checks(ip)[before:]
        self.assertGreaterEqual(len(extra), 3, extra)
        self.assertLessEqual(len(extra), 4, extra)


class CheckConfig(unittest.TestCase):
    """gslb-agentd --check-config: the sample passes, mistakes are named."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gslb-it-agent-check-")
        self.path = os.path.join(self.dir, "agent.yaml")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check(self, text):
        gslbtest.write_private(self.path, text)
        return subprocess.run([agentd_path(), "--check-config", "-c",
                               self.path], capture_output=True, text=True,
                              timeout=30)

    def sample(self):
        return gslbtest.with_secrets(gslbtest.sample_config("agent.yaml"))

    def test_sample_passes(self):
        r = self.check(self.sample())
        self.assertEqual(r.returncode, 0, r)

    def test_sample_placeholders_refused(self):
        r = self.check(gslbtest.sample_config("agent.yaml"))
        self.assertEqual(r.returncode, gslbtest.EX_CONFIG, r)
        for key in ("agent.identity.service_token",
                    "agent.gossip.encryption_key"):
            self.assertRegex(r.stderr, r"agent\.yaml:\d+:\d+: %s: this is "
                             r"the sample configuration's placeholder: "
                             r"replace it" % re.escape(key))

    def test_fraction_threshold_refused(self):
        r = self.check(self.sample().replace("threshold: 90 ",
                                             "threshold: 0.9 "))
        self.assertEqual(r.returncode, gslbtest.EX_CONFIG, r)
        self.assertRegex(r.stderr, r"agent\.yaml:\d+:\d+: "
                         r"agent\.predictive\.cpu\.threshold: .*looks like "
                         r"a fraction")

    def test_gossip_key_required(self):
        text = re.sub(r"\n *encryption_key: .*", "", self.sample())
        r = self.check(text)
        self.assertEqual(r.returncode, gslbtest.EX_CONFIG, r)
        self.assertIn("agent.gossip: encryption_key is required. OpenGSLB "
                      "requires encrypted gossip communication. Generate a "
                      "key with: openssl rand -base64 32", r.stderr)


class AsAService(AgentsCase):
    """What systemd and a root start rely on: sd_notify, dropping root."""

    def test_notify(self):
        path = os.path.join(tempfile.mkdtemp(prefix="gslb-it-notify-"),
                            "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10)

        def expect(state):
            while True:
                try:
                    data = sock.recv(4096).decode()
                except socket.timeout:
                    self.fail("no %s on NOTIFY_SOCKET" % state)
                if state in data.split("\n"):
                    return

        try:
            a = self.agent("web-notify", ["127.0.0.41"],
                           env={"NOTIFY_SOCKET": path})
            expect("READY=1")
            a.send(signal.SIGHUP)
            expect("RELOADING=1")
            expect("READY=1")
            self.assertEqual(a.stop(), 0)
            expect("STOPPING=1")
        finally:
            sock.close()
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_started_as_root_runs_as_process_user(self):
        nobody = pwd.getpwnam("nobody")
        nogroup = grp.getgrnam("nogroup")
        a = Agent("web-nobody", [("127.0.0.41",
                                  self.backends["127.0.0.41"].port)],
                  self.overwatches,
                  extra=["process: { user: nobody, group: nogroup }"])
        # The identity's directory does not exist yet: the agent makes it
        # for the user it becomes.
        a.identity_dir = os.path.join(a.dir, "identity")
        a.cert_path = os.path.join(a.identity_dir, "agent.crt")
        os.chmod(a.dir, 0o755)
        self.agents.append(a)
        a.start()
        self.wait_answers(["127.0.0.41"])
        status = proc_status(a.proc.pid)
        self.assertEqual(status["Uid"].split(), [str(nobody.pw_uid)] * 4)
        self.assertEqual(status["Gid"].split(), [str(nogroup.gr_gid)] * 4)
        for name in ("agent.crt", "agent.key"):
            st = os.stat(os.path.join(a.identity_dir, name))
            self.assertEqual((st.st_uid, st.st_gid),
                             (nobody.pw_uid, nogroup.gr_gid), name)
        self.assertEqual(
            os.stat(os.path.join(a.identity_dir, "agent.key")).st_mode
            & 0o777, 0o600)
        self.assertIn("running as user nobody", a.log())


def proc_status(pid):
    """/proc/PID/status as a dict."""
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f)


class Restarts(AgentsCase):

    def test_overwatch_restart_loses_no_agent(self):
        a = self.agent("web-r", ["127.0.0.41", "127.0.0.42"])
        self.wait_answers(["127.0.0.41", "127.0.0.42"])
        d = self.overwatches[0]
        d.stop()
        d.start()
        # The pin came back from the database; the agent re-registers and
        # sends its state within two heartbeat intervals.
        self.wait_answers(["127.0.0.41", "127.0.0.42"], daemons=[d],
                          timeout=2 * HEARTBEAT + 2)
        info = self.agent_info(d, "web-r")
        self.assertEqual(info["fingerprint"], a.fingerprint())
        self.assertEqual(info["status"], "connected")
        audit = json.loads(d.http("/api/v1/audit-logs?action=agent.pin")[2])
        pins = [e for e in audit["entries"]
                if e["resource"] == "agents/web-r"]
        self.assertEqual(len(pins), 1, audit)

    def test_agent_restart_and_rotation(self):
        a = self.agent("web-rot", ["127.0.0.43"])
        self.wait_answers(["127.0.0.43"])
        old = a.fingerprint()
        a.stop()
        self.wait_answers([])
        a.start("--rotate-identity")
        self.wait_answers(["127.0.0.43"])
        new = a.fingerprint()
        self.assertNotEqual(old, new)
        for d in self.overwatches:
            self.assertEqual(self.agent_info(d, "web-rot")["fingerprint"],
                             new)
            self.assertIn("agent web-rot rotated its certificate", d.log())


class Trust(AgentsCase):

    def test_wrong_token_is_refused(self):
        d = self.overwatches[0]
        before = metric(d, "overwatch_agent_auth_failures_total",
                        {"reason": "bad_token"})
        a = self.agent("web-t", ["127.0.0.44"],
                       token="not-the-token-for-this-service")
        wait_for(lambda: metric(d, "overwatch_agent_auth_failures_total",
                                {"reason": "bad_token"}) > before,
                 what="a bad_token refusal")
        self.assertIsNone(self.agent_info(d, "web-t"))
        self.assertEqual(answer_ips(d), [])
        wait_for(lambda: "bad_token" in a.log(), what="the agent's log")

    def test_wrong_key_is_dropped(self):
        d = self.overwatches[0]
        before = metric(d, "gossip_messages_rejected_total",
                        {"reason": "unsealable"})
        out = sim("wrong-key", "--agent-id", "intruder", overwatch=d)
        self.assertEqual(out[-1], {"answered": False})
        wait_for(lambda: metric(d, "gossip_messages_rejected_total",
                                {"reason": "unsealable"}) > before,
                 what="an unsealable datagram counted")

    def test_replayed_datagram_is_dropped(self):
        d = self.overwatches[0]
        cert_dir = tempfile.mkdtemp(prefix="gslb-it-sim-")
        self.addCleanup(shutil.rmtree, cert_dir, True)
        before = metric(d, "gossip_messages_rejected_total",
                        {"reason": "replayed"})
        out = sim("replay", "--agent-id", "sim-replay", "--token", TOKEN,
                  "--cert-dir", cert_dir, "--backend", "127.0.0.99:80",
                  overwatch=d)
        self.assertEqual(out[-1], {"first_acked": True,
                                   "replay_acked": False})
        self.assertGreater(metric(d, "gossip_messages_rejected_total",
                                  {"reason": "replayed"}), before)

    def test_impostor_with_another_certificate_is_refused(self):
        a = self.agent("web-i", ["127.0.0.45"])
        self.wait_answers(["127.0.0.45"])
        d = self.overwatches[0]
        out = sim("impostor", "--agent-id", "web-i", "--token", TOKEN,
                  overwatch=d)
        self.assertEqual(out[-1], {"result": "refused",
                                   "reason": "cert_mismatch"})
        self.assertEqual(self.agent_info(d, "web-i")["fingerprint"],
                         a.fingerprint())
        self.assertIn("web-i", d.log())
        self.assertEqual(answer_ips(d), ["127.0.0.45"])

    def test_forged_state_changes_nothing(self):
        self.agent("web-forge", ["127.0.0.46"])
        self.wait_answers(["127.0.0.46"])
        d = self.overwatches[0]
        before = metric(d, "gossip_messages_rejected_total",
                        {"reason": "unauthenticated"})
        sim("forge-state", "--agent-id", "web-forge", "--backend",
            "127.0.0.99:80", overwatch=d)
        wait_for(lambda: metric(d, "gossip_messages_rejected_total",
                                {"reason": "unauthenticated"}) > before,
                 what="the forgery counted")
        self.assertEqual(answer_ips(d), ["127.0.0.46"])

    def test_garbage_changes_nothing_but_counters(self):
        self.agent("web-g2", ["127.0.0.41"])
        self.wait_answers(["127.0.0.41"])
        d = self.overwatches[0]
        before = sum(metric(d, "gossip_messages_rejected_total",
                            {"reason": r})
                     for r in ("malformed", "version", "unsealable"))
        out = sim("garbage", "--count", "5000", overwatch=d)
        self.assertEqual(out[-1], {"sent": 5000})
        after = sum(metric(d, "gossip_messages_rejected_total",
                           {"reason": r})
                    for r in ("malformed", "version", "unsealable"))
        self.assertGreater(after, before)
        self.assertTrue(d.running())
        self.assertEqual(answer_ips(d), ["127.0.0.41"])
        self.assertEqual(self.agent_info(d, "web-g2")["status"], "connected")

    def test_revocation(self):
        a = self.agent("web-v", ["127.0.0.42"])
        self.wait_answers(["127.0.0.42"])
        d = self.overwatches[0]
        # The host is lost (no deregistration); an operator revokes it.
        a.stop(signal.SIGKILL)
        r = ctl("--socket", d.socket, "agents", "revoke", "web-v")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("agent web-v revoked", r.stdout)
        self.assertEqual(answer_ips(d), [])
        self.assertIsNone(self.agent_info(d, "web-v"))
        status = d.http("/api/v1/overwatch/agents/web-v",
                        method="DELETE")[0]
        self.assertEqual(status, 404)
        audit = json.loads(d.http(
            "/api/v1/audit-logs?action=agent.revoke")[2])
        self.assertIn("agents/web-v",
                      [e["resource"] for e in audit["entries"]])
        # Its replacement, with a new certificate, is pinned on first use
        # (the other overwatch still holds the old pin and refuses it).
        shutil.rmtree(a.dir, ignore_errors=True)
        os.makedirs(a.dir)
        a.start()
        self.wait_answers(["127.0.0.42"], daemons=[d])
        self.assertEqual(self.agent_info(d, "web-v")["fingerprint"],
                         a.fingerprint())
        other = self.overwatches[1]
        wait_for(lambda: "cert_mismatch" in a.log(),
                 what="the refusal by the overwatch not revoked on")
        self.assertNotEqual(self.agent_info(other, "web-v")["fingerprint"],
                            a.fingerprint())

    def test_backend_listed_twice_counts_once(self):
        d = self.overwatches[0]
        cert_dir = tempfile.mkdtemp(prefix="gslb-it-sim-")
        self.addCleanup(shutil.rmtree, cert_dir, True)
        out = sim("register", "--agent-id", "sim-twice", "--token", TOKEN,
                  "--cert-dir", cert_dir, "--backend", "10.9.9.9:80",
                  "--backend", "10.9.9.9:80", overwatch=d)
        self.assertEqual(out[-1]["result"], "registered", out)
        self.assertEqual(self.agent_info(d, "sim-twice")["backends"], 1)
        r = ctl("--socket", d.socket, "agents", "revoke", "sim-twice")
        self.assertEqual(r.returncode, 0, r)
        self.assertTrue(d.running())

    def test_thousand_backends_on_one_agent(self):
        d = self.overwatches[0]
        cert_dir = tempfile.mkdtemp(prefix="gslb-it-sim-")
        self.addCleanup(shutil.rmtree, cert_dir, True)
        args = ["register", "--agent-id", "sim-1000", "--token", TOKEN,
                "--cert-dir", cert_dir]
        for i in range(1000):
            args += ["--backend", "10.%d.%d.%d:80" % (
                i // 65536, (i // 256) % 256, i % 256)]
        out = sim(*args, overwatch=d)
        self.assertEqual(out[-1]["result"], "registered", out)
        info = self.agent_info(d, "sim-1000")
        self.assertEqual(info["backends"], 1000)
        backends = json.loads(d.http(
            "/api/v1/overwatch/backends?service=" + SERVICE)[2])["backends"]
        self.assertEqual(len([b for b in backends
                              if b["agent_id"] == "sim-1000"]), 1000)
        r = ctl("--socket", d.socket, "agents", "revoke", "sim-1000")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("1000 backends removed", r.stdout)


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main(verbosity=2)
