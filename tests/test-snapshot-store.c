/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The snapshot store in a temporary root: take/list/load/restore byte for
 * byte with owner and mode, absent files, id order, prune (10 + the
 * original), malformed ids, 50 cycles without strays, changed_since;
 * reading the store writes nothing. */

#include "accounts.h"
#include "applied-state.h"
#include "nts-errors.h"
#include "rollback.h"
#include "snapshot-store.h"
#include "temp-tree.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE "/var/lib/ntssetup"

typedef struct {
  char             *host;
  NtsRoot          *root;
  NtsSnapshotStore *store;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->host = temp_tree_new ();
  f->root = nts_root_open (f->host, &error);
  g_assert_no_error (error);
  f->store = nts_snapshot_store_open (f->root, NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  nts_snapshot_store_free (f->store);
  nts_root_unref (f->root);
  temp_tree_remove (f->host);
  g_free (f->host);
}

/* ---- helpers ---- */

static void
put (Fixture *f, const char *path, const void *data, gsize length, gid_t gid, guint mode)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_true (nts_root_ensure_dir (f->root, dir, 0, 0, 0755, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (nts_root_write_atomic (f->root, path, data, length, 0, gid, mode, &error));
  g_assert_no_error (error);
}

static GVariant *
state_dict (void)
{
  static const char *const servers[] = { "nts.netnod.se", "time.cloudflare.com", NULL };
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert_value (&dict, "servers", g_variant_new_strv (servers, -1));
  g_variant_dict_insert (&dict, "min-sources", "u", 2);
  g_variant_dict_insert (&dict, "timesyncd-enabled", "b", TRUE);
  g_variant_dict_insert (&dict, "timesyncd-active", "s", "active");
  g_variant_dict_insert_value (&dict, "packages-installed", g_variant_new_strv (NULL, 0));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static char *
take (Fixture *f, const char *const *paths)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) state = state_dict ();
  char *id = nts_snapshot_store_take (f->store, paths, state, &error);

  g_assert_no_error (error);
  g_assert_true (nts_snapshot_id_is_valid (id));
  return id;
}

static void
assert_file (Fixture *f, const char *path, const void *data, gsize length, gid_t gid, guint mode)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsFileData) now = nts_root_read (f->root, path, 0, &error);

  g_assert_no_error (error);
  if (data == NULL)
    {
      g_assert_false (now->exists);
      return;
    }
  g_assert_true (now->exists);
  g_assert_cmpmem (g_bytes_get_data (now->content, NULL), g_bytes_get_size (now->content), data, length);
  g_assert_cmpuint (now->uid, ==, 0);
  g_assert_cmpuint (now->gid, ==, gid);
  g_assert_cmpuint (now->mode, ==, mode);
}

/* The entries of snapshots/ (host view), and that each holds only the
 * names the store writes, each 0600. */
static guint
count_snapshot_dirs (Fixture *f)
{
  g_autofree char *dir = g_build_filename (f->host, STATE, "snapshots", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *sub = g_build_filename (dir, name, NULL);
      g_autoptr(GDir) s = g_dir_open (sub, 0, NULL);
      const char *member;

      g_assert_true (nts_snapshot_id_is_valid (name));
      g_assert_nonnull (s);
      while ((member = g_dir_read_name (s)) != NULL)
        {
          g_autofree char *file = g_build_filename (sub, member, NULL);
          struct stat st;

          g_assert_true (g_str_equal (member, "manifest") ||
                         strspn (member, "0123456789") == strlen (member));
          g_assert_cmpint (g_lstat (file, &st), ==, 0);
          g_assert_true (S_ISREG (st.st_mode));
          g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
        }
      n++;
    }
  return n;
}

