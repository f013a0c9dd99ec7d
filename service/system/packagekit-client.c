/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "packagekit-client.h"

#include "task-tag.h"

#define PK_BUS_NAME "org.freedesktop.PackageKit"
#define PK_PATH "/org/freedesktop/PackageKit"
#define PK_IFACE "org.freedesktop.PackageKit"
#define PK_TRANSACTION_IFACE "org.freedesktop.PackageKit.Transaction"
/* Method calls are answered at once; the work is reported by signals. */
#define PK_CALL_TIMEOUT_MS 10000

/* PkTransactionFlagEnum bits. */
#define PK_FLAG_ONLY_TRUSTED (G_GUINT64_CONSTANT (1) << 1)
#define PK_FLAG_SIMULATE     (G_GUINT64_CONSTANT (1) << 2)

/* PkExitEnum */
#define PK_EXIT_SUCCESS   1
#define PK_EXIT_CANCELLED 3

/* PkErrorEnum values PackageKit turns into exit "need-untrusted". */
#define PK_ERROR_GPG_FAILURE                  5
#define PK_ERROR_BAD_GPG_SIGNATURE           30
#define PK_ERROR_MISSING_GPG_SIGNATURE       31
#define PK_ERROR_CANNOT_INSTALL_REPO_UNSIGNED 50
#define PK_ERROR_CANNOT_UPDATE_REPO_UNSIGNED  51

G_DEFINE_QUARK (nts-packagekit-error-quark, nts_packagekit_error)

/* PackageKit's names (pk-enum.c), checked against libpackagekit-glib2 1.2.6. */
static const char *const error_names[] = {
  "unknown", "out-of-memory", "no-network", "not-supported", "internal-error",
  "gpg-failure", "package-id-invalid", "package-not-installed", "package-not-found",
  "package-already-installed", "package-download-failed", "group-not-found",
  "group-list-invalid", "dep-resolution-failed", "filter-invalid", "create-thread-failed",
  "transaction-error", "transaction-cancelled", "no-cache", "repo-not-found",
  "cannot-remove-system-package", "process-kill", "failed-initialization", "failed-finalise",
  "failed-config-parsing", "cannot-cancel", "cannot-get-lock", "no-packages-to-update",
  "cannot-write-repo-config", "local-install-failed", "bad-gpg-signature",
  "missing-gpg-signature", "cannot-install-source-package", "repo-configuration-error",
  "no-license-agreement", "file-conflicts", "package-conflicts", "repo-not-available",
  "invalid-package-file", "package-install-blocked", "package-corrupt",
  "all-packages-already-installed", "file-not-found", "no-more-mirrors-to-try",
  "no-distro-upgrade-data", "incompatible-architecture", "no-space-on-device",
  "media-change-required", "not-authorized", "update-not-found",
  "cannot-install-repo-unsigned", "cannot-update-repo-unsigned", "cannot-get-filelist",
  "cannot-get-requires", "cannot-disable-repository", "restricted-download",
  "package-failed-to-configure", "package-failed-to-build", "package-failed-to-install",
  "package-failed-to-remove",
};

static const char *const exit_names[] = {
  "unknown", "success", "failed", "cancelled", "key-required", "eula-required", "killed",
  "media-change-required", "need-untrusted", "cancelled-priority", "skip-transaction",
  "repair-required",
};

static const char *
enum_name (const char *const *names, gsize n, guint value)
{
  return value < n ? names[value] : "unknown";
}

void
nts_package_free (NtsPackage *package)
{
  if (package == NULL)
    return;
  g_free (package->package_id);
  g_free (package->summary);
  g_free (package);
}

char *
nts_package_id_name (const char *package_id)
{
  const char *semicolon = strchr (package_id, ';');

  return semicolon ? g_strndup (package_id, semicolon - package_id) : g_strdup (package_id);
}

static GPtrArray *
package_array_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) nts_package_free);
}

/* ---- One transaction --------------------------------------------------- */

