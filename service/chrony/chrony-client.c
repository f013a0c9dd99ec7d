/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chronyd command socket client; see chrony-client.h. */
#include "chrony-client.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "safe-fs.h"   /* NtsSafeFd */
#include "task-tag.h"

/* Large enough for any datagram chronyd sends, and one byte more so that an
 * oversized one is noticed rather than silently cut to a valid length. */
#define RECV_BUF_LEN (NTS_CHRONY_PACKET_MAX_LEN + 1)

struct _NtsChronyClient {
  gatomicrefcount ref_count;
  GMutex          lock;             /* one request in flight per socket */
  int             fd;
  char           *socket_path;
  char           *local_path;
  /* The directory our socket was bound in, and its name there: it is
   * removed through them, never through a path chronyd's user could
   * have redirected since. */
  int             dir_fd;
  char           *local_name;
  guint           first_timeout_ms;
  guint           attempts;
  guint           fetch_timeout_ms;
};

static gint local_counter;

static void
set_errno_error (GError **error, int errsv, const char *what, const char *path)
{
  gint code;

  switch (errsv)
    {
    case ENOENT:
    case ECONNREFUSED:
    case ENOTSOCK:
    case EPROTOTYPE:
      code = NTS_CHRONY_ERROR_UNREACHABLE;
      break;
    case EACCES:
    case EPERM:
      code = NTS_CHRONY_ERROR_UNAUTHORISED;
      break;
    default:
      code = NTS_CHRONY_ERROR_FAILED;
      break;
    }
  g_set_error (error, NTS_CHRONY_ERROR, code, "%s %s: %s", what, path, g_strerror (errsv));
}

static gboolean
fill_sockaddr (struct sockaddr_un *sa, const char *path, GError **error)
{
  memset (sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  /* sun_path must hold the terminating NUL too. */
  if (strlen (path) >= sizeof sa->sun_path)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_INVALID_ARGUMENT,
                   "Socket path %s is %" G_GSIZE_FORMAT " bytes long; a Unix socket address holds at most %"
                   G_GSIZE_FORMAT, path, strlen (path), sizeof sa->sun_path - 1);
      return FALSE;
    }
  memcpy (sa->sun_path, path, strlen (path) + 1);
  return TRUE;
}

static NtsChronyClientBoundHook bound_hook;
static gpointer bound_hook_data;

void
nts_chrony_client_set_bound_hook_for_tests (NtsChronyClientBoundHook hook,
                                            gpointer                 user_data)
{
  bound_hook = hook;
  bound_hook_data = user_data;
}

/* Gives our freshly bound socket @name in @dir_fd mode 0666, so that
 * chronyd's user may send to it.
 *
 * The directory belongs to chronyd's user, who may rename or replace any
 * entry in it at any time, so the name is not trusted between bind() and
 * here: a chmod() by name would follow a symbolic link swapped in meanwhile
 * and make whatever root can reach world-writable. Instead the entry is
 * pinned with O_PATH | O_NOFOLLOW (a link is then opened as itself), checked
 * to be a socket root owns with no other name (a hard link to a file
 * elsewhere has two), and only that inode is changed.
 *
 * A umask around bind() would avoid the chmod altogether, but the umask is
 * per process and the daemon runs GLib worker threads that create files
 * meanwhile; fchmod() refuses O_PATH descriptors (EBADF) on the kernels we
 * support, while chmod() of the descriptor's /proc/self/fd entry reaches the
 * inode it pins, never a name.
 *
 * What the checks cannot tell apart: another socket that root owns, with a
 * single name, renamed into place from a directory chronyd's user can write
 * on the same file system. Such a socket gets 0666; chronyd's own command
 * socket already has that mode, and sockets grant nothing but connecting. */
