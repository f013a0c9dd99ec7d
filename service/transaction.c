/* The Apply transaction: see transaction.h. */
#include "transaction.h"

#include <string.h>

#include "accounts.h"
#include "applied-state.h"
#include "ensure-chrony.h"
#include "fault.h"
#include "journal.h"
#include "nts-errors.h"
#include "preflight.h"
#include "render.h"
#include "snapshot-store.h"
#include "systemd-client.h"
#include "systemd-jobs.h"
#include "verify.h"

typedef struct _Tx Tx;

/* A step's do or undo: completes @task with a boolean. */
typedef void (*StepFunc) (Tx *tx, GTask *task);

typedef struct {
  const char *name;
  StepFunc    run;
  StepFunc    undo;   /* NULL: nothing to give back */
} Step;

/* What one directory-making step found before it changed anything. */
typedef struct {
  gboolean   existed;
  uid_t      uid;
  gid_t      gid;
  guint      mode;
  GPtrArray *created;  /* guest paths of directories we made, outermost first */
  gboolean   touched;  /* whether the step got as far as changing anything */
} DirBefore;

struct _Tx {
  NtsRoot           *root;
  NtsLayout         *layout;
  GDBusConnection   *bus;
  char              *state_dir;
  GStrv              servers;
  guint              min_sources;
  guint              wait_sync_s;
  guint              job_timeout_ms;
  NtsTransactionReportFunc report_func;
  gpointer           report_data;
  gboolean           install;
  gboolean           preflight;   /* after installing chrony */
  NtsPackageChanges *packages;    /* what ensure-chrony changed */
  NtsTransactionProgress progress;
  gpointer           progress_data;
  GCancellable      *cancellable;

  GPtrArray         *files;       /* NtsRenderedFile*, everything Apply writes */
  NtsSnapshotStore  *store;
  char              *snapshot_id;
  NtsSnapshot       *snapshot;
  NtsJournal        *journal;
  NtsUnitUndo       *timesyncd_undo;
  NtsUnitUndo       *chrony_undo;
  gboolean           timesyncd_loaded;
  DirBefore          log_dir;
  GHashTable        *made_parents; /* step name -> GPtrArray of dirs we made */

  guint              index;       /* the step running, or being undone */
  const char        *failed_step;
  GError            *cause;
  GString           *undo_errors;
  gboolean           reloaded;
  gboolean           restart_chrony; /* after the undo: see undo_start_chronyd */

  /* For the result: ApplyHardenedConfig's keys. */
  gint64             started;
  GPtrArray         *changed_files;
  GPtrArray         *unit_changes;
  GVariant          *report;
  gboolean           chrony_enabled_now;
};

static void step_snapshot       (Tx *tx, GTask *task);
static void step_write_file     (Tx *tx, GTask *task);
static void undo_write_file     (Tx *tx, GTask *task);
static void step_ensure_chrony  (Tx *tx, GTask *task);
static void undo_ensure_chrony  (Tx *tx, GTask *task);
static void step_log_dir        (Tx *tx, GTask *task);
static void step_reload         (Tx *tx, GTask *task);
static void step_stop_timesyncd (Tx *tx, GTask *task);
static void step_start_chronyd  (Tx *tx, GTask *task);
static void step_commit_check   (Tx *tx, GTask *task);
static void step_commit         (Tx *tx, GTask *task);
static void undo_log_dir        (Tx *tx, GTask *task);
static void undo_stop_timesyncd (Tx *tx, GTask *task);
static void undo_start_chronyd  (Tx *tx, GTask *task);

static const Step steps[] = {
  { "snapshot",       step_snapshot,       NULL },
  { "ensure-chrony",  step_ensure_chrony,  undo_ensure_chrony },
  /* The file steps find their file by their name: file_of_step(). */
  { "write-config",   step_write_file,     undo_write_file },
  { "keys-file",      step_write_file,     undo_write_file },
  { "log-dir",        step_log_dir,        undo_log_dir },
  { "hardening",      step_write_file,     undo_write_file },
  { "ntp-units",      step_write_file,     undo_write_file },
  /* Undone by one Reload after every file is back (see finish_undo). */
  { "reload",         step_reload,         NULL },
  { "stop-timesyncd", step_stop_timesyncd, undo_stop_timesyncd },
  { "start-chronyd",  step_start_chronyd,  undo_start_chronyd },
  { "commit-check",   step_commit_check,   NULL },
  { "commit",         step_commit,         NULL },
};

const char *const *
nts_transaction_step_names (void)
{
  static const char *names[G_N_ELEMENTS (steps) + 1];

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    names[i] = steps[i].name;
  return names;
}

