/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: server names (service/chrony/server-name.c), the strings a
 * caller passes in Apply's "servers" and that end up as a word of a
 * chrony.conf line and as the TLS server name.
 *
 * The input is one name, and also a list of names, one a line, with the
 * first byte as "min-sources". What is checked beyond sanitizer faults:
 * an accepted name is made of [A-Za-z0-9.:-] only, not starting with '-',
 * at most NTS_MAX_SERVER_NAME bytes, and reads back from a `server NAME
 * iburst nts` line through the chrony.conf scanner as exactly that one
 * NTS server; a rejection is InvalidArgs with a UTF-8 message naming the
 * option. An accepted list holds 1..NTS_MAX_SERVERS valid names and a
 * min-sources between 1 and their number. */
#include "fuzz.h"

#include <gio/gio.h>
#include <string.h>

#include "chrony-conf-scan.h"
#include "server-name.h"

static void
check_name (const char *name)
{
  g_autoptr(GError) error = NULL;

  if (!nts_server_name_validate (name, &error))
    {
      nts_fuzz_check_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      NTS_FUZZ_CHECK (g_str_has_prefix (error->message, "servers: "));
      return;
    }
  NTS_FUZZ_CHECK (error == NULL);
  NTS_FUZZ_CHECK (name[0] != '\0' && name[0] != '-');
  NTS_FUZZ_CHECK (strlen (name) <= NTS_MAX_SERVER_NAME);
  NTS_FUZZ_CHECK (strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789.:-") == strlen (name));

  /* What render writes, read back the way Verify reads it. */
  {
    g_autofree char *line = g_strdup_printf ("server %s iburst nts\n", name);
    g_autoptr(NtsChronyConfScan) scan = nts_chrony_conf_scan_text (line);
    const NtsConfServer *server;

    NTS_FUZZ_CHECK (scan->servers->len == 1);
    server = scan->servers->pdata[0];
    NTS_FUZZ_CHECK (strcmp (server->name, name) == 0);
    NTS_FUZZ_CHECK (server->nts && server->nts_port == 4460);
  }
}

static void
check_list (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) servers = NULL;
  g_autoptr(GError) error = NULL;
  guint min_sources, n;

  if (size == 0)
    return;
  min_sources = data[0] % 20;
  text = nts_fuzz_text (data + 1, size - 1);
  servers = g_strsplit (text, "\n", 20);
  n = g_strv_length (servers);

  if (!nts_server_list_validate ((const char *const *) servers, min_sources, &error))
    {
      nts_fuzz_check_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      NTS_FUZZ_CHECK (g_str_has_prefix (error->message, "servers: ") ||
                      g_str_has_prefix (error->message, "min-sources: "));
      return;
    }
  NTS_FUZZ_CHECK (n >= 1 && n <= NTS_MAX_SERVERS);
  NTS_FUZZ_CHECK (min_sources >= 1 && min_sources <= n);
  for (guint i = 0; i < n; i++)
    NTS_FUZZ_CHECK (nts_server_name_validate (servers[i], NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *name = nts_fuzz_text (data, size);

  /* D-Bus strings are UTF-8; the validator must cope with anything. */
  check_name (name);
  check_list (data, size);
  return 0;
}
