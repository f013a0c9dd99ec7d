/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a server option may hold, and the list rules. */

#include "server-name.h"

#include <gio/gio.h>
#include <string.h>

typedef struct {
  const char *name;
  const char *reason;   /* a piece of the expected message */
} BadCase;

/* 25 labels of nine letters, each with its dot (250 bytes), and "abcd". */
#define LABEL9 "aaaaaaaaa."
#define LABELS50 LABEL9 LABEL9 LABEL9 LABEL9 LABEL9
#define NAME_254 LABELS50 LABELS50 LABELS50 LABELS50 LABELS50 "abcd"

static const BadCase bad_names[] = {
  { "", "empty" },
  { " ", "whitespace" },
  { "nts.example.com ", "whitespace" },
  { " nts.example.com", "whitespace" },
  { "nts example.com", "whitespace" },
  { "nts.example.com\tiburst", "whitespace" },
  { "nts.example.com\nserver evil.example", "whitespace" },
  { "nts.example.com\r", "whitespace" },
  { "nts\001.example.com", "control character 0x01" },
  { "nts.example.com\177", "control character 0x7f" },
  { "nts.example.com#x", "'#' is not allowed" },
  { "#nts.example.com", "'#' is not allowed" },
  { "\"nts.example.com\"", "quotes" },
  { "'nts.example.com'", "quotes" },
  { "nts\\.example.com", "backslash" },
  { "-nts.example.com", "must not start with '-'" },
  { "-x", "must not start with '-'" },
  { "--help", "must not start with '-'" },
  { "a..b", "empty label" },
  { ".example.com", "must not start with '.'" },
  { "example.com.", "trailing '.'" },
  { "example.com..", "trailing '.'" },
  { ".", "must not start with '.'" },
  { "-a.example.com", "must not start with '-'" },
  { "a-.example.com", "must not start or end with '-'" },
  { "a.-b.example.com", "must not start or end with '-'" },
  { "nts_1.example.com", "'_' is not allowed" },
  { "nts.example.com;reboot", "';' is not allowed" },
  { "nts.example.com/24", "'/' is not allowed" },
  { "nts.example.com:4460", "not a valid IPv6 address" },
  { "n*ts.example.com", "'*' is not allowed" },
  { "nts.example.com$", "'$' is not allowed" },
  { "nts.exämple.com", "punycode" },
  { "zeit.bücher.de", "punycode" },
  { "nts.example.com\377", "not valid UTF-8" },
  { "1.2.3.256", "valid IPv4" },
  { "1.2.3", "valid IPv4" },
  { "1.2.3.4.5", "valid IPv4" },
  { "010.1.1.1", "valid IPv4" },
  { "127.1", "valid IPv4" },
  { "123", "valid IPv4" },
  { "1.2.3.4.", "valid IPv4" },
  { "example.123", "all digits" },
  { "fe80::1%eth0", "zone id" },
  { "fe80::1%25eth0", "zone id" },
  { "[::1]", "brackets" },
  { "[2001:db8::1]:123", "brackets" },
  { "::1]", "brackets" },
  { "1::2::3", "not a valid IPv6" },
  { "2001:db8::g", "not a valid IPv6" },
  { "1:2:3:4:5:6:7:8:9", "not a valid IPv6" },
  { ":::", "not a valid IPv6" },
  { "0.0.0.0", "unspecified" },
  { "::", "unspecified" },
  { "224.0.1.1", "multicast" },
  { "ff02::101", "multicast" },
  { "255.255.255.255", "broadcast" },
  { "%", "'%' is not allowed" },
  { "a@b", "'@' is not allowed" },
  /* IPv4-mapped forms are judged as the IPv4 address they map. */
  { "::ffff:0.0.0.0", "unspecified" },
  { "::ffff:0:0", "unspecified" },
  { "::ffff:224.0.0.1", "multicast" },
  { "::FFFF:E000:1", "multicast" },
  { "0:0:0:0:0:ffff:239.255.255.250", "multicast" },
  { "::ffff:255.255.255.255", "broadcast" },
  { "::ffff:ffff:ffff", "broadcast" },
  /* The deprecated IPv4-compatible form. */
  { "::192.0.2.1", "IPv4-compatible" },
  { "::224.0.0.1", "IPv4-compatible" },
  { "::0.0.0.2", "IPv4-compatible" },
  /* Length, encodings, and a leading '-' on any shape. */
  { NAME_254, "254 bytes long, at most 253" },
  { "\357\275\216\357\275\224\357\275\223.example.com", "punycode" },  /* fullwidth "nts" */
  { "nts.example.com\342\200\213", "punycode" },                   /* zero-width space */
  { "nts.example.com\342\200\256moc", "punycode" },                 /* right-to-left override */
  { "\303(", "not valid UTF-8" },
  { "nts.example.com\300\257", "not valid UTF-8" },                  /* overlong '/' */
  { "\355\240\200.example.com", "not valid UTF-8" },                 /* a UTF-16 surrogate */
  { "-4", "must not start with '-'" },
  { "-1.2.3.4", "must not start with '-'" },
  { "-::1", "must not start with '-'" },
  { "- nts.example.com", "must not start with '-'" },
};

