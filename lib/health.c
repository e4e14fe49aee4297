/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <event2/event.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curl_dl.h"
#include "error.h"
#include "health.h"
#include "http1.h"
#include "log.h"

#define SUBSYS "health"

#define DEFAULT_MAX_IN_FLIGHT 1024
/* Idle easy handles kept for reuse; more are created and freed as needed. */
#define POOL_MAX 128
/* Body bytes read per check; the rest of a larger body is not waited for. */
#define BODY_MAX (64 * 1024)
/* The first checks of targets are spread over this much time at most. */
#define FIRST_SPREAD GSLB_SEC
/*
 * Plain HTTP checks keep their connection for the next check, but not for
 * longer than this: a backend that stops accepting connections is noticed
 * within this time even while an old connection still answers.
 */
#define CONN_MAX_AGE (30 * GSLB_SEC)
/* File descriptors left for everything else when keeping connections. */
#define FD_RESERVE 1024
/*
 * libevent measures timers with a coarse clock, so they may fire a few
 * milliseconds before our own monotonic clock says they are due.
 */
#define EARLY_SLOP (5 * GSLB_MSEC)

/* One check in flight; exists only while the check runs. */
struct run {
	struct gslb_health_target *t;
	enum gslb_check_type type;
	gslb_time_t started; /* monotonic */
	gslb_duration_t timeout;

	/* https (libcurl); the body fields serve plain http too */
	CURL *easy;
	bool in_multi;
	struct curl_slist *connect_to;
	struct curl_slist *headers;
	char *expected_body; /* as when the check started; NULL = any */
	char *body;          /* kept only when expected_body is set */
	size_t body_len;     /* bytes received, kept or not */
	size_t body_cap;
	bool body_capped; /* stopped reading at BODY_MAX */
	char errbuf[CURL_ERROR_SIZE];

	/* tcp, and http through our own client */
	int fd;
	struct event *ev;
	int immediate_err; /* connect() failed at once with this errno */

	/* http: our own client (https goes through libcurl) */
	bool connected;
	bool reused;        /* on a connection kept from an earlier check */
	bool got_response;  /* some of the response has arrived */
	gslb_time_t opened; /* monotonic: when the connection was made */
	char *request;
	size_t request_len;
	size_t request_sent;
	struct http1_response resp;
};

/* A socket libcurl asked us to watch. */
struct sock {
	struct sock *prev, *next;
	struct event *ev;
	int what; /* CURL_POLL_* */
};

struct gslb_health_target {
	struct gslb_health *h;
	struct gslb_health_target *prev, *next;   /* all targets */
	struct gslb_health_target *qprev, *qnext; /* waiting for a slot */
	bool queued;
	bool run_requested; /* gslb_health_check_now() */
	bool slot_missed;   /* a slot fell due while a check still ran */
	bool checked;       /* at least one check completed */

	struct gslb_health_check hc;
	char *host; /* given to add/update; overrides hc.host */
	struct gslb_ip ip;
	uint16_t port;
	void *user;

	int conn_fd;             /* http: kept-alive connection, -1 = none */
	gslb_time_t conn_opened; /* monotonic */

	uint64_t hash;   /* of ip:port: the phase of the schedule */
	gslb_time_t due; /* monotonic: the next slot */
	struct event *timer;
	struct run *run;

	struct gslb_health_track track;
	uint64_t passes;
	uint64_t failures;
	gslb_time_t last_check;   /* wall clock */
	gslb_time_t last_healthy; /* wall clock */
	gslb_duration_t last_latency;
	char last_error[sizeof(((struct gslb_check_result *)0)->error)];
};

struct gslb_health {
	struct event_base *base;
	CURLM *multi;
	struct event *curl_timer;
	char *user_agent;
	gslb_health_cb cb;
	void *arg;

	size_t max_in_flight;
	size_t in_flight;
	size_t n_kept;   /* connections kept between checks */
	size_t max_kept; /* as the open-files limit allows */
	struct gslb_health_target *targets;
	size_t n_targets;
	size_t n_checked;
	struct gslb_health_target *qhead, *qtail;

	bool curl_ready;       /* curl_global_init() done */
	const char *system_ca; /* the system's CA bundle file, if found */
	CURL **pool;
	size_t n_pool;
	size_t pool_cap;
	struct sock *socks;
};

static void pump(struct gslb_health *h);

/* ------------------------------------------------------------------------ */
/* State machine                                                            */

const char *gslb_health_state_name(enum gslb_health_state state)
{
	switch (state) {
	case GSLB_HEALTH_HEALTHY:
		return "healthy";
	case GSLB_HEALTH_UNHEALTHY:
		return "unhealthy";
	case GSLB_HEALTH_UNKNOWN:
	default:
		return "unknown";
	}
}

