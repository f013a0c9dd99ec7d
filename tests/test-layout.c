/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Resolving NtsLayout in a temporary root: profile, override file, the
 * installed chronyd's -h, and systemd (a small stand-in on a private bus). */

#include "layout.h"

#include "temp-tree.h"

#include <pwd.h>
#include <signal.h>
#include <string.h>

static const char debian_os_release[] =
  "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
static const char arch_os_release[] = "NAME=\"Arch Linux\"\nID=arch\n";
static const char alpine_os_release[] = "NAME=\"Alpine Linux\"\nID=alpine\n";

/* chrony 4.3's `chronyd -h`, as built by Debian, with the defaults moved. */
static const char fake_chronyd[] =
  "#!/bin/sh\n"
  "cat <<'EOF'\n"
  "Usage: /usr/sbin/chronyd [OPTION]... [DIRECTIVE]...\n"
  "\n"
  "Options:\n"
  "  -4\t\tUse IPv4 addresses only\n"
  "  -6\t\tUse IPv6 addresses only\n"
  "  -f FILE\tSpecify configuration file (/etc/chrony-alt/chrony.conf)\n"
  "  -n\t\tDon't run as daemon\n"
  "  -u USER\tSpecify user (ntpuser)\n"
  "  -U\t\tDon't check for root\n"
  "  -F LEVEL\tSet system call filter level (0)\n"
  "  -v, --version\tPrint version and exit\n"
  "  -h, --help\tPrint usage and exit\n"
  "EOF\n";

/* Holds its stdout open well past the time limit, through a child that
 * outlives it; the child's pid lands in <root>/sleep.pid for the test to
 * end it. */
static const char hanging_chronyd[] =
  "#!/bin/sh\n"
  "sleep 30 &\n"
  "echo $! > \"$(dirname \"$0\")/../../sleep.pid\"\n"
  "wait\n";

static const char hanging_alone_chronyd[] = "#!/bin/sh\nexec sleep 30\n";

typedef struct {
  char *root;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->root = temp_tree_new ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  temp_tree_remove (f->root);
  g_free (f->root);
}

