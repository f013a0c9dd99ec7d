'''polkit stand-in for the ntssetup tests (python-dbusmock local template)

Start it on the private "system" bus (DBUS_SYSTEM_BUS_ADDRESS) with

    /usr/bin/python3 -m dbusmock --system --template tests/templates/polkitd.py \
        -p '{"allowed": ["org.example.allowed"], "challenge": ["org.example.auth"]}'

Bus name org.freedesktop.PolicyKit1.  The real interface
org.freedesktop.PolicyKit1.Authority AND the test control interface
org.ntssetup.Test.Polkit both live on /org/freedesktop/PolicyKit1/Authority.
dbusmock's own object (org.freedesktop.DBus.Mock: GetCalls, Reset, ...) sits
at "/"; its call log also receives every Authority call.

Rules used to answer CheckAuthorization (evaluated when the answer is sent,
i.e. at Release() time for held calls):

  * SetError(name) non-empty      -> D-Bus error `name` (fail closed tests)
  * action in the "allowed" set   -> (true, false, {})
  * action in the "challenge" set -> flags & 1 (AllowUserInteraction):
                                       interactive result (default true;
                                       false answers (false, false,
                                       {"polkit.dismissed": "true"}))
                                     otherwise (false, true, {})
  * anything else                 -> (false, false, {})

Template parameters (all optional): allowed (list), challenge (list),
interactive_result (bool), hold (bool).  See tests/templates/README.md.
'''

import re
import time

import dbus
import dbus.service

from dbusmock import mockobject

BUS_NAME = 'org.freedesktop.PolicyKit1'
# dbusmock's generic mock object; the real objects are registered in load()
MAIN_OBJ = '/'
MAIN_IFACE = mockobject.MOCK_IFACE
SYSTEM_BUS = True

AUTHORITY_PATH = '/org/freedesktop/PolicyKit1/Authority'
AUTHORITY_IFACE = 'org.freedesktop.PolicyKit1.Authority'
CONTROL_IFACE = 'org.ntssetup.Test.Polkit'

ERROR_FAILED = 'org.freedesktop.PolicyKit1.Error.Failed'
ERROR_CANCELLED = 'org.freedesktop.PolicyKit1.Error.Cancelled'
ERROR_CANCELLATION_ID_NOT_UNIQUE = 'org.freedesktop.PolicyKit1.Error.CancellationIdNotUnique'
ERROR_INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'

# PolkitCheckAuthorizationFlags
ALLOW_USER_INTERACTION = 0x1
# PolkitAuthorityFeatures: TEMPORARY_AUTHORIZATION
FEATURE_TEMPORARY_AUTHORIZATION = 0x1

SUBJECT_KINDS = ('unix-process', 'unix-session', 'system-bus-name')

SUBJECT_SIG = '(sa{sv})'


# --------------------------------------------------------------------------
# small helpers shared (by copy) between the ntssetup templates

_ERROR_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)+$')


def _dbus_error(name, message):
    return dbus.exceptions.DBusException(message, name=name)


def _check_error_name(name):
    if len(name) > 255 or not _ERROR_NAME_RE.match(name):
        raise _dbus_error(ERROR_INVALID_ARGS, f'"{name}" is not a valid D-Bus error name')


def _typed(sig, value):
    '''Convert a plain Python value into the dbus-python type for sig'''
    simple = {
        's': dbus.String, 'o': dbus.ObjectPath, 'b': dbus.Boolean,
        'y': dbus.Byte, 'n': dbus.Int16, 'q': dbus.UInt16, 'i': dbus.Int32,
        'u': dbus.UInt32, 'x': dbus.Int64, 't': dbus.UInt64, 'd': dbus.Double,
    }
    if sig in simple:
        return simple[sig](value)
    if sig.startswith('a{'):
        return dbus.Dictionary(value, signature=sig[2:-1])
    if sig.startswith('a'):
        return dbus.Array(value, signature=sig[1:])
    if sig.startswith('('):
        return dbus.Struct(value, signature=sig[1:-1])
    raise ValueError(f'unsupported signature {sig}')


def _calls_to_dbus(calls):
    return dbus.Array([dbus.Struct((name, dbus.Array(args, signature='v')), signature='sav')
                       for (name, args) in calls], signature='(sav)')


def _fmt(value):
    '''Compact rendering of a D-Bus value for the log'''
    if isinstance(value, dbus.Boolean):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return '"' + str(value) + '"'
    if isinstance(value, dict):
        return '{' + ', '.join(f'{_fmt(k)}: {_fmt(v)}' for k, v in value.items()) + '}'
    if isinstance(value, tuple):
        return '(' + ', '.join(_fmt(v) for v in value) + ')'
    if isinstance(value, list):
        return '[' + ', '.join(_fmt(v) for v in value) + ']'
    return repr(value)


