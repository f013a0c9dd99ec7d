/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rollback's steps: see rollback.h. */
#include "rollback.h"

#include <string.h>

#include "applied-state.h"
#include "ensure-chrony.h"
#include "nts-errors.h"
#include "nts-names.h"
#include "snapshot-store.h"
#include "snapshot-undo.h"
#include "step-runner.h"
#include "systemd-client.h"
#include "systemd-jobs.h"
#include "task-tag.h"

typedef struct _Restore Restore;

struct _Restore {
  NtsRoot          *root;
  GDBusConnection  *bus;
  char             *state_dir;
  char             *requested_id;
  gboolean          force;
  NtsJournalEntry  *recover;
  guint             job_timeout_ms;
  GCancellable     *cancellable;
  NtsStepRunner    *runner;

  NtsSnapshotStore *store;
  NtsSnapshot      *snapshot;
  char             *applied_id;  /* the marker before the restore */
  NtsJournal       *journal;
  gint64            started;

  guint             unit_index;  /* restore-units: the next of chronyd's, timesyncd's */
  gboolean          at_boot;
  gboolean          packages_forbidden;

  GPtrArray        *restored_files;
  GPtrArray        *unit_changes;
};

/* The step table and its functions are aligned by hand. */
/* clang-format off */
static void step_restore_files    (gpointer data, const NtsStep *step, GTask *task);
static void step_restore_packages (gpointer data, const NtsStep *step, GTask *task);
static void step_restore_units    (gpointer data, const NtsStep *step, GTask *task);

/* No undos: a restore cut short is finished, never undone (each step may
 * run twice with the same outcome). */
static const NtsStep rollback_steps[] = {
  { "restore-files",    step_restore_files },
  /* Before the units: a package put back brings its unit back. */
  { "restore-packages", step_restore_packages },
  { "restore-units",    step_restore_units },
};
/* clang-format on */

static void
restore_free (Restore *rs)
{
  g_clear_object (&rs->bus);
  g_free (rs->state_dir);
  g_free (rs->requested_id);
  g_clear_pointer (&rs->recover, nts_journal_entry_free);
  g_clear_object (&rs->cancellable);
  g_clear_pointer (&rs->runner, nts_step_runner_free);
  g_clear_pointer (&rs->store, nts_snapshot_store_free);
  g_clear_pointer (&rs->snapshot, nts_snapshot_free);
  g_free (rs->applied_id);
  g_clear_pointer (&rs->journal, nts_journal_free);
  g_clear_pointer (&rs->restored_files, g_ptr_array_unref);
  g_clear_pointer (&rs->unit_changes, g_ptr_array_unref);
  g_free (rs);
}

/* ---- restore-files ---------------------------------------------------- */

static void
step_restore_files (gpointer data, const NtsStep *step, GTask *task)
{
  Restore *rs = data;
  GError *error = NULL;
  gboolean ok = nts_snapshot_undo_file (rs->root, rs->snapshot, NULL, rs->restored_files, &error) &&
                nts_snapshot_undo_log_dir (rs->root, rs->snapshot, rs->restored_files, &error) &&
                nts_snapshot_undo_absent_dirs (rs->root, rs->snapshot, rs->restored_files, &error);

  nts_step_return (task, ok, error);
}

/* ---- restore-packages ------------------------------------------------- */

NTS_STEP_DEFINE_FINISH (on_packages_undone, nts_packages_undo_finish)

/* What the Apply installed goes, what it removed comes back: needs no
 * PackageKit when it changed no package, and may run twice. */
static void
step_restore_packages (gpointer data, const NtsStep *step, GTask *task)
{
  Restore *rs = data;

  nts_packages_undo_async (rs->bus, rs->snapshot->packages, rs->cancellable,
                           on_packages_undone, task);
}

/* ---- restore-units ---------------------------------------------------- */

static void restore_next_unit (GTask *task);

static void
on_unit_restarted (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  g_autofree char *result = nts_systemd_unit_job_finish (res, &error);

  if (result == NULL)
    nts_step_return (task, FALSE, error);
  else
    restore_next_unit (task);
}

static void
on_unit_restored (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Restore *rs = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean restart = FALSE;
  char *line = nts_snapshot_undo_unit_finish (res, &restart, &error);

  if (error != NULL)
    {
      nts_step_return (task, FALSE, error);
      return;
    }
  if (line != NULL)
    g_ptr_array_add (rs->unit_changes, line);
  if (restart)
    nts_systemd_restart_unit_async (rs->bus, nts_snapshot_chrony_unit (rs->snapshot),
                                    rs->job_timeout_ms, rs->cancellable, on_unit_restarted, task);
  else
    restore_next_unit (task);
}

/* chronyd's unit first: timesyncd starts last, once nothing else may
 * still be holding the clock. Units that did not exist then have nothing
 * to go back to. */
