/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntssetupd: owns org.ntssetup.Manager on the system bus, started by D-Bus
 * activation, leaves when idle. */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fault.h"
#include "last-result.h"
#include "lifetime.h"
#include "log-fields.h"
#include "manager.h"
#include "nts-names.h"
#include "recovery.h"

typedef struct {
  GMainLoop       *loop;
  GDBusConnection *connection;
  NtsLifetime     *lifetime;
  NtsManager      *manager;
  gboolean         name_acquired;
  int              exit_code;
} Daemon;

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Daemon *daemon = user_data;

  daemon->name_acquired = TRUE;
  g_debug ("acquired %s", name);
  nts_manager_name_acquired (daemon->manager);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Daemon *daemon = user_data;

  /* Without the name no caller can reach us; another instance (or
   * something pretending to be us) has it. */
  if (!daemon->name_acquired)
    g_warning ("cannot own %s on the system bus (already owned, or not allowed by the "
               "bus policy)", name);
  else
    g_warning ("lost %s", name);
  daemon->exit_code = EXIT_FAILURE;
  g_main_loop_quit (daemon->loop);
}

static void
on_properties_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Daemon *daemon = user_data;
  guint owner_id;

  nts_manager_start_finish (res, NULL);
  owner_id = g_bus_own_name_on_connection (daemon->connection, NTS_DBUS_NAME,
                                           G_BUS_NAME_OWNER_FLAGS_NONE,
                                           on_name_acquired, on_name_lost, daemon, NULL);
  nts_lifetime_set_name_owner_id (daemon->lifetime, owner_id);
}

typedef struct {
  GMainLoop *loop;
  GVariant  *result;
  GError    *error;
} RecoverRun;

static void
on_recovered (GObject *source, GAsyncResult *res, gpointer user_data)
{
  RecoverRun *run = user_data;

  run->result = nts_recovery_run_finish (res, &run->error);
  g_main_loop_quit (run->loop);
}

/* What --recover did. Its stderr is the journal when the boot unit runs
 * it: an entry with the priority of @level, naming the snapshot in a field
 * of its own (journalctl NTS_SNAPSHOT_ID=...). Run by hand, or by the
 * tests: one line, on stdout unless it says something went wrong. */
static void G_GNUC_PRINTF (3, 4)
recover_report (GLogLevelFlags level, const char *snapshot_id, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  if (!g_log_writer_is_journald (fileno (stderr)))
    {
      if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
        g_printerr ("ntssetupd: %s\n", text);
      else
        g_print ("ntssetupd: %s\n", text);
    }
  else
    nts_log_snapshot (level, snapshot_id, "%s", text);
}

/* --recover, run at boot by ntssetupd-recover.service: finish what a crash
 * or power loss interrupted, without the bus name (nothing may activate
 * the daemon then) and without waiting for jobs (boot's own jobs for
 * these units are not the dead daemon's). */
static int
recover_and_exit (GDBusConnection *connection, NtsRoot *root)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  NtsRecoveryParams params = { 0 };
  RecoverRun run = { 0 };
  const char *id = NULL;

  loop = g_main_loop_new (NULL, FALSE);
  run.loop = loop;
  params.root = root;
  params.system_bus = connection;
  params.at_boot = TRUE;
  nts_recovery_run_async (&params, NULL, on_recovered, &run);
  g_main_loop_run (loop);
  if (run.error != NULL || run.result != NULL)
    {
      g_autoptr(GVariant) last = NULL;

      if (run.result != NULL)
        g_variant_lookup (run.result, "snapshot-id", "&s", &id);
      /* The daemon's LastResult when it next starts: how a caller learns
       * that the change it made before the power cut was undone. */
      last = g_variant_ref_sink (nts_last_result_new ("Recover", run.error, NULL, id));
      if (!nts_last_result_save (root, NULL, last, &error))
        recover_report (G_LOG_LEVEL_WARNING, id, "cannot keep the outcome: %s", error->message);
    }
  if (run.error != NULL)
    {
      recover_report (G_LOG_LEVEL_WARNING, NULL,
                      "recovering the interrupted transaction failed: %s", run.error->message);
      g_error_free (run.error);
      return EXIT_FAILURE;
    }
  if (run.result == NULL)
    {
      recover_report (G_LOG_LEVEL_MESSAGE, NULL, "no interrupted transaction");
      return EXIT_SUCCESS;
    }
  recover_report (G_LOG_LEVEL_MESSAGE, id, "recovered: snapshot %s is back in place", id);
  g_variant_unref (run.result);
  return EXIT_SUCCESS;
}

