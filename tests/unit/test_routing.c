/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>

#include "compiler.h"
#include "error.h"
#include "routing.h"

#define SENTINEL UINT32_C(0xdeadbeef)

static void fill_sentinel(uint32_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = SENTINEL;
	}
}

/* Asserts out[0..count) are distinct indices below n. */
static void assert_distinct(const uint32_t *out, uint32_t count, uint32_t n)
{
	bool seen[512] = { false };

	ck_assert_uint_le(n, GSLB_ARRAY_SIZE(seen));
	for (uint32_t i = 0; i < count; i++) {
		ck_assert_uint_lt(out[i], n);
		ck_assert_msg(!seen[out[i]], "index %u picked twice",
			      (unsigned)out[i]);
		seen[out[i]] = true;
	}
}

START_TEST(rr_three_servers_exact)
{
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_ROUND_ROBIN,
					    .n = 3 };
	_Atomic uint64_t counter = 0;
	unsigned counts[3] = { 0 };

	for (unsigned i = 0; i < 300; i++) {
		uint32_t out = SENTINEL;
		ck_assert_uint_eq(
			gslb_route_pick(&set, 1, &counter, NULL, &out), 1);
		ck_assert_uint_eq(out, i % 3);
		counts[out]++;
	}
	ck_assert_uint_eq(counts[0], 100);
	ck_assert_uint_eq(counts[1], 100);
	ck_assert_uint_eq(counts[2], 100);
}
END_TEST

START_TEST(rr_single_server)
{
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_ROUND_ROBIN,
					    .n = 1 };
	_Atomic uint64_t counter = 0;

	for (unsigned i = 0; i < 50; i++) {
		uint32_t out = SENTINEL;
		ck_assert_uint_eq(
			gslb_route_pick(&set, 1, &counter, NULL, &out), 1);
		ck_assert_uint_eq(out, 0);
	}
}
END_TEST

START_TEST(empty_set_picks_nothing)
{
	static const enum gslb_algorithm algs[] = { GSLB_ALG_ROUND_ROBIN,
						    GSLB_ALG_WEIGHTED,
						    GSLB_ALG_FAILOVER };
	_Atomic uint64_t counter = 0;
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 1);
	for (size_t a = 0; a < GSLB_ARRAY_SIZE(algs); a++) {
		const struct gslb_route_set set = { .algorithm = algs[a],
						    .n = 0,
						    .cumweight = NULL };
		uint32_t out[4];
		fill_sentinel(out, 4);
		ck_assert_uint_eq(gslb_route_pick(&set, 4, &counter, &rng, out),
				  0);
		ck_assert_uint_eq(out[0], SENTINEL);
	}
}
END_TEST

START_TEST(rr_consecutive_rotation)
{
	static const uint32_t expect[][2] = {
		{ 0, 1 }, { 1, 2 }, { 2, 0 }, { 0, 1 }, { 1, 2 }, { 2, 0 },
	};
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_ROUND_ROBIN,
					    .n = 3 };
	_Atomic uint64_t counter = 0;

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(expect); i++) {
		uint32_t out[2];
		fill_sentinel(out, 2);
		ck_assert_uint_eq(gslb_route_pick(&set, 2, &counter, NULL, out),
				  2);
		ck_assert_uint_eq(out[0], expect[i][0]);
		ck_assert_uint_eq(out[1], expect[i][1]);
	}
	ck_assert_uint_eq(atomic_load(&counter), GSLB_ARRAY_SIZE(expect));

	/* Without a counter there is no rotation state: start at the top. */
	for (int i = 0; i < 3; i++) {
		uint32_t out[2];
		fill_sentinel(out, 2);
		ck_assert_uint_eq(gslb_route_pick(&set, 2, NULL, NULL, out), 2);
		ck_assert_uint_eq(out[0], 0);
		ck_assert_uint_eq(out[1], 1);
	}
}
END_TEST

