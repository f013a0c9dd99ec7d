/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Loopback NTS test bed; see nts-loopback.h. */
#include "nts-loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Bounds on every wait the fixture does. chronyd is ready in ~10 ms; the
 * generous limits only matter on a loaded CI machine. */
#define READY_TIMEOUT_US   (15 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_US    (5 * G_USEC_PER_SEC)
#define POLL_INTERVAL_US   (10 * 1000)

typedef struct {
  char                 *address;
  NtsLoopbackServerKind kind;
  guint16               ntp_port;  /* 0: no NTP server */
  guint16               nts_port;
  GSubprocess          *process;   /* NULL for KE_CLOSED */
} Server;

struct _NtsLoopbackClient {
  char        *name;
  char        *socket_path;
  char        *config_path;
  char        *log_path;
  GSubprocess *process;
};

struct _NtsLoopback {
  char          *dir;
  char          *chronyd;
  char          *chronyc;
  GPtrArray     *servers;
  GPtrArray     *clients;   /* NtsLoopbackClient *, the first one's too */
  GSubprocess   *client;
  char          *client_socket;
  GSubprocess   *guardian;
  GOutputStream *guardian_in;
};

static void
server_free (Server *server)
{
  g_free (server->address);
  g_clear_object (&server->process);
  g_free (server);
}

static void
client_free (NtsLoopbackClient *client)
{
  g_free (client->name);
  g_free (client->socket_path);
  g_free (client->config_path);
  g_free (client->log_path);
  g_clear_object (&client->process);
  g_free (client);
}

/* ---- programs ----------------------------------------------------------- */

static char *
find_program (const char *env_var, const char *name, char **why_not)
{
  const char *env = g_getenv (env_var);
  const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
  char *path;

  if (env != NULL && *env != '\0')
    {
      if (g_file_test (env, G_FILE_TEST_IS_EXECUTABLE))
        return g_strdup (env);
      *why_not = g_strdup_printf ("%s=%s is not an executable", env_var, env);
      return NULL;
    }

  path = g_find_program_in_path (name);
  if (path != NULL)
    return path;
  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      path = g_build_filename (dirs[i], name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        return path;
      g_free (path);
    }

  *why_not = g_strdup_printf ("no %s found (set %s to point at one)", name, env_var);
  return NULL;
}

gboolean
nts_loopback_find_programs (char **chronyd, char **chronyc, char **why_not)
{
  g_autofree char *d = NULL, *c = NULL, *reason = NULL;

  d = find_program ("NTSSETUP_CHRONYD", "chronyd", &reason);
  if (d != NULL)
    c = find_program ("NTSSETUP_CHRONYC", "chronyc", &reason);
  if (c == NULL)
    {
      if (why_not != NULL)
        *why_not = g_steal_pointer (&reason);
      return FALSE;
    }
  if (chronyd != NULL)
    *chronyd = g_steal_pointer (&d);
  if (chronyc != NULL)
    *chronyc = g_steal_pointer (&c);
  return TRUE;
}

/* ---- processes ---------------------------------------------------------- */

static void
child_setup (gpointer data)
{
  /* If the test process dies without tearing down (an assertion aborts it),
   * the kernel kills the daemon too; SIGKILL so it writes nothing more into
   * the directory the guardian is about to remove. */
  (void) prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != (pid_t) GPOINTER_TO_INT (data))
    _exit (1);
}

