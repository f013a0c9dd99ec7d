/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the NTP reply parser (probe/nts-ntp.c), the datagram an
 * NTS server sends ntssetup-probe, checked against the sample request of
 * tests/nts-codec-samples.h (its keys, Unique Identifier and transmit
 * timestamp).
 *
 * The first byte says what the rest is: even, a reply as received; odd,
 * the plaintext of the encrypted fields, sealed here with the sample s2c
 * key behind a valid header and Unique Identifier, so that the parser of
 * the encrypted fields is reached with any bytes (a mutated reply would
 * almost never authenticate).
 *
 * What is checked beyond sanitizer faults: a refusal is an NTS_NTP_ERROR
 * with a UTF-8 message, and a sealed one is never refused as not ours or
 * as not authenticating; an accepted reply is mode 4 with our origin, a
 * time reply has a stratum and 0 to NTS_PROBE_MAX_COOKIES cookies of 1 to
 * NTS_PROBE_MAX_COOKIE_LEN bytes, a NAK has kiss code NTSN, a kiss a code
 * of 1 to 4 printable characters. */
#include "fuzz.h"

#include "nts-codec-samples.h"
#include "nts-ntp.h"
#include "probe-wire.h"

static void
check_reply (const NtsNtpReply *reply)
{
  NTS_FUZZ_CHECK (reply->origin == NTS_SAMPLE_TRANSMIT);
  NTS_FUZZ_CHECK (reply->cookies->len <= NTS_PROBE_MAX_COOKIES);
  NTS_FUZZ_CHECK (reply->cookies->len <= reply->cookie_fields);
  for (guint i = 0; i < reply->cookies->len; i++)
    {
      gsize length = g_bytes_get_size (reply->cookies->pdata[i]);

      NTS_FUZZ_CHECK (length >= 1 && length <= NTS_PROBE_MAX_COOKIE_LEN);
    }
  switch (reply->kind)
    {
    case NTS_NTP_REPLY_TIME:
      NTS_FUZZ_CHECK (reply->stratum != 0 && reply->kiss[0] == '\0');
      break;
    case NTS_NTP_REPLY_NAK:
      NTS_FUZZ_CHECK (reply->stratum == 0 && strcmp (reply->kiss, "NTSN") == 0);
      break;
    case NTS_NTP_REPLY_KISS:
      NTS_FUZZ_CHECK (reply->stratum == 0);
      NTS_FUZZ_CHECK (strlen (reply->kiss) >= 1 && strlen (reply->kiss) <= 4);
      for (const char *p = reply->kiss; *p != '\0'; p++)
        NTS_FUZZ_CHECK (g_ascii_isgraph (*p));
      break;
    default:
      NTS_FUZZ_CHECK (FALSE);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GByteArray) packet = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsNtpReply) reply = NULL;
  gboolean sealed;

  if (size == 0)
    return 0;
  sealed = data[0] & 1;
  if (sealed)
    {
      nts_sample_ntp_header (packet, 2, "GPS\0");
      nts_ntp_append_field (packet, NTS_NTP_EF_UNIQUE_IDENTIFIER, nts_sample_uid (),
                            NTS_NTP_UID_LEN);
      nts_sample_ntp_authenticate (packet, data + 1, size - 1, 0);
    }
  else
    g_byte_array_append (packet, data + 1, (guint) (size - 1));

  reply = nts_ntp_reply_parse (packet->data, packet->len, nts_sample_s2c (), nts_sample_uid (),
                               NTS_SAMPLE_TRANSMIT, &error);
  if (reply == NULL)
    {
      nts_fuzz_check_error (error, NTS_NTP_ERROR, -1);
      /* Sealed with the right key behind our header: ours and authentic,
       * refused only for what is inside (or a packet over the bound). */
      NTS_FUZZ_CHECK (!sealed || error->code == NTS_NTP_ERROR_MALFORMED);
      return 0;
    }
  NTS_FUZZ_CHECK (error == NULL);
  check_reply (reply);
  NTS_FUZZ_CHECK (!sealed || reply->kind == NTS_NTP_REPLY_TIME);
  return 0;
}