typedef struct {
  GDBusConnection *bus;
  char            *method;
  GVariant        *params;
  char            *path;         /* the transaction, once created */
  guint            signal_id;
  GPtrArray       *packages;
  guint            error_code;
  char            *error_details;
  gboolean         have_error;
  guint            timeout_ms;
  GSource         *timeout_source;
  GSource         *cancel_source;
  gboolean         waiting;
} Transaction;

/* No signal, timeout or cancellation reaches @t after this. */
static void
transaction_stop_listening (Transaction *t)
{
  if (t->signal_id != 0)
    {
      g_dbus_connection_signal_unsubscribe (t->bus, t->signal_id);
      t->signal_id = 0;
    }
  if (t->timeout_source)
    {
      g_source_destroy (t->timeout_source);
      g_clear_pointer (&t->timeout_source, g_source_unref);
    }
  if (t->cancel_source)
    {
      g_source_destroy (t->cancel_source);
      g_clear_pointer (&t->cancel_source, g_source_unref);
    }
}

static void
transaction_free (Transaction *t)
{
  transaction_stop_listening (t);
  g_clear_object (&t->bus);
  g_free (t->method);
  g_clear_pointer (&t->params, g_variant_unref);
  g_free (t->path);
  g_ptr_array_unref (t->packages);
  g_free (t->error_details);
  g_free (t);
}

/* Ends the wait and hands back the reference it held; everything still
 * in flight sees waiting == FALSE and drops out. */
static GTask *
end_wait (GTask *task)
{
  Transaction *t = g_task_get_task_data (task);

  g_assert (t->waiting);
  t->waiting = FALSE;
  transaction_stop_listening (t);
  return task;
}

static void
fail (GTask *task, GError *error)
{
  g_autoptr(GTask) owned = end_wait (task);

  /* D-Bus errors go back as they are: their remote name is in the message. */
  g_task_return_error (owned, error);
}

/* Our give-up is PackageKit's too: a transaction left running would hold
 * the package manager's lock. Nobody waits for the answer. */
static void
cancel_transaction (Transaction *t)
{
  if (t->path == NULL)
    return;
  g_dbus_connection_call (t->bus, PK_BUS_NAME, t->path, PK_TRANSACTION_IFACE, "Cancel", NULL,
                          NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, PK_CALL_TIMEOUT_MS, NULL,
                          NULL, NULL);
}

static void
on_signal (GDBusConnection *connection, const char *sender, const char *object_path,
           const char *interface_name, const char *signal_name, GVariant *parameters,
           gpointer user_data)
{
  GTask *task = user_data;
  Transaction *t = g_task_get_task_data (task);

  if (!t->waiting)
    return;

  if (g_str_equal (signal_name, "Package") &&
      g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(uss)")))
    {
      NtsPackage *package = g_new0 (NtsPackage, 1);
      g_variant_get (parameters, "(uss)", &package->info, &package->package_id,
                     &package->summary);
      g_ptr_array_add (t->packages, package);
    }
  else if (g_str_equal (signal_name, "ErrorCode") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(us)")) && !t->have_error)
    {
      /* The first error is the cause; Finished(failed) follows. */
      t->have_error = TRUE;
      g_variant_get (parameters, "(us)", &t->error_code, &t->error_details);
    }
  else if (g_str_equal (signal_name, "Finished") &&
           g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(uu)")))
    {
      guint32 exit_code, runtime_ms;

      g_variant_get (parameters, "(uu)", &exit_code, &runtime_ms);
      if (t->have_error)
        fail (task, g_error_new (NTS_PACKAGEKIT_ERROR, t->error_code, "PackageKit %s: %s: %s",
                                 t->method, enum_name (error_names, G_N_ELEMENTS (error_names), t->error_code),
                                 t->error_details));
      else if (exit_code == PK_EXIT_CANCELLED)
        fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 "PackageKit %s: the transaction was cancelled", t->method));
      else if (exit_code != PK_EXIT_SUCCESS)
        fail (task, g_error_new (NTS_PACKAGEKIT_ERROR, NTS_PK_ERROR_EXIT,
                                 "PackageKit %s: the transaction ended \"%s\"", t->method,
                                 enum_name (exit_names, G_N_ELEMENTS (exit_names), exit_code)));
      else
        {
          g_autoptr(GTask) owned = end_wait (task);
          g_task_return_pointer (owned, g_ptr_array_ref (t->packages),
                                 (GDestroyNotify) g_ptr_array_unref);
        }
    }
}

static gboolean
on_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Transaction *t = g_task_get_task_data (task);

  cancel_transaction (t);
  fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "PackageKit %s: no answer within %u s", t->method,
                           (t->timeout_ms + 999) / 1000));
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  GTask *task = user_data;
  Transaction *t = g_task_get_task_data (task);
  GError *error = NULL;

  cancel_transaction (t);
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  fail (task, error);
  return G_SOURCE_REMOVE;
}

