# SPDX-License-Identifier: GPL-2.0-or-later
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

import os
import sys

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
# helpers shared by the ntssetup templates live in _stand_in_common.py next
# to this file (not a template); dbusmock exec()s a template by path, so
# put this directory on sys.path first

_TEMPLATE_DIR = os.path.dirname(os.path.abspath(__file__))
if _TEMPLATE_DIR not in sys.path:
    sys.path.insert(0, _TEMPLATE_DIR)

# pylint: disable-next=wrong-import-position
from _stand_in_common import _dbus_error, _check_error_name, _calls_to_dbus, _Exported  # noqa: E402


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
