/* SPDX-License-Identifier: GPL-2.0-or-later */
/* From what one Verify round gathered — chronyd's report, the units'
 * states, chrony's configuration, the operator table — to the plain
 * snapshot the diagnosis judges (diagnosis.h) and to the report Verify
 * returns (the a{sv} documented in org.ntssetup.Manager1.xml).
 *
 * No I/O: verify.c gathers, this file converts. */
#pragma once

#include <gio/gio.h>

#include "chrony-client.h"
#include "chrony-conf-scan.h"
#include "diagnosis.h"
#include "layout.h"
#include "operators.h"
#include "systemd-client.h"

G_BEGIN_DECLS

typedef struct {
  const NtsLayout         *layout;
  const NtsOperators      *operators;
  const NtsChronyConfScan *conf;
  const NtsChronyReport   *chrony;          /* NULL: chronyd could not be asked */
  const char              *chrony_error;    /* why not */
  const NtsUnitState      *chronyd_unit;    /* NULL: systemd could not be asked */
  const NtsUnitState      *timesyncd_unit;
  gint64                   chronyd_uptime;  /* seconds, -1 unknown */
} NtsVerifyInputs;

typedef struct _NtsVerifySnapshot NtsVerifySnapshot;

/* The snapshot points into @inputs' data, which must outlive it. */
NtsVerifySnapshot     *nts_verify_snapshot_new    (const NtsVerifyInputs   *inputs);
void                   nts_verify_snapshot_free   (NtsVerifySnapshot       *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsVerifySnapshot, nts_verify_snapshot_free)

const NtsDiagSnapshot *nts_verify_snapshot_diag   (const NtsVerifySnapshot *snapshot);

/* The report with @problems (NtsProblem *, from nts_diagnose()); a full
 * reference, not floating. @probes (may be NULL): source name -> the
 * a{sv} a probe of it gave (no secrets), shown as the source's 'probe'. */
GVariant *nts_verify_snapshot_report (const NtsVerifySnapshot *snapshot, GPtrArray *problems,
                                      GHashTable *probes);

G_END_DECLS
