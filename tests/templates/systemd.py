# SPDX-License-Identifier: GPL-2.0-or-later
'''systemd (PID 1 manager) stand-in for the ntssetup tests (python-dbusmock local template)

Start it on the private "system" bus (DBUS_SYSTEM_BUS_ADDRESS) with

    /usr/bin/python3 -m dbusmock --system --template tests/templates/systemd.py -p '{"units": {
        "chrony.service": {"Names": ["chronyd.service"], "UnitFileState": "disabled",
                           "condition_fails": true},
        "systemd-timesyncd.service": {"ActiveState": "active", "UnitFileState": "enabled"}}}'

Bus name org.freedesktop.systemd1.  /org/freedesktop/systemd1 carries the
real org.freedesktop.systemd1.Manager interface AND the test control
interface org.ntssetup.Test.Systemd.  Units live at
/org/freedesktop/systemd1/unit/<bus label escaped name> (chrony_2eservice) with
org.freedesktop.systemd1.Unit (+ org.freedesktop.systemd1.Service for
*.service); jobs at /org/freedesktop/systemd1/job/<N> while they run.
dbusmock's own object (org.freedesktop.DBus.Mock) sits at "/"; its call log
also receives every Manager call.

Template parameters (all optional):
  units        {name: {property: value}} -- or the same as a JSON string (handy
               when the parameters travel as a{sv} through Mock.AddTemplate);
               keys as for AddUnit(), see README.md
  job_delay_ms how long a job runs before JobRemoved (default 20)
'''

import os
import re
import json
import sys

import dbus
import dbus.service
from gi.repository import GLib

from dbusmock import mockobject

BUS_NAME = 'org.freedesktop.systemd1'
# dbusmock's generic mock object; the real objects are registered in load()
MAIN_OBJ = '/'
MAIN_IFACE = mockobject.MOCK_IFACE
SYSTEM_BUS = True

MANAGER_PATH = '/org/freedesktop/systemd1'
MANAGER_IFACE = 'org.freedesktop.systemd1.Manager'
UNIT_IFACE = 'org.freedesktop.systemd1.Unit'
SERVICE_IFACE = 'org.freedesktop.systemd1.Service'
JOB_IFACE = 'org.freedesktop.systemd1.Job'
CONTROL_IFACE = 'org.ntssetup.Test.Systemd'

ERROR_NO_SUCH_UNIT = 'org.freedesktop.systemd1.NoSuchUnit'
ERROR_UNIT_MASKED = 'org.freedesktop.systemd1.UnitMasked'
ERROR_LOAD_FAILED = 'org.freedesktop.systemd1.LoadFailed'
ERROR_UNIT_LINKED = 'org.freedesktop.systemd1.UnitLinked'
ERROR_NOT_SUBSCRIBED = 'org.freedesktop.systemd1.NotSubscribed'
ERROR_FILE_NOT_FOUND = 'org.freedesktop.DBus.Error.FileNotFound'
ERROR_INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'

JOB_MODES = ('replace', 'fail', 'isolate', 'ignore-dependencies', 'ignore-requirements',
             'flush', 'replace-irreversibly', 'triggering', 'restart-dependencies')
JOB_RESULTS = ('done', 'canceled', 'timeout', 'failed', 'dependency', 'skipped', 'invalid',
               'assert', 'unsupported', 'collected', 'once', 'frozen')
UNIT_NAME_RE = re.compile(r'^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|device|mount|automount|'
                          r'swap|timer|path|slice|scope)$')
DEFAULT_SUB_STATE = {'active': 'running', 'inactive': 'dead', 'failed': 'failed',
                     'activating': 'start', 'deactivating': 'stop', 'reloading': 'reload',
                     'maintenance': 'dead'}
ENABLED_STATES = ('enabled', 'enabled-runtime')
UNIT_DIR = '/lib/systemd/system'   # Debian 12 ships units here


# helpers shared by the ntssetup templates live in _stand_in_common.py next
# to this file (not a template); dbusmock exec()s a template by path, so
# put this directory on sys.path first

