#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# agent-bench.sh - what many agents cost one gslb-overwatchd: registration
# time, heartbeats received per second, CPU per heartbeat and memory, with
# simulated agents (tests/bench/agent-sim) on loopback.
#
# Usage:
#   tests/bench/agent-bench.sh [-n AGENTS] [-k BACKENDS] [-i SECONDS]
#                              [-d SECONDS] [-r RATE] [--dnssec | --no-dnssec]
#                              [--shared-cert] [-c CERT_DIR] [--no-pin]
#                              [-b BUILD_DIR] [--keep]
#
#   -n AGENTS     simulated agents (default 10000; $AGENT_BENCH_AGENTS)
#   -k BACKENDS   backends per agent (default 1; $AGENT_BENCH_BACKENDS)
#   -i SECONDS    heartbeat interval of every agent (default 1;
#                 $AGENT_BENCH_INTERVAL)
#   -d SECONDS    whole run of the agents, registration included (default 60;
#                 $AGENT_BENCH_DURATION)
#   -r RATE       registrations started per second (default 2000;
#                 $AGENT_BENCH_REGISTER_RATE)
#   --dnssec      zone signing on (the default)
#   --no-dnssec   zone signing off
#   --shared-cert one certificate for all agents (default: one each)
#   -c DIR        where the agents' certificates are kept between runs, as
#                 making 10,000 takes a while (default
#                 ${TMPDIR:-/tmp}/opengslb-agent-bench-certs)
#   --no-pin      do not pin the daemon and the agents to separate CPUs
#   -b DIR        build directory holding overwatchd/gslb-overwatchd and
#                 tests/bench/agent-sim (default the current directory);
#                 $GSLB_OVERWATCHD and $GSLB_AGENT_SIM win over -b
#   --keep        keep the work directory (config, logs, agent-sim output)
#   -h, --help    this text
#
# Needs: bash, curl, awk, ss; taskset for pinning; Linux /proc. agent-sim is
# a check program: build it with `make tests/bench/agent-sim` (or
# `make check`) in the build directory.
#
# Method:
#   * gslb-overwatchd on loopback: zone gslb.example, domain
#     app.gslb.example (round-robin) in region "bench" with one static
#     server, overwatch.agent_tokens for app.gslb.example, the gossip
#     receiver on 127.0.0.1:PORT with a fresh key, validation off (nobody
#     answers at the agents' backend addresses), DNSSEC on or off, one DNS
#     worker, logging at warn, /metrics on loopback, a fresh data_dir.
#     With 2+ CPUs it runs on CPU 1 and agent-sim on CPU 0.
#   * agent-sim flood: AGENTS agents sim-00001... in region "bench", each
#     with BACKENDS healthy backends 10.x.y.z:80 of app.gslb.example; they
#     register (hello, signed registration, state) at RATE a second, then
#     each sends one MAC'd heartbeat per interval, spread evenly (AGENTS /
#     interval datagrams a second in all).
#   * Registration: from the first hello to the last state acknowledged
#     (agent-sim's registration_seconds), and the daemon's CPU time
#     meanwhile.
#   * Steady state: from 2 s after the last registration to 1 s before
#     agent-sim stops, the daemon's CPU time (utime + stime of all its
#     threads, /proc/PID/stat) and the heartbeats it accepted
#     (opengslb_gossip_messages_received_total{type="heartbeat"}; agent-sim's
#     acknowledgement count if the metric is missing); VmRSS at the end of
#     the window and VmHWM (peak).
#   * The table is printed in Markdown for docs/benchmarks.md.

set -u -o pipefail
set +m

N=${AGENT_BENCH_AGENTS:-10000}
K=${AGENT_BENCH_BACKENDS:-1}
INTERVAL=${AGENT_BENCH_INTERVAL:-1}
DURATION=${AGENT_BENCH_DURATION:-60}
RATE=${AGENT_BENCH_REGISTER_RATE:-2000}
DNSSEC=true
SHARED=
CERTS=${TMPDIR:-/tmp}/opengslb-agent-bench-certs
PIN=1
BUILD=.
KEEP=0
WARMUP=2

