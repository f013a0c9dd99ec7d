/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntssetup-probe's wire format (probe/probe-wire.c): requests and answers
 * survive a round trip field for field; every kind of bad message is
 * refused whole, with an error that says what was wrong; the framing
 * copes with short reads and writes and refuses a message cut short or
 * over its bound.
 *
 * Run with --write-corpus DIR, it writes the fuzzer's seeds
 * (tests/fuzz-corpus/probe-wire/) from the samples of
 * tests/probe-wire-samples.h; /probe-wire/corpus checks the tree's seeds
 * are exactly those. */

#include "probe-wire.h"
#include "probe-wire-samples.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Helpers. */

static void
assert_results_equal (const NtsProbeResult *a, const NtsProbeResult *b, gboolean secrets)
{
  g_assert_cmpstr (a->server, ==, b->server);
  g_assert_cmpuint (a->ke_port, ==, b->ke_port);
  g_assert_cmpint (a->phase, ==, b->phase);
  g_assert_cmpstr (a->message, ==, b->message);
  g_assert_cmpstr (a->address, ==, b->address);
  g_assert_cmpstr (a->same_address_as, ==, b->same_address_as);
  g_assert_cmpuint (a->cert_problems, ==, b->cert_problems);
  g_assert_cmpstr (a->cert_subject, ==, b->cert_subject);
  g_assert_cmpstr (a->cert_issuer, ==, b->cert_issuer);
  g_assert_cmpint (a->cert_not_before, ==, b->cert_not_before);
  g_assert_cmpint (a->cert_not_after, ==, b->cert_not_after);
  g_assert_cmpint (a->clock_suspect, ==, b->clock_suspect);
  g_assert_cmpuint (a->aead, ==, b->aead);
  g_assert_cmpstr (a->ntp_server, ==, b->ntp_server);
  g_assert_cmpuint (a->ntp_port, ==, b->ntp_port);
  g_assert_cmpuint (a->ke_cookies, ==, b->ke_cookies);
  g_assert_cmpint (a->ke_error, ==, b->ke_error);
  g_assert_cmpint (a->ke_warning, ==, b->ke_warning);
  g_assert_cmpuint (a->ntp_cookies, ==, b->ntp_cookies);
  g_assert_cmpuint (a->stratum, ==, b->stratum);
  g_assert_cmpfloat (a->rtt, ==, b->rtt);
  g_assert_cmpfloat (a->offset, ==, b->offset);
  g_assert_cmpstr (a->kiss, ==, b->kiss);
  for (guint i = 0; i < NTS_PROBE_N_TIMES; i++)
    g_assert_cmpfloat (a->times[i], ==, b->times[i]);
  g_assert_cmpint (a->has_secrets && secrets, ==, b->has_secrets);
  if (b->has_secrets)
    {
      g_assert_cmpmem (a->c2s, sizeof a->c2s, b->c2s, sizeof b->c2s);
      g_assert_cmpmem (a->s2c, sizeof a->s2c, b->s2c, sizeof b->s2c);
      g_assert_cmpfloat (a->ke_time, ==, b->ke_time);
      g_assert_cmpuint (a->cookies->len, ==, b->cookies->len);
      for (guint i = 0; i < a->cookies->len; i++)
        g_assert_true (g_bytes_equal (a->cookies->pdata[i], b->cookies->pdata[i]));
    }
  else
    g_assert_null (b->cookies);
}

/* @dict (a{sv}) with @key set to @value (taken: floating or a reference
 * handed over), or removed when NULL. */
static GVariant *
dict_with (GVariant *dict, const char *key, GVariant *value)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) owned = value != NULL ? g_variant_take_ref (value) : NULL;
  GVariantIter iter;
  const char *k;
  GVariant *v;

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &k, &v))
    {
      if (strcmp (k, key) != 0)
        g_variant_builder_add (&builder, "{sv}", k, v);
      g_variant_unref (v);
    }
  if (owned != NULL)
    g_variant_builder_add (&builder, "{sv}", key, owned);
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static GBytes *
variant_bytes (GVariant *value)
{
  return g_variant_get_data_as_bytes (value);
}

/* An answer whose result @index has @key set to @value (NULL: removed). */
static GBytes *
answer_with (GPtrArray *results, guint index, const char *key, GVariant *value)
{
  g_auto(GVariantBuilder) list = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aa{sv}"));
  g_auto(GVariantBuilder) dict = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) sunk = value != NULL ? g_variant_ref_sink (value) : NULL;
  g_autoptr(GVariant) answer = NULL;

  for (guint i = 0; i < results->len; i++)
    {
      g_autoptr(GVariant) item = g_variant_ref_sink (
        nts_probe_result_to_variant (results->pdata[i], TRUE));

      if (i == index)
        {
          g_autoptr(GVariant) changed = dict_with (item, key,
                                                   sunk ? g_variant_ref (sunk) : NULL);
          g_variant_builder_add_value (&list, changed);
        }
      else
        g_variant_builder_add_value (&list, item);
    }
  g_variant_builder_add (&dict, "{sv}", "version",
                         g_variant_new_uint32 (NTS_PROBE_WIRE_VERSION));
  g_variant_builder_add (&dict, "{sv}", "results", g_variant_builder_end (&list));
  answer = g_variant_ref_sink (g_variant_builder_end (&dict));
  return variant_bytes (answer);
}