bool gslb_health_track_result(struct gslb_health_track *t, bool pass,
			      unsigned failure_threshold,
			      unsigned success_threshold)
{
	const enum gslb_health_state before = t->state;

	/* A threshold of 0 would mean "before any result": treat it as 1. */
	if (failure_threshold == 0) {
		failure_threshold = 1;
	}
	if (success_threshold == 0) {
		success_threshold = 1;
	}
	if (pass) {
		t->consecutive_failures = 0;
		if (t->consecutive_successes < UINT_MAX) {
			t->consecutive_successes++;
		}
		if (t->consecutive_successes >= success_threshold) {
			t->state = GSLB_HEALTH_HEALTHY;
		}
	} else {
		t->consecutive_successes = 0;
		if (t->consecutive_failures < UINT_MAX) {
			t->consecutive_failures++;
		}
		if (t->consecutive_failures >= failure_threshold) {
			t->state = GSLB_HEALTH_UNHEALTHY;
		}
	}
	return t->state != before;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static void set_error(struct gslb_check_result *res, const char *fmt, ...)
	GSLB_PRINTF(2, 3);

static void set_error(struct gslb_check_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	res->pass = false;
}

/* "2s", "300ms", "1.5s": as the config writes durations. */
static void format_duration(char *buf, size_t size, gslb_duration_t d)
{
	const long long ms = (long long)(d / GSLB_MSEC);
	if (ms < 1000) {
		snprintf(buf, size, "%lldms", ms);
		return;
	}
	int n = snprintf(buf, size, "%lld.%03lld", ms / 1000, ms % 1000);
	if (n < 0 || (size_t)n >= size - 1) {
		return;
	}
	while (buf[n - 1] == '0') {
		n--;
	}
	if (buf[n - 1] == '.') {
		n--;
	}
	buf[n] = 's';
	buf[n + 1] = '\0';
}

static void set_timeout_error(struct gslb_check_result *res,
			      gslb_duration_t timeout)
{
	char dur[32];
	format_duration(dur, sizeof(dur), timeout);
	set_error(res, "timeout after %s", dur);
}

static int dup_str(const char *src, char **dst)
{
	*dst = NULL;
	if (src == NULL) {
		return GSLB_EOK;
	}
	*dst = strdup(src);
	return *dst == NULL ? GSLB_ENOMEM : GSLB_EOK;
}

static void hc_clear(struct gslb_health_check *hc)
{
	free(hc->path);
	free(hc->host);
	free(hc->expected_status);
	free(hc->expected_body);
	free(hc->tls_ca_file);
	memset(hc, 0, sizeof(*hc));
}

static int hc_copy(struct gslb_health_check *dst,
		   const struct gslb_health_check *src)
{
	*dst = *src;
	dst->path = NULL;
	dst->host = NULL;
	dst->expected_status = NULL;
	dst->n_expected_status = 0;
	dst->expected_body = NULL;
	dst->tls_ca_file = NULL;

	if (dup_str(src->path, &dst->path) != 0 ||
	    dup_str(src->host, &dst->host) != 0 ||
	    dup_str(src->expected_body, &dst->expected_body) != 0 ||
	    dup_str(src->tls_ca_file, &dst->tls_ca_file) != 0) {
		hc_clear(dst);
		return GSLB_ENOMEM;
	}
	if (src->expected_status != NULL && src->n_expected_status > 0) {
		const size_t size =
			src->n_expected_status * sizeof(*src->expected_status);
		dst->expected_status = malloc(size);
		if (dst->expected_status == NULL) {
			hc_clear(dst);
			return GSLB_ENOMEM;
		}
		memcpy(dst->expected_status, src->expected_status, size);
		dst->n_expected_status = src->n_expected_status;
	}
	return GSLB_EOK;
}

static bool hc_valid(const struct gslb_health_check *hc)
{
	return hc->interval > 0 && hc->timeout > 0 &&
	       (hc->type == GSLB_CHECK_HTTP || hc->type == GSLB_CHECK_HTTPS ||
		hc->type == GSLB_CHECK_TCP);
}

static const char *target_host(const struct gslb_health_target *t)
{
	const char *host = t->host != NULL ? t->host : t->hc.host;
	return host != NULL && host[0] != '\0' ? host : NULL;
}

/* ------------------------------------------------------------------------ */
/* Scheduling                                                               */

static uint64_t target_hash(const struct gslb_ip *ip, uint16_t port)
{
	const uint64_t prime = 0x100000001b3ULL;
	uint64_t x = 0xcbf29ce484222325ULL;

	for (unsigned i = 0; i < gslb_ip_len(ip); i++) {
		x = (x ^ ip->addr[i]) * prime;
	}
	x = (x ^ (port >> 8)) * prime;
	x = (x ^ (port & 0xff)) * prime;
	/* FNV alone leaves the low bits weak, and we take it modulo. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static gslb_duration_t pos_mod(gslb_duration_t a, gslb_duration_t m)
{
	const gslb_duration_t r = a % m;
	return r < 0 ? r + m : r;
}

/* The first instant after x that falls on the target's phase. */
static gslb_time_t phase_after(const struct gslb_health_target *t,
			       gslb_time_t x)
{
	const gslb_duration_t interval = t->hc.interval;
	const gslb_duration_t phase =
		(gslb_duration_t)(t->hash % (uint64_t)interval);
	return x - pos_mod(x - phase, interval) + interval;
}

/* The first check: at or after now, spread over FIRST_SPREAD at most. */
static gslb_time_t first_due(const struct gslb_health_target *t,
			     gslb_time_t now)
{
	const gslb_duration_t spread =
		t->hc.interval < FIRST_SPREAD ? t->hc.interval : FIRST_SPREAD;
	const gslb_duration_t phase =
		(gslb_duration_t)(t->hash % (uint64_t)spread);
	return now + pos_mod(phase - now, spread);
}

static void arm(struct gslb_health_target *t, gslb_duration_t delay)
{
	if (delay < 0) {
		delay = 0;
	}
	const int64_t usec = (delay + GSLB_USEC - 1) / GSLB_USEC;
	struct timeval tv = {
		.tv_sec = (time_t)(usec / 1000000),
		.tv_usec = (suseconds_t)(usec % 1000000),
	};
	if (evtimer_add(t->timer, &tv) != 0) {
		log_error(SUBSYS, "cannot schedule a health check timer");
	}
}

static void enqueue(struct gslb_health_target *t)
{
	struct gslb_health *h = t->h;
	t->qnext = NULL;
	t->qprev = h->qtail;
	if (h->qtail != NULL) {
		h->qtail->qnext = t;
	} else {
		h->qhead = t;
	}
	h->qtail = t;
	t->queued = true;
}

static void dequeue(struct gslb_health_target *t)
{
	struct gslb_health *h = t->h;
	if (!t->queued) {
		return;
	}
	if (t->qprev != NULL) {
		t->qprev->qnext = t->qnext;
	} else {
		h->qhead = t->qnext;
	}
	if (t->qnext != NULL) {
		t->qnext->qprev = t->qprev;
	} else {
		h->qtail = t->qprev;
	}
	t->qprev = NULL;
	t->qnext = NULL;
	t->queued = false;
}

/* ------------------------------------------------------------------------ */
/* Checks: common part                                                      */

static CURL *easy_get(struct gslb_health *h)
{
	if (h->n_pool > 0) {
		return h->pool[--h->n_pool];
	}
	return gslb_curl.easy_init();
}

static void easy_put(struct gslb_health *h, CURL *easy)
{
	if (h->n_pool < h->pool_cap) {
		gslb_curl.easy_reset(easy);
		h->pool[h->n_pool++] = easy;
	} else {
		gslb_curl.easy_cleanup(easy);
	}
}

/* Frees r and everything it holds; no callback. */
static void run_release(struct gslb_health *h, struct run *r)
{
	if (r->easy != NULL) {
		if (r->in_multi) {
			gslb_curl.multi_remove_handle(h->multi, r->easy);
		}
		easy_put(h, r->easy);
	}
	/* Only https runs have these, and libcurl is loaded for them. */
	if (r->connect_to != NULL) {
		gslb_curl.slist_free_all(r->connect_to);
	}
	if (r->headers != NULL) {
		gslb_curl.slist_free_all(r->headers);
	}
	free(r->expected_body);
	free(r->body);
	free(r->request);
	if (r->ev != NULL) {
		event_free(r->ev);
	}
	if (r->fd >= 0) {
		close(r->fd);
	}
	free(r);
}

static void run_cancel(struct gslb_health_target *t)
{
	t->slot_missed = false;
	if (t->run != NULL) {
		run_release(t->h, t->run);
		t->run = NULL;
		t->h->in_flight--;
	}
}

/* Records the result in the target; true when its state changed. */
static bool record(struct gslb_health_target *t,
		   const struct gslb_check_result *res)
{
	const gslb_time_t wall = gslb_clock_wall();

	t->last_check = wall;
	t->last_latency = res->latency;
	if (res->pass) {
		t->passes++;
		t->last_healthy = wall;
		t->last_error[0] = '\0';
	} else {
		t->failures++;
		snprintf(t->last_error, sizeof(t->last_error), "%s",
			 res->error);
	}
	if (!t->checked) {
		t->checked = true;
		t->h->n_checked++;
	}
	return gslb_health_track_result(&t->track, res->pass,
					t->hc.failure_threshold,
					t->hc.success_threshold);
}

/* Ends r with res: records it, frees r, then tells the caller. */
static void finish(struct run *r, struct gslb_check_result *res)
{
	struct gslb_health_target *t = r->t;
	struct gslb_health *h = t->h;

	res->latency = gslb_clock_mono() - r->started;
	if (res->pass) {
		res->error[0] = '\0';
	}
	t->run = NULL;
	h->in_flight--;
	run_release(h, r);

	const bool changed = record(t, res);
	if (t->slot_missed) {
		/* The check that fell due meanwhile runs now, through the
		 * loop (a callback that removes t frees the timer too). */
		t->slot_missed = false;
		t->run_requested = true;
		event_active(t->timer, EV_TIMEOUT, 1);
	}
	if (h->cb != NULL) {
		h->cb(t, res, changed, h->arg);
	}
	/* The callback may have removed t: only h from here on. */
	pump(h);
}

/* ------------------------------------------------------------------------ */
/* TCP                                                                      */

static void tcp_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct gslb_check_result res;
	int err = r->immediate_err;
	char buf[128];

	memset(&res, 0, sizeof(res));
	if (err == 0 && (what & EV_TIMEOUT)) {
		set_timeout_error(&res, r->timeout);
		finish(r, &res);
		return;
	}
	if (err == 0) {
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
			err = errno;
		}
	}
	if (err == 0) {
		res.pass = true;
	} else {
		set_error(&res, "tcp connect failed: %s",
			  strerror_r(err, buf, sizeof(buf)));
	}
	finish(r, &res);
}

