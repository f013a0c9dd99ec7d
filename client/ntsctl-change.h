/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl — what apply and rollback share (ntsctl-change.c). */
#pragma once

#include "ntsctl-common.h"

G_BEGIN_DECLS

/* The D-Bus timeout of ApplyHardenedConfig and Rollback: an hour, longer
 * than the sum of the service's own bounds (PackageKit 15 min, each systemd
 * job 90 s, wait-sync at most 10 min, and the undo of all of it), so that
 * running out means the service is stuck. */
#define NTSCTL_CHANGE_TIMEOUT_MS (60 * 60 * 1000)

/* Connects for a call that changes the system: subscribed to Progress,
 * with the agent, and the progress line listening before the call so
 * that no step's signal comes before it. */
gboolean ntsctl_change_connect (Ntsctl *ctl, GError **error);
/* ntsctl_await() for that call, and the progress line gone after it. */
void ntsctl_change_await (Ntsctl *ctl, GAsyncResult **result);
/* The call failed: reports @error like ntsctl_report_error, except when
 * no reply came (timeout, service gone): then LastResult says how @method
 * ended, if it ended after @started (g_get_real_time at the call). */
int  ntsctl_change_failed    (Ntsctl     *ctl,
                              const char *method,
                              gint64      started,
                              GError     *error);
/* The files under @files_key, unit and package changes of a result. */
void ntsctl_print_changes    (GVariant   *result,
                              const char *files_key,
                              const char *files_title);
/* "Snapshot: ID" and "Undo with: ntsctl rollback ID" (nothing for ""). */
void ntsctl_print_undo       (const char *snapshot_id);

G_END_DECLS
