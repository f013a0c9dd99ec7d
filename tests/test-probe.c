/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntssetup-probe against real chronyd NTS servers on loopback
 * (tests/nts-loopback.h), one server per failure the probe must name, and
 * chronyd -Q against the same servers as the yardstick: the probe's
 * verdict must agree with chronyd's own on each.
 *
 * The probe runs as the daemon runs it under --root: the built binary
 * ($NTSSETUP_PROBE) on one end of a socketpair (its stdin and stdout),
 * one request (probe-wire.h) with every scenario under one deadline, one
 * answer. What each server received is counted on the server (chronyd's
 * serverstats, the kiss responder, the dropped port's socket): one key
 * exchange and at most two NTP packets per name asked.
 *
 * Servers:  127.0.0.1 good, also asked for as "localhost" (two names, one
 *           address); .2 untrusted CA, .3 expired, .4 not yet valid,
 *           .5 name mismatch, .6 NTS-KE port closed, .7 NTP never
 *           answered (its port held by the test bed), .8 negotiates
 *           another server and port (a second chronyd on 127.0.0.1
 *           sharing its keys), .9 the same with other keys (NTS NAK),
 *           .10 the same with a kiss-o'-death responder (the one mock: see
 *           nts-loopback.h), .11 `port 0` (no NTP service: chronyd 4.3
 *           negotiates port 0, the default port to a client, where
 *           nothing listens). */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nts-loopback.h"
#include "probe-wire.h"

/* The probe's one deadline for all servers: NTP_DROPPED takes all of it. */
#define PROBE_TIMEOUT_MS 3000u
/* Beyond the deadline: starting the probe, writing its answer. */
#define PROBE_MARGIN_S 2.0
/* chronyd -Q's own bound (-t): a good server takes ~6.3 s (four samples,
 * two seconds apart). */
#define CHRONYD_Q_TIMEOUT_S     10
#define CHRONYD_Q_KILL_MARGIN_S 5

#define LOCALHOST_V4 "127.0.0.1"
#define BACKENDS     LOCALHOST_V4 /* where .8, .9, .10 send their clients */

typedef struct {
  const char *label;
  const char *server; /* the test bed's server it asks (its key-exchange address) */
  NtsLoopbackServerKind kind;
  NtsProbePhase phase; /* what the probe must say */
  guint cert_problems; /* NtsProbeCertProblems */
  const char *issuer;
  gint64 not_before, not_after; /* 0: around now */
  gboolean clock_suspect;
  const char *kiss;
  /* Set up in main() */
  char *name; /* the name asked */
  guint16 ke_port;
} Scenario;

enum {
  GOOD,
  LOCALHOST,
  UNTRUSTED,
  EXPIRED,
  NOT_YET_VALID,
  WRONG_NAME,
  KE_CLOSED,
  NTP_DROPPED,
  NEGOTIATED,
  NAK,
  KISS,
  NTP_PORT_0,
  N_SCENARIOS
};

static Scenario scenarios[N_SCENARIOS] = {
  [GOOD] = { "good", LOCALHOST_V4, NTS_LOOPBACK_SERVER_LOCALHOST, NTS_PROBE_OK },
  [LOCALHOST] = { "localhost", LOCALHOST_V4, NTS_LOOPBACK_SERVER_LOCALHOST, NTS_PROBE_OK },
  [UNTRUSTED] = { "unknown CA", "127.0.0.2", NTS_LOOPBACK_SERVER_UNTRUSTED,
                  NTS_PROBE_CERTIFICATE, NTS_PROBE_CERT_UNKNOWN_ISSUER,
                  NTS_LOOPBACK_OTHER_CA_NAME },
  [EXPIRED] = { "expired", "127.0.0.3", NTS_LOOPBACK_SERVER_EXPIRED, NTS_PROBE_CERTIFICATE,
                NTS_PROBE_CERT_EXPIRED, NTS_LOOPBACK_CA_NAME, NTS_LOOPBACK_EXPIRED_NOT_BEFORE,
                NTS_LOOPBACK_EXPIRED_NOT_AFTER, TRUE },
  [NOT_YET_VALID] = { "not yet valid", "127.0.0.4", NTS_LOOPBACK_SERVER_NOT_YET_VALID,
                      NTS_PROBE_CERTIFICATE, NTS_PROBE_CERT_NOT_YET_VALID, NTS_LOOPBACK_CA_NAME,
                      NTS_LOOPBACK_FUTURE_NOT_BEFORE, NTS_LOOPBACK_FUTURE_NOT_AFTER, TRUE },
  [WRONG_NAME] = { "name mismatch", "127.0.0.5", NTS_LOOPBACK_SERVER_WRONG_NAME,
                   NTS_PROBE_CERTIFICATE, NTS_PROBE_CERT_NAME_MISMATCH, NTS_LOOPBACK_CA_NAME },
  [KE_CLOSED] = { "key exchange closed", "127.0.0.6", NTS_LOOPBACK_SERVER_KE_CLOSED,
                  NTS_PROBE_TCP },
  [NTP_DROPPED] = { "NTP never answered", "127.0.0.7", NTS_LOOPBACK_SERVER_NTP_DROPPED,
                    NTS_PROBE_NTP_TIMEOUT },
  [NEGOTIATED] = { "negotiated server", "127.0.0.8", NTS_LOOPBACK_SERVER_NEGOTIATED,
                   NTS_PROBE_OK },
  [NAK] = { "new keys (NAK)", "127.0.0.9", NTS_LOOPBACK_SERVER_NAK, NTS_PROBE_NAK,
            .kiss = "NTSN" },
  [KISS] = { "kiss-o'-death", "127.0.0.10", NTS_LOOPBACK_SERVER_KISS, NTS_PROBE_KISS,
             .kiss = NTS_LOOPBACK_KISS_CODE },
  [NTP_PORT_0] = { "no NTP (port 0)", "127.0.0.11", NTS_LOOPBACK_SERVER_NTP_SILENT,
                   NTS_PROBE_NTP_TIMEOUT },
};

