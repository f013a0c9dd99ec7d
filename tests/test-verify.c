/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Verify end to end: real chronyds on loopback, ntssetupd on a private
 * bus with the polkit and systemd stand-ins, and the report read through
 * D-Bus.
 *
 * One set of NTS servers (tests/nts-loopback.h) and one service serve
 * every case: each case has its own client chronyd, whose command socket
 * and configuration lie under the service's --root, and points the
 * service at it by rewriting <root>/etc/ntssetup/layout.conf (the service
 * notices a changed file at once). All clients start together at the
 * beginning, so the ~7 s until three sources synchronise are paid once.
 *
 * Servers:  127.0.0.2-4 good, .5 untrusted certificate, .6 NTS-KE port
 *           closed, .7 NTP never answered (port 0: clients use 123),
 *           .8 NTP requests dropped, .9 and .10 certificates expired.
 * The probe (ProbeServers, Verify's 'probe') is ntssetup-probe started by
 * the service on a socketpair (--root); it trusts the test CA because the
 * service hands it the root's /etc/ssl/certs/ca-certificates.crt.
 * Waiting is bounded everywhere: through Verify's own 'wait', or a loop
 * of Verify calls with a deadline. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nts-loopback.h"
#include "nts-names.h"
#include "service-fixture.h"

#define G2 "127.0.0.2"
#define G3 "127.0.0.3"
#define G4 "127.0.0.4"
#define UNTRUSTED "127.0.0.5"
#define KE_CLOSED "127.0.0.6"
#define NTP_SILENT "127.0.0.7"
#define NTP_DROPPED "127.0.0.8"
#define EXPIRED_A   "127.0.0.9"
#define EXPIRED_B   "127.0.0.10"

#define UNRESOLVABLE "nts-unknown.invalid"

/* Longest a case waits for chronyd to reach the state it checks. Three
 * sources synchronise ~7 s after start; the rest is for a loaded machine. */
#define SETTLE_S 40
#define CALL_TIMEOUT_MS 150000

/* Each source's operator in the default override: three different ones. */
#define DEFAULT_OPERATORS \
  "[operators]\n" \
  "Loopback Two=" G2 "\n" \
  "Loopback Three=" G3 "\n" \
  "Loopback Four=" G4 "\n"

typedef struct {
  const char *name;
  const char *const *servers;
  const char *const *extra_lines;
  guint minsources;
  NtsLoopbackClient *client;
} Client;

static const char *const good_servers[] = { G2, G3, G4, NULL };
static const char *const untrusted_servers[] = { G2, G3, UNTRUSTED, NULL };
static const char *const closed_servers[] = { G2, G3, KE_CLOSED, NULL };
static const char *const silent_servers[] = { G2, G3, NTP_SILENT, NULL };
static const char *const two_servers[] = { G2, G3, NULL };
static const char *const unresolved_lines[] = { "server " UNRESOLVABLE " iburst nts", NULL };

static const char *const one_server[] = { G2, NULL };
static const char *const dropped_servers[] = { G2, G3, NTP_DROPPED, NULL };
static const char *const expired_servers[] = { G2, G3, EXPIRED_A, NULL };
static const char *const far_off_servers[] = { EXPIRED_A, EXPIRED_B, NULL };


/* clang-format off */
enum { C_GOOD, C_UNTRUSTED, C_CLOSED, C_SILENT, C_UNRESOLVED, C_FEW, C_BACKOFF, C_RESTART,
       C_DROPPED, C_EXPIRED, C_FAR_OFF, N_CLIENTS };

static Client clients[N_CLIENTS] = {
  [C_GOOD]       = { "good", good_servers, NULL, 3 },
  [C_UNTRUSTED]  = { "untrusted", untrusted_servers, NULL, 2 },
  [C_CLOSED]     = { "closed", closed_servers, NULL, 2 },
  [C_SILENT]     = { "silent", silent_servers, NULL, 2 },
  [C_UNRESOLVED] = { "unresolved", two_servers, unresolved_lines, 2 },
  [C_FEW]        = { "few", two_servers, NULL, 3 },
  /* Two good sources and one whose TLS fails, three needed: waiting
   * cannot help once chronyd's 1024 s back-off is known. */
  [C_BACKOFF]    = { "backoff", untrusted_servers, NULL, 3 },
  /* Restarted by its test: the service's socket to it goes stale. */
  [C_RESTART]    = { "restart", one_server, NULL, 1 },
  [C_DROPPED]    = { "dropped", dropped_servers, NULL, 2 },
  /* One server's certificate expired: that server's fault. */
  [C_EXPIRED]    = { "expired", expired_servers, NULL, 2 },
  /* Every server's certificate out of date, as a client whose clock is
   * far off sees them. */
  [C_FAR_OFF]    = { "far-off", far_off_servers, NULL, 1 },
};
/* clang-format on */

static ServiceFixture fx;
static NtsLoopback *lb;
static char *skip_reason;

/* ---- a failed assertion must not leave the run hanging --------------- */

/* A failed assertion aborts the test; the bus, the stand-ins and the
 * daemon would live on and hold the test's output open, so the harness
 * would wait for its timeout. The chronyds die with us (PDEATHSIG); these
 * are killed here, with what a signal handler may use. */
static pid_t helper_pids[8];
static guint n_helper_pids;

static void
on_abort (int signum)
{
  for (guint i = 0; i < n_helper_pids; i++)
    kill (helper_pids[i], SIGKILL);
  signal (signum, SIG_DFL);
  raise (signum);
}

static void
kill_helpers_on_abort (void)
{
  GSubprocess *processes[] = { fx.daemon, fx.polkit, fx.systemd, fx.bus };

  for (gsize i = 0; i < G_N_ELEMENTS (processes); i++)
    if (processes[i] != NULL && g_subprocess_get_identifier (processes[i]) != NULL)
      helper_pids[n_helper_pids++] = (pid_t) atoi (g_subprocess_get_identifier (processes[i]));
  signal (SIGABRT, on_abort);
  signal (SIGTRAP, on_abort);
}

/* ---- the service's view ---------------------------------------------- */

static char *
socket_path (const char *name)
{
  return g_strdup_printf ("/run/c-%s/chronyd.sock", name);
}

static char *
config_path (const char *name)
{
  return g_strdup_printf ("/etc/chrony/%s.conf", name);
}

/* Points the service at client @name (a socket that may not exist). */
static void
use_client (const char *name, const char *operators)
{
  g_autofree char *sock = socket_path (name);
  g_autofree char *conf = config_path (name);
  g_autofree char *text = g_strdup_printf ("[chrony]\nprofile=debian\nconfig-file=%s\n"
                                           "socket-path=%s\nuser=root\nunit=chrony.service\n%s",
                                           conf, sock, operators ? operators : DEFAULT_OPERATORS);

  fixture_write_root_file (&fx, "/etc/ntssetup/layout.conf", text, 0644);
}

static GVariant *
systemd_control (const char *method, GVariant *params)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_sync (fx.client, "org.freedesktop.systemd1",
                                       "/org/freedesktop/systemd1", "org.ntssetup.Test.Systemd",
                                       method, params, NULL, G_DBUS_CALL_FLAGS_NONE, 30000,
                                       NULL, &error);
  g_assert_no_error (error);
  return reply;
}

static void
set_unit_state (const char *unit, const char *active_state)
{
  GVariantBuilder settings;
  g_autoptr(GVariant) reply = NULL;

  g_variant_builder_init (&settings, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&settings, "{sv}", "ActiveState", g_variant_new_string (active_state));
  g_variant_builder_add (&settings, "{sv}", "SubState",
                         g_variant_new_string (g_str_equal (active_state, "active") ? "running"
                                               : g_str_equal (active_state, "activating") ? "start"
                                               : "dead"));
  reply = systemd_control ("AddUnit", g_variant_new ("(sa{sv})", unit, &settings));
}

static GVariant *
verify_with (GDBusConnection *connection, guint wait_s, gboolean probe, GError **error)
{
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  g_autoptr(GVariant) reply = NULL;
  GVariant *report;

  if (wait_s > 0)
    g_variant_dict_insert (&options, "wait", "u", wait_s);
  if (probe)
    g_variant_dict_insert (&options, "probe", "b", TRUE);
  reply = g_dbus_connection_call_sync (connection, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                       NTS_DBUS_INTERFACE, "Verify",
                                       g_variant_new ("(@a{sv})", g_variant_dict_end (&options)),
                                       G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                       CALL_TIMEOUT_MS, NULL, error);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(@a{sv})", &report);
  return report;
}

static GVariant *
verify_on (GDBusConnection *connection, guint wait_s, GError **error)
{
  return verify_with (connection, wait_s, FALSE, error);
}

/* Verify with 'probe'. */
static GVariant *
verify_probe (guint wait_s)
{
  g_autoptr(GError) error = NULL;
  GVariant *report = verify_with (fx.client, wait_s, TRUE, &error);

  g_assert_no_error (error);
  return report;
}

