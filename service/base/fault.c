/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"
#include "fault.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "nts-errors.h"
#include "task-tag.h"

#if NTS_FAULT_INJECTION

typedef enum { FAULT_NONE, FAULT_FAIL, FAULT_ABORT, FAULT_STALL } FaultKind;

static char *fault_step;
static FaultKind fault_kind;
static NtsFaultWhen fault_when;
static GPtrArray *stalled;   /* GTask*, released together by SIGUSR1 */

static gboolean
on_sigusr1 (gpointer user_data)
{
  g_autoptr(GPtrArray) tasks = g_steal_pointer (&stalled);

  stalled = g_ptr_array_new ();
  for (guint i = 0; tasks && i < tasks->len; i++)
    {
      g_autoptr(GTask) task = tasks->pdata[i];
      g_task_return_boolean (task, TRUE);
    }
  return G_SOURCE_CONTINUE;
}

gboolean
nts_fault_configure (const char *spec, GError **error)
{
  const char *colon = strchr (spec, ':');
  g_autofree char *kind = NULL;

  if (colon == NULL || colon == spec)
    goto bad;
  kind = g_strdup (colon + 1);
  fault_when = NTS_FAULT_BEFORE;
  if (g_str_has_suffix (kind, "-after"))
    {
      kind[strlen (kind) - strlen ("-after")] = '\0';
      fault_when = NTS_FAULT_AFTER;
    }
  if (g_str_equal (kind, "fail"))
    fault_kind = FAULT_FAIL;
  else if (g_str_equal (kind, "abort"))
    fault_kind = FAULT_ABORT;
  else if (g_str_equal (kind, "stall"))
    fault_kind = FAULT_STALL;
  else
    goto bad;

  g_free (fault_step);
  fault_step = g_strndup (spec, colon - spec);
  if (fault_kind == FAULT_STALL && stalled == NULL)
    {
      stalled = g_ptr_array_new ();
      g_unix_signal_add (SIGUSR1, on_sigusr1, NULL);
    }
  g_message ("fault injection armed: %s", spec);
  return TRUE;

bad:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--fault: \"%s\" is not STEP:fail, STEP:abort or STEP:stall, "
               "with -after or without", spec);
  return FALSE;
}

void
nts_fault_point_async (const char *step, NtsFaultWhen when, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  const char *where = when == NTS_FAULT_AFTER ? "after" : "at";

  nts_task_set_source_tag (task, nts_fault_point_async);
  if (fault_step == NULL || !g_str_equal (fault_step, step) || fault_when != when)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  switch (fault_kind)
    {
    case FAULT_FAIL:
      g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_FAILED,
                               "fault injected %s step %s", where, step);
      return;
    case FAULT_ABORT:
      g_message ("fault injected: aborting %s step %s", where, step);
      abort ();
    case FAULT_STALL:
      g_debug ("fault injected: stalling %s step %s until SIGUSR1", where, step);
      g_ptr_array_add (stalled, g_steal_pointer (&task));
      return;
    case FAULT_NONE:
    default:
      g_task_return_boolean (task, TRUE);
      return;
    }
}

#else /* !NTS_FAULT_INJECTION */

gboolean
nts_fault_configure (const char *spec, GError **error)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--fault: this ntssetupd was built without fault injection");
  return FALSE;
}

void
nts_fault_point_async (const char *step, NtsFaultWhen when, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  nts_task_set_source_tag (task, nts_fault_point_async);
  g_task_return_boolean (task, TRUE);
}

#endif

gboolean
nts_fault_point_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
