#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# dns-bench.sh - UDP query throughput and server CPU per query of
# gslb-overwatchd without and with DNSSEC (DO=0, DO=1), measured against Knot
# DNS (knotd) serving the same zone unsigned, pre-signed and signed on the fly
# (mod-onlinesign), in one run, on loopback.
#
# Usage:
#   tests/bench/dns-bench.sh [-l SECONDS] [-r ROUNDS] [-Q RATE] [--no-fixed | --fixed-only]
#                            [-b BUILD_DIR] [--write] [--keep]
#
#   -l SECONDS    length of each measured dnsperf run (default 5)
#   -r ROUNDS     interleaved rounds; every row is measured once per round in
#                 every mode and the median of the rounds is reported (default 3)
#   -Q RATE       queries per second of the fixed-rate mode, the same for every
#                 row (dnsperf -Q; default 50000)
#   --no-fixed    measure only the closed loop (no rate limit)
#   --fixed-only  measure only at the fixed rate
#                 (default: both modes, interleaved, giving two tables)
#   -b DIR        build directory holding overwatchd/gslb-overwatchd (default:
#                 the current directory); $GSLB_OVERWATCHD, if set, names the
#                 binary directly and wins over -b
#   --write       also write the result into docs/benchmarks.md of this source
#                 tree (only the section between the dns-bench marker comments
#                 is replaced; the rest of the file is kept)
#   --keep        keep the work directory (configs, logs, raw dnsperf output)
#   -h, --help    this text
#
#   Example (release build, no --enable-developer, outside the source tree):
#     mkdir -p /tmp/build && cd /tmp/build && /path/to/src/configure && make
#     /path/to/src/tests/bench/dns-bench.sh -b /tmp/build --write
#
# Needs: bash, dnsperf, knotd, kdig, taskset, ss, awk; Linux /proc; 2+ CPUs
# (with one CPU nothing is pinned and the numbers mean little). Run as root or
# as a user that may run knotd with a private rundir (no privileged ports are
# used). Default run time: about 8 min (13 rows x 2 modes x 3 rounds x 5 s +
# warm-ups and start-up).
#
# Method:
#   * Five servers run side by side on 127.0.0.1, each on its own free port,
#     all pinned to CPU 1 (taskset -c 1), each with ONE UDP worker thread
#     (only the one being measured gets queries). knotd pins its UDP workers
#     itself (worker i to CPU i mod the CPU count: CPU 0, dnsperf's), so once
#     the servers answer every thread of every server is pinned to CPU 1 again
#     (taskset -a -p) and this is checked after the runs:
#       - knotd, configured with udp-workers/tcp-workers/background-workers: 1,
#         serving zone gslb.test. from a zone file (SOA, NS, ns1, and app-rr,
#         app-w, app-fo with one A record each): the reference for a static
#         authoritative answer;
#       - "knotd signed": a second knotd, the same zone with dnssec-signing: on
#         (policy: ECDSAP256SHA256, one CSK, NSEC), signed once when loaded:
#         the reference for answers with pre-computed signatures;
#       - "knotd onlinesign": a third knotd, the same zone with
#         module: mod-onlinesign and the same policy, which signs each DO=1
#         answer when it is sent;
#       - gslb-overwatchd with dns.workers: 1, logging.level: warn, DNSSEC on
#         (as by default: one ECDSAP256SHA256 CSK per zone, generated at
#         start, NSEC), zone gslb.test, one.gslb.test with one backend and
#         three names with 4 IPv4 backends each: rr.gslb.test (round-robin),
#         w.gslb.test (weighted 100/200/300/400), fo.gslb.test (failover);
#         every answer holds one A record (max_records defaults to 1), like
#         knotd's. It answers DO=0 queries unsigned and DO=1 queries with the
#         RRSIG its snapshot builder made in advance, so both come from the
#         same process;
#       - "ours 10k": a second gslb-overwatchd, configured the same way, with
#         2,500 round-robin names s0..s2499.gslb.test of 4 backends each
#         (10,000 backends), for the memory and the cost per query of a
#         large registry; its rows query all 2,500 names in turn.
#     The backend addresses are loopback addresses (127.x.y.z) with a TCP
#     health check of interval 1h and failure_threshold 100, so that no
#     health checker (if the daemon runs one) can change an answer or send a
#     packet off the machine during the run.
#   * Answers are checked before the load (kdig): knotd's A record, the
#     round-robin rotation, the weighted pool, the failover primary; for the
#     DO=1 rows (kdig +dnssec) one A record and one RRSIG over it.
#   * Load: `taskset -c 0 dnsperf -s 127.0.0.1 -p PORT -d QUERYFILE -l SECONDS
#     -c 8 -q 100`: UDP, 8 clients, at most 100 queries outstanding, one name
#     per row. DO=0 rows send no EDNS (no OPT record); DO=1 rows add `-D`
#     (EDNS0 with payload 4096 and the DO bit), as validating resolvers ask.
#     Rows: knotd app-rr.gslb.test A (DO=0), knotd signed and knotd
#     onlinesign app-rr.gslb.test A (DO=1); ours one.gslb.test A,
#     rr.gslb.test A, w.gslb.test A, fo.gslb.test A and the 10k names, each
#     with DO=0 and with DO=1. At the fixed rate dnsperf also prints each
#     answer's latency (-v), from which the 99th percentile is taken. Besides
#     the ratio to knotd static, each DO=1 row shows its ratio to the DO=0
#     row of the same name and server ("ratio to DO=0"). Two modes:
#       - closed loop: no rate limit; each server runs at its own rate, so the
#         rows are measured under different loads;
#       - fixed rate: the same plus `-Q RATE`, the same rate for every row, so
#         the servers are measured at the same load (knotd onlinesign cannot
#         sign that many answers a second on one core: its fixed-rate row is
#         bounded by the server, is marked so, and is not warned about).
#     Every row is measured in every mode in ROUNDS interleaved rounds (each
#     row and mode once per round) so that foreign load on the machine
#     spreads over the rows; each row gets 1 s of unrecorded warm-up before
#     its first run.
#   * Server CPU: utime (user) and stime (sys) of the server process (all its
#     threads) from /proc/PID/stat fields 14 and 15, in clock ticks (getconf
#     CLK_TCK), read right before and after each dnsperf run; each difference
#     divided by the answered queries ("Queries completed") is the server's
#     user / sys CPU time per query, their sum the total (us/q). It stays
#     meaningful when dnsperf, not the server, limits the rate, but it falls
#     as the load rises (more queries per wake-up and per system call), so in
#     the closed loop it compares rows of different load; the fixed-rate mode
#     compares at equal load. With tick-based CPU accounting the kernel splits
#     the run time into user and sys by sampling at the timer tick, so the
#     split (user above all, the smaller part) is noisier than the total; the
#     user and sys shown are those of the run(s) whose total is the median,
#     so they add up to it. On loopback the sender's system call also
#     delivers the packet to the receiving socket, so a server's sys time
#     includes delivering its answers to dnsperf, the same way for all.
#   * Also reported: qps and average latency from dnsperf, lost queries, the
#     server's and dnsperf's CPU use in % of one core (srv%, cli%; dnsperf's
#     from bash's `time`), what bounded the rate (-Q when the fixed rate was
#     reached, else the side at >= 90% of its core, or "neither" when both
#     wait on each other; a fixed-rate row below 97% of RATE is warned
#     about), the CPU used by everything else on the machine in % of all
#     cores (oth%: noise; above 10% the script warns), response size, and the
#     server's VmRSS after the run (max over the rounds and modes).
#   * Traffic goes to 127.0.0.1 only. Servers and the work directory are
#     removed on exit (trap), also on error or Ctrl-C.

set -u -o pipefail
set +m

DUR=5
ROUNDS=3
WARM=1
CLIENTS=8
OUTSTANDING=100
RATE=50000
MODES=(closed fixed)
BUILD=.
WRITE=0
KEEP=0
SRV_CPU=1
CLI_CPU=0
ADDR=127.0.0.1
ZONE=gslb.test
READY_TIMEOUT=20

