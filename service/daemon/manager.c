/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"
#include "manager.h"

#include "applied-state.h"
#include "apply.h"
#include "authorization.h"
#include "caller-limits.h"
#include "chrony-client.h"
#include "ensure-chrony.h"
#include "last-result.h"
#include "log-fields.h"
#include "layout.h"
#include "layout-cache.h"
#include "nts-errors.h"
#include "nts-names.h"
#include "nts-manager-generated.h"
#include "options.h"
#include "probe-cache.h"
#include "recovery.h"
#include "render.h"
#include "rollback.h"
#include "safe-fs.h"
#include "snapshot-store.h"
#include "systemd-client.h"
#include "verify.h"


struct _NtsManager {
  GDBusConnection *connection;
  NtsManager1     *skeleton;
  /* Every file under --root (state directory, snapshots, journal) is
   * reached through this one handle, opened once at start. */
  NtsRoot         *fs_root;
  NtsLifetime     *lifetime;
  GCancellable    *cancellable;
  /* The one-mutating-call lock. Taken only after authorization, so a
   * caller sitting in a password dialog blocks nobody. */
  gboolean         mutating;
  /* Verify, and where chrony lives for every read-only answer (its
   * layout cache); made at start. */
  NtsVerifier     *verifier;
  NtsLayoutCache  *layouts;
  /* What each caller may cost (caller-limits.h). */
  NtsCallerLimits *limits;
  /* Probes' results of the last minute (probe-cache.h), the verifier's:
   * ProbeServers and Verify's 'probe' share them. */
  NtsProbeCache *probes;
  /* Verify calls without a wait, authorised, sharing the one report being
   * gathered: anyone may call Verify, so a thousand at once cost one. */
  GPtrArray       *verify_now_calls;
  /* A journal was found at start: recovery runs once the name is ours,
   * and holds the lock (mutating calls get Busy) until it ends. */
  gboolean         recovery_pending;
  gboolean         recovery_failed;
  gboolean         name_owned;
};

/* One method call from arrival to reply. It holds the daemon alive. */
typedef struct _Call Call;
typedef void (*CallStep) (Call *call);

struct _Call {
  NtsManager            *manager;
  GDBusMethodInvocation *invocation;
  const char            *method;
  guint32                uid;                /* the caller's, once admitted */
  gboolean               admitted;           /* holds a place in the limits */
  CallStep               next;               /* what runs once admitted, or authorized */
  const char            *action;             /* the polkit action asked once admitted */
  NtsApplyOptions       *apply;
  NtsProbeOptions *probe;
  gboolean holds_probe; /* a place among the probes (caller-limits.h) */
  guint                  wait;
  gboolean verify_probe; /* Verify's 'probe' */
  gboolean               force;
  char                  *snapshot_id;
  gboolean               holds_lock;
  char                  *state_before;
  NtsLayout             *layout;
  const char            *step;               /* the Progress step running */
  gint64                 started;            /* monotonic, at arrival */
  char                  *result_snapshot_id; /* for LastResult */
  GVariant *probe_results;                   /* for LastResult: Apply's preflight verdicts */
  gboolean               install_authorized; /* the caller may install packages */
};

static Call *
call_new (NtsManager *manager, GDBusMethodInvocation *invocation, const char *method)
{
  Call *call = g_new0 (Call, 1);

  call->manager = manager;
  call->invocation = g_object_ref (invocation);
  call->method = method;
  call->started = g_get_monotonic_time ();
  nts_lifetime_hold (manager->lifetime);
  return call;
}

