/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

#define NETERR_BURST 10 /* lines per second before suppression */

static _Atomic int log_level = GSLB_LOG_INFO;
static _Atomic int log_format = GSLB_LOG_TEXT;
static _Atomic int log_output = GSLB_LOG_STDERR;
/* stderr is the journal: it adds the time; <N> gives the priority. */
static _Atomic bool log_journal;

static _Atomic long neterr_second;
static _Atomic unsigned neterr_count;
static _Atomic unsigned long neterr_suppressed;

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const int level_priorities[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING,
					LOG_ERR };

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected; a redirected stderr no longer matches. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	return env != NULL && sscanf(env, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev &&
	       st.st_ino == ino;
}

void gslb_log_setup(const struct gslb_log_config *conf, const char *ident)
{
	if (conf->output == GSLB_LOG_SYSLOG) {
		openlog(ident, LOG_PID | LOG_NDELAY, conf->facility);
	} else if (atomic_load(&log_output) == GSLB_LOG_SYSLOG) {
		closelog();
	}
	atomic_store(&log_journal, stderr_is_journal());
	atomic_store(&log_level, conf->level);
	atomic_store(&log_format, conf->format);
	atomic_store(&log_output, conf->output);
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

int gslb_log_output_parse(const char *text, enum gslb_log_output *output)
{
	if (strcasecmp(text, "stderr") == 0) {
		*output = GSLB_LOG_STDERR;
	} else if (strcasecmp(text, "syslog") == 0) {
		*output = GSLB_LOG_SYSLOG;
	} else {
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

int gslb_log_facility_parse(const char *text, int *facility)
{
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(facilities); i++) {
		if (strcasecmp(text, facilities[i].name) == 0) {
			*facility = facilities[i].facility;
			return GSLB_EOK;
		}
	}
	return GSLB_EINVAL;
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

	bool to_syslog = atomic_load(&log_output) == GSLB_LOG_SYSLOG;
	bool journal = !to_syslog && atomic_load(&log_journal);
	/* syslog and the journal stamp the time themselves. */
	char when[40] = "";
	if (!to_syslog && !journal) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		size_t wl =
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when + wl, sizeof(when) - wl, ".%03ldZ",
			 ts.tv_nsec / 1000000);
	}

	size_t n = 0;
	if (journal) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>",
				     level_priorities[level]);
	}
	if (atomic_load(&log_format) == GSLB_LOG_JSON) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "{");
		if (when[0] != '\0') {
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      "\"time\":\"%s\",", when);
		}
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				      "\"level\":\"%s\",\"subsystem\":\"%s\","
				      "\"msg\":\"",
				      level_names[level], subsystem);
		n = json_escape(line, sizeof(line), n, msg);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}\n");
	} else if (to_syslog) {
		/* The priority carries the level. */
		n += (size_t)snprintf(line + n, sizeof(line) - n, "[%s] %s\n",
				      subsystem, msg);
	} else {
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				      "%s%s%s [%s] %s\n", when,
				      when[0] != '\0' ? " " : "",
				      level_names[level], subsystem, msg);
	}
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (to_syslog) {
		line[n - 1] = '\0';
		syslog(level_priorities[level], "%s", line);
		return;
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
