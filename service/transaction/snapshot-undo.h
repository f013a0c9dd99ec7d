/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Giving back, piece by piece, what a snapshot (snapshot-store.h) holds:
 * the undos of Apply's steps (apply.c) and Rollback's steps (rollback.c)
 * are made of these. Each reads only the snapshot and the system as it is,
 * and each may run twice with the same outcome: that is what lets a
 * failed Apply, the recovery of a crashed one and a Rollback share them.
 *
 * What Apply notes in the snapshot's state for them (apply.c):
 *   'step-files' (a{ss}): the file each file step writes, by step name;
 *   'absent-dirs' (as): the directories that were missing;
 *   'log-dir' (a{sv}): path, existed, and then uid, gid and mode;
 *   'units' (a{sv}): each unit's state; 'chrony-unit', 'timesyncd-unit';
 *   'applied-before' (s): the Apply in place before this one, or "". */
#pragma once

#include <gio/gio.h>

#include "snapshot-store.h"
#include "systemd-client.h"
#include "systemd-jobs.h"

G_BEGIN_DECLS

/* The file step @step wrote, or NULL when it wrote none. A snapshot that
 * does not say (older than 'step-files') gives NULL: restore every file. */
const char *nts_snapshot_file_of_step (const NtsSnapshot *snapshot,
                                       const char        *step,
                                       gboolean          *all_files);

/* Puts back the saved file at @path (NULL: every saved file), then removes
 * the directories above it that the snapshot says were missing, when
 * empty. Each path restored or removed is added to @restored. */
gboolean nts_snapshot_undo_file (NtsRoot            *root,
                                 const NtsSnapshot  *snapshot,
                                 const char         *path,
                                 GPtrArray          *restored,
                                 GError            **error);

/* The log directory's owner and mode as they were, or gone again, with
 * the missing directories above it, when the Apply made it and it is
 * still empty. Never what is inside: its owner could have planted links. */
gboolean nts_snapshot_undo_log_dir (NtsRoot            *root,
                                    const NtsSnapshot  *snapshot,
                                    GPtrArray          *restored,
                                    GError            **error);

/* Every directory the snapshot says was missing, deepest first, when
 * empty: one that holds something now (chronyd's logs, a file someone
 * added) stays. */
gboolean nts_snapshot_undo_absent_dirs (NtsRoot            *root,
                                        const NtsSnapshot  *snapshot,
                                        GPtrArray          *restored,
                                        GError            **error);

/* The unit names the snapshot recorded ("" never: NULL when absent). */
const char *nts_snapshot_chrony_unit    (const NtsSnapshot *snapshot);
const char *nts_snapshot_timesyncd_unit (const NtsSnapshot *snapshot);

/* @unit's state when the snapshot was taken; NULL when the snapshot has
 * none or the unit did not exist then (nothing to go back to). */
NtsUnitState *nts_snapshot_unit_state (const NtsSnapshot *snapshot,
                                       const char        *unit);

/* Puts @unit back as the snapshot found it: its enablement, then running
 * or not. A unit the snapshot found missing (chrony before its install)
 * is stopped and its unit file left alone; a unit missing now (gone with
 * its package, or never installed) is left alone. @at_boot: chronyd's
 * unit is ordered after the boot-time recovery, so a chronyd that is to
 * run only gets its enablement back, and boot starts it. @start_later: a
 * unit that was running only gets its enablement back too, and the caller
 * starts it once the files it reads are back. The result is the
 * "unit-changes" line, or NULL with no error when nothing was to be done;
 * *@restart (optional) says whether a running chronyd must be restarted to
 * read restored files (it was running, and is not left to boot). */
void   nts_snapshot_undo_unit_async  (GDBusConnection     *bus,
                                      const NtsSnapshot   *snapshot,
                                      const char          *unit,
                                      gboolean             at_boot,
                                      gboolean             start_later,
                                      guint                job_timeout_ms,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
char  *nts_snapshot_undo_unit_finish (GAsyncResult        *result,
                                      gboolean            *restart,
                                      GError             **error);

G_END_DECLS
