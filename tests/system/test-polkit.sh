#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-polkit.sh — the real polkitd decides (issue 5, test 4). alice (uid 1000, entered
# with nsenter: no logind session, so allow_active never applies to her) is refused
# ApplyHardenedConfig, Rollback and install (exit 4) and changes nothing, but may verify,
# preview and list snapshots. With a rules.d file granting org.ntssetup.manager.apply
# she applies (exit 0), but may neither install (chronyd moved away by the harness:
# apply --install is refused, exit 4) nor roll back; granting
# org.ntssetup.manager.configure implies apply and rollback (the policy's imply
# annotation), never install: she rolls back. Root is always allowed.
#
#   tests/system/test-polkit.sh        (root; ends with "N passed, M failed")
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

RULES=/etc/polkit-1/rules.d/50-ntssetup-test.rules
sys_setup

# chrony's files, the unit drop-ins and the units' state: what an apply or rollback changes.
fingerprint() { sys_manifest; sys_units; }
unchanged() { [ "$(fingerprint)" = "$BEFORE" ]; }
# pkcheck for alice's own shell process, without interaction: 0 authorised, 2 needs auth.
pk() { ga sh -c 'pkcheck --action-id "$1" --process $$ >/dev/null 2>&1; echo $?' sh "org.ntssetup.manager.$1"; }
rule() { # ACTION: alice may ACTION (polkitd reloads rules.d by itself)
	gput "$RULES" <<-EOF
	// system test harness only (tests/system/test-polkit.sh)
	polkit.addRule(function(action, subject) {
	    if (action.id == "org.ntssetup.manager.$1" && subject.user == "alice")
	        return polkit.Result.YES;
	});
	EOF
}
g sh -c 'rm -f /var/lib/chrony/*.nts'
MANIFEST_BEFORE=$(sys_manifest)
UNITS_BEFORE=$(sys_units)
BEFORE=$(printf '%s\n%s' "$MANIFEST_BEFORE" "$UNITS_BEFORE")
show "$UNITS_BEFORE"

section "alice, no rules: refused to change anything"
capture ga id
show
capture ga ntsctl --no-ask-password apply "${SYS_SERVERS[@]}"
check_rc "alice: ntsctl --no-ask-password apply ... is not authorised" 4
show
capture ga ntsctl --no-ask-password rollback
check_rc "alice: ntsctl --no-ask-password rollback is not authorised" 4
show
capture ga ntsctl --no-ask-password apply "${SYS_SERVERS[@]}" --install
check_rc "alice: ntsctl --no-ask-password apply --install is not authorised" 4
# With the interactive flag but no agent (no terminal, no session) polkit cannot ask: still 4.
capture timeout 60 "$SYS_TB" exec "$SYS_NAME" --user alice ntsctl apply "${SYS_SERVERS[@]}"
check_rc "alice: ntsctl apply (interactive flag, no agent) is not authorised" 4
capture ga busctl call --allow-interactive-authorization=no org.ntssetup.Manager /org/ntssetup/Manager \
	org.ntssetup.Manager1 ApplyHardenedConfig 'a{sv}' 0
check "alice: busctl ApplyHardenedConfig gets InteractiveAuthorizationRequired" \
	grep -q 'InteractiveAuthorizationRequired\|needs authentication' <<<"$OUT"
show
check "chrony's files and the units unchanged (sha256, modes, enablement)" unchanged

section "alice, no rules: may look"
capture ga ntsctl --no-ask-password preview "${SYS_SERVERS[@]}"
preview_ok() { [ "$RC" = 0 ] && grep -qx "# /etc/chrony/chrony.conf" <<<"$OUT"; }
check "alice: ntsctl preview works (exit $RC) and shows /etc/chrony/chrony.conf" preview_ok
capture ga ntsctl --no-ask-password snapshots
check_rc "alice: ntsctl snapshots works" 0
show
capture ga ntsctl --no-ask-password verify
# 0: NTS works, 3: the report says it does not (timesyncd runs, chrony is off): both mean
# the report came back.
check_rc "alice: ntsctl verify is allowed and reports" 0 3
show "$(head -n 12 <<<"$OUT")"
capture ga ntsctl status
check_rc "alice: ntsctl status works" 0
check "chrony's files and the units unchanged" unchanged

section "polkit rule: alice may org.ntssetup.manager.apply"
rule apply
check "pkcheck: alice is authorised for apply once polkitd reloaded the rules" wait_for 15 test "$(pk apply)" = 0
r=$(pk install)
check "pkcheck: apply does not grant org.ntssetup.manager.install (pkcheck exit $r)" test "$r" != 0
r=$(pk rollback)
check "pkcheck: apply does not grant org.ntssetup.manager.rollback (pkcheck exit $r)" test "$r" != 0
# Installing for real needs chrony missing: the harness moves chronyd away for this call.
g mv /usr/sbin/chronyd /usr/sbin/chronyd.test-away
capture ga ntsctl --no-ask-password apply "${SYS_SERVERS[@]}" --install
if [ "$RC" = 1 ] && grep -q 'chrony is not installed' <<<"$OUT"; then
	# The README's status: installing through PackageKit is in progress, and until then
	# Apply answers ChronyMissing without asking polkit for install. Once it lands this
	# must be 4.
	skip "alice (apply granted), chronyd missing: apply --install answers ChronyMissing (exit 1): install is not wired yet, polkit is never asked"
else
	check_rc "alice (apply granted), chronyd missing: ntsctl apply --install is not authorised" 4
fi
show
g mv /usr/sbin/chronyd.test-away /usr/sbin/chronyd
check "chrony's files and the units unchanged" unchanged
capture ga ntsctl --no-ask-password apply "${SYS_SERVERS[@]}"
check_rc "alice: ntsctl apply succeeds" 0
show
capture sys_units
check "her apply took effect: chrony enabled and active, timesyncd disabled and inactive" \
	all_lines "$OUT" "chrony enabled active" "systemd-timesyncd disabled inactive"
AFTER_APPLY=$(fingerprint)
capture ga ntsctl --no-ask-password rollback
check_rc "alice: ntsctl rollback still not authorised" 4
check "her refused rollback changed nothing" test "$(fingerprint)" = "$AFTER_APPLY"

section "polkit rule: alice may org.ntssetup.manager.configure (and nothing else)"
rule configure
check "pkcheck: alice is authorised for configure once polkitd reloaded the rules" wait_for 15 test "$(pk configure)" = 0
r=$(pk apply)
check "pkcheck: configure implies apply (pkcheck exit $r)" test "$r" = 0
r=$(pk rollback)
check "pkcheck: configure implies rollback (pkcheck exit $r)" test "$r" = 0
r=$(pk install)
check "pkcheck: configure does not imply install (pkcheck exit $r)" test "$r" != 0
capture ga ntsctl --no-ask-password rollback
check_rc "alice: ntsctl rollback succeeds on configure" 0
show
check_as_before "$MANIFEST_BEFORE" "$UNITS_BEFORE"
g rm -f "$RULES"
check "pkcheck: without the rule alice is refused apply again" wait_for 15 test "$(pk apply)" != 0

section "root: always allowed"
capture g ntsctl --no-ask-password apply "${SYS_SERVERS[@]}"
check_rc "root: ntsctl apply" 0
capture g ntsctl --no-ask-password rollback
check_rc "root: ntsctl rollback" 0
r=$(g sh -c 'pkcheck --action-id org.ntssetup.manager.install --process $$ >/dev/null 2>&1; echo $?')
check "pkcheck: root is authorised even for install (pkcheck exit $r)" test "$r" = 0

finish
