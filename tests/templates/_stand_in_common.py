# SPDX-License-Identifier: GPL-2.0-or-later
'''Helpers shared by the ntssetup python-dbusmock local templates

NOT a template: polkitd.py, systemd.py and packagekit.py import it after
putting their own directory on sys.path (dbusmock exec()s a template given
by path, so the template directory is not importable otherwise).  The
leading underscore keeps it apart from the templates: passing it to
`dbusmock --template` fails at once, since it defines no BUS_NAME/load().

Contents: D-Bus error helpers, plain-value -> dbus-python type conversion,
call-log conversion and formatting, the _Exported base class (typed,
read-only org.freedesktop.DBus.Properties with PropertiesChanged, and
Introspect listing those properties) and _unexport().
'''

import re
import time

import dbus
import dbus.service

from dbusmock import mockobject

ERROR_INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs'

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
