/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a package transaction changed, by package NAME ("chrony",
 * "systemd-timesyncd"): what Apply installed and what that removed, so
 * Rollback and crash recovery can undo exactly that. Shared by
 * ensure-chrony (which produces it) and the snapshot store (which keeps
 * it), hence its own header. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  GStrv installed;   /* never NULL; empty when nothing */
  GStrv removed;
} NtsPackageChanges;

NtsPackageChanges *nts_package_changes_new_empty (void);
/* Takes neither: copies @installed and @removed (NULL = empty). */
NtsPackageChanges *nts_package_changes_new       (const char *const *installed,
                                                  const char *const *removed);
NtsPackageChanges *nts_package_changes_copy      (const NtsPackageChanges *changes);
void               nts_package_changes_free      (NtsPackageChanges *changes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsPackageChanges, nts_package_changes_free)

gboolean nts_package_changes_is_empty (const NtsPackageChanges *changes);

/* Whether @name can be a package name on any distribution we know: not
 * empty, printable ASCII without spaces or ';' (the separator of
 * PackageKit ids and of the snapshot manifest's lists). */
gboolean nts_package_name_is_valid (const char *name);

G_END_DECLS
