#include "config.h"
#include "manager.h"

#include "authorization.h"
#include "fault.h"
#include "layout.h"
#include "nts-errors.h"
#include "nts-manager-generated.h"
#include "options.h"
#include "render.h"
#include "systemd-client.h"
#include "verify.h"

#define MANAGER_PATH "/org/ntssetup/Manager"
#define TIMESYNCD_UNIT "systemd-timesyncd.service"

struct _NtsManager {
  GDBusConnection *connection;
  NtsManager1     *skeleton;
  char            *root;
  NtsLifetime     *lifetime;
  GCancellable    *cancellable;
  /* The one-mutating-call lock. Taken only after authorization, so a
   * caller sitting in a password dialog blocks nobody. */
  gboolean         mutating;
  /* Verify: made on first use; and how many Verify calls with a 'wait'
   * run, capped because anyone may call Verify. */
  NtsVerifier     *verifier;
  guint            verify_waits;
};

/* One method call from arrival to reply. It holds the daemon alive. */
typedef struct {
  NtsManager            *manager;
  GDBusMethodInvocation *invocation;
  const char            *method;
  NtsApplyOptions       *apply;
  guint                  wait;
  gboolean               force;
  char                  *snapshot_id;
  gboolean               holds_lock;
  char                  *state_before;
  NtsLayout             *layout;
} Call;

static Call *
call_new (NtsManager *manager, GDBusMethodInvocation *invocation, const char *method)
{
  Call *call = g_new0 (Call, 1);

  call->manager = manager;
  call->invocation = g_object_ref (invocation);
  call->method = method;
  nts_lifetime_hold (manager->lifetime);
  return call;
}

static void
call_free (Call *call)
{
  nts_lifetime_release (call->manager->lifetime);
  g_clear_object (&call->invocation);
  g_clear_pointer (&call->apply, nts_apply_options_free);
  g_clear_pointer (&call->layout, nts_layout_free);
  g_free (call->snapshot_id);
  g_free (call->state_before);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void refresh_properties (NtsManager *manager);

/* The outcome of a mutating call that ran, for callers who gave up
 * waiting for the reply. */
static void
record_last_result (Call *call, const GError *error, const char *step)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *error_name = error ? g_dbus_error_encode_gerror (error) : NULL;

  g_variant_dict_insert (&dict, "method", "s", call->method);
  g_variant_dict_insert (&dict, "time", "t", (guint64) g_get_real_time ());
  g_variant_dict_insert (&dict, "ok", "b", error == NULL);
  g_variant_dict_insert (&dict, "error", "s", error_name ? error_name : "");
  g_variant_dict_insert (&dict, "message", "s", error ? error->message : "");
  g_variant_dict_insert (&dict, "step", "s", step ? step : "");
  g_variant_dict_insert (&dict, "snapshot-id", "s", "");
  nts_manager1_set_last_result (call->manager->skeleton, g_variant_dict_end (&dict));
}

static void
call_unlock (Call *call)
{
  if (!call->holds_lock)
    return;
  nts_manager1_set_state (call->manager->skeleton, call->state_before);
  call->manager->mutating = FALSE;
  call->holds_lock = FALSE;
  refresh_properties (call->manager);
}

static void
call_return_error (Call *call, GError *error)
{
  if (call->holds_lock)
    record_last_result (call, error, NULL);
  call_unlock (call);
  g_dbus_method_invocation_return_gerror (call->invocation, error);
  g_error_free (error);
  call_free (call);
}

static void
call_return_value (Call *call, GVariant *value)
{
  if (call->holds_lock)
    record_last_result (call, NULL, NULL);
  call_unlock (call);
  g_dbus_method_invocation_return_value (call->invocation, value);
  call_free (call);
}

/* Mutating calls only: refuse with Busy rather than queue, so two callers
 * never interleave and neither waits blind. */
static gboolean
call_try_lock (Call *call, const char *state, GError **error)
{
  NtsManager *manager = call->manager;

  if (manager->mutating)
    {
      g_set_error (error, NTS_ERROR, NTS_ERROR_BUSY,
                   "another change is in progress (State: %s); try again when it ends",
                   nts_manager1_get_state (manager->skeleton));
      return FALSE;
    }
  manager->mutating = TRUE;
  call->holds_lock = TRUE;
  call->state_before = g_strdup (nts_manager1_get_state (manager->skeleton));
  nts_manager1_set_state (manager->skeleton, state);
  return TRUE;
}

/* ---- properties ------------------------------------------------------ */

/* One refresh of the properties that come from outside (chrony's layout,
 * systemd): @task, when set, completes once both answers are in, so the
 * daemon can take its name only when its first answer is already true. */
