/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rendering: chrony.conf, the keys file, the hardening drop-in, the
 * ntp-units.d list, and the set nts_render_files() returns. Exact texts
 * would make every comment edit a test failure, so the tests assert the
 * lines that matter and the absence of the ones that must not be there. */

#include "accounts.h"
#include "distro-profiles.h"
#include "render.h"
#include "temp-tree.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static const char *const reference_servers[] = {
  "time.cloudflare.com", "nts.netnod.se", "ptbtime1.ptb.de",
  "ptbtime2.ptb.de", "nts.sth1.ntp.se", "nts.sth2.ntp.se", NULL,
};

static const char *const profile_names[] = { "debian", "arch", "fedora" };

/* ---- helpers ---- */

/* @root is a host directory; one that does not exist gives a layout
 * without a root, for the cases that must fail before reading anything. */
static NtsLayout *
layout_for (const char *profile_name, const char *root)
{
  const NtsDistroProfile *p = nts_distro_profile_lookup (profile_name);
  NtsLayout *layout = g_new0 (NtsLayout, 1);

  g_assert_nonnull (p);
  layout->root = nts_root_open (root, NULL);
  layout->profile = g_strdup (p->name);
  layout->chronyd_path = g_strdup (p->chronyd_path);
  layout->config_file = g_strdup (p->config_file);
  layout->keys_file = g_strdup (p->keys_file);
  layout->log_dir = g_strdup (p->log_dir);
  layout->state_dir = g_strdup (p->state_dir);
  layout->run_dir = g_strdup (p->run_dir);
  layout->socket_path = g_strdup (p->socket_path);
  layout->user = g_strdup (p->user);
  layout->group = g_strdup (p->user);
  layout->unit = g_strdup (p->unit);
  layout->timesyncd_unit = g_strdup ("systemd-timesyncd.service");
  layout->options_env_file = g_strdup (p->options_env_file);
  layout->options_var = g_strdup (p->options_var);
  return layout;
}

/* The non-comment, non-blank lines, stripped. */
static GPtrArray *
directive_lines (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  for (char **l = lines; *l != NULL; l++)
    {
      const char *line = g_strstrip (*l);

      if (line[0] != '\0' && line[0] != '#')
        g_ptr_array_add (out, g_strdup (line));
    }
  return out;
}

static gboolean
has_line (GPtrArray *lines, const char *expected)
{
  for (guint i = 0; i < lines->len; i++)
    if (strcmp (g_ptr_array_index (lines, i), expected) == 0)
      return TRUE;
  return FALSE;
}

static void
assert_line (GPtrArray *lines, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
assert_line (GPtrArray *lines, const char *format, ...)
{
  g_autofree char *expected = NULL;
  va_list args;

  va_start (args, format);
  expected = g_strdup_vprintf (format, args);
  va_end (args);
  if (!has_line (lines, expected))
    g_error ("line \"%s\" missing", expected);
}

static guint
count_prefix (GPtrArray *lines, const char *prefix)
{
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (lines, i), prefix))
      n++;
  return n;
}

/* ---- chrony.conf ---- */

