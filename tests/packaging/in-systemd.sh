#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a command while a real systemd (252, PID 1 of a throw-away
# systemd-nspawn container) is up, so that the packaged units run exactly
# as on a server: User=, capabilities, seccomp, ProtectSystem and the rest
# enforced by the kernel. For machines whose own PID 1 is not systemd, as
# CI's.
#
#   tests/packaging/in-systemd.sh [SRC[:DST] | +SRC[:DST]]... -- COMMAND...
#
# The container is `systemd-nspawn -D / --volatile=yes`: an empty tmpfs
# root with this machine's /usr read-only, so the installed packages' units,
# binaries, sysusers.d and tmpfiles.d files are there and nothing else is.
# Each SRC is bound read-only at DST (default: the same path); +SRC
# read-write. The network namespace is shared: a daemon inside listening on
# 127.0.0.1 answers on this machine's 127.0.0.1.
#
# COMMAND runs here, with IN_SYSTEMD set to a prefix that runs a command
# inside ("$IN_SYSTEMD systemctl start x"); its exit status is the
# script's. Needs root and systemd-container.
set -euo pipefail

say() { echo "in-systemd: $*" >&2; }
die() {
	say "$*"
	exit 2
}

[ "$(id -u)" = 0 ] || die "must run as root"
binds=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	binds+=("$1")
	shift
done
[ $# -ge 2 ] || die "usage: $0 [SRC[:DST]]... -- COMMAND..."
shift
command -v systemd-nspawn >/dev/null ||
	die "systemd-nspawn not found: apt-get install systemd-container"

machine="opengslb-test-$$"
work=$(mktemp -d /tmp/opengslb-systemd.XXXXXX)
nspawn_pid=""
leader=""
cgroups=()
timeout=60

teardown() {
	local rc=$?
	set +e
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# SIGTERM: nspawn asks the container's systemd to power off.
		kill -TERM "$nspawn_pid"
		for _ in $(seq $((timeout * 10))); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	# nspawn leaves its empty sub-cgroups, and cannot remove its
	# propagation directory when /run is not a tmpfs.
	for d in "${cgroups[@]}"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rmdir "/run/systemd/nspawn/propagate/$machine" 2>/dev/null
	rm -rf "$work"
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# A machine id of its own: not a first boot, so no firstboot prompts and no
# preset-all enabling every unit this machine has installed.
systemd-id128 new >"$work/machine-id"
args=(systemd-nspawn --quiet --boot --console=passive
	--machine="$machine" --register=no --kill-signal=SIGRTMIN+3
	-D / --volatile=yes
	--bind-ro="$work/machine-id:/etc/machine-id"
	--bind-ro=/dev/null:/etc/systemd/system/systemd-machine-id-commit.service)
for b in "${binds[@]}"; do
	opt=--bind-ro
	if [ "${b#+}" != "$b" ]; then
		opt=--bind
		b=${b#+}
	fi
	src=${b%%:*}
	dst=${b#*:}
	[ "$src" = "$b" ] && dst=$src
	[ -e "$src" ] || die "nothing to bind at $src"
	args+=("$opt=$(readlink -f "$src"):$dst")
done
args+=(-- systemd.unit=multi-user.target systemd.firstboot=off)

# Without systemd as PID 1 here, nspawn cannot ask it for a scope: it keeps
# its own cgroup (--keep-unit), which this script makes and removes.
pre=""
if [ ! -d /run/systemd/system ]; then
	args=("${args[0]}" --keep-unit "${args[@]:1}")
	if [ -d /sys/fs/cgroup/systemd ]; then
		cgroups+=("/sys/fs/cgroup/systemd/$machine")
		[ -d /sys/fs/cgroup/unified ] &&
			cgroups+=("/sys/fs/cgroup/unified/$machine")
	elif [ -f /sys/fs/cgroup/cgroup.procs ]; then
		cgroups+=("/sys/fs/cgroup/$machine")
	fi
	for d in "${cgroups[@]}"; do
		mkdir -p "$d"
		pre+="echo \$\$ >$d/cgroup.procs; "
	done
fi

say "booting systemd in a container"
setsid sh -c "$pre"'exec "$@"' sh "${args[@]}" >"$work/nspawn.log" 2>&1 \
	</dev/null &
nspawn_pid=$!
# The container's PID 1 is the child of nspawn that is pid 1 inside.
for _ in $(seq $((timeout * 10))); do
	for c in $(pgrep -P "$nspawn_pid" || true); do
		[ "$(awk '/^NSpid:/ { print NF - 1, $NF }' "/proc/$c/status" \
			2>/dev/null)" = "2 1" ] && leader=$c
	done
	[ -n "$leader" ] && break
	kill -0 "$nspawn_pid" 2>/dev/null ||
		die "systemd-nspawn exited: $(cat "$work/nspawn.log")"
	sleep 0.1
done
[ -n "$leader" ] || die "the container's systemd did not start"
IN_SYSTEMD="nsenter -t $leader -a"
state=""
for _ in $(seq $((timeout * 10))); do
	state=$($IN_SYSTEMD systemctl is-system-running 2>/dev/null || true)
	case "$state" in running | degraded) break ;; esac
	kill -0 "$leader" 2>/dev/null ||
		die "the container's systemd exited: $(cat "$work/nspawn.log")"
	sleep 0.1
done
say "systemd is $state"
[ "$state" = running ] || $IN_SYSTEMD systemctl --failed --no-legend >&2 ||
	true

export IN_SYSTEMD SYSTEMD_PAGER="" SYSTEMD_COLORS=0
"$@"
