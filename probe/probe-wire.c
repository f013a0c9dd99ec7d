/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The request and answer of ntssetup-probe: building them, parsing them
 * strictly, and framing them on a stream (probe-wire.h says the format).
 *
 * Every parse error is G_IO_ERROR_INVALID_DATA with a message that names
 * the message ("probe request" / "probe answer"), the result by its index
 * and server where there is one, the key, and what is wrong with it; bad
 * values themselves are never echoed, so the message stays printable
 * whatever the bytes were.
 *
 * Keys and cookies (the "secrets" of an answer) live only in memory that
 * is wiped when freed: the NtsProbeResult's arrays, GBytes made by
 * nts_probe_secret_bytes_new(), the serialised messages and the frames
 * read. A serialised answer is written with g_variant_store() into such
 * memory, never through g_variant_get_data(), which would leave a copy
 * of its own in the GVariant. */
#include "config.h"

#include "probe-wire.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bounds of the measured values: no phase can take longer than twice the
 * longest deadline; an offset can be as large as a clock set to 1970 is
 * wrong (~1.7e9 s) and more, but not beyond an NTP era (2^32 s) or so; a
 * key-exchange time is a Unix time before the year 5000. */
#define MAX_SECONDS   (2.0 * NTS_PROBE_MAX_TIMEOUT_MS / 1000.0)
#define MAX_OFFSET    1e10
#define MAX_UNIX_TIME 95617584000.0
/* GDateTime's range: years 1 to 9999. */
#define MIN_CERT_TIME G_GINT64_CONSTANT (-62135596800)
#define MAX_CERT_TIME G_GINT64_CONSTANT (253402300799)
#define MAX_STRATUM   16
/* Cookies counted (not kept): a server should send 8, a generous bound. */
#define MAX_COOKIE_COUNT 64
#define MAX_SERVER_NAME  253

static const char *const phase_names[NTS_PROBE_N_PHASES] = {
  [NTS_PROBE_OK] = "ok",
  [NTS_PROBE_DNS] = "dns",
  [NTS_PROBE_TCP] = "tcp",
  [NTS_PROBE_TLS] = "tls",
  [NTS_PROBE_CERTIFICATE] = "certificate",
  [NTS_PROBE_KE_PROTOCOL] = "ke-protocol",
  [NTS_PROBE_NTP_TIMEOUT] = "ntp-timeout",
  [NTS_PROBE_NTP_AUTH] = "ntp-auth",
  [NTS_PROBE_NAK] = "nak",
  [NTS_PROBE_KISS] = "kiss",
};

/* In the order of the NtsProbeCertProblems bits. */
static const char *const cert_problem_names[] = {
  "unknown-issuer", "expired", "not-yet-valid", "name-mismatch", "revoked", "insecure", "other",
};
#define N_CERT_PROBLEMS G_N_ELEMENTS (cert_problem_names)

static const char *const time_names[NTS_PROBE_N_TIMES] = {
  [NTS_PROBE_TIME_DNS] = "dns", [NTS_PROBE_TIME_TCP] = "tcp", [NTS_PROBE_TIME_TLS] = "tls",
  [NTS_PROBE_TIME_KE] = "ke",   [NTS_PROBE_TIME_NTP] = "ntp",
};

const char *
nts_probe_phase_to_string (NtsProbePhase phase)
{
  g_return_val_if_fail (phase < NTS_PROBE_N_PHASES, NULL);
  return phase_names[phase];
}

gboolean
nts_probe_phase_from_string (const char *string, NtsProbePhase *phase)
{
  for (guint i = 0; i < NTS_PROBE_N_PHASES; i++)
    if (g_strcmp0 (string, phase_names[i]) == 0)
      {
        *phase = i;
        return TRUE;
      }
  return FALSE;
}

/* Memory that is wiped before it is freed, behind a GBytes. */
typedef struct {
  guint8 *data;
  gsize size;
} SecretBlock;

static void
secret_block_free (gpointer user_data)
{
  SecretBlock *block = user_data;

  explicit_bzero (block->data, block->size);
  g_free (block->data);
  g_free (block);
}

static GBytes *
secret_bytes_take (guint8 *data, gsize size)
{
  SecretBlock *block = g_new (SecretBlock, 1);

  block->data = data;
  block->size = size;
  return g_bytes_new_with_free_func (data, size, secret_block_free, block);
}

GBytes *
nts_probe_secret_bytes_new (gconstpointer data, gsize size)
{
  /* g_malloc's memory is aligned for any GVariant (8 bytes). */
  guint8 *copy = g_malloc (MAX (size, 1));

  if (size > 0)
    memcpy (copy, data, size);
  return secret_bytes_take (copy, size);
}

void
nts_probe_result_set_phase (NtsProbeResult *result, NtsProbePhase phase, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  result->phase = phase;
  g_free (result->message);
  result->message = nts_probe_text_sanitize (message);
}

char *
nts_probe_text_sanitize (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      char buf[6];
      int len;

      if (g_unichar_iscntrl (c))
        c = ' ';
      len = g_unichar_to_utf8 (c, buf);
      if (out->len + len > NTS_PROBE_MAX_TEXT)
        break;
      g_string_append_len (out, buf, len);
    }
  return g_string_free (out, FALSE);
}