static GSubprocess *
spawn_daemon (NtsLoopback *lb, const char *log_path, const char *const *argv, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  GSubprocess *process;
  g_autofree char *pid_line = NULL;

  g_subprocess_launcher_set_stderr_file_path (launcher, log_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup,
                                         GINT_TO_POINTER ((int) getpid ()), NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (process == NULL)
    return NULL;

  /* Tell the guardian whom to wait for should we die. */
  pid_line = g_strdup_printf ("%s\n", g_subprocess_get_identifier (process));
  if (!g_output_stream_write_all (lb->guardian_in, pid_line, strlen (pid_line), NULL, NULL, error) ||
      !g_output_stream_flush (lb->guardian_in, NULL, error))
    {
      g_subprocess_force_exit (process);
      g_object_unref (process);
      return NULL;
    }
  return process;
}

/* Polls (bounded) until @process has been reaped. */
static gboolean
wait_gone (GSubprocess *process, gint64 timeout_us)
{
  gint64 until = g_get_monotonic_time () + timeout_us;

  /* GLib reaps children from its worker thread; the identifier turns NULL
   * once that has happened. */
  while (g_subprocess_get_identifier (process) != NULL)
    {
      if (g_get_monotonic_time () >= until)
        return FALSE;
      g_usleep (POLL_INTERVAL_US);
    }
  return TRUE;
}

static void
stop_process (GSubprocess *process)
{
  if (process == NULL || g_subprocess_get_identifier (process) == NULL)
    return;
  g_subprocess_send_signal (process, SIGTERM);
  if (!wait_gone (process, STOP_TIMEOUT_US))
    {
      g_subprocess_force_exit (process);
      (void) wait_gone (process, STOP_TIMEOUT_US);
    }
}

/* ---- files -------------------------------------------------------------- */

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          struct stat st;

          if (lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
            remove_tree (child);
          else
            (void) unlink (child);
        }
    }
  (void) rmdir (path);
}

static char *
path_in (NtsLoopback *lb, const char *name)
{
  return g_build_filename (lb->dir, name, NULL);
}

static gboolean
write_file (NtsLoopback *lb, const char *name, const char *contents, GError **error)
{
  g_autofree char *path = path_in (lb, name);
  return g_file_set_contents (path, contents, -1, error);
}

static gboolean
run_openssl (NtsLoopback *lb, const char *const *args, GError **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err_output = NULL;
  int status;

  g_ptr_array_add (argv, (gpointer) "openssl");
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  if (!g_spawn_sync (lb->dir, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err_output, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "openssl %s failed: %s", args[0], err_output);
      return FALSE;
    }
  return TRUE;
}

/* A self-signed CA: @stem.key, @stem.crt. Our own config file so that the
 * result does not depend on the machine's openssl.cnf. */
static gboolean
make_ca (NtsLoopback *lb, const char *stem, const char *cn, GError **error)
{
  g_autofree char *cnf = g_strdup_printf ("%s.cnf", stem);
  g_autofree char *key = g_strdup_printf ("%s.key", stem);
  g_autofree char *crt = g_strdup_printf ("%s.crt", stem);
  g_autofree char *contents = g_strdup_printf (
    "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3_ca\n"
    "[dn]\nCN = %s\n"
    "[v3_ca]\nbasicConstraints = critical, CA:TRUE\n"
    "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n", cn);
  const char *const args[] = {
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-days", "3", "-config", cnf, "-keyout", key, "-out", crt, NULL
  };

  return write_file (lb, cnf, contents, error) && run_openssl (lb, args, error);
}

/* s-ADDR.key / s-ADDR.crt for @address, signed by @ca_stem. */
static gboolean
make_server_cert (NtsLoopback *lb, const char *address, const char *ca_stem, GError **error)
{
  g_autofree char *dashed = g_strdelimit (g_strdup (address), ".:", '-');
  g_autofree char *cnf = g_strdup_printf ("s-%s.cnf", address);
  g_autofree char *key = g_strdup_printf ("s-%s.key", address);
  g_autofree char *csr = g_strdup_printf ("s-%s.csr", address);
  g_autofree char *crt = g_strdup_printf ("s-%s.crt", address);
  g_autofree char *ca_key = g_strdup_printf ("%s.key", ca_stem);
  g_autofree char *ca_crt = g_strdup_printf ("%s.crt", ca_stem);
  g_autofree char *serial = g_strdup_printf ("%u", g_random_int_range (1, G_MAXINT32));
  /* The name and the address both: tests may configure either. */
  g_autofree char *contents = g_strdup_printf (
    "[req]\ndistinguished_name = dn\nprompt = no\n"
    "[dn]\nCN = nts-%s.test\n"
    "[v3_srv]\nbasicConstraints = critical, CA:FALSE\n"
    "keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:nts-%s.test, IP:%s\n", dashed, dashed, address);
  const char *const req_args[] = {
    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-config", cnf, "-keyout", key, "-out", csr, NULL
  };
  const char *const sign_args[] = {
    "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-set_serial", serial,
    "-days", "2", "-extfile", cnf, "-extensions", "v3_srv", "-out", crt, NULL
  };

  return write_file (lb, cnf, contents, error) &&
         run_openssl (lb, req_args, error) &&
         run_openssl (lb, sign_args, error);
}

