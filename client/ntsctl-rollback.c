/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl rollback — Rollback to a snapshot (default: the newest apply's). */
#include "config.h"

#include <stdio.h>

#include "ntsctl-change.h"
#include "ntsctl-commands.h"
#include "ntsctl-common.h"

static void
print_result (GVariant *result)
{
  const char *snapshot = "";
  guint64 duration_ms = 0;

  ntsctl_print_changes (result, "restored-files", "Restored files");

  g_variant_lookup (result, "snapshot-id", "&s", &snapshot);
  g_variant_lookup (result, "duration-ms", "t", &duration_ms);
  printf ("Restored snapshot %s", *snapshot != '\0' ? snapshot : "?");
  if (duration_ms > 0)
    {
      g_autofree char *duration = ntsctl_format_duration_ms (duration_ms);

      printf (" in %s", duration);
    }
  printf (".\n");
}

int
ntsctl_cmd_rollback (Ntsctl *ctl,
                     int     argc,
                     char  **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  gboolean force = FALSE;
  const char *snapshot_id;
  gint64 started;
  const GOptionEntry entries[] = {
    { "force", 0, 0, G_OPTION_ARG_NONE, &force,
      "Restore even if the files were changed since that apply", NULL },
    G_OPTION_ENTRY_NULL
  };

  if (!ntsctl_parse_options (ctl, entries, "[ID]",
                             "Restore a snapshot: files byte for byte with owner and mode, the\n"
                             "units' state and the packages apply changed. Without ID, undo the\n"
                             "newest apply. 'ntsctl snapshots' lists the IDs.",
                             &argc, &argv, &error))
    return ntsctl_usage_error (ctl, error);
  if (argc > 2)
    return ntsctl_usage_message (ctl, "rollback takes at most one snapshot ID");

  /* "" asks the service for the newest apply's snapshot. */
  snapshot_id = argc == 2 ? argv[1] : "";
  if (force)
    g_variant_dict_insert (&options, "force", "b", TRUE);

  if (!ntsctl_change_connect (ctl, &error))
    return ntsctl_report_error (ctl, error);

  started = g_get_real_time ();
  nts_manager1_call_rollback (ctl->manager, snapshot_id, g_variant_dict_end (&options),
                              ntsctl_call_flags (ctl), NTSCTL_CHANGE_TIMEOUT_MS, NULL,
                              ntsctl_store_result, &result);
  ntsctl_change_await (ctl, &result);
  if (!nts_manager1_call_rollback_finish (ctl->manager, &reply, result, &error))
    return ntsctl_change_failed (ctl, "Rollback", started, error);

  ntsctl_print_result (ctl, reply, print_result);

  return NTSCTL_EXIT_OK;
}
