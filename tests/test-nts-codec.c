/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The RFC 8915 codecs of ntssetup-probe (probe/nts-ke.c, probe/nts-ntp.c)
 * on their own: the NTS-KE request byte for byte, responses accepted and
 * each kind of bad one refused with its reason, the NTP request checked as
 * a server would check it, and replies made here as a server would make
 * them (AES-SIV with a known key): accepted, tampered, not ours, NAK and
 * kiss.
 *
 * Run with --write-corpus DIR, it writes the fuzzers' seeds
 * (tests/fuzz-corpus/nts-ke/ and nts-ntp/ under DIR) from
 * tests/nts-codec-samples.h; /nts-codec/corpus checks that the tree's
 * seeds are what the samples make. */
#include "config.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "nts-codec-samples.h"
#include "nts-ke.h"
#include "nts-ntp.h"
#include "probe-wire.h"

/* ---- NTS-KE -------------------------------------------------------------- */

static void
test_ke_request (void)
{
  g_autoptr(GBytes) request = nts_ke_request_build ();
  const guint8 expected[] = {
    0x80, 0x01, 0x00, 0x02, 0x00, 0x00, /* Next Protocol: NTPv4, critical */
    0x80, 0x04, 0x00, 0x02, 0x00, 0x0f, /* AEAD: AES-SIV-CMAC-256, critical */
    0x80, 0x00, 0x00, 0x00,             /* End of Message, critical */
  };
  gsize length;
  const guint8 *data = g_bytes_get_data (request, &length);

  g_assert_cmpmem (data, length, expected, sizeof expected);
}

static NtsKeResponse *
parse_ke (GByteArray *bytes, NtsKeResponse **partial, GError **error)
{
  return nts_ke_response_parse (bytes->data, bytes->len, partial, error);
}