/* ---- ports -------------------------------------------------------------- */

static gboolean
port_free (const char *address, guint16 port, int type)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd, ok;

  if (inet_pton (AF_INET, address, &sa.sin_addr) != 1)
    return FALSE;
  fd = socket (AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  ok = bind (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
  close (fd);
  return ok;
}

/* A random high port free for @type on @address: other test runs on this
 * machine may use the same loopback addresses at the same time. */
static guint16
pick_port (const char *address, int type, GError **error)
{
  for (int i = 0; i < 100; i++)
    {
      guint16 port = (guint16) g_random_int_range (20000, 60000);
      if (port_free (address, port, type))
        return port;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
               "No free port found on %s", address);
  return 0;
}

static gboolean
tcp_accepts (const char *address, guint16 port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd, ok;

  if (inet_pton (AF_INET, address, &sa.sin_addr) != 1)
    return FALSE;
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  ok = connect (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
  close (fd);
  return ok;
}

static gboolean
unix_dgram_accepts (const char *path)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd, ok;

  if (strlen (path) >= sizeof sa.sun_path)
    return FALSE;
  strcpy (sa.sun_path, path);
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  ok = connect (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
  close (fd);
  return ok;
}

/* ---- public ------------------------------------------------------------- */

/* Runs until the test process is gone. Told "clean" by a normal teardown,
 * it just exits; otherwise it waits (bounded, never signalling anyone: the
 * kernel already sent PDEATHSIG) for the daemons and removes the directory. */
static const char guardian_script[] =
  "dir=$1; pids=; clean=\n"
  "while read -r line; do\n"
  "  case $line in clean) clean=1 ;; *) pids=\"$pids $line\" ;; esac\n"
  "done\n"
  "[ -n \"$clean\" ] && exit 0\n"
  "n=0\n"
  "for p in $pids; do\n"
  "  while kill -0 \"$p\" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n+1)); done\n"
  "done\n"
  "rm -rf -- \"$dir\"\n";

NtsLoopback *
nts_loopback_new (GError **error)
{
  g_autoptr(NtsLoopback) lb = g_new0 (NtsLoopback, 1);
  g_autofree char *why_not = NULL;
  g_autofree char *template = NULL;
  const char *tmp = g_get_tmp_dir ();

  lb->servers = g_ptr_array_new_with_free_func ((GDestroyNotify) server_free);
  lb->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);

  if (!nts_loopback_find_programs (&lb->chronyd, &lb->chronyc, &why_not))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s", why_not);
      return NULL;
    }

  /* chronyd's sockets live in here and a Unix socket path is limited to 107
   * bytes, so fall back to /tmp when $TMPDIR is long. mkdtemp makes it 0700,
   * which chronyd insists on for its socket directory. */
  if (strlen (tmp) > 48)
    tmp = "/tmp";
  template = g_build_filename (tmp, "ntslb-XXXXXX", NULL);
  if (g_mkdtemp (template) == NULL)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Cannot create %s: %s", template, g_strerror (errsv));
      return NULL;
    }
  lb->dir = g_steal_pointer (&template);
  lb->client_socket = path_in (lb, "chronyd.sock");

  {
    const char *const argv[] = { "/bin/sh", "-c", guardian_script, "sh", lb->dir, NULL };
    lb->guardian = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE, error);
    if (lb->guardian == NULL)
      return NULL;
    lb->guardian_in = g_object_ref (g_subprocess_get_stdin_pipe (lb->guardian));
  }

  if (!make_ca (lb, "ca", "ntssetup test CA", error) ||
      !make_ca (lb, "other-ca", "ntssetup untrusted CA", error))
    return NULL;

  return g_steal_pointer (&lb);
}

