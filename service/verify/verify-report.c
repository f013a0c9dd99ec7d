/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See verify-report.h. */
#include "verify-report.h"

/* ---- the snapshot ---------------------------------------------------- */

struct _NtsVerifySnapshot {
  NtsVerifyInputs in;
  NtsDiagSnapshot snapshot;
  GArray         *sources;   /* NtsDiagSource */
  GPtrArray      *strings;   /* what the snapshot points at, freed with it */
  const NtsChronySourceReport **reports; /* per source, for the report */
};

typedef NtsVerifySnapshot Snapshot;

void
nts_verify_snapshot_free (NtsVerifySnapshot *s)
{
  if (s == NULL)
    return;
  g_array_unref (s->sources);
  g_ptr_array_unref (s->strings);
  g_free (s->reports);
  g_free (s);
}

const NtsDiagSnapshot *
nts_verify_snapshot_diag (const NtsVerifySnapshot *s)
{
  return &s->snapshot;
}

static const char *
keep (Snapshot *s, char *string)
{
  g_ptr_array_add (s->strings, string);
  return string;
}

static const char *
unit_summary (const NtsUnitState *state)
{
  if (state == NULL)
    return "unknown";
  return nts_unit_state_summary (state);
}

static void
fill_source (Snapshot *s, const NtsChronySourceReport *sr, NtsDiagSource *d)
{
  const NtsChronySourceData *sd = &sr->source;
  gboolean unresolved = sd->addr.family == NTS_CHRONY_ADDR_ID;
  const char *address;
  const char *operator_name;

  d->reference_clock = sd->mode == NTS_CHRONY_SOURCE_MODE_REF;
  address = unresolved || d->reference_clock ? "" : keep (s, nts_chrony_ip_addr_to_string (&sd->addr));
  d->address = address;
  if (sr->name != NULL)
    d->name = sr->name;
  else
    d->name = keep (s, nts_chrony_ip_addr_to_string (&sd->addr));

  d->reachability = (guint8) (sd->reachability & 0xff);
  d->state = nts_source_state_from_chrony (sd->state, d->reachability, unresolved);
  d->stratum = sd->stratum;
  d->offset = sd->latest_meas;
  d->last_sample_age = sd->since_sample == G_MAXUINT32 ? -1 : (gint64) sd->since_sample;

  if (sr->have_auth_data)
    {
      const NtsChronyAuthData *ad = &sr->auth_data;

      d->nts = ad->mode == NTS_CHRONY_AUTH_MODE_NTS;
      d->symmetric_key = ad->mode == NTS_CHRONY_AUTH_MODE_SYMMETRIC;
      if (d->nts)
        {
          d->ke_count = ad->key_id;
          d->ke_attempts = ad->ke_attempts;
          d->last_ke_age = ad->last_ke_ago == G_MAXUINT32 ? -1 : (gint64) ad->last_ke_ago;
          d->cookies = ad->cookies;
          d->nak = ad->nak != 0;
        }
      else
        d->last_ke_age = -1;
    }
  else
    {
      /* No NTS data for a name not resolved yet: what the configuration
       * asks for is what it will be. */
      const NtsConfServer *conf = nts_chrony_conf_scan_find_server (s->in.conf, d->name);

      d->nts = conf != NULL && conf->nts;
      d->last_ke_age = -1;
    }

  if (sr->have_ntp_data)
    {
      d->authenticated = sr->ntp_data.authenticated;
      d->have_counters = TRUE;
      d->tx_count = sr->ntp_data.total_tx_count;
      d->rx_count = sr->ntp_data.total_rx_count;
    }

  operator_name = nts_operators_lookup (s->in.operators, d->name, *address ? address : NULL);
  d->operator_name = operator_name ? operator_name : "";
}

NtsVerifySnapshot *
nts_verify_snapshot_new (const NtsVerifyInputs *in)
{
  Snapshot *s = g_new0 (Snapshot, 1);
  NtsDiagSnapshot *snap = &s->snapshot;
  const NtsLayout *layout = in->layout;

  s->in = *in;
  s->sources = g_array_new (FALSE, TRUE, sizeof (NtsDiagSource));
  s->strings = g_ptr_array_new_with_free_func (g_free);

  snap->chronyd_path = layout->chronyd_path;
  snap->chrony_installed = layout->chrony_installed;
  snap->chronyd_unit = layout->unit;
  snap->chronyd_state = unit_summary (in->chronyd_unit);
  snap->timesyncd_unit = layout->timesyncd_unit;
  snap->timesyncd_state = unit_summary (in->timesyncd_unit);
  snap->socket_path = layout->socket_path;
  snap->config_file = layout->config_file;
  snap->min_sources = in->conf->min_sources;
  snap->chronyd_uptime = in->chronyd_uptime;
  snap->socket_reachable = in->chrony != NULL;
  snap->socket_error = in->chrony_error;

  if (in->chrony != NULL)
    {
      GPtrArray *reports = in->chrony->sources;

      snap->synchronised = in->chrony->tracking.leap_status != NTS_CHRONY_LEAP_UNSYNCHRONISED;
      g_array_set_size (s->sources, reports->len);
      s->reports = g_new0 (const NtsChronySourceReport *, reports->len);
      for (guint i = 0; i < reports->len; i++)
        {
          s->reports[i] = reports->pdata[i];
          fill_source (s, reports->pdata[i], &g_array_index (s->sources, NtsDiagSource, i));
        }
    }
  snap->sources = (const NtsDiagSource *) s->sources->data;
  snap->n_sources = s->sources->len;
  return s;
}

/* ---- the report ------------------------------------------------------ */

