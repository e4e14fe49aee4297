#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""gslb-overwatchd as a process: command line, exit codes, configuration
checks, SIGHUP reload, stop signals, systemd notification, JSON logs."""
import collections
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402

import gslbtest  # noqa: E402
from gslbtest import Domain, addresses  # noqa: E402

NEW_SERVER = "192.0.2.14"
NEW_DOMAIN_SERVER = "192.0.2.101"


def changed_domains():
    """The test config with failover.gslb.test removed, new.gslb.test
    added, and one more server for rr.gslb.test."""
    out = []
    for d in gslbtest.default_domains():
        if d.name == "failover.gslb.test":
            continue
        if d.name == "rr.gslb.test":
            d.servers = d.servers + [("eu-west", NEW_SERVER, None)]
        out.append(d)
    out.append(Domain("new.gslb.test", "round-robin", ["us-east"],
                      [("us-east", NEW_DOMAIN_SERVER, None)]))
    return out


def with_line_after(text, anchor, line):
    """text with line inserted after the first line containing anchor;
    returns (text, 1-based number of the inserted line)."""
    n = gslbtest.line_of(text, anchor)
    lines = text.splitlines()
    lines.insert(n, line)
    return "\n".join(lines) + "\n", n + 1


class CommandLineTest(unittest.TestCase):
    """Flags, exit codes and --check-config, without a running daemon."""

    def setUp(self):
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix="gslb-it-cli-"))
        self.path = os.path.join(self.dir, "overwatch.yaml")
        self.port = gslbtest.free_port()
        self.gossip_port = gslbtest.free_port()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, template, mode=0o600):
        text = string.Template(template).substitute(
            port=self.port, gossip_port=self.gossip_port,
            state_dir=os.path.join(self.dir, "state"),
            socket=os.path.join(self.dir, "api.sock"))
        gslbtest.write_private(self.path, text, mode)
        return text

    def run_daemon(self, *args, timeout=30):
        return subprocess.run(gslbtest.command(*args), capture_output=True,
                              text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def check(self):
        return self.run_daemon("--check-config", "-c", self.path)

    def assertInvalid(self, out, line=None, key=None):
        text = "stdout:\n%s\nstderr:\n%s" % (out.stdout, out.stderr)
        self.assertEqual(out.returncode, gslbtest.EX_CONFIG, text)
        self.assertNotIn("configuration is valid", out.stdout)
        if line is None:
            self.assertIn(self.path, out.stderr, text)
        else:
            self.assertIn("%s:%d:" % (self.path, line), out.stderr, text)
        if key is not None:
            self.assertIn(key, out.stderr, text)

    # -- --check-config ------------------------------------------------------

    def test_check_config_valid(self):
        self.write(gslbtest.config())
        out = self.check()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("configuration is valid", out.stdout)
        self.assertIn("2 zones, 9 domains, 2 regions", out.stdout)

    def test_check_config_group_readable_is_fine(self):
        self.write(gslbtest.config(), mode=0o640)
        out = self.check()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("configuration is valid", out.stdout)

    def test_check_config_sample_file(self):
        # As shipped, only the placeholder secrets are wrong, and the
        # errors say so; with secrets of one's own the sample is valid.
        sample = gslbtest.sample_config("overwatch.yaml")
        gslbtest.write_private(self.path, sample)
        out = self.check()
        self.assertInvalid(out, key="overwatch.gossip.encryption_key")
        errors = [l for l in out.stderr.splitlines()
                  if re.match(re.escape(self.path) + r":\d+:", l)]
        self.assertEqual(len(errors), 2, out.stderr)
        for line in errors:
            self.assertIn("this is the sample configuration's placeholder: "
                          "replace it with a secret of your own", line)
        self.assertIn("configuration has 2 errors", out.stderr)
        self.assertIn("overwatch.agent_tokens.app.gslb.example", out.stderr)
        gslbtest.write_private(self.path, gslbtest.with_secrets(sample))
        out = self.check()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("configuration is valid", out.stdout)

    def test_check_config_unknown_key(self):
        text, line = with_line_after(gslbtest.config(), "  workers: 2",
                                     "  bogus_option: 1")
        self.write(text)
        self.assertInvalid(self.check(), line, "dns.bogus_option")

    def test_check_config_world_readable(self):
        self.write(gslbtest.config(), mode=0o644)
        self.assertInvalid(self.check(), key="world-readable")

    def test_check_config_domain_outside_zones(self):
        domains = gslbtest.default_domains() + [
            Domain("app.elsewhere.example", "round-robin", ["eu-west"],
                   [("eu-west", "192.0.2.250", None)])]
        text = self.write(gslbtest.config(domains=domains))
        line = gslbtest.line_of(text, "- name: app.elsewhere.example")
        self.assertInvalid(self.check(), line, "domains[9].name")

    def test_check_config_syntax_error(self):
        text = gslbtest.config().replace("  workers: 2", "  workers: [2")
        self.write(text)
        out = self.check()
        self.assertEqual(out.returncode, gslbtest.EX_CONFIG, out.stderr)
        self.assertRegex(out.stderr, re.escape(self.path) + r":\d+:")

    def test_check_config_reports_every_error(self):
        text, line1 = with_line_after(gslbtest.config(), "  workers: 2",
                                      "  bogus_option: 1")
        text = text.replace("routing_algorithm: failover",
                            "routing_algorithm: bogus-algorithm")
        line2 = gslbtest.line_of(text, "bogus-algorithm")
        self.write(text)
        out = self.check()
        self.assertInvalid(out, line1, "dns.bogus_option")
        self.assertIn("%s:%d:" % (self.path, line2), out.stderr)
        self.assertIn("routing_algorithm", out.stderr)

    def test_check_config_missing_file(self):
        out = self.check()  # never written
        self.assertEqual(out.returncode, gslbtest.EX_CONFIG, out.stderr)
        self.assertIn(self.path, out.stderr)

    # -- flags -------------------------------------------------------------

    def test_version(self):
        out = self.run_daemon("--version")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("gslb-overwatchd", out.stdout)
        self.assertRegex(out.stdout, r"libknot \d+\.\d+")

    def test_help(self):
        out = self.run_daemon("--help")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("--check-config", out.stdout)

    def test_unknown_flag(self):
        out = self.run_daemon("--no-such-flag")
        self.assertEqual(out.returncode, gslbtest.EX_USAGE, out.stderr)
        self.assertIn("Usage", out.stderr)

    def test_unexpected_argument(self):
        out = self.run_daemon("-c", self.path, "extra")
        self.assertEqual(out.returncode, gslbtest.EX_USAGE, out.stderr)

    # -- start-up ------------------------------------------------------------

    def test_start_with_invalid_config(self):
        text, line = with_line_after(gslbtest.config(), "  workers: 2",
                                     "  bogus_option: 1")
        self.write(text)
        out = self.run_daemon("-c", self.path, timeout=gslbtest.timeout_s())
        self.assertInvalid(out, line, "dns.bogus_option")
        self.assertNotIn(gslbtest.READY_LINE, out.stderr)
        q = dns.message.make_query("rr.gslb.test", "A")
        self.assertIsNone(gslbtest.udp_exchange("127.0.0.1", self.port,
                                                q.to_wire(), timeout=0.5))


class ReloadTest(gslbtest.DaemonTestCase):
    """SIGHUP: new configs apply without dropping queries, bad ones are
    refused and the running one kept. Every test starts from the base."""

    def setUp(self):
        outcome, logged = self.daemon.reload(gslbtest.config())
        self.assertEqual(outcome, "reloaded", "\n".join(logged))

    def rr_counts(self, n, host=None):
        counts = collections.Counter()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(n):
                msg = self.daemon.query("rr.gslb.test", "A", sock=sock)
                self.assertRcode(msg, "NOERROR")
                got = addresses(msg, "A")
                self.assertEqual(len(got), 1, str(msg))
                counts[got[0]] += 1
        return counts

    def assertBaseConfigAnswers(self):
        """The base config, exactly: rotation over 3, failover present,
        new.gslb.test absent."""
        self.assertEqual(self.rr_counts(30),
                         {a: 10 for a in gslbtest.RR_SERVERS})
        msg = self.daemon.query("failover.gslb.test", "A")
        self.assertRcode(msg, "NOERROR")
        self.assertEqual(addresses(msg, "A"), [gslbtest.FAILOVER_PRIMARY])
        msg = self.daemon.query("new.gslb.test", "A")
        self.assertNegative(msg, "NXDOMAIN")

    def assertChangedConfigAnswers(self):
        msg = self.daemon.query("new.gslb.test", "A")
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertEqual(addresses(msg, "A"), [NEW_DOMAIN_SERVER])
        msg = self.daemon.query("failover.gslb.test", "A")
        self.assertNegative(msg, "NXDOMAIN")
        self.assertEqual(self.rr_counts(40),
                         {a: 10 for a in gslbtest.RR_SERVERS + (NEW_SERVER,)})
        # Untouched names are unaffected.
        msg = self.daemon.query("v6only.gslb.test", "AAAA")
        self.assertIn(addresses(msg, "AAAA")[0], gslbtest.V6ONLY_SERVERS)

    def test_reload_applies_changes(self):
        self.assertBaseConfigAnswers()
        outcome, logged = self.daemon.reload(
            gslbtest.config(domains=changed_domains()))
        self.assertEqual(outcome, "reloaded", "\n".join(logged))
        self.assertChangedConfigAnswers()

    def test_reload_under_load_drops_nothing(self):
        stop = threading.Event()
        stats = {"udp": 0, "tcp": 0}
        failures = []
        allowed = set(gslbtest.RR_SERVERS) | {NEW_SERVER}
        port = self.daemon.port

        def check(msg, proto):
            if gslbtest.rcode_text(msg) != "NOERROR":
                failures.append("%s: %s" % (proto, gslbtest.rcode_text(msg)))
                return
            got = addresses(msg, "A")
            if len(got) != 1 or got[0] not in allowed:
                failures.append("%s: bad answer %s" % (proto, got))
            stats[proto] += 1

        def udp_loop():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                while not stop.is_set():
                    q = dns.message.make_query("rr.gslb.test", "A")
                    try:
                        msg = dns.query.udp(q, "127.0.0.1", timeout=2,
                                            port=port, sock=sock)
                    except (dns.exception.DNSException, OSError) as e:
                        failures.append("udp: %r" % e)
                        continue
                    check(msg, "udp")

        def tcp_loop():
            sock = None
            while not stop.is_set():
                q = dns.message.make_query("rr.gslb.test", "A")
                try:
                    if sock is None:
                        sock = gslbtest.tcp_connect("127.0.0.1", port)
                    gslbtest.tcp_send(sock, q.to_wire())
                    wire = gslbtest.tcp_recv(sock)
                    if wire is None:
                        raise ConnectionError("closed by the server")
                    msg = dns.message.from_wire(wire)
                    if msg.id != q.id:
                        raise ValueError("answer ID mismatch")
                except (dns.exception.DNSException, OSError,
                        ValueError) as e:
                    failures.append("tcp: %r" % e)
                    if sock is not None:
                        sock.close()
                    sock = None
                    continue
                check(msg, "tcp")
            if sock is not None:
                sock.close()

        threads = [threading.Thread(target=udp_loop),
                   threading.Thread(target=tcp_loop)]
        for t in threads:
            t.start()
        try:
            configs = [gslbtest.config(domains=changed_domains()),
                       gslbtest.config()]
            time.sleep(0.2)
            for i in range(10):
                outcome, logged = self.daemon.reload(configs[i % 2])
                self.assertEqual(outcome, "reloaded", "\n".join(logged))
                time.sleep(0.05)
            time.sleep(0.2)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertEqual(failures, [], "%d failed queries (%s answered)"
                         % (len(failures), stats))
        self.assertGreater(stats["udp"], 10)
        self.assertGreater(stats["tcp"], 10)
        # The last config written was the base one.
        self.assertBaseConfigAnswers()

    def check_rejected(self, text, mode=0o600, line=None, key=None):
        outcome, logged = self.daemon.reload(text, mode=mode)
        joined = "\n".join(logged)
        self.assertEqual(outcome, "failed", joined)
        self.assertIn("reload failed", joined)
        path = self.daemon.config_path
        if line is None:
            self.assertIn(path, joined)
        else:
            self.assertIn("%s:%d:" % (path, line), joined)
        if key is not None:
            self.assertIn(key, joined)
        self.assertTrue(self.daemon.running())
        self.assertBaseConfigAnswers()
        # Fixed, and signalled again: the new config applies.
        outcome, logged = self.daemon.reload(
            gslbtest.config(domains=changed_domains()))
        self.assertEqual(outcome, "reloaded", "\n".join(logged))
        self.assertChangedConfigAnswers()

    def test_reload_syntax_error_keeps_running_config(self):
        text = self.daemon.render(gslbtest.config(domains=changed_domains()))
        text = text.replace("  workers: 2", "  workers: [2")
        outcome, logged = self.daemon.reload(text)
        joined = "\n".join(logged)
        self.assertEqual(outcome, "failed", joined)
        self.assertRegex(joined, re.escape(self.daemon.config_path) +
                         r":\d+:")
        self.assertBaseConfigAnswers()
        outcome, logged = self.daemon.reload(
            gslbtest.config(domains=changed_domains()))
        self.assertEqual(outcome, "reloaded", "\n".join(logged))
        self.assertChangedConfigAnswers()

    def test_reload_unknown_key_keeps_running_config(self):
        text, line = with_line_after(
            gslbtest.config(domains=changed_domains()), "  workers: 2",
            "  bogus_option: 1")
        self.check_rejected(text, line=line, key="dns.bogus_option")

    def test_reload_world_readable_keeps_running_config(self):
        self.check_rejected(gslbtest.config(domains=changed_domains()),
                            mode=0o644)


class StopTest(unittest.TestCase):
    """SIGTERM and SIGINT stop the daemon cleanly, exit status 0."""

    def run_until(self, sig):
        d = gslbtest.Daemon(gslbtest.config(), name="stop")
        try:
            d.start()
            msg = d.query("rr.gslb.test", "A")
            self.assertEqual(gslbtest.rcode_text(msg), "NOERROR")
            msg = d.query("nonexistent.gslb.test", "A", tcp=True)
            self.assertEqual(gslbtest.rcode_text(msg), "NXDOMAIN")
            d.udp_raw(b"\x00\x01\x02", timeout=0.3)  # dropped, counted
            # An idle TCP client must not hold up the stop.
            with d.tcp_connect() as idle:
                self.assertEqual(d.stop(sig), 0)
                idle.settimeout(2)
                try:
                    self.assertEqual(idle.recv(1), b"")
                except ConnectionResetError:
                    pass
            self.assertIn("stopped", d.log_lines()[-1], d.describe())
            # The totals of what was answered, over UDP and TCP.
            self.assertIn("answered 2 of 3 messages: NOERROR 1, "
                          "NXDOMAIN 1,", d.log(), d.describe())
        finally:
            d.cleanup()

    def test_sigterm(self):
        self.run_until(signal.SIGTERM)

    def test_sigint(self):
        self.run_until(signal.SIGINT)


class PortInUseTest(gslbtest.DaemonTestCase):
    """A second overwatch on the port of a running one must fail, not
    quietly take a share of its queries through SO_REUSEPORT."""

    def test_second_instance_refused(self):
        out = subprocess.run(gslbtest.command("-c", self.daemon.config_path),
                             capture_output=True, text=True,
                             timeout=gslbtest.timeout_s(),
                             stdin=subprocess.DEVNULL)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("Address already in use", out.stderr)
        self.assertNotIn(gslbtest.READY_LINE, out.stderr)
        # The first one still answers every query itself.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(20):
                msg = self.daemon.query("rr.gslb.test", "A", sock=sock)
                self.assertEqual(gslbtest.rcode_text(msg), "NOERROR")
        self.assertTrue(self.daemon.running())


class NotifySocketTest(unittest.TestCase):
    """sd_notify: READY=1 once listening, RELOADING=1/READY=1 around a
    reload, STOPPING=1 on the way out."""

    def test_notify(self):
        d = gslbtest.Daemon(gslbtest.config(), name="notify")
        path = os.path.join(d.dir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(gslbtest.timeout_s())
        d.extra_env["NOTIFY_SOCKET"] = path

        def expect(state):
            while True:
                try:
                    data = sock.recv(4096).decode()
                except socket.timeout:
                    self.fail("no %s on NOTIFY_SOCKET\n%s"
                              % (state, d.describe()))
                if state in data.split("\n"):
                    return

        try:
            d.start(wait=False)
            expect("READY=1")
            # Ready means answering, at once.
            self.assertIn(gslbtest.READY_LINE, d.log())
            msg = d.query("rr.gslb.test", "A")
            self.assertEqual(gslbtest.rcode_text(msg), "NOERROR")
            outcome, _ = d.reload()
            self.assertEqual(outcome, "reloaded")
            expect("RELOADING=1")
            expect("READY=1")
            d.stop()
            expect("STOPPING=1")
        finally:
            sock.close()
            d.cleanup()


class JsonLogTest(unittest.TestCase):
    """logging.format: json makes every stderr line one JSON object."""

    def test_json_lines(self):
        d = gslbtest.Daemon(gslbtest.config(log_format="json"), name="json")
        try:
            d.start()
            d.query("rr.gslb.test", "A")
            # A reload error whose key needs escaping in JSON.
            bad, _ = with_line_after(gslbtest.config(log_format="json"),
                                     "  workers: 2", '  bad"key\\x: 1')
            outcome, _ = d.reload(bad)
            self.assertEqual(outcome, "failed")
            outcome, _ = d.reload(gslbtest.config(log_format="json"))
            self.assertEqual(outcome, "reloaded")
            d.stop()
            lines = d.log_lines()
            self.assertGreaterEqual(len(lines), 4, d.describe())
            msgs = []
            for line in lines:
                try:
                    obj = json.loads(line)
                except ValueError as e:
                    self.fail("not JSON (%s): %r\n%s" % (e, line,
                                                         d.describe()))
                self.assertIsInstance(obj, dict, line)
                for key in ("time", "level", "subsystem", "msg"):
                    self.assertIn(key, obj, line)
                    self.assertIsInstance(obj[key], str, line)
                self.assertIn(obj["level"], ("debug", "info", "warn",
                                             "error"), line)
                self.assertRegex(obj["time"],
                                 r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line)
                msgs.append(obj["msg"])
            joined = "\n".join(msgs)
            self.assertIn(gslbtest.READY_LINE, joined)
            self.assertIn('bad"key\\x', joined)
            self.assertIn("configuration reloaded", joined)
            self.assertIn("stopped", msgs[-1])
        finally:
            d.cleanup()


class JournalLogTest(unittest.TestCase):
    """Under systemd, stderr is the journal (JOURNAL_STREAM names it): no
    time, which the journal adds, and a <N> prefix that gives each line
    its priority."""

    def start(self, name, stream=None):
        d = gslbtest.Daemon(gslbtest.config(), name=name)
        open(d.log_path, "ab").close()
        st = os.stat(d.log_path)
        d.extra_env["JOURNAL_STREAM"] = stream or "%d:%d" % (st.st_dev,
                                                             st.st_ino)
        d.start()
        return d

    def test_journal_lines(self):
        d = self.start("journal")
        try:
            bad, _ = with_line_after(gslbtest.config(), "  workers: 2",
                                     "  bogus_option: 1")
            outcome, _ = d.reload(bad)
            self.assertEqual(outcome, "failed")
            d.stop()
            lines = d.log_lines()
            for line in lines:
                self.assertRegex(line, r"^<[3467]>(debug|info|warn|error) "
                                 r"\[[a-z]+\] \S", d.describe())
            self.assertTrue(any(l.startswith("<6>info [dns] " +
                                             gslbtest.READY_LINE)
                                for l in lines), d.describe())
            self.assertTrue(any(l.startswith("<3>error [main] configuration "
                                             "reload failed")
                                for l in lines), d.describe())
        finally:
            d.cleanup()

    def test_redirected_stderr_keeps_the_time(self):
        # systemd started us, but stderr now goes elsewhere (a shell
        # redirect in ExecStart): lines carry their own time again.
        d = self.start("journal-elsewhere", stream="1:1")
        try:
            d.stop()
            for line in d.log_lines():
                self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
                                 r"\.\d{3}Z (info|warn|error) \[[a-z]+\] ")
        finally:
            d.cleanup()


class SyslogTest(unittest.TestCase):
    """logging.output: syslog sends every line to /dev/log with the
    facility asked for, the level as severity, and nothing to stderr."""

    def setUp(self):
        if os.path.exists("/dev/log"):
            self.skipTest("/dev/log belongs to a running syslog daemon")
        if os.geteuid() != 0:
            self.skipTest("making /dev/log needs root")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("/dev/log")
        self.sock.settimeout(gslbtest.timeout_s())

    def tearDown(self):
        self.sock.close()
        os.unlink("/dev/log")

    def until(self, needle, got):
        while not any(needle in m for m in got):
            try:
                got.append(self.sock.recv(65536).decode())
            except socket.timeout:
                self.fail("no syslog message with %r:\n%s"
                          % (needle, "\n".join(got)))

    def test_syslog(self):
        text = gslbtest.config().replace(
            "  format: text\n",
            "  format: text\n  output: syslog\n  facility: local3\n")
        d = gslbtest.Daemon(text, name="syslog")
        try:
            d.start(wait=False)
            got = []
            self.until(gslbtest.READY_LINE, got)
            d.stop()
            self.until("stopped", got)
            local3 = 19
            for m in got:
                self.assertRegex(m, r"^<(\d+)>.* gslb-overwatchd\[%d\]: "
                                 r"\[[a-z]+\] \S" % d.proc.pid)
                pri = int(re.match(r"<(\d+)>", m).group(1))
                self.assertEqual(pri >> 3, local3, m)
            ready = next(m for m in got if gslbtest.READY_LINE in m)
            self.assertEqual(int(re.match(r"<(\d+)>", ready).group(1)) & 7,
                             6, ready)  # LOG_INFO
            self.assertEqual(d.log(), "")
        finally:
            d.cleanup()


class PrivilegeDropTest(unittest.TestCase):
    """Started as root with process.user: port 53 is bound, then the
    daemon runs as that user, with CAP_NET_BIND_SERVICE only, and makes
    its state directory for that user."""

    ADDRESS = "127.0.0.153"

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        self.user = pwd.getpwnam("nobody")
        self.group = grp.getgrnam("nogroup")

    def test_drop_to_process_user(self):
        template = gslbtest.config(
            listen='"%s:53"' % self.ADDRESS) + (
            "process:\n  user: nobody\n  group: nogroup\n")
        d = gslbtest.Daemon(template, name="privdrop")
        try:
            os.chmod(d.dir, 0o755)
            write = d.write_config

            def write_readable_by_group(*args, **kw):
                # Read again as nobody at a reload.
                write(*args, **kw)
                os.chown(d.config_path, 0, self.group.gr_gid)
                os.chmod(d.config_path, 0o640)

            d.write_config = write_readable_by_group
            d.start()
            with open("/proc/%d/status" % d.proc.pid) as f:
                status = dict(l.rstrip("\n").split(":\t", 1) for l in f)
            self.assertEqual(status["Uid"].split(),
                             [str(self.user.pw_uid)] * 4)
            self.assertEqual(status["Gid"].split(),
                             [str(self.group.gr_gid)] * 4)
            self.assertEqual(status["Groups"].split(),
                             [str(self.group.gr_gid)])
            self.assertEqual(status["CapEff"], "0000000000000400")
            self.assertEqual(status["CapPrm"], "0000000000000400")
            self.assertIn("running as user nobody", d.log())

            q = dns.message.make_query("rr.gslb.test", "A")
            msg = dns.query.udp(q, self.ADDRESS, port=53, timeout=3)
            self.assertEqual(gslbtest.rcode_text(msg), "NOERROR")
            self.assertTrue(addresses(msg, "A"))

            st = os.stat(d.state_dir)
            self.assertEqual((st.st_uid, st.st_gid),
                             (self.user.pw_uid, self.group.gr_gid))
            self.assertEqual(st.st_mode & 0o777, 0o750)
            for name in os.listdir(d.state_dir):
                self.assertEqual(os.stat(os.path.join(d.state_dir, name))
                                 .st_uid, self.user.pw_uid, name)
            outcome, logged = d.reload()
            self.assertEqual(outcome, "reloaded", "\n".join(logged))
            d.stop()
        finally:
            d.cleanup()


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main(verbosity=2)
