/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The registry: the one owner of backend state on an overwatch. Every
 * backend (static from the config, later from agents and the API) has the
 * facts that decide its health, and one effective status computed from them
 * in a fixed order:
 *
 *   manual override > draining > overwatch validation > stale
 *     > agent claim > default (healthy)
 *
 * Used from the main thread only; it never blocks on I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "netaddr.h"

/* Times given to the registry are monotonic (gslb_clock_mono()). */

enum gslb_backend_source {
	GSLB_SOURCE_STATIC = 0, /* from the config file */
	GSLB_SOURCE_AGENT,
	GSLB_SOURCE_API,
};

enum gslb_status {
	GSLB_STATUS_HEALTHY = 0,
	GSLB_STATUS_UNHEALTHY,
	GSLB_STATUS_STALE,
	GSLB_STATUS_DRAINING,
};

/* A yes/no fact that may not be known yet. */
enum gslb_tristate {
	GSLB_UNKNOWN = -1,
	GSLB_NO = 0,
	GSLB_YES = 1,
};

struct gslb_backend {
	char *service; /* normalized domain name */
	struct gslb_ip ip;
	uint16_t port;
	uint32_t weight;
	char *region;
	enum gslb_backend_source source;
	/* Static: the config entry, valid until the next sync_static. */
	const struct gslb_server *server;

	/* Agent claim (source agent). */
	const char *agent_id; /* the reporting agent's; owned by its record */
	bool agent_healthy;
	gslb_time_t agent_last_seen;
	/* Silence after which the claim is stale; 0: the registry's. */
	gslb_duration_t stale_after;

	/* Overwatch's own checks. */
	enum gslb_tristate validation;
	gslb_time_t validation_last_check;

	/* Manual override. */
	enum gslb_tristate override;

	/* Agent's predictive signal. */
	bool draining;

	enum gslb_status status; /* effective, kept current by the registry */

	void *check; /* the overwatch validator's check target; NULL = none */
};

/* The effective status of b at time now (stale_after: agent silence limit). */
enum gslb_status gslb_backend_status(const struct gslb_backend *b,
				     gslb_time_t now,
				     gslb_duration_t stale_after);

const char *gslb_status_name(enum gslb_status status);
/* "static", "agent" or "api". */
const char *gslb_source_name(enum gslb_backend_source source);

struct gslb_registry;

int gslb_registry_new(gslb_duration_t stale_after,
		      struct gslb_registry **out) GSLB_WARN_UNUSED;
void gslb_registry_free(struct gslb_registry *reg);

/*
 * Makes the static backends exactly those of cfg's regions: new servers are
 * added (healthy by default), removed ones dropped, and servers that stay
 * keep their health facts while weight and region follow the config.
 */
int gslb_registry_sync_static(struct gslb_registry *reg,
			      const struct gslb_config *cfg,
			      gslb_time_t now) GSLB_WARN_UNUSED;

/*
 * Adds a backend that did not come from the config: source API (healthy by
 * default) or agent (unhealthy until its agent claims otherwise, heard
 * from at now). GSLB_EEXIST if the key is taken, whatever its source.
 */
int gslb_registry_add(struct gslb_registry *reg,
		      enum gslb_backend_source source, const char *service,
		      const struct gslb_ip *ip, uint16_t port, uint32_t weight,
		      const char *region, gslb_time_t now,
		      struct gslb_backend **out) GSLB_WARN_UNUSED;

/* Removes (and frees) a backend added with gslb_registry_add. */
void gslb_registry_remove(struct gslb_registry *reg, struct gslb_backend *b);

struct gslb_backend *gslb_registry_find(const struct gslb_registry *reg,
					const char *service,
					const struct gslb_ip *ip,
					uint16_t port);

size_t gslb_registry_count(const struct gslb_registry *reg);
/* i-th backend in a stable order (insertion order); NULL past the end. */
struct gslb_backend *gslb_registry_at(const struct gslb_registry *reg,
				      size_t i);

/*
 * Setters for the facts; each recomputes the backend's status. They return
 * true when the effective status changed.
 */
bool gslb_registry_set_override(struct gslb_registry *reg,
				struct gslb_backend *b,
				enum gslb_tristate healthy, gslb_time_t now);
/* GSLB_UNKNOWN clears the validation fact (validation turned off). */
bool gslb_registry_set_validation(struct gslb_registry *reg,
				  struct gslb_backend *b,
				  enum gslb_tristate healthy, gslb_time_t now);
bool gslb_registry_set_draining(struct gslb_registry *reg,
				struct gslb_backend *b, bool draining,
				gslb_time_t now);
/* Also records that the agent was heard from at now. */
bool gslb_registry_set_agent_claim(struct gslb_registry *reg,
				   struct gslb_backend *b, bool healthy,
				   gslb_time_t now);
/* The agent was heard from (a heartbeat): the claim is not stale. */
bool gslb_registry_touch_agent(struct gslb_registry *reg,
			       struct gslb_backend *b, gslb_time_t now);
/* A new weight (agent or API backends); bumps the generation if it
 * changed. */
void gslb_registry_set_weight(struct gslb_registry *reg, struct gslb_backend *b,
			      uint32_t weight);

/* Recomputes every status (time passes: staleness); true if any changed. */
bool gslb_registry_refresh(struct gslb_registry *reg, gslb_time_t now);

/*
 * Bumped on every change that can alter DNS answers (membership, weight,
 * effective status), so the snapshot builder knows when to rebuild.
 */
uint64_t gslb_registry_generation(const struct gslb_registry *reg);
