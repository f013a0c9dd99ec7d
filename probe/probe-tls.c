/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TLS 1.3 for the NTS key exchange, and why a certificate was refused:
 * see probe-tls.h. */
#include "config.h"

#include "probe-tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <string.h>

#include "nts-ke.h"

/* RFC 8915 §3: TLS 1.3 or later, nothing older. */
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

gboolean
nts_probe_wait_fd (int fd, short events, gint64 deadline)
{
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = events };
      gint64 left = deadline - g_get_monotonic_time ();
      int r;

      if (left <= 0)
        return FALSE;
      r = poll (&pfd, 1, (int) ((left + 999) / 1000));
      if (r > 0)
        return TRUE;
      if (r < 0 && errno != EINTR)
        return TRUE; /* the next call on @fd reports it */
    }
}

gnutls_certificate_credentials_t
nts_probe_tls_credentials_new (const char *ca_pem, GError **error)
{
  gnutls_certificate_credentials_t credentials = NULL;
  int r;

  r = gnutls_certificate_allocate_credentials (&credentials);
  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS credentials: %s",
                   gnutls_strerror (r));
      return NULL;
    }
  if (ca_pem != NULL)
    {
      gnutls_datum_t pem = { (unsigned char *) ca_pem, (unsigned int) strlen (ca_pem) };

      r = gnutls_certificate_set_x509_trust_mem (credentials, &pem, GNUTLS_X509_FMT_PEM);
      if (r <= 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "\"ca\" holds no usable PEM certificate%s%s", r < 0 ? ": " : "",
                       r < 0 ? gnutls_strerror (r) : "");
          gnutls_certificate_free_credentials (credentials);
          return NULL;
        }
    }
  else
    {
      /* No system CAs is not our fault to report as a bad request: every
       * server then fails its certificate with "unknown issuer". */
      r = gnutls_certificate_set_x509_system_trust (credentials);
      if (r <= 0)
        g_printerr ("ntssetup-probe: no system CA certificates%s%s\n", r < 0 ? ": " : "",
                    r < 0 ? gnutls_strerror (r) : "");
    }
  return credentials;
}

static gboolean
is_ip_literal (const char *name)
{
  guint8 address[16];

  return inet_pton (AF_INET, name, address) == 1 || inet_pton (AF_INET6, name, address) == 1;
}

static char *
format_date (gint64 unix_time)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc (unix_time);

  return t != NULL ? g_date_time_format (t, "%Y-%m-%d") : g_strdup ("?");
}

/* "3 days", "5 hours", "2 minutes": how far apart two times are. */
static char *
format_span (gint64 seconds)
{
  if (seconds < 0)
    seconds = -seconds;
  if (seconds >= 2 * 86400)
    return g_strdup_printf ("%" G_GINT64_FORMAT " days", seconds / 86400);
  if (seconds >= 2 * 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT " hours", seconds / 3600);
  return g_strdup_printf ("%" G_GINT64_FORMAT " minutes", seconds / 60);
}

/* Subject, issuer and validity of the server's own certificate, when it
 * sent one. */
static void
describe_leaf (gnutls_session_t session, NtsProbeResult *result)
{
  const gnutls_datum_t *peers;
  unsigned int n = 0;
  gnutls_x509_crt_t leaf;
  gnutls_datum_t dn = { NULL, 0 };

  peers = gnutls_certificate_get_peers (session, &n);
  if (peers == NULL || n == 0 || gnutls_x509_crt_init (&leaf) < 0)
    return;
  if (gnutls_x509_crt_import (leaf, &peers[0], GNUTLS_X509_FMT_DER) == 0)
    {
      if (gnutls_x509_crt_get_dn3 (leaf, &dn, 0) == 0)
        {
          g_free (result->cert_subject);
          result->cert_subject = nts_probe_text_sanitize ((const char *) dn.data);
          gnutls_free (dn.data);
        }
      if (gnutls_x509_crt_get_issuer_dn3 (leaf, &dn, 0) == 0)
        {
          g_free (result->cert_issuer);
          result->cert_issuer = nts_probe_text_sanitize ((const char *) dn.data);
          gnutls_free (dn.data);
        }
      result->cert_not_before = MAX (gnutls_x509_crt_get_activation_time (leaf), 0);
      result->cert_not_after = MAX (gnutls_x509_crt_get_expiration_time (leaf), 0);
    }
  gnutls_x509_crt_deinit (leaf);
}

/* The peer's chain verified again against the same anchors and name with
 * time checks off: does it pass when only the dates are ignored? */
