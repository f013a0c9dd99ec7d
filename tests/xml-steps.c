/* Reads the step names the XML documents: see xml-steps.h. */
#include "xml-steps.h"

#include <gio/gio.h>
#include <string.h>

/* The 'step' argument's documentation: "Step name: A, B, ...; Rollback
 * (...): X, Y, Z." */
static char *
step_doc (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "introspection",
                                            "org.ntssetup.Manager1.xml", NULL);
  g_autofree char *xml = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  GDBusInterfaceInfo *iface;
  GDBusSignalInfo *progress;
  const char *doc = NULL;

  g_assert_true (g_file_get_contents (path, &xml, NULL, &error));
  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  iface = g_dbus_node_info_lookup_interface (node, "org.ntssetup.Manager1");
  g_assert_nonnull (iface);
  progress = g_dbus_interface_info_lookup_signal (iface, "Progress");
  g_assert_nonnull (progress);
  for (guint i = 0; progress->args[i] != NULL; i++)
    if (g_str_equal (progress->args[i]->name, "step"))
      doc = g_dbus_annotation_info_lookup (progress->args[i]->annotations,
                                           "org.gtk.GDBus.DocString");
  g_assert_nonnull (doc);
  return g_strdup (doc);
}

/* "a, b, c" between @start (exclusive) and @end. */
static GStrv
split_names (const char *start, const char *end)
{
  g_autofree char *list = g_strndup (start, end - start);
  GStrv names = g_strsplit (list, ",", -1);

  for (guint i = 0; names[i] != NULL; i++)
    g_strstrip (names[i]);
  return names;
}

GStrv
xml_apply_step_names (void)
{
  g_autofree char *doc = step_doc ();
  const char *start = strstr (doc, "Step name: ");
  const char *end = start ? strchr (start, ';') : NULL;

  g_assert_nonnull (end);
  return split_names (start + strlen ("Step name: "), end);
}

GStrv
xml_rollback_step_names (void)
{
  g_autofree char *doc = step_doc ();
  const char *start = strrchr (doc, ':');
  const char *end = start ? strrchr (start, '.') : NULL;

  g_assert_nonnull (end);
  return split_names (start + 1, end);
}
