/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the installed chronyd says about itself: `chronyd -h` prints its
 * compiled-in configuration file and user, e.g. (chrony 4.3, Debian)
 *   -f FILE	Specify configuration file (/etc/chrony/chrony.conf)
 *   -u USER	Specify user (_chrony)
 * and `chronyd -v` its version and features, which say whether it reads
 * the NTS dump we would leave it (nts-dump.h), e.g.
 *   chronyd (chrony) version 4.3 (+CMDMON +NTP ... +NTS +SECHASH +IPV6 -DEBUG)
 * Each run is bounded: a chronyd that does not answer within 5 s is
 * killed, and its pipe abandoned (a child it forked may hold it open). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* @host_path is the binary as this process reaches it (root included). */
void     nts_chronyd_help_async  (const char          *host_path,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
/* The compiled-in defaults, each NULL when the output lacks it; the values
 * are as printed, not checked. Errors: spawning, the time limit
 * (G_IO_ERROR_TIMED_OUT), cancellation. */
gboolean nts_chronyd_help_finish (GAsyncResult  *result,
                                  char         **config_file,
                                  char         **user,
                                  GError       **error);

/* The same bounded run of `chronyd -v`; its output as printed, unchecked
 * (nts_dump_support_from_version() reads it). */
void nts_chronyd_version_async (const char *host_path, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
char *nts_chronyd_version_finish (GAsyncResult *result, GError **error);

/* The parenthesised default at the end of @option's line in @help. */
char    *nts_chronyd_help_default (const char *help, const char *option);

G_END_DECLS