typedef struct {
  NtsManager *manager;
  GTask      *task;
  guint       pending;
} Refresh;

static void
refresh_done (Refresh *refresh)
{
  if (--refresh->pending > 0)
    return;
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
        g_debug ("cannot ask systemd about %s: %s", TIMESYNCD_UNIT, error->message);
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
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsLayout) layout = nts_layout_resolve_finish (res, &error);

  if (layout == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("cannot resolve chrony's layout: %s", error->message);
    }
  else
    nts_manager1_set_chrony_installed (refresh->manager->skeleton, layout->chrony_installed);
  refresh_done (refresh);
}

static void
start_refresh (NtsManager *manager, GTask *task)
{
  Refresh *refresh = g_new0 (Refresh, 1);

  refresh->manager = manager;
  refresh->task = task;
  refresh->pending = 2;
  nts_layout_resolve_async (manager->root, manager->connection, manager->cancellable,
                            on_layout_for_properties, refresh);
  nts_systemd_get_unit_state_async (manager->connection, TIMESYNCD_UNIT, manager->cancellable,
                                    on_timesyncd_state, refresh);
}

static void
refresh_properties (NtsManager *manager)
{
  start_refresh (manager, NULL);
}

void
nts_manager_refresh_async (NtsManager *manager, GAsyncReadyCallback callback, gpointer user_data)
{
  start_refresh (manager, g_task_new (NULL, NULL, callback, user_data));
}

gboolean
nts_manager_refresh_finish (GAsyncResult *result, GError **error)
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

  call->layout = nts_layout_resolve_finish (res, &error);
  if (call->layout == NULL)
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  files = nts_render_files (call->layout, (const char *const *) call->apply->servers,
                            call->apply->min_sources, &error);
  if (files == NULL)
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ss}"));
  for (guint i = 0; i < files->len; i++)
    {
      NtsRenderedFile *file = files->pdata[i];
      g_variant_builder_add (&builder, "{ss}", file->path, file->content);
    }
  call_return_value (g_steal_pointer (&call), g_variant_new ("(a{ss})", &builder));
}

static void
on_preview_authorized (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  NtsManager *manager = call->manager;
  GError *error = NULL;

  if (!nts_authorize_finish (res, &error))
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  /* Not call->manager in the argument list: g_steal_pointer (&call) may be
   * evaluated first. */
  nts_layout_resolve_async (manager->root, manager->connection, manager->cancellable,
                            on_preview_layout, g_steal_pointer (&call));
}