static void
test_chrony_conf (gconstpointer data)
{
  const char *profile = data;
  g_autoptr(NtsLayout) layout = layout_for (profile, "/");
  g_autofree char *conf = nts_render_chrony_conf (layout, reference_servers, 3);
  g_autoptr(GPtrArray) lines = directive_lines (conf);

  for (const char *const *s = reference_servers; *s; s++)
    assert_line (lines, "server %s iburst nts", *s);
  g_assert_cmpuint (count_prefix (lines, "server "), ==, 6);
  assert_line (lines, "minsources 3");
  assert_line (lines, "authselectmode require");
  assert_line (lines, "ntsdumpdir %s", layout->state_dir);
  assert_line (lines, "driftfile %s/chrony.drift", layout->state_dir);
  assert_line (lines, "keyfile %s", layout->keys_file);
  assert_line (lines, "makestep 1.0 3");
  assert_line (lines, "rtcsync");
  assert_line (lines, "cmdport 0");
  assert_line (lines, "logdir %s", layout->log_dir);
  assert_line (lines, "log tracking measurements statistics");

  /* Nothing that lets anyone else add sources or directives. */
  for (const char *const *bad = (const char *const[]) {
         "pool", "sourcedir", "confdir", "include", "peer", "allow", "refclock",
         "authselectmode mix", "authselectmode ignore", "authselectmode prefer",
         "nosystemcert", NULL }; *bad; bad++)
    g_assert_cmpuint (count_prefix (lines, *bad), ==, 0);
  g_assert_cmpuint (count_prefix (lines, "minsources"), ==, 1);
  /* Certificates' dates are checked unless Apply is asked otherwise. */
  g_assert_cmpuint (count_prefix (lines, "nocerttimecheck"), ==, 0);

  /* Says who wrote it and how to change and undo it. */
  g_assert_true (g_str_has_prefix (conf, "# Written by ntssetup"));
  g_assert_nonnull (strstr (conf, "ntsctl apply"));
  g_assert_nonnull (strstr (conf, "ntsctl rollback"));
  g_assert_nonnull (strstr (conf, "ntsctl verify"));
}

/* allow-clock-far-off: the date check off until the first clock update,
 * and everything else as without it. */
static void
test_chrony_conf_no_cert_time_check (void)
{
  g_autoptr(NtsLayout) layout = layout_for ("debian", "/");
  g_autofree char *plain = nts_render_chrony_conf (layout, reference_servers, 3);
  g_autofree char *conf = nts_render_chrony_conf_full (layout, reference_servers, 3,
                                                       NTS_RENDER_NO_CERT_TIME_CHECK);
  g_autoptr(GPtrArray) lines = directive_lines (conf);
  g_autoptr(GPtrArray) plain_lines = directive_lines (plain);

  assert_line (lines, "nocerttimecheck 1");
  g_assert_cmpuint (count_prefix (lines, "nocerttimecheck"), ==, 1);
  g_assert_cmpuint (lines->len, ==, plain_lines->len + 1);
  /* The file says what it costs. */
  g_assert_nonnull (strstr (conf, "stolen key"));
}

static void
test_chrony_conf_min_sources (void)
{
  const char *const two[] = { "192.0.2.1", "2001:db8::1", NULL };
  g_autoptr(NtsLayout) layout = layout_for ("debian", "/");
  g_autofree char *conf = nts_render_chrony_conf (layout, two, 1);
  g_autoptr(GPtrArray) lines = directive_lines (conf);

  assert_line (lines, "server 192.0.2.1 iburst nts");
  assert_line (lines, "server 2001:db8::1 iburst nts");
  assert_line (lines, "minsources 1");
}

/* chronyd itself must accept every rendered file. */
static void
test_chronyd_parses (gconstpointer data)
{
  const char *profile = data;
  const char *chronyd = g_getenv ("NTSSETUP_CHRONYD");
  const char *const v6[] = { "2001:db8::1", "192.0.2.7", "nts.example.com", NULL };
  const char *const *lists[] = { reference_servers, v6 };

  if (chronyd == NULL || chronyd[0] == '\0')
    {
      g_test_skip ("NTSSETUP_CHRONYD is not set");
      return;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      g_autoptr(NtsLayout) layout = layout_for (profile, "/");
      g_autofree char *conf = nts_render_chrony_conf (layout, lists[i], 2);
      g_autofree char *path = NULL;
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_autoptr(GError) error = NULL;
      const char *argv[] = { chronyd, "-p", "-f", NULL, NULL };
      int fd, status;

      fd = g_file_open_tmp ("chrony-XXXXXX.conf", &path, &error);
      g_assert_no_error (error);
      close (fd);
      g_file_set_contents (path, conf, -1, &error);
      g_assert_no_error (error);

      argv[3] = path;
      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                    &out, &err, &status, &error);
      g_assert_no_error (error);
      g_unlink (path);
      if (!g_spawn_check_wait_status (status, NULL))
        g_error ("chronyd -p rejected the %s config: %s\n%s", profile, err, conf);
      /* It printed what it parsed: the servers are in it. */
      g_assert_nonnull (strstr (out, "authselectmode require"));
      for (const char *const *s = lists[i]; *s; s++)
        {
          g_autofree char *line = g_strdup_printf ("server %s iburst nts", *s);

          g_assert_nonnull (strstr (out, line));
        }
    }
}

