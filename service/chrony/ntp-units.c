/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whether systemd-timedated would pick chrony, and the ntp-units.d list
 * that makes it do so when it would not.
 *
 * timedated (SetNTP, and so `timedatectl set-ntp` and a desktop's
 * "automatic time" switch) reads systemd/ntp-units.d/\*.list from /etc,
 * /run, /usr/local/lib, /usr/lib (and /lib): files are merged by name, the
 * first directory holding a name wins, an empty file or a link to /dev/null
 * masks that name; the names are sorted and their lines read in order
 * (one unit per line, '#' comments, blank lines skipped); the first listed
 * unit that is loaded is the one it enables, disabling the others. Debian
 * ships 50-chrony.list (chrony.service) and 80-systemd-timesync.list; Arch
 * ships chrony.list (chronyd.service), which sorts after "80-..." and so
 * loses to timesyncd.
 *
 * We only ask which of chrony's unit and timesyncd comes first. Our own
 * list is left out of the scan so the answer, and so the files Apply
 * writes, is the same before and after an earlier Apply. */

#include "render.h"

#include "distro-profiles.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define LIST_DIR "/etc/systemd/ntp-units.d"
#define LIST_NAME "50-ntssetup.list"
#define LIST_MAX_SIZE (64 * 1024)

static const char *const list_dirs[] = {
  "/etc/systemd/ntp-units.d",
  "/run/systemd/ntp-units.d",
  "/usr/local/lib/systemd/ntp-units.d",
  "/usr/lib/systemd/ntp-units.d",
  "/lib/systemd/ntp-units.d",
};

static gboolean
is_masked (const struct stat *st)
{
  return S_ISCHR (st->st_mode) || (S_ISREG (st->st_mode) && st->st_size == 0);
}

/* basename -> host path, or NULL when masked. Links are followed, as
 * timedated does: a link to /dev/null is how a list is masked. */
static gboolean
collect_lists (const NtsLayout *layout, GHashTable *lists, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (list_dirs); i++)
    {
      g_autofree char *dir_path = nts_layout_host_path (layout, list_dirs[i]);
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GDir) dir = g_dir_open (dir_path, 0, &local_error);
      const char *name;

      if (dir == NULL)
        {
          if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
              g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR))
            continue;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = NULL;
          struct stat st;

          if (name[0] == '.' || !g_str_has_suffix (name, ".list") ||
              strcmp (name, LIST_NAME) == 0 ||
              g_hash_table_contains (lists, name))
            continue;

          path = g_build_filename (dir_path, name, NULL);
          if (g_stat (path, &st) < 0)
            continue;   /* a dangling link lists nothing */
          /* An oversized file is no unit list; it counts as listing
           * nothing, like a masked one. */
          if (is_masked (&st) || (S_ISREG (st.st_mode) && st.st_size > LIST_MAX_SIZE))
            g_hash_table_insert (lists, g_strdup (name), NULL);
          else if (S_ISREG (st.st_mode))
            g_hash_table_insert (lists, g_strdup (name), g_steal_pointer (&path));
        }
    }
  return TRUE;
}

typedef enum {
  WINNER_NONE,
  WINNER_CHRONY,
  WINNER_TIMESYNCD,
} Winner;

static Winner
first_listed (const char *content, const char *const *chrony_units, const char *timesyncd)
{
  g_auto(GStrv) lines = g_strsplit (content, "\n", -1);

  for (char **l = lines; *l != NULL; l++)
    {
      const char *word = g_strstrip (*l);

      if (word[0] == '\0' || word[0] == '#')
        continue;
      if (g_strv_contains (chrony_units, word))
        return WINNER_CHRONY;
      if (strcmp (word, timesyncd) == 0)
        return WINNER_TIMESYNCD;
    }
  return WINNER_NONE;
}

gboolean
nts_render_ntp_units_list (const NtsLayout *layout,
                           char           **path,
                           char           **content,
                           GError         **error)
{
  g_autoptr(GHashTable) lists = NULL;
  g_autoptr(GList) names = NULL;
  const NtsDistroProfile *profile;
  const char *chrony_units[3] = { NULL, NULL, NULL };
  Winner winner = WINNER_NONE;

  g_return_val_if_fail (layout != NULL && layout->unit != NULL, FALSE);
  g_return_val_if_fail (layout->timesyncd_unit != NULL, FALSE);
  g_return_val_if_fail (path != NULL && content != NULL, FALSE);

  *path = NULL;
  *content = NULL;

  /* Debian's chronyd.service alias counts as chrony's: while chrony is
   * enabled, timedated loads it as chrony.service. */
  chrony_units[0] = layout->unit;
  profile = layout->profile != NULL ? nts_distro_profile_lookup (layout->profile) : NULL;
  if (profile != NULL && profile->unit_alias != NULL && strcmp (profile->unit, layout->unit) == 0)
    chrony_units[1] = profile->unit_alias;

  lists = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!collect_lists (layout, lists, error))
    return FALSE;

  names = g_list_sort (g_hash_table_get_keys (lists), (GCompareFunc) strcmp);
  for (GList *n = names; n != NULL && winner == WINNER_NONE; n = n->next)
    {
      const char *list_path = g_hash_table_lookup (lists, n->data);
      g_autofree char *text = NULL;

      if (list_path == NULL)
        continue;
      if (!g_file_get_contents (list_path, &text, NULL, error))
        return FALSE;
      winner = first_listed (text, chrony_units, layout->timesyncd_unit);
    }

  if (winner == WINNER_CHRONY)
    return TRUE;

  *path = g_strdup (LIST_DIR "/" LIST_NAME);
  *content = g_strdup_printf ("# Written by ntssetup: makes systemd-timedated (timedatectl set-ntp,\n"
                              "# a desktop's automatic time switch) choose chrony over\n"
                              "# systemd-timesyncd. `ntsctl rollback` removes it.\n"
                              "%s\n",
                              layout->unit);
  return TRUE;
}
