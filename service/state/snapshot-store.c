/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See snapshot-store.h for the format. Every write goes through safe-fs;
 * the manifest is always written last, so a snapshot is either complete
 * or ignored. */

#include "config.h"
#include "snapshot-store.h"

#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "log-fields.h"
#include "nts-errors.h"

#define MANIFEST        "manifest"
#define SNAPSHOTS       "snapshots"
#define FORMAT_VERSION  1
#define GROUP_SNAPSHOT  "snapshot"

struct _NtsSnapshotStore {
  NtsRoot  *root;           /* borrowed */
  char     *state_dir;      /* guest path */
  char     *dir;            /* guest path of snapshots/ */
  gboolean  read_only;      /* nts_snapshot_store_open_readonly() */
};

/* ---- small things ---- */

void
nts_snapshot_file_free (NtsSnapshotFile *file)
{
  if (file == NULL)
    return;
  g_free (file->path);
  g_clear_pointer (&file->content, g_bytes_unref);
  g_free (file->owner);
  g_free (file->group);
  g_free (file->applied_sha256);
  g_free (file);
}

void
nts_snapshot_free (NtsSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_free (snapshot->id);
  g_free (snapshot->version);
  g_clear_pointer (&snapshot->state, g_variant_unref);
  g_clear_pointer (&snapshot->files, g_ptr_array_unref);
  nts_package_changes_free (snapshot->packages);
  g_clear_pointer (&snapshot->steps, g_variant_unref);
  g_free (snapshot);
}

gboolean
nts_snapshot_id_is_valid (const char *id)
{
  /* YYYYMMDDTHHMMSSZ-uuuuuu */
  static const char shape[] = "00000000T000000Z-000000";

  if (id == NULL || strlen (id) != sizeof shape - 1)
    return FALSE;
  for (gsize i = 0; shape[i] != '\0'; i++)
    if (shape[i] == '0' ? !g_ascii_isdigit (id[i]) : id[i] != shape[i])
      return FALSE;
  return TRUE;
}

static char *
id_from_time (gint64 usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autofree char *base = g_date_time_format (dt, "%Y%m%dT%H%M%SZ");

  return g_strdup_printf ("%s-%06d", base, (int) (usec % G_USEC_PER_SEC));
}

static gint64
time_from_id (const char *id)
{
  int y, mo, d, h, mi, s, us;
  g_autoptr(GDateTime) dt = NULL;

  if (sscanf (id, "%4d%2d%2dT%2d%2d%2dZ-%6d", &y, &mo, &d, &h, &mi, &s, &us) != 7)
    return -1;
  dt = g_date_time_new_utc (y, mo, d, h, mi, s);
  if (dt == NULL)
    return -1;
  return g_date_time_to_unix (dt) * G_USEC_PER_SEC + us;
}

static char *
snapshot_dir (NtsSnapshotStore *store, const char *id)
{
  return g_strconcat (store->dir, "/", id, NULL);
}

static char *
member_path (NtsSnapshotStore *store, const char *id, const char *name)
{
  return g_strconcat (store->dir, "/", id, "/", name, NULL);
}

static gboolean
no_such_snapshot (GError **error, const char *id)
{
  g_set_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT,
               "no snapshot with id \"%s\"; ListSnapshots shows the ones kept", id);
  return FALSE;
}

/* ---- opening ---- */

/* Opening writes nothing: the State property and ListSnapshots, which
 * anyone may cause (a call activates the daemon), read the store, and a
 * read must not create snapshots/ or reset the state directory's mode. */
static NtsSnapshotStore *
store_new (NtsRoot *root, const char *state_dir, gboolean read_only, GError **error)
{
  g_autoptr(NtsSnapshotStore) store = g_new0 (NtsSnapshotStore, 1);

  if (state_dir == NULL)
    state_dir = NTS_SNAPSHOT_STATE_DIR;
  if (!nts_guest_path_is_valid (state_dir) || state_dir[1] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                   "cannot open the snapshot store in %s: not a canonical absolute path", state_dir);
      return NULL;
    }
  store->root = root;
  store->state_dir = g_strdup (state_dir);
  store->dir = g_strconcat (state_dir, "/" SNAPSHOTS, NULL);
  store->read_only = read_only;
  return g_steal_pointer (&store);
}

NtsSnapshotStore *
nts_snapshot_store_open (NtsRoot *root, const char *state_dir, GError **error)
{
  return store_new (root, state_dir, FALSE, error);
}

NtsSnapshotStore *
nts_snapshot_store_open_readonly (NtsRoot *root, const char *state_dir, GError **error)
{
  return store_new (root, state_dir, TRUE, error);
}

