/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <time.h>

#include "clock.h"

#define NS_PER_SEC INT64_C(1000000000)

static gslb_time_t read_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (gslb_time_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

gslb_time_t gslb_clock_mono(void)
{
	return read_clock(CLOCK_MONOTONIC);
}

gslb_time_t gslb_clock_wall(void)
{
	return read_clock(CLOCK_REALTIME);
}

gslb_time_t gslb_clock_mono_to_wall(gslb_time_t mono)
{
	return gslb_clock_wall() - (gslb_clock_mono() - mono);
}

char *gslb_time_rfc3339(gslb_time_t wall, char buf[GSLB_RFC3339_LEN])
{
	time_t secs = (time_t)(wall / NS_PER_SEC);
	long nsec = (long)(wall % NS_PER_SEC);
	if (nsec < 0) {
		secs--;
		nsec += NS_PER_SEC;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(buf, GSLB_RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, GSLB_RFC3339_LEN - n, ".%09ldZ", nsec);
	return buf;
}
