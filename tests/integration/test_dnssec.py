#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""DNSSEC as resolvers see it: every RRset gslb-overwatchd serves with DO=1
validates (dnspython) with the DNSKEY it serves, which matches the DS the
API hands out; negative answers carry correct NSEC or NSEC3 proofs; DO=0
answers carry nothing of it; signed answers that do not fit a datagram are
truncated and complete over TCP. Then a real validating resolver, unbound,
with our DS as its only trust anchor: answers come back authenticated (AD)
for both denial modes and after a backend fails, and a wrong trust anchor
gives SERVFAIL. Last, two overwatches sharing one key through key sync
behind one resolver."""

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.dnssec  # noqa: E402
import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rdata  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402

import gslbtest  # noqa: E402
from backends import TCPBackend  # noqa: E402
from gslbtest import Domain, addresses  # noqa: E402

IN = dns.rdataclass.IN
T = dns.rdatatype
ZONE = dns.name.from_text(gslbtest.ZONE)
LOW = dns.name.from_text(gslbtest.LOW_ZONE)  # the second zone
ECDSAP256SHA256 = 13
NSEC3_SHA1 = 1
# A resolver's clock may run this far behind ours: signatures must already
# be valid for it.
CLOCK_SKEW = 300
# Resolvers cache signed data up to the signature's expiry: it must be
# days away, not hours.
MIN_LIFETIME = 3 * 86400
NEG_TTL = min(gslbtest.ZONE_TTL, gslbtest.SOA_MINIMUM)
# The TTL of the SOA and the NSEC/NSEC3 records in negative answers.
NEG_TTLS = {ZONE: NEG_TTL,
            LOW: min(gslbtest.LOW_ZONE_TTL, gslbtest.LOW_SOA_MINIMUM)}

# Names beyond the standard test zone (gslbtest.default_domains()).
WMULTI = (("198.51.100.31", 100), ("198.51.100.32", 200),
          ("198.51.100.33", 300), ("198.51.100.34", 400))
# 16 weighted servers, 5 per answer: C(16, 5) = 4368 possible sets.
WBIG = tuple(("198.51.100.%d" % (101 + i), 10 * (i + 1)) for i in range(16))
# 26 A records fit a 512-octet datagram; with their RRSIG they do not.
MANY = tuple("203.0.113.%d" % i for i in range(1, 27))
FO1 = ("192.0.2.201", "192.0.2.202")  # primary (eu-west), secondary

# Queried below; every one must be NXDOMAIN in the test zone.
NXDOMAINS = ("nonexistent.gslb.test", "x.rr.gslb.test", "a.b.c.gslb.test",
             "x.a.b.deep.gslb.test", "x.deep.gslb.test", "0.gslb.test",
             "zzzz.gslb.test", "~.gslb.test")
# (name, type) that exist as names without that type; the deep ones are
# empty non-terminals.
NODATAS = (("rr.gslb.test", "AAAA"), ("v6only.gslb.test", "A"),
           ("gslb.test", "TXT"), ("ns1.gslb.test", "AAAA"),
           ("rr.gslb.test", "MX"), ("deep.gslb.test", "A"),
           ("b.deep.gslb.test", "AAAA"))

SCALE = int(os.environ.get(
    "GSLB_TEST_SCALE", "4" if os.environ.get("GSLB_TEST_WRAPPER") else "1"))


def sbin_which(program):
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    return shutil.which(program, path=path)


UNBOUND = sbin_which("unbound")
UNBOUND_CHECKCONF = sbin_which("unbound-checkconf")


def signed_domains():
    out = gslbtest.default_domains()
    out += [
        Domain("wmulti.gslb.test", "weighted", ["eu-west"],
               [("eu-west", a, w) for a, w in WMULTI], max_records=2),
        Domain("wbig.gslb.test", "weighted", ["eu-west"],
               [("eu-west", a, w) for a, w in WBIG], max_records=5),
        Domain("many.gslb.test", "round-robin", ["eu-west"],
               [("eu-west", a, None) for a in MANY],
               max_records=len(MANY)),
        # TTL 1: a resolver's cache hides a change for one second only.
        Domain("fo1.gslb.test", "failover", ["eu-west", "us-east"],
               [("eu-west", FO1[0], None), ("us-east", FO1[1], None)],
               ttl=1),
    ]
    return out


DNSSEC_OFF = ("  dnssec:\n    enabled: false\n    security_acknowledgment: "
              '"%s"\n' % gslbtest.DNSSEC_ACK)


def dnssec_on(template, denial=None, extra=()):
    """The harness's config with DNSSEC switched on (and denial: nsec or
    nsec3 when given, and more dnssec: lines)."""
    assert DNSSEC_OFF in template, "the harness's dnssec block changed"
    lines = ["  dnssec:", "    enabled: true"]
    if denial is not None:
        lines.append("    denial: %s" % denial)
    lines += ["    " + x for x in extra]
    return template.replace(DNSSEC_OFF, "\n".join(lines) + "\n")


def dnssec_default(template):
    """The config without a dnssec section: DNSSEC is on by default."""
    assert DNSSEC_OFF in template, "the harness's dnssec block changed"
    return template.replace(DNSSEC_OFF, "")


def zone_of(name):
    return LOW if name.is_subdomain(LOW) else ZONE


def name_of(text):
    return text if isinstance(text, dns.name.Name) else \
        dns.name.from_text(text)


def rdtype_of(t):
    return dns.rdatatype.from_text(t) if isinstance(t, str) else t


def bitmap_types(rd):
    """The types in an NSEC or NSEC3 type bitmap."""
    types = set()
    for window, bitmap in rd.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    types.add(window * 256 + i * 8 + bit)
    return types


def type_names(types):
    return sorted(dns.rdatatype.to_text(t) for t in types)


def sections(msg):
    return (("answer", msg.answer), ("authority", msg.authority),
            ("additional", msg.additional))


def nsec3_hash(name):
    """The base32hex SHA-1 hash of name, no salt, no extra iterations."""
    return dns.dnssec.nsec3_hash(name, "", 0, NSEC3_SHA1).upper()


def parse_ds_line(line):
    """(owner, DS rdata) of "owner [ttl] [IN] DS tag alg type digest"."""
    tokens = line.split()
    i = [t.upper() for t in tokens].index("DS")
    return (dns.name.from_text(tokens[0]),
            dns.rdata.from_text(IN, T.DS, " ".join(tokens[i + 1:])))


def parse_dnskey_line(line):
    tokens = line.split()
    i = [t.upper() for t in tokens].index("DNSKEY")
    return (dns.name.from_text(tokens[0]),
            dns.rdata.from_text(IN, T.DNSKEY, " ".join(tokens[i + 1:])))


def api_ds_entry(daemon, zone=ZONE):
    """The zone's entry of GET /api/v1/dnssec/ds."""
    zone = zone.to_text(omit_final_dot=True)
    doc = daemon.api_json("/api/v1/dnssec/ds")
    if doc.get("enabled") is not True:
        raise AssertionError("DS API says DNSSEC is not enabled: %r" % doc)
    entries = [e for e in doc.get("ds_records", [])
               if e.get("zone", "").rstrip(".").lower() == zone]
    if len(entries) != 1:
        raise AssertionError("expected one DS entry for %s: %r"
                             % (zone, doc))
    return entries[0]


