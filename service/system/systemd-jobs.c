/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "systemd-jobs.h"

#include "nts-errors.h"
#include "task-tag.h"

#define SYSTEMD_BUS_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT_IFACE "org.freedesktop.systemd1.Unit"
/* Method calls answer in milliseconds; Reload may take a few seconds on a
 * big machine since its reply waits for the reload itself. */
#define SYSTEMD_CALL_TIMEOUT_MS 10000
#define SYSTEMD_RELOAD_TIMEOUT_MS 60000

/* ---- Subscribe, Reload ------------------------------------------------ */

static void
on_simple_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (reply == NULL)
    {
      g_autofree char *remote = g_dbus_error_get_remote_error (error);
      /* A second Subscribe from the same connection: it is subscribed,
       * which is all we wanted. */
      if (g_task_get_source_tag (task) == NTS_TASK_TAG (nts_systemd_subscribe_async) &&
          g_strcmp0 (remote, "org.freedesktop.systemd1.AlreadySubscribed") == 0)
        {
          g_task_return_boolean (task, TRUE);
          return;
        }
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
call_simple (GDBusConnection *bus, const char *method, gpointer tag, guint timeout_ms,
             GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_dbus_connection_call (bus, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER_IFACE,
                          method, NULL, G_VARIANT_TYPE ("()"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          timeout_ms, cancellable, on_simple_reply, task);
}

void
nts_systemd_subscribe_async (GDBusConnection *bus, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  call_simple (bus, "Subscribe", NTS_TASK_TAG (nts_systemd_subscribe_async),
               SYSTEMD_CALL_TIMEOUT_MS, cancellable, callback, user_data);
}

gboolean
nts_systemd_subscribe_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
nts_systemd_reload_async (GDBusConnection *bus, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  call_simple (bus, "Reload", NTS_TASK_TAG (nts_systemd_reload_async),
               SYSTEMD_RELOAD_TIMEOUT_MS, cancellable, callback, user_data);
}

gboolean
nts_systemd_reload_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- Jobs ------------------------------------------------------------ */

typedef struct {
  GDBusConnection   *bus;
  NtsSystemdJobKind  kind;
  char              *unit;
  guint              timeout_ms;
  guint              signal_id;
  /* JobRemoved seen before the reply told us our job: path -> result.
   * systemd may finish a short job before its reply to StartUnit is
   * delivered, and the signal can overtake the reply. */
  GHashTable        *early_removals;
  char              *job_path;
  char              *result;
  char              *unit_id;    /* the real unit, from JobRemoved */
  GSource           *timeout_source;
  GSource           *cancel_source;
  gboolean           waiting;    /* between the call and our JobRemoved */
} JobCall;

/* No JobRemoved, timeout or cancellation reaches @call after this. */
static void
job_call_stop_listening (JobCall *call)
{
  if (call->signal_id != 0)
    {
      g_dbus_connection_signal_unsubscribe (call->bus, call->signal_id);
      call->signal_id = 0;
    }
  if (call->timeout_source)
    {
      g_source_destroy (call->timeout_source);
      g_clear_pointer (&call->timeout_source, g_source_unref);
    }
  if (call->cancel_source)
    {
      g_source_destroy (call->cancel_source);
      g_clear_pointer (&call->cancel_source, g_source_unref);
    }
}

static void
job_call_free (JobCall *call)
{
  job_call_stop_listening (call);
  g_clear_object (&call->bus);
  g_hash_table_unref (call->early_removals);
  g_free (call->unit);
  g_free (call->job_path);
  g_free (call->result);
  g_free (call->unit_id);
  g_free (call);
}

/* Each kind of job: systemd's method for it, and its verb for messages. */
/* clang-format off */
static const struct {
  const char *method;
  const char *verb;
} job_kinds[] = {
  [NTS_SYSTEMD_JOB_START]   = { "StartUnit",   "start" },
  [NTS_SYSTEMD_JOB_STOP]    = { "StopUnit",    "stop" },
  [NTS_SYSTEMD_JOB_RESTART] = { "RestartUnit", "restart" },
};
/* clang-format on */

static const char *
job_method (NtsSystemdJobKind kind)
{
  g_assert ((guint) kind < G_N_ELEMENTS (job_kinds));
  return job_kinds[kind].method;
}

static const char *
job_verb (NtsSystemdJobKind kind)
{
  g_assert ((guint) kind < G_N_ELEMENTS (job_kinds));
  return job_kinds[kind].verb;
}

/* Nothing more must arrive for this task once it has an answer. Returns
 * the reference the waiting held: whoever ends the wait answers with it. */
static GTask *
job_finish_waiting (GTask *task)
{
  JobCall *call = g_task_get_task_data (task);

  g_assert (call->waiting);
  call->waiting = FALSE;
  job_call_stop_listening (call);
  return task;
}

static const char *
job_unit_name (JobCall *call)
{
  return call->unit_id ? call->unit_id : call->unit;
}

/* The failed conditions of a unit, "ConditionCapability=CAP_SYS_TIME",
 * from systemd's Conditions property a(sbbsi): type, trigger, negate,
 * parameter, state (< 0: failed). NULL when it does not say. */
static char *
failed_conditions (GVariant *props)
{
  g_autoptr(GVariant) conditions = g_variant_lookup_value (props, "Conditions",
                                                           G_VARIANT_TYPE ("a(sbbsi)"));
  g_autoptr(GString) out = NULL;
  GVariantIter iter;
  const char *type, *parameter;
  gboolean trigger, negate;
  gint32 state;

  if (conditions == NULL)
    return NULL;
  g_variant_iter_init (&iter, conditions);
  while (g_variant_iter_next (&iter, "(&sbb&si)", &type, &trigger, &negate, &parameter, &state))
    {
      if (state >= 0)
        continue;
      if (out == NULL)
        out = g_string_new (NULL);
      else
        g_string_append (out, ", ");
      g_string_append_printf (out, "%s=%s%s", type, negate ? "!" : "", parameter);
    }
  return out ? g_string_free (g_steal_pointer (&out), FALSE) : NULL;
}

/* The reply of a call that reads the unit after its job; NULL when it
 * failed, and @task is answered with the error. */
static GVariant *
unit_reply_after_job (GTask *task, GObject *source, GAsyncResult *res)
{
  JobCall *call = g_task_get_task_data (task);
  GError *error = NULL;
  GVariant *reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);

  if (reply == NULL)
    {
      g_prefix_error (&error, "%s: reading the unit after its %s job: ", job_unit_name (call),
                      job_verb (call->kind));
      g_task_return_error (task, error);
    }
  return reply;
}

static void
on_unit_after_job (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  JobCall *call = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = unit_reply_after_job (task, source, res);
  g_autoptr(GVariant) props = NULL;
  gboolean condition_result = TRUE;
  g_autofree char *which = NULL;

  if (reply == NULL)
    return;
  props = g_variant_get_child_value (reply, 0);
  g_variant_lookup (props, "ConditionResult", "b", &condition_result);
  if (condition_result)
    {
      g_task_return_pointer (task, g_strdup (call->result), g_free);
      return;
    }

  which = failed_conditions (props);
  g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_FAILED,
                           "%s was skipped: a Condition*= failed (%s)", job_unit_name (call),
                           which ? which : "ConditionCapability=CAP_SYS_TIME in a container?");
}

