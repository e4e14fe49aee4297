/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ident.h"
#include "monitor.h"

#define S(n) ((gslb_time_t)(n)*GSLB_SEC)

static const char stat1[] = "cpu  1000 100 200 8000 50 10 5 0 0 0\n"
			    "cpu0 500 50 100 4000 25 5 2 0 0 0\n"
			    "intr 12345 0 0\n";
static const char stat2[] = "cpu  1200 150 300 8500 60 15 8 0 0 0\n"
			    "cpu0 600 75 150 4250 30 7 4 0 0 0\n";

START_TEST(cpu_line)
{
	struct monitor_cpu_times t;
	ck_assert_int_eq(monitor_parse_cpu(stat1, &t), GSLB_EOK);
	ck_assert_uint_eq(t.total, 1000 + 100 + 200 + 8000 + 50 + 10 + 5);
	ck_assert_uint_eq(t.idle, 8000 + 50);
	/* Older kernels have fewer columns. */
	ck_assert_int_eq(monitor_parse_cpu("cpu 10 20 30 40\n", &t), GSLB_EOK);
	ck_assert_uint_eq(t.total, 100);
	ck_assert_uint_eq(t.idle, 40);
	/* Not the first line. */
	ck_assert_int_eq(monitor_parse_cpu("x 1\ncpu 1 2 3 4 5\n", &t),
			 GSLB_EOK);
	ck_assert_uint_eq(t.total, 15);
}
END_TEST

START_TEST(cpu_line_malformed)
{
	struct monitor_cpu_times t;
	ck_assert_int_eq(monitor_parse_cpu("", &t), GSLB_EMALF);
	/* Per-CPU lines are not the total. */
	ck_assert_int_eq(monitor_parse_cpu("cpu0 1 2 3 4\n", &t), GSLB_EMALF);
	ck_assert_int_eq(monitor_parse_cpu("cpu 1 2 3\n", &t), GSLB_EMALF);
	ck_assert_int_eq(monitor_parse_cpu("cpu a b c d\n", &t), GSLB_EMALF);
	ck_assert_int_eq(monitor_parse_cpu("cpu 1 2\n3 4\n", &t), GSLB_EMALF);
}
END_TEST

START_TEST(cpu_percent)
{
	struct monitor_cpu_times a, b;
	ck_assert_int_eq(monitor_parse_cpu(stat1, &a), GSLB_EOK);
	ck_assert_int_eq(monitor_parse_cpu(stat2, &b), GSLB_EOK);
	/* dtotal 868, didle (idle + iowait) 510: 358 / 868. The original's
	 * spec says "about 45.3 %" for these lines, which its own formula
	 * does not give; we keep the formula. */
	double pct = monitor_cpu_percent(&a, &b);
	ck_assert_double_eq_tol(pct, 358.0 * 100 / 868, 0.001);
	ck_assert(pct > 40 && pct < 50);
	/* No time passed, or counters went backwards (a reboot): 0. */
	ck_assert_double_eq(monitor_cpu_percent(&a, &a), 0);
	ck_assert_double_eq(monitor_cpu_percent(&b, &a), 0);
}
END_TEST

START_TEST(cpu_sample_baseline)
{
	struct monitor_cpu m = { 0 };
	double pct = -1;
	/* The first sample is a baseline. */
	ck_assert_int_eq(monitor_cpu_sample(&m, stat1, S(100), &pct), GSLB_EOK);
	ck_assert_double_eq(pct, 0);
	ck_assert_int_eq(monitor_cpu_sample(&m, stat2, S(110), &pct), GSLB_EOK);
	ck_assert_double_eq_tol(pct, 41.24, 0.01);
	/* A bad read keeps the baseline. */
	ck_assert_int_eq(monitor_cpu_sample(&m, "nothing\n", S(115), &pct),
			 GSLB_EMALF);
	ck_assert_int_eq(monitor_cpu_sample(&m, stat2, S(120), &pct), GSLB_EOK);
	ck_assert_double_eq(pct, 0);
	/* After more than ten minutes: a new baseline. */
	ck_assert_int_eq(monitor_cpu_sample(&m, stat1,
					    S(120) + MONITOR_CPU_MAX_GAP + 1,
					    &pct),
			 GSLB_EOK);
	ck_assert_double_eq(pct, 0);
}
END_TEST

