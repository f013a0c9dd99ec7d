/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every libFuzzer target in tests/fuzz-*.c shares. Each target is
 * built twice: by tests/fuzz/run-fuzz with clang's libFuzzer, and by
 * meson with fuzz-replay.c's main(), which runs the target over its seed
 * corpus (tests/fuzz-corpus/<parser>/) in every unit test run. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* abort() is what libFuzzer reports as a crash, with the input kept:
 * every property a target checks fails this way. */
#define NTS_FUZZ_CHECK(cond) \
  G_STMT_START { if (!(cond)) { g_printerr ("check failed: %s\n", #cond); abort (); } } G_STMT_END

/* An error the daemon can hand back: set, in the domain and code its
 * callers expect, with a message that is valid UTF-8, since it travels
 * as a D-Bus string (g_variant_new_string() refuses anything else with a
 * critical, and the caller gets no proper error). */
static inline void
nts_fuzz_check_error (const GError *error, GQuark domain, int code)
{
  NTS_FUZZ_CHECK (error != NULL);
  NTS_FUZZ_CHECK (error->domain == domain);
  NTS_FUZZ_CHECK (code < 0 || error->code == code);
  NTS_FUZZ_CHECK (error->message != NULL);
  if (!g_utf8_validate (error->message, -1, NULL))
    {
      char *shown = g_strescape (error->message, NULL);
      g_printerr ("message is not UTF-8: %s\n", shown);
      g_free (shown);
      abort ();
    }
}

/* The input as the NUL-terminated text a file read would give: a copy up
 * to the first NUL, on the heap so a read past its end is caught. */
static inline char *
nts_fuzz_text (const uint8_t *data, size_t size)
{
  return g_strndup ((const char *) data, size);
}

/* GLib 2.74's g_key_file_get_string() sets its internal error twice for a
 * value with a bad escape and a backslash at its end, and warns about it
 * itself, whatever error argument the caller gives: a GLib bug, harmless
 * (a warning in the log), and the only warning these targets let pass.
 * Both messages are GKeyFile's own; none of ours looks like them. */
static gboolean
nts_fuzz_fatal_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  return !(g_strcmp0 (domain, "GLib") == 0 &&
           strstr (message, "GError set over the top") != NULL &&
           (strstr (message, "was: Key file contains escape character at end of line") != NULL ||
            strstr (message, "was: Key file contains invalid escape sequence") != NULL));
}

/* For targets that read key files: run before each input (cheap). */
static inline void
nts_fuzz_allow_gkeyfile_double_error (void)
{
  g_test_log_set_fatal_handler (nts_fuzz_fatal_log, NULL);
}
