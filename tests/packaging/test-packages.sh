#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The packages, as a user gets them. As root on a Debian 12 machine (CI
# runs it after the test suite; it takes a few minutes):
#
#   tests/packaging/test-packages.sh
#
# Makes the release tarball, builds the Debian packages from it
# (packaging/debian linked as debian), runs lintian, installs them, checks
# where everything went, runs both daemons as the packaged user from the
# shipped sample configurations (secrets replaced, addresses moved to
# loopback), then the overwatch started as root that switches to that
# user after binding port 53, then both installed units under a real
# systemd in a container (tests/packaging/in-systemd.sh); queries them with
# kdig and dnspython, purges the packages and checks that nothing is left.
# Then builds the RPMs from the same tarball with rpmbuild and lists them.
#
# Environment:
#   PKG_TEST_DEB_CHECK=1   run make check in the Debian build too
#                          (default 0: the suite has just run)
#   PKG_TEST_RPM_CHECK=0   skip the spec's %check (make check), which runs
#                          by default
#   PKG_TEST_RPM=0         skip the RPM build
#   PKG_TEST_KEEP=1        keep the work directory (printed at the start)
#
# Prints "N passed, N failed" last; exits 1 when an assertion failed.
set -uo pipefail

SELF=$(readlink -f "$0")
SRCDIR=$(cd "$(dirname "$SELF")/../.." && pwd)
DEB_CHECK=${PKG_TEST_DEB_CHECK:-0}
RPM_CHECK=${PKG_TEST_RPM_CHECK:-1}
RPM_BUILD=${PKG_TEST_RPM:-1}
KEEP=${PKG_TEST_KEEP:-0}
DEB_PACKAGES=(gslb-overwatchd gslb-agentd opengslb-common)

# Loopback addresses and ports nothing else here uses: the overwatch run
# as opengslb on 127.0.83.1, its backends on 127.0.83.11-14 and .21; the
# overwatch started as root on port 53 of 127.0.0.153.
OW_IP=127.0.83.1
DNS_PORT=5391
GOSSIP_PORT=7991
API_PORT=8091
METRICS_PORT=9191
BACKEND_PORT=18381
ROOT_DNS_IP=127.0.0.153
AGENT_ID=pkgtest-agent
# Every backend the overwatch may answer with.
OW_ALL="127.0.83.11 127.0.83.12 127.0.83.21 127.0.83.13 127.0.83.14"
PLACEHOLDER_KEY=Q0hBTkdFLU1FLWdlbmVyYXRlLXlvdXItb3duLWtleSE=

passed=0
failed=0
pids=()
installed_by_us=0
WORK=

step() { printf '\n=== %s\n' "$*"; }
ok() {
	passed=$((passed + 1))
	printf '  ok    %s\n' "$*"
}
not_ok() {
	failed=$((failed + 1))
	printf '  FAIL  %s\n' "$*"
}
# check DESCRIPTION COMMAND...: one assertion, the command's status.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
summary() { printf '\n%d passed, %d failed\n' "$passed" "$failed"; }
# A step everything after depends on failed: count it, clean up, stop.
die() {
	not_ok "$*"
	exit 1
}

cleanup() {
	local status=$?
	stop_all
	if [ "$installed_by_us" = 1 ] && purge_needed; then
		echo "cleanup: purging the packages"
		dpkg --purge "${DEB_PACKAGES[@]}" >/dev/null 2>&1 || true
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "$KEEP" = 1 ] || [ "$failed" -gt 0 ]; then
			echo "work directory kept: $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	[ -n "${NOTIFY_DIR:-}" ] && rm -rf "$NOTIFY_DIR"
	summary
	if [ "$failed" -gt 0 ]; then exit 1; fi
	exit "$status"
}
stop_all() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	pids=()
}

purge_needed() {
	local p
	for p in "${DEB_PACKAGES[@]}"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null |
			grep -qv '^not-installed$' && return 0
	done
	return 1
}

# wait_for SECONDS COMMAND...: until the command succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# --- dependencies ----------------------------------------------------------

# To build (as debian/control says), to test the built packages, and rpm.
TOOLS=(
	build-essential autoconf automake pkg-config debhelper dh-autoreconf
	dpkg-dev fakeroot lintian rpm man-db systemd util-linux openssl
	xz-utils curl python3 python3-dnspython python3-cryptography
	systemd-container
	knot-dnsutils unbound prometheus
	libknot-dev libyaml-dev libevent-dev libcurl4-gnutls-dev
	libgnutls28-dev libsqlite3-dev libsodium-dev libjansson-dev check
)

