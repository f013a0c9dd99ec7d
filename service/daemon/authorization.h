/* SPDX-License-Identifier: GPL-2.0-or-later */
/* polkit, asked asynchronously for the caller of a method call. */
#pragma once

#include <gio/gio.h>

/* NTS_ACTION_*, the action ids to check */
#include "nts-names.h"

G_BEGIN_DECLS

/* Checks @action_id for the sender of @invocation (subject: its unique
 * bus name, never a PID, which could be recycled). polkit may interact
 * with the user only when the message carries
 * ALLOW_INTERACTIVE_AUTHORIZATION. The check is cancelled when @cancellable
 * is, or when the caller leaves the bus. Fails closed: any error talking to
 * polkit is AccessDenied. Errors: G_DBUS_ERROR_ACCESS_DENIED,
 * NTS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, G_IO_ERROR_CANCELLED. */
void     nts_authorize_async  (GDBusMethodInvocation *invocation,
                               const char            *action_id,
                               GCancellable          *cancellable,
                               GAsyncReadyCallback    callback,
                               gpointer               user_data);
gboolean nts_authorize_finish (GAsyncResult          *result,
                               GError               **error);

G_END_DECLS
