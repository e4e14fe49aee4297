/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>

#include <event2/event.h>

#include "agent.h"
#include "daemon.h"
#include "error.h"
#include "health.h"
#include "ident.h"
#include "log.h"
#include "monitor.h"
#include "sender.h"

#define USER_AGENT "OpenGSLB-HealthCheck/" PACKAGE_VERSION " (gslb-agentd)"
/* How often the certificate's remaining life is looked at. */
#define ROTATE_CHECK_INTERVAL (24 * 3600)
/* Enough for the lines we read from /proc/stat and /proc/meminfo. */
#define PROC_BUF 8192
/* Full states go out at most this often (changes in between join). */
#define STATE_GAP (20 * GSLB_MSEC)
#define STR_(x)   #x
#define STR(x)    STR_(x)
#define RENEW_REASON \
	"less than " STR(GSLB_IDENTITY_RENEW_DAYS) " days of validity left"

/* One agent.backends[] entry, checked locally. */
struct backend {
	struct agent *ag;
	char *service;
	char *address; /* as configured */
	uint16_t port;
	uint32_t weight;
	struct gslb_ip ip;
	struct gslb_health_target *check;
	enum gslb_health_state state;
	bool healthy; /* as reported: HEALTHY only */
	size_t index; /* in agent.backends and agent.wire */
	bool keep;    /* reload mark */
};

struct agent {
	const char *config_path;
	struct gslb_config *cfg;
	struct event_base *base;
	struct gslb_health *health;
	struct sender *sender;
	struct ident ident;
	/* Fixed for the process: a change needs a restart. */
	char *agent_id, *region, *cert_path, *key_path;

	struct backend **backends;
	size_t n_backends;
	struct gossip_backend *wire; /* report.backends */
	struct sender_report report;
	bool services_warned;

	struct predictor pred;
	struct predictor_config pred_cfg;
	struct monitor_cpu cpu;
	struct monitor_errors errors;
	double cpu_pct, mem_pct, err_rate; /* latest sample */

	struct event *sig[5];
	struct event *predict; /* every predictive.check_interval */
	struct event *rotate;  /* daily */
	struct event *state_soon;
	gslb_time_t state_sent; /* monotonic; 0: never */
};

/* ------------------------------------------------------------------------ */
/* Configuration checks                                                     */

static void errs_add(struct gslb_config_errors *errs, const char *fmt, ...)
	GSLB_PRINTF(2, 3);

static void errs_add(struct gslb_config_errors *errs, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	char **m = realloc(errs->msgs, (errs->n + 1) * sizeof(*m));
	if (m == NULL) {
		free(msg);
		return;
	}
	errs->msgs = m;
	errs->msgs[errs->n++] = msg;
}