install_tools() {
	local missing=() p
	for p in "${TOOLS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing ${missing[*]}"
		apt-get update -q >/dev/null &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
				--no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# --- the release tarball -----------------------------------------------------

make_tarball() {
	local version tarball had=0
	if [ -f "$SRCDIR/Makefile" ]; then
		# Configured in the source tree (bootstrap does): make dist
		# there. A VPATH configure would refuse such a tree.
		version=$(sed -n 's/^PACKAGE_VERSION = //p' "$SRCDIR/Makefile")
		tarball=opengslb-$version.tar.xz
		[ -f "$SRCDIR/$tarball" ] && had=1
		make -C "$SRCDIR" dist >"$WORK/dist.log" 2>&1 || return 1
		if [ "$had" = 1 ]; then
			cp "$SRCDIR/$tarball" "$WORK/"
		else
			mv "$SRCDIR/$tarball" "$WORK/"
		fi
	else
		if [ ! -x "$SRCDIR/configure" ]; then
			(cd "$SRCDIR" && autoreconf -fi) >"$WORK/dist.log" 2>&1 ||
				return 1
		fi
		mkdir "$WORK/dist-build"
		(cd "$WORK/dist-build" && "$SRCDIR/configure" &&
			make dist) >>"$WORK/dist.log" 2>&1 || return 1
		version=$(sed -n 's/^PACKAGE_VERSION = //p' \
			"$WORK/dist-build/Makefile")
		tarball=opengslb-$version.tar.xz
		mv "$WORK/dist-build/$tarball" "$WORK/"
	fi
	VERSION=$version
	TARBALL=$WORK/$tarball
}

# --- helpers for the installed packages ------------------------------------

unit_path() {
	local d
	for d in /lib/systemd/system /usr/lib/systemd/system; do
		[ -f "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}

owner_mode() { stat -c '%U:%G %a' "$1" 2>/dev/null; }

# The packaged user, as the units run it: no new privileges, umask 0027,
# with CAP_NET_BIND_SERVICE for the overwatch and nothing for the agent.
# shellcheck disable=SC2054 # setpriv's capability lists have commas
AS_OVERWATCH_USER=(setpriv --reuid=opengslb --regid=opengslb --init-groups
	--no-new-privs --inh-caps=-all,+net_bind_service
	--ambient-caps=-all,+net_bind_service
	--bounding-set=-all,+net_bind_service)
AS_AGENT_USER=(setpriv --reuid=opengslb --regid=opengslb --init-groups
	--no-new-privs --inh-caps=-all --bounding-set=-all)
as_overwatch_user() { (umask 0027 && exec "${AS_OVERWATCH_USER[@]}" "$@"); }
as_agent_user() { (umask 0027 && exec "${AS_AGENT_USER[@]}" "$@"); }

# A stand-in for systemd's notification socket: every datagram is one line
# of the file.
start_notify_listener() { # NAME
	local sock=$NOTIFY_DIR/$1.sock log=$NOTIFY_DIR/$1.log
	: >"$log"
	/usr/bin/python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode(errors="replace") + "\n")
        out.flush()
' "$sock" "$log" &
	pids+=($!)
	wait_for 5 test -S "$sock"
}
notified() { grep -qx "$2" "$NOTIFY_DIR/$1.log"; }
# expect_ready NAME LOG: READY=1 arrives, or the daemon's log is shown.
expect_ready() {
	if wait_for 30 notified "$1" READY=1; then
		ok "$1 sent READY=1"
	else
		not_ok "$1 sent READY=1"
		sed 's/^/    /' "$2"
	fi
}
# notified_count NAME LINE COUNT: LINE seen at least COUNT times.
notified_count() {
	[ "$(grep -cx "$2" "$NOTIFY_DIR/$1.log")" -ge "$3" ]
}

# The four Uid (or Gid) fields of a process.
proc_ids() { awk -v k="$2:" '$1 == k { print $2, $3, $4, $5 }' \
	"/proc/$1/status"; }

# A sample configuration moved to our loopback addresses and ports, with
# the placeholders replaced.
adapt_config() { # FILE
	sed -i \
		-e "s|$PLACEHOLDER_KEY|$GOSSIP_KEY|g" \
		-e "s|\"CHANGE-ME[^\"]*\"|\"$SERVICE_TOKEN\"|g" \
		-e "s|127\\.0\\.0\\.1:5300|$OW_IP:$DNS_PORT|g" \
		-e "s|127\\.0\\.0\\.1:7946|$OW_IP:$GOSSIP_PORT|g" \
		-e "s|127\\.0\\.0\\.1:8080|$OW_IP:$API_PORT|g" \
		-e "s|127\\.0\\.0\\.1:9100|$OW_IP:$METRICS_PORT|g" \
		-e "s#127\\.0\\.0\\.\\(1[1-4]\\|21\\)\\b#127.0.83.\\1#g" \
		-e "s|\\bport: 8081\\b|port: $BACKEND_PORT|g" \
		-e "s|# agent_id: .*|agent_id: $AGENT_ID|" \
		"$1"
}

install_config() { # SOURCE NAME
	install -m 0640 -o root -g opengslb "$1" "/etc/opengslb/$2"
}

# The A records of NAME from the server at IP:PORT (kdig), one per line.
kdig_a() { kdig "@$1" -p "$2" +short +time=2 +retry=0 "$3" A 2>/dev/null |
	sort; }

all_in() { # WORD-LIST ALLOWED-LIST: every word is allowed, and there is one
	local w
	[ -n "$1" ] || return 1
	for w in $1; do
		case " $2 " in *" $w "*) ;; *) return 1 ;; esac
	done
}

# dnspython: a TCP query with DO set; prints the rcode, the A records and
# whether an RRSIG came with them.
dnspython_a() { # IP PORT NAME
	/usr/bin/python3 - "$@" <<'PY'
import sys
import dns.message, dns.query, dns.rcode, dns.rdatatype
ip, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
q = dns.message.make_query(name, "A", want_dnssec=True)
r = dns.query.tcp(q, ip, port=port, timeout=3)
addrs = sorted(rr.address for rrset in r.answer
               if rrset.rdtype == dns.rdatatype.A for rr in rrset)
sigs = any(rrset.rdtype == dns.rdatatype.RRSIG for rrset in r.answer)
print(dns.rcode.to_text(r.rcode()), " ".join(addrs),
      "signed" if sigs else "unsigned")
PY
}

# --- the units under a real systemd ------------------------------------------

