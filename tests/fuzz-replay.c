/* SPDX-License-Identifier: GPL-2.0-or-later */
/* main() for the fuzz targets built by meson without libFuzzer: runs the
 * target over the files and directories named on the command line, each
 * file and every prefix of it (the seeds are valid inputs; their prefixes
 * walk the truncation paths). Replays a crash file from run-fuzz too,
 * under gcc's sanitizers when the build has them. */
#include "fuzz.h"

#include <string.h>

static gboolean
run_file (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return FALSE;
  for (gsize i = 0; i <= len; i++)
    {
      /* An exact-size copy, as libFuzzer hands inputs over (never NULL,
       * even when empty). */
      g_autofree guint8 *copy = g_malloc (MAX (i, 1));

      memcpy (copy, contents, i);
      LLVMFuzzerTestOneInput (copy, i);
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  guint n = 0;

  for (int i = 1; i < argc; i++)
    {
      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          g_autoptr(GDir) dir = g_dir_open (argv[i], 0, NULL);
          const char *name;

          while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
            {
              g_autofree char *path = g_build_filename (argv[i], name, NULL);
              n += run_file (path);
            }
        }
      else
        n += run_file (argv[i]);
    }
  g_print ("%u inputs ran without a fault\n", n);
  return n > 0 ? 0 : 1;
}