static void
assert_answer_refused (GBytes *bytes, const NtsProbeRequest *request, const char *reason)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = nts_probe_answer_parse (bytes, request, &error);

  g_assert_null (results);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_str_has_prefix (error->message, "probe answer"));
  if (strstr (error->message, reason) == NULL)
    g_error ("expected \"%s\" in: %s", reason, error->message);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

static void
assert_request_refused (GBytes *bytes, const char *reason)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsProbeRequest) request = nts_probe_request_parse (bytes, &error);

  g_assert_null (request);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_str_has_prefix (error->message, "probe request"));
  if (strstr (error->message, reason) == NULL)
    g_error ("expected \"%s\" in: %s", reason, error->message);
}

/* Round trips. */

static void
test_phase_strings (void)
{
  NtsProbePhase phase;

  for (guint i = 0; i < NTS_PROBE_N_PHASES; i++)
    {
      g_assert_true (nts_probe_phase_from_string (nts_probe_phase_to_string (i), &phase));
      g_assert_cmpint (phase, ==, i);
    }
  g_assert_cmpstr (nts_probe_phase_to_string (NTS_PROBE_NTP_TIMEOUT), ==, "ntp-timeout");
  g_assert_false (nts_probe_phase_from_string ("OK", &phase));
  g_assert_false (nts_probe_phase_from_string ("", &phase));
  g_assert_false (nts_probe_phase_from_string (NULL, &phase));
}

static void
test_request_round_trip (void)
{
  g_autoptr(NtsProbeRequest) request = nts_sample_request (TRUE);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(NtsProbeRequest) back = NULL;
  g_autoptr(GError) error = NULL;

  request->ca_pem = g_strdup ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  request->no_cert_time_check = TRUE;
  bytes = nts_probe_request_serialize (request);
  back = nts_probe_request_parse (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->servers->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      const NtsProbeTarget *a = request->servers->pdata[i], *b = back->servers->pdata[i];
      g_assert_cmpstr (a->name, ==, b->name);
      g_assert_cmpuint (a->port, ==, b->port);
    }
  g_assert_cmpstr (back->ca_pem, ==, request->ca_pem);
  g_assert_cmpuint (back->timeout_ms, ==, 3000);
  g_assert_true (back->secrets);
  g_assert_true (back->no_cert_time_check);
}

