/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NTS-KE records of RFC 8915 §4: see nts-ke.h. */
#include "config.h"

#include "nts-ke.h"

#include <arpa/inet.h>
#include <string.h>

#include "probe-wire.h"

#define RECORD_CRITICAL 0x8000u

enum {
  RECORD_END_OF_MESSAGE = 0,
  RECORD_NEXT_PROTOCOL = 1,
  RECORD_ERROR = 2,
  RECORD_WARNING = 3,
  RECORD_AEAD = 4,
  RECORD_NEW_COOKIE = 5,
  RECORD_SERVER = 6,
  RECORD_PORT = 7,
};

#define EXPORTER_LABEL "EXPORTER-network-time-security"

G_DEFINE_QUARK (nts_ke_error_quark, nts_ke_error)

static void
put16 (GByteArray *out, guint value)
{
  guint8 bytes[2] = { (guint8) (value >> 8), (guint8) value };

  g_byte_array_append (out, bytes, 2);
}

static void
put_record (GByteArray *out, guint type, const guint8 *body, guint16 length)
{
  put16 (out, type);
  put16 (out, length);
  if (length > 0)
    g_byte_array_append (out, body, length);
}

GBytes *
nts_ke_request_build (void)
{
  GByteArray *out = g_byte_array_new ();
  const guint8 ntpv4[2] = { 0, NTS_KE_PROTOCOL_NTPV4 };
  const guint8 aead[2] = { 0, NTS_KE_AEAD_AES_SIV_CMAC_256 };

  put_record (out, RECORD_CRITICAL | RECORD_NEXT_PROTOCOL, ntpv4, 2);
  put_record (out, RECORD_CRITICAL | RECORD_AEAD, aead, 2);
  put_record (out, RECORD_CRITICAL | RECORD_END_OF_MESSAGE, NULL, 0);
  return g_byte_array_free_to_bytes (out);
}

NtsKeResponse *
nts_ke_response_new (void)
{
  NtsKeResponse *response = g_new0 (NtsKeResponse, 1);

  response->cookies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  response->port = -1;
  response->error_code = -1;
  response->warning_code = -1;
  return response;
}

void
nts_ke_response_free (NtsKeResponse *response)
{
  if (response == NULL)
    return;
  g_ptr_array_unref (response->cookies);
  g_free (response->server);
  g_free (response);
}

static guint16
get16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

/* A plain host name (letters, digits, '-', labels of 1..63 separated by
 * single dots, an optional final dot) or an IPv4/IPv6 literal: what we
 * would hand to getaddrinfo and report, nothing else. */
static gboolean
server_name_ok (const guint8 *body, gsize length)
{
  char name[NTS_KE_MAX_SERVER_NAME + 1];
  guint8 address[16];
  gsize label = 0;

  if (length == 0 || length > NTS_KE_MAX_SERVER_NAME)
    return FALSE;
  memcpy (name, body, length);
  name[length] = '\0';
  if (memchr (name, '\0', length) != NULL)
    return FALSE;
  if (inet_pton (AF_INET, name, address) == 1 || inet_pton (AF_INET6, name, address) == 1)
    return TRUE;
  for (gsize i = 0; i < length; i++)
    {
      char c = name[i];

      if (c == '.')
        {
          if (label == 0)
            return FALSE;
          label = 0;
          continue;
        }
      if (!g_ascii_isalnum (c) && c != '-')
        return FALSE;
      if ((c == '-' && label == 0) || ++label > 63)
        return FALSE;
    }
  return TRUE;
}

static gboolean fail (GError **error, NtsKeError code, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, NtsKeError code, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, NTS_KE_ERROR, code, message);
  return FALSE;
}

/* One record's body, checked against what RFC 8915 §4.1 says of its type.
 * Returns FALSE with @error on a fault. */
