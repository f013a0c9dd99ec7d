/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See safe-fs.h. Every operation first gets a descriptor for the parent
 * directory that was reached without following a link, then acts on one
 * name relative to it, so a link swapped in after a check is still never
 * followed. */

#include "safe-fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct _NtsRoot {
  gint      ref_count;
  int       fd;
  char     *host_path;
  gboolean  use_openat2;   /* cleared for good once the kernel says ENOSYS */
};

/* ---- paths and messages ---- */

gboolean
nts_guest_path_is_valid (const char *path)
{
  g_auto(GStrv) parts = NULL;

  if (path == NULL || path[0] != '/' || strlen (path) >= PATH_MAX)
    return FALSE;
  if (path[1] == '\0')
    return TRUE;
  parts = g_strsplit (path + 1, "/", -1);
  for (char **p = parts; *p != NULL; p++)
    if ((*p)[0] == '\0' || strcmp (*p, ".") == 0 || strcmp (*p, "..") == 0)
      return FALSE;
  return TRUE;
}

static gboolean
check_path (const char *path, const char *verb, GError **error)
{
  if (nts_guest_path_is_valid (path))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
               "cannot %s %s: not a canonical absolute path", verb,
               path != NULL ? path : "(null)");
  return FALSE;
}

/* After ELOOP or ENOTDIR, which component is to blame? Only for the
 * message: the operation has already been refused. */
static void
find_culprit (NtsRoot *root, const char *path, char **culprit, gboolean *is_link)
{
  g_autoptr(GString) prefix = g_string_new ("");
  g_auto(GStrv) parts = g_strsplit (path + 1, "/", -1);

  *culprit = NULL;
  *is_link = FALSE;
  for (char **p = parts; *p != NULL; p++)
    {
      struct stat st;

      g_string_append_c (prefix, '/');
      g_string_append (prefix, *p);
      if (fstatat (root->fd, prefix->str + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
      if (S_ISLNK (st.st_mode))
        {
          *culprit = g_strdup (prefix->str);
          *is_link = TRUE;
          return;
        }
      if (!S_ISDIR (st.st_mode) && p[1] != NULL)
        {
          *culprit = g_strdup (prefix->str);
          return;
        }
    }
}

static gboolean
fail_errno (GError    **error,
            NtsRoot    *root,
            int         saved_errno,
            const char *verb,
            const char *path)
{
  if (saved_errno == ELOOP || saved_errno == ENOTDIR || saved_errno == EXDEV)
    {
      g_autofree char *culprit = NULL;
      gboolean is_link;

      find_culprit (root, path, &culprit, &is_link);
      if (culprit != NULL && is_link)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS,
                       "cannot %s %s: %s is a symbolic link; refusing to follow it",
                       verb, path, culprit);
          return FALSE;
        }
      if (culprit != NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                       "cannot %s %s: %s is not a directory", verb, path, culprit);
          return FALSE;
        }
    }
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "cannot %s %s: %s", verb, path, g_strerror (saved_errno));
  return FALSE;
}

/* ---- the root ---- */

NtsRoot *
nts_root_open (const char *host_path, GError **error)
{
  g_autoptr(NtsRoot) root = NULL;

  g_return_val_if_fail (host_path != NULL, NULL);

  root = g_new0 (NtsRoot, 1);
  root->ref_count = 1;
  root->fd = -1;
  root->host_path = g_strdup (host_path[0] != '\0' ? host_path : "/");
  root->use_openat2 = TRUE;
  root->fd = open (root->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root->fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot open the root directory %s: %s", root->host_path,
                   g_strerror (saved_errno));
      return NULL;
    }
  return g_steal_pointer (&root);
}

NtsRoot *
nts_root_ref (NtsRoot *root)
{
  g_return_val_if_fail (root != NULL, NULL);
  g_atomic_int_inc (&root->ref_count);
  return root;
}

void
nts_root_unref (NtsRoot *root)
{
  if (root == NULL || !g_atomic_int_dec_and_test (&root->ref_count))
    return;
  if (root->fd >= 0)
    close (root->fd);
  g_free (root->host_path);
  g_free (root);
}

