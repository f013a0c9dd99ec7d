/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntssetupd on a private bus: the contract as a caller sees it.
 *
 * Real dbus-daemon and ntssetupd; polkit is the local dbusmock template
 * (tests/templates/polkitd.py), which records every CheckAuthorization and
 * can answer yes, no, or "challenge", or hold the answer. */
#include <signal.h>

#include <glib/gstdio.h>

#include "nts-names.h"
#include "service-fixture.h"

#define WAIT_MS 20000

static const ServiceOptions allow_all = {
  .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\", "
                   "\"" NTS_ACTION_APPLY "\", \"" NTS_ACTION_ROLLBACK "\"]}",
};

static const ServiceOptions allow_verify = {
  .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\"]}",
};

static const ServiceOptions allow_nothing = {
  .polkit_params = "{}",
};

static const ServiceOptions challenge_apply = {
  .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\"], "
                   "\"challenge\": [\"" NTS_ACTION_APPLY "\", \"" NTS_ACTION_ROLLBACK "\"]}",
};

static const ServiceOptions stall_apply = {
  .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\", "
                   "\"" NTS_ACTION_APPLY "\", \"" NTS_ACTION_ROLLBACK "\"]}",
  .fault = "resolve:stall",
};

static const ServiceOptions no_polkit = {
  .polkit_params = NULL,
};

/* systemd knows chrony's unit as chronyd.service (with chrony.service as
 * the alias), unlike Debian's packaging, and timesyncd runs. */
static const ServiceOptions with_systemd = {
  .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\"]}",
  .systemd_params = "{\"units\": {"
                    "\"chronyd.service\": {\"Names\": [\"chrony.service\"], "
                    "   \"ActiveState\": \"inactive\", \"UnitFileState\": \"enabled\"},"
                    "\"systemd-timesyncd.service\": {\"ActiveState\": \"active\", "
                    "   \"UnitFileState\": \"enabled\"}}}",
};

static void
setup_started (ServiceFixture *fx, gconstpointer data)
{
  service_fixture_setup (fx, data);
  service_fixture_start_daemon (fx);
}

/* For tests that prepare the root before the daemon starts. */
static void
setup_stopped (ServiceFixture *fx, gconstpointer data)
{
  service_fixture_setup (fx, data);
}

static void
teardown (ServiceFixture *fx, gconstpointer data)
{
  service_fixture_teardown (fx);
}

static GVariant *
empty_options (void)
{
  return g_variant_new ("(a{sv})", NULL);
}

/* An Apply that gets past polkit and fails deterministically right after:
 * no preflight (it would need the network), and these fixtures run no
 * systemd stand-in, so the transaction's first step (Subscribe) fails
 * before anything is written. */
static GVariant *
past_authorization_options (void)
{
  GVariantBuilder options;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "preflight", g_variant_new_boolean (FALSE));
  return g_variant_new ("(a{sv})", &options);
}
#define PAST_AUTHORIZATION_ERROR "org.ntssetup.Manager1.Error.ApplyFailed"

/* The checks the polkit stand-in saw, as (kind, details, action, flags,
 * cancellation id, outcome). */
static GVariant *
polkit_checks (ServiceFixture *fx)
{
  g_autoptr(GVariant) reply = fixture_polkit (fx, "GetChecks", NULL);
  return g_variant_get_child_value (reply, 0);
}

static guint
polkit_pending (ServiceFixture *fx)
{
  g_autoptr(GVariant) reply = fixture_polkit (fx, "PendingCount", NULL);
  guint count;

  g_variant_get (reply, "(u)", &count);
  return count;
}

/* Polls the stand-in (bounded) until @count checks are held. */
static void
wait_pending (ServiceFixture *fx, guint count)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (polkit_pending (fx) != count)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
    }
}

/* ---- the contract itself ---------------------------------------------- */

static void
assert_args_equal (GDBusArgInfo **want, GDBusArgInfo **got)
{
  guint i;

  for (i = 0; want && want[i]; i++)
    {
      g_assert_nonnull (got);
      g_assert_nonnull (got[i]);
      g_assert_cmpstr (want[i]->name, ==, got[i]->name);
      g_assert_cmpstr (want[i]->signature, ==, got[i]->signature);
    }
  g_assert_true (got == NULL || got[i] == NULL);
}