/* Called by everything that writes, before it writes: a read-only store
 * refuses; otherwise the directories are made, or put back to 0700
 * root:root (snapshots hold the keys file: nobody but root reads them). */
static gboolean
writable (NtsSnapshotStore *store, GError **error)
{
  if (store->read_only)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY,
                   "the snapshot store in %s was opened read-only", store->state_dir);
      return FALSE;
    }
  return nts_root_ensure_dir (store->root, store->state_dir, 0, 0, 0700, TRUE, error) &&
         nts_root_ensure_dir (store->root, store->dir, 0, 0, 0700, FALSE, error);
}

void
nts_snapshot_store_free (NtsSnapshotStore *store)
{
  if (store == NULL)
    return;
  g_free (store->state_dir);
  g_free (store->dir);
  g_free (store);
}

/* ---- the directory listing ---- */

/* Every name in snapshots/ shaped like an id, sorted oldest first,
 * complete or not. No snapshots/ (or no state directory) is an empty
 * store: opening made neither. */
static GPtrArray *
all_ids (NtsSnapshotStore *store, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) names = nts_root_list_dir (store->root, store->dir, &local_error);
  GPtrArray *ids;

  if (names == NULL && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return g_ptr_array_new_with_free_func (g_free);
  if (names == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++)
    if (nts_snapshot_id_is_valid (names->pdata[i]))
      g_ptr_array_add (ids, g_strdup (names->pdata[i]));
  return ids;   /* nts_root_list_dir() sorted them; ids sort by age */
}

static gboolean
is_complete (NtsSnapshotStore *store, const char *id, GError **error)
{
  g_autofree char *manifest = member_path (store, id, MANIFEST);
  gboolean exists = FALSE;
  struct stat st;

  if (!nts_root_lstat (store->root, manifest, &st, &exists, error))
    return FALSE;
  return exists && S_ISREG (st.st_mode);
}

static gboolean damaged (GError **error, const char *id, const char *what);
static GKeyFile *manifest_from_data (const char  *id,
                                     const char  *path,
                                     const char  *text,
                                     gsize        size,
                                     GError     **error);

static GKeyFile *
read_manifest (NtsSnapshotStore *store, const char *id, GError **error)
{
  g_autofree char *path = member_path (store, id, MANIFEST);
  g_autoptr(NtsFileData) data = NULL;
  gsize size;
  const char *text;

  data = nts_root_read (store->root, path, 0, error);
  if (data == NULL)
    return NULL;
  if (!data->exists)
    {
      no_such_snapshot (error, id);
      return NULL;
    }
  text = g_bytes_get_data (data->content, &size);
  return manifest_from_data (id, path, text, size, error);
}

/* The manifest of snapshot @id, to be changed and written back: @id is
 * checked before it becomes a path, and the store must be writable. */
static GKeyFile *
manifest_for_update (NtsSnapshotStore *store, const char *id, GError **error)
{
  if (!nts_snapshot_id_is_valid (id))
    {
      no_such_snapshot (error, id != NULL ? id : "");
      return NULL;
    }
  if (!writable (store, error))
    return NULL;
  return read_manifest (store, id, error);
}

/* @path only names the file in messages. */
static GKeyFile *
manifest_from_data (const char  *id,
                    const char  *path,
                    const char  *text,
                    gsize        size,
                    GError     **error)
{
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;

  if (!g_key_file_load_from_data (keys, text != NULL ? text : "", size, G_KEY_FILE_NONE, &local_error) ||
      g_key_file_get_integer (keys, GROUP_SNAPSHOT, "format", NULL) != FORMAT_VERSION)
    {
      g_autofree char *what = g_strdup_printf ("%s: %s", path,
                                               local_error != NULL ? local_error->message
                                                                   : "unknown format");
      damaged (error, id, what);
      return NULL;
    }
  return g_steal_pointer (&keys);
}

static gboolean
write_manifest (NtsSnapshotStore *store, const char *id, GKeyFile *keys, GError **error)
{
  g_autofree char *path = member_path (store, id, MANIFEST);
  gsize length;
  g_autofree char *text = g_key_file_to_data (keys, &length, NULL);

  return nts_root_write_atomic (store->root, path, text, length, 0, 0, 0600, error);
}

/* ---- take ---- */

static char *
file_group (guint index)
{
  return g_strdup_printf ("file %u", index);
}

/* A new id, later than every one in the store. */
static char *
next_id (NtsSnapshotStore *store, GError **error)
{
  g_autoptr(GPtrArray) ids = all_ids (store, error);
  gint64 t = g_get_real_time ();

  if (ids == NULL)
    return NULL;
  if (ids->len > 0)
    t = MAX (t, time_from_id (ids->pdata[ids->len - 1]) + 1);
  return id_from_time (t);
}

