/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Recovery after a crash: see recovery.h. */
#include "recovery.h"

#include "apply.h"
#include "fault.h"
#include "journal.h"
#include "rollback.h"
#include "snapshot-undo.h"
#include "systemd-jobs.h"
#include "task-tag.h"

typedef struct {
  NtsRoot          *root;
  GDBusConnection  *bus;
  char             *state_dir;
  guint             job_timeout_ms;
  gboolean          at_boot;
  NtsJournalEntry  *entry;
} Recovery;

static void
recovery_free (Recovery *rc)
{
  g_clear_object (&rc->bus);
  g_free (rc->state_dir);
  g_clear_pointer (&rc->entry, nts_journal_entry_free);
  g_free (rc);
}

gboolean
nts_recovery_needed (NtsRoot *root, const char *state_dir, GError **error)
{
  GError *local = NULL;
  g_autoptr(NtsJournalEntry) entry = nts_journal_load (root, state_dir, &local);

  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return entry != NULL;
}

static void
recovered (GTask *task, GVariant *result, GError *error)
{
  Recovery *rc = g_task_get_task_data (task);
  GVariantDict dict;

  if (result == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_variant_dict_init (&dict, result);
  g_variant_dict_insert (&dict, "recovered-kind", "s", nts_journal_kind_to_string (rc->entry->kind));
  g_task_return_pointer (task, g_variant_ref_sink (g_variant_dict_end (&dict)),
                         (GDestroyNotify) g_variant_unref);
  g_variant_unref (result);
}

static void
on_apply_undone (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GVariant *result = nts_apply_recover_finish (res, &error);

  recovered (task, result, error);
}

static void
on_rollback_finished (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GVariant *result = nts_rollback_run_finish (res, &error);

  recovered (task, result, error);
}

/* An interrupted Apply is undone, step by step as its journal says, by
 * Apply's own undos; an interrupted Rollback is finished. A journal too
 * torn to say which it was restores its snapshot whole, which is right
 * for either. */
static void
recover (GTask *task)
{
  Recovery *rc = g_task_get_task_data (task);
  NtsRollbackParams params = {
    .root = rc->root,
    .system_bus = rc->bus,
    .state_dir = rc->state_dir,
    .recover = rc->entry,
    .job_timeout_ms = rc->job_timeout_ms,
    .at_boot = rc->at_boot,
  };

  if (rc->entry->kind == NTS_JOURNAL_APPLY)
    nts_apply_recover_async (rc->root, rc->bus, rc->state_dir, rc->entry, rc->job_timeout_ms,
                             rc->at_boot, g_task_get_cancellable (task), on_apply_undone, task);
  else
    nts_rollback_run_async (&params, NULL, NULL, g_task_get_cancellable (task),
                            on_rollback_finished, task);
}

static void
on_fault_point (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!nts_fault_point_finish (res, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  recover (task);
}

/* Tests hold recovery here ("recover:stall") to see the daemon while it
 * recovers. */
static void
restore (GTask *task)
{
  nts_fault_point_async ("recover", NTS_FAULT_BEFORE, g_task_get_cancellable (task),
                         on_fault_point, task);
}

static void
on_jobs_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!nts_systemd_wait_jobs_finish (res, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  restore (task);
}

/* The units the interrupted transaction's snapshot names (none when it
 * cannot be read: the undo then fails on its own, saying why). */
static GStrv
snapshot_units (Recovery *rc)
{
  g_autoptr(GStrvBuilder) units = g_strv_builder_new ();
  g_autoptr(NtsSnapshotStore) store = NULL;
  g_autoptr(NtsSnapshot) snapshot = NULL;

  if (rc->entry->snapshot_id != NULL)
    store = nts_snapshot_store_open_readonly (rc->root, rc->state_dir, NULL);
  if (store != NULL)
    snapshot = nts_snapshot_store_load (store, rc->entry->snapshot_id, NULL);
  if (snapshot != NULL && nts_snapshot_chrony_unit (snapshot) != NULL)
    g_strv_builder_add (units, nts_snapshot_chrony_unit (snapshot));
  if (snapshot != NULL && nts_snapshot_timesyncd_unit (snapshot) != NULL)
    g_strv_builder_add (units, nts_snapshot_timesyncd_unit (snapshot));
  return g_strv_builder_end (units);
}

void
nts_recovery_run_async (const NtsRecoveryParams *params, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Recovery *rc = g_new0 (Recovery, 1);
  GError *error = NULL;

  nts_task_set_source_tag (task, nts_recovery_run_async);
  rc->root = params->root;
  rc->bus = g_object_ref (params->system_bus);
  rc->state_dir = g_strdup (params->state_dir);
  rc->job_timeout_ms = params->job_timeout_ms;
  rc->at_boot = params->at_boot;
  g_task_set_task_data (task, rc, (GDestroyNotify) recovery_free);

  rc->entry = nts_journal_load (rc->root, rc->state_dir, &error);
  if (rc->entry == NULL)
    {
      if (error != NULL)
        g_task_return_error (task, error);
      else
        g_task_return_pointer (task, NULL, NULL);
      g_object_unref (task);
      return;
    }
  if (params->wait_for_jobs)
    {
      g_auto(GStrv) units = snapshot_units (rc);

      nts_systemd_wait_jobs_async (rc->bus, (const char *const *) units, rc->job_timeout_ms,
                                   cancellable, on_jobs_done, task);
    }
  else
    restore (task);
}

GVariant *
nts_recovery_run_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
