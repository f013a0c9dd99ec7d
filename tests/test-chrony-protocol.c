/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the chronyd command-protocol codec on hand-built bytes.
 *
 * Replies are assembled field by field at the offsets of chrony 4.3's
 * candm.h, independently of the decoder's own offsets, so a shifted field
 * in either shows up as a wrong value. Every rejection test hands the
 * decoder an exactly sized heap copy, so an out-of-bounds read is caught
 * by AddressSanitizer rather than reading neighbouring stack. */
#include "chrony-protocol.h"

#include <math.h>  /* NAN, INFINITY, signbit: macros, no libm */
#include <string.h>

#define SEQ 0xa1b2c3d4u

/* ---- byte builders ------------------------------------------------------ */

static void
w16 (guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static void
w32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = (v >> 16) & 0xff;
  p[2] = (v >> 8) & 0xff;
  p[3] = v & 0xff;
}

static void
w_ip4 (guint8 *p, guint8 a, guint8 b, guint8 c, guint8 d)
{
  memset (p, 0, 20);
  p[0] = a; p[1] = b; p[2] = c; p[3] = d;
  w16 (p + 16, 1);
}

/* 2^e, exact; the tests link no libm. */
static double
ldexp2 (double x, int e)
{
  for (; e > 0; e--)
    x *= 2.0;
  for (; e < 0; e++)
    x *= 0.5;
  return x;
}
#define ldexp(x, e) ldexp2 ((x), (e))

static double
absd (double x)
{
  return x < 0 ? -x : x;
}

/* Float for values that are exactly coef * 2^(exp-25). */
static guint32
fl (gint32 coef, gint32 exp)
{
  return ((guint32) (exp & 0x7f) << 25) | ((guint32) coef & 0x1ffffff);
}

static void
w_header (guint8 *buf, guint16 command, guint16 reply, guint16 status, guint32 seq)
{
  memset (buf, 0, 28);
  buf[0] = 6;
  buf[1] = 2;
  w16 (buf + 4, command);
  w16 (buf + 6, reply);
  w16 (buf + 8, status);
  w32 (buf + 16, seq);
}

typedef struct {
  guint8 bytes[512];
  gsize  len;
} Packet;

static void
build_n_sources (Packet *pkt, guint32 n)
{
  memset (pkt, 0, sizeof *pkt);
  w_header (pkt->bytes, 14, 2, 0, SEQ);
  w32 (pkt->bytes + 28, n);
  pkt->len = 32;
}

static void
build_source_data (Packet *pkt)
{
  guint8 *d = pkt->bytes + 28;

  memset (pkt, 0, sizeof *pkt);
  w_header (pkt->bytes, 15, 3, 0, SEQ);
  w_ip4 (d, 127, 0, 0, 2);
  w16 (d + 20, (guint16) -2);      /* poll */
  w16 (d + 22, 1);                 /* stratum */
  w16 (d + 24, 0);                 /* state: selected */
  w16 (d + 26, 0);                 /* mode: client */
  w16 (d + 28, 0x0004);            /* flags */
  w16 (d + 30, 0377);              /* reach */
  w32 (d + 32, 17);                /* since sample */
  w32 (d + 36, fl (-3, 15));       /* orig latest: -3 * 2^-10 */
  w32 (d + 40, fl (5, 5));         /* latest: 5 * 2^-20 */
  w32 (d + 44, fl (1, 0));         /* error: 2^-25 */
  pkt->len = 76;
}

static void
build_tracking (Packet *pkt)
{
  guint8 *d = pkt->bytes + 28;

  memset (pkt, 0, sizeof *pkt);
  w_header (pkt->bytes, 33, 5, 0, SEQ);
  w32 (d, 0x7f000003);
  w_ip4 (d + 4, 127, 0, 0, 3);
  w16 (d + 24, 2);                 /* stratum */
  w16 (d + 26, 3);                 /* leap: unsynchronised */
  w32 (d + 28, 0);                 /* ref time high */
  w32 (d + 32, 1700000000);
  w32 (d + 36, 123456789);
  w32 (d + 40, fl (1, -1));        /* correction 2^-26 */
  w32 (d + 44, fl (-1, -1));       /* last offset -2^-26 */
  w32 (d + 48, fl (3, 1));         /* rms 3 * 2^-24 */
  w32 (d + 52, fl (-12345, 25));   /* freq -12345 ppm */
  w32 (d + 56, fl (1, 24));        /* resid 0.5 */
  w32 (d + 60, fl (1, 23));        /* skew 0.25 */
  w32 (d + 64, fl (1, 15));        /* root delay 2^-10 */
  w32 (d + 68, fl (1, 14));        /* root dispersion 2^-11 */
  w32 (d + 72, fl (64, 25));       /* update interval 64 */
  pkt->len = 104;
}

