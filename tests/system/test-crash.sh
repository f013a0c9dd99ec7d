#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-crash.sh — issue 5, test 6: ntssetupd dies (SIGABRT, as kill -9 would: no cleanup)
# in the middle of an apply, through its fault hook (`ntssetupd --fault=STEP:abort`, the
# -Dfault_injection=true build; a harness drop-in sets it for one activation):
#   - just before start-chronyd and just before commit-check: the next activation
#     (ntsctl status) recovers, and the machine is as before the apply (manifest, units);
#   - just before commit-check, then a power cut (reboot --hard) with the transaction
#     journal on disk: ntssetupd-recover.service runs at boot and puts the machine back.
#
#   tests/system/test-crash.sh        (root; ends with "N passed, M failed")
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

JOURNAL=/var/lib/ntssetup/journal
sys_setup

manifest_before=$(sys_manifest)
units_before=$(sys_units)
show "$units_before"

# The apply, with the daemon aborting just before STEP.
crash_apply() { # STEP
	sys_fault "$1:abort"
	g sh -c 'rm -f /var/lib/chrony/*.nts'
	# busctl, not ntsctl: ntsctl asks the service how a call without a reply ended,
	# which activates it again and so recovers at once; the journal must stay on disk
	# until the test says (activation, or a power cut).
	capture g busctl call --timeout=120 org.ntssetup.Manager /org/ntssetup/Manager \
		org.ntssetup.Manager1 ApplyHardenedConfig 'a{sv}' 2 \
		servers as 3 ntsa.test ntsb.test ntsc.test min-sources u 3
	check "the apply call fails: the daemon died (exit $RC: $(tail -n 1 <<<"$OUT"))" test "$RC" != 0
	capture g journalctl -u ntssetupd -b --no-pager -o cat
	OUT=$(tail -n 8 <<<"$OUT")
	check "ntssetupd aborted at $1 (its journal: fault injected ...; systemd: status=6/ABRT)" \
		all_lines "$(sed -n -e 's/.*\(fault injected: aborting at step [a-z-]*\).*/\1/p' -e 's/.*\(status=6\/ABRT\).*/\1/p' <<<"$OUT")" \
		"fault injected: aborting at step $1" "status=6/ABRT"
	check "the transaction journal $JOURNAL is left behind" g test -e "$JOURNAL"
	capture sys_units
	echo "    units left by the crash: $(paste -sd, <<<"$OUT")"
	# The harness's fault drop-in goes before anything activates the daemon again.
	sys_fault ''
}
recovered() { # HOW
	check "$1: the transaction journal is gone" not g test -e "$JOURNAL"
	check_as_before "$manifest_before" "$units_before"
	check "$1: State unconfigured" test "$(sys_state)" = unconfigured
	capture g ntsctl status
	show
	if [ "${2:-}" = activation ]; then
		check "$1: LastResult says the recovery succeeded" grep -qiE 'Last result: .*recover.* succeeded' <<<"$OUT"
	fi
}

for step in start-chronyd commit-check; do
	section "crash just before $step; the next activation recovers"
	crash_apply "$step"
	t0=$SECONDS
	capture g ntsctl status
	check_rc "ntsctl status activates the daemon again" 0
	check "State leaves 'recovering' (within 60 s)" sys_wait_settled 60
	echo "    settled after $((SECONDS - t0)) s"
	capture g journalctl -u ntssetupd -b --no-pager -o cat
	show "$(grep -i recover <<<"$OUT" | tail -n 3)"
	recovered "after the activation" activation
done

section "crash just before commit-check, then a power cut with the journal on disk"
crash_apply commit-check
capture g test -e "$JOURNAL"
capture "$SYS_TB" reboot "$SYS_NAME" --hard
check_rc "reboot --hard" 0
show
capture g systemctl show ntssetupd-recover.service -p ExecMainStartTimestampMonotonic -p ExecMainStatus -p Result -p ConditionResult
show
check "ntssetupd-recover.service ran at this boot and succeeded" \
	all_lines "$OUT" ExecMainStatus=0 Result=success ConditionResult=yes
check "... and is not ExecMainStartTimestampMonotonic=0" not grep -qx ExecMainStartTimestampMonotonic=0 <<<"$OUT"
capture g journalctl -b -u ntssetupd-recover --no-pager -o cat
show
check "it recovered (its journal: recovered: snapshot ... is back in place)" grep -q 'recovered: snapshot .* is back in place' <<<"$OUT"
check "the daemon itself was not activated this boot: the boot unit did the recovery" \
	not g sh -c 'journalctl -b -u ntssetupd.service -o cat | grep -q "Started ntssetupd"'
recovered "after the reboot"
# The crashed apply had enabled chrony; ntssetupd-recover.service is ordered before
# chrony's unit, whose start job replaced by the recovery's stop never ran.
check "chronyd never ran the half-applied configuration this boot" \
	not g sh -c 'journalctl -b -u chrony.service -o cat | grep -q "^Started chrony"'
capture g ntsctl status
check "LastResult (kept on disk by the boot unit) says the recovery succeeded" \
	grep -qiE 'Last result: .*recover.* succeeded' <<<"$OUT"

finish