static void
on_unit_loaded_after_job (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  JobCall *call = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = unit_reply_after_job (task, source, res);
  const char *path;

  if (reply == NULL)
    return;
  g_variant_get (reply, "(&o)", &path);
  g_dbus_connection_call (call->bus, SYSTEMD_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                          "GetAll", g_variant_new ("(s)", SYSTEMD_UNIT_IFACE),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          SYSTEMD_CALL_TIMEOUT_MS, g_task_get_cancellable (task),
                          on_unit_after_job, g_object_ref (task));
}

/* Our JobRemoved has come: judge its result. Takes the task's ref. */
static void
job_removed (GTask *task_owned)
{
  g_autoptr(GTask) task = task_owned;
  JobCall *call = g_task_get_task_data (task);

  if (!g_str_equal (call->result, "done"))
    {
      g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_FAILED,
                               "%s: the %s job ended with result \"%s\"", job_unit_name (call),
                               job_verb (call->kind), call->result);
      return;
    }
  if (call->kind == NTS_SYSTEMD_JOB_STOP)
    {
      g_task_return_pointer (task, g_strdup (call->result), g_free);
      return;
    }
  /* "done" also when a Condition*= skipped the start: only the unit's
   * ConditionResult, read after the job, tells. */
  g_dbus_connection_call (call->bus, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER_IFACE,
                          "LoadUnit", g_variant_new ("(s)", job_unit_name (call)),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          SYSTEMD_CALL_TIMEOUT_MS, g_task_get_cancellable (task),
                          on_unit_loaded_after_job, g_object_ref (task));
}