static gboolean
passes_without_time_checks (gnutls_session_t session, const char *name,
                            gnutls_certificate_credentials_t credentials)
{
  const gnutls_datum_t *peers;
  unsigned int n = 0, status = G_MAXUINT;
  gnutls_x509_crt_t *chain;
  gnutls_x509_trust_list_t anchors = NULL;
  gnutls_typed_vdata_st data[2] = {
    /* A textual IP address is matched against the IP address names. */
    { GNUTLS_DT_DNS_HOSTNAME, (unsigned char *) name, 0 },
    { GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *) GNUTLS_KP_TLS_WWW_SERVER, 0 },
  };
  unsigned int imported = 0;

  peers = gnutls_certificate_get_peers (session, &n);
  gnutls_certificate_get_trust_list (credentials, &anchors);
  if (peers == NULL || n == 0 || anchors == NULL)
    return FALSE;
  n = MIN (n, 16u);
  chain = g_new0 (gnutls_x509_crt_t, n);
  for (; imported < n; imported++)
    if (gnutls_x509_crt_init (&chain[imported]) < 0 ||
        gnutls_x509_crt_import (chain[imported], &peers[imported], GNUTLS_X509_FMT_DER) < 0)
      {
        if (chain[imported] != NULL)
          gnutls_x509_crt_deinit (chain[imported]);
        break;
      }
  if (imported == n &&
      gnutls_x509_trust_list_verify_crt2 (anchors, chain, n, data, G_N_ELEMENTS (data),
                                          GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                                            GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
                                          &status, NULL) < 0)
    status = G_MAXUINT;
  for (unsigned int i = 0; i < imported; i++)
    gnutls_x509_crt_deinit (chain[i]);
  g_free (chain);
  return imported == n && status == 0;
}

static void
diagnose_certificate (gnutls_session_t session, const char *name,
                      gnutls_certificate_credentials_t credentials, NtsProbeResult *result)
{
  unsigned int status = gnutls_session_get_verify_cert_status (session);
  g_autoptr(GString) message = g_string_new ("certificate ");
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guint problems = 0;

  describe_leaf (session, result);
  if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
    problems |= NTS_PROBE_CERT_UNKNOWN_ISSUER;
  if (status & GNUTLS_CERT_EXPIRED)
    problems |= NTS_PROBE_CERT_EXPIRED;
  if (status & GNUTLS_CERT_NOT_ACTIVATED)
    problems |= NTS_PROBE_CERT_NOT_YET_VALID;
  if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
    problems |= NTS_PROBE_CERT_NAME_MISMATCH;
  if (status & GNUTLS_CERT_REVOKED)
    problems |= NTS_PROBE_CERT_REVOKED;
  if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
    problems |= NTS_PROBE_CERT_INSECURE;
  if ((status &
       ~(unsigned) (GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_EXPIRED |
                    GNUTLS_CERT_NOT_ACTIVATED | GNUTLS_CERT_UNEXPECTED_OWNER |
                    GNUTLS_CERT_REVOKED | GNUTLS_CERT_INSECURE_ALGORITHM)) != 0 ||
      problems == 0)
    problems |= NTS_PROBE_CERT_OTHER;
  result->cert_problems = problems;
  result->clock_suspect = (problems & (NTS_PROBE_CERT_EXPIRED | NTS_PROBE_CERT_NOT_YET_VALID)) !=
                            0 &&
                          passes_without_time_checks (session, name, credentials);

  if (problems & NTS_PROBE_CERT_EXPIRED)
    {
      g_autofree char *span = format_span (now - result->cert_not_after);
      g_string_append_printf (message, "expired %s ago, ", span);
    }
  if (problems & NTS_PROBE_CERT_NOT_YET_VALID)
    {
      g_autofree char *span = format_span (result->cert_not_before - now);
      g_string_append_printf (message, "not valid for another %s, ", span);
    }
  if (problems & NTS_PROBE_CERT_UNKNOWN_ISSUER)
    g_string_append (message, "from an unknown issuer, ");
  if (problems & NTS_PROBE_CERT_NAME_MISMATCH)
    g_string_append_printf (message, "not for %s, ", name);
  if (problems & NTS_PROBE_CERT_REVOKED)
    g_string_append (message, "revoked, ");
  if (problems & NTS_PROBE_CERT_INSECURE)
    g_string_append (message, "signed with an insecure algorithm, ");
  if (problems & NTS_PROBE_CERT_OTHER)
    {
      gnutls_datum_t text = { NULL, 0 };

      if (gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509, &text, 0) == 0)
        {
          g_string_append_printf (message, "refused (%s), ", (const char *) text.data);
          gnutls_free (text.data);
        }
      else
        g_string_append (message, "refused, ");
    }
  g_string_truncate (message, message->len - 2);
  if (result->cert_subject != NULL)
    {
      g_autofree char *from = format_date (result->cert_not_before);
      g_autofree char *to = format_date (result->cert_not_after);

      g_string_append_printf (message, " (subject %s, issuer %s, valid %s to %s)",
                              result->cert_subject,
                              result->cert_issuer != NULL ? result->cert_issuer : "?", from, to);
    }
  if (result->clock_suspect)
    {
      g_autofree char *today = format_date (now);
      g_string_append_printf (message,
                              "; it passes with time checks off: our clock (%s) or the "
                              "certificate's dates are wrong",
                              today);
    }
  nts_probe_result_set_phase (result, NTS_PROBE_CERTIFICATE, "%s", message->str);
}

