/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "authorization.h"

#include <polkit/polkit.h>

#include "nts-errors.h"
#include "task-tag.h"

typedef struct {
  char         *action_id;
  char         *sender;
  gboolean      interactive;
  GCancellable *cancellable;   /* ours: cancelled by the caller's cancellable or its departure */
  gulong        outer_cancel_id;
  GCancellable *outer;
  GDBusConnection *connection;
  guint         watch_id;
} AuthCheck;

static void
auth_check_free (AuthCheck *check)
{
  if (check->watch_id)
    g_bus_unwatch_name (check->watch_id);
  if (check->outer_cancel_id)
    g_cancellable_disconnect (check->outer, check->outer_cancel_id);
  g_clear_object (&check->outer);
  g_clear_object (&check->cancellable);
  g_clear_object (&check->connection);
  g_free (check->action_id);
  g_free (check->sender);
  g_free (check);
}

/* A caller who quit while polkit shows a password dialog must not leave
 * the dialog, or the check, behind. */
static void
on_caller_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  GTask *task = user_data;
  AuthCheck *check = g_task_get_task_data (task);

  g_debug ("caller %s left during the authorization of %s; cancelling", name, check->action_id);
  g_cancellable_cancel (check->cancellable);
}

static void
on_outer_cancelled (GCancellable *outer, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static void
on_check_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  AuthCheck *check = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(PolkitAuthorizationResult) result = NULL;

  result = polkit_authority_check_authorization_finish (POLKIT_AUTHORITY (source), res, &error);
  if (result == NULL)
    {
      if (g_cancellable_is_cancelled (check->cancellable))
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 "authorization for %s cancelled", check->action_id);
      else
        g_task_return_new_error (task, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                                 "cannot check authorization for %s with polkit, "
                                 "so refusing: %s", check->action_id, error->message);
      return;
    }

  if (polkit_authorization_result_get_is_authorized (result))
    g_task_return_boolean (task, TRUE);
  else if (polkit_authorization_result_get_is_challenge (result) && !check->interactive)
    g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                             "%s needs authentication, but the call did not allow "
                             "interactive authorization; call again allowing it "
                             "(ntsctl without --no-ask-password) or as an administrator",
                             check->action_id);
  else
    g_task_return_new_error (task, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                             "not authorized for %s", check->action_id);
}

/* polkit's authority is a D-Bus proxy; building it costs a few
 * milliseconds, a third of a Verify round trip. It follows polkitd across
 * restarts by name, so one per process is enough. */
static PolkitAuthority *authority_cache;

static void
check_with_authority (GTask *task, PolkitAuthority *authority)
{
  AuthCheck *check = g_task_get_task_data (task);
  g_autoptr(PolkitSubject) subject = NULL;
  PolkitCheckAuthorizationFlags flags = POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE;

  if (g_cancellable_is_cancelled (check->cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "authorization for %s cancelled", check->action_id);
      g_object_unref (task);
      return;
    }

  if (check->interactive)
    flags |= POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION;

  subject = polkit_system_bus_name_new (check->sender);
  polkit_authority_check_authorization (authority, subject, check->action_id,
                                        NULL, flags, check->cancellable,
                                        on_check_done, task);
}

static void
on_authority_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  AuthCheck *check = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  PolkitAuthority *authority;

  authority = polkit_authority_get_finish (res, &error);
  if (authority == NULL)
    {
      g_task_return_new_error (task, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                               "polkit is not reachable, so refusing %s: %s",
                               check->action_id, error->message);
      g_object_unref (task);
      return;
    }
  if (authority_cache == NULL)
    authority_cache = authority;
  else
    g_object_unref (authority);

  check_with_authority (task, authority_cache);
}

void
nts_authorize_async (GDBusMethodInvocation *invocation,
                     const char            *action_id,
                     GCancellable          *cancellable,
                     GAsyncReadyCallback    callback,
                     gpointer               user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  GDBusMessage *message = g_dbus_method_invocation_get_message (invocation);
  AuthCheck *check = g_new0 (AuthCheck, 1);

  nts_task_set_source_tag (task, nts_authorize_async);
  g_task_set_task_data (task, check, (GDestroyNotify) auth_check_free);
  /* The caller leaving is no error of ours to report; the check just ends. */
  g_task_set_check_cancellable (task, FALSE);

  check->action_id = g_strdup (action_id);
  check->sender = g_strdup (g_dbus_method_invocation_get_sender (invocation));
  check->interactive = (g_dbus_message_get_flags (message) &
                        G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION) != 0;
  check->cancellable = g_cancellable_new ();
  check->connection = g_object_ref (g_dbus_method_invocation_get_connection (invocation));

  if (check->sender == NULL)
    {
      /* Peer-to-peer connections have no sender and no polkit subject. */
      g_task_return_new_error (task, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                               "calls without a bus name cannot be authorized");
      return;
    }

  if (cancellable)
    {
      check->outer = g_object_ref (cancellable);
      check->outer_cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_outer_cancelled),
                                                      check->cancellable, NULL);
    }

  /* The watch holds a reference to the task only through its user data;
   * it is removed in auth_check_free, which runs before the task dies. */
  check->watch_id = g_bus_watch_name_on_connection (check->connection, check->sender,
                                                    G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                    NULL, on_caller_vanished,
                                                    task, NULL);

  if (authority_cache)
    check_with_authority (g_steal_pointer (&task), authority_cache);
  else
    polkit_authority_get_async (check->cancellable, on_authority_ready, g_steal_pointer (&task));
}

gboolean
nts_authorize_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
