/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reads the step names the XML documents: see xml-steps.h. */
#include "xml-steps.h"

#include <gio/gio.h>
#include "nts-names.h"

/* One of the Progress signal's annotations listing step names, split. */
static GStrv
step_names (const char *annotation)
{
  g_autofree char *path = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "introspection",
                                            "org.ntssetup.Manager1.xml", NULL);
  g_autofree char *xml = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  GDBusInterfaceInfo *iface;
  GDBusSignalInfo *progress;
  const char *value;

  g_assert_true (g_file_get_contents (path, &xml, NULL, &error));
  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  iface = g_dbus_node_info_lookup_interface (node, NTS_DBUS_INTERFACE);
  g_assert_nonnull (iface);
  progress = g_dbus_interface_info_lookup_signal (iface, "Progress");
  g_assert_nonnull (progress);
  value = g_dbus_annotation_info_lookup (progress->annotations, annotation);
  g_assert_nonnull (value);
  return g_strsplit (value, ";", -1);
}

GStrv
xml_apply_step_names (void)
{
  return step_names ("org.ntssetup.ApplySteps");
}

GStrv
xml_rollback_step_names (void)
{
  return step_names ("org.ntssetup.RollbackSteps");
}