/* Debian's AppArmor profile for chronyd (usr.sbin.chronyd in Debian's chrony
 * 4.3 package), the rules for files: '*' is anything but '/', '**' anything,
 * {,X} is "" or X. Every path chrony.conf names must fall under a rule with
 * the access chronyd needs, or chronyd fails on Debian and Ubuntu only. */
static const struct {
  const char *glob;
  const char *access;
} apparmor_rules[] = {
  { "/etc/chrony/{,**}", "r" },
  { "/etc/chrony.*", "r" },
  { "/var/lib/chrony/{,*}", "rw" },
  { "/var/log/chrony/{,*}", "rw" },
  { "/run/chrony/{,*}", "rw" },
  { "/var/run/chrony/{,*}", "rw" },   /* @{run} is /run and /var/run */
  { "/run/chrony-dhcp/{,*}", "r" },
};

static gboolean
glob_match (const char *glob, const char *path)
{
  const char *alt = strstr (glob, "{,");

  if (alt != NULL)
    {
      const char *end = strchr (alt, '}');
      g_autofree char *prefix = g_strndup (glob, alt - glob);
      g_autofree char *option = g_strndup (alt + 2, end - alt - 2);
      g_autofree char *without = g_strconcat (prefix, end + 1, NULL);
      g_autofree char *with = g_strconcat (prefix, option, end + 1, NULL);

      return glob_match (without, path) || glob_match (with, path);
    }

  for (; *glob != '\0'; glob++, path++)
    {
      if (glob[0] == '*' && glob[1] == '*')
        {
          for (const char *p = path; ; p++)
            {
              if (glob_match (glob + 2, p))
                return TRUE;
              if (*p == '\0')
                return FALSE;
            }
        }
      if (glob[0] == '*')
        {
          for (const char *p = path; ; p++)
            {
              if (glob_match (glob + 1, p))
                return TRUE;
              if (*p == '\0' || *p == '/')
                return FALSE;
            }
        }
      if (*glob != *path)
        return FALSE;
    }
  return *path == '\0';
}

static gboolean
apparmor_allows (const char *path, const char *access)
{
  for (gsize i = 0; i < G_N_ELEMENTS (apparmor_rules); i++)
    if (glob_match (apparmor_rules[i].glob, path) &&
        strstr (apparmor_rules[i].access, access) != NULL)
      return TRUE;
  return FALSE;
}

static void
assert_apparmor (const char *path, const char *access)
{
  if (!apparmor_allows (path, access))
    g_error ("Debian's AppArmor profile does not allow '%s' on %s", access, path);
}

static void
test_glob (void)
{
  g_assert_true (glob_match ("/etc/chrony/{,**}", "/etc/chrony/"));
  g_assert_true (glob_match ("/etc/chrony/{,**}", "/etc/chrony/a/b"));
  g_assert_true (glob_match ("/etc/chrony.*", "/etc/chrony.keys"));
  g_assert_false (glob_match ("/etc/chrony.*", "/etc/chrony.d/x"));
  g_assert_true (glob_match ("/var/lib/chrony/{,*}", "/var/lib/chrony/chrony.drift"));
  g_assert_false (glob_match ("/var/lib/chrony/{,*}", "/var/lib/chrony/sub/x"));
  g_assert_false (glob_match ("/var/lib/chrony/{,*}", "/var/lib/chronyx"));
  g_assert_false (apparmor_allows ("/etc/chrony/chrony.keys", "w"));
  g_assert_false (apparmor_allows ("/var/lib/ntssetup/x", "r"));
}

/* A directive names a directory; chronyd reaches it as "dir" and "dir/",
 * and writes files directly in it. */
static void
assert_apparmor_dir (const char *dir, const char *file)
{
  g_autofree char *slashed = g_strconcat (dir, "/", NULL);
  g_autofree char *inside = g_build_filename (dir, file, NULL);

  assert_apparmor (slashed, "rw");
  assert_apparmor (inside, "rw");
}