static void
target_free (gpointer data)
{
  NtsProbeTarget *target = data;

  g_free (target->name);
  g_free (target);
}

NtsProbeRequest *
nts_probe_request_new (void)
{
  NtsProbeRequest *request = g_new0 (NtsProbeRequest, 1);

  request->servers = g_ptr_array_new_with_free_func (target_free);
  request->timeout_ms = NTS_PROBE_DEFAULT_TIMEOUT_MS;
  return request;
}

void
nts_probe_request_add (NtsProbeRequest *request, const char *name, guint16 port)
{
  NtsProbeTarget *target = g_new0 (NtsProbeTarget, 1);

  target->name = g_strdup (name);
  target->port = port;
  g_ptr_array_add (request->servers, target);
}

void
nts_probe_request_free (NtsProbeRequest *request)
{
  if (request == NULL)
    return;
  g_ptr_array_unref (request->servers);
  g_free (request->ca_pem);
  g_free (request);
}

NtsProbeResult *
nts_probe_result_new (const char *server, guint16 ke_port)
{
  NtsProbeResult *result = g_new0 (NtsProbeResult, 1);

  result->server = g_strdup (server);
  result->ke_port = ke_port != 0 ? ke_port : NTS_PROBE_DEFAULT_KE_PORT;
  result->message = g_strdup ("");
  result->ke_error = -1;
  result->ke_warning = -1;
  for (guint i = 0; i < NTS_PROBE_N_TIMES; i++)
    result->times[i] = -1;
  return result;
}

void
nts_probe_result_free (NtsProbeResult *result)
{
  if (result == NULL)
    return;
  g_free (result->server);
  g_free (result->message);
  g_free (result->address);
  g_free (result->same_address_as);
  g_free (result->cert_subject);
  g_free (result->cert_issuer);
  g_free (result->ntp_server);
  explicit_bzero (result->c2s, sizeof result->c2s);
  explicit_bzero (result->s2c, sizeof result->s2c);
  /* Cookies made by nts_probe_secret_bytes_new() (as the parser makes
   * them) are wiped when their last reference goes. */
  if (result->cookies != NULL)
    g_ptr_array_unref (result->cookies);
  g_free (result);
}

/* The serialised form of @value, in memory wiped when freed. */
static GBytes *
serialize (GVariant *value)
{
  gsize size = g_variant_get_size (value);
  guint8 *data = g_malloc (MAX (size, 1));

  g_variant_store (value, data);
  return secret_bytes_take (data, size);
}

GBytes *
nts_probe_request_serialize (const NtsProbeRequest *request)
{
  g_auto(GVariantBuilder) dict = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_auto(GVariantBuilder) servers = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sq)"));
  g_autoptr(GVariant) value = NULL;

  for (guint i = 0; i < request->servers->len; i++)
    {
      const NtsProbeTarget *target = request->servers->pdata[i];
      g_variant_builder_add (&servers, "(sq)", target->name, target->port);
    }
  g_variant_builder_add (&dict, "{sv}", "servers", g_variant_builder_end (&servers));
  if (request->ca_pem != NULL)
    g_variant_builder_add (&dict, "{sv}", "ca", g_variant_new_string (request->ca_pem));
  g_variant_builder_add (&dict, "{sv}", "timeout-ms",
                         g_variant_new_uint32 (request->timeout_ms));
  g_variant_builder_add (&dict, "{sv}", "secrets", g_variant_new_boolean (request->secrets));
  if (request->no_cert_time_check)
    g_variant_builder_add (&dict, "{sv}", "no-cert-time-check", g_variant_new_boolean (TRUE));
  value = g_variant_ref_sink (g_variant_builder_end (&dict));
  return serialize (value);
}

/* A byte string whose serialised data is @bytes (kept, so wiped with them
 * when they are secret). */
static GVariant *
bytestring_variant (GBytes *bytes)
{
  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);
}

static GVariant *
secret_bytestring (const guint8 *data, gsize size)
{
  g_autoptr(GBytes) bytes = nts_probe_secret_bytes_new (data, size);
  return bytestring_variant (bytes);
}

static void
add (GVariantBuilder *builder, const char *key, GVariant *value)
{
  g_variant_builder_add (builder, "{sv}", key, value);
}

