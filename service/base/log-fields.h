/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Log messages about one snapshot (an Apply, its Rollback, its recovery)
 * that the journal can find by it: journalctl NTS_SNAPSHOT_ID=<id>. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

static inline void G_GNUC_PRINTF (6, 7)
nts_log_snapshot_full (GLogLevelFlags level, const char *file, const char *line,
                       const char *func, const char *snapshot_id, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  if (snapshot_id != NULL)
    g_log_structured (G_LOG_DOMAIN, level, "CODE_FILE", file, "CODE_LINE", line,
                      "CODE_FUNC", func, "NTS_SNAPSHOT_ID", snapshot_id, "MESSAGE", "%s", text);
  else
    g_log_structured (G_LOG_DOMAIN, level, "CODE_FILE", file, "CODE_LINE", line,
                      "CODE_FUNC", func, "MESSAGE", "%s", text);
}

/* g_message() and the others at @level (G_LOG_LEVEL_MESSAGE, ...), with
 * NTS_SNAPSHOT_ID=@snapshot_id among the fields when it is not NULL. Away
 * from the journal GLib's writer prints the message alone, as for those. */
#define nts_log_snapshot(level, snapshot_id, ...)                                    \
  nts_log_snapshot_full ((level), __FILE__, G_STRINGIFY (__LINE__), G_STRFUNC,     \
                         (snapshot_id), __VA_ARGS__)

G_END_DECLS