usage() { sed -n '/^# Usage:/,/^#   -h, --help/p' "$0" | sed 's/^# \{0,1\}//'; }
die() { printf 'dns-bench: %s\n' "$*" >&2; exit 1; }
log() { printf '# %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    -l) [ $# -ge 2 ] || die "-l needs a value"; DUR=$2; shift 2 ;;
    -r) [ $# -ge 2 ] || die "-r needs a value"; ROUNDS=$2; shift 2 ;;
    -Q) [ $# -ge 2 ] || die "-Q needs a value"; RATE=$2; shift 2 ;;
    --no-fixed) [ "${MODES[*]}" = fixed ] && die "--no-fixed and --fixed-only exclude each other"; MODES=(closed); shift ;;
    --fixed-only) [ "${MODES[*]}" = closed ] && die "--no-fixed and --fixed-only exclude each other"; MODES=(fixed); shift ;;
    -b|--build) [ $# -ge 2 ] || die "$1 needs a value"; BUILD=$2; shift 2 ;;
    --build=*) BUILD=${1#*=}; shift ;;
    --write) WRITE=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
  esac
done
case "$DUR" in ''|*[!0-9]*) die "-l wants whole seconds" ;; esac
case "$ROUNDS" in ''|*[!0-9]*) die "-r wants a number" ;; esac
case "$RATE" in ''|*[!0-9]*) die "-Q wants queries per second (a whole number)" ;; esac
if [ "$DUR" -lt 1 ] || [ "$ROUNDS" -lt 1 ] || [ "$RATE" -lt 1 ]; then die "-l, -r and -Q must be at least 1"; fi

SRC=$(cd "$(dirname "$0")/../.." && pwd) || die "cannot find the source tree"
OURS_BIN=${GSLB_OVERWATCHD:-$BUILD/overwatchd/gslb-overwatchd}
[ -x "$OURS_BIN" ] || die "no gslb-overwatchd at $OURS_BIN (give -b BUILD_DIR or GSLB_OVERWATCHD)"
OURS_BIN=$(cd "$(dirname "$OURS_BIN")" && pwd)/$(basename "$OURS_BIN")
for c in dnsperf knotd kdig taskset ss awk getconf timeout; do
  command -v "$c" >/dev/null || die "$c is required (Debian: apt-get install dnsperf knot knot-dnsutils)"
done

NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
CLK=$(getconf CLK_TCK 2>/dev/null || echo 100)
PIN=1
if [ "$NCPU" -lt 2 ]; then PIN=0; log "only $NCPU CPU: not pinning (numbers are not comparable)"; fi
SRV_PIN=(); CLI_PIN=()
if [ "$PIN" = 1 ]; then SRV_PIN=(taskset -c "$SRV_CPU"); CLI_PIN=(taskset -c "$CLI_CPU"); fi

# ------------------------------------------------------------ cleanup
W=""
KNOT_PID=""
KSIGN_PID=""
KONL_PID=""
OURS_PID=""
BIG_PID=""
# shellcheck disable=SC2317  # called from the EXIT trap
stop_pid() { # pid: TERM, wait up to 5 s, then KILL
  local p=$1 i
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  return 0
}
# shellcheck disable=SC2317
cleanup() {
  stop_pid "$OURS_PID"; OURS_PID=""
  stop_pid "$BIG_PID"; BIG_PID=""
  stop_pid "$KNOT_PID"; KNOT_PID=""
  stop_pid "$KSIGN_PID"; KSIGN_PID=""
  stop_pid "$KONL_PID"; KONL_PID=""
  if [ -n "$W" ] && [ -d "$W" ]; then
    if [ "$KEEP" = 1 ]; then log "work directory kept: $W"; else rm -rf "$W"; fi
  fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

W=$(mktemp -d /tmp/gslb-dns-bench.XXXXXX) || die "mktemp failed"
RAW=$W/raw
mkdir -p "$RAW" "$W/knot" "$W/ours" "$W/big"
T_START=$SECONDS

# ------------------------------------------------------------ helpers
port_free() {
  [ -z "$(ss -Hlun "sport = :$1" 2>/dev/null)" ] && [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}
pick_port() { # first free port from $1 upwards, skipping the others given
  local p=$1 i x ok
  shift
  for i in $(seq 0 200); do
    ok=1
    for x in "$@"; do [ "$p" = "$x" ] && ok=0; done
    if [ $ok = 1 ] && port_free "$p"; then echo "$p"; return 0; fi
    p=$((p + 1))
  done
  return 1
}

cpu_ticks() { # pid -> "utime stime" (fields 14, 15) of the whole process
  local line rest
  read -r line 2>/dev/null < "/proc/$1/stat" || { echo ""; return 1; }
  rest=${line##*) }
  # shellcheck disable=SC2086
  set -- $rest
  echo "${12} ${13}"
}
rss_kb() { awk '/^VmRSS:/{print $2; exit}' "/proc/$1/status" 2>/dev/null; }
sys_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }

q() { # port name -> A records (one per line), kdig over UDP
  kdig @"$ADDR" -p "$1" +notcp +retry=0 +timeout=1 +short "$2" A 2>/dev/null | grep -E '^[0-9.]+$'
}
sigs() { # port name -> "A records, RRSIGs over them" in a DO=1 answer over UDP
  kdig @"$ADDR" -p "$1" +notcp +retry=0 +timeout=1 +dnssec +noall +answer "$2" A 2>/dev/null |
    awk '$4 == "A" { a++ } $4 == "RRSIG" && $5 == "A" { s++ } END { printf "%d %d\n", a, s }'
}

wait_ready() { # pid port name [signed] -> 0 when the name answers with an
  # A record (and, if signed is given, with one RRSIG over it to DO=1)
  local pid=$1 port=$2 name=$3 signed=${4:-} t=$((SECONDS + READY_TIMEOUT))
  while [ $SECONDS -lt $t ]; do
    kill -0 "$pid" 2>/dev/null || return 2
    if [ -n "$signed" ]; then
      [ "$(sigs "$port" "$name")" = "1 1" ] && return 0
    else
      [ -n "$(q "$port" "$name")" ] && return 0
    fi
    sleep 0.2
  done
  return 1
}

# ------------------------------------------------------------ servers
KNOT_PORT=$(pick_port 15353) || die "no free port"
KSIGN_PORT=$(pick_port $((KNOT_PORT + 1)) "$KNOT_PORT") || die "no free port"
KONL_PORT=$(pick_port $((KSIGN_PORT + 1)) "$KNOT_PORT" "$KSIGN_PORT") || die "no free port"
OURS_PORT=$(pick_port $((KONL_PORT + 1)) "$KNOT_PORT" "$KSIGN_PORT" "$KONL_PORT") || die "no free port"
BIG_PORT=$(pick_port $((OURS_PORT + 1)) "$KNOT_PORT" "$KSIGN_PORT" "$KONL_PORT" "$OURS_PORT") || die "no free port"
OURS_GOSSIP=$(pick_port $((BIG_PORT + 1)) "$KNOT_PORT" "$KSIGN_PORT" "$KONL_PORT" "$OURS_PORT" "$BIG_PORT") || die "no free port"
BIG_GOSSIP=$(pick_port $((OURS_GOSSIP + 1)) "$KNOT_PORT" "$KSIGN_PORT" "$KONL_PORT" "$OURS_PORT" "$BIG_PORT" "$OURS_GOSSIP") || die "no free port"

RR=(127.0.1.1 127.0.1.2 127.0.1.3 127.0.1.4)
WT=(127.0.2.1 127.0.2.2 127.0.2.3 127.0.2.4)
WEIGHTS=(100 200 300 400)
FO=(127.0.3.1 127.0.3.2 127.0.3.3 127.0.3.4)
ONE=127.0.4.1
BIG_NAMES=2500 # x 4 backends: 10,000

cat > "$W/knot/gslb.test.zone" <<EOF
\$ORIGIN $ZONE.
\$TTL 30
@       IN SOA ns1.$ZONE. hostmaster.$ZONE. 1 3600 600 1209600 60
@       IN NS  ns1.$ZONE.
ns1     IN A   $ADDR
app-rr  IN A   ${RR[0]}
app-w   IN A   ${WT[0]}
app-fo  IN A   ${FO[0]}
EOF
write_knot() { # dir port static|signed|online -> dir/knotd.conf serving the zone
  local d=$1 port=$2 kind=$3
  mkdir -p "$d"
  [ -f "$d/gslb.test.zone" ] || cp "$W/knot/gslb.test.zone" "$d/gslb.test.zone"
  {
    cat <<EOF
server:
    rundir: "$d"
    listen: $ADDR@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$d"
log:
  - target: stderr
    any: warning
EOF
    if [ "$kind" != static ]; then
      # The same algorithm, key and denial as gslb-overwatchd's defaults.
      cat <<EOF
policy:
  - id: bench
    algorithm: ecdsap256sha256
    single-type-signing: on
    nsec3: off
EOF
    fi
    if [ "$kind" = online ]; then
      cat <<EOF
mod-onlinesign:
  - id: bench
    policy: bench
EOF
    fi
    cat <<EOF
template:
  - id: default
    storage: "$d"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: $ZONE.
    file: "$d/gslb.test.zone"
EOF
    case "$kind" in
      signed) printf '    dnssec-signing: on\n    dnssec-policy: bench\n' ;;
      online) printf '    module: mod-onlinesign/bench\n' ;;
    esac
  } > "$d/knotd.conf"
}
write_knot "$W/knot" "$KNOT_PORT" static
write_knot "$W/knot-signed" "$KSIGN_PORT" signed
write_knot "$W/knot-online" "$KONL_PORT" online

