/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl — what every command shares: option parsing, connecting to the
 * system bus, the polkit text agent, waiting for a reply, the progress
 * line, the mapping of errors to exit codes and the output helpers. See
 * ntsctl-common.h. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>
#include <json-glib/json-glib.h>

#define POLKIT_AGENT_I_KNOW_API_IS_SUBJECT_TO_CHANGE
#include <polkitagent/polkitagent.h>

#include "nts-errors.h"
#include "ntsctl-common.h"

/* The terminal settings from before the polkit agent could have turned
 * echo off for a password prompt; put back if we are interrupted there. */
static struct termios saved_tty;
static gboolean saved_tty_valid;

/* ---- options ---------------------------------------------------------- */

void
ntsctl_add_global_options (GOptionContext *context,
                           Ntsctl         *ctl)
{
  /* g_option_context_add_main_entries copies the array, so a stack array
   * pointing into @ctl is fine. */
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &ctl->json,
      "Print the service's reply as JSON", NULL },
    { "no-ask-password", 0, 0, G_OPTION_ARG_NONE, &ctl->no_ask_password,
      "Never ask for a password; fail if authorization needs one", NULL },
    G_OPTION_ENTRY_NULL
  };

  g_option_context_add_main_entries (context, entries, NULL);
}

gboolean
ntsctl_parse_options (Ntsctl             *ctl,
                      const GOptionEntry *entries,
                      const char         *parameter_string,
                      const char         *summary,
                      int                *argc,
                      char             ***argv,
                      GError            **error)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *param = NULL;

  param = g_strconcat (ctl->command,
                       parameter_string != NULL ? " " : "",
                       parameter_string, NULL);
  context = g_option_context_new (param);
  g_option_context_set_summary (context, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  ntsctl_add_global_options (context, ctl);

  return g_option_context_parse (context, argc, argv, error);
}

int
ntsctl_usage_message (Ntsctl     *ctl,
                      const char *message)
{
  g_printerr ("ntsctl: %s\n", message);
  if (ctl->command != NULL)
    g_printerr ("Try 'ntsctl %s --help'.\n", ctl->command);
  else
    g_printerr ("Try 'ntsctl --help'.\n");
  return NTSCTL_EXIT_USAGE;
}

int
ntsctl_usage_error (Ntsctl       *ctl,
                    const GError *error)
{
  return ntsctl_usage_message (ctl, error->message);
}

gboolean
ntsctl_options_add_uint32 (GVariantDict *options,
                           const char   *key,
                           const char   *option_name,
                           const char   *text,
                           GError      **error)
{
  guint64 value;
  g_autoptr(GError) local_error = NULL;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, &value, &local_error))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: %s", option_name, local_error->message);
      return FALSE;
    }

  g_variant_dict_insert (options, key, "u", (guint32) value);
  return TRUE;
}

void
ntsctl_options_add_servers (GVariantDict *options,
                            char        **servers)
{
  /* Passed as given: the service validates names and rejects duplicates
   * with a message naming the offending entry. */
  if (servers != NULL && servers[0] != NULL)
    g_variant_dict_insert_value (options, "servers",
                                 g_variant_new_strv ((const char * const *) servers, -1));
}

gboolean
ntsctl_options_add_server_list (GVariantDict *options, char **servers, const char *min_sources,
                                GError **error)
{
  ntsctl_options_add_servers (options, servers);
  return min_sources == NULL ||
         ntsctl_options_add_uint32 (options, "min-sources", "--min-sources", min_sources, error);
}

/* ---- connecting, authorization, calling ------------------------------- */

gboolean
ntsctl_connect (Ntsctl  *ctl,
                GError **error)
{
  GDBusProxyFlags flags;

  /* DBUS_SYSTEM_BUS_ADDRESS points this elsewhere for tests. */
  ctl->bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
  if (ctl->bus == NULL)
    return FALSE;

  /* Properties are fetched explicitly by `status`, so that a failure to
   * reach the service is an error rather than silently empty properties;
   * activation happens on the first method call, where its errors are
   * reported. */
  flags = G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
          G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START_AT_CONSTRUCTION;
  if (!ctl->mutating)
    flags |= G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS;

  ctl->manager = nts_manager1_proxy_new_sync (ctl->bus, flags,
                                              NTS_DBUS_NAME, NTS_DBUS_PATH,
                                              NULL, error);
  return ctl->manager != NULL;
}