static gboolean
has_complete_snapshot (NtsSnapshotStore *store, gboolean *any, GError **error)
{
  g_autoptr(GPtrArray) ids = all_ids (store, error);

  *any = FALSE;
  if (ids == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len && !*any; i++)
    {
      g_autoptr(GError) local_error = NULL;

      *any = is_complete (store, ids->pdata[i], &local_error);
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
  return TRUE;
}

char *
nts_snapshot_store_take (NtsSnapshotStore   *store,
                         const char *const  *paths,
                         GVariant           *state,
                         GError            **error)
{
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autofree char *id = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *state_text = NULL;
  gboolean any;
  guint n = 0;

  g_return_val_if_fail (paths != NULL, NULL);
  g_return_val_if_fail (state == NULL || g_variant_is_of_type (state, G_VARIANT_TYPE_VARDICT), NULL);

  for (guint i = 0; paths[i] != NULL; i++)
    {
      if (!nts_guest_path_is_valid (paths[i]) || paths[i][1] == '\0')
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                       "cannot take a snapshot of %s: not a canonical absolute file path", paths[i]);
          return NULL;
        }
      if (!g_hash_table_add (seen, (gpointer) paths[i]))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "cannot take a snapshot: %s is listed twice", paths[i]);
          return NULL;
        }
    }

  if (!writable (store, error) || !has_complete_snapshot (store, &any, error))
    return NULL;
  id = next_id (store, error);
  if (id == NULL)
    return NULL;
  dir = snapshot_dir (store, id);
  if (!nts_root_ensure_dir (store->root, dir, 0, 0, 0700, FALSE, error))
    return NULL;

  state_text = g_variant_print (state != NULL ? state : empty, TRUE);
  g_key_file_set_integer (keys, GROUP_SNAPSHOT, "format", FORMAT_VERSION);
  g_key_file_set_string (keys, GROUP_SNAPSHOT, "id", id);
  g_key_file_set_int64 (keys, GROUP_SNAPSHOT, "time", g_get_real_time ());
  g_key_file_set_string (keys, GROUP_SNAPSHOT, "version", PACKAGE_VERSION);
  /* Nothing complete before this one: it is the machine as it was before
   * ntssetup, the one Rollback can always go back to. */
  g_key_file_set_boolean (keys, GROUP_SNAPSHOT, "original", !any);
  g_key_file_set_string (keys, GROUP_SNAPSHOT, "state", state_text);

  for (; paths[n] != NULL; n++)
    {
      g_autoptr(NtsFileData) data = nts_root_read (store->root, paths[n], 0, error);
      g_autofree char *group = file_group (n);

      if (data == NULL)
        return NULL;   /* an unfinished directory; the next prune removes it */
      g_key_file_set_string (keys, group, "path", paths[n]);
      g_key_file_set_boolean (keys, group, "exists", data->exists);
      if (data->exists)
        {
          g_autofree char *owner = nts_user_name (data->uid);
          g_autofree char *grp = nts_group_name (data->gid);
          g_autofree char *mode = g_strdup_printf ("%04o", data->mode);
          g_autofree char *sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data->content);
          g_autofree char *name = g_strdup_printf ("%u", n);
          g_autofree char *saved = member_path (store, id, name);
          gsize size;
          gconstpointer bytes = g_bytes_get_data (data->content, &size);

          if (owner != NULL)
            g_key_file_set_string (keys, group, "owner", owner);
          if (grp != NULL)
            g_key_file_set_string (keys, group, "group", grp);
          g_key_file_set_uint64 (keys, group, "uid", data->uid);
          g_key_file_set_uint64 (keys, group, "gid", data->gid);
          g_key_file_set_string (keys, group, "mode", mode);
          g_key_file_set_uint64 (keys, group, "size", size);
          g_key_file_set_string (keys, group, "sha256", sum);
          if (!nts_root_write_atomic (store->root, saved, size > 0 ? bytes : "", size,
                                      0, 0, 0600, error))
            return NULL;
        }
    }
  g_key_file_set_integer (keys, GROUP_SNAPSHOT, "files", n);

  if (!write_manifest (store, id, keys, error))
    return NULL;
  return g_steal_pointer (&id);
}

/* ---- load ---- */

static gboolean
damaged (GError **error, const char *id, const char *what)
{
  /* @what may quote the manifest (GKeyFile's messages do, byte for
   * byte); Rollback sends this over D-Bus, which takes only UTF-8. */
  g_autofree char *shown = g_utf8_make_valid (what, -1);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "snapshot %s is damaged: %s", id, shown);
  return FALSE;
}