# Gossip must be configured, though no agent talks to these servers.
GOSSIP_KEY=$(head -c 32 /dev/urandom | base64)
umask 077
{
  echo "# written by tests/bench/dns-bench.sh"
  echo "mode: overwatch"
  echo "logging:"
  echo "  level: warn"
  echo "  format: text"
  echo "dns:"
  echo "  listen_address: \"$ADDR:$OURS_PORT\""
  echo "  workers: 1"
  echo "  default_ttl: 30"
  echo "  zones:"
  echo "    - name: $ZONE"
  echo "      nameservers:"
  echo "        - name: ns1.$ZONE"
  echo "          addresses: [$ADDR]"
  echo "overwatch:"
  echo "  identity:"
  echo "    node_id: dns-bench"
  echo "  data_dir: \"$W/ours\""
  echo "  gossip:"
  echo "    encryption_key: \"$GOSSIP_KEY\""
  echo "    bind_address: \"$ADDR:$OURS_GOSSIP\""
  echo "  dnssec:"
  echo "    enabled: true"
  echo "regions:"
  echo "  - name: bench"
  echo "    servers:"
  echo "      - { address: $ONE, port: 9, service: one.$ZONE }"
  for i in 0 1 2 3; do echo "      - { address: ${RR[$i]}, port: 9, service: rr.$ZONE }"; done
  for i in 0 1 2 3; do echo "      - { address: ${WT[$i]}, port: 9, weight: ${WEIGHTS[$i]}, service: w.$ZONE }"; done
  for i in 0 1 2 3; do echo "      - { address: ${FO[$i]}, port: 9, service: fo.$ZONE }"; done
  echo "    health_check: { type: tcp, interval: 1h, timeout: 1s, failure_threshold: 100 }"
  echo "domains:"
  echo "  - { name: one.$ZONE, routing_algorithm: round-robin, regions: [bench] }"
  echo "  - { name: rr.$ZONE, routing_algorithm: round-robin, regions: [bench] }"
  echo "  - { name: w.$ZONE, routing_algorithm: weighted, regions: [bench] }"
  echo "  - { name: fo.$ZONE, routing_algorithm: failover, regions: [bench] }"
} > "$W/ours/overwatch.yaml"
# The same server with 10,000 backends: BIG_NAMES round-robin names of 4
# backends each, for its resident memory and its cost per query.
{
  echo "# written by tests/bench/dns-bench.sh"
  echo "mode: overwatch"
  echo "logging: { level: warn, format: text }"
  echo "dns:"
  echo "  listen_address: \"$ADDR:$BIG_PORT\""
  echo "  workers: 1"
  echo "  default_ttl: 30"
  echo "  zones:"
  echo "    - name: $ZONE"
  echo "      nameservers: [ { name: ns1.$ZONE, addresses: [$ADDR] } ]"
  echo "overwatch:"
  echo "  identity: { node_id: dns-bench-big }"
  echo "  data_dir: \"$W/big\""
  echo "  gossip: { encryption_key: \"$GOSSIP_KEY\", bind_address: \"$ADDR:$BIG_GOSSIP\" }"
  echo "  dnssec: { enabled: true }"
  echo "regions:"
  echo "  - name: bench"
  echo "    health_check: { type: tcp, interval: 1h, timeout: 1s, failure_threshold: 100 }"
  echo "    servers:"
  awk -v n="$BIG_NAMES" -v z="$ZONE" 'BEGIN { for (i = 0; i < n; i++) for (j = 1; j <= 4; j++)
    printf "      - { address: 127.%d.%d.%d, port: 9, service: s%d.%s }\n", 10 + int(i / 250), i % 250, j, i, z }'
  echo "domains:"
  awk -v n="$BIG_NAMES" -v z="$ZONE" 'BEGIN { for (i = 0; i < n; i++)
    printf "  - { name: s%d.%s, regions: [bench] }\n", i, z }'
} > "$W/big/overwatch.yaml"
umask 022
chmod 0600 "$W/ours/overwatch.yaml" "$W/big/overwatch.yaml"

log "knotd on $ADDR:$KNOT_PORT (signed $KSIGN_PORT, onlinesign $KONL_PORT), gslb-overwatchd ($OURS_BIN) on $ADDR:$OURS_PORT, work dir $W"
for d in ours big; do
  if ! "$OURS_BIN" --check-config -c "$W/$d/overwatch.yaml" > "$W/$d/check.log" 2>&1; then
    cat "$W/$d/check.log" >&2
    die "gslb-overwatchd rejects the benchmark configuration $W/$d/overwatch.yaml (above)"
  fi
done

# taskset execs the server, so $! is the server's PID.
"${SRV_PIN[@]}" knotd -c "$W/knot/knotd.conf" > "$W/knot/knotd.log" 2>&1 < /dev/null &
KNOT_PID=$!
"${SRV_PIN[@]}" knotd -c "$W/knot-signed/knotd.conf" > "$W/knot-signed/knotd.log" 2>&1 < /dev/null &
KSIGN_PID=$!
"${SRV_PIN[@]}" knotd -c "$W/knot-online/knotd.conf" > "$W/knot-online/knotd.log" 2>&1 < /dev/null &
KONL_PID=$!
"${SRV_PIN[@]}" "$OURS_BIN" -c "$W/ours/overwatch.yaml" > "$W/ours/overwatchd.log" 2>&1 < /dev/null &
OURS_PID=$!
"${SRV_PIN[@]}" "$OURS_BIN" -c "$W/big/overwatch.yaml" > "$W/big/overwatchd.log" 2>&1 < /dev/null &
BIG_PID=$!

wait_ready "$KNOT_PID" "$KNOT_PORT" "app-rr.$ZONE" || {
  tail -20 "$W/knot/knotd.log" >&2; die "knotd did not answer app-rr.$ZONE A within ${READY_TIMEOUT}s"; }
wait_ready "$KSIGN_PID" "$KSIGN_PORT" "app-rr.$ZONE" signed || {
  tail -20 "$W/knot-signed/knotd.log" >&2; die "knotd signed did not answer app-rr.$ZONE A signed within ${READY_TIMEOUT}s"; }
wait_ready "$KONL_PID" "$KONL_PORT" "app-rr.$ZONE" signed || {
  tail -20 "$W/knot-online/knotd.log" >&2; die "knotd onlinesign did not answer app-rr.$ZONE A signed within ${READY_TIMEOUT}s"; }
wait_ready "$OURS_PID" "$OURS_PORT" "rr.$ZONE" signed || {
  tail -20 "$W/ours/overwatchd.log" >&2; die "gslb-overwatchd did not answer rr.$ZONE A signed within ${READY_TIMEOUT}s"; }
