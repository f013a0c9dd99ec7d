/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "options.h"

#include <gio/gio.h>

#include "server-name.h"

const char *const nts_default_servers[] = {
  "time.cloudflare.com",
  "nts.netnod.se",
  "ptbtime1.ptb.de",
  "ptbtime2.ptb.de",
  "nts.sth1.ntp.se",
  "nts.sth2.ntp.se",
  NULL,
};

typedef struct {
  const char *key;
  const char *type;
} OptionSpec;

/* clang-format off */
static const OptionSpec apply_keys[] = {
  { "servers", "as" },
  { "min-sources", "u" },
  { "install", "b" },
  { "preflight", "b" },
  { "wait-sync", "u" },
  { "allow-clock-far-off", "b" },
  { NULL, NULL },
};
/* clang-format on */

static const OptionSpec verify_keys[] = {
  { "wait", "u" },
  { "probe", "b" },
  { NULL, NULL },
};

static const OptionSpec probe_keys[] = {
  { "nts-port", "q" },
  { NULL, NULL },
};

static const OptionSpec rollback_keys[] = {
  { "force", "b" },
  { NULL, NULL },
};

static char *
known_keys_text (const OptionSpec *specs)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (const OptionSpec *s = specs; s->key; s++)
    g_string_append_printf (text, "%s%s (%s)", text->len ? ", " : "", s->key, s->type);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* Every key known and of the right type, or InvalidArgs saying which is not. */
static gboolean
check_keys (GVariant *options, const OptionSpec *specs, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;
  guint64 seen = 0;   /* bit i: specs[i] given; no table has 64 keys */

  if (!g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   "options must be of type a{sv}, got %s", g_variant_get_type_string (options));
      return FALSE;
    }

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      const OptionSpec *spec = NULL;

      for (const OptionSpec *s = specs; s->key; s++)
        if (g_str_equal (s->key, key))
          spec = s;

      /* An a{sv} may carry a key twice; which one counts would be up to
       * whoever reads it, so neither does. */
      if (spec != NULL && (seen & (G_GUINT64_CONSTANT (1) << (spec - specs))) != 0)
        {
          g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                       "option \"%s\" is given twice", key);
          g_variant_unref (value);
          return FALSE;
        }
      if (spec != NULL)
        seen |= G_GUINT64_CONSTANT (1) << (spec - specs);

      if (spec == NULL)
        {
          g_autofree char *known = known_keys_text (specs);
          g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                       "unknown option key \"%s\"; known keys: %s", key, known);
          g_variant_unref (value);
          return FALSE;
        }
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE (spec->type)))
        {
          g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                       "option \"%s\" must be of type %s, got %s",
                       key, spec->type, g_variant_get_type_string (value));
          g_variant_unref (value);
          return FALSE;
        }
    }
  return TRUE;
}

void
nts_apply_options_free (NtsApplyOptions *options)
{
  if (options == NULL)
    return;
  g_strfreev (options->servers);
  g_free (options);
}

NtsApplyOptions *
nts_apply_options_parse (GVariant *options, GError **error)
{
  g_autoptr(NtsApplyOptions) parsed = g_new0 (NtsApplyOptions, 1);

  if (!check_keys (options, apply_keys, error))
    return NULL;

  if (!g_variant_lookup (options, "servers", "^as", &parsed->servers))
    parsed->servers = g_strdupv ((char **) nts_default_servers);
  if (!g_variant_lookup (options, "min-sources", "u", &parsed->min_sources))
    parsed->min_sources = NTS_DEFAULT_MIN_SOURCES;
  if (!g_variant_lookup (options, "install", "b", &parsed->install))
    parsed->install = FALSE;
  if (!g_variant_lookup (options, "preflight", "b", &parsed->preflight))
    parsed->preflight = TRUE;
  if (!g_variant_lookup (options, "wait-sync", "u", &parsed->wait_sync))
    parsed->wait_sync = NTS_DEFAULT_WAIT_SYNC;
  if (!g_variant_lookup (options, "allow-clock-far-off", "b", &parsed->allow_clock_far_off))
    parsed->allow_clock_far_off = FALSE;

  if (parsed->wait_sync > NTS_MAX_WAIT_SYNC)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   "wait-sync: %u s is more than the maximum of %u s",
                   parsed->wait_sync, NTS_MAX_WAIT_SYNC);
      return NULL;
    }

  if (!nts_server_list_validate ((const char *const *) parsed->servers,
                                 parsed->min_sources, error))
    return NULL;

  return g_steal_pointer (&parsed);
}

gboolean
nts_verify_options_parse (GVariant *options, guint *wait, gboolean *probe, GError **error)
{
  if (!check_keys (options, verify_keys, error))
    return FALSE;
  if (!g_variant_lookup (options, "probe", "b", probe))
    *probe = FALSE;
  if (!g_variant_lookup (options, "wait", "u", wait))
    *wait = 0;
  /* Documented as capped, not rejected: a panel asking for "as long as it
   * takes" gets the longest wait we allow. */
  *wait = MIN (*wait, NTS_MAX_VERIFY_WAIT);
  return TRUE;
}

void
nts_probe_options_free (NtsProbeOptions *options)
{
  if (options == NULL)
    return;
  g_strfreev (options->servers);
  g_free (options);
}

NtsProbeOptions *
nts_probe_options_parse (const char *const *servers, GVariant *options, GError **error)
{
  g_autoptr(NtsProbeOptions) parsed = g_new0 (NtsProbeOptions, 1);

  if (!check_keys (options, probe_keys, error))
    return NULL;
  if (!g_variant_lookup (options, "nts-port", "q", &parsed->nts_port))
    parsed->nts_port = 0;
  if (g_variant_lookup (options, "nts-port", "q", NULL) && parsed->nts_port == 0)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS, "nts-port: 0 is not a port");
      return NULL;
    }
  /* The same names Apply accepts, and no more of them: a probe is sent
   * to each. */
  if (!nts_server_list_validate (servers, 1, error))
    return NULL;
  parsed->servers = g_strdupv ((char **) servers);
  return g_steal_pointer (&parsed);
}

/* Snapshot ids are made by the snapshot store from digits, letters and
 * '-'; anything else cannot name one and must never reach a path. */
static gboolean
snapshot_id_is_well_formed (const char *id)
{
  gsize len = strlen (id);

  if (len > 64)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-')
      return FALSE;
  return len == 0 || id[0] != '-';
}

gboolean
nts_rollback_options_parse (const char *snapshot_id,
                            GVariant   *options,
                            gboolean   *force,
                            GError    **error)
{
  if (!snapshot_id_is_well_formed (snapshot_id))
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   "snapshot_id: \"%s\" is not a snapshot id (letters, digits and '-', "
                   "at most 64; \"\" for the newest)", snapshot_id);
      return FALSE;
    }
  if (!check_keys (options, rollback_keys, error))
    return FALSE;
  if (!g_variant_lookup (options, "force", "b", force))
    *force = FALSE;
  return TRUE;
}