void
ntsctl_agent_start (Ntsctl *ctl)
{
  g_autoptr(PolkitAgentListener) listener = NULL;
  g_autoptr(PolkitSubject) subject = NULL;
  g_autoptr(GError) error = NULL;

  if (ctl->no_ask_password || ctl->agent_handle != NULL)
    return;

  /* A text agent needs someone at a terminal to answer it. Without one, a
   * graphical session's agent may still answer, which is why the call
   * flag is set regardless. */
  if (!isatty (STDIN_FILENO))
    return;

  /* polkitd authorises uid 0 without asking: an agent would never be
   * consulted and registering it would cost a round trip to polkitd. */
  if (geteuid () == 0)
    return;

  if (tcgetattr (STDIN_FILENO, &saved_tty) == 0)
    saved_tty_valid = TRUE;

  listener = polkit_agent_text_listener_new (NULL, &error);
  if (listener == NULL)
    {
      g_debug ("No polkit text agent: %s", error->message);
      return;
    }

  /* A temporary agent for this process only: polkitd routes to it the
   * authentication of calls made by this process, whatever agent the
   * session has. The agent runs in its own thread because the main thread
   * is busy waiting for the reply that needs the password. */
  subject = polkit_unix_process_new_for_owner (getpid (), 0, getuid ());
  ctl->agent_handle = polkit_agent_listener_register (listener,
                                                      POLKIT_AGENT_REGISTER_FLAGS_RUN_IN_THREAD,
                                                      subject, NULL, NULL, &error);
  if (ctl->agent_handle == NULL)
    g_debug ("Cannot register a polkit text agent: %s", error->message);
}

GDBusCallFlags
ntsctl_call_flags (Ntsctl *ctl)
{
  /* Without the flag the service must not let polkit ask for a password
   * and fails with InteractiveAuthorizationRequired instead. */
  return ctl->no_ask_password ? G_DBUS_CALL_FLAGS_NONE
                              : G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION;
}

