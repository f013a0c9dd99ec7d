/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The transaction journal: begin/step/finish, a journal left behind found
 * by load(), resumed, and torn (cut at every byte, or garbage) journals
 * reported as unfinished with no step done. */

#include "journal.h"
#include "temp-tree.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define STATE "/var/lib/ntssetup"
#define ID    "20261127T044512Z-000123"

typedef struct {
  char    *host;
  char    *file;   /* host path of the journal */
  NtsRoot *root;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->host = temp_tree_new ();
  f->file = g_build_filename (f->host, STATE, "journal", NULL);
  f->root = nts_root_open (f->host, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  nts_root_unref (f->root);
  temp_tree_remove (f->host);
  g_free (f->host);
  g_free (f->file);
}

static NtsJournalEntry *
load (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  NtsJournalEntry *entry = nts_journal_load (f->root, NULL, &error);

  g_assert_no_error (error);
  return entry;
}

static void
test_begin_step_finish (Fixture *f, gconstpointer data)
{
  static const char *const done[] = { "write-chrony-conf", "write-keys-file", "reload", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsJournal) journal = NULL;
  NtsJournalEntry *entry;
  struct stat st;

  g_assert_null (load (f));

  journal = nts_journal_begin (f->root, NULL, NTS_JOURNAL_APPLY, ID, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_lstat (f->file, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0600);

  entry = load (f);
  g_assert_nonnull (entry);
  g_assert_cmpint (entry->kind, ==, NTS_JOURNAL_APPLY);
  g_assert_cmpstr (entry->snapshot_id, ==, ID);
  g_assert_false (entry->torn);
  g_assert_cmpuint (g_strv_length (entry->steps), ==, 0);
  g_assert_cmpint (ABS (entry->started - g_get_real_time ()), <, 60 * G_USEC_PER_SEC);
  nts_journal_entry_free (entry);

  for (guint i = 0; done[i] != NULL; i++)
    {
      g_assert_true (nts_journal_step_done (journal, done[i], &error));
      g_assert_no_error (error);
      entry = load (f);
      g_assert_cmpuint (g_strv_length (entry->steps), ==, i + 1);
      g_assert_cmpstr (entry->steps[i], ==, done[i]);
      nts_journal_entry_free (entry);
    }
  g_assert_cmpstrv (nts_journal_get_steps (journal), done);

  /* One transaction at a time. */
  {
    g_autoptr(NtsJournal) second = nts_journal_begin (f->root, NULL, NTS_JOURNAL_ROLLBACK, ID, &error);

    g_assert_null (second);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_clear_error (&error);
  }

  g_assert_true (nts_journal_finish (journal, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (f->file, G_FILE_TEST_EXISTS));
  g_assert_null (load (f));
  /* Nothing but the journal was ever in the state directory. */
  {
    g_autofree char *dir = g_build_filename (f->host, STATE, NULL);
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);

    g_assert_null (g_dir_read_name (d));
  }
}

/* A daemon that died mid-transaction leaves the journal; the next start
 * finds it, and a recovered Rollback goes on recording its steps. */
static void
test_left_behind (Fixture *f, gconstpointer data)
{
  static const char *const all[] = { "restore-files", "enable-timesyncd", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsJournalEntry) entry = NULL;
  g_autoptr(NtsJournal) resumed = NULL;
  NtsJournal *journal;

  journal = nts_journal_begin (f->root, STATE, NTS_JOURNAL_ROLLBACK, ID, &error);
  g_assert_no_error (error);
  g_assert_true (nts_journal_step_done (journal, "restore-files", &error));
  g_assert_no_error (error);
  nts_journal_free (journal);   /* the crash */

  entry = load (f);
  g_assert_nonnull (entry);
  g_assert_cmpint (entry->kind, ==, NTS_JOURNAL_ROLLBACK);
  g_assert_cmpstr (nts_journal_kind_to_string (entry->kind), ==, "rollback");
  g_assert_cmpstr (entry->snapshot_id, ==, ID);
  g_assert_false (entry->torn);
  g_assert_cmpuint (g_strv_length (entry->steps), ==, 1);

  resumed = nts_journal_resume (f->root, NULL, entry, &error);
  g_assert_no_error (error);
  g_assert_true (nts_journal_step_done (resumed, "enable-timesyncd", &error));
  g_assert_no_error (error);
  g_clear_pointer (&entry, nts_journal_entry_free);
  entry = load (f);
  g_assert_cmpstrv (entry->steps, all);
  g_assert_cmpint (entry->started, !=, 0);
  g_assert_true (nts_journal_finish (resumed, &error));
  g_assert_no_error (error);
  g_assert_null (load (f));
}

static void
assert_torn (NtsJournalEntry *entry)
{
  g_assert_nonnull (entry);
  g_assert_true (entry->torn);
  g_assert_nonnull (entry->steps);
  g_assert_cmpuint (g_strv_length (entry->steps), ==, 0);
  g_assert_true (entry->snapshot_id == NULL || g_str_equal (entry->snapshot_id, ID));
}

/* Cut at every byte: never a crash, never a step believed done from a
 * partial file. */
static void
test_torn (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *full = NULL;
  gsize length;
  NtsJournal *journal;

  journal = nts_journal_begin (f->root, NULL, NTS_JOURNAL_APPLY, ID, &error);
  g_assert_no_error (error);
  g_assert_true (nts_journal_step_done (journal, "write-chrony-conf", &error));
  g_assert_true (nts_journal_step_done (journal, "write-keys-file", &error));
  g_assert_no_error (error);
  nts_journal_free (journal);
  g_assert_true (g_file_get_contents (f->file, &full, &length, NULL));

  for (gsize cut = 0; cut < length; cut++)
    {
      g_autoptr(NtsJournalEntry) entry = NULL;

      g_assert_true (g_file_set_contents (f->file, full, cut, NULL));
      entry = load (f);
      /* Only the final newline may go without losing anything. */
      if (cut == length - 1 && !entry->torn)
        g_assert_cmpuint (g_strv_length (entry->steps), ==, 2);
      else
        assert_torn (entry);
    }

  /* Garbage, a NUL in the middle, a wrong format, an unknown kind. */
  {
    static const char *const junk[] = {
      "\xff\xfe\x00\x01 not a key file",
      "[transaction]\nformat=2\nkind=apply\nsnapshot=" ID "\nsteps=a;\nend=true\n",
      "[transaction]\nformat=1\nkind=explode\nsnapshot=" ID "\nsteps=a;\nend=true\n",
      "[transaction]\nformat=1\nkind=apply\nsnapshot=../../x\nsteps=a;\nend=true\n",
      "[transaction]\nformat=1\nkind=apply\nsnapshot=" ID "\nsteps=Bad Step;\nend=true\n",
      NULL,
    };

    for (guint i = 0; junk[i] != NULL; i++)
      {
        g_autoptr(NtsJournalEntry) entry = NULL;

        g_assert_true (g_file_set_contents (f->file, junk[i], i == 0 ? 20 : -1, NULL));
        entry = load (f);
        assert_torn (entry);
      }
  }

  /* A torn Rollback journal that still names its snapshot is rewritten
   * whole when recovery takes it over (no step done: all run again); a
   * torn Apply journal stays torn, so that a recovery cut short again
   * still undoes every step rather than reading "nothing done". */
  for (int rollback = 0; rollback < 2; rollback++)
    {
      g_autoptr(NtsJournalEntry) entry = NULL;
      g_autoptr(NtsJournalEntry) again = NULL;
      g_autoptr(NtsJournal) resumed = NULL;
      g_autoptr(GString) text = g_string_new_len (full, length - 20);

      if (rollback)
        g_string_replace (text, "kind=apply", "kind=rollback", 1);
      g_assert_true (g_file_set_contents (f->file, text->str, text->len, NULL));
      entry = load (f);
      assert_torn (entry);
      g_assert_cmpint (entry->kind, ==, rollback ? NTS_JOURNAL_ROLLBACK : NTS_JOURNAL_APPLY);
      g_assert_cmpstr (entry->snapshot_id, ==, ID);
      resumed = nts_journal_resume (f->root, NULL, entry, &error);
      g_assert_no_error (error);
      again = load (f);
      g_assert_cmpint (again->torn, ==, !rollback);
      g_assert_cmpuint (g_strv_length (again->steps), ==, 0);
    }
}

static void
test_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsJournalEntry) entry = NULL;

  /* A link planted as the journal is an error, not followed. */
  temp_tree_write (f->host, "/elsewhere", "[transaction]\n", 0600);
  temp_tree_symlink (f->host, STATE "/journal", "/elsewhere");
  entry = nts_journal_load (f->root, NULL, &error);
  g_assert_null (entry);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
  g_clear_error (&error);
  g_assert_null (nts_journal_begin (f->root, NULL, NTS_JOURNAL_APPLY, ID, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(name, fn) g_test_add ("/journal/" name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("begin-step-finish", test_begin_step_finish);
  ADD ("left-behind", test_left_behind);
  ADD ("torn", test_torn);
  ADD ("refused", test_refused);
#undef ADD
  return g_test_run ();
}
