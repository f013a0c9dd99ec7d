/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntssetupd as an adversary sees it: an unprivileged local user (uid
 * nobody) on the system bus, and root sending bad input.
 *
 * Real dbus-daemon (with the installed bus policy) and ntssetupd on a temp
 * --root; polkit is the local dbusmock template (tests/templates/polkitd.py)
 * answering as polkitd's defaults from policy/org.ntssetup.Manager.policy
 * would: root is always authorised; for nobody (no session, so allow_any)
 * verify is "yes" and apply, rollback, install and configure are
 * "auth_admin", a challenge no agent answers (polkitd with the interaction
 * flag and no agent for the subject answers not-authorised).
 *
 * Every call is made by a child process: this same binary re-executed with
 * --client, after setgroups/setresgid/setresuid to nobody when the case
 * plays nobody. Each case asserts the D-Bus error name the XML documents,
 * whether polkit was asked (bad input: never), the subject polkit was
 * asked about, and that the root tree is unchanged byte for byte with
 * modes and owners (temp_tree_fingerprint). The shared fixture is also
 * checked against its baseline after every case, so no case leaks into
 * the next.
 *
 * Cases that guard against a specific hole (a disclosure, a write on
 * behalf of any caller) name it: the table marks them, so a failure there
 * reads as that hole reopened. */
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flood-client.h"
#include "nts-names.h"
#include "service-fixture.h"
#include "temp-tree.h"

#define CALL_TIMEOUT_MS 30000
#define VERIFY_CAPPED_TIMEOUT_MS 150000   /* Verify caps 'wait' at 120 s */

#define E_INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"
#define E_ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
#define E_INTERACTIVE "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
#define E_NO_SUCH_SNAPSHOT "org.ntssetup.Manager1.Error.NoSuchSnapshot"
#define OK "ok"

#define PROPS_IFACE "org.freedesktop.DBus.Properties"

#define INTERACTIVE G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION

/* The secret of the keys-file case: it must never leave the daemon. */
#define KEY_HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define KEYS_WITH_SECRET "1 SHA256 HEX:" KEY_HEX "\n"

typedef enum { AS_ROOT, AS_NOBODY, N_USERS } Who;
static const char *const who_name[N_USERS] = { "root", "nobody" };

/* systemd as on a Debian machine before ntssetup: chrony installed but
 * stopped, timesyncd running. Verify ends its wait at once when chronyd
 * is neither running nor starting, so a capped 'wait' answers quickly. */
#define SYSTEMD_PARAMS \
  "{\"units\": {" \
  "\"chrony.service\": {\"Names\": [\"chronyd.service\"], " \
  "   \"ActiveState\": \"inactive\", \"UnitFileState\": \"disabled\"}," \
  "\"systemd-timesyncd.service\": {\"ActiveState\": \"active\", " \
  "   \"UnitFileState\": \"enabled\"}}}"

/* polkitd's defaults for each caller, as stand-in parameters. */
static const ServiceOptions user_options[N_USERS] = {
  [AS_ROOT] = {
    .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\", "
                     "\"" NTS_ACTION_APPLY "\", \"" NTS_ACTION_ROLLBACK "\", "
                     "\"" NTS_ACTION_INSTALL "\", \"" NTS_ACTION_CONFIGURE "\"]}",
    .systemd_params = SYSTEMD_PARAMS,
  },
  [AS_NOBODY] = {
    .polkit_params = "{\"allowed\": [\"" NTS_ACTION_VERIFY "\"], "
                     "\"challenge\": [\"" NTS_ACTION_APPLY "\", "
                     "\"" NTS_ACTION_ROLLBACK "\", \"" NTS_ACTION_INSTALL "\", "
                     "\"" NTS_ACTION_CONFIGURE "\"], "
                     "\"interactive_result\": false}",
    .systemd_params = SYSTEMD_PARAMS,
  },
};

typedef struct {
  char           *path;         /* g_test path */
  Who             who;
  const char     *iface;
  const char     *method;
  GVariant       *params;       /* owned, full reference */
  GDBusCallFlags  flags;
  const char     *want;         /* error name, or OK */
  const char     *action;       /* the polkit action asked about; NULL = polkit never asked */
  const char     *forbidden;    /* text that must appear nowhere in the reply */
  const char     *const *reply_must_contain;  /* NULL-terminated */
  void          (*prepare) (const char *root);
  void          (*cleanup) (const char *root);
  guint           timeout_ms;
  const char     *guards;       /* the hole this case guards against, if one */
  /* filled in as it runs */
  char           *got;
  gboolean        ran;
  gboolean        failed;       /* any of its checks */
} Case;

static GPtrArray *cases;          /* Case* */

/* ---- the unprivileged client ----------------------------------------- */

static uid_t nobody_uid;
static gid_t nobody_gid;

static void
become_nobody (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  if (GPOINTER_TO_INT (user_data) != AS_NOBODY)
    return;
  if (setgroups (0, NULL) != 0 || setresgid (nobody_gid, nobody_gid, nobody_gid) != 0 ||
      setresuid (nobody_uid, nobody_uid, nobody_uid) != 0)
    _exit (125);
}

/* The child: one call, its outcome on stdout:
 *   uid=N
 *   name=UNIQUE-NAME
 *   error=NAME (empty when the call succeeded)
 *   followed by the reply (printed GVariant) or the error message. */
