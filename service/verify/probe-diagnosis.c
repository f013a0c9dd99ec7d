/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "probe-diagnosis.h"

#include <string.h>

static char *
format_date (gint64 unix_seconds)
{
  g_autoptr(GDateTime) date = unix_seconds > 0 ? g_date_time_new_from_unix_utc (unix_seconds)
                                               : NULL;

  return date != NULL ? g_date_time_format (date, "%Y-%m-%d %H:%M UTC") : g_strdup ("?");
}

static gboolean
has_problem (GVariant *probe, const char *wanted)
{
  g_autofree const char **problems = NULL;

  if (!g_variant_lookup (probe, "certificate-problems", "^a&s", &problems))
    return FALSE;
  for (guint i = 0; problems[i] != NULL; i++)
    if (g_str_equal (problems[i], wanted))
      return TRUE;
  return FALSE;
}

static char *
certificate_hint (GVariant *probe, gint64 now_unix)
{
  gboolean clock_suspect = FALSE;
  gint64 not_before = 0, not_after = 0;

  g_variant_lookup (probe, "clock-suspect", "b", &clock_suspect);
  g_variant_lookup (probe, "certificate-not-before", "x", &not_before);
  g_variant_lookup (probe, "certificate-not-after", "x", &not_after);
  if (clock_suspect)
    {
      g_autofree char *from = format_date (not_before);
      g_autofree char *until = format_date (not_after);
      g_autofree char *now = format_date (now_unix);

      return g_strdup_printf ("The certificate is valid from %s to %s, and this machine's clock "
                              "says %s. If the clock is right, the server's certificate is out "
                              "of date: tell its operator, or choose another server. If the "
                              "clock is wrong, see the clock-far-off problem.",
                              from, until, now);
    }
  if (has_problem (probe, "unknown-issuer"))
    return g_strdup ("The certificate's issuer is not among this machine's trusted CAs: update "
                     "the ca-certificates package, or choose another server (a server with a "
                     "private CA needs chrony's ntstrustedcerts).");
  if (has_problem (probe, "name-mismatch"))
    return g_strdup ("The certificate is for another name than the one configured: configure "
                     "the server by the name its certificate carries (an IP address rarely "
                     "matches one).");
  return g_strdup ("The server's certificate is refused (revoked, or a weak algorithm): choose "
                   "another server, and tell its operator.");
}

static char *
kiss_hint (const char *kiss)
{
  if (g_str_equal (kiss, "RATE"))
    return g_strdup ("The server limits how often this machine may ask (kiss code RATE). "
                     "chronyd backs off by itself; many machines behind one address are better "
                     "served by a local server.");
  return g_strdup_printf ("The server refuses this machine (kiss code %s): choose another "
                          "server.",
                          kiss);
}

static char *
phase_hint (GVariant *probe, const char *phase, gint64 now_unix)
{
  const char *server = "", *ntp_server = NULL, *kiss = "";
  guint16 port = 4460, ntp_port = 123;

  g_variant_lookup (probe, "server", "&s", &server);
  g_variant_lookup (probe, "port", "q", &port);
  g_variant_lookup (probe, "ntp-server", "&s", &ntp_server);
  g_variant_lookup (probe, "ntp-port", "q", &ntp_port);
  g_variant_lookup (probe, "kiss", "&s", &kiss);

  if (g_str_equal (phase, "ok"))
    return g_strdup ("A probe just now succeeded: what chronyd saw has passed, but chronyd "
                     "retries only after its back-off (up to 1024 s after a TLS failure). "
                     "Restart chronyd to retry now.");
  if (g_str_equal (phase, "dns"))
    return g_strdup_printf ("Check the name, and that this machine's resolver answers "
                            "(resolvectl query %s).",
                            server);
  if (g_str_equal (phase, "tcp"))
    return g_strdup_printf ("Nothing accepts connections on TCP %u of the server from here: a "
                            "firewall blocks outgoing TCP %u, or the server is down. Open the "
                            "port, or choose another server.",
                            port, port);
  if (g_str_equal (phase, "tls"))
    return g_strdup_printf ("The TLS 1.3 handshake fails: a proxy or middlebox that intercepts "
                            "TLS, or a server without TLS 1.3. Let TCP %u pass uninspected, or "
                            "choose another server.",
                            port);
  if (g_str_equal (phase, "certificate"))
    return certificate_hint (probe, now_unix);
  if (g_str_equal (phase, "ke-protocol"))
    return g_strdup ("The server's key exchange breaks the NTS protocol or reports an error: "
                     "choose another server, and tell its operator.");
  if (g_str_equal (phase, "ntp-timeout"))
    return g_strdup_printf ("The key exchange works but no NTP reply comes from %s port %u: a "
                            "firewall blocks UDP %u, or drops NTP packets longer than 48 bytes "
                            "(NTS makes them longer). Let UDP %u pass both ways.",
                            ntp_server != NULL ? ntp_server : server, ntp_port, ntp_port,
                            ntp_port);
  if (g_str_equal (phase, "ntp-auth"))
    return g_strdup ("NTP replies do not authenticate: something on the way rewrites NTP "
                     "packets, or the server is broken. Choose another server.");
  if (g_str_equal (phase, "nak"))
    return g_strdup ("The server refuses fresh cookies (NTS NAK): its key-exchange and NTP "
                     "servers disagree on their keys. chronyd starts a new key exchange by "
                     "itself; if this lasts, choose another server.");
  if (g_str_equal (phase, "kiss"))
    return kiss_hint (kiss);
  return NULL;
}

void
nts_probe_explain_problem (NtsProblem *problem, GVariant *probe, gint64 now_unix)
{
  const char *phase = NULL, *message = NULL;
  char *hint;

  g_return_if_fail (problem != NULL && probe != NULL);
  if (!g_variant_lookup (probe, "result", "&s", &phase) ||
      !g_variant_lookup (probe, "message", "&s", &message))
    return;
  hint = phase_hint (probe, phase, now_unix);
  if (hint == NULL)
    return;

  {
    char *text = g_strdup_printf ("%s. A probe just now: %s", problem->message, message);
    g_free (problem->message);
    problem->message = text;
  }
  g_free (problem->hint);
  problem->hint = hint;
}

NtsProblem *
nts_probe_clock_far_off (GVariant *const *probes, guint n_probes, gint64 now_unix)
{
  g_autofree char *now = format_date (now_unix);
  NtsProblem *problem;

  if (n_probes == 0)
    return NULL;
  for (guint i = 0; i < n_probes; i++)
    {
      const char *phase = NULL;
      gboolean clock_suspect = FALSE;

      g_variant_lookup (probes[i], "result", "&s", &phase);
      g_variant_lookup (probes[i], "clock-suspect", "b", &clock_suspect);
      if (g_strcmp0 (phase, "certificate") != 0 || !clock_suspect)
        return NULL;
    }

  problem = g_new0 (NtsProblem, 1);
  problem->code = g_strdup ("clock-far-off");
  problem->source = g_strdup ("");
  problem->message = g_strdup_printf ("Every server probed fails only on the dates of its "
                                      "certificate: this machine's clock (%s) is probably far "
                                      "off, and NTS cannot start to correct it",
                                      now);
  problem->hint = g_strdup ("Set the clock roughly right (date -s 'YYYY-MM-DD HH:MM'), or "
                            "apply with allow-clock-far-off (ntsctl apply "
                            "--allow-clock-far-off): chronyd then skips the certificates' date "
                            "check until it first sets the clock.");
  return problem;
}