static void
resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static NtsLayout *
resolve (const char *host, GDBusConnection *bus, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(NtsRoot) root = nts_root_open (host, NULL);

  g_assert_nonnull (root);
  nts_layout_resolve_async (root, bus, NULL, resolved, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return nts_layout_resolve_finish (result, error);
}

static gboolean
host_has_user (const char *user)
{
  return getpwnam (user) != NULL;
}

static void
test_debian_profile (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpstr (nts_root_get_host_path (layout->root), ==, f->root);
  g_assert_cmpstr (layout->profile, ==, "debian");
  g_assert_cmpstr (layout->chronyd_path, ==, "/usr/sbin/chronyd");
  g_assert_false (layout->chrony_installed);
  g_assert_cmpstr (layout->config_file, ==, "/etc/chrony/chrony.conf");
  g_assert_cmpstr (layout->keys_file, ==, "/etc/chrony/chrony.keys");
  g_assert_cmpstr (layout->log_dir, ==, "/var/log/chrony");
  g_assert_cmpstr (layout->state_dir, ==, "/var/lib/chrony");
  g_assert_cmpstr (layout->run_dir, ==, "/run/chrony");
  g_assert_cmpstr (layout->socket_path, ==, "/run/chrony/chronyd.sock");
  g_assert_cmpstr (layout->user, ==, "_chrony");
  if (!host_has_user ("_chrony"))
    g_assert_cmpstr (layout->group, ==, "_chrony");
  g_assert_cmpstr (layout->unit, ==, "chrony.service");
  g_assert_cmpstr (layout->timesyncd_unit, ==, "systemd-timesyncd.service");
  g_assert_cmpstr (layout->options_env_file, ==, "/etc/default/chrony");
  g_assert_cmpstr (layout->options_var, ==, "DAEMON_OPTS");

  host = nts_layout_host_path (layout, "/etc/chrony/chrony.conf");
  g_assert_true (g_str_has_prefix (host, f->root));
  g_assert_true (g_str_has_suffix (host, "/etc/chrony/chrony.conf"));
  g_assert_null (strstr (host, "//"));
}

static void
test_host_path (void)
{
  g_autofree char *dir = temp_tree_new ();
  g_autofree char *dir_slash = g_strconcat (dir, "/", NULL);
  g_autofree char *expected = g_strconcat (dir, "/etc/chrony.conf", NULL);
  g_autoptr(NtsRoot) slash = nts_root_open ("/", NULL);
  g_autoptr(NtsRoot) trailing_root = nts_root_open (dir_slash, NULL);
  NtsLayout layout = { .root = slash };
  NtsLayout trailing = { .root = trailing_root };
  g_autofree char *a = nts_layout_host_path (&layout, "/etc/chrony.conf");
  g_autofree char *b = nts_layout_host_path (&trailing, "/etc/chrony.conf");

  g_assert_cmpstr (a, ==, "/etc/chrony.conf");
  g_assert_cmpstr (b, ==, expected);
  temp_tree_remove (dir);
}

/* /etc/os-release as the usual relative link into /usr/lib. */
static void
test_arch_profile (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/usr/lib/os-release", arch_os_release, 0644);
  temp_tree_symlink (f->root, "/etc/os-release", "../usr/lib/os-release");

  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (layout->profile, ==, "arch");
  g_assert_cmpstr (layout->chronyd_path, ==, "/usr/bin/chronyd");
  g_assert_cmpstr (layout->config_file, ==, "/etc/chrony.conf");
  g_assert_cmpstr (layout->keys_file, ==, "/etc/chrony.keys");
  g_assert_cmpstr (layout->user, ==, "chrony");
  g_assert_cmpstr (layout->unit, ==, "chronyd.service");
  g_assert_cmpstr (layout->options_env_file, ==, "/etc/sysconfig/chronyd");
  g_assert_cmpstr (layout->options_var, ==, "OPTIONS");
}

static void
test_override_wins (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  temp_tree_write (f->root, "/etc/ntssetup/layout.conf",
              "# local layout\n"
              "[chrony]\n"
              "log-dir=/srv/chrony/log\n"
              "user=root\n"
              "unit=chronyd.service\n"
              "run-dir=/run/chrony-local\n"
              "options-env-file=\n"
              "options-var=\n",
              0644);

  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (layout->profile, ==, "debian");
  g_assert_cmpstr (layout->log_dir, ==, "/srv/chrony/log");
  g_assert_cmpstr (layout->user, ==, "root");
  /* root's primary group, through NSS */
  g_assert_cmpstr (layout->group, ==, "root");
  g_assert_cmpstr (layout->unit, ==, "chronyd.service");
  g_assert_cmpstr (layout->run_dir, ==, "/run/chrony-local");
  /* the socket follows the run directory it was not given apart from */
  g_assert_cmpstr (layout->socket_path, ==, "/run/chrony-local/chronyd.sock");
  g_assert_null (layout->options_env_file);
  g_assert_null (layout->options_var);
  /* the rest from the profile */
  g_assert_cmpstr (layout->config_file, ==, "/etc/chrony/chrony.conf");
  g_assert_cmpstr (layout->keys_file, ==, "/etc/chrony/chrony.keys");
  g_assert_cmpstr (layout->state_dir, ==, "/var/lib/chrony");
}

static void
test_override_profile_and_config (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  temp_tree_write (f->root, "/etc/ntssetup/layout.conf",
              "[chrony]\nprofile=fedora\nconfig-file=/etc/ntp/chrony.conf\ngroup=wheel\n", 0644);

  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (layout->profile, ==, "fedora");
  g_assert_cmpstr (layout->unit, ==, "chronyd.service");
  g_assert_cmpstr (layout->config_file, ==, "/etc/ntp/chrony.conf");
  /* keys file beside the config file the administrator named */
  g_assert_cmpstr (layout->keys_file, ==, "/etc/ntp/chrony.keys");
  g_assert_cmpstr (layout->group, ==, "wheel");
}

static void
expect_override_error (Fixture *f, const char *text, const char *piece)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  temp_tree_write (f->root, "/etc/ntssetup/layout.conf", text, 0644);
  layout = resolve (f->root, NULL, &error);
  g_assert_null (layout);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  /* Every call fails with this message over D-Bus: UTF-8 only. */
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "layout.conf"));
  if (strstr (error->message, piece) == NULL)
    g_error ("\"%s\" lacks \"%s\"", error->message, piece);
}