/* A non-blocking connect of a new socket to r's target; a failure that
 * shows at once is kept in r->immediate_err. */
static int run_connect(struct run *r)
{
	struct gslb_sockaddr sa;
	int ret = gslb_sockaddr_from_ip(&r->t->ip, r->t->port, &sa);
	if (ret != GSLB_EOK) {
		return ret;
	}
	r->fd = socket(sa.ss.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		r->immediate_err = errno;
	} else if (connect(r->fd, (const struct sockaddr *)&sa.ss, sa.len) !=
			   0 &&
		   errno != EINPROGRESS) {
		r->immediate_err = errno;
	}
	return GSLB_EOK;
}

/* Waits for what on r's socket, then calls cb; the check's deadline bounds
 * the wait. */
static int run_wait(struct gslb_health *h, struct run *r, short what,
		    event_callback_fn cb)
{
	if (r->ev != NULL) {
		event_free(r->ev);
	}
	r->ev = event_new(h->base, r->fd, what, cb, r);
	if (r->ev == NULL) {
		return GSLB_ENOMEM;
	}
	/* Even an immediate failure is reported from the loop, never from
	 * inside the caller's call into us. */
	if (r->immediate_err != 0) {
		event_active(r->ev, what, 1);
		return GSLB_EOK;
	}
	gslb_duration_t left = r->started + r->timeout - gslb_clock_mono();
	if (left < 0) {
		left = 0;
	}
	const int64_t usec = left / GSLB_USEC;
	struct timeval tv = {
		.tv_sec = (time_t)(usec / 1000000),
		.tv_usec = (suseconds_t)(usec % 1000000),
	};
	return event_add(r->ev, &tv) == 0 ? GSLB_EOK : GSLB_ENOMEM;
}

static int tcp_start(struct gslb_health *h, struct run *r)
{
	int ret = run_connect(r);
	return ret == GSLB_EOK ? run_wait(h, r, EV_WRITE, tcp_event_cb) : ret;
}