static void
call_free (Call *call)
{
  if (call->admitted)
    nts_caller_limits_give_back (call->manager->limits, NTS_LIMIT_CALLS, call->uid);
  if (call->holds_probe)
    nts_caller_limits_give_back (call->manager->limits, NTS_LIMIT_PROBES, call->uid);
  nts_lifetime_release (call->manager->lifetime);
  g_clear_object (&call->invocation);
  g_clear_pointer (&call->apply, nts_apply_options_free);
  g_clear_pointer (&call->probe, nts_probe_options_free);
  g_clear_pointer (&call->layout, nts_layout_free);
  g_free (call->result_snapshot_id);
  g_clear_pointer (&call->probe_results, g_variant_unref);
  g_free (call->snapshot_id);
  g_free (call->state_before);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void refresh_properties (NtsManager *manager);
static void check_recovery (NtsManager *manager);

/* LastResult, in the property and on disk (it outlives the daemon). */
static void
publish_last_result (NtsManager *manager, GVariant *result)
{
  g_autoptr(GError) error = NULL;

  g_variant_ref_sink (result);
  nts_manager1_set_last_result (manager->skeleton, result);
  if (!nts_last_result_save (manager->fs_root, NULL, result, &error))
    g_debug ("cannot keep LastResult on disk: %s", error->message);
  g_variant_unref (result);
}

/* The outcome of a mutating call that ran, for callers who gave up
 * waiting for the reply. */
static void
record_last_result (Call *call, const GError *error)
{
  publish_last_result (call->manager,
                       nts_last_result_new_full (call->method, error, call->step,
                                                 call->result_snapshot_id, call->probe_results));
}

static void
call_unlock (Call *call)
{
  if (!call->holds_lock)
    return;
  nts_manager1_set_state (call->manager->skeleton, call->state_before);
  call->manager->mutating = FALSE;
  call->holds_lock = FALSE;
  /* It may have installed packages or changed units. */
  nts_verifier_forget_layout (call->manager->verifier);
  /* A Rollback cut short, or an Apply not fully undone, left its journal. */
  check_recovery (call->manager);
  refresh_properties (call->manager);
}

static void
call_return_error (Call *call, GError *error)
{
  /* Only the contract's error names reach callers: a GIO error (a link
   * in a path, a malformed layout.conf) would otherwise go out as
   * org.gtk.GDBus.UnmappedGError.*. */
  if (error->domain != NTS_ERROR && error->domain != G_DBUS_ERROR)
    {
      GError *wrapped;

      g_dbus_error_strip_remote_error (error);
      wrapped = g_error_new (NTS_ERROR, NTS_ERROR_FAILED, "%s", error->message);
      g_error_free (error);
      error = wrapped;
    }
  if (call->holds_lock)
    record_last_result (call, error);
  call_unlock (call);
  g_dbus_method_invocation_return_gerror (call->invocation, error);
  g_error_free (error);
  call_free (call);
}

static void
call_return_value (Call *call, GVariant *value)
{
  if (call->holds_lock)
    record_last_result (call, NULL);
  call_unlock (call);
  g_dbus_method_invocation_return_value (call->invocation, value);
  call_free (call);
}

/* Mutating calls only: refuse with Busy rather than queue, so two callers
 * never interleave and neither waits blind. Asked once before the checks
 * that precede the lock too (what is in place may be about to change, and
 * no second password dialog should be shown only to end in Busy), and
 * again when taking it. */
static gboolean
call_check_not_busy (Call *call, GError **error)
{
  NtsManager *manager = call->manager;

  if (manager->mutating)
    {
      g_set_error (error, NTS_ERROR, NTS_ERROR_BUSY,
                   "another change is in progress (State: %s); try again when it ends",
                   nts_manager1_get_state (manager->skeleton));
      return FALSE;
    }
  return TRUE;
}

static gboolean
call_try_lock (Call *call, const char *state, GError **error)
{
  NtsManager *manager = call->manager;

  if (!call_check_not_busy (call, error))
    return FALSE;
  manager->mutating = TRUE;
  call->holds_lock = TRUE;
  call->state_before = g_strdup (nts_manager1_get_state (manager->skeleton));
  nts_manager1_set_state (manager->skeleton, state);
  return TRUE;
}

static void call_authorize_then (Call *call, const char *action, CallStep next);

/* Every call is counted against its caller's limits before anything is
 * asked of polkit or systemd: one past them is LimitsExceeded at once. */
static void
call_admit_uid (Call *call)
{
  GError *error = NULL;

  if (!nts_caller_limits_take (call->manager->limits, NTS_LIMIT_CALLS, call->uid, &error))
    {
      call_return_error (call, error);
      return;
    }
  call->admitted = TRUE;
  call_authorize_then (call, call->action, call->next);
}

static void
on_caller_uid (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Call *call = user_data;
  GError *error = NULL;

  if (!nts_caller_uid_finish (call->manager->limits, res, &call->uid, &error))
    call_return_error (call, error);
  else
    call_admit_uid (call);
}

/* Admits the call (caller-limits.h), then asks polkit for @action, then
 * runs @next. */
static void
call_admit (Call *call, const char *action, CallStep next)
{
  const char *sender = g_dbus_method_invocation_get_sender (call->invocation);

  call->action = action;
  call->next = next;
  if (sender == NULL)
    {
      /* A peer-to-peer connection: no bus to say who it is. */
      call_return_error (call, g_error_new (G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                                            "callers must come through the system bus"));
      return;
    }
  /* Known callers (every call after a connection's first) are admitted
   * or refused at once: a flood costs a hash lookup per call. */
  if (nts_caller_uid_lookup_cached (call->manager->limits, sender, &call->uid))
    call_admit_uid (call);
  else
    nts_caller_uid_async (call->manager->limits, sender, on_caller_uid, call);
}

/* polkit's answer for @action, then @next, or the call's error. */
static void
on_authorized_then (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Call *call = user_data;
  GError *error = NULL;

  if (!nts_authorize_finish (res, &error))
    call_return_error (call, error);
  else
    call->next (call);
}

static void
call_authorize_then (Call *call, const char *action, CallStep next)
{
  call->next = next;
  nts_authorize_async (call->invocation, action, call->manager->cancellable,
                       on_authorized_then, call);
}

/* What Apply's options change in chrony's configuration, beyond the
 * servers and min-sources: the same for PreviewConfig and Apply. */
static NtsRenderFlags
render_flags (const NtsApplyOptions *options)
{
  return options->allow_clock_far_off ? NTS_RENDER_NO_CERT_TIME_CHECK : NTS_RENDER_DEFAULT;
}

/* ---- properties ------------------------------------------------------ */

/* A refresh only reads: what chrony's layout says (ChronyInstalled), what
 * systemd says of the layout's timesyncd unit (TimesyncdActive), and what
 * ntssetup put in place (State, Servers, MinSources). @task, when set,
 * completes once every answer is in, so the daemon can take its name only
 * when its first answer is already true. */
typedef struct {
  NtsManager *manager;
  GTask      *task;
} Refresh;

static void
refresh_done (Refresh *refresh)
{
  if (refresh->task)
    {
      g_task_return_boolean (refresh->task, TRUE);
      g_object_unref (refresh->task);
    }
  g_free (refresh);
}

static void
on_timesyncd_state (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Refresh *refresh = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsUnitState) state = nts_systemd_get_unit_state_finish (res, &error);

  if (state == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("cannot ask systemd about timesyncd: %s", error->message);
    }
  else
    nts_manager1_set_timesyncd_active (refresh->manager->skeleton,
                                       g_strcmp0 (state->active_state, "active") == 0);
  refresh_done (refresh);
}

