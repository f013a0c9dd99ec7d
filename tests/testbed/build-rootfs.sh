#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# build-rootfs.sh — build (once) and cache the Debian bookworm root file system that
# testbed.sh boots with systemd-nspawn.
#
#   tests/testbed/build-rootfs.sh [--flavour default|pk] [--force]
#
# Flavours ($NTSSETUP_TESTBED_FLAVOUR, or --flavour; default "default"):
#   default  chrony installed (disabled) beside systemd-timesyncd (running): the
#            reference scenario; apt's dependencies are broken on purpose.
#   pk       no chrony, a clean apt state: systemd-timesyncd running, the real
#            packagekitd (Debian's packagekit, apt backend) and polkitd, and apt sources
#            listing ONLY a local repository in the rootfs (chrony and what the guest
#            lacks for it, and systemd-timesyncd), signed with a key made at build time
#            for this rootfs alone. The NTS servers run a chronyd copied out of the
#            chrony package into /usr/local/lib/ntssetup-testbed/, so installing and
#            removing chrony never touches them.
#
# Cache: $NTSSETUP_TESTBED_CACHE (default /var/cache/ntssetup-testbed); the flavour pk
# has its own: that path with "-pk" appended. In each:
#   rootfs/       the tree (read-only lower layer of every instance)
#   rootfs.hash   hash of the flavour, suite, package list and the customisation below
#   debs/         debootstrap --cache-dir: a rebuild downloads nothing again
#   lock          build holds it exclusively, every running instance shares it
# The rootfs is rebuilt only when it is missing, when the hash changed, or with --force.
#
# Mirror: the first Debian mirror serving "$SUITE main" in this host's apt sources
# (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources), or
# $NTSSETUP_TESTBED_MIRROR. A proxy configured for apt is used too.
# Needs on the host: debootstrap (and, to boot it, systemd-container), util-linux, root;
# for the flavour pk also apt-ftparchive (apt-utils) and gpg (gnupg).
set -euo pipefail

SUITE=bookworm
FLAVOUR=${NTSSETUP_TESTBED_FLAVOUR:-default}
force=0
usage() {
	echo "usage: $0 [--flavour default|pk] [--force]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--force) force=1 ;;
	--flavour) [ $# -ge 2 ] || usage; FLAVOUR=$2; shift ;;
	--flavour=*) FLAVOUR=${1#*=} ;;
	*) usage ;;
	esac
	shift
done
# Everything the guest needs, in one debootstrap run: after systemd-timesyncd is
# forced in (below, flavour default) apt inside the rootfs sees broken dependencies and
# cannot add more.
PACKAGES=(
	systemd systemd-sysv dbus libpam-systemd
	polkitd pkexec
	iproute2 procps
	openssl ca-certificates
	# what ntssetupd (glib, gio, polkit-gobject, libsystemd) and ntsctl (also json-glib)
	# load at run time: the system tests run host-built binaries in the guest
	# (ntssetup-probe's libgnutls30 comes with chrony, which links the same GnuTLS)
	libglib2.0-0 libglib2.0-bin libpolkit-gobject-1-0 libpolkit-agent-1-0 libsystemd0
	libjson-glib-1.0-0
)
# Where the NTS servers' chronyd comes from, and the user it drops root to.
SERVER_CHRONYD=/usr/sbin/chronyd
SERVER_USER=_chrony
# The flavour pk's local repository (in the guest) and its key.
PK_REPO=/srv/ntssetup-testbed-repo
PK_KEYRING=/etc/apt/keyrings/ntssetup-testbed.gpg

CACHE=${NTSSETUP_TESTBED_CACHE:-/var/cache/ntssetup-testbed}
case $FLAVOUR in
default)
	PACKAGES+=(chrony)
	;;
pk)
	# No chrony: PackageKit installs it. systemd-timesyncd as Debian installs it; the
	# servers' chronyd needs only libraries the guest has anyway (GnuTLS, nettle,
	# libcap2, libseccomp2), and ntssetup-probe GnuTLS.
	PACKAGES+=(systemd-timesyncd packagekit libgnutls30)
	SERVER_CHRONYD=/usr/local/lib/ntssetup-testbed/chronyd
	SERVER_USER=ntsserver
	CACHE=$CACHE-pk
	;;
*)
	printf 'build-rootfs: error: unknown flavour "%s" (default, pk)\n' "$FLAVOUR" >&2
	exit 2
	;;
