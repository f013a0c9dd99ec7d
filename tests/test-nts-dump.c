/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nts-dump.c: the NTS dump left for chronyd, against chronyd itself.
 *
 * The real part: `chronyd -Q` does a key exchange with a loopback NTS
 * server and leaves its own dump; we read it, write the same fields with
 * nts_dump_write() and compare the files byte for byte; then a client
 * chronyd starts from our file and the server's count of key exchanges
 * proves it used our cookies instead of doing its own. The rest: every
 * field and every directory we must refuse, and chronyd versions we do
 * not know, write nothing. Runs as root (chown to chronyd's user); the
 * cases that need another user are skipped otherwise. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "chronyd-help.h"
#include "nts-dump-fixture.h"
#include "nts-dump.h"
#include "nts-loopback.h"
#include "temp-tree.h"

#define SERVER           "127.0.0.6"
#define DUMP_DIR         "/var/lib/chrony"
#define LOAD_TIMEOUT_US  (20 * G_USEC_PER_SEC)
#define POLL_INTERVAL_US (50 * 1000)
#define VERSION_43 \
  "chronyd (chrony) version 4.3 (+CMDMON +NTP +REFCLOCK +RTC " \
  "+PRIVDROP +SCFILTER +SIGND +ASYNCDNS +NTS +SECHASH +IPV6 -DEBUG)"
#define ALL_SUPPORT (NTS_DUMP_SUPPORT_NNC0 | NTS_DUMP_SUPPORT_IP_NAMES | NTS_DUMP_SUPPORT_IPV6)

static NtsLoopback *lb;
static char *why_no_lb;

/* ---- which chronyd ---- */

static void
test_support (void)
{
  static const struct {
    const char *output;
    guint support;
  } cases[] = {
    { VERSION_43 "\n", ALL_SUPPORT },
    { VERSION_43, ALL_SUPPORT },
    { VERSION_43 "\r\n", ALL_SUPPORT },
    { "chronyd (chrony) version 4.0 (+CMDMON +NTP +NTS +IPV6)\n",
      NTS_DUMP_SUPPORT_NNC0 | NTS_DUMP_SUPPORT_IPV6 },
    { "chronyd (chrony) version 4.6.1 (+NTS -IPV6)\n",
      NTS_DUMP_SUPPORT_NNC0 | NTS_DUMP_SUPPORT_IP_NAMES },
    { "chronyd (chrony) version 4.8 (+NTS +IPV6)\nmore\n", ALL_SUPPORT },
    /* Never when in doubt. */
    { "chronyd (chrony) version 4.9 (+NTS +IPV6)\n", 0 },
    { "chronyd (chrony) version 5.0 (+NTS +IPV6)\n", 0 },
    { "chronyd (chrony) version 3.5 (+NTP +IPV6)\n", 0 },
    { "chronyd (chrony) version 4.4-pre1 (+NTS +IPV6)\n", 0 },
    { "chronyd (chrony) version 4.8-12-g8f2db83 (+NTS +IPV6)\n", 0 },
    { "chronyd (chrony) version 4.6.2 (+NTS +IPV6)\n", 0 },
    { "chronyd (chrony) version 4.30 (+NTS +IPV6)\n", 0 },
    { "chronyd (chrony) version 4.3 (+CMDMON -NTS +IPV6)\n", 0 },
    { "chronyd (chrony) version 4.3 (+CMDMON +NTSX)\n", 0 },
    { "chronyd (chrony) version 4.3\n", 0 },
    { "chronyd (chrony) version 4.3 +NTS\n", 0 },
    { "chronyd (chrony) version  4.3 (+NTS)\n", 0 },
    { "chronyd version 4.3 (+NTS)\n", 0 },
    { "\nchronyd (chrony) version 4.3 (+NTS)\n", 0 },
    { "", 0 },
    { "chronyd (chrony) version ", 0 },
    { "chronyd (chrony) version 4.3 (", 0 },
    { "chronyd (chrony) version 4.3 ()", 0 },
    { "chronyd (chrony) version 4.3 (\xff +NTS)", 0 },
    { "chronyd (chrony) version 4.3 (+NTS  +IPV6)", 0 },
    { "chronyd (chrony) version 4.3 (+nts)", 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *shown = g_strescape (cases[i].output, NULL);
      guint support = nts_dump_support_from_version (cases[i].output, &error);

      g_test_message ("%s", shown);
      g_assert_cmphex (support, ==, cases[i].support);
      if (support == 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
          g_assert_true (g_utf8_validate (error->message, -1, NULL));
        }
      else
        g_assert_no_error (error);
    }
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* What the chronyd under test says, through the service's own runner. */
static char *
chronyd_version (void)
{
  g_autofree char *chronyd = NULL;
  g_autofree char *why_not = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *output;

  if (!nts_loopback_find_programs (&chronyd, NULL, &why_not))
    return NULL;
  nts_chronyd_version_async (chronyd, NULL, on_done, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  output = nts_chronyd_version_finish (result, &error);
  g_assert_no_error (error);
  return output;
}

static void
test_chronyd_version (void)
{
  g_autofree char *output = chronyd_version ();
  g_autoptr(GError) error = NULL;
  guint support;

  if (output == NULL)
    {
      g_test_skip ("no chronyd");
      return;
    }
  g_assert_true (g_str_has_prefix (output, "chronyd (chrony) version "));
  support = nts_dump_support_from_version (output, &error);
  g_test_message ("%s: support %#x %s", output, support, error ? error->message : "");
  if (strstr (output, "version 4.3 ") != NULL)
    g_assert_cmphex (support, ==, ALL_SUPPORT);
}

/* ---- a dump of our own, in a temporary root ---- */

typedef struct {
  char *host;
  char *dir; /* DUMP_DIR on the host */
  /* Whom the dump is written for: ourselves (root, as the daemon is, or
   * whoever runs the test), the directory being ours too. */
  char *user;
  uid_t uid;
  gid_t gid;
  NtsRoot *root;
  guint8 c2s[NTS_DUMP_KEY_LEN];
  guint8 s2c[NTS_DUMP_KEY_LEN];
  GPtrArray *cookies;
  NtsDumpEntry entry;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->host = temp_tree_new ();
  f->dir = g_build_filename (f->host, DUMP_DIR, NULL);
  g_assert_cmpint (g_mkdir_with_parents (f->dir, 0750), ==, 0);
  g_assert_cmpint (g_chmod (f->dir, 0750), ==, 0);
  f->root = nts_root_open (f->host, &error);
  g_assert_no_error (error);
  f->user = nts_user_name (geteuid ());
  g_assert_nonnull (f->user);
  g_assert_true (nts_lookup_user_ids (f->user, &f->uid, &f->gid, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < NTS_DUMP_KEY_LEN; i++)
    {
      f->c2s[i] = (guint8) (0xc0 + i);
      f->s2c[i] = (guint8) (0x50 + i);
    }
  f->cookies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < 3; i++)
    {
      guint8 cookie[4] = { 0xab, 0x01, 0xfe, (guint8) i };
      g_ptr_array_add (f->cookies, g_bytes_new (cookie, sizeof cookie));
    }
  f->entry = (NtsDumpEntry) {
    .name = "nts.example.test",
    .ke_address = "192.0.2.10",
    .ntp_address = "192.0.2.11",
    .ntp_port = 123,
    .aead = NTS_DUMP_AEAD_AES_SIV_CMAC_256,
    .c2s = f->c2s,
    .s2c = f->s2c,
    .key_len = NTS_DUMP_KEY_LEN,
    .cookies = f->cookies,
    .ke_time = 1700000000.5,
  };
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  nts_root_unref (f->root);
  temp_tree_remove (f->host);
  g_ptr_array_unref (f->cookies);
  g_free (f->dir);
  g_free (f->host);
  g_free (f->user);
}

static const char expected[] =
  "NNC0\n"
  "nts.example.test\n"
  "1700000000.5\n"
  "192.0.2.11 123\n"
  /* The server-to-client key first, upper-case hex. */
  "1 15 505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F "
  "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF\n"
  "AB01FE00\n"
  "AB01FE01\n"
  "AB01FE02\n";

/* The only entry in @dir, which must be @name. */
static void
assert_only_file (const char *dir, const char *name)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;
  guint n = 0;

  g_assert_nonnull (d);
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      g_assert_cmpstr (entry, ==, name);
      n++;
    }
  g_assert_cmpuint (n, ==, 1);
}

static void
assert_file (const char *path, const char *content, uid_t uid, gid_t gid)
{
  g_autofree char *actual = NULL;
  struct stat st;

  g_assert_true (g_file_get_contents (path, &actual, NULL, NULL));
  g_assert_cmpstr (actual, ==, content);
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpuint (st.st_uid, ==, uid);
  g_assert_cmpuint (st.st_gid, ==, gid);
}

static void
test_written (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "192.0.2.10.nts", NULL);
  g_autofree char *v6_path = g_build_filename (f->dir, "2001:db8::1.nts", NULL);
  g_autofree char *v6_expected = NULL;
  g_autofree char *fewer = NULL;
  NtsDumpEntry v6 = f->entry;

  g_assert_true (nts_dump_entry_validate (&f->entry, ALL_SUPPORT, &error));
  g_assert_no_error (error);
  g_assert_true (nts_dump_write (f->root, ALL_SUPPORT, DUMP_DIR, f->user, &f->entry, &error));
  g_assert_no_error (error);
  assert_file (path, expected, f->uid, f->gid);
  /* No temp file left beside it. */
  assert_only_file (f->dir, "192.0.2.10.nts");

  /* Written again: replaced, atomically. */
  g_ptr_array_remove_index (f->cookies, 2);
  g_assert_true (nts_dump_write (f->root, ALL_SUPPORT, DUMP_DIR, f->user, &f->entry, &error));
  g_assert_no_error (error);
  fewer = g_strndup (expected, strlen (expected) - strlen ("AB01FE02\n"));
  assert_file (path, fewer, f->uid, f->gid);
  assert_only_file (f->dir, "192.0.2.10.nts");

  /* IPv6, the name an address as chronyd prints it; the file named as
   * chronyd names it, the NTP address written as chronyd prints it. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  v6.name = "2001:db8::1";
  v6.ke_address = "2001:db8:0::1";
  v6.ntp_address = "2001:DB8::2";
  v6.ntp_port = 4123;
  g_assert_true (nts_dump_write (f->root, ALL_SUPPORT, DUMP_DIR, f->user, &v6, &error));
  g_assert_no_error (error);
  v6_expected = g_strdup_printf ("NNC0\n2001:db8::1\n1700000000.5\n2001:db8::2 4123\n%s",
                                 strstr (fewer, "1 15 "));
  assert_file (v6_path, v6_expected, f->uid, f->gid);
}

/* The file belongs to chronyd's user and that user's primary group. */
static void
test_written_as_user (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "192.0.2.10.nts", NULL);
  uid_t uid;
  gid_t gid;

  if (geteuid () != 0)
    {
      g_test_skip ("not root: cannot chown to another user");
      return;
    }
  g_assert_true (nts_lookup_user_ids ("nobody", &uid, &gid, &error));
  g_assert_no_error (error);
  /* chronyd's own directory, as chronyd makes it (0750, its user's). */
  g_assert_cmpint (chown (f->dir, uid, gid), ==, 0);
  g_assert_true (nts_dump_write (f->root, ALL_SUPPORT, DUMP_DIR, "nobody", &f->entry, &error));
  g_assert_no_error (error);
  assert_file (path, expected, uid, gid);
}

/* One thing wrong with an entry, each applied to a good one; a field
 * left 0 (FALSE, NULL) is as it was. */
typedef struct {
  const char *what;
  const char *name;
  const char *ke_address;
  const char *ntp_address;
  gboolean port_zero;
  guint16 aead;
  gsize key_len;
  gboolean no_c2s;
  gboolean no_cookies;
  gboolean set_n_cookies; /* n_cookies cookies of 1 byte instead */
  guint n_cookies;
  gboolean add_cookie; /* one more, of cookie_size bytes */
  gsize cookie_size;
  gboolean add_null_cookie;
  gboolean set_time;
  double ke_time;
} SpoilCase;

static const SpoilCase invalid_cases[] = {
  { "name with a space", .name = "two words" },
  { "name with a tab", .name = "nts\t.example" },
  { "name with a newline", .name = "a\nNNC0" },
  { "empty name", .name = "" },
  { "name like an option", .name = "-x" },
  /* 4.1 and 4.2 compare the printed form, 4.3 on the written one. */
  { "IP name not as chronyd prints it", .name = "2001:DB8::1", .ke_address = "2001:db8::1" },
  { "IP name not the KE address", .name = "192.0.2.99" },
  { "KE address a name", .ke_address = "nts.example" },
  { "KE address 192.0.2.256", .ke_address = "192.0.2.256" },
  { "KE address empty", .ke_address = "" },
  { "KE address a path", .ke_address = "../x" },
  { "NTP address a name", .ntp_address = "ntp.example" },
  { "NTP address with a scope", .ntp_address = "fe80::1%eth0" },
  { "port 0", .port_zero = TRUE },
  { "AEAD 30", .aead = 30 },
  { "16-byte keys", .key_len = 16 },
  { "64-byte keys", .key_len = 64 },
  { "no c2s key", .no_c2s = TRUE },
  { "no cookie array", .no_cookies = TRUE },
  { "0 cookies", .set_n_cookies = TRUE, .n_cookies = 0 },
  { "9 cookies", .set_n_cookies = TRUE, .n_cookies = NTS_DUMP_MAX_COOKIES + 1 },
  { "an empty cookie", .add_cookie = TRUE, .cookie_size = 0 },
  { "a 257-byte cookie", .add_cookie = TRUE, .cookie_size = NTS_DUMP_MAX_COOKIE_LEN + 1 },
  { "a NULL cookie", .add_null_cookie = TRUE },
  { "time NaN", .set_time = TRUE, .ke_time = NAN },
  { "time infinite", .set_time = TRUE, .ke_time = INFINITY },
  { "time 0", .set_time = TRUE, .ke_time = 0 },
  { "time negative", .set_time = TRUE, .ke_time = -5 },
  { "time 1e300", .set_time = TRUE, .ke_time = 1e300 },
};

static void
spoil (const SpoilCase *c, NtsDumpEntry *entry, GPtrArray *cookies)
{
  if (c->name != NULL)
    entry->name = c->name;
  if (c->ke_address != NULL)
    entry->ke_address = c->ke_address;
  if (c->ntp_address != NULL)
    entry->ntp_address = c->ntp_address;
  if (c->port_zero)
    entry->ntp_port = 0;
  if (c->aead != 0)
    entry->aead = c->aead;
  if (c->key_len != 0)
    entry->key_len = c->key_len;
  if (c->no_c2s)
    entry->c2s = NULL;
  if (c->no_cookies)
    entry->cookies = NULL;
  if (c->set_n_cookies)
    {
      g_ptr_array_set_size (cookies, 0);
      for (guint i = 0; i < c->n_cookies; i++)
        g_ptr_array_add (cookies, g_bytes_new ("c", 1));
    }
  if (c->add_cookie)
    g_ptr_array_add (cookies, g_bytes_new_take (g_malloc0 (c->cookie_size), c->cookie_size));
  if (c->add_null_cookie)
    g_ptr_array_add (cookies, NULL);
  if (c->set_time)
    entry->ke_time = c->ke_time;
}

/* Some cases add a NULL cookie. */
static void
free_bytes (gpointer bytes)
{
  if (bytes != NULL)
    g_bytes_unref (bytes);
}

static void
test_entry_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *before = temp_tree_fingerprint (f->host);

  for (gsize i = 0; i < G_N_ELEMENTS (invalid_cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) cookies = g_ptr_array_new_with_free_func (free_bytes);
      NtsDumpEntry entry = f->entry;

      for (guint c = 0; c < f->cookies->len; c++)
        g_ptr_array_add (cookies, g_bytes_ref (f->cookies->pdata[c]));
      entry.cookies = cookies;
      spoil (&invalid_cases[i], &entry, cookies);
      g_test_message ("%s", invalid_cases[i].what);
      g_assert_false (nts_dump_entry_validate (&entry, ALL_SUPPORT, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_clear_error (&error);
      g_assert_false (nts_dump_write (f->root, ALL_SUPPORT, DUMP_DIR, f->user, &entry, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      /* Never a key in a message. */
      g_assert_null (strstr (error->message, "505152"));
      g_assert_null (strstr (error->message, "C0C1C2"));
      g_test_message ("  %s", error->message);
      temp_tree_assert_unchanged (before, f->host);
    }
}

/* What a chronyd we know in part, or not at all, cannot take. */
static void
test_support_refused (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *version_output;
    const char *name;
    const char *ke_address;
    const char *ntp_address;
  } cases[] = {
    /* Unknown versions: nothing at all. */
    { "chronyd (chrony) version 4.9 (+NTS +IPV6)", NULL, NULL, NULL },
    { "chronyd (chrony) version 4.3 (-NTS +IPV6)", NULL, NULL, NULL },
    { "something else", NULL, NULL, NULL },
    /* 4.0 loads no dump for a source given as an address. */
    { "chronyd (chrony) version 4.0 (+NTS +IPV6)", "192.0.2.10", NULL, NULL },
    /* Without IPv6, none with an IPv6 address. */
    { "chronyd (chrony) version 4.3 (+NTS -IPV6)", "nts.example.test", "2001:db8::1", NULL },
    { "chronyd (chrony) version 4.3 (+NTS -IPV6)", NULL, NULL, "2001:db8::1" },
  };
  g_autofree char *before = temp_tree_fingerprint (f->host);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      NtsDumpEntry entry = f->entry;
      guint support = nts_dump_support_from_version (cases[i].version_output, NULL);

      if (cases[i].name != NULL)
        entry.name = cases[i].name;
      if (cases[i].ke_address != NULL)
        entry.ke_address = cases[i].ke_address;
      if (cases[i].ntp_address != NULL)
        entry.ntp_address = cases[i].ntp_address;
      g_test_message ("%s, %s", cases[i].version_output, entry.name);
      g_assert_false (nts_dump_write (f->root, support, DUMP_DIR, f->user, &entry, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      temp_tree_assert_unchanged (before, f->host);
    }

  /* And what 4.0 and a chronyd without IPv6 do take. */
  {
    g_autoptr(GError) error = NULL;
    guint support = nts_dump_support_from_version ("chronyd (chrony) version 4.0 (+NTS -IPV6)",
                                                   NULL);

    g_assert_true (nts_dump_write (f->root, support, DUMP_DIR, f->user, &f->entry, &error));
    g_assert_no_error (error);
  }
}

static void
assert_dir_refused (Fixture *f, const char *dump_dir, const char *user, GQuark domain, int code)
{
  g_autofree char *before = temp_tree_fingerprint (f->host);
  g_autoptr(GError) error = NULL;

  g_assert_false (nts_dump_write (f->root, ALL_SUPPORT, dump_dir, user, &f->entry, &error));
  g_assert_error (error, domain, code);
  g_test_message ("%s", error->message);
  temp_tree_assert_unchanged (before, f->host);
}

static void
test_dir_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *file = g_build_filename (f->dir, "192.0.2.10.nts", NULL);
  g_autofree char *elsewhere = g_build_filename (f->host, "/elsewhere", NULL);

  /* The directory a link (to a real directory of the right owner). */
  g_assert_cmpint (g_mkdir (elsewhere, 0750), ==, 0);
  temp_tree_symlink (f->host, "/var/lib/chrony-link", "/elsewhere");
  assert_dir_refused (f, "/var/lib/chrony-link", f->user, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
  temp_tree_symlink (f->host, "/var/lib2", "lib");
  assert_dir_refused (f, "/var/lib2/chrony", f->user, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);

  /* Missing; not canonical. */
  assert_dir_refused (f, "/var/lib/missing", f->user, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  assert_dir_refused (f, "/var/lib/../lib/chrony", f->user, G_IO_ERROR,
                      G_IO_ERROR_INVALID_FILENAME);

  /* Writable by others than its owner. */
  g_assert_cmpint (g_chmod (f->dir, 0770), ==, 0);
  assert_dir_refused (f, DUMP_DIR, f->user, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpint (g_chmod (f->dir, 0757), ==, 0);
  assert_dir_refused (f, DUMP_DIR, f->user, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpint (g_chmod (f->dir, 0750), ==, 0);

  /* No such user. */
  assert_dir_refused (f, DUMP_DIR, "no-such-user-ntssetup", G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  /* Something other than a file where the dump goes. */
  g_assert_cmpint (symlink ("/etc/passwd", file), ==, 0);
  assert_dir_refused (f, DUMP_DIR, f->user, G_IO_ERROR, G_IO_ERROR_TOO_MANY_LINKS);
  g_assert_cmpint (g_unlink (file), ==, 0);
  g_assert_cmpint (g_mkdir (file, 0700), ==, 0);
  assert_dir_refused (f, DUMP_DIR, f->user, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
  g_assert_cmpint (g_rmdir (file), ==, 0);

  /* Owned by another user than root or chronyd's. */
  if (geteuid () == 0)
    {
      g_assert_cmpint (chown (f->dir, 65534, 65534), ==, 0);
      assert_dir_refused (f, DUMP_DIR, f->user, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    }
  else
    g_test_message ("not root: the directory of another user is not tried");
}

/* ---- against chronyd ---- */

/* `chronyc -c -N authdata`'s line for @name: Name, Mode, KeyID, Type,
 * KLen, Last, Atmp, NAK, Cook, CLen. */
static GStrv
authdata_of (NtsLoopbackClient *client, const char *name)
{
  const char *const args[] = { "-c", "-N", "authdata", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (nts_loopback_client_chronyc (lb, client, args, &output, &error));
  g_assert_no_error (error);
  lines = g_strsplit (output, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      g_auto(GStrv) fields = g_strsplit (*l, ",", -1);

      if (g_strv_length (fields) == 10 && strcmp (fields[0], name) == 0)
        return g_steal_pointer (&fields);
    }
  return NULL;
}

/* Waits, bounded, until the client has an authenticated answer from
 * @name (`ntpdata`), and returns its authdata line then. */
static GStrv
wait_authenticated (NtsLoopbackClient *client, const char *name)
{
  const char *const args[] = { "ntpdata", name, NULL };
  gint64 until = g_get_monotonic_time () + LOAD_TIMEOUT_US;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *output = NULL;

      g_assert_true (nts_loopback_client_chronyc (lb, client, args, &output, &error));
      g_assert_no_error (error);
      if (strstr (output, "Authenticated   : Yes") != NULL &&
          strstr (output, "Total RX        : 0\n") == NULL)
        return authdata_of (client, name);
      if (g_get_monotonic_time () >= until)
        {
          g_autofree char *log = nts_loopback_client_read_log (lb, client);
          g_test_message ("ntpdata: %s\nclient log:\n%s", output, log);
          return NULL;
        }
      g_usleep (POLL_INTERVAL_US);
    }
}

static void
test_chronyd (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsRoot) root = NULL;
  g_autoptr(NtsDumpParsed) parsed = NULL;
  g_autofree char *version = NULL;
  g_autofree char *theirs_dir = NULL;
  g_autofree char *ours_dir = NULL;
  g_autofree char *theirs_path = NULL;
  g_autofree char *ours_path = NULL;
  g_autofree char *theirs = NULL;
  g_autofree char *ours = NULL;
  g_autofree char *file_name = nts_dump_file_name (SERVER);
  g_auto(GStrv) auth = NULL;
  g_autofree char *auth_line = NULL;
  NtsLoopbackClient *client;
  NtsDumpEntry entry;
  struct stat theirs_st, ours_st;
  gint64 ke_before, ke_after;
  guint support;

  if (lb == NULL)
    {
      g_test_skip (why_no_lb);
      return;
    }
  version = chronyd_version ();
  support = nts_dump_support_from_version (version, &error);
  if (support == 0)
    {
      g_autofree char *why = g_strdup_printf ("the chronyd under test gets no dump: %s",
                                              error->message);
      g_test_skip (why);
      return;
    }

  /* chronyd's own dump, from a real key exchange. */
  theirs_dir = g_build_filename (nts_loopback_get_dir (lb), "q-dump", NULL);
  g_assert_cmpint (g_mkdir (theirs_dir, 0750), ==, 0);
  g_assert_true (nts_dump_fixture_run_chronyd (lb, SERVER, theirs_dir, &error));
  g_assert_no_error (error);
  theirs_path = g_build_filename (theirs_dir, file_name, NULL);
  parsed = nts_dump_parsed_read (theirs_path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (parsed->name, ==, SERVER);
  g_assert_cmpuint (parsed->aead, ==, NTS_DUMP_AEAD_AES_SIV_CMAC_256);
  g_assert_cmpuint (parsed->cookies->len, >=, 1);
  /* The server negotiated its own NTP port (not 123). */
  g_assert_cmpstr (parsed->ntp_address, ==, SERVER);
  g_assert_cmpuint (parsed->ntp_port, !=, 123);

  /* Ours, from the same fields, into another directory. */
  root = nts_root_open (nts_loopback_get_dir (lb), &error);
  g_assert_no_error (error);
  ours_dir = g_build_filename (nts_loopback_get_dir (lb), "our-dump", NULL);
  g_assert_cmpint (g_mkdir (ours_dir, 0750), ==, 0);
  nts_dump_parsed_to_entry (parsed, SERVER, &entry);
  g_assert_true (nts_dump_write (root, support, "/our-dump", "root", &entry, &error));
  g_assert_no_error (error);
  ours_path = g_build_filename (ours_dir, file_name, NULL);

  /* Byte for byte, with the same owner and mode. The two lines that could
   * differ do not here: the time is chronyd's "%.1f" read and printed
   * again, and the context is its first (KeyID 1), as ours always is. */
  g_assert_true (g_file_get_contents (theirs_path, &theirs, NULL, NULL));
  g_assert_true (g_file_get_contents (ours_path, &ours, NULL, NULL));
  g_assert_cmpuint (parsed->context_id, ==, 1);
  g_assert_cmpstr (ours, ==, theirs);
  g_assert_cmpint (lstat (theirs_path, &theirs_st), ==, 0);
  g_assert_cmpint (lstat (ours_path, &ours_st), ==, 0);
  g_assert_cmpint (ours_st.st_mode, ==, theirs_st.st_mode);
  g_assert_cmpuint (ours_st.st_uid, ==, theirs_st.st_uid);
  g_assert_cmpuint (ours_st.st_gid, ==, theirs_st.st_gid);

  /* A client chronyd that starts with our dump loads it: the file is
   * gone (chronyd removes what it loads), and it authenticates with the
   * server without a key exchange of its own: the server counted none. */
  ke_before = nts_dump_fixture_ke_accepted (lb, SERVER, &error);
  g_assert_no_error (error);
  {
    const char *const servers[] = { SERVER, NULL };
    NtsLoopbackClientSpec spec = {
      .name = "loaded",
      .servers = servers,
      .minsources = 1,
      .dump_dir = ours_dir,
    };

    client = nts_loopback_add_client (lb, &spec, &error);
    g_assert_no_error (error);
  }
  g_assert_true (nts_dump_fixture_wait_loaded (ours_path));
  auth = wait_authenticated (client, SERVER);
  g_assert_nonnull (auth);
  auth_line = g_strjoinv (",", auth);
  g_test_message ("authdata: %s", auth_line);
  ke_after = nts_dump_fixture_ke_accepted (lb, SERVER, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ke_after, ==, ke_before);
  /* KeyID 1 (ours), AES-SIV-CMAC-256, 256-bit keys, no key exchange
   * attempted, no NAK, cookies in hand. */
  g_assert_cmpstr (auth[1], ==, "NTS");
  g_assert_cmpstr (auth[2], ==, "1");
  g_assert_cmpstr (auth[3], ==, "15");
  g_assert_cmpstr (auth[4], ==, "256");
  g_assert_cmpstr (auth[6], ==, "0");
  g_assert_cmpstr (auth[7], ==, "0");
  g_assert_cmpuint (g_ascii_strtoull (auth[8], NULL, 10), >, 0);

  nts_loopback_client_stop (client);
}

/* The same dump in a directory chronyd will not get: nts_dump_write
 * refuses an unknown chronyd before it looks at anything. */
static void
test_unknown_version_writes_nothing (Fixture *f, gconstpointer data)
{
  g_autofree char *before = temp_tree_fingerprint (f->host);
  g_autoptr(GError) error = NULL;
  guint support = nts_dump_support_from_version ("chronyd (chrony) version 4.9 (+CMDMON +NTP "
                                                 "+NTS +IPV6)\n",
                                                 NULL);

  g_assert_cmpuint (support, ==, 0);
  g_assert_false (nts_dump_write (f->root, support, DUMP_DIR, f->user, &f->entry, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  temp_tree_assert_unchanged (before, f->host);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  lb = nts_loopback_new (&error);
  if (lb != NULL && !nts_loopback_add_server (lb, SERVER, NTS_LOOPBACK_SERVER_GOOD, &error))
    g_clear_pointer (&lb, nts_loopback_free);
  if (lb == NULL)
    why_no_lb = g_strdup_printf ("no loopback NTS server: %s", error->message);

  g_test_add_func ("/nts-dump/support", test_support);
  g_test_add_func ("/nts-dump/chronyd-version", test_chronyd_version);
  g_test_add ("/nts-dump/written", Fixture, NULL, fixture_set_up, test_written,
              fixture_tear_down);
  g_test_add ("/nts-dump/written-as-user", Fixture, NULL, fixture_set_up, test_written_as_user,
              fixture_tear_down);
  g_test_add ("/nts-dump/entry-refused", Fixture, NULL, fixture_set_up, test_entry_refused,
              fixture_tear_down);
  g_test_add ("/nts-dump/support-refused", Fixture, NULL, fixture_set_up, test_support_refused,
              fixture_tear_down);
  g_test_add ("/nts-dump/dir-refused", Fixture, NULL, fixture_set_up, test_dir_refused,
              fixture_tear_down);
  g_test_add ("/nts-dump/unknown-version", Fixture, NULL, fixture_set_up,
              test_unknown_version_writes_nothing, fixture_tear_down);
  g_test_add_func ("/nts-dump/chronyd", test_chronyd);

  status = g_test_run ();
  g_clear_pointer (&lb, nts_loopback_free);
  g_free (why_no_lb);
  return status;
}
