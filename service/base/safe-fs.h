/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every file operation the transaction does on the managed system, under
 * the daemon's --root, by directory descriptor, never following a
 * symbolic link in any component.
 *
 * Why: ntssetupd runs as root and writes under /etc and /var, where a link
 * planted by anyone who can write one directory (chronyd's own user owns
 * its log directory) must not redirect a root write or chown to another
 * file, and under a test root an absolute link would leave the root.
 *
 * Paths given to these functions are "guest" paths, as seen on the managed
 * system: absolute, canonical ("/etc/chrony/chrony.conf"; no "//", ".",
 * ".." or trailing "/"). Parents are opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS); where the kernel lacks
 * openat2 (ENOSYS, or a seccomp filter saying EPERM) each component is
 * opened relative to the previous one with O_NOFOLLOW | O_DIRECTORY.
 * Nothing here recurses into a directory: no tree is ever walked, chowned
 * or removed, so a directory another user owns is never descended.
 *
 * Errors are G_IO_ERROR, and every message names the operation, the guest
 * path and the cause: "cannot write /etc/chrony/chrony.conf: /etc/chrony
 * is a symbolic link" (G_IO_ERROR_TOO_MANY_LINKS), "...: No space left on
 * device" (G_IO_ERROR_NO_SPACE), "...: Read-only file system"
 * (G_IO_ERROR_READ_ONLY). */
#pragma once

#include <gio/gio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

G_BEGIN_DECLS

/* A file descriptor closed when it goes out of scope (-1: none):
 * g_autofd arrived in GLib 2.76; we target 2.74. */
typedef int NtsSafeFd;
static inline void
nts_safe_fd_close (int fd)
{
  close (fd);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (NtsSafeFd, nts_safe_fd_close, -1)

/* Largest file nts_root_read() accepts unless told otherwise. */
#define NTS_ROOT_READ_MAX (1024 * 1024)

typedef struct _NtsRoot NtsRoot;

/* Opens @host_path (the daemon's --root, "/" in production) as a directory;
 * the root itself may be reached through links: it is the daemon's choice.
 * Every module that reads or writes the managed system does so through
 * this one handle; a layout and the caches built on it hold references. */
NtsRoot    *nts_root_open          (const char *host_path,
                                    GError    **error);
NtsRoot    *nts_root_ref           (NtsRoot    *root);
void        nts_root_unref         (NtsRoot    *root);
/* --root as given, for what must resolve a path as the rest of the system
 * does: running chronyd, connecting to its socket, glob(3), following
 * the links timedated follows, stamping a file by lstat(). What the
 * daemon itself reads or writes goes through the handle. */
const char *nts_root_get_host_path (NtsRoot    *root);
/* For tests: take the per-component fallback even where openat2 works. */
void        nts_root_set_use_openat2 (NtsRoot *root,
                                      gboolean use_openat2);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsRoot, nts_root_unref)

/* Whether @path is one these functions accept (absolute, canonical). */
gboolean nts_guest_path_is_valid (const char *path);

/* A directory descriptor (O_RDONLY | O_DIRECTORY | O_CLOEXEC) for @dir,
 * or for the parent of @path with its last component in *@name. The
 * caller closes it. @verb ("write", "read", ...) goes into messages. */
int nts_root_open_dir    (NtsRoot     *root,
                          const char  *dir,
                          const char  *verb,
                          GError     **error);
int nts_root_open_parent (NtsRoot     *root,
                          const char  *path,
                          const char  *verb,
                          char       **name,
                          GError     **error);

/* What a regular file held, or that it was absent. */
typedef struct {
  gboolean  exists;
  GBytes   *content;   /* NULL when absent */
  uid_t     uid;
  gid_t     gid;
  guint     mode;      /* permission bits, st_mode & 07777 */
} NtsFileData;

void nts_file_data_free (NtsFileData *data);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsFileData, nts_file_data_free)