static void
test_apparmor_paths (gconstpointer data)
{
  const char *profile = data;
  g_autoptr(NtsLayout) layout = layout_for (profile, "/");
  g_autofree char *conf = nts_render_chrony_conf (layout, reference_servers, 3);
  g_autoptr(GPtrArray) lines = directive_lines (conf);
  guint checked = 0;

  assert_apparmor (layout->config_file, "r");
  for (guint i = 0; i < lines->len; i++)
    {
      g_auto(GStrv) words = g_strsplit (g_ptr_array_index (lines, i), " ", -1);

      if (strcmp (words[0], "ntsdumpdir") == 0)
        assert_apparmor_dir (words[1], "time.cloudflare.com.nts");
      else if (strcmp (words[0], "logdir") == 0)
        assert_apparmor_dir (words[1], "tracking.log");
      else if (strcmp (words[0], "driftfile") == 0)
        assert_apparmor (words[1], "rw");
      else if (strcmp (words[0], "keyfile") == 0)
        assert_apparmor (words[1], "r");
      else if (words[1] != NULL && words[1][0] == '/')
        g_error ("%s names a path this test does not know: %s", words[0], words[1]);
      else
        continue;
      checked++;
    }
  g_assert_cmpuint (checked, ==, 4);
}

/* ---- keys file ---- */

static void
test_keys_file_content (void)
{
  g_autoptr(NtsLayout) layout = layout_for ("debian", "/");
  g_autofree char *fresh = nts_render_keys_file (layout, NULL);
  g_autofree char *kept = nts_render_keys_file (layout, "1 SHA256 HEX:00112233\n");
  g_autoptr(GPtrArray) lines = directive_lines (fresh);

  g_assert_cmpuint (lines->len, ==, 0);
  g_assert_nonnull (strstr (fresh, "NTS"));
  g_assert_cmpstr (kept, ==, "1 SHA256 HEX:00112233\n");
}

/* ---- hardening drop-in ---- */

static const char *const list_settings[] = {
  "CapabilityBoundingSet", "SystemCallFilter", "RestrictAddressFamilies", "ReadWritePaths",
};

static GPtrArray *
assignments_of (GPtrArray *lines, const char *key)
{
  GPtrArray *values = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *prefix = g_strconcat (key, "=", NULL);

  for (guint i = 0; i < lines->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (lines, i), prefix))
      g_ptr_array_add (values, g_strdup ((char *) g_ptr_array_index (lines, i) + strlen (prefix)));
  return values;
}