void
ntsctl_store_result (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static gboolean
on_sigint (gpointer user_data)
{
  Ntsctl *ctl = user_data;

  ntsctl_progress_clear (ctl);
  if (saved_tty_valid)
    {
      struct termios now;

      /* Echo off means we interrupted the agent's password prompt: end
       * its line before ours, and give the user their echo back. */
      if (tcgetattr (STDIN_FILENO, &now) == 0 &&
          (now.c_lflag & ECHO) != (saved_tty.c_lflag & ECHO))
        g_printerr ("\n");
      tcsetattr (STDIN_FILENO, TCSANOW, &saved_tty);
    }

  /* Closing our connection does not stop the service: a transaction once
   * started is finished or undone there, and LastResult records which. */
  if (ctl->mutating)
    g_printerr ("ntsctl: interrupted; a change the service already started goes on "
                "without us: 'ntsctl status' shows how it ended\n");
  else
    g_printerr ("ntsctl: interrupted\n");

  exit (NTSCTL_EXIT_INTERRUPTED);
  return G_SOURCE_REMOVE;
}

void
ntsctl_await (Ntsctl        *ctl,
              GAsyncResult **result)
{
  guint sigint_id;

  /* A main loop rather than a _sync call: Progress signals are delivered
   * in this thread's main context while we wait. */
  sigint_id = g_unix_signal_add (SIGINT, on_sigint, ctl);
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (sigint_id);
}

void
ntsctl_disconnect (Ntsctl *ctl)
{
  if (ctl->agent_handle != NULL)
    polkit_agent_listener_unregister (g_steal_pointer (&ctl->agent_handle));
  g_clear_object (&ctl->manager);
  g_clear_object (&ctl->bus);
}

/* ---- progress --------------------------------------------------------- */

static void
on_signal (GDBusProxy *proxy,
           const char *sender_name,
           const char *signal_name,
           GVariant   *parameters,
           gpointer    user_data)
{
  Ntsctl *ctl = user_data;
  g_autofree char *owner = NULL;
  g_autofree char *line = NULL;
  g_autofree char *count_text = NULL;
  const char *step;
  guint32 index, count;
  int len;

  if (!g_str_equal (signal_name, "Progress") ||
      !g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(suu)")))
    return;

  /* The bus routes a broadcast to us only from the name's owner, but any
   * peer may send a signal addressed to us: only the unique name that
   * owns org.ntssetup.Manager speaks for the service. The proxy learns
   * the owner from NameOwnerChanged, which the bus sends before it
   * routes our call to a service it had to start. */
  owner = g_dbus_proxy_get_name_owner (proxy);
  if (owner == NULL || g_strcmp0 (sender_name, owner) != 0)
    {
      g_debug ("Progress from %s ignored: the service is %s",
               sender_name, owner != NULL ? owner : "not running");
      return;
    }

  g_variant_get (parameters, "(&suu)", &step, &index, &count);
  if (index < 1 || index > count)
    return;

  /* "[ 6/15] keys-file": the index as wide as the count, so the
   * line does not jump about. */
  count_text = g_strdup_printf ("%u", count);
  line = g_strdup_printf ("[%*u/%s] %s", (int) strlen (count_text), index, count_text, step);
  len = (int) strlen (line);

  /* Pad with spaces over a longer previous line instead of an erase-line
   * escape: works on any terminal, TERM=dumb included. */
  g_printerr ("\r%-*s", MAX (len, ctl->progress_width), line);
  ctl->progress_width = MAX (len, ctl->progress_width);
  ctl->progress_shown = TRUE;
}

void
ntsctl_progress_connect (Ntsctl *ctl)
{
  /* On stderr, so that stdout stays what a script parses; on a terminal
   * only, because a rewritten line is noise in a log file. */
  if (ctl->json || !isatty (STDERR_FILENO))
    return;
  g_signal_connect (ctl->manager, "g-signal", G_CALLBACK (on_signal), ctl);
}

void
ntsctl_progress_clear (Ntsctl *ctl)
{
  if (!ctl->progress_shown)
    return;
  g_printerr ("\r%*s\r", ctl->progress_width, "");
  ctl->progress_shown = FALSE;
}

/* ---- errors and exit codes -------------------------------------------- */

static int
exit_code_for_error (const GError *error,
                     const char   *remote_name)
{
  if (g_error_matches (error, NTS_ERROR, NTS_ERROR_BUSY))
    return NTSCTL_EXIT_BUSY;

  /* From the service (this user has too many calls in flight) or from
   * dbus-daemon (this connection has): either way, later may work. */
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED))
    return NTSCTL_EXIT_LIMITS_EXCEEDED;

  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) ||
      g_error_matches (error, NTS_ERROR, NTS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
    return NTSCTL_EXIT_NOT_AUTHORISED;

  if (error->domain == G_DBUS_ERROR)
    {
      switch ((GDBusError) error->code)
        {
        case G_DBUS_ERROR_SERVICE_UNKNOWN:
        case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
        case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
        case G_DBUS_ERROR_SPAWN_FORK_FAILED:
        case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
        case G_DBUS_ERROR_SPAWN_CHILD_SIGNALED:
        case G_DBUS_ERROR_SPAWN_FAILED:
        case G_DBUS_ERROR_SPAWN_SETUP_FAILED:
        case G_DBUS_ERROR_SPAWN_CONFIG_INVALID:
        case G_DBUS_ERROR_SPAWN_SERVICE_INVALID:
        case G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND:
        case G_DBUS_ERROR_SPAWN_PERMISSIONS_INVALID:
        case G_DBUS_ERROR_SPAWN_FILE_INVALID:
        case G_DBUS_ERROR_SPAWN_NO_MEMORY:
          return NTSCTL_EXIT_UNAVAILABLE;
        default:
          break;
        }
    }

  /* dbus-daemon passes on systemd's reason when activating the service's
   * unit fails (org.freedesktop.systemd1.NoSuchUnit, .UnitMasked, ...);
   * the service itself never replies with systemd's errors. */
  if (remote_name != NULL && g_str_has_prefix (remote_name, "org.freedesktop.systemd1."))
    return NTSCTL_EXIT_UNAVAILABLE;

  return NTSCTL_EXIT_FAILURE;
}

