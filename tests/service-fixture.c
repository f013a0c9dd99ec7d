/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "service-fixture.h"

#include <errno.h>
#include <sys/prctl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nts-names.h"

#define NAME_TIMEOUT_MS 20000
#define EXIT_TIMEOUT_MS 10000
#define CALL_TIMEOUT_MS 30000

static const char *
srcdir (void)
{
  const char *dir = g_getenv ("G_TEST_SRCDIR");
  g_assert_nonnull (dir);
  return dir;
}

static const char *
builddir (void)
{
  const char *dir = g_getenv ("G_TEST_BUILDDIR");
  g_assert_nonnull (dir);
  return dir;
}

char **
fixture_environ (ServiceFixture *fx)
{
  char **env = g_get_environ ();

  env = g_environ_setenv (env, "DBUS_SYSTEM_BUS_ADDRESS", fx->bus_address, TRUE);
  /* The stand-ins must not wander off to a real session bus either. */
  env = g_environ_setenv (env, "DBUS_SESSION_BUS_ADDRESS", fx->bus_address, TRUE);
  return env;
}

static gboolean
on_timeout (gpointer user_data)
{
  gboolean *timed_out = user_data;
  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
fixture_wait_flag (gboolean *flag, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, on_timeout, &timed_out);

  while (!*flag && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return *flag;
}

static void
on_name_appeared (GDBusConnection *connection, const char *name, const char *owner,
                  gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* Bounded wait for a name to get an owner, failing the test early if the
 * process meant to own it died. */
static void
wait_for_name (ServiceFixture *fx, const char *name, GSubprocess *owner)
{
  gboolean appeared = FALSE;
  guint watch = g_bus_watch_name_on_connection (fx->client, name, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                on_name_appeared, NULL, &appeared, NULL);
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (NAME_TIMEOUT_MS, on_timeout, &timed_out);

  while (!appeared && !timed_out)
    {
      g_main_context_iteration (NULL, TRUE);
      if (owner && g_subprocess_get_identifier (owner) == NULL)
        g_error ("the process that should own %s exited", name);
    }
  if (!timed_out)
    g_source_remove (id);
  g_bus_unwatch_name (watch);
  if (!appeared)
    g_error ("%s did not appear on the test bus within %d ms", name, NAME_TIMEOUT_MS);
}

/* A test that aborts must not leave its bus and stand-ins behind: they
 * would hold the test runner's pipes open until its timeout. The kernel
 * ends them when the test process dies (the fixture runs on the main
 * thread, whose exit PDEATHSIG follows). */
static void
die_with_test (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocess *
spawn (ServiceFixture *fx, GSubprocessFlags flags, const char *const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_auto(GStrv) env = fixture_environ (fx);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_set_child_setup (launcher, die_with_test, NULL, NULL);
  g_subprocess_launcher_set_environ (launcher, env);
  /* GLib logs debug messages to stdout, which is the test's TAP stream:
   * children write to the test's stderr instead. */
  if (!(flags & G_SUBPROCESS_FLAGS_STDOUT_SILENCE))
    g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return process;
}

static GSubprocess *
start_template (ServiceFixture *fx, const char *template, const char *params,
                const char *bus_name)
{
  g_autofree char *path = g_build_filename (srcdir (), "templates", template, NULL);
  const char *argv[] = { "/usr/bin/python3", "-m", "dbusmock", "--system",
                         "--template", path, "-p", params, NULL };
  GSubprocess *process = spawn (fx, G_SUBPROCESS_FLAGS_STDOUT_SILENCE, argv);

  wait_for_name (fx, bus_name, process);
  return process;
}

static void
write_file (const char *root, const char *path, const char *content)
{
  g_autofree char *full = g_build_filename (root, path, NULL);
  g_autofree char *dir = g_path_get_dirname (full);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (full, content, -1, &error);
  g_assert_no_error (error);
}

/* A root that looks like the distribution: os-release, chrony's config as
 * the package ships it, the ntp-units.d lists. */
static void
seed_root (ServiceFixture *fx)
{
  const char *profile = fx->options.profile ? fx->options.profile : "debian";

  if (g_str_equal (profile, "debian"))
    {
      write_file (fx->root, "etc/os-release",
                  "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
                  "VERSION_ID=\"12\"\nID=debian\n");
      write_file (fx->root, "etc/chrony/chrony.conf",
                  "# Debian's default\npool 2.debian.pool.ntp.org iburst\n"
                  "keyfile /etc/chrony/chrony.keys\ndriftfile /var/lib/chrony/chrony.drift\n");
      write_file (fx->root, "etc/chrony/chrony.keys", "# keys\n");
      /* Installed chrony, as far as the resolver can tell: a chronyd that
       * answers -h like Debian's (the real one's other options omitted). */
      write_file (fx->root, "usr/sbin/chronyd",
                  "#!/bin/sh\n"
                  "echo 'Usage: /usr/sbin/chronyd [OPTION]... [DIRECTIVE]...'\n"
                  "printf '  -f FILE\\tSpecify configuration file (/etc/chrony/chrony.conf)\\n'\n"
                  "printf '  -u USER\\tSpecify user (_chrony)\\n'\n");
      {
        g_autofree char *chronyd = g_build_filename (fx->root, "usr/sbin/chronyd", NULL);
        g_assert_cmpint (chmod (chronyd, 0755), ==, 0);
      }
      write_file (fx->root, "usr/lib/systemd/ntp-units.d/50-chrony.list", "chrony.service\n");
      write_file (fx->root, "usr/lib/systemd/ntp-units.d/80-systemd-timesync.list",
                  "systemd-timesyncd.service\n");
    }
  else if (g_str_equal (profile, "arch"))
    {
      write_file (fx->root, "etc/os-release", "NAME=\"Arch Linux\"\nID=arch\n");
      write_file (fx->root, "etc/chrony.conf", "pool pool.ntp.org iburst\n");
    }
  else
    g_assert_not_reached ();
}

void
service_fixture_setup (ServiceFixture *fx, const ServiceOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = g_build_filename (builddir (), "system-bus.conf", NULL);
  const char *bus_argv[] = { "dbus-daemon", "--config-file", config, "--nofork",
                             "--print-address=1", NULL };
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  gsize len;

  memset (fx, 0, sizeof *fx);
  fx->options = *options;
  /* Short: the root ends up in socket paths, which max out at 108 bytes. */
  fx->tmpdir = g_dir_make_tmp ("nts-XXXXXX", &error);
  g_assert_no_error (error);
  fx->root = g_build_filename (fx->tmpdir, "root", NULL);
  g_assert_cmpint (g_mkdir (fx->root, 0755), ==, 0);
  seed_root (fx);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_test, NULL, NULL);
  fx->bus = g_subprocess_launcher_spawnv (launcher, bus_argv, &error);
  g_assert_no_error (error);
  /* dbus-daemon prints its address once it listens; EOF means it died. */
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fx->bus));
  fx->bus_address = g_data_input_stream_read_line (out, &len, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fx->bus_address);

  fx->client = g_dbus_connection_new_for_address_sync (
      fx->bus_address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_set_exit_on_close (fx->client, FALSE);

  if (options->polkit_params)
    fx->polkit = start_template (fx, "polkitd.py", options->polkit_params,
                                 "org.freedesktop.PolicyKit1");
  if (options->systemd_params)
    fx->systemd = start_template (fx, "systemd.py", options->systemd_params,
                                  "org.freedesktop.systemd1");
}

void
service_fixture_start_daemon (ServiceFixture *fx)
{
  const char *daemon_path = g_getenv ("NTSSETUPD");
  g_autofree char *root_arg = g_strdup_printf ("--root=%s", fx->root);
  g_autofree char *idle_arg = g_strdup_printf ("--idle-timeout=%u", fx->options.idle_timeout);
  g_autofree char *fault_arg = fx->options.fault ? g_strdup_printf ("--fault=%s", fx->options.fault) : NULL;
  const char *argv[] = { daemon_path, root_arg, idle_arg, "--verbose", fault_arg, NULL };

  g_assert_nonnull (daemon_path);
  fx->daemon = spawn (fx, G_SUBPROCESS_FLAGS_NONE, argv);
  wait_for_name (fx, NTS_DBUS_NAME, fx->daemon);
}

static void
on_exited (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  *(gboolean *) user_data = TRUE;
}

int
fixture_wait_exit (GSubprocess *process, guint timeout_ms)
{
  gboolean exited = FALSE;

  g_subprocess_wait_async (process, NULL, on_exited, &exited);
  if (!fixture_wait_flag (&exited, timeout_ms))
    return -1;
  return g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : 128;
}

static void
stop (GSubprocess **process)
{
  if (*process == NULL)
    return;
  if (g_subprocess_get_identifier (*process) != NULL)
    {
      g_subprocess_send_signal (*process, SIGTERM);
      if (fixture_wait_exit (*process, EXIT_TIMEOUT_MS) < 0)
        {
          g_subprocess_force_exit (*process);
          fixture_wait_exit (*process, EXIT_TIMEOUT_MS);
        }
    }
  g_clear_object (process);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_unlink (child);
      g_object_unref (info);
    }
  g_rmdir (path);
}

