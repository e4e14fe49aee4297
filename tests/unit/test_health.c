/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The health checker against real sockets on loopback: a TCP listener, a
 * small libevent HTTP server, and a listener that never answers. Every test
 * runs its own event loop, bounded by a guard timer.
 */
#include <arpa/inet.h>
#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compiler.h"
#include "error.h"
#include "health.h"

#define USER_AGENT "opengslb-test/1.0"
#define BIG_BODY   (70 * 1024) /* more than the 64 KiB a check reads */

/* ------------------------------------------------------------------------ */
/* The checker under test, with every callback recorded.                    */

struct rec {
	struct gslb_health_target *target;
	void *user;
	struct gslb_check_result res;
	bool changed;
	gslb_time_t at; /* monotonic */
};

struct ctx {
	struct event_base *base;
	struct gslb_health *h;
	struct event *guard;
	struct rec recs[32];
	size_t n;
	size_t want; /* stop the loop after this many results */
	/* When set, the callback removes these and the reported target. */
	bool remove_in_cb;
	/* When set, the first result asks for another check at once. */
	bool check_again_after_first;
	struct gslb_health_target *remove_also;
};

static void on_result(struct gslb_health_target *target,
		      const struct gslb_check_result *res, bool changed,
		      void *arg)
{
	struct ctx *c = arg;

	if (c->n < GSLB_ARRAY_SIZE(c->recs)) {
		struct rec *r = &c->recs[c->n];
		r->target = target;
		r->user = gslb_health_user(target);
		r->res = *res;
		r->changed = changed;
		r->at = gslb_clock_mono();
	}
	c->n++;
	if (c->check_again_after_first && c->n == 1) {
		gslb_health_check_now(target);
	}
	if (c->remove_in_cb) {
		if (c->remove_also != NULL) {
			gslb_health_remove(c->remove_also);
			c->remove_also = NULL;
		}
		gslb_health_remove(target);
	}
	if (c->want > 0 && c->n >= c->want) {
		event_base_loopbreak(c->base);
	}
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void ctx_init(struct ctx *c, size_t max_in_flight)
{
	memset(c, 0, sizeof(*c));
	c->base = event_base_new();
	ck_assert_ptr_nonnull(c->base);
	c->guard = evtimer_new(c->base, guard_cb, c->base);
	ck_assert_ptr_nonnull(c->guard);
	ck_assert_int_eq(gslb_health_new(c->base, USER_AGENT, max_in_flight,
					 on_result, c, &c->h),
			 0);
	ck_assert_ptr_nonnull(c->h);
}

/* Runs the loop until want results in all, or limit_ms went by. */
static void ctx_run(struct ctx *c, size_t want, long limit_ms)
{
	struct timeval tv = { limit_ms / 1000, (limit_ms % 1000) * 1000 };

	c->want = want;
	ck_assert_int_eq(evtimer_add(c->guard, &tv), 0);
	ck_assert_int_ge(event_base_dispatch(c->base), 0);
	evtimer_del(c->guard);
}

static void ctx_free(struct ctx *c)
{
	gslb_health_free(c->h);
	event_free(c->guard);
	event_base_free(c->base);
}

/* The record of the result given for user, which must exist once. */
static const struct rec *rec_of(const struct ctx *c, void *user)
{
	const struct rec *found = NULL;
	for (size_t i = 0; i < c->n && i < GSLB_ARRAY_SIZE(c->recs); i++) {
		if (c->recs[i].user == user) {
			ck_assert_ptr_null(found);
			found = &c->recs[i];
		}
	}
	ck_assert_ptr_nonnull(found);
	return found;
}

static struct gslb_health_check make_check(enum gslb_check_type type,
					   const char *path)
{
	struct gslb_health_check hc = {
		.type = type,
		.interval = 10 * GSLB_SEC,
		.timeout = 2 * GSLB_SEC,
		.path = (char *)path,
		.failure_threshold = 3,
		.success_threshold = 2,
	};
	return hc;
}

static struct gslb_health_target *add(struct ctx *c,
				      const struct gslb_health_check *hc,
				      const char *addr, uint16_t port,
				      const char *host, void *user)
{
	struct gslb_health_target *t = NULL;
	struct gslb_ip ip;

	ck_assert_int_eq(gslb_ip_parse(addr, &ip), 0);
	ck_assert_int_eq(gslb_health_add(c->h, hc, &ip, port, host, user, &t),
			 0);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* ------------------------------------------------------------------------ */
/* Sockets                                                                  */

static uint16_t sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET6) {
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * A socket bound to 127.0.0.1 on a free port, listening or not. The kernel
 * completes handshakes on a listener nobody accepts from: a server that
 * connects and then never answers.
 */
static int bound_socket(bool listening, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (listening) {
		ck_assert_int_eq(listen(fd, 16), 0);
	}
	*port = sock_port(fd);
	return fd;
}

/* A port on 127.0.0.1 where nothing listens. */
static uint16_t closed_port(void)
{
	uint16_t port;
	close(bound_socket(false, &port));
	return port;
}

/* ------------------------------------------------------------------------ */
/* The HTTP server                                                          */

struct request {
	char path[64];
	char host[128];
	char user_agent[128];
};

struct server {
	struct evhttp *http;
	uint16_t port;
	struct request reqs[16];
	size_t n_reqs;
};

static void copy_header(char *buf, size_t size, struct evhttp_request *req,
			const char *name)
{
	const char *value =
		evhttp_find_header(evhttp_request_get_input_headers(req), name);
	snprintf(buf, size, "%s", value != NULL ? value : "(none)");
}

static void reply(struct evhttp_request *req, int code, const char *reason,
		  const char *body)
{
	struct evbuffer *out = evbuffer_new();
	evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

/* A body of BIG_BODY bytes, with "ok" at its start or at its end. */
static void reply_big(struct evhttp_request *req, bool ok_first)
{
	struct evbuffer *out = evbuffer_new();
	char *body = malloc(BIG_BODY);

	ck_assert_ptr_nonnull(body);
	memset(body, 'x', BIG_BODY);
	memcpy(ok_first ? body : body + BIG_BODY - 2, "ok", 2);
	evbuffer_add(out, body, BIG_BODY);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
	free(body);
}

static void server_cb(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	const char *path =
		evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

	if (path == NULL) {
		path = "";
	}
	if (srv->n_reqs < GSLB_ARRAY_SIZE(srv->reqs)) {
		struct request *r = &srv->reqs[srv->n_reqs];
		snprintf(r->path, sizeof(r->path), "%s", path);
		copy_header(r->host, sizeof(r->host), req, "Host");
		copy_header(r->user_agent, sizeof(r->user_agent), req,
			    "User-Agent");
	}
	srv->n_reqs++;

	if (strcmp(path, "/ok") == 0) {
		reply(req, 200, "OK", "ok");
	} else if (strcmp(path, "/503") == 0) {
		reply(req, 503, "Service Unavailable", "down");
	} else if (strcmp(path, "/nope") == 0) {
		reply(req, 200, "OK", "nope");
	} else if (strcmp(path, "/redirect") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Location", "/ok");
		reply(req, 302, "Found", "");
	} else if (strcmp(path, "/big-ok-first") == 0) {
		reply_big(req, true);
	} else if (strcmp(path, "/big-ok-last") == 0) {
		reply_big(req, false);
	} else {
		reply(req, 404, "Not Found", "");
	}
}

/* Starts srv on addr; false when addr cannot be bound (no IPv6). */
static bool server_start(struct server *srv, struct event_base *base,
			 const char *addr)
{
	memset(srv, 0, sizeof(*srv));
	srv->http = evhttp_new(base);
	ck_assert_ptr_nonnull(srv->http);
	struct evhttp_bound_socket *bound =
		evhttp_bind_socket_with_handle(srv->http, addr, 0);
	if (bound == NULL) {
		evhttp_free(srv->http);
		srv->http = NULL;
		return false;
	}
	srv->port = sock_port(evhttp_bound_socket_get_fd(bound));
	evhttp_set_gencb(srv->http, server_cb, srv);
	return true;
}

static void server_stop(struct server *srv)
{
	if (srv->http != NULL) {
		evhttp_free(srv->http);
	}
}

/* ------------------------------------------------------------------------ */
/* State machine                                                            */

static void feed(struct gslb_health_track *t, bool pass, bool changes,
		 enum gslb_health_state state)
{
	ck_assert_int_eq(gslb_health_track_result(t, pass, 3, 2), changes);
	ck_assert_int_eq(t->state, state);
}

START_TEST(state_names)
{
	ck_assert_str_eq(gslb_health_state_name(GSLB_HEALTH_UNKNOWN),
			 "unknown");
	ck_assert_str_eq(gslb_health_state_name(GSLB_HEALTH_HEALTHY),
			 "healthy");
	ck_assert_str_eq(gslb_health_state_name(GSLB_HEALTH_UNHEALTHY),
			 "unhealthy");
}
END_TEST

/* The original's tested sequence: failure threshold 3, success 2. */
START_TEST(track_original_sequence)
{
	struct gslb_health_track t = { 0 };

	feed(&t, true, false, GSLB_HEALTH_UNKNOWN);
	ck_assert_uint_eq(t.consecutive_successes, 1);
	feed(&t, true, true, GSLB_HEALTH_HEALTHY);
	feed(&t, false, false, GSLB_HEALTH_HEALTHY);
	feed(&t, false, false, GSLB_HEALTH_HEALTHY);
	ck_assert_uint_eq(t.consecutive_failures, 2);
	ck_assert_uint_eq(t.consecutive_successes, 0);
	feed(&t, false, true, GSLB_HEALTH_UNHEALTHY);
	feed(&t, false, false, GSLB_HEALTH_UNHEALTHY);
	/* Back to healthy takes two passes in a row. */
	feed(&t, true, false, GSLB_HEALTH_UNHEALTHY);
	feed(&t, true, true, GSLB_HEALTH_HEALTHY);

	/* A pass between failures starts the count again. */
	feed(&t, false, false, GSLB_HEALTH_HEALTHY);
	feed(&t, false, false, GSLB_HEALTH_HEALTHY);
	feed(&t, true, false, GSLB_HEALTH_HEALTHY);
	ck_assert_uint_eq(t.consecutive_failures, 0);
	feed(&t, false, false, GSLB_HEALTH_HEALTHY);
	feed(&t, false, false, GSLB_HEALTH_HEALTHY);
	feed(&t, false, true, GSLB_HEALTH_UNHEALTHY);
}
END_TEST

START_TEST(track_unknown_failure_first)
{
	struct gslb_health_track t = { 0 };

	feed(&t, false, false, GSLB_HEALTH_UNKNOWN);
	feed(&t, false, false, GSLB_HEALTH_UNKNOWN);
	feed(&t, false, true, GSLB_HEALTH_UNHEALTHY);

	/* With a failure threshold of 1, one failure decides. */
	struct gslb_health_track u = { 0 };
	ck_assert(gslb_health_track_result(&u, false, 1, 2));
	ck_assert_int_eq(u.state, GSLB_HEALTH_UNHEALTHY);

	/* A pass then a failure, from unknown: neither threshold yet. */
	struct gslb_health_track v = { 0 };
	ck_assert(!gslb_health_track_result(&v, true, 3, 2));
	ck_assert(!gslb_health_track_result(&v, false, 3, 2));
	ck_assert_int_eq(v.state, GSLB_HEALTH_UNKNOWN);
}
END_TEST

START_TEST(track_thresholds_one)
{
	struct gslb_health_track t = { 0 };

	ck_assert(gslb_health_track_result(&t, true, 1, 1));
	ck_assert_int_eq(t.state, GSLB_HEALTH_HEALTHY);
	ck_assert(!gslb_health_track_result(&t, true, 1, 1));
	ck_assert(gslb_health_track_result(&t, false, 1, 1));
	ck_assert_int_eq(t.state, GSLB_HEALTH_UNHEALTHY);
	ck_assert(!gslb_health_track_result(&t, false, 1, 1));
	ck_assert(gslb_health_track_result(&t, true, 1, 1));
	ck_assert_int_eq(t.state, GSLB_HEALTH_HEALTHY);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* TCP                                                                      */

START_TEST(tcp_pass)
{
	struct ctx c;
	struct gslb_health_info info;
	struct gslb_health_check hc = make_check(GSLB_CHECK_TCP, NULL);
	uint16_t port;
	int user = 0;
	const int lfd = bound_socket(true, &port);

	ctx_init(&c, 0);
	struct gslb_health_target *t =
		add(&c, &hc, "127.0.0.1", port, NULL, &user);
	ck_assert_uint_eq(gslb_health_count(c.h), 1);
	ck_assert_uint_eq(gslb_health_count_checked(c.h), 0);
	gslb_health_get_info(t, &info);
	ck_assert_int_eq(info.last_check, 0);
	ck_assert_str_eq(info.last_error, "");

	gslb_health_check_now(t);
	ctx_run(&c, 1, 3000);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_ptr_eq(c.recs[0].target, t);
	ck_assert_ptr_eq(c.recs[0].user, &user);
	ck_assert(c.recs[0].res.pass);
	ck_assert_str_eq(c.recs[0].res.error, "");
	ck_assert_int_eq(c.recs[0].res.http_status, 0);
	ck_assert_int_gt(c.recs[0].res.latency, 0);
	ck_assert(!c.recs[0].changed); /* one pass of two */

	gslb_health_get_info(t, &info);
	ck_assert_uint_eq(info.passes, 1);
	ck_assert_uint_eq(info.failures, 0);
	ck_assert_int_gt(info.last_check, 0);
	ck_assert_int_eq(info.last_healthy, info.last_check);
	ck_assert_int_eq(info.last_latency, c.recs[0].res.latency);
	ck_assert_int_eq(info.track.state, GSLB_HEALTH_UNKNOWN);
	ck_assert_uint_eq(info.track.consecutive_successes, 1);
	ck_assert_uint_eq(gslb_health_count_checked(c.h), 1);

	ctx_free(&c);
	close(lfd);
}
END_TEST

START_TEST(tcp_refused)
{
	struct ctx c;
	struct gslb_health_info info;
	struct gslb_health_check hc = make_check(GSLB_CHECK_TCP, NULL);
	const uint16_t port = closed_port();

	hc.failure_threshold = 1;
	ctx_init(&c, 0);
	struct gslb_health_target *t =
		add(&c, &hc, "127.0.0.1", port, NULL, NULL);
	gslb_health_check_now(t);
	ctx_run(&c, 1, 3000);
	ck_assert_uint_eq(c.n, 1);
	ck_assert(!c.recs[0].res.pass);
	ck_assert_str_eq(c.recs[0].res.error,
			 "tcp connect failed: Connection refused");
	ck_assert(c.recs[0].changed);

	gslb_health_get_info(t, &info);
	ck_assert_uint_eq(info.passes, 0);
	ck_assert_uint_eq(info.failures, 1);
	ck_assert_str_eq(info.last_error, c.recs[0].res.error);
	ck_assert_int_gt(info.last_check, 0);
	ck_assert_int_eq(info.last_healthy, 0);
	ck_assert_int_eq(info.track.state, GSLB_HEALTH_UNHEALTHY);
	ck_assert_uint_eq(gslb_health_count_checked(c.h), 1);

	ctx_free(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* HTTP                                                                     */

/* What one HTTP target must give. */
struct http_case {
	const char *path;
	const char *expected_body;
	struct gslb_status_range *expected_status;
	bool pass;
	int status;
	const char *error;
};

START_TEST(http_status_and_body)
{
	struct ctx c;
	struct server srv;
	struct gslb_status_range only_503 = { 503, 503 };
	const struct http_case cases[] = {
		{ "/ok", NULL, NULL, true, 200, "" },
		{ "/ok", "ok", NULL, true, 200, "" },
		{ "/503", NULL, NULL, false, 503,
		  "unexpected status code: 503" },
		{ "/503", NULL, &only_503, true, 503, "" },
		{ "/ok", NULL, &only_503, false, 200,
		  "unexpected status code: 200" },
		{ "/nope", "ok", NULL, false, 200,
		  "body does not contain \"ok\"" },
		/* Redirects are not followed. */
		{ "/redirect", NULL, NULL, false, 302,
		  "unexpected status code: 302" },
		/* Only the first 64 KiB of a body are read. */
		{ "/big-ok-first", "ok", NULL, true, 200, "" },
		{ "/big-ok-last", "ok", NULL, false, 200,
		  "body does not contain \"ok\"" },
		{ "/big-ok-last", NULL, NULL, true, 200, "" },
	};
	const size_t n = GSLB_ARRAY_SIZE(cases);

	ctx_init(&c, 0);
	ck_assert(server_start(&srv, c.base, "127.0.0.1"));
	for (size_t i = 0; i < n; i++) {
		struct gslb_health_check hc =
			make_check(GSLB_CHECK_HTTP, cases[i].path);
		hc.expected_body = (char *)cases[i].expected_body;
		if (cases[i].expected_status != NULL) {
			hc.expected_status = cases[i].expected_status;
			hc.n_expected_status = 1;
		}
		gslb_health_check_now(add(&c, &hc, "127.0.0.1", srv.port, NULL,
					  (void *)&cases[i]));
	}
	ctx_run(&c, n, 5000);
	ck_assert_uint_eq(c.n, n);
	for (size_t i = 0; i < n; i++) {
		const struct rec *r = rec_of(&c, (void *)&cases[i]);
		ck_assert_msg(r->res.pass == cases[i].pass, "%s: %s",
			      cases[i].path, r->res.error);
		ck_assert_int_eq(r->res.http_status, cases[i].status);
		ck_assert_str_eq(r->res.error, cases[i].error);
		ck_assert_int_gt(r->res.latency, 0);
	}

	server_stop(&srv); /* before its event base goes */
	ctx_free(&c);
}
END_TEST

/* Host header and User-Agent; the host argument wins over hc->host. */
START_TEST(http_headers)
{
	struct ctx c;
	struct server srv;
	struct gslb_health_check hc = make_check(GSLB_CHECK_HTTP, "/ok");
	char plain_host[64];
	int users[3];

	ctx_init(&c, 1); /* one at a time: requests arrive in order */
	ck_assert(server_start(&srv, c.base, "127.0.0.1"));
	hc.host = (char *)"config.example.test";
	gslb_health_check_now(add(&c, &hc, "127.0.0.1", srv.port,
				  "app.example.test", &users[0]));
	gslb_health_check_now(
		add(&c, &hc, "127.0.0.1", srv.port, NULL, &users[1]));
	hc.host = NULL;
	gslb_health_check_now(
		add(&c, &hc, "127.0.0.1", srv.port, NULL, &users[2]));
	ctx_run(&c, 3, 5000);
	ck_assert_uint_eq(c.n, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct rec *r = rec_of(&c, &users[i]);
		ck_assert_msg(r->res.pass, "%s", r->res.error);
	}

	ck_assert_uint_eq(srv.n_reqs, 3);
	snprintf(plain_host, sizeof(plain_host), "127.0.0.1:%u", srv.port);
	ck_assert_str_eq(srv.reqs[0].host, "app.example.test");
	ck_assert_str_eq(srv.reqs[1].host, "config.example.test");
	ck_assert_str_eq(srv.reqs[2].host, plain_host);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(srv.reqs[i].user_agent, USER_AGENT);
		ck_assert_str_eq(srv.reqs[i].path, "/ok");
	}

	server_stop(&srv); /* before its event base goes */
	ctx_free(&c);
}
END_TEST

START_TEST(http_default_path)
{
	struct ctx c;
	struct server srv;
	struct gslb_health_check hc = make_check(GSLB_CHECK_HTTP, NULL);

	ctx_init(&c, 0);
	ck_assert(server_start(&srv, c.base, "127.0.0.1"));
	gslb_health_check_now(add(&c, &hc, "127.0.0.1", srv.port, NULL, NULL));
	ctx_run(&c, 1, 3000);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(srv.n_reqs, 1);
	ck_assert_str_eq(srv.reqs[0].path, "/");
	ck_assert_str_eq(c.recs[0].res.error, "unexpected status code: 404");

	server_stop(&srv); /* before its event base goes */
	ctx_free(&c);
}
END_TEST

START_TEST(http_ipv6)
{
	struct ctx c;
	struct server srv;
	struct gslb_health_check hc = make_check(GSLB_CHECK_HTTP, "/ok");

	ctx_init(&c, 0);
	if (!server_start(&srv, c.base, "::1")) {
		fprintf(stderr, "http_ipv6: no ::1 here, skipped\n");
		ctx_free(&c);
		return;
	}
	gslb_health_check_now(add(&c, &hc, "::1", srv.port, NULL, NULL));
	gslb_health_check_now(
		add(&c, &hc, "::1", srv.port, "v6.example.test", &srv));
	ctx_run(&c, 2, 3000);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_msg(c.recs[0].res.pass, "%s", c.recs[0].res.error);
	ck_assert_msg(c.recs[1].res.pass, "%s", c.recs[1].res.error);

	server_stop(&srv); /* before its event base goes */
	ctx_free(&c);
}
END_TEST

START_TEST(http_refused)
{
	struct ctx c;
	struct gslb_health_check hc = make_check(GSLB_CHECK_HTTP, "/ok");
	const char *prefix = "request failed: ";

	ctx_init(&c, 0);
	gslb_health_check_now(
		add(&c, &hc, "127.0.0.1", closed_port(), NULL, NULL));
	ctx_run(&c, 1, 3000);
	ck_assert_uint_eq(c.n, 1);
	ck_assert(!c.recs[0].res.pass);
	ck_assert_int_eq(c.recs[0].res.http_status, 0);
	ck_assert_msg(strncmp(c.recs[0].res.error, prefix, strlen(prefix)) ==
				      0 &&
			      strlen(c.recs[0].res.error) > strlen(prefix),
		      "%s", c.recs[0].res.error);

	ctx_free(&c);
}
END_TEST

/* A server that accepts the connection and never answers. */
START_TEST(http_timeout)
{
	struct ctx c;
	struct gslb_health_check hc = make_check(GSLB_CHECK_HTTP, "/ok");
	uint16_t port;
	const int lfd = bound_socket(true, &port);

	hc.timeout = 300 * GSLB_MSEC;
	ctx_init(&c, 0);
	gslb_health_check_now(add(&c, &hc, "127.0.0.1", port, NULL, NULL));
	ctx_run(&c, 1, 3000);
	ck_assert_uint_eq(c.n, 1);
	ck_assert(!c.recs[0].res.pass);
	ck_assert_str_eq(c.recs[0].res.error, "timeout after 300ms");
	ck_assert_int_eq(c.recs[0].res.http_status, 0);
	ck_assert_int_ge(c.recs[0].res.latency, 290 * GSLB_MSEC);
	ck_assert_int_lt(c.recs[0].res.latency, 1500 * GSLB_MSEC);

	ctx_free(&c);
	close(lfd);
}
END_TEST

/* max_in_flight 1: checks wait their turn, in order; latency excludes it. */
START_TEST(http_queue)
{
	struct ctx c;
	struct gslb_health_check hc = make_check(GSLB_CHECK_HTTP, "/ok");
	uint16_t port;
	const int lfd = bound_socket(true, &port);
	int users[3];

	hc.timeout = 200 * GSLB_MSEC;
	ctx_init(&c, 1);
	const gslb_time_t start = gslb_clock_mono();
	for (size_t i = 0; i < 3; i++) {
		gslb_health_check_now(
			add(&c, &hc, "127.0.0.1", port, NULL, &users[i]));
	}
	ctx_run(&c, 3, 5000);
	ck_assert_uint_eq(c.n, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_ptr_eq(c.recs[i].user, &users[i]);
		ck_assert_str_eq(c.recs[i].res.error, "timeout after 200ms");
		ck_assert_int_lt(c.recs[i].res.latency, 1000 * GSLB_MSEC);
	}
	ck_assert_int_ge(c.recs[2].at - start, 3 * 190 * GSLB_MSEC);

	ctx_free(&c);
	close(lfd);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Scheduling and the life of targets                                       */

START_TEST(first_checks_at_start)
{
	struct ctx c;
	struct gslb_health_check hc = make_check(GSLB_CHECK_TCP, NULL);
	uint16_t ports[2];
	const int lfd0 = bound_socket(true, &ports[0]);
	const int lfd1 = bound_socket(true, &ports[1]);
	int users[2];

	hc.interval = GSLB_SEC;
	hc.timeout = 500 * GSLB_MSEC;
	ctx_init(&c, 0);
	const gslb_time_t start = gslb_clock_mono();
	add(&c, &hc, "127.0.0.1", ports[0], NULL, &users[0]);
	add(&c, &hc, "127.0.0.1", ports[1], NULL, &users[1]);
	ctx_run(&c, 2, 3000);
	ck_assert_uint_eq(c.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct rec *r = rec_of(&c, &users[i]);
		ck_assert_msg(r->res.pass, "%s", r->res.error);
		ck_assert_int_lt(r->at - start, 1200 * GSLB_MSEC);
	}
	ck_assert_uint_eq(gslb_health_count_checked(c.h), 2);

	ctx_free(&c);
	close(lfd0);
	close(lfd1);
}
END_TEST

/* Later checks come one interval apart. */
START_TEST(steady_interval)
{
	struct ctx c;
	struct gslb_health_check hc = make_check(GSLB_CHECK_TCP, NULL);
	uint16_t port;
	const int lfd = bound_socket(true, &port);

	hc.interval = GSLB_SEC;
	hc.timeout = 500 * GSLB_MSEC;
	ctx_init(&c, 0);
	add(&c, &hc, "127.0.0.1", port, NULL, NULL);
	ctx_run(&c, 3, 4500);
	ck_assert_uint_eq(c.n, 3);
	for (size_t i = 1; i < 3; i++) {
		const gslb_duration_t gap = c.recs[i].at - c.recs[i - 1].at;
		ck_assert_int_ge(gap, 800 * GSLB_MSEC);
		ck_assert_int_le(gap, 1200 * GSLB_MSEC);
	}

	ctx_free(&c);
	close(lfd);
}
END_TEST

/*
 * A slot that falls due while a check still runs is not lost: that check
 * starts when the running one ends. Here an extra check, asked for right
 * after the first result, runs over the next slot; each check times out
 * after 800 ms against a server that never answers. Were that slot
 * skipped, the next check would wait for the slot after it, and its
 * result would come 1.2 s after the extra check's instead of 0.8 s.
 */
START_TEST(slot_during_check_runs_after_it)
{
	struct ctx c;
	struct gslb_health_check hc = make_check(GSLB_CHECK_HTTP, "/ok");
	uint16_t port;
	const int lfd = bound_socket(true, &port);

	hc.interval = GSLB_SEC;
	hc.timeout = 800 * GSLB_MSEC;
	ctx_init(&c, 0);
	c.check_again_after_first = true;
	add(&c, &hc, "127.0.0.1", port, NULL, NULL);
	ctx_run(&c, 3, 6000);
	ck_assert_uint_eq(c.n, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(c.recs[i].res.error, "timeout after 800ms");
	}
	for (size_t i = 1; i < 3; i++) {
		const gslb_duration_t gap = c.recs[i].at - c.recs[i - 1].at;
		ck_assert_msg(gap >= 700 * GSLB_MSEC && gap < 1000 * GSLB_MSEC,
			      "result %zu came %lld ms after the one before", i,
			      (long long)(gap / GSLB_MSEC));
	}

	ctx_free(&c);
	close(lfd);
}
END_TEST

/*
 * The callback removes the target it reports and another one whose HTTP
 * check is still running: no crash, and no callback for either afterwards.
 */
START_TEST(remove_in_callback)
{
	struct ctx c;
	struct gslb_health_check tcp = make_check(GSLB_CHECK_TCP, NULL);
	struct gslb_health_check http = make_check(GSLB_CHECK_HTTP, "/ok");
	uint16_t open_port, silent_port;
	const int open_fd = bound_socket(true, &open_port);
	const int silent_fd = bound_socket(true, &silent_port);

	tcp.interval = GSLB_SEC;
	http.interval = GSLB_SEC;
	http.timeout = 800 * GSLB_MSEC;
	ctx_init(&c, 0);
	struct gslb_health_target *slow =
		add(&c, &http, "127.0.0.1", silent_port, NULL, NULL);
	gslb_health_check_now(slow);
	ctx_run(&c, 0, 100); /* the HTTP check is now waiting */
	ck_assert_uint_eq(c.n, 0);

	c.remove_in_cb = true;
	c.remove_also = slow;
	gslb_health_check_now(
		add(&c, &tcp, "127.0.0.1", open_port, NULL, NULL));
	ctx_run(&c, 0, 2500);
	ck_assert_uint_eq(c.n, 1);
	ck_assert(c.recs[0].res.pass);
	ck_assert_uint_eq(gslb_health_count(c.h), 0);
	ck_assert_uint_eq(gslb_health_count_checked(c.h), 0);

	ctx_free(&c);
	close(open_fd);
	close(silent_fd);
}
END_TEST

/* gslb_health_remove outside a callback, with a check running. */
START_TEST(remove_running)
{
	struct ctx c;
	struct gslb_health_check hc = make_check(GSLB_CHECK_HTTP, "/ok");
	uint16_t port;
	const int lfd = bound_socket(true, &port);

	hc.timeout = 300 * GSLB_MSEC;
	ctx_init(&c, 0);
	struct gslb_health_target *t =
		add(&c, &hc, "127.0.0.1", port, NULL, NULL);
	gslb_health_check_now(t);
	ctx_run(&c, 0, 100);
	gslb_health_remove(t);
	ctx_run(&c, 0, 600);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_uint_eq(gslb_health_count(c.h), 0);

	ctx_free(&c);
	close(lfd);
}
END_TEST

/* An update keeps counters and state; new thresholds apply. */
START_TEST(update_keeps_state)
{
	struct ctx c;
	struct gslb_health_info info;
	struct gslb_health_check hc = make_check(GSLB_CHECK_TCP, NULL);
	uint16_t port;
	const int lfd = bound_socket(true, &port);

	ctx_init(&c, 0);
	struct gslb_health_target *t =
		add(&c, &hc, "127.0.0.1", port, NULL, NULL);
	gslb_health_check_now(t);
	ctx_run(&c, 1, 3000);
	ck_assert_uint_eq(c.n, 1);
	ck_assert(!c.recs[0].changed);

	hc.success_threshold = 1;
	hc.interval = 20 * GSLB_SEC;
	ck_assert_int_eq(gslb_health_update(t, &hc, "new.example.test"), 0);
	gslb_health_get_info(t, &info);
	ck_assert_uint_eq(info.passes, 1);
	ck_assert_uint_eq(info.track.consecutive_successes, 1);
	ck_assert_uint_eq(gslb_health_count_checked(c.h), 1);

	gslb_health_check_now(t);
	ctx_run(&c, 2, 3000);
	ck_assert_uint_eq(c.n, 2);
	ck_assert(c.recs[1].changed);
	gslb_health_get_info(t, &info);
	ck_assert_uint_eq(info.passes, 2);
	ck_assert_int_eq(info.track.state, GSLB_HEALTH_HEALTHY);

	hc.interval = 0;
	ck_assert_int_eq(gslb_health_update(t, &hc, NULL), GSLB_EINVAL);

	ctx_free(&c);
	close(lfd);
}
END_TEST

/* Freeing the checker with checks running and queued: no callback. */
START_TEST(free_while_running)
{
	struct ctx c;
	struct gslb_health_check http = make_check(GSLB_CHECK_HTTP, "/ok");
	struct gslb_health_check tcp = make_check(GSLB_CHECK_TCP, NULL);
	uint16_t port;
	const int lfd = bound_socket(true, &port);

	ctx_init(&c, 1);
	gslb_health_check_now(add(&c, &http, "127.0.0.1", port, NULL, NULL));
	gslb_health_check_now(add(&c, &tcp, "127.0.0.1", port, NULL, NULL));
	ctx_run(&c, 0, 100);
	ck_assert_uint_eq(c.n, 0);
	ctx_free(&c);
	close(lfd);
}
END_TEST

START_TEST(add_invalid)
{
	struct ctx c;
	struct gslb_health_check hc = make_check(GSLB_CHECK_TCP, NULL);
	struct gslb_health_target *t = (struct gslb_health_target *)&hc;
	struct gslb_ip ip;

	ctx_init(&c, 0);
	ck_assert_int_eq(gslb_ip_parse("127.0.0.1", &ip), 0);
	ck_assert_int_eq(gslb_health_add(c.h, &hc, &ip, 0, NULL, NULL, &t),
			 GSLB_EINVAL);
	ck_assert_ptr_null(t);
	hc.interval = 0;
	ck_assert_int_eq(gslb_health_add(c.h, &hc, &ip, 80, NULL, NULL, &t),
			 GSLB_EINVAL);
	ck_assert_uint_eq(gslb_health_count(c.h), 0);
	ctx_free(&c);
	gslb_health_free(NULL);
}
END_TEST

static Suite *health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc;

	tc = tcase_create("track");
	tcase_add_test(tc, state_names);
	tcase_add_test(tc, track_original_sequence);
	tcase_add_test(tc, track_unknown_failure_first);
	tcase_add_test(tc, track_thresholds_one);
	suite_add_tcase(s, tc);

	tc = tcase_create("tcp");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, tcp_pass);
	tcase_add_test(tc, tcp_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("http");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, http_status_and_body);
	tcase_add_test(tc, http_headers);
	tcase_add_test(tc, http_default_path);
	tcase_add_test(tc, http_ipv6);
	tcase_add_test(tc, http_refused);
	tcase_add_test(tc, http_timeout);
	tcase_add_test(tc, http_queue);
	suite_add_tcase(s, tc);

	tc = tcase_create("schedule");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, first_checks_at_start);
	tcase_add_test(tc, steady_interval);
	tcase_add_test(tc, slot_during_check_runs_after_it);
	tcase_add_test(tc, remove_in_callback);
	tcase_add_test(tc, remove_running);
	tcase_add_test(tc, update_keeps_state);
	tcase_add_test(tc, free_while_running);
	tcase_add_test(tc, add_invalid);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(health_suite());

	srunner_run_all(sr, CK_NORMAL);
	const int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
