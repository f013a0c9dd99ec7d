/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What is wrong with a machine's authenticated time, and what to do about
 * it: the troubleshooting of the reference document as rules over a plain
 * snapshot of what chronyd, systemd and chrony's configuration say.
 *
 * Pure: no I/O, no clock, no D-Bus. verify.c gathers the snapshot; the
 * unit tests build snapshots by hand. Each rule yields problems with a
 * stable code (the list is fixed by org.ntssetup.Manager1.xml), the source
 * it concerns ("" for the whole machine), a message saying what is wrong
 * and a hint saying what a person can do now. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Verify's per-source 'state' values. */
typedef enum {
  NTS_SOURCE_SELECTED,     /* '*': chronyd is synchronised to it */
  NTS_SOURCE_CANDIDATE,    /* '+': combined with the selected one */
  NTS_SOURCE_OUTLIER,      /* '-': acceptable, left out of the combination
                            *      (also every source while fewer than
                            *      minsources are acceptable) */
  NTS_SOURCE_FALSETICKER,  /* 'x': disagrees with the majority */
  NTS_SOURCE_JITTERY,      /* '~': too variable to use */
  NTS_SOURCE_UNUSABLE,     /* '?' while it answers: e.g. unauthenticated
                            *      under authselectmode require */
  NTS_SOURCE_UNREACHABLE,  /* '?' and nothing heard lately (reach 0) */
  NTS_SOURCE_UNRESOLVED,   /* its name has no address yet */
} NtsSourceState;

const char     *nts_source_state_to_string (NtsSourceState state);

/* From chronyd's SOURCE_DATA state (chrony-protocol.h's
 * NtsChronySourceState), its reach register, and whether the address is
 * an unresolved name's placeholder (family 3). */
NtsSourceState  nts_source_state_from_chrony (guint16  chrony_state,
                                              guint8   reachability,
                                              gboolean unresolved);

typedef struct {
  const char *name;         /* configured name (never NULL) */
  const char *address;      /* "" when unresolved */
  const char *operator_name;/* "" when unknown */
  NtsSourceState state;
  gboolean reference_clock; /* not an NTP server: no NTS rules apply */
  gboolean nts;             /* NTS mode */
  gboolean symmetric_key;   /* authenticated with a key from the keys file instead */
  guint32  ke_count;        /* successful key exchanges */
  guint32  ke_attempts;     /* key exchanges tried since the last authenticated reply */
  gint64   last_ke_age;     /* seconds, -1 never */
  guint32  cookies;
  gboolean nak;
  gboolean authenticated;   /* last NTP reply authenticated */
  guint8   reachability;
  gint64   last_sample_age; /* seconds since the last valid (authenticated) sample, -1 never */
  guint    stratum;
  double   offset;
  gboolean have_counters;   /* NTP_DATA answered */
  guint32  tx_count;        /* NTP requests sent */
  guint32  rx_count;        /* replies received (valid or not) */
} NtsDiagSource;

typedef struct {
  /* chrony's files and units, as the layout names them */
  gboolean    chrony_installed;
  const char *chronyd_path;
  const char *chronyd_unit;
  const char *chronyd_state;    /* nts_unit_state_summary(), or "unknown" */
  const char *timesyncd_unit;
  const char *timesyncd_state;
  const char *socket_path;
  const char *config_file;

  /* chronyd's answers; the rest is meaningless unless socket_reachable */
  gboolean    socket_reachable;
  gint64      chronyd_uptime;   /* seconds since chronyd started, -1 unknown */
  const char *socket_error;     /* why not, for the message */
  gboolean    synchronised;
  guint       min_sources;      /* as configured (chrony's default is 1) */
  const NtsDiagSource *sources;
  guint       n_sources;
} NtsDiagSnapshot;

typedef struct {
  char *code;
  char *source;   /* "" for the whole machine */
  char *message;
  char *hint;
} NtsProblem;

void nts_problem_free (NtsProblem *problem);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsProblem, nts_problem_free)

/* NTS, authenticated and usable: its last reply authenticated, heard
 * from lately, and not rejected by chronyd's source selection. */
gboolean   nts_diag_source_is_usable       (const NtsDiagSource   *source);
guint      nts_diag_authenticated_sources  (const NtsDiagSnapshot *snapshot);
/* Verify's 'ok': chronyd answers, authenticated sources >= min-sources,
 * and synchronised. */
gboolean   nts_diag_is_ok                  (const NtsDiagSnapshot *snapshot);

/* The key exchange of an NTS source fails (no cookies, attempts made) —
 * as opposed to one that works but is followed by silence, or one still
 * under way. */
gboolean   nts_diag_source_ke_failing      (const NtsDiagSnapshot *snapshot,
                                            const NtsDiagSource   *source);

/* How long after chronyd's start its first key exchanges may still be
 * under way: chronyd collects the result at the source's next poll, 2 s
 * apart in an iburst (cookies come ~2.5 s after the start on loopback),
 * and the exchange itself may take a few seconds over the Internet. */
#define NTS_DIAG_KE_STARTUP_S 10

/* Every problem, machine-wide ones first, then per source in chronyd's
 * order, then the overall ones. An array of NtsProblem *. */
GPtrArray *nts_diagnose                    (const NtsDiagSnapshot *snapshot);

G_END_DECLS