static void
test_introspection_matches_xml (ServiceFixture *fx, gconstpointer data)
{
  g_autofree char *path = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "introspection",
                                            "org.ntssetup.Manager1.xml", NULL);
  g_autofree char *xml = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusNodeInfo) want_node = NULL;
  g_autoptr(GDBusNodeInfo) got_node = NULL;
  g_autoptr(GVariant) reply = NULL;
  const char *got_xml;
  GDBusInterfaceInfo *want, *got;
  guint i;

  g_assert_true (g_file_get_contents (path, &xml, NULL, &error));
  want_node = g_dbus_node_info_new_for_xml (xml, &error);
  g_assert_no_error (error);
  want = g_dbus_node_info_lookup_interface (want_node, NTS_DBUS_INTERFACE);
  g_assert_nonnull (want);

  reply = g_dbus_connection_call_sync (fx->client, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                       "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
                                       G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                       &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&s)", &got_xml);
  got_node = g_dbus_node_info_new_for_xml (got_xml, &error);
  g_assert_no_error (error);
  got = g_dbus_node_info_lookup_interface (got_node, NTS_DBUS_INTERFACE);
  g_assert_nonnull (got);

  for (i = 0; want->methods[i]; i++)
    {
      GDBusMethodInfo *m = g_dbus_interface_info_lookup_method (got, want->methods[i]->name);
      g_assert_nonnull (m);
      assert_args_equal (want->methods[i]->in_args, m->in_args);
      assert_args_equal (want->methods[i]->out_args, m->out_args);
    }
  g_assert_null (got->methods[i]);
  for (i = 0; want->properties[i]; i++)
    {
      GDBusPropertyInfo *p = g_dbus_interface_info_lookup_property (got, want->properties[i]->name);
      g_assert_nonnull (p);
      g_assert_cmpstr (p->signature, ==, want->properties[i]->signature);
      g_assert_cmpint (p->flags, ==, want->properties[i]->flags);
    }
  g_assert_null (got->properties[i]);
  for (i = 0; want->signals[i]; i++)
    {
      GDBusSignalInfo *s = g_dbus_interface_info_lookup_signal (got, want->signals[i]->name);
      g_assert_nonnull (s);
      assert_args_equal (want->signals[i]->args, s->args);
    }
  g_assert_null (got->signals[i]);
}

/* Read by the first caller, the one that may have activated the daemon:
 * already true, not defaults being filled in. */
static void
test_initial_properties (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) last = NULL;
  const char *state;
  g_autofree const char **servers = NULL;
  guint min_sources;
  gboolean installed, timesyncd;

  reply = g_dbus_connection_call_sync (fx->client, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                       "org.freedesktop.DBus.Properties", "GetAll",
                                       g_variant_new ("(s)", NTS_DBUS_INTERFACE),
                                       G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, &error);
  g_assert_no_error (error);
  props = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (props, "State", "&s", &state));
  g_assert_cmpstr (state, ==, "unconfigured");
  g_assert_true (g_variant_lookup (props, "Servers", "^a&s", &servers));
  g_assert_cmpuint (g_strv_length ((char **) servers), ==, 0);
  g_assert_true (g_variant_lookup (props, "MinSources", "u", &min_sources));
  g_assert_cmpuint (min_sources, ==, 0);
  g_assert_true (g_variant_lookup (props, "ChronyInstalled", "b", &installed));
  g_assert_true (installed);
  g_assert_true (g_variant_lookup (props, "TimesyncdActive", "b", &timesyncd));
  g_assert_true (timesyncd);
  last = g_variant_lookup_value (props, "LastResult", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (last);
  g_assert_cmpuint (g_variant_n_children (last), ==, 0);
}

/* ---- authorization ---------------------------------------------------- */

static void
test_subject_is_unique_name (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) checks = NULL;
  g_autoptr(GVariant) details = NULL;
  const char *kind, *action, *name;
  guint flags;

  reply = fixture_call (fx, "PreviewConfig", empty_options (), G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);

  checks = polkit_checks (fx);
  g_assert_cmpuint (g_variant_n_children (checks), ==, 1);
  g_variant_get_child (checks, 0, "(&s@a{sv}&su&s&s)", &kind, &details, &action, &flags, NULL, NULL);
  g_assert_cmpstr (kind, ==, "system-bus-name");
  g_assert_cmpstr (action, ==, NTS_ACTION_VERIFY);
  g_assert_true (g_variant_lookup (details, "name", "&s", &name));
  g_assert_cmpstr (name, ==, g_dbus_connection_get_unique_name (fx->client));
  /* A PID would be racy (recycled); the subject must carry nothing else. */
  g_assert_null (g_variant_lookup_value (details, "pid", NULL));
}

