/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ApplyHardenedConfig and Rollback at the service level: ntssetupd on a
 * private bus with the polkit and systemd stand-ins, its --root seeded
 * like Debian or Arch with chrony present, called over D-Bus and through
 * ntsctl.
 *
 * The commit check runs Verify for real: it needs chronyd's unit active
 * (the systemd stand-in says so once it restarted it) and chronyd's
 * command socket answering. A real chronyd (tests/nts-loopback.h; -x, no
 * sources, never near the clock) answers on the root's
 * /run/chrony/chronyd.sock, where the layout puts it; Apply runs with
 * wait-sync 0, so the check is the health check alone.
 *
 * chronyd's users (_chrony on Debian, chrony on Arch) are resolved through
 * NSS like on a real system. Where the host lacks them, the test adds them
 * to copies of /etc/passwd and /etc/group bind-mounted over the real ones
 * in a mount namespace of its own (root only; the host is left as it
 * was). The same namespace holds the read-only bind mount and the small
 * tmpfs of the tests that need them. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "nts-loopback.h"
#include "package-changes.h"
#include "safe-fs.h"
#include "nts-names.h"
#include "service-fixture.h"
#include "xml-steps.h"
#include "snapshot-store.h"

#define WAIT_MS 30000
#define SYSTEMD_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_CONTROL "org.ntssetup.Test.Systemd"
#define STATE_DIR "var/lib/ntssetup"
#define ERR(name) NTS_DBUS_INTERFACE ".Error." name

/* ---- the two distributions ------------------------------------------ */

typedef struct {
  const char *name;           /* ServiceOptions.profile */
  const char *systemd_json;   /* the units as the stand-in starts with them */
  const char *chrony_unit;
  const char *chronyd;        /* where the profile looks for it */
  const char *config_file;
  const char *keys_file;
  const char *ntp_units;      /* the list Apply writes; NULL where a packaged one suffices */
} Profile;

/* chrony installed but off, timesyncd keeping the time: what Apply is for. */
static const Profile debian = {
  .name = "debian",
  .systemd_json = "{\"units\": {"
                  "\"chrony.service\": {\"Names\": [\"chronyd.service\"], \"UnitFileState\": \"disabled\"},"
                  "\"systemd-timesyncd.service\": {\"ActiveState\": \"active\", \"UnitFileState\": \"enabled\"}"
                  "}}",
  .chrony_unit = "chrony.service",
  .chronyd = "/usr/sbin/chronyd",
  .config_file = "/etc/chrony/chrony.conf",
  .keys_file = "/etc/chrony/chrony.keys",
  .ntp_units = NULL,
};

static const Profile arch = {
  .name = "arch",
  .systemd_json = "{\"units\": {"
                  "\"chronyd.service\": {\"UnitFileState\": \"disabled\"},"
                  "\"systemd-timesyncd.service\": {\"ActiveState\": \"active\", \"UnitFileState\": \"enabled\"}"
                  "}}",
  .chrony_unit = "chronyd.service",
  .chronyd = "/usr/bin/chronyd",
  .config_file = "/etc/chrony.conf",
  .keys_file = "/etc/chrony.keys",
  .ntp_units = "/etc/systemd/ntp-units.d/50-ntssetup.list",
};

/* What a test case gets: the distribution, and the step it is about. */
typedef struct {
  const Profile *profile;
  const char    *step;
  guint          kind;   /* the fault tests' column of the table */
  gboolean       after;  /* the fault fires after the step's work */
} Case;

/* The steps the fault hook can stop, as the XML documents them
 * (xml-steps.h): Apply's, and a Rollback's (and its recovery's). */
static GStrv apply_fault_steps;
static GStrv restore_fault_steps;

/* ---- process-wide setup ---------------------------------------------- */

/* One set of CA files for every case; each case runs its own chronyd. */
static NtsLoopback *lb;
static char *skip_reason;
static gboolean private_mounts;
static guint chronyd_counter;
/* A good server on PREFLIGHT_SERVER:4460, where Apply's preflight (its
 * servers take no port) reaches it; test-transaction keeps 127.0.0.7. */
#define PREFLIGHT_SERVER "127.0.0.8"
static gboolean preflight_server;
static GPtrArray *cases;     /* Case*, for as long as the tests run */

typedef struct {
  ServiceFixture     fx;
  const Profile     *profile;
  NtsLoopbackClient *chronyd;
  char              *outside;  /* beside the root: where planted links point */
  GPtrArray         *mounts;   /* host paths mounted by the case, unmounted at teardown */
} Fixture;

static char *
host_path (Fixture *f, const char *path)
{
  return g_build_filename (f->fx.root, path, NULL);
}

static void
setup (Fixture *f, gconstpointer data)
{
  const Profile *profile = ((const Case *) data)->profile;
  ServiceOptions options = {
    .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\", "
                     "\"" NTS_ACTION_APPLY "\", \"" NTS_ACTION_ROLLBACK "\"]}",
    .systemd_params = profile->systemd_json,
    .profile = profile->name,
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("c%u", chronyd_counter++);
  g_autofree char *sock = NULL;
  NtsLoopbackClientSpec spec = { .name = name, .minsources = 1 };

  memset (f, 0, sizeof *f);
  if (skip_reason)
    {
      g_test_skip (skip_reason);
      return;
    }
  f->profile = profile;
  f->mounts = g_ptr_array_new_with_free_func (g_free);
  service_fixture_setup (&f->fx, &options);

  /* What every installed system has, so that only what Apply makes is new. */
  for (const char *const *dir = (const char *[]) { "var/lib", "var/log", "run", "etc/systemd/system", NULL };
       *dir; dir++)
    {
      g_autofree char *full = host_path (f, *dir);
      g_assert_cmpint (g_mkdir_with_parents (full, 0755), ==, 0);
    }
  /* The Arch seed has no chronyd: one that answers -h like Arch's. */
  if (profile == &arch)
    fixture_write_root_file (&f->fx, "usr/bin/chronyd",
                             "#!/bin/sh\n"
                             "echo 'Usage: /usr/bin/chronyd [OPTION]... [DIRECTIVE]...'\n"
                             "printf '  -f FILE\\tSpecify configuration file (/etc/chrony.conf)\\n'\n"
                             "printf '  -u USER\\tSpecify user (chrony)\\n'\n",
                             0755);

  f->outside = g_build_filename (f->fx.tmpdir, "outside", NULL);
  g_assert_cmpint (g_mkdir (f->outside, 0755), ==, 0);

  sock = host_path (f, "run/chrony/chronyd.sock");
  spec.socket_path = sock;
  f->chronyd = nts_loopback_add_client (lb, &spec, &error);
  g_assert_no_error (error);
}

static void stop_daemon (Fixture *f);

static void
teardown (Fixture *f, gconstpointer data)
{
  if (f->profile == NULL)
    return;
  /* A clean exit, also under LeakSanitizer, which makes it fail on a leak. */
  if (f->fx.daemon)
    stop_daemon (f);
  /* Before the tree is removed: nothing may be left mounted in it. */
  for (guint i = f->mounts->len; i > 0; i--)
    g_assert_cmpint (umount2 (f->mounts->pdata[i - 1], MNT_DETACH), ==, 0);
  g_ptr_array_unref (f->mounts);
  if (f->chronyd)
    nts_loopback_client_stop (f->chronyd);
  service_fixture_teardown (&f->fx);
  g_free (f->outside);
}

/* ---- talking to the daemon and the stand-in --------------------------- */

static void
start_daemon (Fixture *f, const char *fault)
{
  f->fx.options.fault = fault;
  service_fixture_start_daemon (&f->fx);
}

static void
stop_daemon (Fixture *f)
{
  g_subprocess_send_signal (f->fx.daemon, SIGTERM);
  g_assert_cmpint (fixture_wait_exit (f->fx.daemon, WAIT_MS), ==, 0);
  g_clear_object (&f->fx.daemon);
}

static void
assert_remote_error (const GError *error, const char *name)
{
  g_autofree char *got = NULL;

  g_assert_nonnull (error);
  got = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (got, ==, name);
}

static GVariant *
apply_options (void)
{
  GVariantDict options;
  const char *servers[] = { "time.cloudflare.com", "nts.netnod.se", NULL };

  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert_value (&options, "servers", g_variant_new_strv (servers, -1));
  g_variant_dict_insert (&options, "min-sources", "u", 2);
  /* Preflight would need the servers; the health check does not. */
  g_variant_dict_insert (&options, "preflight", "b", FALSE);
  g_variant_dict_insert (&options, "wait-sync", "u", 0);
  return g_variant_new ("(@a{sv})", g_variant_dict_end (&options));
}

/* ApplyHardenedConfig's result dictionary, or NULL with @error. */
static GVariant *
apply (Fixture *f, GError **error)
{
  g_autoptr(GVariant) reply = fixture_call (&f->fx, "ApplyHardenedConfig", apply_options (),
                                            G_DBUS_CALL_FLAGS_NONE, error);
  GVariant *result = NULL;

  if (reply)
    g_variant_get (reply, "(@a{sv})", &result);
  return result;
}

static GVariant *
rollback (Fixture *f, const char *id, gboolean force, GError **error)
{
  GVariantDict options;
  g_autoptr(GVariant) reply = NULL;
  GVariant *result = NULL;

  g_variant_dict_init (&options, NULL);
  if (force)
    g_variant_dict_insert (&options, "force", "b", TRUE);
  reply = fixture_call (&f->fx, "Rollback",
                        g_variant_new ("(s@a{sv})", id, g_variant_dict_end (&options)),
                        G_DBUS_CALL_FLAGS_NONE, error);
  if (reply)
    g_variant_get (reply, "(@a{sv})", &result);
  return result;
}

static char *
result_snapshot_id (GVariant *result)
{
  char *id = NULL;

  g_assert_true (g_variant_lookup (result, "snapshot-id", "s", &id));
  g_assert_cmpstr (id, !=, "");
  return id;
}

static GVariant *
get_property (Fixture *f, const char *name)
{
  return fixture_get_property (&f->fx, name);
}

static char *
get_state (Fixture *f)
{
  g_autoptr(GVariant) state = get_property (f, "State");
  return g_variant_dup_string (state, NULL);
}

/* A LastResult string key. */
static char *
last_result (Fixture *f, const char *key)
{
  g_autoptr(GVariant) result = get_property (f, "LastResult");
  char *value = NULL;

  g_assert_true (g_variant_lookup (result, key, "s", &value));
  return value;
}

static GVariant *
list_snapshots (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = fixture_call (&f->fx, "ListSnapshots", NULL,
                                            G_DBUS_CALL_FLAGS_NONE, &error);

  g_assert_no_error (error);
  return g_variant_get_child_value (reply, 0);
}

/* The ids ListSnapshots gives, in its order, joined by spaces. */
static char *
snapshot_ids (Fixture *f)
{
  g_autoptr(GVariant) list = list_snapshots (f);
  g_autoptr(GString) ids = g_string_new (NULL);
  GVariantIter iter;
  const char *id;

  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&st@a{sv})", &id, NULL, NULL))
    g_string_append_printf (ids, "%s%s", ids->len ? " " : "", id);
  return g_string_free (g_steal_pointer (&ids), FALSE);
}