wait_ready "$BIG_PID" "$BIG_PORT" "s$((BIG_NAMES - 1)).$ZONE" signed || {
  tail -20 "$W/big/overwatchd.log" >&2; die "gslb-overwatchd (10,000 backends) did not answer within ${READY_TIMEOUT}s"; }
log "all servers answer ($((SECONDS - T_START)) s)"

# knotd pins its UDP workers itself (worker i to CPU i mod the CPU count), so
# taskset at start is not enough: its worker would run on dnsperf's CPU 0,
# where waking it and freeing its packets needs no inter-processor interrupt.
# Every thread of every server is pinned to CPU 1 here and checked after the
# runs.
threads_off_cpu() { # pid -> the thread IDs allowed anywhere but SRV_CPU only
  local t
  for t in /proc/"$1"/task/*; do
    [ "$(awk '/^Cpus_allowed_list:/{print $2}' "$t/status" 2>/dev/null)" = "$SRV_CPU" ] || printf '%s ' "${t##*/}"
  done
}
PINNED=()
pin_server() { # pid label
  local off
  off=$(threads_off_cpu "$1")
  [ -z "$off" ] && return 0
  taskset -a -p -c "$SRV_CPU" "$1" > /dev/null || die "cannot pin $2 (PID $1) to CPU $SRV_CPU"
  [ -z "$(threads_off_cpu "$1")" ] || die "$2 (PID $1) has threads off CPU $SRV_CPU after taskset -a"
  PINNED+=("$2: thread(s) ${off% } had moved themselves off CPU $SRV_CPU; pinned back")
  log "pinned $2 threads ${off% } back to CPU $SRV_CPU"
}
check_pinned() { # every server's threads still on SRV_CPU only
  local p off
  for p in "$KNOT_PID:knotd" "$KSIGN_PID:knotd signed" "$KONL_PID:knotd onlinesign" "$OURS_PID:gslb-overwatchd" "$BIG_PID:gslb-overwatchd 10k"; do
    off=$(threads_off_cpu "${p%%:*}")
    [ -z "$off" ] || die "${p#*:} moved thread(s) $off off CPU $SRV_CPU during the runs: the numbers are not comparable"
  done
}
if [ "$PIN" = 1 ]; then
  pin_server "$KNOT_PID" knotd
  pin_server "$KSIGN_PID" "knotd signed"
  pin_server "$KONL_PID" "knotd onlinesign"
  pin_server "$OURS_PID" gslb-overwatchd
  pin_server "$BIG_PID" "gslb-overwatchd 10k"
fi

# ------------------------------------------------------------ answer checks
CHECKS=()
in_list() { local x=$1 y; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
check_name() { # label port name n expect(rr|w|fo|static) pool...
  local label=$1 port=$2 name=$3 n=$4 kind=$5 i a bad=0 multi=0 seq=()
  shift 5
  for ((i = 0; i < n; i++)); do
    a=$(q "$port" "$name")
    [ "$(printf '%s\n' "$a" | grep -c .)" != 1 ] && multi=1
    a=${a%%$'\n'*}
    seq+=("${a:-none}")
    in_list "$a" "$@" || bad=1
  done
  local distinct note="ok"
  distinct=$(printf '%s\n' "${seq[@]}" | sort -u | wc -l)
  [ $multi = 1 ] && note="NOT one A record per answer"
  [ $bad = 1 ] && note="answer outside the expected set"
  case "$kind" in
    rr) [ "$note" = ok ] && [ "$distinct" -lt 4 ] && note="only $distinct of 4 backends in $n answers" ;;
    fo|static) [ "$note" = ok ] && [ "$distinct" != 1 ] && note="answer changes ($distinct distinct)" ;;
    w) [ "$note" = ok ] && [ "$distinct" -lt 2 ] && note="only $distinct backend in $n answers" ;;
  esac
  local summary
  summary=$(printf '%s\n' "${seq[@]}" | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')
  CHECKS+=("$label: $name A, $n queries -> $summary: $note")
  log "check $label: $summary -> $note"
}
check_name "knotd"  "$KNOT_PORT" "app-rr.$ZONE" 4  static "${RR[0]}"
check_name "ours one" "$OURS_PORT" "one.$ZONE"  4  static "$ONE"
check_name "ours rr" "$OURS_PORT" "rr.$ZONE"    8  rr     "${RR[@]}"
check_name "ours w"  "$OURS_PORT" "w.$ZONE"     40 w      "${WT[@]}"
check_name "ours fo" "$OURS_PORT" "fo.$ZONE"    8  fo     "${FO[0]}"
check_name "ours 10k" "$BIG_PORT" "s1234.$ZONE" 8  rr     127.14.234.1 127.14.234.2 127.14.234.3 127.14.234.4
check_signed() { # label port name: DO=1 answers hold one A record and one RRSIG over it
  local label=$1 port=$2 name=$3 i got bad=0
  for ((i = 0; i < 4; i++)); do
    got=$(sigs "$port" "$name")
    [ "$got" = "1 1" ] || bad=1
  done
  if [ $bad = 0 ]; then
    CHECKS+=("$label: $name A with DO=1, 4 queries -> one A record and one RRSIG over it each: ok")
  else
    CHECKS+=("$label: $name A with DO=1: NOT one A record and one RRSIG (last: $got)")
  fi
  log "check $label DO=1: A and RRSIG counts $got"
}
check_signed "knotd signed"     "$KSIGN_PORT" "app-rr.$ZONE"
check_signed "knotd onlinesign" "$KONL_PORT"  "app-rr.$ZONE"
check_signed "ours one"         "$OURS_PORT"  "one.$ZONE"
check_signed "ours rr"          "$OURS_PORT"  "rr.$ZONE"
check_signed "ours w"           "$OURS_PORT"  "w.$ZONE"
check_signed "ours fo"          "$OURS_PORT"  "fo.$ZONE"
check_signed "ours 10k"         "$BIG_PORT"   "s1234.$ZONE"

# ------------------------------------------------------------ measurement
ROW_LABEL=("knotd static" "knotd signed" "knotd onlinesign"
  "ours one" "ours rr" "ours w" "ours fo" "ours 10k"
  "ours one DO=1" "ours rr DO=1" "ours w DO=1" "ours fo DO=1" "ours 10k DO=1")
ROW_NAME=("app-rr.$ZONE" "app-rr.$ZONE" "app-rr.$ZONE"
  "one.$ZONE" "rr.$ZONE" "w.$ZONE" "fo.$ZONE" "s*.$ZONE"
  "one.$ZONE" "rr.$ZONE" "w.$ZONE" "fo.$ZONE" "s*.$ZONE")
ROW_BACKENDS=(1 1 1 1 4 4 4 4 1 4 4 4 4) # per name (knotd: A records)
O=$OURS_PORT B=$BIG_PORT
ROW_PORT=("$KNOT_PORT" "$KSIGN_PORT" "$KONL_PORT" "$O" "$O" "$O" "$O" "$B" "$O" "$O" "$O" "$O" "$B")
O=$OURS_PID B=$BIG_PID
ROW_PID=("$KNOT_PID" "$KSIGN_PID" "$KONL_PID" "$O" "$O" "$O" "$O" "$B" "$O" "$O" "$O" "$O" "$B")
ROW_DO=(0 1 1 0 0 0 0 0 1 1 1 1 1)          # 1: dnsperf -D (EDNS0 with the DO bit)
ROW_BASE=(-1 0 0 -1 -1 -1 -1 -1 3 4 5 6 7) # the DO=0 row of the same name and server
ROW_SLOW=(0 0 1 0 0 0 0 0 0 0 0 0 0)       # cannot reach -Q RATE by design (signs per query)
NROWS=${#ROW_LABEL[@]}
for ((k = 0; k < NROWS; k++)); do
  case "${ROW_NAME[$k]}" in
    "s*.$ZONE") awk -v n="$BIG_NAMES" -v z="$ZONE" 'BEGIN { for (i = 0; i < n; i++) printf "s%d.%s A\n", i, z }' ;;
    *) echo "${ROW_NAME[$k]} A" ;;
  esac > "$W/query-$k.txt"
