/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A loopback NTS test bed: a test CA, NTS server chronyds on 127.0.0.x and a
 * client chronyd using them, all in one short temporary directory.
 *
 * Every chronyd runs with -x (never touches the clock), -4, -u root and -d
 * (stays our child), with its own config, pid file, command socket, dump
 * directory and drift file inside the directory. Teardown (free) stops them
 * and removes the directory; if the test process dies instead (a failed
 * assertion aborts), the kernel kills the chronyds (PDEATHSIG) and a small
 * guardian process removes the directory once they are gone.
 *
 * Programs: $NTSSETUP_CHRONYD / $NTSSETUP_CHRONYC when set and non-empty,
 * otherwise chronyd / chronyc from PATH, /usr/sbin or /usr/bin. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  /* Certificate from the trusted test CA (SAN: DNS name and the IP). */
  NTS_LOOPBACK_SERVER_GOOD,
  /* Same, but the certificate comes from another CA the client does not trust. */
  NTS_LOOPBACK_SERVER_UNTRUSTED,
  /* Nothing at all listens on the address: NTS-KE is refused. */
  NTS_LOOPBACK_SERVER_KE_CLOSED,
  /* NTS-KE works, but the server has `port 0` (no NTP server). chronyd 4.3
   * still sends an NTPv4 Port Negotiation record, of port 0 (it sends one
   * for any `port` but 123), which its clients take for the default port
   * (nts_ntp_client.c, set_ntp_address): their requests go to 123, where
   * nothing answers. Measured on chrony 4.3: the key exchange succeeds,
   * cookies drain, RX stays 0. */
  NTS_LOOPBACK_SERVER_NTP_SILENT,
  /* From the trusted CA, for the right names, but valid only in 2021
   * (NTS_LOOPBACK_EXPIRED_NOT_BEFORE .. _NOT_AFTER). */
  NTS_LOOPBACK_SERVER_EXPIRED,
  /* Same, valid only in 2090 (NTS_LOOPBACK_FUTURE_NOT_BEFORE .. _NOT_AFTER). */
  NTS_LOOPBACK_SERVER_NOT_YET_VALID,
  /* From the trusted CA, valid now, but for another server: its names are
   * NTS_LOOPBACK_WRONG_NAME and 192.0.2.1, not the address. */
  NTS_LOOPBACK_SERVER_WRONG_NAME,
  /* The next three send their clients elsewhere (nts_loopback_add_server_via):
   * the key-exchange server's `ntsntpserver` and `port` are negotiated to
   * the client (NTPv4 Server and Port Negotiation records). Here a second
   * chronyd there answers, with the same server keys (a copy of the first
   * one's ntskeys): the client's cookies are good there. */
  NTS_LOOPBACK_SERVER_NEGOTIATED,
  /* Same, but the second chronyd has server keys of its own: it cannot open
   * the cookies and answers with an NTS NAK (kiss code NTSN), as a server
   * restarted with new keys does. */
  NTS_LOOPBACK_SERVER_NAK,
  /* Same, but there a responder of this test bed answers every request
   * with a kiss-o'-death NTS_LOOPBACK_KISS_CODE: chronyd 4.3 never sends
   * one (its rate limiting drops packets, and never a first one), so this
   * is the one mock, standing for a rate-limiting server. */
  NTS_LOOPBACK_SERVER_KISS,
  /* NTS-KE works and negotiates the server's own NTP port, but the test
   * bed holds that port first (chronyd logs "Could not open NTP socket"
   * and runs without it): requests arrive and are never answered, as
   * behind a firewall that drops them (none can be set up here). What
   * arrives is counted. */
  NTS_LOOPBACK_SERVER_NTP_DROPPED,
  /* GOOD, on "127.0.0.1" only, with "localhost" in its certificate too;
   * also listening on ::1 when localhost resolves there (so either address
   * a resolver picks for localhost reaches it): one server, two names. */
  NTS_LOOPBACK_SERVER_LOCALHOST,
} NtsLoopbackServerKind;