int agent_resolve_backends(const struct gslb_config *cfg, struct gslb_ip *ips,
			   struct gslb_config_errors *errs)
{
	const struct gslb_agent_config *a = &cfg->agent;
	size_t before = errs->n;
	for (size_t i = 0; i < a->n_backends; i++) {
		const struct gslb_agent_backend *be = &a->backends[i];
		if (gslb_ip_parse(be->address, &ips[i]) == GSLB_EOK) {
			continue;
		}
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
		struct addrinfo *res = NULL;
		int rc = getaddrinfo(be->address, NULL, &hints, &res);
		bool ok = rc == 0 && res != NULL;
		if (ok && res->ai_family == AF_INET) {
			const struct sockaddr_in *sin =
				(const struct sockaddr_in *)res->ai_addr;
			ips[i].family = AF_INET;
			memcpy(ips[i].addr, &sin->sin_addr, 4);
		} else if (ok && res->ai_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 =
				(const struct sockaddr_in6 *)res->ai_addr;
			ips[i].family = AF_INET6;
			memcpy(ips[i].addr, &sin6->sin6_addr, 16);
		} else {
			ok = false;
		}
		if (res != NULL) {
			freeaddrinfo(res);
		}
		if (!ok) {
			errs_add(errs,
				 "%s:%u:%u: agent.backends[%zu]: address "
				 "\"%s\": cannot resolve: %s",
				 be->pos.file, be->pos.line, be->pos.column, i,
				 be->address,
				 rc != 0 ? gai_strerror(rc) : "no address");
			ips[i].family = 0;
		}
	}
	/* Two names for one address would report one backend twice. */
	for (size_t i = 0; i < a->n_backends; i++) {
		const struct gslb_agent_backend *be = &a->backends[i];
		for (size_t j = 0; j < i && ips[i].family != 0; j++) {
			const struct gslb_agent_backend *o = &a->backends[j];
			if (ips[j].family == 0 || o->port != be->port ||
			    strcmp(o->service, be->service) != 0 ||
			    !gslb_ip_equal(&ips[i], &ips[j])) {
				continue;
			}
			char ip[GSLB_IP_STRLEN];
			errs_add(errs,
				 "%s:%u:%u: agent.backends[%zu]: address "
				 "\"%s\" is %s, the same backend as at "
				 "%s:%u:%u",
				 be->pos.file, be->pos.line, be->pos.column, i,
				 be->address, gslb_ip_format(&ips[i], ip),
				 o->pos.file, o->pos.line, o->pos.column);
			break;
		}
	}
	return errs->n == before ? GSLB_EOK : GSLB_ECONFIG;
}

/* ------------------------------------------------------------------------ */
/* State                                                                    */

static void on_state_soon(evutil_socket_t fd, short what, void *arg)
{
	struct agent *ag = arg;
	(void)fd;
	(void)what;
	ag->state_sent = gslb_clock_mono();
	sender_state_changed(ag->sender);
}

/* The report from the backends, after the set changed; services in the
 * order they first appear. */
static void rebuild_report(struct agent *ag)
{
	struct sender_report *r = &ag->report;
	size_t n_services = 0;
	bool too_many = false;
	for (size_t i = 0; i < ag->n_backends; i++) {
		struct backend *b = ag->backends[i];
		b->index = i;
		ag->wire[i] = (struct gossip_backend){
			.service = b->service,
			.service_len = strlen(b->service),
			.ip = b->ip,
			.port = b->port,
			.weight = b->weight,
			.healthy = b->healthy,
		};
		bool seen = false;
		for (size_t j = 0; j < n_services && !seen; j++) {
			seen = strcmp(r->services[j], b->service) == 0;
		}
		if (seen) {
			continue;
		}
		if (n_services == GOSSIP_SERVICES_MAX) {
			too_many = true;
			continue;
		}
		r->services[n_services] = b->service;
		r->service_lens[n_services] = strlen(b->service);
		n_services++;
	}
	r->backends = ag->wire;
	r->n_backends = ag->n_backends;
	r->n_services = n_services;
	if (too_many && !ag->services_warned) {
		log_warn("agent",
			 "more than %d services: registrations name only the "
			 "first %d",
			 GOSSIP_SERVICES_MAX, GOSSIP_SERVICES_MAX);
	}
	ag->services_warned = too_many;
}

/*
 * Something the overwatches must know changed: a new state version, sent
 * at once, but at most once per STATE_GAP, so that many backends changing
 * within a second (their checks are spread over it) cost a few full
 * states, not one each.
 */
static void state_changed(struct agent *ag)
{
	ag->report.state_version++;
	ag->report.pred.draining = predictor_draining(&ag->pred);
	ag->report.pred.reason = predictor_reason(&ag->pred);
	if (evtimer_pending(ag->state_soon, NULL)) {
		return;
	}
	gslb_duration_t wait = ag->state_sent + STATE_GAP - gslb_clock_mono();
	if (wait < 0 || ag->state_sent == 0) {
		wait = 0;
	}
	struct timeval tv = { 0, (suseconds_t)(wait / GSLB_USEC) };
	evtimer_add(ag->state_soon, &tv);
}

