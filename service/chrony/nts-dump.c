/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See nts-dump.h. Written from what chrony's nts_ntp_client.c does, not
 * from its code. */

#include "nts-dump.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "accounts.h"
#include "server-name.h"

#define DUMP_IDENTIFIER "NNC0"
#define DUMP_SUFFIX     ".nts"
/* The first key exchange of a source: what chronyd itself writes after it. */
#define CONTEXT_ID 1u
/* Later than this is no time a key exchange happened (the year 5138), and
 * keeps the line short. */
#define MAX_KE_TIME 1e11
/* The whole file at its largest: the header lines, the keys, and 8
 * cookies of 256 bytes in hex. */
#define MAX_DUMP_SIZE 8192

/* The releases whose nts_ntp_client.c was read (each tag of chrony's
 * repository): all write and read "NNC0" as nts-dump.h describes, with
 * the one difference noted in ip_names. Only these get a dump: a later
 * one may well read it, but that has not been checked. */
static const struct {
  const char *version;
  gboolean ip_names; /* a source given as an IP literal has a name */
} known_versions[] = {
  { "4.0", FALSE }, { "4.1", TRUE }, { "4.2", TRUE },   { "4.3", TRUE }, { "4.4", TRUE },
  { "4.5", TRUE },  { "4.6", TRUE }, { "4.6.1", TRUE }, { "4.7", TRUE }, { "4.8", TRUE },
};

/* ---- which chronyd ---- */

static guint
unsupported (GError **error, const char *why)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "no NTS dump for this chronyd: %s",
               why);
  return 0;
}

/* "+NTS", "-DEBUG": how chrony's configure names every feature. */
static gboolean
feature_ok (const char *feature)
{
  if ((feature[0] != '+' && feature[0] != '-') || feature[1] == '\0')
    return FALSE;
  for (const char *p = feature + 1; *p != '\0'; p++)
    if (!g_ascii_isupper (*p) && !g_ascii_isdigit (*p) && *p != '_')
      return FALSE;
  return TRUE;
}

guint
nts_dump_support_from_version (const char *version_output, GError **error)
{
  static const char prefix[] = "chronyd (chrony) version ";
  g_autofree char *line = NULL;
  g_autofree char *version = NULL;
  g_autofree char *list = NULL;
  g_auto(GStrv) features = NULL;
  const char *space;
  gsize len;
  guint support = 0;
  gboolean nts = FALSE;

  g_return_val_if_fail (version_output != NULL, 0);

  len = strcspn (version_output, "\n");
  line = g_strndup (version_output, len);
  len = strlen (line); /* up to a NUL inside the line, if any */
  while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\r'))
    line[--len] = '\0';

  if (!g_str_has_prefix (line, prefix))
    return unsupported (error, "`chronyd -v` did not say \"chronyd (chrony) version\"");
  space = strchr (line + strlen (prefix), ' ');
  /* Then the features: "4.3 (+CMDMON +NTP ... +NTS ... -DEBUG)". */
  if (space == NULL || space[1] != '(' || line[len - 1] != ')' || line + len - 1 < space + 2)
    return unsupported (error, "`chronyd -v` did not list chronyd's features");
  version = g_strndup (line + strlen (prefix), space - (line + strlen (prefix)));
  list = g_strndup (space + 2, line + len - 1 - (space + 2));

  for (gsize i = 0; i < G_N_ELEMENTS (known_versions); i++)
    if (strcmp (version, known_versions[i].version) == 0)
      support = NTS_DUMP_SUPPORT_NNC0 |
                (known_versions[i].ip_names ? NTS_DUMP_SUPPORT_IP_NAMES : 0);
  if (support == 0)
    {
      g_autofree char *cut = g_strndup (version, 40);
      g_autofree char *shown = g_strescape (cut, NULL);
      g_autofree char *why = g_strdup_printf ("its version \"%s\" is not one whose dump "
                                              "format was checked",
                                              shown);
      return unsupported (error, why);
    }

  features = g_strsplit (list, " ", -1);
  for (char **f = features; *f != NULL; f++)
    {
      if (!feature_ok (*f))
        return unsupported (error, "`chronyd -v` listed a feature not as +NAME or -NAME");
      if (strcmp (*f, "+NTS") == 0)
        nts = TRUE;
      else if (strcmp (*f, "+IPV6") == 0)
        support |= NTS_DUMP_SUPPORT_IPV6;
    }
  if (!nts)
    return unsupported (error, "it was built without NTS");
  return support;
}

