#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""gslbctl as an operator uses it: the real binary ($GSLBCTL, or --gslbctl
PATH) against the real daemon, over its UNIX socket and over TCP with
api.tokens and api.allowed_networks. Asserts what the user sees: tables,
messages, exit status, and that --json parses.

GSLBCTL_TEST_WRAPPER (e.g. "valgrind -q --leak-check=full
--errors-for-leak-kinds=definite --error-exitcode=99") runs gslbctl under
a wrapper."""
import calendar
import json
import os
import re
import shlex
import socket
import string
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gslbtest  # noqa: E402
from backends import TCPBackend  # noqa: E402
from gslbtest import (REGIONS, DaemonTestCase,  # noqa: E402
                      config, default_domains)

TOKEN = "ops-token-0123456789abcdef"
NODE = "integration-test"
SLACK = 3.0  # seconds a loaded machine may add to any wait
RFC3339_SHORT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"

# Exit status.
OK, REFUSED, USAGE, UNREACHABLE = 0, 1, 2, 3

COMMANDS = [
    ("status",), ("backends",), ("override",), ("override", "set"),
    ("override", "clear"), ("override", "list"), ("audit",), ("servers",),
    ("servers", "list"), ("servers", "add"), ("servers", "remove"),
    ("config",), ("config", "check"), ("agents",), ("agents", "list"),
    ("agents", "show"), ("agents", "revoke"), ("version",), ("help",),
]
GLOBAL_OPTIONS = ("--socket PATH", "--api URL", "--token TOKEN", "--json",
                  "--timeout SEC", "-h, --help")


def parse_args(argv=None):
    """Takes --gslbctl PATH out of argv (then gslbtest's --overwatchd)."""
    argv = sys.argv if argv is None else argv
    for i, arg in enumerate(argv[1:], start=1):
        if arg == "--gslbctl" and i + 1 < len(argv):
            os.environ["GSLBCTL"] = os.path.abspath(argv[i + 1])
            del argv[i:i + 2]
            break
        if arg.startswith("--gslbctl="):
            os.environ["GSLBCTL"] = os.path.abspath(arg.split("=", 1)[1])
            del argv[i]
            break
    gslbtest.parse_args(argv)


def gslbctl_path():
    path = os.environ.get("GSLBCTL", "")
    if not path:
        raise RuntimeError("set GSLBCTL to the gslbctl binary to test "
                           "(make check does), or pass --gslbctl PATH")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError("GSLBCTL=%s is not an executable file" % path)
    return path


def ctl(*args, env=None, timeout=30):
    """Runs gslbctl with args; the environment without OPENGSLB_*, plus
    env. Returns the CompletedProcess (text)."""
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("OPENGSLB_")}
    full.update(env or {})
    wrapper = shlex.split(os.environ.get("GSLBCTL_TEST_WRAPPER", ""))
    return subprocess.run(wrapper + [gslbctl_path()] + list(args),
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=full, timeout=timeout)


def package_version():
    out = subprocess.run([gslbtest.overwatchd_path(), "--version"],
                         capture_output=True, text=True).stdout
    return re.match(r"gslb-overwatchd \(OpenGSLB\) (\S+),", out).group(1)


def parse_table(text):
    """The rows of a gslbctl table as dicts keyed by header. Checks the
    layout: each column as wide as its widest cell, two spaces apart."""
    lines = text.rstrip("\n").split("\n")
    header = lines[0]
    assert header == header.upper(), header
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows = []
    for line in lines[1:]:
        cells = []
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else None
            if i > 0:
                assert line[start - 2:start] == "  ", \
                    "column %s misaligned in %r" % (names[i], line)
            cells.append(line[start:end].rstrip())
        assert line == line.rstrip(), "trailing blanks in %r" % line
        rows.append(dict(zip(names, cells)))
    for i in range(len(starts) - 1):
        widest = max(len(r[names[i]]) for r in rows + [dict(
            zip(names, names))])
        assert starts[i + 1] - starts[i] == widest + 2, \
            "column %s is not as wide as its widest cell:\n%s" \
            % (names[i], text)
    return rows


def hostport(address, port=80):
    return ("[%s]:%d" if ":" in address else "%s:%d") % (address, port)


def static_backends(domains=None):
    """(service, address:port, region) of every configured server."""
    domains = default_domains() if domains is None else domains
    return sorted((d.name, hostport(a), region) for region in REGIONS
                  for d in domains for (r, a, _) in d.servers
                  if r == region)


def kv_lines(text):
    """"Key:   value" lines as a dict."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        assert sep and value.startswith(" "), line
        out[key] = value.strip()
    return out


def add_api_keys(template, lines):
    """lines added to the api: mapping (after its address)."""
    m = re.search(r'\n  address: "[^"\n]*\$api_port"\n', template)
    assert m, "no api.address in the config"
    extra = "".join("  %s\n" % line for line in lines)
    return template[:m.end()] + extra + template[m.end():]


# ---------------------------------------------------------------------------
# Without a daemon.

class Usage(unittest.TestCase):
    def assertUsage(self, args, message, hint):
        r = ctl(*args)
        self.assertEqual(r.returncode, USAGE, "%r: %r" % (args, r))
        self.assertEqual(r.stdout, "", args)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 2, "%r: %r" % (args, r.stderr))
        self.assertRegex(lines[0], "^gslbctl: " + message)
        self.assertEqual(lines[1], "Try 'gslbctl %s--help'." %
                         (hint + " " if hint else ""))

    def test_usage_errors(self):
        missing = "/nonexistent/overwatch.sock"
        for args, message, hint in [
            ((), "missing command", ""),
            (("frobnicate",), "unknown command 'frobnicate'", ""),
            (("--frob", "status"), "unknown option '--frob'", ""),
            (("--socket",), "option '--socket' needs a value", ""),
            (("override",), "'override' needs a sub-command", "override"),
            (("servers", "purge"), "unknown sub-command 'purge'",
             "servers"),
            (("status", "extra"), "unexpected argument 'extra'", "status"),
            (("backends", "--colour"), "unknown option '--colour'",
             "backends"),
            (("backends", "--service"), "option '--service' needs a value",
             "backends"),
            (("override", "set"), "missing SERVICE", "override set"),
            (("override", "set", "rr.gslb.test"), "missing ADDRESS",
             "override set"),
            (("override", "set", "rr.gslb.test", "192.0.2.11:80",
              "--reason", "x"), "give exactly one of --healthy and "
             "--unhealthy", "override set"),
            (("override", "set", "rr.gslb.test", "192.0.2.11:80",
              "--healthy", "--unhealthy", "--reason", "x"),
             "give exactly one", "override set"),
            (("override", "set", "rr.gslb.test", "192.0.2.11:80",
              "--unhealthy"), "--reason TEXT is required", "override set"),
            (("override", "set", "rr.gslb.test", "web:80", "--unhealthy",
              "--reason", "x"), "ADDRESS must be IP:PORT", "override set"),
            (("override", "set", "rr.gslb.test", "192.0.2.11:80",
              "--unhealthy", "--reason", "x", "--expires", "soon"),
             "--expires takes a duration", "override set"),
            (("override", "clear", "rr.gslb.test"), "missing ADDRESS",
             "override clear"),
            (("audit", "--limit", "0"), "--limit takes a number", "audit"),
            (("audit", "--limit", "ten"), "--limit takes a number",
             "audit"),
            (("servers", "add", "--service", "rr.gslb.test"),
             "--service, --address and --port are required", "servers add"),
            (("servers", "add", "--service", "a", "--address", "b",
              "--port", "80"), "--address takes an IPv4 or IPv6",
             "servers add"),
            (("servers", "add", "--service", "a", "--address", "192.0.2.1",
              "--port", "65536"), "--port takes a number", "servers add"),
            (("servers", "remove"), "missing ID", "servers remove"),
            (("servers", "remove", "a", "b"), "give an ID, or SERVICE",
             "servers remove"),
            (("config", "check"), "missing FILE", "config check"),
            (("agents",), "'agents' needs a sub-command", "agents"),
            (("agents", "pin"), "unknown sub-command 'pin'", "agents"),
            (("agents", "show"), "missing ID", "agents show"),
            (("agents", "revoke"), "missing ID", "agents revoke"),
            (("agents", "show", "a", "b"), "unexpected argument 'b'",
             "agents show"),
            (("agents", "revoke", "", "--socket", missing),
             "ID must not be empty", "agents revoke"),
            (("--socket", missing, "--api", "http://127.0.0.1:1",
              "status"), "--socket and --api cannot be used together",
             "status"),
            (("status", "--timeout", "0"), "--timeout takes a number",
             "status"),
            (("--api", "ftp://127.0.0.1/", "status"), "invalid --api URL",
             "status"),
            (("help", "frobnicate"), "no command 'frobnicate'", ""),
        ]:
            with self.subTest(args=args):
                self.assertUsage(args, re.escape(message), hint)

    def test_help(self):
        r = ctl("--help")
        self.assertEqual(r.returncode, OK, r)
        self.assertEqual(r.stderr, "")
        self.assertTrue(r.stdout.startswith("Usage: gslbctl [OPTIONS] "
                                            "COMMAND [ARGS]\n"), r.stdout)
        for words in COMMANDS:
            if len(words) == 2 or words[0] in ("status", "backends",
                                                "audit", "version"):
                self.assertRegex(r.stdout, r"\n  %s\b" % " ".join(words))
        for opt in GLOBAL_OPTIONS + ("--version",):
            self.assertIn(opt, r.stdout)
        self.assertIn("Exit status", r.stdout)
        self.assertEqual(ctl("-h").stdout, r.stdout)
        self.assertEqual(ctl("help").stdout, r.stdout)

    def test_help_of_every_command(self):
        options = {
            "backends": ("--service NAME", "--status STATUS",
                         "--region NAME"),
            "override set": ("--healthy", "--unhealthy", "--reason TEXT",
                             "--expires DURATION", "--source NAME"),
            "audit": ("--limit N", "--offset N", "--action ACTION"),
            "servers add": ("--service NAME", "--address IP", "--port PORT",
                            "--region NAME", "--weight N"),
            "config check": ("--agent", "--json"),
            "override": ("set", "clear", "list"),
            "servers": ("list", "add", "remove"),
            "agents": ("list", "show", "revoke"),
        }
        for words in COMMANDS:
            name = " ".join(words)
            with self.subTest(command=name):
                for flag in ("--help", "-h"):
                    r = ctl(*words, flag)
                    self.assertEqual(r.returncode, OK, r)
                    self.assertEqual(r.stderr, "")
                    self.assertTrue(r.stdout.startswith(
                        "Usage: gslbctl %s" % name), r.stdout)
                for opt in options.get(name, ()):
                    self.assertRegex(r.stdout, r"\n  %s\b" % re.escape(opt))
                if len(words) == 2 or name in ("status", "backends",
                                               "audit", "version"):
                    if name != "config check":
                        for opt in GLOBAL_OPTIONS:
                            self.assertIn("\n  " + opt, r.stdout)
                self.assertEqual(ctl("help", *words).stdout, r.stdout)
                # --help wins over what is missing or wrong.
                r = ctl(*words, "--help", "--frob")
                self.assertEqual(r.returncode, OK, r)
        # Global options after the command too.
        r = ctl("override", "set", "--json", "--help")
        self.assertEqual(r.returncode, OK, r)

    def test_version_option(self):
        r = ctl("--version")
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (OK, "gslbctl %s\n" % package_version(), ""))
        self.assertEqual(ctl("-V").stdout, r.stdout)


class Unreachable(unittest.TestCase):
    """No daemon where gslbctl looks: exit status 3 and a hint."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gslb-it-ctl-")

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def assertUnreachable(self, r, target, reason):
        self.assertEqual(r.returncode, UNREACHABLE, r)
        self.assertEqual(
            r.stderr, "gslbctl: cannot connect to %s: %s (is "
            "gslb-overwatchd running? use --socket PATH or --api URL)\n"
            % (target, reason))

    def test_missing_socket(self):
        path = os.path.join(self.dir, "overwatch.sock")
        for args in (("status",), ("backends", "--json"),
                     ("override", "list"),
                     ("override", "set", "rr.gslb.test", "192.0.2.11:80",
                      "--unhealthy", "--reason", "x"),
                     ("audit",), ("servers", "list"), ("agents", "list"),
                     ("--json", "agents", "list"),
                     ("agents", "show", "web-1"),
                     ("agents", "revoke", "web-1")):
            with self.subTest(args=args):
                r = ctl("--socket", path, *args)
                self.assertUnreachable(r, path, "No such file or directory")
                self.assertEqual(r.stdout, "")
        # From the environment, and the command line wins over it.
        r = ctl("status", env={"OPENGSLB_SOCKET": path})
        self.assertUnreachable(r, path, "No such file or directory")
        r = ctl("--socket", path, "status",
                env={"OPENGSLB_API": "http://127.0.0.1:1"})
        self.assertUnreachable(r, path, "No such file or directory")

    def test_stale_socket(self):
        # A socket file nobody listens on, as a crashed daemon leaves it.
        path = os.path.join(self.dir, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(path)
            r = ctl("--socket", path, "status")
        finally:
            s.close()
        self.assertUnreachable(r, path, "Connection refused")

    def test_closed_port(self):
        port = gslbtest.free_port()
        url = "http://127.0.0.1:%d" % port
        self.assertUnreachable(ctl("--api", url, "backends"), url,
                               "Connection refused")
        self.assertUnreachable(ctl("backends", env={"OPENGSLB_API": url}),
                               url, "Connection refused")

    def test_no_answer(self):
        # Accepts the connection, never answers.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(4)
            url = "http://127.0.0.1:%d/" % s.getsockname()[1]
            t0 = time.monotonic()
            r = ctl("--api", url, "--timeout", "0.5", "status")
            elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, UNREACHABLE, r)
        self.assertIn("gslbctl: no answer from %s within 0.5 s (is "
                      "gslb-overwatchd running?" % url, r.stderr)
        self.assertLess(elapsed, 0.5 + SLACK)

    def test_version_without_daemon(self):
        path = os.path.join(self.dir, "overwatch.sock")
        r = ctl("--socket", path, "version")
        self.assertEqual(r.stdout, "gslbctl %s\n" % package_version())
        self.assertUnreachable(r, path, "No such file or directory")
        r = ctl("--socket", path, "--json", "version")
        self.assertEqual(r.returncode, UNREACHABLE)
        self.assertEqual(json.loads(r.stdout),
                         {"gslbctl": package_version(), "overwatch": None})