static gboolean
make_socket_writable (int         dir_fd,
                      const char *name,
                      const char *path,
                      GError    **error)
{
  g_auto(NtsSafeFd) fd = -1;
  struct stat st;
  char proc_path[sizeof "/proc/self/fd/" + 3 * sizeof (int)];

  fd = openat (dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_FAILED,
                   "Our socket %s vanished before it could be made writable for chronyd: %s",
                   path, g_strerror (errsv));
      return FALSE;
    }
  if (fstat (fd, &st) < 0)
    {
      set_errno_error (error, errno, "Cannot inspect our socket", path);
      return FALSE;
    }
  if (!S_ISSOCK (st.st_mode) || st.st_uid != geteuid () || st.st_nlink != 1)
    {
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_FAILED,
                   "Our socket %s was replaced (now %s, owner %u, %u link%s) before it "
                   "could be made writable for chronyd; its directory's owner can do "
                   "that, so its mode was left alone",
                   path,
                   S_ISLNK (st.st_mode) ? "a symbolic link" :
                   S_ISSOCK (st.st_mode) ? "a socket" :
                   S_ISREG (st.st_mode) ? "a regular file" :
                   S_ISDIR (st.st_mode) ? "a directory" : "a special file",
                   (guint) st.st_uid, (guint) st.st_nlink, st.st_nlink == 1 ? "" : "s");
      return FALSE;
    }

  g_snprintf (proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
  if (chmod (proc_path, 0666) < 0)
    {
      int errsv = errno;
      g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_FAILED,
                   "Cannot make socket %s writable for chronyd through %s "
                   "(/proc must be mounted): %s", path, proc_path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

NtsChronyClient *
nts_chrony_client_new (const char  *socket_path,
                       GError     **error)
{
  g_autoptr(NtsChronyClient) client = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *local_name = NULL;
  g_auto(NtsSafeFd) dir_fd = -1;
  struct sockaddr_un server_sa, local_sa;

  g_return_val_if_fail (socket_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!fill_sockaddr (&server_sa, socket_path, error))
    return NULL;

  client = g_new0 (NtsChronyClient, 1);
  g_atomic_ref_count_init (&client->ref_count);
  g_mutex_init (&client->lock);
  client->fd = -1;
  client->dir_fd = -1;
  client->socket_path = g_strdup (socket_path);
  client->first_timeout_ms = NTS_CHRONY_CLIENT_DEFAULT_FIRST_TIMEOUT_MS;
  client->attempts = NTS_CHRONY_CLIENT_DEFAULT_ATTEMPTS;
  client->fetch_timeout_ms = NTS_CHRONY_CLIENT_DEFAULT_FETCH_TIMEOUT_MS;

  /* chronyd replies to our address, so we need a path it can reach; its
   * own directory is one chronyd's user can always reach, and only root and
   * that user may create files there. */
  dir = g_path_get_dirname (socket_path);
  local_name = g_strdup_printf ("ntssetupd.%d.%u.sock", (int) getpid (),
                                (guint) g_atomic_int_add (&local_counter, 1));
  {
    g_autofree char *local = g_build_filename (dir, local_name, NULL);
    if (!fill_sockaddr (&local_sa, local, error))
      return NULL;

    /* The directory is opened once, and the socket's mode is set through
     * it (make_socket_writable()). Its own name lives in a directory only
     * root writes (/run), so bind() by path lands in this same directory.
     * O_PATH: names are only looked up in it, never listed, so we ask for
     * no more than the search permission bind() needs anyway. */
    dir_fd = open (dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0)
      {
        set_errno_error (error, errno, "Cannot open chronyd's directory", dir);
        return NULL;
      }

    client->fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (client->fd < 0)
      {
        set_errno_error (error, errno, "Cannot create a socket for", socket_path);
        return NULL;
      }

    {
      int rc = bind (client->fd, (struct sockaddr *) &local_sa, sizeof local_sa);

      if (rc < 0 && errno == EADDRINUSE)
        {
          /* Our pid and counter make the name unique among live processes,
           * so a file already there was left by a dead process with our pid
           * (or planted). Removing a name never follows it: only the entry
           * goes, whatever it is. */
          (void) unlinkat (dir_fd, local_name, 0);
          rc = bind (client->fd, (struct sockaddr *) &local_sa, sizeof local_sa);
        }
      if (rc < 0)
        {
          set_errno_error (error, errno, "Cannot bind a socket at", local);
          return NULL;
        }
    }
    /* From here on the file exists and the free function removes it. */
    client->local_path = g_steal_pointer (&local);
  }

  /* From here on, the client removes its socket through the directory
   * it was bound in. */
  client->dir_fd = g_steal_fd (&dir_fd);
  client->local_name = g_steal_pointer (&local_name);

  if (bound_hook != NULL)
    bound_hook (client->local_path, bound_hook_data);

  /* bind() went by path, and chronyd will send to that path: the
   * directory's own name must still be the directory we opened (its
   * parent is root's in every layout we ship, but layout.conf may put
   * the socket deeper). */
  {
    struct stat by_path, by_fd;

    if (fstatat (AT_FDCWD, dir, &by_path, AT_SYMLINK_NOFOLLOW) < 0 ||
        fstat (client->dir_fd, &by_fd) < 0 ||
        by_path.st_dev != by_fd.st_dev || by_path.st_ino != by_fd.st_ino)
      {
        g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_FAILED,
                     "%s was replaced while our socket was bound in it; not using it", dir);
        return NULL;
      }
  }

  /* chronyd may run as its own user: it must be allowed to send to us.
   * The directory, not this file, is what keeps others out. */
  if (!make_socket_writable (client->dir_fd, client->local_name, client->local_path, error))
    return NULL;

  if (connect (client->fd, (struct sockaddr *) &server_sa, sizeof server_sa) < 0)
    {
      int errsv = errno;
      if (errsv == ENOENT || errsv == ECONNREFUSED)
        g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_UNREACHABLE,
                     "chronyd is not listening on %s: %s", socket_path, g_strerror (errsv));
      else
        set_errno_error (error, errsv, "Cannot connect to", socket_path);
      return NULL;
    }

  return g_steal_pointer (&client);
}

