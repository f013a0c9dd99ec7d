/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How long Verify takes, side by side with what it replaces, in one run
 * against the same chronyd: the loopback test bed (three NTS servers and a
 * client chronyd, tests/nts-loopback.h) and ntssetupd on a private bus
 * with the polkit and systemd stand-ins (tests/service-fixture.h).
 *
 *   verify-bench [ROUNDS]   set everything up (as root), measure, print
 *   verify-bench --serve    (internal) one Verify per line on stdin, its
 *                           time in microseconds on stdout
 *
 * Medians over ROUNDS (default 200; a quarter of that for processes), the
 * columns interleaved round by round so that other load on the machine
 * weighs on all of them alike:
 *   - Verify through D-Bus from a persistent client, as root and as nobody
 *     (the second is this program under setpriv: polkit judges a caller by
 *     its own uid; the stand-in allows org.ntssetup.manager.verify to all);
 *   - `ntsctl verify --json` as a process;
 *   - the four `chronyc -c` commands Verify replaces, as four processes;
 *   - and, for where the time goes, each part alone: chrony-client's
 *     fetch_report in this process, one CheckAuthorization of the polkit
 *     stand-in, one LoadUnit + GetAll of the systemd stand-in.
 *
 * bench/verify is the script that builds and runs it. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chrony-client.h"
#include "nts-loopback.h"
#include "nts-names.h"
#include "service-fixture.h"

#define CALL_TIMEOUT_MS 60000

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (GArray *samples)
{
  g_array_sort (samples, (GCompareFunc) compare_doubles);
  if (samples->len == 0)
    return 0;
  if (samples->len % 2 == 1)
    return g_array_index (samples, double, samples->len / 2);
  return (g_array_index (samples, double, samples->len / 2 - 1) +
          g_array_index (samples, double, samples->len / 2)) / 2;
}

static GVariant *
verify_once (GDBusConnection *connection, GError **error)
{
  return g_dbus_connection_call_sync (connection, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                      NTS_DBUS_INTERFACE, "Verify",
                                      g_variant_new_parsed ("(@a{sv} {},)"),
                                      G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                      CALL_TIMEOUT_MS, NULL, error);
}

/* --serve: one Verify per line on stdin, its µs on stdout. Run as
 * another user, interleaved with the other measurements. */
static int
serve (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  char line[64];

  if (bus == NULL)
    {
      g_printerr ("verify-bench: %s\n", error->message);
      return 1;
    }
  setvbuf (stdout, NULL, _IOLBF, 0);
  while (fgets (line, sizeof line, stdin) != NULL)
    {
      g_autoptr(GVariant) reply = NULL;
      gint64 start = g_get_monotonic_time ();

      reply = verify_once (bus, &error);
      if (reply == NULL)
        {
          g_printerr ("verify-bench: %s\n", error->message);
          return 1;
        }
      printf ("%" G_GINT64_FORMAT "\n", g_get_monotonic_time () - start);
    }
  return 0;
}

/* µs to run @commands one after the other; each must exit with 0 or
 * @ok_status. */
static double
run_processes (const char *const *const *commands, char **env, int ok_status)
{
  gint64 start = g_get_monotonic_time ();

  for (gsize c = 0; commands[c] != NULL; c++)
    {
      g_autoptr(GError) error = NULL;
      int status;

      if (!g_spawn_sync (NULL, (char **) commands[c], env,
                         G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                         NULL, NULL, NULL, NULL, &status, &error))
        g_error ("%s: %s", commands[c][0], error->message);
      if (!WIFEXITED (status) ||
          (WEXITSTATUS (status) != 0 && WEXITSTATUS (status) != ok_status))
        g_error ("%s %s failed (status %d)", commands[c][0], commands[c][1], status);
    }
  return (double) (g_get_monotonic_time () - start);
}

static double
time_fetch (const char *socket_path, guint rounds)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsChronyClient) client = nts_chrony_client_new (socket_path, &error);
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));

  g_assert_no_error (error);
  for (guint i = 0; i < rounds; i++)
    {
      g_autoptr(NtsChronyReport) report = NULL;
      gint64 start = g_get_monotonic_time ();
      double us;

      report = nts_chrony_client_fetch_report (client, NULL, &error);
      g_assert_no_error (error);
      us = (double) (g_get_monotonic_time () - start);
      g_array_append_val (samples, us);
    }
  return median (samples);
}

