/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See verify.h. */
#include "verify.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chrony-client.h"
#include "chrony-conf-scan.h"
#include "diagnosis.h"
#include "file-stamp.h"
#include "ke-backoff.h"
#include "layout.h"
#include "layout-cache.h"
#include "layout-override.h"
#include "operators.h"
#include "probe-diagnosis.h"
#include "systemd-client.h"
#include "task-tag.h"
#include "verify-report.h"

/* How long the layout and operators are reused while the override file
 * stays the same, before the layout cache (which checks its own files by
 * stat) and the operators file are asked again. */
#define LAYOUT_CACHE_US (5 * G_USEC_PER_SEC)

/* ---- the verifier and its layout cache ------------------------------ */

/* What a call needs from the override file and the layout resolution,
 * shared between the cache and the calls using it. */
typedef struct {
  gint          ref_count;
  NtsLayout    *layout;
  NtsOperators *operators;
  NtsFileStamp  stamp;
  gint64        time_us;
} Settings;

struct _NtsVerifier {
  gint             ref_count;
  NtsRoot         *root;
  GDBusConnection *bus;
  Settings        *settings;       /* NULL: ask the layout cache again */
  NtsLayoutCache  *layouts;
  NtsProbeCache *probes;
  /* One socket to chronyd for every call: binding a fresh one costs more
   * than the questions. Replaced when it fails (chronyd restarted). */
  NtsChronyClient *client;
  char            *client_socket;
  NtsFileStamp     client_peer;    /* chronyd's socket when we connected */
};

static Settings *
settings_ref (Settings *settings)
{
  g_atomic_int_inc (&settings->ref_count);
  return settings;
}

static void
settings_unref (Settings *settings)
{
  if (settings == NULL || !g_atomic_int_dec_and_test (&settings->ref_count))
    return;
  nts_layout_free (settings->layout);
  nts_operators_free (settings->operators);
  g_free (settings);
}

/* The override file's version: operators come from it. */
static void
override_stamp (NtsRoot *root, NtsFileStamp *stamp)
{
  g_autofree char *path = g_build_filename (nts_root_get_host_path (root),
                                            NTS_LAYOUT_OVERRIDE_FILE, NULL);

  nts_file_stamp_take (path, stamp);
}

NtsVerifier *
nts_verifier_new (NtsRoot *root, GDBusConnection *system_bus)
{
  NtsVerifier *verifier = g_new0 (NtsVerifier, 1);

  g_return_val_if_fail (root != NULL, NULL);

  verifier->ref_count = 1;
  verifier->root = nts_root_ref (root);
  verifier->bus = system_bus ? g_object_ref (system_bus) : NULL;
  verifier->layouts = nts_layout_cache_new (root, system_bus);
  verifier->probes = nts_probe_cache_new (root);
  return verifier;
}

NtsVerifier *
nts_verifier_ref (NtsVerifier *verifier)
{
  g_return_val_if_fail (verifier != NULL, NULL);
  g_atomic_int_inc (&verifier->ref_count);
  return verifier;
}

void
nts_verifier_unref (NtsVerifier *verifier)
{
  if (verifier == NULL || !g_atomic_int_dec_and_test (&verifier->ref_count))
    return;
  nts_root_unref (verifier->root);
  g_clear_object (&verifier->bus);
  g_clear_pointer (&verifier->settings, settings_unref);
  g_clear_pointer (&verifier->layouts, nts_layout_cache_free);
  g_clear_pointer (&verifier->probes, nts_probe_cache_free);
  g_clear_pointer (&verifier->client, nts_chrony_client_unref);
  g_free (verifier->client_socket);
  g_free (verifier);
}

void
nts_verifier_forget_layout (NtsVerifier *verifier)
{
  g_return_if_fail (verifier != NULL);
  g_clear_pointer (&verifier->settings, settings_unref);
  nts_layout_cache_invalidate (verifier->layouts);
}

