/* SPDX-License-Identifier: GPL-2.0-or-later */
/* LastResult kept on disk (<state dir>/last-result, 0600, GVariant text),
 * so it outlives the daemon: after a reboot whose boot-time recovery
 * undid an interrupted Apply, or after an idle exit, a caller still
 * learns how the last change ended. */
#pragma once

#include <gio/gio.h>

#include "safe-fs.h"

G_BEGIN_DECLS

/* LastResult's a{sv} (the keys are the XML's) for a call to @method that
 * ended with @error (NULL: success), failing at @step (or NULL), with
 * @snapshot_id (or NULL). Floating. */
GVariant *nts_last_result_new  (const char   *method,
                                const GError *error,
                                const char   *step,
                                const char   *snapshot_id);
/* The same with 'probe-results' (aa{sv}): @probe_results, the preflight's
 * verdict on each server (nts_probe_result_to_variant() without secrets),
 * when an Apply's preflight ran; NULL leaves the key out. A key or cookie
 * that came along is dropped: LastResult is kept on disk and read by any
 * local user. */
GVariant *nts_last_result_new_full (const char *method, const GError *error, const char *step,
                                    const char *snapshot_id, GVariant *probe_results);

/* Writes @result (a{sv}) atomically. Where the state directory does not
 * exist yet (nothing was ever changed) there is nothing to keep: TRUE. */
gboolean  nts_last_result_save (NtsRoot     *root,
                                const char  *state_dir,
                                GVariant    *result,
                                GError     **error);

/* The saved a{sv}, or NULL (no error) when there is none. A file that
 * does not parse as a{sv} is G_IO_ERROR_INVALID_DATA. */
GVariant *nts_last_result_load (NtsRoot     *root,
                                const char  *state_dir,
                                GError     **error);

G_END_DECLS