/* ------------------------------------------------------------------------ */
/* Backends                                                                 */

static void on_result(struct gslb_health_target *check,
		      const struct gslb_check_result *res, bool changed,
		      void *arg)
{
	struct agent *ag = arg;
	struct backend *b = gslb_health_user(check);
	char ip[GSLB_IP_STRLEN];

	if (!changed) {
		return;
	}
	struct gslb_health_info info;
	gslb_health_get_info(check, &info);
	enum gslb_health_state state = info.track.state;
	/* A failure, not a first verdict: the error rate counts backends
	 * that fail, not those that never came up. */
	if (state == GSLB_HEALTH_UNHEALTHY && b->state == GSLB_HEALTH_HEALTHY) {
		monitor_errors_record(&ag->errors, gslb_clock_mono());
	}
	bool healthy = state == GSLB_HEALTH_HEALTHY;
	gslb_log(healthy ? GSLB_LOG_INFO : GSLB_LOG_WARN, "health",
		 "%s backend %s port %u: %s%s%s", b->service,
		 gslb_ip_format(&b->ip, ip), b->port,
		 gslb_health_state_name(state), healthy ? "" : ": ",
		 healthy ? "" : res->error);
	b->state = state;
	if (healthy != b->healthy) {
		b->healthy = healthy;
		ag->wire[b->index].healthy = healthy;
		state_changed(ag);
	}
}

static void backend_free(struct backend *b)
{
	if (b->check != NULL) {
		gslb_health_remove(b->check);
	}
	free(b->service);
	free(b->address);
	free(b);
}

/* The Host header for checks of be: health_check.host, else the host
 * name the backend is configured with, if any. */
static const char *check_host(const struct gslb_agent_backend *be)
{
	struct gslb_ip ip;
	if (be->health_check.host != NULL ||
	    gslb_ip_parse(be->address, &ip) == GSLB_EOK) {
		return NULL;
	}
	return be->address;
}

static struct backend *backend_new(struct agent *ag,
				   const struct gslb_agent_backend *be,
				   const struct gslb_ip *ip)
{
	struct backend *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		return NULL;
	}
	b->ag = ag;
	b->service = strdup(be->service);
	b->address = strdup(be->address);
	b->port = be->port;
	b->weight = be->weight;
	b->ip = *ip;
	if (b->service == NULL || b->address == NULL ||
	    gslb_health_add(ag->health, &be->health_check, ip, be->port,
			    check_host(be), b, &b->check) != GSLB_EOK) {
		b->check = NULL;
		backend_free(b);
		return NULL;
	}
	return b;
}

/*
 * Makes the backends those of cfg: the same service, address and port
 * keeps its health state (and gets the new settings); others are added
 * or dropped. *changed: whether anything the overwatches see changed.
 */