static GVariant *
verify (guint wait_s)
{
  g_autoptr(GError) error = NULL;
  GVariant *report = verify_on (fx.client, wait_s, &error);

  g_assert_no_error (error);
  return report;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The problem codes, sorted and comma-separated: "" for none. */
static char *
codes (GVariant *report)
{
  g_autoptr(GVariant) problems = g_variant_lookup_value (report, "problems", G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  GVariantIter iter;
  GVariant *problem;

  g_assert_nonnull (problems);
  g_variant_iter_init (&iter, problems);
  while ((problem = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *code, *message, *hint, *source;

      g_assert_true (g_variant_lookup (problem, "code", "&s", &code));
      g_assert_true (g_variant_lookup (problem, "source", "&s", &source));
      g_assert_true (g_variant_lookup (problem, "message", "&s", &message));
      g_assert_true (g_variant_lookup (problem, "hint", "&s", &hint));
      g_assert_cmpstr (message, !=, "");
      g_assert_cmpstr (hint, !=, "");
      g_ptr_array_add (list, g_strdup (code));
      g_variant_unref (problem);
    }
  g_ptr_array_sort (list, compare_strings);
  g_ptr_array_add (list, NULL);
  return g_strjoinv (",", (char **) list->pdata);
}

/* The dict in the report's list @list whose @key is @value, or NULL. */
static GVariant *
find_entry (GVariant *report, const char *list, const char *key, const char *value)
{
  g_autoptr(GVariant) entries = g_variant_lookup_value (report, list, G_VARIANT_TYPE ("aa{sv}"));
  GVariantIter iter;
  GVariant *entry;

  g_variant_iter_init (&iter, entries);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *v;

      g_variant_lookup (entry, key, "&s", &v);
      if (g_str_equal (v, value))
        return entry;
      g_variant_unref (entry);
    }
  return NULL;
}

/* The problem with @code, or NULL. */
static GVariant *
find_problem (GVariant *report, const char *code)
{
  return find_entry (report, "problems", "code", code);
}

static GVariant *
find_source (GVariant *report, const char *name)
{
  GVariant *source = find_entry (report, "sources", "name", name);

  if (source == NULL)
    g_error ("no source %s in the report", name);
  return source;
}

static gboolean
report_ok (GVariant *report)
{
  gboolean ok = FALSE;

  g_variant_lookup (report, "ok", "b", &ok);
  return ok;
}

static guint
lookup_u (GVariant *report, const char *key)
{
  guint32 value = G_MAXUINT32;

  g_assert_true (g_variant_lookup (report, key, "u", &value));
  return value;
}

typedef gboolean (*ReportCheck) (GVariant *report, gconstpointer data);

/* Calls Verify (no wait) until @check holds, at most SETTLE_S seconds;
 * returns the report it held for, or fails the test showing the last. */
static GVariant *
verify_until (ReportCheck check, gconstpointer data, const char *what)
{
  gint64 until = g_get_monotonic_time () + SETTLE_S * G_USEC_PER_SEC;
  g_autoptr(GVariant) last = NULL;

  for (;;)
    {
      g_clear_pointer (&last, g_variant_unref);
      last = verify (0);
      if (check (last, data))
        return g_steal_pointer (&last);
      if (g_get_monotonic_time () >= until)
        break;
      g_usleep (250 * 1000);
    }
  {
    g_autofree char *shown = g_variant_print (last, TRUE);
    g_error ("%s: not reached within %d s; last report: %s", what, SETTLE_S, shown);
  }
}

static gboolean
has_code (GVariant *report, gconstpointer code)
{
  g_autoptr(GVariant) problem = find_problem (report, code);
  return problem != NULL;
}

static gboolean
ok_and_code (GVariant *report, gconstpointer code)
{
  return report_ok (report) && has_code (report, code);
}

static gboolean
skip_if_needed (void)
{
  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return TRUE;
    }
  return FALSE;
}

static void
assert_problem_source (GVariant *report, const char *code, const char *source)
{
  g_autoptr(GVariant) problem = find_problem (report, code);
  const char *s;

  g_assert_nonnull (problem);
  g_assert_true (g_variant_lookup (problem, "source", "&s", &s));
  g_assert_cmpstr (s, ==, source);
}

/* ---- the cases ------------------------------------------------------- */

static void
test_good (void)
{
  g_autoptr(GVariant) report = NULL;
  g_autofree char *found = NULL;
  const char *leap, *unit, *reference;
  gboolean synchronised = FALSE;
  const char *names[] = { G2, G3, G4 };
  const char *operators[] = { "Loopback Two", "Loopback Three", "Loopback Four" };

  if (skip_if_needed ())
    return;
  use_client ("good", NULL);

  /* Verify's own wait: it returns as soon as NTS is up. */
  report = verify (SETTLE_S);
  found = codes (report);
  g_assert_cmpstr (found, ==, "");
  g_assert_true (report_ok (report));
  g_assert_cmpuint (lookup_u (report, "authenticated-sources"), ==, 3);
  g_assert_cmpuint (lookup_u (report, "min-sources"), ==, 3);
  g_assert_true (g_variant_lookup (report, "synchronised", "b", &synchronised));
  g_assert_true (synchronised);
  g_assert_true (g_variant_lookup (report, "leap-status", "&s", &leap));
  g_assert_cmpstr (leap, ==, "normal");
  g_assert_true (g_variant_lookup (report, "reference", "&s", &reference));
  g_assert_true (g_str_equal (reference, G2) || g_str_equal (reference, G3) ||
                 g_str_equal (reference, G4));
  g_assert_true (g_variant_lookup (report, "chronyd-unit", "&s", &unit));
  g_assert_cmpstr (unit, ==, "chrony.service");
  g_assert_true (g_variant_lookup (report, "chronyd-state", "&s", &unit));
  g_assert_cmpstr (unit, ==, "active");
  g_assert_true (g_variant_lookup (report, "timesyncd-state", "&s", &unit));
  g_assert_cmpstr (unit, ==, "inactive");

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(GVariant) source = find_source (report, names[i]);
      const char *address, *state, *op;
      gboolean nts = FALSE, authenticated = FALSE, nak = TRUE;
      guint32 ke_count = 0, cookies = 0, attempts = 99;
      gint64 age = -2;
      guchar reach = 0;

      g_variant_lookup (source, "address", "&s", &address);
      g_assert_cmpstr (address, ==, names[i]);
      g_variant_lookup (source, "nts", "b", &nts);
      g_assert_true (nts);
      g_variant_lookup (source, "authenticated", "b", &authenticated);
      g_assert_true (authenticated);
      g_variant_lookup (source, "nak", "b", &nak);
      g_assert_false (nak);
      g_variant_lookup (source, "ke-count", "u", &ke_count);
      g_assert_cmpuint (ke_count, >=, 1);
      g_variant_lookup (source, "ke-attempts", "u", &attempts);
      g_assert_cmpuint (attempts, ==, 0);
      g_variant_lookup (source, "cookies", "u", &cookies);
      g_assert_cmpuint (cookies, >, 0);
      g_variant_lookup (source, "last-ke-age", "x", &age);
      g_assert_cmpint (age, >=, 0);
      g_variant_lookup (source, "reachability", "y", &reach);
      g_assert_cmpuint (reach, !=, 0);
      g_variant_lookup (source, "state", "&s", &state);
      /* chronyd may leave one out of its combination ('-'): still usable. */
      g_assert_true (g_str_equal (state, "selected") || g_str_equal (state, "candidate") ||
                     g_str_equal (state, "outlier"));
      g_variant_lookup (source, "operator", "&s", &op);
      g_assert_cmpstr (op, ==, operators[i]);
    }
}

static void
test_untrusted (void)
{
  g_autoptr(GVariant) report = NULL;
  g_autofree char *found = NULL;
  g_autoptr(GVariant) source = NULL;
  guint32 cookies = 99, attempts = 0;

  if (skip_if_needed ())
    return;
  use_client ("untrusted", NULL);

  report = verify_until (ok_and_code, "nts-ke-failed", "untrusted: synchronised, KE failing");
  found = codes (report);
  g_assert_cmpstr (found, ==, "nts-ke-failed");
  assert_problem_source (report, "nts-ke-failed", UNTRUSTED);
  source = find_source (report, UNTRUSTED);
  g_variant_lookup (source, "cookies", "u", &cookies);
  g_variant_lookup (source, "ke-attempts", "u", &attempts);
  g_assert_cmpuint (cookies, ==, 0);
  g_assert_cmpuint (attempts, >, 0);
  {
    g_autoptr(GVariant) problem = find_problem (report, "nts-ke-failed");
    const char *hint;

    g_variant_lookup (problem, "hint", "&s", &hint);
    /* What works now: a restart, not `chronyc reload sources`. */
    g_assert_nonnull (strstr (hint, "systemctl restart chrony.service"));
    g_assert_nonnull (strstr (hint, "1024"));
  }
}

