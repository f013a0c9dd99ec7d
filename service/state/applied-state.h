/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which Apply is in place, and what the last Rollback left.
 *
 * <state dir>/applied (0600 root:root) holds the
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

/* What the last Rollback left: <state dir>/rolled-back (0600 root:root,
 * a key file written atomically, like the marker) notes, for each file
 * of the snapshot it restored, whether it exists and, if so, the sha256
 * of its content, its owner, group and mode as the restore left them.
 *
 * With no Apply in place there is no Apply's record to tell an
 * administrator's later edits from ntssetup's own work; this is that
 * record for a Rollback by id (rollback.c). Written by every Rollback
 * that completes, the recovery of an interrupted one included, just
 * before its journal is removed: a crash before that leaves the journal,
 * and recovery finishes the restore and writes the record then.
 *
 *   [rollback]
 *   format=1
 *   snapshot=<id restored>
 *   files=<number of [file N] groups>
 *   [file N]
 *   path=/etc/chrony/chrony.conf
 *   exists=true|false
 *   sha256=<hex>  uid=0  gid=0  mode=0644     (when it exists)
 *   unreadable=true   (a link or a non-file was there: always "changed") */

/* Notes the files at @paths as they are now, after Rollback restored
 * snapshot @snapshot_id, replacing what an earlier Rollback noted. */
gboolean  nts_rollback_record_save    (NtsRoot            *root,
                                       const char         *state_dir,
                                       const char         *snapshot_id,
                                       const char *const  *paths,
                                       GError            **error);

/* Whether the files the last Rollback noted differ now from what it
 * left (content, owner, group, mode, there or not). *@recorded is FALSE,
 * and *@changed too, when no Rollback noted anything. *@changed_paths
 * (may be NULL) gets the paths that differ. G_IO_ERROR_INVALID_DATA for
 * a record that can't be read as one. Writes nothing. */
gboolean  nts_rollback_record_changed (NtsRoot     *root,
                                       const char  *state_dir,
                                       gboolean    *recorded,
                                       gboolean    *changed,
                                       GStrv       *changed_paths,
                                       GError     **error);

G_END_DECLS