static void
test_ke_good (void)
{
  g_autoptr(GByteArray) bytes = nts_sample_ke_response (8, "ntp.example", 1234, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsKeResponse) response = parse_ke (bytes, NULL, &error);
  gsize length;
  const guint8 *cookie;

  g_assert_no_error (error);
  g_assert_cmpuint (response->aead, ==, 15);
  g_assert_true (response->ntpv4);
  g_assert_cmpuint (response->cookies->len, ==, 8);
  g_assert_cmpuint (response->cookie_records, ==, 8);
  cookie = g_bytes_get_data (response->cookies->pdata[3], &length);
  g_assert_cmpuint (length, ==, 100);
  g_assert_cmpuint (cookie[0], ==, 3);
  g_assert_cmpstr (response->server, ==, "ntp.example");
  g_assert_cmpint (response->port, ==, 1234);
  g_assert_cmpint (response->error_code, ==, -1);
  g_assert_cmpint (response->warning_code, ==, -1);

  /* No server or port negotiated; an IPv6 literal as the server. */
  {
    g_autoptr(GByteArray) plain = nts_sample_ke_response (1, NULL, 0, TRUE);
    g_autoptr(GByteArray) v6 = nts_sample_ke_response (1, "2001:db8::1", 0, TRUE);
    g_autoptr(NtsKeResponse) a = parse_ke (plain, NULL, &error);
    g_autoptr(NtsKeResponse) b = NULL;

    g_assert_no_error (error);
    g_assert_null (a->server);
    g_assert_cmpint (a->port, ==, -1);
    b = parse_ke (v6, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (b->server, ==, "2001:db8::1");
  }

  /* Port 0, as chronyd sends with `port 0`: the default, as chronyd's
   * client takes it. */
  {
    g_autoptr(GByteArray) zero = nts_sample_ke_response (1, NULL, 0, FALSE);
    g_autoptr(NtsKeResponse) z = NULL;

    nts_sample_ke_u16 (zero, 0x8007, 0);
    nts_sample_ke_record (zero, 0x8000, NULL, 0);
    z = parse_ke (zero, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (z->port, ==, -1);
    g_assert_true (z->port_record);
  }

  /* An unknown record that is not critical is skipped (RFC 8915 §4). */
  {
    g_autoptr(GByteArray) extra = nts_sample_ke_response (1, NULL, 0, FALSE);
    g_autoptr(NtsKeResponse) c = NULL;

    nts_sample_ke_record (extra, 0x4000, "abc", 3);
    nts_sample_ke_record (extra, 0x8000, NULL, 0);
    c = parse_ke (extra, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (c->cookies->len, ==, 1);
  }
}

static void
assert_ke_refused (GByteArray *bytes, NtsKeError code, const char *reason)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsKeResponse) partial = NULL;
  g_autoptr(NtsKeResponse) response = parse_ke (bytes, &partial, &error);

  g_assert_null (response);
  g_assert_error (error, NTS_KE_ERROR, (gint) code);
  g_assert_nonnull (strstr (error->message, reason));
  g_assert_nonnull (partial);
}

static void
test_ke_truncated (void)
{
  g_autoptr(GByteArray) bytes = nts_sample_ke_response (8, "ntp.example", 1234, TRUE);

  /* Every prefix: more is needed. */
  for (guint cut = 0; cut < bytes->len; cut++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(NtsKeResponse) response = nts_ke_response_parse (bytes->data, cut, NULL, &error);

      g_assert_null (response);
      g_assert_error (error, NTS_KE_ERROR, NTS_KE_ERROR_TRUNCATED);
    }
  {
    g_autoptr(GByteArray) no_end = nts_sample_ke_response (8, NULL, 0, FALSE);
    assert_ke_refused (no_end, NTS_KE_ERROR_TRUNCATED, "no End of Message");
  }
}

static void
test_ke_refused (void)
{
  {
    g_autoptr(GByteArray) bytes = g_byte_array_new ();
    g_byte_array_set_size (bytes, NTS_KE_MAX_RESPONSE + 1);
    memset (bytes->data, 0, bytes->len);
    assert_ke_refused (bytes, NTS_KE_ERROR_MALFORMED, "over");
  }
  {
    /* A record claiming more than the bound, whose body never fits. */
    g_autoptr(GByteArray) bytes = nts_sample_ke_response (1, NULL, 0, FALSE);
    guint8 header[4] = { 0x00, 0x05, 0xff, 0xff };
    g_byte_array_append (bytes, header, 4);
    assert_ke_refused (bytes, NTS_KE_ERROR_TRUNCATED, "inside a record");
  }
  {
    g_autoptr(GByteArray) bytes = nts_sample_ke_response (1, NULL, 0, FALSE);
    nts_sample_ke_record (bytes, 0x8000 | 42, "x", 1);
    nts_sample_ke_record (bytes, 0x8000, NULL, 0);
    assert_ke_refused (bytes, NTS_KE_ERROR_MALFORMED, "unknown critical record type 42");
  }
  {
    g_autoptr(GByteArray) bytes = nts_sample_ke_response (1, NULL, 0, FALSE);
    nts_sample_ke_record (bytes, 0x8007, "\x01\x02\x03", 3);
    nts_sample_ke_record (bytes, 0x8000, NULL, 0);
    assert_ke_refused (bytes, NTS_KE_ERROR_MALFORMED, "bad NTPv4 Port");
  }
  {
    g_autoptr(GByteArray) bytes = nts_sample_ke_response (1, NULL, 123, FALSE);
    nts_sample_ke_u16 (bytes, 0x8007, 124);
    nts_sample_ke_record (bytes, 0x8000, NULL, 0);
    assert_ke_refused (bytes, NTS_KE_ERROR_MALFORMED, "a second NTPv4 Port");
  }
  {
    g_autoptr(GByteArray) bytes = nts_sample_ke_response (1, "ntp example", 0, TRUE);
    assert_ke_refused (bytes, NTS_KE_ERROR_MALFORMED, "not a host name");
  }
  {
    g_autoptr(GByteArray) bytes = nts_sample_ke_response (NTS_KE_MAX_COOKIE_RECORDS + 1, NULL, 0,
                                                          TRUE);
    assert_ke_refused (bytes, NTS_KE_ERROR_MALFORMED, "more than 64 cookies");
  }
  {
    g_autoptr(GByteArray) bytes = nts_sample_ke_response (0, NULL, 0, TRUE);
    assert_ke_refused (bytes, NTS_KE_ERROR_UNSUPPORTED, "no cookies");
  }
  {
    g_autoptr(GByteArray) bytes = nts_sample_ke_response (1, NULL, 0, TRUE);
    nts_sample_ke_u16 (bytes, 0x8000, 0);
    assert_ke_refused (bytes, NTS_KE_ERROR_MALFORMED, "after End of Message");
  }
  {
    g_autoptr(GByteArray) bytes = g_byte_array_new ();
    nts_sample_ke_u16 (bytes, 0x8001, 0);
    nts_sample_ke_u16 (bytes, 0x8004, 16);
    nts_sample_ke_record (bytes, 0x8000, NULL, 0);
    assert_ke_refused (bytes, NTS_KE_ERROR_UNSUPPORTED, "AEAD 16");
  }
  {
    g_autoptr(GByteArray) bytes = g_byte_array_new ();
    nts_sample_ke_u16 (bytes, 0x0001, 0);
    nts_sample_ke_record (bytes, 0x8000, NULL, 0);
    assert_ke_refused (bytes, NTS_KE_ERROR_MALFORMED, "not critical");
  }
}

static void
test_ke_cookie_bounds (void)
{
  /* More than we keep: the first NTS_PROBE_MAX_COOKIES, all counted. */
  g_autoptr(GByteArray) bytes = nts_sample_ke_response (9, NULL, 0, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsKeResponse) response = parse_ke (bytes, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (response->cookies->len, ==, NTS_PROBE_MAX_COOKIES);
  g_assert_cmpuint (response->cookie_records, ==, 9);

  {
    g_autoptr(GByteArray) big = nts_sample_ke_response (0, NULL, 0, FALSE);
    g_autofree guint8 *cookie = g_malloc0 (NTS_PROBE_MAX_COOKIE_LEN + 4);
    nts_sample_ke_record (big, 5, cookie, NTS_PROBE_MAX_COOKIE_LEN + 4);
    nts_sample_ke_record (big, 0x8000, NULL, 0);
    assert_ke_refused (big, NTS_KE_ERROR_MALFORMED, "a cookie of 1028 bytes");
  }
}

static void
test_ke_server_error (void)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsKeResponse) partial = NULL;
  g_autoptr(NtsKeResponse) response = NULL;

  nts_sample_ke_u16 (bytes, 0x8002, 1);
  nts_sample_ke_record (bytes, 0x8000, NULL, 0);
  response = parse_ke (bytes, &partial, &error);
  g_assert_null (response);
  g_assert_error (error, NTS_KE_ERROR, NTS_KE_ERROR_SERVER_ERROR);
  g_assert_nonnull (strstr (error->message, "Error 1 (bad request)"));
  g_assert_cmpint (partial->error_code, ==, 1);

  {
    g_autoptr(GByteArray) warning = nts_sample_ke_response (8, NULL, 0, FALSE);
    nts_sample_ke_u16 (warning, 0x8003, 7);
    nts_sample_ke_record (warning, 0x8000, NULL, 0);
    assert_ke_refused (warning, NTS_KE_ERROR_SERVER_WARNING, "Warning 7");
  }
}

