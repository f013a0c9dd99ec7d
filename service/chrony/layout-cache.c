/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See layout-cache.h. */
#include "layout-cache.h"

#include <string.h>
#include <sys/stat.h>

#include "file-stamp.h"
#include "layout-override.h"
#include "task-tag.h"

/* The files an answer was read from, besides the chronyd binary it names. */
static const char *const watched_files[] = {
  NTS_LAYOUT_OVERRIDE_FILE,
  "/etc/os-release",
  "/usr/lib/os-release",
  "/etc/passwd",
  "/etc/group",
};
#define N_STAMPS (G_N_ELEMENTS (watched_files) + 1)

/* One resolution and the calls waiting for it. */
typedef struct {
  NtsLayoutCache *cache;            /* NULL once the cache is gone */
  GPtrArray      *waiters;          /* GTasks */
  NtsFileStamp    stamps[N_STAMPS]; /* the files as they were when it started */
  gboolean        keep;             /* FALSE once invalidated: answers, is not kept */
} Flight;

struct _NtsLayoutCache {
  NtsRoot         *root;
  GDBusConnection *bus;
  GCancellable    *cancellable;
  NtsLayout       *layout;          /* the kept answer, or NULL */
  NtsFileStamp     stamps[N_STAMPS];
  Flight          *flight;          /* the one new calls join, or NULL */
  GPtrArray       *flights;         /* every one still running, invalidated ones too */
};

/* By host path, as the kernel resolves it: chronyd is run by that path,
 * and may be reached through a link (a merged /usr/sbin). */
static void
stamp_path (NtsRoot *root, const char *path, NtsFileStamp *stamp)
{
  g_autofree char *host = path != NULL
    ? g_build_filename (nts_root_get_host_path (root), path, NULL) : NULL;

  nts_file_stamp_take (host, stamp);
}

/* The watched files, and @chronyd_path (NULL: none known yet). */
static void
take_stamps (NtsLayoutCache *cache, const char *chronyd_path, NtsFileStamp *stamps)
{
  for (gsize i = 0; i < G_N_ELEMENTS (watched_files); i++)
    stamp_path (cache->root, watched_files[i], &stamps[i]);
  stamp_path (cache->root, chronyd_path, &stamps[N_STAMPS - 1]);
}

static gboolean
stamps_equal (const NtsFileStamp *a, const NtsFileStamp *b)
{
  for (gsize i = 0; i < N_STAMPS; i++)
    if (!nts_file_stamp_equal (&a[i], &b[i]))
      return FALSE;
  return TRUE;
}

NtsLayoutCache *
nts_layout_cache_new (NtsRoot *root, GDBusConnection *system_bus)
{
  NtsLayoutCache *cache = g_new0 (NtsLayoutCache, 1);

  g_return_val_if_fail (root != NULL, NULL);

  cache->root = nts_root_ref (root);
  cache->bus = system_bus != NULL ? g_object_ref (system_bus) : NULL;
  cache->cancellable = g_cancellable_new ();
  cache->flights = g_ptr_array_new ();
  return cache;
}

static void
flight_answer (Flight *flight, const NtsLayout *layout, const GError *error)
{
  for (guint i = 0; i < flight->waiters->len; i++)
    {
      g_autoptr(GTask) task = flight->waiters->pdata[i];

      if (layout != NULL)
        g_task_return_pointer (task, nts_layout_copy (layout), (GDestroyNotify) nts_layout_free);
      else
        g_task_return_error (task, g_error_copy (error));
    }
  g_ptr_array_set_size (flight->waiters, 0);
}

void
nts_layout_cache_free (NtsLayoutCache *cache)
{
  g_autoptr(GError) cancelled = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "shutting down");

  if (cache == NULL)
    return;
  /* Resolutions still running outlive the cache: they are cancelled, and
   * their waiters answered here. */
  g_cancellable_cancel (cache->cancellable);
  for (guint i = 0; i < cache->flights->len; i++)
    {
      Flight *flight = cache->flights->pdata[i];

      flight_answer (flight, NULL, cancelled);
      flight->cache = NULL;
    }
  g_ptr_array_unref (cache->flights);
  g_clear_pointer (&cache->layout, nts_layout_free);
  g_clear_object (&cache->bus);
  g_clear_object (&cache->cancellable);
  nts_root_unref (cache->root);
  g_free (cache);
}

void
nts_layout_cache_invalidate (NtsLayoutCache *cache)
{
  g_return_if_fail (cache != NULL);
  g_clear_pointer (&cache->layout, nts_layout_free);
  /* The one running read what may just have changed: calls from now on
   * start a new one. */
  if (cache->flight != NULL)
    cache->flight->keep = FALSE;
  cache->flight = NULL;
}

static void
on_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Flight *flight = user_data;
  NtsLayoutCache *cache = flight->cache;
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsLayout) layout = nts_layout_resolve_finish (res, &error);

  if (cache != NULL)
    {
      g_ptr_array_remove_fast (cache->flights, flight);
      if (cache->flight == flight)
        cache->flight = NULL;
      if (layout != NULL && flight->keep)
        {
          NtsFileStamp after[N_STAMPS];

          /* Kept only if nothing changed while it ran; the binary it
           * names was unknown when it started. */
          take_stamps (cache, layout->chronyd_path, after);
          flight->stamps[N_STAMPS - 1] = after[N_STAMPS - 1];
          if (stamps_equal (after, flight->stamps))
            {
              g_clear_pointer (&cache->layout, nts_layout_free);
              cache->layout = nts_layout_copy (layout);
              memcpy (cache->stamps, after, sizeof after);
            }
        }
      flight_answer (flight, layout, error);
    }
  g_ptr_array_unref (flight->waiters);
  g_free (flight);
}

void
nts_layout_cache_get_async (NtsLayoutCache      *cache,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (cache != NULL);

  task = g_task_new (NULL, NULL, callback, user_data);
  nts_task_set_source_tag (task, nts_layout_cache_get_async);

  if (cache->layout != NULL)
    {
      NtsFileStamp now[N_STAMPS];

      take_stamps (cache, cache->layout->chronyd_path, now);
      if (stamps_equal (now, cache->stamps))
        {
          g_task_return_pointer (task, nts_layout_copy (cache->layout),
                                 (GDestroyNotify) nts_layout_free);
          return;
        }
      g_clear_pointer (&cache->layout, nts_layout_free);
    }

  if (cache->flight != NULL)
    {
      /* One is in flight: its answer is everybody's. */
      g_ptr_array_add (cache->flight->waiters, g_steal_pointer (&task));
      return;
    }

  cache->flight = g_new0 (Flight, 1);
  cache->flight->cache = cache;
  cache->flight->keep = TRUE;
  cache->flight->waiters = g_ptr_array_new ();
  g_ptr_array_add (cache->flight->waiters, g_steal_pointer (&task));
  take_stamps (cache, NULL, cache->flight->stamps);
  g_ptr_array_add (cache->flights, cache->flight);
  nts_layout_resolve_async (cache->root, cache->bus, cache->cancellable, on_resolved,
                            cache->flight);
}

NtsLayout *
nts_layout_cache_get_finish (NtsLayoutCache *cache, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result))
                        == NTS_TASK_TAG (nts_layout_cache_get_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
