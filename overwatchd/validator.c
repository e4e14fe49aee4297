/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "error.h"
#include "log.h"
#include "metrics.h"
#include "validator.h"

#define USER_AGENT "OpenGSLB-HealthCheck/" PACKAGE_VERSION " (gslb-overwatchd)"
/* Transitions logged one by one per second; the rest are summed up. */
#define LOG_BURST 50
/* Beyond the longest timeout, how long readiness waits for a first round. */
#define READY_SLACK (2 * GSLB_SEC)
/* Between the checks that settle an agent's dispute of the verdict. */
#define RECHECK_GAP GSLB_SEC

static char fallback_path[] = "/";

struct validator_request;

/* A request waiting for this target's next result. */
struct waiter {
	struct validator_request *req;
	size_t slot; /* index in req->targets */
};

/* One checked backend. It names its backend by key, never by pointer: the
 * registry may drop the backend before the next sync. */
struct vtarget {
	struct validator *v;
	char *service;
	char *region; /* for metrics; "" when the backend has none */
	struct gslb_ip ip;
	uint16_t port;
	struct gslb_health_target *check;
	enum gslb_health_state state; /* as last logged */
	unsigned failure_threshold, success_threshold;
	/* While an agent's claim disputes the verdict: checks still to run,
	 * RECHECK_GAP apart, the last one's start, and the timer. */
	unsigned rechecks;
	gslb_time_t last_recheck; /* monotonic; 0 = none */
	struct event *recheck;
	uint64_t sync_mark;
	struct vtarget *prev, *next;
	struct waiter *waiters;
	size_t n_waiters;
};

struct validator_request {
	struct vtarget **targets; /* NULL once a target has reported */
	size_t n_targets;
	size_t pending;
	void (*done)(void *arg);
	void *arg;
	struct event *now; /* finishes a request with nothing to wait for */
};

struct validator {
	struct event_base *base;
	struct gslb_registry *reg;
	struct metrics *metrics;
	validator_changed_cb changed;
	void *arg;
	struct gslb_health *health;

	bool enabled;
	struct vtarget *targets; /* doubly linked, one per health target */
	uint64_t sync_mark;
	gslb_time_t synced;      /* monotonic, last sync */
	gslb_duration_t grace;   /* readiness wait after a sync */
	bool ready;              /* latched: a reload does not unready */
	gslb_time_t log_window;  /* monotonic start of the logging second */
	size_t log_count;        /* transitions logged in it */
	size_t log_suppressed;   /* and not logged */
	struct event *log_flush; /* sums up the suppressed ones */
	/* Settings for backends whose region has no health_check section. */
	struct gslb_health_check fallback;
};

static void request_finish(struct validator_request *req)
{
	void (*done)(void *) = req->done;
	void *arg = req->arg;
	if (req->now != NULL) {
		event_free(req->now);
	}
	free(req->targets);
	free(req);
	done(arg);
}

/* Target t has reported (or gone): release the requests waiting for it. */
static void release_waiters(struct vtarget *t)
{
	struct waiter *w = t->waiters;
	size_t n = t->n_waiters;
	t->waiters = NULL;
	t->n_waiters = 0;
	for (size_t i = 0; i < n; i++) {
		struct validator_request *req = w[i].req;
		req->targets[w[i].slot] = NULL;
		if (--req->pending == 0) {
			request_finish(req);
		}
	}
	free(w);
}

static void target_free(struct validator *v, struct vtarget *t)
{
	if (t->prev != NULL) {
		t->prev->next = t->next;
	} else {
		v->targets = t->next;
	}
	if (t->next != NULL) {
		t->next->prev = t->prev;
	}
	if (t->check != NULL) {
		gslb_health_remove(t->check);
	}
	if (t->recheck != NULL) {
		event_free(t->recheck);
	}
	struct gslb_backend *b =
		gslb_registry_find(v->reg, t->service, &t->ip, t->port);
	if (b != NULL && b->check == t) {
		b->check = NULL;
	}
	release_waiters(t);
	free(t->service);
	free(t->region);
	free(t);
}

static void on_log_flush(evutil_socket_t fd, short what, void *arg)
{
	struct validator *v = arg;
	log_warn("health",
		 "%zu more backends changed state in the last second (see "
		 "/api/v1/health/servers)",
		 v->log_suppressed);
	v->log_suppressed = 0;
	v->log_count = 0;
	v->log_window = gslb_clock_mono();
}

/*
 * Whether one more transition may be logged. When a data centre goes
 * down, thousands of backends change at once: LOG_BURST a second are
 * logged one by one, the rest summed up when the second ends.
 */
