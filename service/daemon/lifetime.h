/* SPDX-License-Identifier: GPL-2.0-or-later */
/* When ntssetupd may exit. Like systemd-timedated it runs on demand and
 * leaves when idle: no call in flight (which covers polkit checks, waits
 * and transactions, all of which happen inside a call) and no other hold
 * (crash recovery). Leaving is: release the bus name, answer whatever the
 * bus had already queued for us, then quit. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _NtsLifetime NtsLifetime;

/* @timeout_s 0 = never leave. @loop is quit when done. */
NtsLifetime *nts_lifetime_new  (GDBusConnection *connection,
                                guint            timeout_s,
                                GMainLoop       *loop);
void         nts_lifetime_free (NtsLifetime *lifetime);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsLifetime, nts_lifetime_free)

/* The g_bus_own_name() id to release when leaving. */
void nts_lifetime_set_name_owner_id (NtsLifetime *lifetime, guint owner_id);

void nts_lifetime_hold    (NtsLifetime *lifetime);
void nts_lifetime_release (NtsLifetime *lifetime);

G_END_DECLS