GVariant *
nts_probe_result_to_variant (const NtsProbeResult *result, gboolean with_secrets)
{
  g_auto(GVariantBuilder) dict = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_auto(GVariantBuilder) times = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a{sd}"));
  /* The values of an NTP answer are meaningful even when zero. */
  gboolean answered = result->phase == NTS_PROBE_OK;

  g_return_val_if_fail (result->phase < NTS_PROBE_N_PHASES, NULL);

  add (&dict, "server", g_variant_new_string (result->server));
  add (&dict, "port", g_variant_new_uint16 (result->ke_port));
  add (&dict, "result", g_variant_new_string (phase_names[result->phase]));
  add (&dict, "message", g_variant_new_string (result->message != NULL ? result->message : ""));
  if (result->address != NULL)
    add (&dict, "address", g_variant_new_string (result->address));
  if (result->same_address_as != NULL)
    add (&dict, "same-address-as", g_variant_new_string (result->same_address_as));

  if (result->cert_problems != 0)
    {
      g_auto(GVariantBuilder) problems = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_STRING_ARRAY);

      for (guint i = 0; i < N_CERT_PROBLEMS; i++)
        if (result->cert_problems & (1u << i))
          g_variant_builder_add (&problems, "s", cert_problem_names[i]);
      add (&dict, "certificate-problems", g_variant_builder_end (&problems));
    }
  if (result->cert_subject != NULL)
    add (&dict, "certificate-subject", g_variant_new_string (result->cert_subject));
  if (result->cert_issuer != NULL)
    add (&dict, "certificate-issuer", g_variant_new_string (result->cert_issuer));
  if (result->cert_not_before != 0)
    add (&dict, "certificate-not-before", g_variant_new_int64 (result->cert_not_before));
  if (result->cert_not_after != 0)
    add (&dict, "certificate-not-after", g_variant_new_int64 (result->cert_not_after));
  if (result->clock_suspect)
    add (&dict, "clock-suspect", g_variant_new_boolean (TRUE));

  if (result->aead != 0)
    add (&dict, "aead", g_variant_new_uint16 (result->aead));
  if (result->ntp_server != NULL)
    add (&dict, "ntp-server", g_variant_new_string (result->ntp_server));
  if (result->ntp_port != 0)
    add (&dict, "ntp-port", g_variant_new_uint16 (result->ntp_port));
  if (result->ke_cookies != 0 || result->aead != 0)
    add (&dict, "ke-cookies", g_variant_new_uint32 (result->ke_cookies));
  if (result->ke_error >= 0)
    add (&dict, "ke-error", g_variant_new_uint16 (result->ke_error));
  if (result->ke_warning >= 0)
    add (&dict, "ke-warning", g_variant_new_uint16 (result->ke_warning));

  if (answered || result->ntp_cookies != 0)
    add (&dict, "ntp-cookies", g_variant_new_uint32 (result->ntp_cookies));
  if (answered || result->stratum != 0)
    add (&dict, "stratum", g_variant_new_byte (result->stratum));
  if (answered || result->rtt != 0)
    add (&dict, "rtt", g_variant_new_double (result->rtt));
  if (answered || result->offset != 0)
    add (&dict, "offset", g_variant_new_double (result->offset));
  if (result->kiss[0] != '\0')
    add (&dict, "kiss", g_variant_new_string (result->kiss));

  for (guint i = 0; i < NTS_PROBE_N_TIMES; i++)
    if (result->times[i] >= 0)
      g_variant_builder_add (&times, "{sd}", time_names[i], result->times[i]);
  add (&dict, "times", g_variant_builder_end (&times));

  if (with_secrets && result->has_secrets)
    {
      g_auto(GVariantBuilder) cookies = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aay"));

      add (&dict, "c2s", secret_bytestring (result->c2s, sizeof result->c2s));
      add (&dict, "s2c", secret_bytestring (result->s2c, sizeof result->s2c));
      for (guint i = 0; result->cookies != NULL && i < result->cookies->len; i++)
        g_variant_builder_add_value (&cookies, bytestring_variant (result->cookies->pdata[i]));
      add (&dict, "cookie-data", g_variant_builder_end (&cookies));
      add (&dict, "ke-time", g_variant_new_double (result->ke_time));
    }
  return g_variant_builder_end (&dict);
}

GBytes *
nts_probe_answer_serialize (GPtrArray *results)
{
  g_auto(GVariantBuilder) dict = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_auto(GVariantBuilder) list = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aa{sv}"));
  g_autoptr(GVariant) value = NULL;

  for (guint i = 0; i < results->len; i++)
    g_variant_builder_add_value (&list, nts_probe_result_to_variant (results->pdata[i], TRUE));
  add (&dict, "version", g_variant_new_uint32 (NTS_PROBE_WIRE_VERSION));
  add (&dict, "results", g_variant_builder_end (&list));
  value = g_variant_ref_sink (g_variant_builder_end (&dict));
  return serialize (value);
}

/* Parsing. */

static gboolean G_GNUC_PRINTF (3, 4)
  fail (GError **error, const char *where, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", where, what);
  return FALSE;
}

/* Why @text is not a good text field, or NULL. GVariant's normal form
 * already holds strings to UTF-8; checked again all the same. */
static const char *
text_problem (const char *text, gsize max, gboolean allow_empty)
{
  gsize len = strlen (text);

  if (len == 0 && !allow_empty)
    return "is empty";
  if (len > max)
    return "is too long";
  if (!g_utf8_validate (text, len, NULL))
    return "is not UTF-8";
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return "holds a control character";
  return NULL;
}

/* @bytes as an a{sv} in normal form, at most @max bytes, no key twice. */
static GVariant *
parse_dict (GBytes *bytes, gsize max, const char *where, GError **error)
{
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(GHashTable) keys = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  if (g_bytes_get_size (bytes) > max)
    {
      fail (error, where, "%zu bytes, more than %zu", g_bytes_get_size (bytes), max);
      return NULL;
    }
  dict = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
  if (!g_variant_is_normal_form (dict))
    {
      fail (error, where, "not a GVariant a{sv} in normal form");
      return NULL;
    }
  keys = g_hash_table_new (g_str_hash, g_str_equal);
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_variant_unref (value);
      if (!g_hash_table_add (keys, (gpointer) key))
        {
          fail (error, where, "a key is given twice");
          return NULL;
        }
    }
  return g_steal_pointer (&dict);
}

