/* The PackageKit stand-in (tests/templates/packagekit.py) on a
 * ServiceFixture's bus, and its test control interface. */
#pragma once

#include "service-fixture.h"

G_BEGIN_DECLS

/* Starts the stand-in with @params (the template's JSON); returns when it
 * owns org.freedesktop.PackageKit. */
GSubprocess *packagekit_stand_in_start (ServiceFixture *fx, const char *params);

/* A call to org.ntssetup.Test.PackageKit; asserts it succeeds. */
GVariant *packagekit_stand_in_control (ServiceFixture *fx, const char *method, GVariant *params);

/* The installed package names, sorted, space-separated. */
char *packagekit_stand_in_installed (ServiceFixture *fx);

/* Every PackageKit call so far, printed: "[('CreateTransaction', []), ...]". */
char *packagekit_stand_in_calls (ServiceFixture *fx);

G_END_DECLS