/* ---- addresses ---- */

typedef struct {
  int family; /* AF_INET, AF_INET6 */
  guint8 bytes[16];
} Address;

static gboolean
parse_address (const char *text, Address *address)
{
  memset (address, 0, sizeof *address);
  if (inet_pton (AF_INET, text, address->bytes) == 1)
    address->family = AF_INET;
  else if (inet_pton (AF_INET6, text, address->bytes) == 1)
    address->family = AF_INET6;
  else
    return FALSE;
  return TRUE;
}

/* As chronyd prints it (UTI_IPToString: dotted quad, or inet_ntop's). */
static char *
address_to_string (const Address *address)
{
  char text[INET6_ADDRSTRLEN];

  if (inet_ntop (address->family, address->bytes, text, sizeof text) == NULL)
    return NULL;
  return g_strdup (text);
}

static gboolean
same_address (const Address *a, const Address *b)
{
  return a->family == b->family &&
         memcmp (a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

G_GNUC_PRINTF (2, 3)
static gboolean
invalid (GError **error, const char *format, ...)
{
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "NTS dump not written: %s", reason);
  return FALSE;
}

/* An IP literal chronyd can read: @what names the field in messages. */
static gboolean
check_address (const char *text, const char *what, guint support, Address *address,
               GError **error)
{
  g_autofree char *shown = NULL;

  if (text == NULL)
    return invalid (error, "no %s", what);
  shown = g_strescape (text, NULL);
  if (strlen (text) >= INET6_ADDRSTRLEN || !parse_address (text, address))
    return invalid (error, "the %s \"%.60s\" is not an IP address", what, shown);
  if (address->family == AF_INET6 && !(support & NTS_DUMP_SUPPORT_IPV6))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "NTS dump not written: the %s %s is IPv6 and chronyd was built without it",
                   what, shown);
      return FALSE;
    }
  return TRUE;
}

/* ---- the entry ---- */

static gboolean
check_name (const char *name, const Address *ke_address, guint support, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *printed = NULL;
  Address address;

  if (name == NULL)
    return invalid (error, "no source name");
  /* A host name or an IP literal, nothing else: chronyd compares the
   * line with the source's name as one word, and this is the rule of
   * every name ntssetup writes into chrony.conf. */
  if (!nts_server_name_validate (name, &local_error))
    {
      /* Its message is for the D-Bus option: "servers: \"x y\" is not...". */
      const char *message = local_error->message;

      if (g_str_has_prefix (message, "servers: "))
        message += strlen ("servers: ");
      return invalid (error, "the source name %s", message);
    }
  for (const char *p = name; *p != '\0'; p++)
    if (g_ascii_isspace (*p) || !g_ascii_isgraph (*p))
      return invalid (error, "the source name has a blank or a control character");

  if (!parse_address (name, &address))
    return TRUE;

  /* A source given as an address: its name is the address in 4.1 and
   * 4.2 as chronyd prints it, in 4.3 on as written; only the printed
   * form is both. chrony 4.0 gives such a source no name at all. */
  if (!(support & NTS_DUMP_SUPPORT_IP_NAMES))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "NTS dump not written: this chronyd loads none for a source given as an "
                   "address (%s)",
                   name);
      return FALSE;
    }
  printed = address_to_string (&address);
  if (printed == NULL || strcmp (printed, name) != 0)
    return invalid (error, "the source name %s is not written as chronyd prints it (%s)", name,
                    printed != NULL ? printed : "?");
  if (!same_address (&address, ke_address))
    return invalid (error, "the source %s is an address, but not the key exchange's", name);
  return TRUE;
}