void
nts_loopback_free (NtsLoopback *lb)
{
  if (lb == NULL)
    return;

  stop_process (lb->client);
  if (lb->clients != NULL)
    for (guint i = 0; i < lb->clients->len; i++)
      stop_process (((NtsLoopbackClient *) lb->clients->pdata[i])->process);
  if (lb->servers != NULL)
    for (guint i = 0; i < lb->servers->len; i++)
      stop_process (((Server *) lb->servers->pdata[i])->process);

  if (lb->dir != NULL && g_getenv ("NTS_LOOPBACK_KEEP") == NULL)
    remove_tree (lb->dir);
  else if (lb->dir != NULL)
    g_printerr ("# nts-loopback: kept %s\n", lb->dir);

  if (lb->guardian_in != NULL)
    {
      (void) g_output_stream_write_all (lb->guardian_in, "clean\n", 6, NULL, NULL, NULL);
      (void) g_output_stream_close (lb->guardian_in, NULL, NULL);
      g_object_unref (lb->guardian_in);
    }
  if (lb->guardian != NULL)
    {
      if (!wait_gone (lb->guardian, STOP_TIMEOUT_US))
        g_subprocess_force_exit (lb->guardian);
      g_object_unref (lb->guardian);
    }

  g_clear_object (&lb->client);
  g_clear_pointer (&lb->clients, g_ptr_array_unref);
  g_clear_pointer (&lb->servers, g_ptr_array_unref);
  g_free (lb->client_socket);
  g_free (lb->chronyd);
  g_free (lb->chronyc);
  g_free (lb->dir);
  g_free (lb);
}

char *
nts_loopback_read_log (NtsLoopback *lb, const char *address)
{
  g_autofree char *name = address ? g_strdup_printf ("s-%s.log", address) : g_strdup ("client.log");
  g_autofree char *path = path_in (lb, name);
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return g_strdup ("");
  return contents;
}

static gboolean
died_early (NtsLoopback *lb, GSubprocess *process, const char *address, const char *what, GError **error)
{
  g_autofree char *log = NULL;

  if (g_subprocess_get_identifier (process) != NULL)
    return FALSE;
  log = nts_loopback_read_log (lb, address);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s exited while starting:\n%s", what, log);
  return TRUE;
}

gboolean
nts_loopback_add_server (NtsLoopback           *lb,
                         const char            *address,
                         NtsLoopbackServerKind  kind,
                         GError               **error)
{
  Server *server;
  g_autofree char *conf_name = g_strdup_printf ("s-%s.conf", address);
  g_autofree char *conf_path = path_in (lb, conf_name);
  g_autofree char *log_name = g_strdup_printf ("s-%s.log", address);
  g_autofree char *log_path = path_in (lb, log_name);
  g_autofree char *conf = NULL;
  g_autofree char *dump_dir = NULL;
  gint64 until;

  g_return_val_if_fail (lb->client == NULL, FALSE);

  server = g_new0 (Server, 1);
  server->address = g_strdup (address);
  server->kind = kind;
  g_ptr_array_add (lb->servers, server);

  server->nts_port = pick_port (address, SOCK_STREAM, error);
  if (server->nts_port == 0)
    return FALSE;
  if (kind == NTS_LOOPBACK_SERVER_KE_CLOSED)
    return TRUE;   /* the point is that nothing listens there */

  /* A non-default NTP port travels to the client in the NTS-KE reply. With
   * `port 0` there is no NTP server and no port record, so the client sends
   * to 123 where nothing answers. */
  if (kind != NTS_LOOPBACK_SERVER_NTP_SILENT)
    {
      server->ntp_port = pick_port (address, SOCK_DGRAM, error);
      if (server->ntp_port == 0)
        return FALSE;
    }

  if (!make_server_cert (lb, address, kind == NTS_LOOPBACK_SERVER_UNTRUSTED ? "other-ca" : "ca", error))
    return FALSE;

  dump_dir = g_strdup_printf ("%s/s-%s-nts", lb->dir, address);
  if (mkdir (dump_dir, 0700) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "Cannot create %s: %s",
                   dump_dir, g_strerror (errsv));
      return FALSE;
    }

  conf = g_strdup_printf (
    "bindaddress %s\n"
    "allow 127.0.0.0/8\n"
    "local stratum 1\n"
    "port %u\n"
    "ntsport %u\n"
    "ntsserverkey %s/s-%s.key\n"
    "ntsservercert %s/s-%s.crt\n"
    "ntsdumpdir %s\n"
    "bindcmdaddress %s/s-%s.sock\n"
    "cmdport 0\n"
    "pidfile %s/s-%s.pid\n"
    "driftfile %s/s-%s.drift\n",
    address, server->ntp_port, server->nts_port,
    lb->dir, address, lb->dir, address, dump_dir,
    lb->dir, address, lb->dir, address, lb->dir, address);
  if (!g_file_set_contents (conf_path, conf, -1, error))
    return FALSE;

  {
    const char *const argv[] = { lb->chronyd, "-x", "-4", "-u", "root", "-d", "-f", conf_path, NULL };
    server->process = spawn_daemon (lb, log_path, argv, error);
    if (server->process == NULL)
      return FALSE;
  }

  /* Ready when the NTS-KE port accepts: NTS-KE is set up last at start. */
  until = g_get_monotonic_time () + READY_TIMEOUT_US;
  while (!tcp_accepts (address, server->nts_port))
    {
      if (died_early (lb, server->process, address, "NTS server chronyd", error))
        return FALSE;
      if (g_get_monotonic_time () >= until)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "NTS server on %s:%u not ready in time", address, server->nts_port);
          return FALSE;
        }
      g_usleep (POLL_INTERVAL_US);
    }
  return TRUE;
}

