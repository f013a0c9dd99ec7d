/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See caller-limits.h. */
#include "caller-limits.h"

#include <string.h>

#include "task-tag.h"

/* Unique names are never reused while the bus runs, so a kept answer
 * never goes stale; the table is only emptied when it grows past this,
 * which costs a look-up again for callers still connected. */
#define UID_CACHE_MAX 1024

typedef struct {
  guint per_uid;
  guint total;           /* root's places never count towards it */
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

/* A call the filter let through, until its reply goes out. */
typedef struct {
  char     *sender;
  guint32   serial;
  guint32   uid;
  gboolean  known;   /* FALSE: counted by sender name, the user not known yet */
} Unanswered;

/* What the main loop shares with the filter, which runs in GDBus's worker
 * thread: reference-counted, since GDBus may still run a filter it has
 * just removed, and drops its reference only when it no longer can. */
typedef struct {
  gint        ref_count;
  GMutex      lock;
  GHashTable *uids;               /* unique name -> uid + 1 */
  GHashTable *unanswered;         /* Unanswered -> itself */
  GHashTable *unanswered_by_uid;  /* uid -> count, known callers */
  GHashTable *unanswered_by_name; /* unique name -> count, callers not known yet */
  guint       unanswered_unknown; /* all of those */
  char       *object_path;
} Shared;

struct _NtsCallerLimits {
  GDBusConnection *bus;
  GCancellable    *cancellable;
  Pool pools[NTS_LIMIT_N_KINDS];
  Shared          *shared;
  guint            filter_id;
  GHashTable      *lookups;   /* unique name -> Lookup, running or queued */
  GQueue           queued;    /* Lookups not started yet */
  guint            running;
};

static void
pool_init (Pool *pool, guint per_uid, guint total, const char *what)
{
  pool->per_uid = per_uid;
  pool->total = total;
  pool->what = what;
  pool->by_uid = g_hash_table_new (g_direct_hash, g_direct_equal);
}

static guint
unanswered_hash (gconstpointer key)
{
  const Unanswered *u = key;

  return g_str_hash (u->sender) ^ u->serial;
}

static gboolean
unanswered_equal (gconstpointer a, gconstpointer b)
{
  const Unanswered *x = a, *y = b;

  return x->serial == y->serial && strcmp (x->sender, y->sender) == 0;
}

static void
unanswered_free (gpointer data)
{
  Unanswered *u = data;

  g_free (u->sender);
  g_free (u);
}

static Shared *
shared_new (void)
{
  Shared *shared = g_new0 (Shared, 1);

  shared->ref_count = 1;
  g_mutex_init (&shared->lock);
  shared->uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  shared->unanswered = g_hash_table_new_full (unanswered_hash, unanswered_equal,
                                              unanswered_free, NULL);
  shared->unanswered_by_uid = g_hash_table_new (g_direct_hash, g_direct_equal);
  shared->unanswered_by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return shared;
}

static Shared *
shared_ref (Shared *shared)
{
  g_atomic_int_inc (&shared->ref_count);
  return shared;
}

static void
shared_unref (gpointer data)
{
  Shared *shared = data;

  if (!g_atomic_int_dec_and_test (&shared->ref_count))
    return;
  g_hash_table_unref (shared->uids);
  g_hash_table_unref (shared->unanswered);
  g_hash_table_unref (shared->unanswered_by_uid);
  g_hash_table_unref (shared->unanswered_by_name);
  g_mutex_clear (&shared->lock);
  g_free (shared->object_path);
  g_free (shared);
}

NtsCallerLimits *
nts_caller_limits_new (GDBusConnection *bus)
{
  NtsCallerLimits *limits = g_new0 (NtsCallerLimits, 1);

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (bus), NULL);

  limits->bus = g_object_ref (bus);
  limits->cancellable = g_cancellable_new ();
  pool_init (&limits->pools[NTS_LIMIT_CALLS], NTS_LIMIT_CALLS_PER_UID, NTS_LIMIT_CALLS_TOTAL,
             "calls in flight");
  pool_init (&limits->pools[NTS_LIMIT_WAITS], NTS_LIMIT_WAITS_PER_UID, NTS_LIMIT_WAITS_TOTAL,
             "Verify calls waiting");
  pool_init (&limits->pools[NTS_LIMIT_PROBES], NTS_LIMIT_PROBES_PER_UID, NTS_LIMIT_PROBES_TOTAL,
             "probes running");
  limits->shared = shared_new ();
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
        g_task_return_pointer (task, GUINT_TO_POINTER (uid), NULL);
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
  /* GDBus may still be running the filter; it drops its reference to
   * the shared state once it cannot any more. */
  if (limits->filter_id != 0)
    g_dbus_connection_remove_filter (limits->bus, limits->filter_id);
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
  shared_unref (limits->shared);
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
      g_mutex_lock (&limits->shared->lock);
      if (g_hash_table_size (limits->shared->uids) >= UID_CACHE_MAX)
        g_hash_table_remove_all (limits->shared->uids);
      g_hash_table_insert (limits->shared->uids, g_strdup (lookup->sender), GUINT_TO_POINTER (uid + 1));
      g_mutex_unlock (&limits->shared->lock);
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
  nts_task_set_source_tag (task, nts_caller_uid_async);

  g_mutex_lock (&limits->shared->lock);
  known = g_hash_table_lookup (limits->shared->uids, sender);
  g_mutex_unlock (&limits->shared->lock);
  if (known != NULL)
    {
      g_task_return_pointer (task, GUINT_TO_POINTER (GPOINTER_TO_UINT (known) - 1), NULL);
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
  GError *local_error = NULL;
  gpointer value;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == NTS_TASK_TAG (nts_caller_uid_async), FALSE);

  /* A pointer, not an int: uid 0 is a valid answer, and a uid above
   * G_MAXINT would be negative as a gssize on 32-bit machines. */
  value = g_task_propagate_pointer (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  *uid = GPOINTER_TO_UINT (value);
  return TRUE;
}

gboolean
nts_caller_uid_lookup_cached (NtsCallerLimits *limits, const char *sender, guint32 *uid)
{
  gpointer known;

  g_return_val_if_fail (limits != NULL, FALSE);
  g_return_val_if_fail (sender != NULL, FALSE);

  g_mutex_lock (&limits->shared->lock);
  known = g_hash_table_lookup (limits->shared->uids, sender);
  g_mutex_unlock (&limits->shared->lock);
  if (known == NULL)
    return FALSE;
  *uid = GPOINTER_TO_UINT (known) - 1;
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
  counts = uid != 0;
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
  if (uid != 0)
    pool->in_use--;
}

/* ---- the filter: refusing before the main loop ----------------------- */

/* GDBus hands every method call to the main loop in arrival order. A
 * user keeping a thousand calls in flight (dbus-daemon allows 128 per
 * connection, and a user many connections) would make every other
 * caller's call, and every reply from polkit and systemd the daemon
 * waits for, queue behind all of them, even though each is refused
 * quickly. So in GDBus's worker thread, as each message arrives, calls
 * to our object are counted from their arrival until their reply (or
 * error) goes out, whoever answers them — the service, or GDBus itself
 * for a bad signature or property — and refused there and then, never
 * reaching the main loop, past NTS_LIMIT_UNANSWERED_PER_UID for their
 * user. A caller whose user is not known yet (its connection's first
 * calls, while the main loop asks the bus) is counted by its unique name,
 * with the same bound per name and NTS_LIMIT_UNANSWERED_UNKNOWN for all
 * such calls together. Calls that expect no reply are dropped: every
 * method of ours answers, and one that cannot be answered cannot be
 * counted. */
static GDBusMessage *
refuse (GDBusConnection *connection, GDBusMessage *message, const char *why)
{
  g_autoptr(GDBusMessage) reply = NULL;

  reply = g_dbus_message_new_method_error (message, "org.freedesktop.DBus.Error.LimitsExceeded",
                                           "%s; try again when one has ended", why);
  g_dbus_connection_send_message (connection, reply, G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, NULL);
  g_object_unref (message);
  return NULL;
}

static guint
count_of (GHashTable *table, gconstpointer key)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (table, key));
}