static void
build_ntp_data (Packet *pkt, gboolean v2)
{
  guint8 *d = pkt->bytes + 28;

  memset (pkt, 0, sizeof *pkt);
  w_header (pkt->bytes, 57, v2 ? 26 : 16, 0, SEQ);
  w_ip4 (d, 127, 0, 0, 4);
  w_ip4 (d + 20, 127, 0, 0, 1);
  w16 (d + 40, 11123);             /* remote port */
  d[42] = 0;                       /* leap */
  d[43] = 4;                       /* version */
  d[44] = 4;                       /* mode server */
  d[45] = 1;                       /* stratum */
  d[46] = (guint8) -6;             /* poll */
  d[47] = (guint8) -23;            /* precision */
  w32 (d + 48, fl (1, 10));        /* root delay 2^-15 */
  w32 (d + 52, fl (3, 10));        /* root disp 3 * 2^-15 */
  w32 (d + 56, 0x4c4f434c);        /* "LOCL" */
  w32 (d + 60, 0x7fffffff);        /* ref time: no high word */
  w32 (d + 64, 1700000001);
  w32 (d + 68, 999999999);
  w32 (d + 72, fl (-7, 0));        /* offset */
  w32 (d + 76, fl (9, 5));         /* peer delay */
  w32 (d + 80, fl (1, 2));         /* peer disp */
  w32 (d + 84, fl (5, 8));         /* response time */
  w32 (d + 88, fl (-1, 24));       /* asymmetry -0.5 */
  w16 (d + 92, 0x8000 | 0x03ff);   /* authenticated, all tests pass */
  d[94] = 'D';
  d[95] = 'K';
  w32 (d + 96, 10);
  w32 (d + 100, 9);
  w32 (d + 104, 8);
  w32 (d + 108, 7);
  if (v2)
    w32 (d + 112, 0xdeadbeef);     /* kernel TX timestamps: not decoded */
  pkt->len = v2 ? 172 : 152;
}

static void
build_auth_data (Packet *pkt)
{
  guint8 *d = pkt->bytes + 28;

  memset (pkt, 0, sizeof *pkt);
  w_header (pkt->bytes, 67, 20, 0, SEQ);
  w16 (d, 2);                      /* NTS */
  w16 (d + 2, 15);                 /* AES-SIV-CMAC-256 */
  w32 (d + 4, 3);                  /* key id */
  w16 (d + 8, 256);
  w16 (d + 10, 1);
  w32 (d + 12, 4000000000u);
  w16 (d + 16, 8);
  w16 (d + 18, 100);
  w16 (d + 20, 1);
  pkt->len = 52;
}

static void
build_source_name (Packet *pkt, const char *name)
{
  memset (pkt, 0, sizeof *pkt);
  w_header (pkt->bytes, 65, 19, 0, SEQ);
  memcpy (pkt->bytes + 28, name, MIN (strlen (name), 256));
  pkt->len = 284;
}

/* Runs the decoder for @command on an exact-size heap copy. */
static gboolean
decode_any (NtsChronyCommand command, const guint8 *bytes, gsize len, GError **error)
{
  g_autofree guint8 *copy = g_memdup2 (bytes, len);
  guint32 n;
  NtsChronySourceData sd;
  NtsChronyTracking tr;
  NtsChronyNtpData nd;
  NtsChronyAuthData ad;
  g_autofree char *name = NULL;

  switch (command)
    {
    case NTS_CHRONY_CMD_N_SOURCES:
      return nts_chrony_decode_n_sources (copy, len, SEQ, &n, error);
    case NTS_CHRONY_CMD_SOURCE_DATA:
      return nts_chrony_decode_source_data (copy, len, SEQ, &sd, error);
    case NTS_CHRONY_CMD_TRACKING:
      return nts_chrony_decode_tracking (copy, len, SEQ, &tr, error);
    case NTS_CHRONY_CMD_NTP_DATA:
      return nts_chrony_decode_ntp_data (copy, len, SEQ, &nd, error);
    case NTS_CHRONY_CMD_AUTH_DATA:
      return nts_chrony_decode_auth_data (copy, len, SEQ, &ad, error);
    case NTS_CHRONY_CMD_NTP_SOURCE_NAME:
      return nts_chrony_decode_ntp_source_name (copy, len, SEQ, &name, error);
    default:
      g_assert_not_reached ();
    }
}

static void
build_for (NtsChronyCommand command, Packet *pkt)
{
  switch (command)
    {
    case NTS_CHRONY_CMD_N_SOURCES:       build_n_sources (pkt, 3); break;
    case NTS_CHRONY_CMD_SOURCE_DATA:     build_source_data (pkt); break;
    case NTS_CHRONY_CMD_TRACKING:        build_tracking (pkt); break;
    case NTS_CHRONY_CMD_NTP_DATA:        build_ntp_data (pkt, FALSE); break;
    case NTS_CHRONY_CMD_AUTH_DATA:       build_auth_data (pkt); break;
    case NTS_CHRONY_CMD_NTP_SOURCE_NAME: build_source_name (pkt, "ntp.example"); break;
    default: g_assert_not_reached ();
    }
}

static const NtsChronyCommand all_commands[] = {
  NTS_CHRONY_CMD_N_SOURCES, NTS_CHRONY_CMD_SOURCE_DATA, NTS_CHRONY_CMD_TRACKING,
  NTS_CHRONY_CMD_NTP_DATA, NTS_CHRONY_CMD_AUTH_DATA, NTS_CHRONY_CMD_NTP_SOURCE_NAME,
};

