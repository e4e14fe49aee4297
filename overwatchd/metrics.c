/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "clock.h"
#include "dnssec.h"
#include "error.h"
#include "httpd.h"
#include "keysync.h"
#include "log.h"
#include "metrics.h"
#include "overrides.h"
#include "server.h"

/* Every name but the process_* ones. */
#define P "opengslb_"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds of health_check_duration_seconds, and their le labels. */
static const gslb_duration_t bucket_ns[] = {
	1 * GSLB_MSEC,  5 * GSLB_MSEC,    10 * GSLB_MSEC,  25 * GSLB_MSEC,
	50 * GSLB_MSEC, 100 * GSLB_MSEC,  250 * GSLB_MSEC, 500 * GSLB_MSEC,
	1 * GSLB_SEC,   2500 * GSLB_MSEC, 5 * GSLB_SEC,    10 * GSLB_SEC,
};
static const char *const bucket_le[] = {
	"0.001", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25",  "0.5",   "1",    "2.5",   "5",    "10",
};
#define N_BUCKETS GSLB_ARRAY_SIZE(bucket_ns)
/* Histogram values: one per bucket (not cumulative), then count, sum. */
#define H_COUNT  N_BUCKETS
#define H_SUM_NS (N_BUCKETS + 1)
#define H_VALUES (N_BUCKETS + 2)

/* Result label values of check counters, in value order. */
enum { R_HEALTHY = 0, R_UNHEALTHY, R_VALUES };
static const char *const result_name[R_VALUES] = { "healthy", "unhealthy" };

/* IANA names (RFC 6895); the last counts RCODE 23 (BADCOOKIE) and above. */
static const char *const rcode_name[ANSWER_RCODES] = {
	"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",   "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",  "DSOTYPENI",
	"RCODE12",  "RCODE13", "RCODE14",  "RCODE15",  "BADVERS",  "BADKEY",
	"BADTIME",  "BADMODE", "BADNAME",  "BADALG",   "BADTRUNC", "other",
};

/* -------------------------------------------------------------------------
 * A small insertion-ordered hash map from a composite string key (parts,
 * each NUL-terminated) to a fixed number of counters. Aggregating through
 * it keeps a scrape of 10,000 backends linear.
 */

struct mentry {
	uint64_t hash;
	size_t len; /* of key, every part's NUL included */
	char *key;
	uint64_t v[];
};

struct map {
	size_t nv;             /* counters per entry */
	struct mentry **items; /* insertion order */
	size_t n_items;
	size_t cap_items;
	struct mentry **slots; /* linear probing, load <= 1/2 */
	size_t n_slots;
};

static void map_init(struct map *m, size_t nv)
{
	memset(m, 0, sizeof(*m));
	m->nv = nv;
}

static void map_clear(struct map *m)
{
	for (size_t i = 0; i < m->n_items; i++) {
		free(m->items[i]);
	}
	free(m->items);
	free(m->slots);
	map_init(m, m->nv);
}

static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= UINT64_C(0x100000001b3);
	}
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return h;
}

static int map_grow(struct map *m)
{
	size_t n_slots = m->n_slots == 0 ? 16 : m->n_slots * 2;
	struct mentry **slots = calloc(n_slots, sizeof(*slots));
	struct mentry **items = realloc(m->items, n_slots / 2 * sizeof(*items));
	if (items != NULL) {
		m->items = items;
		m->cap_items = n_slots / 2;
	}
	if (slots == NULL || items == NULL) {
		free(slots);
		return GSLB_ENOMEM;
	}
	for (size_t i = 0; i < m->n_items; i++) {
		size_t s = m->items[i]->hash & (n_slots - 1);
		while (slots[s] != NULL) {
			s = (s + 1) & (n_slots - 1);
		}
		slots[s] = m->items[i];
	}
	free(m->slots);
	m->slots = slots;
	m->n_slots = n_slots;
	return GSLB_EOK;
}

/* The counters of key, created at zero; NULL when out of memory. */
static uint64_t *map_get(struct map *m, const char *key, size_t len)
{
	uint64_t hash = hash_key(key, len);
	if (m->n_items >= m->cap_items && map_grow(m) != GSLB_EOK) {
		return NULL;
	}
	size_t mask = m->n_slots - 1;
	size_t s = hash & mask;
	for (struct mentry *e; (e = m->slots[s]) != NULL; s = (s + 1) & mask) {
		if (e->hash == hash && e->len == len &&
		    memcmp(e->key, key, len) == 0) {
			return e->v;
		}
	}
	struct mentry *e =
		calloc(1, sizeof(*e) + m->nv * sizeof(uint64_t) + len);
	if (e == NULL) {
		return NULL;
	}
	e->hash = hash;
	e->len = len;
	e->key = (char *)(e->v + m->nv);
	memcpy(e->key, key, len);
	m->slots[s] = e;
	m->items[m->n_items++] = e;
	return e->v;
}

/* The part after p in a composite key. */
static const char *key_next(const char *p)
{
	return p + strlen(p) + 1;
}

/* A composite key being built: parts joined by their NULs. */
struct keybuf {
	char *p;
	size_t len;
	size_t cap;
	int err;
};

static void key_reset(struct keybuf *k)
{
	k->len = 0;
	k->err = GSLB_EOK;
}

