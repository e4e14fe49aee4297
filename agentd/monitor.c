/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "monitor.h"

/* The line of text that starts with prefix, or NULL. */
static const char *find_line(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, prefix, n) == 0) {
			return p;
		}
		p = strchr(p, '\n');
		if (p != NULL) {
			p++;
		}
	}
	return NULL;
}

/* Reads an unsigned decimal after blanks; false at the end of the line. */
static bool read_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	if (!isdigit((unsigned char)*s)) {
		return false;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0) {
		return false;
	}
	*out = v;
	*p = end;
	return true;
}

int monitor_parse_cpu(const char *stat_text, struct monitor_cpu_times *out)
{
	/* user nice system idle iowait irq softirq steal; guest time is
	 * already counted in user and nice. */
	uint64_t f[8] = { 0 };
	size_t n = 0;
	const char *p = find_line(stat_text, "cpu ");
	if (p == NULL) {
		return GSLB_EMALF;
	}
	p += 4;
	while (n < GSLB_ARRAY_SIZE(f) && read_u64(&p, &f[n])) {
		n++;
	}
	if (n < 4) {
		return GSLB_EMALF;
	}
	out->total = 0;
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(f); i++) {
		out->total += f[i];
	}
	out->idle = f[3] + f[4];
	return GSLB_EOK;
}

double monitor_cpu_percent(const struct monitor_cpu_times *prev,
			   const struct monitor_cpu_times *cur)
{
	if (cur->total <= prev->total || cur->idle < prev->idle) {
		return 0;
	}
	uint64_t total = cur->total - prev->total;
	uint64_t idle = cur->idle - prev->idle;
	if (idle > total) {
		return 0;
	}
	return (double)(total - idle) * 100.0 / (double)total;
}

int monitor_cpu_sample(struct monitor_cpu *m, const char *stat_text,
		       gslb_time_t now, double *percent)
{
	struct monitor_cpu_times cur;
	int ret = monitor_parse_cpu(stat_text, &cur);
	if (ret != GSLB_EOK) {
		return ret;
	}
	if (m->have && now - m->at <= MONITOR_CPU_MAX_GAP) {
		*percent = monitor_cpu_percent(&m->prev, &cur);
	} else {
		*percent = 0;
	}
	m->have = true;
	m->prev = cur;
	m->at = now;
	return GSLB_EOK;
}

/* The value in kB of a /proc/meminfo field ("MemTotal:"). */
static bool meminfo_field(const char *text, const char *name, uint64_t *out)
{
	const char *p = find_line(text, name);
	if (p == NULL) {
		return false;
	}
	p += strlen(name);
	return read_u64(&p, out);
}

int monitor_parse_meminfo(const char *meminfo_text, double *percent)
{
	uint64_t total, avail;
	if (!meminfo_field(meminfo_text, "MemTotal:", &total) ||
	    !meminfo_field(meminfo_text, "MemAvailable:", &avail) ||
	    total == 0) {
		return GSLB_EMALF;
	}
	if (avail > total) {
		avail = total;
	}
	*percent = (double)(total - avail) * 100.0 / (double)total;
	return GSLB_EOK;
}

void monitor_errors_init(struct monitor_errors *e, gslb_duration_t window)
{
	*e = (struct monitor_errors){ .window = window };
}

void monitor_errors_clear(struct monitor_errors *e)
{
	free(e->times);
	*e = (struct monitor_errors){ .window = e->window };
}

void monitor_errors_set_window(struct monitor_errors *e, gslb_duration_t window)
{
	e->window = window;
}

static void expire(struct monitor_errors *e, gslb_time_t now)
{
	while (e->n > 0 && now - e->times[e->head] > e->window) {
		e->head = (e->head + 1) % e->cap;
		e->n--;
	}
}

void monitor_errors_record(struct monitor_errors *e, gslb_time_t now)
{
	expire(e, now);
	if (e->n == e->cap) {
		if (e->cap >= MONITOR_ERRORS_MAX) {
			/* Forget the oldest. */
			e->head = (e->head + 1) % e->cap;
			e->n--;
		} else {
			size_t cap = e->cap == 0 ? 16 : e->cap * 2;
			gslb_time_t *t = malloc(cap * sizeof(*t));
			if (t == NULL) {
				return;
			}
			for (size_t i = 0; i < e->n; i++) {
				t[i] = e->times[(e->head + i) % e->cap];
			}
			free(e->times);
			e->times = t;
			e->cap = cap;
			e->head = 0;
		}
	}
	e->times[(e->head + e->n) % e->cap] = now;
	e->n++;
}

