/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl verify — whether NTS really works (Verify), as a table in the
 * spirit of `chronyc -N authdata` joined with `sources` and `ntpdata`;
 * with --probe, also what a probe of each failing source found. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ntsctl-commands.h"
#include "ntsctl-common.h"
#include "ntsctl-report.h"

enum {
  COL_NAME,
  COL_ADDRESS,
  COL_MODE,
  COL_STATE,
  COL_REACH,
  COL_AUTH,
  COL_KE,
  COL_ATTEMPTS,
  COL_AGE,
  COL_COOKIES,
  COL_NAK,
  COL_OFFSET,
  N_COLUMNS
};

static const struct {
  const char *title;
  gboolean right;   /* numbers are right-aligned, like chronyc */
} columns[N_COLUMNS] = {
  [COL_NAME]     = { "Name", FALSE },
  [COL_ADDRESS]  = { "Address", FALSE },
  [COL_MODE]     = { "Mode", FALSE },
  [COL_STATE]    = { "State", FALSE },
  [COL_REACH]    = { "Reach", TRUE },
  [COL_AUTH]     = { "Auth", FALSE },
  [COL_KE]       = { "KE", TRUE },
  [COL_ATTEMPTS] = { "Atmp", TRUE },
  [COL_AGE]      = { "Age", TRUE },
  [COL_COOKIES]  = { "Cook", TRUE },
  [COL_NAK]      = { "NAK", FALSE },
  [COL_OFFSET]   = { "Offset", TRUE },
};

static char *
format_age (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup ("-");
  if (seconds < 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT "s", seconds);
  if (seconds < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m", seconds / 60);
  if (seconds < 86400)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h", seconds / 3600);
  return g_strdup_printf ("%" G_GINT64_FORMAT "d", seconds / 86400);
}

static char *
format_offset (double seconds)
{
  double magnitude = fabs (seconds);

  if (magnitude < 1e-6)
    return g_strdup_printf ("%+.0fns", seconds * 1e9);
  if (magnitude < 1e-3)
    return g_strdup_printf ("%+.1fus", seconds * 1e6);
  if (magnitude < 1.0)
    return g_strdup_printf ("%+.1fms", seconds * 1e3);
  return g_strdup_printf ("%+.3fs", seconds);
}

static const char *
yes_no (gboolean value)
{
  return value ? "yes" : "no";
}

/* One row of the table, every cell a newly allocated string. */
static char **
source_row (GVariant *source)
{
  char **row = g_new0 (char *, N_COLUMNS + 1);
  const char *name = "?", *address = "", *state = "?";
  gboolean nts = FALSE, nak = FALSE, authenticated = FALSE;
  guint32 ke_count = 0, ke_attempts = 0, cookies = 0;
  gint64 age = -1;
  guchar reach = 0;
  double offset = 0.0;

  g_variant_lookup (source, "name", "&s", &name);
  g_variant_lookup (source, "address", "&s", &address);
  g_variant_lookup (source, "nts", "b", &nts);
  g_variant_lookup (source, "state", "&s", &state);
  g_variant_lookup (source, "reachability", "y", &reach);
  g_variant_lookup (source, "authenticated", "b", &authenticated);
  g_variant_lookup (source, "ke-count", "u", &ke_count);
  g_variant_lookup (source, "ke-attempts", "u", &ke_attempts);
  g_variant_lookup (source, "last-ke-age", "x", &age);
  g_variant_lookup (source, "cookies", "u", &cookies);
  g_variant_lookup (source, "nak", "b", &nak);
  g_variant_lookup (source, "offset", "d", &offset);

  row[COL_NAME] = g_strdup (name);
  row[COL_ADDRESS] = g_strdup (*address != '\0' ? address : "-");
  row[COL_MODE] = g_strdup (nts ? "NTS" : "-");
  row[COL_STATE] = g_strdup (state);
  row[COL_REACH] = g_strdup_printf ("%o", (unsigned) reach);
  row[COL_AUTH] = g_strdup (yes_no (authenticated));
  row[COL_KE] = g_strdup_printf ("%u", ke_count);
  row[COL_ATTEMPTS] = g_strdup_printf ("%u", ke_attempts);
  row[COL_AGE] = format_age (age);
  row[COL_COOKIES] = g_strdup_printf ("%u", cookies);
  row[COL_NAK] = g_strdup (yes_no (nak));
  /* A source never heard from has no measurement, not a zero offset. */
  row[COL_OFFSET] = reach != 0 ? format_offset (offset) : g_strdup ("-");

  return row;
}

static void
print_row (const char * const *cells,
           const int           *widths)
{
  for (int c = 0; c < N_COLUMNS; c++)
    {
      const char *sep = c + 1 < N_COLUMNS ? "  " : "\n";

      /* No trailing blanks after a left-aligned last column. */
      if (columns[c].right)
        printf ("%*s%s", widths[c], cells[c], sep);
      else if (c + 1 < N_COLUMNS)
        printf ("%-*s%s", widths[c], cells[c], sep);
      else
        printf ("%s%s", cells[c], sep);
    }
}

static void
print_sources (GVariant *sources)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  const char *titles[N_COLUMNS];
  int widths[N_COLUMNS];
  GVariantIter iter;
  GVariant *source;

  for (int c = 0; c < N_COLUMNS; c++)
    {
      titles[c] = columns[c].title;
      widths[c] = (int) strlen (titles[c]);
    }

  g_variant_iter_init (&iter, sources);
  while ((source = g_variant_iter_next_value (&iter)) != NULL)
    {
      char **row = source_row (source);

      for (int c = 0; c < N_COLUMNS; c++)
        widths[c] = MAX (widths[c], (int) strlen (row[c]));
      g_ptr_array_add (rows, row);
      g_variant_unref (source);
    }

  if (rows->len == 0)
    {
      printf ("No sources.\n");
      return;
    }

  print_row (titles, widths);
  for (guint i = 0; i < rows->len; i++)
    print_row ((const char * const *) g_ptr_array_index (rows, i), widths);
}