/* The reply of one of the transaction's calls; NULL when the wait has
 * ended meanwhile, or when the call failed and ended it. */
static GVariant *
transaction_reply (GTask *task, GObject *source, GAsyncResult *res)
{
  Transaction *t = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);

  if (!t->waiting)
    {
      g_clear_error (&error);
      return NULL;
    }
  if (reply == NULL)
    fail (task, error);
  return g_steal_pointer (&reply);
}

static void
on_method_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GVariant) reply = transaction_reply (task, source, res);

  /* Answered already, or the signals tell the rest. */
}

static void
on_hints_set (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Transaction *t = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = transaction_reply (task, source, res);

  if (reply == NULL)
    return;

  /* Listening before the method: its signals may follow its reply at
   * once. */
  t->signal_id = g_dbus_connection_signal_subscribe (t->bus, PK_BUS_NAME, PK_TRANSACTION_IFACE,
                                                     NULL, t->path, NULL,
                                                     G_DBUS_SIGNAL_FLAGS_NONE, on_signal,
                                                     g_object_ref (task), g_object_unref);
  g_dbus_connection_call (t->bus, PK_BUS_NAME, t->path, PK_TRANSACTION_IFACE, t->method,
                          t->params, G_VARIANT_TYPE ("()"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          PK_CALL_TIMEOUT_MS, NULL, on_method_reply, g_object_ref (task));
}

static void
on_created (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Transaction *t = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = transaction_reply (task, source, res);
  /* Nobody is there to answer questions (a EULA, a media change): fail
   * instead of waiting. background=false: someone waits for this one. */
  const char *hints[] = { "interactive=false", "background=false", NULL };

  if (reply == NULL)
    return;
  g_variant_get (reply, "(o)", &t->path);
  g_dbus_connection_call (t->bus, PK_BUS_NAME, t->path, PK_TRANSACTION_IFACE, "SetHints",
                          g_variant_new ("(^as)", hints), G_VARIANT_TYPE ("()"),
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, PK_CALL_TIMEOUT_MS, NULL,
                          on_hints_set, g_object_ref (task));
}

/* The whole transaction, from CreateTransaction to Finished, within
 * @timeout_ms. */
static void
run_transaction (GDBusConnection *bus, const char *method, GVariant *params, guint timeout_ms,
                 gpointer tag, GCancellable *cancellable, GAsyncReadyCallback callback,
                 gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Transaction *t = g_new0 (Transaction, 1);

  g_task_set_source_tag (task, tag);
  t->bus = g_object_ref (bus);
  t->method = g_strdup (method);
  t->params = g_variant_ref_sink (params);
  t->packages = package_array_new ();
  t->timeout_ms = timeout_ms;
  t->waiting = TRUE;
  g_task_set_task_data (task, t, (GDestroyNotify) transaction_free);

  /* The reference from g_task_new() belongs to the wait (end_wait); the
   * sources only point at the task, and each call holds its own. */
  t->timeout_source = g_timeout_source_new (timeout_ms);
  g_source_set_callback (t->timeout_source, on_timeout, task, NULL);
  g_source_attach (t->timeout_source, g_task_get_context (task));
  if (cancellable)
    {
      t->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (t->cancel_source, G_SOURCE_FUNC (on_cancelled), task, NULL);
      g_source_attach (t->cancel_source, g_task_get_context (task));
    }

  /* packagekitd is started on demand and quits when idle: this first
   * call may start it. The later ones go to the transaction it created,
   * which a freshly started packagekitd would not know. */
  g_dbus_connection_call (bus, PK_BUS_NAME, PK_PATH, PK_IFACE, "CreateTransaction", NULL,
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE,
                          PK_CALL_TIMEOUT_MS, NULL, on_created, g_object_ref (task));
}

void
nts_packagekit_resolve_async (GDBusConnection *bus, const char *const *names, guint64 filter,
                              guint timeout_ms, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  run_transaction (bus, "Resolve", g_variant_new ("(t^as)", filter, names),
                   timeout_ms ? timeout_ms : NTS_PACKAGEKIT_RESOLVE_TIMEOUT_MS,
                   NTS_TASK_TAG (nts_packagekit_resolve_async), cancellable, callback, user_data);
}

void
nts_packagekit_install_async (GDBusConnection *bus, const char *const *package_ids,
                              gboolean simulate, guint timeout_ms, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  guint64 flags = PK_FLAG_ONLY_TRUSTED | (simulate ? PK_FLAG_SIMULATE : 0);

  run_transaction (bus, "InstallPackages", g_variant_new ("(t^as)", flags, package_ids),
                   timeout_ms ? timeout_ms : NTS_PACKAGEKIT_INSTALL_TIMEOUT_MS,
                   NTS_TASK_TAG (nts_packagekit_install_async), cancellable, callback, user_data);
}

void
nts_packagekit_remove_async (GDBusConnection *bus, const char *const *package_ids,
                             gboolean simulate, guint timeout_ms, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  guint64 flags = simulate ? PK_FLAG_SIMULATE : 0;

  /* allow_deps=false: removing chrony must never take anything else with
   * it; autoremove=false: nor clean up what others may still want. */
  run_transaction (bus, "RemovePackages",
                   g_variant_new ("(t^asbb)", flags, package_ids, FALSE, FALSE),
                   timeout_ms ? timeout_ms : NTS_PACKAGEKIT_INSTALL_TIMEOUT_MS,
                   NTS_TASK_TAG (nts_packagekit_remove_async), cancellable, callback, user_data);
}

/* ---- By name: Resolve, then install or remove -------------------------- */

typedef struct {
  GDBusConnection *bus;
  GStrv            names;
  gboolean         install;
  gboolean         simulate;
  guint            timeout_ms;
} ByName;

static void
by_name_free (ByName *b)
{
  g_clear_object (&b->bus);
  g_strfreev (b->names);
  g_free (b);
}

static void
on_by_name_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  GPtrArray *packages = nts_packagekit_finish (res, &error);

  if (packages == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, packages, (GDestroyNotify) g_ptr_array_unref);
}