static void
restore_next_unit (GTask *task)
{
  Restore *rs = g_task_get_task_data (task);
  const char *units[] = { nts_snapshot_chrony_unit (rs->snapshot),
                          nts_snapshot_timesyncd_unit (rs->snapshot) };
  const char *unit = NULL;

  while (unit == NULL && rs->unit_index < G_N_ELEMENTS (units))
    {
      g_autoptr(NtsUnitState) before = nts_snapshot_unit_state (rs->snapshot,
                                                                units[rs->unit_index]);
      if (before != NULL)
        unit = units[rs->unit_index];
      rs->unit_index++;
    }
  if (unit == NULL)
    nts_step_return (task, TRUE, NULL);
  else
    nts_snapshot_undo_unit_async (rs->bus, rs->snapshot, unit, rs->at_boot, FALSE,
                                  rs->job_timeout_ms,
                                  rs->cancellable, on_unit_restored, task);
}

static void
on_units_reloaded (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!nts_systemd_reload_finish (res, &error))
    nts_step_return (task, FALSE, error);
  else
    restore_next_unit (task);
}

static void
step_restore_units (gpointer data, const NtsStep *step, GTask *task)
{
  Restore *rs = data;

  rs->unit_index = 0;
  g_ptr_array_set_size (rs->unit_changes, 0);
  /* systemd must see the drop-in and ntp-units.d lists as they are again
   * before any unit is started. */
  nts_systemd_reload_async (rs->bus, rs->cancellable, on_units_reloaded, task);
}

/* ---- the run ---------------------------------------------------------- */

static GVariant *
result_variant (Restore *rs)
{
  GVariantDict dict;

  g_ptr_array_add (rs->restored_files, NULL);
  g_ptr_array_add (rs->unit_changes, NULL);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "snapshot-id", "s", rs->snapshot->id);
  g_variant_dict_insert_value (&dict, "restored-files",
                               g_variant_new_strv ((const char *const *) rs->restored_files->pdata, -1));
  g_variant_dict_insert_value (&dict, "unit-changes",
                               g_variant_new_strv ((const char *const *) rs->unit_changes->pdata, -1));
  /* Seen from the machine: what the restore installed is what the Apply
   * had removed, and the other way round. */
  g_variant_dict_insert_value (&dict, "packages-installed",
                               g_variant_new_strv ((const char *const *) rs->snapshot->packages->removed, -1));
  g_variant_dict_insert_value (&dict, "packages-removed",
                               g_variant_new_strv ((const char *const *) rs->snapshot->packages->installed, -1));
  g_variant_dict_insert (&dict, "duration-ms", "t",
                         (guint64) ((g_get_monotonic_time () - rs->started) / 1000));
  return g_variant_dict_end (&dict);
}

/* What is in place now: the Apply before the restored snapshot, if what
 * it wrote is what the restore left; otherwise nothing of ours. */
static gboolean
update_applied_marker (Restore *rs, GError **error)
{
  g_auto(GStrv) ids = nts_snapshot_store_list_ids (rs->store, error);
  const char *previous = NULL;

  if (ids == NULL)
    return FALSE;
  for (guint i = 0; ids[i] && previous == NULL; i++)
    if (strcmp (ids[i], rs->snapshot->id) < 0)
      {
        gboolean changed = TRUE;
        g_autoptr(NtsSnapshot) older = nts_snapshot_store_load (rs->store, ids[i], NULL);
        gboolean has_record = FALSE;

        for (guint f = 0; older && f < older->files->len; f++)
          if (((NtsSnapshotFile *) older->files->pdata[f])->applied_sha256 != NULL)
            has_record = TRUE;
        if (!has_record)
          continue;
        if (!nts_snapshot_store_changed_since (rs->store, ids[i], NULL, &changed, NULL, error))
          return FALSE;
        if (!changed)
          previous = ids[i];
        break;
      }
  return nts_applied_state_set (rs->root, rs->state_dir, previous, error);
}

/* What this Rollback left, for the next Rollback by id to compare with
 * (applied-state.h). Before the journal goes: a crash in between leaves
 * the journal, and the recovery that finishes the restore writes the
 * record, so it never describes a restore that did not happen. The
 * recovery of an interrupted Apply leaves the record alone, like an
 * Apply that failed: the files are back as they were before that Apply,
 * which is what the record said (or an edit the Apply was asked to
 * overwrite anyway). */
static gboolean
record_rollback (Restore *rs, GError **error)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();

  if (rs->recover != NULL && rs->recover->kind != NTS_JOURNAL_ROLLBACK)
    return TRUE;
  for (guint i = 0; i < rs->snapshot->files->len; i++)
    g_ptr_array_add (paths, ((NtsSnapshotFile *) rs->snapshot->files->pdata[i])->path);
  g_ptr_array_add (paths, NULL);
  return nts_rollback_record_save (rs->root, rs->state_dir, rs->snapshot->id,
                                   (const char *const *) paths->pdata, error);
}

