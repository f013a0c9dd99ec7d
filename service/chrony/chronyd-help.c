/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See chronyd-help.h. */

#include "chronyd-help.h"

#include <string.h>

#include "task-tag.h"

#define HELP_TIMEOUT_S 5

typedef struct {
  GSubprocess *process;
  GCancellable *reading;    /* cancelled by the time limit or the caller */
  GSource *timeout;
  gulong forward_handler;
  gboolean timed_out;
  const char *option; /* "-h" or "-v", for messages */
} Run;

static void
run_free (Run *run)
{
  if (run->timeout != NULL)
    {
      g_source_destroy (run->timeout);
      g_source_unref (run->timeout);
    }
  g_clear_object (&run->process);
  g_clear_object (&run->reading);
  g_free (run);
}

char *
nts_chronyd_help_default (const char *help, const char *option)
{
  g_auto(GStrv) lines = NULL;
  gsize option_len;

  g_return_val_if_fail (help != NULL && option != NULL, NULL);

  option_len = strlen (option);
  lines = g_strsplit (help, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      char *line = g_strstrip (*l);
      const char *open;
      gsize len;

      if (strncmp (line, option, option_len) != 0 ||
          (line[option_len] != ' ' && line[option_len] != '\t'))
        continue;
      len = strlen (line);
      open = strrchr (line, '(');
      if (line[len - 1] != ')' || open == NULL || open + 1 >= line + len - 1)
        return NULL;
      return g_strndup (open + 1, line + len - 1 - (open + 1));
    }
  return NULL;
}

static void
help_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Run *run = g_task_get_task_data (task);
  g_autofree char *output = NULL;
  GError *error = NULL;

  g_cancellable_disconnect (g_task_get_cancellable (task), run->forward_handler);
  run->forward_handler = 0;
  if (run->timeout != NULL)
    {
      g_source_destroy (run->timeout);
      g_clear_pointer (&run->timeout, g_source_unref);
    }

  if (!g_subprocess_communicate_utf8_finish (run->process, result, &output, NULL, &error))
    {
      /* Stopped early: don't leave it running. */
      g_subprocess_force_exit (run->process);
      if (run->timed_out)
        {
          g_clear_error (&error);
          g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "chronyd %s did not finish within %d s", run->option, HELP_TIMEOUT_S);
        }
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&output), g_free);
}

static gboolean
help_timed_out (gpointer user_data)
{
  Run *run = user_data;

  run->timed_out = TRUE;
  g_subprocess_force_exit (run->process);
  g_cancellable_cancel (run->reading);
  g_clear_pointer (&run->timeout, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
forward_cancel (GCancellable *cancellable, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Runs `@host_path @option` for @task, which gets its output; takes the
 * caller's reference to @task. */
static void
start_run (GTask *task, const char *host_path, const char *option)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  Run *run;
  const char *env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };

  /* The caller's cancellation is checked by us, after the child is dealt
   * with, not by GTask on return. */
  g_task_set_check_cancellable (task, FALSE);
  run = g_new0 (Run, 1);
  run->option = option;
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);

  /* stdin a pipe that communicate() closes: never the daemon's own. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_environ (launcher, (char **) env);
  g_subprocess_launcher_set_cwd (launcher, "/");
  run->process = g_subprocess_launcher_spawn (launcher, &error, host_path, option, NULL);
  if (run->process == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  run->reading = g_cancellable_new ();
  if (cancellable != NULL)
    run->forward_handler = g_cancellable_connect (cancellable, G_CALLBACK (forward_cancel),
                                                  g_object_ref (run->reading),
                                                  g_object_unref);
  run->timeout = g_timeout_source_new_seconds (HELP_TIMEOUT_S);
  g_source_set_callback (run->timeout, help_timed_out, run, NULL);
  g_source_attach (run->timeout, g_task_get_context (task));

  g_subprocess_communicate_utf8_async (run->process, NULL, run->reading, help_read, task);
}

void
nts_chronyd_help_async (const char *host_path, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (host_path != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  nts_task_set_source_tag (task, nts_chronyd_help_async);
  start_run (task, host_path, "-h");
}

void
nts_chronyd_version_async (const char *host_path, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (host_path != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  nts_task_set_source_tag (task, nts_chronyd_version_async);
  start_run (task, host_path, "-v");
}

char *
nts_chronyd_version_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          NTS_TASK_TAG (nts_chronyd_version_async),
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
nts_chronyd_help_finish (GAsyncResult  *result,
                         char         **config_file,
                         char         **user,
                         GError       **error)
{
  g_autofree char *output = NULL;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (config_file != NULL && user != NULL, FALSE);

  *config_file = NULL;
  *user = NULL;
  output = g_task_propagate_pointer (G_TASK (result), error);
  if (output == NULL)
    return FALSE;
  *config_file = nts_chronyd_help_default (output, "-f");
  *user = nts_chronyd_help_default (output, "-u");
  return TRUE;
}
