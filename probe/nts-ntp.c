/* SPDX-License-Identifier: GPL-2.0-or-later */
/* NTPv4 with NTS extension fields (RFC 8915 §5): see nts-ntp.h. */
#include "config.h"

#include "nts-ntp.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <math.h>
#include <string.h>

#include "probe-wire.h"

/* RFC 7822 §7.5: with no MAC, an extension field is at least 16 bytes. */
#define MIN_FIELD_LEN 16u
/* RFC 5297's SIV tag, the first 16 bytes of GnuTLS's output. */
#define SIV_TAG_LEN 16u
/* Padding after the ciphertext beyond the 4-byte alignment: RFC 8915 §5.6
 * allows it only to reach a minimum field length; more is not a reply. */
#define MAX_EXTRA_PADDING 32u
/* 1900-01-01 to 1970-01-01 in seconds. */
#define NTP_UNIX_OFFSET 2208988800.0

G_DEFINE_QUARK (nts_ntp_error_quark, nts_ntp_error)

static gboolean fail (GError **error, NtsNtpError code, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, NtsNtpError code, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, NTS_NTP_ERROR, code, message);
  return FALSE;
}

static guint16
get16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static guint32
get32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static guint64
get64 (const guint8 *p)
{
  return ((guint64) get32 (p) << 32) | get32 (p + 4);
}

static void
put16 (guint8 *p, guint value)
{
  p[0] = (guint8) (value >> 8);
  p[1] = (guint8) value;
}

static gsize
padded (gsize length)
{
  return (length + 3) & ~(gsize) 3;
}

void
nts_ntp_append_field (GByteArray *packet, guint16 type, const guint8 *body, gsize length)
{
  guint8 header[4];

  g_return_if_fail (length % 4 == 0 && length + 4 <= G_MAXUINT16);
  put16 (header, type);
  put16 (header + 2, (guint) (length + 4));
  g_byte_array_append (packet, header, 4);
  g_byte_array_append (packet, body, (guint) length);
}

static gnutls_aead_cipher_hd_t
siv_new (const guint8 key[NTS_NTP_KEY_LEN], GError **error)
{
  gnutls_aead_cipher_hd_t cipher = NULL;
  gnutls_datum_t datum = { (unsigned char *) key, NTS_NTP_KEY_LEN };
  int r;

  /* AEAD_AES_SIV_CMAC_256 is RFC 5297's AES-SIV with two 128-bit keys,
   * which GnuTLS calls AES_128_SIV (its key is the 32 bytes). */
  r = gnutls_aead_cipher_init (&cipher, GNUTLS_CIPHER_AES_128_SIV, &datum);
  if (r < 0)
    {
      fail (error, NTS_NTP_ERROR_CRYPTO, "AES-SIV-CMAC: %s", gnutls_strerror (r));
      return NULL;
    }
  return cipher;
}

gboolean
nts_ntp_append_authenticator (GByteArray *packet, const guint8 key[NTS_NTP_KEY_LEN],
                              const guint8 *nonce, gsize nonce_length, const guint8 *plaintext,
                              gsize plaintext_length, GError **error)
{
  gnutls_aead_cipher_hd_t cipher;
  gsize ciphertext_length = plaintext_length + SIV_TAG_LEN;
  gsize body_length = 4 + padded (nonce_length) + padded (ciphertext_length);
  gsize start = packet->len, out_length = ciphertext_length;
  guint8 *body;
  int r;

  g_return_val_if_fail (nonce_length > 0 && body_length + 4 <= G_MAXUINT16, FALSE);
  cipher = siv_new (key, error);
  if (cipher == NULL)
    return FALSE;

  g_byte_array_set_size (packet, (guint) (start + 4 + body_length));
  memset (packet->data + start, 0, 4 + body_length);
  put16 (packet->data + start, NTS_NTP_EF_AUTHENTICATOR);
  put16 (packet->data + start + 2, (guint) (4 + body_length));
  body = packet->data + start + 4;
  put16 (body, (guint) nonce_length);
  put16 (body + 2, (guint) ciphertext_length);
  memcpy (body + 4, nonce, nonce_length);
  /* The associated data: the packet up to this field. */
  r = gnutls_aead_cipher_encrypt (cipher, nonce, nonce_length, packet->data, start, 0, plaintext,
                                  plaintext_length, body + 4 + padded (nonce_length),
                                  &out_length);
  gnutls_aead_cipher_deinit (cipher);
  if (r < 0 || out_length != ciphertext_length)
    {
      g_byte_array_set_size (packet, (guint) start);
      return fail (error, NTS_NTP_ERROR_CRYPTO, "AES-SIV-CMAC encryption: %s",
                   r < 0 ? gnutls_strerror (r) : "unexpected length");
    }
  return TRUE;
}

