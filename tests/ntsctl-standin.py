#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A stand-in for ntssetupd, for testing ntsctl only.

It serves org.ntssetup.Manager1 from the real introspection XML (so GDBus
checks every reply against the contract) with canned replies, on the bus
in DBUS_SYSTEM_BUS_ADDRESS (or DBUS_STARTER_ADDRESS when D-Bus activated).
It knows nothing about chrony; it only lets test-ntsctl.sh check what
ntsctl sends and how it prints what it gets.

Control, through files in $NTSCTL_STANDIN_DIR:
  calls.log          one line per call: METHOD flags=N ARGS (appended)
  fail-METHOD        the next METHOD call fails: line 1 the D-Bus error
                     name, the rest the message (file removed when used)
  verify-not-ok      Verify reports ok=false
  slow               ApplyHardenedConfig/Rollback take this many ms per step
  crash-METHOD       METHOD exits the stand-in without replying when the
                     step named in the file starts, as a crashed service
  state              the State property (default: applied)
  last-result        the LastResult property, as GVariant text; @NOW@ is
                     replaced by the current time in microseconds
  spoof              ApplyHardenedConfig also sends a Progress signal
                     "spoofed" to the caller from another connection
  polkit-action      every call is first authorised by polkitd on the bus
                     for this action id, as ntssetupd does (subject: the
                     caller's bus name; interactive only when the call
                     allows it); for trying out ntsctl's polkit agent

The object path, the interface and the step names of Progress come from
the XML (the org.ntssetup.ApplySteps and org.ntssetup.RollbackSteps
annotations of Progress), as the service's own must.

