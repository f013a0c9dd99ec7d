/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ensure-chrony step of Apply and its undo, through PackageKit
 * (packagekit-client.h): what installing chrony would change, installing
 * it, and putting the packages back as they were.
 *
 * Debian's chrony and systemd-timesyncd conflict: installing one removes
 * the other. The plan says so before anything happens, the install
 * returns it, the snapshot keeps it (nts_snapshot_store_record_packages())
 * and the undo reinstalls systemd-timesyncd.
 *
 * The caller checks org.ntssetup.manager.install for ITS caller first:
 * polkitd authorises uid 0 for everything, so PackageKit's own check is
 * no check at all when ntssetupd asks.
 *
 * Errors: G_IO_ERROR_CANCELLED when cancelled, else NTS_ERROR_FAILED with
 * what was being done and PackageKit's own error text (or that PackageKit
 * is not available at all). */
#pragma once

#include <gio/gio.h>

#include "layout.h"
#include "package-changes.h"

G_BEGIN_DECLS

/* The package that brings chronyd on every distribution we know. */
#define NTS_CHRONY_PACKAGE "chrony"

/* What installing chrony would change, from a SIMULATE run (nothing
 * changes): installed [chrony, its dependencies], removed [on Debian,
 * systemd-timesyncd]. Empty when chrony is installed already. */
void               nts_ensure_chrony_plan_async  (GDBusConnection     *bus,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
NtsPackageChanges *nts_ensure_chrony_plan_finish (GAsyncResult        *result,
                                                  GError             **error);

/* Installs chrony (ONLY_TRUSTED, non-interactive, each PackageKit
 * transaction bounded); returns what changed. Empty when chrony was
 * installed already. */
void               nts_ensure_chrony_install_async  (GDBusConnection     *bus,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
NtsPackageChanges *nts_ensure_chrony_install_finish (GAsyncResult        *result,
                                                     GError             **error);

/* Undoes @changes: reinstalls what was removed, then removes what was
 * installed. In that order so the machine always has one of the two time
 * daemons' packages, and because on Debian the reinstall itself takes
 * chrony away. Refuses (before changing anything) when the reinstall
 * would remove a package @changes did not install. Idempotent: a package
 * already where it should be is skipped, so crash recovery may run it
 * again. */
void     nts_packages_undo_async  (GDBusConnection          *bus,
                                   const NtsPackageChanges  *changes,
                                   GCancellable             *cancellable,
                                   GAsyncReadyCallback       callback,
                                   gpointer                  user_data);
gboolean nts_packages_undo_finish (GAsyncResult             *result,
                                   GError                  **error);

/* For ChronyMissing: what a person runs to install chrony on this
 * distribution ("apt install chrony"), from layout->profile. */
const char *nts_chrony_install_command (const NtsLayout *layout);

/* Tests only: the bound of each PackageKit transaction (0: packagekit-client's
 * defaults, minutes for an install). */
void nts_ensure_chrony_set_timeout_ms (guint timeout_ms);

G_END_DECLS
