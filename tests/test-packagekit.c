/* SPDX-License-Identifier: GPL-2.0-or-later */
/* packagekit-client against the PackageKit stand-in
 * (tests/templates/packagekit.py) on a private bus: the Debian case where
 * installing chrony removes systemd-timesyncd, the rollback that puts
 * timesyncd back, PackageKit's errors, bounded waits. */
#include <signal.h>

#include "packagekit-client.h"
#include "packagekit-stand-in.h"

#define WAIT_MS 20000

typedef struct {
  ServiceFixture fx;
  GSubprocess   *packagekit;
} Fixture;

/* Debian: chrony and systemd-timesyncd conflict, each removes the other. */
static void
setup (Fixture *f, gconstpointer data)
{
  ServiceOptions options = { 0 };

  service_fixture_setup (&f->fx, &options);
  f->packagekit = packagekit_stand_in_start (&f->fx,
                                             "{\"installed\": [\"systemd-timesyncd\", \"systemd\"], "
                                             "\"available\": {\"chrony\": [\"systemd-timesyncd\"], "
                                             "\"systemd-timesyncd\": [\"chrony\"]}, "
                                             "\"versions\": {\"chrony\": \"4.3-2+deb12u1\"}}");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  fixture_stop_process (&f->packagekit);
  service_fixture_teardown (&f->fx);
}

static void
on_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (res);
}

static GPtrArray *
wait_packages (GAsyncResult **slot, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (*slot == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (*slot);
  return nts_packagekit_finish (*slot, error);
}

static GVariant *
control (Fixture *f, const char *method, GVariant *params)
{
  return packagekit_stand_in_control (&f->fx, method, params);
}

static char *
installed (Fixture *f)
{
  return packagekit_stand_in_installed (&f->fx);
}

static GPtrArray *
install_names (Fixture *f, const char *name, gboolean simulate, GError **error)
{
  const char *names[] = { name, NULL };
  g_autoptr(GAsyncResult) res = NULL;

  nts_packagekit_install_names_async (f->fx.client, names, simulate, 0, NULL, on_done, &res);
  return wait_packages (&res, error);
}

static GPtrArray *
remove_names (Fixture *f, const char *name, gboolean simulate, GError **error)
{
  const char *names[] = { name, NULL };
  g_autoptr(GAsyncResult) res = NULL;

  nts_packagekit_remove_names_async (f->fx.client, names, simulate, 0, NULL, on_done, &res);
  return wait_packages (&res, error);
}

/* PackageKit's names for the PkInfoEnum values the daemon acts on. */
static const char *
info_string (guint info)
{
  switch (info)
    {
    case NTS_PK_INFO_INSTALLED:  return "installed";
    case NTS_PK_INFO_AVAILABLE:  return "available";
    case NTS_PK_INFO_INSTALLING: return "installing";
    case NTS_PK_INFO_REMOVING:   return "removing";
    default:                     return "other";
    }
}

/* "installing chrony", "removing systemd-timesyncd", ... */
static char *
describe (GPtrArray *packages)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < packages->len; i++)
    {
      NtsPackage *package = packages->pdata[i];
      g_autofree char *name = nts_package_id_name (package->package_id);
      g_string_append_printf (out, "%s%s %s", out->len ? ", " : "",
                              info_string (package->info), name);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
test_resolve (Fixture *f, gconstpointer data)
{
  const char *names[] = { "chrony", "systemd-timesyncd", "no-such-package", NULL };
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) packages = NULL;
  g_autofree char *text = NULL;
  NtsPackage *chrony;

  nts_packagekit_resolve_async (f->fx.client, names, NTS_PK_FILTER_NEWEST | NTS_PK_FILTER_ARCH,
                                0, NULL, on_done, &res);
  packages = wait_packages (&res, &error);
  g_assert_no_error (error);
  text = describe (packages);
  g_test_message ("%s", text);
  g_assert_cmpstr (text, ==, "available chrony, installed systemd-timesyncd");
  chrony = packages->pdata[0];
  g_assert_true (g_str_has_prefix (chrony->package_id, "chrony;4.3-2+deb12u1;"));
}

/* What installing chrony does, said before it happens; nothing changes. */
static void
test_simulate_install (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) packages = NULL;
  g_autofree char *text = NULL;
  g_autofree char *before = installed (f);
  g_autofree char *after = NULL;
  g_autofree char *printed = NULL;

  packages = install_names (f, "chrony", TRUE, &error);
  g_assert_no_error (error);
  text = describe (packages);
  g_test_message ("%s", text);
  g_assert_cmpstr (text, ==, "installing chrony, removing systemd-timesyncd");
  after = installed (f);
  g_assert_cmpstr (before, ==, after);

  /* Non-interactive hints; ONLY_TRUSTED (2) | SIMULATE (4). */
  printed = packagekit_stand_in_calls (&f->fx);
  g_test_message ("%s", printed);
  g_assert_nonnull (strstr (printed, "'interactive=false'"));
  g_assert_nonnull (strstr (printed, "('InstallPackages', [<uint64 6>"));
}