static void
on_run_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Restore *rs = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  const char *step = NULL;

  if (!nts_step_runner_run_finish (rs->runner, res, &error))
    step = nts_step_runner_get_failed_step (rs->runner);
  else if (!update_applied_marker (rs, &error) || !record_rollback (rs, &error) ||
           !nts_journal_finish (rs->journal, &error))
    step = rollback_steps[G_N_ELEMENTS (rollback_steps) - 1].name;
  if (step != NULL)
    {
      g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                               "restoring snapshot %s: step %s failed: %s; the journal is kept, "
                               "and the next start of ntssetupd finishes the restore",
                               rs->snapshot->id, step, error->message);
      return;
    }
  g_task_return_pointer (task, g_variant_ref_sink (result_variant (rs)),
                         (GDestroyNotify) g_variant_unref);
}

static void
on_subscribed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Restore *rs = g_task_get_task_data (task);
  GError *error = NULL;
  guint first = 0;

  if (!nts_systemd_subscribe_finish (res, &error))
    {
      /* Nothing was changed yet: no journal step to keep. */
      if (rs->recover == NULL)
        nts_journal_finish (rs->journal, NULL);
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  nts_step_runner_set_journal (rs->runner, rs->journal);
  /* An interrupted Rollback is finished from the first step its journal
   * does not record; a torn journal cannot say, so all run again. */
  if (rs->recover != NULL && !rs->recover->torn)
    first = nts_step_runner_first_not_done (rs->runner,
                                            (const char *const *) rs->recover->steps);
  nts_step_runner_run_async (rs->runner, first, rs->cancellable, on_run_done, task);
}

/* The snapshot a Rollback of @requested restores: @requested itself, or
 * for NULL or "" the Apply in place. *@applied_id gets the marker (NULL
 * when no Apply is in place). Reads only. */
static char *
resolve_snapshot_id (NtsRoot     *root,
                     const char  *state_dir,
                     const char  *requested,
                     char       **applied_id,
                     GError     **error)
{
  GError *local = NULL;

  *applied_id = nts_applied_state_get (root, state_dir, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (requested != NULL && requested[0] != '\0')
    return g_strdup (requested);
  if (*applied_id == NULL)
    {
      g_set_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT,
                   "no ApplyHardenedConfig is in place to roll back; name a snapshot "
                   "(ListSnapshots, ntsctl snapshots) to restore an older state");
      return NULL;
    }
  return g_strdup (*applied_id);
}

/* The refusal of a Rollback without 'force' whose files were edited
 * @since ntssetup last wrote them. */
static gboolean
refuse_changed (GError **error, GStrv paths, const char *since)
{
  g_autofree char *list = g_strjoinv (", ", paths);

  g_set_error (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
               "nothing was changed: %s changed since %s; "
               "restore anyway with 'force' (ntsctl rollback --force)", list, since);
  return FALSE;
}

/* Someone may have edited the files since ntssetup last wrote them: a
 * Rollback would throw their work away. What ntssetup last wrote is the
 * Apply in place, if any, else what the last Rollback left. */
static gboolean
check_unchanged (Restore *rs, GError **error)
{
  g_auto(GStrv) paths = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean changed = FALSE, recorded = TRUE;

  if (rs->applied_id != NULL)
    {
      if (!nts_snapshot_store_changed_since (rs->store, rs->applied_id, NULL, &changed, &paths,
                                             error))
        return FALSE;
      return !changed || refuse_changed (error, paths, "ntssetup wrote it");
    }

  if (!nts_rollback_record_changed (rs->root, rs->state_dir, &recorded, &changed, &paths,
                                    &local_error))
    {
      /* A damaged record must not make Rollback impossible: 'force' is
       * the way out, as for any file we cannot vouch for. */
      g_set_error (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                   "nothing was changed: cannot tell whether the files were changed since "
                   "the last Rollback (%s); restore anyway with 'force' "
                   "(ntsctl rollback --force)", local_error->message);
      return FALSE;
    }
  /* No Apply in place and no Rollback ever recorded (a store from before
   * the record existed, or a marker removed by hand): nothing says the
   * files are ntssetup's, so they are treated as an administrator's. */
  if (!recorded)
    {
      g_set_error (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                   "nothing was changed: no ApplyHardenedConfig is in place and no Rollback "
                   "recorded what it left, so the files may hold changes made since; "
                   "restore anyway with 'force' (ntsctl rollback --force)");
      return FALSE;
    }
  return !changed || refuse_changed (error, paths, "the last Rollback put it back");
}

