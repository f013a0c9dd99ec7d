/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The systemd drop-in that hardens chronyd's real unit.
 *
 * It only adds restrictions on top of the distribution's unit: ExecStart=
 * and its options variable stay the packaged ones. The directives are one
 * table, each with the reason it is there, so that a chronyd that needs
 * one loosened or dropped costs a one-line change (tests/testbed/README.md
 * lists which of them chronyd tolerates).
 *
 * A list setting in a drop-in is merged with the packaged unit's value, and
 * Debian's (and upstream's) unit uses deny lists (`CapabilityBoundingSet=~`,
 * `SystemCallFilter=~`), so an allow list would merge into nothing useful.
 * Every list setting is therefore written twice: an empty assignment that
 * resets it, then our value. */

#include "render.h"

#include <string.h>

#define DROPIN_NAME "50-ntssetup-hardening.conf"
#define WRAP_COLUMN 76

typedef struct {
  const char *key;
  /* @RUN_DIR_PARENT@, @STATE_DIR@ and @LOG_DIR@ are replaced from the layout */
  const char *value;
  gboolean is_list;      /* reset with an empty assignment first */
  const char *why;       /* written above the directive; NULL when obvious */
} Directive;

static const Directive directives[] = {
  { "NoNewPrivileges", "yes", FALSE,
    "Debian's unit turns this off only so the mailonchange directive can run "
    "sendmail; this configuration sends no mail." },
  { "ProtectSystem", "strict", FALSE,
    "Everything read-only except ReadWritePaths= below." },
  { "ProtectHome", "yes", FALSE, NULL },
  { "PrivateTmp", "yes", FALSE, NULL },
  { "PrivateDevices", "yes", FALSE,
    "An NTS client needs no /dev/rtc, /dev/ptp* or /dev/pps* (rtcsync is done "
    "by the kernel); drop this line for reference clocks or rtcfile." },
  { "ProtectKernelTunables", "yes", FALSE, NULL },
  { "ProtectKernelModules", "yes", FALSE, NULL },
  { "ProtectKernelLogs", "yes", FALSE, NULL },
  { "ProtectControlGroups", "yes", FALSE, NULL },
  { "ProtectHostname", "yes", FALSE, NULL },
  { "ProtectProc", "invisible", FALSE, NULL },
  { "ProcSubset", "pid", FALSE,
    "chrony 4.4's own unit dropped this: GnuTLS can't see "
    "/proc/sys/crypto/fips_enabled under it. Drop it on a FIPS-mode system." },
  { "RestrictNamespaces", "yes", FALSE, NULL },
  { "RestrictRealtime", "yes", FALSE,
    "Only chronyd -P (SCHED_FIFO) would need real-time scheduling." },
  { "RestrictSUIDSGID", "yes", FALSE, NULL },
  { "LockPersonality", "yes", FALSE, NULL },
  { "MemoryDenyWriteExecute", "yes", FALSE, NULL },
  { "RemoveIPC", "yes", FALSE, NULL },
  { "UMask", "0077", FALSE,
    "Only root and chronyd's user read what chronyd creates (logs, drift "
    "file, NTS cookies, pid file); its own directory check accepts the 0700 "
    "this gives the directories it creates." },
  { "SystemCallArchitectures", "native", FALSE, NULL },
  { "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX", TRUE,
    "Debian's unit adds AF_NETLINK for sendmail; without it glibc's "
    "getaddrinfo() assumes IPv4 and IPv6 are both configured." },
  { "CapabilityBoundingSet",
    "CAP_SYS_TIME CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE", TRUE,
    "chronyd starts as root: CAP_SYS_TIME sets the clock, CAP_SETUID/SETGID "
    "drop to its user, CAP_CHOWN and CAP_DAC_OVERRIDE let it set up "
    "/run/chrony and its pid file for that user (without "
    "CAP_DAC_OVERRIDE it cannot open /run/chrony/chronyd.pid)." },
  { "SystemCallFilter", "@system-service @clock seccomp", TRUE,
    "@clock for adjtimex(); seccomp because chronyd -F 1 (Debian's default) "
    "installs its own filter on top (without it chronyd dies of SIGSYS)." },
  { "SystemCallFilter", "~@resources", FALSE,
    "Taken back out of the list above: chronyd sets no resource limits or "
    "scheduling, and runs and authenticates without these calls." },
  { "SystemCallErrorNumber", "EPERM", FALSE,
    "A call outside the filter fails with EPERM rather than killing chronyd, "
    "so a gap shows in its log instead of as a restart loop." },
  { "ReadWritePaths", "@RUN_DIR_PARENT@ -@STATE_DIR@ -@LOG_DIR@", TRUE,
    "The run directory's parent, not the run directory: units without "
    "RuntimeDirectory= (upstream's, Arch's, Fedora's) leave chronyd to "
    "create it after boot, and a path missing when the unit starts can't be "
    "made writable. '-': a missing state or log directory costs chronyd that "
    "directory, not its start." },
};

