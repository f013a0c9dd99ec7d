/* SPDX-License-Identifier: GPL-2.0-or-later */
/* caller-limits: the bounds on what one user may cost, on a real private
 * dbus-daemon. The service side here is a bare object whose method never
 * answers until told to — it stands for ntssetupd's calls waiting on
 * polkit or chronyd — so that "unanswered" can be held at will. */
#include <string.h>

#include "caller-limits.h"
#include "nts-names.h"
#include "service-fixture.h"

#define PATH  "/org/ntssetup/Test"
#define IFACE "org.ntssetup.Test"
#define WAIT_MS 10000

/* Sent to ntssetupd's name, the only one the bus policy lets callers
 * reach; the interface is this test's own. */
static const char introspection[] =
  "<node><interface name='" IFACE "'><method name='Hold'/></interface></node>";

typedef struct {
  ServiceFixture   fx;
  GDBusConnection *service;
  GDBusConnection *caller;
  NtsCallerLimits *limits;
  GPtrArray       *held;       /* GDBusMethodInvocation, unanswered */
  guint            object_id;
} Fixture;

static void
on_method (GDBusConnection *connection, const char *sender, const char *path,
           const char *iface, const char *method, GVariant *params,
           GDBusMethodInvocation *invocation, gpointer user_data)
{
  Fixture *f = user_data;

  /* The handler owns @invocation; the array keeps that reference. */
  g_ptr_array_add (f->held, invocation);
}

static const GDBusInterfaceVTable vtable = { on_method, NULL, NULL, { 0 } };

static void
on_uid (GObject *source, GAsyncResult *res, gpointer user_data)
{
  guint32 *uid = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = nts_caller_uid_finish (NULL, res, uid, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  const ServiceOptions options = { 0 };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (introspection, NULL);
  g_autoptr(GError) error = NULL;
  guint32 uid = G_MAXUINT32;
  gint64 until;

  service_fixture_setup (&f->fx, &options);
  f->service = fixture_connect (&f->fx);
  f->caller = fixture_connect (&f->fx);
  f->held = g_ptr_array_new_with_free_func (g_object_unref);
  f->object_id = g_dbus_connection_register_object (f->service, PATH, info->interfaces[0],
                                                    &vtable, f, NULL, &error);
  g_assert_no_error (error);
  /* The bus policy lets callers reach only ntssetupd's name. */
  {
    g_autoptr(GVariant) owned = g_dbus_connection_call_sync (
        f->service, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
        "RequestName", g_variant_new ("(su)", NTS_DBUS_NAME, 4), G_VARIANT_TYPE ("(u)"),
        G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL, &error);
    g_assert_no_error (error);
  }
  f->limits = nts_caller_limits_new (f->service);
  nts_caller_limits_filter_object (f->limits, PATH);

  /* The caller's user becomes known, as at its first call to ntssetupd. */
  nts_caller_uid_async (f->limits, g_dbus_connection_get_unique_name (f->caller), on_uid, &uid);
  until = g_get_monotonic_time () + WAIT_MS * 1000;
  while (uid == G_MAXUINT32 && g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (uid, ==, geteuid ());
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->limits, nts_caller_limits_free);
  g_dbus_connection_unregister_object (f->service, f->object_id);
  g_clear_pointer (&f->held, g_ptr_array_unref);
  g_clear_object (&f->caller);
  g_clear_object (&f->service);
  service_fixture_teardown (&f->fx);
}

typedef struct {
  guint  answered;
  guint  limited;
  char  *message;
} Replies;

static void
on_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Replies *r = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);

  r->answered++;
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED))
    {
      r->limited++;
      g_free (r->message);
      r->message = g_strdup (error->message);
    }
  else if (error != NULL)
    {
      /* The one call the test answers with an error of its own. */
      g_autofree char *name = g_dbus_error_get_remote_error (error);
      g_assert_cmpstr (name, ==, "org.example.Nope");
    }
}

static void
call_hold (Fixture *f, Replies *r)
{
  g_dbus_connection_call (f->caller, NTS_DBUS_NAME, PATH,
                          IFACE, "Hold", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL,
                          on_reply, r);
}

