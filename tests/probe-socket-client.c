/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A test client of ntssetup-probe.socket, for the system tests: it says
 * to the socket what ntssetupd says (one request, probe-wire.h), and
 * reports who answered, as the kernel attests it.
 *
 *   probe-socket-client [--hold] [--timeout-ms N] SOCKET SERVER[:PORT]...
 *
 * It connects, then (with --hold) waits for a line on stdin before it
 * sends the request, so that a test can look at the probe instance
 * systemd started for the connection while it runs. The answer is read
 * with SO_PASSCRED: every part of it carries the pid, uid and gid of the
 * process that wrote it, which shows the answer came from the probe's
 * dynamic user and not from anything running as root. It prints
 *
 *   sender pid=P uid=U gid=G
 *   result SERVER PORT PHASE MESSAGE
 *   detail SERVER {the result as a{sv}, without secrets}
 *
 * and exits 0 when a valid answer to its request came back (whatever the
 * verdicts), 1 otherwise. Harness only: never installed by the product. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>

#include "probe-wire.h"

typedef struct {
  gboolean known;
  gboolean mixed; /* parts of the answer from different processes */
  struct ucred cred;
} Sender;

static int
connect_to (const char *path, GError **error)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd;
  int one = 1;

  if (strlen (path) >= sizeof addr.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: path too long", path);
      return -1;
    }
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
      connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", path,
                   g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return -1;
    }
  return fd;
}

/* Everything until the probe closes, at most one frame's worth, with the
 * credentials each part came with. */
static GBytes *
read_all (int fd, Sender *sender, GError **error)
{
  const gsize max = 4 + NTS_PROBE_MAX_ANSWER;
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 buf[16384];

  for (;;)
    {
      union {
        struct cmsghdr align;
        char space[CMSG_SPACE (sizeof (struct ucred))];
      } control;
      struct iovec iov = { buf, sizeof buf };
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
      ssize_t n;

      msg.msg_control = control.space;
      msg.msg_controllen = sizeof control.space;
      n = recvmsg (fd, &msg, MSG_CMSG_CLOEXEC);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "reading the answer: %s", g_strerror (saved));
          return NULL;
        }
      if (n == 0)
        break;
      for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
        {
          struct ucred cred;

          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS ||
              c->cmsg_len != CMSG_LEN (sizeof cred))
            continue;
          memcpy (&cred, CMSG_DATA (c), sizeof cred);
          if (sender->known && (cred.pid != sender->cred.pid || cred.uid != sender->cred.uid ||
                                cred.gid != sender->cred.gid))
            sender->mixed = TRUE;
          sender->cred = cred;
          sender->known = TRUE;
        }
      if (data->len + (gsize) n > max)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "the answer is longer than %" G_GSIZE_FORMAT " bytes", max);
          return NULL;
        }
      g_byte_array_append (data, buf, n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

/* The body of the one frame @all holds, nothing before or after it. */
static GBytes *
unframe (GBytes *all, GError **error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (all, &len);
  guint32 body;

  if (len < 4)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                   "the probe closed after %" G_GSIZE_FORMAT " bytes, before a whole answer",
                   len);
      return NULL;
    }
  body = (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
  if (body > NTS_PROBE_MAX_ANSWER || body != len - 4)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "the answer's frame says %u bytes, %" G_GSIZE_FORMAT " followed", body,
                   len - 4);
      return NULL;
    }
  return g_bytes_new_from_bytes (all, 4, body);
}

static gboolean
add_server (NtsProbeRequest *request, const char *arg, GError **error)
{
  const char *colon = strrchr (arg, ':');
  guint64 port = 0;

  /* An IPv6 literal has colons of its own: only NAME:PORT or [V6]:PORT. */
  if (colon != NULL && (strchr (arg, ':') == colon || arg[0] == '['))
    {
      g_autofree char *name = NULL;

      if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, G_MAXUINT16, &port, error))
        return FALSE;
      name = g_strndup (arg, colon - arg);
      if (name[0] == '[' && g_str_has_suffix (name, "]"))
        {
          memmove (name, name + 1, strlen (name));
          name[strlen (name) - 1] = '\0';
        }
      nts_probe_request_add (request, name, (guint16) port);
      return TRUE;
    }
  nts_probe_request_add (request, arg, 0);
  return TRUE;
}