static void
test_request_defaults (void)
{
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(NtsProbeRequest) request = NULL;
  g_autoptr(GError) error = NULL;

  /* Only "servers", and a key of a later version, which is ignored. */
  dict = g_variant_ref_sink (
    g_variant_new_parsed ("{'servers': <[('nts.example', uint16 0)]>, 'colour': <'blue'>}"));
  bytes = variant_bytes (dict);
  request = nts_probe_request_parse (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (request->servers->len, ==, 1);
  g_assert_cmpuint (request->timeout_ms, ==, NTS_PROBE_DEFAULT_TIMEOUT_MS);
  g_assert_null (request->ca_pem);
  g_assert_false (request->secrets);
  /* Certificates' dates are checked unless asked otherwise. */
  g_assert_false (request->no_cert_time_check);
}

static void
check_answer_round_trip (guint kind, gboolean secrets_made, gboolean secrets_asked)
{
  g_autoptr(NtsProbeRequest) request = nts_sample_request (secrets_asked);
  g_autoptr(GPtrArray) results = nts_sample_results (kind, secrets_made);
  g_autoptr(GBytes) bytes = nts_probe_answer_serialize (results);
  g_autoptr(GPtrArray) back = NULL;
  g_autoptr(GError) error = NULL;

  back = nts_probe_answer_parse (bytes, request, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->len, ==, results->len);
  for (guint i = 0; i < results->len; i++)
    assert_results_equal (results->pdata[i], back->pdata[i], TRUE);
}

static void
test_answer_round_trip (void)
{
  check_answer_round_trip (0, TRUE, TRUE);
  check_answer_round_trip (0, FALSE, TRUE);
  check_answer_round_trip (0, FALSE, FALSE);
  check_answer_round_trip (1, FALSE, TRUE);
  check_answer_round_trip (1, FALSE, FALSE);
}

static void
test_result_defaults (void)
{
  g_autoptr(NtsProbeResult) result = nts_probe_result_new ("nts.example", 0);
  g_autoptr(GVariant) value = NULL;
  const char *text;
  gint64 number;

  g_assert_cmpuint (result->ke_port, ==, NTS_PROBE_DEFAULT_KE_PORT);
  g_assert_cmpint (result->ke_error, ==, -1);
  g_assert_cmpfloat (result->times[NTS_PROBE_TIME_NTP], ==, -1);
  g_assert_nonnull (result->message);

  /* A DNS failure says no more than it knows. */
  result->phase = NTS_PROBE_DNS;
  g_free (result->message);
  result->message = g_strdup ("nts.example does not resolve");
  value = g_variant_ref_sink (nts_probe_result_to_variant (result, TRUE));
  g_assert_true (g_variant_lookup (value, "result", "&s", &text));
  g_assert_cmpstr (text, ==, "dns");
  g_assert_false (g_variant_lookup (value, "address", "&s", &text));
  g_assert_false (g_variant_lookup (value, "rtt", "d", NULL));
  g_assert_false (g_variant_lookup (value, "ke-error", "q", NULL));
  g_assert_false (g_variant_lookup (value, "certificate-not-after", "x", &number));
  g_assert_false (g_variant_lookup (value, "c2s", "@ay", NULL));
  {
    g_autoptr(GVariant) times = g_variant_lookup_value (value, "times", NULL);
    g_assert_cmpuint (g_variant_n_children (times), ==, 0);
  }
}

/* Secrets go on the wire only when asked for: to_variant without them
 * leaves every secret key out. */
static void
test_result_without_secrets (void)
{
  g_autoptr(NtsProbeResult) result = nts_sample_ok ("nts.example", 0, "192.0.2.1", TRUE);
  g_autoptr(GVariant) with = g_variant_ref_sink (nts_probe_result_to_variant (result, TRUE));
  g_autoptr(GVariant) without = g_variant_ref_sink (nts_probe_result_to_variant (result, FALSE));
  const char *secret_keys[] = { "c2s", "s2c", "cookie-data", "ke-time" };

  for (guint i = 0; i < G_N_ELEMENTS (secret_keys); i++)
    {
      g_autoptr(GVariant) in = g_variant_lookup_value (with, secret_keys[i], NULL);
      g_autoptr(GVariant) out = g_variant_lookup_value (without, secret_keys[i], NULL);
      g_assert_nonnull (in);
      g_assert_null (out);
    }
}

static void
test_text_sanitize (void)
{
  g_autofree char *control = nts_probe_text_sanitize ("CN=a\nb\001c");
  g_autofree char *invalid = nts_probe_text_sanitize ("ab\377c");
  g_autofree char *null = nts_probe_text_sanitize (NULL);
  g_autofree char *long_text = g_strnfill (NTS_PROBE_MAX_TEXT + 10, 'x');
  g_autofree char *cut = nts_probe_text_sanitize (long_text);
  /* 2-byte characters around the cut: never half of one. */
  g_autoptr(GString) umlauts = g_string_new ("x");
  g_autofree char *cut_umlauts = NULL;

  g_assert_cmpstr (control, ==, "CN=a b c");
  g_assert_true (g_utf8_validate (invalid, -1, NULL));
  g_assert_true (g_str_has_prefix (invalid, "ab"));
  g_assert_cmpstr (null, ==, "");
  g_assert_cmpuint (strlen (cut), ==, NTS_PROBE_MAX_TEXT);
  for (guint i = 0; i < NTS_PROBE_MAX_TEXT; i++)
    g_string_append (umlauts, "ä");
  cut_umlauts = nts_probe_text_sanitize (umlauts->str);
  g_assert_cmpuint (strlen (cut_umlauts), ==, NTS_PROBE_MAX_TEXT - 1);
  g_assert_true (g_utf8_validate (cut_umlauts, -1, NULL));
}

/* Bad requests. */

static GBytes *
request_from_text (const char *text)
{
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_parsed (text));
  return variant_bytes (value);
}

static void
test_request_refused (void)
{
  static const struct {
    const char *text;
    const char *reason;
  } cases[] = {
    { "@a{sv} {}", "no \"servers\"" },
    { "{'servers': <@a(sq) []>}", "0 servers, not 1 to 16" },
    { "{'servers': <['a.example', 'b.example']>}", "\"servers\" is of type as, not a(sq)" },
    { "{'servers': <[('', uint16 0)]>}", "a server name is empty" },
    { "{'servers': <[('a\\nb', uint16 0)]>}", "a server name holds a control character" },
    { "{'servers': <[('a.example', uint16 0)]>, 'timeout-ms': <uint32 99>}",
      "\"timeout-ms\" 99 is not 100 to 30000" },
    { "{'servers': <[('a.example', uint16 0)]>, 'timeout-ms': <uint32 30001>}",
      "\"timeout-ms\" 30001 is not 100 to 30000" },
    { "{'servers': <[('a.example', uint16 0)]>, 'timeout-ms': <5000>}",
      "\"timeout-ms\" is of type i, not u" },
    { "{'servers': <[('a.example', uint16 0)]>, 'secrets': <'yes'>}",
      "\"secrets\" is of type s, not b" },
    { "{'servers': <[('a.example', uint16 0)]>, 'no-cert-time-check': <uint32 1>}",
      "\"no-cert-time-check\" is of type u, not b" },
    { "{'servers': <[('a.example', uint16 0)]>, 'ca': <''>}", "\"ca\" is empty" },
    { "{'servers': <[('a.example', uint16 0)]>, 'ca': <'a\\u0001b'>}",
      "\"ca\" holds a control character" },
    { "{'servers': <[('a.example', uint16 0)]>, 'ca': <@ay []>}",
      "\"ca\" is of type ay, not s" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) bytes = request_from_text (cases[i].text);
      assert_request_refused (bytes, cases[i].reason);
    }
}