START_TEST(meminfo)
{
	double pct = -1;
	ck_assert_int_eq(monitor_parse_meminfo("MemTotal:       16384000 kB\n"
					       "MemFree:         1000000 kB\n"
					       "MemAvailable:    4096000 kB\n",
					       &pct),
			 GSLB_EOK);
	ck_assert_double_eq_tol(pct, 75.0, 1e-9);
	ck_assert_int_eq(monitor_parse_meminfo("MemTotal: 16384000 kB\n"
					       "MemAvailable: 1638400 kB\n",
					       &pct),
			 GSLB_EOK);
	ck_assert_double_eq_tol(pct, 90.0, 1e-9);
}
END_TEST

START_TEST(meminfo_missing)
{
	double pct = -1;
	ck_assert_int_eq(monitor_parse_meminfo("MemTotal: 16384000 kB\n"
					       "MemFree: 4096000 kB\n",
					       &pct),
			 GSLB_EMALF);
	ck_assert_int_eq(
		monitor_parse_meminfo("MemAvailable: 4096000 kB\n", &pct),
		GSLB_EMALF);
	ck_assert_int_eq(monitor_parse_meminfo("MemTotal: 0 kB\n"
					       "MemAvailable: 0 kB\n",
					       &pct),
			 GSLB_EMALF);
	ck_assert_int_eq(monitor_parse_meminfo("", &pct), GSLB_EMALF);
	ck_assert_double_eq(pct, -1);
}
END_TEST

START_TEST(error_rate)
{
	struct monitor_errors e;
	monitor_errors_init(&e, S(60));
	for (int i = 0; i < 5; i++) {
		monitor_errors_record(&e, S(10) + i * GSLB_MSEC);
	}
	ck_assert_double_eq_tol(monitor_errors_rate(&e, S(11)), 5.0, 1e-9);
	/* Per minute of window: 5 in 30 s is 10 a minute. */
	monitor_errors_set_window(&e, S(30));
	ck_assert_double_eq_tol(monitor_errors_rate(&e, S(11)), 10.0, 1e-9);
	/* They leave the window. */
	ck_assert_double_eq(monitor_errors_rate(&e, S(41)), 0);
	monitor_errors_clear(&e);

	monitor_errors_init(&e, 100 * GSLB_MSEC);
	monitor_errors_record(&e, S(1));
	monitor_errors_record(&e, S(1) + 10 * GSLB_MSEC);
	ck_assert_double_eq_tol(monitor_errors_rate(&e, S(1) + 50 * GSLB_MSEC),
				2 * 600.0, 1e-6);
	ck_assert_double_eq(monitor_errors_rate(&e, S(1) + 150 * GSLB_MSEC), 0);
	monitor_errors_clear(&e);
}
END_TEST

START_TEST(error_rate_bounded)
{
	struct monitor_errors e;
	monitor_errors_init(&e, S(3600));
	for (int i = 0; i < MONITOR_ERRORS_MAX + 10; i++) {
		monitor_errors_record(&e, S(1) + i);
	}
	ck_assert_uint_eq(e.n, MONITOR_ERRORS_MAX);
	ck_assert_double_eq_tol(monitor_errors_rate(&e, S(2)),
				MONITOR_ERRORS_MAX / 60.0, 1e-6);
	monitor_errors_clear(&e);
}
END_TEST

static const struct predictor_config pc = {
	.cpu_threshold = 85,
	.memory_threshold = 90,
	.error_rate_threshold = 5,
	.cpu_bleed = S(30),
	.memory_bleed = S(60),
	.error_rate_bleed = S(10),
};

