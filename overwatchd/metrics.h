/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Prometheus metrics: `/metrics` (text format 0.0.4) and `/health` on
 * metrics.address when metrics.enabled. Names follow the original OpenGSLB
 * (`opengslb_*`) where the feature is the same; label values come from the
 * config and the registry, never from raw query names.
 *
 * Most values are read at scrape time from where they live (registry,
 * validator, DNS threads' counters, snapshots); this module keeps only what
 * has no other home: check histograms, reload counters, and routing counts
 * of snapshots that have been freed. Main thread only.
 */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "snapshot.h"

struct metrics;
struct server;

int metrics_new(struct metrics **out) GSLB_WARN_UNUSED;
void metrics_free(struct metrics *m);

/* Listens on srv->cfg->metrics.address when enabled (on srv->base). */
int metrics_start(struct metrics *m, struct server *srv) GSLB_WARN_UNUSED;

/* One completed validation check of a backend. */
void metrics_observe_check(struct metrics *m, const char *service,
			   const char *region, gslb_duration_t latency,
			   bool pass);

/* A configuration reload was attempted. */
void metrics_reload(struct metrics *m, bool ok);

/* snap is about to be freed: keep its routing counts. */
void metrics_fold_routing(struct metrics *m, const struct snapshot *snap);