static void key_add(struct keybuf *k, const char *part)
{
	size_t n = strlen(part) + 1;
	if (k->len + n > k->cap) {
		size_t cap = (k->len + n) * 2;
		char *p = realloc(k->p, cap);
		if (p == NULL) {
			k->err = GSLB_ENOMEM;
			return;
		}
		k->p = p;
		k->cap = cap;
	}
	memcpy(k->p + k->len, part, n);
	k->len += n;
}

static uint64_t *map_get_key(struct map *m, const struct keybuf *k)
{
	return k->err == GSLB_EOK ? map_get(m, k->p, k->len) : NULL;
}

/* ------------------------------------------------------------------------- */

struct metrics {
	struct server *srv;
	struct evhttp *http;

	uint64_t reloads[2];     /* failure, success */
	gslb_time_t reload_time; /* wall clock, last success; 0 = none */

	struct map check_hist;   /* region -> histogram */
	struct map check_result; /* service -> R_VALUES */
	struct map routing;      /* domain, algorithm, server -> picks */
	struct keybuf key;
	bool warned_nomem;

	double start_time; /* process start, seconds since the epoch */
};

static void warn_nomem(struct metrics *m, const char *what)
{
	if (!m->warned_nomem) {
		log_warn("metrics", "out of memory: %s will be undercounted",
			 what);
		m->warned_nomem = true;
	}
}

/* Seconds since the epoch at which this process started, per /proc. */
static double process_start_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	unsigned long long btime = 0;
	char line[256];
	if (f == NULL) {
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "btime %llu", &btime) == 1) {
			break;
		}
	}
	fclose(f);

	unsigned long long start = 0;
	f = fopen("/proc/self/stat", "re");
	if (f == NULL) {
		return 0;
	}
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past the
	 * last ')'. starttime is field 22; field 3 follows ") ". */
	const char *p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				"%*u %*u %*d %*d %*d %*d %*d %*d %llu",
				&start) != 1) {
		return 0;
	}
	long hz = sysconf(_SC_CLK_TCK);
	return (double)btime + (double)start / (double)(hz > 0 ? hz : 100);
}

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return GSLB_ENOMEM;
	}
	map_init(&m->check_hist, H_VALUES);
	map_init(&m->check_result, R_VALUES);
	map_init(&m->routing, 1);
	m->start_time = process_start_time();
	*out = m;
	return GSLB_EOK;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL) {
		return;
	}
	if (m->http != NULL) {
		evhttp_free(m->http);
	}
	map_clear(&m->check_hist);
	map_clear(&m->check_result);
	map_clear(&m->routing);
	free(m->key.p);
	free(m);
}

void metrics_observe_check(struct metrics *m, const char *service,
			   const char *region, gslb_duration_t latency,
			   bool pass)
{
	if (m == NULL) {
		return;
	}
	if (latency < 0) {
		latency = 0;
	}
	key_reset(&m->key);
	key_add(&m->key, region != NULL ? region : "");
	uint64_t *h = map_get_key(&m->check_hist, &m->key);
	key_reset(&m->key);
	key_add(&m->key, service != NULL ? service : "");
	uint64_t *r = map_get_key(&m->check_result, &m->key);
	if (h == NULL || r == NULL) {
		warn_nomem(m, "health checks");
	}
	if (h != NULL) {
		size_t b = 0;
		while (b < N_BUCKETS && latency > bucket_ns[b]) {
			b++;
		}
		if (b < N_BUCKETS) {
			h[b]++;
		}
		h[H_COUNT]++;
		h[H_SUM_NS] += (uint64_t)latency;
	}
	if (r != NULL) {
		r[pass ? R_HEALTHY : R_UNHEALTHY]++;
	}
}

void metrics_reload(struct metrics *m, bool ok)
{
	if (m == NULL) {
		return;
	}
	m->reloads[ok ? 1 : 0]++;
	if (ok) {
		m->reload_time = gslb_clock_wall();
	}
}

static void routing_key(struct keybuf *k, const char *domain,
			enum gslb_algorithm algorithm, const struct gslb_ip *ip)
{
	char text[GSLB_IP_STRLEN];
	key_reset(k);
	key_add(k, domain);
	key_add(k, gslb_algorithm_name(algorithm));
	key_add(k, gslb_ip_format(ip, text));
}

static void fold_pick(const char *domain, enum gslb_algorithm algorithm,
		      const struct gslb_ip *ip, uint64_t picks, void *arg)
{
	struct metrics *m = arg;
	if (picks == 0) {
		return; /* a zero needs no keeping once the candidate is gone */
	}
	routing_key(&m->key, domain, algorithm, ip);
	uint64_t *v = map_get_key(&m->routing, &m->key);
	if (v == NULL) {
		warn_nomem(m, "routing decisions");
		return;
	}
	v[0] += picks;
}

void metrics_fold_routing(struct metrics *m, const struct snapshot *snap)
{
	if (m == NULL) {
		return;
	}
	snapshot_foreach_pick(snap, fold_pick, m);
}

/* -------------------------------------------------------------------------
 * The text exposition format, version 0.0.4.
 */

/* Output is staged in a buffer of our own: thousands of tiny evbuffer
 * appends per scrape would cost more than the formatting. */
#define STAGE_SIZE 65536

struct render {
	struct evbuffer *b;
	int err;
	size_t len;
	char stage[STAGE_SIZE];
};

struct label {
	const char *key;
	const char *value;
};