static gboolean
parse_mode (const char *text, guint *mode)
{
  char *end = NULL;
  guint64 value;

  if (text == NULL || text[0] == '\0')
    return FALSE;
  value = g_ascii_strtoull (text, &end, 8);
  if (*end != '\0' || value > 07777)
    return FALSE;
  *mode = value;
  return TRUE;
}

/* One [file N] group; with @with_content the saved bytes too, checked
 * against the manifest's size and sha256. */
static NtsSnapshotFile *
load_file (NtsSnapshotStore *store,
           const char       *id,
           GKeyFile         *keys,
           guint             index,
           gboolean          with_content,
           GError          **error)
{
  g_autoptr(NtsSnapshotFile) file = g_new0 (NtsSnapshotFile, 1);
  g_autofree char *group = file_group (index);
  g_autofree char *mode = NULL;
  g_autoptr(GError) local_error = NULL;

  file->path = g_key_file_get_string (keys, group, "path", NULL);
  if (!nts_guest_path_is_valid (file->path))
    {
      g_autofree char *what = g_strdup_printf ("[%s] has no valid path", group);
      damaged (error, id, what);
      return NULL;
    }
  file->exists = g_key_file_get_boolean (keys, group, "exists", &local_error);
  if (local_error != NULL)
    {
      damaged (error, id, local_error->message);
      return NULL;
    }
  file->applied_sha256 = g_key_file_get_string (keys, group, "applied-sha256", NULL);
  if (file->applied_sha256 != NULL)
    {
      g_autofree char *applied_mode = g_key_file_get_string (keys, group, "applied-mode", NULL);

      file->applied_uid = g_key_file_get_uint64 (keys, group, "applied-uid", NULL);
      file->applied_gid = g_key_file_get_uint64 (keys, group, "applied-gid", NULL);
      if (!parse_mode (applied_mode, &file->applied_mode))
        {
          damaged (error, id, "an applied-mode is not an octal mode");
          return NULL;
        }
    }
  if (!file->exists)
    return g_steal_pointer (&file);

  file->owner = g_key_file_get_string (keys, group, "owner", NULL);
  file->group = g_key_file_get_string (keys, group, "group", NULL);
  file->uid = g_key_file_get_uint64 (keys, group, "uid", &local_error);
  if (local_error == NULL)
    file->gid = g_key_file_get_uint64 (keys, group, "gid", &local_error);
  mode = g_key_file_get_string (keys, group, "mode", NULL);
  if (local_error != NULL || !parse_mode (mode, &file->mode))
    {
      damaged (error, id, local_error != NULL ? local_error->message : "a mode is not an octal mode");
      return NULL;
    }

  if (with_content)
    {
      g_autofree char *name = g_strdup_printf ("%u", index);
      g_autofree char *saved = member_path (store, id, name);
      g_autofree char *sha256 = g_key_file_get_string (keys, group, "sha256", NULL);
      g_autofree char *sum = NULL;
      g_autoptr(NtsFileData) data = nts_root_read (store->root, saved, 0, error);
      guint64 size = g_key_file_get_uint64 (keys, group, "size", NULL);

      if (data == NULL)
        return NULL;
      if (!data->exists)
        {
          g_autofree char *what = g_strdup_printf ("the saved copy of %s is missing", file->path);
          damaged (error, id, what);
          return NULL;
        }
      sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data->content);
      if (g_bytes_get_size (data->content) != size || g_strcmp0 (sum, sha256) != 0)
        {
          g_autofree char *what = g_strdup_printf ("the saved copy of %s does not match its checksum",
                                                   file->path);
          damaged (error, id, what);
          return NULL;
        }
      file->content = g_bytes_ref (data->content);
    }
  return g_steal_pointer (&file);
}

static NtsPackageChanges *load_packages (GKeyFile *keys, const char *id, GError **error);
static GVariant *load_steps (GKeyFile *keys, const char *id, GError **error);

static NtsSnapshot *snapshot_from_keys (NtsSnapshotStore  *store,
                                        const char        *id,
                                        GKeyFile          *keys,
                                        gboolean           with_content,
                                        GError           **error);

static NtsSnapshot *
load (NtsSnapshotStore *store, const char *id, gboolean with_content, GError **error)
{
  g_autoptr(GKeyFile) keys = NULL;

  if (!nts_snapshot_id_is_valid (id))
    {
      no_such_snapshot (error, id != NULL ? id : "");
      return NULL;
    }
  keys = read_manifest (store, id, error);
  if (keys == NULL)
    return NULL;
  return snapshot_from_keys (store, id, keys, with_content, error);
}

NtsSnapshot *
nts_snapshot_manifest_parse (const char  *id,
                             const char  *text,
                             gsize        size,
                             GError     **error)
{
  g_autoptr(GKeyFile) keys = NULL;

  g_return_val_if_fail (nts_snapshot_id_is_valid (id), NULL);

  keys = manifest_from_data (id, MANIFEST, text, size, error);
  if (keys == NULL)
    return NULL;
  return snapshot_from_keys (NULL, id, keys, FALSE, error);
}

