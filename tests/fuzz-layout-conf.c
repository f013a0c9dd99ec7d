/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the parser of /etc/ntssetup/layout.conf
 * (service/chrony/layout-override.c, which hands the [operators] group to
 * service/chrony/operators.c), a file an administrator writes and every call
 * reads.
 *
 * The input is the file's content, given to nts_layout_override_parse(),
 * the parse nts_layout_override_load() runs on the bytes it read for both
 * the layout and Verify's operators.
 *
 * Checked beyond sanitizer faults: a rejection is G_IO_ERROR_INVALID_DATA
 * with a UTF-8 message (it is every call's error, sent over D-Bus); an
 * accepted file sets only values of the shape their key demands (paths,
 * account names, unit names), since they go into chrony.conf, a unit
 * drop-in and file names; a profile it names is a known one. */
#include "fuzz.h"

#include <gio/gio.h>
#include <string.h>

#include "layout-override.h"

static void
check_optional (const char *value, gboolean (*shape) (const char *))
{
  NTS_FUZZ_CHECK (value == NULL || shape (value));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(NtsLayoutOverride) override = NULL;
  g_autoptr(GError) error = NULL;
  /* Exact size and not NUL-terminated: the parser takes a length. */
  g_autofree char *text = g_memdup2 (data, size);
  NtsLayout *layout;

  nts_fuzz_allow_gkeyfile_double_error ();

  override = nts_layout_override_parse (text != NULL ? text : "", size, &error);
  if (override == NULL)
    {
      nts_fuzz_check_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return 0;
    }

  NTS_FUZZ_CHECK (error == NULL);
  NTS_FUZZ_CHECK (override->operators != NULL);
  layout = override->layout;
  NTS_FUZZ_CHECK (layout->root == NULL);
  NTS_FUZZ_CHECK ((layout->profile == NULL) == (override->profile == NULL));
  check_optional (layout->chronyd_path, nts_layout_value_is_path);
  check_optional (layout->config_file, nts_layout_value_is_path);
  check_optional (layout->keys_file, nts_layout_value_is_path);
  check_optional (layout->log_dir, nts_layout_value_is_path);
  check_optional (layout->state_dir, nts_layout_value_is_path);
  check_optional (layout->run_dir, nts_layout_value_is_path);
  check_optional (layout->socket_path, nts_layout_value_is_path);
  check_optional (layout->options_env_file, nts_layout_value_is_path);
  check_optional (layout->user, nts_layout_value_is_account);
  check_optional (layout->group, nts_layout_value_is_account);
  check_optional (layout->unit, nts_layout_value_is_unit);
  check_optional (layout->timesyncd_unit, nts_layout_value_is_unit);
  if (layout->options_var != NULL)
    NTS_FUZZ_CHECK (layout->options_var[0] != '\0' &&
                    strspn (layout->options_var, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                 "abcdefghijklmnopqrstuvwxyz0123456789_")
                    == strlen (layout->options_var));
  return 0;
}