static bool log_transition(struct validator *v)
{
	const gslb_time_t now = gslb_clock_mono();
	if (v->log_suppressed == 0 && now - v->log_window >= GSLB_SEC) {
		v->log_window = now;
		v->log_count = 0;
	}
	if (v->log_count < LOG_BURST) {
		v->log_count++;
		return true;
	}
	if (v->log_suppressed++ == 0) {
		const int64_t usec =
			(v->log_window + GSLB_SEC - now) / GSLB_USEC;
		struct timeval tv = { 0, (suseconds_t)(usec > 0 ? usec : 0) };
		evtimer_add(v->log_flush, &tv);
	}
	return false;
}

/* An agent claims the opposite of the overwatch's verdict on b. */
static bool disputed(const struct gslb_backend *b)
{
	return b->source == GSLB_SOURCE_AGENT &&
	       b->validation != GSLB_UNKNOWN &&
	       b->agent_healthy != (b->validation == GSLB_YES);
}

static void arm_recheck(struct vtarget *t, gslb_duration_t delay)
{
	const int64_t usec = delay > 0 ? delay / GSLB_USEC : 0;
	struct timeval tv = { (time_t)(usec / 1000000),
			      (suseconds_t)(usec % 1000000) };
	evtimer_add(t->recheck, &tv);
}

static void on_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct vtarget *t = arg;
	t->last_recheck = gslb_clock_mono();
	gslb_health_check_now(t->check);
}

static void on_result(struct gslb_health_target *check,
		      const struct gslb_check_result *res, bool changed,
		      void *arg)
{
	struct validator *v = arg;
	struct vtarget *t = gslb_health_user(check);
	char ip[GSLB_IP_STRLEN];

	metrics_observe_check(v->metrics, t->service, t->region, res->latency,
			      res->pass);
	if (changed) {
		struct gslb_health_info info;
		gslb_health_get_info(check, &info);
		bool healthy = info.track.state == GSLB_HEALTH_HEALTHY;
		/* A first "healthy" is the normal start, not news. */
		enum gslb_log_level level = !healthy ? GSLB_LOG_WARN
					    : t->state == GSLB_HEALTH_UNKNOWN
						    ? GSLB_LOG_DEBUG
						    : GSLB_LOG_INFO;
		t->state = info.track.state;
		if (level == GSLB_LOG_DEBUG || log_transition(v)) {
			gslb_log(level, "health",
				 "%s backend %s port %u: %s%s%s", t->service,
				 gslb_ip_format(&t->ip, ip), t->port,
				 gslb_health_state_name(info.track.state),
				 healthy ? "" : ": ",
				 healthy ? "" : res->error);
		}
		struct gslb_backend *b =
			gslb_registry_find(v->reg, t->service, &t->ip, t->port);
		if (b != NULL) {
			gslb_registry_set_validation(
				v->reg, b, healthy ? GSLB_YES : GSLB_NO,
				gslb_clock_mono());
			v->changed(v->arg, b);
		}
	}
	if (t->rechecks > 0) {
		const struct gslb_backend *b =
			gslb_registry_find(v->reg, t->service, &t->ip, t->port);
		if (--t->rechecks > 0 && b != NULL && disputed(b)) {
			arm_recheck(t, RECHECK_GAP);
		} else {
			t->rechecks = 0;
		}
	}
	release_waiters(t);
}

int validator_new(struct event_base *base, struct gslb_registry *reg,
		  struct metrics *metrics, validator_changed_cb changed,
		  void *arg, struct validator **out)
{
	struct validator *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		return GSLB_ENOMEM;
	}
	v->base = base;
	v->reg = reg;
	v->metrics = metrics;
	v->changed = changed;
	v->arg = arg;
	v->log_flush = evtimer_new(base, on_log_flush, v);
	if (v->log_flush == NULL) {
		free(v);
		return GSLB_ENOMEM;
	}
	int ret =
		gslb_health_new(base, USER_AGENT, 0, on_result, v, &v->health);
	if (ret != GSLB_EOK) {
		event_free(v->log_flush);
		free(v);
		return ret;
	}
	*out = v;
	return GSLB_EOK;
}

void validator_free(struct validator *v)
{
	if (v == NULL) {
		return;
	}
	while (v->targets != NULL) {
		target_free(v, v->targets);
	}
	gslb_health_free(v->health);
	event_free(v->log_flush);
	free(v);
}

/* The settings backend b is checked with. */
static const struct gslb_health_check *settings(struct validator *v,
						const struct gslb_config *cfg,
						const struct gslb_backend *b)
{
	const struct gslb_region *region =
		b->region != NULL ? gslb_config_region(cfg, b->region) : NULL;
	return region != NULL ? &region->health_check : &v->fallback;
}

