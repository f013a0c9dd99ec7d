/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chronyd command protocol codec; see chrony-protocol.h.
 *
 * Layout knowledge (offsets below) was taken from chrony's candm.h and
 * pktlength.c for protocol version 6 as of chrony 4.3; the code is our own.
 * Every field is read through the bounds-free helpers get_u16()/get_u32()
 * only after nts_chrony_reply_validate() has proved the datagram is exactly
 * as long as its reply format, so no decoder can read past @len. */
#include "chrony-protocol.h"

#include <arpa/inet.h>
#include <string.h>

G_DEFINE_QUARK (nts-chrony-error-quark, nts_chrony_error)

#define PKT_TYPE_REQUEST 1
#define PKT_TYPE_REPLY   2

/* Reply format codes chronyd puts at offset 6. */
#define RPY_N_SOURCES       2
#define RPY_SOURCE_DATA     3
#define RPY_TRACKING        5
#define RPY_NTP_DATA        16
#define RPY_NTP_SOURCE_NAME 19
#define RPY_AUTH_DATA       20
#define RPY_NTP_DATA2       26 /* chrony >= 4.6: four more counters */

/* Full datagram lengths of those formats. */
#define LEN_N_SOURCES       32
#define LEN_SOURCE_DATA     76
#define LEN_TRACKING        104
#define LEN_NTP_DATA        152
#define LEN_NTP_DATA2       172
#define LEN_NTP_SOURCE_NAME 284
#define LEN_AUTH_DATA       52

#define IPADDR_LEN      20
#define TIMESPEC_LEN    12
#define NAME_LEN        256
/* Timespec high word meaning "no high bits" (32-bit time_t senders). */
#define TV_NOHIGHSEC    0x7fffffffu

/* Float format: 7-bit exponent, 25-bit coefficient, both two's complement. */
#define FLOAT_EXP_BITS  7
#define FLOAT_COEF_BITS 25
#define FLOAT_EXP_MIN   (-(1 << (FLOAT_EXP_BITS - 1)))
#define FLOAT_EXP_MAX   ((1 << (FLOAT_EXP_BITS - 1)) - 1)
#define FLOAT_COEF_MAX  ((1 << (FLOAT_COEF_BITS - 1)) - 1)

/* ---- byte helpers ------------------------------------------------------- */

static inline guint16
get_u16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static inline guint32
get_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
         ((guint32) p[2] << 8) | (guint32) p[3];
}

