#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-rollback.sh — issue 5, test 5: after `ntsctl apply` and `ntsctl rollback` every
# path an apply may touch is as before, byte for byte with owner and mode (a manifest of
# /etc/chrony, /etc/systemd/system, both ntp-units.d directories and /var/log/chrony,
# enablement links included); systemd-timesyncd is enabled and active again and chrony
# disabled and inactive, as before. The text output of apply names the snapshot
# (`Undo with: ntsctl rollback ID`) and rollback restores that one.
#
#   tests/system/test-rollback.sh        (root; ends with "N passed, M failed")
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

sys_setup

section "before"
manifest_before=$(sys_manifest)
units_before=$(sys_units)
show "$units_before"
echo "    manifest: $(wc -l <<<"$manifest_before") paths"

section "ntsctl apply ${SYS_SERVERS[*]}"
g sh -c 'rm -f /var/lib/chrony/*.nts'
capture g ntsctl apply "${SYS_SERVERS[@]}"
check_rc "ntsctl apply" 0
show
snapshot=$(sed -n 's/.*Undo with: ntsctl rollback \([^ ]*\)$/\1/p' <<<"$OUT")
check "apply prints 'Undo with: ntsctl rollback ID' (${snapshot:-none})" test -n "$snapshot"
check "the apply changed the manifest" test "$(sys_manifest)" != "$manifest_before"
capture sys_units
check "chrony enabled and active after apply" grep -qx 'chrony enabled active' <<<"$OUT"

section "ntsctl rollback"
capture g ntsctl rollback
check_rc "ntsctl rollback" 0
show
check "it restored the apply's snapshot ($snapshot)" grep -qF -- "$snapshot" <<<"$OUT"

section "after: as before"
check_as_before "$manifest_before" "$units_before"
check "State is unconfigured again" test "$(sys_state)" = unconfigured
capture g ntsctl status
show
check "ntsctl status: timesyncd active" grep -qE '^ *Timesyncd active: yes$' <<<"$OUT"

finish