static void
tx_free (Tx *tx)
{
  nts_layout_free (tx->layout);
  g_clear_object (&tx->bus);
  g_free (tx->state_dir);
  g_strfreev (tx->servers);
  g_clear_object (&tx->cancellable);
  g_clear_pointer (&tx->files, g_ptr_array_unref);
  g_clear_pointer (&tx->store, nts_snapshot_store_free);
  g_free (tx->snapshot_id);
  g_clear_pointer (&tx->snapshot, nts_snapshot_free);
  g_clear_pointer (&tx->journal, nts_journal_free);
  g_clear_pointer (&tx->timesyncd_undo, nts_unit_undo_free);
  g_clear_pointer (&tx->chrony_undo, nts_unit_undo_free);
  g_clear_pointer (&tx->log_dir.created, g_ptr_array_unref);
  g_clear_pointer (&tx->made_parents, g_hash_table_unref);
  g_clear_error (&tx->cause);
  g_clear_pointer (&tx->changed_files, g_ptr_array_unref);
  g_clear_pointer (&tx->unit_changes, g_ptr_array_unref);
  g_clear_pointer (&tx->report, g_variant_unref);
  g_clear_pointer (&tx->packages, nts_package_changes_free);
  if (tx->undo_errors)
    g_string_free (tx->undo_errors, TRUE);
  g_free (tx);
}

/* ---- files ------------------------------------------------------------ */

static const NtsRenderedFile *
find_file (Tx *tx, const char *path)
{
  for (guint i = 0; path && i < tx->files->len; i++)
    {
      const NtsRenderedFile *file = tx->files->pdata[i];
      if (g_str_equal (file->path, path))
        return file;
    }
  return NULL;
}

/* The ntp-units.d list is the one rendered file the layout doesn't name. */
static const NtsRenderedFile *
find_ntp_units_file (Tx *tx)
{
  g_autofree char *dropin = nts_hardening_dropin_path (tx->layout);

  for (guint i = 0; i < tx->files->len; i++)
    {
      const NtsRenderedFile *file = tx->files->pdata[i];
      if (!g_str_equal (file->path, tx->layout->config_file) &&
          !g_str_equal (file->path, tx->layout->keys_file) &&
          !g_str_equal (file->path, dropin))
        return file;
    }
  return NULL;
}

/* Appends to @missing, outermost first, @dir and those of its ancestors
 * that do not exist, each once. */
static gboolean
find_missing_dirs (Tx *tx, const char *dir, GPtrArray *missing, GError **error)
{
  g_autofree char *cur = g_strdup (dir);
  guint at = missing->len;

  while (!g_str_equal (cur, "/"))
    {
      gboolean exists = FALSE;
      char *up;

      if (!nts_root_lstat (tx->root, cur, NULL, &exists, error))
        return FALSE;
      if (exists)
        break;
      if (!g_ptr_array_find_with_equal_func (missing, cur, g_str_equal, NULL))
        g_ptr_array_insert (missing, at, g_strdup (cur));
      up = g_path_get_dirname (cur);
      g_free (cur);
      cur = up;
    }
  return TRUE;
}

/* Creates the missing ancestors of @dir (and @dir) one by one, 0755
 * root:root, noting each in @created so the undo can remove exactly what
 * we made and nothing that was there before. */
static gboolean
make_dirs (Tx *tx, const char *dir, GPtrArray *created, GError **error)
{
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);

  if (!find_missing_dirs (tx, dir, missing, error))
    return FALSE;
  for (guint i = 0; i < missing->len; i++)
    {
      if (!nts_root_ensure_dir (tx->root, missing->pdata[i], 0, 0, 0755, FALSE, error))
        return FALSE;
      g_ptr_array_add (created, g_strdup (missing->pdata[i]));
    }
  return TRUE;
}

static gboolean
remove_made_dirs (Tx *tx, GPtrArray *created, GError **error)
{
  for (guint i = created ? created->len : 0; i > 0; i--)
    if (!nts_root_remove_dir_if_empty (tx->root, created->pdata[i - 1], error))
      return FALSE;
  if (created)
    g_ptr_array_set_size (created, 0);
  return TRUE;
}

static GPtrArray *
made_parents_for (Tx *tx, const char *step)
{
  GPtrArray *dirs = g_hash_table_lookup (tx->made_parents, step);

  if (dirs == NULL)
    {
      dirs = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (tx->made_parents, (gpointer) step, dirs);
    }
  return dirs;
}

/* Writes @file (NULL: nothing to write, success), making its directory
 * first when missing. */
static gboolean
write_file (Tx *tx, const char *step, const NtsRenderedFile *file, GError **error)
{
  g_autofree char *dir = NULL;

  if (file == NULL)
    return TRUE;
  dir = g_path_get_dirname (file->path);
  if (!make_dirs (tx, dir, made_parents_for (tx, step), error))
    return FALSE;
  if (!nts_rendered_file_write (file, tx->root, error))
    return FALSE;
  g_ptr_array_add (tx->changed_files, g_strdup (file->path));
  return TRUE;
}

/* Gives back the file at @path as the snapshot holds it, then removes the
 * directories the step made for it. */
static gboolean
restore_file (Tx *tx, const char *step, const char *path, GError **error)
{
  if (path != NULL && tx->snapshot != NULL)
    for (guint i = 0; i < tx->snapshot->files->len; i++)
      {
        const NtsSnapshotFile *saved = tx->snapshot->files->pdata[i];
        if (g_str_equal (saved->path, path) &&
            !nts_snapshot_restore_file (tx->root, saved, error))
          return FALSE;
      }
  return remove_made_dirs (tx, g_hash_table_lookup (tx->made_parents, step), error);
}

