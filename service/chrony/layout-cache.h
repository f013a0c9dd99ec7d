/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where chrony lives, resolved once and shared: the answer for every call
 * that only reads (PreviewConfig, Verify, the properties).
 *
 * Resolving may start `chronyd -h` as root and asks systemd, and anyone
 * may call PreviewConfig or Verify in a loop. So one resolution runs at a
 * time, however many calls wait for it (they all get its answer), and its
 * answer is kept until something it was read from changes: the override
 * file, os-release, the chronyd binary it names, the account databases
 * (each checked by stat() on every use: no process, no bus call), or a
 * change made by the daemon itself (nts_layout_cache_invalidate() after
 * Apply, Rollback and recovery, which install packages and change units).
 *
 * Failures are never kept: the next call resolves again. Mutating calls
 * resolve afresh under their lock (nts_layout_resolve_async()) and then
 * invalidate this cache. */
#pragma once

#include "layout.h"

G_BEGIN_DECLS

typedef struct _NtsLayoutCache NtsLayoutCache;

/* Freeing the cache cancels the resolution in flight; its waiters get
 * G_IO_ERROR_CANCELLED. */
NtsLayoutCache *nts_layout_cache_new  (NtsRoot         *root,
                                       GDBusConnection *system_bus);
void            nts_layout_cache_free (NtsLayoutCache  *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsLayoutCache, nts_layout_cache_free)

/* Forgets the kept answer; a resolution in flight still answers its
 * waiters but is not kept. */
void nts_layout_cache_invalidate (NtsLayoutCache *cache);

/* A copy of the layout (the caller owns it), from the cache or from the
 * one resolution in flight. Errors as nts_layout_resolve_finish(). */
void       nts_layout_cache_get_async  (NtsLayoutCache      *cache,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data);
NtsLayout *nts_layout_cache_get_finish (NtsLayoutCache      *cache,
                                        GAsyncResult        *result,
                                        GError             **error);

G_END_DECLS
