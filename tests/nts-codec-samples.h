/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sample NTS-KE responses and NTP replies, made with the probe's own
 * codecs (probe/nts-ke.h, probe/nts-ntp.h) and fixed keys, for
 * tests/test-nts-codec.c, which checks them and writes them out as the
 * fuzzers' seeds (--write-corpus), and for tests/fuzz-nts-ke.c and
 * tests/fuzz-nts-ntp.c, which parse with the same keys. So the seeds are
 * made by code, never by hand, and stay inputs the fuzzers' parsers
 * accept. AES-SIV is deterministic: the same bytes every time. */
#pragma once

#include <string.h>

#include "nts-ntp.h"

/* The keys, Unique Identifier and transmit timestamp of the request the
 * sample replies answer. */
#define NTS_SAMPLE_TRANSMIT G_GUINT64_CONSTANT (0x0123456789abcdef)

static inline void
nts_sample_fill (guint8 *out, gsize length, guint8 first)
{
  for (gsize i = 0; i < length; i++)
    out[i] = (guint8) (first + i);
}

static inline const guint8 *
nts_sample_s2c (void)
{
  static guint8 key[NTS_NTP_KEY_LEN];

  nts_sample_fill (key, sizeof key, 0x40);
  return key;
}

static inline const guint8 *
nts_sample_c2s (void)
{
  static guint8 key[NTS_NTP_KEY_LEN];

  nts_sample_fill (key, sizeof key, 0x80);
  return key;
}

static inline const guint8 *
nts_sample_uid (void)
{
  static guint8 uid[NTS_NTP_UID_LEN];

  nts_sample_fill (uid, sizeof uid, 0xc0);
  return uid;
}

/* ---- NTS-KE -------------------------------------------------------------- */

static inline void
nts_sample_ke_record (GByteArray *out, guint type, const void *body, guint16 length)
{
  guint8 header[4] = { (guint8) (type >> 8), (guint8) type, (guint8) (length >> 8),
                       (guint8) length };

  g_byte_array_append (out, header, 4);
  if (length > 0)
    g_byte_array_append (out, body, length);
}

static inline void
nts_sample_ke_u16 (GByteArray *out, guint type, guint value)
{
  guint8 body[2] = { (guint8) (value >> 8), (guint8) value };

  nts_sample_ke_record (out, type, body, 2);
}

/* A response as chronyd sends it: Next Protocol NTPv4 and AEAD 15
 * (critical), @cookies cookies of 100 bytes, with @server and @port when
 * given (port 0: none), and End of Message when @end. */
static inline GByteArray *
nts_sample_ke_response (guint cookies, const char *server, guint port, gboolean end)
{
  GByteArray *out = g_byte_array_new ();
  guint8 cookie[100];

  nts_sample_ke_u16 (out, 0x8001, 0);
  nts_sample_ke_u16 (out, 0x8004, 15);
  for (guint i = 0; i < cookies; i++)
    {
      nts_sample_fill (cookie, sizeof cookie, (guint8) i);
      nts_sample_ke_record (out, 5, cookie, sizeof cookie);
    }
  if (server != NULL)
    nts_sample_ke_record (out, 0x8006, server, (guint16) strlen (server));
  if (port != 0)
    nts_sample_ke_u16 (out, 0x8007, port);
  if (end)
    nts_sample_ke_record (out, 0x8000, NULL, 0);
  return out;
}

/* ---- NTP ----------------------------------------------------------------- */

typedef enum {
  NTS_SAMPLE_REPLY_TIME, /* stratum 2, authenticated, @cookies new cookies */
  NTS_SAMPLE_REPLY_NAK,  /* kiss NTSN, our Unique Identifier, no authenticator */
  NTS_SAMPLE_REPLY_RATE, /* kiss RATE, no NTS fields at all */
} NtsSampleReply;

/* The 48-byte header of a reply to the sample request. */
static inline void
nts_sample_ntp_header (GByteArray *out, guint stratum, const char *refid)
{
  guint8 header[NTS_NTP_HEADER_LEN] = { 0 };
  guint64 origin = NTS_SAMPLE_TRANSMIT;
  /* 2024-01-01 and 1 ms later, in NTP era 0. */
  guint64 receive = G_GUINT64_CONSTANT (0xe93c7f0000000000);
  guint64 transmit = receive + G_GUINT64_CONSTANT (0x00418937);

  header[0] = (0 << 6) | (4 << 3) | 4;
  header[1] = (guint8) stratum;
  header[2] = 6;
  header[3] = (guint8) -20;
  memcpy (header + 12, refid, 4);
  for (int i = 0; i < 8; i++)
    {
      header[24 + i] = (guint8) (origin >> (56 - 8 * i));
      header[32 + i] = (guint8) (receive >> (56 - 8 * i));
      header[40 + i] = (guint8) (transmit >> (56 - 8 * i));
    }
  g_byte_array_append (out, header, sizeof header);
}

/* @plaintext (NULL: @cookies cookie fields of 100 bytes) encrypted with
 * the sample s2c key into an authenticator at the end of @out. */
static inline void
nts_sample_ntp_authenticate (GByteArray *out, const guint8 *plaintext, gsize length,
                             guint cookies)
{
  g_autoptr(GByteArray) fields = g_byte_array_new ();
  guint8 nonce[NTS_NTP_NONCE_LEN];
  g_autoptr(GError) error = NULL;

  if (plaintext == NULL)
    {
      guint8 cookie[100];

      for (guint i = 0; i < cookies; i++)
        {
          nts_sample_fill (cookie, sizeof cookie, (guint8) (0x10 + i));
          nts_ntp_append_field (fields, NTS_NTP_EF_COOKIE, cookie, sizeof cookie);
        }
      plaintext = fields->data;
      length = fields->len;
    }
  nts_sample_fill (nonce, sizeof nonce, 0x20);
  if (!nts_ntp_append_authenticator (out, nts_sample_s2c (), nonce, sizeof nonce, plaintext,
                                     length, &error))
    g_error ("%s", error->message);
}

static inline GByteArray *
nts_sample_ntp_reply (NtsSampleReply kind, guint cookies)
{
  GByteArray *out = g_byte_array_new ();

  switch (kind)
    {
    case NTS_SAMPLE_REPLY_TIME:
      nts_sample_ntp_header (out, 2, "GPS\0");
      nts_ntp_append_field (out, NTS_NTP_EF_UNIQUE_IDENTIFIER, nts_sample_uid (),
                            NTS_NTP_UID_LEN);
      nts_sample_ntp_authenticate (out, NULL, 0, cookies);
      break;
    case NTS_SAMPLE_REPLY_NAK:
      nts_sample_ntp_header (out, 0, "NTSN");
      nts_ntp_append_field (out, NTS_NTP_EF_UNIQUE_IDENTIFIER, nts_sample_uid (),
                            NTS_NTP_UID_LEN);
      break;
    case NTS_SAMPLE_REPLY_RATE:
    default:
      nts_sample_ntp_header (out, 0, "RATE");
      break;
    }
  return out;
}
