/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A private system bus with stand-ins and a real ntssetupd on it.
 *
 * Real: dbus-daemon (with ntssetup's installed bus policy), ntssetupd, the
 * D-Bus traffic. Stand-ins (python3-dbusmock local templates in
 * tests/templates/): polkitd, which cannot run without a real system bus
 * and logind session, and systemd, which cannot be PID 1 here. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  const char *polkit_params;   /* JSON for the polkit template; NULL = no polkit at all */
  const char *systemd_params;  /* JSON for the systemd template; NULL = no systemd */
  const char *fault;           /* ntssetupd --fault, or NULL */
  guint       idle_timeout;    /* ntssetupd --idle-timeout; 0 = never */
  const char *profile;         /* "debian" (default) or "arch": how the root is seeded */
} ServiceOptions;

typedef struct {
  char            *tmpdir;
  char            *root;         /* ntssetupd --root */
  char            *bus_address;
  GSubprocess     *bus;
  GSubprocess     *polkit;
  GSubprocess     *systemd;
  GSubprocess     *daemon;
  GDBusConnection *client;
  ServiceOptions   options;
} ServiceFixture;

void service_fixture_setup    (ServiceFixture *fx, const ServiceOptions *options);
void service_fixture_teardown (ServiceFixture *fx);

/* Starts ntssetupd and waits (bounded) until it owns its name. */
void service_fixture_start_daemon (ServiceFixture *fx);

/* Waits, bounded, for @process to exit; returns its exit status or -1 on
 * timeout. */
int  fixture_wait_exit (GSubprocess *process, guint timeout_ms);

/* Runs the default main context until *@flag is TRUE or @timeout_ms pass. */
gboolean fixture_wait_flag (gboolean *flag, guint timeout_ms);

/* A method call on ntssetupd from fx->client. */
GVariant *fixture_call (ServiceFixture *fx, const char *method, GVariant *params,
                        GDBusCallFlags flags, GError **error);

/* A call to a stand-in's control interface; asserts it succeeds. */
GVariant *fixture_polkit (ServiceFixture *fx, const char *method, GVariant *params);

/* A new connection to the private bus (a second caller). */
GDBusConnection *fixture_connect (ServiceFixture *fx);

/* Every file under the root with its content, mode and owner, as text: a
 * test compares it before and after to prove nothing was written. */
char *fixture_tree_fingerprint (ServiceFixture *fx);
/* The same for any directory (never following links). */
char *fixture_dir_fingerprint  (const char *dir);

/* One more stand-in on the fixture's bus, e.g. ("packagekit.py", JSON,
 * "org.freedesktop.PackageKit"); returns when it owns @bus_name. Stop it
 * with fixture_stop_process() before service_fixture_teardown(). */
GSubprocess *fixture_start_stand_in (ServiceFixture *fx, const char *template,
                                     const char *params, const char *bus_name);
void         fixture_stop_process   (GSubprocess **process);

/* A call to any stand-in's control interface; asserts it succeeds. */
GVariant *fixture_control (ServiceFixture *fx, const char *bus_name, const char *path,
                           const char *interface, const char *method, GVariant *params);

/* The systemd stand-in (tests/templates/systemd.py): a string property
 * of @unit as it has it now; "chrony ACTIVE/ENABLED timesyncd
 * ACTIVE/ENABLED" for @chrony_unit and systemd-timesyncd.service; the
 * state-changing Manager calls it got, in order, e.g.
 * "Reload,StopUnit(systemd-timesyncd.service)". */
char *fixture_systemd_unit_prop      (ServiceFixture *fx, const char *unit, const char *prop);
char *fixture_systemd_units_summary  (ServiceFixture *fx, const char *chrony_unit);
char *fixture_systemd_changing_calls (ServiceFixture *fx);

/* fixture_tree_fingerprint() without @dir (relative to the root, e.g.
 * "var/lib/ntssetup") and what is below it. */
char *fixture_tree_fingerprint_without (ServiceFixture *fx, const char *dir);

/* Writes @content to the root's @path with @mode, making directories. */
void fixture_write_root_file (ServiceFixture *fx, const char *path, const char *content, int mode);

/* Runs @argv with fixture_environ(), waiting for it to exit (it must);
 * exit status, output (stdout and stderr) in @out. */
int  fixture_run        (ServiceFixture *fx, char **out, const char *const *argv);
/* The same for $NTSCTL with @args. */
int  fixture_run_ntsctl (ServiceFixture *fx, char **out, const char *const *args);

/* ntssetupd's property @name, read now. */
GVariant *fixture_get_property (ServiceFixture *fx, const char *name);

/* The State values PropertiesChanged reports, in @states (char*), and
 * @seen once one equals @want. */
typedef struct {
  const char *want;
  gboolean    seen;
  GPtrArray  *states;
} FixtureStateWatch;

/* Subscribes @watch on fx->client; returns the subscription id. */
guint fixture_watch_state (ServiceFixture *fx, FixtureStateWatch *watch);

/* Environment for child processes pointing at the private bus. */
char **fixture_environ (ServiceFixture *fx);

G_END_DECLS