static void
test_interaction_only_with_flag (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) checks = NULL;
  guint flags;

  reply = fixture_call (fx, "ApplyHardenedConfig", empty_options (), G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_null (reply);
  g_assert_true (g_dbus_error_is_remote_error (error));
  {
    g_autofree char *name = g_dbus_error_get_remote_error (error);
    g_assert_cmpstr (name, ==, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired");
  }
  g_clear_error (&error);

  /* With the flag, the stand-in plays a user who authenticates: the call
   * gets past polkit (and fails at the transaction's first step). */
  reply = fixture_call (fx, "ApplyHardenedConfig", past_authorization_options (),
                        G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, &error);
  g_assert_null (reply);
  {
    g_autofree char *name = g_dbus_error_get_remote_error (error);
    g_assert_cmpstr (name, ==, PAST_AUTHORIZATION_ERROR);
  }

  checks = polkit_checks (fx);
  g_assert_cmpuint (g_variant_n_children (checks), ==, 2);
  g_variant_get_child (checks, 0, "(&s@a{sv}&su&s&s)", NULL, NULL, NULL, &flags, NULL, NULL);
  g_assert_cmpuint (flags, ==, 0);
  g_variant_get_child (checks, 1, "(&s@a{sv}&su&s&s)", NULL, NULL, NULL, &flags, NULL, NULL);
  g_assert_cmpuint (flags, ==, 1);
}

static void
assert_remote_error (GError *error, const char *name)
{
  g_autofree char *got = NULL;

  g_assert_nonnull (error);
  got = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (got, ==, name);
}

static void
test_denied_writes_nothing (ServiceFixture *fx, gconstpointer data)
{
  g_autofree char *before = fixture_tree_fingerprint (fx);
  g_autofree char *after = NULL;
  const char *methods[] = { "ApplyHardenedConfig", "PreviewConfig", "Verify" };

  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = fixture_call (fx, methods[i], empty_options (),
                                                G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION,
                                                &error);
      g_assert_null (reply);
      assert_remote_error (error, "org.freedesktop.DBus.Error.AccessDenied");
    }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = fixture_call (fx, "Rollback", g_variant_new ("(sa{sv})", "", NULL),
                                              G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION,
                                              &error);
    assert_remote_error (error, "org.freedesktop.DBus.Error.AccessDenied");
  }

  after = fixture_tree_fingerprint (fx);
  g_assert_cmpstr (before, ==, after);
}