NtsLayoutCache *
nts_verifier_get_layout_cache (NtsVerifier *verifier)
{
  g_return_val_if_fail (verifier != NULL, NULL);
  return verifier->layouts;
}

NtsProbeCache *
nts_verifier_get_probe_cache (NtsVerifier *verifier)
{
  g_return_val_if_fail (verifier != NULL, NULL);
  return verifier->probes;
}

/* The cached settings if they are still good, else NULL. */
static Settings *
cached_settings (NtsVerifier *verifier, NtsFileStamp *stamp)
{
  override_stamp (verifier->root, stamp);
  if (verifier->settings == NULL ||
      g_get_monotonic_time () - verifier->settings->time_us > LAYOUT_CACHE_US ||
      !nts_file_stamp_equal (stamp, &verifier->settings->stamp))
    return NULL;
  return settings_ref (verifier->settings);
}

/* Our reply socket is still there, as ours: lstat, not a test that
 * follows links, since chronyd's user may swap the name in its directory
 * for a link to anything (Verify would then wait for replies that cannot
 * reach us). */
static gboolean
local_socket_intact (const char *path)
{
  struct stat st;

  return lstat (path, &st) == 0 && S_ISSOCK (st.st_mode) && st.st_uid == geteuid ();
}

/* The shared client for @host_socket; *reused tells whether it served
 * before. A restarted chronyd has a new socket, and may have had its
 * directory (with our socket in it) recreated: then start afresh rather
 * than wait for replies that cannot reach us. */
static NtsChronyClient *
shared_client (NtsVerifier *verifier, const char *host_socket, gboolean *reused, GError **error)
{
  NtsChronyClient *client;
  NtsFileStamp peer;

  nts_file_stamp_take (host_socket, &peer);
  if (verifier->client != NULL && g_strcmp0 (verifier->client_socket, host_socket) == 0 &&
      nts_file_stamp_equal (&peer, &verifier->client_peer) &&
      local_socket_intact (nts_chrony_client_get_local_path (verifier->client)))
    {
      *reused = TRUE;
      return nts_chrony_client_ref (verifier->client);
    }
  *reused = FALSE;
  g_clear_pointer (&verifier->client, nts_chrony_client_unref);
  g_clear_pointer (&verifier->client_socket, g_free);
  client = nts_chrony_client_new (host_socket, error);
  if (client == NULL)
    return NULL;
  verifier->client = nts_chrony_client_ref (client);
  verifier->client_socket = g_strdup (host_socket);
  verifier->client_peer = peer;
  return client;
}

static void
drop_shared_client (NtsVerifier *verifier, NtsChronyClient *client)
{
  if (verifier->client == client)
    {
      g_clear_pointer (&verifier->client, nts_chrony_client_unref);
      g_clear_pointer (&verifier->client_socket, g_free);
    }
}

/* ---- one call ---------------------------------------------------------- */

typedef struct {
  NtsVerifier       *verifier;
  guint              wait_s;
  gint64             deadline_us;
  gboolean           returned;
  GCancellable      *cancellable;  /* ours: cancelled with the caller's, and when we return */
  GCancellable      *caller_cancellable;
  gulong             cancel_handler;
  NtsFileStamp       stamp;
  Settings          *settings;
  NtsLayout         *layout;       /* the settings' */
  NtsOperators      *operators;    /* the settings' */
  NtsVerifyFlags flags;
  GHashTable        *observations; /* address -> NtsKeObservation */
  /* name -> ProbeEntry: what the probe found of each failing source, by
   * the name chronyd was given; each asked once per call, by the wait's
   * back-off judgement or by the final report, whichever comes first. */
  GHashTable *probes;
  /* With NTS_VERIFY_PROBE, the final round's snapshot and problems, kept
   * while the probes of the sources they name (final_names) run. */
  NtsVerifySnapshot *final;
  GPtrArray *final_problems;
  GPtrArray *final_names;
  gint64             previous_round_us;
  GSource           *timer;

  /* the round under way */
  gint64             round_us;
  guint              outstanding;
  NtsChronyClient   *client;
  gboolean           client_reused;
  gboolean           client_retried;
  NtsChronyReport   *chrony;
  GError            *chrony_error;
  NtsUnitState      *chronyd_unit;
  NtsUnitState      *timesyncd_unit;
  NtsChronyConfScan *conf;
  gint64             chronyd_start_us;
} Verify;

