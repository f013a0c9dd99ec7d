/* See root-read.h. Each directory is opened relative to the previous one
 * with O_NOFOLLOW, so the check and the use can't race: a link swapped in
 * after we looked is still refused. */

#include "root-read.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* g_autofd arrived in GLib 2.76; we target 2.74. */
typedef int NtsFd;
static void
close_fd (int fd)
{
  close (fd);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (NtsFd, close_fd, -1)

static gboolean
fail_errno (GError **error, int saved_errno, const char *root, const char *path)
{
  /* ELOOP is what O_NOFOLLOW gives for a symbolic link; say so plainly. */
  if (saved_errno == ELOOP)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS,
                 "%s (root %s): a component is a symbolic link; refusing to "
                 "follow it", path, root);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 "%s (root %s): %s", path, root, g_strerror (saved_errno));
  return FALSE;
}

gboolean
nts_root_read_file (const char  *root,
                    const char  *path,
                    gsize        max_size,
                    char       **contents,
                    gsize       *length,
                    GError     **error)
{
  g_auto(GStrv) parts = NULL;
  g_autofree char *buffer = NULL;
  g_auto(NtsFd) dir_fd = -1;
  g_auto(NtsFd) fd = -1;
  gsize n_parts, filled = 0;
  struct stat st;

  g_return_val_if_fail (root != NULL && path != NULL && path[0] == '/', FALSE);
  g_return_val_if_fail (contents != NULL, FALSE);

  parts = g_strsplit (path + 1, "/", -1);
  n_parts = g_strv_length (parts);
  for (gsize i = 0; i < n_parts; i++)
    if (parts[i][0] == '\0' || strcmp (parts[i], ".") == 0 || strcmp (parts[i], "..") == 0)
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                     "%s: not a canonical absolute path", path);
        return FALSE;
      }

  /* The root itself is the daemon's own choice and may be a link. */
  dir_fd = open (root[0] != '\0' ? root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return fail_errno (error, errno, root, path);

  for (gsize i = 0; i + 1 < n_parts; i++)
    {
      int next = openat (dir_fd, parts[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

      if (next < 0)
        {
          int saved_errno = errno;
          struct stat link_st;

          /* O_DIRECTORY reports a link as "not a directory": name it. */
          if (saved_errno == ENOTDIR &&
              fstatat (dir_fd, parts[i], &link_st, AT_SYMLINK_NOFOLLOW) == 0 &&
              S_ISLNK (link_st.st_mode))
            saved_errno = ELOOP;
          return fail_errno (error, saved_errno, root, path);
        }
      close (dir_fd);
      dir_fd = next;
    }

  /* O_NONBLOCK: a FIFO planted here must not hang the service. */
  fd = openat (dir_fd, parts[n_parts - 1],
               O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return fail_errno (error, errno, root, path);
  if (fstat (fd, &st) < 0)
    return fail_errno (error, errno, root, path);
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   "%s (root %s) is not a regular file", path, root);
      return FALSE;
    }

  /* Read up to one byte past the limit: the size fstat reports can change
   * while we read, what we actually got can't. */
  buffer = g_malloc (max_size + 2);
  for (;;)
    {
      gssize got = read (fd, buffer + filled, max_size + 1 - filled);

      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        return fail_errno (error, errno, root, path);
      if (got == 0)
        break;
      filled += got;
      if (filled > max_size)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "%s (root %s) is larger than %" G_GSIZE_FORMAT " bytes",
                       path, root, max_size);
          return FALSE;
        }
    }

  buffer[filled] = '\0';
  *contents = g_steal_pointer (&buffer);
  if (length != NULL)
    *length = filled;
  return TRUE;
}
