#!/bin/bash
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

SERVERS=(--server ntsa.test --server ntsb.test --server ntsc.test --min-sources 3)
PROPS=CapabilityBoundingSet,SystemCallFilter,NoNewPrivileges,ProtectSystem,PrivateDevices,RestrictAddressFamilies
sys_setup
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; sys_cleanup' EXIT

etc_state() { g sh -c 'find /etc /var/lib/chrony /var/log/chrony -xdev -newer /etc/os-release -type f 2>/dev/null | sort | xargs -r sha256sum'; }
score() {
	g systemd-analyze security chrony.service --no-pager 2>/dev/null |
		sed -n 's/.*Overall exposure level for chrony.service: \([0-9.]*\).*/\1/p'
}
# systemctl show, with SystemCallFilter shortened for the reader.
show_props() {
	g systemctl show chrony.service -p "$PROPS" |
		awk -F= '$1 == "SystemCallFilter" { n = split($2, a, " "); printf "SystemCallFilter=%s ... (%d calls)\n", substr($2, 1, 60), n; next } { print }'
}

section "ntsctl preview ${SERVERS[*]}"
before=$(etc_state)
capture g ntsctl preview "${SERVERS[@]}"
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
capture g ntsctl --json preview "${SERVERS[@]}"
printf '%s\n' "$OUT" >"$tmp/preview.json"
"$SYS_PY" - "$tmp/preview.json" "$tmp" <<-'EOF' >"$tmp/files"
import json, sys
files = json.load(open(sys.argv[1]))
for i, (path, content) in enumerate(sorted(files.items())):
    open("%s/f%d" % (sys.argv[2], i), "w").write(content)
    print("f%d\t%s" % (i, path))
EOF
text_out=$(g ntsctl preview "${SERVERS[@]}")
same_files() {
	local p
	[ -s "$tmp/files" ] || return 1
	while IFS=$'\t' read -r _ p; do grep -qxF "# $p" <<<"$text_out" || return 1; done <"$tmp/files"
}
check "ntsctl --json preview has the same files: $(cut -f2 "$tmp/files" | paste -sd' ' -)" same_files
dropin=$(cut -f2 "$tmp/files" | grep "^/etc/systemd/system/$real_unit\\.d/" | head -n 1)
dropin_file=$tmp/$(awk -F'\t' -v p="$dropin" '$2 == p { print $1 }' "$tmp/files")

section "chrony.service as Debian ships it (plus the harness's 00-testbed.conf)"
before_score=$(score)
show "$(show_props)"
echo "    systemd-analyze security chrony.service: ${before_score:-?}"

section "harness: the preview's files written into place, daemon-reload, restart chrony"
while IFS=$'\t' read -r f path; do
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
check "systemd loaded the drop-in ($dropin)" grep -q -- "$dropin" <<<"$(gprop chrony.service DropInPaths)"
t0=$SECONDS
capture g systemctl restart chrony
check_rc "systemctl restart chrony" 0

section "chronyd runs and authenticates under the drop-in"
check "chrony.service active" test "$(gprop chrony.service ActiveState)" = active
cookies3() { [ "$(g chronyc -c -N authdata 2>/dev/null | awk -F, '$2 == "NTS" && $9 > 0' | wc -l)" -ge 3 ]; }
if wait_for 30 cookies3; then ok "chronyc -N authdata: NTS cookies from all three servers ($((SECONDS - t0)) s)"; else
	not_ok "chronyc -N authdata: NTS cookies from all three servers (30 s)"
fi
capture g chronyc -N authdata
show
synced() { [ "$(g chronyc -c tracking 2>/dev/null | awk -F, '{ print $NF }')" = Normal ]; }
check "chronyd synchronised to an authenticated source (Leap status Normal, $((SECONDS - t0)) s)" wait_for 30 synced
capture g chronyc -N sources
show
check "still active, no restart (NRestarts=$(gprop chrony.service NRestarts))" \
	test "$(gprop chrony.service ActiveState)" = active -a "$(gprop chrony.service NRestarts)" = 0
capture g journalctl -u chrony -b --no-pager -o cat
check "no fatal error or seccomp violation in chronyd's log" not grep -qiE 'fatal|SIGSYS|bad system call|Permission denied' <<<"$OUT"