/* Reads a regular file of at most @max_size bytes (0: NTS_ROOT_READ_MAX).
 * A missing file or missing parent directory is not an error: the result
 * has exists = FALSE. Refused: a link anywhere, a FIFO, device, socket or
 * directory (G_IO_ERROR_NOT_REGULAR_FILE), a larger file
 * (G_IO_ERROR_MESSAGE_TOO_LARGE). */
NtsFileData *nts_root_read (NtsRoot     *root,
                            const char  *path,
                            gsize        max_size,
                            GError     **error);

/* nts_root_read() for a reader that wants text: @path's content,
 * NUL-terminated, in *@contents (its length without the NUL in *@length,
 * which may be NULL). A missing file is G_IO_ERROR_NOT_FOUND here, as in
 * g_file_get_contents(); the other errors are nts_root_read()'s. */
gboolean nts_root_get_contents (NtsRoot     *root,
                                const char  *path,
                                gsize        max_size,
                                char       **contents,
                                gsize       *length,
                                GError     **error);

/* Whether @error from nts_root_read() says that something other than a
 * readable regular file is at the path (a link, a non-file, a file too
 * large), as opposed to a failure to look: for whoever compares a path
 * with what was noted of it, that is a difference, not a reason to fail. */
gboolean nts_root_read_found_other (const GError *error);

/* lstat without following anything; *@exists FALSE for a missing file
 * (or missing parent), which is not an error. @st may be NULL. */
gboolean nts_root_lstat (NtsRoot     *root,
                         const char  *path,
                         struct stat *st,
                         gboolean    *exists,
                         GError     **error);

/* Replaces (or creates) @path atomically: a uniquely named temp file in
 * the same directory, every byte written, fchown + fchmod on the
 * descriptor, fsync, renameat over @path, fsync of the directory. On any
 * failure the temp file is removed and @path is what it was before. A link,
 * directory or other non-regular file at @path is refused, not replaced.
 * The parent directory must exist. */
gboolean nts_root_write_atomic (NtsRoot     *root,
                                const char  *path,
                                const void  *data,
                                gsize        length,
                                uid_t        uid,
                                gid_t        gid,
                                guint        mode,
                                GError     **error);

/* The same, in the directory @dir_fd (from nts_root_open_dir()) under
 * @name, one component: for a caller that checked the directory itself
 * (its owner, its mode) on that descriptor and must write into the very
 * directory it checked. @path, the file's guest path, is for messages. */
gboolean nts_root_write_atomic_at (NtsRoot *root, int dir_fd, const char *path, const char *name,
                                   const void *data, gsize length, uid_t uid, gid_t gid,
                                   guint mode, GError **error);

/* Removes a file (never a directory) and fsyncs its directory. A missing
 * file is not an error; *@existed (may be NULL) says which it was. */
gboolean nts_root_remove (NtsRoot     *root,
                          const char  *path,
                          gboolean    *existed,
                          GError     **error);

/* Makes sure @path is a directory with @uid, @gid and @mode: mkdirat when
 * missing, then fchown + fchmod on a descriptor opened O_NOFOLLOW |
 * O_DIRECTORY (never chmod by path). With @make_parents, missing parents
 * are created 0755 root:root; existing ones are left as they are. */
gboolean nts_root_ensure_dir (NtsRoot     *root,
                              const char  *path,
                              uid_t        uid,
                              gid_t        gid,
                              guint        mode,
                              gboolean     make_parents,
                              GError     **error);

/* Removes an empty directory and fsyncs its parent; a missing one is fine. */
gboolean nts_root_remove_empty_dir (NtsRoot     *root,
                                    const char  *path,
                                    GError     **error);

/* The same, but a directory that is not empty stays, and that is no
 * error: the undo of a directory Apply made, where chronyd has since
 * written its logs. Removing it would mean walking what another user put
 * there, which nothing here does. */
gboolean nts_root_remove_dir_if_empty (NtsRoot     *root,
                                       const char  *path,
                                       GError     **error);

/* The entries of directory @path (no "." and ".."), sorted, or NULL on
 * error. A missing directory is an error (G_IO_ERROR_NOT_FOUND). */
GPtrArray *nts_root_list_dir (NtsRoot     *root,
                              const char  *path,
                              GError     **error);

G_END_DECLS
