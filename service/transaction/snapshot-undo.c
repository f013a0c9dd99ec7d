/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Giving back what a snapshot holds: see snapshot-undo.h. */
#include "snapshot-undo.h"

#include <string.h>
#include <sys/stat.h>

#include "systemd-jobs.h"
#include "task-tag.h"

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

/* ---- units ------------------------------------------------------------ */

typedef struct {
  GDBusConnection *bus;
  NtsUnitUndo     *undo;
  gboolean         left_to_boot;
  gboolean         start_later;  /* enablement only: the caller starts it */
  gboolean         restart;
  guint            job_timeout_ms;
} UnitOp;

static void
unit_op_free (UnitOp *op)
{
  g_clear_object (&op->bus);
  nts_unit_undo_free (op->undo);
  g_free (op);
}

static void
unit_done (GTask *task, gboolean ok, GError *error)
{
  UnitOp *op = g_task_get_task_data (task);

  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task,
                           g_strdup_printf ("%s: %s, %s", op->undo->unit,
                                            !op->undo->restore_unit_file ? "unit file left as it is"
                                            : op->undo->was_enabled ? "enabled" : "disabled",
                                            op->left_to_boot ? "started by boot"
                                            : op->undo->was_active ? "running" : "stopped"),
                           g_free);
  g_object_unref (task);
}

static void
on_unit_restored (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GError *error = NULL;
  gboolean ok = nts_systemd_restore_unit_finish (res, &error);

  unit_done (user_data, ok, error);
}

static void
on_unit_file_restored (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GError *error = NULL;
  g_autoptr(GPtrArray) changes = nts_systemd_unit_files_finish (res, &error);

  unit_done (user_data, changes != NULL, error);
}

static void
on_unit_state_now (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  UnitOp *op = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(NtsUnitState) now = nts_systemd_get_unit_state_finish (res, &error);
  const char *units[] = { op->undo->unit, NULL };

  if (now == NULL)
    unit_done (task, FALSE, error);
  else if (g_strcmp0 (now->load_state, "not-found") == 0)
    {
      g_task_return_pointer (task, NULL, NULL);
      g_object_unref (task);
    }
  else if (!op->left_to_boot && !op->start_later)
    nts_systemd_restore_unit_async (op->bus, op->undo, op->job_timeout_ms,
                                    g_task_get_cancellable (task), on_unit_restored, task);
  else if (op->undo->restore_unit_file && op->undo->was_enabled)
    nts_systemd_enable_unit_files_async (op->bus, units, g_task_get_cancellable (task),
                                         on_unit_file_restored, task);
  else
    unit_done (task, TRUE, NULL);
}

void
nts_snapshot_undo_unit_async (GDBusConnection *bus, const NtsSnapshot *snapshot,
                              const char *unit, gboolean at_boot, gboolean start_later,
                              guint job_timeout_ms,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(NtsUnitState) before = nts_snapshot_unit_state (snapshot, unit);
  UnitOp *op = g_new0 (UnitOp, 1);
  gboolean is_chrony = g_strcmp0 (unit, nts_snapshot_chrony_unit (snapshot)) == 0;

  nts_task_set_source_tag (task, nts_snapshot_undo_unit_async);
  if (before == NULL)
    {
      before = g_new0 (NtsUnitState, 1);
      before->name = g_strdup (unit);
    }
  op->bus = g_object_ref (bus);
  op->undo = nts_unit_undo_new_from_state (before);
  op->job_timeout_ms = job_timeout_ms;
  /* At boot chronyd's own start job waits for the recovery (ordered
   * before chrony's unit, so chronyd never starts with half of a change):
   * a start of ours would wait for ourselves. */
  op->left_to_boot = at_boot && op->undo->was_active && is_chrony;
  op->start_later = start_later && op->undo->was_active;
  /* A chronyd that ran before runs on, but with the files the Apply
   * wrote until it reads the restored ones. */
  op->restart = op->undo->was_active && is_chrony && !op->left_to_boot;
  g_task_set_task_data (task, op, (GDestroyNotify) unit_op_free);
  nts_systemd_get_unit_state_async (bus, unit, cancellable, on_unit_state_now, task);
}

char *
nts_snapshot_undo_unit_finish (GAsyncResult *result, gboolean *restart, GError **error)
{
  UnitOp *op = g_task_get_task_data (G_TASK (result));
  char *line = g_task_propagate_pointer (G_TASK (result), error);

  if (restart != NULL)
    *restart = line != NULL && op->restart;
  return line;
}