static void
return_result (GTask *task, gboolean ok, GError *error)
{
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

/* ---- snapshot --------------------------------------------------------- */

static GVariant *
unit_state_variant (const NtsUnitState *state)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "id", "s", state->id ? state->id : "");
  g_variant_dict_insert (&dict, "load-state", "s", state->load_state ? state->load_state : "");
  g_variant_dict_insert (&dict, "active-state", "s", state->active_state ? state->active_state : "");
  g_variant_dict_insert (&dict, "unit-file-state", "s",
                         state->unit_file_state ? state->unit_file_state : "");
  return g_variant_dict_end (&dict);
}

typedef struct {
  Tx              *tx;
  GTask           *task;
  NtsUnitState    *timesyncd;
  NtsUnitState    *chrony;
} SnapshotOp;

static void
snapshot_op_fail (SnapshotOp *op, GError *error)
{
  return_result (op->task, FALSE, error);
  g_clear_pointer (&op->timesyncd, nts_unit_state_free);
  g_clear_pointer (&op->chrony, nts_unit_state_free);
  g_free (op);
}

/* What the directory steps may change, for a restore that has only the
 * snapshot to go by (Rollback, recovery after a crash): the directories
 * that are missing now, and the log directory's owner and mode. */
static gboolean
snapshot_note_dirs (Tx *tx, GVariantDict *state, GError **error)
{
  g_autoptr(GPtrArray) absent = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *log_parent = g_path_get_dirname (tx->layout->log_dir);
  GVariantDict log_dir;
  struct stat st;
  gboolean exists = FALSE;

  for (guint i = 0; i < tx->files->len; i++)
    {
      g_autofree char *dir = g_path_get_dirname (((NtsRenderedFile *) tx->files->pdata[i])->path);
      if (!find_missing_dirs (tx, dir, absent, error))
        return FALSE;
    }
  if (!find_missing_dirs (tx, log_parent, absent, error) ||
      !nts_root_lstat (tx->root, tx->layout->log_dir, &st, &exists, error))
    return FALSE;
  g_ptr_array_add (absent, NULL);
  g_variant_dict_insert_value (state, "absent-dirs",
                               g_variant_new_strv ((const char *const *) absent->pdata, -1));
  g_variant_dict_init (&log_dir, NULL);
  g_variant_dict_insert (&log_dir, "path", "s", tx->layout->log_dir);
  g_variant_dict_insert (&log_dir, "existed", "b", exists && S_ISDIR (st.st_mode));
  if (exists && S_ISDIR (st.st_mode))
    {
      g_variant_dict_insert (&log_dir, "uid", "u", (guint32) st.st_uid);
      g_variant_dict_insert (&log_dir, "gid", "u", (guint32) st.st_gid);
      g_variant_dict_insert (&log_dir, "mode", "u", (guint32) (st.st_mode & 07777));
    }
  g_variant_dict_insert_value (state, "log-dir", g_variant_dict_end (&log_dir));
  return TRUE;
}

static void
snapshot_take (SnapshotOp *op)
{
  Tx *tx = op->tx;
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GVariantDict state;
  g_autoptr(GVariant) state_v = NULL;
  GVariantBuilder units;
  GTask *task = op->task;

  for (guint i = 0; i < tx->files->len; i++)
    g_ptr_array_add (paths, ((NtsRenderedFile *) tx->files->pdata[i])->path);
  g_ptr_array_add (paths, NULL);

  g_variant_builder_init (&units, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&units, "{sv}", tx->layout->timesyncd_unit, unit_state_variant (op->timesyncd));
  g_variant_builder_add (&units, "{sv}", tx->layout->unit, unit_state_variant (op->chrony));
  g_variant_dict_init (&state, NULL);
  g_variant_dict_insert_value (&state, "units", g_variant_builder_end (&units));
  g_variant_dict_insert (&state, "chrony-unit", "s", tx->layout->unit);
  g_variant_dict_insert (&state, "timesyncd-unit", "s", tx->layout->timesyncd_unit);
  if (!snapshot_note_dirs (tx, &state, &error))
    {
      g_variant_dict_clear (&state);
      g_clear_pointer (&op->timesyncd, nts_unit_state_free);
      g_clear_pointer (&op->chrony, nts_unit_state_free);
      g_free (op);
      return return_result (task, FALSE, g_steal_pointer (&error));
    }
  g_variant_dict_insert_value (&state, "servers",
                               g_variant_new_strv ((const char *const *) tx->servers, -1));
  g_variant_dict_insert (&state, "min-sources", "u", tx->min_sources);

  tx->timesyncd_loaded = g_strcmp0 (op->timesyncd->load_state, "not-found") != 0;
  tx->timesyncd_undo = nts_unit_undo_new_from_state (op->timesyncd);
  tx->chrony_undo = nts_unit_undo_new_from_state (op->chrony);
  g_clear_pointer (&op->timesyncd, nts_unit_state_free);
  g_clear_pointer (&op->chrony, nts_unit_state_free);
  g_free (op);

  /* take() borrows the state: sunk here, dropped at the end. */
  state_v = g_variant_ref_sink (g_variant_dict_end (&state));
  tx->store = nts_snapshot_store_open (tx->root, tx->state_dir, &error);
  if (tx->store)
    tx->snapshot_id = nts_snapshot_store_take (tx->store, (const char *const *) paths->pdata,
                                               state_v, &error);
  /* The undos restore from what is on disk, not from memory: it is what
   * recovery after a crash would use too. */
  if (tx->snapshot_id)
    tx->snapshot = nts_snapshot_store_load (tx->store, tx->snapshot_id, &error);
  /* The journal is on disk before the first change to the system. */
  if (tx->snapshot)
    tx->journal = nts_journal_begin (tx->root, tx->state_dir, NTS_JOURNAL_APPLY,
                                     tx->snapshot_id, &error);
  return_result (task, tx->journal != NULL, g_steal_pointer (&error));
}