# ---------------------------------------------------------------------------

class SignedCase(gslbtest.DaemonTestCase):
    """A daemon with DNSSEC on, and assertions on what it signs. denial is
    "nsec" (the default, also when None) or "nsec3"."""

    denial = None
    _trusted = None  # zone: (keys for validate(), the DNSKEY, DS line)

    @classmethod
    def make_config(cls):
        return dnssec_on(gslbtest.config(domains=signed_domains(), api=True),
                         cls.denial)

    @classmethod
    def setUpClass(cls):
        cls._trusted = None
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        cls._trusted = None
        super().tearDownClass()

    @property
    def nsec3(self):
        return self.denial == "nsec3"

    # -- queries --------------------------------------------------------------

    def ask(self, name, rdtype="A", dnssec=True, daemon=None, **options):
        """A query with DO=1 (unless dnssec is False) over UDP and, when
        the answer comes back truncated, over TCP, as a resolver does."""
        d = daemon or self.daemon
        q = dns.message.make_query(name, rdtype, want_dnssec=dnssec,
                                   **options)
        msg = d.exchange(q)
        if msg.flags & dns.flags.TC:
            msg = d.exchange(q, tcp=True)
        self.assertEqual(msg.id, q.id)
        return msg

    # -- trust: DNSKEY, DS ----------------------------------------------------

    def trusted(self, daemon=None, zone=ZONE):
        """The zone's DNSKEY RRset, self-signed, checked against the DS
        the API hands out. Returns (keys, DNSKEY rdata, DS line); cached
        for the class's daemon, fetched anew from another."""
        cls = type(self)
        if cls._trusted is None:
            cls._trusted = {}
        if daemon is None and zone in cls._trusted:
            return cls._trusted[zone]
        d = daemon or self.daemon
        msg = self.ask(zone, "DNSKEY", daemon=d)
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        dnskeys = [r for r in msg.answer if r.rdtype == T.DNSKEY]
        self.assertEqual(len(dnskeys), 1, "no DNSKEY RRset:\n%s" % msg)
        dnskey = dnskeys[0]
        self.assertEqual(dnskey.name, zone)
        entry = api_ds_entry(d, zone)
        owner, ds = parse_ds_line(entry["ds_record"])
        self.assertEqual(owner, zone, entry)
        matching = [k for k in dnskey
                    if dns.dnssec.make_ds(zone, k, "SHA256") == ds]
        self.assertEqual(len(matching), 1,
                         "the DS from the API (%s) matches no DNSKEY "
                         "served:\n%s" % (entry["ds_record"], msg))
        key = matching[0]
        keys = {zone: dnskey}
        self.assertSignedRRset(msg, msg.answer, dnskey, keys, key)
        result = (keys, key, entry["ds_record"])
        if daemon is None:
            cls._trusted[zone] = result
        return result

    # -- signatures -----------------------------------------------------------

    def assertSignedRRset(self, msg, section, rrset, keys=None, key=None):
        """rrset has exactly one RRSIG next to it, by our key, that
        validates, with the RRset's TTL, valid from before now (minus
        clock skew) until days from now."""
        zone = zone_of(rrset.name)
        if keys is None:
            keys, key, _ = self.trusted(zone=zone)
        sigs = [r for r in section if r.rdtype == T.RRSIG and
                r.covers == rrset.rdtype and r.name == rrset.name]
        what = "%s %s" % (rrset.name, dns.rdatatype.to_text(rrset.rdtype))
        self.assertEqual(len(sigs), 1, "no RRSIG for %s next to it in\n%s"
                         % (what, msg))
        sigset = sigs[0]
        self.assertEqual(len(sigset), 1, "%s: %d RRSIGs, one key"
                         % (what, len(sigset)))
        sig = sigset[0]
        self.assertEqual(sigset.ttl, rrset.ttl,
                         "%s: RRSIG TTL %d, RRset TTL %d"
                         % (what, sigset.ttl, rrset.ttl))
        self.assertEqual(sig.signer, zone, what)
        self.assertEqual(sig.algorithm, key.algorithm, what)
        self.assertEqual(sig.key_tag, dns.dnssec.key_id(key), what)
        self.assertGreaterEqual(sig.original_ttl, rrset.ttl,
                                "%s: original TTL below the TTL" % what)
        now = time.time()
        self.assertLessEqual(sig.inception, now - CLOCK_SKEW,
                             "%s: inception %s is not in the past"
                             % (what, time.ctime(sig.inception)))
        self.assertGreaterEqual(sig.expiration, now + MIN_LIFETIME,
                                "%s: expires %s"
                                % (what, time.ctime(sig.expiration)))
        try:
            dns.dnssec.validate(rrset, sigset, keys)
        except dns.dnssec.ValidationFailure as e:
            self.fail("%s does not validate: %s\n%s" % (what, e, msg))

    def assertAllSigned(self, msg):
        """Every RRset of every section validates, and no RRSIG stands
        without the RRset it covers."""
        for where, section in sections(msg):
            for rrset in section:
                if rrset.rdtype == T.RRSIG:
                    covered = [r for r in section if r.name == rrset.name
                               and r.rdtype == rrset.covers]
                    self.assertEqual(len(covered), 1,
                                     "RRSIG without its RRset in %s:\n%s"
                                     % (where, msg))
                    continue
                self.assertSignedRRset(msg, section, rrset)

    def assertSignedAnswer(self, msg, name, rdtype, ttl=None):
        """A positive answer: NOERROR, AA, not AD, DO echoed, exactly one
        RRset of that type in the answer section, everything signed."""
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertFalse(msg.flags & dns.flags.AD,
                         "an authoritative answer with AD:\n%s" % msg)
        self.assertTrue(msg.ednsflags & dns.flags.DO,
                        "DO not echoed:\n%s" % msg)
        rrsets = [r for r in msg.answer if r.rdtype != T.RRSIG]
        self.assertEqual(len(rrsets), 1, str(msg))
        rrset = rrsets[0]
        self.assertEqual(rrset.name, name_of(name))
        self.assertEqual(rrset.rdtype, rdtype_of(rdtype))
        if ttl is not None:
            self.assertEqual(rrset.ttl, ttl)
        self.assertAllSigned(msg)
        return rrset

    # -- denial of existence --------------------------------------------------

    def denial_rrsets(self, msg, zone=ZONE):
        self.assertEqual(msg.answer, [], "answer in a negative answer:\n%s"
                         % msg)
        soa = [r for r in msg.authority if r.rdtype == T.SOA]
        self.assertEqual(len(soa), 1, "no SOA:\n%s" % msg)
        self.assertEqual(soa[0].name, zone)
        self.assertEqual(soa[0].ttl, NEG_TTLS[zone])
        nsec = [r for r in msg.authority if r.rdtype == T.NSEC]
        nsec3 = [r for r in msg.authority if r.rdtype == T.NSEC3]
        if self.nsec3:
            self.assertEqual(nsec, [], "NSEC in an NSEC3 zone:\n%s" % msg)
            self.assertTrue(nsec3, "no NSEC3 in\n%s" % msg)
            for rrset in nsec3:
                self.assertEqual(len(rrset), 1)
                rd = rrset[0]
                # RFC 9276: SHA-1, no opt-out, 0 extra iterations, no salt
                self.assertEqual((rd.algorithm, rd.flags, rd.iterations,
                                  rd.salt), (NSEC3_SHA1, 0, 0, b""),
                                 str(rrset))
                self.assertEqual(rrset.ttl, NEG_TTLS[zone], str(rrset))
                self.assertEqual(rrset.name.parent(), zone, str(rrset))
                self.assertEqual(len(rrset.name.labels[0]), 32)
            return nsec3
        self.assertEqual(nsec3, [], "NSEC3 in an NSEC zone:\n%s" % msg)
        self.assertTrue(nsec, "no NSEC in\n%s" % msg)
        for rrset in nsec:
            self.assertEqual(len(rrset), 1)
            self.assertEqual(rrset.ttl, NEG_TTLS[zone], str(rrset))
        return nsec

    @staticmethod
    def nsec_covers(rrset, name):
        owner, nxt = rrset.name, rrset[0].next
        if owner < nxt:
            return owner < name < nxt
        return name > owner or name < nxt  # the last one, back to the apex

    @staticmethod
    def nsec3_covers(rrset, name):
        h = nsec3_hash(name)
        owner = rrset.name.labels[0].decode().upper()
        nxt = base64.b32hexencode(rrset[0].next).decode().upper()
        if owner < nxt:
            return owner < h < nxt
        return h > owner or h < nxt

    @staticmethod
    def nsec3_matches(rrset, name):
        return rrset.name.labels[0].decode().upper() == nsec3_hash(name)

    def assertNxdomainProof(self, msg, qname):
        qname = name_of(qname)
        zone = zone_of(qname)
        self.assertRcode(msg, "NXDOMAIN")
        self.assertAA(msg)
        self.assertFalse(msg.flags & dns.flags.AD)
        proof = self.denial_rrsets(msg, zone)
        self.assertAllSigned(msg)
        if self.nsec3:
            # RFC 5155 §7.2.2: closest encloser matched, next closer name
            # and the wildcard at the closest encloser covered.
            self.assertFalse(any(self.nsec3_matches(r, qname)
                                 for r in proof), "%s matched:\n%s"
                             % (qname, msg))
            encloser, closer = None, qname
            for anc in (qname.split(n)[1] for n in
                        range(len(qname) - 1, len(zone) - 1, -1)):
                if any(self.nsec3_matches(r, anc) for r in proof):
                    encloser = anc
                    break
                closer = anc
            self.assertIsNotNone(encloser, "no closest encloser for %s:\n%s"
                                 % (qname, msg))
            self.assertTrue(any(self.nsec3_covers(r, closer) for r in proof),
                            "next closer %s not covered:\n%s"
                            % (closer, msg))
            wild = dns.name.from_text("*", encloser)
            self.assertTrue(any(self.nsec3_covers(r, wild) for r in proof),
                            "wildcard %s not covered:\n%s" % (wild, msg))
            self.assertLessEqual(len(proof), 3, str(msg))
            return
        # RFC 4035 §3.1.3.2: an NSEC covers the name, one covers the
        # wildcard at the closest encloser.
        self.assertFalse(any(r.name == qname for r in proof))
        covering = [r for r in proof if self.nsec_covers(r, qname)]
        self.assertTrue(covering, "no NSEC covers %s:\n%s" % (qname, msg))
        cover = covering[0]
        encloser = zone
        for anc in (qname.split(n)[1] for n in
                    range(len(qname) - 1, len(zone) - 1, -1)):
            if cover.name.is_subdomain(anc) or \
                    cover[0].next.is_subdomain(anc):
                encloser = anc
                break
        wild = dns.name.from_text("*", encloser)
        self.assertTrue(any(self.nsec_covers(r, wild) for r in proof),
                        "wildcard %s not covered:\n%s" % (wild, msg))
        self.assertLessEqual(len(proof), 2, str(msg))

    def assertNodataProof(self, msg, qname, qtype):
        qname, qtype = name_of(qname), rdtype_of(qtype)
        self.assertRcode(msg, "NOERROR")
        self.assertAA(msg)
        self.assertFalse(msg.flags & dns.flags.AD)
        proof = self.denial_rrsets(msg, zone_of(qname))
        self.assertAllSigned(msg)
        if self.nsec3:
            # RFC 5155 §7.2.3 (§7.2.4: an empty non-terminal has an
            # NSEC3 with an empty bitmap).
            match = [r for r in proof if self.nsec3_matches(r, qname)]
            self.assertEqual(len(match), 1, "no NSEC3 matches %s:\n%s"
                             % (qname, msg))
            types = bitmap_types(match[0][0])
        else:
            match = [r for r in proof if r.name == qname]
            if not match:
                # An empty non-terminal: the NSEC before it leads to a
                # name below it.
                ent = [r for r in proof if self.nsec_covers(r, qname) and
                       r[0].next.is_subdomain(qname)]
                self.assertEqual(len(ent), 1, "no NSEC proves %s NODATA:"
                                 "\n%s" % (qname, msg))
                return
            types = bitmap_types(match[0][0])
            self.assertIn(T.NSEC, types)
        self.assertNotIn(qtype, types, "%s listed at %s:\n%s"
                         % (dns.rdatatype.to_text(qtype), qname, msg))
        self.assertNotIn(T.CNAME, types)

    def assertNoDnssec(self, msg):
        """Nothing DNSSEC in an answer to DO=0 (but what was asked)."""
        asked = msg.question[0].rdtype
        for where, section in sections(msg):
            for rrset in section:
                if rrset.rdtype in (T.RRSIG, T.NSEC, T.NSEC3, T.DNSKEY,
                                    T.NSEC3PARAM) and \
                        not (where == "answer" and rrset.rdtype == asked):
                    self.fail("%s in the %s section of an answer to DO=0:"
                              "\n%s" % (dns.rdatatype.to_text(rrset.rdtype),
                                        where, msg))
        self.assertFalse(msg.ednsflags & dns.flags.DO, "DO set:\n%s" % msg)


