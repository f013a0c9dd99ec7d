/* Reading a small file under the root: see root-read.h. A convenience
 * over safe-fs.h for the readers that take the root as a path and want a
 * string, so both kinds of reads refuse links the same way. */
#include "root-read.h"

#include <string.h>

#include "safe-fs.h"

gboolean
nts_root_read_file (const char  *root,
                    const char  *path,
                    gsize        max_size,
                    char       **contents,
                    gsize       *length,
                    GError     **error)
{
  g_autoptr(NtsRoot) fs = nts_root_open (root, error);
  g_autoptr(NtsFileData) data = NULL;
  gsize size;

  if (fs == NULL)
    return FALSE;
  data = nts_root_read (fs, path, max_size, error);
  if (data == NULL)
    return FALSE;
  if (!data->exists)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "cannot read %s: No such file or directory", path);
      return FALSE;
    }
  size = g_bytes_get_size (data->content);
  *contents = g_malloc (size + 1);
  memcpy (*contents, g_bytes_get_data (data->content, NULL), size);
  (*contents)[size] = '\0';
  if (length)
    *length = size;
  return TRUE;
}
