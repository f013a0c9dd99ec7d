/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Apply transaction (service/transaction/apply.c) on a temp root seeded like
 * Debian, against the systemd stand-in on a private bus: the happy path
 * writes what render.h renders with the right owner and mode and drives
 * systemd in order; every step made to fail (the fault hook, in process)
 * leaves the root as it was, the units as they were and no journal.
 *
 * The nts-dump cases run the preflight for real: ntssetup-probe
 * ($NTSSETUP_PROBE, on a socketpair) against a loopback chronyd NTS server
 * on 127.0.0.7:4460 (Apply's servers take no port; test-apply-rollback
 * keeps 127.0.0.8 for the same), and the commit check (the report
 * function) stands for chronyd's start: it starts a real client chronyd on
 * the dump directory Apply wrote into. */
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#include "fault.h"
#include "journal.h"
#include "nts-dump-fixture.h"
#include "nts-errors.h"
#include "nts-loopback.h"
#include "packagekit-stand-in.h"
#include "render.h"
#include "rollback.h"
#include "service-fixture.h"
#include "apply.h"
#include "xml-steps.h"

#define WAIT_MS 30000
#define STATE_DIR "/var/lib/ntssetup"

static const char *units_json =
  "{\"units\": {"
  "\"chrony.service\": {\"Names\": [\"chronyd.service\"], \"UnitFileState\": \"disabled\"},"
  "\"systemd-timesyncd.service\": {\"ActiveState\": \"active\", \"UnitFileState\": \"enabled\"}"
  "}}";

static const char *servers[] = { "time.cloudflare.com", "nts.netnod.se", NULL };

/* Apply's steps as the XML documents them. */
static GStrv apply_steps;

typedef struct {
  ServiceFixture fx;
  NtsLayout      layout;
  NtsRoot       *root;
} Fixture;

/* Users that exist on every host: the daemon resolves owners through the
 * host's NSS, also under a test root, and the test host has no _chrony. */
/* chrony already running (with Debian's pool) beside timesyncd. */
static const char *chrony_running_json =
  "{\"units\": {"
  "\"chrony.service\": {\"Names\": [\"chronyd.service\"], \"ActiveState\": \"active\","
  " \"UnitFileState\": \"enabled\"},"
  "\"systemd-timesyncd.service\": {\"ActiveState\": \"active\", \"UnitFileState\": \"enabled\"}"
  "}}";

static void
setup_with (Fixture *f, const char *json)
{
  ServiceOptions options = { .systemd_params = json };
  g_autoptr(GError) error = NULL;
  g_autofree char *chrony_list = NULL;

  service_fixture_setup (&f->fx, &options);
  /* No packaged list puts chrony first: the ntp-units step writes one. */
  chrony_list = g_build_filename (f->fx.root, "usr/lib/systemd/ntp-units.d/50-chrony.list", NULL);
  g_assert_cmpint (unlink (chrony_list), ==, 0);

  f->root = nts_root_open (f->fx.root, &error);
  g_assert_no_error (error);
  f->layout = (NtsLayout) {
    .root = f->root, .profile = "debian", .chronyd_path = "/usr/sbin/chronyd",
    .chrony_installed = TRUE, .config_file = "/etc/chrony/chrony.conf",
    .keys_file = "/etc/chrony/chrony.keys", .log_dir = "/var/log/chrony",
    .state_dir = "/var/lib/chrony", .run_dir = "/run/chrony",
    .socket_path = "/run/chrony/chronyd.sock", .user = "daemon", .group = "daemon",
    .unit = "chrony.service", .timesyncd_unit = "systemd-timesyncd.service",
  };
  /* The state directory exists before (the snapshot it keeps is not the
   * managed system's: the fingerprints leave it out). */
  g_assert_true (nts_root_ensure_dir (f->root, STATE_DIR, 0, 0, 0700, TRUE, &error));
  g_assert_no_error (error);
}

static void
setup (Fixture *f, gconstpointer data)
{
  setup_with (f, units_json);
}

static void
setup_chrony_running (Fixture *f, gconstpointer data)
{
  setup_with (f, chrony_running_json);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  nts_root_unref (f->root);
  service_fixture_teardown (&f->fx);
}

static char *
units_summary (Fixture *f)
{
  return fixture_systemd_units_summary (&f->fx, "chrony.service");
}

static char *
changing_calls (Fixture *f)
{
  return fixture_systemd_changing_calls (&f->fx);
}

/* The root's fingerprint without the state directory. */
static char *
fingerprint (Fixture *f)
{
  return fixture_tree_fingerprint_without (&f->fx, "var/lib/ntssetup");
}

static void
on_progress (const char *step, guint index, guint count, gpointer user_data)
{
  GPtrArray *seen = user_data;

  g_assert_cmpuint (index, ==, seen->len);
  g_assert_cmpuint (count, ==, g_strv_length (apply_steps));
  g_ptr_array_add (seen, g_strdup (step));
}