/* ------------------------------------------------------------------------ */
/* HTTPS, through libcurl (and the pass rule plain HTTP shares)            */

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct run *r = arg;
	const size_t n = size * nmemb;
	size_t take = BODY_MAX - r->body_len;

	if (take > n) {
		take = n;
	}
	if (r->expected_body != NULL && take > 0) {
		if (r->body_len + take > r->body_cap) {
			size_t cap = r->body_cap < 4096 ? 4096 : r->body_cap;
			while (cap < r->body_len + take) {
				cap *= 2;
			}
			if (cap > BODY_MAX) {
				cap = BODY_MAX;
			}
			char *body = realloc(r->body, cap);
			if (body == NULL) {
				return 0; /* aborts the transfer */
			}
			r->body = body;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, data, take);
	}
	r->body_len += take;
	if (take < n) {
		/* A short count makes libcurl stop with CURLE_WRITE_ERROR. */
		r->body_capped = true;
	}
	return take;
}

static bool status_expected(const struct gslb_health_check *hc, long status)
{
	if (hc->n_expected_status == 0) {
		return status >= 200 && status <= 299;
	}
	for (size_t i = 0; i < hc->n_expected_status; i++) {
		if (status >= hc->expected_status[i].first &&
		    status <= hc->expected_status[i].last) {
			return true;
		}
	}
	return false;
}

static bool body_contains(const struct run *r)
{
	const size_t len = strlen(r->expected_body);
	if (len == 0) {
		return true;
	}
	return r->body != NULL &&
	       memmem(r->body, r->body_len, r->expected_body, len) != NULL;
}

static void http_done(struct run *r, CURLcode code)
{
	struct gslb_check_result res;
	long status = 0;

	memset(&res, 0, sizeof(res));
	if (gslb_curl.easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status) !=
	    CURLE_OK) {
		status = 0;
	}
	res.http_status = (int)status;

	if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && r->body_capped)) {
		if (!status_expected(&r->t->hc, status)) {
			set_error(&res, "unexpected status code: %ld", status);
		} else if (r->expected_body != NULL && !body_contains(r)) {
			set_error(&res, "body does not contain \"%s\"",
				  r->expected_body);
		} else {
			res.pass = true;
		}
	} else if (code == CURLE_OPERATION_TIMEDOUT) {
		set_timeout_error(&res, r->timeout);
	} else {
		size_t len = strlen(r->errbuf);
		while (len > 0 && r->errbuf[len - 1] == '\n') {
			r->errbuf[--len] = '\0';
		}
		set_error(&res, "request failed: %s",
			  len > 0 ? r->errbuf : gslb_curl.easy_strerror(code));
	}
	finish(r, &res);
}

/* Hands every finished transfer to http_done(). */
static void multi_drain(struct gslb_health *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = gslb_curl.multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE) {
			continue;
		}
		/* msg dies with the handle's removal: copy first. */
		const CURLcode code = msg->data.result;
		CURL *easy = msg->easy_handle;
		struct run *r = NULL;
		if (gslb_curl.easy_getinfo(easy, CURLINFO_PRIVATE, &r) !=
			    CURLE_OK ||
		    r == NULL) {
			log_error(SUBSYS, "finished transfer without a check");
			gslb_curl.multi_remove_handle(h->multi, easy);
			continue;
		}
		http_done(r, code);
	}
}

static void multi_action(struct gslb_health *h, curl_socket_t s, int action)
{
	int running = 0;
	const CURLMcode rc =
		gslb_curl.multi_socket_action(h->multi, s, action, &running);
	if (rc != CURLM_OK) {
		log_error(SUBSYS, "curl_multi_socket_action: %s",
			  gslb_curl.multi_strerror(rc));
	}
	multi_drain(h);
}

static void sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	const int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
			   ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	multi_action(arg, fd, action);
}

static void curl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	multi_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void sock_free(struct gslb_health *h, struct sock *sk)
{
	if (sk->prev != NULL) {
		sk->prev->next = sk->next;
	} else {
		h->socks = sk->next;
	}
	if (sk->next != NULL) {
		sk->next->prev = sk->prev;
	}
	if (sk->ev != NULL) {
		event_free(sk->ev);
	}
	free(sk);
}

/* libcurl tells which sockets to watch for what (CURLMOPT_SOCKETFUNCTION). */
static int multi_socket_cb(CURL *easy, curl_socket_t s, int what, void *arg,
			   void *sockp)
{
	struct gslb_health *h = arg;
	struct sock *sk = sockp;

	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			sock_free(h, sk);
		}
		return 0;
	}
	if (sk == NULL) {
		sk = calloc(1, sizeof(*sk));
		if (sk == NULL) {
			log_error(SUBSYS, "out of memory watching a socket");
			return -1;
		}
		sk->next = h->socks;
		if (h->socks != NULL) {
			h->socks->prev = sk;
		}
		h->socks = sk;
		gslb_curl.multi_assign(h->multi, s, sk);
	} else if (sk->what == what) {
		return 0;
	}
	if (sk->ev != NULL) {
		event_free(sk->ev);
	}
	const short events = ((what & CURL_POLL_IN) ? EV_READ : 0) |
			     ((what & CURL_POLL_OUT) ? EV_WRITE : 0) |
			     EV_PERSIST;
	sk->what = what;
	sk->ev = event_new(h->base, s, events, sock_event_cb, h);
	if (sk->ev == NULL || event_add(sk->ev, NULL) != 0) {
		log_error(SUBSYS, "cannot watch a socket for libcurl");
		return -1;
	}
	return 0;
}

/* libcurl's one timeout (CURLMOPT_TIMERFUNCTION). */
static int multi_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct gslb_health *h = arg;

	if (timeout_ms < 0) {
		evtimer_del(h->curl_timer);
		return 0;
	}
	/* Even a 0 timeout goes through the loop: libcurl must not be
	 * re-entered from its own callback. */
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};
	return evtimer_add(h->curl_timer, &tv) == 0 ? 0 : -1;
}

/* "[2001:db8::1]" or "192.0.2.1", as a URL writes a host. */
static void url_host(char *buf, size_t size, const char *host)
{
	if (strchr(host, ':') != NULL && host[0] != '[') {
		snprintf(buf, size, "[%s]", host);
	} else {
		snprintf(buf, size, "%s", host);
	}
}

