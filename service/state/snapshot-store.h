/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Snapshots of the managed system, taken before Apply changes it and given
 * back byte for byte by Rollback.
 *
 * On disk, under the state directory (default /var/lib/ntssetup, 0700
 * root:root), all through safe-fs (no link followed, atomic writes, mode
 * 0600, fsynced):
 *
 *   snapshots/<id>/0, 1, ...   the content of each saved file that existed,
 *                              named by its index in the manifest, never by
 *                              its path
 *   snapshots/<id>/manifest    GKeyFile, written last: a directory without
 *                              one is an unfinished snapshot, never listed,
 *                              removed by the next prune
 *
 * The manifest (format 1):
 *
 *   [snapshot]
 *   format=1
 *   id=20261127T044512Z-000123
 *   time=<creation time, microseconds since the epoch>
 *   version=<ntssetup version>
 *   original=true|false      the first snapshot ever taken: never pruned
 *   state=<GVariant text of the caller's a{sv}: unit states, packages,
 *          'servers' (as), 'min-sources' (u), ...>
 *   files=<number of [file N] groups>
 *
 *   [file 0]
 *   path=/etc/chrony/chrony.conf
 *   exists=true|false
 *   owner=root  group=_chrony  (names as NSS gave them; absent if none)
 *   uid=0  gid=101  mode=0640  (mode in octal)
 *   size=<bytes>  sha256=<hex of the saved content>
 *   applied-sha256=..., applied-uid, applied-gid, applied-mode
 *          what Apply wrote there (nts_snapshot_store_record_applied())
 *
 *   [packages]               only once Apply changed packages
 *   installed=chrony;        package names (GKeyFile lists)
 *   removed=systemd-timesyncd;
 *          (nts_snapshot_store_record_packages())
 *
 *   [steps]                  only once a step noted something for its undo
 *   nts-dump=<GVariant text of that step's a{sv}>
 *          (nts_snapshot_store_record_step()); a manifest without the
 *          group, as every one written before it existed, has none
 *
 * Ids are "YYYYMMDDTHHMMSSZ-uuuuuu" (UTC, microseconds): they sort as they
 * were taken, and a new id is always later than every id in the store,
 * even within one microsecond or when the clock was stepped back (which
 * fixing time sync can do), so ordering by id is ordering by age. */
#pragma once

#include <gio/gio.h>

#include "package-changes.h"
#include "safe-fs.h"

G_BEGIN_DECLS

#define NTS_SNAPSHOT_STATE_DIR "/var/lib/ntssetup"
#define NTS_SNAPSHOT_KEEP      10

typedef struct _NtsSnapshotStore NtsSnapshotStore;

typedef struct {
  char     *path;
  gboolean  exists;
  GBytes   *content;          /* NULL when the file did not exist */
  char     *owner;            /* NULL when NSS knew no name for uid */
  char     *group;
  uid_t     uid;
  gid_t     gid;
  guint     mode;
  char     *applied_sha256;   /* NULL until record_applied() */
  uid_t     applied_uid;
  gid_t     applied_gid;
  guint     applied_mode;
} NtsSnapshotFile;

typedef struct {
  char      *id;
  gint64     time;            /* microseconds since the epoch */
  char      *version;
  gboolean   original;
  GVariant  *state;           /* a{sv}, as given to take() */
  GPtrArray *files;           /* NtsSnapshotFile*, in the order given to take() */
  NtsPackageChanges *packages; /* record_packages(); empty when none */
  GVariant *steps; /* a{sv}, step name -> its a{sv}: record_step(); empty when none */
} NtsSnapshot;

/* What step @step noted in @snapshot for its undo (a{sv}, a full
 * reference), or NULL when it noted nothing. */
GVariant *nts_snapshot_step_state (const NtsSnapshot *snapshot, const char *step);

void nts_snapshot_file_free (NtsSnapshotFile *file);
void nts_snapshot_free      (NtsSnapshot     *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsSnapshotFile, nts_snapshot_file_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsSnapshot, nts_snapshot_free)

/* Whether @id has the shape of a snapshot id (and so is safe as a name). */
gboolean nts_snapshot_id_is_valid (const char *id);

/* Opens the store in @state_dir (a guest path; NULL:
 * NTS_SNAPSHOT_STATE_DIR). @root is borrowed and must outlive the store.
 * Opening writes nothing, and neither does reading (list, load,
 * changed_since): a missing state directory or snapshots/ is an empty
 * store. The functions that write (take, record_*, discard, prune) first
 * make both directories, or put them back to, 0700 root:root. */
NtsSnapshotStore *nts_snapshot_store_open (NtsRoot     *root,
                                           const char  *state_dir,
                                           GError     **error);

/* The same for what any local user may cause (ListSnapshots, the State
 * property): every function that would write fails with
 * G_IO_ERROR_READ_ONLY and touches nothing. */
NtsSnapshotStore *nts_snapshot_store_open_readonly (NtsRoot     *root,
                                                    const char  *state_dir,
                                                    GError     **error);
void              nts_snapshot_store_free (NtsSnapshotStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NtsSnapshotStore, nts_snapshot_store_free)

