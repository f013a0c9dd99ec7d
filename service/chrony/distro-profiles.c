/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The distribution profiles, and choosing one from os-release.
 *
 * A profile is only the fallback of NtsLayout: the installed chronyd and
 * systemd are asked first (layout.c). Each entry says where its values come
 * from, so a packaging change upstream is easy to check against. */

#include "distro-profiles.h"

#include <string.h>

static const char *const debian_ids[] = { "debian", "ubuntu", NULL };
static const char *const arch_ids[] = { "arch", "archarm", "manjaro", NULL };
static const char *const fedora_ids[] = { "fedora", "rhel", "centos", NULL };

static const NtsDistroProfile profiles[] = {
  /* Debian's chrony package (./configure --with-user=_chrony, its own
   * chrony.service with Alias=chronyd.service, and
   * EnvironmentFile=-/etc/default/chrony + ExecStart=... $DAEMON_OPTS).
   * The alias only exists while the unit is enabled. */
  {
    .name = "debian",
    .os_ids = debian_ids,
    .chronyd_path = "/usr/sbin/chronyd",
    .config_file = "/etc/chrony/chrony.conf",
    .keys_file = "/etc/chrony/chrony.keys",
    .log_dir = "/var/log/chrony",
    .state_dir = "/var/lib/chrony",
    .run_dir = "/run/chrony",
    .socket_path = "/run/chrony/chronyd.sock",
    .user = "_chrony",
    .unit = "chrony.service",
    .unit_alias = "chronyd.service",
    .options_env_file = "/etc/default/chrony",
    .options_var = "DAEMON_OPTS",
  },
  /* Arch's chrony package builds with --sbindir=/usr/bin --with-user=chrony
   * and installs upstream's examples/chronyd.service with only /usr/sbin
   * changed to /usr/bin, so the unit reads upstream's
   * EnvironmentFile=-/etc/sysconfig/chronyd and $OPTIONS (the file is
   * optional and absent by default, but that is what the unit reads). */
  {
    .name = "arch",
    .os_ids = arch_ids,
    .chronyd_path = "/usr/bin/chronyd",
    .config_file = "/etc/chrony.conf",
    .keys_file = "/etc/chrony.keys",
    .log_dir = "/var/log/chrony",
    .state_dir = "/var/lib/chrony",
    .run_dir = "/run/chrony",
    .socket_path = "/run/chrony/chronyd.sock",
    .user = "chrony",
    .unit = "chronyd.service",
    .unit_alias = NULL,
    .options_env_file = "/etc/sysconfig/chronyd",
    .options_var = "OPTIONS",
  },
  /* Fedora and the RHEL family: upstream's layout and unit. */
  {
    .name = "fedora",
    .os_ids = fedora_ids,
    .chronyd_path = "/usr/sbin/chronyd",
    .config_file = "/etc/chrony.conf",
    .keys_file = "/etc/chrony.keys",
    .log_dir = "/var/log/chrony",
    .state_dir = "/var/lib/chrony",
    .run_dir = "/run/chrony",
    .socket_path = "/run/chrony/chronyd.sock",
    .user = "chrony",
    .unit = "chronyd.service",
    .unit_alias = NULL,
    .options_env_file = "/etc/sysconfig/chronyd",
    .options_var = "OPTIONS",
  },
};

const NtsDistroProfile *
nts_distro_profile_lookup (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (profiles); i++)
    if (strcmp (profiles[i].name, name) == 0)
      return &profiles[i];
  return NULL;
}

char *
nts_distro_profile_names (void)
{
  GString *names = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (profiles); i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "", profiles[i].name);
  return g_string_free (names, FALSE);
}

static const NtsDistroProfile *
profile_for_os_id (const char *id)
{
  for (gsize i = 0; i < G_N_ELEMENTS (profiles); i++)
    if (g_strv_contains (profiles[i].os_ids, id))
      return &profiles[i];
  return NULL;
}

/* os-release is a list of shell variable assignments (os-release(5)):
 * KEY=value, with the value possibly in "..." (backslash escapes) or '...',
 * '#' comments and blank lines. A line that does not parse is skipped, as
 * systemd does; the last assignment of a key wins, as in a shell. */
char *
nts_os_release_get (const char *os_release, const char *key)
{
  g_auto(GStrv) lines = NULL;
  char *value = NULL;
  gsize key_len;

  g_return_val_if_fail (os_release != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  key_len = strlen (key);
  lines = g_strsplit (os_release, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      const char *line = *l;
      g_autofree char *raw = NULL;
      char *unquoted;

      while (g_ascii_isspace (*line))
        line++;
      if (*line == '#' || strncmp (line, key, key_len) != 0 || line[key_len] != '=')
        continue;

      raw = g_strstrip (g_strdup (line + key_len + 1));
      unquoted = g_shell_unquote (raw, NULL);
      if (unquoted == NULL)
        continue;
      g_free (value);
      value = unquoted;
    }

  return value;
}

const NtsDistroProfile *
nts_distro_profile_for_os_release (const char *os_release)
{
  g_autofree char *id = NULL;
  g_autofree char *id_like = NULL;
  g_auto(GStrv) like = NULL;
  const NtsDistroProfile *profile = NULL;

  g_return_val_if_fail (os_release != NULL, NULL);

  id = nts_os_release_get (os_release, "ID");
  if (id != NULL)
    {
      profile = profile_for_os_id (g_strstrip (id));
      if (profile != NULL)
        return profile;
    }

  id_like = nts_os_release_get (os_release, "ID_LIKE");
  if (id_like == NULL)
    return NULL;
  like = g_strsplit_set (id_like, " \t", -1);
  for (char **word = like; *word != NULL; word++)
    {
      if (**word == '\0')
        continue;
      profile = profile_for_os_id (*word);
      if (profile != NULL)
        return profile;
    }
  return NULL;
}