/* The value of @key in @dict: TRUE with *value NULL when absent, FALSE
 * when of another type than @type. */
static gboolean
lookup (GVariant *dict, const char *key, const GVariantType *type, GVariant **value,
        const char *where, GError **error)
{
  g_autoptr(GVariant) found = g_variant_lookup_value (dict, key, NULL);

  *value = NULL;
  if (found == NULL)
    return TRUE;
  if (!g_variant_is_of_type (found, type))
    return fail (error, where, "\"%s\" is of type %s, not %.*s", key,
                 g_variant_get_type_string (found),
                 (int) g_variant_type_get_string_length (type),
                 g_variant_type_peek_string (type));
  *value = g_steal_pointer (&found);
  return TRUE;
}

static gboolean
require (GVariant *dict, const char *key, const GVariantType *type, GVariant **value,
         const char *where, GError **error)
{
  if (!lookup (dict, key, type, value, where, error))
    return FALSE;
  if (*value == NULL)
    return fail (error, where, "no \"%s\"", key);
  return TRUE;
}

/* A text value of @key: NULL and TRUE when absent. */
static gboolean
lookup_text (GVariant *dict, const char *key, gsize max, char **text, const char *where,
             GError **error)
{
  g_autoptr(GVariant) value = NULL;
  const char *problem;

  *text = NULL;
  if (!lookup (dict, key, G_VARIANT_TYPE_STRING, &value, where, error))
    return FALSE;
  if (value == NULL)
    return TRUE;
  problem = text_problem (g_variant_get_string (value, NULL), max, FALSE);
  if (problem != NULL)
    return fail (error, where, "\"%s\" %s", key, problem);
  *text = g_variant_dup_string (value, NULL);
  return TRUE;
}

static gboolean
check_server_name (const char *name, const char *where, GError **error)
{
  const char *problem = text_problem (name, MAX_SERVER_NAME, FALSE);

  if (problem != NULL)
    return fail (error, where, "a server name %s", problem);
  return TRUE;
}

NtsProbeRequest *
nts_probe_request_parse (GBytes *bytes, GError **error)
{
  static const char where[] = "probe request";
  g_autoptr(GVariant) dict = parse_dict (bytes, NTS_PROBE_MAX_REQUEST, where, error);
  g_autoptr(NtsProbeRequest) request = NULL;
  g_autoptr(GVariant) servers = NULL;
  g_autoptr(GVariant) ca = NULL;
  g_autoptr(GVariant) timeout = NULL;
  g_autoptr(GVariant) secrets = NULL;
  g_autoptr(GVariant) no_time_check = NULL;
  GVariantIter iter;
  const char *name;
  guint16 port;
  gsize n;

  if (dict == NULL)
    return NULL;
  if (!require (dict, "servers", G_VARIANT_TYPE ("a(sq)"), &servers, where, error) ||
      !lookup (dict, "ca", G_VARIANT_TYPE_STRING, &ca, where, error) ||
      !lookup (dict, "timeout-ms", G_VARIANT_TYPE_UINT32, &timeout, where, error) ||
      !lookup (dict, "secrets", G_VARIANT_TYPE_BOOLEAN, &secrets, where, error) ||
      !lookup (dict, "no-cert-time-check", G_VARIANT_TYPE_BOOLEAN, &no_time_check, where, error))
    return NULL;

  request = nts_probe_request_new ();
  n = g_variant_n_children (servers);
  if (n < 1 || n > NTS_PROBE_MAX_SERVERS)
    {
      fail (error, where, "%zu servers, not 1 to %u", n, NTS_PROBE_MAX_SERVERS);
      return NULL;
    }
  g_variant_iter_init (&iter, servers);
  while (g_variant_iter_next (&iter, "(&sq)", &name, &port))
    {
      if (!check_server_name (name, where, error))
        return NULL;
      nts_probe_request_add (request, name, port);
    }

  if (ca != NULL)
    {
      /* A PEM bundle is lines of text: only its line ends are controls. */
      const char *pem = g_variant_get_string (ca, NULL);

      if (pem[0] == '\0')
        {
          fail (error, where, "\"ca\" is empty");
          return NULL;
        }
      for (const char *p = pem; *p != '\0'; p++)
        if (g_ascii_iscntrl (*p) && *p != '\n' && *p != '\r' && *p != '\t')
          {
            fail (error, where, "\"ca\" holds a control character");
            return NULL;
          }
      request->ca_pem = g_strdup (pem);
    }

  if (timeout != NULL)
    {
      request->timeout_ms = g_variant_get_uint32 (timeout);
      if (request->timeout_ms < NTS_PROBE_MIN_TIMEOUT_MS ||
          request->timeout_ms > NTS_PROBE_MAX_TIMEOUT_MS)
        {
          fail (error, where, "\"timeout-ms\" %u is not %u to %u", request->timeout_ms,
                NTS_PROBE_MIN_TIMEOUT_MS, NTS_PROBE_MAX_TIMEOUT_MS);
          return NULL;
        }
    }
  request->secrets = secrets != NULL && g_variant_get_boolean (secrets);
  request->no_cert_time_check = no_time_check != NULL && g_variant_get_boolean (no_time_check);
  return g_steal_pointer (&request);
}