START_TEST(k_above_n_is_capped)
{
	static const enum gslb_algorithm algs[] = { GSLB_ALG_ROUND_ROBIN,
						    GSLB_ALG_WEIGHTED,
						    GSLB_ALG_FAILOVER };
	static const uint32_t cum[4] = { 10, 30, 60, 100 };
	_Atomic uint64_t counter = 2;
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 7);
	for (size_t a = 0; a < GSLB_ARRAY_SIZE(algs); a++) {
		const struct gslb_route_set set = { .algorithm = algs[a],
						    .n = 4,
						    .cumweight = cum };
		for (unsigned rep = 0; rep < 20; rep++) {
			uint32_t out[10];
			fill_sentinel(out, 10);
			ck_assert_uint_eq(
				gslb_route_pick(&set, 10, &counter, &rng, out),
				4);
			assert_distinct(out, 4, 4);
			ck_assert_uint_eq(out[4], SENTINEL);
		}
	}
}
END_TEST

START_TEST(weighted_proportional)
{
	static const uint32_t cum[3] = { 100, 150, 200 };
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_WEIGHTED,
					    .n = 3,
					    .cumweight = cum };
	static const double expect[3] = { 0.50, 0.25, 0.25 };
	const unsigned draws = 10000;
	unsigned counts[3] = { 0 };
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 12345);
	for (unsigned i = 0; i < draws; i++) {
		uint32_t out = SENTINEL;
		ck_assert_uint_eq(gslb_route_pick(&set, 1, NULL, &rng, &out),
				  1);
		ck_assert_uint_lt(out, 3);
		counts[out]++;
	}
	for (int i = 0; i < 3; i++) {
		const double share = (double)counts[i] / draws;
		ck_assert_msg(share > expect[i] * 0.9 &&
				      share < expect[i] * 1.1,
			      "server %d got %.3f, expected %.2f", i, share,
			      expect[i]);
	}
}
END_TEST

/* Without a weight table every candidate weighs the same. */
START_TEST(weighted_without_table_is_uniform)
{
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_WEIGHTED,
					    .n = 4,
					    .cumweight = NULL };
	unsigned counts[4] = { 0 };
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 11);
	for (unsigned i = 0; i < 4000; i++) {
		uint32_t out[2];
		ck_assert_uint_eq(gslb_route_pick(&set, 2, NULL, &rng, out), 2);
		assert_distinct(out, 2, 4);
		counts[out[0]]++;
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_gt(counts[i], 900);
		ck_assert_uint_lt(counts[i], 1100);
	}
}
END_TEST

/* A zero-width interval (weight 0) is never drawn, even if passed in. */
START_TEST(weighted_zero_width_never_drawn)
{
	static const uint32_t cum[3] = { 100, 100, 200 };
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_WEIGHTED,
					    .n = 3,
					    .cumweight = cum };
	unsigned counts[3] = { 0 };
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 99);
	for (unsigned i = 0; i < 2000; i++) {
		uint32_t out = SENTINEL;
		ck_assert_uint_eq(gslb_route_pick(&set, 1, NULL, &rng, &out),
				  1);
		ck_assert_uint_lt(out, 3);
		counts[out]++;
	}
	ck_assert_uint_eq(counts[1], 0);
	ck_assert_uint_gt(counts[0], 800);
	ck_assert_uint_gt(counts[2], 800);
}
END_TEST

START_TEST(weighted_k2_distinct_and_weighted)
{
	static const uint32_t cum[3] = { 100, 150, 200 };
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_WEIGHTED,
					    .n = 3,
					    .cumweight = cum };
	/*
	 * Inclusion probabilities of a weighted draw of two without
	 * replacement: heavy 1/2 + 2 * 1/4 * 2/3 = 5/6, each light one
	 * 1/4 + 1/2 * 1/2 + 1/4 * 1/3 = 7/12.
	 */
	static const double expect_in[3] = { 5.0 / 6, 7.0 / 12, 7.0 / 12 };
	const unsigned rounds = 10000;
	unsigned in[3] = { 0 };
	unsigned first[3] = { 0 };
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 4242);
	for (unsigned i = 0; i < rounds; i++) {
		uint32_t out[2];
		fill_sentinel(out, 2);
		ck_assert_uint_eq(gslb_route_pick(&set, 2, NULL, &rng, out), 2);
		assert_distinct(out, 2, 3);
		in[out[0]]++;
		in[out[1]]++;
		first[out[0]]++;
	}
	for (int i = 0; i < 3; i++) {
		const double share = (double)in[i] / rounds;
		ck_assert_msg(share > expect_in[i] * 0.95 &&
				      share < expect_in[i] * 1.05,
			      "server %d in %.3f of answers, expected %.3f", i,
			      share, expect_in[i]);
	}
	/* The first answer is itself a weighted draw: 50/25/25. */
	ck_assert_uint_gt(first[0], rounds * 45 / 100);
	ck_assert_uint_lt(first[0], rounds * 55 / 100);
}
END_TEST

