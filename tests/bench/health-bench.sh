#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# health-bench.sh - CPU and memory of one gslb-overwatchd health-checking
# many HTTP backends on loopback.
#
# Usage:
#   tests/bench/health-bench.sh [-n TARGETS] [-i INTERVAL] [-l SECONDS] [--close]
#                               [-b BUILD_DIR] [--keep]
#
#   -n TARGETS    backends to check (default 10000)
#   -i INTERVAL   check interval, a duration (default 1s)
#   -l SECONDS    measured window after the warm-up (default 30)
#   --close       backends close the connection after each answer, so every
#                 check opens a new one (default: HTTP/1.1 keep-alive, and
#                 the checker reuses a connection for up to 30 s)
#   -b DIR        build directory holding overwatchd/gslb-overwatchd (default
#                 the current directory); $GSLB_OVERWATCHD wins over -b
#   --keep        keep the work directory (config, logs)
#   -h, --help    this text
#
# Needs: bash, cc, curl, awk; Linux /proc; run as root or any user.
#
# Method:
#   * tests/bench/http-responder.c (built here with cc -O2) listens on
#     0.0.0.0:PORT, so every address 127.x.y.z is a backend; it answers each
#     request "200 OK", keeps the connection open (or closes it, --close),
#     and prints its running total each second.
#   * gslb-overwatchd checks TARGETS backends 127.1.0.1, 127.1.0.2, ... on
#     PORT: one region, type http, path /health, the given interval, timeout
#     half of it (at most 2 s), thresholds 3/2, validation on, one DNS worker,
#     logging at warn, API on loopback.
#   * After a warm-up of two intervals plus 5 s, the window measures the
#     daemon's CPU time (utime + stime of all its threads, /proc/PID/stat),
#     its VmRSS at the end and VmHWM (peak), and the checks answered by the
#     responder (its total at the end minus at the start). The API's
#     /api/v1/health/regions then tells how many backends are healthy.
#   * Then every backend dies at once (the responder is killed): the time
#     until the API counts no healthy backend and DNS answers SERVFAIL
#     (bound: interval x failure_threshold + timeout), and the daemon's CPU
#     time meanwhile.
#   * The table is printed in Markdown for docs/benchmarks.md.

set -u -o pipefail
set +m

N=10000
INTERVAL=1s
WINDOW=30
BUILD=.
KEEP=0
CLOSE=

usage() { sed -n '/^# Usage:/,/^#   -h, --help/p' "$0" | sed 's/^# \{0,1\}//'; }
die() { printf 'health-bench: %s\n' "$*" >&2; exit 1; }
log() { printf '# %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || die "-n needs a value"; N=$2; shift 2 ;;
    -i) [ $# -ge 2 ] || die "-i needs a value"; INTERVAL=$2; shift 2 ;;
    -l) [ $# -ge 2 ] || die "-l needs a value"; WINDOW=$2; shift 2 ;;
    -b|--build) [ $# -ge 2 ] || die "$1 needs a value"; BUILD=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --close) CLOSE=close; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
  esac
done
case "$N" in ''|*[!0-9]*) die "-n wants a number" ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 60000 ] || die "-n must be 1..60000"
case "$WINDOW" in ''|*[!0-9]*) die "-l wants whole seconds" ;; esac
case "$INTERVAL" in *s) ISEC=${INTERVAL%s} ;; *) die "-i wants seconds, e.g. 1s" ;; esac
case "$ISEC" in ''|*[!0-9]*) die "-i wants whole seconds, e.g. 1s" ;; esac

SRC=$(cd "$(dirname "$0")/../.." && pwd) || die "cannot find the source tree"
BIN=${GSLB_OVERWATCHD:-$BUILD/overwatchd/gslb-overwatchd}
[ -x "$BIN" ] || die "no gslb-overwatchd at $BIN (give -b BUILD_DIR or GSLB_OVERWATCHD)"
for t in cc curl awk; do command -v "$t" >/dev/null || die "$t not found"; done

W=$(mktemp -d /tmp/health-bench.XXXXXX)
PIDS=()
RESPONDER=
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$KEEP" = 1 ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT INT TERM

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
}

cc -O2 -o "$W/http-responder" "$SRC/tests/bench/http-responder.c" || die "cannot build the responder"
HTTP_PORT=$(free_port)
"$W/http-responder" "$HTTP_PORT" $CLOSE > "$W/responder.out" &
RESPONDER=$!
PIDS+=("$RESPONDER")

