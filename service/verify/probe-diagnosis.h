/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a probe of a failing source adds to Verify's diagnosis, for
 * Verify's 'probe' option (verify.c): chronyd only says that a source's
 * key exchange fails, or that NTP after it stays silent; the probe
 * (probe-wire.h) says in which phase and why, down to the certificate's
 * dates. This turns one
 * probe result into the problem's exact message and a hint for that
 * cause, and tells from all of them whether it is the machine's clock that
 * is wrong rather than every server.
 *
 * Pure, like diagnosis.c: results come as the a{sv} that ProbeServers
 * returns, problems as diagnosis.h's, @now_unix from the caller. */
#pragma once

#include <glib.h>

#include "diagnosis.h"

G_BEGIN_DECLS

/* Rewrites @problem (a per-source problem: nts-ke-failed,
 * ntp-unanswered, nts-nak, name-unresolved) with what @probe found: the
 * message gains the probe's verdict, the hint becomes the one for that
 * cause. A probe that succeeded says so: chronyd's view is older than
 * the cause (restart chronyd to retry at once). */
void nts_probe_explain_problem (NtsProblem *problem, GVariant *probe, gint64 now_unix);

/* A clock-far-off problem when every one of @probes (at least one) failed
 * on its certificate's dates alone (clock-suspect): one expired
 * certificate is a server's fault, all of them at once is this clock's.
 * NULL otherwise. */
NtsProblem *nts_probe_clock_far_off (GVariant *const *probes, guint n_probes, gint64 now_unix);

G_END_DECLS