static gboolean
lookup_double (GVariant *dict, const char *key, double min, double max, double *number,
               const char *where, GError **error)
{
  g_autoptr(GVariant) value = NULL;

  if (!lookup (dict, key, G_VARIANT_TYPE_DOUBLE, &value, where, error))
    return FALSE;
  if (value == NULL)
    return TRUE;
  *number = g_variant_get_double (value);
  if (!isfinite (*number) || *number < min || *number > max)
    return fail (error, where, "\"%s\" is out of range", key);
  return TRUE;
}

static gboolean
lookup_uint16 (GVariant *dict, const char *key, guint16 *number, const char *where,
               GError **error)
{
  g_autoptr(GVariant) value = NULL;

  if (!lookup (dict, key, G_VARIANT_TYPE_UINT16, &value, where, error))
    return FALSE;
  if (value != NULL)
    *number = g_variant_get_uint16 (value);
  return TRUE;
}

/* An NTS-KE Error or Warning code: any 16-bit value, -1 when absent. */
static gboolean
lookup_code (GVariant *dict, const char *key, int *code, const char *where, GError **error)
{
  g_autoptr(GVariant) value = NULL;

  if (!lookup (dict, key, G_VARIANT_TYPE_UINT16, &value, where, error))
    return FALSE;
  if (value != NULL)
    *code = g_variant_get_uint16 (value);
  return TRUE;
}

static gboolean
lookup_count (GVariant *dict, const char *key, guint max, guint *number, const char *where,
              GError **error)
{
  g_autoptr(GVariant) value = NULL;

  if (!lookup (dict, key, G_VARIANT_TYPE_UINT32, &value, where, error))
    return FALSE;
  if (value == NULL)
    return TRUE;
  *number = g_variant_get_uint32 (value);
  if (*number > max)
    return fail (error, where, "\"%s\" %u is more than %u", key, *number, max);
  return TRUE;
}

static gboolean
lookup_cert_time (GVariant *dict, const char *key, gint64 *number, const char *where,
                  GError **error)
{
  g_autoptr(GVariant) value = NULL;

  if (!lookup (dict, key, G_VARIANT_TYPE_INT64, &value, where, error))
    return FALSE;
  if (value == NULL)
    return TRUE;
  *number = g_variant_get_int64 (value);
  if (*number < MIN_CERT_TIME || *number > MAX_CERT_TIME)
    return fail (error, where, "\"%s\" is out of range", key);
  return TRUE;
}

static gboolean
parse_cert_problems (GVariant *dict, guint *problems, const char *where, GError **error)
{
  g_autoptr(GVariant) value = NULL;
  GVariantIter iter;
  const char *name;

  if (!lookup (dict, "certificate-problems", G_VARIANT_TYPE_STRING_ARRAY, &value, where, error))
    return FALSE;
  if (value == NULL)
    return TRUE;
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "&s", &name))
    {
      guint i;

      for (i = 0; i < N_CERT_PROBLEMS; i++)
        if (strcmp (name, cert_problem_names[i]) == 0)
          break;
      if (i == N_CERT_PROBLEMS)
        return fail (error, where, "\"certificate-problems\" holds an unknown problem");
      if (*problems & (1u << i))
        return fail (error, where, "\"certificate-problems\" names %s twice",
                     cert_problem_names[i]);
      *problems |= 1u << i;
    }
  if (*problems == 0)
    return fail (error, where, "\"certificate-problems\" is empty");
  return TRUE;
}

static gboolean
parse_times (GVariant *dict, double *times, const char *where, GError **error)
{
  g_autoptr(GVariant) value = NULL;
  GVariantIter iter;
  const char *name;
  double seconds;

  if (!require (dict, "times", G_VARIANT_TYPE ("a{sd}"), &value, where, error))
    return FALSE;
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "{&sd}", &name, &seconds))
    {
      guint i;

      for (i = 0; i < NTS_PROBE_N_TIMES; i++)
        if (strcmp (name, time_names[i]) == 0)
          break;
      /* A phase a later probe times is not an error; a phase twice is. */
      if (i == NTS_PROBE_N_TIMES)
        continue;
      if (times[i] >= 0)
        return fail (error, where, "\"times\" gives %s twice", time_names[i]);
      if (!isfinite (seconds) || seconds < 0 || seconds > MAX_SECONDS)
        return fail (error, where, "\"times\" %s is out of range", time_names[i]);
      times[i] = seconds;
    }
  return TRUE;
}