esac
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

	if [ "$FLAVOUR" = pk ]; then
		# The NTS servers' own user (chrony's _chrony comes and goes with the package).
		chroot "$root" useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$SERVER_USER"
		make_local_repo "$root"
	else
		force_install_timesyncd "$root"
	fi

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
		chgrp @SERVER_USER@ "$d/$n.key"
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
	sed -i "s/@SERVER_USER@/$SERVER_USER/" "$root/usr/local/lib/ntssetup-testbed/make-certs"
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
	cat >"$root/etc/systemd/system/ntsserver@.service" <<-EOF
	[Unit]
	Description=ntssetup test bed: NTS server %i (/etc/ntsserver/%i.conf)
	Requires=ntsserver-certs.service
	After=ntsserver-certs.service
	[Service]
	ExecStart=$SERVER_CHRONYD -4 -x -d -u $SERVER_USER -f /etc/ntsserver/%i.conf
	ExecStartPost=/usr/local/lib/ntssetup-testbed/wait-ntsserver %i
	[Install]
	WantedBy=multi-user.target
	EOF

	# The starting state of the reference scenario: systemd-timesyncd enabled (and, at
	# boot, running); chrony installed but disabled and inactive. Debian's postinst
	# enabled chrony, so disable it explicitly (this also removes its chronyd.service alias).
	systemctl --root="$root" --quiet enable ntsserver-certs.service \
		ntsserver@a.service ntsserver@b.service ntsserver@c.service systemd-timesyncd.service
	[ "$FLAVOUR" = pk ] || systemctl --root="$root" --quiet disable chrony.service

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

