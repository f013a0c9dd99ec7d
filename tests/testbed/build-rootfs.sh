#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# build-rootfs.sh — build (once) and cache the Debian bookworm root file system that
# testbed.sh boots with systemd-nspawn.
#
#   tests/testbed/build-rootfs.sh [--force]
#
# Cache: $NTSSETUP_TESTBED_CACHE (default /var/cache/ntssetup-testbed)
#   rootfs/       the tree (read-only lower layer of every instance)
#   rootfs.hash   hash of the suite, the package list and the customisation below
#   debs/         debootstrap --cache-dir: a rebuild downloads nothing again
#   lock          build holds it exclusively, every running instance shares it
# The rootfs is rebuilt only when it is missing, when the hash changed, or with --force.
#
# Mirror: the first Debian mirror serving "$SUITE main" in this host's apt sources
# (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources), or
# $NTSSETUP_TESTBED_MIRROR. A proxy configured for apt is used too.
# Needs on the host: debootstrap (and, to boot it, systemd-container), util-linux, root.
set -euo pipefail

SUITE=bookworm
# Everything the guest needs, in one debootstrap run: after systemd-timesyncd is
# forced in (below) apt inside the rootfs sees broken dependencies and cannot add more.
PACKAGES=(
	systemd systemd-sysv dbus libpam-systemd
	polkitd pkexec
	chrony
	iproute2 procps
	openssl ca-certificates
	# what ntssetupd (glib, gio, polkit-gobject, libsystemd) and ntsctl (also json-glib)
	# load at run time: the system tests run host-built binaries in the guest
	# (ntssetup-probe's libgnutls30 comes with chrony, which links the same GnuTLS)
	libglib2.0-0 libglib2.0-bin libpolkit-gobject-1-0 libpolkit-agent-1-0 libsystemd0
	libjson-glib-1.0-0
)

CACHE=${NTSSETUP_TESTBED_CACHE:-/var/cache/ntssetup-testbed}
ROOTFS=$CACHE/rootfs
HASHFILE=$CACHE/rootfs.hash
DEBS=$CACHE/debs

