/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>

#include "daemon.h"
#include "error.h"
#include "log.h"
#include "server.h"

#define TICK_MS        100
#define PUBLISH_GAP_MS 20

/* Frees retired snapshots that no DNS thread can still be reading. */
static void reclaim(struct server *srv, bool all)
{
	uint64_t oldest = UINT64_MAX;
	for (size_t i = 0; i < srv->n_readers; i++) {
		uint64_t q = atomic_load_explicit(&srv->readers[i].quiescent,
						  memory_order_acquire);
		if (q < oldest) {
			oldest = q;
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < srv->n_retired; i++) {
		struct snapshot *s = srv->retired[i];
		if (all || s->generation < oldest) {
			metrics_fold_routing(srv->metrics, s);
			snapshot_free(s);
		} else {
			srv->retired[kept++] = s;
		}
	}
	srv->n_retired = kept;
}

/* How often the snapshot is rebuilt to refresh signatures, and how long
 * an unused signature is kept for a backend that comes back. */
#define RESIGN_INTERVAL 3600

/* Builds a snapshot of the current config and health, and publishes it. */
static int publish(struct server *srv)
{
	struct snapshot *old = atomic_load(&srv->snap);
	struct snapshot *snap = NULL;
	uint64_t reg_gen = gslb_registry_generation(srv->reg);
	srv->signing.now = gslb_clock_wall() / GSLB_SEC;
	int ret = snapshot_build(srv->cfg, srv->reg, old,
				 srv->signing.signer_for != NULL ? &srv->signing
								 : NULL,
				 srv->generation + 1, &snap);
	if (ret != GSLB_EOK) {
		log_error("dns", "cannot build the answer snapshot: %s",
			  gslb_strerror(ret));
		return ret;
	}
	if (old != NULL) {
		struct snapshot **r = realloc(
			srv->retired, (srv->n_retired + 1) * sizeof(*r));
		if (r == NULL) {
			snapshot_free(snap);
			return GSLB_ENOMEM;
		}
		srv->retired = r;
		srv->retired[srv->n_retired++] = old;
	}
	srv->generation++;
	srv->reg_generation = reg_gen;
	srv->published = gslb_clock_mono();
	atomic_store_explicit(&srv->snap, snap, memory_order_release);
	return GSLB_EOK;
}

/*
 * Health changed: republish at once, but at most once per PUBLISH_GAP_MS,
 * so that thousands of backends failing over a second (their checks are
 * spread over the interval) cost dozens of rebuilds, not thousands.
 */
void server_backends_changed(struct server *srv)
{
	if (evtimer_pending(srv->publish_soon, NULL)) {
		return;
	}
	gslb_duration_t wait =
		srv->published + PUBLISH_GAP_MS * GSLB_MSEC - gslb_clock_mono();
	if (wait < 0) {
		wait = 0;
	}
	struct timeval tv = { 0, (suseconds_t)(wait / GSLB_USEC) };
	evtimer_add(srv->publish_soon, &tv);
}

/* The validator's verdict on b changed. */
static void on_verdict(void *arg, struct gslb_backend *b)
{
	struct server *srv = arg;
	state_backend_changed(srv->state, b);
	server_backends_changed(srv);
}

void server_publish_changes(struct server *srv)
{
	if (gslb_registry_generation(srv->reg) != srv->reg_generation) {
		publish(srv);
	}
}

void server_zone_keys_changed(struct server *srv)
{
	/* The registry did not change: publish regardless. On failure the
	 * snapshot before stays, consistently signed with the key before. */
	publish(srv);
}

static void on_publish_soon(evutil_socket_t fd, short what, void *arg)
{
	server_publish_changes(arg);
}

void server_dns_stats(struct server *srv, struct answer_stats *sum)
{
	udp_stats(srv, sum);
	tcp_stats(srv, sum);
}

void server_foreach_snapshot(struct server *srv,
			     void (*fn)(const struct snapshot *snap, void *arg),
			     void *arg)
{
	const struct snapshot *cur = atomic_load(&srv->snap);
	if (cur != NULL) {
		fn(cur, arg);
	}
	for (size_t i = 0; i < srv->n_retired; i++) {
		fn(srv->retired[i], arg);
	}
}

static bool listen_changed(const struct gslb_config *a,
			   const struct gslb_config *b)
{
	if (a->dns.n_listen != b->dns.n_listen ||
	    a->dns.workers != b->dns.workers ||
	    a->dns.tcp_max_connections != b->dns.tcp_max_connections ||
	    a->dns.tcp_idle_timeout != b->dns.tcp_idle_timeout) {
		return true;
	}
	for (size_t i = 0; i < a->dns.n_listen; i++) {
		if (a->dns.listen[i].len != b->dns.listen[i].len ||
		    memcmp(&a->dns.listen[i].ss, &b->dns.listen[i].ss,
			   a->dns.listen[i].len) != 0) {
			return true;
		}
	}
	return false;
}

static bool str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* Listeners of the API and metrics are bound once, at start. */
static bool restart_changed(const struct gslb_config *a,
			    const struct gslb_config *b)
{
	return a->api.enabled != b->api.enabled ||
	       a->metrics.enabled != b->metrics.enabled ||
	       str_differs(a->api.address, b->api.address) ||
	       str_differs(a->api.socket, b->api.socket) ||
	       str_differs(a->metrics.address, b->metrics.address) ||
	       str_differs(a->overwatch.data_dir, b->overwatch.data_dir) ||
	       str_differs(a->process.user, b->process.user) ||
	       str_differs(a->process.group, b->process.group) ||
	       str_differs(a->overwatch.gossip.bind_address,
			   b->overwatch.gossip.bind_address);
}

static void reload(struct server *srv)
{
	gslb_sd_notify("RELOADING=1");
	log_info("main", "reloading configuration from %s", srv->config_path);
	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };
	int ret = gslb_config_load(srv->config_path, GSLB_MODE_OVERWATCH, &cfg,
				   &errs);
	if (ret != GSLB_EOK) {
		gslb_config_errors_log(&errs);
		log_error("main",
			  "configuration reload failed (%zu errors); "
			  "keeping the running configuration",
			  errs.n);
		gslb_config_errors_clear(&errs);
		metrics_reload(srv->metrics, false);
		gslb_sd_notify("READY=1");
		return;
	}
	if (listen_changed(srv->cfg, cfg)) {
		log_warn("main", "changes to dns.listen_address, dns.workers "
				 "and dns.tcp_* take effect after a restart");
	}
	if (restart_changed(srv->cfg, cfg)) {
		log_warn("main",
			 "changes to api.enabled, api.address, "
			 "api.socket, metrics.enabled, metrics.address, "
			 "overwatch.data_dir, process.* and "
			 "overwatch.gossip.bind_address take effect "
			 "after a restart");
	}
	struct gslb_config *old = srv->cfg;
	srv->cfg = cfg;
	ret = gslb_registry_sync_static(srv->reg, cfg, gslb_clock_mono());
	if (ret == GSLB_EOK) {
		state_registry_synced(srv->state);
		ret = validator_sync(srv->validator, cfg);
	}
	if (ret == GSLB_EOK) {
		/* New zones get their keys before the snapshot signs them. */
		ret = keys_reload(srv->keys, cfg);
	}
	if (ret == GSLB_EOK) {
		ret = publish(srv);
	}
	if (ret != GSLB_EOK) {
		/* Keep answering from the last snapshot; the config that
		 * produced it is the one to keep. */
		srv->cfg = old;
		gslb_config_free(cfg);
		if (gslb_registry_sync_static(srv->reg, old,
					      gslb_clock_mono()) != GSLB_EOK ||
		    validator_sync(srv->validator, old) != GSLB_EOK) {
			log_error("main", "cannot restore the registry");
		}
		state_registry_synced(srv->state);
		log_error("main", "configuration reload failed: %s",
			  gslb_strerror(ret));
		metrics_reload(srv->metrics, false);
		gslb_sd_notify("READY=1");
		return;
	}
	gslb_log_setup(&cfg->logging, "gslb-overwatchd");
	gslb_config_free(old);
	srv->config_loaded = gslb_clock_wall();
	metrics_reload(srv->metrics, true);
	log_info("main", "configuration reloaded: %zu zones, %zu domains",
		 cfg->dns.n_zones, cfg->n_domains);
	gslb_sd_notify("READY=1");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	if (sig == SIGHUP) {
		reload(srv);
		return;
	}
	log_info("main", "received %s, shutting down",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT");
	gslb_sd_notify("STOPPING=1");
	event_base_loopbreak(srv->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	agents_tick(srv->agents);
	gslb_registry_refresh(srv->reg, gslb_clock_mono());
	int64_t now = gslb_clock_wall() / GSLB_SEC;
	if (gslb_registry_generation(srv->reg) != srv->reg_generation) {
		publish(srv);
	} else if (srv->signing.signer_for != NULL &&
		   now - srv->signing.now >= RESIGN_INTERVAL) {
		/* Signatures are made again in good time before they expire
		 * (DNSSEC_SIG_REFRESH), even when nothing else changes. */
		publish(srv);
	}
	/* Separately: under constant flapping the branch above never runs,
	 * and the cache must not grow with every set ever answered. */
	if (srv->signing.signer_for != NULL &&
	    now - srv->swept >= RESIGN_INTERVAL) {
		keys_sweep(srv->keys, now - RESIGN_INTERVAL);
		srv->swept = now;
	}
	reclaim(srv, false);
}

static void log_listening(const struct server *srv)
{
	char list[512] = "";
	size_t pos = 0;
	for (size_t i = 0; i < srv->cfg->dns.n_listen && pos < sizeof(list);
	     i++) {
		char where[GSLB_SOCKADDR_STRLEN];
		pos += (size_t)snprintf(
			list + pos, sizeof(list) - pos, "%s%s",
			i > 0 ? " " : "",
			gslb_sockaddr_format(&srv->cfg->dns.listen[i], where));
	}
	/* Tests and operators wait for this exact phrase. */
	log_info("dns", "listeners started on %s (udp threads %zu, tcp)", list,
		 srv->n_udp);
}

static int start_dns(struct server *srv)
{
	size_t n_udp = udp_thread_count(srv->cfg);
	srv->readers = calloc(n_udp + 1, sizeof(*srv->readers));
	srv->threads = calloc(n_udp + 1, sizeof(*srv->threads));
	if (srv->readers == NULL || srv->threads == NULL) {
		return GSLB_ENOMEM;
	}
	/* DNS threads never see signals: the main loop handles them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	/* TCP first: its listener, without SO_REUSEPORT, fails when another
	 * instance holds the port, before any UDP socket could join that
	 * instance's SO_REUSEPORT group and take a share of its queries. */
	int ret = tcp_start(srv);
	if (ret == GSLB_EOK) {
		ret = udp_start(srv);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void stop_dns(struct server *srv, bool report)
{
	atomic_store(&srv->stopping, true);
	for (size_t i = 0; i < srv->n_threads; i++) {
		pthread_join(srv->threads[i], NULL);
	}
	struct answer_stats st = { 0 };
	udp_stop(srv, &st);
	tcp_stop(srv, &st);
	if (report) {
		log_info("dns",
			 "answered %" PRIu64 " of %" PRIu64
			 " messages: NOERROR %" PRIu64 ", NXDOMAIN %" PRIu64
			 ", SERVFAIL %" PRIu64 ", REFUSED %" PRIu64
			 ", FORMERR %" PRIu64 ", NOTIMP %" PRIu64
			 "; truncated %" PRIu64,
			 stat_get(&st.queries) - stat_get(&st.dropped),
			 stat_get(&st.queries),
			 answer_stats_rcode(&st, KNOT_RCODE_NOERROR),
			 answer_stats_rcode(&st, KNOT_RCODE_NXDOMAIN),
			 answer_stats_rcode(&st, KNOT_RCODE_SERVFAIL),
			 answer_stats_rcode(&st, KNOT_RCODE_REFUSED),
			 answer_stats_rcode(&st, KNOT_RCODE_FORMERR),
			 answer_stats_rcode(&st, KNOT_RCODE_NOTIMPL),
			 stat_get(&st.truncated));
	}
	free(srv->threads);
	free(srv->readers);
	srv->threads = NULL;
	srv->readers = NULL;
	srv->n_threads = 0;
	srv->n_readers = 0;
}

/* Health checks keep a connection per backend: take every descriptor the
 * hard limit allows (systemd's default soft limit is 1024). */
static void raise_nofile(void)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 &&
	    lim.rlim_cur < lim.rlim_max) {
		lim.rlim_cur = lim.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
			log_warn("main", "cannot raise the open files limit");
		}
	}
}

int server_open(struct server *srv, const char *config_path,
		struct gslb_config *cfg)
{
	*srv = (struct server){
		.config_path = config_path,
		.cfg = cfg,
		.started = gslb_clock_wall(),
		.config_loaded = gslb_clock_wall(),
	};
	srv->base = event_base_new();
	if (srv->base != NULL) {
		srv->publish_soon =
			evtimer_new(srv->base, on_publish_soon, srv);
	}
	if (srv->base == NULL || srv->publish_soon == NULL ||
	    metrics_new(&srv->metrics) != GSLB_EOK ||
	    gslb_registry_new(cfg->overwatch.stale.threshold, &srv->reg) !=
		    GSLB_EOK) {
		log_error("main", "start-up failed: out of memory");
		return GSLB_ENOMEM;
	}
	/* Servers added through the API first: they keep their key even if
	 * the config lists it too, as on a reload. */
	if (state_open(srv, &srv->state) != GSLB_EOK) {
		log_error("main", "start-up failed: no usable state database");
		return GSLB_EINVAL;
	}
	/* Every zone's key is on disk before anything can show it. */
	if (keys_open(srv, &srv->keys) != GSLB_EOK) {
		log_error("main", "start-up failed: no usable DNSSEC keys");
		return GSLB_EINVAL;
	}
	srv->signing.signer_for = keys_signer_for;
	srv->signing.arg = srv->keys;
	srv->swept = gslb_clock_wall() / GSLB_SEC;
	if (gslb_registry_sync_static(srv->reg, cfg, gslb_clock_mono()) !=
		    GSLB_EOK ||
	    validator_new(srv->base, srv->reg, srv->metrics, on_verdict, srv,
			  &srv->validator) != GSLB_EOK) {
		log_error("main", "start-up failed: out of memory");
		return GSLB_ENOMEM;
	}
	state_registry_synced(srv->state);
	if (agents_open(srv, &srv->agents) != GSLB_EOK) {
		log_error("main", "start-up failed: cannot receive agents");
		return GSLB_EINVAL;
	}
	if (publish(srv) != GSLB_EOK) {
		log_error("main", "start-up failed: out of memory");
		return GSLB_ENOMEM;
	}
	return GSLB_EOK;
}

void server_close(struct server *srv)
{
	/* Before the state: adoptions still queued are only dropped. */
	keys_free(srv->keys);
	/* Before the state, to which it saves the agents' last-seen times. */
	agents_free(srv->agents);
	/* Changes still queued are committed and answered first. */
	state_free(srv->state);
	api_free(srv->api);
	validator_free(srv->validator);
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(srv->events); i++) {
		if (srv->events[i] != NULL) {
			event_free(srv->events[i]);
		}
	}
	if (srv->publish_soon != NULL) {
		event_free(srv->publish_soon);
	}
	reclaim(srv, true);
	free(srv->retired);
	snapshot_free(atomic_load(&srv->snap));
	metrics_free(srv->metrics);
	if (srv->base != NULL) {
		event_base_free(srv->base);
	}
	gslb_registry_free(srv->reg);
	gslb_config_free(srv->cfg);
}

