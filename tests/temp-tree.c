/* See temp-tree.h. */

#include "temp-tree.h"

#include "safe-fs.h"

#include <glib/gstdio.h>
#include <unistd.h>

char *
temp_tree_new (void)
{
  g_autoptr(GError) error = NULL;
  char *root = g_dir_make_tmp ("ntssetup-test-XXXXXX", &error);

  g_assert_no_error (error);
  return root;
}

void
temp_tree_write (const char *root, const char *path, const char *content, int mode)
{
  g_autofree char *host = g_build_filename (root, path, NULL);
  g_autofree char *dir = g_path_get_dirname (host);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (host, content, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (host, mode), ==, 0);
}

void
temp_tree_symlink (const char *root, const char *path, const char *target)
{
  g_autofree char *host = g_build_filename (root, path, NULL);
  g_autofree char *dir = g_path_get_dirname (host);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_cmpint (symlink (target, host), ==, 0);
}

void
temp_tree_remove (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  /* A link is removed, not entered. */
  if (g_file_test (path, G_FILE_TEST_IS_SYMLINK) || !g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_unlink (path);
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      temp_tree_remove (child);
    }
  g_rmdir (path);
}

gid_t
temp_tree_some_group (void)
{
  static const char *const names[] = { "daemon", "adm", "users", "nogroup", "bin", NULL };

  for (guint i = 0; names[i] != NULL; i++)
    {
      gid_t gid;

      if (nts_lookup_group (names[i], &gid, NULL) && gid != 0)
        return gid;
    }
  g_assert_not_reached ();
}
