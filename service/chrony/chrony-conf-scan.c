/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See chrony-conf-scan.h. The syntax is chrony.conf(5)'s: one directive
 * per line, its name case-insensitive, comments from '#', '!', ';' or '%'
 * at the start of a line. Only the directives that matter here are
 * understood; everything else is skipped, as the daemon has already
 * accepted the file. */
#include "chrony-conf-scan.h"

#include <gio/gio.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "safe-fs.h"


#define FILE_MAX_SIZE (1024 * 1024)
#define MAX_DEPTH 4
#define MAX_FILES 256
#define DEFAULT_NTS_PORT 4460

typedef struct {
  NtsRoot           *root;     /* NULL when nothing is followed */
  NtsChronyConfScan *scan;
  guint              files;
  gboolean           follow;  /* read what include, confdir and sourcedir name */
} Scan;

static void
server_free (NtsConfServer *server)
{
  g_free (server->name);
  g_free (server);
}

void
nts_chrony_conf_scan_free (NtsChronyConfScan *scan)
{
  if (scan == NULL)
    return;
  g_ptr_array_unref (scan->servers);
  g_free (scan);
}

static NtsChronyConfScan *
scan_new (void)
{
  NtsChronyConfScan *scan = g_new0 (NtsChronyConfScan, 1);

  scan->min_sources = NTS_CHRONY_DEFAULT_MIN_SOURCES;
  scan->servers = g_ptr_array_new_with_free_func ((GDestroyNotify) server_free);
  return scan;
}

static void scan_file (Scan *s, const char *path, guint depth, gboolean sources_only);

static void
add_source (NtsChronyConfScan *scan, char **words)
{
  NtsConfServer *server;

  if (words[1] == NULL)
    return;
  server = g_new0 (NtsConfServer, 1);
  server->name = g_strdup (words[1]);
  server->nts_port = DEFAULT_NTS_PORT;
  for (char **w = words + 2; *w != NULL; w++)
    {
      if (g_ascii_strcasecmp (*w, "nts") == 0)
        server->nts = TRUE;
      else if (g_ascii_strcasecmp (*w, "ntsport") == 0 && w[1] != NULL)
        {
          guint64 port;

          if (g_ascii_string_to_unsigned (w[1], 10, 1, 65535, &port, NULL))
            server->nts_port = (guint16) port;
          w++;
        }
    }
  g_ptr_array_add (scan->servers, server);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
path_is_safe (const char *path)
{
  /* Absolute and without "..": an include must stay under the root. */
  return path[0] == '/' && strstr (path, "..") == NULL;
}

/* glob(3) takes a path, so the pattern goes below --root's host path;
 * each match is then read through the handle like any other file. */
static void
scan_include (Scan *s, const char *pattern, guint depth)
{
  g_autofree char *host_pattern = NULL;
  const char *host_root = nts_root_get_host_path (s->root);
  gsize root_len = strlen (host_root);
  glob_t matches = { 0 };

  if (!path_is_safe (pattern))
    return;
  while (root_len > 0 && host_root[root_len - 1] == '/')
    root_len--;
  host_pattern = g_strdup_printf ("%.*s%s", (int) root_len, host_root, pattern);
  if (glob (host_pattern, GLOB_NOSORT, NULL, &matches) != 0)
    {
      globfree (&matches);
      return;
    }
  /* chronyd includes the matches in name order. */
  qsort (matches.gl_pathv, matches.gl_pathc, sizeof (char *), compare_strings);
  for (gsize i = 0; i < matches.gl_pathc; i++)
    scan_file (s, matches.gl_pathv[i] + root_len, depth + 1, FALSE);
  globfree (&matches);
}

/* confdir/sourcedir: files with @suffix in name order over all the
 * directories, the first directory's file winning for equal names. */
static void
scan_directories (Scan *s, char **dirs, const char *suffix, guint depth, gboolean sources_only)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  for (char **dir = dirs; *dir != NULL; dir++)
    {
      g_autoptr(GPtrArray) listing = NULL;
      g_autofree char *canonical = NULL;

      if (!path_is_safe (*dir))
        continue;
      /* "/etc/chrony/conf.d/" names the same directory. A missing one, or
       * one reached through a link, holds nothing. */
      canonical = g_canonicalize_filename (*dir, "/");
      listing = nts_root_list_dir (s->root, canonical, NULL);
      if (listing == NULL)
        continue;
      for (guint i = 0; i < listing->len; i++)
        {
          const char *name = listing->pdata[i];

          if (!g_str_has_suffix (name, suffix) || g_hash_table_contains (seen, name))
            continue;
          g_hash_table_insert (seen, g_strdup (name), g_build_filename (canonical, name, NULL));
        }
    }

  {
    GHashTableIter iter;
    gpointer key;

    g_hash_table_iter_init (&iter, seen);
    while (g_hash_table_iter_next (&iter, &key, NULL))
      g_ptr_array_add (names, key);
  }
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++)
    scan_file (s, g_hash_table_lookup (seen, names->pdata[i]), depth + 1, sources_only);
}

