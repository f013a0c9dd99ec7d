/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The transaction journal: what an Apply or Rollback in progress has done,
 * on disk before its first change, so that the next start (or the
 * boot-time --recover) can roll back an unfinished Apply or finish an
 * interrupted Rollback.
 *
 * One file, <state dir>/journal (default /var/lib/ntssetup/journal, 0600
 * root:root), rewritten atomically through safe-fs (temp file, fsync,
 * rename, fsync of the directory) at begin and after every step, removed
 * by finish. Its format (GKeyFile, format 1):
 *
 *   [transaction]
 *   format=1
 *   kind=apply                       apply | rollback
 *   snapshot=20261127T044512Z-000123 the snapshot the transaction returns to
 *   started=<microseconds since the epoch>
 *   steps=snapshot;ensure-chrony;write-config;  steps done, in order
 *   end=true                         written last: without it the file is torn
 *
 * Atomic replacement means a crash leaves the old or the new file, never a
 * mix; a torn file can still come from outside (a disk error, a person).
 * It is then reported as an unfinished transaction with no step done, with
 * whatever kind and snapshot id could be read (possibly unknown): recovery
 * then undoes every step of an Apply, or restores the whole snapshot when
 * the kind is unknown, both safe to do twice.
 *
 * The step list is what recovery reads back (recovery.h): the undos of
 * the steps an Apply recorded, and of the one in flight; the steps a
 * Rollback has yet to do. */
#pragma once

#include <gio/gio.h>

#include "safe-fs.h"

G_BEGIN_DECLS

typedef enum {
  NTS_JOURNAL_APPLY,
  NTS_JOURNAL_ROLLBACK,
  NTS_JOURNAL_UNKNOWN,   /* only from a torn journal */
} NtsJournalKind;

typedef struct {
  NtsJournalKind  kind;
  char           *snapshot_id;   /* NULL when a torn journal did not say */
  gint64          started;       /* 0 when unknown */
  GStrv           steps;         /* done, in order; empty when torn */
  gboolean        torn;
} NtsJournalEntry;

void nts_journal_entry_free (NtsJournalEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsJournalEntry, nts_journal_entry_free)

const char *nts_journal_kind_to_string (NtsJournalKind kind);

typedef struct _NtsJournal NtsJournal;

/* Writes a new journal for a transaction of @kind returning to
 * @snapshot_id. Fails with G_IO_ERROR_EXISTS when one is already there:
 * an unfinished transaction is recovered first, never overwritten.
 * @state_dir NULL: /var/lib/ntssetup (created 0700 root:root). @root is
 * borrowed. */
NtsJournal *nts_journal_begin (NtsRoot         *root,
                               const char      *state_dir,
                               NtsJournalKind   kind,
                               const char      *snapshot_id,
                               GError         **error);

/* Takes over the journal @entry was loaded from, to record the steps of
 * finishing it (a recovered Rollback continues where it stopped). A torn
 * Rollback's journal is rewritten whole first (no step done); a torn
 * Apply's stays torn until its undo ends, so that a recovery cut short
 * again still undoes every step. */
NtsJournal *nts_journal_resume (NtsRoot                *root,
                                const char             *state_dir,
                                const NtsJournalEntry  *entry,
                                GError                **error);

/* Records @step ([a-z0-9-]+) as done, on disk, before returning. */
gboolean nts_journal_step_done (NtsJournal  *journal,
                                const char  *step,
                                GError     **error);

/* The steps recorded so far, in order. */
const char *const *nts_journal_get_steps (NtsJournal *journal);

/* The transaction is over (committed, or fully undone): removes the file. */
gboolean nts_journal_finish (NtsJournal  *journal,
                             GError     **error);

/* Frees the handle and leaves the file as it is. */
void nts_journal_free (NtsJournal *journal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsJournal, nts_journal_free)

/* The unfinished transaction, or NULL with no error when there is none. */
NtsJournalEntry *nts_journal_load (NtsRoot     *root,
                                   const char  *state_dir,
                                   GError     **error);

/* The parse behind nts_journal_load(): @size bytes of @text (NULL when
 * @size is 0), the file's content. Never fails: what cannot be read makes
 * a torn entry. Separate so the fuzzer (tests/fuzz-journal.c) runs the
 * daemon's own parser. */
NtsJournalEntry *nts_journal_parse (const char *text, gsize size);

G_END_DECLS