static void
test_ke_closed (void)
{
  g_autoptr(GVariant) report = NULL;
  g_autofree char *found = NULL;

  if (skip_if_needed ())
    return;
  use_client ("closed", NULL);

  report = verify_until (ok_and_code, "nts-ke-failed", "closed: synchronised, KE failing");
  found = codes (report);
  g_assert_cmpstr (found, ==, "nts-ke-failed");
  assert_problem_source (report, "nts-ke-failed", KE_CLOSED);
}

static void
test_ntp_silent (void)
{
  g_autoptr(GVariant) report = NULL;
  g_autofree char *found = NULL;
  g_autoptr(GVariant) source = NULL;
  guint32 ke_count = 0;

  if (skip_if_needed ())
    return;
  use_client ("silent", NULL);

  report = verify_until (ok_and_code, "ntp-unanswered", "silent: synchronised, NTP unanswered");
  found = codes (report);
  g_assert_cmpstr (found, ==, "ntp-unanswered");
  assert_problem_source (report, "ntp-unanswered", NTP_SILENT);
  source = find_source (report, NTP_SILENT);
  g_variant_lookup (source, "ke-count", "u", &ke_count);
  g_assert_cmpuint (ke_count, >=, 1);
}

static void
test_unresolved (void)
{
  g_autoptr(GVariant) report = NULL;
  g_autofree char *found = NULL;
  g_autoptr(GVariant) source = NULL;
  const char *address, *state;
  gboolean nts = FALSE;

  if (skip_if_needed ())
    return;
  use_client ("unresolved", NULL);

  report = verify_until (ok_and_code, "name-unresolved", "unresolved: synchronised, name unresolved");
  found = codes (report);
  g_assert_cmpstr (found, ==, "name-unresolved");
  assert_problem_source (report, "name-unresolved", UNRESOLVABLE);
  /* chronyc hides it without -a; the protocol gives it with family 3. */
  source = find_source (report, UNRESOLVABLE);
  g_variant_lookup (source, "address", "&s", &address);
  g_assert_cmpstr (address, ==, "");
  g_variant_lookup (source, "state", "&s", &state);
  g_assert_cmpstr (state, ==, "unresolved");
  /* From the configuration: chronyd has no NTS data for it yet. */
  g_variant_lookup (source, "nts", "b", &nts);
  g_assert_true (nts);
}

static gboolean
two_usable (GVariant *report, gconstpointer data)
{
  return lookup_u (report, "authenticated-sources") == 2;
}

static void
test_too_few (void)
{
  g_autoptr(GVariant) report = NULL;
  g_autoptr(GVariant) waited = NULL;
  g_autofree char *found = NULL;
  gint64 start;

  if (skip_if_needed ())
    return;
  use_client ("few", NULL);

  report = verify_until (two_usable, NULL, "few: both sources usable");
  found = codes (report);
  g_assert_cmpstr (found, ==, "not-synchronised,too-few-authenticated");
  g_assert_false (report_ok (report));
  g_assert_cmpuint (lookup_u (report, "min-sources"), ==, 3);

  /* Two sources can never make three: a wait ends at once. */
  start = g_get_monotonic_time ();
  waited = verify (60);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_false (report_ok (waited));
}

static void
test_single_operator (void)
{
  g_autoptr(GVariant) report = NULL;
  g_autofree char *found = NULL;
  g_autoptr(GVariant) source = NULL;
  const char *op;

  if (skip_if_needed ())
    return;
  use_client ("good", "[operators]\nLoopback Ops=127.0.0.*\n");

  report = verify (SETTLE_S);
  found = codes (report);
  g_assert_cmpstr (found, ==, "single-operator");
  /* Authenticated and synchronised all the same. */
  g_assert_true (report_ok (report));
  source = find_source (report, G3);
  g_variant_lookup (source, "operator", "&s", &op);
  g_assert_cmpstr (op, ==, "Loopback Ops");
}

static void
test_timesyncd_active (void)
{
  g_autoptr(GVariant) report = NULL;
  g_autofree char *found = NULL;
  const char *state;

  if (skip_if_needed ())
    return;
  use_client ("good", NULL);
  set_unit_state ("systemd-timesyncd.service", "active");

  report = verify (SETTLE_S);
  found = codes (report);
  g_assert_true (g_variant_lookup (report, "timesyncd-state", "&s", &state));
  g_assert_cmpstr (state, ==, "active");
  set_unit_state ("systemd-timesyncd.service", "inactive");
  g_assert_cmpstr (found, ==, "timesyncd-active");
}

static void
test_chronyd_down (void)
{
  g_autoptr(GVariant) inactive = NULL, active = NULL, activating = NULL, waited = NULL;
  g_autofree char *c_inactive = NULL, *c_active = NULL, *c_activating = NULL;
  const char *state;
  gint64 start;

  if (skip_if_needed ())
    return;
  use_client ("nowhere", NULL);   /* no chronyd behind this socket */

  set_unit_state ("chrony.service", "inactive");
  inactive = verify (0);
  /* Not running and not starting: waiting cannot help. */
  start = g_get_monotonic_time ();
  waited = verify (60);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);

  /* The socket also vanishes while chronyd restarts: an active or
   * activating unit is no reason to say "not running". */
  set_unit_state ("chrony.service", "activating");
  activating = verify (0);
  set_unit_state ("chrony.service", "active");
  active = verify (0);

  c_inactive = codes (inactive);
  c_activating = codes (activating);
  c_active = codes (active);
  g_assert_cmpstr (c_inactive, ==, "chronyd-not-running");
  g_assert_cmpstr (c_activating, ==, "socket-unreachable");
  g_assert_cmpstr (c_active, ==, "socket-unreachable");
  g_assert_false (report_ok (inactive));
  g_assert_true (g_variant_lookup (inactive, "chronyd-state", "&s", &state));
  g_assert_cmpstr (state, ==, "inactive");
  g_assert_cmpuint (lookup_u (inactive, "authenticated-sources"), ==, 0);
}

static void
test_backoff_ends_wait (void)
{
  g_autoptr(GVariant) report = NULL;
  g_autofree char *found = NULL;
  gint64 start, took;

  if (skip_if_needed ())
    return;
  use_client ("backoff", NULL);

  /* The untrusted server fails in TLS: chronyd retries only after 1024 s,
   * and two sources cannot satisfy minsources 3 — the wait ends early. */
  start = g_get_monotonic_time ();
  report = verify (60);
  took = g_get_monotonic_time () - start;
  g_test_message ("wait ended after %.1f s", took / 1e6);
  g_assert_cmpint (took, <, 20 * G_USEC_PER_SEC);
  found = codes (report);
  g_assert_cmpstr (found, ==, "not-synchronised,nts-ke-failed,too-few-authenticated");
}

/* Answers to the waits of test_waits_per_user, which may come after it returned
 * (the main loop runs again in teardown): counted in a static. */
static guint waits_done;

static void
on_wait_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  waits_done++;
}

static guint
polkit_checks_answered (void)
{
  g_autoptr(GVariant) reply = fixture_polkit (&fx, "GetChecks", NULL);
  g_autoptr(GVariant) checks = g_variant_get_child_value (reply, 0);
  GVariantIter iter;
  const char *outcome;
  guint n = 0;

  g_variant_iter_init (&iter, checks);
  while (g_variant_iter_next (&iter, "(&s@a{sv}&su&s&s)", NULL, NULL, NULL, NULL, NULL, &outcome))
    n += !g_str_equal (outcome, "pending");
  return n;
}

static void
test_waits_per_user (void)
{
  guint checks_before;
  g_autoptr(GDBusConnection) other = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) now = NULL;
  g_autoptr(GVariant) refused = NULL;
  gint64 until;

  if (skip_if_needed ())
    return;
  /* A unit that is starting and a socket that never comes: each wait
   * would run its full length. */
  use_client ("nowhere", NULL);
  set_unit_state ("chrony.service", "activating");

  checks_before = polkit_checks_answered ();
  other = fixture_connect (&fx);
  /* Waiting places are per user (two each), and every call here is
   * root's. */
  for (int i = 0; i < 2; i++)
    g_dbus_connection_call (other, NTS_DBUS_NAME, NTS_DBUS_PATH,
                            NTS_DBUS_INTERFACE, "Verify",
                            g_variant_new_parsed ("({'wait': <uint32 100>},)"),
                            NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL,
                            on_wait_done, NULL);
  /* polkit answers in order, and the service takes the answers in order:
   * once the two are answered, the next call comes after them. */
  until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (polkit_checks_answered () < checks_before + 2 && g_get_monotonic_time () < until)
    g_usleep (20 * 1000);

  /* The user's third wait is refused, from any of its connections; a
   * report at once never is. */
  until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  do
    {
      g_clear_error (&error);
      g_clear_pointer (&refused, g_variant_unref);
      refused = verify_on (fx.client, 1, &error);
    }
  while (refused != NULL && g_get_monotonic_time () < until);
  g_assert_nonnull (error);
  g_assert_true (g_dbus_error_is_remote_error (error));
  {
    g_autofree char *name = g_dbus_error_get_remote_error (error);
    g_assert_cmpstr (name, ==, "org.freedesktop.DBus.Error.LimitsExceeded");
  }
  g_clear_error (&error);
  now = verify_on (fx.client, 0, &error);
  g_assert_no_error (error);

  /* The waiting caller leaves: its waits end and free their places. */
  g_dbus_connection_close_sync (other, NULL, NULL);
  until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GVariant) accepted = NULL;

      g_clear_error (&error);
      accepted = verify_on (fx.client, 1, &error);
      if (accepted != NULL || g_get_monotonic_time () >= until)
        break;
      g_usleep (100 * 1000);
    }
  g_assert_no_error (error);
  set_unit_state ("chrony.service", "active");
}

