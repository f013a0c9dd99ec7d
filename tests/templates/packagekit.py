# SPDX-License-Identifier: GPL-2.0-or-later
'''PackageKit stand-in for the ntssetup tests (python-dbusmock local template)

Start it on the private "system" bus (DBUS_SYSTEM_BUS_ADDRESS) with

    /usr/bin/python3 -m dbusmock --system --template tests/templates/packagekit.py -p '{
        "installed": ["systemd-timesyncd"],
        "available": {"chrony": ["systemd-timesyncd"]}}'

Bus name org.freedesktop.PackageKit.  /org/freedesktop/PackageKit carries the
real org.freedesktop.PackageKit interface AND the test control interface
org.ntssetup.Test.PackageKit.  CreateTransaction() exports transactions at
/<N>_<8 hex digits> (like packagekitd) with org.freedesktop.PackageKit.Transaction.
dbusmock's own object (org.freedesktop.DBus.Mock) sits at "/"; its call log
also receives every PackageKit / Transaction call.

Package ids are "name;version;arch;data" (data "installed" for installed
packages, else the repository "debian-bookworm-main"); only the name matters.

Template parameters (all optional):
  installed  list of installed package names
  available  {name: [installed packages that installing it removes]} (or the
             same as a JSON string)
  versions   {name: version} for package ids
  untrusted  list of available package names whose repository is not
             signed: with ONLY_TRUSTED, InstallPackages refuses them the way
             PackageKit's aptcc backend does (ErrorCode
             cannot-install-repo-unsigned, Finished need-untrusted), and like
             it only when really installing: a SIMULATE run succeeds; without
             the flag they install
'''

import json
import os
import random
import sys
import time

import dbus
import dbus.service
from gi.repository import GLib

from dbusmock import mockobject

BUS_NAME = 'org.freedesktop.PackageKit'
# dbusmock's generic mock object; the real objects are registered in load()
MAIN_OBJ = '/'
MAIN_IFACE = mockobject.MOCK_IFACE
SYSTEM_BUS = True

PK_PATH = '/org/freedesktop/PackageKit'
PK_IFACE = 'org.freedesktop.PackageKit'
TRANSACTION_IFACE = 'org.freedesktop.PackageKit.Transaction'
CONTROL_IFACE = 'org.ntssetup.Test.PackageKit'

ERROR_INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'
ERROR_PACKAGE_ID_INVALID = TRANSACTION_IFACE + '.PackageIdInvalid'
ERROR_EXISTS_WITH_ROLE = TRANSACTION_IFACE + '.TransactionExistsWithRole'
ERROR_NOT_RUNNING = TRANSACTION_IFACE + '.NotRunning'

# libpackagekit-glib2 pk-enum.h (checked against PackageKitGlib 1.2.6)
INFO_INSTALLED = 1
INFO_AVAILABLE = 2
INFO_INSTALLING = 12
INFO_REMOVING = 13
INFO_UNTRUSTED = 23
EXIT_SUCCESS = 1
EXIT_FAILED = 2
EXIT_CANCELLED = 3
EXIT_NEED_UNTRUSTED = 8
ERROR_PACKAGE_NOT_INSTALLED = 7
ERROR_PACKAGE_NOT_FOUND = 8
ERROR_TRANSACTION_CANCELLED = 17
ERROR_ALL_PACKAGES_ALREADY_INSTALLED = 41
ERROR_CANNOT_INSTALL_REPO_UNSIGNED = 50
ROLE_UNKNOWN = 0
ROLE_CANCEL = 1
ROLE_INSTALL_PACKAGES = 11
ROLE_REMOVE_PACKAGES = 14
ROLE_RESOLVE = 17
STATUS_WAIT = 1
STATUS_RUNNING = 3
STATUS_QUERY = 4
STATUS_REMOVE = 6
STATUS_INSTALL = 9
STATUS_FINISHED = 18
FILTER_INSTALLED = 2
FILTER_NOT_INSTALLED = 3
NETWORK_ONLINE = 2
AUTHORIZE_YES = 1
# transaction flags and filters travel as bitfields: 1 << enum value
TRANSACTION_FLAG_ONLY_TRUSTED = 1 << 1
TRANSACTION_FLAG_SIMULATE = 1 << 2
TRANSACTION_FLAG_ONLY_DOWNLOAD = 1 << 3

