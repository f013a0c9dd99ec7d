#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ntsctl against a stand-in service (ntsctl-standin.py) on a private bus
# that plays the system bus: what ntsctl sends (option keys and types,
# the interactive-authorization flag), how it prints replies, and the
# exit code for each kind of error. The real service's tests run ntsctl
# against ntssetupd; this one needs neither root nor chrony.
#
# Usage: test-ntsctl.sh NTSCTL INTROSPECTION_XML STANDIN
# Exit 77 (skipped) when dbus-daemon or python3 with gi is missing.

set -u

# The stand-in runs with / as its working directory.
NTSCTL=$(realpath "$1")
XML=$(realpath "$2")
STANDIN=$(realpath "$3")
PYTHON=/usr/bin/python3

command -v dbus-daemon >/dev/null || { echo "SKIP: no dbus-daemon"; exit 77; }
"$PYTHON" -c 'from gi.repository import Gio' 2>/dev/null || { echo "SKIP: no python3 gi"; exit 77; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/test-ntsctl.XXXXXX")
BUS_PID=

cleanup () {
  if [ -n "$BUS_PID" ]; then
    # The stand-in quits when the bus goes away.
    kill "$BUS_PID" 2>/dev/null
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

mkdir "$DIR/services"
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$DIR/bus"
export NTSCTL_STANDIN_DIR="$DIR"
unset DBUS_SESSION_BUS_ADDRESS

cat > "$DIR/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>$DBUS_SYSTEM_BUS_ADDRESS</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$DIR/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF

passed=0
failed=0

ok () {
  passed=$((passed + 1))
  echo "ok - $1"
}

not_ok () {
  failed=$((failed + 1))
  echo "not ok - $1"
  sed 's/^/#   /' "$DIR/out" "$DIR/err"
}

# run EXPECTED_RC ARGS...: runs ntsctl with no terminal, output in out/err.
run () {
  local expected=$1 rc
  shift
  "$NTSCTL" "$@" > "$DIR/out" 2> "$DIR/err" < /dev/null
  rc=$?
  if [ "$rc" -eq "$expected" ]; then
    ok "ntsctl $* exits $expected"
  else
    not_ok "ntsctl $* exits $rc, expected $expected"
  fi
}

# expect FILE TEXT: FILE (out, err, calls.log) contains TEXT literally.
expect () {
  if grep -qF -- "$2" "$DIR/$1"; then
    ok "$1 has '$2'"
  else
    not_ok "$1 lacks '$2'"
  fi
}

reject () {
  if grep -qF -- "$2" "$DIR/$1"; then
    not_ok "$1 has '$2'"
  else
    ok "$1 has no '$2'"
  fi
}

last_call () {
  tail -n 1 "$DIR/calls.log" > "$DIR/last"
}

fail_next () {
  printf '%s\n%s\n' "$2" "$3" > "$DIR/fail-$1"
}

# --- without a bus, without a service -----------------------------------

run 0 --help
expect out "snapshots"
run 2 frobnicate
expect err "unknown command 'frobnicate'"
run 2 verify --wait soon
expect err "--wait"
run 2 apply --min-sources -1
run 2 apply --wait-sync 4294967296
run 2 verify extra
run 2 rollback one two
run 6 status

dbus-daemon --config-file="$DIR/bus.conf" --fork --print-pid > "$DIR/bus.pid" || exit 1
BUS_PID=$(cat "$DIR/bus.pid")

run 6 verify
expect err "ntsctl: "
reject err "GDBus.Error"

# --- D-Bus activation of the stand-in -----------------------------------

cat > "$DIR/services/org.ntssetup.Manager.service" <<EOF
[D-BUS Service]
Name=org.ntssetup.Manager
Exec=/usr/bin/env DBUS_SYSTEM_BUS_ADDRESS=$DBUS_SYSTEM_BUS_ADDRESS NTSCTL_STANDIN_DIR=$DIR $PYTHON $STANDIN $XML
EOF
# dbus-daemon notices a new service file on its next lookup.

run 0 status
expect out "State: applied"
expect out "step start-chronyd: chronyd did not start"

run 0 status --json
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["MinSources"] == 3' "$DIR/out" \
  && ok "status --json is the properties as JSON" || not_ok "status --json"

# --- verify -----------------------------------------------------------------

run 0 verify
expect out "3 of 3 sources authenticated (min-sources 3), synchronised to ntsa.test, stratum 2"
expect out "ntsb.test  127.0.0.12  NTS"
last_call
expect last "Verify flags=4 (@a{sv} {},)"

touch "$DIR/verify-not-ok"
run 3 verify
expect out "NOT synchronised"
expect out "nts-ke-failed: ntsc.test: NTS key exchange fails"
expect out "    Check that TCP port 4460 is open"
run 3 verify --json
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is False and d["sources"][2]["reachability"] == 0' "$DIR/out" \
  && ok "verify --json is the report as JSON" || not_ok "verify --json"
run 3 verify --probe
expect out "Probes:"
expect out "  ntsc.test: certificate: certificate expired 3 days ago"
last_call
expect last "Verify flags=4 ({'probe': <true>},)"
rm "$DIR/verify-not-ok"

run 0 --no-ask-password verify --wait 30
last_call
expect last "Verify flags=0 ({'wait': <uint32 30>},)"

# --- options: only the keys given, with the contract's types -------------

run 0 apply
last_call
expect last "ApplyHardenedConfig flags=4 (@a{sv} {},)"
expect out "Undo with: ntsctl rollback 20240501T120000-3"
expect out "systemd-timesyncd.service: stopped, disabled"

run 0 apply --server a.test --server b.test --min-sources 2 --install --no-preflight --wait-sync 0
last_call
expect last "'servers': <['a.test', 'b.test']>"
expect last "'min-sources': <uint32 2>"
expect last "'install': <true>"
expect last "'preflight': <false>"
expect last "'wait-sync': <uint32 0>"

run 0 preview --min-sources 4
expect out "# /etc/chrony/chrony.conf"
expect out "minsources 4"
last_call
expect last "PreviewConfig flags=4 ({'min-sources': <uint32 4>},)"

run 0 rollback
last_call
expect last "Rollback flags=4 ('', @a{sv} {})"
run 0 rollback 20240101T000000-1 --force
last_call
expect last "Rollback flags=4 ('20240101T000000-1', {'force': <true>})"
expect out "Restored snapshot 20240101T000000-1"

run 0 snapshots
expect out "20240101T000000-1"
expect out "(original)"
run 0 snapshots --json
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[1]["id"] == "20240101T000000-1" and d[1]["original"]' "$DIR/out" \
  && ok "snapshots --json is a list of objects" || not_ok "snapshots --json"

# --- errors -> exit codes ----------------------------------------------------

fail_next Rollback org.ntssetup.Manager1.Error.Busy "Another change is running."
run 5 rollback
expect err "ntsctl: Another change is running."
reject err "org.ntssetup"

fail_next Verify org.freedesktop.DBus.Error.AccessDenied "Not allowed."
run 4 verify

fail_next ApplyHardenedConfig org.freedesktop.DBus.Error.InteractiveAuthorizationRequired "Authentication is required."
run 4 --no-ask-password apply
expect err "without --no-ask-password"

fail_next ApplyHardenedConfig org.ntssetup.Manager1.Error.ChronyMissing "chrony is not installed."
run 1 apply
expect err "apply --install"
fail_next Rollback org.ntssetup.Manager1.Error.NoSuchSnapshot "No snapshot x."
run 1 rollback x
fail_next ListSnapshots org.freedesktop.DBus.Error.Spawn.ChildExited "Process exited with status 1"
run 6 snapshots
fail_next PreviewConfig org.freedesktop.DBus.Error.InvalidArgs "min-sources: 0 is out of range"
run 1 preview --min-sources 0
expect err "ntsctl: min-sources: 0 is out of range"

# --- what apply and rollback print ---------------------------------------------

run 0 apply
expect out "Commit check: 3 of 3 sources authenticated (min-sources 3), synchronised to ntsa.test"
expect out "Applied in 12.3 s."
expect out "Snapshot: 20240501T120000-3"
reject out "NOTE"
reject err "["
reject out "["

run 0 apply --install
expect out "Packages installed:"
expect out "  chrony"
expect out "NOTE: installing chrony REMOVED the systemd-timesyncd package"

run 0 rollback
expect out "Restored files:"
expect out "  /etc/chrony/chrony.conf"
expect out "Restored snapshot 20240501T120000-3 in 800 ms."
reject err "["

run 0 apply --json
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["snapshot-id"] == "20240501T120000-3" and d["report"]["ok"] and d["duration-ms"] == 12345' "$DIR/out" \
  && ok "apply --json is the result as JSON" || not_ok "apply --json"

# --- errors of apply and rollback, readably -----------------------------------

fail_next ApplyHardenedConfig org.ntssetup.Manager1.Error.ApplyFailed \
  "step keys-file failed: Permission denied; every step done was undone"
run 1 apply
expect err "ntsctl: step keys-file failed: Permission denied"
expect err "  every step done was undone"

# The service puts each failing server on a line of its own.
printf '%s\n%s\n%s\n%s\n' org.ntssetup.Manager1.Error.PreflightFailed \
  "1 of 3 servers passed the NTS preflight, 3 needed:" \
  "ntsb.test: NTS-KE: connection refused" "ntsc.test: no reply" > "$DIR/fail-ApplyHardenedConfig"
run 1 apply
expect err "ntsctl: 1 of 3 servers passed the NTS preflight, 3 needed:"
expect err "  ntsb.test: NTS-KE: connection refused"
expect err "  ntsc.test: no reply"
expect err "Nothing was changed."

fail_next Rollback org.ntssetup.Manager1.Error.ApplyFailed \
  "nothing was changed: /etc/chrony/chrony.conf changed since ntssetup wrote it; restore anyway with 'force' (ntsctl rollback --force)"
run 1 rollback
expect err "  restore anyway with 'force' (ntsctl rollback --force)"

# --- no reply: LastResult tells how it ended ----------------------------------

# The service dies mid-apply and, started again by the next call, has
# undone it.
echo keys-file > "$DIR/crash-ApplyHardenedConfig"
echo '{"method": <"Recover">, "time": <uint64 @NOW@>, "ok": <true>, "error": <"">, "message": <"">, "step": <"">, "snapshot-id": <"20240501T120000-4">}' > "$DIR/last-result"
run 1 apply
expect err "no reply from the service"
expect err "undid it when it started again: nothing was changed"

# ... and is still undoing it.
echo snapshot > "$DIR/crash-ApplyHardenedConfig"
echo recovering > "$DIR/state"
run 1 apply
expect err "it has not ended yet (State: recovering)"
rm "$DIR/state"

# A rollback cut short is finished at the restart.
echo restore-units > "$DIR/crash-Rollback"
run 0 rollback
expect out "finished it when it started again"
expect out "Restored snapshot 20240501T120000-4."

# A LastResult from before the call is not ours.
echo commit > "$DIR/crash-ApplyHardenedConfig"
echo '{"method": <"ApplyHardenedConfig">, "time": <uint64 1714564800000000>, "ok": <true>, "error": <"">, "message": <"">, "step": <"">, "snapshot-id": <"old">}' > "$DIR/last-result"
run 1 apply
expect err "no record of how it ended (State: applied, and its last result is older than the call)"
reject out "old"

# The call ended after the reply was lost: its outcome, with its exit code.
echo commit > "$DIR/crash-ApplyHardenedConfig"
echo '{"method": <"ApplyHardenedConfig">, "time": <uint64 @NOW@>, "ok": <true>, "error": <"">, "message": <"">, "step": <"">, "snapshot-id": <"20240501T120000-5">}' > "$DIR/last-result"
run 0 apply
expect out "Undo with: ntsctl rollback 20240501T120000-5"
echo commit > "$DIR/crash-ApplyHardenedConfig"
echo '{"method": <"ApplyHardenedConfig">, "time": <uint64 @NOW@>, "ok": <false>, "error": <"org.ntssetup.Manager1.Error.ApplyFailed">, "message": <"step commit-check failed: 1 authenticated source, 3 needed; every step done was undone">, "step": <"commit-check">, "snapshot-id": <"">}' > "$DIR/last-result"
run 1 apply
expect err "step commit-check failed: 1 authenticated source, 3 needed"
expect err "  every step done was undone"
rm "$DIR/last-result"

# --- the progress line ----------------------------------------------------------

if command -v script >/dev/null; then
  # script(1) gives ntsctl a terminal; stdout goes to a file, so the
  # terminal shows stderr only.
  script -qec "$NTSCTL apply > $DIR/apply.out" /dev/null < /dev/null > "$DIR/tty" 2>&1
  cp "$DIR/apply.out" "$DIR/out"
  expect tty "[ 1/16] validate"
  expect tty "[ 7/16] keys-file"
  expect tty "[16/16] commit"
  # erased: the last thing on the terminal is a carriage return
  "$PYTHON" -c 'import sys; t=open(sys.argv[1],"rb").read(); assert t.endswith(b"\r") and t.rstrip(b"\r ").endswith(b"commit"), t[-40:]' "$DIR/tty" \
    && ok "progress line erased at the end" || not_ok "progress line erased at the end"
  reject out "["
  expect out "Undo with: ntsctl rollback 20240501T120000-3"

  script -qec "$NTSCTL rollback" /dev/null < /dev/null > "$DIR/tty" 2>&1
  expect tty "[2/3] restore-packages"
  expect tty "Restored snapshot 20240501T120000-3"

  script -qec "$NTSCTL apply --json" /dev/null < /dev/null > "$DIR/tty" 2>&1
  reject tty "/16]"
  expect tty '"snapshot-id" : "20240501T120000-3"'

  # Only the service's own signals count.
  touch "$DIR/spoof"
  script -qec "$NTSCTL apply" /dev/null < /dev/null > "$DIR/tty" 2>&1
  rm "$DIR/spoof"
  reject tty "spoofed"
  expect tty "[16/16] commit"

  # On error, the line is erased before the message.
  echo nts-dump > "$DIR/crash-ApplyHardenedConfig"
  echo applying > "$DIR/state"
  script -qec "$NTSCTL apply" /dev/null < /dev/null > "$DIR/tty" 2>&1
  rm "$DIR/state"
  "$PYTHON" -c 'import sys,re; t=open(sys.argv[1],"rb").read(); assert re.search(rb"\[12/16\] stop-timesyncd *\r +\rntsctl: no reply", t), t[-400:]' "$DIR/tty" \
    && ok "progress line erased before the error" || not_ok "progress line erased before the error"
else
  echo "ok - progress line # SKIP no script(1)"
fi

# Longer than D-Bus's default 25 s: ntsctl must not give up.
echo 1800 > "$DIR/slow"
run 0 apply
rm "$DIR/slow"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