static const char *const good_names[] = {
  "time.cloudflare.com",
  "nts.netnod.se",
  "ptbtime1.ptb.de",
  "nts.sth1.ntp.se",
  "localhost",
  "a",
  "A.B.C",
  "xn--bcher-kva.example",
  "123.example.com",
  "ntp-1.example.com",
  "a1-b2.c3",
  "1.2.3.4",
  "127.0.0.2",
  "192.0.2.255",
  "::1",
  "2001:db8::1",
  "2001:0db8:0000:0000:0000:0000:0000:0001",
  "::ffff:192.0.2.1",
  "1:2:3:4:5:6:7:8",
  "fe80::1",
  "2001:DB8::A",
};

static void
test_bad_names (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *shown = g_strescape (bad_names[i].name, NULL);

      g_test_message ("bad: \"%s\"", shown);
      g_assert_false (nts_server_name_validate (bad_names[i].name, &error));
      g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      g_assert_true (g_str_has_prefix (error->message, "servers: "));
      if (strstr (error->message, bad_names[i].reason) == NULL)
        g_error ("\"%s\": message \"%s\" lacks \"%s\"",
                 shown, error->message, bad_names[i].reason);
      /* The message travels as a D-Bus string and is shown to a person:
       * the value is quoted escaped, so every byte is printable ASCII. */
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      for (const char *p = error->message; *p; p++)
        if (!g_ascii_isprint (*p))
          g_error ("\"%s\": message \"%s\" has byte 0x%02x", shown, error->message, (guchar) *p);
    }
  g_assert_cmpuint (G_N_ELEMENTS (bad_names), >=, 40);
}

/* The reason given for @name, after the quoted value. */
static char *
reason_for (const char *name)
{
  g_autoptr(GError) error = NULL;
  const char *colon;

  g_assert_false (nts_server_name_validate (name, &error));
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  colon = strstr (error->message, "IP address: ");
  g_assert_nonnull (colon);
  return g_strdup (colon);
}