usage() { sed -n '/^# Usage:/,/^#   -h, --help/p' "$0" | sed 's/^# \{0,1\}//'; }
die() { printf 'agent-bench: %s\n' "$*" >&2; exit 1; }
log() { printf '# %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || die "-n needs a value"; N=$2; shift 2 ;;
    -k) [ $# -ge 2 ] || die "-k needs a value"; K=$2; shift 2 ;;
    -i) [ $# -ge 2 ] || die "-i needs a value"; INTERVAL=$2; shift 2 ;;
    -d) [ $# -ge 2 ] || die "-d needs a value"; DURATION=$2; shift 2 ;;
    -r) [ $# -ge 2 ] || die "-r needs a value"; RATE=$2; shift 2 ;;
    -c) [ $# -ge 2 ] || die "-c needs a value"; CERTS=$2; shift 2 ;;
    -b|--build) [ $# -ge 2 ] || die "$1 needs a value"; BUILD=$2; shift 2 ;;
    --dnssec) DNSSEC=true; shift ;;
    --no-dnssec) DNSSEC=false; shift ;;
    --shared-cert) SHARED=--shared-cert; shift ;;
    --no-pin) PIN=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
  esac
done
for v in N K DURATION RATE; do
  case "${!v}" in ''|*[!0-9]*) die "$v wants a whole number, not \"${!v}\"" ;; esac
done
case "$INTERVAL" in ''|*[!0-9.]*|*.*.*) die "-i wants seconds, e.g. 1 or 0.5" ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 99999 ] || die "-n must be 1..99999"
[ "$K" -ge 1 ] || die "-k must be >= 1"
[ "$RATE" -ge 1 ] || die "-r must be >= 1"
[ "$DURATION" -ge 10 ] || die "-d must be at least 10 seconds"

BIN=${GSLB_OVERWATCHD:-$BUILD/overwatchd/gslb-overwatchd}
SIM=${GSLB_AGENT_SIM:-$BUILD/tests/bench/agent-sim}
[ -x "$BIN" ] || die "no gslb-overwatchd at $BIN (give -b BUILD_DIR or GSLB_OVERWATCHD)"
[ -x "$SIM" ] || die "no agent-sim at $SIM (run \`make tests/bench/agent-sim\` in the build directory, or set GSLB_AGENT_SIM)"
for t in curl awk ss; do command -v "$t" >/dev/null || die "$t not found"; done

OW_PIN=()
SIM_PIN=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  OW_PIN=(taskset -c 1)
  SIM_PIN=(taskset -c 0)
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/agent-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$KEEP" = 1 ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT INT TERM

# A port free for both UDP and TCP on loopback.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    ss -Hanu "sport = :$p" 2>/dev/null | grep -q . && continue
    ss -Hant "sport = :$p" 2>/dev/null | grep -q . && continue
    echo "$p"
    return
  done
}

SRC=$(cd "$(dirname "$0")/../.." && pwd) || die "cannot find the source tree"
DNS_PORT=$(free_port)
GOSSIP_PORT=$(free_port)
METRICS_PORT=$(free_port)
KEY=$(head -c 32 /dev/urandom | base64)
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
SERVICE=app.gslb.example
ACK=$(awk '/#define GSLB_DNSSEC_ACK/{f=1; next} f{ if (match($0, /"[^"]*"/)) s = s substr($0, RSTART+1, RLENGTH-2); if ($0 !~ /\\[ \t]*$/) exit } END{print s}' "$SRC/lib/config.h")
mkdir -p "$W/data" "$CERTS" || die "cannot make $W/data or $CERTS"

