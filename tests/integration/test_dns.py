#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a DNS client sees from gslb-overwatchd: answers, negative answers,
EDNS, ECS, truncation, TCP, and the survival of malformed input."""
import collections
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.opcode  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402

import gslbtest  # noqa: E402
from gslbtest import addresses  # noqa: E402

NEG_TTL = min(gslbtest.ZONE_TTL, gslbtest.SOA_MINIMUM)


class DnsTest(gslbtest.DaemonTestCase):
    """The standard test zone, over UDP and TCP on 127.0.0.1."""

    # -- load-balanced answers ---------------------------------------------

    def check_single_a(self, msg, name, allowed, ttl):
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertEqual(len(msg.answer), 1, str(msg))
        rrset = msg.answer[0]
        self.assertEqual(rrset.name, dns.name.from_text(name))
        self.assertEqual(rrset.rdtype, dns.rdatatype.A)
        self.assertEqual(rrset.ttl, ttl)
        self.assertEqual(len(rrset), 1, str(msg))
        address = rrset[0].address
        self.assertIn(address, allowed)
        return address

    def test_round_robin_single_answer(self):
        msg = self.daemon.query("rr.gslb.test", "A")
        self.check_single_a(msg, "rr.gslb.test", gslbtest.RR_SERVERS,
                            gslbtest.RR_TTL)

    def test_round_robin_rotates_exactly_udp(self):
        counts = collections.Counter()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(30):
                msg = self.daemon.query("rr.gslb.test", "A", sock=sock)
                counts[self.check_single_a(msg, "rr.gslb.test",
                                           gslbtest.RR_SERVERS,
                                           gslbtest.RR_TTL)] += 1
        self.assertEqual(counts, {a: 10 for a in gslbtest.RR_SERVERS})

    def test_round_robin_rotates_exactly_tcp(self):
        counts = collections.Counter()
        for _ in range(9):
            msg = self.daemon.query("rr.gslb.test", "A", tcp=True)
            counts[self.check_single_a(msg, "rr.gslb.test",
                                       gslbtest.RR_SERVERS,
                                       gslbtest.RR_TTL)] += 1
        self.assertEqual(counts, {a: 3 for a in gslbtest.RR_SERVERS})

    def test_weighted_proportions(self):
        n = 2000
        counts = collections.Counter()
        weights = dict(gslbtest.WEIGHTED_SERVERS)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(n):
                msg = self.daemon.query("weighted.gslb.test", "A", sock=sock)
                # No ttl in the domain: dns.default_ttl.
                counts[self.check_single_a(msg, "weighted.gslb.test",
                                           weights,
                                           gslbtest.DEFAULT_TTL)] += 1
        self.assertEqual(counts["192.0.2.24"], 0,
                         "weight-0 server answered: %s" % counts)
        share = {a: counts[a] / n for a in weights}
        # 300/100/100: 60 % / 20 % / 20 %; the bounds are many sigmas wide.
        self.assertTrue(0.48 <= share["192.0.2.21"] <= 0.72, share)
        self.assertTrue(0.12 <= share["192.0.2.22"] <= 0.28, share)
        self.assertTrue(0.12 <= share["192.0.2.23"] <= 0.28, share)

    def test_failover_answers_primary(self):
        for _ in range(20):
            msg = self.daemon.query("failover.gslb.test", "A")
            self.check_single_a(msg, "failover.gslb.test",
                                [gslbtest.FAILOVER_PRIMARY],
                                gslbtest.DEFAULT_TTL)

    def test_aaaa_of_ipv4_only_name_is_nodata(self):
        msg = self.daemon.query("rr.gslb.test", "AAAA")
        self.assertNegative(msg, "NOERROR", soa_ttl=NEG_TTL)

    def test_a_of_ipv6_only_name_is_nodata(self):
        msg = self.daemon.query("v6only.gslb.test", "A")
        self.assertNegative(msg, "NOERROR", soa_ttl=NEG_TTL)

    def test_aaaa_of_ipv6_only_name(self):
        seen = set()
        for _ in range(4):
            msg = self.daemon.query("v6only.gslb.test", "AAAA")
            self.assertRcode(msg, "NOERROR")
            self.assertAA(msg)
            self.assertEqual(len(msg.answer), 1, str(msg))
            self.assertEqual(msg.answer[0].rdtype, dns.rdatatype.AAAA)
            got = addresses(msg, "AAAA")
            self.assertEqual(len(got), 1, str(msg))
            seen.update(got)
        self.assertEqual(seen, set(gslbtest.V6ONLY_SERVERS))

    def test_mixed_families_are_separate(self):
        for rdtype, expected in (("A", gslbtest.MIXED_V4),
                                 ("AAAA", gslbtest.MIXED_V6)):
            seen = set()
            for _ in range(4):
                msg = self.daemon.query("mixed.gslb.test", rdtype)
                self.assertRcode(msg, "NOERROR")
                self.assertAA(msg)
                self.assertEqual([r.rdtype for r in msg.answer],
                                 [dns.rdatatype.from_text(rdtype)], str(msg))
                got = addresses(msg, rdtype)
                self.assertEqual(len(got), 1, str(msg))
                seen.update(got)
            self.assertEqual(seen, set(expected))

    def test_mixed_rotation_with_interleaved_families(self):
        # A dual-stack stub asks A and AAAA together: each family must
        # still rotate over its own servers.
        v4, v6 = collections.Counter(), collections.Counter()
        for _ in range(4):
            v4.update(addresses(self.daemon.query("mixed.gslb.test", "A"),
                                "A"))
            v6.update(addresses(self.daemon.query("mixed.gslb.test",
                                                  "AAAA"), "AAAA"))
        self.assertEqual(v4, {a: 2 for a in gslbtest.MIXED_V4})
        self.assertEqual(v6, {a: 2 for a in gslbtest.MIXED_V6})

    def test_max_records_rotating_windows(self):
        servers = gslbtest.MULTI_SERVERS
        n = len(servers)
        windows = []
        for _ in range(n):
            msg = self.daemon.query("multi.gslb.test", "A")
            self.assertRcode(msg, "NOERROR")
            self.assertAA(msg)
            self.assertEqual(len(msg.answer), 1, str(msg))
            got = addresses(msg, "A")
            self.assertEqual(len(got), 3, str(msg))
            self.assertEqual(len(set(got)), 3, "duplicates: %s" % got)
            windows.append(frozenset(got))
        # Round-robin with max_records 3: three consecutive servers (in
        # config order, wrapping), the start moving by one each query.
        expected = {frozenset(servers[(s + i) % n] for i in range(3))
                    for s in range(n)}
        self.assertEqual(set(windows), expected,
                         "answers were %s" % [sorted(w) for w in windows])

    def test_truncation_without_edns(self):
        q = dns.message.make_query("big.gslb.test", "AAAA")
        wire = self.daemon.udp_raw(q.to_wire())
        self.assertIsNotNone(wire, "no answer over UDP")
        self.assertLessEqual(len(wire), 512)
        msg = dns.message.from_wire(wire)
        self.assertTrue(msg.flags & dns.flags.TC, "TC not set:\n%s" % msg)
        self.assertRcode(msg, "NOERROR")
        self.assertEqual(msg.id, q.id)
        self.assertEqual(msg.edns, -1, "OPT in the answer to a query "
                         "without EDNS")

        msg = self.daemon.exchange(q, tcp=True)
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertFalse(msg.flags & dns.flags.TC)
        got = addresses(msg, "AAAA")
        self.assertEqual(sorted(got), sorted(gslbtest.BIG_SERVERS))

    def test_truncation_with_edns(self):
        q = dns.message.make_query("big.gslb.test", "AAAA", use_edns=0,
                                   payload=4096)
        wire = self.daemon.udp_raw(q.to_wire())
        self.assertIsNotNone(wire, "no answer over UDP")
        # We advertise (and so send at most) dns.max_udp_payload, 1232.
        self.assertLessEqual(len(wire), 1232)
        msg = dns.message.from_wire(wire)
        self.assertRcode(msg, "NOERROR")
        self.assertGreaterEqual(msg.edns, 0, "no OPT in the answer")
        if not msg.flags & dns.flags.TC:
            self.assertEqual(sorted(addresses(msg, "AAAA")),
                             sorted(gslbtest.BIG_SERVERS))

    @unittest.skipUnless(shutil.which("kdig"), "kdig not installed")
    def test_kdig_retries_truncated_answer_over_tcp(self):
        out = subprocess.run(
            ["kdig", "@127.0.0.1", "-p", str(self.daemon.port), "+noedns",
             "+retry=0", "+time=3", "big.gslb.test", "AAAA"],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("status: NOERROR", out.stdout)
        lines = [ln for ln in out.stdout.splitlines()
                 if "\tAAAA\t" in ln and not ln.startswith(";")]
        self.assertEqual(len(lines), 60, out.stdout)

    # -- zone data ----------------------------------------------------------

    def test_soa_at_apex(self):
        msg = self.daemon.query("gslb.test", "SOA")
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertEqual(len(msg.answer), 1, str(msg))
        rrset = msg.answer[0]
        self.assertEqual(rrset.rdtype, dns.rdatatype.SOA)
        self.assertEqual(rrset.ttl, gslbtest.ZONE_TTL)
        self.assertEqual(len(rrset), 1)
        soa = rrset[0]
        self.assertEqual(soa.mname, dns.name.from_text("ns1.gslb.test"))
        self.assertEqual(soa.rname,
                         dns.name.from_text("hostmaster.gslb.test"))
        self.assertEqual(soa.serial, gslbtest.SOA_SERIAL)
        self.assertEqual(soa.refresh, gslbtest.SOA_REFRESH)
        self.assertEqual(soa.retry, gslbtest.SOA_RETRY)
        self.assertEqual(soa.expire, gslbtest.SOA_EXPIRE)
        self.assertEqual(soa.minimum, gslbtest.SOA_MINIMUM)

    def test_ns_at_apex_with_glue(self):
        msg = self.daemon.query("gslb.test", "NS")
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertEqual(len(msg.answer), 1, str(msg))
        rrset = msg.answer[0]
        self.assertEqual(rrset.rdtype, dns.rdatatype.NS)
        self.assertEqual(rrset.ttl, gslbtest.ZONE_TTL)
        self.assertEqual([rd.target for rd in rrset],
                         [dns.name.from_text("ns1.gslb.test")])
        glue = msg.find_rrset(msg.additional,
                              dns.name.from_text("ns1.gslb.test"),
                              dns.rdataclass.IN, dns.rdatatype.A)
        self.assertEqual([rd.address for rd in glue], ["127.0.0.1"])

    def test_nameserver_host_address(self):
        msg = self.daemon.query("ns1.gslb.test", "A")
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertEqual(addresses(msg, "A"), ["127.0.0.1"])
        msg = self.daemon.query("ns1.gslb.test", "AAAA")
        self.assertNegative(msg, "NOERROR", soa_ttl=NEG_TTL)

    def test_second_zone(self):
        msg = self.daemon.query("app.low.test", "A")
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertEqual(addresses(msg, "A"), [gslbtest.LOW_SERVER])
        msg = self.daemon.query("low.test", "SOA")
        self.assertRcode(msg, "NOERROR")
        self.assertEqual(msg.answer[0].name, dns.name.from_text("low.test"))
        # Its zone TTL (30) is below its SOA minimum (300): the negative
        # answer's SOA lives 30 s.
        msg = self.daemon.query("nothing.low.test", "A")
        self.assertNegative(msg, "NXDOMAIN", zone="low.test",
                            soa_ttl=min(gslbtest.LOW_ZONE_TTL,
                                        gslbtest.LOW_SOA_MINIMUM))

    def test_other_types_are_nodata(self):
        for name in ("rr.gslb.test", "gslb.test", "v6only.gslb.test"):
            for rdtype in ("MX", "TXT", "CNAME", "SRV", "CAA", "HINFO"):
                with self.subTest(name=name, rdtype=rdtype):
                    msg = self.daemon.query(name, rdtype)
                    self.assertNegative(msg, "NOERROR", soa_ttl=NEG_TTL)

    def test_nxdomain(self):
        for name in ("nonexistent.gslb.test", "x.rr.gslb.test",
                     "a.b.c.gslb.test", "x.a.b.deep.gslb.test"):
            for rdtype in ("A", "AAAA", "TXT"):
                with self.subTest(name=name, rdtype=rdtype):
                    msg = self.daemon.query(name, rdtype)
                    self.assertNegative(msg, "NXDOMAIN", soa_ttl=NEG_TTL)

    def test_empty_non_terminals_are_nodata(self):
        msg = self.daemon.query("a.b.deep.gslb.test", "A")
        self.assertEqual(addresses(msg, "A"), [gslbtest.DEEP_SERVER])
        for name in ("b.deep.gslb.test", "deep.gslb.test"):
            for rdtype in ("A", "AAAA", "TXT"):
                with self.subTest(name=name, rdtype=rdtype):
                    msg = self.daemon.query(name, rdtype)
                    self.assertNegative(msg, "NOERROR", soa_ttl=NEG_TTL)

    def test_refused_outside_zones(self):
        for name in ("example.com", "test", "gslb.test.example.com",
                     "xgslb.test", "."):
            with self.subTest(name=name):
                msg = self.daemon.query(name, "A")
                self.assertRcode(msg, "REFUSED")
                self.assertAA(msg, False)
                self.assertEqual(msg.answer, [])
                self.assertEqual(msg.authority, [])

    def test_case_insensitive_and_case_preserved(self):
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                msg = self.daemon.query("Rr.GsLb.TeSt", "A", tcp=tcp)
                self.assertRcode(msg, "NOERROR")
                self.assertAA(msg)
                self.assertEqual(str(msg.question[0].name), "Rr.GsLb.TeSt.")
                self.assertEqual(len(msg.answer), 1, str(msg))
                self.assertEqual(msg.answer[0].name.to_text(),
                                 "Rr.GsLb.TeSt.")
                self.assertIn(msg.answer[0][0].address, gslbtest.RR_SERVERS)
        msg = self.daemon.query("NoSuch.GSLB.test", "A")
        self.assertNegative(msg, "NXDOMAIN", soa_ttl=NEG_TTL)
        self.assertEqual(str(msg.question[0].name), "NoSuch.GSLB.test.")
        msg = self.daemon.query("GSLB.TEST", "SOA")
        self.assertRcode(msg, "NOERROR")
        self.assertEqual(msg.answer[0].name.to_text(), "GSLB.TEST.")

    def test_chaos_class_refused(self):
        for name in ("version.bind", "rr.gslb.test"):
            with self.subTest(name=name):
                msg = self.daemon.query(name, "TXT", rdclass="CH")
                self.assertIn(gslbtest.rcode_text(msg),
                              ("REFUSED", "NOTIMP"), str(msg))
                self.assertEqual(msg.answer, [])

    def test_chaos_identity(self):
        # Which overwatch answered: the node_id, as Knot and BIND do.
        for name in ("id.server", "HOSTNAME.bind"):
            for tcp in (False, True):
                with self.subTest(name=name, tcp=tcp):
                    msg = self.daemon.query(name, "TXT", rdclass="CH",
                                            tcp=tcp)
                    self.assertRcode(msg, "NOERROR")
                    self.assertEqual(len(msg.answer), 1, str(msg))
                    rrset = msg.answer[0]
                    self.assertEqual(rrset.rdclass, dns.rdataclass.CH)
                    self.assertEqual(str(rrset.name), name + ".")
                    self.assertEqual(rrset[0].strings,
                                     (b"integration-test",))
        # Not with IN data, and not for other types.
        msg = self.daemon.query("id.server", "A", rdclass="CH")
        self.assertRcode(msg, "REFUSED")

    def test_nsid_off_by_default(self):
        msg = self.daemon.query("rr.gslb.test", "A", use_edns=0,
                                options=[dns.edns.GenericOption(3, b"")])
        self.assertRcode(msg, "NOERROR")
        self.assertEqual([o for o in msg.options if o.otype == 3], [])

    def test_any_gives_one_rrset(self):
        msg = self.daemon.query("rr.gslb.test", "ANY")
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertEqual(len(msg.answer), 1, str(msg))
        self.assertEqual(msg.answer[0].name,
                         dns.name.from_text("rr.gslb.test"))

    def test_zone_transfer_refused(self):
        msg = self.daemon.query("gslb.test", "AXFR", tcp=True)
        self.assertIn(gslbtest.rcode_text(msg), ("REFUSED", "NOTIMP"))
        self.assertEqual(msg.answer, [])

    # -- EDNS ---------------------------------------------------------------

    def test_edns_echoed_with_our_payload(self):
        msg = self.daemon.query("rr.gslb.test", "A", use_edns=0,
                                payload=4096)
        self.assertRcode(msg, "NOERROR")
        self.assertEqual(msg.edns, 0, "no OPT (version 0) in the answer")
        self.assertEqual(msg.payload, 1232)
        self.assertFalse(msg.ednsflags & dns.flags.DO)
        self.assertEqual(len(addresses(msg, "A")), 1)

    def test_no_edns_no_opt(self):
        msg = self.daemon.query("rr.gslb.test", "A")
        self.assertEqual(msg.edns, -1)
        msg = self.daemon.query("nonexistent.gslb.test", "A")
        self.assertEqual(msg.edns, -1)

    def test_edns_version_1_is_badvers(self):
        q = dns.message.make_query("rr.gslb.test", "A")
        # Not make_query(use_edns=1): dnspython 2.3 clears the version
        # when it clears the DO bit.
        q.use_edns(1)
        self.assertEqual(q.edns, 1)
        msg = self.daemon.exchange(q)
        self.assertEqual(msg.rcode(), dns.rcode.BADVERS, str(msg))
        self.assertEqual(msg.edns, 0, "OPT missing or not version 0")
        self.assertEqual(msg.answer, [])

    def test_do_bit_echoed(self):
        msg = self.daemon.query("rr.gslb.test", "A", use_edns=0,
                                want_dnssec=True)
        self.assertRcode(msg, "NOERROR")
        self.assertGreaterEqual(msg.edns, 0)
        self.assertTrue(msg.ednsflags & dns.flags.DO,
                        "DO not echoed:\n%s" % msg)
        msg = self.daemon.query("nonexistent.gslb.test", "A", use_edns=0,
                                want_dnssec=True)
        self.assertRcode(msg, "NXDOMAIN")
        self.assertTrue(msg.ednsflags & dns.flags.DO)

    def test_ecs_echoed_with_scope_zero(self):
        ecs = dns.edns.ECSOption("192.0.2.0", 24)
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                msg = self.daemon.query("rr.gslb.test", "A", tcp=tcp,
                                        use_edns=0, options=[ecs])
                self.assertRcode(msg, "NOERROR")
                self.assertEqual(len(addresses(msg, "A")), 1)
                got = [o for o in msg.options
                       if o.otype == dns.edns.OptionType.ECS]
                self.assertEqual(len(got), 1, "ECS not echoed:\n%s" % msg)
                self.assertEqual(got[0].family, 1)
                self.assertEqual(got[0].address, "192.0.2.0")
                self.assertEqual(got[0].srclen, 24)
                self.assertEqual(got[0].scopelen, 0)
        ecs6 = dns.edns.ECSOption("2001:db8:1234::", 48)
        msg = self.daemon.query("v6only.gslb.test", "AAAA", use_edns=0,
                                options=[ecs6])
        got = [o for o in msg.options if o.otype == dns.edns.OptionType.ECS]
        self.assertEqual(len(got), 1, str(msg))
        self.assertEqual((got[0].address, got[0].srclen, got[0].scopelen),
                         ("2001:db8:1234::", 48, 0))

    def test_invalid_ecs_is_formerr(self):
        bad = {
            "scope prefix set in a query": b"\x00\x01\x18\x18\xc0\x00\x02",
            "address longer than the prefix needs":
                b"\x00\x01\x18\x00\xc0\x00\x02\x00",
            "address shorter than the prefix needs":
                b"\x00\x01\x18\x00\xc0\x00",
            "IPv4 source prefix 33": b"\x00\x01\x21\x00\xc0\x00\x02\x00\x00",
            "IPv6 source prefix 129":
                b"\x00\x02\x81\x00" + b"\x20\x01" + b"\x00" * 15,
            "bits set beyond the source prefix":
                b"\x00\x01\x17\x00\xc0\x00\x03",
            "unknown family": b"\x00\x03\x08\x00\xc0",
            "too short": b"\x00\x01\x18",
        }
        for why, data in bad.items():
            with self.subTest(why):
                opt = dns.edns.GenericOption(8, data)
                q = dns.message.make_query("rr.gslb.test", "A", use_edns=0,
                                           options=[opt])
                wire = self.daemon.udp_raw(q.to_wire())
                self.assertIsNotNone(wire, "no answer")
                msg = dns.message.from_wire(wire)
                self.assertEqual(msg.id, q.id)
                self.assertRcode(msg, "FORMERR")
                self.assertEqual(msg.answer, [])

    # -- malformed input ----------------------------------------------------

    def assertStillAnswers(self):
        self.assertTrue(self.daemon.running(), "the daemon has exited")
        msg = self.daemon.query("rr.gslb.test", "A")
        self.assertRcode(msg, "NOERROR")
        self.assertEqual(len(addresses(msg, "A")), 1)

    def test_garbage_datagram(self):
        # Too short for a header, empty, and a header whose question name
        # runs past 255 octets and whose counts cannot be met.
        long_name = b"\xab\xcd\x01\x00\x00\x01\xff\xff\x00\x00\x00\x00" + \
            b"\x07garbage" * 40
        for junk in (b"\x12\x34\x00\x00\x01", b"", b"\xff" * 11,
                     long_name):
            with self.subTest(junk=junk[:16]):
                wire = self.daemon.udp_raw(junk, timeout=0.5)
                if wire is not None:
                    self.assertGreaterEqual(len(wire), 12)
                    msg = dns.message.from_wire(wire, question_only=True)
                    self.assertEqual(msg.rcode(), dns.rcode.FORMERR)
                self.assertStillAnswers()

    def test_header_with_two_questions_and_garbage(self):
        junk = struct.pack("!HHHHHH", 0x4242, 0x0100, 2, 0, 0, 0) + \
            b"\x03abc\xc0\xff\x00\x01"
        wire = self.daemon.udp_raw(junk, timeout=0.5)
        if wire is not None:
            self.assertEqual(wire[:2], b"\x42\x42")
            self.assertTrue(wire[2] & 0x80, "QR not set")
            self.assertEqual(wire[3] & 0x0f, dns.rcode.FORMERR)
        self.assertStillAnswers()

    def test_two_valid_questions_is_formerr(self):
        q = dns.message.make_query("rr.gslb.test", "A")
        wire = bytearray(q.to_wire())
        question = bytes(wire[12:])
        wire[4:6] = struct.pack("!H", 2)
        wire += question
        reply = self.daemon.udp_raw(bytes(wire))
        self.assertIsNotNone(reply, "no answer")
        self.assertEqual(reply[3] & 0x0f, dns.rcode.FORMERR)
        self.assertStillAnswers()

    def test_no_question_is_formerr(self):
        wire = struct.pack("!HHHHHH", 0x5151, 0x0100, 0, 0, 0, 0)
        reply = self.daemon.udp_raw(wire)
        self.assertIsNotNone(reply, "no answer")
        self.assertEqual(reply[:2], b"\x51\x51")
        self.assertEqual(reply[3] & 0x0f, dns.rcode.FORMERR)
        self.assertStillAnswers()

    def test_response_gets_no_answer(self):
        q = dns.message.make_query("rr.gslb.test", "A")
        q.flags |= dns.flags.QR
        self.assertIsNone(self.daemon.udp_raw(q.to_wire(), timeout=1.0),
                          "answered a message with QR=1")
        self.assertStillAnswers()

    def test_other_opcodes_notimp(self):
        for opcode in (dns.opcode.NOTIFY, dns.opcode.UPDATE,
                       dns.opcode.STATUS, dns.opcode.IQUERY):
            with self.subTest(opcode=dns.opcode.to_text(opcode)):
                q = dns.message.make_query("gslb.test", "SOA")
                q.set_opcode(opcode)
                wire = self.daemon.udp_raw(q.to_wire())
                self.assertIsNotNone(wire, "no answer")
                msg = dns.message.from_wire(wire)
                self.assertEqual(msg.id, q.id)
                self.assertEqual(msg.opcode(), opcode)
                self.assertRcode(msg, "NOTIMP")
                self.assertEqual(msg.answer, [])
        self.assertStillAnswers()

    def test_qtype_opt_is_formerr(self):
        msg = self.daemon.query("rr.gslb.test", "OPT")
        self.assertRcode(msg, "FORMERR")
        self.assertStillAnswers()

    def test_malformed_over_tcp(self):
        sock = self.daemon.tcp_connect()
        with sock:
            gslbtest.tcp_send(sock, b"\x12\x34\x00")
            q = dns.message.make_query("rr.gslb.test", "A")
            gslbtest.tcp_send(sock, q.to_wire())
            # The short message may get nothing, FORMERR, or end the
            # connection; it must not get an answer for someone else.
            while True:
                try:
                    wire = gslbtest.tcp_recv(sock)
                except (ConnectionResetError, socket.timeout):
                    wire = None
                if wire is None:
                    break
                msg = dns.message.from_wire(wire, question_only=True)
                if msg.id == q.id:
                    self.assertEqual(msg.rcode(), dns.rcode.NOERROR)
                    break
                self.assertEqual(msg.rcode(), dns.rcode.FORMERR)
        self.assertStillAnswers()

    # -- TCP ----------------------------------------------------------------

    def test_tcp_pipelining(self):
        q1 = dns.message.make_query("rr.gslb.test", "A")
        q2 = dns.message.make_query("v6only.gslb.test", "AAAA")
        q3 = dns.message.make_query("nonexistent.gslb.test", "A")
        with self.daemon.tcp_connect() as sock:
            sock.sendall(b"".join(struct.pack("!H", len(w)) + w for w in
                                  (q1.to_wire(), q2.to_wire(),
                                   q3.to_wire())))
            answers = {}
            for _ in range(3):
                wire = gslbtest.tcp_recv(sock)
                self.assertIsNotNone(wire, "connection closed early")
                msg = dns.message.from_wire(wire)
                answers[msg.id] = msg
        self.assertEqual(set(answers), {q1.id, q2.id, q3.id})
        self.assertTrue(q1.is_response(answers[q1.id]))
        self.assertIn(addresses(answers[q1.id], "A")[0],
                      gslbtest.RR_SERVERS)
        self.assertIn(addresses(answers[q2.id], "AAAA")[0],
                      gslbtest.V6ONLY_SERVERS)
        self.assertRcode(answers[q3.id], "NXDOMAIN")

    def test_tcp_query_split_across_segments(self):
        q = dns.message.make_query("rr.gslb.test", "A")
        data = struct.pack("!H", len(q.to_wire())) + q.to_wire()
        with self.daemon.tcp_connect() as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(0, len(data), 5):
                sock.sendall(data[i:i + 5])
                time.sleep(0.02)
            wire = gslbtest.tcp_recv(sock)
        self.assertIsNotNone(wire)
        msg = dns.message.from_wire(wire)
        self.assertEqual(msg.id, q.id)
        self.assertIn(addresses(msg, "A")[0], gslbtest.RR_SERVERS)


@unittest.skipUnless(gslbtest.ipv6_available(), "no ::1 on this host")
class Ipv6TransportTest(gslbtest.DaemonTestCase):
    """Listening on both 127.0.0.1 and ::1 from a listen_address list."""

    hosts = ("127.0.0.1", "::1")

    @classmethod
    def make_config(cls):
        return gslbtest.config(listen='["127.0.0.1:$port", "[::1]:$port"]')

    def test_both_addresses_udp_and_tcp(self):
        for host in self.hosts:
            for tcp in (False, True):
                with self.subTest(host=host, tcp=tcp):
                    msg = self.daemon.query("rr.gslb.test", "A", tcp=tcp,
                                            host=host)
                    self.assertRcode(msg, "NOERROR")
                    self.assertAA(msg)
                    self.assertIn(addresses(msg, "A")[0],
                                  gslbtest.RR_SERVERS)
                    msg = self.daemon.query("mixed.gslb.test", "AAAA",
                                            tcp=tcp, host=host)
                    self.assertIn(addresses(msg, "AAAA")[0],
                                  gslbtest.MIXED_V6)

    def test_truncation_over_ipv6(self):
        q = dns.message.make_query("big.gslb.test", "AAAA")
        msg = self.daemon.exchange(q, host="::1")
        self.assertTrue(msg.flags & dns.flags.TC)
        msg = self.daemon.exchange(q, host="::1", tcp=True)
        self.assertEqual(len(addresses(msg, "AAAA")), 60)


@unittest.skipUnless(gslbtest.ipv6_available(), "no ::1 on this host")
class WildcardListenTest(gslbtest.DaemonTestCase):
    """listen_address ":PORT" binds 0.0.0.0 and ::; every answer must leave
    from the address the query was sent to, or clients drop it."""

    hosts = ("0.0.0.0", "::")

    @classmethod
    def make_config(cls):
        return gslbtest.config(listen='":$port"')

    def test_answers_from_the_address_asked(self):
        # dnspython ignores a reply from another source address, so a
        # reply sent from the wrong one times out here.
        for host in ("127.0.0.1", "127.0.0.2", "::1"):
            for tcp in (False, True):
                with self.subTest(host=host, tcp=tcp):
                    msg = self.daemon.query("rr.gslb.test", "A", tcp=tcp,
                                            host=host)
                    self.assertRcode(msg, "NOERROR")
                    self.assertIn(addresses(msg, "A")[0],
                                  gslbtest.RR_SERVERS)


class LimitsTest(gslbtest.DaemonTestCase):
    """dns.max_udp_payload, dns.tcp_idle_timeout, dns.tcp_max_connections
    set in the config."""

    @classmethod
    def make_config(cls):
        return gslbtest.config(dns_extra=("max_udp_payload: 4096",
                                          "nsid: true",
                                          "tcp_idle_timeout: 1s",
                                          "tcp_max_connections: 2"))

    def test_nsid_when_enabled(self):
        msg = self.daemon.query("rr.gslb.test", "A", use_edns=0,
                                options=[dns.edns.GenericOption(3, b"")])
        nsid = [o for o in msg.options if o.otype == 3]
        self.assertEqual(len(nsid), 1, str(msg))
        self.assertEqual(nsid[0].to_wire(), b"integration-test")
        # Only when asked for.
        msg = self.daemon.query("rr.gslb.test", "A", use_edns=0)
        self.assertEqual([o for o in msg.options if o.otype == 3], [])

    def test_larger_udp_payload(self):
        # 60 AAAA records (about 1.7 kB) fit in 4096 but not in 1232.
        q = dns.message.make_query("big.gslb.test", "AAAA", use_edns=0,
                                   payload=4096)
        wire = self.daemon.udp_raw(q.to_wire())
        self.assertIsNotNone(wire, "no answer")
        msg = dns.message.from_wire(wire)
        self.assertEqual(msg.payload, 4096)
        self.assertFalse(msg.flags & dns.flags.TC, str(msg))
        self.assertEqual(sorted(addresses(msg, "AAAA")),
                         sorted(gslbtest.BIG_SERVERS))
        # The client's smaller size wins over ours.
        q = dns.message.make_query("big.gslb.test", "AAAA", use_edns=0,
                                   payload=1232)
        wire = self.daemon.udp_raw(q.to_wire())
        self.assertIsNotNone(wire, "no answer")
        self.assertLessEqual(len(wire), 1232)
        msg = dns.message.from_wire(wire)
        self.assertTrue(msg.flags & dns.flags.TC, str(msg))

    def ask(self, sock, name="rr.gslb.test"):
        q = dns.message.make_query(name, "A")
        gslbtest.tcp_send(sock, q.to_wire())
        wire = gslbtest.tcp_recv(sock)
        self.assertIsNotNone(wire, "connection closed instead of answering")
        msg = dns.message.from_wire(wire)
        self.assertEqual(msg.id, q.id)
        self.assertRcode(msg, "NOERROR")
        return msg

    def wait_for_idle_connections_to_go(self):
        # Connections of earlier tests end after the 1 s idle timeout.
        time.sleep(1.5)

    def test_idle_connection_closed(self):
        self.wait_for_idle_connections_to_go()
        with self.daemon.tcp_connect(timeout=8) as sock:
            self.ask(sock)  # open, and answering
            t0 = time.monotonic()
            try:
                data = sock.recv(1)
            except ConnectionResetError:
                data = b""
            except socket.timeout:
                self.fail("idle connection still open after 8 s")
            waited = time.monotonic() - t0
        self.assertEqual(data, b"")
        self.assertGreater(waited, 0.5, "closed long before the timeout")
        self.assertLess(waited, 5.0)

    def test_connection_limit(self):
        self.wait_for_idle_connections_to_go()
        first = self.daemon.tcp_connect()
        second = self.daemon.tcp_connect()
        with first, second:
            self.ask(first)
            self.ask(second)
            third = self.daemon.tcp_connect()
            with third:
                third.settimeout(2)
                q = dns.message.make_query("rr.gslb.test", "A")
                try:
                    gslbtest.tcp_send(third, q.to_wire())
                    wire = gslbtest.tcp_recv(third)
                except (ConnectionResetError, BrokenPipeError,
                        socket.timeout):
                    wire = None
                self.assertIsNone(wire, "a 3rd connection was answered "
                                  "with tcp_max_connections: 2")
            # The first two still work.
            self.ask(first)
            self.ask(second)
        # Once they are closed, a new connection is served.
        time.sleep(0.3)
        with self.daemon.tcp_connect() as fourth:
            self.ask(fourth)


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main(verbosity=2)