static void
test_request_bounds (void)
{
  g_autoptr(NtsProbeRequest) request = nts_probe_request_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(NtsProbeRequest) back = NULL;
  g_autofree char *name_253 = g_strnfill (253, 'a');
  g_autofree char *name_254 = g_strnfill (254, 'a');
  g_autoptr(GError) error = NULL;

  /* 16 servers, the longest name: fine. */
  for (guint i = 0; i < NTS_PROBE_MAX_SERVERS; i++)
    nts_probe_request_add (request, name_253, i);
  bytes = nts_probe_request_serialize (request);
  back = nts_probe_request_parse (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->servers->len, ==, NTS_PROBE_MAX_SERVERS);
  g_clear_pointer (&bytes, g_bytes_unref);

  /* 17: refused. */
  nts_probe_request_add (request, "a.example", 0);
  bytes = nts_probe_request_serialize (request);
  assert_request_refused (bytes, "17 servers, not 1 to 16");
  g_clear_pointer (&bytes, g_bytes_unref);

  /* A name one byte too long. */
  g_ptr_array_set_size (request->servers, 1);
  g_free (((NtsProbeTarget *) request->servers->pdata[0])->name);
  ((NtsProbeTarget *) request->servers->pdata[0])->name = g_strdup (name_254);
  bytes = nts_probe_request_serialize (request);
  assert_request_refused (bytes, "a server name is too long");
}

/* Bytes that are no a{sv} in normal form, or too many of them. */
static void
test_not_normal_form (void)
{
  g_autoptr(NtsProbeRequest) request = nts_sample_request (FALSE);
  g_autoptr(GPtrArray) results = nts_sample_results (0, FALSE);
  g_autoptr(GBytes) good = nts_probe_answer_serialize (results);
  g_autoptr(GBytes) garbage = g_bytes_new_static ("\xff\xfe\x01\x02garbage", 11);
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autofree guint8 *big = g_malloc0 (NTS_PROBE_MAX_ANSWER + 1);
  g_autoptr(GBytes) too_big = g_bytes_new (big, NTS_PROBE_MAX_ANSWER + 1);
  g_autoptr(GBytes) truncated = g_bytes_new_from_bytes (good, 0, g_bytes_get_size (good) - 1);

  assert_answer_refused (garbage, request, "not a GVariant a{sv} in normal form");
  assert_answer_refused (truncated, request, "not a GVariant a{sv} in normal form");
  /* The empty dictionary is well formed, and lacks everything. */
  assert_answer_refused (empty, request, "no \"version\"");
  assert_answer_refused (too_big, request, "more than 1048576");
  assert_request_refused (garbage, "not a GVariant a{sv} in normal form");
}

static void
test_duplicate_keys (void)
{
  g_autoptr(NtsProbeRequest) request = nts_sample_request (FALSE);
  g_autoptr(GBytes) twice = request_from_text (
    "{'servers': <[('a.example', uint16 0)]>, 'servers': <[('b.example', uint16 0)]>}");
  g_autoptr(GPtrArray) results = nts_sample_results (0, FALSE);
  g_autoptr(GBytes) answer = NULL;
  g_auto(GVariantBuilder) item = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_auto(GVariantBuilder) list = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GVariant) value = NULL;

  assert_request_refused (twice, "a key is given twice");

  first = g_variant_ref_sink (nts_probe_result_to_variant (results->pdata[0], FALSE));
  for (guint i = 0; i < g_variant_n_children (first); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (first, i);
      g_variant_builder_add_value (&item, entry);
    }
  g_variant_builder_add (&item, "{sv}", "message", g_variant_new_string ("another"));
  g_variant_builder_add_value (&list, g_variant_builder_end (&item));
  for (guint i = 1; i < results->len; i++)
    g_variant_builder_add_value (&list, nts_probe_result_to_variant (results->pdata[i], FALSE));
  value = g_variant_ref_sink (
    g_variant_new_parsed ("{'version': <uint32 1>, 'results': <%@aa{sv}>}",
                          g_variant_builder_end (&list)));
  answer = variant_bytes (value);
  assert_answer_refused (answer, request, "result 1: a key is given twice");
}