gnutls_session_t
nts_probe_tls_handshake (int fd, const char *name, gnutls_certificate_credentials_t credentials,
                         gboolean no_cert_time_check, gint64 deadline, NtsProbeResult *result)
{
  gnutls_session_t session = NULL;
  gnutls_datum_t alpn = { (unsigned char *) NTS_KE_ALPN, sizeof NTS_KE_ALPN - 1 };
  gnutls_datum_t chosen = { NULL, 0 };
  int r;

  r = gnutls_init (&session, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS);
  if (r < 0)
    {
      nts_probe_result_set_phase (result, NTS_PROBE_TLS, "TLS session: %s", gnutls_strerror (r));
      return NULL;
    }
  /* SNI only for a name (RFC 6066 §3 forbids literal addresses in it); the
   * name check either way, as chronyd does. */
  if (!is_ip_literal (name))
    r = gnutls_server_name_set (session, GNUTLS_NAME_DNS, name, strlen (name));
  if (r >= 0)
    r = gnutls_priority_set_direct (session, PRIORITY, NULL);
  if (r >= 0)
    r = gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE, credentials);
  if (r >= 0)
    r = gnutls_alpn_set_protocols (session, &alpn, 1, 0);
  if (r < 0)
    {
      nts_probe_result_set_phase (result, NTS_PROBE_TLS, "TLS session: %s", gnutls_strerror (r));
      gnutls_deinit (session);
      return NULL;
    }
  gnutls_session_set_verify_cert (session, name,
                                  no_cert_time_check
                                    ? GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                                        GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS
                                    : 0);
  gnutls_transport_set_int (session, fd);

  do
    {
      r = gnutls_handshake (session);
      if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
        {
          short events = gnutls_record_get_direction (session) == 0 ? POLLIN : POLLOUT;

          if (!nts_probe_wait_fd (fd, events, deadline))
            {
              nts_probe_result_set_phase (result, NTS_PROBE_TLS,
                                          "TLS handshake not finished in time");
              gnutls_deinit (session);
              return NULL;
            }
        }
      else if (r < 0 && !gnutls_error_is_fatal (r))
        r = GNUTLS_E_AGAIN; /* a warning alert: go on */
    }
  while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);

  if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
    {
      diagnose_certificate (session, name, credentials, result);
      gnutls_deinit (session);
      return NULL;
    }
  if (r < 0)
    {
      if (r == GNUTLS_E_FATAL_ALERT_RECEIVED)
        nts_probe_result_set_phase (result, NTS_PROBE_TLS,
                                    "TLS handshake failed: the server sent alert \"%s\"",
                                    gnutls_alert_get_name (gnutls_alert_get (session)));
      else
        nts_probe_result_set_phase (result, NTS_PROBE_TLS, "TLS handshake failed: %s",
                                    gnutls_strerror (r));
      gnutls_deinit (session);
      return NULL;
    }

  describe_leaf (session, result);
  if (gnutls_alpn_get_selected_protocol (session, &chosen) < 0 ||
      chosen.size != sizeof NTS_KE_ALPN - 1 ||
      memcmp (chosen.data, NTS_KE_ALPN, chosen.size) != 0)
    {
      nts_probe_result_set_phase (result, NTS_PROBE_KE_PROTOCOL,
                                  "TLS fine, but the server did not choose ALPN %s: not an "
                                  "NTS-KE server",
                                  NTS_KE_ALPN);
      gnutls_deinit (session);
      return NULL;
    }
  return session;
}

gboolean
nts_probe_tls_send (gnutls_session_t session, int fd, const guint8 *data, gsize length,
                    gint64 deadline, GError **error)
{
  gsize sent = 0;

  while (sent < length)
    {
      ssize_t r = gnutls_record_send (session, data + sent, length - sent);

      if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
        {
          if (!nts_probe_wait_fd (fd, POLLOUT, deadline))
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "send timed out");
              return FALSE;
            }
          continue;
        }
      if (r < 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", gnutls_strerror ((int) r));
          return FALSE;
        }
      sent += (gsize) r;
    }
  return TRUE;
}

gssize
nts_probe_tls_recv (gnutls_session_t session, int fd, guint8 *buffer, gsize size,
                    gint64 deadline, GError **error)
{
  for (;;)
    {
      ssize_t r = gnutls_record_recv (session, buffer, size);

      if (r >= 0)
        return r;
      if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
        {
          if (!nts_probe_wait_fd (fd, POLLIN, deadline))
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no answer in time");
              return -1;
            }
          continue;
        }
      /* A server that closes without close_notify has still said all it
       * had to say: whether that was enough is the parser's question. */
      if (r == GNUTLS_E_PREMATURE_TERMINATION)
        return 0;
      if (!gnutls_error_is_fatal ((int) r))
        continue;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", gnutls_strerror ((int) r));
      return -1;
    }
}
