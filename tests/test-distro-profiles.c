/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Choosing a distribution profile from os-release. The texts are the
 * distributions' own files, shortened to the lines that matter. */

#include "distro-profiles.h"

static const char debian12[] =
  "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
  "NAME=\"Debian GNU/Linux\"\n"
  "VERSION_ID=\"12\"\n"
  "VERSION=\"12 (bookworm)\"\n"
  "VERSION_CODENAME=bookworm\n"
  "ID=debian\n"
  "HOME_URL=\"https://www.debian.org/\"\n";

static const char ubuntu2404[] =
  "PRETTY_NAME=\"Ubuntu 24.04 LTS\"\n"
  "NAME=\"Ubuntu\"\n"
  "VERSION_ID=\"24.04\"\n"
  "VERSION=\"24.04 LTS (Noble Numbat)\"\n"
  "VERSION_CODENAME=noble\n"
  "ID=ubuntu\n"
  "ID_LIKE=debian\n"
  "UBUNTU_CODENAME=noble\n";

static const char arch[] =
  "NAME=\"Arch Linux\"\n"
  "PRETTY_NAME=\"Arch Linux\"\n"
  "ID=arch\n"
  "BUILD_ID=rolling\n"
  "ANSI_COLOR=\"38;2;23;147;209\"\n";

static const char manjaro[] =
  "NAME=\"Manjaro Linux\"\n"
  "ID=manjaro\n"
  "ID_LIKE=arch\n";

static const char endeavour[] =
  "NAME='EndeavourOS'\n"
  "ID='endeavouros'\n"
  "ID_LIKE='arch'\n";

static const char fedora[] =
  "NAME=\"Fedora Linux\"\n"
  "VERSION=\"40 (Workstation Edition)\"\n"
  "ID=fedora\n"
  "VERSION_ID=40\n";

static const char rocky[] =
  "NAME=\"Rocky Linux\"\n"
  "VERSION=\"9.4 (Blue Onyx)\"\n"
  "ID=\"rocky\"\n"
  "ID_LIKE=\"rhel centos fedora\"\n"
  "VERSION_ID=\"9.4\"\n";

static const char mint[] =
  "NAME=\"Linux Mint\"\n"
  "VERSION=\"21.3 (Virginia)\"\n"
  "ID=linuxmint\n"
  "ID_LIKE=\"ubuntu debian\"\n";

static const char unknown[] =
  "NAME=\"Alpine Linux\"\n"
  "ID=alpine\n"
  "VERSION_ID=3.20.0\n";

static const char unknown_like[] =
  "NAME=\"openSUSE Tumbleweed\"\n"
  "ID=\"opensuse-tumbleweed\"\n"
  "ID_LIKE=\"opensuse suse\"\n";

/* The quoting os-release(5) allows, and the lines a parser must skip. */
static const char quoting[] =
  "# ID=arch in a comment is no assignment\n"
  "   # nor indented\n"
  "\n"
  "NAME=\"A \\\"quoted\\\" name\"\n"
  "ID_LIKE_NOT=fedora\n"
  "XID=fedora\n"
  "ID_LIKE='debian'\n"
  "ID=\"my-distro\"\n";

static const char broken_quote[] =
  "ID=\"debian\n"
  "ID_LIKE=fedora\n";

static void
assert_profile (const char *os_release, const char *expected)
{
  const NtsDistroProfile *profile = nts_distro_profile_for_os_release (os_release);

  if (expected == NULL)
    {
      g_assert_null (profile);
      return;
    }
  g_assert_nonnull (profile);
  g_assert_cmpstr (profile->name, ==, expected);
}

static void
test_choose (void)
{
  assert_profile (debian12, "debian");
  assert_profile (ubuntu2404, "debian");
  assert_profile (mint, "debian");
  assert_profile (arch, "arch");
  assert_profile (manjaro, "arch");
  assert_profile (endeavour, "arch");
  assert_profile (fedora, "fedora");
  assert_profile (rocky, "fedora");
  assert_profile (unknown, NULL);
  assert_profile (unknown_like, NULL);
  assert_profile ("", NULL);
}

static void
test_quoting (void)
{
  g_autofree char *name = nts_os_release_get (quoting, "NAME");
  g_autofree char *id = nts_os_release_get (quoting, "ID");
  g_autofree char *missing = nts_os_release_get (quoting, "VERSION_ID");

  g_assert_cmpstr (name, ==, "A \"quoted\" name");
  g_assert_cmpstr (id, ==, "my-distro");
  g_assert_null (missing);
  /* ID unknown; ID_LIKE in single quotes decides. The comment, ID_LIKE_NOT
   * and XID do not count. */
  assert_profile (quoting, "debian");
  /* An unterminated quote makes the line void, as in a shell. */
  assert_profile (broken_quote, "fedora");
}

static void
test_last_assignment_wins (void)
{
  assert_profile ("ID=arch\nID=fedora\n", "fedora");
}

static void
test_profiles (void)
{
  const NtsDistroProfile *debian = nts_distro_profile_lookup ("debian");
  const NtsDistroProfile *arch_profile = nts_distro_profile_lookup ("arch");
  const NtsDistroProfile *fedora_profile = nts_distro_profile_lookup ("fedora");
  g_autofree char *names = nts_distro_profile_names ();

  g_assert_cmpstr (debian->config_file, ==, "/etc/chrony/chrony.conf");
  g_assert_cmpstr (debian->keys_file, ==, "/etc/chrony/chrony.keys");
  g_assert_cmpstr (debian->user, ==, "_chrony");
  g_assert_cmpstr (debian->unit, ==, "chrony.service");
  g_assert_cmpstr (debian->unit_alias, ==, "chronyd.service");
  g_assert_cmpstr (debian->options_env_file, ==, "/etc/default/chrony");
  g_assert_cmpstr (debian->options_var, ==, "DAEMON_OPTS");
  g_assert_cmpstr (debian->socket_path, ==, "/run/chrony/chronyd.sock");

  g_assert_cmpstr (arch_profile->chronyd_path, ==, "/usr/bin/chronyd");
  g_assert_cmpstr (arch_profile->config_file, ==, "/etc/chrony.conf");
  g_assert_cmpstr (arch_profile->user, ==, "chrony");
  g_assert_cmpstr (arch_profile->unit, ==, "chronyd.service");
  g_assert_null (arch_profile->unit_alias);

  g_assert_cmpstr (fedora_profile->chronyd_path, ==, "/usr/sbin/chronyd");
  g_assert_cmpstr (fedora_profile->options_env_file, ==, "/etc/sysconfig/chronyd");
  g_assert_cmpstr (fedora_profile->options_var, ==, "OPTIONS");

  g_assert_null (nts_distro_profile_lookup ("gentoo"));
  g_assert_cmpstr (names, ==, "debian, arch, fedora");

  /* Every profile keeps the keys file beside the config file, which
   * layout.c relies on when chronyd names another config file. */
  for (const char *const *n = (const char *const[]) { "debian", "arch", "fedora", NULL }; *n; n++)
    {
      const NtsDistroProfile *p = nts_distro_profile_lookup (*n);
      g_autofree char *config_dir = g_path_get_dirname (p->config_file);
      g_autofree char *keys_dir = g_path_get_dirname (p->keys_file);

      g_assert_cmpstr (config_dir, ==, keys_dir);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/distro-profiles/choose", test_choose);
  g_test_add_func ("/distro-profiles/quoting", test_quoting);
  g_test_add_func ("/distro-profiles/last-assignment-wins", test_last_assignment_wins);
  g_test_add_func ("/distro-profiles/profiles", test_profiles);

  return g_test_run ();
}