const char *
nts_root_get_host_path (NtsRoot *root)
{
  return root->host_path;
}

void
nts_root_set_use_openat2 (NtsRoot *root, gboolean use_openat2)
{
  root->use_openat2 = use_openat2;
}

/* A directory beneath the root, by @rel ("" for the root itself, else
 * "etc/chrony"), or -1 with errno set. */
static int
open_dir_beneath (NtsRoot *root, const char *rel)
{
  g_auto(GStrv) parts = NULL;
  int fd;

  if (root->use_openat2)
    {
      struct open_how how = {
        .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
      };

      do
        fd = syscall (SYS_openat2, root->fd, rel[0] != '\0' ? rel : ".", &how, sizeof how);
      while (fd < 0 && (errno == EINTR || errno == EAGAIN));
      if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return fd;
      /* No openat2 here (old kernel, or a seccomp filter that denies
       * unknown calls): the walk below is as safe, just slower. */
      root->use_openat2 = FALSE;
    }

  fd = fcntl (root->fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0 || rel[0] == '\0')
    return fd;
  parts = g_strsplit (rel, "/", -1);
  for (char **p = parts; *p != NULL; p++)
    {
      int next = openat (fd, *p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int saved_errno = errno;

      close (fd);
      if (next < 0)
        {
          errno = saved_errno;
          return -1;
        }
      fd = next;
    }
  return fd;
}

int
nts_root_open_dir (NtsRoot *root, const char *dir, const char *verb, GError **error)
{
  int fd;

  if (!check_path (dir, verb, error))
    return -1;
  fd = open_dir_beneath (root, dir + 1);
  if (fd < 0)
    fail_errno (error, root, errno, verb, dir);
  return fd;
}

int
nts_root_open_parent (NtsRoot     *root,
                      const char  *path,
                      const char  *verb,
                      char       **name,
                      GError     **error)
{
  g_autofree char *rel_dir = NULL;
  const char *slash;
  int fd;

  if (!check_path (path, verb, error))
    return -1;
  if (path[1] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                   "cannot %s /: it has no parent directory", verb);
      return -1;
    }
  slash = strrchr (path, '/');
  rel_dir = slash == path ? g_strdup ("") : g_strndup (path + 1, slash - path - 1);
  fd = open_dir_beneath (root, rel_dir);
  if (fd < 0)
    {
      fail_errno (error, root, errno, verb, path);
      return -1;
    }
  if (name != NULL)
    *name = g_strdup (slash + 1);
  return fd;
}

/* Like nts_root_open_parent(), but a missing parent is reported through
 * *@missing instead of an error (reads and lstat treat it as "absent"). */
static int
open_parent_or_missing (NtsRoot     *root,
                        const char  *path,
                        const char  *verb,
                        char       **name,
                        gboolean    *missing,
                        GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  int fd = nts_root_open_parent (root, path, verb, name, &local_error);

  *missing = FALSE;
  if (fd < 0 && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    *missing = TRUE;
  else if (fd < 0)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return fd;
}

/* ---- reading ---- */

void
nts_file_data_free (NtsFileData *data)
{
  if (data == NULL)
    return;
  g_clear_pointer (&data->content, g_bytes_unref);
  g_free (data);
}

static gboolean
refuse_type (GError **error, const char *verb, const char *path, mode_t mode)
{
  const char *what = S_ISDIR (mode) ? "a directory" :
                     S_ISFIFO (mode) ? "a FIFO" :
                     S_ISCHR (mode) || S_ISBLK (mode) ? "a device" :
                     S_ISSOCK (mode) ? "a socket" : "not a regular file";

  /* Same words as for a link in a parent, so callers see one message. */
  if (S_ISLNK (mode))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS,
                 "cannot %s %s: %s is a symbolic link; refusing to follow it",
                 verb, path, path);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                 "cannot %s %s: it is %s, not a regular file", verb, path, what);
  return FALSE;
}