/* Install, then the rollback: remove chrony, reinstall timesyncd. */
static void
test_install_and_rollback (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) packages = NULL;
  g_autofree char *text = NULL;
  g_autofree char *state = NULL;
  g_autofree char *printed = NULL;

  packages = install_names (f, "chrony", FALSE, &error);
  g_assert_no_error (error);
  text = describe (packages);
  g_assert_cmpstr (text, ==, "installing chrony, removing systemd-timesyncd");
  state = installed (f);
  g_assert_cmpstr (state, ==, "chrony systemd");
  g_clear_pointer (&packages, g_ptr_array_unref);
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&state, g_free);
  printed = packagekit_stand_in_calls (&f->fx);
  g_assert_nonnull (strstr (printed, "('InstallPackages', [<uint64 2>"));

  /* Installed now: nothing to do, said as PackageKit says it. */
  packages = install_names (f, "chrony", FALSE, &error);
  g_assert_null (packages);
  g_assert_error (error, NTS_PACKAGEKIT_ERROR, NTS_PK_ERROR_ALL_PACKAGES_ALREADY_INSTALLED);
  g_clear_error (&error);

  packages = remove_names (f, "chrony", FALSE, &error);
  g_assert_no_error (error);
  text = describe (packages);
  g_assert_cmpstr (text, ==, "removing chrony");
  g_clear_pointer (&packages, g_ptr_array_unref);
  g_clear_pointer (&text, g_free);

  packages = install_names (f, "systemd-timesyncd", FALSE, &error);
  g_assert_no_error (error);
  text = describe (packages);
  g_assert_cmpstr (text, ==, "installing systemd-timesyncd");
  state = installed (f);
  g_assert_cmpstr (state, ==, "systemd systemd-timesyncd");
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  const char *bad_id[] = { "no-such;1.0;amd64;debian-bookworm-main", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) packages = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autofree char *state = NULL;

  /* PackageKit's ErrorCode and details reach the caller. */
  g_variant_unref (control (f, "SetFail", g_variant_new ("(sus)", "InstallPackages", 26,
                                                         "dpkg lock held by apt-get")));
  packages = install_names (f, "chrony", FALSE, &error);
  g_assert_null (packages);
  g_assert_error (error, NTS_PACKAGEKIT_ERROR, 26);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "cannot-get-lock"));
  g_assert_nonnull (strstr (error->message, "dpkg lock held by apt-get"));
  g_clear_error (&error);
  state = installed (f);
  g_assert_cmpstr (state, ==, "systemd systemd-timesyncd");
  g_variant_unref (control (f, "SetFail", g_variant_new ("(sus)", "InstallPackages", 0, "")));

  /* Names that do not resolve: no install transaction at all. */
  packages = install_names (f, "no-such-package", FALSE, &error);
  g_assert_error (error, NTS_PACKAGEKIT_ERROR, NTS_PK_ERROR_PACKAGE_NOT_FOUND);
  g_clear_error (&error);
  packages = remove_names (f, "chrony", FALSE, &error);
  g_assert_error (error, NTS_PACKAGEKIT_ERROR, NTS_PK_ERROR_PACKAGE_NOT_INSTALLED);
  g_clear_error (&error);

  /* The stand-in's own ErrorCode for an id it does not know. */
  nts_packagekit_install_async (f->fx.client, bad_id, FALSE, 0, NULL, on_done, &res);
  packages = wait_packages (&res, &error);
  g_assert_error (error, NTS_PACKAGEKIT_ERROR, NTS_PK_ERROR_PACKAGE_NOT_FOUND);
  g_clear_error (&error);

  /* A malformed id: PackageKit refuses the call itself. */
  {
    const char *malformed[] = { "chrony", NULL };
    g_autoptr(GAsyncResult) res2 = NULL;
    g_autofree char *remote = NULL;

    nts_packagekit_install_async (f->fx.client, malformed, FALSE, 0, NULL, on_done, &res2);
    packages = wait_packages (&res2, &error);
    g_assert_null (packages);
    remote = g_dbus_error_get_remote_error (error);
    g_assert_cmpstr (remote, ==, "org.freedesktop.PackageKit.Transaction.PackageIdInvalid");
  }
}

/* A PackageKit that does not answer (stopped with SIGSTOP): the wait
 * ends at the bound, and cancellation ends it too. */
static void
test_bounded (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) packages = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GAsyncResult) res2 = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  const char *names[] = { "chrony", NULL };
  gint64 start, elapsed_ms;

  g_subprocess_send_signal (f->packagekit, SIGSTOP);

  start = g_get_monotonic_time ();
  nts_packagekit_resolve_async (f->fx.client, names, 0, 500, NULL, on_done, &res);
  packages = wait_packages (&res, &error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_null (packages);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed_ms, >=, 500);
  g_assert_cmpint (elapsed_ms, <, 5000);
  g_clear_error (&error);

  nts_packagekit_install_names_async (f->fx.client, names, TRUE, 0, cancellable, on_done, &res2);
  g_timeout_add_once (200, (GSourceOnceFunc) g_cancellable_cancel, cancellable);
  packages = wait_packages (&res2, &error);
  g_assert_null (packages);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_subprocess_send_signal (f->packagekit, SIGCONT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/packagekit/resolve", Fixture, NULL, setup, test_resolve, teardown);
  g_test_add ("/packagekit/simulate-install", Fixture, NULL, setup, test_simulate_install, teardown);
  g_test_add ("/packagekit/install-and-rollback", Fixture, NULL, setup, test_install_and_rollback, teardown);
  g_test_add ("/packagekit/errors", Fixture, NULL, setup, test_errors, teardown);
  g_test_add ("/packagekit/bounded", Fixture, NULL, setup, test_bounded, teardown);
  return g_test_run ();
}