DNS_PORT=$(free_port)
API_PORT=$(free_port)
TIMEOUT_MS=$((ISEC * 500)); [ "$TIMEOUT_MS" -gt 2000 ] && TIMEOUT_MS=2000
ACK=$(awk '/#define GSLB_DNSSEC_ACK/{f=1; next} f{ if (match($0, /"[^"]*"/)) s = s substr($0, RSTART+1, RLENGTH-2); if ($0 !~ /\\[ \t]*$/) exit } END{print s}' "$SRC/lib/config.h")
{
  cat <<EOF
mode: overwatch
logging: { level: warn, format: text }
dns:
  listen_address: "127.0.0.1:$DNS_PORT"
  workers: 1
  zones: [{ name: gslb.test, nameservers: [{ name: ns1.gslb.test, addresses: [127.0.0.1] }] }]
overwatch:
  dnssec: { enabled: false, security_acknowledgment: "$ACK" }
api: { enabled: true, address: "127.0.0.1:$API_PORT" }
regions:
  - name: bench
    health_check: { type: http, path: /health, interval: $INTERVAL, timeout: ${TIMEOUT_MS}ms }
    servers:
EOF
  awk -v n="$N" -v port="$HTTP_PORT" 'BEGIN {
    for (i = 0; i < n; i++)
      printf "      - { address: 127.1.%d.%d, port: %d, service: bench.gslb.test }\n", int(i / 250), i % 250 + 1, port
  }'
  cat <<EOF
domains:
  - { name: bench.gslb.test, regions: [bench] }
EOF
} > "$W/overwatch.yaml"
chmod 600 "$W/overwatch.yaml"

"$BIN" -c "$W/overwatch.yaml" 2> "$W/overwatch.log" &
OW=$!
PIDS+=("$OW")
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$API_PORT/api/v1/live" >/dev/null && break
  sleep 0.1
done
kill -0 "$OW" 2>/dev/null || { cat "$W/overwatch.log" >&2; die "gslb-overwatchd did not start"; }

CLK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$OW/stat"; }
answered() { tail -n 1 "$W/responder.out" | awk '{ print $2 + 0 }'; }
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$OW/status"; }

WARM=$((2 * ISEC + 5))
log "$N targets every $INTERVAL; warm-up ${WARM}s, window ${WINDOW}s"
sleep "$WARM"
c0=$(cpu_ticks); a0=$(answered); t0=$(date +%s.%N)
sleep "$WINDOW"
c1=$(cpu_ticks); a1=$(answered); t1=$(date +%s.%N)
RSS=$(status_kb VmRSS); HWM=$(status_kb VmHWM)
HEALTHY=$(curl -sf "http://127.0.0.1:$API_PORT/api/v1/health/regions" |
  sed -n 's/.*"healthy_count": *\([0-9]*\).*/\1/p')

healthy() {
  curl -sf "http://127.0.0.1:$API_PORT/api/v1/health/regions" |
    sed -n 's/.*"healthy_count": *\([0-9]*\).*/\1/p'
}
HEALTHY=$(healthy)

# Every backend dies at once.
f0=$(cpu_ticks); k0=$(date +%s.%N)
kill "$RESPONDER"
GONE=
for _ in $(seq 600); do
  [ "$(healthy)" = 0 ] && { GONE=$(date +%s.%N); break; }
  sleep 0.05
done
f1=$(cpu_ticks)
RCODE=$(command -v kdig >/dev/null &&
  kdig @127.0.0.1 -p "$DNS_PORT" bench.gslb.test A 2>&1 |
  sed -n 's/.*status: \([A-Z]*\).*/\1/p')

awk -v c0="$c0" -v c1="$c1" -v clk="$CLK" -v a0="$a0" -v a1="$a1" \
    -v t0="$t0" -v t1="$t1" -v n="$N" -v iv="$INTERVAL" -v rss="$RSS" \
    -v hwm="$HWM" -v healthy="${HEALTHY:-?}" \
    -v conn="${CLOSE:+new each check}" -v k0="$k0" -v gone="$GONE" \
    -v f0="$f0" -v f1="$f1" -v isec="$ISEC" -v tms="$TIMEOUT_MS" 'BEGIN {
  secs = t1 - t0
  cpu = (c1 - c0) / clk
  if (conn == "") conn = "kept (keep-alive)"
  printf "| targets | interval | connections | checks/s | CPU (%% of one core) | CPU per check | VmRSS | VmHWM (peak) | healthy at the end |\n"
  printf "|---:|---:|---|---:|---:|---:|---:|---:|---:|\n"
  printf "| %d | %s | %s | %.0f | %.1f %% | %.1f µs | %.1f MB | %.1f MB | %s |\n", n, iv, conn,
    (a1 - a0) / secs, 100 * cpu / secs, (a1 > a0 ? 1e6 * cpu / (a1 - a0) : 0),
    rss / 1024, hwm / 1024, healthy
  printf "\nAll %d backends die at once: ", n
  if (gone == "") printf "some still healthy after 30 s\n"
  else printf "none healthy after %.2f s (bound %.1f s), daemon CPU meanwhile %.2f s\n", gone - k0, 3 * isec + tms / 1000, (f1 - f0) / clk
}'
[ -n "$RCODE" ] && log "then bench.gslb.test A answers: $RCODE"