DEFAULT_VERSIONS = {
    'chrony': '4.3-2+deb12u1',
    'systemd-timesyncd': '252.39-1~deb12u2',
    'ntpsec': '1.2.2+dfsg1-1+deb12u1',
    'ntp': '1:4.2.8p15+dfsg-2~1.2.2+dfsg1-1+deb12u1',
    'openntpd': '1:6.2p3-4.2',
}
ARCH = 'amd64'
REPO = 'debian-bookworm-main'
TRANSACTION_DELAY_MS = 10
DESTROY_DELAY_MS = 2000


# helpers shared by the ntssetup templates live in _stand_in_common.py next
# to this file (not a template); dbusmock exec()s a template by path, so
# put this directory on sys.path first

_TEMPLATE_DIR = os.path.dirname(os.path.abspath(__file__))
if _TEMPLATE_DIR not in sys.path:
    sys.path.insert(0, _TEMPLATE_DIR)

# pylint: disable-next=wrong-import-position
from _stand_in_common import _dbus_error, _calls_to_dbus, _Exported  # noqa: E402


# --------------------------------------------------------------------------

def _valid_package_id(package_id):
    parts = package_id.split(';')
    return len(parts) == 4 and parts[0] != ''


def _bitfield(*values):
    result = 0
    for value in values:
        result |= 1 << value
    return result


