/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The diagnosis rules (service/verify/diagnosis.c) on hand-built snapshots, the
 * operator table, the configuration scan and the key-exchange back-off
 * arithmetic: everything of Verify that needs no chronyd. */
#include <glib/gstdio.h>
#include <string.h>

#include "chrony-conf-scan.h"
#include "diagnosis.h"
#include "ke-backoff.h"
#include "layout-override.h"
#include "operators.h"
#include "probe-diagnosis.h"

/* ---- building snapshots -------------------------------------------- */

/* A healthy NTS source, selected. */
static NtsDiagSource
good_source (const char *name)
{
  NtsDiagSource s = {
    .name = name,
    .address = name,
    .operator_name = "",
    .state = NTS_SOURCE_CANDIDATE,
    .nts = TRUE,
    .ke_count = 1,
    .ke_attempts = 0,
    .last_ke_age = 120,
    .cookies = 8,
    .authenticated = TRUE,
    .reachability = 0377,
    .last_sample_age = 30,
    .stratum = 1,
    .have_counters = TRUE,
    .tx_count = 20,
    .rx_count = 20,
  };
  return s;
}

static NtsDiagSnapshot
snapshot (NtsDiagSource *sources, guint n, guint min_sources)
{
  NtsDiagSnapshot snap = {
    .chrony_installed = TRUE,
    .chronyd_path = "/usr/sbin/chronyd",
    .chronyd_unit = "chrony.service",
    .chronyd_state = "active",
    .timesyncd_unit = "systemd-timesyncd.service",
    .timesyncd_state = "inactive",
    .socket_path = "/run/chrony/chronyd.sock",
    .config_file = "/etc/chrony/chrony.conf",
    .socket_reachable = TRUE,
    .chronyd_uptime = 3600,
    .synchronised = TRUE,
    .min_sources = min_sources,
    .sources = sources,
    .n_sources = n,
  };
  if (n > 0)
    sources[0].state = NTS_SOURCE_SELECTED;
  return snap;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* "code@source" for each problem, sorted, comma-separated. */
static char *
diagnose (const NtsDiagSnapshot *snap)
{
  g_autoptr(GPtrArray) problems = nts_diagnose (snap);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < problems->len; i++)
    {
      NtsProblem *p = problems->pdata[i];

      /* Every problem says what and what to do. */
      g_assert_cmpstr (p->message, !=, "");
      g_assert_cmpstr (p->hint, !=, "");
      g_assert_true (g_utf8_validate (p->message, -1, NULL));
      g_assert_true (g_utf8_validate (p->hint, -1, NULL));
      g_ptr_array_add (list, *p->source ? g_strdup_printf ("%s@%s", p->code, p->source)
                                        : g_strdup (p->code));
    }
  g_ptr_array_sort (list, compare_strings);
  g_ptr_array_add (list, NULL);
  return g_strjoinv (",", (char **) list->pdata);
}

static const NtsProblem *
problem (GPtrArray *problems, const char *code)
{
  for (guint i = 0; i < problems->len; i++)
    if (g_str_equal (((NtsProblem *) problems->pdata[i])->code, code))
      return problems->pdata[i];
  return NULL;
}

/* ---- rules ---------------------------------------------------------- */

static void
test_all_good (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example"), good_source ("c.example") };
  NtsDiagSnapshot snap = snapshot (s, 3, 3);
  g_autofree char *found = diagnose (&snap);

  g_assert_cmpstr (found, ==, "");
  g_assert_cmpuint (nts_diag_authenticated_sources (&snap), ==, 3);
  g_assert_true (nts_diag_is_ok (&snap));
}

static void
test_ke_failed (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example"), good_source ("bad.example") };
  NtsDiagSnapshot snap = snapshot (s, 3, 2);
  g_autofree char *found = NULL;
  g_autoptr(GPtrArray) problems = NULL;
  const NtsProblem *p;

  /* As chronyd shows an untrusted certificate or a closed port. */
  s[2].ke_count = 0;
  s[2].ke_attempts = 1;
  s[2].cookies = 0;
  s[2].last_ke_age = -1;
  s[2].authenticated = FALSE;
  s[2].reachability = 0;
  s[2].last_sample_age = -1;
  s[2].state = NTS_SOURCE_UNREACHABLE;
  s[2].tx_count = s[2].rx_count = 0;
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "nts-ke-failed@bad.example");
  g_assert_true (nts_diag_is_ok (&snap));

  problems = nts_diagnose (&snap);
  p = problem (problems, "nts-ke-failed");
  /* What works now: a restart; and why reload does not. */
  g_assert_nonnull (strstr (p->hint, "systemctl restart chrony.service"));
  g_assert_nonnull (strstr (p->hint, "reload sources"));
  g_assert_nonnull (strstr (p->hint, "1024"));
  g_assert_nonnull (strstr (p->hint, "4460"));
  g_assert_nonnull (strstr (p->hint, "openssl s_client -connect bad.example:4460"));
}

