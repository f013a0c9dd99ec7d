#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# selftest.sh — proves the test bed itself: builds (or reuses) the rootfs, boots an
# instance, checks the starting state of the reference scenario and the NTS servers,
# runs chrony once against them, reboots (clean and power cut) keeping state, powers off
# and checks that nothing is left behind. Ends with "N passed, M failed".
#
#   tests/testbed/selftest.sh           (root; NTSSETUP_TESTBED_SELFTEST_NAME=selftest)
set -uo pipefail

HERE=$(dirname "$(readlink -f "$0")")
TB=$HERE/testbed.sh
NAME=${NTSSETUP_TESTBED_SELFTEST_NAME:-selftest}
RUN=${NTSSETUP_TESTBED_RUN:-/tmp/ntssetup-testbed}
CACHE=${NTSSETUP_TESTBED_CACHE:-/var/cache/ntssetup-testbed}
PASS=0 FAIL=0

ok() {
	PASS=$((PASS + 1))
	echo "ok - $*"
}
not_ok() {
	FAIL=$((FAIL + 1))
	echo "not ok - $*"
}
check() { # DESCRIPTION CMD...
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
g() { "$TB" exec "$NAME" "$@"; }
gq() { "$TB" exec "$NAME" "$@" >/dev/null 2>&1; }
is() { [ "$(g "${@:2}" 2>/dev/null)" = "$1" ]; } # EXPECTED CMD...: CMD's output is EXPECTED
not() { ! "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
finish() {
	echo "timings: $TIMINGS"
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
	exit
}
TIMINGS=

trap '"$TB" poweroff "$NAME" >/dev/null 2>&1' EXIT

# --- rootfs and boot ----------------------------------------------------------------------
t=$(now)
check "rootfs built or cached" "$HERE/build-rootfs.sh"
TIMINGS+="rootfs $(since "$t")s"
t=$(now)
if ! "$TB" boot "$NAME"; then
	not_ok "boot $NAME to running"
	finish
fi
TIMINGS+=", boot-to-running $(since "$t")s"
check "boots to running (no failed unit)" is running systemctl is-system-running

# --- the container's limits (safety) --------------------------------------------------
leader=$("$TB" status "$NAME" | sed -n 's/^running PID1=//p')
capbnd=$(awk '/^CapBnd:/ { print $2 }' "/proc/$leader/status" 2>/dev/null)
check "guest has no CAP_SYS_TIME (CapBnd $capbnd)" test -n "$capbnd" -a $((0x${capbnd:-2000000} & (1 << 25))) = 0
check "guest has its own network: loopback only" is lo sh -c "ip -o link | awk -F': ' '{ print \$2 }'"

# --- starting state: timesyncd the active one, chrony installed but off --------------------
check "systemd-timesyncd active" is active systemctl is-active systemd-timesyncd
check "systemd-timesyncd enabled" is enabled systemctl is-enabled systemd-timesyncd
check "chrony installed" is installed dpkg-query -W -f '${db:Status-Status}' chrony
check "chrony inactive" is inactive systemctl is-active chrony
check "chrony disabled" is disabled systemctl is-enabled chrony

# --- NTS servers ----------------------------------------------------------------------------
for s in a b c; do
	check "ntsserver@$s active" is active systemctl is-active "ntsserver@$s"
done
# chronyd creates the shared parents of the servers' directories racily; they must
# exist before the three start (tmpfiles.d), or one dies or loses its socket or dump dir.
server_errors() { g journalctl -b -q -o cat -u 'ntsserver@*' | grep -iE 'could not|fatal|disabled command'; }
check "the NTS servers logged no error (could not / fatal / disabled command socket)" not server_errors
check "test CA in the system trust store" gq sh -c \
	'openssl verify /etc/ntsserver/a.crt && test -e /etc/ssl/certs/ntssetup-testbed-ca.pem'
t=$(now)
tmp=$(mktemp -d)
for s in a b c; do
	(
		g chronyd -Q -t 15 -u _chrony "server nts$s.test iburst nts" >"$tmp/$s" 2>&1
		echo $? >"$tmp/$s.rc"
	) &
done
wait
served() { # NTS-KE connections accepted and authenticated NTP packets, from the server itself
	g chronyc -c -h "/run/ntsserver/$1/chronyd.sock" serverstats | awk -F, '{ exit !($6 > 0 && $8 > 0) }'
}
for s in a b c; do
	check "chronyd -Q measures nts$s.test over NTS (exit $(cat "$tmp/$s.rc"))" \
		sh -c "test \"\$(cat '$tmp/$s.rc')\" = 0 && grep -q 'System clock wrong by' '$tmp/$s'"
	check "nts$s.test served NTS-KE and authenticated NTP" served "$s"
done
rm -rf "$tmp"
TIMINGS+=", three chronyd -Q in parallel $(since "$t")s"

# --- chrony.service with the harness drop-ins ----------------------------------------------
has_dropin() { g systemctl show -P DropInPaths chrony | grep -q /etc/systemd/system/chrony.service.d/00-testbed.conf; }
check "chrony.service carries the harness drop-in" has_dropin
gq cp -a /etc/chrony/chrony.conf /etc/chrony/chrony.conf.selftest
g sh -c 'cat > /etc/chrony/chrony.conf; rm -f /var/lib/chrony/*.nts' <<-'EOF'
	# selftest only: the three NTS servers of the test bed
	server ntsa.test iburst nts
	server ntsb.test iburst nts
	server ntsc.test iburst nts
	authselectmode require
	driftfile /var/lib/chrony/chrony.drift
	ntsdumpdir /var/lib/chrony
EOF
t=$(now)
check "systemctl start chrony" gq systemctl start chrony
cookies() { g chronyc -n -c authdata 2>/dev/null | awk -F, '$2 == "NTS" && $9 > 0' | wc -l; }
n=0
for _ in $(seq 150); do # at most ~30 s
	n=$(cookies)
	[ "$n" -ge 3 ] && break
	sleep 0.2
done
check "chronyd got NTS cookies from all three servers ($n/3, $(since "$t")s)" test "$n" -ge 3
no_clock() { g journalctl -b -u chrony -o cat | grep -q 'Disabled control of system clock'; }
check "chronyd never controls the clock (-x)" no_clock
score=$(g systemd-analyze security chrony.service --no-pager 2>/dev/null |
	sed -n 's/.*Overall exposure level for chrony.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security chrony.service: exposure ${score:-none} (Debian's unit as shipped)" test -n "$score"
gq systemctl stop chrony
gq sh -c 'mv /etc/chrony/chrony.conf.selftest /etc/chrony/chrony.conf; rm -f /var/lib/chrony/*.nts'

# --- an unprivileged user, and polkit deciding for it ----------------------------------------
uid=$(g id -u alice 2>/dev/null)
check "user alice exists, unprivileged (uid ${uid:-none})" test "${uid:-0}" -gt 0
as_alice() { [ "$("$TB" exec "$NAME" --user alice id -un)" = alice ]; }
check "exec --user alice runs as alice" as_alice
exit_code() { g sh -c 'exit 7'; [ $? = 7 ]; }
check "exec propagates the exit code" exit_code
refused() { # polkit (not some other failure) says no
	local out
	out=$("$TB" exec "$NAME" --user alice systemctl --no-ask-password start chrony 2>&1) && return 1
	grep -q -i -e 'authentication required' -e 'access denied' <<<"$out"
}
check "polkit refuses alice 'systemctl start chrony'" refused
check "chrony still inactive after alice's attempt" is inactive systemctl is-active chrony

# --- reboot keeps state; a power cut too -------------------------------------------------------
gq sh -c 'echo kept > /var/lib/selftest-marker'
t=$(now)
check "reboot" "$TB" reboot "$NAME"
TIMINGS+=", reboot $(since "$t")s"
check "state kept across reboot" is kept cat /var/lib/selftest-marker
t=$(now)
check "reboot --hard (power cut)" "$TB" reboot "$NAME" --hard
TIMINGS+=", reboot --hard $(since "$t")s"
check "state kept across the power cut" is kept cat /var/lib/selftest-marker
servers_back() { [ "$(g systemctl is-active ntsserver@a ntsserver@b ntsserver@c | sort -u)" = active ]; }
check "NTS servers back after the power cut" servers_back

# --- poweroff leaves nothing behind ------------------------------------------------------------
pids="$(cat "$RUN/$NAME/monitor.pid" "$RUN/$NAME/nspawn.pid" "$RUN/$NAME/leader.pid" 2>/dev/null | paste -sd' ' -)"
t=$(now)
check "poweroff" "$TB" poweroff "$NAME"
TIMINGS+=", poweroff $(since "$t")s"
none_alive() { # none of the pids runs (a zombie waiting for its reaper does not)
	local p
	for p in $pids; do
		[ -r "/proc/$p/stat" ] && [ "$(sed 's/^.*) //' "/proc/$p/stat" | cut -c1)" != Z ] && return 1
	done
	return 0
}
no_cgroups() {
	local d
	for d in "/sys/fs/cgroup/ntssetup-testbed-$NAME" /sys/fs/cgroup/*/"ntssetup-testbed-$NAME"; do
		[ -e "$d" ] && return 1
	done
	return 0
}
no_mounts() { ! grep -h -e "$RUN/$NAME" -e "$CACHE/rootfs" /proc/self/mountinfo /proc/1/mountinfo; }
# any process still inside the instance's PID namespace, or running nspawn for it
no_strays() { ! ps -eo args= | grep -v grep | grep -q -e "_monitor $NAME\$" -e "systemd-nspawn.* -M $NAME "; }
check "no process of the instance left (pids $pids)" none_alive
check "no nspawn or monitor process for the instance" no_strays
check "no cgroup directories of the instance" no_cgroups
check "no mount of the instance or the rootfs on the host" no_mounts
check "instance directory removed" test ! -e "$RUN/$NAME"
stopped() { [ "$("$TB" status "$NAME")" = stopped ]; }
check "status says stopped" stopped
trap - EXIT
finish
