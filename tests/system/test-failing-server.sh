#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-failing-server.sh — issue 5, test 7: one of the three servers fails, with
# --min-sources 3 all are needed.
#   - NTS-KE port closed (ntsserver@c stopped), and separately an untrusted certificate
#     (ntsserver@c restarted with a certificate from a CA outside the trust store):
#     apply with preflight fails with PreflightFailed (exit 1) naming ntsc.test, and
#     nothing changed;
#   - untrusted certificate, --no-preflight --wait-sync 20: the commit check fails,
#     everything is rolled back, ApplyFailed (exit 1) naming the step.
# The machine keeps its time sync either way: timesyncd stays (or is again) active.
#
#   tests/system/test-failing-server.sh        (root; ends with "N passed, M failed")
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

sys_setup

manifest_before=$(sys_manifest)
units_before=$(sys_units)
show "$units_before"

apply_refused() { # WHAT ERROR-NAME [STEP]: the last capture was an apply that failed
	check_rc "$1: ntsctl apply fails" 1
	show
	local err step
	if [ -z "${3:-}" ]; then
		check "$1: the message names ntsc.test" grep -q 'ntsc\.test' <<<"$OUT"
	else
		check "$1: the message names the step $3" grep -q "$3" <<<"$OUT"
	fi
	err=$(last_result error)
	check "$1: LastResult error is $2 ($err)" test "$err" = "$2"
	if [ -n "${3:-}" ]; then
		step=$(last_result step)
		check "$1: LastResult step is $3 (${step:-empty})" test "$step" = "$3"
	fi
	# Everything undone by the failed call itself, not left to a later recovery (which
	# an activation may already have run by now, so the journal alone proves nothing).
	check "$1: the call undid everything itself (no 'NOT everything was undone')" \
		not grep -q 'NOT everything was undone' <<<"$OUT"
	check "$1: no transaction journal left (/var/lib/ntssetup/journal)" not g test -e /var/lib/ntssetup/journal
	check_as_before "$manifest_before" "$units_before"
	check "$1: time sync still working: systemd-timesyncd active" test "$(gprop systemd-timesyncd ActiveState)" = active
}

section "NTS-KE port closed: ntsserver@c stopped"
g systemctl stop ntsserver@c
check "nothing listens on ntsc.test:4460" not g sh -c 'ss -Hltn "src 127.0.0.4:4460" | grep -q .'
g sh -c 'rm -f /var/lib/chrony/*.nts'
capture g ntsctl apply "${SYS_SERVERS[@]}"
apply_refused "port closed, preflight" org.ntssetup.Manager1.Error.PreflightFailed

section "harness: ntsserver@c with a certificate from a CA the guest does not trust"
capture g sh -c 'set -e
	d=/etc/ntsserver w=$(mktemp -d)
	cd "$w"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
		-days 30 -subj "/CN=untrusted test CA" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign 2>/dev/null
	printf "%s\n" basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
		extendedKeyUsage=serverAuth subjectAltName=DNS:ntsc.test,IP:127.0.0.4 >c.ext
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout c.key -subj /CN=ntsc.test 2>/dev/null |
		openssl x509 -req -CA ca.crt -CAkey ca.key -set_serial 0x1 -days 30 -extfile c.ext -out c.crt 2>/dev/null
	install -m 640 -g _chrony c.key "$d/c.key"
	install -m 644 c.crt "$d/c.crt"
	rm -rf "$w"
	systemctl start ntsserver@c'
check "ntsserver@c runs with the other certificate (exit $RC)" test "$RC" = 0 -a "$(gprop ntsserver@c ActiveState)" = active
check "the system trust store refuses that certificate (openssl verify)" not g openssl verify /etc/ntsserver/c.crt

g sh -c 'rm -f /var/lib/chrony/*.nts'
capture g ntsctl apply "${SYS_SERVERS[@]}"
apply_refused "untrusted certificate, preflight" org.ntssetup.Manager1.Error.PreflightFailed

section "untrusted certificate, --no-preflight --wait-sync 20: the commit check rolls back"
g sh -c 'rm -f /var/lib/chrony/*.nts'
t0=$SECONDS
capture g ntsctl apply "${SYS_SERVERS[@]}" --no-preflight --wait-sync 20
echo "    ($((SECONDS - t0)) s)"
apply_refused "untrusted certificate, no preflight" org.ntssetup.Manager1.Error.ApplyFailed commit-check
check "State is unconfigured" test "$(sys_state)" = unconfigured

finish