static void
test_dropin (gconstpointer data)
{
  const char *profile = data;
  g_autoptr(NtsLayout) layout = layout_for (profile, "/");
  g_autofree char *path = nts_hardening_dropin_path (layout);
  g_autofree char *text = nts_render_hardening_dropin (layout);
  g_autoptr(GPtrArray) lines = directive_lines (text);
  g_autofree char *expected_path =
    g_strdup_printf ("/etc/systemd/system/%s.d/50-ntssetup-hardening.conf", layout->unit);
  g_autoptr(GPtrArray) rw = NULL;
  g_autoptr(GPtrArray) caps = NULL;
  g_autoptr(GPtrArray) filter = NULL;

  g_assert_cmpstr (path, ==, expected_path);
  g_assert_true (text[0] == '#');
  g_assert_cmpstr (g_ptr_array_index (lines, 0), ==, "[Service]");

  /* Every line after the section header is KEY=VALUE. */
  for (guint i = 1; i < lines->len; i++)
    {
      const char *line = g_ptr_array_index (lines, i);

      g_assert_nonnull (strchr (line, '='));
      g_assert_false (g_str_has_prefix (line, "["));
    }

  /* Each list setting: reset first, then set. */
  for (gsize k = 0; k < G_N_ELEMENTS (list_settings); k++)
    {
      g_autoptr(GPtrArray) values = assignments_of (lines, list_settings[k]);

      g_test_message ("%s: %u assignments", list_settings[k], values->len);
      g_assert_cmpuint (values->len, >=, 2);
      g_assert_cmpstr (g_ptr_array_index (values, 0), ==, "");
      /* A later empty assignment would throw our own list away again. */
      for (guint v = 1; v < values->len; v++)
        g_assert_cmpstr (g_ptr_array_index (values, v), !=, "");
    }

  /* The distribution's ExecStart and its options stay. */
  g_assert_cmpuint (count_prefix (lines, "ExecStart"), ==, 0);
  g_assert_cmpuint (count_prefix (lines, "EnvironmentFile"), ==, 0);
  g_assert_cmpuint (count_prefix (lines, "Environment="), ==, 0);
  g_assert_cmpuint (count_prefix (lines, "User="), ==, 0);

  assert_line (lines, "NoNewPrivileges=yes");
  assert_line (lines, "ProtectSystem=strict");
  assert_line (lines, "PrivateDevices=yes");
  assert_line (lines, "UMask=0077");
  assert_line (lines, "SystemCallErrorNumber=EPERM");
  assert_line (lines, "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX");
  caps = assignments_of (lines, "CapabilityBoundingSet");
  g_assert_nonnull (strstr (g_ptr_array_index (caps, 1), "CAP_SYS_TIME"));
  g_assert_nonnull (strstr (g_ptr_array_index (caps, 1), "CAP_DAC_OVERRIDE"));
  g_assert_null (strstr (g_ptr_array_index (caps, 1), "CAP_SYS_ADMIN"));
  filter = assignments_of (lines, "SystemCallFilter");
  g_assert_cmpstr (g_ptr_array_index (filter, 1), ==, "@system-service @clock seccomp");
  g_assert_cmpuint (filter->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (filter, 2), ==, "~@resources");
  rw = assignments_of (lines, "ReadWritePaths");
  g_assert_cmpstr (g_ptr_array_index (rw, 1), ==, "/run -/var/lib/chrony -/var/log/chrony");
}

/* ---- ntp-units.d ---- */

static void
render_list (const char *profile, const char *root, char **path, char **content)
{
  g_autoptr(NtsLayout) layout = layout_for (profile, root);
  g_autoptr(GError) error = NULL;

  g_assert_true (nts_render_ntp_units_list (layout, path, content, &error));
  g_assert_no_error (error);
}

static void
assert_list_needed (const char *profile, const char *root, const char *unit)
{
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;
  g_autoptr(GPtrArray) lines = NULL;

  render_list (profile, root, &path, &content);
  g_assert_cmpstr (path, ==, "/etc/systemd/ntp-units.d/50-ntssetup.list");
  lines = directive_lines (content);
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (lines, 0), ==, unit);
}

static void
assert_list_not_needed (const char *profile, const char *root)
{
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;

  render_list (profile, root, &path, &content);
  g_assert_null (path);
  g_assert_null (content);
}

static void
test_ntp_units (void)
{
  g_autofree char *root = temp_tree_new ();

  /* Nothing listed at all: timedated knows no NTP unit. */
  assert_list_needed ("debian", root, "chrony.service");

  /* Debian's packaged lists: chrony first. */
  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/50-chrony.list", "chrony.service\n", 0644);
  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/80-systemd-timesync.list",
              "systemd-timesyncd.service\n", 0644);
  assert_list_not_needed ("debian", root);

  /* Our own list, from an earlier Apply, changes nothing. */
  temp_tree_write (root, "/etc/systemd/ntp-units.d/50-ntssetup.list", "chrony.service\n", 0644);
  assert_list_not_needed ("debian", root);

  /* An /etc list of the same name overrides the packaged one. */
  temp_tree_write (root, "/etc/systemd/ntp-units.d/50-chrony.list",
              "# local\n\nsystemd-timesyncd.service\nchrony.service\n", 0644);
  assert_list_needed ("debian", root, "chrony.service");
  temp_tree_remove (root);
}

