/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The step runner: see step-runner.h. */
#include "step-runner.h"

#include "fault.h"
#include "task-tag.h"

struct _NtsStepRunner {
  const NtsStep   *steps;
  guint            n_steps;
  gboolean         undo_on_failure;
  gpointer         data;
  NtsStepProgress  progress;
  gpointer         progress_data;
  NtsJournal      *journal;      /* borrowed; NULL until a step attaches it */
  GCancellable    *cancellable;

  gboolean        *reached;      /* per step: done, or in flight when it failed */
  guint            index;        /* the step running, or being undone or settled */
  const char      *failed_step;
  GError          *cause;
  GString         *undo_errors;
};

void
nts_step_return (GTask *task, gboolean ok, GError *error)
{
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

NtsStepRunner *
nts_step_runner_new (const NtsStep *steps, guint n_steps, gboolean undo_on_failure,
                     gpointer data, NtsStepProgress progress, gpointer progress_data)
{
  NtsStepRunner *runner = g_new0 (NtsStepRunner, 1);

  runner->steps = steps;
  runner->n_steps = n_steps;
  runner->undo_on_failure = undo_on_failure;
  runner->data = data;
  runner->progress = progress;
  runner->progress_data = progress_data;
  runner->reached = g_new0 (gboolean, n_steps);
  runner->undo_errors = g_string_new (NULL);
  return runner;
}

void
nts_step_runner_free (NtsStepRunner *runner)
{
  if (runner == NULL)
    return;
  g_clear_object (&runner->cancellable);
  g_clear_error (&runner->cause);
  g_string_free (runner->undo_errors, TRUE);
  g_free (runner->reached);
  g_free (runner);
}

void
nts_step_runner_set_journal (NtsStepRunner *runner, NtsJournal *journal)
{
  runner->journal = journal;
}

const char *
nts_step_runner_get_failed_step (NtsStepRunner *runner)
{
  return runner->failed_step;
}

const char *
nts_step_runner_get_undo_errors (NtsStepRunner *runner)
{
  return runner->undo_errors->str;
}

static gint
step_index (NtsStepRunner *runner, const char *name)
{
  for (guint i = 0; name != NULL && i < runner->n_steps; i++)
    if (g_str_equal (runner->steps[i].name, name))
      return (gint) i;
  return -1;
}

guint
nts_step_runner_first_not_done (NtsStepRunner *runner, const char *const *done)
{
  guint first = 0;

  for (guint i = 0; done != NULL && done[i] != NULL; i++)
    {
      gint at = step_index (runner, done[i]);

      if (at >= 0 && (guint) at + 1 > first)
        first = at + 1;
    }
  return first;
}

/* Runs @func of the step at runner->index with a task that calls @done. */
static void
call_step (NtsStepRunner *runner, NtsStepFunc func, GCancellable *cancellable,
           GAsyncReadyCallback done, GTask *outer)
{
  GTask *task = g_task_new (NULL, cancellable, done, outer);

  g_task_set_task_data (task, runner->data, NULL);
  func (runner->data, &runner->steps[runner->index], task);
}

/* ---- back: undo, then settle ------------------------------------------ */

static void undo_next (GTask *task);
static void settle_next (GTask *task);

static void
note_undo_error (NtsStepRunner *runner, const char *what, GAsyncResult *res)
{
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    g_string_append_printf (runner->undo_errors, "; %s of %s failed: %s", what,
                            runner->steps[runner->index].name, error->message);
}

static void
finish_back (GTask *task)
{
  NtsStepRunner *runner = g_task_get_task_data (task);

  if (runner->cause != NULL)
    g_task_return_error (task, g_error_copy (runner->cause));
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
on_settled (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  NtsStepRunner *runner = g_task_get_task_data (task);

  note_undo_error (runner, "settling the undo", res);
  runner->index++;
  settle_next (task);
}

/* Once every undo ran: each reached step's settle, in table order. */
static void
settle_next (GTask *task)
{
  NtsStepRunner *runner = g_task_get_task_data (task);

  for (; runner->index < runner->n_steps; runner->index++)
    if (runner->reached[runner->index] && runner->steps[runner->index].settle != NULL)
      {
        call_step (runner, runner->steps[runner->index].settle, NULL, on_settled, task);
        return;
      }
  finish_back (task);
}

static void
on_undone (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  NtsStepRunner *runner = g_task_get_task_data (task);

  note_undo_error (runner, "undo", res);
  undo_next (task);
}

/* The reached steps, last first. Undos are not cancellable: a half-undone
 * system is worse than a late reply. */
static void
undo_next (GTask *task)
{
  NtsStepRunner *runner = g_task_get_task_data (task);

  while (runner->index > 0)
    {
      runner->index--;
      if (runner->reached[runner->index] && runner->steps[runner->index].undo != NULL)
        {
          call_step (runner, runner->steps[runner->index].undo, NULL, on_undone, task);
          return;
        }
    }
  settle_next (task);
}

static void
go_back (GTask *task)
{
  NtsStepRunner *runner = g_task_get_task_data (task);

  runner->index = runner->n_steps;
  undo_next (task);
}

/* ---- forward ---------------------------------------------------------- */

static void run_next (GTask *task);

static void
fail (GTask *task, GError *error, gboolean step_ran)
{
  NtsStepRunner *runner = g_task_get_task_data (task);

  runner->failed_step = runner->steps[runner->index].name;
  runner->cause = error;
  /* A step that ran is undone with those before it: it may have done part
   * of its work, and its undo copes with any part. */
  runner->reached[runner->index] = step_ran;
  if (runner->undo_on_failure)
    go_back (task);
  else
    finish_back (task);
}

static void
on_after_fault_point (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  NtsStepRunner *runner = g_task_get_task_data (task);
  GError *error = NULL;

  if (!nts_fault_point_finish (res, &error) ||
      (runner->journal != NULL &&
       !nts_journal_step_done (runner->journal, runner->steps[runner->index].name, &error)))
    {
      fail (task, error, TRUE);
      return;
    }
  runner->reached[runner->index] = TRUE;
  runner->index++;
  run_next (task);
}

static void
on_step_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  NtsStepRunner *runner = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      fail (task, error, TRUE);
      return;
    }
  /* It did its work: a fault here is a step that failed after doing it,
   * or a crash before the journal says it was done. */
  nts_fault_point_async (runner->steps[runner->index].name, NTS_FAULT_AFTER,
                         runner->cancellable, on_after_fault_point, task);
}