static void
clear_round (Verify *v)
{
  g_clear_pointer (&v->client, nts_chrony_client_unref);
  g_clear_pointer (&v->chrony, nts_chrony_report_free);
  g_clear_error (&v->chrony_error);
  g_clear_pointer (&v->chronyd_unit, nts_unit_state_free);
  g_clear_pointer (&v->timesyncd_unit, nts_unit_state_free);
  g_clear_pointer (&v->conf, nts_chrony_conf_scan_free);
}

static void
verify_free (Verify *v)
{
  /* Before the round it points into. */
  g_clear_pointer (&v->final, nts_verify_snapshot_free);
  g_clear_pointer (&v->final_problems, g_ptr_array_unref);
  g_clear_pointer (&v->final_names, g_ptr_array_unref);
  clear_round (v);
  if (v->timer != NULL)
    {
      g_source_destroy (v->timer);
      g_source_unref (v->timer);
    }
  if (v->cancel_handler != 0)
    g_cancellable_disconnect (v->caller_cancellable, v->cancel_handler);
  g_clear_object (&v->caller_cancellable);
  g_clear_object (&v->cancellable);
  g_clear_pointer (&v->settings, settings_unref);
  g_clear_pointer (&v->observations, g_hash_table_unref);
  g_clear_pointer (&v->probes, g_hash_table_unref);
  nts_verifier_unref (v->verifier);
  g_free (v);
}

static void
forward_cancel (GCancellable *caller, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Returns once: later callbacks of probes or a round see v->returned. */
static void
verify_return (GTask *task, GVariant *report, GError *error)
{
  Verify *v = g_task_get_task_data (task);

  if (v->returned)
    {
      if (report != NULL)
        g_variant_unref (report);
      g_clear_error (&error);
      return;
    }
  v->returned = TRUE;
  if (v->timer != NULL)
    {
      g_source_destroy (v->timer);
      g_clear_pointer (&v->timer, g_source_unref);
    }
  /* Probes still connecting have nothing left to tell. */
  g_cancellable_cancel (v->cancellable);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, report, (GDestroyNotify) g_variant_unref);
}

static gboolean
return_if_cancelled (GTask *task)
{
  GCancellable *caller = g_task_get_cancellable (task);
  GError *error = NULL;

  if (caller == NULL || !g_cancellable_set_error_if_cancelled (caller, &error))
    return FALSE;
  verify_return (task, NULL, error);
  return TRUE;
}

/* ---- waiting --------------------------------------------------------- */

static void start_round (GTask *task);

/* What the probe found of one source, as ProbeServers shows it. */
typedef struct {
  gboolean done;
  GVariant *result; /* a{sv} without secrets; NULL: the probe could not run */
  char *error;      /* then why */
} ProbeEntry;

static void
probe_entry_free (gpointer data)
{
  ProbeEntry *entry = data;

  g_clear_pointer (&entry->result, g_variant_unref);
  g_free (entry->error);
  g_free (entry);
}

/* How chronyd's key exchange with the source failed, as the probe's own
 * key exchange with it fails now. */