static void
test_ke_failed_ipv6 (void)
{
  NtsDiagSource s[] = { good_source ("2001:db8::1") };
  NtsDiagSnapshot snap = snapshot (s, 1, 1);
  g_autoptr(GPtrArray) problems = NULL;

  s[0].cookies = 0;
  s[0].ke_attempts = 3;
  s[0].ke_count = 0;
  s[0].reachability = 0;
  s[0].authenticated = FALSE;
  s[0].state = NTS_SOURCE_UNREACHABLE;
  snap.synchronised = FALSE;
  problems = nts_diagnose (&snap);
  g_assert_nonnull (strstr (problem (problems, "nts-ke-failed")->hint, "[2001:db8::1]:4460"));
}

/* chronyd takes an exchange's result at the next poll: until then a good
 * exchange looks like a failed one. */
static void
test_ke_under_way (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example") };
  NtsDiagSnapshot snap = snapshot (s, 2, 1);
  g_autofree char *starting = NULL, *later = NULL, *rekeying = NULL, *rekey_failed = NULL;

  /* The first exchange, 3 s after chronyd started. */
  s[1].ke_count = 0;
  s[1].ke_attempts = 1;
  s[1].cookies = 0;
  s[1].last_ke_age = -1;
  s[1].authenticated = FALSE;
  s[1].reachability = 0;
  s[1].state = NTS_SOURCE_UNREACHABLE;
  s[1].tx_count = s[1].rx_count = 0;
  snap.chronyd_uptime = 3;
  starting = diagnose (&snap);
  g_assert_cmpstr (starting, ==, "");

  /* Long enough for the result to have been taken: it failed. */
  snap.chronyd_uptime = NTS_DIAG_KE_STARTUP_S + 1;
  later = diagnose (&snap);
  g_assert_cmpstr (later, ==, "nts-ke-failed@b.example");

  /* A new exchange after a NAK while the source still answers. */
  s[1] = good_source ("b.example");
  s[1].cookies = 0;
  s[1].ke_attempts = 1;
  s[1].ke_count = 4;
  rekeying = diagnose (&snap);
  g_assert_cmpstr (rekeying, ==, "");

  /* The second attempt: the first one failed. */
  s[1].ke_attempts = 2;
  rekey_failed = diagnose (&snap);
  g_assert_cmpstr (rekey_failed, ==, "nts-ke-failed@b.example");
}

/* A key exchange that worked earlier, then failed after authenticated
 * replies: the exchange is the problem, not NTP. */
static void
test_ke_failed_after_working (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example") };
  NtsDiagSnapshot snap = snapshot (s, 2, 1);
  g_autofree char *found = NULL;

  s[1].ke_count = 3;
  s[1].last_ke_age = 1209600;    /* two weeks: keys refreshed */
  s[1].last_sample_age = 70;     /* answered since that exchange */
  s[1].cookies = 0;
  s[1].ke_attempts = 2;
  s[1].reachability = 0;
  s[1].authenticated = TRUE;
  s[1].state = NTS_SOURCE_UNREACHABLE;
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "nts-ke-failed@b.example");
}

static void
test_ntp_unanswered (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example"), good_source ("quiet.example") };
  NtsDiagSnapshot snap = snapshot (s, 3, 2);
  g_autofree char *found = NULL;

  /* Key exchange fine, cookies being spent, nothing comes back. */
  s[2].ke_attempts = 1;
  s[2].cookies = 4;
  s[2].last_ke_age = 9;
  s[2].last_sample_age = -1;
  s[2].reachability = 0;
  s[2].authenticated = FALSE;
  s[2].tx_count = 4;
  s[2].rx_count = 0;
  s[2].state = NTS_SOURCE_UNREACHABLE;
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "ntp-unanswered@quiet.example");

  /* The cookies spent: chronyd waits out its back-off before the next
   * exchange. Still NTP's fault, not the key exchange's. */
  s[2].cookies = 0;
  s[2].tx_count = 8;
  g_clear_pointer (&found, g_free);
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "ntp-unanswered@quiet.example");
  g_assert_false (nts_diag_source_ke_failing (&snap, &s[2]));

  /* The first request still on its way is no silence. */
  s[2].cookies = 7;
  s[2].tx_count = 1;
  g_clear_pointer (&found, g_free);
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "");
}

