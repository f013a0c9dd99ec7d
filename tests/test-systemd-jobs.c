/* SPDX-License-Identifier: GPL-2.0-or-later */
/* systemd-jobs against the systemd stand-in (tests/templates/systemd.py)
 * on a private bus: jobs waited for to their JobRemoved whether it comes
 * after or before the reply, results and skipped conditions as errors,
 * unit-file changes, Reload, D-Bus errors passed on, bounded waits. */
#include "nts-errors.h"
#include "service-fixture.h"
#include "systemd-jobs.h"

#define WAIT_MS 20000
#define SYSTEMD_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define CONTROL_IFACE "org.ntssetup.Test.Systemd"

static const char *units_json =
  "{\"units\": {"
  "\"chrony.service\": {\"Names\": [\"chronyd.service\"], \"UnitFileState\": \"disabled\"},"
  "\"systemd-timesyncd.service\": {\"ActiveState\": \"active\", \"UnitFileState\": \"enabled\"},"
  "\"early.service\": {\"UnitFileState\": \"disabled\", \"job_removed_before_reply\": true},"
  "\"skipped.service\": {\"UnitFileState\": \"disabled\", \"condition_fails\": true},"
  "\"slow.service\": {\"UnitFileState\": \"disabled\", \"job_delay_ms\": 60000}"
  "}}";

typedef struct {
  ServiceFixture fx;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  ServiceOptions options = { .systemd_params = units_json };

  service_fixture_setup (&f->fx, &options);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  service_fixture_teardown (&f->fx);
}

static void
on_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (res);
}

/* Runs the main context until the async call has answered (bounded). */
static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  gboolean done = FALSE;
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (*slot == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  done = *slot != NULL;
  g_assert_true (done);
  return *slot;
}

static GVariant *
control (Fixture *f, const char *method, GVariant *params)
{
  return fixture_control (&f->fx, SYSTEMD_NAME, SYSTEMD_PATH, CONTROL_IFACE, method, params);
}

static char *
unit_prop (Fixture *f, const char *unit, const char *prop)
{
  g_autoptr(GVariant) reply = control (f, "GetUnitState", g_variant_new ("(s)", unit));
  g_autoptr(GVariant) props = g_variant_get_child_value (reply, 0);
  char *value = NULL;

  g_assert_true (g_variant_lookup (props, prop, "s", &value));
  return value;
}

static void
subscribe (Fixture *f)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;

  nts_systemd_subscribe_async (f->fx.client, NULL, on_done, &res);
  g_assert_true (nts_systemd_subscribe_finish (wait_result (&res), &error));
  g_assert_no_error (error);
}

static char *
run_job (Fixture *f, NtsSystemdJobKind kind, const char *unit, guint timeout_ms, GError **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  nts_systemd_unit_job_async (f->fx.client, kind, unit, timeout_ms, NULL, on_done, &res);
  return nts_systemd_unit_job_finish (wait_result (&res), error);
}

static void
test_start_stop_restart (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *result = NULL;
  g_autofree char *state = NULL;

  subscribe (f);
  /* Subscribing twice is no error. */
  subscribe (f);

  result = run_job (f, NTS_SYSTEMD_JOB_START, "chrony.service", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, "done");
  state = unit_prop (f, "chrony.service", "ActiveState");
  g_assert_cmpstr (state, ==, "active");
  g_clear_pointer (&result, g_free);
  g_clear_pointer (&state, g_free);

  result = run_job (f, NTS_SYSTEMD_JOB_RESTART, "chrony.service", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, "done");
  g_clear_pointer (&result, g_free);

  result = run_job (f, NTS_SYSTEMD_JOB_STOP, "systemd-timesyncd.service", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, "done");
  state = unit_prop (f, "systemd-timesyncd.service", "ActiveState");
  g_assert_cmpstr (state, ==, "inactive");
}

