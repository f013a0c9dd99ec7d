/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Per-distribution defaults for where chrony lives, kept as data. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *name;              /* "debian" */
  const char *const *os_ids;     /* os-release ID / ID_LIKE values it covers */
  const char *chronyd_path;
  const char *config_file;
  const char *keys_file;
  const char *log_dir;
  const char *state_dir;
  const char *run_dir;
  const char *socket_path;
  const char *user;
  const char *unit;
  const char *unit_alias;        /* the other name, or NULL */
  const char *options_env_file;
  const char *options_var;
} NtsDistroProfile;

/* Chooses from the text of an os-release file: ID first, then each ID_LIKE
 * word in order. NULL when nothing fits. */
const NtsDistroProfile *nts_distro_profile_for_os_release (const char *os_release);
const NtsDistroProfile *nts_distro_profile_lookup (const char *name);

/* "debian, arch, fedora": the names nts_distro_profile_lookup() knows, for
 * messages. */
char *nts_distro_profile_names (void);

/* The unquoted value of @key in the text of an os-release file, or NULL. */
char *nts_os_release_get (const char *os_release, const char *key);

G_END_DECLS