static NtsLoopback *lb;
static char *chronyd;
static const char *probe_path;

/* ---- running the probe -------------------------------------------------- */

typedef struct {
  GPtrArray *results;          /* NtsProbeResult, one per scenario */
  double elapsed;              /* seconds, request written to answer read */
  double wall_start, wall_end; /* Unix seconds around the run */
  /* What each scenario's server received during the run. */
  NtsLoopbackServerStats received[N_SCENARIOS];
} ProbeRun;

static ProbeRun *probe_run;

static gboolean
on_deadline (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the default main context until *@pending is 0 or @timeout_s
 * passed: TRUE if it is 0. */
static gboolean
iterate_while_pending (const guint *pending, double timeout_s)
{
  gboolean timed_out = FALSE;
  guint deadline = g_timeout_add ((guint) (timeout_s * 1000), on_deadline, &timed_out);

  while (*pending > 0 && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (deadline);
  return *pending == 0;
}

static void
on_exited (GObject *source, GAsyncResult *res, gpointer user_data)
{
  (void) g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  (*(guint *) user_data)--;
}

/* Runs the probe on @request: the answer's results, checked against the
 * request by nts_probe_answer_parse(). */
static GPtrArray *
run_probe (const NtsProbeRequest *request, double *elapsed)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GBytes) body = nts_probe_request_serialize (request);
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *stderr_path = g_build_filename (nts_loopback_get_dir (lb), "probe.stderr",
                                                   NULL);
  g_autofree char *stderr_text = NULL;
  const char *const argv[] = { probe_path, NULL };
  double bound_s = request->timeout_ms / 1000.0 + PROBE_MARGIN_S;
  struct timeval receive_bound = { .tv_sec = (time_t) bound_s + 1 };
  GPtrArray *results;
  gint64 start;
  guint running = 1;
  int pair[2];

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
  /* A probe that never answers fails the read, not the whole test run. */
  g_assert_no_errno (
    setsockopt (pair[0], SOL_SOCKET, SO_RCVTIMEO, &receive_bound, sizeof receive_bound));
  g_subprocess_launcher_take_stdin_fd (launcher, dup (pair[1]));
  g_subprocess_launcher_take_stdout_fd (launcher, pair[1]);
  g_subprocess_launcher_set_stderr_file_path (launcher, stderr_path);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_clear_object (&launcher); /* our copies of its end: the probe's EOF is ours */

  start = g_get_monotonic_time ();
  nts_probe_frame_write (pair[0], body, &error);
  g_assert_no_error (error);
  g_assert_no_errno (shutdown (pair[0], SHUT_WR));
  answer = nts_probe_frame_read (pair[0], NTS_PROBE_MAX_ANSWER, &error);
  *elapsed = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  close (pair[0]);

  g_subprocess_wait_async (process, NULL, on_exited, &running);
  if (!iterate_while_pending (&running, bound_s))
    {
      g_subprocess_force_exit (process);
      g_assert_true (iterate_while_pending (&running, PROBE_MARGIN_S));
      g_test_fail_printf ("the probe did not exit within %.1f s", bound_s);
    }
  if (!g_file_get_contents (stderr_path, &stderr_text, NULL, NULL))
    stderr_text = g_strdup ("");
  if (*stderr_text)
    g_test_message ("probe's stderr:\n%s", stderr_text);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);

  results = nts_probe_answer_parse (answer, request, &error);
  g_assert_no_error (error);
  return results;
}

/* The one run of every scenario, in one request (with secrets), counted on
 * the servers. */
