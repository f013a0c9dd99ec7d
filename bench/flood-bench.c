/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What one unprivileged user can cost everyone else: a flood of
 * PreviewConfig and Verify calls as nobody, against ntssetupd on a private
 * bus with the polkit (verify allowed to all) and systemd stand-ins
 * (tests/service-fixture.h), while
 *   - a second user (daemon) calls Verify once every 100 ms and times it,
 *     before the flood (the yardstick) and during it;
 *   - the daemon's resident memory is sampled every 50 ms;
 *   - the root's chronyd (a stand-in that answers -h like Debian's, taking
 *     200 ms so that overlapping runs would show) logs every start and
 *     end, and os-release is touched every 250 ms, so the layout cache
 *     has to resolve again and again while calls pile up.
 *
 *   flood-bench [SECONDS] [CONNECTIONS] [DEPTH] [TOUCH_MS]
 *                                                 (default 10 10 110 250; TOUCH_MS
 *                                                 0: os-release never touched)
 *   flood-bench --flood SECONDS CONNECTIONS DEPTH (internal, as nobody)
 *   flood-bench --probe                           (internal, as daemon)
 *
 * The flood keeps DEPTH calls in flight on each of CONNECTIONS
 * connections (dbus-daemon lets one connection wait for at most 128
 * replies), re-issuing each as it is answered: CONNECTIONS x DEPTH
 * concurrent calls for SECONDS. bench/flood builds and runs it. */
#include <glib/gstdio.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flood-client.h"
#include "nts-names.h"
#include "service-fixture.h"

#define CALL_TIMEOUT_MS 60000
#define PROBE_INTERVAL_MS 100

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
percentile (GArray *samples, double p)
{
  guint i;

  if (samples->len == 0)
    return -1;
  g_array_sort (samples, (GCompareFunc) compare_doubles);
  i = (guint) (p * (samples->len - 1) + 0.5);
  return g_array_index (samples, double, i);
}

/* ---- --probe: as the second user --------------------------------------- */

static int
probe_main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  char line[64];

  if (bus == NULL)
    {
      g_printerr ("probe: %s\n", error->message);
      return 1;
    }
  setvbuf (stdout, NULL, _IOLBF, 0);
  while (fgets (line, sizeof line, stdin) != NULL)
    {
      g_autoptr(GVariant) reply = NULL;
      gint64 start = g_get_monotonic_time ();

      g_clear_error (&error);
      reply = g_dbus_connection_call_sync (bus, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                           NTS_DBUS_INTERFACE, "Verify",
                                           g_variant_new_parsed ("(@a{sv} {},)"),
                                           G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                           CALL_TIMEOUT_MS, NULL, &error);
      /* A refused call is a failed probe: -1. */
      printf ("%" G_GINT64_FORMAT "\n", reply != NULL ? g_get_monotonic_time () - start : -1);
    }
  return 0;
}

/* ---- the bench ---------------------------------------------------------- */

typedef struct {
  GSubprocess      *process;
  GOutputStream    *in;
  GDataInputStream *out;
} Child;

static const char *
group_of_nobody (void)
{
  /* Debian calls nobody's group nogroup; others call it nobody. */
  return getgrnam ("nogroup") != NULL ? "nogroup" : "nobody";
}

static GSubprocess *
spawn_as (ServiceFixture *fx, const char *user, const char *group, GSubprocessFlags flags,
          const char *const *args)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *reuid = g_strdup_printf ("--reuid=%s", user);
  g_autofree char *regid = g_strdup_printf ("--regid=%s", group);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_auto(GStrv) env = fixture_environ (fx);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  for (const char *const *a = (const char *const[]) { "setpriv", reuid, regid, "--clear-groups",
                                                       "--", self, NULL }; *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  for (; *args != NULL; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_environ (launcher, env);
  g_subprocess_launcher_set_cwd (launcher, "/");
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  if (process == NULL)
    g_error ("as %s: %s", user, error->message);
  return process;
}

static double
probe_once (Child *probe)
{
  g_autofree char *line = NULL;

  if (!g_output_stream_write_all (probe->in, "v\n", 2, NULL, NULL, NULL))
    return -1;
  line = g_data_input_stream_read_line (probe->out, NULL, NULL, NULL);
  return line != NULL ? g_ascii_strtod (line, NULL) : -1;
}

static guint64
rss_kib (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "VmRSS:")) == NULL)
    return 0;
  return g_ascii_strtoull (line + 6, NULL, 10);
}