umask 077
{
  cat <<EOF
# written by tests/bench/agent-bench.sh
mode: overwatch
logging: { level: warn, format: text }
dns:
  listen_address: "127.0.0.1:$DNS_PORT"
  workers: 1
  zones:
    - name: gslb.example
      nameservers: [{ name: ns1.gslb.example, addresses: [127.0.0.1] }]
overwatch:
  identity: { node_id: agent-bench }
  data_dir: "$W/data"
  agent_tokens:
    $SERVICE: "$TOKEN"
  gossip:
    bind_address: "127.0.0.1:$GOSSIP_PORT"
    encryption_key: "$KEY"
  validation: { enabled: false }
EOF
  if [ "$DNSSEC" = true ]; then
    echo "  dnssec: { enabled: true }"
  else
    echo "  dnssec: { enabled: false, security_acknowledgment: \"$ACK\" }"
  fi
  cat <<EOF
metrics: { enabled: true, address: "127.0.0.1:$METRICS_PORT" }
regions:
  - name: bench
    servers:
      - { address: 127.0.0.1, port: 9, service: $SERVICE }
    health_check: { type: tcp, interval: 1h, timeout: 1s, failure_threshold: 100 }
domains:
  - { name: $SERVICE, routing_algorithm: round-robin, regions: [bench] }
EOF
} > "$W/overwatch.yaml"
umask 022

if ! "$BIN" --check-config -c "$W/overwatch.yaml" > "$W/check.log" 2>&1; then
  cat "$W/check.log" >&2
  die "gslb-overwatchd rejects the benchmark configuration (above)"
fi

${OW_PIN[@]+"${OW_PIN[@]}"} "$BIN" -c "$W/overwatch.yaml" 2> "$W/overwatch.log" < /dev/null &
OW=$!
PIDS+=("$OW")
for _ in $(seq 300); do
  grep -q "listeners started" "$W/overwatch.log" 2>/dev/null &&
    ss -Hanu "sport = :$GOSSIP_PORT" 2>/dev/null | grep -q . && break
  kill -0 "$OW" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$OW" 2>/dev/null || { cat "$W/overwatch.log" >&2; die "gslb-overwatchd did not start"; }
ss -Hanu "sport = :$GOSSIP_PORT" | grep -q . ||
  { tail -n 50 "$W/overwatch.log" >&2; die "nothing listens on the gossip port $GOSSIP_PORT"; }

CLK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
now() { date +%s.%N; }
# One sample of an unlabelled metric, or of the one with the given label.
metric() {
  curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk -v name="$1" -v label="${2:-}" '
      $1 == name || (label != "" && index($1, name "{") == 1 && index($1, label)) { v = $2 }
      END { if (v != "") printf "%d\n", v }'
}
heartbeats_in() { metric opengslb_gossip_messages_received_total 'type="heartbeat"'; }
# A field of the last agent-sim line that has it.
sim_field() {
  grep "\"$1\":" "$W/sim.jsonl" 2>/dev/null | tail -n 1 |
    sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"
}
sim_event() { grep -q "\"event\":\"$1\"" "$W/sim.jsonl" 2>/dev/null; }
# When an event happened, in seconds since the agents started.
event_t() {
  grep "\"event\":\"$1\"" "$W/sim.jsonl" | head -n 1 |
    sed -n 's/.*"t":\([0-9.]*\).*/\1/p'
}
wait_event() {
  while ! sim_event "$1"; do
    kill -0 "$SIMPID" 2>/dev/null || return 1
    sleep 0.05
  done
}

log "$N agents x $K backends, heartbeat every ${INTERVAL}s, ${DURATION}s, DNSSEC $DNSSEC; certificates in $CERTS; work dir $W"
c_start=$(cpu_ticks "$OW")
${SIM_PIN[@]+"${SIM_PIN[@]}"} "$SIM" flood --overwatch "127.0.0.1:$GOSSIP_PORT" --key "$KEY" \
  --token "$TOKEN" --service "$SERVICE" --region bench \
  --agents "$N" --backends-per-agent "$K" --interval "$INTERVAL" \
  --duration "$DURATION" --register-rate "$RATE" --warmup "$WARMUP" \
  --cert-dir "$CERTS" $SHARED > "$W/sim.jsonl" 2> "$W/sim.log" &
