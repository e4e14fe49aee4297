#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""sign-bench.py - the cost of DNSSEC on a health change: how long an
override takes to be acknowledged with signing on and off, and whether the
first DO=1 answer after the acknowledgement already serves the change,
signed.

Usage: GSLB_OVERWATCHD=build/overwatchd/gslb-overwatchd \\
           tests/bench/sign-bench.py [-n CHANGES] [-b 1,100,1000]
                                     [-m MAX_RECORDS]

Method: for each number of backends B and DNSSEC off and on, one
gslb-overwatchd (the integration tests' harness, tests/integration/
gslbtest.py; its state database in a temporary directory on this disk,
synchronous=FULL) serving zone gslb.test with rr.gslb.test, a round-robin
name of B backends (198.18.x.y, max_records M), and fo.gslb.test, a
failover name of two. Validation is off: only overrides change health.
The API answers a change only after the new snapshot, signed, is
published, so the acknowledgement time contains the signing.

  * fo: N times, PUT an override taking fo.gslb.test's primary out, then
    DELETE it, over the UNIX socket; B only makes the zone bigger.
  * rr: N times, PUT an override taking one of rr.gslb.test's backends out
    (a different one each time), then DELETE it: the round-robin name's
    answer sets change, and with B backends so do up to B signatures.

For each change: the time from sending the request to the 200/204, and the
time from the 200/204 to the first DO=1 answer, which must already be the
new one (fo: the secondary; rr: not the backend taken out, or SERVFAIL
when none is left) and, with DNSSEC on, carry an RRSIG that validates
with the zone's DNSKEY (dnspython).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

import dns.dnssec  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rdatatype  # noqa: E402

import gslbtest  # noqa: E402
from gslbtest import Domain  # noqa: E402

ZONE = dns.name.from_text(gslbtest.ZONE)
FO = ("192.0.2.2", "192.0.2.3")
DNSSEC_OFF = ("  dnssec:\n    enabled: false\n    security_acknowledgment: "
              '"%s"\n' % gslbtest.DNSSEC_ACK)


def backend(i):
    return "198.18.%d.%d" % (i // 250, 1 + i % 250)


def make_config(n, max_records, dnssec):
    domains = [
        Domain("rr.gslb.test", "round-robin", ["eu-west"],
               [("eu-west", backend(i), None) for i in range(n)],
               max_records=max_records),
        Domain("fo.gslb.test", "failover", ["eu-west", "us-east"],
               [("eu-west", FO[0], None), ("us-east", FO[1], None)]),
    ]
    text = gslbtest.config(domains=domains, api=True)
    if dnssec:
        assert DNSSEC_OFF in text
        text = text.replace(DNSSEC_OFF, "  dnssec:\n    enabled: true\n")
    return text


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def ms(seconds):
    return "%.2f" % (seconds * 1000)


class Bench:
    def __init__(self, d, dnssec):
        self.d = d
        self.dnssec = dnssec
        self.keys = None
        if dnssec:
            msg = self.ask(ZONE, "DNSKEY")
            self.keys = {ZONE: [r for r in msg.answer
                                if r.rdtype == dns.rdatatype.DNSKEY][0]}
        self.sock = None

    def ask(self, name, rdtype="A"):
        q = dns.message.make_query(name, rdtype, want_dnssec=True)
        msg = dns.query.udp(q, "127.0.0.1", port=self.d.port, timeout=3)
        if msg.flags & dns.flags.TC:
            msg = dns.query.tcp(q, "127.0.0.1", port=self.d.port, timeout=3)
        return msg

    def signed_ok(self, msg):
        """True if every RRset of the answer has a validating RRSIG."""
        if not self.dnssec:
            return True
        data = [r for r in msg.answer if r.rdtype != dns.rdatatype.RRSIG]
        if not data:  # SERVFAIL when no backend is left: nothing to sign
            return gslbtest.rcode_text(msg) == "SERVFAIL"
        for rrset in data:
            sigs = [r for r in msg.answer if r.rdtype == dns.rdatatype.RRSIG
                    and r.covers == rrset.rdtype]
            if not sigs:
                return False
            try:
                dns.dnssec.validate(rrset, sigs[0], self.keys)
            except dns.dnssec.ValidationFailure:
                return False
        return True

    def change(self, service, address, healthy, check):
        """One PUT (healthy False) or DELETE (None); returns (seconds to
        the acknowledgement, seconds from it to the first DO=1 answer,
        whether that answer was right and signed)."""
        path = "/api/v1/overrides/%s/%s" % (service, address)
        t0 = time.monotonic()
        if healthy is None:
            status, _, body = self.d.socket_http(path, "DELETE")
            want = 204
        else:
            status, _, body = self.d.socket_http(
                path, "PUT", {"healthy": healthy, "reason": "bench",
                              "source": "bench"})
            want = 200
        t1 = time.monotonic()
        assert status == want, (status, body)
        msg = self.ask(service)
        t2 = time.monotonic()
        got = gslbtest.addresses(msg, "A")
        return t1 - t0, t2 - t1, check(msg, got) and self.signed_ok(msg)


def run(n, max_records, dnssec, changes):
    d = gslbtest.Daemon(make_config(n, max_records, dnssec),
                        name="sign-bench")
    rows = []
    try:
        t0 = time.monotonic()
        d.start()
        started = time.monotonic() - t0
        b = Bench(d, dnssec)
        for kind in ("fo", "rr"):
            put, dele, first, ok = [], [], [], 0
            for i in range(changes):
                if kind == "fo":
                    service, address = "fo.gslb.test", FO[0]

                    def down(msg, got):
                        return got == [FO[1]]

                    def up(msg, got):
                        return got == [FO[0]]
                else:
                    service, address = "rr.gslb.test", backend(i % n)

                    def down(msg, got, address=address):
                        if n == 1:
                            return gslbtest.rcode_text(msg) == "SERVFAIL"
                        return bool(got) and address not in got

                    def up(msg, got):
                        return bool(got)
                t_put, t_first, good = b.change(service, address, False,
                                                down)
                put.append(t_put)
                first.append(t_first)
                ok += good
                t_del, t_first, good = b.change(service, address, None, up)
                dele.append(t_del)
                first.append(t_first)
                ok += good
            rows.append((kind, put, dele, first, ok, 2 * changes))
        d.stop()
    finally:
        d.cleanup()
    return started, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=200,
                    help="changes per kind (200)")
    ap.add_argument("-b", default="1,100,1000",
                    help="backends in the round-robin name (1,100,1000)")
    ap.add_argument("-m", type=int, default=1,
                    help="max_records of the round-robin name (1)")
    args = ap.parse_args()
    print("| backends | DNSSEC | change | PUT acknowledged median / p99 ms "
          "| DELETE median / p99 ms | first DO=1 answer after it, median / "
          "max ms | right and signed | daemon start s |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for n in (int(x) for x in args.b.split(",")):
        for dnssec in (False, True):
            started, rows = run(n, args.m, dnssec, args.n)
            for kind, put, dele, first, ok, total in rows:
                print("| %d | %s | %s | %s / %s | %s / %s | %s / %s | %d of "
                      "%d | %.2f |"
                      % (n, "on" if dnssec else "off", kind,
                         ms(pct(put, 50)), ms(pct(put, 99)),
                         ms(pct(dele, 50)), ms(pct(dele, 99)),
                         ms(pct(first, 50)), ms(max(first)), ok, total,
                         started))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
