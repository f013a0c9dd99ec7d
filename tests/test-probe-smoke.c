/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntssetup-probe end to end against real chronyd NTS servers on loopback
 * (tests/nts-loopback.c), run the way a caller without systemd runs it: on
 * a socketpair, one framed request in, one framed answer out. The smoke
 * test of the probe's own code: a good server answers `ok` with cookies,
 * stratum, round trip and offset (and the secrets when asked), a closed
 * port is `tcp`, a certificate from a CA we do not trust is `certificate`
 * with unknown-issuer; three servers are probed in well under 0.3 s.
 * Every scenario of issue 10 is tests/test-probe.c's. */
#include "config.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nts-loopback.h"
#include "probe-wire.h"

/* The bound on 3 loopback servers, end to end (issue 10's target). */
#define THREE_SERVERS_BOUND_S 0.3

typedef struct {
  NtsLoopback *lb;
  char *ca_pem;
} Fixture;

static Fixture fixture;

static const char *
probe_path (void)
{
  const char *path = g_getenv ("NTSSETUP_PROBE");

  g_assert_nonnull (path);
  return path;
}

/* The server's NTS-KE port, from its configuration file. */
static guint16
ke_port (const char *address)
{
  g_autofree char *path = g_strdup_printf ("%s/s-%s.conf", nts_loopback_get_dir (fixture.lb),
                                           address);
  g_autofree char *conf = NULL;
  const char *line;

  if (!g_file_get_contents (path, &conf, NULL, NULL))
    return 0;
  line = strstr (conf, "\nntsport ");
  g_assert_nonnull (line);
  return (guint16) g_ascii_strtoull (line + strlen ("\nntsport "), NULL, 10);
}

/* Runs the probe on @request over a socketpair; its results, and the
 * wall time from start to answer in @elapsed. */
static GPtrArray *
run_probe (NtsProbeRequest *request, double *elapsed)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) probe = NULL;
  g_autoptr(GBytes) body = nts_probe_request_serialize (request);
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *results;
  const char *argv[] = { probe_path (), NULL };
  int pair[2];
  gint64 start;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  g_subprocess_launcher_take_stdin_fd (launcher, pair[1]);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (pair[1]));
  start = g_get_monotonic_time ();
  probe = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_assert_true (nts_probe_frame_write (pair[0], body, &error));
  g_assert_no_error (error);
  shutdown (pair[0], SHUT_WR);
  answer = nts_probe_frame_read (pair[0], NTS_PROBE_MAX_ANSWER, &error);
  *elapsed = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_assert_no_error (error);
  close (pair[0]);
  g_assert_true (g_subprocess_wait_check (probe, NULL, &error));
  g_assert_no_error (error);
  results = nts_probe_answer_parse (answer, request, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (results->len, ==, request->servers->len);
  return results;
}

static NtsProbeRequest *
new_request (gboolean secrets)
{
  NtsProbeRequest *request = nts_probe_request_new ();

  request->ca_pem = g_strdup (fixture.ca_pem);
  request->timeout_ms = 3000;
  request->secrets = secrets;
  return request;
}

static void
assert_ok (const NtsProbeResult *result, const char *address)
{
  g_test_message ("%s: %s", result->server, result->message);
  g_assert_cmpint (result->phase, ==, NTS_PROBE_OK);
  g_assert_cmpstr (result->address, ==, address);
  g_assert_cmpuint (result->aead, ==, 15);
  g_assert_cmpstr (result->ntp_server, ==, address);
  g_assert_cmpuint (result->ntp_port, !=, 123); /* the loopback server's, negotiated */
  g_assert_cmpuint (result->ke_cookies, ==, 8);
  g_assert_cmpuint (result->ntp_cookies, >=, 1);
  g_assert_cmpuint (result->stratum, ==, 1); /* `local stratum 1` */
  g_assert_cmpfloat (result->rtt, >, 0);
  g_assert_cmpfloat (result->rtt, <, 0.1);
  /* Same clock at both ends. */
  g_assert_cmpfloat (fabs (result->offset), <, 0.01);
  g_assert_nonnull (result->cert_subject);
  g_assert_nonnull (strstr (result->cert_issuer, "ntssetup test CA"));
  g_assert_cmpint (result->cert_not_after, >, g_get_real_time () / G_USEC_PER_SEC);
  for (guint i = 0; i < NTS_PROBE_N_TIMES; i++)
    g_assert_cmpfloat (result->times[i], >=, 0);
}

