/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl preview — the files apply would write (PreviewConfig). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ntsctl-commands.h"
#include "ntsctl-common.h"

typedef struct {
  const char *path;
  const char *content;
} PreviewFile;

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (((const PreviewFile *) a)->path, ((const PreviewFile *) b)->path);
}

static void
print_files (GVariant *files)
{
  g_autoptr(GArray) sorted = g_array_new (FALSE, FALSE, sizeof (PreviewFile));
  GVariantIter iter;
  PreviewFile file;

  /* The dict's order is the service's; sorted output diffs well. The
   * strings point into @files, which outlives the array. */
  g_variant_iter_init (&iter, files);
  while (g_variant_iter_next (&iter, "{&s&s}", &file.path, &file.content))
    g_array_append_val (sorted, file);
  g_array_sort (sorted, compare_paths);

  for (guint i = 0; i < sorted->len; i++)
    {
      const PreviewFile *f = &g_array_index (sorted, PreviewFile, i);
      gsize len = strlen (f->content);

      if (i > 0)
        printf ("\n");
      printf ("# %s\n%s", f->path, f->content);
      if (len > 0 && f->content[len - 1] != '\n')
        printf ("\n");
    }
}

int
ntsctl_cmd_preview (Ntsctl *ctl,
                    int     argc,
                    char  **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) files = NULL;
  g_auto(GStrv) servers = NULL;
  g_autofree char *min_sources = NULL;
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  const GOptionEntry entries[] = { NTSCTL_SERVER_LIST_ENTRIES (&servers, &min_sources),
                                   G_OPTION_ENTRY_NULL };

  if (!ntsctl_parse_options (ctl, entries, NULL,
                             "Show every file apply would write, with its exact content\n"
                             "(an existing keys file, which apply keeps, is never shown).\n"
                             "Nothing is written.",
                             &argc, &argv, &error))
    return ntsctl_usage_error (ctl, error);
  if (argc > 1)
    return ntsctl_usage_message (ctl, "preview takes no arguments; use --server NAME");

  if (!ntsctl_options_add_server_list (&options, servers, min_sources, &error))
    return ntsctl_usage_error (ctl, error);

  if (!ntsctl_connect (ctl, &error))
    return ntsctl_report_error (ctl, error);
  ntsctl_agent_start (ctl);

  nts_manager1_call_preview_config (ctl->manager, g_variant_dict_end (&options),
                                    ntsctl_call_flags (ctl), -1, NULL,
                                    ntsctl_store_result, &result);
  ntsctl_await (ctl, &result);
  if (!nts_manager1_call_preview_config_finish (ctl->manager, &files, result, &error))
    return ntsctl_report_error (ctl, error);

  ntsctl_print_result (ctl, files, print_files);

  return NTSCTL_EXIT_OK;
}