static void
on_by_name_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ByName *b = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = nts_packagekit_finish (res, &error);
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new ();
  g_auto(GStrv) id_list = NULL;
  guint already = 0;

  if (found == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  for (guint i = 0; b->names[i] != NULL; i++)
    {
      const char *id = NULL;
      gboolean installed = FALSE;

      for (guint j = 0; j < found->len; j++)
        {
          NtsPackage *package = found->pdata[j];
          g_autofree char *name = nts_package_id_name (package->package_id);

          if (!g_str_equal (name, b->names[i]))
            continue;
          if (package->info == NTS_PK_INFO_INSTALLED)
            installed = TRUE;
          else if (id == NULL)
            id = package->package_id;
          if (!b->install && package->info == NTS_PK_INFO_INSTALLED)
            id = package->package_id;
        }

      if (b->install && installed)
        {
          already++;
          continue;
        }
      if (id == NULL)
        {
          if (b->install)
            g_task_return_new_error (task, NTS_PACKAGEKIT_ERROR, NTS_PK_ERROR_PACKAGE_NOT_FOUND,
                                     "package-not-found: %s is not available", b->names[i]);
          else
            g_task_return_new_error (task, NTS_PACKAGEKIT_ERROR,
                                     NTS_PK_ERROR_PACKAGE_NOT_INSTALLED,
                                     "package-not-installed: %s is not installed", b->names[i]);
          return;
        }
      g_strv_builder_add (ids, id);
    }

  if (b->install && already == g_strv_length (b->names))
    {
      g_task_return_new_error (task, NTS_PACKAGEKIT_ERROR,
                               NTS_PK_ERROR_ALL_PACKAGES_ALREADY_INSTALLED,
                               "all-packages-already-installed: nothing to install");
      return;
    }

  id_list = g_strv_builder_end (ids);
  if (b->install)
    nts_packagekit_install_async (b->bus, (const char *const *) id_list, b->simulate,
                                  b->timeout_ms, g_task_get_cancellable (task), on_by_name_done,
                                  g_object_ref (task));
  else
    nts_packagekit_remove_async (b->bus, (const char *const *) id_list, b->simulate,
                                 b->timeout_ms, g_task_get_cancellable (task), on_by_name_done,
                                 g_object_ref (task));
}