static void
test_unresolved (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example"),
                        good_source ("nts.example.invalid") };
  NtsDiagSnapshot snap = snapshot (s, 3, 2);
  g_autofree char *found = NULL;

  /* Family 3: no address, no NTS or NTP data from chronyd. */
  s[2] = (NtsDiagSource) {
    .name = "nts.example.invalid", .address = "", .operator_name = "",
    .state = NTS_SOURCE_UNRESOLVED, .nts = TRUE, .last_ke_age = -1, .last_sample_age = -1,
  };
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "name-unresolved@nts.example.invalid");
  g_assert_cmpint (nts_source_state_from_chrony (1, 0, TRUE), ==, NTS_SOURCE_UNRESOLVED);
}

static void
test_not_nts (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example"), good_source ("pool.example") };
  NtsDiagSnapshot snap = snapshot (s, 3, 2);
  g_autofree char *found = NULL;

  /* Plain NTP under authselectmode require: answers, never selectable. */
  s[2].nts = FALSE;
  s[2].ke_count = 0;
  s[2].cookies = 0;
  s[2].last_ke_age = -1;
  s[2].authenticated = FALSE;
  s[2].state = NTS_SOURCE_UNUSABLE;
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "not-nts@pool.example");
  g_assert_cmpuint (nts_diag_authenticated_sources (&snap), ==, 2);

  /* A reference clock is neither NTS nor a problem. */
  s[2].reference_clock = TRUE;
  g_clear_pointer (&found, g_free);
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "");
}

static void
test_nak (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example") };
  NtsDiagSnapshot snap = snapshot (s, 2, 1);
  g_autofree char *found = NULL;

  s[1].nak = TRUE;
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "nts-nak@b.example");
}

static void
test_too_few (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example") };
  NtsDiagSnapshot snap = snapshot (s, 2, 3);
  g_autofree char *found = NULL;
  g_autoptr(GPtrArray) problems = NULL;

  /* minsources 3 with two usable sources: both '-', not synchronised. */
  s[0].state = s[1].state = NTS_SOURCE_OUTLIER;
  snap.synchronised = FALSE;
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "not-synchronised,too-few-authenticated");
  g_assert_cmpuint (nts_diag_authenticated_sources (&snap), ==, 2);
  g_assert_false (nts_diag_is_ok (&snap));

  problems = nts_diagnose (&snap);
  /* Two sources configured, three needed: more servers, not patience. */
  g_assert_nonnull (strstr (problem (problems, "too-few-authenticated")->hint, "at least 3 NTS servers"));
  g_assert_nonnull (strstr (problem (problems, "not-synchronised")->hint, "too-few-authenticated"));
}

static void
test_not_synchronised (void)
{
  NtsDiagSource s[] = { good_source ("a.example"), good_source ("b.example") };
  NtsDiagSnapshot snap = snapshot (s, 2, 1);
  g_autofree char *found = NULL;

  snap.synchronised = FALSE;
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "not-synchronised");
  g_assert_false (nts_diag_is_ok (&snap));
}

static void
test_single_operator (void)
{
  NtsDiagSource s[] = { good_source ("nts.netnod.se"), good_source ("nts.sth1.ntp.se"),
                        good_source ("nts.sth2.ntp.se"), good_source ("ptbtime1.ptb.de") };
  NtsDiagSnapshot snap = snapshot (s, 3, 3);
  g_autofree char *found = NULL;

  for (int i = 0; i < 4; i++)
    s[i].operator_name = i < 3 ? "Netnod" : "PTB";
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "single-operator");
  g_assert_true (nts_diag_is_ok (&snap));

  /* A second operator among the agreeing sources: fine. */
  snap.n_sources = 4;
  g_clear_pointer (&found, g_free);
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "");

  /* The PTB source disagrees with the rest: only Netnod agrees again. */
  s[3].state = NTS_SOURCE_FALSETICKER;
  g_clear_pointer (&found, g_free);
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "single-operator");

  /* An unknown operator might be anyone: no claim. */
  s[3] = good_source ("ntp.example.org");
  g_clear_pointer (&found, g_free);
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "");
}

static void
test_timesyncd_active (void)
{
  NtsDiagSource s[] = { good_source ("a.example") };
  NtsDiagSnapshot snap = snapshot (s, 1, 1);
  g_autofree char *found = NULL;

  snap.timesyncd_state = "active";
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "timesyncd-active");
}

static void
test_condition_failed (void)
{
  NtsDiagSnapshot snap = snapshot (NULL, 0, 1);
  g_autofree char *found = NULL;

  snap.socket_reachable = FALSE;
  snap.socket_error = "No such file or directory";
  snap.synchronised = FALSE;
  snap.chronyd_state = "condition-failed";
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "chronyd-condition-failed");
}

