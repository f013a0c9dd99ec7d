/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ApplyHardenedConfig as a table of steps run by the step runner
 * (step-runner.h): validate, resolve and preflight change nothing; from
 * snapshot on, the journal (journal.h) records each step done, on disk,
 * before the next one starts, and the first failure undoes every step
 * reached, last first. The caller gets NTS_ERROR_APPLY_FAILED naming the
 * step and the cause (or, before anything changed, the contract's own
 * error: ChronyMissing, PreflightFailed).
 *
 * The step names are the Progress step names of org.ntssetup.Manager1.xml.
 * Every undo reads only the snapshot (snapshot-undo.h), so the recovery of
 * an Apply a crash interrupted runs the very same undos
 * (nts_apply_recover_async()). */
#pragma once

#include <gio/gio.h>

#include "journal.h"
#include "layout.h"
#include "render.h"
#include "safe-fs.h"
#include "step-runner.h"

G_BEGIN_DECLS

/* For tests: hands the commit check a Verify report (a{sv}, as the XML
 * documents it; floating or full reference, consumed) instead of running
 * Verify against a chronyd. */
typedef GVariant *(*NtsApplyReportFunc) (guint    wait_s,
                                         gpointer user_data);

typedef struct {
  NtsRoot           *root;         /* borrowed */
  GDBusConnection   *system_bus;   /* systemd's (and PackageKit's) bus; borrowed */
  const char        *state_dir;    /* guest path; NULL: /var/lib/ntssetup */
  const char *const *servers;      /* validated (nts_server_list_validate) */
  guint              min_sources;
  guint              wait_sync_s;  /* commit check's wait, seconds (wait-sync) */
  guint              job_timeout_ms; /* 0: NTS_SYSTEMD_JOB_TIMEOUT_MS */
  gboolean           preflight;    /* prove each server speaks NTS first */
  NtsRenderFlags render_flags;     /* allow-clock-far-off */
  /* 'install' was asked: chrony is installed through PackageKit when it
   * is missing, provided @install_authorized (the caller holds
   * org.ntssetup.manager.install, asked before the lock). */
  gboolean           install;
  gboolean           install_authorized;
  /* For tests: where chrony lives, instead of the resolve step's own
   * resolution (layout.h). */
  const NtsLayout   *layout;
  NtsApplyReportFunc report_func;  /* NULL: run Verify (production) */
  gpointer           report_data;
} NtsApplyParams;

/* The commit check's judgement of a Verify report: chronyd's unit active,
 * its command socket answering and, unless @wait_s is 0 (wait-sync 0
 * skips the authentication wait, never the health check), at least
 * @min_sources authenticated sources. NTS_ERROR_FAILED saying what is
 * missing otherwise. */
gboolean nts_apply_judge_report (GVariant  *report,
                                 guint      min_sources,
                                 guint      wait_s,
                                 GError   **error);

/* Everything in @params is copied or borrowed for the length of the run
 * (borrowed pointers must outlive it). @progress is called as each step
 * starts. On success the result is ApplyHardenedConfig's a{sv}:
 * 'snapshot-id' (the snapshot taken before the first change),
 * 'changed-files', 'unit-changes', 'packages-installed' and
 * 'packages-removed' (by ensure-chrony), 'report' (the commit check's
 * Verify report), 'duration-ms'. On failure, *@failed_step (optional)
 * names the step that failed. */
void      nts_apply_run_async  (const NtsApplyParams *params,
                                NtsStepProgress       progress,
                                gpointer              progress_data,
                                GCancellable         *cancellable,
                                GAsyncReadyCallback   callback,
                                gpointer              user_data);
GVariant *nts_apply_run_finish (GAsyncResult         *result,
                                GError              **error);
/* The preflight's verdict on each server of the run @result ended, in
 * the order given: aa{sv} of nts_probe_result_to_variant() without
 * secrets (a full reference), whether the run succeeded or failed
 * (PreflightFailed, or a later step); NULL when the preflight did not run
 * or the probe gave no answer. For LastResult, which the error alone
 * cannot carry. */
GVariant *nts_apply_run_get_probe_results (GAsyncResult *result);

/* Recovery of an Apply a crash interrupted (@entry, its journal): the
 * undos of the steps it journaled and of the one in flight, through the
 * same runner, then the journal and the snapshot go, as after an Apply
 * that failed. @at_boot: chronyd's unit is ordered after the boot-time
 * recovery, so a chronyd that is to run is left to boot to start. The
 * result is Rollback's a{sv} ('snapshot-id', 'restored-files',
 * 'unit-changes', 'packages-installed', 'packages-removed',
 * 'duration-ms'); errors keep the journal for the next try. */
void      nts_apply_recover_async  (NtsRoot               *root,
                                    GDBusConnection       *system_bus,
                                    const char            *state_dir,
                                    const NtsJournalEntry *entry,
                                    guint                  job_timeout_ms,
                                    gboolean               at_boot,
                                    GCancellable          *cancellable,
                                    GAsyncReadyCallback    callback,
                                    gpointer               user_data);
GVariant *nts_apply_recover_finish (GAsyncResult          *result,
                                    GError               **error);

G_END_DECLS
