/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Preflight against real NTS servers on loopback (tests/nts-loopback):
 * three good ones, one with a certificate from a CA we don't trust, one
 * where nothing listens, one whose key exchange works but whose NTP never
 * answers. The preflight runs ntssetup-probe itself ($NTSSETUP_PROBE, the
 * built one) on a socketpair, as the daemon does under --root: the same
 * program and exchange as through systemd's socket.
 *
 * Stand-in probes (small shell scripts) play a probe that hangs, answers
 * garbage or dies without answering: what the real one must never do,
 * and what the daemon must survive. */
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nts-errors.h"
#include "nts-loopback.h"
#include "preflight.h"
#include "probe-client.h"
#include "temp-tree.h"

/* Longest a test waits for an answer: the deadline and margin of the
 * longest preflight here, and then some. */
#define WAIT_MS 30000

#define GOOD1     "127.0.0.2"
#define GOOD2     "127.0.0.3"
#define GOOD3     "127.0.0.4"
#define UNTRUSTED "127.0.0.5"
#define KE_CLOSED "127.0.0.6"
#define SILENT    "127.0.0.7"
#define EXPIRED1  "127.0.0.8"
#define EXPIRED2  "127.0.0.9"

static NtsLoopback *lb;
static char *ca_path;
/* $NTSSETUP_PROBE is set once, before any thread (setenv() is not
 * thread-safe), to a script that runs the probe this file names: the
 * built one, or a stand-in. */
static char *probe_choice;
static char *real_probe;
static char *root_dir; /* a --root without a CA bundle of its own */
static NtsRoot *root;

/* The test bed picks free ports; its server configs say which. */
static guint16
server_nts_port (const char *address)
{
  g_autofree char *path = g_strdup_printf ("%s/s-%s.conf", nts_loopback_get_dir (lb), address);
  g_autofree char *conf = NULL;
  const char *line;

  if (!g_file_get_contents (path, &conf, NULL, NULL))
    return 0;  /* KE_CLOSED has none: 4460, where nothing listens either */
  line = strstr (conf, "\nntsport ");
  g_assert_nonnull (line);
  return (guint16) g_ascii_strtoull (line + strlen ("\nntsport "), NULL, 10);
}

static void
on_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (res);
}

typedef struct {
  guint min_sources;
  guint timeout_ms;
  const char *trusted_certs;
  NtsRoot *root;
  double took; /* out: seconds */
} Run;