/* State values as PropertiesChanged reports them, for one stretch. */
typedef struct {
  FixtureStateWatch w;
  guint             subscription;
} StateWatch;

static void
watch_state (Fixture *f, StateWatch *watch)
{
  watch->w.states = g_ptr_array_new_with_free_func (g_free);
  watch->w.want = NULL;
  watch->w.seen = FALSE;
  watch->subscription = fixture_watch_state (&f->fx, &watch->w);
  /* A round trip after the match rule: the bus has it before anything
   * the test does next makes the daemon emit. */
  g_free (get_state (f));
}

/* The states seen until @last, joined by spaces; ends the watch. The
 * daemon sends PropertiesChanged from an idle callback, which may come
 * after the reply to the call that changed the state: wait for it. */
static char *
unwatch_state (Fixture *f, StateWatch *watch, const char *last)
{
  GPtrArray *states = watch->w.states;
  char *seen;

  watch->w.want = last;
  watch->w.seen = states->len > 0 && g_str_equal (states->pdata[states->len - 1], last);
  g_assert_true (fixture_wait_flag (&watch->w.seen, WAIT_MS));
  g_dbus_connection_signal_unsubscribe (f->fx.client, watch->subscription);
  g_ptr_array_add (states, NULL);
  seen = g_strjoinv (" ", (char **) states->pdata);
  g_ptr_array_unref (states);
  return seen;
}

static char *
units_summary (Fixture *f)
{
  return fixture_systemd_units_summary (&f->fx, f->profile->chrony_unit);
}

static void
clear_calls (Fixture *f)
{
  g_autoptr(GVariant) reply = fixture_control (&f->fx, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_CONTROL,
                                               "ClearManagerCalls", NULL);
}

/* The managed system: every file under the root with content, owner and
 * mode, except ntssetup's own state directory (checked on its own). */
static char *
fingerprint (Fixture *f)
{
  return fixture_tree_fingerprint_without (&f->fx, STATE_DIR);
}

static gboolean
root_has (Fixture *f, const char *path)
{
  g_autofree char *full = host_path (f, path);
  struct stat st;

  return lstat (full, &st) == 0;
}

/* Removes @dead_pid's Verify client socket from the fingerprint @tree:
 * a daemon killed while its commit check's client was open leaves it in
 * chronyd's run directory, and nothing removes it (systemd does, with the
 * directory, where chronyd's unit has RuntimeDirectory=, as Debian's has;
 * the stand-in does not). Returns whether there was one. */
static gboolean
drop_stale_socket (char *tree, GPid dead_pid)
{
  g_autofree char *prefix = g_strdup_printf ("run/chrony/ntssetupd.%d.", (int) dead_pid);
  char *line = strstr (tree, prefix);
  char *end;

  if (dead_pid == 0 || line == NULL || (line != tree && line[-1] != '\n'))
    return FALSE;
  end = strchr (line, '\n');
  g_assert_nonnull (end);
  memmove (line, end + 1, strlen (end + 1) + 1);
  return TRUE;
}

/* The machine as before: files, units, no journal, nothing applied. A
 * stale socket of @dead_pid (0: none) is tolerated; returns whether there
 * was one. */
static gboolean
assert_as_before (Fixture *f, const char *before, const char *units_before, GPid dead_pid)
{
  g_autofree char *after = fingerprint (f);
  g_autofree char *units_after = units_summary (f);
  gboolean stale = drop_stale_socket (after, dead_pid);

  g_assert_cmpstr (after, ==, before);
  g_assert_cmpstr (units_after, ==, units_before);
  g_assert_false (root_has (f, STATE_DIR "/journal"));
  g_assert_false (root_has (f, STATE_DIR "/applied"));
  return stale;
}

/* ---- Apply, then Rollback ------------------------------------------- */

/* Progress signals as "step index/count". */
static void
on_progress (GDBusConnection *connection, const char *sender, const char *path,
             const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  GPtrArray *seen = user_data;
  const char *step;
  guint index, count;

  g_variant_get (params, "(&suu)", &step, &index, &count);
  g_ptr_array_add (seen, g_strdup_printf ("%s %u/%u", step, index, count));
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  const Profile *profile = f->profile;
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autofree char *applied_tree = NULL;
  g_autofree char *units = NULL;
  g_autofree char *id = NULL;
  g_autofree char *calls = NULL;
  g_autofree char *states = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) progress = g_ptr_array_new_with_free_func (g_free);
  StateWatch watch;
  guint progress_sub;

  if (f->profile == NULL)
    return;
  start_daemon (f, NULL);
  before = fingerprint (f);
  units_before = units_summary (f);
  g_assert_cmpstr (units_before, ==, "chrony inactive/disabled timesyncd active/enabled");
  {
    g_autofree char *state = get_state (f);
    g_autofree char *ids = snapshot_ids (f);
    g_assert_cmpstr (state, ==, "unconfigured");
    g_assert_cmpstr (ids, ==, "");
  }
  watch_state (f, &watch);
  progress_sub = g_dbus_connection_signal_subscribe (f->fx.client, NTS_DBUS_NAME,
                                                     NTS_DBUS_INTERFACE, "Progress",
                                                     "/org/ntssetup/Manager", NULL,
                                                     G_DBUS_SIGNAL_FLAGS_NONE, on_progress,
                                                     progress, NULL);
  result = apply (f, &error);
  g_assert_no_error (error);
  id = result_snapshot_id (result);
  {
    g_autofree const char **changed = NULL;
    g_autofree const char **unit_changes = NULL;
    g_autofree char *joined = NULL;

    g_assert_true (g_variant_lookup (result, "changed-files", "^a&s", &changed));
    g_assert_true (g_strv_contains (changed, profile->config_file));
    g_assert_true (g_strv_contains (changed, profile->keys_file));
    g_assert_true (g_strv_contains (changed, "/var/log/chrony"));
    g_assert_true (!profile->ntp_units || g_strv_contains (changed, profile->ntp_units));
    g_assert_true (g_variant_lookup (result, "unit-changes", "^a&s", &unit_changes));
    joined = g_strjoinv ("; ", (char **) unit_changes);
    g_test_message ("unit-changes: %s", joined);
    g_assert_nonnull (strstr (joined, "systemd-timesyncd.service: stopped, disabled"));
  }
  {
    g_autofree char *state = get_state (f);
    g_autoptr(GVariant) servers = get_property (f, "Servers");
    g_autofree char *ids = snapshot_ids (f);
    g_autofree char *method = last_result (f, "method");
    g_autofree char *last_id = last_result (f, "snapshot-id");
    const char *want[] = { "time.cloudflare.com", "nts.netnod.se", NULL };
    g_autofree const char **got = g_variant_get_strv (servers, NULL);

    g_assert_cmpstr (state, ==, "applied");
    g_assert_true (g_strv_equal (got, want));
    g_assert_cmpstr (ids, ==, id);
    g_assert_cmpstr (method, ==, "ApplyHardenedConfig");
    g_assert_cmpstr (last_id, ==, id);
  }
  /* Every step the XML documents announced once, in order, 1-based. */
  {
    g_autoptr(GPtrArray) want = g_ptr_array_new_with_free_func (g_free);
    const char *const *steps = (const char *const *) apply_fault_steps;
    g_autofree char *want_s = NULL;
    g_autofree char *got_s = NULL;

    /* Sent before the reply, so queued for us already. */
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_dbus_connection_signal_unsubscribe (f->fx.client, progress_sub);
    for (guint i = 0; steps[i]; i++)
      g_ptr_array_add (want, g_strdup_printf ("%s %u/%u", steps[i], i + 1,
                                              g_strv_length ((char **) steps)));
    g_ptr_array_add (want, NULL);
    g_ptr_array_add (progress, NULL);
    want_s = g_strjoinv (", ", (char **) want->pdata);
    got_s = g_strjoinv (", ", (char **) progress->pdata);
    g_assert_cmpstr (got_s, ==, want_s);
  }
  applied_tree = fingerprint (f);
  g_assert_cmpstr (applied_tree, !=, before);
  units = units_summary (f);
  g_assert_cmpstr (units, ==, "chrony active/enabled timesyncd inactive/disabled");
  g_assert_false (root_has (f, STATE_DIR "/journal"));

  clear_calls (f);
  {
    g_autoptr(GVariant) restored = rollback (f, "", FALSE, &error);
    g_autofree char *restored_id = NULL;

    g_assert_no_error (error);
    restored_id = result_snapshot_id (restored);
    g_assert_cmpstr (restored_id, ==, id);
  }
  {
    g_autofree char *after = fingerprint (f);
    g_autofree char *units_after = units_summary (f);
    g_autofree char *state = get_state (f);
    g_autofree char *method = last_result (f, "method");

    g_assert_cmpstr (after, ==, before);
    g_assert_cmpstr (units_after, ==, units_before);
    g_assert_cmpstr (state, ==, "unconfigured");
    g_assert_cmpstr (method, ==, "Rollback");
  }
  /* timesyncd put back by systemd's own calls, after every file. */
  calls = fixture_systemd_changing_calls (&f->fx);
  g_test_message ("Rollback's systemd calls: %s", calls);
  g_assert_nonnull (strstr (calls, "EnableUnitFiles(systemd-timesyncd.service)"));
  g_assert_nonnull (strstr (calls, "StartUnit(systemd-timesyncd.service)"));
  g_assert_true (g_str_has_prefix (calls, "Reload,"));
  g_assert_false (root_has (f, STATE_DIR "/journal"));
  g_assert_false (root_has (f, STATE_DIR "/applied"));

  states = unwatch_state (f, &watch, "unconfigured");
  g_test_message ("State: %s", states);
  g_assert_cmpstr (states, ==, "applying applied rolling-back unconfigured");
  /* The snapshot stays listed: it is the machine before ntssetup. */
  {
    g_autofree char *ids = snapshot_ids (f);
    g_assert_cmpstr (ids, ==, id);
  }
  /* Nothing applied any more: nothing for Rollback("") to do. */
  g_assert_null (rollback (f, "", FALSE, &error));
  assert_remote_error (error, ERR ("NoSuchSnapshot"));
  {
    g_autofree char *after = fingerprint (f);
    g_assert_cmpstr (after, ==, before);
  }
}

