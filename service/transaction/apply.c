/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ApplyHardenedConfig's steps and their undos: see apply.h. */
#include "apply.h"

#include <string.h>
#include <sys/stat.h>

#include "accounts.h"
#include "applied-state.h"
#include "chronyd-help.h"
#include "dump-handoff.h"
#include "ensure-chrony.h"
#include "nts-dump.h"
#include "nts-errors.h"
#include "preflight.h"
#include "probe-wire.h"
#include "render.h"
#include "server-name.h"
#include "snapshot-store.h"
#include "snapshot-undo.h"
#include "systemd-client.h"
#include "systemd-jobs.h"
#include "task-tag.h"
#include "verify.h"

typedef struct _Tx Tx;

struct _Tx {
  NtsRoot           *root;
  GDBusConnection   *bus;
  char              *state_dir;
  guint              job_timeout_ms;
  gboolean           at_boot;        /* recovery by ntssetupd --recover */
  GCancellable      *cancellable;
  NtsStepRunner     *runner;
  gint64             started;

  /* The forward run's own: what it was asked, and what it found. */
  NtsLayout         *layout;
  GStrv              servers;
  guint              min_sources;
  NtsRenderFlags render_flags;
  guint              wait_sync_s;
  gboolean           preflight;
  GPtrArray *preflight_results; /* NtsProbeResult per server, once probed */
  gint64 preflight_done;        /* monotonic, when the probe answered */
  GVariant *dumps;              /* what the nts-dump step wrote (dump-handoff.h) */
  gboolean           install;
  gboolean           install_authorized;
  NtsApplyReportFunc report_func;
  gpointer           report_data;
  GPtrArray         *files;          /* NtsRenderedFile*, everything Apply writes */
  NtsSnapshotStore  *store;
  char              *snapshot_id;
  NtsJournal        *journal;
  NtsPackageChanges *packages;       /* what ensure-chrony changed */
  gboolean           timesyncd_loaded;
  gboolean           timesyncd_was_active;
  gboolean           chrony_was_active;
  gboolean           chrony_enabled_now;

  /* The undos' only source: the snapshot as it is on disk, loaded when
   * the first undo needs it (never what the forward run remembers). */
  NtsSnapshot       *persisted;

  /* For the results. */
  GPtrArray         *changed_files;
  GPtrArray         *unit_changes;
  GPtrArray         *restored_files; /* by the undos */
  GPtrArray         *restored_units; /* by the undos */
  GVariant          *report;
};

/* The step table and its functions are aligned by hand (HACKING.md,
 * "Adding an Apply step"). */
/* clang-format off */
static void step_validate       (gpointer data, const NtsStep *step, GTask *task);
static void step_resolve        (gpointer data, const NtsStep *step, GTask *task);
static void step_preflight      (gpointer data, const NtsStep *step, GTask *task);
static void step_snapshot       (gpointer data, const NtsStep *step, GTask *task);
static void step_ensure_chrony  (gpointer data, const NtsStep *step, GTask *task);
static void undo_ensure_chrony  (gpointer data, const NtsStep *step, GTask *task);
static void settle_ensure_chrony (gpointer data, const NtsStep *step, GTask *task);
static void step_write_file     (gpointer data, const NtsStep *step, GTask *task);
static void undo_write_file     (gpointer data, const NtsStep *step, GTask *task);
static void step_log_dir        (gpointer data, const NtsStep *step, GTask *task);
static void undo_log_dir        (gpointer data, const NtsStep *step, GTask *task);
static void step_reload         (gpointer data, const NtsStep *step, GTask *task);
static void settle_reload       (gpointer data, const NtsStep *step, GTask *task);
static void step_stop_timesyncd (gpointer data, const NtsStep *step, GTask *task);
static void undo_stop_timesyncd (gpointer data, const NtsStep *step, GTask *task);
static void step_nts_dump       (gpointer data, const NtsStep *step, GTask *task);
static void undo_nts_dump       (gpointer data, const NtsStep *step, GTask *task);
static void step_start_chronyd  (gpointer data, const NtsStep *step, GTask *task);
static void undo_start_chronyd  (gpointer data, const NtsStep *step, GTask *task);
static void settle_start_chronyd (gpointer data, const NtsStep *step, GTask *task);
static void step_commit_check   (gpointer data, const NtsStep *step, GTask *task);
static void step_commit         (gpointer data, const NtsStep *step, GTask *task);
static void undo_commit         (gpointer data, const NtsStep *step, GTask *task);

#define FILE_ROLE(role) GUINT_TO_POINTER (role)

static const NtsStep apply_steps[] = {
  /* Nothing is changed before the snapshot: a failure here needs no undo. */
  { "validate",       step_validate },
  { "resolve",        step_resolve },
  { "preflight",      step_preflight },
  /* Snapshot and journal: from here on each step is journaled. */
  { "snapshot",       step_snapshot },
  /* A package put back brings its unit back as its package sets it:
   * timesyncd is then put back as the snapshot found it. */
  { "ensure-chrony",  step_ensure_chrony,  undo_ensure_chrony, settle_ensure_chrony },
  { "write-config",   step_write_file,     undo_write_file, NULL, FILE_ROLE (NTS_FILE_CHRONY_CONF) },
  { "keys-file",      step_write_file,     undo_write_file, NULL, FILE_ROLE (NTS_FILE_KEYS) },
  { "log-dir",        step_log_dir,        undo_log_dir },
  { "hardening",      step_write_file,     undo_write_file, NULL, FILE_ROLE (NTS_FILE_HARDENING_DROPIN) },
  { "ntp-units",      step_write_file,     undo_write_file, NULL, FILE_ROLE (NTS_FILE_NTP_UNITS_LIST) },
  /* Undone by a reload once every file is back. */
  { "reload",         step_reload,         NULL,            settle_reload },
  { "stop-timesyncd", step_stop_timesyncd, undo_stop_timesyncd },
  /* The preflight's NTS sessions left for the chronyd about to start:
   * undone before that chronyd's unit is put back and restarted. */
  { "nts-dump",       step_nts_dump,       undo_nts_dump },
  /* A chronyd that ran before runs on after the undo of its unit, with
   * our files: restarted once they are back. */
  { "start-chronyd",  step_start_chronyd,  undo_start_chronyd, settle_start_chronyd },
  { "commit-check",   step_commit_check },
  { "commit",         step_commit,         undo_commit },
};
/* clang-format on */