class ConfigCheck(unittest.TestCase):
    """`config check` runs the daemon's loader: no daemon needed, and the
    same errors as gslb-overwatchd --check-config."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gslb-it-ctl-")

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.dir, name)
        gslbtest.write_private(path, text, mode)
        return path

    def good_config(self):
        return string_substitute(config(api=True))

    def test_valid(self):
        path = self.write("overwatch.yaml", self.good_config())
        r = ctl("config", "check", path)
        n = len(static_backends())
        self.assertEqual((r.returncode, r.stderr), (OK, ""), r)
        self.assertEqual(r.stdout, "%s: configuration OK\n"
                         "overwatch: 2 zones, %d domains, 2 regions, "
                         "%d servers\n" % (path, len(default_domains()), n))
        r = ctl("config", "check", path, "--json")
        self.assertEqual(r.returncode, OK)
        self.assertEqual(json.loads(r.stdout), {"valid": True, "errors": []})

    def test_invalid(self):
        text = self.good_config()
        text = text.replace("default_ttl: %d" % gslbtest.DEFAULT_TTL,
                            "default_ttl: -5")
        text = text.replace("routing_algorithm: weighted",
                            "routing_algorithm: fastest")
        path = self.write("bad.yaml", text)
        r = ctl("config", "check", path)
        self.assertEqual(r.returncode, REFUSED, r)
        self.assertEqual(r.stdout, "")
        errors = r.stderr.splitlines()
        self.assertEqual(len(errors), 3, r.stderr)
        self.assertRegex(errors[0], r"^%s:%d:\d+: dns\.default_ttl: "
                         % (re.escape(path),
                            gslbtest.line_of(text, "default_ttl")))
        self.assertRegex(errors[1], r"^%s:%d:\d+: domains\[1\]\."
                         r"routing_algorithm: .*fastest"
                         % (re.escape(path),
                            gslbtest.line_of(text, "fastest")))
        self.assertEqual(errors[2], "%s: configuration has 2 errors" % path)
        # Exactly what the daemon's own check prints.
        daemon = subprocess.run(
            [gslbtest.overwatchd_path(), "--check-config", "-c", path],
            capture_output=True, text=True)
        self.assertEqual(daemon.returncode, gslbtest.EX_CONFIG)
        self.assertEqual(daemon.stderr, r.stderr)

        r = ctl("--json", "config", "check", path)
        self.assertEqual(r.returncode, REFUSED)
        self.assertEqual(r.stderr, "")
        self.assertEqual(json.loads(r.stdout),
                         {"valid": False, "errors": errors[:2]})

    def test_missing_and_insecure(self):
        missing = os.path.join(self.dir, "missing.yaml")
        r = ctl("config", "check", missing)
        self.assertEqual(r.returncode, REFUSED)
        self.assertIn("%s: cannot open: No such file or directory\n"
                      % missing, r.stderr)
        path = self.write("open.yaml", self.good_config(), 0o666)
        r = ctl("config", "check", path)
        self.assertEqual(r.returncode, REFUSED)
        self.assertIn("%s: insecure permissions" % path, r.stderr)

    def test_agent(self):
        path = self.write("agent.yaml", "\n".join([
            "mode: agent",
            "agent:",
            "  identity:",
            '    service_token: "0123456789abcdef0123"',
            "    region: us-east",
            "  backends:",
            "    - { service: app.gslb.test, address: 127.0.0.1, "
            "port: 8080 }",
            "    - { service: app.gslb.test, address: 127.0.0.2, "
            "port: 8080 }",
            "  gossip:",
            '    encryption_key: '
            '"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="',
            '    overwatch_nodes: ["127.0.0.1:7946"]',
        ]) + "\n")
        r = ctl("config", "check", "--agent", path)
        self.assertEqual((r.returncode, r.stderr), (OK, ""), r)
        self.assertEqual(r.stdout, "%s: configuration OK\n"
                         "agent: 2 backends\n" % path)
        # An overwatch file is not an agent's, and the other way round.
        r = ctl("config", "check", path)
        self.assertEqual(r.returncode, REFUSED)
        self.assertRegex(r.stderr, r"^%s:1:\d+: mode: " % re.escape(path))
        ow = self.write("overwatch.yaml", self.good_config())
        self.assertEqual(ctl("config", "check", "--agent", ow).returncode,
                         REFUSED)


def string_substitute(template):
    """A template rendered with ports nobody uses (for checks only)."""
    return string.Template(template).substitute(
        port=5353, api_port=8080, metrics_port=9090, gossip_port=7946,
        state_dir="/nonexistent/state", socket="/nonexistent/api.sock")


# ---------------------------------------------------------------------------
# Against a daemon.

class CtlCase(DaemonTestCase):
    """A daemon with the API on TCP and on its UNIX socket. Subclasses
    give make_template() and extra api: keys in api_lines()."""

    socket_path = None

    @classmethod
    def make_template(cls):
        return config(api=True)

    @classmethod
    def api_lines(cls):
        return []

    @classmethod
    def make_config(cls):
        return add_api_keys(cls.make_template(), cls.api_lines())

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.socket_path = cls.daemon.socket
            cls.wait_api()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def wait_api(cls):
        """The API (TCP and socket) may be up just after the DNS
        listeners' log line."""
        deadline = time.monotonic() + gslbtest.timeout_s()
        while True:
            try:
                status, _, _ = cls.daemon.http("/api/v1/live")
                if status == 200 and (cls.socket_path is None or
                                      os.path.exists(cls.socket_path)):
                    return
            except OSError:
                pass
            if not cls.daemon.running() or time.monotonic() > deadline:
                raise AssertionError("API not answering\n%s"
                                     % cls.daemon.describe())
            time.sleep(0.02)

    def url(self):
        return "http://127.0.0.1:%d" % self.daemon.api_port

    def ctl(self, *args, tcp=False, expect=OK, env=None):
        """gslbctl over the socket (or TCP); asserts the exit status."""
        where = ("--api", self.url()) if tcp else \
            ("--socket", self.socket_path)
        r = ctl(*(where + args), env=env)
        self.assertEqual(r.returncode, expect,
                         "gslbctl %s: %r" % (" ".join(args), r))
        if expect == OK:
            self.assertEqual(r.stderr, "", args)
        return r

    def table(self, *args, **kw):
        return parse_table(self.ctl(*args, **kw).stdout)

    def json(self, *args, **kw):
        return json.loads(self.ctl("--json", *args, **kw).stdout)


