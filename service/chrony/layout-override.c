/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See layout-override.h. The file:
 *
 *   [chrony]
 *   profile=debian                     # defaults to take the rest from
 *   chronyd-path=/usr/sbin/chronyd
 *   config-file=/etc/chrony/chrony.conf
 *   keys-file=/etc/chrony/chrony.keys
 *   log-dir=/var/log/chrony
 *   state-dir=/var/lib/chrony
 *   run-dir=/run/chrony
 *   socket-path=/run/chrony/chronyd.sock
 *   user=_chrony
 *   group=_chrony
 *   unit=chrony.service
 *   timesyncd-unit=systemd-timesyncd.service
 *   options-env-file=/etc/default/chrony   # empty: the unit reads none
 *   options-var=DAEMON_OPTS                # empty: none
 *
 * Every key is optional. An unknown key or group is an error rather than
 * ignored: a typo would otherwise silently leave the default in place.
 * The [operators] group's entries are checked and kept by operators.c
 * (nts_operators_add_from_key_file()). */

#include "layout-override.h"

#include <string.h>

#define OVERRIDE_GROUP "chrony"
#define OVERRIDE_MAX_SIZE (64 * 1024)

gboolean
nts_layout_value_is_path (const char *value)
{
  g_auto(GStrv) parts = NULL;

  if (value[0] != '/' || value[1] == '\0' || strlen (value) > 1024)
    return FALSE;
  for (const char *p = value; *p; p++)
    if (!(g_ascii_isalnum (*p) || strchr ("/._-+@", *p) != NULL))
      return FALSE;
  parts = g_strsplit (value + 1, "/", -1);
  for (char **part = parts; *part; part++)
    if (**part == '\0' || strcmp (*part, ".") == 0 || strcmp (*part, "..") == 0)
      return FALSE;
  return TRUE;
}