static int https_setup(struct gslb_health *h, struct run *r, const char *url)
{
	const struct gslb_health_check *hc = &r->t->hc;
	const long timeout_ms =
		(long)((r->timeout + GSLB_MSEC - 1) / GSLB_MSEC);
	CURL *e = r->easy;
	bool bad = false;

	bad |= gslb_curl.easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_PRIVATE, r) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) !=
	       CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb) !=
	       CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	/* Every check a new connection and handshake: a reused one would
	 * hide a backend that no longer accepts connections, and a TLS
	 * session that no longer verifies. */
	bad |= gslb_curl.easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) !=
	       CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
				     timeout_ms) != CURLE_OK;
	/* Addresses are literals: caching them only makes libcurl scan a
	 * cache the size of all targets on every connection. */
	bad |= gslb_curl.easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L) !=
	       CURLE_OK;
	/* The environment's http_proxy must not reroute health checks. */
	bad |= gslb_curl.easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= gslb_curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	       CURLE_OK;
#else
	bad |= gslb_curl.easy_setopt(
		       e, CURLOPT_PROTOCOLS,
		       (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
#endif
	if (h->user_agent != NULL) {
		bad |= gslb_curl.easy_setopt(e, CURLOPT_USERAGENT,
					     h->user_agent) != CURLE_OK;
	}
	if (r->connect_to != NULL) {
		bad |= gslb_curl.easy_setopt(e, CURLOPT_CONNECT_TO,
					     r->connect_to) != CURLE_OK;
	}
	if (r->headers != NULL) {
		bad |= gslb_curl.easy_setopt(e, CURLOPT_HTTPHEADER,
					     r->headers) != CURLE_OK;
	}
	const long verify = hc->tls_skip_verify ? 0L : 1L;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify) !=
	       CURLE_OK;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify * 2L) !=
	       CURLE_OK;
	/* A resumed session would skip the certificate check. */
	bad |= gslb_curl.easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L) !=
	       CURLE_OK;
	/*
	 * libcurl with GnuTLS reads its trust store for every
	 * connection, and Debian's default is the directory
	 * /etc/ssl/certs: some 60 ms of CPU per check. Read one file
	 * (the operator's, or the system bundle), or nothing when
	 * nothing is verified.
	 */
	const char *ca = hc->tls_skip_verify       ? NULL
			 : hc->tls_ca_file != NULL ? hc->tls_ca_file
						   : h->system_ca;
	bad |= gslb_curl.easy_setopt(e, CURLOPT_CAINFO, ca) != CURLE_OK;
	if (ca != NULL || hc->tls_skip_verify) {
		bad |= gslb_curl.easy_setopt(e, CURLOPT_CAPATH, NULL) !=
		       CURLE_OK;
	}
	return bad ? GSLB_ENOMEM : GSLB_EOK;
}

static int curl_setup(struct gslb_health *h);

static int https_start(struct gslb_health *h, struct run *r)
{
	const struct gslb_health_target *t = r->t;
	const char *path =
		t->hc.path != NULL && t->hc.path[0] != '\0' ? t->hc.path : "/";
	const char *slash = path[0] == '/' ? "" : "/";
	const char *host = target_host(t);
	char ip[GSLB_IP_STRLEN];
	char addr[GSLB_IP_STRLEN + 2];
	char *url = NULL;
	char *line = NULL;
	int ret = curl_setup(h);

	if (ret != GSLB_EOK) {
		return ret;
	}
	ret = GSLB_ENOMEM;
	url_host(addr, sizeof(addr), gslb_ip_format(&t->ip, ip));
	if (t->hc.expected_body != NULL) {
		r->expected_body = strdup(t->hc.expected_body);
		if (r->expected_body == NULL) {
			return GSLB_ENOMEM;
		}
	}
	r->easy = easy_get(h);
	if (r->easy == NULL) {
		return GSLB_ENOMEM;
	}

	if (host == NULL) {
		if (asprintf(&url, "https://%s:%u%s%s", addr, t->port, slash,
			     path) < 0) {
			return GSLB_ENOMEM;
		}
	} else {
		/* The name in the URL gives the Host header, SNI and the
		 * certificate name; CONNECT_TO sends it to the address. */
		const size_t size = strlen(host) + 3;
		char *name = malloc(size);
		if (name == NULL) {
			return GSLB_ENOMEM;
		}
		url_host(name, size, host);
		if (asprintf(&url, "https://%s:%u%s%s", name, t->port, slash,
			     path) < 0) {
			url = NULL;
		}
		if (url != NULL && asprintf(&line, "%s:%u:%s:%u", name, t->port,
					    addr, t->port) >= 0) {
			r->connect_to = gslb_curl.slist_append(NULL, line);
			free(line);
		}
		/* As the original sends it: the name alone, no port. */
		if (r->connect_to != NULL &&
		    asprintf(&line, "Host: %s", name) >= 0) {
			r->headers = gslb_curl.slist_append(NULL, line);
			free(line);
		}
		free(name);
		if (r->headers == NULL) {
			free(url);
			return GSLB_ENOMEM;
		}
	}

	ret = https_setup(h, r, url);
	free(url);
	if (ret != GSLB_EOK) {
		return ret;
	}
	const CURLMcode rc = gslb_curl.multi_add_handle(h->multi, r->easy);
	if (rc != CURLM_OK) {
		log_error(SUBSYS, "curl_multi_add_handle: %s",
			  gslb_curl.multi_strerror(rc));
		return GSLB_ENOMEM;
	}
	r->in_multi = true;
	return GSLB_EOK;
}

/* ------------------------------------------------------------------------ */
/* Plain HTTP: our own client, which keeps the connection between checks   */

/*
 * libcurl looks through every cached connection on each transfer, which
 * with thousands of kept connections costs more than the check. Plain HTTP
 * is simple enough to speak directly; https stays with libcurl.
 */