static void
test_answer_top_refused (void)
{
  g_autoptr(NtsProbeRequest) request = nts_sample_request (FALSE);
  g_autoptr(GPtrArray) results = nts_sample_results (0, FALSE);
  g_autoptr(GBytes) good = nts_probe_answer_serialize (results);
  g_autoptr(GVariant) answer = g_variant_ref_sink (
    g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, good, FALSE));
  g_autoptr(GPtrArray) two = nts_sample_results (0, FALSE);
  g_autoptr(GBytes) short_answer = NULL;
  g_autoptr(GBytes) swapped = NULL;
  struct {
    const char *key;
    GVariant *value;
    const char *reason;
  } cases[] = {
    { "version", g_variant_new_uint32 (2), "version 2, not 1" },
    { "version", g_variant_new_uint16 (1), "\"version\" is of type q, not u" },
    { "version", NULL, "no \"version\"" },
    { "results", NULL, "no \"results\"" },
    { "results", g_variant_new_parsed ("@aa{sv} []"), "0 results for 3 servers" },
    { "results", g_variant_new_parsed ("[{'server': 'x'}]"),
      "\"results\" is of type aa{ss}, not aa{sv}" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) changed = dict_with (answer, cases[i].key, cases[i].value);
      g_autoptr(GBytes) bytes = variant_bytes (changed);
      assert_answer_refused (bytes, request, cases[i].reason);
    }

  /* Fewer results than servers; the right results in another order. */
  g_ptr_array_remove_index (two, 2);
  short_answer = nts_probe_answer_serialize (two);
  assert_answer_refused (short_answer, request, "2 results for 3 servers");
  g_ptr_array_add (two, g_ptr_array_steal_index (two, 0));
  g_ptr_array_add (two, nts_sample_ok ("192.0.2.7", 4461, "192.0.2.7", FALSE));
  swapped = nts_probe_answer_serialize (two);
  assert_answer_refused (swapped, request, "result 1 (ntsa.example): is for another server");
}

