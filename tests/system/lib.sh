# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# tests/system/lib.sh — sourced by the system tests (tests/system/test-*.sh) and by
# tests/demo. It puts the project, built on this host, into a booted test bed (a real
# systemd, system bus and polkitd in systemd-nspawn, see tests/testbed/README.md):
#
#   sys_setup        rootfs (built once per machine), a --prefix=/usr build with the fault
#                    hook in $SYS_BUILD (default build-system/), installed into a DESTDIR,
#                    a copy of it bind-mounted read-only at /opt/ntssetup in a fresh
#                    instance $SYS_NAME, installed into the guest's / with
#                    `systemctl daemon-reload` and `systemctl reload dbus` (dbus-daemon
#                    re-reads the bus policy and the activation file; polkitd watches its
#                    actions directory itself), and ntssetup-probe.socket started. The
#                    instance is powered off on exit, and
#                    $SYS_TMP (a scratch directory on the host) removed.
#   g CMD...         CMD as root in the guest; its exit code
#   ga CMD...        CMD as alice (setpriv: no PAM, no logind session)
#   gput PATH        stdin into the guest's PATH (directories created, mode by umask 022)
#   capture CMD...   runs CMD, OUT = stdout and stderr, RC = exit code
#   show [TEXT]      TEXT (default $OUT) indented, for the reader of the log
#   ok / not_ok / skip DESC, check DESC CMD..., check_rc DESC CODE... (RC one of CODEs),
#   not CMD... (negation, for check), all_lines TEXT LINE... (each LINE is a line of TEXT)
#   sys_logs         the guest's `journalctl -u ntssetupd -u chrony | tail` (not_ok prints it)
#   finish           "N passed, M failed" and the exit status (1 if any failed)
# ntssetup and chrony in the guest (the apply, rollback, crash ... tests):
#   SYS_SERVERS      the three NTS servers of the test bed with --min-sources 3
#   sys_manifest     every path an apply may touch: type, mode, owner, sha256 / link target
#   sys_units        enablement and active state of chrony and systemd-timesyncd
#   check_as_before MANIFEST UNITS  checks: the manifest and the units as recorded
#   sys_state        the service's State property (activates it)
#   last_result KEY  a key of the LastResult property (error, step, ok, method, message)
#   sys_wait_settled SECONDS: until State is none of applying/rolling-back/recovering
#   sys_fault SPEC   harness drop-in: the next activation runs ntssetupd --fault=SPEC
#                    (SPEC '' removes it); the running daemon is stopped either way
#   nts_all_cookies  chronyc -N authdata: NTS with cookies from all three servers
#   chrony_synced    chronyc tracking: leap status Normal
#   served X         NTS server X's serverstats: NTS-KE accepted, authenticated NTP answered
#   exposure UNIT    systemd-analyze security's overall exposure of UNIT
#   verify_agrees DIR  `ntsctl --json verify` agrees with `chronyc -c -N authdata`
#   check_hardening DROPIN  the drop-in (guest path) as systemd and the kernel report it
#                    for the running chronyd: props, CapBnd, NoNewPrivs, Seccomp, read-only /usr
#
# Settings (environment): NTSSETUP_SYSTEM_BUILD (build dir), NTSSETUP_SYSTEM_NAME (instance
# name; default st-<test>-<pid>); a sourcing script may set SYS_FLAVOUR (the test bed's
# flavour, tests/testbed/build-rootfs.sh: default, or pk without chrony and with the real
# packagekitd; a line "SYS_FLAVOUR=NAME" of its own, which tests/system/run reads to build
# that rootfs first), SYS_MESON_OPTS (array) before
# sys_setup (tests/demo builds without the fault hook), and SYS_TEST_PROGRAMS (array of
# build targets: test-only programs, copied into the guest's $SYS_TEST_LIBEXEC,
# /usr/local/lib/ntssetup-tests). Everything the tests add in the
# guest (drop-ins, polkit rules, chrony.conf by hand) is harness, never product.