static int sync_backends(struct agent *ag, const struct gslb_config *cfg,
			 const struct gslb_ip *ips, bool reload, bool *changed)
{
	const struct gslb_agent_config *a = &cfg->agent;
	struct backend **list = calloc(a->n_backends, sizeof(*list));
	struct gossip_backend *wire = calloc(a->n_backends, sizeof(*wire));
	if (list == NULL || wire == NULL) {
		free(list);
		free(wire);
		return GSLB_ENOMEM;
	}
	*changed = false;
	for (size_t i = 0; i < ag->n_backends; i++) {
		ag->backends[i]->keep = false;
	}
	size_t n = 0;
	int ret = GSLB_EOK;
	for (size_t i = 0; i < a->n_backends; i++) {
		const struct gslb_agent_backend *be = &a->backends[i];
		struct backend *b = NULL;
		for (size_t j = 0; j < ag->n_backends && b == NULL; j++) {
			struct backend *o = ag->backends[j];
			if (!o->keep && o->port == be->port &&
			    gslb_ip_equal(&o->ip, &ips[i]) &&
			    strcmp(o->service, be->service) == 0) {
				b = o;
			}
		}
		if (b != NULL) {
			b->keep = true;
			int r = gslb_health_update(b->check, &be->health_check,
						   check_host(be));
			char *addr = strdup(be->address);
			if (r != GSLB_EOK || addr == NULL) {
				free(addr);
				ret = GSLB_ENOMEM;
			} else {
				free(b->address);
				b->address = addr;
			}
			if (b->weight != be->weight) {
				b->weight = be->weight;
				*changed = true;
			}
		} else {
			b = backend_new(ag, be, &ips[i]);
			if (b == NULL) {
				log_error("agent",
					  "cannot check backend %s port %u: "
					  "out of memory",
					  be->address, be->port);
				ret = GSLB_ENOMEM;
				continue;
			}
			b->keep = true;
			*changed = true;
			if (reload) {
				log_info("agent", "%s backend %s port %u added",
					 b->service, b->address, b->port);
			}
		}
		list[n++] = b;
	}
	for (size_t i = 0; i < ag->n_backends; i++) {
		struct backend *b = ag->backends[i];
		if (!b->keep) {
			log_info("agent", "%s backend %s port %u removed",
				 b->service, b->address, b->port);
			backend_free(b);
			*changed = true;
		}
	}
	free(ag->backends);
	free(ag->wire);
	ag->backends = list;
	ag->n_backends = n;
	ag->wire = wire;
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Predictor                                                                */

static void log_drain(struct agent *ag, bool was, gslb_time_t was_since)
{
	bool now_draining = predictor_draining(&ag->pred);
	enum gossip_drain_reason r = predictor_reason(&ag->pred);
	char numbers[160];
	snprintf(numbers, sizeof(numbers),
		 "cpu %.1f%%, memory %.1f%%, error rate %.1f/min", ag->cpu_pct,
		 ag->mem_pct, ag->err_rate);
	if (now_draining && !was) {
		log_warn("predictor", "draining all backends: %s (%s)",
			 gossip_drain_reason_name(r), numbers);
	} else if (now_draining) {
		log_warn("predictor", "still draining, now for %s (%s)",
			 gossip_drain_reason_name(r), numbers);
	} else {
		gslb_duration_t d = gslb_clock_mono() - was_since;
		log_info("predictor", "drain ended after %" PRId64 " s (%s)",
			 (int64_t)(d / GSLB_SEC), numbers);
	}
}

static void sample(struct agent *ag)
{
	const gslb_time_t now = gslb_clock_mono();
	char *buf = malloc(PROC_BUF);
	struct predictor_sample s = { 0 };
	if (buf != NULL) {
		s.cpu_ok = monitor_read_file("/proc/stat", buf, PROC_BUF) ==
				   GSLB_EOK &&
			   monitor_cpu_sample(&ag->cpu, buf, now, &s.cpu) ==
				   GSLB_EOK;
		s.memory_ok = monitor_read_file("/proc/meminfo", buf,
						PROC_BUF) == GSLB_EOK &&
			      monitor_parse_meminfo(buf, &s.memory) == GSLB_EOK;
		free(buf);
	}
	s.error_rate = monitor_errors_rate(&ag->errors, now);
	s.error_rate_ok = true;
	ag->cpu_pct = s.cpu_ok ? s.cpu : 0;
	ag->mem_pct = s.memory_ok ? s.memory : 0;
	ag->err_rate = s.error_rate;

	struct gossip_predictive *p = &ag->report.pred;
	p->cpu_centi = (uint16_t)(ag->cpu_pct * 100 + 0.5);
	p->mem_centi = (uint16_t)(ag->mem_pct * 100 + 0.5);
	double err = ag->err_rate * 100 + 0.5;
	p->error_rate_centi =
		err >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)err;

	bool was = predictor_draining(&ag->pred);
	gslb_time_t since = predictor_since(&ag->pred);
	if (predictor_update(&ag->pred, &ag->pred_cfg, &s, now)) {
		log_drain(ag, was, since);
		state_changed(ag);
	}
}

