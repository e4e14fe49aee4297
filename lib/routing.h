/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Choosing answers among a domain's healthy candidates. The caller (the
 * snapshot builder) has already filtered the candidates by address family
 * and health, kept their priority order (regions as listed, servers in
 * config order), and for weighted routing left out weight-0 servers. These
 * functions run on the DNS query path: no locks, no allocation.
 */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Fast per-thread PRNG (xoshiro128** family); not for cryptography. */
struct gslb_rng {
	uint64_t s[2];
};

void gslb_rng_seed(struct gslb_rng *rng, uint64_t seed);
uint64_t gslb_rng_next(struct gslb_rng *rng);
/* Uniform in [0, bound), bound > 0, without modulo bias. */
uint64_t gslb_rng_below(struct gslb_rng *rng, uint64_t bound);

/* The selectable candidates of one domain and family. */
struct gslb_route_set {
	enum gslb_algorithm algorithm;
	uint32_t n;                /* candidates, in priority order */
	const uint32_t *cumweight; /* weighted: running sums of weights, n entries, all > 0 */
};

/*
 * Picks min(k, n) distinct candidates and writes their indices to out:
 * - round-robin: k consecutive candidates starting at (*counter)++ mod n,
 *   so single answers rotate exactly;
 * - weighted: random draws proportional to weight, without replacement;
 * - failover: the first k in priority order.
 * Returns the count written (0 only when n == 0).
 */
uint32_t gslb_route_pick(const struct gslb_route_set *set, uint32_t k,
			 _Atomic uint64_t *counter, struct gslb_rng *rng,
			 uint32_t *out);

/*
 * Parses an algorithm name or alias, case-insensitive. Returns 0, or
 * GSLB_ENOENT for names of the original's algorithms this project does not
 * implement (geolocation, latency, learned_latency), or GSLB_EINVAL.
 */
int gslb_algorithm_parse(const char *name, enum gslb_algorithm *alg);
