/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See journal.h for the format and why it is rewritten whole. */

#include "journal.h"

#include <string.h>

#include "snapshot-store.h"

#define JOURNAL        "journal"
#define GROUP          "transaction"
#define FORMAT_VERSION 1

struct _NtsJournal {
  NtsRoot        *root;      /* borrowed */
  char           *path;
  NtsJournalKind  kind;
  char           *snapshot_id;
  gint64          started;
  GPtrArray      *steps;     /* char*, NULL-terminated */
};

void
nts_journal_entry_free (NtsJournalEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->snapshot_id);
  g_strfreev (entry->steps);
  g_free (entry);
}

const char *
nts_journal_kind_to_string (NtsJournalKind kind)
{
  switch (kind)
    {
    case NTS_JOURNAL_APPLY:
      return "apply";
    case NTS_JOURNAL_ROLLBACK:
      return "rollback";
    case NTS_JOURNAL_UNKNOWN:
    default:
      return "unknown";
    }
}

static NtsJournalKind
kind_from_string (const char *text)
{
  if (g_strcmp0 (text, "apply") == 0)
    return NTS_JOURNAL_APPLY;
  if (g_strcmp0 (text, "rollback") == 0)
    return NTS_JOURNAL_ROLLBACK;
  return NTS_JOURNAL_UNKNOWN;
}

static gboolean
step_name_is_valid (const char *step)
{
  return step != NULL && step[0] != '\0' && strlen (step) <= 64 &&
         strspn (step, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen (step);
}

static char *
journal_path (const char *state_dir)
{
  return g_strconcat (state_dir != NULL ? state_dir : NTS_SNAPSHOT_STATE_DIR, "/" JOURNAL, NULL);
}

static gboolean
write_journal (NtsJournal *journal, GError **error)
{
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autofree char *text = NULL;
  gsize length;

  g_key_file_set_integer (keys, GROUP, "format", FORMAT_VERSION);
  g_key_file_set_string (keys, GROUP, "kind", nts_journal_kind_to_string (journal->kind));
  g_key_file_set_string (keys, GROUP, "snapshot", journal->snapshot_id);
  g_key_file_set_int64 (keys, GROUP, "started", journal->started);
  g_key_file_set_string_list (keys, GROUP, "steps",
                              (const char *const *) journal->steps->pdata, journal->steps->len - 1);
  /* Last, so that a file cut short anywhere lacks it. */
  g_key_file_set_boolean (keys, GROUP, "end", TRUE);
  text = g_key_file_to_data (keys, &length, NULL);
  return nts_root_write_atomic (journal->root, journal->path, text, length, 0, 0, 0600, error);
}

static NtsJournal *
journal_new (NtsRoot *root, const char *state_dir, NtsJournalKind kind, const char *snapshot_id)
{
  NtsJournal *journal = g_new0 (NtsJournal, 1);

  journal->root = root;
  journal->path = journal_path (state_dir);
  journal->kind = kind;
  journal->snapshot_id = g_strdup (snapshot_id);
  journal->started = g_get_real_time ();
  journal->steps = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (journal->steps, NULL);
  return journal;
}

NtsJournal *
nts_journal_begin (NtsRoot         *root,
                   const char      *state_dir,
                   NtsJournalKind   kind,
                   const char      *snapshot_id,
                   GError         **error)
{
  g_autoptr(NtsJournal) journal = NULL;
  gboolean exists;

  g_return_val_if_fail (kind == NTS_JOURNAL_APPLY || kind == NTS_JOURNAL_ROLLBACK, NULL);
  g_return_val_if_fail (nts_snapshot_id_is_valid (snapshot_id), NULL);

  if (!nts_root_ensure_dir (root, state_dir != NULL ? state_dir : NTS_SNAPSHOT_STATE_DIR,
                            0, 0, 0700, TRUE, error))
    return NULL;
  journal = journal_new (root, state_dir, kind, snapshot_id);
  if (!nts_root_lstat (root, journal->path, NULL, &exists, error))
    return NULL;
  if (exists)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "cannot begin a transaction: %s holds an unfinished one; "
                   "it must be recovered first", journal->path);
      return NULL;
    }
  if (!write_journal (journal, error))
    return NULL;
  return g_steal_pointer (&journal);
}