static void
test_bad_operators (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) report = NULL;

  if (skip_if_needed ())
    return;
  use_client ("good", "[operators]\nBroken=time?.example.org\n");
  report = verify_on (fx.client, 0, &error);
  g_assert_null (report);
  g_assert_true (g_dbus_error_is_remote_error (error));
  g_assert_nonnull (strstr (error->message, "Broken"));
  use_client ("good", NULL);
}

static gboolean
has_sources (GVariant *report, gconstpointer data)
{
  g_autoptr(GVariant) sources = g_variant_lookup_value (report, "sources", G_VARIANT_TYPE ("aa{sv}"));
  return sources != NULL && g_variant_n_children (sources) > 0;
}

/* The service keeps its socket to chronyd between calls; a restart of
 * chronyd (a new socket, maybe a new directory) must not make the next
 * Verify wait for replies that cannot come. */
static void
test_chronyd_restart (void)
{
  g_autoptr(GVariant) before = NULL, down = NULL, after = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *down_codes = NULL;
  NtsLoopbackClient *client = clients[C_RESTART].client;
  gint64 start;

  if (skip_if_needed ())
    return;
  use_client ("restart", NULL);
  before = verify_until (has_sources, NULL, "restart: chronyd answers");

  nts_loopback_client_stop (client);
  down = verify (0);
  down_codes = codes (down);
  g_assert_cmpstr (down_codes, ==, "socket-unreachable");

  nts_loopback_client_restart (lb, client, &error);
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  after = verify (0);
  /* chronyc's own retries would take 1 + 2 + 4 s. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1 * G_USEC_PER_SEC);
  g_assert_true (has_sources (after, NULL));

  /* Restarted between two calls, unseen. */
  g_clear_pointer (&after, g_variant_unref);
  nts_loopback_client_restart (lb, client, &error);
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  after = verify (0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1 * G_USEC_PER_SEC);
  g_assert_true (has_sources (after, NULL));
}

/* ---- compared with chronyc ------------------------------------------- */

typedef struct {
  GPtrArray *rows;  /* char ** */
} Csv;

static void
csv_free (Csv *csv)
{
  g_ptr_array_unref (csv->rows);
  g_free (csv);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Csv, csv_free)

static Csv *
chronyc_csv (NtsLoopbackClient *client, const char *const *args)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  Csv *csv = g_new0 (Csv, 1);

  nts_loopback_client_chronyc (lb, client, args, &out, &error);
  g_assert_no_error (error);
  csv->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  lines = g_strsplit (out, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    if (**l != '\0')
      g_ptr_array_add (csv->rows, g_strsplit (*l, ",", -1));
  return csv;
}

static char **
csv_row (Csv *csv, guint column, const char *key, guint n_fields)
{
  for (guint i = 0; i < csv->rows->len; i++)
    {
      char **row = csv->rows->pdata[i];

      if (g_strv_length (row) == n_fields && g_str_equal (row[column], key))
        return row;
    }
  g_error ("chronyc printed no row for %s", key);
}

/* A value from chronyc equals what Verify reported just before or just
 * after it ran, as chronyc would print it. */
static void
same_text (const char *what, const char *chronyc, const char *before, const char *after)
{
  if (g_strcmp0 (chronyc, before) != 0 && g_strcmp0 (chronyc, after) != 0)
    g_error ("%s: chronyc says '%s', Verify said '%s' then '%s'", what, chronyc, before, after);
}

/* For values that move while we look: within [min, max] of Verify's two
 * answers, widened by @tolerance. */
static void
in_range (const char *what, const char *chronyc, double before, double after, double tolerance)
{
  double value = g_ascii_strtod (chronyc, NULL);

  if (value < MIN (before, after) - tolerance || value > MAX (before, after) + tolerance)
    g_error ("%s: chronyc says %s, Verify said %.9f then %.9f (tolerance %g)",
             what, chronyc, before, after, tolerance);
}

/* A value of a source dict as chronyc prints it: numbers in decimal (the
 * reach register in octal), offsets with 9 decimals, flags as 1/0. */
