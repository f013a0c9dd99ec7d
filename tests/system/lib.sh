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
#                    actions directory itself). The instance is powered off on exit.
#   g CMD...         CMD as root in the guest; its exit code
#   ga CMD...        CMD as alice (setpriv: no PAM, no logind session)
#   gput PATH        stdin into the guest's PATH (directories created, mode by umask 022)
#   capture CMD...   runs CMD, OUT = stdout and stderr, RC = exit code
#   show [TEXT]      TEXT (default $OUT) indented, for the reader of the log
#   ok / not_ok / skip DESC, check DESC CMD..., check_rc DESC CODE... (RC one of CODEs),
#   not CMD... (negation, for check), all_lines TEXT LINE... (each LINE is a line of TEXT)
#   sys_logs         the guest's `journalctl -u ntssetupd -u chrony | tail` (not_ok prints it)
#   finish           "N passed, M failed" and the exit status (1 if any failed)
#
# Settings (environment): NTSSETUP_SYSTEM_BUILD (build dir), NTSSETUP_SYSTEM_NAME (instance
# name; default st-<test>-<pid>); a sourcing script may set SYS_MESON_OPTS (array) before
# sys_setup (tests/demo builds without the fault hook). Everything the tests add in the
# guest (drop-ins, polkit rules, chrony.conf by hand) is harness, never product.

SYS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SYS_TB=$SYS_TOP/tests/testbed/testbed.sh
SYS_BUILD=${NTSSETUP_SYSTEM_BUILD:-$SYS_TOP/build-system}
if [ -z "${SYS_MESON_OPTS+set}" ]; then
	# The fault hook: later crash tests start the daemon with --fault=STEP:abort.
	SYS_MESON_OPTS=(-Dprefix=/usr -Dfault_injection=true)
fi
SYS_TEST=$(basename "$0" .sh)
SYS_NAME=${NTSSETUP_SYSTEM_NAME:-st-${SYS_TEST#test-}}
SYS_NAME=$(printf '%.22s-%s' "$SYS_NAME" "$$" | tr -c 'a-z0-9-\n' '-')
SYS_PY=/usr/bin/python3
[ -x "$SYS_PY" ] || SYS_PY=python3
SYS_STAGE=
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
		ninja -C "$SYS_BUILD" service/ntssetupd client/ntsctl || exit 1
		rm -rf "$dest"
		meson install -C "$SYS_BUILD" --no-rebuild --quiet --destdir "$dest" || exit 1
		cp -a "$dest/." "$SYS_STAGE/"
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
	chmod 755 "$SYS_STAGE"
	"$SYS_TOP/tests/testbed/build-rootfs.sh" || sys_die "the test bed's rootfs cannot be built"
	sys_build || sys_die "build failed"
	"$SYS_TB" boot "$SYS_NAME" --bind-ro "$SYS_STAGE:/opt/ntssetup" || sys_die "boot of $SYS_NAME failed"
	SYS_BOOTED=1
	# --no-overwrite-dir: the guest's directories keep their owner and mode.
	g sh -c 'tar -C /opt/ntssetup -cf - . | tar -C / -xf - --no-overwrite-dir &&
		systemctl daemon-reload && systemctl reload dbus' ||
		sys_die "installing into the guest failed"
	g busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
		ListActivatableNames 2>/dev/null | grep -q '"org.ntssetup.Manager"' ||
		sys_die "dbus-daemon in the guest does not know org.ntssetup.Manager after the install"
}
