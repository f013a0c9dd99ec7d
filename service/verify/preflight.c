/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "preflight.h"

#include "nts-errors.h"
#include "accounts.h"
#include "safe-fs.h"
#include "task-tag.h"

typedef struct {
  GPtrArray   *verdicts;     /* NtsPreflightVerdict, one per server */
  guint        pending;
  guint        min_sources;
  gboolean     cancelled;
} PreflightRun;

typedef struct {
  GTask       *task;          /* a reference, held until this check ends */
  guint        index;
  guint        timeout_s;
  GSubprocess *process;
  GSource     *kill_timer;
  gint64       started;
  gboolean     killed;
} Check;

void
nts_preflight_verdict_free (NtsPreflightVerdict *verdict)
{
  if (verdict == NULL)
    return;
  g_free (verdict->server);
  g_free (verdict->reason);
  g_free (verdict);
}

static void
preflight_run_free (PreflightRun *run)
{
  g_ptr_array_unref (run->verdicts);
  g_free (run);
}

static void
check_free (Check *check)
{
  if (check->kill_timer)
    {
      g_source_destroy (check->kill_timer);
      g_source_unref (check->kill_timer);
    }
  g_clear_object (&check->process);
  g_clear_object (&check->task);
  g_free (check);
}

/* chronyd's log lines start "2026-11-27T04:43:13Z "; the message follows. */
static const char *
strip_timestamp (const char *line)
{
  const char *space = strchr (line, ' ');

  if (space != NULL && space - line == 20 && line[19] == 'Z' && line[10] == 'T')
    return space + 1;
  return line;
}

/* Lines every run prints, which say nothing about the server. */
static gboolean
is_noise (const char *message)
{
  static const char *const prefixes[] = {
    "chronyd version", "Disabled control of system clock", "Running with root privileges",
    "chronyd exiting", "Timeout reached", "No suitable source", "System clock wrong by",
    "Selected source", "Source ", "Frequency ", "Loaded ", "Using ",
  };

  if (message[0] == '\0')
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_str_has_prefix (message, prefixes[i]))
      return TRUE;
  return FALSE;
}

/* The verdict from chronyd's output. Success is exit 0 with the offset
 * line; otherwise the reason is what chronyd said went wrong (connection
 * refused, TLS handshake failed, a fatal error), followed by how it ended
 * (no source within -t). */
static void
judge (NtsPreflightVerdict *verdict, const char *output, gboolean exited, int status,
       gboolean killed, guint timeout_s)
{
  g_auto(GStrv) lines = g_strsplit (output ? output : "", "\n", -1);
  g_autoptr(GPtrArray) details = g_ptr_array_new ();
  g_autoptr(GString) reason = g_string_new (NULL);
  const char *offset_line = NULL;
  gboolean timeout_reached = FALSE, no_source = FALSE;
  const char *fatal = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *message = strip_timestamp (g_strstrip (lines[i]));

      if (g_str_has_prefix (message, "System clock wrong by "))
        offset_line = message + strlen ("System clock wrong by ");
      else if (g_str_has_prefix (message, "Timeout reached"))
        timeout_reached = TRUE;
      else if (g_str_has_prefix (message, "No suitable source"))
        no_source = TRUE;
      else if (g_str_has_prefix (message, "Fatal error : "))
        fatal = message + strlen ("Fatal error : ");
      else if (!is_noise (message))
        {
          gboolean seen = FALSE;
          /* chronyd retries the key exchange: say each problem once. */
          for (guint j = 0; j < details->len && !seen; j++)
            seen = g_str_equal (details->pdata[j], message);
          if (!seen && details->len < 3)
            g_ptr_array_add (details, (gpointer) message);
        }
    }

  if (exited && status == 0 && offset_line != NULL)
    {
      verdict->ok = TRUE;
      verdict->offset = g_ascii_strtod (offset_line, NULL);
      return;
    }

  if (fatal != NULL)
    g_string_append_printf (reason, "chronyd: %s", fatal);
  for (guint i = 0; i < details->len; i++)
    g_string_append_printf (reason, "%s%s", reason->len ? "; " : "",
                            (const char *) details->pdata[i]);
  if (reason->len)
    g_string_append (reason, "; ");
  if (killed)
    g_string_append_printf (reason, "chronyd did not exit within %u s and was stopped",
                            timeout_s + NTS_PREFLIGHT_KILL_MARGIN_S);
  else if (no_source)
    g_string_append (reason, "no suitable source (no NTS-authenticated measurement)");
  else if (timeout_reached)
    g_string_append_printf (reason, "no NTS-authenticated measurement within %u s", timeout_s);
  else if (exited)
    g_string_append_printf (reason, "chronyd exited with status %d", status);
  else
    g_string_append (reason, "chronyd was killed by a signal");
  verdict->reason = g_string_free (g_steal_pointer (&reason), FALSE);
}