/* The validity of the EXPIRED and NOT_YET_VALID certificates, Unix seconds:
 * fixed, so a test can compare what a client reports. */
#define NTS_LOOPBACK_EXPIRED_NOT_BEFORE G_GINT64_CONSTANT (1609459200) /* 2021-01-01 */
#define NTS_LOOPBACK_EXPIRED_NOT_AFTER  G_GINT64_CONSTANT (1640995200) /* 2022-01-01 */
#define NTS_LOOPBACK_FUTURE_NOT_BEFORE  G_GINT64_CONSTANT (3786912000) /* 2090-01-01 */
#define NTS_LOOPBACK_FUTURE_NOT_AFTER   G_GINT64_CONSTANT (3818448000) /* 2091-01-01 */
#define NTS_LOOPBACK_WRONG_NAME         "nts-elsewhere.test"
#define NTS_LOOPBACK_KISS_CODE          "RATE"
/* The subject's CN of a server's certificate is "nts-" + the address with
 * dashes + ".test" (nts-127-0-0-2.test); the issuer's CN is this. */
#define NTS_LOOPBACK_CA_NAME       "ntssetup test CA"
#define NTS_LOOPBACK_OTHER_CA_NAME "ntssetup untrusted CA"

typedef struct _NtsLoopback NtsLoopback;

/* The chronyd/chronyc to use, or FALSE with a reason (for g_test_skip). */
gboolean     nts_loopback_find_programs (char  **chronyd,
                                         char  **chronyc,
                                         char  **why_not);

/* Creates the directory, the trusted CA and the untrusted one. */
NtsLoopback *nts_loopback_new           (GError **error);
void         nts_loopback_free          (NtsLoopback *lb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsLoopback, nts_loopback_free)

/* Adds a server on @address ("127.0.0.2" .. "127.0.0.10"; LOCALHOST:
 * "127.0.0.1") with ports no one else uses, starts it (unless KE_CLOSED)
 * and waits, bounded, until its NTS-KE port accepts connections. Must
 * precede start_client(). Not for NEGOTIATED, NAK or KISS: see below. */
gboolean     nts_loopback_add_server    (NtsLoopback           *lb,
                                         const char            *address,
                                         NtsLoopbackServerKind  kind,
                                         GError               **error);

/* The same on NTS-KE port @nts_port (G_IO_ERROR_ADDRESS_IN_USE when it is
 * taken): 4460, for what takes servers without a port, as Apply does.
 * Each test program that does this keeps an address of its own for it:
 * test programs run at once, and nothing else picks a port below 20000. */
gboolean nts_loopback_add_server_at_port (NtsLoopback *lb, const char *address,
                                          NtsLoopbackServerKind kind, guint16 nts_port,
                                          GError **error);

/* Adds a NEGOTIATED, NAK or KISS server: its key exchange on @address as
 * add_server() does, its NTP (the second chronyd, or the kiss responder) on
 * @ntp_address, on a port free on both (the key-exchange chronyd's own
 * `port`, so that it is the one negotiated). Several may share one
 * @ntp_address, and it may be that of another server. */
gboolean nts_loopback_add_server_via (NtsLoopback *lb, const char *address,
                                      NtsLoopbackServerKind kind, const char *ntp_address,
                                      GError **error);

/* The NTS-KE port of the server on @address (KE_CLOSED: where nothing
 * listens), 0 for an address without a server. */
guint16 nts_loopback_get_nts_port (NtsLoopback *lb, const char *address);
/* Where the server on @address tells its clients to send NTP: its own
 * address and port, or for NEGOTIATED, NAK and KISS the ones negotiated
 * (NTP_SILENT: 123, where its port 0 sends clients). FALSE for an address
 * without a server, or KE_CLOSED. */
gboolean nts_loopback_get_ntp_target (NtsLoopback *lb, const char *address,
                                      const char **ntp_address, guint16 *ntp_port);
