/* SPDX-License-Identifier: GPL-2.0-or-later */
/* placeholder until the codec lands */
#include <glib.h>