static inline void
put_u16 (guint8 *p, guint16 v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

static inline void
put_u32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

static inline double
get_float (const guint8 *p)
{
  return nts_chrony_float_decode (get_u32 (p));
}

/* ---- addresses ---------------------------------------------------------- */

static void
get_ip_addr (const guint8 *p, NtsChronyIpAddr *addr)
{
  memset (addr, 0, sizeof *addr);
  addr->family = get_u16 (p + 16);
  switch (addr->family)
    {
    case NTS_CHRONY_ADDR_INET4:
    case NTS_CHRONY_ADDR_ID:
      memcpy (addr->addr, p, 4);
      break;
    case NTS_CHRONY_ADDR_INET6:
      memcpy (addr->addr, p, 16);
      break;
    default:
      /* chronyd itself treats unknown families as unspecified; keeping the
       * number lets a caller report what was actually sent. */
      break;
    }
}

static void
put_ip_addr (guint8 *p, const NtsChronyIpAddr *addr)
{
  memset (p, 0, IPADDR_LEN);
  switch (addr->family)
    {
    case NTS_CHRONY_ADDR_INET4:
    case NTS_CHRONY_ADDR_ID:
      memcpy (p, addr->addr, 4);
      break;
    case NTS_CHRONY_ADDR_INET6:
      memcpy (p, addr->addr, 16);
      break;
    default:
      break;
    }
  put_u16 (p + 16, addr->family);
}

char *
nts_chrony_ip_addr_to_string (const NtsChronyIpAddr *addr)
{
  char buf[INET6_ADDRSTRLEN];

  switch (addr->family)
    {
    case NTS_CHRONY_ADDR_UNSPEC:
      return g_strdup ("[UNSPEC]");
    case NTS_CHRONY_ADDR_INET4:
      return g_strdup_printf ("%u.%u.%u.%u", addr->addr[0], addr->addr[1],
                              addr->addr[2], addr->addr[3]);
    case NTS_CHRONY_ADDR_INET6:
      if (inet_ntop (AF_INET6, addr->addr, buf, sizeof buf) == NULL)
        return g_strdup ("[UNKNOWN]");
      return g_strdup (buf);
    case NTS_CHRONY_ADDR_ID:
      /* Same spelling as chronyc so the two can be compared textually. */
      return g_strdup_printf ("ID#%010" G_GUINT32_FORMAT, get_u32 (addr->addr));
    default:
      return g_strdup ("[UNKNOWN]");
    }
}

gboolean
nts_chrony_ip_addr_from_string (const char      *text,
                                NtsChronyIpAddr *addr)
{
  NtsChronyIpAddr parsed = { 0 };

  if (text == NULL)
    return FALSE;

  if (inet_pton (AF_INET, text, parsed.addr) == 1)
    parsed.family = NTS_CHRONY_ADDR_INET4;
  else if (inet_pton (AF_INET6, text, parsed.addr) == 1)
    parsed.family = NTS_CHRONY_ADDR_INET6;
  else
    return FALSE;

  *addr = parsed;
  return TRUE;
}

gboolean
nts_chrony_ip_addr_equal (const NtsChronyIpAddr *a,
                          const NtsChronyIpAddr *b)
{
  return a->family == b->family && memcmp (a->addr, b->addr, sizeof a->addr) == 0;
}

gboolean
nts_chrony_ip_addr_is_ip (const NtsChronyIpAddr *addr)
{
  return addr->family == NTS_CHRONY_ADDR_INET4 || addr->family == NTS_CHRONY_ADDR_INET6;
}

/* ---- numbers ------------------------------------------------------------ */

/* 2^@e for the exponents the format can produce (-89 .. 38): exact, and
 * without libm, which the rest of the project does not link. */
static double
pow2 (int e)
{
  double result = 1.0;
  double factor = e < 0 ? 0.5 : 2.0;

  for (int n = e < 0 ? -e : e; n > 0; n--)
    result *= factor;
  return result;
}

double
nts_chrony_float_decode (guint32 raw)
{
  gint32 exp = (gint32) (raw >> FLOAT_COEF_BITS);
  gint32 coef = (gint32) (raw & ((1u << FLOAT_COEF_BITS) - 1));

  /* Sign-extend both fields by hand: shifting signed values is not portable. */
  if (exp > FLOAT_EXP_MAX)
    exp -= 1 << FLOAT_EXP_BITS;
  if (coef > FLOAT_COEF_MAX)
    coef -= 1 << FLOAT_COEF_BITS;

  return (double) coef * pow2 (exp - FLOAT_COEF_BITS);
}

guint32
nts_chrony_float_encode (double value)
{
  gboolean negative;
  double magnitude;
  gint64 coef;
  int exp;

  /* NaN compares unequal to itself. */
  if (value != value || value == 0.0)
    return 0;

  negative = value < 0.0;
  magnitude = negative ? -value : value;

  if (magnitude > G_MAXDOUBLE)
    {
      exp = FLOAT_EXP_MAX;
      coef = FLOAT_COEF_MAX;
    }
  else
    {
      /* Normalise to magnitude = m * 2^e2 with m in [0.5, 1), one halving
       * or doubling at a time (at most ~1100 steps for extreme doubles),
       * stopping early once the value is out of the format's range. Then
       * the most significant bit goes to coefficient bit 23 (bit 24 is the
       * sign): coef = m * 2^24 and value = coef * 2^(exp - 25), exp = e2 + 1. */
      double m = magnitude;
      int e2 = 0;

      while (m >= 1.0 && e2 <= FLOAT_EXP_MAX)
        {
          m *= 0.5;
          e2++;
        }
      while (m < 0.5 && e2 >= FLOAT_EXP_MIN - FLOAT_COEF_BITS)
        {
          m *= 2.0;
          e2--;
        }
      exp = e2 + 1;
      coef = (gint64) (m * pow2 (FLOAT_COEF_BITS - 1) + 0.5);
      if (coef > FLOAT_COEF_MAX)
        {
          /* Rounding carried into the sign bit (m was just below 1). */
          coef >>= 1;
          exp++;
        }

      if (exp > FLOAT_EXP_MAX)
        {
          exp = FLOAT_EXP_MAX;
          coef = FLOAT_COEF_MAX;
        }
      else if (exp < FLOAT_EXP_MIN)
        {
          /* Below the smallest exponent: keep what fits in the coefficient. */
          coef = (gint64) (magnitude * pow2 (FLOAT_COEF_BITS - FLOAT_EXP_MIN) + 0.5);
          exp = FLOAT_EXP_MIN;
          if (coef == 0)
            return 0;
        }
    }

  if (negative)
    coef = -coef;

  return ((guint32) (exp & ((1 << FLOAT_EXP_BITS) - 1)) << FLOAT_COEF_BITS) |
         ((guint32) coef & ((1u << FLOAT_COEF_BITS) - 1));
}

void
nts_chrony_timespec_decode (const guint8       bytes[12],
                            NtsChronyTimespec *ts)
{
  guint32 high = get_u32 (bytes);
  guint32 low = get_u32 (bytes + 4);
  guint32 nsec = get_u32 (bytes + 8);
  guint64 sec;

  if (high == TV_NOHIGHSEC)
    high = 0;

  /* Unsigned arithmetic throughout: the high word may have its top bit set
   * (a time before 1970), and overflow of signed types is undefined. The
   * largest result, 0x7ffffffeffffffff + 4, still fits a gint64. */
  sec = ((guint64) high << 32) | low;
  sec += nsec / 1000000000u;
  ts->tv_sec = (gint64) sec;
  ts->tv_nsec = nsec % 1000000000u;
}

void
nts_chrony_timespec_encode (const NtsChronyTimespec *ts,
                            guint8                   bytes[12])
{
  guint64 sec = (guint64) ts->tv_sec;

  put_u32 (bytes, (guint32) (sec >> 32));
  put_u32 (bytes + 4, (guint32) sec);
  put_u32 (bytes + 8, ts->tv_nsec);
}

/* ---- requests ----------------------------------------------------------- */

static const char *
command_name (NtsChronyCommand command)
{
  switch (command)
    {
    case NTS_CHRONY_CMD_N_SOURCES:       return "N_SOURCES";
    case NTS_CHRONY_CMD_SOURCE_DATA:     return "SOURCE_DATA";
    case NTS_CHRONY_CMD_TRACKING:        return "TRACKING";
    case NTS_CHRONY_CMD_NTP_DATA:        return "NTP_DATA";
    case NTS_CHRONY_CMD_NTP_SOURCE_NAME: return "NTP_SOURCE_NAME";
    case NTS_CHRONY_CMD_AUTH_DATA:       return "AUTH_DATA";
    default:                             return "unknown command";
    }
}

void
nts_chrony_request_init_n_sources (NtsChronyRequest *request)
{
  memset (request, 0, sizeof *request);
  request->command = NTS_CHRONY_CMD_N_SOURCES;
}

void
nts_chrony_request_init_source_data (NtsChronyRequest *request,
                                     guint32           index)
{
  memset (request, 0, sizeof *request);
  request->command = NTS_CHRONY_CMD_SOURCE_DATA;
  request->index = index;
}

void
nts_chrony_request_init_tracking (NtsChronyRequest *request)
{
  memset (request, 0, sizeof *request);
  request->command = NTS_CHRONY_CMD_TRACKING;
}

static void
init_by_address (NtsChronyRequest      *request,
                 NtsChronyCommand       command,
                 const NtsChronyIpAddr *address)
{
  memset (request, 0, sizeof *request);
  request->command = command;
  request->address = *address;
}

void
nts_chrony_request_init_ntp_data (NtsChronyRequest      *request,
                                  const NtsChronyIpAddr *address)
{
  init_by_address (request, NTS_CHRONY_CMD_NTP_DATA, address);
}

void
nts_chrony_request_init_ntp_source_name (NtsChronyRequest      *request,
                                         const NtsChronyIpAddr *address)
{
  init_by_address (request, NTS_CHRONY_CMD_NTP_SOURCE_NAME, address);
}

void
nts_chrony_request_init_auth_data (NtsChronyRequest      *request,
                                   const NtsChronyIpAddr *address)
{
  init_by_address (request, NTS_CHRONY_CMD_AUTH_DATA, address);
}

gsize
nts_chrony_request_length (NtsChronyCommand command)
{
  /* chronyd pads every request to its reply's length so that a spoofed
   * request cannot be amplified; our requests are all shorter than their
   * replies, so the reply length is the request length. */
  switch (command)
    {
    case NTS_CHRONY_CMD_N_SOURCES:       return LEN_N_SOURCES;
    case NTS_CHRONY_CMD_SOURCE_DATA:     return LEN_SOURCE_DATA;
    case NTS_CHRONY_CMD_TRACKING:        return LEN_TRACKING;
    /* The longer (4.6) reply: 4.3 accepts a request longer than it needs. */
    case NTS_CHRONY_CMD_NTP_DATA:        return LEN_NTP_DATA2;
    case NTS_CHRONY_CMD_NTP_SOURCE_NAME: return LEN_NTP_SOURCE_NAME;
    case NTS_CHRONY_CMD_AUTH_DATA:       return LEN_AUTH_DATA;
    default:                             return 0;
    }
}

gsize
nts_chrony_request_encode (const NtsChronyRequest *request,
                           guint32                 sequence,
                           guint16                 attempt,
                           guint8                 *buf,
                           gsize                   buf_len,
                           GError                **error)
{
  gsize len = nts_chrony_request_length (request->command);
  guint8 *data = buf + NTS_CHRONY_REQUEST_HEADER_LEN;

  if (len == 0)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_INVALID_ARGUMENT,
                   "Cannot encode chronyd command %u", (guint) request->command);
      return 0;
    }
  if (buf_len < len)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_INVALID_ARGUMENT,
                   "Buffer of %" G_GSIZE_FORMAT " bytes too small for a %s request (%" G_GSIZE_FORMAT ")",
                   buf_len, command_name (request->command), len);
      return 0;
    }

  /* Zeroing first covers reserved bytes, the header's pad words and the
   * amplification padding, none of which may carry stale memory. */
  memset (buf, 0, len);
  buf[0] = NTS_CHRONY_PROTO_VERSION;
  buf[1] = PKT_TYPE_REQUEST;
  put_u16 (buf + 4, (guint16) request->command);
  put_u16 (buf + 6, attempt);
  put_u32 (buf + 8, sequence);

  switch (request->command)
    {
    case NTS_CHRONY_CMD_SOURCE_DATA:
      put_u32 (data, request->index);
      break;
    case NTS_CHRONY_CMD_NTP_DATA:
    case NTS_CHRONY_CMD_NTP_SOURCE_NAME:
    case NTS_CHRONY_CMD_AUTH_DATA:
      put_ip_addr (data, &request->address);
      break;
    default:
      break;
    }

  return len;
}

