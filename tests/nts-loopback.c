/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Loopback NTS test bed; see nts-loopback.h. */
#include "nts-loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
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

typedef struct _KissResponder KissResponder;

/* clang-format off */
typedef struct {
  char                 *address;
  NtsLoopbackServerKind kind;
  guint16               ntp_port;  /* 0: no NTP server */
  guint16               nts_port;
  GSubprocess          *process;   /* NULL for KE_CLOSED */
  /* NEGOTIATED, NAK, KISS: where its clients' NTP goes (on ntp_port), and
   * what answers there. */
  char                 *ntp_address;
  GSubprocess          *backend;   /* NEGOTIATED, NAK: the second chronyd */
  KissResponder        *responder; /* KISS */
  /* LOCALHOST: it listens on ::1 too. */
  gboolean              also_ipv6;
  /* NTP_DROPPED: the UDP socket holding its NTP port, and what was read. */
  int                   held_fd;
  guint64               dropped;
} Server;
/* clang-format on */

struct _NtsLoopbackClient {
  char        *name;
  char        *socket_path;
  char        *config_path;
  char        *log_path;
  GSubprocess *process;
};

/* clang-format off */
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
  char          *ca_file;
};
/* clang-format on */

static void kiss_responder_free (KissResponder *responder);

static void
server_free (Server *server)
{
  g_free (server->address);
  g_clear_object (&server->process);
  g_free (server->ntp_address);
  g_clear_object (&server->backend);
  g_clear_pointer (&server->responder, kiss_responder_free);
  if (server->held_fd >= 0)
    close (server->held_fd);
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

/* openssl's form of a certificate date: 20210101000000Z. */
static char *
openssl_date (gint64 unix_seconds)
{
  g_autoptr(GDateTime) date = g_date_time_new_from_unix_utc (unix_seconds);
  return g_date_time_format (date, "%Y%m%d%H%M%SZ");
}

/* Signs @csr into @crt with chosen dates. `openssl x509 -req` of OpenSSL
 * 3.0 (Debian 12) only counts days from now; `openssl ca` takes dates, but
 * wants a little database of its own, kept beside the certificate. */
static gboolean
sign_dated (NtsLoopback *lb, const char *address, const char *csr, const char *crt,
            const char *ext_cnf, gint64 not_before, gint64 not_after, GError **error)
{
  g_autofree char *cnf = g_strdup_printf ("s-%s-ca.cnf", address);
  g_autofree char *index = g_strdup_printf ("s-%s-ca.index", address);
  g_autofree char *serial = g_strdup_printf ("s-%s-ca.serial", address);
  g_autofree char *issued = g_strdup_printf ("s-%s-ca.issued", address);
  g_autofree char *issued_path = path_in (lb, issued);
  g_autofree char *serial_hex = g_strdup_printf ("%08X\n", g_random_int ());
  g_autofree char *start = openssl_date (not_before);
  g_autofree char *end = openssl_date (not_after);
  g_autofree char *contents = g_strdup_printf ("[ca]\ndefault_ca = dated\n"
                                               "[dated]\ndatabase = %s\nserial = "
                                               "%s\nnew_certs_dir = %s\ndefault_md = sha256\n"
                                               "policy = any\nunique_subject = no\n"
                                               "[any]\ncommonName = supplied\n",
                                               index, serial, issued);
  const char *const args[] = { "ca",          "-batch", "-config",  cnf, "-cert",    "ca.crt",
                               "-keyfile",    "ca.key", "-in",      csr, "-out",     crt,
                               "-startdate",  start,    "-enddate", end, "-extfile", ext_cnf,
                               "-extensions", "v3_srv", "-notext",  NULL };

  if (mkdir (issued_path, 0700) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "Cannot create %s: %s",
                   issued_path, g_strerror (errsv));
      return FALSE;
    }
  return write_file (lb, cnf, contents, error) && write_file (lb, index, "", error) &&
         write_file (lb, serial, serial_hex, error) && run_openssl (lb, args, error);
}