static void
test_not_running (void)
{
  NtsDiagSnapshot snap = snapshot (NULL, 0, 3);
  g_autofree char *inactive = NULL, *failed = NULL, *with_timesyncd = NULL;

  snap.socket_reachable = FALSE;
  snap.synchronised = FALSE;
  snap.chronyd_state = "inactive";
  inactive = diagnose (&snap);
  /* One cause, not a cascade of too-few and not-synchronised. */
  g_assert_cmpstr (inactive, ==, "chronyd-not-running");
  g_assert_false (nts_diag_is_ok (&snap));

  snap.chronyd_state = "failed";
  failed = diagnose (&snap);
  g_assert_cmpstr (failed, ==, "chronyd-not-running");

  snap.timesyncd_state = "active";
  with_timesyncd = diagnose (&snap);
  g_assert_cmpstr (with_timesyncd, ==, "chronyd-not-running,timesyncd-active");
}

/* The socket disappears while chronyd restarts: an activating unit is not
 * "not running". */
static void
test_socket_unreachable (void)
{
  NtsDiagSnapshot snap = snapshot (NULL, 0, 3);
  g_autofree char *activating = NULL, *active = NULL, *unknown = NULL, *inactive = NULL;
  g_autoptr(GPtrArray) problems = NULL;

  snap.socket_reachable = FALSE;
  snap.synchronised = FALSE;
  snap.socket_error = "Connection refused";

  snap.chronyd_state = "activating";
  activating = diagnose (&snap);
  g_assert_cmpstr (activating, ==, "socket-unreachable");
  problems = nts_diagnose (&snap);
  g_assert_nonnull (strstr (problem (problems, "socket-unreachable")->hint, "--wait"));

  snap.chronyd_state = "active";
  active = diagnose (&snap);
  g_assert_cmpstr (active, ==, "socket-unreachable");

  /* No systemd to ask: chronyd may be there; no claim it is not. */
  snap.chronyd_state = "unknown";
  unknown = diagnose (&snap);
  g_assert_cmpstr (unknown, ==, "socket-unreachable");

  snap.chronyd_state = "inactive";
  inactive = diagnose (&snap);
  g_assert_cmpstr (inactive, ==, "chronyd-not-running");
}

static void
test_not_installed (void)
{
  NtsDiagSnapshot snap = snapshot (NULL, 0, 3);
  g_autofree char *found = NULL;

  snap.socket_reachable = FALSE;
  snap.chrony_installed = FALSE;
  snap.chronyd_state = "not-found";
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "chrony-not-installed");

  /* Something answers on the socket: installed after all. */
  snap.socket_reachable = TRUE;
  snap.synchronised = FALSE;
  g_clear_pointer (&found, g_free);
  found = diagnose (&snap);
  g_assert_cmpstr (found, ==, "not-synchronised,too-few-authenticated");
}

static void
test_states (void)
{
  g_assert_cmpstr (nts_source_state_to_string (nts_source_state_from_chrony (0, 1, FALSE)), ==, "selected");
  g_assert_cmpstr (nts_source_state_to_string (nts_source_state_from_chrony (4, 1, FALSE)), ==, "candidate");
  g_assert_cmpstr (nts_source_state_to_string (nts_source_state_from_chrony (5, 1, FALSE)), ==, "outlier");
  g_assert_cmpstr (nts_source_state_to_string (nts_source_state_from_chrony (2, 1, FALSE)), ==, "falseticker");
  g_assert_cmpstr (nts_source_state_to_string (nts_source_state_from_chrony (3, 1, FALSE)), ==, "jittery");
  g_assert_cmpstr (nts_source_state_to_string (nts_source_state_from_chrony (1, 1, FALSE)), ==, "unusable");
  g_assert_cmpstr (nts_source_state_to_string (nts_source_state_from_chrony (1, 0, FALSE)), ==, "unreachable");
  g_assert_cmpstr (nts_source_state_to_string (nts_source_state_from_chrony (0, 1, TRUE)), ==, "unresolved");
}

/* ---- operators ------------------------------------------------------ */

static void
test_operators_builtin (void)
{
  g_autoptr(NtsOperators) ops = nts_operators_new_builtin ();

  g_assert_cmpstr (nts_operators_lookup (ops, "time.cloudflare.com", NULL), ==, "Cloudflare");
  g_assert_cmpstr (nts_operators_lookup (ops, "nts.netnod.se", NULL), ==, "Netnod");
  g_assert_cmpstr (nts_operators_lookup (ops, "sth1.nts.netnod.se", NULL), ==, "Netnod");
  g_assert_cmpstr (nts_operators_lookup (ops, "nts.sth1.ntp.se", NULL), ==, "Netnod");
  g_assert_cmpstr (nts_operators_lookup (ops, "NTS.STH2.NTP.SE.", NULL), ==, "Netnod");
  g_assert_cmpstr (nts_operators_lookup (ops, "ptbtime1.ptb.de", NULL), ==, "PTB");
  g_assert_cmpstr (nts_operators_lookup (ops, "ptbtime3.ptb.de", "192.0.2.1"), ==, "PTB");
  g_assert_null (nts_operators_lookup (ops, "ntp.example.org", "192.0.2.1"));
  g_assert_null (nts_operators_lookup (ops, "evilnts.netnod.se.example", NULL));
  g_assert_null (nts_operators_lookup (ops, NULL, NULL));
}

