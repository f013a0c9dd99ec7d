/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One server's probe: see probe-server.h. */
#include "config.h"

#include "probe-server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "nts-ke.h"
#include "nts-ntp.h"
#include "probe-tls.h"

#define DEFAULT_NTP_PORT 123
/* When to send the one retry: a second after the first packet (a reply on
 * any sane path takes far less), or at half the time left if that is
 * sooner, so that the retry still has time to be answered. */
#define RETRY_AFTER_US G_USEC_PER_SEC

typedef struct {
  const NtsProbeServerOptions *options;
  NtsProbeResult *result;
  volatile gint *phase;
  gint64 start; /* monotonic */
  struct sockaddr_storage ke_address;
  socklen_t ke_address_length;
  guint8 c2s[NTS_NTP_KEY_LEN];
  guint8 s2c[NTS_NTP_KEY_LEN];
  NtsKeResponse *ke;
  double ke_time;
} Probe;

static void
enter (Probe *probe, NtsProbePhase phase)
{
  g_atomic_int_set (probe->phase, (gint) phase);
}

static double
seconds_since (gint64 since)
{
  return (double) (g_get_monotonic_time () - since) / G_USEC_PER_SEC;
}

/* "3 s", "250 ms": a span for people. */
static char *
format_ms (gint64 us)
{
  gint64 ms = us / 1000;

  if (ms >= 1000 && ms % 1000 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " s", ms / 1000);
  if (ms >= 1000)
    return g_strdup_printf ("%.1f s", (double) ms / 1000);
  return g_strdup_printf ("%" G_GINT64_FORMAT " ms", ms);
}

static char *
address_to_string (const struct sockaddr *address)
{
  char text[INET6_ADDRSTRLEN] = "";

  if (address->sa_family == AF_INET)
    inet_ntop (AF_INET, &((const struct sockaddr_in *) address)->sin_addr, text, sizeof text);
  else if (address->sa_family == AF_INET6)
    inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) address)->sin6_addr, text, sizeof text);
  return g_strdup (text);
}

static void
set_port (struct sockaddr_storage *address, guint16 port)
{
  if (address->ss_family == AF_INET)
    ((struct sockaddr_in *) address)->sin_port = htons (port);
  else
    ((struct sockaddr_in6 *) address)->sin6_port = htons (port);
}

static double
real_time_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ---- DNS ----------------------------------------------------------------- */

static struct addrinfo *
resolve (const char *name, int socktype, int family, int *gai_error)
{
  struct addrinfo hints = { .ai_family = family, .ai_socktype = socktype };
  struct addrinfo *list = NULL;
  guint8 literal[16];

  if (inet_pton (AF_INET, name, literal) == 1 || inet_pton (AF_INET6, name, literal) == 1)
    hints.ai_flags |= AI_NUMERICHOST;
  *gai_error = getaddrinfo (name, NULL, &hints, &list);
  return *gai_error == 0 ? list : NULL;
}

/* ---- TCP ----------------------------------------------------------------- */

/* A connected non-blocking socket, or -1 with errno (ETIMEDOUT when
 * @until passed first). */
static int
connect_one (const struct sockaddr *address, socklen_t length, gint64 until)
{
  int fd = socket (address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int error = 0;
  socklen_t error_length = sizeof error;

  if (fd < 0)
    return -1;
  if (connect (fd, address, length) == 0)
    return fd;
  if (errno != EINPROGRESS)
    error = errno;
  else if (!nts_probe_wait_fd (fd, POLLOUT, until))
    error = ETIMEDOUT;
  else if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &error_length) < 0)
    error = errno;
  if (error == 0)
    return fd;
  close (fd);
  errno = error;
  return -1;
}

