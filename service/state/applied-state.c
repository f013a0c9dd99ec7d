/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The "applied" marker and the Rollback record: see applied-state.h. */
#include "applied-state.h"

#include <string.h>

#include "snapshot-store.h"

static char *
marker_path (const char *state_dir)
{
  return g_strconcat (state_dir != NULL ? state_dir : NTS_SNAPSHOT_STATE_DIR, "/applied", NULL);
}

char *
nts_applied_state_get (NtsRoot *root, const char *state_dir, GError **error)
{
  g_autofree char *path = marker_path (state_dir);
  g_autoptr(NtsFileData) data = nts_root_read (root, path, 256, error);
  g_autofree char *id = NULL;

  if (data == NULL)
    return NULL;
  if (!data->exists)
    return NULL;
  id = g_strndup (g_bytes_get_data (data->content, NULL), g_bytes_get_size (data->content));
  g_strchomp (id);
  if (!nts_snapshot_id_is_valid (id))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s does not hold a snapshot id", path);
      return NULL;
    }
  return g_steal_pointer (&id);
}

gboolean
nts_applied_state_set (NtsRoot *root, const char *state_dir, const char *id, GError **error)
{
  g_autofree char *path = marker_path (state_dir);
  g_autofree char *line = NULL;

  if (id == NULL)
    return nts_root_remove (root, path, NULL, error);
  g_return_val_if_fail (nts_snapshot_id_is_valid (id), FALSE);
  line = g_strconcat (id, "\n", NULL);
  return nts_root_write_atomic (root, path, line, strlen (line), 0, 0, 0600, error);
}

/* ---- what the last Rollback left ---- */

#define RECORD_GROUP   "rollback"
#define RECORD_FORMAT  1
#define RECORD_MAX     (256 * 1024)

static char *
record_path (const char *state_dir)
{
  return g_strconcat (state_dir != NULL ? state_dir : NTS_SNAPSHOT_STATE_DIR, "/rolled-back", NULL);
}

gboolean
nts_rollback_record_save (NtsRoot            *root,
                          const char         *state_dir,
                          const char         *snapshot_id,
                          const char *const  *paths,
                          GError            **error)
{
  g_autofree char *path = record_path (state_dir);
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autofree char *text = NULL;
  gsize length;
  guint n = 0;

  g_return_val_if_fail (nts_snapshot_id_is_valid (snapshot_id), FALSE);
  g_return_val_if_fail (paths != NULL, FALSE);

  g_key_file_set_integer (keys, RECORD_GROUP, "format", RECORD_FORMAT);
  g_key_file_set_string (keys, RECORD_GROUP, "snapshot", snapshot_id);
  for (; paths[n] != NULL; n++)
    {
      g_autofree char *group = g_strdup_printf ("file %u", n);
      g_autoptr(GError) local_error = NULL;
      g_autoptr(NtsFileData) data = nts_root_read (root, paths[n], 0, &local_error);

      g_key_file_set_string (keys, group, "path", paths[n]);
      /* Something the restore did not leave (it writes regular files
       * only) got there in between: noted as such, so the next Rollback
       * calls it a change rather than this one failing for ever. */
      if (data == NULL && nts_root_read_found_other (local_error))
        {
          g_key_file_set_boolean (keys, group, "exists", FALSE);
          g_key_file_set_boolean (keys, group, "unreadable", TRUE);
          continue;
        }
      if (data == NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_key_file_set_boolean (keys, group, "exists", data->exists);
      if (data->exists)
        {
          g_autofree char *sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data->content);
          g_autofree char *mode = g_strdup_printf ("%04o", data->mode);

          g_key_file_set_string (keys, group, "sha256", sum);
          g_key_file_set_uint64 (keys, group, "uid", data->uid);
          g_key_file_set_uint64 (keys, group, "gid", data->gid);
          g_key_file_set_string (keys, group, "mode", mode);
        }
    }
  g_key_file_set_integer (keys, RECORD_GROUP, "files", n);
  text = g_key_file_to_data (keys, &length, NULL);
  return nts_root_write_atomic (root, path, text, length, 0, 0, 0600, error);
}

static gboolean
record_damaged (GError **error, const char *path, const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "%s, the record of the last Rollback, is damaged: %s", path, what);
  return FALSE;
}

gboolean
nts_rollback_record_changed (NtsRoot     *root,
                             const char  *state_dir,
                             gboolean    *recorded,
                             gboolean    *changed,
                             GStrv       *changed_paths,
                             GError     **error)
{
  g_autofree char *path = record_path (state_dir);
  g_autoptr(NtsFileData) data = nts_root_read (root, path, RECORD_MAX, error);
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autoptr(GStrvBuilder) differ = g_strv_builder_new ();
  g_autoptr(GError) local_error = NULL;
  gboolean any = FALSE;
  const char *text;
  gsize size;
  gint n_files;

  if (data == NULL)
    return FALSE;
  *recorded = data->exists;
  *changed = FALSE;
  if (!data->exists)
    {
      if (changed_paths != NULL)
        *changed_paths = g_strv_builder_end (differ);
      return TRUE;
    }
  text = g_bytes_get_data (data->content, &size);
  if (!g_key_file_load_from_data (keys, text != NULL ? text : "", size, G_KEY_FILE_NONE, &local_error))
    return record_damaged (error, path, local_error->message);
  if (g_key_file_get_integer (keys, RECORD_GROUP, "format", NULL) != RECORD_FORMAT)
    return record_damaged (error, path, "unknown format");
  n_files = g_key_file_get_integer (keys, RECORD_GROUP, "files", NULL);
  if (n_files < 0 || n_files > 4096)
    return record_damaged (error, path, "an impossible number of files");

  for (gint i = 0; i < n_files; i++)
    {
      g_autofree char *group = g_strdup_printf ("file %d", i);
      g_autofree char *file = g_key_file_get_string (keys, group, "path", NULL);
      g_autofree char *sha256 = g_key_file_get_string (keys, group, "sha256", NULL);
      g_autofree char *mode_text = g_key_file_get_string (keys, group, "mode", NULL);
      gboolean exists, differs = TRUE;
      guint64 mode = 0;
      char *end = NULL;

      if (!nts_guest_path_is_valid (file))
        return record_damaged (error, path, "a file without a valid path");
      exists = g_key_file_get_boolean (keys, group, "exists", &local_error);
      if (local_error != NULL)
        return record_damaged (error, path, local_error->message);
      if (exists)
        {
          mode = mode_text != NULL ? g_ascii_strtoull (mode_text, &end, 8) : 0;
          if (sha256 == NULL || mode_text == NULL || *mode_text == '\0' || *end != '\0' || mode > 07777)
            return record_damaged (error, path, "a file without sha256 or mode");
        }
      if (!g_key_file_get_boolean (keys, group, "unreadable", NULL) &&
          !nts_snapshot_path_differs (root, file, exists, sha256,
                                      g_key_file_get_uint64 (keys, group, "uid", NULL),
                                      g_key_file_get_uint64 (keys, group, "gid", NULL),
                                      mode, &differs, error))
        return FALSE;
      if (differs)
        {
          g_strv_builder_add (differ, file);
          any = TRUE;
        }
    }
  *changed = any;
  if (changed_paths != NULL)
    *changed_paths = g_strv_builder_end (differ);
  return TRUE;
}
