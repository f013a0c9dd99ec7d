/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl status — the service's properties, read in one GetAll call. */
#include "config.h"

#include <stdio.h>

#include "ntsctl-commands.h"
#include "ntsctl-common.h"

#define LABEL_WIDTH 16

static void
print_label (const char *label)
{
  printf ("%*s: ", LABEL_WIDTH, label);
}

static void
print_continuation (void)
{
  printf ("%*s  ", LABEL_WIDTH, "");
}

static const char *
yes_no (GVariant *props,
        const char *key)
{
  gboolean value;

  if (!g_variant_lookup (props, key, "b", &value))
    return "?";
  return value ? "yes" : "no";
}

static void
print_last_result (GVariant *props)
{
  g_autoptr(GVariant) last = NULL;
  const char *method = "", *message = "", *step = "", *snapshot = "";
  gboolean ok = FALSE;
  guint64 time = 0;
  g_autofree char *when = NULL;

  print_label ("Last result");

  last = g_variant_lookup_value (props, "LastResult", G_VARIANT_TYPE_VARDICT);
  if (last == NULL || g_variant_n_children (last) == 0)
    {
      printf ("none\n");
      return;
    }

  g_variant_lookup (last, "method", "&s", &method);
  g_variant_lookup (last, "ok", "b", &ok);
  g_variant_lookup (last, "time", "t", &time);
  g_variant_lookup (last, "message", "&s", &message);
  g_variant_lookup (last, "step", "&s", &step);
  g_variant_lookup (last, "snapshot-id", "&s", &snapshot);

  when = ntsctl_format_time_usec (time);
  printf ("%s %s, %s\n", method, ok ? "succeeded" : "failed", when);

  if (!ok && *message != '\0')
    {
      print_continuation ();
      if (*step != '\0')
        printf ("step %s: ", step);
      printf ("%s\n", message);
    }
  if (*snapshot != '\0')
    {
      print_continuation ();
      printf ("snapshot %s\n", snapshot);
    }
}

static void
print_status (GVariant *props)
{
  const char *state = "?";
  g_autofree const char **servers = NULL;
  guint32 min_sources;

  g_variant_lookup (props, "State", "&s", &state);
  print_label ("State");
  printf ("%s\n", state);

  print_label ("Servers");
  if (!g_variant_lookup (props, "Servers", "^a&s", &servers) || servers[0] == NULL)
    {
      printf ("none\n");
    }
  else
    {
      for (gsize i = 0; servers[i] != NULL; i++)
        {
          if (i > 0)
            print_continuation ();
          printf ("%s\n", servers[i]);
        }
    }

  print_label ("Min sources");
  if (g_variant_lookup (props, "MinSources", "u", &min_sources) && min_sources > 0)
    printf ("%u\n", min_sources);
  else
    printf ("-\n");

  print_label ("Chrony installed");
  printf ("%s\n", yes_no (props, "ChronyInstalled"));
  print_label ("Timesyncd active");
  printf ("%s\n", yes_no (props, "TimesyncdActive"));

  print_last_result (props);
}

int
ntsctl_cmd_status (Ntsctl *ctl,
                   int     argc,
                   char  **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) props = NULL;

  if (!ntsctl_parse_options (ctl, NULL, NULL,
                             "Show the service's state, the applied servers and the outcome\n"
                             "of the last apply or rollback.",
                             &argc, &argv, &error))
    return ntsctl_usage_error (ctl, error);
  if (argc > 1)
    return ntsctl_usage_message (ctl, "status takes no arguments");

  if (!ntsctl_connect (ctl, &error))
    return ntsctl_report_error (ctl, error);

  /* One explicit GetAll instead of the proxy's property cache: the cache
   * hides a failure to reach the service behind empty values, and this
   * call also starts the service when it is not running. */
  g_dbus_connection_call (ctl->bus, NTS_DBUS_NAME, NTS_DBUS_PATH,
                          "org.freedesktop.DBus.Properties", "GetAll",
                          g_variant_new ("(s)", NTS_DBUS_INTERFACE),
                          G_VARIANT_TYPE ("(a{sv})"),
                          ntsctl_call_flags (ctl), -1, NULL,
                          ntsctl_store_result, &result);
  ntsctl_await (ctl, &result);

  reply = g_dbus_connection_call_finish (ctl->bus, result, &error);
  if (reply == NULL)
    return ntsctl_report_error (ctl, error);

  props = g_variant_get_child_value (reply, 0);
  ntsctl_print_result (ctl, props, print_status);

  return NTSCTL_EXIT_OK;
}