static void
tx_free (Tx *tx)
{
  g_clear_object (&tx->bus);
  g_free (tx->state_dir);
  g_clear_object (&tx->cancellable);
  g_clear_pointer (&tx->runner, nts_step_runner_free);
  g_clear_pointer (&tx->layout, nts_layout_free);
  g_strfreev (tx->servers);
  g_clear_pointer (&tx->preflight_results, g_ptr_array_unref);
  g_clear_pointer (&tx->dumps, g_variant_unref);
  g_clear_pointer (&tx->files, g_ptr_array_unref);
  g_clear_pointer (&tx->store, nts_snapshot_store_free);
  g_free (tx->snapshot_id);
  g_clear_pointer (&tx->journal, nts_journal_free);
  g_clear_pointer (&tx->packages, nts_package_changes_free);
  g_clear_pointer (&tx->persisted, nts_snapshot_free);
  g_clear_pointer (&tx->changed_files, g_ptr_array_unref);
  g_clear_pointer (&tx->unit_changes, g_ptr_array_unref);
  g_clear_pointer (&tx->restored_files, g_ptr_array_unref);
  g_clear_pointer (&tx->restored_units, g_ptr_array_unref);
  g_clear_pointer (&tx->report, g_variant_unref);
  g_free (tx);
}

static Tx *
tx_new (NtsRoot *root, GDBusConnection *bus, const char *state_dir, guint job_timeout_ms,
        GCancellable *cancellable, NtsStepProgress progress, gpointer progress_data)
{
  Tx *tx = g_new0 (Tx, 1);

  tx->root = root;
  tx->bus = g_object_ref (bus);
  tx->state_dir = g_strdup (state_dir);
  tx->job_timeout_ms = job_timeout_ms;
  tx->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  tx->started = g_get_monotonic_time ();
  tx->changed_files = g_ptr_array_new_with_free_func (g_free);
  tx->unit_changes = g_ptr_array_new_with_free_func (g_free);
  tx->restored_files = g_ptr_array_new_with_free_func (g_free);
  tx->restored_units = g_ptr_array_new_with_free_func (g_free);
  tx->runner = nts_step_runner_new (apply_steps, G_N_ELEMENTS (apply_steps), TRUE, tx,
                                    progress, progress_data);
  return tx;
}

/* The snapshot as it is on disk, for the undos. */
static const NtsSnapshot *
persisted_snapshot (Tx *tx, GError **error)
{
  if (tx->persisted == NULL)
    tx->persisted = nts_snapshot_store_load (tx->store, tx->snapshot_id, error);
  return tx->persisted;
}

/* ---- validate, resolve, preflight: nothing changed yet ---------------- */

/* The options were validated as the call arrived, before polkit was
 * asked; this is the transaction's own check of what it acts on. */
static void
step_validate (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  GError *error = NULL;
  gboolean ok = nts_server_list_validate ((const char *const *) tx->servers, tx->min_sources,
                                          &error);

  nts_step_return (task, ok, error);
}

/* Whether chrony may be missing; then everything is rendered, before
 * anything is touched. */
static gboolean
resolved (Tx *tx, GError **error)
{
  if (!tx->layout->chrony_installed && !tx->install)
    {
      g_set_error (error, NTS_ERROR, NTS_ERROR_CHRONY_MISSING,
                   "chrony is not installed (no %s); nothing was changed. "
                   "Install it (%s), or let ntssetup: ntsctl apply --install",
                   tx->layout->chronyd_path, nts_chrony_install_command (tx->layout));
      return FALSE;
    }
  if (!tx->layout->chrony_installed && !tx->install_authorized)
    {
      /* chrony was there when the caller was authorised, and is gone
       * now: asking again would mean a password dialog under the lock. */
      g_set_error (error, NTS_ERROR, NTS_ERROR_CHRONY_MISSING,
                   "chrony was removed (no %s) while this call was being authorised; "
                   "nothing was changed. Call again", tx->layout->chronyd_path);
      return FALSE;
    }
  tx->files = nts_render_files_full (tx->layout, (const char *const *) tx->servers,
                                     tx->min_sources, tx->render_flags, error);
  return tx->files != NULL;
}

static void
on_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean ok;

  tx->layout = nts_layout_resolve_finish (res, &error);
  ok = tx->layout != NULL && resolved (tx, &error);
  nts_step_return (task, ok, error);
}

/* Afresh, under the lock: this is what the transaction acts on. */
static void
step_resolve (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  GError *error = NULL;
  gboolean ok;

  if (tx->layout == NULL)
    {
      nts_layout_resolve_async (tx->root, tx->bus, tx->cancellable, on_resolved, task);
      return;
    }
  ok = resolved (tx, &error);
  nts_step_return (task, ok, error);
}

static void
on_preflight_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean ok = nts_preflight_finish (res, &tx->preflight_results, &error);

  tx->preflight_done = g_get_monotonic_time ();
  nts_step_return (task, ok, error);
}

/* Each server proved to speak NTS by the probe, which needs no chrony:
 * so this runs before chrony is installed too. The results stay in the
 * transaction for the steps after it. */
static void
step_preflight (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  NtsPreflightOptions options;

  if (!tx->preflight)
    {
      nts_step_return (task, TRUE, NULL);
      return;
    }
  nts_preflight_options_init (&options, tx->root, tx->min_sources);
  /* The servers judged as chronyd will judge them: with
   * allow-clock-far-off, whatever the certificates' dates. */
  options.no_cert_time_check = (tx->render_flags & NTS_RENDER_NO_CERT_TIME_CHECK) != 0;
  /* Each passing exchange's keys and cookies, for the nts-dump step;
   * they stay in this process and are wiped once it is done. */
  options.secrets = TRUE;
  nts_preflight_async ((const char *const *) tx->servers, &options, tx->cancellable,
                       on_preflight_done, task);
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
  Tx           *tx;
  GTask        *task;
  NtsUnitState *timesyncd;
  NtsUnitState *chrony;
} SnapshotOp;

