/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chrony.conf and chrony's keys file, as ntssetup writes them.
 *
 * The configuration is complete in itself on purpose: no `sourcedir`,
 * `confdir`/`include` or `pool`. A sources directory is where DHCP hooks and
 * NetworkManager drop servers, a conf.d file can carry any directive (even
 * `authselectmode ignore`), and a pool expands to servers nobody chose; each
 * would let something other than this file decide which unauthenticated
 * servers chronyd talks to. The file says so too, for whoever opens it. */

#include "render.h"

#include "server-name.h"

static const char header[] =
  "# Written by ntssetup. Changes made here are replaced by the next\n"
  "# `ntsctl apply` -- change servers or min-sources with `ntsctl apply`, and\n"
  "# go back to the configuration from before ntssetup with `ntsctl rollback`.\n"
  "#\n"
  "# Authenticated time only: every source uses NTS (RFC 8915). There is no\n"
  "# pool, sourcedir or confdir, so neither DHCP nor another package can add\n"
  "# a server or a directive behind this file's back.\n";

char *
nts_render_chrony_conf (const NtsLayout   *layout,
                        const char *const *servers,
                        guint              min_sources)
{
  return nts_render_chrony_conf_full (layout, servers, min_sources, NTS_RENDER_DEFAULT);
}

char *
nts_render_chrony_conf_full (const NtsLayout *layout, const char *const *servers,
                             guint min_sources, NtsRenderFlags flags)
{
  GString *conf;

  g_return_val_if_fail (layout != NULL, NULL);
  g_return_val_if_fail (nts_server_list_validate (servers, min_sources, NULL), NULL);

  conf = g_string_new (header);
  g_string_append (conf,
                   "\n# iburst: a quick burst of first measurements; nts: a TLS key exchange\n"
                   "# (TCP 4460) gives the keys that authenticate every NTP packet.\n");
  for (const char *const *s = servers; *s != NULL; s++)
    g_string_append_printf (conf, "server %s iburst nts\n", *s);

  g_string_append_printf (conf,
                          "\n# The clock moves only when this many authenticated sources agree:\n"
                          "# one broken or hostile server can't move it alone.\n"
                          "minsources %u\n"
                          "# A source without authentication is never selected, even if one\n"
                          "# is added at run time.\n"
                          "authselectmode require\n",
                          min_sources);

  if (flags & NTS_RENDER_NO_CERT_TIME_CHECK)
    g_string_append (conf,
                     "\n# Asked for with allow-clock-far-off: this clock was too far off for\n"
                     "# any server's certificate to be valid at its time. Until chronyd first\n"
                     "# updates the clock, certificates' dates are not checked (their\n"
                     "# signatures and names still are), so an expired certificate, or a\n"
                     "# stolen key of one, is accepted for that first update.\n"
                     "nocerttimecheck 1\n");

  g_string_append_printf (conf,
                          "\n# NTS cookies kept across restarts: no new key exchange at start.\n"
                          "ntsdumpdir %s\n"
                          "driftfile %s/chrony.drift\n"
                          "# NTS uses no symmetric keys; any an administrator adds here are kept.\n"
                          "keyfile %s\n",
                          layout->state_dir, layout->state_dir, layout->keys_file);

  g_string_append (conf,
                   "\n# Step the clock when it is off by more than 1 s in the first three\n"
                   "# updates (after boot); slew it afterwards.\n"
                   "makestep 1.0 3\n"
                   "# Let the kernel keep the hardware clock in step.\n"
                   "rtcsync\n");

  g_string_append (conf,
                   "\n# No UDP command port: this ends chronyc's unprivileged monitoring\n"
                   "# over 127.0.0.1/::1. `ntsctl verify` replaces it; chronyc run as root\n"
                   "# still works over the Unix socket.\n"
                   "cmdport 0\n");

  g_string_append_printf (conf,
                          "\nlogdir %s\n"
                          "log tracking measurements statistics\n",
                          layout->log_dir);

  return g_string_free (conf, FALSE);
}

char *
nts_render_keys_file (const NtsLayout *layout, const char *existing_content)
{
  g_return_val_if_fail (layout != NULL, NULL);

  /* Whatever keys an administrator put there stay, byte for byte. */
  if (existing_content != NULL)
    return g_strdup (existing_content);

  return g_strdup ("# chrony's symmetric keys file, created by ntssetup.\n"
                   "# NTS needs no symmetric keys: its keys come from a TLS key exchange\n"
                   "# with each server. Nothing secret is in this file.\n");
}
