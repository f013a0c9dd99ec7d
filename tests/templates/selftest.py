#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
'''Self-test for the ntssetup D-Bus stand-ins (polkitd.py, systemd.py, packagekit.py)

Starts a private dbus-daemon configured as a "system" bus, runs each
template on it with `python3 -m dbusmock --system --template <file> -p <json>`
(exactly as the service tests do) and exercises every rule and control
method.  Prints one line per check and "N passed, M failed" at the end; exits
1 on any failure and 77 (meson's "skipped") when dbus-daemon or
python3-dbusmock is missing.

    /usr/bin/python3 tests/templates/selftest.py [-v]

-v also prints the mocks' logs at the end.
'''

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
SYSTEM_PYTHON = '/usr/bin/python3'

try:
    import importlib
    import dbus
    import dbus.mainloop.glib
    from gi.repository import GLib
    importlib.import_module('dbusmock')
except ImportError as import_error:
    # dbusmock/dbus-python are only installed for the system interpreter
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and os.access(SYSTEM_PYTHON, os.X_OK):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print(f'SKIP: {import_error}')
    sys.exit(SKIP)

HERE = os.path.dirname(os.path.abspath(__file__))
VERBOSE = '-v' in sys.argv[1:]

MOCK_IFACE = 'org.freedesktop.DBus.Mock'
PROPS_IFACE = 'org.freedesktop.DBus.Properties'

POLKIT = 'org.freedesktop.PolicyKit1'
AUTHORITY_PATH = '/org/freedesktop/PolicyKit1/Authority'
AUTHORITY_IFACE = 'org.freedesktop.PolicyKit1.Authority'
POLKIT_CONTROL = 'org.ntssetup.Test.Polkit'

SYSTEMD = 'org.freedesktop.systemd1'
MANAGER_PATH = '/org/freedesktop/systemd1'
MANAGER_IFACE = 'org.freedesktop.systemd1.Manager'
UNIT_IFACE = 'org.freedesktop.systemd1.Unit'
SERVICE_IFACE = 'org.freedesktop.systemd1.Service'
SYSTEMD_CONTROL = 'org.ntssetup.Test.Systemd'

PACKAGEKIT = 'org.freedesktop.PackageKit'
PK_PATH = '/org/freedesktop/PackageKit'
PK_IFACE = 'org.freedesktop.PackageKit'
TRANSACTION_IFACE = 'org.freedesktop.PackageKit.Transaction'
PK_CONTROL = 'org.ntssetup.Test.PackageKit'

ALLOWED = 'org.ntssetup.test.allowed'
CHALLENGE = 'org.ntssetup.test.challenge'
POLKIT_PARAMS = {'allowed': [ALLOWED], 'challenge': [CHALLENGE]}
SYSTEMD_PARAMS = {'units': {
    'chrony.service': {'Names': ['chronyd.service'], 'UnitFileState': 'disabled', 'condition_fails': True},
    'systemd-timesyncd.service': {'ActiveState': 'active', 'UnitFileState': 'enabled'},
    'ntpsec.service': {'job_removed_before_reply': True},
}}
PK_PARAMS = {'installed': ['systemd-timesyncd'], 'available': {'chrony': ['systemd-timesyncd']}}

BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
'''


# --------------------------------------------------------------------------
# tiny test harness

class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=''):
        if condition:
            self.passed += 1
            print(f'ok   {name}')
        else:
            self.failed += 1
            print(f'FAIL {name}' + (f': {detail}' if detail else ''))
        return condition

    def equal(self, name, actual, expected):
        return self.check(name, actual == expected, f'got {actual!r}, expected {expected!r}')

    def raises(self, name, error_name, func, *args, **kwargs):
        try:
            result = func(*args, **kwargs)
        except dbus.exceptions.DBusException as e:
            return self.check(name, e.get_dbus_name() == error_name,
                              f'got {e.get_dbus_name()}: {e.get_dbus_message()}, expected {error_name}')
        return self.check(name, False, f'no error (returned {result!r}), expected {error_name}')


R = Results()


def plain(value):
    '''dbus-python values -> plain Python for comparisons'''
    if isinstance(value, dbus.Boolean):
        return bool(value)
    if isinstance(value, (dbus.String, dbus.ObjectPath, dbus.Signature)):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def spin(condition=None, timeout=5.0):
    '''Run the main loop until condition() is true (or for timeout if None)'''
    context = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while context.pending():
            context.iteration(False)
        if condition is not None and condition():
            return True
        time.sleep(0.005)
    while context.pending():
        context.iteration(False)
    return condition() if condition is not None else True


class Async:
    '''An asynchronous call whose reply/error is recorded in events'''

    def __init__(self, method, *args, events=None, **kwargs):
        self.reply = None
        self.error = None
        self.done = False
        self.events = events if events is not None else []
        method(*args, reply_handler=self._reply, error_handler=self._error, timeout=30, **kwargs)

    def _reply(self, *values):
        self.reply = values[0] if len(values) == 1 else values
        self.done = True
        self.events.append(('reply', self.reply))

    def _error(self, error):
        self.error = error
        self.done = True
        self.events.append(('error', error))

    def error_name(self):
        return self.error.get_dbus_name() if self.error is not None else None


# --------------------------------------------------------------------------
# processes

class Environment:
    def __init__(self):
        self.tmpdir = tempfile.mkdtemp(prefix='ntssetup-templates-')
        self.processes = []
        self.logs = []
        self.address = None
        self.env = None

    def start_bus(self):
        config = os.path.join(self.tmpdir, 'system-bus.conf')
        with open(config, 'w', encoding='UTF-8') as f:
            f.write(BUS_CONFIG.format(dir=self.tmpdir))
        log = os.path.join(self.tmpdir, 'dbus-daemon.log')
        with open(log, 'w', encoding='UTF-8') as err:
            bus = subprocess.Popen(['dbus-daemon', f'--config-file={config}', '--nofork', '--print-address=1'],
                                   stdout=subprocess.PIPE, stderr=err, universal_newlines=True)
        self.processes.append(bus)
        self.logs.append(log)
        self.address = bus.stdout.readline().strip()
        if not self.address:
            raise RuntimeError('dbus-daemon did not print an address')
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        return self.address

    def start_template(self, filename, parameters):
        '''The exact command the service tests use'''
        log = os.path.join(self.tmpdir, filename + '.log')
        argv = [SYSTEM_PYTHON, '-m', 'dbusmock', '--system', '--template',
                os.path.join(HERE, filename), '-p', json.dumps(parameters)]
        with open(log, 'w', encoding='UTF-8') as out:
            self.processes.append(subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT))
        self.logs.append(log)

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if VERBOSE or R.failed:
            for log in self.logs:
                print(f'----- {os.path.basename(log)}')
                with open(log, encoding='UTF-8', errors='replace') as f:
                    sys.stdout.write(f.read()[-20000:])
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def wait_for_names(bus, names, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(bus.name_has_owner(n) for n in names):
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------
# polkit

def bus_name_subject(bus):
    return dbus.Struct(('system-bus-name', dbus.Dictionary({'name': bus.get_unique_name()}, signature='sv')),
                       signature='sa{sv}')


def test_polkit(bus, env):
    authority = bus.get_object(POLKIT, AUTHORITY_PATH)
    auth = dbus.Interface(authority, AUTHORITY_IFACE)
    ctl = dbus.Interface(authority, POLKIT_CONTROL)
    subject = bus_name_subject(bus)
    no_details = dbus.Dictionary({}, signature='ss')

    def check(action, flags=0, cancellation_id=''):
        return plain(auth.CheckAuthorization(subject, action, no_details, dbus.UInt32(flags), cancellation_id))

    def last_outcome():
        return str(ctl.GetChecks()[-1][5])

    props = authority.GetAll(AUTHORITY_IFACE, dbus_interface=PROPS_IFACE)
    R.check('polkit: properties BackendName/BackendVersion (s) BackendFeatures (u)',
            isinstance(props.get('BackendName'), dbus.String) and isinstance(props.get('BackendVersion'), dbus.String)
            and isinstance(props.get('BackendFeatures'), dbus.UInt32), repr(props))
    R.check('polkit: introspection lists the properties',
            '<property name="BackendFeatures" type="u"' in authority.Introspect(dbus_interface='org.freedesktop.DBus.Introspectable'))

    R.equal('polkit: allowed action (parameter)', check(ALLOWED), (True, False, {}))
    R.equal('polkit: outcome allowed', last_outcome(), 'allowed')
    R.equal('polkit: challenge action without interaction -> is_challenge', check(CHALLENGE), (False, True, {}))
    R.equal('polkit: outcome challenge', last_outcome(), 'challenge')
    R.equal('polkit: challenge action with AllowUserInteraction -> authorized', check(CHALLENGE, 1), (True, False, {}))
    ctl.SetInteractiveResult(False)
    R.equal('polkit: SetInteractiveResult(false) -> dismissed', check(CHALLENGE, 1),
            (False, False, {'polkit.dismissed': 'true'}))
    R.equal('polkit: outcome denied after dismissal', last_outcome(), 'denied')
    ctl.SetInteractiveResult(True)
    R.equal('polkit: unknown action denied', check('org.ntssetup.test.other'), (False, False, {}))
    R.equal('polkit: outcome denied', last_outcome(), 'denied')

    ctl.SetAllowed(['org.ntssetup.test.other'])
    R.equal('polkit: SetAllowed replaces the set (new allowed)', check('org.ntssetup.test.other')[0], True)
    R.equal('polkit: SetAllowed replaces the set (old gone)', check(ALLOWED)[0], False)
    ctl.SetChallenge([ALLOWED])
    R.equal('polkit: SetChallenge replaces the set', check(ALLOWED), (False, True, {}))
    R.equal('polkit: old challenge action now denied', check(CHALLENGE), (False, False, {}))
    ctl.SetAllowed([ALLOWED])
    R.equal('polkit: allowed wins over challenge', check(ALLOWED), (True, False, {}))
    ctl.SetChallenge([CHALLENGE])

    checks = ctl.GetChecks()
    first = plain(checks[0])
    R.equal('polkit: GetChecks records subject kind/details/action/flags/id/outcome', first,
            ('system-bus-name', {'name': bus.get_unique_name()}, ALLOWED, 0, '', 'allowed'))
    R.check('polkit: GetChecks signature a(sa{sv}suss)', checks.signature == '(sa{sv}suss)', checks.signature)

    # hold / release: answered by the rules in force at release time
    ctl.SetHold(True)
    held = Async(auth.CheckAuthorization, subject, 'org.ntssetup.test.late', no_details, dbus.UInt32(0), '')
    R.check('polkit: held check is pending', spin(lambda: ctl.PendingCount() == 1, 5))
    spin(timeout=0.3)
    R.check('polkit: held check not answered before Release', not held.done)
    R.equal('polkit: held outcome pending', last_outcome(), 'pending')
    ctl.SetAllowed([ALLOWED, 'org.ntssetup.test.late'])
    ctl.Release()
    spin(lambda: held.done, 5)
    R.equal('polkit: Release answers with the rules at release time', plain(held.reply), (True, False, {}))
    R.equal('polkit: outcome after release', last_outcome(), 'allowed')
    R.equal('polkit: PendingCount after Release', int(ctl.PendingCount()), 0)

    # cancellation of a held call
    held = Async(auth.CheckAuthorization, subject, ALLOWED, no_details, dbus.UInt32(1), 'cancel-1')
    spin(lambda: ctl.PendingCount() == 1, 5)
    R.raises('polkit: duplicate cancellation id -> CancellationIdNotUnique',
             'org.freedesktop.PolicyKit1.Error.CancellationIdNotUnique',
             auth.CheckAuthorization, subject, ALLOWED, no_details, dbus.UInt32(1), 'cancel-1')
    auth.CancelCheckAuthorization('cancel-1')
    spin(lambda: held.done, 5)
    R.equal('polkit: cancelled check answered with Error.Cancelled', held.error_name(),
            'org.freedesktop.PolicyKit1.Error.Cancelled')
    R.equal('polkit: outcome cancelled', str(ctl.GetChecks()[-2][5]), 'cancelled')
    R.raises('polkit: cancelling an unknown id -> Error.Failed', 'org.freedesktop.PolicyKit1.Error.Failed',
             auth.CancelCheckAuthorization, 'no-such-id')
    R.equal('polkit: GetCancelled records ids in order', plain(ctl.GetCancelled()), ['cancel-1', 'no-such-id'])

    # error injection, also for held calls (rules at release time)
    held = Async(auth.CheckAuthorization, subject, ALLOWED, no_details, dbus.UInt32(0), '')
    spin(lambda: ctl.PendingCount() == 1, 5)
    ctl.SetHold(False)
    R.check('polkit: SetHold(false) does not release held calls', not spin(lambda: held.done, 0.3))
    ctl.SetError('org.freedesktop.DBus.Error.NoReply')
    ctl.Release()
    spin(lambda: held.done, 5)
    R.equal('polkit: held call released while SetError is active fails', held.error_name(),
            'org.freedesktop.DBus.Error.NoReply')
    R.raises('polkit: SetError makes every check fail', 'org.freedesktop.DBus.Error.NoReply', check, ALLOWED)
    R.equal('polkit: outcome error', last_outcome(), 'error')
    R.raises('polkit: SetError rejects invalid error names', 'org.freedesktop.DBus.Error.InvalidArgs',
             ctl.SetError, 'not an error name')
    ctl.SetError('')
    R.equal('polkit: SetError("") clears', check(ALLOWED)[0], True)

    R.raises('polkit: unknown subject kind -> Error.Failed', 'org.freedesktop.PolicyKit1.Error.Failed',
             auth.CheckAuthorization, dbus.Struct(('bogus', {}), signature='sa{sv}'), ALLOWED, no_details,
             dbus.UInt32(0), '')

    auth.RegisterAuthenticationAgent(subject, 'C', '/org/example/Agent')
    auth.RegisterAuthenticationAgentWithOptions(subject, 'C', '/org/example/Agent',
                                                dbus.Dictionary({'fallback': True}, signature='sv'))
    auth.UnregisterAuthenticationAgent(subject, '/org/example/Agent')
    names = [str(c[0]) for c in ctl.GetCalls()]
    R.check('polkit: agent (un)registration accepted and recorded',
            names[-3:] == ['RegisterAuthenticationAgent', 'RegisterAuthenticationAgentWithOptions',
                           'UnregisterAuthenticationAgent'], repr(names[-3:]))

    mock = dbus.Interface(bus.get_object(POLKIT, '/'), MOCK_IFACE)
    R.check("polkit: dbusmock's call log on / sees CheckAuthorization",
            len(mock.GetMethodCalls('CheckAuthorization')) == names.count('CheckAuthorization'))

    # Reset: back to the parameters, held calls fail
    ctl.SetAllowed([])
    ctl.SetHold(True)
    held = Async(auth.CheckAuthorization, subject, ALLOWED, no_details, dbus.UInt32(0), '')
    spin(lambda: ctl.PendingCount() == 1, 5)
    ctl.Reset()
    spin(lambda: held.done, 5)
    R.equal('polkit: Reset fails held calls', held.error_name(), 'org.freedesktop.PolicyKit1.Error.Failed')
    R.equal('polkit: Reset clears the records', (len(ctl.GetChecks()), len(ctl.GetCancelled())), (0, 0))
    R.equal('polkit: Reset restores the parameter sets and hold=false', check(ALLOWED), (True, False, {}))

    test_polkit_glib_client(env)


POLKIT_CLIENT = r'''
import os, sys, gi
gi.require_version('Polkit', '1.0')
from gi.repository import Gio, Polkit
authority = Polkit.Authority.get_sync(None)
bus = Gio.bus_get_sync(Gio.BusType.SYSTEM)
subject = Polkit.SystemBusName.new(bus.get_unique_name())
flags = Polkit.CheckAuthorizationFlags
out = [authority.get_backend_name()]
for action, flag in ((sys.argv[1], flags.NONE), (sys.argv[2], flags.NONE), (sys.argv[2], flags.ALLOW_USER_INTERACTION),
                     ('org.ntssetup.test.nothing', flags.NONE)):
    r = authority.check_authorization_sync(subject, action, None, flag, None)
    out.append('%d%d' % (r.get_is_authorized(), r.get_is_challenge()))