/* @store is only used @with_content, to read the saved files. */
static NtsSnapshot *
snapshot_from_keys (NtsSnapshotStore  *store,
                    const char        *id,
                    GKeyFile          *keys,
                    gboolean           with_content,
                    GError           **error)
{
  g_autoptr(NtsSnapshot) snapshot = g_new0 (NtsSnapshot, 1);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *state_text = NULL;
  gint n_files;

  snapshot->id = g_key_file_get_string (keys, GROUP_SNAPSHOT, "id", NULL);
  if (g_strcmp0 (snapshot->id, id) != 0)
    {
      damaged (error, id, "its manifest names another id");
      return NULL;
    }
  snapshot->time = g_key_file_get_int64 (keys, GROUP_SNAPSHOT, "time", NULL);
  snapshot->version = g_key_file_get_string (keys, GROUP_SNAPSHOT, "version", NULL);
  if (snapshot->version == NULL)
    snapshot->version = g_strdup ("");
  snapshot->original = g_key_file_get_boolean (keys, GROUP_SNAPSHOT, "original", NULL);
  state_text = g_key_file_get_string (keys, GROUP_SNAPSHOT, "state", NULL);
  /* g_variant_parse() hands back a full (non-floating) reference. */
  snapshot->state = state_text != NULL
    ? g_variant_parse (G_VARIANT_TYPE_VARDICT, state_text, NULL, NULL, &local_error)
    : NULL;
  if (snapshot->state == NULL)
    {
      damaged (error, id, local_error != NULL ? local_error->message : "no state");
      return NULL;
    }
  n_files = g_key_file_get_integer (keys, GROUP_SNAPSHOT, "files", NULL);
  if (n_files < 0 || n_files > 4096)
    {
      damaged (error, id, "an impossible number of files");
      return NULL;
    }

  snapshot->files = g_ptr_array_new_with_free_func ((GDestroyNotify) nts_snapshot_file_free);
  for (gint i = 0; i < n_files; i++)
    {
      NtsSnapshotFile *file = load_file (store, id, keys, i, with_content, error);

      if (file == NULL)
        return NULL;
      g_ptr_array_add (snapshot->files, file);
    }
  snapshot->packages = load_packages (keys, id, error);
  if (snapshot->packages == NULL)
    return NULL;
  snapshot->steps = load_steps (keys, id, error);
  if (snapshot->steps == NULL)
    return NULL;
  return g_steal_pointer (&snapshot);
}

NtsSnapshot *
nts_snapshot_store_load (NtsSnapshotStore *store, const char *id, GError **error)
{
  return load (store, id, TRUE, error);
}

/* ---- list ---- */

GStrv
nts_snapshot_store_list_ids (NtsSnapshotStore *store, GError **error)
{
  g_autoptr(GPtrArray) ids = all_ids (store, error);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (ids == NULL)
    return NULL;
  for (guint i = ids->len; i-- > 0;)
    {
      g_autoptr(GError) local_error = NULL;

      if (is_complete (store, ids->pdata[i], &local_error))
        g_strv_builder_add (builder, ids->pdata[i]);
      else if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }
  return g_strv_builder_end (builder);
}

static GVariant *
details_of (const NtsSnapshot *snapshot)
{
  GVariantDict dict;
  g_autoptr(GVariant) servers = g_variant_lookup_value (snapshot->state, "servers", G_VARIANT_TYPE_STRING_ARRAY);
  g_autoptr(GVariant) min_sources = g_variant_lookup_value (snapshot->state, "min-sources", G_VARIANT_TYPE_UINT32);
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();

  g_variant_dict_init (&dict, NULL);
  if (servers != NULL)
    g_variant_dict_insert_value (&dict, "servers", servers);
  if (min_sources != NULL)
    g_variant_dict_insert_value (&dict, "min-sources", min_sources);
  for (guint i = 0; i < snapshot->files->len; i++)
    g_ptr_array_add (paths, ((NtsSnapshotFile *) snapshot->files->pdata[i])->path);
  g_variant_dict_insert_value (&dict, "files",
                               g_variant_new_strv ((const char *const *) paths->pdata, paths->len));
  g_variant_dict_insert (&dict, "version", "s", snapshot->version);
  g_variant_dict_insert (&dict, "original", "b", snapshot->original);
  return g_variant_dict_end (&dict);
}

