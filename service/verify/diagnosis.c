/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See diagnosis.h. The rules follow what chrony 4.3 shows in each failure
 * (each case is one of tests/test-diagnosis.c's):
 *
 * - chronyd counts a key exchange as an attempt when it starts one and
 *   resets the count only when an authenticated NTP reply arrives. So
 *   "no cookies, attempts > 0" is a failing key exchange only when the
 *   last successful one (if any) was followed by authenticated replies;
 *   when it was not, the key exchange works and NTP after it does not
 *   (chronyd then waits out a long back-off before the next exchange,
 *   cookies spent).
 * - A refused connection is retried after 16 s, 32 s, ...; a TLS failure
 *   after 1024 s, 2048 s, ...; `chronyc reload sources` re-reads only
 *   sourcedir files and retries nothing, and `chronyc burst` does not
 *   shorten the back-off. Restarting chronyd does.
 * - chronyd takes a key exchange's result only at the source's next poll,
 *   so for a while a good exchange looks like a failed one (see
 *   ke_maybe_under_way()).
 * - An unresolved name is a source with an address of family 3; chronyd
 *   has no NTP or NTS data for it. */
#include "diagnosis.h"

#include <string.h>

/* Fewer NTP requests than this without a reply can be the first exchange
 * still under way; more is silence. */
#define UNANSWERED_MIN_REQUESTS 2

static const char *const state_names[] = {
  [NTS_SOURCE_SELECTED]    = "selected",
  [NTS_SOURCE_CANDIDATE]   = "candidate",
  [NTS_SOURCE_OUTLIER]     = "outlier",
  [NTS_SOURCE_FALSETICKER] = "falseticker",
  [NTS_SOURCE_JITTERY]     = "jittery",
  [NTS_SOURCE_UNUSABLE]    = "unusable",
  [NTS_SOURCE_UNREACHABLE] = "unreachable",
  [NTS_SOURCE_UNRESOLVED]  = "unresolved",
};

const char *
nts_source_state_to_string (NtsSourceState state)
{
  g_return_val_if_fail ((gsize) state < G_N_ELEMENTS (state_names), "unusable");
  return state_names[state];
}

NtsSourceState
nts_source_state_from_chrony (guint16 chrony_state, guint8 reachability, gboolean unresolved)
{
  if (unresolved)
    return NTS_SOURCE_UNRESOLVED;

  /* chrony's RPY_SD_ST_* values, as in chrony-protocol.h. */
  switch (chrony_state)
    {
    case 0:
      return NTS_SOURCE_SELECTED;
    case 4:
      return NTS_SOURCE_CANDIDATE;
    case 5:
      return NTS_SOURCE_OUTLIER;
    case 2:
      return NTS_SOURCE_FALSETICKER;
    case 3:
      return NTS_SOURCE_JITTERY;
    case 1:
    default:
      return reachability == 0 ? NTS_SOURCE_UNREACHABLE : NTS_SOURCE_UNUSABLE;
    }
}

void
nts_problem_free (NtsProblem *problem)
{
  if (problem == NULL)
    return;
  g_free (problem->code);
  g_free (problem->source);
  g_free (problem->message);
  g_free (problem->hint);
  g_free (problem);
}

G_GNUC_PRINTF (5, 6)
static NtsProblem *
add (GPtrArray *problems, const char *code, const char *source, char *hint,
     const char *format, ...)
{
  NtsProblem *problem = g_new0 (NtsProblem, 1);
  va_list args;

  problem->code = g_strdup (code);
  problem->source = g_strdup (source ? source : "");
  va_start (args, format);
  problem->message = g_strdup_vprintf (format, args);
  va_end (args);
  problem->hint = hint;
  g_ptr_array_add (problems, problem);
  return problem;
}

/* ---- per source ------------------------------------------------------- */

static gboolean
is_network_source (const NtsDiagSource *s)
{
  return !s->reference_clock;
}

gboolean
nts_diag_source_is_usable (const NtsDiagSource *s)
{
  if (!is_network_source (s) || !s->nts || !s->authenticated || s->reachability == 0)
    return FALSE;
  return s->state == NTS_SOURCE_SELECTED ||
         s->state == NTS_SOURCE_CANDIDATE ||
         s->state == NTS_SOURCE_OUTLIER;
}

guint
nts_diag_authenticated_sources (const NtsDiagSnapshot *snapshot)
{
  guint n = 0;

  if (!snapshot->socket_reachable)
    return 0;
  for (guint i = 0; i < snapshot->n_sources; i++)
    n += nts_diag_source_is_usable (&snapshot->sources[i]);
  return n;
}

gboolean
nts_diag_is_ok (const NtsDiagSnapshot *snapshot)
{
  return snapshot->socket_reachable &&
         snapshot->synchronised &&
         nts_diag_authenticated_sources (snapshot) >= snapshot->min_sources;
}

/* The last successful key exchange was followed by an authenticated
 * sample (both ages count back from the same moment). */
static gboolean
answered_since_ke (const NtsDiagSource *s)
{
  return s->last_sample_age >= 0 && s->last_ke_age >= 0 && s->last_sample_age <= s->last_ke_age;
}

/* Keys in hand (or a key exchange that worked), requests going out, and
 * the last eight polls without a valid reply. */
static gboolean
ntp_unanswered (const NtsDiagSource *s)
{
  if (!is_network_source (s) || !s->nts || s->state == NTS_SOURCE_UNRESOLVED)
    return FALSE;
  if (s->reachability != 0 || !s->have_counters || s->tx_count < UNANSWERED_MIN_REQUESTS)
    return FALSE;
  return s->cookies > 0 || (s->ke_count > 0 && !answered_since_ke (s));
}

/* chronyd counts an attempt when it starts an exchange but takes the
 * result only at the source's next poll: until then an exchange that
 * will succeed looks exactly like one that failed. Two cases are known to
 * be that: the first exchange right after chronyd started, and a new one
 * (after a NAK or the periodic refresh) while the source still answers. */
static gboolean
ke_maybe_under_way (const NtsDiagSnapshot *snap, const NtsDiagSource *s)
{
  if (s->ke_attempts != 1)
    return FALSE;
  if (s->ke_count == 0)
    return snap->chronyd_uptime >= 0 && snap->chronyd_uptime < NTS_DIAG_KE_STARTUP_S;
  return s->reachability != 0;
}

gboolean
nts_diag_source_ke_failing (const NtsDiagSnapshot *snap, const NtsDiagSource *s)
{
  if (!is_network_source (s) || !s->nts || s->state == NTS_SOURCE_UNRESOLVED)
    return FALSE;
  if (s->cookies != 0 || s->ke_attempts == 0)
    return FALSE;
  if (ke_maybe_under_way (snap, s))
    return FALSE;
  /* Cookies spent on requests no one answered after an exchange that
   * worked: chronyd is waiting out its back-off, and NTP is the problem. */
  return !ntp_unanswered (s);
}

static char *
ke_endpoint (const NtsDiagSource *s)
{
  const char *host = *s->name != '\0' ? s->name : s->address;

  /* An IPv6 literal needs brackets before the port. */
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:4460", host);
  return g_strdup_printf ("%s:4460", host);
}

static void
diagnose_source (const NtsDiagSnapshot *snap, const NtsDiagSource *s, GPtrArray *problems)
{
  const char *unit = snap->chronyd_unit;

  if (!is_network_source (s))
    return;

  if (s->state == NTS_SOURCE_UNRESOLVED)
    {
      add (problems, "name-unresolved", s->name,
           g_strdup_printf ("Check the name for typos and that DNS answers for it: "
                            "`getent hosts %s` must print an address. chronyd keeps "
                            "trying in the background at growing intervals; "
                            "`systemctl restart %s` makes it try at once.",
                            s->name, unit),
           "%s does not resolve: chronyd has no address to ask", s->name);
      return;
    }

  if (!s->nts)
    {
      add (problems, "not-nts", s->name,
           g_strdup_printf ("Add `nts` to its server line in %s, or remove the line; "
                            "`ntsctl apply` writes an NTS-only configuration. With "
                            "`authselectmode require` chronyd never selects it.",
                            snap->config_file ? snap->config_file : "chrony's configuration"),
           s->symmetric_key
             ? "%s is authenticated with a symmetric key, not NTS"
             : "%s is plain NTP without NTS: nothing proves its packets come from it",
           s->name);
      return;
    }

  if (nts_diag_source_ke_failing (snap, s))
    {
      g_autofree char *endpoint = ke_endpoint (s);

      add (problems, "nts-ke-failed", s->name,
           g_strdup_printf ("Check that TCP port 4460 (or the server's ntsport) is open "
                            "towards it, that its certificate is trusted and valid — "
                            "`openssl s_client -connect %s -brief` shows the handshake — "
                            "and that the system clock is roughly right. chronyd retries "
                            "a refused connection after 16 s or more but a TLS failure "
                            "only after 1024 s or more, so once the cause is fixed run "
                            "`systemctl restart %s`; `chronyc reload sources` does not "
                            "retry the key exchange.",
                            endpoint, unit),
           "The NTS key exchange with %s fails: no cookies after %u attempt%s%s",
           s->name, s->ke_attempts, s->ke_attempts == 1 ? "" : "s",
           s->ke_count == 0 ? ", and none has ever succeeded"
                            : " since its last authenticated reply");
    }
  else if (ntp_unanswered (s))
    add (problems, "ntp-unanswered", s->name,
         g_strdup_printf ("Allow UDP port 123 towards %s and its replies. NTS requests "
                          "and replies carry cookies and are several hundred bytes long: "
                          "a firewall or middlebox that drops long NTP packets blocks NTS "
                          "while plain NTP still gets through.%s `chronyc -N ntpdata %s` "
                          "shows the counters.",
                          s->name,
                          s->rx_count > 0 ? " Replies that arrive but fail authentication "
                                            "mean something on the path alters them." : "",
                          s->name),
         "The key exchange with %s worked, but its last NTP requests got no "
         "authenticated reply (%u sent, %u received in all)",
         s->name, s->tx_count, s->rx_count);

  if (s->nak)
    add (problems, "nts-nak", s->name,
         g_strdup_printf ("Nothing to do if it passes: chronyd starts a new key exchange "
                          "with %s on its own. If it persists, the server's NTS keys "
                          "change faster than its cookies live, or servers behind one "
                          "name do not share keys; prefer another server.", s->name),
         "%s rejected our NTS cookie (NAK): it has new keys, and a new key exchange is due",
         s->name);
}

/* ---- the machine -------------------------------------------------------- */

static gboolean
state_is (const char *state, const char *value)
{
  return g_strcmp0 (state, value) == 0;
}

/* Returns TRUE when chronyd cannot be asked, having said why. */
static gboolean
diagnose_chronyd (const NtsDiagSnapshot *snap, GPtrArray *problems)
{
  const char *unit = snap->chronyd_unit;
  const char *state = snap->chronyd_state ? snap->chronyd_state : "unknown";
  const char *why = snap->socket_error ? snap->socket_error : "no answer";

  if (snap->socket_reachable)
    return FALSE;

  if (!snap->chrony_installed &&
      (state_is (state, "not-found") || state_is (state, "inactive") || state_is (state, "unknown")))
    {
      add (problems, "chrony-not-installed", "",
           g_strdup ("Install chrony with the distribution's package manager, or run "
                     "`ntsctl apply --install`, which installs it and configures NTS."),
           "chrony is not installed: there is no %s", snap->chronyd_path);
      return TRUE;
    }

  if (state_is (state, "condition-failed"))
    {
      add (problems, "chronyd-condition-failed", "",
           g_strdup_printf ("`systemctl status %s` names the condition. Debian's unit has "
                            "ConditionCapability=CAP_SYS_TIME: in a container without that "
                            "capability chronyd cannot set the clock, and the host's time "
                            "sync is what counts.", unit),
           "systemd skipped %s: a unit condition failed, so chronyd never started", unit);
      return TRUE;
    }

  if (state_is (state, "inactive") || state_is (state, "failed") || state_is (state, "not-found"))
    {
      if (state_is (state, "not-found"))
        add (problems, "chronyd-not-running", "",
             g_strdup_printf ("systemd knows no %s; check the unit name "
                              "(`systemctl list-unit-files 'chrony*'`).", unit),
             "chronyd is not running: its unit %s does not exist and %s does not answer (%s)",
             unit, snap->socket_path, why);
      else
        add (problems, "chronyd-not-running", "",
             g_strdup_printf ("`systemctl enable --now %s` starts it; "
                              "`journalctl -b -u %s` shows why it %s.",
                              unit, unit, state_is (state, "failed") ? "failed" : "stopped"),
             "chronyd is not running: %s is %s", unit, state);
      return TRUE;
    }

  /* active, activating, deactivating, reloading, or systemd could not be
   * asked: chronyd may well be there. The socket disappears while chronyd
   * restarts, so this is not "not running". */
  if (state_is (state, "activating") || state_is (state, "deactivating") ||
      state_is (state, "reloading"))
    add (problems, "socket-unreachable", "",
         g_strdup ("chronyd is restarting or starting up: verify again in a few "
                   "seconds (`ntsctl verify --wait 30`)."),
         "%s is %s and chronyd's command socket %s does not answer yet (%s)",
         unit, state, snap->socket_path, why);
  else
    add (problems, "socket-unreachable", "",
         g_strdup_printf ("Check that chronyd listens on %s (chrony's `bindcmdaddress`; "
                          "ntssetup looks where /etc/ntssetup/layout.conf or the "
                          "distribution says) and that `chronyc -h %s tracking` works as "
                          "root. `systemctl restart %s` recreates the socket.",
                          snap->socket_path, snap->socket_path, unit),
         "chronyd%s does not answer on its command socket %s (%s)",
         state_is (state, "active") ? " runs but" : "", snap->socket_path, why);
  return TRUE;
}

static void
diagnose_timesyncd (const NtsDiagSnapshot *snap, GPtrArray *problems)
{
  const char *state = snap->timesyncd_state;
  const char *unit = snap->timesyncd_unit ? snap->timesyncd_unit : "systemd-timesyncd.service";

  if (!state_is (state, "active") && !state_is (state, "activating") &&
      !state_is (state, "reloading"))
    return;

  add (problems, "timesyncd-active", "",
       g_strdup_printf ("`systemctl disable --now %s` (ntsctl apply does it for you); "
                        "timedatectl then picks chronyd.", unit),
       snap->socket_reachable
         ? "%s is %s beside chronyd: both set the clock and fight over it"
         : "%s is %s: the clock is set by unauthenticated SNTP, not chronyd",
       unit, state);
}

/* ---- overall ------------------------------------------------------------ */

static void
diagnose_overall (const NtsDiagSnapshot *snap, GPtrArray *problems, guint n_source_problems)
{
  guint authenticated = nts_diag_authenticated_sources (snap);
  guint nts_sources = 0;
  const char *operator_name = NULL;
  gboolean one_operator = TRUE;

  for (guint i = 0; i < snap->n_sources; i++)
    {
      const NtsDiagSource *s = &snap->sources[i];

      nts_sources += is_network_source (s) && s->nts;
      if (!nts_diag_source_is_usable (s))
        continue;
      if (s->operator_name == NULL || *s->operator_name == '\0')
        one_operator = FALSE;
      else if (operator_name == NULL)
        operator_name = s->operator_name;
      else if (strcmp (operator_name, s->operator_name) != 0)
        one_operator = FALSE;
    }

  if (authenticated < snap->min_sources)
    {
      char *hint;

      if (n_source_problems > 0)
        hint = g_strdup ("Fix the problems of the sources listed; chronyd uses a source "
                         "once its key exchange and NTP work.");
      else if (nts_sources < snap->min_sources)
        hint = g_strdup_printf ("Configure at least %u NTS servers, ideally of different "
                                "operators (`ntsctl apply`), or lower min-sources.",
                                snap->min_sources);
      else
        hint = g_strdup ("The sources are still starting: a key exchange and a few NTP "
                         "exchanges take about 10 s after chronyd starts. "
                         "`ntsctl verify --wait 60` waits for them.");
      add (problems, "too-few-authenticated", "", hint,
           "%u of %u sources %s authenticated and usable; chronyd needs min-sources %u "
           "before it changes the clock",
           authenticated, snap->n_sources, authenticated == 1 ? "is" : "are",
           snap->min_sources);
    }

  if (authenticated > 0 && authenticated >= snap->min_sources && one_operator &&
      operator_name != NULL)
    add (problems, "single-operator", "",
         g_strdup_printf ("Add NTS servers of other operators, so that min-sources %u can "
                          "only be met by independent sources: ntssetup's defaults mix "
                          "Cloudflare, Netnod and PTB.", snap->min_sources),
         "All %u authenticated sources are run by %s: that one operator alone "
         "satisfies min-sources %u and could move the clock",
         authenticated, operator_name, snap->min_sources);

  if (!snap->synchronised)
    add (problems, "not-synchronised", "",
         authenticated < snap->min_sources
           ? g_strdup ("chronyd selects no source while fewer than min-sources are "
                       "usable: see too-few-authenticated.")
           : g_strdup ("chronyd has usable sources but has not selected one yet; right "
                       "after a start this takes about 10 s (`ntsctl verify --wait 60`). "
                       "If it persists, `chronyc sources` shows why sources are "
                       "rejected (x: they disagree, ~: too variable)."),
         "chronyd is not synchronised: it does not steer the clock");
}

GPtrArray *
nts_diagnose (const NtsDiagSnapshot *snap)
{
  GPtrArray *problems = g_ptr_array_new_with_free_func ((GDestroyNotify) nts_problem_free);
  guint before;

  g_return_val_if_fail (snap != NULL, problems);

  if (diagnose_chronyd (snap, problems))
    {
      /* Without chronyd's answers there is nothing more to judge, except
       * who else sets the clock. */
      diagnose_timesyncd (snap, problems);
      return problems;
    }
  diagnose_timesyncd (snap, problems);

  before = problems->len;
  for (guint i = 0; i < snap->n_sources; i++)
    diagnose_source (snap, &snap->sources[i], problems);
  diagnose_overall (snap, problems, problems->len - before);
  return problems;
}