static char *
source_string (GVariant *source, const char *key)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (source, key, NULL);

  g_assert_nonnull (value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    return g_strdup_printf ("%u", g_variant_get_uint32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTE))
    return g_strdup_printf (g_str_equal (key, "reachability") ? "%o" : "%u",
                            g_variant_get_byte (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup (g_variant_get_boolean (value) ? "1" : "0");
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return g_strdup_printf ("%.9f", g_variant_get_double (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return g_strdup (g_variant_get_string (value, NULL));
  g_assert_not_reached ();
}

static double
source_double (GVariant *source, const char *key)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (source, key, NULL);

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return (double) g_variant_get_int64 (value);
  return g_variant_get_double (value);
}

static const char *
state_char (const char *state)
{
  if (g_str_equal (state, "selected"))
    return "*";
  if (g_str_equal (state, "candidate"))
    return "+";
  if (g_str_equal (state, "outlier"))
    return "-";
  if (g_str_equal (state, "falseticker"))
    return "x";
  if (g_str_equal (state, "jittery"))
    return "~";
  return "?";
}

static const char *
leap_text (const char *leap)
{
  if (g_str_equal (leap, "normal"))
    return "Normal";
  if (g_str_equal (leap, "insert-second"))
    return "Insert second";
  if (g_str_equal (leap, "delete-second"))
    return "Delete second";
  return "Not synchronised";
}

static void
compare_source (GVariant *b, GVariant *a, Csv *sources, Csv *named_sources, Csv *authdata,
                Csv *ntpdata)
{
  g_autofree char *name = source_string (b, "name");
  g_autofree char *address = source_string (b, "address");
  char **row;

  /* sources: mode,state,name,stratum,poll,reach,lastrx,offset,orig,error —
   * by address without -N, by the configured name with it. */
  row = csv_row (sources, 2, address, 10);
  {
    g_autofree char *sb = source_string (b, "state"), *sa = source_string (a, "state");
    g_autofree char *rb = source_string (b, "reachability"), *ra = source_string (a, "reachability");
    g_autofree char *stb = source_string (b, "stratum"), *sta = source_string (a, "stratum");
    g_autofree char *ob = source_string (b, "offset"), *oa = source_string (a, "offset");

    g_assert_cmpstr (row[0], ==, "^");
    same_text ("state", row[1], state_char (sb), state_char (sa));
    same_text ("stratum", row[3], stb, sta);
    same_text ("reachability", row[5], rb, ra);
    /* The latest sample: the same unless a new one came in between. */
    same_text ("offset", row[7], ob, oa);
  }
  row = csv_row (named_sources, 2, name, 10);

  /* authdata -N: name,mode,keyid,type,klen,last,atmp,nak,cook,clen */
  row = csv_row (authdata, 0, name, 10);
  {
    g_autofree char *kb = source_string (b, "ke-count"), *ka = source_string (a, "ke-count");
    g_autofree char *tb = source_string (b, "ke-attempts"), *ta = source_string (a, "ke-attempts");
    g_autofree char *nb = source_string (b, "nak"), *na = source_string (a, "nak");
    g_autofree char *cb = source_string (b, "cookies"), *ca = source_string (a, "cookies");
    g_autofree char *mb = source_string (b, "nts"), *ma = source_string (a, "nts");

    same_text ("nts", g_str_equal (row[1], "NTS") ? "1" : "0", mb, ma);
    same_text ("ke-count", row[2], kb, ka);
    /* Seconds since the key exchange: counted when asked, so a second
     * may tick between the calls. */
    in_range ("last-ke-age", row[5], source_double (b, "last-ke-age"),
              source_double (a, "last-ke-age"), 1);
    same_text ("ke-attempts", row[6], tb, ta);
    same_text ("nak", row[7], nb, na);
    same_text ("cookies", row[8], cb, ca);
  }

  /* ntpdata -N: field 0 the remote address, 27 "Authenticated". */
  row = csv_row (ntpdata, 0, address, 34);
  {
    g_autofree char *ab = source_string (b, "authenticated");
    g_autofree char *aa = source_string (a, "authenticated");

    same_text ("authenticated", g_str_equal (row[27], "Yes") ? "1" : "0", ab, aa);
  }
}

static void
test_compare_with_chronyc (void)
{
  NtsLoopbackClient *client;
  g_autoptr(GVariant) settled = NULL, before = NULL, after = NULL;
  g_autoptr(Csv) sources = NULL, named = NULL, authdata = NULL, tracking = NULL, ntpdata = NULL;
  const char *const a_sources[] = { "-c", "sources", NULL };
  const char *const a_named[] = { "-c", "-N", "sources", NULL };
  const char *const a_auth[] = { "-c", "-N", "authdata", NULL };
  const char *const a_tracking[] = { "-c", "tracking", NULL };
  const char *const a_ntpdata[] = { "-c", "-N", "ntpdata", NULL };
  g_autoptr(GVariant) sb = NULL, sa = NULL;
  char **row;
  guint authenticated = 0;

  if (skip_if_needed ())
    return;
  client = clients[C_GOOD].client;
  use_client ("good", NULL);
  settled = verify (SETTLE_S);
  g_assert_true (report_ok (settled));

  before = verify (0);
  sources = chronyc_csv (client, a_sources);
  named = chronyc_csv (client, a_named);
  authdata = chronyc_csv (client, a_auth);
  tracking = chronyc_csv (client, a_tracking);
  ntpdata = chronyc_csv (client, a_ntpdata);
  after = verify (0);

  sb = g_variant_lookup_value (before, "sources", G_VARIANT_TYPE ("aa{sv}"));
  sa = g_variant_lookup_value (after, "sources", G_VARIANT_TYPE ("aa{sv}"));
  g_assert_cmpuint (g_variant_n_children (sb), ==, sources->rows->len);
  g_assert_cmpuint (g_variant_n_children (sa), ==, sources->rows->len);
  g_assert_cmpuint (authdata->rows->len, ==, sources->rows->len);

  for (gsize i = 0; i < g_variant_n_children (sb); i++)
    {
      g_autoptr(GVariant) b = g_variant_get_child_value (sb, i);
      g_autofree char *name = source_string (b, "name");
      g_autoptr(GVariant) a = find_source (after, name);

      compare_source (b, a, sources, named, authdata, ntpdata);
    }

  /* authenticated-sources: NTS, authenticated, reachable, not rejected —
   * counted from chronyc's own tables. */
  for (guint i = 0; i < sources->rows->len; i++)
    {
      char **srow = sources->rows->pdata[i];
      char **arow = csv_row (authdata, 0, srow[2], 10);
      char **nrow = csv_row (ntpdata, 0, srow[2], 34);

      if (g_str_equal (arow[1], "NTS") && g_str_equal (nrow[27], "Yes") &&
          !g_str_equal (srow[5], "0") && strchr ("*+-", srow[1][0]) != NULL)
        authenticated++;
    }
  g_assert_cmpuint (authenticated, ==, lookup_u (before, "authenticated-sources"));
  g_assert_cmpuint (authenticated, ==, lookup_u (after, "authenticated-sources"));

  /* tracking: refid,name,stratum,reftime,correction,...,leap */
  row = tracking->rows->pdata[0];
  g_assert_cmpuint (g_strv_length (row), ==, 14);
  {
    const char *rb, *ra, *lb_, *la;
    guchar stb, sta;
    double ob, oa;
    g_autofree char *st_b = NULL, *st_a = NULL;

    g_variant_lookup (before, "reference", "&s", &rb);
    g_variant_lookup (after, "reference", "&s", &ra);
    same_text ("reference", row[1], rb, ra);
    g_variant_lookup (before, "stratum", "y", &stb);
    g_variant_lookup (after, "stratum", "y", &sta);
    st_b = g_strdup_printf ("%u", stb);
    st_a = g_strdup_printf ("%u", sta);
    same_text ("stratum", row[2], st_b, st_a);
    /* chronyc prints the correction left to make (positive: the clock is
     * slow); Verify the clock's error (positive: fast). It changes while
     * chronyd slews, so within 1 µs. */
    g_variant_lookup (before, "system-offset", "d", &ob);
    g_variant_lookup (after, "system-offset", "d", &oa);
    in_range ("system-offset", row[4], -ob, -oa, 1e-6);
    g_variant_lookup (before, "leap-status", "&s", &lb_);
    g_variant_lookup (after, "leap-status", "&s", &la);
    same_text ("leap-status", row[13], leap_text (lb_), leap_text (la));
  }
}

/* ---- ntsctl ---------------------------------------------------------- */

static int
run_ntsctl (const char *const *args, char **out)
{
  const char *ntsctl = g_getenv ("NTSCTL");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) env = fixture_environ (&fx);
  g_autoptr(GError) error = NULL;
  int status;

  g_ptr_array_add (argv, (gpointer) ntsctl);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, out, NULL,
                &status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static void
test_ntsctl (void)
{
  const char *const verify_args[] = { "verify", "--no-ask-password", NULL };
  const char *const json_args[] = { "verify", "--json", "--no-ask-password", NULL };
  g_autofree char *good = NULL, *few = NULL, *json = NULL;
  g_autoptr(GVariant) settled = NULL;

  if (skip_if_needed ())
    return;
  if (g_getenv ("NTSCTL") == NULL)
    {
      g_test_skip ("NTSCTL not set");
      return;
    }

  use_client ("good", NULL);
  settled = verify (SETTLE_S);
  g_assert_cmpint (run_ntsctl (verify_args, &good), ==, 0);
  g_test_message ("%s", good);
  g_assert_nonnull (strstr (good, G2));
  g_assert_nonnull (strstr (good, "3 of 3 sources authenticated (min-sources 3)"));
  g_assert_null (strstr (good, "Problems:"));

  g_assert_cmpint (run_ntsctl (json_args, &json), ==, 0);
  g_assert_nonnull (strstr (json, "\"authenticated-sources\""));

  use_client ("few", NULL);
  g_assert_cmpint (run_ntsctl (verify_args, &few), ==, 3);
  g_test_message ("%s", few);
  g_assert_nonnull (strstr (few, "Problems:"));
  g_assert_nonnull (strstr (few, "too-few-authenticated"));
  use_client ("good", NULL);
}

/* ---- the probe ---------------------------------------------------------- */

static GVariant *
probe_servers_on (GDBusConnection *connection, const char *server, guint16 port, GError **error)
{
  const char *servers[] = { server, NULL };
  g_autoptr(GVariant) reply = NULL;
  GVariant *results;

  reply = g_dbus_connection_call_sync (connection, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                       NTS_DBUS_INTERFACE, "ProbeServers",
                                       g_variant_new_parsed ("(%^as, {'nts-port': <%q>})",
                                                             servers, port),
                                       G_VARIANT_TYPE ("(aa{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                       CALL_TIMEOUT_MS, NULL, error);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(@aa{sv})", &results);
  return results;
}

/* The one result of probing @address on its own NTS-KE port. */
static GVariant *
probe_one (const char *address)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) results = probe_servers_on (fx.client, address,
                                                  nts_loopback_get_nts_port (lb, address),
                                                  &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (results), ==, 1);
  return g_variant_get_child_value (results, 0);
}

static void
test_probe_servers (void)
{
  g_autoptr(GVariant) good = NULL, again = NULL, untrusted = NULL, closed = NULL;
  const char *result = NULL, *server = NULL;
  guint8 stratum = 0;
  guint32 cookies = 0;

  if (skip_if_needed ())
    return;

  good = probe_one (G3);
  g_assert_true (g_variant_lookup (good, "server", "&s", &server));
  g_assert_cmpstr (server, ==, G3);
  g_assert_true (g_variant_lookup (good, "result", "&s", &result));
  g_assert_cmpstr (result, ==, "ok");
  g_assert_true (g_variant_lookup (good, "stratum", "y", &stratum));
  g_assert_cmpuint (stratum, ==, 1);
  g_assert_true (g_variant_lookup (good, "ke-cookies", "u", &cookies));
  g_assert_cmpuint (cookies, ==, 8);
  /* Keys and cookies stay in the service. */
  g_assert_false (g_variant_lookup (good, "c2s", "@ay", NULL));
  g_assert_false (g_variant_lookup (good, "cookie-data", "@aay", NULL));

  /* Within a minute, from memory: the very same result, timings and all
   * (a new probe would have measured new ones). */
  again = probe_one (G3);
  g_assert_true (g_variant_equal (good, again));

  untrusted = probe_one (UNTRUSTED);
  g_assert_true (g_variant_lookup (untrusted, "result", "&s", &result));
  g_assert_cmpstr (result, ==, "certificate");
  {
    g_autofree const char **problems = NULL;

    g_assert_true (g_variant_lookup (untrusted, "certificate-problems", "^a&s", &problems));
    g_assert_cmpstr (problems[0], ==, "unknown-issuer");
    g_assert_null (problems[1]);
  }

  closed = probe_one (KE_CLOSED);
  g_assert_true (g_variant_lookup (closed, "result", "&s", &result));
  g_assert_cmpstr (result, ==, "tcp");
}

typedef struct {
  gboolean done;
  GVariant *reply;
  GError *error;
} PendingCall;

static void
on_pending_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  PendingCall *pending = user_data;

  pending->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                  &pending->error);
  pending->done = TRUE;
}

