/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Resolving NtsLayout: where chrony lives on the managed system.
 *
 * Each field takes the first answer of: the override file
 * (layout-override.c), the installed chronyd (`chronyd -h`,
 * chronyd-help.c), systemd (which unit name is real),
 * the distribution profile (distro-profiles.c). The slow sources run
 * asynchronously and bounded; one that fails or times out is skipped,
 * because the next still gives a usable answer. Only a broken override
 * file is an error: the administrator wrote it and must hear about it.
 * docs/layout.md describes all of it for administrators.
 *
 * The steps below come in reverse order, each defined before the step
 * that hands over to it: the end, systemd, chronyd, the entry point. */

#include "layout.h"

#include "accounts.h"
#include "chronyd-help.h"
#include "distro-profiles.h"
#include "layout-override.h"
#include "systemd-client.h"
#include "task-tag.h"

#include <string.h>

#define OS_RELEASE_MAX_SIZE (64 * 1024)
#define DEFAULT_TIMESYNCD_UNIT "systemd-timesyncd.service"
/* Asked of systemd after the profile's own names: a distribution we have
 * no profile for, or a chrony packaged differently (Frugalware ships
 * chrony.service with Arch-like paths). */
static const char *const well_known_units[] = { "chrony.service", "chronyd.service", NULL };

/* ---- the layout struct ---- */

NtsLayout *
nts_layout_copy (const NtsLayout *layout)
{
  NtsLayout *copy;

  g_return_val_if_fail (layout != NULL, NULL);

  copy = g_new0 (NtsLayout, 1);
  copy->root = layout->root != NULL ? nts_root_ref (layout->root) : NULL;
  copy->profile = g_strdup (layout->profile);
  copy->chronyd_path = g_strdup (layout->chronyd_path);
  copy->chrony_installed = layout->chrony_installed;
  copy->config_file = g_strdup (layout->config_file);
  copy->keys_file = g_strdup (layout->keys_file);
  copy->log_dir = g_strdup (layout->log_dir);
  copy->state_dir = g_strdup (layout->state_dir);
  copy->run_dir = g_strdup (layout->run_dir);
  copy->socket_path = g_strdup (layout->socket_path);
  copy->user = g_strdup (layout->user);
  copy->group = g_strdup (layout->group);
  copy->unit = g_strdup (layout->unit);
  copy->timesyncd_unit = g_strdup (layout->timesyncd_unit);
  copy->options_env_file = g_strdup (layout->options_env_file);
  copy->options_var = g_strdup (layout->options_var);
  return copy;
}

void
nts_layout_free (NtsLayout *layout)
{
  if (layout == NULL)
    return;
  g_clear_pointer (&layout->root, nts_root_unref);
  g_free (layout->profile);
  g_free (layout->chronyd_path);
  g_free (layout->config_file);
  g_free (layout->keys_file);
  g_free (layout->log_dir);
  g_free (layout->state_dir);
  g_free (layout->run_dir);
  g_free (layout->socket_path);
  g_free (layout->user);
  g_free (layout->group);
  g_free (layout->unit);
  g_free (layout->timesyncd_unit);
  g_free (layout->options_env_file);
  g_free (layout->options_var);
  g_free (layout);
}

static char *
root_join (const char *root, const char *path)
{
  gsize len = strlen (root);

  while (len > 0 && root[len - 1] == '/')
    len--;
  return g_strdup_printf ("%.*s%s", (int) len, root, path);
}

char *
nts_layout_host_path (const NtsLayout *layout, const char *path)
{
  g_return_val_if_fail (layout != NULL && path != NULL, NULL);
  return root_join (nts_root_get_host_path (layout->root), path);
}

/* ---- resolving ---- */

typedef struct {
  NtsLayout *layout;               /* filled field by field; NULL = not yet known */
  GDBusConnection *bus;
  const NtsDistroProfile *profile;
  char *os_release;                /* for the message when nothing fits */
  gboolean options_given;          /* options-env-file or options-var, maybe empty */
  GPtrArray *unit_candidates;      /* names to ask systemd, in order */
  guint next_candidate;
} Resolve;

static void
resolve_free (Resolve *r)
{
  nts_layout_free (r->layout);
  g_clear_object (&r->bus);
  g_free (r->os_release);
  g_clear_pointer (&r->unit_candidates, g_ptr_array_unref);
  g_free (r);
}

/* /etc/os-release is normally a relative link to ../usr/lib/os-release;
 * as links are not followed under the root, that case falls through to
 * the file it points to. */