static void
test_override_errors (Fixture *f, gconstpointer data)
{
  expect_override_error (f, "[chrony]\nlogdir=/var/log/x\n", "no key \"logdir\"");
  expect_override_error (f, "[Chrony]\nlog-dir=/var/log/x\n", "unknown group [Chrony]");
  expect_override_error (f, "[chrony]\nlog-dir=var/log/x\n", "log-dir=");
  expect_override_error (f, "[chrony]\nlog-dir=/var/log/../x\n", "not an absolute path");
  expect_override_error (f, "[chrony]\nconfig-file=/etc/chrony.conf\\nserver evil\n", "config-file=");
  expect_override_error (f, "[chrony]\nconfig-file=/etc/my chrony.conf\n", "config-file=");
  expect_override_error (f, "[chrony]\nuser=-root\n", "not a user");
  expect_override_error (f, "[chrony]\nunit=../../evil.service\n", "not a service unit");
  expect_override_error (f, "[chrony]\nunit=chrony.socket\n", "not a service unit");
  expect_override_error (f, "[chrony]\nprofile=gentoo\n", "not a known profile");
  expect_override_error (f, "[chrony]\noptions-var=1X\n", "not an environment variable");
  expect_override_error (f, "not a key file\n", "layout.conf");
  /* Bytes that are not UTF-8 in names GKeyFile accepts or quotes: the
   * message goes out over D-Bus, so they are shown escaped, never as
   * they are. */
  expect_override_error (f, "[chrony]\nlog\xc6-dir=/var/log/x\n", "no key \"log\\306-dir\"");
  expect_override_error (f, "[chr\xffony]\nlog-dir=/var/log/x\n", "unknown group [chr\\377ony]");
  expect_override_error (f, "[chrony\x01\xff]\n", "Invalid group name");
  expect_override_error (f, "[operators]\nTime\xff=ntp.example.net\n", "[operators] Time\\377");
  /* GKeyFile hands back a value and an error for a bad escape or a
   * trailing backslash: the value is not what was meant, so the file is
   * refused, not half-read. */
  expect_override_error (f, "[chrony]\nuser=_chrony\\\n", "user: ");
  /* A GLib that quoted the byte after the backslash (half of "é" here)
   * would make the message invalid UTF-8; 2.74 does not quote it, and
   * the message is made valid UTF-8 either way. */
  expect_override_error (f, "[chrony]\nuser=_chr\\\xc3\xa9ony\n", "user: ");
  expect_override_error (f, "[operators]\nLab=192.0.2.* a\\hb\n", "[operators] Lab: ");
}

static void
test_override_symlink_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  temp_tree_write (f->root, "/etc/ntssetup/other.conf", "[chrony]\n", 0644);
  temp_tree_symlink (f->root, "/etc/ntssetup/layout.conf", "other.conf");
  layout = resolve (f->root, NULL, &error);
  g_assert_null (layout);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
}

static void
test_chronyd_help_wins (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  temp_tree_write (f->root, "/usr/sbin/chronyd", fake_chronyd, 0755);

  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (layout->chrony_installed);
  g_assert_cmpstr (layout->config_file, ==, "/etc/chrony-alt/chrony.conf");
  g_assert_cmpstr (layout->keys_file, ==, "/etc/chrony-alt/chrony.keys");
  g_assert_cmpstr (layout->user, ==, "ntpuser");
  if (!host_has_user ("ntpuser"))
    g_assert_cmpstr (layout->group, ==, "ntpuser");
  g_assert_cmpstr (layout->log_dir, ==, "/var/log/chrony");
}

/* The override still beats what chronyd says. */
static void
test_override_beats_chronyd (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  temp_tree_write (f->root, "/usr/sbin/chronyd", fake_chronyd, 0755);
  temp_tree_write (f->root, "/etc/ntssetup/layout.conf",
              "[chrony]\nuser=root\nkeys-file=/etc/keys/chrony.keys\n", 0644);

  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (layout->user, ==, "root");
  g_assert_cmpstr (layout->config_file, ==, "/etc/chrony-alt/chrony.conf");
  g_assert_cmpstr (layout->keys_file, ==, "/etc/keys/chrony.keys");
}

static void
test_real_chronyd_help (Fixture *f, gconstpointer data)
{
  const char *chronyd = g_getenv ("NTSSETUP_CHRONYD");
  g_autofree char *script = NULL;
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  if (chronyd == NULL || chronyd[0] == '\0')
    {
      g_test_skip ("NTSSETUP_CHRONYD is not set");
      return;
    }
  /* The real binary's output, through a wrapper at the profile's path. */
  script = g_strdup_printf ("#!/bin/sh\nexec '%s' \"$@\"\n", chronyd);
  temp_tree_write (f->root, "/etc/os-release", arch_os_release, 0644);
  temp_tree_write (f->root, "/usr/bin/chronyd", script, 0755);

  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);
  /* Debian's build, under an Arch profile: chronyd's own answer wins. */
  g_assert_cmpstr (layout->config_file, ==, "/etc/chrony/chrony.conf");
  g_assert_cmpstr (layout->keys_file, ==, "/etc/chrony/chrony.keys");
  g_assert_cmpstr (layout->user, ==, "_chrony");
  g_assert_cmpstr (layout->unit, ==, "chronyd.service");
}