static gboolean
parse_kiss (GVariant *dict, NtsProbeResult *result, const char *where, GError **error)
{
  g_autoptr(GVariant) value = NULL;
  gboolean kissed = result->phase == NTS_PROBE_NAK || result->phase == NTS_PROBE_KISS;
  const char *code;
  gsize len;

  if (!lookup (dict, "kiss", G_VARIANT_TYPE_STRING, &value, where, error))
    return FALSE;
  if (value == NULL)
    return kissed ? fail (error, where, "no \"kiss\" for result %s", phase_names[result->phase])
                  : TRUE;
  if (!kissed)
    return fail (error, where, "\"kiss\" for result %s", phase_names[result->phase]);
  code = g_variant_get_string (value, &len);
  if (len < 1 || len > 4)
    return fail (error, where, "\"kiss\" is not 1 to 4 characters");
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isgraph (code[i]))
      return fail (error, where, "\"kiss\" is not printable ASCII");
  if (result->phase == NTS_PROBE_NAK && strcmp (code, "NTSN") != 0)
    return fail (error, where, "\"kiss\" of a NAK is not NTSN");
  memcpy (result->kiss, code, len + 1);
  return TRUE;
}

static gboolean
copy_key (GVariant *value, guint8 *key, const char *name, const char *where, GError **error)
{
  gsize len;
  const guint8 *data = g_variant_get_fixed_array (value, &len, 1);

  if (len != NTS_PROBE_KEY_LEN)
    return fail (error, where, "\"%s\" is %zu bytes, not %u", name, len, NTS_PROBE_KEY_LEN);
  memcpy (key, data, len);
  return TRUE;
}

/* The secrets are all there or none; only when asked, and only for a
 * successful exchange. */
static gboolean
parse_secrets (GVariant *dict, gboolean asked, NtsProbeResult *result, const char *where,
               GError **error)
{
  g_autoptr(GVariant) c2s = NULL;
  g_autoptr(GVariant) s2c = NULL;
  g_autoptr(GVariant) cookies = NULL;
  g_autoptr(GVariant) ke_time = NULL;
  guint present;
  gsize n;

  if (!lookup (dict, "c2s", G_VARIANT_TYPE_BYTESTRING, &c2s, where, error) ||
      !lookup (dict, "s2c", G_VARIANT_TYPE_BYTESTRING, &s2c, where, error) ||
      !lookup (dict, "cookie-data", G_VARIANT_TYPE ("aay"), &cookies, where, error) ||
      !lookup (dict, "ke-time", G_VARIANT_TYPE_DOUBLE, &ke_time, where, error))
    return FALSE;
  present = (c2s != NULL) + (s2c != NULL) + (cookies != NULL) + (ke_time != NULL);
  if (present == 0)
    return TRUE;
  if (!asked)
    return fail (error, where, "secrets that were not asked for");
  if (present != 4)
    return fail (error, where, "only some of \"c2s\", \"s2c\", \"cookie-data\", \"ke-time\"");
  if (result->phase != NTS_PROBE_OK)
    return fail (error, where, "secrets for result %s", phase_names[result->phase]);

  if (!copy_key (c2s, result->c2s, "c2s", where, error) ||
      !copy_key (s2c, result->s2c, "s2c", where, error))
    return FALSE;
  result->ke_time = g_variant_get_double (ke_time);
  if (!isfinite (result->ke_time) || result->ke_time < 0 || result->ke_time > MAX_UNIX_TIME)
    return fail (error, where, "\"ke-time\" is out of range");

  n = g_variant_n_children (cookies);
  if (n > NTS_PROBE_MAX_COOKIES)
    return fail (error, where, "%zu cookies, more than %u", n, NTS_PROBE_MAX_COOKIES);
  result->cookies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) cookie = g_variant_get_child_value (cookies, i);
      gsize len;
      const guint8 *data = g_variant_get_fixed_array (cookie, &len, 1);

      if (len < 1 || len > NTS_PROBE_MAX_COOKIE_LEN)
        return fail (error, where, "a cookie of %zu bytes, not 1 to %u", len,
                     NTS_PROBE_MAX_COOKIE_LEN);
      g_ptr_array_add (result->cookies, nts_probe_secret_bytes_new (data, len));
    }
  result->has_secrets = TRUE;
  return TRUE;
}