static struct predictor_sample sample(double cpu, double mem, double err)
{
	return (struct predictor_sample){
		.cpu = cpu,
		.memory = mem,
		.error_rate = err,
		.cpu_ok = true,
		.memory_ok = true,
		.error_rate_ok = true,
	};
}

static void feed(struct predictor *p, double cpu, double mem, double err,
		 gslb_time_t now, bool change)
{
	struct predictor_sample s = sample(cpu, mem, err);
	ck_assert_int_eq(predictor_update(p, &pc, &s, now), change);
}

START_TEST(predict_thresholds)
{
	struct predictor p = { 0 };
	feed(&p, 50, 60, 1, S(1), false);
	ck_assert(!predictor_draining(&p));
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_NONE);
	ck_assert_int_eq(predictor_since(&p), 0);

	feed(&p, 85, 60, 1, S(2), true);
	ck_assert(predictor_draining(&p));
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_CPU);
	ck_assert_int_eq(predictor_since(&p), S(2));

	p = (struct predictor){ 0 };
	feed(&p, 50, 95, 1, S(1), true);
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_MEMORY);

	p = (struct predictor){ 0 };
	feed(&p, 50, 60, 5, S(1), true);
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_ERROR_RATE);

	/* cpu, then memory, then error rate. */
	p = (struct predictor){ 0 };
	feed(&p, 99, 99, 99, S(1), true);
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_CPU);
	p = (struct predictor){ 0 };
	feed(&p, 10, 99, 99, S(1), true);
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_MEMORY);
}
END_TEST

START_TEST(predict_unreadable)
{
	struct predictor p = { 0 };
	struct predictor_sample s = sample(99, 99, 0);
	s.cpu_ok = false;
	s.memory_ok = false;
	ck_assert(!predictor_update(&p, &pc, &s, S(1)));
	ck_assert(!predictor_draining(&p));
}
END_TEST

START_TEST(predict_hysteresis)
{
	struct predictor p = { 0 };
	feed(&p, 90, 50, 0, S(100), true);
	/* Below the threshold but within the margin: still draining. */
	feed(&p, 82, 50, 0, S(140), false);
	ck_assert(predictor_draining(&p));
	/* Clear of the margin, but before cpu's bleed_duration. */
	p = (struct predictor){ 0 };
	feed(&p, 90, 50, 0, S(100), true);
	feed(&p, 70, 50, 0, S(129), false);
	ck_assert(predictor_draining(&p));
	feed(&p, 70, 50, 0, S(130), true);
	ck_assert(!predictor_draining(&p));
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_NONE);

	/* Another metric in its margin holds the drain; the reason stays
	 * the metric that started it. */
	p = (struct predictor){ 0 };
	feed(&p, 90, 50, 0, S(100), true);
	feed(&p, 10, 86, 0, S(200), false);
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_CPU);
	feed(&p, 10, 84.9, 0, S(201), true);

	/* Error rate: below 80 % of its threshold to end. */
	p = (struct predictor){ 0 };
	feed(&p, 10, 10, 6, S(100), true);
	feed(&p, 10, 10, 4, S(200), false);
	feed(&p, 10, 10, 3.9, S(201), true);

	/* The bleed duration is the starting metric's (memory: 60 s). */
	p = (struct predictor){ 0 };
	feed(&p, 10, 95, 0, S(100), true);
	feed(&p, 10, 10, 0, S(159), false);
	feed(&p, 10, 10, 0, S(160), true);
}
END_TEST