static void
snapshot_op_free (SnapshotOp *op)
{
  g_clear_pointer (&op->timesyncd, nts_unit_state_free);
  g_clear_pointer (&op->chrony, nts_unit_state_free);
  g_free (op);
}

static const NtsRenderedFile *
file_with_role (Tx *tx, NtsFileRole role)
{
  for (guint i = 0; i < tx->files->len; i++)
    {
      const NtsRenderedFile *file = tx->files->pdata[i];
      if (file->role == role)
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

/* What the undos need and only the snapshot can tell them after a crash
 * (snapshot-undo.h): each file step's file, the directories that are
 * missing now, the log directory's owner and mode, the Apply in place. */
static gboolean
snapshot_note_undo_state (Tx *tx, GVariantDict *state, GError **error)
{
  g_autoptr(GPtrArray) absent = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *log_parent = g_path_get_dirname (tx->layout->log_dir);
  g_autofree char *applied = NULL;
  GVariantDict log_dir;
  GVariantBuilder step_files;
  struct stat st;
  gboolean exists = FALSE;
  GError *local = NULL;

  g_variant_builder_init (&step_files, G_VARIANT_TYPE ("a{ss}"));
  for (guint i = 0; i < G_N_ELEMENTS (apply_steps); i++)
    if (apply_steps[i].run == step_write_file)
      {
        const NtsRenderedFile *file = file_with_role (tx, GPOINTER_TO_UINT (apply_steps[i].arg));
        if (file != NULL)
          g_variant_builder_add (&step_files, "{ss}", apply_steps[i].name, file->path);
      }
  g_variant_dict_insert_value (state, "step-files", g_variant_builder_end (&step_files));

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

  applied = nts_applied_state_get (tx->root, tx->state_dir, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  g_variant_dict_insert (state, "applied-before", "s", applied ? applied : "");
  return TRUE;
}

static gboolean
snapshot_take (Tx *tx, SnapshotOp *op, GError **error)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();
  GVariantDict state;
  g_autoptr(GVariant) state_v = NULL;
  GVariantBuilder units;
  g_autoptr(NtsUnitUndo) timesyncd = nts_unit_undo_new_from_state (op->timesyncd);
  g_autoptr(NtsUnitUndo) chrony = nts_unit_undo_new_from_state (op->chrony);

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
  if (!snapshot_note_undo_state (tx, &state, error))
    {
      g_variant_dict_clear (&state);
      return FALSE;
    }
  g_variant_dict_insert_value (&state, "servers",
                               g_variant_new_strv ((const char *const *) tx->servers, -1));
  g_variant_dict_insert (&state, "min-sources", "u", tx->min_sources);

  tx->timesyncd_loaded = g_strcmp0 (op->timesyncd->load_state, "not-found") != 0;
  tx->timesyncd_was_active = timesyncd->was_active;
  tx->chrony_was_active = chrony->was_active;

  /* take() borrows the state: sunk here, dropped at the end. */
  state_v = g_variant_ref_sink (g_variant_dict_end (&state));
  tx->store = nts_snapshot_store_open (tx->root, tx->state_dir, error);
  if (tx->store == NULL)
    return FALSE;
  tx->snapshot_id = nts_snapshot_store_take (tx->store, (const char *const *) paths->pdata,
                                             state_v, error);
  if (tx->snapshot_id == NULL)
    return FALSE;
  /* The journal is on disk before the first change to the system. */
  tx->journal = nts_journal_begin (tx->root, tx->state_dir, NTS_JOURNAL_APPLY,
                                   tx->snapshot_id, error);
  if (tx->journal == NULL)
    return FALSE;
  nts_step_runner_set_journal (tx->runner, tx->journal);
  return TRUE;
}

static void
on_chrony_state (GObject *source, GAsyncResult *res, gpointer user_data)
{
  SnapshotOp *op = user_data;
  GError *error = NULL;
  gboolean ok;

  op->chrony = nts_systemd_get_unit_state_finish (res, &error);
  ok = op->chrony != NULL && snapshot_take (op->tx, op, &error);
  nts_step_return (op->task, ok, error);
  snapshot_op_free (op);
}

static void
on_timesyncd_state (GObject *source, GAsyncResult *res, gpointer user_data)
{
  SnapshotOp *op = user_data;
  GError *error = NULL;

  op->timesyncd = nts_systemd_get_unit_state_finish (res, &error);
  if (op->timesyncd == NULL)
    {
      nts_step_return (op->task, FALSE, error);
      snapshot_op_free (op);
      return;
    }
  nts_systemd_get_unit_state_async (op->tx->bus, op->tx->layout->unit,
                                    op->tx->cancellable, on_chrony_state, op);
}

static void
on_subscribed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  SnapshotOp *op = user_data;
  GError *error = NULL;

  if (!nts_systemd_subscribe_finish (res, &error))
    {
      nts_step_return (op->task, FALSE, error);
      snapshot_op_free (op);
      return;
    }
  nts_systemd_get_unit_state_async (op->tx->bus, op->tx->layout->timesyncd_unit,
                                    op->tx->cancellable, on_timesyncd_state, op);
}

static void
step_snapshot (gpointer data, const NtsStep *step, GTask *task)
{
  SnapshotOp *op = g_new0 (SnapshotOp, 1);

  op->tx = data;
  op->task = task;
  /* Jobs later on are waited for by JobRemoved, sent only to subscribers. */
  nts_systemd_subscribe_async (op->tx->bus, op->tx->cancellable, on_subscribed, op);
}

/* ---- ensure-chrony ---------------------------------------------------- */

/* Takes @changes as what ensure-chrony changed (the plan, then the
 * outcome) and notes it in the snapshot, on disk, where the undo reads it. */
static gboolean
keep_packages (Tx *tx, NtsPackageChanges *changes, GError **error)
{
  g_clear_pointer (&tx->packages, nts_package_changes_free);
  tx->packages = changes;
  return nts_snapshot_store_record_packages (tx->store, tx->snapshot_id, changes, error);
}

static void
on_timesyncd_after_install (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(NtsUnitState) state = nts_systemd_get_unit_state_finish (res, &error);

  if (state == NULL)
    {
      nts_step_return (task, FALSE, error);
      return;
    }
  /* On Debian installing chrony removed timesyncd's package, unit and all. */
  tx->timesyncd_loaded = g_strcmp0 (state->load_state, "not-found") != 0;
  nts_step_return (task, TRUE, NULL);
}

static void
on_chrony_installed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  NtsPackageChanges *changes = nts_ensure_chrony_install_finish (res, &error);

  if (changes == NULL || !keep_packages (tx, changes, &error))
    {
      nts_step_return (task, FALSE, error);
      return;
    }
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
  NtsPackageChanges *planned = nts_ensure_chrony_plan_finish (res, &error);

  /* On disk before anything is installed: the undo after a crash in the
   * middle of the install must know what to take back. */
  if (planned == NULL || !keep_packages (tx, planned, &error))
    {
      nts_step_return (task, FALSE, error);
      return;
    }
  for (guint i = 0; planned->removed[i]; i++)
    g_message ("installing chrony removes the package %s (they conflict); Rollback "
               "installs it again", planned->removed[i]);
  nts_ensure_chrony_install_async (tx->bus, tx->cancellable, on_chrony_installed, task);
}

