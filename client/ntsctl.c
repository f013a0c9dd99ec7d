/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl — command-line client of ntssetupd.
 *
 * This file is the dispatcher: main(), the global options and the table of
 * commands. Each command lives in its own ntsctl-COMMAND.c
 * (ntsctl-commands.h); what they share is in ntsctl-common.c, which calls
 * back into no command. */
#include "config.h"

#include <locale.h>
#include <stdio.h>

#include "nts-errors.h"
#include "ntsctl-commands.h"
#include "ntsctl-common.h"

typedef struct {
  const char *name;
  NtsctlCommandFunc func;
  const char *description;
} NtsctlCommand;

/* clang-format off */
static const NtsctlCommand commands[] = {
  { "status",    ntsctl_cmd_status,    "Show the state and the applied configuration (default)" },
  { "preview",   ntsctl_cmd_preview,   "Show the files apply would write, writing nothing" },
  { "apply",     ntsctl_cmd_apply,     "Apply the hardened NTS configuration" },
  { "verify",    ntsctl_cmd_verify,    "Check that time is authenticated (exit 3 if not)" },
  { "rollback",  ntsctl_cmd_rollback,  "Undo an apply by restoring a snapshot" },
  { "snapshots", ntsctl_cmd_snapshots, "List the snapshots rollback can restore" },
  { "probe",     ntsctl_cmd_probe,     "Check from here that servers speak NTS (no service needed)" },
};
/* clang-format on */

/* ---- main ------------------------------------------------------------- */

static char *
commands_description (void)
{
  GString *text = g_string_new ("Commands:\n");

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (text, "  %-11s %s\n", commands[i].name, commands[i].description);
  g_string_append (text,
                   "\nRun 'ntsctl COMMAND --help' for the options of a command.\n"
                   "Exit status: 0 ok, 1 failure, 2 usage, 3 NTS not working (verify),\n"
                   "4 not authorised, 5 busy, 6 service not available, 7 limits exceeded.\n");
  return g_string_free (text, FALSE);
}

static const NtsctlCommand *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

int
main (int argc, char **argv)
{
  Ntsctl ctl = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;
  gboolean version = FALSE;
  const NtsctlCommand *command;
  char *default_argv[] = { (char *) "status", NULL };
  const GOptionEntry main_entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  int status;

  setlocale (LC_ALL, "");
  g_set_prgname ("ntsctl");

  /* Registers our D-Bus error names, so that replies carrying them arrive
   * as NTS_ERROR codes rather than as G_IO_ERROR_DBUS_ERROR. */
  (void) NTS_ERROR;

  description = commands_description ();
  context = g_option_context_new ("[COMMAND] [OPTION…]");
  /* Stop at the command: what follows is the command's to parse. */
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_set_summary (context,
                                "Set up, check and undo authenticated time (chrony with NTS)\n"
                                "through the ntssetupd system service.");
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, main_entries, NULL);
  ntsctl_add_global_options (context, &ctl);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ntsctl_usage_error (&ctl, error);

  if (version)
    {
      printf ("ntsctl %s\n", PACKAGE_VERSION);
      return NTSCTL_EXIT_OK;
    }

  if (argc < 2)
    {
      /* Like timedatectl: no command shows the status. */
      argc = 1;
      argv = default_argv;
    }
  else
    {
      argc--;
      argv++;
    }

  command = find_command (argv[0]);
  if (command == NULL)
    {
      g_autofree char *message = g_strdup_printf ("unknown command '%s'", argv[0]);
      return ntsctl_usage_message (&ctl, message);
    }

  ctl.command = command->name;
  status = command->func (&ctl, argc, argv);

  ntsctl_disconnect (&ctl);

  return status;
}
