/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Progress step names as the contract documents them: read from
 * introspection/org.ntssetup.Manager1.xml (the Progress signal's
 * org.ntssetup.ApplySteps and RollbackSteps annotations, which
 * test-contract holds to the prose), never from the service's own tables, so a test that walks
 * the steps checks the service against its documentation. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* ApplyHardenedConfig's steps, in order. */
GStrv xml_apply_step_names (void);

/* Rollback's steps, in order (also the recovery of a Rollback). */
GStrv xml_rollback_step_names (void);

G_END_DECLS