int server_run(const char *config_path, struct gslb_config *cfg)
{
	struct server srv;
	struct event **ev = srv.events;
	struct timeval tv = { 0, TICK_MS * 1000 };
	int exit_code = 1;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	if (server_open(&srv, config_path, cfg) != GSLB_EOK) {
		goto out;
	}
	ev[0] = evsignal_new(srv.base, SIGHUP, on_signal, &srv);
	ev[1] = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
	ev[2] = evsignal_new(srv.base, SIGINT, on_signal, &srv);
	ev[3] = event_new(srv.base, -1, EV_PERSIST, on_tick, &srv);
	if (ev[0] == NULL || ev[1] == NULL || ev[2] == NULL || ev[3] == NULL ||
	    evsignal_add(ev[0], NULL) != 0 || evsignal_add(ev[1], NULL) != 0 ||
	    evsignal_add(ev[2], NULL) != 0 || event_add(ev[3], &tv) != 0) {
		log_error("main",
			  "start-up failed: cannot set up the event loop");
		goto out;
	}

	if (start_dns(&srv) != GSLB_EOK) {
		stop_dns(&srv, false);
		goto out;
	}
	srv.dns_ready = true;
	if (api_start(&srv, &srv.api) != GSLB_EOK ||
	    metrics_start(srv.metrics, &srv) != GSLB_EOK) {
		stop_dns(&srv, false);
		goto out;
	}
	/* Checks start once everything that can refuse to start has not. */
	if (validator_sync(srv.validator, cfg) != GSLB_EOK) {
		stop_dns(&srv, false);
		goto out;
	}
	/* Every listener is up: what tests and systemd wait for. */
	log_listening(&srv);
	gslb_sd_notify("READY=1");

	event_base_dispatch(srv.base);

	stop_dns(&srv, true);
	exit_code = 0;
out:
	server_close(&srv);
	if (exit_code == 0) {
		log_info("main", "stopped");
	}
	return exit_code;
}