/* ---- replies ------------------------------------------------------------ */

static void
set_status_error (GError **error, NtsChronyCommand command, guint16 status)
{
  const char *name = command_name (command);

  switch (status)
    {
    case NTS_CHRONY_STATUS_FAILED:
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_FAILED,
                   "chronyd failed the %s request", name);
      break;
    case NTS_CHRONY_STATUS_UNAUTH:
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_UNAUTHORISED,
                   "chronyd refused the %s request as unauthorised", name);
      break;
    case NTS_CHRONY_STATUS_INVALID:
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_UNKNOWN_COMMAND,
                   "chronyd does not know the %s command (older chrony?)", name);
      break;
    case NTS_CHRONY_STATUS_NOSUCHSOURCE:
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_NO_SUCH_SOURCE,
                   "chronyd has no such source for the %s request", name);
      break;
    case NTS_CHRONY_STATUS_BADPKTVERSION:
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_WRONG_VERSION,
                   "chronyd does not speak command protocol version %d",
                   NTS_CHRONY_PROTO_VERSION);
      break;
    case NTS_CHRONY_STATUS_BADPKTLENGTH:
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_FAILED,
                   "chronyd rejected the length of the %s request", name);
      break;
    default:
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_FAILED,
                   "chronyd answered the %s request with status %u", name, status);
      break;
    }
}

