/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ensure-chrony against the PackageKit stand-in
 * (tests/templates/packagekit.py) on a private bus: the plan that says
 * systemd-timesyncd goes before it goes, the install, its undo (twice),
 * untrusted packages, no PackageKit, a transaction that never finishes;
 * and the snapshot store keeping the package changes. */
#include <string.h>

#include "ensure-chrony.h"
#include "nts-errors.h"
#include "packagekit-stand-in.h"
#include "snapshot-store.h"
#include "temp-tree.h"

#define WAIT_MS 20000
#define PK_NAME "org.freedesktop.PackageKit"

/* Debian: chrony and systemd-timesyncd conflict, each removes the other.
 * Arch: they coexist. */
static const char debian_packages[] = PACKAGEKIT_STAND_IN_DEBIAN;
static const char arch_packages[] =
  "{\"installed\": [\"systemd\"], \"available\": {\"chrony\": []}}";

typedef struct {
  ServiceFixture fx;
  GSubprocess   *packagekit;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  ServiceOptions options = { 0 };

  service_fixture_setup (&f->fx, &options);
  f->packagekit = packagekit_stand_in_start (&f->fx, data != NULL ? data : debian_packages);
  nts_ensure_chrony_set_timeout_ms (0);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  nts_ensure_chrony_set_timeout_ms (0);
  fixture_stop_process (&f->packagekit);
  service_fixture_teardown (&f->fx);
}

static void
on_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (res);
}

static void
wait_result (GAsyncResult **slot)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (*slot == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (*slot);
}

static NtsPackageChanges *
plan (Fixture *f, GError **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  nts_ensure_chrony_plan_async (f->fx.client, NULL, on_done, &res);
  wait_result (&res);
  return nts_ensure_chrony_plan_finish (res, error);
}

static NtsPackageChanges *
install (Fixture *f, GError **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  nts_ensure_chrony_install_async (f->fx.client, NULL, on_done, &res);
  wait_result (&res);
  return nts_ensure_chrony_install_finish (res, error);
}

static gboolean
undo (Fixture *f, const NtsPackageChanges *changes, GError **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  nts_packages_undo_async (f->fx.client, changes, NULL, on_done, &res);
  wait_result (&res);
  return nts_packages_undo_finish (res, error);
}

static guint
count (const char *haystack, const char *needle)
{
  guint n = 0;

  for (const char *at = strstr (haystack, needle); at != NULL; at = strstr (at + 1, needle))
    n++;
  return n;
}

/* "chrony systemd | systemd-timesyncd" */
static char *
describe (const NtsPackageChanges *changes)
{
  g_autofree char *in = g_strjoinv (" ", changes->installed);
  g_autofree char *out = g_strjoinv (" ", changes->removed);

  return g_strdup_printf ("%s | %s", in, out);
}

static void
test_plan (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  g_autofree char *before = packagekit_stand_in_installed (&f->fx);
  g_autofree char *after = NULL;
  g_autofree char *text = NULL;
  g_autofree char *log = NULL;

  changes = plan (f, &error);
  g_assert_no_error (error);
  text = describe (changes);
  g_assert_cmpstr (text, ==, "chrony | systemd-timesyncd");
  after = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (before, ==, after);

  /* Simulated only: ONLY_TRUSTED (2) | SIMULATE (4), never without. */
  log = packagekit_stand_in_calls (&f->fx);
  g_assert_cmpuint (count (log, "('InstallPackages', [<uint64 6>"), ==, 1);
  g_assert_cmpuint (count (log, "('InstallPackages', [<uint64 2>"), ==, 0);
}

static void
test_plan_installed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  g_autoptr(NtsPackageChanges) done = NULL;
  const char *now[] = { "chrony", "systemd", NULL };
  g_autofree char *log = NULL;

  g_variant_unref (packagekit_stand_in_control (&f->fx, "SetInstalled",
                                                g_variant_new ("(^as)", now)));
  changes = plan (f, &error);
  g_assert_no_error (error);
  g_assert_true (nts_package_changes_is_empty (changes));
  done = install (f, &error);
  g_assert_no_error (error);
  g_assert_true (nts_package_changes_is_empty (done));
  log = packagekit_stand_in_calls (&f->fx);
  g_assert_cmpuint (count (log, "'InstallPackages'"), ==, 0);
}