done
: > "$W/runs.tsv"
WARMED=()

measure() { # mode(closed|fixed) row round
  local mode=$1 k=$2 r=$3
  local port=${ROW_PORT[$k]} pid=${ROW_PID[$k]} qf=$W/query-$k.txt
  local raw=$RAW/$mode-row$k-round$r.txt rate=() dnssec=()
  # At the fixed rate dnsperf also prints each answer's latency (-v), for
  # the 99th percentile; in the closed loop that printing would slow it.
  [ "$mode" = fixed ] && rate=(-Q "$RATE" -v)
  [ "${ROW_DO[$k]}" = 1 ] && dnssec=(-D)
  kill -0 "$pid" 2>/dev/null || die "${ROW_LABEL[$k]}: server (PID $pid) is gone"
  if [ -z "${WARMED[$k]:-}" ] && [ "$WARM" -gt 0 ]; then
    timeout $((WARM + 15)) "${CLI_PIN[@]}" dnsperf -s "$ADDR" -p "$port" -d "$qf" -l "$WARM" \
      -c "$CLIENTS" -q "$OUTSTANDING" "${dnssec[@]}" > /dev/null 2>&1
  fi
  WARMED[k]=1
  local t0 t1 s0 s1 tf=$RAW/$mode-row$k-round$r.time wall=0 cu=0 cs=0
  t0=$(cpu_ticks "$pid"); s0=$(sys_busy)
  # bash's `time` gives the wall time and dnsperf's own CPU time (user, sys)
  { TIMEFORMAT='%3R %3U %3S'; time timeout $((DUR + 15)) "${CLI_PIN[@]}" dnsperf -s "$ADDR" -p "$port" \
      -d "$qf" -l "$DUR" -c "$CLIENTS" -q "$OUTSTANDING" "${rate[@]}" "${dnssec[@]}" > "$raw" 2>&1; } 2> "$tf"
  s1=$(sys_busy); t1=$(cpu_ticks "$pid")
  read -r wall cu cs < "$tf" 2>/dev/null
  if [ -z "$t0" ] || [ -z "$t1" ]; then die "${ROW_LABEL[$k]}: server (PID $pid) died during the run"; fi
  local rss comp lost qps lat resp rc
  rss=$(rss_kb "$pid")
  comp=$(awk '/Queries completed:/{print $3; exit}' "$raw")
  lost=$(awk '/Queries lost:/{print $3; exit}' "$raw")
  qps=$(awk '/Queries per second:/{print $4; exit}' "$raw")
  lat=$(awk '/Average Latency \(s\):/{print $4; exit}' "$raw")
  resp=$(awk '/Average packet size:/{print $NF; exit}' "$raw")
  rc=$(awk -F': *' '/Response codes:/{print $2; exit}' "$raw")
  local p99=-
  if [ "$mode" = fixed ]; then
    p99=$(awk '/^> /{print $NF}' "$raw" | sort -g |
      awk '{ v[NR] = $1 } END { if (NR) { i = int(NR * 0.99); if (i < NR * 0.99) i++; printf "%.3f", v[i] * 1000 } }')
    [ -n "$p99" ] || p99=-
  fi
  if [ -z "$comp" ] || [ "$comp" = 0 ] || [ -z "$qps" ]; then
    log "${ROW_LABEL[$k]} $mode round $r: dnsperf gave no result:"; sed 's/^/#   /' "$raw" >&2
    die "measurement failed"
  fi
  local rcok=1
  case "$rc" in "NOERROR $comp (100.00%)") ;; *) rcok=0 ;; esac
  local m
  # t0/t1 are "utime stime"; awk splits them
  m=$(awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v wall="$wall" -v cu="$cu" -v cs="$cs" \
        -v clk="$CLK" -v n="$NCPU" -v comp="$comp" -v lat="$lat" 'BEGIN {
        split(t0, a, " "); split(t1, b, " ")
        usr = (b[1] - a[1]) / clk; sys = (b[2] - a[2]) / clk; srv = usr + sys; cli = cu + cs; if (wall <= 0) wall = 1
        oth = ((s1 - s0) / clk - srv - cli) / (n * wall) * 100; if (oth < 0) oth = 0
        printf "%.3f %.1f %.3f %.1f %.1f %.3f %.3f\n", srv * 1e6 / comp, srv / wall * 100, lat * 1000, oth,
          cli / wall * 100, usr * 1e6 / comp, sys * 1e6 / comp }')
  # shellcheck disable=SC2086
  set -- $m
  # runs.tsv: mode row round qps us/q srv% lat_ms lost rss_kb resp_B oth% rcok rcodes cli% user_us/q sys_us/q p99_ms
  printf '%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$k" "$r" "$qps" "$1" "$2" "$3" \
    "${lost:-0}" "${rss:-0}" "${resp:-0}" "$4" "$rcok" "$rc" "$5" "$6" "$7" "$p99" >> "$W/runs.tsv"
  log "$(printf '%-13s %-6s round %d: qps=%s us/q=%s (user %s, sys %s) srv%%=%s cli%%=%s oth%%=%s lat_ms=%s p99_ms=%s lost=%s rss_kb=%s rcodes=[%s]' \
    "${ROW_LABEL[$k]}" "$mode" "$r" "$qps" "$1" "$6" "$7" "$2" "$5" "$4" "$3" "$p99" "${lost:-0}" "${rss:-0}" "$rc")"
}

for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r/$ROUNDS"
  for mode in "${MODES[@]}"; do
    for ((k = 0; k < NROWS; k++)); do measure "$mode" "$k" "$r"; done
  done
done
ELAPSED=$((SECONDS - T_START))

# ------------------------------------------------------------ summary
# summarize MODE: one line per row (tab-separated):
#   1 label  2 name  3 qps  4 us/q  5 user_us/q  6 sys_us/q  7 ratio  8 srv%  9 cli%
#   10 lat_ms  11 lost  12 rss_MB  13 resp_B  14 oth%  15 rcodes  16 limit
#   17 ratio to the DO=0 row of the same name and server ("-" if none)
#   18 DO  19 1 if the row cannot reach -Q RATE by design  20 p99 latency ms
#   ("-" in the closed loop)  21 backends per name  22 p99 ratio to knotd static's
# Medians over the rounds; user and sys come from the run(s) whose total is the
# median (the mean of the two middle runs for an even count), so they add up
# to the total. ratio = total us/q relative to knotd's in the same mode.
# limit = what bounded the rate: "-Q" when a fixed-rate run reached 97% of
# RATE, else the server (its core is full), dnsperf, or neither (both wait on
# each other: wake-up latency bound).
summarize() {
  for ((k = 0; k < NROWS; k++)); do
    printf '%d\t%s\t%s\t%d\t%d\t%d\t%d\n' "$k" "${ROW_LABEL[$k]}" "${ROW_NAME[$k]}" "${ROW_BASE[$k]}" \
      "${ROW_DO[$k]}" "${ROW_SLOW[$k]}" "${ROW_BACKENDS[$k]}"
  done |
  awk -F'\t' -v mode="$1" -v rate="$RATE" '
    function med(s,   a, n, i, j, t) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) { t = a[i]; j = i - 1; while (j > 0 && a[j] + 0 > t + 0) { a[j + 1] = a[j]; j-- } a[j + 1] = t }
      if (n % 2) return a[(n + 1) / 2]
      return (a[n / 2] + a[n / 2 + 1]) / 2
    }
    FILENAME != "-" {
      if ($1 != mode) next
      k = $2; qps[k] = qps[k] " " $4; sp[k] = sp[k] " " $6; lat[k] = lat[k] " " $7
      lost[k] = lost[k] " " $8; if ($9 + 0 > rss[k] + 0) rss[k] = $9; resp[k] = resp[k] " " $10
      oth[k] = oth[k] " " $11; if ($12 != 1) bad[k] = 1; cp[k] = cp[k] " " $14
      if ($17 != "-") p99[k] = p99[k] " " $17
      i = ++cnt[k]; T[k, i] = $5; U[k, i] = $15; S[k, i] = $16
      next
    }
    {
      k = $1; n = cnt[k]
      for (i = 1; i <= n; i++) idx[i] = i
      for (i = 2; i <= n; i++) { t = idx[i]; j = i - 1; while (j > 0 && T[k, idx[j]] + 0 > T[k, t] + 0) { idx[j + 1] = idx[j]; j-- } idx[j + 1] = t }
      if (n % 2) { a = b = idx[(n + 1) / 2] } else { a = idx[n / 2]; b = idx[n / 2 + 1] }
      tot = (T[k, a] + T[k, b]) / 2; usr = (U[k, a] + U[k, b]) / 2; sys = (S[k, a] + S[k, b]) / 2
      if (k == 0) base = tot
      TOT[k] = tot
      rdo = ($4 >= 0 && TOT[$4] > 0) ? sprintf("%.2f", tot / TOT[$4]) : "-"
      q = med(qps[k]); s = med(sp[k]); c = med(cp[k])
      l = (mode == "fixed" && q >= 0.97 * rate) ? "-Q" : (s >= 90) ? "server" : (c >= 90) ? "dnsperf" : "neither"
      p = (k in p99) ? med(p99[k]) : -1
      if (k == 0) pbase = p
      pr = (p > 0 && pbase > 0) ? sprintf("%.2f", p / pbase) : "-"
      printf "%s\t%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.0f\t%.3f\t%s\t%.1f\t%.0f\t%.0f\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\n", $2, $3, q, tot, usr, sys,
        (base > 0 ? tot / base : 0), s, c, med(lat[k]), med(lost[k]), rss[k] / 1024,
        med(resp[k]), med(oth[k]), ((k in bad) ? "NOT all NOERROR" : "all NOERROR"), l, rdo, $5, $6,
        (p >= 0 ? sprintf("%.3f", p) : "-"), $7, pr
    }' "$W/runs.tsv" -
}
if [ "$PIN" = 1 ]; then check_pinned; fi
declare -A SUMMARY=()
for mode in "${MODES[@]}"; do SUMMARY[$mode]=$(summarize "$mode"); done