static int target_add(struct validator *v, struct gslb_backend *b,
		      const struct gslb_health_check *hc, const char *host)
{
	struct vtarget *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return GSLB_ENOMEM;
	}
	t->v = v;
	t->service = strdup(b->service);
	t->region = strdup(b->region != NULL ? b->region : "");
	t->ip = b->ip;
	t->port = b->port;
	t->sync_mark = v->sync_mark;
	t->failure_threshold = hc->failure_threshold;
	t->success_threshold = hc->success_threshold;
	t->recheck = evtimer_new(v->base, on_recheck, t);
	if (t->service == NULL || t->region == NULL || t->recheck == NULL) {
		if (t->recheck != NULL) {
			event_free(t->recheck);
		}
		free(t->service);
		free(t->region);
		free(t);
		return GSLB_ENOMEM;
	}
	t->next = v->targets;
	if (v->targets != NULL) {
		v->targets->prev = t;
	}
	v->targets = t;
	b->check = t;
	int ret = gslb_health_add(v->health, hc, &b->ip, b->port, host, t,
				  &t->check);
	if (ret != GSLB_EOK) {
		t->check = NULL;
		target_free(v, t);
	}
	return ret;
}

static int target_update(struct vtarget *t, const struct gslb_backend *b,
			 const struct gslb_health_check *hc, const char *host)
{
	const char *region = b->region != NULL ? b->region : "";
	if (strcmp(t->region, region) != 0) {
		char *copy = strdup(region);
		if (copy == NULL) {
			return GSLB_ENOMEM;
		}
		free(t->region);
		t->region = copy;
	}
	t->sync_mark = t->v->sync_mark;
	t->failure_threshold = hc->failure_threshold;
	t->success_threshold = hc->success_threshold;
	return gslb_health_update(t->check, hc, host);
}

/* Validation off: no checks, and no validation facts left behind. */
static void disable(struct validator *v)
{
	while (v->targets != NULL) {
		target_free(v, v->targets);
	}
	size_t n = gslb_registry_count(v->reg);
	for (size_t i = 0; i < n; i++) {
		struct gslb_backend *b = gslb_registry_at(v->reg, i);
		if (b->validation != GSLB_UNKNOWN) {
			gslb_registry_set_validation(v->reg, b, GSLB_UNKNOWN,
						     gslb_clock_mono());
			v->changed(v->arg, b);
		}
	}
}

int validator_sync(struct validator *v, const struct gslb_config *cfg)
{
	const struct gslb_overwatch_config *ow = &cfg->overwatch;
	v->enabled = ow->validation.enabled;
	v->synced = gslb_clock_mono();
	if (!v->enabled) {
		disable(v);
		return GSLB_EOK;
	}

	/* Backends from regions the config does not describe (agents, API)
	 * get a plain HTTP check with the validation timings. */
	v->fallback = (struct gslb_health_check){
		.type = GSLB_CHECK_HTTP,
		.interval = ow->validation.check_interval,
		.timeout = ow->validation.check_timeout,
		.path = fallback_path,
		.failure_threshold = 3,
		.success_threshold = 2,
	};

	v->sync_mark++;
	gslb_duration_t longest = v->fallback.timeout;
	size_t n = gslb_registry_count(v->reg);
	int ret = GSLB_EOK;
	for (size_t i = 0; i < n && ret == GSLB_EOK; i++) {
		struct gslb_backend *b = gslb_registry_at(v->reg, i);
		const struct gslb_health_check *hc = settings(v, cfg, b);
		const char *host = b->server != NULL ? b->server->host : NULL;
		if (hc->timeout > longest) {
			longest = hc->timeout;
		}
		if (b->check != NULL) {
			ret = target_update(b->check, b, hc, host);
		} else {
			ret = target_add(v, b, hc, host);
		}
	}
	/* Targets whose backend is gone. */
	struct vtarget *t = v->targets;
	while (t != NULL) {
		struct vtarget *next = t->next;
		if (t->sync_mark != v->sync_mark) {
			target_free(v, t);
		}
		t = next;
	}
	v->grace = longest + READY_SLACK;
	if (ret != GSLB_EOK) {
		log_error("health", "cannot set up the health checks: %s",
			  gslb_strerror(ret));
	}
	return ret;
}

int validator_add(struct validator *v, const struct gslb_config *cfg,
		  struct gslb_backend *b)
{
	if (!v->enabled || b->check != NULL) {
		return GSLB_EOK;
	}
	return target_add(v, b, settings(v, cfg, b), NULL);
}

void validator_remove(struct validator *v, struct gslb_backend *b)
{
	if (b->check != NULL) {
		target_free(v, b->check);
	}
}