static void
test_polkit_unreachable_fails_closed (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = fixture_call (fx, "PreviewConfig", empty_options (), G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_null (reply);
  assert_remote_error (error, "org.freedesktop.DBus.Error.AccessDenied");
  g_assert_nonnull (strstr (error->message, "polkit"));
}

static void
test_polkit_error_fails_closed (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_variant_unref (fixture_polkit (fx, "SetError", g_variant_new ("(s)", "org.freedesktop.PolicyKit1.Error.Failed")));
  reply = fixture_call (fx, "PreviewConfig", empty_options (), G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_null (reply);
  assert_remote_error (error, "org.freedesktop.DBus.Error.AccessDenied");
}

/* ---- validation --------------------------------------------------------- */

typedef struct {
  const char *method;
  const char *options;   /* GVariant text of the a{sv} */
  const char *needle;    /* the message must name this */
} BadCall;

static const BadCall bad_calls[] = {
  { "ApplyHardenedConfig", "{'server': <['a.example']>}", "server" },
  { "ApplyHardenedConfig", "{'servers': <'a.example'>}", "servers" },
  { "ApplyHardenedConfig", "{'servers': <@as []>}", "servers" },
  { "ApplyHardenedConfig",
    "{'servers': <['a.example', 'a.example']>, 'min-sources': <uint32 1>}", "servers" },
  { "ApplyHardenedConfig",
    "{'servers': <['a.example\\nkeyfile /x']>, 'min-sources': <uint32 1>}", "servers" },
  { "ApplyHardenedConfig", "{'servers': <['-x']>, 'min-sources': <uint32 1>}", "servers" },
  { "ApplyHardenedConfig", "{'servers': <['a b']>, 'min-sources': <uint32 1>}", "servers" },
  { "ApplyHardenedConfig", "{'servers': <['a#b']>, 'min-sources': <uint32 1>}", "servers" },
  { "ApplyHardenedConfig", "{'min-sources': <int32 3>}", "min-sources" },
  { "ApplyHardenedConfig", "{'min-sources': <uint32 0>}", "min-sources" },
  { "ApplyHardenedConfig", "{'min-sources': <uint32 7>}", "min-sources" },
  { "ApplyHardenedConfig", "{'servers': <['a.example', 'b.example']>}", "min-sources" },
  { "ApplyHardenedConfig", "{'install': <'yes'>}", "install" },
  { "ApplyHardenedConfig", "{'preflight': <uint32 1>}", "preflight" },
  { "ApplyHardenedConfig", "{'wait-sync': <uint32 100000>}", "wait-sync" },
  { "PreviewConfig", "{'servers': <['x..y']>, 'min-sources': <uint32 1>}", "servers" },
  { "PreviewConfig", "{'wait': <uint32 1>}", "wait" },
  { "Verify", "{'wait': <'10'>}", "wait" },
  { "Verify", "{'servers': <['a.example']>}", "servers" },
  { "Verify", "{'probe': <uint32 1>}", "probe" },
  { "ApplyHardenedConfig", "{'allow-clock-far-off': <'yes'>}", "allow-clock-far-off" },
};

/* ProbeServers takes its servers apart: (as servers, a{sv} options). */
static const BadCall bad_probes[] = {
  { "ProbeServers", "(@as [], @a{sv} {})", "servers" },
  { "ProbeServers", "(['a.example', 'A.example'], @a{sv} {})", "servers" },
  { "ProbeServers", "(['a.example\\nkeyfile /x'], @a{sv} {})", "servers" },
  { "ProbeServers", "(['-x'], @a{sv} {})", "servers" },
  { "ProbeServers", "(['a.example'], {'nts-port': <uint16 0>})", "nts-port" },
  { "ProbeServers", "(['a.example'], {'nts-port': <uint32 4460>})", "nts-port" },
  { "ProbeServers", "(['a.example'], {'timeout': <uint32 1>})", "timeout" },
  { "ProbeServers",
    "(['a1.example', 'a2.example', 'a3.example', 'a4.example', 'a5.example',"
    " 'a6.example', 'a7.example', 'a8.example', 'a9.example', 'a10.example',"
    " 'a11.example', 'a12.example', 'a13.example', 'a14.example', 'a15.example',"
    " 'a16.example', 'a17.example'], @a{sv} {})",
    "servers" },
};

static void
test_invalid_args_write_nothing (ServiceFixture *fx, gconstpointer data)
{
  g_autofree char *before = fixture_tree_fingerprint (fx);
  g_autofree char *after = NULL;
  g_autoptr(GVariant) checks = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad_calls); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;
      GVariant *options = g_variant_new_parsed (bad_calls[i].options);

      reply = fixture_call (fx, bad_calls[i].method, g_variant_new_tuple (&options, 1),
                            G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, &error);
      g_assert_null (reply);
      assert_remote_error (error, "org.freedesktop.DBus.Error.InvalidArgs");
      if (strstr (error->message, bad_calls[i].needle) == NULL)
        g_error ("%s %s: message \"%s\" does not name \"%s\"", bad_calls[i].method,
                 bad_calls[i].options, error->message, bad_calls[i].needle);
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = fixture_call (fx, "Rollback",
                                              g_variant_new ("(sa{sv})", "../../etc", NULL),
                                              G_DBUS_CALL_FLAGS_NONE, &error);
    assert_remote_error (error, "org.freedesktop.DBus.Error.InvalidArgs");
    g_assert_nonnull (strstr (error->message, "snapshot_id"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = fixture_call (fx, "Rollback",
                                              g_variant_new_parsed ("('', {'force': <'yes'>})"),
                                              G_DBUS_CALL_FLAGS_NONE, &error);
    assert_remote_error (error, "org.freedesktop.DBus.Error.InvalidArgs");
  }

  for (guint i = 0; i < G_N_ELEMENTS (bad_probes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;

      reply = fixture_call (fx, bad_probes[i].method,
                            g_variant_new_parsed (bad_probes[i].options), G_DBUS_CALL_FLAGS_NONE,
                            &error);
      g_assert_null (reply);
      assert_remote_error (error, "org.freedesktop.DBus.Error.InvalidArgs");
      if (strstr (error->message, bad_probes[i].needle) == NULL)
        g_error ("%s %s: message \"%s\" does not name \"%s\"", bad_probes[i].method,
                 bad_probes[i].options, error->message, bad_probes[i].needle);
    }

  /* Validation comes first: nobody was asked for a password over a typo. */
  checks = polkit_checks (fx);
  g_assert_cmpuint (g_variant_n_children (checks), ==, 0);

  after = fixture_tree_fingerprint (fx);
  g_assert_cmpstr (before, ==, after);
}

/* ---- the lock ----------------------------------------------------------- */

typedef struct {
  gboolean done;
  GError  *error;
  GVariant *reply;
} AsyncCall;

static void
on_call_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AsyncCall *call = user_data;

  call->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &call->error);
  call->done = TRUE;
}

static void
call_async (GDBusConnection *connection, const char *method, GVariant *params, AsyncCall *call)
{
  g_dbus_connection_call (connection, NTS_DBUS_NAME, NTS_DBUS_PATH,
                          NTS_DBUS_INTERFACE, method, params, NULL,
                          G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, 60000, NULL,
                          on_call_done, call);
}

static void
async_call_clear (AsyncCall *call)
{
  g_clear_error (&call->error);
  g_clear_pointer (&call->reply, g_variant_unref);
}

static void
test_second_mutating_call_is_busy (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func (g_free);
  FixtureStateWatch watch = { .want = "applying", .states = states };
  guint sub = fixture_watch_state (fx, &watch);
  AsyncCall first = { 0 };
  g_autoptr(GVariant) last = NULL;
  const char *method, *error_name;
  gboolean ok;

  /* The first Apply takes the lock and stalls (fault hook) at "resolve". */
  call_async (fx->client, "ApplyHardenedConfig", past_authorization_options (), &first);
  g_assert_true (fixture_wait_flag (&watch.seen, WAIT_MS));

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = fixture_call (fx, "ApplyHardenedConfig", empty_options (),
                                              G_DBUS_CALL_FLAGS_NONE, &error);
    assert_remote_error (error, "org.ntssetup.Manager1.Error.Busy");
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = fixture_call (fx, "Rollback", g_variant_new ("(sa{sv})", "", NULL),
                                              G_DBUS_CALL_FLAGS_NONE, &error);
    assert_remote_error (error, "org.ntssetup.Manager1.Error.Busy");
  }
  /* Reading goes on meanwhile. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = fixture_call (fx, "PreviewConfig", empty_options (),
                                              G_DBUS_CALL_FLAGS_NONE, &error);
    g_assert_no_error (error);
  }

  g_assert_cmpint (kill (atoi (g_subprocess_get_identifier (fx->daemon)), SIGUSR1), ==, 0);
  g_assert_true (fixture_wait_flag (&first.done, WAIT_MS));
  assert_remote_error (first.error, PAST_AUTHORIZATION_ERROR);

  /* The lock is free again, State is back, and LastResult tells a caller
   * who gave up what happened. The change may have been signalled before
   * the reply arrived, so look at every State seen since "applying". */
  watch.want = "unconfigured";
  watch.seen = g_strcmp0 (g_ptr_array_index (states, states->len - 1), "unconfigured") == 0;
  g_assert_true (fixture_wait_flag (&watch.seen, WAIT_MS));
  last = fixture_get_property (fx, "LastResult");
  g_assert_true (g_variant_lookup (last, "method", "&s", &method));
  g_assert_cmpstr (method, ==, "ApplyHardenedConfig");
  g_assert_true (g_variant_lookup (last, "ok", "b", &ok));
  g_assert_false (ok);
  g_assert_true (g_variant_lookup (last, "error", "&s", &error_name));
  g_assert_cmpstr (error_name, ==, PAST_AUTHORIZATION_ERROR);

  g_dbus_connection_signal_unsubscribe (fx->client, sub);
  async_call_clear (&first);
}