START_TEST(weighted_heavy_dominates)
{
	static const uint32_t cum[4] = { 1000, 1010, 1020, 1030 };
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_WEIGHTED,
					    .n = 4,
					    .cumweight = cum };
	unsigned heavy_first = 0;
	unsigned heavy_in = 0;
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 5);
	for (unsigned i = 0; i < 2000; i++) {
		uint32_t out[2];
		ck_assert_uint_eq(gslb_route_pick(&set, 2, NULL, &rng, out), 2);
		assert_distinct(out, 2, 4);
		heavy_first += out[0] == 0;
		heavy_in += out[0] == 0 || out[1] == 0;
	}
	ck_assert_uint_gt(heavy_first, 2000 * 93 / 100);
	ck_assert_uint_gt(heavy_in, 2000 * 99 / 100);
}
END_TEST

START_TEST(weighted_all_is_permutation)
{
	static const uint32_t cum[5] = { 5, 6, 106, 107, 300 };
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_WEIGHTED,
					    .n = 5,
					    .cumweight = cum };
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 77);
	for (unsigned i = 0; i < 500; i++) {
		uint32_t out[5];
		fill_sentinel(out, 5);
		ck_assert_uint_eq(gslb_route_pick(&set, 5, NULL, &rng, out), 5);
		assert_distinct(out, 5, 5);
	}
}
END_TEST

/* Beyond the draws the implementation remembers, answers stay distinct. */
START_TEST(weighted_many_answers_distinct)
{
	uint32_t cum[300];
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_WEIGHTED,
					    .n = 300,
					    .cumweight = cum };
	struct gslb_rng rng;
	uint32_t sum = 0;

	for (uint32_t i = 0; i < 300; i++) {
		sum += 1 + i % 7;
		cum[i] = sum;
	}
	gslb_rng_seed(&rng, 2024);
	for (unsigned rep = 0; rep < 20; rep++) {
		uint32_t out[300];
		fill_sentinel(out, 300);
		ck_assert_uint_eq(gslb_route_pick(&set, 100, NULL, &rng, out),
				  100);
		assert_distinct(out, 100, 300);
		ck_assert_uint_eq(out[100], SENTINEL);
		ck_assert_uint_eq(gslb_route_pick(&set, 300, NULL, &rng, out),
				  300);
		assert_distinct(out, 300, 300);
	}
}
END_TEST

START_TEST(failover_first)
{
	const struct gslb_route_set set = { .algorithm = GSLB_ALG_FAILOVER,
					    .n = 5 };
	_Atomic uint64_t counter = 0;
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 3);
	for (unsigned i = 0; i < 100; i++) {
		uint32_t out[3];
		fill_sentinel(out, 3);
		ck_assert_uint_eq(gslb_route_pick(&set, 1, &counter, &rng, out),
				  1);
		ck_assert_uint_eq(out[0], 0);
		ck_assert_uint_eq(out[1], SENTINEL);
		ck_assert_uint_eq(gslb_route_pick(&set, 3, &counter, &rng, out),
				  3);
		ck_assert_uint_eq(out[0], 0);
		ck_assert_uint_eq(out[1], 1);
		ck_assert_uint_eq(out[2], 2);
	}
}
END_TEST

