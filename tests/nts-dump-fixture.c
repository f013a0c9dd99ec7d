/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chronyd's own NTS dumps for tests; see nts-dump-fixture.h. */
#include "nts-dump-fixture.h"

#include <string.h>

guint16
nts_dump_fixture_server_nts_port (NtsLoopback *lb, const char *address)
{
  g_autofree char *path = g_strdup_printf ("%s/s-%s.conf", nts_loopback_get_dir (lb), address);
  g_autofree char *conf = NULL;
  const char *line;

  /* The test bed picks free ports; the server's configuration says which. */
  if (!g_file_get_contents (path, &conf, NULL, NULL))
    return 0;
  line = strstr (conf, "\nntsport ");
  if (line == NULL)
    return 0;
  return (guint16) g_ascii_strtoull (line + strlen ("\nntsport "), NULL, 10);
}

gboolean
nts_dump_fixture_run_chronyd (NtsLoopback *lb, const char *address, const char *dump_dir,
                              GError **error)
{
  g_autofree char *chronyd = NULL;
  g_autofree char *why_not = NULL;
  g_autofree char *server = NULL;
  g_autofree char *certs = NULL;
  g_autofree char *dumpdir = NULL;
  g_autofree char *output = NULL;
  g_autofree char *dump = NULL;
  guint16 port = nts_dump_fixture_server_nts_port (lb, address);
  int status;

  if (port == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no NTS server on %s", address);
      return FALSE;
    }
  if (!nts_loopback_find_programs (&chronyd, NULL, &why_not))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s", why_not);
      return FALSE;
    }
  /* minpoll -4: one sample every 1/16 s, so chronyd -Q is done in about
   * half a second (fine against our own server; never against others'). */
  server = g_strdup_printf ("server %s iburst nts ntsport %u minpoll -4 maxpoll -4", address,
                            port);
  certs = g_strdup_printf ("ntstrustedcerts %s/ca.crt", nts_loopback_get_dir (lb));
  dumpdir = g_strdup_printf ("ntsdumpdir %s", dump_dir);

  {
    const char *const argv[] = { chronyd, "-Q",  "-t",           "15",    "-u", "root",
                                 server,  certs, "nosystemcert", dumpdir, NULL };

    /* -t bounds the run. */
    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                       &output, NULL, &status, error))
      return FALSE;
  }
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "chronyd -Q failed: %s", output);
      return FALSE;
    }
  dump = g_strdup_printf ("%s/%s.nts", dump_dir, address);
  if (!g_file_test (dump, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "chronyd -Q left no %s (it said: %s)", dump, output);
      return FALSE;
    }
  return TRUE;
}

void
nts_dump_parsed_free (NtsDumpParsed *parsed)
{
  if (parsed == NULL)
    return;
  g_free (parsed->name);
  g_free (parsed->time_text);
  g_free (parsed->ntp_address);
  g_clear_pointer (&parsed->cookies, g_ptr_array_unref);
  g_free (parsed);
}

static gboolean
fail (GError **error, const char *path, const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path, what);
  return FALSE;
}

/* Upper-case hex, as chronyd writes it, into a new GBytes. */
static GBytes *
parse_hex (const char *hex)
{
  gsize len = strlen (hex);
  g_autofree guint8 *bytes = NULL;

  if (len == 0 || len % 2 != 0)
    return NULL;
  bytes = g_malloc (len / 2);
  for (gsize i = 0; i < len; i += 2)
    {
      int high = g_ascii_xdigit_value (hex[i]);
      int low = g_ascii_xdigit_value (hex[i + 1]);

      if (high < 0 || low < 0 || g_ascii_islower (hex[i]) || g_ascii_islower (hex[i + 1]))
        return NULL;
      bytes[i / 2] = (guint8) (high << 4 | low);
    }
  return g_bytes_new_take (g_steal_pointer (&bytes), len / 2);
}

static gboolean
parse_key (const char *hex, guint8 key[NTS_DUMP_KEY_LEN])
{
  g_autoptr(GBytes) bytes = parse_hex (hex);

  if (bytes == NULL || g_bytes_get_size (bytes) != NTS_DUMP_KEY_LEN)
    return FALSE;
  memcpy (key, g_bytes_get_data (bytes, NULL), NTS_DUMP_KEY_LEN);
  return TRUE;
}

static gboolean
parse_uint (const char *text, guint64 max, guint64 *value)
{
  return g_ascii_string_to_unsigned (text, 10, 0, max, value, NULL);
}