static int
connect_ke (Probe *probe, struct addrinfo *list)
{
  NtsProbeResult *result = probe->result;
  guint n = 0, tried = 0;
  int last_error = 0;
  g_autofree char *last_address = NULL;

  for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next)
    n++;
  for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next, tried++)
    {
      gint64 now = g_get_monotonic_time ();
      /* Each address gets its share of the time left, so that one that
       * never answers does not starve the others. */
      gint64 until = now + (probe->options->deadline - now) / (n - tried);
      struct sockaddr_storage address = { 0 };
      int fd;

      if (ai->ai_addrlen > sizeof address || now >= probe->options->deadline)
        continue;
      memcpy (&address, ai->ai_addr, ai->ai_addrlen);
      set_port (&address, result->ke_port);
      g_free (last_address);
      last_address = address_to_string ((struct sockaddr *) &address);
      fd = connect_one ((struct sockaddr *) &address, ai->ai_addrlen, until);
      if (fd >= 0)
        {
          g_free (result->address);
          result->address = g_steal_pointer (&last_address);
          probe->ke_address = address;
          probe->ke_address_length = ai->ai_addrlen;
          return fd;
        }
      last_error = errno;
    }

  {
    g_autofree char *waited = format_ms (g_get_monotonic_time () - probe->start);
    const char *more = tried > 1 ? " (and the other addresses)" : "";

    if (last_error == ECONNREFUSED)
      nts_probe_result_set_phase (result, NTS_PROBE_TCP, "TCP %u refused by %s%s",
                                  result->ke_port, last_address, more);
    else if (last_error == ETIMEDOUT || last_error == 0)
      nts_probe_result_set_phase (result, NTS_PROBE_TCP, "TCP %u: no answer from %s%s within %s",
                                  result->ke_port,
                                  last_address != NULL ? last_address : result->server, more,
                                  waited);
    else
      nts_probe_result_set_phase (result, NTS_PROBE_TCP, "TCP %u to %s%s: %s", result->ke_port,
                                  last_address, more, g_strerror (last_error));
  }
  return -1;
}

/* ---- NTS-KE -------------------------------------------------------------- */

static gboolean
key_exchange (Probe *probe, gnutls_session_t session, int fd)
{
  NtsProbeResult *result = probe->result;
  gint64 deadline = probe->options->deadline;
  g_autoptr(GBytes) request = nts_ke_request_build ();
  g_autoptr(GByteArray) response = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsKeResponse) partial = NULL;
  NtsKeResponse *ke = NULL;
  guint8 chunk[4096];

  if (!nts_probe_tls_send (session, fd, g_bytes_get_data (request, NULL),
                           g_bytes_get_size (request), deadline, &error))
    {
      nts_probe_result_set_phase (result, NTS_PROBE_KE_PROTOCOL, "NTS-KE request not sent: %s",
                                  error->message);
      return FALSE;
    }

  while (ke == NULL)
    {
      gssize n = nts_probe_tls_recv (session, fd, chunk, sizeof chunk, deadline, &error);

      if (n < 0)
        {
          g_autofree char *waited = format_ms (g_get_monotonic_time () - probe->start);

          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            nts_probe_result_set_phase (result, NTS_PROBE_KE_PROTOCOL,
                                        "TLS fine, but no complete NTS-KE response within %s",
                                        waited);
          else
            nts_probe_result_set_phase (result, NTS_PROBE_KE_PROTOCOL, "NTS-KE response: %s",
                                        error->message);
          return FALSE;
        }
      if (n > 0)
        {
          g_byte_array_append (response, chunk, (guint) n);
          if (response->len > NTS_KE_MAX_RESPONSE)
            {
              nts_probe_result_set_phase (result, NTS_PROBE_KE_PROTOCOL,
                                          "NTS-KE response over %u bytes", NTS_KE_MAX_RESPONSE);
              return FALSE;
            }
        }
      g_clear_error (&error);
      g_clear_pointer (&partial, nts_ke_response_free);
      ke = nts_ke_response_parse (response->data, response->len, &partial, &error);
      if (ke == NULL &&
          !(n > 0 && g_error_matches (error, NTS_KE_ERROR, NTS_KE_ERROR_TRUNCATED)))
        {
          /* At the end of the stream, or a fault no more bytes can mend. */
          result->ke_error = partial->error_code;
          result->ke_warning = partial->warning_code;
          result->ke_cookies = partial->cookies->len;
          if (partial->error_code >= 0)
            nts_probe_result_set_phase (result, NTS_PROBE_KE_PROTOCOL,
                                        "NTS-KE: the server sent Error %d%s",
                                        partial->error_code,
                                        partial->error_code == 0
                                          ? " (unrecognized critical record)"
                                        : partial->error_code == 1 ? " (bad request)"
                                        : partial->error_code == 2 ? " (internal server error)"
                                                                   : "");
          else if (g_error_matches (error, NTS_KE_ERROR, NTS_KE_ERROR_TRUNCATED))
            nts_probe_result_set_phase (result, NTS_PROBE_KE_PROTOCOL,
                                        "NTS-KE response cut short: %s", error->message);
          else
            nts_probe_result_set_phase (result, NTS_PROBE_KE_PROTOCOL,
                                        "NTS-KE response refused: %s", error->message);
          return FALSE;
        }
    }
  explicit_bzero (chunk, sizeof chunk);
  explicit_bzero (response->data, response->len);

  probe->ke = ke;
  result->aead = ke->aead;
  result->ke_cookies = ke->cookies->len;
  if (!nts_ke_export_keys (session, ke->aead, probe->c2s, probe->s2c, &error))
    {
      nts_probe_result_set_phase (result, NTS_PROBE_KE_PROTOCOL, "NTS-KE keys: %s",
                                  error->message);
      return FALSE;
    }
  probe->ke_time = real_time_now ();
  return TRUE;
}