/* A free id for both a user and its group, below @below. */
static guint
free_id (guint below)
{
  for (guint id = below - 1; id > 100; id--)
    if (getpwuid (id) == NULL && getgrgid (id) == NULL)
      return id;
  g_error ("no free system user id below %u", below);
}

/* Bind-mounts a copy of @path with @extra appended over it (in our mount
 * namespace only). Once per path: a mount over a mounted file whose name
 * is gone fails. */
static gboolean
bind_extended_copy (const char *path, const char *extra, GError **error)
{
  g_autofree char *content = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *joined = NULL;
  int fd;

  if (!g_file_get_contents (path, &content, NULL, error))
    return FALSE;
  fd = g_file_open_tmp ("nts-nss-XXXXXX", &copy, error);
  if (fd < 0)
    return FALSE;
  close (fd);
  joined = g_strconcat (content, extra, NULL);
  if (!g_file_set_contents (copy, joined, -1, error) || chmod (copy, 0644) != 0 ||
      mount (copy, path, NULL, MS_BIND, NULL) != 0)
    {
      int errsv = errno;
      if (error && *error == NULL)
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "bind-mounting %s: %s",
                     path, g_strerror (errsv));
      g_unlink (copy);
      return FALSE;
    }
  /* The mount holds the file; the name is not needed any more. */
  g_unlink (copy);
  return TRUE;
}

/* A mount namespace of our own (the daemon and chronyd inherit it) with
 * chronyd's users in it when the host lacks them. */
static gboolean
setup_namespace (GError **error)
{
  g_autoptr(GString) passwd = g_string_new (NULL);
  g_autoptr(GString) group = g_string_new (NULL);
  guint id = 1000;

  if (unshare (CLONE_NEWNS) != 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "cannot make a private mount namespace: %s", g_strerror (errsv));
      return FALSE;
    }
  private_mounts = TRUE;
  for (const char *const *user = (const char *[]) { "_chrony", "chrony", NULL }; *user; user++)
    {
      if (getpwnam (*user) != NULL)
        continue;
      id = free_id (id);
      g_string_append_printf (passwd, "%s:x:%u:%u:chrony daemon:/var/lib/chrony:/usr/sbin/nologin\n",
                              *user, id, id);
      if (getgrnam (*user) == NULL)
        g_string_append_printf (group, "%s:x:%u:\n", *user, id);
    }
  return (passwd->len == 0 || bind_extended_copy ("/etc/passwd", passwd->str, error)) &&
         (group->len == 0 || bind_extended_copy ("/etc/group", group->str, error));
}

/* LastResult's 'probe-results'. */
static GVariant *
last_probe_results (Fixture *f)
{
  g_autoptr(GVariant) result = get_property (f, "LastResult");
  GVariant *verdicts = g_variant_lookup_value (result, "probe-results",
                                               G_VARIANT_TYPE ("aa{sv}"));

  g_assert_nonnull (verdicts);
  return verdicts;
}

/* Verdict @i is @server's, with @phase, and carries no key or cookie. */
static void
assert_verdict (GVariant *verdicts, guint i, const char *server, const char *phase)
{
  g_autoptr(GVariant) verdict = g_variant_get_child_value (verdicts, i);
  const char *got_server = NULL;
  const char *got_phase = NULL;
  const char *message = NULL;

  g_assert_true (g_variant_lookup (verdict, "server", "&s", &got_server));
  g_assert_true (g_variant_lookup (verdict, "result", "&s", &got_phase));
  g_assert_true (g_variant_lookup (verdict, "message", "&s", &message));
  g_test_message ("%s: %s (%s)", got_server, got_phase, message);
  g_assert_cmpstr (got_server, ==, server);
  g_assert_cmpstr (got_phase, ==, phase);
  for (const char *const *key =
         (const char *[]) { "c2s", "s2c", "cookie-data", "ke-time", NULL };
       *key; key++)
    g_assert_false (g_variant_lookup (verdict, *key, "*", NULL));
}

/* Preflight by the daemon's probe ($NTSSETUP_PROBE, run on a socketpair
 * under --root), against three servers of which none answers NTS-KE
 * (nothing listens on 127.0.0.2-4:4460): PreflightFailed naming each, and
 * nothing changed. A chronyd is in the root only so that chrony counts as
 * installed; the preflight no longer runs it. Apply's servers take no
 * NTS-KE port, and the loopback servers have none of 4460, so "two good
 * servers and one dead" is left to tests/test-preflight.c. */