/* ---- numbers ------------------------------------------------------------ */

static void
test_float_decode (void)
{
  g_assert_cmpfloat (nts_chrony_float_decode (0), ==, 0.0);
  g_assert_cmpfloat (nts_chrony_float_decode (fl (1, 25)), ==, 1.0);
  g_assert_cmpfloat (nts_chrony_float_decode (fl (-1, 25)), ==, -1.0);
  g_assert_cmpfloat (nts_chrony_float_decode (fl (3, 24)), ==, 1.5);
  g_assert_cmpfloat (nts_chrony_float_decode (fl (-3, -1)), ==, -3 * ldexp (1, -26));
  /* Extremes of both fields. */
  g_assert_cmpfloat (nts_chrony_float_decode (fl (0xffffff, 63)), ==, ldexp (0xffffff, 38));
  g_assert_cmpfloat (nts_chrony_float_decode (fl (-0x1000000, 63)), ==, -ldexp (1, 62));
  g_assert_cmpfloat (nts_chrony_float_decode (fl (1, -64)), ==, ldexp (1, -89));
  g_assert_cmpfloat (nts_chrony_float_decode (fl (-1, -64)), ==, -ldexp (1, -89));
  /* Raw words written out, to pin the bit layout itself. */
  g_assert_cmpfloat (nts_chrony_float_decode (0x32000001u), ==, 1.0);
  g_assert_cmpfloat (nts_chrony_float_decode (0xffffffffu), ==, -ldexp (1, -26));
  g_assert_cmpfloat (nts_chrony_float_decode (0x80000001u), ==, ldexp (1, -89));
}

static void
test_float_encode (void)
{
  const double values[] = {
    1.0, -1.0, 1.5, 0.1, -0.1, 1e-9, -1e-9, 123456.789, -98765.4321,
    3.999999999, 0.000123456, 1e-20, 4.2e12, 16777215.0, 0.5, 2.0,
  };

  g_assert_cmpuint (nts_chrony_float_encode (0.0), ==, 0);
  g_assert_cmpuint (nts_chrony_float_encode (-0.0), ==, 0);
  g_assert_cmpuint (nts_chrony_float_encode (NAN), ==, 0);
  g_assert_cmpuint (nts_chrony_float_encode (1.0), ==, fl (1 << 23, 2));

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      double back = nts_chrony_float_decode (nts_chrony_float_encode (values[i]));
      /* 24 significant bits: relative error at most 2^-24 after rounding. */
      g_assert_cmpfloat_with_epsilon (back, values[i], absd (values[i]) * ldexp (1, -24));
      g_assert_true (signbit (back) == signbit (values[i]));
    }

  /* Saturation and underflow. */
  g_assert_cmpfloat (nts_chrony_float_decode (nts_chrony_float_encode (1e300)), ==, ldexp (0xffffff, 38));
  g_assert_cmpfloat (nts_chrony_float_decode (nts_chrony_float_encode (-INFINITY)), ==, -ldexp (0xffffff, 38));
  g_assert_cmpuint (nts_chrony_float_encode (1e-40), ==, 0);
  /* Denormal range keeps what it can. */
  g_assert_cmpfloat (nts_chrony_float_decode (nts_chrony_float_encode (ldexp (5, -89))), ==, ldexp (5, -89));
  /* Rounding carry: just below a power of two rounds up to it. */
  g_assert_cmpfloat (nts_chrony_float_decode (nts_chrony_float_encode (2.0 - ldexp (1, -52))), ==, 2.0);
}

static void
test_timespec (void)
{
  guint8 b[12];
  NtsChronyTimespec ts, back;

  w32 (b, 0); w32 (b + 4, 1700000000); w32 (b + 8, 123456789);
  nts_chrony_timespec_decode (b, &ts);
  g_assert_cmpint (ts.tv_sec, ==, 1700000000);
  g_assert_cmpuint (ts.tv_nsec, ==, 123456789);

  /* 0x7fffffff in the high word means "32-bit sender, no high bits". */
  w32 (b, 0x7fffffff); w32 (b + 4, 5); w32 (b + 8, 0);
  nts_chrony_timespec_decode (b, &ts);
  g_assert_cmpint (ts.tv_sec, ==, 5);

  /* Past 2106. */
  w32 (b, 1); w32 (b + 4, 5); w32 (b + 8, 1);
  nts_chrony_timespec_decode (b, &ts);
  g_assert_cmpint (ts.tv_sec, ==, G_GINT64_CONSTANT (0x100000005));

  /* Before 1970. */
  w32 (b, 0xffffffff); w32 (b + 4, 0xffffffff); w32 (b + 8, 500000000);
  nts_chrony_timespec_decode (b, &ts);
  g_assert_cmpint (ts.tv_sec, ==, -1);
  g_assert_cmpuint (ts.tv_nsec, ==, 500000000);

  /* Nanoseconds past a second are carried, as chronyd normalises them. */
  w32 (b, 0); w32 (b + 4, 10); w32 (b + 8, 0xffffffff);
  nts_chrony_timespec_decode (b, &ts);
  g_assert_cmpint (ts.tv_sec, ==, 14);
  g_assert_cmpuint (ts.tv_nsec, ==, 294967295);

  /* Largest high word that is not the marker: no overflow. */
  w32 (b, 0x7ffffffe); w32 (b + 4, 0xffffffff); w32 (b + 8, 0xffffffff);
  nts_chrony_timespec_decode (b, &ts);
  g_assert_cmpint (ts.tv_sec, ==, G_GINT64_CONSTANT (0x7ffffffeffffffff) + 4);

  ts.tv_sec = -123456789012;
  ts.tv_nsec = 42;
  nts_chrony_timespec_encode (&ts, b);
  nts_chrony_timespec_decode (b, &back);
  g_assert_cmpint (back.tv_sec, ==, ts.tv_sec);
  g_assert_cmpuint (back.tv_nsec, ==, 42);
}