/* What Verify says of a chronyd that came up with two NTS sources. */
static GVariant *
healthy_report (guint wait_s, gpointer user_data)
{
  GVariantDict dict;

  g_assert_cmpuint (wait_s, ==, 5);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "chronyd-state", "s", "active");
  g_variant_dict_insert (&dict, "authenticated-sources", "u", 2);
  g_variant_dict_insert_value (&dict, "problems", g_variant_new_array (G_VARIANT_TYPE ("a{sv}"), NULL, 0));
  return g_variant_dict_end (&dict);
}

/* What Verify says when chronyd came up but no key exchange worked. */
static GVariant *
unauthenticated_report (guint wait_s, gpointer user_data)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "chronyd-state", "s", "active");
  g_variant_dict_insert (&dict, "authenticated-sources", "u", 0);
  return g_variant_dict_end (&dict);
}

static NtsApplyReportFunc report_func = healthy_report;

static void
on_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (res);
}

static GAsyncResult *
wait_result (GAsyncResult **res)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (*res == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (*res);
  return *res;
}

static GVariant *
run_with (Fixture *f, GPtrArray *seen, gboolean install, GError **error)
{
  NtsApplyParams params = {
    .root = f->root, .layout = &f->layout, .system_bus = f->fx.client,
    .state_dir = STATE_DIR, .servers = servers, .min_sources = 2, .wait_sync_s = 5,
    .job_timeout_ms = 10000, .report_func = report_func, .install = install,
    .install_authorized = install,
  };
  g_autoptr(GAsyncResult) res = NULL;

  nts_apply_run_async (&params, on_progress, seen, NULL, on_done, &res);
  return nts_apply_run_finish (wait_result (&res), error);
}

static GVariant *
run (Fixture *f, GPtrArray *seen, GError **error)
{
  return run_with (f, seen, FALSE, error);
}

/* Rollback's restore of snapshot @id. */
static GVariant *
restore (Fixture *f, const char *id, GError **error)
{
  NtsRollbackParams params = {
    .root = f->root, .system_bus = f->fx.client, .state_dir = STATE_DIR,
    .snapshot_id = id, .job_timeout_ms = 10000,
  };
  g_autoptr(GAsyncResult) res = NULL;

  nts_rollback_run_async (&params, NULL, NULL, NULL, on_done, &res);
  return nts_rollback_run_finish (wait_result (&res), error);
}

static void
assert_no_journal (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsJournalEntry) entry = nts_journal_load (f->root, STATE_DIR, &error);

  g_assert_no_error (error);
  g_assert_null (entry);
}

static void
assert_file (Fixture *f, const char *path, const char *content, guint mode)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsFileData) data = nts_root_read (f->root, path, 0, &error);

  g_assert_no_error (error);
  g_assert_true (data->exists);
  g_assert_cmpuint (data->mode, ==, mode);
  g_assert_cmpuint (data->uid, ==, 0);
  /* "daemon" is gid 1 on every Debian-like host. */
  if (g_str_equal (path, f->layout.keys_file))
    g_assert_cmpuint (data->gid, ==, 1);
  if (content)
    {
      gsize len;
      const char *got = g_bytes_get_data (data->content, &len);
      g_assert_cmpmem (got, len, content, strlen (content));
    }
}

static void
test_happy_path (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) files = nts_render_files (&f->layout, servers, 2, &error);
  g_autoptr(GVariant) id = NULL;
  g_autofree char *calls = NULL;
  g_autofree char *units = NULL;
  g_autofree char *dropin = nts_hardening_dropin_path (&f->layout);
  struct stat st;
  gboolean exists = FALSE;

#if NTS_FAULT_INJECTION
  g_assert_true (nts_fault_configure ("no-such-step:fail", NULL));