static void
test_preflight_fails (Fixture *f, gconstpointer data)
{
  const char *servers[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4", NULL };
  g_autofree char *chronyd = host_path (f, f->profile->chronyd);
  g_autoptr(GFile) from = g_file_new_for_path (g_getenv ("NTSSETUP_CHRONYD"));
  g_autoptr(GFile) to = g_file_new_for_path (chronyd);
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariantDict options;

  if (f->profile == NULL)
    return;
  g_assert_true (g_file_copy (from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  start_daemon (f, NULL);
  before = fingerprint (f);
  units_before = units_summary (f);

  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert_value (&options, "servers", g_variant_new_strv (servers, -1));
  g_variant_dict_insert (&options, "min-sources", "u", 3);
  reply = fixture_call (&f->fx, "ApplyHardenedConfig",
                        g_variant_new ("(@a{sv})", g_variant_dict_end (&options)),
                        G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_null (reply);
  g_test_message ("%s", error->message);
  assert_remote_error (error, ERR ("PreflightFailed"));
  for (guint i = 0; servers[i]; i++)
    {
      g_autofree char *line = g_strdup_printf ("%s: ", servers[i]);
      g_assert_nonnull (strstr (error->message, line));
    }
  g_assert_nonnull (strstr (error->message, "refused"));
  assert_as_before (f, before, units_before, 0);
  {
    g_autofree char *step = last_result (f, "step");
    g_autofree char *ids = snapshot_ids (f);

    g_assert_cmpstr (step, ==, "preflight");
    g_assert_cmpstr (ids, ==, "");
  }
  /* The verdicts per server, for a panel, in the order given. */
  {
    g_autoptr(GVariant) verdicts = last_probe_results (f);

    g_assert_cmpuint (g_variant_n_children (verdicts), ==, 3);
    for (guint i = 0; servers[i]; i++)
      assert_verdict (verdicts, i, servers[i], "tcp");
  }
}

/* A preflight that passes, against a loopback server on 4460: the
 * verdict in LastResult says ok; the NTS dump left for chronyd (the test
 * chronyd is 4.3) was not loaded by the chronyd answering the commit
 * check (it has no sources), so the commit removed it. */
static void
test_preflight_passes (Fixture *f, gconstpointer data)
{
  const char *servers[] = { PREFLIGHT_SERVER, NULL };
  g_autofree char *chronyd = host_path (f, f->profile->chronyd);
  g_autofree char *dump_dir = host_path (f, "var/lib/chrony");
  g_autofree char *dump = g_build_filename (dump_dir, PREFLIGHT_SERVER ".nts", NULL);
  g_autofree char *ca = NULL;
  g_autoptr(GFile) from = g_file_new_for_path (g_getenv ("NTSSETUP_CHRONYD"));
  g_autoptr(GFile) to = g_file_new_for_path (chronyd);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariantDict options;

  if (f->profile == NULL)
    return;
  if (!preflight_server)
    {
      g_test_skip ("no loopback NTS server on " PREFLIGHT_SERVER ":4460");
      return;
    }
  g_assert_true (g_file_copy (from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (nts_loopback_get_ca_file (lb), &ca, NULL, NULL));
  fixture_write_root_file (&f->fx, "etc/ssl/certs/ca-certificates.crt", ca, 0644);
  g_assert_cmpint (g_mkdir_with_parents (dump_dir, 0755), ==, 0);
  start_daemon (f, NULL);

  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert_value (&options, "servers", g_variant_new_strv (servers, -1));
  g_variant_dict_insert (&options, "min-sources", "u", 1);
  g_variant_dict_insert (&options, "wait-sync", "u", 0);
  reply = fixture_call (&f->fx, "ApplyHardenedConfig",
                        g_variant_new ("(@a{sv})", g_variant_dict_end (&options)),
                        G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
  {
    g_autoptr(GVariant) verdicts = last_probe_results (f);
    g_autofree char *state = get_state (f);

    g_assert_cmpstr (state, ==, "applied");
    g_assert_cmpuint (g_variant_n_children (verdicts), ==, 1);
    assert_verdict (verdicts, 0, PREFLIGHT_SERVER, "ok");
  }
  g_assert_false (g_file_test (dump, G_FILE_TEST_EXISTS));
}

/* chrony missing and 'install' asked by a caller polkit allows Apply but
 * not installing: AccessDenied, nothing changed, the daemon still there. */
static void
test_install_denied (Fixture *f, gconstpointer data)
{
  g_autofree char *chronyd = host_path (f, f->profile->chronyd);
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariantDict options;

  if (f->profile == NULL)
    return;
  g_assert_cmpint (g_unlink (chronyd), ==, 0);
  start_daemon (f, NULL);
  before = fingerprint (f);
  units_before = units_summary (f);

  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "install", "b", TRUE);
  g_variant_dict_insert (&options, "preflight", "b", FALSE);
  reply = fixture_call (&f->fx, "ApplyHardenedConfig",
                        g_variant_new ("(@a{sv})", g_variant_dict_end (&options)),
                        G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_null (reply);
  g_test_message ("%s", error->message);
  assert_remote_error (error, "org.freedesktop.DBus.Error.AccessDenied");
  assert_as_before (f, before, units_before, 0);
  g_assert_nonnull (g_subprocess_get_identifier (f->fx.daemon));
  {
    g_autofree char *state = get_state (f);
    g_assert_cmpstr (state, ==, "unconfigured");
  }
}

static char *state_dir_fingerprint (Fixture *f);

/* A Rollback that would put packages back (its Apply installed chrony)
 * needs the install action too, asked before the lock: a caller polkit
 * allows to roll back but not to install is refused, nothing changed,
 * State never "rolling-back", LastResult untouched. */
static void
test_rollback_packages_need_install (Fixture *f, gconstpointer data)
{
  const char *in[] = { "chrony", NULL };
  const char *out[] = { "systemd-timesyncd", NULL };
  g_autoptr(NtsPackageChanges) changes = nts_package_changes_new (in, out);
  g_autofree char *id = NULL, *before = NULL, *state_before = NULL, *units_before = NULL;
  g_autofree char *last_before = NULL;
  g_autoptr(GError) error = NULL;

  if (f->profile == NULL)
    return;
  start_daemon (f, NULL);
  {
    g_autoptr(GVariant) result = apply (f, &error);
    g_assert_no_error (error);
    id = result_snapshot_id (result);
  }
  /* As if the Apply had installed chrony: its snapshot's package plan. */
  {
    NtsRoot *root = nts_root_open (f->fx.root, &error);
    NtsSnapshotStore *store;

    g_assert_no_error (error);
    store = nts_snapshot_store_open (root, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (nts_snapshot_store_record_packages (store, id, changes, &error));
    g_assert_no_error (error);
    nts_snapshot_store_free (store);
    nts_root_unref (root);
  }
  before = fingerprint (f);
  state_before = state_dir_fingerprint (f);
  units_before = units_summary (f);
  last_before = last_result (f, "method");

  {
    g_autoptr(GVariant) result = rollback (f, "", FALSE, &error);

    g_assert_null (result);
    assert_remote_error (error, "org.freedesktop.DBus.Error.AccessDenied");
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, NTS_ACTION_INSTALL));
    g_clear_error (&error);
  }
  {
    g_autofree char *after = fingerprint (f);
    g_autofree char *state_after = state_dir_fingerprint (f);
    g_autofree char *units = units_summary (f);
    g_autofree char *state = get_state (f);
    g_autofree char *last = last_result (f, "method");

    g_assert_cmpstr (after, ==, before);
    g_assert_cmpstr (state_after, ==, state_before);
    g_assert_cmpstr (units, ==, units_before);
    g_assert_cmpstr (state, ==, "applied");
    g_assert_cmpstr (last, ==, last_before);
  }
}

/* ---- every step made to fail or die ---------------------------------- */

/* Step x (profile, fault) -> outcome, filled in by each case that passed
 * and printed at the end: every failure and what it left, in one view. */
enum { COL_FAIL, COL_ABORT_RESTART, COL_ABORT_RECOVER, N_KINDS };
static const char *const kind_names[N_KINDS] = { "fail", "abort+restart", "abort+--recover" };
static GHashTable *table;   /* "profile/kind/step" -> outcome */

static void
print_table (void)
{
  const char *const *lists[] = { (const char *const *) apply_fault_steps,
                                 (const char *const *) restore_fault_steps };

  if (table == NULL)
    return;
  for (const Profile *const *p = (const Profile *[]) { &debian, &arch, NULL }; *p; p++)
    {
      g_print ("# %s: step x outcome; in every cell shown the files (content, owner, mode)\n"
               "# and the units were as before the call, and no journal was left\n", (*p)->name);
      g_print ("#   %-22s %-29s %-42s %s\n", "step[/after its work]", kind_names[0], kind_names[1],
               kind_names[2]);
      for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
        for (guint i = 0; lists[l][i]; i++)
          for (guint after = 0; after < 2; after++)
            {
              g_autofree char *row = g_strdup_printf ("%s%s", lists[l][i], after ? "/after" : "");
              const char *cells[N_KINDS];

              for (guint k = 0; k < N_KINDS; k++)
                {
                  g_autofree char *key = g_strdup_printf ("%s/%s/%s", (*p)->name, kind_names[k],
                                                          row);
                  cells[k] = g_hash_table_lookup (table, key);
                  if (cells[k] == NULL)
                    cells[k] = "-";
                }
              g_print ("#   %-22s %-29s %-42s %s\n", row, cells[0], cells[1], cells[2]);
            }
    }
  g_hash_table_unref (table);
}

/* The cases below make the daemon fail or die at a step: they need the
 * fault hook (-Dfault_injection=true), and are not built without it. */
#if NTS_FAULT_INJECTION
static void
record_outcome (Fixture *f, guint kind, const Case *c, const char *outcome)
{
  if (table == NULL)
    table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (table, g_strdup_printf ("%s/%s/%s%s", f->profile->name, kind_names[kind],
                                               c->step, c->after ? "/after" : ""),
                       g_strdup (outcome));
}

/* Whether @step is one of Apply's steps before the snapshot, which
 * change nothing. */
static gboolean
changes_nothing (const char *step)
{
  for (guint i = 0; apply_fault_steps[i] && !g_str_equal (apply_fault_steps[i], "snapshot"); i++)
    if (g_str_equal (apply_fault_steps[i], step))
      return TRUE;
  return FALSE;
}

/* Whether the daemon got as far as writing the journal when the fault
 * fired: it is written by the snapshot step, once the snapshot is taken. */
static gboolean
journal_expected (const Case *c)
{
  return !changes_nothing (c->step) && (c->after || !g_str_equal (c->step, "snapshot"));
}

/* The fault hook's spec for @c: "STEP:KIND" or "STEP:KIND-after". */
static char *
fault_spec (const Case *c, const char *kind)
{
  return g_strdup_printf ("%s:%s%s", c->step, kind, c->after ? "-after" : "");
}

/* How the fault hook words its failure. */
static char *
fault_message (const Case *c)
{
  return g_strdup_printf ("fault injected %s step %s", c->after ? "after" : "at", c->step);
}

/* A step of Rollback's restore rather than of Apply. */
static gboolean
is_restore_step (const char *step)
{
  return g_strv_contains ((const char *const *) restore_fault_steps, step);
}

static void
test_step_fails (Fixture *f, gconstpointer data)
{
  const Case *c = data;
  const char *step = c->step;
  g_autofree char *fault = fault_spec (c, "fail");
  g_autofree char *injected = fault_message (c);
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autofree char *want = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;

  if (f->profile == NULL)
    return;
  start_daemon (f, fault);
  before = fingerprint (f);
  units_before = units_summary (f);

  result = apply (f, &error);
  g_assert_null (result);
  g_test_message ("%s", error->message);
  assert_remote_error (error, ERR ("ApplyFailed"));
  /* Before the snapshot there is nothing to undo. */
  want = g_strdup_printf ("step %s failed: %s; %s", step, injected,
                          changes_nothing (step) ? "nothing was changed"
                                                 : "every step done was undone");
  g_assert_true (g_str_has_suffix (error->message, want));
  assert_as_before (f, before, units_before, 0);
  {
    g_autofree char *last_step = last_result (f, "step");
    g_autofree char *state = get_state (f);
    g_autofree char *ids = snapshot_ids (f);

    g_assert_cmpstr (last_step, ==, step);
    g_assert_cmpstr (state, ==, "unconfigured");
    /* An Apply undone leaves no snapshot behind. */
    g_assert_cmpstr (ids, ==, "");
  }
  record_outcome (f, COL_FAIL, c, "ApplyFailed");
}

/* Starts the daemon with the fault of @c and makes it die there (SIGABRT,
 * as a crash would): in Apply, or, for a restore step, in the Rollback of
 * an Apply that went through. Returns its pid. */
static GPid
call_and_die (Fixture *f, const Case *c)
{
  const char *step = c->step;
  g_autofree char *fault = fault_spec (c, "abort");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  GPid pid;

  start_daemon (f, fault);
  pid = (GPid) atoi (g_subprocess_get_identifier (f->fx.daemon));
  if (is_restore_step (step))
    {
      g_autoptr(GVariant) applied = apply (f, &error);
      g_assert_no_error (error);
      result = rollback (f, "", FALSE, &error);
    }
  else
    result = apply (f, &error);
  g_assert_null (result);
  /* The connection went with the daemon. */
  assert_remote_error (error, "org.freedesktop.DBus.Error.NoReply");
  g_assert_cmpint (fixture_wait_exit (f->fx.daemon, WAIT_MS), ==, 128);
  g_assert_true (g_subprocess_get_if_signaled (f->fx.daemon));
  g_assert_cmpint (g_subprocess_get_term_sig (f->fx.daemon), ==, SIGABRT);
  g_clear_object (&f->fx.daemon);
  g_assert_cmpint (root_has (f, STATE_DIR "/journal"), ==, journal_expected (c));
  return pid;
}

/* Starts the daemon (again) on a journal: State "recovering" (held there
 * by the fault hook as recovery starts, so the test can see it and be
 * refused), mutating calls Busy, then "unconfigured", LastResult saying
 * so. */
static void
recover_at_start (Fixture *f)
{
  g_autofree char *state = NULL;

  start_daemon (f, "recover:stall");
  state = get_state (f);
  g_assert_cmpstr (state, ==, "recovering");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) result = apply (f, &error);
    assert_remote_error (error, ERR ("Busy"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) result = rollback (f, "", FALSE, &error);
    assert_remote_error (error, ERR ("Busy"));
  }
  {
    StateWatch watch;
    g_autofree char *states = NULL;
    gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

    watch_state (f, &watch);
    watch.w.want = "unconfigured";
    /* State is "recovering" from before the name was taken, but the
     * recovery may not have reached its stall yet (it waits for systemd
     * first): a signal before that releases nothing. So signal until
     * the state moves on. */
    while (!watch.w.seen)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_subprocess_send_signal (f->fx.daemon, SIGUSR1);
        fixture_wait_flag (&watch.w.seen, 200);
      }
    states = unwatch_state (f, &watch, "unconfigured");
    g_assert_cmpstr (states, ==, "unconfigured");
  }
  {
    g_autofree char *method = last_result (f, "method");
    g_autoptr(GVariant) result = get_property (f, "LastResult");
    gboolean ok = FALSE;

    g_assert_cmpstr (method, ==, "Recover");
    g_assert_true (g_variant_lookup (result, "ok", "b", &ok));
    g_assert_true (ok);
  }
}

static void
record_recovered (Fixture *f, const Case *c, const char *how, gboolean stale)
{
  g_autofree char *outcome = g_strdup_printf ("%s%s", how, stale ? " +stale socket" : "");
  record_outcome (f, c->kind, c, outcome);
}

/* A Rollback step failing: ApplyFailed naming it, the journal kept; the
 * daemon tries to finish the restore at once (failing again here, the
 * fault being still armed: State stays "recovering", mutating calls get
 * Busy), and a daemon started afterwards finishes it. */
static void
test_restore_step_fails (Fixture *f, gconstpointer data)
{
  const Case *c = data;
  const char *step = c->step;
  g_autofree char *fault = fault_spec (c, "fail");
  g_autofree char *injected = fault_message (c);
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autofree char *id = NULL;
  g_autofree char *want = NULL;
  g_autoptr(GError) error = NULL;

  if (f->profile == NULL)
    return;
  before = fingerprint (f);
  units_before = units_summary (f);
  start_daemon (f, fault);
  {
    g_autoptr(GVariant) result = apply (f, &error);
    g_assert_no_error (error);
    id = result_snapshot_id (result);
  }
  {
    g_autoptr(GVariant) result = rollback (f, "", FALSE, &error);
    g_assert_null (result);
  }
  g_test_message ("%s", error->message);
  assert_remote_error (error, ERR ("ApplyFailed"));
  want = g_strdup_printf ("restoring snapshot %s: step %s failed: %s; the journal is kept",
                          id, step, injected);
  g_assert_nonnull (strstr (error->message, want));
  g_assert_true (root_has (f, STATE_DIR "/journal"));
  {
    g_autofree char *state = get_state (f);
    g_autoptr(GVariant) result = apply (f, NULL);

    g_assert_cmpstr (state, ==, "recovering");
    g_assert_null (result);
  }
  stop_daemon (f);
  recover_at_start (f);
  assert_as_before (f, before, units_before, 0);
  record_outcome (f, COL_FAIL, c, "ApplyFailed, restart recovers");
}

/* Runs `ntssetupd --recover` on the fixture's root; its output in @out. */
static int
run_recover (Fixture *f, char **out)
{
  g_autofree char *root_arg = g_strdup_printf ("--root=%s", f->fx.root);
  const char *argv[] = { g_getenv ("NTSSETUPD"), root_arg, "--recover", NULL };

  g_assert_nonnull (argv[0]);
  return fixture_run (&f->fx, out, argv);
}

/* The daemon killed at the fault of @c (in Apply, or in the Rollback of
 * an Apply that went through); then started again, which recovers, or
 * first `ntssetupd --recover`, as the boot-time unit runs it without the
 * bus name, after which the daemon finds nothing to do. */
static void
test_step_aborts (Fixture *f, gconstpointer data)
{
  const Case *c = data;
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autofree char *state = NULL;
  gboolean journal = journal_expected (c);
  gboolean stale;
  GPid dead;

  if (f->profile == NULL)
    return;
  before = fingerprint (f);
  units_before = units_summary (f);
  dead = call_and_die (f, c);

  if (c->kind == COL_ABORT_RECOVER)
    {
      g_autofree char *out = NULL;

      g_assert_cmpint (run_recover (f, &out), ==, 0);
      g_test_message ("--recover: %s", out);
      g_assert_nonnull (strstr (out, journal ? "ntssetupd: recovered: snapshot "
                                             : "ntssetupd: no interrupted transaction"));
    }
  else if (journal)
    recover_at_start (f);
  if (f->fx.daemon == NULL)
    start_daemon (f, NULL);
  state = get_state (f);
  g_assert_cmpstr (state, ==, "unconfigured");
  stale = assert_as_before (f, before, units_before, dead);
  /* The daemon started after the crash (to recover, or after --recover)
   * removed the dead one's client socket from chronyd's directory. */
  g_assert_false (stale);
  record_recovered (f, c,
                    c->kind == COL_ABORT_RECOVER ? (journal ? "exit 0, recovered" : "exit 0, no journal")
                    : journal ? "recovering (Busy), recovered" : "no journal",
                    stale);
}

#else
/* Built without the fault hook: the cases are there, and say why they
 * cannot run. */
static void
skip_without_fault_hook (Fixture *f, gconstpointer data)
{
  g_test_skip ("needs the fault hook: meson setup -Dfault_injection=true");
}
#define test_step_fails                  skip_without_fault_hook
#define test_step_aborts                 skip_without_fault_hook
#define test_restore_step_fails          skip_without_fault_hook
#define test_rollback_record_after_crash skip_without_fault_hook
#endif /* NTS_FAULT_INJECTION */

/* ---- snapshots, edits, the commit check, ntsctl ----------------------- */

/* Two Apply/Rollback rounds: ListSnapshots newest first with the details
 * the contract names, the first one the original; Rollback by id. */
static void
test_snapshots_listed (Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) list = NULL;

  if (f->profile == NULL)
    return;
  start_daemon (f, NULL);
  before = fingerprint (f);
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GVariant) result = apply (f, &error);
      g_autoptr(GVariant) restored = NULL;
      g_autofree char *id = NULL;

      g_assert_no_error (error);
      id = result_snapshot_id (result);
      /* By id this time. */
      restored = rollback (f, id, FALSE, &error);
      g_assert_no_error (error);
      if (round == 0)
        first = g_steal_pointer (&id);
      else
        second = g_steal_pointer (&id);
    }
  g_assert_cmpstr (first, <, second);

  list = list_snapshots (f);
  g_assert_cmpuint (g_variant_n_children (list), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GVariant) details = NULL;
      const char *id;
      guint64 time;
      gboolean original = TRUE;
      guint32 min_sources = 0;
      g_autofree const char **files = NULL;
      g_autofree const char **servers = NULL;
      const char *version = NULL;

      g_variant_get_child (list, i, "(&st@a{sv})", &id, &time, &details);
      g_assert_cmpstr (id, ==, i == 0 ? second : first);
      g_assert_true (g_variant_lookup (details, "original", "b", &original));
      g_assert_cmpint (original, ==, i == 1);
      g_assert_true (g_variant_lookup (details, "min-sources", "u", &min_sources));
      g_assert_cmpuint (min_sources, ==, 2);
      g_assert_true (g_variant_lookup (details, "servers", "^a&s", &servers));
      g_assert_cmpstr (servers[0], ==, "time.cloudflare.com");
      g_assert_true (g_variant_lookup (details, "files", "^a&s", &files));
      g_assert_true (g_strv_contains (files, f->profile->config_file));
      g_assert_true (g_variant_lookup (details, "version", "&s", &version));
      g_assert_cmpstr (version, !=, "");
      if (i == 1)
        {
          guint64 newer;
          g_variant_get_child (list, 0, "(&st@a{sv})", NULL, &newer, NULL);
          g_assert_cmpuint (time, <=, newer);
        }
    }
  {
    g_autofree char *after = fingerprint (f);
    g_assert_cmpstr (after, ==, before);
  }
  /* An id that is not in the store. */
  {
    g_autoptr(GVariant) result = rollback (f, "20200101T000000Z-000000", FALSE, &error);
    assert_remote_error (error, ERR ("NoSuchSnapshot"));
  }
}

