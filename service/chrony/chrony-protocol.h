/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chronyd's command and monitoring protocol (version 6, as spoken on the
 * Unix socket /run/chrony/chronyd.sock): pure encoding and decoding, no I/O.
 *
 * Every decoder validates the whole datagram before it reads a field: the
 * version, packet type, echoed command, sequence number, status and the exact
 * length for the reply format. A reply that fails any check is rejected with an
 * NTS_CHRONY_ERROR and the output is left untouched, so the bytes may come from
 * anywhere (the decoders are fuzzed).
 *
 * Layouts are those of chrony 4.3 (Debian 12). chrony 4.6 replies to NTP_DATA
 * with a longer format (reply code NTP_DATA2); both are accepted, and the
 * NTP_DATA request is padded to the longer reply so that either daemon accepts
 * it (chronyd only checks that a request is not shorter than it expects). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NTS_CHRONY_PROTO_VERSION 6

#define NTS_CHRONY_REQUEST_HEADER_LEN 20
#define NTS_CHRONY_REPLY_HEADER_LEN   28
/* Longest request this module encodes (NTP_SOURCE_NAME); a buffer of this size
 * fits any of them. */
#define NTS_CHRONY_REQUEST_MAX_LEN    284
/* chronyd never sends a datagram longer than this (its receive limit too). */
#define NTS_CHRONY_PACKET_MAX_LEN     860

#define NTS_CHRONY_ERROR (nts_chrony_error_quark ())
GQuark nts_chrony_error_quark (void);

typedef enum {
  NTS_CHRONY_ERROR_FAILED,          /* chronyd: status FAILED, or a system call failed */
  NTS_CHRONY_ERROR_BAD_REPLY,       /* malformed: unexpected reply format, oversized, bad field */
  NTS_CHRONY_ERROR_TRUNCATED,       /* shorter than the reply format requires */
  NTS_CHRONY_ERROR_WRONG_VERSION,   /* protocol version other than 6, either side */
  NTS_CHRONY_ERROR_MISMATCH,        /* not a reply to this request: type, command or sequence */
  NTS_CHRONY_ERROR_UNKNOWN_COMMAND, /* chronyd: status INVALID (command not known) */
  NTS_CHRONY_ERROR_NO_SUCH_SOURCE,  /* chronyd: status NOSUCHSOURCE */
  NTS_CHRONY_ERROR_UNAUTHORISED,    /* chronyd: status UNAUTH, or the socket refused us */
  NTS_CHRONY_ERROR_TIMEOUT,         /* no valid reply within the bounded waits */
  NTS_CHRONY_ERROR_UNREACHABLE,     /* no chronyd behind the socket path */
  NTS_CHRONY_ERROR_INVALID_ARGUMENT,/* caller's mistake: path too long, bad address */
} NtsChronyError;

typedef enum {
  NTS_CHRONY_CMD_N_SOURCES       = 14,
  NTS_CHRONY_CMD_SOURCE_DATA     = 15,
  NTS_CHRONY_CMD_TRACKING        = 33,
  NTS_CHRONY_CMD_NTP_DATA        = 57,
  NTS_CHRONY_CMD_NTP_SOURCE_NAME = 65,
  NTS_CHRONY_CMD_AUTH_DATA       = 67,
} NtsChronyCommand;

/* chronyd's status codes that callers may want to name. */
typedef enum {
  NTS_CHRONY_STATUS_SUCCESS       = 0,
  NTS_CHRONY_STATUS_FAILED        = 1,
  NTS_CHRONY_STATUS_UNAUTH        = 2,
  NTS_CHRONY_STATUS_INVALID       = 3,
  NTS_CHRONY_STATUS_NOSUCHSOURCE  = 4,
  NTS_CHRONY_STATUS_BADPKTVERSION = 18,
  NTS_CHRONY_STATUS_BADPKTLENGTH  = 19,
} NtsChronyStatus;

/* ---- addresses ---------------------------------------------------------- */

typedef enum {
  NTS_CHRONY_ADDR_UNSPEC = 0,
  NTS_CHRONY_ADDR_INET4  = 1,
  NTS_CHRONY_ADDR_INET6  = 2,
  NTS_CHRONY_ADDR_ID     = 3, /* a source whose name is not resolved yet */
} NtsChronyAddrFamily;

/* As on the wire: for INET4 the first 4 bytes (network order), for INET6 all
 * 16, for ID a big-endian 32-bit identifier in the first 4. Decoding zeroes
 * the bytes a family does not use (all of them for an unknown family), so
 * two decoded addresses compare equal with nts_chrony_ip_addr_equal(). */
typedef struct {
  guint16 family;   /* NtsChronyAddrFamily; other values are kept as sent */
  guint8  addr[16];
} NtsChronyIpAddr;

