/* SPDX-License-Identifier: GPL-2.0-or-later */
/* safe-fs: every operation in a temporary root, with links planted at the
 * file and at each parent, a full disk (a 64 KiB tmpfs), a read-only bind
 * mount, and files that are not regular. The symlink cases run twice: with
 * openat2 and with the per-component fallback.
 *
 * The mount cases need root and a mount namespace of their own (so a
 * crashed test leaves no mount behind); they are skipped without them. */

#include "safe-fs.h"
#include "temp-tree.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static gboolean have_mount_ns;

typedef struct {
  char    *host;      /* the temp root */
  char    *outside;   /* a directory beside it that must never change */
  NtsRoot *root;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean fallback = GPOINTER_TO_INT (data);

  f->host = temp_tree_new ();
  f->outside = temp_tree_new ();
  temp_tree_write (f->outside, "/chrony.conf", "outside\n", 0644);
  g_assert_cmpint (g_mkdir_with_parents (f->outside, 0755), ==, 0);
  f->root = nts_root_open (f->host, &error);
  g_assert_no_error (error);
  if (fallback)
    nts_root_set_use_openat2 (f->root, FALSE);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  nts_root_unref (f->root);
  temp_tree_remove (f->host);
  temp_tree_remove (f->outside);
  g_free (f->host);
  g_free (f->outside);
}

/* ---- helpers ---- */

static char *
host_path (Fixture *f, const char *guest)
{
  return g_build_filename (f->host, guest, NULL);
}