static ProbeRun *
get_probe_run (void)
{
  NtsLoopbackServerStats before[N_SCENARIOS];
  g_autoptr(NtsProbeRequest) request = NULL;
  g_autoptr(GError) error = NULL;
  ProbeRun *run;

  if (probe_run != NULL)
    return probe_run;

  request = nts_probe_request_new ();
  for (guint i = 0; i < N_SCENARIOS; i++)
    nts_probe_request_add (request, scenarios[i].name, scenarios[i].ke_port);
  g_assert_true (
    g_file_get_contents (nts_loopback_get_ca_file (lb), &request->ca_pem, NULL, &error));
  g_assert_no_error (error);
  request->timeout_ms = PROBE_TIMEOUT_MS;
  request->secrets = TRUE;

  run = probe_run = g_new0 (ProbeRun, 1);
  for (guint i = 0; i < N_SCENARIOS; i++)
    {
      nts_loopback_get_server_stats (lb, scenarios[i].server, &before[i], &error);
      g_assert_no_error (error);
    }
  run->wall_start = g_get_real_time () / (double) G_USEC_PER_SEC;
  run->results = run_probe (request, &run->elapsed);
  run->wall_end = g_get_real_time () / (double) G_USEC_PER_SEC;
  for (guint i = 0; i < N_SCENARIOS; i++)
    {
      NtsLoopbackServerStats after;

      nts_loopback_get_server_stats (lb, scenarios[i].server, &after, &error);
      g_assert_no_error (error);
      run->received[i].ke_connections = after.ke_connections - before[i].ke_connections;
      run->received[i].ntp_packets = after.ntp_packets - before[i].ntp_packets;
    }

  g_test_message ("%u servers probed in %.3f s (deadline %.1f s)", N_SCENARIOS, run->elapsed,
                  PROBE_TIMEOUT_MS / 1000.0);
  for (guint i = 0; i < N_SCENARIOS; i++)
    {
      NtsProbeResult *r = run->results->pdata[i];
      g_test_message ("%-20s %-10s %s:%u -> %s %s; received %" G_GUINT64_FORMAT
                      " KE, %" G_GUINT64_FORMAT " NTP",
                      scenarios[i].label, r->server, r->address ? r->address : "-", r->ke_port,
                      nts_probe_phase_to_string (r->phase), r->message,
                      run->received[i].ke_connections, run->received[i].ntp_packets);
      g_test_message ("%-20s ms: dns %.1f, tcp %.1f, tls %.1f, ke %.1f, ntp %.1f", "",
                      r->times[NTS_PROBE_TIME_DNS] * 1000, r->times[NTS_PROBE_TIME_TCP] * 1000,
                      r->times[NTS_PROBE_TIME_TLS] * 1000, r->times[NTS_PROBE_TIME_KE] * 1000,
                      r->times[NTS_PROBE_TIME_NTP] * 1000);
    }
  return run;
}

static NtsProbeResult *
result_of (guint scenario)
{
  return get_probe_run ()->results->pdata[scenario];
}

/* ---- chronyd -Q, the yardstick ------------------------------------------ */

typedef struct {
  gboolean done;
  gboolean ok; /* exit 0 and an offset printed */
  double offset;
  guint cert_problems; /* what its TLS error names (NtsProbeCertProblems) */
  gboolean refused;    /* "Connection refused" */
  char *output;
} ChronydVerdict;

/* The certificate problems chronyd's log names: it prints GnuTLS's
 * verification status (gnutls_certificate_verification_status_print) when
 * the handshake fails on the certificate. */
static guint
cert_problems_named (const char *log)
{
  static const struct {
    const char *text;
    guint problem;
  } known[] = {
    { "issuer is unknown", NTS_PROBE_CERT_UNKNOWN_ISSUER },
    { "uses expired certificate", NTS_PROBE_CERT_EXPIRED },
    { "uses not yet valid certificate", NTS_PROBE_CERT_NOT_YET_VALID },
    { "does not match the expected", NTS_PROBE_CERT_NAME_MISMATCH },
  };
  guint problems = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    if (strstr (log, known[i].text) != NULL)
      problems |= known[i].problem;
  return problems;
}

typedef struct {
  ChronydVerdict *verdict;
  GSubprocess *process;
  guint *pending;
} ChronydRun;

static void
on_chronyd_output (GObject *source, GAsyncResult *res, gpointer user_data)
{
  ChronydRun *run = user_data;
  ChronydVerdict *verdict = run->verdict;
  g_autoptr(GError) error = NULL;
  const char *line;

  /* Communicating ends when chronyd has exited. */
  if (!g_subprocess_communicate_utf8_finish (run->process, res, &verdict->output, NULL, &error))
    verdict->output = g_strdup_printf ("(unreadable: %s)", error->message);
  line = strstr (verdict->output, "System clock wrong by ");
  verdict->ok = g_subprocess_get_if_exited (run->process) &&
                g_subprocess_get_exit_status (run->process) == 0 && line != NULL;
  if (line != NULL)
    verdict->offset = g_ascii_strtod (line + strlen ("System clock wrong by "), NULL);
  verdict->cert_problems = cert_problems_named (verdict->output);
  verdict->refused = strstr (verdict->output, "Connection refused") != NULL;
  verdict->done = TRUE;
  (*run->pending)--;
}