#endif
  g_assert_no_error (error);
  g_assert_cmpuint (files->len, ==, 4);  /* conf, keys, drop-in, ntp-units list */

  id = run (f, seen, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  {
    const char *snapshot_id = NULL;
    g_autofree const char **changed = NULL;
    g_autofree const char **unit_changes = NULL;
    g_autofree char *changed_s = NULL;
    g_autofree char *units_s = NULL;
    g_autoptr(GVariant) report = NULL;
    guint64 duration_ms = 0;

    g_assert_true (g_variant_lookup (id, "snapshot-id", "&s", &snapshot_id));
    g_assert_true (g_str_has_prefix (snapshot_id, "20"));
    g_assert_true (g_variant_lookup (id, "changed-files", "^a&s", &changed));
    g_assert_true (g_variant_lookup (id, "unit-changes", "^a&s", &unit_changes));
    report = g_variant_lookup_value (id, "report", G_VARIANT_TYPE_VARDICT);
    g_assert_nonnull (report);
    g_assert_true (g_variant_lookup (id, "duration-ms", "t", &duration_ms));
    changed_s = g_strjoinv (" ", (char **) changed);
    units_s = g_strjoinv ("; ", (char **) unit_changes);
    g_test_message ("changed-files: %s", changed_s);
    g_test_message ("unit-changes: %s", units_s);
    g_assert_cmpstr (units_s, ==,
                     "systemd-timesyncd.service: stopped, disabled; "
                     "chrony.service: enabled, started");
    g_assert_true (g_strv_contains (changed, "/etc/chrony/chrony.conf"));
    g_assert_true (g_strv_contains (changed, "/etc/chrony/chrony.keys"));
    g_assert_true (g_strv_contains (changed, "/var/log/chrony"));
    g_assert_true (g_strv_contains (changed, dropin));
    g_assert_cmpuint (g_strv_length ((char **) changed), ==, 5);
  }
  g_assert_cmpuint (seen->len, ==, g_strv_length (apply_steps));
  for (guint i = 0; i < seen->len; i++)
    g_assert_cmpstr (seen->pdata[i], ==, apply_steps[i]);

  for (guint i = 0; i < files->len; i++)
    {
      const NtsRenderedFile *file = files->pdata[i];
      assert_file (f, file->path, file->content, file->mode);
    }
  /* The keys file keeps what it held. */
  {
    g_autoptr(NtsFileData) keys = nts_root_read (f->root, f->layout.keys_file, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (keys->mode, ==, 0640);
    g_assert_nonnull (g_strstr_len (g_bytes_get_data (keys->content, NULL),
                                    g_bytes_get_size (keys->content), "# keys"));
  }
  g_assert_true (nts_root_lstat (f->root, "/var/log/chrony", &st, &exists, &error));
  g_assert_true (exists);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0750);
  g_assert_cmpuint (st.st_uid, ==, 1);
  g_assert_cmpuint (st.st_gid, ==, 1);

  calls = changing_calls (f);
  g_test_message ("systemd calls: %s", calls);
  /* A Reload after each change of links, before the unit's next job
   * (systemd-jobs.c says why). */
  g_assert_cmpstr (calls, ==,
                   "Reload,StopUnit(systemd-timesyncd.service),"
                   "DisableUnitFiles(systemd-timesyncd.service),Reload,"
                   "EnableUnitFiles(chrony.service),Reload,RestartUnit(chrony.service)");
  units = units_summary (f);
  g_assert_cmpstr (units, ==, "chrony active/enabled timesyncd inactive/disabled");
  assert_no_journal (f);
}

static GVariant *
parse_report (const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *v = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

  g_assert_no_error (error);
  return v;
}

/* The commit check's rules on hand-built reports. */
static void
test_judge (void)
{
  static const struct {
    const char *report;
    guint       wait_s;
    const char *error;   /* NULL: passes */
  } cases[] = {
    { "{'chronyd-state': <'active'>, 'authenticated-sources': <uint32 3>}", 60, NULL },
    { "{'chronyd-state': <'active'>, 'authenticated-sources': <uint32 1>}", 60,
      "1 of the 2 authenticated NTS sources needed after waiting 60 s" },
    /* wait-sync 0 skips the authentication wait ... */
    { "{'chronyd-state': <'active'>, 'authenticated-sources': <uint32 0>}", 0, NULL },
    /* ... never the health check. */
    { "{'chronyd-state': <'failed'>, 'authenticated-sources': <uint32 3>}", 0,
      "chronyd is not running after the restart (its unit is failed)" },
    { "{'chronyd-state': <'active'>, 'authenticated-sources': <uint32 0>,"
      " 'problems': <[{'code': <'socket-unreachable'>}]>}", 0,
      "chronyd runs but its command socket does not answer" },
    { "@a{sv} {}", 0, "chronyd is not running after the restart (its unit is unknown)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) report = parse_report (cases[i].report);
      g_autoptr(GError) error = NULL;
      gboolean ok = nts_apply_judge_report (report, 2, cases[i].wait_s, &error);

      if (cases[i].error == NULL)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, NTS_ERROR, NTS_ERROR_FAILED);
          g_assert_cmpstr (error->message, ==, cases[i].error);
        }
    }
}

/* The commit check failing for real undoes everything, systemd too. */
static void
test_commit_check_fails (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *before = fingerprint (f);
  g_autofree char *units_before = units_summary (f);
  g_autofree char *after = NULL;
  g_autofree char *units_after = NULL;
  g_autoptr(GVariant) id = NULL;

#if NTS_FAULT_INJECTION
  g_assert_true (nts_fault_configure ("no-such-step:fail", NULL));
#endif
  report_func = unauthenticated_report;
  id = run (f, seen, &error);
  report_func = healthy_report;
  g_assert_null (id);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED);
  g_assert_cmpstr (error->message, ==,
                   "step commit-check failed: 0 of the 2 authenticated NTS sources needed "
                   "after waiting 5 s; every step done was undone");
  after = fingerprint (f);
  units_after = units_summary (f);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpstr (units_after, ==, units_before);
  assert_no_journal (f);
}

/* A chronyd that ran before was restarted with the new files; after the
 * undo it must run on the restored ones: Reload, then one more restart,
 * both after every file is back. */
