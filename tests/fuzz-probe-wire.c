/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the messages of ntssetup-probe (probe/probe-wire.c).
 * The daemon parses the probe's answer (the probe talks to servers on
 * the network: what it relays is outside input) and the probe parses the
 * request (anyone who may connect to its socket writes one).
 *
 * The input is one message body, parsed as a request, and as an answer
 * to the fixed request of tests/probe-wire-samples.h, with and without
 * secrets asked for. Checked beyond sanitizer faults: a refusal is
 * G_IO_ERROR_INVALID_DATA with a UTF-8 message; an accepted request has
 * 1..NTS_PROBE_MAX_SERVERS servers and a timeout in range; an accepted
 * answer has one result per server asked, for that server and port, a
 * known phase, printable text, secrets only when asked and only for a
 * success; and whatever is accepted serialises again to a message that
 * parses to the same thing.
 *
 * The seeds (tests/fuzz-corpus/probe-wire/) are written by
 * `test-probe-wire --write-corpus DIR`, from the same samples. */
#include "fuzz.h"

#include <gio/gio.h>
#include <string.h>

#include "probe-wire-samples.h"
#include "probe-wire.h"

static void
check_text (const char *text, gboolean may_be_null)
{
  if (text == NULL)
    {
      NTS_FUZZ_CHECK (may_be_null);
      return;
    }
  NTS_FUZZ_CHECK (strlen (text) <= NTS_PROBE_MAX_TEXT);
  NTS_FUZZ_CHECK (g_utf8_validate (text, -1, NULL));
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    NTS_FUZZ_CHECK (!g_unichar_iscntrl (g_utf8_get_char (p)));
}

static void
check_request (GBytes *bytes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsProbeRequest) request = nts_probe_request_parse (bytes, &error);
  g_autoptr(GBytes) again = NULL;
  g_autoptr(NtsProbeRequest) back = NULL;

  if (request == NULL)
    {
      nts_fuzz_check_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }
  NTS_FUZZ_CHECK (request->servers->len >= 1 && request->servers->len <= NTS_PROBE_MAX_SERVERS);
  NTS_FUZZ_CHECK (request->timeout_ms >= NTS_PROBE_MIN_TIMEOUT_MS &&
                  request->timeout_ms <= NTS_PROBE_MAX_TIMEOUT_MS);
  for (guint i = 0; i < request->servers->len; i++)
    {
      const NtsProbeTarget *target = request->servers->pdata[i];
      NTS_FUZZ_CHECK (target->name[0] != '\0' && strlen (target->name) <= 253);
      check_text (target->name, FALSE);
    }

  again = nts_probe_request_serialize (request);
  back = nts_probe_request_parse (again, &error);
  NTS_FUZZ_CHECK (back != NULL);
  NTS_FUZZ_CHECK (back->servers->len == request->servers->len);
  for (guint i = 0; i < request->servers->len; i++)
    {
      const NtsProbeTarget *a = request->servers->pdata[i], *b = back->servers->pdata[i];
      NTS_FUZZ_CHECK (strcmp (a->name, b->name) == 0 && a->port == b->port);
    }
  NTS_FUZZ_CHECK (g_strcmp0 (back->ca_pem, request->ca_pem) == 0);
  NTS_FUZZ_CHECK (back->timeout_ms == request->timeout_ms);
  NTS_FUZZ_CHECK (back->secrets == request->secrets);
}

static void
check_result (const NtsProbeResult *result, const NtsProbeTarget *target, gboolean secrets)
{
  NTS_FUZZ_CHECK (strcmp (result->server, target->name) == 0);
  NTS_FUZZ_CHECK (result->ke_port == (target->port != 0 ? target->port : 4460));
  NTS_FUZZ_CHECK (result->phase < NTS_PROBE_N_PHASES);
  NTS_FUZZ_CHECK (result->message != NULL && result->message[0] != '\0');
  check_text (result->message, FALSE);
  check_text (result->address, TRUE);
  check_text (result->same_address_as, TRUE);
  check_text (result->cert_subject, TRUE);
  check_text (result->cert_issuer, TRUE);
  check_text (result->ntp_server, TRUE);
  NTS_FUZZ_CHECK (result->stratum <= 16);
  NTS_FUZZ_CHECK (strlen (result->kiss) <= 4);
  NTS_FUZZ_CHECK ((result->kiss[0] != '\0') ==
                  (result->phase == NTS_PROBE_NAK || result->phase == NTS_PROBE_KISS));
  if (result->has_secrets)
    {
      NTS_FUZZ_CHECK (secrets && result->phase == NTS_PROBE_OK);
      NTS_FUZZ_CHECK (result->cookies != NULL && result->cookies->len <= NTS_PROBE_MAX_COOKIES);
      for (guint i = 0; i < result->cookies->len; i++)
        {
          gsize len = g_bytes_get_size (result->cookies->pdata[i]);
          NTS_FUZZ_CHECK (len >= 1 && len <= NTS_PROBE_MAX_COOKIE_LEN);
        }
    }
  else
    NTS_FUZZ_CHECK (result->cookies == NULL);
}

static void
check_answer (GBytes *bytes, gboolean secrets)
{
  g_autoptr(NtsProbeRequest) request = nts_sample_request (secrets);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = nts_probe_answer_parse (bytes, request, &error);
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GPtrArray) back = NULL;

  if (results == NULL)
    {
      nts_fuzz_check_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      return;
    }
  NTS_FUZZ_CHECK (results->len == request->servers->len);
  for (guint i = 0; i < results->len; i++)
    check_result (results->pdata[i], request->servers->pdata[i], secrets);

  /* What the daemon would pass on (D-Bus, LastResult) serialises and
   * parses back to the same. */
  again = nts_probe_answer_serialize (results);
  back = nts_probe_answer_parse (again, request, &error);
  NTS_FUZZ_CHECK (back != NULL && back->len == results->len);
  for (guint i = 0; i < results->len; i++)
    {
      g_autoptr(GVariant) a = g_variant_ref_sink (
        nts_probe_result_to_variant (results->pdata[i], TRUE));
      g_autoptr(GVariant) b = g_variant_ref_sink (
        nts_probe_result_to_variant (back->pdata[i], TRUE));
      NTS_FUZZ_CHECK (g_variant_equal (a, b));
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* Aligned as the daemon's frames are (g_malloc). */
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);

  check_request (bytes);
  check_answer (bytes, TRUE);
  check_answer (bytes, FALSE);
  return 0;
}
