/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Changing systemd's state over its D-Bus API (org.freedesktop.systemd1):
 * Subscribe, Reload, start/stop/restart jobs waited for until their
 * JobRemoved, enabling and disabling unit files, and putting a unit back
 * the way it was. Reading a unit's state is systemd-client.h. */
#pragma once

#include <gio/gio.h>

#include "systemd-client.h"

G_BEGIN_DECLS

/* How long a start/stop/restart job may take before we give up waiting.
 * systemd's own default start timeout is 90 s. */
#define NTS_SYSTEMD_JOB_TIMEOUT_MS 90000

/* Subscribe: PID 1 sends JobRemoved only while someone is subscribed.
 * Call once per connection before any job; "already subscribed" counts as
 * success. */
void     nts_systemd_subscribe_async  (GDBusConnection     *bus,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
gboolean nts_systemd_subscribe_finish (GAsyncResult        *result,
                                       GError             **error);

/* Reload (daemon-reload). systemd answers after it has reloaded, so the
 * reply is the end of it; the wait is bounded all the same. */
void     nts_systemd_reload_async  (GDBusConnection     *bus,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
gboolean nts_systemd_reload_finish (GAsyncResult        *result,
                                    GError             **error);

typedef enum {
  NTS_SYSTEMD_JOB_START,
  NTS_SYSTEMD_JOB_STOP,
  NTS_SYSTEMD_JOB_RESTART,
} NtsSystemdJobKind;

/* StartUnit/StopUnit/RestartUnit (mode "replace") and a wait, bounded by
 * @timeout_ms (0: NTS_SYSTEMD_JOB_TIMEOUT_MS), for the job's JobRemoved.
 * Needs nts_systemd_subscribe() on @bus first.
 *
 * Success is result "done" and, for start and restart, the unit's
 * ConditionResult still true afterwards: a start skipped by a Condition*=
 * reports "done" too and is an NTS_ERROR_FAILED naming the condition.
 * Any other result is NTS_ERROR_FAILED naming the unit and the result; no
 * JobRemoved in time is G_IO_ERROR_TIMED_OUT (the job is left to systemd).
 * D-Bus errors of the call itself come back as they are. */
void     nts_systemd_unit_job_async  (GDBusConnection     *bus,
                                      NtsSystemdJobKind    kind,
                                      const char          *unit,
                                      guint                timeout_ms,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
/* Returns the job's result ("done"). */
char    *nts_systemd_unit_job_finish (GAsyncResult        *result,
                                      GError             **error);

#define nts_systemd_stop_unit_async(bus, unit, timeout_ms, cancellable, callback, user_data) \
  nts_systemd_unit_job_async ((bus), NTS_SYSTEMD_JOB_STOP, (unit), (timeout_ms), (cancellable), (callback), (user_data))
#define nts_systemd_restart_unit_async(bus, unit, timeout_ms, cancellable, callback, user_data) \
  nts_systemd_unit_job_async ((bus), NTS_SYSTEMD_JOB_RESTART, (unit), (timeout_ms), (cancellable), (callback), (user_data))

/* Waits until systemd has no job queued for any of @units (ListJobs,
 * asked again every NTS_SYSTEMD_JOBS_POLL_MS), at most @timeout_ms
 * (G_IO_ERROR_TIMED_OUT naming the jobs still there). A daemon that died
 * mid-transaction may have left a start or stop running: recovery must
 * not race it. */
#define NTS_SYSTEMD_JOBS_POLL_MS 100
void     nts_systemd_wait_jobs_async  (GDBusConnection     *bus,
                                       const char * const  *units,
                                       guint                timeout_ms,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
gboolean nts_systemd_wait_jobs_finish (GAsyncResult        *result,
                                       GError             **error);

/* One line of EnableUnitFiles'/DisableUnitFiles' answer: ("symlink",
 * "/etc/systemd/system/multi-user.target.wants/chrony.service",
 * "/lib/systemd/system/chrony.service") or ("unlink", path, ""). */
typedef struct {
  char *type;
  char *path;
  char *source;
} NtsUnitFileChange;

void nts_unit_file_change_free (NtsUnitFileChange *change);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsUnitFileChange, nts_unit_file_change_free)

/* EnableUnitFiles(units, runtime=false, force=false) /
 * DisableUnitFiles(units, runtime=false), then, when a link changed, a
 * Reload (as systemctl does: see systemd-jobs.c). Returns a GPtrArray of
 * NtsUnitFileChange (empty: nothing needed changing). */
void       nts_systemd_enable_unit_files_async   (GDBusConnection     *bus,
                                                  const char * const  *units,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
void       nts_systemd_disable_unit_files_async  (GDBusConnection     *bus,
                                                  const char * const  *units,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
GPtrArray *nts_systemd_unit_files_finish         (GAsyncResult        *result,
                                                  GError             **error);

/* What to put back for one unit: taken from its state before a change. */
typedef struct {
  char     *unit;
  gboolean  restore_unit_file; /* FALSE: static, masked, alias, ... left alone */
  gboolean  was_enabled;  /* UnitFileState enabled / enabled-runtime */
  gboolean  was_active;   /* ActiveState active / activating / reloading */
} NtsUnitUndo;

NtsUnitUndo *nts_unit_undo_new_from_state (const NtsUnitState *before);
void         nts_unit_undo_free           (NtsUnitUndo *undo);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsUnitUndo, nts_unit_undo_free)

/* Enables or disables the unit file as it was, then starts or stops the
 * unit as it was (each job bounded by @timeout_ms as above). A unit that
 * was enabled is enabled again even if that changes nothing; a masked or
 * static unit is neither enabled nor disabled. */
void     nts_systemd_restore_unit_async  (GDBusConnection     *bus,
                                          const NtsUnitUndo   *undo,
                                          guint                timeout_ms,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
gboolean nts_systemd_restore_unit_finish (GAsyncResult        *result,
                                          GError             **error);

G_END_DECLS