/* Reply format code and exact length expected for @command; NTP_DATA has
 * two formats, the second one in @alt_*. */
static gboolean
expected_format (NtsChronyCommand command,
                 guint16 *code, gsize *len, guint16 *alt_code, gsize *alt_len)
{
  *alt_code = 0;
  *alt_len = 0;
  switch (command)
    {
    case NTS_CHRONY_CMD_N_SOURCES:
      *code = RPY_N_SOURCES; *len = LEN_N_SOURCES;
      return TRUE;
    case NTS_CHRONY_CMD_SOURCE_DATA:
      *code = RPY_SOURCE_DATA; *len = LEN_SOURCE_DATA;
      return TRUE;
    case NTS_CHRONY_CMD_TRACKING:
      *code = RPY_TRACKING; *len = LEN_TRACKING;
      return TRUE;
    case NTS_CHRONY_CMD_NTP_DATA:
      *code = RPY_NTP_DATA; *len = LEN_NTP_DATA;
      *alt_code = RPY_NTP_DATA2; *alt_len = LEN_NTP_DATA2;
      return TRUE;
    case NTS_CHRONY_CMD_NTP_SOURCE_NAME:
      *code = RPY_NTP_SOURCE_NAME; *len = LEN_NTP_SOURCE_NAME;
      return TRUE;
    case NTS_CHRONY_CMD_AUTH_DATA:
      *code = RPY_AUTH_DATA; *len = LEN_AUTH_DATA;
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
nts_chrony_reply_validate (const guint8     *buf,
                           gsize             len,
                           NtsChronyCommand  command,
                           guint32           sequence,
                           GError          **error)
{
  const char *name = command_name (command);
  guint16 status, reply_code, code, alt_code;
  gsize expected_len, alt_len;

  if (!expected_format (command, &code, &expected_len, &alt_code, &alt_len))
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_INVALID_ARGUMENT,
                   "Cannot decode replies to chronyd command %u", (guint) command);
      return FALSE;
    }

  if (buf == NULL || len < NTS_CHRONY_REPLY_HEADER_LEN)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_TRUNCATED,
                   "Reply to %s has %" G_GSIZE_FORMAT " bytes, shorter than a reply header",
                   name, len);
      return FALSE;
    }

  if (buf[0] != NTS_CHRONY_PROTO_VERSION)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_WRONG_VERSION,
                   "Reply to %s uses command protocol version %u, expected %d",
                   name, buf[0], NTS_CHRONY_PROTO_VERSION);
      return FALSE;
    }

  if (buf[1] != PKT_TYPE_REPLY || buf[2] != 0 || buf[3] != 0)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_MISMATCH,
                   "Packet is not a command reply (type %u)", buf[1]);
      return FALSE;
    }

  if (get_u16 (buf + 4) != (guint16) command)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_MISMATCH,
                   "Reply is for command %u, not %s", get_u16 (buf + 4), name);
      return FALSE;
    }

  if (get_u32 (buf + 16) != sequence)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_MISMATCH,
                   "Reply to %s has sequence number %08x, expected %08x",
                   name, get_u32 (buf + 16), sequence);
      return FALSE;
    }

  /* chronyd sends errors as a bare header (reply format NULL), so the status
   * must be looked at before the length. */
  status = get_u16 (buf + 8);
  if (status != NTS_CHRONY_STATUS_SUCCESS)
    {
      set_status_error (error, command, status);
      return FALSE;
    }

  reply_code = get_u16 (buf + 6);
  if (reply_code == alt_code && alt_code != 0)
    expected_len = alt_len;
  else if (reply_code != code)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_BAD_REPLY,
                   "Reply to %s has format %u, expected %u", name, reply_code, code);
      return FALSE;
    }

  if (len < expected_len)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_TRUNCATED,
                   "Reply to %s has %" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT,
                   name, len, expected_len);
      return FALSE;
    }
  if (len > expected_len)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_BAD_REPLY,
                   "Reply to %s has %" G_GSIZE_FORMAT " bytes, more than the %" G_GSIZE_FORMAT " of its format",
                   name, len, expected_len);
      return FALSE;
    }

  return TRUE;
}