/* JobRemoved before the method reply: recorded, then matched. */
static void
test_job_removed_before_reply (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *result = NULL;
  g_autofree char *state = NULL;

  subscribe (f);
  result = run_job (f, NTS_SYSTEMD_JOB_START, "early.service", 5000, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, "done");
  state = unit_prop (f, "early.service", "ActiveState");
  g_assert_cmpstr (state, ==, "active");
  g_clear_pointer (&result, g_free);

  result = run_job (f, NTS_SYSTEMD_JOB_STOP, "early.service", 5000, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, "done");
}

static void
test_job_results (Fixture *f, gconstpointer data)
{
  const char *results[] = { "failed", "timeout", "canceled", "dependency", "skipped" };

  subscribe (f);
  for (gsize i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *result = NULL;
      g_autofree char *expected = g_strdup_printf ("\"%s\"", results[i]);

      g_variant_unref (control (f, "SetJobResult",
                                g_variant_new ("(ss)", "chrony.service", results[i])));
      result = run_job (f, NTS_SYSTEMD_JOB_RESTART, "chrony.service", 0, &error);
      g_assert_null (result);
      g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "chrony.service"));
      g_assert_nonnull (strstr (error->message, expected));
    }
}

/* "done" with ConditionResult=false (ConditionCapability in a container)
 * is a failure. Stopping such a unit is fine. */
static void
test_condition_fails (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *result = NULL;

  subscribe (f);
  result = run_job (f, NTS_SYSTEMD_JOB_START, "skipped.service", 0, &error);
  g_assert_null (result);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "skipped.service was skipped"));
  g_assert_nonnull (strstr (error->message, "Condition"));
  g_clear_error (&error);

  result = run_job (f, NTS_SYSTEMD_JOB_RESTART, "skipped.service", 0, &error);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
  g_clear_error (&error);

  result = run_job (f, NTS_SYSTEMD_JOB_STOP, "skipped.service", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, "done");
}

/* A job that never ends in time: the wait ends at the bound. */
static void
test_job_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *result = NULL;
  gint64 start;
  gint64 elapsed_ms;

  subscribe (f);
  start = g_get_monotonic_time ();
  result = run_job (f, NTS_SYSTEMD_JOB_START, "slow.service", 300, &error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_null (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "slow.service"));
  g_assert_cmpint (elapsed_ms, >=, 300);
  g_assert_cmpint (elapsed_ms, <, 5000);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *result = NULL;

  subscribe (f);
  nts_systemd_unit_job_async (f->fx.client, NTS_SYSTEMD_JOB_START, "slow.service", 0,
                              cancellable, on_done, &res);
  g_timeout_add_once (200, (GSourceOnceFunc) g_cancellable_cancel, cancellable);
  result = nts_systemd_unit_job_finish (wait_result (&res), &error);
  g_assert_null (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* The stand-in's SetFail: the D-Bus error reaches the caller as it is. */
static void
test_dbus_errors (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *result = NULL;
  g_autofree char *remote = NULL;
  g_autoptr(GAsyncResult) res = NULL;

  subscribe (f);
  g_variant_unref (control (f, "SetFail",
                            g_variant_new ("(ssss)", "StartUnit", "chrony.service",
                                           "org.freedesktop.DBus.Error.AccessDenied",
                                           "Access denied")));
  result = run_job (f, NTS_SYSTEMD_JOB_START, "chrony.service", 0, &error);
  g_assert_null (result);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED);
  g_clear_error (&error);

  /* A unit systemd does not have. */
  result = run_job (f, NTS_SYSTEMD_JOB_START, "no-such.service", 0, &error);
  g_assert_null (result);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, "org.freedesktop.systemd1.NoSuchUnit");
  g_clear_error (&error);

  g_variant_unref (control (f, "SetFail",
                            g_variant_new ("(ssss)", "Reload", "",
                                           "org.freedesktop.DBus.Error.AccessDenied",
                                           "no reload")));
  nts_systemd_reload_async (f->fx.client, NULL, on_done, &res);
  g_assert_false (nts_systemd_reload_finish (wait_result (&res), &error));
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED);
}

