/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "package-changes.h"

#include <string.h>

static GStrv
strv_copy_or_empty (const char *const *names)
{
  return names != NULL ? g_strdupv ((char **) names) : g_new0 (char *, 1);
}

NtsPackageChanges *
nts_package_changes_new (const char *const *installed, const char *const *removed)
{
  NtsPackageChanges *changes = g_new0 (NtsPackageChanges, 1);

  changes->installed = strv_copy_or_empty (installed);
  changes->removed = strv_copy_or_empty (removed);
  return changes;
}

NtsPackageChanges *
nts_package_changes_new_empty (void)
{
  return nts_package_changes_new (NULL, NULL);
}

NtsPackageChanges *
nts_package_changes_copy (const NtsPackageChanges *changes)
{
  return nts_package_changes_new ((const char *const *) changes->installed,
                                  (const char *const *) changes->removed);
}

void
nts_package_changes_free (NtsPackageChanges *changes)
{
  if (changes == NULL)
    return;
  g_strfreev (changes->installed);
  g_strfreev (changes->removed);
  g_free (changes);
}

gboolean
nts_package_changes_is_empty (const NtsPackageChanges *changes)
{
  return changes->installed[0] == NULL && changes->removed[0] == NULL;
}

gboolean
nts_package_name_is_valid (const char *name)
{
  if (name == NULL || name[0] == '\0' || strlen (name) > 255)
    return FALSE;
  for (const char *c = name; *c != '\0'; c++)
    if (!g_ascii_isgraph (*c) || *c == ';')
      return FALSE;
  return TRUE;
}