/* ---- NTP ----------------------------------------------------------------- */

static GBytes *
sample_cookie (void)
{
  guint8 cookie[100];

  nts_sample_fill (cookie, sizeof cookie, 0x33);
  return g_bytes_new (cookie, sizeof cookie);
}

/* The request as the server reads it: header, Unique Identifier, cookie,
 * and an authenticator that verifies with c2s over all before it. */
static void
test_ntp_request (void)
{
  g_autoptr(GBytes) cookie = sample_cookie ();
  g_autoptr(GError) error = NULL;
  guint8 nonce[NTS_NTP_NONCE_LEN];
  g_autoptr(GBytes) request = NULL;
  const guint8 *p;
  gsize length, auth;
  gnutls_aead_cipher_hd_t cipher;
  gnutls_datum_t key = { (unsigned char *) nts_sample_c2s (), NTS_NTP_KEY_LEN };
  guint8 plaintext[1];
  size_t plaintext_length = sizeof plaintext;

  nts_sample_fill (nonce, sizeof nonce, 0x50);
  request = nts_ntp_request_build (nts_sample_c2s (), cookie, nts_sample_uid (), nonce,
                                   NTS_SAMPLE_TRANSMIT, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (request, &length);
  auth = 48 + 36 + 104;
  g_assert_cmpuint (length, ==, auth + 4 + 4 + 16 + 16);
  g_assert_cmpuint (p[0], ==, 0x23); /* LI 0, version 4, mode 3 */
  g_assert_cmpuint (p[40], ==, 0x01);
  g_assert_cmpuint (p[47], ==, 0xef);
  g_assert_cmpmem (p + 48, 4, "\x01\x04\x00\x24", 4);
  g_assert_cmpmem (p + 52, 32, nts_sample_uid (), 32);
  g_assert_cmpmem (p + 84, 4, "\x02\x04\x00\x68", 4);
  g_assert_cmpmem (p + 88, 100, g_bytes_get_data (cookie, NULL), 100);
  g_assert_cmpmem (p + auth, 8, "\x04\x04\x00\x28\x00\x10\x00\x10", 8);
  g_assert_cmpmem (p + auth + 8, 16, nonce, 16);

  g_assert_cmpint (gnutls_aead_cipher_init (&cipher, GNUTLS_CIPHER_AES_128_SIV, &key), ==, 0);
  g_assert_cmpint (gnutls_aead_cipher_decrypt (cipher, nonce, 16, p, auth, 0, p + auth + 24, 16,
                                               plaintext, &plaintext_length),
                   ==, 0);
  g_assert_cmpuint (plaintext_length, ==, 0);
  /* Any byte of the associated data changed: it no longer verifies. */
  {
    g_autofree guint8 *copy = g_memdup2 (p, length);
    copy[47] ^= 1;
    plaintext_length = sizeof plaintext;
    g_assert_cmpint (gnutls_aead_cipher_decrypt (cipher, nonce, 16, copy, auth, 0,
                                                 copy + auth + 24, 16, plaintext,
                                                 &plaintext_length),
                     <, 0);
  }
  gnutls_aead_cipher_deinit (cipher);

  /* A cookie no extension field can hold unpadded is not sent. */
  {
    g_autoptr(GBytes) odd = g_bytes_new ("abcde", 5);
    g_autoptr(GBytes) none = nts_ntp_request_build (nts_sample_c2s (), odd, nts_sample_uid (),
                                                    nonce, 1, &error);
    g_assert_null (none);
    g_assert_error (error, NTS_NTP_ERROR, NTS_NTP_ERROR_MALFORMED);
  }
}

static NtsNtpReply *
parse_reply (GByteArray *bytes, GError **error)
{
  return nts_ntp_reply_parse (bytes->data, bytes->len, nts_sample_s2c (), nts_sample_uid (),
                              NTS_SAMPLE_TRANSMIT, error);
}

static void
assert_reply_refused (GByteArray *bytes, NtsNtpError code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsNtpReply) reply = parse_reply (bytes, &error);

  g_assert_null (reply);
  g_assert_error (error, NTS_NTP_ERROR, (gint) code);
}

