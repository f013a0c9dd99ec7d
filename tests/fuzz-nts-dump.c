/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: what nts-dump.c (service/chrony) takes from outside
 * before it writes a file chronyd will read: the output of `chronyd -v`
 * (whatever binary sits at the configured chronyd path) and the names and
 * addresses of an entry (from the probe's answer).
 *
 * The input is four lines: the version output, then the entry's name, its
 * key-exchange address and its NTP address. Checked beyond sanitizer
 * faults: a support other than 0 comes from a line in the expected form
 * naming +NTS; a refusal is a G_IO_ERROR in UTF-8; an entry accepted has a
 * name of one printable word and a file name of one component ending in
 * ".nts", equal to chronyd's form of the address. */
#include "fuzz.h"

#include <string.h>

#include "nts-dump.h"

static void
check_support (const char *output)
{
  g_autoptr(GError) error = NULL;
  guint support = nts_dump_support_from_version (output, &error);

  if (support == 0)
    {
      nts_fuzz_check_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      return;
    }
  NTS_FUZZ_CHECK (error == NULL);
  NTS_FUZZ_CHECK (support & NTS_DUMP_SUPPORT_NNC0);
  NTS_FUZZ_CHECK (g_str_has_prefix (output, "chronyd (chrony) version 4."));
  NTS_FUZZ_CHECK (strstr (output, "+NTS") != NULL);
}

static void
check_entry (const char *name, const char *ke_address, const char *ntp_address)
{
  static const guint8 key[NTS_DUMP_KEY_LEN];
  g_autoptr(GPtrArray) cookies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GError) error = NULL;
  g_autofree char *file_name = NULL;
  NtsDumpEntry entry = {
    .name = name,
    .ke_address = ke_address,
    .ntp_address = ntp_address,
    .ntp_port = 123,
    .aead = NTS_DUMP_AEAD_AES_SIV_CMAC_256,
    .c2s = key,
    .s2c = key,
    .key_len = NTS_DUMP_KEY_LEN,
    .cookies = cookies,
    .ke_time = 1700000000.0,
  };
  const guint supports[] = {
    NTS_DUMP_SUPPORT_NNC0 | NTS_DUMP_SUPPORT_IP_NAMES | NTS_DUMP_SUPPORT_IPV6,
    NTS_DUMP_SUPPORT_NNC0,
  };

  g_ptr_array_add (cookies, g_bytes_new_static ("cookie", 6));
  for (gsize i = 0; i < G_N_ELEMENTS (supports); i++)
    {
      g_clear_error (&error);
      if (!nts_dump_entry_validate (&entry, supports[i], &error))
        {
          nts_fuzz_check_error (error, G_IO_ERROR, -1);
          NTS_FUZZ_CHECK (error->code == G_IO_ERROR_INVALID_DATA ||
                          error->code == G_IO_ERROR_NOT_SUPPORTED);
          continue;
        }
      NTS_FUZZ_CHECK (name[0] != '\0');
      for (const char *p = name; *p != '\0'; p++)
        NTS_FUZZ_CHECK (g_ascii_isgraph (*p));
      g_clear_pointer (&file_name, g_free);
      file_name = nts_dump_file_name (ke_address);
      NTS_FUZZ_CHECK (file_name != NULL);
      NTS_FUZZ_CHECK (file_name[0] != '.' && strchr (file_name, '/') == NULL);
      NTS_FUZZ_CHECK (g_str_has_suffix (file_name, ".nts"));
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = nts_fuzz_text (data, size);
  g_auto(GStrv) lines = g_strsplit (text, "\n", 4);
  g_autofree char *ntp_address = NULL;

  check_support (text);
  if (g_strv_length (lines) < 4)
    return 0;
  /* The last field ends at its line's end. */
  ntp_address = g_strndup (lines[3], strcspn (lines[3], "\n"));
  check_entry (lines[1], lines[2], ntp_address);
  return 0;
}
