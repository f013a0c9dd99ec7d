/* SPDX-License-Identifier: GPL-2.0-or-later */
/* When chronyd will next try the NTS key exchange with a source whose
 * exchanges fail, so that a Verify 'wait' can stop once waiting cannot
 * help.
 *
 * chronyd counts an attempt when it starts a key exchange and waits
 * 2^(F + attempts - 1) seconds (at most 2^19) before the next one, F being
 * 4 after a failed connection (16 s, 32 s, ...) and 10 once the TLS
 * handshake was under way (1024 s, 2048 s, ...); the next attempt then
 * happens at the source's next poll. Its command protocol reports the
 * count but neither when the attempt was made nor how it failed, so:
 *
 * - the time comes from watching the count: an attempt made while we
 *   watch lies between two of our polls; one made before lies after
 *   chronyd started and after the back-offs of the attempts before it;
 * - the kind comes from ntssetup-probe's own key exchange with the source
 *   (probe-client.h; verify.c asks it): no connection means chronyd's
 *   failed too (short back-off); a failure in TLS, the certificate or the
 *   NTS-KE records means chronyd's came there too (long back-off).
 *
 * What is here is arithmetic on monotonic microseconds. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  NTS_KE_FAILURE_UNKNOWN,  /* assume the short back-off */
  NTS_KE_FAILURE_CONNECT,
  NTS_KE_FAILURE_TLS,
} NtsKeFailureKind;

/* "Unknown" for times. */
#define NTS_KE_TIME_UNKNOWN G_MININT64

typedef struct {
  guint32 attempts;   /* 0: nothing seen yet */
  gint64  seen_us;    /* when we first saw this count: the attempt was no later */
  gint64  after_us;   /* the attempt was no earlier; NTS_KE_TIME_UNKNOWN */
} NtsKeObservation;

/* Records that the source reported @attempts (> 0) at @now_us.
 * @previous_poll_us: when we last asked before (NTS_KE_TIME_UNKNOWN on the
 * first poll); @chronyd_start_us: when chronyd started, or unknown. */
void   nts_ke_observe (NtsKeObservation *observation,
                       guint32           attempts,
                       gint64            now_us,
                       gint64            previous_poll_us,
                       gint64            chronyd_start_us);

/* The back-off after attempt number @attempts, in seconds. */
gint64 nts_ke_backoff_seconds (guint32 attempts, NtsKeFailureKind kind);

/* The earliest moment chronyd may start the next key exchange, or
 * NTS_KE_TIME_UNKNOWN when it may be any moment. */
gint64 nts_ke_next_attempt_us (const NtsKeObservation *observation,
                               NtsKeFailureKind        kind);

G_END_DECLS