static void
test_install (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  g_autofree char *text = NULL;
  g_autofree char *state = NULL;
  g_autofree char *log = NULL;

  changes = install (f, &error);
  g_assert_no_error (error);
  text = describe (changes);
  g_assert_cmpstr (text, ==, "chrony | systemd-timesyncd");
  state = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (state, ==, "chrony systemd");

  log = packagekit_stand_in_calls (&f->fx);
  g_test_message ("%s", log);
  /* The real install: ONLY_TRUSTED without SIMULATE, once. */
  g_assert_cmpuint (count (log, "('InstallPackages', [<uint64 2>"), ==, 1);
  /* Every transaction non-interactive. */
  g_assert_cmpuint (count (log, "'SetHints'"), ==, count (log, "'CreateTransaction'"));
  g_assert_cmpuint (count (log, "'interactive=false'"), ==, count (log, "'SetHints'"));
}

/* Install, undo, undo again: the second changes nothing and succeeds. */
static void
test_undo (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  g_autofree char *before = packagekit_stand_in_installed (&f->fx);
  g_autofree char *state = NULL;
  g_autofree char *log = NULL;
  g_autofree char *log2 = NULL;
  gboolean debian = data == NULL;

  changes = install (f, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (changes->removed), ==, debian ? 1 : 0);

  g_assert_true (undo (f, changes, &error));
  g_assert_no_error (error);
  state = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (state, ==, before);
  log = packagekit_stand_in_calls (&f->fx);
  g_test_message ("%s", log);
  /* Debian: reinstalling timesyncd took chrony away, no removal needed;
   * Arch: chrony removed with allow_deps=false. */
  g_assert_cmpuint (count (log, "'RemovePackages'"), ==, debian ? 0 : 1);
  if (!debian)
    g_assert_nonnull (strstr (log, "('RemovePackages', [<uint64 0>, <['chrony;"));

  g_assert_true (undo (f, changes, &error));
  g_assert_no_error (error);
  g_clear_pointer (&state, g_free);
  state = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (state, ==, before);
  log2 = packagekit_stand_in_calls (&f->fx);
  g_assert_cmpuint (count (log2, "('InstallPackages', [<uint64 2>"), ==,
                    count (log, "('InstallPackages', [<uint64 2>"));
  g_assert_cmpuint (count (log2, "'RemovePackages'"), ==, count (log, "'RemovePackages'"));
}

/* Undo when the reinstall alone is left (chrony removed by hand). */
static void
test_undo_partial (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  const char *now[] = { "systemd", NULL };
  g_autofree char *state = NULL;

  changes = install (f, &error);
  g_assert_no_error (error);
  g_variant_unref (packagekit_stand_in_control (&f->fx, "SetInstalled",
                                                g_variant_new ("(^as)", now)));
  g_assert_true (undo (f, changes, &error));
  g_assert_no_error (error);
  state = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (state, ==, "systemd systemd-timesyncd");
}

/* Reinstalling timesyncd would remove a package the administrator
 * installed since: refused, nothing changed. */
static void
test_undo_foreign (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  const char *now[] = { "chrony", "ntpsec", "systemd", NULL };
  GVariantBuilder available;
  g_autofree char *state = NULL;

  changes = install (f, &error);
  g_assert_no_error (error);
  g_variant_unref (packagekit_stand_in_control (&f->fx, "SetInstalled",
                                                g_variant_new ("(^as)", now)));
  g_variant_builder_init (&available, G_VARIANT_TYPE ("a{sas}"));
  g_variant_builder_add (&available, "{s^as}", "chrony", (const char *[]) { "systemd-timesyncd", NULL });
  g_variant_builder_add (&available, "{s^as}", "systemd-timesyncd",
                         (const char *[]) { "chrony", "ntpsec", NULL });
  g_variant_unref (packagekit_stand_in_control (&f->fx, "SetAvailable",
                                                g_variant_new ("(a{sas})", &available)));

  g_assert_false (undo (f, changes, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "ntpsec"));
  g_assert_nonnull (strstr (error->message, "systemd-timesyncd"));
  state = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (state, ==, "chrony ntpsec systemd");
}