NtsFileData *
nts_root_read (NtsRoot *root, const char *path, gsize max_size, GError **error)
{
  g_autoptr(NtsFileData) data = g_new0 (NtsFileData, 1);
  g_autofree char *name = NULL;
  g_autofree char *buffer = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;
  g_auto(NtsSafeFd) fd = -1;
  gboolean missing;
  struct stat before, st;
  gsize filled = 0;

  if (max_size == 0)
    max_size = NTS_ROOT_READ_MAX;
  dir_fd = open_parent_or_missing (root, path, "read", &name, &missing, error);
  if (missing)
    return g_steal_pointer (&data);
  if (dir_fd < 0)
    return NULL;

  /* Look before opening: opening a device node can have effects of its
   * own, and a FIFO could block. */
  if (fstatat (dir_fd, name, &before, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return g_steal_pointer (&data);
      fail_errno (error, root, errno, "read", path);
      return NULL;
    }
  if (!S_ISREG (before.st_mode))
    {
      refuse_type (error, "read", path, before.st_mode);
      return NULL;
    }

  fd = openat (dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return g_steal_pointer (&data);
      fail_errno (error, root, errno, "read", path);
      return NULL;
    }
  if (fstat (fd, &st) < 0)
    {
      fail_errno (error, root, errno, "read", path);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      refuse_type (error, "read", path, st.st_mode);
      return NULL;
    }

  /* Read one byte past the limit: the size fstat reports can change while
   * we read, what we actually got can't. */
  buffer = g_malloc (max_size + 1);
  for (;;)
    {
      gssize got = read (fd, buffer + filled, max_size + 1 - filled);

      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        {
          fail_errno (error, root, errno, "read", path);
          return NULL;
        }
      if (got == 0)
        break;
      filled += got;
      if (filled > max_size)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "cannot read %s: it is larger than %" G_GSIZE_FORMAT " bytes",
                       path, max_size);
          return NULL;
        }
    }

  data->exists = TRUE;
  data->content = g_bytes_new_take (g_steal_pointer (&buffer), filled);
  data->uid = st.st_uid;
  data->gid = st.st_gid;
  data->mode = st.st_mode & 07777;
  return g_steal_pointer (&data);
}

gboolean
nts_root_get_contents (NtsRoot     *root,
                       const char  *path,
                       gsize        max_size,
                       char       **contents,
                       gsize       *length,
                       GError     **error)
{
  g_autoptr(NtsFileData) data = nts_root_read (root, path, max_size, error);
  gsize size;

  if (data == NULL)
    return FALSE;
  if (!data->exists)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "cannot read %s: No such file or directory", path);
      return FALSE;
    }
  size = g_bytes_get_size (data->content);
  *contents = g_malloc (size + 1);
  memcpy (*contents, g_bytes_get_data (data->content, NULL), size);
  (*contents)[size] = '\0';
  if (length != NULL)
    *length = size;
  return TRUE;
}

gboolean
nts_root_read_found_other (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
}