_TEMPLATE_DIR = os.path.dirname(os.path.abspath(__file__))
if _TEMPLATE_DIR not in sys.path:
    sys.path.insert(0, _TEMPLATE_DIR)

# pylint: disable-next=wrong-import-position
from _stand_in_common import _dbus_error, _check_error_name, _typed, _calls_to_dbus, _Exported, _unexport  # noqa: E402


# --------------------------------------------------------------------------

def bus_label_escape(name):
    '''systemd's bus_label_escape(): chrony.service -> chrony_2eservice'''
    if not name:
        return '_'
    out = []
    for i, ch in enumerate(name):
        if ch.isascii() and (ch.isalpha() or (i > 0 and ch.isdigit())):
            out.append(ch)
        else:
            out.extend(f'_{b:02x}' for b in ch.encode())
    return ''.join(out)


def _check_unit_name(name):
    if len(name) > 255 or not UNIT_NAME_RE.match(name):
        raise _dbus_error(ERROR_INVALID_ARGS, f'Unit name {name} is not valid.')


def _as_bool(value):
    if isinstance(value, str):
        return value.lower() in ('1', 'true', 'yes', 'on')
    return bool(value)


# AddUnit()/parameter keys -> converter
UNIT_KEYS = {
    'Names': lambda v: [str(x) for x in v],
    'Aliases': lambda v: [str(x) for x in v],
    'Description': str,
    'LoadState': str,
    'ActiveState': str,
    'SubState': str,
    'UnitFileState': str,
    'FragmentPath': str,
    'DropInPaths': lambda v: [str(x) for x in v],
    'ConditionResult': _as_bool,
    'MainPID': int,
    'ExecMainStatus': int,
    'Result': str,
    'Loaded': _as_bool,
    'WantedBy': str,
    'condition_fails': _as_bool,
    'job_removed_before_reply': _as_bool,
    'alias_needs_enable': _as_bool,
    'has_install': _as_bool,
    'job_result': str,
    'job_delay_ms': int,
}


class Job(_Exported):
    '''/org/freedesktop/systemd1/job/N, exported while the job exists'''

    def __init__(self, manager, job_id, unit, job_type):
        _Exported.__init__(self, manager.mock, f'{MANAGER_PATH}/job/{job_id}')
        self.manager = manager
        self.id = job_id
        self.unit = unit
        self.type = job_type
        self.before = (unit.prop('ActiveState'), unit.prop('SubState'))
        self.finished = False
        self.timer = 0
        self.add_prop(JOB_IFACE, 'Id', 'u', job_id)
        self.add_prop(JOB_IFACE, 'Unit', '(so)', (unit.id, dbus.ObjectPath(unit.path)))
        self.add_prop(JOB_IFACE, 'JobType', 's', job_type)
        self.add_prop(JOB_IFACE, 'State', 's', 'waiting')

    @dbus.service.method(JOB_IFACE, in_signature='', out_signature='')
    def Cancel(self):
        self.manager.finish_job(self, 'canceled')