/* ---- tests ---- */

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = {
    "/etc/chrony/chrony.conf", "/etc/chrony/chrony.keys", "/etc/absent", "/etc/empty", NULL,
  };
  static const char conf[] = "pool x\0binary\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) details = NULL;
  g_autoptr(NtsSnapshot) snapshot = NULL;
  g_autofree char *id = NULL;
  g_autofree char *listed_id = NULL;
  g_autofree const char **files = NULL;
  g_autofree char *state_dir = g_build_filename (f->host, STATE, NULL);
  const char **servers = NULL;
  gid_t gid = temp_tree_some_group ();
  guint64 time;
  guint32 min_sources;
  gboolean original;
  struct stat st;

  if (getuid () != 0)
    {
      g_test_skip ("needs root to chown");
      return;
    }
  put (f, "/etc/chrony/chrony.conf", conf, sizeof conf - 1, gid, 0640);
  put (f, "/etc/chrony/chrony.keys", "1 SHA1 HEX:AB\n", 14, 0, 0600);
  put (f, "/etc/empty", "", 0, gid, 0604);
  /* Opening made nothing; the first write makes the state directory. */
  g_assert_cmpint (g_lstat (state_dir, &st), ==, -1);

  id = take (f, paths);
  g_assert_cmpint (g_lstat (state_dir, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  g_assert_cmpuint (st.st_uid, ==, 0);

  list = nts_snapshot_store_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (list), ==, "a(sta{sv})");
  g_assert_cmpuint (g_variant_n_children (list), ==, 1);
  g_variant_get_child (list, 0, "(st@a{sv})", &listed_id, &time, &details);
  g_assert_cmpstr (listed_id, ==, id);
  g_assert_cmpint (ABS ((gint64) time - g_get_real_time ()), <, 60 * G_USEC_PER_SEC);
  g_assert_true (g_variant_lookup (details, "servers", "^a&s", &servers));
  g_assert_cmpstr (servers[0], ==, "nts.netnod.se");
  g_free (servers);
  g_assert_true (g_variant_lookup (details, "min-sources", "u", &min_sources));
  g_assert_cmpuint (min_sources, ==, 2);
  g_assert_true (g_variant_lookup (details, "files", "^a&s", &files));
  g_assert_cmpstrv (files, (const char *const *) paths);
  g_assert_true (g_variant_lookup (details, "original", "b", &original));
  g_assert_true (original);
  g_assert_true (g_variant_lookup (details, "version", "&s", NULL));
  g_assert_cmpuint (g_variant_n_children (details), ==, 5);

  snapshot = nts_snapshot_store_load (f->store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (snapshot->id, ==, id);
  g_assert_true (snapshot->original);
  g_assert_true (g_variant_lookup (snapshot->state, "timesyncd-active", "&s", NULL));
  g_assert_cmpuint (snapshot->files->len, ==, 4);
  {
    NtsSnapshotFile *c = snapshot->files->pdata[0];
    NtsSnapshotFile *a = snapshot->files->pdata[2];
    g_autofree char *group = nts_group_name (gid);

    g_assert_cmpstr (c->path, ==, "/etc/chrony/chrony.conf");
    g_assert_true (c->exists);
    g_assert_cmpmem (g_bytes_get_data (c->content, NULL), g_bytes_get_size (c->content), conf, sizeof conf - 1);
    g_assert_cmpstr (c->owner, ==, "root");
    g_assert_cmpstr (c->group, ==, group);
    g_assert_cmpuint (c->gid, ==, gid);
    g_assert_cmpuint (c->mode, ==, 0640);
    g_assert_false (a->exists);
    g_assert_null (a->content);
  }

  /* Apply changes everything... */
  put (f, "/etc/chrony/chrony.conf", "new\n", 4, 0, 0644);
  put (f, "/etc/absent", "created\n", 8, 0, 0644);
  put (f, "/etc/empty", "filled", 6, 0, 0600);
  g_assert_true (nts_root_remove (f->root, "/etc/chrony/chrony.keys", NULL, &error));
  g_assert_no_error (error);

  /* ... and the snapshot gives back exactly what was. */
  g_assert_true (nts_snapshot_restore_files (f->root, snapshot, &error));
  g_assert_no_error (error);
  assert_file (f, "/etc/chrony/chrony.conf", conf, sizeof conf - 1, gid, 0640);
  assert_file (f, "/etc/chrony/chrony.keys", "1 SHA1 HEX:AB\n", 14, 0, 0600);
  assert_file (f, "/etc/absent", NULL, 0, 0, 0);
  assert_file (f, "/etc/empty", "", 0, gid, 0604);
  g_assert_cmpuint (count_snapshot_dirs (f), ==, 1);
}

static void
test_take_refuses (Fixture *f, gconstpointer data)
{
  static const char *const linked[] = { "/etc/chrony.conf", NULL };
  static const char *const twice[] = { "/etc/a", "/etc/a", NULL };
  static const char *const bad[] = { "/etc/../a", NULL };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = NULL;
  g_autofree char *outside = g_build_filename (f->host, "outside", NULL);

  temp_tree_write (f->host, "/outside", "secret", 0600);
  temp_tree_symlink (f->host, "/etc/chrony.conf", "/outside");
  g_assert_null (nts_snapshot_store_take (f->store, linked, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
  g_assert_nonnull (strstr (error->message, "/etc/chrony.conf is a symbolic link"));
  g_clear_error (&error);
  g_assert_null (nts_snapshot_store_take (f->store, twice, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (nts_snapshot_store_take (f->store, bad, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME);
  g_clear_error (&error);

  /* Nothing complete was left; the unfinished one goes with the next prune. */
  ids = nts_snapshot_store_list_ids (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (ids), ==, 0);
  g_assert_true (nts_snapshot_store_prune (f->store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_snapshot_dirs (f), ==, 0);
}

static void
test_ids (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/x", NULL };
  g_autoptr(GPtrArray) taken = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) listed = NULL;
  g_autofree char *future = g_build_filename (f->host, STATE, "snapshots", "29991231T235959Z-999998", NULL);
  g_autofree char *after = NULL;

  for (guint i = 0; i < 20; i++)
    {
      g_ptr_array_add (taken, take (f, paths));
      if (i > 0)
        g_assert_cmpstr (taken->pdata[i - 1], <, taken->pdata[i]);
    }
  listed = nts_snapshot_store_list_ids (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (listed), ==, 20);
  for (guint i = 0; i < 20; i++)
    g_assert_cmpstr (listed[i], ==, taken->pdata[19 - i]);

  /* The clock going back (or a snapshot from the future) never makes a
   * new snapshot sort before an old one. */
  g_assert_cmpint (g_mkdir (future, 0700), ==, 0);
  after = take (f, paths);
  g_assert_cmpstr (after, ==, "29991231T235959Z-999999");
}

static void
test_malformed_ids (Fixture *f, gconstpointer data)
{
  static const char *const bad[] = {
    "", "..", "../../etc", "20261127T044512Z", "20261127T044512Z-00012a",
    "20261127T044512Z-0001234", "20261127t044512Z-000123", "20261127T044512Z/000123",
    "20261127T044512Z-000123", /* well formed, not there */
    NULL,
  };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NtsSnapshot) snapshot = nts_snapshot_store_load (f->store, bad[i], &error);
      gboolean changed;

      g_assert_null (snapshot);
      g_assert_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT);
      g_clear_error (&error);
      g_assert_false (nts_snapshot_store_record_applied (f->store, bad[i], "/etc/x",
                                                         "0000000000000000000000000000000000000000000000000000000000000000",
                                                         0, 0, 0644, &error));
      g_assert_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT);
      g_clear_error (&error);
      g_assert_false (nts_snapshot_store_changed_since (f->store, bad[i], NULL, &changed, NULL, &error));
      g_assert_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT);
    }
  g_assert_false (nts_snapshot_id_is_valid (NULL));
}

static void
test_prune (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/x", NULL };
  g_autoptr(GPtrArray) taken = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = NULL;
  g_autoptr(GVariant) list = NULL;

  for (guint i = 0; i < 15; i++)
    {
      g_autofree char *content = g_strdup_printf ("%u\n", i);

      put (f, "/etc/x", content, strlen (content), 0, 0644);
      g_ptr_array_add (taken, take (f, paths));
    }
  g_assert_true (nts_snapshot_store_prune (f->store, &error));
  g_assert_no_error (error);
  ids = nts_snapshot_store_list_ids (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (ids), ==, NTS_SNAPSHOT_KEEP + 1);
  for (guint i = 0; i < NTS_SNAPSHOT_KEEP; i++)
    g_assert_cmpstr (ids[i], ==, taken->pdata[14 - i]);
  g_assert_cmpstr (ids[NTS_SNAPSHOT_KEEP], ==, taken->pdata[0]);

  /* Only the first is the original, and it still holds what it held. */
  list = nts_snapshot_store_list (f->store, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr(GVariant) details = NULL;
      gboolean original;

      g_variant_get_child (list, i, "(&st@a{sv})", NULL, NULL, &details);
      g_assert_true (g_variant_lookup (details, "original", "b", &original));
      g_assert_cmpint (original, ==, i == NTS_SNAPSHOT_KEEP);
    }
  {
    g_autoptr(NtsSnapshot) first = nts_snapshot_store_load (f->store, taken->pdata[0], &error);
    NtsSnapshotFile *x;

    g_assert_no_error (error);
    x = first->files->pdata[0];
    g_assert_cmpmem (g_bytes_get_data (x->content, NULL), g_bytes_get_size (x->content), "0\n", 2);
  }
  g_assert_cmpuint (count_snapshot_dirs (f), ==, NTS_SNAPSHOT_KEEP + 1);

  /* An unfinished snapshot (no manifest) is not listed and is pruned. */
  {
    g_autofree char *half = g_build_filename (f->host, STATE, "snapshots", "29990101T000000Z-000000", NULL);
    g_autofree char *member = g_build_filename (half, "0", NULL);
    g_auto(GStrv) again = NULL;

    g_assert_cmpint (g_mkdir (half, 0700), ==, 0);
    g_assert_true (g_file_set_contents (member, "partial", -1, NULL));
    again = nts_snapshot_store_list_ids (f->store, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (again), ==, NTS_SNAPSHOT_KEEP + 1);
    g_assert_true (nts_snapshot_store_prune (f->store, &error));
    g_assert_no_error (error);
    g_assert_false (g_file_test (half, G_FILE_TEST_EXISTS));
  }
}

/* 50 apply-like cycles: snapshot, change, prune. Exactly the kept ones
 * remain, nothing else in the state directory. */
static void
test_cycles (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/chrony/chrony.conf", "/etc/chrony/new", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_auto(GStrv) ids = NULL;
  g_autofree char *state_dir = g_build_filename (f->host, STATE, NULL);
  g_autoptr(GDir) d = NULL;
  const char *name;

  put (f, "/etc/chrony/chrony.conf", "original\n", 9, 0, 0644);
  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *content = g_strdup_printf ("cycle %u\n", i);
      g_autofree char *id = take (f, paths);

      if (first == NULL)
        first = g_strdup (id);
      put (f, "/etc/chrony/chrony.conf", content, strlen (content), 0, 0644);
      g_assert_true (nts_snapshot_store_prune (f->store, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (count_snapshot_dirs (f), ==, NTS_SNAPSHOT_KEEP + 1);
  ids = nts_snapshot_store_list_ids (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ids[NTS_SNAPSHOT_KEEP], ==, first);

  /* The state directory holds snapshots/ and nothing else. */
  d = g_dir_open (state_dir, 0, NULL);
  while ((name = g_dir_read_name (d)) != NULL)
    g_assert_cmpstr (name, ==, "snapshots");

  /* Going back to the first gives back the machine as it was. */
  {
    g_autoptr(NtsSnapshot) snapshot = nts_snapshot_store_load (f->store, first, &error);

    g_assert_no_error (error);
    g_assert_true (nts_snapshot_restore_files (f->root, snapshot, &error));
    g_assert_no_error (error);
    assert_file (f, "/etc/chrony/chrony.conf", "original\n", 9, 0, 0644);
    assert_file (f, "/etc/chrony/new", NULL, 0, 0, 0);
  }
}

static void
record (Fixture *f, const char *id, const char *path, const char *content, guint mode)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, content, -1);

  put (f, path, content, strlen (content), 0, mode);
  g_assert_true (nts_snapshot_store_record_applied (f->store, id, path, sum, 0, 0, mode, &error));
  g_assert_no_error (error);
}

static void
assert_changed (Fixture *f, const char *id, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) paths = NULL;
  gboolean changed = !!expected;

  g_assert_true (nts_snapshot_store_changed_since (f->store, id, NULL, &changed, &paths, &error));
  g_assert_no_error (error);
  g_assert_cmpint (changed, ==, expected != NULL);
  if (expected != NULL)
    {
      g_assert_cmpuint (g_strv_length (paths), ==, 1);
      g_assert_cmpstr (paths[0], ==, expected);
    }
  else
    g_assert_cmpuint (g_strv_length (paths), ==, 0);
}