gboolean
nts_root_lstat (NtsRoot     *root,
                const char  *path,
                struct stat *st,
                gboolean    *exists,
                GError     **error)
{
  g_autofree char *name = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;
  struct stat local;
  gboolean missing;

  *exists = FALSE;
  if (!check_path (path, "stat", error))
    return FALSE;
  if (path[1] == '\0')
    {
      if (fstat (root->fd, st != NULL ? st : &local) < 0)
        return fail_errno (error, root, errno, "stat", path);
      *exists = TRUE;
      return TRUE;
    }
  dir_fd = open_parent_or_missing (root, path, "stat", &name, &missing, error);
  if (missing)
    return TRUE;
  if (dir_fd < 0)
    return FALSE;
  if (fstatat (dir_fd, name, st != NULL ? st : &local, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return fail_errno (error, root, errno, "stat", path);
    }
  *exists = TRUE;
  return TRUE;
}

/* ---- writing ---- */

static gboolean
write_all (int fd, const guint8 *data, gsize length)
{
  while (length > 0)
    {
      gssize done = write (fd, data, MIN (length, (gsize) G_MAXSSIZE));

      if (done < 0 && errno == EINTR)
        continue;
      if (done < 0)
        return FALSE;
      data += done;
      length -= done;
    }
  return TRUE;
}

gboolean
nts_root_write_atomic (NtsRoot     *root,
                       const char  *path,
                       const void  *data,
                       gsize        length,
                       uid_t        uid,
                       gid_t        gid,
                       guint        mode,
                       GError     **error)
{
  g_autofree char *name = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;

  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail ((mode & ~07777) == 0, FALSE);

  dir_fd = nts_root_open_parent (root, path, "write", &name, error);
  if (dir_fd < 0)
    return FALSE;
  return nts_root_write_atomic_at (root, dir_fd, path, name, data, length, uid, gid, mode,
                                   error);
}

gboolean
nts_root_write_atomic_at (NtsRoot *root, int dir_fd, const char *path, const char *name,
                          const void *data, gsize length, uid_t uid, gid_t gid, guint mode,
                          GError **error)
{
  g_autofree char *temp = NULL;
  g_auto(NtsSafeFd) fd = -1;
  struct stat st;
  int saved_errno;

  g_return_val_if_fail (dir_fd >= 0 && path != NULL, FALSE);
  g_return_val_if_fail (name != NULL && name[0] != '\0' && strchr (name, '/') == NULL &&
                          strcmp (name, ".") != 0 && strcmp (name, "..") != 0,
                        FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail ((mode & ~07777) == 0, FALSE);

  /* rename() would replace a link rather than follow it, but a link, a
   * directory or a device where a file belongs means something is wrong:
   * refuse and say what is there. */
  if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG (st.st_mode))
    return refuse_type (error, "write", path, st.st_mode);

  /* The temp file starts 0600 and only gets its real owner and mode once
   * its content is complete. A name starting with '.' and ending in our
   * marker is recognisable if a power loss ever leaves one behind. */
  for (guint attempt = 0; fd < 0; attempt++)
    {
      g_free (temp);
      temp = g_strdup_printf (".%.200s.ntssetup-%08x", name, g_random_int ());
      fd = openat (dir_fd, temp,
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
      if (fd < 0 && (errno != EEXIST || attempt >= 100))
        return fail_errno (error, root, errno, "write", path);
    }

  if (!write_all (fd, data, length) ||
      fchown (fd, uid, gid) < 0 ||
      fchmod (fd, mode) < 0 ||
      fsync (fd) < 0)
    goto fail;
  /* close() can report a deferred write error (NFS); don't rename then. */
  {
    int to_close = fd;

    fd = -1;
    if (close (to_close) < 0 && errno != EINTR)
      goto fail;
  }
  if (renameat (dir_fd, temp, dir_fd, name) < 0)
    goto fail;
  g_clear_pointer (&temp, g_free);
  if (fsync (dir_fd) < 0)
    return fail_errno (error, root, errno, "write", path);
  return TRUE;

fail:
  saved_errno = errno;
  if (temp != NULL)
    unlinkat (dir_fd, temp, 0);
  return fail_errno (error, root, saved_errno, "write", path);
}

gboolean
nts_root_remove (NtsRoot *root, const char *path, gboolean *existed, GError **error)
{
  g_autofree char *name = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;
  gboolean missing;
  struct stat st;

  if (existed != NULL)
    *existed = FALSE;
  dir_fd = open_parent_or_missing (root, path, "remove", &name, &missing, error);
  if (missing)
    return TRUE;
  if (dir_fd < 0)
    return FALSE;
  if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? TRUE : fail_errno (error, root, errno, "remove", path);
  if (S_ISDIR (st.st_mode))
    return refuse_type (error, "remove", path, st.st_mode);
  /* Removing a link (not its target) is harmless and is what a restore of
   * "this file did not exist" means. */
  if (unlinkat (dir_fd, name, 0) < 0)
    return errno == ENOENT ? TRUE : fail_errno (error, root, errno, "remove", path);
  if (fsync (dir_fd) < 0)
    return fail_errno (error, root, errno, "remove", path);
  if (existed != NULL)
    *existed = TRUE;
  return TRUE;
}

/* ---- directories ---- */

static gboolean
make_one_dir (NtsRoot     *root,
              const char  *path,
              uid_t        uid,
              gid_t        gid,
              guint        mode,
              gboolean     set_attributes,
              GError     **error)
{
  g_autofree char *name = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;
  g_auto(NtsSafeFd) fd = -1;
  gboolean created = FALSE;
  struct stat st;

  dir_fd = nts_root_open_parent (root, path, "create directory", &name, error);
  if (dir_fd < 0)
    return FALSE;
  /* 0700 until owner and mode are right: nobody else gets in between. */
  if (mkdirat (dir_fd, name, 0700) == 0)
    created = TRUE;
  else if (errno != EEXIST)
    return fail_errno (error, root, errno, "create directory", path);
  if (!created && !set_attributes)
    return TRUE;

  fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR (st.st_mode))
        return refuse_type (error, "create directory", path, st.st_mode);
      return fail_errno (error, root, saved_errno, "create directory", path);
    }
  if (fchown (fd, uid, gid) < 0 || fchmod (fd, mode) < 0 || fsync (fd) < 0)
    return fail_errno (error, root, errno, "create directory", path);
  if (created && fsync (dir_fd) < 0)
    return fail_errno (error, root, errno, "create directory", path);
  return TRUE;
}