/* A mapped address is refused for exactly the reason its IPv4 form is. */
static void
test_mapped_same_reason (void)
{
  static const char *const pairs[][2] = {
    { "0.0.0.0", "::ffff:0.0.0.0" },
    { "224.0.0.1", "::ffff:224.0.0.1" },
    { "224.0.0.1", "::ffff:e000:1" },
    { "239.255.255.250", "0:0:0:0:0:ffff:239.255.255.250" },
    { "255.255.255.255", "::ffff:255.255.255.255" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      g_autofree char *v4 = reason_for (pairs[i][0]);
      g_autofree char *mapped = reason_for (pairs[i][1]);

      g_test_message ("%s / %s: %s", pairs[i][0], pairs[i][1], mapped);
      g_assert_cmpstr (mapped, ==, v4);
    }

  /* Mapped unicast stays a valid server, and ::1 is loopback, not IPv4-compatible. */
  g_assert_true (nts_server_name_validate ("::ffff:192.0.2.1", NULL));
  g_assert_true (nts_server_name_validate ("::ffff:c000:201", NULL));
  g_assert_true (nts_server_name_validate ("::1", NULL));
}

static void
test_message_example (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (nts_server_name_validate ("nts.example.com#x", &error));
  g_assert_cmpstr (error->message, ==,
                   "servers: \"nts.example.com#x\" is not a host name or IP address: "
                   "'#' is not allowed");
}

static void
test_lengths (void)
{
  g_autoptr(GString) name = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *label63 = g_strnfill (63, 'a');
  g_autofree char *label64 = g_strnfill (64, 'a');
  g_autofree char *with63 = g_strconcat (label63, ".example", NULL);
  g_autofree char *with64 = g_strconcat (label64, ".example", NULL);

  g_assert_true (nts_server_name_validate (with63, NULL));
  g_assert_false (nts_server_name_validate (with64, &error));
  g_assert_nonnull (strstr (error->message, "at most 63"));
  g_clear_error (&error);

  /* 253 bytes: four labels of 63 and a dot between each = 255; trim. */
  while (name->len < NTS_MAX_SERVER_NAME)
    g_string_append (name, name->len == 0 ? "a" : ".a");
  g_string_truncate (name, NTS_MAX_SERVER_NAME);
  if (name->str[name->len - 1] == '.')
    name->str[name->len - 1] = 'b';
  g_assert_cmpuint (name->len, ==, 253);
  g_assert_true (nts_server_name_validate (name->str, NULL));

  g_string_append (name, "c");
  g_assert_false (nts_server_name_validate (name->str, &error));
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "at most 253"));
  /* A very long value is shortened in the message. */
  g_assert_cmpuint (strlen (error->message), <, 200);
}

static void
test_good_names (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (good_names); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("good: \"%s\"", good_names[i]);
      if (!nts_server_name_validate (good_names[i], &error))
        g_error ("\"%s\" rejected: %s", good_names[i], error->message);
    }
  g_assert_cmpuint (G_N_ELEMENTS (good_names), >=, 15);
}

static void
expect_list_error (const char *const *servers, guint min_sources,
                   const char *key, const char *piece)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (nts_server_list_validate (servers, min_sources, &error));
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, key));
  if (strstr (error->message, piece) == NULL)
    g_error ("message \"%s\" lacks \"%s\"", error->message, piece);
}

static void
test_list_counts (void)
{
  const char *const none[] = { NULL };
  g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func (g_free);

  expect_list_error (none, 1, "servers: ", "at least one");
  expect_list_error (NULL, 1, "servers: ", "at least one");

  for (guint i = 0; i < NTS_MAX_SERVERS; i++)
    g_ptr_array_add (many, g_strdup_printf ("nts%u.example.com", i));
  g_ptr_array_add (many, NULL);
  g_assert_true (nts_server_list_validate ((const char *const *) many->pdata, 3, NULL));
  g_assert_true (nts_server_list_validate ((const char *const *) many->pdata, 16, NULL));

  g_ptr_array_remove_index (many, many->len - 1);
  g_ptr_array_add (many, g_strdup ("nts16.example.com"));
  g_ptr_array_add (many, NULL);
  expect_list_error ((const char *const *) many->pdata, 3, "servers: ", "17 servers given, at most 16");
}

