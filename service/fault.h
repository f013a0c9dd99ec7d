/* A fault hook for tests: make a named step fail, abort the daemon, or
 * stall until SIGUSR1. Compiled in only with -Dfault_injection=true; a
 * release build has no way to turn it on. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* @spec: "STEP:fail", "STEP:abort" or "STEP:stall". */
gboolean nts_fault_configure (const char *spec, GError **error);

/* Passes at once unless @step is the configured one. */
void     nts_fault_point_async  (const char          *step,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data);
gboolean nts_fault_point_finish (GAsyncResult        *result,
                                 GError             **error);

G_END_DECLS
