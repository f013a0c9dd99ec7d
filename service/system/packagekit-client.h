/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PackageKit over D-Bus (org.freedesktop.PackageKit): resolve names,
 * install (first simulated, to learn what else changes) and remove.
 *
 * One transaction per operation: CreateTransaction, SetHints
 * (non-interactive), the method, then the Package/ErrorCode signals up to
 * Finished, waited for with a bound; on timeout or cancellation the
 * transaction is asked to Cancel. Installs are ONLY_TRUSTED.
 *
 * The caller's own polkit check (org.ntssetup.manager.install) is not
 * here: polkitd authorises uid 0 for anything, so the caller must have
 * checked *its* caller before coming here. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* PackageKit's own error codes (PkErrorEnum: 7 package-not-installed,
 * 8 package-not-found, 41 all-packages-already-installed, ...), with its
 * details in the message. */
#define NTS_PACKAGEKIT_ERROR (nts_packagekit_error_quark ())
GQuark nts_packagekit_error_quark (void);

#define NTS_PK_ERROR_PACKAGE_NOT_INSTALLED           7
#define NTS_PK_ERROR_PACKAGE_NOT_FOUND               8
#define NTS_PK_ERROR_ALL_PACKAGES_ALREADY_INSTALLED 41
/* Not PackageKit's: the transaction ended "need-untrusted" (ONLY_TRUSTED
 * refused), "failed" without an ErrorCode, or another non-success exit. */
#define NTS_PK_ERROR_EXIT                         1000

/* PkInfoEnum values in Package signals. */
#define NTS_PK_INFO_INSTALLED   1
#define NTS_PK_INFO_AVAILABLE   2
#define NTS_PK_INFO_INSTALLING 12
#define NTS_PK_INFO_REMOVING   13

/* PkFilterEnum bits for Resolve. */
#define NTS_PK_FILTER_INSTALLED     (G_GUINT64_CONSTANT (1) << 2)
#define NTS_PK_FILTER_NOT_INSTALLED (G_GUINT64_CONSTANT (1) << 3)
#define NTS_PK_FILTER_NEWEST        (G_GUINT64_CONSTANT (1) << 16)
#define NTS_PK_FILTER_ARCH          (G_GUINT64_CONSTANT (1) << 18)

/* Bounds: a Resolve reads the cache; an install may download. */
#define NTS_PACKAGEKIT_RESOLVE_TIMEOUT_MS  60000
#define NTS_PACKAGEKIT_INSTALL_TIMEOUT_MS 900000

typedef struct {
  guint  info;        /* NTS_PK_INFO_* */
  char  *package_id;  /* "chrony;4.3-2+deb12u1;amd64;debian-bookworm-main" */
  char  *summary;
} NtsPackage;

void        nts_package_free        (NtsPackage *package);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsPackage, nts_package_free)
/* The name part of a package id ("chrony"). */
char       *nts_package_id_name     (const char *package_id);

/* Resolve(filter, names): one NtsPackage per match. Unknown names give
 * nothing (PackageKit does not fail for them). */
void nts_packagekit_resolve_async (GDBusConnection     *bus,
                                   const char * const  *names,
                                   guint64              filter,
                                   guint                timeout_ms,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);

/* InstallPackages(ONLY_TRUSTED [| SIMULATE], ids). The result lists what
 * changes: "installing" for the packages asked for and their dependencies,
 * "removing" for what goes away (on Debian, chrony removes
 * systemd-timesyncd). With @simulate nothing changes. */
void nts_packagekit_install_async (GDBusConnection     *bus,
                                   const char * const  *package_ids,
                                   gboolean             simulate,
                                   guint                timeout_ms,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);

/* RemovePackages([SIMULATE], ids, allow_deps=false, autoremove=false):
 * never takes other packages with it. */
void nts_packagekit_remove_async  (GDBusConnection     *bus,
                                   const char * const  *package_ids,
                                   gboolean             simulate,
                                   guint                timeout_ms,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);

/* By name: Resolve (newest, native architecture, not installed / installed)
 * and then install or remove those ids. A name that does not resolve is
 * NTS_PK_ERROR_PACKAGE_NOT_FOUND (install) or
 * NTS_PK_ERROR_PACKAGE_NOT_INSTALLED (remove) without a second
 * transaction. Rollback reinstalls systemd-timesyncd this way. */
void nts_packagekit_install_names_async (GDBusConnection     *bus,
                                         const char * const  *names,
                                         gboolean             simulate,
                                         guint                timeout_ms,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
void nts_packagekit_remove_names_async  (GDBusConnection     *bus,
                                         const char * const  *names,
                                         gboolean             simulate,
                                         guint                timeout_ms,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);

/* For all of the above: a GPtrArray of NtsPackage, in signal order.
 * @timeout_ms 0 takes the NTS_PACKAGEKIT_*_TIMEOUT_MS default. Errors:
 * NTS_PACKAGEKIT_ERROR, G_IO_ERROR_TIMED_OUT, G_IO_ERROR_CANCELLED, or
 * the D-Bus error of a call. */
GPtrArray *nts_packagekit_finish (GAsyncResult  *result,
                                  GError       **error);

/* Whether @error says a package could not be authenticated, so that
 * ONLY_TRUSTED refused it: the ErrorCodes with which PackageKit ends a
 * transaction "need-untrusted" (it sets that exit only through them). */
gboolean nts_packagekit_error_is_untrusted   (const GError *error);

/* Whether @error says there is no PackageKit: its name has no owner and
 * nothing on the bus can start it. */
gboolean nts_packagekit_error_is_unavailable (const GError *error);

G_END_DECLS