static void
test_undo_restarts_running_chronyd (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *before = fingerprint (f);
  g_autofree char *units_before = units_summary (f);
  g_autofree char *units_after = NULL;
  g_autofree char *after = NULL;
  g_autofree char *calls = NULL;
  g_autoptr(GVariant) id = NULL;

#if NTS_FAULT_INJECTION
  g_assert_true (nts_fault_configure ("no-such-step:fail", NULL));
#endif
  report_func = unauthenticated_report;
  id = run (f, seen, &error);
  report_func = healthy_report;
  g_assert_error (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED);
  after = fingerprint (f);
  units_after = units_summary (f);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpstr (units_after, ==, units_before);
  g_assert_cmpstr (units_after, ==, "chrony active/enabled timesyncd active/enabled");
  calls = changing_calls (f);
  g_test_message ("systemd calls: %s", calls);
  g_assert_true (g_str_has_suffix (calls, ",Reload,RestartUnit(chrony.service)"));
  assert_no_journal (f);
}

/* A step failing by itself, half way: a file where the log directory
 * goes. The files written before it are given back. */
static void
test_log_dir_blocked (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *units_before = NULL;
  g_autofree char *units_after = NULL;
  g_autoptr(GVariant) id = NULL;

#if NTS_FAULT_INJECTION
  g_assert_true (nts_fault_configure ("no-such-step:fail", NULL));
#endif
  g_assert_true (nts_root_ensure_dir (f->root, "/var/log", 0, 0, 0755, TRUE, &error));
  g_assert_true (nts_root_write_atomic (f->root, "/var/log/chrony", "x", 1, 0, 0, 0644, &error));
  g_assert_no_error (error);
  before = fingerprint (f);
  units_before = units_summary (f);
  id = run (f, seen, &error);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED);
  g_assert_cmpstr (error->message, ==,
                   "step log-dir failed: cannot make /var/log/chrony a directory: something "
                   "else is there; every step done was undone");
  g_assert_cmpstr (((char *) seen->pdata[seen->len - 1]), ==, "log-dir");
  after = fingerprint (f);
  units_after = units_summary (f);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpstr (units_after, ==, units_before);
  assert_no_journal (f);
}


/* The report of a chronyd that wrote its logs, then failed to
 * authenticate, as one does with a server whose certificate it does not
 * trust. */
static NtsRoot *logging_root;

static GVariant *
logged_unauthenticated_report (guint wait_s, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (nts_root_write_atomic (logging_root, "/var/log/chrony/measurements.log",
                                        "log\n", 4, 0, 0, 0644, &error));
  g_assert_no_error (error);
  return unauthenticated_report (wait_s, user_data);
}

/* The log directory Apply made holds chronyd's logs by the time the
 * commit check fails: it stays, and that counts as undone (removing it
 * would mean walking what chronyd's user put there). */
static void
test_undo_keeps_written_log_dir (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) id = NULL;
  gboolean exists = TRUE;

  g_assert_true (nts_root_remove_empty_dir (f->root, "/var/log/chrony", &error));
  g_assert_no_error (error);
  g_assert_true (nts_root_lstat (f->root, "/var/log/chrony", NULL, &exists, &error));
  g_assert_false (exists);
#if NTS_FAULT_INJECTION
  g_assert_true (nts_fault_configure ("no-such-step:fail", NULL));
#endif
  logging_root = f->root;
  report_func = logged_unauthenticated_report;
  id = run (f, seen, &error);
  report_func = healthy_report;
  g_assert_null (id);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED);
  g_assert_true (g_str_has_suffix (error->message, "; every step done was undone"));
  g_assert_true (nts_root_lstat (f->root, "/var/log/chrony/measurements.log", NULL, &exists, NULL));
  g_assert_true (exists);
  assert_no_journal (f);
}

/* Chrony missing, 'install' given: PackageKit (the stand-in, playing
 * Debian's conflicting packages) installs chrony and takes timesyncd
 * away; the restore (Rollback) gives timesyncd back and removes chrony,
 * and every file is as before. */
static void
test_install_and_restore (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) packagekit = packagekit_stand_in_start (&f->fx, PACKAGEKIT_STAND_IN_DEBIAN);
  g_autofree char *before = fingerprint (f);
  g_autofree char *packages_before = packagekit_stand_in_installed (&f->fx);
  g_autofree char *packages_applied = NULL;
  g_autofree char *packages_after = NULL;
  g_autofree char *after = NULL;
  g_autofree const char **installed = NULL;
  g_autofree const char **removed = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) restored = NULL;
  const char *id = NULL;

  f->layout.chrony_installed = FALSE;
  result = run_with (f, seen, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (result, "packages-installed", "^a&s", &installed));
  g_assert_true (g_variant_lookup (result, "packages-removed", "^a&s", &removed));
  g_assert_true (g_strv_contains (installed, "chrony"));
  g_assert_true (g_strv_contains (removed, "systemd-timesyncd"));
  packages_applied = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (packages_applied, ==, "chrony systemd");

  g_assert_true (g_variant_lookup (result, "snapshot-id", "&s", &id));
  restored = restore (f, id, &error);
  g_assert_no_error (error);
  packages_after = packagekit_stand_in_installed (&f->fx);
  g_assert_cmpstr (packages_after, ==, packages_before);
  after = fingerprint (f);
  g_assert_cmpstr (after, ==, before);
  assert_no_journal (f);
  g_clear_pointer (&installed, g_free);
  g_assert_true (g_variant_lookup (restored, "packages-installed", "^a&s", &installed));
  g_assert_true (g_strv_contains (installed, "systemd-timesyncd"));
  fixture_stop_process (&packagekit);
}