static void conn_drop(struct gslb_health_target *t)
{
	if (t->conn_fd >= 0) {
		close(t->conn_fd);
		t->conn_fd = -1;
		t->h->n_kept--;
	}
}

static void native_body_cb(const uint8_t *data, size_t len, void *arg)
{
	http_write_cb((char *)data, 1, len, arg);
}

static int native_wait(struct gslb_health *h, struct run *r, short what);

/* A new connection for r; errors are reported by the loop. */
static int native_connect(struct gslb_health *h, struct run *r)
{
	r->connected = false;
	r->reused = false;
	r->opened = gslb_clock_mono();
	int ret = run_connect(r);
	return ret == GSLB_EOK ? native_wait(h, r, EV_WRITE) : ret;
}

/* The kept connection was closed by the backend: retry on a new one. */
static bool native_retry(struct gslb_health *h, struct run *r)
{
	if (!r->reused || r->got_response) {
		return false;
	}
	event_free(r->ev);
	r->ev = NULL;
	close(r->fd);
	r->fd = -1;
	r->request_sent = 0;
	return native_connect(h, r) == GSLB_EOK;
}

/* Fails the check with "what: detail". */
static void native_fail(struct run *r, const char *what, const char *detail)
{
	struct gslb_check_result res;
	memset(&res, 0, sizeof(res));
	set_error(&res, "%s: %s", what, detail);
	finish(r, &res);
}

/* Waits for what on r's socket, or fails the check if it cannot. */
static void native_rearm(struct gslb_health *h, struct run *r, short what)
{
	if (native_wait(h, r, what) != GSLB_EOK) {
		native_fail(r, "request failed", "out of memory");
	}
}

/* The response is complete (or long enough to judge): decide. */
static void native_done(struct run *r)
{
	struct gslb_health_target *t = r->t;
	struct gslb_health *h = t->h;
	struct gslb_check_result res;

	memset(&res, 0, sizeof(res));
	res.http_status = r->resp.status;
	if (!status_expected(&t->hc, r->resp.status)) {
		set_error(&res, "unexpected status code: %d", r->resp.status);
	} else if (r->expected_body != NULL && !body_contains(r)) {
		set_error(&res, "body does not contain \"%s\"",
			  r->expected_body);
	} else {
		res.pass = true;
	}
	if (r->resp.state == HTTP1_DONE && r->resp.keep_alive &&
	    !r->body_capped && h->n_kept < h->max_kept &&
	    gslb_clock_mono() - r->opened < CONN_MAX_AGE) {
		/* finish() must not close it: the target keeps it. */
		conn_drop(t);
		t->conn_fd = r->fd;
		t->conn_opened = r->opened;
		h->n_kept++;
		r->fd = -1;
	}
	finish(r, &res);
}

static void native_read(struct gslb_health *h, struct run *r)
{
	uint8_t buf[16384];
	char err[128];

	for (;;) {
		const ssize_t n = recv(r->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EAGAIN) {
			native_rearm(h, r, EV_READ);
			return;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			const int e = n < 0 ? errno : 0;
			if (native_retry(h, r)) {
				return;
			}
			if (n == 0 && http1_eof(&r->resp)) {
				native_done(r);
				return;
			}
			native_fail(r, "request failed",
				    e != 0 ? strerror_r(e, err, sizeof(err))
					   : r->resp.error);
			return;
		}
		r->got_response = true;
		http1_feed(&r->resp, buf, (size_t)n, native_body_cb, r);
		if (r->resp.state == HTTP1_ERROR) {
			native_fail(r, "invalid response", r->resp.error);
			return;
		}
		if (r->resp.state == HTTP1_DONE || r->body_capped) {
			native_done(r);
			return;
		}
	}
}

static void native_write(struct gslb_health *h, struct run *r)
{
	char err[128];

	while (r->request_sent < r->request_len) {
		const ssize_t n =
			send(r->fd, r->request + r->request_sent,
			     r->request_len - r->request_sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			native_rearm(h, r, EV_WRITE);
			return;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			const int e = errno;
			if (!native_retry(h, r)) {
				native_fail(r, "request failed",
					    strerror_r(e, err, sizeof(err)));
			}
			return;
		}
		r->request_sent += (size_t)n;
	}
	native_read(h, r);
}

static void native_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct gslb_health *h = r->t->h;
	char err[128];
	int e = r->immediate_err;

	if (e == 0 && (what & EV_TIMEOUT)) {
		struct gslb_check_result res;
		memset(&res, 0, sizeof(res));
		set_timeout_error(&res, r->timeout);
		finish(r, &res);
		return;
	}
	if (!r->connected) {
		if (e == 0) {
			socklen_t len = sizeof(e);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) !=
			    0) {
				e = errno;
			}
		}
		if (e != 0) {
			native_fail(r, "request failed: connect",
				    strerror_r(e, err, sizeof(err)));
			return;
		}
		r->connected = true;
	}
	if (r->request_sent < r->request_len) {
		native_write(h, r);
	} else {
		native_read(h, r);
	}
}

static int native_wait(struct gslb_health *h, struct run *r, short what)
{
	return run_wait(h, r, what, native_event_cb);
}

static int native_start(struct gslb_health *h, struct run *r)
{
	struct gslb_health_target *t = r->t;
	const char *path =
		t->hc.path != NULL && t->hc.path[0] != '\0' ? t->hc.path : "/";
	const char *slash = path[0] == '/' ? "" : "/";
	const char *host = target_host(t);
	char ip[GSLB_IP_STRLEN];
	char addr[GSLB_IP_STRLEN + 2];
	char hostport[GSLB_IP_STRLEN + 8];

	if (host == NULL) {
		url_host(addr, sizeof(addr), gslb_ip_format(&t->ip, ip));
		snprintf(hostport, sizeof(hostport), "%s:%u", addr, t->port);
		host = hostport;
	}
	const int n = asprintf(&r->request,
			       "GET %s%s HTTP/1.1\r\n"
			       "Host: %s\r\n"
			       "User-Agent: %s\r\n"
			       "Accept: */*\r\n"
			       "\r\n",
			       slash, path, host,
			       h->user_agent != NULL ? h->user_agent : "");
	if (n < 0) {
		r->request = NULL;
		return GSLB_ENOMEM;
	}
	r->request_len = (size_t)n;
	if (t->hc.expected_body != NULL) {
		r->expected_body = strdup(t->hc.expected_body);
		if (r->expected_body == NULL) {
			return GSLB_ENOMEM;
		}
	}
	http1_init(&r->resp);

	if (t->conn_fd >= 0 &&
	    gslb_clock_mono() - t->conn_opened < CONN_MAX_AGE) {
		r->fd = t->conn_fd;
		r->opened = t->conn_opened;
		t->conn_fd = -1;
		h->n_kept--;
		r->connected = true;
		r->reused = true;
		return native_wait(h, r, EV_WRITE);
	}
	conn_drop(t);
	return native_connect(h, r);
}