/* ---- NTP ----------------------------------------------------------------- */

typedef struct {
  guint8 uid[NTS_NTP_UID_LEN];
  guint64 transmit;
  double sent; /* real time */
} Pending;

static gboolean
send_request (Probe *probe, int fd, GBytes *cookie, Pending *pending, GError **error)
{
  guint8 nonce[NTS_NTP_NONCE_LEN];
  g_autoptr(GBytes) packet = NULL;
  gsize length;
  const guint8 *data;

  /* The transmit timestamp is random, not our clock (as chronyd does):
   * it tells the network nothing about our clock, which may be far off,
   * and it makes the origin the server echoes a 64-bit nonce. The offset
   * is computed from when we really sent it. */
  if (gnutls_rnd (GNUTLS_RND_NONCE, pending->uid, sizeof pending->uid) < 0 ||
      gnutls_rnd (GNUTLS_RND_NONCE, nonce, sizeof nonce) < 0 ||
      gnutls_rnd (GNUTLS_RND_NONCE, &pending->transmit, sizeof pending->transmit) < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no random bytes");
      return FALSE;
    }
  packet = nts_ntp_request_build (probe->c2s, cookie, pending->uid, nonce, pending->transmit,
                                  error);
  if (packet == NULL)
    return FALSE;
  data = g_bytes_get_data (packet, &length);
  pending->sent = real_time_now ();
  if (send (fd, data, length, 0) != (ssize_t) length)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s", g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* The address the NTP request goes to: the negotiated server (resolved,
 * in the family of the key exchange's address when it has one) or the
 * key exchange's address; the negotiated port or 123. */
static gboolean
ntp_address (Probe *probe, struct sockaddr_storage *address, socklen_t *length)
{
  NtsProbeResult *result = probe->result;
  guint16 port = probe->ke->port > 0 ? (guint16) probe->ke->port : DEFAULT_NTP_PORT;

  result->ntp_port = port;
  if (probe->ke->server == NULL)
    {
      *address = probe->ke_address;
      *length = probe->ke_address_length;
      result->ntp_server = g_strdup (result->address);
    }
  else
    {
      struct addrinfo *list = NULL, *chosen = NULL;
      int gai_error = 0;

      result->ntp_server = nts_probe_text_sanitize (probe->ke->server);
      list = resolve (probe->ke->server, SOCK_DGRAM, AF_UNSPEC, &gai_error);
      for (struct addrinfo *ai = list; ai != NULL && chosen == NULL; ai = ai->ai_next)
        if (ai->ai_family == probe->ke_address.ss_family && ai->ai_addrlen <= sizeof *address)
          chosen = ai;
      for (struct addrinfo *ai = list; ai != NULL && chosen == NULL; ai = ai->ai_next)
        if (ai->ai_addrlen <= sizeof *address)
          chosen = ai;
      if (chosen == NULL)
        {
          nts_probe_result_set_phase (result, NTS_PROBE_DNS,
                                      "key exchange fine, but the NTP server it named, %s, does "
                                      "not "
                                      "resolve%s%s",
                                      result->ntp_server, gai_error != 0 ? ": " : "",
                                      gai_error != 0 ? gai_strerror (gai_error) : "");
          if (list != NULL)
            freeaddrinfo (list);
          return FALSE;
        }
      memset (address, 0, sizeof *address);
      memcpy (address, chosen->ai_addr, chosen->ai_addrlen);
      *length = chosen->ai_addrlen;
      freeaddrinfo (list);
    }
  set_port (address, port);
  return TRUE;
}

static void
report_time (Probe *probe, const Pending *pending, const NtsNtpReply *reply, double received)
{
  NtsProbeResult *result = probe->result;
  double t1 = pending->sent, t4 = received;
  double t2 = nts_ntp_timestamp_to_unix (reply->receive);
  double t3 = nts_ntp_timestamp_to_unix (reply->transmit);
  gboolean synchronised = reply->leap != 3 && reply->stratum < 16;
  g_autofree char *rtt = NULL;

  result->stratum = MIN (reply->stratum, 16);
  result->offset = ((t2 - t1) + (t3 - t4)) / 2;
  /* A server that reports more time spent than passed here: not less than
   * nothing. */
  result->rtt = CLAMP ((t4 - t1) - (t3 - t2), 0.0, 60.0);
  result->ntp_cookies = reply->cookie_fields;
  rtt = result->rtt < 0.001 ? g_strdup_printf ("%.3f ms", result->rtt * 1000)
                            : format_ms ((gint64) (result->rtt * G_USEC_PER_SEC));
  nts_probe_result_set_phase (result, NTS_PROBE_OK,
                              "NTS fine: stratum %u%s, offset %+.6f s, round trip %s, %u new "
                              "cookie%s",
                              reply->stratum, synchronised ? "" : " but not synchronised",
                              result->offset, rtt, reply->cookie_fields,
                              reply->cookie_fields == 1 ? "" : "s");
}

static const char *
describe_kiss (const char *kiss)
{
  if (strcmp (kiss, "RATE") == 0)
    return "we asked too often for its rate limit";
  if (strcmp (kiss, "DENY") == 0)
    return "access denied";
  if (strcmp (kiss, "RSTR") == 0)
    return "access restricted";
  return "it will not serve us";
}

static void
ntp_exchange (Probe *probe)
{
  NtsProbeResult *result = probe->result;
  gint64 deadline = probe->options->deadline;
  GPtrArray *cookies = probe->ke->cookies;
  struct sockaddr_storage address;
  socklen_t length = 0;
  Pending pending[2];
  guint sent = 0;
  gboolean retried = FALSE;
  gint64 retry_at;
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsNtpReply) reply = NULL;
  guint8 buffer[NTS_NTP_MAX_PACKET + 1];
  int fd, which = -1;
  double received = 0;

  if (!ntp_address (probe, &address, &length))
    return;
  fd = socket (address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect (fd, (struct sockaddr *) &address, length) < 0)
    {
      nts_probe_result_set_phase (result, NTS_PROBE_NTP_TIMEOUT,
                                  "key exchange fine, but UDP %u to %s: %s", result->ntp_port,
                                  result->ntp_server, g_strerror (errno));
      if (fd >= 0)
        close (fd);
      return;
    }

  if (!send_request (probe, fd, cookies->pdata[0], &pending[0], &error))
    {
      nts_probe_result_set_phase (result, NTS_PROBE_NTP_TIMEOUT,
                                  "key exchange fine, but UDP %u to %s: %s", result->ntp_port,
                                  result->ntp_server, error->message);
      close (fd);
      return;
    }
  sent = 1;
  retry_at = g_get_monotonic_time () +
             MIN (RETRY_AFTER_US, (deadline - g_get_monotonic_time ()) / 2);

  while (reply == NULL)
    {
      gboolean can_retry = !retried && cookies->len >= 2;
      gint64 until = can_retry ? MIN (retry_at, deadline) : deadline;
      ssize_t n;

      if (!nts_probe_wait_fd (fd, POLLIN, until))
        {
          if (g_get_monotonic_time () < deadline && can_retry)
            {
              /* A retry that cannot be sent leaves the first to wait for. */
              g_clear_error (&error);
              retried = TRUE;
              if (send_request (probe, fd, cookies->pdata[1], &pending[1], &error))
                sent = 2;
              continue;
            }
          break;
        }
      n = recv (fd, buffer, sizeof buffer, MSG_TRUNC);
      received = real_time_now ();
      if (n < 0)
        {
          if (errno == EAGAIN || errno == EINTR)
            continue;
          if (errno == ECONNREFUSED)
            nts_probe_result_set_phase (result, NTS_PROBE_NTP_TIMEOUT,
                                        "key exchange fine, but UDP %u on %s refused (nothing "
                                        "listens there)",
                                        result->ntp_port, result->ntp_server);
          else
            nts_probe_result_set_phase (result, NTS_PROBE_NTP_TIMEOUT,
                                        "key exchange fine, but UDP %u on %s: %s",
                                        result->ntp_port, result->ntp_server,
                                        g_strerror (errno));
          close (fd);
          return;
        }
      if ((gsize) n > NTS_NTP_MAX_PACKET)
        continue; /* no reply of ours is that long: someone else's */
      for (guint i = 0; i < sent && reply == NULL; i++)
        {
          g_clear_error (&error);
          reply = nts_ntp_reply_parse (buffer, (gsize) n, probe->s2c, pending[i].uid,
                                       pending[i].transmit, &error);
          if (reply != NULL)
            which = (int) i;
          else if (!g_error_matches (error, NTS_NTP_ERROR, NTS_NTP_ERROR_NOT_OURS))
            break;
        }
      if (reply == NULL && !g_error_matches (error, NTS_NTP_ERROR, NTS_NTP_ERROR_NOT_OURS))
        {
          nts_probe_result_set_phase (result, NTS_PROBE_NTP_AUTH,
                                      "key exchange fine, but the NTP reply from %s is refused: "
                                      "%s",
                                      result->ntp_server, error->message);
          close (fd);
          return;
        }
    }
  close (fd);
  explicit_bzero (buffer, sizeof buffer);

  if (reply == NULL)
    {
      g_autofree char *waited = format_ms (g_get_monotonic_time () - probe->start);

      nts_probe_result_set_phase (result, NTS_PROBE_NTP_TIMEOUT,
                                  "key exchange fine but no NTP reply from %s within %s: UDP %u "
                                  "blocked?",
                                  result->ntp_server, waited, result->ntp_port);
      return;
    }

  switch (reply->kind)
    {
    case NTS_NTP_REPLY_NAK:
      g_strlcpy (result->kiss, "NTSN", sizeof result->kiss);
      nts_probe_result_set_phase (result, NTS_PROBE_NAK,
                                  "NTS NAK: %s refused the cookie its own key exchange just "
                                  "gave (its keys "
                                  "changed, or key exchange and NTP are not the same server)",
                                  result->ntp_server);
      return;
    case NTS_NTP_REPLY_KISS:
      g_strlcpy (result->kiss, reply->kiss, sizeof result->kiss);
      nts_probe_result_set_phase (result, NTS_PROBE_KISS, "kiss-o'-death %s from %s: %s",
                                  reply->kiss, result->ntp_server, describe_kiss (reply->kiss));
      return;
    case NTS_NTP_REPLY_TIME:
    default:
      break;
    }
  report_time (probe, &pending[which], reply, received);

  if (probe->options->secrets)
    {
      result->has_secrets = TRUE;
      memcpy (result->c2s, probe->c2s, sizeof result->c2s);
      memcpy (result->s2c, probe->s2c, sizeof result->s2c);
      result->cookies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      for (guint i = sent; i < cookies->len && result->cookies->len < NTS_PROBE_MAX_COOKIES; i++)
        g_ptr_array_add (result->cookies, g_bytes_ref (cookies->pdata[i]));
      for (guint i = 0; i < reply->cookies->len && result->cookies->len < NTS_PROBE_MAX_COOKIES;
           i++)
        g_ptr_array_add (result->cookies, g_bytes_ref (reply->cookies->pdata[i]));
      result->ke_time = probe->ke_time;
    }
}

