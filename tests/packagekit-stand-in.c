/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "packagekit-stand-in.h"

#define PK_NAME "org.freedesktop.PackageKit"
#define PK_PATH "/org/freedesktop/PackageKit"
#define CONTROL_IFACE "org.ntssetup.Test.PackageKit"

GSubprocess *
packagekit_stand_in_start (ServiceFixture *fx, const char *params)
{
  return fixture_start_stand_in (fx, "packagekit.py", params, PK_NAME);
}

GVariant *
packagekit_stand_in_control (ServiceFixture *fx, const char *method, GVariant *params)
{
  return fixture_control (fx, PK_NAME, PK_PATH, CONTROL_IFACE, method, params);
}

char *
packagekit_stand_in_installed (ServiceFixture *fx)
{
  g_autoptr(GVariant) reply = packagekit_stand_in_control (fx, "GetInstalled", NULL);
  g_autoptr(GVariant) list = g_variant_get_child_value (reply, 0);
  g_autofree const char **names = g_variant_get_strv (list, NULL);

  return g_strjoinv (" ", (char **) names);
}

char *
packagekit_stand_in_calls (ServiceFixture *fx)
{
  g_autoptr(GVariant) reply = packagekit_stand_in_control (fx, "GetCalls", NULL);
  g_autoptr(GVariant) list = g_variant_get_child_value (reply, 0);

  return g_variant_print (list, FALSE);
}

static void
on_name_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
}

void
packagekit_stand_in_stop (ServiceFixture *fx, GSubprocess **process)
{
  gboolean vanished = FALSE;
  guint watch;

  fixture_stop_process (process);
  watch = g_bus_watch_name_on_connection (fx->client, "org.freedesktop.PackageKit",
                                          G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, on_name_vanished,
                                          &vanished, NULL);
  g_assert_true (fixture_wait_flag (&vanished, 10000));
  g_bus_unwatch_name (watch);
}