static void
on_job_removed (GDBusConnection *connection, const char *sender, const char *object_path,
                const char *interface_name, const char *signal_name, GVariant *parameters,
                gpointer user_data)
{
  GTask *task = user_data;  /* the subscription's own reference */
  JobCall *call = g_task_get_task_data (task);
  guint32 id;
  const char *job, *unit, *result;

  if (!call->waiting || !g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(uoss)")))
    return;
  g_variant_get (parameters, "(u&o&s&s)", &id, &job, &unit, &result);

  if (call->job_path == NULL)
    {
      g_hash_table_replace (call->early_removals, g_strdup (job),
                            g_strdup_printf ("%s\n%s", result, unit));
      return;
    }
  if (!g_str_equal (job, call->job_path))
    return;
  call->result = g_strdup (result);
  call->unit_id = g_strdup (unit);
  job_removed (job_finish_waiting (task));
}

static gboolean
on_job_timeout (gpointer user_data)
{
  g_autoptr(GTask) task = job_finish_waiting (user_data);
  JobCall *call = g_task_get_task_data (task);

  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "%s: the %s job did not finish within %u s", call->unit,
                           job_verb (call->kind), (call->timeout_ms + 999) / 1000);
  return G_SOURCE_REMOVE;
}

static gboolean
on_job_cancelled (GCancellable *cancellable, gpointer user_data)
{
  g_autoptr(GTask) task = job_finish_waiting (user_data);
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  g_task_return_error (task, error);
  return G_SOURCE_REMOVE;
}

static void
on_job_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  JobCall *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  const char *early;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (!call->waiting)
    return;  /* timed out or cancelled meanwhile: already answered */
  if (reply == NULL)
    {
      g_autoptr(GTask) waiting = job_finish_waiting (task);
      g_task_return_error (waiting, g_steal_pointer (&error));
      return;
    }

  g_variant_get (reply, "(o)", &call->job_path);
  early = g_hash_table_lookup (call->early_removals, call->job_path);
  if (early != NULL)
    {
      const char *newline = strchr (early, '\n');
      call->result = g_strndup (early, newline - early);
      call->unit_id = g_strdup (newline + 1);
      job_removed (job_finish_waiting (task));
      return;
    }
  /* Wait on for the signal, the timeout or the cancellation. */
  g_hash_table_remove_all (call->early_removals);
}

void
nts_systemd_unit_job_async (GDBusConnection *bus, NtsSystemdJobKind kind, const char *unit,
                            guint timeout_ms, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  JobCall *call = g_new0 (JobCall, 1);

  nts_task_set_source_tag (task, nts_systemd_unit_job_async);
  call->bus = g_object_ref (bus);
  call->kind = kind;
  call->unit = g_strdup (unit);
  call->timeout_ms = timeout_ms ? timeout_ms : NTS_SYSTEMD_JOB_TIMEOUT_MS;
  call->early_removals = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  call->waiting = TRUE;
  g_task_set_task_data (task, call, (GDestroyNotify) job_call_free);

  /* Listening before calling: the match rule reaches the bus ahead of the
   * method call on the same connection, so no JobRemoved can slip by. */
  call->signal_id = g_dbus_connection_signal_subscribe (bus, SYSTEMD_BUS_NAME,
                                                        SYSTEMD_MANAGER_IFACE, "JobRemoved",
                                                        SYSTEMD_PATH, NULL,
                                                        G_DBUS_SIGNAL_FLAGS_NONE,
                                                        on_job_removed, g_object_ref (task),
                                                        g_object_unref);
  /* The reference from g_task_new() belongs to the wait: whichever of
   * JobRemoved, timeout, cancellation or a failed call ends it answers
   * with it (job_finish_waiting). The sources only point at the task and
   * are destroyed by whoever ends the wait. */
  call->timeout_source = g_timeout_source_new (call->timeout_ms);
  g_source_set_callback (call->timeout_source, on_job_timeout, task, NULL);
  g_source_attach (call->timeout_source, g_task_get_context (task));
  if (cancellable)
    {
      call->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (call->cancel_source, G_SOURCE_FUNC (on_job_cancelled), task, NULL);
      g_source_attach (call->cancel_source, g_task_get_context (task));
    }

  g_dbus_connection_call (bus, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER_IFACE,
                          job_method (kind), g_variant_new ("(ss)", unit, "replace"),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          SYSTEMD_CALL_TIMEOUT_MS, NULL, on_job_reply, g_object_ref (task));
}

char *
nts_systemd_unit_job_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- Unit files -------------------------------------------------------- */

void
nts_unit_file_change_free (NtsUnitFileChange *change)
{
  if (change == NULL)
    return;
  g_free (change->type);
  g_free (change->path);
  g_free (change->source);
  g_free (change);
}

