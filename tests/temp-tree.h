/* A throw-away directory tree standing in for the managed system's root. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* A new empty directory under $TMPDIR. */
char *temp_tree_new (void);

/* Writes @content to @root + @path with @mode, creating directories. */
void temp_tree_write (const char *root, const char *path, const char *content, int mode);

/* A symbolic link at @root + @path pointing at @target, as given. */
void temp_tree_symlink (const char *root, const char *path, const char *target);

/* Removes @path and everything under it, never following links. */
void temp_tree_remove (const char *path);

/* A group other than root's that exists on every Debian system, for
 * tests of ownership. */
gid_t temp_tree_some_group (void);

/* Everything under a directory, for "nothing was written" assertions:
 * per entry (the directory itself is "."), its type, mode, owner, group,
 * size, the sha256 of a regular file's content and a link's target.
 * Links are recorded, never followed. */
typedef struct _TempTreeFingerprint TempTreeFingerprint;

TempTreeFingerprint *temp_tree_fingerprint      (const char *dir);
void                 temp_tree_fingerprint_free (TempTreeFingerprint *fingerprint);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TempTreeFingerprint, temp_tree_fingerprint_free)

/* The differences, one line per entry ("+ path: what", "- path: what",
 * "~ path: before -> after"), sorted by path; NULL when there are none. */
char *temp_tree_fingerprint_diff (const TempTreeFingerprint *before,
                                  const TempTreeFingerprint *after);

/* Fails the test, printing the differences, unless @dir is as @before. */
void temp_tree_assert_unchanged (const TempTreeFingerprint *before, const char *dir);

G_END_DECLS
