#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-preview.sh — `ntsctl preview` in a booted guest prints chrony.conf for
# /etc/chrony/chrony.conf and the hardening drop-in for chronyd's real unit
# (chrony.service, resolved through systemd's LoadUnit), and writes nothing. Then the
# harness writes that preview's files into place by hand, reloads systemd and restarts
# chrony: the hardening is judged on what systemd and the kernel report for the running
# chronyd — with chronyd still running and authenticating to all three NTS servers.
# Prints systemd-analyze security chrony.service before and after.
#
#   tests/system/test-preview.sh        (root; ends with "N passed, M failed")
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

sys_setup
tmp=$SYS_TMP

etc_state() { g sh -c 'find /etc /var/lib/chrony /var/log/chrony -xdev -newer /etc/os-release -type f 2>/dev/null | sort | xargs -r sha256sum'; }

section "ntsctl preview ${SYS_SERVERS[*]}"
before=$(etc_state)
capture g ntsctl preview "${SYS_SERVERS[@]}"
check_rc "ntsctl preview" 0
show
check "it prints /etc/chrony/chrony.conf" grep -qx '# /etc/chrony/chrony.conf' <<<"$OUT"
real_unit=$(gprop chrony.service Id)
check "systemd's LoadUnit: chronyd's real unit is $real_unit" test "$real_unit" = chrony.service
check "it prints a drop-in for the real unit: /etc/systemd/system/$real_unit.d/*.conf" \
	grep -qE "^# /etc/systemd/system/$real_unit\\.d/[^/]+\\.conf\$" <<<"$OUT"
servers_ok() { for s in ntsa ntsb ntsc; do grep -qx "server $s.test iburst nts" <<<"$OUT" || return 1; done; }
check "chrony.conf: server ntsX.test iburst nts for all three" servers_ok
check "chrony.conf: minsources 3, authselectmode require" all_lines "$OUT" 'minsources 3' 'authselectmode require'
check "preview wrote nothing (sha256 of the files changed since the rootfs was made)" test "$(etc_state)" = "$before"

# The JSON form, each file extracted for the harness.
capture g ntsctl --json preview "${SYS_SERVERS[@]}"
printf '%s\n' "$OUT" >"$tmp/preview.json"
"$SYS_PY" - "$tmp/preview.json" "$tmp" <<-'EOF' >"$tmp/files"
import json, sys
files = json.load(open(sys.argv[1]))
for i, (path, content) in enumerate(sorted(files.items())):
    open("%s/f%d" % (sys.argv[2], i), "w").write(content)
    print("f%d\t%s" % (i, path))
EOF
text_out=$(g ntsctl preview "${SYS_SERVERS[@]}")
same_files() {
	local p
	[ -s "$tmp/files" ] || return 1
	while IFS=$'\t' read -r _ p; do grep -qxF "# $p" <<<"$text_out" || return 1; done <"$tmp/files"
}
check "ntsctl --json preview has the same files: $(cut -f2 "$tmp/files" | paste -sd' ' -)" same_files
dropin=$(cut -f2 "$tmp/files" | grep "^/etc/systemd/system/$real_unit\\.d/" | head -n 1)

section "chrony.service as Debian ships it (plus the harness's 00-testbed.conf)"
before_score=$(exposure chrony.service)
show "$(g systemctl show chrony.service -p "$SYS_HARDENING_PROPS" | cut -c1-100)"
echo "    systemd-analyze security chrony.service: ${before_score:-?}"

section "harness: the preview's files written into place, daemon-reload, restart chrony"
while IFS=$'\t' read -r f path; do
	if grep -q '^# kept as it is' "$tmp/$f"; then
		# The preview never shows an existing keys file: Apply keeps it.
		echo "    kept $path"
		continue
	fi
	if g test -e "$path"; then
		# An existing file keeps its owner and mode (the keys file: 0640 root:_chrony).
		g sh -c 'cat >"$1"' sh "$path" <"$tmp/$f"
	else
		gput "$path" <"$tmp/$f"
	fi
	echo "    wrote $path"
done <"$tmp/files"
g sh -c 'rm -f /var/lib/chrony/*.nts'
g systemctl daemon-reload
t0=$SECONDS
capture g systemctl restart chrony
check_rc "systemctl restart chrony" 0

section "chronyd runs and authenticates under the drop-in"
check "chrony.service active" test "$(gprop chrony.service ActiveState)" = active
if wait_for 30 nts_all_cookies; then ok "chronyc -N authdata: NTS cookies from all three servers ($((SECONDS - t0)) s)"; else
	not_ok "chronyc -N authdata: NTS cookies from all three servers (30 s)"
fi
capture g chronyc -N authdata
show
check "chronyd synchronised to an authenticated source (Leap status Normal, $((SECONDS - t0)) s)" wait_for 30 chrony_synced
capture g chronyc -N sources
show
check "still active, no restart (NRestarts=$(gprop chrony.service NRestarts))" \
	test "$(gprop chrony.service ActiveState)" = active -a "$(gprop chrony.service NRestarts)" = 0

section "the hardening, as systemd and the kernel report it for the running chronyd"
after_score=$(exposure chrony.service)
check_hardening "$dropin"

section "systemd-analyze security chrony.service"
echo "    Debian's unit (+ harness condition reset): ${before_score:-?}"
echo "    + the product's drop-in:                  ${after_score:-?}"
check "exposure lower with the drop-in (${before_score:-?} -> ${after_score:-?})" \
	awk -v a="${before_score:-0}" -v b="${after_score:-99}" 'BEGIN { exit !(b < a) }'
capture g systemd-analyze security chrony.service --no-pager
echo "    still flagged: $(sed -n 's/^✗ \([^ ]*\) .*/\1/p' <<<"$OUT" | paste -sd' ' -)"

finish
