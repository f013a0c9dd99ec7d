/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the a{sv} option dictionaries of ApplyHardenedConfig
 * and PreviewConfig, VerifyNts and Rollback (service/daemon/options.c), and
 * Rollback's snapshot id.
 *
 * The input is an a{sv} in D-Bus (GVariant) serialisation, as a caller
 * puts it on the bus. GDBus checks the message and hands the method a
 * value in normal form; g_variant_get_normal_form() is that value, so the
 * parsers see what they would see in the daemon, whatever the bytes. The
 * whole input as a string is also Rollback's snapshot id.
 *
 * Checked beyond sanitizer faults: every rejection is InvalidArgs with a
 * UTF-8 message; accepted Apply options hold 1..NTS_MAX_SERVERS valid
 * servers, a min-sources between 1 and their number and a wait-sync of at
 * most NTS_MAX_WAIT_SYNC; Verify's wait is at most NTS_MAX_VERIFY_WAIT and
 * its probe a boolean; a snapshot id that passes is short and made of
 * letters, digits and '-' (it becomes a file name). */
#include "fuzz.h"

#include <gio/gio.h>
#include <string.h>

#include "options.h"
#include "server-name.h"

static void
check_apply (GVariant *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsApplyOptions) parsed = nts_apply_options_parse (options, &error);
  guint n;

  if (parsed == NULL)
    {
      nts_fuzz_check_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      return;
    }
  n = g_strv_length (parsed->servers);
  NTS_FUZZ_CHECK (n >= 1 && n <= NTS_MAX_SERVERS);
  NTS_FUZZ_CHECK (parsed->min_sources >= 1 && parsed->min_sources <= n);
  NTS_FUZZ_CHECK (parsed->wait_sync <= NTS_MAX_WAIT_SYNC);
  for (guint i = 0; i < n; i++)
    NTS_FUZZ_CHECK (nts_server_name_validate (parsed->servers[i], NULL));
}

static void
check_verify (GVariant *options)
{
  g_autoptr(GError) error = NULL;
  guint wait = G_MAXUINT;
  gboolean probe = 2;

  if (!nts_verify_options_parse (options, &wait, &probe, &error))
    {
      nts_fuzz_check_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      return;
    }
  NTS_FUZZ_CHECK (wait <= NTS_MAX_VERIFY_WAIT);
  NTS_FUZZ_CHECK (probe == TRUE || probe == FALSE);
}

static void
check_rollback (const char *snapshot_id, GVariant *options)
{
  g_autoptr(GError) error = NULL;
  gboolean force = 2;

  if (!nts_rollback_options_parse (snapshot_id, options, &force, &error))
    {
      nts_fuzz_check_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      return;
    }
  NTS_FUZZ_CHECK (force == TRUE || force == FALSE);
  NTS_FUZZ_CHECK (strlen (snapshot_id) <= 64);
  NTS_FUZZ_CHECK (snapshot_id[0] != '-');
  NTS_FUZZ_CHECK (strspn (snapshot_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789-") == strlen (snapshot_id));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* g_variant_new_from_bytes() copies misaligned data itself. */
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GVariant) received = g_variant_ref_sink (
    g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
  g_autoptr(GVariant) options = g_variant_get_normal_form (received);
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autofree char *text = nts_fuzz_text (data, size);

  NTS_FUZZ_CHECK (g_variant_is_normal_form (options));
  check_apply (options);
  check_verify (options);
  check_rollback ("", options);

  /* A snapshot id arrives as a D-Bus string: valid UTF-8. */
  if (g_utf8_validate (text, -1, NULL))
    check_rollback (text, empty);

  /* A wrongly typed dictionary is the caller's mistake too, not a crash
   * (the introspection makes GDBus reject it first, but the parsers say
   * they check). */
  if (g_variant_n_children (options) > 0)
    {
      g_autoptr(GVariant) first = g_variant_get_child_value (options, 0);

      check_apply (first);
      check_verify (first);
    }
  return 0;
}
