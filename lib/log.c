/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

#define NETERR_BURST 10 /* lines per second before suppression */

static _Atomic int log_level = GSLB_LOG_INFO;
static _Atomic int log_format = GSLB_LOG_TEXT;

static _Atomic long neterr_second;
static _Atomic unsigned neterr_count;
static _Atomic unsigned long neterr_suppressed;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void gslb_log_setup(enum gslb_log_level level, enum gslb_log_format format)
{
	atomic_store(&log_level, level);
	atomic_store(&log_format, format);
}

int gslb_log_level_parse(const char *text, enum gslb_log_level *level)
{
	for (int i = GSLB_LOG_DEBUG; i <= GSLB_LOG_ERROR; i++) {
		if (strcasecmp(text, level_names[i]) == 0) {
			*level = i;
			return GSLB_EOK;
		}
	}
	if (strcasecmp(text, "warning") == 0) {
		*level = GSLB_LOG_WARN;
		return GSLB_EOK;
	}
	return GSLB_EINVAL;
}

int gslb_log_format_parse(const char *text, enum gslb_log_format *format)
{
	if (strcasecmp(text, "text") == 0) {
		*format = GSLB_LOG_TEXT;
	} else if (strcasecmp(text, "json") == 0) {
		*format = GSLB_LOG_JSON;
	} else {
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

bool gslb_log_enabled(enum gslb_log_level level)
{
	return (int)level >=
	       atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* Appends s to buf as the inside of a JSON string. */
static size_t json_escape(char *buf, size_t size, size_t pos, const char *s)
{
	for (; *s != '\0' && pos + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[pos++] = '\\';
			buf[pos++] = (char)c;
		} else if (c < 0x20) {
			pos += (size_t)snprintf(buf + pos, size - pos,
						"\\u%04x", c);
		} else {
			buf[pos++] = (char)c;
		}
	}
	return pos;
}

static void log_write(enum gslb_log_level level, const char *subsystem,
		      const char *fmt, va_list ap)
{
	char msg[2048];
	char line[4608];
	vsnprintf(msg, sizeof(msg), fmt, ap);

	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	size_t wl = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + wl, sizeof(when) - wl, ".%03ldZ", ts.tv_nsec / 1000000);

	size_t n;
	if (atomic_load(&log_format) == GSLB_LOG_JSON) {
		n = (size_t)snprintf(line, sizeof(line),
				     "{\"time\":\"%s\",\"level\":\"%s\","
				     "\"subsystem\":\"%s\",\"msg\":\"",
				     when, level_names[level], subsystem);
		n = json_escape(line, sizeof(line), n, msg);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}\n");
	} else {
		n = (size_t)snprintf(line, sizeof(line), "%s %s [%s] %s\n",
				     when, level_names[level], subsystem, msg);
	}
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line keeps lines from different threads whole. */
	ssize_t r = write(STDERR_FILENO, line, n);
	(void)r;
}

void gslb_log(enum gslb_log_level level, const char *subsystem, const char *fmt,
	      ...)
{
	if (!gslb_log_enabled(level)) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	log_write(level, subsystem, fmt, ap);
	va_end(ap);
}

void gslb_log_neterr(const char *subsystem, const char *fmt, ...)
{
	if (!gslb_log_enabled(GSLB_LOG_WARN)) {
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	long prev = atomic_exchange(&neterr_second, ts.tv_sec);
	if (prev != ts.tv_sec) {
		atomic_store(&neterr_count, 0);
		unsigned long lost = atomic_exchange(&neterr_suppressed, 0);
		if (lost > 0) {
			gslb_log(GSLB_LOG_WARN, subsystem,
				 "%lu similar messages suppressed", lost);
		}
	}
	if (atomic_fetch_add(&neterr_count, 1) >= NETERR_BURST) {
		atomic_fetch_add(&neterr_suppressed, 1);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	log_write(GSLB_LOG_WARN, subsystem, fmt, ap);
	va_end(ap);
}
