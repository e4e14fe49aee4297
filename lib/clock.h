/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Time in nanoseconds. Monotonic time schedules and measures; wall-clock
 * time is only for showing (API, logs). Keep the two apart: a value says
 * in its name or comment which clock it came from.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef int64_t gslb_time_t;

#define GSLB_RFC3339_LEN 40

/* CLOCK_MONOTONIC in nanoseconds. */
gslb_time_t gslb_clock_mono(void);
/* CLOCK_REALTIME in nanoseconds since the epoch. */
gslb_time_t gslb_clock_wall(void);
/* A monotonic instant as wall-clock time (for showing past events). */
gslb_time_t gslb_clock_mono_to_wall(gslb_time_t mono);

/* "2026-11-28T05:51:43.123456789Z"; returns buf. */
char *gslb_time_rfc3339(gslb_time_t wall, char buf[GSLB_RFC3339_LEN]);

/* Parses RFC 3339 ("2026-11-28T05:51:43Z", fractions and offsets
 * allowed); 0, or -1 when text is not such a time. */
int gslb_time_parse_rfc3339(const char *text, gslb_time_t *wall);
