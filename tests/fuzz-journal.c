/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the transaction journal parser (service/state/journal.c).
 * The next start and the boot-time --recover read the journal to finish
 * or undo a transaction; a crash, a disk error or a person can leave it
 * torn or edited, and recovery must still take a safe path.
 *
 * The input is the journal file, given to nts_journal_parse(), the parse
 * nts_journal_load() runs on the bytes it read. Checked beyond sanitizer
 * faults: a whole (not torn) entry has a known kind, a valid snapshot id
 * and only step names of [a-z0-9-]; a torn one has no steps; any snapshot
 * id kept is a valid one (it becomes a path). */
#include "fuzz.h"

#include <string.h>

#include "journal.h"
#include "snapshot-store.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_memdup2 (data, size);
  g_autoptr(NtsJournalEntry) entry = NULL;

  nts_fuzz_allow_gkeyfile_double_error ();
  entry = nts_journal_parse (text, size);

  NTS_FUZZ_CHECK (entry != NULL && entry->steps != NULL);
  NTS_FUZZ_CHECK (entry->snapshot_id == NULL || nts_snapshot_id_is_valid (entry->snapshot_id));
  NTS_FUZZ_CHECK (entry->kind == NTS_JOURNAL_APPLY || entry->kind == NTS_JOURNAL_ROLLBACK ||
                  entry->kind == NTS_JOURNAL_UNKNOWN);
  if (entry->torn)
    {
      NTS_FUZZ_CHECK (entry->steps[0] == NULL);
      return 0;
    }
  NTS_FUZZ_CHECK (entry->kind != NTS_JOURNAL_UNKNOWN);
  NTS_FUZZ_CHECK (entry->snapshot_id != NULL);
  for (char **s = entry->steps; *s != NULL; s++)
    NTS_FUZZ_CHECK ((*s)[0] != '\0' && strlen (*s) <= 64 &&
                    strspn (*s, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen (*s));
  return 0;
}
