#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-packagekit.sh — `ntsctl apply --install` through the real packagekitd (issue 13), in
# the test bed's flavour pk: no chrony, a clean apt state, Debian's packagekit (apt backend)
# and polkitd, apt sources listing only a local repository in the rootfs, signed with a key
# made when the rootfs was built (tests/testbed/build-rootfs.sh). The NTS servers run a
# chronyd of their own (/usr/local/lib/ntssetup-testbed/chronyd): installing and removing
# chrony never touches them.
#
# - alice, granted org.ntssetup.manager.apply by a rules.d file: apply --install is refused
#   (exit 4: installing is its own action), nothing changed.
# - The repository unsigned (InRelease and Release.gpg gone, apt told allow-insecure=yes so
#   that its lists load): Apply asks PackageKit for trusted packages only, PackageKit ends
#   the install "need-untrusted" (cannot-install-repo-unsigned), Apply fails, nothing changed.
# - The repository's key removed: apt drops the repository, chrony is not available, Apply
#   fails, nothing changed.
# - Signed again: apply --install installs chrony (packages-installed: chrony and what it
#   needed), Debian's conflict removes systemd-timesyncd (packages-removed), chronyd
#   authenticates to the three servers, `ntsctl verify` exits 0. rollback: chrony and its
#   dependencies removed, systemd-timesyncd installed and running again, the installed
#   packages and the units (as systemd sees them) as before; what Debian's remove (not
#   purge) leaves is printed.
# - `[trusted=yes]` on the unsigned repository: shown to BE a way round ONLY_TRUSTED — apt
#   marks such an index trusted, and PackageKit asks apt. The check asserts what happens.
#
#   tests/system/test-packagekit.sh        (root; ends with "N passed, M failed")
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh (and by run, which builds the flavour first)
SYS_FLAVOUR=pk
. "$(dirname "$(readlink -f "$0")")/lib.sh"

REPO=/srv/ntssetup-testbed-repo
KEYRING=/etc/apt/keyrings/ntssetup-testbed.gpg
RULES=/etc/polkit-1/rules.d/50-ntssetup-test.rules
sys_setup