# in-systemd.sh runs this script again, with --in-systemd, while a systemd
# is PID 1 of a container that sees this machine's /usr (the installed
# packages), its users and /etc/opengslb. These checks run here, reaching
# into the container with $IN_SYSTEMD; they report ok/FAIL lines and their
# count, which the outer run adds to its own.
in_systemd_checks() {
	local sd=$IN_SYSTEMD unit out uid
	uid=$(id -u opengslb)
	main_pid() { $sd systemctl show -P MainPID "$1"; }
	# A field of /proc/PID/status of the unit's main process. (awk here:
	# the container has no /etc/alternatives.)
	main_status() {
		$sd cat "/proc/$(main_pid "$1")/status" 2>/dev/null |
			awk -v k="$2:" '$1 == k { $1 = ""; print substr($0, 2) }'
	}
	active() { [ "$($sd systemctl is-active "$1")" = active ]; }

	unit=gslb-overwatchd.service
	check "systemctl start $unit (Type=notify: returns once ready)" \
		timeout 60 $sd systemctl start "$unit"
	check "$unit is active" active "$unit"
	check "its ExecStartPre checked the configuration" sh -c \
		"$sd journalctl -b -o cat -u $unit | grep -q 'configuration is valid'"
	check "it runs as opengslb (Uid $(main_status "$unit" Uid))" test \
		"$(main_status "$unit" Uid)" = "$uid $uid $uid $uid"
	check "only CAP_NET_BIND_SERVICE (CapEff $(main_status "$unit" CapEff))" \
		test "$(main_status "$unit" CapEff)" = 0000000000000400
	check "NoNewPrivs and a seccomp filter" test \
		"$(main_status "$unit" NoNewPrivs) $(main_status "$unit" Seccomp)" = "1 2"
	root_answers() { all_in "$(kdig_a "$ROOT_DNS_IP" 53 app.gslb.example)" \
		"$OW_ALL"; }
	if wait_for 60 root_answers; then
		ok "kdig @$ROOT_DNS_IP port 53: $(kdig_a "$ROOT_DNS_IP" 53 \
			app.gslb.example | tr '\n' ' ')"
	else
		not_ok "kdig @$ROOT_DNS_IP port 53 answers app.gslb.example"
	fi
	root_www() {
		# shellcheck disable=SC2046
		set -- $(dnspython_a "$ROOT_DNS_IP" 53 www.gslb.example 2>/dev/null)
		[ "${1:-}" = NOERROR ] && [ "${!#}" = signed ]
	}
	check "dnspython: www.gslb.example, signed" wait_for 30 root_www
	check "RuntimeDirectory: /run/opengslb/overwatch.sock opengslb 0660" \
		test "$($sd stat -c '%U:%G %a' /run/opengslb/overwatch.sock)" = \
		"opengslb:opengslb 660"
	check "StateDirectory: /var/lib/opengslb/overwatch.db opengslb 0600" \
		test "$($sd stat -c '%U:%G %a' /var/lib/opengslb/overwatch.db)" = \
		"opengslb:opengslb 600"
	check "gslbctl status over the socket" \
		sh -c "$sd gslbctl status >/dev/null"

	unit=gslb-agentd.service
	check "systemctl start $unit" timeout 60 $sd systemctl start "$unit"
	check "$unit is active" active "$unit"
	check "it runs as opengslb (Uid $(main_status "$unit" Uid))" test \
		"$(main_status "$unit" Uid)" = "$uid $uid $uid $uid"
	check "no capability at all (CapEff, CapBnd)" test \
		"$(main_status "$unit" CapEff) $(main_status "$unit" CapBnd)" = \
		"0000000000000000 0000000000000000"
	listed() { $sd gslbctl agents list 2>/dev/null | grep -q "$AGENT_ID"; }
	check "gslbctl agents list shows $AGENT_ID" wait_for 30 listed
	check "the agent's identity in /var/lib/opengslb/agent.key, 0600" \
		test "$($sd stat -c '%U:%G %a' /var/lib/opengslb/agent.key)" = \
		"opengslb:opengslb 600"

	check "systemctl reload gslb-overwatchd" \
		$sd systemctl reload gslb-overwatchd.service
	check "systemctl reload gslb-agentd" $sd systemctl reload "$unit"
	# A reload of a file the daemon would refuse: ExecReload's check
	# fails it, and the running configuration stays.
	cp -p /etc/opengslb/overwatch.yaml "$WORK/overwatch.good"
	sed -i "s|^\(    encryption_key:\).*|\1 \"$PLACEHOLDER_KEY\"|" \
		/etc/opengslb/overwatch.yaml
	out=$($sd systemctl reload gslb-overwatchd.service 2>&1)
	check "a reload of a refused file fails" test $? != 0
	check "... with the reason in the journal" sh -c \
		"$sd journalctl -b -o cat -u gslb-overwatchd.service |
			grep -q placeholder"
	cp -p "$WORK/overwatch.good" /etc/opengslb/overwatch.yaml
	check "... and the overwatch still runs and answers" sh -c \
		"[ \"\$($sd systemctl is-active gslb-overwatchd.service)\" = active ]"
	check "... on port 53" root_answers
	check "no restart so far (NRestarts 0 0)" test \
		"$($sd systemctl show -P NRestarts gslb-overwatchd.service) $($sd systemctl show -P NRestarts "$unit")" = "0 0"
	out=$($sd journalctl -b -o cat -u gslb-overwatchd.service \
		-u gslb-agentd.service | grep -i \
		'permission denied\|operation not permitted\|bad system call\|EPERM\|EACCES')
	check "nothing refused by the sandbox in the journal" test -z "$out"
	[ -z "$out" ] || echo "$out" | sed 's/^/    /'

	for unit in gslb-agentd.service gslb-overwatchd.service; do
		check "systemctl stop $unit" timeout 60 $sd systemctl stop "$unit"
		check "... ends with success (Result, ExecMainStatus)" test \
			"$($sd systemctl show -P Result "$unit") $($sd systemctl show -P ExecMainStatus "$unit")" = "success 0"
	done
	check "RuntimeDirectory /run/opengslb is gone with the overwatch" \
		sh -c "! $sd test -e /run/opengslb"

	# Without its configuration, a unit is skipped, not failed.
	mv /etc/opengslb/agent.yaml "$WORK/agent.moved"
	check "systemctl start gslb-agentd without agent.yaml succeeds" \
		$sd systemctl start gslb-agentd.service
	check "... the unit is skipped (ConditionPathExists), not failed" test \
		"$($sd systemctl show -P ConditionResult gslb-agentd.service) $($sd systemctl is-active gslb-agentd.service)" = "no inactive"
	mv "$WORK/agent.moved" /etc/opengslb/agent.yaml

	# A start with a file the daemon refuses fails for good: status 78
	# (EX_CONFIG), which RestartPreventExitStatus= keeps from a restart
	# loop, with the reason in the journal.
	cp -p /etc/opengslb/overwatch.yaml "$WORK/overwatch.good"
	sed -i "s|^\(    encryption_key:\).*|\1 \"$PLACEHOLDER_KEY\"|" \
		/etc/opengslb/overwatch.yaml
	out=$($sd systemctl start gslb-overwatchd.service 2>&1)
	check "systemctl start with a refused file fails" test $? != 0
	sleep 3 # past RestartSec=
	check "... the unit failed with status 78 and no restart (Result, ExecMainStatus, NRestarts, state)" \
		test "$($sd systemctl show -P Result gslb-overwatchd.service) $($sd systemctl show -P ExecMainStatus gslb-overwatchd.service) $($sd systemctl show -P NRestarts gslb-overwatchd.service) $($sd systemctl is-active gslb-overwatchd.service)" = \
		"exit-code 78 0 failed"
	check "... with the reason in the journal" sh -c \
		"$sd journalctl -b -o cat -u gslb-overwatchd.service |
			grep -q 'encryption_key: this is the sample'"
	cp -p "$WORK/overwatch.good" /etc/opengslb/overwatch.yaml

	echo "  --- journal of both units:"
	$sd journalctl -b -o short-monotonic --no-pager -u gslb-overwatchd.service \
		-u gslb-agentd.service | tail -n 25 | sed 's/^/    /'
}