void
service_fixture_teardown (ServiceFixture *fx)
{
  stop (&fx->daemon);
  stop (&fx->polkit);
  stop (&fx->systemd);
  if (fx->client)
    g_dbus_connection_close_sync (fx->client, NULL, NULL);
  g_clear_object (&fx->client);
  stop (&fx->bus);
  remove_tree (fx->tmpdir);
  g_free (fx->tmpdir);
  g_free (fx->root);
  g_free (fx->bus_address);
}

GVariant *
fixture_call (ServiceFixture *fx, const char *method, GVariant *params,
              GDBusCallFlags flags, GError **error)
{
  return g_dbus_connection_call_sync (fx->client, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                      NTS_DBUS_INTERFACE, method, params, NULL, flags,
                                      CALL_TIMEOUT_MS, NULL, error);
}

GVariant *
fixture_polkit (ServiceFixture *fx, const char *method, GVariant *params)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_sync (fx->client, "org.freedesktop.PolicyKit1",
                                       "/org/freedesktop/PolicyKit1/Authority",
                                       "org.ntssetup.Test.Polkit", method, params, NULL,
                                       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
  return reply;
}

GDBusConnection *
fixture_connect (ServiceFixture *fx)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection;

  connection = g_dbus_connection_new_for_address_sync (
      fx->bus_address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  return connection;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
fingerprint_dir (GString *out, const char *base, const char *rel)
{
  g_autofree char *path = g_build_filename (base, rel, NULL);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *child_rel = g_build_filename (rel, names->pdata[i], NULL);
      g_autofree char *child = g_build_filename (base, child_rel, NULL);
      struct stat st;

      g_assert_cmpint (lstat (child, &st), ==, 0);
      g_string_append_printf (out, "%s %o %u:%u", child_rel, st.st_mode, st.st_uid, st.st_gid);
      if (S_ISDIR (st.st_mode))
        {
          g_string_append_c (out, '\n');
          fingerprint_dir (out, base, child_rel);
        }
      else if (S_ISREG (st.st_mode))
        {
          g_autofree char *content = NULL;
          gsize len;
          g_autofree char *sum = NULL;

          g_assert_true (g_file_get_contents (child, &content, &len, NULL));
          sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) content, len);
          g_string_append_printf (out, " %s\n", sum);
        }
      else
        g_string_append_c (out, '\n');
    }
}

