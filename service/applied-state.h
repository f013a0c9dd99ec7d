/* Which Apply is in place: <state dir>/applied (0600 root:root) holds the
 * id of the snapshot taken just before it, written when that Apply
 * commits and replaced or removed by Rollback. The snapshot itself records
 * what that Apply wrote (nts_snapshot_store_record_applied), so the State
 * property can tell "applied" from "modified-outside", and a Rollback
 * knows which files to compare before it overwrites anything.
 *
 * A marker of its own rather than "the newest snapshot": a failed Apply
 * and a Rollback leave snapshots behind that are not what is in place. */
#pragma once

#include <gio/gio.h>

#include "safe-fs.h"

G_BEGIN_DECLS

/* The id in place, or NULL (and no error) when none is: nothing applied
 * yet, or rolled back to before every Apply. A marker that is not a
 * snapshot id is G_IO_ERROR_INVALID_DATA. @state_dir NULL: the default. */
char     *nts_applied_state_get (NtsRoot     *root,
                                 const char  *state_dir,
                                 GError     **error);

/* Records @id as in place (NULL: none), atomically. */
gboolean  nts_applied_state_set (NtsRoot     *root,
                                 const char  *state_dir,
                                 const char  *id,
                                 GError     **error);

G_END_DECLS