mode_title() {
  case "$1" in
    closed) echo "closed loop (-c $CLIENTS -q $OUTSTANDING, no rate limit: each server at its own rate)" ;;
    fixed) echo "fixed rate (-c $CLIENTS -q $OUTSTANDING -Q $RATE: every row at the same rate)" ;;
  esac
}
for mode in "${MODES[@]}"; do
  printf '\n%s\n' "$(mode_title "$mode")"
  printf '%-16s %-17s %2s %2s %8s %7s %9s %8s %7s %7s %5s %5s %-7s %7s %7s %5s %6s %6s %5s  %s\n' \
    row name DO be qps us/q user_us/q sys_us/q ratio r_DO=0 srv% cli% limit lat_ms p99_ms lost rss_MB resp_B oth% rcodes
  printf '%s\n' "${SUMMARY[$mode]}" | awk -F'\t' '{ printf "%-16s %-17s %2s %2s %8s %7s %9s %8s %6sx %7s %5s %5s %-7s %7s %7s %5s %6s %6s %5s  %s\n", $1, $2, $18, $21, $3, $4, $5, $6, $7, ($17 == "-" ? "-" : $17 "x"), $8, $9, $16, $10, $20, $11, $12, $13, $14, $15 }'
done
echo
echo "Medians of $ROUNDS rounds x ${DUR}s."
echo "be = backends per name (knotd: A records); lat_ms / p99_ms = mean and 99th-percentile latency"
echo "(p99 from dnsperf -v, fixed rate only). us/q = server CPU time per answered query"
echo "(utime+stime), user_us/q + sys_us/q its split into user space and kernel (from the"
echo "median run); ratio = us/q relative to knotd static's in the same table; r_DO=0 = us/q"
echo "relative to the DO=0 row of the same name and server; srv% / cli% ="
echo "server / dnsperf CPU in % of one core; limit = what bounded the rate (-Q: the fixed"
echo "rate was reached; else a side at >= 90% of its core, or neither); oth% = CPU of"
echo "everything else in % of all $NCPU cores (noise); rss = max VmRSS."
for c in "${CHECKS[@]}"; do echo "check: $c"; done
for c in "${PINNED[@]}"; do echo "pinned: $c"; done
# Foreign load makes every number worse and the comparison unfair; say so.
NOISY=0
SHORT=0
for mode in "${MODES[@]}"; do
  NOISY=$((NOISY + $(printf '%s\n' "${SUMMARY[$mode]}" | awk -F'\t' '$14 > 10 { n++ } END { print n + 0 }')))
  [ "$mode" = fixed ] && SHORT=$(printf '%s\n' "${SUMMARY[$mode]}" | awk -F'\t' '$16 != "-Q" && $19 != 1 { n++ } END { print n + 0 }')
done
if [ "$NOISY" -gt 0 ]; then
  echo "WARNING: other processes used more than 10% of the machine during $NOISY row(s) (oth%): rerun on a quiet machine."
fi
if [ "$SHORT" -gt 0 ]; then
  echo "WARNING: $SHORT row(s) of the fixed-rate table stayed below 97% of -Q $RATE: not an equal-load comparison; rerun with a lower -Q."
fi
log "measured in $ELAPSED s"

