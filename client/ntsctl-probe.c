/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl probe — whether servers speak NTS, checked from here by the
 * invoking user, with no service involved.
 *
 * The only command that does not call ntssetupd: it runs ntssetup-probe
 * itself, as whoever runs ntsctl, on one end of a socketpair, and speaks
 * the probe's own exchange (probe-wire.h) with it, as ntssetupd does
 * through systemd's socket. So an administrator can check a server before
 * choosing it, or while the service is not installed, and a user gets
 * nothing a plain TLS client would not give them. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ntsctl-commands.h"
#include "ntsctl-common.h"
#include "probe-wire.h"

static char *
probe_program (void)
{
  const char *path = g_getenv ("NTSSETUP_PROBE");

  /* The invoking user's own choice, run with the invoking user's rights:
   * a way to try a build, not a way in. */
  if (path != NULL && *path != '\0')
    return g_strdup (path);
  return g_build_filename (LIBEXECDIR, "ntssetup-probe", NULL);
}

/* Runs the probe on a socketpair: the request in, the answer out. */
static GPtrArray *
run_probe (const NtsProbeRequest *request, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GBytes) body = nts_probe_request_serialize (request);
  g_autoptr(GBytes) answer = NULL;
  g_autofree char *program = probe_program ();
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "socketpair: %s",
                   g_strerror (errsv));
      return NULL;
    }
  g_subprocess_launcher_take_stdin_fd (launcher, fds[1]);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (fds[1]));
  process = g_subprocess_launcher_spawn (launcher, error, program, NULL);
  if (process == NULL)
    {
      close (fds[0]);
      g_prefix_error (error, "cannot run %s: ", program);
      return NULL;
    }
  if (!nts_probe_frame_write (fds[0], body, error))
    {
      close (fds[0]);
      g_subprocess_force_exit (process);
      return NULL;
    }
  shutdown (fds[0], SHUT_WR);
  answer = nts_probe_frame_read (fds[0], NTS_PROBE_MAX_ANSWER, error);
  close (fds[0]);
  if (answer == NULL)
    {
      g_subprocess_force_exit (process);
      g_prefix_error (error, "%s gave no answer: ", program);
      return NULL;
    }
  g_subprocess_wait (process, NULL, NULL);
  return nts_probe_answer_parse (answer, request, error);
}

static char *
format_seconds (double seconds)
{
  double magnitude = fabs (seconds);

  if (magnitude < 1e-3)
    return g_strdup_printf ("%+.1fus", seconds * 1e6);
  if (magnitude < 1.0)
    return g_strdup_printf ("%+.1fms", seconds * 1e3);
  return g_strdup_printf ("%+.3fs", seconds);
}

static void
print_result (const NtsProbeResult *result)
{
  printf ("%s (port %u): %s\n", result->server, result->ke_port,
          nts_probe_phase_to_string (result->phase));
  printf ("  %s\n", result->message);
  if (result->address != NULL)
    printf ("  address %s%s%s\n", result->address,
            result->same_address_as != NULL ? ", the same as " : "",
            result->same_address_as != NULL ? result->same_address_as : "");
  if (result->cert_subject != NULL)
    {
      g_autoptr(GDateTime) from = g_date_time_new_from_unix_utc (result->cert_not_before);
      g_autoptr(GDateTime) until = g_date_time_new_from_unix_utc (result->cert_not_after);
      g_autofree char *from_text = from != NULL ? g_date_time_format (from, "%F")
                                                : g_strdup ("?");
      g_autofree char *until_text = until != NULL ? g_date_time_format (until, "%F")
                                                  : g_strdup ("?");

      printf ("  certificate %s, issued by %s, valid %s to %s\n", result->cert_subject,
              result->cert_issuer != NULL ? result->cert_issuer : "?", from_text, until_text);
    }
  if (result->ntp_server != NULL)
    printf ("  NTP at %s port %u, AEAD %u, %u cookies from the key exchange\n",
            result->ntp_server, result->ntp_port, result->aead, result->ke_cookies);
  if (result->phase == NTS_PROBE_OK)
    {
      g_autofree char *rtt = format_seconds (result->rtt);
      g_autofree char *offset = format_seconds (result->offset);

      printf ("  stratum %u, round trip %s, offset %s, %u new cookies\n", result->stratum,
              rtt + 1, offset, result->ntp_cookies);
    }
}

/* No bus is involved: ntsctl_report_error()'s mapping of D-Bus errors
 * does not apply. */
static int
probe_failed (const GError *error)
{
  g_printerr ("ntsctl: %s\n", error->message);
  return NTSCTL_EXIT_FAILURE;
}

int
ntsctl_cmd_probe (Ntsctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NtsProbeRequest) request = nts_probe_request_new ();
  g_autoptr(GPtrArray) results = NULL;
  g_autofree char *port_text = NULL;
  g_autofree char *ca_path = NULL;
  guint64 port = 0;
  guint failed = 0;
  const GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_STRING, &port_text,
      "NTS-KE port of every server (default: 4460)", "PORT" },
    { "ca", 0, 0, G_OPTION_ARG_FILENAME, &ca_path,
      "Trust only the CA certificates in FILE (PEM), not the system's", "FILE" },
    G_OPTION_ENTRY_NULL
  };

  if (!ntsctl_parse_options (ctl, entries, "SERVER…",
                             "Check from here, as yourself, that servers speak NTS: a key "
                             "exchange\n"
                             "and one authenticated NTP request each, all at once, within 5 s.\n"
                             "Needs no service. Exits with 3 when a server fails.",
                             &argc, &argv, &error))
    return ntsctl_usage_error (ctl, error);
  if (argc < 2)
    return ntsctl_usage_message (ctl, "probe needs at least one server");
  if ((guint) argc - 1 > NTS_PROBE_MAX_SERVERS)
    return ntsctl_usage_message (ctl, "probe takes at most 16 servers");
  if (port_text != NULL &&
      (!g_ascii_string_to_unsigned (port_text, 10, 1, G_MAXUINT16, &port, &error)))
    {
      g_prefix_error (&error, "--port: ");
      return ntsctl_usage_error (ctl, error);
    }
  if (ca_path != NULL && !g_file_get_contents (ca_path, &request->ca_pem, NULL, &error))
    return probe_failed (error);

  for (int i = 1; i < argc; i++)
    nts_probe_request_add (request, argv[i], (guint16) port);
  request->timeout_ms = NTS_PROBE_DEFAULT_TIMEOUT_MS;

  results = run_probe (request, &error);
  if (results == NULL)
    return probe_failed (error);

  if (ctl->json)
    {
      GVariantBuilder builder;
      g_autoptr(GVariant) array = NULL;

      g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
      for (guint i = 0; i < results->len; i++)
        g_variant_builder_add_value (&builder,
                                     nts_probe_result_to_variant (results->pdata[i], FALSE));
      /* Ours to free: ntsctl_print_json() only reads it. */
      array = g_variant_ref_sink (g_variant_builder_end (&builder));
      ntsctl_print_json (array);
    }
  for (guint i = 0; i < results->len; i++)
    {
      const NtsProbeResult *result = results->pdata[i];

      if (result->phase != NTS_PROBE_OK)
        failed++;
      if (!ctl->json)
        print_result (result);
    }
  return failed > 0 ? NTSCTL_EXIT_NTS_NOT_WORKING : NTSCTL_EXIT_OK;
}
