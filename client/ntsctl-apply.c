/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl apply — ApplyHardenedConfig, with a progress line on a terminal. */
#include "config.h"

#include <stdio.h>

#include "ntsctl-change.h"
#include "ntsctl-commands.h"
#include "ntsctl-common.h"
#include "ntsctl-report.h"

static void
print_result (GVariant *result)
{
  g_autoptr(GVariant) report = NULL;
  const char *snapshot = "";
  guint64 duration_ms = 0;

  ntsctl_print_changes (result, "changed-files", "Changed files");

  report = g_variant_lookup_value (result, "report", G_VARIANT_TYPE_VARDICT);
  if (report != NULL)
    {
      g_autofree char *summary = ntsctl_report_summary (report);

      printf ("Commit check: %s\n", summary);
      ntsctl_print_problems (report);
    }

  g_variant_lookup (result, "duration-ms", "t", &duration_ms);
  g_variant_lookup (result, "snapshot-id", "&s", &snapshot);
  if (duration_ms > 0)
    {
      g_autofree char *duration = ntsctl_format_duration_ms (duration_ms);

      printf ("Applied in %s.\n", duration);
    }
  else
    {
      printf ("Applied.\n");
    }
  ntsctl_print_undo (snapshot);
}

int
ntsctl_cmd_apply (Ntsctl *ctl,
                  int     argc,
                  char  **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_auto(GStrv) servers = NULL;
  gint64 started;
  g_autofree char *min_sources = NULL;
  g_autofree char *wait_sync = NULL;
  gboolean install = FALSE;
  gboolean no_preflight = FALSE;
  gboolean allow_clock_far_off = FALSE;
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  const GOptionEntry entries[] = {
    NTSCTL_SERVER_LIST_ENTRIES (&servers, &min_sources),
    { "install", 0, 0, G_OPTION_ARG_NONE, &install,
      "Install chrony through PackageKit if it is missing", NULL },
    { "no-preflight", 0, 0, G_OPTION_ARG_NONE, &no_preflight,
      "Skip proving that the servers speak NTS before changing anything", NULL },
    { "wait-sync", 0, 0, G_OPTION_ARG_STRING, &wait_sync,
      "Seconds to wait for authenticated sources before committing (default: 60)", "SECONDS" },
    { "allow-clock-far-off", 0, 0, G_OPTION_ARG_NONE, &allow_clock_far_off,
      "Let chronyd accept certificates outside their dates until it first sets the clock "
      "(for a clock too far off: see ntsctl probe)",
      NULL },
    G_OPTION_ENTRY_NULL
  };

  if (!ntsctl_parse_options (ctl, entries, NULL,
                             "Configure chrony with NTS against several servers, harden its unit\n"
                             "and stop systemd-timesyncd, as one transaction: any failure undoes\n"
                             "every step. Prints what changed and the snapshot to roll back to.",
                             &argc, &argv, &error))
    return ntsctl_usage_error (ctl, error);
  if (argc > 1)
    return ntsctl_usage_message (ctl, "apply takes no arguments; use --server NAME");

  /* Only the keys the user gave: the defaults are the service's. */
  if (!ntsctl_options_add_server_list (&options, servers, min_sources, &error))
    return ntsctl_usage_error (ctl, error);
  if (install)
    g_variant_dict_insert (&options, "install", "b", TRUE);
  if (no_preflight)
    g_variant_dict_insert (&options, "preflight", "b", FALSE);
  if (allow_clock_far_off)
    g_variant_dict_insert (&options, "allow-clock-far-off", "b", TRUE);
  if (wait_sync != NULL &&
      !ntsctl_options_add_uint32 (&options, "wait-sync", "--wait-sync", wait_sync, &error))
    return ntsctl_usage_error (ctl, error);

  if (!ntsctl_change_connect (ctl, &error))
    return ntsctl_report_error (ctl, error);

  started = g_get_real_time ();
  nts_manager1_call_apply_hardened_config (ctl->manager, g_variant_dict_end (&options),
                                           ntsctl_call_flags (ctl), NTSCTL_CHANGE_TIMEOUT_MS,
                                           NULL, ntsctl_store_result, &result);
  ntsctl_change_await (ctl, &result);
  if (!nts_manager1_call_apply_hardened_config_finish (ctl->manager, &reply, result, &error))
    return ntsctl_change_failed (ctl, "ApplyHardenedConfig", started, error);

  ntsctl_print_result (ctl, reply, print_result);

  return NTSCTL_EXIT_OK;
}
