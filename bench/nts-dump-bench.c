/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How much sooner chronyd selects a source when it starts with the NTS
 * dump nts-dump.c leaves it, against a cold start, in one run against the
 * same loopback NTS server (tests/nts-loopback.h).
 *
 *   nts-dump-bench [ROUNDS]   (default 5; as root)
 *
 * Each round starts two client chronyds, one after the other, in an
 * order that alternates between rounds so that other load on the machine
 * weighs on both alike:
 *   - cold: an empty ntsdumpdir, so chronyd does its own key exchange;
 *   - dump: `chronyd -Q` does a key exchange first (not timed: the probe's
 *     part in Apply), its dump is read and written again by
 *     nts_dump_write() into the client's ntsdumpdir.
 * Timed: from starting chronyd to `chronyc -c sources` showing the server
 * selected ('*'), polled every 20 ms. Both have `iburst`, the server's
 * default polling and `authselectmode require`, as Apply writes them.
 * For the dump clients it also checks that chronyd used the dump (the
 * file is gone and the server counted no key exchange for it).
 *
 * bench/nts-dump is the script that builds and runs it. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nts-dump-fixture.h"
#include "nts-dump.h"
#include "nts-loopback.h"

#define SERVER           "127.0.0.7"
#define SELECT_TIMEOUT_S 30
#define POLL_INTERVAL_US (20 * 1000)

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
          g_array_index (samples, double, samples->len / 2)) /
         2;
}

static gboolean
selected (NtsLoopback *lb, NtsLoopbackClient *client, GError **error)
{
  const char *const args[] = { "-c", "sources", NULL };
  g_autofree char *output = NULL;
  g_autofree char *wanted = g_strdup_printf ("^,*,%s,", SERVER);

  if (!nts_loopback_client_chronyc (lb, client, args, &output, error))
    return FALSE;
  return g_str_has_prefix (output, wanted) || strstr (output, wanted) != NULL;
}

/* Starts a client chronyd and returns the seconds until it selected the
 * server, or a negative number on failure; the client keeps running (a
 * chronyd that stops writes its own dump) until the caller stops it. */
static double
time_to_selection (NtsLoopback *lb, const char *name, const char *dump_dir,
                   NtsLoopbackClient **started, GError **error)
{
  const char *const servers[] = { SERVER, NULL };
  NtsLoopbackClientSpec spec = {
    .name = name,
    .servers = servers,
    .minsources = 1,
    .dump_dir = dump_dir,
  };
  gint64 start = g_get_monotonic_time ();
  gint64 until = start + SELECT_TIMEOUT_S * G_USEC_PER_SEC;
  NtsLoopbackClient *client = nts_loopback_add_client (lb, &spec, error);

  *started = client;
  if (client == NULL)
    return -1;
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;

      if (selected (lb, client, &local_error))
        break;
      if (g_get_monotonic_time () >= until)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no source selected in %d s",
                       name, SELECT_TIMEOUT_S);
          return -1;
        }
      g_usleep (POLL_INTERVAL_US);
    }
  return (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
}

/* A fresh dump for the client of round @round in <bed>/dump-N; its path
 * in *@dump_dir. */
static gboolean
prepare_dump (NtsLoopback *lb, NtsRoot *root, guint support, guint round, char **dump_dir,
              char **dump_file, GError **error)
{
  g_autofree char *q_dir = g_strdup_printf ("%s/q-%u", nts_loopback_get_dir (lb), round);
  g_autofree char *guest = g_strdup_printf ("/dump-%u", round);
  g_autofree char *dir = g_strdup_printf ("%s%s", nts_loopback_get_dir (lb), guest);
  g_autofree char *file_name = nts_dump_file_name (SERVER);
  g_autofree char *q_file = g_build_filename (q_dir, file_name, NULL);
  g_autoptr(NtsDumpParsed) parsed = NULL;
  NtsDumpEntry entry;

  if (g_mkdir (q_dir, 0750) < 0 || g_mkdir (dir, 0750) < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot create %s or %s", q_dir, dir);
      return FALSE;
    }
  if (!nts_dump_fixture_run_chronyd (lb, SERVER, q_dir, error))
    return FALSE;
  parsed = nts_dump_parsed_read (q_file, error);
  if (parsed == NULL)
    return FALSE;
  nts_dump_parsed_to_entry (parsed, SERVER, &entry);
  if (!nts_dump_write (root, support, guest, "root", &entry, error))
    return FALSE;
  *dump_file = g_build_filename (dir, file_name, NULL);
  *dump_dir = g_steal_pointer (&dir);
  return TRUE;
}