/* What the stand-ins cost by themselves (they are Python: real polkitd and
 * systemd answer faster): one CheckAuthorization as ntssetupd makes it,
 * and LoadUnit + GetAll as systemd-client asks for one unit. */
static double
time_polkit (GDBusConnection *bus, guint rounds)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  const char *self = g_dbus_connection_get_unique_name (bus);

  for (guint i = 0; i < rounds; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;
      gint64 start = g_get_monotonic_time ();
      double us;

      reply = g_dbus_connection_call_sync (
          bus, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
          "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
          g_variant_new_parsed ("(('system-bus-name', {'name': <%s>}), "
                                "'" NTS_ACTION_VERIFY "', @a{ss} {}, uint32 0, '')", self),
          NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &error);
      g_assert_no_error (error);
      us = (double) (g_get_monotonic_time () - start);
      g_array_append_val (samples, us);
    }
  return median (samples);
}

static double
time_systemd_unit (GDBusConnection *bus, guint rounds)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));

  for (guint i = 0; i < rounds; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) path = NULL, props = NULL;
      const char *object;
      gint64 start = g_get_monotonic_time ();
      double us;

      path = g_dbus_connection_call_sync (bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                          "org.freedesktop.systemd1.Manager", "LoadUnit",
                                          g_variant_new ("(s)", "chrony.service"), G_VARIANT_TYPE ("(o)"),
                                          G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &error);
      g_assert_no_error (error);
      g_variant_get (path, "(&o)", &object);
      props = g_dbus_connection_call_sync (bus, "org.freedesktop.systemd1", object,
                                           "org.freedesktop.DBus.Properties", "GetAll",
                                           g_variant_new ("(s)", "org.freedesktop.systemd1.Unit"),
                                           NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &error);
      g_assert_no_error (error);
      us = (double) (g_get_monotonic_time () - start);
      g_array_append_val (samples, us);
    }
  return median (samples);
}

/* This program again, as another user, in --serve mode. */
typedef struct {
  GSubprocess      *process;
  GOutputStream    *in;
  GDataInputStream *out;
} Helper;

static gboolean
helper_start (Helper *helper, const char *user, const char *group, ServiceFixture *fx)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *reuid = g_strdup_printf ("--reuid=%s", user);
  g_autofree char *regid = g_strdup_printf ("--regid=%s", group);
  const char *argv[] = { "setpriv", reuid, regid, "--clear-groups", "--", self, "--serve", NULL };
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_auto(GStrv) env = fixture_environ (fx);
  g_autoptr(GError) error = NULL;

  g_subprocess_launcher_set_environ (launcher, env);
  g_subprocess_launcher_set_cwd (launcher, "/");
  helper->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (helper->process == NULL)
    {
      g_printerr ("# as %s: %s\n", user, error->message);
      return FALSE;
    }
  helper->in = g_subprocess_get_stdin_pipe (helper->process);
  helper->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (helper->process));
  return TRUE;
}

/* One Verify by the helper: its µs, or -1. */
static double
helper_verify (Helper *helper)
{
  g_autofree char *line = NULL;

  if (helper->process == NULL ||
      !g_output_stream_write_all (helper->in, "v\n", 2, NULL, NULL, NULL))
    return -1;
  line = g_data_input_stream_read_line (helper->out, NULL, NULL, NULL);
  return line != NULL ? g_ascii_strtod (line, NULL) : -1;
}

static void
helper_stop (Helper *helper)
{
  if (helper->process == NULL)
    return;
  g_output_stream_close (helper->in, NULL, NULL);
  g_subprocess_wait (helper->process, NULL, NULL);
  g_clear_object (&helper->out);
  g_clear_object (&helper->process);
}

static const char *
find_group (void)
{
  /* Debian calls nobody's group nogroup; others call it nobody. */
  const char *candidates[] = { "nogroup", "nobody" };
  for (gsize i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autofree char *line = NULL;
      const char *argv[] = { "getent", "group", candidates[i], NULL };
      int status;

      if (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                        NULL, NULL, &line, NULL, &status, NULL) && g_spawn_check_wait_status (status, NULL))
        return candidates[i];
    }
  return "nogroup";
}