/* "127.0.0.2", "::1", "ID#0000000001" (chronyc's spelling), "[UNSPEC]". */
char    *nts_chrony_ip_addr_to_string   (const NtsChronyIpAddr *addr);
/* Parses a numeric IPv4 or IPv6 address; FALSE for anything else. */
gboolean nts_chrony_ip_addr_from_string (const char            *text,
                                         NtsChronyIpAddr       *addr);
gboolean nts_chrony_ip_addr_equal       (const NtsChronyIpAddr *a,
                                         const NtsChronyIpAddr *b);
/* A real IPv4/IPv6 address (chronyd can report NTP and auth data for it). */
gboolean nts_chrony_ip_addr_is_ip       (const NtsChronyIpAddr *addr);

/* ---- numbers ------------------------------------------------------------ */

/* chrony's 32-bit float: 7-bit signed exponent, 25-bit signed coefficient,
 * value = coef * 2^(exp - 25). */
double  nts_chrony_float_decode (guint32 raw);
/* Rounds to nearest; saturates at the largest magnitude, flushes values too
 * small for the format to 0. NaN encodes as 0. */
guint32 nts_chrony_float_encode (double value);

typedef struct {
  gint64  tv_sec;
  guint32 tv_nsec; /* normalised: < 1000000000 */
} NtsChronyTimespec;

/* 12 bytes: high 32 bits of seconds (0x7fffffff meaning "none"), low 32 bits
 * of seconds, nanoseconds. Seconds whose high word would be 0x7fffffff
 * (year 292e9) cannot be encoded: they decode as their low word. */
void   nts_chrony_timespec_decode    (const guint8             bytes[12],
                                      NtsChronyTimespec       *ts);
void   nts_chrony_timespec_encode    (const NtsChronyTimespec *ts,
                                      guint8                   bytes[12]);

/* ---- requests ----------------------------------------------------------- */

typedef struct {
  NtsChronyCommand command;
  guint32          index;   /* SOURCE_DATA */
  NtsChronyIpAddr  address; /* NTP_DATA, NTP_SOURCE_NAME, AUTH_DATA */
} NtsChronyRequest;

void nts_chrony_request_init_n_sources       (NtsChronyRequest *request);
void nts_chrony_request_init_source_data     (NtsChronyRequest *request,
                                              guint32 index);
void nts_chrony_request_init_tracking        (NtsChronyRequest *request);
void nts_chrony_request_init_ntp_data        (NtsChronyRequest *request,
                                              const NtsChronyIpAddr *address);
void nts_chrony_request_init_ntp_source_name (NtsChronyRequest *request,
                                              const NtsChronyIpAddr *address);
void nts_chrony_request_init_auth_data       (NtsChronyRequest *request,
                                              const NtsChronyIpAddr *address);

/* Length chronyd requires for this command's request (header, data and zero
 * padding up to the reply length); 0 for a command this module does not know. */
gsize nts_chrony_request_length (NtsChronyCommand command);

/* Writes the padded request into @buf; returns its length, or 0 with @error
 * set for an unknown command or a buffer that is too small. @attempt counts
 * resends of the same request (chronyc sends 0, 1, 2). */
gsize nts_chrony_request_encode (const NtsChronyRequest *request,
                                 guint32                 sequence,
                                 guint16                 attempt,
                                 guint8                 *buf,
                                 gsize                   buf_len,
                                 GError                **error);

/* ---- replies ------------------------------------------------------------ */

/* Checks everything a reply to @command with @sequence must satisfy, in the
 * order: header length, version, packet type and reserved bytes, command,
 * sequence (all three MISMATCH), status, reply format, exact length. */
gboolean nts_chrony_reply_validate (const guint8     *buf,
                                    gsize             len,
                                    NtsChronyCommand  command,
                                    guint32           sequence,
                                    GError          **error);

typedef enum {
  NTS_CHRONY_SOURCE_MODE_CLIENT = 0, /* '^' */
  NTS_CHRONY_SOURCE_MODE_PEER   = 1, /* '=' */
  NTS_CHRONY_SOURCE_MODE_REF    = 2, /* '#', a reference clock */
} NtsChronySourceMode;

typedef enum {
  NTS_CHRONY_SOURCE_STATE_SELECTED      = 0, /* '*' */
  NTS_CHRONY_SOURCE_STATE_NONSELECTABLE = 1, /* '?' */
  NTS_CHRONY_SOURCE_STATE_FALSETICKER   = 2, /* 'x' */
  NTS_CHRONY_SOURCE_STATE_JITTERY       = 3, /* '~' */
  NTS_CHRONY_SOURCE_STATE_UNSELECTED    = 4, /* '+' */
  NTS_CHRONY_SOURCE_STATE_SELECTABLE    = 5, /* '-' */
} NtsChronySourceState;