static void
on_chrony_state (GObject *source, GAsyncResult *res, gpointer user_data)
{
  SnapshotOp *op = user_data;
  GError *error = NULL;

  op->chrony = nts_systemd_get_unit_state_finish (res, &error);
  if (op->chrony == NULL)
    snapshot_op_fail (op, error);
  else
    snapshot_take (op);
}

static void
on_timesyncd_state (GObject *source, GAsyncResult *res, gpointer user_data)
{
  SnapshotOp *op = user_data;
  GError *error = NULL;

  op->timesyncd = nts_systemd_get_unit_state_finish (res, &error);
  if (op->timesyncd == NULL)
    return snapshot_op_fail (op, error);
  nts_systemd_get_unit_state_async (op->tx->bus, op->tx->layout->unit,
                                    op->tx->cancellable, on_chrony_state, op);
}

static void
on_subscribed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  SnapshotOp *op = user_data;
  GError *error = NULL;

  if (!nts_systemd_subscribe_finish (res, &error))
    return snapshot_op_fail (op, error);
  nts_systemd_get_unit_state_async (op->tx->bus, op->tx->layout->timesyncd_unit,
                                    op->tx->cancellable, on_timesyncd_state, op);
}

static void
step_snapshot (Tx *tx, GTask *task)
{
  SnapshotOp *op = g_new0 (SnapshotOp, 1);

  op->tx = tx;
  op->task = task;
  /* Jobs later on are waited for by JobRemoved, sent only to subscribers. */
  nts_systemd_subscribe_async (tx->bus, tx->cancellable, on_subscribed, op);
}

/* ---- ensure-chrony ---------------------------------------------------- */

/* Takes @changes as what ensure-chrony changed (the plan, then the
 * outcome) and notes it in the snapshot, on disk; on failure completes
 * @task with the error. */
static gboolean
keep_packages_or_fail (Tx *tx, GTask *task, NtsPackageChanges *changes)
{
  GError *error = NULL;

  g_clear_pointer (&tx->packages, nts_package_changes_free);
  tx->packages = changes;
  if (nts_snapshot_store_record_packages (tx->store, tx->snapshot_id, changes, &error))
    return TRUE;
  return_result (task, FALSE, error);
  return FALSE;
}

static void
on_preflight_after_install (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  gboolean ok = nts_preflight_finish (res, NULL, &error);

  return_result (task, ok, error);
}

static void
on_timesyncd_after_install (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(NtsUnitState) state = nts_systemd_get_unit_state_finish (res, &error);
  NtsPreflightOptions options;

  if (state == NULL)
    return return_result (task, FALSE, error);
  /* On Debian installing chrony removed timesyncd's package, unit and all. */
  tx->timesyncd_loaded = g_strcmp0 (state->load_state, "not-found") != 0;
  if (!tx->preflight)
    return return_result (task, TRUE, NULL);
  /* Preflight needs a chronyd: where there was none, it runs now, and a
   * failure undoes the install. */
  nts_preflight_options_init (&options, tx->layout,
                              tx->min_sources);
  nts_preflight_async ((const char *const *) tx->servers, &options, tx->cancellable,
                       on_preflight_after_install, task);
}

static void
on_chrony_installed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(NtsPackageChanges) changes = nts_ensure_chrony_install_finish (res, &error);

  if (changes == NULL)
    return return_result (task, FALSE, error);
  if (!keep_packages_or_fail (tx, task, g_steal_pointer (&changes)))
    return;
  tx->layout->chrony_installed = TRUE;
  nts_systemd_get_unit_state_async (tx->bus, tx->layout->timesyncd_unit, tx->cancellable,
                                    on_timesyncd_after_install, task);
}

static void
on_chrony_planned (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(NtsPackageChanges) planned = nts_ensure_chrony_plan_finish (res, &error);

  if (planned == NULL)
    return return_result (task, FALSE, error);
  /* On disk before anything is installed: recovery after a crash in the
   * middle of the install must know what to take back. */
  for (guint i = 0; planned->removed[i]; i++)
    g_message ("installing chrony removes the package %s (they conflict); Rollback "
               "installs it again", planned->removed[i]);
  if (!keep_packages_or_fail (tx, task, g_steal_pointer (&planned)))
    return;
  nts_ensure_chrony_install_async (tx->bus, tx->cancellable, on_chrony_installed, task);
}

static void
step_ensure_chrony (Tx *tx, GTask *task)
{
  g_task_set_task_data (task, tx, NULL);
  if (tx->layout->chrony_installed)
    return return_result (task, TRUE, NULL);
  /* The manager refuses before this; here too, since nothing but an
   * explicit 'install' (and its polkit check) may install a package. */
  if (!tx->install)
    return return_result (task, FALSE,
                          g_error_new (NTS_ERROR, NTS_ERROR_CHRONY_MISSING,
                                       "chrony is not installed (%s)",
                                       nts_chrony_install_command (tx->layout)));
  nts_ensure_chrony_plan_async (tx->bus, tx->cancellable, on_chrony_planned, task);
}