static void
on_layout_for_properties (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Refresh *refresh = user_data;
  NtsManager *manager = refresh->manager;
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsLayout) layout = nts_layout_cache_get_finish (manager->layouts, res, &error);

  if (layout == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("cannot resolve chrony's layout: %s", error->message);
      refresh_done (refresh);
      return;
    }
  nts_manager1_set_chrony_installed (manager->skeleton, layout->chrony_installed);
  nts_systemd_get_unit_state_async (manager->connection, layout->timesyncd_unit,
                                    manager->cancellable, on_timesyncd_state, refresh);
}

/* State, Servers and MinSources: what ntssetup put in place, from the
 * applied marker and its snapshot; read while no mutating call (nor
 * recovery) runs. */
static void
refresh_applied_state (NtsManager *manager)
{
  g_autoptr(GError) error = NULL;
  NtsRoot *root = manager->fs_root;
  g_autofree char *id = NULL;
  g_autoptr(NtsSnapshotStore) store = NULL;
  g_autoptr(NtsSnapshot) snapshot = NULL;
  g_autofree const char **servers = NULL;
  guint32 min_sources = 0;
  gboolean changed = FALSE;

  if (manager->mutating || manager->recovery_failed)
    return;
  id = nts_applied_state_get (root, NULL, &error);
  if (id != NULL)
    store = nts_snapshot_store_open_readonly (root, NULL, &error);
  if (store != NULL)
    snapshot = nts_snapshot_store_load (store, id, &error);
  if (snapshot != NULL &&
      !nts_snapshot_store_changed_since (store, id, NULL, &changed, NULL, &error))
    g_clear_pointer (&snapshot, nts_snapshot_free);
  if (error != NULL)
    {
      g_debug ("cannot tell what is applied: %s", error->message);
      return;
    }
  if (snapshot == NULL)
    {
      nts_manager1_set_state (manager->skeleton, "unconfigured");
      nts_manager1_set_servers (manager->skeleton, (const char *const[]) { NULL });
      nts_manager1_set_min_sources (manager->skeleton, 0);
      return;
    }
  nts_manager1_set_state (manager->skeleton, changed ? "modified-outside" : "applied");
  if (g_variant_lookup (snapshot->state, "servers", "^a&s", &servers))
    nts_manager1_set_servers (manager->skeleton, servers);
  g_variant_lookup (snapshot->state, "min-sources", "u", &min_sources);
  nts_manager1_set_min_sources (manager->skeleton, min_sources);
}

static void
start_refresh (NtsManager *manager, GTask *task)
{
  Refresh *refresh = g_new0 (Refresh, 1);

  refresh_applied_state (manager);
  refresh->manager = manager;
  refresh->task = task;
  nts_layout_cache_get_async (manager->layouts, on_layout_for_properties, refresh);
}

static void
refresh_properties (NtsManager *manager)
{
  start_refresh (manager, NULL);
}

