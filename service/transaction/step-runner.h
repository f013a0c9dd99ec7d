/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one step runner behind ApplyHardenedConfig, Rollback and the
 * recovery of a transaction a crash interrupted. Each of them is a table
 * of steps (apply.c, rollback.c); this runs a table:
 *
 *  - forward, from a given step: Progress for each step as it starts, a
 *    fault point before and after its work (fault.h), and, once a journal
 *    is attached (journal.h), the step recorded as done on disk before the
 *    next one starts;
 *  - on a failure, when the table asks for it (Apply), back: the undo of
 *    every step done and of the one that failed, last first, then the
 *    settle of each of them in table order (what must see the undone
 *    state: systemd's reload, chronyd's restart). An undo that fails is
 *    noted and the others still run, since each gives back something of
 *    its own;
 *  - back only, for recovery: the same undos, for the steps a journal
 *    says were done plus the one that was in flight.
 *
 * Undos are idempotent and read only what is on disk (the snapshot, the
 * journal), never what the forward run remembers: recovery after a crash
 * has no memory, and the failure path runs exactly the code recovery runs.
 *
 * The runner knows nothing of what the steps do: the table's owner gives
 * every step function its own context (@data) and each row its argument. */
#pragma once

#include <gio/gio.h>

#include "journal.h"

G_BEGIN_DECLS

typedef struct _NtsStep NtsStep;

/* A step's do, undo or settle. Completes @task (made by the runner, whose
 * task data is the table owner's context) with a boolean, through
 * nts_step_return(). */
typedef void (*NtsStepFunc) (gpointer data, const NtsStep *step, GTask *task);

struct _NtsStep {
  const char    *name;    /* the Progress step name (org.ntssetup.Manager1.xml) */
  NtsStepFunc    run;
  NtsStepFunc    undo;    /* NULL: nothing to give back */
  NtsStepFunc    settle;  /* NULL: nothing to do once every undo ran */
  gconstpointer  arg;     /* the step's own data, e.g. which file it writes */
};

/* Completes a step's @task and drops the reference the step was given:
 * TRUE, or @error (taken over) when @ok is FALSE. */
void nts_step_return (GTask *task, gboolean ok, GError *error);

/* Defines @name, the GAsyncReadyCallback of a step's last call: it
 * completes the step's task (its user data) with what @finish, a
 * gboolean (*) (GAsyncResult *, GError **), says. */
#define NTS_STEP_DEFINE_FINISH(name, finish)                        \
  static void                                                      \
  name (GObject *source, GAsyncResult *res, gpointer user_data)    \
  {                                                                \
    GError *finish_error = NULL;                                   \
    gboolean finish_ok = finish (res, &finish_error);              \
                                                                   \
    nts_step_return (user_data, finish_ok, finish_error);          \
  }

/* Called as each step starts: @index counts from 0 up to @count - 1. */
typedef void (*NtsStepProgress) (const char *step,
                                 guint       index,
                                 guint       count,
                                 gpointer    user_data);

typedef struct _NtsStepRunner NtsStepRunner;

/* @steps (@n_steps rows) must outlive the runner. @undo_on_failure: a
 * failure undoes what was done (Apply) rather than leaving it for
 * recovery to finish (Rollback). @data is every step function's context. */
NtsStepRunner *nts_step_runner_new  (const NtsStep   *steps,
                                     guint            n_steps,
                                     gboolean         undo_on_failure,
                                     gpointer         data,
                                     NtsStepProgress  progress,
                                     gpointer         progress_data);
void           nts_step_runner_free (NtsStepRunner *runner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsStepRunner, nts_step_runner_free)

/* From now on every step done is recorded in @journal (borrowed) before
 * the next one starts. A step that makes the journal attaches it, and is
 * recorded itself. */
void nts_step_runner_set_journal (NtsStepRunner *runner, NtsJournal *journal);

/* Runs the steps from @first on. TRUE once the last is done (and
 * recorded). FALSE with the failed step's error otherwise, after the undo
 * when the table asks for one: nts_step_runner_get_failed_step() names
 * the step, nts_step_runner_get_undo_errors() says what could not be
 * undone ("" when everything was). */
void     nts_step_runner_run_async  (NtsStepRunner       *runner,
                                     guint                first,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
gboolean nts_step_runner_run_finish (NtsStepRunner  *runner,
                                     GAsyncResult   *result,
                                     GError        **error);

/* Recovery of an interrupted run of this table: undoes the steps in
 * @done (a journal's list, in order) and the step after the last of them
 * (it was in flight), or with @torn every step (the journal cannot say).
 * Never fails itself: what could not be undone is in
 * nts_step_runner_get_undo_errors(). */
void     nts_step_runner_undo_async  (NtsStepRunner       *runner,
                                      const char * const  *done,
                                      gboolean             torn,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
gboolean nts_step_runner_undo_finish (NtsStepRunner  *runner,
                                      GAsyncResult   *result,
                                      GError        **error);

/* The index of the first step not in @done (a journal's list, in order):
 * where an interrupted run that is finished rather than undone resumes. */
guint nts_step_runner_first_not_done (NtsStepRunner      *runner,
                                      const char * const *done);

const char *nts_step_runner_get_failed_step (NtsStepRunner *runner);
const char *nts_step_runner_get_undo_errors (NtsStepRunner *runner);

G_END_DECLS