static void on_predict(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sample(arg);
}

/* Starts, re-times or stops the sampling for agent.predictive. */
static int predictive_apply(struct agent *ag)
{
	const struct gslb_agent_config *a = &ag->cfg->agent;
	predictor_config_from(&ag->pred_cfg, a);
	monitor_errors_set_window(&ag->errors, a->predictive.error_rate_window);
	if (!a->predictive.enabled) {
		evtimer_del(ag->predict);
		bool was = predictor_draining(&ag->pred);
		gslb_time_t since = predictor_since(&ag->pred);
		bool changed = predictor_reset_metrics(&ag->pred);
		if (changed) {
			log_drain(ag, was, since);
		}
		ag->cpu_pct = ag->mem_pct = ag->err_rate = 0;
		ag->report.pred.cpu_centi = 0;
		ag->report.pred.mem_centi = 0;
		ag->report.pred.error_rate_centi = 0;
		if (changed) {
			state_changed(ag);
		}
		return GSLB_EOK;
	}
	gslb_duration_t iv = a->predictive.check_interval;
	struct timeval tv = {
		.tv_sec = (time_t)(iv / GSLB_SEC),
		.tv_usec = (suseconds_t)((iv % GSLB_SEC) / GSLB_USEC),
	};
	if (evtimer_add(ag->predict, &tv) != 0) {
		return GSLB_ENOMEM;
	}
	/* The first CPU sample is only a baseline. */
	sample(ag);
	return GSLB_EOK;
}

static void manual_drain(struct agent *ag, bool on)
{
	bool was = predictor_draining(&ag->pred);
	gslb_time_t since = predictor_since(&ag->pred);
	if (!predictor_set_manual(&ag->pred, on, gslb_clock_mono())) {
		log_info("predictor", "manual drain %s",
			 on ? "already on" : "was not on");
		return;
	}
	if (on) {
		log_warn("predictor",
			 "draining all backends: manual (SIGUSR1; SIGUSR2 "
			 "ends it)");
	} else if (predictor_draining(&ag->pred)) {
		log_drain(ag, was, since);
	} else {
		log_info("predictor", "manual drain ended after %" PRId64 " s",
			 (int64_t)((gslb_clock_mono() - since) / GSLB_SEC));
	}
	state_changed(ag);
}

/* ------------------------------------------------------------------------ */
/* Identity                                                                 */

static int rotate(struct agent *ag, const char *why)
{
	char err[256] = "";
	char old[GSLB_FINGERPRINT_LEN + 1];
	snprintf(old, sizeof(old), "%s",
		 gslb_identity_fingerprint(ag->ident.id));
	int ret = ident_rotate(&ag->ident, ag->agent_id, ag->region,
			       ag->cert_path, ag->key_path, err, sizeof(err));
	if (ret != GSLB_EOK) {
		log_error("agent", "cannot rotate the identity (%s): %s", why,
			  err);
		return ret;
	}
	log_info("agent",
		 "rotated the identity (%s): certificate %s replaces %s; "
		 "endorsement in %s" IDENT_ENDORSEMENT_SUFFIX,
		 why, gslb_identity_fingerprint(ag->ident.id), old,
		 ag->cert_path);
	return GSLB_EOK;
}

static bool rotation_due(struct agent *ag)
{
	return ident_due(&ag->ident, gslb_clock_wall() / GSLB_SEC);
}

static void on_rotate_check(evutil_socket_t fd, short what, void *arg)
{
	struct agent *ag = arg;
	(void)fd;
	(void)what;
	if (rotation_due(ag) && rotate(ag, RENEW_REASON) == GSLB_EOK) {
		sender_reregister(ag->sender);
	}
}