static void
test_untrusted (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  const char *untrusted[] = { "chrony", NULL };
  g_autofree char *before = packagekit_stand_in_installed (&f->fx);
  g_autofree char *after = NULL;
  g_autofree char *log = NULL;

  g_variant_unref (packagekit_stand_in_control (&f->fx, "SetUntrusted",
                                                g_variant_new ("(^as)", untrusted)));

  /* As packagekitd's apt backend does (seen in the test bed's flavour pk):
   * the simulation does not check trust, so the plan succeeds ... */
  changes = plan (f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (changes);
  g_clear_pointer (&changes, nts_package_changes_free);

  changes = install (f, &error);
  g_assert_null (changes);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "cannot be authenticated"));
  g_assert_nonnull (strstr (error->message, "chrony"));
  after = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (before, ==, after);
  /* ... and the real install, asked once with ONLY_TRUSTED alone, is what
   * PackageKit refuses. */
  log = packagekit_stand_in_calls (&f->fx);
  g_assert_cmpuint (count (log, "('InstallPackages', [<uint64 2>"), ==, 1);
}

static void
test_packagekit_error (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  g_autofree char *state = NULL;

  g_variant_unref (packagekit_stand_in_control (&f->fx, "SetFail",
                                                g_variant_new ("(sus)", "InstallPackages", 26,
                                                               "dpkg lock held by apt-get")));
  changes = install (f, &error);
  g_assert_null (changes);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "install chrony"));
  g_assert_nonnull (strstr (error->message, "cannot-get-lock"));
  g_assert_nonnull (strstr (error->message, "dpkg lock held by apt-get"));
  state = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (state, ==, "systemd systemd-timesyncd");
}

static void
test_absent (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  g_autoptr(NtsPackageChanges) recorded = NULL;
  g_autoptr(NtsPackageChanges) nothing = NULL;
  const char *installed_then[] = { "chrony", NULL };

  packagekit_stand_in_stop (&f->fx, &f->packagekit);

  changes = plan (f, &error);
  g_assert_null (changes);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "PackageKit is not available"));
  g_clear_error (&error);

  /* Nothing to undo needs no PackageKit: a Rollback of an Apply that
   * installed nothing works without it. */
  nothing = nts_package_changes_new_empty ();
  g_assert_true (undo (f, nothing, &error));
  g_assert_no_error (error);

  recorded = nts_package_changes_new (installed_then, NULL);
  g_assert_false (undo (f, recorded, &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "PackageKit is not available"));
}

static void
on_finished (GDBusConnection *connection, const char *sender, const char *path,
             const char *interface, const char *signal, GVariant *parameters,
             gpointer user_data)
{
  guint32 exit_code, runtime;

  g_variant_get (parameters, "(uu)", &exit_code, &runtime);
  if (exit_code == 3)   /* PK_EXIT_ENUM_CANCELLED */
    *(gboolean *) user_data = TRUE;
}

/* Cancels once a transaction takes the install role (11). */
static void
cancel_on_install (GDBusConnection *connection, const char *sender, const char *path,
                   const char *interface, const char *signal, GVariant *parameters,
                   gpointer user_data)
{
  g_autoptr(GVariant) changed = g_variant_get_child_value (parameters, 1);
  guint32 role;

  if (g_variant_lookup (changed, "Role", "u", &role) && role == 11)
    g_cancellable_cancel (user_data);
}

/* Another client cancels the transaction that takes the install role. */
static void
cancel_install_transaction (GDBusConnection *connection, const char *sender, const char *path,
                            const char *interface, const char *signal, GVariant *parameters,
                            gpointer user_data)
{
  g_autoptr(GVariant) changed = g_variant_get_child_value (parameters, 1);
  guint32 role;

  if (g_variant_lookup (changed, "Role", "u", &role) && role == 11)
    g_dbus_connection_call (user_data, PK_NAME, path, "org.freedesktop.PackageKit.Transaction",
                            "Cancel", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);
}

/* A transaction that never finishes: the wait ends at the bound and
 * PackageKit is asked to Cancel it (its Finished(cancelled) proves the
 * Cancel arrived). */