SIMPID=$!
PIDS+=("$SIMPID")

# The identities first (slow the first time: no cache yet).
if wait_event identities; then
  log "identities ready in $(sim_field seconds) s ($(sim_field created) made)"
  c_reg0=$(cpu_ticks "$OW")
else
  c_reg0=$c_start
fi
if ! wait_event all_registered; then
  wait "$SIMPID"
  cat "$W/sim.log" >&2
  tail -n 3 "$W/sim.jsonl" >&2
  tail -n 20 "$W/overwatch.log" >&2
  die "the agents did not all register (agent-sim output above)"
fi
c_reg1=$(cpu_ticks "$OW")
wait_event steady || die "agent-sim stopped before the steady window"
STEADY_T=$(event_t steady)
c0=$(cpu_ticks "$OW"); t0=$(now); h0=$(heartbeats_in)
# Until 1 s before agent-sim stops sending.
WINDOW=$(awk -v d="$DURATION" -v s="$STEADY_T" 'BEGIN { w = d - s - 1; print (w > 1 ? w : 1) }')
sleep "$WINDOW"
c1=$(cpu_ticks "$OW"); t1=$(now); h1=$(heartbeats_in)
RSS=$(status_kb "$OW" VmRSS); HWM=$(status_kb "$OW" VmHWM)
REGISTERED=$(metric opengslb_overwatch_agents_registered)
wait "$SIMPID"
kill -0 "$OW" 2>/dev/null || { tail -n 50 "$W/overwatch.log" >&2; die "gslb-overwatchd died"; }
grep -q '"final":true' "$W/sim.jsonl" || die "agent-sim did not finish (see $W/sim.log)"

FINAL=$(grep '"final":true' "$W/sim.jsonl" | tail -n 1)
log "agent-sim: $FINAL"
field() { printf '%s\n' "$FINAL" | sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }
REG_S=$(field registration_seconds)
SIM_ACK_RATE=$(field steady_ack_rate)
SIM_RATE=$(field steady_rate)

awk -v n="$N" -v k="$K" -v iv="$INTERVAL" -v dnssec="$DNSSEC" \
    -v shared="${SHARED:+one shared}" -v clk="$CLK" \
    -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
    -v h0="${h0:-}" -v h1="${h1:-}" -v simack="$SIM_ACK_RATE" -v simrate="$SIM_RATE" \
    -v reg="$REG_S" -v creg0="$c_reg0" -v creg1="$c_reg1" \
    -v rss="$RSS" -v hwm="$HWM" -v registered="${REGISTERED:-?}" 'BEGIN {
  secs = t1 - t0
  cpu = (c1 - c0) / clk
  if (h0 != "" && h1 != "") { hb = h1 - h0; src = "metrics" }
  else { hb = simack * secs; src = "agent-sim ACKs" }
  rate = hb / secs
  if (shared == "") shared = "one each"
  printf "| agents | backends each | interval | certificates | DNSSEC | registration (all agents) | CPU during registration | heartbeats/s received | CPU (%% of one core) | CPU per heartbeat | VmRSS | VmHWM (peak) |\n"
  printf "|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
  printf "| %d | %d | %s s | %s | %s | %.1f s | %.1f s | %.0f | %.1f %% | %.1f µs | %.1f MB | %.1f MB |\n",
    n, k, iv, shared, dnssec == "true" ? "on" : "off", reg, (creg1 - creg0) / clk,
    rate, 100 * cpu / secs, (hb > 0 ? 1e6 * cpu / hb : 0), rss / 1024, hwm / 1024
  printf "\nSteady window %.1f s; heartbeats counted from %s; agent-sim sent %.0f/s; agents registered at the end (metric): %s\n",
    secs, src, simrate, registered
}'