/* ---- recovery -------------------------------------------------------- */

static void
on_recovered (GObject *source, GAsyncResult *res, gpointer user_data)
{
  NtsManager *manager = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = nts_recovery_run_finish (res, &error);
  const char *id = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* shutting down: the journal stays for the next start */
  if (result != NULL)
    g_variant_lookup (result, "snapshot-id", "&s", &id);
  publish_last_result (manager, nts_last_result_new ("Recover", error, NULL, id));
  nts_verifier_forget_layout (manager->verifier);
  if (error != NULL)
    {
      /* Retrying in a loop would repeat what just failed; a restart of
       * the daemon (or the boot-time unit) tries again. Until then
       * mutating calls get Busy, and LastResult says why. */
      /* A message, not a warning: the daemon lives on (Busy, LastResult
       * saying why), and G_DEBUG=fatal-warnings must not end it. */
      nts_log_snapshot (G_LOG_LEVEL_MESSAGE, id,
                        "recovering the interrupted transaction failed: %s", error->message);
      manager->recovery_failed = TRUE;
    }
  else
    {
      nts_log_snapshot (G_LOG_LEVEL_MESSAGE, id, "recovered: snapshot %s is back in place", id);
      manager->mutating = FALSE;
    }
  nts_lifetime_release (manager->lifetime);
  refresh_properties (manager);
}

static void
start_recovery (NtsManager *manager)
{
  NtsRecoveryParams params = { 0 };

  if (!manager->name_owned || !manager->recovery_pending)
    return;
  manager->recovery_pending = FALSE;
  nts_lifetime_hold (manager->lifetime);
  params.root = manager->fs_root;
  params.system_bus = manager->connection;
  /* Jobs the dead daemon queued may still be running. */
  params.wait_for_jobs = TRUE;
  nts_recovery_run_async (&params, manager->cancellable, on_recovered, manager);
}

/* A journal on disk is a transaction to undo or finish: found at start,
 * or left by a call whose undo or restore could not finish. Recovery
 * holds the lock (mutating calls get Busy, State says "recovering") and
 * starts once the name is ours. */
static void
check_recovery (NtsManager *manager)
{
  g_autoptr(GError) error = NULL;

  if (manager->mutating || manager->recovery_failed)
    return;
  if (!nts_recovery_needed (manager->fs_root, NULL, &error))
    {
      if (error != NULL)
        g_debug ("cannot tell whether a transaction is unfinished: %s", error->message);
      return;
    }
  manager->mutating = TRUE;
  manager->recovery_pending = TRUE;
  nts_manager1_set_state (manager->skeleton, "recovering");
  start_recovery (manager);
}

void
nts_manager_name_acquired (NtsManager *manager)
{
  manager->name_owned = TRUE;
  start_recovery (manager);
}

/* What the previous daemon (or the boot-time recovery) last did. */
static void
load_last_result (NtsManager *manager)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = nts_last_result_load (manager->fs_root, NULL, &error);

  if (result != NULL)
    nts_manager1_set_last_result (manager->skeleton, result);
  else if (error != NULL)
    g_debug ("cannot read the last result: %s", error->message);
}

/* A daemon killed mid-Verify (a crash in the commit check) left its
 * client socket in chronyd's directory: swept once, at start. */
static void
on_layout_for_sweep (GObject *source, GAsyncResult *res, gpointer user_data)
{
  NtsLayoutCache *layouts = user_data;
  g_autoptr(NtsLayout) layout = nts_layout_cache_get_finish (layouts, res, NULL);
  g_autofree char *socket = NULL;

  if (layout == NULL)
    return;
  socket = nts_layout_host_path (layout, layout->socket_path);
  nts_chrony_client_remove_stale (socket);
}

void
nts_manager_start_async (NtsManager *manager, GAsyncReadyCallback callback, gpointer user_data)
{
  load_last_result (manager);
  check_recovery (manager);
  nts_layout_cache_get_async (manager->layouts, on_layout_for_sweep, manager->layouts);
  start_refresh (manager, g_task_new (NULL, NULL, callback, user_data));
}

gboolean
nts_manager_start_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- PreviewConfig --------------------------------------------------- */

static void
on_preview_layout (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  GError *error = NULL;
  g_autoptr(GPtrArray) files = NULL;
  GVariantBuilder builder;

  call->layout = nts_layout_cache_get_finish (call->manager->layouts, res, &error);
  if (call->layout == NULL)
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  files = nts_render_files_full (call->layout, (const char *const *) call->apply->servers,
                                 call->apply->min_sources, render_flags (call->apply), &error);
  if (files == NULL)
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ss}"));
  for (guint i = 0; i < files->len; i++)
    {
      NtsRenderedFile *file = files->pdata[i];
      g_autofree char *shown = nts_rendered_file_preview (file);

      g_variant_builder_add (&builder, "{ss}", file->path, shown);
    }
  call_return_value (g_steal_pointer (&call), g_variant_new ("(a{ss})", &builder));
}