NtsChronyClient *
nts_chrony_client_ref (NtsChronyClient *client)
{
  g_return_val_if_fail (client != NULL, NULL);
  g_atomic_ref_count_inc (&client->ref_count);
  return client;
}

void
nts_chrony_client_unref (NtsChronyClient *client)
{
  if (client == NULL || !g_atomic_ref_count_dec (&client->ref_count))
    return;

  if (client->fd >= 0)
    close (client->fd);
  /* In the directory we bound in, by name: if chronyd's user replaced the
   * entry meanwhile, only that entry goes (never what a link points to),
   * and that user could have removed it anyway. */
  if (client->local_name != NULL && client->dir_fd >= 0)
    (void) unlinkat (client->dir_fd, client->local_name, 0);
  else if (client->local_path != NULL)
    (void) unlink (client->local_path);
  if (client->dir_fd >= 0)
    close (client->dir_fd);
  g_free (client->local_name);
  g_mutex_clear (&client->lock);
  g_free (client->socket_path);
  g_free (client->local_path);
  g_free (client);
}

const char *
nts_chrony_client_get_local_path (NtsChronyClient *client)
{
  return client->local_path;
}

void
nts_chrony_client_set_timeouts (NtsChronyClient *client,
                                guint            first_timeout_ms,
                                guint            attempts,
                                guint            fetch_timeout_ms)
{
  g_return_if_fail (client != NULL);
  g_mutex_lock (&client->lock);
  client->first_timeout_ms = MAX (first_timeout_ms, 1);
  /* More than 16 doublings would overflow and wait for days anyway. */
  client->attempts = CLAMP (attempts, 1, 16);
  client->fetch_timeout_ms = MAX (fetch_timeout_ms, 1);
  g_mutex_unlock (&client->lock);
}