gboolean
nts_root_ensure_dir (NtsRoot     *root,
                     const char  *path,
                     uid_t        uid,
                     gid_t        gid,
                     guint        mode,
                     gboolean     make_parents,
                     GError     **error)
{
  g_return_val_if_fail ((mode & ~07777) == 0, FALSE);

  if (!check_path (path, "create directory", error))
    return FALSE;
  if (path[1] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                   "cannot create directory /: it is the root");
      return FALSE;
    }
  if (make_parents)
    {
      for (const char *slash = strchr (path + 1, '/'); slash != NULL; slash = strchr (slash + 1, '/'))
        {
          g_autofree char *parent = g_strndup (path, slash - path);

          if (!make_one_dir (root, parent, 0, 0, 0755, FALSE, error))
            return FALSE;
        }
    }
  return make_one_dir (root, path, uid, gid, mode, TRUE, error);
}

gboolean
nts_root_remove_empty_dir (NtsRoot *root, const char *path, GError **error)
{
  g_autofree char *name = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;
  gboolean missing;

  dir_fd = open_parent_or_missing (root, path, "remove directory", &name, &missing, error);
  if (missing)
    return TRUE;
  if (dir_fd < 0)
    return FALSE;
  if (unlinkat (dir_fd, name, AT_REMOVEDIR) < 0)
    return errno == ENOENT ? TRUE : fail_errno (error, root, errno, "remove directory", path);
  if (fsync (dir_fd) < 0)
    return fail_errno (error, root, errno, "remove directory", path);
  return TRUE;
}

gboolean
nts_root_remove_dir_if_empty (NtsRoot *root, const char *path, GError **error)
{
  GError *local = NULL;

  if (nts_root_remove_empty_dir (root, path, &local))
    return TRUE;
  if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_EMPTY) ||
      g_error_matches (local, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      g_error_free (local);
      return TRUE;
    }
  g_propagate_error (error, local);
  return FALSE;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
nts_root_list_dir (NtsRoot *root, const char *path, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  DIR *dir;
  int fd = nts_root_open_dir (root, path, "list", error);
  struct dirent *entry;

  if (fd < 0)
    return NULL;
  dir = fdopendir (fd);
  if (dir == NULL)
    {
      int saved_errno = errno;

      close (fd);
      fail_errno (error, root, saved_errno, "list", path);
      return NULL;
    }
  errno = 0;
  while ((entry = readdir (dir)) != NULL)
    {
      if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
        g_ptr_array_add (names, g_strdup (entry->d_name));
      errno = 0;
    }
  if (errno != 0)
    {
      int saved_errno = errno;

      closedir (dir);
      fail_errno (error, root, saved_errno, "list", path);
      return NULL;
    }
  closedir (dir);
  g_ptr_array_sort (names, compare_names);
  return g_steal_pointer (&names);
}