/* Chrony missing, no 'install': refused before anything changes. */
static void
test_chrony_missing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *before = fingerprint (f);
  g_autofree char *after = NULL;
  g_autoptr(GVariant) result = NULL;

  f->layout.chrony_installed = FALSE;
  result = run (f, seen, &error);
  g_assert_null (result);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_CHRONY_MISSING);
  g_assert_nonnull (strstr (error->message, "apt install chrony"));
  after = fingerprint (f);
  g_assert_cmpstr (after, ==, before);
  assert_no_journal (f);
}

static GString *table;
static GPtrArray *cases;  /* FaultCase*, for as long as the tests run */

/* A fault case: the step, and whether it fails before its work or after. */
typedef struct {
  const char *step;
  gboolean    after;
  gboolean    changes_nothing;  /* before the snapshot: nothing to undo */
} FaultCase;

#if NTS_FAULT_INJECTION
static void
test_step_fails (Fixture *f, gconstpointer data)
{
  const FaultCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *spec = g_strdup_printf ("%s:fail%s", c->step, c->after ? "-after" : "");
  g_autofree char *before = fingerprint (f);
  g_autofree char *units_before = units_summary (f);
  g_autofree char *after = NULL;
  g_autofree char *units_after = NULL;
  g_autofree char *prefix = g_strdup_printf ("step %s failed: fault injected %s step %s; ",
                                             c->step, c->after ? "after" : "at", c->step);
  g_autoptr(GVariant) id = NULL;

  g_assert_true (nts_fault_configure (spec, NULL));
  id = run (f, seen, &error);
  g_assert_null (id);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_true (g_str_has_suffix (error->message, c->changes_nothing
                                                   ? "; nothing was changed"
                                                   : "; every step done was undone"));

  after = fingerprint (f);
  units_after = units_summary (f);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpstr (units_after, ==, units_before);
  assert_no_journal (f);
  g_string_append_printf (table, "  %-15s %-6s  ApplyFailed, tree identical, units %s, no journal\n",
                          c->step, c->after ? "after" : "before", units_after);
  if (g_str_equal (c->step, "commit") && c->after)
    g_test_message ("step x outcome:\n%s", table->str);
}
#else
/* Built without the fault hook: the cases are there, and say why they
 * cannot run. */
static void
test_step_fails (Fixture *f, gconstpointer data)
{
  g_test_skip ("needs the fault hook: meson setup -Dfault_injection=true");
}
#endif

/* ---- nts-dump --------------------------------------------------------- */

#define DUMP_SERVER      "127.0.0.7"
#define DUMP_DIR         "/var/lib/chrony"
#define DUMP_FILE        DUMP_DIR "/" DUMP_SERVER ".nts"
#define NTS_KE_PORT      4460
#define LOAD_TIMEOUT_US  (20 * G_USEC_PER_SEC)
#define POLL_INTERVAL_US (50 * 1000)

static NtsLoopback *lb;
static char *why_no_lb;
static guint client_counter;

/* Everything this process logs (GLib's structured messages, debug ones
 * too), for the check that no key or cookie is ever among them. */
static GString *captured_log;

