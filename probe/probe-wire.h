/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a caller and ntssetup-probe say to each other: one request, one
 * answer, over a stream socket (systemd's Accept=yes connection, or a
 * socketpair when the caller starts the probe itself).
 *
 * Each message is a GVariant of type a{sv} in normal form, preceded by
 * its length as 4 bytes, big-endian; the caller writes the request and
 * shuts down its writing side, the probe writes the answer and closes.
 * GVariant because both ends are ours, its serialisation is specified and
 * its deserialiser is hardened against any bytes (GLib fuzzes it); a{sv}
 * so that a key can be added without breaking the other end. The parsers
 * here are strict all the same: a known key of the wrong type, a value
 * out of range, a result for a server that was not asked about, a message
 * not in normal form or over its bound: the whole message is refused.
 *
 * Request keys:
 *   "servers" a(sq)  1..NTS_PROBE_MAX_SERVERS: a host name or IP literal
 *                    (the service's own validation: server-name.c) and
 *                    its NTS-KE port (0: 4460)
 *   "ca"      s      PEM certificates, the only trust anchors when given
 *                    (a test CA the probe's dynamic user could not read);
 *                    absent: the system's CAs
 *   "timeout-ms" u   the one deadline for all servers,
 *                    NTS_PROBE_MIN_TIMEOUT_MS..NTS_PROBE_MAX_TIMEOUT_MS
 *   "no-cert-time-check" b  accept certificates outside their validity
 *                    dates (Apply's allow-clock-far-off: the clock itself
 *                    may be far off); everything else is still checked
 *   "secrets" b      return the keys and cookies of each successful
 *                    exchange (for chronyd's NTS dump; only the daemon
 *                    asks, and they never leave it)
 *
 * Answer keys: "version" u (NTS_PROBE_WIRE_VERSION) and "results" aa{sv},
 * one per server asked, in the order asked; each result's keys are those
 * of nts_probe_result_to_variant() below. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NTS_PROBE_WIRE_VERSION       1u
#define NTS_PROBE_MAX_SERVERS        16u
#define NTS_PROBE_MIN_TIMEOUT_MS     100u
#define NTS_PROBE_MAX_TIMEOUT_MS     30000u
#define NTS_PROBE_DEFAULT_TIMEOUT_MS 5000u
#define NTS_PROBE_DEFAULT_KE_PORT    4460u
/* Bounds of one framed message: a request may carry a CA bundle (a whole
 * system bundle is ~220 KiB); an answer is at most 16 results with 8
 * cookies of at most NTS_PROBE_MAX_COOKIE_LEN bytes each, and text. */
#define NTS_PROBE_MAX_REQUEST    (1024u * 1024u)
#define NTS_PROBE_MAX_ANSWER     (1024u * 1024u)
#define NTS_PROBE_MAX_COOKIES    8u
#define NTS_PROBE_MAX_COOKIE_LEN 1024u
#define NTS_PROBE_KEY_LEN        32u   /* AEAD_AES_SIV_CMAC_256 */
#define NTS_PROBE_MAX_TEXT       1024u /* message, subject, issuer, names */

/* Where a probe of one server stopped. OK is the only success; every
 * other value is the phase that failed, its string the one in "result". */
typedef enum {
  NTS_PROBE_OK,
  NTS_PROBE_DNS,         /* the name did not resolve (or not in time) */
  NTS_PROBE_TCP,         /* no TCP connection to the NTS-KE port */
  NTS_PROBE_TLS,         /* the TLS 1.3 handshake failed, not on the certificate */
  NTS_PROBE_CERTIFICATE, /* the server's certificate was refused: see cert_problems */
  NTS_PROBE_KE_PROTOCOL, /* the NTS-KE records were wrong, or an Error record */
  NTS_PROBE_NTP_TIMEOUT, /* key exchange fine, no NTP answer in time */
  NTS_PROBE_NTP_AUTH,    /* an NTP answer that did not authenticate */
  NTS_PROBE_NAK,         /* an NTS NAK (kiss code NTSN): the cookie was refused */
  NTS_PROBE_KISS,        /* another kiss-o'-death (RATE, DENY, RSTR...): see kiss */
  NTS_PROBE_N_PHASES,
} NtsProbePhase;

/* What was wrong with a refused certificate, from GnuTLS's verification
 * status. */
typedef enum {
  NTS_PROBE_CERT_UNKNOWN_ISSUER = 1 << 0,
  NTS_PROBE_CERT_EXPIRED = 1 << 1,
  NTS_PROBE_CERT_NOT_YET_VALID = 1 << 2,
  NTS_PROBE_CERT_NAME_MISMATCH = 1 << 3,
  NTS_PROBE_CERT_REVOKED = 1 << 4,
  NTS_PROBE_CERT_INSECURE = 1 << 5, /* a weak algorithm */
  NTS_PROBE_CERT_OTHER = 1 << 6,    /* anything else GnuTLS refused */
} NtsProbeCertProblems;

/* How long each phase took, in seconds; -1 for a phase not reached. */
typedef enum {
  NTS_PROBE_TIME_DNS,
  NTS_PROBE_TIME_TCP,
  NTS_PROBE_TIME_TLS,
  NTS_PROBE_TIME_KE,
  NTS_PROBE_TIME_NTP,
  NTS_PROBE_N_TIMES,
} NtsProbeTime;

typedef struct {
  char *server;    /* as asked */
  guint16 ke_port; /* as asked, 0 replaced by 4460 */
  NtsProbePhase phase;
  char *message;         /* one line for people: what happened, never NULL */
  char *address;         /* the address connected to; NULL before DNS answered */
  char *same_address_as; /* an earlier server of this request with that address, or NULL */

  /* Set when phase is CERTIFICATE (subject to validity also on success). */
  guint cert_problems; /* NtsProbeCertProblems */
  char *cert_subject;  /* the server certificate's subject DN, or NULL */
  char *cert_issuer;
  gint64 cert_not_before; /* Unix seconds; 0 unknown */
  gint64 cert_not_after;
  /* The certificate passes with time checks off: only our clock, or
   * only the certificate's dates, can be wrong. */
  gboolean clock_suspect;

  /* From the key exchange (0/NULL before it completed). */
  guint16 aead;     /* 15: AEAD_AES_SIV_CMAC_256 */
  char *ntp_server; /* the negotiated NTP server (the KE address if none) */
  guint16 ntp_port; /* the negotiated NTP port (123 if none) */
  guint ke_cookies; /* cookies in the key exchange */
  int ke_error;     /* an Error record's code, or -1 */
  int ke_warning;   /* a Warning record's code, or -1 */

  /* From the NTP exchange (phase OK, or NAK/KISS for kiss). */
  guint ntp_cookies; /* cookies in the authenticated reply */
  guint8 stratum;
  double rtt;    /* seconds */
  double offset; /* seconds the server's clock is ahead of ours */
  char kiss[5];  /* the kiss code when phase is NAK or KISS, else "" */

  double times[NTS_PROBE_N_TIMES];

  /* Only with "secrets", only when phase is OK: the exchange's keys and
   * its unused cookies, and when the key exchange succeeded (Unix
   * seconds). Wiped when freed. */
  gboolean has_secrets;
  guint8 c2s[NTS_PROBE_KEY_LEN];
  guint8 s2c[NTS_PROBE_KEY_LEN];
  GPtrArray *cookies; /* GBytes; NULL without secrets */
  double ke_time;
} NtsProbeResult;

typedef struct {
  char *name;
  guint16 port; /* 0: 4460 */
} NtsProbeTarget;

typedef struct {
  GPtrArray *servers; /* NtsProbeTarget */
  char *ca_pem;       /* NULL: the system's CAs */
  guint timeout_ms;
  gboolean no_cert_time_check;
  gboolean secrets;
} NtsProbeRequest;

const char *nts_probe_phase_to_string (NtsProbePhase phase);
gboolean nts_probe_phase_from_string (const char *string, NtsProbePhase *phase);

NtsProbeRequest *nts_probe_request_new (void);
void nts_probe_request_add (NtsProbeRequest *request, const char *name, guint16 port);
void nts_probe_request_free (NtsProbeRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsProbeRequest, nts_probe_request_free)

NtsProbeResult *nts_probe_result_new (const char *server, guint16 ke_port);
void nts_probe_result_free (NtsProbeResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsProbeResult, nts_probe_result_free)

/* The message bodies (without the length prefix). */
GBytes *nts_probe_request_serialize (const NtsProbeRequest *request);
NtsProbeRequest *nts_probe_request_parse (GBytes *bytes, GError **error);
/* @results: NtsProbeResult, one per server of the request. */
GBytes *nts_probe_answer_serialize (GPtrArray *results);
/* The results (NtsProbeResult), checked against @request: as many, the
 * same servers and ports in the same order, secrets only if asked. */
GPtrArray *nts_probe_answer_parse (GBytes *bytes, const NtsProbeRequest *request,
                                   GError **error);

/* One result as a{sv}, the keys of the answer and of the service's D-Bus
 * API alike: "server" s, "port" q, "result" s, "message" s, and where
 * known "address" s, "same-address-as" s, "certificate-problems" as
 * ("unknown-issuer", "expired", "not-yet-valid", "name-mismatch",
 * "revoked", "insecure", "other"), "certificate-subject" s,
 * "certificate-issuer" s, "certificate-not-before" x,
 * "certificate-not-after" x, "clock-suspect" b, "aead" q, "ntp-server" s,
 * "ntp-port" q, "ke-cookies" u, "ke-error" q, "ke-warning" q,
 * "ntp-cookies" u, "stratum" y, "rtt" d, "offset" d, "kiss" s, "times"
 * a{sd} (keys "dns", "tcp", "tls", "ke", "ntp"); with @with_secrets also
 * "c2s" ay, "s2c" ay, "cookie-data" aay, "ke-time" d.
 *
 * What the answer's parser accepts (a probe must keep to it, or its whole
 * answer is refused): text fields valid UTF-8 without control characters,
 * at most NTS_PROBE_MAX_TEXT bytes (nts_probe_text_sanitize() makes any
 * string so), "message" never empty; "address" an IP literal;
 * "same-address-as" an earlier server of the request whose result has the
 * same address; "kiss" 1-4 printable ASCII characters, present exactly
 * when the result is "nak" (then "NTSN") or "kiss"; "stratum" at most 16;
 * "ke-cookies" and "ntp-cookies" at most 64; "rtt" and each time 0..60 s;
 * the secrets all four or none, only when asked and for "ok": keys of
 * NTS_PROBE_KEY_LEN bytes, at most NTS_PROBE_MAX_COOKIES cookies of 1 to
 * NTS_PROBE_MAX_COOKIE_LEN bytes. */
GVariant *nts_probe_result_to_variant (const NtsProbeResult *result, gboolean with_secrets);

/* A copy of @size bytes in memory wiped when the last reference goes:
 * for cookies (NtsProbeResult.cookies) and anything else secret. */
GBytes *nts_probe_secret_bytes_new (gconstpointer data, gsize size);
/* @text (may be NULL, any bytes) made a valid text field: valid UTF-8,
 * control characters turned into spaces, cut to NTS_PROBE_MAX_TEXT bytes.
 * For what the probe reports of what a server sent (a certificate's
 * subject, a server name). */
char *nts_probe_text_sanitize (const char *text);
/* Sets where @result stopped and its message for people, made a valid
 * text field (nts_probe_text_sanitize()). */
void nts_probe_result_set_phase (NtsProbeResult *result, NtsProbePhase phase, const char *format,
                                 ...) G_GNUC_PRINTF (3, 4);

/* Blocking framing, for the probe and for ntsctl: one message of at most
 * @max bytes. Errors are G_IO_ERROR: CONNECTION_CLOSED when the peer
 * closed before a message, PARTIAL_INPUT when in the middle of one,
 * MESSAGE_TOO_LARGE over @max; the parsers' errors are
 * G_IO_ERROR_INVALID_DATA. Messages read are in memory wiped when freed
 * (an answer may carry keys). */
gboolean nts_probe_frame_write (int fd, GBytes *body, GError **error);
GBytes *nts_probe_frame_read (int fd, gsize max, GError **error);

G_END_DECLS