/* The data after the header of a reply nts_chrony_reply_validate() has
 * accepted for @command; NULL, with @error set, for one it has not. Not
 * computed before: with len 0, buf may be NULL. */
static const guint8 *
reply_data (const guint8 *buf, gsize len, NtsChronyCommand command, guint32 sequence,
            GError **error)
{
  if (!nts_chrony_reply_validate (buf, len, command, sequence, error))
    return NULL;
  return buf + NTS_CHRONY_REPLY_HEADER_LEN;
}

gboolean
nts_chrony_decode_n_sources (const guint8 *buf, gsize len,
                             guint32 sequence,
                             guint32 *n_sources,
                             GError **error)
{
  const guint8 *p = reply_data (buf, len, NTS_CHRONY_CMD_N_SOURCES, sequence, error);

  if (p == NULL)
    return FALSE;
  *n_sources = get_u32 (p);
  return TRUE;
}

gboolean
nts_chrony_decode_source_data (const guint8 *buf, gsize len,
                               guint32 sequence,
                               NtsChronySourceData *data,
                               GError **error)
{
  const guint8 *p = reply_data (buf, len, NTS_CHRONY_CMD_SOURCE_DATA, sequence, error);

  if (p == NULL)
    return FALSE;
  memset (data, 0, sizeof *data);
  get_ip_addr (p, &data->addr);
  p += IPADDR_LEN;
  data->poll = (gint16) get_u16 (p);
  data->stratum = get_u16 (p + 2);
  data->state = get_u16 (p + 4);
  data->mode = get_u16 (p + 6);
  data->flags = get_u16 (p + 8);
  data->reachability = get_u16 (p + 10);
  data->since_sample = get_u32 (p + 12);
  data->orig_latest_meas = get_float (p + 16);
  data->latest_meas = get_float (p + 20);
  data->latest_meas_err = get_float (p + 24);
  return TRUE;
}

