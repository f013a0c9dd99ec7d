/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See flood-client.h. */
#include "flood-client.h"

#include <string.h>

#include "nts-names.h"

#define CALL_TIMEOUT_MS 60000

typedef struct {
  FloodCounts *counts;
  gint64       until;
  guint        in_flight;
} Flood;

static void issue (Flood *flood, GDBusConnection *connection);

static void
on_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Flood *flood = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);

  flood->in_flight--;
  if (reply != NULL)
    flood->counts->answered++;
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED))
    flood->counts->limited++;
  else
    {
      flood->counts->other++;
      if (flood->counts->other_example == NULL)
        flood->counts->other_example = g_strdup (error->message);
    }
  if (g_get_monotonic_time () < flood->until)
    issue (flood, G_DBUS_CONNECTION (source));
}

static void
issue (Flood *flood, GDBusConnection *connection)
{
  gboolean preview = (flood->counts->sent++ % 2) == 0;

  flood->in_flight++;
  g_dbus_connection_call (connection, NTS_DBUS_NAME, NTS_DBUS_PATH,
                          NTS_DBUS_INTERFACE, preview ? "PreviewConfig" : "Verify",
                          g_variant_new_parsed ("(@a{sv} {},)"), NULL, G_DBUS_CALL_FLAGS_NONE,
                          CALL_TIMEOUT_MS, NULL, on_reply, flood);
}

gboolean
flood_run (const char  *address,
           guint        ms,
           guint        connections,
           guint        depth,
           FloodCounts *counts,
           GError     **error)
{
  g_autoptr(GPtrArray) buses = g_ptr_array_new_with_free_func (g_object_unref);
  Flood flood = { counts, 0, 0 };

  memset (counts, 0, sizeof *counts);
  for (guint c = 0; c < connections; c++)
    {
      GDBusConnection *bus = g_dbus_connection_new_for_address_sync (
          address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                   G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, error);

      if (bus == NULL)
        return FALSE;
      g_ptr_array_add (buses, bus);
    }
  flood.until = g_get_monotonic_time () + (gint64) ms * 1000;
  for (guint c = 0; c < connections; c++)
    for (guint d = 0; d < depth; d++)
      issue (&flood, buses->pdata[c]);
  /* Bounded: every call has CALL_TIMEOUT_MS, and none is re-issued
   * after @ms. */
  while (flood.in_flight > 0)
    g_main_context_iteration (NULL, TRUE);
  return TRUE;
}

void
flood_counts_clear (FloodCounts *counts)
{
  g_clear_pointer (&counts->other_example, g_free);
}

int
flood_client_main (const char *address, guint ms, guint connections, guint depth)
{
  g_autoptr(GError) error = NULL;
  FloodCounts counts;

  if (!flood_run (address, ms, connections, depth, &counts, &error))
    {
      g_printerr ("flood: %s\n", error->message);
      return 1;
    }
  g_print ("%u %u %u %u\n", counts.sent, counts.answered, counts.limited, counts.other);
  if (counts.other_example != NULL)
    g_printerr ("flood: an error other than LimitsExceeded: %s\n", counts.other_example);
  flood_counts_clear (&counts);
  return 0;
}