if [ "${1:-}" = --in-systemd ]; then
	in_systemd_checks
	printf 'in-systemd: %d passed, %d failed\n' "$passed" "$failed"
	exit 0
fi

trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the steps ---------------------------------------------------------------

[ "$(id -u)" = 0 ] || { echo "$0: run me as root" >&2; exit 2; }

WORK=$(mktemp -d /tmp/opengslb-packages.XXXXXX)
NOTIFY_DIR=$(mktemp -d /run/opengslb-pkgtest.XXXXXX)
chmod 0755 "$NOTIFY_DIR"
echo "work directory: $WORK"

step "Installing the build and test tools"
install_tools || die "apt-get install of the tools"
ok "tools installed"

step "Making the release tarball"
make_tarball || { tail -n 30 "$WORK/dist.log"; die "make dist"; }
ok "make dist: $(basename "$TARBALL")"

step "Building the Debian packages (dpkg-buildpackage -us -uc -b)"
mkdir "$WORK/deb"
tar -C "$WORK/deb" -xf "$TARBALL" || die "unpacking the tarball"
DEB_SRC=$WORK/deb/opengslb-$VERSION
ln -s packaging/debian "$DEB_SRC/debian"
DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q "$DEB_SRC" \
	>"$WORK/build-dep.log" 2>&1 ||
	{ tail -n 20 "$WORK/build-dep.log"; die "apt-get build-dep"; }
if [ "$DEB_CHECK" = 1 ]; then
	build_opts="parallel=$(nproc)"
	build_profiles=
else
	build_opts="nocheck parallel=$(nproc)"
	build_profiles=nocheck
fi
echo "DEB_BUILD_OPTIONS=$build_opts (log: $WORK/deb/build.log)"
(cd "$DEB_SRC" && DEB_BUILD_OPTIONS=$build_opts \
	DEB_BUILD_PROFILES=$build_profiles dpkg-buildpackage -us -uc -b) \
	>"$WORK/deb/build.log" 2>&1 ||
	{ tail -n 40 "$WORK/deb/build.log"; die "dpkg-buildpackage"; }
ok "dpkg-buildpackage"
if [ "$DEB_CHECK" = 1 ]; then
	check "dh_auto_test ran make check" \
		grep -q '^# PASS: *[1-9]' "$WORK/deb/build.log"
fi
DEBS=()
for p in opengslb-common gslb-overwatchd gslb-agentd; do
	f=$(ls "$WORK/deb/${p}_$VERSION"-1_*.deb 2>/dev/null | head -n 1)
	check "built $p" test -n "$f"
	[ -n "$f" ] && DEBS+=("$f")
