/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <check.h>
#include <stdlib.h>

#include "clock.h"
#include "compiler.h"

#define SEC INT64_C(1000000000)

START_TEST(rfc3339_round_trip)
{
	char buf[GSLB_RFC3339_LEN];
	gslb_time_t t = 1795845103 * SEC + 123456789;
	gslb_time_t back = 0;
	ck_assert_str_eq(gslb_time_rfc3339(t, buf),
			 "2026-11-28T05:51:43.123456789Z");
	ck_assert_int_eq(gslb_time_parse_rfc3339(buf, &back), 0);
	ck_assert_int_eq(back, t);
}
END_TEST

START_TEST(rfc3339_forms)
{
	static const struct {
		const char *text;
		gslb_time_t want;
	} ok[] = {
		{ "2026-11-28T05:51:43Z", 1795845103 * SEC },
		{ "2026-11-28t05:51:43z", 1795845103 * SEC },
		{ "2026-11-28T05:51:43.5Z", 1795845103 * SEC + SEC / 2 },
		/* More digits than nanoseconds: the rest is dropped. */
		{ "2026-11-28T05:51:43.0000000019Z", 1795845103 * SEC + 1 },
		{ "2026-11-28T06:51:43+01:00", 1795845103 * SEC },
		{ "2026-11-28T00:21:43-05:30", 1795845103 * SEC },
		{ "1970-01-01T00:00:00Z", 0 },
		/* The last nanosecond that 64 bits hold. */
		{ "2262-04-11T23:47:16.854775807Z", INT64_MAX },
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(ok); i++) {
		gslb_time_t t = -1;
		ck_assert_msg(gslb_time_parse_rfc3339(ok[i].text, &t) == 0,
			      "%s", ok[i].text);
		ck_assert_int_eq(t, ok[i].want);
	}
}
END_TEST

START_TEST(rfc3339_refused)
{
	static const char *const bad[] = {
		"",
		"2026-11-28",
		"2026-11-28T05:51:43",
		"2026-11-28 05:51:43Z",
		"2026-13-28T05:51:43Z",
		"2026-11-32T05:51:43Z",
		"2026-11-28T24:00:00Z",
		"2026-11-28T05:60:00Z",
		"2026-11-28T05:51:43.Z",
		"2026-11-28T05:51:43+0100",
		"2026-11-28T05:51:43Zjunk",
		"26-11-28T05:51:43Z",
		"tomorrow",
		/* Beyond what 64 bits of nanoseconds hold. */
		"2262-04-11T23:47:17Z",
		"2426-11-28T05:51:43.123456789+01:00",
		"9999-12-31T23:59:59Z",
		"1677-09-21T00:12:43Z",
		"0000-01-01T00:00:00Z",
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bad); i++) {
		gslb_time_t t = 0;
		ck_assert_msg(gslb_time_parse_rfc3339(bad[i], &t) == -1, "%s",
			      bad[i]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("rfc3339");
	tcase_add_test(tc, rfc3339_round_trip);
	tcase_add_test(tc, rfc3339_forms);
	tcase_add_test(tc, rfc3339_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
