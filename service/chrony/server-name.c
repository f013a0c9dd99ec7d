/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Validation of the "servers" and "min-sources" options.
 *
 * A server ends up as the second word of a `server NAME iburst nts` line in
 * chrony.conf, and chrony also sends it as the TLS server name and checks
 * the certificate against it. So the rules are strict on purpose: a DNS
 * host name in its ASCII form, or an IPv4/IPv6 literal, and nothing else.
 *
 * Decisions worth knowing:
 *  - A trailing dot ("time.example.com.") is rejected. The resolver would
 *    take it, but the name is also the TLS server name: SNI forbids the
 *    trailing dot (RFC 6066 §3) and certificates never carry one, so the
 *    key exchange would fail later with a far less helpful message.
 *  - Names that look numeric but are not a dotted quad ("1.2.3",
 *    "1.2.3.256", "010.1.1.1") are rejected: getaddrinfo() would read some
 *    of them as inet_aton() shorthand for a different address.
 *  - The unspecified, broadcast and multicast addresses parse as literals
 *    but can never be a server, so they are rejected too.
 *  - An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) is the
 *    IPv4 address a.b.c.d: the kernel sends to it over IPv4. Every check,
 *    and the duplicate check of a list, judges the IPv4 address it maps, so
 *    "::ffff:224.0.0.1" is refused as multicast and "192.0.2.1" with
 *    "::ffff:192.0.2.1" is one server given twice.
 *  - The deprecated IPv4-compatible form (::a.b.c.d, RFC 4291 §2.5.5.1) is
 *    refused outright: no transition mechanism translates it to a.b.c.d
 *    (why RFC 4291 deprecates it), so it would reach a different host than
 *    the address it spells, if any.
 *    "::" and "::1" share the prefix but are the unspecified and loopback
 *    addresses, and judged as such.
 *
 * Every message starts with the option key and quotes the offending value
 * escaped, because the message travels as a D-Bus string (valid UTF-8
 * only) and is shown to a person. */

#include "server-name.h"

#include <gio/gio.h>
#include <string.h>

#define KEY_SERVERS "servers"
#define KEY_MIN_SOURCES "min-sources"
#define MAX_LABEL 63
/* Enough of a rejected name to recognise it in a message. */
#define MAX_SHOWN 80

/* The value as it may appear in a message: ASCII only, control characters
 * and non-ASCII bytes escaped, cut short when very long. */
static char *
printable (const char *name)
{
  g_autofree char *escaped = g_strescape (name, NULL);

  if (strlen (escaped) <= MAX_SHOWN)
    return g_steal_pointer (&escaped);
  return g_strdup_printf ("%.*s...", MAX_SHOWN, escaped);
}

G_GNUC_PRINTF (3, 4)
static gboolean
reject (GError    **error,
        const char *name,
        const char *format,
        ...)
{
  g_autofree char *shown = printable (name);
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
               KEY_SERVERS ": \"%s\" is not a host name or IP address: %s",
               shown, reason);
  return FALSE;
}

static gboolean
check_ascii (const char *name, GError **error)
{
  for (const char *p = name; *p; p++)
    {
      if ((guchar) *p < 0x80)
        continue;
      if (g_utf8_validate (name, -1, NULL))
        return reject (error, name,
                       "non-ASCII characters are not allowed; give an "
                       "internationalised name in its punycode form "
                       "(\"xn--...\")");
      return reject (error, name, "it is not valid UTF-8");
    }
  return TRUE;
}

/* Characters that could change the meaning of the chrony.conf line get a
 * reason of their own; anything else outside [A-Za-z0-9.-:] a plain one. */
static gboolean
check_characters (const char *name, gboolean colon_allowed, GError **error)
{
  for (const char *p = name; *p; p++)
    {
      char c = *p;

      if (g_ascii_isalnum (c) || c == '.' || c == '-')
        continue;
      if (c == ':' && colon_allowed)
        continue;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
        return reject (error, name, "whitespace is not allowed");
      if (g_ascii_iscntrl (c))
        return reject (error, name,
                       "control character 0x%02x is not allowed", (guchar) c);
      if (c == '#')
        return reject (error, name, "'#' is not allowed");
      if (c == '"' || c == '\'')
        return reject (error, name, "quotes are not allowed");
      if (c == '\\')
        return reject (error, name, "a backslash is not allowed");
      return reject (error, name, "'%c' is not allowed in a host name", c);
    }
  return TRUE;
}

