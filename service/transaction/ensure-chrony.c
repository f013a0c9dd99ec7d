/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ensure-chrony.h"

#include "nts-errors.h"
#include "packagekit-client.h"
#include "task-tag.h"

static guint transaction_timeout_ms;

void
nts_ensure_chrony_set_timeout_ms (guint timeout_ms)
{
  transaction_timeout_ms = timeout_ms;
}

const char *
nts_chrony_install_command (const NtsLayout *layout)
{
  const char *profile = layout != NULL ? layout->profile : NULL;

  if (g_strcmp0 (profile, "debian") == 0)
    return "apt install chrony";
  if (g_strcmp0 (profile, "arch") == 0)
    return "pacman -S chrony";
  if (g_strcmp0 (profile, "fedora") == 0)
    return "dnf install chrony";
  return "install the chrony package with the distribution's package manager";
}

/* ---- errors a person can act on ---------------------------------------- */

/* @doing: "install chrony", "reinstall systemd-timesyncd", ... */
static GError *
package_error (GError *error, const char *doing)
{
  g_autoptr(GError) cause = error;

  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_steal_pointer (&cause);
  /* "GDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown: " says
   * nothing the rest of the message does not. */
  g_dbus_error_strip_remote_error (cause);
  if (nts_packagekit_error_is_unavailable (cause))
    return g_error_new (NTS_ERROR, NTS_ERROR_FAILED,
                        "Cannot %s: PackageKit is not available (org.freedesktop.PackageKit is "
                        "not on the system bus and cannot be started): %s", doing, cause->message);
  if (nts_packagekit_error_is_untrusted (cause))
    return g_error_new (NTS_ERROR, NTS_ERROR_FAILED,
                        "Cannot %s: a package cannot be authenticated and ntssetup installs only "
                        "trusted packages (check the repository's signing key): %s",
                        doing, cause->message);
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_error_new (NTS_ERROR, NTS_ERROR_FAILED,
                        "Cannot %s: PackageKit did not finish in time, its transaction was "
                        "cancelled: %s", doing, cause->message);
  return g_error_new (NTS_ERROR, NTS_ERROR_FAILED, "Cannot %s: %s", doing, cause->message);
}

/* The packages a packagekit-client call returned; or NULL, @task failed
 * with what it was doing. With @already_installed, PackageKit's "nothing
 * to install" is no failure: NULL with *@already_installed set. */
static GPtrArray *
packages_or_fail (GTask *task, GAsyncResult *res, const char *doing, gboolean *already_installed)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *packages = nts_packagekit_finish (res, &error);

  if (packages != NULL)
    return packages;
  if (already_installed != NULL &&
      g_error_matches (error, NTS_PACKAGEKIT_ERROR, NTS_PK_ERROR_ALL_PACKAGES_ALREADY_INSTALLED))
    *already_installed = TRUE;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
           !g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    /* Someone else cancelled PackageKit's transaction (pkcon, another
     * client): this step failed, our caller did not give up. */
    g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_FAILED, "Cannot %s: %s", doing,
                             error->message);
  else
    g_task_return_error (task, package_error (g_steal_pointer (&error), doing));
  return NULL;
}

/* ---- package lists ----------------------------------------------------- */

static void
add_unique (GPtrArray *names, const char *name)
{
  /* names_strv() may have terminated it already. */
  if (names->len > 0 && names->pdata[names->len - 1] == NULL)
    g_ptr_array_set_size (names, names->len - 1);
  for (guint i = 0; i < names->len; i++)
    if (g_str_equal (names->pdata[i], name))
      return;
  g_ptr_array_add (names, g_strdup (name));
}

/* The names of @packages whose info is @info, added to @names. */
static void
add_names_with_info (GPtrArray *names, GPtrArray *packages, guint info)
{
  for (guint i = 0; i < packages->len; i++)
    {
      NtsPackage *package = packages->pdata[i];
      g_autofree char *name = NULL;

      if (package->info != info)
        continue;
      name = nts_package_id_name (package->package_id);
      add_unique (names, name);
    }
}

static GPtrArray *
names_new (void)
{
  return g_ptr_array_new_with_free_func (g_free);
}

/* A NULL-terminated view of @names for the strv APIs. */
static const char *const *
names_strv (GPtrArray *names)
{
  if (names->len == 0 || names->pdata[names->len - 1] != NULL)
    g_ptr_array_add (names, NULL);
  return (const char *const *) names->pdata;
}

static NtsPackageChanges *
changes_from_lists (GPtrArray *installed, GPtrArray *removed)
{
  return nts_package_changes_new (names_strv (installed), names_strv (removed));
}

/* ---- plan and install -------------------------------------------------- */

typedef struct {
  GDBusConnection *bus;
  gboolean         install;     /* FALSE: only the plan */
  GPtrArray       *installed;   /* names */
  GPtrArray       *removed;
} EnsureOp;