static void
on_unit_files_reloaded (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!nts_systemd_reload_finish (res, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_ptr_array_ref (g_object_get_data (G_OBJECT (task), "changes")),
                         (GDestroyNotify) g_ptr_array_unref);
}

static void
on_unit_files_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) changes = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) nts_unit_file_change_free);
  GVariantIter iter;
  const char *type, *path, *src;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* EnableUnitFiles: (b carries_install_info, a(sss)); DisableUnitFiles: (a(sss)). */
  changes = g_variant_get_child_value (reply, g_variant_n_children (reply) - 1);
  g_variant_iter_init (&iter, changes);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &type, &path, &src))
    {
      NtsUnitFileChange *change = g_new0 (NtsUnitFileChange, 1);
      change->type = g_strdup (type);
      change->path = g_strdup (path);
      change->source = g_strdup (src);
      g_ptr_array_add (out, change);
    }
  if (out->len == 0)
    {
      g_task_return_pointer (task, g_steal_pointer (&out), (GDestroyNotify) g_ptr_array_unref);
      return;
    }
  /* As systemctl enable/disable do: changed symlinks (Debian's alias
   * chronyd.service comes and goes with enablement) must be loaded before
   * the unit's next job. Without it systemd 252 forgets the running
   * chronyd at the next daemon-reload after an enable and a restart
   * (inactive, its processes left in the cgroup). */
  g_object_set_data_full (G_OBJECT (task), "changes", g_steal_pointer (&out),
                          (GDestroyNotify) g_ptr_array_unref);
  nts_systemd_reload_async (g_task_get_task_data (task), g_task_get_cancellable (task),
                            on_unit_files_reloaded, g_object_ref (task));
}

/* EnableUnitFiles or DisableUnitFiles: both answer with the changes,
 * read by on_unit_files_reply(). */
static void
call_unit_files (GDBusConnection *bus, const char *method, GVariant *parameters,
                 const GVariantType *reply_type, GCancellable *cancellable,
                 GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  nts_task_set_source_tag (task, nts_systemd_unit_files_finish);
  g_task_set_task_data (task, g_object_ref (bus), g_object_unref);
  g_dbus_connection_call (bus, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER_IFACE, method,
                          parameters, reply_type, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          SYSTEMD_CALL_TIMEOUT_MS, cancellable, on_unit_files_reply, task);
}

void
nts_systemd_enable_unit_files_async (GDBusConnection *bus, const char *const *units,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  /* runtime=false: it must survive a reboot; force=false: never replace a
   * symlink someone else put there. */
  call_unit_files (bus, "EnableUnitFiles", g_variant_new ("(^asbb)", units, FALSE, FALSE),
                   G_VARIANT_TYPE ("(ba(sss))"), cancellable, callback, user_data);
}

void
nts_systemd_disable_unit_files_async (GDBusConnection *bus, const char *const *units,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  call_unit_files (bus, "DisableUnitFiles", g_variant_new ("(^asb)", units, FALSE),
                   G_VARIANT_TYPE ("(a(sss))"), cancellable, callback, user_data);
}

GPtrArray *
nts_systemd_unit_files_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- Undo -------------------------------------------------------------- */

NtsUnitUndo *
nts_unit_undo_new_from_state (const NtsUnitState *before)
{
  NtsUnitUndo *undo = g_new0 (NtsUnitUndo, 1);
  const char *file_state = before->unit_file_state ? before->unit_file_state : "";
  const char *active = before->active_state ? before->active_state : "inactive";

  undo->unit = g_strdup (before->id ? before->id : before->name);
  /* Only the two states enable/disable move between; "static", "masked",
   * "alias", "generated", ... were not ours to change. */
  undo->was_enabled = g_str_equal (file_state, "enabled") ||
                      g_str_equal (file_state, "enabled-runtime");
  undo->restore_unit_file = undo->was_enabled || g_str_equal (file_state, "disabled");
  undo->was_active = g_str_equal (active, "active") || g_str_equal (active, "activating") ||
                     g_str_equal (active, "reloading");
  return undo;
}

void
nts_unit_undo_free (NtsUnitUndo *undo)
{
  if (undo == NULL)
    return;
  g_free (undo->unit);
  g_free (undo);
}

typedef struct {
  GDBusConnection *bus;
  NtsUnitUndo     *undo;
  guint            timeout_ms;
} RestoreCall;

static void
restore_call_free (RestoreCall *call)
{
  g_clear_object (&call->bus);
  nts_unit_undo_free (call->undo);
  g_free (call);
}

