/* SPDX-License-Identifier: GPL-2.0-or-later */
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

/* Every entry under @root (itself included, as "."), one line each, sorted
 * by path: path, type, mode, uid, gid, size, then a regular file's content
 * SHA-256 or a link's target. Never follows links. Compare two with
 * temp_tree_fingerprint_diff(). */
char *temp_tree_fingerprint (const char *root);

/* NULL when @before and @after (two temp_tree_fingerprint()s) are equal;
 * otherwise one line per difference: "- LINE" for an entry gone or
 * changed as it was, "+ LINE" as it is now. */
char *temp_tree_fingerprint_diff (const char *before, const char *after);

/* Fails the test, printing the differences, unless @dir is as @before (a
 * temp_tree_fingerprint()). */
void temp_tree_assert_unchanged (const char *before, const char *dir);

G_END_DECLS
