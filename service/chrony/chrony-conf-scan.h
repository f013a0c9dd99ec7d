/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What Verify needs to know from chrony's configuration, read the way
 * chronyd reads it: `minsources` (chronyd's command protocol does not
 * report it) and each configured server's NTS options (chronyd has no NTS
 * data for a name it has not resolved yet).
 *
 * Follows `include` globs, `confdir` and `sourcedir` directories as chronyd
 * does (confdir: *.conf in name order, the first directory's file wins
 * for equal names; sourcedir: *.sources with source lines only), bounded
 * in depth and file count. Every file and directory is read through the
 * daemon's --root handle, which follows no symbolic link. */
#pragma once

#include <glib.h>

#include "safe-fs.h"

G_BEGIN_DECLS

/* chrony's default when the configuration does not say. */
#define NTS_CHRONY_DEFAULT_MIN_SOURCES 1

typedef struct {
  char    *name;      /* as written after server/pool/peer */
  gboolean nts;       /* the `nts` option */
  guint16  nts_port;  /* `ntsport`, 4460 when not given */
} NtsConfServer;

typedef struct {
  guint      min_sources;   /* >= 1; the last `minsources` wins, as in chronyd */
  GPtrArray *servers;       /* NtsConfServer *, in the order read */
} NtsChronyConfScan;

void nts_chrony_conf_scan_free (NtsChronyConfScan *scan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsChronyConfScan, nts_chrony_conf_scan_free)

/* One file's text, without following includes. */
NtsChronyConfScan *nts_chrony_conf_scan_text (const char *text);

/* @config_file (absolute, as on the managed system) under @root and what
 * it includes. Errors: those of nts_root_get_contents() for @config_file
 * itself (G_IO_ERROR_NOT_FOUND when it does not exist); an included file
 * that cannot be read is skipped, as chronyd skips a glob that matches
 * nothing. */
NtsChronyConfScan *nts_chrony_conf_scan (NtsRoot     *root,
                                         const char  *config_file,
                                         GError     **error);

/* The server configured under @name (ASCII case-insensitive), or NULL. */
const NtsConfServer *nts_chrony_conf_scan_find_server (const NtsChronyConfScan *scan,
                                                       const char              *name);

G_END_DECLS