static gboolean
run_preflight (const char *const *names, Run *run, GPtrArray **results, GError **error)
{
  guint n = g_strv_length ((char **) names);
  g_autofree guint16 *ports = g_new0 (guint16, n);
  NtsPreflightOptions options = {
    .root = run->root != NULL ? run->root : root,
    .timeout_ms = run->timeout_ms,
    .min_sources = run->min_sources,
    .trusted_certs = run->trusted_certs,
    .nts_ports = ports,
  };
  g_autoptr(GAsyncResult) res = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + WAIT_MS * G_TIME_SPAN_MILLISECOND;
  gboolean ok;

  for (guint i = 0; i < n; i++)
    ports[i] = lb != NULL ? server_nts_port (names[i]) : 0;
  nts_preflight_async (names, &options, NULL, on_done, &res);
  while (res == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (res);
  run->took = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  ok = nts_preflight_finish (res, results, error);
  if (results != NULL && *results != NULL)
    for (guint i = 0; i < (*results)->len; i++)
      {
        NtsProbeResult *r = (*results)->pdata[i];
        g_test_message ("%s: %s: %s", r->server, nts_probe_phase_to_string (r->phase),
                        r->message);
      }
  g_test_message ("preflight took %.3f s", run->took);
  return ok;
}

static gboolean
skip_without_servers (void)
{
  if (lb != NULL)
    return FALSE;
  g_test_skip ("no chronyd for the loopback servers");
  return TRUE;
}

static const NtsProbeResult *
result (GPtrArray *results, guint i)
{
  g_assert_cmpuint (i, <, results->len);
  return results->pdata[i];
}

/* Every kind of server, one preflight: each the phase it fails in. */
static const char *const mixed[] = { GOOD1, GOOD2, UNTRUSTED, KE_CLOSED, SILENT, NULL };

static void
check_mixed (GPtrArray *results)
{
  const NtsProbeResult *r;

  g_assert_cmpuint (results->len, ==, 5);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpstr (result (results, i)->server, ==, mixed[i]);

  r = result (results, 0);
  g_assert_cmpint (r->phase, ==, NTS_PROBE_OK);
  g_assert_cmpstr (r->address, ==, GOOD1);
  g_assert_cmpfloat (ABS (r->offset), <, 1.0);
  g_assert_cmpint (result (results, 1)->phase, ==, NTS_PROBE_OK);

  r = result (results, 2);
  g_assert_cmpint (r->phase, ==, NTS_PROBE_CERTIFICATE);
  g_assert_true (r->cert_problems & NTS_PROBE_CERT_UNKNOWN_ISSUER);

  g_assert_cmpint (result (results, 3)->phase, ==, NTS_PROBE_TCP);
  g_assert_cmpint (result (results, 4)->phase, ==, NTS_PROBE_NTP_TIMEOUT);
  /* Secrets were not asked for. */
  for (guint i = 0; i < 5; i++)
    g_assert_false (result (results, i)->has_secrets);
}

static void
test_verdicts (void)
{
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { .min_sources = 2, .timeout_ms = 1000, .trusted_certs = ca_path };

  if (skip_without_servers ())
    return;
  g_assert_true (run_preflight (mixed, &run, &results, &error));
  g_assert_no_error (error);
  check_mixed (results);
  /* One deadline for all: the silent server's NTP wait is the whole of it,
   * never one after another. */
  g_assert_cmpfloat (run.took, <, (1000 + NTS_PROBE_MARGIN_MS) / 1000.0);
}

static void
test_min_sources (void)
{
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { .min_sources = 3, .timeout_ms = 1000, .trusted_certs = ca_path };

  if (skip_without_servers ())
    return;
  g_assert_false (run_preflight (mixed, &run, &results, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "2 of 5 servers passed the NTS preflight, "
                                                   "3 needed:\n"));
  /* Each failing server on a line of its own, with what the probe said. */
  for (guint i = 2; i < 5; i++)
    {
      g_autofree char *line = g_strdup_printf ("\n%s: %s", mixed[i],
                                               result (results, i)->message);
      g_assert_nonnull (strstr (error->message, line));
    }
  g_assert_null (strstr (error->message, GOOD1 ":"));
  /* The results come along, for the result lines. */
  check_mixed (results);
}

/* Every server out of its certificate's dates (as on a machine booting in
 * 1970): the message blames the clock and names the way out; one good
 * server among them, and it is the expired one's fault alone. */
static void
test_clock_far_off (void)
{
  const char *all_expired[] = { EXPIRED1, EXPIRED2, NULL };
  const char *one_expired[] = { GOOD1, EXPIRED1, NULL };
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { .min_sources = 2, .timeout_ms = 1000, .trusted_certs = ca_path };

  if (skip_without_servers ())
    return;
  g_assert_false (run_preflight (all_expired, &run, &results, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
  g_test_message ("%s", error->message);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpint (result (results, i)->phase, ==, NTS_PROBE_CERTIFICATE);
      g_assert_true (result (results, i)->clock_suspect);
    }
  g_assert_nonnull (strstr (error->message, "clock"));
  g_assert_nonnull (strstr (error->message, "probably far off"));
  g_assert_nonnull (strstr (error->message, "--allow-clock-far-off"));

  g_clear_pointer (&results, g_ptr_array_unref);
  g_clear_error (&error);
  g_assert_false (run_preflight (one_expired, &run, &results, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
  g_assert_nonnull (strstr (error->message, EXPIRED1 ": "));
  g_assert_null (strstr (error->message, "probably far off"));
}

/* One address given twice is one source. */
static void
test_same_address (void)
{
  const char *twice[] = { GOOD1, GOOD2, GOOD1, NULL };
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { .min_sources = 3, .trusted_certs = ca_path };

  if (skip_without_servers ())
    return;
  g_assert_false (run_preflight (twice, &run, &results, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "2 of 3 servers passed"));
  g_assert_nonnull (strstr (error->message, "\n" GOOD1 ": the same address (" GOOD1 ") as " GOOD1
                                            ": one source, counted once"));
  g_assert_cmpint (result (results, 2)->phase, ==, NTS_PROBE_OK);
  g_clear_pointer (&results, g_ptr_array_unref);
  g_clear_error (&error);

  run.min_sources = 2;
  g_assert_true (run_preflight (twice, &run, &results, &error));
  g_assert_no_error (error);
}

/* Three good servers: the probe does them at once, in a fraction of a
 * second (the figure goes in bench/; this only bounds it). */
static void
test_fast (void)
{
  const char *good[] = { GOOD1, GOOD2, GOOD3, NULL };
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { .min_sources = 3, .trusted_certs = ca_path };

  if (skip_without_servers ())
    return;
  g_assert_true (run_preflight (good, &run, &results, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (result (results, i)->phase, ==, NTS_PROBE_OK);
  g_assert_cmpfloat (run.took, <, 5.0);
}

/* Without a CA handed in, under a --root: the root's own bundle when it
 * has one, else the system's CAs, which know nothing of the test CA. */
static void
test_ca_of_root (void)
{
  const char *good[] = { GOOD1, NULL };
  g_autofree char *dir = temp_tree_new ();
  g_autofree char *ca = NULL;
  g_autoptr(NtsRoot) with_bundle = NULL;
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { .min_sources = 1 };

  if (skip_without_servers ())
    return;
  g_assert_false (run_preflight (good, &run, &results, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
  g_assert_cmpint (result (results, 0)->phase, ==, NTS_PROBE_CERTIFICATE);
  g_clear_pointer (&results, g_ptr_array_unref);
  g_clear_error (&error);

  g_assert_true (g_file_get_contents (ca_path, &ca, NULL, NULL));
  temp_tree_write (dir, "/etc/ssl/certs/ca-certificates.crt", ca, 0644);
  with_bundle = nts_root_open (dir, &error);
  g_assert_no_error (error);
  run.root = with_bundle;
  g_assert_true (run_preflight (good, &run, &results, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result (results, 0)->phase, ==, NTS_PROBE_OK);
  temp_tree_remove (dir);
}

/* The CA file named cannot be read: no probe runs, no results. */
static void
test_bad_ca_file (void)
{
  const char *names[] = { GOOD1, NULL };
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { .min_sources = 1, .trusted_certs = "/nonexistent/ca.crt" };

  g_assert_false (run_preflight (names, &run, &results, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, "the certificates to trust"));
  g_assert_null (results);
}

/* A stand-in probe: a shell script doing @body, as $NTSSETUP_PROBE. */
static char *
stand_in_probe (const char *dir, const char *name, const char *body)
{
  g_autofree char *text = g_strdup_printf ("#!/bin/sh\n%s\n", body);
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_no_errno (chmod (path, 0755));
  return g_steal_pointer (&path);
}

static void
use_probe (const char *path)
{
  g_assert_true (g_file_set_contents (probe_choice, path, -1, NULL));
}

static void
check_broken_probe (const char *probe, guint timeout_ms, GQuark domain, int code,
                    const char *reason)
{
  const char *names[] = { GOOD1, NULL };
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  Run run = { .min_sources = 1, .timeout_ms = timeout_ms };

  use_probe (probe);
  g_assert_false (run_preflight (names, &run, &results, &error));
  use_probe (real_probe);
  g_test_message ("%s", error->message);
  g_assert_error (error, domain, code);
  g_assert_nonnull (strstr (error->message, reason));
  g_assert_null (results);
  /* Bounded by the deadline and its margin, whatever the probe does. */
  g_assert_cmpfloat (run.took, <, (timeout_ms + NTS_PROBE_MARGIN_MS) / 1000.0 + 2.0);
}

static void
test_broken_probe (void)
{
  g_autofree char *dir = temp_tree_new ();
  g_autofree char *pid_file = g_build_filename (dir, "pid", NULL);
  g_autofree char *hang_body = g_strdup_printf ("echo $$ > %s; exec sleep 60", pid_file);
  g_autofree char *hangs = stand_in_probe (dir, "hangs", hang_body);
  g_autofree char *garbage = stand_in_probe (dir, "garbage",
                                             "cat >/dev/null; printf '\\000\\000\\000\\003abc'");
  g_autofree char *silent = stand_in_probe (dir, "silent", "cat >/dev/null; exit 3");
  g_autofree char *huge = stand_in_probe (dir, "huge",
                                          "cat >/dev/null; printf '\\177\\377\\377\\377'");
  g_autofree char *pid_text = NULL;

  check_broken_probe (garbage, 1000, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                      "probe answer: not a GVariant a{sv} in normal form");
  check_broken_probe (silent, 1000, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                      "closed without an answer");
  check_broken_probe (huge, 1000, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                      "over the bound of 1048576");
  check_broken_probe (hangs, 100, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                      "did not answer within 2100 ms");

  /* The hanging probe was killed, not left behind. */
  g_assert_true (g_file_get_contents (pid_file, &pid_text, NULL, NULL));
  {
    pid_t pid = (pid_t) g_ascii_strtoll (pid_text, NULL, 10);
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    g_assert_cmpint (pid, >, 1);
    /* Reaped by GLib's child watch on the main loop. */
    while (kill (pid, 0) == 0 && g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, FALSE);
    g_assert_cmpint (kill (pid, 0), ==, -1);
  }
  temp_tree_remove (dir);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *why_not = NULL;
  g_autofree char *chronyd = NULL;
  const struct {
    const char *address;
    NtsLoopbackServerKind kind;
  } servers[] = {
    { GOOD1, NTS_LOOPBACK_SERVER_GOOD },          { GOOD2, NTS_LOOPBACK_SERVER_GOOD },
    { GOOD3, NTS_LOOPBACK_SERVER_GOOD },          { UNTRUSTED, NTS_LOOPBACK_SERVER_UNTRUSTED },
    { KE_CLOSED, NTS_LOOPBACK_SERVER_KE_CLOSED }, { SILENT, NTS_LOOPBACK_SERVER_NTP_SILENT },
    { EXPIRED1, NTS_LOOPBACK_SERVER_EXPIRED },    { EXPIRED2, NTS_LOOPBACK_SERVER_EXPIRED },
  };
  int status;

  g_test_init (&argc, &argv, NULL);

  root_dir = temp_tree_new ();
  real_probe = g_strdup (g_getenv ("NTSSETUP_PROBE"));
  g_assert_nonnull (real_probe);
  probe_choice = g_build_filename (root_dir, "probe-choice", NULL);
  use_probe (real_probe);
  {
    g_autofree char *body = g_strdup_printf ("exec \"$(cat '%s')\"", probe_choice);
    g_autofree char *chooser = stand_in_probe (root_dir, "probe-chooser", body);
    g_setenv ("NTSSETUP_PROBE", chooser, TRUE);
  }
  root = nts_root_open (root_dir, &error);
  g_assert_no_error (error);
  if (nts_loopback_find_programs (&chronyd, NULL, &why_not))
    {
      lb = nts_loopback_new (&error);
      g_assert_no_error (error);
      for (gsize i = 0; i < G_N_ELEMENTS (servers); i++)
        {
          nts_loopback_add_server (lb, servers[i].address, servers[i].kind, &error);
          g_assert_no_error (error);
        }
      ca_path = g_strdup_printf ("%s/ca.crt", nts_loopback_get_dir (lb));
    }
  else
    ca_path = g_strdup ("/nonexistent/ca.crt");

  g_test_add_func ("/preflight/verdicts", test_verdicts);
  g_test_add_func ("/preflight/min-sources", test_min_sources);
  g_test_add_func ("/preflight/same-address", test_same_address);
  g_test_add_func ("/preflight/clock-far-off", test_clock_far_off);
  g_test_add_func ("/preflight/fast", test_fast);
  g_test_add_func ("/preflight/ca-of-root", test_ca_of_root);
  g_test_add_func ("/preflight/bad-ca-file", test_bad_ca_file);
  g_test_add_func ("/preflight/broken-probe", test_broken_probe);
  status = g_test_run ();

  g_clear_pointer (&lb, nts_loopback_free);
  nts_root_unref (root);
  temp_tree_remove (root_dir);
  g_free (root_dir);
  g_free (probe_choice);
  g_free (real_probe);
  g_free (ca_path);
  return status;
}