/* A real group other than root's, so ownership is really checked. */
static void
assert_content (Fixture *f, const char *guest, const char *expected)
{
  g_autofree char *host = host_path (f, guest);
  g_autofree char *content = NULL;

  g_assert_true (g_file_get_contents (host, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, expected);
}

/* No ".name.ntssetup-XXXXXXXX" left anywhere in @guest_dir. */
static void
assert_no_temp_files (Fixture *f, const char *guest_dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = nts_root_list_dir (f->root, guest_dir, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < names->len; i++)
    g_assert_null (strstr (names->pdata[i], ".ntssetup-"));
}

static void
assert_outside_untouched (Fixture *f)
{
  g_autoptr(GDir) dir = g_dir_open (f->outside, 0, NULL);
  g_autofree char *file = g_build_filename (f->outside, "chrony.conf", NULL);
  g_autofree char *content = NULL;
  struct stat st;
  guint n = 0;

  while (g_dir_read_name (dir) != NULL)
    n++;
  g_assert_cmpuint (n, ==, 1);
  g_assert_true (g_file_get_contents (file, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "outside\n");
  g_assert_cmpint (g_lstat (file, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0644);
  g_assert_cmpuint (st.st_gid, ==, getgid ());
}

static gboolean
write_text (Fixture *f, const char *guest, const char *text, gid_t gid, guint mode, GError **error)
{
  return nts_root_write_atomic (f->root, guest, text, strlen (text), 0, gid, mode, error);
}

static gboolean
need_mounts (void)
{
  if (getuid () != 0)
    {
      g_test_skip ("needs root");
      return FALSE;
    }
  if (!have_mount_ns)
    {
      g_test_skip ("no private mount namespace");
      return FALSE;
    }
  return TRUE;
}

/* ---- tests ---- */

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsFileData) read = NULL;
  g_autofree char *host = host_path (f, "/etc/chrony/chrony.conf");
  gid_t gid = temp_tree_some_group ();
  struct stat st;

  if (getuid () != 0)
    {
      g_test_skip ("needs root to chown");
      return;
    }
  temp_tree_write (f->host, "/etc/chrony/old", "x", 0644);

  g_assert_true (write_text (f, "/etc/chrony/chrony.conf", "server a nts\n", gid, 0640, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_lstat (host, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_uid, ==, 0);
  g_assert_cmpuint (st.st_gid, ==, gid);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0640);

  read = nts_root_read (f->root, "/etc/chrony/chrony.conf", 0, &error);
  g_assert_no_error (error);
  g_assert_true (read->exists);
  g_assert_cmpmem (g_bytes_get_data (read->content, NULL), g_bytes_get_size (read->content),
                   "server a nts\n", 13);
  g_assert_cmpuint (read->uid, ==, 0);
  g_assert_cmpuint (read->gid, ==, gid);
  g_assert_cmpuint (read->mode, ==, 0640);

  /* Replace: new content, new mode, binary-safe, empty too. */
  g_assert_true (nts_root_write_atomic (f->root, "/etc/chrony/chrony.conf", "a\0b", 3,
                                        0, 0, 0600, &error));
  g_assert_no_error (error);
  g_clear_pointer (&read, nts_file_data_free);
  read = nts_root_read (f->root, "/etc/chrony/chrony.conf", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (read->content, NULL), g_bytes_get_size (read->content), "a\0b", 3);
  g_assert_cmpuint (read->mode, ==, 0600);
  g_assert_cmpuint (read->gid, ==, 0);

  g_assert_true (nts_root_write_atomic (f->root, "/etc/chrony/empty", "", 0, 0, 0, 0644, &error));
  g_assert_no_error (error);
  assert_content (f, "/etc/chrony/empty", "");
  assert_no_temp_files (f, "/etc/chrony");
}

static void
test_absent_and_invalid (Fixture *f, gconstpointer data)
{
  static const char *const bad[] = {
    "", "etc/x", "/etc//x", "/etc/./x", "/etc/../x", "/etc/x/", "/..", NULL,
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsFileData) read = NULL;
  gboolean exists = TRUE, existed = TRUE;

  read = nts_root_read (f->root, "/etc/chrony/chrony.conf", 0, &error);
  g_assert_no_error (error);
  g_assert_false (read->exists);
  g_assert_null (read->content);
  g_assert_true (nts_root_lstat (f->root, "/no/such/thing", NULL, &exists, &error));
  g_assert_no_error (error);
  g_assert_false (exists);
  g_assert_true (nts_root_remove (f->root, "/etc/none", &existed, &error));
  g_assert_no_error (error);
  g_assert_false (existed);

  /* The parent must exist for a write: Apply creates directories itself. */
  g_assert_false (write_text (f, "/etc/chrony/chrony.conf", "x", 0, 0644, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==,
                   "cannot write /etc/chrony/chrony.conf: No such file or directory");
  g_clear_error (&error);

  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_clear_pointer (&read, nts_file_data_free);
      g_assert_false (nts_guest_path_is_valid (bad[i]));
      read = nts_root_read (f->root, bad[i], 0, &error);
      g_assert_null (read);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME);
      g_clear_error (&error);
      g_assert_false (write_text (f, bad[i], "x", 0, 0644, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME);
      g_clear_error (&error);
    }
}

static void
test_remove (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *host = host_path (f, "/etc/chrony.conf");
  gboolean existed = FALSE;

  temp_tree_write (f->host, "/etc/chrony.conf", "x", 0644);
  g_assert_true (nts_root_remove (f->root, "/etc/chrony.conf", &existed, &error));
  g_assert_no_error (error);
  g_assert_true (existed);
  g_assert_false (g_file_test (host, G_FILE_TEST_EXISTS));

  /* A directory is never removed by the file operation. */
  g_assert_cmpint (g_mkdir (host, 0755), ==, 0);
  g_assert_false (nts_root_remove (f->root, "/etc/chrony.conf", &existed, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_assert_true (g_file_test (host, G_FILE_TEST_IS_DIR));
}

/* A link at the file itself and at each parent: every operation refused,
 * the message names the link, nothing outside the root changes. */
static void
test_symlinks (Fixture *f, gconstpointer data)
{
  static const char *const at[] = { "/etc", "/etc/chrony", "/etc/chrony/chrony.conf" };
  const char *file = "/etc/chrony/chrony.conf";

  for (guint i = 0; i < G_N_ELEMENTS (at); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NtsFileData) read = NULL;
      g_autofree char *expected = g_strdup_printf ("%s is a symbolic link", at[i]);
      g_autofree char *target = (i == 2) ? g_build_filename (f->outside, "chrony.conf", NULL)
                                         : g_strdup (f->outside);
      g_autofree char *etc = host_path (f, "/etc");
      gboolean exists;

      temp_tree_remove (etc);
      if (i > 0)
        g_assert_cmpint (g_mkdir_with_parents (etc, 0755), ==, 0);
      if (i > 1)
        {
          g_autofree char *dir = host_path (f, "/etc/chrony");
          g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
        }
      temp_tree_symlink (f->host, at[i], target);

      g_assert_false (write_text (f, file, "planted\n", 0, 0600, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
      g_assert_true (g_str_has_prefix (error->message, "cannot write /etc/chrony/chrony.conf: "));
      g_assert_nonnull (strstr (error->message, expected));
      g_clear_error (&error);

      read = nts_root_read (f->root, file, 0, &error);
      g_assert_null (read);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
      g_assert_true (g_str_has_prefix (error->message, "cannot read /etc/chrony/chrony.conf: "));
      g_clear_error (&error);

      if (i < 2)
        {
          g_assert_false (nts_root_ensure_dir (f->root, "/etc/chrony/sub", 0, 0, 0700, TRUE, &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
          g_assert_nonnull (strstr (error->message, expected));
          g_clear_error (&error);
          g_assert_false (nts_root_remove (f->root, file, NULL, &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
          g_clear_error (&error);
          g_assert_false (nts_root_lstat (f->root, file, NULL, &exists, &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
          g_clear_error (&error);
        }
      else
        {
          /* A link where a directory should be is not a directory. */
          g_assert_false (nts_root_ensure_dir (f->root, file, 0, 0, 0700, FALSE, &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
          g_clear_error (&error);
          /* lstat sees the link itself, without following it. */
          struct stat st;
          g_assert_true (nts_root_lstat (f->root, file, &st, &exists, &error));
          g_assert_no_error (error);
          g_assert_true (exists);
          g_assert_true (S_ISLNK (st.st_mode));
        }
      assert_outside_untouched (f);
    }

  /* A relative link climbing out is refused the same way. */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *etc = host_path (f, "/etc");

    temp_tree_remove (etc);
    temp_tree_symlink (f->host, "/etc", "../..");
    g_assert_false (write_text (f, file, "planted\n", 0, 0600, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
    assert_outside_untouched (f);
  }
}

static void
test_not_regular (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fifo = host_path (f, "/etc/fifo");
  g_autofree char *dev = host_path (f, "/etc/null");
  g_autofree char *dir = host_path (f, "/etc/dir");
  NtsFileData *read;

  temp_tree_write (f->host, "/etc/file", "x", 0644);
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);

  read = nts_root_read (f->root, "/etc/fifo", 0, &error);
  g_assert_null (read);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_assert_cmpstr (error->message, ==, "cannot read /etc/fifo: it is a FIFO, not a regular file");
  g_clear_error (&error);

  read = nts_root_read (f->root, "/etc/dir", 0, &error);
  g_assert_null (read);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_clear_error (&error);

  /* Nor is anything written over them. */
  g_assert_false (write_text (f, "/etc/fifo", "x", 0, 0644, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_clear_error (&error);
  g_assert_false (write_text (f, "/etc/dir", "x", 0, 0644, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_clear_error (&error);
  g_assert_false (write_text (f, "/etc/file/x", "x", 0, 0644, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY);
  g_assert_cmpstr (error->message, ==, "cannot write /etc/file/x: /etc/file is not a directory");
  g_clear_error (&error);

  if (mknod (dev, S_IFCHR | 0666, makedev (1, 3)) == 0)
    {
      read = nts_root_read (f->root, "/etc/null", 0, &error);
      g_assert_null (read);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
      g_assert_cmpstr (error->message, ==, "cannot read /etc/null: it is a device, not a regular file");
    }
  else
    g_test_message ("mknod: %s; device case not run", g_strerror (errno));
}

static void
test_size_bound (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *big = g_malloc0 (NTS_ROOT_READ_MAX + 1);
  NtsFileData *read;

  temp_tree_write (f->host, "/etc/fifty", "0123456789012345678901234567890123456789012345678\n", 0644);
  read = nts_root_read (f->root, "/etc/fifty", 50, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (read->content), ==, 50);
  nts_file_data_free (read);
  read = nts_root_read (f->root, "/etc/fifty", 49, &error);
  g_assert_null (read);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_cmpstr (error->message, ==, "cannot read /etc/fifty: it is larger than 49 bytes");
  g_clear_error (&error);

  g_assert_true (nts_root_write_atomic (f->root, "/etc/big", big, NTS_ROOT_READ_MAX + 1,
                                        0, 0, 0600, &error));
  g_assert_no_error (error);
  read = nts_root_read (f->root, "/etc/big", 0, &error);
  g_assert_null (read);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
}

static void
test_ensure_dir (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *state = host_path (f, "/var/lib/ntssetup");
  g_autofree char *lib = host_path (f, "/var/lib");
  g_autofree char *log = host_path (f, "/var/log/chrony");
  gid_t gid = temp_tree_some_group ();
  struct stat st;

  if (getuid () != 0)
    {
      g_test_skip ("needs root to chown");
      return;
    }
  g_assert_true (nts_root_ensure_dir (f->root, "/var/lib/ntssetup", 0, 0, 0700, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_lstat (state, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  g_assert_cmpint (g_lstat (lib, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0755);

  /* An existing directory gets the owner and mode it should have. */
  g_assert_cmpint (g_mkdir_with_parents (log, 0777), ==, 0);
  g_assert_cmpint (g_chmod (log, 0777), ==, 0);
  g_assert_true (nts_root_ensure_dir (f->root, "/var/log/chrony", 1, gid, 0750, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_lstat (log, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0750);
  g_assert_cmpuint (st.st_uid, ==, 1);
  g_assert_cmpuint (st.st_gid, ==, gid);

  /* Without make_parents, a missing parent is an error. */
  g_assert_false (nts_root_ensure_dir (f->root, "/opt/x/y", 0, 0, 0700, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A file where the directory should be is refused, not replaced. */
  temp_tree_write (f->host, "/var/run", "x", 0644);
  g_assert_false (nts_root_ensure_dir (f->root, "/var/run", 0, 0, 0755, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_clear_error (&error);

  g_assert_true (nts_root_remove_empty_dir (f->root, "/var/lib/ntssetup", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));
}

/* A write that runs out of space midway: the old file stays, byte for
 * byte, and no temp file is left. */
static void
test_disk_full (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = host_path (f, "/etc/chrony");
  gsize big_size = 256 * 1024;
  g_autofree char *big = g_malloc (big_size);

  if (!need_mounts ())
    return;
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  if (mount ("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0755") < 0)
    {
      g_autofree char *why = g_strdup_printf ("mount tmpfs: %s", g_strerror (errno));
      g_test_skip (why);
      return;
    }
  memset (big, 'x', big_size);
  g_assert_true (write_text (f, "/etc/chrony/chrony.conf", "old content\n", 0, 0644, &error));
  g_assert_no_error (error);

  g_assert_false (nts_root_write_atomic (f->root, "/etc/chrony/chrony.conf", big, big_size,
                                         0, 0, 0644, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_cmpstr (error->message, ==,
                   "cannot write /etc/chrony/chrony.conf: No space left on device");
  assert_content (f, "/etc/chrony/chrony.conf", "old content\n");
  assert_no_temp_files (f, "/etc/chrony");
  g_assert_cmpint (umount2 (dir, MNT_DETACH), ==, 0);
}

/* A read-only bind mount of the config directory: root ignores mode bits,
 * not a read-only mount. */
static void
test_read_only (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = host_path (f, "/etc/chrony");
  g_autoptr(NtsFileData) read = NULL;

  if (!need_mounts ())
    return;
  temp_tree_write (f->host, "/etc/chrony/chrony.conf", "old content\n", 0644);
  if (mount (dir, dir, NULL, MS_BIND, NULL) < 0 ||
      mount (NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
    {
      g_autofree char *why = g_strdup_printf ("read-only bind mount: %s", g_strerror (errno));
      g_test_skip (why);
      return;
    }

  g_assert_false (write_text (f, "/etc/chrony/chrony.conf", "new\n", 0, 0644, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_assert_cmpstr (error->message, ==, "cannot write /etc/chrony/chrony.conf: Read-only file system");
  g_clear_error (&error);
  g_assert_false (nts_root_remove (f->root, "/etc/chrony/chrony.conf", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);
  g_assert_false (nts_root_ensure_dir (f->root, "/etc/chrony/d", 0, 0, 0755, FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
  g_clear_error (&error);

  /* Reading still works, and nothing changed. */
  read = nts_root_read (f->root, "/etc/chrony/chrony.conf", 0, &error);
  g_assert_no_error (error);
  g_assert_true (read->exists);
  assert_content (f, "/etc/chrony/chrony.conf", "old content\n");
  assert_no_temp_files (f, "/etc/chrony");
  g_assert_cmpint (umount2 (dir, MNT_DETACH), ==, 0);
}

static void
test_list_dir (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = NULL;

  temp_tree_write (f->host, "/d/b", "", 0644);
  temp_tree_write (f->host, "/d/a", "", 0644);
  names = nts_root_list_dir (f->root, "/d", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (names->len, ==, 2);
  g_assert_cmpstr (names->pdata[0], ==, "a");
  g_assert_cmpstr (names->pdata[1], ==, "b");
  g_clear_pointer (&names, g_ptr_array_unref);

  temp_tree_symlink (f->host, "/e", f->outside);
  names = nts_root_list_dir (f->root, "/e", &error);
  g_assert_null (names);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
  g_assert_cmpstr (error->message, ==, "cannot list /e: /e is a symbolic link; refusing to follow it");
}

static void
add (const char *name, void (*fn) (Fixture *, gconstpointer), gboolean both)
{
  g_autofree char *a = g_strdup_printf ("/safe-fs/%s", name);
  g_autofree char *b = g_strdup_printf ("/safe-fs/%s/fallback", name);

  g_test_add (a, Fixture, GINT_TO_POINTER (FALSE), fixture_set_up, fn, fixture_tear_down);
  if (both)
    g_test_add (b, Fixture, GINT_TO_POINTER (TRUE), fixture_set_up, fn, fixture_tear_down);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  /* Mounts made by the tests vanish with the process. */
  if (getuid () == 0 && unshare (CLONE_NEWNS) == 0 &&
      mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
    have_mount_ns = TRUE;

  add ("round-trip", test_round_trip, TRUE);
  add ("absent-and-invalid", test_absent_and_invalid, TRUE);
  add ("remove", test_remove, FALSE);
  add ("symlinks", test_symlinks, TRUE);
  add ("not-regular", test_not_regular, TRUE);
  add ("size-bound", test_size_bound, FALSE);
  add ("ensure-dir", test_ensure_dir, TRUE);
  add ("disk-full", test_disk_full, FALSE);
  add ("read-only", test_read_only, FALSE);
  add ("list-dir", test_list_dir, FALSE);
  return g_test_run ();
}
