/* The administrator's say over NtsLayout: <root>/etc/ntssetup/layout.conf
 * (format in docs/layout.md), and the shapes every layout value must
 * have, whichever source it came from: the values end up in chrony.conf,
 * a unit drop-in and file paths, so nothing with whitespace, quoting or
 * ".." gets through. */
#pragma once

#include "distro-profiles.h"
#include "layout.h"

G_BEGIN_DECLS

#define NTS_LAYOUT_OVERRIDE_FILE "/etc/ntssetup/layout.conf"

/* Absolute, canonical (no empty, "." or ".." component), made of
 * [A-Za-z0-9/._+@-] only. */
gboolean nts_layout_value_is_path (const char *value);
/* A user or group name: [A-Za-z0-9_.-], not starting with '-', 1..32. */
gboolean nts_layout_value_is_account (const char *value);
/* NAME.service */
gboolean nts_layout_value_is_unit (const char *value);

/* Fills the fields of @layout the file names (an empty options-env-file or
 * options-var sets NULL and still counts as given). A missing file is no
 * error. Errors: G_IO_ERROR_INVALID_DATA naming the key for an unknown
 * group or key, a malformed file or a value of the wrong shape; the
 * errors of nts_root_get_contents() otherwise. */
gboolean nts_layout_override_load (NtsLayout               *layout,
                                   const NtsDistroProfile **profile,
                                   gboolean                *options_given,
                                   GError                 **error);

/* The parse behind nts_layout_override_load(): @length bytes of @text,
 * the file's content, with the same results and errors. Separate so the
 * fuzzer (tests/fuzz-layout-conf.c) runs the daemon's own parser. */
gboolean nts_layout_override_parse (NtsLayout               *layout,
                                    const NtsDistroProfile **profile,
                                    gboolean                *options_given,
                                    const char              *text,
                                    gsize                    length,
                                    GError                 **error);

G_END_DECLS