/* With --probe: the verdict of each source probed (the failing ones),
 * one line each. */
static void
print_probes (GVariant *sources)
{
  GVariantIter iter;
  GVariant *source;
  gboolean any = FALSE;

  g_variant_iter_init (&iter, sources);
  while ((source = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) probe = g_variant_lookup_value (source, "probe",
                                                          G_VARIANT_TYPE_VARDICT);
      const char *name = "?", *result = "?", *message = "";

      if (probe != NULL)
        {
          g_variant_lookup (source, "name", "&s", &name);
          g_variant_lookup (probe, "result", "&s", &result);
          g_variant_lookup (probe, "message", "&s", &message);
          if (!any)
            printf ("Probes:\n");
          any = TRUE;
          printf ("  %s: %s: %s\n", name, result, message);
        }
      g_variant_unref (source);
    }
  if (any)
    printf ("\n");
}

static void
print_units (GVariant *report)
{
  const char *chronyd_unit = "", *chronyd_state = "?", *timesyncd_state = "?";

  g_variant_lookup (report, "chronyd-unit", "&s", &chronyd_unit);
  g_variant_lookup (report, "chronyd-state", "&s", &chronyd_state);
  g_variant_lookup (report, "timesyncd-state", "&s", &timesyncd_state);

  printf ("Units: %s %s, systemd-timesyncd.service %s\n",
          *chronyd_unit != '\0' ? chronyd_unit : "chronyd", chronyd_state, timesyncd_state);
}

static void
print_report (GVariant *report)
{
  g_autoptr(GVariant) sources = NULL;
  g_autofree char *summary = NULL;

  sources = g_variant_lookup_value (report, "sources", G_VARIANT_TYPE ("aa{sv}"));
  if (sources != NULL)
    {
      print_sources (sources);
      printf ("\n");
      print_probes (sources);
    }

  summary = ntsctl_report_summary (report);
  printf ("%s\n", summary);
  print_units (report);
  ntsctl_print_problems (report);
}

int
ntsctl_cmd_verify (Ntsctl *ctl,
                   int     argc,
                   char  **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) report = NULL;
  g_autofree char *wait = NULL;
  g_auto(GVariantDict) options = G_VARIANT_DICT_INIT (NULL);
  gboolean ok = FALSE, probe = FALSE;
  const GOptionEntry entries[] = {
    { "wait", 0, 0, G_OPTION_ARG_STRING, &wait,
      "Wait up to SECONDS for NTS to come up before reporting", "SECONDS" },
    { "probe", 0, 0, G_OPTION_ARG_NONE, &probe,
      "Probe each failing source (sends packets to it) and name the exact cause", NULL },
    G_OPTION_ENTRY_NULL
  };

  if (!ntsctl_parse_options (ctl, entries, NULL,
                             "Check that the time is authenticated: per source what chronyd says\n"
                             "about NTS, then the problems found, each with a hint.\n"
                             "Exits with 3 when NTS is not working.",
                             &argc, &argv, &error))
    return ntsctl_usage_error (ctl, error);
  if (argc > 1)
    return ntsctl_usage_message (ctl, "verify takes no arguments");

  if (wait != NULL &&
      !ntsctl_options_add_uint32 (&options, "wait", "--wait", wait, &error))
    return ntsctl_usage_error (ctl, error);
  if (probe)
    g_variant_dict_insert (&options, "probe", "b", TRUE);

  if (!ntsctl_connect (ctl, &error))
    return ntsctl_report_error (ctl, error);
  ntsctl_agent_start (ctl);

  /* With --wait the call lasts as long as the service needs (it caps the
   * wait itself); without, the default timeout is plenty, a probe's
   * deadline (5 s) included. */
  nts_manager1_call_verify (ctl->manager, g_variant_dict_end (&options),
                            ntsctl_call_flags (ctl), wait != NULL ? G_MAXINT : -1,
                            NULL, ntsctl_store_result, &result);
  ntsctl_await (ctl, &result);
  if (!nts_manager1_call_verify_finish (ctl->manager, &report, result, &error))
    return ntsctl_report_error (ctl, error);

  ntsctl_print_result (ctl, report, print_report);

  g_variant_lookup (report, "ok", "b", &ok);
  return ok ? NTSCTL_EXIT_OK : NTSCTL_EXIT_NTS_NOT_WORKING;
}