/* Lists refused as a whole; the first bad member decides the message. */
static void
test_list_bad_table (void)
{
  static const struct {
    const char *servers[NTS_MAX_SERVERS + 2];
    const char *piece;
  } lists[] = {
    { { "a.example", "b.example", "c.example", "d.example", "e.example", "f.example",
        "g.example", "h.example", "i.example", "j.example", "k.example", "l.example",
        "m.example", "n.example", "o.example", "p.example", "q.example", NULL },
      "17 servers given, at most 16" },
    { { "a.example.com", "::ffff:224.0.0.1", NULL }, "multicast" },
    { { "a.example.com", "::ffff:0.0.0.0", NULL }, "unspecified" },
    { { "::ffff:255.255.255.255", NULL }, "broadcast" },
    { { "192.0.2.1", "::ffff:192.0.2.1", NULL }, "given twice" },
    { { "a.example.com", NAME_254, NULL }, "at most 253" },
    { { "a.example.com", "-b.example.com", NULL }, "must not start with '-'" },
    { { "a.example.com", "b.ex\303\244mple.com", NULL }, "\"b.ex\\303\\244mple.com\"" },
  };

  g_assert_cmpint (NTS_MAX_SERVERS, ==, 16);
  for (gsize i = 0; i < G_N_ELEMENTS (lists); i++)
    expect_list_error (lists[i].servers, 1, "servers: ", lists[i].piece);
}

static void
test_list_duplicates (void)
{
  const char *const same[] = { "a.example.com", "b.example.com", "a.example.com", NULL };
  const char *const cased[] = { "Time.Cloudflare.com", "time.cloudflare.COM", NULL };
  const char *const v6[] = { "2001:db8::1", "2001:0db8:0:0:0:0:0:1", NULL };
  const char *const distinct[] = { "a.example.com", "b.example.com", "2001:db8::1", "192.0.2.1", NULL };

  expect_list_error (same, 1, "servers: ", "given twice");
  expect_list_error (cased, 1, "servers: ", "given twice");
  expect_list_error (v6, 1, "servers: ", "given twice");
  g_assert_true (nts_server_list_validate (distinct, 4, NULL));

  /* An IPv4 address and its mapped forms are one source, in any order. */
  {
    const char *const mapped[] = { "192.0.2.1", "::ffff:192.0.2.1", NULL };
    const char *const mapped_first[] = { "::ffff:192.0.2.1", "a.example.com", "192.0.2.1", NULL };
    const char *const mapped_hex[] = { "::ffff:c000:201", "0:0:0:0:0:FFFF:192.0.2.1", NULL };

    expect_list_error (mapped, 1, "servers: ",
                       "\"::ffff:192.0.2.1\" is given twice (also as \"192.0.2.1\")");
    expect_list_error (mapped_first, 1, "servers: ",
                       "\"192.0.2.1\" is given twice (also as \"::ffff:192.0.2.1\")");
    expect_list_error (mapped_hex, 1, "servers: ", "given twice");
  }
}

static void
test_list_bad_member (void)
{
  const char *const list[] = { "a.example.com", "b.example.com\nserver x", NULL };

  expect_list_error (list, 1, "servers: ", "whitespace");
}

static void
test_min_sources (void)
{
  const char *const three[] = { "a.example.com", "b.example.com", "c.example.com", NULL };
  const char *const one[] = { "a.example.com", NULL };

  expect_list_error (three, 0, "min-sources: ", "at least 1");
  expect_list_error (three, 4, "min-sources: ", "4 is more than the 3 servers given");
  expect_list_error (one, 2, "min-sources: ", "2 is more than the 1 server given");
  g_assert_true (nts_server_list_validate (three, 1, NULL));
  g_assert_true (nts_server_list_validate (three, 3, NULL));
  g_assert_true (nts_server_list_validate (one, 1, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server-name/bad", test_bad_names);
  g_test_add_func ("/server-name/mapped-same-reason", test_mapped_same_reason);
  g_test_add_func ("/server-name/message-example", test_message_example);
  g_test_add_func ("/server-name/lengths", test_lengths);
  g_test_add_func ("/server-name/good", test_good_names);
  g_test_add_func ("/server-list/counts", test_list_counts);
  g_test_add_func ("/server-list/duplicates", test_list_duplicates);
  g_test_add_func ("/server-list/bad-table", test_list_bad_table);
  g_test_add_func ("/server-list/bad-member", test_list_bad_member);
  g_test_add_func ("/server-list/min-sources", test_min_sources);

  return g_test_run ();
}