/* One probe at a time per user: a second, while the first waits for an
 * NTP reply that never comes, is refused at once. */
static void
test_probe_one_at_a_time (void)
{
  PendingCall slow = { 0 };
  const char *servers[] = { NTP_SILENT, NULL };
  gboolean refused = FALSE;

  if (skip_if_needed ())
    return;

  g_dbus_connection_call (fx.client, NTS_DBUS_NAME, NTS_DBUS_PATH, NTS_DBUS_INTERFACE,
                          "ProbeServers",
                          g_variant_new_parsed ("(%^as, {'nts-port': <%q>})", servers,
                                                nts_loopback_get_nts_port (lb, NTP_SILENT)),
                          G_VARIANT_TYPE ("(aa{sv})"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                          NULL, on_pending_done, &slow);
  /* Until the slow probe ends (its deadline bounds it), ask again: once
   * it holds its place, the next is LimitsExceeded. */
  while (!slow.done && !refused)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) results = probe_servers_on (fx.client, G4,
                                                      nts_loopback_get_nts_port (lb, G4),
                                                      &error);

      if (results == NULL)
        {
          g_autofree char *name = g_dbus_error_get_remote_error (error);
          g_assert_cmpstr (name, ==, "org.freedesktop.DBus.Error.LimitsExceeded");
          refused = TRUE;
        }
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_true (refused);
  g_assert_true (fixture_wait_flag (&slow.done, CALL_TIMEOUT_MS));
  g_assert_no_error (slow.error);
  {
    g_autoptr(GVariant) result = g_variant_get_child_value (slow.reply, 0);
    g_autoptr(GVariant) first = g_variant_get_child_value (result, 0);
    const char *phase;

    g_variant_lookup (first, "result", "&s", &phase);
    g_assert_cmpstr (phase, ==, "ntp-timeout");
  }
  g_variant_unref (slow.reply);
}

/* ntsctl probe runs the probe itself, as the invoking user: no service. */
static void
test_ntsctl_probe (void)
{
  g_autofree char *port = NULL, *out = NULL, *closed_out = NULL, *json = NULL;

  if (skip_if_needed ())
    return;
  if (g_getenv ("NTSCTL") == NULL)
    {
      g_test_skip ("NTSCTL not set");
      return;
    }

  port = g_strdup_printf ("%u", nts_loopback_get_nts_port (lb, G2));
  {
    const char *const args[] = { "probe", "--port", port, "--ca", nts_loopback_get_ca_file (lb),
                                 G2,      NULL };
    g_assert_cmpint (run_ntsctl (args, &out), ==, 0);
  }
  g_test_message ("%s", out);
  g_assert_nonnull (strstr (out, G2 " (port "));
  g_assert_nonnull (strstr (out, "): ok\n"));
  g_assert_nonnull (strstr (out, "stratum 1"));
  {
    const char *const args[] = { "--json", "probe", "--port",
                                 port,     "--ca",  nts_loopback_get_ca_file (lb),
                                 G2,       NULL };
    g_assert_cmpint (run_ntsctl (args, &json), ==, 0);
  }
  g_assert_nonnull (strstr (json, "\"result\" : \"ok\""));
  g_assert_null (strstr (json, "c2s"));
  {
    g_autofree char *closed_port = g_strdup_printf ("%u",
                                                    nts_loopback_get_nts_port (lb, KE_CLOSED));
    const char *const args[] = { "probe", "--port", closed_port, KE_CLOSED, NULL };
    g_assert_cmpint (run_ntsctl (args, &closed_out), ==, 3);
  }
  g_assert_nonnull (strstr (closed_out, "): tcp\n"));
}

/* ---- Verify's probe ------------------------------------------------------ */

static void
assert_contains (const char *text, const char *part)
{
  if (strstr (text, part) == NULL)
    g_error ("\"%s\" does not contain \"%s\"", text, part);
}

static const char *
lookup_s (GVariant *dict, const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (dict, key, "&s", &value))
    g_error ("no string '%s' in %s", key, g_variant_print (dict, TRUE));
  return value;
}

/* The 'probe' of source @name in @report, or NULL. */
static GVariant *
source_probe (GVariant *report, const char *name)
{
  g_autoptr(GVariant) source = find_source (report, name);

  return g_variant_lookup_value (source, "probe", G_VARIANT_TYPE_VARDICT);
}

/* The problem with @code, which must be about @source. */
static GVariant *
source_problem (GVariant *report, const char *code, const char *source)
{
  GVariant *problem = find_problem (report, code);

  if (problem == NULL)
    {
      g_autofree char *shown = g_variant_print (report, TRUE);
      g_error ("no problem %s in %s", code, shown);
    }
  g_assert_cmpstr (lookup_s (problem, "source"), ==, source);
  return problem;
}

static guint64
ke_connections (const char *address)
{
  NtsLoopbackServerStats stats = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (nts_loopback_get_server_stats (lb, address, &stats, &error));
  g_assert_no_error (error);
  return stats.ke_connections;
}

static gboolean
ke_failures (GVariant *report, gconstpointer n)
{
  g_autoptr(GVariant) problems = g_variant_lookup_value (report, "problems",
                                                         G_VARIANT_TYPE ("aa{sv}"));
  GVariantIter iter;
  GVariant *problem;
  guint found = 0;

  g_variant_iter_init (&iter, problems);
  while ((problem = g_variant_iter_next_value (&iter)) != NULL)
    {
      found += g_str_equal (lookup_s (problem, "code"), "nts-ke-failed");
      g_variant_unref (problem);
    }
  return found == GPOINTER_TO_UINT (n);
}

static void
assert_limits_exceeded (const GError *error)
{
  g_autofree char *name = NULL;

  g_assert_nonnull (error);
  name = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (name, ==, "org.freedesktop.DBus.Error.LimitsExceeded");
}

/* A Verify with probe holds a probe place of its user for as long as it
 * runs (the probe of a server whose NTP requests are dropped lasts its
 * whole deadline): ProbeServers, and another Verify with probe, are
 * refused meanwhile; a Verify without probe is not. First of the cases
 * that probe NTP_DROPPED, so that its probe is a real, slow one. */
static void
test_verify_probe_limit (void)
{
  PendingCall slow = { 0 };
  gboolean refused = FALSE;
  g_autoptr(GVariant) settled = NULL, report = NULL, problem = NULL, probe = NULL;
  g_autoptr(GVariant) good = NULL;
  g_autofree char *udp = NULL;
  const char *ntp_address = NULL;
  guint16 ntp_port = 0;

  if (skip_if_needed ())
    return;
  use_client ("dropped", NULL);
  settled = verify_until (ok_and_code, "ntp-unanswered",
                          "dropped: synchronised, NTP unanswered");

  g_dbus_connection_call (fx.client, NTS_DBUS_NAME, NTS_DBUS_PATH, NTS_DBUS_INTERFACE, "Verify",
                          g_variant_new_parsed ("({'probe': <true>},)"),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                          NULL, on_pending_done, &slow);
  /* ProbeServers first: accepted, it is answered at once (from memory,
   * or a good server), so the loop keeps asking until the slow Verify
   * holds its place. */
  while (!slow.done && !refused)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) results = probe_servers_on (fx.client, G4,
                                                      nts_loopback_get_nts_port (lb, G4),
                                                      &error);

      if (results == NULL)
        {
          g_autoptr(GError) probing_error = NULL, plain_error = NULL;
          g_autoptr(GVariant) probing = NULL, plain = NULL, plain_probe = NULL;

          assert_limits_exceeded (error);
          refused = TRUE;
          probing = verify_with (fx.client, 0, TRUE, &probing_error);
          g_assert_null (probing);
          assert_limits_exceeded (probing_error);
          plain = verify_on (fx.client, 0, &plain_error);
          g_assert_no_error (plain_error);
          plain_probe = source_probe (plain, NTP_DROPPED);
          g_assert_null (plain_probe);
        }
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_true (refused);
  g_assert_true (fixture_wait_flag (&slow.done, CALL_TIMEOUT_MS));
  g_assert_no_error (slow.error);
  g_variant_get (slow.reply, "(@a{sv})", &report);
  g_variant_unref (slow.reply);

  /* And what it found: the key exchange works, NTP to where it leads is
   * dropped. */
  problem = source_problem (report, "ntp-unanswered", NTP_DROPPED);
  assert_contains (lookup_s (problem, "message"), "no NTP reply");
  g_assert_true (nts_loopback_get_ntp_target (lb, NTP_DROPPED, &ntp_address, &ntp_port));
  udp = g_strdup_printf ("UDP %u", ntp_port);
  assert_contains (lookup_s (problem, "hint"), udp);
  probe = source_probe (report, NTP_DROPPED);
  g_assert_nonnull (probe);
  g_assert_cmpstr (lookup_s (probe, "result"), ==, "ntp-timeout");
  /* Only failing sources are probed. */
  good = source_probe (report, G2);
  g_assert_null (good);
}

