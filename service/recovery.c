/* Recovery after a crash: see recovery.h. */
#include "recovery.h"

#include "journal.h"
#include "restore.h"
#include "systemd-jobs.h"

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
on_restored (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Recovery *rc = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GVariant) result = nts_restore_run_finish (res, &error);
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
}

static void
restore (GTask *task)
{
  Recovery *rc = g_task_get_task_data (task);
  NtsRestoreParams params = {
    .root = rc->root,
    .system_bus = rc->bus,
    .state_dir = rc->state_dir,
    .recover = rc->entry,
    .job_timeout_ms = rc->job_timeout_ms,
    .at_boot = rc->at_boot,
  };

  nts_restore_run_async (&params, NULL, NULL, g_task_get_cancellable (task), on_restored, task);
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

void
nts_recovery_run_async (const NtsRecoveryParams *params, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Recovery *rc = g_new0 (Recovery, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, nts_recovery_run_async);
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
  if (params->wait_for_units != NULL)
    nts_systemd_wait_jobs_async (rc->bus, params->wait_for_units, rc->job_timeout_ms,
                                 cancellable, on_jobs_done, task);
  else
    restore (task);
}

GVariant *
nts_recovery_run_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
