/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Preflight: prove each server speaks NTS before anything changes.
 *
 * One `chronyd -Q -t N -u USER 'server NAME iburst nts'` per server, all
 * at once, each bounded. -Q measures the offset and prints it without
 * touching the clock. The directives go on the command line only, never
 * with a configuration file: chronyd then reads no chrony.conf, and -Q
 * ("client only") opens no NTP or command port, writes no pid file, and
 * creates nothing under /var/lib/chrony, /var/log/chrony or /run/chrony
 * (chronyd 4.3 opens only /etc/localtime, /etc/nsswitch.conf,
 * /etc/passwd and the CA bundle, all read-only; tests/test-preflight.c
 * checks the directories). With a full config
 * file it would create those directories and rewrite the drift file.
 * `-f /dev/null` is not needed: directives on the command line replace
 * the config file. `-4` is not needed on loopback either. */
#pragma once

#include <gio/gio.h>

#include "layout.h"

G_BEGIN_DECLS

/* chronyd -t: a good server answers in about 6 s with iburst; failures
 * (refused, TLS errors) log at once but chronyd only exits at -t. */
#define NTS_PREFLIGHT_TIMEOUT_S 15
/* Added to -t before we kill a chronyd that did not exit by itself. */
#define NTS_PREFLIGHT_KILL_MARGIN_S 5

typedef struct {
  NtsRoot             *root;          /* NULL: "/"; chronyd is run as <root's host path><chronyd_path> */
  const char          *chronyd_path;  /* NtsLayout.chronyd_path */
  const char          *user;          /* NtsLayout.user; "root" where that user does not exist */
  guint                timeout_s;     /* chronyd -t; 0: NTS_PREFLIGHT_TIMEOUT_S */
  guint                min_sources;   /* how many must pass; 0 counts as 1 */
  const char          *trusted_certs; /* NULL: the system's CAs; tests pass their CA (ntstrustedcerts) */
  const guint16       *nts_ports;     /* NULL, or one NTS-KE port per server (0: 4460) */
} NtsPreflightOptions;

typedef struct {
  char     *server;
  gboolean  ok;
  char     *reason;   /* why not, from chronyd's own messages; NULL when ok */
  double    offset;   /* seconds our clock is off ("System clock wrong by"), when ok */
  double    elapsed;  /* seconds the check took */
} NtsPreflightVerdict;

/* @options for chrony as @layout says it lives under layout->root: its
 * chronyd, and its user where that user exists, else root (as before
 * chrony is installed); nothing else set. @options borrows from @layout. */
void nts_preflight_options_init (NtsPreflightOptions *options,
                                 const NtsLayout     *layout,
                                 guint                min_sources);

void nts_preflight_verdict_free (NtsPreflightVerdict *verdict);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsPreflightVerdict, nts_preflight_verdict_free)

/* Checks every server of @servers in parallel. */
void     nts_preflight_async  (const char * const         *servers,
                               const NtsPreflightOptions  *options,
                               GCancellable               *cancellable,
                               GAsyncReadyCallback         callback,
                               gpointer                    user_data);
/* TRUE when at least min_sources passed. @verdicts (optional) gets one
 * NtsPreflightVerdict per server, in the order given, also when the
 * answer is NTS_ERROR_PREFLIGHT_FAILED (whose message lists every failing
 * server with its reason, one "server: reason" line each); NULL on other errors (chronyd could not be
 * started, cancelled, invalid server name). */
gboolean nts_preflight_finish (GAsyncResult               *result,
                               GPtrArray                 **verdicts,
                               GError                    **error);

G_END_DECLS
