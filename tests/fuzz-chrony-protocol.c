/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: arbitrary bytes into every chronyd reply decoder.
 *
 * The decoders take bytes from a socket; this checks they never read out
 * of bounds, never hit undefined behaviour, and leave outputs alone on
 * failure. The sequence number is taken from the input itself so that
 * inputs can get past the sequence check and into the field decoding.
 * A few properties are checked on the way: float and timespec conversions
 * round-trip, and an accepted reply has exactly its format's length.
 *
 * Build and run (clang with libclang-rt, as on the CI machine):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iservice/chrony service/chrony/chrony-protocol.c tests/fuzz-chrony-protocol.c \
 *     $(pkg-config --cflags --libs glib-2.0) -o fuzz-chrony-protocol
 *   ./fuzz-chrony-protocol -max_total_time=60 \
 *     -max_len=1024 corpus-dir tests/fuzz-corpus/chrony-protocol
 * (the first directory collects new inputs; the seeds stay untouched). The
 * seeds are one valid reply per command, a chrony 4.6 NTP_DATA2, and an
 * error reply.
 *
 * Meson builds it with fuzz-replay.c's main() too (fuzz.h), to replay
 * the seeds or a crash file under gcc. */
#include "chrony-protocol.h"
#include "fuzz.h"

static guint32
read_u32 (const uint8_t *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static void
check_float (guint32 raw)
{
  double value = nts_chrony_float_decode (raw);
  double back = nts_chrony_float_decode (nts_chrony_float_encode (value));
  gint32 coef = (gint32) (raw & 0x1ffffff);
  guint32 exp = raw >> 25;

  /* Every value the format holds re-encodes exactly, except -2^24 * 2^38:
   * the coefficient's most negative value at the largest exponent has no
   * positive counterpart, so the encoder saturates it. */
  if (back != value && !(exp == 63 && coef == 0x1000000))
    abort ();
}

static void
check_timespec (const uint8_t *p)
{
  NtsChronyTimespec ts, back;
  guint8 bytes[12];

  nts_chrony_timespec_decode (p, &ts);
  if (ts.tv_nsec >= 1000000000u)
    abort ();
  /* A high word of 0x7fffffff is the format's "none" marker, so seconds
   * from 0x7fffffff00000000 on (a carry from nanoseconds can get there)
   * have no encoding; everything else round-trips. */
  if (((guint64) ts.tv_sec >> 32) == 0x7fffffff)
    return;
  nts_chrony_timespec_encode (&ts, bytes);
  nts_chrony_timespec_decode (bytes, &back);
  if (back.tv_sec != ts.tv_sec || back.tv_nsec != ts.tv_nsec)
    abort ();
}

static void
use_addr (const NtsChronyIpAddr *addr)
{
  g_autofree char *s = nts_chrony_ip_addr_to_string (addr);
  if (s == NULL || !g_utf8_validate (s, -1, NULL))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* An exact-size heap copy: a read one byte past the end is caught. */
  g_autofree guint8 *buf = g_memdup2 (data, size);
  guint32 seq = size >= 20 ? read_u32 (data + 16) : 0;
  guint32 n = 0xfeedface;
  NtsChronySourceData sd;
  NtsChronyTracking tr;
  NtsChronyNtpData nd;
  NtsChronyAuthData ad;
  char *name = NULL;
  const NtsChronyCommand commands[] = {
    NTS_CHRONY_CMD_N_SOURCES, NTS_CHRONY_CMD_SOURCE_DATA, NTS_CHRONY_CMD_TRACKING,
    NTS_CHRONY_CMD_NTP_DATA, NTS_CHRONY_CMD_NTP_SOURCE_NAME, NTS_CHRONY_CMD_AUTH_DATA,
  };

  if (size >= 4)
    check_float (read_u32 (data));
  if (size >= 12)
    check_timespec (data);

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok = nts_chrony_reply_validate (buf, size, commands[i], seq, &error);

      /* Exactly one of: success, or an error in our domain with a message. */
      if (ok == (error != NULL))
        abort ();
      if (!ok && (error->domain != NTS_CHRONY_ERROR || error->message == NULL))
        abort ();
      if (ok && size != 32 && size != 52 && size != 76 && size != 104 &&
          size != 152 && size != 172 && size != 284)
        abort ();
    }

  if (nts_chrony_decode_n_sources (buf, size, seq, &n, NULL))
    (void) n;
  else if (n != 0xfeedface)
    abort ();

  if (nts_chrony_decode_source_data (buf, size, seq, &sd, NULL))
    use_addr (&sd.addr);
  if (nts_chrony_decode_tracking (buf, size, seq, &tr, NULL))
    use_addr (&tr.ip_addr);
  if (nts_chrony_decode_ntp_data (buf, size, seq, &nd, NULL))
    {
      use_addr (&nd.remote_addr);
      use_addr (&nd.local_addr);
      if (nd.authenticated != ((nd.flags & 0x8000) != 0))
        abort ();
    }
  if (nts_chrony_decode_auth_data (buf, size, seq, &ad, NULL))
    (void) ad;
  if (nts_chrony_decode_ntp_source_name (buf, size, seq, &name, NULL))
    {
      if (name == NULL || strlen (name) > 255 || !g_utf8_validate (name, -1, NULL))
        abort ();
      g_free (name);
    }
  else if (name != NULL)
    abort ();

  /* The address parser sees text too. */
  if (size < 64)
    {
      g_autofree char *text = g_strndup ((const char *) data, size);
      NtsChronyIpAddr addr;
      if (nts_chrony_ip_addr_from_string (text, &addr))
        use_addr (&addr);
    }

  return 0;
}