static void
on_packages_undone (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  gboolean ok = nts_packages_undo_finish (res, &error);

  return_result (task, ok, error);
}

static void
undo_ensure_chrony (Tx *tx, GTask *task)
{
  if (tx->packages == NULL || nts_package_changes_is_empty (tx->packages))
    return return_result (task, TRUE, NULL);
  nts_packages_undo_async (tx->bus, tx->packages, NULL, on_packages_undone, task);
}

/* ---- file steps ------------------------------------------------------- */

/* The file a file step writes, or NULL: the ntp-units.d list is rendered
 * only where no packaged list already puts chrony first. */
static const NtsRenderedFile *
file_of_step (Tx *tx, const char *step)
{
  g_autofree char *dropin = NULL;

  if (g_str_equal (step, "write-config"))
    return find_file (tx, tx->layout->config_file);
  if (g_str_equal (step, "keys-file"))
    return find_file (tx, tx->layout->keys_file);
  if (g_str_equal (step, "hardening"))
    {
      dropin = nts_hardening_dropin_path (tx->layout);
      return find_file (tx, dropin);
    }
  return find_ntp_units_file (tx);
}

static void
step_write_file (Tx *tx, GTask *task)
{
  const char *step = steps[tx->index].name;
  GError *error = NULL;
  gboolean ok = write_file (tx, step, file_of_step (tx, step), &error);

  return_result (task, ok, error);
}

static void
undo_write_file (Tx *tx, GTask *task)
{
  const char *step = steps[tx->index].name;
  const NtsRenderedFile *file = file_of_step (tx, step);
  GError *error = NULL;
  gboolean ok = restore_file (tx, step, file ? file->path : NULL, &error);

  return_result (task, ok, error);
}

/* chronyd writes its logs there as its own user, so the directory is
 * chronyd's. Only the directory itself is changed, never what is in it:
 * its owner could have planted links there. */
static void
step_log_dir (Tx *tx, GTask *task)
{
  GError *error = NULL;
  struct stat st;
  uid_t uid;
  gid_t gid;
  g_autofree char *parent = g_path_get_dirname (tx->layout->log_dir);

  tx->log_dir.created = g_ptr_array_new_with_free_func (g_free);
  if (!nts_lookup_user (tx->layout->user, &uid, &error) ||
      !nts_lookup_group (tx->layout->group, &gid, &error) ||
      !nts_root_lstat (tx->root, tx->layout->log_dir, &st, &tx->log_dir.existed, &error))
    return return_result (task, FALSE, error);
  if (tx->log_dir.existed)
    {
      if (!S_ISDIR (st.st_mode))
        return return_result (task, FALSE,
                              g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                                           "cannot make %s a directory: something else is there",
                                           tx->layout->log_dir));
      tx->log_dir.uid = st.st_uid;
      tx->log_dir.gid = st.st_gid;
      tx->log_dir.mode = st.st_mode & 07777;
    }
  tx->log_dir.touched = TRUE;
  if (!make_dirs (tx, parent, tx->log_dir.created, &error) ||
      !nts_root_ensure_dir (tx->root, tx->layout->log_dir, uid, gid, 0750, FALSE, &error))
    return return_result (task, FALSE, error);
  if (!tx->log_dir.existed)
    g_ptr_array_add (tx->log_dir.created, g_strdup (tx->layout->log_dir));
  if (!tx->log_dir.existed || tx->log_dir.uid != uid || tx->log_dir.gid != gid ||
      tx->log_dir.mode != 0750)
    g_ptr_array_add (tx->changed_files, g_strdup (tx->layout->log_dir));
  return_result (task, TRUE, NULL);
}

static void
undo_log_dir (Tx *tx, GTask *task)
{
  GError *error = NULL;
  gboolean ok = TRUE;

  /* The step may have failed before it changed anything (something else
   * where the directory goes): then there is nothing to give back. */
  if (tx->log_dir.existed && tx->log_dir.touched)
    ok = nts_root_ensure_dir (tx->root, tx->layout->log_dir, tx->log_dir.uid,
                              tx->log_dir.gid, tx->log_dir.mode, FALSE, &error);
  /* A directory chronyd has since written to is not empty and stays
   * (nts_root_remove_dir_if_empty): seen in the test bed, where a failed
   * commit check left chronyd's logs behind. */
  if (ok)
    ok = remove_made_dirs (tx, tx->log_dir.created, &error);
  return_result (task, ok, error);
}

/* ---- systemd ---------------------------------------------------------- */

static void
on_reloaded (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  gboolean ok = nts_systemd_reload_finish (res, &error);

  if (ok)
    ((Tx *) g_task_get_task_data (task))->reloaded = TRUE;
  return_result (task, ok, error);
}

static void
step_reload (Tx *tx, GTask *task)
{
  g_task_set_task_data (task, tx, NULL);
  nts_systemd_reload_async (tx->bus, tx->cancellable, on_reloaded, task);
}