/* Waits for @fd to become readable until @until (monotonic µs). Returns 1
 * when readable, 0 on timeout, -1 with @error set on cancellation/failure. */
static int
wait_readable (int fd, gint64 until, GCancellable *cancellable, GError **error)
{
  GPollFD fds[2] = { { .fd = fd, .events = G_IO_IN } };
  guint n_fds = 1;
  int ret = -1;

  if (cancellable != NULL && g_cancellable_make_pollfd (cancellable, &fds[1]))
    n_fds = 2;

  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      int timeout_ms, n;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (now >= until)
        {
          ret = 0;
          break;
        }
      /* Round up so that we never spin on a sub-millisecond remainder. */
      timeout_ms = (int) MIN ((until - now + 999) / 1000, G_MAXINT);

      n = g_poll (fds, n_fds, timeout_ms);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          set_errno_error (error, errno, "Cannot wait for chronyd on", "its socket");
          break;
        }
      if (n > 0 && (fds[0].revents & (G_IO_IN | G_IO_ERR | G_IO_HUP)))
        {
          ret = 1;
          break;
        }
      /* Otherwise the cancellable fired (checked above) or a spurious wake. */
    }

  if (n_fds == 2)
    g_cancellable_release_fd (cancellable);
  return ret;
}

/* The request loop. @answered is set when chronyd did reply, but with a
 * status that refuses the request: callers may carry on after those. */
static gboolean
transact (NtsChronyClient        *client,
          const NtsChronyRequest *request,
          gint64                  deadline,
          guint8                 *reply,
          gsize                   reply_size,
          gsize                  *reply_len,
          guint32                *sequence_out,
          gboolean               *answered,
          GCancellable           *cancellable,
          GError                **error)
{
  guint8 req_buf[NTS_CHRONY_REQUEST_MAX_LEN];
  g_autofree guint8 *buf = g_malloc (RECV_BUF_LEN);
  gint64 started = g_get_monotonic_time ();
  gboolean result = FALSE;

  *answered = FALSE;
  g_mutex_lock (&client->lock);

  for (guint attempt = 0; attempt < client->attempts; attempt++)
    {
      /* A fresh sequence number per send: a late reply to an earlier send is
       * then recognised and skipped instead of being taken as current. */
      guint32 sequence = g_random_int ();
      gint64 until = g_get_monotonic_time () + (gint64) client->first_timeout_ms * 1000 * (G_GINT64_CONSTANT (1) << attempt);
      gsize req_len;

      if (deadline > 0)
        until = MIN (until, deadline);

      req_len = nts_chrony_request_encode (request, sequence, (guint16) attempt,
                                           req_buf, sizeof req_buf, error);
      if (req_len == 0)
        goto out;

      if (send (client->fd, req_buf, req_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        {
          int errsv = errno;
          /* A full queue at chronyd is a lost datagram: wait and resend. */
          if (errsv != EAGAIN && errsv != EWOULDBLOCK && errsv != ENOBUFS && errsv != EINTR)
            {
              if (errsv == ECONNREFUSED || errsv == ENOENT || errsv == ENOTCONN)
                g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_UNREACHABLE,
                             "chronyd stopped listening on %s: %s", client->socket_path, g_strerror (errsv));
              else
                set_errno_error (error, errsv, "Cannot send to", client->socket_path);
              goto out;
            }
        }

      for (;;)
        {
          g_autoptr(GError) local_error = NULL;
          ssize_t n;
          int ready = wait_readable (client->fd, until, cancellable, error);

          if (ready < 0)
            goto out;
          if (ready == 0)
            break;  /* this attempt timed out */

          n = recv (client->fd, buf, RECV_BUF_LEN, MSG_DONTWAIT | MSG_TRUNC);
          if (n < 0)
            {
              int errsv = errno;
              if (errsv == EAGAIN || errsv == EWOULDBLOCK || errsv == EINTR)
                continue;
              if (errsv == ECONNREFUSED)
                g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_UNREACHABLE,
                             "chronyd stopped listening on %s", client->socket_path);
              else
                set_errno_error (error, errsv, "Cannot receive from", client->socket_path);
              goto out;
            }
          if ((gsize) n > RECV_BUF_LEN - 1 || (gsize) n > reply_size)
            {
              /* MSG_TRUNC reports the real length; our buffer holds one byte
               * more than chronyd's maximum so this is never a valid reply. */
              g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_BAD_REPLY,
                           "chronyd sent an oversized reply (%zd bytes)", n);
              goto out;
            }

          if (!nts_chrony_reply_validate (buf, (gsize) n, request->command, sequence, &local_error))
            {
              /* A stale reply to an earlier attempt: keep waiting. */
              if (g_error_matches (local_error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_MISMATCH))
                continue;
              /* Status errors come from a well-formed header: chronyd did
               * answer, it just said no. */
              *answered = (local_error->code == NTS_CHRONY_ERROR_NO_SUCH_SOURCE ||
                           local_error->code == NTS_CHRONY_ERROR_UNKNOWN_COMMAND ||
                           local_error->code == NTS_CHRONY_ERROR_UNAUTHORISED ||
                           local_error->code == NTS_CHRONY_ERROR_FAILED);
              g_propagate_error (error, g_steal_pointer (&local_error));
              goto out;
            }

          memcpy (reply, buf, (gsize) n);
          *reply_len = (gsize) n;
          if (sequence_out != NULL)
            *sequence_out = sequence;
          result = TRUE;
          goto out;
        }

      if (deadline > 0 && g_get_monotonic_time () >= deadline)
        break;
    }

  g_set_error (error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_TIMEOUT,
               "chronyd did not answer on %s within %.1f s",
               client->socket_path, (g_get_monotonic_time () - started) / 1e6);