static GLogWriterOutput
capture_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  for (gsize i = 0; captured_log != NULL && i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      {
        g_string_append_len (captured_log, fields[i].value, fields[i].length);
        g_string_append_c (captured_log, '\n');
      }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

typedef struct {
  Fixture *f;
  gboolean start_chronyd; /* the commit check starts chronyd on the dump */
  /* What the commit check found. */
  gboolean dump_seen;
  GStrv secrets_hex; /* the keys and cookies of the dump, as written */
  gboolean consumed; /* chronyd loaded (and removed) it */
  gboolean authenticated;
  guint64 ke_before;
  guint64 ke_after;
} DumpRun;

static void
dump_run_clear (DumpRun *run)
{
  g_strfreev (run->secrets_hex);
}

/* A case: what `chronyd -v` says (NULL: the test chronyd's own), and the
 * fault to inject (NULL: none). */
typedef struct {
  const char *chronyd_output;
  const char *fault;
} DumpCase;

static const DumpCase dump_plain = { NULL, NULL };
static const DumpCase dump_unknown_version = {
  "chronyd (chrony) version 9.9 (+CMDMON +NTP +NTS +SECHASH +IPV6 -DEBUG)", NULL
};
#if NTS_FAULT_INJECTION
static const DumpCase dump_fail_after = { NULL, "nts-dump:fail-after" };
static const DumpCase dump_fail_later = { NULL, "start-chronyd:fail" };
#endif

static void
setup_dump (Fixture *f, gconstpointer data)
{
  const char *chronyd_output = ((const DumpCase *) data)->chronyd_output;
  g_autofree char *ca = NULL;
  g_autofree char *script = NULL;
  g_autofree char *dir = NULL;

  setup (f, NULL);
  if (lb == NULL)
    return;
  g_assert_true (g_file_get_contents (nts_loopback_get_ca_file (lb), &ca, NULL, NULL));
  /* The probe's trust anchors under a --root: the root's own bundle. */
  fixture_write_root_file (&f->fx, "etc/ssl/certs/ca-certificates.crt", ca, 0644);
  dir = g_build_filename (f->fx.root, DUMP_DIR, NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  /* `chronyd -v` of the chronyd Apply leaves the dump for: the test
   * chronyd itself, or one that names a release nobody checked. */
  if (chronyd_output == NULL)
    script = g_strdup_printf ("#!/bin/sh\nexec '%s' \"$@\"\n", g_getenv ("NTSSETUP_CHRONYD"));
  else
    script = g_strdup_printf ("#!/bin/sh\necho '%s'\n", chronyd_output);
  fixture_write_root_file (&f->fx, "usr/sbin/chronyd", script, 0755);
  g_string_truncate (captured_log, 0);
}

static char *
dump_host_path (Fixture *f)
{
  return g_build_filename (f->fx.root, DUMP_FILE, NULL);
}

static guint64
ke_connections (void)
{
  g_autoptr(GError) error = NULL;
  NtsLoopbackServerStats stats;

  g_assert_true (nts_loopback_get_server_stats (lb, DUMP_SERVER, &stats, &error));
  g_assert_no_error (error);
  return stats.ke_connections;
}

/* Bounded: an authenticated answer from the server (`chronyc ntpdata`). */
static gboolean
wait_authenticated (NtsLoopbackClient *client)
{
  const char *const args[] = { "ntpdata", DUMP_SERVER, NULL };
  gint64 until = g_get_monotonic_time () + LOAD_TIMEOUT_US;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *output = NULL;

      g_assert_true (nts_loopback_client_chronyc (lb, client, args, &output, &error));
      g_assert_no_error (error);
      if (strstr (output, "Authenticated   : Yes") != NULL &&
          strstr (output, "Total RX        : 0\n") == NULL)
        return TRUE;
      if (g_get_monotonic_time () >= until)
        {
          g_autofree char *log = nts_loopback_client_read_log (lb, client);
          g_test_message ("ntpdata: %s\nclient log:\n%s", output, log);
          return FALSE;
        }
      g_usleep (POLL_INTERVAL_US);
    }
}

/* The commit check, standing for chronyd's start right after
 * start-chronyd: what is in the dump directory then, and, when asked, a
 * real chronyd started on it. */
static GVariant *
dump_report (guint wait_s, gpointer user_data)
{
  DumpRun *run = user_data;
  g_autofree char *path = dump_host_path (run->f);
  g_autofree char *dir = g_path_get_dirname (path);
  GVariantDict dict;
  struct stat st;

  run->dump_seen = lstat (path, &st) == 0;
  if (run->dump_seen)
    {
      struct passwd *daemon_user = getpwnam ("daemon");
      g_autoptr(NtsDumpParsed) parsed = NULL;
      g_autoptr(GError) error = NULL;

      /* As chronyd's user would have written it. */
      g_assert_nonnull (daemon_user);
      g_assert_true (S_ISREG (st.st_mode));
      g_assert_cmpuint (st.st_uid, ==, daemon_user->pw_uid);
      g_assert_cmpuint (st.st_gid, ==, daemon_user->pw_gid);
      g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
      parsed = nts_dump_parsed_read (path, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (parsed->name, ==, DUMP_SERVER);
      run->secrets_hex = nts_dump_parsed_secrets_hex (parsed);
    }
  if (run->dump_seen && run->start_chronyd)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("dump%u", client_counter++);
      const char *const only[] = { DUMP_SERVER, NULL };
      NtsLoopbackClientSpec spec = {
        .name = name,
        .servers = only,
        .minsources = 1,
        .dump_dir = dir,
      };
      NtsLoopbackClient *client;

      run->ke_before = ke_connections ();
      client = nts_loopback_add_client (lb, &spec, &error);
      g_assert_no_error (error);
      run->consumed = nts_dump_fixture_wait_loaded (path);
      run->authenticated = wait_authenticated (client);
      run->ke_after = ke_connections ();
      nts_loopback_client_stop (client);
    }
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "chronyd-state", "s", "active");
  g_variant_dict_insert (&dict, "authenticated-sources", "u", 1);
  return g_variant_dict_end (&dict);
}

/* Apply of DUMP_SERVER with the preflight; the probe's verdicts in
 * *@probe_results. */