static void
step_ensure_chrony (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;

  if (tx->layout->chrony_installed)
    {
      nts_step_return (task, TRUE, NULL);
      return;
    }
  /* resolve refused already unless installing was asked and granted;
   * again here, since nothing else may install a package. */
  if (!tx->install || !tx->install_authorized)
    {
      nts_step_return (task, FALSE,
                       g_error_new (NTS_ERROR, NTS_ERROR_CHRONY_MISSING,
                                    "chrony is not installed (%s)",
                                    nts_chrony_install_command (tx->layout)));
      return;
    }
  nts_ensure_chrony_plan_async (tx->bus, tx->cancellable, on_chrony_planned, task);
}

/* The snapshot on disk, when it says ensure-chrony planned or made a
 * change of packages: what its undo and settle give back. NULL otherwise,
 * with @task answered: done when there is nothing to give back, failed
 * when the snapshot cannot be read. */
static const NtsSnapshot *
snapshot_with_package_changes (Tx *tx, GTask *task)
{
  GError *error = NULL;
  const NtsSnapshot *snapshot = persisted_snapshot (tx, &error);

  if (snapshot == NULL || nts_package_changes_is_empty (snapshot->packages))
    {
      nts_step_return (task, snapshot != NULL, error);
      return NULL;
    }
  return snapshot;
}

NTS_STEP_DEFINE_FINISH (on_packages_undone, nts_packages_undo_finish)

/* What the snapshot says ensure-chrony planned or did: what it installed
 * goes, what it removed comes back. Needs no PackageKit when nothing
 * changed, and may run twice. */
static void
undo_ensure_chrony (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  const NtsSnapshot *snapshot = snapshot_with_package_changes (tx, task);

  if (snapshot == NULL)
    return;
  nts_packages_undo_async (tx->bus, snapshot->packages, NULL, on_packages_undone, task);
}

/* ---- files ------------------------------------------------------------ */

/* Writes the step's file (none: the ntp-units.d list is rendered only
 * where no packaged list already puts chrony first), making its missing
 * directories first, 0755 root:root. The snapshot noted which were
 * missing: the undo removes exactly those. */
static void
step_write_file (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  const NtsRenderedFile *file = file_with_role (tx, GPOINTER_TO_UINT (step->arg));
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dir = NULL;
  GError *error = NULL;
  gboolean ok = TRUE;

  if (file != NULL)
    {
      dir = g_path_get_dirname (file->path);
      ok = find_missing_dirs (tx, dir, missing, &error);
      for (guint i = 0; ok && i < missing->len; i++)
        ok = nts_root_ensure_dir (tx->root, missing->pdata[i], 0, 0, 0755, FALSE, &error);
      ok = ok && nts_rendered_file_write (file, tx->root, &error);
      if (ok)
        g_ptr_array_add (tx->changed_files, g_strdup (file->path));
    }
  nts_step_return (task, ok, error);
}

static void
undo_write_file (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  GError *error = NULL;
  const NtsSnapshot *snapshot = persisted_snapshot (tx, &error);
  const char *path = NULL;
  gboolean all_files = FALSE;
  gboolean ok = snapshot != NULL;

  if (ok)
    path = nts_snapshot_file_of_step (snapshot, step->name, &all_files);
  if (ok && (path != NULL || all_files))
    ok = nts_snapshot_undo_file (tx->root, snapshot, path, tx->restored_files, &error);
  nts_step_return (task, ok, error);
}

/* chronyd writes its logs there as its own user, so the directory is
 * chronyd's. Only the directory itself is changed, never what is in it:
 * its owner could have planted links there. */
static void
step_log_dir (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  GError *error = NULL;
  struct stat st;
  gboolean existed = FALSE;
  uid_t uid;
  gid_t gid;
  g_autofree char *parent = g_path_get_dirname (tx->layout->log_dir);
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  gboolean ok;

  ok = nts_lookup_user (tx->layout->user, &uid, &error) &&
       nts_lookup_group (tx->layout->group, &gid, &error) &&
       nts_root_lstat (tx->root, tx->layout->log_dir, &st, &existed, &error);
  if (ok && existed && !S_ISDIR (st.st_mode))
    {
      ok = FALSE;
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                           "cannot make %s a directory: something else is there",
                           tx->layout->log_dir);
    }
  ok = ok && find_missing_dirs (tx, parent, missing, &error);
  for (guint i = 0; ok && i < missing->len; i++)
    ok = nts_root_ensure_dir (tx->root, missing->pdata[i], 0, 0, 0755, FALSE, &error);
  ok = ok && nts_root_ensure_dir (tx->root, tx->layout->log_dir, uid, gid, 0750, FALSE, &error);
  if (ok && (!existed || st.st_uid != uid || st.st_gid != gid || (st.st_mode & 07777) != 0750))
    g_ptr_array_add (tx->changed_files, g_strdup (tx->layout->log_dir));
  nts_step_return (task, ok, error);
}