static void flush(struct render *r)
{
	if (r->len > 0 && evbuffer_add(r->b, r->stage, r->len) != 0) {
		r->err = GSLB_ENOMEM;
	}
	r->len = 0;
}

static void put(struct render *r, const char *s, size_t n)
{
	if (r->len + n > STAGE_SIZE) {
		flush(r);
		if (n > STAGE_SIZE) {
			if (evbuffer_add(r->b, s, n) != 0) {
				r->err = GSLB_ENOMEM;
			}
			return;
		}
	}
	memcpy(r->stage + r->len, s, n);
	r->len += n;
}

static void puts_(struct render *r, const char *s)
{
	put(r, s, strlen(s));
}

/* A label value: backslash, double quote and line feed are escaped. */
static void put_escaped(struct render *r, const char *s)
{
	if (s == NULL) {
		return; /* a label without a value, e.g. no region */
	}
	for (;;) {
		size_t n = strcspn(s, "\\\"\n");
		put(r, s, n);
		switch (s[n]) {
		case '\0':
			return;
		case '\n':
			put(r, "\\n", 2);
			break;
		default:
			put(r, "\\", 1);
			put(r, s + n, 1);
			break;
		}
		s += n + 1;
	}
}

/* HELP text contains neither backslashes nor line feeds. */
static void family(struct render *r, const char *name, const char *type,
		   const char *help)
{
	puts_(r, "# HELP ");
	puts_(r, name);
	puts_(r, " ");
	puts_(r, help);
	puts_(r, "\n# TYPE ");
	puts_(r, name);
	puts_(r, " ");
	puts_(r, type);
	puts_(r, "\n");
}

static void sample(struct render *r, const char *name, const struct label *l,
		   size_t n, const char *value)
{
	puts_(r, name);
	for (size_t i = 0; i < n; i++) {
		puts_(r, i == 0 ? "{" : ",");
		puts_(r, l[i].key);
		puts_(r, "=\"");
		put_escaped(r, l[i].value);
		puts_(r, "\"");
	}
	puts_(r, n > 0 ? "} " : " ");
	puts_(r, value);
	puts_(r, "\n");
}

#define NUM_LEN 32

static const char *fmt_u64(char buf[NUM_LEN], uint64_t v)
{
	char *p = buf + NUM_LEN - 1;
	*p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return p;
}

/* Nanoseconds as decimal seconds, exactly. */
static const char *fmt_ns(char buf[NUM_LEN], int64_t ns)
{
	if (ns < 0) {
		ns = 0;
	}
	snprintf(buf, NUM_LEN, "%" PRId64 ".%09" PRId64, ns / GSLB_SEC,
		 ns % GSLB_SEC);
	return buf;
}

static void sample_u64(struct render *r, const char *name,
		       const struct label *l, size_t n, uint64_t v)
{
	char buf[NUM_LEN];
	sample(r, name, l, n, fmt_u64(buf, v));
}

static void gauge(struct render *r, const char *name, const char *help,
		  uint64_t v)
{
	family(r, name, "gauge", help);
	sample_u64(r, name, NULL, 0, v);
}

/* ------------------------------------------------------------------------- */

static void render_config(struct metrics *m, struct render *r)
{
	const struct server *srv = m->srv;
	const struct gslb_config *cfg = srv->cfg;
	char buf[NUM_LEN];

	family(r, P "app_info", "gauge",
	       "Version of gslb-overwatchd, always 1.");
	const struct label version = { "version", PACKAGE_VERSION };
	sample(r, P "app_info", &version, 1, "1");

	family(r, P "config_load_timestamp_seconds", "gauge",
	       "When the running configuration was loaded, in seconds "
	       "since the epoch.");
	sample(r, P "config_load_timestamp_seconds", NULL, 0,
	       fmt_ns(buf, srv->config_loaded));

	size_t n_servers = 0;
	for (size_t i = 0; i < cfg->n_regions; i++) {
		n_servers += cfg->regions[i].n_servers;
	}
	gauge(r, P "configured_domains",
	      "Domains in the running configuration.", cfg->n_domains);
	gauge(r, P "configured_servers",
	      "Servers in the regions of the running configuration.",
	      n_servers);

	family(r, P "config_reloads_total", "counter",
	       "Configuration reloads attempted, by outcome.");
	const struct label ok = { "result", "success" };
	const struct label failed = { "result", "failure" };
	sample_u64(r, P "config_reloads_total", &ok, 1, m->reloads[1]);
	sample_u64(r, P "config_reloads_total", &failed, 1, m->reloads[0]);

	family(r, P "config_reload_timestamp_seconds", "gauge",
	       "When the configuration was last reloaded successfully, in "
	       "seconds since the epoch; 0 before the first reload.");
	sample(r, P "config_reload_timestamp_seconds", NULL, 0,
	       fmt_ns(buf, m->reload_time));
}