char *
fixture_dir_fingerprint (const char *dir)
{
  GString *out = g_string_new (NULL);

  fingerprint_dir (out, dir, "");
  return g_string_free (out, FALSE);
}

char *
fixture_tree_fingerprint (ServiceFixture *fx)
{
  return fixture_dir_fingerprint (fx->root);
}

GSubprocess *
fixture_start_stand_in (ServiceFixture *fx, const char *template, const char *params,
                        const char *bus_name)
{
  return start_template (fx, template, params, bus_name);
}

void
fixture_stop_process (GSubprocess **process)
{
  stop (process);
}

GVariant *
fixture_control (ServiceFixture *fx, const char *bus_name, const char *path,
                 const char *interface, const char *method, GVariant *params)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_sync (fx->client, bus_name, path, interface, method, params,
                                       NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL,
                                       &error);
  g_assert_no_error (error);
  return reply;
}

#define SYSTEMD_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_CONTROL "org.ntssetup.Test.Systemd"

char *
fixture_systemd_unit_prop (ServiceFixture *fx, const char *unit, const char *prop)
{
  g_autoptr(GVariant) reply = fixture_control (fx, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_CONTROL,
                                               "GetUnitState", g_variant_new ("(s)", unit));
  g_autoptr(GVariant) props = g_variant_get_child_value (reply, 0);
  char *value = NULL;

  g_assert_true (g_variant_lookup (props, prop, "s", &value));
  return value;
}

char *
fixture_systemd_units_summary (ServiceFixture *fx, const char *chrony_unit)
{
  g_autofree char *ca = fixture_systemd_unit_prop (fx, chrony_unit, "ActiveState");
  g_autofree char *ce = fixture_systemd_unit_prop (fx, chrony_unit, "UnitFileState");
  g_autofree char *ta = fixture_systemd_unit_prop (fx, "systemd-timesyncd.service", "ActiveState");
  g_autofree char *te = fixture_systemd_unit_prop (fx, "systemd-timesyncd.service", "UnitFileState");

  return g_strdup_printf ("chrony %s/%s timesyncd %s/%s", ca, ce, ta, te);
}

