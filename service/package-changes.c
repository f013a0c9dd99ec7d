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

GVariant *
nts_package_changes_to_variant (const NtsPackageChanges *changes)
{
  GVariantBuilder builder;

  /* A builder, not a GVariantDict: the keys keep this order in logs. */
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "installed",
                         g_variant_new_strv ((const char *const *) changes->installed, -1));
  g_variant_builder_add (&builder, "{sv}", "removed",
                         g_variant_new_strv ((const char *const *) changes->removed, -1));
  return g_variant_builder_end (&builder);
}

static GStrv
lookup_strv (GVariant *variant, const char *key)
{
  g_autoptr(GVariant) value = NULL;

  if (variant != NULL && g_variant_is_of_type (variant, G_VARIANT_TYPE_VARDICT))
    value = g_variant_lookup_value (variant, key, G_VARIANT_TYPE_STRING_ARRAY);
  return value != NULL ? g_variant_dup_strv (value, NULL) : g_new0 (char *, 1);
}

NtsPackageChanges *
nts_package_changes_from_variant (GVariant *variant)
{
  NtsPackageChanges *changes = g_new0 (NtsPackageChanges, 1);

  changes->installed = lookup_strv (variant, "installed");
  changes->removed = lookup_strv (variant, "removed");
  return changes;
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
