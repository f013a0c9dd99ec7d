/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "systemd-client.h"

#include "task-tag.h"

#define SYSTEMD_BUS_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT_IFACE "org.freedesktop.systemd1.Unit"
/* systemd answers in milliseconds; a bound keeps a wedged PID 1 from
 * wedging us. */
#define SYSTEMD_CALL_TIMEOUT_MS 10000

void
nts_unit_state_free (NtsUnitState *state)
{
  if (state == NULL)
    return;
  g_free (state->name);
  g_free (state->id);
  g_free (state->load_state);
  g_free (state->active_state);
  g_free (state->sub_state);
  g_free (state->unit_file_state);
  g_free (state);
}

const char *
nts_unit_state_summary (const NtsUnitState *state)
{
  if (state->load_state == NULL || g_str_equal (state->load_state, "not-found"))
    return "not-found";
  /* Debian's chrony.service in a container: the start "succeeds" with
   * ConditionCapability=CAP_SYS_TIME false and the unit stays inactive. */
  if (g_strcmp0 (state->active_state, "inactive") == 0 &&
      state->condition_timestamp != 0 && !state->condition_result)
    return "condition-failed";
  return state->active_state ? state->active_state : "inactive";
}

static void
fail (GTask *task, GError *error)
{
  nts_unit_state_free (g_task_get_task_data (task));
  g_task_return_error (task, error);
}

static void
on_properties (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  NtsUnitState *state = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) props = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (reply == NULL)
    {
      fail (task, g_steal_pointer (&error));
      return;
    }

  props = g_variant_get_child_value (reply, 0);
  g_variant_lookup (props, "Id", "s", &state->id);
  g_variant_lookup (props, "LoadState", "s", &state->load_state);
  g_variant_lookup (props, "ActiveState", "s", &state->active_state);
  g_variant_lookup (props, "SubState", "s", &state->sub_state);
  g_variant_lookup (props, "UnitFileState", "s", &state->unit_file_state);
  if (!g_variant_lookup (props, "ConditionResult", "b", &state->condition_result))
    state->condition_result = TRUE;
  g_variant_lookup (props, "ConditionTimestamp", "t", &state->condition_timestamp);

  if (state->id == NULL)
    state->id = g_strdup (state->name);
  if (state->load_state == NULL)
    state->load_state = g_strdup ("not-found");

  g_task_return_pointer (task, state, (GDestroyNotify) nts_unit_state_free);
}

static void
on_unit_loaded (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  const char *path;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (reply == NULL)
    {
      fail (task, g_steal_pointer (&error));
      return;
    }

  g_variant_get (reply, "(&o)", &path);
  g_dbus_connection_call (G_DBUS_CONNECTION (source), SYSTEMD_BUS_NAME, path,
                          "org.freedesktop.DBus.Properties", "GetAll",
                          g_variant_new ("(s)", SYSTEMD_UNIT_IFACE),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          SYSTEMD_CALL_TIMEOUT_MS, g_task_get_cancellable (task),
                          on_properties, g_object_ref (task));
}

void
nts_systemd_get_unit_state_async (GDBusConnection     *bus,
                                  const char          *unit,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  NtsUnitState *state = g_new0 (NtsUnitState, 1);

  nts_task_set_source_tag (task, nts_systemd_get_unit_state_async);
  state->name = g_strdup (unit);
  /* Filled in as the answers come; handed over by return_state() or freed
   * by fail(), so the task itself must not own it. */
  g_task_set_task_data (task, state, NULL);

  g_dbus_connection_call (bus, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER_IFACE,
                          "LoadUnit", g_variant_new ("(s)", unit),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          SYSTEMD_CALL_TIMEOUT_MS, cancellable,
                          on_unit_loaded, g_steal_pointer (&task));
}

NtsUnitState *
nts_systemd_get_unit_state_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
