/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The org.ntssetup.Manager1 object: method dispatch, the one-mutating-call
 * lock, and the properties. The work itself lives in the step modules. */
#pragma once

#include <gio/gio.h>

#include "lifetime.h"
#include "safe-fs.h"

G_BEGIN_DECLS

typedef struct _NtsManager NtsManager;

/* Takes @root (the daemon's --root, opened). */
NtsManager *nts_manager_new  (GDBusConnection *connection,
                              NtsRoot         *root,
                              NtsLifetime     *lifetime);
void        nts_manager_free (NtsManager *manager);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsManager, nts_manager_free)

/* Exports the object; call before owning the bus name so no caller can
 * see the name without the object. */
gboolean    nts_manager_export (NtsManager *manager, GError **error);

/* The daemon's start: the last result from disk, an unfinished
 * transaction found (State "recovering" until the name is ours), the
 * client socket a killed daemon left swept, and the properties read
 * (ChronyInstalled from the layout, TimesyncdActive from systemd). Never
 * fails: what cannot be learned keeps its default. */
void        nts_manager_start_async  (NtsManager          *manager,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
gboolean    nts_manager_start_finish (GAsyncResult        *result,
                                      GError             **error);

/* The bus name is ours: an unfinished transaction found at start is
 * recovered now (State "recovering", mutating calls Busy meanwhile), so
 * callers can see that it happens instead of finding no service. */
void        nts_manager_name_acquired (NtsManager *manager);

G_END_DECLS