static void
test_operators_override (void)
{
  g_autoptr(NtsOperators) ops = nts_operators_new_builtin ();
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (g_key_file_load_from_data (keyfile,
    "[chrony]\nunit=chrony.service\n"
    "[operators]\nLoopback Ops=127.0.0.* nts-*.test\nCloudflare Too=time.cloudflare.com\n",
    -1, G_KEY_FILE_NONE, NULL));
  g_assert_true (nts_operators_add_from_key_file (ops, keyfile, NTS_OPERATORS_OVERRIDE_GROUP, &error));
  g_assert_no_error (error);

  /* By name or by address; the file wins over the table. */
  g_assert_cmpstr (nts_operators_lookup (ops, "127.0.0.2", "127.0.0.2"), ==, "Loopback Ops");
  g_assert_cmpstr (nts_operators_lookup (ops, "server.lan", "127.0.0.9"), ==, "Loopback Ops");
  g_assert_cmpstr (nts_operators_lookup (ops, "nts-127-0-0-2.test", NULL), ==, "Loopback Ops");
  g_assert_cmpstr (nts_operators_lookup (ops, "time.cloudflare.com", NULL), ==, "Cloudflare Too");
  g_assert_cmpstr (nts_operators_lookup (ops, "nts.netnod.se", NULL), ==, "Netnod");
}