/* s-ADDR.key / s-ADDR.crt for @address: what @kind says about its names,
 * its issuer and its dates. */
static gboolean
make_server_cert (NtsLoopback *lb, const char *address, NtsLoopbackServerKind kind,
                  GError **error)
{
  g_autofree char *dashed = g_strdelimit (g_strdup (address), ".:", '-');
  g_autofree char *cnf = g_strdup_printf ("s-%s.cnf", address);
  g_autofree char *key = g_strdup_printf ("s-%s.key", address);
  g_autofree char *csr = g_strdup_printf ("s-%s.csr", address);
  g_autofree char *crt = g_strdup_printf ("s-%s.crt", address);
  const char *ca_stem = kind == NTS_LOOPBACK_SERVER_UNTRUSTED ? "other-ca" : "ca";
  g_autofree char *ca_key = g_strdup_printf ("%s.key", ca_stem);
  g_autofree char *ca_crt = g_strdup_printf ("%s.crt", ca_stem);
  g_autofree char *serial = g_strdup_printf ("%u", g_random_int_range (1, G_MAXINT32));
  g_autofree char *cn = NULL;
  g_autofree char *san = NULL;
  g_autofree char *contents = NULL;

  /* The name and the address both: tests may configure either. */
  if (kind == NTS_LOOPBACK_SERVER_WRONG_NAME)
    {
      cn = g_strdup (NTS_LOOPBACK_WRONG_NAME);
      san = g_strdup ("DNS:" NTS_LOOPBACK_WRONG_NAME ", IP:192.0.2.1");
    }
  else
    {
      cn = g_strdup_printf ("nts-%s.test", dashed);
      san = kind == NTS_LOOPBACK_SERVER_LOCALHOST
              ? g_strdup_printf ("DNS:%s, DNS:localhost, IP:%s, IP:::1", cn, address)
              : g_strdup_printf ("DNS:%s, IP:%s", cn, address);
    }
  contents = g_strdup_printf ("[req]\ndistinguished_name = dn\nprompt = no\n"
                              "[dn]\nCN = %s\n"
                              "[v3_srv]\nbasicConstraints = critical, CA:FALSE\n"
                              "keyUsage = critical, digitalSignature\n"
                              "extendedKeyUsage = serverAuth\n"
                              "subjectAltName = %s\n",
                              cn, san);

  {
    const char *const req_args[] = { "req",     "-new",     "-newkey",
                                     "ec",      "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                     "-nodes",  "-config",  cnf,
                                     "-keyout", key,        "-out",
                                     csr,       NULL };
    const char *const sign_args[] = { "x509",        "-req", "-in",         csr,
                                      "-CA",         ca_crt, "-CAkey",      ca_key,
                                      "-set_serial", serial, "-days",       "2",
                                      "-extfile",    cnf,    "-extensions", "v3_srv",
                                      "-out",        crt,    NULL };

    if (!write_file (lb, cnf, contents, error) || !run_openssl (lb, req_args, error))
      return FALSE;
    switch (kind)
      {
      case NTS_LOOPBACK_SERVER_EXPIRED:
        return sign_dated (lb, address, csr, crt, cnf, NTS_LOOPBACK_EXPIRED_NOT_BEFORE,
                           NTS_LOOPBACK_EXPIRED_NOT_AFTER, error);
      case NTS_LOOPBACK_SERVER_NOT_YET_VALID:
        return sign_dated (lb, address, csr, crt, cnf, NTS_LOOPBACK_FUTURE_NOT_BEFORE,
                           NTS_LOOPBACK_FUTURE_NOT_AFTER, error);
      default:
        return run_openssl (lb, sign_args, error);
      }
  }
}

/* ---- ports -------------------------------------------------------------- */

