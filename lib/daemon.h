/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What both daemons do as processes: tell systemd, leave root. */
#pragma once

#include <stddef.h>

#include "compiler.h"

/* sd_notify(3) without libsystemd: "READY=1", "RELOADING=1", "STOPPING=1".
 * Nothing happens when systemd did not ask ($NOTIFY_SOCKET unset). */
void gslb_sd_notify(const char *state);

/*
 * The config's process.user and process.group. Started as root with a
 * user: create each of dirs that is missing (mode 0750, owned by that
 * user), then switch user and group for good, keeping only
 * CAP_NET_BIND_SERVICE so that a port below 1024 can still be bound, at a
 * reload too. Started as root without a user, or as another user, it only
 * logs a warning. GSLB_EOK; GSLB_ECONFIG for an unknown user or group
 * (why says which); another GSLB_E* code when the switch failed.
 */
int gslb_drop_privileges(const char *user, const char *group,
			 const char *const *dirs, size_t n_dirs, char *why,
			 size_t why_size) GSLB_WARN_UNUSED;