/* One key of one result made wrong at a time. */
static void
test_result_refused (void)
{
  g_autoptr(NtsProbeRequest) request = nts_sample_request (TRUE);
  g_autoptr(NtsProbeRequest) no_secrets = nts_sample_request (FALSE);
  g_autoptr(GPtrArray) ok = nts_sample_results (0, TRUE);
  g_autoptr(GPtrArray) failures = nts_sample_results (1, FALSE);
  g_autofree char *long_text = g_strnfill (NTS_PROBE_MAX_TEXT + 1, 'x');
  g_autofree char *long_name = g_strnfill (254, 'x');
  guint8 short_key[NTS_PROBE_KEY_LEN - 1] = { 0 };
  guint8 long_cookie[NTS_PROBE_MAX_COOKIE_LEN + 1] = { 0 };
  struct {
    guint kind;
    guint index;
    const char *key;
    GVariant *value;
    const char *reason;
  } cases[] = {
    { 0, 0, "server", g_variant_new_string ("ntsb.example"), "is for another server" },
    { 0, 0, "server", NULL, "no \"server\"" },
    { 0, 1, "port", g_variant_new_uint16 (4461), "is for port 4461, not 4460" },
    /* A request's port 0 is 4460 in the answer. */
    { 0, 0, "port", g_variant_new_uint16 (0), "is for port 0, not 4460" },
    { 0, 0, "port", g_variant_new_uint32 (4460), "\"port\" is of type u, not q" },
    { 0, 0, "result", g_variant_new_string ("fine"), "\"result\" is not a known phase" },
    { 0, 0, "result", NULL, "no \"result\"" },
    { 0, 0, "message", NULL, "no \"message\"" },
    { 0, 0, "message", g_variant_new_string (""), "\"message\" is empty" },
    { 0, 0, "message", g_variant_new_string (long_text), "\"message\" is too long" },
    { 0, 0, "message", g_variant_new_string ("two\nlines"), "holds a control character" },
    { 0, 0, "message", g_variant_new_string ("esc\033[31m"), "holds a control character" },
    { 0, 0, "message", g_variant_new_string ("c1\xc2\x85"), "holds a control character" },
    { 0, 0, "certificate-subject", g_variant_new_string (long_text), "is too long" },
    { 0, 0, "certificate-issuer", g_variant_new_int32 (1), "is of type i, not s" },
    { 0, 0, "address", g_variant_new_string ("nts.example"),
      "\"address\" is not an IP address" },
    { 0, 0, "ntp-server", g_variant_new_string (""), "\"ntp-server\" is empty" },
    { 0, 1, "same-address-as", g_variant_new_string ("ntsa.example"),
      "\"same-address-as\" is no earlier server with its address" },
    { 0, 0, "same-address-as", g_variant_new_string (long_name), "is too long" },
    { 1, 1, "same-address-as", g_variant_new_string ("192.0.2.7"),
      "\"same-address-as\" is no earlier server with its address" },
    { 1, 1, "address", NULL, "\"same-address-as\" without an address" },
    { 1, 0, "certificate-problems", g_variant_new_parsed ("['expired', 'sunburnt']"),
      "\"certificate-problems\" holds an unknown problem" },
    { 1, 0, "certificate-problems", g_variant_new_parsed ("['expired', 'expired']"),
      "\"certificate-problems\" names expired twice" },
    { 1, 0, "certificate-problems", g_variant_new_parsed ("@as []"),
      "\"certificate-problems\" is empty" },
    { 1, 0, "certificate-not-after", g_variant_new_int64 (G_MAXINT64),
      "\"certificate-not-after\" is out of range" },
    { 1, 0, "clock-suspect", g_variant_new_string ("yes"), "is of type s, not b" },
    { 0, 0, "stratum", g_variant_new_byte (17), "\"stratum\" 17 is more than 16" },
    { 0, 0, "stratum", g_variant_new_uint16 (2), "\"stratum\" is of type q, not y" },
    { 0, 0, "rtt", g_variant_new_double (NAN), "\"rtt\" is out of range" },
    { 0, 0, "rtt", g_variant_new_double (-0.001), "\"rtt\" is out of range" },
    { 0, 0, "rtt", g_variant_new_double (61), "\"rtt\" is out of range" },
    { 0, 0, "offset", g_variant_new_double (INFINITY), "\"offset\" is out of range" },
    { 0, 0, "offset", g_variant_new_double (-2e10), "\"offset\" is out of range" },
    { 0, 0, "ke-cookies", g_variant_new_uint32 (65), "\"ke-cookies\" 65 is more than 64" },
    { 0, 0, "ntp-cookies", g_variant_new_uint32 (G_MAXUINT32), "is more than 64" },
    { 0, 0, "ke-error", g_variant_new_int32 (2), "\"ke-error\" is of type i, not q" },
    { 0, 0, "times", NULL, "no \"times\"" },
    { 0, 0, "times", g_variant_new_parsed ("{'dns': -0.5}"), "\"times\" dns is out of range" },
    { 0, 0, "times", g_variant_new_parsed ("{'ntp': 1e300}"), "\"times\" ntp is out of range" },
    { 0, 0, "times", g_variant_new_parsed ("[{'tls', 0.1}, {'tls', 0.2}]"),
      "\"times\" gives tls twice" },
    { 0, 0, "times", g_variant_new_parsed ("{'dns': 1}"),
      "\"times\" is of type a{si}, not a{sd}" },
    /* kiss: only for nak and kiss, always for them, NTSN for a nak. */
    { 0, 0, "kiss", g_variant_new_string ("RATE"), "\"kiss\" for result ok" },
    { 1, 1, "kiss", NULL, "no \"kiss\" for result nak" },
    { 1, 1, "kiss", g_variant_new_string ("RATE"), "\"kiss\" of a NAK is not NTSN" },
    { 1, 2, "kiss", g_variant_new_string ("RATES"), "\"kiss\" is not 1 to 4 characters" },
    { 1, 2, "kiss", g_variant_new_string ("R TE"), "\"kiss\" is not printable ASCII" },
    { 1, 2, "kiss", g_variant_new_string (""), "\"kiss\" is not 1 to 4 characters" },
    /* Secrets: exact key lengths, all or nothing, bounded cookies. */
    { 0, 0, "c2s",
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, short_key, sizeof short_key, 1),
      "\"c2s\" is 31 bytes, not 32" },
    { 0, 2, "s2c", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, short_key, 0, 1),
      "\"s2c\" is 0 bytes, not 32" },
    { 0, 0, "s2c", NULL, "only some of" },
    { 0, 0, "ke-time", g_variant_new_double (-1), "\"ke-time\" is out of range" },
    { 0, 0, "cookie-data", g_variant_new_parsed ("[@ay [], [1]]"), "a cookie of 0 bytes" },
    { 0, 0, "cookie-data",
      g_variant_new_parsed ("[%@ay]",
                            g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, long_cookie,
                                                       sizeof long_cookie, 1)),
      "a cookie of 1025 bytes, not 1 to 1024" },
    { 0, 0, "cookie-data",
      g_variant_new_parsed ("[[byte 1], [2], [3], [4], [5], [6], [7], [8], [9]]"),
      "9 cookies, more than 8" },
    { 0, 0, "cookie-data", g_variant_new_parsed ("['a']"), "is of type as, not aay" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GPtrArray *results = cases[i].kind == 0 ? ok : failures;
      g_autoptr(GBytes) bytes = answer_with (results, cases[i].index, cases[i].key,
                                             cases[i].value);

      g_test_message ("case %u: %s", i, cases[i].reason);
      assert_answer_refused (bytes, request, cases[i].reason);
    }

  /* Secrets that were not asked for, and secrets of a failure. */
  {
    g_autoptr(GBytes) bytes = nts_probe_answer_serialize (ok);
    assert_answer_refused (bytes, no_secrets, "secrets that were not asked for");
  }
  {
    NtsProbeResult *first = ok->pdata[0];
    g_autoptr(GBytes) bytes = NULL;

    first->phase = NTS_PROBE_NTP_TIMEOUT;
    bytes = nts_probe_answer_serialize (ok);
    first->phase = NTS_PROBE_OK;
    assert_answer_refused (bytes, request,
                           "result 1 (ntsa.example): secrets for result ntp-timeout");
  }
}

/* A key a later version adds, in a result and at the top: ignored. */
static void
test_unknown_keys_ignored (void)
{
  g_autoptr(NtsProbeRequest) request = nts_sample_request (FALSE);
  g_autoptr(GPtrArray) results = nts_sample_results (1, FALSE);
  g_autoptr(GBytes) bytes = answer_with (results, 1, "leap-second",
                                         g_variant_new_parsed ("(1, 'x')"));
  g_autoptr(GPtrArray) back = NULL;
  g_autoptr(GError) error = NULL;

  back = nts_probe_answer_parse (bytes, request, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < results->len; i++)
    assert_results_equal (results->pdata[i], back->pdata[i], FALSE);
}

/* Framing. */