static void
load_os_release (Resolve *r)
{
  static const char *const candidates[] = { "/etc/os-release", "/usr/lib/os-release" };

  for (gsize i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (nts_root_get_contents (r->layout->root, candidates[i], OS_RELEASE_MAX_SIZE,
                               &r->os_release, NULL, NULL))
      return;
}

/* ---- step 4 and the end: profile defaults, derived fields ---- */

#define TAKE_DEFAULT(field, value)                      \
  G_STMT_START {                                        \
    if (r->layout->field == NULL && (value) != NULL)    \
      r->layout->field = g_strdup (value);              \
  } G_STMT_END

static void
fill_from_profile (Resolve *r)
{
  const NtsDistroProfile *p = r->profile;
  g_autofree char *config_dir = NULL;

  /* Until the profile fills in, a set field came from the override or
   * chronyd. A config file named by either is where the keys file belongs
   * too: every profile keeps them side by side. */
  if (r->layout->keys_file == NULL && r->layout->config_file != NULL)
    {
      config_dir = g_path_get_dirname (r->layout->config_file);
      r->layout->keys_file = g_build_filename (config_dir, "chrony.keys", NULL);
    }
  if (r->layout->socket_path == NULL && r->layout->run_dir != NULL)
    r->layout->socket_path = g_build_filename (r->layout->run_dir, "chronyd.sock", NULL);

  TAKE_DEFAULT (timesyncd_unit, DEFAULT_TIMESYNCD_UNIT);
  if (p == NULL)
    return;

  TAKE_DEFAULT (chronyd_path, p->chronyd_path);
  TAKE_DEFAULT (config_file, p->config_file);
  TAKE_DEFAULT (keys_file, p->keys_file);
  TAKE_DEFAULT (log_dir, p->log_dir);
  TAKE_DEFAULT (state_dir, p->state_dir);
  TAKE_DEFAULT (run_dir, p->run_dir);
  TAKE_DEFAULT (socket_path, p->socket_path);
  TAKE_DEFAULT (user, p->user);
  TAKE_DEFAULT (unit, p->unit);
  /* The environment file and its variable go together: an override of
   * either means the administrator described the unit's options. */
  if (!r->options_given)
    {
      TAKE_DEFAULT (options_env_file, p->options_env_file);
      TAKE_DEFAULT (options_var, p->options_var);
    }
}

static gboolean
check_complete (Resolve *r, GError **error)
{
  const struct { const char *key; const char *value; } required[] = {
    { "chronyd-path", r->layout->chronyd_path },
    { "config-file", r->layout->config_file },
    { "keys-file", r->layout->keys_file },
    { "log-dir", r->layout->log_dir },
    { "state-dir", r->layout->state_dir },
    { "run-dir", r->layout->run_dir },
    { "socket-path", r->layout->socket_path },
    { "user", r->layout->user },
    { "unit", r->layout->unit },
  };
  g_autoptr(GString) missing = g_string_new (NULL);
  g_autofree char *id = NULL;
  g_autofree char *id_like = NULL;
  g_autofree char *known = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (required); i++)
    if (required[i].value == NULL)
      g_string_append_printf (missing, "%s%s", missing->len > 0 ? ", " : "", required[i].key);
  if (missing->len == 0)
    return TRUE;

  if (r->os_release != NULL)
    {
      id = nts_os_release_get (r->os_release, "ID");
      id_like = nts_os_release_get (r->os_release, "ID_LIKE");
    }
  known = nts_distro_profile_names ();
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "No distribution profile fits this system (os-release ID \"%s\", "
               "ID_LIKE \"%s\"; profiles: %s) and %s does not name: %s. "
               "Name them there or set profile= (see docs/layout.md).",
               id != NULL ? id : "", id_like != NULL ? id_like : "", known,
               NTS_LAYOUT_OVERRIDE_FILE, missing->str);
  return FALSE;
}

/* NSS may sit on a network directory, so this runs in a worker thread.
 * Under a test root the host's user database answers (accounts.h); a
 * user it does not know gets its own name as group, which is what
 * Debian's and Fedora's packages create anyway. */
static char *
primary_group_of (const char *user)
{
  g_autofree char *group = nts_user_primary_group (user);

  return group != NULL && nts_layout_value_is_account (group) ? g_steal_pointer (&group) : NULL;
}

static void
finish_in_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  Resolve *r = task_data;
  g_autofree char *host_chronyd = NULL;

  if (r->layout->group == NULL)
    r->layout->group = primary_group_of (r->layout->user);
  if (r->layout->group == NULL)
    r->layout->group = g_strdup (r->layout->user);

  host_chronyd = nts_layout_host_path (r->layout, r->layout->chronyd_path);
  r->layout->chrony_installed = g_file_test (host_chronyd, G_FILE_TEST_EXISTS);

  if (r->profile != NULL)
    TAKE_DEFAULT (profile, r->profile->name);
  else
    TAKE_DEFAULT (profile, "custom");

  g_task_return_pointer (task, g_steal_pointer (&r->layout), (GDestroyNotify) nts_layout_free);
}

static void
complete (GTask *task)
{
  Resolve *r = g_task_get_task_data (task);
  GError *error = NULL;

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }

  fill_from_profile (r);
  if (!check_complete (r, &error))
    g_task_return_error (task, error);
  else
    g_task_run_in_thread (task, finish_in_thread);
  g_object_unref (task);
}

/* ---- step 3: systemd ---- */

