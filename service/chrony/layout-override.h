/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The administrator's say: <root>/etc/ntssetup/layout.conf (format in
 * docs/layout.md), read and parsed here and nowhere else. Its [chrony]
 * group overrides NtsLayout; its [operators] group adds to the table of
 * time-server operators Verify uses (operators.h).
 *
 * Also the shapes every layout value must have, whichever source it came
 * from: the values end up in chrony.conf, a unit drop-in and file paths,
 * so nothing with whitespace, quoting or ".." gets through. */
#pragma once

#include "distro-profiles.h"
#include "layout.h"
#include "operators.h"

G_BEGIN_DECLS

#define NTS_LAYOUT_OVERRIDE_FILE "/etc/ntssetup/layout.conf"

/* Absolute, canonical (no empty, "." or ".." component), made of
 * [A-Za-z0-9/._+@-] only. */
gboolean nts_layout_value_is_path (const char *value);
/* A user or group name: [A-Za-z0-9_.-], not starting with '-', 1..32. */
gboolean nts_layout_value_is_account (const char *value);
/* NAME.service */
gboolean nts_layout_value_is_unit (const char *value);

/* What the file says. */
typedef struct {
  /* The [chrony] values; a field the file does not name is NULL (an
   * empty options-env-file or options-var too, which still counts as
   * given). layout->root is not set. */
  NtsLayout              *layout;
  const NtsDistroProfile *profile;        /* profile=, or NULL */
  gboolean                options_given;  /* options-env-file or options-var named */
  /* The built-in table with the [operators] entries ahead of it. */
  NtsOperators           *operators;
} NtsLayoutOverride;

void nts_layout_override_free (NtsLayoutOverride *override);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsLayoutOverride, nts_layout_override_free)

/* Reads the file under @root. A missing file is no error: nothing is
 * overridden and the operators are the built-in ones. Errors:
 * G_IO_ERROR_INVALID_DATA naming the key for an unknown group or key, a
 * malformed file or a value of the wrong shape; the errors of
 * nts_root_get_contents() otherwise. */
NtsLayoutOverride *nts_layout_override_load  (NtsRoot     *root,
                                              GError     **error);

/* The parse behind nts_layout_override_load(): @length bytes of @text,
 * the file's content, with the same results and errors. Separate so the
 * fuzzer (tests/fuzz-layout-conf.c) runs the daemon's own parser. */
NtsLayoutOverride *nts_layout_override_parse (const char  *text,
                                              gsize        length,
                                              GError     **error);

G_END_DECLS