out:
  g_mutex_unlock (&client->lock);
  return result;
}

gboolean
nts_chrony_client_request (NtsChronyClient        *client,
                           const NtsChronyRequest *request,
                           guint8                 *reply,
                           gsize                   reply_size,
                           gsize                  *reply_len,
                           guint32                *sequence,
                           GCancellable           *cancellable,
                           GError                **error)
{
  gboolean answered;

  g_return_val_if_fail (client != NULL, FALSE);
  g_return_val_if_fail (request != NULL && reply != NULL && reply_len != NULL, FALSE);

  return transact (client, request, 0, reply, reply_size, reply_len, sequence,
                   &answered, cancellable, error);
}

/* One request of fetch_report, decoded. */
static gboolean
ask (NtsChronyClient        *client,
     const NtsChronyRequest *request,
     gint64                  deadline,
     gpointer                out,
     gboolean               *answered,
     GCancellable           *cancellable,
     GError                **error)
{
  guint8 reply[NTS_CHRONY_PACKET_MAX_LEN];
  gsize len = 0;
  guint32 seq = 0;
  gboolean dummy;

  if (answered == NULL)
    answered = &dummy;

  if (!transact (client, request, deadline, reply, sizeof reply, &len, &seq,
                 answered, cancellable, error))
    return FALSE;

  /* Already validated; decoding cannot fail now, but keep the checks. */
  switch (request->command)
    {
    case NTS_CHRONY_CMD_N_SOURCES:
      return nts_chrony_decode_n_sources (reply, len, seq, out, error);
    case NTS_CHRONY_CMD_SOURCE_DATA:
      return nts_chrony_decode_source_data (reply, len, seq, out, error);
    case NTS_CHRONY_CMD_TRACKING:
      return nts_chrony_decode_tracking (reply, len, seq, out, error);
    case NTS_CHRONY_CMD_NTP_DATA:
      return nts_chrony_decode_ntp_data (reply, len, seq, out, error);
    case NTS_CHRONY_CMD_AUTH_DATA:
      return nts_chrony_decode_auth_data (reply, len, seq, out, error);
    case NTS_CHRONY_CMD_NTP_SOURCE_NAME:
      return nts_chrony_decode_ntp_source_name (reply, len, seq, out, error);
    default:
      g_assert_not_reached ();
    }
}