class SocketCommands(CtlCase):
    """Every command over the UNIX socket; validation off, so every
    static server is healthy by default."""

    def tearDown(self):
        # No test leaves an override or an added server behind.
        for o in self.daemon.api_json("/api/v1/overrides")["overrides"]:
            self.ctl("override", "clear", o["service"], o["address"])
        for s in self.daemon.api_json("/api/v1/servers")["servers"]:
            if s["source"] == "api":
                self.ctl("servers", "remove", s["id"])

    def backend_rows(self, *args):
        return sorted((r["SERVICE"], r["ADDRESS"], r["REGION"], r["STATUS"],
                       r["AUTHORITY"])
                      for r in self.table("backends", *args))

    def test_status(self):
        r = self.ctl("status")
        kv = kv_lines(r.stdout)
        self.assertEqual(list(kv), ["Status", "Version", "Uptime",
                                    "Backends", "Overrides", "Services",
                                    "Agents", "Validation", "State store"])
        self.assertEqual(kv["Status"], "Healthy")
        self.assertRegex(kv["Version"],
                         r"^gslb-overwatchd %s \(libknot 3\.\d+\.\d+\), "
                         r"node %s$" % (re.escape(package_version()), NODE))
        self.assertRegex(kv["Uptime"],
                         r"^(\d+m )?\d+s \(since %s\)$" % RFC3339_SHORT)
        n = len(static_backends())
        self.assertEqual(kv["Backends"], "%d total, %d healthy, 0 unhealthy, "
                         "0 stale, 0 draining" % (n, n))
        self.assertEqual(kv["Overrides"], "0 active")
        self.assertEqual(kv["Services"], str(len(default_domains())))
        self.assertEqual(kv["Validation"], "off")
        self.assertEqual(kv["State store"], "ok (%s)" % os.path.join(
            self.daemon.state_dir, "overwatch.db"))

        # An override shows in the counts.
        self.ctl("override", "set", "rr.gslb.test", "192.0.2.11:80",
                 "--unhealthy", "--reason", "counted")
        kv = kv_lines(self.ctl("status").stdout)
        self.assertEqual(kv["Backends"], "%d total, %d healthy, 1 unhealthy, "
                         "0 stale, 0 draining" % (n, n - 1))
        self.assertEqual(kv["Overrides"], "1 active")

    def test_status_json(self):
        doc = self.json("status")
        self.assertEqual(set(doc), {"ready", "version", "stats"})
        self.assertEqual(doc["ready"], {"ready": True, "dns_ready": True,
                                        "health_ready": True})
        self.assertEqual(doc["version"]["node_id"], NODE)
        self.assertEqual(doc["version"]["version"], package_version())
        self.assertEqual(doc["stats"]["total_backends"],
                         len(static_backends()))
        self.assertTrue(doc["stats"]["store"]["ok"])

    def test_backends(self):
        self.assertEqual(self.backend_rows(), [
            (svc, addr, region, "healthy", "default")
            for svc, addr, region in static_backends()])
        # IPv6 in brackets.
        self.assertIn(("v6only.gslb.test", "[2001:db8::61]:80", "eu-west",
                       "healthy", "default"), self.backend_rows())

    def test_backends_filters(self):
        self.assertEqual(
            self.backend_rows("--service", "rr.gslb.test"),
            [("rr.gslb.test", "%s:80" % a, "eu-west", "healthy", "default")
             for a in gslbtest.RR_SERVERS])
        self.assertEqual(
            [r[:3] for r in self.backend_rows("--region", "us-east")],
            [b for b in static_backends() if b[2] == "us-east"])
        self.assertEqual(
            [r[:2] for r in self.backend_rows("--region", "us-east",
                                              "--service",
                                              "failover.gslb.test")],
            [("failover.gslb.test",
              "%s:80" % gslbtest.FAILOVER_SECONDARY)])
        r = self.ctl("backends", "--status", "unhealthy")
        self.assertEqual(r.stdout, "No backends.\n")
        self.ctl("override", "set", "rr.gslb.test", "192.0.2.12:80",
                 "--unhealthy", "--reason", "filter")
        self.assertEqual(self.backend_rows("--status", "unhealthy"),
                         [("rr.gslb.test", "192.0.2.12:80", "eu-west",
                           "unhealthy", "override")])

    def test_backends_json(self):
        doc = self.json("backends", "--service", "rr.gslb.test")
        api = self.daemon.api_json(
            "/api/v1/overwatch/backends?service=rr.gslb.test")
        del doc["generated_at"], api["generated_at"]
        self.assertEqual(doc, api)

    def answered(self, name, n=9):
        """Addresses in n answers for name."""
        seen = set()
        for _ in range(n):
            msg = self.daemon.query(name, "A")
            seen.update(gslbtest.addresses(msg, "A"))
        return seen

    def test_override_set_list_clear(self):
        r = self.ctl("override", "set", "rr.gslb.test", "192.0.2.11:80",
                     "--unhealthy", "--reason", "maintenance")
        self.assertEqual(r.stdout, "Override set: rr.gslb.test "
                         "192.0.2.11:80 is unhealthy (reason: maintenance)\n")
        self.assertEqual(self.table("override", "list"), [{
            "SERVICE": "rr.gslb.test", "ADDRESS": "192.0.2.11:80",
            "HEALTHY": "no", "REASON": "maintenance",
            "SET-BY": "local (gslbctl)", "EXPIRES": "never"}])
        self.assertIn(("rr.gslb.test", "192.0.2.11:80", "eu-west",
                       "unhealthy", "override"),
                      self.backend_rows("--service", "rr.gslb.test"))
        # Out of the DNS answers.
        self.assertEqual(self.answered("rr.gslb.test"),
                         {"192.0.2.12", "192.0.2.13"})

        r = self.ctl("override", "clear", "rr.gslb.test", "192.0.2.11:80")
        self.assertEqual(r.stdout, "Override cleared: rr.gslb.test "
                         "192.0.2.11:80\n")
        self.assertEqual(self.ctl("override", "list").stdout,
                         "No overrides.\n")
        self.assertIn(("rr.gslb.test", "192.0.2.11:80", "eu-west",
                       "healthy", "default"),
                      self.backend_rows("--service", "rr.gslb.test"))
        self.assertEqual(self.answered("rr.gslb.test"),
                         set(gslbtest.RR_SERVERS))

        r = self.ctl("override", "clear", "rr.gslb.test", "192.0.2.11:80",
                     expect=REFUSED)
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, r"^gslbctl: no override for rr\.gslb\.test"
                         r" 192\.0\.2\.11:80 \(the overwatch says: .+\)\n$")

    def test_override_healthy_source_and_other_addresses(self):
        self.ctl("override", "set", "rr.gslb.test", "192.0.2.13",
                 "--healthy", "--reason", "every port", "--source", "pager")
        self.ctl("override", "set", "mixed.gslb.test", "[2001:db8::71]:80",
                 "--unhealthy", "--reason", "v6")
        rows = self.table("override", "list")
        self.assertEqual(
            sorted((r["SERVICE"], r["ADDRESS"], r["HEALTHY"], r["SET-BY"])
                   for r in rows),
            [("mixed.gslb.test", "[2001:db8::71]:80", "no",
              "local (gslbctl)"),
             ("rr.gslb.test", "192.0.2.13", "yes", "local (pager)")])
        self.assertIn(("mixed.gslb.test", "[2001:db8::71]:80", "eu-west",
                       "unhealthy", "override"),
                      self.backend_rows("--service", "mixed.gslb.test"))
        self.assertIn(("rr.gslb.test", "192.0.2.13:80", "eu-west",
                       "healthy", "override"),
                      self.backend_rows("--service", "rr.gslb.test"))
        self.ctl("override", "clear", "mixed.gslb.test",
                 "[2001:db8::71]:80")

    def test_override_expires(self):
        before = time.time()
        r = self.ctl("override", "set", "rr.gslb.test", "192.0.2.12:80",
                     "--unhealthy", "--reason", "deploy", "--expires", "30m")
        m = re.fullmatch(r"Override set: rr\.gslb\.test 192\.0\.2\.12:80 is "
                         r"unhealthy \(reason: deploy, expires (%s)\)\n"
                         % RFC3339_SHORT, r.stdout)
        self.assertIsNotNone(m, r.stdout)
        expires = calendar.timegm(time.strptime(m.group(1),
                                                "%Y-%m-%dT%H:%M:%SZ"))
        self.assertGreaterEqual(expires, int(before) + 1800 - 1)
        self.assertLessEqual(expires, time.time() + 1800 + SLACK)
        rows = self.table("override", "list")
        self.assertEqual([r["EXPIRES"] for r in rows], [m.group(1)])
        doc = self.json("override", "list")
        self.assertTrue(doc["overrides"][0]["expires_at"].startswith(
            m.group(1)[:-1]))
        # Seconds work too.
        r = self.ctl("override", "set", "rr.gslb.test", "192.0.2.12:80",
                     "--unhealthy", "--reason", "deploy", "--expires",
                     "120")
        self.assertRegex(r.stdout, r"expires %s\)\n$" % RFC3339_SHORT)

    def test_override_json(self):
        doc = self.json("override", "set", "rr.gslb.test", "192.0.2.11:80",
                        "--unhealthy", "--reason", "json")
        self.assertEqual((doc["service"], doc["address"], doc["healthy"],
                          doc["reason"], doc["source"]),
                         ("rr.gslb.test", "192.0.2.11:80", False, "json",
                          "gslbctl"))
        doc = self.json("override", "clear", "rr.gslb.test",
                        "192.0.2.11:80")
        self.assertEqual(doc, {"status": "cleared",
                               "service": "rr.gslb.test",
                               "address": "192.0.2.11:80"})

    def test_override_refused(self):
        r = self.ctl("override", "set", "nope.example", "192.0.2.11:80",
                     "--unhealthy", "--reason", "x", expect=REFUSED)
        self.assertRegex(r.stderr, r'^gslbctl: the overwatch refused: .*'
                         r'"nope\.example".* \(404\)\n$')
        r = self.ctl("override", "set", "rr.gslb.test", "192.0.2.99:80",
                     "--unhealthy", "--reason", "x", expect=REFUSED)
        self.assertRegex(r.stderr, r"^gslbctl: the overwatch refused: "
                         r".*192\.0\.2\.99.* \(404\)\n$")
        # Path segments are escaped: a "/" stays in the service name.
        r = self.ctl("override", "set", "rr.gslb.test/x", "192.0.2.11:80",
                     "--unhealthy", "--reason", "x", expect=REFUSED)
        self.assertRegex(r.stderr, r'refused: .*"rr\.gslb\.test/x".* '
                         r'\(404\)\n$')

    def test_audit(self):
        self.ctl("override", "set", "weighted.gslb.test", "192.0.2.22:80",
                 "--unhealthy", "--reason", "audited")
        self.ctl("override", "clear", "weighted.gslb.test", "192.0.2.22:80")
        rows = self.table("audit", "--limit", "2")
        self.assertEqual([r["ACTION"] for r in rows],
                         ["override.clear", "override.set"])
        for r in rows:
            self.assertIn("weighted.gslb.test", r["RESOURCE"])
            self.assertIn("192.0.2.22:80", r["RESOURCE"])
            self.assertRegex(r["TIME"], "^%s$" % RFC3339_SHORT)
            self.assertTrue(r["CLIENT"].startswith("unix"), r)
            self.assertEqual(r["ACTOR"], "-")  # the socket needs no token
        self.assertGreaterEqual(rows[0]["TIME"], rows[1]["TIME"])
        for r in self.table("audit", "--action", "override.set"):
            self.assertEqual(r["ACTION"], "override.set")
        doc = self.json("audit", "--limit", "1")
        self.assertEqual(len(doc["entries"]), 1)
        self.assertEqual(doc["entries"][0]["action"], "override.clear")

    def test_servers(self):
        r = self.ctl("servers", "add", "--service", "rr.gslb.test",
                     "--address", "192.0.2.14", "--port", "8080",
                     "--region", "eu-west")
        self.assertEqual(r.stdout, "Server added: rr.gslb.test:192.0.2.14:"
                         "8080 (region eu-west, weight 100)\n")
        r = self.ctl("servers", "add", "--service", "v6only.gslb.test",
                     "--address", "2001:DB8::63", "--port", "80",
                     "--weight", "50", "--region", "eu-west")
        self.assertEqual(r.stdout, "Server added: v6only.gslb.test:"
                         "[2001:db8::63]:80 (region eu-west, weight 50)\n")
        rows = {r["ID"]: r for r in self.table("servers", "list")}
        self.assertEqual(rows["rr.gslb.test:192.0.2.14:8080"], {
            "ID": "rr.gslb.test:192.0.2.14:8080", "REGION": "eu-west",
            "WEIGHT": "100", "SOURCE": "api", "STATUS": "healthy"})
        self.assertEqual(rows["v6only.gslb.test:[2001:db8::63]:80"]["WEIGHT"],
                         "50")
        self.assertEqual(rows["rr.gslb.test:192.0.2.11:80"]["SOURCE"],
                         "static")
        self.assertIn(("rr.gslb.test", "192.0.2.14:8080", "eu-west",
                       "healthy", "default"),
                      self.backend_rows("--service", "rr.gslb.test"))

        # Refusals: twice, unknown, from the configuration file.
        r = self.ctl("servers", "add", "--service", "rr.gslb.test",
                     "--address", "192.0.2.14", "--port", "8080",
                     expect=REFUSED)
        self.assertRegex(r.stderr, r"\(409\)\n$")
        r = self.ctl("servers", "remove", "rr.gslb.test:192.0.2.11:80",
                     expect=REFUSED)
        self.assertRegex(r.stderr, r"^gslbctl: the overwatch refused: .* "
                         r"\(409\)\n$")
        r = self.ctl("servers", "remove", "rr.gslb.test", "192.0.2.99", "80",
                     expect=REFUSED)
        self.assertRegex(r.stderr, r"\(404\)\n$")

        # By SERVICE ADDRESS PORT (IPv6 unbracketed, any case) and by ID.
        r = self.ctl("servers", "remove", "v6only.gslb.test",
                     "2001:DB8::63", "80")
        self.assertEqual(r.stdout, "Server removed: v6only.gslb.test:"
                         "[2001:db8::63]:80\n")
        doc = self.json("servers", "remove", "rr.gslb.test:192.0.2.14:8080")
        self.assertEqual(doc, {"status": "removed",
                               "id": "rr.gslb.test:192.0.2.14:8080"})
        self.assertEqual([r["SOURCE"] for r in self.table("servers", "list")
                          if r["SOURCE"] != "static"], [])
        actions = [r["ACTION"] for r in self.table("audit", "--limit", "4")]
        self.assertEqual(actions, ["server.remove", "server.remove",
                                   "server.add", "server.add"])

    def test_version(self):
        r = self.ctl("version")
        self.assertRegex(r.stdout, r"^gslbctl %s\ngslb-overwatchd %s "
                         r"\(libknot 3\.\d+\.\d+\), node %s\n$"
                         % ((re.escape(package_version()),) * 2 + (NODE,)))

    def test_json_parses(self):
        for args in (("status",), ("backends",), ("override", "list"),
                     ("audit",), ("servers", "list"), ("version",)):
            with self.subTest(args=args):
                self.assertIsInstance(self.json(*args), dict)

    def test_global_options_anywhere(self):
        r = ctl("backends", "--service", "rr.gslb.test", "--json",
                "--socket", self.socket_path)
        self.assertEqual(r.returncode, OK, r)
        self.assertEqual(len(json.loads(r.stdout)["backends"]), 3)
        r = ctl("backends", env={"OPENGSLB_SOCKET": self.socket_path})
        self.assertEqual(r.returncode, OK, r)

    def test_tcp_without_tokens(self):
        # No api.tokens: writes over TCP (from loopback) need none.
        self.ctl("override", "set", "rr.gslb.test", "192.0.2.13:80",
                 "--unhealthy", "--reason", "tcp", tcp=True)
        rows = self.table("audit", "--limit", "1", tcp=True)
        self.assertEqual((rows[0]["ACTION"], rows[0]["CLIENT"]),
                         ("override.set", "127.0.0.1"))


