/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntssetup-probe: reads one request (probe-wire.h) on fd 0, probes every
 * server in it at once under the request's one deadline, writes one
 * answer on fd 1 and exits 0. fd 0 and fd 1 may be one socket (systemd's
 * Accept=yes connection) or a socketpair's end.
 *
 * A thread per server (probe-server.c): all of a server's I/O is bounded
 * by the deadline except getaddrinfo(), which cannot be cancelled; a
 * thread still in it when the deadline comes is left behind (the process
 * exits once the answer is written) and its server reported as "no answer
 * within N ms" for the phase it was in.
 *
 * It writes no file, never touches the clock and needs no privilege. A bad
 * request gets a message on stderr, nothing on fd 1, and exit status 1. */
#include "config.h"

#include <gnutls/gnutls.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "probe-server.h"
#include "probe-tls.h"
#include "probe-wire.h"

/* The time left for the answer after the servers' deadline: collecting,
 * serialising and writing it. */
#define ANSWER_MARGIN_US (50 * 1000)

typedef struct {
  NtsProbeServerOptions *options;
  NtsProbeResult *result; /* the thread's until done, then main's */
  volatile gint phase;
  gboolean done;      /* under lock */
  gboolean abandoned; /* under lock: the thread frees its result */
} Slot;

static GMutex lock;
static GCond finished;

static gpointer
probe_thread (gpointer data)
{
  Slot *slot = data;
  gboolean abandoned;

  nts_probe_server_run (slot->options, slot->result, &slot->phase);
  g_mutex_lock (&lock);
  slot->done = TRUE;
  abandoned = slot->abandoned;
  g_cond_broadcast (&finished);
  g_mutex_unlock (&lock);
  if (abandoned)
    nts_probe_result_free (slot->result);
  return NULL;
}

/* Two names with one address are one source to chronyd: say so on the
 * later one. */
static void
mark_same_addresses (GPtrArray *results)
{
  for (guint i = 1; i < results->len; i++)
    {
      NtsProbeResult *later = results->pdata[i];

      for (guint j = 0; j < i && later->address != NULL; j++)
        {
          NtsProbeResult *earlier = results->pdata[j];

          if (earlier->address != NULL && strcmp (earlier->address, later->address) == 0)
            {
              later->same_address_as = g_strdup (earlier->server);
              break;
            }
        }
    }
}

/* The results, one per server in order; *@all_back is FALSE when a
 * thread was left behind. */
static GPtrArray *
probe_all (const NtsProbeRequest *request, gnutls_certificate_credentials_t credentials,
           gboolean *all_back)
{
  gint64 start = g_get_monotonic_time ();
  gint64 end = start + (gint64) request->timeout_ms * 1000;
  NtsProbeServerOptions options = {
    .credentials = credentials,
    .deadline = end - MIN (ANSWER_MARGIN_US, (gint64) request->timeout_ms * 100),
    .secrets = request->secrets,
    .no_cert_time_check = request->no_cert_time_check,
  };
  guint n = request->servers->len;
  g_autofree Slot *slots = g_new0 (Slot, n);
  GPtrArray *results = g_ptr_array_new_with_free_func ((GDestroyNotify) nts_probe_result_free);
  guint done = 0;

  for (guint i = 0; i < n; i++)
    {
      const NtsProbeTarget *target = request->servers->pdata[i];
      g_autoptr(GError) error = NULL;
      GThread *thread;

      slots[i].options = &options;
      slots[i].result = nts_probe_result_new (target->name, target->port);
      slots[i].phase = NTS_PROBE_DNS;
      thread = g_thread_try_new ("probe", probe_thread, &slots[i], &error);
      if (thread == NULL)
        {
          /* No phase says "not started"; DNS is the first it did not do. */
          slots[i].result->phase = NTS_PROBE_DNS;
          g_free (slots[i].result->message);
          slots[i].result->message = g_strdup_printf ("not probed: %s", error->message);
          slots[i].done = TRUE;
          continue;
        }
      g_thread_unref (thread);
    }

  g_mutex_lock (&lock);
  for (;;)
    {
      done = 0;
      for (guint i = 0; i < n; i++)
        done += slots[i].done;
      if (done == n || !g_cond_wait_until (&finished, &lock, end))
        break;
    }
  for (guint i = 0; i < n; i++)
    {
      if (slots[i].done)
        {
          g_ptr_array_add (results, slots[i].result);
          continue;
        }
      /* Left behind: it frees its own result if it ever returns. */
      slots[i].abandoned = TRUE;
      {
        const NtsProbeTarget *target = request->servers->pdata[i];
        NtsProbeResult *late = nts_probe_result_new (target->name, target->port);
        NtsProbePhase phase = (NtsProbePhase) g_atomic_int_get (&slots[i].phase);

        late->phase = phase;
        g_free (late->message);
        late->message = nts_probe_server_late_message (phase, late->ke_port,
                                                       request->timeout_ms);
        g_ptr_array_add (results, late);
      }
    }
  *all_back = done == n;
  g_mutex_unlock (&lock);

  mark_same_addresses (results);
  return results;
}

static void
usage (FILE *out)
{
  fprintf (out, "Usage: ntssetup-probe [--help | --version]\n"
                "Reads one framed probe request (probe/probe-wire.h) on standard input,\n"
                "probes each NTS server in it (NTS-KE and one authenticated NTP request)\n"
                "and writes one framed answer on standard output. Run by ntssetupd\n"
                "through systemd, or by ntsctl probe; not meant to be run by hand.\n");
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(NtsProbeRequest) request = NULL;
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GBytes) answer = NULL;
  gnutls_certificate_credentials_t credentials;
  gboolean all_back = FALSE;
  int r;

  if (argc == 2 && strcmp (argv[1], "--help") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (argc == 2 && strcmp (argv[1], "--version") == 0)
    {
      printf ("ntssetup-probe %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (argc != 1)
    {
      usage (stderr);
      return 2;
    }

  /* fd 1 carries the answer and nothing else: GLib's informational
   * messages go to stdout by default. A peer gone away is an error of the
   * write, not a signal that kills us. */
  g_log_writer_default_set_use_stderr (TRUE);
  signal (SIGPIPE, SIG_IGN);

  body = nts_probe_frame_read (0, NTS_PROBE_MAX_REQUEST, &error);
  if (body != NULL)
    request = nts_probe_request_parse (body, &error);
  if (request == NULL)
    {
      g_printerr ("ntssetup-probe: bad request: %s\n", error->message);
      return 1;
    }

  r = gnutls_global_init ();
  if (r < 0)
    {
      g_printerr ("ntssetup-probe: GnuTLS: %s\n", gnutls_strerror (r));
      return 1;
    }
  credentials = nts_probe_tls_credentials_new (request->ca_pem, &error);
  if (credentials == NULL)
    {
      g_printerr ("ntssetup-probe: bad request: %s\n", error->message);
      return 1;
    }

  results = probe_all (request, credentials, &all_back);
  answer = nts_probe_answer_serialize (results);
  if (!nts_probe_frame_write (1, answer, &error))
    {
      g_printerr ("ntssetup-probe: cannot write the answer: %s\n", error->message);
      return 1;
    }
  /* A thread left in getaddrinfo() may still reach for the credentials:
   * then they go with the process. */
  if (all_back)
    {
      gnutls_certificate_free_credentials (credentials);
      gnutls_global_deinit ();
    }
  return 0;
}