static gboolean
take_record (NtsKeResponse *response, guint type, gboolean critical, const guint8 *body,
             guint16 length, GError **error)
{
  switch (type)
    {
    case RECORD_NEXT_PROTOCOL:
      if (response->ntpv4)
        return fail (error, NTS_KE_ERROR_MALFORMED, "a second Next Protocol record");
      if (!critical)
        return fail (error, NTS_KE_ERROR_MALFORMED, "Next Protocol record not critical");
      /* The server answers with the one protocol it chose (§4.1.2). */
      if (length != 2)
        return fail (error, NTS_KE_ERROR_MALFORMED,
                     "Next Protocol record of %u bytes, not one protocol", length);
      if (get16 (body) != NTS_KE_PROTOCOL_NTPV4)
        return fail (error, NTS_KE_ERROR_UNSUPPORTED, "the server chose protocol %u, not NTPv4",
                     get16 (body));
      response->ntpv4 = TRUE;
      return TRUE;

    case RECORD_ERROR:
    case RECORD_WARNING:
      if (length != 2)
        return fail (error, NTS_KE_ERROR_MALFORMED, "%s record of %u bytes, not 2",
                     type == RECORD_ERROR ? "Error" : "Warning", length);
      if (type == RECORD_ERROR)
        response->error_code = get16 (body);
      else
        response->warning_code = get16 (body);
      return TRUE;

    case RECORD_AEAD:
      if (response->aead != 0)
        return fail (error, NTS_KE_ERROR_MALFORMED, "a second AEAD record");
      if (length != 2)
        return fail (error, NTS_KE_ERROR_MALFORMED, "AEAD record of %u bytes, not one algorithm",
                     length);
      if (get16 (body) != NTS_KE_AEAD_AES_SIV_CMAC_256)
        return fail (error, NTS_KE_ERROR_UNSUPPORTED,
                     "the server chose AEAD %u, not AEAD_AES_SIV_CMAC_256 (15)", get16 (body));
      response->aead = NTS_KE_AEAD_AES_SIV_CMAC_256;
      return TRUE;

    case RECORD_NEW_COOKIE:
      if (++response->cookie_records > NTS_KE_MAX_COOKIE_RECORDS)
        return fail (error, NTS_KE_ERROR_MALFORMED, "more than %u cookies",
                     NTS_KE_MAX_COOKIE_RECORDS);
      if (length == 0 || length > NTS_PROBE_MAX_COOKIE_LEN)
        return fail (error, NTS_KE_ERROR_MALFORMED, "a cookie of %u bytes (1..%u allowed)",
                     length, NTS_PROBE_MAX_COOKIE_LEN);
      /* An NTP extension field is a multiple of 4 bytes long; a cookie that
       * is not would need padding the server could not tell from the
       * cookie. chronyd skips such cookies; so do we. */
      if (length % 4 == 0 && response->cookies->len < NTS_PROBE_MAX_COOKIES)
        g_ptr_array_add (response->cookies, nts_probe_secret_bytes_new (body, length));
      return TRUE;

    case RECORD_SERVER:
      if (response->server != NULL)
        return fail (error, NTS_KE_ERROR_MALFORMED, "a second NTPv4 Server record");
      if (!server_name_ok (body, length))
        return fail (error, NTS_KE_ERROR_MALFORMED,
                     "NTPv4 Server record is not a host name or IP address");
      response->server = g_strndup ((const char *) body, length);
      return TRUE;

    case RECORD_PORT:
      if (response->port_record)
        return fail (error, NTS_KE_ERROR_MALFORMED, "a second NTPv4 Port record");
      if (length != 2)
        return fail (error, NTS_KE_ERROR_MALFORMED, "bad NTPv4 Port record");
      response->port_record = TRUE;
      /* Port 0 means nothing on the wire; chronyd 4.3 sends it when it
       * serves no NTP (`port 0`), and its client then uses 123, as if
       * there were no record: so do we. */
      if (get16 (body) != 0)
        response->port = get16 (body);
      return TRUE;

    default:
      if (critical)
        return fail (error, NTS_KE_ERROR_MALFORMED, "unknown critical record type %u", type);
      return TRUE;
    }
}

