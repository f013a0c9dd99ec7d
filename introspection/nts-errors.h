/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Errors of org.ntssetup.Manager1, shared by ntssetupd and ntsctl so both
 * map the same GError codes to the same D-Bus error names.
 *
 * InvalidArgs and AccessDenied are G_DBUS_ERROR_INVALID_ARGS and
 * G_DBUS_ERROR_ACCESS_DENIED: GDBus already owns those names, and a name
 * can be registered for one error domain only. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NTS_ERROR (nts_error_quark ())

typedef enum {
  NTS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,  /* org.freedesktop.DBus.Error.InteractiveAuthorizationRequired */
  NTS_ERROR_BUSY,
  NTS_ERROR_CHRONY_MISSING,
  NTS_ERROR_PREFLIGHT_FAILED,
  NTS_ERROR_APPLY_FAILED,
  NTS_ERROR_NO_SUCH_SNAPSHOT,
  NTS_ERROR_FAILED,                              /* org.ntssetup.Manager1.Error.Failed: anything else */
} NtsError;

GQuark nts_error_quark (void);

G_END_DECLS