static void
test_reload (Fixture *f, gconstpointer data)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) calls = NULL;
  g_autofree char *printed = NULL;

  nts_systemd_reload_async (f->fx.client, NULL, on_done, &res);
  g_assert_true (nts_systemd_reload_finish (wait_result (&res), &error));
  g_assert_no_error (error);
  calls = control (f, "GetManagerCalls", NULL);
  printed = g_variant_print (calls, FALSE);
  g_assert_nonnull (strstr (printed, "'Reload'"));
}

static GPtrArray *
unit_files (Fixture *f, gboolean enable, const char *unit, GError **error)
{
  g_autoptr(GAsyncResult) res = NULL;
  const char *units[] = { unit, NULL };

  if (enable)
    nts_systemd_enable_unit_files_async (f->fx.client, units, NULL, on_done, &res);
  else
    nts_systemd_disable_unit_files_async (f->fx.client, units, NULL, on_done, &res);
  return nts_systemd_unit_files_finish (wait_result (&res), error);
}

/* "symlink /etc/...wants/chrony.service -> /lib/.../chrony.service" */
static gboolean
has_change (GPtrArray *changes, const char *line)
{
  for (guint i = 0; i < changes->len; i++)
    {
      NtsUnitFileChange *change = changes->pdata[i];
      g_autofree char *text = change->source[0] != '\0'
        ? g_strdup_printf ("%s %s -> %s", change->type, change->path, change->source)
        : g_strdup_printf ("%s %s", change->type, change->path);
      g_test_message ("change: %s", text);
      if (g_str_equal (text, line))
        return TRUE;
    }
  return FALSE;
}

static void
test_enable_disable (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  g_autofree char *file_state = NULL;

  changes = unit_files (f, TRUE, "chrony.service", &error);
  g_assert_no_error (error);
  g_assert_true (has_change (changes, "symlink /etc/systemd/system/chronyd.service -> "
                                      "/lib/systemd/system/chrony.service"));
  g_assert_true (has_change (changes, "symlink /etc/systemd/system/multi-user.target.wants/"
                                      "chrony.service -> /lib/systemd/system/chrony.service"));
  file_state = unit_prop (f, "chrony.service", "UnitFileState");
  g_assert_cmpstr (file_state, ==, "enabled");
  g_clear_pointer (&changes, g_ptr_array_unref);

  /* Enabled already: nothing to change. */
  changes = unit_files (f, TRUE, "chrony.service", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (changes->len, ==, 0);
  g_clear_pointer (&changes, g_ptr_array_unref);

  changes = unit_files (f, FALSE, "systemd-timesyncd.service", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (changes->len, >, 0);
  g_assert_true (has_change (changes, "unlink /etc/systemd/system/multi-user.target.wants/"
                                      "systemd-timesyncd.service"));
  g_clear_pointer (&file_state, g_free);
  file_state = unit_prop (f, "systemd-timesyncd.service", "UnitFileState");
  g_assert_cmpstr (file_state, ==, "disabled");
  g_clear_pointer (&changes, g_ptr_array_unref);

  changes = unit_files (f, TRUE, "no-such.service", &error);
  g_assert_null (changes);
  g_assert_nonnull (error);
}

/* Debian's alias exists while chrony is enabled: a job asked for by the
 * alias is judged for the real unit. */
static void
test_alias (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  g_autofree char *result = NULL;
  g_autofree char *state = NULL;

  subscribe (f);
  changes = unit_files (f, TRUE, "chrony.service", &error);
  g_assert_no_error (error);
  result = run_job (f, NTS_SYSTEMD_JOB_RESTART, "chronyd.service", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, "done");
  state = unit_prop (f, "chrony.service", "ActiveState");
  g_assert_cmpstr (state, ==, "active");
  g_clear_pointer (&result, g_free);

  g_variant_unref (control (f, "SetJobResult", g_variant_new ("(ss)", "chrony.service", "failed")));
  result = run_job (f, NTS_SYSTEMD_JOB_RESTART, "chronyd.service", 0, &error);
  g_assert_null (result);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
  g_assert_true (g_str_has_prefix (error->message, "chrony.service: "));
}

static NtsUnitState *
unit_state (Fixture *f, const char *unit)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  NtsUnitState *state;

  nts_systemd_get_unit_state_async (f->fx.client, unit, NULL, on_done, &res);
  state = nts_systemd_get_unit_state_finish (wait_result (&res), &error);
  g_assert_no_error (error);
  return state;
}

static void
restore (Fixture *f, const NtsUnitUndo *undo)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;

  nts_systemd_restore_unit_async (f->fx.client, undo, 5000, NULL, on_done, &res);
  g_assert_true (nts_systemd_restore_unit_finish (wait_result (&res), &error));
  g_assert_no_error (error);
}