gboolean
nts_dump_entry_validate (const NtsDumpEntry *entry, guint support, GError **error)
{
  Address ke_address, ntp_address;

  g_return_val_if_fail (entry != NULL, FALSE);

  if (!(support & NTS_DUMP_SUPPORT_NNC0))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "NTS dump not written: not a chronyd whose dump format is known");
      return FALSE;
    }
  if (!check_address (entry->ke_address, "key exchange address", support, &ke_address, error) ||
      !check_name (entry->name, &ke_address, support, error) ||
      !check_address (entry->ntp_address, "NTP address", support, &ntp_address, error))
    return FALSE;
  if (entry->ntp_port == 0)
    return invalid (error, "NTP port 0");
  if (entry->aead != NTS_DUMP_AEAD_AES_SIV_CMAC_256)
    return invalid (error, "AEAD algorithm %u, not AEAD_AES_SIV_CMAC_256 (15)", entry->aead);
  if (entry->c2s == NULL || entry->s2c == NULL)
    return invalid (error, "a key is missing");
  if (entry->key_len != NTS_DUMP_KEY_LEN)
    return invalid (error, "keys of %" G_GSIZE_FORMAT " bytes, not %u", entry->key_len,
                    NTS_DUMP_KEY_LEN);
  if (entry->cookies == NULL || entry->cookies->len == 0 ||
      entry->cookies->len > NTS_DUMP_MAX_COOKIES)
    return invalid (error, "%u cookies, not 1 to %u", entry->cookies ? entry->cookies->len : 0,
                    NTS_DUMP_MAX_COOKIES);
  for (guint i = 0; i < entry->cookies->len; i++)
    {
      GBytes *cookie = entry->cookies->pdata[i];
      gsize size = cookie != NULL ? g_bytes_get_size (cookie) : 0;

      if (cookie == NULL)
        return invalid (error, "cookie %u is missing", i + 1);
      if (size == 0 || size > NTS_DUMP_MAX_COOKIE_LEN)
        return invalid (error, "cookie %u has %" G_GSIZE_FORMAT " bytes, not 1 to %u", i + 1,
                        size, NTS_DUMP_MAX_COOKIE_LEN);
    }
  if (!isfinite (entry->ke_time) || entry->ke_time <= 0 || entry->ke_time >= MAX_KE_TIME)
    return invalid (error, "the key exchange time is not a Unix time");
  return TRUE;
}

char *
nts_dump_file_name (const char *ke_address)
{
  g_autofree char *printed = NULL;
  Address address;

  g_return_val_if_fail (ke_address != NULL, NULL);

  if (!parse_address (ke_address, &address))
    return NULL;
  printed = address_to_string (&address);
  return printed != NULL ? g_strconcat (printed, DUMP_SUFFIX, NULL) : NULL;
}

/* ---- the file ---- */

/* The file's text, in one buffer of a fixed size that is never moved (so
 * no copy of a key is left behind in freed memory) and wiped when freed. */
typedef struct {
  char *data;
  gsize len;
} Text;

static void
text_free (Text *text)
{
  explicit_bzero (text->data, MAX_DUMP_SIZE);
  g_free (text->data);
  g_free (text);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Text, text_free)

static void
text_append (Text *text, const char *string)
{
  gsize len = strlen (string);

  /* The entry was validated: its largest text fits with room to spare. */
  g_assert (text->len + len < MAX_DUMP_SIZE);
  memcpy (text->data + text->len, string, len);
  text->len += len;
}

static void
text_append_hex (Text *text, const guint8 *bytes, gsize size)
{
  static const char digits[] = "0123456789ABCDEF";

  g_assert (text->len + 2 * size < MAX_DUMP_SIZE);
  for (gsize i = 0; i < size; i++)
    {
      text->data[text->len++] = digits[bytes[i] >> 4];
      text->data[text->len++] = digits[bytes[i] & 0xf];
    }
}

