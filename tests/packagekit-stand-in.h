/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PackageKit stand-in (tests/templates/packagekit.py) on a
 * ServiceFixture's bus, and its test control interface. */
#pragma once

#include "service-fixture.h"

G_BEGIN_DECLS

/* Debian's packages as the stand-in plays them: chrony and
 * systemd-timesyncd conflict, each removes the other. */
#define PACKAGEKIT_STAND_IN_DEBIAN \
  "{\"installed\": [\"systemd-timesyncd\", \"systemd\"], " \
  "\"available\": {\"chrony\": [\"systemd-timesyncd\"], \"systemd-timesyncd\": [\"chrony\"]}}"

/* Starts the stand-in with @params (the template's JSON); returns when it
 * owns org.freedesktop.PackageKit. */
GSubprocess *packagekit_stand_in_start (ServiceFixture *fx, const char *params);

/* A call to org.ntssetup.Test.PackageKit; asserts it succeeds. */
/* Stops the stand-in and waits (bounded) until the bus says its name has
 * no owner: a call made before would reach a name whose owner is gone
 * (NoReply), not the "PackageKit is not available" of a system without it. */
void packagekit_stand_in_stop (ServiceFixture *fx, GSubprocess **process);

GVariant *packagekit_stand_in_control (ServiceFixture *fx, const char *method, GVariant *params);

/* The installed package names, sorted, space-separated. */
char *packagekit_stand_in_installed (ServiceFixture *fx);

/* Every PackageKit call so far, printed: "[('CreateTransaction', []), ...]". */
char *packagekit_stand_in_calls (ServiceFixture *fx);

G_END_DECLS