static void
test_ip_addr (void)
{
  NtsChronyIpAddr a = { 0 }, b = { 0 };
  g_autofree char *s4 = NULL, *s6 = NULL, *sid = NULL, *sun = NULL, *sx = NULL;

  g_assert_true (nts_chrony_ip_addr_from_string ("127.0.0.2", &a));
  g_assert_cmpuint (a.family, ==, NTS_CHRONY_ADDR_INET4);
  g_assert_cmpmem (a.addr, 4, "\x7f\x00\x00\x02", 4);
  s4 = nts_chrony_ip_addr_to_string (&a);
  g_assert_cmpstr (s4, ==, "127.0.0.2");
  g_assert_true (nts_chrony_ip_addr_is_ip (&a));

  g_assert_true (nts_chrony_ip_addr_from_string ("2001:db8::1", &b));
  g_assert_cmpuint (b.family, ==, NTS_CHRONY_ADDR_INET6);
  s6 = nts_chrony_ip_addr_to_string (&b);
  g_assert_cmpstr (s6, ==, "2001:db8::1");
  g_assert_false (nts_chrony_ip_addr_equal (&a, &b));

  g_assert_false (nts_chrony_ip_addr_from_string ("ntp.example", &a));
  g_assert_false (nts_chrony_ip_addr_from_string ("", &a));
  g_assert_false (nts_chrony_ip_addr_from_string (NULL, &a));
  g_assert_cmpstr (s4, ==, "127.0.0.2"); /* untouched on failure */

  memset (&a, 0, sizeof a);
  a.family = NTS_CHRONY_ADDR_ID;
  w32 (a.addr, 1);
  sid = nts_chrony_ip_addr_to_string (&a);
  g_assert_cmpstr (sid, ==, "ID#0000000001");
  g_assert_false (nts_chrony_ip_addr_is_ip (&a));

  a.family = NTS_CHRONY_ADDR_UNSPEC;
  sun = nts_chrony_ip_addr_to_string (&a);
  g_assert_cmpstr (sun, ==, "[UNSPEC]");
  a.family = 77;
  sx = nts_chrony_ip_addr_to_string (&a);
  g_assert_cmpstr (sx, ==, "[UNKNOWN]");
}

/* ---- requests ----------------------------------------------------------- */

static void
check_request_header (const guint8 *buf, guint16 command, guint16 attempt, guint32 seq)
{
  g_assert_cmpuint (buf[0], ==, 6);
  g_assert_cmpuint (buf[1], ==, 1);
  g_assert_cmpuint (buf[2], ==, 0);
  g_assert_cmpuint (buf[3], ==, 0);
  g_assert_cmpuint ((buf[4] << 8) | buf[5], ==, command);
  g_assert_cmpuint ((buf[6] << 8) | buf[7], ==, attempt);
  g_assert_cmpuint (((guint32) buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11], ==, seq);
  for (int i = 12; i < 20; i++)
    g_assert_cmpuint (buf[i], ==, 0);
}

static void
check_zero (const guint8 *buf, gsize from, gsize to)
{
  for (gsize i = from; i < to; i++)
    g_assert_cmpuint (buf[i], ==, 0);
}