/* "1.2.3", "1.2.3.256", "123": meant as an IPv4 address. */
static gboolean
all_digits_and_dots (const char *name)
{
  gboolean digit = FALSE;

  for (const char *p = name; *p; p++)
    {
      if (g_ascii_isdigit (*p))
        digit = TRUE;
      else if (*p != '.')
        return FALSE;
    }
  return digit;
}

static const guint8 v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
static const guint8 v4_compatible_prefix[12] = { 0 };

/* The address @name denotes, with an IPv4-mapped one replaced by the IPv4
 * address it maps (see the top of the file); NULL if @name is no literal. */
static GInetAddress *
normalised_address (const char *name)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (name);
  const guint8 *bytes;

  if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
    return g_steal_pointer (&address);
  bytes = g_inet_address_to_bytes (address);
  if (memcmp (bytes, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0)
    return g_inet_address_new_from_bytes (bytes + sizeof v4_mapped_prefix,
                                          G_SOCKET_FAMILY_IPV4);
  return g_steal_pointer (&address);
}

/* ::a.b.c.d other than :: and ::1. @address is normalised. */
static gboolean
is_ipv4_compatible (GInetAddress *address)
{
  const guint8 *bytes = g_inet_address_to_bytes (address);
  guint32 low;

  if (g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6 ||
      memcmp (bytes, v4_compatible_prefix, sizeof v4_compatible_prefix) != 0)
    return FALSE;
  low = ((guint32) bytes[12] << 24) | ((guint32) bytes[13] << 16) |
        ((guint32) bytes[14] << 8) | bytes[15];
  return low > 1;
}

static gboolean
is_ipv4_broadcast (GInetAddress *address)
{
  static const guint8 broadcast[4] = { 0xff, 0xff, 0xff, 0xff };

  return g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4 &&
         memcmp (g_inet_address_to_bytes (address), broadcast, sizeof broadcast) == 0;
}

/* @name is known to be a literal GLib parses. Judged by the normalised
 * address, so a mapped form gets the same verdict and reason as its IPv4
 * address. */
static gboolean
check_usable_address (const char *name, GError **error)
{
  g_autoptr(GInetAddress) address = normalised_address (name);

  if (address == NULL)
    return reject (error, name, "it is not a valid IP address");
  if (g_inet_address_get_is_any (address))
    return reject (error, name, "the unspecified address is not a server");
  if (g_inet_address_get_is_multicast (address))
    return reject (error, name, "a multicast address is not a server");
  if (is_ipv4_broadcast (address))
    return reject (error, name, "the broadcast address is not a server");
  if (is_ipv4_compatible (address))
    return reject (error, name,
                   "IPv4-compatible IPv6 addresses (\"::a.b.c.d\") are deprecated "
                   "and do not reach a.b.c.d; give the IPv4 address itself");
  return TRUE;
}

static gboolean
validate_ipv6 (const char *name, GError **error)
{
  if (!check_characters (name, TRUE, error))
    return FALSE;
  if (!g_hostname_is_ip_address (name))
    return reject (error, name, "it is not a valid IPv6 address");
  return check_usable_address (name, error);
}

static gboolean
validate_ipv4 (const char *name, GError **error)
{
  if (!g_hostname_is_ip_address (name))
    return reject (error, name,
                   "it is neither a host name nor a valid IPv4 address "
                   "(four numbers 0-255 without leading zeros)");
  return check_usable_address (name, error);
}