/* One result of an answer, for @target. */
static NtsProbeResult *
parse_result (GVariant *dict, const NtsProbeTarget *target, gboolean secrets, guint index,
              GError **error)
{
  g_autofree char *where = NULL;
  g_autoptr(NtsProbeResult) result = NULL;
  g_autoptr(GVariant) server = NULL;
  g_autoptr(GVariant) port = NULL;
  g_autoptr(GVariant) phase = NULL;
  g_autoptr(GVariant) clock_suspect = NULL;
  g_autoptr(GVariant) stratum = NULL;
  g_autofree char *message = NULL;
  guint16 expected_port = target->port != 0 ? target->port : NTS_PROBE_DEFAULT_KE_PORT;

  /* The target's name was validated by the caller: safe to print. */
  where = g_strdup_printf ("probe answer: result %u (%s)", index + 1, target->name);
  if (!require (dict, "server", G_VARIANT_TYPE_STRING, &server, where, error) ||
      !require (dict, "port", G_VARIANT_TYPE_UINT16, &port, where, error) ||
      !require (dict, "result", G_VARIANT_TYPE_STRING, &phase, where, error))
    return NULL;
  if (strcmp (g_variant_get_string (server, NULL), target->name) != 0)
    {
      fail (error, where, "is for another server");
      return NULL;
    }
  if (g_variant_get_uint16 (port) != expected_port)
    {
      fail (error, where, "is for port %u, not %u", g_variant_get_uint16 (port), expected_port);
      return NULL;
    }
  result = nts_probe_result_new (target->name, expected_port);
  if (!nts_probe_phase_from_string (g_variant_get_string (phase, NULL), &result->phase))
    {
      fail (error, where, "\"result\" is not a known phase");
      return NULL;
    }

  if (!lookup_text (dict, "message", NTS_PROBE_MAX_TEXT, &message, where, error))
    return NULL;
  if (message == NULL)
    {
      fail (error, where, "no \"message\"");
      return NULL;
    }
  g_free (result->message);
  result->message = g_steal_pointer (&message);

  if (!lookup_text (dict, "address", NTS_PROBE_MAX_TEXT, &result->address, where, error) ||
      !lookup_text (dict, "same-address-as", MAX_SERVER_NAME, &result->same_address_as, where,
                    error) ||
      !parse_cert_problems (dict, &result->cert_problems, where, error) ||
      !lookup_text (dict, "certificate-subject", NTS_PROBE_MAX_TEXT, &result->cert_subject,
                    where, error) ||
      !lookup_text (dict, "certificate-issuer", NTS_PROBE_MAX_TEXT, &result->cert_issuer, where,
                    error) ||
      !lookup_cert_time (dict, "certificate-not-before", &result->cert_not_before, where,
                         error) ||
      !lookup_cert_time (dict, "certificate-not-after", &result->cert_not_after, where, error) ||
      !lookup (dict, "clock-suspect", G_VARIANT_TYPE_BOOLEAN, &clock_suspect, where, error) ||
      !lookup_uint16 (dict, "aead", &result->aead, where, error) ||
      !lookup_text (dict, "ntp-server", NTS_PROBE_MAX_TEXT, &result->ntp_server, where, error) ||
      !lookup_uint16 (dict, "ntp-port", &result->ntp_port, where, error) ||
      !lookup_code (dict, "ke-error", &result->ke_error, where, error) ||
      !lookup_code (dict, "ke-warning", &result->ke_warning, where, error) ||
      !lookup_count (dict, "ke-cookies", MAX_COOKIE_COUNT, &result->ke_cookies, where, error) ||
      !lookup_count (dict, "ntp-cookies", MAX_COOKIE_COUNT, &result->ntp_cookies, where,
                     error) ||
      !lookup (dict, "stratum", G_VARIANT_TYPE_BYTE, &stratum, where, error) ||
      !lookup_double (dict, "rtt", 0, MAX_SECONDS, &result->rtt, where, error) ||
      !lookup_double (dict, "offset", -MAX_OFFSET, MAX_OFFSET, &result->offset, where, error) ||
      !parse_kiss (dict, result, where, error) ||
      !parse_times (dict, result->times, where, error) ||
      !parse_secrets (dict, secrets, result, where, error))
    return NULL;

  if (result->address != NULL)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (result->address);

      if (address == NULL)
        {
          fail (error, where, "\"address\" is not an IP address");
          return NULL;
        }
    }
  result->clock_suspect = clock_suspect != NULL && g_variant_get_boolean (clock_suspect);
  if (stratum != NULL)
    {
      result->stratum = g_variant_get_byte (stratum);
      if (result->stratum > MAX_STRATUM)
        {
          fail (error, where, "\"stratum\" %u is more than %u", result->stratum, MAX_STRATUM);
          return NULL;
        }
    }
  return g_steal_pointer (&result);
}

/* "same-address-as" names an earlier server of the request whose result
 * has the same address. */
static gboolean
check_same_address (GPtrArray *results, guint index, GError **error)
{
  const NtsProbeResult *result = results->pdata[index];

  if (result->same_address_as == NULL)
    return TRUE;
  if (result->address == NULL)
    return fail (error, "probe answer", "result %u (%s): \"same-address-as\" without an address",
                 index + 1, result->server);
  for (guint i = 0; i < index; i++)
    {
      const NtsProbeResult *earlier = results->pdata[i];

      if (strcmp (earlier->server, result->same_address_as) == 0 &&
          g_strcmp0 (earlier->address, result->address) == 0)
        return TRUE;
    }
  return fail (error, "probe answer",
               "result %u (%s): \"same-address-as\" is no earlier server with its address",
               index + 1, result->server);
}