static void
test_request_encode (void)
{
  guint8 buf[NTS_CHRONY_REQUEST_MAX_LEN + 16];
  NtsChronyRequest req;
  NtsChronyIpAddr addr;
  g_autoptr(GError) error = NULL;
  gsize len;

  memset (buf, 0xee, sizeof buf);
  nts_chrony_request_init_n_sources (&req);
  len = nts_chrony_request_encode (&req, 0x01020304, 0, buf, sizeof buf, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, ==, 32);
  check_request_header (buf, 14, 0, 0x01020304);
  check_zero (buf, 20, 32);
  g_assert_cmpuint (buf[32], ==, 0xee); /* nothing written past the request */

  nts_chrony_request_init_source_data (&req, 0x0a0b0c0d);
  len = nts_chrony_request_encode (&req, 7, 2, buf, sizeof buf, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, ==, 76);
  check_request_header (buf, 15, 2, 7);
  g_assert_cmpmem (buf + 20, 4, "\x0a\x0b\x0c\x0d", 4);
  check_zero (buf, 24, 76);

  nts_chrony_request_init_tracking (&req);
  len = nts_chrony_request_encode (&req, 8, 1, buf, sizeof buf, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, ==, 104);
  check_request_header (buf, 33, 1, 8);
  check_zero (buf, 20, 104);

  g_assert_true (nts_chrony_ip_addr_from_string ("127.0.0.9", &addr));
  const struct { void (*init) (NtsChronyRequest *, const NtsChronyIpAddr *); guint16 cmd; gsize len; } by_addr[] = {
    { nts_chrony_request_init_ntp_data, 57, 172 },
    { nts_chrony_request_init_ntp_source_name, 65, 284 },
    { nts_chrony_request_init_auth_data, 67, 52 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (by_addr); i++)
    {
      memset (buf, 0xee, sizeof buf);
      by_addr[i].init (&req, &addr);
      len = nts_chrony_request_encode (&req, 9, 0, buf, sizeof buf, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (len, ==, by_addr[i].len);
      g_assert_cmpuint (len, ==, nts_chrony_request_length (by_addr[i].cmd));
      check_request_header (buf, by_addr[i].cmd, 0, 9);
      g_assert_cmpmem (buf + 20, 4, "\x7f\x00\x00\x09", 4);
      check_zero (buf, 24, 36);
      g_assert_cmpuint (buf[36], ==, 0);
      g_assert_cmpuint (buf[37], ==, 1);   /* family INET4 */
      check_zero (buf, 38, len);
    }

  /* IPv6 address goes in whole. */
  g_assert_true (nts_chrony_ip_addr_from_string ("2001:db8::7", &addr));
  nts_chrony_request_init_auth_data (&req, &addr);
  len = nts_chrony_request_encode (&req, 9, 0, buf, sizeof buf, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buf + 20, 16, addr.addr, 16);
  g_assert_cmpuint (buf[37], ==, 2);

  /* Too small a buffer, unknown command. */
  nts_chrony_request_init_tracking (&req);
  g_assert_cmpuint (nts_chrony_request_encode (&req, 1, 0, buf, 103, &error), ==, 0);
  g_assert_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  req.command = 44;
  g_assert_cmpuint (nts_chrony_request_encode (&req, 1, 0, buf, sizeof buf, &error), ==, 0);
  g_assert_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (nts_chrony_request_length (44), ==, 0);
}

/* ---- reply decoding ----------------------------------------------------- */

static void
test_decode_n_sources (void)
{
  Packet pkt;
  guint32 n = 0;
  g_autoptr(GError) error = NULL;

  build_n_sources (&pkt, 0xfffffffe);
  g_assert_true (nts_chrony_decode_n_sources (pkt.bytes, pkt.len, SEQ, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 0xfffffffe);
}

static void
test_decode_source_data (void)
{
  Packet pkt;
  NtsChronySourceData sd;
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;

  build_source_data (&pkt);
  g_assert_true (nts_chrony_decode_source_data (pkt.bytes, pkt.len, SEQ, &sd, &error));
  g_assert_no_error (error);
  ip = nts_chrony_ip_addr_to_string (&sd.addr);
  g_assert_cmpstr (ip, ==, "127.0.0.2");
  g_assert_cmpint (sd.poll, ==, -2);
  g_assert_cmpuint (sd.stratum, ==, 1);
  g_assert_cmpuint (sd.state, ==, NTS_CHRONY_SOURCE_STATE_SELECTED);
  g_assert_cmpuint (sd.mode, ==, NTS_CHRONY_SOURCE_MODE_CLIENT);
  g_assert_cmpuint (sd.flags, ==, 4);
  g_assert_cmpuint (sd.reachability, ==, 0377);
  g_assert_cmpuint (sd.since_sample, ==, 17);
  g_assert_cmpfloat (sd.orig_latest_meas, ==, -3.0 / 1024);
  g_assert_cmpfloat (sd.latest_meas, ==, 5 * ldexp (1, -20));
  g_assert_cmpfloat (sd.latest_meas_err, ==, ldexp (1, -25));

  /* An unresolved source (family 3) keeps its identifier. */
  memset (pkt.bytes + 28, 0, 20);
  w32 (pkt.bytes + 28, 42);
  w16 (pkt.bytes + 28 + 16, 3);
  g_assert_true (nts_chrony_decode_source_data (pkt.bytes, pkt.len, SEQ, &sd, &error));
  g_clear_pointer (&ip, g_free);
  ip = nts_chrony_ip_addr_to_string (&sd.addr);
  g_assert_cmpstr (ip, ==, "ID#0000000042");

  /* Stray bytes after an IPv4 address are not kept (equality stays exact). */
  w_ip4 (pkt.bytes + 28, 127, 0, 0, 2);
  pkt.bytes[28 + 10] = 0x55;
  g_assert_true (nts_chrony_decode_source_data (pkt.bytes, pkt.len, SEQ, &sd, &error));
  NtsChronyIpAddr expect;
  g_assert_true (nts_chrony_ip_addr_from_string ("127.0.0.2", &expect));
  g_assert_true (nts_chrony_ip_addr_equal (&sd.addr, &expect));
}

static void
test_decode_tracking (void)
{
  Packet pkt;
  NtsChronyTracking tr;
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;

  build_tracking (&pkt);
  g_assert_true (nts_chrony_decode_tracking (pkt.bytes, pkt.len, SEQ, &tr, &error));
  g_assert_no_error (error);
  g_assert_cmphex (tr.ref_id, ==, 0x7f000003);
  ip = nts_chrony_ip_addr_to_string (&tr.ip_addr);
  g_assert_cmpstr (ip, ==, "127.0.0.3");
  g_assert_cmpuint (tr.stratum, ==, 2);
  g_assert_cmpuint (tr.leap_status, ==, NTS_CHRONY_LEAP_UNSYNCHRONISED);
  g_assert_cmpint (tr.ref_time.tv_sec, ==, 1700000000);
  g_assert_cmpuint (tr.ref_time.tv_nsec, ==, 123456789);
  g_assert_cmpfloat (tr.current_correction, ==, ldexp (1, -26));
  g_assert_cmpfloat (tr.last_offset, ==, -ldexp (1, -26));
  g_assert_cmpfloat (tr.rms_offset, ==, 3 * ldexp (1, -24));
  g_assert_cmpfloat (tr.freq_ppm, ==, -12345.0);
  g_assert_cmpfloat (tr.resid_freq_ppm, ==, 0.5);
  g_assert_cmpfloat (tr.skew_ppm, ==, 0.25);
  g_assert_cmpfloat (tr.root_delay, ==, ldexp (1, -10));
  g_assert_cmpfloat (tr.root_dispersion, ==, ldexp (1, -11));
  g_assert_cmpfloat (tr.last_update_interval, ==, 64.0);
}

static void
check_ntp_data (const NtsChronyNtpData *nd)
{
  g_autofree char *remote = nts_chrony_ip_addr_to_string (&nd->remote_addr);
  g_autofree char *local = nts_chrony_ip_addr_to_string (&nd->local_addr);

  g_assert_cmpstr (remote, ==, "127.0.0.4");
  g_assert_cmpstr (local, ==, "127.0.0.1");
  g_assert_cmpuint (nd->remote_port, ==, 11123);
  g_assert_cmpuint (nd->leap, ==, 0);
  g_assert_cmpuint (nd->version, ==, 4);
  g_assert_cmpuint (nd->mode, ==, 4);
  g_assert_cmpuint (nd->stratum, ==, 1);
  g_assert_cmpint (nd->poll, ==, -6);
  g_assert_cmpint (nd->precision, ==, -23);
  g_assert_cmpfloat (nd->root_delay, ==, ldexp (1, -15));
  g_assert_cmpfloat (nd->root_dispersion, ==, 3 * ldexp (1, -15));
  g_assert_cmphex (nd->ref_id, ==, 0x4c4f434c);
  g_assert_cmpint (nd->ref_time.tv_sec, ==, 1700000001);
  g_assert_cmpuint (nd->ref_time.tv_nsec, ==, 999999999);
  g_assert_cmpfloat (nd->offset, ==, -7 * ldexp (1, -25));
  g_assert_cmpfloat (nd->peer_delay, ==, 9 * ldexp (1, -20));
  g_assert_cmpfloat (nd->peer_dispersion, ==, ldexp (1, -23));
  g_assert_cmpfloat (nd->response_time, ==, 5 * ldexp (1, -17));
  g_assert_cmpfloat (nd->jitter_asymmetry, ==, -0.5);
  g_assert_cmphex (nd->flags, ==, 0x83ff);
  g_assert_true (nd->authenticated);
  g_assert_false (nd->interleaved);
  g_assert_cmpint (nd->tx_tss_char, ==, 'D');
  g_assert_cmpint (nd->rx_tss_char, ==, 'K');
  g_assert_cmpuint (nd->total_tx_count, ==, 10);
  g_assert_cmpuint (nd->total_rx_count, ==, 9);
  g_assert_cmpuint (nd->total_valid_count, ==, 8);
  g_assert_cmpuint (nd->total_good_count, ==, 7);
}

static void
test_decode_ntp_data (void)
{
  Packet pkt;
  NtsChronyNtpData nd;
  g_autoptr(GError) error = NULL;

  build_ntp_data (&pkt, FALSE);
  g_assert_true (nts_chrony_decode_ntp_data (pkt.bytes, pkt.len, SEQ, &nd, &error));
  g_assert_no_error (error);
  check_ntp_data (&nd);

  /* chrony 4.6's longer format decodes to the same fields. */
  build_ntp_data (&pkt, TRUE);
  g_assert_true (nts_chrony_decode_ntp_data (pkt.bytes, pkt.len, SEQ, &nd, &error));
  g_assert_no_error (error);
  check_ntp_data (&nd);

  /* Not authenticated, interleaved. */
  build_ntp_data (&pkt, FALSE);
  w16 (pkt.bytes + 28 + 92, 0x4000);
  g_assert_true (nts_chrony_decode_ntp_data (pkt.bytes, pkt.len, SEQ, &nd, &error));
  g_assert_false (nd.authenticated);
  g_assert_true (nd.interleaved);

  /* Each format must have its own length. */
  build_ntp_data (&pkt, TRUE);
  g_assert_false (nts_chrony_decode_ntp_data (pkt.bytes, 152, SEQ, &nd, &error));
  g_assert_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_TRUNCATED);
  g_clear_error (&error);
  build_ntp_data (&pkt, FALSE);
  g_assert_false (nts_chrony_decode_ntp_data (pkt.bytes, 172, SEQ, &nd, &error));
  g_assert_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_BAD_REPLY);
}

static void
test_decode_auth_data (void)
{
  Packet pkt;
  NtsChronyAuthData ad;
  g_autoptr(GError) error = NULL;

  build_auth_data (&pkt);
  g_assert_true (nts_chrony_decode_auth_data (pkt.bytes, pkt.len, SEQ, &ad, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ad.mode, ==, NTS_CHRONY_AUTH_MODE_NTS);
  g_assert_cmpuint (ad.key_type, ==, 15);
  g_assert_cmpuint (ad.key_id, ==, 3);
  g_assert_cmpuint (ad.key_length, ==, 256);
  g_assert_cmpuint (ad.ke_attempts, ==, 1);
  g_assert_cmpuint (ad.last_ke_ago, ==, 4000000000u);
  g_assert_cmpuint (ad.cookies, ==, 8);
  g_assert_cmpuint (ad.cookie_length, ==, 100);
  g_assert_cmpuint (ad.nak, ==, 1);
}

static void
test_decode_source_name (void)
{
  Packet pkt;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  char long_name[257];

  build_source_name (&pkt, "ntp1.example.org");
  g_assert_true (nts_chrony_decode_ntp_source_name (pkt.bytes, pkt.len, SEQ, &name, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "ntp1.example.org");
  g_clear_pointer (&name, g_free);

  /* 255 characters plus the terminator is the longest accepted. */
  memset (long_name, 'a', 255);
  long_name[255] = '\0';
  build_source_name (&pkt, long_name);
  g_assert_true (nts_chrony_decode_ntp_source_name (pkt.bytes, pkt.len, SEQ, &name, &error));
  g_assert_cmpuint (strlen (name), ==, 255);
  g_clear_pointer (&name, g_free);

  memset (long_name, 'a', 256);
  long_name[256] = '\0';
  build_source_name (&pkt, long_name);
  g_assert_false (nts_chrony_decode_ntp_source_name (pkt.bytes, pkt.len, SEQ, &name, &error));
  g_assert_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_BAD_REPLY);
  g_assert_null (name);
  g_clear_error (&error);

  build_source_name (&pkt, "bad\xff\xfe");
  g_assert_false (nts_chrony_decode_ntp_source_name (pkt.bytes, pkt.len, SEQ, &name, &error));
  g_assert_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_BAD_REPLY);
  g_assert_null (name);
}

/* ---- rejections --------------------------------------------------------- */

static void
expect_rejected (NtsChronyCommand command, const guint8 *bytes, gsize len, gint code)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (decode_any (command, bytes, len, &error));
  g_assert_error (error, NTS_CHRONY_ERROR, code);
  g_assert_nonnull (error->message);
}

