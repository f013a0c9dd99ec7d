/* SPDX-License-Identifier: GPL-2.0-or-later */
/* LastResult on disk: see last-result.h. */
#include "last-result.h"

#include <string.h>

#include "snapshot-store.h"

/* Room for 16 probe results with every text field at its longest. */
#define LAST_RESULT_MAX (256 * 1024)

static const char *
dir_of (const char *state_dir)
{
  return state_dir != NULL ? state_dir : NTS_SNAPSHOT_STATE_DIR;
}

GVariant *
nts_last_result_new (const char *method, const GError *error, const char *step,
                     const char *snapshot_id)
{
  return nts_last_result_new_full (method, error, step, snapshot_id, NULL);
}

/* The secret keys of nts_probe_result_to_variant() (probe-wire.h). */
static gboolean
is_secret_key (const char *key)
{
  static const char *const secret[] = { "c2s", "s2c", "cookie-data", "ke-time" };

  for (gsize i = 0; i < G_N_ELEMENTS (secret); i++)
    if (strcmp (key, secret[i]) == 0)
      return TRUE;
  return FALSE;
}

static GVariant *
without_secrets (GVariant *probe_results)
{
  GVariantBuilder results;
  GVariantIter iter;
  GVariant *result;

  g_variant_builder_init (&results, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_iter_init (&iter, probe_results);
  while ((result = g_variant_iter_next_value (&iter)) != NULL)
    {
      GVariantBuilder kept;
      GVariantIter entries;
      const char *key;
      GVariant *value;

      g_variant_builder_init (&kept, G_VARIANT_TYPE_VARDICT);
      g_variant_iter_init (&entries, result);
      while (g_variant_iter_next (&entries, "{&sv}", &key, &value))
        {
          if (!is_secret_key (key))
            g_variant_builder_add (&kept, "{sv}", key, value);
          g_variant_unref (value);
        }
      g_variant_builder_add_value (&results, g_variant_builder_end (&kept));
      g_variant_unref (result);
    }
  return g_variant_builder_end (&results);
}

GVariant *
nts_last_result_new_full (const char *method, const GError *error, const char *step,
                          const char *snapshot_id, GVariant *probe_results)
{
  GVariantDict dict;
  g_autofree char *error_name = NULL;

  g_return_val_if_fail (probe_results == NULL ||
                          g_variant_is_of_type (probe_results, G_VARIANT_TYPE ("aa{sv}")),
                        NULL);
  error_name = error ? g_dbus_error_encode_gerror (error) : NULL;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "method", "s", method);
  g_variant_dict_insert (&dict, "time", "t", (guint64) g_get_real_time ());
  g_variant_dict_insert (&dict, "ok", "b", error == NULL);
  g_variant_dict_insert (&dict, "error", "s", error_name ? error_name : "");
  g_variant_dict_insert (&dict, "message", "s", error ? error->message : "");
  /* Only a failure has a step to blame. */
  g_variant_dict_insert (&dict, "step", "s", error && step ? step : "");
  g_variant_dict_insert (&dict, "snapshot-id", "s", snapshot_id ? snapshot_id : "");
  if (probe_results != NULL)
    g_variant_dict_insert_value (&dict, "probe-results", without_secrets (probe_results));
  return g_variant_dict_end (&dict);
}

gboolean
nts_last_result_save (NtsRoot *root, const char *state_dir, GVariant *result, GError **error)
{
  g_autofree char *path = g_strconcat (dir_of (state_dir), "/last-result", NULL);
  g_autofree char *text = NULL;
  gboolean exists = FALSE;

  g_return_val_if_fail (g_variant_is_of_type (result, G_VARIANT_TYPE_VARDICT), FALSE);
  if (!nts_root_lstat (root, dir_of (state_dir), NULL, &exists, error))
    return FALSE;
  if (!exists)
    return TRUE;
  text = g_variant_print (result, TRUE);
  return nts_root_write_atomic (root, path, text, strlen (text), 0, 0, 0600, error);
}

GVariant *
nts_last_result_load (NtsRoot *root, const char *state_dir, GError **error)
{
  g_autofree char *path = g_strconcat (dir_of (state_dir), "/last-result", NULL);
  g_autoptr(NtsFileData) data = nts_root_read (root, path, LAST_RESULT_MAX, error);
  g_autofree char *text = NULL;
  g_autoptr(GError) parse_error = NULL;
  GVariant *result;

  if (data == NULL || !data->exists)
    return NULL;
  text = g_strndup (g_bytes_get_data (data->content, NULL), g_bytes_get_size (data->content));
  result = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &parse_error);
  if (result == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path,
                   parse_error->message);
      return NULL;
    }
  /* g_variant_parse's reference is a full one, not floating. */
  return result;
}