GVariant *
nts_snapshot_store_list (NtsSnapshotStore *store, GError **error)
{
  g_auto(GStrv) ids = nts_snapshot_store_list_ids (store, error);
  GVariantBuilder builder;

  if (ids == NULL)
    return NULL;
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sta{sv})"));
  for (char **id = ids; *id != NULL; id++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(NtsSnapshot) snapshot = load (store, *id, FALSE, &local_error);

      /* One damaged snapshot must not hide the others. */
      if (snapshot == NULL)
        {
          nts_log_snapshot (G_LOG_LEVEL_MESSAGE, *id, "ListSnapshots: leaving out %s: %s", *id,
                            local_error->message);
          continue;
        }
      g_variant_builder_add (&builder, "(st@a{sv})", snapshot->id,
                             (guint64) MAX (snapshot->time, 0), details_of (snapshot));
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/* ---- restore ---- */

gboolean
nts_snapshot_restore_file (NtsRoot *root, const NtsSnapshotFile *file, GError **error)
{
  gconstpointer bytes;
  gsize size;
  uid_t uid = file->uid;
  gid_t gid = file->gid;

  if (!file->exists)
    return nts_root_remove (root, file->path, NULL, error);

  g_return_val_if_fail (file->content != NULL, FALSE);
  if (file->owner != NULL)
    nts_lookup_user (file->owner, &uid, NULL);
  if (file->group != NULL)
    nts_lookup_group (file->group, &gid, NULL);
  /* Already as saved: nothing is written. A step that failed before it
   * replaced the file (a full disk, a read-only mount) is then undone
   * without writing where writing just failed. */
  {
    g_autoptr(NtsFileData) now = nts_root_read (root, file->path, 0, NULL);

    if (now != NULL && now->exists && now->uid == uid && now->gid == gid &&
        now->mode == (file->mode & 07777) && g_bytes_equal (now->content, file->content))
      return TRUE;
  }
  bytes = g_bytes_get_data (file->content, &size);
  return nts_root_write_atomic (root, file->path, size > 0 ? bytes : "", size,
                                uid, gid, file->mode, error);
}

gboolean
nts_snapshot_restore_files (NtsRoot *root, const NtsSnapshot *snapshot, GError **error)
{
  for (guint i = snapshot->files->len; i-- > 0;)
    if (!nts_snapshot_restore_file (root, snapshot->files->pdata[i], error))
      return FALSE;
  return TRUE;
}

/* ---- prune ---- */

/* The manifest goes first: should we stop halfway, what is left is an
 * unfinished snapshot, removed next time, never a manifest without its
 * files. Only names this store writes are removed; anything else keeps
 * the directory (and is reported). */
static gboolean
remove_snapshot (NtsSnapshotStore *store, const char *id, GError **error)
{
  g_autofree char *dir = snapshot_dir (store, id);
  g_autofree char *manifest = member_path (store, id, MANIFEST);
  g_autoptr(GPtrArray) names = NULL;

  if (!nts_root_remove (store->root, manifest, NULL, error))
    return FALSE;
  names = nts_root_list_dir (store->root, dir, error);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *path = member_path (store, id, name);
      gboolean ours = (name[0] != '\0' && strspn (name, "0123456789") == strlen (name)) ||
                      (name[0] == '.' && strstr (name, ".ntssetup-") != NULL);

      if (!ours)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_EMPTY,
                       "cannot remove snapshot %s: %s was not written by ntssetup", id, path);
          return FALSE;
        }
      if (!nts_root_remove (store->root, path, NULL, error))
        return FALSE;
    }
  return nts_root_remove_empty_dir (store->root, dir, error);
}

gboolean
nts_snapshot_store_discard (NtsSnapshotStore *store, const char *id, GError **error)
{
  if (!nts_snapshot_id_is_valid (id))
    return no_such_snapshot (error, id);
  if (!writable (store, error))
    return FALSE;
  return remove_snapshot (store, id, error);
}