static void
test_operators_invalid (void)
{
  const char *const bad[] = { "time?.example.org", "a/b", "x y\"", "", "[::1]" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(NtsOperators) ops = nts_operators_new_builtin ();
      g_autoptr(GError) error = NULL;

      g_assert_false (nts_operators_add (ops, "Example", bad[i], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }
  {
    g_autoptr(NtsOperators) ops = nts_operators_new_builtin ();
    g_autoptr(GError) error = NULL;

    g_assert_false (nts_operators_add (ops, "Bad\tName", "example.org", &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  }
}

static void
test_operators_load (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("ops-XXXXXX", &error);
  g_autofree char *dir = g_build_filename (root, "etc", "ntssetup", NULL);
  g_autofree char *file = g_build_filename (dir, "layout.conf", NULL);
  g_autoptr(NtsLayoutOverride) none = NULL;
  g_autoptr(NtsLayoutOverride) ops = NULL;
  g_autoptr(NtsLayoutOverride) broken = NULL;
  g_autoptr(NtsRoot) fs = NULL;

  g_assert_no_error (error);
  fs = nts_root_open (root, &error);
  g_assert_no_error (error);
  none = nts_layout_override_load (fs, &error);   /* no file: the table alone */
  g_assert_no_error (error);
  g_assert_cmpstr (nts_operators_lookup (none->operators, "nts.netnod.se", NULL), ==, "Netnod");

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (file, "[operators]\nLab=10.0.0.*\n", -1, NULL));
  ops = nts_layout_override_load (fs, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nts_operators_lookup (ops->operators, "clock", "10.0.0.7"), ==, "Lab");

  g_assert_true (g_file_set_contents (file, "[operators]\nLab=10.0.0.?\n", -1, NULL));
  broken = nts_layout_override_load (fs, &error);
  g_assert_null (broken);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "Lab"));

  g_unlink (file);
  g_rmdir (dir);
  g_autofree char *etc = g_build_filename (root, "etc", NULL);
  g_rmdir (etc);
  g_rmdir (root);
}

/* ---- chrony's configuration ----------------------------------------- */

static void
test_conf_text (void)
{
  g_autoptr(NtsChronyConfScan) scan = nts_chrony_conf_scan_text (
    "# comment\n"
    "server time.cloudflare.com iburst nts\n"
    "  Server nts.netnod.se iburst NTS ntsport 4461\n"
    "pool 2.debian.pool.ntp.org iburst\n"
    "! minsources 9\n"
    "minsources 2\n"
    "minsources 3\n"
    "include /etc/chrony/extra.conf\n");
  const NtsConfServer *s;

  g_assert_cmpuint (scan->min_sources, ==, 3);   /* the last one wins */
  g_assert_cmpuint (scan->servers->len, ==, 3);
  s = nts_chrony_conf_scan_find_server (scan, "TIME.cloudflare.com");
  g_assert_nonnull (s);
  g_assert_true (s->nts);
  g_assert_cmpuint (s->nts_port, ==, 4460);
  s = nts_chrony_conf_scan_find_server (scan, "nts.netnod.se");
  g_assert_true (s->nts);
  g_assert_cmpuint (s->nts_port, ==, 4461);
  s = nts_chrony_conf_scan_find_server (scan, "2.debian.pool.ntp.org");
  g_assert_false (s->nts);
  g_assert_null (nts_chrony_conf_scan_find_server (scan, "unknown"));
}

static void
test_conf_default (void)
{
  g_autoptr(NtsChronyConfScan) scan = nts_chrony_conf_scan_text ("server a iburst\nminsources 0\n");
  g_autoptr(NtsChronyConfScan) none = nts_chrony_conf_scan_text ("");

  g_assert_cmpuint (none->min_sources, ==, NTS_CHRONY_DEFAULT_MIN_SOURCES);
  g_assert_cmpuint (scan->min_sources, ==, 1);
}

static void
write_under (const char *root, const char *path, const char *content)
{
  g_autofree char *full = g_build_filename (root, path, NULL);
  g_autofree char *dir = g_path_get_dirname (full);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (full, content, -1, NULL));
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
test_conf_includes (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("conf-XXXXXX", &error);
  g_autoptr(NtsChronyConfScan) scan = NULL;
  g_autoptr(NtsChronyConfScan) missing = NULL;
  g_autoptr(NtsRoot) fs = NULL;

  g_assert_no_error (error);
  /* Debian's layout: conf.d overrides, sources.d adds servers. */
  write_under (root, "etc/chrony/chrony.conf",
               "minsources 2\nconfdir /run/chrony/conf.d /etc/chrony/conf.d\n"
               "sourcedir /etc/chrony/sources.d\ninclude /etc/chrony/extra/*.conf\n");
  write_under (root, "etc/chrony/conf.d/10-a.conf", "minsources 4\n");
  write_under (root, "etc/chrony/conf.d/20-b.conf", "minsources 5\n");
  /* The same name in the first directory wins over the second's. */
  write_under (root, "run/chrony/conf.d/20-b.conf", "minsources 6\n");
  write_under (root, "etc/chrony/sources.d/x.sources", "server ptbtime1.ptb.de nts\nminsources 99\n");
  write_under (root, "etc/chrony/extra/z.conf", "server nts.netnod.se nts\n");

  fs = nts_root_open (root, &error);
  g_assert_no_error (error);
  scan = nts_chrony_conf_scan (fs, "/etc/chrony/chrony.conf", &error);
  g_assert_no_error (error);
  /* 10-a (4), then run's 20-b (6); sources files only add sources. */
  g_assert_cmpuint (scan->min_sources, ==, 6);
  g_assert_nonnull (nts_chrony_conf_scan_find_server (scan, "ptbtime1.ptb.de"));
  g_assert_nonnull (nts_chrony_conf_scan_find_server (scan, "nts.netnod.se"));

  missing = nts_chrony_conf_scan (fs, "/etc/chrony.conf", &error);
  g_assert_null (missing);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  remove_tree (root);
}

/* ---- back-off ------------------------------------------------------- */

#define S(x) ((gint64) (x) * G_USEC_PER_SEC)

static void
test_backoff_intervals (void)
{
  g_assert_cmpint (nts_ke_backoff_seconds (1, NTS_KE_FAILURE_CONNECT), ==, 16);
  g_assert_cmpint (nts_ke_backoff_seconds (2, NTS_KE_FAILURE_CONNECT), ==, 32);
  g_assert_cmpint (nts_ke_backoff_seconds (1, NTS_KE_FAILURE_UNKNOWN), ==, 16);
  g_assert_cmpint (nts_ke_backoff_seconds (1, NTS_KE_FAILURE_TLS), ==, 1024);
  g_assert_cmpint (nts_ke_backoff_seconds (3, NTS_KE_FAILURE_TLS), ==, 4096);
  /* At most 2^19 s, however many attempts. */
  g_assert_cmpint (nts_ke_backoff_seconds (40, NTS_KE_FAILURE_TLS), ==, 524288);
  g_assert_cmpint (nts_ke_backoff_seconds (40000, NTS_KE_FAILURE_CONNECT), ==, 524288);
}

static void
test_backoff_observed (void)
{
  NtsKeObservation obs = { 0 };

  /* First seen at 100 s with one attempt, chronyd started at 90 s: the
   * attempt was at 90 s or later, so no retry before 106 s (refused) or
   * 1114 s (TLS). */
  nts_ke_observe (&obs, 1, S (100), NTS_KE_TIME_UNKNOWN, S (90));
  g_assert_cmpint (nts_ke_next_attempt_us (&obs, NTS_KE_FAILURE_CONNECT), ==, S (106));
  g_assert_cmpint (nts_ke_next_attempt_us (&obs, NTS_KE_FAILURE_TLS), ==, S (1114));

  /* The same count again changes nothing. */
  nts_ke_observe (&obs, 1, S (101), S (100), S (90));
  g_assert_cmpint (obs.seen_us, ==, S (100));

  /* The second attempt made between our polls at 120 and 121 s. */
  nts_ke_observe (&obs, 2, S (121), S (120), S (90));
  g_assert_cmpint (nts_ke_next_attempt_us (&obs, NTS_KE_FAILURE_CONNECT), ==, S (120 + 32));

  /* Third attempt, seen first: after start + 16 + 32 at least. */
  {
    NtsKeObservation late = { 0 };

    nts_ke_observe (&late, 3, S (500), NTS_KE_TIME_UNKNOWN, S (90));
    g_assert_cmpint (late.after_us, ==, S (90 + 16 + 32));
    g_assert_cmpint (nts_ke_next_attempt_us (&late, NTS_KE_FAILURE_CONNECT), ==, S (138 + 64));
  }

  /* Nothing known about chronyd's start: any moment. */
  {
    NtsKeObservation blind = { 0 };

    nts_ke_observe (&blind, 1, S (100), NTS_KE_TIME_UNKNOWN, NTS_KE_TIME_UNKNOWN);
    g_assert_cmpint (nts_ke_next_attempt_us (&blind, NTS_KE_FAILURE_TLS), ==, NTS_KE_TIME_UNKNOWN);
  }
}

/* ---- what a probe adds (probe-diagnosis.h) ---------------------------- */

/* 2026-12-05 00:00 UTC: the "now" of these cases. */
#define PROBE_NOW 1796428800

static GVariant *
probe_result (const char *server, const char *result, const char *message)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "server", "s", server);
  g_variant_dict_insert (&dict, "port", "q", (guint16) 4460);
  g_variant_dict_insert (&dict, "result", "s", result);
  g_variant_dict_insert (&dict, "message", "s", message);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static GVariant *