/* ------------------------------------------------------------------------ */
/* Reload and signals                                                       */

static bool str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

static void sender_config_from(struct agent *ag, const struct gslb_config *cfg,
			       struct sender_config *sc)
{
	const struct gslb_agent_config *a = &cfg->agent;
	*sc = (struct sender_config){
		.agent_id = ag->agent_id,
		.region = ag->region,
		.token = a->identity.service_token,
		.interval = a->heartbeat.interval,
		.missed_threshold = a->heartbeat.missed_threshold,
		.nodes = a->gossip.overwatch_nodes,
		.n_nodes = a->gossip.n_overwatch_nodes,
	};
	memcpy(sc->key, a->gossip.key, sizeof(sc->key));
}

/* The services a registration names, one per line (caller frees). */
static char *services_text(const struct sender_report *r)
{
	size_t len = 1;
	for (size_t i = 0; i < r->n_services; i++) {
		len += r->service_lens[i] + 1;
	}
	char *text = malloc(len), *p = text;
	if (text == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < r->n_services; i++) {
		memcpy(p, r->services[i], r->service_lens[i]);
		p += r->service_lens[i];
		*p++ = '\n';
	}
	*p = '\0';
	return text;
}

static void reload(struct agent *ag)
{
	gslb_sd_notify("RELOADING=1");
	log_info("main", "reloading configuration from %s", ag->config_path);
	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };
	struct gslb_ip *ips = NULL;
	int ret =
		gslb_config_load(ag->config_path, GSLB_MODE_AGENT, &cfg, &errs);
	if (ret == GSLB_EOK) {
		ips = calloc(cfg->agent.n_backends, sizeof(*ips));
		ret = ips == NULL ? GSLB_ENOMEM
				  : agent_resolve_backends(cfg, ips, &errs);
	}
	if (ret != GSLB_EOK) {
		gslb_config_errors_log(&errs);
		log_error("main",
			  "configuration reload failed (%zu error%s); keeping "
			  "the running configuration",
			  errs.n, errs.n == 1 ? "" : "s");
		gslb_config_errors_clear(&errs);
		gslb_config_free(cfg);
		free(ips);
		gslb_sd_notify("READY=1");
		return;
	}
	const struct gslb_agent_config *a = &cfg->agent;
	const struct gslb_agent_config *o = &ag->cfg->agent;
	if (str_differs(a->identity.agent_id, ag->agent_id) ||
	    str_differs(a->identity.region, ag->region) ||
	    str_differs(a->identity.cert_path, ag->cert_path) ||
	    str_differs(a->identity.key_path, ag->key_path) ||
	    str_differs(cfg->process.user, ag->cfg->process.user) ||
	    str_differs(cfg->process.group, ag->cfg->process.group)) {
		log_warn("main", "changes to agent.identity.agent_id, region, "
				 "cert_path, key_path and process.* take "
				 "effect after a restart");
	}
	if (memcmp(a->gossip.key, o->gossip.key, sizeof(a->gossip.key)) != 0) {
		log_info("main", "using the new gossip encryption key");
	}

	struct sender_config sc;
	sender_config_from(ag, cfg, &sc);
	bool changed = false;
	char *services = services_text(&ag->report);
	ret = sync_backends(ag, cfg, ips, true, &changed);
	free(ips);
	if (ret != GSLB_EOK) {
		log_error("main", "reload: some backends could not be set up");
	}
	struct gslb_config *old = ag->cfg;
	ag->cfg = cfg;
	rebuild_report(ag);
	if (changed) {
		state_changed(ag);
	}
	if (sender_configure(ag->sender, &sc) != GSLB_EOK ||
	    predictive_apply(ag) != GSLB_EOK) {
		log_error("main", "reload: out of memory");
	}
	/* The overwatches check the token against every service named in
	 * the registration. */
	char *now_services = services_text(&ag->report);
	if (services == NULL || now_services == NULL ||
	    strcmp(services, now_services) != 0) {
		log_info("main", "the services changed: registering again");
		sender_reregister(ag->sender);
	}
	free(services);
	free(now_services);
	gslb_log_setup(&cfg->logging, "gslb-agentd");
	gslb_config_free(old);
	log_info("main",
		 "configuration reloaded: %zu backends, %zu overwatches, "
		 "state %" PRIu64,
		 ag->n_backends, sender_count(ag->sender),
		 ag->report.state_version);
	gslb_sd_notify("READY=1");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *ag = arg;
	(void)what;
	switch (sig) {
	case SIGHUP:
		reload(ag);
		break;
	case SIGUSR1:
		manual_drain(ag, true);
		break;
	case SIGUSR2:
		manual_drain(ag, false);
		break;
	default:
		log_info("main", "received %s, shutting down",
			 sig == SIGTERM ? "SIGTERM" : "SIGINT");
		gslb_sd_notify("STOPPING=1");
		sender_deregister(ag->sender);
		event_base_loopbreak(ag->base);
		break;
	}
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                           */

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static int setup_identity(struct agent *ag, bool rotate_identity)
{
	char err[256] = "";
	bool created = false;
	int ret =
		ident_open(&ag->ident, ag->agent_id, ag->region, ag->cert_path,
			   ag->key_path, &created, err, sizeof(err));
	if (ret != GSLB_EOK) {
		log_error("agent", "identity: %s", err);
		return ret;
	}
	if (created) {
		log_info("agent",
			 "created a new identity: certificate %s, "
			 "fingerprint %s",
			 ag->cert_path,
			 gslb_identity_fingerprint(ag->ident.id));
	}
	if (rotate_identity && created) {
		log_info("agent", "the identity is new: nothing to rotate");
	} else if (rotate_identity) {
		ret = rotate(ag, "--rotate-identity");
	} else if (rotation_due(ag)) {
		ret = rotate(ag, RENEW_REASON);
	}
	return ret;
}