static char *
chronyd_version (void)
{
  g_autofree char *chronyd = NULL;
  g_autofree char *output = NULL;
  const char *argv[] = { NULL, "-v", NULL };

  if (!nts_loopback_find_programs (&chronyd, NULL, NULL))
    return NULL;
  argv[0] = chronyd;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &output, NULL,
                     NULL, NULL))
    return NULL;
  return g_steal_pointer (&output);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsLoopback) lb = NULL;
  g_autoptr(NtsRoot) root = NULL;
  g_autoptr(GArray) cold = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) dump = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *version = chronyd_version ();
  guint rounds = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 5;
  guint support;
  double cold_median, dump_median;

  if (rounds == 0)
    {
      g_printerr ("usage: %s [ROUNDS]\n", argv[0]);
      return 2;
    }
  support = version != NULL ? nts_dump_support_from_version (version, &error) : 0;
  if (support == 0)
    {
      g_printerr ("nts-dump-bench: %s\n", error != NULL ? error->message : "no chronyd");
      return 1;
    }
  lb = nts_loopback_new (&error);
  if (lb == NULL || !nts_loopback_add_server (lb, SERVER, NTS_LOOPBACK_SERVER_GOOD, &error))
    {
      g_printerr ("nts-dump-bench: %s\n", error->message);
      return 1;
    }
  root = nts_root_open (nts_loopback_get_dir (lb), &error);
  if (root == NULL)
    {
      g_printerr ("nts-dump-bench: %s\n", error->message);
      return 1;
    }

  printf ("%s", version);
  printf ("round  cold (s)  dump (s)  dump used\n");
  for (guint r = 0; r < rounds; r++)
    {
      g_autofree char *cold_name = g_strdup_printf ("cold-%u", r);
      g_autofree char *dump_name = g_strdup_printf ("dump-%u", r);
      g_autofree char *dump_dir = NULL;
      g_autofree char *dump_file = NULL;
      double t_cold = 0, t_dump = 0;
      gint64 ke_before = 0, ke_after = -1;
      gboolean gone = FALSE, used;

      for (guint which = 0; which < 2 && error == NULL; which++)
        {
          NtsLoopbackClient *client = NULL;

          /* Alternate which goes first. */
          if ((which + r) % 2 == 0)
            t_cold = time_to_selection (lb, cold_name, NULL, &client, &error);
          else if (prepare_dump (lb, root, support, r, &dump_dir, &dump_file, &error) &&
                   (ke_before = nts_dump_fixture_ke_accepted (lb, SERVER, &error)) >= 0 &&
                   (t_dump = time_to_selection (lb, dump_name, dump_dir, &client, &error)) >= 0)
            {
              /* Before it stops and leaves a dump of its own there. */
              gone = !g_file_test (dump_file, G_FILE_TEST_EXISTS);
              ke_after = nts_dump_fixture_ke_accepted (lb, SERVER, &error);
            }
          if (client != NULL)
            nts_loopback_client_stop (client);
        }
      if (error != NULL)
        {
          g_printerr ("nts-dump-bench: round %u: %s\n", r, error->message);
          return 1;
        }
      used = gone && ke_after == ke_before;
      printf ("%5u  %8.2f  %8.2f  %s\n", r + 1, t_cold, t_dump, used ? "yes" : "NO");
      fflush (stdout);
      g_array_append_val (cold, t_cold);
      g_array_append_val (dump, t_dump);
    }

  cold_median = median (cold);
  dump_median = median (dump);
  printf ("median %7.2f  %8.2f  (dump/cold %.2f, %.2f s sooner)\n", cold_median, dump_median,
          dump_median / cold_median, cold_median - dump_median);
  return 0;
}
