/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the snapshot manifest parser
 * (service/state/snapshot-store.c). The daemon writes manifests itself, but
 * they sit on disk for months, across upgrades, and hold values callers
 * gave (the servers, in the state); ListSnapshots and Rollback must
 * survive one that is damaged or edited.
 *
 * The input is a manifest, given to nts_snapshot_manifest_parse() for the
 * id the seeds carry. Checked beyond sanitizer faults: a rejection is
 * G_IO_ERROR_INVALID_DATA with a UTF-8 message; an accepted manifest has
 * that id, an a{sv} state, a UTF-8 version, files at valid guest paths
 * with modes of at most 07777, and valid package names; and what
 * ListSnapshots sends of it (id, time, version, paths, the state's
 * servers) makes a valid D-Bus value. */
#include "fuzz.h"

#include <gio/gio.h>

#include "safe-fs.h"
#include "snapshot-store.h"

#define SEED_ID "20261127T044512Z-000123"

static void
check_names (char **names)
{
  NTS_FUZZ_CHECK (names != NULL);
  for (char **n = names; *n != NULL; n++)
    NTS_FUZZ_CHECK (nts_package_name_is_valid (*n));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_memdup2 (data, size);
  g_autoptr(NtsSnapshot) snapshot = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();
  g_autoptr(GVariant) listed = NULL;

  nts_fuzz_allow_gkeyfile_double_error ();
  snapshot = nts_snapshot_manifest_parse (SEED_ID, text, size, &error);

  if (snapshot == NULL)
    {
      nts_fuzz_check_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return 0;
    }
  NTS_FUZZ_CHECK (error == NULL);
  NTS_FUZZ_CHECK (g_strcmp0 (snapshot->id, SEED_ID) == 0);
  NTS_FUZZ_CHECK (snapshot->state != NULL &&
                  g_variant_is_of_type (snapshot->state, G_VARIANT_TYPE_VARDICT));
  NTS_FUZZ_CHECK (snapshot->version != NULL && g_utf8_validate (snapshot->version, -1, NULL));
  NTS_FUZZ_CHECK (snapshot->files != NULL && snapshot->files->len <= 4096);
  for (guint i = 0; i < snapshot->files->len; i++)
    {
      const NtsSnapshotFile *file = snapshot->files->pdata[i];

      NTS_FUZZ_CHECK (nts_guest_path_is_valid (file->path));
      NTS_FUZZ_CHECK (file->content == NULL);
      NTS_FUZZ_CHECK (file->mode <= 07777 && file->applied_mode <= 07777);
      NTS_FUZZ_CHECK (file->owner == NULL || g_utf8_validate (file->owner, -1, NULL));
      NTS_FUZZ_CHECK (file->group == NULL || g_utf8_validate (file->group, -1, NULL));
      g_ptr_array_add (paths, file->path);
    }
  NTS_FUZZ_CHECK (snapshot->packages != NULL);
  check_names (snapshot->packages->installed);
  check_names (snapshot->packages->removed);

  /* The parts of ListSnapshots' a(sta{sv}) entry that come from here;
   * g_variant_new_*() refuse (critical, NULL) what D-Bus can't carry. */
  {
    g_autoptr(GVariant) servers =
      g_variant_lookup_value (snapshot->state, "servers", G_VARIANT_TYPE_STRING_ARRAY);
    GVariantDict dict;

    g_variant_dict_init (&dict, NULL);
    if (servers != NULL)
      g_variant_dict_insert_value (&dict, "servers", servers);
    g_variant_dict_insert_value (&dict, "files",
                                 g_variant_new_strv ((const char *const *) paths->pdata,
                                                     paths->len));
    g_variant_dict_insert (&dict, "version", "s", snapshot->version);
    listed = g_variant_ref_sink (g_variant_new ("(st@a{sv})", snapshot->id,
                                                (guint64) MAX (snapshot->time, 0),
                                                g_variant_dict_end (&dict)));
    NTS_FUZZ_CHECK (g_variant_is_normal_form (listed));
  }
  return 0;
}