section "the hardening, as systemd reports it (systemctl show -p $PROPS)"
after_score=$(score)
props=$(g systemctl show chrony.service -p "$PROPS")
show "$(show_props)"
last_assign() { sed -n "s/^$1=//p" "$dropin_file" | tail -n 1; }
for k in NoNewPrivileges ProtectSystem PrivateDevices; do
	want=$(last_assign "$k")
	got=$(sed -n "s/^$k=//p" <<<"$props")
	check "$k=$got (drop-in: ${want:-not set})" test -n "$want" -a "${want,,}" = "${got,,}"
done
for k in CapabilityBoundingSet RestrictAddressFamilies; do
	want=$(normset "$(last_assign "$k")")
	got=$(normset "$(sed -n "s/^$k=//p" <<<"$props")")
	check "$k is exactly the drop-in's list, not merged into Debian's ($got)" test -n "$want" -a "$want" = "$got"
done
sysfilter=$(sed -n 's/^SystemCallFilter=//p' <<<"$props")
check "SystemCallFilter is an allow list (Debian's is a deny list ~...): $(wc -w <<<"$sysfilter") calls" \
	test -n "$sysfilter" -a "${sysfilter:0:1}" != "~"
filter_has() { [[ " $sysfilter " == *" $1 "* ]]; }
for c in adjtimex clock_adjtime seccomp; do check "SystemCallFilter allows $c" filter_has "$c"; done
for c in mount reboot kexec_load init_module swapon ptrace; do check "SystemCallFilter refuses $c" not filter_has "$c"; done

section "the hardening, as the kernel reports it for the running chronyd"
pid=$(gprop chrony.service MainPID)
capture g grep -E '^(Name|Uid|CapBnd|CapEff|NoNewPrivs|Seccomp):' "/proc/$pid/status"
show
guest_bnd=$(g awk '/^CapBnd:/ { print $2 }' /proc/1/status)
want_caps=$(normset "$(for c in $(normset "$(last_assign CapabilityBoundingSet)"); do
	[[ " $(caps_of_mask "$guest_bnd") " == *" $c "* ]] && echo "$c"
done)")
bnd=$(awk '/^CapBnd:/ { print $2 }' <<<"$OUT")
check "chronyd's CapBnd = the drop-in's set (without cap_sys_time: the guest never has it): $want_caps" \
	test "$(normset "$(caps_of_mask "${bnd:-0}")")" = "$want_caps"
check "chronyd: NoNewPrivs 1" grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$OUT"
check "chronyd: Seccomp 2" grep -q '^Seccomp:[[:space:]]*2$' <<<"$OUT"
capture g nsenter -t "$pid" -m sh -c 'touch /usr/lib/.probe 2>/dev/null && echo usr=writable || echo usr=read-only
	touch /etc/.probe 2>/dev/null && echo etc=writable || echo etc=read-only; rm -f /etc/.probe
	touch /etc/chrony/.probe 2>/dev/null && echo etc-chrony=writable || echo etc-chrony=read-only; rm -f /etc/chrony/.probe
	echo "dev=$(ls /dev | paste -sd" " -)"'
show
check "chronyd's /usr and /etc are read-only (ProtectSystem=strict)" all_lines "$OUT" usr=read-only etc=read-only
# Not a check, a fact for the reader: Debian's unit has ConfigurationDirectory=chrony, and
# systemd makes configuration directories writable even under ProtectSystem=strict.
grep -qx etc-chrony=writable <<<"$OUT" &&
	echo "    note: /etc/chrony stays writable for chronyd (Debian's ConfigurationDirectory=chrony; systemd binds it rw under ProtectSystem=strict)"
# (No check on /dev: the container's own /dev has no rtc, ptp or pps device either.)

section "systemd-analyze security chrony.service"
echo "    Debian's unit (+ harness condition reset): ${before_score:-?}"
echo "    + the product's drop-in:                  ${after_score:-?}"
check "exposure lower with the drop-in (${before_score:-?} -> ${after_score:-?})" \
	awk -v a="${before_score:-0}" -v b="${after_score:-99}" 'BEGIN { exit !(b < a) }'
capture g systemd-analyze security chrony.service --no-pager
echo "    still flagged: $(sed -n 's/^✗ \([^ ]*\) .*/\1/p' <<<"$OUT" | paste -sd' ' -)"

finish