static void
test_three_good (void)
{
  const char *const addresses[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4" };
  g_autoptr(NtsProbeRequest) request = new_request (FALSE);
  g_autoptr(GPtrArray) results = NULL;
  double elapsed;

  for (guint i = 0; i < G_N_ELEMENTS (addresses); i++)
    nts_probe_request_add (request, addresses[i], ke_port (addresses[i]));
  results = run_probe (request, &elapsed);
  g_test_message ("3 servers probed in %.3f s", elapsed);
  for (guint i = 0; i < G_N_ELEMENTS (addresses); i++)
    {
      const NtsProbeResult *result = results->pdata[i];

      assert_ok (result, addresses[i]);
      g_assert_false (result->has_secrets);
      g_assert_null (result->same_address_as);
    }
  g_assert_cmpfloat (elapsed, <, THREE_SERVERS_BOUND_S);
}

static void
test_secrets (void)
{
  g_autoptr(NtsProbeRequest) request = new_request (TRUE);
  g_autoptr(GPtrArray) results = NULL;
  const NtsProbeResult *result;
  double elapsed;
  gboolean keys_differ = FALSE;

  nts_probe_request_add (request, "127.0.0.2", ke_port ("127.0.0.2"));
  results = run_probe (request, &elapsed);
  result = results->pdata[0];
  assert_ok (result, "127.0.0.2");
  g_assert_true (result->has_secrets);
  /* 8 from the key exchange, one spent, at least one new. */
  g_assert_cmpuint (result->cookies->len, ==, 8);
  for (guint i = 0; i < NTS_PROBE_KEY_LEN; i++)
    keys_differ |= result->c2s[i] != result->s2c[i];
  g_assert_true (keys_differ);
  g_assert_cmpfloat (fabs (result->ke_time - g_get_real_time () / 1e6), <, 10);
}

static void
test_failures (void)
{
  g_autoptr(NtsProbeRequest) request = new_request (FALSE);
  g_autoptr(GPtrArray) results = NULL;
  const NtsProbeResult *closed, *untrusted, *twice, *silent;
  double elapsed;

  nts_probe_request_add (request, "127.0.0.5", ke_port ("127.0.0.5"));
  nts_probe_request_add (request, "127.0.0.6", ke_port ("127.0.0.6"));
  nts_probe_request_add (request, "127.0.0.6", ke_port ("127.0.0.6"));
  nts_probe_request_add (request, "127.0.0.7", ke_port ("127.0.0.7"));
  results = run_probe (request, &elapsed);
  closed = results->pdata[0];
  untrusted = results->pdata[1];
  twice = results->pdata[2];
  silent = results->pdata[3];
  g_test_message ("%s: %s", closed->server, closed->message);
  g_test_message ("%s: %s", untrusted->server, untrusted->message);

  g_assert_cmpint (closed->phase, ==, NTS_PROBE_TCP);
  g_assert_nonnull (strstr (closed->message, "refused"));
  g_assert_cmpfloat (closed->times[NTS_PROBE_TIME_TLS], ==, -1);

  g_assert_cmpint (untrusted->phase, ==, NTS_PROBE_CERTIFICATE);
  g_assert_cmpuint (untrusted->cert_problems, ==, NTS_PROBE_CERT_UNKNOWN_ISSUER);
  g_assert_false (untrusted->clock_suspect);
  g_assert_nonnull (strstr (untrusted->cert_issuer, "ntssetup untrusted CA"));
  g_assert_nonnull (strstr (untrusted->message, "unknown issuer"));
  g_assert_cmpint (untrusted->cert_not_before, >, 0);

  g_assert_cmpstr (twice->same_address_as, ==, "127.0.0.6");

  /* Key exchange fine, no NTP server: on loopback the kernel says so at
   * once (ICMP port unreachable), no need to wait for the deadline. */
  g_test_message ("%s: %s", silent->server, silent->message);
  g_assert_cmpint (silent->phase, ==, NTS_PROBE_NTP_TIMEOUT);
  g_assert_cmpuint (silent->ke_cookies, ==, 8);
  g_assert_cmpuint (silent->ntp_port, ==, 123);
  g_assert_nonnull (strstr (silent->message, "key exchange fine"));
  g_assert_cmpfloat (elapsed, <, 1.0);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ca_path = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  fixture.lb = nts_loopback_new (&error);
  if (fixture.lb == NULL)
    {
      g_test_skip_printf ("no loopback test bed: %s", error->message);
      return g_test_run ();
    }
  ca_path = g_build_filename (nts_loopback_get_dir (fixture.lb), "ca.crt", NULL);
  g_assert_true (g_file_get_contents (ca_path, &fixture.ca_pem, NULL, &error));
  g_assert_true (
    nts_loopback_add_server (fixture.lb, "127.0.0.2", NTS_LOOPBACK_SERVER_GOOD, &error) &&
    nts_loopback_add_server (fixture.lb, "127.0.0.3", NTS_LOOPBACK_SERVER_GOOD, &error) &&
    nts_loopback_add_server (fixture.lb, "127.0.0.4", NTS_LOOPBACK_SERVER_GOOD, &error) &&
    nts_loopback_add_server (fixture.lb, "127.0.0.5", NTS_LOOPBACK_SERVER_KE_CLOSED, &error) &&
    nts_loopback_add_server (fixture.lb, "127.0.0.6", NTS_LOOPBACK_SERVER_UNTRUSTED, &error) &&
    nts_loopback_add_server (fixture.lb, "127.0.0.7", NTS_LOOPBACK_SERVER_NTP_SILENT, &error));
  g_assert_no_error (error);

  g_test_add_func ("/probe-smoke/three-good", test_three_good);
  g_test_add_func ("/probe-smoke/secrets", test_secrets);
  g_test_add_func ("/probe-smoke/failures", test_failures);
  status = g_test_run ();

  g_clear_pointer (&fixture.lb, nts_loopback_free);
  g_free (fixture.ca_pem);
  return status;
}