static gboolean
port_free (const char *address, guint16 port, int type)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons (port) };
  int fd, ok;

  if (inet_pton (AF_INET6, address, &sa6.sin6_addr) == 1)
    {
      fd = socket (AF_INET6, type | SOCK_CLOEXEC, 0);
      if (fd < 0)
        return FALSE;
      ok = bind (fd, (struct sockaddr *) &sa6, sizeof sa6) == 0;
      close (fd);
      return ok;
    }
  if (inet_pton (AF_INET, address, &sa.sin_addr) != 1)
    return FALSE;
  fd = socket (AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  ok = bind (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
  close (fd);
  return ok;
}

/* A random high port free for @type on every address of @addresses (NULL
 * ends it; NULLs after the first are skipped by passing fewer): other test
 * runs on this machine may use the same loopback addresses at the same
 * time. */
static guint16
pick_port_on (const char *const *addresses, int type, GError **error)
{
  for (int i = 0; i < 100; i++)
    {
      guint16 port = (guint16) g_random_int_range (20000, 60000);
      gboolean free_everywhere = TRUE;

      for (gsize j = 0; addresses[j] != NULL && free_everywhere; j++)
        free_everywhere = port_free (addresses[j], port, type);
      if (free_everywhere)
        return port;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE, "No free port found on %s",
               addresses[0]);
  return 0;
}

static guint16
pick_port (const char *address, int type, GError **error)
{
  const char *const addresses[] = { address, NULL };
  return pick_port_on (addresses, type, error);
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

/* ---- kiss responder ----------------------------------------------------- */

/* A UDP responder answering every NTP request with a kiss-o'-death: what a
 * rate-limiting server sends, and chronyd 4.3 cannot be made to (see
 * NTS_LOOPBACK_SERVER_KISS). The answer is built as chronyd builds its NTS
 * NAK, the one kiss it does send (ntp_core.c, nts_ntp_server.c): leap
 * "unsynchronised", stratum 0, the code in the reference ID, the request's
 * transmit time as origin, and the request's Unique Identifier echoed,
 * without authenticator, since a kiss carries no cookie. */
struct _KissResponder {
  int fd;
  int stop_pipe[2];
  GThread *thread;
  gint packets; /* atomic */
};

#define NTP_HEADER_LEN   48
#define NTP_MAX_PACKET   1500
#define NTP_EF_UNIQUE_ID 0x0104
#define NTP_UNIX_EPOCH   G_GUINT64_CONSTANT (2208988800) /* 1900 to 1970, seconds */

static void
put_ntp_time (guint8 *at, gint64 unix_us)
{
  guint64 seconds = (guint64) (unix_us / G_USEC_PER_SEC) + NTP_UNIX_EPOCH;
  guint64 fraction = ((guint64) (unix_us % G_USEC_PER_SEC) << 32) / G_USEC_PER_SEC;
  guint32 be_seconds = GUINT32_TO_BE ((guint32) seconds);
  guint32 be_fraction = GUINT32_TO_BE ((guint32) fraction);

  memcpy (at, &be_seconds, 4);
  memcpy (at + 4, &be_fraction, 4);
}

/* The kiss for @request, or 0 for something that is not an NTP client
 * request (left unanswered). */
static gsize
build_kiss (const guint8 *request, gsize length, guint8 *reply, gsize size)
{
  gsize reply_length = NTP_HEADER_LEN;
  guint version = (request[0] >> 3) & 7;
  gint64 now = g_get_real_time ();

  if (length < NTP_HEADER_LEN || (request[0] & 7) != 3 || size < NTP_HEADER_LEN)
    return 0;

  memset (reply, 0, NTP_HEADER_LEN);
  reply[0] = (guint8) (3 << 6 | version << 3 | 4); /* unsynchronised, server */
  reply[1] = 0;                                    /* stratum 0: a kiss */
  reply[2] = request[2];
  reply[3] = (guint8) -20;
  memcpy (reply + 12, NTS_LOOPBACK_KISS_CODE, 4);
  memcpy (reply + 24, request + 40, 8); /* origin: the request's transmit */
  put_ntp_time (reply + 32, now);
  put_ntp_time (reply + 40, now);

  /* Extension fields (RFC 7822): type, length of the whole field, body. */
  for (gsize at = NTP_HEADER_LEN; at + 4 <= length;)
    {
      guint type = (guint) request[at] << 8 | request[at + 1];
      gsize field_length = (gsize) request[at + 2] << 8 | request[at + 3];

      if (field_length < 4 || field_length % 4 != 0 || field_length > length - at)
        break;
      if (type == NTP_EF_UNIQUE_ID && reply_length + field_length <= size)
        {
          memcpy (reply + reply_length, request + at, field_length);
          reply_length += field_length;
          break;
        }
      at += field_length;
    }
  return reply_length;
}

static gpointer
kiss_responder_run (gpointer data)
{
  KissResponder *responder = data;
  guint8 request[NTP_MAX_PACKET], reply[NTP_MAX_PACKET];

  for (;;)
    {
      struct pollfd fds[] = { { .fd = responder->fd, .events = POLLIN },
                              { .fd = responder->stop_pipe[0], .events = POLLIN } };
      struct sockaddr_storage from;
      socklen_t from_length = sizeof from;
      ssize_t length;
      gsize reply_length;

      if (poll (fds, G_N_ELEMENTS (fds), -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (fds[1].revents != 0)
        break;
      length = recvfrom (responder->fd, request, sizeof request, MSG_DONTWAIT,
                         (struct sockaddr *) &from, &from_length);
      if (length < 0)
        continue;
      g_atomic_int_inc (&responder->packets);
      reply_length = build_kiss (request, (gsize) length, reply, sizeof reply);
      if (reply_length > 0)
        (void) sendto (responder->fd, reply, reply_length, 0, (struct sockaddr *) &from,
                       from_length);
    }
  return NULL;
}

static KissResponder *
kiss_responder_new (const char *address, guint16 port, GError **error)
{
  g_autofree KissResponder *responder = g_new0 (KissResponder, 1);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  int errsv;

  if (inet_pton (AF_INET, address, &sa.sin_addr) != 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s is not an IPv4 address",
                   address);
      return NULL;
    }
  responder->fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (responder->fd < 0 || bind (responder->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      errsv = errno;
      if (responder->fd >= 0)
        close (responder->fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Cannot listen on UDP %s:%u: %s", address, port, g_strerror (errsv));
      return NULL;
    }
  if (!g_unix_open_pipe (responder->stop_pipe, FD_CLOEXEC, error))
    {
      close (responder->fd);
      return NULL;
    }
  responder->thread = g_thread_new ("kiss-responder", kiss_responder_run, responder);
  return g_steal_pointer (&responder);
}

static void
kiss_responder_free (KissResponder *responder)
{
  (void) write (responder->stop_pipe[1], "", 1);
  g_thread_join (responder->thread);
  close (responder->stop_pipe[0]);
  close (responder->stop_pipe[1]);
  close (responder->fd);
  g_free (responder);
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

  if (!make_ca (lb, "ca", NTS_LOOPBACK_CA_NAME, error) ||
      !make_ca (lb, "other-ca", NTS_LOOPBACK_OTHER_CA_NAME, error))
    return NULL;
  lb->ca_file = path_in (lb, "ca.crt");

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
      {
        Server *server = lb->servers->pdata[i];
        stop_process (server->process);
        stop_process (server->backend);
        g_clear_pointer (&server->responder, kiss_responder_free);
      }

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
  g_free (lb->ca_file);
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

/* A chronyd that was to start and exited: the error, with its log. */
static gboolean
died_early (GSubprocess *process, const char *log_path, const char *what, GError **error)
{
  g_autofree char *log = NULL;

  if (g_subprocess_get_identifier (process) != NULL)
    return FALSE;
  if (!g_file_get_contents (log_path, &log, NULL, NULL))
    log = g_strdup ("");
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s exited while starting:\n%s", what, log);
  return TRUE;
}

/* Whether "localhost" resolves to ::1 here (Debian's /etc/hosts says so;
 * some containers' do not). */
static gboolean
localhost_has_ipv6 (void)
{
  struct addrinfo hints = { .ai_family = AF_INET6, .ai_socktype = SOCK_STREAM };
  struct addrinfo *result = NULL;
  gboolean found = FALSE;

  if (getaddrinfo ("localhost", NULL, &hints, &result) != 0)
    return FALSE;
  for (struct addrinfo *ai = result; ai != NULL && !found; ai = ai->ai_next)
    found = ai->ai_family == AF_INET6 &&
            IN6_IS_ADDR_LOOPBACK (&((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr);
  freeaddrinfo (result);
  return found;
}

/* How one NTS server chronyd is set up. Its files are @stem.conf, .log,
 * .sock, .pid, .drift and the dump directory @stem-nts. */
typedef struct {
  const char *stem;
  const char *address;
  const char *ipv6_address; /* a second bindaddress, or NULL (then -4) */
  guint16 ntp_port;         /* 0: no NTP server */
  guint16 nts_port;
  const char *cert_stem;  /* its key and certificate: @cert_stem.key, .crt */
  const char *ntp_server; /* `ntsntpserver`, or NULL */
  const char *keys_from;  /* a dump directory whose ntskeys it starts with */
} ChronydServer;

static gboolean
copy_file (const char *from, const char *to, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length;

  return g_file_get_contents (from, &contents, &length, error) &&
         g_file_set_contents_full (to, contents, (gssize) length, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0600, error);
}

/* Waits, bounded, until @path exists (a file chronyd writes by renaming). */
static gboolean
wait_for_file (GSubprocess *process, const char *path, const char *log_path, GError **error)
{
  gint64 until = g_get_monotonic_time () + READY_TIMEOUT_US;

  while (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (died_early (process, log_path, "NTS server chronyd", error))
        return FALSE;
      if (g_get_monotonic_time () >= until)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s not written in time", path);
          return FALSE;
        }
      g_usleep (POLL_INTERVAL_US);
    }
  return TRUE;
}

/* Writes its configuration, starts it and waits, bounded, until its NTS-KE
 * port accepts connections. */
static GSubprocess *
start_chronyd_server (NtsLoopback *lb, const ChronydServer *spec, GError **error)
{
  g_autofree char *conf_name = g_strdup_printf ("%s.conf", spec->stem);
  g_autofree char *conf_path = path_in (lb, conf_name);
  g_autofree char *log_name = g_strdup_printf ("%s.log", spec->stem);
  g_autofree char *log_path = path_in (lb, log_name);
  g_autofree char *dump_name = g_strdup_printf ("%s-nts", spec->stem);
  g_autofree char *dump_dir = path_in (lb, dump_name);
  g_autoptr(GString) conf = g_string_new (NULL);
  g_autoptr(GSubprocess) process = NULL;
  gint64 until;

  if (mkdir (dump_dir, 0700) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "Cannot create %s: %s",
                   dump_dir, g_strerror (errsv));
      return NULL;
    }
  if (spec->keys_from != NULL)
    {
      g_autofree char *from = g_build_filename (spec->keys_from, "ntskeys", NULL);
      g_autofree char *to = g_build_filename (dump_dir, "ntskeys", NULL);
      if (!copy_file (from, to, error))
        return NULL;
    }

  g_string_append_printf (conf, "bindaddress %s\n", spec->address);
  if (spec->ipv6_address != NULL)
    g_string_append_printf (conf, "bindaddress %s\nallow %s\n", spec->ipv6_address,
                            spec->ipv6_address);
  if (spec->ntp_server != NULL)
    g_string_append_printf (conf, "ntsntpserver %s\n", spec->ntp_server);
  g_string_append_printf (conf,
                          "allow 127.0.0.0/8\n"
                          "local stratum 1\n"
                          "port %u\n"
                          "ntsport %u\n"
                          "ntsserverkey %s/%s.key\n"
                          "ntsservercert %s/%s.crt\n"
                          "ntsdumpdir %s\n"
                          "bindcmdaddress %s/%s.sock\n"
                          "cmdport 0\n"
                          "pidfile %s/%s.pid\n"
                          "driftfile %s/%s.drift\n",
                          spec->ntp_port, spec->nts_port, lb->dir, spec->cert_stem, lb->dir,
                          spec->cert_stem, dump_dir, lb->dir, spec->stem, lb->dir, spec->stem,
                          lb->dir, spec->stem);
  if (!g_file_set_contents (conf_path, conf->str, -1, error))
    return NULL;

  {
    g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
    g_auto(GStrv) argv = NULL;

    g_strv_builder_add_many (builder, lb->chronyd, "-x", "-u", "root", "-d", NULL);
    if (spec->ipv6_address == NULL)
      g_strv_builder_add (builder, "-4");
    g_strv_builder_add_many (builder, "-f", conf_path, NULL);
    argv = g_strv_builder_end (builder);
    process = spawn_daemon (lb, log_path, (const char *const *) argv, error);
    if (process == NULL)
      return NULL;
  }

  /* Ready when the NTS-KE port accepts: NTS-KE is set up last at start. */
  until = g_get_monotonic_time () + READY_TIMEOUT_US;
  while (!tcp_accepts (spec->address, spec->nts_port))
    {
      if (died_early (process, log_path, "NTS server chronyd", error))
        return NULL;
      if (g_get_monotonic_time () >= until)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "NTS server on %s:%u not ready in time", spec->address, spec->nts_port);
          return NULL;
        }
      g_usleep (POLL_INTERVAL_US);
    }
  return g_steal_pointer (&process);
}

/* A UDP socket bound to @address:@port, read only to count what came. */
static int
hold_udp_port (const char *address, guint16 port, GError **error)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd;

  if (inet_pton (AF_INET, address, &sa.sin_addr) != 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s is not an IPv4 address",
                   address);
      return -1;
    }
  fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "Cannot hold UDP %s:%u: %s",
                   address, port, g_strerror (errsv));
      return -1;
    }
  return fd;
}

