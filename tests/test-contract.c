/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The contract says the same wherever it is written down.
 *
 * C takes the bus name, object path, interface and polkit action ids from
 * introspection/nts-names.h; the introspection XML, the bus policy, the
 * D-Bus activation file and the polkit policy cannot include a header and
 * spell them again. Each of those is read here and compared with the
 * header, so that a rename in one place fails this test rather than
 * leaving a service nobody can call. Progress's step names are listed
 * twice in the XML, for programs and for people: the two lists are
 * compared too. No bus, no daemon. */

#include <string.h>

#include "nts-errors.h"
#include "nts-names.h"

static char *
read_source (const char *first, ...)
{
  g_autofree char *path = NULL;
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  char *text = NULL;
  va_list args;

  /* G_TEST_SRCDIR is tests/; the files read here are its siblings'. */
  g_ptr_array_add (parts, (gpointer) g_test_get_dir (G_TEST_DIST));
  g_ptr_array_add (parts, (gpointer) "..");
  va_start (args, first);
  for (const char *part = first; part != NULL; part = va_arg (args, const char *))
    g_ptr_array_add (parts, (gpointer) part);
  va_end (args);
  g_ptr_array_add (parts, NULL);

  path = g_build_filenamev ((char **) parts->pdata);
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

static GDBusNodeInfo *
read_xml (void)
{
  g_autofree char *xml = read_source ("introspection", "org.ntssetup.Manager1.xml", NULL);
  g_autoptr(GError) error = NULL;
  GDBusNodeInfo *node;

  node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  return node;
}

/* Every match of @pattern's first group in @text, in order. */
static GStrv
matches (const char *text,
         const char *pattern)
{
  g_autoptr(GRegex) regex = g_regex_new (pattern, G_REGEX_DEFAULT, G_REGEX_MATCH_DEFAULT, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autoptr(GStrvBuilder) found = g_strv_builder_new ();

  g_assert_nonnull (regex);
  g_regex_match (regex, text, G_REGEX_MATCH_DEFAULT, &match);
  while (g_match_info_matches (match))
    {
      g_autofree char *group = g_match_info_fetch (match, 1);

      g_strv_builder_add (found, group);
      g_match_info_next (match, NULL);
    }
  return g_strv_builder_end (found);
}

static void
test_xml_names (void)
{
  g_autoptr(GDBusNodeInfo) node = read_xml ();

  /* One object with one interface: the header's path and interface. */
  g_assert_cmpstr (node->path, ==, NTS_DBUS_PATH);
  g_assert_nonnull (node->interfaces[0]);
  g_assert_cmpstr (node->interfaces[0]->name, ==, NTS_DBUS_INTERFACE);
  g_assert_null (node->interfaces[1]);
}

static void
test_bus_policy_names (void)
{
  g_autofree char *conf = read_source ("policy", "org.ntssetup.Manager.conf", NULL);
  g_autofree char *activation = read_source ("service", "units", "org.ntssetup.Manager.service.in", NULL);
  g_auto(GStrv) ours = NULL;

  g_assert_nonnull (strstr (conf, "<allow own=\"" NTS_DBUS_NAME "\"/>"));
  g_assert_nonnull (strstr (conf, "send_interface=\"" NTS_DBUS_INTERFACE "\""));
  /* No other name of ours: a stale one would allow nothing. */
  ours = matches (conf, "\"(org\\.ntssetup\\.[^\"]*)\"");
  g_assert_cmpuint (g_strv_length (ours), >, 0);
  for (guint i = 0; ours[i] != NULL; i++)
    if (!g_str_equal (ours[i], NTS_DBUS_NAME) && !g_str_equal (ours[i], NTS_DBUS_INTERFACE))
      g_error ("policy/org.ntssetup.Manager.conf names %s, which nts-names.h does not", ours[i]);

  g_assert_nonnull (strstr (activation, "\nName=" NTS_DBUS_NAME "\n"));
}

static void
test_polkit_actions (void)
{
  g_autofree char *policy = read_source ("policy", "org.ntssetup.Manager.policy", NULL);
  g_auto(GStrv) ids = matches (policy, "<action id=\"([^\"]+)\"");
  const char *const header[] = {
    NTS_ACTION_APPLY, NTS_ACTION_ROLLBACK, NTS_ACTION_INSTALL, NTS_ACTION_VERIFY,
    NTS_ACTION_CONFIGURE, NULL
  };

  /* The same set: every action the header names is defined, and the
   * policy defines none that C cannot name. */
  g_assert_cmpuint (g_strv_length (ids), ==, g_strv_length ((GStrv) header));
  for (guint i = 0; header[i] != NULL; i++)
    if (!g_strv_contains ((const char *const *) ids, header[i]))
      g_error ("nts-names.h names the polkit action %s, which the policy does not define",
               header[i]);
}

static void
test_error_names (void)
{
  g_autofree char *xml = read_source ("introspection", "org.ntssetup.Manager1.xml", NULL);

  /* Ours are the interface's, and the XML documents each of them. */
  for (int code = 0; code <= NTS_ERROR_FAILED; code++)
    {
      g_autoptr(GError) error = g_error_new_literal (NTS_ERROR, code, "");
      g_autofree char *name = g_dbus_error_encode_gerror (error);

      if (g_str_has_prefix (name, "org.freedesktop.DBus.Error."))
        continue;
      g_assert_true (g_str_has_prefix (name, NTS_DBUS_INTERFACE ".Error."));
      g_assert_nonnull (strstr (xml, name));
    }
}

/* A Progress step list annotation, split; NULL when it is missing. */
static GStrv
annotated_steps (GDBusNodeInfo *node,
                 const char    *annotation)
{
  GDBusSignalInfo *progress;
  const char *value;

  progress = g_dbus_interface_info_lookup_signal (node->interfaces[0], "Progress");
  g_assert_nonnull (progress);
  value = g_dbus_annotation_info_lookup (progress->annotations, annotation);
  if (value == NULL)
    return NULL;
  return g_strsplit (value, ";", -1);
}

static void
assert_steps_equal (const char *what,
                    GStrv       documented,
                    GStrv       annotated)
{
  g_autofree char *doc = g_strjoinv (", ", documented);
  g_autofree char *ann = g_strjoinv (", ", annotated);

  if (!g_strv_equal ((const char *const *) documented, (const char *const *) annotated))
    g_error ("%s: the step argument's doc says %s, the annotation %s", what, doc, ann);
}

/* Progress's step names are API: tests and the ntsctl stand-in read them
 * from the org.ntssetup.ApplySteps and org.ntssetup.RollbackSteps
 * annotations, people from the step argument's doc. The two must say the
 * same, in the same order, and every name must be one a Progress signal
 * can carry ([a-z0-9-], unique). */
static void
test_progress_steps (void)
{
  g_autoptr(GDBusNodeInfo) node = read_xml ();
  g_auto(GStrv) apply = annotated_steps (node, "org.ntssetup.ApplySteps");
  g_auto(GStrv) rollback = annotated_steps (node, "org.ntssetup.RollbackSteps");
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *apply_text = NULL;
  g_autofree char *rollback_text = NULL;
  g_auto(GStrv) doc_apply = NULL;
  g_auto(GStrv) doc_rollback = NULL;
  GDBusSignalInfo *progress;
  const char *doc;

  g_assert_nonnull (apply);
  g_assert_nonnull (rollback);

  /* "Step name: A, B, ...; Rollback (...): X, Y, Z." */
  progress = g_dbus_interface_info_lookup_signal (node->interfaces[0], "Progress");
  g_assert_cmpstr (progress->args[0]->name, ==, "step");
  doc = g_dbus_annotation_info_lookup (progress->args[0]->annotations, "org.gtk.GDBus.DocString");
  g_assert_nonnull (doc);
  regex = g_regex_new ("^Step name: ([a-z0-9, -]+); Rollback[^:]*: ([a-z0-9, -]+)\\.$",
                       G_REGEX_DEFAULT, G_REGEX_MATCH_DEFAULT, NULL);
  if (!g_regex_match (regex, doc, G_REGEX_MATCH_DEFAULT, &match))
    g_error ("the step argument's doc no longer reads 'Step name: ...; Rollback ...: ...': "
             "update this test with it");
  apply_text = g_match_info_fetch (match, 1);
  rollback_text = g_match_info_fetch (match, 2);
  doc_apply = g_strsplit (apply_text, ", ", -1);
  doc_rollback = g_strsplit (rollback_text, ", ", -1);

  assert_steps_equal ("ApplyHardenedConfig", doc_apply, apply);
  assert_steps_equal ("Rollback", doc_rollback, rollback);

  for (GStrv list = apply; list != NULL; list = list == apply ? rollback : NULL)
    for (guint i = 0; list[i] != NULL; i++)
      {
        g_assert_true (g_regex_match_simple ("^[a-z0-9]+(-[a-z0-9]+)*$", list[i],
                                             G_REGEX_DEFAULT, G_REGEX_MATCH_DEFAULT));
        for (guint j = 0; j < i; j++)
          g_assert_cmpstr (list[j], !=, list[i]);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/contract/names/xml", test_xml_names);
  g_test_add_func ("/contract/names/bus-policy", test_bus_policy_names);
  g_test_add_func ("/contract/names/polkit-actions", test_polkit_actions);
  g_test_add_func ("/contract/names/errors", test_error_names);
  g_test_add_func ("/contract/progress-steps", test_progress_steps);

  return g_test_run ();
}
