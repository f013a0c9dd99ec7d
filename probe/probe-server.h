/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The probe of one server, from its name to one authenticated NTP reply:
 * DNS, TCP to its NTS-KE port, TLS 1.3 (probe-tls.c), the NTS key exchange
 * (nts-ke.c), one NTPv4 request with NTS to the negotiated server and port
 * (nts-ntp.c) and at most one retry, each phase timed, all under the
 * probe's one deadline, and the verdict with a line for people.
 *
 * Blocking: main.c runs one per thread. Everything but getaddrinfo() is
 * bounded by the deadline; a lookup that outlives it is main.c's to report
 * (from the phase this file says it is in).
 *
 * Etiquette towards public servers (they rate-limit and send kisses): one
 * key exchange and at most two NTP packets per server. */
#pragma once

#include <gnutls/gnutls.h>

#include "probe-wire.h"

G_BEGIN_DECLS

typedef struct {
  gnutls_certificate_credentials_t credentials;
  gint64 deadline;  /* g_get_monotonic_time() */
  gboolean secrets; /* fill the keys and the unused cookies on success */
  /* Certificates' validity dates are not checked (the request's
   * no-cert-time-check): the rest of the certificate check still is. */
  gboolean no_cert_time_check;
} NtsProbeServerOptions;

/* Probes @result->server on @result->ke_port and fills the rest of
 * @result. While it runs, *@phase (read atomically) is the phase it is in. */
void nts_probe_server_run (const NtsProbeServerOptions *options, NtsProbeResult *result,
                           volatile gint *phase);

/* The line for a phase that did not finish by the deadline (@ms after the
 * start), for a probe that never came back. */
char *nts_probe_server_late_message (NtsProbePhase phase, guint16 ke_port, guint ms);

G_END_DECLS