static void render_dns(struct metrics *m, struct render *r)
{
	struct answer_stats st = { 0 };
	server_dns_stats(m->srv, &st);

	family(r, P "dns_queries_total", "counter",
	       "DNS queries answered, by query type and response code.");
	uint64_t refused = 0;
	for (unsigned t = 0; t < AQ_COUNT; t++) {
		for (unsigned rc = 0; rc < ANSWER_RCODES; rc++) {
			uint64_t v = stat_get(&st.answers[t][rc]);
			if (v == 0) {
				continue;
			}
			if (rc == KNOT_RCODE_REFUSED) {
				refused += v;
			}
			const struct label l[] = {
				{ "type", answer_qtype_name(t) },
				{ "rcode", rcode_name[rc] },
			};
			sample_u64(r, P "dns_queries_total", l, 2, v);
		}
	}

	family(r, P "dns_messages_received_total", "counter",
	       "DNS messages received over UDP and TCP.");
	sample_u64(r, P "dns_messages_received_total", NULL, 0,
		   stat_get(&st.queries));
	family(r, P "dns_messages_dropped_total", "counter",
	       "DNS messages not answered at all (too short to parse, or "
	       "responses).");
	sample_u64(r, P "dns_messages_dropped_total", NULL, 0,
		   stat_get(&st.dropped));
	family(r, P "dns_responses_truncated_total", "counter",
	       "DNS responses sent with the TC flag.");
	sample_u64(r, P "dns_responses_truncated_total", NULL, 0,
		   stat_get(&st.truncated));
	family(r, P "dns_refused_total", "counter",
	       "DNS queries answered REFUSED (outside our zones).");
	sample_u64(r, P "dns_refused_total", NULL, 0, refused);
}

struct routing_scrape {
	struct metrics *m;
	struct map *map;
	int err;
};

static void scrape_pick(const char *domain, enum gslb_algorithm algorithm,
			const struct gslb_ip *ip, uint64_t picks, void *arg)
{
	struct routing_scrape *rs = arg;
	routing_key(&rs->m->key, domain, algorithm, ip);
	uint64_t *v = map_get_key(rs->map, &rs->m->key);
	if (v == NULL) {
		rs->err = GSLB_ENOMEM;
		return;
	}
	v[0] += picks;
}

static void scrape_snapshot(const struct snapshot *snap, void *arg)
{
	snapshot_foreach_pick(snap, scrape_pick, arg);
}

static void render_routing(struct metrics *m, struct render *r)
{
	/* Live snapshots first, so current candidates come in config
	 * order; then what only freed snapshots still know. */
	struct map sum;
	map_init(&sum, 1);
	struct routing_scrape rs = { .m = m, .map = &sum };
	server_foreach_snapshot(m->srv, scrape_snapshot, &rs);
	for (size_t i = 0; i < m->routing.n_items && rs.err == GSLB_EOK; i++) {
		const struct mentry *e = m->routing.items[i];
		uint64_t *v = map_get(&sum, e->key, e->len);
		if (v == NULL) {
			rs.err = GSLB_ENOMEM;
			break;
		}
		v[0] += e->v[0];
	}
	if (rs.err != GSLB_EOK) {
		r->err = rs.err;
	}

	family(r, P "routing_decisions_total", "counter",
	       "Addresses given in A and AAAA answers, by domain, routing "
	       "algorithm and server address.");
	for (size_t i = 0; i < sum.n_items; i++) {
		const struct mentry *e = sum.items[i];
		const char *alg = key_next(e->key);
		const struct label l[] = {
			{ "domain", e->key },
			{ "algorithm", alg },
			{ "server", key_next(alg) },
		};
		sample_u64(r, P "routing_decisions_total", l, 3, e->v[0]);
	}
	map_clear(&sum);
}

/* Which step of the status hierarchy decides b (see registry.h). */
enum authority {
	AUTH_OVERRIDE = 0,
	AUTH_DRAINING,
	AUTH_VALIDATION,
	AUTH_STALE,
	AUTH_AGENT,
	AUTH_DEFAULT,
	AUTH_COUNT,
};

static const char *const authority_name[AUTH_COUNT] = {
	"override", "draining", "validation", "stale", "agent", "default",
};

static enum authority backend_authority(const struct gslb_backend *b)
{
	if (b->override != GSLB_UNKNOWN) {
		return AUTH_OVERRIDE;
	}
	if (b->draining) {
		return AUTH_DRAINING;
	}
	if (b->validation != GSLB_UNKNOWN) {
		return AUTH_VALIDATION;
	}
	if (b->source == GSLB_SOURCE_AGENT) {
		return b->status == GSLB_STATUS_STALE ? AUTH_STALE : AUTH_AGENT;
	}
	return AUTH_DEFAULT;
}

static const enum gslb_status all_status[] = {
	GSLB_STATUS_HEALTHY,
	GSLB_STATUS_UNHEALTHY,
	GSLB_STATUS_STALE,
	GSLB_STATUS_DRAINING,
};

/* "192.0.2.1:80", "[2001:db8::1]:80". */
static void format_address(const struct gslb_backend *b, char *buf, size_t len)
{
	char ip[GSLB_IP_STRLEN];
	gslb_ip_format(&b->ip, ip);
	snprintf(buf, len, b->ip.family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		 (unsigned)b->port);
}

