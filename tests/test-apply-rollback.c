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
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "nts-loopback.h"
#include "service-fixture.h"

#define WAIT_MS 30000
#define SYSTEMD_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_CONTROL "org.ntssetup.Test.Systemd"
#define STATE_DIR "var/lib/ntssetup"
#define ERR(name) "org.ntssetup.Manager1.Error." name

/* ---- the two distributions ------------------------------------------ */

typedef struct {
  const char *name;           /* ServiceOptions.profile */
  const char *systemd_json;   /* the units as the stand-in starts with them */
  const char *chrony_unit;
  const char *user;           /* chronyd's, from the profile */
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
  .user = "_chrony",
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
  .user = "chrony",
  .chronyd = "/usr/bin/chronyd",
  .config_file = "/etc/chrony.conf",
  .keys_file = "/etc/chrony.keys",
  .ntp_units = "/etc/systemd/ntp-units.d/50-ntssetup.list",
};

/* ---- process-wide setup ---------------------------------------------- */

/* One set of CA files for every case; each case runs its own chronyd. */
static NtsLoopback *lb;
static char *skip_reason;
static gboolean private_mounts;
static guint chronyd_counter;

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
write_host_file (const char *full, const char *content, int mode)
{
  g_autofree char *dir = g_path_get_dirname (full);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_set_contents (full, content, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (chmod (full, mode), ==, 0);
}

static void
write_root_file (Fixture *f, const char *path, const char *content, int mode)
{
  g_autofree char *full = host_path (f, path);
  write_host_file (full, content, mode);
}

static void
setup (Fixture *f, gconstpointer data)
{
  const Profile *profile = data;
  ServiceOptions options = {
    .polkit_params = "{\"allowed\": [\"org.ntssetup.manager.verify\", "
                     "\"org.ntssetup.manager.apply\", \"org.ntssetup.manager.rollback\"]}",
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
    write_root_file (f, "usr/bin/chronyd",
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

static void
teardown (Fixture *f, gconstpointer data)
{
  if (f->profile == NULL)
    return;
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
G_GNUC_UNUSED stop_daemon (Fixture *f)
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
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariant *value;

  reply = g_dbus_connection_call_sync (f->fx.client, "org.ntssetup.Manager", "/org/ntssetup/Manager",
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", "org.ntssetup.Manager1", name),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, WAIT_MS,
                                       NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return value;
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

/* State values as PropertiesChanged reports them. */
typedef struct {
  GPtrArray  *states;
  const char *want;
  gboolean    seen;
  guint       subscription;
} StateWatch;

static void
on_properties_changed (GDBusConnection *connection, const char *sender, const char *path,
                       const char *iface, const char *signal, GVariant *params,
                       gpointer user_data)
{
  StateWatch *watch = user_data;
  g_autoptr(GVariant) changed = NULL;
  const char *state;

  g_variant_get (params, "(&s@a{sv}@as)", NULL, &changed, NULL);
  if (g_variant_lookup (changed, "State", "&s", &state))
    {
      g_ptr_array_add (watch->states, g_strdup (state));
      if (g_strcmp0 (state, watch->want) == 0)
        watch->seen = TRUE;
    }
}

static void
watch_state (Fixture *f, StateWatch *watch, const char *want)
{
  watch->states = g_ptr_array_new_with_free_func (g_free);
  watch->want = want;
  watch->subscription =
    g_dbus_connection_signal_subscribe (f->fx.client, "org.ntssetup.Manager",
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                        "/org/ntssetup/Manager", "org.ntssetup.Manager1",
                                        G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, watch,
                                        NULL);
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
  char *seen;

  watch->want = last;
  watch->seen = watch->states->len > 0 &&
                g_str_equal (watch->states->pdata[watch->states->len - 1], last);
  g_assert_true (fixture_wait_flag (&watch->seen, WAIT_MS));
  g_dbus_connection_signal_unsubscribe (f->fx.client, watch->subscription);
  g_ptr_array_add (watch->states, NULL);
  seen = g_strjoinv (" ", (char **) watch->states->pdata);
  g_ptr_array_unref (watch->states);
  return seen;
}

static GVariant *
systemd_control (Fixture *f, const char *method, GVariant *params)
{
  return fixture_control (&f->fx, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_CONTROL, method, params);
}

static char *
unit_prop (Fixture *f, const char *unit, const char *prop)
{
  g_autoptr(GVariant) reply = systemd_control (f, "GetUnitState", g_variant_new ("(s)", unit));
  g_autoptr(GVariant) props = g_variant_get_child_value (reply, 0);
  char *value = NULL;

  g_assert_true (g_variant_lookup (props, prop, "s", &value));
  return value;
}

/* chronyd's and timesyncd's unit as the stand-in has them now. */
static char *
units_summary (Fixture *f)
{
  const char *chrony = f->profile->chrony_unit;
  g_autofree char *ca = unit_prop (f, chrony, "ActiveState");
  g_autofree char *ce = unit_prop (f, chrony, "UnitFileState");
  g_autofree char *ta = unit_prop (f, "systemd-timesyncd.service", "ActiveState");
  g_autofree char *te = unit_prop (f, "systemd-timesyncd.service", "UnitFileState");

  return g_strdup_printf ("chrony %s/%s timesyncd %s/%s", ca, ce, ta, te);
}

/* The state-changing Manager calls the stand-in got, in order, e.g.
 * "Reload,StopUnit(systemd-timesyncd.service)". */
static char *
changing_calls (Fixture *f)
{
  g_autoptr(GVariant) reply = systemd_control (f, "GetManagerCalls", NULL);
  g_autoptr(GVariant) calls = g_variant_get_child_value (reply, 0);
  g_autoptr(GString) out = g_string_new (NULL);
  static const char *changing[] = { "Reload", "StopUnit", "StartUnit", "RestartUnit",
                                    "EnableUnitFiles", "DisableUnitFiles", NULL };

  for (gsize i = 0; i < g_variant_n_children (calls); i++)
    {
      g_autoptr(GVariant) call = g_variant_get_child_value (calls, i);
      g_autoptr(GVariant) args = NULL;
      const char *name;

      g_variant_get (call, "(&s@av)", &name, &args);
      if (!g_strv_contains (changing, name))
        continue;
      g_string_append_printf (out, "%s%s", out->len ? "," : "", name);
      if (g_variant_n_children (args) > 0)
        {
          g_autoptr(GVariant) boxed = g_variant_get_child_value (args, 0);
          g_autoptr(GVariant) arg = g_variant_get_variant (boxed);
          if (g_variant_is_of_type (arg, G_VARIANT_TYPE_STRING))
            g_string_append_printf (out, "(%s)", g_variant_get_string (arg, NULL));
          else if (g_variant_is_of_type (arg, G_VARIANT_TYPE_STRING_ARRAY))
            {
              g_autofree const char **v = g_variant_get_strv (arg, NULL);
              g_autofree char *joined = g_strjoinv (" ", (char **) v);
              g_string_append_printf (out, "(%s)", joined);
            }
        }
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
clear_calls (Fixture *f)
{
  g_autoptr(GVariant) reply = systemd_control (f, "ClearManagerCalls", NULL);
}

/* The managed system: every file under the root with content, owner and
 * mode, except ntssetup's own state directory (checked on its own). */
static char *
fingerprint (Fixture *f)
{
  g_autofree char *all = fixture_tree_fingerprint (&f->fx);
  g_auto(GStrv) lines = g_strsplit (all, "\n", -1);
  GString *out = g_string_new (NULL);

  for (guint i = 0; lines[i]; i++)
    if (!g_str_has_prefix (lines[i], STATE_DIR "/") && !g_str_has_prefix (lines[i], STATE_DIR " "))
      g_string_append_printf (out, "%s\n", lines[i]);
  return g_string_free (out, FALSE);
}

static gboolean
root_has (Fixture *f, const char *path)
{
  g_autofree char *full = host_path (f, path);
  struct stat st;

  return lstat (full, &st) == 0;
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
  const Profile *profile = data;
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
  watch_state (f, &watch, NULL);
  progress_sub = g_dbus_connection_signal_subscribe (f->fx.client, "org.ntssetup.Manager",
                                                     "org.ntssetup.Manager1", "Progress",
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
  /* Every step announced once, in order, 1-based, out of 15. */
  {
    g_autoptr(GPtrArray) want = g_ptr_array_new_with_free_func (g_free);
    const char *steps[] = { "validate", "resolve", "preflight", "snapshot", "ensure-chrony",
                            "write-config", "keys-file", "log-dir", "hardening", "ntp-units",
                            "reload", "stop-timesyncd", "start-chronyd", "commit-check",
                            "commit", NULL };
    g_autofree char *want_s = NULL;
    g_autofree char *got_s = NULL;

    /* Sent before the reply, so queued for us already. */
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_dbus_connection_signal_unsubscribe (f->fx.client, progress_sub);
    for (guint i = 0; steps[i]; i++)
      g_ptr_array_add (want, g_strdup_printf ("%s %u/15", steps[i], i + 1));
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
  calls = changing_calls (f);
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

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  struct rlimit no_core = { 0, 0 };
  int status;

  g_test_init (&argc, &argv, NULL);
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

  g_test_add ("/apply-rollback/debian/round-trip", Fixture, &debian, setup, test_round_trip, teardown);
  g_test_add ("/apply-rollback/arch/round-trip", Fixture, &arch, setup, test_round_trip, teardown);

  status = g_test_run ();
  g_clear_pointer (&lb, nts_loopback_free);
  g_free (skip_reason);
  return status;
}
