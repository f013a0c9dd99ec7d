#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-hardening.sh — issue 5, test 2: the hardening `ntsctl apply` writes is in effect,
# judged on what systemd reports for chronyd's real unit (systemctl show: the lists are
# the drop-in's, reset and not merged into Debian's deny lists) and what the kernel
# reports for the running chronyd (CapBnd, NoNewPrivs, Seccomp, read-only /usr and /etc),
# with chronyd still running and authenticating to all three servers under it.
# systemd-analyze security chrony.service before and after is printed; after must be
# below 2.8 (Debian's unit alone: 3.5).
#
#   tests/system/test-hardening.sh        (root; ends with "N passed, M failed")
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

MAX_EXPOSURE=2.8
sys_setup

section "chrony.service as Debian ships it (plus the harness's 00-testbed.conf)"
before=$(exposure chrony.service)
show "$(g systemctl show chrony.service -p "$SYS_HARDENING_PROPS" | cut -c1-100)"
echo "    systemd-analyze security chrony.service: ${before:-?}"

section "ntsctl apply ${SYS_SERVERS[*]}"
g sh -c 'rm -f /var/lib/chrony/*.nts'
capture g ntsctl --json apply "${SYS_SERVERS[@]}"
check_rc "ntsctl apply" 0
dropin=$("$SYS_PY" -c '
import json, sys
for f in json.loads(sys.stdin.read()).get("changed-files", []):
    if f.startswith("/etc/systemd/system/chrony.service.d/") and f.endswith(".conf"):
        print(f)' <<<"$OUT" | head -n 1)
check "the apply wrote a drop-in for chrony.service (${dropin:-none})" test -n "$dropin"

section "chronyd runs and authenticates under it"
check "chrony.service active, never restarted (NRestarts=$(gprop chrony.service NRestarts))" \
	test "$(gprop chrony.service ActiveState)" = active -a "$(gprop chrony.service NRestarts)" = 0
check "chronyc -N authdata: NTS cookies from all three servers" wait_for 30 nts_all_cookies
check "chronyd synchronised to an authenticated source (Leap status Normal)" wait_for 30 chrony_synced

section "the hardening, as systemd and the kernel report it"
[ -n "$dropin" ] && check_hardening "$dropin"

section "systemd-analyze security chrony.service"
after=$(exposure chrony.service)
echo "    Debian's unit (+ harness condition reset): ${before:-?}"
echo "    after ntsctl apply:                       ${after:-?}"
check "exposure after apply ${after:-?} < $MAX_EXPOSURE (before: ${before:-?})" \
	awk -v a="${after:-99}" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(a < m) }'
capture g systemd-analyze security chrony.service --no-pager
echo "    still flagged: $(sed -n 's/^✗ \([^ ]*\) .*/\1/p' <<<"$OUT" | paste -sd' ' -)"

finish