static int
client_main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GVariant *params;
  const char *address, *iface, *method, *type, *hex;
  guint flags, timeout;
  gsize len;
  guchar *data;

  if (argc != 9)
    return 2;
  address = argv[2];
  iface = argv[3];
  method = argv[4];
  type = argv[5];
  hex = argv[6];
  flags = atoi (argv[7]);
  timeout = atoi (argv[8]);

  len = strlen (hex) / 2;
  data = g_malloc0 (len + 1);
  for (gsize i = 0; i < len; i++)
    data[i] = (g_ascii_xdigit_value (hex[2 * i]) << 4) | g_ascii_xdigit_value (hex[2 * i + 1]);
  bytes = g_bytes_new_take (data, len);
  params = g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE);

  connection = g_dbus_connection_new_for_address_sync (
      address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, &error);
  if (connection == NULL)
    {
      g_print ("uid=%u\nname=\nerror=local:connect\n%s\n", (unsigned) getuid (), error->message);
      return 0;
    }
  g_print ("uid=%u\nname=%s\n", (unsigned) getuid (), g_dbus_connection_get_unique_name (connection));
  reply = g_dbus_connection_call_sync (connection, NTS_DBUS_NAME, NTS_DBUS_PATH,
                                       iface, method, params, NULL, flags, timeout, NULL, &error);
  if (reply != NULL)
    {
      g_autofree char *text = g_variant_print (reply, TRUE);
      g_print ("error=\n%s\n", text);
    }
  else
    {
      g_autofree char *remote = g_dbus_error_get_remote_error (error);
      if (remote == NULL)
        remote = g_strdup_printf ("local:%s:%d", g_quark_to_string (error->domain), error->code);
      g_dbus_error_strip_remote_error (error);
      g_print ("error=%s\n%s\n", remote, error->message);
    }
  return 0;
}

typedef struct {
  guint  uid;
  char  *name;
  char  *error;    /* "" on success */
  char  *body;     /* the reply or the error message */
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_free (o->name);
  g_free (o->error);
  g_free (o->body);
}

static void
run_client (const char *address, const Case *c, Outcome *out)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) normal = g_variant_get_normal_form (c->params);
  g_autofree char *hex = NULL;
  g_autofree char *flags = g_strdup_printf ("%d", c->flags);
  g_autofree char *timeout = g_strdup_printf ("%u", c->timeout_ms ? c->timeout_ms : CALL_TIMEOUT_MS);
  g_autofree char *stdout_text = NULL;
  g_auto(GStrv) lines = NULL;
  const guchar *data = g_variant_get_data (normal);
  gsize size = g_variant_get_size (normal);
  GString *h = g_string_new (NULL);

  for (gsize i = 0; i < size; i++)
    g_string_append_printf (h, "%02x", data[i]);
  hex = g_string_free (h, FALSE);

  {
    const char *argv[] = { "/proc/self/exe", "--client", address, c->iface, c->method,
                           g_variant_get_type_string (normal), hex, flags, timeout, NULL };
    g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);

    argv[0] = self;
    g_subprocess_launcher_set_child_setup (launcher, become_nobody, GINT_TO_POINTER (c->who), NULL);
    child = g_subprocess_launcher_spawnv (launcher, argv, &error);
    g_assert_no_error (error);
  }
  /* Bounded: the client's own call timeout ends it. */
  g_subprocess_communicate_utf8 (child, NULL, NULL, &stdout_text, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (child));
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 0);

  lines = g_strsplit (stdout_text, "\n", 4);
  g_assert_cmpuint (g_strv_length (lines), >=, 3);
  g_assert_true (g_str_has_prefix (lines[0], "uid="));
  g_assert_true (g_str_has_prefix (lines[1], "name="));
  g_assert_true (g_str_has_prefix (lines[2], "error="));
  out->uid = atoi (lines[0] + 4);
  out->name = g_strdup (lines[1] + 5);
  out->error = g_strdup (lines[2] + 6);
  out->body = g_strdup (lines[3] ? lines[3] : "");
}

/* ---- the flood ----------------------------------------------------------- */

static void drop_fixtures (void);

