#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-clock-far-off.sh — issue 10: the machine's clock far off (a board without a
# battery-backed clock booting in 1970, a VM restored from an old image). The guest shares
# the host's clock and cannot set it (no CAP_SYS_TIME), so the servers' certificates are
# moved instead: all three re-issued by the trusted test CA for 2021 only. To the machine
# that is the same thing — every certificate fails on its dates alone.
#   - `ntsctl apply` refuses in the preflight (PreflightFailed), its message blaming this
#     clock and naming --allow-clock-far-off, and changes nothing;
#   - applied anyway (--no-preflight --wait-sync 0), `ntsctl verify --probe` reports the
#     problem clock-far-off, each source probed as failing on its certificate's dates;
#   - `ntsctl apply --allow-clock-far-off` writes `nocerttimecheck 1`, and chronyd
#     authenticates all three servers and synchronises, as the option promises;
#   - `ntsctl rollback` puts everything back byte for byte.
#
#   tests/system/test-clock-far-off.sh        (root; ends with "N passed, M failed")
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

sys_setup

manifest_before=$(sys_manifest)
units_before=$(sys_units)

section "harness: the three servers' certificates valid in 2021 only, from the trusted CA"
# `openssl x509 -req` of OpenSSL 3.0 counts days from now only; `openssl ca` takes dates
# and a little database of its own.
capture g sh -c 'set -e
	d=/etc/ntsserver w=$(mktemp -d)
	cd "$w"
	: >index; echo 1000 >serial; mkdir issued
	printf "%s\n" "[ca]" "default_ca = dated" "[dated]" "database = index" "serial = serial" \
		"new_certs_dir = issued" "default_md = sha256" "policy = any" "unique_subject = no" \
		"[any]" "commonName = supplied" >ca.cnf
	for i in a:2 b:3 c:4; do
		n=${i%%:*}
		printf "%s\n" "[srv]" basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
			extendedKeyUsage=serverAuth "subjectAltName=DNS:nts$n.test,IP:127.0.0.${i#*:}" >$n.ext
		openssl req -new -key "$d/$n.key" -subj "/CN=nts$n.test" -out $n.csr
		openssl ca -batch -config ca.cnf -cert "$d/ca.crt" -keyfile "$d/ca.key" -in $n.csr \
			-out $n.crt -startdate 20210101000000Z -enddate 20220101000000Z \
			-extfile $n.ext -extensions srv -notext 2>/dev/null
		install -m 644 $n.crt "$d/$n.crt"
	done
	cd / && rm -rf "$w"
	systemctl restart ntsserver@a ntsserver@b ntsserver@c'
check "the servers run with the 2021 certificates (exit $RC)" test "$RC" = 0
show
check "the trust store refuses ntsa.test's certificate: expired (openssl verify)" \
	g sh -c 'openssl verify /etc/ntsserver/a.crt 2>&1 | grep -q "certificate has expired"'
check "... and accepts it with the dates ignored: only the dates are wrong" \
	g openssl verify -no_check_time /etc/ntsserver/a.crt

section "ntsctl apply: refused by the preflight, which blames this clock"
g sh -c 'rm -f /var/lib/chrony/*.nts'
capture g ntsctl apply "${SYS_SERVERS[@]}"
check_rc "ntsctl apply fails" 1
show
check "the message names each server's certificate as expired" \
	test "$(grep -cE '^ *nts[abc]\.test: .*expired' <<<"$OUT")" = 3
check "the message blames this machine's clock" grep -q 'clock .* is probably far off' <<<"$OUT"
check "the message names the way out: --allow-clock-far-off" grep -q -- '--allow-clock-far-off' <<<"$OUT"
err=$(last_result error)
check "LastResult error is PreflightFailed ($err)" test "$err" = org.ntssetup.Manager1.Error.PreflightFailed
check_as_before "$manifest_before" "$units_before"

section "applied anyway (--no-preflight --wait-sync 0): ntsctl verify --probe blames the clock"
g sh -c 'rm -f /var/lib/chrony/*.nts'
capture g ntsctl apply "${SYS_SERVERS[@]}" --no-preflight --wait-sync 0
check_rc "ntsctl apply --no-preflight --wait-sync 0 (chronyd runs: the health check passes)" 0
# The wait ends once chronyd has tried each key exchange and its TLS back-off outlasts
# the wait; then the failing sources are probed.
capture g ntsctl --json verify --probe --wait 30
check "ntsctl verify --probe: NTS does not work (exit $RC)" test "$RC" != 0
printf '%s\n' "$OUT" >"$SYS_TMP/verify.json"
capture "$SYS_PY" - "$SYS_TMP/verify.json" <<-'EOF'
	import json, sys
	r = json.load(open(sys.argv[1]))
	codes = [p["code"] for p in r.get("problems", [])]
	print("codes=" + ",".join(codes))
	for p in r.get("problems", []):
	    if p["code"] == "clock-far-off":
	        print("clock-hint=" + p["hint"])
	for src in r.get("sources", []):
	    pr = src.get("probe", {})
	    print("probe %s %s clock-suspect=%s" % (src["name"], pr.get("result", "none"),
	                                            json.dumps(pr.get("clock-suspect", False))))
	EOF
show
check "the first problem is clock-far-off" grep -q '^codes=clock-far-off,' <<<"$OUT"
check "its hint names allow-clock-far-off" grep -q '^clock-hint=.*allow-clock-far-off' <<<"$OUT"
for n in a b c; do
	check "nts$n.test was probed: certificate, clock-suspect" grep -qx "probe nts$n.test certificate clock-suspect=true" <<<"$OUT"
done
capture g ntsctl rollback
check_rc "ntsctl rollback" 0
check_as_before "$manifest_before" "$units_before"

section "ntsctl apply --allow-clock-far-off: chronyd skips the dates until it sets the clock"
g sh -c 'rm -f /var/lib/chrony/*.nts'
t0=$SECONDS
capture g ntsctl apply "${SYS_SERVERS[@]}" --allow-clock-far-off
check_rc "ntsctl apply --allow-clock-far-off ($((SECONDS - t0)) s)" 0
show
check "chrony.conf has 'nocerttimecheck 1'" g grep -qx 'nocerttimecheck 1' /etc/chrony/chrony.conf
check "chronyd holds NTS cookies from all three servers (within 20 s)" wait_for 20 nts_all_cookies
check "chronyd is synchronised (within 20 s)" wait_for 20 chrony_synced
capture g ntsctl verify
check_rc "ntsctl verify: NTS works" 0

section "ntsctl rollback"
capture g ntsctl rollback
check_rc "ntsctl rollback" 0
check_as_before "$manifest_before" "$units_before"

finish
