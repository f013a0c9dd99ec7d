/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The a{sv} options of each method, parsed and checked before anything
 * else happens. Unknown keys and wrong types are InvalidArgs naming the
 * key: a caller who misspells "min-sources" must not silently get the
 * default. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NTS_DEFAULT_MIN_SOURCES 3
#define NTS_DEFAULT_WAIT_SYNC   60
#define NTS_MAX_WAIT_SYNC       600
#define NTS_MAX_VERIFY_WAIT     120

/* The six NTS servers of the reference document. */
extern const char *const nts_default_servers[];

typedef struct {
  char   **servers;     /* validated; the defaults when not given */
  guint    min_sources;
  gboolean install;
  gboolean preflight;
  guint    wait_sync;   /* seconds */
  gboolean allow_clock_far_off;
} NtsApplyOptions;

void nts_apply_options_free (NtsApplyOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsApplyOptions, nts_apply_options_free)

/* ApplyHardenedConfig and PreviewConfig take the same keys. */
NtsApplyOptions *nts_apply_options_parse (GVariant *options, GError **error);

/* Verify: "wait", capped at NTS_MAX_VERIFY_WAIT, and "probe". */
gboolean nts_verify_options_parse (GVariant *options, guint *wait, gboolean *probe,
                                   GError **error);

/* ProbeServers: the servers (validated as Apply's are) and "nts-port". */
typedef struct {
  char **servers;
  guint16 nts_port; /* 0: 4460 */
} NtsProbeOptions;

void nts_probe_options_free (NtsProbeOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsProbeOptions, nts_probe_options_free)

NtsProbeOptions *nts_probe_options_parse (const char *const *servers, GVariant *options,
                                          GError **error);

/* Rollback: "force"; the snapshot id is checked for shape here too. */
gboolean nts_rollback_options_parse (const char *snapshot_id,
                                     GVariant   *options,
                                     gboolean   *force,
                                     GError    **error);

G_END_DECLS