static void
test_stalled (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsPackageChanges) changes = NULL;
  gboolean cancelled = FALSE;
  guint id;
  gint64 start, elapsed_ms;
  g_autofree char *log = NULL;
  g_autofree char *state = NULL;

  g_variant_unref (packagekit_stand_in_control (&f->fx, "SetStall",
                                                g_variant_new ("(sb)", "InstallPackages", TRUE)));
  id = g_dbus_connection_signal_subscribe (f->fx.client, PK_NAME,
                                           "org.freedesktop.PackageKit.Transaction", "Finished",
                                           NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_finished,
                                           &cancelled, NULL);
  nts_ensure_chrony_set_timeout_ms (500);

  start = g_get_monotonic_time ();
  changes = install (f, &error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_null (changes);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
  g_test_message ("%s (after %" G_GINT64_FORMAT " ms)", error->message, elapsed_ms);
  g_assert_nonnull (strstr (error->message, "did not finish in time"));
  g_assert_cmpint (elapsed_ms, >=, 500);
  g_assert_cmpint (elapsed_ms, <, 5000);

  g_assert_true (fixture_wait_flag (&cancelled, WAIT_MS));
  log = packagekit_stand_in_calls (&f->fx);
  g_assert_cmpuint (count (log, "'Cancel'"), ==, 1);
  state = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (state, ==, "systemd systemd-timesyncd");

  /* The caller giving up ends it too: cancelled as such, not a
   * PackageKit failure, and PackageKit's transaction cancelled. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    g_autoptr(GAsyncResult) res = NULL;
    g_autofree char *log2 = NULL;

    guint role_id;

    nts_ensure_chrony_set_timeout_ms (0);
    cancelled = FALSE;
    role_id = g_dbus_connection_signal_subscribe (f->fx.client, PK_NAME,
                                                  "org.freedesktop.DBus.Properties",
                                                  "PropertiesChanged", NULL,
                                                  "org.freedesktop.PackageKit.Transaction",
                                                  G_DBUS_SIGNAL_FLAGS_NONE, cancel_on_install,
                                                  cancellable, NULL);
    nts_ensure_chrony_install_async (f->fx.client, cancellable, on_done, &res);
    wait_result (&res);
    g_dbus_connection_signal_unsubscribe (f->fx.client, role_id);
    g_clear_error (&error);
    g_assert_null (nts_ensure_chrony_install_finish (res, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_true (fixture_wait_flag (&cancelled, WAIT_MS));
    log2 = packagekit_stand_in_calls (&f->fx);
    g_assert_cmpuint (count (log2, "'Cancel'"), ==, 2);
  }

  /* Cancelled by someone else: a failure, said as such. */
  {
    g_autoptr(GDBusConnection) other = fixture_connect (&f->fx);
    g_autoptr(GAsyncResult) res = NULL;
    guint role_id;

    role_id = g_dbus_connection_signal_subscribe (f->fx.client, PK_NAME,
                                                  "org.freedesktop.DBus.Properties",
                                                  "PropertiesChanged", NULL,
                                                  "org.freedesktop.PackageKit.Transaction",
                                                  G_DBUS_SIGNAL_FLAGS_NONE,
                                                  cancel_install_transaction, other, NULL);
    nts_ensure_chrony_install_async (f->fx.client, NULL, on_done, &res);
    wait_result (&res);
    g_dbus_connection_signal_unsubscribe (f->fx.client, role_id);
    g_clear_error (&error);
    g_assert_null (nts_ensure_chrony_install_finish (res, &error));
    g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "cancelled"));
  }
  g_dbus_connection_signal_unsubscribe (f->fx.client, id);
}

static void
test_install_command (void)
{
  NtsLayout layout = { 0 };

  layout.profile = "debian";
  g_assert_cmpstr (nts_chrony_install_command (&layout), ==, "apt install chrony");
  layout.profile = "arch";
  g_assert_cmpstr (nts_chrony_install_command (&layout), ==, "pacman -S chrony");
  layout.profile = "fedora";
  g_assert_cmpstr (nts_chrony_install_command (&layout), ==, "dnf install chrony");
  layout.profile = "custom";
  g_assert_nonnull (strstr (nts_chrony_install_command (&layout), "chrony package"));
}

/* What a package list may hold, and when a change is no change. */
static void
test_package_names (void)
{
  const char *in[] = { "chrony", "libedit2", NULL };
  g_autoptr(NtsPackageChanges) changes = nts_package_changes_new (in, NULL);
  g_autoptr(NtsPackageChanges) none = nts_package_changes_new_empty ();

  g_assert_false (nts_package_changes_is_empty (changes));
  g_assert_cmpuint (g_strv_length (changes->removed), ==, 0);
  g_assert_true (nts_package_changes_is_empty (none));

  g_assert_true (nts_package_name_is_valid ("libstdc++6"));
  g_assert_false (nts_package_name_is_valid (""));
  g_assert_false (nts_package_name_is_valid ("a;b"));
  g_assert_false (nts_package_name_is_valid ("a b"));
  g_assert_false (nts_package_name_is_valid ("a\nb"));
}