static NtsKeFailureKind
failure_kind (GVariant *result)
{
  const char *string = NULL;
  NtsProbePhase phase = NTS_PROBE_OK;

  if (!g_variant_lookup (result, "result", "&s", &string) ||
      !nts_probe_phase_from_string (string, &phase))
    return NTS_KE_FAILURE_UNKNOWN;
  switch (phase)
    {
    case NTS_PROBE_DNS:
    case NTS_PROBE_TCP:
      return NTS_KE_FAILURE_CONNECT;
    case NTS_PROBE_TLS:
    case NTS_PROBE_CERTIFICATE:
    case NTS_PROBE_KE_PROTOCOL:
      return NTS_KE_FAILURE_TLS;
    case NTS_PROBE_OK:
    case NTS_PROBE_NTP_TIMEOUT:
    case NTS_PROBE_NTP_AUTH:
    case NTS_PROBE_NAK:
    case NTS_PROBE_KISS:
    case NTS_PROBE_N_PHASES:
    default:
      /* The key exchange works now, so what failed for chronyd cannot be
       * seen from here: the server was down then, or chronyd trusts other
       * CAs. Unknown is the short back-off: if wrong, a wait lasts until
       * its end, while the long one, if wrong, would end a wait that
       * could still succeed. */
      return NTS_KE_FAILURE_UNKNOWN;
    }
}

static void finish_probed (GTask *task);

/* Every source the final report explains has its probe's answer (or
 * more than NTS_PROBE_MAX_SERVERS failed, and it was never asked). */
static gboolean
final_probes_done (Verify *v)
{
  for (guint i = 0; i < v->final_names->len; i++)
    {
      ProbeEntry *entry = g_hash_table_lookup (v->probes, v->final_names->pdata[i]);

      if (entry != NULL && !entry->done)
        return FALSE;
    }
  return TRUE;
}

typedef struct {
  GTask *task;
  GPtrArray *names; /* char *, the targets' names in order */
} ProbeRun;

static void
on_probes_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ProbeRun *run = user_data;
  g_autoptr(GTask) task = run->task;
  Verify *v = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = nts_probe_cache_run_finish (v->verifier->probes, result,
                                                             &error);

  for (guint i = 0; i < run->names->len; i++)
    {
      const char *name = run->names->pdata[i];
      ProbeEntry *entry = g_hash_table_lookup (v->probes, name);
      const char *phase = "?";

      entry->done = TRUE;
      if (results == NULL)
        {
          entry->error = g_strdup (error->message);
          if (!v->returned)
            g_debug ("verify: NTS probe of %s: %s", name, error->message);
          continue;
        }
      entry->result = g_variant_ref (results->pdata[i]);
      g_variant_lookup (entry->result, "result", "&s", &phase);
      if (!v->returned)
        g_debug ("verify: NTS probe of %s: %s", name, phase);
    }
  g_ptr_array_unref (run->names);
  g_free (run);
  if (!v->returned && v->final != NULL && final_probes_done (v))
    finish_probed (task);
}

/* Probes, in one request through the verifier's cache (a server probed
 * by anyone in the last NTS_PROBE_CACHE_SECONDS is not asked again), each
 * source of @names this call has not probed yet: by the name chronyd was
 * given (the name its certificate must carry) on the configured NTS-KE
 * port. A call probes at most NTS_PROBE_MAX_SERVERS sources.
 *
 * A known limit: the probe trusts the system's CAs (under --root, the
 * root's bundle), not chrony's `ntstrustedcerts`, which ntssetup never
 * writes. On a machine configured by hand with trusted certificates of
 * its own, a server chronyd trusts only through them is, to the probe,
 * from an unknown issuer: the problem then blames the certificate when
 * chronyd's key exchange failed for another reason, and a wait takes
 * that failure for a TLS one, with chronyd's long back-off, and may end
 * before it had to. */
