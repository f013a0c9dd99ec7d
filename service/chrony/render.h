/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every file ApplyHardenedConfig writes, rendered from the layout and the
 * validated options. PreviewConfig returns exactly this (but an existing
 * keys file's content: nts_rendered_file_preview()); Apply writes exactly
 * this. Rendering touches the disk only to read what must be kept (an
 * existing keys file) and which ntp-units.d lists exist; writing a
 * rendered file is nts_rendered_file_write(), which Apply calls. */
#pragma once

#include "layout.h"
#include "safe-fs.h"

G_BEGIN_DECLS

/* What a rendered file is for: the Apply step that writes it is given
 * its role, never its path. */
typedef enum {
  NTS_FILE_CHRONY_CONF,
  NTS_FILE_KEYS,
  NTS_FILE_HARDENING_DROPIN,
  NTS_FILE_NTP_UNITS_LIST,
} NtsFileRole;

typedef struct {
  NtsFileRole role;
  char  *path;     /* absolute path on the managed system */
  char  *content;
  guint  mode;     /* 0644, 0640, ... */
  char  *owner;    /* user name */
  char  *group;    /* group name */
  /* The content is an existing file's, kept byte for byte (the keys
   * file): it may hold secret keys, so it is never shown. */
  gboolean kept;
} NtsRenderedFile;

void nts_rendered_file_free (NtsRenderedFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsRenderedFile, nts_rendered_file_free)

/* What PreviewConfig shows for @file: its content, or for a kept file a
 * one-line comment (in chrony's syntax) saying that it is kept as it is,
 * with the owner, group and mode Apply gives it. PreviewConfig is open to
 * every local user, and a keys file is root's and chrony's only. */
char *nts_rendered_file_preview (const NtsRenderedFile *file);

/* Writes @file under @root with nts_root_write_atomic(), its owner and
 * group looked up by name (accounts.h). An unknown name fails before
 * anything is written; the message names the file. */
gboolean nts_rendered_file_write (const NtsRenderedFile *file,
                                  NtsRoot               *root,
                                  GError               **error);

/* What ApplyHardenedConfig's options change in chrony's configuration
 * besides the servers and min-sources. */
typedef enum {
  NTS_RENDER_DEFAULT = 0,
  /* 'allow-clock-far-off': `nocerttimecheck 1`, certificates' dates are
   * not checked until chronyd first updates the clock. */
  NTS_RENDER_NO_CERT_TIME_CHECK = 1 << 0,
} NtsRenderFlags;

/* @servers must have passed nts_server_list_validate(). Returns
 * NtsRenderedFile*, in the order Apply writes them. */
GPtrArray *nts_render_files (const NtsLayout *layout, const char *const *servers,
                             guint min_sources, GError **error);
GPtrArray *nts_render_files_full (const NtsLayout *layout, const char *const *servers,
                                  guint min_sources, NtsRenderFlags flags, GError **error);

/* The pieces, for tests and for the steps that write them one by one. */
char *nts_render_chrony_conf (const NtsLayout *layout, const char *const *servers,
                              guint min_sources);
char *nts_render_chrony_conf_full (const NtsLayout *layout, const char *const *servers,
                                   guint min_sources, NtsRenderFlags flags);
char *nts_render_keys_file (const NtsLayout *layout, const char *existing_content);
char *nts_render_hardening_dropin (const NtsLayout *layout);
char *nts_hardening_dropin_path (const NtsLayout *layout);

/* The ntp-units.d list that makes timedated (and a desktop's "automatic
 * time" switch) pick chrony, or NULL in *path when a packaged list already
 * puts chrony's unit before systemd-timesyncd. */
gboolean nts_render_ntp_units_list (const NtsLayout *layout,
                                    char           **path,
                                    char           **content,
                                    GError         **error);

G_END_DECLS
