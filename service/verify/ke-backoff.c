/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See ke-backoff.h. */
#include "ke-backoff.h"

#define FACTOR_CONNECT 4
#define FACTOR_TLS     10
#define MAX_EXPONENT   19

gint64
nts_ke_backoff_seconds (guint32 attempts, NtsKeFailureKind kind)
{
  guint factor = kind == NTS_KE_FAILURE_TLS ? FACTOR_TLS : FACTOR_CONNECT;
  guint exponent;

  if (attempts == 0)
    return 0;
  exponent = MIN (factor + MIN (attempts, 64u) - 1, MAX_EXPONENT);
  return (gint64) 1 << exponent;
}

/* chronyd made attempts 1 .. @attempts - 1 before this one, each followed
 * by at least the short back-off: the earliest the current one can be. */
static gint64
earliest_after_start (gint64 chronyd_start_us, guint32 attempts)
{
  gint64 seconds = 0;

  if (chronyd_start_us == NTS_KE_TIME_UNKNOWN)
    return NTS_KE_TIME_UNKNOWN;
  for (guint32 n = 1; n < attempts && n < 64; n++)
    seconds += nts_ke_backoff_seconds (n, NTS_KE_FAILURE_CONNECT);
  return chronyd_start_us + seconds * G_USEC_PER_SEC;
}

void
nts_ke_observe (NtsKeObservation *observation,
                guint32           attempts,
                gint64            now_us,
                gint64            previous_poll_us,
                gint64            chronyd_start_us)
{
  gint64 after;

  g_return_if_fail (observation != NULL);

  if (observation->attempts == attempts && attempts != 0)
    return;

  after = earliest_after_start (chronyd_start_us, attempts);
  /* A count that changed while we watched: the attempt came after our
   * previous poll. A count seen at the first poll tells only the above. */
  if (observation->attempts != 0 && previous_poll_us != NTS_KE_TIME_UNKNOWN)
    after = MAX (after, previous_poll_us);

  observation->attempts = attempts;
  observation->seen_us = now_us;
  observation->after_us = after;
}

gint64
nts_ke_next_attempt_us (const NtsKeObservation *observation,
                        NtsKeFailureKind        kind)
{
  g_return_val_if_fail (observation != NULL, NTS_KE_TIME_UNKNOWN);

  if (observation->attempts == 0 || observation->after_us == NTS_KE_TIME_UNKNOWN)
    return NTS_KE_TIME_UNKNOWN;
  return observation->after_us +
         nts_ke_backoff_seconds (observation->attempts, kind) * G_USEC_PER_SEC;
}