static void
by_name (GDBusConnection *bus, const char *const *names, gboolean install, gboolean simulate,
         guint timeout_ms, gpointer tag, GCancellable *cancellable,
         GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  ByName *b = g_new0 (ByName, 1);
  /* Installs: the newest build for this machine's architecture, installed
   * or not (an installed one means there is nothing to do). Removals:
   * only what is installed. */
  guint64 filter = install ? NTS_PK_FILTER_NEWEST | NTS_PK_FILTER_ARCH : NTS_PK_FILTER_INSTALLED;

  g_task_set_source_tag (task, tag);
  b->bus = g_object_ref (bus);
  b->names = g_strdupv ((char **) names);
  b->install = install;
  b->simulate = simulate;
  b->timeout_ms = timeout_ms;
  g_task_set_task_data (task, b, (GDestroyNotify) by_name_free);

  if (names == NULL || names[0] == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "No package names");
      return;
    }
  nts_packagekit_resolve_async (bus, names, filter, 0, cancellable, on_by_name_resolved,
                                g_object_ref (task));
}

void
nts_packagekit_install_names_async (GDBusConnection *bus, const char *const *names,
                                    gboolean simulate, guint timeout_ms,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  by_name (bus, names, TRUE, simulate, timeout_ms,
           NTS_TASK_TAG (nts_packagekit_install_names_async), cancellable, callback, user_data);
}

void
nts_packagekit_remove_names_async (GDBusConnection *bus, const char *const *names,
                                   gboolean simulate, guint timeout_ms,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  by_name (bus, names, FALSE, simulate, timeout_ms,
           NTS_TASK_TAG (nts_packagekit_remove_names_async), cancellable, callback, user_data);
}

GPtrArray *
nts_packagekit_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
nts_packagekit_error_is_untrusted (const GError *error)
{
  if (error == NULL || error->domain != NTS_PACKAGEKIT_ERROR)
    return FALSE;
  switch (error->code)
    {
    case PK_ERROR_GPG_FAILURE:
    case PK_ERROR_BAD_GPG_SIGNATURE:
    case PK_ERROR_MISSING_GPG_SIGNATURE:
    case PK_ERROR_CANNOT_INSTALL_REPO_UNSIGNED:
    case PK_ERROR_CANNOT_UPDATE_REPO_UNSIGNED:
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
nts_packagekit_error_is_unavailable (const GError *error)
{
  /* ServiceUnknown: not running and not activatable. NameHasNoOwner: the
   * same when auto-start was not allowed. */
  return g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER);
}
