/* SPDX-License-Identifier: GPL-2.0-or-later */
/* NTS cookies left for chronyd: the file chronyd itself writes into its
 * `ntsdumpdir` when a source stops, and reads when a source starts.
 *
 * Why: a chronyd that finds keys and cookies there skips its own NTS key
 * exchange and selects a source sooner (chrony 4.3 on loopback: 4.30 s
 * against 6.32 s cold). The probe has done a key exchange with each
 * server just before Apply starts chronyd; leaving chronyd its result
 * saves the second one.
 *
 * The format is chrony's, learnt from its nts_ntp_client.c (save_cookies,
 * load_cookies) at every release tag from 4.0 to 4.8, all of which write
 * and read the same version, "NNC0". A text file in the dump directory
 * named after the NTS-KE server's IP address as chronyd prints it
 * ("192.0.2.1.nts", "2001:db8::1.nts"), each line ending in "\n":
 *   NNC0
 *   NAME                   the source's name; chronyd loads the file only
 *                          if it equals the name of the source it starts
 *   TIME                   when the key exchange succeeded, Unix seconds,
 *                          "%.1f" (a time in the future counts as now; one
 *                          older than `ntsrefresh` makes chronyd drop it)
 *   ADDRESS PORT           the NTP server and port the key exchange
 *                          negotiated (chronyd moves the source there)
 *   ID AEAD S2C C2S        the context's number (chronyd's counter of key
 *                          exchanges, shown as authdata's KeyID: 1 here),
 *                          the AEAD algorithm (15: AES-SIV-CMAC-256), then
 *                          the server-to-client key BEFORE the
 *                          client-to-server key, in upper-case hex
 *   COOKIE                 one line each, upper-case hex; chronyd reads at
 *                          most 8, each at most 256 bytes (its line buffer
 *                          holds no more)
 * chronyd checks on load: the first line; one word on each line; the
 * name; the NTP address parses; two keys of the AEAD's key length; each
 * cookie non-empty hex. It removes the file before reading it. A file it
 * refuses costs only the cold start it would have had anyway.
 *
 * Versions differ in one way that matters here: the name a source given
 * as an IP literal carries. chrony 4.0 gives it none and never loads a
 * dump for it; 4.1 and 4.2 use the address as chronyd prints it; 4.3 on
 * the literal as written in chrony.conf. So a literal name must be
 * written as chronyd prints it (inet_ntop's form), where all agree, and
 * for 4.0 only host names are written.
 *
 * Never when in doubt: nothing is written for a chronyd whose `chronyd -v`
 * names a version not in the list above (a release checked against its
 * source: add one only after reading its nts_ntp_client.c), a chronyd
 * without NTS, or an entry with anything chronyd might read differently
 * from us. The file is written as chronyd would have (owner its user and
 * that user's primary group, mode 0600), atomically, by descriptor into a
 * directory that must belong to root or to chronyd's user and be writable
 * by nobody else. Write it while chronyd is stopped: a chronyd that stops
 * afterwards replaces it with its own. Key material is never logged and
 * every buffer that held it is wiped. Errors are G_IO_ERROR.
 *
 * In Apply: the support from nts_chronyd_version_async() (chronyd-help.h)
 * of layout->chronyd_path; for each server the probe passed with its
 * secrets, an entry of its result (name: the server as asked, which is
 * the name chrony.conf gets; ke_address: the address it connected to;
 * ntp_address/ntp_port: the negotiated ones, if an IP literal; the keys,
 * the unused cookies, ke_time); nts_dump_write (root, support,
 * layout->state_dir, layout->user, ...). Any error means no dump for that
 * server: log it (it names no secret) and go on. */
#pragma once

#include <gio/gio.h>

#include "safe-fs.h"

G_BEGIN_DECLS

#define NTS_DUMP_AEAD_AES_SIV_CMAC_256 15u
#define NTS_DUMP_KEY_LEN               32u  /* that AEAD's key length */
#define NTS_DUMP_MAX_COOKIES           8u   /* NTS_MAX_COOKIES in chrony */
#define NTS_DUMP_MAX_COOKIE_LEN        256u /* NKE_MAX_COOKIE_LENGTH in chrony */

/* What a chronyd does with a dump, from its `chronyd -v`; 0: nothing we
 * know of, so write nothing. */
typedef enum {
  /* Reads "NNC0" dumps (a release from 4.0 to 4.8, built with NTS). */
  NTS_DUMP_SUPPORT_NNC0 = 1 << 0,
  /* A source given as an IP literal has a name, and so loads its dump
   * (4.1 on). */
  NTS_DUMP_SUPPORT_IP_NAMES = 1 << 1,
  /* Built with IPv6 (+IPV6): prints and parses IPv6 addresses. */
  NTS_DUMP_SUPPORT_IPV6 = 1 << 2,
} NtsDumpSupport;

/* One source's dump. The caller fills it from the probe's result for the
 * server; nothing here keeps a pointer to it. */
typedef struct {
  const char *name;        /* the source's name, as in chrony.conf's server line */
  const char *ke_address;  /* IP literal: the NTS-KE server's address (the file's name) */
  const char *ntp_address; /* IP literal: the NTP server negotiated (else ke_address) */
  guint16 ntp_port;        /* the NTP port negotiated (else 123), 1..65535 */
  guint16 aead;            /* NTS_DUMP_AEAD_AES_SIV_CMAC_256 */
  const guint8 *c2s;       /* client-to-server key, key_len bytes */
  const guint8 *s2c;       /* server-to-client key, key_len bytes */
  gsize key_len;           /* NTS_DUMP_KEY_LEN */
  GPtrArray *cookies;      /* GBytes, 1..NTS_DUMP_MAX_COOKIES, each 1..MAX_COOKIE_LEN bytes */
  double ke_time;          /* when the key exchange succeeded, Unix seconds */
} NtsDumpEntry;

/* The NtsDumpSupport flags of the chronyd whose `chronyd -v` printed
 * @version_output, e.g. "chronyd (chrony) version 4.3 (+CMDMON +NTP ...
 * +NTS +SECHASH +IPV6 -DEBUG)". 0 with G_IO_ERROR_NOT_SUPPORTED saying why
 * for anything else: a version not checked, a pre-release or a build from
 * git, a chronyd without NTS, output not in that form. */
guint nts_dump_support_from_version (const char *version_output, GError **error);

/* Whether @entry may be written for a chronyd with @support, every field
 * checked (G_IO_ERROR_INVALID_DATA naming the field, never its secret
 * value; G_IO_ERROR_NOT_SUPPORTED when @support rules it out). */
gboolean nts_dump_entry_validate (const NtsDumpEntry *entry, guint support, GError **error);

/* The file chronyd looks for in its dump directory for @ke_address, an
 * IP literal ("192.0.2.1.nts"); NULL when it is not one. */
char *nts_dump_file_name (const char *ke_address);

/* Writes @entry into @dump_dir (a guest path, as in chrony.conf's
 * `ntsdumpdir`), replacing a dump there for the same address, as @user
 * (chronyd's user; the group is that user's primary group) would have.
 * Validates first and writes nothing unless all is well; the directory
 * must exist, be reached without a link, belong to root or @user and be
 * writable by its owner only (G_IO_ERROR_PERMISSION_DENIED otherwise). */
gboolean nts_dump_write (NtsRoot *root, guint support, const char *dump_dir, const char *user,
                         const NtsDumpEntry *entry, GError **error);

G_END_DECLS
