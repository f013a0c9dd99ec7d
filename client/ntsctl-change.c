/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl — what apply and rollback share: the call with its progress
 * line, learning the outcome from LastResult when the reply never came,
 * and the lists of what changed.
 * See ntsctl-change.h. */
#include "config.h"

#include <stdio.h>

#include "ntsctl-change.h"

/* ---- the call ------------------------------------------------------------ */

gboolean
ntsctl_change_connect (Ntsctl *ctl, GError **error)
{
  ctl->mutating = TRUE;
  if (!ntsctl_connect (ctl, error))
    return FALSE;
  ntsctl_agent_start (ctl);
  ntsctl_progress_connect (ctl);
  return TRUE;
}

void
ntsctl_change_await (Ntsctl *ctl, GAsyncResult **result)
{
  ntsctl_await (ctl, result);
  ntsctl_progress_clear (ctl);
}

/* ---- a reply that never came -------------------------------------------- */

static gboolean
reply_lost (const GError *error)
{
  /* Our timeout ran out, or the service left the bus before replying
   * (the bus answers NoReply for it). Either way the transaction may
   * have ended in any way, and only the service knows which. */
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY);
}

static GVariant *
get_properties (Ntsctl  *ctl,
                GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) reply = NULL;

  /* Starts the service again if it died: it then finishes or undoes the
   * interrupted transaction, and says so through State. */
  g_dbus_connection_call (ctl->bus, NTS_DBUS_NAME, NTS_DBUS_PATH,
                          "org.freedesktop.DBus.Properties", "GetAll",
                          g_variant_new ("(s)", NTS_DBUS_INTERFACE),
                          G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          ntsctl_store_result, &result);
  ntsctl_await (ctl, &result);
  reply = g_dbus_connection_call_finish (ctl->bus, result, error);
  if (reply == NULL)
    return NULL;
  return g_variant_get_child_value (reply, 0);
}

/* The outcome LastResult records, once it is about our call: success
 * returns 0, a failure is reported as if the call had returned it. */
static int
report_last_result (Ntsctl     *ctl,
                    const char *method,
                    GVariant   *last)
{
  const char *recorded = "", *error_name = "", *message = "", *snapshot = "";
  gboolean ok = FALSE;
  g_autoptr(GError) error = NULL;

  g_variant_lookup (last, "method", "&s", &recorded);
  g_variant_lookup (last, "ok", "b", &ok);
  g_variant_lookup (last, "error", "&s", &error_name);
  g_variant_lookup (last, "message", "&s", &message);
  g_variant_lookup (last, "snapshot-id", "&s", &snapshot);

  if (g_str_equal (recorded, "Recover"))
    {
      /* The service died during our call and, started again, undid an
       * interrupted apply or finished an interrupted rollback. */
      if (!ok)
        {
          g_printerr ("ntsctl: the service stopped during the call, and recovering failed: %s\n",
                      message);
          g_printerr ("'ntsctl status' shows the state; the journal in /var/lib/ntssetup is kept.\n");
          return NTSCTL_EXIT_FAILURE;
        }
      if (g_str_equal (method, "Rollback"))
        {
          printf ("The service stopped during the rollback and finished it when it started again.\n");
          if (*snapshot != '\0')
            printf ("Restored snapshot %s.\n", snapshot);
          return NTSCTL_EXIT_OK;
        }
      g_printerr ("ntsctl: the service stopped during the apply and undid it when it started again: "
                  "nothing was changed\n");
      return NTSCTL_EXIT_FAILURE;
    }

  if (ok)
    {
      if (g_str_equal (method, "Rollback"))
        {
          printf ("Restored snapshot %s.\n", *snapshot != '\0' ? snapshot : "?");
        }
      else
        {
          printf ("Applied.\n");
          ntsctl_print_undo (snapshot);
        }
      printf ("('ntsctl status' shows the service's state; the details of the change were in the lost reply.)\n");
      return NTSCTL_EXIT_OK;
    }

  error = g_dbus_error_new_for_dbus_error (*error_name != '\0' ? error_name
                                                               : "org.freedesktop.DBus.Error.Failed",
                                           message);
  return ntsctl_report_error (ctl, error);
}

int
ntsctl_change_failed (Ntsctl     *ctl,
                      const char *method,
                      gint64      started,
                      GError     *error)
{
  g_autoptr(GError) props_error = NULL;
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) last = NULL;
  const char *state = "?", *recorded = "";
  guint64 time = 0;

  if (!reply_lost (error))
    return ntsctl_report_error (ctl, error);

  ntsctl_progress_clear (ctl);
  g_dbus_error_strip_remote_error (error);
  g_printerr ("ntsctl: no reply from the service (%s); asking it how %s ended\n",
              error->message, method);

  props = get_properties (ctl, &props_error);
  if (props == NULL)
    return ntsctl_report_error (ctl, props_error);

  g_variant_lookup (props, "State", "&s", &state);
  last = g_variant_lookup_value (props, "LastResult", G_VARIANT_TYPE_VARDICT);
  if (last != NULL)
    {
      g_variant_lookup (last, "method", "&s", &recorded);
      g_variant_lookup (last, "time", "t", &time);
    }

  /* While a change runs, ours (or the recovery of it) has not ended yet. */
  if (g_str_equal (state, "applying") || g_str_equal (state, "rolling-back") ||
      g_str_equal (state, "recovering"))
    {
      g_printerr ("ntsctl: it has not ended yet (State: %s); 'ntsctl status' shows "
                  "the outcome once it has\n", state);
      return NTSCTL_EXIT_FAILURE;
    }

  /* A LastResult from before our call is someone else's. */
  if (last == NULL || time < (guint64) started ||
      !(g_str_equal (recorded, method) || g_str_equal (recorded, "Recover")))
    {
      g_printerr ("ntsctl: the service has no record of how it ended (State: %s, and its "
                  "last result is older than the call); 'ntsctl status' shows the state\n", state);
      return NTSCTL_EXIT_FAILURE;
    }

  return report_last_result (ctl, method, last);
}

/* ---- what changed ------------------------------------------------------- */

static gboolean
list_has (GVariant   *dict,
          const char *key,
          const char *item)
{
  g_autofree const char **items = NULL;

  return g_variant_lookup (dict, key, "^a&s", &items) &&
         g_strv_contains ((const char * const *) items, item);
}

void
ntsctl_print_changes (GVariant   *result,
                      const char *files_key,
                      const char *files_title)
{
  ntsctl_print_list (files_title, result, files_key);
  ntsctl_print_list ("Unit changes", result, "unit-changes");
  ntsctl_print_list ("Packages installed", result, "packages-installed");
  ntsctl_print_list ("Packages removed", result, "packages-removed");

  /* Debian's chrony conflicts with systemd-timesyncd: installing one
   * removes the other package, not just its unit. Easy to miss in a
   * list, and it matters to whoever later undoes ntssetup by hand. */
  if (list_has (result, "packages-removed", "systemd-timesyncd"))
    printf ("\nNOTE: installing chrony REMOVED the systemd-timesyncd package (the two conflict).\n"
            "      Rolling back reinstalls it.\n\n");
}

void
ntsctl_print_undo (const char *snapshot_id)
{
  if (*snapshot_id == '\0')
    return;
  printf ("Snapshot: %s\n", snapshot_id);
  printf ("Undo with: ntsctl rollback %s\n", snapshot_id);
}