gboolean
nts_chrony_decode_tracking (const guint8 *buf, gsize len,
                            guint32 sequence,
                            NtsChronyTracking *tracking,
                            GError **error)
{
  const guint8 *p = reply_data (buf, len, NTS_CHRONY_CMD_TRACKING, sequence, error);

  if (p == NULL)
    return FALSE;
  memset (tracking, 0, sizeof *tracking);
  tracking->ref_id = get_u32 (p);
  get_ip_addr (p + 4, &tracking->ip_addr);
  p += 4 + IPADDR_LEN;
  tracking->stratum = get_u16 (p);
  tracking->leap_status = get_u16 (p + 2);
  nts_chrony_timespec_decode (p + 4, &tracking->ref_time);
  p += 4 + TIMESPEC_LEN;
  tracking->current_correction = get_float (p);
  tracking->last_offset = get_float (p + 4);
  tracking->rms_offset = get_float (p + 8);
  tracking->freq_ppm = get_float (p + 12);
  tracking->resid_freq_ppm = get_float (p + 16);
  tracking->skew_ppm = get_float (p + 20);
  tracking->root_delay = get_float (p + 24);
  tracking->root_dispersion = get_float (p + 28);
  tracking->last_update_interval = get_float (p + 32);
  return TRUE;
}