START_TEST(predict_manual)
{
	struct predictor p = { 0 };
	ck_assert(predictor_set_manual(&p, true, S(5)));
	ck_assert(predictor_draining(&p));
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_MANUAL);
	ck_assert_int_eq(predictor_since(&p), S(5));
	ck_assert(!predictor_set_manual(&p, true, S(6)));

	/* Metrics over their thresholds do not change what is reported. */
	feed(&p, 99, 10, 0, S(10), false);
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_MANUAL);
	/* Ending the manual drain shows the metrics' own. */
	ck_assert(predictor_set_manual(&p, false, S(11)));
	ck_assert(predictor_draining(&p));
	ck_assert_int_eq(predictor_reason(&p), GOSSIP_DRAIN_CPU);
	ck_assert_int_eq(predictor_since(&p), S(10));
	ck_assert(!predictor_set_manual(&p, false, S(12)));

	/* A manual drain outlasts the metrics' recovery. */
	ck_assert(predictor_set_manual(&p, true, S(20)));
	feed(&p, 10, 10, 0, S(100), false);
	ck_assert(predictor_draining(&p));
	ck_assert(predictor_set_manual(&p, false, S(101)));
	ck_assert(!predictor_draining(&p));

	/* Predictive turned off: the metrics' drain ends, a manual one
	 * stays. */
	feed(&p, 99, 10, 0, S(200), true);
	ck_assert(predictor_reset_metrics(&p));
	ck_assert(!predictor_draining(&p));
	ck_assert(!predictor_reset_metrics(&p));
	ck_assert(predictor_set_manual(&p, true, S(300)));
	ck_assert(!predictor_reset_metrics(&p));
	ck_assert(predictor_draining(&p));
}
END_TEST

START_TEST(endorsement_file)
{
	const uint8_t cert[] = { 0x30, 0x82, 0x01, 0x02, 0xaa };
	const uint8_t sig[] = { 0x30, 0x45, 0x02 };
	uint8_t *buf = NULL;
	size_t len = 0;
	ck_assert_int_eq(ident_endorsement_encode(cert, sizeof(cert), sig,
						  sizeof(sig), &buf, &len),
			 GSLB_EOK);
	ck_assert_uint_eq(len, 2 + sizeof(cert) + 2 + sizeof(sig));
	ck_assert_uint_eq(buf[0], 0);
	ck_assert_uint_eq(buf[1], sizeof(cert));

	const uint8_t *c, *s;
	size_t clen, slen;
	ck_assert_int_eq(
		ident_endorsement_decode(buf, len, &c, &clen, &s, &slen),
		GSLB_EOK);
	ck_assert_mem_eq(c, cert, sizeof(cert));
	ck_assert_uint_eq(clen, sizeof(cert));
	ck_assert_mem_eq(s, sig, sizeof(sig));
	ck_assert_uint_eq(slen, sizeof(sig));
	/* Truncated or with trailing bytes. */
	for (size_t n = 0; n < len; n++) {
		ck_assert_int_eq(
			ident_endorsement_decode(buf, n, &c, &clen, &s, &slen),
			GSLB_EMALF);
	}
	uint8_t longer[64];
	memcpy(longer, buf, len);
	longer[len] = 0;
	ck_assert_int_eq(
		ident_endorsement_decode(longer, len + 1, &c, &clen, &s, &slen),
		GSLB_EMALF);
	free(buf);
	ck_assert_int_eq(
		ident_endorsement_encode(cert, 0, sig, sizeof(sig), &buf, &len),
		GSLB_EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("monitor");
	TCase *tc = tcase_create("monitor");
	tcase_add_test(tc, cpu_line);
	tcase_add_test(tc, cpu_line_malformed);
	tcase_add_test(tc, cpu_percent);
	tcase_add_test(tc, cpu_sample_baseline);
	tcase_add_test(tc, meminfo);
	tcase_add_test(tc, meminfo_missing);
	tcase_add_test(tc, error_rate);
	tcase_add_test(tc, error_rate_bounded);
	suite_add_tcase(s, tc);
	tc = tcase_create("predictor");
	tcase_add_test(tc, predict_thresholds);
	tcase_add_test(tc, predict_unreadable);
	tcase_add_test(tc, predict_hysteresis);
	tcase_add_test(tc, predict_manual);
	suite_add_tcase(s, tc);
	tc = tcase_create("identity");
	tcase_add_test(tc, endorsement_file);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
