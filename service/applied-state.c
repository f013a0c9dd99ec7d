/* The "applied" marker: see applied-state.h. */
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
