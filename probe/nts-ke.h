/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NTS key exchange of RFC 8915 §4, as bytes: the one request a client
 * sends, the strict parse of the server's response, and the two keys the
 * TLS exporter gives for it.
 *
 * No I/O here: probe-server.c moves the bytes over TLS, so that the parser
 * of what a server sends can be fuzzed (tests/fuzz-nts-ke.c) and tested
 * with responses no real server would send. The parser refuses everything
 * RFC 8915 does not allow and everything over our bounds (a record longer
 * than the message, a second Next Protocol or AEAD or port record, an
 * unknown critical record, a server name that is not a plain host name or
 * IP literal, a message over NTS_KE_MAX_RESPONSE, one without End of
 * Message, more than NTS_KE_MAX_COOKIE_RECORDS cookies) with a message that
 * says which rule it broke. */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

#define NTS_KE_ALPN                  "ntske/1"
#define NTS_KE_PROTOCOL_NTPV4        0u
#define NTS_KE_AEAD_AES_SIV_CMAC_256 15u
/* RFC 8915 gives no bound; a good response is ~1 KiB (8 cookies of ~100
 * bytes). Anything this long is not an NTS-KE server. */
#define NTS_KE_MAX_RESPONSE (64u * 1024u)
/* A server SHOULD send 8 cookies; we keep NTS_PROBE_MAX_COOKIES of them, as
 * chronyd does, and refuse a response with more than this many. */
#define NTS_KE_MAX_COOKIE_RECORDS 64u
#define NTS_KE_MAX_SERVER_NAME    255u

#define NTS_KE_ERROR (nts_ke_error_quark ())
GQuark nts_ke_error_quark (void);

typedef enum {
  /* The bytes so far end inside a record or before End of Message: read
   * more (or, at end of stream, the response was cut short). */
  NTS_KE_ERROR_TRUNCATED,
  /* The response breaks a rule of RFC 8915 or one of our bounds. */
  NTS_KE_ERROR_MALFORMED,
  /* The server sent an Error record (NtsKeResponse.error_code). */
  NTS_KE_ERROR_SERVER_ERROR,
  /* The server sent a Warning record (NtsKeResponse.warning_code): no
   * warning code is defined, and RFC 8915 §4.1.4 forbids a client to go on
   * with one it does not recognise. */
  NTS_KE_ERROR_SERVER_WARNING,
  /* Well formed, but not what we asked for: another protocol or AEAD, or
   * no cookie we can use. */
  NTS_KE_ERROR_UNSUPPORTED,
  /* The TLS exporter failed. */
  NTS_KE_ERROR_KEYS,
} NtsKeError;

typedef struct {
  guint16 aead;         /* the negotiated AEAD; 0 before the record */
  gboolean ntpv4;       /* the server's Next Protocol record said NTPv4 */
  GPtrArray *cookies;   /* GBytes (wiped when freed), at most NTS_PROBE_MAX_COOKIES */
  guint cookie_records; /* New Cookie records seen, kept or not */
  char *server;         /* NTPv4 Server Negotiation, or NULL */
  int port;             /* NTPv4 Port Negotiation, or -1 (none, or 0) */
  gboolean port_record; /* there was one */
  int error_code;       /* the Error record's code, or -1 */
  int warning_code;     /* the Warning record's code, or -1 */
} NtsKeResponse;

/* Next Protocol NTPv4, AEAD_AES_SIV_CMAC_256 and End of Message, all
 * critical. */
GBytes *nts_ke_request_build (void);

NtsKeResponse *nts_ke_response_new (void);
void nts_ke_response_free (NtsKeResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsKeResponse, nts_ke_response_free)

/* Parses the whole response in @data. Returns NULL with @error (in
 * NTS_KE_ERROR) on any fault, and then, when @partial is not NULL, what was
 * read up to the fault in *@partial (its error and warning codes, its
 * cookie count: worth reporting). */
NtsKeResponse *nts_ke_response_parse (const guint8 *data, gsize length, NtsKeResponse **partial,
                                      GError **error);

/* The c2s and s2c keys of RFC 8915 §5.1 for @aead (only
 * AEAD_AES_SIV_CMAC_256: 32 bytes each) from the finished @session. */
gboolean nts_ke_export_keys (gnutls_session_t session, guint16 aead, guint8 c2s[32],
                             guint8 s2c[32], GError **error);

G_END_DECLS