static int setup_events(struct agent *ag)
{
	static const int sigs[5] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1,
				     SIGUSR2 };
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(sigs); i++) {
		ag->sig[i] = evsignal_new(ag->base, sigs[i], on_signal, ag);
		if (ag->sig[i] == NULL || evsignal_add(ag->sig[i], NULL) != 0) {
			return GSLB_ENOMEM;
		}
	}
	ag->predict = event_new(ag->base, -1, EV_PERSIST, on_predict, ag);
	ag->rotate = event_new(ag->base, -1, EV_PERSIST, on_rotate_check, ag);
	ag->state_soon = evtimer_new(ag->base, on_state_soon, ag);
	struct timeval day = { ROTATE_CHECK_INTERVAL, 0 };
	if (ag->predict == NULL || ag->rotate == NULL ||
	    ag->state_soon == NULL || event_add(ag->rotate, &day) != 0) {
		return GSLB_ENOMEM;
	}
	return GSLB_EOK;
}

static void log_start(struct agent *ag)
{
	const struct gslb_agent_config *a = &ag->cfg->agent;
	char nodes[512] = "";
	size_t pos = 0;
	for (size_t i = 0;
	     i < a->gossip.n_overwatch_nodes && pos < sizeof(nodes); i++) {
		pos += (size_t)snprintf(nodes + pos, sizeof(nodes) - pos,
					"%s%s", i > 0 ? ", " : "",
					a->gossip.overwatch_nodes[i]);
	}
	log_info("main",
		 "gslb-agentd %s started: agent id %s, certificate %s, %zu "
		 "backends, overwatches %s",
		 PACKAGE_VERSION, ag->agent_id,
		 gslb_identity_fingerprint(ag->ident.id), ag->n_backends,
		 nodes);
}

