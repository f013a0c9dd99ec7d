/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Probes asked for by callers (ProbeServers, and Verify's "probe"), and
 * the ones a Verify wait makes to judge chronyd's key-exchange back-off,
 * with a memory: one per daemon, the verifier's (verify.h).
 *
 * Any local user may ask, and every probe sends packets to servers that
 * are not ours: a key exchange and up to two NTP requests each. A server
 * probed less than NTS_PROBE_CACHE_SECONDS ago is answered from here, so
 * a panel refreshing, or a user calling in a loop, costs the servers
 * nothing more; the callers' concurrency is bounded by caller-limits.h.
 * What is kept is what callers see: never the keys or cookies (the
 * preflight, which wants them, asks the probe itself and keeps nothing). */
#pragma once

#include <gio/gio.h>

#include "layout.h"
#include "probe-wire.h"

G_BEGIN_DECLS

#define NTS_PROBE_CACHE_SECONDS 60
/* A probe asked for through the API gives every server this long. */
#define NTS_PROBE_CACHE_TIMEOUT_MS 5000u

typedef struct _NtsProbeCache NtsProbeCache;

NtsProbeCache *nts_probe_cache_new (NtsRoot *root);
void nts_probe_cache_free (NtsProbeCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsProbeCache, nts_probe_cache_free)

/* Probes each of @targets (NtsProbeTarget) not probed recently, all in
 * one request. */
void nts_probe_cache_run_async (NtsProbeCache *cache, GPtrArray *targets,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
/* One a{sv} per target, in order (nts_probe_result_to_variant() without
 * secrets), or NULL when the probe could not be run. */
GPtrArray *nts_probe_cache_run_finish (NtsProbeCache *cache, GAsyncResult *result,
                                       GError **error);

/* Forgets everything: the next probe of any server is a real one. */
void nts_probe_cache_clear (NtsProbeCache *cache);

G_END_DECLS
