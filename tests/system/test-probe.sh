#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-probe.sh — issue 10: systemd, not ntssetupd, runs ntssetup-probe, as a dynamic user,
# and ntssetupd itself cannot open an internet socket.
#
#  - ntssetup-probe.socket: enabled by the package (listening after a reboot without
#    anyone starting it), root-only (alice is refused);
#  - a request for the three NTS servers through the socket (tests/probe-socket-client,
#    what ntssetupd says): every server ok; the instance systemd started for the
#    connection, looked at while it waits for the request: DynamicUser=yes, a uid of
#    systemd's dynamic range, as systemd and the kernel report it (/proc: uid, no
#    capabilities, NoNewPrivs, seccomp, its own user namespace); the answer's bytes came
#    from that process (SO_PASSCRED: the kernel's pid and uid of the writer);
#  - MaxConnections=8: eight held connections, a ninth is closed unanswered, the eight
#    are answered;
#  - ntssetupd: a process of its unit (a harness ExecStartPre=: the same seccomp filter,
#    network namespace and bounding set, applied by systemd as to ExecStart=) gets
#    EAFNOSUPPORT for TCP and UDP over IPv4 and IPv6; the running daemon has its own
#    network namespace (only a loopback) in which the NTS server the guest reaches is not
#    there; the unit's properties say AF_UNIX, PrivateNetwork, three capabilities;
#  - Apply's preflight goes through the probe (an ntssetup-probe@ instance ran) and chronyd
#    authenticates: the daemon works without the network;
#  - systemd-analyze security, booted: both units <= 1.5.
#
#   tests/system/test-probe.sh        (root; ends with "N passed, M failed")
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh's sys_build
SYS_TEST_PROGRAMS=(tests/probe-socket-client)
. "$(dirname "$(readlink -f "$0")")/lib.sh"

MAX_EXPOSURE=1.5
CLIENT=$SYS_TEST_LIBEXEC/probe-socket-client
SOCK=/run/ntssetup-probe.socket
sys_setup

section "ntssetup-probe.socket, enabled by the package"
# sys_setup started it as a package's maintainer script would; after a reboot only the
# sockets.target.wants/ link installed with it can have started it.
"$SYS_TB" reboot "$SYS_NAME" >/dev/null 2>&1 || sys_die "reboot of $SYS_NAME failed"
capture g sh -c 'systemctl is-active ntssetup-probe.socket; systemctl is-enabled ntssetup-probe.socket; stat -c "%F %a %U:%G" /run/ntssetup-probe.socket
	systemctl show -P Listen ntssetup-probe.socket; systemctl show -P MaxConnections ntssetup-probe.socket
	systemctl show -P Accept ntssetup-probe.socket'
show
check "after a reboot, ntssetup-probe.socket is active, and static (the package's link, no [Install])" \
	test "$(sed -n 1,2p <<<"$OUT" | paste -sd' ' -)" = "active static"
check "$SOCK is a socket, 0600 root:root" test "$(sed -n 3p <<<"$OUT")" = "socket 600 root:root"
check "Accept=yes, MaxConnections=8" test "$(sed -n 5,6p <<<"$OUT" | paste -sd' ' -)" = "8 yes"

section "root only"
capture ga "$CLIENT" "$SOCK" ntsa.test
show
check "alice cannot connect (exit $RC): Permission denied" \
	bash -c '[ "$1" = 1 ] && grep -q "Permission denied" <<<"$2"' sh "$RC" "$OUT"

