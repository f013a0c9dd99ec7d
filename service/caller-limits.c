/* See caller-limits.h. */
#include "caller-limits.h"

/* Unique names are never reused while the bus runs, so a kept answer
 * never goes stale; the table is only emptied when it grows past this,
 * which costs a look-up again for callers still connected. */
#define UID_CACHE_MAX 1024

typedef struct {
  guint per_uid;
  guint total;
  gboolean root_counts;   /* towards the total */
  const char *what;
  GHashTable *by_uid;     /* uid -> count, GUINT_TO_POINTER both */
  guint in_use;
} Pool;

/* One GetConnectionUnixUser in flight (or queued), and the calls
 * waiting for its answer. */
typedef struct {
  NtsCallerLimits *limits;  /* NULL once the limits are gone */
  char            *sender;
  GPtrArray       *waiters; /* GTasks */
} Lookup;

struct _NtsCallerLimits {
  GDBusConnection *bus;
  GCancellable    *cancellable;
  Pool             pools[2];
  GHashTable      *uids;      /* unique name -> uid + 1 */
  GHashTable      *lookups;   /* unique name -> Lookup, running or queued */
  GQueue           queued;    /* Lookups not started yet */
  guint            running;
};

static void
pool_init (Pool *pool, guint per_uid, guint total, gboolean root_counts, const char *what)
{
  pool->per_uid = per_uid;
  pool->total = total;
  pool->root_counts = root_counts;
  pool->what = what;
  pool->by_uid = g_hash_table_new (g_direct_hash, g_direct_equal);
}

NtsCallerLimits *
nts_caller_limits_new (GDBusConnection *bus)
{
  NtsCallerLimits *limits = g_new0 (NtsCallerLimits, 1);

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (bus), NULL);

  limits->bus = g_object_ref (bus);
  limits->cancellable = g_cancellable_new ();
  pool_init (&limits->pools[NTS_LIMIT_CALLS], NTS_LIMIT_CALLS_PER_UID, NTS_LIMIT_CALLS_TOTAL,
             FALSE, "calls in flight");
  pool_init (&limits->pools[NTS_LIMIT_WAITS], NTS_LIMIT_WAITS_PER_UID, NTS_LIMIT_WAITS_TOTAL,
             TRUE, "Verify calls waiting");
  limits->uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  limits->lookups = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&limits->queued);
  return limits;
}

static void
lookup_answer (Lookup *lookup, guint32 uid, const GError *error)
{
  for (guint i = 0; i < lookup->waiters->len; i++)
    {
      g_autoptr(GTask) task = lookup->waiters->pdata[i];

      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_int (task, uid);
    }
  g_ptr_array_set_size (lookup->waiters, 0);
}

static void
lookup_free (Lookup *lookup)
{
  g_ptr_array_unref (lookup->waiters);
  g_free (lookup->sender);
  g_free (lookup);
}

void
nts_caller_limits_free (NtsCallerLimits *limits)
{
  g_autoptr(GError) cancelled = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "shutting down");
  GHashTableIter iter;
  gpointer value;

  if (limits == NULL)
    return;
  g_cancellable_cancel (limits->cancellable);
  /* Running look-ups end in on_uid (cancelled) and free themselves;
   * queued ones are freed here. */
  g_hash_table_iter_init (&iter, limits->lookups);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Lookup *lookup = value;

      lookup_answer (lookup, 0, cancelled);
      lookup->limits = NULL;
    }
  while (!g_queue_is_empty (&limits->queued))
    lookup_free (g_queue_pop_head (&limits->queued));
  g_hash_table_unref (limits->lookups);
  g_hash_table_unref (limits->uids);
  for (gsize i = 0; i < G_N_ELEMENTS (limits->pools); i++)
    g_hash_table_unref (limits->pools[i].by_uid);
  g_clear_object (&limits->cancellable);
  g_clear_object (&limits->bus);
  g_free (limits);
}

static void start_lookup (NtsCallerLimits *limits, Lookup *lookup);

static void
on_uid (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Lookup *lookup = user_data;
  NtsCallerLimits *limits = lookup->limits;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  guint32 uid = 0;

  if (limits == NULL)
    {
      lookup_free (lookup);
      return;
    }
  limits->running--;
  g_hash_table_remove (limits->lookups, lookup->sender);
  if (reply != NULL)
    {
      g_variant_get (reply, "(u)", &uid);
      if (g_hash_table_size (limits->uids) >= UID_CACHE_MAX)
        g_hash_table_remove_all (limits->uids);
      g_hash_table_insert (limits->uids, g_strdup (lookup->sender), GUINT_TO_POINTER (uid + 1));
    }
  lookup_answer (lookup, uid, error);
  lookup_free (lookup);

  if (!g_queue_is_empty (&limits->queued))
    start_lookup (limits, g_queue_pop_head (&limits->queued));
}

