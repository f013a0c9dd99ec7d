/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a server option may hold: a DNS host name or an IP literal, nothing
 * else. Every string that ends up in chrony's configuration passes here
 * first, so nothing can smuggle a directive or an option into it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NTS_MAX_SERVERS 16
#define NTS_MAX_SERVER_NAME 253

/* Errors are G_DBUS_ERROR_INVALID_ARGS with a message naming the server
 * and the reason. */
gboolean nts_server_name_validate (const char *name, GError **error);

/* 1..NTS_MAX_SERVERS valid names, no duplicates (case-insensitive),
 * 1 <= min_sources <= number of servers. Messages name the option key
 * ("servers", "min-sources"). */
gboolean nts_server_list_validate (const char *const *servers,
                                   guint               min_sources,
                                   GError            **error);

G_END_DECLS