class Unit(_Exported):
    '''/org/freedesktop/systemd1/unit/<escaped id>'''

    def __init__(self, manager, name, config, stub=False):
        _Exported.__init__(self, manager.mock, f'{MANAGER_PATH}/unit/{bus_label_escape(name)}')
        self.manager = manager
        self.id = name
        self.stub = stub
        self.aliases = []
        self.alias_needs_enable = True
        self.condition_fails = False
        self.job_removed_before_reply = False
        self.job_result = 'done'
        self.job_delay_ms = manager.job_delay_ms
        self.wanted_by = 'multi-user.target'
        self.has_install = True
        self.loaded = False
        self.job = None
        self.is_service = name.endswith('.service')

        self.add_prop(UNIT_IFACE, 'Id', 's', name)
        self.add_prop(UNIT_IFACE, 'Names', 'as', [name])
        self.add_prop(UNIT_IFACE, 'Following', 's', '')
        self.add_prop(UNIT_IFACE, 'Description', 's', name)
        self.add_prop(UNIT_IFACE, 'LoadState', 's', 'not-found' if stub else 'loaded')
        self.add_prop(UNIT_IFACE, 'ActiveState', 's', 'inactive')
        self.add_prop(UNIT_IFACE, 'SubState', 's', 'dead')
        self.add_prop(UNIT_IFACE, 'FragmentPath', 's', '' if stub else f'{UNIT_DIR}/{name}')
        self.add_prop(UNIT_IFACE, 'DropInPaths', 'as', [])
        self.add_prop(UNIT_IFACE, 'UnitFileState', 's', '' if stub else 'disabled')
        self.add_prop(UNIT_IFACE, 'UnitFilePreset', 's', '' if stub else 'enabled')
        self.add_prop(UNIT_IFACE, 'ConditionResult', 'b', True)
        self.add_prop(UNIT_IFACE, 'AssertResult', 'b', True)
        self.add_prop(UNIT_IFACE, 'CanStart', 'b', not stub)
        self.add_prop(UNIT_IFACE, 'CanStop', 'b', not stub)
        self.add_prop(UNIT_IFACE, 'CanReload', 'b', False)
        self.add_prop(UNIT_IFACE, 'Job', '(uo)', (0, dbus.ObjectPath('/')))
        if self.is_service:
            self.add_prop(SERVICE_IFACE, 'Type', 's', 'forking')
            self.add_prop(SERVICE_IFACE, 'Result', 's', 'success')
            self.add_prop(SERVICE_IFACE, 'MainPID', 'u', 0)
            self.add_prop(SERVICE_IFACE, 'ControlPID', 'u', 0)
            self.add_prop(SERVICE_IFACE, 'ExecMainCode', 'i', 0)
            self.add_prop(SERVICE_IFACE, 'ExecMainStatus', 'i', 0)
            self.add_prop(SERVICE_IFACE, 'NRestarts', 'u', 0)
        if config is not None:
            self.configure(config, initial=True)

    def prop(self, name):
        for iface in (UNIT_IFACE, SERVICE_IFACE):
            if name in self.props.get(iface, {}):
                return self.props[iface][name]
        return None

    def set_state(self, unit_props=None, service_props=None):
        '''Update properties, emitting PropertiesChanged like systemd'''
        if unit_props:
            self.update_props(UNIT_IFACE, unit_props)
        if service_props and self.is_service:
            self.update_props(SERVICE_IFACE, service_props)

    @property
    def unit_file_state(self):
        return str(self.prop('UnitFileState'))

    @property
    def load_state(self):
        return str(self.prop('LoadState'))

    @property
    def active_state(self):
        return str(self.prop('ActiveState'))

    def enabled(self):
        return self.unit_file_state in ENABLED_STATES

    def active_aliases(self):
        if self.alias_needs_enable and not self.enabled():
            return []
        return list(self.aliases)

    def refresh_names(self):
        self.props[UNIT_IFACE]['Names'] = _typed('as', [self.id] + self.active_aliases())

    def configure(self, config, initial=False):
        '''Apply AddUnit()/parameter keys'''
        values = {}
        for key, value in dict(config).items():
            key = str(key)
            if key not in UNIT_KEYS:
                raise _dbus_error(ERROR_INVALID_ARGS, f'Unknown unit setting {key} for {self.id}')
            try:
                values[key] = UNIT_KEYS[key](value)
            except (TypeError, ValueError) as e:
                raise _dbus_error(ERROR_INVALID_ARGS, f'Bad value for {key}: {e}') from e

        if 'Names' in values:
            self.aliases = [n for n in values.pop('Names') if n != self.id]
        if 'Aliases' in values:
            self.aliases = [n for n in values.pop('Aliases') if n != self.id]
        for name in self.aliases:
            _check_unit_name(name)
        for key, attr in (('alias_needs_enable', 'alias_needs_enable'), ('condition_fails', 'condition_fails'),
                          ('job_removed_before_reply', 'job_removed_before_reply'), ('has_install', 'has_install'),
                          ('job_delay_ms', 'job_delay_ms'), ('WantedBy', 'wanted_by')):
            if key in values:
                setattr(self, attr, values.pop(key))
        if 'job_result' in values:
            self.set_job_result(values.pop('job_result'))
        loaded = values.pop('Loaded', None)

        unit_props = {k: values.pop(k) for k in list(values) if k in self.props[UNIT_IFACE]}
        service_props = values   # MainPID, ExecMainStatus, Result
        if 'ActiveState' in unit_props and 'SubState' not in unit_props:
            unit_props['SubState'] = DEFAULT_SUB_STATE.get(unit_props['ActiveState'], 'dead')
        if unit_props.get('UnitFileState') == 'masked' and 'LoadState' not in unit_props:
            unit_props['LoadState'] = 'masked'
        if unit_props.get('LoadState') == 'masked' and 'FragmentPath' not in unit_props:
            unit_props['FragmentPath'] = '/dev/null'
        if unit_props.get('LoadState') == 'not-found' and 'FragmentPath' not in unit_props:
            unit_props['FragmentPath'] = ''
        if self.is_service and 'MainPID' not in service_props and 'ActiveState' in unit_props:
            service_props['MainPID'] = self.manager.new_pid() if unit_props['ActiveState'] == 'active' else 0
        if not self.is_service and service_props:
            raise _dbus_error(ERROR_INVALID_ARGS, f'{", ".join(service_props)}: {self.id} is not a service')

        if initial:
            for k, v in unit_props.items():
                self.props[UNIT_IFACE][k] = _typed(self.prop_sigs[UNIT_IFACE][k], v)
            for k, v in service_props.items():
                self.props[SERVICE_IFACE][k] = _typed(self.prop_sigs[SERVICE_IFACE][k], v)
        else:
            self.set_state(unit_props, service_props)
        self.refresh_names()

        if loaded is not None:
            self.loaded = loaded
        elif initial:
            # like PID 1 after boot: enabled or running units are in memory,
            # disabled+inactive ones only after LoadUnit()/StartUnit()
            self.loaded = self.enabled() or self.active_state != 'inactive'

    def set_job_result(self, result):
        if result not in JOB_RESULTS:
            raise _dbus_error(ERROR_INVALID_ARGS, f'Unknown job result {result}')
        self.job_result = result

    def state(self):
        '''Everything for GetUnitState()'''
        result = {}
        for props in self.props.values():
            result.update(props)
        result.update({
            'Path': dbus.ObjectPath(self.path),
            'Aliases': dbus.Array(self.aliases, signature='s'),
            'Loaded': dbus.Boolean(self.loaded),
            'Stub': dbus.Boolean(self.stub),
            'WantedBy': dbus.String(self.wanted_by),
            'condition_fails': dbus.Boolean(self.condition_fails),
            'job_removed_before_reply': dbus.Boolean(self.job_removed_before_reply),
            'alias_needs_enable': dbus.Boolean(self.alias_needs_enable),
            'has_install': dbus.Boolean(self.has_install),
            'job_result': dbus.String(self.job_result),
            'job_delay_ms': dbus.UInt32(self.job_delay_ms),
        })
        return dbus.Dictionary(result, signature='sv')