class Transaction(_Exported):
    '''/<N>_<hex>: one org.freedesktop.PackageKit.Transaction'''

    def __init__(self, daemon, number, sender):
        path = f'/{number}_{random.getrandbits(32):08x}'
        _Exported.__init__(self, daemon.mock, path)
        self.daemon = daemon
        self.role = ROLE_UNKNOWN
        self.method = None
        self.hints = []
        self.timer = 0
        self.finished = False
        self.started = time.monotonic()
        self.add_prop(TRANSACTION_IFACE, 'Role', 'u', ROLE_UNKNOWN)
        self.add_prop(TRANSACTION_IFACE, 'Status', 'u', STATUS_WAIT)
        self.add_prop(TRANSACTION_IFACE, 'LastPackage', 's', '')
        self.add_prop(TRANSACTION_IFACE, 'Uid', 'u', 0)
        self.add_prop(TRANSACTION_IFACE, 'Sender', 's', sender or '')
        self.add_prop(TRANSACTION_IFACE, 'Percentage', 'u', 101)
        self.add_prop(TRANSACTION_IFACE, 'AllowCancel', 'b', True)
        self.add_prop(TRANSACTION_IFACE, 'CallerActive', 'b', True)
        self.add_prop(TRANSACTION_IFACE, 'ElapsedTime', 'u', 0)
        self.add_prop(TRANSACTION_IFACE, 'RemainingTime', 'u', 0)
        self.add_prop(TRANSACTION_IFACE, 'Speed', 'u', 0)
        self.add_prop(TRANSACTION_IFACE, 'DownloadSizeRemaining', 't', 0)
        self.add_prop(TRANSACTION_IFACE, 'TransactionFlags', 't', 0)

    def commit(self, role, status, flags, work):
        '''Take the role, reply to the caller, then run work() from the main loop'''
        if self.role != ROLE_UNKNOWN:
            raise _dbus_error(ERROR_EXISTS_WITH_ROLE, 'cannot set role as already has one')
        self.role = role
        self.update_props(TRANSACTION_IFACE, {'Role': role, 'TransactionFlags': flags})
        self.daemon.running(self, True)

        if self.daemon.stalls(self.method):
            # a backend stuck on a lock or a download: no signal ever
            # comes, only Cancel ends it
            return

        def run():
            self.timer = 0
            self.update_props(TRANSACTION_IFACE, {'Status': status, 'Percentage': 0})
            error = self.daemon.failure_for(self.method)
            if error is None:
                error = work()
            self.finish(error)
            return False
        self.timer = GLib.timeout_add(TRANSACTION_DELAY_MS, run)

    def package(self, info, name):
        package_id = self.daemon.package_id(name)
        self.update_props(TRANSACTION_IFACE, {'LastPackage': package_id})
        self.Package(dbus.UInt32(info), package_id, self.daemon.summary(name))

    def finish(self, error, exit_code=None):
        '''error: None, (code, details), or (code, details, exit code)'''
        if error is not None and len(error) == 3:
            exit_code = error[2]
        if self.finished:
            return
        self.finished = True
        if self.timer:
            GLib.source_remove(self.timer)
            self.timer = 0
        if error is not None:
            self.ErrorCode(dbus.UInt32(error[0]), error[1])
        if exit_code is None:
            exit_code = EXIT_FAILED if error is not None else EXIT_SUCCESS
        runtime = int((time.monotonic() - self.started) * 1000)
        self.update_props(TRANSACTION_IFACE, {'Status': STATUS_FINISHED, 'Percentage': 100,
                                              'AllowCancel': False, 'ElapsedTime': runtime})
        self.Finished(dbus.UInt32(exit_code), dbus.UInt32(runtime))
        self.daemon.running(self, False)

        def destroy():
            self.Destroy()
            self.daemon.transactions.pop(self.path, None)
            self.unexport()
            return False
        GLib.timeout_add(DESTROY_DELAY_MS, destroy)

    # ---- org.freedesktop.PackageKit.Transaction

    @dbus.service.method(TRANSACTION_IFACE, in_signature='as', out_signature='')
    def SetHints(self, hints):
        self.daemon.log_call(self, 'SetHints', [hints])
        for hint in hints:
            if '=' not in hint:
                raise _dbus_error(TRANSACTION_IFACE + '.NotSupported', f'hint {hint} not in key=value form')
        self.hints = [str(h) for h in hints]

    @dbus.service.method(TRANSACTION_IFACE, in_signature='tas', out_signature='')
    def Resolve(self, filters, packages):
        self.daemon.log_call(self, 'Resolve', [filters, packages])
        self.method = 'Resolve'

        def work():
            for name in packages:
                name = str(name)
                installed = name in self.daemon.installed
                if not installed and name not in self.daemon.available:
                    continue
                if installed and filters & (1 << FILTER_NOT_INSTALLED):
                    continue
                if not installed and filters & (1 << FILTER_INSTALLED):
                    continue
                self.package(INFO_INSTALLED if installed else INFO_AVAILABLE, name)
            return None
        self.commit(ROLE_RESOLVE, STATUS_QUERY, 0, work)

    @dbus.service.method(TRANSACTION_IFACE, in_signature='tas', out_signature='')
    def InstallPackages(self, transaction_flags, package_ids):
        self.daemon.log_call(self, 'InstallPackages', [transaction_flags, package_ids])
        self.method = 'InstallPackages'
        self.daemon.check_ids(package_ids)

        def work():
            daemon = self.daemon
            names = [str(p).split(';')[0] for p in package_ids]
            for name in names:
                if name not in daemon.available and name not in daemon.installed:
                    return (ERROR_PACKAGE_NOT_FOUND, f"Couldn't find the package '{name}'.")
            wanted = [n for n in names if n not in daemon.installed]
            if not wanted:
                return (ERROR_ALL_PACKAGES_ALREADY_INSTALLED, 'The packages are already all installed')
            untrusted = [n for n in wanted if n in daemon.untrusted]
            # The real aptcc backend checks trust only when it installs: a SIMULATE run
            # lists the changes and succeeds, ONLY_TRUSTED or not (seen with packagekitd
            # 1.2.6 in the test bed's flavour pk, tests/system/test-packagekit.sh).
            if untrusted and not transaction_flags & TRANSACTION_FLAG_SIMULATE:
                if transaction_flags & TRANSACTION_FLAG_ONLY_TRUSTED:
                    return (ERROR_CANNOT_INSTALL_REPO_UNSIGNED,
                            'The following packages cannot be authenticated:\n' + ' '.join(untrusted) + ' ',
                            EXIT_NEED_UNTRUSTED)
            removed = []
            for name in wanted:
                removed += [r for r in daemon.available.get(name, [])
                            if r in daemon.installed and r not in removed and r not in wanted]
            for name in wanted:
                self.package(INFO_INSTALLING, name)
            for name in removed:
                self.package(INFO_REMOVING, name)
            if not transaction_flags & (TRANSACTION_FLAG_SIMULATE | TRANSACTION_FLAG_ONLY_DOWNLOAD):
                daemon.installed = [n for n in daemon.installed if n not in removed] + wanted
            return None
        self.commit(ROLE_INSTALL_PACKAGES, STATUS_INSTALL, transaction_flags, work)

    @dbus.service.method(TRANSACTION_IFACE, in_signature='tasbb', out_signature='')
    def RemovePackages(self, transaction_flags, package_ids, allow_deps, autoremove):
        self.daemon.log_call(self, 'RemovePackages', [transaction_flags, package_ids, allow_deps, autoremove])
        self.method = 'RemovePackages'
        self.daemon.check_ids(package_ids)

        def work():
            daemon = self.daemon
            names = [str(p).split(';')[0] for p in package_ids]
            for name in names:
                if name not in daemon.installed:
                    return (ERROR_PACKAGE_NOT_INSTALLED, f'The package {name} is not installed')
            for name in names:
                self.package(INFO_REMOVING, name)
            if not transaction_flags & TRANSACTION_FLAG_SIMULATE:
                daemon.installed = [n for n in daemon.installed if n not in names]
            return None
        self.commit(ROLE_REMOVE_PACKAGES, STATUS_REMOVE, transaction_flags, work)

    @dbus.service.method(TRANSACTION_IFACE, in_signature='', out_signature='')
    def Cancel(self):
        self.daemon.log_call(self, 'Cancel', [])
        if self.role == ROLE_UNKNOWN or self.finished:
            raise _dbus_error(ERROR_NOT_RUNNING, 'Not running')
        self.finish((ERROR_TRANSACTION_CANCELLED, 'The task was stopped successfully'), EXIT_CANCELLED)

    @dbus.service.signal(TRANSACTION_IFACE, signature='uss')
    def Package(self, info, package_id, summary):
        pass

    @dbus.service.signal(TRANSACTION_IFACE, signature='us')
    def ErrorCode(self, code, details):
        pass

    @dbus.service.signal(TRANSACTION_IFACE, signature='uu')
    def Finished(self, exit_code, runtime):
        pass

    @dbus.service.signal(TRANSACTION_IFACE, signature='')
    def Destroy(self):
        pass


