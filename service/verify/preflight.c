/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See preflight.h. */
#include "preflight.h"

#include <string.h>

#include "nts-errors.h"
#include "probe-client.h"
#include "probe-diagnosis.h"
#include "task-tag.h"

typedef struct {
  guint min_sources;
  GPtrArray *results; /* NtsProbeResult, once the probe answered */
} Preflight;

static void
preflight_free (Preflight *p)
{
  g_clear_pointer (&p->results, g_ptr_array_unref);
  g_free (p);
}

void
nts_preflight_options_init (NtsPreflightOptions *options, NtsRoot *root, guint min_sources)
{
  *options = (NtsPreflightOptions) {
    .root = root,
    .min_sources = min_sources,
  };
}

/* When every server failed on its certificate's dates alone, it is this
 * machine's clock that is wrong, not all the servers at once: the
 * PreflightFailed message says so, and how to get out (Verify's
 * clock-far-off problem, the same rule and words). */
static void
append_clock_far_off (GString *lines, GPtrArray *results)
{
  g_autoptr(GPtrArray) probes = g_ptr_array_new_with_free_func (
    (GDestroyNotify) g_variant_unref);
  g_autoptr(NtsProblem) problem = NULL;

  for (guint i = 0; i < results->len; i++)
    g_ptr_array_add (probes, g_variant_ref_sink (
                               nts_probe_result_to_variant (results->pdata[i], FALSE)));
  problem = nts_probe_clock_far_off ((GVariant *const *) probes->pdata, probes->len,
                                     g_get_real_time () / G_USEC_PER_SEC);
  if (problem != NULL)
    g_string_append_printf (lines, "\n%s. %s", problem->message, problem->hint);
}

/* The verdict on the probe's results: passed are the distinct addresses
 * whose probe was ok. Two servers with one address are one source to
 * chronyd (the probe says so in same_address_as; counted here by address
 * all the same), so they count once, and the message says so. */
static void
judge (GTask *task)
{
  Preflight *p = g_task_get_task_data (task);
  g_autoptr(GHashTable) passed = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GString) lines = g_string_new (NULL);

  for (guint i = 0; i < p->results->len; i++)
    {
      const NtsProbeResult *r = p->results->pdata[i];
      const char *address = r->address != NULL ? r->address : r->server;
      const char *first;

      if (r->phase != NTS_PROBE_OK)
        g_string_append_printf (lines, "\n%s: %s", r->server, r->message);
      else if ((first = g_hash_table_lookup (passed, address)) != NULL)
        g_string_append_printf (lines,
                                "\n%s: the same address (%s) as %s: one source, "
                                "counted once",
                                r->server, address, first);
      else
        g_hash_table_insert (passed, (gpointer) address, r->server);
    }

  if (g_hash_table_size (passed) >= p->min_sources)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (g_hash_table_size (passed) == 0)
    append_clock_far_off (lines, p->results);
  g_task_return_new_error (task, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED,
                           "%u of %u servers passed the NTS preflight, %u needed:%s",
                           g_hash_table_size (passed), p->results->len, p->min_sources,
                           lines->str);
}

static void
on_probed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Preflight *p = g_task_get_task_data (task);
  GError *error = NULL;

  p->results = nts_probe_run_finish (result, &error);
  if (p->results == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  judge (task);
}

void
nts_preflight_async (const char *const *servers, const NtsPreflightOptions *options,
                     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(NtsProbeRequest) request = nts_probe_request_new ();
  Preflight *p = g_new0 (Preflight, 1);
  GError *error = NULL;
  guint n = servers != NULL ? g_strv_length ((char **) servers) : 0;

  nts_task_set_source_tag (task, nts_preflight_async);
  p->min_sources = MAX (options->min_sources, 1);
  g_task_set_task_data (task, p, (GDestroyNotify) preflight_free);

  if (n == 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "Preflight: no servers");
      return;
    }
  for (guint i = 0; i < n; i++)
    nts_probe_request_add (request, servers[i], options->nts_ports ? options->nts_ports[i] : 0);
  request->timeout_ms = options->timeout_ms != 0 ? options->timeout_ms
                                                 : NTS_PREFLIGHT_TIMEOUT_MS;
  request->secrets = options->secrets;
  request->no_cert_time_check = options->no_cert_time_check;
  if (!nts_probe_load_ca (options->root, options->trusted_certs, &request->ca_pem, &error))
    {
      g_prefix_error (&error, "Preflight: the certificates to trust: ");
      g_task_return_error (task, error);
      return;
    }
  nts_probe_run_async (request, options->root, cancellable, on_probed, g_steal_pointer (&task));
}

gboolean
nts_preflight_finish (GAsyncResult *result, GPtrArray **results, GError **error)
{
  GTask *task = G_TASK (result);
  Preflight *p;
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (task) == NTS_TASK_TAG (nts_preflight_async),
                        FALSE);
  p = g_task_get_task_data (task);
  ok = g_task_propagate_boolean (task, &local_error);
  if (results != NULL)
    {
      gboolean have = ok || g_error_matches (local_error, NTS_ERROR, NTS_ERROR_PREFLIGHT_FAILED);
      *results = have && p->results != NULL ? g_ptr_array_ref (p->results) : NULL;
    }
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}