static void
test_waiting_authorization_holds_no_lock (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GDBusConnection) other = fixture_connect (fx);
  AsyncCall first = { 0 };
  AsyncCall second = { 0 };

  /* The first caller sits in a (held) password dialog... */
  g_variant_unref (fixture_polkit (fx, "SetHold", g_variant_new ("(b)", TRUE)));
  call_async (other, "ApplyHardenedConfig", past_authorization_options (), &first);
  wait_pending (fx, 1);
  g_variant_unref (fixture_polkit (fx, "SetHold", g_variant_new ("(b)", FALSE)));

  /* ...and a second, authorised at once, is not Busy. */
  call_async (fx->client, "ApplyHardenedConfig", past_authorization_options (), &second);
  g_assert_true (fixture_wait_flag (&second.done, WAIT_MS));
  assert_remote_error (second.error, PAST_AUTHORIZATION_ERROR);
  g_assert_false (first.done);

  g_variant_unref (fixture_polkit (fx, "Release", NULL));
  g_assert_true (fixture_wait_flag (&first.done, WAIT_MS));
  assert_remote_error (first.error, PAST_AUTHORIZATION_ERROR);

  async_call_clear (&first);
  async_call_clear (&second);
}

static void
test_caller_leaving_cancels_check (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GDBusConnection) other = fixture_connect (fx);
  AsyncCall call = { 0 };
  g_autoptr(GVariant) checks = NULL;
  const char *cancellation_id;
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  g_variant_unref (fixture_polkit (fx, "SetHold", g_variant_new ("(b)", TRUE)));
  call_async (other, "ApplyHardenedConfig", empty_options (), &call);
  wait_pending (fx, 1);
  checks = polkit_checks (fx);
  g_variant_get_child (checks, 0, "(&s@a{sv}&su&s&s)", NULL, NULL, NULL, NULL, &cancellation_id, NULL);
  g_assert_cmpstr (cancellation_id, !=, "");

  g_dbus_connection_close_sync (other, NULL, NULL);

  /* The service notices the departure and cancels the pending check. */
  for (;;)
    {
      g_autoptr(GVariant) reply = fixture_polkit (fx, "GetCancelled", NULL);
      g_autofree const char **ids = NULL;

      g_variant_get (reply, "(^a&s)", &ids);
      if (ids[0] && g_strv_contains (ids, cancellation_id))
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_cmpuint (polkit_pending (fx), ==, 0);
  g_assert_true (fixture_wait_flag (&call.done, WAIT_MS));
  async_call_clear (&call);
}

/* ---- read-only methods -------------------------------------------------- */