static void
on_unit_files_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GPtrArray) changes = nts_systemd_unit_files_finish (res, &error);

  if (changes == NULL)
    return return_result (task, FALSE, error);
  g_ptr_array_add (tx->unit_changes,
                   g_strdup_printf ("%s: %s%s", tx->layout->timesyncd_unit,
                                    tx->timesyncd_undo->was_active ? "stopped, " : "",
                                    changes->len > 0 ? "disabled" : "already disabled"));
  return_result (task, TRUE, NULL);
}

static void
on_timesyncd_stopped (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autofree char *result = nts_systemd_unit_job_finish (res, &error);
  const char *units[] = { tx->layout->timesyncd_unit, NULL };

  if (result == NULL)
    return return_result (task, FALSE, error);
  nts_systemd_disable_unit_files_async (tx->bus, units, tx->cancellable, on_unit_files_done, task);
}

static void
step_stop_timesyncd (Tx *tx, GTask *task)
{
  g_task_set_task_data (task, tx, NULL);
  /* Nothing to stop where timesyncd isn't installed. */
  if (!tx->timesyncd_loaded)
    return return_result (task, TRUE, NULL);
  nts_systemd_stop_unit_async (tx->bus, tx->layout->timesyncd_unit, tx->job_timeout_ms,
                               tx->cancellable, on_timesyncd_stopped, task);
}

static void
on_restored (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  gboolean ok = nts_systemd_restore_unit_finish (res, &error);

  return_result (task, ok, error);
}

static void
undo_stop_timesyncd (Tx *tx, GTask *task)
{
  if (!tx->timesyncd_loaded)
    return return_result (task, TRUE, NULL);
  nts_systemd_restore_unit_async (tx->bus, tx->timesyncd_undo, tx->job_timeout_ms,
                                  tx->cancellable, on_restored, task);
}

static void
on_chrony_restarted (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autofree char *result = nts_systemd_unit_job_finish (res, &error);

  if (result == NULL)
    return return_result (task, FALSE, error);
  g_ptr_array_add (tx->unit_changes,
                   g_strdup_printf ("%s: %s, %s", tx->layout->unit,
                                    tx->chrony_enabled_now ? "enabled" : "already enabled",
                                    tx->chrony_undo->was_active ? "restarted" : "started"));
  return_result (task, TRUE, NULL);
}

static void
on_chrony_enabled (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GPtrArray) changes = nts_systemd_unit_files_finish (res, &error);

  if (changes == NULL)
    return return_result (task, FALSE, error);
  tx->chrony_enabled_now = changes->len > 0;
  /* Restart, not start: a chronyd already running must read the new
   * configuration. */
  nts_systemd_restart_unit_async (tx->bus, tx->layout->unit, tx->job_timeout_ms,
                                  tx->cancellable, on_chrony_restarted, task);
}

static void
step_start_chronyd (Tx *tx, GTask *task)
{
  /* The real unit, never Debian's chronyd.service alias: enabling an
   * alias name does not do what it says. */
  const char *units[] = { tx->layout->unit, NULL };

  g_task_set_task_data (task, tx, NULL);
  nts_systemd_enable_unit_files_async (tx->bus, units, tx->cancellable, on_chrony_enabled, task);
}

static void
undo_start_chronyd (Tx *tx, GTask *task)
{
  /* A chronyd that was running before was restarted with our files; it
   * runs on, but must read the restored ones, which are put back only
   * after this (undos run in reverse): restarted at the end of the undo. */
  tx->restart_chrony = tx->chrony_undo->was_active;
  nts_systemd_restore_unit_async (tx->bus, tx->chrony_undo, tx->job_timeout_ms,
                                  tx->cancellable, on_restored, task);
}

/* ---- commit ----------------------------------------------------------- */

gboolean
nts_transaction_judge_report (GVariant *report, guint min_sources, guint wait_s, GError **error)
{
  const char *chronyd_state = "unknown";
  guint authenticated = 0;
  g_autoptr(GVariant) problems = NULL;

  g_variant_lookup (report, "chronyd-state", "&s", &chronyd_state);
  g_variant_lookup (report, "authenticated-sources", "u", &authenticated);
  problems = g_variant_lookup_value (report, "problems", G_VARIANT_TYPE ("aa{sv}"));

  if (!g_str_equal (chronyd_state, "active"))
    {
      g_set_error (error, NTS_ERROR, NTS_ERROR_FAILED,
                   "chronyd is not running after the restart (its unit is %s)", chronyd_state);
      return FALSE;
    }
  for (gsize i = 0; problems && i < g_variant_n_children (problems); i++)
    {
      g_autoptr(GVariant) problem = g_variant_get_child_value (problems, i);
      const char *code = NULL;

      if (g_variant_lookup (problem, "code", "&s", &code) &&
          g_str_equal (code, "socket-unreachable"))
        {
          g_set_error (error, NTS_ERROR, NTS_ERROR_FAILED,
                       "chronyd runs but its command socket does not answer");
          return FALSE;
        }
    }
  if (wait_s > 0 && authenticated < min_sources)
    {
      g_set_error (error, NTS_ERROR, NTS_ERROR_FAILED,
                   "%u of the %u authenticated NTS sources needed after waiting %u s",
                   authenticated, min_sources, wait_s);
      return FALSE;
    }
  return TRUE;
}

