/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl snapshots — ListSnapshots as a table, newest first. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ntsctl-commands.h"
#include "ntsctl-common.h"

/* (id, time, details) tuples become one object each for JSON, so a script
 * reads .id and .servers instead of positions: id, created (microseconds
 * since the epoch) and the details keys. */
static GVariant *
snapshots_to_dicts (GVariant *snapshots)
{
  GVariantBuilder builder;
  GVariantIter iter;
  const char *id;
  guint64 created;
  GVariant *details;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_iter_init (&iter, snapshots);
  while (g_variant_iter_next (&iter, "(&st@a{sv})", &id, &created, &details))
    {
      GVariantDict dict;

      g_variant_dict_init (&dict, details);
      g_variant_dict_insert (&dict, "id", "s", id);
      g_variant_dict_insert (&dict, "created", "t", created);
      g_variant_builder_add_value (&builder, g_variant_dict_end (&dict));
      g_variant_unref (details);
    }

  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static void
print_snapshots (GVariant *snapshots)
{
  g_autoptr(GPtrArray) created_strings = g_ptr_array_new_with_free_func (g_free);
  GVariantIter iter;
  const char *id;
  guint64 created;
  GVariant *details;
  int id_width = (int) strlen ("ID");
  int created_width = (int) strlen ("CREATED");
  guint i;

  if (g_variant_n_children (snapshots) == 0)
    {
      printf ("No snapshots.\n");
      return;
    }

  g_variant_iter_init (&iter, snapshots);
  while (g_variant_iter_next (&iter, "(&st@a{sv})", &id, &created, &details))
    {
      char *when = ntsctl_format_time_usec (created);

      id_width = MAX (id_width, (int) strlen (id));
      created_width = MAX (created_width, (int) strlen (when));
      g_ptr_array_add (created_strings, when);
      g_variant_unref (details);
    }

  printf ("%-*s  %-*s  %s\n", id_width, "ID", created_width, "CREATED", "SERVERS");

  i = 0;
  g_variant_iter_init (&iter, snapshots);
  while (g_variant_iter_next (&iter, "(&st@a{sv})", &id, &created, &details))
    {
      g_autofree const char **servers = NULL;
      g_autofree char *server_list = NULL;
      gboolean original = FALSE;

      g_variant_lookup (details, "servers", "^a&s", &servers);
      g_variant_lookup (details, "original", "b", &original);
      server_list = servers != NULL && servers[0] != NULL
                    ? g_strjoinv (", ", (char **) servers) : g_strdup ("-");

      printf ("%-*s  %-*s  %s%s\n", id_width, id,
              created_width, (const char *) g_ptr_array_index (created_strings, i),
              server_list, original ? " (original)" : "");
      g_variant_unref (details);
      i++;
    }
}

int
ntsctl_cmd_snapshots (Ntsctl *ctl,
                      int     argc,
                      char  **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) snapshots = NULL;

  if (!ntsctl_parse_options (ctl, NULL, NULL,
                             "List the snapshots rollback can restore, newest first. The one\n"
                             "marked (original) is the machine before ntssetup first changed it.",
                             &argc, &argv, &error))
    return ntsctl_usage_error (ctl, error);
  if (argc > 1)
    return ntsctl_usage_message (ctl, "snapshots takes no arguments");

  if (!ntsctl_connect (ctl, &error))
    return ntsctl_report_error (ctl, error);
  ntsctl_agent_start (ctl);

  nts_manager1_call_list_snapshots (ctl->manager, ntsctl_call_flags (ctl), -1, NULL,
                                    ntsctl_store_result, &result);
  ntsctl_await (ctl, &result);
  if (!nts_manager1_call_list_snapshots_finish (ctl->manager, &snapshots, result, &error))
    return ntsctl_report_error (ctl, error);

  if (ctl->json)
    {
      g_autoptr(GVariant) dicts = snapshots_to_dicts (snapshots);

      ntsctl_print_json (dicts);
    }
  else
    {
      print_snapshots (snapshots);
    }

  return NTSCTL_EXIT_OK;
}
