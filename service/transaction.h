/* ApplyHardenedConfig as a transaction: a table of steps, each with a do
 * and an undo, run in order; the first failure undoes every step done, in
 * reverse, and the caller gets NTS_ERROR_APPLY_FAILED naming the step and
 * the cause. The journal (journal.h) records each step done, on disk,
 * before the next one starts, so a crash leaves enough to roll back.
 *
 * The step names are the Progress step names of
 * org.ntssetup.Manager1.xml. Before each step the runner passes through
 * nts_fault_point_async(step), so tests can make any step fail. */
#pragma once

#include <gio/gio.h>

#include "layout.h"
#include "safe-fs.h"

G_BEGIN_DECLS

/* Called before each step runs: @index counts from 0 up to @count - 1. */
typedef void (*NtsTransactionProgress) (const char *step,
                                        guint       index,
                                        guint       count,
                                        gpointer    user_data);

/* For tests: hands the commit check a Verify report (a{sv}, as the XML
 * documents it; floating or full reference, consumed) instead of running
 * Verify against a chronyd. */
typedef GVariant *(*NtsTransactionReportFunc) (guint    wait_s,
                                               gpointer user_data);

typedef struct {
  NtsRoot           *root;         /* borrowed */
  const NtsLayout   *layout;       /* borrowed */
  GDBusConnection   *system_bus;   /* systemd's bus; borrowed */
  const char        *state_dir;    /* guest path; NULL: /var/lib/ntssetup */
  const char *const *servers;      /* validated (nts_server_list_validate) */
  guint              min_sources;
  guint              wait_sync_s;  /* commit check's wait, seconds (wait-sync) */
  guint              job_timeout_ms; /* 0: NTS_SYSTEMD_JOB_TIMEOUT_MS */
  /* Install chrony through PackageKit when it is missing (the caller has
   * checked org.ntssetup.manager.install for its caller); and then run
   * the preflight, which could not run before without a chronyd. */
  gboolean           install;
  gboolean           preflight_after_install;
  NtsTransactionReportFunc report_func; /* NULL: run Verify (production) */
  gpointer           report_data;
} NtsTransactionParams;

/* The step names, in the order they run (NULL-terminated). */
const char *const *nts_transaction_step_names (void);

/* The commit check's judgement of a Verify report: chronyd's unit active,
 * its command socket answering and, unless @wait_s is 0 (wait-sync 0
 * skips the authentication wait, never the health check), at least
 * @min_sources authenticated sources. NTS_ERROR_FAILED saying what is
 * missing otherwise. */
gboolean nts_transaction_judge_report (GVariant  *report,
                                       guint      min_sources,
                                       guint      wait_s,
                                       GError   **error);

/* Everything in @params is copied or borrowed for the length of the run
 * (borrowed pointers must outlive it). On success the result is
 * ApplyHardenedConfig's a{sv}: 'snapshot-id' (the snapshot taken before
 * the first change), 'changed-files', 'unit-changes',
 * 'packages-installed' and 'packages-removed' (by ensure-chrony), 'report'
 * (the commit check's Verify report), 'duration-ms'. */
void  nts_transaction_run_async  (const NtsTransactionParams *params,
                                  NtsTransactionProgress      progress,
                                  gpointer                    progress_data,
                                  GCancellable               *cancellable,
                                  GAsyncReadyCallback         callback,
                                  gpointer                    user_data);
GVariant *nts_transaction_run_finish (GAsyncResult          *result,
                                      GError               **error);

G_END_DECLS