/* One expired certificate among good servers: the problem says so, with
 * the certificate's dates; no probe without 'probe'; a second Verify
 * within the cache's minute is answered from memory. First of the cases
 * that probe EXPIRED_A. */
static void
test_verify_probe_expired (void)
{
  g_autoptr(GVariant) settled = NULL, plain = NULL, first = NULL, second = NULL;
  g_autoptr(GVariant) problem = NULL, plain_problem = NULL, probe = NULL, probe_again = NULL;
  g_autofree char *found = NULL;
  g_autofree const char **cert_problems = NULL;
  guint64 before, after_plain, after_first, after_second;
  gint64 not_after = 0;
  gboolean clock_suspect = FALSE;

  if (skip_if_needed ())
    return;
  /* Both clients of EXPIRED_A have tried it and wait 1024 s before they
   * try again: from here on, only probes reach it. */
  use_client ("far-off", NULL);
  settled = verify_until (ke_failures, GUINT_TO_POINTER (2), "far-off: both key exchanges fail");
  g_clear_pointer (&settled, g_variant_unref);
  use_client ("expired", NULL);
  settled = verify_until (ok_and_code, "nts-ke-failed", "expired: synchronised, KE failing");

  before = ke_connections (EXPIRED_A);
  plain = verify (0);
  after_plain = ke_connections (EXPIRED_A);
  g_assert_cmpuint (after_plain, ==, before);
  g_assert_null (source_probe (plain, EXPIRED_A));
  plain_problem = source_problem (plain, "nts-ke-failed", EXPIRED_A);
  g_assert_null (strstr (lookup_s (plain_problem, "message"), "probe"));

  first = verify_probe (0);
  after_first = ke_connections (EXPIRED_A);
  /* The probe's one key exchange: the count above could have moved. */
  g_assert_cmpuint (after_first, ==, before + 1);
  found = codes (first);
  g_assert_cmpstr (found, ==, "nts-ke-failed");
  problem = source_problem (first, "nts-ke-failed", EXPIRED_A);
  assert_contains (lookup_s (problem, "message"), "expired");
  assert_contains (lookup_s (problem, "hint"), "2022-01-01 00:00 UTC");
  probe = source_probe (first, EXPIRED_A);
  g_assert_nonnull (probe);
  g_assert_cmpstr (lookup_s (probe, "result"), ==, "certificate");
  g_assert_true (g_variant_lookup (probe, "certificate-problems", "^a&s", &cert_problems));
  g_assert_true (g_strv_contains (cert_problems, "expired"));
  g_assert_true (g_variant_lookup (probe, "certificate-not-after", "x", &not_after));
  g_assert_cmpint (not_after, ==, NTS_LOOPBACK_EXPIRED_NOT_AFTER);
  g_assert_true (g_variant_lookup (probe, "clock-suspect", "b", &clock_suspect));
  g_assert_true (clock_suspect);
  /* Keys and cookies stay in the service. */
  g_assert_false (g_variant_lookup (probe, "c2s", "@ay", NULL));

  /* From memory: no new key exchange, and the very same answer, timings
   * and all. */
  second = verify_probe (0);
  after_second = ke_connections (EXPIRED_A);
  g_assert_cmpuint (after_second, ==, after_first);
  probe_again = source_probe (second, EXPIRED_A);
  g_assert_nonnull (probe_again);
  g_assert_true (g_variant_equal (probe, probe_again));
}

/* Every server's certificate fails on its dates alone and nothing
 * authenticates: this machine's clock is the likely culprit. */
static void
test_verify_probe_far_off (void)
{
  g_autoptr(GVariant) settled = NULL, report = NULL, problems = NULL, first = NULL;
  g_autoptr(GVariant) probe_a = NULL, probe_b = NULL;
  g_autofree char *found = NULL;

  if (skip_if_needed ())
    return;
  use_client ("far-off", NULL);
  settled = verify_until (ke_failures, GUINT_TO_POINTER (2), "far-off: both key exchanges fail");
  g_assert_null (find_problem (settled, "clock-far-off"));

  report = verify_probe (0);
  found = codes (report);
  g_assert_cmpstr (found, ==,
                   "clock-far-off,not-synchronised,nts-ke-failed,nts-ke-failed,"
                   "too-few-authenticated");
  g_assert_false (report_ok (report));
  problems = g_variant_lookup_value (report, "problems", G_VARIANT_TYPE ("aa{sv}"));
  first = g_variant_get_child_value (problems, 0);
  g_assert_cmpstr (lookup_s (first, "code"), ==, "clock-far-off");
  g_assert_cmpstr (lookup_s (first, "source"), ==, "");
  assert_contains (lookup_s (first, "hint"), "allow-clock-far-off");
  probe_a = source_probe (report, EXPIRED_A);
  probe_b = source_probe (report, EXPIRED_B);
  g_assert_nonnull (probe_a);
  g_assert_nonnull (probe_b);
  g_assert_cmpstr (lookup_s (probe_b, "result"), ==, "certificate");
}

static void
test_verify_probe_untrusted (void)
{
  g_autoptr(GVariant) settled = NULL, report = NULL, problem = NULL;
  const char *message;

  if (skip_if_needed ())
    return;
  use_client ("untrusted", NULL);
  settled = verify_until (ok_and_code, "nts-ke-failed", "untrusted: synchronised, KE failing");

  report = verify_probe (0);
  problem = source_problem (report, "nts-ke-failed", UNTRUSTED);
  message = lookup_s (problem, "message");
  assert_contains (message, "unknown issuer");
  assert_contains (message, NTS_LOOPBACK_OTHER_CA_NAME);
  assert_contains (lookup_s (problem, "hint"), "trusted CAs");
  /* One untrusted server among good ones: not the clock. */
  g_assert_null (find_problem (report, "clock-far-off"));
}

static void
test_verify_probe_ke_closed (void)
{
  g_autoptr(GVariant) settled = NULL, report = NULL, problem = NULL, probe = NULL;

  if (skip_if_needed ())
    return;
  use_client ("closed", NULL);
  settled = verify_until (ok_and_code, "nts-ke-failed", "closed: synchronised, KE failing");

  report = verify_probe (0);
  problem = source_problem (report, "nts-ke-failed", KE_CLOSED);
  assert_contains (lookup_s (problem, "message"), "refused");
  assert_contains (lookup_s (problem, "hint"), "firewall");
  probe = source_probe (report, KE_CLOSED);
  g_assert_nonnull (probe);
  g_assert_cmpstr (lookup_s (probe, "result"), ==, "tcp");
}

/* Its key exchange sends clients to port 123, where nothing answers. */
static void
test_verify_probe_ntp_silent (void)
{
  g_autoptr(GVariant) settled = NULL, report = NULL, problem = NULL;

  if (skip_if_needed ())
    return;
  use_client ("silent", NULL);
  settled = verify_until (ok_and_code, "ntp-unanswered", "silent: synchronised, NTP unanswered");

  report = verify_probe (0);
  problem = source_problem (report, "ntp-unanswered", NTP_SILENT);
  /* Nothing listens on 127.0.0.7's port 123: the probe sees it refused. */
  assert_contains (lookup_s (problem, "message"), "key exchange fine, but UDP 123");
  assert_contains (lookup_s (problem, "hint"), "UDP 123");
}

static void
test_verify_probe_unresolved (void)
{
  g_autoptr(GVariant) settled = NULL, report = NULL, problem = NULL, probe = NULL;

  if (skip_if_needed ())
    return;
  use_client ("unresolved", NULL);
  settled = verify_until (ok_and_code, "name-unresolved",
                          "unresolved: synchronised, name unresolved");

  report = verify_probe (0);
  problem = source_problem (report, "name-unresolved", UNRESOLVABLE);
  assert_contains (lookup_s (problem, "hint"), "resolvectl query " UNRESOLVABLE);
  probe = source_probe (report, UNRESOLVABLE);
  g_assert_nonnull (probe);
  g_assert_cmpstr (lookup_s (probe, "result"), ==, "dns");
}

/* A wait that ends early on chronyd's TLS back-off judged it by a probe;
 * the final report reuses that probe rather than asking again. */