/* chronyd -Q on every scenario at once, each bounded by -t (and killed if
 * it overstays), as the preflight ran it. */
static ChronydVerdict chronyd_verdicts[N_SCENARIOS];
static gboolean have_chronyd_verdicts;

static ChronydVerdict *
get_chronyd_verdicts (void)
{
  ChronydVerdict *verdicts = chronyd_verdicts;
  ChronydRun runs[N_SCENARIOS] = { 0 };
  g_autofree char *timeout = g_strdup_printf ("%u", CHRONYD_Q_TIMEOUT_S);
  g_autofree char *certs = g_strdup_printf ("ntstrustedcerts %s", nts_loopback_get_ca_file (lb));
  gint64 start = g_get_monotonic_time ();
  guint pending = N_SCENARIOS;

  if (have_chronyd_verdicts)
    return verdicts;

  for (guint i = 0; i < N_SCENARIOS; i++)
    {
      g_autofree char *server = g_strdup_printf ("server %s iburst nts ntsport %u",
                                                 scenarios[i].name, scenarios[i].ke_port);
      const char *const argv[] = { chronyd, "-Q",   "-t",  timeout,        "-u",
                                   "root",  server, certs, "nosystemcert", NULL };
      g_autoptr(GError) error = NULL;

      runs[i].verdict = &verdicts[i];
      runs[i].pending = &pending;
      runs[i].process = g_subprocess_newv (argv,
                                           G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                             G_SUBPROCESS_FLAGS_STDERR_MERGE,
                                           &error);
      g_assert_no_error (error);
      g_subprocess_communicate_utf8_async (runs[i].process, NULL, NULL, on_chronyd_output,
                                           &runs[i]);
    }
  if (!iterate_while_pending (&pending, CHRONYD_Q_TIMEOUT_S + CHRONYD_Q_KILL_MARGIN_S))
    {
      /* -t did not stop it: a verdict of its own (killed, so not ok). */
      for (guint i = 0; i < N_SCENARIOS; i++)
        if (!verdicts[i].done)
          g_subprocess_force_exit (runs[i].process);
      g_assert_true (iterate_while_pending (&pending, CHRONYD_Q_KILL_MARGIN_S));
    }
  for (guint i = 0; i < N_SCENARIOS; i++)
    g_object_unref (runs[i].process);

  g_test_message ("chronyd -Q on %u servers at once: %.1f s", N_SCENARIOS,
                  (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
  have_chronyd_verdicts = TRUE;
  return verdicts;
}

/* ---- cases -------------------------------------------------------------- */

static void
assert_no_exchange (const NtsProbeResult *r)
{
  g_assert_cmpuint (r->aead, ==, 0);
  g_assert_cmpuint (r->ke_cookies, ==, 0);
  g_assert_cmpuint (r->ntp_cookies, ==, 0);
  g_assert_cmpstr (r->kiss, ==, "");
}

static void
assert_ke_done (const NtsProbeResult *r)
{
  g_assert_cmpuint (r->aead, ==, 15);
  g_assert_cmpuint (r->ke_cookies, ==, 8);
  g_assert_cmpint (r->ke_error, ==, -1);
  g_assert_cmpint (r->ke_warning, ==, -1);
  g_assert_cmpfloat (r->times[NTS_PROBE_TIME_KE], >=, 0);
}

/* What a server the exchange went through to the end must report. */
static void
assert_ok (guint scenario)
{
  NtsProbeResult *r = result_of (scenario);
  ProbeRun *run = get_probe_run ();
  const char *ntp_address;
  guint16 ntp_port;

  g_assert_cmpstr (nts_probe_phase_to_string (r->phase), ==, "ok");
  assert_ke_done (r);
  g_assert_true (
    nts_loopback_get_ntp_target (lb, scenarios[scenario].server, &ntp_address, &ntp_port));
  /* Without a Server record, the address the key exchange went to (the
   * good server also listens on ::1, where localhost may resolve). */
  if (scenarios[scenario].kind == NTS_LOOPBACK_SERVER_NEGOTIATED)
    g_assert_cmpstr (r->ntp_server, ==, ntp_address);
  else
    g_assert_cmpstr (r->ntp_server, ==, r->address);
  g_assert_cmpuint (r->ntp_port, ==, ntp_port);
  g_assert_cmpuint (r->ntp_cookies, >=, 1);
  g_assert_cmpuint (r->ntp_cookies, <=, NTS_PROBE_MAX_COOKIES);
  g_assert_cmpuint (r->stratum, ==, 1); /* `local stratum 1` */
  g_assert_cmpfloat (r->rtt, >, 0);
  g_assert_cmpfloat (r->rtt, <, 0.5);
  /* Same machine, same clock: the offset is within a round trip. */
  g_assert_cmpfloat (ABS (r->offset), <, 0.05);
  g_assert_cmpstr (r->kiss, ==, "");
  for (guint t = 0; t < NTS_PROBE_N_TIMES; t++)
    g_assert_cmpfloat (r->times[t], >=, 0);
  g_assert_cmpuint (r->cert_problems, ==, 0);
  g_assert_false (r->clock_suspect);
  g_assert_nonnull (r->cert_issuer);
  g_assert_nonnull (strstr (r->cert_issuer, NTS_LOOPBACK_CA_NAME));

  /* Asked for secrets: the keys and cookies to hand chronyd. */
  g_assert_true (r->has_secrets);
  g_assert_nonnull (r->cookies);
  g_assert_cmpuint (r->cookies->len, >=, 1);
  g_assert_cmpuint (r->cookies->len, <=, NTS_PROBE_MAX_COOKIES);
  for (guint i = 0; i < r->cookies->len; i++)
    {
      gsize length = g_bytes_get_size (r->cookies->pdata[i]);
      g_assert_cmpuint (length, >, 0);
      g_assert_cmpuint (length, <=, NTS_PROBE_MAX_COOKIE_LEN);
    }
  {
    static const guint8 zero[NTS_PROBE_KEY_LEN];
    g_assert_true (memcmp (r->c2s, zero, sizeof zero) != 0);
    g_assert_true (memcmp (r->s2c, zero, sizeof zero) != 0);
    g_assert_true (memcmp (r->c2s, r->s2c, NTS_PROBE_KEY_LEN) != 0);
  }
  g_assert_cmpfloat (r->ke_time, >=, (double) (gint64) run->wall_start);
  g_assert_cmpfloat (r->ke_time, <=, run->wall_end + 1);
}

/* Only results that are OK carry secrets. */
static void
assert_no_secrets (const NtsProbeResult *r)
{
  static const guint8 zero[NTS_PROBE_KEY_LEN];

  g_assert_false (r->has_secrets);
  g_assert_null (r->cookies);
  g_assert_true (memcmp (r->c2s, zero, sizeof zero) == 0);
  g_assert_true (memcmp (r->s2c, zero, sizeof zero) == 0);
}

static void
test_good (void)
{
  NtsProbeResult *r = result_of (GOOD);
  g_autofree char *subject = g_strdup_printf ("nts-%s.test", "127-0-0-1");

  assert_ok (GOOD);
  g_assert_cmpstr (r->address, ==, scenarios[GOOD].name);
  g_assert_null (r->same_address_as);
  g_assert_nonnull (r->cert_subject);
  g_assert_nonnull (strstr (r->cert_subject, subject));
}

/* "localhost" after its own address: one source, said so. */
static void
test_two_names (void)
{
  NtsProbeResult *r = result_of (LOCALHOST);

  assert_ok (LOCALHOST);
  g_assert_cmpstr (r->server, ==, "localhost");
  g_assert_cmpstr (r->address, ==, scenarios[GOOD].name);
  g_assert_cmpstr (r->same_address_as, ==, scenarios[GOOD].name);
}

/* The certificate scenarios: exactly the problem made, who issued it for
 * whom and when, and whether our clock could be the one wrong. */
static void
test_certificate (gconstpointer data)
{
  guint scenario = GPOINTER_TO_UINT (data);
  const Scenario *s = &scenarios[scenario];
  NtsProbeResult *r = result_of (scenario);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_assert_cmpstr (nts_probe_phase_to_string (r->phase), ==, "certificate");
  g_assert_cmphex (r->cert_problems, ==, s->cert_problems);
  g_assert_cmpint (r->clock_suspect, ==, s->clock_suspect);
  g_assert_nonnull (r->cert_subject);
  g_assert_nonnull (r->cert_issuer);
  g_assert_nonnull (strstr (r->cert_issuer, s->issuer));
  if (s->kind == NTS_LOOPBACK_SERVER_WRONG_NAME)
    g_assert_nonnull (strstr (r->cert_subject, NTS_LOOPBACK_WRONG_NAME));
  else
    {
      g_autofree char *dashed = g_strdelimit (g_strdup (s->server), ".", '-');
      g_autofree char *subject = g_strdup_printf ("nts-%s.test", dashed);
      g_assert_nonnull (strstr (r->cert_subject, subject));
    }
  if (s->not_before != 0)
    {
      g_assert_cmpint (r->cert_not_before, ==, s->not_before);
      g_assert_cmpint (r->cert_not_after, ==, s->not_after);
    }
  else
    {
      /* openssl x509 -days 2: from now */
      g_assert_cmpint (r->cert_not_before, <=, now);
      g_assert_cmpint (r->cert_not_after, >, now);
    }
  assert_no_exchange (r);
  g_assert_nonnull (r->address);
  g_assert_cmpstr (r->address, ==, s->server);
}

static void
test_ke_closed (void)
{
  NtsProbeResult *r = result_of (KE_CLOSED);

  g_assert_cmpstr (nts_probe_phase_to_string (r->phase), ==, "tcp");
  g_assert_cmpstr (r->address, ==, scenarios[KE_CLOSED].server);
  g_assert_null (r->cert_subject);
  assert_no_exchange (r);
}

static void
test_ntp_dropped (void)
{
  NtsProbeResult *r = result_of (NTP_DROPPED);
  const char *ntp_address;
  guint16 ntp_port;

  g_assert_cmpstr (nts_probe_phase_to_string (r->phase), ==, "ntp-timeout");
  assert_ke_done (r);
  g_assert_true (
    nts_loopback_get_ntp_target (lb, scenarios[NTP_DROPPED].server, &ntp_address, &ntp_port));
  g_assert_cmpstr (r->ntp_server, ==, ntp_address);
  g_assert_cmpuint (r->ntp_port, ==, ntp_port);
  g_assert_cmpuint (r->ntp_cookies, ==, 0);
  g_assert_cmpstr (r->kiss, ==, "");
}

/* chronyd with `port 0` runs no NTP service, yet negotiates port 0: the
 * default port, as chronyd's own client takes it, where nothing listens. */
static void
test_ntp_port_0 (void)
{
  NtsProbeResult *r = result_of (NTP_PORT_0);

  g_assert_cmpstr (nts_probe_phase_to_string (r->phase), ==, "ntp-timeout");
  assert_ke_done (r);
  g_assert_cmpstr (r->address, ==, scenarios[NTP_PORT_0].server);
  g_assert_cmpstr (r->ntp_server, ==, scenarios[NTP_PORT_0].server);
  g_assert_cmpuint (r->ntp_port, ==, 123);
  g_assert_cmpuint (r->ntp_cookies, ==, 0);
  g_assert_cmpstr (r->kiss, ==, "");
}

static void
test_negotiated (void)
{
  NtsProbeResult *r = result_of (NEGOTIATED);

  assert_ok (NEGOTIATED);
  g_assert_cmpstr (r->address, ==, scenarios[NEGOTIATED].server);
  g_assert_cmpstr (r->ntp_server, ==, BACKENDS);
  g_assert_cmpuint (r->ntp_port, !=, 123);
}

/* The NAK and the kiss-o'-death: the key exchange went through, then the
 * NTP server said no. */
static void
test_kiss (gconstpointer data)
{
  guint scenario = GPOINTER_TO_UINT (data);
  NtsProbeResult *r = result_of (scenario);
  const char *ntp_address;
  guint16 ntp_port;

  g_assert_cmpstr (nts_probe_phase_to_string (r->phase), ==,
                   nts_probe_phase_to_string (scenarios[scenario].phase));
  g_assert_cmpstr (r->kiss, ==, scenarios[scenario].kiss);
  assert_ke_done (r);
  g_assert_true (
    nts_loopback_get_ntp_target (lb, scenarios[scenario].server, &ntp_address, &ntp_port));
  g_assert_cmpstr (r->ntp_server, ==, ntp_address);
  g_assert_cmpuint (r->ntp_port, ==, ntp_port);
  g_assert_cmpuint (r->ntp_cookies, ==, 0);
}

static void
test_secrets_only_for_ok (void)
{
  for (guint i = 0; i < N_SCENARIOS; i++)
    {
      NtsProbeResult *r = result_of (i);

      g_test_message ("%s: %s, secrets %s", scenarios[i].label,
                      nts_probe_phase_to_string (r->phase), r->has_secrets ? "yes" : "no");
      if (r->phase != NTS_PROBE_OK)
        assert_no_secrets (r);
      else
        g_assert_true (r->has_secrets);
    }
}

/* Not asked: none, even for a good server. */
static void
test_no_secrets_unasked (void)
{
  g_autoptr(NtsProbeRequest) request = nts_probe_request_new ();
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;
  double elapsed;

  get_probe_run (); /* counted first, undisturbed */
  nts_probe_request_add (request, scenarios[GOOD].name, scenarios[GOOD].ke_port);
  g_assert_true (
    g_file_get_contents (nts_loopback_get_ca_file (lb), &request->ca_pem, NULL, &error));
  request->timeout_ms = PROBE_TIMEOUT_MS;
  results = run_probe (request, &elapsed);
  g_assert_cmpuint (results->len, ==, 1);
  g_assert_cmpint (((NtsProbeResult *) results->pdata[0])->phase, ==, NTS_PROBE_OK);
  assert_no_secrets (results->pdata[0]);
  g_test_message ("one good server: %.3f s", elapsed);
}

/* One key exchange and at most two NTP packets per server, counted where
 * they arrived; all servers under the one deadline. */
static void
test_etiquette (void)
{
  ProbeRun *run = get_probe_run ();

  g_assert_cmpfloat (run->elapsed, <, PROBE_TIMEOUT_MS / 1000.0 + PROBE_MARGIN_S);
  for (guint i = 0; i < N_SCENARIOS; i++)
    {
      const NtsLoopbackServerStats *got = &run->received[i];
      NtsProbePhase phase = scenarios[i].phase;

      g_test_message ("%s: %" G_GUINT64_FORMAT " KE, %" G_GUINT64_FORMAT " NTP",
                      scenarios[i].label, got->ke_connections, got->ntp_packets);
      if (i == LOCALHOST)
        continue; /* the good server's, counted there */
      if (i == GOOD)
        {
          /* Two names of one address: at most one key exchange each. */
          g_assert_cmpuint (got->ke_connections, >=, 1);
          g_assert_cmpuint (got->ke_connections, <=, 2);
          g_assert_cmpuint (got->ntp_packets, >=, got->ke_connections);
          g_assert_cmpuint (got->ntp_packets, <=, 2 * got->ke_connections);
          continue;
        }
      g_assert_cmpuint (got->ke_connections, ==, phase == NTS_PROBE_TCP ? 0 : 1);
      if (i == NTP_PORT_0)
        continue; /* its NTP goes to port 123, where the test bed counts nothing */
      if (phase == NTS_PROBE_OK || phase == NTS_PROBE_NAK || phase == NTS_PROBE_KISS ||
          phase == NTS_PROBE_NTP_TIMEOUT)
        {
          g_assert_cmpuint (got->ntp_packets, >=, 1);
          g_assert_cmpuint (got->ntp_packets, <=, 2);
        }
      else
        g_assert_cmpuint (got->ntp_packets, ==, 0);
    }
}

/* chronyd -Q on each server says what the scenario means: the test bed
 * makes what it claims to. */
static void
test_chronyd_q (void)
{
  ChronydVerdict *verdicts = get_chronyd_verdicts ();

  for (guint i = 0; i < N_SCENARIOS; i++)
    {
      const ChronydVerdict *v = &verdicts[i];
      const NtsLoopbackServerKind kind = scenarios[i].kind;
      gboolean elsewhere = kind == NTS_LOOPBACK_SERVER_NEGOTIATED ||
                           kind == NTS_LOOPBACK_SERVER_NAK || kind == NTS_LOOPBACK_SERVER_KISS;
      g_autofree char *moved = g_strdup_printf ("Source %s changed to " BACKENDS " ",
                                                scenarios[i].server);

      if (g_test_verbose () || v->ok != (scenarios[i].phase == NTS_PROBE_OK) ||
          v->cert_problems != scenarios[i].cert_problems)
        g_test_message ("%s: chronyd -Q said:\n%s", scenarios[i].label, v->output);
      /* It took the server the key exchange negotiated. */
      g_assert_cmpint (strstr (v->output, moved) != NULL, ==, elsewhere);
      g_assert_cmpint (v->ok, ==, scenarios[i].phase == NTS_PROBE_OK);
      g_assert_cmphex (v->cert_problems, ==, scenarios[i].cert_problems);
      g_assert_cmpint (v->refused, ==, scenarios[i].phase == NTS_PROBE_TCP);
    }
}

/* The probe's verdict and chronyd's agree on every scenario: ok on the
 * same servers, and where chronyd names the cause (the certificate, a
 * refused connection), the probe names the same. */
static void
test_agrees_with_chronyd (void)
{
  ProbeRun *run = get_probe_run ();
  ChronydVerdict *verdicts = get_chronyd_verdicts ();

  g_test_message ("%-20s %-14s %-34s %s", "scenario", "probe", "chronyd -Q", "cause named");
  for (guint i = 0; i < N_SCENARIOS; i++)
    {
      NtsProbeResult *r = run->results->pdata[i];
      const ChronydVerdict *v = &verdicts[i];
      g_autofree char *chronyd_says = v->ok ? g_strdup_printf ("ok, offset %+.6f s", v->offset)
                                            : g_strdup ("no source");

      g_test_message ("%-20s %-14s %-34s %s", scenarios[i].label,
                      nts_probe_phase_to_string (r->phase), chronyd_says,
                      v->cert_problems ? "certificate"
                      : v->refused     ? "connection refused"
                                       : "-");
      g_assert_cmpint (r->phase == NTS_PROBE_OK, ==, v->ok);
      if (v->cert_problems != 0)
        {
          g_assert_cmpint (r->phase, ==, NTS_PROBE_CERTIFICATE);
          g_assert_cmphex (r->cert_problems, ==, v->cert_problems);
        }
      if (v->refused)
        g_assert_cmpint (r->phase, ==, NTS_PROBE_TCP);
      if (v->ok)
        g_assert_cmpfloat (ABS (r->offset - v->offset), <, 0.05);
    }
}

/* ---- setup -------------------------------------------------------------- */

/* The address a resolver gives first for "localhost": the name the good
 * scenario is asked by, so that "localhost" after it is the same address. */
static char *
localhost_first_address (void)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
  struct addrinfo *result = NULL;
  char host[NI_MAXHOST];

  g_assert_cmpint (getaddrinfo ("localhost", NULL, &hints, &result), ==, 0);
  g_assert_cmpint (getnameinfo (result->ai_addr, result->ai_addrlen, host, sizeof host, NULL, 0,
                                NI_NUMERICHOST),
                   ==, 0);
  freeaddrinfo (result);
  return g_strdup (host);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *why_not = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  probe_path = g_getenv ("NTSSETUP_PROBE");
  if (!nts_loopback_find_programs (&chronyd, NULL, &why_not))
    {
      g_test_skip (why_not);
      return g_test_run ();
    }
  g_assert_nonnull (probe_path);
  g_assert_true (g_file_test (probe_path, G_FILE_TEST_IS_EXECUTABLE));

  lb = nts_loopback_new (&error);
  g_assert_no_error (error);
  for (guint i = 0; i < N_SCENARIOS; i++)
    {
      Scenario *s = &scenarios[i];

      if (i == LOCALHOST)
        s->name = g_strdup ("localhost");
      else if (i == GOOD)
        s->name = localhost_first_address ();
      else
        s->name = g_strdup (s->server);
      if (i == LOCALHOST)
        ; /* the good scenario's server */
      else if (s->kind == NTS_LOOPBACK_SERVER_NEGOTIATED || s->kind == NTS_LOOPBACK_SERVER_NAK ||
               s->kind == NTS_LOOPBACK_SERVER_KISS)
        nts_loopback_add_server_via (lb, s->server, s->kind, BACKENDS, &error);
      else
        nts_loopback_add_server (lb, s->server, s->kind, &error);
      g_assert_no_error (error);
      s->ke_port = nts_loopback_get_nts_port (lb, s->server);
      g_assert_cmpuint (s->ke_port, !=, 0);
    }

  g_test_add_func ("/probe/good", test_good);
  g_test_add_func ("/probe/two-names", test_two_names);
  g_test_add_data_func ("/probe/certificate/unknown-issuer", GUINT_TO_POINTER (UNTRUSTED),
                        test_certificate);
  g_test_add_data_func ("/probe/certificate/expired", GUINT_TO_POINTER (EXPIRED),
                        test_certificate);
  g_test_add_data_func ("/probe/certificate/not-yet-valid", GUINT_TO_POINTER (NOT_YET_VALID),
                        test_certificate);
  g_test_add_data_func ("/probe/certificate/name-mismatch", GUINT_TO_POINTER (WRONG_NAME),
                        test_certificate);
  g_test_add_func ("/probe/ke-closed", test_ke_closed);
  g_test_add_func ("/probe/ntp-dropped", test_ntp_dropped);
  g_test_add_func ("/probe/ntp-port-0", test_ntp_port_0);
  g_test_add_func ("/probe/negotiated", test_negotiated);
  g_test_add_data_func ("/probe/nak", GUINT_TO_POINTER (NAK), test_kiss);
  g_test_add_data_func ("/probe/kiss", GUINT_TO_POINTER (KISS), test_kiss);
  g_test_add_func ("/probe/secrets-only-for-ok", test_secrets_only_for_ok);
  g_test_add_func ("/probe/etiquette", test_etiquette);
  g_test_add_func ("/probe/no-secrets-unasked", test_no_secrets_unasked);
  g_test_add_func ("/probe/chronyd-q", test_chronyd_q);
  g_test_add_func ("/probe/agrees-with-chronyd", test_agrees_with_chronyd);
  status = g_test_run ();

  if (probe_run != NULL)
    g_ptr_array_unref (probe_run->results);
  g_free (probe_run);
  for (guint i = 0; i < N_SCENARIOS; i++)
    g_free (chronyd_verdicts[i].output);
  nts_loopback_free (lb);
  for (guint i = 0; i < N_SCENARIOS; i++)
    g_free (scenarios[i].name);
  g_free (chronyd);
  return status;
}