static void
start_probes (GTask *task, GPtrArray *names)
{
  Verify *v = g_task_get_task_data (task);
  g_autoptr(GPtrArray) targets = g_ptr_array_new_with_free_func (g_free);
  ProbeRun *run;

  run = g_new0 (ProbeRun, 1);
  run->names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      const NtsConfServer *conf;
      NtsProbeTarget *target;

      if (g_hash_table_contains (v->probes, name) ||
          g_hash_table_size (v->probes) >= NTS_PROBE_MAX_SERVERS)
        continue;
      conf = nts_chrony_conf_scan_find_server (v->conf, name);
      target = g_new0 (NtsProbeTarget, 1);
      /* Borrowed: the cache copies what it keeps before returning. */
      target->name = (char *) name;
      target->port = conf != NULL ? conf->nts_port : 0;
      g_ptr_array_add (targets, target);
      g_ptr_array_add (run->names, g_strdup (name));
      g_hash_table_insert (v->probes, g_strdup (name), g_new0 (ProbeEntry, 1));
    }
  if (targets->len == 0)
    {
      g_ptr_array_unref (run->names);
      g_free (run);
      return;
    }
  run->task = g_object_ref (task);
  nts_probe_cache_run_async (v->verifier->probes, targets, v->cancellable, on_probes_done, run);
}

/* Whether another round can still find NTS up before the deadline. */
static gboolean
worth_waiting (GTask *task, const NtsDiagSnapshot *snap)
{
  Verify *v = g_task_get_task_data (task);
  g_autoptr(GPtrArray) unprobed = g_ptr_array_new ();
  guint possible = 0;

  if (!snap->socket_reachable)
    {
      const char *state = snap->chronyd_state;

      /* Restarting, starting, or no systemd to ask: chronyd may come. */
      return g_str_equal (state, "active") || g_str_equal (state, "activating") ||
             g_str_equal (state, "deactivating") || g_str_equal (state, "reloading") ||
             g_str_equal (state, "unknown");
    }

  for (guint i = 0; i < snap->n_sources; i++)
    {
      const NtsDiagSource *d = &snap->sources[i];

      if (nts_diag_source_is_usable (d))
        {
          possible++;
          continue;
        }
      if (d->reference_clock || (!d->nts && d->state != NTS_SOURCE_UNRESOLVED))
        continue;   /* never counts as authenticated */

      if (nts_diag_source_ke_failing (snap, d) && *d->address != '\0')
        {
          NtsKeObservation *obs = g_hash_table_lookup (v->observations, d->address);
          ProbeEntry *probed = g_hash_table_lookup (v->probes, d->name);
          NtsKeFailureKind kind = NTS_KE_FAILURE_UNKNOWN;
          gint64 next;

          if (obs == NULL)
            {
              obs = g_new0 (NtsKeObservation, 1);
              g_hash_table_insert (v->observations, g_strdup (d->address), obs);
            }
          nts_ke_observe (obs, d->ke_attempts, v->round_us, v->previous_round_us,
                          v->chronyd_start_us);
          if (probed == NULL)
            g_ptr_array_add (unprobed, (gpointer) d->name);
          else if (probed->result != NULL)
            kind = failure_kind (probed->result);

          next = nts_ke_next_attempt_us (obs, kind);
          if (next != NTS_KE_TIME_UNKNOWN && next > v->deadline_us)
            {
              g_debug ("verify: %s: next key exchange not before %" G_GINT64_FORMAT
                       " s from now, after the wait", d->name,
                       (next - v->round_us) / G_USEC_PER_SEC);
              continue;
            }
        }
      possible++;
    }
  start_probes (task, unprobed);
  return possible >= snap->min_sources;
}

static gboolean
on_timer (gpointer user_data)
{
  GTask *task = user_data;
  Verify *v = g_task_get_task_data (task);

  g_clear_pointer (&v->timer, g_source_unref);
  start_round (task);
  return G_SOURCE_REMOVE;
}

/* ---- the final report's probes ---------------------------------------- */

/* The per-source problems a probe can tell the cause of. */
static gboolean
probe_explains (const NtsProblem *problem)
{
  static const char *const codes[] = {
    "nts-ke-failed",
    "ntp-unanswered",
    "nts-nak",
    "name-unresolved",
  };

  if (*problem->source == '\0')
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (codes); i++)
    if (g_str_equal (problem->code, codes[i]))
      return TRUE;
  return FALSE;
}

/* The report of the final round once every source it finds failing is
 * probed: each such problem says what the probe found, each such source
 * carries the probe's answer under 'probe', and when no source is
 * authenticated and every probe failed on its certificate's dates alone,
 * the clock-far-off problem comes first (probe-diagnosis.h). */