section "a request through the socket: the probe as a dynamic user"
# One guest script: connect (--hold: the request is not sent yet, so the instance waits
# for it), look at the instance systemd started for the connection, then let the
# client send and read the answer.
capture g bash -c '
	client=$1 sock=$2
	# The fifo is the client'"'"'s stdin; closing our end (fd 3, the only writer) lets it go on.
	mkfifo /tmp/hold.fifo && exec 3<>/tmp/hold.fifo || exit 1
	"$client" --hold --timeout-ms 5000 "$sock" ntsa.test ntsb.test ntsc.test </tmp/hold.fifo >/tmp/answer 2>&1 3>&- &
	cpid=$!
	unit=
	for i in $(seq 100); do
		unit=$(systemctl list-units --no-legend --plain --state=running "ntssetup-probe@*.service" | cut -d" " -f1 | head -n 1)
		[ -n "$unit" ] && grep -qx connected /tmp/answer && break
		sleep 0.05
	done
	echo "unit=$unit"
	systemctl show -p DynamicUser,User,UID,GID,MainPID,RuntimeMaxUSec "$unit"
	pid=$(systemctl show -P MainPID "$unit")
	# Until systemd'"'"'s child has set up the sandbox and executed the probe (before that
	# it is still root, setting up): the name of the running program then is the probe'"'"'s.
	for i in $(seq 100); do
		[ "$(cat /proc/$pid/comm 2>/dev/null)" = ntssetup-probe ] && break
		sleep 0.05
	done
	echo "comm=$(cat /proc/$pid/comm)"
	grep -E "^(Uid|Gid|CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/$pid/status
	[ "$(readlink /proc/$pid/ns/user)" = "$(readlink /proc/1/ns/user)" ] && echo userns=shared || echo userns=own
	t0=$(date +%s%N)
	exec 3>&-
	wait $cpid; echo "client-exit=$?"
	echo "answer-ms=$((($(date +%s%N) - t0) / 1000000))"
	cat /tmp/answer' sh "$CLIENT" "$SOCK"
show
unit=$(sed -n 's/^unit=//p' <<<"$OUT")
uid=$(sed -n 's/^UID=//p' <<<"$OUT")
mainpid=$(sed -n 's/^MainPID=//p' <<<"$OUT")
check "systemd started an instance for the connection (${unit:-none})" test -n "$unit"
check "the instance runs with DynamicUser=yes, User=ntssetup-probe" \
	all_lines "$OUT" DynamicUser=yes User=ntssetup-probe
check "its UID ($uid) is in systemd's dynamic range 61184..65519" \
	test -n "$uid" -a "${uid:-0}" -ge 61184 -a "${uid:-0}" -le 65519
check "the kernel agrees: /proc/$mainpid/status Uid and Gid are $uid" \
	all_lines "$OUT" "$(printf 'Uid:\t%s\t%s\t%s\t%s' "$uid" "$uid" "$uid" "$uid")" \
	"$(printf 'Gid:\t%s\t%s\t%s\t%s' "$uid" "$uid" "$uid" "$uid")"
check "no capabilities at all (CapEff and CapBnd 0)" \
	bash -c 'grep -qE "^CapEff:[[:space:]]*0+$" <<<"$1" && grep -qE "^CapBnd:[[:space:]]*0+$" <<<"$1"' sh "$OUT"
check "NoNewPrivs 1, Seccomp 2" all_lines "$OUT" "$(printf 'NoNewPrivs:\t1')" "$(printf 'Seccomp:\t2')"
check "its own user namespace (PrivateUsers=yes)" grep -qx userns=own <<<"$OUT"
check "RuntimeMaxSec bounds it (RuntimeMaxUSec=40s)" grep -qx RuntimeMaxUSec=40s <<<"$OUT"
check "the client got a valid answer (exit 0)" grep -qx client-exit=0 <<<"$OUT"
check "the answer was written by that process, as its dynamic user (SO_PASSCRED: pid $mainpid uid $uid)" \
	grep -qx "sender pid=$mainpid uid=$uid gid=$uid" <<<"$OUT"
for s in ntsa.test ntsb.test ntsc.test; do
	check "$s: ok" grep -q "^result $s 4460 ok " <<<"$OUT"
done
echo "    request sent -> answer read: $(sed -n 's/^answer-ms=//p' <<<"$OUT") ms (three servers, in parallel)"
gone() { [ -z "$(g systemctl list-units --no-legend --plain --state=active,activating,deactivating 'ntssetup-probe@*.service')" ]; }
check "the instance is gone once it answered" wait_for 10 gone
capture g journalctl -q --no-pager -o cat _SYSTEMD_UNIT="$unit"
check "nothing the probe logged says denied or SIGSYS" not grep -qiE 'denied|SIGSYS|bad system call' <<<"$OUT"
[ -n "$OUT" ] && show

