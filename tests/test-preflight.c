/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Preflight against real NTS servers on loopback (tests/nts-loopback):
 * two good ones, one with a certificate from a CA we don't trust, one
 * where nothing listens. Every chronyd here runs with -Q: it measures and
 * never touches the clock. */
#include <sys/stat.h>

#include "nts-errors.h"
#include "nts-loopback.h"
#include "preflight.h"

#define WAIT_MS 60000
#define CHECK_TIMEOUT_S 12

static NtsLoopback *lb;
static char *chronyd;
static const char *servers[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", NULL };
static guint16 ports[4];
static char *ca_path;

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

static gboolean
run_preflight (const char *const *names, const guint16 *nts_ports, guint min_sources,
               guint timeout_s, const char *chronyd_path, GPtrArray **verdicts, GError **error)
{
  NtsPreflightOptions options = {
    .chronyd_path = chronyd_path,
    .user = "root",  /* chronyd's own user does not exist here */
    .timeout_s = timeout_s,
    .min_sources = min_sources,
    .trusted_certs = ca_path,
    .nts_ports = nts_ports,
  };
  g_autoptr(GAsyncResult) res = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  nts_preflight_async (names, &options, NULL, on_done, &res);
  while (res == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (res);
  return nts_preflight_finish (res, verdicts, error);
}

/* What chrony's directories look like on the host: preflight must not
 * create or change them. (This host has no chrony package: none exist.) */
static char *
host_dirs_fingerprint (void)
{
  const char *dirs[] = { "/var/lib/chrony", "/var/log/chrony", "/run/chrony",
                         "/var/run/chrony", "/etc/chrony", "/etc/chrony.conf" };
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      struct stat st;
      if (lstat (dirs[i], &st) < 0)
        g_string_append_printf (out, "%s absent\n", dirs[i]);
      else
        g_string_append_printf (out, "%s %o %lld %lld\n", dirs[i], st.st_mode,
                                (long long) st.st_mtime, (long long) st.st_ctime);
    }
  return g_string_free (out, FALSE);
}

static void
print_verdicts (GPtrArray *verdicts)
{
  for (guint i = 0; i < verdicts->len; i++)
    {
      NtsPreflightVerdict *v = verdicts->pdata[i];
      g_test_message ("%s: %s %.1f s, offset %+.6f, %s", v->server, v->ok ? "ok" : "FAIL",
                      v->elapsed, v->offset, v->reason ? v->reason : "");
    }
}

static void
check_verdicts (GPtrArray *verdicts)
{
  NtsPreflightVerdict *good1, *good2, *untrusted, *closed;

  g_assert_cmpuint (verdicts->len, ==, 4);
  good1 = verdicts->pdata[0];
  good2 = verdicts->pdata[1];
  untrusted = verdicts->pdata[2];
  closed = verdicts->pdata[3];

  g_assert_cmpstr (good1->server, ==, "127.0.0.2");
  g_assert_true (good1->ok);
  g_assert_null (good1->reason);
  g_assert_cmpfloat (ABS (good1->offset), <, 1.0);
  g_assert_true (good2->ok);

  g_assert_false (untrusted->ok);
  g_assert_nonnull (untrusted->reason);
  g_assert_true (strstr (untrusted->reason, "TLS") != NULL ||
                 strstr (untrusted->reason, "certificate") != NULL);

  g_assert_false (closed->ok);
  g_assert_nonnull (strstr (closed->reason, "refused"));
}

static void
test_verdicts (void)
{
  g_autoptr(GPtrArray) verdicts = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *before = host_dirs_fingerprint ();
  g_autofree char *after = NULL;
  gint64 start = g_get_monotonic_time ();
  double total, sum = 0, slowest = 0;

  g_assert_true (run_preflight (servers, ports, 2, CHECK_TIMEOUT_S, chronyd, &verdicts, &error));
  g_assert_no_error (error);
  total = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  print_verdicts (verdicts);
  check_verdicts (verdicts);

  /* In parallel: the whole takes about as long as the slowest check. */
  for (guint i = 0; i < verdicts->len; i++)
    {
      NtsPreflightVerdict *v = verdicts->pdata[i];
      sum += v->elapsed;
      slowest = MAX (slowest, v->elapsed);
    }
  g_test_message ("total %.1f s, slowest %.1f s, sum %.1f s", total, slowest, sum);
  g_assert_cmpfloat (total, <, slowest + 2.0);
  g_assert_cmpfloat (total, <, sum * 0.6);
  g_assert_cmpfloat (slowest, <, CHECK_TIMEOUT_S + NTS_PREFLIGHT_KILL_MARGIN_S);

  after = host_dirs_fingerprint ();
  g_assert_cmpstr (before, ==, after);
}

static void
test_min_sources (void)
{
  g_autoptr(GPtrArray) verdicts = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (run_preflight (servers, ports, 3, CHECK_TIMEOUT_S, chronyd, &verdicts, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "2 of 4 servers passed"));
  g_assert_nonnull (strstr (error->message, "3 needed"));
  g_assert_nonnull (strstr (error->message, "127.0.0.4: "));
  g_assert_nonnull (strstr (error->message, "127.0.0.5: "));
  g_assert_nonnull (strstr (error->message, "refused"));
  g_assert_null (strstr (error->message, "127.0.0.2"));
  /* The verdicts come along for the result lines. */
  g_assert_nonnull (verdicts);
  check_verdicts (verdicts);
}

/* -t bounds each check: a good server cannot answer in 1 s. */
static void
test_timeout_bound (void)
{
  const char *names[] = { "127.0.0.2", NULL };
  g_autoptr(GPtrArray) verdicts = NULL;
  g_autoptr(GError) error = NULL;
  NtsPreflightVerdict *v;

  g_assert_false (run_preflight (names, ports, 1, 1, chronyd, &verdicts, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
  v = verdicts->pdata[0];
  g_test_message ("%s: %.1f s: %s", v->server, v->elapsed, v->reason);
  g_assert_false (v->ok);
  g_assert_nonnull (strstr (v->reason, "within 1 s"));
  g_assert_cmpfloat (v->elapsed, <, 1 + NTS_PREFLIGHT_KILL_MARGIN_S);
}

static void
test_no_chronyd (void)
{
  g_autoptr(GPtrArray) verdicts = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (run_preflight (servers, ports, 1, 1, "/nonexistent/chronyd", &verdicts, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_CHRONY_MISSING);
  g_assert_null (verdicts);
}

static void
test_invalid_name (void)
{
  const char *names[] = { "127.0.0.2 key 1", NULL };
  const char *dash[] = { "-f", NULL };
  g_autoptr(GPtrArray) verdicts = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (run_preflight (names, NULL, 1, 1, chronyd, &verdicts, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (run_preflight (dash, NULL, 1, 1, chronyd, &verdicts, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *why_not = NULL;
  const NtsLoopbackServerKind kinds[] = { NTS_LOOPBACK_SERVER_GOOD, NTS_LOOPBACK_SERVER_GOOD,
                                          NTS_LOOPBACK_SERVER_UNTRUSTED,
                                          NTS_LOOPBACK_SERVER_KE_CLOSED };
  int status;

  g_test_init (&argc, &argv, NULL);

  if (!nts_loopback_find_programs (&chronyd, NULL, &why_not))
    {
      g_test_skip (why_not);
      return g_test_run ();
    }
  lb = nts_loopback_new (&error);
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      nts_loopback_add_server (lb, servers[i], kinds[i], &error);
      g_assert_no_error (error);
      ports[i] = server_nts_port (servers[i]);
    }
  ca_path = g_strdup_printf ("%s/ca.crt", nts_loopback_get_dir (lb));

  g_test_add_func ("/preflight/verdicts", test_verdicts);
  g_test_add_func ("/preflight/min-sources", test_min_sources);
  g_test_add_func ("/preflight/timeout-bound", test_timeout_bound);
  g_test_add_func ("/preflight/no-chronyd", test_no_chronyd);
  g_test_add_func ("/preflight/invalid-name", test_invalid_name);
  status = g_test_run ();

  nts_loopback_free (lb);
  g_free (ca_path);
  g_free (chronyd);
  return status;
}