/* A directory chronyd has since written to is not empty and stays. */
static void
undo_log_dir (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  GError *error = NULL;
  const NtsSnapshot *snapshot = persisted_snapshot (tx, &error);
  gboolean ok = snapshot != NULL &&
                nts_snapshot_undo_log_dir (tx->root, snapshot, tx->restored_files, &error);

  nts_step_return (task, ok, error);
}

/* ---- systemd ---------------------------------------------------------- */

NTS_STEP_DEFINE_FINISH (on_reloaded, nts_systemd_reload_finish)

static void
step_reload (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;

  nts_systemd_reload_async (tx->bus, tx->cancellable, on_reloaded, task);
}

/* systemd must see the drop-in and ntp-units.d lists as they are again. */
static void
settle_reload (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;

  nts_systemd_reload_async (tx->bus, NULL, on_reloaded, task);
}

static void
on_unit_files_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GPtrArray) changes = nts_systemd_unit_files_finish (res, &error);

  if (changes == NULL)
    {
      nts_step_return (task, FALSE, error);
      return;
    }
  g_ptr_array_add (tx->unit_changes,
                   g_strdup_printf ("%s: %s%s", tx->layout->timesyncd_unit,
                                    tx->timesyncd_was_active ? "stopped, " : "",
                                    changes->len > 0 ? "disabled" : "already disabled"));
  nts_step_return (task, TRUE, NULL);
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
    {
      nts_step_return (task, FALSE, error);
      return;
    }
  nts_systemd_disable_unit_files_async (tx->bus, units, tx->cancellable, on_unit_files_done, task);
}

static void
step_stop_timesyncd (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;

  /* Nothing to stop where timesyncd isn't installed. */
  if (!tx->timesyncd_loaded)
    {
      nts_step_return (task, TRUE, NULL);
      return;
    }
  nts_systemd_stop_unit_async (tx->bus, tx->layout->timesyncd_unit, tx->job_timeout_ms,
                               tx->cancellable, on_timesyncd_stopped, task);
}

static void
on_unit_undone (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  char *line = nts_snapshot_undo_unit_finish (res, NULL, &error);

  if (line != NULL)
    g_ptr_array_add (tx->restored_units, line);
  nts_step_return (task, error == NULL, error);
}

/* @unit as the snapshot found it. With @start_later, a unit that ran gets
 * only its enablement back here: chronyd is started by
 * settle_start_chronyd(), once its files are back (started now, it would
 * read ours, which may be what made the Apply fail). */
static void
undo_unit (Tx *tx, const char *unit, gboolean start_later, GTask *task)
{
  GError *error = NULL;
  const NtsSnapshot *snapshot = persisted_snapshot (tx, &error);

  if (snapshot == NULL || unit == NULL)
    {
      nts_step_return (task, snapshot != NULL, error);
      return;
    }
  nts_snapshot_undo_unit_async (tx->bus, snapshot, unit, tx->at_boot, start_later,
                                tx->job_timeout_ms, NULL, on_unit_undone, task);
}

static void
settle_ensure_chrony (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  const NtsSnapshot *snapshot = snapshot_with_package_changes (tx, task);

  if (snapshot == NULL)
    return;
  undo_unit (tx, nts_snapshot_timesyncd_unit (snapshot), FALSE, task);
}

static void
undo_stop_timesyncd (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  const NtsSnapshot *snapshot = persisted_snapshot (tx, NULL);
  g_autoptr(NtsUnitState) before = NULL;

  /* Not there when the snapshot was taken: the step left it alone. */
  if (snapshot != NULL)
    before = nts_snapshot_unit_state (snapshot, nts_snapshot_timesyncd_unit (snapshot));
  if (snapshot != NULL && before == NULL)
    {
      nts_step_return (task, TRUE, NULL);
      return;
    }
  undo_unit (tx, snapshot ? nts_snapshot_timesyncd_unit (snapshot) : NULL, FALSE, task);
}

/* ---- nts-dump ---------------------------------------------------------- */

static gboolean
any_secrets (GPtrArray *results)
{
  for (guint i = 0; results != NULL && i < results->len; i++)
    if (((NtsProbeResult *) results->pdata[i])->has_secrets)
      return TRUE;
  return FALSE;
}

static void
on_chronyd_version (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  const NtsStep *step = g_object_get_data (G_OBJECT (task), "step");
  g_autoptr(GError) error = NULL;
  g_autofree char *version = nts_chronyd_version_finish (res, &error);
  guint support = version != NULL ? nts_dump_support_from_version (version, &error) : 0;
  guint written = 0;

  if (support == 0)
    g_message ("no NTS dumps for chronyd: %s", error->message);
  else
    {
      NtsDumpHandoff handoff = {
        .root = tx->root,
        .support = support,
        .dump_dir = tx->layout->state_dir,
        .user = tx->layout->user,
        .store = tx->store,
        .snapshot_id = tx->snapshot_id,
        .step = step->name,
      };

      tx->dumps = nts_dump_handoff_write (&handoff, tx->preflight_results, &written);
    }
  nts_dump_handoff_forget_secrets (tx->preflight_results);
  /* Whatever became of the dumps, Apply goes on: without them chronyd
   * only starts as it would have anyway. */
  nts_step_return (task, TRUE, NULL);
}

/* chrony.conf's ntsdumpdir is the layout's state directory
 * (chrony-config.c): the preflight's sessions go there, as chronyd's user
 * would have left them, for the chronyd start-chronyd starts next. A
 * chronyd running still (the one start-chronyd restarts) may replace a
 * file as it stops: then it holds a session of chronyd's own, and is not
 * ours to remove. Only for a chronyd whose dump format is known, and only
 * while the keys are fresh (NTS_DUMP_HANDOFF_MAX_AGE_S). */
