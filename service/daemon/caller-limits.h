/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What one caller may cost the daemon.
 *
 * Verify, PreviewConfig and ListSnapshots are open to every local user, and
 * every call in flight costs the daemon memory, keeps it alive, and may
 * hold a polkit check, a name watch and calls to systemd — and the daemon's
 * own connection may have only so many of those (dbus-daemon's system bus:
 * 128 pending replies, 512 match rules per connection; past them its polkit
 * checks fail and *everyone* gets AccessDenied). So calls are counted per
 * Unix user and in total, and one past either bound is refused at once
 * with org.freedesktop.DBus.Error.LimitsExceeded, before anything is asked
 * of polkit or systemd:
 *
 *   calls in flight   NTS_LIMIT_CALLS_PER_UID per user, NTS_LIMIT_CALLS_TOTAL
 *                     in all
 *   Verify waits      NTS_LIMIT_WAITS_PER_UID per user, NTS_LIMIT_WAITS_TOTAL
 *                     in all (each polls chronyd and systemd twice a second)
 *   probes            NTS_LIMIT_PROBES_PER_UID per user, NTS_LIMIT_PROBES_TOTAL
 *                     in all (ProbeServers, and Verify with 'probe': each
 *                     may start an ntssetup-probe, which sends packets to
 *                     servers that are not ours; the probe socket's
 *                     MaxConnections bounds them again)
 *
 * root's calls count only towards root's own bounds, never the totals, so
 * other users cannot lock root out (a non-root administrator acting
 * through polkit can be, by four users holding all their places).
 *
 * Budget on the daemon's connection at the bounds (only calls dbus-daemon
 * routes to another connection count against its 128): a polkit check per
 * call (32, and root's 8), two systemd calls per waiting Verify round and
 * the shared report's and each probing Verify's (8 + root's 2 + 1 + 4 +
 * root's 1, two each), and the daemon's own few (layout resolutions,
 * property refreshes): about 80 pending replies of 128. Name watches: one
 * per caller waiting for polkit, a Verify wait or a probing Verify, about
 * 55 match rules of 512. The bus's own calls
 * (GetConnectionUnixUser, at most NTS_CALLER_UID_LOOKUPS at once) are
 * not counted by it, but are bounded all the same.
 *
 * The user is the bus's answer to GetConnectionUnixUser for the caller's
 * unique name (never reused while the bus runs, so the answer is kept);
 * all calls from one name share one look-up. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NTS_LIMIT_CALLS_PER_UID 8
#define NTS_LIMIT_CALLS_TOTAL   32
#define NTS_LIMIT_WAITS_PER_UID 2
#define NTS_LIMIT_WAITS_TOTAL   8
#define NTS_LIMIT_PROBES_PER_UID 1
#define NTS_LIMIT_PROBES_TOTAL   4
#define NTS_CALLER_UID_LOOKUPS  16
/* Calls (of any interface, properties included) one user may have waiting
 * for an answer at our object before the connection filter refuses the
 * next at once; above NTS_LIMIT_CALLS_PER_UID, so that the precise limits
 * answer everyday use. */
#define NTS_LIMIT_UNANSWERED_PER_UID 16
/* Calls from connections whose user is not known yet (their first ones,
 * while the bus is asked), all together, before the filter refuses. */
#define NTS_LIMIT_UNANSWERED_UNKNOWN 64

typedef enum {
  NTS_LIMIT_CALLS,
  NTS_LIMIT_WAITS,
  NTS_LIMIT_PROBES,
  NTS_LIMIT_N_KINDS,
} NtsLimitKind;

typedef struct _NtsCallerLimits NtsCallerLimits;

NtsCallerLimits *nts_caller_limits_new  (GDBusConnection *bus);
void             nts_caller_limits_free (NtsCallerLimits *limits);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsCallerLimits, nts_caller_limits_free)

/* The Unix user of @sender (a unique bus name). Fails with the bus's
 * error (the caller has left: org.freedesktop.DBus.Error.NameHasNoOwner). */
void     nts_caller_uid_async  (NtsCallerLimits     *limits,
                                const char          *sender,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data);
gboolean nts_caller_uid_finish (NtsCallerLimits     *limits,
                                GAsyncResult        *result,
                                guint32             *uid,
                                GError             **error);

/* The Unix user of @sender if it is already known: no bus call, no main
 * loop iteration — a caller flooding the daemon is refused at the cost of
 * a hash lookup. */
gboolean nts_caller_uid_lookup_cached (NtsCallerLimits *limits,
                                       const char      *sender,
                                       guint32         *uid);

/* Takes one place of @kind for @uid, or fails with
 * G_DBUS_ERROR_LIMITS_EXCEEDED saying which bound was reached. Every
 * place taken is given back exactly once. */
gboolean nts_caller_limits_take      (NtsCallerLimits *limits,
                                      NtsLimitKind     kind,
                                      guint32          uid,
                                      GError         **error);
void     nts_caller_limits_give_back (NtsCallerLimits *limits,
                                      NtsLimitKind     kind,
                                      guint32          uid);

/* Refuses calls to @object_path in GDBus's worker thread, before they
 * reach the main loop, from a user with NTS_LIMIT_UNANSWERED_PER_UID
 * calls already waiting for an answer there, or from a connection whose
 * user is not known yet past its own share (see the filter in
 * caller-limits.c for why); drops calls that expect no reply. Once, at
 * start. */
void nts_caller_limits_filter_object (NtsCallerLimits *limits,
                                      const char      *object_path);

G_END_DECLS