static void
preview_authorized (Call *call)
{
  nts_layout_cache_get_async (call->manager->layouts, on_preview_layout, call);
}

/* PreviewConfig and ApplyHardenedConfig take the same options, checked
 * before anything else: bad input costs no polkit round. */
static gboolean
handle_apply_options (NtsManager *manager, GDBusMethodInvocation *invocation, GVariant *options,
                      const char *method, const char *action, CallStep next)
{
  g_autoptr(Call) call = call_new (manager, invocation, method);
  GError *error = NULL;

  call->apply = nts_apply_options_parse (options, &error);
  if (call->apply == NULL)
    call_return_error (g_steal_pointer (&call), error);
  else
    call_admit (g_steal_pointer (&call), action, next);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_preview_config (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
                       GVariant *options, NtsManager *manager)
{
  return handle_apply_options (manager, invocation, options, "PreviewConfig",
                               NTS_ACTION_VERIFY, preview_authorized);
}

/* ---- ApplyHardenedConfig --------------------------------------------- */

static void
on_step_progress (const char *step, guint index, guint count, gpointer user_data)
{
  Call *call = user_data;

  call->step = step;
  nts_manager1_emit_progress (call->manager->skeleton, step, index + 1, count);
}

/* Apply's and Rollback's reply: the result dict (its snapshot id goes
 * into LastResult too), or the error. */
static void
call_return_transaction (Call *call, GVariant *result, GError *error)
{
  if (result == NULL)
    {
      call_return_error (call, error);
      return;
    }
  GVariantDict dict;

  g_variant_lookup (result, "snapshot-id", "s", &call->result_snapshot_id);
  /* The whole call, polkit included: what the caller waited. */
  g_variant_dict_init (&dict, result);
  g_variant_dict_insert (&dict, "duration-ms", "t",
                         (guint64) ((g_get_monotonic_time () - call->started) / 1000));
  g_variant_unref (result);
  call_return_value (call, g_variant_new ("(@a{sv})", g_variant_dict_end (&dict)));
}

static void
on_apply_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Call *call = user_data;
  GError *error = NULL;
  GVariant *result = nts_apply_run_finish (res, &error);

  /* Also on failure: PreflightFailed's verdicts per server, which its
   * message only lists for people. */
  call->probe_results = nts_apply_run_get_probe_results (res);
  call_return_transaction (call, result, error);
}

/* Every authorization the call needs is in: only now the lock. */
static void
apply_lock (Call *call)
{
  NtsManager *manager = call->manager;
  NtsApplyParams params = { 0 };
  GError *error = NULL;

  if (!call_try_lock (call, "applying", &error))
    {
      call_return_error (call, error);
      return;
    }
  params.root = manager->fs_root;
  params.system_bus = manager->connection;
  params.servers = (const char *const *) call->apply->servers;
  params.min_sources = call->apply->min_sources;
  params.wait_sync_s = call->apply->wait_sync;
  params.preflight = call->apply->preflight;
  params.render_flags = render_flags (call->apply);
  params.install = call->apply->install;
  params.install_authorized = call->install_authorized;
  nts_apply_run_async (&params, on_step_progress, call, manager->cancellable, on_apply_done, call);
}

static void
apply_install_authorized (Call *call)
{
  call->install_authorized = TRUE;
  apply_lock (call);
}

/* Before the lock: will this call install chrony? Installing is a right
 * of its own, asked for the caller (polkitd allows root anything, so
 * PackageKit's own check of us proves nothing), and it is always a
 * password dialog; a caller sitting in one must block nobody, so it is
 * asked before the lock is taken, and the lock's fresh resolve checks
 * again. */
static void
on_apply_precheck (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsLayout) layout = nts_layout_cache_get_finish (call->manager->layouts, res, &error);

  /* A layout that cannot be resolved fails under the lock, as the
   * resolve step, with the XML's error. */
  if (layout == NULL || layout->chrony_installed || !call->apply->install)
    {
      apply_lock (call);
      return;
    }
  call_authorize_then (call, NTS_ACTION_INSTALL, apply_install_authorized);
}

static void
apply_authorized (Call *call)
{
  GError *error = NULL;

  if (!call_check_not_busy (call, &error))
    {
      call_return_error (call, error);
      return;
    }
  nts_layout_cache_get_async (call->manager->layouts, on_apply_precheck, call);
}

