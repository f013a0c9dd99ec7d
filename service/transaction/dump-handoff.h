/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Apply's nts-dump step: the preflight's NTS key exchanges handed to
 * chronyd as its own NTS dumps (nts-dump.h), so that the chronyd Apply
 * starts skips a second key exchange per server; and the removal of
 * those files again, by the step's undo and at commit.
 *
 * What the step writes must be undoable after a crash, when nothing of
 * the forward run is remembered: before the first file it notes in the
 * snapshot (nts_snapshot_store_record_step()) the directory, chronyd's
 * uid, the time and the file names it is about to write, and once they
 * are written each file's identity (device, inode, size, mtime). The
 * removal reads only that record and the directory, by descriptor, and
 * removes a file only while it is still ours: chronyd removes a dump when
 * it loads it, and writes its own (a new inode) when it stops, which are
 * not ours to remove. A file noted as planned but without an identity (a
 * crash between the write and the note) is ours when it is a regular
 * file of chronyd's user, mode 0600, modified since the plan: in that
 * window nothing else writes a dump of that name but a chronyd stopping
 * on its own.
 *
 * Never in doubt, never a failure: every server without a dump is logged
 * with the reason (never a key or a cookie), and Apply goes on. */
#pragma once

#include <gio/gio.h>

#include "safe-fs.h"
#include "snapshot-store.h"

G_BEGIN_DECLS

/* How long after the preflight's key exchanges their keys and cookies are
 * still handed to chronyd. chrony's own bounds are far longer: as a
 * server it keeps its two previous cookie keys (ntsrotate, 1 week by
 * default: a cookie it issued is good for at least 2 weeks), and as a
 * client it loads its own dump however long it was stopped, up to
 * ntsrefresh (4 weeks). Other servers may rotate much faster, and this is
 * no dump of chronyd's own: a plain Apply reaches the step within
 * seconds, one that installs chrony within minutes; beyond this bound
 * something is odd, and no dump costs only the cold start chronyd would
 * have had anyway. */
#define NTS_DUMP_HANDOFF_MAX_AGE_S 600

typedef struct {
  NtsRoot *root;
  guint support;           /* nts_dump_support_from_version() of the chronyd */
  const char *dump_dir;    /* chrony.conf's ntsdumpdir (layout->state_dir) */
  const char *user;        /* chronyd's user (layout->user) */
  NtsSnapshotStore *store; /* where the plan and the identities are noted */
  const char *snapshot_id;
  const char *step; /* the step noting them */
} NtsDumpHandoff;

/* Writes a dump for each of @results (NtsProbeResult, the preflight's,
 * asked with secrets) that passed with its keys and cookies, one per
 * address; *@written (may be NULL) counts them, and every other server
 * is logged with the reason. Returns what was noted in the snapshot (the
 * record nts_dump_handoff_remove() takes, a full reference), or NULL when
 * nothing was to be written. */
GVariant *nts_dump_handoff_write (const NtsDumpHandoff *handoff, GPtrArray *results,
                                  guint *written);

/* Wipes the keys and drops the cookies of @results: once the step is
 * done, nothing needs them. */
void nts_dump_handoff_forget_secrets (GPtrArray *results);

/* Removes each file @record (what the step noted: the a{sv} of
 * nts_snapshot_step_state()) names that is still ours; *@removed (may
 * be NULL) counts them. Gone files, a gone directory and files no longer
 * ours are no error; a record that is not one the step writes is. */
gboolean nts_dump_handoff_remove (NtsRoot *root, GVariant *record, guint *removed,
                                  GError **error);

G_END_DECLS
