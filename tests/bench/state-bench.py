#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""state-bench.py - how long an override takes to reach DNS answers, and
how many changes per second the state database commits.

Usage: GSLB_OVERWATCHD=build/overwatchd/gslb-overwatchd \\
           tests/bench/state-bench.py [-n CHANGES] [-c CLIENTS]

Method: one gslb-overwatchd with the integration tests' configuration
(tests/integration/gslbtest.py), its state database in a temporary
directory on the disk the benchmark runs from (synchronous=FULL: every
transaction is fsync'ed).

  * Sequential: N times, PUT an override that takes the primary of a
    failover name out, then DELETE it, one at a time over the UNIX socket.
    For each change: the time from sending the request to the 200/204, and
    whether the first DNS query sent after it already answers accordingly.
  * Concurrent: N PUTs from C clients at once over TCP: changes per second,
    latency, and transactions committed (the database groups the changes
    queued while it writes).
"""

import argparse
import concurrent.futures
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

import gslbtest  # noqa: E402

FAILOVER = "failover.gslb.test"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def ms(seconds):
    return "%.2f ms" % (seconds * 1000)


def metric(d, name):
    _, _, data = d.http("/metrics", port=d.metrics_port)
    m = re.search(r"^%s (\S+)$" % re.escape(name), data.decode(), re.M)
    return float(m.group(1)) if m else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=500, help="changes (500)")
    ap.add_argument("-c", type=int, default=20, help="clients (20)")
    args = ap.parse_args()

    d = gslbtest.Daemon(gslbtest.config(api=True, metrics=True),
                        name="state-bench")
    d.start()
    try:
        path = "/api/v1/overrides/%s/%s:80" % (FAILOVER,
                                               gslbtest.FAILOVER_PRIMARY)
        body = {"healthy": False, "reason": "bench", "source": "bench"}
        lat, stale = [], 0
        for _ in range(args.n):
            for method, want in (("PUT", gslbtest.FAILOVER_SECONDARY),
                                 ("DELETE", gslbtest.FAILOVER_PRIMARY)):
                t0 = time.monotonic()
                status, _, _ = d.socket_http(
                    path, method, body if method == "PUT" else None)
                lat.append(time.monotonic() - t0)
                assert status in (200, 204), status
                got = gslbtest.addresses(d.query(FAILOVER), "A")
                stale += got != [want]
        print("sequential: %d changes, acknowledged in median %s, p99 %s, "
              "max %s; first DNS answer after the acknowledgement "
              "already changed: %d of %d"
              % (len(lat), ms(pct(lat, 50)), ms(pct(lat, 99)), ms(max(lat)),
                 len(lat) - stale, len(lat)))

        tx0 = metric(d, "opengslb_state_store_transactions_total")

        def put(i):
            t0 = time.monotonic()
            status, _, _ = d.http(
                "/api/v1/overrides/rr.gslb.test/%s:80"
                % gslbtest.RR_SERVERS[i % 3], "PUT",
                {"healthy": True, "reason": "c%d" % i, "source": "bench"})
            return status, time.monotonic() - t0

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(args.c) as pool:
            results = list(pool.map(put, range(args.n)))
        wall = time.monotonic() - t0
        tx = metric(d, "opengslb_state_store_transactions_total") - tx0
        codes = {s for s, _ in results}
        lat = [t for _, t in results]
        print("concurrent: %d PUTs from %d clients in %.2f s = %.0f/s, "
              "status %s, latency median %s, p99 %s, %d transactions"
              % (args.n, args.c, wall, args.n / wall, sorted(codes),
                 ms(pct(lat, 50)), ms(pct(lat, 99)), tx))
        d.stop()
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