static void
judge (GTask *task, GVariant *report, GError *error)
{
  Tx *tx = g_task_get_task_data (task);
  gboolean ok;

  if (report == NULL)
    return return_result (task, FALSE, error);
  ok = nts_transaction_judge_report (report, tx->min_sources, tx->wait_sync_s, &error);
  g_clear_pointer (&tx->report, g_variant_unref);
  tx->report = report;
  return_result (task, ok, error);
}

static void
on_verified (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  NtsVerifier *verifier = g_object_get_data (G_OBJECT (task), "verifier");
  GError *error = NULL;
  /* A full reference already: judge() takes it over. */
  GVariant *report = nts_verify_finish (verifier, res, &error);

  judge (task, report, error);
}

static void
step_commit_check (Tx *tx, GTask *task)
{
  NtsVerifier *verifier;

  g_task_set_task_data (task, tx, NULL);
  if (tx->report_func)
    return judge (task, g_variant_ref_sink (tx->report_func (tx->wait_sync_s, tx->report_data)), NULL);

  /* A verifier of its own: chrony's layout was just changed, nothing
   * cached by the daemon's verifier applies. */
  verifier = nts_verifier_new (tx->root, tx->bus);
  g_object_set_data_full (G_OBJECT (task), "verifier", verifier,
                          (GDestroyNotify) nts_verifier_unref);
  nts_verify_async (verifier, tx->wait_sync_s, tx->cancellable, on_verified, task);
}

/* Notes in the snapshot what Apply wrote, so a later Rollback can tell
 * whether someone changed the files since. */
static void
step_commit (Tx *tx, GTask *task)
{
  GError *error = NULL;

  for (guint i = 0; i < tx->files->len; i++)
    {
      const NtsRenderedFile *file = tx->files->pdata[i];
      g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, file->content, -1);
      uid_t uid;
      gid_t gid;

      if (!nts_lookup_user (file->owner, &uid, &error) ||
          !nts_lookup_group (file->group, &gid, &error) ||
          !nts_snapshot_store_record_applied (tx->store, tx->snapshot_id, file->path, sum,
                                              uid, gid, file->mode, &error))
        return return_result (task, FALSE, error);
    }
  /* The marker last: from it on State says "applied" and Rollback knows
   * what to undo, and a failure before it leaves the old one. */
  if (!nts_snapshot_store_prune (tx->store, &error) ||
      !nts_applied_state_set (tx->root, tx->state_dir, tx->snapshot_id, &error))
    return return_result (task, FALSE, error);
  return_result (task, TRUE, NULL);
}

/* ---- the runner ------------------------------------------------------- */

static void run_step (GTask *task);
static void undo_next (GTask *task);

static void
finish_undo (GTask *task)
{
  Tx *tx = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  const char *how;

  if (tx->undo_errors->len == 0)
    {
      /* Fully undone: nothing left for recovery to do. */
      if (tx->journal && !nts_journal_finish (tx->journal, &error))
        g_string_append_printf (tx->undo_errors, "; cannot remove the journal: %s", error->message);
      /* Nothing of this Apply is left for a Rollback to want (after the
       * journal: a crash between the two leaves a stray snapshot, never a
       * journal naming a missing one). */
      else if (tx->snapshot_id && !nts_snapshot_store_discard (tx->store, tx->snapshot_id, &error))
        g_debug ("cannot remove the snapshot of the undone Apply: %s", error->message);
    }
  how = tx->undo_errors->len == 0 ? "every step done was undone" : "NOT everything was undone";
  g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                           "step %s failed: %s; %s%s%s", tx->failed_step, tx->cause->message, how,
                           tx->undo_errors->len ? " (the journal is kept for recovery)" : "",
                           tx->undo_errors->str);
  g_object_unref (task);
}

static void
on_final_restart (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *result = nts_systemd_unit_job_finish (res, &error);

  if (result == NULL)
    g_string_append_printf (tx->undo_errors, "; restarting %s with its restored configuration failed: %s",
                            tx->layout->unit, error->message);
  finish_undo (task);
}

static void
restart_chrony_or_finish (GTask *task)
{
  Tx *tx = g_task_get_task_data (task);

  if (tx->restart_chrony)
    nts_systemd_restart_unit_async (tx->bus, tx->layout->unit, tx->job_timeout_ms, NULL,
                                    on_final_restart, task);
  else
    finish_undo (task);
}

static void
on_final_reload (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!nts_systemd_reload_finish (res, &error))
    g_string_append_printf (tx->undo_errors, "; reload after the undo failed: %s", error->message);
  restart_chrony_or_finish (task);
}

static void
on_undo_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    g_string_append_printf (tx->undo_errors, "; undo of %s failed: %s",
                            steps[tx->index].name, error->message);
  undo_next (task);
}

/* Undoes the steps done, last first; an undo that fails is reported and
 * the others still run, since each gives back something of its own. */