gboolean
nts_chrony_decode_ntp_data (const guint8 *buf, gsize len,
                            guint32 sequence,
                            NtsChronyNtpData *data,
                            GError **error)
{
  const guint8 *p = reply_data (buf, len, NTS_CHRONY_CMD_NTP_DATA, sequence, error);

  if (p == NULL)
    return FALSE;
  /* Both formats share the first 124 data bytes; NTP_DATA2 only replaces
   * reserved words after total_good_count with counters we do not use. */
  memset (data, 0, sizeof *data);
  get_ip_addr (p, &data->remote_addr);
  get_ip_addr (p + IPADDR_LEN, &data->local_addr);
  p += 2 * IPADDR_LEN;
  data->remote_port = get_u16 (p);
  data->leap = p[2];
  data->version = p[3];
  data->mode = p[4];
  data->stratum = p[5];
  data->poll = (gint8) p[6];
  data->precision = (gint8) p[7];
  p += 8;
  data->root_delay = get_float (p);
  data->root_dispersion = get_float (p + 4);
  data->ref_id = get_u32 (p + 8);
  nts_chrony_timespec_decode (p + 12, &data->ref_time);
  p += 12 + TIMESPEC_LEN;
  data->offset = get_float (p);
  data->peer_delay = get_float (p + 4);
  data->peer_dispersion = get_float (p + 8);
  data->response_time = get_float (p + 12);
  data->jitter_asymmetry = get_float (p + 16);
  p += 20;
  data->flags = get_u16 (p);
  data->authenticated = (data->flags & NTS_CHRONY_NTP_FLAG_AUTHENTICATED) != 0;
  data->interleaved = (data->flags & NTS_CHRONY_NTP_FLAG_INTERLEAVED) != 0;
  data->tx_tss_char = (char) p[2];
  data->rx_tss_char = (char) p[3];
  p += 4;
  data->total_tx_count = get_u32 (p);
  data->total_rx_count = get_u32 (p + 4);
  data->total_valid_count = get_u32 (p + 8);
  data->total_good_count = get_u32 (p + 12);
  return TRUE;
}

gboolean
nts_chrony_decode_auth_data (const guint8 *buf, gsize len,
                             guint32 sequence,
                             NtsChronyAuthData *data,
                             GError **error)
{
  const guint8 *p = reply_data (buf, len, NTS_CHRONY_CMD_AUTH_DATA, sequence, error);

  if (p == NULL)
    return FALSE;
  memset (data, 0, sizeof *data);
  data->mode = get_u16 (p);
  data->key_type = get_u16 (p + 2);
  data->key_id = get_u32 (p + 4);
  data->key_length = get_u16 (p + 8);
  data->ke_attempts = get_u16 (p + 10);
  data->last_ke_ago = get_u32 (p + 12);
  data->cookies = get_u16 (p + 16);
  data->cookie_length = get_u16 (p + 18);
  data->nak = get_u16 (p + 20);
  return TRUE;
}

gboolean
nts_chrony_decode_ntp_source_name (const guint8 *buf, gsize len,
                                   guint32 sequence,
                                   char **name,
                                   GError **error)
{
  const char *p = (const char *) reply_data (buf, len, NTS_CHRONY_CMD_NTP_SOURCE_NAME, sequence,
                                             error);
  const char *end;

  if (p == NULL)
    return FALSE;
  end = memchr (p, '\0', NAME_LEN);
  if (end == NULL)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_BAD_REPLY,
                   "Source name in the NTP_SOURCE_NAME reply is not terminated");
      return FALSE;
    }
  if (!g_utf8_validate (p, end - p, NULL))
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_BAD_REPLY,
                   "Source name in the NTP_SOURCE_NAME reply is not valid UTF-8");
      return FALSE;
    }

  *name = g_strndup (p, end - p);
  return TRUE;
}
