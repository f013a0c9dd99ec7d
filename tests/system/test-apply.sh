#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-apply.sh — issue 5, test 1: `ntsctl apply` as root with the test bed's three NTS
# servers and --min-sources 3, from the reference starting state (timesyncd enabled and
# running, chrony installed but off). Exit 0; timesyncd inactive and disabled; chrony
# enabled and active; chronyc -N authdata shows NTS with cookies from every server (the
# client's stale *.nts dumps deleted first) and each server's serverstats show the key
# exchange and authenticated NTP; `ntsctl verify` exits 0 and agrees with chronyc; the
# keys file is 0640 root:_chrony; the log directory 0750 _chrony:_chrony with the logs
# the rendered chrony.conf asks for being written by the new chronyd; chronyd started on
# the NTS dumps Apply left it (one key exchange per server: the preflight's).
#
#   tests/system/test-apply.sh        (root; ends with "N passed, M failed")
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

sys_setup
tmp=$SYS_TMP

section "before: the reference starting state"
capture sys_units
show
check "timesyncd enabled and active, chrony disabled and inactive" \
	all_lines "$OUT" "chrony disabled inactive" "systemd-timesyncd enabled active"
# Cookies a chronyd saved earlier would make a dead server look alive.
g sh -c 'rm -f /var/lib/chrony/*.nts'
conf=$(g ntsctl preview "${SYS_SERVERS[@]}" | awk '/^# \/etc\/chrony\/chrony.conf$/ { on = 1; next } /^# \// { on = 0 } on')
logdir=$(sed -n 's/^logdir //p' <<<"$conf")
logs=$(sed -n 's/^log //p' <<<"$conf")
keyfile=$(sed -n 's/^keyfile //p' <<<"$conf")
echo "    the rendered chrony.conf: keyfile ${keyfile:-none}, logdir ${logdir:-none}, log ${logs:-none}"

section "ntsctl --json apply ${SYS_SERVERS[*]}"
g touch /run/apply-start
t0=$SECONDS
capture g ntsctl --json apply "${SYS_SERVERS[@]}"
check_rc "ntsctl apply ($((SECONDS - t0)) s)" 0
printf '%s\n' "$OUT" >"$tmp/apply.json"
capture "$SYS_PY" - "$tmp/apply.json" <<-'EOF'
	import json, sys
	r = json.load(open(sys.argv[1]))
	for k in ("snapshot-id", "changed-files", "unit-changes", "packages-installed",
	          "packages-removed", "report", "duration-ms"):
	    print("has %s %s" % (k, "yes" if k in r else "no"))
	print("snapshot-id=%s" % r.get("snapshot-id", ""))
	for f in r.get("changed-files", []):
	    print("changed %s" % f)
	for u in r.get("unit-changes", []):
	    print("unit %s" % u)
	print("report-ok=%s" % json.dumps(r.get("report", {}).get("ok")))
	print("duration-ms=%s" % r.get("duration-ms"))
EOF
show
check "the result has every key of the contract" \
	all_lines "$OUT" "has snapshot-id yes" "has changed-files yes" "has unit-changes yes" \
	"has packages-installed yes" "has packages-removed yes" "has report yes" "has duration-ms yes"
snapshot=$(sed -n 's/^snapshot-id=//p' <<<"$OUT")
check "changed-files: /etc/chrony/chrony.conf" grep -qx "changed /etc/chrony/chrony.conf" <<<"$OUT"
check "changed-files: a drop-in for chrony.service" grep -qE "^changed /etc/systemd/system/chrony\.service\.d/[^/]+\.conf$" <<<"$OUT"
check "unit-changes: systemd-timesyncd.service stopped and disabled" grep -qE '^unit systemd-timesyncd\.service: .*stopped.*disabled' <<<"$OUT"
check "unit-changes: chrony.service enabled and started" grep -qE '^unit chrony\.service: .*enabled.*(started|restarted)' <<<"$OUT"
check "the commit check's report says ok" grep -qx 'report-ok=true' <<<"$OUT"
capture g ntsctl snapshots
show
check "ntsctl snapshots lists the apply's snapshot ($snapshot)" grep -q "^${snapshot:-none} " <<<"$OUT"
check "State is applied" test "$(sys_state)" = applied