/* Edits the managed configuration file as an administrator would:
 * "content" adds a line, "mode" makes it 0600. */
static void
edit_config (Fixture *f, const char *how)
{
  g_autofree char *config = host_path (f, f->profile->config_file);

  if (g_str_equal (how, "content"))
    {
      g_autofree char *content = NULL;
      g_autofree char *more = NULL;

      g_assert_true (g_file_get_contents (config, &content, NULL, NULL));
      more = g_strconcat (content, "# an administrator's line\n", NULL);
      fixture_write_root_file (&f->fx, f->profile->config_file, more, 0644);
    }
  else
    g_assert_cmpint (chmod (config, 0600), ==, 0);
}

/* The files changed after Apply: Rollback refuses and changes nothing;
 * with force it restores the files as they were before the Apply. */
static void
test_rollback_refuses_edited (Fixture *f, gconstpointer data)
{
  const char *how = ((const Case *) data)->step;
  g_autofree char *before = NULL;
  g_autofree char *edited = NULL;
  g_autofree char *units_applied = NULL;
  g_autoptr(GError) error = NULL;

  if (f->profile == NULL)
    return;
  start_daemon (f, NULL);
  before = fingerprint (f);
  {
    g_autoptr(GVariant) result = apply (f, &error);
    g_assert_no_error (error);
  }
  units_applied = units_summary (f);
  edit_config (f, how);
  edited = fingerprint (f);

  {
    g_autoptr(GVariant) result = rollback (f, "", FALSE, &error);
    g_autofree char *want = g_strdup_printf ("nothing was changed: %s changed since ntssetup wrote it",
                                             f->profile->config_file);
    g_assert_null (result);
    assert_remote_error (error, ERR ("ApplyFailed"));
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, want));
    g_assert_nonnull (strstr (error->message, "force"));
    g_clear_error (&error);
  }
  {
    g_autofree char *after = fingerprint (f);
    g_autofree char *units = units_summary (f);
    g_autofree char *state = get_state (f);

    g_assert_cmpstr (after, ==, edited);
    g_assert_cmpstr (units, ==, units_applied);
    g_assert_cmpstr (state, ==, "modified-outside");
    g_assert_false (root_has (f, STATE_DIR "/journal"));
  }
  {
    g_autoptr(GVariant) result = rollback (f, "", TRUE, &error);
    g_autofree char *after = NULL;
    g_autofree char *state = get_state (f);

    g_assert_no_error (error);
    after = fingerprint (f);
    g_assert_cmpstr (after, ==, before);
    g_assert_cmpstr (state, ==, "unconfigured");
  }
}