class _Exported(dbus.service.Object):
    '''A dbus-python object with typed, read-only D-Bus properties

    dbusmock replaces dbus.service._method_lookup() with a version that
    consults obj.methods / obj.interface first, so those must exist (empty).
    '''
    methods = {}
    interface = ''

    def __init__(self, mock, path):
        _unexport(mock, path)
        dbus.service.Object.__init__(self, mock.bus_name, path)
        self.mock = mock
        self.path = path
        self.props = {}       # interface -> name -> typed value
        self.prop_sigs = {}   # interface -> name -> signature
        mockobject.objects[path] = self

    def unexport(self):
        if mockobject.objects.get(self.path) is self:
            del mockobject.objects[self.path]
        try:
            self.remove_from_connection()
        except LookupError:
            pass

    def add_prop(self, iface, name, sig, value):
        self.prop_sigs.setdefault(iface, {})[name] = sig
        self.props.setdefault(iface, {})[name] = _typed(sig, value)

    def update_props(self, iface, values):
        '''Set properties, emit PropertiesChanged for the ones that changed'''
        changed = {}
        for name, value in values.items():
            new = _typed(self.prop_sigs[iface][name], value)
            if self.props[iface].get(name) != new:
                self.props[iface][name] = new
                changed[name] = new
        if changed:
            self.PropertiesChanged(iface, dbus.Dictionary(changed, signature='sv'),
                                   dbus.Array([], signature='s'))
        return changed

    def record(self, store, name, args):
        '''Append a call to store and to dbusmock's call log on "/"'''
        args = list(args)
        store.append((name, args))
        self.mock.log(f'{self.path} {name} ' + ' '.join(_fmt(a) for a in args))
        self.mock.call_log.append((int(time.time()), name, args))
        try:
            self.mock.MethodCalled(name, args)
        except Exception:  # pylint: disable=broad-except
            pass

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature='ss', out_signature='v')
    def Get(self, iface, name):
        if iface not in self.props:
            raise _dbus_error('org.freedesktop.DBus.Error.UnknownInterface', f'Unknown interface {iface}')
        if name not in self.props[iface]:
            raise _dbus_error('org.freedesktop.DBus.Error.UnknownProperty', f'Unknown property {name}')
        return self.props[iface][name]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature='s', out_signature='a{sv}')
    def GetAll(self, iface):
        if iface and iface not in self.props:
            raise _dbus_error('org.freedesktop.DBus.Error.UnknownInterface', f'Unknown interface {iface}')
        result = {}
        for i, props in self.props.items():
            if not iface or i == iface:
                result.update(props)
        return dbus.Dictionary(result, signature='sv')

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature='ssv', out_signature='')
    def Set(self, iface, name, _value):
        if name not in self.props.get(iface, {}):
            raise _dbus_error('org.freedesktop.DBus.Error.UnknownProperty', f'Unknown property {name}')
        raise _dbus_error('org.freedesktop.DBus.Error.PropertyReadOnly', f'Property {name} is read-only')

    @dbus.service.signal(dbus.PROPERTIES_IFACE, signature='sa{sv}as')
    def PropertiesChanged(self, iface, changed, invalidated):
        pass

    @dbus.service.method(dbus.INTROSPECTABLE_IFACE, in_signature='', out_signature='s',
                         path_keyword='object_path', connection_keyword='connection')
    def Introspect(self, object_path, connection):
        # dbus-python knows methods and signals; add the properties
        from xml.etree import ElementTree  # pylint: disable=import-outside-toplevel
        xml = dbus.service.Object.Introspect(self, object_path, connection)
        tree = ElementTree.fromstring(xml)
        for iface, sigs in self.prop_sigs.items():
            node = tree.find(f"./interface[@name='{iface}']")
            if node is None:
                node = ElementTree.SubElement(tree, 'interface', {'name': iface})
            for name, sig in sigs.items():
                ElementTree.SubElement(node, 'property', {'name': name, 'type': sig, 'access': 'read'})
        return ('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
                ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n'
                + ElementTree.tostring(tree, encoding='unicode'))


def _unexport(mock, path):
    old = mockobject.objects.get(path)
    if old is not None and old is not mock:
        try:
            old.remove_from_connection()
        except LookupError:
            pass
        del mockobject.objects[path]


