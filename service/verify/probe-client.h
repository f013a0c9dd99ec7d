/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Asking ntssetup-probe, the unprivileged program that talks NTS to the
 * servers, so that the daemon itself never opens a network socket.
 *
 * On the real system (root "/") the probe is started by systemd: the
 * daemon connects to ntssetup-probe.socket (root-only, Accept=yes), and
 * systemd runs one ntssetup-probe@.service instance per connection as a
 * dynamic user, outside the daemon's sandbox, cgroup and network
 * namespace. Under --root (the tests) there is no such socket: the daemon
 * runs the same binary itself on one end of a socketpair, so the tests
 * exercise the same program and the same exchange. Either way, one
 * request goes out and one answer, parsed strictly (probe-wire.h), comes
 * back within the request's deadline plus a margin. */
#pragma once

#include <gio/gio.h>

#include "layout.h"
#include "probe-wire.h"

G_BEGIN_DECLS

/* The socket ntssetup-probe.socket listens on. */
#define NTS_PROBE_SOCKET_PATH "/run/ntssetup-probe.socket"
/* Added to the request's deadline before the daemon gives up on the
 * probe: starting it, and writing the answer. */
#define NTS_PROBE_MARGIN_MS 2000u

/* Sends @request to a probe: through the socket when @root is the real
 * root (or NULL), else to $NTSSETUP_PROBE (or LIBEXECDIR/ntssetup-probe)
 * started on a socketpair. */
void nts_probe_run_async (const NtsProbeRequest *request, NtsRoot *root,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
/* The results (NtsProbeResult), one per server asked, in order; NULL
 * with an error when the probe could not be reached, did not answer in
 * time, or answered anything but a valid answer to this request. */
GPtrArray *nts_probe_run_finish (GAsyncResult *result, GError **error);

/* The trust anchors a probe of the daemon's is handed, in @pem (NULL:
 * the probe uses the system's CAs): the PEM file @ca_path (a path on the
 * host, read by the daemon: a test's CA, which the probe's dynamic user
 * could not read) when given; else, under a --root, the root's own
 * bundle /etc/ssl/certs/ca-certificates.crt when it has one; else none.
 * Errors: the file cannot be read, is not text, or is too large for a
 * request. */
gboolean nts_probe_load_ca (NtsRoot *root, const char *ca_path, char **pem, GError **error);

G_END_DECLS
