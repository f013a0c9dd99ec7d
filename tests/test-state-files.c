/* The small files of the state directory beside snapshots and journal:
 * the applied marker (applied-state.h) and LastResult on disk
 * (last-result.h). Round trips, a missing state directory, damage. */

#include "applied-state.h"
#include "last-result.h"
#include "nts-errors.h"
#include "temp-tree.h"

#include <glib/gstdio.h>

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
  nts_root_free (f->root);
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/state-files/applied-marker", Fixture, NULL, fixture_set_up,
              test_applied_marker, fixture_tear_down);
  g_test_add ("/state-files/last-result", Fixture, NULL, fixture_set_up,
              test_last_result, fixture_tear_down);
  return g_test_run ();
}