static void
test_ntp_reply (void)
{
  g_autoptr(GByteArray) bytes = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_TIME, 3);
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsNtpReply) reply = parse_reply (bytes, &error);
  const guint8 *cookie;
  gsize length;

  g_assert_no_error (error);
  g_assert_cmpint (reply->kind, ==, NTS_NTP_REPLY_TIME);
  g_assert_cmpuint (reply->stratum, ==, 2);
  g_assert_cmpuint (reply->origin, ==, NTS_SAMPLE_TRANSMIT);
  g_assert_cmpuint (reply->cookie_fields, ==, 3);
  g_assert_cmpuint (reply->cookies->len, ==, 3);
  cookie = g_bytes_get_data (reply->cookies->pdata[2], &length);
  g_assert_cmpuint (length, ==, 100);
  g_assert_cmpuint (cookie[0], ==, 0x12);
  g_assert_cmpstr (reply->kiss, ==, "");
  /* 2024-01-01T00:00:00Z, 1 ms apart. */
  g_assert_cmpfloat_with_epsilon (nts_ntp_timestamp_to_unix (reply->receive), 1704067200.0,
                                  1e-6);
  g_assert_cmpfloat_with_epsilon (nts_ntp_timestamp_to_unix (reply->transmit) -
                                    nts_ntp_timestamp_to_unix (reply->receive),
                                  0.001, 1e-6);

  /* More cookies than we keep: the first NTS_PROBE_MAX_COOKIES, all counted. */
  {
    g_autoptr(GByteArray) many = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_TIME, 10);
    g_autoptr(NtsNtpReply) r = parse_reply (many, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (r->cookies->len, ==, NTS_PROBE_MAX_COOKIES);
    g_assert_cmpuint (r->cookie_fields, ==, 10);
  }
}

