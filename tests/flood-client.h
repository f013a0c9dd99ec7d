/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A flood of calls on ntssetupd, as one caller: the adversarial suite's
 * and bench/flood's. CONNECTIONS connections to the bus at ADDRESS each
 * keep DEPTH calls in flight — PreviewConfig and Verify in turn, each
 * re-issued as it is answered — for MS milliseconds, then wait for the
 * last answers. dbus-daemon lets one connection wait for at most 128
 * replies, so DEPTH stays below that. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  guint sent;
  guint answered;
  guint limited;        /* org.freedesktop.DBus.Error.LimitsExceeded */
  guint other;          /* any other error */
  char *other_example;  /* the first of those, or NULL */
} FloodCounts;

gboolean flood_run (const char  *address,
                    guint        ms,
                    guint        connections,
                    guint        depth,
                    FloodCounts *counts,
                    GError     **error);

void flood_counts_clear (FloodCounts *counts);

/* A flood child's main(): flood_run(), then "SENT ANSWERED LIMITED OTHER"
 * on standard output (the first other error on standard error); 1 when it
 * cannot connect. */
int flood_client_main (const char *address, guint ms, guint connections, guint depth);

G_END_DECLS
