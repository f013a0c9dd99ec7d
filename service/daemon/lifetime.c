/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "lifetime.h"

typedef enum {
  LIFETIME_SERVING,
  LIFETIME_DRAINING,   /* name released; answering what was already queued */
  LIFETIME_QUITTING,
} LifetimeState;

struct _NtsLifetime {
  GDBusConnection *connection;
  GMainLoop       *loop;
  guint            timeout_s;
  guint            holds;
  guint            timer_id;
  guint            owner_id;
  LifetimeState    state;
  GCancellable    *cancellable;
};

static void
quit_now (NtsLifetime *lifetime)
{
  lifetime->state = LIFETIME_QUITTING;
  g_debug ("idle and drained: exiting");
  g_main_loop_quit (lifetime->loop);
}

/* The bus delivers messages in order: once the reply to this round trip
 * arrives, every call the bus routed to us before our name was released
 * has been dispatched (and, being a call, holds us until answered). */
static void
on_drain_round_trip (GObject *source, GAsyncResult *res, gpointer user_data)
{
  NtsLifetime *lifetime = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error)
    g_debug ("drain round trip failed (%s); exiting anyway once idle", error->message);

  if (lifetime->holds == 0)
    quit_now (lifetime);
  /* else nts_lifetime_release() quits when the last call is answered. */
}

static void
start_drain_round_trip (NtsLifetime *lifetime)
{
  g_dbus_connection_call (lifetime->connection,
                          "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetId",
                          NULL, G_VARIANT_TYPE ("(s)"),
                          G_DBUS_CALL_FLAGS_NONE, 10000,
                          lifetime->cancellable, on_drain_round_trip, lifetime);
}

static gboolean
on_idle_timeout (gpointer user_data)
{
  NtsLifetime *lifetime = user_data;

  lifetime->timer_id = 0;
  g_debug ("idle for %u s: releasing the bus name", lifetime->timeout_s);
  lifetime->state = LIFETIME_DRAINING;

  if (lifetime->owner_id)
    {
      g_bus_unown_name (lifetime->owner_id);
      lifetime->owner_id = 0;
    }

  start_drain_round_trip (lifetime);
  return G_SOURCE_REMOVE;
}

static void
rearm (NtsLifetime *lifetime)
{
  g_clear_handle_id (&lifetime->timer_id, g_source_remove);
  if (lifetime->timeout_s == 0 || lifetime->holds > 0 || lifetime->state != LIFETIME_SERVING)
    return;
  /* Milliseconds, not g_timeout_add_seconds(): that one may fire up to a
   * second late, and the deadline is part of the contract. */
  lifetime->timer_id = g_timeout_add (lifetime->timeout_s * 1000, on_idle_timeout, lifetime);
}

NtsLifetime *
nts_lifetime_new (GDBusConnection *connection, guint timeout_s, GMainLoop *loop)
{
  NtsLifetime *lifetime = g_new0 (NtsLifetime, 1);

  lifetime->connection = g_object_ref (connection);
  lifetime->loop = g_main_loop_ref (loop);
  lifetime->timeout_s = timeout_s;
  lifetime->cancellable = g_cancellable_new ();
  rearm (lifetime);
  return lifetime;
}

void
nts_lifetime_free (NtsLifetime *lifetime)
{
  if (lifetime == NULL)
    return;
  g_cancellable_cancel (lifetime->cancellable);
  g_clear_handle_id (&lifetime->timer_id, g_source_remove);
  g_clear_object (&lifetime->cancellable);
  g_clear_object (&lifetime->connection);
  g_main_loop_unref (lifetime->loop);
  g_free (lifetime);
}

void
nts_lifetime_set_name_owner_id (NtsLifetime *lifetime, guint owner_id)
{
  lifetime->owner_id = owner_id;
}

void
nts_lifetime_hold (NtsLifetime *lifetime)
{
  lifetime->holds++;
  g_clear_handle_id (&lifetime->timer_id, g_source_remove);
}

void
nts_lifetime_release (NtsLifetime *lifetime)
{
  g_return_if_fail (lifetime->holds > 0);

  lifetime->holds--;
  if (lifetime->holds > 0)
    return;
  if (lifetime->state == LIFETIME_DRAINING)
    {
      /* A call queued before the release has been answered. Calls can
       * still be on their way (sent to our unique name), so make the same
       * round trip again rather than quitting on the spot. */
      start_drain_round_trip (lifetime);
      return;
    }
  rearm (lifetime);
}