static void
finish_probed (GTask *task)
{
  Verify *v = g_task_get_task_data (task);
  const NtsDiagSnapshot *snap = nts_verify_snapshot_diag (v->final);
  gint64 now_unix = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GHashTable) shown = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) results = g_ptr_array_new ();
  NtsProblem *far_off = NULL;

  if (v->returned || return_if_cancelled (task))
    return;

  for (guint i = 0; i < v->final_names->len; i++)
    {
      const char *name = v->final_names->pdata[i];
      ProbeEntry *entry = g_hash_table_lookup (v->probes, name);

      if (entry != NULL && entry->result != NULL)
        {
          g_hash_table_insert (shown, (gpointer) name, entry->result);
          g_ptr_array_add (results, entry->result);
        }
    }

  for (guint i = 0; i < v->final_problems->len; i++)
    {
      NtsProblem *problem = v->final_problems->pdata[i];
      ProbeEntry *entry;

      if (!probe_explains (problem))
        continue;
      entry = g_hash_table_lookup (v->probes, problem->source);
      if (entry != NULL && entry->result != NULL)
        nts_probe_explain_problem (problem, entry->result, now_unix);
      else if (entry != NULL && entry->error != NULL)
        {
          char *text = g_strdup_printf ("%s. The probe asked for could not run: %s",
                                        problem->message, entry->error);

          g_free (problem->message);
          problem->message = text;
        }
    }

  /* One expired certificate is the server's fault; all of them while
   * nothing authenticates is this machine's clock. */
  if (nts_diag_authenticated_sources (snap) == 0)
    far_off = nts_probe_clock_far_off ((GVariant *const *) results->pdata, results->len,
                                       now_unix);
  if (far_off != NULL)
    g_ptr_array_insert (v->final_problems, 0, far_off);

  verify_return (task, nts_verify_snapshot_report (v->final, v->final_problems, shown), NULL);
}

/* Takes @s and @problems, the final round's, and probes the sources
 * their problems name, unless this call's wait already did (or is
 * doing: then its answer is awaited rather than asked twice). */
static void
probe_failing (GTask *task, NtsVerifySnapshot *s, GPtrArray *problems)
{
  Verify *v = g_task_get_task_data (task);

  v->final = s;
  v->final_problems = problems;
  v->final_names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < problems->len; i++)
    {
      const NtsProblem *problem = problems->pdata[i];

      if (probe_explains (problem) &&
          !g_ptr_array_find_with_equal_func (v->final_names, problem->source, g_str_equal, NULL))
        g_ptr_array_add (v->final_names, g_strdup (problem->source));
    }
  start_probes (task, v->final_names);
  if (final_probes_done (v))
    finish_probed (task);
}

/* ---- a round --------------------------------------------------------- */

static void
evaluate (GTask *task)
{
  Verify *v = g_task_get_task_data (task);
  g_autoptr(NtsVerifySnapshot) s = NULL;
  g_autoptr(GPtrArray) problems = NULL;
  g_autoptr(GVariant) report = NULL;
  const NtsDiagSnapshot *snap;
  NtsVerifyInputs inputs = { 0 };
  gint64 now, remaining_ms;

  if (v->returned || return_if_cancelled (task))
    return;

  inputs.layout = v->layout;
  inputs.operators = v->operators;
  inputs.conf = v->conf;
  inputs.chrony = v->chrony;
  inputs.chrony_error = v->chrony_error ? v->chrony_error->message : NULL;
  inputs.chronyd_unit = v->chronyd_unit;
  inputs.timesyncd_unit = v->timesyncd_unit;
  inputs.chronyd_uptime = v->chronyd_start_us == NTS_KE_TIME_UNKNOWN
    ? -1 : (v->round_us - v->chronyd_start_us) / G_USEC_PER_SEC;
  s = nts_verify_snapshot_new (&inputs);
  snap = nts_verify_snapshot_diag (s);
  problems = nts_diagnose (snap);

  now = g_get_monotonic_time ();
  if (v->wait_s == 0 || nts_diag_is_ok (snap) || now >= v->deadline_us ||
      !worth_waiting (task, snap))
    {
      if ((v->flags & NTS_VERIFY_PROBE) != 0)
        {
          probe_failing (task, g_steal_pointer (&s), g_steal_pointer (&problems));
          return;
        }
      report = nts_verify_snapshot_report (s, problems, NULL);
      verify_return (task, g_steal_pointer (&report), NULL);
      return;
    }

  v->previous_round_us = v->round_us;
  remaining_ms = (v->deadline_us - now + 999) / 1000;
  v->timer = g_timeout_source_new ((guint) MIN (remaining_ms, NTS_VERIFY_POLL_INTERVAL_MS));
  g_source_set_callback (v->timer, on_timer, g_object_ref (task), g_object_unref);
  g_source_attach (v->timer, g_task_get_context (task));
}

