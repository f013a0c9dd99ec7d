/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A fault hook for tests: make a named step fail, abort the daemon, or
 * stall until SIGUSR1, before the step's work or after it (the step did
 * its work, then fails or dies before the journal records it). Compiled in
 * only with -Dfault_injection=true; a release build has no way to turn it
 * on. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  NTS_FAULT_BEFORE,
  NTS_FAULT_AFTER,
} NtsFaultWhen;

/* @spec: "STEP:fail", "STEP:abort" or "STEP:stall" (before the step's
 * work), or the same with "-after" ("STEP:fail-after"). */
gboolean nts_fault_configure (const char *spec, GError **error);

/* Passes at once unless @step, @when is the configured one. */
void     nts_fault_point_async  (const char          *step,
                                 NtsFaultWhen         when,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data);
gboolean nts_fault_point_finish (GAsyncResult        *result,
                                 GError             **error);

G_END_DECLS
