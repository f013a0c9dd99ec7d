/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Apply's NTS dumps for chronyd: see dump-handoff.h. */
#include "dump-handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "nts-dump.h"
#include "probe-wire.h"

/* The record's keys (the step's a{sv} in the snapshot). */
#define KEY_DIR       "dir"     /* s: the dump directory, a guest path */
#define KEY_UID       "uid"     /* u: chronyd's user, each dump's owner */
#define KEY_SINCE     "since"   /* x: microseconds since the epoch, before the first write */
#define KEY_FILES     "files"   /* as: the file names about to be written */
#define KEY_WRITTEN   "written" /* a{s(tttx)}: name -> device, inode, size, mtime (ns) */
#define IDENTITY_TYPE "(tttx)"

static gint64
mtime_ns (const struct stat *st)
{
  return (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_mtim.tv_nsec;
}

static GVariant *
identity_variant (const struct stat *st)
{
  return g_variant_new (IDENTITY_TYPE, (guint64) st->st_dev, (guint64) st->st_ino,
                        (guint64) st->st_size, mtime_ns (st));
}

/* The dump entry of @r, or FALSE with the reason the server gets none. */
static gboolean
entry_of (const NtsProbeResult *r, NtsDumpEntry *entry, const char **why)
{
  if (r->phase != NTS_PROBE_OK)
    *why = "its probe did not pass";
  else if (!r->has_secrets || r->cookies == NULL || r->cookies->len == 0)
    *why = "the probe handed over no keys or no cookies";
  else if (r->same_address_as != NULL)
    *why = "the same address as an earlier server: one source, one dump";
  else if (r->address == NULL || r->ntp_server == NULL)
    *why = "the probe did not say which address it reached";
  else
    {
      *entry = (NtsDumpEntry) {
        .name = r->server,
        .ke_address = r->address,
        .ntp_address = r->ntp_server,
        .ntp_port = r->ntp_port,
        .aead = r->aead,
        .c2s = r->c2s,
        .s2c = r->s2c,
        .key_len = NTS_PROBE_KEY_LEN,
        .cookies = r->cookies,
        .ke_time = r->ke_time,
      };
      return TRUE;
    }
  return FALSE;
}

static GVariant *
record_variant (const char *dir, uid_t uid, gint64 since, GPtrArray *names,
                GVariantBuilder *written)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, KEY_DIR, "s", dir);
  g_variant_dict_insert (&dict, KEY_UID, "u", (guint32) uid);
  g_variant_dict_insert (&dict, KEY_SINCE, "x", since);
  g_variant_dict_insert_value (&dict, KEY_FILES,
                               g_variant_new_strv ((const char *const *) names->pdata,
                                                   (gssize) names->len));
  g_variant_dict_insert_value (&dict, KEY_WRITTEN,
                               written != NULL ? g_variant_builder_end (written)
                                               : g_variant_new ("a{s" IDENTITY_TYPE "}", NULL));
  return g_variant_dict_end (&dict);
}

GVariant *
nts_dump_handoff_write (const NtsDumpHandoff *h, GPtrArray *results, guint *written_count)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;
  GVariantBuilder written;
  GVariant *record;
  uid_t uid;
  gid_t gid;
  gint64 since = g_get_real_time ();
  guint n = 0;

  if (written_count != NULL)
    *written_count = 0;
  for (guint i = 0; results != NULL && i < results->len; i++)
    {
      const NtsProbeResult *r = results->pdata[i];
      NtsDumpEntry *entry = g_new0 (NtsDumpEntry, 1);
      const char *why = NULL;
      char *name = NULL;

      if (!entry_of (r, entry, &why) || (name = nts_dump_file_name (r->address)) == NULL)
        {
          g_message ("no NTS dump for %s: %s", r->server,
                     why != NULL ? why : "its address is no IP address");
          g_free (entry);
          continue;
        }
      g_ptr_array_add (names, name);
      g_ptr_array_add (entries, entry);
    }
  if (entries->len == 0)
    return NULL;

  /* The plan on disk before the first file: an undo after a crash
   * between the two must know which files may be ours. */
  if (!nts_lookup_user_ids (h->user, &uid, &gid, &error) ||
      !nts_snapshot_store_record_step (h->store, h->snapshot_id, h->step,
                                       record_variant (h->dump_dir, uid, since, names, NULL),
                                       &error))
    {
      g_message ("no NTS dumps for chronyd: %s", error->message);
      return NULL;
    }

  g_variant_builder_init (&written, G_VARIANT_TYPE ("a{s" IDENTITY_TYPE "}"));
  for (guint i = 0; i < entries->len; i++)
    {
      const NtsDumpEntry *entry = entries->pdata[i];
      const char *name = names->pdata[i];
      struct stat st;

      g_clear_error (&error);
      if (!nts_dump_write (h->root, h->support, h->dump_dir, h->user, entry, &error))
        {
          g_message ("no NTS dump for %s: %s", entry->name, error->message);
          continue;
        }
      n++;
      if (dir_fd < 0)
        dir_fd = nts_root_open_dir (h->root, h->dump_dir, "look at an NTS dump in", NULL);
      /* Its identity now, while chronyd is not running to load it. */
      if (dir_fd >= 0 && fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG (st.st_mode))
        g_variant_builder_add (&written, "{s@" IDENTITY_TYPE "}", name, identity_variant (&st));
    }

  g_clear_error (&error);
  record = g_variant_ref_sink (record_variant (h->dump_dir, uid, since, names, &written));
  if (!nts_snapshot_store_record_step (h->store, h->snapshot_id, h->step, record, &error))
    /* The plan is noted: the undo still knows the files by it. */
    g_message ("cannot note the NTS dumps written in the snapshot: %s", error->message);
  g_message ("NTS dumps left for chronyd in %s: %u of %u servers", h->dump_dir, n, results->len);
  if (written_count != NULL)
    *written_count = n;
  return record;
}