SYS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SYS_TB=$SYS_TOP/tests/testbed/testbed.sh
SYS_BUILD=${NTSSETUP_SYSTEM_BUILD:-$SYS_TOP/build-system}
# Test-only programs a sourcing script needs in the guest (build targets, e.g.
# tests/probe-socket-client): built with the rest, never installed by the product, put
# into the guest's $SYS_TEST_LIBEXEC. Only the tests that set them build them.
[ -n "${SYS_TEST_PROGRAMS+set}" ] || SYS_TEST_PROGRAMS=()
SYS_TEST_LIBEXEC=/usr/local/lib/ntssetup-tests
if [ -z "${SYS_MESON_OPTS+set}" ]; then
	# The fault hook: later crash tests start the daemon with --fault=STEP:abort.
	SYS_MESON_OPTS=(-Dprefix=/usr -Dfault_injection=true)
fi
SYS_TEST=$(basename "$0" .sh)
SYS_FLAVOUR=${SYS_FLAVOUR:-default}
SYS_NAME=${NTSSETUP_SYSTEM_NAME:-st-${SYS_TEST#test-}}
SYS_NAME=$(printf '%.22s-%s' "$SYS_NAME" "$$" | tr -c 'a-z0-9-\n' '-')
SYS_PY=/usr/bin/python3
[ -x "$SYS_PY" ] || SYS_PY=python3
SYS_STAGE=
SYS_TMP=
SYS_BOOTED=0
SYS_PASS=0 SYS_FAIL=0 SYS_SKIP=0
OUT='' RC=0
export LC_ALL=C

sys_log() { printf '%s: %s\n' "$SYS_TEST" "$*" >&2; }
sys_die() {
	sys_log "error: $*"
	exit 1
}

# --- results --------------------------------------------------------------------------------
ok() {
	SYS_PASS=$((SYS_PASS + 1))
	echo "ok - $*"
}
not_ok() {
	SYS_FAIL=$((SYS_FAIL + 1))
	echo "not ok - $*"
	[ "$SYS_BOOTED" = 1 ] && sys_logs
}
skip() {
	SYS_SKIP=$((SYS_SKIP + 1))
	echo "skip - $*"
}
check() { # DESC CMD...
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
not() { ! "$@"; }
all_lines() { # TEXT LINE...: every LINE is a whole line of TEXT
	local text=$1 l
	shift
	for l; do grep -qxF -- "$l" <<<"$text" || return 1; done
}
rc_in() { # RC CODE...: RC is one of the CODEs
	local want=$1 c
	shift
	for c; do [ "$want" = "$c" ] && return 0; done
	return 1
}
check_rc() { # DESC CODE...: the last capture's RC is one of the CODEs
	local d=$1
	shift
	if rc_in "$RC" "$@"; then ok "$d (exit $RC)"; else
		not_ok "$d (exit $RC, want $*)"
		show
	fi
}
capture() {
	OUT=$("$@" 2>&1)
	RC=$?
}
# shellcheck disable=SC2120 # the tests pass TEXT
show() { printf '%s\n' "${1-$OUT}" | sed 's/^/    | /'; }
section() { printf '\n== %s\n' "$*"; }
finish() {
	[ "$SYS_SKIP" -gt 0 ] && echo "$SYS_SKIP skipped"
	echo "$SYS_PASS passed, $SYS_FAIL failed"
	[ "$SYS_FAIL" = 0 ] && exit 0
	exit 1
}

# --- the guest ------------------------------------------------------------------------------
g() { "$SYS_TB" exec "$SYS_NAME" "$@"; }
ga() { "$SYS_TB" exec "$SYS_NAME" --user alice "$@"; }
gput() { g sh -c 'mkdir -p "$(dirname "$1")" && cat >"$1"' sh "$1"; }
# One property of a unit, as systemd reports it.
gprop() { g systemctl show -P "$2" "$1"; }
sys_logs() {
	echo "    --- guest: journalctl -u ntssetupd -u chrony --no-pager | tail -n 20"
	g journalctl -u ntssetupd -u chrony --no-pager 2>&1 | tail -n 20 | sed 's/^/    | /'
}
# Bounded wait: until CMD succeeds, at most SECONDS (polling every 0.2 s).
wait_for() { # SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}
# The capability names in a /proc/PID/status Cap* mask (hex).
SYS_CAPS=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
	linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
	sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice
	sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap
	mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf
	checkpoint_restore)
caps_of_mask() {
	local mask=$((16#$1)) i out=()
	for i in "${!SYS_CAPS[@]}"; do
		[ $(((mask >> i) & 1)) = 1 ] && out+=("cap_${SYS_CAPS[$i]}")
	done
	echo "${out[*]}"
}
# A space-separated list as a sorted, lower-case, one-line set.
normset() { tr ' ' '\n' <<<"$*" | tr 'A-Z' 'a-z' | grep -v '^$' | sort -u | paste -sd' ' -; }

# --- build and boot -------------------------------------------------------------------------
# Builds what is installed (not the unit tests: other work in progress must not stop the
# system tests), under a lock (two runs may share the build dir), and stages a private copy
# of the DESTDIR for this instance.
sys_build() {
	local lock log dest=$SYS_BUILD/system-destdir
	lock=${TMPDIR:-/tmp}/ntssetup-system-$(printf '%s' "$SYS_BUILD" | md5sum | cut -c1-12).lock
	log=$(mktemp)
	if ! (
		flock -w 600 9 || { echo "build lock $lock busy"; exit 1; }
		cd "$SYS_TOP" || exit 1
		if [ -e "$SYS_BUILD/build.ninja" ]; then
			meson configure "$SYS_BUILD" "${SYS_MESON_OPTS[@]}" || exit 1
		else
			meson setup "$SYS_BUILD" "${SYS_MESON_OPTS[@]}" || exit 1
		fi
		ninja -C "$SYS_BUILD" service/ntssetupd client/ntsctl probe/ntssetup-probe "${SYS_TEST_PROGRAMS[@]}" || exit 1
		rm -rf "$dest"
		meson install -C "$SYS_BUILD" --no-rebuild --quiet --destdir "$dest" || exit 1
		cp -a "$dest/." "$SYS_STAGE/"
		if [ ${#SYS_TEST_PROGRAMS[@]} -gt 0 ]; then
			mkdir -p "$SYS_STAGE$SYS_TEST_LIBEXEC"
			for p in "${SYS_TEST_PROGRAMS[@]}"; do cp "$SYS_BUILD/$p" "$SYS_STAGE$SYS_TEST_LIBEXEC/" || exit 1; done
		fi
	) 9>>"$lock" >"$log" 2>&1; then
		sys_log "build failed ($SYS_BUILD):"
		tail -n 30 "$log" | sed 's/^/    /' >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
}

sys_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$SYS_BOOTED" = 1 ] || "$SYS_TB" status "$SYS_NAME" >/dev/null 2>&1; then
		"$SYS_TB" poweroff "$SYS_NAME" >/dev/null 2>&1 || sys_log "poweroff of $SYS_NAME failed"
	fi
	[ -n "$SYS_STAGE" ] && rm -rf --one-file-system "$SYS_STAGE"
	[ -n "$SYS_TMP" ] && rm -rf "$SYS_TMP"
	exit "$rc"
}

sys_setup() {
	[ "$(id -u)" = 0 ] || sys_die "must run as root (the test bed runs systemd-nspawn)"
	local t
	for t in meson ninja systemd-nspawn debootstrap nsenter flock; do
		command -v "$t" >/dev/null || sys_die "$t is missing: run tools/install-deps"
	done
	trap sys_cleanup EXIT
	trap 'exit 130' INT TERM
	SYS_STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ntssetup-system.XXXXXX")
	SYS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ntssetup-system-tmp.XXXXXX")
	chmod 755 "$SYS_STAGE"
	"$SYS_TOP/tests/testbed/build-rootfs.sh" --flavour "$SYS_FLAVOUR" || sys_die "the test bed's rootfs cannot be built"
	sys_build || sys_die "build failed"
	"$SYS_TB" boot "$SYS_NAME" --flavour "$SYS_FLAVOUR" --bind-ro "$SYS_STAGE:/opt/ntssetup" || sys_die "boot of $SYS_NAME failed"
	SYS_BOOTED=1
	# --no-overwrite-dir: the guest's directories keep their owner and mode.
	# Then what a package's maintainer scripts do with a socket unit it enables: start it
	# (a boot would, through the sockets.target.wants/ link; test-probe checks that).
	g sh -c 'tar -C /opt/ntssetup -cf - . | tar -C / -xf - --no-overwrite-dir &&
		systemctl daemon-reload && systemctl reload dbus && systemctl start ntssetup-probe.socket' ||
		sys_die "installing into the guest failed"
	g busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
		ListActivatableNames 2>/dev/null | grep -q '"org.ntssetup.Manager"' ||
		sys_die "dbus-daemon in the guest does not know org.ntssetup.Manager after the install"
}

# --- ntssetup and chrony in the guest -------------------------------------------------------
# shellcheck disable=SC2034 # used by the tests that source this
SYS_SERVERS=(--server ntsa.test --server ntsb.test --server ntsc.test --min-sources 3)
# Everything an apply may write, and what the rollback tests compare byte for byte:
# listed recursively ...
SYS_MANIFEST_TREES=(/etc/chrony /etc/systemd/system /usr/lib/systemd/ntp-units.d /etc/systemd/ntp-units.d)
# ... and the log directory itself only: what is inside is chronyd's logs, never ntssetup's.
SYS_MANIFEST_DIRS=(/var/log/chrony)

# One line per path: "file MODE OWNER SHA256 PATH", "link OWNER PATH -> TARGET",
# "directory MODE OWNER PATH", "absent PATH".
sys_manifest() {
	g sh -c 'line() {
			if [ -L "$1" ]; then echo "link $(stat -c "%U:%G" "$1") $1 -> $(readlink "$1")"
			elif [ -f "$1" ]; then echo "file $(stat -c "%a %U:%G" "$1") $(sha256sum <"$1" | cut -d" " -f1) $1"
			elif [ -e "$1" ]; then echo "$(stat -c %F "$1" | tr " " _) $(stat -c "%a %U:%G" "$1") $1"
			else echo "absent $1"; fi
		}
		trees=$1 dirs=$2
		for d in $trees; do
			[ -e "$d" ] || { echo "absent $d"; continue; }
			find "$d" -xdev | sort | while read -r f; do line "$f"; done
		done
		for d in $dirs; do line "$d"; done' sh "${SYS_MANIFEST_TREES[*]}" "${SYS_MANIFEST_DIRS[*]}"
}
sys_units() {
	g sh -c 'for u in chrony systemd-timesyncd; do
		echo "$u $(systemctl is-enabled $u 2>/dev/null) $(systemctl is-active $u 2>/dev/null)"; done'
}
sys_state() {
	g busctl get-property org.ntssetup.Manager /org/ntssetup/Manager org.ntssetup.Manager1 State 2>/dev/null |
		sed -n 's/^s "\(.*\)"$/\1/p'
}
last_result() {
	g ntsctl --json status 2>/dev/null | "$SYS_PY" -c '
import json, sys
v = json.load(sys.stdin).get("LastResult", {}).get(sys.argv[1], "")
print(json.dumps(v) if isinstance(v, bool) else v)' "$1"
}
sys_settled() { case $(sys_state) in '' | applying | rolling-back | recovering) return 1 ;; esac; }
sys_wait_settled() { wait_for "$1" sys_settled; }
sys_fault() { # SPEC ('' = none)
	if [ -n "$1" ]; then
		gput /etc/systemd/system/ntssetupd.service.d/test-fault.conf <<-EOF
		# system test harness only: the fault hook (a -Dfault_injection=true build)
		[Service]
		ExecStart=
		ExecStart=/usr/libexec/ntssetupd --fault=$1
		EOF
	else
		g sh -c 'rm -f /etc/systemd/system/ntssetupd.service.d/test-fault.conf
			rmdir /etc/systemd/system/ntssetupd.service.d 2>/dev/null; true'
	fi
	# The next activation must start with (or without) it: a daemon still running from
	# an earlier call would answer without it.
	g sh -c 'systemctl daemon-reload && systemctl stop ntssetupd && systemctl reset-failed ntssetupd 2>/dev/null; true'
}
nts_all_cookies() {
	[ "$(g chronyc -c -N authdata 2>/dev/null | awk -F, '$2 == "NTS" && $9 > 0' | wc -l)" -ge 3 ]
}
chrony_synced() { [ "$(g chronyc -c tracking 2>/dev/null | awk -F, '{ print $NF }')" = Normal ]; }
served() {
	g chronyc -c -h "/run/ntsserver/$1/chronyd.sock" serverstats 2>/dev/null | awk -F, '{ exit !($6 > 0 && $8 > 0) }'
}
exposure() {
	g systemd-analyze security "$1" --no-pager 2>/dev/null |
		sed -n "s/.*Overall exposure level for $1: \\([0-9.]*\\).*/\\1/p"
}

# The hardening drop-in DROPIN (a path in the guest) judged on what systemd reports for
# chronyd's real unit and what the kernel reports for the running chronyd: the lists
# must be the drop-in's (reset, not merged into the packaged unit's), and chronyd must
# run under them.
SYS_HARDENING_PROPS=CapabilityBoundingSet,SystemCallFilter,NoNewPrivileges,ProtectSystem,PrivateDevices,RestrictAddressFamilies
check_hardening() {
	local dropin=$1 unit=chrony.service text props k want got sysfilter c pid guest_bnd want_caps bnd
	text=$(g cat "$dropin") || { not_ok "cannot read the drop-in $dropin"; return; }
	last_assign() { sed -n "s/^$1=//p" <<<"$text" | tail -n 1; }
	check "systemd loaded the drop-in ($dropin)" grep -q -- "$dropin" <<<"$(gprop "$unit" DropInPaths)"
	props=$(g systemctl show "$unit" -p "$SYS_HARDENING_PROPS")
	show "$(awk -F= '$1 == "SystemCallFilter" { n = split($2, a, " "); printf "SystemCallFilter=%s ... (%d calls)\n", substr($2, 1, 60), n; next } { print }' <<<"$props")"
	for k in NoNewPrivileges ProtectSystem PrivateDevices; do
		want=$(last_assign "$k")
		got=$(sed -n "s/^$k=//p" <<<"$props")
		check "$k=$got (drop-in: ${want:-not set})" test -n "$want" -a "${want,,}" = "${got,,}"
	done
	for k in CapabilityBoundingSet RestrictAddressFamilies; do
		want=$(normset "$(last_assign "$k")")
		got=$(normset "$(sed -n "s/^$k=//p" <<<"$props")")
		check "$k is exactly the drop-in's list, not merged into the packaged unit's ($got)" test -n "$want" -a "$want" = "$got"
	done
	sysfilter=$(sed -n 's/^SystemCallFilter=//p' <<<"$props")
	check "SystemCallFilter is an allow list (Debian's is a deny list ~...): $(wc -w <<<"$sysfilter") calls" \
		test -n "$sysfilter" -a "${sysfilter:0:1}" != "~"
	filter_has() { [[ " $sysfilter " == *" $1 "* ]]; }
	for c in adjtimex clock_adjtime seccomp; do check "SystemCallFilter allows $c" filter_has "$c"; done
	for c in mount reboot kexec_load init_module swapon ptrace; do check "SystemCallFilter refuses $c" not filter_has "$c"; done

	pid=$(gprop "$unit" MainPID)
	capture g grep -E '^(Name|Uid|CapBnd|CapEff|NoNewPrivs|Seccomp):' "/proc/$pid/status"
	show
	guest_bnd=$(g awk '/^CapBnd:/ { print $2 }' /proc/1/status)
	want_caps=$(normset "$(for c in $(normset "$(last_assign CapabilityBoundingSet)"); do
		[[ " $(caps_of_mask "$guest_bnd") " == *" $c "* ]] && echo "$c"
	done)")
	bnd=$(awk '/^CapBnd:/ { print $2 }' <<<"$OUT")
	check "the running chronyd's CapBnd = the drop-in's set (without cap_sys_time: the guest never has it): $want_caps" \
		test "$(normset "$(caps_of_mask "${bnd:-0}")")" = "$want_caps"
	check "the running chronyd: NoNewPrivs 1" grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$OUT"
	check "the running chronyd: Seccomp 2" grep -q '^Seccomp:[[:space:]]*2$' <<<"$OUT"
	capture g nsenter -t "$pid" -m sh -c 'touch /usr/lib/.probe 2>/dev/null && echo usr=writable || echo usr=read-only
		touch /etc/.probe 2>/dev/null && echo etc=writable || echo etc=read-only; rm -f /etc/.probe
		touch /etc/chrony/.probe 2>/dev/null && echo etc-chrony=writable || echo etc-chrony=read-only; rm -f /etc/chrony/.probe'
	show
	check "chronyd's /usr and /etc are read-only (ProtectSystem=strict)" all_lines "$OUT" usr=read-only etc=read-only
	# Not a check, a fact for the reader: Debian's unit has ConfigurationDirectory=chrony, and
	# systemd makes configuration directories writable even under ProtectSystem=strict.
	grep -qx etc-chrony=writable <<<"$OUT" &&
		echo "    note: /etc/chrony stays writable for chronyd (Debian's ConfigurationDirectory=chrony; systemd binds it rw under ProtectSystem=strict)"
	capture g journalctl -u "$unit" -b --no-pager -o cat
	check "no fatal error or seccomp violation in chronyd's log" not grep -qiE 'fatal|SIGSYS|bad system call|Permission denied' <<<"$OUT"
}

# `ntsctl --json verify` and `chronyc -c -N authdata` on the same chronyd, read close
# together, agree (names, NTS, KE count, attempts, age, cookies, NAK). A cookie or an age
# may move between the two reads, so up to three tries. DIR keeps verify.json; OUT is the
# comparison, VERIFY_RC ntsctl's exit code.
verify_compare() { # AUTHDATA.csv VERIFY.json: prints both, and MISMATCH lines
	"$SYS_PY" - "$1" "$2" <<-'EOF'
	import csv, json, sys
	rows = [r for r in csv.reader(open(sys.argv[1])) if r]
	report = json.load(open(sys.argv[2]))
	src = {s["name"]: s for s in report.get("sources", [])}
	bad = []
	if sorted(src) != sorted(r[0] for r in rows):
	    bad.append("sources: verify %s, chronyc %s" % (sorted(src), sorted(r[0] for r in rows)))
	for name, mode, keyid, ktype, klen, last, atmp, nak, cook, clen in rows:
	    s = src.get(name)
	    if s is None:
	        continue
	    for key, got, want in (("nts", s.get("nts"), mode == "NTS"),
	                           ("ke-count", s.get("ke-count"), int(keyid)),
	                           ("ke-attempts", s.get("ke-attempts"), int(atmp)),
	                           ("nak", s.get("nak"), nak != "0"),
	                           ("cookies", s.get("cookies"), int(cook))):
	        if got != want:
	            bad.append("%s %s: verify %r, chronyc %r" % (name, key, got, want))
	    age = s.get("last-ke-age")
	    want_age = -1 if int(last) == 4294967295 else int(last)  # chronyc -c: never = 2^32-1
	    if not isinstance(age, int) or (age == -1) != (want_age == -1) or abs(age - want_age) > 2:
	        bad.append("%s last-ke-age: verify %r, chronyc %s" % (name, age, last))
	    print("%-10s nts=%s ke-count=%s attempts=%s age=%s cookies=%s nak=%s  | chronyc: %s"
	          % (name, s.get("nts"), s.get("ke-count"), s.get("ke-attempts"), age,
	             s.get("cookies"), s.get("nak"), ",".join([name, mode, keyid, ktype, klen, last, atmp, nak, cook, clen])))
	for b in bad:
	    print("MISMATCH " + b)
	sys.exit(1 if bad else 0)
	EOF
}
verify_agrees() { # DIR
	local i
	for i in 1 2 3; do
		[ "$i" = 1 ] || sleep 1
		g chronyc -c -N authdata >"$1/authdata.csv" 2>&1
		g ntsctl --json verify >"$1/verify.json" 2>"$1/verify.err"
		# shellcheck disable=SC2034 # for the sourcing test
		VERIFY_RC=$?
		capture verify_compare "$1/authdata.csv" "$1/verify.json"
		[ "$RC" = 0 ] && return 0
	done
	return 1
}

# The manifest without the lines of SYS_MANIFEST_DIRS themselves.
manifest_trees() {
	local d pat=''
	for d in "${SYS_MANIFEST_DIRS[@]}"; do pat+="|$d"; done
	grep -vE "^[^ ]+ ([0-7]+ [^ ]+ )?(${pat#|})\$" <<<"$1"
}
# The log directory as before. The restore puts back its owner and mode when it existed, and
# removes it when the apply made it and it is still empty: chronyd's logs in it are never
# ntssetup's to delete. So a directory the apply made may stay, holding only those.
manifest_dirs_as_before() { # BEFORE AFTER
	local d b a
	for d in "${SYS_MANIFEST_DIRS[@]}"; do
		b=$(grep -E "^[^ ]+ ([0-7]+ [^ ]+ )?$d\$" <<<"$1")
		a=$(grep -E "^[^ ]+ ([0-7]+ [^ ]+ )?$d\$" <<<"$2")
		[ "$b" = "$a" ] && continue
		[ "$b" = "absent $d" ] || { echo "    $d: before '$b', now '$a'"; return 1; }
		g sh -c 'for f in "$1"/*; do case $f in *.log) [ "$(stat -c %U "$f")" = _chrony ] || exit 1 ;; *) exit 1 ;; esac; done' sh "$d" ||
			{ echo "    $d: made by the apply, and holds more than chronyd's logs: $(g ls -A "$d" | paste -sd' ' -)"; return 1; }
		echo "    note: $d did not exist before the apply; it stays, holding chronyd's logs: $(g ls "$d" | paste -sd' ' -)"
	done
}
check_as_before() { # MANIFEST UNITS (as recorded by sys_manifest and sys_units before)
	local after
	after=$(sys_manifest)
	if [ "$(manifest_trees "$1")" = "$(manifest_trees "$after")" ]; then
		ok "every file and link in ${SYS_MANIFEST_TREES[*]} as before (sha256, owner, mode; $(wc -l <<<"$1") paths)"
	else
		not_ok "every file and link in ${SYS_MANIFEST_TREES[*]} as before (sha256, owner, mode)"
		show "$(diff <(manifest_trees "$1") <(manifest_trees "$after"))"
	fi
	check "${SYS_MANIFEST_DIRS[*]}: as before, or (made by the apply) only chronyd's logs left" \
		manifest_dirs_as_before "$1" "$after"
	capture sys_units
	check "units as before: $(paste -sd, <<<"$2")" test "$OUT" = "$2"
	[ "$OUT" = "$2" ] || show
}
