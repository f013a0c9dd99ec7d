/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See operators.h. */
#include "operators.h"

#include <gio/gio.h>
#include <string.h>

#define NAME_MAX_LEN 64
#define PATTERN_MAX_LEN 253
#define PATTERNS_MAX 64

/* The operators of the servers the reference document configures, and
 * the names they publish for their NTS service. Netnod runs nts.netnod.se
 * (and per-site names under it) as well as the Stockholm servers under
 * ntp.se; PTB numbers its servers ptbtime1, ptbtime2, ... */
static const struct {
  const char *name;
  const char *patterns;
} builtin[] = {
  { "Cloudflare", "time.cloudflare.com *.time.cloudflare.com" },
  { "Netnod", "nts.netnod.se *.nts.netnod.se nts.sth*.ntp.se" },
  { "PTB", "ptbtime*.ptb.de" },
};

typedef struct {
  char         *name;
  GPatternSpec *pattern;
} Entry;

struct _NtsOperators {
  GPtrArray *override;  /* Entry *, file order */
  GPtrArray *builtin;   /* Entry * */
};

static void
entry_free (Entry *entry)
{
  g_free (entry->name);
  g_pattern_spec_free (entry->pattern);
  g_free (entry);
}

static gboolean
pattern_is_valid (const char *pattern)
{
  gsize len = strlen (pattern);

  if (len == 0 || len > PATTERN_MAX_LEN)
    return FALSE;
  /* Host names, IPv4 and IPv6 literals, and the glob star. GPatternSpec
   * would also treat '?' as a wildcard; keeping it out keeps the format
   * to the one documented rule. */
  for (const char *p = pattern; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr (".-:*", *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
name_is_valid (const char *name)
{
  gsize len = strlen (name);

  if (len == 0 || len > NAME_MAX_LEN || !g_utf8_validate (name, -1, NULL))
    return FALSE;
  /* It ends up in a report a person reads and on D-Bus. */
  for (const char *p = name; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static gboolean
add_entries (GPtrArray *to, const char *name, const char *patterns, GError **error)
{
  g_auto(GStrv) words = NULL;
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);

  if (!name_is_valid (name))
    {
      /* Escaped: a name is refused for bytes a D-Bus string can't hold. */
      g_autofree char *shown = g_strescape (name, NULL);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "operator name \"%s\" is empty, longer than %d bytes, not UTF-8 "
                   "or has control characters", shown, NAME_MAX_LEN);
      return FALSE;
    }

  words = g_strsplit_set (patterns, " \t", -1);
  for (char **w = words; *w != NULL; w++)
    {
      Entry *entry;
      g_autofree char *lower = NULL;

      if (**w == '\0')
        continue;
      if (!pattern_is_valid (*w))
        {
          g_autofree char *shown = g_strescape (*w, NULL);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "operator \"%s\": \"%s\" is not a name or address pattern "
                       "(letters, digits, \".-:\" and \"*\")", name, shown);
          return FALSE;
        }
      if (entries->len >= PATTERNS_MAX)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "operator \"%s\": more than %d patterns", name, PATTERNS_MAX);
          return FALSE;
        }
      lower = g_ascii_strdown (*w, -1);
      entry = g_new0 (Entry, 1);
      entry->name = g_strdup (name);
      entry->pattern = g_pattern_spec_new (lower);
      g_ptr_array_add (entries, entry);
    }

  if (entries->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "operator \"%s\" has no patterns", name);
      return FALSE;
    }

  g_ptr_array_extend_and_steal (to, g_steal_pointer (&entries));
  return TRUE;
}

NtsOperators *
nts_operators_new_builtin (void)
{
  NtsOperators *operators = g_new0 (NtsOperators, 1);

  operators->override = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  operators->builtin = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  for (gsize i = 0; i < G_N_ELEMENTS (builtin); i++)
    {
      gboolean ok = add_entries (operators->builtin, builtin[i].name, builtin[i].patterns, NULL);
      g_assert (ok);
    }
  return operators;
}

void
nts_operators_free (NtsOperators *operators)
{
  if (operators == NULL)
    return;
  g_ptr_array_unref (operators->override);
  g_ptr_array_unref (operators->builtin);
  g_free (operators);
}

gboolean
nts_operators_add (NtsOperators *operators,
                   const char   *name,
                   const char   *patterns,
                   GError      **error)
{
  g_return_val_if_fail (operators != NULL && name != NULL && patterns != NULL, FALSE);

  return add_entries (operators->override, name, patterns, error);
}

gboolean
nts_operators_add_from_key_file (NtsOperators *operators,
                                 GKeyFile     *keyfile,
                                 const char   *group,
                                 GError      **error)
{
  g_auto(GStrv) keys = NULL;

  if (!g_key_file_has_group (keyfile, group))
    return TRUE;

  keys = g_key_file_get_keys (keyfile, group, NULL, NULL);
  for (char **key = keys; keys != NULL && *key != NULL; key++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autofree char *value = g_key_file_get_string (keyfile, group, *key, &local_error);

      /* g_key_file_get_string() can return a value and an error (a bad
       * escape, a trailing backslash): the error is what counts. */
      if (local_error != NULL || !nts_operators_add (operators, *key, value, &local_error))
        {
          /* GKeyFile takes any bytes in a key and quotes it as it is; the
           * message goes out as a D-Bus string, so both are made UTF-8. */
          g_autofree char *shown = g_strescape (*key, NULL);
          g_autofree char *message = g_utf8_make_valid (local_error->message, -1);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "[%s] %s: %s",
                       group, shown, message);
          return FALSE;
        }
    }
  return TRUE;
}

static const char *
match (GPtrArray *entries, const char *name, const char *address)
{
  for (guint i = 0; i < entries->len; i++)
    {
      Entry *entry = entries->pdata[i];

      if ((name != NULL && g_pattern_spec_match_string (entry->pattern, name)) ||
          (address != NULL && g_pattern_spec_match_string (entry->pattern, address)))
        return entry->name;
    }
  return NULL;
}

const char *
nts_operators_lookup (const NtsOperators *operators,
                      const char         *name,
                      const char         *address)
{
  g_autofree char *lower_name = NULL;
  g_autofree char *lower_address = NULL;
  const char *found;

  g_return_val_if_fail (operators != NULL, NULL);

  /* DNS names compare without regard to case; a trailing dot (the
   * absolute form) names the same host. */
  if (name != NULL && *name != '\0')
    {
      lower_name = g_ascii_strdown (name, -1);
      if (g_str_has_suffix (lower_name, ".") && strlen (lower_name) > 1)
        lower_name[strlen (lower_name) - 1] = '\0';
    }
  if (address != NULL && *address != '\0')
    lower_address = g_ascii_strdown (address, -1);

  found = match (operators->override, lower_name, lower_address);
  if (found == NULL)
    found = match (operators->builtin, lower_name, lower_address);
  return found;
}
