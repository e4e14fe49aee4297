/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The agent's system monitor and predictor: CPU and memory use from /proc,
 * the rate at which our backends fail, and the decision to drain before
 * they do. Parsing and deciding are pure functions of file text, samples
 * and times, so the unit tests need no /proc and no clock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "compiler.h"
#include "config.h"
#include "gossip.h"

/* ------------------------------------------------------------------------ */
/* CPU                                                                      */

/* Jiffies from the "cpu " line of /proc/stat. */
struct monitor_cpu_times {
	uint64_t total; /* user+nice+system+idle+iowait+irq+softirq+steal */
	uint64_t idle;  /* idle+iowait */
};

/* Finds and parses the "cpu " line in the text of /proc/stat. GSLB_EOK or
 * GSLB_EMALF (no such line, or fewer than four numbers on it). */
int monitor_parse_cpu(const char *stat_text,
		      struct monitor_cpu_times *out) GSLB_WARN_UNUSED;

/* Busy percent between two samples: (dtotal - didle) / dtotal * 100; 0
 * when no time passed or the counters went backwards. */
double monitor_cpu_percent(const struct monitor_cpu_times *prev,
			   const struct monitor_cpu_times *cur);

/* Baselines longer ago than this are stale: the next sample is a new
 * baseline. */
#define MONITOR_CPU_MAX_GAP (10 * 60 * GSLB_SEC)

/* Successive samples of /proc/stat. Zeroed: no baseline yet. */
struct monitor_cpu {
	bool have;
	struct monitor_cpu_times prev;
	gslb_time_t at; /* monotonic */
};

/*
 * Takes a sample (the text of /proc/stat at monotonic time now) and sets
 * *percent to the use since the previous one. A first sample, or one after
 * MONITOR_CPU_MAX_GAP, is a baseline and gives 0. GSLB_EMALF when the text
 * has no cpu line (the baseline is kept).
 */
int monitor_cpu_sample(struct monitor_cpu *m, const char *stat_text,
		       gslb_time_t now, double *percent) GSLB_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */

/* (MemTotal - MemAvailable) / MemTotal * 100 from the text of
 * /proc/meminfo. GSLB_EMALF when either field is missing or MemTotal is 0.
 */
int monitor_parse_meminfo(const char *meminfo_text,
			  double *percent) GSLB_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Error rate                                                               */

/* At most this many errors are remembered; older ones are forgotten first. */
#define MONITOR_ERRORS_MAX 65536

/* When our backends turned unhealthy, within a sliding window. */
struct monitor_errors {
	gslb_time_t *times; /* ring buffer, monotonic, oldest at head */
	size_t head, n, cap;
	gslb_duration_t window;
};

void monitor_errors_init(struct monitor_errors *e, gslb_duration_t window);
void monitor_errors_clear(struct monitor_errors *e);
void monitor_errors_set_window(struct monitor_errors *e,
			       gslb_duration_t window);
/* A backend turned unhealthy at monotonic time now. (Out of memory: the
 * error is not counted.) */
void monitor_errors_record(struct monitor_errors *e, gslb_time_t now);
/* Errors within the window ending at now, per minute of window. */
double monitor_errors_rate(struct monitor_errors *e, gslb_time_t now);

/* ------------------------------------------------------------------------ */
/* Reading /proc                                                            */

/* Reads the file into buf, NUL-terminated: at most cap - 1 bytes, the
 * start of a longer one (the lines we need come first). GSLB_EOK or a
 * negated errno. */
int monitor_read_file(const char *path, char *buf, size_t cap) GSLB_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Predictor                                                                */

/*
 * Draining ends only once every metric is below its threshold by a margin,
 * so that a metric hovering at the threshold does not flap the backends in
 * and out of DNS.
 */
#define PREDICTOR_CPU_MARGIN        5.0 /* percentage points */
#define PREDICTOR_MEMORY_MARGIN     5.0 /* percentage points */
#define PREDICTOR_ERROR_RATE_FACTOR 0.8 /* of the threshold */

struct predictor_config {
	double cpu_threshold;        /* percent */
	double memory_threshold;     /* percent */
	double error_rate_threshold; /* errors per minute */
	/* Least time a drain that the metric started lasts. */
	gslb_duration_t cpu_bleed;
	gslb_duration_t memory_bleed;
	gslb_duration_t error_rate_bleed;
};

/* The predictor's settings from agent.predictive. */
void predictor_config_from(struct predictor_config *pc,
			   const struct gslb_agent_config *agent);

/* One round of measurements; a metric that could not be read is not ok
 * and neither starts nor holds a drain. */
struct predictor_sample {
	double cpu;        /* percent */
	double memory;     /* percent */
	double error_rate; /* errors per minute */
	bool cpu_ok, memory_ok, error_rate_ok;
};

/* Zeroed: not draining. */
struct predictor {
	/* From the metrics: the metric that started the drain, which stays
	 * the reason until it ends; GOSSIP_DRAIN_NONE when not draining. */
	enum gossip_drain_reason metric_reason;
	gslb_time_t metric_since; /* monotonic */
	/* The operator's (SIGUSR1/SIGUSR2); beats the metrics. */
	bool manual;
	gslb_time_t manual_since; /* monotonic */
};

/*
 * Feeds a sample taken at monotonic time now. Enters a drain when cpu >=
 * its threshold (reason cpu), else memory, else error rate; leaves it when
 * every metric is below its threshold minus its margin and the drain has
 * lasted the bleed duration of the metric that started it. Returns true
 * when predictor_draining() or predictor_reason() changed.
 */
bool predictor_update(struct predictor *p, const struct predictor_config *c,
		      const struct predictor_sample *s, gslb_time_t now);

/* Ends a drain the metrics started (predictive turned off). Returns true
 * when the effective state changed. */
bool predictor_reset_metrics(struct predictor *p);

/* Starts (on) or ends the manual drain. Returns true when the effective
 * state (draining or reason) changed. */
bool predictor_set_manual(struct predictor *p, bool on, gslb_time_t now);

bool predictor_draining(const struct predictor *p);
/* GOSSIP_DRAIN_MANUAL while the manual drain lasts, else the metric's. */
enum gossip_drain_reason predictor_reason(const struct predictor *p);
/* Monotonic start of the current drain; 0 when not draining. */
gslb_time_t predictor_since(const struct predictor *p);