GBytes *
nts_ntp_request_build (const guint8 c2s[NTS_NTP_KEY_LEN], GBytes *cookie,
                       const guint8 uid[NTS_NTP_UID_LEN], const guint8 nonce[NTS_NTP_NONCE_LEN],
                       guint64 transmit, GError **error)
{
  g_autoptr(GByteArray) packet = g_byte_array_sized_new (256);
  guint8 header[NTS_NTP_HEADER_LEN] = { 0 };
  gsize cookie_length = g_bytes_get_size (cookie);

  if (cookie_length == 0 || cookie_length % 4 != 0 || cookie_length > NTS_PROBE_MAX_COOKIE_LEN)
    {
      fail (error, NTS_NTP_ERROR_MALFORMED, "cookie of %" G_GSIZE_FORMAT " bytes",
            cookie_length);
      return NULL;
    }

  /* LI 0, version 4, mode 3 (client); everything else zero but the
   * transmit timestamp, which the server echoes as the origin. */
  header[0] = (0 << 6) | (4 << 3) | 3;
  for (int i = 0; i < 8; i++)
    header[40 + i] = (guint8) (transmit >> (56 - 8 * i));
  g_byte_array_append (packet, header, sizeof header);
  nts_ntp_append_field (packet, NTS_NTP_EF_UNIQUE_IDENTIFIER, uid, NTS_NTP_UID_LEN);
  nts_ntp_append_field (packet, NTS_NTP_EF_COOKIE, g_bytes_get_data (cookie, NULL),
                        cookie_length);
  if (!nts_ntp_append_authenticator (packet, c2s, nonce, NTS_NTP_NONCE_LEN, NULL, 0, error))
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&packet));
}

void
nts_ntp_reply_free (NtsNtpReply *reply)
{
  if (reply == NULL)
    return;
  g_ptr_array_unref (reply->cookies);
  g_free (reply);
}

/* The new cookies in the decrypted fields: each field at least 4 bytes, a
 * multiple of 4, inside; cookies of 1..NTS_PROBE_MAX_COOKIE_LEN bytes. */
static gboolean
take_encrypted_fields (NtsNtpReply *reply, const guint8 *data, gsize length, GError **error)
{
  gsize at = 0;

  while (at < length)
    {
      guint type, field_length;

      if (length - at < 4)
        return fail (error, NTS_NTP_ERROR_MALFORMED, "encrypted field cut short");
      type = get16 (data + at);
      field_length = get16 (data + at + 2);
      if (field_length < 4 || field_length % 4 != 0 || field_length > length - at)
        return fail (error, NTS_NTP_ERROR_MALFORMED, "encrypted field of bad length %u",
                     field_length);
      if (type == NTS_NTP_EF_COOKIE)
        {
          gsize cookie_length = field_length - 4;

          if (cookie_length == 0 || cookie_length > NTS_PROBE_MAX_COOKIE_LEN)
            return fail (error, NTS_NTP_ERROR_MALFORMED, "a cookie of %" G_GSIZE_FORMAT " bytes",
                         cookie_length);
          reply->cookie_fields++;
          if (reply->cookies->len < NTS_PROBE_MAX_COOKIES)
            g_ptr_array_add (reply->cookies,
                             nts_probe_secret_bytes_new (data + at + 4, cookie_length));
        }
      at += field_length;
    }
  return TRUE;
}

