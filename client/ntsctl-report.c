/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl — a Verify report's verdict and problems, as verify prints them
 * and apply prints the commit check's. See ntsctl-report.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ntsctl-report.h"

char *
ntsctl_report_summary (GVariant *report)
{
  g_autoptr(GVariant) sources = NULL;
  guint32 authenticated = 0, min_sources = 0;
  gboolean synchronised = FALSE;
  const char *reference = "";
  guchar stratum = 0;
  gsize n_sources = 0;
  GString *text = g_string_new (NULL);

  g_variant_lookup (report, "authenticated-sources", "u", &authenticated);
  g_variant_lookup (report, "min-sources", "u", &min_sources);
  g_variant_lookup (report, "synchronised", "b", &synchronised);
  g_variant_lookup (report, "reference", "&s", &reference);
  g_variant_lookup (report, "stratum", "y", &stratum);
  sources = g_variant_lookup_value (report, "sources", G_VARIANT_TYPE ("aa{sv}"));
  if (sources != NULL)
    n_sources = g_variant_n_children (sources);

  g_string_append_printf (text, "%u of %" G_GSIZE_FORMAT " sources authenticated (min-sources %u), ",
                          authenticated, n_sources, min_sources);
  if (synchronised)
    g_string_append_printf (text, "synchronised to %s, stratum %u",
                            *reference != '\0' ? reference : "?", (unsigned) stratum);
  else
    g_string_append (text, "NOT synchronised");

  return g_string_free (text, FALSE);
}

void
ntsctl_print_problems (GVariant *report)
{
  g_autoptr(GVariant) problems = NULL;
  GVariantIter iter;
  GVariant *problem;

  problems = g_variant_lookup_value (report, "problems", G_VARIANT_TYPE ("aa{sv}"));
  if (problems == NULL || g_variant_n_children (problems) == 0)
    return;

  printf ("\nProblems:\n");
  g_variant_iter_init (&iter, problems);
  while ((problem = g_variant_iter_next_value (&iter)) != NULL)
    {
      const char *code = "?", *source = "", *message = "", *hint = "";

      g_variant_lookup (problem, "code", "&s", &code);
      g_variant_lookup (problem, "source", "&s", &source);
      g_variant_lookup (problem, "message", "&s", &message);
      g_variant_lookup (problem, "hint", "&s", &hint);

      printf ("  %s: ", code);
      /* Name the source unless the message already does. */
      if (*source != '\0' && strstr (message, source) == NULL)
        printf ("%s: ", source);
      printf ("%s\n", message);
      if (*hint != '\0')
        printf ("    %s\n", hint);

      g_variant_unref (problem);
    }
}