static void render_backends(struct metrics *m, struct render *r)
{
	const struct server *srv = m->srv;
	const struct gslb_registry *reg = srv->reg;
	const size_t n = gslb_registry_count(reg);
	uint64_t by_authority[AUTH_COUNT] = { 0 };
	uint64_t healthy = 0, overrides = 0;
	struct map results; /* region, server -> R_VALUES */
	struct map regions; /* region -> healthy checked backends */
	map_init(&results, R_VALUES);
	map_init(&regions, 1);
	char address[GSLB_IP_STRLEN + 8];

	family(r, P "backend_status", "gauge",
	       "Effective status of each backend: 1 for the current status, "
	       "0 for the others.");
	for (size_t i = 0; i < n; i++) {
		const struct gslb_backend *b = gslb_registry_at(reg, i);
		format_address(b, address, sizeof(address));
		for (size_t s = 0; s < GSLB_ARRAY_SIZE(all_status); s++) {
			const struct label l[] = {
				{ "service", b->service },
				{ "address", address },
				{ "region", b->region },
				{ "status", gslb_status_name(all_status[s]) },
			};
			sample(r, P "backend_status", l, 4,
			       b->status == all_status[s] ? "1" : "0");
		}
		by_authority[backend_authority(b)]++;
		healthy += b->status == GSLB_STATUS_HEALTHY;
		overrides += b->override != GSLB_UNKNOWN;

		struct gslb_health_info info;
		if (srv->validator == NULL ||
		    !validator_backend_info(srv->validator, b, &info)) {
			continue;
		}
		key_reset(&m->key);
		key_add(&m->key, b->region);
		key_add(&m->key, address);
		uint64_t *v = map_get_key(&results, &m->key);
		key_reset(&m->key);
		key_add(&m->key, b->region);
		uint64_t *h = map_get_key(&regions, &m->key);
		if (v == NULL || h == NULL) {
			r->err = GSLB_ENOMEM;
			break;
		}
		v[R_HEALTHY] += info.passes;
		v[R_UNHEALTHY] += info.failures;
		h[0] += info.track.state == GSLB_HEALTH_HEALTHY;
	}

	gauge(r, P "overwatch_backends", "Backends in the registry.", n);
	gauge(r, P "overwatch_backends_healthy",
	      "Backends whose effective status is healthy.", healthy);
	family(r, P "overwatch_backends_by_authority", "gauge",
	       "Backends by the step of the status hierarchy that decides "
	       "their status.");
	for (size_t a = 0; a < AUTH_COUNT; a++) {
		const struct label l = { "authority", authority_name[a] };
		sample_u64(r, P "overwatch_backends_by_authority", &l, 1,
			   by_authority[a]);
	}
	gauge(r, P "overwatch_overrides_active",
	      "Backends with a manual override.", overrides);
	gauge(r, P "overwatch_validation_enabled",
	      "Whether the overwatch checks backends itself (1) or not (0).",
	      srv->validator != NULL && validator_enabled(srv->validator));

	family(r, P "health_check_results_total", "counter",
	       "Validation checks of each checked server, by result.");
	for (size_t i = 0; i < results.n_items; i++) {
		const struct mentry *e = results.items[i];
		for (size_t k = 0; k < R_VALUES; k++) {
			const struct label l[] = {
				{ "region", e->key },
				{ "server", key_next(e->key) },
				{ "result", result_name[k] },
			};
			sample_u64(r, P "health_check_results_total", l, 3,
				   e->v[k]);
		}
	}
	family(r, P "healthy_servers", "gauge",
	       "Checked backends whose validation state is healthy, by "
	       "region.");
	for (size_t i = 0; i < regions.n_items; i++) {
		const struct mentry *e = regions.items[i];
		const struct label l = { "region", e->key };
		sample_u64(r, P "healthy_servers", &l, 1, e->v[0]);
	}
	map_clear(&results);
	map_clear(&regions);
}

static void render_checks(struct metrics *m, struct render *r)
{
	const char *name = P "health_check_duration_seconds";
	char buf[NUM_LEN];

	family(r, name, "histogram",
	       "Duration of validation checks, failures included, by region.");
	for (size_t i = 0; i < m->check_hist.n_items; i++) {
		const struct mentry *e = m->check_hist.items[i];
		struct label l[2] = { { "region", e->key }, { "le", NULL } };
		uint64_t cumulative = 0;
		for (size_t b = 0; b < N_BUCKETS; b++) {
			cumulative += e->v[b];
			l[1].value = bucket_le[b];
			sample_u64(r, P "health_check_duration_seconds_bucket",
				   l, 2, cumulative);
		}
		l[1].value = "+Inf";
		sample_u64(r, P "health_check_duration_seconds_bucket", l, 2,
			   e->v[H_COUNT]);
		sample(r, P "health_check_duration_seconds_sum", l, 1,
		       fmt_ns(buf, (int64_t)e->v[H_SUM_NS]));
		sample_u64(r, P "health_check_duration_seconds_count", l, 1,
			   e->v[H_COUNT]);
	}

	family(r, P "overwatch_validation_checks_total", "counter",
	       "Validation checks completed, by service and result.");
	for (size_t i = 0; i < m->check_result.n_items; i++) {
		const struct mentry *e = m->check_result.items[i];
		for (size_t k = 0; k < R_VALUES; k++) {
			const struct label l[] = {
				{ "service", e->key },
				{ "result", result_name[k] },
			};
			sample_u64(r, P "overwatch_validation_checks_total", l,
				   2, e->v[k]);
		}
	}
}

static uint64_t count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	uint64_t n = 0;
	if (d == NULL) {
		return 0;
	}
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		n += de->d_name[0] != '.';
	}
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the one opendir holds */
}