/* Which snapshot, and whether it may be restored: every check before the
 * journal is written, so a refusal changes nothing. */
static gboolean
prepare (Restore *rs, GError **error)
{
  g_autofree char *id = NULL;

  rs->store = nts_snapshot_store_open (rs->root, rs->state_dir, error);
  if (rs->store == NULL)
    return FALSE;
  if (rs->recover != NULL)
    {
      if (rs->recover->snapshot_id == NULL)
        {
          g_set_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT,
                       "the unfinished transaction's journal names no snapshot");
          return FALSE;
        }
      rs->snapshot = nts_snapshot_store_load (rs->store, rs->recover->snapshot_id, error);
      if (rs->snapshot == NULL)
        return FALSE;
      rs->journal = nts_journal_resume (rs->root, rs->state_dir, rs->recover, error);
      return rs->journal != NULL;
    }

  id = resolve_snapshot_id (rs->root, rs->state_dir, rs->requested_id, &rs->applied_id, error);
  if (id == NULL)
    return FALSE;
  rs->snapshot = nts_snapshot_store_load (rs->store, id, error);
  if (rs->snapshot == NULL)
    return FALSE;
  /* The caller asked before the lock (nts_rollback_changes_packages()):
   * this is what it was authorised for, checked again under the lock. */
  if (rs->packages_forbidden && !nts_package_changes_is_empty (rs->snapshot->packages))
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                   "nothing was changed: restoring snapshot %s installs or removes packages, "
                   "which needs " NTS_ACTION_INSTALL, rs->snapshot->id);
      return FALSE;
    }
  if (!rs->force && !check_unchanged (rs, error))
    return FALSE;
  rs->journal = nts_journal_begin (rs->root, rs->state_dir, NTS_JOURNAL_ROLLBACK,
                                   rs->snapshot->id, error);
  return rs->journal != NULL;
}

gboolean
nts_rollback_changes_packages (NtsRoot     *root,
                              const char  *state_dir,
                              const char  *snapshot_id,
                              gboolean    *changes,
                              GError     **error)
{
  g_autofree char *applied_id = NULL;
  g_autofree char *id = resolve_snapshot_id (root, state_dir, snapshot_id, &applied_id, error);
  g_autoptr(NtsSnapshotStore) store = NULL;
  g_autoptr(NtsSnapshot) snapshot = NULL;

  if (id == NULL)
    return FALSE;
  /* Asked to choose which polkit actions to require, so before anyone
   * is authorized: a read-only store, which writes nothing. */
  store = nts_snapshot_store_open_readonly (root, state_dir, error);
  if (store == NULL)
    return FALSE;
  snapshot = nts_snapshot_store_load (store, id, error);
  if (snapshot == NULL)
    return FALSE;
  /* step_restore_packages() undoes exactly this plan. */
  *changes = !nts_package_changes_is_empty (snapshot->packages);
  return TRUE;
}

void
nts_rollback_run_async (const NtsRollbackParams *params,
                       NtsStepProgress         progress,
                       gpointer                progress_data,
                       GCancellable           *cancellable,
                       GAsyncReadyCallback     callback,
                       gpointer                user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Restore *rs = g_new0 (Restore, 1);
  GError *error = NULL;

  nts_task_set_source_tag (task, nts_rollback_run_async);
  rs->root = params->root;
  rs->bus = g_object_ref (params->system_bus);
  rs->state_dir = g_strdup (params->state_dir);
  rs->requested_id = g_strdup (params->snapshot_id);
  rs->force = params->force;
  if (params->recover != NULL)
    {
      rs->recover = g_new0 (NtsJournalEntry, 1);
      rs->recover->kind = params->recover->kind;
      rs->recover->snapshot_id = g_strdup (params->recover->snapshot_id);
      rs->recover->started = params->recover->started;
      rs->recover->steps = g_strdupv (params->recover->steps);
      rs->recover->torn = params->recover->torn;
    }
  rs->job_timeout_ms = params->job_timeout_ms;
  rs->at_boot = params->at_boot;
  rs->packages_forbidden = params->packages_forbidden;
  rs->runner = nts_step_runner_new (rollback_steps, G_N_ELEMENTS (rollback_steps), FALSE, rs,
                                    progress, progress_data);
  rs->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  rs->started = g_get_monotonic_time ();
  rs->restored_files = g_ptr_array_new_with_free_func (g_free);
  rs->unit_changes = g_ptr_array_new_with_free_func (g_free);
  g_task_set_task_data (task, rs, (GDestroyNotify) restore_free);

  if (!prepare (rs, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* Jobs are waited for by JobRemoved, sent only to subscribers. */
  nts_systemd_subscribe_async (rs->bus, rs->cancellable, on_subscribed, task);
}

GVariant *
nts_rollback_run_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
