/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See probe-client.h. One exchange is a chain of GIO calls on the main
 * loop (connect or spawn, write, shut down the writing side, read the
 * length, the body, then the end of the stream, wait for the probe to
 * exit), each under one cancellable that the caller's cancellable and
 * the deadline both cancel. */
#include "config.h"

#include "probe-client.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <gio/gunixsocketaddress.h>
#include <unistd.h>

#include "task-tag.h"

/* The root's own CA bundle, as Debian and its derivatives keep it. */
#define ROOT_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
/* Room in a request for everything but the CA bundle. */
#define REQUEST_ROOM (64u * 1024u)

typedef struct {
  NtsProbeRequest *request; /* our own copy, as parsed back */
  GBytes *frame;            /* length and body */
  guint deadline_ms;
  GCancellable *cancellable;
  GCancellable *caller_cancellable;
  gulong cancel_handler;
  GSource *timer;
  gboolean timed_out;
  char *probe_path; /* what was run, for messages; NULL: the socket */
  GSubprocess *process;
  GSocketConnection *connection;
  guint8 header[4];
  guint8 *body;
  gsize body_size;
  guint8 extra;
  GPtrArray *results;
} Exchange;

static void
exchange_free (Exchange *x)
{
  if (x->timer != NULL)
    {
      g_source_destroy (x->timer);
      g_source_unref (x->timer);
    }
  if (x->cancel_handler != 0)
    g_cancellable_disconnect (x->caller_cancellable, x->cancel_handler);
  g_clear_object (&x->caller_cancellable);
  /* A probe still running when we give up is not left behind. */
  if (x->process != NULL && g_subprocess_get_identifier (x->process) != NULL)
    g_subprocess_force_exit (x->process);
  g_clear_object (&x->process);
  g_clear_object (&x->connection);
  g_clear_object (&x->cancellable);
  g_clear_pointer (&x->request, nts_probe_request_free);
  g_clear_pointer (&x->frame, g_bytes_unref);
  if (x->body != NULL)
    {
      explicit_bzero (x->body, x->body_size);
      g_free (x->body);
    }
  g_clear_pointer (&x->results, g_ptr_array_unref);
  g_free (x->probe_path);
  g_free (x);
}

static const char *
probe_name (Exchange *x)
{
  return x->probe_path != NULL ? x->probe_path : NTS_PROBE_SOCKET_PATH;
}

/* Ends the exchange with @error (taken), or with the results when NULL.
 * An operation cancelled by the deadline is reported as the deadline. */
static void
finish (GTask *task, GError *error)
{
  Exchange *x = g_task_get_task_data (task);

  if (error != NULL && x->timed_out)
    {
      g_clear_error (&error);
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           "the NTS probe (%s) did not answer within %u ms", probe_name (x),
                           x->deadline_ms);
    }
  else if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_prefix_error (&error, "NTS probe (%s): ", probe_name (x));
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_steal_pointer (&x->results),
                           (GDestroyNotify) g_ptr_array_unref);
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_subprocess_wait_finish (x->process, result, &error))
    {
      /* A whole answer, then no exit by the deadline: the answer stands,
       * the probe is killed (exchange_free). */
      if (x->timed_out)
        {
          g_warning ("%s answered but did not exit in time: killed", x->probe_path);
          g_clear_error (&error);
        }
      finish (task, error);
      return;
    }
  /* Its answer was whole and valid: that is what counts. */
  if (!g_subprocess_get_successful (x->process))
    g_warning ("%s answered, then exited unsuccessfully", x->probe_path);
  finish (task, NULL);
}

static void
on_end_of_stream (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  g_autoptr(GBytes) body = NULL;

  if (n < 0)
    {
      finish (task, error);
      return;
    }
  if (n > 0)
    {
      finish (task, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                 "more than one message in its answer"));
      return;
    }

  body = nts_probe_secret_bytes_new (x->body, x->body_size);
  explicit_bzero (x->body, x->body_size);
  x->results = nts_probe_answer_parse (body, x->request, &error);
  if (x->results == NULL)
    {
      finish (task, error);
      return;
    }
  if (x->process == NULL)
    {
      finish (task, NULL);
      return;
    }
  /* It closed its end: it is exiting. Waited for, so that no probe
   * outlives its answer; the deadline still holds. */
  g_subprocess_wait_async (x->process, x->cancellable, on_exited, g_steal_pointer (&task));
}

