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
  /* NTS-KE works, but the server has `port 0` (no NTP server), so the
   * client's NTP requests (to port 123) are never answered: measured on
   * chrony 4.3, the key exchange succeeds, cookies drain, RX stays 0. */
  NTS_LOOPBACK_SERVER_NTP_SILENT,
} NtsLoopbackServerKind;

typedef struct _NtsLoopback NtsLoopback;

/* The chronyd/chronyc to use, or FALSE with a reason (for g_test_skip). */
gboolean     nts_loopback_find_programs (char  **chronyd,
                                         char  **chronyc,
                                         char  **why_not);

/* Creates the directory, the trusted CA and the untrusted one. */
NtsLoopback *nts_loopback_new           (GError **error);
void         nts_loopback_free          (NtsLoopback *lb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsLoopback, nts_loopback_free)

/* Adds a server on @address ("127.0.0.2" .. "127.0.0.10") with ports no
 * one else uses, starts it (unless KE_CLOSED) and waits, bounded, until
 * its NTS-KE port accepts connections. Must precede start_client(). */
gboolean     nts_loopback_add_server    (NtsLoopback           *lb,
                                         const char            *address,
                                         NtsLoopbackServerKind  kind,
                                         GError               **error);

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