static void
test_verify_probe_wait (void)
{
  g_autoptr(GVariant) report = NULL, problem = NULL, probe = NULL;
  guint64 before;
  gint64 start, took;

  if (skip_if_needed ())
    return;
  use_client ("backoff", NULL);

  before = ke_connections (UNTRUSTED);
  start = g_get_monotonic_time ();
  report = verify_probe (60);
  took = g_get_monotonic_time () - start;
  g_assert_cmpint (took, <, 20 * G_USEC_PER_SEC);
  /* One probe for the wait and the report (none when the cache still
   * held the server from an earlier case). */
  g_assert_cmpuint (ke_connections (UNTRUSTED), <=, before + 1);
  problem = source_problem (report, "nts-ke-failed", UNTRUSTED);
  assert_contains (lookup_s (problem, "message"), "unknown issuer");
  probe = source_probe (report, UNTRUSTED);
  g_assert_nonnull (probe);
  g_assert_cmpstr (lookup_s (probe, "result"), ==, "certificate");
}

static void
test_verify_probe_bad_type (void)
{
  const char *const bad[] = { "({'probe': <'yes'>},)", "({'probe': <uint32 1>},)" };

  if (skip_if_needed ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;
      g_autofree char *name = NULL;

      reply = g_dbus_connection_call_sync (fx.client, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                           NTS_DBUS_INTERFACE, "Verify",
                                           g_variant_new_parsed (bad[i]),
                                           G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                           CALL_TIMEOUT_MS, NULL, &error);
      g_assert_null (reply);
      name = g_dbus_error_get_remote_error (error);
      g_assert_cmpstr (name, ==, "org.freedesktop.DBus.Error.InvalidArgs");
      assert_contains (error->message, "\"probe\" must be of type b");
    }
}

static void
test_verify_probe_ntsctl (void)
{
  const char *const args[] = { "verify", "--probe", "--no-ask-password", NULL };
  const char *const json_args[] = { "--json", "verify", "--probe", "--no-ask-password", NULL };
  g_autoptr(GVariant) settled = NULL;
  g_autofree char *out = NULL, *json = NULL, *line = NULL;

  if (skip_if_needed ())
    return;
  if (g_getenv ("NTSCTL") == NULL)
    {
      g_test_skip ("NTSCTL not set");
      return;
    }
  use_client ("closed", NULL);
  settled = verify_until (ok_and_code, "nts-ke-failed", "closed: synchronised, KE failing");

  g_assert_cmpint (run_ntsctl (args, &out), ==, 0);
  g_test_message ("%s", out);
  /* The verdict per failing source, beside the problem that uses it. */
  line = g_strdup_printf ("  %s: tcp: TCP %u refused", KE_CLOSED,
                          nts_loopback_get_nts_port (lb, KE_CLOSED));
  assert_contains (out, "Probes:");
  assert_contains (out, line);
  assert_contains (out, "nts-ke-failed");

  g_assert_cmpint (run_ntsctl (json_args, &json), ==, 0);
  assert_contains (json, "\"probe\"");
  assert_contains (json, "\"result\" : \"tcp\"");
  use_client ("good", NULL);
}

/* ---- setup ----------------------------------------------------------- */

static const ServiceOptions service_options = {
  .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\"]}",
  .systemd_params = "{\"units\": {"
                    "\"chrony.service\": {\"ActiveState\": \"active\", \"UnitFileState\": \"enabled\"},"
                    "\"systemd-timesyncd.service\": {\"ActiveState\": \"inactive\", \"UnitFileState\": \"disabled\"}"
                    "}}",
};

static gboolean
start_test_bed (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dbus_daemon = NULL;
  /* clang-format off */
  const struct { const char *address; NtsLoopbackServerKind kind; } servers[] = {
    { G2, NTS_LOOPBACK_SERVER_GOOD },
    { G3, NTS_LOOPBACK_SERVER_GOOD },
    { G4, NTS_LOOPBACK_SERVER_GOOD },
    { UNTRUSTED, NTS_LOOPBACK_SERVER_UNTRUSTED },
    { KE_CLOSED, NTS_LOOPBACK_SERVER_KE_CLOSED },
    { NTP_SILENT, NTS_LOOPBACK_SERVER_NTP_SILENT },
    { NTP_DROPPED, NTS_LOOPBACK_SERVER_NTP_DROPPED },
    { EXPIRED_A, NTS_LOOPBACK_SERVER_EXPIRED },
    { EXPIRED_B, NTS_LOOPBACK_SERVER_EXPIRED },
  };
  /* clang-format on */

  if (!nts_loopback_find_programs (NULL, NULL, &skip_reason))
    return FALSE;
  dbus_daemon = g_find_program_in_path ("dbus-daemon");
  if (dbus_daemon == NULL)
    {
      skip_reason = g_strdup ("needs dbus-daemon");
      return FALSE;
    }

  service_fixture_setup (&fx, &service_options);
  /* chrony counts as installed: the layout finds its binary. */
  fixture_write_root_file (&fx, "/usr/sbin/chronyd", "", 0755);
  use_client ("good", NULL);
  service_fixture_start_daemon (&fx);
  kill_helpers_on_abort ();

  lb = nts_loopback_new (&error);
  g_assert_no_error (error);
  {
    g_autofree char *ca = NULL;

    g_file_get_contents (nts_loopback_get_ca_file (lb), &ca, NULL, &error);
    g_assert_no_error (error);
    fixture_write_root_file (&fx, "/etc/ssl/certs/ca-certificates.crt", ca, 0644);
  }
  for (gsize i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      nts_loopback_add_server (lb, servers[i].address, servers[i].kind, &error);
      g_assert_no_error (error);
    }
  for (gsize i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *sock_rel = socket_path (clients[i].name);
      g_autofree char *conf_rel = config_path (clients[i].name);
      g_autofree char *sock = g_build_filename (fx.root, sock_rel, NULL);
      g_autofree char *conf = g_build_filename (fx.root, conf_rel, NULL);
      NtsLoopbackClientSpec spec = {
        .name = clients[i].name,
        .servers = clients[i].servers,
        .extra_lines = clients[i].extra_lines,
        .minsources = clients[i].minsources,
        .socket_path = sock,
        .config_path = conf,
      };

      clients[i].client = nts_loopback_add_client (lb, &spec, &error);
      g_assert_no_error (error);
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("NTSSETUPD") == NULL)
    skip_reason = g_strdup ("NTSSETUPD not set");
  else
    (void) start_test_bed ();

  /* Cases that need chronyd in a state it reaches with time come after
   * those that do not, so the wait overlaps with their work. */
  g_test_add_func ("/verify/chronyd-down", test_chronyd_down);
  g_test_add_func ("/verify/bad-operators", test_bad_operators);
  g_test_add_func ("/verify/waits-per-user", test_waits_per_user);
  g_test_add_func ("/verify/backoff-ends-wait", test_backoff_ends_wait);
  g_test_add_func ("/verify/good", test_good);
  g_test_add_func ("/verify/compare-with-chronyc", test_compare_with_chronyc);
  g_test_add_func ("/verify/single-operator", test_single_operator);
  g_test_add_func ("/verify/timesyncd-active", test_timesyncd_active);
  g_test_add_func ("/verify/too-few", test_too_few);
  g_test_add_func ("/verify/untrusted", test_untrusted);
  g_test_add_func ("/verify/ke-closed", test_ke_closed);
  g_test_add_func ("/verify/ntp-silent", test_ntp_silent);
  g_test_add_func ("/verify/unresolved", test_unresolved);
  g_test_add_func ("/verify/ntsctl", test_ntsctl);
  g_test_add_func ("/verify/chronyd-restart", test_chronyd_restart);
  g_test_add_func ("/verify/probe/servers", test_probe_servers);
  g_test_add_func ("/verify/probe/one-at-a-time", test_probe_one_at_a_time);
  g_test_add_func ("/verify/probe/ntsctl", test_ntsctl_probe);
  /* Verify's 'probe': the first to probe NTP_DROPPED and EXPIRED_A come
   * first, for probes that are real; NTP_SILENT after
   * /verify/probe/one-at-a-time, which needs its probe to be real. */
  g_test_add_func ("/verify/verify-probe/limit", test_verify_probe_limit);
  g_test_add_func ("/verify/verify-probe/expired", test_verify_probe_expired);
  g_test_add_func ("/verify/verify-probe/far-off", test_verify_probe_far_off);
  g_test_add_func ("/verify/verify-probe/untrusted", test_verify_probe_untrusted);
  g_test_add_func ("/verify/verify-probe/ke-closed", test_verify_probe_ke_closed);
  g_test_add_func ("/verify/verify-probe/ntp-silent", test_verify_probe_ntp_silent);
  g_test_add_func ("/verify/verify-probe/unresolved", test_verify_probe_unresolved);
  g_test_add_func ("/verify/verify-probe/wait", test_verify_probe_wait);
  g_test_add_func ("/verify/verify-probe/bad-type", test_verify_probe_bad_type);
  g_test_add_func ("/verify/verify-probe/ntsctl", test_verify_probe_ntsctl);

  status = g_test_run ();

  if (lb != NULL)
    nts_loopback_free (lb);
  if (skip_reason == NULL)
    service_fixture_teardown (&fx);
  g_free (skip_reason);
  return status;
}