static void
on_body (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  GError *error = NULL;
  gsize got = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error))
    {
      finish (task, error);
      return;
    }
  if (got < x->body_size)
    {
      finish (task,
              g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                           "the answer ended after %zu of its %zu bytes", got, x->body_size));
      return;
    }
  g_input_stream_read_async (G_INPUT_STREAM (source), &x->extra, 1, G_PRIORITY_DEFAULT,
                             x->cancellable, on_end_of_stream, g_steal_pointer (&task));
}

static void
on_header (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  GError *error = NULL;
  gsize got = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error))
    {
      finish (task, error);
      return;
    }
  if (got < sizeof x->header)
    {
      finish (task,
              g_error_new (G_IO_ERROR,
                           got == 0 ? G_IO_ERROR_CONNECTION_CLOSED : G_IO_ERROR_PARTIAL_INPUT,
                           "closed without an answer"));
      return;
    }
  x->body_size = ((gsize) x->header[0] << 24) | ((gsize) x->header[1] << 16) |
                 ((gsize) x->header[2] << 8) | x->header[3];
  if (x->body_size > NTS_PROBE_MAX_ANSWER)
    {
      finish (task, g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                                 "an answer of %zu bytes, over the bound of %u", x->body_size,
                                 NTS_PROBE_MAX_ANSWER));
      return;
    }
  x->body = g_malloc (MAX (x->body_size, 1));
  g_input_stream_read_all_async (G_INPUT_STREAM (source), x->body, x->body_size,
                                 G_PRIORITY_DEFAULT, x->cancellable, on_body,
                                 g_steal_pointer (&task));
}

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  GError *error = NULL;
  GInputStream *input;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      finish (task, error);
      return;
    }
  /* The request is whole: the probe may read to its end. */
  if (!g_socket_shutdown (g_socket_connection_get_socket (x->connection), FALSE, TRUE, &error))
    {
      finish (task, error);
      return;
    }
  input = g_io_stream_get_input_stream (G_IO_STREAM (x->connection));
  g_input_stream_read_all_async (input, x->header, sizeof x->header, G_PRIORITY_DEFAULT,
                                 x->cancellable, on_header, g_steal_pointer (&task));
}

static void
send_request (GTask *task)
{
  Exchange *x = g_task_get_task_data (task);
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (x->connection));
  gsize size;
  gconstpointer data = g_bytes_get_data (x->frame, &size);

  g_output_stream_write_all_async (output, data, size, G_PRIORITY_DEFAULT, x->cancellable,
                                   on_written, g_object_ref (task));
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  GError *error = NULL;

  x->connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (x->connection == NULL)
    {
      finish (task, error);
      return;
    }
  send_request (task);
}

/* Under --root: the probe on one end of a socketpair, as its stdin and
 * stdout; its stderr is ours (the daemon's log). */
static gboolean
spawn_probe (Exchange *x, GError **error)
{
  const char *env = g_getenv ("NTSSETUP_PROBE");
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSocket) socket = NULL;
  int fds[2];
  int child_out;

  x->probe_path = g_strdup (env != NULL && env[0] != '\0' ? env : LIBEXECDIR "/ntssetup-probe");
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s",
                   g_strerror (saved));
      return FALSE;
    }
  child_out = dup (fds[1]);
  if (child_out < 0)
    {
      int saved = errno;
      close (fds[0]);
      close (fds[1]);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "dup: %s",
                   g_strerror (saved));
      return FALSE;
    }
  /* The launcher owns the child's ends from here, and closes them once
   * the probe has them. */
  g_subprocess_launcher_take_stdin_fd (launcher, fds[1]);
  g_subprocess_launcher_take_stdout_fd (launcher, child_out);
  g_subprocess_launcher_set_cwd (launcher, "/");
  socket = g_socket_new_from_fd (fds[0], error);
  if (socket == NULL)
    {
      close (fds[0]);
      return FALSE;
    }
  x->process = g_subprocess_launcher_spawn (launcher, error, x->probe_path, NULL);
  if (x->process == NULL)
    return FALSE;
  x->connection = g_socket_connection_factory_create_connection (socket);
  return TRUE;
}