static void
step_nts_dump (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  g_autofree char *chronyd = NULL;
  gint64 age_s = (g_get_monotonic_time () - tx->preflight_done) / G_USEC_PER_SEC;

  if (!any_secrets (tx->preflight_results))
    {
      nts_step_return (task, TRUE, NULL);
      return;
    }
  if (age_s > NTS_DUMP_HANDOFF_MAX_AGE_S)
    {
      g_message ("no NTS dumps for chronyd: the preflight's key exchanges are %" G_GINT64_FORMAT
                 " s old, more than %d s",
                 age_s, NTS_DUMP_HANDOFF_MAX_AGE_S);
      nts_dump_handoff_forget_secrets (tx->preflight_results);
      nts_step_return (task, TRUE, NULL);
      return;
    }
  g_object_set_data (G_OBJECT (task), "step", (gpointer) step);
  chronyd = nts_layout_host_path (tx->layout, tx->layout->chronyd_path);
  nts_chronyd_version_async (chronyd, tx->cancellable, on_chronyd_version, task);
}

/* The files the step noted in the snapshot that are still ours: those
 * chronyd loaded are gone already. Before chronyd's unit is put back, so
 * an old chronyd restarted by the settle never sees them. */
static void
undo_nts_dump (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  GError *error = NULL;
  const NtsSnapshot *snapshot = persisted_snapshot (tx, &error);
  g_autoptr(GVariant) record = snapshot ? nts_snapshot_step_state (snapshot, step->name) : NULL;
  guint removed = 0;
  gboolean ok = snapshot != NULL;

  if (record != NULL)
    {
      ok = nts_dump_handoff_remove (tx->root, record, &removed, &error);
      if (removed > 0)
        g_message ("removed %u NTS dumps Apply had left for chronyd", removed);
    }
  nts_step_return (task, ok, error);
}

static void
on_chrony_restarted (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autofree char *result = nts_systemd_unit_job_finish (res, &error);

  if (result == NULL)
    {
      nts_step_return (task, FALSE, error);
      return;
    }
  g_ptr_array_add (tx->unit_changes,
                   g_strdup_printf ("%s: %s, %s", tx->layout->unit,
                                    tx->chrony_enabled_now ? "enabled" : "already enabled",
                                    tx->chrony_was_active ? "restarted" : "started"));
  nts_step_return (task, TRUE, NULL);
}

static void
on_chrony_enabled (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Tx *tx = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GPtrArray) changes = nts_systemd_unit_files_finish (res, &error);

  if (changes == NULL)
    {
      nts_step_return (task, FALSE, error);
      return;
    }
  tx->chrony_enabled_now = changes->len > 0;
  /* Restart, not start: a chronyd already running must read the new
   * configuration. */
  nts_systemd_restart_unit_async (tx->bus, tx->layout->unit, tx->job_timeout_ms,
                                  tx->cancellable, on_chrony_restarted, task);
}

static void
step_start_chronyd (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  /* The real unit, never Debian's chronyd.service alias: enabling an
   * alias name does not do what it says. */
  const char *units[] = { tx->layout->unit, NULL };

  nts_systemd_enable_unit_files_async (tx->bus, units, tx->cancellable, on_chrony_enabled, task);
}

static void
undo_start_chronyd (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  const NtsSnapshot *snapshot = persisted_snapshot (tx, NULL);

  undo_unit (tx, snapshot ? nts_snapshot_chrony_unit (snapshot) : NULL, TRUE, task);
}

static void
on_final_restart (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  g_autofree char *result = nts_systemd_unit_job_finish (res, &error);

  nts_step_return (task, result != NULL, error);
}

/* A chronyd that ran before was restarted with our files and runs on
 * after its unit was put back: it must read the restored files, which
 * are back only now. At boot, boot starts it. */
static void
settle_start_chronyd (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  GError *error = NULL;
  const NtsSnapshot *snapshot = persisted_snapshot (tx, &error);
  const char *unit = snapshot ? nts_snapshot_chrony_unit (snapshot) : NULL;
  g_autoptr(NtsUnitState) before = unit ? nts_snapshot_unit_state (snapshot, unit) : NULL;
  g_autoptr(NtsUnitUndo) undo = before ? nts_unit_undo_new_from_state (before) : NULL;

  if (snapshot == NULL || undo == NULL || !undo->was_active || tx->at_boot)
    {
      nts_step_return (task, snapshot != NULL, error);
      return;
    }
  nts_systemd_restart_unit_async (tx->bus, undo->unit, tx->job_timeout_ms, NULL,
                                  on_final_restart, task);
}

/* ---- commit ----------------------------------------------------------- */

gboolean
nts_apply_judge_report (GVariant *report, guint min_sources, guint wait_s, GError **error)
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
  gboolean ok = FALSE;

  if (report != NULL)
    {
      ok = nts_apply_judge_report (report, tx->min_sources, tx->wait_sync_s, &error);
      g_clear_pointer (&tx->report, g_variant_unref);
      tx->report = report;
    }
  nts_step_return (task, ok, error);
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
step_commit_check (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  NtsVerifier *verifier;

  if (tx->report_func)
    {
      judge (task, g_variant_ref_sink (tx->report_func (tx->wait_sync_s, tx->report_data)), NULL);
      return;
    }
  /* A verifier of its own: chrony's layout was just changed, nothing
   * cached by the daemon's verifier applies. */
  verifier = nts_verifier_new (tx->root, tx->bus);
  g_object_set_data_full (G_OBJECT (task), "verifier", verifier,
                          (GDestroyNotify) nts_verifier_unref);
  nts_verify_async (verifier, tx->wait_sync_s, NTS_VERIFY_NONE, tx->cancellable, on_verified,
                    task);
}