static GVariant *
run_dump (Fixture *f, DumpRun *run, GVariant **probe_results, GError **error)
{
  const char *const one[] = { DUMP_SERVER, NULL };
  NtsApplyParams params = {
    .root = f->root,
    .layout = &f->layout,
    .system_bus = f->fx.client,
    .state_dir = STATE_DIR,
    .servers = one,
    .min_sources = 1,
    .wait_sync_s = 5,
    .job_timeout_ms = 10000,
    .preflight = TRUE,
    .report_func = dump_report,
    .report_data = run,
  };
  g_autoptr(GAsyncResult) res = NULL;

  run->f = f;
  nts_apply_run_async (&params, NULL, NULL, NULL, on_done, &res);
  wait_result (&res);
  *probe_results = nts_apply_run_get_probe_results (res);
  return nts_apply_run_finish (res, error);
}

/* No key and no cookie in anything this process logged, in either case
 * of hex. */
static void
assert_secrets_not_logged (DumpRun *run)
{
  g_autofree char *lower = g_ascii_strdown (captured_log->str, -1);
  g_autofree char *upper = g_ascii_strup (captured_log->str, -1);

  g_assert_nonnull (run->secrets_hex);
  for (char **hex = run->secrets_hex; *hex != NULL; hex++)
    {
      g_autofree char *head = g_strndup (*hex, 24);

      g_autofree char *head_lower = g_ascii_strdown (head, -1);

      g_assert_cmpuint (strlen (head), ==, 24);
      g_assert_null (strstr (upper, head));
      g_assert_null (strstr (lower, head_lower));
    }
}

static gboolean
skip_without_lb (void)
{
  if (lb != NULL)
    return FALSE;
  g_test_skip (why_no_lb);
  return TRUE;
}

static void
reset_fault (void)
{
#if NTS_FAULT_INJECTION
  g_assert_true (nts_fault_configure ("no-such-step:fail", NULL));
#endif
}

/* The dump is there, as chronyd's user would have left it, when chronyd
 * starts; chronyd loads it (and removes it) and authenticates the server
 * with no key exchange of its own; the dump it writes as it stops is its
 * own, and the commit leaves it; the verdicts come back without a key. */
static void
test_dump_used (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) verdicts = NULL;
  g_autofree char *path = NULL;
  DumpRun run = { .start_chronyd = TRUE };

  if (skip_without_lb ())
    return;
  reset_fault ();
  result = run_dump (f, &run, &verdicts, &error);
  g_assert_no_error (error);
  g_assert_nonnull (result);
  g_assert_true (run.dump_seen);
  g_assert_true (run.consumed);
  g_assert_true (run.authenticated);
  g_test_message ("key exchanges at the server: %" G_GUINT64_FORMAT " before chronyd started, "
                  "%" G_GUINT64_FORMAT " once it authenticated",
                  run.ke_before, run.ke_after);
  g_assert_cmpuint (run.ke_after, ==, run.ke_before);
  /* chronyd wrote a dump of its own as it stopped: not ours, and kept. */
  path = dump_host_path (f);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_null (strstr (captured_log->str, "NTS dumps chronyd did not load"));

  g_assert_nonnull (verdicts);
  g_assert_cmpuint (g_variant_n_children (verdicts), ==, 1);
  {
    g_autoptr(GVariant) verdict = g_variant_get_child_value (verdicts, 0);
    const char *phase = NULL;

    g_assert_true (g_variant_lookup (verdict, "result", "&s", &phase));
    g_assert_cmpstr (phase, ==, "ok");
    for (const char *const *key =
           (const char *[]) { "c2s", "s2c", "cookie-data", "ke-time", NULL };
         *key; key++)
      g_assert_false (g_variant_lookup (verdict, *key, "*", NULL));
  }
  assert_secrets_not_logged (&run);
  assert_no_journal (f);
  dump_run_clear (&run);
}

/* A dump chronyd did not load by the commit is not left behind. */
static void
test_dump_unloaded_removed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) verdicts = NULL;
  g_autofree char *path = NULL;
  DumpRun run = { .start_chronyd = FALSE };

  if (skip_without_lb ())
    return;
  reset_fault ();
  result = run_dump (f, &run, &verdicts, &error);
  g_assert_no_error (error);
  g_assert_true (run.dump_seen);
  path = dump_host_path (f);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_nonnull (strstr (captured_log->str, "removed 1 NTS dumps chronyd did not load"));
  assert_secrets_not_logged (&run);
  dump_run_clear (&run);
}

/* A chronyd of a release whose dump format nobody checked gets none, and
 * Apply goes on. */
static void
test_dump_unknown_version (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) verdicts = NULL;
  g_autofree char *dir = g_build_filename (f->fx.root, DUMP_DIR, NULL);
  g_autoptr(GDir) listing = NULL;
  DumpRun run = { .start_chronyd = TRUE };

  if (skip_without_lb ())
    return;
  reset_fault ();
  result = run_dump (f, &run, &verdicts, &error);
  g_assert_no_error (error);
  g_assert_nonnull (result);
  g_assert_false (run.dump_seen);
  listing = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  g_assert_null (g_dir_read_name (listing));
  g_assert_nonnull (strstr (captured_log->str, "no NTS dumps for chronyd: "));
  g_assert_nonnull (strstr (captured_log->str, "9.9"));
  assert_no_journal (f);
}