gboolean
nts_snapshot_store_prune (NtsSnapshotStore *store, GError **error)
{
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GPtrArray) complete = g_ptr_array_new ();   /* newest first */
  g_autoptr(GHashTable) keep = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean have_original = FALSE;

  if (!writable (store, error))
    return FALSE;
  ids = all_ids (store, error);
  if (ids == NULL)
    return FALSE;

  for (guint i = ids->len; i-- > 0;)
    {
      const char *id = ids->pdata[i];
      g_autoptr(GError) local_error = NULL;

      if (is_complete (store, id, &local_error))
        g_ptr_array_add (complete, (gpointer) id);
      else if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      else if (!remove_snapshot (store, id, error))
        return FALSE;
    }

  for (guint i = 0; i < complete->len; i++)
    {
      const char *id = complete->pdata[i];
      g_autoptr(GKeyFile) keys = NULL;
      g_autoptr(GError) local_error = NULL;

      if (i < NTS_SNAPSHOT_KEEP)
        g_hash_table_add (keep, (gpointer) id);
      keys = read_manifest (store, id, &local_error);
      /* A manifest we can't read is kept: it may be the original, and a
       * snapshot is too valuable to drop on a guess. */
      if (keys == NULL)
        g_hash_table_add (keep, (gpointer) id);
      else if (g_key_file_get_boolean (keys, GROUP_SNAPSHOT, "original", NULL))
        {
          g_hash_table_add (keep, (gpointer) id);
          have_original = TRUE;
        }
    }
  /* Never drop the oldest when no snapshot says it is the original. */
  if (!have_original && complete->len > 0)
    g_hash_table_add (keep, complete->pdata[complete->len - 1]);

  for (guint i = 0; i < complete->len; i++)
    if (!g_hash_table_contains (keep, complete->pdata[i]) &&
        !remove_snapshot (store, complete->pdata[i], error))
      return FALSE;
  return TRUE;
}

/* ---- what Apply wrote ---- */

gboolean
nts_snapshot_store_record_applied (NtsSnapshotStore  *store,
                                   const char        *id,
                                   const char        *path,
                                   const char        *sha256,
                                   uid_t              uid,
                                   gid_t              gid,
                                   guint              mode,
                                   GError           **error)
{
  g_autoptr(GKeyFile) keys = NULL;
  gint n_files;

  g_return_val_if_fail (sha256 != NULL && strlen (sha256) == 64, FALSE);
  g_return_val_if_fail ((mode & ~07777) == 0, FALSE);

  keys = manifest_for_update (store, id, error);
  if (keys == NULL)
    return FALSE;
  n_files = g_key_file_get_integer (keys, GROUP_SNAPSHOT, "files", NULL);
  for (gint i = 0; i < n_files; i++)
    {
      g_autofree char *group = file_group (i);
      g_autofree char *held = g_key_file_get_string (keys, group, "path", NULL);
      g_autofree char *mode_text = NULL;

      if (g_strcmp0 (held, path) != 0)
        continue;
      mode_text = g_strdup_printf ("%04o", mode);
      g_key_file_set_string (keys, group, "applied-sha256", sha256);
      g_key_file_set_uint64 (keys, group, "applied-uid", uid);
      g_key_file_set_uint64 (keys, group, "applied-gid", gid);
      g_key_file_set_string (keys, group, "applied-mode", mode_text);
      return write_manifest (store, id, keys, error);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "snapshot %s holds no file %s", id, path);
  return FALSE;
}

gboolean
nts_snapshot_path_differs (NtsRoot     *root,
                           const char  *path,
                           gboolean     exists,
                           const char  *sha256,
                           uid_t        uid,
                           gid_t        gid,
                           guint        mode,
                           gboolean    *differs,
                           GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(NtsFileData) now = nts_root_read (root, path, 0, &local_error);
  g_autofree char *sum = NULL;

  /* A link, a directory or a huge file where a file was (or nothing
   * was): that is a change, not a reason to fail. */
  if (now == NULL && nts_root_read_found_other (local_error))
    {
      *differs = TRUE;
      return TRUE;
    }
  if (now == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!exists || !now->exists)
    {
      *differs = exists != now->exists;
      return TRUE;
    }
  sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, now->content);
  *differs = g_strcmp0 (sum, sha256) != 0 || now->uid != uid || now->gid != gid ||
             now->mode != mode;
  return TRUE;
}

gboolean
nts_snapshot_store_changed_since (NtsSnapshotStore   *store,
                                  const char         *id,
                                  const char *const  *paths,
                                  gboolean           *changed,
                                  GStrv              *changed_paths,
                                  GError            **error)
{
  g_autoptr(NtsSnapshot) snapshot = load (store, id, FALSE, error);
  g_autoptr(GStrvBuilder) differ = g_strv_builder_new ();
  gboolean any = FALSE;

  if (snapshot == NULL)
    return FALSE;
  for (guint i = 0; i < snapshot->files->len; i++)
    {
      const NtsSnapshotFile *file = snapshot->files->pdata[i];
      gboolean differs = FALSE;

      if (file->applied_sha256 == NULL ||
          (paths != NULL && !g_strv_contains (paths, file->path)))
        continue;
      if (!nts_snapshot_path_differs (store->root, file->path, TRUE, file->applied_sha256,
                                      file->applied_uid, file->applied_gid, file->applied_mode,
                                      &differs, error))
        return FALSE;
      if (differs)
        {
          g_strv_builder_add (differ, file->path);
          any = TRUE;
        }
    }
  *changed = any;
  if (changed_paths != NULL)
    *changed_paths = g_strv_builder_end (differ);
  return TRUE;
}