static void
finish_run (GTask *task)
{
  PreflightRun *run = g_task_get_task_data (task);
  g_autoptr(GString) failures = g_string_new (NULL);
  guint passed = 0;

  if (run->cancelled)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Preflight cancelled");
      return;
    }

  for (guint i = 0; i < run->verdicts->len; i++)
    {
      NtsPreflightVerdict *verdict = run->verdicts->pdata[i];
      if (verdict->ok)
        passed++;
      else
        g_string_append_printf (failures, "\n%s: %s", verdict->server, verdict->reason);
    }

  if (passed >= run->min_sources)
    {
      g_task_return_pointer (task, g_ptr_array_ref (run->verdicts),
                             (GDestroyNotify) g_ptr_array_unref);
      return;
    }
  g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED,
                           "%u of %u servers passed the NTS preflight, %u needed:%s",
                           passed, run->verdicts->len, run->min_sources, failures->str);
}

static void
check_done (Check *check)
{
  PreflightRun *run = g_task_get_task_data (check->task);
  GTask *task = g_object_ref (check->task);

  check_free (check);
  if (--run->pending == 0)
    finish_run (task);
  g_object_unref (task);
}

static void
on_communicated (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Check *check = user_data;
  PreflightRun *run = g_task_get_task_data (check->task);
  NtsPreflightVerdict *verdict = run->verdicts->pdata[check->index];
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;

  verdict->elapsed = (g_get_monotonic_time () - check->started) / (double) G_USEC_PER_SEC;
  if (!g_subprocess_communicate_utf8_finish (check->process, res, &output, NULL, &error))
    {
      /* Cancelled (or unreadable output): don't leave chronyd behind. */
      g_subprocess_force_exit (check->process);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        run->cancelled = TRUE;
      else
        verdict->reason = g_strdup_printf ("reading chronyd's output: %s", error->message);
      check_done (check);
      return;
    }

  judge (verdict, output, g_subprocess_get_if_exited (check->process),
         g_subprocess_get_if_exited (check->process) ? g_subprocess_get_exit_status (check->process) : -1,
         check->killed, check->timeout_s);
  check_done (check);
}

/* chronyd exits at -t by itself; this is for one that hangs anyway. */
static gboolean
on_kill_timer (gpointer user_data)
{
  Check *check = user_data;

  check->killed = TRUE;
  g_subprocess_force_exit (check->process);
  g_clear_pointer (&check->kill_timer, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* A server name goes into a directive as one word: anything else could
 * add options to it. Names are validated before preflight; this only
 * keeps the directive well-formed whatever the caller did. */
static gboolean
word_ok (const char *word)
{
  if (word == NULL || word[0] == '\0' || word[0] == '-')
    return FALSE;
  for (const char *p = word; *p; p++)
    if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p) || *p == '#' || *p == '"' || *p == '\\')
      return FALSE;
  return TRUE;
}

static GStrv
build_argv (const char *chronyd, const char *server, guint16 nts_port,
            const NtsPreflightOptions *options, guint timeout_s)
{
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();
  g_autofree char *timeout = g_strdup_printf ("%u", timeout_s);
  g_autofree char *directive = NULL;

  directive = nts_port ? g_strdup_printf ("server %s iburst nts ntsport %u", server, nts_port)
                       : g_strdup_printf ("server %s iburst nts", server);
  g_strv_builder_add_many (argv, chronyd, "-Q", "-t", timeout, "-u", options->user,
                           directive, NULL);
  if (options->trusted_certs)
    {
      g_autofree char *certs = g_strdup_printf ("ntstrustedcerts %s", options->trusted_certs);
      g_strv_builder_add (argv, certs);
      /* Only the test CA: a system CA must not vouch for a test server. */
      g_strv_builder_add (argv, "nosystemcert");
    }
  return g_strv_builder_end (argv);
}