static void
test_preview_writes_nothing (ServiceFixture *fx, gconstpointer data)
{
  g_autofree char *before = fixture_tree_fingerprint (fx);
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) files = NULL;
  const char *conf;

  reply = fixture_call (fx, "PreviewConfig",
                        g_variant_new_parsed ("({'servers': <['ntsa.test', 'ntsb.test', '127.0.0.4']>,"
                                              "  'min-sources': <uint32 2>},)"),
                        G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  files = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (files, "/etc/chrony/chrony.conf", "&s", &conf));
  g_assert_nonnull (strstr (conf, "server ntsa.test iburst nts\n"));
  g_assert_nonnull (strstr (conf, "server 127.0.0.4 iburst nts\n"));
  g_assert_nonnull (strstr (conf, "minsources 2\n"));
  g_assert_nonnull (strstr (conf, "authselectmode require\n"));
  g_assert_true (g_variant_lookup (files, "/etc/chrony/chrony.keys", "&s", NULL));
  g_assert_true (g_variant_lookup (files,
                                   "/etc/systemd/system/chrony.service.d/50-ntssetup-hardening.conf",
                                   "&s", NULL));
  /* The seeded root has Debian's 50-chrony.list: no list of ours needed. */
  g_assert_cmpuint (g_variant_n_children (files), ==, 3);
  /* Only when asked for. */
  g_assert_null (strstr (conf, "nocerttimecheck"));
  g_clear_pointer (&files, g_variant_unref);
  g_clear_pointer (&reply, g_variant_unref);

  reply = fixture_call (fx, "PreviewConfig",
                        g_variant_new_parsed ("({'allow-clock-far-off': <true>},)"),
                        G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  files = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (files, "/etc/chrony/chrony.conf", "&s", &conf));
  g_assert_nonnull (strstr (conf, "\nnocerttimecheck 1\n"));

  after = fixture_tree_fingerprint (fx);
  g_assert_cmpstr (before, ==, after);
}

static void
test_preview_defaults (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) files = NULL;
  const char *conf;
  const char *defaults[] = { "time.cloudflare.com", "nts.netnod.se", "ptbtime1.ptb.de",
                             "ptbtime2.ptb.de", "nts.sth1.ntp.se", "nts.sth2.ntp.se" };

  reply = fixture_call (fx, "PreviewConfig", empty_options (), G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  files = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (files, "/etc/chrony/chrony.conf", "&s", &conf));
  for (guint i = 0; i < G_N_ELEMENTS (defaults); i++)
    {
      g_autofree char *line = g_strdup_printf ("server %s iburst nts\n", defaults[i]);
      g_assert_nonnull (strstr (conf, line));
    }
  g_assert_nonnull (strstr (conf, "minsources 3\n"));
}

/* PreviewConfig is open to every user: an existing keys file (root and
 * chrony's group only) is shown as what Apply does to it, never its
 * content. */
static void
test_preview_hides_keys (ServiceFixture *fx, gconstpointer data)
{
  const char secret[] = "1 SHA256 HEX:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) files = NULL;
  g_autofree char *text = NULL;
  const char *keys;

  fixture_write_root_file (fx, "/etc/chrony/chrony.keys", secret, 0640);
  reply = fixture_call (fx, "PreviewConfig", empty_options (), G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  text = g_variant_print (reply, FALSE);
  g_assert_null (strstr (text, "00112233445566778899"));
  files = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (files, "/etc/chrony/chrony.keys", "&s", &keys));
  g_assert_true (g_str_has_prefix (keys, "# kept as it is"));
  g_assert_nonnull (strstr (keys, "owner root:_chrony, mode 0640"));
}

static void
test_list_snapshots_empty (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = fixture_call (fx, "ListSnapshots", NULL, G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (reply), ==, "(a(sta{sv}))");
}

/* Anyone may activate the daemon and list snapshots: neither may write.
 * A state directory left 0755 without snapshots/ (and a marker naming a
 * snapshot that is not there, which the State property reads at start)
 * stays exactly as it was. */