static void agent_free(struct agent *ag)
{
	sender_free(ag->sender);
	for (size_t i = 0; i < ag->n_backends; i++) {
		backend_free(ag->backends[i]);
	}
	free(ag->backends);
	free(ag->wire);
	if (ag->health != NULL) {
		gslb_health_free(ag->health);
	}
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(ag->sig); i++) {
		if (ag->sig[i] != NULL) {
			event_free(ag->sig[i]);
		}
	}
	if (ag->predict != NULL) {
		event_free(ag->predict);
	}
	if (ag->rotate != NULL) {
		event_free(ag->rotate);
	}
	if (ag->state_soon != NULL) {
		event_free(ag->state_soon);
	}
	if (ag->base != NULL) {
		event_base_free(ag->base);
	}
	monitor_errors_clear(&ag->errors);
	ident_clear(&ag->ident);
	free(ag->agent_id);
	free(ag->region);
	free(ag->cert_path);
	free(ag->key_path);
	gslb_config_free(ag->cfg);
}

int agent_run(const char *config_path, struct gslb_config *cfg,
	      bool rotate_identity)
{
	const struct gslb_agent_config *a = &cfg->agent;
	struct agent ag = {
		.config_path = config_path,
		.cfg = cfg,
		/* Increases across restarts, like the sequence numbers. */
		.report.state_version =
			(uint64_t)(gslb_clock_wall() / GSLB_MSEC),
	};
	struct gslb_config_errors errs = { 0 };
	int exit_code = EXIT_FAILURE;

	signal(SIGPIPE, SIG_IGN);
	monitor_errors_init(&ag.errors, a->predictive.error_rate_window);
	ag.agent_id = strdup(a->identity.agent_id);
	ag.region = dup_or_null(a->identity.region);
	ag.cert_path = strdup(a->identity.cert_path);
	ag.key_path = strdup(a->identity.key_path);
	struct gslb_ip *ips = calloc(a->n_backends, sizeof(*ips));
	if (ag.agent_id == NULL || ag.cert_path == NULL ||
	    ag.key_path == NULL || ips == NULL ||
	    (a->identity.region != NULL && ag.region == NULL)) {
		log_error("main", "start-up failed: out of memory");
		goto out;
	}
	if (agent_resolve_backends(cfg, ips, &errs) != GSLB_EOK) {
		gslb_config_errors_log(&errs);
		log_error("main", "%s: configuration has %zu error%s",
			  config_path, errs.n, errs.n == 1 ? "" : "s");
		gslb_config_errors_clear(&errs);
		exit_code = EX_CONFIG;
		goto out;
	}
	if (setup_identity(&ag, rotate_identity) != GSLB_EOK) {
		goto out;
	}

	ag.base = event_base_new();
	bool changed;
	if (ag.base == NULL || setup_events(&ag) != GSLB_EOK ||
	    gslb_health_new(ag.base, USER_AGENT, 0, on_result, &ag,
			    &ag.health) != GSLB_EOK ||
	    sync_backends(&ag, cfg, ips, false, &changed) != GSLB_EOK ||
	    sender_new(ag.base, &ag.ident, &ag.report, &ag.sender) !=
		    GSLB_EOK) {
		log_error("main", "start-up failed: out of memory");
		goto out;
	}
	rebuild_report(&ag);
	struct sender_config sc;
	sender_config_from(&ag, cfg, &sc);
	if (sender_configure(ag.sender, &sc) != GSLB_EOK ||
	    predictive_apply(&ag) != GSLB_EOK) {
		log_error("main", "start-up failed: out of memory");
		goto out;
	}
	log_start(&ag);
	if (sender_start(ag.sender) != GSLB_EOK) {
		log_error("main", "start-up failed: cannot arm the heartbeat");
		goto out;
	}
	gslb_sd_notify("READY=1");

	event_base_dispatch(ag.base);
	exit_code = EXIT_SUCCESS;
out:
	free(ips);
	agent_free(&ag);
	if (exit_code == EXIT_SUCCESS) {
		log_info("main", "stopped");
	}
	return exit_code;
}