static Text *
render (const NtsDumpEntry *entry)
{
  g_autoptr(Text) text = g_new0 (Text, 1);
  g_autofree char *ntp_address = NULL;
  char time[G_ASCII_DTOSTR_BUF_SIZE];
  char numbers[64];
  Address address;

  text->data = g_malloc0 (MAX_DUMP_SIZE);
  /* Validated already: it parses. */
  if (parse_address (entry->ntp_address, &address))
    ntp_address = address_to_string (&address);
  g_assert (ntp_address != NULL);

  text_append (text, DUMP_IDENTIFIER "\n");
  text_append (text, entry->name);
  text_append (text, "\n");
  /* chronyd prints it with "%.1f" in the C locale; so do we, in any. */
  text_append (text, g_ascii_formatd (time, sizeof time, "%.1f", entry->ke_time));
  text_append (text, "\n");
  text_append (text, ntp_address);
  g_snprintf (numbers, sizeof numbers, " %u\n%u %u ", entry->ntp_port, CONTEXT_ID, entry->aead);
  text_append (text, numbers);
  /* The server-to-client key first. */
  text_append_hex (text, entry->s2c, entry->key_len);
  text_append (text, " ");
  text_append_hex (text, entry->c2s, entry->key_len);
  text_append (text, "\n");
  for (guint i = 0; i < entry->cookies->len; i++)
    {
      gsize size;
      const guint8 *cookie = g_bytes_get_data (entry->cookies->pdata[i], &size);

      text_append_hex (text, cookie, size);
      text_append (text, "\n");
    }
  return g_steal_pointer (&text);
}

/* The directory is chronyd's state directory, which its user may write:
 * it must be the one chronyd runs with, not another user's, nor one
 * anyone else could change under us. */
static gboolean
check_dir (int dir_fd, const char *dump_dir, const char *user, uid_t uid, GError **error)
{
  struct stat st;

  if (fstat (dir_fd, &st) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot write an NTS dump into %s: %s", dump_dir, g_strerror (saved_errno));
      return FALSE;
    }
  if (st.st_uid != 0 && st.st_uid != uid)
    {
      g_autofree char *owner = nts_user_name (st.st_uid);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "NTS dump not written: %s belongs to %s (uid %u), not to root or to "
                   "chronyd's user %s",
                   dump_dir, owner != NULL ? owner : "no known user", (guint) st.st_uid, user);
      return FALSE;
    }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "NTS dump not written: %s is writable by others than its owner (mode %04o)",
                   dump_dir, (guint) (st.st_mode & 07777));
      return FALSE;
    }
  return TRUE;
}

gboolean
nts_dump_write (NtsRoot *root, guint support, const char *dump_dir, const char *user,
                const NtsDumpEntry *entry, GError **error)
{
  g_autoptr(Text) text = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;
  uid_t uid;
  gid_t gid;

  g_return_val_if_fail (root != NULL && dump_dir != NULL && user != NULL, FALSE);
  g_return_val_if_fail (entry != NULL, FALSE);

  if (!nts_dump_entry_validate (entry, support, error) ||
      !nts_lookup_user_ids (user, &uid, &gid, error))
    return FALSE;

  dir_fd = nts_root_open_dir (root, dump_dir, "write an NTS dump into", error);
  if (dir_fd < 0 || !check_dir (dir_fd, dump_dir, user, uid, error))
    return FALSE;

  name = nts_dump_file_name (entry->ke_address);
  path = g_build_filename (dump_dir, name, NULL);
  text = render (entry);
  if (!nts_root_write_atomic_at (root, dir_fd, path, name, text->data, text->len, uid, gid, 0600,
                                 error))
    return FALSE;
  /* Which source and how many cookies; never what they are. */
  g_debug ("NTS dump for %s: %u cookies in %s", entry->name, entry->cookies->len, path);
  return TRUE;
}