# ------------------------------------------------------------ docs/benchmarks.md
if [ "$WRITE" = 1 ]; then
  DOC=$SRC/docs/benchmarks.md
  BEGIN_MARK='<!-- dns-bench:begin (generated by tests/bench/dns-bench.sh --write; edits inside are overwritten) -->'
  END_MARK='<!-- dns-bench:end -->'
  OURS_VER=$("$OURS_BIN" -V 2>/dev/null | head -1)
  KNOT_VER=$(knotd -V 2>/dev/null | head -1)
  PERF_VER=$(dnsperf -h 2>&1 | awk '/^Version/{print $2; exit}')
  COMMIT=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ "$COMMIT" != unknown ] && [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no -- . ':(exclude)docs' 2>/dev/null)$(git -C "$SRC" ls-files --others --exclude-standard -- lib overwatchd 2>/dev/null)" ]; then
    COMMIT="$COMMIT + uncommitted changes"
  fi
  CFLAGS_USED=$(awk -F' = ' '/^(CFLAGS|GSLB_CFLAGS) = /{printf "%s%s", (n++ ? " " : ""), $2}' "$(dirname "$(dirname "$OURS_BIN")")/Makefile" 2>/dev/null)
  MODEL=$(lscpu 2>/dev/null | awk -F': *' '/Model name/{print $2; exit}')
  MEM=$(awk '/MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  REPRO="tests/bench/dns-bench.sh -l $DUR -r $ROUNDS -Q $RATE"
  [ "${MODES[*]}" = closed ] && REPRO="$REPRO --no-fixed"
  [ "${MODES[*]}" = fixed ] && REPRO="$REPRO --fixed-only"
  REPRO="$REPRO -b /tmp/build-bench --write"
  SECTION=$W/section.md
  md_table() { # mode
    if [ "$1" = fixed ]; then
      echo "| row | name | backends | DO | qps | server CPU µs/q | user µs/q | sys µs/q | ratio to knotd static (total) | ratio to DO=0 (total) | server CPU % | dnsperf CPU % | rate bound by | mean latency ms | p99 latency ms | p99 ratio to knotd static | lost | RSS MB | response B |"
      echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    else
      echo "| row | name | backends | DO | qps | server CPU µs/q | user µs/q | sys µs/q | ratio to knotd static (total) | ratio to DO=0 (total) | server CPU % | dnsperf CPU % | rate bound by | mean latency ms | lost | RSS MB | response B |"
      echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
    fi
    printf '%s\n' "${SUMMARY[$1]}" | awk -F'\t' -v mode="$1" '{
      row = $1; sub(/^ours /, "gslb-overwatchd ", row); sub(/ DO=1$/, "", row)
      if ($15 != "all NOERROR") row = row " (" $15 ")"
      p = (mode == "fixed") ? sprintf(" %s | %sx |", $20, $22) : ""
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %sx | %s | %s | %s | %s | %s |%s %s | %s | %s |\n", row, $2, $21, $18, $3, $4, $5, $6, $7,
        ($17 == "-" ? "" : "**" $17 "x**"), $8, $9, $16, $10, p, $11, $12, $13 }'
  }
  # DO=1 against DO=0 for ours: over all its rows (sum of us/q with DO=1
  # over the sum with DO=0, what the target is judged by) and per name
  # (lowest, highest); the spread of its DO=0 rows, which answer the
  # same way and so show the run-to-run noise; knotd signed's and
  # onlinesign's ratios and onlinesign's us/q against ours with DO=1. From
  # the fixed-rate table if there is one (equal load), else the closed loop.
  DO_MODE=${MODES[${#MODES[@]} - 1]}
  read -r DO_ALL DO_LO DO_HI NOISE OURS1_LO OURS1_HI KSIGN_R KONL_R KONL_US KONL_QPS <<< "$(printf '%s\n' "${SUMMARY[$DO_MODE]}" |
    awk -F'\t' '
      $1 ~ /^ours / && $18 == 1 { r = $17 + 0; if (n++ == 0 || r < lo) lo = r; if (n == 1 || r > hi) hi = r
        u = $4 + 0; s1 += u; if (u < ulo || n == 1) ulo = u; if (u > uhi || n == 1) uhi = u }
      $1 ~ /^ours / && $18 == 0 { u = $4 + 0; s0 += u; if (m++ == 0 || u < zlo) zlo = u; if (m == 1 || u > zhi) zhi = u }
      $1 == "knotd signed" { ks = $17 }
      $1 == "knotd onlinesign" { ko = $17; kus = $4; kq = $3 }
      END { printf "%.2f %.2f %.2f %.0f %.2f %.2f %s %s %s %s\n", (s0 > 0 ? s1 / s0 : 0), lo, hi,
        (s0 > 0 ? (zhi - zlo) / (s0 / m) * 100 : 0), ulo, uhi, ks, ko, kus, kq }')"
  # sys share of the total per row, lowest and highest over all tables
  # (knotd onlinesign aside: it spends its time signing)
  SYS_SHARE=$(for mode in "${MODES[@]}"; do printf '%s\n' "${SUMMARY[$mode]}"; done |
    awk -F'\t' '$4 > 0 && $19 != 1 { p = $6 / $4 * 100; if (n++ == 0 || p < lo) lo = p; if (n == 1 || p > hi) hi = p }
      END { if (n) printf "%.0f %.0f\n", lo, hi }')
  read -r SYS_LO SYS_HI <<< "${SYS_SHARE:-0 0}"
  HAVE_CLOSED=0; HAVE_FIXED=0
  for mode in "${MODES[@]}"; do
    [ "$mode" = closed ] && HAVE_CLOSED=1
    [ "$mode" = fixed ] && HAVE_FIXED=1
  done
  if [ "$HAVE_CLOSED" = 1 ] && [ "$HAVE_FIXED" = 1 ]; then
    MODE_TEXT="in two modes: closed loop (no rate limit: each answer lets the next query
go, so each server runs at its own rate) and fixed rate (\`-Q $RATE\`: dnsperf sends
at most $RATE queries per second, the same for every row, so the servers work at
the same load). Every row is measured in both modes in $ROUNDS interleaved rounds (each
row and mode once per round"
  elif [ "$HAVE_CLOSED" = 1 ]; then
    MODE_TEXT="in a closed loop (no rate limit: each answer lets the next query go, so
each server runs at its own rate). The $NROWS rows are measured in $ROUNDS interleaved
rounds (each row once per round"
  else
    MODE_TEXT="at a fixed rate (\`-Q $RATE\`: dnsperf sends at most $RATE queries per
second, the same for every row, so the servers work at the same load). The $NROWS rows
are measured in $ROUNDS interleaved rounds (each row once per round"
  fi
  {
    echo "$BEGIN_MARK"
    echo "## DNS: gslb-overwatchd vs knotd (UDP, DO=0 and DO=1)"
    echo
    echo "Measured $(date -u +%F) on $(nproc) CPUs (${MODEL:-unknown model}), $MEM RAM, Linux $(uname -r)."
    echo "Versions: $OURS_VER (commit $COMMIT, CFLAGS \`${CFLAGS_USED:-unknown}\`);"
    echo "$KNOT_VER; dnsperf $PERF_VER."
    echo
    echo "**Method.** Five servers run at the same time on 127.0.0.1, pinned to CPU 1, each"
    echo "with one UDP worker thread (every thread of every server is pinned after start and"
    echo "checked after the runs: knotd moves its UDP worker to CPU 0, dnsperf's, by itself)."
    echo "Three knotd (\`udp-workers: 1\`, \`tcp-workers: 1\`,"
    echo "\`background-workers: 1\`) serve zone gslb.test. from the same zone file: unsigned"
    echo "(\"knotd static\"), signed once at load (\"knotd signed\": \`dnssec-signing: on\`) and"
    echo "signed per answer (\"knotd onlinesign\": \`module: mod-onlinesign\`), both with a"
    echo "policy of one ECDSAP256SHA256 key and NSEC. gslb-overwatchd (\`dns.workers: 1\`,"
    echo "logging at warn, DNSSEC on as by default: one ECDSAP256SHA256 CSK, NSEC, every"
    echo "answer set signed in advance by the snapshot builder) serves a name with one"
    echo "healthy backend (one) and three with 4 healthy IPv4 backends each: round-robin (rr),"
    echo "weighted 100/200/300/400 (w) and failover (fo); one process answers both its DO=0"
    echo "and its DO=1 rows. A second gslb-overwatchd, configured the same way, serves"
    echo "$BIG_NAMES round-robin names of 4 backends each: 10,000 backends (10k), queried"
    echo "name after name. Every answer holds one A record (\`max_records\` is 1 by default),"
    echo "and with DO=1 one RRSIG over it. dnsperf, pinned to CPU 0, sends one"
    echo "name per row (10k: all its names in turn) over UDP, for DO=0 without EDNS (no OPT record), for DO=1 with \`-D\`"
    echo "(EDNS0, payload 4096, the DO bit), with"
    echo "\`-c $CLIENTS -q $OUTSTANDING\` ($CLIENTS clients, at most $OUTSTANDING queries outstanding) for $DUR s per run,"
    echo "$MODE_TEXT,"
    echo "${WARM} s warm-up before a row's first run) and the median is shown."
    echo "Server CPU is the CPU time of the whole server process from \`/proc/PID/stat\`: user"
    echo "(utime, field 14), sys (stime, field 15) and their sum, in \`getconf CLK_TCK\` ticks"
    echo "read before and after each run and divided by the answered queries: the cost of one"
    echo "answer on one core, in user space and in the kernel. It stays meaningful when dnsperf"
    echo "rather than the server limits the rate, but it depends on the load (the busier a"
    echo "worker, the more queries it handles per wake-up and per system call). With tick-based"
    echo "CPU accounting the kernel splits run time into user and sys by sampling at the timer"
    echo "tick, so the split, above all the smaller user part, is noisier than the total; user"
    echo "and sys are those of the run(s) whose total is the median, so they add up to it. On"
    echo "loopback the sender's system call also delivers the packet to the receiving socket,"
    echo "so a server's sys time includes delivering its answers to dnsperf, for all servers"
    if [ "$HAVE_FIXED" = 1 ]; then
      echo "alike. \"Rate bound by\" is \"-Q\" when the fixed rate was reached, else the side whose"
    else
      echo "alike. \"Rate bound by\" is the side whose"
    fi
    echo "core was at least 90% busy, or \"neither\" when both waited on each other."
    echo "\"Ratio to DO=0\" compares a DO=1 row with the DO=0 row of the same name on the"
    echo "same server (for knotd: knotd static)."
    echo "At the fixed rate dnsperf also prints every answer's latency (\`-v\`): the p99 column"
    echo "is the 99th percentile of those (median over the rounds); the mean is dnsperf's own."
    echo "Answers were checked with kdig before the load; every run was 100% NOERROR unless"
    echo "the table says otherwise."
    if [ "$HAVE_CLOSED" = 1 ]; then
      echo
      echo "**Closed loop** (\`-c $CLIENTS -q $OUTSTANDING\`, no rate limit): each server answers as fast as the loop allows, so the rows run at different rates and the CPU per query is compared under different loads."
      echo
      md_table closed
    fi
    if [ "$HAVE_FIXED" = 1 ]; then
      echo
      echo "**Fixed rate** (\`-c $CLIENTS -q $OUTSTANDING -Q $RATE\`): every row gets the same $RATE queries per second, so the CPU per query of the servers is compared at equal load (knotd onlinesign aside, which cannot sign that many answers a second on one core)."
      echo
      md_table fixed
    fi
    if [ "$SHORT" -gt 0 ]; then
      echo
      echo "**Warning:** $SHORT row(s) of the fixed-rate table stayed below 97% of $RATE qps"
      echo "(\"rate bound by\" is not \"-Q\"), so that table is not an equal-load comparison."
    fi
    echo
    # One sentence per line: markdown joins them into one paragraph.
    if [ "$SYS_LO" -ge 50 ]; then
      echo "**Reading the numbers.** Kernel time dominates: sys is $SYS_LO–$SYS_HI% of the server CPU per query in every row but knotd onlinesign's."
    else
      echo "**Reading the numbers.** Kernel time (sys) is $SYS_LO–$SYS_HI% of the server CPU per query (knotd onlinesign aside)."
    fi
    echo "It is spent in the UDP receive and send system calls on loopback, including the delivery of each answer to dnsperf's socket, which all servers pay alike per call."
    echo "User time shows each server's own work: parsing the query, choosing the answer and building the response."
    if [ "$HAVE_CLOSED" = 1 ]; then
      echo "The closed-loop table favours the server with larger batches per system call: a server that answers later finds more queries waiting at each wake-up and receives and sends more of them per recvmmsg/sendmmsg, which lowers its sys µs/q at the cost of latency (see the average latency), and the rows run at different loads."
    fi
    if [ "$HAVE_FIXED" = 1 ]; then
      echo "The fixed-rate table compares the servers at equal load; what still differs in sys µs/q there comes from how many queries each server takes per wake-up."
    fi
    case "$DO_MODE" in fixed) DO_TABLE="fixed-rate" ;; *) DO_TABLE="closed-loop" ;; esac
    if awk -v h="$DO_ALL" 'BEGIN { exit !(h <= 1.2) }'; then DO_MET="met"; else DO_MET="NOT met"; fi
    echo "With DO=1, gslb-overwatchd uses ${DO_ALL}× the CPU per query it uses with DO=0 over all its rows in the $DO_TABLE table; name by name $DO_LO–$DO_HI×, where its DO=0 rows, which do nearly the same work, differ by $NOISE% among themselves: the noise of this measurement."
    echo "The answer and its RRSIG are copied from the snapshot and no signing happens per query; what is left is the EDNS record to parse and echo and the larger answer to send."
    echo "knotd signed, which also serves signatures made in advance, uses ${KSIGN_R}× its DO=0 CPU per query; knotd onlinesign, which signs each answer, ${KONL_R}× (${KONL_US} µs per query, $KONL_QPS answers a second), against $OURS1_LO–$OURS1_HI µs for gslb-overwatchd with DO=1."
    # The targets (docs/ARCHITECTURE.md), judged from the fixed-rate table
    # (equal load) if there is one.
    T_LOST=$(awk -F'\t' '{ n += $8 } END { print n + 0 }' "$W/runs.tsv") # every run, both modes
    T_RUNS=$(wc -l < "$W/runs.tsv")
    read -r T_DO0 T_DO1 T_RSS_SMALL T_RSS_BIG <<< "$(printf '%s\n' "${SUMMARY[$DO_MODE]}" |
      awk -F'\t' '
        $1 ~ /^ours / && $18 == 0 { if ($7 + 0 > d0) d0 = $7 + 0 }
        $1 ~ /^ours / && $18 == 1 { if ($7 + 0 > d1) d1 = $7 + 0 }
        $1 ~ /^ours (one|rr|w|fo)/ { if ($12 + 0 > rs) rs = $12 + 0 }
        $1 ~ /^ours 10k/ { if ($12 + 0 > rb) rb = $12 + 0 }
        END { printf "%.2f %.2f %.1f %.1f\n", d0, d1, rs, rb }')"
    verdict() { if awk -v v="$1" -v lim="$2" "BEGIN { exit !(v $3 lim) }"; then echo "met"; else echo "**not met**"; fi; }
    echo
    echo "**Targets** (docs/ARCHITECTURE.md; from the $DO_TABLE table):"
    echo
    echo "| target | measured | |"
    echo "|---|---|---|"
    echo "| CPU per query, DO=0, at most knotd static's | at most ${T_DO0}× (highest row of ours) | $(verdict "$T_DO0" 1.0 '<=') |"
    echo "| CPU per query, DO=1, at most 1.2× knotd static's | at most ${T_DO1}× | $(verdict "$T_DO1" 1.2 '<=') |"
    echo "| no query lost | $T_LOST lost in all $T_RUNS runs | $(verdict "$T_LOST" 0 '==') |"
    echo "| resident memory, small zone, at most 10 MB | $T_RSS_SMALL MB | $(verdict "$T_RSS_SMALL" 10 '<=') |"
    echo "| resident memory, 10,000 backends, under 50 MB | $T_RSS_BIG MB | $(verdict "$T_RSS_BIG" 50 '<') |"
    echo
    echo "Answer checks before the load:"
    echo
    for c in "${CHECKS[@]}"; do echo "- $c"; done | sed 's/^- ours /- gslb-overwatchd /'
    if [ ${#PINNED[@]} -gt 0 ]; then
      echo
      echo "Pinning:"
      echo
      for c in "${PINNED[@]}"; do echo "- $c"; done
    fi
    echo
    echo "Noise: median CPU use of everything but the server and dnsperf, in % of all"
    printf 'cores, during the runs ('
    SEP=""
    for mode in "${MODES[@]}"; do
      case "$mode" in closed) printf '%sclosed loop: ' "$SEP" ;; fixed) printf '%sfixed rate: ' "$SEP" ;; esac
      printf '%s\n' "${SUMMARY[$mode]}" | awk -F'\t' '{r = $1; sub(/^ours /, "gslb-overwatchd ", r); printf "%s%s %s%%", (NR > 1 ? ", " : ""), r, $14}'
      SEP="; "
    done
    echo ")."
    if [ "$NOISY" -gt 0 ]; then
      echo
      echo "**Warning:** other processes used more than 10% of the machine during $NOISY row(s);"
      echo "these numbers are noisier than usual."
    fi
    echo
    echo "**Reproduce** (a release build, i.e. without \`--enable-developer\`, outside the"
    echo "source tree; this run took $ELAPSED s; needs dnsperf, knot and knot-dnsutils):"
    echo
    echo '```sh'
    echo "mkdir -p /tmp/build-bench && cd /tmp/build-bench && /path/to/opengslb/configure && make overwatchd/gslb-overwatchd"
    echo "cd /path/to/opengslb && $REPRO"
    echo '```'
    echo "$END_MARK"
  } > "$SECTION"
  mkdir -p "$(dirname "$DOC")"
  if [ -f "$DOC" ] && grep -qF -- '<!-- dns-bench:begin' "$DOC" && grep -qF -- "$END_MARK" "$DOC"; then
    awk -v sec="$SECTION" -v endm="$END_MARK" '
      index($0, "<!-- dns-bench:begin") == 1 { while ((getline l < sec) > 0) print l; skip = 1; next }
      skip && $0 == endm { skip = 0; next }
      !skip { print }' "$DOC" > "$W/benchmarks.md.new"
  elif [ -f "$DOC" ]; then
    { cat "$DOC"; echo; cat "$SECTION"; } > "$W/benchmarks.md.new"
  else
    { echo "# Benchmarks"; echo; echo "Numbers measured on real machines; each section says how to reproduce it."; echo; cat "$SECTION"; } > "$W/benchmarks.md.new"
  fi
  cp "$W/benchmarks.md.new" "$DOC" && log "wrote $DOC"
fi
exit 0