static void
ensure_op_free (EnsureOp *op)
{
  g_clear_object (&op->bus);
  g_ptr_array_unref (op->installed);
  g_ptr_array_unref (op->removed);
  g_free (op);
}

static void
ensure_return (GTask *task)
{
  EnsureOp *op = g_task_get_task_data (task);

  g_task_return_pointer (task, changes_from_lists (op->installed, op->removed),
                         (GDestroyNotify) nts_package_changes_free);
}

static void
on_installed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  EnsureOp *op = g_task_get_task_data (task);
  g_autoptr(GPtrArray) packages = packages_or_fail (task, res, "install chrony", NULL);

  if (packages == NULL)
    return;
  /* The simulation's list is the one to trust (a real run reports
   * progress, and a backend need not name every removal in it); whatever
   * the real run names on top is added, so an undo misses nothing. */
  add_names_with_info (op->installed, packages, NTS_PK_INFO_INSTALLING);
  add_names_with_info (op->removed, packages, NTS_PK_INFO_REMOVING);
  ensure_return (task);
}

static void
on_simulated (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  EnsureOp *op = g_task_get_task_data (task);
  gboolean already = FALSE;
  g_autoptr(GPtrArray) packages = packages_or_fail (task, res, "install chrony", &already);
  const char *names[] = { NTS_CHRONY_PACKAGE, NULL };

  if (already)
    ensure_return (task);   /* nothing to do, nothing changed */
  if (packages == NULL)
    return;
  add_names_with_info (op->installed, packages, NTS_PK_INFO_INSTALLING);
  add_names_with_info (op->removed, packages, NTS_PK_INFO_REMOVING);
  if (!op->install)
    {
      ensure_return (task);
      return;
    }
  nts_packagekit_install_names_async (op->bus, names, FALSE, transaction_timeout_ms,
                                      g_task_get_cancellable (task), on_installed,
                                      g_object_ref (task));
}

static void
ensure (GDBusConnection *bus, gboolean install, gpointer tag, GCancellable *cancellable,
        GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  EnsureOp *op = g_new0 (EnsureOp, 1);
  const char *names[] = { NTS_CHRONY_PACKAGE, NULL };

  g_task_set_source_tag (task, tag);
  op->bus = g_object_ref (bus);
  op->install = install;
  op->installed = names_new ();
  op->removed = names_new ();
  g_task_set_task_data (task, op, (GDestroyNotify) ensure_op_free);

  /* Simulated first even for the install: it fails for an untrusted
   * package or a missing one before anything changes. */
  nts_packagekit_install_names_async (bus, names, TRUE, transaction_timeout_ms, cancellable,
                                      on_simulated, g_object_ref (task));
}

void
nts_ensure_chrony_plan_async (GDBusConnection *bus, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  ensure (bus, FALSE, NTS_TASK_TAG (nts_ensure_chrony_plan_async),
          cancellable, callback, user_data);
}

NtsPackageChanges *
nts_ensure_chrony_plan_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == NTS_TASK_TAG (nts_ensure_chrony_plan_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
nts_ensure_chrony_install_async (GDBusConnection *bus, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  ensure (bus, TRUE, NTS_TASK_TAG (nts_ensure_chrony_install_async),
          cancellable, callback, user_data);
}

NtsPackageChanges *
nts_ensure_chrony_install_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == NTS_TASK_TAG (nts_ensure_chrony_install_async), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- undo -------------------------------------------------------------- */

/* Resolve (installed) -> [simulate reinstall -> reinstall] -> Resolve
 * (installed) -> [remove]. */
typedef struct {
  GDBusConnection   *bus;
  NtsPackageChanges *changes;
  GPtrArray         *reinstall;   /* names removed then, missing now */
  char              *reinstall_text;
} UndoOp;

static void
undo_op_free (UndoOp *op)
{
  g_clear_object (&op->bus);
  nts_package_changes_free (op->changes);
  g_clear_pointer (&op->reinstall, g_ptr_array_unref);
  g_free (op->reinstall_text);
  g_free (op);
}

static void
on_removed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  UndoOp *op = g_task_get_task_data (task);
  g_autofree char *installed = g_strjoinv (", ", op->changes->installed);
  g_autofree char *doing = g_strdup_printf ("remove %s again", installed);
  g_autoptr(GPtrArray) packages = packages_or_fail (task, res, doing, NULL);

  if (packages != NULL)
    g_task_return_boolean (task, TRUE);
}