/* ntssetup's state directory but LastResult, which every mutating call
 * rewrites, refused or not. */
static char *
state_dir_fingerprint (Fixture *f)
{
  g_autofree char *dir = host_path (f, STATE_DIR);
  g_autofree char *tree = fixture_dir_fingerprint (dir);
  g_auto(GStrv) lines = g_strsplit (tree, "\n", -1);
  GString *out = g_string_new (NULL);

  for (guint i = 0; lines[i]; i++)
    if (lines[i][0] != '\0' && !g_str_has_prefix (lines[i], "last-result "))
      g_string_append_printf (out, "%s\n", lines[i]);
  return g_string_free (out, FALSE);
}

/* Rollback by id while no Apply is in place, after the files were
 * edited since the last Rollback: refused like Rollback of the Apply in
 * place (ApplyFailed naming the file, nothing changed, the state
 * directory included), and done with force. */
static void
test_rollback_by_id_refuses_edited (Fixture *f, gconstpointer data)
{
  const char *how = ((const Case *) data)->step;
  g_autofree char *before = NULL;
  g_autofree char *edited = NULL;
  g_autofree char *state_edited = NULL;
  g_autofree char *units_before = NULL;
  g_autofree char *id = NULL;
  g_autoptr(GError) error = NULL;

  if (f->profile == NULL)
    return;
  start_daemon (f, NULL);
  before = fingerprint (f);
  units_before = units_summary (f);
  {
    g_autoptr(GVariant) result = apply (f, &error);
    g_assert_no_error (error);
    id = result_snapshot_id (result);
  }
  {
    g_autoptr(GVariant) result = rollback (f, "", FALSE, &error);
    g_assert_no_error (error);
  }
  assert_as_before (f, before, units_before, 0);

  edit_config (f, how);
  edited = fingerprint (f);
  state_edited = state_dir_fingerprint (f);
  {
    g_autoptr(GVariant) result = rollback (f, id, FALSE, &error);
    g_autofree char *want = g_strdup_printf ("nothing was changed: %s changed since the last "
                                             "Rollback put it back", f->profile->config_file);
    g_assert_null (result);
    assert_remote_error (error, ERR ("ApplyFailed"));
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, want));
    g_assert_nonnull (strstr (error->message, "force"));
    g_clear_error (&error);
  }
  {
    g_autofree char *after = fingerprint (f);
    g_autofree char *state_after = state_dir_fingerprint (f);
    g_autofree char *units = units_summary (f);
    g_autofree char *state = get_state (f);

    g_assert_cmpstr (after, ==, edited);
    g_assert_cmpstr (state_after, ==, state_edited);
    g_assert_cmpstr (units, ==, units_before);
    g_assert_cmpstr (state, ==, "unconfigured");
  }
  {
    g_autoptr(GVariant) result = rollback (f, id, TRUE, &error);

    g_assert_no_error (error);
    assert_as_before (f, before, units_before, 0);
  }
  /* What the forced Rollback left is the new reference: unchanged since,
   * a Rollback by id needs no force. */
  {
    g_autoptr(GVariant) result = rollback (f, id, FALSE, &error);

    g_assert_no_error (error);
    assert_as_before (f, before, units_before, 0);
  }
  /* Without the record nothing vouches for the files: force again. */
  {
    g_autofree char *record = host_path (f, STATE_DIR "/rolled-back");
    g_autoptr(GVariant) result = NULL;

    g_assert_cmpint (g_unlink (record), ==, 0);
    result = rollback (f, id, FALSE, &error);
    g_assert_null (result);
    assert_remote_error (error, ERR ("ApplyFailed"));
    g_assert_nonnull (strstr (error->message, "no Rollback recorded what it left"));
    g_clear_error (&error);
    g_assert_false (root_has (f, STATE_DIR "/rolled-back"));
    g_clear_pointer (&result, g_variant_unref);
    result = rollback (f, id, TRUE, &error);
    g_assert_no_error (error);
    g_assert_true (root_has (f, STATE_DIR "/rolled-back"));
  }
}

#if NTS_FAULT_INJECTION
/* A Rollback cut short after it restored the files but before it noted
 * what it left (the daemon dies as restore-units starts): the recovery
 * that finishes the restore notes it, so the next Rollback by id goes
 * through unforced, and an edit after that is still caught. */
static void
test_rollback_record_after_crash (Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autofree char *out = NULL;
  g_autofree char *id = NULL;
  g_autoptr(GError) error = NULL;

  if (f->profile == NULL)
    return;
  before = fingerprint (f);
  units_before = units_summary (f);
  call_and_die (f, &(Case) { .profile = f->profile, .step = "restore-units" });
  g_assert_false (root_has (f, STATE_DIR "/rolled-back"));
  g_assert_cmpint (run_recover (f, &out), ==, 0);
  g_test_message ("--recover: %s", out);
  g_assert_true (root_has (f, STATE_DIR "/rolled-back"));
  start_daemon (f, NULL);
  assert_as_before (f, before, units_before, 0);
  id = snapshot_ids (f);
  /* The one snapshot: the Apply's, restored. */
  g_assert_cmpuint (strlen (id), ==, strlen ("20261127T044512Z-000123"));
  {
    g_autoptr(GVariant) result = rollback (f, id, FALSE, &error);

    g_assert_no_error (error);
  }
  edit_config (f, "content");
  {
    g_autoptr(GVariant) result = rollback (f, id, FALSE, &error);

    g_assert_null (result);
    assert_remote_error (error, ERR ("ApplyFailed"));
  }
}

#endif

/* chronyd's command socket silent after the restart: the commit check
 * fails the health check even with wait-sync 0, and Apply is undone. */
static void
test_commit_check_fails (Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;

  if (f->profile == NULL)
    return;
  nts_loopback_client_stop (f->chronyd);
  start_daemon (f, NULL);
  before = fingerprint (f);
  units_before = units_summary (f);
  result = apply (f, &error);
  g_assert_null (result);
  assert_remote_error (error, ERR ("ApplyFailed"));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message,
                            "step commit-check failed: chronyd runs but its command socket "
                            "does not answer; every step done was undone"));
  assert_as_before (f, before, units_before, 0);
  {
    g_autofree char *step = last_result (f, "step");
    g_assert_cmpstr (step, ==, "commit-check");
  }
}