char *
fixture_systemd_changing_calls (ServiceFixture *fx)
{
  g_autoptr(GVariant) reply = fixture_control (fx, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_CONTROL,
                                               "GetManagerCalls", NULL);
  g_autoptr(GVariant) calls = g_variant_get_child_value (reply, 0);
  g_autoptr(GString) out = g_string_new (NULL);
  static const char *changing[] = { "Reload", "StopUnit", "StartUnit", "RestartUnit",
                                    "EnableUnitFiles", "DisableUnitFiles", NULL };

  for (gsize i = 0; i < g_variant_n_children (calls); i++)
    {
      g_autoptr(GVariant) call = g_variant_get_child_value (calls, i);
      g_autoptr(GVariant) args = NULL;
      const char *name;

      g_variant_get (call, "(&s@av)", &name, &args);
      if (!g_strv_contains (changing, name))
        continue;
      g_string_append_printf (out, "%s%s", out->len ? "," : "", name);
      if (g_variant_n_children (args) > 0)
        {
          g_autoptr(GVariant) boxed = g_variant_get_child_value (args, 0);
          g_autoptr(GVariant) arg = g_variant_get_variant (boxed);
          if (g_variant_is_of_type (arg, G_VARIANT_TYPE_STRING))
            g_string_append_printf (out, "(%s)", g_variant_get_string (arg, NULL));
          else if (g_variant_is_of_type (arg, G_VARIANT_TYPE_STRING_ARRAY))
            {
              g_autofree const char **v = g_variant_get_strv (arg, NULL);
              g_autofree char *joined = g_strjoinv (" ", (char **) v);
              g_string_append_printf (out, "(%s)", joined);
            }
        }
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
fixture_tree_fingerprint_without (ServiceFixture *fx, const char *dir)
{
  g_autofree char *all = fixture_tree_fingerprint (fx);
  g_auto(GStrv) lines = g_strsplit (all, "\n", -1);
  g_autofree char *below = g_strconcat (dir, "/", NULL);
  g_autofree char *itself = g_strconcat (dir, " ", NULL);
  GString *out = g_string_new (NULL);

  for (guint i = 0; lines[i]; i++)
    if (!g_str_has_prefix (lines[i], below) && !g_str_has_prefix (lines[i], itself))
      g_string_append_printf (out, "%s\n", lines[i]);
  return g_string_free (out, FALSE);
}

void
fixture_write_root_file (ServiceFixture *fx, const char *path, const char *content, int mode)
{
  g_autofree char *full = g_build_filename (fx->root, path, NULL);

  write_file (fx->root, path, content);
  g_assert_cmpint (chmod (full, mode), ==, 0);
}

int
fixture_run (ServiceFixture *fx, char **out, const char *const *argv)
{
  g_auto(GStrv) env = fixture_environ (fx);
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_set_environ (launcher, env);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

int
fixture_run_ntsctl (ServiceFixture *fx, char **out, const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_assert_nonnull (g_getenv ("NTSCTL"));
  g_ptr_array_add (argv, (gpointer) g_getenv ("NTSCTL"));
  for (; *args; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  return fixture_run (fx, out, (const char *const *) argv->pdata);
}

static void
on_properties_changed (GDBusConnection *connection, const char *sender, const char *path,
                       const char *iface, const char *signal, GVariant *params,
                       gpointer user_data)
{
  FixtureStateWatch *watch = user_data;
  g_autoptr(GVariant) changed = NULL;
  const char *state;

  g_variant_get (params, "(&s@a{sv}@as)", NULL, &changed, NULL);
  if (g_variant_lookup (changed, "State", "&s", &state))
    {
      g_ptr_array_add (watch->states, g_strdup (state));
      if (g_strcmp0 (state, watch->want) == 0)
        watch->seen = TRUE;
    }
}

guint
fixture_watch_state (ServiceFixture *fx, FixtureStateWatch *watch)
{
  return g_dbus_connection_signal_subscribe (fx->client, NTS_DBUS_NAME,
                                             "org.freedesktop.DBus.Properties",
                                             "PropertiesChanged", NTS_DBUS_PATH,
                                             NTS_DBUS_INTERFACE, G_DBUS_SIGNAL_FLAGS_NONE,
                                             on_properties_changed, watch, NULL);
}

GVariant *
fixture_get_property (ServiceFixture *fx, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariant *value;

  reply = g_dbus_connection_call_sync (fx->client, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", NTS_DBUS_INTERFACE, name),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return value;
}