/* ---- what Apply did to packages ---- */

#define GROUP_PACKAGES "packages"

static gboolean
names_are_valid (const char *const *names)
{
  for (; *names != NULL; names++)
    if (!nts_package_name_is_valid (*names))
      return FALSE;
  return TRUE;
}

/* A missing group or key is an empty list: snapshots taken before Apply
 * changed any package have none. */
static GStrv
load_names (GKeyFile *keys, const char *key)
{
  GStrv names = g_key_file_get_string_list (keys, GROUP_PACKAGES, key, NULL, NULL);

  return names != NULL ? names : g_new0 (char *, 1);
}

static NtsPackageChanges *
load_packages (GKeyFile *keys, const char *id, GError **error)
{
  g_autoptr(NtsPackageChanges) changes = nts_package_changes_new_empty ();

  g_strfreev (changes->installed);
  changes->installed = load_names (keys, "installed");
  g_strfreev (changes->removed);
  changes->removed = load_names (keys, "removed");
  if (!names_are_valid ((const char *const *) changes->installed) ||
      !names_are_valid ((const char *const *) changes->removed))
    {
      damaged (error, id, "[packages] holds something that is not a package name");
      return NULL;
    }
  return g_steal_pointer (&changes);
}

gboolean
nts_snapshot_store_record_packages (NtsSnapshotStore         *store,
                                    const char               *id,
                                    const NtsPackageChanges  *changes,
                                    GError                  **error)
{
  g_autoptr(GKeyFile) keys = NULL;

  g_return_val_if_fail (changes != NULL, FALSE);

  if (!names_are_valid ((const char *const *) changes->installed) ||
      !names_are_valid ((const char *const *) changes->removed))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "cannot record packages in snapshot %s: not a package name", id);
      return FALSE;
    }
  keys = manifest_for_update (store, id, error);
  if (keys == NULL)
    return FALSE;
  g_key_file_set_string_list (keys, GROUP_PACKAGES, "installed",
                              (const char *const *) changes->installed,
                              g_strv_length (changes->installed));
  g_key_file_set_string_list (keys, GROUP_PACKAGES, "removed",
                              (const char *const *) changes->removed,
                              g_strv_length (changes->removed));
  return write_manifest (store, id, keys, error);
}

/* ---- what steps noted for their undos ---- */

#define GROUP_STEPS "steps"

static gboolean
step_name_is_valid (const char *step)
{
  if (step == NULL || step[0] == '\0' || strlen (step) > 64)
    return FALSE;
  for (const char *p = step; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
      return FALSE;
  return TRUE;
}

/* Each key a step name, each value an a{sv} in GVariant text: anything
 * else is a damaged manifest, as a damaged state is. */
static GVariant *
load_steps (GKeyFile *keys, const char *id, GError **error)
{
  g_auto(GStrv) steps = g_key_file_get_keys (keys, GROUP_STEPS, NULL, NULL);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (char **step = steps; step != NULL && *step != NULL; step++)
    {
      g_autofree char *text = g_key_file_get_string (keys, GROUP_STEPS, *step, NULL);
      GVariant *state = NULL;

      if (step_name_is_valid (*step) && text != NULL)
        state = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, NULL);
      if (state == NULL)
        {
          g_variant_builder_clear (&builder);
          damaged (error, id, "[steps] holds something that is not a step's a{sv}");
          return NULL;
        }
      /* g_variant_parse()'s reference is a full one. */
      g_variant_builder_add (&builder, "{sv}", *step, state);
      g_variant_unref (state);
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

GVariant *
nts_snapshot_step_state (const NtsSnapshot *snapshot, const char *step)
{
  g_return_val_if_fail (snapshot != NULL && step != NULL, NULL);

  if (snapshot->steps == NULL)
    return NULL;
  return g_variant_lookup_value (snapshot->steps, step, G_VARIANT_TYPE_VARDICT);
}

gboolean
nts_snapshot_store_record_step (NtsSnapshotStore *store, const char *id, const char *step,
                                GVariant *state, GError **error)
{
  g_autoptr(GKeyFile) keys = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GVariant) owned = NULL;

  g_return_val_if_fail (state != NULL && g_variant_is_of_type (state, G_VARIANT_TYPE_VARDICT),
                        FALSE);
  owned = g_variant_ref_sink (state);

  if (!step_name_is_valid (step))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "cannot record a step in snapshot %s: not a step name", id);
      return FALSE;
    }
  keys = manifest_for_update (store, id, error);
  if (keys == NULL)
    return FALSE;
  text = g_variant_print (state, TRUE);
  g_key_file_set_string (keys, GROUP_STEPS, step, text);
  return write_manifest (store, id, keys, error);
}
