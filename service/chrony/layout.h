/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where chrony lives on this machine: the one answer every part of the
 * service (preview, apply, verify, rollback) asks for.
 *
 * Sources, first match wins for each field:
 *   1. <root>/etc/ntssetup/layout.conf (GKeyFile, group [chrony]; tests and
 *      unusual distributions use it),
 *   2. `chronyd -h` of the installed chronyd (compiled-in config file, user),
 *   3. systemd: LoadUnit of chrony.service / chronyd.service and the Id
 *      of the one that is loaded (the real unit behind an alias),
 *   4. the distribution profile chosen from <root>/etc/os-release.
 *
 * Every path in NtsLayout is as seen on the managed system ("/etc/...");
 * files are read through layout->root, and nts_layout_host_path() puts
 * the daemon's --root in front for what needs a path (running chronyd,
 * connecting to its socket). */
#pragma once

#include <gio/gio.h>

#include "safe-fs.h"

G_BEGIN_DECLS

typedef struct {
  NtsRoot *root;         /* a reference to the daemon's --root ("/" in production) */
  char *profile;         /* distribution profile used for defaults: "debian", "arch", "fedora" */
  char *chronyd_path;    /* /usr/sbin/chronyd */
  gboolean chrony_installed; /* chronyd_path exists under root */
  char *config_file;     /* /etc/chrony/chrony.conf */
  char *keys_file;       /* /etc/chrony/chrony.keys */
  char *log_dir;         /* /var/log/chrony */
  char *state_dir;       /* /var/lib/chrony: drift file, NTS cookie dumps */
  char *run_dir;         /* /run/chrony */
  char *socket_path;     /* /run/chrony/chronyd.sock */
  char *user;            /* user chronyd drops to: _chrony / chrony */
  char *group;           /* that user's group */
  char *unit;            /* real unit name: chrony.service / chronyd.service */
  char *timesyncd_unit;  /* systemd-timesyncd.service */
  char *options_env_file;/* /etc/default/chrony; NULL when the unit reads none */
  char *options_var;     /* DAEMON_OPTS / OPTIONS; NULL when none */
} NtsLayout;

NtsLayout *nts_layout_copy (const NtsLayout *layout);
void       nts_layout_free (NtsLayout *layout);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsLayout, nts_layout_free)

/* @system_bus may be NULL (no systemd to ask). Never fails for a missing
 * chronyd or systemd: falls back to the profile. Fails only when no
 * profile fits and no override names the paths (G_IO_ERROR_NOT_SUPPORTED,
 * the message names the missing keys), or when the override file is
 * malformed, names an unknown key or a value of the wrong shape
 * (G_IO_ERROR_INVALID_DATA) or can't be read (a symbolic link is
 * refused). The format is in docs/layout.md. When no profile fits and the
 * override names everything, layout->profile is "custom". */
void       nts_layout_resolve_async  (NtsRoot             *root,
                                      GDBusConnection     *system_bus,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
NtsLayout *nts_layout_resolve_finish (GAsyncResult        *result,
                                      GError             **error);

/* The host path of --root + @path, without doubling slashes. */
char *nts_layout_host_path (const NtsLayout *layout, const char *path);

G_END_DECLS