static gboolean
handle_apply (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
              GVariant *options, NtsManager *manager)
{
  return handle_apply_options (manager, invocation, options, "ApplyHardenedConfig",
                               NTS_ACTION_APPLY, apply_authorized);
}

/* ---- Rollback -------------------------------------------------------- */

static void
on_restore_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GError *error = NULL;
  GVariant *result = nts_rollback_run_finish (res, &error);

  call_return_transaction (user_data, result, error);
}

/* Every authorization the call needs is in: only now the lock. */
static void
rollback_lock (Call *call)
{
  NtsManager *manager = call->manager;
  GError *error = NULL;
  NtsRollbackParams params = { 0 };

  if (!call_try_lock (call, "rolling-back", &error))
    {
      call_return_error (call, error);
      return;
    }
  params.root = manager->fs_root;
  params.system_bus = manager->connection;
  params.snapshot_id = call->snapshot_id;
  params.force = call->force;
  params.packages_forbidden = !call->install_authorized;
  nts_rollback_run_async (&params, on_step_progress, call, manager->cancellable,
                          on_restore_done, call);
}

static void
rollback_install_authorized (Call *call)
{
  call->install_authorized = TRUE;
  rollback_lock (call);
}

/* Before the lock, and writing nothing: does the snapshot exist, and
 * would restoring it install or remove packages? Putting packages back
 * is the install action's right (the rollback action, or the umbrella
 * configure action, never implies it), asked for the caller before the
 * lock like Apply's; the restore checks again under the lock. */
static void
rollback_authorized (Call *call)
{
  GError *error = NULL;
  gboolean changes_packages = FALSE;

  if (!call_check_not_busy (call, &error) ||
      !nts_rollback_changes_packages (call->manager->fs_root, NULL, call->snapshot_id,
                                     &changes_packages, &error))
    {
      call_return_error (call, error);
      return;
    }
  if (!changes_packages)
    {
      rollback_lock (call);
      return;
    }
  call_authorize_then (call, NTS_ACTION_INSTALL, rollback_install_authorized);
}

static gboolean
handle_rollback (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
                 const char *snapshot_id, GVariant *options, NtsManager *manager)
{
  g_autoptr(Call) call = call_new (manager, invocation, "Rollback");
  GError *error = NULL;

  if (!nts_rollback_options_parse (snapshot_id, options, &call->force, &error))
    call_return_error (g_steal_pointer (&call), error);
  else
    {
      call->snapshot_id = g_strdup (snapshot_id);
      call_admit (g_steal_pointer (&call), NTS_ACTION_ROLLBACK, rollback_authorized);
    }
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Verify ---------------------------------------------------------- */

/* Every Verify is authorised before anything is gathered: what an
 * unauthorised caller made us read would cost as much as an answer.
 *
 * Without a wait, all authorised callers share one report: the first
 * starts it, those arriving meanwhile join it, and all get its answer
 * (manager->verify_now_calls). Anyone may call Verify, so a thousand at
 * once cost one round.
 *
 * With a wait, each call holds one of its user's few waiting places
 * (caller-limits.h) and has a report of its own, with its own
 * cancellable: the daemon shutting down, or the caller leaving the bus,
 * ends the wait.
 *
 * With 'probe', which sends packets to the failing sources' servers, the
 * call holds one of its user's probe places (shared with ProbeServers)
 * from authorization to reply, and has a report of its own too (never the
 * shared one: a caller without a probe place must not get a probe's
 * report, nor wait for one). */
typedef struct {
  Call         *call;
  GCancellable *cancellable;
  gulong        shutdown_handler;
  guint         caller_watch;
  gboolean holds_wait; /* a place among the waits, given back when done */
} VerifyWait;

static void
verify_wait_free (VerifyWait *vw)
{
  NtsManager *manager = vw->call->manager;

  if (vw->holds_wait)
    nts_caller_limits_give_back (manager->limits, NTS_LIMIT_WAITS, vw->call->uid);
  if (vw->caller_watch != 0)
    g_bus_unwatch_name (vw->caller_watch);
  g_cancellable_disconnect (manager->cancellable, vw->shutdown_handler);
  g_clear_object (&vw->cancellable);
  g_free (vw);
}

static void
verify_reply (Call *call, GVariant *report, const GError *error)
{
  if (report == NULL)
    /* A broken override file or layout: call_return_error() gives it our
     * own error name. */
    call_return_error (call, g_error_copy (error));
  else
    call_return_value (call, g_variant_new ("(@a{sv})", report));
}

static void
on_verify_cancel (GCancellable *cancellable, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static void
on_verify_caller_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static void
on_verify_wait_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  VerifyWait *vw = user_data;
  Call *call = vw->call;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) report = nts_verify_finish (call->manager->verifier, res, &error);

  verify_wait_free (vw);
  verify_reply (call, report, error);
}

