#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# testbed.sh — a real systemd (PID 1), system bus, polkitd, systemd-timesyncd, chrony and
# three NTS servers in a systemd-nspawn container booted from build-rootfs.sh's rootfs.
#
#   testbed.sh boot NAME [--flavour F] [--bind HOSTDIR:GUESTDIR]... [--bind-ro H:G]...
#                         F: default or pk (build-rootfs.sh --flavour F first);
#                         default $NTSSETUP_TESTBED_FLAVOUR, else "default"
#   testbed.sh exec NAME [--user USER] [--] CMD...     CMD as root (or USER), its exit code
#   testbed.sh poweroff NAME                           stop and remove everything
#   testbed.sh reboot NAME [--hard]                    stop, boot again with the same state
#                                                      (--hard: power cut, no shutdown)
#   testbed.sh status NAME                             prints running PID1=... or stopped
#
# Sourced (". testbed.sh"), it defines testbed(), which runs this script: testbed boot x.
#
# An instance NAME keeps its state in $NTSSETUP_TESTBED_RUN/NAME (default
# /tmp/ntssetup-testbed/NAME): upper/ and work/ of an overlayfs over the cached rootfs
# (so a reboot keeps every write, and a fresh boot starts from the pristine rootfs),
# console.log (the guest's console and nspawn's messages) and the pids.
#
# Why an overlay of our own and not --volatile=overlay: nspawn keeps that overlay's upper
# layer in a tmpfs it drops at exit, so no state survives to a second boot; a crash or
# power-loss test needs it to.
#
# How an instance runs (tests/testbed/README.md has the user's view): a monitor process
# (setsid, in the background) holds a shared lock on the rootfs cache, creates the
# instance's cgroups and starts a child that joins them and enters a private mount
# namespace. There a tmpfs is
# mounted on /run (nspawn's own state goes there, not on the host's disk) and the overlay
# on root/, then systemd-nspawn boots root/ with
#   --register=no --keep-unit --private-network --console=read-only -b
# and SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 (the guest runs pure cgroup v2). When nspawn
# exits, the mount namespace and with it the overlay mount go away by themselves, and
# the monitor removes the cgroups. The guest never gets CAP_SYS_TIME (it would set the
# host's clock): not in nspawn's default set, and dropped explicitly as well.

TB_SELF=$(readlink -f "${BASH_SOURCE[0]}")
TB_CACHE=${NTSSETUP_TESTBED_CACHE:-/var/cache/ntssetup-testbed}
TB_RUN=${NTSSETUP_TESTBED_RUN:-/tmp/ntssetup-testbed}
TB_FLAVOUR=${NTSSETUP_TESTBED_FLAVOUR:-default}
TB_BOOT_TIMEOUT=${NTSSETUP_TESTBED_BOOT_TIMEOUT:-120}
TB_STOP_TIMEOUT=${NTSSETUP_TESTBED_STOP_TIMEOUT:-30}
TB_GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
	testbed() { "$TB_SELF" "$@"; }
	return 0
fi

set -euo pipefail
export LC_ALL=C

tb_log() { printf 'testbed: %s\n' "$*" >&2; }
tb_die() {
	tb_log "error: $*"
	exit 1
}

# Milliseconds since the epoch, for bounded polling.
tb_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

tb_check_name() {
	[[ ${1:-} =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || tb_die "bad instance name '${1:-}' (lower-case letters, digits, '-')"
}

# The cgroup directories of an instance: its own cgroup in the v2 hierarchy, and on a
# hybrid host in the name=systemd v1 hierarchy too.
tb_cgroups() {
	local leaf=ntssetup-testbed-$1
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		echo "/sys/fs/cgroup/$leaf"
	elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] && [ -d /sys/fs/cgroup/systemd ]; then
		echo "/sys/fs/cgroup/systemd/$leaf"
		echo "/sys/fs/cgroup/unified/$leaf"
	else
		tb_die "unsupported cgroup layout: need cgroup v2 or the hybrid layout"
	fi
}

# PID is alive (not a zombie) and its command line contains every further argument.
tb_alive() {
	local pid=$1 st cmd pat
	shift
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || return 1
	[ "${st:0:1}" != Z ] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	for pat; do
		[[ $cmd == *"$pat"* ]] || return 1
	done
}

# The cache (rootfs and lock) of a flavour: build-rootfs.sh's naming.
tb_flavour_cache() {
	case $1 in
	default) echo "$TB_CACHE" ;;
	pk) echo "$TB_CACHE-$1" ;;
	*) tb_die "unknown flavour '$1' (default, pk)" ;;
	esac
}
# The cache an instance was booted from (kept in its directory for reboot).
tb_instance_cache() { cat "$TB_RUN/$1/cache" 2>/dev/null || tb_die "instance $1 has no cache recorded"; }