static void
on_before_fault_point (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  NtsStepRunner *runner = g_task_get_task_data (task);
  GError *error = NULL;

  if (!nts_fault_point_finish (res, &error))
    {
      fail (task, error, FALSE);
      return;
    }
  call_step (runner, runner->steps[runner->index].run, runner->cancellable, on_step_done, task);
}

static void
run_next (GTask *task)
{
  NtsStepRunner *runner = g_task_get_task_data (task);

  if (runner->index == runner->n_steps)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  if (runner->progress)
    runner->progress (runner->steps[runner->index].name, runner->index, runner->n_steps,
                      runner->progress_data);
  nts_fault_point_async (runner->steps[runner->index].name, NTS_FAULT_BEFORE,
                         runner->cancellable, on_before_fault_point, task);
}

void
nts_step_runner_run_async (NtsStepRunner *runner, guint first, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  nts_task_set_source_tag (task, nts_step_runner_run_async);
  g_task_set_task_data (task, runner, NULL);
  g_set_object (&runner->cancellable, cancellable);
  runner->index = MIN (first, runner->n_steps);
  run_next (task);
}

gboolean
nts_step_runner_run_finish (NtsStepRunner *runner, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
nts_step_runner_undo_async (NtsStepRunner *runner, const char *const *done, gboolean torn,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  guint in_flight = nts_step_runner_first_not_done (runner, done);

  nts_task_set_source_tag (task, nts_step_runner_undo_async);
  g_task_set_task_data (task, runner, NULL);
  for (guint i = 0; i < runner->n_steps; i++)
    runner->reached[i] = torn || i == in_flight;
  for (guint i = 0; done != NULL && done[i] != NULL; i++)
    {
      gint at = step_index (runner, done[i]);

      if (at >= 0)
        runner->reached[at] = TRUE;
    }
  go_back (task);
}

gboolean
nts_step_runner_undo_finish (NtsStepRunner *runner, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