static gboolean
sends_elsewhere (NtsLoopbackServerKind kind)
{
  return kind == NTS_LOOPBACK_SERVER_NEGOTIATED || kind == NTS_LOOPBACK_SERVER_NAK ||
         kind == NTS_LOOPBACK_SERVER_KISS;
}

/* The second chronyd of NEGOTIATED and NAK, or the kiss responder of KISS,
 * on @server's ntp_address and ntp_port. */
static gboolean
start_ntp_elsewhere (NtsLoopback *lb, Server *server, GError **error)
{
  g_autofree char *stem = g_strdup_printf ("s-%s-ntp", server->address);
  g_autofree char *cert_stem = g_strdup_printf ("s-%s", server->address);
  g_autofree char *keys_from = g_strdup_printf ("%s/s-%s-nts", lb->dir, server->address);
  g_autofree char *keys_file = g_build_filename (keys_from, "ntskeys", NULL);
  g_autofree char *log_name = g_strdup_printf ("s-%s.log", server->address);
  g_autofree char *log_path = path_in (lb, log_name);
  ChronydServer spec = {
    .stem = stem,
    .address = server->ntp_address,
    .ntp_port = server->ntp_port,
    .cert_stem = cert_stem, /* it needs one to serve NTS at all; no one asks for it */
  };

  if (server->kind == NTS_LOOPBACK_SERVER_KISS)
    {
      server->responder = kiss_responder_new (server->ntp_address, server->ntp_port, error);
      return server->responder != NULL;
    }

  spec.nts_port = pick_port (server->ntp_address, SOCK_STREAM, error);
  if (spec.nts_port == 0)
    return FALSE;
  /* The first chronyd writes its server keys into its dump directory as it
   * starts; NEGOTIATED starts the second one with a copy of them, as
   * chrony's documentation says servers sharing keys do. */
  if (server->kind == NTS_LOOPBACK_SERVER_NEGOTIATED)
    {
      if (!wait_for_file (server->process, keys_file, log_path, error))
        return FALSE;
      spec.keys_from = keys_from;
    }
  server->backend = start_chronyd_server (lb, &spec, error);
  return server->backend != NULL;
}

