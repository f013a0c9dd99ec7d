/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the NTS-KE response parser (probe/nts-ke.c), the bytes
 * an NTS-KE server sends ntssetup-probe over TLS.
 *
 * What is checked beyond sanitizer faults: a refusal is an NTS_KE_ERROR
 * with a UTF-8 message, and the partial response it leaves keeps to the
 * bounds; an accepted response negotiated NTPv4 and AEAD 15, holds 1 to
 * NTS_PROBE_MAX_COOKIES cookies of 4 to NTS_PROBE_MAX_COOKIE_LEN bytes (a
 * multiple of 4), a server name of printable ASCII without spaces when
 * there is one, a port 1..65535 or none, no Error or Warning; and no
 * proper prefix of it is accepted (End of Message ends it exactly). */
#include "fuzz.h"

#include "nts-ke.h"
#include "probe-wire.h"

static void
check_bounds (const NtsKeResponse *response)
{
  NTS_FUZZ_CHECK (response->cookies->len <= NTS_PROBE_MAX_COOKIES);
  NTS_FUZZ_CHECK (response->cookies->len <= response->cookie_records);
  NTS_FUZZ_CHECK (response->cookie_records <= NTS_KE_MAX_COOKIE_RECORDS);
  for (guint i = 0; i < response->cookies->len; i++)
    {
      gsize length = g_bytes_get_size (response->cookies->pdata[i]);

      NTS_FUZZ_CHECK (length >= 4 && length <= NTS_PROBE_MAX_COOKIE_LEN && length % 4 == 0);
    }
  if (response->server != NULL)
    {
      NTS_FUZZ_CHECK (*response->server != '\0');
      NTS_FUZZ_CHECK (strlen (response->server) <= NTS_KE_MAX_SERVER_NAME);
      for (const char *p = response->server; *p != '\0'; p++)
        NTS_FUZZ_CHECK (g_ascii_isgraph (*p));
    }
  NTS_FUZZ_CHECK (response->port == -1 || (response->port >= 1 && response->port <= 65535));
  NTS_FUZZ_CHECK (response->error_code >= -1 && response->error_code <= 65535);
  NTS_FUZZ_CHECK (response->warning_code >= -1 && response->warning_code <= 65535);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsKeResponse) partial = NULL;
  g_autoptr(NtsKeResponse) response = nts_ke_response_parse (data, size, &partial, &error);

  if (response == NULL)
    {
      nts_fuzz_check_error (error, NTS_KE_ERROR, -1);
      NTS_FUZZ_CHECK (partial != NULL);
      check_bounds (partial);
      return 0;
    }
  NTS_FUZZ_CHECK (error == NULL && partial == NULL);
  check_bounds (response);
  NTS_FUZZ_CHECK (response->ntpv4);
  NTS_FUZZ_CHECK (response->aead == NTS_KE_AEAD_AES_SIV_CMAC_256);
  NTS_FUZZ_CHECK (response->cookies->len >= 1);
  NTS_FUZZ_CHECK (response->error_code == -1 && response->warning_code == -1);
  {
    g_autoptr(GError) prefix_error = NULL;
    g_autoptr(NtsKeResponse) prefix = nts_ke_response_parse (data, size - 1, NULL,
                                                             &prefix_error);

    NTS_FUZZ_CHECK (prefix == NULL);
    NTS_FUZZ_CHECK (g_error_matches (prefix_error, NTS_KE_ERROR, NTS_KE_ERROR_TRUNCATED));
  }
  return 0;
}