/* ntsctl apply prints what changed and the snapshot; ntsctl rollback
 * with that id puts everything back. */
static void
test_ntsctl (Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autofree char *out = NULL;
  g_autofree char *id = NULL;
  const char *undo;

  if (f->profile == NULL)
    return;
  start_daemon (f, NULL);
  before = fingerprint (f);
  units_before = units_summary (f);
  g_assert_cmpint (fixture_run_ntsctl (&f->fx, &out, (const char *[]) {
                     "apply", "--server", "time.cloudflare.com", "--server", "nts.netnod.se",
                     "--min-sources", "2", "--no-preflight", "--wait-sync", "0", NULL }), ==, 0);
  g_test_message ("ntsctl apply:\n%s", out);
  g_assert_nonnull (strstr (out, f->profile->config_file));
  g_assert_nonnull (strstr (out, "systemd-timesyncd.service: stopped, disabled"));
  undo = strstr (out, "Undo with: ntsctl rollback ");
  g_assert_nonnull (undo);
  id = g_strndup (undo + strlen ("Undo with: ntsctl rollback "),
                  strcspn (undo + strlen ("Undo with: ntsctl rollback "), "\n"));
  {
    g_autofree char *ids = snapshot_ids (f);
    g_assert_cmpstr (ids, ==, id);
  }
  {
    g_autofree char *snapshots = NULL;
    g_assert_cmpint (fixture_run_ntsctl (&f->fx, &snapshots, (const char *[]) { "snapshots", NULL }), ==, 0);
    g_assert_nonnull (strstr (snapshots, id));
  }
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (fixture_run_ntsctl (&f->fx, &out, (const char *[]) { "rollback", id, NULL }), ==, 0);
  g_test_message ("ntsctl rollback:\n%s", out);
  {
    g_autofree char *want = g_strdup_printf ("Restored snapshot %s", id);
    g_autofree char *after = fingerprint (f);
    g_autofree char *units_after = units_summary (f);

    g_assert_nonnull (strstr (out, want));
    g_assert_cmpstr (after, ==, before);
    g_assert_cmpstr (units_after, ==, units_before);
  }
  /* Nothing applied any more: a failure, exit 1. */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (fixture_run_ntsctl (&f->fx, &out, (const char *[]) { "rollback", NULL }), ==, 1);
}

/* ---- links, a read-only directory, a full disk ----------------------- */

/* Every path Apply writes or makes, and every directory above one: the
 * files, the drop-in, the ntp-units.d list, the log directory and
 * ntssetup's state directory. */
static GPtrArray *
written_paths (const Profile *profile)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dropin = g_strdup_printf ("/etc/systemd/system/%s.d/50-ntssetup-hardening.conf",
                                             profile->chrony_unit);
  const char *leaves[] = { profile->config_file, profile->keys_file, dropin,
                           profile->ntp_units ? profile->ntp_units : "/var/log/chrony",
                           "/var/log/chrony", "/var/lib/ntssetup", NULL };

  for (guint i = 0; leaves[i]; i++)
    {
      g_autofree char *cur = g_strdup (leaves[i]);

      while (!g_str_equal (cur, "/"))
        {
          char *up;

          if (!g_ptr_array_find_with_equal_func (paths, cur, g_str_equal, NULL))
            g_ptr_array_add (paths, g_strdup (cur));
          up = g_path_get_dirname (cur);
          g_free (cur);
          cur = up;
        }
    }
  return paths;
}

/* Replaces @path with a link to a place outside the root, moving what was
 * there to that place (so that a writer following the link would change
 * it); for a path that did not exist, the link dangles into an empty
 * directory outside, or at a file that does not exist. Returns the
 * link's target. */
static char *
plant_link (Fixture *f, const char *path, gboolean *existed)
{
  g_autofree char *full = host_path (f, path);
  g_autofree char *base = g_path_get_basename (path);
  char *target = g_build_filename (f->outside, base, NULL);
  struct stat st;

  *existed = lstat (full, &st) == 0;
  if (*existed)
    g_assert_cmpint (rename (full, target), ==, 0);
  else if (g_str_equal (path, "/var/log/chrony") || g_str_equal (path, "/var/lib/ntssetup") ||
           g_str_has_suffix (path, ".d"))
    g_assert_cmpint (g_mkdir (target, 0755), ==, 0);
  g_assert_cmpint (symlink (target, full), ==, 0);
  return target;
}

static void
remove_planted_link (Fixture *f, const char *path, const char *target, gboolean existed)
{
  g_autofree char *full = host_path (f, path);
  struct stat st;

  g_assert_cmpint (unlink (full), ==, 0);
  if (existed)
    g_assert_cmpint (rename (target, full), ==, 0);
  else if (lstat (target, &st) == 0)
    g_assert_cmpint (g_rmdir (target), ==, 0);
}

/* A link planted at each path Apply writes and at each directory above
 * one: Apply fails saying which link it refused, changes nothing inside
 * the root, nothing where the link points, and leaves the link. */
static void
test_planted_links (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) paths = written_paths (f->profile);
  g_autoptr(GString) outcomes = g_string_new (NULL);
  g_autofree char *units_before = NULL;

  if (f->profile == NULL)
    return;
  start_daemon (f, NULL);
  units_before = units_summary (f);
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = paths->pdata[i];
      g_autofree char *full = host_path (f, path);
      g_autofree char *parent = g_path_get_dirname (full);
      gboolean existed;
      g_autofree char *target = NULL;
      g_autofree char *before = NULL;
      g_autofree char *outside_before = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) result = NULL;
      g_autofree char *remote = NULL;

      /* Under a directory Apply makes: the link at that directory is the
       * case. */
      if (!g_file_test (parent, G_FILE_TEST_IS_DIR))
        continue;
      target = plant_link (f, path, &existed);
      before = fingerprint (f);
      outside_before = fixture_dir_fingerprint (f->outside);
      result = apply (f, &error);
      g_assert_null (result);
      g_assert_nonnull (error);
      remote = g_dbus_error_get_remote_error (error);
      g_dbus_error_strip_remote_error (error);
      g_string_append_printf (outcomes, "  %-60s %s: %s\n", path, remote, error->message);
      /* /etc as a link stops the layout's resolution, before the
       * transaction: ApplyFailed at step resolve, nothing changed. */
      g_assert_cmpstr (remote, ==, ERR ("ApplyFailed"));
      g_assert_nonnull (strstr (error->message, path));
      g_assert_true (strstr (error->message, "symbolic link; refusing to follow it") ||
                     strstr (error->message, "something else is there"));
      {
        g_autofree char *after = fingerprint (f);
        g_autofree char *outside_after = fixture_dir_fingerprint (f->outside);
        g_autofree char *units_after = units_summary (f);
        g_autofree char *link = g_file_read_link (full, NULL);

        g_assert_cmpstr (after, ==, before);
        g_assert_cmpstr (outside_after, ==, outside_before);
        g_assert_cmpstr (units_after, ==, units_before);
        g_assert_cmpstr (link, ==, target);
      }
      remove_planted_link (f, path, target, existed);
    }
  g_test_message ("planted link -> outcome:\n%s", outcomes->str);
}

/* Mounts over @dir (a guest path) what @how says, keeping what was in it:
 * "read-only" a read-only bind mount of itself (root ignores mode bits,
 * not a read-only mount); "full" a small tmpfs holding a copy of it and a
 * file filling the rest. */
