#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-set-ntp.sh — issue 5, test 8: the desktop's NTP toggle. timedated starts the first
# unit of the ntp-units.d lists that exists; Debian's chrony package ships
# /usr/lib/systemd/ntp-units.d/50-chrony.list, which puts chrony first, but a distro that
# ships none leaves only timesyncd's list — and `timedatectl set-ntp true` would start
# timesyncd beside chronyd. The harness removes Debian's list; `ntsctl apply` then writes
# its own list putting chrony first, and `timedatectl set-ntp true` (also after
# set-ntp false) keeps timesyncd off and chrony running. Rollback removes the list again.
#
#   tests/system/test-set-ntp.sh        (root; ends with "N passed, M failed")
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

PACKAGED=/usr/lib/systemd/ntp-units.d/50-chrony.list
sys_setup

section "harness: Debian's $PACKAGED removed (a distro that ships none)"
g rm -f "$PACKAGED"
capture g sh -c 'grep -H . /usr/lib/systemd/ntp-units.d/* /etc/systemd/ntp-units.d/* 2>/dev/null'
show
check "no ntp-units.d list names chrony" not grep -q chrony <<<"$OUT"

section "ntsctl preview and apply"
capture g ntsctl preview "${SYS_SERVERS[@]}"
list=$(sed -n 's|^# \(/[^ ]*/ntp-units\.d/[^/ ]*\.list\)$|\1|p' <<<"$OUT")
check "preview shows an ntp-units.d list to write (${list:-none})" test -n "$list"
g sh -c 'rm -f /var/lib/chrony/*.nts'
capture g ntsctl --json apply "${SYS_SERVERS[@]}"
check_rc "ntsctl apply" 0
check "the apply wrote $list" grep -qF "\"$list\"" <<<"$OUT"
capture g cat "$list"
show
check "its first unit is chrony.service" test "$(grep -v '^#' <<<"$OUT" | grep -v '^$' | head -n 1)" = chrony.service
capture g sh -c 'for f in /usr/lib/systemd/ntp-units.d/*.list /etc/systemd/ntp-units.d/*.list; do [ -e "$f" ] && echo "$f"; done | sort -t/ -k6'
echo "    lists timedated reads: $(paste -sd' ' - <<<"$OUT")"

no_jobs() { [ -z "$(g systemctl list-jobs --no-legend)" ]; }
toggled() { # WHAT: after timedatectl set-ntp ..., timesyncd stays off, chrony runs
	check "$1: systemd's jobs done (within 10 s)" wait_for 10 no_jobs
	capture sys_units
	show
	check "$1: systemd-timesyncd disabled and inactive" grep -qx 'systemd-timesyncd disabled inactive' <<<"$OUT"
	check "$1: chrony enabled and active" grep -qx 'chrony enabled active' <<<"$OUT"
	capture g timedatectl show -p NTP -p CanNTP
	check "$1: timedatectl: NTP=yes, CanNTP=yes" all_lines "$OUT" NTP=yes CanNTP=yes
}

section "timedatectl set-ntp true"
capture g timedatectl set-ntp true
check_rc "timedatectl set-ntp true" 0
toggled "set-ntp true"

section "timedatectl set-ntp false, then true"
capture g timedatectl set-ntp false
check_rc "timedatectl set-ntp false" 0
check "set-ntp false: systemd's jobs done (within 10 s)" wait_for 10 no_jobs
check "set-ntp false stops chrony (timedated's own choice: the first list's unit)" \
	test "$(gprop chrony.service ActiveState)" = inactive
capture g timedatectl set-ntp true
check_rc "timedatectl set-ntp true" 0
toggled "set-ntp false, true"

section "ntsctl rollback removes the list again"
capture g ntsctl rollback
check_rc "ntsctl rollback" 0
check "$list is gone" not g test -e "$list"

finish
