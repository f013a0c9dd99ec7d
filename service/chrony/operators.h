/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who runs a time server: a table of operators and the server names they
 * answer for, so that Verify can tell when every source chronyd agrees on
 * belongs to one organisation (one operator alone could then move the
 * clock, however many of its servers are configured).
 *
 * The built-in table is data (operators.c). The administrator, and the
 * tests, add entries in the [operators] group of
 * <root>/etc/ntssetup/layout.conf (docs/layout.md), which
 * layout-override.c reads and hands here (nts_operators_add_from_key_file()):
 *
 *   [operators]
 *   Example Time=ntp*.example.net time.example.org 192.0.2.*
 *
 * Each key is an operator's name, its value a space-separated list of
 * patterns; '*' matches any run of characters. A pattern is matched, case
 * insensitively, against a source's configured name and against its
 * address. Entries from the file are tried before the built-in ones. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NTS_OPERATORS_OVERRIDE_GROUP "operators"

typedef struct _NtsOperators NtsOperators;

/* The built-in table only. */
NtsOperators *nts_operators_new_builtin (void);
void          nts_operators_free        (NtsOperators *operators);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsOperators, nts_operators_free)

/* Adds @name with the space-separated @patterns ahead of the built-in
 * entries. Fails (G_IO_ERROR_INVALID_DATA) for an empty or over-long name,
 * a name with control characters, no pattern, or a pattern that is not
 * made of letters, digits and ". - : *". */
gboolean      nts_operators_add  (NtsOperators *operators,
                                  const char   *name,
                                  const char   *patterns,
                                  GError      **error);

/* Adds every key of @group in @keyfile as nts_operators_add() does;
 * the error names the key. */
gboolean      nts_operators_add_from_key_file (NtsOperators *operators,
                                               GKeyFile     *keyfile,
                                               const char   *group,
                                               GError      **error);

/* The operator of a source with configured @name (may be NULL) and
 * @address (may be NULL or ""), or NULL when no entry matches. */
const char   *nts_operators_lookup (const NtsOperators *operators,
                                    const char         *name,
                                    const char         *address);

G_END_DECLS
