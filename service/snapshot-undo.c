/* Giving back what a snapshot holds: see snapshot-undo.h. */
#include "snapshot-undo.h"

#include <string.h>
#include <sys/stat.h>

#include "systemd-jobs.h"

const char *
nts_snapshot_file_of_step (const NtsSnapshot *snapshot, const char *step, gboolean *all_files)
{
  g_autoptr(GVariant) files = g_variant_lookup_value (snapshot->state, "step-files",
                                                      G_VARIANT_TYPE ("a{ss}"));
  const char *path = NULL;

  *all_files = files == NULL;
  if (files == NULL || !g_variant_lookup (files, step, "&s", &path))
    return NULL;
  /* Borrowed from the snapshot's state, which outlives the lookup. */
  for (guint i = 0; i < snapshot->files->len; i++)
    {
      const NtsSnapshotFile *saved = snapshot->files->pdata[i];
      if (g_str_equal (saved->path, path))
        return saved->path;
    }
  return NULL;
}

/* Removes @dir if it is a directory and empty; one removed counts among
 * @restored (Rollback's result says "restored or removed"). Anything else
 * there is not ours and stays. */
static gboolean
remove_dir_if_empty (NtsRoot *root, const char *dir, GPtrArray *restored, GError **error)
{
  struct stat st;
  gboolean existed = FALSE, exists = FALSE;

  if (!nts_root_lstat (root, dir, &st, &existed, error))
    return FALSE;
  if (!existed || !S_ISDIR (st.st_mode))
    return TRUE;
  if (!nts_root_remove_dir_if_empty (root, dir, error) ||
      !nts_root_lstat (root, dir, NULL, &exists, error))
    return FALSE;
  if (!exists && restored != NULL)
    g_ptr_array_add (restored, g_strdup (dir));
  return TRUE;
}

static int
longest_first (gconstpointer a, gconstpointer b)
{
  size_t la = strlen (*(const char *const *) a), lb = strlen (*(const char *const *) b);
  return la < lb ? 1 : la > lb ? -1 : 0;
}

static gboolean
is_below (const char *path, const char *dir)
{
  size_t n = strlen (dir);

  return strncmp (path, dir, n) == 0 && path[n] == '/';
}

/* The missing directories above @below (NULL: all of them), deepest
 * first. */
static gboolean
remove_absent_dirs (NtsRoot *root, const NtsSnapshot *snapshot, const char *below,
                    GPtrArray *restored, GError **error)
{
  g_autofree const char **dirs = NULL;
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();

  if (!g_variant_lookup (snapshot->state, "absent-dirs", "^a&s", &dirs))
    return TRUE;
  for (guint i = 0; dirs[i]; i++)
    if (nts_guest_path_is_valid (dirs[i]) && !g_str_equal (dirs[i], "/") &&
        (below == NULL || is_below (below, dirs[i])))
      g_ptr_array_add (sorted, (gpointer) dirs[i]);
  g_ptr_array_sort (sorted, longest_first);
  for (guint i = 0; i < sorted->len; i++)
    if (!remove_dir_if_empty (root, sorted->pdata[i], restored, error))
      return FALSE;
  return TRUE;
}

gboolean
nts_snapshot_undo_absent_dirs (NtsRoot *root, const NtsSnapshot *snapshot, GPtrArray *restored,
                               GError **error)
{
  return remove_absent_dirs (root, snapshot, NULL, restored, error);
}

gboolean
nts_snapshot_undo_file (NtsRoot *root, const NtsSnapshot *snapshot, const char *path,
                        GPtrArray *restored, GError **error)
{
  /* Last saved first: the reverse of the order Apply wrote them. */
  for (guint i = snapshot->files->len; i > 0; i--)
    {
      const NtsSnapshotFile *saved = snapshot->files->pdata[i - 1];

      if (path != NULL && !g_str_equal (saved->path, path))
        continue;
      if (!nts_snapshot_restore_file (root, saved, error))
        return FALSE;
      if (restored != NULL)
        g_ptr_array_add (restored, g_strdup (saved->path));
      if (!remove_absent_dirs (root, snapshot, saved->path, restored, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
nts_snapshot_undo_log_dir (NtsRoot *root, const NtsSnapshot *snapshot, GPtrArray *restored,
                           GError **error)
{
  g_autoptr(GVariant) log_dir = g_variant_lookup_value (snapshot->state, "log-dir",
                                                        G_VARIANT_TYPE_VARDICT);
  const char *path = NULL;
  gboolean existed = FALSE;
  guint32 uid = 0, gid = 0, mode = 0;

  if (log_dir == NULL || !g_variant_lookup (log_dir, "path", "&s", &path) ||
      !nts_guest_path_is_valid (path))
    return TRUE;
  g_variant_lookup (log_dir, "existed", "b", &existed);
  if (!existed)
    return remove_dir_if_empty (root, path, restored, error) &&
           remove_absent_dirs (root, snapshot, path, restored, error);
  if (!g_variant_lookup (log_dir, "uid", "u", &uid) ||
      !g_variant_lookup (log_dir, "gid", "u", &gid) ||
      !g_variant_lookup (log_dir, "mode", "u", &mode))
    return TRUE;
  if (!nts_root_ensure_dir (root, path, uid, gid, mode & 07777, FALSE, error))
    return FALSE;
  if (restored != NULL)
    g_ptr_array_add (restored, g_strdup (path));
  return TRUE;
}

static const char *
state_string (const NtsSnapshot *snapshot, const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (snapshot->state, key, "&s", &value) || value[0] == '\0')
    return NULL;
  return value;
}

const char *
nts_snapshot_chrony_unit (const NtsSnapshot *snapshot)
{
  return state_string (snapshot, "chrony-unit");
}

const char *
nts_snapshot_timesyncd_unit (const NtsSnapshot *snapshot)
{
  return state_string (snapshot, "timesyncd-unit");
}

NtsUnitState *
nts_snapshot_unit_state (const NtsSnapshot *snapshot, const char *unit)
{
  g_autoptr(GVariant) units = g_variant_lookup_value (snapshot->state, "units",
                                                      G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(NtsUnitState) state = NULL;

  if (units == NULL || unit == NULL)
    return NULL;
  dict = g_variant_lookup_value (units, unit, G_VARIANT_TYPE_VARDICT);
  if (dict == NULL)
    return NULL;
  state = g_new0 (NtsUnitState, 1);
  state->name = g_strdup (unit);
  g_variant_lookup (dict, "id", "s", &state->id);
  g_variant_lookup (dict, "load-state", "s", &state->load_state);
  g_variant_lookup (dict, "active-state", "s", &state->active_state);
  g_variant_lookup (dict, "unit-file-state", "s", &state->unit_file_state);
  if (state->id != NULL && state->id[0] == '\0')
    g_clear_pointer (&state->id, g_free);
  /* A unit that did not exist then has nothing to go back to. */
  if (state->load_state == NULL || g_str_equal (state->load_state, "not-found"))
    return NULL;
  return g_steal_pointer (&state);
}

char *
nts_unit_restored_line (const NtsUnitUndo *undo, gboolean left_to_boot)
{
  return g_strdup_printf ("%s: %s, %s", undo->unit,
                          !undo->restore_unit_file ? "unit file left as it is"
                          : undo->was_enabled ? "enabled" : "disabled",
                          left_to_boot ? "started by boot"
                          : undo->was_active ? "running" : "stopped");
}
