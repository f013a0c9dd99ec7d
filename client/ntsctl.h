/* ntsctl — internal interface between the dispatcher (ntsctl.c) and the
 * one-file-per-command implementations (ntsctl-*.c).
 *
 * ntsctl is a thin client: each command parses its options, makes one
 * D-Bus call to ntssetupd and formats the reply. Anything that decides
 * (defaults, range checks, diagnosis) lives in the service, so that
 * ntsctl, a settings panel and a busctl script always agree. */
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

/* Commands: parse argv (argv[0] is the command name) and return the exit
 * status. */
typedef int (*NtsctlCommandFunc) (Ntsctl *ctl, int argc, char **argv);

int ntsctl_cmd_status    (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_preview   (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_apply     (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_verify    (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_rollback  (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_snapshots (Ntsctl *ctl, int argc, char **argv);

/* Option parsing. Each command's own entries are parsed together with the
 * global ones, so `ntsctl verify --json` works as well as
 * `ntsctl --json verify`. */
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

/* Errors and exit codes: prints "ntsctl: MESSAGE" (plus a hint where one
 * helps) on stderr and returns the exit status for @error. */
int ntsctl_report_error (Ntsctl *ctl,
                         GError *error);

/* apply and rollback (ntsctl-change.c). */

/* The D-Bus timeout of ApplyHardenedConfig and Rollback: an hour, longer
 * than the sum of the service's own bounds (PackageKit 15 min, each systemd
 * job 90 s, wait-sync at most 10 min, and the undo of all of it), so that
 * running out means the service is stuck. */
#define NTSCTL_CHANGE_TIMEOUT_MS (60 * 60 * 1000)

/* Progress line ("[ 3/15] preflight") on stderr when it is a terminal and
 * not --json; no-op elsewhere. Connect before the call. */
void ntsctl_progress_connect (Ntsctl *ctl);
void ntsctl_progress_clear   (Ntsctl *ctl);
/* The call failed: reports @error like ntsctl_report_error, except when
 * no reply came (timeout, service gone): then LastResult says how @method
 * ended, if it ended after @started (g_get_real_time at the call). */
int  ntsctl_change_failed    (Ntsctl     *ctl,
                              const char *method,
                              gint64      started,
                              GError     *error);
/* The files under @files_key, unit and package changes of a result. */
void ntsctl_print_changes    (GVariant   *result,
                              const char *files_key,
                              const char *files_title);
/* "Snapshot: ID" and "Undo with: ntsctl rollback ID" (nothing for ""). */
void ntsctl_print_undo       (const char *snapshot_id);

/* Output helpers. */
void ntsctl_print_json (GVariant *value);
void ntsctl_print_list (const char *title,
                        GVariant   *dict,
                        const char *key);
char *ntsctl_format_time_usec (guint64 usec);
char *ntsctl_format_duration_ms (guint64 ms);

/* Shared by verify and apply: the one-line verdict of a Verify report. */
char *ntsctl_report_summary (GVariant *report);
/* The report's problems ("code: message" and the hint), if any. */
void  ntsctl_print_problems (GVariant *report);

G_END_DECLS
