/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See ke-backoff.h. */
#include "ke-backoff.h"

#include "task-tag.h"

#define FACTOR_CONNECT 4
#define FACTOR_TLS     10
#define MAX_EXPONENT   19

gint64
nts_ke_backoff_seconds (guint32 attempts, NtsKeFailureKind kind)
{
  guint factor = kind == NTS_KE_FAILURE_TLS ? FACTOR_TLS : FACTOR_CONNECT;
  guint exponent;

  if (attempts == 0)
    return 0;
  exponent = MIN (factor + MIN (attempts, 64u) - 1, MAX_EXPONENT);
  return (gint64) 1 << exponent;
}

/* chronyd made attempts 1 .. @attempts - 1 before this one, each followed
 * by at least the short back-off: the earliest the current one can be. */
static gint64
earliest_after_start (gint64 chronyd_start_us, guint32 attempts)
{
  gint64 seconds = 0;

  if (chronyd_start_us == NTS_KE_TIME_UNKNOWN)
    return NTS_KE_TIME_UNKNOWN;
  for (guint32 n = 1; n < attempts && n < 64; n++)
    seconds += nts_ke_backoff_seconds (n, NTS_KE_FAILURE_CONNECT);
  return chronyd_start_us + seconds * G_USEC_PER_SEC;
}

void
nts_ke_observe (NtsKeObservation *observation,
                guint32           attempts,
                gint64            now_us,
                gint64            previous_poll_us,
                gint64            chronyd_start_us)
{
  gint64 after;

  g_return_if_fail (observation != NULL);

  if (observation->attempts == attempts && attempts != 0)
    return;

  after = earliest_after_start (chronyd_start_us, attempts);
  /* A count that changed while we watched: the attempt came after our
   * previous poll. A count seen at the first poll tells only the above. */
  if (observation->attempts != 0 && previous_poll_us != NTS_KE_TIME_UNKNOWN)
    after = MAX (after, previous_poll_us);

  observation->attempts = attempts;
  observation->seen_us = now_us;
  observation->after_us = after;
}

gint64
nts_ke_next_attempt_us (const NtsKeObservation *observation,
                        NtsKeFailureKind        kind)
{
  g_return_val_if_fail (observation != NULL, NTS_KE_TIME_UNKNOWN);

  if (observation->attempts == 0 || observation->after_us == NTS_KE_TIME_UNKNOWN)
    return NTS_KE_TIME_UNKNOWN;
  return observation->after_us +
         nts_ke_backoff_seconds (observation->attempts, kind) * G_USEC_PER_SEC;
}

/* ---- the probe ---------------------------------------------------------- */

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);

  if (connection != NULL)
    {
      /* Nothing is sent: the server sees a client that gave up. */
      (void) g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      g_task_return_int (task, NTS_KE_FAILURE_TLS);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_task_return_int (task, NTS_KE_FAILURE_UNKNOWN);
  else
    g_task_return_int (task, NTS_KE_FAILURE_CONNECT);
}

void
nts_ke_probe_async (const char          *address,
                    guint16              port,
                    guint                timeout_ms,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
  g_autoptr(GSocketAddress) socket_address = NULL;
  g_autoptr(GSocketClient) client = NULL;

  nts_task_set_source_tag (task, nts_ke_probe_async);
  if (inet == NULL || port == 0)
    {
      g_task_return_int (task, NTS_KE_FAILURE_UNKNOWN);
      return;
    }

  socket_address = g_inet_socket_address_new (inet, port);
  client = g_socket_client_new ();
  /* Straight to the server, as chronyd connects. */
  g_socket_client_set_enable_proxy (client, FALSE);
  /* Whole seconds only; a dropped SYN counts as a failed connection. */
  g_socket_client_set_timeout (client, MAX (1u, (timeout_ms + 999) / 1000));
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (socket_address), cancellable,
                                 on_connected, g_steal_pointer (&task));
}

NtsKeFailureKind
nts_ke_probe_finish (GAsyncResult *result)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NTS_KE_FAILURE_UNKNOWN);

  return (NtsKeFailureKind) g_task_propagate_int (G_TASK (result), NULL);
}