/* record_packages/load round trip; a manifest without [packages] loads
 * with empty changes. */
static void
test_record_packages (void)
{
  g_autofree char *host = temp_tree_new ();
  g_autoptr(GError) error = NULL;
  NtsRoot *root = nts_root_open (host, &error);
  NtsSnapshotStore *store = NULL;
  const char *paths[] = { "/etc/chrony/chrony.conf", NULL };
  const char *in[] = { "chrony", NULL };
  const char *out[] = { "systemd-timesyncd", NULL };
  const char *bad[] = { "chrony;evil", NULL };
  g_autoptr(NtsPackageChanges) changes = nts_package_changes_new (in, out);
  g_autoptr(NtsPackageChanges) invalid = nts_package_changes_new (bad, NULL);
  g_autofree char *id = NULL;
  g_autoptr(NtsSnapshot) before = NULL;
  g_autoptr(NtsSnapshot) after = NULL;
  g_autoptr(NtsSnapshot) emptied = NULL;

  g_assert_no_error (error);
  temp_tree_write (host, "/etc/chrony/chrony.conf", "pool 2.debian.pool.ntp.org iburst\n", 0644);
  store = nts_snapshot_store_open (root, NULL, &error);
  g_assert_no_error (error);
  id = nts_snapshot_store_take (store, paths, NULL, &error);
  g_assert_no_error (error);

  before = nts_snapshot_store_load (store, id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (before->packages);
  g_assert_true (nts_package_changes_is_empty (before->packages));

  g_assert_true (nts_snapshot_store_record_packages (store, id, changes, &error));
  g_assert_no_error (error);
  after = nts_snapshot_store_load (store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (after->packages->installed, in);
  g_assert_cmpstrv (after->packages->removed, out);
  /* The rest of the snapshot is untouched. */
  g_assert_cmpuint (after->files->len, ==, 1);
  g_assert_true (g_bytes_equal (((NtsSnapshotFile *) after->files->pdata[0])->content,
                                ((NtsSnapshotFile *) before->files->pdata[0])->content));

  /* A later call replaces, it does not add. */
  g_clear_pointer (&changes, nts_package_changes_free);
  changes = nts_package_changes_new_empty ();
  g_assert_true (nts_snapshot_store_record_packages (store, id, changes, &error));
  g_assert_no_error (error);
  emptied = nts_snapshot_store_load (store, id, &error);
  g_assert_no_error (error);
  g_assert_true (nts_package_changes_is_empty (emptied->packages));

  g_assert_false (nts_snapshot_store_record_packages (store, id, invalid, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nts_snapshot_store_record_packages (store, "20200101T000000Z-000000", changes,
                                                      &error));
  g_assert_error (error, NTS_ERROR, NTS_ERROR_NO_SUCH_SNAPSHOT);

  nts_snapshot_store_free (store);
  nts_root_unref (root);
  temp_tree_remove (host);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ensure-chrony/install-command", test_install_command);
  g_test_add_func ("/ensure-chrony/package-names", test_package_names);
  g_test_add_func ("/ensure-chrony/record-packages", test_record_packages);
  g_test_add ("/ensure-chrony/plan", Fixture, NULL, setup, test_plan, teardown);
  g_test_add ("/ensure-chrony/plan-installed", Fixture, NULL, setup, test_plan_installed, teardown);
  g_test_add ("/ensure-chrony/install", Fixture, NULL, setup, test_install, teardown);
  g_test_add ("/ensure-chrony/undo/debian", Fixture, NULL, setup, test_undo, teardown);
  g_test_add ("/ensure-chrony/undo/arch", Fixture, arch_packages, setup, test_undo, teardown);
  g_test_add ("/ensure-chrony/undo/partial", Fixture, NULL, setup, test_undo_partial, teardown);
  g_test_add ("/ensure-chrony/undo/foreign", Fixture, NULL, setup, test_undo_foreign, teardown);
  g_test_add ("/ensure-chrony/untrusted", Fixture, NULL, setup, test_untrusted, teardown);
  g_test_add ("/ensure-chrony/packagekit-error", Fixture, NULL, setup, test_packagekit_error, teardown);
  g_test_add ("/ensure-chrony/absent", Fixture, NULL, setup, test_absent, teardown);
  g_test_add ("/ensure-chrony/stalled", Fixture, NULL, setup, test_stalled, teardown);
  return g_test_run ();
}
