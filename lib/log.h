/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Logging, one line per message, text or JSON, with a level and a subsystem
 * on every line: to stderr (for the journal when systemd connected it: no
 * time, a <N> priority prefix), or to syslog. Safe to call from any thread.
 */
#pragma once

#include <stdbool.h>

#include "compiler.h"

enum gslb_log_level {
	GSLB_LOG_DEBUG = 0,
	GSLB_LOG_INFO,
	GSLB_LOG_WARN,
	GSLB_LOG_ERROR,
};

enum gslb_log_format {
	GSLB_LOG_TEXT = 0,
	GSLB_LOG_JSON,
};

enum gslb_log_output {
	GSLB_LOG_STDERR = 0,
	GSLB_LOG_SYSLOG,
};

struct gslb_log_config {
	enum gslb_log_level level;   /* default info */
	enum gslb_log_format format; /* default text */
	enum gslb_log_output output; /* default stderr */
	int facility; /* syslog(3) facility, default LOG_DAEMON */
};

/*
 * Apply a configuration (before it: info, text, stderr). ident names the
 * program in syslog. Call it from one thread, at start and on reload.
 */
void gslb_log_setup(const struct gslb_log_config *conf, const char *ident);

/* "debug", "info", "warn"/"warning", "error" (any case); 0 or GSLB_EINVAL. */
int gslb_log_level_parse(const char *text, enum gslb_log_level *level);
/* "text" or "json" (any case); 0 or GSLB_EINVAL. */
int gslb_log_format_parse(const char *text, enum gslb_log_format *format);
/* "stderr" or "syslog" (any case); 0 or GSLB_EINVAL. */
int gslb_log_output_parse(const char *text, enum gslb_log_output *output);
/* "daemon", "user", "local0"..."local7" (any case); 0 or GSLB_EINVAL. */
int gslb_log_facility_parse(const char *text, int *facility);

bool gslb_log_enabled(enum gslb_log_level level);

void gslb_log(enum gslb_log_level level, const char *subsystem, const char *fmt,
	      ...) GSLB_PRINTF(3, 4);

/*
 * For errors a remote peer can trigger (bad packets, bad requests): at most
 * a burst of lines per second across the process, the rest counted and
 * reported as "N similar messages suppressed" once logging resumes.
 */
void gslb_log_neterr(const char *subsystem, const char *fmt, ...)
	GSLB_PRINTF(2, 3);

#define log_debug(sub, ...)                                         \
	do {                                                        \
		if (gslb_log_enabled(GSLB_LOG_DEBUG)) {             \
			gslb_log(GSLB_LOG_DEBUG, sub, __VA_ARGS__); \
		}                                                   \
	} while (0)
#define log_info(sub, ...)   gslb_log(GSLB_LOG_INFO, sub, __VA_ARGS__)
#define log_warn(sub, ...)   gslb_log(GSLB_LOG_WARN, sub, __VA_ARGS__)
#define log_error(sub, ...)  gslb_log(GSLB_LOG_ERROR, sub, __VA_ARGS__)
#define log_neterr(sub, ...) gslb_log_neterr(sub, __VA_ARGS__)