static void
print_hint (Ntsctl       *ctl,
            const GError *error,
            int           code)
{
  if (g_error_matches (error, NTS_ERROR, NTS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
    {
      if (ctl->no_ask_password)
        g_printerr ("Authentication is required: run without --no-ask-password, or as root.\n");
      else
        g_printerr ("Authentication is required and there is no terminal to ask on: "
                    "run ntsctl from a terminal, or as root.\n");
    }
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) &&
           !ctl->no_ask_password && ctl->agent_handle == NULL &&
           !isatty (STDIN_FILENO) && geteuid () != 0)
    {
      /* polkit denies when it would ask but no agent can: say so rather
       * than let a missing terminal look like a missing permission. */
      g_printerr ("If a password would be accepted, run ntsctl from a terminal "
                  "so that it can ask for one, or run it as root.\n");
    }
  else if (g_error_matches (error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED))
    {
      g_printerr ("Nothing was changed. A server passes when it answers NTS key exchange on "
                  "TCP 4460 and NTP on UDP 123;\nchoose others with --server, or need fewer "
                  "with --min-sources.\n");
    }
  else if (g_error_matches (error, NTS_ERROR, NTS_ERROR_CHRONY_MISSING))
    {
      g_printerr ("'ntsctl apply --install' installs chrony through PackageKit.\n");
    }
  else if (code == NTSCTL_EXIT_UNAVAILABLE)
    {
      g_printerr ("Is ntssetupd installed? It is started on demand through D-Bus activation.\n");
    }
}

/* The service's message, split where it lists things: one line per
 * server of PreflightFailed (the service puts them on lines of their
 * own) and one per clause of ApplyFailed ("step X failed: CAUSE; every
 * step done was undone"), the continuation lines indented. */
static void
print_message (const GError *error)
{
  g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);
  gboolean first = TRUE;

  for (gsize i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) clauses = NULL;

      if (g_error_matches (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED))
        clauses = g_strsplit (lines[i], "; ", -1);
      else
        clauses = g_strdupv ((char *[]) { lines[i], NULL });

      for (gsize j = 0; clauses[j] != NULL; j++)
        {
          if (*clauses[j] == '\0')
            continue;
          g_printerr ("%s%s\n", first ? "ntsctl: " : "  ", clauses[j]);
          first = FALSE;
        }
    }
  if (first)
    g_printerr ("ntsctl: failed\n");
}

int
ntsctl_report_error (Ntsctl *ctl,
                     GError *error)
{
  g_autofree char *remote_name = NULL;
  int code;

  ntsctl_progress_clear (ctl);

  /* Before the bus connection exists, every error is about reaching the
   * bus: no system bus means no service. */
  if (ctl->bus == NULL)
    {
      g_printerr ("ntsctl: cannot connect to the system bus: %s\n", error->message);
      return NTSCTL_EXIT_UNAVAILABLE;
    }

  remote_name = g_dbus_error_get_remote_error (error);
  code = exit_code_for_error (error, remote_name);

  /* The D-Bus error name is for programs (and --json users see the exit
   * code); a person reads the message. */
  g_dbus_error_strip_remote_error (error);
  print_message (error);
  print_hint (ctl, error, code);

  return code;
}

/* ---- output ----------------------------------------------------------- */

void
ntsctl_print_json (GVariant *value)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autofree char *text = NULL;

  /* a{sv} becomes an object with the variants unwrapped; 'y' and 't'
   * become numbers, which is what a script wants. */
  node = json_gvariant_serialize (value);
  generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
}

void
ntsctl_print_result (Ntsctl *ctl, GVariant *value, void (*print_text) (GVariant *value))
{
  if (ctl->json)
    ntsctl_print_json (value);
  else
    print_text (value);
}

void
ntsctl_print_list (const char *title,
                   GVariant   *dict,
                   const char *key)
{
  g_autofree const char **items = NULL;

  if (!g_variant_lookup (dict, key, "^a&s", &items) || items[0] == NULL)
    return;

  printf ("%s:\n", title);
  for (gsize i = 0; items[i] != NULL; i++)
    printf ("  %s\n", items[i]);
}

char *
ntsctl_format_time_usec (guint64 usec)
{
  g_autoptr(GDateTime) time = NULL;

  time = g_date_time_new_from_unix_local ((gint64) (usec / G_USEC_PER_SEC));
  if (time == NULL)
    return g_strdup ("?");
  return g_date_time_format (time, "%Y-%m-%d %H:%M:%S");
}

char *
ntsctl_format_duration_ms (guint64 ms)
{
  if (ms < 1000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " ms", ms);
  return g_strdup_printf ("%.1f s", (double) ms / 1000.0);
}
