#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# measure-hardening.sh — score candidate hardening drop-ins for Debian's chrony.service in a
# booted test bed, and check that chronyd still starts, authenticates to the three NTS
# servers, logs, and stops cleanly with each of them.
#
#   tests/testbed/measure-hardening.sh [VARIANT...]      (default: all; VERBOSE=1 lists
#                                                        what systemd-analyze still flags)
#
# Each variant is written to /etc/systemd/system/chrony.service.d/50-ntssetup-hardening.conf,
# where the product puts its drop-in. Debian's ExecStart=!/usr/sbin/chronyd $DAEMON_OPTS
# stays as shipped; the harness gives chronyd -x through /etc/default/chrony.
#
# Columns: active (still running after the NTS exchange), nts (sources with cookies and
# replies, of 3), stop (clean stop: Result=success and the NTS cookie dump written at
# exit), logs (measurements.log written by chronyd), clock (the unit still lets chronyd
# set the clock: CAP_SYS_TIME bounded, adjtimex not filtered, ProtectClock=no — the
# container runs chronyd with -x, so only this static check can tell), exposure, errors.
set -uo pipefail

HERE=$(dirname "$(readlink -f "$0")")
TB=$HERE/testbed.sh
NAME=${NTSSETUP_TESTBED_NAME:-hardening}
DROPIN=/etc/systemd/system/chrony.service.d/50-ntssetup-hardening.conf
ALL=(debian A B C A_noCHOWN A_noDAC A_noRES A_noNBS A_noNBS_port0 A_ProtectClock tight tight_port0)

variant_debian() { :; } # no drop-in: Debian's unit as shipped

# The candidate drop-in, as proposed.
variant_A() {
	cat <<-'EOF'
	[Service]
	NoNewPrivileges=yes
	ProtectSystem=strict
	ProtectHome=yes
	PrivateTmp=yes
	PrivateDevices=yes
	ProtectKernelTunables=yes
	ProtectKernelModules=yes
	ProtectKernelLogs=yes
	ProtectControlGroups=yes
	ProtectHostname=yes
	ProtectProc=invisible
	ProcSubset=pid
	RestrictNamespaces=yes
	RestrictRealtime=yes
	RestrictSUIDSGID=yes
	LockPersonality=yes
	MemoryDenyWriteExecute=yes
	RemoveIPC=yes
	UMask=0077
	SystemCallArchitectures=native
	RestrictAddressFamilies=
	RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
	CapabilityBoundingSet=
	CapabilityBoundingSet=CAP_SYS_TIME CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE
	SystemCallFilter=
	SystemCallFilter=@system-service @clock seccomp
	SystemCallErrorNumber=EPERM
	ReadWritePaths=/run/chrony /var/lib/chrony /var/log/chrony
	DeviceAllow=
	EOF
}
variant_B() { variant_A | sed 's/ CAP_CHOWN CAP_DAC_OVERRIDE$//'; }
variant_C() { variant_A; echo 'PrivateUsers=yes'; }
# one change to A at a time
variant_A_noCHOWN() { variant_A | sed 's/ CAP_CHOWN / /'; }
variant_A_noDAC() { variant_A | sed 's/ CAP_DAC_OVERRIDE$//'; }
variant_A_noRES() { variant_A; echo 'SystemCallFilter=~@resources'; }
variant_A_noNBS() { variant_A | sed 's/ CAP_NET_BIND_SERVICE / /'; }
variant_A_noNBS_port0() { variant_A_noNBS; }
conf_A_noNBS_port0() { printf 'port 0\ncmdport 0\n'; } # client only: no NTP server port, no UDP command port
variant_A_ProtectClock() { variant_A; echo 'ProtectClock=yes'; }
# the tightest that works with Debian's ExecStart= and any chrony.conf: A without
# CAP_CHOWN, without @resources, and Debian's ReadWritePaths=/run -/var/spool narrowed
variant_tight() {
	variant_A | sed -e 's/ CAP_CHOWN / /' -e 's|^ReadWritePaths=.*|ReadWritePaths=\n&|'
	echo 'SystemCallFilter=~@resources'
}
# and if the product's chrony.conf has "port 0" and "cmdport 0": no CAP_NET_BIND_SERVICE
variant_tight_port0() { variant_tight | sed 's/ CAP_NET_BIND_SERVICE / /'; }
conf_tight_port0() { conf_A_noNBS_port0; }