static void
round_done (GTask *task)
{
  Verify *v = g_task_get_task_data (task);

  g_assert (v->outstanding > 0);
  if (--v->outstanding == 0)
    evaluate (task);
}

static void
on_report (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Verify *v = g_task_get_task_data (task);

  v->chrony = nts_chrony_client_fetch_report_finish (v->client, result, &v->chrony_error);
  if (v->chrony == NULL)
    {
      drop_shared_client (v->verifier, v->client);
      /* A socket kept from before a restart of chronyd fails once: ask
       * again on a fresh one before calling chronyd unreachable. */
      if (v->client_reused && !v->client_retried &&
          !g_error_matches (v->chrony_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_error_matches (v->chrony_error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_TIMEOUT))
        {
          g_autofree char *host_socket = nts_layout_host_path (v->layout, v->layout->socket_path);

          v->client_retried = TRUE;
          g_clear_error (&v->chrony_error);
          g_clear_pointer (&v->client, nts_chrony_client_unref);
          v->client = shared_client (v->verifier, host_socket, &v->client_reused, &v->chrony_error);
          if (v->client != NULL)
            {
              nts_chrony_client_fetch_report_async (v->client, v->cancellable, on_report,
                                                    g_steal_pointer (&task));
              return;
            }
        }
    }
  round_done (task);
}

static void
on_unit (GTask *task, GAsyncResult *result, NtsUnitState **out, const char *unit)
{
  g_autoptr(GError) error = NULL;

  *out = nts_systemd_get_unit_state_finish (result, &error);
  if (*out == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("verify: cannot ask systemd about %s: %s", unit, error->message);
  round_done (task);
}

static void
on_chronyd_unit (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Verify *v = g_task_get_task_data (task);

  on_unit (task, result, &v->chronyd_unit, v->layout->unit);
}

static void
on_timesyncd_unit (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Verify *v = g_task_get_task_data (task);

  on_unit (task, result, &v->timesyncd_unit, v->layout->timesyncd_unit);
}

/* chronyd creates its command socket when it starts and never touches it
 * again: the socket's age is chronyd's uptime, which bounds when its first
 * key exchanges happened. Monotonic, like everything we compare it to. */
static gint64
chronyd_start_us (const char *host_socket)
{
  struct stat st;
  gint64 born_real, now_real;

  if (lstat (host_socket, &st) != 0 || !S_ISSOCK (st.st_mode))
    return NTS_KE_TIME_UNKNOWN;
  born_real = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  now_real = g_get_real_time ();
  if (born_real > now_real)
    return NTS_KE_TIME_UNKNOWN;
  return g_get_monotonic_time () - (now_real - born_real);
}

static void
scan_config (Verify *v)
{
  g_autoptr(GError) error = NULL;

  v->conf = v->layout->config_file
    ? nts_chrony_conf_scan (v->layout->root, v->layout->config_file, &error)
    : NULL;
  if (v->conf == NULL)
    {
      /* No file, or one we refuse to read (a symbolic link): chronyd's
       * defaults are the best guess, and the sources still tell the rest. */
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_debug ("verify: cannot read %s: %s", v->layout->config_file, error->message);
      v->conf = nts_chrony_conf_scan_text ("");
    }
}

static void
start_round (GTask *task)
{
  Verify *v = g_task_get_task_data (task);
  g_autofree char *host_socket = nts_layout_host_path (v->layout, v->layout->socket_path);

  if (return_if_cancelled (task))
    return;

  clear_round (v);
  v->round_us = g_get_monotonic_time ();
  v->outstanding = 1;   /* until everything below is under way */

  scan_config (v);
  v->chronyd_start_us = chronyd_start_us (host_socket);

  v->client_retried = FALSE;
  v->client = shared_client (v->verifier, host_socket, &v->client_reused, &v->chrony_error);
  if (v->client != NULL)
    {
      v->outstanding++;
      nts_chrony_client_fetch_report_async (v->client, v->cancellable, on_report,
                                            g_object_ref (task));
    }

  if (v->verifier->bus != NULL)
    {
      v->outstanding += 2;
      nts_systemd_get_unit_state_async (v->verifier->bus, v->layout->unit, v->cancellable,
                                        on_chronyd_unit, g_object_ref (task));
      nts_systemd_get_unit_state_async (v->verifier->bus, v->layout->timesyncd_unit,
                                        v->cancellable, on_timesyncd_unit, g_object_ref (task));
    }

  round_done (task);
}

/* ---- start ----------------------------------------------------------- */

static void
use_settings (Verify *v, Settings *settings)
{
  v->settings = settings;
  v->layout = settings->layout;
  v->operators = settings->operators;
}

static void
on_layout (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Verify *v = g_task_get_task_data (task);
  NtsVerifier *verifier = v->verifier;
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(NtsLayoutOverride) override = NULL;
  Settings *settings;
  GError *error = NULL;

  layout = nts_layout_cache_get_finish (verifier->layouts, result, &error);
  override = layout ? nts_layout_override_load (verifier->root, &error) : NULL;
  if (override == NULL)
    {
      verify_return (task, NULL, error);
      return;
    }

  settings = g_new0 (Settings, 1);
  settings->ref_count = 1;
  settings->layout = g_steal_pointer (&layout);
  settings->operators = g_steal_pointer (&override->operators);
  settings->stamp = v->stamp;
  settings->time_us = g_get_monotonic_time ();
  g_clear_pointer (&verifier->settings, settings_unref);
  verifier->settings = settings_ref (settings);
  use_settings (v, settings);
  start_round (task);
}

void
nts_verify_async (NtsVerifier *verifier, guint wait_s, NtsVerifyFlags flags,
                  GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  Settings *settings;
  Verify *v;

  g_return_if_fail (verifier != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  nts_task_set_source_tag (task, nts_verify_async);

  v = g_new0 (Verify, 1);
  v->verifier = nts_verifier_ref (verifier);
  v->wait_s = wait_s;
  v->flags = flags;
  v->deadline_us = g_get_monotonic_time () + (gint64) wait_s * G_USEC_PER_SEC;
  v->previous_round_us = NTS_KE_TIME_UNKNOWN;
  v->observations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  v->probes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, probe_entry_free);
  v->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      v->caller_cancellable = g_object_ref (cancellable);
      v->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (forward_cancel),
                                               g_object_ref (v->cancellable), g_object_unref);
    }
  g_task_set_task_data (task, v, (GDestroyNotify) verify_free);

  settings = cached_settings (verifier, &v->stamp);
  if (settings != NULL)
    {
      use_settings (v, settings);
      start_round (task);
    }
  else
    nts_layout_cache_get_async (verifier->layouts, on_layout, g_object_ref (task));
}

GVariant *
nts_verify_finish (NtsVerifier   *verifier,
                   GAsyncResult  *result,
                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == NTS_TASK_TAG (nts_verify_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