static gboolean
on_deadline (gpointer user_data)
{
  Exchange *x = user_data;

  x->timed_out = TRUE;
  g_clear_pointer (&x->timer, g_source_unref);
  if (x->process != NULL && g_subprocess_get_identifier (x->process) != NULL)
    g_subprocess_force_exit (x->process);
  g_cancellable_cancel (x->cancellable);
  return G_SOURCE_REMOVE;
}

static void
forward_cancel (GCancellable *caller, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static gboolean
is_real_root (NtsRoot *root)
{
  return root == NULL || strcmp (nts_root_get_host_path (root), "/") == 0;
}

void
nts_probe_run_async (const NtsProbeRequest *request, NtsRoot *root, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GBytes) body = nts_probe_request_serialize (request);
  g_autoptr(GByteArray) frame = NULL;
  Exchange *x = g_new0 (Exchange, 1);
  GError *error = NULL;
  guint8 header[4];
  gsize size = g_bytes_get_size (body);

  nts_task_set_source_tag (task, nts_probe_run_async);
  g_task_set_task_data (task, x, (GDestroyNotify) exchange_free);
  x->cancellable = g_cancellable_new ();

  /* What the probe will refuse is refused here, with the same words; and
   * the answer is checked against exactly what was sent. */
  x->request = nts_probe_request_parse (body, &error);
  if (x->request == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  header[0] = size >> 24;
  header[1] = size >> 16;
  header[2] = size >> 8;
  header[3] = size;
  frame = g_byte_array_sized_new (size + sizeof header);
  g_byte_array_append (frame, header, sizeof header);
  g_byte_array_append (frame, g_bytes_get_data (body, NULL), size);
  x->frame = nts_probe_secret_bytes_new (frame->data, frame->len);
  explicit_bzero (frame->data, frame->len);

  if (cancellable != NULL)
    {
      x->caller_cancellable = g_object_ref (cancellable);
      x->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (forward_cancel),
                                                 g_object_ref (x->cancellable), g_object_unref);
    }
  if (g_cancellable_is_cancelled (x->cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "NTS probe cancelled");
      return;
    }
  x->deadline_ms = x->request->timeout_ms + NTS_PROBE_MARGIN_MS;
  x->timer = g_timeout_source_new (x->deadline_ms);
  g_source_set_callback (x->timer, on_deadline, x, NULL);
  g_source_attach (x->timer, g_task_get_context (task));

  if (is_real_root (root))
    {
      g_autoptr(GSocketClient) client = g_socket_client_new ();
      g_autoptr(GSocketAddress) address = g_unix_socket_address_new (NTS_PROBE_SOCKET_PATH);

      g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), x->cancellable,
                                     on_connected, g_steal_pointer (&task));
      return;
    }
  if (!spawn_probe (x, &error))
    {
      g_prefix_error (&error, "cannot run the NTS probe %s: ", x->probe_path);
      g_task_return_error (task, error);
      return;
    }
  send_request (task);
}

GPtrArray *
nts_probe_run_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          NTS_TASK_TAG (nts_probe_run_async),
                        NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
nts_probe_load_ca (NtsRoot *root, const char *ca_path, char **pem, GError **error)
{
  gsize max = NTS_PROBE_MAX_REQUEST - REQUEST_ROOM;
  g_autofree char *contents = NULL;
  gsize length = 0;

  *pem = NULL;
  if (ca_path != NULL)
    {
      if (!g_file_get_contents (ca_path, &contents, &length, error))
        return FALSE;
    }
  else if (!is_real_root (root))
    {
      g_autoptr(GError) local = NULL;

      if (!nts_root_get_contents (root, ROOT_CA_BUNDLE, max, &contents, &length, &local))
        {
          if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
            return TRUE;
          g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", ROOT_CA_BUNDLE);
          return FALSE;
        }
      ca_path = ROOT_CA_BUNDLE;
    }
  else
    return TRUE;

  if (length > max)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "%s: %zu bytes of certificates, more than the probe takes (%zu)", ca_path,
                   length, max);
      return FALSE;
    }
  if (length == 0 || strlen (contents) != length || !g_utf8_validate (contents, length, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a PEM certificate file",
                   ca_path);
      return FALSE;
    }
  *pem = g_steal_pointer (&contents);
  return TRUE;
}