static gboolean
verify_authenticator (NtsNtpReply *reply, const guint8 *packet, gsize start, gsize field_length,
                      const guint8 key[NTS_NTP_KEY_LEN], GError **error)
{
  const guint8 *body = packet + start + 4;
  gsize body_length = field_length - 4, nonce_length, ciphertext_length, needed;
  gsize plaintext_length, out_length;
  gnutls_aead_cipher_hd_t cipher;
  guint8 *plaintext;
  gboolean ok;
  int r;

  if (body_length < 4)
    return fail (error, NTS_NTP_ERROR_MALFORMED, "authenticator too short");
  nonce_length = get16 (body);
  ciphertext_length = get16 (body + 2);
  needed = 4 + padded (nonce_length) + padded (ciphertext_length);
  if (nonce_length == 0 || ciphertext_length < SIV_TAG_LEN || needed > body_length)
    return fail (error, NTS_NTP_ERROR_MALFORMED,
                 "authenticator's nonce (%" G_GSIZE_FORMAT ") or ciphertext (%" G_GSIZE_FORMAT
                 ") does not fit",
                 nonce_length, ciphertext_length);
  if (body_length - needed > MAX_EXTRA_PADDING)
    return fail (error, NTS_NTP_ERROR_MALFORMED,
                 "authenticator with %" G_GSIZE_FORMAT " bytes of padding",
                 body_length - needed);

  cipher = siv_new (key, error);
  if (cipher == NULL)
    return FALSE;
  plaintext_length = ciphertext_length - SIV_TAG_LEN;
  out_length = plaintext_length;
  /* At least one byte: GnuTLS wants a buffer even for no plaintext. */
  plaintext = g_malloc (plaintext_length + 1);
  r = gnutls_aead_cipher_decrypt (cipher, body + 4, nonce_length, packet, start, 0,
                                  body + 4 + padded (nonce_length), ciphertext_length, plaintext,
                                  &out_length);
  gnutls_aead_cipher_deinit (cipher);
  if (r < 0 || out_length != plaintext_length)
    ok = fail (error, NTS_NTP_ERROR_AUTH, "the authenticator does not verify with the s2c key");
  else
    ok = take_encrypted_fields (reply, plaintext, plaintext_length, error);
  gnutls_memset (plaintext, 0, plaintext_length + 1);
  g_free (plaintext);
  return ok;
}