expired_result (const char *server, gboolean clock_suspect)
{
  GVariantDict dict;
  const char *problems[] = { "expired", NULL };
  g_autoptr(GVariant) base = probe_result (server, "certificate", "certificate expired");

  g_variant_dict_init (&dict, base);
  g_variant_dict_insert (&dict, "certificate-problems", "^as", problems);
  g_variant_dict_insert (&dict, "certificate-not-before", "x", (gint64) 1735689600);
  g_variant_dict_insert (&dict, "certificate-not-after", "x", (gint64) 1764547200);
  g_variant_dict_insert (&dict, "clock-suspect", "b", clock_suspect);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static NtsProblem *
ke_problem (const char *source)
{
  NtsProblem *problem = g_new0 (NtsProblem, 1);

  problem->code = g_strdup ("nts-ke-failed");
  problem->source = g_strdup (source);
  problem->message = g_strdup ("The NTS key exchange with x fails");
  problem->hint = g_strdup ("generic");
  return problem;
}

static void
test_probe_explains_tcp (void)
{
  g_autoptr(NtsProblem) problem = ke_problem ("a.example");
  g_autoptr(GVariant) probe = probe_result ("a.example", "tcp", "TCP 4460 refused");

  nts_probe_explain_problem (problem, probe, PROBE_NOW);
  g_assert_cmpstr (problem->code, ==, "nts-ke-failed");
  g_assert_nonnull (strstr (problem->message, "TCP 4460 refused"));
  g_assert_nonnull (strstr (problem->hint, "firewall blocks outgoing TCP 4460"));
}

static void
test_probe_explains_expired (void)
{
  g_autoptr(NtsProblem) problem = ke_problem ("a.example");
  g_autoptr(GVariant) probe = expired_result ("a.example", TRUE);

  nts_probe_explain_problem (problem, probe, PROBE_NOW);
  g_assert_nonnull (strstr (problem->message, "certificate expired"));
  /* The dates, and both readings of them. */
  g_assert_nonnull (strstr (problem->hint, "2025-01-01 00:00 UTC to 2025-12-01 00:00 UTC"));
  g_assert_nonnull (strstr (problem->hint, "says 2026-12-05"));
  g_assert_nonnull (strstr (problem->hint, "clock-far-off"));
}

static void
test_probe_explains_ntp_timeout (void)
{
  g_autoptr(NtsProblem) problem = ke_problem ("a.example");
  g_autoptr(GVariant) base = probe_result ("a.example", "ntp-timeout", "no NTP reply");
  GVariantDict dict;
  g_autoptr(GVariant) probe = NULL;

  g_variant_dict_init (&dict, base);
  g_variant_dict_insert (&dict, "ntp-server", "s", "192.0.2.7");
  g_variant_dict_insert (&dict, "ntp-port", "q", (guint16) 1123);
  probe = g_variant_ref_sink (g_variant_dict_end (&dict));
  nts_probe_explain_problem (problem, probe, PROBE_NOW);
  g_assert_nonnull (strstr (problem->hint, "192.0.2.7 port 1123"));
  g_assert_nonnull (strstr (problem->hint, "UDP 1123"));
}

static void
test_probe_unknown_phase_keeps_problem (void)
{
  g_autoptr(NtsProblem) problem = ke_problem ("a.example");
  g_autoptr(GVariant) probe = probe_result ("a.example", "something-new", "?");

  nts_probe_explain_problem (problem, probe, PROBE_NOW);
  g_assert_cmpstr (problem->message, ==, "The NTS key exchange with x fails");
  g_assert_cmpstr (problem->hint, ==, "generic");
}

static void
test_probe_clock_far_off (void)
{
  g_autoptr(GVariant) a = expired_result ("a.example", TRUE);
  g_autoptr(GVariant) b = expired_result ("b.example", TRUE);
  g_autoptr(GVariant) c = expired_result ("c.example", FALSE);
  g_autoptr(GVariant) d = probe_result ("d.example", "tcp", "refused");
  GVariant *all_suspect[] = { a, b };
  GVariant *one_not[] = { a, c };
  GVariant *other_phase[] = { a, d };
  g_autoptr(NtsProblem) problem = nts_probe_clock_far_off (all_suspect, 2, PROBE_NOW);

  g_assert_nonnull (problem);
  g_assert_cmpstr (problem->code, ==, "clock-far-off");
  g_assert_cmpstr (problem->source, ==, "");
  g_assert_nonnull (strstr (problem->hint, "allow-clock-far-off"));
  /* One server's expired certificate is that server's fault. */
  g_assert_null (nts_probe_clock_far_off (one_not, 2, PROBE_NOW));
  g_assert_null (nts_probe_clock_far_off (other_phase, 2, PROBE_NOW));
  g_assert_null (nts_probe_clock_far_off (NULL, 0, PROBE_NOW));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/diagnosis/all-good", test_all_good);
  g_test_add_func ("/diagnosis/probe/tcp", test_probe_explains_tcp);
  g_test_add_func ("/diagnosis/probe/expired", test_probe_explains_expired);
  g_test_add_func ("/diagnosis/probe/ntp-timeout", test_probe_explains_ntp_timeout);
  g_test_add_func ("/diagnosis/probe/unknown-phase", test_probe_unknown_phase_keeps_problem);
  g_test_add_func ("/diagnosis/probe/clock-far-off", test_probe_clock_far_off);
  g_test_add_func ("/diagnosis/ke-failed", test_ke_failed);
  g_test_add_func ("/diagnosis/ke-failed-ipv6", test_ke_failed_ipv6);
  g_test_add_func ("/diagnosis/ke-failed-after-working", test_ke_failed_after_working);
  g_test_add_func ("/diagnosis/ke-under-way", test_ke_under_way);
  g_test_add_func ("/diagnosis/ntp-unanswered", test_ntp_unanswered);
  g_test_add_func ("/diagnosis/unresolved", test_unresolved);
  g_test_add_func ("/diagnosis/not-nts", test_not_nts);
  g_test_add_func ("/diagnosis/nak", test_nak);
  g_test_add_func ("/diagnosis/too-few", test_too_few);
  g_test_add_func ("/diagnosis/not-synchronised", test_not_synchronised);
  g_test_add_func ("/diagnosis/single-operator", test_single_operator);
  g_test_add_func ("/diagnosis/timesyncd-active", test_timesyncd_active);
  g_test_add_func ("/diagnosis/condition-failed", test_condition_failed);
  g_test_add_func ("/diagnosis/not-running", test_not_running);
  g_test_add_func ("/diagnosis/socket-unreachable", test_socket_unreachable);
  g_test_add_func ("/diagnosis/not-installed", test_not_installed);
  g_test_add_func ("/diagnosis/states", test_states);
  g_test_add_func ("/operators/builtin", test_operators_builtin);
  g_test_add_func ("/operators/override", test_operators_override);
  g_test_add_func ("/operators/invalid", test_operators_invalid);
  g_test_add_func ("/operators/load", test_operators_load);
  g_test_add_func ("/conf-scan/text", test_conf_text);
  g_test_add_func ("/conf-scan/default", test_conf_default);
  g_test_add_func ("/conf-scan/includes", test_conf_includes);
  g_test_add_func ("/ke-backoff/intervals", test_backoff_intervals);
  g_test_add_func ("/ke-backoff/observed", test_backoff_observed);

  return g_test_run ();
}