void
nts_dump_handoff_forget_secrets (GPtrArray *results)
{
  for (guint i = 0; results != NULL && i < results->len; i++)
    {
      NtsProbeResult *r = results->pdata[i];

      explicit_bzero (r->c2s, sizeof r->c2s);
      explicit_bzero (r->s2c, sizeof r->s2c);
      /* Secret bytes (nts_probe_secret_bytes_new()): wiped when freed. */
      g_clear_pointer (&r->cookies, g_ptr_array_unref);
      r->has_secrets = FALSE;
    }
}

/* ---- removal ---------------------------------------------------------- */

/* A name the step writes: "ADDRESS.nts", one component. */
static gboolean
dump_name_is_valid (const char *name)
{
  return name[0] != '\0' && name[0] != '.' && strchr (name, '/') == NULL && strlen (name) < 64 &&
         g_str_has_suffix (name, ".nts");
}

static gboolean
is_ours (const char *name, const struct stat *st, GVariant *written, uid_t uid, gint64 since)
{
  g_autoptr(GVariant) identity = NULL;
  guint64 dev, ino, size;
  gint64 mtime;

  if (!S_ISREG (st->st_mode))
    return FALSE;
  identity = g_variant_lookup_value (written, name, G_VARIANT_TYPE (IDENTITY_TYPE));
  if (identity != NULL)
    {
      g_variant_get (identity, IDENTITY_TYPE, &dev, &ino, &size, &mtime);
      return dev == (guint64) st->st_dev && ino == (guint64) st->st_ino &&
             size == (guint64) st->st_size && mtime == mtime_ns (st);
    }
  /* Planned, but the write's identity never reached the snapshot. */
  return st->st_uid == uid && (st->st_mode & 07777) == 0600 && mtime_ns (st) >= since * 1000;
}

static gboolean
remove_failed (GError **error, const char *dir, const char *name, int errsv)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "cannot remove the NTS dump %s/%s: %s", dir, name, g_strerror (errsv));
  return FALSE;
}

gboolean
nts_dump_handoff_remove (NtsRoot *root, GVariant *record, guint *removed, GError **error)
{
  const char *dir = NULL;
  guint32 uid = 0;
  gint64 since = 0;
  g_autofree const char **names = NULL;
  g_autoptr(GVariant) written = NULL;
  g_autoptr(GError) local_error = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;
  guint n = 0;

  if (removed != NULL)
    *removed = 0;
  if (!g_variant_lookup (record, KEY_DIR, "&s", &dir) || !nts_guest_path_is_valid (dir) ||
      !g_variant_lookup (record, KEY_UID, "u", &uid) ||
      !g_variant_lookup (record, KEY_SINCE, "x", &since) ||
      !g_variant_lookup (record, KEY_FILES, "^a&s", &names) ||
      (written = g_variant_lookup_value (record, KEY_WRITTEN,
                                         G_VARIANT_TYPE ("a{s" IDENTITY_TYPE "}"))) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "the snapshot's note of the NTS dumps written is damaged");
      return FALSE;
    }

  dir_fd = nts_root_open_dir (root, dir, "remove an NTS dump from", &local_error);
  if (dir_fd < 0)
    {
      /* Gone with everything in it. */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  for (guint i = 0; names[i] != NULL; i++)
    {
      struct stat st;

      if (!dump_name_is_valid (names[i]))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "the snapshot's note of the NTS dumps names no dump file");
          return FALSE;
        }
      if (fstatat (dir_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
        {
          /* Loaded (and so removed) by chronyd. */
          if (errno == ENOENT)
            continue;
          return remove_failed (error, dir, names[i], errno);
        }
      if (!is_ours (names[i], &st, written, uid, since))
        continue;
      if (unlinkat (dir_fd, names[i], 0) < 0 && errno != ENOENT)
        return remove_failed (error, dir, names[i], errno);
      n++;
    }
  if (n > 0 && fsync (dir_fd) < 0)
    return remove_failed (error, dir, ".", errno);
  if (removed != NULL)
    *removed = n;
  return TRUE;
}