/* ------------------------------------------------------------------------ */
/* Running checks                                                           */

static void start_run(struct gslb_health_target *t)
{
	struct gslb_health *h = t->h;
	char ip[GSLB_IP_STRLEN];
	struct run *r = calloc(1, sizeof(*r));
	int ret = GSLB_ENOMEM;

	if (r != NULL) {
		r->t = t;
		r->type = t->hc.type;
		r->timeout = t->hc.timeout;
		r->fd = -1;
		r->started = gslb_clock_mono();
		switch (r->type) {
		case GSLB_CHECK_TCP:
			ret = tcp_start(h, r);
			break;
		case GSLB_CHECK_HTTP:
			ret = native_start(h, r);
			break;
		case GSLB_CHECK_HTTPS:
		default:
			ret = https_start(h, r);
			break;
		}
	}
	if (ret != GSLB_EOK) {
		/* The slot is skipped; the schedule tries again. */
		log_error(SUBSYS, "cannot start the check of %s port %u: %s",
			  gslb_ip_format(&t->ip, ip), t->port,
			  gslb_strerror(ret));
		if (r != NULL) {
			run_release(h, r);
		}
		return;
	}
	t->run = r;
	h->in_flight++;
}

/* A slot is due: start the check, or queue it, unless one is pending. */
static void begin_check(struct gslb_health_target *t)
{
	struct gslb_health *h = t->h;

	if (t->run != NULL) {
		/*
		 * The last check started late (the loop was held up) and
		 * still runs: this one starts when it ends. Skipping it
		 * would turn a stall of more than interval - timeout into a
		 * whole interval more before a failure is noticed.
		 */
		t->slot_missed = true;
		return;
	}
	if (t->queued) {
		return;
	}
	if (h->in_flight < h->max_in_flight && h->qhead == NULL) {
		start_run(t);
	} else {
		enqueue(t);
	}
}

/* Starts queued checks while slots are free. Never calls back. */
static void pump(struct gslb_health *h)
{
	while (h->in_flight < h->max_in_flight && h->qhead != NULL) {
		struct gslb_health_target *t = h->qhead;
		dequeue(t);
		start_run(t);
	}
}

static void target_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gslb_health_target *t = arg;
	const gslb_time_t now = gslb_clock_mono();
	bool run = t->run_requested;

	t->run_requested = false;
	if (now + EARLY_SLOP >= t->due) {
		run = true;
		/* From the slot, not from now: no drift. Slots missed while
		 * the loop was busy are skipped. */
		t->due = phase_after(t, now > t->due ? now : t->due);
	}
	arm(t, t->due - now);
	/* Last: a check can end at once and its callback remove t. */
	if (run) {
		begin_check(t);
	}
}

/* ------------------------------------------------------------------------ */
/* API                                                                      */

int gslb_health_new(struct event_base *base, const char *user_agent,
		    size_t max_in_flight, gslb_health_cb cb, void *arg,
		    struct gslb_health **out)
{
	if (out == NULL) {
		return GSLB_EINVAL;
	}
	*out = NULL;
	if (base == NULL) {
		return GSLB_EINVAL;
	}
	struct gslb_health *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return GSLB_ENOMEM;
	}
	h->base = base;
	h->cb = cb;
	h->arg = arg;
	h->max_in_flight =
		max_in_flight > 0 ? max_in_flight : DEFAULT_MAX_IN_FLIGHT;
	h->pool_cap = h->max_in_flight < POOL_MAX ? h->max_in_flight : POOL_MAX;
	/* Kept connections must leave room for the checks in flight and
	 * for the rest of the process. */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
	    nofile.rlim_cur > FD_RESERVE + h->max_in_flight) {
		h->max_kept = nofile.rlim_cur == RLIM_INFINITY
				      ? SIZE_MAX
				      : (size_t)nofile.rlim_cur - FD_RESERVE -
						h->max_in_flight;
	}
	if (dup_str(user_agent, &h->user_agent) != GSLB_EOK) {
		gslb_health_free(h);
		return GSLB_ENOMEM;
	}
	*out = h;
	return GSLB_EOK;
}

/*
 * libcurl (and through it GnuTLS and the libraries it pulls in) is set up
 * on the first https check only: it costs megabytes of resident memory
 * that plain http and tcp checks do not need.
 */
static int curl_setup(struct gslb_health *h)
{
	if (h->multi != NULL) {
		return GSLB_EOK;
	}
	char why[256];
	int ret = gslb_curl_open(why, sizeof(why));
	if (ret != GSLB_EOK) {
		log_error(SUBSYS, "https checks: %s", why);
		return ret;
	}
	if (gslb_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error(SUBSYS, "libcurl initialization failed");
		return GSLB_ENOMEM;
	}
	h->curl_ready = true;
	/* Debian and Ubuntu; Fedora, RHEL and SUSE. */
	static const char *const bundles[] = {
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem",
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bundles); i++) {
		if (access(bundles[i], R_OK) == 0) {
			h->system_ca = bundles[i];
			break;
		}
	}
	h->pool = calloc(h->pool_cap, sizeof(*h->pool));
	h->multi = gslb_curl.multi_init();
	h->curl_timer = evtimer_new(h->base, curl_timer_cb, h);
	if (h->pool == NULL || h->multi == NULL || h->curl_timer == NULL ||
	    gslb_curl.multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION,
				   multi_socket_cb) != CURLM_OK ||
	    gslb_curl.multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) !=
		    CURLM_OK ||
	    gslb_curl.multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION,
				   multi_timer_cb) != CURLM_OK ||
	    gslb_curl.multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) !=
		    CURLM_OK) {
		log_error(SUBSYS, "cannot set up libcurl's multi interface");
		if (h->multi != NULL) {
			gslb_curl.multi_cleanup(h->multi);
			h->multi = NULL;
		}
		return GSLB_ENOMEM;
	}
	return GSLB_EOK;
}

