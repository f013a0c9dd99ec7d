/* See temp-tree.h. */

#include "temp-tree.h"

#include "safe-fs.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
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

/* ---- fingerprints ---- */

struct _TempTreeFingerprint {
  GHashTable *entries;   /* relative path -> description */
};

static char *
describe (const char *path, const struct stat *st)
{
  const char *type = S_ISREG (st->st_mode) ? "file" : S_ISDIR (st->st_mode) ? "dir"
                     : S_ISLNK (st->st_mode) ? "link" : S_ISFIFO (st->st_mode) ? "fifo"
                     : S_ISSOCK (st->st_mode) ? "socket" : "device";
  g_autofree char *extra = NULL;

  if (S_ISREG (st->st_mode))
    {
      g_autofree char *content = NULL;
      gsize length = 0;
      g_autoptr(GError) error = NULL;

      g_file_get_contents (path, &content, &length, &error);
      g_assert_no_error (error);
      extra = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) content, length);
    }
  else if (S_ISLNK (st->st_mode))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *target = g_file_read_link (path, &error);

      g_assert_no_error (error);
      extra = g_strconcat ("-> ", target, NULL);
    }
  return g_strdup_printf ("%s %04o %u:%u size %" G_GUINT64_FORMAT "%s%s", type,
                          (guint) (st->st_mode & 07777), (guint) st->st_uid, (guint) st->st_gid,
                          S_ISDIR (st->st_mode) ? (guint64) 0 : (guint64) st->st_size,
                          extra != NULL ? " " : "", extra != NULL ? extra : "");
}

static void
fingerprint_walk (GHashTable *entries, const char *base, const char *rel)
{
  g_autofree char *path = g_build_filename (base, rel, NULL);
  g_autoptr(GDir) dir = NULL;
  struct stat st;
  const char *name;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_hash_table_insert (entries, g_strdup (rel), describe (path, &st));
  if (!S_ISDIR (st.st_mode))
    return;
  dir = g_dir_open (path, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_str_equal (rel, ".") ? g_strdup (name)
                                                      : g_build_filename (rel, name, NULL);
      fingerprint_walk (entries, base, child);
    }
}

TempTreeFingerprint *
temp_tree_fingerprint (const char *dir)
{
  TempTreeFingerprint *fingerprint = g_new0 (TempTreeFingerprint, 1);

  fingerprint->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  fingerprint_walk (fingerprint->entries, dir, ".");
  return fingerprint;
}

void
temp_tree_fingerprint_free (TempTreeFingerprint *fingerprint)
{
  if (fingerprint == NULL)
    return;
  g_hash_table_unref (fingerprint->entries);
  g_free (fingerprint);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char *
temp_tree_fingerprint_diff (const TempTreeFingerprint *before, const TempTreeFingerprint *after)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();
  g_autoptr(GString) out = g_string_new (NULL);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, before->entries);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (paths, key);
  g_hash_table_iter_init (&iter, after->entries);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (before->entries, key))
      g_ptr_array_add (paths, key);
  g_ptr_array_sort (paths, compare_strings);

  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = paths->pdata[i];
      const char *was = g_hash_table_lookup (before->entries, path);
      const char *now = g_hash_table_lookup (after->entries, path);

      if (was == NULL)
        g_string_append_printf (out, "+ %s: %s\n", path, now);
      else if (now == NULL)
        g_string_append_printf (out, "- %s: %s\n", path, was);
      else if (!g_str_equal (was, now))
        g_string_append_printf (out, "~ %s: %s -> %s\n", path, was, now);
    }
  if (out->len == 0)
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

void
temp_tree_assert_unchanged (const TempTreeFingerprint *before, const char *dir)
{
  g_autoptr(TempTreeFingerprint) after = temp_tree_fingerprint (dir);
  g_autofree char *diff = temp_tree_fingerprint_diff (before, after);

  if (diff != NULL)
    g_test_message ("%s changed:\n%s", dir, diff);
  g_assert_cmpstr (diff, ==, NULL);
}