/* The dumps chronyd has not loaded by now are removed: by the commit check
 * chronyd has started every source whose address it had (a source is
 * created, and loads its dump, before chronyd answers on its socket), so
 * what is left is for an address it did not take (a name that resolved
 * elsewhere than for the probe) or has not resolved yet. Left, such a
 * file would keep a session's keys on disk for as long as no chronyd
 * happens to replace it; removed, it costs that one source the cold start
 * it would have had without it. Best effort: the commit does not fail on
 * it. */
static void
remove_unloaded_dumps (Tx *tx)
{
  g_autoptr(GError) error = NULL;
  guint removed = 0;

  if (tx->dumps == NULL)
    return;
  if (!nts_dump_handoff_remove (tx->root, tx->dumps, &removed, &error))
    g_message ("cannot remove the NTS dumps chronyd did not load: %s", error->message);
  else if (removed > 0)
    g_message ("removed %u NTS dumps chronyd did not load", removed);
}

/* Notes in the snapshot what Apply wrote, so a later Rollback can tell
 * whether someone changed the files since. */
static void
step_commit (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  GError *error = NULL;
  gboolean ok = TRUE;

  for (guint i = 0; ok && i < tx->files->len; i++)
    {
      const NtsRenderedFile *file = tx->files->pdata[i];
      g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, file->content, -1);
      uid_t uid;
      gid_t gid;

      ok = nts_lookup_user (file->owner, &uid, &error) &&
           nts_lookup_group (file->group, &gid, &error) &&
           nts_snapshot_store_record_applied (tx->store, tx->snapshot_id, file->path, sum,
                                              uid, gid, file->mode, &error);
    }
  if (ok)
    remove_unloaded_dumps (tx);
  /* The marker last: from it on State says "applied" and Rollback knows
   * what to undo, and a failure before it leaves the old one. */
  ok = ok && nts_snapshot_store_prune (tx->store, &error) &&
       nts_applied_state_set (tx->root, tx->state_dir, tx->snapshot_id, &error);
  nts_step_return (task, ok, error);
}

/* The marker back to the Apply that was in place before, if it still
 * points at this one (and that one was not pruned meanwhile). */
static void
undo_commit (gpointer data, const NtsStep *step, GTask *task)
{
  Tx *tx = data;
  GError *error = NULL;
  const NtsSnapshot *snapshot = persisted_snapshot (tx, &error);
  g_autofree char *now = NULL;
  g_autoptr(NtsSnapshot) before = NULL;
  const char *before_id = NULL;
  gboolean ok = snapshot != NULL;

  if (ok)
    now = nts_applied_state_get (tx->root, tx->state_dir, &error);
  ok = ok && error == NULL;
  if (ok && g_strcmp0 (now, snapshot->id) == 0)
    {
      if (g_variant_lookup (snapshot->state, "applied-before", "&s", &before_id) &&
          nts_snapshot_id_is_valid (before_id))
        before = nts_snapshot_store_load (tx->store, before_id, NULL);
      ok = nts_applied_state_set (tx->root, tx->state_dir, before ? before_id : NULL, &error);
    }
  nts_step_return (task, ok, error);
}

/* ---- the run ---------------------------------------------------------- */

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

/* Fully undone: nothing left for recovery to do, and nothing of this
 * Apply left for a Rollback to want (the snapshot after the journal: a
 * crash between the two leaves a stray snapshot, never a journal naming a
 * missing one). */
static gboolean
forget_undone (Tx *tx, GError **error)
{
  g_autoptr(GError) local = NULL;

  if (tx->journal != NULL && !nts_journal_finish (tx->journal, error))
    return FALSE;
  if (tx->snapshot_id != NULL && tx->store != NULL &&
      !nts_snapshot_store_discard (tx->store, tx->snapshot_id, &local))
    g_debug ("cannot remove the snapshot of the undone Apply: %s", local->message);
  return TRUE;
}

/* Whether @step is one of those before the snapshot, which change
 * nothing. */
static gboolean
changes_nothing (const char *step)
{
  for (guint i = 0; apply_steps[i].run != step_snapshot; i++)
    if (g_str_equal (apply_steps[i].name, step))
      return TRUE;
  return FALSE;
}

/* Contract errors from the steps that change nothing reach the caller as
 * they are (ChronyMissing, PreflightFailed, InvalidArgs). */
static gboolean
is_contract_error (const GError *error)
{
  return g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS) ||
         g_error_matches (error, NTS_ERROR, NTS_ERROR_CHRONY_MISSING) ||
         g_error_matches (error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
}

static void
on_run_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Tx *tx = g_task_get_task_data (task);
  g_autoptr(GError) cause = NULL;
  g_autoptr(GError) error = NULL;
  const char *step;
  GString *undo_errors;

  /* Kept only for the nts-dump step: a run that never reached it, or
   * failed, wipes them now rather than when the caller lets go. */
  nts_dump_handoff_forget_secrets (tx->preflight_results);
  if (nts_step_runner_run_finish (tx->runner, res, &cause))
    {
      if (!nts_journal_finish (tx->journal, &error))
        g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                                 "applied, but cannot remove the journal: %s", error->message);
      else
        g_task_return_pointer (task, g_variant_ref_sink (result_variant (tx)),
                               (GDestroyNotify) g_variant_unref);
      return;
    }

  step = nts_step_runner_get_failed_step (tx->runner);
  if (changes_nothing (step))
    {
      if (is_contract_error (cause))
        g_task_return_error (task, g_steal_pointer (&cause));
      else
        g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                                 "step %s failed: %s; nothing was changed", step, cause->message);
      return;
    }
  undo_errors = g_string_new (nts_step_runner_get_undo_errors (tx->runner));
  if (undo_errors->len == 0 && !forget_undone (tx, &error))
    g_string_append_printf (undo_errors, "; cannot remove the journal: %s", error->message);
  g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                           "step %s failed: %s; %s%s%s", step, cause->message,
                           undo_errors->len == 0 ? "every step done was undone"
                                                 : "NOT everything was undone",
                           undo_errors->len ? " (the journal is kept for recovery)" : "",
                           undo_errors->str);
  g_string_free (undo_errors, TRUE);
}