static void render_process(struct metrics *m, struct render *r)
{
	char buf[1024];
	unsigned long utime = 0, stime = 0, vsize = 0;
	long rss = 0;

	FILE *f = fopen("/proc/self/stat", "re");
	if (f != NULL) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		const char *p = strrchr(buf, ')');
		if (p == NULL ||
		    sscanf(p + 2,
			   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu "
			   "%lu %*d %*d %*d %*d %*d %*d %*u %lu %ld",
			   &utime, &stime, &vsize, &rss) != 4) {
			utime = stime = vsize = 0;
			rss = 0;
		}
	}
	long hz = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	hz = hz > 0 ? hz : 100;

	family(r, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	sample(r, "process_cpu_seconds_total", NULL, 0,
	       fmt_ns(buf, (int64_t)(utime + stime) * GSLB_SEC / hz));
	gauge(r, "process_resident_memory_bytes",
	      "Resident memory size in bytes.",
	      rss > 0 && page > 0 ? (uint64_t)rss * (uint64_t)page : 0);
	gauge(r, "process_virtual_memory_bytes",
	      "Virtual memory size in bytes.", vsize);
	gauge(r, "process_open_fds", "Number of open file descriptors.",
	      count_open_fds());
	struct rlimit rl;
	uint64_t max_fds = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX
						       : (uint64_t)rl.rlim_cur;
	}
	gauge(r, "process_max_fds", "Maximum number of open file descriptors.",
	      max_fds);
	family(r, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	snprintf(buf, sizeof(buf), "%.2f", m->start_time);
	sample(r, "process_start_time_seconds", NULL, 0, buf);
}

/* The whole exposition into b. */
static void render_api(struct metrics *m, struct render *r)
{
	static const char *const class_name[API_STATUS_CLASSES] = {
		[2] = "2xx", [3] = "3xx", [4] = "4xx", [5] = "5xx"
	};
	uint64_t by_class[API_STATUS_CLASSES];

	if (m->srv->api == NULL) {
		return;
	}
	api_responses(m->srv->api, by_class);
	family(r, P "api_responses_total", "counter",
	       "REST API responses sent, by status class.");
	for (size_t c = 2; c < API_STATUS_CLASSES; c++) {
		const struct label l = { "code", class_name[c] };
		sample_u64(r, P "api_responses_total", &l, 1, by_class[c]);
	}
}

static void render_state(struct metrics *m, struct render *r)
{
	const struct state *st = m->srv->state;
	struct store_stats ss;
	if (st == NULL) {
		return;
	}
	store_get_stats(state_store(st), &ss);
	gauge(r, P "overrides_active",
	      "Manual overrides in force (each may cover several backends).",
	      overrides_count(state_overrides(st)));
	gauge(r, P "state_store_ok",
	      "1 if the last write to the state database succeeded, else 0.",
	      ss.ok ? 1 : 0);
	family(r, P "state_store_changes_total", "counter",
	       "Changes written to the state database, by result.");
	const struct label ok = { "result", "committed" };
	const struct label failed = { "result", "failed" };
	sample_u64(r, P "state_store_changes_total", &ok, 1, ss.changes);
	sample_u64(r, P "state_store_changes_total", &failed, 1, ss.failures);
	family(r, P "state_store_transactions_total", "counter",
	       "Transactions committed; one commits every change queued "
	       "meanwhile.");
	sample_u64(r, P "state_store_transactions_total", NULL, 0, ss.commits);
	gauge(r, P "state_store_queued",
	      "Changes waiting for the state database.", ss.queued);
}