#if NTS_FAULT_INJECTION
/* A failure after the dump was written: its undo removes it, and the
 * Apply is undone as any other. */
static void
test_dump_undone (Fixture *f, gconstpointer data)
{
  const DumpCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) verdicts = NULL;
  g_autofree char *path = NULL;
  DumpRun run = { .start_chronyd = FALSE };

  if (skip_without_lb ())
    return;
  g_assert_true (nts_fault_configure (c->fault, NULL));
  result = run_dump (f, &run, &verdicts, &error);
  g_assert_null (result);
  g_assert_error (error, NTS_ERROR, NTS_ERROR_APPLY_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "every step done was undone"));
  path = dump_host_path (f);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_nonnull (strstr (captured_log->str, "removed 1 NTS dumps Apply had left"));
  /* The verdicts outlive the failure. */
  g_assert_nonnull (verdicts);
  g_assert_cmpuint (g_variant_n_children (verdicts), ==, 1);
  assert_no_journal (f);
  dump_run_clear (&run);
}
#endif

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  captured_log = g_string_new (NULL);
  g_log_set_writer_func (capture_log, NULL, NULL);
  apply_steps = xml_apply_step_names ();
  {
    g_autoptr(GError) error = NULL;

    lb = nts_loopback_new (&error);
    if (lb != NULL &&
        !nts_loopback_add_server_at_port (lb, DUMP_SERVER, NTS_LOOPBACK_SERVER_GOOD, NTS_KE_PORT,
                                          &error))
      g_clear_pointer (&lb, nts_loopback_free);
    if (lb == NULL)
      why_no_lb = g_strdup_printf ("no loopback NTS server on %s:%u: %s", DUMP_SERVER,
                                   NTS_KE_PORT, error->message);
  }
  g_test_add ("/transaction/nts-dump/used", Fixture, &dump_plain, setup_dump, test_dump_used,
              teardown);
  g_test_add ("/transaction/nts-dump/unloaded-removed", Fixture, &dump_plain, setup_dump,
              test_dump_unloaded_removed, teardown);
  g_test_add ("/transaction/nts-dump/unknown-version", Fixture, &dump_unknown_version,
              setup_dump, test_dump_unknown_version, teardown);
#if NTS_FAULT_INJECTION
  g_test_add ("/transaction/nts-dump/undone-after", Fixture, &dump_fail_after, setup_dump,
              test_dump_undone, teardown);
  g_test_add ("/transaction/nts-dump/undone-later", Fixture, &dump_fail_later, setup_dump,
              test_dump_undone, teardown);
#endif
  g_test_add_func ("/transaction/judge", test_judge);
  g_test_add ("/transaction/happy-path", Fixture, NULL, setup, test_happy_path, teardown);
  g_test_add ("/transaction/undo-restarts-running-chronyd", Fixture, NULL, setup_chrony_running,
              test_undo_restarts_running_chronyd, teardown);
  g_test_add ("/transaction/log-dir-blocked", Fixture, NULL, setup, test_log_dir_blocked, teardown);
  g_test_add ("/transaction/commit-check-fails", Fixture, NULL, setup, test_commit_check_fails,
              teardown);
  g_test_add ("/transaction/install-and-restore", Fixture, NULL, setup, test_install_and_restore,
              teardown);
  g_test_add ("/transaction/undo-keeps-written-log-dir", Fixture, NULL, setup,
              test_undo_keeps_written_log_dir, teardown);
  g_test_add ("/transaction/chrony-missing", Fixture, NULL, setup, test_chrony_missing, teardown);
  table = g_string_new (NULL);
  cases = g_ptr_array_new_with_free_func (g_free);
  {
    gboolean changes_nothing = TRUE;

    for (guint i = 0; apply_steps[i]; i++)
      {
        if (g_str_equal (apply_steps[i], "snapshot"))
          changes_nothing = FALSE;
        for (guint after = 0; after < 2; after++)
          {
            FaultCase *c = g_new0 (FaultCase, 1);
            g_autofree char *path = g_strdup_printf ("/transaction/%s/%s",
                                                     after ? "fail-after" : "fail",
                                                     apply_steps[i]);

            c->step = apply_steps[i];
            c->after = after;
            c->changes_nothing = changes_nothing;
            g_ptr_array_add (cases, c);
            g_test_add (path, Fixture, c, setup, test_step_fails, teardown);
          }
      }
  }
  status = g_test_run ();
  g_ptr_array_unref (cases);
  g_string_free (table, TRUE);
  g_strfreev (apply_steps);
  g_clear_pointer (&lb, nts_loopback_free);
  g_free (why_no_lb);
  return status;
}