static void
test_list_snapshots_writes_nothing (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) state = NULL;
  g_autofree char *state_dir = g_build_filename (fx->root, "var/lib/ntssetup", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  fixture_write_root_file (fx, "var/lib/ntssetup/applied", "20261127T044512Z-000123\n", 0600);
  g_assert_cmpint (g_chmod (state_dir, 0755), ==, 0);
  before = fixture_tree_fingerprint (fx);

  service_fixture_start_daemon (fx);
  state = fixture_get_property (fx, "State");
  g_assert_cmpstr (g_variant_get_string (state, NULL), ==, "unconfigured");
  reply = fixture_call (fx, "ListSnapshots", NULL, G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  list = g_variant_get_child_value (reply, 0);
  g_assert_cmpuint (g_variant_n_children (list), ==, 0);

  after = fixture_tree_fingerprint (fx);
  g_assert_cmpstr (after, ==, before);
}

/* The service asks systemd, not its distribution table, which unit is
 * real, and reports timesyncd's state from systemd. */
static void
test_systemd_answers_win (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) files = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  /* TimesyncdActive is filled in as systemd answers after start-up. */
  for (;;)
    {
      g_autoptr(GVariant) active = fixture_get_property (fx, "TimesyncdActive");
      if (g_variant_get_boolean (active))
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
    }

  reply = fixture_call (fx, "PreviewConfig", empty_options (), G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  files = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (files,
                                   "/etc/systemd/system/chronyd.service.d/50-ntssetup-hardening.conf",
                                   "&s", NULL));
  g_assert_false (g_variant_lookup (files,
                                    "/etc/systemd/system/chrony.service.d/50-ntssetup-hardening.conf",
                                    "&s", NULL));
}

/* ---- ntsctl against the real service ---------------------------------- */

/* Runs ntsctl with the fixture's bus as the system bus; returns its exit
 * status and, in @out, what it printed. */
static void
test_ntsctl_preview_and_exit_codes (ServiceFixture *fx, gconstpointer data)
{
  g_autofree char *before = fixture_tree_fingerprint (fx);
  g_autofree char *after = NULL;

  {
    g_autofree char *out = NULL;
    g_assert_cmpint (fixture_run_ntsctl (fx, &out, (const char *[]) { "preview", NULL }), ==, 0);
    g_assert_nonnull (strstr (out, "/etc/chrony/chrony.conf"));
    g_assert_nonnull (strstr (out, "server time.cloudflare.com iburst nts\n"));
    g_assert_nonnull (strstr (out, "/etc/systemd/system/chrony.service.d/50-ntssetup-hardening.conf"));
  }
  {
    /* Refused by polkit: 4, and nothing written. */
    g_autofree char *out = NULL;
    g_assert_cmpint (fixture_run_ntsctl (fx, &out, (const char *[]) { "--no-ask-password", "apply", NULL }), ==, 4);
  }
  {
    /* Bad input is the service's verdict, reported as a failure. */
    g_autofree char *out = NULL;
    g_assert_cmpint (fixture_run_ntsctl (fx, &out, (const char *[]) { "preview", "--server", "a b", NULL }), ==, 1);
    g_assert_nonnull (strstr (out, "servers"));
  }
  {
    g_autofree char *out = NULL;
    g_assert_cmpint (fixture_run_ntsctl (fx, &out, (const char *[]) { "frobnicate", NULL }), ==, 2);
  }

  after = fixture_tree_fingerprint (fx);
  g_assert_cmpstr (before, ==, after);

  /* The service gone: 6. */
  g_subprocess_send_signal (fx->daemon, SIGTERM);
  g_assert_cmpint (fixture_wait_exit (fx->daemon, WAIT_MS), ==, 0);
  {
    g_autofree char *out = NULL;
    g_assert_cmpint (fixture_run_ntsctl (fx, &out, (const char *[]) { "status", NULL }), ==, 6);
  }
}

static void
test_ntsctl_busy (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func (g_free);
  FixtureStateWatch watch = { .want = "applying", .states = states };
  guint sub = fixture_watch_state (fx, &watch);
  AsyncCall first = { 0 };
  g_autofree char *out = NULL;

  call_async (fx->client, "ApplyHardenedConfig", past_authorization_options (), &first);
  g_assert_true (fixture_wait_flag (&watch.seen, WAIT_MS));
  g_assert_cmpint (fixture_run_ntsctl (fx, &out, (const char *[]) { "rollback", NULL }), ==, 5);

  g_assert_cmpint (kill (atoi (g_subprocess_get_identifier (fx->daemon)), SIGUSR1), ==, 0);
  g_assert_true (fixture_wait_flag (&first.done, WAIT_MS));
  g_dbus_connection_signal_unsubscribe (fx->client, sub);
  async_call_clear (&first);
}

/* ---- lifetime ----------------------------------------------------------- */

static void
test_idle_exit (ServiceFixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = fixture_call (fx, "ListSnapshots", NULL, G_DBUS_CALL_FLAGS_NONE, &error);
  g_assert_no_error (error);
  /* --idle-timeout=1: gone within a bounded time, cleanly. */
  g_assert_cmpint (fixture_wait_exit (fx->daemon, WAIT_MS), ==, 0);
}

/* Calls that arrive around the idle deadline: each one is answered, or,
 * once the name is gone, refused by the bus (on a real system the bus
 * would activate a new instance) — never lost with NoReply. Each call is
 * sent one idle timeout after the previous reply, give or take a few
 * milliseconds, so calls keep landing just before, at and just after the
 * moment the daemon lets go of its name. */