/* The zones' keys (keys.c) and key sync with the other overwatches. */
static void render_dnssec_keys(struct metrics *m, struct render *r)
{
	const struct server *srv = m->srv;
	struct keys *k = srv->keys;
	const struct gslb_config *cfg = srv->cfg;
	if (!keys_enabled(k)) {
		return;
	}
	char num[NUM_LEN], tag[NUM_LEN];
	family(r, P "dnssec_key_info", "gauge",
	       "Always 1: the key each zone signs with.");
	for (size_t i = 0; i < cfg->dns.n_zones; i++) {
		const struct zone_key *key =
			keys_key(k, cfg->dns.zones[i].name);
		if (key == NULL) {
			continue;
		}
		const struct label l[] = {
			{ "zone", key->zone },
			{ "key_tag", fmt_u64(tag, key->key_tag) },
			{ "algorithm", dnssec_algorithm_name(key->algorithm) },
		};
		sample(r, P "dnssec_key_info", l, GSLB_ARRAY_SIZE(l), "1");
	}
	family(r, P "dnssec_key_created_timestamp_seconds", "gauge",
	       "When the zone's key was made, in seconds since the epoch.");
	for (size_t i = 0; i < cfg->dns.n_zones; i++) {
		const struct zone_key *key =
			keys_key(k, cfg->dns.zones[i].name);
		if (key != NULL) {
			const struct label l = { "zone", key->zone };
			sample(r, P "dnssec_key_created_timestamp_seconds", &l,
			       1,
			       fmt_u64(num, key->created > 0
						    ? (uint64_t)key->created
						    : 0));
		}
	}
	struct keys_stats ks;
	keys_get_stats(k, &ks);
	family(r, P "dnssec_keys_total", "counter",
	       "Zone keys taken into use by this process, by origin.");
	const struct label gen = { "origin", "generated" };
	const struct label peer = { "origin", "peer" };
	sample_u64(r, P "dnssec_keys_total", &gen, 1, ks.generated);
	sample_u64(r, P "dnssec_keys_total", &peer, 1, ks.adopted);
	family(r, P "dnssec_key_adoption_failures_total", "counter",
	       "Newer keys offered by peers that could not be taken into use.");
	sample_u64(r, P "dnssec_key_adoption_failures_total", NULL, 0,
		   ks.adopt_failures);

	/* Per zone, from the zone's signer (they start again with a new
	 * key, which Prometheus reads as a counter reset). */
	family(r, P "dnssec_signatures_total", "counter",
	       "RRSIGs the snapshot builder needed, by zone and result: made, "
	       "reused from the cache, or failed.");
	for (size_t i = 0; i < cfg->dns.n_zones; i++) {
		const char *zone = cfg->dns.zones[i].name;
		struct signer *s = keys_signer(k, zone);
		if (s == NULL) {
			continue;
		}
		struct signer_stats st;
		signer_get_stats(s, &st);
		static const char *const results[] = { "made", "reused",
						       "failed" };
		const uint64_t values[] = { st.signed_new, st.cache_hits,
					    st.failures };
		for (size_t j = 0; j < GSLB_ARRAY_SIZE(results); j++) {
			const struct label l[] = { { "zone", zone },
						   { "result", results[j] } };
			sample_u64(r, P "dnssec_signatures_total", l, 2,
				   values[j]);
		}
	}
	family(r, P "dnssec_signatures_cached", "gauge",
	       "RRSIGs held in the zone's signature cache.");
	for (size_t i = 0; i < cfg->dns.n_zones; i++) {
		const char *zone = cfg->dns.zones[i].name;
		struct signer *s = keys_signer(k, zone);
		if (s != NULL) {
			struct signer_stats st;
			signer_get_stats(s, &st);
			const struct label l = { "zone", zone };
			sample_u64(r, P "dnssec_signatures_cached", &l, 1,
				   st.cached);
		}
	}

	const struct keysync *sync = keys_sync(k);
	if (sync == NULL) {
		return;
	}
	family(r, P "dnssec_key_sync_peer_failures", "gauge",
	       "Key sync requests to the peer that failed in a row (0 after "
	       "a success).");
	for (size_t i = 0; i < keysync_peer_count(sync); i++) {
		struct keysync_peer_status ps;
		keysync_peer_status(sync, i, &ps);
		const struct label l = { "peer", ps.peer };
		sample_u64(r, P "dnssec_key_sync_peer_failures", &l, 1,
			   ps.failures);
	}
	family(r, P "dnssec_key_sync_last_success_timestamp_seconds", "gauge",
	       "When the peer last answered with its keys, in seconds since "
	       "the epoch; 0 before that.");
	for (size_t i = 0; i < keysync_peer_count(sync); i++) {
		struct keysync_peer_status ps;
		keysync_peer_status(sync, i, &ps);
		const struct label l = { "peer", ps.peer };
		sample(r, P "dnssec_key_sync_last_success_timestamp_seconds",
		       &l, 1, fmt_ns(num, ps.last_success));
	}
}

static void render_heartbeat_age(const struct agent_info *info, void *arg)
{
	char num[NUM_LEN];
	if (!info->connected || info->heartbeat_age < 0) {
		return;
	}
	const struct label l[] = {
		{ "agent_id", info->agent_id },
		{ "region", info->region },
	};
	sample(arg, P "overwatch_agent_heartbeat_age_seconds", l, 2,
	       fmt_ns(num, info->heartbeat_age));
}

