/* SPDX-License-Identifier: GPL-2.0-or-later */
/* placeholder until the wire format lands */
#include "probe-wire.h"
