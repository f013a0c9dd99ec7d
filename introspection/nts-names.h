/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The names of ntssetupd's D-Bus contract, for C, in one place.
 *
 * The service owns and serves these names; ntsctl, the tests and the
 * benchmarks call them. A name spelt differently in one copy is a call to
 * nobody (or a polkit check of an action that does not exist), and nothing
 * catches it before run time; so every C file takes them from here and
 * none spells them itself. org.ntssetup.Manager1.xml and the files under
 * policy/ cannot include a header: tests/test-contract.c checks that they
 * say the same.
 *
 * The D-Bus error names are in nts-errors.c, with their GError codes. */
#pragma once

/* The well-known name on the system bus (only root may own it:
 * policy/org.ntssetup.Manager.conf), the one object, its interface. */
#define NTS_DBUS_NAME      "org.ntssetup.Manager"
#define NTS_DBUS_PATH      "/org/ntssetup/Manager"
#define NTS_DBUS_INTERFACE "org.ntssetup.Manager1"

/* The polkit actions (policy/org.ntssetup.Manager.policy; which method
 * needs which is documented in org.ntssetup.Manager1.xml). */
#define NTS_ACTION_APPLY     "org.ntssetup.manager.apply"
#define NTS_ACTION_ROLLBACK  "org.ntssetup.manager.rollback"
#define NTS_ACTION_INSTALL   "org.ntssetup.manager.install"
#define NTS_ACTION_VERIFY    "org.ntssetup.manager.verify"
/* Never asked by the service: the umbrella a settings panel asks for,
 * implying .apply and .rollback. */
#define NTS_ACTION_CONFIGURE "org.ntssetup.manager.configure"
