/* Reading a small file of the managed system under the daemon's --root
 * without following symbolic links in any component: a link planted under
 * /etc must not make the root service read (and then keep or show) some
 * other file, and under a test root an absolute link would leave the root. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Reads @root + @path (@path absolute) into a NUL-terminated buffer.
 * Errors (G_IO_ERROR): NOT_FOUND when a component is missing,
 * TOO_MANY_LINKS when one is a symbolic link, NOT_REGULAR_FILE,
 * MESSAGE_TOO_LARGE when the file is longer than @max_size bytes. */
gboolean nts_root_read_file (const char  *root,
                             const char  *path,
                             gsize        max_size,
                             char       **contents,
                             gsize       *length,
                             GError     **error);

G_END_DECLS
