/* ntssetupd: owns org.ntssetup.Manager on the system bus, started by D-Bus
 * activation, leaves when idle. */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fault.h"
#include "lifetime.h"
#include "manager.h"

#define BUS_NAME "org.ntssetup.Manager"

typedef struct {
  GMainLoop       *loop;
  GDBusConnection *connection;
  NtsLifetime     *lifetime;
  gboolean         name_acquired;
  int              exit_code;
} Daemon;

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Daemon *daemon = user_data;

  daemon->name_acquired = TRUE;
  g_debug ("acquired %s", name);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Daemon *daemon = user_data;

  /* Without the name no caller can reach us; another instance (or
   * something pretending to be us) has it. */
  if (!daemon->name_acquired)
    g_printerr ("ntssetupd: cannot own %s on the system bus (already owned, or not "
                "allowed by the bus policy)\n", name);
  else
    g_printerr ("ntssetupd: lost %s\n", name);
  daemon->exit_code = EXIT_FAILURE;
  g_main_loop_quit (daemon->loop);
}

static void
on_properties_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Daemon *daemon = user_data;
  guint owner_id;

  nts_manager_refresh_finish (res, NULL);
  owner_id = g_bus_own_name_on_connection (daemon->connection, BUS_NAME,
                                           G_BUS_NAME_OWNER_FLAGS_NONE,
                                           on_name_acquired, on_name_lost, daemon, NULL);
  nts_lifetime_set_name_owner_id (daemon->lifetime, owner_id);
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
  g_autofree char *fault = NULL;
  gint idle_timeout = 30;
  gboolean verbose = FALSE;
  GOptionEntry entries[] = {
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

  connection = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (connection == NULL)
    {
      g_printerr ("ntssetupd: cannot connect to the system bus: %s\n", error->message);
      return EXIT_FAILURE;
    }
  /* We leave on our own terms (idle, signal), never because the bus went
   * away mid-transaction without us noticing. */
  g_dbus_connection_set_exit_on_close (connection, TRUE);

  loop = g_main_loop_new (NULL, FALSE);
  daemon.loop = loop;
  lifetime = nts_lifetime_new (connection, (guint) idle_timeout, loop);
  manager = nts_manager_new (connection, root, lifetime);
  if (!nts_manager_export (manager, &error))
    {
      g_printerr ("ntssetupd: cannot export the manager object: %s\n", error->message);
      return EXIT_FAILURE;
    }

  /* The name last: the first caller, often the one that activated us,
   * must not read properties that are still being filled in. */
  daemon.connection = connection;
  daemon.lifetime = lifetime;
  nts_manager_refresh_async (manager, on_properties_ready, &daemon);

  g_unix_signal_add (SIGTERM, on_terminate, &daemon);
  g_unix_signal_add (SIGINT, on_terminate, &daemon);

  g_main_loop_run (loop);
  return daemon.exit_code;
}