/* Agents (agents.c) and the gossip receiver. */
static void render_agents(struct metrics *m, struct render *r)
{
	const struct agents *ag = m->srv->agents;
	if (ag == NULL) {
		return;
	}
	struct agents_stats st;
	agents_stats(ag, &st);

	gauge(r, P "overwatch_agent_certs_pinned",
	      "Agents whose certificate is pinned.", st.pinned);
	gauge(r, P "overwatch_agents_registered",
	      "Agents with a session (registered since this start).",
	      st.connected);
	gauge(r, P "overwatch_stale_agents",
	      "Registered agents silent for longer than their heartbeat "
	      "interval times missed_threshold.",
	      st.stale);
	gauge(r, P "overwatch_stale_backends",
	      "Backends whose effective status is stale.", st.stale_backends);
	family(r, P "overwatch_agent_heartbeat_age_seconds", "gauge",
	       "Time since each registered agent was last heard from.");
	agents_foreach(ag, render_heartbeat_age, r);
	family(r, P "overwatch_agent_auth_success_total", "counter",
	       "Registrations accepted.");
	sample_u64(r, P "overwatch_agent_auth_success_total", NULL, 0,
		   st.registrations);
	family(r, P "overwatch_agent_auth_failures_total", "counter",
	       "Registrations refused, by reason.");
	static const enum gossip_reject auth[] = {
		GOSSIP_R_BAD_SIGNATURE,   GOSSIP_R_BAD_CERTIFICATE,
		GOSSIP_R_BAD_TOKEN,       GOSSIP_R_CERT_MISMATCH,
		GOSSIP_R_UNKNOWN_SERVICE,
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(auth); i++) {
		const struct label l = { "reason",
					 gossip_reject_name(auth[i]) };
		sample_u64(r, P "overwatch_agent_auth_failures_total", &l, 1,
			   st.rejected[auth[i]]);
	}
	family(r, P "overwatch_agent_events_total", "counter",
	       "Agents pinned on first use, certificate rotations, agents "
	       "gone stale, agents whose backends were removed after "
	       "stale.remove_after, and deregistrations.");
	const struct {
		const char *event;
		uint64_t n;
	} events[] = {
		{ "pinned", st.pinned_new },
		{ "rotated", st.rotations },
		{ "stale", st.stale_events },
		{ "removed", st.removals },
		{ "deregistered", st.deregistrations },
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(events); i++) {
		const struct label l = { "event", events[i].event };
		sample_u64(r, P "overwatch_agent_events_total", &l, 1,
			   events[i].n);
	}

	family(r, P "gossip_messages_received_total", "counter",
	       "Gossip messages accepted, by type.");
	static const enum gossip_type types[] = {
		GOSSIP_HEARTBEAT,
		GOSSIP_REGISTER,
		GOSSIP_STATE,
		GOSSIP_DEREGISTER,
	};
	static const char *const type_name[] = {
		[GOSSIP_HEARTBEAT] = "heartbeat",
		[GOSSIP_REGISTER] = "register",
		[GOSSIP_STATE] = "state",
		[GOSSIP_DEREGISTER] = "deregister",
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(types); i++) {
		const struct label l = { "type", type_name[types[i]] };
		sample_u64(r, P "gossip_messages_received_total", &l, 1,
			   st.received[types[i]]);
	}
	family(r, P "gossip_messages_rejected_total", "counter",
	       "Gossip datagrams and messages dropped or refused, by "
	       "reason.");
	for (int i = GOSSIP_R_MALFORMED; i < GOSSIP_R_COUNT; i++) {
		const struct label l = {
			"reason", gossip_reject_name((enum gossip_reject)i)
		};
		sample_u64(r, P "gossip_messages_rejected_total", &l, 1,
			   st.rejected[i]);
	}
	family(r, P "gossip_decryption_failures_total", "counter",
	       "Datagrams that did not open with the gossip key.");
	sample_u64(r, P "gossip_decryption_failures_total", NULL, 0,
		   st.rejected[GOSSIP_R_UNSEALABLE]);
	family(r, P "gossip_messages_sent_total", "counter",
	       "Acknowledgements sent to agents.");
	const struct label ack = { "type", "ack" };
	sample_u64(r, P "gossip_messages_sent_total", &ack, 1, st.acks_sent);
	family(r, P "gossip_message_send_failures_total", "counter",
	       "Acknowledgements that could not be sent.");
	sample_u64(r, P "gossip_message_send_failures_total", NULL, 0,
		   st.send_failures);
}

static int render(struct metrics *m, struct evbuffer *b)
{
	struct render *r = malloc(sizeof(*r));
	if (r == NULL) {
		return GSLB_ENOMEM;
	}
	r->b = b;
	r->err = GSLB_EOK;
	r->len = 0;
	render_config(m, r);
	render_dns(m, r);
	render_routing(m, r);
	render_backends(m, r);
	render_checks(m, r);
	render_api(m, r);
	render_state(m, r);
	render_dnssec_keys(m, r);
	render_agents(m, r);
	render_process(m, r);
	flush(r);
	int ret = r->err;
	free(r);
	return ret;
}

/* ------------------------------------------------------------------------- */

static void reply(struct evhttp_request *req, int code, const char *reason,
		  const char *type, struct evbuffer *body, const char *text)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (body == NULL && text != NULL) {
		body = evbuffer_new();
		if (body != NULL) {
			evbuffer_add(body, text, strlen(text));
			evhttp_send_reply(req, code, reason, body);
			evbuffer_free(body);
			return;
		}
	}
	evhttp_send_reply(req, code, reason, body);
}

#define TEXT "text/plain; charset=utf-8"

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool is_metrics = path != NULL && strcmp(path, "/metrics") == 0;
	bool is_health = path != NULL && strcmp(path, "/health") == 0;

	if (!is_metrics && !is_health) {
		reply(req, HTTP_NOTFOUND, "Not Found", TEXT, NULL,
		      "not found\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Allow", "GET, HEAD");
		reply(req, HTTP_BADMETHOD, "Method Not Allowed", TEXT, NULL,
		      "method not allowed\n");
		return;
	}
	if (is_health) {
		reply(req, HTTP_OK, "OK", TEXT, NULL, "OK\n");
		return;
	}
	struct evbuffer *b = evbuffer_new();
	int ret = b != NULL ? render(m, b) : GSLB_ENOMEM;
	if (ret != GSLB_EOK) {
		log_warn("metrics", "cannot render /metrics: %s",
			 gslb_strerror(ret));
		reply(req, HTTP_INTERNAL, "Internal Server Error", TEXT, NULL,
		      "cannot render metrics\n");
	} else {
		reply(req, HTTP_OK, "OK", CONTENT_TYPE, b, NULL);
	}
	if (b != NULL) {
		evbuffer_free(b);
	}
}

/* A listening socket for ai, or -1 with errno set. */
int metrics_start(struct metrics *m, struct server *srv)
{
	m->srv = srv;
	const struct gslb_config *cfg = srv->cfg;
	if (!cfg->metrics.enabled) {
		return GSLB_EOK;
	}
	const char *address = cfg->metrics.address;
	/* Scrapes send no body; keep what a client can make us hold small. */
	m->http = httpd_new(srv->base, "metrics", "metrics.address", address,
			    4096, on_request, m);
	if (m->http == NULL) {
		return GSLB_EINVAL;
	}
	log_info("metrics", "serving /metrics on %s", address);
	return GSLB_EOK;
}