static gboolean
validate_host_name (const char *name, GError **error)
{
  g_auto(GStrv) labels = NULL;
  guint n;

  if (!check_characters (name, FALSE, error))
    return FALSE;

  if (name[0] == '.')
    return reject (error, name, "it must not start with '.'");
  if (g_str_has_suffix (name, "."))
    return reject (error, name,
                   "a trailing '.' is not allowed: the name is also checked "
                   "against the server's TLS certificate, which never has one");

  labels = g_strsplit (name, ".", -1);
  n = g_strv_length (labels);
  for (guint i = 0; i < n; i++)
    {
      const char *label = labels[i];
      gsize len = strlen (label);

      if (len == 0)
        return reject (error, name, "empty label (\"..\")");
      if (len > MAX_LABEL)
        return reject (error, name,
                       "label \"%.20s...\" is %" G_GSIZE_FORMAT " bytes long, "
                       "at most %d are allowed", label, len, MAX_LABEL);
      if (label[0] == '-' || label[len - 1] == '-')
        return reject (error, name,
                       "label \"%s\" must not start or end with '-'", label);
    }

  /* A top-level label is never all digits (RFC 3696 §2); such a name is a
   * mistyped address, and the resolver might read it as one. */
  if (all_digits_and_dots (labels[n - 1]))
    return reject (error, name,
                   "the last label \"%s\" is all digits", labels[n - 1]);

  return TRUE;
}

gboolean
nts_server_name_validate (const char *name, GError **error)
{
  gsize len;

  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  len = strlen (name);
  if (len == 0)
    return reject (error, name, "it is empty");
  if (len > NTS_MAX_SERVER_NAME)
    return reject (error, name,
                   "it is %" G_GSIZE_FORMAT " bytes long, at most %d are allowed",
                   len, NTS_MAX_SERVER_NAME);
  if (!check_ascii (name, error))
    return FALSE;

  /* These shapes are common mistakes with a fix worth spelling out. */
  if (name[0] == '-')
    return reject (error, name,
                   "it must not start with '-' (it would read as an option)");
  if (name[0] == '[' || name[len - 1] == ']')
    return reject (error, name,
                   "give an IPv6 address without the brackets, e.g. \"::1\"");
  if (strchr (name, ':') != NULL && strchr (name, '%') != NULL)
    return reject (error, name,
                   "an IPv6 zone id ('%%...') is not supported: chrony's "
                   "server directive cannot take one portably; use a global "
                   "address or a host name");

  if (strchr (name, ':') != NULL)
    return validate_ipv6 (name, error);
  if (all_digits_and_dots (name))
    return validate_ipv4 (name, error);
  return validate_host_name (name, error);
}

/* The same server written twice must be caught however it is spelled:
 * names compare case-insensitively, literals by the address they denote
 * ("2001:db8::1" == "2001:0db8:0:0::1", "::ffff:192.0.2.1" == "192.0.2.1").
 * @name is valid. */
static char *
comparison_key (const char *name)
{
  g_autoptr(GInetAddress) address = NULL;

  if (g_hostname_is_ip_address (name))
    address = normalised_address (name);
  if (address != NULL)
    return g_inet_address_to_string (address);
  return g_ascii_strdown (name, -1);
}

gboolean
nts_server_list_validate (const char *const *servers,
                          guint               min_sources,
                          GError            **error)
{
  g_autoptr(GHashTable) seen = NULL;
  guint n = servers != NULL ? g_strv_length ((char **) servers) : 0;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n == 0)
    {
      g_set_error_literal (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                           KEY_SERVERS ": at least one server is needed");
      return FALSE;
    }
  if (n > NTS_MAX_SERVERS)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   KEY_SERVERS ": %u servers given, at most %d are allowed",
                   n, NTS_MAX_SERVERS);
      return FALSE;
    }

  /* key -> the spelling seen first, for the message */
  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < n; i++)
    {
      char *key;
      const char *first;

      if (!nts_server_name_validate (servers[i], error))
        return FALSE;

      key = comparison_key (servers[i]);
      first = g_hash_table_lookup (seen, key);
      if (first != NULL)
        {
          /* Both are valid, hence printable, but escape them anyway: the
           * message must stay safe if the rules above ever loosen. */
          g_autofree char *shown = printable (servers[i]);
          g_autofree char *shown_first = printable (first);

          g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                       KEY_SERVERS ": \"%s\" is given twice (also as \"%s\")",
                       shown, shown_first);
          g_free (key);
          return FALSE;
        }
      g_hash_table_insert (seen, key, (gpointer) servers[i]);
    }

  if (min_sources == 0)
    {
      g_set_error_literal (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                           KEY_MIN_SOURCES ": must be at least 1");
      return FALSE;
    }
  if (min_sources > n)
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                   KEY_MIN_SOURCES ": %u is more than the %u server%s given",
                   min_sources, n, n == 1 ? "" : "s");
      return FALSE;
    }

  return TRUE;
}