static void
wait_for (guint *value, guint at_least)
{
  gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;

  while (*value < at_least && g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (*value, >=, at_least);
}

/* A user with NTS_LIMIT_UNANSWERED_PER_UID calls unanswered gets the next
 * refused at once, without the service's main loop seeing it; one
 * answer makes room for one more. */
static void
test_filter_refuses_past_unanswered (Fixture *f, gconstpointer data)
{
  Replies r = { 0 };

  for (guint i = 0; i < NTS_LIMIT_UNANSWERED_PER_UID; i++)
    call_hold (f, &r);
  wait_for (&f->held->len, NTS_LIMIT_UNANSWERED_PER_UID);
  g_assert_cmpuint (r.answered, ==, 0);

  call_hold (f, &r);
  wait_for (&r.answered, 1);
  g_assert_cmpuint (r.limited, ==, 1);
  g_assert_nonnull (strstr (r.message, "calls waiting for an answer"));
  /* The service never saw it. */
  g_assert_cmpuint (f->held->len, ==, NTS_LIMIT_UNANSWERED_PER_UID);

  /* An error answers a call as well as a return does. */
  g_dbus_method_invocation_return_dbus_error (g_object_ref (f->held->pdata[0]),
                                              "org.example.Nope", "no");
  g_ptr_array_remove_index (f->held, 0);
  wait_for (&r.answered, 2);
  call_hold (f, &r);
  wait_for (&f->held->len, NTS_LIMIT_UNANSWERED_PER_UID);
  g_assert_cmpuint (r.limited, ==, 1);

  /* A second connection of the same user is the same user. */
  {
    g_autoptr(GDBusConnection) other = fixture_connect (&f->fx);
    g_autoptr(GError) error = NULL;
    guint32 uid = G_MAXUINT32;
    g_autoptr(GVariant) reply = NULL;

    nts_caller_uid_async (f->limits, g_dbus_connection_get_unique_name (other), on_uid, &uid);
    {
      gint64 until = g_get_monotonic_time () + WAIT_MS * 1000;
      while (uid == G_MAXUINT32 && g_get_monotonic_time () < until)
        g_main_context_iteration (NULL, TRUE);
    }
    reply = g_dbus_connection_call_sync (other, NTS_DBUS_NAME,
                                         PATH, IFACE, "Hold", NULL, NULL,
                                         G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL, &error);
    g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED);
  }

  /* Everything answered: the count is back to none. */
  for (guint i = 0; i < f->held->len; i++)
    g_dbus_method_invocation_return_value (g_object_ref (f->held->pdata[i]), NULL);
  g_ptr_array_set_size (f->held, 0);
  wait_for (&r.answered, NTS_LIMIT_UNANSWERED_PER_UID + 2);
  for (guint i = 0; i < NTS_LIMIT_UNANSWERED_PER_UID; i++)
    call_hold (f, &r);
  wait_for (&f->held->len, NTS_LIMIT_UNANSWERED_PER_UID);
  g_assert_cmpuint (r.limited, ==, 1);
  for (guint i = 0; i < f->held->len; i++)
    g_dbus_method_invocation_return_value (g_object_ref (f->held->pdata[i]), NULL);
  g_ptr_array_set_size (f->held, 0);
  wait_for (&r.answered, 2 * NTS_LIMIT_UNANSWERED_PER_UID + 2);
  g_free (r.message);
}

/* A connection whose user is not known yet is bounded by its own name
 * (no look-up is asked here, so it stays unknown); a call that expects no
 * reply never reaches the object. */
static void
test_filter_unknown_and_no_reply (Fixture *f, gconstpointer data)
{
  g_autoptr(GDBusConnection) stranger = fixture_connect (&f->fx);
  Replies r = { 0 };

  for (guint i = 0; i < NTS_LIMIT_UNANSWERED_PER_UID + 1; i++)
    g_dbus_connection_call (stranger, NTS_DBUS_NAME, PATH, IFACE, "Hold", NULL, NULL,
                            G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL, on_reply, &r);
  wait_for (&r.answered, 1);
  wait_for (&f->held->len, NTS_LIMIT_UNANSWERED_PER_UID);
  g_assert_cmpuint (r.limited, ==, 1);
  g_assert_nonnull (strstr (r.message, "from this connection"));

  /* Fire and forget: dropped, while a normal call after it is seen. */
  {
    g_autoptr(GDBusMessage) message = g_dbus_message_new_method_call (
        NTS_DBUS_NAME, PATH, IFACE, "Hold");
    g_autoptr(GError) error = NULL;

    g_dbus_message_set_flags (message, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
    g_assert_true (g_dbus_connection_send_message (f->caller, message,
                                                   G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, &error));
    g_assert_no_error (error);
  }
  call_hold (f, &r);
  wait_for (&f->held->len, NTS_LIMIT_UNANSWERED_PER_UID + 1);
  {
    GDBusMethodInvocation *last = f->held->pdata[f->held->len - 1];

    g_assert_cmpstr (g_dbus_method_invocation_get_sender (last), ==,
                     g_dbus_connection_get_unique_name (f->caller));
  }
  g_assert_cmpuint (f->held->len, ==, NTS_LIMIT_UNANSWERED_PER_UID + 1);

  for (guint i = 0; i < f->held->len; i++)
    g_dbus_method_invocation_return_value (g_object_ref (f->held->pdata[i]), NULL);
  g_ptr_array_set_size (f->held, 0);
  wait_for (&r.answered, NTS_LIMIT_UNANSWERED_PER_UID + 2);
  g_free (r.message);
}

/* Calls to other objects are not the filter's business. */
static void
test_filter_only_our_object (Fixture *f, gconstpointer data)
{
  Replies r = { 0 };

  for (guint i = 0; i < NTS_LIMIT_UNANSWERED_PER_UID; i++)
    call_hold (f, &r);
  wait_for (&f->held->len, NTS_LIMIT_UNANSWERED_PER_UID);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = NULL;

    /* Peer.Ping is answered by GDBus for any path. */
    reply = g_dbus_connection_call_sync (f->caller, NTS_DBUS_NAME,
                                         "/elsewhere", "org.freedesktop.DBus.Peer", "Ping",
                                         NULL, NULL, G_DBUS_CALL_FLAGS_NONE, WAIT_MS, NULL,
                                         &error);
    g_assert_no_error (error);
  }
  for (guint i = 0; i < f->held->len; i++)
    g_dbus_method_invocation_return_value (g_object_ref (f->held->pdata[i]), NULL);
  g_ptr_array_set_size (f->held, 0);
  wait_for (&r.answered, NTS_LIMIT_UNANSWERED_PER_UID);
  g_assert_cmpuint (r.limited, ==, 0);
}