static gboolean
add_server (NtsLoopback *lb, const char *address, NtsLoopbackServerKind kind,
            const char *ntp_address, guint16 nts_port, GError **error)
{
  Server *server;
  g_autofree char *stem = g_strdup_printf ("s-%s", address);
  const char *ipv6_address = NULL;
  ChronydServer spec = { .stem = stem, .address = address, .cert_stem = stem };

  g_return_val_if_fail (lb->client == NULL, FALSE);

  server = g_new0 (Server, 1);
  server->address = g_strdup (address);
  server->kind = kind;
  server->ntp_address = g_strdup (ntp_address);
  server->held_fd = -1;
  g_ptr_array_add (lb->servers, server);

  if (kind == NTS_LOOPBACK_SERVER_LOCALHOST && localhost_has_ipv6 ())
    ipv6_address = "::1";
  server->also_ipv6 = ipv6_address != NULL;

  /* Ports free on every address it listens on (at most two of these). */
  {
    const char *const addresses[] = { address, ipv6_address, NULL };
    server->nts_port = nts_port != 0 ? nts_port : pick_port_on (addresses, SOCK_STREAM, error);
    if (server->nts_port == 0)
      return FALSE;
  }
  if (kind == NTS_LOOPBACK_SERVER_KE_CLOSED)
    return TRUE; /* the point is that nothing listens there */

  /* A non-default NTP port travels to the client in the NTS-KE reply. With
   * `port 0` there is no NTP server, and the record says port 0, which
   * clients take for 123, where nothing answers. The one that sends
   * clients elsewhere negotiates its own `port`: so it must be free both
   * here and there. */
  if (kind != NTS_LOOPBACK_SERVER_NTP_SILENT)
    {
      const char *const addresses[] = { address,
                                        ipv6_address != NULL ? ipv6_address : ntp_address,
                                        NULL };
      server->ntp_port = pick_port_on (addresses, SOCK_DGRAM, error);
      if (server->ntp_port == 0)
        return FALSE;
    }

  if (!make_server_cert (lb, address, kind, error))
    return FALSE;
  if (kind == NTS_LOOPBACK_SERVER_NTP_DROPPED)
    {
      server->held_fd = hold_udp_port (address, server->ntp_port, error);
      if (server->held_fd < 0)
        return FALSE;
    }

  spec.ipv6_address = ipv6_address;
  spec.ntp_port = server->ntp_port;
  spec.nts_port = server->nts_port;
  spec.ntp_server = ntp_address;
  server->process = start_chronyd_server (lb, &spec, error);
  if (server->process == NULL)
    return FALSE;

  return !sends_elsewhere (kind) || start_ntp_elsewhere (lb, server, error);
}

