/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who a name is: users and groups, by name and by number, as the daemon's
 * name service switch (NSS) answers.
 *
 * Why NSS and not <root>/etc/passwd: the accounts chronyd runs as may come
 * from anything nsswitch.conf lists (files, systemd-userdb, LDAP, SSSD),
 * and a chown must use the number the kernel and every other program on
 * the machine give that name. Under a test --root the host's NSS still
 * answers: the files below --root are data the tests wrote, not a name
 * service, so test roots use names the host knows.
 *
 * Why the reentrant getpwnam_r() family: the layout resolution looks a
 * group up in a worker thread while the main loop may be looking up
 * others, and getpwnam()'s static result would be shared between them.
 * The buffer grows on ERANGE, up to a bound, since a group with many
 * members needs a large one.
 *
 * NSS may ask a network directory and so take its time: the lookup any
 * caller can cause (the layout's group, for Verify or PreviewConfig) runs
 * in that worker thread. Errors are G_IO_ERROR. */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The number of the user or group @name. An unknown name is
 * G_IO_ERROR_NOT_FOUND: "no user named '_chrony' on this system". */
gboolean nts_lookup_user  (const char *name,
                           uid_t      *uid,
                           GError    **error);
gboolean nts_lookup_group (const char *name,
                           gid_t      *gid,
                           GError    **error);

/* @name's uid and its primary group's gid: what a process that drops to
 * @name (chronyd's -u) runs as, so the owner of the files it creates.
 * Errors as nts_lookup_user(). */
gboolean nts_lookup_user_ids (const char *name, uid_t *uid, gid_t *gid, GError **error);

/* The name of a uid / gid, or NULL when NSS knows none. */
char    *nts_user_name    (uid_t uid);
char    *nts_group_name   (gid_t gid);

/* The name of @user's primary group, or NULL when NSS knows no such user
 * or no name for its group. */
char    *nts_user_primary_group (const char *user);

G_END_DECLS