def _param_list(parameters, key):
    value = parameters.get(key, [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value]


# --------------------------------------------------------------------------

def _sanitize_subject_details(details):
    '''Copy a subject's a{sv}; file descriptors (unix-process "pidfd") are
    replaced by the string "<fd>" so they can be returned by GetChecks()'''
    clean = {}
    for key, value in details.items():
        if isinstance(value, dbus.types.UnixFd):
            value = dbus.String('<fd>', variant_level=1)
        clean[str(key)] = value
    return dbus.Dictionary(clean, signature='sv')


class _Check:
    '''One CheckAuthorization call'''

    def __init__(self, subject, action_id, flags, cancellation_id, sender):
        self.kind = str(subject[0])
        self.details = _sanitize_subject_details(subject[1])
        self.action_id = str(action_id)
        self.flags = int(flags)
        self.cancellation_id = str(cancellation_id)
        self.sender = sender
        self.outcome = 'pending'
        self.reply = None
        self.error = None

    def as_dbus(self):
        return dbus.Struct((self.kind, self.details, self.action_id, dbus.UInt32(self.flags),
                            self.cancellation_id, self.outcome), signature='sa{sv}suss')


class Authority(_Exported):
    '''/org/freedesktop/PolicyKit1/Authority: the real interface + control'''

    def __init__(self, mock, parameters):
        _Exported.__init__(self, mock, AUTHORITY_PATH)
        self.parameters = parameters
        self.add_prop(AUTHORITY_IFACE, 'BackendName', 's', 'js')
        self.add_prop(AUTHORITY_IFACE, 'BackendVersion', 's', '122')
        self.add_prop(AUTHORITY_IFACE, 'BackendFeatures', 'u', FEATURE_TEMPORARY_AUTHORIZATION)
        self.pending = []
        self.reset_state()

    def reset_state(self):
        self.allowed = set(_param_list(self.parameters, 'allowed'))
        self.challenge = set(_param_list(self.parameters, 'challenge'))
        self.interactive_result = bool(self.parameters.get('interactive_result', True))
        self.hold = bool(self.parameters.get('hold', False))
        self.error_name = ''
        self.checks = []
        self.cancelled = []
        self.calls = []
        pending, self.pending = self.pending, []
        for check in pending:
            check.outcome = 'error'
            check.error(_dbus_error(ERROR_FAILED, 'The polkit stand-in was reset'))

    def decide(self, check):
        '''Answer a check by the rules in force now'''
        if self.error_name:
            check.outcome = 'error'
            check.error(_dbus_error(self.error_name, f'Authorization check for {check.action_id} failed (test error)'))
            return
        details = {}
        if check.action_id in self.allowed:
            result = (True, False)
        elif check.action_id in self.challenge:
            if check.flags & ALLOW_USER_INTERACTION:
                if self.interactive_result:
                    result = (True, False)
                else:
                    result = (False, False)
                    details = {'polkit.dismissed': 'true'}
            else:
                result = (False, True)
        else:
            result = (False, False)
        check.outcome = 'allowed' if result[0] else ('challenge' if result[1] else 'denied')
        check.reply(dbus.Struct((result[0], result[1], dbus.Dictionary(details, signature='ss')),
                                signature='bba{ss}'))

    # ---- org.freedesktop.PolicyKit1.Authority

    @dbus.service.method(AUTHORITY_IFACE, in_signature=SUBJECT_SIG + 'sa{ss}us', out_signature='(bba{ss})',
                         sender_keyword='sender', async_callbacks=('reply_cb', 'error_cb'))
    def CheckAuthorization(self, subject, action_id, details, flags, cancellation_id,
                           sender=None, reply_cb=None, error_cb=None):
        check = _Check(subject, action_id, flags, cancellation_id, sender)
        self.record(self.calls, 'CheckAuthorization',
                    [dbus.Struct((check.kind, check.details), signature='sa{sv}'),
                     action_id, details, flags, cancellation_id])
        check.reply = reply_cb
        check.error = error_cb
        self.checks.append(check)

        if check.kind not in SUBJECT_KINDS:
            check.outcome = 'error'
            error_cb(_dbus_error(ERROR_FAILED, f"Error getting subject: Unknown subject kind `{check.kind}'"))
            return
        if check.cancellation_id and any(p.sender == sender and p.cancellation_id == check.cancellation_id
                                         for p in self.pending):
            check.outcome = 'error'
            error_cb(_dbus_error(ERROR_CANCELLATION_ID_NOT_UNIQUE,
                                 f'Given cancellation_id {check.cancellation_id} is already in use for name {sender}'))
            return
        if self.hold:
            self.pending.append(check)
            return
        self.decide(check)

    @dbus.service.method(AUTHORITY_IFACE, in_signature='s', out_signature='', sender_keyword='sender')
    def CancelCheckAuthorization(self, cancellation_id, sender=None):
        self.record(self.calls, 'CancelCheckAuthorization', [cancellation_id])
        self.cancelled.append(str(cancellation_id))
        for check in self.pending:
            if check.sender == sender and check.cancellation_id == cancellation_id:
                self.pending.remove(check)
                check.outcome = 'cancelled'
                check.error(_dbus_error(ERROR_CANCELLED, 'The authentication was cancelled'))
                return
        raise _dbus_error(ERROR_FAILED, f"No such cancellation_id `{cancellation_id}' for name {sender}")

    @dbus.service.method(AUTHORITY_IFACE, in_signature='s', out_signature='a(ssssssuuua{ss})')
    def EnumerateActions(self, locale):
        self.record(self.calls, 'EnumerateActions', [locale])
        return dbus.Array([], signature='(ssssssuuua{ss})')

    @dbus.service.method(AUTHORITY_IFACE, in_signature=SUBJECT_SIG + 'ss', out_signature='')
    def RegisterAuthenticationAgent(self, subject, locale, object_path):
        self.record(self.calls, 'RegisterAuthenticationAgent', [subject, locale, object_path])

    @dbus.service.method(AUTHORITY_IFACE, in_signature=SUBJECT_SIG + 'ssa{sv}', out_signature='')
    def RegisterAuthenticationAgentWithOptions(self, subject, locale, object_path, options):
        self.record(self.calls, 'RegisterAuthenticationAgentWithOptions', [subject, locale, object_path, options])

    @dbus.service.method(AUTHORITY_IFACE, in_signature=SUBJECT_SIG + 's', out_signature='')
    def UnregisterAuthenticationAgent(self, subject, object_path):
        self.record(self.calls, 'UnregisterAuthenticationAgent', [subject, object_path])

    @dbus.service.method(AUTHORITY_IFACE, in_signature='s' + SUBJECT_SIG, out_signature='')
    def AuthenticationAgentResponse(self, cookie, identity):
        self.record(self.calls, 'AuthenticationAgentResponse', [cookie, identity])

    @dbus.service.method(AUTHORITY_IFACE, in_signature='us' + SUBJECT_SIG, out_signature='')
    def AuthenticationAgentResponse2(self, uid, cookie, identity):
        self.record(self.calls, 'AuthenticationAgentResponse2', [uid, cookie, identity])

    @dbus.service.method(AUTHORITY_IFACE, in_signature=SUBJECT_SIG, out_signature='a(ss(sa{sv})tt)')
    def EnumerateTemporaryAuthorizations(self, subject):
        self.record(self.calls, 'EnumerateTemporaryAuthorizations', [subject])
        return dbus.Array([], signature='(ss(sa{sv})tt)')

    @dbus.service.method(AUTHORITY_IFACE, in_signature=SUBJECT_SIG, out_signature='')
    def RevokeTemporaryAuthorizations(self, subject):
        self.record(self.calls, 'RevokeTemporaryAuthorizations', [subject])

    @dbus.service.method(AUTHORITY_IFACE, in_signature='s', out_signature='')
    def RevokeTemporaryAuthorizationById(self, auth_id):
        self.record(self.calls, 'RevokeTemporaryAuthorizationById', [auth_id])

    @dbus.service.signal(AUTHORITY_IFACE, signature='')
    def Changed(self):
        pass

    # ---- org.ntssetup.Test.Polkit

    @dbus.service.method(CONTROL_IFACE, in_signature='as', out_signature='')
    def SetAllowed(self, actions):
        self.allowed = {str(a) for a in actions}
        self.Changed()

    @dbus.service.method(CONTROL_IFACE, in_signature='as', out_signature='')
    def SetChallenge(self, actions):
        self.challenge = {str(a) for a in actions}
        self.Changed()

    @dbus.service.method(CONTROL_IFACE, in_signature='b', out_signature='')
    def SetInteractiveResult(self, authorized):
        self.interactive_result = bool(authorized)

    @dbus.service.method(CONTROL_IFACE, in_signature='b', out_signature='')
    def SetHold(self, hold):
        '''Keep new CheckAuthorization calls pending; does not release held ones'''
        self.hold = bool(hold)

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='')
    def Release(self):
        '''Answer every held call (in arrival order) by the rules in force now'''
        pending, self.pending = self.pending, []
        for check in pending:
            self.decide(check)

    @dbus.service.method(CONTROL_IFACE, in_signature='s', out_signature='')
    def SetError(self, error_name):
        if error_name:
            _check_error_name(error_name)
        self.error_name = str(error_name)

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='a(sa{sv}suss)')
    def GetChecks(self):
        return dbus.Array([c.as_dbus() for c in self.checks], signature='(sa{sv}suss)')

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='as')
    def GetCancelled(self):
        return dbus.Array(self.cancelled, signature='s')

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='u')
    def PendingCount(self):
        return dbus.UInt32(len(self.pending))

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='a(sav)')
    def GetCalls(self):
        '''Every call on the Authority interface, in order'''
        return _calls_to_dbus(self.calls)

    @dbus.service.method(CONTROL_IFACE, in_signature='', out_signature='')
    def Reset(self):
        '''Back to the template parameters; held calls fail with Error.Failed'''
        self.reset_state()


def load(mock, parameters):
    '''dbusmock entry point: export the Authority object'''
    Authority(mock, dict(parameters or {}))
