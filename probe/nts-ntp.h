/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One NTPv4 client request with the NTS extension fields of RFC 8915 §5,
 * and the strict parse of the server's reply: as bytes, with GnuTLS's
 * AES-SIV-CMAC for the authenticator, and no I/O (probe-server.c sends and
 * receives), so that the parser of what a server sends can be fuzzed
 * (tests/fuzz-nts-ntp.c) and tested with replies no server would send.
 *
 * A reply is taken only if it answers our request: mode 4, its origin
 * timestamp our transmit timestamp, its Unique Identifier ours. Then it is
 * one of three things: a time reply, which must carry the Authenticator and
 * Encrypted Extension Fields as its last field, verified with the s2c key,
 * its encrypted fields holding the new cookies; an NTS NAK (kiss code
 * NTSN, no authenticator: RFC 8915 §5.7); or another kiss-o'-death (RATE,
 * DENY, RSTR...). Every extension field is bounded (RFC 7822: at least 16
 * bytes, a multiple of 4, inside the packet; the authenticator last, its
 * nonce and ciphertext inside it with at most a little padding). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NTS_NTP_HEADER_LEN 48u
#define NTS_NTP_UID_LEN    32u
#define NTS_NTP_NONCE_LEN  16u
#define NTS_NTP_KEY_LEN    32u
/* Far more than a reply with 8 cookies of NTS_PROBE_MAX_COOKIE_LEN could
 * need would be refused by our cookie bound anyway; chronyd's replies are
 * ~1 KiB. */
#define NTS_NTP_MAX_PACKET 4096u

#define NTS_NTP_EF_UNIQUE_IDENTIFIER  0x0104u
#define NTS_NTP_EF_COOKIE             0x0204u
#define NTS_NTP_EF_COOKIE_PLACEHOLDER 0x0304u
#define NTS_NTP_EF_AUTHENTICATOR      0x0404u

#define NTS_NTP_ERROR (nts_ntp_error_quark ())
GQuark nts_ntp_error_quark (void);

typedef enum {
  /* Not an answer to our request (another mode, origin or Unique
   * Identifier): to be ignored, as anyone can send a datagram. */
  NTS_NTP_ERROR_NOT_OURS,
  /* An answer to our request that breaks RFC 7822 or RFC 8915. */
  NTS_NTP_ERROR_MALFORMED,
  /* An answer to our request that does not authenticate. */
  NTS_NTP_ERROR_AUTH,
  /* GnuTLS could not do AES-SIV-CMAC at all. */
  NTS_NTP_ERROR_CRYPTO,
} NtsNtpError;

typedef enum {
  NTS_NTP_REPLY_TIME, /* authenticated, with the server's time */
  NTS_NTP_REPLY_NAK,  /* kiss code NTSN: the cookie was refused */
  NTS_NTP_REPLY_KISS, /* another kiss-o'-death */
} NtsNtpReplyKind;

typedef struct {
  NtsNtpReplyKind kind;
  guint8 leap;
  guint8 stratum;
  char kiss[5]; /* the kiss code for NAK and KISS, printable ASCII, else "" */
  guint32 root_delay;
  guint32 root_dispersion;
  guint64 origin; /* NTP timestamps, as sent */
  guint64 receive;
  guint64 transmit;
  GPtrArray *cookies;  /* GBytes (wiped when freed), at most NTS_PROBE_MAX_COOKIES */
  guint cookie_fields; /* NTS Cookie fields inside the encrypted fields */
} NtsNtpReply;

/* The request: mode 3, @transmit as its transmit timestamp, then Unique
 * Identifier (@uid), NTS Cookie (@cookie, a multiple of 4 bytes) and the
 * authenticator (@nonce, no encrypted fields) made with @c2s. */
GBytes *nts_ntp_request_build (const guint8 c2s[NTS_NTP_KEY_LEN], GBytes *cookie,
                               const guint8 uid[NTS_NTP_UID_LEN],
                               const guint8 nonce[NTS_NTP_NONCE_LEN], guint64 transmit,
                               GError **error);

/* Checks and parses @data as the reply to the request made with @uid and
 * @transmit; @s2c verifies and decrypts it. */
NtsNtpReply *nts_ntp_reply_parse (const guint8 *data, gsize length,
                                  const guint8 s2c[NTS_NTP_KEY_LEN],
                                  const guint8 uid[NTS_NTP_UID_LEN], guint64 transmit,
                                  GError **error);
void nts_ntp_reply_free (NtsNtpReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsNtpReply, nts_ntp_reply_free)

/* The pieces the request is made of, for tests that make the server's
 * side: an extension field (@length a multiple of 4, at least 12), and the
 * authenticator over everything in @packet so far, encrypting @plaintext
 * (itself extension fields) with @key. */
void nts_ntp_append_field (GByteArray *packet, guint16 type, const guint8 *body, gsize length);
gboolean nts_ntp_append_authenticator (GByteArray *packet, const guint8 key[NTS_NTP_KEY_LEN],
                                       const guint8 *nonce, gsize nonce_length,
                                       const guint8 *plaintext, gsize plaintext_length,
                                       GError **error);

/* NTP timestamps (seconds since 1900 in the high 32 bits) from and to Unix
 * time in seconds. Era 0 covers 1968-2036, era 1 from there to 2104. */
guint64 nts_ntp_timestamp_from_unix (double unix_time);
double nts_ntp_timestamp_to_unix (guint64 timestamp);

G_END_DECLS