static void
test_reject_truncated (void)
{
  for (gsize c = 0; c < G_N_ELEMENTS (all_commands); c++)
    {
      Packet pkt;

      build_for (all_commands[c], &pkt);
      for (gsize len = 0; len < pkt.len; len++)
        expect_rejected (all_commands[c], pkt.bytes, len, NTS_CHRONY_ERROR_TRUNCATED);
    }
}

static void
test_reject_oversized (void)
{
  for (gsize c = 0; c < G_N_ELEMENTS (all_commands); c++)
    {
      Packet pkt;

      build_for (all_commands[c], &pkt);
      expect_rejected (all_commands[c], pkt.bytes, pkt.len + 1, NTS_CHRONY_ERROR_BAD_REPLY);
      expect_rejected (all_commands[c], pkt.bytes, pkt.len + 100, NTS_CHRONY_ERROR_BAD_REPLY);
    }
}

static void
test_reject_header (void)
{
  for (gsize c = 0; c < G_N_ELEMENTS (all_commands); c++)
    {
      NtsChronyCommand cmd = all_commands[c];
      Packet pkt;

      build_for (cmd, &pkt);
      g_assert_true (decode_any (cmd, pkt.bytes, pkt.len, NULL));

      pkt.bytes[0] = 5;
      expect_rejected (cmd, pkt.bytes, pkt.len, NTS_CHRONY_ERROR_WRONG_VERSION);
      pkt.bytes[0] = 7;
      expect_rejected (cmd, pkt.bytes, pkt.len, NTS_CHRONY_ERROR_WRONG_VERSION);
      /* Even a bare header of another version says so, not "truncated". */
      expect_rejected (cmd, pkt.bytes, 28, NTS_CHRONY_ERROR_WRONG_VERSION);
      pkt.bytes[0] = 6;

      pkt.bytes[1] = 1;   /* a request, e.g. our own echoed back */
      expect_rejected (cmd, pkt.bytes, pkt.len, NTS_CHRONY_ERROR_MISMATCH);
      pkt.bytes[1] = 2;
      pkt.bytes[2] = 1;   /* reserved byte set */
      expect_rejected (cmd, pkt.bytes, pkt.len, NTS_CHRONY_ERROR_MISMATCH);
      pkt.bytes[2] = 0;

      pkt.bytes[5] ^= 0x40; /* another command */
      expect_rejected (cmd, pkt.bytes, pkt.len, NTS_CHRONY_ERROR_MISMATCH);
      pkt.bytes[5] ^= 0x40;

      pkt.bytes[19] ^= 1; /* another sequence number */
      expect_rejected (cmd, pkt.bytes, pkt.len, NTS_CHRONY_ERROR_MISMATCH);
      pkt.bytes[19] ^= 1;

      pkt.bytes[7] = 1;   /* reply format NULL with success status */
      expect_rejected (cmd, pkt.bytes, pkt.len, NTS_CHRONY_ERROR_BAD_REPLY);
      pkt.bytes[6] = 0xff;
      pkt.bytes[7] = 0xff;
      expect_rejected (cmd, pkt.bytes, pkt.len, NTS_CHRONY_ERROR_BAD_REPLY);
    }
}

