/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "probe-cache.h"

#include "probe-client.h"
#include "task-tag.h"

typedef struct {
  GVariant *result; /* a{sv}, no secrets */
  gint64 when;      /* monotonic */
} Entry;

struct _NtsProbeCache {
  NtsRoot *root;
  GHashTable *entries; /* "name port" -> Entry */
};

typedef struct {
  NtsProbeCache *cache;
  GPtrArray *keys;    /* char *, one per target */
  GPtrArray *results; /* GVariant or NULL, one per target */
  GArray *missing;    /* guint: indexes of the targets probed now */
} Run;

static void
entry_free (Entry *entry)
{
  g_variant_unref (entry->result);
  g_free (entry);
}

static void
run_free (Run *run)
{
  g_ptr_array_unref (run->keys);
  g_ptr_array_unref (run->results);
  g_array_unref (run->missing);
  g_free (run);
}

NtsProbeCache *
nts_probe_cache_new (NtsRoot *root)
{
  NtsProbeCache *cache = g_new0 (NtsProbeCache, 1);

  cache->root = root != NULL ? nts_root_ref (root) : NULL;
  cache->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) entry_free);
  return cache;
}

void
nts_probe_cache_free (NtsProbeCache *cache)
{
  if (cache == NULL)
    return;
  g_clear_pointer (&cache->root, nts_root_unref);
  g_hash_table_unref (cache->entries);
  g_free (cache);
}

void
nts_probe_cache_clear (NtsProbeCache *cache)
{
  g_hash_table_remove_all (cache->entries);
}

/* Host names are case-insensitive: "Time.Example" is "time.example". */
static char *
entry_key (const NtsProbeTarget *target)
{
  g_autofree char *name = g_ascii_strdown (target->name, -1);

  return g_strdup_printf ("%s %u", name,
                          target->port != 0 ? target->port : NTS_PROBE_DEFAULT_KE_PORT);
}

static void
on_probed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Run *run = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = nts_probe_run_finish (res, &error);
  gint64 now = g_get_monotonic_time ();

  if (results == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < run->missing->len; i++)
    {
      guint index = g_array_index (run->missing, guint, i);
      GVariant *variant = g_variant_ref_sink (
        nts_probe_result_to_variant (results->pdata[i], FALSE));
      Entry *entry = g_new0 (Entry, 1);

      entry->result = g_variant_ref (variant);
      entry->when = now;
      g_hash_table_replace (run->cache->entries, g_strdup (run->keys->pdata[index]), entry);
      run->results->pdata[index] = variant;
    }
  g_task_return_pointer (task, g_ptr_array_ref (run->results),
                         (GDestroyNotify) g_ptr_array_unref);
}

/* Entries past their time are dropped as they are met, and all of them
 * whenever the table grows large: it never holds more than the servers
 * probed in the last NTS_PROBE_CACHE_SECONDS. */
static void
expire (NtsProbeCache *cache, gint64 now)
{
  GHashTableIter iter;
  Entry *entry;

  g_hash_table_iter_init (&iter, cache->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (now - entry->when >= NTS_PROBE_CACHE_SECONDS * G_USEC_PER_SEC)
      g_hash_table_iter_remove (&iter);
}

void
nts_probe_cache_run_async (NtsProbeCache *cache, GPtrArray *targets, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(NtsProbeRequest) request = nts_probe_request_new ();
  Run *run = g_new0 (Run, 1);
  gint64 now = g_get_monotonic_time ();

  nts_task_set_source_tag (task, nts_probe_cache_run_async);
  run->cache = cache;
  run->keys = g_ptr_array_new_with_free_func (g_free);
  run->results = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  run->missing = g_array_new (FALSE, FALSE, sizeof (guint));
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);

  expire (cache, now);
  for (guint i = 0; i < targets->len; i++)
    {
      const NtsProbeTarget *target = targets->pdata[i];
      char *key = entry_key (target);
      Entry *entry = g_hash_table_lookup (cache->entries, key);

      g_ptr_array_add (run->keys, key);
      g_ptr_array_add (run->results, entry != NULL ? g_variant_ref (entry->result) : NULL);
      if (entry == NULL)
        {
          g_array_append_val (run->missing, i);
          nts_probe_request_add (request, target->name, target->port);
        }
    }

  if (run->missing->len == 0)
    {
      g_task_return_pointer (task, g_ptr_array_ref (run->results),
                             (GDestroyNotify) g_ptr_array_unref);
      return;
    }
  request->timeout_ms = NTS_PROBE_CACHE_TIMEOUT_MS;
  {
    g_autoptr(GError) error = NULL;

    if (!nts_probe_load_ca (cache->root, NULL, &request->ca_pem, &error))
      {
        g_task_return_error (task, g_steal_pointer (&error));
        return;
      }
  }
  nts_probe_run_async (request, cache->root, cancellable, on_probed, g_steal_pointer (&task));
}

GPtrArray *
nts_probe_cache_run_finish (NtsProbeCache *cache, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