section "MaxConnections=8 bounds how many probes run at once"
capture g bash -c '
	client=$1 sock=$2 n=0
	mkfifo /tmp/hold8.fifo && exec 3<>/tmp/hold8.fifo || exit 1
	for i in 1 2 3 4 5 6 7 8; do
		s=$(printf "ntsa.test ntsb.test ntsc.test" | cut -d" " -f$(( (i - 1) % 3 + 1 )))
		"$client" --hold "$sock" $s </tmp/hold8.fifo >/tmp/held.$i 2>&1 3>&- &
		pids="$pids $!"
	done
	for i in $(seq 100); do
		n=$(systemctl list-units --no-legend --plain --state=running "ntssetup-probe@*.service" | wc -l)
		[ "$n" -ge 8 ] && break
		sleep 0.05
	done
	echo "running=$n"
	"$client" "$sock" ntsa.test >/tmp/ninth 2>&1; echo "ninth-exit=$?"; cat /tmp/ninth
	exec 3>&-
	fails=0
	for p in $pids; do wait $p || fails=$((fails + 1)); done
	echo "held-failed=$fails"
	cat /tmp/held.* | grep -c "^result .* ok " | sed "s/^/held-ok=/"' sh "$CLIENT" "$SOCK"
show
check "eight held connections: eight probe instances running" grep -qx running=8 <<<"$OUT"
# systemd accepts it and closes it at once: the client sees a closed connection (EOF, or
# EPIPE/ECONNRESET when its request was still on its way).
check "a ninth connection is closed unanswered" \
	bash -c 'grep -qx ninth-exit=1 <<<"$1" && grep -qE "closed after 0 bytes|Broken pipe|Connection reset" <<<"$1"' sh "$OUT"
check "the eight are answered, ok" all_lines "$OUT" held-failed=0 held-ok=8

section "ntssetupd cannot open an internet socket"
# A harness script that tries IPv4 and IPv6, TCP and UDP, and prints what happened.
# 127.0.0.2:4460 is ntsa.test's NTS-KE port: reachable from the guest's own namespace.
gput "$SYS_TEST_LIBEXEC/netcheck" <<'EOF'
#!/bin/bash
# system test harness only (tests/system/test-probe.sh): IP sockets, tried
try() {
	local out
	if out=$( { exec 3<>"$2"; } 2>&1); then echo "netcheck $1: connected"; else echo "netcheck $1: ${out##*: }"; fi
}
try tcp4 /dev/tcp/127.0.0.2/4460
try udp4 /dev/udp/127.0.0.2/123
try tcp6 /dev/tcp/::1/4460
try udp6 /dev/udp/::1/123
EOF
g chmod 755 "$SYS_TEST_LIBEXEC/netcheck"
capture g "$SYS_TEST_LIBEXEC/netcheck"
show
check "from the guest's own namespace, as root: ntsa.test's NTS-KE port connects, UDP sockets open" \
	all_lines "$OUT" "netcheck tcp4: connected" "netcheck udp4: connected"
# ExecStartPre= runs in the unit's sandbox as systemd sets it up for ExecStart=: the same
# seccomp filter (RestrictAddressFamilies=), network namespace (PrivateNetwork= is one per
# unit), bounding set and NoNewPrivileges. '-': the daemon starts whatever it prints.
gput /etc/systemd/system/ntssetupd.service.d/test-netcheck.conf <<EOF
# system test harness only (tests/system/test-probe.sh)
[Service]
ExecStartPre=-$SYS_TEST_LIBEXEC/netcheck
EOF
g sh -c 'systemctl daemon-reload && systemctl stop ntssetupd; true'
since=$(g date +%s.%N)
capture g sh -c '
	busctl call org.ntssetup.Manager /org/ntssetup/Manager org.ntssetup.Manager1 ListSnapshots >/dev/null || exit 1
	pid=$(systemctl show -P MainPID ntssetupd)
	echo "mainpid=$pid"
	grep -E "^(Seccomp|Seccomp_filters):" /proc/$pid/status
	[ "$(readlink /proc/$pid/ns/net)" = "$(readlink /proc/1/ns/net)" ] && echo netns=shared || echo netns=own
	nsenter -t "$pid" -n ip -o addr | awk "{ print \"daemon-netns-addr \" \$2, \$4 }"
	nsenter -t "$pid" -n '"$SYS_TEST_LIBEXEC"'/netcheck | sed "s/^/daemon-netns /"
	journalctl -q --no-pager -o cat -u ntssetupd --since "@$1" | grep "^netcheck"
	systemctl show ntssetupd -p RestrictAddressFamilies,PrivateNetwork,CapabilityBoundingSet,IPAddressDeny' sh "$since"