static void
test_reject_status (void)
{
  const struct { guint16 status; gint code; } cases[] = {
    { 1, NTS_CHRONY_ERROR_FAILED },
    { 2, NTS_CHRONY_ERROR_UNAUTHORISED },
    { 3, NTS_CHRONY_ERROR_UNKNOWN_COMMAND },
    { 4, NTS_CHRONY_ERROR_NO_SUCH_SOURCE },
    { 18, NTS_CHRONY_ERROR_WRONG_VERSION },
    { 19, NTS_CHRONY_ERROR_FAILED },
    { 21, NTS_CHRONY_ERROR_FAILED },
    { 0xffff, NTS_CHRONY_ERROR_FAILED },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (all_commands); c++)
    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        guint8 hdr[28];

        /* As chronyd sends errors: a bare header, reply format NULL. */
        w_header (hdr, all_commands[c], 1, cases[i].status, SEQ);
        expect_rejected (all_commands[c], hdr, sizeof hdr, cases[i].code);
      }
}

static void
test_outputs_untouched (void)
{
  Packet pkt;
  NtsChronyNtpData nd, before;
  guint32 n = 12345;
  char *name = (char *) "unchanged";

  memset (&nd, 0xab, sizeof nd);
  before = nd;
  build_ntp_data (&pkt, FALSE);
  g_assert_false (nts_chrony_decode_ntp_data (pkt.bytes, pkt.len - 1, SEQ, &nd, NULL));
  g_assert_cmpmem (&nd, sizeof nd, &before, sizeof before);

  build_n_sources (&pkt, 1);
  g_assert_false (nts_chrony_decode_n_sources (pkt.bytes, pkt.len, SEQ + 1, &n, NULL));
  g_assert_cmpuint (n, ==, 12345);

  build_source_name (&pkt, "x");
  g_assert_false (nts_chrony_decode_ntp_source_name (pkt.bytes, 30, SEQ, &name, NULL));
  g_assert_cmpstr (name, ==, "unchanged");
}

