/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The TLS side of one NTS key exchange: the trust anchors, a TLS 1.3
 * client session with ALPN ntske/1, SNI and the name check, driven over a
 * non-blocking socket under the probe's deadline, and when the server's
 * certificate is refused, the exact reason.
 *
 * The reason comes from GnuTLS's own verification status (which check
 * failed), the peer's leaf certificate (subject, issuer, validity) and one
 * more verification of the same chain against the same anchors with time
 * checks off: when that passes, only the dates were wrong, so our clock or
 * the certificate is (clock_suspect) -- the way out for a machine that
 * boots in 1970. No second connection is made for it. */
#pragma once

#include <gio/gio.h>
#include <gnutls/gnutls.h>

#include "probe-wire.h"

G_BEGIN_DECLS

/* The anchors: only the certificates in @ca_pem when not NULL, else the
 * system's. Shared, read-only, by every server's session. */
gnutls_certificate_credentials_t nts_probe_tls_credentials_new (const char *ca_pem,
                                                                GError **error);

/* A session over connected, non-blocking @fd for server @name, its
 * handshake done by @deadline (g_get_monotonic_time()). On failure returns
 * NULL with @result's phase (TLS, CERTIFICATE or KE_PROTOCOL when the
 * server did not choose ntske/1), message and certificate fields set. On
 * success the certificate fields are set too. With @no_cert_time_check
 * the certificates' validity dates are not checked (as chronyd's
 * nocerttimecheck): their signatures, issuers and names still are. */
gnutls_session_t nts_probe_tls_handshake (int fd, const char *name,
                                          gnutls_certificate_credentials_t credentials,
                                          gboolean no_cert_time_check, gint64 deadline,
                                          NtsProbeResult *result);

/* All of @data, or FALSE with @error (G_IO_ERROR_TIMED_OUT at @deadline). */
gboolean nts_probe_tls_send (gnutls_session_t session, int fd, const guint8 *data, gsize length,
                             gint64 deadline, GError **error);
/* Up to @size bytes: > 0 read, 0 at the end of the stream, -1 with @error. */
gssize nts_probe_tls_recv (gnutls_session_t session, int fd, guint8 *buffer, gsize size,
                           gint64 deadline, GError **error);

/* Waits until @fd is ready for @events or @deadline passes: TRUE when
 * ready (or in error: the next call says which), FALSE at the deadline. */
gboolean nts_probe_wait_fd (int fd, short events, gint64 deadline);

G_END_DECLS