/* What Apply does to timesyncd and chrony, undone from the records. */
static void
test_undo (Fixture *f, gconstpointer data)
{
  g_autoptr(NtsUnitState) timesyncd = NULL;
  g_autoptr(NtsUnitState) chrony = NULL;
  g_autoptr(NtsUnitUndo) timesyncd_undo = NULL;
  g_autoptr(NtsUnitUndo) chrony_undo = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  g_autofree char *result = NULL;

  subscribe (f);
  timesyncd = unit_state (f, "systemd-timesyncd.service");
  chrony = unit_state (f, "chrony.service");
  timesyncd_undo = nts_unit_undo_new_from_state (timesyncd);
  chrony_undo = nts_unit_undo_new_from_state (chrony);
  g_assert_true (timesyncd_undo->was_enabled && timesyncd_undo->was_active);
  g_assert_true (!chrony_undo->was_enabled && !chrony_undo->was_active);
  g_clear_pointer (&timesyncd, nts_unit_state_free);
  g_clear_pointer (&chrony, nts_unit_state_free);

  result = run_job (f, NTS_SYSTEMD_JOB_STOP, "systemd-timesyncd.service", 0, &error);
  g_assert_no_error (error);
  g_clear_pointer (&result, g_free);
  changes = unit_files (f, FALSE, "systemd-timesyncd.service", &error);
  g_assert_no_error (error);
  g_clear_pointer (&changes, g_ptr_array_unref);
  changes = unit_files (f, TRUE, "chrony.service", &error);
  g_assert_no_error (error);
  result = run_job (f, NTS_SYSTEMD_JOB_RESTART, "chrony.service", 0, &error);
  g_assert_no_error (error);

  restore (f, chrony_undo);
  restore (f, timesyncd_undo);

  timesyncd = unit_state (f, "systemd-timesyncd.service");
  chrony = unit_state (f, "chrony.service");
  g_assert_cmpstr (timesyncd->active_state, ==, "active");
  g_assert_cmpstr (timesyncd->unit_file_state, ==, "enabled");
  g_assert_cmpstr (chrony->active_state, ==, "inactive");
  g_assert_cmpstr (chrony->unit_file_state, ==, "disabled");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/systemd-jobs/start-stop-restart", Fixture, NULL, setup, test_start_stop_restart, teardown);
  g_test_add ("/systemd-jobs/job-removed-before-reply", Fixture, NULL, setup, test_job_removed_before_reply, teardown);
  g_test_add ("/systemd-jobs/job-results", Fixture, NULL, setup, test_job_results, teardown);
  g_test_add ("/systemd-jobs/condition-fails", Fixture, NULL, setup, test_condition_fails, teardown);
  g_test_add ("/systemd-jobs/timeout", Fixture, NULL, setup, test_job_timeout, teardown);
  g_test_add ("/systemd-jobs/cancel", Fixture, NULL, setup, test_cancel, teardown);
  g_test_add ("/systemd-jobs/dbus-errors", Fixture, NULL, setup, test_dbus_errors, teardown);
  g_test_add ("/systemd-jobs/reload", Fixture, NULL, setup, test_reload, teardown);
  g_test_add ("/systemd-jobs/enable-disable", Fixture, NULL, setup, test_enable_disable, teardown);
  g_test_add ("/systemd-jobs/alias", Fixture, NULL, setup, test_alias, teardown);
  g_test_add ("/systemd-jobs/undo", Fixture, NULL, setup, test_undo, teardown);
  return g_test_run ();
}
