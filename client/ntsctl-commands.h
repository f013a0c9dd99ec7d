/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ntsctl — the commands the dispatcher (ntsctl.c) runs, one file each
 * (ntsctl-COMMAND.c). */
#pragma once

#include "ntsctl-common.h"

G_BEGIN_DECLS

/* Commands: parse argv (argv[0] is the command name) and return the exit
 * status. */
typedef int (*NtsctlCommandFunc) (Ntsctl *ctl, int argc, char **argv);

int ntsctl_cmd_status    (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_preview   (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_apply     (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_verify    (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_rollback  (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_snapshots (Ntsctl *ctl, int argc, char **argv);
int ntsctl_cmd_probe (Ntsctl *ctl, int argc, char **argv);

G_END_DECLS