START_TEST(rng_below_in_range_and_uniform)
{
	struct gslb_rng rng;
	unsigned counts[10] = { 0 };
	const unsigned draws = 100000;

	gslb_rng_seed(&rng, 1);
	for (unsigned i = 0; i < draws; i++) {
		const uint64_t r = gslb_rng_below(&rng, 10);
		ck_assert_uint_lt(r, 10);
		counts[r]++;
	}
	/* Expect 10000 each; sigma is about 95. */
	for (int i = 0; i < 10; i++) {
		ck_assert_uint_gt(counts[i], 9500);
		ck_assert_uint_lt(counts[i], 10500);
	}
	for (unsigned i = 0; i < 1000; i++) {
		ck_assert_uint_eq(gslb_rng_below(&rng, 1), 0);
		const uint64_t big = (UINT64_C(1) << 63) + 12345;
		ck_assert_uint_lt(gslb_rng_below(&rng, big), big);
		ck_assert_uint_lt(gslb_rng_below(&rng, 3), 3);
	}
}
END_TEST

/*
 * bound = 3 * 2^62: a plain r % bound would land in [0, 2^62) half of the
 * time instead of a third.
 */
START_TEST(rng_below_no_modulo_bias)
{
	const uint64_t bound = UINT64_C(3) << 62;
	const unsigned draws = 3000;
	unsigned low = 0;
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 8);
	for (unsigned i = 0; i < draws; i++) {
		const uint64_t r = gslb_rng_below(&rng, bound);
		ck_assert_uint_lt(r, bound);
		low += r < (UINT64_C(1) << 62);
	}
	/* Expect 1000 (sigma about 26); the biased form gives 1500. */
	ck_assert_uint_gt(low, 900);
	ck_assert_uint_lt(low, 1100);
}
END_TEST

/* xoroshiro128** seeded by splitmix64, values from an independent model. */
START_TEST(rng_known_answers)
{
	static const uint64_t seed0[] = {
		UINT64_C(0xdec90d521e93e35d),
		UINT64_C(0x6d33ac6f18895e08),
		UINT64_C(0xab21904eec6fa48a),
		UINT64_C(0x87afdbc188423fbe),
	};
	static const uint64_t seed42[] = {
		UINT64_C(0x69e85b3631381baa),
		UINT64_C(0x3bc32c541d626e1d),
		UINT64_C(0x3e35de64b3b378d8),
	};
	struct gslb_rng rng;

	gslb_rng_seed(&rng, 0);
	ck_assert_uint_eq(rng.s[0], UINT64_C(0xe220a8397b1dcdaf));
	ck_assert_uint_eq(rng.s[1], UINT64_C(0x6e789e6aa1b965f4));
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(seed0); i++) {
		ck_assert_uint_eq(gslb_rng_next(&rng), seed0[i]);
	}
	gslb_rng_seed(&rng, 42);
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(seed42); i++) {
		ck_assert_uint_eq(gslb_rng_next(&rng), seed42[i]);
	}
}
END_TEST

START_TEST(rng_seed_determines_sequence)
{
	struct gslb_rng a, b, c;
	bool differ = false;

	gslb_rng_seed(&a, 42);
	gslb_rng_seed(&b, 42);
	gslb_rng_seed(&c, 43);
	for (int i = 0; i < 100; i++) {
		const uint64_t x = gslb_rng_next(&a);
		ck_assert_uint_eq(x, gslb_rng_next(&b));
		differ |= x != gslb_rng_next(&c);
	}
	ck_assert(differ);

	/* Seed 0 must not give the stuck all-zero state. */
	gslb_rng_seed(&a, 0);
	uint64_t bits = 0;
	for (int i = 0; i < 10; i++) {
		bits |= gslb_rng_next(&a);
	}
	ck_assert_uint_ne(bits, 0);
}
END_TEST