static void
test_ntp_units_timesyncd_only (void)
{
  g_autofree char *root = temp_tree_new ();

  /* chrony's list gone (chrony not yet installed): ours is needed. */
  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/80-systemd-timesync.list",
              "systemd-timesyncd.service\n", 0644);
  assert_list_needed ("debian", root, "chrony.service");
  temp_tree_remove (root);
}

static void
test_ntp_units_masked (void)
{
  g_autofree char *root = temp_tree_new ();
  g_autofree char *masked = g_build_filename (root, "/etc/systemd/ntp-units.d/50-chrony.list", NULL);

  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/50-chrony.list", "chrony.service\n", 0644);
  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/80-systemd-timesync.list",
              "systemd-timesyncd.service\n", 0644);

  /* Masked by a link to /dev/null in /etc ... */
  temp_tree_symlink (root, "/etc/systemd/ntp-units.d/50-chrony.list", "/dev/null");
  assert_list_needed ("debian", root, "chrony.service");
  g_assert_cmpint (g_unlink (masked), ==, 0);

  /* ... or by an empty file in /run. */
  temp_tree_write (root, "/run/systemd/ntp-units.d/50-chrony.list", "", 0644);
  assert_list_needed ("debian", root, "chrony.service");
  temp_tree_remove (root);
}

static void
test_ntp_units_arch (void)
{
  g_autofree char *root = temp_tree_new ();

  /* Arch ships chrony.list, which sorts after 80-systemd-timesync.list. */
  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/chrony.list", "chronyd.service\n", 0644);
  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/80-systemd-timesync.list",
              "systemd-timesyncd.service\n", 0644);
  assert_list_needed ("arch", root, "chronyd.service");
  temp_tree_remove (root);
}

static void
test_ntp_units_alias (void)
{
  g_autofree char *root = temp_tree_new ();

  /* Debian's alias name counts as chrony. */
  temp_tree_write (root, "/usr/local/lib/systemd/ntp-units.d/10-local.list",
              "  chronyd.service  \nsystemd-timesyncd.service\n", 0644);
  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/80-systemd-timesync.list",
              "systemd-timesyncd.service\n", 0644);
  assert_list_not_needed ("debian", root);
  /* For Arch, chronyd.service is the unit itself. */
  assert_list_not_needed ("arch", root);
  temp_tree_remove (root);
}

/* ---- the whole set ---- */

static void
test_render_files (void)
{
  g_autofree char *root = temp_tree_new ();
  g_autoptr(NtsLayout) layout = layout_for ("debian", root);
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GError) error = NULL;
  NtsRenderedFile *conf, *keys, *dropin, *list;

  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/80-systemd-timesync.list",
              "systemd-timesyncd.service\n", 0644);
  files = nts_render_files (layout, reference_servers, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (files->len, ==, 4);

  conf = g_ptr_array_index (files, 0);
  keys = g_ptr_array_index (files, 1);
  dropin = g_ptr_array_index (files, 2);
  list = g_ptr_array_index (files, 3);

  g_assert_cmpstr (conf->path, ==, "/etc/chrony/chrony.conf");
  g_assert_cmpuint (conf->mode, ==, 0644);
  g_assert_cmpstr (conf->owner, ==, "root");
  g_assert_cmpstr (conf->group, ==, "root");
  g_assert_nonnull (strstr (conf->content, "server ptbtime2.ptb.de iburst nts\n"));

  g_assert_cmpstr (keys->path, ==, "/etc/chrony/chrony.keys");
  g_assert_cmpuint (keys->mode, ==, 0640);
  g_assert_cmpstr (keys->owner, ==, "root");
  g_assert_cmpstr (keys->group, ==, "_chrony");
  g_assert_nonnull (strstr (keys->content, "Nothing secret"));
  /* One Apply creates is shown as it is: only comments. */
  g_assert_false (keys->kept);
  {
    g_autofree char *shown = nts_rendered_file_preview (keys);

    g_assert_cmpstr (shown, ==, keys->content);
  }

  g_assert_cmpstr (dropin->path, ==,
                   "/etc/systemd/system/chrony.service.d/50-ntssetup-hardening.conf");
  g_assert_cmpuint (dropin->mode, ==, 0644);
  g_assert_cmpstr (dropin->group, ==, "root");

  g_assert_cmpstr (list->path, ==, "/etc/systemd/ntp-units.d/50-ntssetup.list");
  g_assert_cmpuint (list->mode, ==, 0644);

  /* With chrony's packaged list present there is no fourth file. */
  temp_tree_write (root, "/usr/lib/systemd/ntp-units.d/50-chrony.list", "chrony.service\n", 0644);
  g_clear_pointer (&files, g_ptr_array_unref);
  files = nts_render_files (layout, reference_servers, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (files->len, ==, 3);
  temp_tree_remove (root);
}

static void
test_render_files_keeps_keys (void)
{
  g_autofree char *root = temp_tree_new ();
  g_autoptr(NtsLayout) layout = layout_for ("arch", root);
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GError) error = NULL;
  const char existing[] = "# my keys\n1 SHA256 HEX:0011223344556677\n";
  NtsRenderedFile *keys;

  temp_tree_write (root, "/etc/chrony.keys", existing, 0644);
  files = nts_render_files (layout, reference_servers, 3, &error);
  g_assert_no_error (error);
  keys = g_ptr_array_index (files, 1);
  g_assert_cmpstr (keys->path, ==, "/etc/chrony.keys");
  g_assert_cmpstr (keys->content, ==, existing);
  g_assert_cmpstr (keys->group, ==, "chrony");
  /* Apply keeps it; PreviewConfig (anyone may call it) never shows it. */
  g_assert_true (keys->kept);
  {
    g_autofree char *shown = nts_rendered_file_preview (keys);

    g_assert_null (strstr (shown, "HEX:"));
    g_assert_null (strstr (shown, "my keys"));
    g_assert_true (g_str_has_prefix (shown, "# kept as it is"));
    g_assert_nonnull (strstr (shown, "owner root:chrony, mode 0640"));
  }
  temp_tree_remove (root);
}