GPtrArray *
nts_probe_answer_parse (GBytes *bytes, const NtsProbeRequest *request, GError **error)
{
  static const char where[] = "probe answer";
  g_autoptr(GVariant) dict = parse_dict (bytes, NTS_PROBE_MAX_ANSWER, where, error);
  g_autoptr(GVariant) version = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GPtrArray) results = NULL;
  gsize n;

  if (dict == NULL)
    return NULL;
  if (!require (dict, "version", G_VARIANT_TYPE_UINT32, &version, where, error) ||
      !require (dict, "results", G_VARIANT_TYPE ("aa{sv}"), &list, where, error))
    return NULL;
  if (g_variant_get_uint32 (version) != NTS_PROBE_WIRE_VERSION)
    {
      fail (error, where, "version %u, not %u", g_variant_get_uint32 (version),
            NTS_PROBE_WIRE_VERSION);
      return NULL;
    }
  n = g_variant_n_children (list);
  if (n != request->servers->len)
    {
      fail (error, where, "%zu results for %u servers", n, request->servers->len);
      return NULL;
    }

  results = g_ptr_array_new_with_free_func ((GDestroyNotify) nts_probe_result_free);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GVariant) item = g_variant_get_child_value (list, i);
      g_autoptr(GHashTable) keys = g_hash_table_new (g_str_hash, g_str_equal);
      NtsProbeResult *result;
      GVariantIter iter;
      const char *key;
      GVariant *value;

      g_variant_iter_init (&iter, item);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          g_variant_unref (value);
          if (!g_hash_table_add (keys, (gpointer) key))
            {
              fail (error, where, "result %u: a key is given twice", i + 1);
              return NULL;
            }
        }
      result = parse_result (item, request->servers->pdata[i], request->secrets, i, error);
      if (result == NULL)
        return NULL;
      g_ptr_array_add (results, result);
      if (!check_same_address (results, i, error))
        return NULL;
    }
  return g_steal_pointer (&results);
}

/* Framing. */

static gboolean
wait_fd (int fd, short events, GError **error)
{
  struct pollfd pfd = { .fd = fd, .events = events };

  while (poll (&pfd, 1, -1) < 0)
    if (errno != EINTR)
      {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "poll: %s",
                     g_strerror (saved));
        return FALSE;
      }
  return TRUE;
}

static gboolean
write_all (int fd, const guint8 *data, gsize size, GError **error)
{
  gboolean is_socket = TRUE;

  while (size > 0)
    {
      ssize_t n;

      /* MSG_NOSIGNAL: a peer gone is an error here, not a SIGPIPE. */
      if (is_socket)
        {
          n = send (fd, data, size, MSG_NOSIGNAL);
          if (n < 0 && errno == ENOTSOCK)
            {
              is_socket = FALSE;
              continue;
            }
        }
      else
        n = write (fd, data, size);
      if (n < 0)
        {
          int saved = errno;

          if (saved == EINTR)
            continue;
          if (saved == EAGAIN || saved == EWOULDBLOCK)
            {
              if (!wait_fd (fd, POLLOUT, error))
                return FALSE;
              continue;
            }
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "writing a probe message: %s", g_strerror (saved));
          return FALSE;
        }
      data += n;
      size -= n;
    }
  return TRUE;
}

gboolean
nts_probe_frame_write (int fd, GBytes *body, GError **error)
{
  gsize size = g_bytes_get_size (body);
  guint8 header[4];

  if (size > MAX (NTS_PROBE_MAX_REQUEST, NTS_PROBE_MAX_ANSWER))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "a probe message of %zu bytes is over the bound of %u", size,
                   MAX (NTS_PROBE_MAX_REQUEST, NTS_PROBE_MAX_ANSWER));
      return FALSE;
    }
  header[0] = size >> 24;
  header[1] = size >> 16;
  header[2] = size >> 8;
  header[3] = size;
  return write_all (fd, header, sizeof header, error) &&
         write_all (fd, g_bytes_get_data (body, NULL), size, error);
}

/* Reads exactly @size bytes; *got says how many came before an end of
 * file (FALSE without an error) or an error (FALSE with one). */
static gboolean
read_all (int fd, guint8 *data, gsize size, gsize *got, GError **error)
{
  *got = 0;
  while (*got < size)
    {
      ssize_t n = read (fd, data + *got, size - *got);

      if (n < 0)
        {
          int saved = errno;

          if (saved == EINTR)
            continue;
          if (saved == EAGAIN || saved == EWOULDBLOCK)
            {
              if (!wait_fd (fd, POLLIN, error))
                return FALSE;
              continue;
            }
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "reading a probe message: %s", g_strerror (saved));
          return FALSE;
        }
      if (n == 0)
        return FALSE;
      *got += n;
    }
  return TRUE;
}

GBytes *
nts_probe_frame_read (int fd, gsize max, GError **error)
{
  guint8 header[4];
  guint8 *body;
  gsize size, got;
  GError *local = NULL;

  if (!read_all (fd, header, sizeof header, &got, &local))
    {
      if (local != NULL)
        g_propagate_error (error, local);
      else if (got == 0)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                     "the probe's peer closed without sending a message");
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                     "the probe's peer closed in the middle of a message's length");
      return NULL;
    }
  size = ((gsize) header[0] << 24) | ((gsize) header[1] << 16) | ((gsize) header[2] << 8) |
         header[3];
  if (size > max)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "a probe message of %zu bytes is over the bound of %zu", size, max);
      return NULL;
    }
  body = g_malloc (MAX (size, 1));
  if (!read_all (fd, body, size, &got, &local))
    {
      explicit_bzero (body, size);
      g_free (body);
      if (local != NULL)
        g_propagate_error (error, local);
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                     "the probe's peer closed in the middle of a message (%zu of %zu bytes)",
                     got, size);
      return NULL;
    }
  return secret_bytes_take (body, size);
}