START_TEST(algorithm_parse_table)
{
	static const struct {
		const char *name;
		int ret;
		enum gslb_algorithm alg;
	} cases[] = {
		{ "round-robin", 0, GSLB_ALG_ROUND_ROBIN },
		{ "roundrobin", 0, GSLB_ALG_ROUND_ROBIN },
		{ "rr", 0, GSLB_ALG_ROUND_ROBIN },
		{ "Round-Robin", 0, GSLB_ALG_ROUND_ROBIN },
		{ "RR", 0, GSLB_ALG_ROUND_ROBIN },
		{ "weighted", 0, GSLB_ALG_WEIGHTED },
		{ "weight", 0, GSLB_ALG_WEIGHTED },
		{ "WEIGHTED", 0, GSLB_ALG_WEIGHTED },
		{ "failover", 0, GSLB_ALG_FAILOVER },
		{ "active-standby", 0, GSLB_ALG_FAILOVER },
		{ "activestandby", 0, GSLB_ALG_FAILOVER },
		{ "FailOver", 0, GSLB_ALG_FAILOVER },
		{ "Active-Standby", 0, GSLB_ALG_FAILOVER },
		{ "geolocation", GSLB_ENOENT, 0 },
		{ "geo", GSLB_ENOENT, 0 },
		{ "GeoLocation", GSLB_ENOENT, 0 },
		{ "latency", GSLB_ENOENT, 0 },
		{ "learned_latency", GSLB_ENOENT, 0 },
		{ "learned-latency", GSLB_ENOENT, 0 },
		{ "LATENCY", GSLB_ENOENT, 0 },
		{ "invalid", GSLB_EINVAL, 0 },
		{ "", GSLB_EINVAL, 0 },
		{ "round_robin", GSLB_EINVAL, 0 },
		{ "round-robin ", GSLB_EINVAL, 0 },
		{ "weighte", GSLB_EINVAL, 0 },
		{ "weightedx", GSLB_EINVAL, 0 },
		{ "r", GSLB_EINVAL, 0 },
	};

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(cases); i++) {
		/* A value no case expects, to see that success writes it. */
		enum gslb_algorithm alg = (enum gslb_algorithm)77;
		const int ret = gslb_algorithm_parse(cases[i].name, &alg);
		ck_assert_msg(ret == cases[i].ret, "\"%s\": got %d, want %d",
			      cases[i].name, ret, cases[i].ret);
		if (ret == 0) {
			ck_assert_msg(alg == cases[i].alg, "\"%s\": alg %d",
				      cases[i].name, (int)alg);
		} else {
			ck_assert_int_eq((int)alg, 77);
		}
	}
	enum gslb_algorithm alg;
	ck_assert_int_eq(gslb_algorithm_parse(NULL, &alg), GSLB_EINVAL);
}
END_TEST

static Suite *routing_suite(void)
{
	Suite *s = suite_create("routing");
	TCase *tc;

	tc = tcase_create("round-robin");
	tcase_add_test(tc, rr_three_servers_exact);
	tcase_add_test(tc, rr_single_server);
	tcase_add_test(tc, rr_consecutive_rotation);
	suite_add_tcase(s, tc);

	tc = tcase_create("common");
	tcase_add_test(tc, empty_set_picks_nothing);
	tcase_add_test(tc, k_above_n_is_capped);
	suite_add_tcase(s, tc);

	tc = tcase_create("weighted");
	tcase_add_test(tc, weighted_proportional);
	tcase_add_test(tc, weighted_without_table_is_uniform);
	tcase_add_test(tc, weighted_zero_width_never_drawn);
	tcase_add_test(tc, weighted_k2_distinct_and_weighted);
	tcase_add_test(tc, weighted_heavy_dominates);
	tcase_add_test(tc, weighted_all_is_permutation);
	tcase_add_test(tc, weighted_many_answers_distinct);
	suite_add_tcase(s, tc);

	tc = tcase_create("failover");
	tcase_add_test(tc, failover_first);
	suite_add_tcase(s, tc);

	tc = tcase_create("rng");
	tcase_add_test(tc, rng_below_in_range_and_uniform);
	tcase_add_test(tc, rng_below_no_modulo_bias);
	tcase_add_test(tc, rng_known_answers);
	tcase_add_test(tc, rng_seed_determines_sequence);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, algorithm_parse_table);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(routing_suite());

	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