Usage: ntsctl-standin.py INTROSPECTION_XML
"""

import os
import sys
import time

from gi.repository import Gio, GLib

# The XML does not say it in a form a program can read; test-ntsctl.sh's
# activation file names it too.
BUS_NAME = "org.ntssetup.Manager"

G_MAXINT = 2**31 - 1
CONTROL = os.environ.get("NTSCTL_STANDIN_DIR", ".")


class Contract:
    """What the introspection XML says: the object, its one interface,
    and the steps each mutating call reports through Progress."""

    def __init__(self, xml_path):
        with open(xml_path, encoding="utf-8") as f:
            node = Gio.DBusNodeInfo.new_for_xml(f.read())
        self.path = node.path
        self.info = node.interfaces[0]
        self.interface = self.info.name
        progress = self.info.lookup_signal("Progress")
        self.apply_steps = self.steps(xml_path, progress, "org.ntssetup.ApplySteps")
        self.rollback_steps = self.steps(xml_path, progress, "org.ntssetup.RollbackSteps")

    @staticmethod
    def steps(xml_path, signal, annotation):
        value = Gio.DBusAnnotationInfo.lookup(signal.annotations, annotation)
        if not value:
            sys.exit(f"{xml_path}: Progress has no {annotation} annotation")
        return value.split(";")


def v(sig, value):
    return GLib.Variant(sig, value)


def source(name, address, auth, reach, state, offset, ke=1, attempts=0,
           age=3600, cookies=8, nak=False, operator=""):
    return {
        "name": v("s", name), "address": v("s", address), "nts": v("b", True),
        "ke-count": v("u", ke), "ke-attempts": v("u", attempts),
        "last-ke-age": v("x", age), "cookies": v("u", cookies),
        "nak": v("b", nak), "authenticated": v("b", auth),
        "reachability": v("y", reach), "state": v("s", state),
        "stratum": v("y", 1), "offset": v("d", offset),
        "operator": v("s", operator),
    }


def report(ok, probe=False):
    sources = [
        source("ntsa.test", "127.0.0.11", True, 0o377, "selected", 0.000012),
        source("ntsb.test", "127.0.0.12", True, 0o377, "candidate", -0.0021,
               age=90000),
        source("ntsc.test", "127.0.0.13", ok, 0o17 if ok else 0,
               "candidate" if ok else "unreachable", 1.5e-7 if ok else 0.0,
               ke=1 if ok else 0, attempts=0 if ok else 3,
               age=42 if ok else -1, cookies=8 if ok else 0),
    ]
    if probe and not ok:
        # What Verify's 'probe' adds to a failing source.
        sources[2]["probe"] = v("a{sv}", {
            "server": v("s", "ntsc.test"), "port": v("q", 4460),
            "result": v("s", "certificate"),
            "message": v("s", "certificate expired 3 days ago"),
        })
    problems = []
    if not ok:
        problems.append({
            "code": v("s", "nts-ke-failed"), "source": v("s", "ntsc.test"),
            "message": v("s", "NTS key exchange fails: no cookies after 3 attempts"),
            "hint": v("s", "Check that TCP port 4460 is open to the server."),
        })
        problems.append({
            "code": v("s", "too-few-authenticated"), "source": v("s", ""),
            "message": v("s", "2 authenticated sources, 3 needed"),
            "hint": v("s", "chronyd will not change the clock until more sources authenticate."),
        })
    return {
        "ok": v("b", ok),
        "authenticated-sources": v("u", 3 if ok else 2),
        "min-sources": v("u", 3),
        "synchronised": v("b", ok),
        "leap-status": v("s", "normal" if ok else "unsynchronised"),
        "reference": v("s", "ntsa.test" if ok else ""),
        "stratum": v("y", 2 if ok else 0),
        "system-offset": v("d", 0.000003),
        "chronyd-unit": v("s", "chrony.service"),
        "chronyd-state": v("s", "active"),
        "timesyncd-state": v("s", "inactive"),
        "sources": v("aa{sv}", sources),
        "problems": v("aa{sv}", problems),
    }


def read_control(name):
    try:
        with open(os.path.join(CONTROL, name), encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def spoof_progress(contract, address, destination):
    """A Progress signal addressed to the caller, from a peer that is not
    the service: ntsctl must not show it."""
    other = Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    other.emit_signal(destination, contract.path, contract.interface, "Progress",
                      v("(suu)", ("spoofed", 1, len(contract.apply_steps))))
    other.flush_sync(None)
    other.close_sync(None)


class Standin:
    def __init__(self, contract, connection, address):
        self.contract = contract
        self.address = address
        self.connection = connection
        self.props = {
            "State": v("s", "applied"),
            "Servers": v("as", ["ntsa.test", "ntsb.test", "ntsc.test"]),
            "MinSources": v("u", 3),
            "ChronyInstalled": v("b", True),
            "TimesyncdActive": v("b", False),
            "LastResult": v("a{sv}", {
                "method": v("s", "ApplyHardenedConfig"), "time": v("t", 1714564800000000),
                "ok": v("b", False), "error": v("s", "org.ntssetup.Manager1.Error.ApplyFailed"),
                "message": v("s", "chronyd did not start"), "step": v("s", "start-chronyd"),
                "snapshot-id": v("s", "20240501T120000-2"),
            }),
        }
        connection.register_object(contract.path, contract.info, self.on_call,
                                   self.on_get_property, None)

    def on_get_property(self, connection, sender, path, interface, name):
        if name == "State":
            state = read_control("state")
            if state is not None:
                return v("s", state.strip())
        if name == "LastResult":
            text = read_control("last-result")
            if text is not None:
                text = text.replace("@NOW@", str(int(time.time() * 1e6)))
                return GLib.Variant.parse(GLib.VariantType("a{sv}"), text, None, None)
        return self.props[name]

    def log(self, method, flags, params):
        with open(os.path.join(CONTROL, "calls.log"), "a", encoding="utf-8") as f:
            f.write(f"{method} flags={int(flags)} {params.print_(True)}\n")

    def take_failure(self, method):
        path = os.path.join(CONTROL, "fail-" + method)
        try:
            with open(path, encoding="utf-8") as f:
                name, _, message = f.read().partition("\n")
        except FileNotFoundError:
            return None
        os.unlink(path)
        return name.strip(), message.strip()

    def on_call(self, connection, sender, path, interface, method, params, invocation):
        flags = invocation.get_message().get_flags()
        self.log(method, flags, params)
        try:
            with open(os.path.join(CONTROL, "polkit-action"), encoding="utf-8") as f:
                action = f.read().strip()
        except FileNotFoundError:
            self.dispatch(method, params, invocation)
            return
        interactive = bool(flags & Gio.DBusMessageFlags.ALLOW_INTERACTIVE_AUTHORIZATION)

        def checked(conn, res):
            try:
                (authorized, challenge, _), = conn.call_finish(res).unpack()
            except GLib.Error as e:
                invocation.return_dbus_error("org.freedesktop.DBus.Error.AccessDenied",
                                             "polkit: " + e.message)
                return
            if authorized:
                self.dispatch(method, params, invocation)
            elif challenge:
                invocation.return_dbus_error(
                    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
                    "Authentication is required")
            else:
                invocation.return_dbus_error("org.freedesktop.DBus.Error.AccessDenied",
                                             "Not authorized")

        connection.call("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                        "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
                        v("((sa{sv})sa{ss}us)", (("system-bus-name", {"name": v("s", sender)}),
                                                 action, {}, 1 if interactive else 0, "")),
                        GLib.VariantType("((bba{ss}))"), Gio.DBusCallFlags.NONE, G_MAXINT,
                        None, checked)

    def dispatch(self, method, params, invocation):
        failure = self.take_failure(method)
        if failure is not None:
            invocation.return_dbus_error(*failure)
            return
        getattr(self, "do_" + method)(params, invocation)

    def run_steps(self, method, steps, invocation, reply):
        delay = int(read_control("slow") or 30)
        crash_path = os.path.join(CONTROL, "crash-" + method)
        crash_at = read_control("crash-" + method)
        if crash_at is not None:
            os.unlink(crash_path)
            crash_at = crash_at.strip()
        index = [0]

        def step():
            if index[0] == len(steps):
                invocation.return_value(reply)
                return GLib.SOURCE_REMOVE
            if steps[index[0]] == crash_at:
                os._exit(1)
            self.connection.emit_signal(None, self.contract.path, self.contract.interface,
                                        "Progress",
                                        v("(suu)", (steps[index[0]], index[0] + 1, len(steps))))
            index[0] += 1
            return GLib.SOURCE_CONTINUE

        GLib.timeout_add(delay, step)

    def do_ApplyHardenedConfig(self, params, invocation):
        install = params.unpack()[0].get("install", False)
        if read_control("spoof") is not None:
            spoof_progress(self.contract, self.address, invocation.get_sender())
        reply = v("(a{sv})", ({
            "snapshot-id": v("s", "20240501T120000-3"),
            "changed-files": v("as", ["/etc/chrony/chrony.conf",
                                      "/etc/systemd/system/chrony.service.d/50-ntssetup-hardening.conf"]),
            "unit-changes": v("as", ["systemd-timesyncd.service: stopped, disabled",
                                     "chrony.service: enabled, restarted"]),
            # As on Debian, where chrony and systemd-timesyncd conflict.
            "packages-installed": v("as", ["chrony"] if install else []),
            "packages-removed": v("as", ["systemd-timesyncd"] if install else []),
            "report": v("a{sv}", report(True)),
            "duration-ms": v("t", 12345),
        },))
        self.run_steps("ApplyHardenedConfig", self.contract.apply_steps, invocation, reply)

    def do_Rollback(self, params, invocation):
        snapshot_id = params.unpack()[0] or "20240501T120000-3"
        reply = v("(a{sv})", ({
            "snapshot-id": v("s", snapshot_id),
            "restored-files": v("as", ["/etc/chrony/chrony.conf"]),
            "unit-changes": v("as", ["systemd-timesyncd.service: enabled, started"]),
            "packages-installed": v("as", []),
            "packages-removed": v("as", []),
            "duration-ms": v("t", 800),
        },))
        self.run_steps("Rollback", self.contract.rollback_steps, invocation, reply)

    def do_Verify(self, params, invocation):
        ok = not os.path.exists(os.path.join(CONTROL, "verify-not-ok"))
        probe = params.unpack()[0].get("probe", False)
        invocation.return_value(v("(a{sv})", (report(ok, probe),)))

    def do_ListSnapshots(self, params, invocation):
        invocation.return_value(v("(a(sta{sv}))", ([
            ("20240501T120000-3", 1714564800000000,
             {"servers": v("as", ["ntsa.test", "ntsb.test"]), "min-sources": v("u", 2),
              "files": v("as", ["/etc/chrony/chrony.conf"]), "version": v("s", "0.1.0"),
              "original": v("b", False)}),
            ("20240101T000000-1", 1704067200000000,
             {"servers": v("as", []), "min-sources": v("u", 0),
              "files": v("as", ["/etc/chrony/chrony.conf"]), "version": v("s", "0.1.0"),
              "original": v("b", True)}),
        ],)))

    def do_PreviewConfig(self, params, invocation):
        options = params.unpack()[0]
        servers = options.get("servers", ["time.cloudflare.com", "nts.netnod.se"])
        conf = "".join(f"server {s} iburst nts\n" for s in servers)
        conf += f"minsources {options.get('min-sources', 3)}\n"
        invocation.return_value(v("(a{ss})", ({
            "/etc/chrony/chrony.conf": conf,
            "/etc/systemd/system/chrony.service.d/50-ntssetup-hardening.conf": "[Service]\nProtectSystem=strict",
        },)))


def main():
    # First: without the XML's step lists it exits saying so.
    contract = Contract(sys.argv[1])
    loop = GLib.MainLoop()
    address = os.environ.get("DBUS_STARTER_ADDRESS") or os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
    connection = Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    standin = Standin(contract, connection, address)
    Gio.bus_own_name_on_connection(connection, BUS_NAME, Gio.BusNameOwnerFlags.NONE,
                                   None, lambda *a: loop.quit())
    connection.connect("closed", lambda *a: loop.quit())
    loop.run()


if __name__ == "__main__":
    main()