static gboolean
run (int argc, char **argv, GError **error)
{
  gboolean hold = FALSE;
  int timeout_ms = NTS_PROBE_DEFAULT_TIMEOUT_MS;
  GOptionEntry entries[] = {
    { "hold", 0, 0, G_OPTION_ARG_NONE, &hold,
      "Connect, then wait for a line on stdin before sending the request", NULL },
    { "timeout-ms", 0, 0, G_OPTION_ARG_INT, &timeout_ms, "The request's deadline", "N" },
    { NULL },
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("SOCKET SERVER[:PORT]...");
  g_autoptr(NtsProbeRequest) request = nts_probe_request_new ();
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) all = NULL;
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(GPtrArray) results = NULL;
  Sender sender = { 0 };
  int fd;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  if (argc < 3)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "usage: %s [--hold] [--timeout-ms N] SOCKET SERVER[:PORT]...",
                   g_get_prgname ());
      return FALSE;
    }
  if (timeout_ms < (int) NTS_PROBE_MIN_TIMEOUT_MS || timeout_ms > (int) NTS_PROBE_MAX_TIMEOUT_MS)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--timeout-ms: %d is not within %u..%u", timeout_ms, NTS_PROBE_MIN_TIMEOUT_MS,
                   NTS_PROBE_MAX_TIMEOUT_MS);
      return FALSE;
    }
  request->timeout_ms = (guint) timeout_ms;
  for (int i = 2; i < argc; i++)
    if (!add_server (request, argv[i], error))
      return FALSE;

  fd = connect_to (argv[1], error);
  if (fd < 0)
    return FALSE;
  if (hold)
    {
      char line[64];

      printf ("connected\n");
      fflush (stdout);
      if (fgets (line, sizeof line, stdin) == NULL)
        g_debug ("stdin closed: sending the request");
    }

  body = nts_probe_request_serialize (request);
  if (!nts_probe_frame_write (fd, body, error) || shutdown (fd, SHUT_WR) < 0)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "shutdown: %s",
                     g_strerror (errno));
      close (fd);
      return FALSE;
    }
  all = read_all (fd, &sender, error);
  close (fd);
  if (all == NULL)
    return FALSE;
  if (!sender.known)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "the answer came without the sender's credentials");
      return FALSE;
    }
  printf ("sender pid=%d uid=%u gid=%u%s\n", (int) sender.cred.pid, (unsigned) sender.cred.uid,
          (unsigned) sender.cred.gid, sender.mixed ? " (mixed: parts from other senders)" : "");
  answer = unframe (all, error);
  if (answer == NULL)
    return FALSE;
  results = nts_probe_answer_parse (answer, request, error);
  if (results == NULL)
    return FALSE;
  for (guint i = 0; i < results->len; i++)
    {
      const NtsProbeResult *r = results->pdata[i];
      g_autoptr(GVariant) detail = g_variant_ref_sink (nts_probe_result_to_variant (r, FALSE));
      g_autofree char *text = g_variant_print (detail, FALSE);

      printf ("result %s %u %s %s\n", r->server, r->ke_port,
              nts_probe_phase_to_string (r->phase), r->message);
      printf ("detail %s %s\n", r->server, text);
    }
  return !sender.mixed;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;

  /* A connection systemd refuses (MaxConnections=) is closed under our
   * request: an error to report, not a signal to die of. */
  signal (SIGPIPE, SIG_IGN);
  if (!run (argc, argv, &error))
    {
      if (error != NULL)
        g_printerr ("probe-socket-client: %s\n", error->message);
      return 1;
    }
  return 0;
}