static void
on_installed_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  UndoOp *op = g_task_get_task_data (task);
  g_autoptr(GPtrArray) found = packages_or_fail (task, res, "find the packages to remove again", NULL);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();

  if (found == NULL)
    return;
  for (guint i = 0; i < found->len; i++)
    {
      NtsPackage *package = found->pdata[i];
      g_autofree char *name = nts_package_id_name (package->package_id);

      if (package->info == NTS_PK_INFO_INSTALLED &&
          g_strv_contains ((const char *const *) op->changes->installed, name))
        g_ptr_array_add (ids, package->package_id);
    }
  /* Gone already (removed by the reinstall's conflict, by hand, or by an
   * earlier run of this undo). */
  if (ids->len == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_ptr_array_add (ids, NULL);
  nts_packagekit_remove_async (op->bus, (const char *const *) ids->pdata, FALSE,
                               transaction_timeout_ms, g_task_get_cancellable (task), on_removed,
                               g_object_ref (task));
}

static void
remove_installed (GTask *task)
{
  UndoOp *op = g_task_get_task_data (task);

  if (op->changes->installed[0] == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  nts_packagekit_resolve_async (op->bus, (const char *const *) op->changes->installed,
                                NTS_PK_FILTER_INSTALLED, transaction_timeout_ms,
                                g_task_get_cancellable (task), on_installed_resolved,
                                g_object_ref (task));
}

static void
on_reinstalled (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  UndoOp *op = g_task_get_task_data (task);
  g_autofree char *doing = g_strdup_printf ("reinstall %s", op->reinstall_text);
  gboolean already = FALSE;
  g_autoptr(GPtrArray) packages = packages_or_fail (task, res, doing, &already);

  if (packages != NULL || already)
    remove_installed (task);
}

static void
on_reinstall_simulated (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  UndoOp *op = g_task_get_task_data (task);
  g_autofree char *doing = g_strdup_printf ("reinstall %s", op->reinstall_text);
  gboolean already = FALSE;
  g_autoptr(GPtrArray) packages = packages_or_fail (task, res, doing, &already);
  g_autoptr(GPtrArray) removing = names_new ();
  g_autoptr(GPtrArray) foreign = names_new ();

  if (already)
    remove_installed (task);
  if (packages == NULL)
    return;

  /* Taking away what Apply installed is the point; anything else was
   * the administrator's, and an undo must not cost it. */
  add_names_with_info (removing, packages, NTS_PK_INFO_REMOVING);
  for (guint i = 0; i < removing->len; i++)
    if (!g_strv_contains ((const char *const *) op->changes->installed, removing->pdata[i]))
      add_unique (foreign, removing->pdata[i]);
  if (foreign->len > 0)
    {
      g_autofree char *text = g_strjoinv (", ", (char **) names_strv (foreign));

      g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_FAILED,
                               "Cannot reinstall %s: PackageKit would also remove %s, which "
                               "ntssetup did not install; nothing was changed, reinstall %s by hand",
                               op->reinstall_text, text, op->reinstall_text);
      return;
    }
  nts_packagekit_install_names_async (op->bus, names_strv (op->reinstall), FALSE,
                                      transaction_timeout_ms, g_task_get_cancellable (task),
                                      on_reinstalled, g_object_ref (task));
}

static void
on_undo_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  UndoOp *op = g_task_get_task_data (task);
  g_autoptr(GPtrArray) found = packages_or_fail (task, res, "find the packages to reinstall", NULL);
  g_autoptr(GPtrArray) present = names_new ();

  if (found == NULL)
    return;
  add_names_with_info (present, found, NTS_PK_INFO_INSTALLED);
  for (char **name = op->changes->removed; *name != NULL; name++)
    if (!g_strv_contains (names_strv (present), *name))
      add_unique (op->reinstall, *name);

  if (op->reinstall->len == 0)
    {
      remove_installed (task);
      return;
    }
  op->reinstall_text = g_strjoinv (", ", (char **) names_strv (op->reinstall));
  nts_packagekit_install_names_async (op->bus, names_strv (op->reinstall), TRUE,
                                      transaction_timeout_ms, g_task_get_cancellable (task),
                                      on_reinstall_simulated, g_object_ref (task));
}

void
nts_packages_undo_async (GDBusConnection *bus, const NtsPackageChanges *changes,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  UndoOp *op = g_new0 (UndoOp, 1);

  nts_task_set_source_tag (task, nts_packages_undo_async);
  op->bus = g_object_ref (bus);
  op->changes = nts_package_changes_copy (changes);
  op->reinstall = names_new ();
  g_task_set_task_data (task, op, (GDestroyNotify) undo_op_free);

  if (changes->removed[0] == NULL)
    {
      remove_installed (task);
      return;
    }
  nts_packagekit_resolve_async (bus, (const char *const *) changes->removed,
                                NTS_PK_FILTER_INSTALLED, transaction_timeout_ms, cancellable,
                                on_undo_resolved, g_object_ref (task));
}

gboolean
nts_packages_undo_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == NTS_TASK_TAG (nts_packages_undo_async), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