static void
on_restore_job (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *result = nts_systemd_unit_job_finish (res, &error);

  if (result == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_restore_unit_files (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RestoreCall *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = NULL;

  if (res != NULL)
    {
      changes = nts_systemd_unit_files_finish (res, &error);
      if (changes == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  nts_systemd_unit_job_async (call->bus,
                              call->undo->was_active ? NTS_SYSTEMD_JOB_START : NTS_SYSTEMD_JOB_STOP,
                              call->undo->unit, call->timeout_ms, g_task_get_cancellable (task),
                              on_restore_job, g_object_ref (task));
}

void
nts_systemd_restore_unit_async (GDBusConnection *bus, const NtsUnitUndo *undo, guint timeout_ms,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  RestoreCall *call = g_new0 (RestoreCall, 1);
  const char *units[] = { undo->unit, NULL };

  nts_task_set_source_tag (task, nts_systemd_restore_unit_async);
  call->bus = g_object_ref (bus);
  call->undo = g_new0 (NtsUnitUndo, 1);
  *call->undo = *undo;
  call->undo->unit = g_strdup (undo->unit);
  call->timeout_ms = timeout_ms;
  g_task_set_task_data (task, call, (GDestroyNotify) restore_call_free);

  /* The unit file first: starting a unit that is to end up disabled, or
   * stopping one that is to end up enabled, is fine in either order, but
   * Debian's alias (chronyd.service) exists only while enabled. */
  if (!undo->restore_unit_file)
    on_restore_unit_files (NULL, NULL, g_steal_pointer (&task));
  else if (undo->was_enabled)
    nts_systemd_enable_unit_files_async (bus, units, cancellable, on_restore_unit_files,
                                         g_steal_pointer (&task));
  else
    nts_systemd_disable_unit_files_async (bus, units, cancellable, on_restore_unit_files,
                                          g_steal_pointer (&task));
}

gboolean
nts_systemd_restore_unit_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- Waiting for queued jobs ------------------------------------------ */

typedef struct {
  GDBusConnection *bus;
  GStrv            units;
  gint64           deadline;
  guint            timer;
  char            *pending;   /* the jobs seen last, for the timeout message */
} JobsWait;

static void
jobs_wait_free (JobsWait *wait)
{
  g_clear_object (&wait->bus);
  g_strfreev (wait->units);
  g_clear_handle_id (&wait->timer, g_source_remove);
  g_free (wait->pending);
  g_free (wait);
}

static void ask_jobs (GTask *task);

static gboolean
on_jobs_poll (gpointer user_data)
{
  GTask *task = user_data;
  JobsWait *wait = g_task_get_task_data (task);

  wait->timer = 0;
  ask_jobs (task);
  return G_SOURCE_REMOVE;
}

static void
on_list_jobs (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  JobsWait *wait = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  g_autoptr(GString) pending = g_string_new (NULL);
  GVariantIter *jobs;
  const char *unit, *type;

  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_variant_get (reply, "(a(usssoo))", &jobs);
  while (g_variant_iter_next (jobs, "(u&s&s&s&o&o)", NULL, &unit, &type, NULL, NULL, NULL))
    if (g_strv_contains ((const char *const *) wait->units, unit))
      g_string_append_printf (pending, "%s%s %s", pending->len ? ", " : "", type, unit);
  g_variant_iter_free (jobs);

  if (pending->len == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (g_get_monotonic_time () >= wait->deadline)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "systemd still has jobs queued: %s", pending->str);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;
  wait->timer = g_timeout_add (NTS_SYSTEMD_JOBS_POLL_MS, on_jobs_poll, g_steal_pointer (&task));
}

static void
ask_jobs (GTask *task)
{
  JobsWait *wait = g_task_get_task_data (task);

  g_dbus_connection_call (wait->bus, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER_IFACE,
                          "ListJobs", NULL, G_VARIANT_TYPE ("(a(usssoo))"),
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, SYSTEMD_CALL_TIMEOUT_MS,
                          g_task_get_cancellable (task), on_list_jobs, task);
}

void
nts_systemd_wait_jobs_async (GDBusConnection *bus, const char *const *units, guint timeout_ms,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  JobsWait *wait = g_new0 (JobsWait, 1);

  nts_task_set_source_tag (task, nts_systemd_wait_jobs_async);
  wait->bus = g_object_ref (bus);
  wait->units = g_strdupv ((char **) units);
  wait->deadline = g_get_monotonic_time () +
                   (gint64) (timeout_ms ? timeout_ms : NTS_SYSTEMD_JOB_TIMEOUT_MS) * 1000;
  g_task_set_task_data (task, wait, (GDestroyNotify) jobs_wait_free);
  ask_jobs (task);
}

gboolean
nts_systemd_wait_jobs_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