static void
expect_keys_refused (const char *root, GQuark domain, int code)
{
  g_autoptr(NtsLayout) layout = layout_for ("debian", root);
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GError) error = NULL;

  files = nts_render_files (layout, reference_servers, 3, &error);
  g_assert_null (files);
  g_assert_error (error, domain, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "keys file"));
}

static void
test_render_files_refuses_bad_keys (void)
{
  g_autofree char *big = g_strnfill (70 * 1024, 'x');
  g_autofree char *link_file = temp_tree_new ();
  g_autofree char *link_dir = temp_tree_new ();
  g_autofree char *directory = temp_tree_new ();
  g_autofree char *too_big = temp_tree_new ();
  g_autofree char *binary = temp_tree_new ();

  /* A link in place of the keys file ... */
  temp_tree_write (link_file, "/etc/secret", "root:secret\n", 0644);
  temp_tree_symlink (link_file, "/etc/chrony/chrony.keys", "../secret");
  expect_keys_refused (link_file, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);

  /* ... or in place of its directory. */
  temp_tree_write (link_dir, "/srv/chrony/chrony.keys", "1 SHA1 HEX:00\n", 0644);
  temp_tree_symlink (link_dir, "/etc/chrony", "../srv/chrony");
  expect_keys_refused (link_dir, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);

  /* Not a regular file. */
  temp_tree_write (directory, "/etc/chrony/chrony.keys/x", "", 0644);
  expect_keys_refused (directory, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);

  /* Too large to be a keys file. */
  temp_tree_write (too_big, "/etc/chrony/chrony.keys", big, 0644);
  expect_keys_refused (too_big, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);

  /* Not text: it could not travel in PreviewConfig's a{ss}. */
  temp_tree_write (binary, "/etc/chrony/chrony.keys", "1 MD5 \377\376\n", 0644);
  expect_keys_refused (binary, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);

  for (const char *const *root = (const char *const[]) { link_file, link_dir, directory, too_big, binary, NULL };
       *root; root++)
    temp_tree_remove (*root);
}

