/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl — what every command shares: option parsing, connecting to the
 * service, the polkit text agent, waiting for a reply, the progress line,
 * the mapping of errors to messages and exit codes, and output.
 *
 * ntsctl is a thin client: each command parses its options, makes one
 * D-Bus call to ntssetupd and formats the reply. Anything that decides
 * (defaults, range checks, diagnosis) lives in the service, so that
 * ntsctl, a settings panel and a busctl script always agree.
 *
 * The dispatcher (ntsctl.c) calls the commands (ntsctl-commands.h); the
 * commands call this and the helpers some of them share (ntsctl-change.h,
 * ntsctl-report.h); this calls none of them. */
#pragma once

#include <gio/gio.h>

#include "nts-manager-generated.h"
#include "nts-names.h"

G_BEGIN_DECLS

/* Documented in docs/ntsctl.md; scripts depend on these numbers. */
typedef enum {
  NTSCTL_EXIT_OK = 0,
  NTSCTL_EXIT_FAILURE = 1,
  NTSCTL_EXIT_USAGE = 2,
  NTSCTL_EXIT_NTS_NOT_WORKING = 3,
  NTSCTL_EXIT_NOT_AUTHORISED = 4,
  NTSCTL_EXIT_BUSY = 5,
  NTSCTL_EXIT_UNAVAILABLE = 6,
  NTSCTL_EXIT_LIMITS_EXCEEDED = 7,
  NTSCTL_EXIT_INTERRUPTED = 130,
} NtsctlExit;

typedef struct _Ntsctl Ntsctl;

struct _Ntsctl {
  /* global options */
  gboolean json;
  gboolean no_ask_password;

  const char *command;         /* the command name, for messages */

  GDBusConnection *bus;
  NtsManager1 *manager;

  /* the polkit text agent, when one was registered */
  gpointer agent_handle;

  /* a mutating call is in flight: SIGINT explains where to look */
  gboolean mutating;
  /* the progress line is on screen (stderr) and must be erased before
   * output; its widest text so far, to pad over */
  gboolean progress_shown;
  int progress_width;
};

/* Option parsing. Each command's own entries are parsed together with the
 * global ones, so `ntsctl verify --json` works as well as
 * `ntsctl --json verify`. */
void     ntsctl_add_global_options (GOptionContext *context,
                                    Ntsctl         *ctl);
gboolean ntsctl_parse_options (Ntsctl             *ctl,
                               const GOptionEntry *entries,
                               const char         *parameter_string,
                               const char         *summary,
                               int                *argc,
                               char             ***argv,
                               GError            **error);
int      ntsctl_usage_error   (Ntsctl       *ctl,
                               const GError *error);
int      ntsctl_usage_message (Ntsctl     *ctl,
                               const char *message);

/* Adds @key as a D-Bus 'u' parsed from @text. Only the syntax is checked
 * here (a decimal number that fits 32 bits); whether the value makes
 * sense is the service's call. */
gboolean ntsctl_options_add_uint32 (GVariantDict *options,
                                    const char   *key,
                                    const char   *option_name,
                                    const char   *text,
                                    GError      **error);
/* Adds 'servers' (as) when the user gave at least one --server. */
void     ntsctl_options_add_servers (GVariantDict *options,
                                     char        **servers);

/* --server and --min-sources, for the commands that render the
 * configuration (apply, and preview, which shows what apply would write):
 * the same options in the same words. @servers is a char ***, @min_sources
 * a char **. */
/* clang-format off */
#define NTSCTL_SERVER_LIST_ENTRIES(servers, min_sources)                     \
  { "server", 0, 0, G_OPTION_ARG_STRING_ARRAY, (servers),                    \
    "NTS server to use (repeat for each; default: the service's list)",      \
    "NAME" },                                                                \
  { "min-sources", 0, 0, G_OPTION_ARG_STRING, (min_sources),                 \
    "Authenticated sources that must agree (default: 3)", "N" }
/* clang-format on */
/* Adds what NTSCTL_SERVER_LIST_ENTRIES parsed, only what the user gave:
 * the defaults are the service's. */
gboolean ntsctl_options_add_server_list (GVariantDict *options, char **servers,
                                         const char *min_sources, GError **error);

/* Connecting and calling. Set ctl->mutating before connecting for the
 * calls that emit Progress: only then does the proxy subscribe to it. */
gboolean       ntsctl_connect    (Ntsctl  *ctl,
                                  GError **error);
void           ntsctl_agent_start (Ntsctl *ctl);
GDBusCallFlags ntsctl_call_flags (Ntsctl *ctl);
/* The async-ready callback for ntsctl_await: stores a ref of the result. */
void           ntsctl_store_result (GObject      *source,
                                    GAsyncResult *result,
                                    gpointer      user_data);
/* Runs the main loop (progress signals, SIGINT) until *result is set. */
void           ntsctl_await      (Ntsctl        *ctl,
                                  GAsyncResult **result);
/* Unregisters the agent and drops the connection, once the command ran. */
void           ntsctl_disconnect (Ntsctl *ctl);

/* Progress line ("[ 3/15] preflight") on stderr when it is a terminal and
 * not --json; no-op elsewhere. Connect before the call. Every message
 * (errors, SIGINT) erases it first, which is why it lives here. */
void ntsctl_progress_connect (Ntsctl *ctl);
void ntsctl_progress_clear   (Ntsctl *ctl);

/* Errors and exit codes: prints "ntsctl: MESSAGE" (plus a hint where one
 * helps) on stderr and returns the exit status for @error. */
int ntsctl_report_error (Ntsctl *ctl,
                         GError *error);

/* Output helpers. */
void ntsctl_print_json (GVariant *value);
/* A command's answer: @value as JSON with --json, else as @print_text
 * writes it for people. */
void ntsctl_print_result (Ntsctl *ctl, GVariant *value, void (*print_text) (GVariant *value));
void ntsctl_print_list (const char *title,
                        GVariant   *dict,
                        const char *key);
char *ntsctl_format_time_usec (guint64 usec);
char *ntsctl_format_duration_ms (guint64 ms);

G_END_DECLS
