/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See temp-tree.h. */

#include "temp-tree.h"

#include "accounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

/* ---- fingerprints --------------------------------------------------- */

static const char *
file_type_name (mode_t mode)
{
  switch (mode & S_IFMT)
    {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "link";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "chardev";
    case S_IFBLK: return "blockdev";
    default: return "unknown";
    }
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The SHA-256 of the regular file @name in @dir_fd, read without
 * following a link (the entry was lstat'ed as a regular file). */
static char *
content_sha256 (int dir_fd, const char *name)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guchar buf[65536];
  ssize_t n;
  int fd = openat (dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

  if (fd < 0)
    return g_strdup_printf ("unreadable:%s", g_strerror (errno));
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_checksum_update (sum, buf, n);
  close (fd);
  if (n < 0)
    return g_strdup_printf ("unreadable:%s", g_strerror (errno));
  return g_strdup (g_checksum_get_string (sum));
}

static void
fingerprint_entry (GString *out, int dir_fd, const char *name, const char *rel)
{
  struct stat st;
  g_autofree char *escaped = g_strescape (rel, NULL);

  if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    {
      g_string_append_printf (out, "%s\tvanished:%s\n", escaped, g_strerror (errno));
      return;
    }
  g_string_append_printf (out, "%s\t%s %04o %u:%u %" G_GINT64_FORMAT, escaped,
                          file_type_name (st.st_mode), (unsigned) (st.st_mode & 07777),
                          (unsigned) st.st_uid, (unsigned) st.st_gid,
                          S_ISDIR (st.st_mode) ? (gint64) 0 : (gint64) st.st_size);
  if (S_ISREG (st.st_mode))
    {
      g_autofree char *sum = content_sha256 (dir_fd, name);
      g_string_append_printf (out, " sha256:%s\n", sum);
    }
  else if (S_ISLNK (st.st_mode))
    {
      char target[4096];
      ssize_t len = readlinkat (dir_fd, name, target, sizeof target - 1);
      g_autofree char *esc_target = NULL;

      target[len < 0 ? 0 : len] = '\0';
      esc_target = g_strescape (target, NULL);
      g_string_append_printf (out, " -> %s\n", esc_target);
    }
  else if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
    g_string_append_printf (out, " dev:%u:%u\n", major (st.st_rdev), minor (st.st_rdev));
  else
    g_string_append_c (out, '\n');

  if (S_ISDIR (st.st_mode))
    {
      int fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      DIR *dir;
      struct dirent *ent;

      if (fd < 0 || (dir = fdopendir (fd)) == NULL)
        {
          g_string_append_printf (out, "%s/\tunlistable:%s\n", escaped, g_strerror (errno));
          if (fd >= 0)
            close (fd);
          return;
        }
      while ((ent = readdir (dir)) != NULL)
        if (!g_str_equal (ent->d_name, ".") && !g_str_equal (ent->d_name, ".."))
          g_ptr_array_add (names, g_strdup (ent->d_name));
      g_ptr_array_sort (names, compare_strings);
      for (guint i = 0; i < names->len; i++)
        {
          const char *child = names->pdata[i];
          g_autofree char *child_rel = g_str_equal (rel, ".") ? g_strdup (child)
                                                              : g_strconcat (rel, "/", child, NULL);
          fingerprint_entry (out, dirfd (dir), child, child_rel);
        }
      closedir (dir);
    }
}

char *
temp_tree_fingerprint (const char *root)
{
  GString *out = g_string_new (NULL);
  int fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  /* The root itself by its descriptor: "." in it. */
  fingerprint_entry (out, fd, ".", ".");
  close (fd);
  return g_string_free (out, FALSE);
}

/* path -> the whole line, for every line of @fingerprint. */
static GHashTable *
fingerprint_index (const char *fingerprint, GPtrArray *paths)
{
  GHashTable *index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = g_strsplit (fingerprint, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *tab = strchr (lines[i], '\t');
      char *path;

      if (lines[i][0] == '\0')
        continue;
      path = tab ? g_strndup (lines[i], tab - lines[i]) : g_strdup (lines[i]);
      if (!g_hash_table_contains (index, path))
        g_ptr_array_add (paths, g_strdup (path));
      g_hash_table_replace (index, path, g_strdup (lines[i]));
    }
  return index;
}

char *
temp_tree_fingerprint_diff (const char *before, const char *after)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) was = fingerprint_index (before, paths);
  g_autoptr(GHashTable) now = fingerprint_index (after, paths);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GString *out = g_string_new (NULL);

  g_ptr_array_sort (paths, compare_strings);
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = paths->pdata[i];
      const char *a = g_hash_table_lookup (was, path);
      const char *b = g_hash_table_lookup (now, path);

      if (!g_hash_table_add (seen, (gpointer) path) || g_strcmp0 (a, b) == 0)
        continue;
      if (a)
        g_string_append_printf (out, "- %s\n", a);
      if (b)
        g_string_append_printf (out, "+ %s\n", b);
    }
  if (out->len == 0)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

void
temp_tree_assert_unchanged (const char *before, const char *dir)
{
  g_autofree char *after = temp_tree_fingerprint (dir);
  g_autofree char *diff = temp_tree_fingerprint_diff (before, after);

  if (diff != NULL)
    g_test_message ("%s changed:\n%s", dir, diff);
  g_assert_cmpstr (diff, ==, NULL);
}
