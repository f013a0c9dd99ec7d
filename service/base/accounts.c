/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See accounts.h. */
#include "accounts.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

static gsize
nss_buffer_size (int which)
{
  long size = sysconf (which);

  return size > 0 ? (gsize) size : 1024;
}

/* The passwd entry of @name: its uid and primary gid. */
static gboolean
lookup_passwd (const char *name, uid_t *uid, gid_t *gid, GError **error)
{
  gsize size = nss_buffer_size (_SC_GETPW_R_SIZE_MAX);

  for (;;)
    {
      g_autofree char *buffer = g_malloc (size);
      struct passwd pw, *found = NULL;
      int rc = getpwnam_r (name, &pw, buffer, size, &found);

      if (rc == ERANGE && size < 1024 * 1024)
        {
          size *= 2;
          continue;
        }
      if (rc != 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (rc),
                       "cannot look up user '%s': %s", name, g_strerror (rc));
          return FALSE;
        }
      if (found == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       "no user named '%s' on this system", name);
          return FALSE;
        }
      *uid = pw.pw_uid;
      *gid = pw.pw_gid;
      return TRUE;
    }
}

gboolean
nts_lookup_user (const char *name, uid_t *uid, GError **error)
{
  gid_t gid;

  return lookup_passwd (name, uid, &gid, error);
}

gboolean
nts_lookup_user_ids (const char *name, uid_t *uid, gid_t *gid, GError **error)
{
  return lookup_passwd (name, uid, gid, error);
}

gboolean
nts_lookup_group (const char *name, gid_t *gid, GError **error)
{
  gsize size = nss_buffer_size (_SC_GETGR_R_SIZE_MAX);

  for (;;)
    {
      g_autofree char *buffer = g_malloc (size);
      struct group gr, *found = NULL;
      int rc = getgrnam_r (name, &gr, buffer, size, &found);

      if (rc == ERANGE && size < 16 * 1024 * 1024)
        {
          size *= 2;
          continue;
        }
      if (rc != 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (rc),
                       "cannot look up group '%s': %s", name, g_strerror (rc));
          return FALSE;
        }
      if (found == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       "no group named '%s' on this system", name);
          return FALSE;
        }
      *gid = gr.gr_gid;
      return TRUE;
    }
}

char *
nts_user_name (uid_t uid)
{
  gsize size = nss_buffer_size (_SC_GETPW_R_SIZE_MAX);

  for (;;)
    {
      g_autofree char *buffer = g_malloc (size);
      struct passwd pw, *found = NULL;
      int rc = getpwuid_r (uid, &pw, buffer, size, &found);

      if (rc == ERANGE && size < 1024 * 1024)
        {
          size *= 2;
          continue;
        }
      return rc == 0 && found != NULL ? g_strdup (pw.pw_name) : NULL;
    }
}

char *
nts_group_name (gid_t gid)
{
  gsize size = nss_buffer_size (_SC_GETGR_R_SIZE_MAX);

  for (;;)
    {
      g_autofree char *buffer = g_malloc (size);
      struct group gr, *found = NULL;
      int rc = getgrgid_r (gid, &gr, buffer, size, &found);

      if (rc == ERANGE && size < 16 * 1024 * 1024)
        {
          size *= 2;
          continue;
        }
      return rc == 0 && found != NULL ? g_strdup (gr.gr_name) : NULL;
    }
}

char *
nts_user_primary_group (const char *user)
{
  uid_t uid;
  gid_t gid;

  if (!lookup_passwd (user, &uid, &gid, NULL))
    return NULL;
  return nts_group_name (gid);
}