# The client configuration for these runs only: the three NTS servers of the test bed.
client_conf() {
	cat <<-'EOF'
	server ntsa.test iburst nts
	server ntsb.test iburst nts
	server ntsc.test iburst nts
	authselectmode require
	minsources 3
	driftfile /var/lib/chrony/chrony.drift
	ntsdumpdir /var/lib/chrony
	logdir /var/log/chrony
	log tracking measurements statistics
	rtcsync
	makestep 1 3
	leapsectz right/UTC
	EOF
}

g() { "$TB" exec "$NAME" "$@"; }

# Sources (of 3) with NTS cookies and at least one reply, waiting at most $1 s for all 3.
wait_auth() {
	local end=$((SECONDS + $1)) n
	while :; do
		n=$(g sh -c 'chronyc -n -c authdata; chronyc -n -c sources' 2>/dev/null |
			awk -F, 'NF == 10 && $2 == "NTS" && $9 > 0 { c[$1] = 1 } NF == 10 && $2 != "NTS" && $6 != "0" { r[$3] = 1 }
				END { n = 0; for (a in c) if (a in r) n++; print n }')
		if [ "$n" -ge 3 ] || [ $SECONDS -ge "$end" ]; then
			echo "$n"
			return
		fi
		sleep 0.2
	done
}

measure() {
	local v=$1 since active auth stop logs clock score errors
	if [ "$v" = debian ]; then
		g rm -f "$DROPIN"
	else
		"variant_$v" | g sh -c "cat > $DROPIN"
	fi
	{
		client_conf
		if declare -F "conf_$v" >/dev/null; then "conf_$v"; fi
	} | g sh -c 'cat > /etc/chrony/chrony.conf'
	g sh -c 'systemctl stop chrony; systemctl reset-failed chrony; systemctl daemon-reload
		rm -f /var/lib/chrony/*.nts /var/log/chrony/*.log' >/dev/null 2>&1
	since=$(g date +%s.%N)
	g systemctl start chrony >/dev/null 2>&1
	auth=0
	[ "$(g systemctl is-active chrony)" = active ] && auth=$(wait_auth 15)
	active=$(g systemctl is-active chrony)
	logs=no
	g test -s /var/log/chrony/measurements.log && logs=yes
	g systemctl stop chrony >/dev/null 2>&1
	stop=no
	g sh -c '[ "$(systemctl show -P Result chrony)" = success ] && ls /var/lib/chrony/*.nts' >/dev/null 2>&1 && stop=yes
	clock=$(g sh -c 'f=$(systemctl show -P SystemCallFilter chrony)
		case " $(systemctl show -P CapabilityBoundingSet chrony) " in *" cap_sys_time "*) ;; *) echo no; exit;; esac
		[ "$(systemctl show -P ProtectClock chrony)" = no ] || { echo no; exit; }
		case "$f" in "~"*) case " ${f#\~} " in *" adjtimex "*) echo no; exit;; esac;;
			*) case " $f " in *" adjtimex "*) ;; *) echo no; exit;; esac;; esac
		echo yes')
	score=$(g systemd-analyze security chrony.service --no-pager 2>/dev/null |
		sed -n 's/.*Overall exposure level for chrony.service: \([0-9.]*\).*/\1/p')
	errors=$(g journalctl -q --no-pager -o cat --since "@$since" -u chrony 2>/dev/null |
		grep -E -i "could not|fatal|denied|error|failed|SIGSYS|status=" | sort -u |
		awk '/Fatal/ { print; next } { rest[++n] = $0 } END { for (i = 1; i <= n; i++) print rest[i] }' |
		head -n 3 | paste -sd'|' -)
	printf '%-15s active=%-8s nts=%s/3 stop=%-3s logs=%-3s clock=%-3s exposure=%-4s %s\n' \
		"$v" "$active" "$auth" "$stop" "$logs" "$clock" "$score" "${errors:+errors: $errors}"
	if [ -n "${VERBOSE:-}" ]; then
		g systemd-analyze security chrony.service --no-pager 2>/dev/null | grep '✗' | sed 's/^/      /'
	fi
}

main() {
	local variants=("$@") v
	[ ${#variants[@]} -gt 0 ] || variants=("${ALL[@]}")
	for v in "${variants[@]}"; do
		declare -F "variant_$v" >/dev/null || { echo "unknown variant $v (known: ${ALL[*]})" >&2; exit 2; }
	done
	"$HERE/build-rootfs.sh" || exit 1
	trap '"$TB" poweroff "$NAME" >/dev/null 2>&1' EXIT
	"$TB" boot "$NAME" || exit 1
	for v in "${variants[@]}"; do
		measure "$v"
	done
}

main "$@"