gboolean
nts_loopback_add_server (NtsLoopback *lb, const char *address, NtsLoopbackServerKind kind,
                         GError **error)
{
  g_return_val_if_fail (!sends_elsewhere (kind), FALSE);
  return add_server (lb, address, kind, NULL, 0, error);
}

gboolean
nts_loopback_add_server_at_port (NtsLoopback *lb, const char *address,
                                 NtsLoopbackServerKind kind, guint16 nts_port, GError **error)
{
  g_return_val_if_fail (!sends_elsewhere (kind) && kind != NTS_LOOPBACK_SERVER_LOCALHOST, FALSE);
  g_return_val_if_fail (nts_port != 0, FALSE);
  if (!port_free (address, nts_port, SOCK_STREAM))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE, "%s:%u is taken", address,
                   nts_port);
      return FALSE;
    }
  return add_server (lb, address, kind, NULL, nts_port, error);
}

gboolean
nts_loopback_add_server_via (NtsLoopback *lb, const char *address, NtsLoopbackServerKind kind,
                             const char *ntp_address, GError **error)
{
  g_return_val_if_fail (sends_elsewhere (kind) && ntp_address != NULL, FALSE);
  return add_server (lb, address, kind, ntp_address, 0, error);
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

static Server *
find_server (NtsLoopback *lb, const char *address)
{
  for (guint i = 0; i < lb->servers->len; i++)
    {
      Server *server = lb->servers->pdata[i];
      if (g_str_equal (server->address, address))
        return server;
    }
  return NULL;
}

guint16
nts_loopback_get_nts_port (NtsLoopback *lb, const char *address)
{
  Server *server = find_server (lb, address);
  return server != NULL ? server->nts_port : 0;
}

gboolean
nts_loopback_get_ntp_target (NtsLoopback *lb, const char *address, const char **ntp_address,
                             guint16 *ntp_port)
{
  Server *server = find_server (lb, address);

  if (server == NULL || server->kind == NTS_LOOPBACK_SERVER_KE_CLOSED)
    return FALSE;
  *ntp_address = server->ntp_address != NULL ? server->ntp_address : server->address;
  /* NTP_SILENT negotiates port 0: the default port to a client. */
  *ntp_port = server->kind == NTS_LOOPBACK_SERVER_NTP_SILENT ? 123 : server->ntp_port;
  return TRUE;
}

const char *
nts_loopback_get_ca_file (NtsLoopback *lb)
{
  return lb->ca_file;
}

/* Adds the counters of `chronyc serverstats` from the chronyd on @socket_name. */
static gboolean
add_chronyd_stats (NtsLoopback *lb, const char *socket_name, NtsLoopbackServerStats *stats,
                   GError **error)
{
  static const struct {
    const char *label;
    gsize offset;
  } counters[] = {
    { "NTS-KE connections accepted", G_STRUCT_OFFSET (NtsLoopbackServerStats, ke_connections) },
    { "NTP packets received", G_STRUCT_OFFSET (NtsLoopbackServerStats, ntp_packets) },
  };
  const char *const args[] = { "serverstats", NULL };
  g_autofree char *socket_path = path_in (lb, socket_name);
  g_autofree char *output = NULL;
  g_auto(GStrv) lines = NULL;
  guint found = 0;

  if (!run_chronyc (lb, socket_path, args, &output, error))
    return FALSE;
  lines = g_strsplit (output, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (lines[i], ":", 2);

      if (g_strv_length (parts) != 2)
        continue;
      g_strstrip (parts[0]);
      for (gsize j = 0; j < G_N_ELEMENTS (counters); j++)
        {
          guint64 value;

          if (!g_str_equal (parts[0], counters[j].label))
            continue;
          if (!g_ascii_string_to_unsigned (g_strstrip (parts[1]), 10, 0, G_MAXUINT64, &value,
                                           error))
            return FALSE;
          G_STRUCT_MEMBER (guint64, stats, counters[j].offset) += value;
          found++;
        }
    }
  if (found != G_N_ELEMENTS (counters))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "chronyc serverstats without the counters expected:\n%s", output);
      return FALSE;
    }
  return TRUE;
}

gboolean
nts_loopback_get_server_stats (NtsLoopback *lb, const char *address,
                               NtsLoopbackServerStats *stats, GError **error)
{
  Server *server = find_server (lb, address);
  g_autofree char *socket_name = g_strdup_printf ("s-%s.sock", address);
  g_autofree char *backend_socket_name = g_strdup_printf ("s-%s-ntp.sock", address);

  *stats = (NtsLoopbackServerStats) { 0 };
  if (server == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No server on %s", address);
      return FALSE;
    }
  if (server->process == NULL)
    return TRUE;
  if (!add_chronyd_stats (lb, socket_name, stats, error))
    return FALSE;
  if (server->backend != NULL && !add_chronyd_stats (lb, backend_socket_name, stats, error))
    return FALSE;
  if (server->responder != NULL)
    stats->ntp_packets += (guint64) g_atomic_int_get (&server->responder->packets);
  if (server->held_fd >= 0)
    {
      guint8 packet[NTP_MAX_PACKET];

      while (recv (server->held_fd, packet, sizeof packet, 0) >= 0)
        server->dropped++;
      stats->ntp_packets += server->dropped;
    }
  return TRUE;
}