typedef struct {
  NtsChronyIpAddr addr;
  gint16  poll;               /* log2 seconds */
  guint16 stratum;
  guint16 state;              /* NtsChronySourceState */
  guint16 mode;               /* NtsChronySourceMode */
  guint16 flags;
  guint16 reachability;       /* 8-bit register, chronyc prints it in octal */
  guint32 since_sample;       /* seconds; 0xffffffff = never */
  double  orig_latest_meas;   /* measured offset, seconds */
  double  latest_meas;        /* offset adjusted for later corrections */
  double  latest_meas_err;    /* estimated error (+/-) */
} NtsChronySourceData;

typedef enum {
  NTS_CHRONY_LEAP_NORMAL         = 0,
  NTS_CHRONY_LEAP_INSERT_SECOND  = 1,
  NTS_CHRONY_LEAP_DELETE_SECOND  = 2,
  NTS_CHRONY_LEAP_UNSYNCHRONISED = 3,
} NtsChronyLeap;

typedef struct {
  guint32           ref_id;
  NtsChronyIpAddr   ip_addr;          /* UNSPEC when not synchronised */
  guint16           stratum;
  guint16           leap_status;      /* NtsChronyLeap */
  NtsChronyTimespec ref_time;
  double            current_correction;
  double            last_offset;
  double            rms_offset;
  double            freq_ppm;
  double            resid_freq_ppm;
  double            skew_ppm;
  double            root_delay;
  double            root_dispersion;
  double            last_update_interval;
} NtsChronyTracking;

#define NTS_CHRONY_NTP_FLAG_TESTS         0x03ff
#define NTS_CHRONY_NTP_FLAG_INTERLEAVED   0x4000
#define NTS_CHRONY_NTP_FLAG_AUTHENTICATED 0x8000

typedef struct {
  NtsChronyIpAddr   remote_addr;
  NtsChronyIpAddr   local_addr;
  guint16           remote_port;
  guint8            leap;
  guint8            version;
  guint8            mode;
  guint8            stratum;
  gint8             poll;
  gint8             precision;
  double            root_delay;
  double            root_dispersion;
  guint32           ref_id;
  NtsChronyTimespec ref_time;
  double            offset;
  double            peer_delay;
  double            peer_dispersion;
  double            response_time;
  double            jitter_asymmetry;
  guint16           flags;          /* NTS_CHRONY_NTP_FLAG_* */
  gboolean          authenticated;  /* flags & NTS_CHRONY_NTP_FLAG_AUTHENTICATED */
  gboolean          interleaved;
  char              tx_tss_char;    /* 'D'aemon, 'K'ernel, 'H'ardware */
  char              rx_tss_char;
  guint32           total_tx_count;
  guint32           total_rx_count;
  guint32           total_valid_count;
  guint32           total_good_count;
} NtsChronyNtpData;

typedef enum {
  NTS_CHRONY_AUTH_MODE_NONE      = 0,
  NTS_CHRONY_AUTH_MODE_SYMMETRIC = 1,
  NTS_CHRONY_AUTH_MODE_NTS       = 2,
} NtsChronyAuthMode;

typedef struct {
  guint16 mode;           /* NtsChronyAuthMode */
  guint16 key_type;       /* AEAD algorithm id (15 = AES-SIV-CMAC-256); 0 before a KE */
  guint32 key_id;         /* NTS: successful key exchanges so far */
  guint16 key_length;     /* bits */
  guint16 ke_attempts;
  guint32 last_ke_ago;    /* seconds; 0xffffffff = never */
  guint16 cookies;
  guint16 cookie_length;
  guint16 nak;            /* 0/1: the server NAKed our last cookie */
} NtsChronyAuthData;

gboolean nts_chrony_decode_n_sources       (const guint8 *buf, gsize len,
                                            guint32 sequence,
                                            guint32 *n_sources,
                                            GError **error);
gboolean nts_chrony_decode_source_data     (const guint8 *buf, gsize len,
                                            guint32 sequence,
                                            NtsChronySourceData *data,
                                            GError **error);
gboolean nts_chrony_decode_tracking        (const guint8 *buf, gsize len,
                                            guint32 sequence,
                                            NtsChronyTracking *tracking,
                                            GError **error);
gboolean nts_chrony_decode_ntp_data        (const guint8 *buf, gsize len,
                                            guint32 sequence,
                                            NtsChronyNtpData *data,
                                            GError **error);
gboolean nts_chrony_decode_auth_data       (const guint8 *buf, gsize len,
                                            guint32 sequence,
                                            NtsChronyAuthData *data,
                                            GError **error);
/* The configured name ("ntp.example.org" or the address as written). Rejected
 * unless NUL-terminated within its 256 bytes and valid UTF-8, since callers
 * put it on D-Bus. */
gboolean nts_chrony_decode_ntp_source_name (const guint8 *buf, gsize len,
                                            guint32 sequence,
                                            char **name,
                                            GError **error);

G_END_DECLS
