/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl — a Verify report as verify and apply print it (ntsctl-report.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The one-line verdict of a Verify report. */
char *ntsctl_report_summary (GVariant *report);
/* The report's problems ("code: message" and the hint), if any. */
void  ntsctl_print_problems (GVariant *report);

G_END_DECLS
