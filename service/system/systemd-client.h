/* SPDX-License-Identifier: GPL-2.0-or-later */
/* systemd, asked over its D-Bus API (org.freedesktop.systemd1) — never
 * through systemctl and its text. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char    *name;             /* the name asked for */
  char    *id;               /* the real unit (an alias resolves to it) */
  char    *load_state;       /* loaded, not-found, masked, ... */
  char    *active_state;     /* active, inactive, failed, ... */
  char    *sub_state;
  char    *unit_file_state;  /* enabled, disabled, masked, alias, ... */
  gboolean condition_result; /* FALSE: a Condition*= skipped the last start */
  guint64  condition_timestamp; /* 0: conditions never checked */
} NtsUnitState;

void          nts_unit_state_free (NtsUnitState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsUnitState, nts_unit_state_free)

/* One word for a person (and for Verify's "*-state" keys): active,
 * activating, deactivating, inactive, failed, condition-failed, not-found. */
const char   *nts_unit_state_summary (const NtsUnitState *state);

/* LoadUnit + the Unit properties. A unit systemd does not know comes back
 * with load_state "not-found", not as an error; errors are about talking
 * to systemd. */
void          nts_systemd_get_unit_state_async  (GDBusConnection     *bus,
                                                 const char          *unit,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
NtsUnitState *nts_systemd_get_unit_state_finish (GAsyncResult        *result,
                                                 GError             **error);

G_END_DECLS