NtsJournal *
nts_journal_resume (NtsRoot                *root,
                    const char             *state_dir,
                    const NtsJournalEntry  *entry,
                    GError                **error)
{
  g_autoptr(NtsJournal) journal = NULL;

  g_return_val_if_fail (entry != NULL, NULL);

  journal = journal_new (root, state_dir, entry->kind, entry->snapshot_id);
  if (entry->started != 0)
    journal->started = entry->started;
  for (char **s = entry->steps; s != NULL && *s != NULL; s++)
    g_ptr_array_insert (journal->steps, journal->steps->len - 1, g_strdup (*s));
  /* A torn Rollback's file is replaced by a whole one that says what we
   * know: none of its steps done, so all run again. Not an Apply's: an
   * empty step list would tell the next recovery that nothing is left to
   * undo, where torn tells it to undo everything. */
  if (entry->torn && entry->snapshot_id != NULL && entry->kind == NTS_JOURNAL_ROLLBACK &&
      !write_journal (journal, error))
    return NULL;
  return g_steal_pointer (&journal);
}

gboolean
nts_journal_step_done (NtsJournal *journal, const char *step, GError **error)
{
  g_return_val_if_fail (step_name_is_valid (step), FALSE);

  g_ptr_array_insert (journal->steps, journal->steps->len - 1, g_strdup (step));
  if (write_journal (journal, error))
    return TRUE;
  /* Not on disk, so not done as far as recovery knows. */
  g_ptr_array_remove_index (journal->steps, journal->steps->len - 2);
  return FALSE;
}

const char *const *
nts_journal_get_steps (NtsJournal *journal)
{
  return (const char *const *) journal->steps->pdata;
}

gboolean
nts_journal_finish (NtsJournal *journal, GError **error)
{
  return nts_root_remove (journal->root, journal->path, NULL, error);
}

void
nts_journal_free (NtsJournal *journal)
{
  if (journal == NULL)
    return;
  g_free (journal->path);
  g_free (journal->snapshot_id);
  g_ptr_array_unref (journal->steps);
  g_free (journal);
}

NtsJournalEntry *
nts_journal_load (NtsRoot *root, const char *state_dir, GError **error)
{
  g_autofree char *path = journal_path (state_dir);
  g_autoptr(NtsFileData) data = NULL;
  const char *text;
  gsize size;

  data = nts_root_read (root, path, 64 * 1024, error);
  if (data == NULL)
    return NULL;
  if (!data->exists)
    return NULL;

  text = g_bytes_get_data (data->content, &size);
  return nts_journal_parse (text, size);
}

NtsJournalEntry *
nts_journal_parse (const char *text, gsize size)
{
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autoptr(NtsJournalEntry) entry = g_new0 (NtsJournalEntry, 1);
  g_autofree char *kind = NULL;
  g_autofree char *snapshot = NULL;
  g_auto(GStrv) steps = NULL;
  gboolean parsed;

  parsed = g_key_file_load_from_data (keys, text != NULL ? text : "", size, G_KEY_FILE_NONE, NULL);
  /* Whatever a damaged file still tells is kept; the steps only count when
   * the whole file is there. */
  kind = parsed ? g_key_file_get_string (keys, GROUP, "kind", NULL) : NULL;
  snapshot = parsed ? g_key_file_get_string (keys, GROUP, "snapshot", NULL) : NULL;
  entry->kind = kind_from_string (kind);
  entry->snapshot_id = nts_snapshot_id_is_valid (snapshot) ? g_steal_pointer (&snapshot) : NULL;
  entry->started = parsed ? g_key_file_get_int64 (keys, GROUP, "started", NULL) : 0;
  entry->torn = !parsed ||
                g_key_file_get_integer (keys, GROUP, "format", NULL) != FORMAT_VERSION ||
                !g_key_file_get_boolean (keys, GROUP, "end", NULL) ||
                entry->kind == NTS_JOURNAL_UNKNOWN ||
                entry->snapshot_id == NULL;
  steps = !entry->torn ? g_key_file_get_string_list (keys, GROUP, "steps", NULL, NULL) : NULL;
  for (char **s = steps; s != NULL && *s != NULL && !entry->torn; s++)
    if (!step_name_is_valid (*s))
      entry->torn = TRUE;
  if (entry->torn || steps == NULL)
    entry->steps = g_new0 (char *, 1);
  else
    entry->steps = g_steal_pointer (&steps);
  return g_steal_pointer (&entry);
}
