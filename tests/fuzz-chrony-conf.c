/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the chrony.conf scanner (service/chrony/chrony-conf-scan.c),
 * which Verify runs over whatever configuration the machine has: files
 * an administrator or a package wrote, not the daemon.
 *
 * The input is one file's text, scanned as nts_chrony_conf_scan() scans
 * each file it reads (includes are not followed here: they name files
 * under the root, not input). Checked beyond sanitizer faults:
 * min_sources is at least 1; each server has a non-empty name without
 * blanks, an ntsport of at least 1, and nts_chrony_conf_scan_find_server()
 * finds a server under its name. */
#include "fuzz.h"

#include <string.h>

#include "chrony-conf-scan.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = nts_fuzz_text (data, size);
  g_autoptr(NtsChronyConfScan) scan = nts_chrony_conf_scan_text (text);

  NTS_FUZZ_CHECK (scan != NULL && scan->servers != NULL);
  NTS_FUZZ_CHECK (scan->min_sources >= 1);
  for (guint i = 0; i < scan->servers->len; i++)
    {
      const NtsConfServer *server = scan->servers->pdata[i];
      const NtsConfServer *found;

      NTS_FUZZ_CHECK (server->name != NULL && server->name[0] != '\0');
      NTS_FUZZ_CHECK (strpbrk (server->name, " \t\n") == NULL);
      NTS_FUZZ_CHECK (server->nts_port >= 1);
      found = nts_chrony_conf_scan_find_server (scan, server->name);
      NTS_FUZZ_CHECK (found != NULL && g_ascii_strcasecmp (found->name, server->name) == 0);
    }
  return 0;
}