/* Called with the lock held. */
static void
count_down (Shared *shared, const Unanswered *u)
{
  GHashTable *table = u->known ? shared->unanswered_by_uid : shared->unanswered_by_name;
  gconstpointer key = u->known ? GUINT_TO_POINTER (u->uid) : (gconstpointer) u->sender;
  guint count = count_of (table, key);

  if (!u->known)
    shared->unanswered_unknown--;
  if (count <= 1)
    g_hash_table_remove (table, key);
  else if (u->known)
    g_hash_table_insert (table, GUINT_TO_POINTER (u->uid), GUINT_TO_POINTER (count - 1));
  else
    g_hash_table_insert (table, g_strdup (u->sender), GUINT_TO_POINTER (count - 1));
}

static GDBusMessage *
filter_incoming_call (Shared *shared, GDBusConnection *connection, GDBusMessage *message)
{
  const char *sender = g_dbus_message_get_sender (message);
  g_autofree char *why = NULL;
  Unanswered *u;
  gpointer known;
  guint count;

  if (sender == NULL || g_strcmp0 (g_dbus_message_get_path (message), shared->object_path) != 0)
    return message;
  if ((g_dbus_message_get_flags (message) & G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED) != 0)
    {
      g_object_unref (message);
      return NULL;
    }

  u = g_new0 (Unanswered, 1);
  u->sender = g_strdup (sender);
  u->serial = g_dbus_message_get_serial (message);

  g_mutex_lock (&shared->lock);
  known = g_hash_table_lookup (shared->uids, sender);
  u->known = known != NULL;
  u->uid = u->known ? GPOINTER_TO_UINT (known) - 1 : 0;
  if (u->known)
    {
      count = count_of (shared->unanswered_by_uid, GUINT_TO_POINTER (u->uid));
      if (count >= NTS_LIMIT_UNANSWERED_PER_UID)
        why = g_strdup_printf ("user %u already has %u calls waiting for an answer, the most "
                               "one user may have", u->uid, count);
    }
  else
    {
      count = count_of (shared->unanswered_by_name, sender);
      if (count >= NTS_LIMIT_UNANSWERED_PER_UID)
        why = g_strdup_printf ("%u calls from this connection are already waiting for an "
                               "answer", count);
      else if (shared->unanswered_unknown >= NTS_LIMIT_UNANSWERED_UNKNOWN)
        why = g_strdup_printf ("%u calls from new connections are already waiting for an "
                               "answer", shared->unanswered_unknown);
    }
  /* dbus-daemon refuses a serial still unanswered; should one come
   * twice anyway, it is counted once. */
  if (why == NULL && !g_hash_table_contains (shared->unanswered, u))
    {
      g_hash_table_add (shared->unanswered, u);
      if (u->known)
        g_hash_table_insert (shared->unanswered_by_uid, GUINT_TO_POINTER (u->uid),
                             GUINT_TO_POINTER (count + 1));
      else
        {
          g_hash_table_insert (shared->unanswered_by_name, g_strdup (sender),
                               GUINT_TO_POINTER (count + 1));
          shared->unanswered_unknown++;
        }
      u = NULL;
    }
  g_mutex_unlock (&shared->lock);
  if (u != NULL)
    unanswered_free (u);
  return why != NULL ? refuse (connection, message, why) : message;
}