void
nts_apply_run_async (const NtsApplyParams *params,
                     NtsStepProgress       progress,
                     gpointer              progress_data,
                     GCancellable         *cancellable,
                     GAsyncReadyCallback   callback,
                     gpointer              user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Tx *tx = tx_new (params->root, params->system_bus, params->state_dir, params->job_timeout_ms,
                   cancellable, progress, progress_data);

  nts_task_set_source_tag (task, nts_apply_run_async);
  g_task_set_task_data (task, tx, (GDestroyNotify) tx_free);
  tx->layout = params->layout ? nts_layout_copy (params->layout) : NULL;
  tx->servers = g_strdupv ((char **) params->servers);
  tx->min_sources = params->min_sources;
  tx->render_flags = params->render_flags;
  tx->wait_sync_s = params->wait_sync_s;
  tx->preflight = params->preflight;
  tx->install = params->install;
  tx->install_authorized = params->install_authorized;
  tx->report_func = params->report_func;
  tx->report_data = params->report_data;
  nts_step_runner_run_async (tx->runner, 0, cancellable, on_run_done, task);
}

GVariant *
nts_apply_run_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

GVariant *
nts_apply_run_get_probe_results (GAsyncResult *result)
{
  Tx *tx;
  GVariantBuilder builder;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  tx = g_task_get_task_data (G_TASK (result));
  if (tx->preflight_results == NULL)
    return NULL;
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < tx->preflight_results->len; i++)
    g_variant_builder_add_value (&builder,
                                 nts_probe_result_to_variant (tx->preflight_results->pdata[i],
                                                              FALSE));
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/* ---- recovery --------------------------------------------------------- */

/* What the undo gave back, as Rollback's result says it. */
static GVariant *
recovered_variant (Tx *tx)
{
  const NtsSnapshot *snapshot = tx->persisted;
  GVariantDict dict;

  g_ptr_array_add (tx->restored_files, NULL);
  g_ptr_array_add (tx->restored_units, NULL);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "snapshot-id", "s", snapshot->id);
  g_variant_dict_insert_value (&dict, "restored-files",
                               g_variant_new_strv ((const char *const *) tx->restored_files->pdata, -1));
  g_variant_dict_insert_value (&dict, "unit-changes",
                               g_variant_new_strv ((const char *const *) tx->restored_units->pdata, -1));
  /* Seen from the machine: what the undo installed is what the Apply had
   * removed, and the other way round. */
  g_variant_dict_insert_value (&dict, "packages-installed",
                               g_variant_new_strv ((const char *const *) snapshot->packages->removed, -1));
  g_variant_dict_insert_value (&dict, "packages-removed",
                               g_variant_new_strv ((const char *const *) snapshot->packages->installed, -1));
  g_variant_dict_insert (&dict, "duration-ms", "t",
                         (guint64) ((g_get_monotonic_time () - tx->started) / 1000));
  return g_variant_dict_end (&dict);
}

static void
on_recovery_undone (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Tx *tx = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  const char *undo_errors;

  nts_step_runner_undo_finish (tx->runner, res, NULL);
  undo_errors = nts_step_runner_get_undo_errors (tx->runner);
  if (undo_errors[0] != '\0')
    g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                             "undoing the interrupted Apply of snapshot %s: NOT everything was "
                             "undone%s; the journal is kept, and the next start of ntssetupd "
                             "tries again", tx->snapshot_id, undo_errors);
  else if (!forget_undone (tx, &error))
    g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_APPLY_FAILED,
                             "the interrupted Apply was undone, but the journal cannot be "
                             "removed: %s", error->message);
  else
    g_task_return_pointer (task, g_variant_ref_sink (recovered_variant (tx)),
                           (GDestroyNotify) g_variant_unref);
}

typedef struct {
  GTask                *task;
  char                **done;
  gboolean              torn;
} RecoverOp;

static void
on_recovery_subscribed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  RecoverOp *op = user_data;
  Tx *tx = g_task_get_task_data (op->task);
  GError *error = NULL;

  if (!nts_systemd_subscribe_finish (res, &error))
    {
      g_task_return_error (op->task, error);
      g_object_unref (op->task);
    }
  else
    /* A torn journal cannot say which steps ran: all are undone. */
    nts_step_runner_undo_async (tx->runner, (const char *const *) op->done, op->torn,
                                on_recovery_undone, op->task);
  g_strfreev (op->done);
  g_free (op);
}

void
nts_apply_recover_async (NtsRoot               *root,
                         GDBusConnection       *system_bus,
                         const char            *state_dir,
                         const NtsJournalEntry *entry,
                         guint                  job_timeout_ms,
                         gboolean               at_boot,
                         GCancellable          *cancellable,
                         GAsyncReadyCallback    callback,
                         gpointer               user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Tx *tx = tx_new (root, system_bus, state_dir, job_timeout_ms, cancellable, NULL, NULL);
  GError *error = NULL;
  RecoverOp *op;

  nts_task_set_source_tag (task, nts_apply_recover_async);
  g_task_set_task_data (task, tx, (GDestroyNotify) tx_free);
  tx->at_boot = at_boot;
  tx->snapshot_id = g_strdup (entry->snapshot_id);
  if (tx->snapshot_id == NULL)
    error = g_error_new (NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT,
                         "the unfinished transaction's journal names no snapshot");
  if (error == NULL)
    tx->store = nts_snapshot_store_open (root, state_dir, &error);
  if (tx->store != NULL && persisted_snapshot (tx, &error) != NULL)
    tx->journal = nts_journal_resume (root, state_dir, entry, &error);
  if (tx->journal == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  op = g_new0 (RecoverOp, 1);
  op->task = task;
  op->done = g_strdupv (entry->steps);
  op->torn = entry->torn;
  /* Jobs are waited for by JobRemoved, sent only to subscribers. */
  nts_systemd_subscribe_async (system_bus, cancellable, on_recovery_subscribed, op);
}

GVariant *
nts_apply_recover_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