static void
mount_over (Fixture *f, const char *dir, const char *how)
{
  g_autofree char *full = host_path (f, dir);

  if (g_str_equal (how, "read-only"))
    {
      g_assert_cmpint (mount (full, full, NULL, MS_BIND, NULL), ==, 0);
      g_ptr_array_add (f->mounts, g_strdup (full));
      g_assert_cmpint (mount (NULL, full, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), ==, 0);
      return;
    }
  {
    g_autofree char *staging = g_build_filename (f->fx.tmpdir, "staging", NULL);
    g_autofree char *source = g_strconcat (full, "/.", NULL);
    g_autofree char *filler = NULL;
    const char *cp[] = { "cp", "-a", source, staging, NULL };
    g_autoptr(GError) error = NULL;
    char block[4096] = { 0 };
    int status = -1;
    int fd;

    g_assert_cmpint (g_mkdir (staging, 0755), ==, 0);
    g_assert_cmpint (mount ("tmpfs", staging, "tmpfs", 0, "size=256k,mode=0755"), ==, 0);
    g_assert_true (g_spawn_sync (NULL, (char **) cp, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                                 NULL, &status, &error));
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    filler = g_build_filename (staging, "filler", NULL);
    fd = open (filler, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    g_assert_cmpint (fd, >=, 0);
    while (write (fd, block, sizeof block) > 0)
      ;
    g_assert_cmpint (errno, ==, ENOSPC);
    g_assert_cmpint (fsync (fd), ==, 0);
    close (fd);
    g_assert_cmpint (mount (staging, full, NULL, MS_MOVE, NULL), ==, 0);
    g_ptr_array_add (f->mounts, g_strdup (full));
  }
}

/* chrony's configuration directory read-only, or full; or ntssetup's
 * state directory's parent full: Apply fails saying why, and nothing is
 * lost (every file as it was, no temporary file left). */
static void
test_unwritable (Fixture *f, gconstpointer data)
{
  const char *how = ((const Case *) data)->step;
  gboolean state = g_str_equal (how, "state-full");
  g_autofree char *dir = state ? g_strdup ("/var/lib") : g_path_get_dirname (f->profile->config_file);
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autofree char *want = NULL;

  if (f->profile == NULL)
    return;
  if (!private_mounts)
    {
      g_test_skip ("needs root for a mount namespace of its own: mounts a read-only bind mount "
                   "or a small tmpfs in the root");
      return;
    }
  mount_over (f, dir, state ? "full" : how);
  start_daemon (f, NULL);
  before = fingerprint (f);
  units_before = units_summary (f);
  result = apply (f, &error);
  g_assert_null (result);
  g_test_message ("%s", error->message);
  assert_remote_error (error, ERR ("ApplyFailed"));
  want = g_strdup_printf (state ? "step snapshot failed: " : "step write-config failed: ");
  g_assert_nonnull (strstr (error->message, want));
  g_assert_nonnull (strstr (error->message, g_str_equal (how, "read-only")
                                            ? g_strerror (EROFS) : g_strerror (ENOSPC)));
  g_assert_true (g_str_has_suffix (error->message, "every step done was undone"));
  assert_as_before (f, before, units_before, 0);
}

/* ---- 50 cycles --------------------------------------------------- */

#define CYCLES 50
#define KEPT 10

/* What the state directory holds: only LastResult's file and
 * snapshots/<id> directories with their manifest and numbered files. */
static void
assert_state_dir_clean (Fixture *f, GVariant *list)
{
  g_autofree char *state = host_path (f, STATE_DIR);
  g_autofree char *tree = fixture_dir_fingerprint (state);
  g_auto(GStrv) lines = g_strsplit (tree, "\n", -1);
  g_autoptr(GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  GVariantIter iter;
  const char *id;

  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&st@a{sv})", &id, NULL, NULL))
    g_hash_table_add (listed, (gpointer) id);
  for (guint i = 0; lines[i]; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", 2);
      g_auto(GStrv) parts = NULL;

      if (lines[i][0] == '\0')
        continue;
      parts = g_strsplit (fields[0], "/", -1);
      /* LastResult, kept for the next start of the daemon, and what
       * the last Rollback left. */
      if (g_str_equal (fields[0], "last-result") || g_str_equal (fields[0], "rolled-back"))
        continue;
      g_assert_cmpstr (parts[0], ==, "snapshots");
      if (parts[1] == NULL)
        continue;
      if (!g_hash_table_contains (listed, parts[1]))
        g_error ("stray in the state directory: %s", lines[i]);
      if (parts[2] != NULL)
        g_assert_true (g_str_equal (parts[2], "manifest") ||
                       strspn (parts[2], "0123456789") == strlen (parts[2]));
    }
}

/* 50 Apply/Rollback cycles: after each the files and units are as at
 * the start, no journal, nothing applied; the store keeps the 10 newest
 * snapshots and the original one, and nothing else. */
static void
test_cycles (Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL;
  g_autofree char *units_before = NULL;
  g_autofree char *original = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) list = NULL;

  if (f->profile == NULL)
    return;
  start_daemon (f, NULL);
  before = fingerprint (f);
  units_before = units_summary (f);
  for (guint i = 0; i < CYCLES; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) result = apply (f, &error);
      g_autoptr(GVariant) restored = NULL;

      g_assert_no_error (error);
      g_ptr_array_add (ids, result_snapshot_id (result));
      restored = rollback (f, "", FALSE, &error);
      g_assert_no_error (error);
      assert_as_before (f, before, units_before, 0);
    }
  original = g_strdup (ids->pdata[0]);

  list = list_snapshots (f);
  g_assert_cmpuint (g_variant_n_children (list), ==, KEPT + 1);
  for (guint i = 0; i < KEPT + 1; i++)
    {
      const char *id;
      g_autoptr(GVariant) details = NULL;
      gboolean is_original = FALSE;

      g_variant_get_child (list, i, "(&st@a{sv})", &id, NULL, &details);
      g_assert_true (g_variant_lookup (details, "original", "b", &is_original));
      /* Newest first: the last ten taken, then the original. */
      g_assert_cmpstr (id, ==, i < KEPT ? ids->pdata[CYCLES - 1 - i] : original);
      g_assert_cmpint (is_original, ==, i == KEPT);
    }
  assert_state_dir_clean (f, list);
}

/* /apply-rollback/PROFILE/WHAT[/STEP] */
static void
add (const char *what, const Profile *profile, const char *step,
     void (*test) (Fixture *, gconstpointer))
{
  Case *c = g_new0 (Case, 1);
  g_autofree char *path = NULL;

  c->profile = profile;
  c->step = step;
  c->kind = strstr (what, "abort-recover") ? COL_ABORT_RECOVER : COL_ABORT_RESTART;
  c->after = g_str_has_suffix (what, "-after");
  path = step ? g_strdup_printf ("/apply-rollback/%s/%s/%s", profile->name, what, step)
              : g_strdup_printf ("/apply-rollback/%s/%s", profile->name, what);
  g_ptr_array_add (cases, c);
  g_test_add (path, Fixture, c, setup, test, teardown);
}

static void
add_cycles (const Profile *profile)
{
  Case *c = g_new0 (Case, 1);
  g_autofree char *path = g_strdup_printf ("/apply-rollback/cycles/%s", profile->name);

  c->profile = profile;
  g_ptr_array_add (cases, c);
  g_test_add (path, Fixture, c, setup, test_cycles, teardown);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  struct rlimit no_core = { 0, 0 };
  int status;

  g_test_init (&argc, &argv, NULL);
  apply_fault_steps = xml_apply_step_names ();
  restore_fault_steps = xml_rollback_step_names ();
  /* The abort cases kill the daemon on purpose. */
  setrlimit (RLIMIT_CORE, &no_core);

  if (geteuid () != 0)
    {
      if (getpwnam ("_chrony") == NULL || getpwnam ("chrony") == NULL)
        skip_reason = g_strdup ("not root: cannot add chronyd's users (_chrony, chrony) for NSS");
    }
  else if (!setup_namespace (&error))
    skip_reason = g_strdup (error->message);
  if (skip_reason == NULL && (lb = nts_loopback_new (&error)) == NULL)
    skip_reason = g_strdup_printf ("no chronyd to answer the commit check: %s", error->message);
  if (lb != NULL)
    {
      g_autoptr(GError) port_error = NULL;

      preflight_server = nts_loopback_add_server_at_port (lb, PREFLIGHT_SERVER,
                                                          NTS_LOOPBACK_SERVER_GOOD, 4460,
                                                          &port_error);
      if (!preflight_server)
        g_printerr ("# no server on " PREFLIGHT_SERVER ":4460: %s\n", port_error->message);
    }

  cases = g_ptr_array_new_with_free_func (g_free);
  /* Run on their own (meson test test-apply-rollback-cycles): slow. */
  add_cycles (&debian);
  add_cycles (&arch);
  for (const Profile *const *p = (const Profile *[]) { &debian, &arch, NULL }; *p; p++)
    {
      add ("round-trip", *p, NULL, test_round_trip);
      add ("snapshots", *p, NULL, test_snapshots_listed);
      add ("edited", *p, "content", test_rollback_refuses_edited);
      add ("edited", *p, "mode", test_rollback_refuses_edited);
      add ("edited-by-id", *p, "content", test_rollback_by_id_refuses_edited);
      add ("edited-by-id", *p, "mode", test_rollback_by_id_refuses_edited);
      add ("commit-check-fails", *p, NULL, test_commit_check_fails);
      add ("ntsctl", *p, NULL, test_ntsctl);
      /* chronyd -h of the test chronyd answers like Debian's. */
      if (*p == &debian)
        {
          add ("preflight-fails", *p, NULL, test_preflight_fails);
          add ("preflight-passes", *p, NULL, test_preflight_passes);
        }
      add ("install-denied", *p, NULL, test_install_denied);
      add ("rollback-packages-need-install", *p, NULL, test_rollback_packages_need_install);
      add ("planted-links", *p, NULL, test_planted_links);
      add ("unwritable", *p, "read-only", test_unwritable);
      add ("unwritable", *p, "full", test_unwritable);
      add ("unwritable", *p, "state-full", test_unwritable);
      add ("rollback-record-after-crash", *p, NULL, test_rollback_record_after_crash);
      /* Each step made to fail, or the daemon to die, before its work
       * and after it (done, but not yet in the journal). */
      for (guint i = 0; apply_fault_steps[i]; i++)
        {
          add ("fail", *p, apply_fault_steps[i], test_step_fails);
          add ("fail-after", *p, apply_fault_steps[i], test_step_fails);
          add ("abort-restart", *p, apply_fault_steps[i], test_step_aborts);
          add ("abort-restart-after", *p, apply_fault_steps[i], test_step_aborts);
          add ("abort-recover", *p, apply_fault_steps[i], test_step_aborts);
          add ("abort-recover-after", *p, apply_fault_steps[i], test_step_aborts);
        }
      for (guint i = 0; restore_fault_steps[i]; i++)
        {
          add ("rollback-fail", *p, restore_fault_steps[i], test_restore_step_fails);
          add ("rollback-fail-after", *p, restore_fault_steps[i], test_restore_step_fails);
          add ("rollback-abort-restart", *p, restore_fault_steps[i], test_step_aborts);
          add ("rollback-abort-restart-after", *p, restore_fault_steps[i], test_step_aborts);
          add ("rollback-abort-recover", *p, restore_fault_steps[i], test_step_aborts);
          add ("rollback-abort-recover-after", *p, restore_fault_steps[i], test_step_aborts);
        }
    }

  status = g_test_run ();
  print_table ();
  g_ptr_array_unref (cases);
  g_clear_pointer (&lb, nts_loopback_free);
  g_free (skip_reason);
  return status;
}