static GDBusMessage *
filter (GDBusConnection *connection, GDBusMessage *message, gboolean incoming,
        gpointer user_data)
{
  Shared *shared = user_data;
  GDBusMessageType type = g_dbus_message_get_message_type (message);

  if (incoming && type == G_DBUS_MESSAGE_TYPE_METHOD_CALL)
    return filter_incoming_call (shared, connection, message);

  if (!incoming && (type == G_DBUS_MESSAGE_TYPE_METHOD_RETURN ||
                    type == G_DBUS_MESSAGE_TYPE_ERROR))
    {
      Unanswered key = { (char *) g_dbus_message_get_destination (message),
                         g_dbus_message_get_reply_serial (message), 0, FALSE };
      gpointer found;

      if (key.sender == NULL)
        return message;
      g_mutex_lock (&shared->lock);
      if (g_hash_table_steal_extended (shared->unanswered, &key, &found, NULL))
        {
          count_down (shared, found);
          unanswered_free (found);
        }
      g_mutex_unlock (&shared->lock);
    }
  return message;
}

void
nts_caller_limits_filter_object (NtsCallerLimits *limits, const char *object_path)
{
  g_return_if_fail (limits != NULL);
  g_return_if_fail (limits->filter_id == 0);

  limits->shared->object_path = g_strdup (object_path);
  limits->filter_id = g_dbus_connection_add_filter (limits->bus, filter,
                                                    shared_ref (limits->shared), shared_unref);
}