static void ask_next_unit (GTask *task);

static void
got_unit_state (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Resolve *r = g_task_get_task_data (task);
  g_autoptr(NtsUnitState) state = nts_systemd_get_unit_state_finish (result, NULL);

  /* No systemd, no permission, a timeout: the profile still answers. */
  if (state == NULL)
    complete (task);
  else if (g_strcmp0 (state->load_state, "loaded") != 0)
    ask_next_unit (task);
  else
    {
      /* Id is the real name: asking for an alias gives its target. */
      if (state->id != NULL && nts_layout_value_is_unit (state->id))
        r->layout->unit = g_steal_pointer (&state->id);
      complete (task);
    }
}

static void
ask_next_unit (GTask *task)
{
  Resolve *r = g_task_get_task_data (task);
  const char *name;

  if (r->next_candidate >= r->unit_candidates->len)
    {
      complete (task);
      return;
    }
  name = g_ptr_array_index (r->unit_candidates, r->next_candidate++);
  nts_systemd_get_unit_state_async (r->bus, name, g_task_get_cancellable (task),
                                    got_unit_state, task);
}

static void
add_candidate (GPtrArray *candidates, const char *name)
{
  if (name == NULL)
    return;
  for (guint i = 0; i < candidates->len; i++)
    if (strcmp (g_ptr_array_index (candidates, i), name) == 0)
      return;
  g_ptr_array_add (candidates, (gpointer) name);
}

static void
ask_systemd (GTask *task)
{
  Resolve *r = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  if (r->bus == NULL || r->layout->unit != NULL)
    {
      complete (task);
      return;
    }

  /* Both names of Debian's unit: its chronyd.service alias exists only
   * while chrony is enabled. */
  r->unit_candidates = g_ptr_array_new ();
  if (r->profile != NULL)
    {
      add_candidate (r->unit_candidates, r->profile->unit);
      add_candidate (r->unit_candidates, r->profile->unit_alias);
    }
  for (gsize i = 0; well_known_units[i] != NULL; i++)
    add_candidate (r->unit_candidates, well_known_units[i]);
  ask_next_unit (task);
}

/* ---- step 2: chronyd -h ---- */

static void
help_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Resolve *r = g_task_get_task_data (task);
  g_autofree char *config = NULL;
  g_autofree char *user = NULL;
  g_autoptr(GError) error = NULL;

  if (!nts_chronyd_help_finish (result, &config, &user, &error))
    g_debug ("%s", error->message);

  /* Printed by a program, so checked like any other value. */
  if (r->layout->config_file == NULL && config != NULL && nts_layout_value_is_path (config))
    r->layout->config_file = g_steal_pointer (&config);
  if (r->layout->user == NULL && user != NULL && nts_layout_value_is_account (user))
    r->layout->user = g_steal_pointer (&user);

  ask_systemd (task);
}

static void
ask_chronyd (GTask *task)
{
  Resolve *r = g_task_get_task_data (task);
  const char *path = r->layout->chronyd_path;
  g_autofree char *host_path = NULL;

  if (path == NULL && r->profile != NULL)
    path = r->profile->chronyd_path;
  if (path == NULL || (r->layout->config_file != NULL && r->layout->user != NULL))
    {
      ask_systemd (task);
      return;
    }

  host_path = nts_layout_host_path (r->layout, path);
  if (!g_file_test (host_path, G_FILE_TEST_IS_EXECUTABLE))
    {
      ask_systemd (task);
      return;
    }
  nts_chronyd_help_async (host_path, g_task_get_cancellable (task), help_done, task);
}

/* ---- entry points ---- */

void
nts_layout_resolve_async (NtsRoot             *root,
                          GDBusConnection     *system_bus,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task;
  Resolve *r;
  GError *error = NULL;
  g_autoptr(NtsLayoutOverride) override = NULL;

  g_return_if_fail (root != NULL);
  g_return_if_fail (system_bus == NULL || G_IS_DBUS_CONNECTION (system_bus));

  task = g_task_new (NULL, cancellable, callback, user_data);
  nts_task_set_source_tag (task, nts_layout_resolve_async);
  r = g_new0 (Resolve, 1);
  r->bus = system_bus != NULL ? g_object_ref (system_bus) : NULL;
  g_task_set_task_data (task, r, (GDestroyNotify) resolve_free);

  /* Two small local files; the slow sources below are asynchronous. The
   * override's values come first: the layout starts as what it names. */
  override = nts_layout_override_load (root, &error);
  if (override == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  r->layout = g_steal_pointer (&override->layout);
  r->layout->root = nts_root_ref (root);
  r->profile = override->profile;
  r->options_given = override->options_given;
  load_os_release (r);
  if (r->profile == NULL && r->os_release != NULL)
    r->profile = nts_distro_profile_for_os_release (r->os_release);

  ask_chronyd (task);
}

NtsLayout *
nts_layout_resolve_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == NTS_TASK_TAG (nts_layout_resolve_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