static char *
run_dir_parent (const NtsLayout *layout)
{
  g_autofree char *parent = g_path_get_dirname (layout->run_dir);

  /* Never make the whole file system writable. */
  if (strcmp (parent, "/") == 0)
    return g_strdup (layout->run_dir);
  return g_steal_pointer (&parent);
}

static char *
expand (const char *value, const NtsLayout *layout)
{
  g_autoptr(GString) out = g_string_new (value);
  g_autofree char *parent = run_dir_parent (layout);

  g_string_replace (out, "@RUN_DIR_PARENT@", parent, 0);
  g_string_replace (out, "@STATE_DIR@", layout->state_dir, 0);
  g_string_replace (out, "@LOG_DIR@", layout->log_dir, 0);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
append_comment (GString *out, const char *text)
{
  g_auto(GStrv) words = g_strsplit (text, " ", -1);
  gsize column = 0;

  for (char **word = words; *word != NULL; word++)
    {
      if (column > 0 && column + 1 + strlen (*word) > WRAP_COLUMN)
        {
          g_string_append_c (out, '\n');
          column = 0;
        }
      if (column == 0)
        {
          g_string_append (out, "# ");
          column = 2;
        }
      else
        {
          g_string_append_c (out, ' ');
          column++;
        }
      g_string_append (out, *word);
      column += strlen (*word);
    }
  g_string_append_c (out, '\n');
}

char *
nts_hardening_dropin_path (const NtsLayout *layout)
{
  g_return_val_if_fail (layout != NULL && layout->unit != NULL, NULL);

  return g_strdup_printf ("/etc/systemd/system/%s.d/" DROPIN_NAME, layout->unit);
}

char *
nts_render_hardening_dropin (const NtsLayout *layout)
{
  GString *out;

  g_return_val_if_fail (layout != NULL && layout->unit != NULL, NULL);

  out = g_string_new (NULL);
  g_string_append_printf (out,
                          "# Written by ntssetup: hardening for %s on top of the packaged\n"
                          "# unit. `ntsctl rollback` removes it. ExecStart= and its options stay\n"
                          "# the distribution's.\n"
                          "#\n"
                          "# List settings are reset with an empty assignment first: in a drop-in\n"
                          "# they would otherwise merge into the unit's own lists (deny lists, in\n"
                          "# the packaged units) and restrict nothing.\n"
                          "\n[Service]\n",
                          layout->unit);

  for (gsize i = 0; i < G_N_ELEMENTS (directives); i++)
    {
      const Directive *d = &directives[i];
      g_autofree char *value = expand (d->value, layout);

      if (d->why != NULL)
        append_comment (out, d->why);
      if (d->is_list)
        g_string_append_printf (out, "%s=\n", d->key);
      g_string_append_printf (out, "%s=%s\n", d->key, value);
    }

  return g_string_free (out, FALSE);
}