print(' '.join(out))
'''


def test_polkit_glib_client(env):
    '''libpolkit-gobject's PolkitAuthority against the stand-in: no warnings'''
    try:
        proc = subprocess.run([SYSTEM_PYTHON, '-c', POLKIT_CLIENT, ALLOWED, CHALLENGE], env=env.env,
                              capture_output=True, universal_newlines=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        R.check('polkit: GLib PolkitAuthority client', False, 'timed out')
        return
    if 'Namespace Polkit not available' in proc.stderr or 'No module named' in proc.stderr:
        print('skip polkit: GLib PolkitAuthority client (gir1.2-polkit-1.0 not installed)')
        return
    R.equal('polkit: GLib PolkitAuthority client results', proc.stdout.strip(), 'js 10 01 10 00')
    R.check('polkit: GLib PolkitAuthority client prints no warnings',
            proc.returncode == 0 and not re.search(r'WARNING|CRITICAL', proc.stderr), proc.stderr)


# --------------------------------------------------------------------------
# systemd

def unit_path(name):
    escaped = ''.join(c if c.isalnum() and c.isascii() else f'_{ord(c):02x}' for c in name)
    return f'{MANAGER_PATH}/unit/{escaped}'


def test_systemd(bus):
    manager_obj = bus.get_object(SYSTEMD, MANAGER_PATH)
    manager = dbus.Interface(manager_obj, MANAGER_IFACE)
    ctl = dbus.Interface(manager_obj, SYSTEMD_CONTROL)
    events = []

    def on_job_removed(job_id, job, unit, result):
        events.append(('JobRemoved', int(job_id), str(job), str(unit), str(result)))

    def on_props(iface, changed, _invalidated, path=None):
        events.append(('PropertiesChanged', str(path), str(iface), plain(changed)))

    def on_signal(*args, member=None):
        events.append((str(member),) + tuple(plain(a) for a in args))

    bus.add_signal_receiver(on_job_removed, 'JobRemoved', MANAGER_IFACE, SYSTEMD, MANAGER_PATH)
    bus.add_signal_receiver(on_props, 'PropertiesChanged', PROPS_IFACE, SYSTEMD, path_keyword='path')
    for name in ('UnitFilesChanged', 'Reloading', 'JobNew'):
        bus.add_signal_receiver(on_signal, name, MANAGER_IFACE, SYSTEMD, MANAGER_PATH, member_keyword='member')

    def unit_props(path, iface=UNIT_IFACE):
        return bus.get_object(SYSTEMD, path).GetAll(iface, dbus_interface=PROPS_IFACE)

    def run_job(method, unit, mode='replace'):
        '''Call asynchronously, return (job path, [events in order]) once JobRemoved arrived'''
        del events[:]
        call = Async(getattr(manager, method), unit, mode, events=events)
        spin(lambda: call.done and (call.error is not None or any(e[0] == 'JobRemoved' for e in events)), 5)
        if call.error is not None:
            raise call.error
        return str(call.reply), list(events)

    # GetUnit / LoadUnit / aliases
    R.raises('systemd: GetUnit of a disabled, inactive unit -> NoSuchUnit', 'org.freedesktop.systemd1.NoSuchUnit',
             manager.GetUnit, 'chrony.service')
    R.equal('systemd: GetUnit of an enabled unit', str(manager.GetUnit('systemd-timesyncd.service')),
            f'{MANAGER_PATH}/unit/systemd_2dtimesyncd_2eservice')
    R.equal('systemd: LoadUnit returns the bus-label escaped path', str(manager.LoadUnit('chrony.service')),
            f'{MANAGER_PATH}/unit/chrony_2eservice')
    R.equal('systemd: GetUnit after LoadUnit', str(manager.GetUnit('chrony.service')), unit_path('chrony.service'))
    stub = str(manager.LoadUnit('chronyd.service'))
    R.equal('systemd: alias of a disabled unit does not exist (own not-found unit)',
            (stub, str(unit_props(stub)['LoadState']), str(unit_props(stub)['Id'])),
            (unit_path('chronyd.service'), 'not-found', 'chronyd.service'))
    R.raises('systemd: GetUnitFileState of an inactive alias -> FileNotFound', 'org.freedesktop.DBus.Error.FileNotFound',
             manager.GetUnitFileState, 'chronyd.service')
    R.equal('systemd: GetUnitFileState disabled', str(manager.GetUnitFileState('chrony.service')), 'disabled')
    R.equal('systemd: GetUnitFileState accepts paths',
            str(manager.GetUnitFileState('/lib/systemd/system/systemd-timesyncd.service')), 'enabled')

    del events[:]
    carries, changes = manager.EnableUnitFiles(['chrony.service'], False, False)
    R.equal('systemd: EnableUnitFiles result', (bool(carries), plain(changes)), (True, [
        ('symlink', '/etc/systemd/system/chronyd.service', '/lib/systemd/system/chrony.service'),
        ('symlink', '/etc/systemd/system/multi-user.target.wants/chrony.service', '/lib/systemd/system/chrony.service')]))
    R.check('systemd: EnableUnitFiles emits UnitFilesChanged', spin(lambda: ('UnitFilesChanged',) in events, 2))
    R.equal('systemd: EnableUnitFiles updates UnitFileState', str(manager.GetUnitFileState('chrony.service')), 'enabled')
    R.equal('systemd: enabling again changes nothing', plain(manager.EnableUnitFiles(['chrony.service'], False, False)),
            (True, []))
    R.equal('systemd: LoadUnit(alias) resolves to the real unit', str(manager.LoadUnit('chronyd.service')),
            unit_path('chrony.service'))
    R.equal('systemd: GetUnit(alias) resolves too', str(manager.GetUnit('chronyd.service')), unit_path('chrony.service'))
    props = unit_props(unit_path('chrony.service'))
    R.equal('systemd: Id/Names through the alias', (str(props['Id']), plain(props['Names'])),
            ('chrony.service', ['chrony.service', 'chronyd.service']))
    R.equal('systemd: GetUnitFileState(alias) = alias', str(manager.GetUnitFileState('chronyd.service')), 'alias')
    R.raises('systemd: EnableUnitFiles(alias) -> UnitLinked', 'org.freedesktop.systemd1.UnitLinked',
             manager.EnableUnitFiles, ['chronyd.service'], False, False)
    R.check('systemd: Unit property types', all(isinstance(props[k], t) for k, t in (
        ('ConditionResult', dbus.Boolean), ('DropInPaths', dbus.Array), ('FragmentPath', dbus.String),
        ('ActiveState', dbus.String), ('SubState', dbus.String), ('UnitFileState', dbus.String),
        ('LoadState', dbus.String))), repr(props))
    service = unit_props(unit_path('chrony.service'), SERVICE_IFACE)
    R.check('systemd: Service MainPID (u) ExecMainStatus (i)',
            isinstance(service['MainPID'], dbus.UInt32) and isinstance(service['ExecMainStatus'], dbus.Int32))

    # a start job whose condition fails (Debian chrony.service + ConditionCapability)
    job, seen = run_job('StartUnit', 'chronyd.service')
    R.check('systemd: StartUnit returns a job path', re.match(rf'^{MANAGER_PATH}/job/\d+$', job) is not None, job)
    kinds = [e[0] for e in seen]
    R.check('systemd: default: reply before JobRemoved', kinds.index('reply') < kinds.index('JobRemoved'), repr(kinds))
    removed = [e for e in seen if e[0] == 'JobRemoved'][0]
    R.equal('systemd: JobRemoved(id, job, real unit id, done)', removed[2:], (job, 'chrony.service', 'done'))
    R.equal('systemd: JobRemoved id matches the job path', str(removed[1]), job.rsplit('/', 1)[1])
    props = unit_props(unit_path('chrony.service'))
    R.equal('systemd: condition failure: done but inactive and ConditionResult false',
            (str(props['ActiveState']), str(props['SubState']), bool(props['ConditionResult'])),
            ('inactive', 'dead', False))
    changes = [e[3] for e in seen if e[0] == 'PropertiesChanged' and e[1] == unit_path('chrony.service')]
    R.check('systemd: PropertiesChanged activating then back to inactive before JobRemoved',
            any(c.get('ActiveState') == 'activating' for c in changes)
            and changes[-1].get('ActiveState') == 'inactive'
            and kinds.index('JobRemoved') > max(i for i, e in enumerate(seen) if e[0] == 'PropertiesChanged'),
            repr(seen))

    ctl.AddUnit('chrony.service', {'condition_fails': False})
    job, seen = run_job('StartUnit', 'chrony.service')
    props = unit_props(unit_path('chrony.service'))
    service = unit_props(unit_path('chrony.service'), SERVICE_IFACE)
    R.equal('systemd: successful start -> active/running, ConditionResult true',
            (str(props['ActiveState']), str(props['SubState']), bool(props['ConditionResult'])),
            ('active', 'running', True))
    R.check('systemd: MainPID set while running', int(service['MainPID']) > 0)
    R.equal('systemd: Job property cleared after the job', plain(props['Job']), (0, '/'))

    # JobRemoved before the method reply
    job, seen = run_job('StartUnit', 'ntpsec.service')
    kinds = [e[0] for e in seen]
    R.check('systemd: job_removed_before_reply: JobRemoved before reply',
            'JobRemoved' in kinds and kinds.index('JobRemoved') < kinds.index('reply'), repr(kinds))
    R.equal('systemd: ...and the job path matches the reply', [e for e in seen if e[0] == 'JobRemoved'][0][2], job)

    job, seen = run_job('StopUnit', 'systemd-timesyncd.service')
    props = unit_props(unit_path('systemd-timesyncd.service'))
    R.equal('systemd: StopUnit -> inactive/dead, MainPID 0',
            (str(props['ActiveState']), str(props['SubState']),
             int(unit_props(unit_path('systemd-timesyncd.service'), SERVICE_IFACE)['MainPID'])),
            ('inactive', 'dead', 0))
    job, seen = run_job('RestartUnit', 'systemd-timesyncd.service')
    R.equal('systemd: RestartUnit -> active', str(unit_props(unit_path('systemd-timesyncd.service'))['ActiveState']),
            'active')

    ctl.SetJobResult('ntpsec.service', 'failed')
    job, seen = run_job('RestartUnit', 'ntpsec.service')
    props = unit_props(unit_path('ntpsec.service'))
    R.equal('systemd: SetJobResult(failed): JobRemoved result and failed state',
            ([e for e in seen if e[0] == 'JobRemoved'][0][4], str(props['ActiveState'])), ('failed', 'failed'))
    ctl.SetJobResult('ntpsec.service', 'timeout')
    job, seen = run_job('StartUnit', 'ntpsec.service')
    R.equal('systemd: SetJobResult(timeout)', [e for e in seen if e[0] == 'JobRemoved'][0][4], 'timeout')
    R.raises('systemd: SetJobResult rejects unknown results', 'org.freedesktop.DBus.Error.InvalidArgs',
             ctl.SetJobResult, 'ntpsec.service', 'bogus')
    ctl.SetJobResult('ntpsec.service', 'done')

    # failure injection
    ctl.SetFail('StartUnit', 'chrony.service', 'org.freedesktop.DBus.Error.AccessDenied', 'denied by test')
    R.raises('systemd: SetFail for one unit', 'org.freedesktop.DBus.Error.AccessDenied',
             manager.StartUnit, 'chrony.service', 'replace')
    R.raises('systemd: SetFail matches aliases too', 'org.freedesktop.DBus.Error.AccessDenied',
             manager.StartUnit, 'chronyd.service', 'replace')
    R.check('systemd: SetFail leaves other units alone',
            str(manager.StartUnit('ntpsec.service', 'replace')).startswith(MANAGER_PATH + '/job/'))
    ctl.SetFail('StartUnit', 'chrony.service', '', '')
    R.check('systemd: SetFail with empty error clears',
            str(manager.StartUnit('chrony.service', 'replace')).startswith(MANAGER_PATH + '/job/'))
    ctl.SetFail('EnableUnitFiles', '', 'org.freedesktop.DBus.Error.AccessDenied', '')
    R.raises('systemd: SetFail for any unit', 'org.freedesktop.DBus.Error.AccessDenied',
             manager.EnableUnitFiles, ['ntpsec.service'], False, False)
    ctl.SetFail('EnableUnitFiles', '', '', '')
    ctl.SetFail('Subscribe', '', 'org.freedesktop.DBus.Error.Failed', 'no')
    R.raises('systemd: SetFail for methods without a unit', 'org.freedesktop.DBus.Error.Failed', manager.Subscribe)
    ctl.SetFail('Subscribe', '', '', '')
    spin(timeout=0.2)

    # errors like PID 1
    R.raises('systemd: StartUnit of a missing unit -> NoSuchUnit', 'org.freedesktop.systemd1.NoSuchUnit',
             manager.StartUnit, 'nonexistent.service', 'replace')
    R.raises('systemd: StopUnit of a missing unit -> NoSuchUnit', 'org.freedesktop.systemd1.NoSuchUnit',
             manager.StopUnit, 'nonexistent.service', 'replace')
    R.raises('systemd: EnableUnitFiles of a missing unit -> NoSuchUnit', 'org.freedesktop.systemd1.NoSuchUnit',
             manager.EnableUnitFiles, ['nonexistent.service'], False, False)
    R.raises('systemd: GetUnitFileState of a missing unit -> FileNotFound', 'org.freedesktop.DBus.Error.FileNotFound',
             manager.GetUnitFileState, 'nonexistent.service')
    R.raises('systemd: invalid job mode -> InvalidArgs', 'org.freedesktop.DBus.Error.InvalidArgs',
             manager.StartUnit, 'chrony.service', 'bogus')
    R.raises('systemd: invalid unit name -> InvalidArgs', 'org.freedesktop.DBus.Error.InvalidArgs',
             manager.LoadUnit, 'no suffix')

    manager.Subscribe()
    manager.Unsubscribe()
    R.raises('systemd: Unsubscribe when not subscribed -> NotSubscribed', 'org.freedesktop.systemd1.NotSubscribed',
             manager.Unsubscribe)
    del events[:]
    manager.Reload()
    R.check('systemd: Reload emits Reloading(true), Reloading(false)',
            spin(lambda: [e for e in events if e[0] == 'Reloading'] == [('Reloading', True), ('Reloading', False)], 2),
            repr(events))

    del events[:]
    changes = manager.DisableUnitFiles(['chrony.service'], False)
    R.equal('systemd: DisableUnitFiles result', plain(changes), [
        ('unlink', '/etc/systemd/system/chronyd.service', ''),
        ('unlink', '/etc/systemd/system/multi-user.target.wants/chrony.service', '')])
    R.equal('systemd: disabled again', str(manager.GetUnitFileState('chrony.service')), 'disabled')
    R.equal('systemd: alias gone after disable', str(manager.LoadUnit('chronyd.service')), unit_path('chronyd.service'))
    R.raises('systemd: ...and its unit file state too', 'org.freedesktop.DBus.Error.FileNotFound',
             manager.GetUnitFileState, 'chronyd.service')

    ctl.AddUnit('chrony.service', {'alias_needs_enable': False})
    R.equal('systemd: alias_needs_enable=false: alias resolves while disabled', str(manager.GetUnit('chronyd.service')),
            unit_path('chrony.service'))
    ctl.AddUnit('chrony.service', {'alias_needs_enable': True})

    del events[:]
    ctl.AddUnit('systemd-timesyncd.service', {'ActiveState': 'failed'})
    R.check('systemd: AddUnit on an existing unit emits PropertiesChanged',
            spin(lambda: any(e[0] == 'PropertiesChanged' and e[3].get('ActiveState') == 'failed' for e in events), 2))
    ctl.AddUnit('openntpd.service', {'ActiveState': 'active', 'UnitFileState': 'enabled', 'DropInPaths':
                                     dbus.Array(['/etc/systemd/system/openntpd.service.d/x.conf'], signature='s')})
    R.equal('systemd: AddUnit creates units', plain(unit_props(str(manager.GetUnit('openntpd.service')))['DropInPaths']),
            ['/etc/systemd/system/openntpd.service.d/x.conf'])
    R.raises('systemd: AddUnit rejects unknown keys', 'org.freedesktop.DBus.Error.InvalidArgs',
             ctl.AddUnit, 'openntpd.service', {'Bogus': True})
    state = ctl.GetUnitState('chronyd.service')
    R.equal('systemd: GetUnitState via an alias', (str(state['Id']), str(state['UnitFileState']), plain(state['Aliases'])),
            ('chrony.service', 'disabled', ['chronyd.service']))

    calls = ctl.GetManagerCalls()
    names = [str(c[0]) for c in calls]
    R.equal('systemd: GetManagerCalls records in order', names[:4], ['GetUnit', 'GetUnit', 'LoadUnit', 'GetUnit'])
    start = [plain(c[1]) for c in calls if c[0] == 'StartUnit'][0]
    R.equal('systemd: GetManagerCalls arguments', start, ['chronyd.service', 'replace'])
    R.check('systemd: GetManagerCalls covers Enable/Disable/Subscribe/Reload',
            {'EnableUnitFiles', 'DisableUnitFiles', 'Subscribe', 'Unsubscribe', 'Reload', 'GetUnitFileState',
             'StopUnit', 'RestartUnit'} <= set(names))
    mock = dbus.Interface(bus.get_object(SYSTEMD, '/'), MOCK_IFACE)
    R.equal("systemd: dbusmock's call log on / sees StartUnit", len(mock.GetMethodCalls('StartUnit')),
            names.count('StartUnit'))
    ctl.ClearManagerCalls()
    R.equal('systemd: ClearManagerCalls', len(ctl.GetManagerCalls()), 0)

    # Mock.Reset re-creates the template state; AddTemplate takes a{sv} parameters
    mock.Reset()
    R.equal('systemd: Mock.Reset restores the parameter units',
            str(ctl.GetUnitState('chrony.service')['UnitFileState']), 'disabled')
    R.raises('systemd: Mock.Reset drops added units', 'org.freedesktop.DBus.Error.InvalidArgs',
             ctl.GetUnitState, 'openntpd.service')
    mock.AddTemplate(os.path.join(HERE, 'systemd.py'),
                     dbus.Dictionary({'units': json.dumps({'foo.service': {'ActiveState': 'active'}}),
                                      'job_delay_ms': dbus.UInt32(5)}, signature='sv'))
    R.equal('systemd: AddTemplate with units as a JSON string', str(manager.GetUnit('foo.service')),
            unit_path('foo.service'))


# --------------------------------------------------------------------------
# PackageKit

def test_packagekit(bus):
    pk_obj = bus.get_object(PACKAGEKIT, PK_PATH)
    pk = dbus.Interface(pk_obj, PK_IFACE)
    ctl = dbus.Interface(pk_obj, PK_CONTROL)
    simulate = dbus.UInt64(1 << 2)

    props = pk_obj.GetAll(PK_IFACE, dbus_interface=PROPS_IFACE)
    R.check('packagekit: daemon property types', isinstance(props['VersionMajor'], dbus.UInt32)
            and isinstance(props['Roles'], dbus.UInt64) and isinstance(props['Locked'], dbus.Boolean), repr(props))

    def transaction():
        path = str(pk.CreateTransaction())
        return path, dbus.Interface(bus.get_object(PACKAGEKIT, path), TRANSACTION_IFACE)

    def run(method, *args):
        '''Run one transaction method; return (Package list, ErrorCode list, Finished exit)'''
        path, tx = transaction()
        got = {'package': [], 'error': [], 'finished': None}
        receivers = [
            bus.add_signal_receiver(lambda i, p, s: got['package'].append((int(i), str(p))), 'Package',
                                    TRANSACTION_IFACE, PACKAGEKIT, path),
            bus.add_signal_receiver(lambda c, d: got['error'].append((int(c), str(d))), 'ErrorCode',
                                    TRANSACTION_IFACE, PACKAGEKIT, path),
            bus.add_signal_receiver(lambda e, r: got.__setitem__('finished', int(e)), 'Finished',
                                    TRANSACTION_IFACE, PACKAGEKIT, path)]
        try:
            tx.SetHints(['locale=C', 'interactive=false'])
            getattr(tx, method)(*args)
            spin(lambda: got['finished'] is not None, 5)
        finally:
            for receiver in receivers:
                receiver.remove()
        return got['package'], got['error'], got['finished']

    path, tx = transaction()
    R.check('packagekit: CreateTransaction path like packagekitd', re.match(r'^/\d+_[0-9a-f]{8}$', path) is not None, path)
    tx_props = bus.get_object(PACKAGEKIT, path).GetAll(TRANSACTION_IFACE, dbus_interface=PROPS_IFACE)
    R.check('packagekit: transaction property types', isinstance(tx_props['Role'], dbus.UInt32)
            and isinstance(tx_props['TransactionFlags'], dbus.UInt64), repr(tx_props))
    tx.Resolve(dbus.UInt64(0), ['chrony'])
    R.raises('packagekit: second role on one transaction -> TransactionExistsWithRole',
             'org.freedesktop.PackageKit.Transaction.TransactionExistsWithRole', tx.Resolve, dbus.UInt64(0), ['chrony'])

    chrony = 'chrony;4.3-2+deb12u1;amd64;debian-bookworm-main'
    timesyncd = 'systemd-timesyncd;252.39-1~deb12u2;amd64;installed'
    R.equal('packagekit: Resolve -> Package(available/installed) + Finished(success)',
            run('Resolve', dbus.UInt64(1 << 1), ['chrony', 'systemd-timesyncd', 'nonexistent']),
            ([(2, chrony), (1, timesyncd)], [], 1))
    R.equal('packagekit: Resolve honours the installed filter',
            run('Resolve', dbus.UInt64(1 << 2), ['chrony', 'systemd-timesyncd'])[0], [(1, timesyncd)])
    R.equal('packagekit: Resolve honours ~installed', run('Resolve', dbus.UInt64(1 << 3), ['chrony', 'systemd-timesyncd'])[0],
            [(2, chrony)])

    R.equal('packagekit: simulated install lists the removal of systemd-timesyncd (info removing=13)',
            run('InstallPackages', simulate, [chrony]), ([(12, chrony), (13, timesyncd)], [], 1))
    R.equal('packagekit: simulation changes nothing', plain(ctl.GetInstalled()), ['systemd-timesyncd'])
    R.equal('packagekit: real install', run('InstallPackages', dbus.UInt64(0), [chrony]),
            ([(12, chrony), (13, timesyncd)], [], 1))
    R.equal('packagekit: install flips the installed state', plain(ctl.GetInstalled()), ['chrony'])
    R.equal('packagekit: installing again -> ErrorCode(all already installed) + Finished(failed)',
            run('InstallPackages', dbus.UInt64(0), [chrony]),
            ([], [(41, 'The packages are already all installed')], 2))
    R.equal('packagekit: unknown package -> ErrorCode(package-not-found)',
            run('InstallPackages', dbus.UInt64(0), ['foo;1;amd64;x'])[1:],
            ([(8, "Couldn't find the package 'foo'.")], 2))
    _path, tx = transaction()
    R.raises('packagekit: bare names are not package ids -> PackageIdInvalid',
             'org.freedesktop.PackageKit.Transaction.PackageIdInvalid', tx.InstallPackages, dbus.UInt64(0), ['chrony'])

    R.equal('packagekit: removing a package that is not installed -> ErrorCode(7)',
            run('RemovePackages', dbus.UInt64(0), [timesyncd], False, False)[1:],
            ([(7, 'The package systemd-timesyncd is not installed')], 2))
    ctl.SetInstalled(['systemd-timesyncd', 'chrony'])
    R.equal('packagekit: SetInstalled/GetInstalled', plain(ctl.GetInstalled()), ['chrony', 'systemd-timesyncd'])
    R.equal('packagekit: simulated removal', run('RemovePackages', simulate, [timesyncd], False, False),
            ([(13, timesyncd)], [], 1))
    R.equal('packagekit: simulated removal changes nothing', len(ctl.GetInstalled()), 2)
    run('RemovePackages', dbus.UInt64(0), [timesyncd], True, False)
    R.equal('packagekit: removal', plain(ctl.GetInstalled()), ['chrony'])

    ctl.SetAvailable({'ntpsec': ['chrony', 'systemd-timesyncd']})
    R.equal('packagekit: SetAvailable replaces the repository', run('Resolve', dbus.UInt64(0), ['ntpsec', 'openntpd'])[0],
            [(2, 'ntpsec;1.2.2+dfsg1-1+deb12u1;amd64;debian-bookworm-main')])
    R.equal('packagekit: SetAvailable conflicts are removed on install',
            run('InstallPackages', simulate, ['ntpsec;1;amd64;debian'])[0],
            [(12, 'ntpsec;1.2.2+dfsg1-1+deb12u1;amd64;debian-bookworm-main'),
             (13, 'chrony;4.3-2+deb12u1;amd64;installed')])

    ctl.SetFail('InstallPackages', dbus.UInt32(36), 'conflict injected')
    R.equal('packagekit: SetFail -> ErrorCode + Finished(failed)', run('InstallPackages', simulate, ['ntpsec;1;amd64;x']),
            ([], [(36, 'conflict injected')], 2))
    ctl.SetFail('InstallPackages', dbus.UInt32(0), '')
    R.equal('packagekit: SetFail(..., 0, "") clears', run('InstallPackages', simulate, ['ntpsec;1;amd64;x'])[2], 1)
    ctl.SetFail('Resolve', dbus.UInt32(2), 'offline')
    R.equal('packagekit: SetFail(Resolve)', run('Resolve', dbus.UInt64(0), ['ntpsec'])[1:], ([(2, 'offline')], 2))
    ctl.SetFail('Resolve', dbus.UInt32(0), '')

    ntpsec = 'ntpsec;1.2.2+dfsg1-1+deb12u1;amd64;debian-bookworm-main'
    ctl.SetUntrusted(['ntpsec'])
    # packagekitd's apt backend checks trust only when it installs (tests/system/test-packagekit.sh)
    R.equal('packagekit: untrusted, ONLY_TRUSTED|SIMULATE -> the changes listed, Finished(success)',
            run('InstallPackages', dbus.UInt64((1 << 1) | (1 << 2)), [ntpsec]),
            ([(12, ntpsec), (13, 'chrony;4.3-2+deb12u1;amd64;installed')], [], 1))
    R.equal('packagekit: untrusted, ONLY_TRUSTED -> refused, nothing installed',
            (run('InstallPackages', dbus.UInt64(1 << 1), [ntpsec])[2], plain(ctl.GetInstalled())), (8, ['chrony']))
    R.equal('packagekit: untrusted without ONLY_TRUSTED installs (simulated)',
            run('InstallPackages', simulate, [ntpsec])[1:], ([], 1))
    ctl.SetUntrusted(dbus.Array([], signature='s'))

    ctl.SetStall('Resolve', True)
    path, tx = transaction()
    stalled = []
    receiver = bus.add_signal_receiver(lambda e, r: stalled.append(int(e)), 'Finished', TRANSACTION_IFACE,
                                       PACKAGEKIT, path)
    tx.Resolve(dbus.UInt64(0), ['ntpsec'])
    R.equal('packagekit: SetStall: a later transaction finishes, the stalled one does not',
            (run('RemovePackages', simulate, ['chrony;1;amd64;installed'], False, False)[2], stalled), (1, []))
    tx.Cancel()
    R.check('packagekit: Cancel ends a stalled transaction with Finished(cancelled)',
            spin(lambda: stalled == [3], 5), repr(stalled))
    receiver.remove()
    ctl.SetStall('Resolve', False)
    R.raises('packagekit: SetStall of an unknown method -> InvalidArgs', 'org.freedesktop.DBus.Error.InvalidArgs',
             ctl.SetStall, 'Frobnicate', True)

    path, tx = transaction()
    R.raises('packagekit: Cancel before the transaction runs -> NotRunning',
             'org.freedesktop.PackageKit.Transaction.NotRunning', tx.Cancel)
    destroyed = []
    bus.add_signal_receiver(lambda: destroyed.append(True), 'Destroy', TRANSACTION_IFACE, PACKAGEKIT, path)
    tx.Resolve(dbus.UInt64(0), ['ntpsec'])
    R.check('packagekit: Destroy after Finished', spin(lambda: destroyed, 5))

    calls = [(str(n), plain(a)) for n, a in ctl.GetCalls()]
    R.equal('packagekit: GetCalls records CreateTransaction, SetHints, methods in order', calls[:3],
            [('CreateTransaction', []), ('Resolve', [0, ['chrony']]), ('Resolve', [0, ['chrony']])])
    R.check('packagekit: GetCalls includes InstallPackages with flags and ids',
            ('InstallPackages', [4, [chrony]]) in calls and ('SetHints', [['locale=C', 'interactive=false']]) in calls)


PK_CLIENT = r'''
import gi
gi.require_version('PackageKitGlib', '1.0')
from gi.repository import PackageKitGlib as Pk
client = Pk.Client()
ids = [p.get_id() for p in client.resolve(1 << 1, ['chrony'], None, lambda *a: None, None).get_package_array()]
res = client.install_packages(Pk.transaction_flag_bitfield_from_string('simulate'), ids, None, lambda *a: None, None)
print(' '.join('%s:%s' % (Pk.info_enum_to_string(p.get_info()), p.get_name()) for p in res.get_package_array()))
'''


def test_packagekit_glib_client(env):
    '''libpackagekit-glib2's PkClient against a fresh stand-in'''
    try:
        proc = subprocess.run([SYSTEM_PYTHON, '-c', PK_CLIENT], env=env.env, capture_output=True,
                              universal_newlines=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        R.check('packagekit: GLib PkClient', False, 'timed out')
        return
    if 'Namespace PackageKitGlib not available' in proc.stderr:
        print('skip packagekit: GLib PkClient (gir1.2-packagekitglib-1.0 not installed)')
        return
    R.equal('packagekit: GLib PkClient simulate shows the removal', proc.stdout.strip(),
            'installing:chrony removing:systemd-timesyncd')
    R.check('packagekit: GLib PkClient prints no warnings',
            proc.returncode == 0 and not re.search(r'WARNING|CRITICAL', proc.stderr), proc.stderr)


# --------------------------------------------------------------------------

def main():
    if shutil.which('dbus-daemon') is None:
        print('SKIP: dbus-daemon not found')
        return SKIP
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    env = Environment()
    try:
        address = env.start_bus()
        env.start_template('polkitd.py', POLKIT_PARAMS)
        env.start_template('systemd.py', SYSTEMD_PARAMS)
        env.start_template('packagekit.py', PK_PARAMS)
        bus = dbus.bus.BusConnection(address)
        if not R.check('all three templates own their bus names', wait_for_names(bus, (POLKIT, SYSTEMD, PACKAGEKIT))):
            return 1
        for name, func in (('polkit', lambda: test_polkit(bus, env)), ('systemd', lambda: test_systemd(bus)),
                           ('packagekit', lambda: test_packagekit(bus))):
            try:
                func()
            except Exception as e:  # pylint: disable=broad-except
                import traceback  # pylint: disable=import-outside-toplevel
                traceback.print_exc()
                R.check(f'{name}: ran to completion', False, repr(e))
        # the GLib client needs the initial package state: restart the stand-in
        ctl = dbus.Interface(bus.get_object(PACKAGEKIT, PK_PATH), PK_CONTROL)
        ctl.SetInstalled(PK_PARAMS['installed'])
        ctl.SetAvailable(PK_PARAMS['available'])
        test_packagekit_glib_client(env)
        bus.close()
    finally:
        env.stop()
    print(f'{R.passed} passed, {R.failed} failed')
    return 1 if R.failed else 0


if __name__ == '__main__':
    sys.exit(main())