static void
start_lookup (NtsCallerLimits *limits, Lookup *lookup)
{
  limits->running++;
  g_dbus_connection_call (limits->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", lookup->sender), G_VARIANT_TYPE ("(u)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, limits->cancellable, on_uid, lookup);
}

void
nts_caller_uid_async (NtsCallerLimits     *limits,
                      const char          *sender,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  gpointer known;
  Lookup *lookup;

  g_return_if_fail (limits != NULL);
  g_return_if_fail (sender != NULL);

  task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, nts_caller_uid_async);

  known = g_hash_table_lookup (limits->uids, sender);
  if (known != NULL)
    {
      g_task_return_int (task, GPOINTER_TO_UINT (known) - 1);
      return;
    }

  lookup = g_hash_table_lookup (limits->lookups, sender);
  if (lookup != NULL)
    {
      g_ptr_array_add (lookup->waiters, g_steal_pointer (&task));
      return;
    }

  lookup = g_new0 (Lookup, 1);
  lookup->limits = limits;
  lookup->sender = g_strdup (sender);
  lookup->waiters = g_ptr_array_new ();
  g_ptr_array_add (lookup->waiters, g_steal_pointer (&task));
  g_hash_table_insert (limits->lookups, lookup->sender, lookup);
  /* A flood of new connections queues here rather than in the daemon's
   * pending replies. */
  if (limits->running < NTS_CALLER_UID_LOOKUPS)
    start_lookup (limits, lookup);
  else
    g_queue_push_tail (&limits->queued, lookup);
}

gboolean
nts_caller_uid_finish (NtsCallerLimits *limits,
                       GAsyncResult    *result,
                       guint32         *uid,
                       GError         **error)
{
  gssize value;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == nts_caller_uid_async, FALSE);

  value = g_task_propagate_int (G_TASK (result), error);
  if (value < 0)
    return FALSE;
  *uid = (guint32) value;
  return TRUE;
}

gboolean
nts_caller_limits_take (NtsCallerLimits *limits,
                        NtsLimitKind     kind,
                        guint32          uid,
                        GError         **error)
{
  Pool *pool;
  guint mine;
  gboolean counts;

  g_return_val_if_fail (limits != NULL, FALSE);
  g_return_val_if_fail ((gsize) kind < G_N_ELEMENTS (limits->pools), FALSE);

  pool = &limits->pools[kind];
  mine = GPOINTER_TO_UINT (g_hash_table_lookup (pool->by_uid, GUINT_TO_POINTER (uid)));
  counts = uid != 0 || pool->root_counts;
  if (mine >= pool->per_uid)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED,
                   "user %u already has %u %s, the most one user may have; "
                   "try again when one has ended", uid, mine, pool->what);
      return FALSE;
    }
  if (counts && pool->in_use >= pool->total)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED,
                   "%u %s already, the most the service takes at once; try again shortly",
                   pool->in_use, pool->what);
      return FALSE;
    }
  g_hash_table_insert (pool->by_uid, GUINT_TO_POINTER (uid), GUINT_TO_POINTER (mine + 1));
  if (counts)
    pool->in_use++;
  return TRUE;
}

void
nts_caller_limits_give_back (NtsCallerLimits *limits,
                             NtsLimitKind     kind,
                             guint32          uid)
{
  Pool *pool;
  guint mine;

  g_return_if_fail (limits != NULL);
  g_return_if_fail ((gsize) kind < G_N_ELEMENTS (limits->pools));

  pool = &limits->pools[kind];
  mine = GPOINTER_TO_UINT (g_hash_table_lookup (pool->by_uid, GUINT_TO_POINTER (uid)));
  g_return_if_fail (mine > 0);
  if (mine == 1)
    g_hash_table_remove (pool->by_uid, GUINT_TO_POINTER (uid));
  else
    g_hash_table_insert (pool->by_uid, GUINT_TO_POINTER (uid), GUINT_TO_POINTER (mine - 1));
  if (uid != 0 || pool->root_counts)
    pool->in_use--;
}