static gboolean
handle_preview_config (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
                       GVariant *options, NtsManager *manager)
{
  g_autoptr(Call) call = call_new (manager, invocation, "PreviewConfig");
  GError *error = NULL;

  call->apply = nts_apply_options_parse (options, &error);
  if (call->apply == NULL)
    call_return_error (g_steal_pointer (&call), error);
  else
    nts_authorize_async (invocation, NTS_ACTION_VERIFY, manager->cancellable,
                         on_preview_authorized, g_steal_pointer (&call));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- ApplyHardenedConfig --------------------------------------------- */

static void
on_apply_layout (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  GError *error = NULL;

  call->layout = nts_layout_resolve_finish (res, &error);
  if (call->layout == NULL)
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  call_return_error (g_steal_pointer (&call),
                     g_error_new (NTS_ERROR, NTS_ERROR_NOT_IMPLEMENTED,
                                  "ApplyHardenedConfig is not implemented in ntssetup %s; "
                                  "nothing was changed. PreviewConfig shows the files it "
                                  "will write.", PACKAGE_VERSION));
}

static void
on_apply_fault_point (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  NtsManager *manager = call->manager;
  GError *error = NULL;

  if (!nts_fault_point_finish (res, &error))
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  nts_layout_resolve_async (manager->root, manager->connection, manager->cancellable,
                            on_apply_layout, g_steal_pointer (&call));
}

static void
on_apply_authorized (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  NtsManager *manager = call->manager;
  GError *error = NULL;

  if (!nts_authorize_finish (res, &error) || !call_try_lock (call, "applying", &error))
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  nts_fault_point_async ("resolve", manager->cancellable,
                         on_apply_fault_point, g_steal_pointer (&call));
}

static gboolean
handle_apply (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
              GVariant *options, NtsManager *manager)
{
  g_autoptr(Call) call = call_new (manager, invocation, "ApplyHardenedConfig");
  GError *error = NULL;

  call->apply = nts_apply_options_parse (options, &error);
  if (call->apply == NULL)
    call_return_error (g_steal_pointer (&call), error);
  else
    nts_authorize_async (invocation, NTS_ACTION_APPLY, manager->cancellable,
                         on_apply_authorized, g_steal_pointer (&call));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Rollback -------------------------------------------------------- */

static void
on_rollback_authorized (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  GError *error = NULL;

  if (!nts_authorize_finish (res, &error) || !call_try_lock (call, "rolling-back", &error))
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  call_return_error (g_steal_pointer (&call),
                     g_error_new (NTS_ERROR, NTS_ERROR_NOT_IMPLEMENTED,
                                  "Rollback is not implemented in ntssetup %s; "
                                  "nothing was changed.", PACKAGE_VERSION));
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
      nts_authorize_async (invocation, NTS_ACTION_ROLLBACK, manager->cancellable,
                           on_rollback_authorized, g_steal_pointer (&call));
    }
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- Verify ---------------------------------------------------------- */

/* Each wait polls chronyd and systemd every half second for up to two
 * minutes; a few at once are plenty for every panel and script. */
#define MAX_VERIFY_WAITS 4

/* A Verify call with its own cancellable: the daemon shutting down, or a
 * waiting caller leaving the bus, ends the wait.
 *
 * A report at once (no 'wait') is gathered while polkit decides, and
 * answered only when both are done and polkit said yes: it only reads,
 * what an unauthorised caller made us read is thrown away, and the call
 * takes the longer of the two instead of their sum. A wait starts only
 * after authorization, since only authorised callers may hold one of the
 * few places. */
typedef struct {
  Call         *call;
  GCancellable *cancellable;
  gulong        shutdown_handler;
  guint         caller_watch;
  gboolean      holds_wait_slot;
  guint         pending;        /* authorization and report still to come */
  GError       *auth_error;
  GVariant     *report;
  GError       *verify_error;
} VerifyCall;

static void on_verify_cancel (GCancellable *cancellable, gpointer user_data);

static VerifyCall *
verify_call_new (Call *call)
{
  NtsManager *manager = call->manager;
  VerifyCall *vc = g_new0 (VerifyCall, 1);

  if (manager->verifier == NULL)
    manager->verifier = nts_verifier_new (manager->root, manager->connection);
  vc->call = call;
  vc->cancellable = g_cancellable_new ();
  vc->shutdown_handler = g_cancellable_connect (manager->cancellable,
                                                G_CALLBACK (on_verify_cancel),
                                                g_object_ref (vc->cancellable), g_object_unref);
  return vc;
}

static void
verify_call_free (VerifyCall *vc)
{
  if (vc->holds_wait_slot)
    vc->call->manager->verify_waits--;
  if (vc->caller_watch != 0)
    g_bus_unwatch_name (vc->caller_watch);
  g_cancellable_disconnect (vc->call->manager->cancellable, vc->shutdown_handler);
  g_clear_object (&vc->cancellable);
  g_clear_error (&vc->auth_error);
  g_clear_error (&vc->verify_error);
  g_clear_pointer (&vc->report, g_variant_unref);
  g_free (vc);
}

/* Answers the caller with what came in, and frees @vc. */
static void
verify_call_reply (VerifyCall *vc)
{
  Call *call = vc->call;
  GError *error = NULL;

  if (vc->auth_error != NULL)
    error = g_steal_pointer (&vc->auth_error);
  else if (vc->report == NULL)
    {
      error = g_steal_pointer (&vc->verify_error);
      /* A broken override file or layout: say so by our own error name,
       * not an unmapped GIO one. */
      if (error->domain != NTS_ERROR && error->domain != G_DBUS_ERROR)
        {
          GError *wrapped = g_error_new (NTS_ERROR, NTS_ERROR_FAILED, "%s", error->message);

          g_error_free (error);
          error = wrapped;
        }
    }

  if (error != NULL)
    {
      verify_call_free (vc);
      call_return_error (call, error);
      return;
    }
  {
    GVariant *report = g_steal_pointer (&vc->report);

    verify_call_free (vc);
    call_return_value (call, g_variant_new ("(@a{sv})", report));
    g_variant_unref (report);
  }
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
on_verify_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  VerifyCall *vc = user_data;

  vc->report = nts_verify_finish (vc->call->manager->verifier, res, &vc->verify_error);
  if (--vc->pending == 0)
    verify_call_reply (vc);
}

/* Verify without a wait: polkit's answer, the report already under way. */
static void
on_verify_now_authorized (GObject *source, GAsyncResult *res, gpointer user_data)
{
  VerifyCall *vc = user_data;

  if (!nts_authorize_finish (res, &vc->auth_error))
    g_cancellable_cancel (vc->cancellable);   /* nothing will be shown */
  if (--vc->pending == 0)
    verify_call_reply (vc);
}

/* Verify with a wait: authorised first, then a place, then the wait. */
static void
on_verify_authorized (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  NtsManager *manager = call->manager;
  GError *error = NULL;
  VerifyCall *vc;

  if (!nts_authorize_finish (res, &error))
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  if (manager->verify_waits >= MAX_VERIFY_WAITS)
    {
      call_return_error (g_steal_pointer (&call),
                         g_error_new (NTS_ERROR, NTS_ERROR_BUSY,
                                      "%u Verify calls are already waiting; try again "
                                      "later, or without 'wait'", manager->verify_waits));
      return;
    }

  vc = verify_call_new (g_steal_pointer (&call));
  vc->holds_wait_slot = TRUE;
  manager->verify_waits++;
  vc->caller_watch = g_bus_watch_name_on_connection (
      manager->connection, g_dbus_method_invocation_get_sender (vc->call->invocation),
      G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, on_verify_caller_vanished,
      g_object_ref (vc->cancellable), g_object_unref);
  vc->pending = 1;
  nts_verify_async (manager->verifier, vc->call->wait, vc->cancellable, on_verify_done, vc);
}

static gboolean
handle_verify (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
               GVariant *options, NtsManager *manager)
{
  g_autoptr(Call) call = call_new (manager, invocation, "Verify");
  GError *error = NULL;
  VerifyCall *vc;

  if (!nts_verify_options_parse (options, &call->wait, &error))
    call_return_error (g_steal_pointer (&call), error);
  else if (call->wait > 0)
    nts_authorize_async (invocation, NTS_ACTION_VERIFY, manager->cancellable,
                         on_verify_authorized, g_steal_pointer (&call));
  else
    {
      vc = verify_call_new (g_steal_pointer (&call));
      vc->pending = 2;
      nts_authorize_async (invocation, NTS_ACTION_VERIFY, manager->cancellable,
                           on_verify_now_authorized, vc);
      nts_verify_async (manager->verifier, 0, vc->cancellable, on_verify_done, vc);
    }
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- ListSnapshots --------------------------------------------------- */

static void
on_list_authorized (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  GError *error = NULL;

  if (!nts_authorize_finish (res, &error))
    {
      call_return_error (g_steal_pointer (&call), error);
      return;
    }

  /* No snapshot store yet: nothing has ever been applied, so the truthful
   * answer is an empty list. */
  call_return_value (g_steal_pointer (&call), g_variant_new ("(a(sta{sv}))", NULL));
}

static gboolean
handle_list_snapshots (NtsManager1 *skeleton, GDBusMethodInvocation *invocation,
                       NtsManager *manager)
{
  Call *call = call_new (manager, invocation, "ListSnapshots");

  nts_authorize_async (invocation, NTS_ACTION_VERIFY, manager->cancellable,
                       on_list_authorized, call);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- object ---------------------------------------------------------- */

NtsManager *
nts_manager_new (GDBusConnection *connection, const char *root, NtsLifetime *lifetime)
{
  NtsManager *manager = g_new0 (NtsManager, 1);

  manager->connection = g_object_ref (connection);
  manager->root = g_strdup (root);
  manager->lifetime = lifetime;
  manager->cancellable = g_cancellable_new ();
  manager->skeleton = nts_manager1_skeleton_new ();

  nts_manager1_set_state (manager->skeleton, "unconfigured");
  nts_manager1_set_servers (manager->skeleton, (const char *const[]) { NULL });
  nts_manager1_set_min_sources (manager->skeleton, 0);
  nts_manager1_set_last_result (manager->skeleton, g_variant_new ("a{sv}", NULL));

  g_signal_connect (manager->skeleton, "handle-apply-hardened-config", G_CALLBACK (handle_apply), manager);
  g_signal_connect (manager->skeleton, "handle-verify", G_CALLBACK (handle_verify), manager);
  g_signal_connect (manager->skeleton, "handle-rollback", G_CALLBACK (handle_rollback), manager);
  g_signal_connect (manager->skeleton, "handle-list-snapshots", G_CALLBACK (handle_list_snapshots), manager);
  g_signal_connect (manager->skeleton, "handle-preview-config", G_CALLBACK (handle_preview_config), manager);

  return manager;
}

gboolean
nts_manager_export (NtsManager *manager, GError **error)
{
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (manager->skeleton),
                                           manager->connection, MANAGER_PATH, error);
}

void
nts_manager_free (NtsManager *manager)
{
  if (manager == NULL)
    return;
  g_cancellable_cancel (manager->cancellable);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (manager->skeleton));
  g_signal_handlers_disconnect_by_data (manager->skeleton, manager);
  g_clear_object (&manager->skeleton);
  g_clear_object (&manager->cancellable);
  g_clear_object (&manager->connection);
  g_clear_pointer (&manager->verifier, nts_verifier_unref);
  g_free (manager->root);
  g_free (manager);
}