done
[ ${#DEBS[@]} = 3 ] || die "three packages built"

step "lintian"
changes=$(ls "$WORK"/deb/opengslb_"$VERSION"-1_*.changes | head -n 1)
lintian -I --pedantic --tag-display-limit 0 "$changes" \
	>"$WORK/lintian.log" 2>&1
sed 's/^/  /' "$WORK/lintian.log"
check "lintian reports no error" \
	test "$(grep -c '^E:' "$WORK/lintian.log")" = 0

step "Installing the packages"
if purge_needed; then
	echo "purging the packages installed before this test"
	dpkg --purge "${DEB_PACKAGES[@]}" >/dev/null
fi
if getent passwd opengslb >/dev/null || getent group opengslb >/dev/null; then
	echo "the user opengslb is left from an earlier run: removing it"
	userdel opengslb 2>/dev/null
	groupdel opengslb 2>/dev/null
fi
installed_by_us=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${DEBS[@]}" \
	>"$WORK/install.log" 2>&1 ||
	{ tail -n 30 "$WORK/install.log"; die "apt-get install of the .debs"; }
ok "apt-get install ./*.deb"

step "What the packages installed"
check "gslb-overwatchd in /usr/sbin" test -x /usr/sbin/gslb-overwatchd
check "gslb-agentd in /usr/sbin" test -x /usr/sbin/gslb-agentd
check "gslbctl in /usr/bin" test -x /usr/bin/gslbctl
check "gslb-overwatchd --version" \
	sh -c '/usr/sbin/gslb-overwatchd --version | grep -q "^gslb-overwatchd"'
check "bash completion for gslbctl" \
	test -f /usr/share/bash-completion/completions/gslbctl
for page in man8/gslb-overwatchd.8 man8/gslb-agentd.8 man8/gslbctl.8 \
	man5/opengslb.yaml.5; do
	f=/usr/share/man/$page.gz
	check "man page $page" test -f "$f"
	out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$f" 2>&1 >/dev/null)
	check "man --warnings $page: quiet" test -z "$out"
	[ -z "$out" ] || echo "$out" | sed 's/^/    /'
done
check "man finds opengslb.yaml(5)" sh -c "man -w 5 opengslb.yaml >/dev/null"
OW_UNIT=$(unit_path gslb-overwatchd.service)
AGENT_UNIT=$(unit_path gslb-agentd.service)
check "unit gslb-overwatchd.service" test -n "$OW_UNIT"
check "unit gslb-agentd.service" test -n "$AGENT_UNIT"
check "sysusers.d/opengslb.conf" test -f /usr/lib/sysusers.d/opengslb.conf
check "tmpfiles.d/opengslb.conf" test -f /usr/lib/tmpfiles.d/opengslb.conf
check "user opengslb exists" sh -c 'getent passwd opengslb >/dev/null'
check "group opengslb exists" sh -c 'getent group opengslb >/dev/null'
check "opengslb's home is /var/lib/opengslb" \
	test "$(getent passwd opengslb | cut -d: -f6)" = /var/lib/opengslb
check "opengslb cannot log in" \
	sh -c 'getent passwd opengslb | cut -d: -f7 | grep -q nologin'
check "/var/lib/opengslb is opengslb:opengslb 0750" \
	test "$(owner_mode /var/lib/opengslb)" = "opengslb:opengslb 750"
check "/etc/opengslb is root:opengslb 0750" \
	test "$(owner_mode /etc/opengslb)" = "root:opengslb 750"
check "no configuration shipped in /etc/opengslb" \
	test -z "$(ls -A /etc/opengslb)"
OW_SAMPLE=/usr/share/doc/gslb-overwatchd/examples/overwatch.yaml
AGENT_SAMPLE=/usr/share/doc/gslb-agentd/examples/agent.yaml
check "sample $OW_SAMPLE" test -f "$OW_SAMPLE"
check "sample $AGENT_SAMPLE" test -f "$AGENT_SAMPLE"
[ -f "$OW_SAMPLE" ] && [ -f "$AGENT_SAMPLE" ] || die "the sample configurations"

step "systemd-analyze on the installed units"
for unit in "$OW_UNIT" "$AGENT_UNIT"; do
	[ -n "$unit" ] || continue
	out=$(systemd-analyze verify "$unit" 2>&1)
	rc=$?
	check "systemd-analyze verify $(basename "$unit"): silent" \
		test "$rc" = 0 -a -z "$out"
	[ -z "$out" ] || echo "$out" | sed 's/^/    /'
	score=$(systemd-analyze security --offline=yes "$unit" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	echo "  exposure of $(basename "$unit"): ${score:-?}"
	check "exposure of $(basename "$unit") below 2.0" \
		awk -v s="${score:-99}" 'BEGIN { exit !(s < 2.0) }'
done
check "overwatch unit: Type=notify, User=opengslb, its config" \
	sh -c "grep -qx 'Type=notify' '$OW_UNIT' &&
		grep -qx 'User=opengslb' '$OW_UNIT' &&
		grep -qx 'ConditionPathExists=/etc/opengslb/overwatch.yaml' '$OW_UNIT' &&
		grep -qx 'ExecStart=/usr/sbin/gslb-overwatchd -c /etc/opengslb/overwatch.yaml' '$OW_UNIT'"
check "agent unit: Type=notify, User=opengslb, its config" \
	sh -c "grep -qx 'Type=notify' '$AGENT_UNIT' &&
		grep -qx 'User=opengslb' '$AGENT_UNIT' &&
		grep -qx 'ConditionPathExists=/etc/opengslb/agent.yaml' '$AGENT_UNIT' &&
		grep -qx 'ExecStart=/usr/sbin/gslb-agentd -c /etc/opengslb/agent.yaml' '$AGENT_UNIT'"

step "--check-config refuses the unmodified samples"
install_config "$OW_SAMPLE" overwatch.yaml
install_config "$AGENT_SAMPLE" agent.yaml
for name in overwatch agent; do
	daemon=gslb-${name}d
	out=$("as_${name}_user" /usr/sbin/"$daemon" --check-config \
		-c "/etc/opengslb/$name.yaml" 2>&1)
	rc=$?
	check "$daemon --check-config on the sample exits 78 (got $rc)" \
		test "$rc" = 78
	check "... and says the placeholder must be replaced" \
		sh -c 'printf "%s" "$1" | grep -qi "placeholder.*replace"' _ "$out"
	echo "$out" | sed 's/^/    /'
done

step "The daemons as the packaged user, from the samples"
GOSSIP_KEY=$(openssl rand -base64 32)
SERVICE_TOKEN=$(openssl rand -hex 24)
cp "$OW_SAMPLE" "$WORK/overwatch.yaml"
cp "$AGENT_SAMPLE" "$WORK/agent.yaml"
adapt_config "$WORK/overwatch.yaml"
adapt_config "$WORK/agent.yaml"
check "no placeholder left in the adapted configurations" sh -c \
	"! grep -hv '^ *#' '$WORK/overwatch.yaml' '$WORK/agent.yaml' |
		grep -q 'CHANGE-ME\\|$PLACEHOLDER_KEY'"
install_config "$WORK/overwatch.yaml" overwatch.yaml
install_config "$WORK/agent.yaml" agent.yaml
check "gslb-overwatchd --check-config as opengslb" \
	as_overwatch_user sh -c '/usr/sbin/gslb-overwatchd --check-config \
		-c /etc/opengslb/overwatch.yaml >/dev/null'
check "gslb-agentd --check-config as opengslb" \
	as_agent_user sh -c '/usr/sbin/gslb-agentd --check-config \
		-c /etc/opengslb/agent.yaml >/dev/null'

# Small HTTP backends, as bootstrap's demo runs them.
mkdir -p "$WORK/www"
echo ok >"$WORK/www/health"
for ip in 127.0.83.11 127.0.83.12 127.0.83.21 127.0.83.13 127.0.83.14; do
	python3 -m http.server "$BACKEND_PORT" --bind "$ip" \
		--directory "$WORK/www" >"$WORK/backend-$ip.log" 2>&1 &
	pids+=($!)
done
for ip in 127.0.83.11 127.0.83.12 127.0.83.21 127.0.83.13 127.0.83.14; do
	wait_for 10 curl -sf -o /dev/null "http://$ip:$BACKEND_PORT/health" ||
		die "HTTP backend on $ip:$BACKEND_PORT"
done

# What systemd's RuntimeDirectory= would make.
rm -rf /run/opengslb
install -d -m 0750 -o opengslb -g opengslb /run/opengslb
start_notify_listener overwatch || die "notify listener"
start_notify_listener agent || die "notify listener"
# A subshell that becomes the daemon: $! is the daemon's PID.
# exec: $! is the daemon itself, for its /proc and its signals.
(export NOTIFY_SOCKET=$NOTIFY_DIR/overwatch.sock && umask 0027 &&
	exec "${AS_OVERWATCH_USER[@]}" /usr/sbin/gslb-overwatchd \
		-c /etc/opengslb/overwatch.yaml) 2>"$WORK/overwatch.log" &
OW_PID=$!
pids+=("$OW_PID")
(export NOTIFY_SOCKET=$NOTIFY_DIR/agent.sock && umask 0027 &&
	exec "${AS_AGENT_USER[@]}" /usr/sbin/gslb-agentd \
		-c /etc/opengslb/agent.yaml) 2>"$WORK/agent.log" &
AGENT_PID=$!
pids+=("$AGENT_PID")
expect_ready overwatch "$WORK/overwatch.log"
expect_ready agent "$WORK/agent.log"
OPENGSLB_UID=$(id -u opengslb)
OPENGSLB_GID=$(id -g opengslb)
for p in "overwatch $OW_PID" "agent $AGENT_PID"; do
	set -- $p
	check "$1 runs as opengslb (Uid $(proc_ids "$2" Uid))" test \
		"$(proc_ids "$2" Uid)" = "$OPENGSLB_UID $OPENGSLB_UID $OPENGSLB_UID $OPENGSLB_UID"
	check "$1 runs with group opengslb" test \
		"$(proc_ids "$2" Gid)" = "$OPENGSLB_GID $OPENGSLB_GID $OPENGSLB_GID $OPENGSLB_GID"
done

app_answers() { all_in "$(kdig_a "$OW_IP" "$DNS_PORT" app.gslb.example)" \
	"$OW_ALL"; }
if wait_for 60 app_answers; then
	ok "kdig: app.gslb.example A from backends: $(kdig_a "$OW_IP" \
		"$DNS_PORT" app.gslb.example | tr '\n' ' ')"
else
	not_ok "kdig: app.gslb.example A answered"
	kdig "@$OW_IP" -p "$DNS_PORT" app.gslb.example A | sed 's/^/    /'
	tail -n 20 "$WORK/overwatch.log" | sed 's/^/    /'
fi
www_answers() {
	# shellcheck disable=SC2046 # its words: rcode, addresses, signed
	set -- $(dnspython_a "$OW_IP" "$DNS_PORT" www.gslb.example 2>/dev/null)
	[ "${1:-}" = NOERROR ] && [ "${!#}" = signed ] &&
		all_in "$(echo "${@:2:$#-2}")" "127.0.83.11 127.0.83.12 127.0.83.21"
}
if wait_for 30 www_answers; then
	ok "dnspython: www.gslb.example A, signed: $(dnspython_a "$OW_IP" \
		"$DNS_PORT" www.gslb.example)"
else
	not_ok "dnspython: www.gslb.example A, signed ($(dnspython_a "$OW_IP" \
		"$DNS_PORT" www.gslb.example 2>&1 | tail -n 1))"
fi
check "kdig: NXDOMAIN for a name not in the zone" sh -c \
	"kdig @$OW_IP -p $DNS_PORT +time=2 +retry=0 nothere.gslb.example A |
		grep -q 'status: NXDOMAIN'"

check "API socket /run/opengslb/overwatch.sock is opengslb:opengslb 0660" \
	test "$(owner_mode /run/opengslb/overwatch.sock)" = "opengslb:opengslb 660"
agent_listed() { gslbctl agents list 2>/dev/null | grep -q "$AGENT_ID"; }
if wait_for 30 agent_listed; then
	ok "gslbctl agents list shows $AGENT_ID"
else
	not_ok "gslbctl agents list shows $AGENT_ID"
	gslbctl agents list 2>&1 | sed 's/^/    /'
	tail -n 20 "$WORK/agent.log" | sed 's/^/    /'
fi
gslbctl agents list 2>&1 | sed 's/^/    /'
agent_backends() { gslbctl backends 2>/dev/null | grep -q '127\.0\.83\.13'; }
check "the agent's backend 127.0.83.13 is in gslbctl backends" \
	wait_for 30 agent_backends
check "gslbctl works for the group opengslb" \
	as_agent_user sh -c '/usr/bin/gslbctl status >/dev/null'
check "gslbctl is refused to other users" \
	sh -c '! setpriv --reuid=nobody --regid=nogroup --clear-groups \
		/usr/bin/gslbctl status >/dev/null 2>&1'
check "state database /var/lib/opengslb/overwatch.db is opengslb's, 0600" \
	test "$(owner_mode /var/lib/opengslb/overwatch.db)" = "opengslb:opengslb 600"
check "agent key /var/lib/opengslb/agent.key is opengslb's, 0600" \
	test "$(owner_mode /var/lib/opengslb/agent.key)" = "opengslb:opengslb 600"

kill -HUP "$OW_PID" "$AGENT_PID"
check "overwatch: SIGHUP sends RELOADING=1, then READY=1 again" \
	wait_for 10 sh -c "grep -qx RELOADING=1 '$NOTIFY_DIR/overwatch.log' &&
		[ \$(grep -cx READY=1 '$NOTIFY_DIR/overwatch.log') -ge 2 ]"
check "agent: SIGHUP sends RELOADING=1, then READY=1 again" \
	wait_for 10 sh -c "grep -qx RELOADING=1 '$NOTIFY_DIR/agent.log' &&
		[ \$(grep -cx READY=1 '$NOTIFY_DIR/agent.log') -ge 2 ]"
check "kdig after the reload" app_answers

kill -TERM "$AGENT_PID" "$OW_PID"
wait "$OW_PID"
rc=$?
check "overwatch stops on SIGTERM with status 0 (got $rc)" test "$rc" = 0
wait "$AGENT_PID"
rc=$?
check "agent stops on SIGTERM with status 0 (got $rc)" test "$rc" = 0
check "overwatch sent STOPPING=1" notified overwatch STOPPING=1
check "agent sent STOPPING=1" notified agent STOPPING=1
echo "  --- overwatch log (as opengslb), last lines:"
tail -n 8 "$WORK/overwatch.log" | sed 's/^/    /'
echo "  --- agent log (as opengslb), last lines:"
tail -n 8 "$WORK/agent.log" | sed 's/^/    /'
# Anything the sandbox-like run refused.
if grep -qi 'permission denied\|operation not permitted\|EPERM\|EACCES' \
	"$WORK/overwatch.log" "$WORK/agent.log"; then
	not_ok "no permission errors in the daemons' logs"
	grep -i 'permission denied\|operation not permitted\|EPERM\|EACCES' \
		"$WORK/overwatch.log" "$WORK/agent.log" | sed 's/^/    /'
else
	ok "no permission errors in the daemons' logs"
fi

step "The overwatch started as root, switching to opengslb (process.user)"
rm -rf /run/opengslb
sed -e "s|$OW_IP:$DNS_PORT|$ROOT_DNS_IP:53|" "$WORK/overwatch.yaml" \
	>"$WORK/overwatch-root.yaml"
printf '\nprocess:\n  user: opengslb\n' >>"$WORK/overwatch-root.yaml"
install_config "$WORK/overwatch-root.yaml" overwatch.yaml
: >"$NOTIFY_DIR/overwatch.log"
NOTIFY_SOCKET=$NOTIFY_DIR/overwatch.sock /usr/sbin/gslb-overwatchd \
	-c /etc/opengslb/overwatch.yaml 2>"$WORK/overwatch-root.log" &
OW_PID=$!
pids+=("$OW_PID")
expect_ready overwatch "$WORK/overwatch-root.log"
check "it dropped to uid opengslb (Uid $(proc_ids "$OW_PID" Uid))" test \
	"$(proc_ids "$OW_PID" Uid)" = "$OPENGSLB_UID $OPENGSLB_UID $OPENGSLB_UID $OPENGSLB_UID"
check "it dropped to gid opengslb (Gid $(proc_ids "$OW_PID" Gid))" test \
	"$(proc_ids "$OW_PID" Gid)" = "$OPENGSLB_GID $OPENGSLB_GID $OPENGSLB_GID $OPENGSLB_GID"
check "its groups are opengslb only" test \
	"$(awk '$1 == "Groups:" { print $2, NF }' "/proc/$OW_PID/status")" = \
	"$OPENGSLB_GID 2"
caps=$(awk '$1 == "CapEff:" { print $2 }' "/proc/$OW_PID/status")
check "it keeps CAP_NET_BIND_SERVICE only (CapEff $caps)" \
	test "$caps" = 0000000000000400
check "it made /run/opengslb for opengslb" \
	test "$(stat -c %U /run/opengslb 2>/dev/null)" = opengslb
root_answers() { all_in "$(kdig_a "$ROOT_DNS_IP" 53 app.gslb.example)" \
	"$OW_ALL"; }
if wait_for 60 root_answers; then
	ok "kdig @$ROOT_DNS_IP port 53: $(kdig_a "$ROOT_DNS_IP" 53 \
		app.gslb.example | tr '\n' ' ')"
else
	not_ok "kdig @$ROOT_DNS_IP port 53 answers app.gslb.example"
	tail -n 20 "$WORK/overwatch-root.log" | sed 's/^/    /'
fi
root_www() {
	# shellcheck disable=SC2046
	set -- $(dnspython_a "$ROOT_DNS_IP" 53 www.gslb.example 2>/dev/null)
	[ "${1:-}" = NOERROR ] && [ "${!#}" = signed ]
}
check "dnspython @$ROOT_DNS_IP port 53: www.gslb.example, signed" \
	wait_for 30 root_www
kill -HUP "$OW_PID"
check "a reload after the switch rebinds port 53 and answers" \
	wait_for 10 sh -c "grep -qx RELOADING=1 '$NOTIFY_DIR/overwatch.log' &&
		[ \$(grep -cx READY=1 '$NOTIFY_DIR/overwatch.log') -ge 2 ]"
check "kdig after that reload" root_answers
kill -TERM "$OW_PID"
wait "$OW_PID"
rc=$?
check "it stops on SIGTERM with status 0 (got $rc)" test "$rc" = 0
tail -n 8 "$WORK/overwatch-root.log" | sed 's/^/    /'

step "The units under a real systemd (systemd-nspawn)"
# The installed units as they are, with the adapted configurations; the
# overwatch on port 53 of $ROOT_DNS_IP. The container shares this
# machine's users (copies of the files), so that opengslb is the same uid
# inside as outside, where /etc/opengslb's files belong to its group.
sed -e "s|$OW_IP:$DNS_PORT|$ROOT_DNS_IP:53|" "$WORK/overwatch.yaml" \
	>"$WORK/overwatch-systemd.yaml"
install_config "$WORK/overwatch-systemd.yaml" overwatch.yaml
install_config "$WORK/agent.yaml" agent.yaml
rm -rf /run/opengslb
mkdir "$WORK/users"
binds=(/etc/opengslb)
for f in passwd group shadow gshadow; do
	cp -p "/etc/$f" "$WORK/users/$f"
	binds+=("$WORK/users/$f:/etc/$f")
done
export WORK
"$SRCDIR/tests/packaging/in-systemd.sh" "${binds[@]}" -- \
	"$SELF" --in-systemd >"$WORK/in-systemd.log" 2>&1
rc=$?
grep -v '^in-systemd: [0-9]* passed' "$WORK/in-systemd.log"
counts=$(sed -n 's/^in-systemd: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' \
	"$WORK/in-systemd.log")
if [ -n "$counts" ]; then
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
	check "in-systemd.sh exits 0 (got $rc)" test "$rc" = 0
else
	not_ok "the checks under systemd ran (in-systemd.sh exited $rc)"
fi

stop_all

step "dpkg --purge"
if dpkg --purge "${DEB_PACKAGES[@]}" >"$WORK/purge.log" 2>&1; then
	ok "dpkg --purge ${DEB_PACKAGES[*]}"
else
	not_ok "dpkg --purge ${DEB_PACKAGES[*]}"
	sed 's/^/    /' "$WORK/purge.log"
fi
installed_by_us=0
for p in "${DEB_PACKAGES[@]}"; do
	check "$p is gone from dpkg's database" sh -c \
		"! dpkg-query -W -f='\${db:Status-Status}' $p 2>/dev/null |
			grep -qv '^not-installed\$'"
done
for d in /etc/opengslb /var/lib/opengslb /run/opengslb; do
	check "no $d" test ! -e "$d"
done
check "no user opengslb" sh -c '! getent passwd opengslb'
check "no group opengslb" sh -c '! getent group opengslb'
check "no unit enablement links left" sh -c \
	'! ls /etc/systemd/system/*/gslb-*.service >/dev/null 2>&1'
left=
for deb in "${DEBS[@]}"; do
	while read -r path; do
		path=${path#.}
		[ -e "$path" ] && [ ! -d "$path" ] && left="$left $path"
	done < <(dpkg-deb --fsys-tarfile "$deb" | tar -t)
done
check "none of the packages' files is left${left:+:$left}" test -z "$left"

if [ "$RPM_BUILD" = 1 ]; then
	step "Building the RPMs (rpmbuild -bb, %check $([ "$RPM_CHECK" = 1 ] &&
		echo on || echo off))"
	RPM_TOP=$WORK/rpm
	mkdir -p "$RPM_TOP"/{SOURCES,SPECS,BUILD,RPMS,SRPMS,BUILDROOT}
	cp "$TARBALL" "$RPM_TOP/SOURCES/"
	tar -C "$RPM_TOP/SPECS" --strip-components=3 -xf "$TARBALL" \
		"opengslb-$VERSION/packaging/rpm/opengslb.spec" ||
		die "the spec in the tarball"
	rpm_opts=(--define "_topdir $RPM_TOP" --nodeps)
	[ "$RPM_CHECK" = 1 ] || rpm_opts+=(--without check)
	echo "log: $RPM_TOP/build.log"
	if rpmbuild -bb "${rpm_opts[@]}" "$RPM_TOP/SPECS/opengslb.spec" \
		>"$RPM_TOP/build.log" 2>&1; then
		ok "rpmbuild -bb"
	else
		not_ok "rpmbuild -bb"
		tail -n 40 "$RPM_TOP/build.log" | sed 's/^/    /'
	fi
	rpm_of() { ls "$RPM_TOP"/RPMS/*/"$1"-"$VERSION"-*.rpm 2>/dev/null |
		head -n 1; }
	OW_RPM=$(rpm_of gslb-overwatchd)
	AGENT_RPM=$(rpm_of gslb-agentd)
	COMMON_RPM=$(rpm_of opengslb-common)
	check "gslb-overwatchd RPM built" test -n "$OW_RPM"
	check "gslb-agentd RPM built" test -n "$AGENT_RPM"
	check "opengslb-common RPM built" test -n "$COMMON_RPM"
	rpm_lists() { # RPM PATH-PATTERN...
		local list rpm=$1
		shift
		[ -n "$rpm" ] || return 1
		list=$(rpm -qlp "$rpm" 2>/dev/null) || return 1
		for pat in "$@"; do
			grep -qx "$pat" <<<"$list" || {
				echo "    missing in $(basename "$rpm"): $pat"
				return 1
			}
		done
	}
	check "gslb-overwatchd RPM: daemon, gslbctl, unit, man pages, sample" \
		rpm_lists "$OW_RPM" /usr/sbin/gslb-overwatchd /usr/bin/gslbctl \
		'/usr/lib/systemd/system/gslb-overwatchd.service' \
		'/usr/share/man/man8/gslb-overwatchd\.8.*' \
		'/usr/share/man/man8/gslbctl\.8.*' \
		'/usr/share/doc/gslb-overwatchd/examples/overwatch.yaml'
	check "gslb-agentd RPM: daemon, unit, man page, sample" \
		rpm_lists "$AGENT_RPM" /usr/sbin/gslb-agentd \
		'/usr/lib/systemd/system/gslb-agentd.service' \
		'/usr/share/man/man8/gslb-agentd\.8.*' \
		'/usr/share/doc/gslb-agentd/examples/agent.yaml'
	check "opengslb-common RPM: sysusers, tmpfiles, opengslb.yaml(5)" \
		rpm_lists "$COMMON_RPM" /usr/lib/sysusers.d/opengslb.conf \
		/usr/lib/tmpfiles.d/opengslb.conf \
		'/usr/share/man/man5/opengslb\.yaml\.5.*' /etc/opengslb \
		/var/lib/opengslb
	check "opengslb-common RPM creates the user before installing" sh -c \
		"rpm -qp --scripts '$COMMON_RPM' 2>/dev/null | grep -q 'useradd'"
	if [ "$RPM_CHECK" = 1 ]; then
		check "the spec's %check ran make check" \
			grep -q '^# PASS: *[1-9]' "$RPM_TOP/build.log"
	fi
fi
exit 0