static void
test_ntp_tampered (void)
{
  g_autoptr(GByteArray) good = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_TIME, 1);

  /* Each byte of the header but the origin (which says whose reply it
   * is), and each byte of the authenticator's nonce and ciphertext. */
  for (guint i = 0; i < good->len; i++)
    {
      g_autoptr(GByteArray) bytes = g_byte_array_new ();
      gboolean in_header = i < 48 && (i < 24 || i >= 32) && i != 0;
      gboolean in_sealed = i >= 48 + 36 + 8;

      if (!in_header && !in_sealed)
        continue;
      g_byte_array_append (bytes, good->data, good->len);
      bytes->data[i] ^= 0x01;
      assert_reply_refused (bytes, NTS_NTP_ERROR_AUTH);
    }
}

static void
test_ntp_not_ours (void)
{
  g_autoptr(GByteArray) good = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_TIME, 1);
  g_autoptr(GError) error = NULL;
  guint8 other_uid[NTS_NTP_UID_LEN] = { 0 };
  g_autoptr(NtsNtpReply) reply = NULL;

  /* Another request's Unique Identifier or transmit timestamp. */
  reply = nts_ntp_reply_parse (good->data, good->len, nts_sample_s2c (), other_uid,
                               NTS_SAMPLE_TRANSMIT, &error);
  g_assert_null (reply);
  g_assert_error (error, NTS_NTP_ERROR, NTS_NTP_ERROR_NOT_OURS);
  g_clear_error (&error);
  reply = nts_ntp_reply_parse (good->data, good->len, nts_sample_s2c (), nts_sample_uid (),
                               NTS_SAMPLE_TRANSMIT + 1, &error);
  g_assert_null (reply);
  g_assert_error (error, NTS_NTP_ERROR, NTS_NTP_ERROR_NOT_OURS);
  g_clear_error (&error);

  /* A request, not a reply. */
  {
    g_autoptr(GByteArray) bytes = g_byte_array_new ();
    g_byte_array_append (bytes, good->data, good->len);
    bytes->data[0] = 0x23;
    assert_reply_refused (bytes, NTS_NTP_ERROR_NOT_OURS);
  }
  /* The wrong key: ours, but it does not authenticate. */
  reply = nts_ntp_reply_parse (good->data, good->len, nts_sample_c2s (), nts_sample_uid (),
                               NTS_SAMPLE_TRANSMIT, &error);
  g_assert_null (reply);
  g_assert_error (error, NTS_NTP_ERROR, NTS_NTP_ERROR_AUTH);
}

static void
test_ntp_malformed (void)
{
  {
    /* No authenticator. */
    g_autoptr(GByteArray) bytes = g_byte_array_new ();
    nts_sample_ntp_header (bytes, 2, "GPS\0");
    nts_ntp_append_field (bytes, NTS_NTP_EF_UNIQUE_IDENTIFIER, nts_sample_uid (),
                          NTS_NTP_UID_LEN);
    assert_reply_refused (bytes, NTS_NTP_ERROR_AUTH);
  }
  {
    /* A field after the authenticator. */
    g_autoptr(GByteArray) bytes = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_TIME, 1);
    guint8 body[12] = { 0 };
    nts_ntp_append_field (bytes, 0x0f00, body, sizeof body);
    assert_reply_refused (bytes, NTS_NTP_ERROR_MALFORMED);
  }
  {
    /* A field whose length runs past the packet. */
    g_autoptr(GByteArray) bytes = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_TIME, 1);
    bytes->data[48 + 3] = 0xfc;
    assert_reply_refused (bytes, NTS_NTP_ERROR_MALFORMED);
  }
  {
    /* A field shorter than RFC 7822's 16 bytes. */
    g_autoptr(GByteArray) bytes = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_TIME, 1);
    guint8 body[8] = { 0 };
    g_autoptr(GByteArray) short_field = g_byte_array_new ();
    g_byte_array_append (short_field, bytes->data, 48 + 36);
    nts_ntp_append_field (short_field, 0x0f00, body, sizeof body);
    assert_reply_refused (short_field, NTS_NTP_ERROR_MALFORMED);
  }
  {
    /* A second Unique Identifier. */
    g_autoptr(GByteArray) bytes = g_byte_array_new ();
    nts_sample_ntp_header (bytes, 2, "GPS\0");
    nts_ntp_append_field (bytes, NTS_NTP_EF_UNIQUE_IDENTIFIER, nts_sample_uid (),
                          NTS_NTP_UID_LEN);
    nts_ntp_append_field (bytes, NTS_NTP_EF_UNIQUE_IDENTIFIER, nts_sample_uid (),
                          NTS_NTP_UID_LEN);
    nts_sample_ntp_authenticate (bytes, NULL, 0, 1);
    assert_reply_refused (bytes, NTS_NTP_ERROR_MALFORMED);
  }
  {
    /* Encrypted fields that do not parse: a cookie field of length 2. */
    g_autoptr(GByteArray) bytes = g_byte_array_new ();
    const guint8 inner[8] = { 0x02, 0x04, 0x00, 0x02, 0, 0, 0, 0 };
    nts_sample_ntp_header (bytes, 2, "GPS\0");
    nts_ntp_append_field (bytes, NTS_NTP_EF_UNIQUE_IDENTIFIER, nts_sample_uid (),
                          NTS_NTP_UID_LEN);
    nts_sample_ntp_authenticate (bytes, inner, sizeof inner, 0);
    assert_reply_refused (bytes, NTS_NTP_ERROR_MALFORMED);
  }
}

