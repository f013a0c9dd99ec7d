/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rollback: puts a snapshot back as a transaction of its own, a table of
 * steps run by the step runner (step-runner.h); and the recovery of an
 * interrupted Rollback, which finishes it.
 *
 * Steps (the Progress names of org.ntssetup.Manager1.xml): restore-files
 * (every saved file byte for byte with owner, group and mode, or removed
 * when it did not exist; the log directory's owner and mode; directories
 * the Apply made, when empty), restore-packages (what the Apply installed
 * is removed, what it removed is installed again), restore-units (systemd
 * reloaded, then chronyd's and timesyncd's unit enablement and active
 * state as they were; a chronyd that was running is restarted so it reads
 * the restored files).
 *
 * Everything it needs is in the snapshot (snapshot-undo.h), never in
 * memory: that is what lets recovery use it after a crash. Each step can
 * run twice with the same outcome, so a restore cut short is finished
 * from the first step its journal does not record: the journal says a
 * Rollback is unfinished until the last step is done. */
#pragma once

#include <gio/gio.h>

#include "journal.h"
#include "safe-fs.h"
#include "step-runner.h"

G_BEGIN_DECLS

typedef struct {
  NtsRoot         *root;          /* borrowed */
  GDBusConnection *system_bus;    /* systemd's (and PackageKit's) bus; borrowed */
  const char      *state_dir;     /* guest path; NULL: /var/lib/ntssetup */
  const char      *snapshot_id;   /* NULL or "": the Apply in place (applied-state.h) */
  gboolean         force;         /* restore even if the files changed since ntssetup wrote them */
  /* Recovery: finish the Rollback this journal entry describes (or
   * restore the snapshot of one whose kind a torn journal does not say)
   * instead of starting one. No check for changes: a crash may have left
   * anything half written. */
  const NtsJournalEntry *recover;
  guint            job_timeout_ms; /* 0: NTS_SYSTEMD_JOB_TIMEOUT_MS */
  /* ntssetupd --recover at boot: chronyd's unit is ordered after us, so
   * a chronyd that is to run is left to boot to start. */
  gboolean         at_boot;
  /* The caller may not install or remove packages (it lacks the install
   * action): a snapshot whose restore would is refused, nothing changed. */
  gboolean         packages_forbidden;
} NtsRollbackParams;

/* On success, Rollback's result a{sv} ('snapshot-id', 'restored-files',
 * 'unit-changes', 'packages-installed', 'packages-removed',
 * 'duration-ms'). Errors: NTS_ERROR_NO_SUCH_SNAPSHOT (nothing changed);
 * NTS_ERROR_APPLY_FAILED when @force is not set and the files were
 * changed since the Apply in place wrote them or, with none in place,
 * since the last Rollback left them (applied-state.h), or nothing
 * records either (nothing changed); or when a step failed (the journal
 * is kept: the next start finishes the restore). */
void      nts_rollback_run_async  (const NtsRollbackParams *params,
                                  NtsStepProgress         progress,
                                  gpointer                progress_data,
                                  GCancellable           *cancellable,
                                  GAsyncReadyCallback     callback,
                                  gpointer                user_data);
GVariant *nts_rollback_run_finish (GAsyncResult           *result,
                                  GError                **error);

/* Whether Rollback(@snapshot_id) (NULL or "": the Apply in place, as
 * Rollback resolves it) would install or remove packages: the snapshot's
 * package plan (its [packages] group) is not empty. For a caller that
 * must ask for more authorization first (org.ntssetup.manager.install).
 * Writes nothing. Errors: NTS_ERROR_NO_SUCH_SNAPSHOT (no such id, or ""
 * while no Apply is in place), G_IO_ERROR_INVALID_DATA (a damaged
 * snapshot, which Rollback would refuse too). */
gboolean  nts_rollback_changes_packages (NtsRoot     *root,
                                        const char  *state_dir,
                                        const char  *snapshot_id,
                                        gboolean    *changes,
                                        GError     **error);

G_END_DECLS
