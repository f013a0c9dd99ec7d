/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The set of files Apply writes (and PreviewConfig shows), in write order.
 * The content of each comes from its own file: chrony-config.c,
 * hardening-dropin.c, ntp-units.c. */

#include "render.h"

#include <string.h>

#include "accounts.h"
#include "server-name.h"

/* chrony's keys files are a few lines; anything larger is not one. */
#define KEYS_FILE_MAX (64 * 1024)

void
nts_rendered_file_free (NtsRenderedFile *file)
{
  if (file == NULL)
    return;
  g_free (file->path);
  g_free (file->content);
  g_free (file->owner);
  g_free (file->group);
  g_free (file);
}

char *
nts_rendered_file_preview (const NtsRenderedFile *file)
{
  g_return_val_if_fail (file != NULL, NULL);

  if (!file->kept)
    return g_strdup (file->content);
  return g_strdup_printf ("# kept as it is (its content is not shown: it may hold secret keys); "
                          "owner %s:%s, mode %04o\n", file->owner, file->group, file->mode);
}

gboolean
nts_rendered_file_write (const NtsRenderedFile *file, NtsRoot *root, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  uid_t uid;
  gid_t gid;

  g_return_val_if_fail (file != NULL && root != NULL, FALSE);

  if (!nts_lookup_user (file->owner, &uid, &local_error) ||
      !nts_lookup_group (file->group, &gid, &local_error))
    {
      g_set_error (error, local_error->domain, local_error->code,
                   "cannot write %s: %s", file->path, local_error->message);
      return FALSE;
    }
  return nts_root_write_atomic (root, file->path, file->content, strlen (file->content),
                                uid, gid, file->mode, error);
}

static NtsRenderedFile *
add_file (GPtrArray   *files,
          NtsFileRole  role,
          const char  *path,
          char       *content,
          guint       mode,
          const char *group)
{
  NtsRenderedFile *file = g_new0 (NtsRenderedFile, 1);

  file->role = role;
  file->path = g_strdup (path);
  file->content = content;
  file->mode = mode;
  file->owner = g_strdup ("root");
  file->group = g_strdup (group);
  g_ptr_array_add (files, file);
  return file;
}

/* The existing keys file is kept, so it is read; through no symbolic link
 * (a link planted there would make us copy some other file) and only if
 * it is text. PreviewConfig never shows it (nts_rendered_file_preview()). */
static gboolean
read_existing_keys (const NtsLayout *layout, char **content, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  gsize length;

  *content = NULL;
  if (!nts_root_get_contents (layout->root, layout->keys_file, KEYS_FILE_MAX,
                              &text, &length, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "Can't keep chrony's keys file: ");
      return FALSE;
    }
  if (!g_utf8_validate_len (text, length, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Can't keep chrony's keys file %s: it is not text", layout->keys_file);
      return FALSE;
    }
  *content = g_steal_pointer (&text);
  return TRUE;
}

GPtrArray *
nts_render_files (const NtsLayout   *layout,
                  const char *const *servers,
                  guint              min_sources,
                  GError           **error)
{
  return nts_render_files_full (layout, servers, min_sources, NTS_RENDER_DEFAULT, error);
}

GPtrArray *
nts_render_files_full (const NtsLayout *layout, const char *const *servers, guint min_sources,
                       NtsRenderFlags flags, GError **error)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autofree char *existing_keys = NULL;
  g_autofree char *dropin_path = NULL;
  g_autofree char *list_path = NULL;
  char *list_content = NULL;

  g_return_val_if_fail (layout != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!nts_server_list_validate (servers, min_sources, error))
    return NULL;
  if (!read_existing_keys (layout, &existing_keys, error))
    return NULL;
  if (!nts_render_ntp_units_list (layout, &list_path, &list_content, error))
    return NULL;

  files = g_ptr_array_new_with_free_func ((GDestroyNotify) nts_rendered_file_free);
  add_file (files, NTS_FILE_CHRONY_CONF, layout->config_file,
            nts_render_chrony_conf_full (layout, servers, min_sources, flags), 0644, "root");
  /* 0640 root:chrony's group: chronyd reads it after dropping root. */
  add_file (files, NTS_FILE_KEYS, layout->keys_file,
            nts_render_keys_file (layout, existing_keys), 0640, layout->group)->kept =
    existing_keys != NULL;
  dropin_path = nts_hardening_dropin_path (layout);
  add_file (files, NTS_FILE_HARDENING_DROPIN, dropin_path, nts_render_hardening_dropin (layout),
            0644, "root");
  if (list_path != NULL)
    add_file (files, NTS_FILE_NTP_UNITS_LIST, list_path, list_content, 0644, "root");

  return g_steal_pointer (&files);
}