class PackageKit(_Exported):
    '''/org/freedesktop/PackageKit: daemon interface + test control'''

    def __init__(self, mock, parameters):
        _Exported.__init__(self, mock, PK_PATH)
        available = parameters.get('available', {})
        if isinstance(available, str):
            available = json.loads(available)
        versions = parameters.get('versions', {})
        if isinstance(versions, str):
            versions = json.loads(versions)
        self.installed = [str(n) for n in parameters.get('installed', [])]
        self.available = {str(k): [str(x) for x in v] for k, v in dict(available).items()}
        self.versions = dict(DEFAULT_VERSIONS, **{str(k): str(v) for k, v in dict(versions).items()})
        self.untrusted = [str(n) for n in parameters.get('untrusted', [])]
        self.stalled = set()
        self.failures = {}
        self.calls = []
        self.transactions = {}
        self.running_paths = []
        self.number = 0
        for prop, sig, value in (
                ('VersionMajor', 'u', 1), ('VersionMinor', 'u', 2), ('VersionMicro', 'u', 6),
                ('BackendName', 's', 'aptcc'), ('BackendDescription', 's', 'APTcc'),
                ('BackendAuthor', 's', 'ntssetup test stand-in'),
                ('Roles', 't', _bitfield(ROLE_CANCEL, ROLE_INSTALL_PACKAGES, ROLE_REMOVE_PACKAGES, ROLE_RESOLVE)),
                ('Groups', 't', 0), ('Filters', 't', _bitfield(FILTER_INSTALLED, FILTER_NOT_INSTALLED)),
                ('MimeTypes', 'as', []), ('Locked', 'b', False), ('NetworkState', 'u', NETWORK_ONLINE),
                ('DistroId', 's', 'debian;12;x86_64')):
            self.add_prop(PK_IFACE, prop, sig, value)

    def log_call(self, obj, name, args):
        obj.record(self.calls, name, args)

    def package_id(self, name):
        data = 'installed' if name in self.installed else REPO
        return f'{name};{self.versions.get(name, "1.0-1")};{ARCH};{data}'

    @staticmethod
    def summary(name):
        return f'{name} (test package)'

    def check_ids(self, package_ids):
        bad = [str(p) for p in package_ids if not _valid_package_id(str(p))]
        if bad or not package_ids:
            raise _dbus_error(ERROR_PACKAGE_ID_INVALID, f"The package id's '{', '.join(bad)}' are not valid")

    def failure_for(self, method):
        return self.failures.get(method)

    def stalls(self, method):
        return method in self.stalled

    def running(self, transaction, on):
        if on:
            self.running_paths.append(transaction.path)
        elif transaction.path in self.running_paths:
            self.running_paths.remove(transaction.path)
        self.TransactionListChanged(dbus.Array(self.running_paths, signature='s'))

    # ---- org.freedesktop.PackageKit

    @dbus.service.method(PK_IFACE, in_signature='', out_signature='o', sender_keyword='sender')
    def CreateTransaction(self, sender=None):
        self.log_call(self, 'CreateTransaction', [])
        self.number += 1
        transaction = Transaction(self, self.number, sender)
        self.transactions[transaction.path] = transaction
        return dbus.ObjectPath(transaction.path)

    @dbus.service.method(PK_IFACE, in_signature='', out_signature='ao')
    def GetTransactionList(self):
        self.log_call(self, 'GetTransactionList', [])
        return dbus.Array(self.running_paths, signature='o')

    @dbus.service.method(PK_IFACE, in_signature='s', out_signature='u')
    def CanAuthorize(self, action_id):
        self.log_call(self, 'CanAuthorize', [action_id])
        return dbus.UInt32(AUTHORIZE_YES)

    @dbus.service.method(PK_IFACE, in_signature='', out_signature='s')
    def GetDaemonState(self):
        self.log_call(self, 'GetDaemonState', [])
        return f'ntssetup PackageKit stand-in: installed={self.installed}'

    @dbus.service.method(PK_IFACE, in_signature='s', out_signature='')
    def StateHasChanged(self, reason):
        self.log_call(self, 'StateHasChanged', [reason])

    @dbus.service.method(PK_IFACE, in_signature='', out_signature='')
    def SuggestDaemonQuit(self):
        self.log_call(self, 'SuggestDaemonQuit', [])

    @dbus.service.signal(PK_IFACE, signature='as')
    def TransactionListChanged(self, transactions):
        pass

    @dbus.service.signal(PK_IFACE, signature='')
    def UpdatesChanged(self):
        pass

    @dbus.service.signal(PK_IFACE, signature='')
    def RepoListChanged(self):
        pass

    # ---- org.ntssetup.Test.PackageKit

    @dbus.service.method(CONTROL_IFACE, in_signature='as', out_signature='')
    def SetInstalled(self, names):
        self.installed = [str(n) for n in names]

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='as')
    def GetInstalled(self):
        return dbus.Array(sorted(self.installed), signature='s')

    @dbus.service.method(CONTROL_IFACE, in_signature='a{sas}', out_signature='')
    def SetAvailable(self, packages):
        self.available = {str(k): [str(x) for x in v] for k, v in packages.items()}

    @dbus.service.method(CONTROL_IFACE, in_signature='sus', out_signature='')
    def SetFail(self, method, error_code, details):
        '''Transaction method <method> emits ErrorCode(code, details) + Finished(failed); code 0 clears'''
        if method not in ('Resolve', 'InstallPackages', 'RemovePackages'):
            raise _dbus_error(ERROR_INVALID_ARGS, f'SetFail: unsupported method {method}')
        if error_code == 0:
            self.failures.pop(str(method), None)
        else:
            self.failures[str(method)] = (int(error_code), str(details))

    @dbus.service.method(CONTROL_IFACE, in_signature='as', out_signature='')
    def SetUntrusted(self, names):
        '''Packages from an unsigned repository (see the "untrusted" parameter)'''
        self.untrusted = [str(n) for n in names]

    @dbus.service.method(CONTROL_IFACE, in_signature='sb', out_signature='')
    def SetStall(self, method, stall):
        '''Transactions of <method> take their role and then never finish until Cancel'''
        if method not in ('Resolve', 'InstallPackages', 'RemovePackages'):
            raise _dbus_error(ERROR_INVALID_ARGS, f'SetStall: unsupported method {method}')
        if stall:
            self.stalled.add(str(method))
        else:
            self.stalled.discard(str(method))

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='a(sav)')
    def GetCalls(self):
        '''Every PackageKit and Transaction method call, in order'''
        return _calls_to_dbus(self.calls)


def load(mock, parameters):
    '''dbusmock entry point: export the daemon object'''
    PackageKit(mock, dict(parameters or {}))
