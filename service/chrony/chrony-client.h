/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A client for chronyd's command socket (/run/chrony/chronyd.sock).
 *
 * Speaks the protocol of chrony-protocol.h over a datagram Unix socket of its
 * own, bound next to chronyd's socket because chronyd answers to the sender's
 * path and only trusts callers who can write into its directory (root and
 * chronyd's user). The socket file is removed again whatever happens.
 *
 * Every wait is bounded: a request is sent up to @attempts times with a fresh
 * sequence number, waiting first_timeout_ms, then twice that, and so on (as
 * chronyc does: 1 s, 2 s, 4 s), and fetch_report() has an overall deadline on
 * top. A client may be shared between threads; requests are serialised. */
#pragma once

#include <gio/gio.h>

#include "chrony-protocol.h"

G_BEGIN_DECLS

#define NTS_CHRONY_CLIENT_DEFAULT_FIRST_TIMEOUT_MS 1000
#define NTS_CHRONY_CLIENT_DEFAULT_ATTEMPTS         3
#define NTS_CHRONY_CLIENT_DEFAULT_FETCH_TIMEOUT_MS 10000

typedef struct _NtsChronyClient NtsChronyClient;

/* Binds "ntssetupd.<pid>.<n>.sock" in the directory of @socket_path, makes
 * it writable for chronyd's user (mode 0666, set through a descriptor, never
 * by name) and connects it to chronyd. Fails with
 * NTS_CHRONY_ERROR_INVALID_ARGUMENT if either path does not fit a Unix
 * socket address (107 bytes), NTS_CHRONY_ERROR_UNREACHABLE if nothing
 * listens at @socket_path, NTS_CHRONY_ERROR_UNAUTHORISED if we may not use
 * it, NTS_CHRONY_ERROR_FAILED if our socket's name was replaced (a link,
 * another file) before its mode was set: that mode is then left alone. */
NtsChronyClient *nts_chrony_client_new   (const char       *socket_path,
                                          GError          **error);
/* Removes the client sockets ("ntssetupd.PID.N.sock") that dead
 * processes left beside @socket_path: a daemon killed while talking to
 * chronyd (a crash mid-Apply) cannot unlink its own. Best effort. */
void             nts_chrony_client_remove_stale (const char *socket_path);
NtsChronyClient *nts_chrony_client_ref   (NtsChronyClient  *client);
/* The last unref closes the socket and unlinks its file. */
void             nts_chrony_client_unref (NtsChronyClient  *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsChronyClient, nts_chrony_client_unref)

/* Our own socket's path: Verify checks that it is still ours before
 * reusing the client, and the tests that it disappears. */
const char *nts_chrony_client_get_local_path  (NtsChronyClient *client);

/* For tests only: @hook runs inside nts_chrony_client_new() right after
 * bind(), with our socket's path, before its mode is set; the tests swap
 * the name there, as chronyd's user could. NULL removes it. Not
 * thread-safe: set it while no client is being created. */
typedef void (*NtsChronyClientBoundHook) (const char *local_path,
                                          gpointer    user_data);
void nts_chrony_client_set_bound_hook_for_tests (NtsChronyClientBoundHook hook,
                                                 gpointer                 user_data);

/* @first_timeout_ms: wait for the first attempt, doubled for each resend;
 * @attempts: sends per request (>= 1); @fetch_timeout_ms: bound on a whole
 * fetch_report(). Tests shorten them; the defaults match chronyc. */
void nts_chrony_client_set_timeouts (NtsChronyClient *client,
                                     guint            first_timeout_ms,
                                     guint            attempts,
                                     guint            fetch_timeout_ms);

/* Sends @request and waits for the matching reply, which is returned
 * validated (nts_chrony_reply_validate()) in @reply with its length and the
 * sequence number it answers, ready for an nts_chrony_decode_*() call.
 * Replies to other requests (stale sequence numbers) are skipped. The one
 * request fetch_report() makes many of, open to the tests, which aim at a
 * single request (a resend, a refusal) the report would hide. */
gboolean nts_chrony_client_request (NtsChronyClient        *client,
                                    const NtsChronyRequest *request,
                                    guint8                 *reply,
                                    gsize                   reply_size,
                                    gsize                  *reply_len,
                                    guint32                *sequence,
                                    GCancellable           *cancellable,
                                    GError                **error);

/* One source as Verify sees it. The per-source requests that chronyd may
 * refuse (NTP_SOURCE_NAME for a reference clock, NTP_DATA/AUTH_DATA for an
 * unresolved name or a reference clock, any of them for a source removed
 * meanwhile) do not fail the fetch: the field is absent and *_error says why. */
typedef struct {
  NtsChronySourceData source;
  char               *name;            /* configured name; NULL if absent */
  GError             *name_error;
  gboolean            have_ntp_data;
  NtsChronyNtpData    ntp_data;
  GError             *ntp_data_error;
  gboolean            have_auth_data;
  NtsChronyAuthData   auth_data;
  GError             *auth_data_error;
} NtsChronySourceReport;

typedef struct {
  NtsChronyTracking tracking;
  GPtrArray        *sources;  /* NtsChronySourceReport *, chronyd's order, as `chronyc sources -a` */
} NtsChronyReport;

void nts_chrony_report_free (NtsChronyReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsChronyReport, nts_chrony_report_free)

/* TRACKING, N_SOURCES, and per source SOURCE_DATA, NTP_SOURCE_NAME,
 * NTP_DATA, AUTH_DATA. Fails only if chronyd cannot be asked at all (socket
 * error, timeout, malformed reply) or refuses TRACKING/N_SOURCES. A source
 * list that shrinks while it is read ends early rather than failing. */
NtsChronyReport *nts_chrony_client_fetch_report        (NtsChronyClient     *client,
                                                        GCancellable        *cancellable,
                                                        GError             **error);
/* The same in a worker thread, so a main loop never waits on chronyd. */
void             nts_chrony_client_fetch_report_async  (NtsChronyClient     *client,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
NtsChronyReport *nts_chrony_client_fetch_report_finish (NtsChronyClient     *client,
                                                        GAsyncResult        *result,
                                                        GError             **error);

G_END_DECLS