typedef struct {
  GPid     pid;
  guint64  peak;
  char    *os_release;
} Sampler;

static gboolean
on_sample (gpointer user_data)
{
  Sampler *sampler = user_data;

  sampler->peak = MAX (sampler->peak, rss_kib (sampler->pid));
  return G_SOURCE_CONTINUE;
}

static gboolean
on_touch (gpointer user_data)
{
  Sampler *sampler = user_data;

  /* A change the layout cache must notice: it resolves again. */
  g_assert_true (g_file_set_contents (sampler->os_release,
                                      "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n",
                                      -1, NULL));
  return G_SOURCE_CONTINUE;
}

/* Probes every PROBE_INTERVAL_MS until @until (or @count probes). */
static void
run_probes (Child *probe, GArray *samples, guint *failed, gint64 until, guint count)
{
  for (guint i = 0; (count == 0 || i < count) && (until == 0 || g_get_monotonic_time () < until); i++)
    {
      double us = probe_once (probe);

      if (us < 0)
        (*failed)++;
      else
        g_array_append_val (samples, us);
      /* Keep the main context (the samplers) turning between probes. */
      {
        gint64 next = g_get_monotonic_time () + PROBE_INTERVAL_MS * 1000;
        while (g_get_monotonic_time () < next)
          g_main_context_iteration (NULL, FALSE) || (g_usleep (5000), TRUE);
      }
    }
}

/* The stand-in chronyd's log: runs started, and the most at once. */
static void
count_chronyd_runs (const char *log, guint *runs, guint *most)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint now = 0;

  *runs = *most = 0;
  if (!g_file_get_contents (log, &text, NULL, NULL))
    return;
  lines = g_strsplit (text, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "start"))
        {
          (*runs)++;
          now++;
          *most = MAX (*most, now);
        }
      else if (g_str_has_prefix (lines[i], "end") && now > 0)
        now--;
    }
}