class Tokens(CtlCase):
    """api.tokens: writes over TCP need a token; reads and the socket
    do not."""

    @classmethod
    def api_lines(cls):
        return ["tokens: { ops: %s, other: %s }" % (TOKEN, TOKEN[::-1])]

    SET = ("override", "set", "rr.gslb.test", "192.0.2.11:80",
           "--unhealthy", "--reason", "token test")
    CLEAR = ("override", "clear", "rr.gslb.test", "192.0.2.11:80")

    def tearDown(self):
        for o in self.daemon.api_json("/api/v1/overrides")["overrides"]:
            self.ctl("override", "clear", o["service"], o["address"])

    def test_read_needs_no_token(self):
        self.assertEqual(self.ctl("override", "list", tcp=True).stdout,
                         "No overrides.\n")
        self.assertEqual(self.ctl("status", tcp=True).stdout.split("\n")[0],
                         "Status:      Healthy")

    def test_write_without_token(self):
        r = self.ctl(*self.SET, tcp=True, expect=REFUSED)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertRegex(lines[0], r"^gslbctl: the overwatch refused: .* "
                         r"\(401\)$")
        self.assertIn("--token TOKEN", lines[1])
        self.assertIn("--socket", lines[1])
        r = self.ctl("servers", "add", "--service", "rr.gslb.test",
                     "--address", "192.0.2.14", "--port", "80", tcp=True,
                     expect=REFUSED)
        self.assertIn("(401)", r.stderr)
        self.assertEqual(self.daemon.api_json("/api/v1/overrides")
                         ["overrides"], [])

    def test_wrong_token(self):
        r = self.ctl("--token", "not-the-token-0123456789", *self.SET,
                     tcp=True, expect=REFUSED)
        self.assertIn("(401)", r.stderr)
        self.assertIn("token", r.stderr.splitlines()[1])

    def test_write_with_token(self):
        self.ctl("--token", TOKEN, *self.SET, tcp=True)
        self.ctl(*self.CLEAR, tcp=True, env={"OPENGSLB_TOKEN": TOKEN[::-1]})
        rows = self.table("audit", "--limit", "2", tcp=True)
        self.assertEqual([(r["ACTION"], r["ACTOR"], r["CLIENT"])
                          for r in rows],
                         [("override.clear", "other", "127.0.0.1"),
                          ("override.set", "ops", "127.0.0.1")])
        # The override names who set it.
        self.ctl("--token", TOKEN, *self.SET, tcp=True)
        self.assertEqual([r["SET-BY"] for r in
                          self.table("override", "list", tcp=True)],
                         ["ops (gslbctl)"])

    def test_socket_needs_no_token(self):
        self.ctl(*self.SET)
        self.ctl(*self.CLEAR)


