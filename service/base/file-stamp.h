/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What identifies one version of a file, or that it is absent: device,
 * inode, size, mode, modification and change times, from lstat() (a link
 * swapped in is a change too, and is never followed). Caches compare two
 * to know, without reading the file or starting a process, whether what
 * they were built from is still there as it was. */
#pragma once

#include <glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

typedef struct {
  gboolean        exists;
  dev_t           dev;
  ino_t           ino;
  off_t           size;
  mode_t          mode;
  struct timespec mtime;
  struct timespec ctime;
} NtsFileStamp;

/* @path NULL: an absent file. */
void     nts_file_stamp_take  (const char *path, NtsFileStamp *stamp);
gboolean nts_file_stamp_equal (const NtsFileStamp *a, const NtsFileStamp *b);

G_END_DECLS