/* The trusted test CA's certificate (PEM). */
const char *nts_loopback_get_ca_file (NtsLoopback *lb);

/* What a server has received so far, counted where it arrives. */
typedef struct {
  guint64 ke_connections; /* NTS-KE connections its chronyd accepted */
  guint64 ntp_packets;    /* NTP packets to it and to where it sends clients */
} NtsLoopbackServerStats;

/* From `chronyc serverstats` of the server's chronyd (and of the second
 * one of NEGOTIATED or NAK), the kiss responder's count and what reached
 * NTP_DROPPED's port. The test bed's
 * own readiness checks are counted too: compare two readings. KE_CLOSED:
 * zeros. */
gboolean nts_loopback_get_server_stats (NtsLoopback *lb, const char *address,
                                        NtsLoopbackServerStats *stats, GError **error);

/* Starts the client chronyd with `server ADDR iburst nts ntsport N` for
 * every server added, `authselectmode require`, `minsources @minsources`,
 * and waits, bounded, until its command socket answers connections. */
gboolean     nts_loopback_start_client  (NtsLoopback           *lb,
                                         guint                  minsources,
                                         GError               **error);

/* More client chronyds on the same servers: each with its own files and
 * command socket, so that one set of servers serves many cases. */
typedef struct {
  const char         *name;        /* label for its files ("good", "silent"); required */
  const char * const *servers;     /* addresses of servers added before; NULL = all */
  const char * const *extra_lines; /* more config lines, e.g. "server x.invalid iburst nts" */
  guint               minsources;
  /* Where its command socket and configuration go, e.g. under a test
   * service's --root; NULL = in the test bed's directory. The socket's
   * directory is created 0700 if missing (chronyd wants it private). */
  const char         *socket_path;
  const char         *config_path;
  /* Its ntsdumpdir, e.g. one a test left a dump in; NULL = its own in the
   * test bed's directory. Created 0700 if missing. */
  const char *dump_dir;
} NtsLoopbackClientSpec;

typedef struct _NtsLoopbackClient NtsLoopbackClient;

/* Starts it and waits, bounded, until its command socket answers. The
 * client belongs to @lb: freed, and stopped, with it. */
NtsLoopbackClient *nts_loopback_add_client (NtsLoopback                 *lb,
                                            const NtsLoopbackClientSpec *spec,
                                            GError                     **error);
const char *nts_loopback_client_get_socket (NtsLoopbackClient *client);
const char *nts_loopback_client_get_config (NtsLoopbackClient *client);
/* Runs `chronyc -h SOCKET @args...` against this client. */
gboolean    nts_loopback_client_chronyc    (NtsLoopback         *lb,
                                            NtsLoopbackClient   *client,
                                            const char * const  *args,
                                            char               **output,
                                            GError             **error);
char       *nts_loopback_client_read_log   (NtsLoopback         *lb,
                                            NtsLoopbackClient   *client);
/* Stops it (bounded); its socket is gone afterwards. */
void        nts_loopback_client_stop       (NtsLoopbackClient   *client);
/* Stops it and starts it again with the same configuration, as a restart
 * of the service would; waits, bounded, until the new socket answers. */
gboolean    nts_loopback_client_restart    (NtsLoopback         *lb,
                                            NtsLoopbackClient   *client,
                                            GError             **error);

const char  *nts_loopback_get_dir           (NtsLoopback *lb);
const char  *nts_loopback_get_client_socket (NtsLoopback *lb);
const char  *nts_loopback_get_chronyc       (NtsLoopback *lb);

/* Runs `chronyc -h SOCKET @args...` against the client; stdout in @output. */
gboolean     nts_loopback_chronyc       (NtsLoopback         *lb,
                                         const char * const  *args,
                                         char               **output,
                                         GError             **error);

/* The client's or a server's log (chronyd -d writes it to stderr), for
 * diagnostics when a test fails. @address NULL for the client. */
char        *nts_loopback_read_log      (NtsLoopback *lb,
                                         const char  *address);

G_END_DECLS