NtsNtpReply *
nts_ntp_reply_parse (const guint8 *data, gsize length, const guint8 s2c[NTS_NTP_KEY_LEN],
                     const guint8 uid[NTS_NTP_UID_LEN], guint64 transmit, GError **error)
{
  g_autoptr(NtsNtpReply) reply = NULL;
  gboolean uid_seen = FALSE, uid_ours = FALSE;
  gsize at, auth_start = 0, auth_length = 0;
  guint version, mode;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (length < NTS_NTP_HEADER_LEN)
    {
      fail (error, NTS_NTP_ERROR_NOT_OURS, "%" G_GSIZE_FORMAT " bytes: not an NTP packet",
            length);
      return NULL;
    }
  version = (data[0] >> 3) & 7;
  mode = data[0] & 7;
  if (mode != 4 || get64 (data + 24) != transmit)
    {
      fail (error, NTS_NTP_ERROR_NOT_OURS, "not a reply to our request");
      return NULL;
    }
  if (version != 4)
    {
      fail (error, NTS_NTP_ERROR_MALFORMED, "NTP version %u, not 4", version);
      return NULL;
    }
  if (length > NTS_NTP_MAX_PACKET || length % 4 != 0)
    {
      fail (error, NTS_NTP_ERROR_MALFORMED, "reply of %" G_GSIZE_FORMAT " bytes", length);
      return NULL;
    }

  reply = g_new0 (NtsNtpReply, 1);
  reply->cookies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  reply->leap = data[0] >> 6;
  reply->stratum = data[1];
  reply->root_delay = get32 (data + 4);
  reply->root_dispersion = get32 (data + 8);
  reply->origin = get64 (data + 24);
  reply->receive = get64 (data + 32);
  reply->transmit = get64 (data + 40);

  /* The extension fields (RFC 7822): no MAC in an NTS packet, so every
   * byte after the header is in a field; the authenticator comes last. */
  for (at = NTS_NTP_HEADER_LEN; at < length;)
    {
      guint type, field_length;

      if (auth_length != 0)
        {
          fail (error, NTS_NTP_ERROR_MALFORMED, "a field after the authenticator");
          return NULL;
        }
      if (length - at < MIN_FIELD_LEN)
        {
          fail (error, NTS_NTP_ERROR_MALFORMED, "%" G_GSIZE_FORMAT " bytes after the fields",
                length - at);
          return NULL;
        }
      type = get16 (data + at);
      field_length = get16 (data + at + 2);
      if (field_length < MIN_FIELD_LEN || field_length % 4 != 0 || field_length > length - at)
        {
          fail (error, NTS_NTP_ERROR_MALFORMED, "extension field of bad length %u",
                field_length);
          return NULL;
        }
      switch (type)
        {
        case NTS_NTP_EF_UNIQUE_IDENTIFIER:
          if (uid_seen)
            {
              fail (error, NTS_NTP_ERROR_MALFORMED, "a second Unique Identifier");
              return NULL;
            }
          uid_seen = TRUE;
          uid_ours = field_length - 4 == NTS_NTP_UID_LEN &&
                     memcmp (data + at + 4, uid, NTS_NTP_UID_LEN) == 0;
          break;
        case NTS_NTP_EF_AUTHENTICATOR:
          auth_start = at;
          auth_length = field_length;
          break;
        default:
          /* Unencrypted cookies and fields we do not know mean nothing to
           * us (RFC 8915 §5.7): skipped, as chronyd does. */
          break;
        }
      at += field_length;
    }

  if (reply->stratum == 0)
    {
      /* A kiss-o'-death: the code is in the reference id (RFC 5905 §7.4). */
      for (int i = 0; i < 4; i++)
        {
          guint8 c = data[12 + i];

          reply->kiss[i] = g_ascii_isgraph (c) ? (char) c : '\0';
          if (reply->kiss[i] == '\0')
            break;
        }
      if (reply->kiss[0] == '\0')
        g_strlcpy (reply->kiss, "?", sizeof reply->kiss);
      reply->kind = strcmp (reply->kiss, "NTSN") == 0 ? NTS_NTP_REPLY_NAK : NTS_NTP_REPLY_KISS;
    }

  /* A NAK is not authenticated (RFC 8915 §5.7: the server could not read
   * our cookie, so it has no key): our Unique Identifier and origin are
   * what tie it to our request. Another kiss is taken on its origin alone
   * (a server that rate-limits may not look at NTS fields at all), but a
   * Unique Identifier it carries must be ours. Anything else needs ours. */
  if (uid_seen ? !uid_ours : reply->stratum != 0 || reply->kind == NTS_NTP_REPLY_NAK)
    {
      fail (error, NTS_NTP_ERROR_NOT_OURS,
            uid_seen ? "another request's Unique Identifier" : "no Unique Identifier");
      return NULL;
    }
  if (reply->kind == NTS_NTP_REPLY_NAK)
    return g_steal_pointer (&reply);
  if (reply->kind == NTS_NTP_REPLY_KISS)
    {
      /* An authenticated kiss must verify. */
      if (auth_length != 0 &&
          !verify_authenticator (reply, data, auth_start, auth_length, s2c, error))
        return NULL;
      return g_steal_pointer (&reply);
    }

  if (auth_length == 0)
    {
      fail (error, NTS_NTP_ERROR_AUTH, "a reply without an authenticator");
      return NULL;
    }
  if (!verify_authenticator (reply, data, auth_start, auth_length, s2c, error))
    return NULL;
  reply->kind = NTS_NTP_REPLY_TIME;
  return g_steal_pointer (&reply);
}

guint64
nts_ntp_timestamp_from_unix (double unix_time)
{
  double ntp = unix_time + NTP_UNIX_OFFSET;
  double seconds = floor (ntp);
  guint64 fraction = (guint64) ((ntp - seconds) * 4294967296.0);

  if (fraction > G_MAXUINT32)
    fraction = G_MAXUINT32;
  /* Modulo 2^32: era 1 starts in 2036. */
  return ((guint64) (guint32) fmod (seconds, 4294967296.0) << 32) | fraction;
}

double
nts_ntp_timestamp_to_unix (guint64 timestamp)
{
  guint32 seconds = (guint32) (timestamp >> 32);
  double era = seconds >= 0x80000000u ? 0.0 : 4294967296.0;

  return era + seconds - NTP_UNIX_OFFSET + (double) (guint32) timestamp / 4294967296.0;
}