static void
test_validate_unknown_command (void)
{
  Packet pkt;
  g_autoptr(GError) error = NULL;

  build_tracking (&pkt);
  g_assert_false (nts_chrony_reply_validate (pkt.bytes, pkt.len, 44, SEQ, &error));
  g_assert_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (nts_chrony_reply_validate (NULL, 0, NTS_CHRONY_CMD_TRACKING, SEQ, &error));
  g_assert_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_TRUNCATED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/chrony-protocol/float/decode", test_float_decode);
  g_test_add_func ("/chrony-protocol/float/encode", test_float_encode);
  g_test_add_func ("/chrony-protocol/timespec", test_timespec);
  g_test_add_func ("/chrony-protocol/ip-addr", test_ip_addr);
  g_test_add_func ("/chrony-protocol/request/encode", test_request_encode);
  g_test_add_func ("/chrony-protocol/decode/n-sources", test_decode_n_sources);
  g_test_add_func ("/chrony-protocol/decode/source-data", test_decode_source_data);
  g_test_add_func ("/chrony-protocol/decode/tracking", test_decode_tracking);
  g_test_add_func ("/chrony-protocol/decode/ntp-data", test_decode_ntp_data);
  g_test_add_func ("/chrony-protocol/decode/auth-data", test_decode_auth_data);
  g_test_add_func ("/chrony-protocol/decode/source-name", test_decode_source_name);
  g_test_add_func ("/chrony-protocol/reject/truncated", test_reject_truncated);
  g_test_add_func ("/chrony-protocol/reject/oversized", test_reject_oversized);
  g_test_add_func ("/chrony-protocol/reject/header", test_reject_header);
  g_test_add_func ("/chrony-protocol/reject/status", test_reject_status);
  g_test_add_func ("/chrony-protocol/reject/outputs-untouched", test_outputs_untouched);
  g_test_add_func ("/chrony-protocol/reject/unknown-command", test_validate_unknown_command);

  return g_test_run ();
}