/* A report of the call's own: with a wait, or with 'probe'. */
static void
verify_alone (Call *call)
{
  NtsManager *manager = call->manager;
  GError *error = NULL;
  VerifyWait *vw;

  if (call->wait > 0 &&
      !nts_caller_limits_take (manager->limits, NTS_LIMIT_WAITS, call->uid, &error))
    {
      call_return_error (call, error);
      return;
    }
  vw = g_new0 (VerifyWait, 1);
  vw->call = call;
  vw->holds_wait = call->wait > 0;
  vw->cancellable = g_cancellable_new ();
  vw->shutdown_handler = g_cancellable_connect (manager->cancellable,
                                                G_CALLBACK (on_verify_cancel),
                                                g_object_ref (vw->cancellable), g_object_unref);
  vw->caller_watch = g_bus_watch_name_on_connection (
      manager->connection, g_dbus_method_invocation_get_sender (call->invocation),
      G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, on_verify_caller_vanished,
      g_object_ref (vw->cancellable), g_object_unref);
  nts_verify_async (manager->verifier, call->wait,
                    call->verify_probe ? NTS_VERIFY_PROBE : NTS_VERIFY_NONE, vw->cancellable,
                    on_verify_wait_done, vw);
}

static void
on_verify_now_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  NtsManager *manager = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) report = nts_verify_finish (manager->verifier, res, &error);
  g_autoptr(GPtrArray) calls = g_steal_pointer (&manager->verify_now_calls);

  manager->verify_now_calls = g_ptr_array_new ();
  for (guint i = 0; i < calls->len; i++)
    verify_reply (calls->pdata[i], report, error);
}

static void
verify_now (Call *call)
{
  NtsManager *manager = call->manager;

  g_ptr_array_add (manager->verify_now_calls, call);
  if (manager->verify_now_calls->len == 1)
    nts_verify_async (manager->verifier, 0, NTS_VERIFY_NONE, manager->cancellable,
                      on_verify_now_done, manager);
}

static void
verify_authorized (Call *call)
{
  GError *error = NULL;

  if (call->verify_probe)
    {
      if (!nts_caller_limits_take (call->manager->limits, NTS_LIMIT_PROBES, call->uid, &error))
        {
          call_return_error (call, error);
          return;
        }
      call->holds_probe = TRUE;
    }
  if (call->wait > 0 || call->verify_probe)
    verify_alone (call);
  else
    verify_now (call);
}

static gboolean
handle_verify (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
               GVariant *options, NtsManager *manager)
{
  g_autoptr(Call) call = call_new (manager, invocation, "Verify");
  GError *error = NULL;

  if (!nts_verify_options_parse (options, &call->wait, &call->verify_probe, &error))
    call_return_error (g_steal_pointer (&call), error);
  else
    call_admit (g_steal_pointer (&call), NTS_ACTION_VERIFY, verify_authorized);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- ProbeServers ---------------------------------------------------- */

/* Anyone may ask (the verify action), and each probe sends packets to
 * servers that are not ours: one probe per user at a time, a few in all
 * (caller-limits.h), and a server probed in the last minute is answered
 * from memory (probe-cache.h). */
static void
on_probe_servers_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Call *call = user_data;
  GError *error = NULL;
  g_autoptr(GPtrArray) results = nts_probe_cache_run_finish (call->manager->probes, res, &error);
  GVariantBuilder builder;

  if (results == NULL)
    {
      call_return_error (call, error);
      return;
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < results->len; i++)
    g_variant_builder_add_value (&builder, results->pdata[i]);
  call_return_value (call, g_variant_new ("(aa{sv})", &builder));
}

static void
probe_servers_authorized (Call *call)
{
  NtsManager *manager = call->manager;
  g_autoptr(GPtrArray) targets = g_ptr_array_new_with_free_func (g_free);
  GError *error = NULL;

  if (!nts_caller_limits_take (manager->limits, NTS_LIMIT_PROBES, call->uid, &error))
    {
      call_return_error (call, error);
      return;
    }
  call->holds_probe = TRUE;
  for (char **s = call->probe->servers; *s != NULL; s++)
    {
      NtsProbeTarget *target = g_new0 (NtsProbeTarget, 1);

      /* Borrowed: call->probe outlives the probe. */
      target->name = *s;
      target->port = call->probe->nts_port;
      g_ptr_array_add (targets, target);
    }
  nts_probe_cache_run_async (manager->probes, targets, manager->cancellable,
                             on_probe_servers_done, call);
}