# Installed packages (dpkg's "ii"), with versions.
packages() { g dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' | awk '$1 == "ii" { print $2, $3 }' | sort; }
pkg_status() { g dpkg-query -W -f '${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' '; }
# The units as systemd sees them (LoadState, UnitFileState, ActiveState).
units_systemd() {
	g sh -c 'for u in chrony systemd-timesyncd; do
		echo "$u $(systemctl show "$u.service" -P LoadState) $(systemctl show "$u.service" -P UnitFileState) $(systemctl show "$u.service" -P ActiveState)"
	done'
}
fingerprint() { sys_manifest; units_systemd; packages; }
unchanged() { [ "$(fingerprint)" = "$BEFORE" ]; }
# apt's lists made anew from the sources (the guest has no other way to reach a repository).
lists() { g sh -c 'rm -rf /var/lib/apt/lists/* && apt-get -q update 2>&1'; }
sources() { printf 'deb %s file:%s ./\n' "$1" "$REPO" | gput /etc/apt/sources.list; }
json_key() { # KEY: OUT's JSON value of KEY, lists as space-separated words
	"$SYS_PY" -c '
import json, sys
v = json.loads(sys.stdin.read()).get(sys.argv[1])
print(" ".join(sorted(v)) if isinstance(v, list) else v)' "$1" <<<"$OUT"
}
pk_journal() { g journalctl -u packagekit -b --no-pager -o cat; }
# How many install-packages transactions of this boot ended EXIT (success, need-untrusted).
pk_ended() { pk_journal | grep -c "install-packages transaction .* finished with $1"; }

section "the flavour: no chrony, a clean apt, one local signed repository, packagekitd"
capture g sh -c 'grep -v "^#" /etc/apt/sources.list; ls /etc/apt/sources.list.d'
show
check "apt's only source is the local repository, signed-by the test key" \
	test "$OUT" = "deb [signed-by=$KEYRING] file:$REPO ./"
check "chrony is not installed (dpkg status '$(pkg_status chrony)'), no /usr/sbin/chronyd" \
	eval 'test "$(pkg_status chrony)" != ii && ! g test -e /usr/sbin/chronyd'
check "systemd-timesyncd is installed" test "$(pkg_status systemd-timesyncd)" = ii
capture g apt-get -q check
check_rc "apt-get check: apt's dependencies are whole" 0
capture g apt-cache policy chrony
check "apt offers chrony from the local repository" grep -q "file:$REPO ./ Packages" <<<"$OUT"
capture g busctl get-property org.freedesktop.PackageKit /org/freedesktop/PackageKit org.freedesktop.PackageKit BackendName
check "packagekitd is D-Bus activated in the guest, apt backend ($OUT)" test "$OUT" = 's "apt"'
capture g systemctl show -P ExecStart ntsserver@a.service
check "the NTS servers run the test bed's own chronyd, outside the package's paths" \
	grep -q 'path=/usr/local/lib/ntssetup-testbed/chronyd ' <<<"$OUT"
check "the three NTS servers are active" g systemctl is-active --quiet ntsserver@a ntsserver@b ntsserver@c
BEFORE=$(fingerprint)
UNITS_BEFORE=$(units_systemd)
PACKAGES_BEFORE=$(packages)
show "$UNITS_BEFORE"

section "alice, granted apply by a polkit rule: still refused the install"
gput "$RULES" <<-'EOF'
// system test harness only (tests/system/test-packagekit.sh)
polkit.addRule(function(action, subject) {
    if (action.id == "org.ntssetup.manager.apply" && subject.user == "alice")
        return polkit.Result.YES;
});
EOF
pk_alice() { ga sh -c 'pkcheck --action-id "$1" --process $$ >/dev/null 2>&1; echo $?' sh "org.ntssetup.manager.$1"; }
check "pkcheck: alice is authorised for apply once polkitd reloaded the rules" wait_for 15 test "$(pk_alice apply)" = 0
capture ga ntsctl --no-ask-password apply "${SYS_SERVERS[@]}" --install
check_rc "alice (apply granted), chrony missing: ntsctl apply --install is not authorised" 4
show
check "no install-packages transaction reached packagekitd" not grep -q 'install-packages' <<<"$(pk_journal)"
check "nothing changed (files, units, packages)" unchanged
g rm -f "$RULES"

section "the repository unsigned: Apply asks for trusted packages only"
g sh -c "mkdir -p /root/repo-signature && mv $REPO/InRelease $REPO/Release.gpg /root/repo-signature/"
sources '[allow-insecure=yes]'
capture lists
check "apt loads the unsigned repository's lists (allow-insecure) and says it is not signed" \
	grep -q "is not signed" <<<"$OUT"
capture g ntsctl --no-ask-password apply "${SYS_SERVERS[@]}" --install
check_rc "root: ntsctl apply --install fails" 1
show
check "the error is PackageKit's: cannot-install-repo-unsigned, only trusted packages" \
	eval 'grep -q "cannot-install-repo-unsigned" <<<"$OUT" && grep -q "only trusted" <<<"$OUT"'
check "packagekitd: the install was asked with only_trusted:1 and ended need-untrusted" \
	eval 'grep -q "package-install auth (only_trusted:1)" <<<"$(pk_journal)" && test "$(pk_ended need-untrusted)" = 1'
check "nothing changed (files, units, packages)" unchanged

section "the repository's key removed: apt drops the repository"
g mv "$KEYRING" /root/repo-signature/key.gpg
g sh -c "mv /root/repo-signature/InRelease /root/repo-signature/Release.gpg $REPO/"
sources "[signed-by=$KEYRING]"
capture lists
show "$(grep -E '^(W|E):' <<<"$OUT")"
check "apt-get update refuses the repository (its key is missing)" grep -q "^E: .*not signed" <<<"$OUT"
capture g ntsctl --no-ask-password apply "${SYS_SERVERS[@]}" --install
check_rc "root: ntsctl apply --install fails" 1
show
check "the error says chrony is not available" grep -q "package-not-found" <<<"$OUT"
check "nothing changed (files, units, packages)" unchanged

section "signed again: apply --install through the real packagekitd"
g mv /root/repo-signature/key.gpg "$KEYRING"
capture lists
OK_BEFORE=$(pk_ended success)
check "apt-get update loads the signed repository without a warning" not grep -qE '^(W|E):' <<<"$OUT"
capture g ntsctl --no-ask-password --json apply "${SYS_SERVERS[@]}" --install
check_rc "root: ntsctl --json apply --install" 0
INSTALLED=$(json_key packages-installed)
REMOVED=$(json_key packages-removed)
show "packages-installed: $INSTALLED"$'\n'"packages-removed: $REMOVED"
check "packages-installed names chrony" grep -qw chrony <<<"$INSTALLED"
check "packages-removed is systemd-timesyncd (Debian's conflict)" test "$REMOVED" = systemd-timesyncd
check "dpkg: chrony installed, systemd-timesyncd removed" \
	eval 'test "$(pkg_status chrony)" = ii && test "$(pkg_status systemd-timesyncd)" != ii'
check "packagekitd ended the simulated and the real install with success" test "$(pk_ended success)" -ge $((OK_BEFORE + 2))
capture units_systemd
show
check "chrony loaded, enabled, active; systemd-timesyncd not-found" \
	all_lines "$OUT" "chrony loaded enabled active" "systemd-timesyncd not-found  inactive"
check "chronyd gets NTS cookies from all three servers (30 s)" wait_for 30 nts_all_cookies
for x in a b c; do check "NTS server $x accepted NTS-KE and answered authenticated NTP" served "$x"; done
capture g ntsctl --no-ask-password verify --wait 30
check_rc "ntsctl verify" 0
show

section "rollback: chrony gone, systemd-timesyncd's package back"
capture g ntsctl --no-ask-password --json rollback
check_rc "root: ntsctl --json rollback" 0
show "packages-installed: $(json_key packages-installed)"$'\n'"packages-removed: $(json_key packages-removed)"
check "the rollback's packages-removed are the apply's packages-installed" \
	test "$(json_key packages-removed)" = "$INSTALLED"
check "the rollback's packages-installed is systemd-timesyncd" test "$(json_key packages-installed)" = systemd-timesyncd
check "installed packages exactly as before (names and versions)" test "$(packages)" = "$PACKAGES_BEFORE"
[ "$(packages)" = "$PACKAGES_BEFORE" ] || show "$(diff <(echo "$PACKAGES_BEFORE") <(packages))"
capture units_systemd
check "units as before, as systemd sees them: $(paste -sd, <<<"$UNITS_BEFORE")" test "$OUT" = "$UNITS_BEFORE"
[ "$OUT" = "$UNITS_BEFORE" ] || show
check "systemd-timesyncd active again (10 s)" wait_for 10 g systemctl is-active --quiet systemd-timesyncd
# Not checks: what Debian's remove (PackageKit has no purge) keeps until a purge.
echo "    note: left by Debian's remove, not purge: chrony's dpkg state '$(pkg_status chrony)'," \
	"$(g sh -c 'ls -d /etc/init.d/chrony /etc/chrony /var/lib/chrony /var/log/chrony /etc/systemd/system/chronyd.service /etc/systemd/system/multi-user.target.wants/chrony.service 2>/dev/null' | paste -sd' ' -)"

section "[trusted=yes] on the unsigned repository: a way round ONLY_TRUSTED (shown)"
g sh -c "mv $REPO/InRelease $REPO/Release.gpg /root/repo-signature/"
sources '[trusted=yes]'
capture lists
check "apt loads the unsigned repository's lists without complaint ([trusted=yes])" not grep -qE '^(W|E):' <<<"$OUT"
capture g ntsctl --no-ask-password --json apply "${SYS_SERVERS[@]}" --install
check_rc "ntsctl apply --install succeeds: apt calls a [trusted=yes] index trusted, and PackageKit asks apt" 0
check "chrony installed from the unsigned repository" test "$(pkg_status chrony)" = ii
capture g ntsctl --no-ask-password rollback
check_rc "ntsctl rollback" 0

finish
