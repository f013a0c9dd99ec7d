/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the parse of `chronyd -h` (service/chrony/chronyd-help.c),
 * the output of whatever binary sits at the configured chronyd path.
 *
 * The input is the output, as nts_chronyd_help_finish() parses it for
 * "-f" (the configuration file) and "-u" (the user). Checked beyond
 * sanitizer faults: a value found is non-empty, on one line and a part of
 * the output. The values are not checked here (layout.c takes them only
 * when nts_layout_value_is_path() / _is_account() accept them). */
#include "fuzz.h"

#include <string.h>

#include "chronyd-help.h"

static void
check_option (const char *help, const char *option)
{
  g_autofree char *value = nts_chronyd_help_default (help, option);

  if (value == NULL)
    return;
  NTS_FUZZ_CHECK (value[0] != '\0');
  NTS_FUZZ_CHECK (strchr (value, '\n') == NULL);
  NTS_FUZZ_CHECK (strstr (help, value) != NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *help = nts_fuzz_text (data, size);

  check_option (help, "-f");
  check_option (help, "-u");
  /* An option that is a prefix of others' names and one that never
   * appears walk the other paths. */
  check_option (help, "-");
  check_option (help, "--no-such-option");
  return 0;
}
