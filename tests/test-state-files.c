/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The small files of the state directory beside snapshots and journal:
 * the applied marker and the Rollback record (applied-state.h) and
 * LastResult on disk (last-result.h). Round trips, a missing state
 * directory, damage. */

#include "applied-state.h"
#include "last-result.h"
#include "nts-errors.h"
#include "temp-tree.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

#define STATE "/var/lib/ntssetup"
#define ID    "20261127T044512Z-000123"

typedef struct {
  char    *host;
  NtsRoot *root;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->host = temp_tree_new ();
  f->root = nts_root_open (f->host, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  nts_root_unref (f->root);
  temp_tree_remove (f->host);
  g_free (f->host);
}

static void
make_state_dir (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (nts_root_ensure_dir (f->root, STATE, 0, 0, 0700, TRUE, &error));
  g_assert_no_error (error);
}

static void
put (Fixture *f, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (f->host, STATE, name, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_assert_no_error (error);
}

static void
test_applied_marker (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;

  /* Nothing applied yet: no marker, no error, even without the directory. */
  g_assert_null (nts_applied_state_get (f->root, NULL, &error));
  g_assert_no_error (error);

  make_state_dir (f);
  g_assert_true (nts_applied_state_set (f->root, NULL, ID, &error));
  g_assert_no_error (error);
  id = nts_applied_state_get (f->root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, ID);

  g_assert_true (nts_applied_state_set (f->root, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (nts_applied_state_get (f->root, NULL, &error));
  g_assert_no_error (error);

  /* Damage is said, never taken for a snapshot id. */
  put (f, "applied", "../../etc/passwd\n");
  g_assert_null (nts_applied_state_get (f->root, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

static void
test_last_result (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) failure = g_error_new (NTS_ERROR, NTS_ERROR_APPLY_FAILED, "step x failed");
  g_autoptr(GVariant) result = g_variant_ref_sink (nts_last_result_new ("Recover", failure, "x", ID));
  g_autoptr(GVariant) loaded = NULL;
  g_autofree char *path = g_build_filename (f->host, STATE, "last-result", NULL);
  const char *name = NULL, *step = NULL;

  /* No state directory: nothing was ever changed, nothing to keep. */
  g_assert_true (nts_last_result_save (f->root, NULL, result, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_null (nts_last_result_load (f->root, NULL, &error));
  g_assert_no_error (error);

  make_state_dir (f);
  g_assert_true (nts_last_result_save (f->root, NULL, result, &error));
  g_assert_no_error (error);
  loaded = nts_last_result_load (f->root, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (loaded, result));
  g_assert_true (g_variant_lookup (loaded, "error", "&s", &name));
  g_assert_cmpstr (name, ==, "org.ntssetup.Manager1.Error.ApplyFailed");
  g_assert_true (g_variant_lookup (loaded, "step", "&s", &step));
  g_assert_cmpstr (step, ==, "x");
  g_clear_pointer (&loaded, g_variant_unref);

  put (f, "last-result", "{'ok': <true>");
  g_assert_null (nts_last_result_load (f->root, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  put (f, "last-result", "['not', 'a', 'dict']");
  g_assert_null (nts_last_result_load (f->root, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

static void
assert_record (Fixture *f, gboolean want_recorded, const char *want_changed)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) paths = NULL;
  gboolean recorded = !want_recorded, changed = want_changed == NULL;

  g_assert_true (nts_rollback_record_changed (f->root, NULL, &recorded, &changed, &paths, &error));
  g_assert_no_error (error);
  g_assert_cmpint (recorded, ==, want_recorded);
  g_assert_cmpint (changed, ==, want_changed != NULL);
  if (want_changed != NULL)
    {
      g_autofree char *joined = g_strjoinv (" ", paths);
      g_assert_cmpstr (joined, ==, want_changed);
    }
  else
    g_assert_cmpuint (g_strv_length (paths), ==, 0);
}

/* What the last Rollback left: nothing noted yet, then each kind of
 * change to a file it left or removed, and a damaged record. */
static void
test_rollback_record (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/chrony.conf", "/etc/chrony.keys", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *conf = g_build_filename (f->host, "etc", "chrony.conf", NULL);
  g_autofree char *keys = g_build_filename (f->host, "etc", "chrony.keys", NULL);

  /* No state directory, then none noted: "not recorded", no error. */
  assert_record (f, FALSE, NULL);
  make_state_dir (f);
  assert_record (f, FALSE, NULL);

  temp_tree_write (f->host, "/etc/chrony.conf", "pool x\n", 0644);
  g_assert_true (nts_rollback_record_save (f->root, NULL, ID, paths, &error));
  g_assert_no_error (error);
  assert_record (f, TRUE, NULL);

  /* Content, then mode, then gone. */
  temp_tree_write (f->host, "/etc/chrony.conf", "pool y\n", 0644);
  assert_record (f, TRUE, "/etc/chrony.conf");
  temp_tree_write (f->host, "/etc/chrony.conf", "pool x\n", 0644);
  assert_record (f, TRUE, NULL);
  g_assert_cmpint (g_chmod (conf, 0600), ==, 0);
  assert_record (f, TRUE, "/etc/chrony.conf");
  g_assert_cmpint (g_unlink (conf), ==, 0);
  assert_record (f, TRUE, "/etc/chrony.conf");
  temp_tree_write (f->host, "/etc/chrony.conf", "pool x\n", 0644);

  /* The Rollback removed the keys file: one made since is a change, and
   * so is a link there. */
  temp_tree_write (f->host, "/etc/chrony.keys", "", 0640);
  assert_record (f, TRUE, "/etc/chrony.keys");
  g_assert_cmpint (g_unlink (keys), ==, 0);
  temp_tree_symlink (f->host, "/etc/chrony.keys", "/dev/null");
  assert_record (f, TRUE, "/etc/chrony.keys");

  /* A link there when the Rollback notes it: noted as one, so it is a
   * change whatever comes next, and saving does not fail. */
  g_assert_true (nts_rollback_record_save (f->root, NULL, ID, paths, &error));
  g_assert_no_error (error);
  assert_record (f, TRUE, "/etc/chrony.keys");
  g_assert_cmpint (g_unlink (keys), ==, 0);
  assert_record (f, TRUE, "/etc/chrony.keys");

  /* A new Rollback replaces the record. */
  g_assert_true (nts_rollback_record_save (f->root, NULL, ID, paths, &error));
  g_assert_no_error (error);
  assert_record (f, TRUE, NULL);

  {
    g_autofree char *record = g_build_filename (f->host, STATE, "rolled-back", NULL);
    struct stat st;

    g_assert_cmpint (g_stat (record, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
  }
  put (f, "rolled-back", "[rollback]\nformat=1\nfiles=1\n[file 0]\npath=../etc\n");
  {
    gboolean recorded = FALSE, changed = FALSE;

    g_assert_false (nts_rollback_record_changed (f->root, NULL, &recorded, &changed, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/state-files/applied-marker", Fixture, NULL, fixture_set_up,
              test_applied_marker, fixture_tear_down);
  g_test_add ("/state-files/last-result", Fixture, NULL, fixture_set_up,
              test_last_result, fixture_tear_down);
  g_test_add ("/state-files/rollback-record", Fixture, NULL, fixture_set_up,
              test_rollback_record, fixture_tear_down);
  return g_test_run ();
}