NtsKeResponse *
nts_ke_response_parse (const guint8 *data, gsize length, NtsKeResponse **partial, GError **error)
{
  g_autoptr(NtsKeResponse) response = nts_ke_response_new ();
  gboolean end = FALSE;
  gsize at = 0;
  GError *local = NULL;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (length > NTS_KE_MAX_RESPONSE)
    {
      fail (&local, NTS_KE_ERROR_MALFORMED, "response over %u bytes", NTS_KE_MAX_RESPONSE);
      goto out;
    }

  while (!end)
    {
      guint type, body_length;
      gboolean critical;

      if (length - at < 4)
        {
          fail (&local, NTS_KE_ERROR_TRUNCATED,
                at == length ? "no End of Message record" : "response ends inside a record");
          goto out;
        }
      critical = (get16 (data + at) & RECORD_CRITICAL) != 0;
      type = get16 (data + at) & ~RECORD_CRITICAL;
      body_length = get16 (data + at + 2);
      at += 4;
      if (length - at < body_length)
        {
          fail (&local, NTS_KE_ERROR_TRUNCATED, "response ends inside a record");
          goto out;
        }
      if (type == RECORD_END_OF_MESSAGE)
        {
          /* RFC 8915 wants it critical; chronyd does not check, and a
           * probe that refuses what chronyd accepts would mislead. */
          if (body_length != 0)
            {
              fail (&local, NTS_KE_ERROR_MALFORMED, "bad End of Message record");
              goto out;
            }
          end = TRUE;
        }
      else if (!take_record (response, type, critical, data + at, (guint16) body_length, &local))
        goto out;
      at += body_length;
    }

  /* The server closes after its one message (§4): more is a fault. */
  if (at != length)
    fail (&local, NTS_KE_ERROR_MALFORMED, "%" G_GSIZE_FORMAT " bytes after End of Message",
          length - at);
  else if (response->error_code >= 0)
    fail (&local, NTS_KE_ERROR_SERVER_ERROR, "the server sent Error %d%s", response->error_code,
          response->error_code == 0   ? " (unrecognized critical record)"
          : response->error_code == 1 ? " (bad request)"
          : response->error_code == 2 ? " (internal server error)"
                                      : "");
  else if (response->warning_code >= 0)
    fail (&local, NTS_KE_ERROR_SERVER_WARNING, "the server sent Warning %d",
          response->warning_code);
  else if (!response->ntpv4)
    fail (&local, NTS_KE_ERROR_MALFORMED, "no Next Protocol record");
  else if (response->aead == 0)
    fail (&local, NTS_KE_ERROR_MALFORMED, "no AEAD record");
  else if (response->cookies->len == 0)
    fail (&local, NTS_KE_ERROR_UNSUPPORTED,
          response->cookie_records == 0 ? "no cookies" : "no cookie of a usable length");

out:
  if (local != NULL)
    {
      if (partial != NULL)
        *partial = g_steal_pointer (&response);
      g_propagate_error (error, local);
      return NULL;
    }
  return g_steal_pointer (&response);
}

gboolean
nts_ke_export_keys (gnutls_session_t session, guint16 aead, guint8 c2s[32], guint8 s2c[32],
                    GError **error)
{
  /* RFC 8915 §5.1: the protocol id, the AEAD id, 0 for c2s or 1 for s2c. */
  char context[5] = { 0, NTS_KE_PROTOCOL_NTPV4, (char) (aead >> 8), (char) aead, 0 };
  int r;

  if (aead != NTS_KE_AEAD_AES_SIV_CMAC_256)
    return fail (error, NTS_KE_ERROR_KEYS, "no keys for AEAD %u", aead);
  r = gnutls_prf_rfc5705 (session, strlen (EXPORTER_LABEL), EXPORTER_LABEL, sizeof context,
                          context, 32, (char *) c2s);
  if (r == 0)
    {
      context[4] = 1;
      r = gnutls_prf_rfc5705 (session, strlen (EXPORTER_LABEL), EXPORTER_LABEL, sizeof context,
                              context, 32, (char *) s2c);
    }
  if (r < 0)
    {
      gnutls_memset (c2s, 0, 32);
      gnutls_memset (s2c, 0, 32);
      return fail (error, NTS_KE_ERROR_KEYS, "TLS exporter: %s", gnutls_strerror (r));
    }
  return TRUE;
}
