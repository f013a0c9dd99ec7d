/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "nts-errors.h"

#include "nts-names.h"

/* GLib 2.74 has no GDBusError for InteractiveAuthorizationRequired, so that
 * standard name is registered here, next to ours. */
static const GDBusErrorEntry nts_error_entries[] = {
  { NTS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired" },
  { NTS_ERROR_BUSY, NTS_DBUS_INTERFACE ".Error.Busy" },
  { NTS_ERROR_CHRONY_MISSING, NTS_DBUS_INTERFACE ".Error.ChronyMissing" },
  { NTS_ERROR_PREFLIGHT_FAILED, NTS_DBUS_INTERFACE ".Error.PreflightFailed" },
  { NTS_ERROR_APPLY_FAILED, NTS_DBUS_INTERFACE ".Error.ApplyFailed" },
  { NTS_ERROR_NO_SUCH_SNAPSHOT, NTS_DBUS_INTERFACE ".Error.NoSuchSnapshot" },
  { NTS_ERROR_FAILED, NTS_DBUS_INTERFACE ".Error.Failed" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (nts_error_entries) == NTS_ERROR_FAILED + 1);

GQuark
nts_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("nts-error-quark", &quark,
                                      nts_error_entries,
                                      G_N_ELEMENTS (nts_error_entries));
  return (GQuark) quark;
}