static void
test_ntp_kiss (void)
{
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(GByteArray) bytes = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_NAK, 0);
    g_autoptr(NtsNtpReply) reply = parse_reply (bytes, &error);
    g_assert_no_error (error);
    g_assert_cmpint (reply->kind, ==, NTS_NTP_REPLY_NAK);
    g_assert_cmpstr (reply->kiss, ==, "NTSN");
  }
  {
    /* A NAK without our Unique Identifier is anyone's. */
    g_autoptr(GByteArray) bytes = g_byte_array_new ();
    guint8 other_uid[NTS_NTP_UID_LEN] = { 0 };
    nts_sample_ntp_header (bytes, 0, "NTSN");
    assert_reply_refused (bytes, NTS_NTP_ERROR_NOT_OURS);
    nts_ntp_append_field (bytes, NTS_NTP_EF_UNIQUE_IDENTIFIER, other_uid, sizeof other_uid);
    assert_reply_refused (bytes, NTS_NTP_ERROR_NOT_OURS);
  }
  {
    g_autoptr(GByteArray) bytes = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_RATE, 0);
    g_autoptr(NtsNtpReply) reply = parse_reply (bytes, &error);
    g_assert_no_error (error);
    g_assert_cmpint (reply->kind, ==, NTS_NTP_REPLY_KISS);
    g_assert_cmpstr (reply->kiss, ==, "RATE");
  }
}

static void
test_timestamps (void)
{
  /* Unix 0, 2024-01-01 and past 2036's era change. */
  const double times[] = { 0.0, 1704067200.5, 2085978496.25, 2200000000.0 };

  for (guint i = 0; i < G_N_ELEMENTS (times); i++)
    g_assert_cmpfloat_with_epsilon (nts_ntp_timestamp_to_unix (
                                      nts_ntp_timestamp_from_unix (times[i])),
                                    times[i], 1e-6);
  g_assert_cmpuint (nts_ntp_timestamp_from_unix (0.0) >> 32, ==, 2208988800u);
}

/* ---- seeds --------------------------------------------------------------- */

/* tests/fuzz-nts-ntp.c's input: a first byte 0 for a reply, 1 for the
 * plaintext of one (sealed with the sample key there). */
static GBytes *
ntp_seed (guint8 mode, GByteArray *bytes)
{
  GByteArray *seed = g_byte_array_new ();

  g_byte_array_append (seed, &mode, 1);
  g_byte_array_append (seed, bytes->data, bytes->len);
  return g_byte_array_free_to_bytes (seed);
}

