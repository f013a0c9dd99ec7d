/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sample requests and answers of ntssetup-probe's wire format
 * (probe/probe-wire.h), shared by tests/test-probe-wire.c, which checks
 * them and writes them out as the fuzzer's seeds, and by
 * tests/fuzz-probe-wire.c, which parses answers against the same request.
 * So the seeds are made by the code under test, never by hand, and stay
 * answers the fuzzer's request accepts. */
#pragma once

#include <string.h>

#include "probe-wire.h"

/* The request the fuzzer checks answers against: three servers, one with
 * the default port, secrets asked for when @secrets. */
static inline NtsProbeRequest *
nts_sample_request (gboolean secrets)
{
  NtsProbeRequest *request = nts_probe_request_new ();

  nts_probe_request_add (request, "ntsa.example", 0);
  nts_probe_request_add (request, "ntsb.example", 4460);
  nts_probe_request_add (request, "192.0.2.7", 4461);
  request->timeout_ms = 3000;
  request->secrets = secrets;
  return request;
}

/* A result of phase OK for @server, @port, with everything a successful
 * exchange reports; with its keys and two cookies when @secrets. */
static inline NtsProbeResult *
nts_sample_ok (const char *server, guint16 port, const char *address, gboolean secrets)
{
  NtsProbeResult *result = nts_probe_result_new (server, port);

  g_free (result->message);
  result->message = g_strdup_printf ("%s: NTS works, stratum 2, 1.5 ms", server);
  result->address = g_strdup (address);
  result->cert_subject = g_strdup_printf ("CN=%s", server);
  result->cert_issuer = g_strdup ("CN=ntssetup test CA");
  result->cert_not_before = 1700000000;
  result->cert_not_after = 1900000000;
  result->aead = 15;
  result->ntp_server = g_strdup (address);
  result->ntp_port = 123;
  result->ke_cookies = 8;
  result->ntp_cookies = 1;
  result->stratum = 2;
  result->rtt = 0.0015;
  result->offset = -0.00025;
  for (guint i = 0; i < NTS_PROBE_N_TIMES; i++)
    result->times[i] = 0.001 * (i + 1);
  if (secrets)
    {
      result->has_secrets = TRUE;
      for (guint i = 0; i < NTS_PROBE_KEY_LEN; i++)
        {
          result->c2s[i] = i;
          result->s2c[i] = 0xff - i;
        }
      result->cookies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      for (guint c = 0; c < 2; c++)
        {
          guint8 cookie[100];

          memset (cookie, 'a' + c, sizeof cookie);
          g_ptr_array_add (result->cookies, nts_probe_secret_bytes_new (cookie, sizeof cookie));
        }
      result->ke_time = 1750000000.25;
    }
  return result;
}

/* Answers to nts_sample_request(): @kind 0, every server fine (with
 * secrets when @secrets); 1, a certificate refused, a kiss-o'-death, and
 * a second name of the first server's address whose NTS NAK'd. */
static inline GPtrArray *
nts_sample_results (guint kind, gboolean secrets)
{
  GPtrArray *results = g_ptr_array_new_with_free_func ((GDestroyNotify) nts_probe_result_free);
  NtsProbeResult *result;

  if (kind == 0)
    {
      g_ptr_array_add (results, nts_sample_ok ("ntsa.example", 0, "192.0.2.5", secrets));
      g_ptr_array_add (results, nts_sample_ok ("ntsb.example", 4460, "2001:db8::5", secrets));
      g_ptr_array_add (results, nts_sample_ok ("192.0.2.7", 4461, "192.0.2.7", secrets));
      return results;
    }

  result = nts_probe_result_new ("ntsa.example", 0);
  result->phase = NTS_PROBE_CERTIFICATE;
  g_free (result->message);
  result->message = g_strdup ("certificate of ntsa.example expired 3 days ago");
  result->address = g_strdup ("192.0.2.5");
  result->cert_problems = NTS_PROBE_CERT_EXPIRED | NTS_PROBE_CERT_NAME_MISMATCH;
  result->cert_subject = g_strdup ("CN=other.example");
  result->cert_issuer = g_strdup ("CN=ntssetup test CA");
  result->cert_not_before = 1600000000;
  result->cert_not_after = 1700000000;
  result->clock_suspect = TRUE;
  result->times[NTS_PROBE_TIME_DNS] = 0.002;
  result->times[NTS_PROBE_TIME_TCP] = 0.0001;
  result->times[NTS_PROBE_TIME_TLS] = 0.004;
  g_ptr_array_add (results, result);

  result = nts_probe_result_new ("ntsb.example", 4460);
  result->phase = NTS_PROBE_NAK;
  g_free (result->message);
  result->message = g_strdup ("the server refused the cookie (NTS NAK)");
  result->address = g_strdup ("192.0.2.5");
  result->same_address_as = g_strdup ("ntsa.example");
  result->aead = 15;
  result->ntp_server = g_strdup ("192.0.2.5");
  result->ntp_port = 123;
  result->ke_cookies = 8;
  result->ke_warning = 1;
  strcpy (result->kiss, "NTSN");
  result->times[NTS_PROBE_TIME_NTP] = 0.5;
  g_ptr_array_add (results, result);

  result = nts_probe_result_new ("192.0.2.7", 4461);
  result->phase = NTS_PROBE_KISS;
  g_free (result->message);
  result->message = g_strdup ("the server answered RATE: asked too often");
  result->address = g_strdup ("192.0.2.7");
  result->ke_error = 2;
  result->stratum = 0;
  strcpy (result->kiss, "RATE");
  g_ptr_array_add (results, result);
  return results;
}