static void
on_flood_exited (GObject *source, GAsyncResult *res, gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* One unprivileged user keeps 400 calls in flight: it is refused past its
 * bounds and nothing else (no AccessDenied from polkit checks failing for
 * want of places on the daemon's connection), root's calls are answered
 * all along, and `chronyd -h` never runs twice at once although
 * os-release keeps changing under the layout cache. How fast the others
 * are answered is bench/flood's to measure, not this test's. */
static void
test_flood (void)
{
  ServiceFixture fx;
  g_autofree char *log = NULL, *stub = NULL, *os_release = NULL, *text = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *out = NULL;
  guint sent = 0, answered = 0, limited = 0, other = 0, root_calls = 0, now = 0, most = 0;
  gboolean flood_over = FALSE;

  drop_fixtures ();
  service_fixture_setup (&fx, &user_options[AS_NOBODY]);
  log = g_build_filename (fx.tmpdir, "chronyd-h.log", NULL);
  /* A chronyd that answers -h like Debian's, slowly enough (50 ms) that
   * two runs at once would overlap in its log. */
  stub = g_strdup_printf ("#!/bin/sh\necho start >>'%s'\nsleep 0.05\n"
                          "printf '  -f FILE\\tSpecify configuration file (/etc/chrony/chrony.conf)\\n'\n"
                          "printf '  -u USER\\tSpecify user (_chrony)\\n'\n"
                          "echo end >>'%s'\n", log, log);
  fixture_write_root_file (&fx, "/usr/sbin/chronyd", stub, 0755);
  os_release = g_build_filename (fx.root, "etc/os-release", NULL);
  service_fixture_start_daemon (&fx);

  {
    const char *argv[] = { self, "--flood", fx.bus_address, "3000", "4", "100", NULL };

    g_subprocess_launcher_set_child_setup (launcher, become_nobody, GINT_TO_POINTER (AS_NOBODY),
                                           NULL);
    child = g_subprocess_launcher_spawnv (launcher, argv, &error);
    g_assert_no_error (error);
  }
  /* Root's calls, one after the other, while the flood lasts (the child
   * ends by itself after 3 s), os-release changing between them. */
  g_subprocess_wait_async (child, NULL, on_flood_exited, &flood_over);
  while (!flood_over || root_calls == 0)
    {
      g_autoptr(GVariant) verify = NULL, preview = NULL;
      g_autofree char *content = g_strdup_printf ("ID=debian\nVERSION_ID=\"12\"\n# %u\n",
                                                  root_calls);

      g_assert_true (g_file_set_contents (os_release, content, -1, NULL));
      verify = fixture_call (&fx, "Verify", g_variant_new_parsed ("(@a{sv} {},)"),
                             G_DBUS_CALL_FLAGS_NONE, &error);
      g_assert_no_error (error);
      preview = fixture_call (&fx, "PreviewConfig", g_variant_new_parsed ("(@a{sv} {},)"),
                              G_DBUS_CALL_FLAGS_NONE, &error);
      g_assert_no_error (error);
      root_calls++;
      /* Only whether the child has exited: no waiting. */
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  g_subprocess_communicate_utf8 (child, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sscanf (out, "%u %u %u %u", &sent, &answered, &limited, &other), ==, 4);
  g_test_message ("flood: %u calls sent by nobody, %u answered, %u LimitsExceeded, %u other; "
                  "root's Verify + PreviewConfig answered %u times meanwhile",
                  sent, answered, limited, other, root_calls);
  g_assert_cmpuint (other, ==, 0);
  g_assert_cmpuint (limited, >, 0);
  g_assert_cmpuint (answered, >, 0);
  g_assert_cmpuint (root_calls, >, 0);

  g_assert_true (g_file_get_contents (log, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    if (g_str_equal (lines[i], "start"))
      {
        now++;
        most = MAX (most, now);
      }
    else if (g_str_equal (lines[i], "end"))
      now--;
  g_test_message ("chronyd -h: at most %u at once", most);
  g_assert_cmpuint (most, ==, 1);

  service_fixture_teardown (&fx);
}

/* ---- the shared fixtures ----------------------------------------------- */

static ServiceFixture fixtures[N_USERS];
static gboolean fixture_up[N_USERS];
static char *baseline[N_USERS];

static ServiceFixture *
fixture_for (Who who)
{
  for (int other = 0; other < N_USERS; other++)
    if (other != (int) who && fixture_up[other])
      {
        service_fixture_teardown (&fixtures[other]);
        g_clear_pointer (&baseline[other], g_free);
        fixture_up[other] = FALSE;
      }
  if (!fixture_up[who])
    {
      service_fixture_setup (&fixtures[who], &user_options[who]);
      service_fixture_start_daemon (&fixtures[who]);
      baseline[who] = temp_tree_fingerprint (fixtures[who].root);
      fixture_up[who] = TRUE;
    }
  return &fixtures[who];
}

static void
drop_fixtures (void)
{
  for (int who = 0; who < N_USERS; who++)
    if (fixture_up[who])
      {
        service_fixture_teardown (&fixtures[who]);
        g_clear_pointer (&baseline[who], g_free);
        fixture_up[who] = FALSE;
      }
}

/* Multi-line text as TAP comments, one line each. */
static void
message_lines (const char *prefix, const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i]; i++)
    if (lines[i][0] != '\0')
      g_test_message ("%s%s", prefix, lines[i]);
}

/* What is wrong with the running case: every reason, reported as one
 * failure at its end (TAP's "not ok" line takes one line). */
static GString *problems;

static void G_GNUC_PRINTF (1, 2)
problem (const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_test_message ("FAIL: %s", text);
  g_string_append_printf (problems, "%s%s", problems->len ? "; " : "", text);
}

/* A reason, its details as comments after it. */
static void
fail_case (const char *reason, const char *details)
{
  problem ("%s", reason);
  if (details)
    message_lines ("  ", details);
}

static void
assert_tree_equal (const char *what, const char *before, const char *after)
{
  g_autofree char *diff = temp_tree_fingerprint_diff (before, after);

  if (diff != NULL)
    {
      g_autofree char *reason = g_strdup_printf ("the root tree changed %s", what);
      fail_case (reason, diff);
    }
}

/* ---- one case ------------------------------------------------------------ */

static void
run_case (gconstpointer data)
{
  Case *c = (Case *) data;
  ServiceFixture *fx = fixture_for (c->who);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(GVariant) checks_reply = NULL;
  g_autoptr(GVariant) checks = NULL;
  Outcome out = { 0 };

  problems = g_string_new (NULL);
  if (c->guards)
    g_test_message ("guards against: %s", c->guards);

  if (c->prepare)
    c->prepare (fx->root);
  g_variant_unref (fixture_polkit (fx, "Reset", NULL));
  before = temp_tree_fingerprint (fx->root);

  run_client (fx->bus_address, c, &out);
  c->ran = TRUE;
  c->got = g_strdup (out.error[0] ? out.error : OK);

  after = temp_tree_fingerprint (fx->root);
  checks_reply = fixture_polkit (fx, "GetChecks", NULL);
  checks = g_variant_get_child_value (checks_reply, 0);

  /* Who called. */
  g_assert_cmpuint (out.uid, ==, c->who == AS_NOBODY ? nobody_uid : 0);
  g_assert_cmpstr (out.name, !=, "");

  /* What it got. */
  g_strchomp (out.body);
  message_lines ("reply: ", out.body);
  if (g_strcmp0 (c->got, c->want) != 0)
    problem ("got %s, want %s", c->got, c->want);

  if (c->forbidden && strstr (out.body, c->forbidden) != NULL)
    problem ("the reply contains \"%s\"", c->forbidden);
  for (guint i = 0; c->reply_must_contain && c->reply_must_contain[i]; i++)
    if (strstr (out.body, c->reply_must_contain[i]) == NULL)
      problem ("the reply lacks \"%s\"", c->reply_must_contain[i]);

  /* Whom polkit was asked about, and for what. */
  if (c->action == NULL)
    {
      if (g_variant_n_children (checks) != 0)
        {
          g_autofree char *text = g_variant_print (checks, FALSE);
          g_autofree char *reason =
            g_strdup ("polkit was asked; bad input must be refused first");
          fail_case (reason, text);
        }
    }
  else
    {
      gboolean asked = FALSE;

      for (gsize i = 0; i < g_variant_n_children (checks); i++)
        {
          g_autoptr(GVariant) details = NULL;
          const char *kind, *action, *subject = NULL;

          g_variant_get_child (checks, i, "(&s@a{sv}&suss)", &kind, &details, &action,
                               NULL, NULL, NULL);
          g_variant_lookup (details, "name", "&s", &subject);
          if (!g_str_equal (kind, "system-bus-name") || g_strcmp0 (subject, out.name) != 0)
            problem ("polkit asked about %s %s, not the caller %s",
                     kind, subject ? subject : "?", out.name);
          if (g_str_equal (action, c->action))
            asked = TRUE;
        }
      if (!asked)
        problem ("polkit was not asked for %s", c->action);
    }

  assert_tree_equal ("during the call", before, after);

  /* Back to the fixture's baseline for the next case. */
  if (c->cleanup)
    c->cleanup (fx->root);
  {
    g_autofree char *now = temp_tree_fingerprint (fx->root);
    g_autofree char *diff = temp_tree_fingerprint_diff (baseline[c->who], now);

    if (diff != NULL)
      {
        /* Start the next case from a fresh root rather than from this one. */
        service_fixture_teardown (fx);
        fixture_up[c->who] = FALSE;
        g_clear_pointer (&baseline[c->who], g_free);
        {
          g_autofree char *reason =
            g_strdup ("the root tree is not back to the fixture's baseline after the case's cleanup");
          fail_case (reason, diff);
        }
      }
  }
  outcome_clear (&out);
  c->failed = problems->len > 0;
  if (c->failed)
    g_test_fail_printf ("%s", problems->str);
  g_string_free (g_steal_pointer (&problems), TRUE);
}

/* ---- building the table -------------------------------------------------- */

static Case *
add_case (Who who, const char *path, const char *iface, const char *method, GVariant *params,
          GDBusCallFlags flags, const char *want, const char *action)
{
  Case *c = g_new0 (Case, 1);

  c->who = who;
  c->path = g_strdup_printf ("/adversarial/%s/%s", who_name[who], path);
  c->iface = iface;
  c->method = method;
  c->params = g_variant_ref_sink (params);
  c->flags = flags;
  c->want = want;
  c->action = action;
  g_ptr_array_add (cases, c);
  return c;
}

static GVariant *
opts (GVariant *dict)
{
  return g_variant_new_tuple (&dict, 1);
}

static GVariant *
no_options (void)
{
  return opts (g_variant_new ("a{sv}", NULL));
}

/* ---- prepared trees ------------------------------------------------------- */

/* /var/lib as on a system (0755), and ntssetup's state directory with
 * @mode and nothing in it. */
static void
state_dir_prepare_mode (const char *root, mode_t mode)
{
  g_autofree char *lib = g_build_filename (root, "var/lib", NULL);
  g_autofree char *dir = g_build_filename (root, "var/lib/ntssetup", NULL);

  g_assert_cmpint (g_mkdir_with_parents (lib, 0755), ==, 0);
  g_assert_cmpint (mkdir (dir, mode), ==, 0);
  g_assert_cmpint (chmod (dir, mode), ==, 0);
}

static void
state_dir_prepare (const char *root)
{
  state_dir_prepare_mode (root, 0700);
}

/* Not the mode ntssetup gives it: a read-only call must not "fix" it. */
static void
state_dir_0755_prepare (const char *root)
{
  state_dir_prepare_mode (root, 0755);
}

static void
state_dir_cleanup (const char *root)
{
  g_autofree char *var = g_build_filename (root, "var", NULL);

  temp_tree_remove (var);
}

static char *saved_keys;

static void
secret_keys_prepare (const char *root)
{
  g_autofree char *path = g_build_filename (root, "etc/chrony/chrony.keys", NULL);

  g_assert_true (g_file_get_contents (path, &saved_keys, NULL, NULL));
  temp_tree_write (root, "etc/chrony/chrony.keys", KEYS_WITH_SECRET, 0640);
}

static void
secret_keys_cleanup (const char *root)
{
  /* As the fixture seeded it: its content, 0644. */
  temp_tree_write (root, "etc/chrony/chrony.keys", saved_keys, 0644);
  g_clear_pointer (&saved_keys, g_free);
}

/* ---- the unprivileged caller's access -------------------------------------- */

static const char *const property_names[] = {
  "State", "Servers", "MinSources", "ChronyInstalled", "TimesyncdActive", "LastResult", NULL,
};

/* A value of each property's own type, for Set. */
static GVariant *
property_value (const char *name)
{
  if (g_str_equal (name, "State"))
    return g_variant_new_string ("applied");
  if (g_str_equal (name, "Servers"))
    return g_variant_new_strv ((const char *const[]) { "evil.example" }, 1);
  if (g_str_equal (name, "MinSources"))
    return g_variant_new_uint32 (1);
  if (g_str_equal (name, "ChronyInstalled") || g_str_equal (name, "TimesyncdActive"))
    return g_variant_new_boolean (TRUE);
  return g_variant_new_parsed ("@a{sv} {'ok': <true>}");
}

static void
add_access_cases (void)
{
  Who n = AS_NOBODY;
  Case *c;

  add_case (n, "access/PreviewConfig", NTS_DBUS_INTERFACE, "PreviewConfig", no_options (),
            INTERACTIVE, OK, NTS_ACTION_VERIFY);
  add_case (n, "access/Verify", NTS_DBUS_INTERFACE, "Verify", no_options (), INTERACTIVE, OK,
            NTS_ACTION_VERIFY);
  add_case (n, "access/ListSnapshots/no-state-dir", NTS_DBUS_INTERFACE, "ListSnapshots",
            g_variant_new ("()"), INTERACTIVE, OK, NTS_ACTION_VERIFY);
  c = add_case (n, "access/ListSnapshots/state-dir-0700-without-snapshots",
                NTS_DBUS_INTERFACE, "ListSnapshots", g_variant_new ("()"), INTERACTIVE, OK,
                NTS_ACTION_VERIFY);
  c->prepare = state_dir_prepare;
  c->cleanup = state_dir_cleanup;
  c->guards = "ListSnapshots opens the snapshot store, which creates var/lib/ntssetup/snapshots "
                  "(and sets modes) for any caller";
  c = add_case (n, "access/ListSnapshots/state-dir-0755-without-snapshots",
                NTS_DBUS_INTERFACE, "ListSnapshots", g_variant_new ("()"), INTERACTIVE, OK,
                NTS_ACTION_VERIFY);
  c->prepare = state_dir_0755_prepare;
  c->cleanup = state_dir_cleanup;
  c->guards = "ListSnapshots opens the snapshot store, which creates var/lib/ntssetup/snapshots "
                  "(and sets modes) for any caller";

  add_case (n, "access/ApplyHardenedConfig/no-interaction", NTS_DBUS_INTERFACE, "ApplyHardenedConfig",
            no_options (), G_DBUS_CALL_FLAGS_NONE, E_INTERACTIVE, NTS_ACTION_APPLY);
  add_case (n, "access/ApplyHardenedConfig/interactive", NTS_DBUS_INTERFACE, "ApplyHardenedConfig",
            no_options (), INTERACTIVE, E_ACCESS_DENIED, NTS_ACTION_APPLY);
  add_case (n, "access/ApplyHardenedConfig/install-no-preflight", NTS_DBUS_INTERFACE,
            "ApplyHardenedConfig",
            opts (g_variant_new_parsed ("{'install': <true>, 'preflight': <false>, "
                                        "'wait-sync': <uint32 0>}")),
            INTERACTIVE, E_ACCESS_DENIED, NTS_ACTION_APPLY);
  add_case (n, "access/Rollback/newest/no-interaction", NTS_DBUS_INTERFACE, "Rollback",
            g_variant_new ("(sa{sv})", "", NULL), G_DBUS_CALL_FLAGS_NONE, E_INTERACTIVE,
            NTS_ACTION_ROLLBACK);
  add_case (n, "access/Rollback/newest/interactive", NTS_DBUS_INTERFACE, "Rollback",
            g_variant_new ("(sa{sv})", "", NULL), INTERACTIVE, E_ACCESS_DENIED, NTS_ACTION_ROLLBACK);
  add_case (n, "access/Rollback/force/interactive", NTS_DBUS_INTERFACE, "Rollback",
            g_variant_new_parsed ("('', {'force': <true>})"), INTERACTIVE, E_ACCESS_DENIED,
            NTS_ACTION_ROLLBACK);

  /* Properties: readable by anyone without polkit, never writable. */
  {
    c = add_case (n, "properties/GetAll", PROPS_IFACE, "GetAll",
                  g_variant_new ("(s)", NTS_DBUS_INTERFACE), G_DBUS_CALL_FLAGS_NONE, OK, NULL);
    c->reply_must_contain = property_names;
  }
  for (guint i = 0; property_names[i]; i++)
    {
      g_autofree char *get = g_strdup_printf ("properties/Get/%s", property_names[i]);
      g_autofree char *set = g_strdup_printf ("properties/Set/%s", property_names[i]);

      add_case (n, get, PROPS_IFACE, "Get",
                g_variant_new ("(ss)", NTS_DBUS_INTERFACE, property_names[i]),
                G_DBUS_CALL_FLAGS_NONE, OK, NULL);
      /* GDBus refuses a Set of a read-only property with InvalidArgs
       * ("not writable") before the service sees it. */
      add_case (n, set, PROPS_IFACE, "Set",
                g_variant_new ("(ssv)", NTS_DBUS_INTERFACE, property_names[i],
                               property_value (property_names[i])),
                INTERACTIVE, E_INVALID_ARGS, NULL);
    }
  add_case (n, "properties/Set/NoSuchProperty", PROPS_IFACE, "Set",
            g_variant_new ("(ssv)", NTS_DBUS_INTERFACE, "Root", g_variant_new_string ("/")),
            INTERACTIVE, E_INVALID_ARGS, NULL);
  add_case (n, "properties/Get/NoSuchProperty", PROPS_IFACE, "Get",
            g_variant_new ("(ss)", NTS_DBUS_INTERFACE, "Root"), G_DBUS_CALL_FLAGS_NONE,
            E_INVALID_ARGS, NULL);

  /* PreviewConfig shows the keys file Apply would keep: its content must
   * not reach a caller who could not read the file. */
  c = add_case (n, "disclosure/PreviewConfig/keys-file-secret", NTS_DBUS_INTERFACE, "PreviewConfig",
                no_options (), INTERACTIVE, OK, NTS_ACTION_VERIFY);
  c->prepare = secret_keys_prepare;
  c->cleanup = secret_keys_cleanup;
  c->forbidden = KEY_HEX;
  c->guards = "PreviewConfig returns the existing keys file's content (a 0640 file) to anyone";
}

/* ---- bad input, for both callers ------------------------------------------ */

typedef struct {
  const char *key;
  const char *type;
  const char *good;     /* GVariant text of a value of the right type */
} KeySpec;

/* The option keys introspection/org.ntssetup.Manager1.xml documents. */
static const KeySpec apply_keys[] = {
  { "servers", "as", "['a.example']" },
  { "min-sources", "u", "uint32 1" },
  { "install", "b", "false" },
  { "preflight", "b", "false" },
  { "wait-sync", "u", "uint32 0" },
  { NULL },
};
static const KeySpec verify_keys[] = { { "wait", "u", "uint32 0" }, { NULL } };
static const KeySpec rollback_keys[] = { { "force", "b", "false" }, { NULL } };

/* One value of each of these types; a key gets every one but its own. */
static const struct { const char *type; const char *text; } wrong_values[] = {
  { "b", "true" },
  { "u", "uint32 1" },
  { "i", "int32 1" },
  { "x", "int64 1" },
  { "s", "'1'" },
  { "as", "['1']" },
  { "ay", "b'1'" },
};

/* (options) or, for Rollback, ('', options). */
static GVariant *
method_params (const char *method, GVariant *dict)
{
  if (g_str_equal (method, "Rollback"))
    return g_variant_new ("(s@a{sv})", "", dict);
  return opts (dict);
}

static void
add_bad (const char *path, const char *method, GVariant *params, const char *guards)
{
  GVariant *sunk = g_variant_ref_sink (params);

  for (int who = 0; who < N_USERS; who++)
    {
      g_autofree char *full = g_strdup_printf ("bad-input/%s/%s", method, path);
      Case *c = add_case (who, full, NTS_DBUS_INTERFACE, method, sunk, INTERACTIVE, E_INVALID_ARGS,
                          NULL);

      c->guards = guards;
    }
  g_variant_unref (sunk);
}

/* A bad server list, for both ApplyHardenedConfig and PreviewConfig.
 * Apply's carries preflight=false and wait-sync=0 besides, so that a
 * validation that let it through fails fast (no systemd on the test bus)
 * rather than preflighting. */
static void
add_bad_servers (const char *path, const char *const *servers, guint min_sources,
                 const char *guards)
{
  for (int apply = 0; apply < 2; apply++)
    {
      GVariantBuilder b;

      g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&b, "{sv}", "servers", g_variant_new_strv (servers, -1));
      g_variant_builder_add (&b, "{sv}", "min-sources", g_variant_new_uint32 (min_sources));
      if (apply)
        {
          g_variant_builder_add (&b, "{sv}", "preflight", g_variant_new_boolean (FALSE));
          g_variant_builder_add (&b, "{sv}", "wait-sync", g_variant_new_uint32 (0));
        }
      add_bad (path, apply ? "ApplyHardenedConfig" : "PreviewConfig",
               opts (g_variant_builder_end (&b)), guards);
    }
}

static void
add_key_cases (const char *method, const KeySpec *keys)
{
  for (const KeySpec *k = keys; k->key; k++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (wrong_values); i++)
        {
          g_autofree char *path = NULL;
          g_autofree char *text = NULL;

          if (g_str_equal (wrong_values[i].type, k->type))
            continue;
          path = g_strdup_printf ("wrong-type/%s/%s", k->key, wrong_values[i].type);
          text = g_strdup_printf ("{'%s': <%s>}", k->key, wrong_values[i].text);
          add_bad (path, method, method_params (method, g_variant_new_parsed (text)), NULL);
        }
      {
        /* The right type, wrapped in a second variant. */
        g_autofree char *path = g_strdup_printf ("variant-in-variant/%s", k->key);
        g_autofree char *text = g_strdup_printf ("{'%s': <<%s>>}", k->key, k->good);
        add_bad (path, method, method_params (method, g_variant_new_parsed (text)), NULL);
      }
      {
        /* The same key twice, each time well typed: which would count? */
        g_autofree char *path = g_strdup_printf ("given-twice/%s", k->key);
        g_autofree char *text = g_strdup_printf ("{'%s': <%s>, '%s': <%s>}", k->key, k->good,
                                                 k->key, k->good);
        add_bad (path, method, method_params (method, g_variant_new_parsed (text)), NULL);
      }
    }
}

static void
add_bad_input_cases (void)
{
  /* servers */
  {
    g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i < 17; i++)
      g_ptr_array_add (many, g_strdup_printf ("nts%u.example", i));
    g_ptr_array_add (many, NULL);
    add_bad_servers ("17-servers", (const char *const *) many->pdata, 1, NULL);
  }
  {
    /* 63 + 1 + 63 + 1 + 63 + 1 + 62 = 254 bytes, every label legal. */
    g_autofree char *l63 = g_strnfill (63, 'a');
    g_autofree char *l62 = g_strnfill (62, 'b');
    g_autofree char *name = g_strjoin (".", l63, l63, l63, l62, NULL);
    const char *servers[] = { name, NULL };

    g_assert_cmpuint (strlen (name), ==, 254);
    add_bad_servers ("254-byte-name", servers, 1, NULL);
  }
  {
    static const struct { const char *path; const char *name; } non_ascii[] = {
      { "non-ascii/latin1-letter", "t\xc3\xafme.example" },               /* tïme */
      { "non-ascii/cyrillic-homograph", "time.\xd1\x81loudflare.com" },   /* Cyrillic с */
      { "non-ascii/fullwidth", "\xef\xbd\x94ime.example" },                /* ｔime */
      { "non-ascii/zero-width-space", "time.example\xe2\x80\x8b" },
      { "non-ascii/nbsp", "time\xc2\xa0" "example" },
      { "non-ascii/rtl-override", "\xe2\x80\xae" "elpmaxe.emit" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (non_ascii); i++)
      {
        const char *servers[] = { non_ascii[i].name, NULL };
        add_bad_servers (non_ascii[i].path, servers, 1, NULL);
      }
  }
  {
    static const char *const mapped_hole =
      "an IPv4-mapped IPv6 literal is not checked as the IPv4 address it is";
    static const char *const mapped[] = {
      "::ffff:0.0.0.0", "::ffff:224.0.0.1", "::ffff:255.255.255.255",
    };
    static const char *const plain[] = { "0.0.0.0", "224.0.0.1", "255.255.255.255" };

    for (guint i = 0; i < G_N_ELEMENTS (mapped); i++)
      {
        g_autofree char *path = g_strdup_printf ("mapped/%s", mapped[i]);
        g_autofree char *plain_path = g_strdup_printf ("address/%s", plain[i]);
        const char *servers[] = { mapped[i], NULL };
        const char *plain_servers[] = { plain[i], NULL };

        add_bad_servers (path, servers, 1, mapped_hole);
        /* The same addresses unmapped: refused today, the control. */
        add_bad_servers (plain_path, plain_servers, 1, NULL);
      }
    {
      const char *servers[] = { "192.0.2.1", "::ffff:192.0.2.1", NULL };
      add_bad_servers ("mapped/duplicate-192.0.2.1", servers, 1,
                       "192.0.2.1 and ::ffff:192.0.2.1 are one server, not two");
    }
  }

  /* Every documented key of every method: each wrong type, and its own
   * type in a second variant. PreviewConfig takes Apply's keys. */
  add_key_cases ("ApplyHardenedConfig", apply_keys);
  add_key_cases ("PreviewConfig", apply_keys);
  add_key_cases ("Verify", verify_keys);
  add_key_cases ("Rollback", rollback_keys);

  /* wait / wait-sync at UINT32_MAX. */
  add_bad ("wait-sync-uint32-max", "ApplyHardenedConfig",
           opts (g_variant_new_parsed ("{'wait-sync': <uint32 4294967295>, 'preflight': <false>}")),
           NULL);
  add_bad ("wait-sync-uint32-max", "PreviewConfig",
           opts (g_variant_new_parsed ("{'wait-sync': <uint32 4294967295>}")), NULL);
  /* Verify documents 'wait' above 120 as capped, not refused: it answers
   * (chronyd is not running in the root, so the wait ends at once) and
   * polkit is asked. */
  for (int who = 0; who < N_USERS; who++)
    {
      Case *c = add_case (who, "bad-input/Verify/wait-uint32-max-is-capped", NTS_DBUS_INTERFACE,
                          "Verify", opts (g_variant_new_parsed ("{'wait': <uint32 4294967295>}")),
                          INTERACTIVE, OK, NTS_ACTION_VERIFY);
      c->timeout_ms = VERIFY_CAPPED_TIMEOUT_MS;
    }

  /* Rollback ids. */
  {
    g_autofree char *id65 = g_strnfill (65, 'a');
    g_autofree char *id64 = g_strnfill (64, 'a');
    static const struct { const char *path; const char *id; } bad_ids[] = {
      { "id/leading-dash", "-abc" },
      { "id/leading-dash-only", "-" },
      { "id/slash", "a/b" },
      { "id/absolute", "/etc" },
      { "id/dotdot", ".." },
      { "id/dotdot-slash", "../x" },
      { "id/dot", "." },
      { "id/space", "a b" },
      { "id/newline", "a\nb" },
      { "id/non-ascii", "\xc3\xa4" },
    };
    add_bad ("id/65-chars", "Rollback", g_variant_new ("(sa{sv})", id65, NULL), NULL);
    for (guint i = 0; i < G_N_ELEMENTS (bad_ids); i++)
      add_bad (bad_ids[i].path, "Rollback", g_variant_new ("(sa{sv})", bad_ids[i].id, NULL), NULL);

    /* Well-formed but missing: polkit decides first (authorization before
     * the lookup), then NoSuchSnapshot for root; nobody never gets that far. */
    for (int who = 0; who < N_USERS; who++)
      {
        static const char *const writes =
          "a Rollback refused with NoSuchSnapshot creates var/lib/ntssetup/{,snapshots/} "
          "and writes last-result";
        Case *c;

        c = add_case (who, "bad-input/Rollback/id/well-formed-missing", NTS_DBUS_INTERFACE, "Rollback",
                      g_variant_new ("(sa{sv})", "0123456789abcdef", NULL), INTERACTIVE,
                      who == AS_ROOT ? E_NO_SUCH_SNAPSHOT : E_ACCESS_DENIED, NTS_ACTION_ROLLBACK);
        c->guards = who == AS_ROOT ? writes : NULL;
        c = add_case (who, "bad-input/Rollback/id/64-chars-missing", NTS_DBUS_INTERFACE, "Rollback",
                      g_variant_new ("(sa{sv})", id64, NULL), INTERACTIVE,
                      who == AS_ROOT ? E_NO_SUCH_SNAPSHOT : E_ACCESS_DENIED, NTS_ACTION_ROLLBACK);
        c->guards = who == AS_ROOT ? writes : NULL;
      }
  }

  /* The wrong signature altogether: GDBus refuses it against the
   * introspection data. */
  add_bad ("signature/string-for-options", "PreviewConfig", g_variant_new ("(s)", "servers"), NULL);
  add_bad ("signature/options-without-id", "Rollback", no_options (), NULL);
  add_bad ("signature/arguments-to-no-argument-method", "ListSnapshots", no_options (), NULL);
}

/* ---- the fingerprint itself ----------------------------------------------- */

/* Each kind of change a refused call could make, seen by the fingerprint:
 * without this a broken helper would pass every case above. */
static void
test_fingerprint_sees_changes (void)
{
  g_autofree char *root = temp_tree_new ();
  g_autofree char *file = g_build_filename (root, "etc/a.conf", NULL);
  g_autofree char *link = g_build_filename (root, "etc/link", NULL);
  g_autofree char *before = NULL;
  static const struct { const char *what; const char *needle; } changes[] = {
    { "mode", "+ etc/a.conf\tfile 0600 0:0" },
    { "owner", NULL /* the group's id, below */ },
    { "content, same size", NULL /* the new content's hash, below */ },
    { "link target", "+ etc/link\tlink 0777 0:0 11 -> /etc/shadow" },
    { "new directory", "+ var\tdir 0755" },
    { "dir mode", ".\tdir 0711" },
  };

  temp_tree_write (root, "etc/a.conf", "server a\n", 0644);
  temp_tree_symlink (root, "etc/link", "a.conf");
  g_assert_cmpint (chmod (root, 0755), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (changes); i++)
    {
      g_autofree char *after = NULL;
      g_autofree char *diff = NULL;
      g_autofree char *var = g_build_filename (root, "var", NULL);
      g_autofree char *needle = NULL;

      g_free (before);
      before = temp_tree_fingerprint (root);
      switch (i)
        {
        case 0: g_assert_cmpint (chmod (file, 0600), ==, 0); break;
        case 1: g_assert_cmpint (lchown (file, 0, temp_tree_some_group ()), ==, 0); break;
        case 2: temp_tree_write (root, "etc/a.conf", "server b\n", 0600); break;
        case 3:
          g_assert_cmpint (unlink (link), ==, 0);
          temp_tree_symlink (root, "etc/link", "/etc/shadow");
          break;
        case 4: g_assert_cmpint (mkdir (var, 0755), ==, 0); g_assert_cmpint (chmod (var, 0755), ==, 0); break;
        case 5: g_assert_cmpint (chmod (root, 0711), ==, 0); break;
        }
      after = temp_tree_fingerprint (root);
      diff = temp_tree_fingerprint_diff (before, after);
      g_test_message ("%s:", changes[i].what);
      if (diff)
        message_lines ("  ", diff);
      if (i == 1)
        needle = g_strdup_printf ("+ etc/a.conf\tfile 0600 0:%u 9", (unsigned) temp_tree_some_group ());
      else if (i == 2)
        {
          g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "server b\n", -1);
          needle = g_strdup_printf ("+ etc/a.conf\tfile 0600 0:0 9 sha256:%s\n", sum);
        }
      else
        needle = g_strdup (changes[i].needle);
      g_assert_nonnull (diff);
      g_assert_nonnull (strstr (diff, needle));
    }
  g_assert_null (temp_tree_fingerprint_diff (before, before));
  temp_tree_remove (root);
}