/* The places: per user, in total, root outside the total of calls. */
static void
test_places (Fixture *f, gconstpointer data)
{
  NtsCallerLimits *limits = f->limits;
  g_autoptr(GError) error = NULL;
  guint users = NTS_LIMIT_CALLS_TOTAL / NTS_LIMIT_CALLS_PER_UID;

  for (guint i = 0; i < NTS_LIMIT_CALLS_PER_UID; i++)
    g_assert_true (nts_caller_limits_take (limits, NTS_LIMIT_CALLS, 1000, NULL));
  g_assert_false (nts_caller_limits_take (limits, NTS_LIMIT_CALLS, 1000, &error));
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED);
  g_assert_nonnull (strstr (error->message, "user 1000"));
  g_clear_error (&error);
  /* Another user is not refused for the first one's calls. */
  g_assert_true (nts_caller_limits_take (limits, NTS_LIMIT_CALLS, 1001, NULL));
  nts_caller_limits_give_back (limits, NTS_LIMIT_CALLS, 1001);

  /* Fill the total with more users. */
  for (guint u = 1; u < users; u++)
    for (guint i = 0; i < NTS_LIMIT_CALLS_PER_UID; i++)
      g_assert_true (nts_caller_limits_take (limits, NTS_LIMIT_CALLS, 1000 + u, NULL));
  g_assert_false (nts_caller_limits_take (limits, NTS_LIMIT_CALLS, 2000, &error));
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED);
  g_clear_error (&error);
  /* root still gets its own. */
  for (guint i = 0; i < NTS_LIMIT_CALLS_PER_UID; i++)
    g_assert_true (nts_caller_limits_take (limits, NTS_LIMIT_CALLS, 0, NULL));
  g_assert_false (nts_caller_limits_take (limits, NTS_LIMIT_CALLS, 0, NULL));

  /* Given back, taken again. */
  nts_caller_limits_give_back (limits, NTS_LIMIT_CALLS, 1000);
  g_assert_true (nts_caller_limits_take (limits, NTS_LIMIT_CALLS, 2000, NULL));

  /* Waits: per user, and in total for everyone but root. */
  for (guint u = 0; u < NTS_LIMIT_WAITS_TOTAL / NTS_LIMIT_WAITS_PER_UID; u++)
    {
      for (guint i = 0; i < NTS_LIMIT_WAITS_PER_UID; i++)
        g_assert_true (nts_caller_limits_take (limits, NTS_LIMIT_WAITS, 3000 + u, NULL));
      g_assert_false (nts_caller_limits_take (limits, NTS_LIMIT_WAITS, 3000 + u, NULL));
    }
  g_assert_false (nts_caller_limits_take (limits, NTS_LIMIT_WAITS, 4000, NULL));
  for (guint i = 0; i < NTS_LIMIT_WAITS_PER_UID; i++)
    g_assert_true (nts_caller_limits_take (limits, NTS_LIMIT_WAITS, 0, NULL));
  g_assert_false (nts_caller_limits_take (limits, NTS_LIMIT_WAITS, 0, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (geteuid () != 0)
    {
      g_test_skip ("needs root: the private system bus runs as root");
      return g_test_run ();
    }
  g_test_add ("/caller-limits/filter/refuses-past-unanswered", Fixture, NULL, fixture_set_up,
              test_filter_refuses_past_unanswered, fixture_tear_down);
  g_test_add ("/caller-limits/filter/unknown-and-no-reply", Fixture, NULL, fixture_set_up,
              test_filter_unknown_and_no_reply, fixture_tear_down);
  g_test_add ("/caller-limits/filter/only-our-object", Fixture, NULL, fixture_set_up,
              test_filter_only_our_object, fixture_tear_down);
  g_test_add ("/caller-limits/places", Fixture, NULL, fixture_set_up, test_places,
              fixture_tear_down);
  return g_test_run ();
}