typedef struct {
  int fd;
  GBytes *data;
} Writer;

/* Writes its data one byte at a time: the reader sees every short read. */
static gpointer
trickle (gpointer user_data)
{
  Writer *writer = user_data;
  gsize size;
  const guint8 *data = g_bytes_get_data (writer->data, &size);

  for (gsize i = 0; i < size; i++)
    g_assert_cmpint (write (writer->fd, data + i, 1), ==, 1);
  close (writer->fd);
  return NULL;
}

static void
socket_pair (int fds[2])
{
  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
}

static void
test_frame_round_trip (void)
{
  g_autoptr(NtsProbeRequest) request = nts_sample_request (TRUE);
  g_autoptr(GPtrArray) results = nts_sample_results (0, TRUE);
  g_autoptr(GBytes) answer = nts_probe_answer_serialize (results);
  g_autoptr(GBytes) read_back = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GThread) thread = NULL;
  int fds[2];
  int trickle_fds[2];

  /* Through a socket buffer: written in one go, read in one go. */
  socket_pair (fds);
  g_assert_true (nts_probe_frame_write (fds[0], answer, &error));
  g_assert_no_error (error);
  close (fds[0]);
  read_back = nts_probe_frame_read (fds[1], NTS_PROBE_MAX_ANSWER, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (answer, read_back));
  close (fds[1]);

  /* An answer bigger than the socket's buffer, from another thread, and
   * the frame's bytes a byte at a time. */
  {
    g_autoptr(GPtrArray) back = nts_probe_answer_parse (read_back, request, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (back->len, ==, 3);
  }
  g_clear_pointer (&read_back, g_bytes_unref);
  socket_pair (trickle_fds);
  {
    g_autoptr(GByteArray) framed = g_byte_array_new ();
    g_autoptr(GBytes) framed_bytes = NULL;
    guint32 size = GUINT32_TO_BE (g_bytes_get_size (answer));
    Writer writer;

    g_byte_array_append (framed, (guint8 *) &size, 4);
    g_byte_array_append (framed, g_bytes_get_data (answer, NULL), g_bytes_get_size (answer));
    framed_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&framed));
    writer.fd = trickle_fds[0];
    writer.data = framed_bytes;
    thread = g_thread_new ("trickle", trickle, &writer);
    read_back = nts_probe_frame_read (trickle_fds[1], NTS_PROBE_MAX_ANSWER, &error);
    g_thread_join (g_steal_pointer (&thread));
  }
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (answer, read_back));
  close (trickle_fds[1]);
}

static gpointer
big_writer (gpointer user_data)
{
  Writer *writer = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (nts_probe_frame_write (writer->fd, writer->data, &error));
  g_assert_no_error (error);
  close (writer->fd);
  return NULL;
}

/* A message larger than the socket's buffer: the writer's partial writes
 * and the reader's partial reads, through a non-blocking writing end. */
static void
test_frame_large (void)
{
  gsize size = NTS_PROBE_MAX_REQUEST;
  g_autofree guint8 *data = g_malloc (size);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) read_back = NULL;
  g_autoptr(GError) error = NULL;
  GThread *thread;
  Writer writer;
  int fds[2];

  for (gsize i = 0; i < size; i++)
    data[i] = i * 7;
  body = g_bytes_new (data, size);
  socket_pair (fds);
  g_assert_true (g_unix_set_fd_nonblocking (fds[0], TRUE, NULL));
  writer.fd = fds[0];
  writer.data = body;
  thread = g_thread_new ("writer", big_writer, &writer);
  read_back = nts_probe_frame_read (fds[1], size, &error);
  g_thread_join (thread);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (body, read_back));
  close (fds[1]);
}

static void
assert_frame_read_fails (const void *bytes, gsize size, gsize max, int code, const char *reason)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  int fds[2];

  socket_pair (fds);
  g_assert_cmpint (write (fds[0], bytes, size), ==, (gssize) size);
  close (fds[0]);
  body = nts_probe_frame_read (fds[1], max, &error);
  close (fds[1]);
  g_assert_null (body);
  g_assert_error (error, G_IO_ERROR, code);
  if (strstr (error->message, reason) == NULL)
    g_error ("expected \"%s\" in: %s", reason, error->message);
}