NtsDumpParsed *
nts_dump_parsed_read (const char *path, GError **error)
{
  g_autoptr(NtsDumpParsed) parsed = g_new0 (NtsDumpParsed, 1);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) address = NULL;
  g_auto(GStrv) keys = NULL;
  guint n;
  guint64 value;
  char *end;

  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines);
  /* Five lines, at least one cookie, and the final newline. */
  if (n < 7 || lines[n - 1][0] != '\0')
    return fail (error, path, "too short or no final newline"), NULL;
  if (strcmp (lines[0], "NNC0") != 0)
    return fail (error, path, "not NNC0"), NULL;
  parsed->name = g_strdup (lines[1]);
  parsed->time_text = g_strdup (lines[2]);
  parsed->ke_time = g_ascii_strtod (lines[2], &end);
  if (end == lines[2] || *end != '\0')
    return fail (error, path, "the time"), NULL;

  address = g_strsplit (lines[3], " ", -1);
  if (g_strv_length (address) != 2 || !parse_uint (address[1], G_MAXUINT16, &value))
    return fail (error, path, "the NTP address line"), NULL;
  parsed->ntp_address = g_strdup (address[0]);
  parsed->ntp_port = (guint16) value;

  keys = g_strsplit (lines[4], " ", -1);
  if (g_strv_length (keys) != 4 || !parse_uint (keys[0], G_MAXUINT32, &value))
    return fail (error, path, "the context line"), NULL;
  parsed->context_id = (guint) value;
  if (!parse_uint (keys[1], G_MAXUINT16, &value))
    return fail (error, path, "the AEAD"), NULL;
  parsed->aead = (guint) value;
  /* The server-to-client key first. */
  if (!parse_key (keys[2], parsed->s2c) || !parse_key (keys[3], parsed->c2s))
    return fail (error, path, "the keys"), NULL;

  parsed->cookies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 5; i < n - 1; i++)
    {
      GBytes *cookie = parse_hex (lines[i]);

      if (cookie == NULL)
        return fail (error, path, "a cookie"), NULL;
      g_ptr_array_add (parsed->cookies, cookie);
    }
  return g_steal_pointer (&parsed);
}

void
nts_dump_parsed_to_entry (const NtsDumpParsed *parsed, const char *ke_address,
                          NtsDumpEntry *entry)
{
  *entry = (NtsDumpEntry) {
    .name = parsed->name,
    .ke_address = ke_address,
    .ntp_address = parsed->ntp_address,
    .ntp_port = parsed->ntp_port,
    .aead = (guint16) parsed->aead,
    .c2s = parsed->c2s,
    .s2c = parsed->s2c,
    .key_len = NTS_DUMP_KEY_LEN,
    .cookies = parsed->cookies,
    .ke_time = parsed->ke_time,
  };
}

gboolean
nts_dump_fixture_chronyc (NtsLoopback *lb, const char *socket_path, const char *const *args,
                          char **output, GError **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL, *err = NULL;
  int status;

  g_ptr_array_add (argv, (gpointer) nts_loopback_get_chronyc (lb));
  g_ptr_array_add (argv, (gpointer) "-h");
  g_ptr_array_add (argv, (gpointer) socket_path);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  /* chronyc bounds its own waits. */
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "chronyc %s failed: %s%s", args[0], out,
                   err);
      return FALSE;
    }
  *output = g_steal_pointer (&out);
  return TRUE;
}

gint64
nts_dump_fixture_ke_accepted (NtsLoopback *lb, const char *address, GError **error)
{
  g_autofree char *socket_path = g_strdup_printf ("%s/s-%s.sock", nts_loopback_get_dir (lb),
                                                  address);
  const char *const args[] = { "serverstats", NULL };
  static const char label[] = "NTS-KE connections accepted:";
  g_autofree char *output = NULL;
  g_autofree char *number = NULL;
  const char *line;
  guint64 value;

  if (!nts_dump_fixture_chronyc (lb, socket_path, args, &output, error))
    return -1;
  line = strstr (output, label);
  if (line == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no \"%s\" in: %s", label,
                   output);
      return -1;
    }
  line += strlen (label);
  while (*line == ' ')
    line++;
  number = g_strndup (line, strcspn (line, "\n"));
  if (!g_ascii_string_to_unsigned (number, 10, 0, G_MAXINT64, &value, error))
    return -1;
  return (gint64) value;
}

gboolean
nts_dump_fixture_wait_loaded (const char *path)
{
  gint64 until = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (g_get_monotonic_time () >= until)
        return FALSE;
      g_usleep (50 * 1000);
    }
  return TRUE;
}

/* @data as upper-case hex, added to @secrets. */
static void
add_upper_hex (GStrvBuilder *secrets, const guint8 *data, gsize len)
{
  g_autoptr(GString) hex = g_string_sized_new (2 * len);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (hex, "%02X", data[i]);
  g_strv_builder_add (secrets, hex->str);
}

GStrv
nts_dump_parsed_secrets_hex (const NtsDumpParsed *parsed)
{
  g_autoptr(GStrvBuilder) secrets = g_strv_builder_new ();

  add_upper_hex (secrets, parsed->s2c, sizeof parsed->s2c);
  add_upper_hex (secrets, parsed->c2s, sizeof parsed->c2s);
  for (guint i = 0; i < parsed->cookies->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (parsed->cookies->pdata[i], &len);

      add_upper_hex (secrets, data, len);
    }
  return g_strv_builder_end (secrets);
}