/* ---- the whole probe ----------------------------------------------------- */

char *
nts_probe_server_late_message (NtsProbePhase phase, guint16 ke_port, guint ms)
{
  g_autofree char *waited = format_ms ((gint64) ms * 1000);

  switch (phase)
    {
    case NTS_PROBE_DNS:
      return g_strdup_printf ("DNS: no answer within %s", waited);
    case NTS_PROBE_TCP:
      return g_strdup_printf ("TCP %u: no answer within %s", ke_port, waited);
    case NTS_PROBE_NTP_TIMEOUT:
      return g_strdup_printf ("key exchange fine but no NTP reply within %s", waited);
    default:
      return g_strdup_printf ("%s not finished within %s", nts_probe_phase_to_string (phase),
                              waited);
    }
}

void
nts_probe_server_run (const NtsProbeServerOptions *options, NtsProbeResult *result,
                      volatile gint *phase)
{
  Probe probe = { .options = options, .result = result, .phase = phase };
  struct addrinfo *list = NULL;
  gnutls_session_t session = NULL;
  gint64 t;
  int gai_error = 0, fd = -1;

  probe.start = g_get_monotonic_time ();

  enter (&probe, NTS_PROBE_DNS);
  t = g_get_monotonic_time ();
  list = resolve (result->server, SOCK_STREAM, AF_UNSPEC, &gai_error);
  result->times[NTS_PROBE_TIME_DNS] = seconds_since (t);
  if (list == NULL)
    {
      nts_probe_result_set_phase (result, NTS_PROBE_DNS, "DNS: %s: %s", result->server,
                                  gai_error == EAI_SYSTEM ? g_strerror (errno)
                                                          : gai_strerror (gai_error));
      return;
    }
  result->address = address_to_string (list->ai_addr);

  enter (&probe, NTS_PROBE_TCP);
  t = g_get_monotonic_time ();
  fd = connect_ke (&probe, list);
  freeaddrinfo (list);
  result->times[NTS_PROBE_TIME_TCP] = seconds_since (t);
  if (fd < 0)
    return;

  enter (&probe, NTS_PROBE_TLS);
  t = g_get_monotonic_time ();
  session = nts_probe_tls_handshake (fd, result->server, options->credentials,
                                     options->no_cert_time_check, options->deadline, result);
  result->times[NTS_PROBE_TIME_TLS] = seconds_since (t);
  if (session == NULL)
    {
      close (fd);
      return;
    }

  enter (&probe, NTS_PROBE_KE_PROTOCOL);
  t = g_get_monotonic_time ();
  if (!key_exchange (&probe, session, fd))
    {
      result->times[NTS_PROBE_TIME_KE] = seconds_since (t);
      gnutls_deinit (session);
      close (fd);
      goto out;
    }
  result->times[NTS_PROBE_TIME_KE] = seconds_since (t);
  /* The server closes after its response; nothing more to say to it. */
  gnutls_deinit (session);
  close (fd);

  enter (&probe, NTS_PROBE_NTP_TIMEOUT);
  t = g_get_monotonic_time ();
  ntp_exchange (&probe);
  result->times[NTS_PROBE_TIME_NTP] = seconds_since (t);

out:
  gnutls_memset (probe.c2s, 0, sizeof probe.c2s);
  gnutls_memset (probe.s2c, 0, sizeof probe.s2c);
  g_clear_pointer (&probe.ke, nts_ke_response_free);
}