static gboolean
handle_probe_servers (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
                      const char *const *servers, GVariant *options, NtsManager *manager)
{
  g_autoptr(Call) call = call_new (manager, invocation, "ProbeServers");
  GError *error = NULL;

  call->probe = nts_probe_options_parse (servers, options, &error);
  if (call->probe == NULL)
    call_return_error (g_steal_pointer (&call), error);
  else
    call_admit (g_steal_pointer (&call), NTS_ACTION_VERIFY, probe_servers_authorized);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- ListSnapshots --------------------------------------------------- */

/* A full reference, as nts_snapshot_store_list() gives one. */
static GVariant *
list_snapshots (NtsManager *manager, GError **error)
{
  NtsRoot *root = manager->fs_root;
  g_autoptr(NtsSnapshotStore) store = NULL;
  gboolean exists = FALSE;

  /* Listing writes nothing: no state directory means no snapshot yet. */
  if (!nts_root_lstat (root, NTS_SNAPSHOT_STATE_DIR, NULL, &exists, error))
    return NULL;
  if (!exists)
    return g_variant_ref_sink (g_variant_new ("a(sta{sv})", NULL));
  store = nts_snapshot_store_open_readonly (root, NULL, error);
  if (store == NULL)
    return NULL;
  return nts_snapshot_store_list (store, error);
}

static void
list_authorized (Call *call)
{
  GError *error = NULL;
  g_autoptr(GVariant) list = list_snapshots (call->manager, &error);

  if (list == NULL)
    call_return_error (call, error);
  else
    call_return_value (call, g_variant_new ("(@a(sta{sv}))", list));
}

static gboolean
handle_list_snapshots (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
                       NtsManager *manager)
{
  call_admit (call_new (manager, invocation, "ListSnapshots"), NTS_ACTION_VERIFY,
              list_authorized);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- object ---------------------------------------------------------- */

NtsManager *
nts_manager_new (GDBusConnection *connection, NtsRoot *root, NtsLifetime *lifetime)
{
  NtsManager *manager = g_new0 (NtsManager, 1);

  manager->connection = g_object_ref (connection);
  manager->fs_root = root;
  manager->lifetime = lifetime;
  manager->cancellable = g_cancellable_new ();
  manager->skeleton = nts_manager1_skeleton_new ();
  manager->verifier = nts_verifier_new (manager->fs_root, connection);
  manager->layouts = nts_verifier_get_layout_cache (manager->verifier);
  manager->limits = nts_caller_limits_new (connection);
  manager->probes = nts_verifier_get_probe_cache (manager->verifier);
  nts_caller_limits_filter_object (manager->limits, NTS_DBUS_PATH);
  manager->verify_now_calls = g_ptr_array_new ();

  nts_manager1_set_state (manager->skeleton, "unconfigured");
  nts_manager1_set_servers (manager->skeleton, (const char *const[]) { NULL });
  nts_manager1_set_min_sources (manager->skeleton, 0);
  nts_manager1_set_last_result (manager->skeleton, g_variant_new ("a{sv}", NULL));

  g_signal_connect (manager->skeleton, "handle-apply-hardened-config", G_CALLBACK (handle_apply), manager);
  g_signal_connect (manager->skeleton, "handle-verify", G_CALLBACK (handle_verify), manager);
  g_signal_connect (manager->skeleton, "handle-rollback", G_CALLBACK (handle_rollback), manager);
  g_signal_connect (manager->skeleton, "handle-list-snapshots", G_CALLBACK (handle_list_snapshots), manager);
  g_signal_connect (manager->skeleton, "handle-preview-config", G_CALLBACK (handle_preview_config), manager);
  g_signal_connect (manager->skeleton, "handle-probe-servers", G_CALLBACK (handle_probe_servers),
                    manager);

  return manager;
}

gboolean
nts_manager_export (NtsManager *manager, GError **error)
{
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (manager->skeleton),
                                           manager->connection, NTS_DBUS_PATH, error);
}

void
nts_manager_free (NtsManager *manager)
{
  if (manager == NULL)
    return;
  g_cancellable_cancel (manager->cancellable);
  /* Before the rest. A Verify still in flight holds the verifier (and
   * its layout cache); whatever waits is answered only if the main loop
   * runs again, which it does not after shutdown. */
  manager->layouts = NULL;
  manager->probes = NULL;
  g_clear_pointer (&manager->verifier, nts_verifier_unref);
  g_clear_pointer (&manager->limits, nts_caller_limits_free);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (manager->skeleton));
  g_signal_handlers_disconnect_by_data (manager->skeleton, manager);
  g_clear_object (&manager->skeleton);
  g_clear_object (&manager->cancellable);
  g_clear_object (&manager->connection);
  g_clear_pointer (&manager->verify_now_calls, g_ptr_array_unref);
  g_clear_pointer (&manager->fs_root, nts_root_unref);
  g_free (manager);
}