# Flavour pk: the guest's only package source, a flat repository in the rootfs ($PK_REPO)
# holding chrony with what the guest lacks for it (apt in the rootfs, still pointing at
# the mirror, says which: the same bookworm as every other guest package, not this host's
# newer updates) and systemd-timesyncd (a rollback installs it again), indexed with
# apt-ftparchive and signed (InRelease, Release.gpg) with a key made here for this build
# alone; its private half is thrown away, only the public key goes into the guest
# ($PK_KEYRING, named by signed-by=). apt's lists are then made from that repository, so
# the guest needs no refresh and has no network. The NTS servers' chronyd is copied out
# of the same chrony package: installing and removing chrony never touches it.
make_local_repo() {
	local root=$1 repo=$1$PK_REPO archives=$1/var/cache/apt/archives f ver gnupg
	local -a needed=()
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	# What installing chrony brings, from debootstrap's own lists of the mirror; each file
	# fetched once per cache (debs/ keeps them across rebuilds).
	mapfile -t needed < <(chroot "$root" apt-get -q -y --print-uris install chrony |
		sed -n "s/^'[^']*' \([^ ]*\.deb\) .*/\1/p")
	[ ${#needed[@]} -gt 0 ] || die "apt in the rootfs finds nothing to install for chrony"
	printf '%s\n' "${needed[@]}" | grep -q '^chrony_' || die "chrony is not among ${needed[*]}"
	for f in "${needed[@]}"; do [ -e "$DEBS/$f" ] && cp "$DEBS/$f" "$archives/"; done
	chroot "$root" apt-get -q -y --download-only install chrony >&2
	mkdir -p "$repo"
	for f in "${needed[@]}"; do
		[ -e "$archives/$f" ] || die "apt-get --download-only left no $f"
		cp -n "$archives/$f" "$DEBS/"
		mv "$archives/$f" "$repo/"
	done
	ver=$(chroot "$root" dpkg-query -W -f "\${Version}" systemd-timesyncd)
	f=$(find "$DEBS" -maxdepth 1 -name 'systemd-timesyncd_*.deb' | while read -r d; do
		[ "$(dpkg-deb -f "$d" Version)" = "$ver" ] && echo "$d"; done | head -n 1)
	[ -n "$f" ] || die "no systemd-timesyncd $ver in $DEBS (debootstrap's cache)"
	cp "$f" "$repo/"
	mkdir -p "$root/tmp/chrony"
	dpkg-deb -x "$repo"/chrony_*.deb "$root/tmp/chrony"
	install -D -m 755 "$root/tmp/chrony/usr/sbin/chronyd" "$root$SERVER_CHRONYD"
	rm -rf "$root/tmp/chrony"

	(
		cd "$repo"
		apt-ftparchive packages . >Packages
		apt-ftparchive -o APT::FTPArchive::Release::Origin=ntssetup-testbed \
			-o APT::FTPArchive::Release::Label=ntssetup-testbed \
			-o APT::FTPArchive::Release::Suite=ntssetup-testbed \
			-o APT::FTPArchive::Release::Codename=ntssetup-testbed release . >Release.new
		mv Release.new Release
	)
	gnupg=$(mktemp -d)
	GNUPGHOME=$gnupg gpg -q --batch --pinentry-mode loopback --passphrase '' \
		--quick-gen-key 'ntssetup test bed repository (test only) <testbed@ntssetup.invalid>' ed25519 sign never
	GNUPGHOME=$gnupg gpg -q --batch --yes --clearsign -o "$repo/InRelease" "$repo/Release"
	GNUPGHOME=$gnupg gpg -q --batch --yes --detach-sign --armor -o "$repo/Release.gpg" "$repo/Release"
	mkdir -p "$root${PK_KEYRING%/*}"
	GNUPGHOME=$gnupg gpg -q --batch --export >"$root$PK_KEYRING"
	GNUPGHOME=$gnupg gpgconf --kill all || true
	rm -rf "$gnupg"
	chmod -R a+rX "$repo"
	chmod 644 "$root$PK_KEYRING"

	# Nothing but the local repository.
	rm -f "$root"/etc/apt/sources.list.d/*
	printf 'deb [signed-by=%s] file:%s ./\n' "$PK_KEYRING" "$PK_REPO" >"$root/etc/apt/sources.list"
	rm -rf "$root"/var/lib/apt/lists/*
	chroot "$root" apt-get -q update >&2
	chroot "$root" apt-cache policy chrony systemd-timesyncd >&2
	chroot "$root" apt-get -q check >&2
	: >"$root/etc/resolv.conf"
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
		printf '%s\n' "$FLAVOUR" "$SUITE" "${PACKAGES[@]}" "$SERVER_CHRONYD" "$SERVER_USER" "$PK_REPO" "$PK_KEYRING"
		declare -f customize_rootfs force_install_timesyncd make_local_repo
	} | sha256sum | cut -d' ' -f1
}

main() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap systemd-container)"
	if [ "$FLAVOUR" = pk ]; then
		command -v apt-ftparchive >/dev/null || die "apt-ftparchive is missing (apt-get install apt-utils)"
		command -v gpg >/dev/null || die "gpg is missing (apt-get install gnupg)"
	fi

	local want
	want=$(recipe_hash)
	if [ $force = 0 ] && [ -e "$ROOTFS/etc/os-release" ] && [ "$(cat "$HASHFILE" 2>/dev/null)" = "$want" ]; then
		log "cached rootfs ($FLAVOUR) is current: $ROOTFS"
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
	log "building $SUITE rootfs, flavour $FLAVOUR, from $mirror (cache $CACHE)"

	local new=$CACHE/rootfs.new old=$CACHE/rootfs.old
	rm -rf "$new" "$old"
	trap 'rm -rf "$new"' EXIT
	local incl
	incl=$(IFS=,; echo "${PACKAGES[*]}")
	debootstrap --variant=minbase --include="$incl" --cache-dir="$DEBS" "$SUITE" "$new" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
		die "debootstrap failed, see $CACHE/debootstrap.log ($(tail -n 3 "$CACHE/debootstrap.log" | tr '\n' ' '))"
	# In a subshell of its own, not in an || list: there set -e holds, and a failing step
	# stops the build instead of leaving a half-customised rootfs.
	local rc=0
	set +e
	(
		set -e
		customize_rootfs "$new"
	) >>"$CACHE/debootstrap.log" 2>&1
	rc=$?
	set -e
	[ $rc = 0 ] || die "customising failed, see $CACHE/debootstrap.log ($(tail -n 3 "$CACHE/debootstrap.log" | tr '\n' ' '))"
	[ -s "$new/etc/machine-id" ] || die "rootfs has no machine id"

	rm -f "$HASHFILE"
	[ -e "$ROOTFS" ] && mv "$ROOTFS" "$old"
	mv "$new" "$ROOTFS"
	trap - EXIT
	rm -rf "$old"
	echo "$want" >"$HASHFILE"
	log "done: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1))"
}

main