static const int race_offsets_ms[] = { -30, -10, -3, 0, 2, 5, 10, 20, 40, 80 };

typedef struct {
  ServiceFixture *fx;
  guint           sent;
  guint           answered;
  gboolean        gone;      /* the bus said nobody owns the name */
  GPtrArray      *failures;
} Barrage;

static gboolean send_one (gpointer user_data);

static void
on_barrage_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Barrage *barrage = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  int offset = race_offsets_ms[barrage->sent % G_N_ELEMENTS (race_offsets_ms)];

  if (reply)
    barrage->answered++;
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    barrage->gone = TRUE;
  else
    g_ptr_array_add (barrage->failures, g_strdup (error->message));

  if (!barrage->gone)
    g_timeout_add (1000 + offset, send_one, barrage);
}

static gboolean
send_one (gpointer user_data)
{
  Barrage *barrage = user_data;

  barrage->sent++;
  g_dbus_connection_call (barrage->fx->client, NTS_DBUS_NAME, NTS_DBUS_PATH,
                          NTS_DBUS_INTERFACE, "ListSnapshots", NULL, NULL,
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, 10000, NULL, on_barrage_reply, barrage);
  return G_SOURCE_REMOVE;
}

static void
test_idle_deadline_race (ServiceFixture *fx, gconstpointer data)
{
  Barrage barrage = { .fx = fx, .failures = g_ptr_array_new_with_free_func (g_free) };
  g_autoptr(GPtrArray) failures = barrage.failures;

  send_one (&barrage);
  g_assert_true (fixture_wait_flag (&barrage.gone, 60000));
  g_assert_cmpint (fixture_wait_exit (fx->daemon, WAIT_MS), ==, 0);

  for (guint i = 0; i < failures->len; i++)
    g_printerr ("lost call: %s\n", (char *) failures->pdata[i]);
  g_assert_cmpuint (failures->len, ==, 0);
  g_assert_cmpuint (barrage.answered, >, 0);
  g_test_message ("%u calls answered before the daemon left", barrage.answered);
}

int
main (int argc, char **argv)
{
  static const ServiceOptions idle_one = {
    .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\"]}",
    .idle_timeout = 1,
  };

  g_test_init (&argc, &argv, NULL);

#define ADD(name, opts, fn) \
  g_test_add (name, ServiceFixture, &opts, setup_started, fn, teardown)

  ADD ("/service/introspection-matches-xml", allow_verify, test_introspection_matches_xml);
  ADD ("/service/initial-properties", with_systemd, test_initial_properties);
  ADD ("/service/authorization/subject-is-unique-name", allow_verify, test_subject_is_unique_name);
  ADD ("/service/authorization/interaction-only-with-flag", challenge_apply, test_interaction_only_with_flag);
  ADD ("/service/authorization/denied-writes-nothing", allow_nothing, test_denied_writes_nothing);
  ADD ("/service/authorization/polkit-unreachable-fails-closed", no_polkit, test_polkit_unreachable_fails_closed);
  ADD ("/service/authorization/polkit-error-fails-closed", allow_all, test_polkit_error_fails_closed);
  ADD ("/service/authorization/waiting-check-holds-no-lock", allow_all, test_waiting_authorization_holds_no_lock);
  ADD ("/service/authorization/caller-leaving-cancels-check", allow_all, test_caller_leaving_cancels_check);
  ADD ("/service/validation/invalid-args-write-nothing", allow_all, test_invalid_args_write_nothing);
  ADD ("/service/preview/writes-nothing", allow_verify, test_preview_writes_nothing);
  ADD ("/service/preview/defaults", allow_verify, test_preview_defaults);
  ADD ("/service/preview/hides-keys", allow_verify, test_preview_hides_keys);
  ADD ("/service/list-snapshots/empty", allow_verify, test_list_snapshots_empty);
  g_test_add ("/service/list-snapshots/writes-nothing", ServiceFixture, &allow_verify,
              setup_stopped, test_list_snapshots_writes_nothing, teardown);
  ADD ("/service/systemd/answers-win", with_systemd, test_systemd_answers_win);
  ADD ("/service/ntsctl/preview-and-exit-codes", allow_verify, test_ntsctl_preview_and_exit_codes);
  ADD ("/service/lifetime/idle-exit", idle_one, test_idle_exit);
  ADD ("/service/lifetime/idle-deadline-race", idle_one, test_idle_deadline_race);
#if NTS_FAULT_INJECTION
  ADD ("/service/lock/second-mutating-call-is-busy", stall_apply, test_second_mutating_call_is_busy);
  ADD ("/service/ntsctl/busy", stall_apply, test_ntsctl_busy);
#else
  (void) stall_apply;
  (void) test_second_mutating_call_is_busy;
  (void) test_ntsctl_busy;
#endif
#undef ADD

  return g_test_run ();
}