/* ---- the report --------------------------------------------------------- */

static void
source_report_free (NtsChronySourceReport *sr)
{
  g_free (sr->name);
  g_clear_error (&sr->name_error);
  g_clear_error (&sr->ntp_data_error);
  g_clear_error (&sr->auth_data_error);
  g_free (sr);
}

void
nts_chrony_report_free (NtsChronyReport *report)
{
  if (report == NULL)
    return;
  g_clear_pointer (&report->sources, g_ptr_array_unref);
  g_free (report);
}

/* Runs one optional per-source request: a refusal is recorded in
 * @field_error, anything else (chronyd gone, timeout) fails the fetch. */
static gboolean
ask_optional (NtsChronyClient        *client,
              const NtsChronyRequest *request,
              gint64                  deadline,
              gpointer                out,
              gboolean               *have,
              GError                **field_error,
              GCancellable           *cancellable,
              GError                **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean answered = FALSE;

  if (ask (client, request, deadline, out, &answered, cancellable, &local_error))
    {
      if (have != NULL)
        *have = TRUE;
      return TRUE;
    }
  if (!answered)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  *field_error = g_steal_pointer (&local_error);
  return TRUE;
}

NtsChronyReport *
nts_chrony_client_fetch_report (NtsChronyClient  *client,
                                GCancellable     *cancellable,
                                GError          **error)
{
  g_autoptr(NtsChronyReport) report = g_new0 (NtsChronyReport, 1);
  NtsChronyRequest req;
  guint32 n_sources = 0;
  gint64 deadline;

  g_return_val_if_fail (client != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&client->lock);
  deadline = g_get_monotonic_time () + (gint64) client->fetch_timeout_ms * 1000;
  g_mutex_unlock (&client->lock);
  report->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) source_report_free);

  nts_chrony_request_init_tracking (&req);
  if (!ask (client, &req, deadline, &report->tracking, NULL, cancellable, error))
    return NULL;

  nts_chrony_request_init_n_sources (&req);
  if (!ask (client, &req, deadline, &n_sources, NULL, cancellable, error))
    return NULL;

  for (guint32 i = 0; i < n_sources; i++)
    {
      g_autoptr(GError) local_error = NULL;
      NtsChronySourceReport *sr = g_new0 (NtsChronySourceReport, 1);
      gboolean is_ntp;

      nts_chrony_request_init_source_data (&req, i);
      if (!ask (client, &req, deadline, &sr->source, NULL, cancellable, &local_error))
        {
          source_report_free (sr);
          /* A source was deleted after N_SOURCES: the list is just shorter. */
          if (g_error_matches (local_error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_NO_SUCH_SOURCE))
            break;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_ptr_array_add (report->sources, sr);

      is_ntp = sr->source.mode == NTS_CHRONY_SOURCE_MODE_CLIENT ||
               sr->source.mode == NTS_CHRONY_SOURCE_MODE_PEER;

      /* chronyd keeps the configured name for unresolved sources too (they
       * are how a name that never resolves shows up), so ask for any NTP
       * source; reference clocks have none. */
      if (is_ntp)
        {
          nts_chrony_request_init_ntp_source_name (&req, &sr->source.addr);
          if (!ask_optional (client, &req, deadline, &sr->name, NULL, &sr->name_error,
                             cancellable, error))
            return NULL;
        }
      else
        g_set_error (&sr->name_error, NTS_CHRONY_ERROR, NTS_CHRONY_ERROR_NO_SUCH_SOURCE,
                     "Reference clocks have no NTP source name");

      if (is_ntp && nts_chrony_ip_addr_is_ip (&sr->source.addr))
        {
          nts_chrony_request_init_ntp_data (&req, &sr->source.addr);
          if (!ask_optional (client, &req, deadline, &sr->ntp_data, &sr->have_ntp_data,
                             &sr->ntp_data_error, cancellable, error))
            return NULL;

          nts_chrony_request_init_auth_data (&req, &sr->source.addr);
          if (!ask_optional (client, &req, deadline, &sr->auth_data, &sr->have_auth_data,
                             &sr->auth_data_error, cancellable, error))
            return NULL;
        }
      else
        {
          const char *why = is_ntp ? "The source's name is not resolved yet"
                                   : "Reference clocks have no NTP or NTS data";
          g_set_error_literal (&sr->ntp_data_error, NTS_CHRONY_ERROR,
                               NTS_CHRONY_ERROR_NO_SUCH_SOURCE, why);
          g_set_error_literal (&sr->auth_data_error, NTS_CHRONY_ERROR,
                               NTS_CHRONY_ERROR_NO_SUCH_SOURCE, why);
        }
    }

  return g_steal_pointer (&report);
}