section "the units"
capture sys_units
show
check "systemd-timesyncd disabled and inactive" grep -qx 'systemd-timesyncd disabled inactive' <<<"$OUT"
check "chrony enabled and active" grep -qx 'chrony enabled active' <<<"$OUT"

section "NTS, as chronyc and the servers see it"
if wait_for 30 nts_all_cookies; then ok "chronyc -N authdata: NTS with cookies from all three servers"; else
	not_ok "chronyc -N authdata: NTS with cookies from all three servers (30 s)"
fi
capture g chronyc -N authdata
show
authdata=$(g chronyc -c -N authdata)
for s in a b c; do
	row=$(awk -F, -v n="nts$s.test" '$1 == n' <<<"$authdata")
	check "nts$s.test: mode NTS, cookies $(cut -d, -f9 <<<"$row")" awk -F, '{ exit !($2 == "NTS" && $9 > 0) }' <<<"$row"
	check "nts$s.test's serverstats: NTS-KE accepted and authenticated NTP answered" served "$s"
done
check "chronyd synchronised (Leap status Normal)" wait_for 30 chrony_synced
# Apply's nts-dump step: chronyd started on the preflight's sessions, so each server saw
# one key exchange, the probe's, and none of chronyd's own.
check "ntssetupd left chronyd the NTS dumps of all three servers (its journal)" \
	g sh -c 'journalctl -u ntssetupd --no-pager | grep -q "NTS dumps left for chronyd in /var/lib/chrony: 3 of 3 servers"'
check "chronyd loaded them: no .nts file left in /var/lib/chrony" not g sh -c 'ls /var/lib/chrony/*.nts 2>/dev/null | grep -q .'
for s in a b c; do
	ke=$(g chronyc -c -h "/run/ntsserver/$s/chronyd.sock" serverstats | cut -d, -f6)
	check "nts$s.test accepted one NTS-KE connection, the probe's ($ke)" test "$ke" = 1
done

section "ntsctl verify"
capture g ntsctl verify
check_rc "ntsctl verify says NTS works" 0
show
verify_agrees "$tmp"
agree=$?
show
check "ntsctl --json verify agrees with chronyc -c -N authdata" test "$agree" = 0
check "ntsctl --json verify exits 0 (exit $VERIFY_RC)" test "$VERIFY_RC" = 0

section "keys file and log directory"
if [ -n "$keyfile" ]; then
	capture g stat -c '%a %U:%G' "$keyfile"
	check "keys file $keyfile: 0640 root:_chrony ($OUT)" test "$OUT" = "640 root:_chrony"
else
	not_ok "the rendered chrony.conf names a keys file"
fi
if [ -n "$logdir" ]; then
	capture g stat -c '%a %U:%G' "$logdir"
	check "log directory $logdir: 0750 _chrony:_chrony ($OUT)" test "$OUT" = "750 _chrony:_chrony"
	# The logs chrony.conf asks for, written by the chronyd the apply started: owned by
	# _chrony, not empty, and newer than the apply's start.
	written() {
		local l
		for l in $logs; do
			g sh -c '[ -s "$1" ] && [ "$1" -nt /run/apply-start ] && [ "$(stat -c %U "$1")" = _chrony ]' sh "$logdir/$l.log" || return 1
		done
	}
	check "chronyd writes $(for l in $logs; do printf '%s.log ' "$l"; done)in $logdir (since the apply, as _chrony)" \
		wait_for 20 written
	capture g ls -l "$logdir"
	show
else
	skip "the rendered chrony.conf has no logdir: no log files to check"
fi

finish