static void
scan_line (Scan *s, const char *line, guint depth, gboolean sources_only)
{
  g_auto(GStrv) words = NULL;
  g_autoptr(GPtrArray) nonempty = g_ptr_array_new ();
  char **w;
  const char *directive;

  while (*line == ' ' || *line == '\t')
    line++;
  if (*line == '\0' || strchr ("#!;%", *line) != NULL)
    return;

  words = g_strsplit_set (line, " \t", -1);
  for (w = words; *w != NULL; w++)
    if (**w != '\0')
      g_ptr_array_add (nonempty, *w);
  g_ptr_array_add (nonempty, NULL);
  w = (char **) nonempty->pdata;
  directive = w[0];
  if (directive == NULL)
    return;

  if (g_ascii_strcasecmp (directive, "server") == 0 ||
      g_ascii_strcasecmp (directive, "pool") == 0 ||
      g_ascii_strcasecmp (directive, "peer") == 0)
    add_source (s->scan, w);
  else if (sources_only)
    return;
  else if (!s->follow && (g_ascii_strcasecmp (directive, "include") == 0 ||
                          g_ascii_strcasecmp (directive, "confdir") == 0 ||
                          g_ascii_strcasecmp (directive, "sourcedir") == 0))
    return;
  else if (g_ascii_strcasecmp (directive, "minsources") == 0 && w[1] != NULL)
    {
      gint64 value;

      /* chronyd selects nothing without one source, whatever it says. */
      if (g_ascii_string_to_signed (w[1], 10, G_MININT32, G_MAXINT32, &value, NULL))
        s->scan->min_sources = (guint) MAX (value, 1);
    }
  else if (g_ascii_strcasecmp (directive, "include") == 0 && w[1] != NULL)
    scan_include (s, w[1], depth);
  else if (g_ascii_strcasecmp (directive, "confdir") == 0 && w[1] != NULL)
    scan_directories (s, w + 1, ".conf", depth, FALSE);
  else if (g_ascii_strcasecmp (directive, "sourcedir") == 0 && w[1] != NULL)
    scan_directories (s, w + 1, ".sources", depth, TRUE);
}

static void
scan_text (Scan *s, const char *text, guint depth, gboolean sources_only)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (char **l = lines; *l != NULL; l++)
    {
      g_strchomp (*l);
      scan_line (s, *l, depth, sources_only);
    }
}

static void
scan_file (Scan *s, const char *path, guint depth, gboolean sources_only)
{
  g_autofree char *text = NULL;
  gsize length;

  if (depth > MAX_DEPTH || s->files >= MAX_FILES)
    return;
  s->files++;
  if (!nts_root_get_contents (s->root, path, FILE_MAX_SIZE, &text, &length, NULL))
    return;
  scan_text (s, text, depth, sources_only);
}

NtsChronyConfScan *
nts_chrony_conf_scan_text (const char *text)
{
  Scan s = { .root = NULL, .scan = scan_new (), .follow = FALSE };

  g_return_val_if_fail (text != NULL, s.scan);

  scan_text (&s, text, 0, FALSE);
  return s.scan;
}

NtsChronyConfScan *
nts_chrony_conf_scan (NtsRoot     *root,
                      const char  *config_file,
                      GError     **error)
{
  g_autoptr(NtsChronyConfScan) scan = scan_new ();
  Scan s = { .root = root, .scan = scan, .follow = TRUE };
  g_autofree char *text = NULL;
  gsize length;

  g_return_val_if_fail (root != NULL && config_file != NULL, NULL);

  if (!nts_root_get_contents (root, config_file, FILE_MAX_SIZE, &text, &length, error))
    return NULL;
  s.files = 1;
  scan_text (&s, text, 0, FALSE);
  return g_steal_pointer (&scan);
}

const NtsConfServer *
nts_chrony_conf_scan_find_server (const NtsChronyConfScan *scan,
                                  const char              *name)
{
  if (scan == NULL || name == NULL)
    return NULL;
  for (guint i = 0; i < scan->servers->len; i++)
    {
      const NtsConfServer *server = scan->servers->pdata[i];

      if (g_ascii_strcasecmp (server->name, name) == 0)
        return server;
    }
  return NULL;
}