show
check "a process of ntssetupd's unit: no IPv4 or IPv6 socket at all (EAFNOSUPPORT: the seccomp filter)" \
	all_lines "$OUT" "netcheck tcp4: Address family not supported by protocol" \
	"netcheck udp4: Address family not supported by protocol" \
	"netcheck tcp6: Address family not supported by protocol" \
	"netcheck udp6: Address family not supported by protocol"
check "the running daemon: a seccomp filter (Seccomp 2)" grep -qE '^Seccomp:[[:space:]]*2$' <<<"$OUT"
check "the running daemon has a network namespace of its own" grep -qx netns=own <<<"$OUT"
check "in it, only a loopback" \
	bash -c 'test "$(grep "^daemon-netns-addr " <<<"$1" | cut -d" " -f2 | sort -u)" = lo' sh "$OUT"
check "in it, ntsa.test's NTS-KE port (reachable from the guest) is not there" \
	bash -c 'grep -q "^daemon-netns netcheck tcp4: " <<<"$1" && ! grep -qx "daemon-netns netcheck tcp4: connected" <<<"$1"' sh "$OUT"
check "the unit: RestrictAddressFamilies=AF_UNIX, PrivateNetwork=yes" \
	all_lines "$OUT" RestrictAddressFamilies=AF_UNIX PrivateNetwork=yes
check "the unit: CapabilityBoundingSet is cap_chown cap_dac_override cap_fowner" \
	test "$(normset "$(sed -n 's/^CapabilityBoundingSet=//p' <<<"$OUT")")" = "cap_chown cap_dac_override cap_fowner"
g sh -c 'rm -f /etc/systemd/system/ntssetupd.service.d/test-netcheck.conf; rmdir /etc/systemd/system/ntssetupd.service.d
	systemctl daemon-reload; systemctl stop ntssetupd; true' 2>/dev/null

section "the daemon works without the network: Apply's preflight is the probe"
g sh -c 'rm -f /var/lib/chrony/*.nts'
since=$(g date +%s.%N)
capture g ntsctl apply "${SYS_SERVERS[@]}"
show "$(tail -n 3 <<<"$OUT")"
check_rc "ntsctl apply (with preflight)" 0
capture g sh -c 'journalctl -q --no-pager -o "short-unix" --since "@$1" _PID=1 | grep -c "Started ntssetup-probe@"' sh "$since"
check "the apply's preflight ran ntssetup-probe through the socket ($OUT instances started)" \
	test "${OUT:-0}" -ge 1
check "chronyd authenticates to all three servers" wait_for 30 nts_all_cookies

section "systemd-analyze security, booted"
for u in ntssetupd.service ntssetup-probe@check.service; do
	capture g systemd-analyze security "$u" --no-pager
	score=$(sed -n "s/.*Overall exposure level for $u: \\([0-9.]*\\).*/\\1/p" <<<"$OUT")
	echo "    $u: ${score:-?}; flagged: $(sed -n 's/^✗ \([^ ]*\) .*/\1/p' <<<"$OUT" | paste -sd' ' -)"
	check "$u: exposure ${score:-none} <= $MAX_EXPOSURE" \
		awk -v a="${score:-99}" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(a <= m) }'
done

finish