int
main (int argc, char **argv)
{
  const ServiceOptions options = {
    .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\"]}",
    .systemd_params = "{\"units\": {"
                      "\"chrony.service\": {\"ActiveState\": \"active\", \"UnitFileState\": \"enabled\"},"
                      "\"systemd-timesyncd.service\": {\"ActiveState\": \"inactive\", \"UnitFileState\": \"disabled\"}}}",
  };
  ServiceFixture fx;
  guint seconds = 10, connections = 10, depth = 110;
  g_autofree char *log = NULL, *stub = NULL;
  g_autoptr(GArray) idle = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) flooded = g_array_new (FALSE, FALSE, sizeof (double));
  guint idle_failed = 0, flooded_failed = 0, runs = 0, most = 0;
  guint64 rss_before, rss_after;
  Sampler sampler = { 0 };
  Child probe = { 0 };
  GSubprocess *flood;
  g_autoptr(GBytes) flood_out = NULL;
  guint sent = 0, ok = 0, limited = 0, other = 0;
  guint sample_id, touch_id;
  guint touch_ms = 250;

  /* As nobody: tests/flood-client.h. */
  if (argc == 5 && g_str_equal (argv[1], "--flood"))
    return flood_client_main (g_getenv ("DBUS_SYSTEM_BUS_ADDRESS"), atoi (argv[2]) * 1000,
                              atoi (argv[3]), atoi (argv[4]));
  if (argc == 2 && g_str_equal (argv[1], "--probe"))
    return probe_main ();
  if (argc > 1)
    seconds = MAX (1, atoi (argv[1]));
  if (argc > 2)
    connections = MAX (1, atoi (argv[2]));
  if (argc > 3)
    depth = CLAMP (atoi (argv[3]), 1, 120);
  if (argc > 4)
    touch_ms = atoi (argv[4]);
  if (g_getenv ("NTSSETUPD") == NULL || g_getenv ("G_TEST_SRCDIR") == NULL)
    {
      g_printerr ("flood-bench: run it through bench/flood\n");
      return 2;
    }

  service_fixture_setup (&fx, &options);
  log = g_build_filename (fx.tmpdir, "chronyd-h.log", NULL);
  stub = g_strdup_printf ("#!/bin/sh\n"
                          "echo start >>'%s'\n"
                          "sleep 0.2\n"
                          "echo 'Usage: /usr/sbin/chronyd [OPTION]... [DIRECTIVE]...'\n"
                          "printf '  -f FILE\\tSpecify configuration file (/etc/chrony/chrony.conf)\\n'\n"
                          "printf '  -u USER\\tSpecify user (_chrony)\\n'\n"
                          "echo end >>'%s'\n", log, log);
  fixture_write_root_file (&fx, "/usr/sbin/chronyd", stub, 0755);
  service_fixture_start_daemon (&fx);
  sampler.pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (fx.daemon), NULL, 10);
  sampler.os_release = g_build_filename (fx.root, "etc/os-release", NULL);

  probe.process = spawn_as (&fx, "daemon", "daemon",
                            G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                            (const char *const[]) { "--probe", NULL });
  probe.in = g_subprocess_get_stdin_pipe (probe.process);
  probe.out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (probe.process));

  /* The yardstick: the second user's Verify on a quiet daemon. */
  run_probes (&probe, idle, &idle_failed, 0, 4);   /* warm-up */
  g_array_set_size (idle, 0);
  run_probes (&probe, idle, &idle_failed, 0, 50);
  rss_before = rss_kib (sampler.pid);
  g_unlink (log);

  sampler.peak = rss_before;
  sample_id = g_timeout_add (50, on_sample, &sampler);
  touch_id = touch_ms > 0 ? g_timeout_add (touch_ms, on_touch, &sampler) : 0;
  {
    g_autofree char *s = g_strdup_printf ("%u", seconds);
    g_autofree char *c = g_strdup_printf ("%u", connections);
    g_autofree char *d = g_strdup_printf ("%u", depth);

    flood = spawn_as (&fx, "nobody", group_of_nobody (), G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                      (const char *const[]) { "--flood", s, c, d, NULL });
  }
  /* Let the flood build up before probing. */
  run_probes (&probe, flooded, &flooded_failed, g_get_monotonic_time () + 500 * 1000, 0);
  g_array_set_size (flooded, 0);
  flooded_failed = 0;
  run_probes (&probe, flooded, &flooded_failed,
              g_get_monotonic_time () + (gint64) (seconds - 1) * G_USEC_PER_SEC, 0);
  g_subprocess_communicate (flood, NULL, NULL, &flood_out, NULL, NULL);
  if (touch_id != 0)
    g_source_remove (touch_id);
  g_source_remove (sample_id);
  if (flood_out != NULL)
    sscanf (g_bytes_get_data (flood_out, NULL), "%u %u %u %u", &sent, &ok, &limited, &other);
  rss_after = rss_kib (sampler.pid);
  count_chronyd_runs (log, &runs, &most);

  g_output_stream_close (probe.in, NULL, NULL);
  g_subprocess_wait (probe.process, NULL, NULL);
  g_clear_object (&probe.out);
  g_clear_object (&probe.process);
  g_clear_object (&flood);

  printf ("flood: %u s, nobody keeping %u x %u = %u PreviewConfig + Verify calls in flight\n",
          seconds, connections, depth, connections * depth);
  printf ("  calls sent %u: answered %u, LimitsExceeded %u, other errors %u\n",
          sent, ok, limited, other);
  if (touch_ms > 0)
    printf ("  chronyd -h (a stand-in taking 200 ms): %u runs (os-release touched every %u ms), "
            "at most %u at once\n", runs, touch_ms, most);
  else
    printf ("  chronyd -h: %u runs (nothing changed), at most %u at once\n", runs, most);
  printf ("  ntssetupd RSS: %" G_GUINT64_FORMAT " KiB before, %" G_GUINT64_FORMAT
          " KiB peak, %" G_GUINT64_FORMAT " KiB after\n", rss_before, sampler.peak, rss_after);
  printf ("second user's Verify (daemon), every %u ms:\n", PROBE_INTERVAL_MS);
  printf ("  %-22s %6s %10s %10s %10s %7s\n", "", "calls", "median", "p95", "max", "refused");
  printf ("  %-22s %6u %8.1f ms %8.1f ms %8.1f ms %7u\n", "quiet (yardstick)", idle->len,
          percentile (idle, 0.5) / 1000, percentile (idle, 0.95) / 1000,
          percentile (idle, 1.0) / 1000, idle_failed);
  printf ("  %-22s %6u %8.1f ms %8.1f ms %8.1f ms %7u\n", "during the flood", flooded->len,
          percentile (flooded, 0.5) / 1000, percentile (flooded, 0.95) / 1000,
          percentile (flooded, 1.0) / 1000, flooded_failed);

  service_fixture_teardown (&fx);
  return most <= 1 && flooded_failed == 0 && percentile (flooded, 1.0) < G_USEC_PER_SEC ? 0 : 1;
}
