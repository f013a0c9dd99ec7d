/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Recovery of a transaction a crash (or a power loss) interrupted: the
 * journal (journal.h) says one is unfinished. An interrupted Apply is
 * undone by Apply's own undos, for the steps its journal records and the
 * one in flight (apply.h); an interrupted Rollback is finished from the
 * first step its journal does not record (rollback.h). Run by ntssetupd
 * before it answers any mutating call, and by `ntssetupd --recover` at
 * boot. */
#pragma once

#include <gio/gio.h>

#include "safe-fs.h"

G_BEGIN_DECLS

typedef struct {
  NtsRoot         *root;         /* borrowed */
  GDBusConnection *system_bus;   /* borrowed */
  const char      *state_dir;    /* NULL: /var/lib/ntssetup */
  /* Wait first for the jobs queued for the units the snapshot names (the
   * dead daemon's starts and stops). Not at boot: there are none of ours,
   * and boot's own jobs for these units may be ordered after us. */
  gboolean         wait_for_jobs;
  guint            job_timeout_ms; /* 0: NTS_SYSTEMD_JOB_TIMEOUT_MS */
  gboolean         at_boot;        /* see NtsRestoreParams */
} NtsRecoveryParams;

/* Whether a journal is there (an unfinished transaction to recover). */
gboolean  nts_recovery_needed (NtsRoot     *root,
                               const char  *state_dir,
                               GError     **error);

/* Recovers the unfinished transaction, if any. The result is NULL with no
 * error when there was none, else Rollback's result a{sv} plus
 * 'recovered-kind' (s: apply, rollback or unknown). Errors keep the
 * journal for the next try. */
void      nts_recovery_run_async  (const NtsRecoveryParams *params,
                                   GCancellable            *cancellable,
                                   GAsyncReadyCallback      callback,
                                   gpointer                 user_data);
GVariant *nts_recovery_run_finish (GAsyncResult            *result,
                                   GError                 **error);

G_END_DECLS