/* ---- main ------------------------------------------------------------------ */

static void
print_table (void)
{
  g_autoptr(GString) table =
    g_string_new ("case -> error name got [FAIL: a check failed; (want ...) when the name differs]\n");
  guint failed = 0, wrong_name = 0, ran = 0;

  for (guint i = 0; i < cases->len; i++)
    {
      Case *c = cases->pdata[i];
      gboolean match;

      if (!c->ran)
        continue;
      match = g_strcmp0 (c->got, c->want) == 0;
      wrong_name += !match;
      failed += c->failed;
      ran++;
      g_string_append_printf (table, "  %s %-84s -> %s%s%s%s%s\n", c->failed ? "FAIL" : "    ",
                              c->path, c->got,
                              match ? "" : "   (want ", match ? "" : c->want, match ? "" : ")",
                              c->guards ? "   [guards against a hole]" : "");
    }
  g_string_append_printf (table, "%u of %u cases failed a check; %u answered another error "
                          "name than documented", failed, ran, wrong_name);
  message_lines ("", table->str);
}

int
main (int argc, char **argv)
{
  struct passwd *pw;
  int status;

  if (argc > 1 && g_str_equal (argv[1], "--client"))
    return client_main (argc, argv);
  /* The child, as nobody: --flood ADDRESS MS CONNS DEPTH. */
  if (argc == 6 && g_str_equal (argv[1], "--flood"))
    return flood_client_main (argv[2], atoi (argv[3]), atoi (argv[4]), atoi (argv[5]));

  g_test_init (&argc, &argv, NULL);

  pw = getpwnam ("nobody");
  g_assert_nonnull (pw);
  nobody_uid = pw->pw_uid;
  nobody_gid = pw->pw_gid;
  /* Playing root and nobody needs root to start with; never a skip. */
  if (geteuid () != 0)
    g_error ("test-adversarial must run as root to play both root and nobody");

  g_test_add_func ("/adversarial/fingerprint-sees-changes", test_fingerprint_sees_changes);
  cases = g_ptr_array_new ();
  add_access_cases ();
  add_bad_input_cases ();
  for (guint i = 0; i < cases->len; i++)
    {
      Case *c = cases->pdata[i];
      g_test_add_data_func (c->path, c, run_case);
    }

  g_test_add_func ("/adversarial/nobody/flood", test_flood);

  status = g_test_run ();

  for (int who = 0; who < N_USERS; who++)
    if (fixture_up[who])
      {
        service_fixture_teardown (&fixtures[who]);
        g_free (baseline[who]);
      }
  print_table ();
  return status;
}