static void
test_frame_refused (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *big = g_malloc0 (MAX (NTS_PROBE_MAX_REQUEST, NTS_PROBE_MAX_ANSWER) + 1);
  g_autoptr(GBytes) too_big =
    g_bytes_new_static (big, MAX (NTS_PROBE_MAX_REQUEST, NTS_PROBE_MAX_ANSWER) + 1);
  g_autoptr(GBytes) small = g_bytes_new_static ("x", 1);
  int fds[2];

  assert_frame_read_fails ("", 0, 100, G_IO_ERROR_CONNECTION_CLOSED, "closed without sending");
  assert_frame_read_fails ("\0\0", 2, 100, G_IO_ERROR_PARTIAL_INPUT, "message's length");
  assert_frame_read_fails ("\0\0\0\5abc", 7, 100, G_IO_ERROR_PARTIAL_INPUT, "(3 of 5 bytes)");
  assert_frame_read_fails ("\0\0\0\145", 4, 100, G_IO_ERROR_MESSAGE_TOO_LARGE,
                           "101 bytes is over the bound of 100");
  assert_frame_read_fails ("\377\377\377\377", 4, NTS_PROBE_MAX_ANSWER,
                           G_IO_ERROR_MESSAGE_TOO_LARGE, "4294967295 bytes");

  /* Writing: over the bound, and to a peer gone (an error, no SIGPIPE). */
  socket_pair (fds);
  g_assert_false (nts_probe_frame_write (fds[0], too_big, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  close (fds[1]);
  g_assert_false (nts_probe_frame_write (fds[0], small, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  close (fds[0]);

  /* Something that cannot be read: the system's error, named. */
  {
    int dir = open ("/", O_RDONLY | O_CLOEXEC);

    g_clear_error (&error);
    g_assert_cmpint (dir, >=, 0);
    g_assert_null (nts_probe_frame_read (dir, 100, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
    g_assert_nonnull (strstr (error->message, g_strerror (EISDIR)));
    close (dir);
  }
}

/* The seeds of tests/fuzz-corpus/probe-wire/, by name. */
static GHashTable *
corpus_files (void)
{
  GHashTable *files = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) g_bytes_unref);
  g_autoptr(NtsProbeRequest) plain = nts_sample_request (FALSE);
  g_autoptr(NtsProbeRequest) full = nts_sample_request (TRUE);
  g_autoptr(GPtrArray) ok_secrets = nts_sample_results (0, TRUE);
  g_autoptr(GPtrArray) ok = nts_sample_results (0, FALSE);
  g_autoptr(GPtrArray) failures = nts_sample_results (1, FALSE);

  full->ca_pem = g_strdup ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  g_hash_table_insert (files, "request", nts_probe_request_serialize (plain));
  g_hash_table_insert (files, "request-ca-secrets", nts_probe_request_serialize (full));
  g_hash_table_insert (files, "answer-ok-secrets", nts_probe_answer_serialize (ok_secrets));
  g_hash_table_insert (files, "answer-ok", nts_probe_answer_serialize (ok));
  g_hash_table_insert (files, "answer-failures", nts_probe_answer_serialize (failures));
  return files;
}

static void
test_corpus (void)
{
  g_autoptr(GHashTable) files = corpus_files ();
  g_autofree char *dir = g_test_build_filename (G_TEST_DIST, "fuzz-corpus", "probe-wire", NULL);
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  GHashTableIter iter;
  const char *name;
  GBytes *bytes;
  guint n = 0;

  g_assert_nonnull (listing);
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_assert_true (g_hash_table_contains (files, name));
      n++;
    }
  g_assert_cmpuint (n, ==, g_hash_table_size (files));
  g_hash_table_iter_init (&iter, files);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, (gpointer *) &bytes))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize len;

      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      if (len != g_bytes_get_size (bytes) ||
          memcmp (contents, g_bytes_get_data (bytes, NULL), len) != 0)
        g_error ("%s differs from what the samples make: run test-probe-wire --write-corpus %s",
                 path, dir);
    }
}

static int
write_corpus (const char *dir)
{
  g_autoptr(GHashTable) files = corpus_files ();
  GHashTableIter iter;
  const char *name;
  GBytes *bytes;

  g_hash_table_iter_init (&iter, files);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, (gpointer *) &bytes))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr(GError) error = NULL;

      if (!g_file_set_contents (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                &error))
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
    }
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 3 && strcmp (argv[1], "--write-corpus") == 0)
    return write_corpus (argv[2]);

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/probe-wire/phase-strings", test_phase_strings);
  g_test_add_func ("/probe-wire/request/round-trip", test_request_round_trip);
  g_test_add_func ("/probe-wire/request/defaults", test_request_defaults);
  g_test_add_func ("/probe-wire/request/refused", test_request_refused);
  g_test_add_func ("/probe-wire/request/bounds", test_request_bounds);
  g_test_add_func ("/probe-wire/answer/round-trip", test_answer_round_trip);
  g_test_add_func ("/probe-wire/answer/result-defaults", test_result_defaults);
  g_test_add_func ("/probe-wire/answer/without-secrets", test_result_without_secrets);
  g_test_add_func ("/probe-wire/answer/not-normal-form", test_not_normal_form);
  g_test_add_func ("/probe-wire/answer/duplicate-keys", test_duplicate_keys);
  g_test_add_func ("/probe-wire/answer/top-refused", test_answer_top_refused);
  g_test_add_func ("/probe-wire/answer/result-refused", test_result_refused);
  g_test_add_func ("/probe-wire/answer/unknown-keys", test_unknown_keys_ignored);
  g_test_add_func ("/probe-wire/text-sanitize", test_text_sanitize);
  g_test_add_func ("/probe-wire/frame/round-trip", test_frame_round_trip);
  g_test_add_func ("/probe-wire/frame/large", test_frame_large);
  g_test_add_func ("/probe-wire/frame/refused", test_frame_refused);
  g_test_add_func ("/probe-wire/corpus", test_corpus);
  return g_test_run ();
}