/* Saves each of @paths (content, owner, group, mode, or that it did not
 * exist) and @state (a{sv}, NULL for none) as a new snapshot; returns its
 * id. Fails, leaving no complete snapshot, when a path can't be read (a
 * link, not a regular file, too large) or the store can't be written. */
char *nts_snapshot_store_take (NtsSnapshotStore   *store,
                               const char *const  *paths,
                               GVariant           *state,
                               GError            **error);

/* ListSnapshots' answer, a(sta{sv}), newest first: (id, time, {'servers',
 * 'min-sources' (when the state held them), 'files', 'version',
 * 'original'}). */
GVariant *nts_snapshot_store_list (NtsSnapshotStore  *store,
                                   GError           **error);

/* The complete snapshots' ids, newest first. */
GStrv nts_snapshot_store_list_ids (NtsSnapshotStore  *store,
                                   GError           **error);

/* A snapshot with every saved byte. NTS_ERROR_NO_SUCH_SNAPSHOT for an id
 * that is malformed or not (completely) in the store;
 * G_IO_ERROR_INVALID_DATA when its files don't match its manifest. */
NtsSnapshot *nts_snapshot_store_load (NtsSnapshotStore  *store,
                                      const char        *id,
                                      GError           **error);

/* The manifest parse behind nts_snapshot_store_load() and ListSnapshots:
 * @size bytes of @text, the manifest of snapshot @id (a valid id), read
 * as ListSnapshots reads it (files without their content). Errors:
 * G_IO_ERROR_INVALID_DATA for a damaged manifest. Separate so the fuzzer
 * (tests/fuzz-snapshot-manifest.c) runs the daemon's own parser. */
NtsSnapshot *nts_snapshot_manifest_parse (const char  *id,
                                          const char  *text,
                                          gsize        size,
                                          GError     **error);

/* Puts back one saved file exactly: its content with its owner, group and
 * mode (by name when the name still resolves, since a reinstalled package
 * may have given its user a new number; else by the saved number), or
 * removes it when it did not exist. */
gboolean nts_snapshot_restore_file (NtsRoot                *root,
                                    const NtsSnapshotFile  *file,
                                    GError                **error);

/* Every file of @snapshot, last saved first (the reverse of the order
 * Apply wrote them). */
gboolean nts_snapshot_restore_files (NtsRoot            *root,
                                     const NtsSnapshot  *snapshot,
                                     GError            **error);

/* Removes snapshot @id: an Apply that was fully undone leaves nothing
 * Rollback could want. */
gboolean nts_snapshot_store_discard (NtsSnapshotStore  *store,
                                     const char        *id,
                                     GError           **error);

/* Drops all but the NTS_SNAPSHOT_KEEP newest snapshots, never the
 * original one, and removes unfinished ones. */
gboolean nts_snapshot_store_prune (NtsSnapshotStore  *store,
                                   GError           **error);

/* Notes in snapshot @id what Apply wrote at @path (which the snapshot
 * must hold): the sha256 of the content, owner and mode. */
gboolean nts_snapshot_store_record_applied (NtsSnapshotStore  *store,
                                            const char        *id,
                                            const char        *path,
                                            const char        *sha256,
                                            uid_t              uid,
                                            gid_t              gid,
                                            guint              mode,
                                            GError           **error);

/* Whether any of @paths (NULL: every path with a record) differs now from
 * what record_applied() noted: content, owner, group, mode, or gone.
 * Paths without a record are not compared. *@changed_paths (may be
 * NULL) gets the paths that differ. */
gboolean nts_snapshot_store_changed_since (NtsSnapshotStore   *store,
                                           const char         *id,
                                           const char *const  *paths,
                                           gboolean           *changed,
                                           GStrv              *changed_paths,
                                           GError            **error);

/* Whether @path differs now from what was noted of it: absent (@exists
 * FALSE), or a regular file with content of sha256 @sha256, @uid, @gid
 * and @mode. A link, a directory or a file too large to read where
 * something else was noted differs. Writes nothing. */
gboolean nts_snapshot_path_differs (NtsRoot     *root,
                                    const char  *path,
                                    gboolean     exists,
                                    const char  *sha256,
                                    uid_t        uid,
                                    gid_t        gid,
                                    guint        mode,
                                    gboolean    *differs,
                                    GError     **error);

/* Notes in snapshot @id which packages Apply installed and removed
 * (replacing what an earlier call noted), so Rollback and crash recovery
 * know what to undo. Rewrites the manifest atomically, like
 * record_applied(). G_IO_ERROR_INVALID_ARGUMENT for a name that is not a
 * package name. */
gboolean nts_snapshot_store_record_packages (NtsSnapshotStore         *store,
                                             const char               *id,
                                             const NtsPackageChanges  *changes,
                                             GError                  **error);

/* Notes in snapshot @id what step @step ([a-z0-9-]+) did that its undo
 * must know and only the snapshot can tell it after a crash: @state
 * (a{sv}, the step's own keys; a floating reference is taken over),
 * replacing what the step noted before.
 * Rewrites the manifest atomically, like record_packages(). */
gboolean nts_snapshot_store_record_step (NtsSnapshotStore *store, const char *id,
                                         const char *step, GVariant *state, GError **error);

G_END_DECLS