class Forbidden(CtlCase):
    """A TCP client outside api.allowed_networks; the socket is not
    subject to it."""

    @classmethod
    def api_lines(cls):
        return ["allowed_networks: [10.0.0.0/8]"]

    def test_tcp_refused(self):
        for args in (("backends",), ("status",), ("override", "list")):
            with self.subTest(args=args):
                r = self.ctl(*args, tcp=True, expect=REFUSED)
                self.assertEqual(r.stdout, "")
                lines = r.stderr.splitlines()
                self.assertRegex(lines[0], r"^gslbctl: the overwatch "
                                 r"refused: forbidden \(403\)$")
                self.assertIn("api.allowed_networks", lines[1])

    def test_socket_allowed(self):
        self.assertEqual(len(self.table("backends")),
                         len(static_backends()))


class Validated(CtlCase):
    """Validation on: a backend that answers, one whose checks hang until
    their time-out. `status` says "Not ready" until the first round is
    done; AUTHORITY shows the overwatch's verdicts."""

    hole = up = None
    first_status = None
    CHECK = ("{ type: tcp, interval: 60s, timeout: 4s, "
             "failure_threshold: 1, success_threshold: 1 }")

    @classmethod
    def make_template(cls):
        cls.up = TCPBackend("127.0.0.1")
        cls.hole = TCPBackend("127.0.0.1", blackhole=True)
        return gslbtest.checked_config(
            [("us-east", "up.gslb.test", cls.CHECK,
              [("127.0.0.1", cls.up.port)]),
             ("eu-west", "hole.gslb.test", cls.CHECK,
              [("127.0.0.1", cls.hole.port)])], api=True)

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
            # Asked at once: the hanging check cannot have finished.
            cls.first_status = ctl("--socket", cls.socket_path, "status")
            cls.first_json = ctl("--socket", cls.socket_path, "--json",
                                 "status")
        except BaseException:
            for b in (cls.up, cls.hole):
                if b is not None:
                    b.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.up.close()
            cls.hole.close()

    def wait_ready(self):
        deadline = time.monotonic() + 4 + 2 + SLACK
        while time.monotonic() < deadline:
            if self.json("status")["ready"]["ready"]:
                return
            time.sleep(0.1)
        self.fail("never ready")

    def test_not_ready_then_ready(self):
        r = self.first_status
        self.assertEqual((r.returncode, r.stderr), (OK, ""), r)
        self.assertEqual(kv_lines(r.stdout)["Status"],
                         "Not ready (health checks not ready)")
        doc = json.loads(self.first_json.stdout)
        self.assertEqual(doc["ready"]["ready"], False)
        self.wait_ready()
        kv = kv_lines(self.ctl("status").stdout)
        self.assertEqual(kv["Status"], "Healthy")
        self.assertEqual(kv["Backends"], "2 total, 1 healthy, 1 unhealthy, "
                         "0 stale, 0 draining")
        self.assertRegex(kv["Validation"], r"^on \(2 backends validated, ")

    def test_authority(self):
        self.wait_ready()
        rows = {r["SERVICE"]: r for r in self.table("backends")}
        self.assertEqual((rows["up.gslb.test"]["STATUS"],
                          rows["up.gslb.test"]["AUTHORITY"]),
                         ("healthy", "overwatch"))
        self.assertEqual((rows["hole.gslb.test"]["STATUS"],
                          rows["hole.gslb.test"]["AUTHORITY"]),
                         ("unhealthy", "overwatch (veto)"))
        # An override outranks the overwatch's verdict.
        self.ctl("override", "set", "hole.gslb.test",
                 "127.0.0.1:%d" % self.hole.port, "--healthy", "--reason",
                 "known false alarm")
        try:
            rows = {r["SERVICE"]: r for r in self.table("backends")}
            self.assertEqual((rows["hole.gslb.test"]["STATUS"],
                              rows["hole.gslb.test"]["AUTHORITY"]),
                             ("healthy", "override"))
        finally:
            self.ctl("override", "clear", "hole.gslb.test",
                     "127.0.0.1:%d" % self.hole.port)


if __name__ == "__main__":
    parse_args()
    unittest.main()
