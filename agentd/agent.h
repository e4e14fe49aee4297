/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * gslb-agentd's core: one libevent loop that checks the local backends
 * (lib/health), samples the system for the predictor (monitor.h), keeps
 * the agent's state and its version, and hands it to the sender, which
 * reports it to every overwatch. Signals: SIGHUP reloads, SIGTERM/SIGINT
 * deregister and stop, SIGUSR1/SIGUSR2 start/end a manual drain.
 */
#pragma once

#include <stdbool.h>

#include "compiler.h"
#include "config.h"

/*
 * Resolves every backend address (a host name to the first address
 * getaddrinfo gives) into ips (cfg->agent.n_backends entries). GSLB_EOK,
 * or GSLB_ECONFIG with a message per backend that does not resolve or
 * resolves to another backend's address, port and service.
 */
int agent_resolve_backends(const struct gslb_config *cfg, struct gslb_ip *ips,
			   struct gslb_config_errors *errs) GSLB_WARN_UNUSED;

/*
 * Runs the agent with cfg (taken over) until SIGTERM or SIGINT. With
 * rotate_identity, the identity is rotated at start. Returns the exit
 * status: 0, 1 (runtime error) or 78 (a backend does not resolve).
 */
int agent_run(const char *config_path, struct gslb_config *cfg,
	      bool rotate_identity);