/* "nts-ke/NAME" or "nts-ntp/NAME" -> the seed's bytes. */
static GHashTable *
corpus_files (void)
{
  GHashTable *files = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) g_bytes_unref);
  g_autoptr(GByteArray) ke_good = nts_sample_ke_response (8, NULL, 0, TRUE);
  g_autoptr(GByteArray) ke_negotiated = nts_sample_ke_response (8, "ntp.example", 1234, TRUE);
  g_autoptr(GByteArray) ke_error = g_byte_array_new ();
  g_autoptr(GByteArray) reply = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_TIME, 2);
  g_autoptr(GByteArray) nak = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_NAK, 0);
  g_autoptr(GByteArray) rate = nts_sample_ntp_reply (NTS_SAMPLE_REPLY_RATE, 0);
  g_autoptr(GByteArray) inner = g_byte_array_new ();
  guint8 cookie[100];

  nts_sample_ke_u16 (ke_error, 0x8002, 2);
  nts_sample_ke_record (ke_error, 0x8000, NULL, 0);
  nts_sample_fill (cookie, sizeof cookie, 0x10);
  nts_ntp_append_field (inner, NTS_NTP_EF_COOKIE, cookie, sizeof cookie);
  nts_ntp_append_field (inner, 0x0f00, cookie, 12);

  g_hash_table_insert (files, "nts-ke/good", g_bytes_new (ke_good->data, ke_good->len));
  g_hash_table_insert (files, "nts-ke/negotiated",
                       g_bytes_new (ke_negotiated->data, ke_negotiated->len));
  g_hash_table_insert (files, "nts-ke/error", g_bytes_new (ke_error->data, ke_error->len));
  g_hash_table_insert (files, "nts-ntp/reply", ntp_seed (0, reply));
  g_hash_table_insert (files, "nts-ntp/nak", ntp_seed (0, nak));
  g_hash_table_insert (files, "nts-ntp/rate", ntp_seed (0, rate));
  g_hash_table_insert (files, "nts-ntp/sealed-fields", ntp_seed (1, inner));
  return files;
}

static void
test_corpus (void)
{
  g_autoptr(GHashTable) files = corpus_files ();
  GHashTableIter iter;
  gpointer name, bytes;

  g_hash_table_iter_init (&iter, files);
  while (g_hash_table_iter_next (&iter, &name, &bytes))
    {
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fuzz-corpus", name, NULL);
      g_autofree char *contents = NULL;
      g_autoptr(GBytes) in_tree = NULL;
      gsize length = 0;

      if (!g_file_get_contents (path, &contents, &length, NULL))
        g_error ("%s missing: run test-nts-codec --write-corpus tests/fuzz-corpus", path);
      in_tree = g_bytes_new_static (contents, length);
      if (!g_bytes_equal (bytes, in_tree))
        g_error ("%s differs from what the samples make: run test-nts-codec --write-corpus "
                 "tests/fuzz-corpus",
                 path);
    }
}

static int
write_corpus (const char *dir)
{
  g_autoptr(GHashTable) files = corpus_files ();
  GHashTableIter iter;
  gpointer name, bytes;

  g_hash_table_iter_init (&iter, files);
  while (g_hash_table_iter_next (&iter, &name, &bytes))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *parent = g_path_get_dirname (path);
      g_autoptr(GError) error = NULL;
      gsize length;
      const char *data = g_bytes_get_data (bytes, &length);

      if (g_mkdir_with_parents (parent, 0755) < 0 ||
          !g_file_set_contents (path, data, (gssize) length, &error))
        {
          g_printerr ("%s: %s\n", path, error != NULL ? error->message : g_strerror (errno));
          return 1;
        }
    }
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 3 && strcmp (argv[1], "--write-corpus") == 0)
    return write_corpus (argv[2]);

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nts-codec/ke/request", test_ke_request);
  g_test_add_func ("/nts-codec/ke/good", test_ke_good);
  g_test_add_func ("/nts-codec/ke/truncated", test_ke_truncated);
  g_test_add_func ("/nts-codec/ke/refused", test_ke_refused);
  g_test_add_func ("/nts-codec/ke/cookie-bounds", test_ke_cookie_bounds);
  g_test_add_func ("/nts-codec/ke/server-error", test_ke_server_error);
  g_test_add_func ("/nts-codec/ntp/request", test_ntp_request);
  g_test_add_func ("/nts-codec/ntp/reply", test_ntp_reply);
  g_test_add_func ("/nts-codec/ntp/tampered", test_ntp_tampered);
  g_test_add_func ("/nts-codec/ntp/not-ours", test_ntp_not_ours);
  g_test_add_func ("/nts-codec/ntp/malformed", test_ntp_malformed);
  g_test_add_func ("/nts-codec/ntp/kiss", test_ntp_kiss);
  g_test_add_func ("/nts-codec/timestamps", test_timestamps);
  g_test_add_func ("/nts-codec/corpus", test_corpus);
  return g_test_run ();
}