class Manager(_Exported):
    '''/org/freedesktop/systemd1: Manager interface + test control'''

    def __init__(self, mock, parameters):
        _Exported.__init__(self, mock, MANAGER_PATH)
        self.job_delay_ms = int(parameters.get('job_delay_ms', 20))
        self.units = {}        # id -> Unit (configured units)
        self.stubs = {}        # name -> Unit with LoadState not-found (from LoadUnit)
        self.failures = {}     # (method, unit) -> (error name, message)
        self.subscribers = {}  # sender -> count
        self.calls = []
        self.next_job_id = 1
        self.next_pid = 4000
        self.add_prop(MANAGER_IFACE, 'Version', 's', '252.39-1~deb12u2')
        self.add_prop(MANAGER_IFACE, 'Features', 's', '+PAM +AUDIT +SELINUX +SECCOMP')
        self.add_prop(MANAGER_IFACE, 'Architecture', 's', 'x86-64')
        self.add_prop(MANAGER_IFACE, 'Virtualization', 's', '')
        self.add_prop(MANAGER_IFACE, 'SystemState', 's', 'running')
        self.add_prop(MANAGER_IFACE, 'NNames', 'u', 0)
        self.add_prop(MANAGER_IFACE, 'NJobs', 'u', 0)

        units = parameters.get('units', {})
        if isinstance(units, str):
            units = json.loads(units)
        for name, config in dict(units).items():
            self.add_unit(str(name), config or {})

    def new_pid(self):
        self.next_pid += 1
        return self.next_pid

    # ---- unit table

    def add_unit(self, name, config):
        _check_unit_name(name)
        unit = self.units.get(name)
        if unit is None:
            self.drop_stub(name)
            unit = Unit(self, name, config)
            self.units[name] = unit
        else:
            unit.configure(config)
        for alias in unit.active_aliases():
            self.drop_stub(alias)
        self.count_names()
        return unit

    def drop_stub(self, name):
        stub = self.stubs.pop(name, None)
        if stub is not None:
            stub.unexport()

    def count_names(self):
        n = len(self.stubs) + sum(1 + len(u.active_aliases()) for u in self.units.values())
        self.props[MANAGER_IFACE]['NNames'] = dbus.UInt32(n)

    def find(self, name, stubs=True):
        '''Resolve a unit name or alias like the manager's name table'''
        unit = self.units.get(name)
        if unit is None:
            for candidate in self.units.values():
                if name in candidate.active_aliases():
                    unit = candidate
                    break
        if unit is not None:
            self.drop_stub(name)
            return unit
        return self.stubs.get(name) if stubs else None

    def any_unit(self, name):
        '''For the control API: configured units by id or any alias, then stubs'''
        unit = self.find(name, stubs=False)
        if unit is None:
            for candidate in self.units.values():
                if name in candidate.aliases:
                    return candidate
        return unit if unit is not None else self.stubs.get(name)

    def load(self, name):
        '''bus_load_unit_by_name(): load (possibly as not-found) and return'''
        _check_unit_name(name)
        unit = self.find(name)
        if unit is None:
            unit = Unit(self, name, None, stub=True)
            self.stubs[name] = unit
            self.count_names()
        if not unit.loaded:
            unit.loaded = True
            self.UnitNew(unit.id, dbus.ObjectPath(unit.path))
        return unit

    # ---- failure injection / recording

    def fail_if_configured(self, method, name=''):
        keys = [(method, name)]
        unit = self.find(name, stubs=False) if name else None
        if unit is not None:
            keys.append((method, unit.id))
        keys.append((method, ''))
        for key in keys:
            if key in self.failures:
                error_name, message = self.failures[key]
                raise _dbus_error(error_name, message or f'{method} failed ({error_name}, injected by test)')

    def log_call(self, name, args):
        self.record(self.calls, name, args)

    # ---- jobs

    def queue_job(self, method, job_type, name, mode):
        self.fail_if_configured(method, name)
        if mode not in JOB_MODES:
            raise _dbus_error(ERROR_INVALID_ARGS, f'Job mode {mode} invalid.')
        unit = self.load(name)
        if job_type in ('start', 'restart'):
            if unit.load_state == 'not-found':
                raise _dbus_error(ERROR_NO_SUCH_UNIT, f'Unit {name} not found.')
            if unit.load_state == 'masked':
                raise _dbus_error(ERROR_UNIT_MASKED, f'Unit {unit.id} is masked.')
            if unit.load_state in ('error', 'bad-setting'):
                raise _dbus_error(ERROR_LOAD_FAILED, f'Unit {unit.id} failed to load properly, please adjust/correct '
                                  'and reload service manager: Invalid argument')
        if (job_type == 'stop' and unit.load_state in ('not-found', 'error', 'bad-setting')
                and unit.active_state == 'inactive'):
            raise _dbus_error(ERROR_NO_SUCH_UNIT, f'Unit {unit.id} not loaded.')

        if unit.job is not None:
            if unit.job.type == job_type:
                return dbus.ObjectPath(unit.job.path)    # merged into the queued job
            self.finish_job(unit.job, 'canceled')

        job = Job(self, self.next_job_id, unit, job_type)
        self.next_job_id += 1
        unit.job = job
        self.props[MANAGER_IFACE]['NJobs'] = dbus.UInt32(self.props[MANAGER_IFACE]['NJobs'] + 1)
        if unit.job_removed_before_reply:
            # the whole job runs (and JobRemoved goes out) before the reply
            self.start_job(job)
            self.finish_job(job)
        else:
            GLib.idle_add(self.start_job_later, job)
        return dbus.ObjectPath(job.path)

    def start_job_later(self, job):
        if not job.finished:
            self.start_job(job)
            job.timer = GLib.timeout_add(max(0, job.unit.job_delay_ms), self.finish_job_later, job)
        return False

    def finish_job_later(self, job):
        job.timer = 0
        self.finish_job(job)
        return False

    def start_job(self, job):
        unit = job.unit
        self.JobNew(dbus.UInt32(job.id), dbus.ObjectPath(job.path), unit.id)
        job.update_props(JOB_IFACE, {'State': 'running'})
        job_prop = {'Job': (job.id, dbus.ObjectPath(job.path))}
        if job.type == 'stop' or (job.type == 'restart' and unit.active_state == 'active'):
            if unit.active_state in ('active', 'activating', 'reloading'):
                job_prop.update(ActiveState='deactivating', SubState='stop')
        elif unit.active_state != 'active':
            job_prop.update(ActiveState='activating', SubState='start')
        unit.set_state(job_prop)

    def finish_job(self, job, result=None):
        if job.finished:
            return
        job.finished = True
        if job.timer:
            GLib.source_remove(job.timer)
            job.timer = 0
        unit = job.unit
        if result is None:
            result = unit.job_result
        was_active = job.before[0] == 'active'
        props = {'Job': (0, dbus.ObjectPath('/'))}
        service = {}
        if result == 'done':
            if job.type == 'start' and was_active:
                props.update(ActiveState='active', SubState=job.before[1])
            elif job.type in ('start', 'restart'):
                if unit.condition_fails:
                    # e.g. Debian's chrony.service and ConditionCapability=CAP_SYS_TIME
                    props.update(ActiveState='inactive', SubState='dead', ConditionResult=False)
                    service.update(MainPID=0)
                else:
                    props.update(ActiveState='active', SubState='running', ConditionResult=True)
                    service.update(MainPID=self.new_pid(), Result='success', ExecMainStatus=0)
            else:
                props.update(ActiveState='inactive', SubState='dead')
                service.update(MainPID=0)
        elif result in ('failed', 'timeout'):
            props.update(ActiveState='failed', SubState='failed')
            service.update(MainPID=0, Result='timeout' if result == 'timeout' else 'exit-code',
                           ExecMainStatus=0 if result == 'timeout' else 1)
        else:
            props.update(ActiveState=job.before[0], SubState=job.before[1])
        unit.set_state(props, service)
        unit.job = None
        self.props[MANAGER_IFACE]['NJobs'] = dbus.UInt32(max(0, self.props[MANAGER_IFACE]['NJobs'] - 1))
        self.JobRemoved(dbus.UInt32(job.id), dbus.ObjectPath(job.path), unit.id, result)
        job.unexport()

    # ---- org.freedesktop.systemd1.Manager

    @dbus.service.method(MANAGER_IFACE, in_signature='s', out_signature='o')
    def GetUnit(self, name):
        self.log_call('GetUnit', [name])
        self.fail_if_configured('GetUnit', name)
        unit = self.find(name)
        if unit is None or not unit.loaded:
            raise _dbus_error(ERROR_NO_SUCH_UNIT, f'Unit {name} not loaded.')
        return dbus.ObjectPath(unit.path)

    @dbus.service.method(MANAGER_IFACE, in_signature='s', out_signature='o')
    def LoadUnit(self, name):
        self.log_call('LoadUnit', [name])
        self.fail_if_configured('LoadUnit', name)
        return dbus.ObjectPath(self.load(name).path)

    @dbus.service.method(MANAGER_IFACE, in_signature='ss', out_signature='o')
    def StartUnit(self, name, mode):
        self.log_call('StartUnit', [name, mode])
        return self.queue_job('StartUnit', 'start', name, mode)

    @dbus.service.method(MANAGER_IFACE, in_signature='ss', out_signature='o')
    def StopUnit(self, name, mode):
        self.log_call('StopUnit', [name, mode])
        return self.queue_job('StopUnit', 'stop', name, mode)

    @dbus.service.method(MANAGER_IFACE, in_signature='ss', out_signature='o')
    def RestartUnit(self, name, mode):
        self.log_call('RestartUnit', [name, mode])
        return self.queue_job('RestartUnit', 'restart', name, mode)

    @dbus.service.method(MANAGER_IFACE, in_signature='', out_signature='a(usssoo)')
    def ListJobs(self):
        # systemd: (id, unit, type, state, job path, unit path) of every queued job
        return dbus.Array([(dbus.UInt32(u.job.id), u.id, u.job.type, u.job.props[JOB_IFACE]['State'],
                            dbus.ObjectPath(u.job.path), dbus.ObjectPath(u.path))
                           for u in self.units.values() if u.job is not None and not u.job.finished],
                          signature='(usssoo)')

    @dbus.service.method(MANAGER_IFACE, in_signature='', out_signature='', sender_keyword='sender')
    def Subscribe(self, sender=None):
        self.log_call('Subscribe', [])
        self.fail_if_configured('Subscribe')
        self.subscribers[sender] = self.subscribers.get(sender, 0) + 1

    @dbus.service.method(MANAGER_IFACE, in_signature='', out_signature='', sender_keyword='sender')
    def Unsubscribe(self, sender=None):
        self.log_call('Unsubscribe', [])
        self.fail_if_configured('Unsubscribe')
        if not self.subscribers.get(sender):
            raise _dbus_error(ERROR_NOT_SUBSCRIBED, 'Client is not subscribed.')
        self.subscribers[sender] -= 1

    @dbus.service.method(MANAGER_IFACE, in_signature='', out_signature='')
    def Reload(self):
        self.log_call('Reload', [])
        self.fail_if_configured('Reload')
        self.Reloading(True)
        for unit in self.units.values():
            unit.refresh_names()
        self.Reloading(False)

    def _unit_file(self, method, path):
        name = os.path.basename(str(path))
        self.fail_if_configured(method, name)
        unit = self.units.get(name)
        if unit is None or unit.load_state == 'not-found':
            if any(name in u.active_aliases() for u in self.units.values()):
                raise _dbus_error(ERROR_UNIT_LINKED, f'Refusing to operate on linked unit file {name}')
            raise _dbus_error(ERROR_NO_SUCH_UNIT, f'Unit file {name} does not exist.')
        return unit

    @dbus.service.method(MANAGER_IFACE, in_signature='asbb', out_signature='ba(sss)')
    def EnableUnitFiles(self, files, runtime, force):
        self.log_call('EnableUnitFiles', [files, runtime, force])
        units = [self._unit_file('EnableUnitFiles', f) for f in files]
        for unit in units:
            if unit.unit_file_state == 'masked':
                raise _dbus_error(ERROR_UNIT_MASKED, f'Unit file /etc/systemd/system/{unit.id} is masked.')
        carries_install_info = False
        changes = []
        base = '/run/systemd/system' if runtime else '/etc/systemd/system'
        state = 'enabled-runtime' if runtime else 'enabled'
        for unit in units:
            if not unit.has_install:
                continue
            carries_install_info = True
            if unit.unit_file_state == state and not force:
                continue
            for alias in unit.aliases if unit.alias_needs_enable else []:
                changes.append(('symlink', f'{base}/{alias}', unit.prop('FragmentPath')))
            changes.append(('symlink', f'{base}/{unit.wanted_by}.wants/{unit.id}', unit.prop('FragmentPath')))
            unit.props[UNIT_IFACE]['UnitFileState'] = dbus.String(state)
            unit.refresh_names()
            for alias in unit.active_aliases():
                self.drop_stub(alias)
        self.count_names()
        if changes:
            self.UnitFilesChanged()
        return (carries_install_info, dbus.Array(changes, signature='(sss)'))

    @dbus.service.method(MANAGER_IFACE, in_signature='asb', out_signature='a(sss)')
    def DisableUnitFiles(self, files, runtime):
        self.log_call('DisableUnitFiles', [files, runtime])
        units = [self._unit_file('DisableUnitFiles', f) for f in files]
        changes = []
        for unit in units:
            if unit.unit_file_state != ('enabled-runtime' if runtime else 'enabled'):
                continue
            base = '/run/systemd/system' if runtime else '/etc/systemd/system'
            for alias in unit.aliases if unit.alias_needs_enable else []:
                changes.append(('unlink', f'{base}/{alias}', ''))
            changes.append(('unlink', f'{base}/{unit.wanted_by}.wants/{unit.id}', ''))
            unit.props[UNIT_IFACE]['UnitFileState'] = dbus.String('disabled')
            unit.refresh_names()
        self.count_names()
        if changes:
            self.UnitFilesChanged()
        return dbus.Array(changes, signature='(sss)')

    @dbus.service.method(MANAGER_IFACE, in_signature='s', out_signature='s')
    def GetUnitFileState(self, path):
        self.log_call('GetUnitFileState', [path])
        name = os.path.basename(str(path))
        self.fail_if_configured('GetUnitFileState', name)
        unit = self.units.get(name)
        if unit is not None and unit.load_state != 'not-found' and unit.unit_file_state:
            return unit.unit_file_state
        if unit is None and any(name in u.active_aliases() for u in self.units.values()):
            return 'alias'
        raise _dbus_error(ERROR_FILE_NOT_FOUND, 'No such file or directory')

    @dbus.service.signal(MANAGER_IFACE, signature='so')
    def UnitNew(self, unit_id, path):
        pass

    @dbus.service.signal(MANAGER_IFACE, signature='so')
    def UnitRemoved(self, unit_id, path):
        pass

    @dbus.service.signal(MANAGER_IFACE, signature='uos')
    def JobNew(self, job_id, path, unit):
        pass

    @dbus.service.signal(MANAGER_IFACE, signature='uoss')
    def JobRemoved(self, job_id, path, unit, result):
        pass

    @dbus.service.signal(MANAGER_IFACE, signature='')
    def UnitFilesChanged(self):
        pass

    @dbus.service.signal(MANAGER_IFACE, signature='b')
    def Reloading(self, active):
        pass

    # ---- org.ntssetup.Test.Systemd

    @dbus.service.method(CONTROL_IFACE, in_signature='sa{sv}', out_signature='')
    def AddUnit(self, name, props):
        '''Add a unit, or change an existing one (PropertiesChanged is emitted)'''
        self.add_unit(str(name), props)

    @dbus.service.method(CONTROL_IFACE, in_signature='ssss', out_signature='')
    def SetFail(self, method, unit, error_name, message):
        '''Make Manager.<method> fail for <unit> ("" = any unit); empty error_name clears'''
        key = (str(method), str(unit))
        if not error_name:
            self.failures.pop(key, None)
            return
        _check_error_name(error_name)
        self.failures[key] = (str(error_name), str(message))

    @dbus.service.method(CONTROL_IFACE, in_signature='ss', out_signature='')
    def SetJobResult(self, unit, result):
        found = self.any_unit(str(unit))
        if found is None:
            raise _dbus_error(ERROR_INVALID_ARGS, f'No unit {unit}')
        found.set_job_result(str(result))

    @dbus.service.method(CONTROL_IFACE, in_signature='s', out_signature='a{sv}')
    def GetUnitState(self, name):
        found = self.any_unit(str(name))
        if found is None:
            raise _dbus_error(ERROR_INVALID_ARGS, f'No unit {name}')
        return found.state()

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='a(sav)')
    def GetManagerCalls(self):
        return _calls_to_dbus(self.calls)

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='')
    def ClearManagerCalls(self):
        self.calls = []


def load(mock, parameters):
    '''dbusmock entry point: export the manager and the configured units'''
    for path in [p for p in mockobject.objects if p.startswith(MANAGER_PATH + '/')]:
        _unexport(mock, path)
    Manager(mock, dict(parameters or {}))
