/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GTask source tags that are ISO C.
 *
 * GLib's idiom tags a task with the function that made it,
 * g_task_set_source_tag (task, foo_async), so that foo_finish can check it
 * was given one of its own results. A tag is a gpointer, and ISO C has no
 * conversion between a function pointer and an object pointer (-Wpedantic
 * warns at each such call). It does convert any pointer to an integer and
 * an integer to a pointer, so the tag goes through guintptr: the
 * function's address on every platform GLib runs on, and always equal to
 * itself, which is all a tag needs. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define NTS_TASK_TAG(fn) ((gpointer) (guintptr) (fn))

/* g_task_set_source_tag (task, NTS_TASK_TAG (fn)), the task named after
 * @fn: GLib's macro would name it after the whole cast. GLib names the
 * task's main-loop sources after it, which is what a profiler or a
 * debugger shows. */
#define nts_task_set_source_tag(task, fn)                          \
  G_STMT_START {                                                   \
    GTask *nts_tagged_task_ = (task);                              \
    g_task_set_name (nts_tagged_task_, #fn);                       \
    g_task_set_source_tag (nts_tagged_task_, NTS_TASK_TAG (fn));   \
  } G_STMT_END

G_END_DECLS
