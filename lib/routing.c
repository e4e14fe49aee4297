/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "compiler.h"
#include "error.h"
#include "routing.h"

/*
 * Weighted picks without replacement remember at most this many draws (on
 * the stack); a larger k gets its remaining answers in priority order.
 */
#define WEIGHTED_MAX_DRAWS 64

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void gslb_rng_seed(struct gslb_rng *rng, uint64_t seed)
{
	/*
	 * splitmix64's output function is a bijection of distinct inputs, so
	 * at most one of the two words is zero: never the forbidden all-zero
	 * state.
	 */
	rng->s[0] = splitmix64(&seed);
	rng->s[1] = splitmix64(&seed);
}

/* xoroshiro128** 1.0 (Blackman and Vigna). */
uint64_t gslb_rng_next(struct gslb_rng *rng)
{
	const uint64_t s0 = rng->s[0];
	uint64_t s1 = rng->s[1];
	const uint64_t result = rotl(s0 * 5, 7) * 9;

	s1 ^= s0;
	rng->s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
	rng->s[1] = rotl(s1, 37);
	return result;
}

uint64_t gslb_rng_below(struct gslb_rng *rng, uint64_t bound)
{
	if (GSLB_UNLIKELY(bound <= 1)) {
		return 0;
	}
	/*
	 * Reject the lowest (2^64 mod bound) values so that the rest split
	 * evenly into bound classes.
	 */
	const uint64_t threshold = (0 - bound) % bound;
	for (;;) {
		const uint64_t r = gslb_rng_next(rng);
		if (r >= threshold) {
			return r % bound;
		}
	}
}

/* Running weight up to and including candidate i; uniform without a table. */
static inline uint64_t cumweight(const struct gslb_route_set *set, uint32_t i)
{
	return set->cumweight != NULL ? set->cumweight[i] : (uint64_t)i + 1;
}

static inline uint64_t lo_weight(const struct gslb_route_set *set, uint32_t i)
{
	return i == 0 ? 0 : cumweight(set, i - 1);
}

/* The first candidate whose running weight exceeds x (x < total). */
static uint32_t weight_search(const struct gslb_route_set *set, uint64_t x)
{
	uint32_t lo = 0;
	uint32_t hi = set->n - 1;

	while (lo < hi) {
		const uint32_t mid = lo + (hi - lo) / 2;
		if (cumweight(set, mid) > x) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return lo;
}

static uint32_t pick_round_robin(const struct gslb_route_set *set, uint32_t k,
				 _Atomic uint64_t *counter, uint32_t *out)
{
	const uint32_t n = set->n;
	uint64_t start = 0;

	if (counter != NULL) {
		start = atomic_fetch_add_explicit(counter, 1,
						  memory_order_relaxed) %
			n;
	}
	uint32_t idx = (uint32_t)start;
	for (uint32_t i = 0; i < k; i++) {
		out[i] = idx;
		idx = idx + 1 == n ? 0 : idx + 1;
	}
	return k;
}

/*
 * Each draw is uniform over the weight of the candidates not yet picked:
 * r is drawn in [0, remaining) and mapped back onto the full line by
 * stepping over the intervals of earlier picks, visited in index order.
 */
static uint32_t pick_weighted(const struct gslb_route_set *set, uint32_t k,
			      struct gslb_rng *rng, uint32_t *out)
{
	uint32_t sorted[WEIGHTED_MAX_DRAWS];
	const uint32_t draws = k < WEIGHTED_MAX_DRAWS ? k : WEIGHTED_MAX_DRAWS;
	uint64_t remaining = cumweight(set, set->n - 1);
	uint32_t got = 0;

	while (got < draws && remaining > 0) {
		uint64_t x = gslb_rng_below(rng, remaining);
		uint32_t pos = 0;

		for (; pos < got; pos++) {
			const uint32_t p = sorted[pos];
			if (x < lo_weight(set, p)) {
				break;
			}
			x += cumweight(set, p) - lo_weight(set, p);
		}

		const uint32_t idx = weight_search(set, x);
		memmove(&sorted[pos + 1], &sorted[pos],
			(got - pos) * sizeof(sorted[0]));
		sorted[pos] = idx;
		remaining -= cumweight(set, idx) - lo_weight(set, idx);
		out[got++] = idx;
	}

	/*
	 * Past the draw limit (or if only zero-weight candidates are left,
	 * which the caller should not pass), fill up in priority order.
	 */
	const uint32_t drawn = got;
	uint32_t pos = 0;
	for (uint32_t i = 0; got < k && i < set->n; i++) {
		if (pos < drawn && sorted[pos] == i) {
			pos++;
			continue;
		}
		out[got++] = i;
	}
	return got;
}

uint32_t gslb_route_pick(const struct gslb_route_set *set, uint32_t k,
			 _Atomic uint64_t *counter, struct gslb_rng *rng,
			 uint32_t *out)
{
	if (set->n == 0 || k == 0) {
		return 0;
	}
	if (k > set->n) {
		k = set->n;
	}

	switch (set->algorithm) {
	case GSLB_ALG_ROUND_ROBIN:
		return pick_round_robin(set, k, counter, out);
	case GSLB_ALG_WEIGHTED:
		return pick_weighted(set, k, rng, out);
	case GSLB_ALG_FAILOVER:
	default:
		for (uint32_t i = 0; i < k; i++) {
			out[i] = i;
		}
		return k;
	}
}

/* ASCII-only, so the locale cannot change what a config file means. */
static bool name_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)*a;
		unsigned char cb = (unsigned char)*b;
		if (ca >= 'A' && ca <= 'Z') {
			ca = (unsigned char)(ca - 'A' + 'a');
		}
		if (cb >= 'A' && cb <= 'Z') {
			cb = (unsigned char)(cb - 'A' + 'a');
		}
		if (ca != cb) {
			return false;
		}
		if (ca == '\0') {
			return true;
		}
	}
}

int gslb_algorithm_parse(const char *name, enum gslb_algorithm *alg)
{
	static const struct {
		const char *name;
		enum gslb_algorithm alg;
	} known[] = {
		{ "round-robin", GSLB_ALG_ROUND_ROBIN },
		{ "roundrobin", GSLB_ALG_ROUND_ROBIN },
		{ "rr", GSLB_ALG_ROUND_ROBIN },
		{ "weighted", GSLB_ALG_WEIGHTED },
		{ "weight", GSLB_ALG_WEIGHTED },
		{ "failover", GSLB_ALG_FAILOVER },
		{ "active-standby", GSLB_ALG_FAILOVER },
		{ "activestandby", GSLB_ALG_FAILOVER },
	};
	/* The original's other routers; recognised so the error can say so. */
	static const char *const unsupported[] = {
		"geolocation",     "geo", "latency", "learned_latency",
		"learned-latency",
	};

	if (name == NULL) {
		return GSLB_EINVAL;
	}
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(known); i++) {
		if (name_eq(name, known[i].name)) {
			*alg = known[i].alg;
			return GSLB_EOK;
		}
	}
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(unsupported); i++) {
		if (name_eq(name, unsupported[i])) {
			return GSLB_ENOENT;
		}
	}
	return GSLB_EINVAL;
}