# ---------------------------------------------------------------------------

class SignedAnswers(SignedCase):
    """NSEC, the default denial. Each answer is validated with dnspython."""

    def test_dnskey_is_self_signed_and_matches_the_api_ds(self):
        # What an operator hands to the parent zone is what validates.
        status, _, body = self.daemon.http("/api/v1/dnssec/ds?format=text")
        self.assertEqual(status, 200, body)
        text = dict(parse_ds_line(ln) for ln in body.decode().splitlines()
                    if ln.strip() and not ln.startswith(";"))
        self.assertEqual(sorted(text), sorted([ZONE, LOW]), body)
        for zone in (ZONE, LOW):
            with self.subTest(zone=str(zone)):
                keys, key, ds_line = self.trusted(zone=zone)
                self.assertEqual(key.flags, 257, "one CSK: flags 257 (SEP)")
                self.assertEqual(key.protocol, 3)
                self.assertEqual(key.algorithm, ECDSAP256SHA256)
                self.assertEqual(len(keys[zone]), 1, "one key per zone")
                entry = api_ds_entry(self.daemon, zone)
                _, ds = parse_ds_line(ds_line)
                self.assertEqual(
                    (entry["key_tag"], entry["algorithm"],
                     entry["digest_type"], entry["digest"].upper()),
                    (dns.dnssec.key_id(key), ECDSAP256SHA256, 2,
                     ds.digest.hex().upper()), entry)
                self.assertEqual(parse_dnskey_line(entry["dnskey_record"]),
                                 (zone, key))
                self.assertEqual(text[zone], ds)
        self.assertNotEqual(self.trusted(zone=ZONE)[1],
                            self.trusted(zone=LOW)[1], "one key per zone")

    def test_second_zone_is_signed_with_its_own_key(self):
        msg = self.ask("app.low.test")
        self.assertSignedAnswer(msg, "app.low.test", "A")
        self.assertSignedAnswer(self.ask(LOW, "SOA"), LOW, "SOA",
                                gslbtest.LOW_ZONE_TTL)
        self.assertNxdomainProof(self.ask("nothing.low.test"),
                                 "nothing.low.test")
        self.assertNodataProof(self.ask("app.low.test", "AAAA"),
                               "app.low.test", "AAAA")

    def test_dnskey_answer_without_do(self):
        _, key, _ = self.trusted()
        for use_edns in (False, 0):
            with self.subTest(edns=use_edns):
                msg = self.ask(ZONE, "DNSKEY", dnssec=False,
                               use_edns=use_edns)
                self.assertRcode(msg, "NOERROR")
                self.assertEqual([list(r) for r in msg.answer], [[key]],
                                 str(msg))
                self.assertNoDnssec(msg)

    def test_round_robin_every_rotation_validates(self):
        seen = set()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(2 * len(gslbtest.RR_SERVERS)):
                q = dns.message.make_query("rr.gslb.test", "A",
                                           want_dnssec=True)
                msg = self.daemon.exchange(q, sock=sock)
                rrset = self.assertSignedAnswer(msg, "rr.gslb.test", "A",
                                                gslbtest.RR_TTL)
                self.assertEqual(len(rrset), 1)
                seen.add(rrset[0].address)
        self.assertEqual(seen, set(gslbtest.RR_SERVERS))

    def test_round_robin_windows_validate(self):
        windows = set()
        n = len(gslbtest.MULTI_SERVERS)
        for _ in range(2 * n):
            msg = self.ask("multi.gslb.test")
            rrset = self.assertSignedAnswer(msg, "multi.gslb.test", "A")
            self.assertEqual(len(rrset), 3)
            windows.add(frozenset(rd.address for rd in rrset))
        self.assertEqual(len(windows), n, windows)

    def test_weighted_single_answers_validate(self):
        seen = set()
        for _ in range(40):
            msg = self.ask("weighted.gslb.test")
            rrset = self.assertSignedAnswer(msg, "weighted.gslb.test", "A",
                                            gslbtest.DEFAULT_TTL)
            seen.update(rd.address for rd in rrset)
        self.assertNotIn("192.0.2.24", seen, "weight 0 answered")
        self.assertGreaterEqual(len(seen), 2, seen)

    def test_weighted_sets_validate(self):
        # max_records 2 of 4: each of the sets is a different RRset.
        sets = set()
        for _ in range(60):
            msg = self.ask("wmulti.gslb.test")
            rrset = self.assertSignedAnswer(msg, "wmulti.gslb.test", "A")
            self.assertEqual(len(rrset), 2)
            sets.add(frozenset(rd.address for rd in rrset))
        self.assertGreaterEqual(len(sets), 3, sets)

    def test_weighted_sets_beyond_the_precomputed_limit_validate(self):
        # 5 of 16 servers: more sets than are worth signing one by one.
        sets = set()
        weights = dict(WBIG)
        for _ in range(100):
            msg = self.ask("wbig.gslb.test")
            rrset = self.assertSignedAnswer(msg, "wbig.gslb.test", "A")
            got = [rd.address for rd in rrset]
            self.assertEqual(len(got), 5)
            self.assertTrue(set(got) <= set(weights), got)
            sets.add(frozenset(got))
        self.assertGreaterEqual(len(sets), 10, "%d distinct sets" % len(sets))

    def test_failover_validates(self):
        msg = self.ask("failover.gslb.test")
        rrset = self.assertSignedAnswer(msg, "failover.gslb.test", "A")
        self.assertEqual([rd.address for rd in rrset],
                         [gslbtest.FAILOVER_PRIMARY])

    def test_aaaa_validates(self):
        msg = self.ask("v6only.gslb.test", "AAAA")
        rrset = self.assertSignedAnswer(msg, "v6only.gslb.test", "AAAA")
        self.assertIn(rrset[0].address, gslbtest.V6ONLY_SERVERS)
        for rdtype, pool in (("A", gslbtest.MIXED_V4),
                             ("AAAA", gslbtest.MIXED_V6)):
            msg = self.ask("mixed.gslb.test", rdtype)
            rrset = self.assertSignedAnswer(msg, "mixed.gslb.test", rdtype)
            self.assertIn(rrset[0].address, pool)

    def test_sixty_aaaa_over_tcp_validate(self):
        q = dns.message.make_query("big.gslb.test", "AAAA", want_dnssec=True)
        msg = self.daemon.exchange(q)
        self.assertTrue(msg.flags & dns.flags.TC,
                        "60 AAAA and an RRSIG fit 1232 octets?\n%s" % msg)
        msg = self.daemon.exchange(q, tcp=True)
        rrset = self.assertSignedAnswer(msg, "big.gslb.test", "AAAA")
        self.assertEqual(sorted(rd.address for rd in rrset),
                         sorted(gslbtest.BIG_SERVERS))

    def test_soa_validates(self):
        rrset = self.assertSignedAnswer(self.ask(ZONE, "SOA"), ZONE, "SOA",
                                        gslbtest.ZONE_TTL)
        self.assertEqual(rrset[0].serial, gslbtest.SOA_SERIAL)

    def test_ns_and_its_in_zone_address_validate(self):
        msg = self.ask(ZONE, "NS")
        rrset = self.assertSignedAnswer(msg, ZONE, "NS", gslbtest.ZONE_TTL)
        self.assertEqual([rd.target for rd in rrset],
                         [dns.name.from_text("ns1.gslb.test")])
        glue = [r for r in msg.additional if r.rdtype == T.A]
        self.assertEqual([(r.name, [rd.address for rd in r]) for r in glue],
                         [(dns.name.from_text("ns1.gslb.test"),
                           ["127.0.0.1"])], str(msg))
        # assertSignedAnswer checked the additional section's RRSIG too.
        msg = self.ask("ns1.gslb.test", "A")
        self.assertSignedAnswer(msg, "ns1.gslb.test", "A")

    def test_any_validates(self):
        msg = self.ask("rr.gslb.test", "ANY")
        self.assertSignedAnswer(msg, "rr.gslb.test", "A")

    def test_question_case_kept_and_still_validates(self):
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                q = dns.message.make_query("Rr.GsLb.TeSt", "A",
                                           want_dnssec=True)
                msg = self.daemon.exchange(q, tcp=tcp)
                self.assertEqual(str(msg.question[0].name), "Rr.GsLb.TeSt.")
                self.assertSignedAnswer(msg, "rr.gslb.test", "A")
        msg = self.ask("NoSuch.GSLB.test")
        self.assertNxdomainProof(msg, "nosuch.gslb.test")

    def test_nxdomain_proofs(self):
        for name in NXDOMAINS:
            for rdtype in ("A", "AAAA"):
                with self.subTest(name=name, rdtype=rdtype):
                    self.assertNxdomainProof(self.ask(name, rdtype), name)

    def test_nodata_proofs(self):
        for name, rdtype in NODATAS:
            with self.subTest(name=name, rdtype=rdtype):
                self.assertNodataProof(self.ask(name, rdtype), name, rdtype)

    def test_denial_records_list_the_types_served(self):
        # A resolver that reuses NSEC records (RFC 8198) denies whatever
        # they leave out, so they must list what each name has.
        expect = {
            "gslb.test": {T.SOA, T.NS, T.DNSKEY},
            "rr.gslb.test": {T.A},
            "v6only.gslb.test": {T.AAAA},
            "mixed.gslb.test": {T.A, T.AAAA},
            "ns1.gslb.test": {T.A},
            "a.b.deep.gslb.test": {T.A},
        }
        for name, types in expect.items():
            with self.subTest(name=name):
                msg = self.ask(name, "TXT")
                self.assertNodataProof(msg, name, "TXT")
                proof = self.denial_rrsets(msg)
                if self.nsec3:
                    match = [r for r in proof if self.nsec3_matches(r, name)]
                    extra = {T.RRSIG, T.NSEC3PARAM} if name == "gslb.test" \
                        else {T.RRSIG}
                else:
                    match = [r for r in proof if r.name == name_of(name)]
                    extra = {T.RRSIG, T.NSEC}
                self.assertEqual(type_names(bitmap_types(match[0][0])),
                                 type_names(types | extra), str(msg))

    def test_no_dnssec_records_without_do(self):
        queries = [("rr.gslb.test", "A"), ("gslb.test", "SOA"),
                   ("gslb.test", "NS"), ("ns1.gslb.test", "A")]
        queries += [(n, "A") for n in NXDOMAINS[:3]]
        queries += list(NODATAS)
        for name, rdtype in queries:
            for use_edns in (False, 0):
                with self.subTest(name=name, rdtype=rdtype, edns=use_edns):
                    msg = self.ask(name, rdtype, dnssec=False,
                                   use_edns=use_edns)
                    self.assertIn(gslbtest.rcode_text(msg),
                                  ("NOERROR", "NXDOMAIN"))
                    self.assertNoDnssec(msg)

    def test_no_ad_from_the_authority(self):
        for name, rdtype in (("rr.gslb.test", "A"),
                             ("nonexistent.gslb.test", "A"),
                             ("rr.gslb.test", "TXT")):
            for ad in (False, True):
                with self.subTest(name=name, ad_in_query=ad):
                    q = dns.message.make_query(name, rdtype,
                                               want_dnssec=True)
                    if ad:
                        q.flags |= dns.flags.AD
                    msg = self.daemon.exchange(q)
                    self.assertFalse(msg.flags & dns.flags.AD, str(msg))

    def override(self, service, address, healthy):
        path = "/api/v1/overrides/%s/%s" % (service, address)
        if healthy is None:
            status, _, body = self.daemon.socket_http(path, "DELETE")
            self.assertEqual(status, 204, body)
            return
        status, _, body = self.daemon.socket_http(
            path, "PUT", {"healthy": healthy, "reason": "test",
                          "source": "test"})
        self.assertEqual(status, 200, body)

    def test_answers_after_a_health_change_validate(self):
        # A backend leaves: every window and every weighted set without
        # it is a new RRset, signed before the change was acknowledged.
        out_rr = gslbtest.MULTI_SERVERS[1]
        out_w = WMULTI[3][0]
        self.override("multi.gslb.test", out_rr, False)
        self.override("wmulti.gslb.test", out_w, False)
        try:
            windows = set()
            for _ in range(8):
                msg = self.ask("multi.gslb.test")
                rrset = self.assertSignedAnswer(msg, "multi.gslb.test", "A")
                windows.add(frozenset(rd.address for rd in rrset))
            self.assertEqual(len(windows), 4, windows)
            self.assertFalse(any(out_rr in w for w in windows), windows)
            sets = set()
            for _ in range(80):  # the rarest set comes 1 in 7
                msg = self.ask("wmulti.gslb.test")
                rrset = self.assertSignedAnswer(msg, "wmulti.gslb.test", "A")
                sets.add(frozenset(rd.address for rd in rrset))
            self.assertFalse(any(out_w in x for x in sets), sets)
            self.assertEqual(len(sets), 3, sets)
        finally:
            self.override("multi.gslb.test", out_rr, None)
            self.override("wmulti.gslb.test", out_w, None)
        # And back: the old signatures serve again.
        windows = set()
        for _ in range(10):
            rrset = self.assertSignedAnswer(self.ask("multi.gslb.test"),
                                            "multi.gslb.test", "A")
            windows.add(frozenset(rd.address for rd in rrset))
        self.assertEqual(len(windows), 5, windows)

    def test_truncated_when_signatures_do_not_fit(self):
        # 26 A records fit a 512-octet datagram; with their RRSIG they do
        # not, and a resolver must be told to come back over TCP rather
        # than get the records without their signature.
        for do in (False, True):
            with self.subTest(do=do):
                q = dns.message.make_query("many.gslb.test", "A",
                                           use_edns=0, payload=512,
                                           want_dnssec=do)
                wire = self.daemon.udp_raw(q.to_wire())
                self.assertIsNotNone(wire, "no answer over UDP")
                self.assertLessEqual(len(wire), 512)
                msg = dns.message.from_wire(wire)
                self.assertEqual(msg.id, q.id)
                self.assertRcode(msg, "NOERROR")
                if not do:
                    self.assertFalse(msg.flags & dns.flags.TC, str(msg))
                    self.assertEqual(sorted(addresses(msg, "A")),
                                     sorted(MANY))
                    continue
                self.assertTrue(msg.flags & dns.flags.TC,
                                "26 A records with their RRSIG in %d "
                                "octets?\n%s" % (len(wire), msg))
                msg = self.daemon.exchange(q, tcp=True)
                rrset = self.assertSignedAnswer(msg, "many.gslb.test", "A")
                self.assertEqual(sorted(rd.address for rd in rrset),
                                 sorted(MANY))
        # The usual 1232 octets hold it.
        q = dns.message.make_query("many.gslb.test", "A", want_dnssec=True)
        msg = self.daemon.exchange(q)
        self.assertFalse(msg.flags & dns.flags.TC, str(msg))
        self.assertSignedAnswer(msg, "many.gslb.test", "A")

    @unittest.skipUnless(shutil.which("kdig"), "kdig not installed")
    def test_kdig_gets_the_signed_answer(self):
        out = subprocess.run(
            ["kdig", "@127.0.0.1", "-p", str(self.daemon.port), "+dnssec",
             "+retry=0", "+time=3", "many.gslb.test", "A", "+bufsize=512"],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("status: NOERROR", out.stdout)
        records = [ln.split() for ln in out.stdout.splitlines()
                   if ln and not ln.startswith(";")]
        self.assertEqual(len([r for r in records if r[3] == "A"]),
                         len(MANY), out.stdout)
        self.assertEqual(len([r for r in records if r[3] == "RRSIG"]), 1,
                         out.stdout)


class SignedAnswersNsec3(SignedAnswers):
    """The same with overwatch.dnssec.denial: nsec3."""

    denial = "nsec3"

    def test_nsec3param_validates(self):
        msg = self.ask(ZONE, "NSEC3PARAM")
        rrset = self.assertSignedAnswer(msg, ZONE, "NSEC3PARAM")
        rd = rrset[0]
        self.assertEqual((rd.algorithm, rd.flags, rd.iterations, rd.salt),
                         (NSEC3_SHA1, 0, 0, b""))

    def test_nsec_query_is_nodata(self):
        self.assertNodataProof(self.ask("rr.gslb.test", "NSEC"),
                               "rr.gslb.test", "NSEC")


class SignedReload(SignedCase):
    """A reload that adds and removes names: the new name is signed, the
    removed one is proven gone, with the same key."""

    @classmethod
    def make_config(cls):
        return dnssec_on(gslbtest.config(api=True))

    def test_reload_adds_and_removes_signed_names(self):
        _, key, _ = self.trusted()
        self.assertSignedAnswer(self.ask("v6only.gslb.test", "AAAA"),
                                "v6only.gslb.test", "AAAA")
        domains = [d for d in gslbtest.default_domains()
                   if d.name != "v6only.gslb.test"]
        domains.append(Domain("added.gslb.test", "round-robin", ["eu-west"],
                              [("eu-west", "192.0.2.250", None)]))
        outcome, logged = self.daemon.reload(
            dnssec_on(gslbtest.config(domains=domains, api=True)))
        self.assertEqual(outcome, "reloaded", logged)
        msg = self.ask("added.gslb.test")
        rrset = self.assertSignedAnswer(msg, "added.gslb.test", "A")
        self.assertEqual([rd.address for rd in rrset], ["192.0.2.250"])
        for name in ("v6only.gslb.test", "x.added.gslb.test"):
            self.assertNxdomainProof(self.ask(name, "AAAA"), name)
        self.assertNodataProof(self.ask("added.gslb.test", "AAAA"),
                               "added.gslb.test", "AAAA")
        keys, key2, _ = self.trusted(daemon=self.daemon)
        self.assertEqual(key2, key, "a reload must not change the key")


class NsecRecordsAsked(SignedCase):
    """An NSEC record asked for by name, and NSEC3PARAM in an NSEC zone."""

    def test_nsec_query_answers_the_signed_record(self):
        msg = self.ask("rr.gslb.test", "NSEC")
        rrset = self.assertSignedAnswer(msg, "rr.gslb.test", "NSEC",
                                        NEG_TTL)
        self.assertIn(T.A, bitmap_types(rrset[0]))

    def test_no_nsec3param_in_an_nsec_zone(self):
        self.assertNodataProof(self.ask(ZONE, "NSEC3PARAM"), ZONE,
                               "NSEC3PARAM")


class DnssecByDefault(SignedCase):
    """No dnssec section at all: signed."""

    @classmethod
    def make_config(cls):
        return dnssec_default(gslbtest.config(api=True))

    def test_signed_without_asking(self):
        _, key, _ = self.trusted()
        self.assertEqual(key.algorithm, ECDSAP256SHA256)
        self.assertSignedAnswer(self.ask("rr.gslb.test"), "rr.gslb.test",
                                "A")
        self.assertNxdomainProof(self.ask("nonexistent.gslb.test"),
                                 "nonexistent.gslb.test")


class KeySurvivesRestart(SignedCase):
    """The key is generated once and kept: a restart keeps the DS that
    the parent zone holds, and answers still validate with it."""

    def test_same_key_after_restart(self):
        _, key, ds_line = self.trusted()
        self.daemon.stop()
        self.daemon.start()
        keys2, key2, ds_line2 = self.trusted(daemon=self.daemon)
        self.assertEqual(key2, key)
        self.assertEqual(parse_ds_line(ds_line2), parse_ds_line(ds_line))
        self.assertSignedAnswer(self.ask("rr.gslb.test"), "rr.gslb.test",
                                "A")


# ---------------------------------------------------------------------------
# unbound

class Unbound:
    """A validating unbound in the foreground on 127.0.0.1, its only
    trust anchors the DS lines given, each stub zone pointing at our
    servers ("127.0.0.1@PORT")."""

    def __init__(self, trust_anchors, stubs, name="unbound"):
        self.trust_anchors = list(trust_anchors)
        self.stubs = stubs  # [(zone, [addr@port])]
        self.dir = os.path.realpath(
            tempfile.mkdtemp(prefix="gslb-it-%s-" % name))
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.log_path = os.path.join(self.dir, "unbound.log")
        self.port = None
        self.proc = None

    def config(self):
        out = [
            "server:",
            '  directory: "%s"' % self.dir,
            '  username: ""',
            '  chroot: ""',
            '  pidfile: ""',
            "  do-daemonize: no",
            "  use-syslog: no",
            '  logfile: ""',
            "  verbosity: 1",
            "  val-log-level: 2",
            "  interface: 127.0.0.1",
            "  port: %d" % self.port,
            "  do-ip6: no",
            "  num-threads: 1",
            "  outgoing-range: 64",
            "  so-reuseport: no",
            "  do-not-query-localhost: no",
            '  module-config: "validator iterator"',
            "  harden-dnssec-stripped: yes",
            "  qname-minimisation: no",
            # 0x20: the signed answers must come back in the query's case.
            "  use-caps-for-id: yes",
            # Ask us every time, rather than deny from cached NSEC records.
            "  aggressive-nsec: no",
            "  prefetch: no",
            "  ede: yes",
            # unbound serves .test itself (RFC 6761) unless told not to.
            '  local-zone: "test." nodefault',
        ]
        out += ['  trust-anchor: "%s"' % ta for ta in self.trust_anchors]
        for zone, addrs in self.stubs:
            out += ["stub-zone:", '  name: "%s"' % zone]
            out += ["  stub-addr: %s" % a for a in addrs]
        out += ["remote-control:", "  control-enable: no"]
        return "\n".join(out) + "\n"

    def start(self):
        self.port = gslbtest.free_port()
        with open(self.conf, "w") as f:
            f.write(self.config())
        check = subprocess.run([UNBOUND_CHECKCONF, self.conf],
                               capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise AssertionError("unbound-checkconf rejects %s:\n%s%s\n%s"
                                 % (self.conf, check.stdout, check.stderr,
                                    self.config()))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [UNBOUND, "-d", "-c", self.conf], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + gslbtest.timeout_s()
        q = dns.message.make_query("localhost.", "A")
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited with %d\n%s"
                                     % (self.proc.returncode,
                                        self.describe()))
            try:
                dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.2)
                return
            except (dns.exception.Timeout, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("unbound does not answer\n%s"
                                     % self.describe())

    def query(self, name, rdtype="A", tcp=False):
        """Asks with DO=1; retries over TCP when truncated, and after a
        time-out, as a stub resolver does (unbound may first wait on a
        nameserver that has just gone, on a loaded machine for long)."""
        q = dns.message.make_query(name, rdtype, want_dnssec=True)
        for attempt in range(3):
            try:
                if not tcp:
                    msg = dns.query.udp(q, "127.0.0.1", port=self.port,
                                        timeout=10)
                    if not msg.flags & dns.flags.TC:
                        return msg
                return dns.query.tcp(q, "127.0.0.1", port=self.port,
                                     timeout=10)
            except dns.exception.Timeout:
                if attempt == 2:
                    raise

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def describe(self, tail=60):
        lines = self.log().splitlines()
        return ("--- unbound log (%s), last %d lines ---\n%s\n"
                "--- end of log ---" % (self.log_path, min(tail, len(lines)),
                                        "\n".join(lines[-tail:])))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(gslbtest.timeout_s())
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        if not os.environ.get("GSLB_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def ede_text(msg):
    """Extended DNS Error options of msg, as text (for failure output)."""
    return [o.to_text() for o in msg.options if o.otype == 15]


@unittest.skipUnless(UNBOUND and UNBOUND_CHECKCONF,
                     "unbound not installed (Debian: apt-get install "
                     "unbound)")
class ResolverCase(SignedCase):
    """Our zone behind a validating unbound whose only trust anchor is
    the DS from our API."""

    _resolvers = None

    @classmethod
    def setUpClass(cls):
        cls._resolvers = {}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        for r in (cls._resolvers or {}).values():
            r.cleanup()
        cls._resolvers = None
        super().tearDownClass()

    def stub_addrs(self):
        return ["127.0.0.1@%d" % self.daemon.port]

    def resolver(self, trust_anchor=None, key="good"):
        """An unbound trusting our DS (or the trust anchor given), started
        once per class and key."""
        cls = type(self)
        if cls._resolvers is None:
            cls._resolvers = {}
        if key not in cls._resolvers:
            if trust_anchor is None:
                _, _, trust_anchor = self.trusted()
            r = Unbound([trust_anchor], [(gslbtest.ZONE, self.stub_addrs())],
                        name="%s-%s" % (cls.__name__, key))
            try:
                r.start()
            except BaseException:
                r.cleanup()
                raise
            cls._resolvers[key] = r
        return cls._resolvers[key]

    def run(self, result=None):
        """Prints the resolvers' logs after a failing test too."""
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for r in (type(self)._resolvers or {}).values():
                sys.stderr.write("\n%s: %s\n" % (self.id(), r.describe()))
        return out

    def assertValidated(self, msg, rcode="NOERROR"):
        self.assertEqual(gslbtest.rcode_text(msg), rcode,
                         "EDE %s in\n%s" % (ede_text(msg), msg))
        self.assertTrue(msg.flags & dns.flags.AD,
                        "not authenticated (no AD):\n%s" % msg)

    def resolve_addresses(self, r, name, rdtype="A"):
        msg = r.query(name, rdtype)
        self.assertValidated(msg)
        return sorted(addresses(msg, rdtype))


class Resolver(ResolverCase):
    """NSEC zone, with the API for overrides."""

    def test_positive_answers_are_authenticated(self):
        r = self.resolver()
        for name, rdtype, pool in (
                ("rr.gslb.test", "A", gslbtest.RR_SERVERS),
                ("multi.gslb.test", "A", gslbtest.MULTI_SERVERS),
                ("weighted.gslb.test", "A", [a for a, _ in
                                             gslbtest.WEIGHTED_SERVERS]),
                ("wmulti.gslb.test", "A", [a for a, _ in WMULTI]),
                ("wbig.gslb.test", "A", [a for a, _ in WBIG]),
                ("failover.gslb.test", "A", [gslbtest.FAILOVER_PRIMARY]),
                ("v6only.gslb.test", "AAAA", gslbtest.V6ONLY_SERVERS),
                ("mixed.gslb.test", "AAAA", gslbtest.MIXED_V6),
                ("big.gslb.test", "AAAA", gslbtest.BIG_SERVERS),
                ("many.gslb.test", "A", MANY),
                ("ns1.gslb.test", "A", ["127.0.0.1"]),
                ("a.b.deep.gslb.test", "A", [gslbtest.DEEP_SERVER])):
            with self.subTest(name=name, rdtype=rdtype):
                got = self.resolve_addresses(r, name, rdtype)
                self.assertTrue(got and set(got) <= set(pool), got)
        for rdtype in ("SOA", "NS", "DNSKEY"):
            with self.subTest(name="gslb.test", rdtype=rdtype):
                msg = r.query("gslb.test", rdtype)
                self.assertValidated(msg)
                self.assertEqual([x.rdtype for x in msg.answer
                                  if x.rdtype != T.RRSIG],
                                 [rdtype_of(rdtype)], str(msg))

    def test_nxdomain_is_authenticated(self):
        r = self.resolver()
        for name in NXDOMAINS:
            with self.subTest(name=name):
                msg = r.query(name, "A")
                self.assertValidated(msg, "NXDOMAIN")
                self.assertEqual(msg.answer, [])

    def test_nodata_is_authenticated(self):
        r = self.resolver()
        for name, rdtype in NODATAS:
            with self.subTest(name=name, rdtype=rdtype):
                msg = r.query(name, rdtype)
                self.assertValidated(msg, "NOERROR")
                self.assertEqual([x for x in msg.answer
                                  if x.rdtype == rdtype_of(rdtype)], [],
                                 str(msg))

    def test_override_changes_the_answer_and_it_still_validates(self):
        r = self.resolver()
        path = "/api/v1/overrides/fo1.gslb.test/%s" % FO1[0]
        self.assertEqual(self.resolve_addresses(r, "fo1.gslb.test"),
                         [FO1[0]])
        status, _, body = self.daemon.socket_http(
            path, "PUT", {"healthy": False, "reason": "test",
                          "source": "test"})
        self.assertEqual(status, 200, body)
        try:
            # The name's TTL is 1 s: the resolver asks again after it.
            self.wait_resolved(r, "fo1.gslb.test", [FO1[1]])
        finally:
            status, _, body = self.daemon.socket_http(path, "DELETE")
            self.assertEqual(status, 204, body)
        self.wait_resolved(r, "fo1.gslb.test", [FO1[0]])

    def wait_resolved(self, r, name, want, timeout=5.0 * SCALE):
        deadline = time.monotonic() + timeout
        while True:
            got = self.resolve_addresses(r, name)  # AD on every answer
            if got == sorted(want):
                return
            if time.monotonic() > deadline:
                self.fail("%s: %s through the resolver, expected %s"
                          % (name, got, sorted(want)))
            time.sleep(0.1)

    def test_wrong_trust_anchor_is_servfail(self):
        _, key, ds_line = self.trusted()
        _, ds = parse_ds_line(ds_line)
        # The same key tag and algorithm, another digest: an anchor for a
        # key we do not have.
        bad = bytes([ds.digest[0] ^ 0xff]) + ds.digest[1:]
        bad_line = "%s IN DS %d %d %d %s" % (ZONE, ds.key_tag, ds.algorithm,
                                             ds.digest_type, bad.hex())
        good = self.resolver()
        wrong = self.resolver(trust_anchor=bad_line, key="wrong")
        for name, rdtype in (("rr.gslb.test", "A"), ("gslb.test", "SOA"),
                             ("nonexistent.gslb.test", "A")):
            with self.subTest(name=name):
                msg = wrong.query(name, rdtype)
                self.assertEqual(gslbtest.rcode_text(msg), "SERVFAIL",
                                 "accepted with a wrong trust anchor:\n%s"
                                 % msg)
                self.assertEqual(msg.answer, [])
                # The same question through the right anchor validates.
                self.assertTrue(good.query(name, rdtype).flags &
                                dns.flags.AD)


    def test_rrsig_query_is_not_servfail(self):
        # Some tools and resolvers ask for type RRSIG. A NODATA whose NSEC
        # record lists RRSIG at the name contradicts itself, and a
        # validating resolver turns it into SERVFAIL.
        r = self.resolver()
        for name in ("rr.gslb.test", "gslb.test"):
            with self.subTest(name=name):
                msg = r.query(name, "RRSIG")
                self.assertEqual(gslbtest.rcode_text(msg), "NOERROR",
                                 "EDE %s in\n%s" % (ede_text(msg), msg))


class ResolverNsec3(Resolver):
    """NSEC3 zone."""

    denial = "nsec3"


# Validation of real backends, for the failure test through the resolver.
INTERVAL = 1.0 * SCALE
CHECK = ("{ type: tcp, interval: %ds, timeout: %dms, failure_threshold: 2, "
         "success_threshold: 2 }" % (INTERVAL, 500 * SCALE))
DOWN_BOUND = 2 * INTERVAL + 0.5 * SCALE + 0.1 + 1.0 + 1.5 * SCALE


class ResolverBackendFailure(ResolverCase):
    """A backend stops accepting connections: the overwatch's own check
    takes it out, and the resolver gets the new answer, authenticated."""

    tcp = None

    @classmethod
    def make_config(cls):
        cls.tcp = [TCPBackend("127.0.0.41"), TCPBackend("127.0.0.42")]
        text = gslbtest.checked_config(
            [("eu", "web.gslb.test", CHECK,
              [(b.ip, b.port) for b in cls.tcp])],
            api=True, validation=True, dns_extra=["default_ttl: 1"])
        return dnssec_on(text)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for b in cls.tcp or ():
                b.close()

    def wait_resolved(self, r, name, want, bound):
        deadline = time.monotonic() + bound
        while True:
            got = self.resolve_addresses(r, name)  # AD on every answer
            if got == sorted(want):
                return
            if time.monotonic() > deadline:
                self.fail("%s: %s through the resolver after %.1f s, "
                          "expected %s" % (name, got, bound, sorted(want)))
            time.sleep(0.1)

    def test_failed_backend_leaves_the_validated_answer(self):
        r = self.resolver()
        both = [b.ip for b in self.tcp]
        self.wait_resolved(r, "web.gslb.test", both, DOWN_BOUND)
        self.tcp[0].close()
        try:
            self.wait_resolved(r, "web.gslb.test", [self.tcp[1].ip],
                               DOWN_BOUND)
            # The negative answers are still proven meanwhile.
            self.assertValidated(r.query("nothing.gslb.test"), "NXDOMAIN")
        finally:
            self.tcp[0].reopen()
        self.wait_resolved(r, "web.gslb.test", both, DOWN_BOUND)


# ---------------------------------------------------------------------------
# Two overwatches, one key


def key_sync_config(peers=()):
    """config(api=True) signed, with key sync from peers (the harness
    gives every overwatch the same gossip key)."""
    return dnssec_on(gslbtest.config(api=True),
                     extra=["key_sync:", "  peers: [%s]"
                            % ", ".join('"%s"' % p for p in peers),
                            "  poll_interval: 1s", "  timeout: 2s"]
                     if peers else ())


class TwoOverwatchesOneKey(ResolverCase):
    """A second overwatch that starts with key sync from the first signs
    with the same key: one DS, and a resolver that asks either gets
    validated answers, also when the first is gone."""

    second = None

    @classmethod
    def make_config(cls):
        return key_sync_config()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.second = gslbtest.Daemon(
            key_sync_config(["http://127.0.0.1:%d" % cls.daemon.api_port]),
            name=cls.__name__ + "-2")
        try:
            cls.second.start()
        except BaseException:
            cls.second.cleanup()
            cls.second = None
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        second, cls.second = cls.second, None
        try:
            super().tearDownClass()
        finally:
            if second is not None:
                try:
                    second.stop()
                finally:
                    second.cleanup()

    def stub_addrs(self):
        return ["127.0.0.1@%d" % d.port for d in (self.daemon, self.second)]

    def wait_same_key(self, timeout=10.0):
        _, key1, ds1 = self.trusted()
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, key2, ds2 = self.trusted(daemon=self.second)
            except AssertionError:
                key2 = ds2 = None
            if key2 == key1:
                return ds1, ds2
            if time.monotonic() > deadline:
                self.fail("the second overwatch never served the first's "
                          "key\n%s" % self.second.describe())
            time.sleep(0.2)

    def test_second_overwatch_signs_with_the_first_ones_key(self):
        ds1, ds2 = self.wait_same_key()
        self.assertEqual(parse_ds_line(ds1), parse_ds_line(ds2))
        # The second's answers validate with the first's DS.
        keys, key, _ = self.trusted()
        for name, rdtype in (("rr.gslb.test", "A"), ("gslb.test", "SOA")):
            msg = self.ask(name, rdtype, daemon=self.second)
            self.assertAllSigned(msg)
        msg = self.ask("nonexistent.gslb.test", daemon=self.second)
        self.assertNxdomainProof(msg, "nonexistent.gslb.test")

    def test_resolver_validates_either_overwatch(self):
        self.wait_same_key()
        r = self.resolver()
        for i in range(10):
            self.assertValidated(r.query("n%d.gslb.test" % i), "NXDOMAIN")
            self.assertTrue(self.resolve_addresses(r, "rr.gslb.test"))
        # Without the first one, the second answers alone; new names, so
        # that the resolver must ask.
        self.daemon.stop()
        try:
            for i in range(5):
                self.assertValidated(r.query("m%d.gslb.test" % i),
                                     "NXDOMAIN")
            self.assertEqual(self.resolve_addresses(r, "failover.gslb.test"),
                             [gslbtest.FAILOVER_PRIMARY])
        finally:
            self.daemon.start()


if __name__ == "__main__":
    gslbtest.parse_args()
    unittest.main(verbosity=2)