gboolean
nts_layout_value_is_account (const char *value)
{
  gsize len = strlen (value);

  if (len == 0 || len > 32 || value[0] == '-')
    return FALSE;
  for (const char *p = value; *p; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_' || *p == '-' || *p == '.'))
      return FALSE;
  return TRUE;
}

gboolean
nts_layout_value_is_unit (const char *value)
{
  gsize len = strlen (value);

  if (len > 255 || !g_str_has_suffix (value, ".service") || len == strlen (".service"))
    return FALSE;
  for (const char *p = value; *p; p++)
    if (!(g_ascii_isalnum (*p) || strchr (":_.@\\-", *p) != NULL))
      return FALSE;
  return value[0] != '.' && value[0] != '-';
}

static gboolean
is_variable_name (const char *value)
{
  if (!(g_ascii_isalpha (value[0]) || value[0] == '_'))
    return FALSE;
  for (const char *p = value; *p; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_'))
      return FALSE;
  return TRUE;
}

typedef enum {
  SHAPE_PATH,
  SHAPE_OPTIONAL_PATH,   /* empty = none */
  SHAPE_ACCOUNT,
  SHAPE_UNIT,
  SHAPE_OPTIONAL_VARIABLE,
  SHAPE_PROFILE,
} Shape;

static const struct {
  const char *key;
  gsize offset;
  Shape shape;
} keys[] = {
  { "profile", G_STRUCT_OFFSET (NtsLayout, profile), SHAPE_PROFILE },
  { "chronyd-path", G_STRUCT_OFFSET (NtsLayout, chronyd_path), SHAPE_PATH },
  { "config-file", G_STRUCT_OFFSET (NtsLayout, config_file), SHAPE_PATH },
  { "keys-file", G_STRUCT_OFFSET (NtsLayout, keys_file), SHAPE_PATH },
  { "log-dir", G_STRUCT_OFFSET (NtsLayout, log_dir), SHAPE_PATH },
  { "state-dir", G_STRUCT_OFFSET (NtsLayout, state_dir), SHAPE_PATH },
  { "run-dir", G_STRUCT_OFFSET (NtsLayout, run_dir), SHAPE_PATH },
  { "socket-path", G_STRUCT_OFFSET (NtsLayout, socket_path), SHAPE_PATH },
  { "user", G_STRUCT_OFFSET (NtsLayout, user), SHAPE_ACCOUNT },
  { "group", G_STRUCT_OFFSET (NtsLayout, group), SHAPE_ACCOUNT },
  { "unit", G_STRUCT_OFFSET (NtsLayout, unit), SHAPE_UNIT },
  { "timesyncd-unit", G_STRUCT_OFFSET (NtsLayout, timesyncd_unit), SHAPE_UNIT },
  { "options-env-file", G_STRUCT_OFFSET (NtsLayout, options_env_file), SHAPE_OPTIONAL_PATH },
  { "options-var", G_STRUCT_OFFSET (NtsLayout, options_var), SHAPE_OPTIONAL_VARIABLE },
};

#define FIELD(layout, offset) (*(char **) G_STRUCT_MEMBER_P ((layout), (offset)))

static const char *
shape_problem (Shape shape, const char *value)
{
  switch (shape)
    {
    case SHAPE_PATH:
      return nts_layout_value_is_path (value) ? NULL
        : "not an absolute path of letters, digits and /._-+@ without empty, . or .. components";
    case SHAPE_OPTIONAL_PATH:
      return value[0] == '\0' ? NULL : shape_problem (SHAPE_PATH, value);
    case SHAPE_ACCOUNT:
      return nts_layout_value_is_account (value) ? NULL
        : "not a user or group name (letters, digits, _ . -; not starting with -)";
    case SHAPE_UNIT:
      return nts_layout_value_is_unit (value) ? NULL : "not a service unit name (NAME.service)";
    case SHAPE_OPTIONAL_VARIABLE:
      return value[0] == '\0' || is_variable_name (value) ? NULL
        : "not an environment variable name";
    case SHAPE_PROFILE:
      return nts_distro_profile_lookup (value) != NULL ? NULL : "not a known profile";
    default:
      g_assert_not_reached ();
    }
}

static NtsLayoutOverride *
override_new (void)
{
  NtsLayoutOverride *override = g_new0 (NtsLayoutOverride, 1);

  override->layout = g_new0 (NtsLayout, 1);
  override->operators = nts_operators_new_builtin ();
  return override;
}

void
nts_layout_override_free (NtsLayoutOverride *override)
{
  if (override == NULL)
    return;
  /* Only the fields of keys[] are ever set here: freeing them needs
   * nothing of layout.c, which calls this module, not the other way. */
  if (override->layout != NULL)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
        g_free (FIELD (override->layout, keys[i].offset));
      g_free (override->layout);
    }
  nts_operators_free (override->operators);
  g_free (override);
}

NtsLayoutOverride *
nts_layout_override_load (NtsRoot *root, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  gsize length;

  g_return_val_if_fail (root != NULL, NULL);

  if (!nts_root_get_contents (root, NTS_LAYOUT_OVERRIDE_FILE, OVERRIDE_MAX_SIZE,
                              &text, &length, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return override_new ();
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return nts_layout_override_parse (text, length, error);
}

NtsLayoutOverride *
nts_layout_override_parse (const char  *text,
                           gsize        length,
                           GError     **error)
{
  g_autoptr(NtsLayoutOverride) override = override_new ();
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) groups = NULL;
  g_auto(GStrv) names = NULL;

  if (!g_key_file_load_from_data (keyfile, text, length, G_KEY_FILE_NONE, &local_error))
    {
      /* GKeyFile quotes a bad group name as it is, in whatever bytes the
       * file holds; the message goes out as a D-Bus string. */
      g_autofree char *message = g_utf8_make_valid (local_error->message, -1);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: %s", NTS_LAYOUT_OVERRIDE_FILE, message);
      return NULL;
    }

  groups = g_key_file_get_groups (keyfile, NULL);
  for (char **group = groups; *group != NULL; group++)
    if (strcmp (*group, OVERRIDE_GROUP) != 0 &&
        strcmp (*group, NTS_OPERATORS_OVERRIDE_GROUP) != 0)
      {
        /* GKeyFile takes any bytes in a group or key name, and the
         * message must be UTF-8 for D-Bus: names are shown escaped. */
        g_autofree char *shown = g_strescape (*group, NULL);

        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                     "%s: unknown group [%s]; the settings go in [%s] "
                     "(see docs/layout.md)", NTS_LAYOUT_OVERRIDE_FILE, shown, OVERRIDE_GROUP);
        return NULL;
      }

  /* A mistake in [operators] fails every call like one in [chrony]. */
  if (!nts_operators_add_from_key_file (override->operators, keyfile,
                                        NTS_OPERATORS_OVERRIDE_GROUP, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s",
                   NTS_LAYOUT_OVERRIDE_FILE, local_error->message);
      return NULL;
    }

  names = g_key_file_get_keys (keyfile, OVERRIDE_GROUP, NULL, NULL);
  for (char **name = names; names != NULL && *name != NULL; name++)
    {
      g_autofree char *value = NULL;
      const char *problem;
      gsize i;

      for (i = 0; i < G_N_ELEMENTS (keys); i++)
        if (strcmp (keys[i].key, *name) == 0)
          break;
      if (i == G_N_ELEMENTS (keys))
        {
          g_autofree char *shown = g_strescape (*name, NULL);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s: [%s] has no key \"%s\" (see docs/layout.md)",
                       NTS_LAYOUT_OVERRIDE_FILE, OVERRIDE_GROUP, shown);
          return NULL;
        }

      value = g_key_file_get_string (keyfile, OVERRIDE_GROUP, *name, &local_error);
      /* A bad escape or a trailing backslash comes back as a value and an
       * error: the value is not what the administrator meant. */
      if (local_error != NULL)
        {
          /* GKeyFile quotes one byte after a bad backslash, which may be
           * half a UTF-8 character; the message goes out over D-Bus. */
          g_autofree char *message = g_utf8_make_valid (local_error->message, -1);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s: %s: %s", NTS_LAYOUT_OVERRIDE_FILE, *name, message);
          return NULL;
        }
      problem = shape_problem (keys[i].shape, value);
      if (problem != NULL)
        {
          g_autofree char *shown = g_strescape (value, NULL);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s: %s=\"%s\" is %s", NTS_LAYOUT_OVERRIDE_FILE, *name, shown, problem);
          return NULL;
        }

      if (keys[i].shape == SHAPE_PROFILE)
        override->profile = nts_distro_profile_lookup (value);
      if (keys[i].shape == SHAPE_OPTIONAL_PATH || keys[i].shape == SHAPE_OPTIONAL_VARIABLE)
        override->options_given = TRUE;

      /* An empty optional value stands for "none". */
      g_free (FIELD (override->layout, keys[i].offset));
      FIELD (override->layout, keys[i].offset) = value[0] != '\0' ? g_steal_pointer (&value) : NULL;
    }

  return g_steal_pointer (&override);
}
