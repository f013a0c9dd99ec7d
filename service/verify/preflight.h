/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Preflight: prove each server speaks NTS before anything changes.
 *
 * One probe (probe-client.h) of every server at once, under one deadline:
 * ntssetup-probe, unprivileged, does each server's key exchange and one
 * authenticated NTP request, and reports per server. The daemon itself
 * opens no network socket, runs no chronyd and needs no chrony installed:
 * the preflight can run before chrony is. A server passes when its probe
 * is "ok"; two servers with one address are one source, and count once
 * towards min_sources. */
#pragma once

#include <gio/gio.h>

#include "layout.h"

G_BEGIN_DECLS

/* The one deadline of a preflight: on loopback all of it takes a few
 * milliseconds; a public server answers well within a second. */
#define NTS_PREFLIGHT_TIMEOUT_MS 5000

typedef struct {
  NtsRoot *root;     /* NULL: "/" (the probe through its socket) */
  guint timeout_ms;  /* 0: NTS_PREFLIGHT_TIMEOUT_MS */
  guint min_sources; /* how many must pass; 0 counts as 1 */
  /* A PEM file (a host path) the daemon reads and hands to the probe as
   * its only trust anchors: tests pass their CA. NULL: under a --root the
   * root's own bundle when it has one, else the system's CAs
   * (nts_probe_load_ca()). */
  const char *trusted_certs;
  const guint16 *nts_ports; /* NULL, or one NTS-KE port per server (0: 4460) */
  /* Ask for each exchange's keys and cookies (NtsProbeResult's secrets),
   * for chronyd's NTS dump. */
  gboolean secrets;
  /* Accept certificates outside their dates, as chronyd does with
   * nocerttimecheck (Apply's allow-clock-far-off). */
  gboolean no_cert_time_check;
} NtsPreflightOptions;

/* @options for a preflight under @root; nothing else set. */
void nts_preflight_options_init (NtsPreflightOptions *options, NtsRoot *root, guint min_sources);

/* Checks every server of @servers (valid names: server-name.h) at once. */
void nts_preflight_async (const char *const *servers, const NtsPreflightOptions *options,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
/* TRUE when at least min_sources distinct sources passed. @results
 * (optional) gets the probe's NtsProbeResult for each server, in the
 * order given, also when the answer is NTS_ERROR_PREFLIGHT_FAILED, whose
 * message lists every failing server ("server: what the probe said", one
 * line each) and every server counted once with another; NULL on other
 * errors (the probe could not be reached or did not answer, the CA
 * file cannot be read, no servers, cancelled). */
gboolean nts_preflight_finish (GAsyncResult *result, GPtrArray **results, GError **error);

G_END_DECLS