static gboolean
on_terminate (gpointer user_data)
{
  Daemon *daemon = user_data;

  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

/* --root is for tests: everything the daemon reads or writes goes below
 * it. It must be a plain absolute directory so that no path we build from
 * it can be redirected. */
static char *
check_root (const char *root, GError **error)
{
  g_autofree char *canonical = NULL;

  if (!g_path_is_absolute (root))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--root: \"%s\" is not an absolute path", root);
      return NULL;
    }
  canonical = g_canonicalize_filename (root, NULL);
  if (!g_file_test (canonical, G_FILE_TEST_IS_DIR) ||
      g_file_test (canonical, G_FILE_TEST_IS_SYMLINK))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--root: \"%s\" is not a directory", root);
      return NULL;
    }
  return g_steal_pointer (&canonical);
}

int
main (int argc, char **argv)
{
  g_autofree char *root_arg = NULL;
  g_autofree char *root = NULL;
  g_autoptr(NtsRoot) fs_root = NULL;
  g_autofree char *fault = NULL;
  gint idle_timeout = 30;
  gboolean verbose = FALSE;
  gboolean recover = FALSE;
  GOptionEntry entries[] = {
    { "recover", 0, 0, G_OPTION_ARG_NONE, &recover,
      "Recover an interrupted transaction, then exit (boot-time unit)", NULL },
    { "root", 0, 0, G_OPTION_ARG_FILENAME, &root_arg,
      "Read and write every file below DIR (tests only)", "DIR" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout,
      "Exit after SECONDS without work (0: never; default 30)", "SECONDS" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
#if NTS_FAULT_INJECTION
    { "fault", 0, 0, G_OPTION_ARG_STRING, &fault,
      "Fail, abort or stall at a step (test builds only)", "STEP:fail|abort|stall" },
#endif
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(NtsLifetime) lifetime = NULL;
  g_autoptr(NtsManager) manager = NULL;
  Daemon daemon = { 0 };

  setlocale (LC_ALL, "");
  /* Everything we create is private unless a step sets a mode explicitly. */
  umask (0077);

  context = g_option_context_new ("- authenticated time (NTS) setup service");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("ntssetupd: %s\n", error->message);
      return 2;
    }
  if (idle_timeout < 0)
    {
      g_printerr ("ntssetupd: --idle-timeout must be 0 or more\n");
      return 2;
    }
  if (verbose)
    g_log_set_debug_enabled (TRUE);
  if (fault && !nts_fault_configure (fault, &error))
    {
      g_printerr ("ntssetupd: %s\n", error->message);
      return 2;
    }

  root = check_root (root_arg ? root_arg : "/", &error);
  if (root == NULL)
    {
      g_printerr ("ntssetupd: %s\n", error->message);
      return 2;
    }
  fs_root = nts_root_open (root, &error);
  if (fs_root == NULL)
    {
      g_warning ("%s", error->message);
      return EXIT_FAILURE;
    }

  connection = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (connection == NULL)
    {
      g_warning ("cannot connect to the system bus: %s", error->message);
      return EXIT_FAILURE;
    }
  /* We leave on our own terms (idle, signal), never because the bus went
   * away mid-transaction without us noticing. */
  g_dbus_connection_set_exit_on_close (connection, TRUE);
  if (recover)
    return recover_and_exit (connection, fs_root);

  loop = g_main_loop_new (NULL, FALSE);
  daemon.loop = loop;
  lifetime = nts_lifetime_new (connection, (guint) idle_timeout, loop);
  manager = nts_manager_new (connection, g_steal_pointer (&fs_root), lifetime);
  if (!nts_manager_export (manager, &error))
    {
      g_warning ("cannot export the manager object: %s", error->message);
      return EXIT_FAILURE;
    }

  /* The name last: the first caller, often the one that activated us,
   * must not read properties that are still being filled in. */
  daemon.connection = connection;
  daemon.lifetime = lifetime;
  daemon.manager = manager;
  nts_manager_start_async (manager, on_properties_ready, &daemon);

  g_unix_signal_add (SIGTERM, on_terminate, &daemon);
  g_unix_signal_add (SIGINT, on_terminate, &daemon);

  g_main_loop_run (loop);
  return daemon.exit_code;
}