void validator_agent_claim(struct validator *v, const struct gslb_backend *b)
{
	struct vtarget *t = b->check;
	if (t == NULL || t->check == NULL) {
		return;
	}
	if (!disputed(b)) {
		t->rechecks = 0;
		evtimer_del(t->recheck);
		return;
	}
	if (t->rechecks > 0) {
		return; /* being settled */
	}
	/* As many results as it takes to reverse the verdict: if they all
	 * confirm it instead, the overwatch's verdict stands. */
	t->rechecks = b->validation == GSLB_YES ? t->failure_threshold
						: t->success_threshold;
	if (t->rechecks == 0) {
		t->rechecks = 1;
	}
	char ip[GSLB_IP_STRLEN];
	log_info("health",
		 "%s backend %s port %u: agent %s reports it %s, the last "
		 "check found it %s: checking again",
		 t->service, gslb_ip_format(&t->ip, ip), t->port, b->agent_id,
		 b->agent_healthy ? "healthy" : "unhealthy",
		 b->validation == GSLB_YES ? "healthy" : "unhealthy");
	/* At most one such check per RECHECK_GAP, however often an agent
	 * changes its mind. */
	const gslb_time_t now = gslb_clock_mono();
	arm_recheck(t, t->last_recheck != 0
			       ? t->last_recheck + RECHECK_GAP - now
			       : 0);
}

bool validator_enabled(const struct validator *v)
{
	return v->enabled;
}

bool validator_ready(struct validator *v)
{
	if (!v->ready) {
		v->ready = !v->enabled ||
			   gslb_health_count_checked(v->health) >=
				   gslb_health_count(v->health) ||
			   gslb_clock_mono() - v->synced > v->grace;
	}
	return v->ready;
}

bool validator_backend_info(const struct validator *v,
			    const struct gslb_backend *b,
			    struct gslb_health_info *info)
{
	(void)v;
	const struct vtarget *t = b->check;
	if (t == NULL || t->check == NULL) {
		return false;
	}
	gslb_health_get_info(t->check, info);
	return true;
}

static void on_nothing_to_wait(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	request_finish(arg);
}

static int wait_for(struct validator_request *req, struct vtarget *t)
{
	struct waiter *w = realloc(t->waiters, (t->n_waiters + 1) * sizeof(*w));
	if (w == NULL) {
		return GSLB_ENOMEM;
	}
	t->waiters = w;
	w[t->n_waiters++] = (struct waiter){ req, req->n_targets };
	req->targets[req->n_targets++] = t;
	req->pending++;
	return GSLB_EOK;
}

struct validator_request *validator_check_now(struct validator *v,
					      const struct gslb_backend *b,
					      void (*done)(void *arg),
					      void *arg)
{
	struct validator_request *req = calloc(1, sizeof(*req));
	size_t n = b != NULL ? 1 : gslb_health_count(v->health);
	if (req == NULL) {
		return NULL;
	}
	req->done = done;
	req->arg = arg;
	req->targets = calloc(n + 1, sizeof(*req->targets));
	if (req->targets == NULL) {
		free(req);
		return NULL;
	}
	if (b != NULL) {
		if (b->check != NULL && wait_for(req, b->check) != GSLB_EOK) {
			validator_request_cancel(req);
			return NULL;
		}
	} else {
		for (struct vtarget *t = v->targets; t != NULL; t = t->next) {
			if (wait_for(req, t) != GSLB_EOK) {
				validator_request_cancel(req);
				return NULL;
			}
		}
	}
	if (req->pending == 0) {
		/* Still asynchronous, so the caller sees one behaviour. */
		req->now = evtimer_new(v->base, on_nothing_to_wait, req);
		struct timeval zero = { 0, 0 };
		if (req->now == NULL || evtimer_add(req->now, &zero) != 0) {
			validator_request_cancel(req);
			return NULL;
		}
		return req;
	}
	/* Start the checks only once the request is complete: a check that
	 * cannot start reports at once, through on_result. */
	size_t count = req->n_targets;
	struct vtarget **copy = malloc(count * sizeof(*copy));
	if (copy == NULL) {
		validator_request_cancel(req);
		return NULL;
	}
	memcpy(copy, req->targets, count * sizeof(*copy));
	for (size_t i = 0; i < count; i++) {
		gslb_health_check_now(copy[i]->check);
	}
	free(copy);
	return req;
}

void validator_request_cancel(struct validator_request *req)
{
	if (req == NULL) {
		return;
	}
	for (size_t i = 0; i < req->n_targets; i++) {
		struct vtarget *t = req->targets[i];
		if (t == NULL) {
			continue;
		}
		size_t kept = 0;
		for (size_t j = 0; j < t->n_waiters; j++) {
			if (t->waiters[j].req != req) {
				t->waiters[kept++] = t->waiters[j];
			}
		}
		t->n_waiters = kept;
	}
	if (req->now != NULL) {
		event_free(req->now);
	}
	free(req->targets);
	free(req);
}