static const char *
leap_status_name (guint16 leap)
{
  switch (leap)
    {
    case NTS_CHRONY_LEAP_NORMAL:
      return "normal";
    case NTS_CHRONY_LEAP_INSERT_SECOND:
      return "insert-second";
    case NTS_CHRONY_LEAP_DELETE_SECOND:
      return "delete-second";
    default:
      return "unsynchronised";
    }
}

/* The source chronyd follows, by its configured name where it is one of
 * the sources; a reference clock or the local clock by its reference id,
 * as chronyc shows it. */
static char *
reference_name (const Snapshot *s, const NtsChronyTracking *tracking)
{
  if (tracking->leap_status == NTS_CHRONY_LEAP_UNSYNCHRONISED)
    return g_strdup ("");
  if (nts_chrony_ip_addr_is_ip (&tracking->ip_addr))
    {
      for (guint i = 0; i < s->snapshot.n_sources; i++)
        if (nts_chrony_ip_addr_equal (&s->reports[i]->source.addr, &tracking->ip_addr))
          return g_strdup (s->snapshot.sources[i].name);
      return nts_chrony_ip_addr_to_string (&tracking->ip_addr);
    }
  {
    char id[5];

    for (int i = 0; i < 4; i++)
      {
        id[i] = (char) ((tracking->ref_id >> (24 - 8 * i)) & 0xff);
        if (!g_ascii_isprint (id[i]))
          return g_strdup_printf ("%08X", tracking->ref_id);
      }
    id[4] = '\0';
    return g_strdup (g_strchomp (id));
  }
}

/* Built in the order of the XML's documentation, which is how busctl
 * and ntsctl --json show them. */
#define ADD(builder, key, format, ...) \
  g_variant_builder_add ((builder), "{sv}", (key), g_variant_new ((format), __VA_ARGS__))

static GVariant *
source_dict (const NtsDiagSource *d, GVariant *probe)
{
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);

  ADD (&dict, "name", "s", d->name);
  ADD (&dict, "address", "s", d->address);
  ADD (&dict, "nts", "b", d->nts);
  ADD (&dict, "ke-count", "u", d->ke_count);
  ADD (&dict, "ke-attempts", "u", d->ke_attempts);
  ADD (&dict, "last-ke-age", "x", d->last_ke_age);
  ADD (&dict, "cookies", "u", d->cookies);
  ADD (&dict, "nak", "b", d->nak);
  ADD (&dict, "authenticated", "b", d->authenticated);
  ADD (&dict, "reachability", "y", d->reachability);
  ADD (&dict, "state", "s", nts_source_state_to_string (d->state));
  ADD (&dict, "stratum", "y", (guint8) MIN (d->stratum, 255u));
  ADD (&dict, "offset", "d", d->offset);
  ADD (&dict, "operator", "s", d->operator_name);
  if (probe != NULL)
    g_variant_builder_add (&dict, "{sv}", "probe", probe);
  return g_variant_builder_end (&dict);
}

GVariant *
nts_verify_snapshot_report (const NtsVerifySnapshot *s, GPtrArray *problems, GHashTable *probes)
{
  const NtsDiagSnapshot *snap = &s->snapshot;
  GVariantBuilder dict, sources, list;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  ADD (&dict, "ok", "b", nts_diag_is_ok (snap));
  ADD (&dict, "authenticated-sources", "u", nts_diag_authenticated_sources (snap));
  ADD (&dict, "min-sources", "u", snap->min_sources);
  ADD (&dict, "synchronised", "b", snap->socket_reachable && snap->synchronised);

  if (s->in.chrony != NULL)
    {
      const NtsChronyTracking *tracking = &s->in.chrony->tracking;
      g_autofree char *reference = reference_name (s, tracking);

      ADD (&dict, "leap-status", "s", leap_status_name (tracking->leap_status));
      ADD (&dict, "reference", "s", reference);
      ADD (&dict, "stratum", "y", (guint8) MIN (tracking->stratum, 255u));
      /* chronyd reports the correction still to apply: positive when the
       * system clock is behind ("slow" in chronyc tracking). */
      ADD (&dict, "system-offset", "d", -tracking->current_correction);
    }
  else
    {
      ADD (&dict, "leap-status", "s", "unsynchronised");
      ADD (&dict, "reference", "s", "");
      ADD (&dict, "stratum", "y", (guint8) 0);
      ADD (&dict, "system-offset", "d", 0.0);
    }

  ADD (&dict, "chronyd-unit", "s", snap->chronyd_unit ? snap->chronyd_unit : "");
  ADD (&dict, "chronyd-state", "s", snap->chronyd_state);
  ADD (&dict, "timesyncd-state", "s", snap->timesyncd_state);

  g_variant_builder_init (&sources, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < snap->n_sources; i++)
    {
      const NtsDiagSource *d = &snap->sources[i];
      GVariant *probe = probes != NULL ? g_hash_table_lookup (probes, d->name) : NULL;

      g_variant_builder_add_value (&sources, source_dict (d, probe));
    }
  g_variant_builder_add (&dict, "{sv}", "sources", g_variant_builder_end (&sources));

  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < problems->len; i++)
    {
      const NtsProblem *p = problems->pdata[i];
      GVariantBuilder problem;

      g_variant_builder_init (&problem, G_VARIANT_TYPE_VARDICT);
      ADD (&problem, "code", "s", p->code);
      ADD (&problem, "source", "s", p->source);
      ADD (&problem, "message", "s", p->message);
      ADD (&problem, "hint", "s", p->hint);
      g_variant_builder_add_value (&list, g_variant_builder_end (&problem));
    }
  g_variant_builder_add (&dict, "{sv}", "problems", g_variant_builder_end (&list));

  return g_variant_ref_sink (g_variant_builder_end (&dict));
}
