/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See file-stamp.h. */
#include "file-stamp.h"

#include <string.h>

void
nts_file_stamp_take (const char *path, NtsFileStamp *stamp)
{
  struct stat st;

  memset (stamp, 0, sizeof *stamp);
  if (path == NULL || lstat (path, &st) != 0)
    return;
  stamp->exists = TRUE;
  stamp->dev = st.st_dev;
  stamp->ino = st.st_ino;
  stamp->size = st.st_size;
  stamp->mode = st.st_mode;
  stamp->mtime = st.st_mtim;
  stamp->ctime = st.st_ctim;
}

gboolean
nts_file_stamp_equal (const NtsFileStamp *a, const NtsFileStamp *b)
{
  return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
         a->size == b->size && a->mode == b->mode &&
         a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
         a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}