void
nts_preflight_async (const char *const *servers, const NtsPreflightOptions *options,
                     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  PreflightRun *run = g_new0 (PreflightRun, 1);
  g_autofree char *chronyd = NULL;
  guint timeout_s = options->timeout_s ? options->timeout_s : NTS_PREFLIGHT_TIMEOUT_S;
  guint n = servers ? g_strv_length ((char **) servers) : 0;

  nts_task_set_source_tag (task, nts_preflight_async);
  run->verdicts = g_ptr_array_new_with_free_func ((GDestroyNotify) nts_preflight_verdict_free);
  run->min_sources = MAX (options->min_sources, 1);
  g_task_set_task_data (task, run, (GDestroyNotify) preflight_run_free);

  chronyd = g_build_filename (options->root != NULL ? nts_root_get_host_path (options->root) : "/",
                              options->chronyd_path, NULL);
  if (!g_file_test (chronyd, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_CHRONY_MISSING,
                               "Cannot run the NTS preflight: %s is not installed",
                               options->chronyd_path);
      return;
    }
  if (!word_ok (options->user) || (options->trusted_certs && !word_ok (options->trusted_certs)))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "Preflight: invalid user or certificate path");
      return;
    }
  for (guint i = 0; i < n; i++)
    if (!word_ok (servers[i]))
      {
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                 "Preflight: invalid server name \"%s\"", servers[i]);
        return;
      }
  if (n == 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "Preflight: no servers");
      return;
    }

  for (guint i = 0; i < n; i++)
    {
      NtsPreflightVerdict *verdict = g_new0 (NtsPreflightVerdict, 1);
      verdict->server = g_strdup (servers[i]);
      g_ptr_array_add (run->verdicts, verdict);
    }

  /* All at once: the whole preflight takes as long as the slowest server,
   * not the sum. */
  run->pending = n;
  for (guint i = 0; i < n; i++)
    {
      NtsPreflightVerdict *verdict = run->verdicts->pdata[i];
      g_auto(GStrv) argv = build_argv (chronyd, servers[i],
                                       options->nts_ports ? options->nts_ports[i] : 0,
                                       options, timeout_s);
      g_autoptr(GSubprocessLauncher) launcher =
        g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                   G_SUBPROCESS_FLAGS_STDERR_MERGE);
      g_autoptr(GError) error = NULL;
      Check *check = g_new0 (Check, 1);

      check->task = g_object_ref (task);
      check->index = i;
      check->timeout_s = timeout_s;
      check->started = g_get_monotonic_time ();
      /* Where it cannot create anything by accident, and in a fixed
       * locale so that its messages are the ones we parse. */
      g_subprocess_launcher_set_cwd (launcher, "/");
      g_subprocess_launcher_setenv (launcher, "LC_ALL", "C", TRUE);
      check->process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv, &error);
      if (check->process == NULL)
        {
          verdict->reason = g_strdup_printf ("cannot run chronyd: %s", error->message);
          check_done (check);
          continue;
        }
      check->kill_timer = g_timeout_source_new_seconds (timeout_s + NTS_PREFLIGHT_KILL_MARGIN_S);
      g_source_set_callback (check->kill_timer, on_kill_timer, check, NULL);
      g_source_attach (check->kill_timer, g_task_get_context (task));
      g_subprocess_communicate_utf8_async (check->process, NULL, cancellable,
                                           on_communicated, check);
    }
}

gboolean
nts_preflight_finish (GAsyncResult *result, GPtrArray **verdicts, GError **error)
{
  GTask *task = G_TASK (result);
  PreflightRun *run;
  g_autoptr(GPtrArray) ok = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  run = g_task_get_task_data (task);
  ok = g_task_propagate_pointer (task, &local_error);
  if (verdicts != NULL)
    {
      gboolean have = ok != NULL ||
                      g_error_matches (local_error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
      *verdicts = have ? g_ptr_array_ref (run->verdicts) : NULL;
    }
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

void
nts_preflight_options_init (NtsPreflightOptions *options, const NtsLayout *layout,
                            guint min_sources)
{
  uid_t uid;

  *options = (NtsPreflightOptions) {
    .root = layout->root,
    .chronyd_path = layout->chronyd_path,
    .user = nts_lookup_user (layout->user, &uid, NULL) ? layout->user : "root",
    .min_sources = min_sources,
  };
}