static void
test_changed_since (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/chrony.conf", "/etc/chrony.keys", "/etc/untouched", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *conf = g_build_filename (f->host, "etc", "chrony.conf", NULL);

  put (f, "/etc/chrony.conf", "before\n", 7, 0, 0644);
  id = take (f, paths);
  record (f, id, "/etc/chrony.conf", "server a nts\n", 0644);
  record (f, id, "/etc/chrony.keys", "", 0640);
  assert_changed (f, id, NULL);

  /* Content changed by someone else. */
  put (f, "/etc/chrony.conf", "server b\n", 9, 0, 0644);
  assert_changed (f, id, "/etc/chrony.conf");
  put (f, "/etc/chrony.conf", "server a nts\n", 13, 0, 0644);
  assert_changed (f, id, NULL);

  /* Mode changed, content the same. */
  g_assert_cmpint (g_chmod (conf, 0666), ==, 0);
  assert_changed (f, id, "/etc/chrony.conf");
  g_assert_cmpint (g_chmod (conf, 0644), ==, 0);

  /* Gone, or replaced by a link. */
  g_assert_true (nts_root_remove (f->root, "/etc/chrony.keys", NULL, &error));
  g_assert_no_error (error);
  assert_changed (f, id, "/etc/chrony.keys");
  temp_tree_symlink (f->host, "/etc/chrony.keys", "/etc/chrony.conf");
  assert_changed (f, id, "/etc/chrony.keys");

  /* Only the paths asked about are compared. */
  {
    static const char *const only_conf[] = { "/etc/chrony.conf", NULL };
    gboolean changed = TRUE;

    g_assert_true (nts_snapshot_store_changed_since (f->store, id, only_conf, &changed, NULL, &error));
    g_assert_no_error (error);
    g_assert_false (changed);
  }

  /* A path the snapshot does not hold can't be recorded. */
  g_assert_false (nts_snapshot_store_record_applied (f->store, id, "/etc/other",
                                                     "0000000000000000000000000000000000000000000000000000000000000000",
                                                     0, 0, 0644, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_damaged (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/x", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *saved = NULL;
  g_autofree char *manifest = NULL;
  g_autoptr(GVariant) list = NULL;
  NtsSnapshot *snapshot;

  put (f, "/etc/x", "content\n", 8, 0, 0644);
  id = take (f, paths);
  saved = g_build_filename (f->host, STATE, "snapshots", id, "0", NULL);
  g_assert_true (g_file_set_contents (saved, "CONTENT\n", -1, NULL));
  g_assert_cmpint (g_chmod (saved, 0600), ==, 0);
  snapshot = nts_snapshot_store_load (f->store, id, &error);
  g_assert_null (snapshot);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "does not match its checksum"));
  g_clear_error (&error);

  /* A torn manifest: the snapshot is damaged, the list still answers. */
  manifest = g_build_filename (f->host, STATE, "snapshots", id, "manifest", NULL);
  g_assert_true (g_file_set_contents (manifest, "[snapshot]\nformat=1\nid=", -1, NULL));
  g_assert_cmpint (g_chmod (manifest, 0600), ==, 0);
  snapshot = nts_snapshot_store_load (f->store, id, &error);
  g_assert_null (snapshot);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  list = nts_snapshot_store_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (list), ==, 0);
  /* ... and prune keeps it rather than guess. */
  g_assert_true (nts_snapshot_store_prune (f->store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_snapshot_dirs (f), ==, 1);

  /* A manifest with bytes that are not UTF-8 where GKeyFile quotes them
   * in its message (found by tests/fuzz-snapshot-manifest.c): Rollback
   * sends the message over D-Bus, so it must be UTF-8. */
  g_assert_true (g_file_set_contents (manifest, "[snapshot\x01\xf2\xfb]\nformat=1\n", -1, NULL));
  g_assert_cmpint (g_chmod (manifest, 0600), ==, 0);
  snapshot = nts_snapshot_store_load (f->store, id, &error);
  g_assert_null (snapshot);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_nonnull (strstr (error->message, "is damaged"));
}

/* A file still as saved is left alone (same inode): the undo of a step
 * that failed before it wrote, on a full disk or a read-only mount, must
 * not need to write. A changed one is put back. */
static void
test_restore_unchanged (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/chrony/chrony.conf", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsSnapshot) snapshot = NULL;
  g_autofree char *id = NULL;
  g_autofree char *host = g_build_filename (f->host, paths[0], NULL);
  g_autofree char *content = NULL;
  struct stat before, after;

  put (f, paths[0], "pool x\n", 7, 0, 0644);
  id = nts_snapshot_store_take (f->store, paths, NULL, &error);
  g_assert_no_error (error);
  snapshot = nts_snapshot_store_load (f->store, id, &error);
  g_assert_no_error (error);

  g_assert_cmpint (stat (host, &before), ==, 0);
  g_assert_true (nts_snapshot_restore_files (f->root, snapshot, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (host, &after), ==, 0);
  g_assert_cmpuint (after.st_ino, ==, before.st_ino);

  /* The mode alone differs: written again. */
  g_assert_cmpint (chmod (host, 0600), ==, 0);
  g_assert_true (nts_snapshot_restore_files (f->root, snapshot, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stat (host, &after), ==, 0);
  g_assert_cmpuint (after.st_ino, !=, before.st_ino);
  g_assert_cmpuint (after.st_mode & 07777, ==, 0644);
  g_assert_true (g_file_get_contents (host, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "pool x\n");
}

/* What anyone may cause (ListSnapshots, the State property after the
 * daemon was activated) only reads: a state directory that exists with
 * another mode and without snapshots/ stays exactly as it is, whichever
 * way the store was opened; a read-only store refuses every write. Only
 * a write makes the directories, 0700 root:root. */
static void
test_reading_writes_nothing (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/chrony.conf", NULL };
  static const char *const id = "20261127T044512Z-000123";
  g_autofree char *state = g_build_filename (f->host, STATE, NULL);
  g_autofree char *before = NULL;
  g_autoptr(NtsPackageChanges) changes = nts_package_changes_new_empty ();
  struct stat st;

  put (f, "/etc/chrony.conf", "pool x\n", 7, 0, 0644);
  temp_tree_remove (state);
  temp_tree_write (f->host, STATE "/applied", "20261127T044512Z-000123\n", 0600);
  g_assert_cmpint (g_chmod (state, 0755), ==, 0);
  before = temp_tree_fingerprint (f->host);

  for (guint read_only = 0; read_only < 2; read_only++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NtsSnapshotStore) store = read_only ? nts_snapshot_store_open_readonly (f->root, NULL, &error)
                                                    : nts_snapshot_store_open (f->root, NULL, &error);
      g_autoptr(GVariant) list = NULL;
      g_auto(GStrv) ids = NULL;
      gboolean changed = FALSE;

      g_assert_no_error (error);
      list = nts_snapshot_store_list (store, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_variant_n_children (list), ==, 0);
      ids = nts_snapshot_store_list_ids (store, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_strv_length (ids), ==, 0);
      /* What refresh_applied_state() does with the marker's id. */
      g_assert_null (nts_snapshot_store_load (store, id, &error));
      g_assert_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT);
      g_clear_error (&error);
      g_assert_false (nts_snapshot_store_changed_since (store, id, NULL, &changed, NULL, &error));
      g_assert_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT);
      temp_tree_assert_unchanged (before, f->host);
    }

  /* Every write refused by a read-only store, and nothing touched. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(NtsSnapshotStore) store = nts_snapshot_store_open_readonly (f->root, NULL, &error);

    g_assert_no_error (error);
    g_assert_null (nts_snapshot_store_take (store, paths, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
    g_clear_error (&error);
    g_assert_false (nts_snapshot_store_prune (store, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
    g_clear_error (&error);
    g_assert_false (nts_snapshot_store_discard (store, id, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
    g_clear_error (&error);
    g_assert_false (nts_snapshot_store_record_packages (store, id, changes, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
    g_clear_error (&error);
    g_assert_false (nts_snapshot_store_record_applied (store, id, paths[0],
                                                       "0000000000000000000000000000000000000000000000000000000000000000",
                                                       0, 0, 0644, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY);
    temp_tree_assert_unchanged (before, f->host);
  }

  /* No state directory at all: an empty list, and still nothing made. */
  temp_tree_remove (state);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(NtsSnapshotStore) store = nts_snapshot_store_open_readonly (f->root, NULL, &error);
    g_autoptr(GVariant) list = NULL;

    g_assert_no_error (error);
    list = nts_snapshot_store_list (store, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_variant_n_children (list), ==, 0);
    g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));
  }

  /* The first write makes both directories, root's alone. */
  g_assert_cmpint (g_mkdir (state, 0755), ==, 0);
  g_free (take (f, paths));
  g_assert_cmpint (stat (state, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  {
    g_autofree char *snapshots = g_build_filename (state, "snapshots", NULL);

    g_assert_cmpint (stat (snapshots, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  }
}

static gboolean
changes_packages (Fixture *f, const char *id)
{
  g_autoptr(GError) error = NULL;
  gboolean changes = -1;   /* neither: the call must set it */

  g_assert_true (nts_rollback_changes_packages (f->root, NULL, id, &changes, &error));
  g_assert_no_error (error);
  g_assert_true (changes == TRUE || changes == FALSE);
  return changes;
}

/* Whether Rollback(id) would install or remove packages: the snapshot's
 * package plan, "" resolved to the Apply in place as Rollback resolves
 * it, the same errors as Rollback, and nothing written. */
static void
test_restore_changes_packages (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/chrony.conf", NULL };
  const char *chrony[] = { "chrony", NULL };
  const char *timesyncd[] = { "systemd-timesyncd", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autoptr(NtsPackageChanges) both = nts_package_changes_new (chrony, timesyncd);
  g_autoptr(NtsPackageChanges) removed_only = nts_package_changes_new (NULL, timesyncd);
  g_autofree char *plain = NULL;
  g_autofree char *with_packages = NULL;
  gboolean changes = FALSE;

  put (f, "/etc/chrony.conf", "pool x\n", 7, 0, 0644);
  plain = take (f, paths);
  with_packages = take (f, paths);
  g_assert_true (nts_snapshot_store_record_packages (f->store, with_packages, both, &error));
  g_assert_no_error (error);

  before = temp_tree_fingerprint (f->host);
  g_assert_false (changes_packages (f, plain));
  g_assert_true (changes_packages (f, with_packages));

  /* "" and NULL: the Apply in place, or none. */
  g_assert_false (nts_rollback_changes_packages (f->root, NULL, "", &changes, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT);
  g_clear_error (&error);
  temp_tree_assert_unchanged (before, f->host);
  g_assert_true (nts_applied_state_set (f->root, NULL, with_packages, &error));
  g_assert_no_error (error);
  g_clear_pointer (&before, g_free);
  before = temp_tree_fingerprint (f->host);
  g_assert_true (changes_packages (f, ""));
  g_assert_true (changes_packages (f, NULL));
  g_assert_false (changes_packages (f, plain));

  /* Ids Rollback would not find. */
  for (const char *const *id = (const char *[]) { "20200101T000000Z-000000", "../../etc", NULL }; *id; id++)
    {
      g_assert_false (nts_rollback_changes_packages (f->root, NULL, *id, &changes, &error));
      g_assert_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT);
      g_clear_error (&error);
    }
  temp_tree_assert_unchanged (before, f->host);

  /* Removing a package alone (putting it back is an install) counts. */
  g_assert_true (nts_snapshot_store_record_packages (f->store, plain, removed_only, &error));
  g_assert_no_error (error);
  g_assert_true (changes_packages (f, plain));
}

/* What a step notes for its undo: read back by a load (which an undo after
 * a crash has alone), replaced by the next note, absent from a manifest
 * written before; a note that is not an a{sv} damages the manifest. */
static void
test_record_step (Fixture *f, gconstpointer data)
{
  static const char *const paths[] = { "/etc/x", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *manifest = NULL;
  g_autofree char *text = NULL;
  g_autofree char *spoilt = NULL;
  guint32 value = 0;

  put (f, "/etc/x", "content\n", 8, 0, 0644);
  id = take (f, paths);
  {
    g_autoptr(NtsSnapshot) snapshot = nts_snapshot_store_load (f->store, id, &error);

    g_assert_no_error (error);
    g_assert_null (nts_snapshot_step_state (snapshot, "nts-dump"));
  }
  for (guint32 i = 1; i <= 2; i++)
    {
      g_autoptr(NtsSnapshot) snapshot = NULL;
      g_autoptr(GVariant) state = NULL;
      GVariantDict dict;

      g_variant_dict_init (&dict, NULL);
      g_variant_dict_insert (&dict, "n", "u", i);
      g_assert_true (nts_snapshot_store_record_step (f->store, id, "nts-dump",
                                                     g_variant_dict_end (&dict), &error));
      g_assert_no_error (error);
      snapshot = nts_snapshot_store_load (f->store, id, &error);
      g_assert_no_error (error);
      state = nts_snapshot_step_state (snapshot, "nts-dump");
      g_assert_nonnull (state);
      g_assert_true (g_variant_lookup (state, "n", "u", &value));
      g_assert_cmpuint (value, ==, i);
      g_assert_null (nts_snapshot_step_state (snapshot, "write-config"));
    }

  /* Not a step name: refused, nothing written. */
  g_assert_false (
    nts_snapshot_store_record_step (f->store, id, "[x]", g_variant_new ("a{sv}", NULL), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* A damaged note: the whole snapshot is damaged, as with a damaged state. */
  manifest = g_build_filename (f->host, STATE, "snapshots", id, "manifest", NULL);
  g_assert_true (g_file_get_contents (manifest, &text, NULL, NULL));
  spoilt = g_strconcat (text, "\n[steps]\nnts-dump=<'not a dict'>\n", NULL);
  g_assert_true (g_file_set_contents (manifest, spoilt, -1, NULL));
  g_assert_cmpint (g_chmod (manifest, 0600), ==, 0);
  g_assert_null (nts_snapshot_store_load (f->store, id, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, fn) g_test_add ("/snapshot-store/" name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("round-trip", test_round_trip);
  ADD ("take-refuses", test_take_refuses);
  ADD ("ids", test_ids);
  ADD ("malformed-ids", test_malformed_ids);
  ADD ("prune", test_prune);
  ADD ("cycles", test_cycles);
  ADD ("changed-since", test_changed_since);
  ADD ("damaged", test_damaged);
  ADD ("restore-unchanged", test_restore_unchanged);
  ADD ("reading-writes-nothing", test_reading_writes_nothing);
  ADD ("restore-changes-packages", test_restore_changes_packages);
  ADD ("record-step", test_record_step);
#undef ADD
  return g_test_run ();
}
