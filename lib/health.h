/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Health checks: HTTP and HTTPS through libcurl's multi-socket interface,
 * and TCP connects on non-blocking sockets, all driven by one libevent base.
 * No thread per check and no blocking call: thousands of targets are
 * checked from the caller's event loop.
 *
 * Each target has its own schedule: the first check runs at start-up (the
 * first checks of many targets are spread over the first second), later
 * ones at a fixed phase within the target's interval, so checks are spread
 * over the interval rather than fired together. Results go through a
 * per-target hysteresis (failure_threshold / success_threshold) before the
 * target's state changes.
 *
 * Shared by gslb-overwatchd (validation) and gslb-agentd (local backends).
 * Used from the thread that runs the event base only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "compiler.h"
#include "config.h"
#include "netaddr.h"

struct event_base;

enum gslb_health_state {
	GSLB_HEALTH_UNKNOWN = 0, /* no threshold reached yet */
	GSLB_HEALTH_HEALTHY,
	GSLB_HEALTH_UNHEALTHY,
};

const char *gslb_health_state_name(enum gslb_health_state state);

/* The hysteresis of one target. */
struct gslb_health_track {
	enum gslb_health_state state;
	unsigned consecutive_failures;
	unsigned consecutive_successes;
};

/*
 * Feeds one check result to t. A pass clears the failure count; once
 * success_threshold passes follow each other, a target that is not healthy
 * becomes healthy. Failures likewise, with failure_threshold. From unknown,
 * whichever threshold is reached first wins. Returns true when the state
 * changed.
 */
bool gslb_health_track_result(struct gslb_health_track *t, bool pass,
			      unsigned failure_threshold,
			      unsigned success_threshold);

/* What one check found. */
struct gslb_check_result {
	bool pass;
	gslb_duration_t latency; /* start to answer or error, failures too */
	int http_status;         /* 0 when no HTTP response was read */
	char error[160];         /* why it failed; "" on a pass */
};

/* The state of one target, for the API and metrics. */
struct gslb_health_info {
	struct gslb_health_track track;
	uint64_t passes;   /* checks passed since the target was added */
	uint64_t failures; /* checks failed */
	gslb_time_t
		last_check; /* wall clock, end of the last check; 0 = none */
	gslb_time_t last_healthy; /* wall clock, last pass; 0 = none */
	gslb_duration_t last_latency;
	const char *last_error; /* "" when the last check passed or none ran;
				   valid until the next call on the target */
};

struct gslb_health;
struct gslb_health_target;

/*
 * Called after every completed check of a target, from the event loop.
 * changed: the result moved the target to another state (read it with
 * gslb_health_info()). The callback may remove any target, this one
 * included.
 */
typedef void (*gslb_health_cb)(struct gslb_health_target *target,
			       const struct gslb_check_result *result,
			       bool changed, void *arg);

/*
 * A checker on base. user_agent is sent with HTTP checks (copied).
 * max_in_flight bounds the checks running at once (0: a default of 1024);
 * checks that fall due beyond it wait their turn in order.
 */
int gslb_health_new(struct event_base *base, const char *user_agent,
		    size_t max_in_flight, gslb_health_cb cb, void *arg,
		    struct gslb_health **out) GSLB_WARN_UNUSED;
/* Cancels running checks (without callbacks) and frees every target. */
void gslb_health_free(struct gslb_health *h);

/*
 * Starts checking ip:port with the settings in hc (copied). host, if not
 * NULL, replaces hc->host: it is the Host header, and for https the TLS
 * SNI and the name the certificate must carry; without either, https
 * verifies the certificate against the IP address. user is the caller's
 * and is given back by gslb_health_user().
 */
int gslb_health_add(struct gslb_health *h, const struct gslb_health_check *hc,
		    const struct gslb_ip *ip, uint16_t port, const char *host,
		    void *user,
		    struct gslb_health_target **out) GSLB_WARN_UNUSED;

/*
 * New settings for a target (a reload), keeping its state and counters.
 * A new interval takes effect from the next check.
 */
int gslb_health_update(struct gslb_health_target *t,
		       const struct gslb_health_check *hc,
		       const char *host) GSLB_WARN_UNUSED;

/* Stops checking; a running check is cancelled without a callback. */
void gslb_health_remove(struct gslb_health_target *t);

/* Checks now (unless a check is running), then resumes the schedule. */
void gslb_health_check_now(struct gslb_health_target *t);

void *gslb_health_user(const struct gslb_health_target *t);
void gslb_health_get_info(const struct gslb_health_target *t,
			  struct gslb_health_info *out);

/* Targets being checked, and those that have completed a first check. */
size_t gslb_health_count(const struct gslb_health *h);
size_t gslb_health_count_checked(const struct gslb_health *h);