static void
kill_sleeper (Fixture *f)
{
  g_autofree char *pidfile = g_build_filename (f->root, "sleep.pid", NULL);
  g_autofree char *text = NULL;
  gint64 pid;

  if (!g_file_get_contents (pidfile, &text, NULL, NULL))
    return;
  pid = g_ascii_strtoll (text, NULL, 10);
  if (pid > 1)
    kill ((pid_t) pid, SIGTERM);
}

static void
test_chronyd_help_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  temp_tree_write (f->root, "/usr/sbin/chronyd", hanging_chronyd, 0755);

  start = g_get_monotonic_time ();
  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  kill_sleeper (f);
  g_assert_cmpstr (layout->config_file, ==, "/etc/chrony/chrony.conf");
  g_assert_cmpstr (layout->user, ==, "_chrony");
}

static void
test_no_profile (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", alpine_os_release, 0644);
  layout = resolve (f->root, NULL, &error);
  g_assert_null (layout);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "\"alpine\""));
  g_assert_nonnull (strstr (error->message, "chronyd-path, config-file"));
  g_assert_nonnull (strstr (error->message, "layout.conf"));
}

static void
test_no_os_release (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  layout = resolve (f->root, NULL, &error);
  g_assert_null (layout);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

static void
test_no_profile_full_override (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", alpine_os_release, 0644);
  temp_tree_write (f->root, "/etc/ntssetup/layout.conf",
              "[chrony]\n"
              "chronyd-path=/usr/sbin/chronyd\n"
              "config-file=/etc/chrony/chrony.conf\n"
              "log-dir=/var/log/chrony\n"
              "state-dir=/var/lib/chrony\n"
              "run-dir=/run/chrony\n"
              "user=chrony\n"
              "group=chrony\n"
              "unit=chronyd.service\n",
              0644);

  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (layout->profile, ==, "custom");
  g_assert_cmpstr (layout->keys_file, ==, "/etc/chrony/chrony.keys");
  g_assert_cmpstr (layout->socket_path, ==, "/run/chrony/chronyd.sock");
  g_assert_cmpstr (layout->timesyncd_unit, ==, "systemd-timesyncd.service");
  g_assert_null (layout->options_env_file);
  g_assert_null (layout->options_var);
}

static void
test_copy (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(NtsLayout) copy = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  layout = resolve (f->root, NULL, &error);
  g_assert_no_error (error);
  copy = nts_layout_copy (layout);
  g_assert_true (copy->config_file != layout->config_file);
  g_assert_cmpstr (copy->config_file, ==, layout->config_file);
  g_assert_cmpstr (copy->group, ==, layout->group);
  g_assert_cmpstr (copy->options_var, ==, layout->options_var);
  g_assert_cmpint (copy->chrony_installed, ==, layout->chrony_installed);
}

static void
test_cancelled (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsRoot) root = NULL;

  temp_tree_write (f->root, "/etc/os-release", debian_os_release, 0644);
  temp_tree_write (f->root, "/usr/sbin/chronyd", hanging_alone_chronyd, 0755);
  root = nts_root_open (f->root, NULL);
  g_assert_nonnull (root);
  nts_layout_resolve_async (root, NULL, cancellable, resolved, &result);
  g_cancellable_cancel (cancellable);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  layout = nts_layout_resolve_finish (result, &error);
  g_assert_null (layout);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ---- a systemd stand-in: LoadUnit and the Unit properties ---- */

static const char systemd_xml[] =
  "<node>"
  " <interface name='org.freedesktop.systemd1.Manager'>"
  "  <method name='LoadUnit'><arg type='s' direction='in'/><arg type='o' direction='out'/></method>"
  " </interface>"
  " <interface name='org.freedesktop.systemd1.Unit'>"
  "  <property name='Id' type='s' access='read'/>"
  "  <property name='LoadState' type='s' access='read'/>"
  " </interface>"
  "</node>";

typedef struct {
  const char *name;        /* asked for */
  const char *id;          /* the unit it is (an alias: its target) */
  const char *load_state;
} FakeUnit;

/* One private bus for the whole run, started before any test makes a
 * thread: GTestDBus forks a watcher, and a fork after threads exist makes
 * LeakSanitizer report their thread-local data from the child. */
static GTestDBus *test_bus;

typedef struct {
  GDBusConnection *bus;
  GDBusNodeInfo *info;
  const FakeUnit *units;
  GPtrArray *asked;        /* names given to LoadUnit, in order */
} FakeSystemd;

static char *
object_for (const char *id)
{
  g_autofree char *escaped = g_strdelimit (g_strdup (id), ".-@", '_');

  return g_strconcat ("/org/freedesktop/systemd1/unit/", escaped, NULL);
}

static void
manager_call (GDBusConnection *connection, const char *sender, const char *path,
              const char *interface, const char *method, GVariant *parameters,
              GDBusMethodInvocation *invocation, gpointer user_data)
{
  FakeSystemd *fake = user_data;
  const char *name;

  g_variant_get (parameters, "(&s)", &name);
  g_ptr_array_add (fake->asked, g_strdup (name));
  for (const FakeUnit *u = fake->units; u->name != NULL; u++)
    if (strcmp (u->name, name) == 0)
      {
        g_autofree char *object = object_for (u->id);

        g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", object));
        return;
      }
  /* systemd loads any name; an unknown one is "not-found" */
  {
    g_autofree char *object = object_for ("missing");

    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", object));
  }
}

static GVariant *
unit_property (GDBusConnection *connection, const char *sender, const char *path,
               const char *interface, const char *property, GError **error,
               gpointer user_data)
{
  FakeSystemd *fake = user_data;

  for (const FakeUnit *u = fake->units; u->name != NULL; u++)
    {
      g_autofree char *object = object_for (u->id);

      if (strcmp (object, path) != 0)
        continue;
      if (strcmp (property, "Id") == 0)
        return g_variant_new_string (u->id);
      return g_variant_new_string (u->load_state);
    }
  if (strcmp (property, "Id") == 0)
    return g_variant_new_string ("missing.service");
  return g_variant_new_string ("not-found");
}

static const GDBusInterfaceVTable manager_vtable = { manager_call, NULL, NULL, { 0 } };
static const GDBusInterfaceVTable unit_vtable = { NULL, unit_property, NULL, { 0 } };

static void
fake_systemd_start (FakeSystemd *fake, const FakeUnit *units, gboolean own_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  const char *objects[] = { "chrony.service", "chronyd.service", "missing", NULL };
  guint32 request_result;

  fake->units = units;
  fake->asked = g_ptr_array_new_with_free_func (g_free);
  fake->bus = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (test_bus),
                                                      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                      G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                      NULL, NULL, &error);
  g_assert_no_error (error);
  if (!own_name)
    return;

  fake->info = g_dbus_node_info_new_for_xml (systemd_xml, &error);
  g_assert_no_error (error);
  g_dbus_connection_register_object (fake->bus, "/org/freedesktop/systemd1",
                                     fake->info->interfaces[0], &manager_vtable,
                                     fake, NULL, &error);
  g_assert_no_error (error);
  for (gsize i = 0; objects[i] != NULL; i++)
    {
      g_autofree char *object = object_for (objects[i]);

      g_dbus_connection_register_object (fake->bus, object, fake->info->interfaces[1],
                                         &unit_vtable, fake, NULL, &error);
      g_assert_no_error (error);
    }

  /* The resolver talks to it over this same connection: owning the name
   * is enough for the bus to route the calls back to us. */
  reply = g_dbus_connection_call_sync (fake->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", "org.freedesktop.systemd1", 0),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &request_result);
  g_assert_cmpuint (request_result, ==, 1);   /* DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER */
}

static void
fake_systemd_stop (FakeSystemd *fake)
{
  /* Released before the next test asks for it: a closed connection's
   * name is freed only when the bus gets round to it. */
  if (fake->info != NULL)
    {
      g_autoptr(GVariant) reply = NULL;
      g_autoptr(GError) error = NULL;

      reply = g_dbus_connection_call_sync (fake->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", "ReleaseName",
                                           g_variant_new ("(s)", "org.freedesktop.systemd1"),
                                           G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                           NULL, &error);
      g_assert_no_error (error);
    }
  g_dbus_connection_close_sync (fake->bus, NULL, NULL);
  g_clear_object (&fake->bus);
  g_clear_pointer (&fake->info, g_dbus_node_info_unref);
  g_clear_pointer (&fake->asked, g_ptr_array_unref);
}

/* Arch's profile says chronyd.service; this system's chrony is packaged
 * as chrony.service (like Frugalware's). systemd knows better. */
static void
test_systemd_names_real_unit (Fixture *f, gconstpointer data)
{
  static const FakeUnit units[] = {
    { "chrony.service", "chrony.service", "loaded" },
    { "chronyd.service", "chronyd.service", "not-found" },
    { NULL, NULL, NULL },
  };
  FakeSystemd fake = { 0 };
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", arch_os_release, 0644);
  fake_systemd_start (&fake, units, TRUE);
  layout = resolve (f->root, fake.bus, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (layout->unit, ==, "chrony.service");
  g_assert_cmpuint (fake.asked->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fake.asked, 0), ==, "chronyd.service");
  g_assert_cmpstr (g_ptr_array_index (fake.asked, 1), ==, "chrony.service");
  fake_systemd_stop (&fake);
}

/* A profile's name that is an alias: the Id of the unit behind it is
 * taken, not the name asked for. */
static void
test_systemd_alias (Fixture *f, gconstpointer data)
{
  static const FakeUnit units[] = {
    { "chronyd.service", "chrony.service", "loaded" },
    { "chrony.service", "chrony.service", "loaded" },
    { NULL, NULL, NULL },
  };
  FakeSystemd fake = { 0 };
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", arch_os_release, 0644);
  fake_systemd_start (&fake, units, TRUE);
  layout = resolve (f->root, fake.bus, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (layout->unit, ==, "chrony.service");
  g_assert_cmpuint (fake.asked->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fake.asked, 0), ==, "chronyd.service");
  fake_systemd_stop (&fake);
}

/* Nothing loaded, or no systemd on the bus at all: the profile answers. */
static void
test_systemd_absent (Fixture *f, gconstpointer data)
{
  static const FakeUnit nothing[] = { { NULL, NULL, NULL } };
  FakeSystemd fake = { 0 };
  FakeSystemd empty_bus = { 0 };
  g_autoptr(NtsLayout) layout = NULL;
  g_autoptr(NtsLayout) layout2 = NULL;
  g_autoptr(GError) error = NULL;

  temp_tree_write (f->root, "/etc/os-release", arch_os_release, 0644);
  fake_systemd_start (&fake, nothing, TRUE);
  layout = resolve (f->root, fake.bus, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (layout->unit, ==, "chronyd.service");
  g_assert_cmpuint (fake.asked->len, ==, 2);
  fake_systemd_stop (&fake);

  fake_systemd_start (&empty_bus, nothing, FALSE);
  layout2 = resolve (f->root, empty_bus.bus, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (layout2->unit, ==, "chronyd.service");
  fake_systemd_stop (&empty_bus);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  test_bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (test_bus);

#define ADD(path, func) \
  g_test_add ((path), Fixture, NULL, fixture_set_up, (func), fixture_tear_down)

  g_test_add_func ("/layout/host-path", test_host_path);
  ADD ("/layout/profile/debian", test_debian_profile);
  ADD ("/layout/profile/arch", test_arch_profile);
  ADD ("/layout/profile/none", test_no_profile);
  ADD ("/layout/profile/no-os-release", test_no_os_release);
  ADD ("/layout/override/wins", test_override_wins);
  ADD ("/layout/override/profile-and-config", test_override_profile_and_config);
  ADD ("/layout/override/errors", test_override_errors);
  ADD ("/layout/override/symlink-refused", test_override_symlink_refused);
  ADD ("/layout/override/names-everything", test_no_profile_full_override);
  ADD ("/layout/chronyd/help-wins", test_chronyd_help_wins);
  ADD ("/layout/chronyd/override-beats-help", test_override_beats_chronyd);
  ADD ("/layout/chronyd/real-binary", test_real_chronyd_help);
  ADD ("/layout/chronyd/timeout", test_chronyd_help_timeout);
  ADD ("/layout/copy", test_copy);
  ADD ("/layout/cancelled", test_cancelled);
  ADD ("/layout/systemd/real-unit", test_systemd_names_real_unit);
  ADD ("/layout/systemd/alias", test_systemd_alias);
  ADD ("/layout/systemd/absent", test_systemd_absent);

  status = g_test_run ();
  g_test_dbus_down (test_bus);
  g_object_unref (test_bus);
  return status;
}
