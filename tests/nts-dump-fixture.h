/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chronyd's own NTS dumps, for the tests and the benchmark of nts-dump.c:
 * a real key exchange by `chronyd -Q` against a loopback NTS server
 * (tests/nts-loopback.h), which leaves <address>.nts in its ntsdumpdir at
 * exit, and a reader of that file.
 *
 * The reader is test-only on purpose: the service writes dumps and never
 * reads one (chronyd does). It is strict all the same, so a test that
 * compares our file with chronyd's compares what chronyd wrote. */
#pragma once

#include <gio/gio.h>

#include "nts-dump.h"
#include "nts-loopback.h"

G_BEGIN_DECLS

/* The NTS-KE port of the server the test bed runs on @address. */
guint16 nts_dump_fixture_server_nts_port (NtsLoopback *lb, const char *address);

/* Runs `chronyd -Q -t 15 -u root 'server ADDRESS iburst nts ntsport P
 * minpoll -4 maxpoll -4' ntstrustedcerts CA nosystemcert ntsdumpdir
 * @dump_dir` to its end (it exits after its first measurement, ~0.5 s,
 * or at -t), which leaves @dump_dir/ADDRESS.nts. */
gboolean nts_dump_fixture_run_chronyd (NtsLoopback *lb, const char *address,
                                       const char *dump_dir, GError **error);

/* One dump as chronyd wrote it, every line parsed. */
typedef struct {
  char *name;
  char *time_text; /* the line as written */
  double ke_time;
  char *ntp_address;
  guint16 ntp_port;
  guint context_id;
  guint aead;
  guint8 s2c[NTS_DUMP_KEY_LEN];
  guint8 c2s[NTS_DUMP_KEY_LEN];
  GPtrArray *cookies; /* GBytes */
} NtsDumpParsed;

NtsDumpParsed *nts_dump_parsed_read (const char *path, GError **error);
void nts_dump_parsed_free (NtsDumpParsed *parsed);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsDumpParsed, nts_dump_parsed_free)

/* @parsed as the entry nts_dump_write() takes; it points into @parsed. */
void nts_dump_parsed_to_entry (const NtsDumpParsed *parsed, const char *ke_address,
                               NtsDumpEntry *entry);

/* Runs `chronyc -h SOCKET @args...`, for a chronyd the test bed does not
 * hand out (a server's command socket). */
gboolean nts_dump_fixture_chronyc (NtsLoopback *lb, const char *socket_path,
                                   const char *const *args, char **output, GError **error);

/* Waits, at most 20 s, until the dump at @path is gone: chronyd removes a
 * dump as it loads it. FALSE if it is still there. */
gboolean nts_dump_fixture_wait_loaded (const char *path);

/* The keys and cookies of @parsed in upper-case hex, as chronyd writes
 * them: for the checks that none of them reaches a log. */
GStrv nts_dump_parsed_secrets_hex (const NtsDumpParsed *parsed);

/* A server's count of NTS-KE connections accepted (`serverstats`), or -1. */
gint64 nts_dump_fixture_ke_accepted (NtsLoopback *lb, const char *address, GError **error);

G_END_DECLS
