/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Verify: what chronyd, systemd and chrony's configuration say, judged
 * (diagnosis.h) and put into the report of org.ntssetup.Manager1.Verify.
 *
 * One round asks, at the same time: systemd for chronyd's and
 * systemd-timesyncd's units, chronyd over its command socket for tracking
 * and every source (in a worker thread: the main loop never waits on
 * chronyd), and reads chronyd's configuration for minsources. With a
 * 'wait', rounds repeat on a main-loop timer until NTS is up (authenticated
 * sources >= min-sources and synchronised), the wait is over, or waiting
 * cannot help: chronyd is not running and not starting, or too few sources
 * can still become usable in time — every other one is plain NTP, or its
 * key exchange fails and chronyd will not retry it before the wait ends
 * (ke-backoff.h; how it failed, the probe of that source tells).
 * With NTS_VERIFY_PROBE the final report also says what a probe of each
 * failing source found.
 *
 * Never changes anything. */
#pragma once

#include <gio/gio.h>

#include "layout-cache.h"
#include "probe-cache.h"

G_BEGIN_DECLS

/* The longest pause between two rounds of a wait. */
#define NTS_VERIFY_POLL_INTERVAL_MS 500

typedef struct _NtsVerifier NtsVerifier;

/* @root: the daemon's --root. @system_bus: for systemd; NULL when there is
 * none to ask (unit states are then "unknown"). */
NtsVerifier *nts_verifier_new   (NtsRoot         *root,
                                 GDBusConnection *system_bus);
NtsVerifier *nts_verifier_ref   (NtsVerifier     *verifier);
void         nts_verifier_unref (NtsVerifier     *verifier);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsVerifier, nts_verifier_unref)

/* Where chrony lives comes from the verifier's layout cache
 * (layout-cache.h: one resolution at a time, kept until what it read
 * changes), since anyone may call Verify in a loop; operators and the
 * layout are re-read from it every few seconds. This forgets both, the
 * cache's answer for PreviewConfig and the properties too: the manager
 * calls it when an Apply or a Rollback ends, however it ended, and after
 * a recovery, any of which may have installed packages or changed units. */
void nts_verifier_forget_layout (NtsVerifier *verifier);

/* The verifier's layout cache, for the daemon's other read-only answers
 * (PreviewConfig, the properties): owned by the verifier. */
NtsLayoutCache *nts_verifier_get_layout_cache (NtsVerifier *verifier);

/* The verifier's probe cache (probe-cache.h), owned by it: one per
 * daemon, so that ProbeServers and Verify's probes of one server within
 * NTS_PROBE_CACHE_SECONDS cost the server one probe. */
NtsProbeCache *nts_verifier_get_probe_cache (NtsVerifier *verifier);

typedef enum {
  NTS_VERIFY_NONE = 0,
  /* Once the report is final, probe each source it finds failing (its
   * key exchange, its NTP, its name) with ntssetup-probe through the
   * verifier's probe cache, and say in its problem what the probe found
   * (probe-diagnosis.h). Sends packets to those servers: the caller
   * counts it against the caller's limits. Without it, the only probes
   * are the wait's, judging chronyd's key-exchange back-off. */
  NTS_VERIFY_PROBE = 1 << 0,
} NtsVerifyFlags;

/* @wait_s: 0 reports at once. Fails only when the layout cannot be
 * resolved or the override file is broken, or when cancelled; everything
 * about chronyd and systemd, reachable or not, is part of the report
 * (and with NTS_VERIFY_PROBE, a probe that cannot run is said in the
 * problems it would have explained). */
void nts_verify_async (NtsVerifier *verifier, guint wait_s, NtsVerifyFlags flags,
                       GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data);
/* The report, a{sv} as documented in the XML. */
GVariant *nts_verify_finish (NtsVerifier         *verifier,
                             GAsyncResult        *result,
                             GError             **error);

G_END_DECLS