static void
test_render_files_invalid_servers (void)
{
  const char *const bad[] = { "a.example.com", "b.example.com#", NULL };
  g_autoptr(NtsLayout) layout = layout_for ("debian", "/nonexistent-root");
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GError) error = NULL;

  files = nts_render_files (layout, bad, 1, &error);
  g_assert_null (files);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  files = nts_render_files (layout, reference_servers, 7, &error);
  g_assert_null (files);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
}

/* A rendered file is written with the owner and group it names; an
 * unknown name writes nothing. */
static void
test_rendered_file_write (void)
{
  g_autofree char *host = temp_tree_new ();
  g_autoptr(NtsRoot) root = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsFileData) read = NULL;
  g_autofree char *group = nts_group_name (temp_tree_some_group ());
  NtsRenderedFile file = {
    .path = (char *) "/etc/chrony.keys", .content = (char *) "1 SHA256 HEX:00\n",
    .mode = 0640, .owner = (char *) "root", .group = group,
  };

  if (getuid () != 0)
    {
      g_test_skip ("needs root to chown");
      temp_tree_remove (host);
      return;
    }
  root = nts_root_open (host, &error);
  g_assert_no_error (error);
  temp_tree_write (host, "/etc/other-file", "", 0644);
  g_assert_true (nts_rendered_file_write (&file, root, &error));
  g_assert_no_error (error);
  read = nts_root_read (root, "/etc/chrony.keys", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (read->gid, ==, temp_tree_some_group ());
  g_assert_cmpuint (read->mode, ==, 0640);

  /* An unknown name is a clear error, and nothing is written. */
  file.path = (char *) "/etc/other";
  file.group = (char *) "no-such-group-ntssetup";
  g_assert_false (nts_rendered_file_write (&file, root, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "cannot write /etc/other"));
  g_assert_nonnull (strstr (error->message, "no group named 'no-such-group-ntssetup'"));
  g_clear_error (&error);
  g_clear_pointer (&read, nts_file_data_free);
  read = nts_root_read (root, "/etc/other", 0, &error);
  g_assert_no_error (error);
  g_assert_false (read->exists);

  g_assert_false (nts_lookup_user ("no-such-user-ntssetup", &(uid_t){0}, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no user named 'no-such-user-ntssetup' on this system");
  temp_tree_remove (host);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (profile_names); i++)
    {
      const char *p = profile_names[i];
      g_autofree char *conf = g_strdup_printf ("/render/chrony-conf/%s", p);
      g_autofree char *parses = g_strdup_printf ("/render/chronyd-parses/%s", p);
      g_autofree char *apparmor = g_strdup_printf ("/render/apparmor/%s", p);
      g_autofree char *dropin = g_strdup_printf ("/render/dropin/%s", p);

      g_test_add_data_func (conf, p, test_chrony_conf);
      g_test_add_data_func (parses, p, test_chronyd_parses);
      g_test_add_data_func (apparmor, p, test_apparmor_paths);
      g_test_add_data_func (dropin, p, test_dropin);
    }
  g_test_add_func ("/render/chrony-conf/min-sources", test_chrony_conf_min_sources);
  g_test_add_func ("/render/chrony-conf/no-cert-time-check",
                   test_chrony_conf_no_cert_time_check);
  g_test_add_func ("/render/apparmor/glob", test_glob);
  g_test_add_func ("/render/keys-file", test_keys_file_content);
  g_test_add_func ("/render/ntp-units/debian", test_ntp_units);
  g_test_add_func ("/render/ntp-units/timesyncd-only", test_ntp_units_timesyncd_only);
  g_test_add_func ("/render/ntp-units/masked", test_ntp_units_masked);
  g_test_add_func ("/render/ntp-units/arch", test_ntp_units_arch);
  g_test_add_func ("/render/ntp-units/alias", test_ntp_units_alias);
  g_test_add_func ("/render/files", test_render_files);
  g_test_add_func ("/render/files/keeps-keys", test_render_files_keeps_keys);
  g_test_add_func ("/render/files/refuses-bad-keys", test_render_files_refuses_bad_keys);
  g_test_add_func ("/render/files/invalid-servers", test_render_files_invalid_servers);
  g_test_add_func ("/render/files/write", test_rendered_file_write);

  return g_test_run ();
}
