/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Validation: the overwatch's own health checks of every backend in the
 * registry, with the settings of the backend's region (type, path, host,
 * expected codes and body, thresholds). A check target's state, once a
 * threshold decides it, becomes the backend's validation fact; the
 * registry's effective status follows, and the caller is told so it can
 * republish the DNS snapshot at once.
 *
 * Main thread only.
 */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "health.h"
#include "registry.h"

struct event_base;
struct metrics;
struct validator;

/* b's validation fact changed (its effective status may have too). */
typedef void (*validator_changed_cb)(void *arg, struct gslb_backend *b);

/* metrics may be NULL. */
int validator_new(struct event_base *base, struct gslb_registry *reg,
		  struct metrics *metrics, validator_changed_cb changed,
		  void *arg, struct validator **out) GSLB_WARN_UNUSED;
void validator_free(struct validator *v);

/*
 * Makes the checked targets match the registry's backends under cfg: new
 * backends start being checked (first check at once), removed ones stop,
 * others keep their state and take the new settings. With
 * overwatch.validation.enabled false, nothing is checked and validation
 * facts are cleared. Call after every change to the registry's membership.
 */
int validator_sync(struct validator *v,
		   const struct gslb_config *cfg) GSLB_WARN_UNUSED;

/* One backend joined the registry (an agent's) since the last sync:
 * starts checking it without a whole sync. */
int validator_add(struct validator *v, const struct gslb_config *cfg,
		  struct gslb_backend *b) GSLB_WARN_UNUSED;
/* Stops checking b, which is about to leave the registry. */
void validator_remove(struct validator *v, struct gslb_backend *b);

/*
 * An agent's claim on b changed. When it disputes the overwatch's verdict,
 * b is checked again at once and then every second, as many times as its
 * threshold needs to reverse the verdict, instead of waiting for the next
 * slots of its interval; the verdict still decides. A claim that agrees
 * ends the re-checks.
 */
void validator_agent_claim(struct validator *v, const struct gslb_backend *b);

bool validator_enabled(const struct validator *v);

/*
 * Whether the first round has finished: every target has completed a
 * check, or the grace period since the last sync (the longest timeout plus
 * two seconds) has passed. True when nothing is checked.
 */
bool validator_ready(struct validator *v);

/* The check state of backend b; false when b is not checked. */
bool validator_backend_info(const struct validator *v,
			    const struct gslb_backend *b,
			    struct gslb_health_info *info);

/*
 * Checks backend b now, or every backend when b is NULL, and calls
 * done(arg) once those checks have completed (at once when there is
 * nothing to check). Returns the request, which the caller may cancel
 * (done is then never called) until done has run; NULL when out of memory.
 */
struct validator_request;
struct validator_request *validator_check_now(struct validator *v,
					      const struct gslb_backend *b,
					      void (*done)(void *arg),
					      void *arg);
void validator_request_cancel(struct validator_request *req);
