/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdint.h>
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

/* n digits at *p as a number; -1 when they are not all digits. */
static int digits(const char **p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9') {
			return -1;
		}
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

int gslb_time_parse_rfc3339(const char *text, gslb_time_t *wall)
{
	const char *p = text;
	struct tm tm = { 0 };
	int year = digits(&p, 4);
	if (year < 0 || *p++ != '-' || (tm.tm_mon = digits(&p, 2)) < 1 ||
	    *p++ != '-' || (tm.tm_mday = digits(&p, 2)) < 1 ||
	    (*p != 'T' && *p != 't') ||
	    (p++, (tm.tm_hour = digits(&p, 2)) < 0) || *p++ != ':' ||
	    (tm.tm_min = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (tm.tm_sec = digits(&p, 2)) < 0) {
		return -1;
	}
	if (tm.tm_mon > 12 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60) {
		return -1;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon -= 1;
	int64_t frac = 0;
	if (*p == '.') {
		p++;
		int64_t scale = NS_PER_SEC;
		if (*p < '0' || *p > '9') {
			return -1;
		}
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
		}
	}
	int64_t offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		int hh = digits(&p, 2);
		if (hh < 0 || hh > 23 || *p++ != ':') {
			return -1;
		}
		int mm = digits(&p, 2);
		if (mm < 0 || mm > 59) {
			return -1;
		}
		offset = sign * (hh * 3600 + mm * 60);
	} else {
		return -1;
	}
	if (*p != '\0') {
		return -1;
	}
	/* Nanoseconds in 64 bits reach from 1677 to 2262 only. */
	const int64_t secs = (int64_t)timegm(&tm) - offset;
	if (secs < INT64_MIN / NS_PER_SEC ||
	    secs > (INT64_MAX - frac) / NS_PER_SEC) {
		return -1;
	}
	*wall = secs * NS_PER_SEC + frac;
	return 0;
}