static void target_destroy(struct gslb_health_target *t)
{
	struct gslb_health *h = t->h;

	run_cancel(t);
	dequeue(t);
	conn_drop(t);
	if (t->timer != NULL) {
		event_free(t->timer);
	}
	if (t->prev != NULL) {
		t->prev->next = t->next;
	} else {
		h->targets = t->next;
	}
	if (t->next != NULL) {
		t->next->prev = t->prev;
	}
	h->n_targets--;
	if (t->checked) {
		h->n_checked--;
	}
	hc_clear(&t->hc);
	free(t->host);
	free(t);
}

void gslb_health_free(struct gslb_health *h)
{
	if (h == NULL) {
		return;
	}
	while (h->targets != NULL) {
		target_destroy(h->targets);
	}
	for (size_t i = 0; i < h->n_pool; i++) {
		gslb_curl.easy_cleanup(h->pool[i]);
	}
	if (h->multi != NULL) {
		gslb_curl.multi_cleanup(h->multi);
	}
	/* Sockets libcurl did not tell us to drop before it went away. */
	while (h->socks != NULL) {
		sock_free(h, h->socks);
	}
	if (h->curl_timer != NULL) {
		event_free(h->curl_timer);
	}
	free(h->pool);
	free(h->user_agent);
	if (h->curl_ready) {
		gslb_curl.global_cleanup();
	}
	free(h);
}

int gslb_health_add(struct gslb_health *h, const struct gslb_health_check *hc,
		    const struct gslb_ip *ip, uint16_t port, const char *host,
		    void *user, struct gslb_health_target **out)
{
	if (out == NULL) {
		return GSLB_EINVAL;
	}
	*out = NULL;
	if (h == NULL || hc == NULL || ip == NULL || port == 0 ||
	    (ip->family != AF_INET && ip->family != AF_INET6) ||
	    !hc_valid(hc)) {
		return GSLB_EINVAL;
	}

	struct gslb_health_target *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return GSLB_ENOMEM;
	}
	if (hc_copy(&t->hc, hc) != GSLB_EOK ||
	    dup_str(host, &t->host) != GSLB_EOK) {
		hc_clear(&t->hc);
		free(t);
		return GSLB_ENOMEM;
	}
	t->timer = evtimer_new(h->base, target_timer_cb, t);
	if (t->timer == NULL) {
		hc_clear(&t->hc);
		free(t->host);
		free(t);
		return GSLB_ENOMEM;
	}
	t->h = h;
	t->ip = *ip;
	t->port = port;
	t->user = user;
	t->conn_fd = -1;
	t->hash = target_hash(ip, port);

	t->next = h->targets;
	if (h->targets != NULL) {
		h->targets->prev = t;
	}
	h->targets = t;
	h->n_targets++;

	const gslb_time_t now = gslb_clock_mono();
	t->due = first_due(t, now);
	arm(t, t->due - now);
	*out = t;
	return GSLB_EOK;
}

int gslb_health_update(struct gslb_health_target *t,
		       const struct gslb_health_check *hc, const char *host)
{
	struct gslb_health_check copy;
	char *host_copy = NULL;

	if (t == NULL || hc == NULL || !hc_valid(hc)) {
		return GSLB_EINVAL;
	}
	if (hc_copy(&copy, hc) != GSLB_EOK) {
		return GSLB_ENOMEM;
	}
	if (dup_str(host, &host_copy) != GSLB_EOK) {
		hc_clear(&copy);
		return GSLB_ENOMEM;
	}

	const gslb_duration_t old_interval = t->hc.interval;
	hc_clear(&t->hc);
	t->hc = copy;
	free(t->host);
	t->host = host_copy;

	/* A shorter interval must not wait out the longer one's slot. */
	if (t->hc.interval != old_interval) {
		const gslb_time_t now = gslb_clock_mono();
		const gslb_time_t next = phase_after(t, now);
		if (next < t->due) {
			t->due = next;
			arm(t, t->due - now);
		}
	}
	return GSLB_EOK;
}

void gslb_health_remove(struct gslb_health_target *t)
{
	if (t == NULL) {
		return;
	}
	struct gslb_health *h = t->h;
	target_destroy(t);
	/* A cancelled check may have freed a slot. */
	pump(h);
}

void gslb_health_check_now(struct gslb_health_target *t)
{
	if (t == NULL || t->run != NULL || t->queued) {
		return;
	}
	/* Through the loop, so that no callback runs inside this call. */
	t->run_requested = true;
	event_active(t->timer, EV_TIMEOUT, 1);
}

void *gslb_health_user(const struct gslb_health_target *t)
{
	return t->user;
}

void gslb_health_get_info(const struct gslb_health_target *t,
			  struct gslb_health_info *out)
{
	out->track = t->track;
	out->passes = t->passes;
	out->failures = t->failures;
	out->last_check = t->last_check;
	out->last_healthy = t->last_healthy;
	out->last_latency = t->last_latency;
	out->last_error = t->last_error;
}

size_t gslb_health_count(const struct gslb_health *h)
{
	return h != NULL ? h->n_targets : 0;
}

size_t gslb_health_count_checked(const struct gslb_health *h)
{
	return h != NULL ? h->n_checked : 0;
}