static void
write_root_file (ServiceFixture *fx, const char *path, const char *content, int mode)
{
  g_autofree char *full = g_build_filename (fx->root, path, NULL);
  g_autofree char *dir = g_path_get_dirname (full);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (full, content, -1, NULL));
  g_assert_cmpint (g_chmod (full, mode), ==, 0);
}

static void
row (const char *what, double us, double reference)
{
  if (us < 0)
    printf ("  %-44s %10s\n", what, "n/a");
  else
    printf ("  %-44s %8.0f us   %5.2fx\n", what, us, us / reference);
}

int
main (int argc, char **argv)
{
  ServiceFixture fx;
  const ServiceOptions options = {
    .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\"]}",
    .systemd_params = "{\"units\": {"
                      "\"chrony.service\": {\"ActiveState\": \"active\", \"UnitFileState\": \"enabled\"},"
                      "\"systemd-timesyncd.service\": {\"ActiveState\": \"inactive\", \"UnitFileState\": \"disabled\"}}}",
  };
  const char *servers[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4" };
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsLoopback) lb = NULL;
  g_autoptr(GVariant) settled = NULL;
  g_autofree char *host_socket = NULL, *host_config = NULL, *why_not = NULL;
  g_autofree char *chronyc = NULL;
  g_auto(GStrv) env = NULL;
  NtsLoopbackClient *client;
  guint rounds = 200;
  double verify_root, verify_nobody, ntsctl_us, chronyc_us, fetch_us, polkit_us, unit_us;
  guint process_rounds;
  gboolean ok = FALSE;

  if (argc == 2 && g_str_equal (argv[1], "--serve"))
    return serve ();
  if (argc == 2)
    rounds = MAX (10u, (guint) g_ascii_strtoull (argv[1], NULL, 10));

  if (!nts_loopback_find_programs (NULL, &chronyc, &why_not))
    {
      g_printerr ("verify-bench: %s\n", why_not);
      return 77;
    }
  if (g_getenv ("NTSSETUPD") == NULL || g_getenv ("NTSCTL") == NULL ||
      g_getenv ("G_TEST_SRCDIR") == NULL || g_getenv ("G_TEST_BUILDDIR") == NULL)
    {
      g_printerr ("verify-bench: run it through bench/verify (it sets NTSSETUPD, NTSCTL, "
                  "G_TEST_SRCDIR, G_TEST_BUILDDIR)\n");
      return 2;
    }

  /* The service and a root pointing it at the client chronyd. */
  service_fixture_setup (&fx, &options);
  write_root_file (&fx, "/usr/sbin/chronyd", "", 0755);
  write_root_file (&fx, "/etc/ntssetup/layout.conf",
                   "[chrony]\nprofile=debian\nconfig-file=/etc/chrony/bench.conf\n"
                   "socket-path=/run/c-bench/chronyd.sock\nuser=root\nunit=chrony.service\n", 0644);
  service_fixture_start_daemon (&fx);

  lb = nts_loopback_new (&error);
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      nts_loopback_add_server (lb, servers[i], NTS_LOOPBACK_SERVER_GOOD, &error);
      g_assert_no_error (error);
    }
  host_socket = g_build_filename (fx.root, "run/c-bench/chronyd.sock", NULL);
  host_config = g_build_filename (fx.root, "etc/chrony/bench.conf", NULL);
  {
    NtsLoopbackClientSpec spec = {
      .name = "bench", .minsources = 3, .socket_path = host_socket, .config_path = host_config,
    };
    client = nts_loopback_add_client (lb, &spec, &error);
    g_assert_no_error (error);
    g_assert_nonnull (client);
  }

  /* Measure what a working machine shows: NTS up. */
  {
    g_autoptr(GVariant) reply = NULL;

    reply = g_dbus_connection_call_sync (fx.client, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                         NTS_DBUS_INTERFACE, "Verify",
                                         g_variant_new_parsed ("({'wait': <uint32 40>},)"),
                                         G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                         CALL_TIMEOUT_MS, NULL, &error);
    g_assert_no_error (error);
    g_variant_get (reply, "(@a{sv})", &settled);
    g_variant_lookup (settled, "ok", "b", &ok);
    if (!ok)
      g_printerr ("# NTS did not come up; measuring anyway\n");
  }

  env = fixture_environ (&fx);
  {
    const char *ntsctl_argv[] = { g_getenv ("NTSCTL"), "verify", "--json", "--no-ask-password", NULL };
    const char *const *ntsctl_cmd[] = { ntsctl_argv, NULL };
    const char *c1[] = { chronyc, "-h", host_socket, "-c", "-N", "authdata", NULL };
    const char *c2[] = { chronyc, "-h", host_socket, "-c", "sources", NULL };
    const char *c3[] = { chronyc, "-h", host_socket, "-c", "tracking", NULL };
    const char *c4[] = { chronyc, "-h", host_socket, "-c", "-N", "ntpdata", NULL };
    const char *const *chronyc_cmds[] = { c1, c2, c3, c4, NULL };

    g_autoptr(GArray) t_root = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr(GArray) t_nobody = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr(GArray) t_ntsctl = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr(GArray) t_chronyc = g_array_new (FALSE, FALSE, sizeof (double));
    Helper helper = { 0 };
    gboolean have_helper = helper_start (&helper, "nobody", find_group (), &fx);

    /* Interleaved, so that whatever else the machine does weighs on
     * every column alike; a few rounds first to warm caches. */
    for (guint i = 0; i < rounds + 4; i++)
      {
        double root_us, nobody_us;
        g_autoptr(GError) call_error = NULL;
        g_autoptr(GVariant) reply = NULL;
        gint64 start = g_get_monotonic_time ();

        reply = verify_once (fx.client, &call_error);
        g_assert_no_error (call_error);
        root_us = (double) (g_get_monotonic_time () - start);
        nobody_us = have_helper ? helper_verify (&helper) : -1;
        if (i < 4)
          continue;
        g_array_append_val (t_root, root_us);
        if (nobody_us >= 0)
          g_array_append_val (t_nobody, nobody_us);
        if (i % 4 == 0)
          {
            double us = run_processes (ntsctl_cmd, env, ok ? 0 : 3);

            g_array_append_val (t_ntsctl, us);
            us = run_processes (chronyc_cmds, NULL, 0);
            g_array_append_val (t_chronyc, us);
          }
      }
    helper_stop (&helper);

    verify_root = median (t_root);
    verify_nobody = t_nobody->len > 0 ? median (t_nobody) : -1;
    ntsctl_us = median (t_ntsctl);
    chronyc_us = median (t_chronyc);
    process_rounds = t_chronyc->len;
    fetch_us = time_fetch (host_socket, rounds);
    polkit_us = time_polkit (fx.client, rounds);
    unit_us = time_systemd_unit (fx.client, rounds);
  }

  printf ("Verify benchmark: %u rounds (%u for processes), one chronyd with 3 NTS sources, "
          "NTS %s\n", rounds, process_rounds, ok ? "up" : "NOT up");
  printf ("  %-44s %11s   %s\n", "median wall time", "", "vs 4 x chronyc");
  row ("Verify over D-Bus, persistent client, root", verify_root, chronyc_us);
  row ("Verify over D-Bus, persistent client, nobody", verify_nobody, chronyc_us);
  row ("ntsctl verify --json (a process)", ntsctl_us, chronyc_us);
  row ("chronyc -c authdata+sources+tracking+ntpdata", chronyc_us, chronyc_us);
  printf ("  where Verify's time goes (each part alone):\n");
  row ("  chrony-client fetch_report, in process", fetch_us, chronyc_us);
  row ("  polkit stand-in: CheckAuthorization", polkit_us, chronyc_us);
  row ("  systemd stand-in: LoadUnit + GetAll, 1 unit", unit_us, chronyc_us);
  printf ("Targets: persistent Verify <= 0.30x: %s; ntsctl verify < 1x: %s\n",
          verify_root <= 0.3 * chronyc_us && verify_nobody >= 0 && verify_nobody <= 0.3 * chronyc_us
            ? "met" : "NOT met",
          ntsctl_us < chronyc_us ? "met" : "NOT met");

  g_clear_pointer (&lb, nts_loopback_free);
  service_fixture_teardown (&fx);
  return 0;
}