static gboolean
make_dir (const char *path, int mode, GError **error)
{
  if (g_mkdir_with_parents (path, mode) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "Cannot create %s: %s",
                   path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

static gboolean
wanted (const char * const *addresses, const char *address)
{
  return addresses == NULL || g_strv_contains (addresses, address);
}

/* Starts @client's chronyd and waits, bounded, until its socket answers. */
static gboolean
launch_client (NtsLoopback *lb, NtsLoopbackClient *client, GError **error)
{
  const char *const argv[] = { lb->chronyd, "-x", "-4", "-u", "root", "-d",
                               "-f", client->config_path, NULL };
  gint64 until;

  g_clear_object (&client->process);
  client->process = spawn_daemon (lb, client->log_path, argv, error);
  if (client->process == NULL)
    return FALSE;

  until = g_get_monotonic_time () + READY_TIMEOUT_US;
  while (!unix_dgram_accepts (client->socket_path))
    {
      if (g_subprocess_get_identifier (client->process) == NULL)
        {
          g_autofree char *log = nts_loopback_client_read_log (lb, client);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "client chronyd %s exited while starting:\n%s", client->name, log);
          return FALSE;
        }
      if (g_get_monotonic_time () >= until)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "client chronyd's socket %s not ready in time", client->socket_path);
          return FALSE;
        }
      g_usleep (POLL_INTERVAL_US);
    }
  return TRUE;
}

NtsLoopbackClient *
nts_loopback_add_client (NtsLoopback                 *lb,
                         const NtsLoopbackClientSpec *spec,
                         GError                     **error)
{
  g_autoptr(GString) conf = g_string_new (NULL);
  g_autofree char *dump_name = NULL;
  g_autofree char *dump_dir = NULL;
  g_autofree char *log_name = NULL;
  g_autofree char *socket_dir = NULL;
  g_autofree char *config_dir = NULL;
  NtsLoopbackClient *client;

  g_return_val_if_fail (spec != NULL && spec->name != NULL, NULL);

  client = g_new0 (NtsLoopbackClient, 1);
  g_ptr_array_add (lb->clients, client);
  client->name = g_strdup (spec->name);
  log_name = g_strdup_printf ("%s.log", spec->name);
  client->log_path = path_in (lb, log_name);
  client->socket_path = spec->socket_path ? g_strdup (spec->socket_path)
                                          : g_strdup_printf ("%s/%s.sock", lb->dir, spec->name);
  client->config_path = spec->config_path ? g_strdup (spec->config_path)
                                          : g_strdup_printf ("%s/%s.conf", lb->dir, spec->name);
  dump_name = g_strdup_printf ("%s-nts", spec->name);
  dump_dir = spec->dump_dir ? g_strdup (spec->dump_dir) : path_in (lb, dump_name);
  socket_dir = g_path_get_dirname (client->socket_path);
  config_dir = g_path_get_dirname (client->config_path);

  if (strlen (client->socket_path) >= sizeof ((struct sockaddr_un *) NULL)->sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "socket path %s is too long for a Unix socket", client->socket_path);
      return NULL;
    }
  if (!make_dir (dump_dir, 0700, error) || !make_dir (socket_dir, 0700, error) ||
      !make_dir (config_dir, 0755, error))
    return NULL;

  for (guint i = 0; i < lb->servers->len; i++)
    {
      Server *server = lb->servers->pdata[i];
      if (wanted (spec->servers, server->address))
        g_string_append_printf (conf, "server %s iburst nts ntsport %u\n",
                                server->address, server->nts_port);
    }
  for (gsize i = 0; spec->extra_lines != NULL && spec->extra_lines[i] != NULL; i++)
    g_string_append_printf (conf, "%s\n", spec->extra_lines[i]);
  g_string_append_printf (conf,
    "ntstrustedcerts %s/ca.crt\n"
    "nosystemcert\n"
    "authselectmode require\n"
    "minsources %u\n"
    "port 0\n"
    "cmdport 0\n"
    "bindcmdaddress %s\n"
    "pidfile %s/%s.pid\n"
    "driftfile %s/%s.drift\n"
    "ntsdumpdir %s\n",
    lb->dir, spec->minsources, client->socket_path, lb->dir, spec->name,
    lb->dir, spec->name, dump_dir);
  if (!g_file_set_contents (client->config_path, conf->str, -1, error))
    return NULL;

  return launch_client (lb, client, error) ? client : NULL;
}