tb_pidfile() { cat "$TB_RUN/$1/$2.pid" 2>/dev/null || true; }
tb_monitor_alive() { tb_alive "$(tb_pidfile "$1" monitor)" "_monitor $1 "; }
tb_nspawn_alive() { tb_alive "$(tb_pidfile "$1" nspawn)" systemd-nspawn " -M $1 "; }

# The guest's PID 1 as seen from here, checked to be ours: a descendant of our nspawn,
# PID 1 in its own PID namespace.
tb_leader() {
	local name=$1 pid nsp
	pid=$(tb_pidfile "$name" leader)
	nsp=$(tb_pidfile "$name" nspawn)
	[ -n "$pid" ] && tb_nspawn_alive "$name" || return 1
	grep -Eq '^NSpid:.*[[:space:]]1$' "/proc/$pid/status" 2>/dev/null || return 1
	tb_descendant "$pid" "$nsp" || return 1
	echo "$pid"
}

tb_descendant() { # PID ANCESTOR
	local p=$1
	for _ in 1 2 3 4 5; do
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || return 1
		[ "$p" = "$2" ] && return 0
		[ -n "$p" ] && [ "$p" != 0 ] || return 1
	done
	return 1
}

# Find the guest's PID 1 below our nspawn process.
tb_find_leader() {
	local queue=("$1") next=() p c
	for _ in 1 2 3; do
		next=()
		for p in "${queue[@]}"; do
			for c in $(pgrep -P "$p" || true); do
				if [ "$(readlink "/proc/$c/ns/pid" 2>/dev/null)" != "$(readlink /proc/self/ns/pid)" ] &&
					grep -Eq '^NSpid:.*[[:space:]]1$' "/proc/$c/status" 2>/dev/null; then
					echo "$c"
					return 0
				fi
				next+=("$c")
			done
		done
		queue=("${next[@]}")
		[ ${#queue[@]} -gt 0 ] || return 1
	done
	return 1
}

# nsenter into the guest (all its namespaces, its root) with a clean environment.
tb_nsenter() {
	local leader=$1
	shift
	nsenter --target "$leader" --all --root --wd -- /usr/bin/env -i PATH="$TB_GUEST_PATH" HOME=/root LANG=C.UTF-8 "$@"
}

# Remove the instance's cgroups. Whatever still runs in them came from our own container:
# after nspawn is gone it is killed.
tb_rm_cgroups() {
	local cg end
	end=$(($(tb_ms) + 5000))
	for cg in $(tb_cgroups "$1"); do
		while [ -d "$cg" ]; do
			find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
			[ -d "$cg" ] || break
			if [ "$(tb_ms)" -gt "$end" ]; then
				tb_log "cannot remove cgroup $cg"
				return 1
			fi
			if ! tb_nspawn_alive "$1"; then
				# shellcheck disable=SC2046 # pids, one a word
				kill -KILL $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null) 2>/dev/null || true
			fi
			sleep 0.05
		done
	done
}

# --- the background processes of an instance -------------------------------------------

tb_monitor() {
	local name=$1 dir=$TB_RUN/$1 cgs cg child rc=0 cache
	echo $$ >"$dir/monitor.pid"
	cache=$(tb_instance_cache "$name")
	# The rootfs must not be rebuilt under a running instance (build takes it exclusively).
	exec 9<"$cache/lock"
	flock -s -w 600 9 || tb_die "rootfs cache is locked (a build?)"
	mapfile -t cgs < <(tb_cgroups "$name")
	for cg in "${cgs[@]}"; do mkdir -p "$cg"; done
	# Expanded now: the trap runs after this function's locals are gone.
	trap "tb_rm_cgroups $(printf %q "$name")" EXIT
	(
		exec 9<&-
		for cg in "${cgs[@]}"; do echo "$BASHPID" >"$cg/cgroup.procs"; done
		exec unshare --mount --propagation private -- "$TB_SELF" _ns "$name"
	) &
	child=$!
	echo "$child" >"$dir/nspawn.pid"
	wait "$child" || rc=$?
	echo "$rc" >"$dir/exit-status"
	tb_log "nspawn exited with status $rc"
}

tb_ns() {
	local name=$1 dir=$TB_RUN/$1 binds=() end rootfs
	rootfs=$(tb_instance_cache "$name")/rootfs
	mount -t tmpfs -o mode=0755,size=64m tmpfs /run
	# After a reboot the previous overlay mount may take a moment to be released.
	end=$(($(tb_ms) + 5000))
	until mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"; do
		[ "$(tb_ms)" -lt "$end" ] || tb_die "cannot mount the overlay"
		sleep 0.1
	done
	mapfile -t binds <"$dir/binds"
	exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 \
		systemd-nspawn -q --register=no --keep-unit -M "$name" -D "$dir/root" -b \
		--private-network --console=read-only --link-journal=no --resolv-conf=off --timezone=off \
		--drop-capability=CAP_SYS_TIME "${binds[@]}"
}

# --- commands ----------------------------------------------------------------------------

tb_boot() {
	local name=${1:-} keep=0 binds=() opt spec hostdir guestdir flavour=$TB_FLAVOUR cache
	tb_check_name "$name"
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--flavour)
			[ $# -ge 2 ] || tb_die "--flavour needs a name"
			flavour=$2
			shift 2
			continue
			;;
		--flavour=*)
			flavour=${1#*=}
			shift
			continue
			;;
		--bind | --bind-ro)
			[ $# -ge 2 ] || tb_die "$1 needs HOSTDIR:GUESTDIR"
			opt=$1 spec=$2
			shift 2
			;;
		--bind=* | --bind-ro=*)
			opt=${1%%=*} spec=${1#*=}
			shift
			;;
		--keep-state) # internal: used by reboot
			keep=1
			shift
			continue
			;;
		*) tb_die "boot: unknown argument '$1'" ;;
		esac
		hostdir=${spec%%:*} guestdir=${spec#*:}
		[[ $spec == *:* && $guestdir == /* ]] || tb_die "$opt $spec: want HOSTDIR:GUESTDIR (absolute guest path)"
		hostdir=$(readlink -f "$hostdir") && [ -e "$hostdir" ] || tb_die "$opt $spec: no such host path"
		# /run is a private tmpfs where nspawn runs: host paths below it are out of reach.
		[[ $hostdir != /run && $hostdir != /run/* ]] || tb_die "$opt $spec: host paths under /run cannot be bound"
		binds+=("$opt=$hostdir:$guestdir")
	done

	[ "$(id -u)" = 0 ] || tb_die "must run as root"
	command -v systemd-nspawn >/dev/null || tb_die "systemd-nspawn is missing (apt-get install systemd-container)"
	cache=$(tb_flavour_cache "$flavour")
	[ $keep = 0 ] || cache=$(tb_instance_cache "$name")
	[ -e "$cache/rootfs/etc/os-release" ] && [ -e "$cache/lock" ] ||
		tb_die "no rootfs in $cache: run build-rootfs.sh --flavour $flavour first"
	[[ $TB_RUN == /* && $TB_RUN != /run && $TB_RUN != /run/* ]] || tb_die "NTSSETUP_TESTBED_RUN must be absolute and not under /run"
	if tb_monitor_alive "$name" || tb_nspawn_alive "$name"; then
		tb_die "instance $name is already running"
	fi

	local dir=$TB_RUN/$name
	tb_rm_cgroups "$name" || tb_die "stale cgroups of $name cannot be removed"
	if [ $keep = 1 ]; then
		[ -d "$dir/upper" ] && [ -d "$dir/work" ] || tb_die "no state of $name to boot again"
	else
		rm -rf --one-file-system "$dir"
		mkdir -p "$dir/upper" "$dir/work" "$dir/root"
		chmod 700 "$dir"
		printf '%s\n' "${binds[@]}" | grep -v '^$' >"$dir/binds" || true
		echo "$cache" >"$dir/cache"
	fi
	rm -f "$dir/exit-status" "$dir/leader.pid" "$dir/nspawn.pid" "$dir/monitor.pid"
	printf '=== boot %s\n' "$(date -Is)" >>"$dir/console.log"

	trap 'tb_log "interrupted"; tb_stop "$name" hard; exit 130' INT TERM
	setsid "$TB_SELF" _monitor "$name" </dev/null >>"$dir/console.log" 2>&1 &
	if ! tb_wait_running "$name"; then
		tb_log "boot of $name failed; console (last lines):"
		tail -n 25 "$dir/console.log" | sed 's/^/    /' >&2
		tb_stop "$name" hard || true
		exit 1
	fi
	trap - INT TERM
}

tb_wait_running() {
	local name=$1 dir=$TB_RUN/$1 start end nsp leader state left t_bus
	start=$(tb_ms)
	end=$((start + TB_BOOT_TIMEOUT * 1000))
	# nspawn started, and the guest's PID 1 found
	while :; do
		[ -e "$dir/exit-status" ] && { tb_log "nspawn exited during boot"; return 1; }
		nsp=$(tb_pidfile "$name" nspawn)
		if [ -n "$nsp" ] && leader=$(tb_find_leader "$nsp"); then
			echo "$leader" >"$dir/leader.pid"
			break
		fi
		[ "$(tb_ms)" -lt "$end" ] || { tb_log "no guest PID 1 after ${TB_BOOT_TIMEOUT}s"; return 1; }
		sleep 0.02
	done
	# the system bus answers and systemd is on it
	until tb_nsenter "$leader" busctl --system --quiet call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
		org.freedesktop.DBus.Peer Ping >/dev/null 2>&1; do
		[ -e "$dir/exit-status" ] && { tb_log "nspawn exited during boot"; return 1; }
		[ "$(tb_ms)" -lt "$end" ] || { tb_log "the guest's system bus does not answer after ${TB_BOOT_TIMEOUT}s"; return 1; }
		sleep 0.02
	done
	t_bus=$(($(tb_ms) - start))
	left=$(((end - $(tb_ms)) / 1000 + 1))
	state=$(timeout "$left" nsenter --target "$leader" --all --root --wd -- /usr/bin/env -i PATH="$TB_GUEST_PATH" \
		systemctl is-system-running --wait 2>/dev/null) || true
	case $state in
	running)
		tb_log "$name running (system bus after ${t_bus} ms, running after $(($(tb_ms) - start)) ms)"
		;;
	degraded)
		# Per failed unit: what its own processes wrote (a daemon's fatal error on stderr)
		# apart from systemd's messages about it, which would otherwise push it out of a tail.
		tb_log "$name is degraded; failed units:"
		tb_nsenter "$leader" sh -c 'for u in $(systemctl --failed --no-legend --plain | cut -d" " -f1); do
			systemctl list-units --state=failed --no-legend --plain "$u"
			echo "  its output:"; journalctl -b -q -o short-monotonic _SYSTEMD_UNIT="$u" | tail -n 12 | sed "s/^/    /"
			echo "  systemd:"; journalctl -b -q -o short-monotonic _PID=1 UNIT="$u" | tail -n 5 | sed "s/^/    /"
		done' | sed 's/^/    /' >&2 || true
		;;
	*)
		tb_log "$name did not reach running/degraded within ${TB_BOOT_TIMEOUT}s: '${state:-timeout}'"
		tb_nsenter "$leader" systemctl list-jobs --no-legend 2>/dev/null | sed 's/^/    job /' >&2 || true
		return 1
		;;
	esac
}

tb_exec() { # [--user USER] NAME [--user USER] [--] CMD...
	local name='' user='' leader
	while [ $# -gt 0 ]; do
		case $1 in
		--user) [ $# -ge 2 ] || tb_die "--user needs a name"; user=$2; shift 2 ;;
		--user=*) user=${1#*=}; shift ;;
		--) shift; break ;;
		*) [ -z "$name" ] || break; name=$1; shift ;;
		esac
	done
	tb_check_name "$name"
	[ $# -gt 0 ] || tb_die "exec: no command"
	leader=$(tb_leader "$name") || tb_die "instance $name is not running"
	if [ -n "$user" ]; then
		tb_nsenter "$leader" setpriv --reuid="$user" --regid="$user" --init-groups --reset-env \
			env PATH="$TB_GUEST_PATH" LANG=C.UTF-8 "$@"
	else
		tb_nsenter "$leader" "$@"
	fi
}

tb_wait_gone() { # NAME MILLISECONDS: until monitor and nspawn have exited
	local end=$(($(tb_ms) + $2))
	while tb_monitor_alive "$1" || tb_nspawn_alive "$1"; do
		[ "$(tb_ms)" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# Stop an instance, keeping its state. soft: systemctl poweroff inside; hard: SIGKILL the
# guest's PID 1 (a power cut: its PID namespace dies with it). Either way, only our own
# nspawn and monitor are killed if they do not go in time.
tb_stop() {
	local name=$1 mode=$2 leader pid
	if tb_monitor_alive "$name" || tb_nspawn_alive "$name"; then
		leader=$(tb_leader "$name") || leader=
		if [ "$mode" = soft ] && [ -n "$leader" ]; then
			timeout 10 nsenter --target "$leader" --all --root --wd -- /usr/bin/env -i PATH="$TB_GUEST_PATH" \
				systemctl poweroff --no-block >/dev/null 2>&1 || true
			tb_wait_gone "$name" $((TB_STOP_TIMEOUT * 1000)) || tb_log "$name did not power off in ${TB_STOP_TIMEOUT}s: killing it"
		fi
		if tb_nspawn_alive "$name" && [ -n "$leader" ]; then
			kill -KILL "$leader" 2>/dev/null || true
			tb_wait_gone "$name" 10000 || true
		fi
		if tb_nspawn_alive "$name"; then
			kill -KILL "$(tb_pidfile "$name" nspawn)" 2>/dev/null || true
			tb_wait_gone "$name" 10000 || true
		fi
		if tb_monitor_alive "$name"; then
			pid=$(tb_pidfile "$name" monitor)
			kill -TERM "$pid" 2>/dev/null || true
			tb_wait_gone "$name" 5000 || kill -KILL "$pid" 2>/dev/null || true
		fi
		if tb_monitor_alive "$name" || tb_nspawn_alive "$name"; then
			tb_log "$name: processes still alive after the kill"
			return 1
		fi
	fi
	rm -f "$TB_RUN/$name/leader.pid"
	tb_rm_cgroups "$name"
}

tb_poweroff() {
	local name=${1:-}
	tb_check_name "$name"
	tb_stop "$name" soft || tb_die "could not stop $name"
	rm -rf --one-file-system "${TB_RUN:?}/$name"
	rmdir "$TB_RUN" 2>/dev/null || true
}

tb_reboot() {
	local name=${1:-} mode=soft
	tb_check_name "$name"
	case ${2:-} in
	--hard) mode=hard ;;
	'') ;;
	*) tb_die "reboot: unknown argument '$2'" ;;
	esac
	[ -d "$TB_RUN/$name/upper" ] || tb_die "no instance $name"
	tb_stop "$name" "$mode" || tb_die "could not stop $name"
	tb_boot "$name" --keep-state
}

tb_status() {
	local name=${1:-} leader
	tb_check_name "$name"
	if leader=$(tb_leader "$name"); then
		echo "running PID1=$leader"
	else
		echo stopped
		return 3
	fi
}

usage() {
	sed -n '3,13s/^# \{0,1\}//p' "$TB_SELF" >&2
	exit 2
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
boot) tb_boot "$@" ;;
exec) tb_exec "$@" ;;
poweroff) tb_poweroff "$@" ;;
reboot) tb_reboot "$@" ;;
status) tb_status "$@" ;;
_monitor) tb_monitor "$@" ;;
_ns) tb_ns "$@" ;;
*) usage ;;
esac