static void
fetch_report_thread (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  NtsChronyClient *client = task_data;
  GError *error = NULL;
  NtsChronyReport *report = nts_chrony_client_fetch_report (client, cancellable, &error);

  if (report == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, report, (GDestroyNotify) nts_chrony_report_free);
}

void
nts_chrony_client_fetch_report_async (NtsChronyClient     *client,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (client != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  nts_task_set_source_tag (task, nts_chrony_client_fetch_report_async);
  /* The worker holds its own reference: the caller may drop the client
   * before the fetch completes, and the socket stays until it does. */
  g_task_set_task_data (task, nts_chrony_client_ref (client),
                        (GDestroyNotify) nts_chrony_client_unref);
  g_task_run_in_thread (task, fetch_report_thread);
}

NtsChronyReport *
nts_chrony_client_fetch_report_finish (NtsChronyClient  *client,
                                       GAsyncResult     *result,
                                       GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == nts_chrony_client_fetch_report_async, NULL);
  g_return_val_if_fail (g_task_get_task_data (G_TASK (result)) == client, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* "ntssetupd.PID.N.sock", as nts_chrony_client_new() names them. */
static gboolean
stale_socket_pid (const char *name, guint64 *pid)
{
  g_auto(GStrv) parts = g_strsplit (name, ".", -1);

  return g_strv_length (parts) == 4 && g_str_equal (parts[0], "ntssetupd") &&
         g_str_equal (parts[3], "sock") &&
         g_ascii_string_to_unsigned (parts[1], 10, 1, G_MAXINT, pid, NULL) &&
         g_ascii_string_to_unsigned (parts[2], 10, 0, G_MAXUINT, NULL, NULL);
}

void
nts_chrony_client_remove_stale (const char *socket_path)
{
  g_autofree char *dir_path = g_path_get_dirname (socket_path);
  int fd = open (dir_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *dir;
  struct dirent *entry;

  if (fd < 0)
    return;   /* chronyd's run directory is gone: so are our sockets */
  dir = fdopendir (fd);
  if (dir == NULL)
    {
      close (fd);
      return;
    }
  while ((entry = readdir (dir)) != NULL)
    {
      guint64 pid = 0;

      if (!stale_socket_pid (entry->d_name, &pid) || pid == (guint64) getpid ())
        continue;
      /* Unlinking never follows a link (nor removes a directory, without
       * AT_REMOVEDIR), and it is relative to the directory opened above
       * without following links: a name planted there by chronyd's user
       * removes only itself, which that user could do anyway. */
      if (kill ((pid_t) pid, 0) < 0 && errno == ESRCH)
        (void) unlinkat (dirfd (dir), entry->d_name, 0);
    }
  closedir (dir);
}