gboolean
nts_loopback_start_client (NtsLoopback  *lb,
                           guint         minsources,
                           GError      **error)
{
  g_autofree char *conf_path = path_in (lb, "client.conf");
  NtsLoopbackClientSpec spec = {
    .name = "client",
    .minsources = minsources,
    .socket_path = lb->client_socket,
    .config_path = conf_path,
  };
  NtsLoopbackClient *client;

  g_return_val_if_fail (lb->client == NULL, FALSE);

  client = nts_loopback_add_client (lb, &spec, error);
  if (client == NULL)
    return FALSE;
  lb->client = g_object_ref (client->process);
  return TRUE;
}

const char *
nts_loopback_client_get_socket (NtsLoopbackClient *client)
{
  return client->socket_path;
}

const char *
nts_loopback_client_get_config (NtsLoopbackClient *client)
{
  return client->config_path;
}

char *
nts_loopback_client_read_log (NtsLoopback *lb, NtsLoopbackClient *client)
{
  char *contents = NULL;

  if (!g_file_get_contents (client->log_path, &contents, NULL, NULL))
    return g_strdup ("");
  return contents;
}

void
nts_loopback_client_stop (NtsLoopbackClient *client)
{
  stop_process (client->process);
}

gboolean
nts_loopback_client_restart (NtsLoopback *lb, NtsLoopbackClient *client, GError **error)
{
  stop_process (client->process);
  return launch_client (lb, client, error);
}

const char *
nts_loopback_get_dir (NtsLoopback *lb)
{
  return lb->dir;
}

const char *
nts_loopback_get_client_socket (NtsLoopback *lb)
{
  return lb->client_socket;
}

const char *
nts_loopback_get_chronyc (NtsLoopback *lb)
{
  return lb->chronyc;
}

static gboolean
run_chronyc (NtsLoopback         *lb,
             const char          *socket_path,
             const char * const  *args,
             char               **output,
             GError             **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL, *err = NULL;
  int status;

  g_ptr_array_add (argv, lb->chronyc);
  g_ptr_array_add (argv, (gpointer) "-h");
  g_ptr_array_add (argv, (gpointer) socket_path);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  /* chronyc bounds its own waits (1 + 2 + 4 s) before giving up. */
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "chronyc %s failed: %s%s",
                   args[0], out, err);
      return FALSE;
    }
  *output = g_steal_pointer (&out);
  return TRUE;
}

gboolean
nts_loopback_chronyc (NtsLoopback         *lb,
                      const char * const  *args,
                      char               **output,
                      GError             **error)
{
  return run_chronyc (lb, lb->client_socket, args, output, error);
}

gboolean
nts_loopback_client_chronyc (NtsLoopback         *lb,
                             NtsLoopbackClient   *client,
                             const char * const  *args,
                             char               **output,
                             GError             **error)
{
  return run_chronyc (lb, client->socket_path, args, output, error);
}