double monitor_errors_rate(struct monitor_errors *e, gslb_time_t now)
{
	expire(e, now);
	if (e->window <= 0) {
		return 0;
	}
	return (double)e->n * (double)(60 * GSLB_SEC) / (double)e->window;
}

int monitor_read_file(const char *path, char *buf, size_t cap)
{
	if (cap == 0) {
		return GSLB_ESPACE;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return GSLB_EOK;
}

void predictor_config_from(struct predictor_config *pc,
			   const struct gslb_agent_config *agent)
{
	*pc = (struct predictor_config){
		.cpu_threshold = agent->predictive.cpu_threshold,
		.memory_threshold = agent->predictive.memory_threshold,
		.error_rate_threshold = agent->predictive.error_rate_threshold,
		.cpu_bleed = agent->predictive.cpu_bleed_duration,
		.memory_bleed = agent->predictive.memory_bleed_duration,
		.error_rate_bleed = agent->predictive.error_rate_bleed_duration,
	};
}

bool predictor_draining(const struct predictor *p)
{
	return p->manual || p->metric_reason != GOSSIP_DRAIN_NONE;
}

enum gossip_drain_reason predictor_reason(const struct predictor *p)
{
	return p->manual ? GOSSIP_DRAIN_MANUAL : p->metric_reason;
}

gslb_time_t predictor_since(const struct predictor *p)
{
	if (p->manual) {
		return p->manual_since;
	}
	return p->metric_reason != GOSSIP_DRAIN_NONE ? p->metric_since : 0;
}

/* The metric over its threshold that starts a drain, in the order cpu,
 * memory, error rate. */
static enum gossip_drain_reason trigger(const struct predictor_config *c,
					const struct predictor_sample *s)
{
	if (s->cpu_ok && s->cpu >= c->cpu_threshold) {
		return GOSSIP_DRAIN_CPU;
	}
	if (s->memory_ok && s->memory >= c->memory_threshold) {
		return GOSSIP_DRAIN_MEMORY;
	}
	if (s->error_rate_ok && s->error_rate >= c->error_rate_threshold) {
		return GOSSIP_DRAIN_ERROR_RATE;
	}
	return GOSSIP_DRAIN_NONE;
}

/* Every metric is clearly back below its threshold. */
static bool recovered(const struct predictor_config *c,
		      const struct predictor_sample *s)
{
	if (s->cpu_ok && s->cpu >= c->cpu_threshold - PREDICTOR_CPU_MARGIN) {
		return false;
	}
	if (s->memory_ok &&
	    s->memory >= c->memory_threshold - PREDICTOR_MEMORY_MARGIN) {
		return false;
	}
	if (s->error_rate_ok &&
	    s->error_rate >=
		    c->error_rate_threshold * PREDICTOR_ERROR_RATE_FACTOR) {
		return false;
	}
	return true;
}

static gslb_duration_t bleed_of(const struct predictor_config *c,
				enum gossip_drain_reason r)
{
	switch (r) {
	case GOSSIP_DRAIN_CPU:
		return c->cpu_bleed;
	case GOSSIP_DRAIN_MEMORY:
		return c->memory_bleed;
	case GOSSIP_DRAIN_ERROR_RATE:
		return c->error_rate_bleed;
	default:
		return 0;
	}
}

bool predictor_update(struct predictor *p, const struct predictor_config *c,
		      const struct predictor_sample *s, gslb_time_t now)
{
	bool was = predictor_draining(p);
	enum gossip_drain_reason was_reason = predictor_reason(p);

	if (p->metric_reason == GOSSIP_DRAIN_NONE) {
		p->metric_reason = trigger(c, s);
		p->metric_since =
			p->metric_reason != GOSSIP_DRAIN_NONE ? now : 0;
	} else if (recovered(c, s) &&
		   now - p->metric_since >= bleed_of(c, p->metric_reason)) {
		p->metric_reason = GOSSIP_DRAIN_NONE;
		p->metric_since = 0;
	}
	return predictor_draining(p) != was ||
	       predictor_reason(p) != was_reason;
}

bool predictor_reset_metrics(struct predictor *p)
{
	bool was = predictor_draining(p);
	enum gossip_drain_reason was_reason = predictor_reason(p);
	p->metric_reason = GOSSIP_DRAIN_NONE;
	p->metric_since = 0;
	return predictor_draining(p) != was ||
	       predictor_reason(p) != was_reason;
}

bool predictor_set_manual(struct predictor *p, bool on, gslb_time_t now)
{
	if (p->manual == on) {
		return false;
	}
	bool was = predictor_draining(p);
	enum gossip_drain_reason was_reason = predictor_reason(p);
	p->manual = on;
	p->manual_since = on ? now : 0;
	return predictor_draining(p) != was ||
	       predictor_reason(p) != was_reason;
}