log() { printf 'build-rootfs: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The files and settings the test bed adds to the stock packages. Everything here is
# harness-only: nothing of it is, or may become, part of the product.
customize_rootfs() {
	local root=$1
	# No maintainer script may start a daemon on this host while we work in the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"

	force_install_timesyncd "$root"

	# Unprivileged user for the polkit tests.
	chroot "$root" useradd --create-home --shell /bin/bash --comment 'test bed user' alice

	# The three NTS servers' names; the guest resolves nothing else. No /etc/hostname:
	# the guest keeps the instance name nspawn gives it.
	cat >"$root/etc/hosts" <<-'EOF'
	127.0.0.1	localhost
	::1	localhost ip6-localhost ip6-loopback
	# ntssetup test bed: NTS servers inside the guest (ntsserver@.service)
	127.0.0.2	ntsa.test
	127.0.0.3	ntsb.test
	127.0.0.4	ntsc.test
	EOF
	: >"$root/etc/resolv.conf"
	rm -f "$root/etc/hostname"

	# chronyd must never touch the clock: -x. Debian's unit reads DAEMON_OPTS from here,
	# so its own ExecStart= (the one the product's drop-in is scored with) stays as shipped.
	printf 'DAEMON_OPTS="-F 1 -x"\n' >"$root/etc/default/chrony"

	mkdir -p "$root/etc/systemd/system/chrony.service.d" \
		"$root/etc/systemd/system/systemd-timesyncd.service.d" \
		"$root/etc/ntsserver" "$root/usr/local/lib/ntssetup-testbed"
	cat >"$root/etc/systemd/system/chrony.service.d/00-testbed.conf" <<-'EOF'
	# ntssetup test bed only, never part of the product. The container has no
	# CAP_SYS_TIME (it would set the host's clock), so Debian's condition would skip
	# chrony; chronyd gets -x from /etc/default/chrony instead.
	[Unit]
	ConditionCapability=
	After=ntsserver@a.service ntsserver@b.service ntsserver@c.service
	EOF
	cat >"$root/etc/systemd/system/systemd-timesyncd.service.d/00-testbed.conf" <<-'EOF'
	# ntssetup test bed only: timesyncd skips containers and machines without
	# CAP_SYS_TIME; the scenario needs it running. (It cannot set the clock here: no
	# CAP_SYS_TIME, and no network to reach a server.)
	[Unit]
	ConditionVirtualization=
	ConditionCapability=
	EOF

	# NTS servers: one chronyd per loopback address, serving time from the (host's)
	# clock, never touching it. Paths of their own: nothing shared with chrony.service.
	local i n
	for i in a:2 b:3 c:4; do
		n=${i%%:*}
		cat >"$root/etc/ntsserver/$n.conf" <<-EOF
		# ntssetup test bed: NTS server nts$n.test on 127.0.0.${i#*:} (ntsserver@$n.service)
		bindaddress 127.0.0.${i#*:}
		port 123
		ntsport 4460
		allow 127.0.0.0/8
		local stratum 1
		ntsserverkey /etc/ntsserver/$n.key
		ntsservercert /etc/ntsserver/$n.crt
		ntsdumpdir /var/lib/ntsserver/$n
		pidfile /run/ntsserver/$n/chronyd.pid
		bindcmdaddress /run/ntsserver/$n/chronyd.sock
		cmdport 0
		EOF
	done

	# The three servers start in parallel, and chronyd creates the directories of its
	# pid file, command socket and ntsdumpdir with stat-then-mkdir: the instance that
	# loses the race for a shared parent gets EEXIST, skips its own directory and dies
	# ("Could not open /run/ntsserver/b/chronyd.pid"). The shared parents therefore exist
	# before any server starts (systemd-tmpfiles-setup runs before sysinit.target); each
	# chronyd still creates its own 0750/0770 _chrony directory below them, which its
	# permission check on the socket directory insists on.
	cat >"$root/etc/tmpfiles.d/ntsserver.conf" <<-'EOF'
	# ntssetup test bed: shared parents of the NTS servers' own directories
	d /run/ntsserver 0755 root root -
	d /var/lib/ntsserver 0755 root root -
	EOF

	# Keys are made at boot (first boot of an instance), never cached in the rootfs.
	cat >"$root/usr/local/lib/ntssetup-testbed/make-certs" <<-'EOF'
	#!/bin/sh
	# ntssetup test bed: a CA for this instance, trusted system-wide, and one server
	# certificate per NTS server (SAN: its name and its address). Keeps what exists.
	set -eu
	d=/etc/ntsserver
	umask 077
	if [ ! -s "$d/ca.crt" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/ca.key" -out "$d/ca.crt" -days 3650 -subj '/CN=ntssetup test bed CA' \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
		chmod 644 "$d/ca.crt"
		install -m 644 "$d/ca.crt" /usr/local/share/ca-certificates/ntssetup-testbed-ca.crt
		update-ca-certificates >/dev/null
	fi
	for i in a:2 b:3 c:4; do
		n=${i%%:*}
		[ -s "$d/$n.crt" ] && continue
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
			'extendedKeyUsage=serverAuth' "subjectAltName=DNS:nts$n.test,IP:127.0.0.${i#*:}" >"$d/$n.ext"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$n.key" \
			-subj "/CN=nts$n.test" 2>/dev/null |
			openssl x509 -req -CA "$d/ca.crt" -CAkey "$d/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
				-days 825 -extfile "$d/$n.ext" -out "$d/$n.crt"
		rm -f "$d/$n.ext"
		chgrp _chrony "$d/$n.key"
		chmod 640 "$d/$n.key"
		chmod 644 "$d/$n.crt"
	done
	EOF
	# Readiness of an NTS server: its NTS-KE port listens (chronyd 4.3 has no sd_notify).
	cat >"$root/usr/local/lib/ntssetup-testbed/wait-ntsserver" <<-'EOF'
	#!/bin/sh
	# ntssetup test bed: wait (at most 10 s) until NTS server $1 listens on its NTS-KE port.
	addr=$(sed -n 's/^bindaddress //p' "/etc/ntsserver/$1.conf")
	i=0
	while [ $i -lt 200 ]; do
		[ -n "$(ss -Hltn "src $addr:4460")" ] && exit 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "NTS server $1 ($addr) does not listen on port 4460" >&2
	exit 1
	EOF
	chmod 755 "$root/usr/local/lib/ntssetup-testbed/make-certs" "$root/usr/local/lib/ntssetup-testbed/wait-ntsserver"

	cat >"$root/etc/systemd/system/ntsserver-certs.service" <<-'EOF'
	[Unit]
	Description=ntssetup test bed: CA and NTS server certificates
	# chronyd reads the trust store when it starts (e.g. enabled, after a reboot)
	Before=chrony.service
	[Service]
	Type=oneshot
	RemainAfterExit=yes
	# update-ca-certificates writes in /tmp
	PrivateTmp=yes
	ExecStart=/usr/local/lib/ntssetup-testbed/make-certs
	[Install]
	WantedBy=multi-user.target
	EOF
	cat >"$root/etc/systemd/system/ntsserver@.service" <<-'EOF'
	[Unit]
	Description=ntssetup test bed: NTS server %i (/etc/ntsserver/%i.conf)
	Requires=ntsserver-certs.service
	After=ntsserver-certs.service
	[Service]
	ExecStart=/usr/sbin/chronyd -4 -x -d -u _chrony -f /etc/ntsserver/%i.conf
	ExecStartPost=/usr/local/lib/ntssetup-testbed/wait-ntsserver %i
	[Install]
	WantedBy=multi-user.target
	EOF

	# The starting state of the reference scenario: systemd-timesyncd enabled (and, at
	# boot, running); chrony installed but disabled and inactive. Debian's postinst
	# enabled chrony, so disable it explicitly (this also removes its chronyd.service alias).
	systemctl --root="$root" --quiet enable ntsserver-certs.service \
		ntsserver@a.service ntsserver@b.service ntsserver@c.service systemd-timesyncd.service
	systemctl --root="$root" --quiet disable chrony.service

	rm -f "$root/usr/sbin/policy-rc.d"
	chroot "$root" apt-get clean
}

# chrony and systemd-timesyncd conflict as Debian packages (installing chrony removes
# timesyncd). The reference document starts from Arch, where both are installed and
# timesyncd runs; forcing timesyncd in beside chrony gives that starting state here.
force_install_timesyncd() {
	local root=$1 ver deb='' f
	ver=$(chroot "$root" dpkg-query -W -f '${Version}' systemd)
	for f in "$DEBS"/systemd-timesyncd_*.deb; do
		[ -e "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && deb=$f
	done
	if [ -z "$deb" ]; then
		# debootstrap left its package lists and the mirror in the rootfs: apt there
		# fetches exactly the version that matches the systemd it installed.
		cp -L /etc/resolv.conf "$root/etc/resolv.conf"
		chroot "$root" sh -c "cd /var/cache/apt/archives && apt-get -q download systemd-timesyncd=$ver" >&2
		for f in "$root"/var/cache/apt/archives/systemd-timesyncd_*.deb; do
			[ -e "$f" ] && deb=$f
		done
		[ -n "$deb" ] || die "apt-get download systemd-timesyncd=$ver left no package"
		cp "$deb" "$DEBS/"
		deb=$DEBS/${deb##*/}
	fi
	cp "$deb" "$root/tmp/timesyncd.deb"
	chroot "$root" dpkg -i --force-conflicts /tmp/timesyncd.deb >&2
	rm -f "$root/tmp/timesyncd.deb" "$root"/var/cache/apt/archives/systemd-timesyncd_*.deb
}

# First "deb" source of this host that serves "$SUITE" with component main.
host_mirror() {
	local f m
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case $f in
		*.sources) # deb822 stanzas, separated by blank lines
			m=$(awk -v s="$SUITE" '
				function flush() {
					if (!found && types ~ /(^| )deb( |$)/ && suites ~ ("(^| )" s "( |$)") &&
						comps ~ /(^| )main( |$)/ && enabled !~ /^[Nn]o/ && uris != "") {
						split(uris, u, " "); print u[1]; found = 1
					}
					types = uris = suites = comps = enabled = ""
				}
				/^[ \t]*#/ { next }
				/^[ \t]*$/ { flush(); next }
				{ k = tolower($1); sub(/:$/, "", k); $1 = ""; sub(/^ +/, "")
				  if (k == "types") types = $0; else if (k == "uris") uris = $0
				  else if (k == "suites") suites = $0; else if (k == "components") comps = $0
				  else if (k == "enabled") enabled = $0 }
				END { flush() }' "$f")
			;;
		*) # one-line format: deb [options] URI SUITE COMPONENT...
			m=$(sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk -v s="$SUITE" '
				!found && $1 == "deb" && $3 == s { for (i = 4; i <= NF; i++) if ($i == "main") { print $2; found = 1 } }')
			;;
		esac
		[ -n "$m" ] && { echo "$m"; return 0; }
	done
	return 0
}

# What the cached rootfs is made of: rebuild when any of it changes.
recipe_hash() {
	{
		printf '%s\n' "$SUITE" "${PACKAGES[@]}"
		declare -f customize_rootfs force_install_timesyncd
	} | sha256sum | cut -d' ' -f1
}

main() {
	local force=0
	case ${1:-} in
	--force) force=1 ;;
	'') ;;
	*) die "usage: $0 [--force]" ;;
	esac
	[ "$(id -u)" = 0 ] || die "must run as root"
	command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap systemd-container)"

	local want
	want=$(recipe_hash)
	if [ $force = 0 ] && [ -e "$ROOTFS/etc/os-release" ] && [ "$(cat "$HASHFILE" 2>/dev/null)" = "$want" ]; then
		log "cached rootfs is current: $ROOTFS"
		return 0
	fi

	mkdir -p "$CACHE" "$DEBS"
	exec 9>>"$CACHE/lock"
	flock -n -x 9 || die "the rootfs is in use by a running test bed instance (or another build): power it off first"

	local mirror
	mirror=${NTSSETUP_TESTBED_MIRROR:-$(host_mirror)}
	[ -n "$mirror" ] || die "no Debian mirror for '$SUITE main' in this host's apt sources; set NTSSETUP_TESTBED_MIRROR"
	local proxy=
	eval "$(apt-config shell proxy Acquire::http::Proxy)"
	[ -n "$proxy" ] && export http_proxy=$proxy
	log "building $SUITE rootfs from $mirror (cache $CACHE)"

	local new=$CACHE/rootfs.new old=$CACHE/rootfs.old
	rm -rf "$new" "$old"
	trap 'rm -rf "$new"' EXIT
	local incl
	incl=$(IFS=,; echo "${PACKAGES[*]}")
	debootstrap --variant=minbase --include="$incl" --cache-dir="$DEBS" "$SUITE" "$new" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
		die "debootstrap failed, see $CACHE/debootstrap.log ($(tail -n 3 "$CACHE/debootstrap.log" | tr '\n' ' '))"
	customize_rootfs "$new" >>"$CACHE/debootstrap.log" 2>&1 || die "customising failed, see $CACHE/debootstrap.log"
	[ -s "$new/etc/machine-id" ] || die "rootfs has no machine id"

	rm -f "$HASHFILE"
	[ -e "$ROOTFS" ] && mv "$ROOTFS" "$old"
	mv "$new" "$ROOTFS"
	trap - EXIT
	rm -rf "$old"
	echo "$want" >"$HASHFILE"
	log "done: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1))"
}

main "$@"