static void
undo_next (GTask *task)
{
  Tx *tx = g_task_get_task_data (task);

  while (tx->index > 0)
    {
      tx->index--;
      if (steps[tx->index].undo)
        {
          /* Undos are not cancellable: a half-undone system is worse. */
          GTask *undo = g_task_new (NULL, NULL, on_undo_done, task);
          steps[tx->index].undo (tx, undo);
          return;
        }
    }
  /* systemd must see the drop-in and lists as they are again. */
  if (tx->reloaded)
    nts_systemd_reload_async (tx->bus, NULL, on_final_reload, task);
  else
    restart_chrony_or_finish (task);
}

static void
fail_step (GTask *task, GError *error)
{
  Tx *tx = g_task_get_task_data (task);

  tx->failed_step = steps[tx->index].name;
  tx->cause = error;
  tx->undo_errors = g_string_new (NULL);
  /* The failed step undoes itself (each leaves nothing half done, or
   * its undo copes with that); the steps before it are undone here. */
  if (steps[tx->index].undo)
    tx->index++;
  undo_next (task);
}

static void
on_step_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error) ||
      !nts_journal_step_done (tx->journal, steps[tx->index].name, &error))
    return fail_step (task, error);
  tx->index++;
  run_step (task);
}

static void
on_fault_point (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;

  if (!nts_fault_point_finish (res, &error))
    {
      /* Nothing of this step ran: don't undo it. */
      tx->failed_step = steps[tx->index].name;
      tx->cause = error;
      tx->undo_errors = g_string_new (NULL);
      return undo_next (task);
    }
  steps[tx->index].run (tx, g_task_new (NULL, tx->cancellable, on_step_done, task));
}

/* ApplyHardenedConfig's result keys. */
static GVariant *
result_variant (Tx *tx)
{
  GVariantDict dict;
  const char *none[] = { NULL };

  g_ptr_array_add (tx->changed_files, NULL);
  g_ptr_array_add (tx->unit_changes, NULL);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "snapshot-id", "s", tx->snapshot_id);
  g_variant_dict_insert_value (&dict, "changed-files",
                               g_variant_new_strv ((const char *const *) tx->changed_files->pdata, -1));
  g_variant_dict_insert_value (&dict, "unit-changes",
                               g_variant_new_strv ((const char *const *) tx->unit_changes->pdata, -1));
  g_variant_dict_insert_value (&dict, "packages-installed",
                               g_variant_new_strv (tx->packages ? (const char *const *) tx->packages->installed : none, -1));
  g_variant_dict_insert_value (&dict, "packages-removed",
                               g_variant_new_strv (tx->packages ? (const char *const *) tx->packages->removed : none, -1));
  g_variant_dict_insert_value (&dict, "report",
                               tx->report ? tx->report : g_variant_new ("a{sv}", NULL));
  g_variant_dict_insert (&dict, "duration-ms", "t",
                         (guint64) ((g_get_monotonic_time () - tx->started) / 1000));
  return g_variant_dict_end (&dict);
}

static void
run_step (GTask *task)
{
  Tx *tx = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (tx->index == G_N_ELEMENTS (steps))
    {
      if (!nts_journal_finish (tx->journal, &error))
        {
          g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                                   "applied, but cannot remove the journal: %s", error->message);
          g_object_unref (task);
          return;
        }
      g_task_return_pointer (task, g_variant_ref_sink (result_variant (tx)),
                             (GDestroyNotify) g_variant_unref);
      g_object_unref (task);
      return;
    }
  if (tx->progress)
    tx->progress (steps[tx->index].name, tx->index, G_N_ELEMENTS (steps), tx->progress_data);
  nts_fault_point_async (steps[tx->index].name, tx->cancellable, on_fault_point, task);
}

void
nts_transaction_run_async (const NtsTransactionParams *params,
                           NtsTransactionProgress      progress,
                           gpointer                    progress_data,
                           GCancellable               *cancellable,
                           GAsyncReadyCallback         callback,
                           gpointer                    user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Tx *tx = g_new0 (Tx, 1);
  g_autoptr(GError) error = NULL;

  g_task_set_source_tag (task, nts_transaction_run_async);
  tx->root = params->root;
  tx->layout = nts_layout_copy (params->layout);
  tx->bus = g_object_ref (params->system_bus);
  tx->state_dir = g_strdup (params->state_dir);
  tx->servers = g_strdupv ((char **) params->servers);
  tx->min_sources = params->min_sources;
  tx->wait_sync_s = params->wait_sync_s;
  tx->report_func = params->report_func;
  tx->report_data = params->report_data;
  tx->job_timeout_ms = params->job_timeout_ms;
  tx->install = params->install;
  tx->preflight = params->preflight_after_install;
  tx->progress = progress;
  tx->progress_data = progress_data;
  tx->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  tx->started = g_get_monotonic_time ();
  tx->changed_files = g_ptr_array_new_with_free_func (g_free);
  tx->unit_changes = g_ptr_array_new_with_free_func (g_free);
  tx->made_parents = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) g_ptr_array_unref);
  g_task_set_task_data (task, tx, (GDestroyNotify) tx_free);

  /* Everything is rendered before anything is touched: a rendering error
   * changes nothing and needs no undo. */
  tx->files = nts_render_files (tx->layout, params->servers, params->min_sources, &error);
  if (tx->files == NULL)
    {
      g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                               "nothing was changed: %s", error->message);
      g_object_unref (task);
      return;
    }
  run_step (task);
}

GVariant *
nts_transaction_run_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
