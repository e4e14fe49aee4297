/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Config loader: every file is written into a fresh mkdtemp directory with
 * mode 0600, loaded with gslb_config_load(), and either read back or
 * checked for the exact "FILE:LINE:COL: key.path: message" the user sees.
 */
#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compiler.h"
#include "config.h"
#include "error.h"

/* 32 bytes "01234567890123456789012345678901" in base64. */
#define KEY32 "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="
/* 16 bytes. */
#define KEY16 "MDEyMzQ1Njc4OWFiY2RlZg=="

#define OW    GSLB_MODE_OVERWATCH
#define AGENT GSLB_MODE_AGENT

/* ------------------------------------------------------------------------ */
/* Harness                                                                  */

/* snprintf that fails the test instead of cutting the text short. */
#define FMT(buf, size, ...) \
	ck_assert_int_lt(snprintf(buf, size, __VA_ARGS__), (int)(size))

static char dir[PATH_MAX];
static struct gslb_config *cfg;
static struct gslb_config_errors errs;

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	FMT(dir, sizeof(dir), "%s/test_config.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* Tests name files by absolute path; make dir canonical. */
	char *real = realpath(dir, NULL);
	ck_assert_ptr_nonnull(real);
	FMT(dir, sizeof(dir), "%s", real);
	free(real);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

static void teardown(void)
{
	gslb_config_free(cfg);
	cfg = NULL;
	gslb_config_errors_clear(&errs);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Absolute path of name in the test directory (a few rotating buffers). */
static const char *tpath(const char *name)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *buf = bufs[next++ % GSLB_ARRAY_SIZE(bufs)];
	FMT(buf, PATH_MAX, "%s/%s", dir, name);
	return buf;
}

/* Writes text to name (creating directories) with the given mode. */
static const char *write_mode(const char *name, mode_t mode, const char *text)
{
	const char *path = tpath(name);
	char parent[PATH_MAX];

	FMT(parent, sizeof(parent), "%s", path);
	for (char *p = parent + strlen(dir) + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(parent, 0700);
			*p = '/';
		}
	}
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

static const char *write_main(enum gslb_mode mode, const char *text);

/* A main.yaml for an overwatch gets a gossip key (see write_main). */
static const char *write_file(const char *name, const char *text)
{
	if (strcmp(name, "main.yaml") == 0) {
		return write_main(
			strstr(text, "mode: agent") != NULL ? AGENT : OW, text);
	}
	return write_mode(name, 0600, text);
}

static void dump_errors(const char *what)
{
	fprintf(stderr, "%s: %zu error(s)\n", what, errs.n);
	for (size_t i = 0; i < errs.n; i++) {
		fprintf(stderr, "  %s\n", errs.msgs[i]);
	}
}

static const struct gslb_config *load_path_ok(enum gslb_mode mode,
					      const char *path)
{
	gslb_config_free(cfg);
	cfg = NULL;
	int ret = gslb_config_load(path, mode, &cfg, &errs);
	if (ret != GSLB_EOK) {
		dump_errors(path);
	}
	ck_assert_int_eq(ret, GSLB_EOK);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(errs.n, 0);
	return cfg;
}

/* main.yaml holding text loads without error. */
/*
 * main.yaml holding text. An overwatch needs a gossip key: when text has
 * neither a key nor an overwatch section, one is added at the end, where
 * it moves no line an error is expected at.
 */
static const char *write_main(enum gslb_mode mode, const char *text)
{
	static char buf[16384];
	const char *key = "gossip: {encryption_key: \"" KEY32 "\"}";
	const char *ow = strncmp(text, "overwatch:", 10) == 0
				 ? text
				 : strstr(text, "\noverwatch:");
	if (mode != OW || strstr(text, "encryption_key") != NULL ||
	    text[0] == '[' || text[0] == '{' ||
	    (ow != NULL && strstr(text, "gossip") != NULL)) {
		return write_mode("main.yaml", 0600, text);
	}
	const char *after = ow != NULL ? strchr(ow + 1, '\n') : NULL;
	while (after != NULL && (after[1] == ' ' || after[1] == '#')) {
		after = strchr(after + 1, '\n');
	}
	if (ow == NULL) {
		FMT(buf, sizeof(buf), "%s\noverwatch: {%s}\n", text, key);
	} else if (after != NULL && after[1] == '\0' &&
		   strncmp(strchr(ow + 1, ':'), ": {", 3) != 0) {
		/* A block section that ends the file: one more line. */
		FMT(buf, sizeof(buf), "%s  %s\n", text, key);
	} else {
		/* Into the section: flow style keeps the lines, block style
		 * moves the rest down by one. */
		const char *body = strchr(ow + 1, ':') + 1;
		const bool flow = strncmp(body, " {", 2) == 0;
		FMT(buf, sizeof(buf), "%.*s%s%s%s%s", (int)(body - text), text,
		    flow ? " {" : "\n  ", key, flow ? ", " : "",
		    flow ? body + 2 : body);
	}
	return write_mode("main.yaml", 0600, buf);
}

static const struct gslb_config *load_ok(enum gslb_mode mode, const char *text)
{
	return load_path_ok(mode, write_main(mode, text));
}

static void load_path_fail(enum gslb_mode mode, const char *path)
{
	gslb_config_free(cfg);
	cfg = NULL;
	int ret = gslb_config_load(path, mode, &cfg, &errs);
	ck_assert_int_eq(ret, GSLB_ECONFIG);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_gt(errs.n, 0);
}

static void load_fail(enum gslb_mode mode, const char *text)
{
	load_path_fail(mode, write_main(mode, text));
}

/*
 * Whether msg is "FILE:LINE:COL: KEY: ..." (or "FILE: KEY: ..." for line 0;
 * no "KEY: " when key is "") with needle in the message part.
 */
static bool error_matches(const char *msg, const char *file, unsigned line,
			  const char *key, const char *needle)
{
	char prefix[PATH_MAX + 32];
	if (line == 0) {
		FMT(prefix, sizeof(prefix), "%s: ", file);
	} else {
		FMT(prefix, sizeof(prefix), "%s:%u:", file, line);
	}
	if (strncmp(msg, prefix, strlen(prefix)) != 0) {
		return false;
	}
	const char *p = msg + strlen(prefix);
	if (line != 0) {
		if (!isdigit((unsigned char)*p)) {
			return false;
		}
		while (isdigit((unsigned char)*p)) {
			p++;
		}
		if (strncmp(p, ": ", 2) != 0) {
			return false;
		}
		p += 2;
	}
	size_t klen = strlen(key);
	if (klen > 0) {
		if (strncmp(p, key, klen) != 0 || strncmp(p + klen, ": ", 2)) {
			return false;
		}
		p += klen + 2;
	}
	return strstr(p, needle) != NULL;
}

/* Some error is at file:line, about key, and says needle. */
static void assert_error(const char *file, unsigned line, const char *key,
			 const char *needle)
{
	for (size_t i = 0; i < errs.n; i++) {
		if (error_matches(errs.msgs[i], file, line, key, needle)) {
			return;
		}
	}
	dump_errors("expected error missing");
	ck_abort_msg("no error \"%s:%u:*: %s: ...%s...\"", file, line, key,
		     needle);
}

static void assert_no_error_with(const char *needle)
{
	for (size_t i = 0; i < errs.n; i++) {
		ck_assert_msg(strstr(errs.msgs[i], needle) == NULL,
			      "unexpected \"%s\" in: %s", needle, errs.msgs[i]);
	}
}

/* main.yaml holding text fails with exactly one error: line, key, needle. */
static void expect_one(enum gslb_mode mode, const char *text, unsigned line,
		       const char *key, const char *needle)
{
	load_fail(mode, text);
	if (errs.n != 1) {
		dump_errors("expected exactly one error");
	}
	ck_assert_uint_eq(errs.n, 1);
	assert_error(tpath("main.yaml"), line, key, needle);
}

/* ------------------------------------------------------------------------ */
/* Building blocks of valid configs                                         */

/* 3 lines: a zone for app.example.com with a specific listen address. */
#define ZONE                                     \
	"dns:\n"                                 \
	"  listen_address: \"127.0.0.1:5353\"\n" \
	"  zones: [example.com]\n"
/* 4 lines: region r1 with one server for app.example.com. */
#define REGION           \
	"regions:\n"     \
	"  - name: r1\n" \
	"    servers:\n" \
	"      - {address: 10.0.0.1, service: app.example.com}\n"
/* 2 lines. */
#define DOMAIN_ITEM "  - {name: app.example.com, regions: [r1]}\n"
#define DOMAIN      "domains:\n" DOMAIN_ITEM

/* 1 line: the gossip key every overwatch needs. */
#define OW_KEY_DOC "overwatch: {gossip: {encryption_key: \"" KEY32 "\"}}\n"

#define A_HEAD     "mode: agent\nagent:\n"
#define A_IDENTITY "  identity: {service_token: \"0123456789abcdef\"}\n"
#define A_BACKENDS      \
	"  backends:\n" \
	"    - {service: app.example.com, address: 10.0.0.1, port: 80}\n"
#define A_GOSSIP                                     \
	"  gossip: {encryption_key: \"" KEY32 "\", " \
	"overwatch_nodes: [\"127.0.0.1:7946\"]}\n"

/* ------------------------------------------------------------------------ */
/* Full configs read back                                                   */

static const char full_overwatch[] =
	"mode: overwatch\n"
	"logging:\n"
	"  level: debug\n"
	"  format: json\n"
	"  output: syslog\n"
	"  facility: local4\n"
	"process:\n"
	"  user: opengslb\n"
	"  group: opengslb-ops\n"
	"metrics:\n"
	"  enabled: true\n"
	"  address: \"127.0.0.1:19090\"\n"
	"api:\n"
	"  enabled: yes\n"
	"  address: \"[::1]:18080\"\n"
	"  allowed_networks: [\"10.0.0.0/8\", \"192.0.2.1\", "
	"\"2001:db8::/32\"]\n"
	"  trust_proxy_headers: on\n"
	"dns:\n"
	"  listen_address: [\"127.0.0.1:5353\", \"[::1]:5353\"]\n"
	"  default_ttl: 30\n"
	"  return_last_healthy: true\n"
	"  workers: 4\n"
	"  max_udp_payload: 1400\n"
	"  nsid: yes\n"
	"  tcp_max_connections: 100\n"
	"  tcp_idle_timeout: 2s\n"
	"  zones:\n"
	"    - example.com\n"
	"    - name: GSLB.Example.NET.\n"
	"      ttl: 600\n"
	"      soa:\n"
	"        mname: NS1.gslb.example.net\n"
	"        rname: admin@example.net\n"
	"        serial: 2024010101\n"
	"        refresh: 2h\n"
	"        retry: 900\n"
	"        expire: 336h\n"
	"        minimum: 30s\n"
	"      nameservers:\n"
	"        - name: ns1.gslb.example.net\n"
	"          addresses: [192.0.2.53, \"2001:db8::53\"]\n"
	"        - ns.other.org\n"
	"regions:\n"
	"  - name: eu\n"
	"    servers:\n"
	"      - address: 10.0.0.1\n"
	"        port: 8080\n"
	"        weight: 0\n"
	"        service: APP.example.com.\n"
	"        host: app.internal\n"
	"      - {address: \"2001:db8::1\", service: www.gslb.example.net}\n"
	"    health_check:\n"
	"      type: HTTPS\n"
	"      interval: 10s\n"
	"      timeout: 2s\n"
	"      path: /healthz\n"
	"      host: check.example.com\n"
	"      failure_threshold: 5\n"
	"      success_threshold: 1\n"
	"      expected_status: [200, \"301-302\", 418]\n"
	"      expected_body: ok\n"
	"      tls_ca_file: /etc/ssl/lab-ca.pem\n"
	"      tls_skip_verify: false\n"
	"  - name: us\n"
	"    servers:\n"
	"      - {address: 10.1.0.1, service: app.example.com}\n"
	"    health_check: {type: tcp}\n"
	"domains:\n"
	"  - name: app.example.com\n"
	"    routing_algorithm: weighted\n"
	"    regions: [us, eu]\n"
	"    ttl: 0\n"
	"    max_records: 2\n"
	"  - name: www.gslb.example.net\n"
	"    routing_algorithm: active-standby\n"
	"    regions: [eu]\n"
	"overwatch:\n"
	"  identity: {node_id: ow-1, region: eu}\n"
	"  agent_tokens:\n"
	"    App.Example.com.: \"token-0123456789abcdef\"\n"
	"  gossip:\n"
	"    bind_address: \"127.0.0.1:17946\"\n"
	"    encryption_key: \"" KEY32 "\"\n"
	"  validation: {enabled: false, check_interval: 1m, check_timeout: "
	"10s}\n"
	"  stale: {threshold: 1m, remove_after: 10m}\n"
	"  dnssec:\n"
	"    enabled: false\n"
	"    security_acknowledgment: \"" GSLB_DNSSEC_ACK "\"\n"
	"    algorithm: ed25519\n"
	"    key_sync:\n"
	"      peers: [\"https://ow2.example.com:8080\", "
	"\"http://10.0.0.2:8080\"]\n"
	"      poll_interval: 30m\n"
	"      timeout: 5s\n"
	"  data_dir: /srv/gslb\n";

static void assert_ip(const struct gslb_ip *ip, const char *text)
{
	char buf[GSLB_IP_STRLEN];
	ck_assert_str_eq(gslb_ip_format(ip, buf), text);
}

static void assert_listen(const struct gslb_sockaddr *sa, const char *ip,
			  uint16_t port)
{
	char buf[GSLB_IP_STRLEN];
	if (sa->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&sa->ss;
		ck_assert_str_eq(
			inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)),
			ip);
		ck_assert_uint_eq(ntohs(sin->sin_port), port);
		ck_assert_uint_eq(sa->len, sizeof(*sin));
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&sa->ss;
		ck_assert_int_eq(sa->ss.ss_family, AF_INET6);
		ck_assert_str_eq(
			inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)),
			ip);
		ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
	}
}

START_TEST(full_overwatch_config)
{
	const struct gslb_config *c = load_ok(OW, full_overwatch);

	ck_assert_int_eq(c->mode, GSLB_MODE_OVERWATCH);
	ck_assert_uint_eq(c->n_files, 1);
	ck_assert_str_eq(c->files[0], tpath("main.yaml"));
	ck_assert_int_eq(c->logging.level, GSLB_LOG_DEBUG);
	ck_assert_int_eq(c->logging.format, GSLB_LOG_JSON);
	ck_assert_int_eq(c->logging.output, GSLB_LOG_SYSLOG);
	ck_assert_int_eq(c->logging.facility, LOG_LOCAL4);
	ck_assert_str_eq(c->process.user, "opengslb");
	ck_assert_str_eq(c->process.group, "opengslb-ops");
	ck_assert(c->metrics.enabled);
	ck_assert_str_eq(c->metrics.address, "127.0.0.1:19090");
	ck_assert(c->api.enabled);
	ck_assert_str_eq(c->api.address, "[::1]:18080");
	ck_assert_uint_eq(c->api.n_allowed_networks, 3);
	assert_ip(&c->api.allowed_networks[0].ip, "10.0.0.0");
	ck_assert_uint_eq(c->api.allowed_networks[0].prefix, 8);
	assert_ip(&c->api.allowed_networks[1].ip, "192.0.2.1");
	ck_assert_uint_eq(c->api.allowed_networks[1].prefix, 32);
	ck_assert_uint_eq(c->api.allowed_networks[2].prefix, 32);
	ck_assert(c->api.trust_proxy_headers);

	const struct gslb_dns_config *dns = &c->dns;
	ck_assert_str_eq(dns->listen_address, "127.0.0.1:5353");
	ck_assert_uint_eq(dns->n_listen, 2);
	assert_listen(&dns->listen[0], "127.0.0.1", 5353);
	assert_listen(&dns->listen[1], "::1", 5353);
	ck_assert_uint_eq(dns->default_ttl, 30);
	ck_assert(dns->return_last_healthy);
	ck_assert_uint_eq(dns->workers, 4);
	ck_assert_uint_eq(dns->max_udp_payload, 1400);
	ck_assert(dns->nsid);
	ck_assert_uint_eq(dns->tcp_max_connections, 100);
	ck_assert_int_eq(dns->tcp_idle_timeout, 2 * GSLB_SEC);

	ck_assert_uint_eq(dns->n_zones, 2);
	const struct gslb_zone *z = &dns->zones[0];
	ck_assert_str_eq(z->name, "example.com");
	ck_assert_uint_eq(z->ttl, 3600);
	ck_assert_str_eq(z->soa.rname, "hostmaster.example.com");
	ck_assert_str_eq(z->soa.mname, "ns1.example.com");
	ck_assert_uint_eq(z->n_nameservers, 1);
	ck_assert_str_eq(z->nameservers[0].name, "ns1.example.com");
	ck_assert_uint_eq(z->nameservers[0].n_addrs, 2);
	assert_ip(&z->nameservers[0].addrs[0], "127.0.0.1");
	assert_ip(&z->nameservers[0].addrs[1], "::1");
	ck_assert_str_eq(z->pos.file, tpath("main.yaml"));
	ck_assert_uint_eq(z->pos.line, 28);
	z = &dns->zones[1];
	ck_assert_str_eq(z->name, "gslb.example.net");
	ck_assert_uint_eq(z->ttl, 600);
	ck_assert_str_eq(z->soa.mname, "ns1.gslb.example.net");
	ck_assert_str_eq(z->soa.rname, "admin.example.net");
	ck_assert_uint_eq(z->soa.serial, 2024010101);
	ck_assert_uint_eq(z->soa.refresh, 7200);
	ck_assert_uint_eq(z->soa.retry, 900);
	ck_assert_uint_eq(z->soa.expire, 336 * 3600);
	ck_assert_uint_eq(z->soa.minimum, 30);
	ck_assert_uint_eq(z->n_nameservers, 2);
	ck_assert_uint_eq(z->nameservers[0].n_addrs, 2);
	assert_ip(&z->nameservers[0].addrs[0], "192.0.2.53");
	assert_ip(&z->nameservers[0].addrs[1], "2001:db8::53");
	ck_assert_str_eq(z->nameservers[1].name, "ns.other.org");
	ck_assert_uint_eq(z->nameservers[1].n_addrs, 0);

	ck_assert_uint_eq(c->n_regions, 2);
	const struct gslb_region *r = &c->regions[0];
	ck_assert_str_eq(r->name, "eu");
	ck_assert_uint_eq(r->n_servers, 2);
	ck_assert_str_eq(r->servers[0].address, "10.0.0.1");
	assert_ip(&r->servers[0].ip, "10.0.0.1");
	ck_assert_uint_eq(r->servers[0].port, 8080);
	ck_assert_uint_eq(r->servers[0].weight, 0);
	ck_assert_str_eq(r->servers[0].service, "app.example.com");
	ck_assert_str_eq(r->servers[0].host, "app.internal");
	ck_assert_uint_eq(r->servers[0].pos.line, 46);
	ck_assert_uint_eq(r->servers[1].port, 80);
	ck_assert_uint_eq(r->servers[1].weight, 100);
	ck_assert_ptr_null(r->servers[1].host);
	assert_ip(&r->servers[1].ip, "2001:db8::1");
	ck_assert_int_eq(r->health_check.type, GSLB_CHECK_HTTPS);
	ck_assert_int_eq(r->health_check.interval, 10 * GSLB_SEC);
	ck_assert_int_eq(r->health_check.timeout, 2 * GSLB_SEC);
	ck_assert_str_eq(r->health_check.path, "/healthz");
	ck_assert_str_eq(r->health_check.host, "check.example.com");
	ck_assert_uint_eq(r->health_check.failure_threshold, 5);
	ck_assert_uint_eq(r->health_check.success_threshold, 1);
	ck_assert_uint_eq(r->health_check.n_expected_status, 3);
	ck_assert_uint_eq(r->health_check.expected_status[0].first, 200);
	ck_assert_uint_eq(r->health_check.expected_status[0].last, 200);
	ck_assert_uint_eq(r->health_check.expected_status[1].first, 301);
	ck_assert_uint_eq(r->health_check.expected_status[1].last, 302);
	ck_assert_uint_eq(r->health_check.expected_status[2].first, 418);
	ck_assert_str_eq(r->health_check.expected_body, "ok");
	ck_assert_str_eq(r->health_check.tls_ca_file, "/etc/ssl/lab-ca.pem");
	ck_assert(!r->health_check.tls_skip_verify);
	r = &c->regions[1];
	ck_assert_int_eq(r->health_check.type, GSLB_CHECK_TCP);
	ck_assert_ptr_null(r->health_check.path);
	ck_assert_uint_eq(r->health_check.n_expected_status, 0);
	ck_assert_ptr_null(r->health_check.expected_body);

	ck_assert_uint_eq(c->n_domains, 2);
	const struct gslb_domain *d = &c->domains[0];
	ck_assert_str_eq(d->name, "app.example.com");
	ck_assert_int_eq(d->algorithm, GSLB_ALG_WEIGHTED);
	ck_assert_uint_eq(d->n_regions, 2);
	ck_assert_str_eq(d->regions[0], "us");
	ck_assert_str_eq(d->regions[1], "eu");
	ck_assert_uint_eq(d->ttl, 0);
	ck_assert_uint_eq(d->max_records, 2);
	ck_assert_uint_eq(d->zone, 0);
	d = &c->domains[1];
	ck_assert_int_eq(d->algorithm, GSLB_ALG_FAILOVER);
	ck_assert_uint_eq(d->ttl, 30); /* dns.default_ttl */
	ck_assert_uint_eq(d->max_records, 1);
	ck_assert_uint_eq(d->zone, 1);

	const struct gslb_overwatch_config *ow = &c->overwatch;
	ck_assert_str_eq(ow->node_id, "ow-1");
	ck_assert_str_eq(ow->region, "eu");
	ck_assert_uint_eq(ow->n_agent_tokens, 1);
	ck_assert_str_eq(ow->agent_tokens[0].service, "app.example.com");
	ck_assert_str_eq(ow->agent_tokens[0].token, "token-0123456789abcdef");
	ck_assert_str_eq(ow->gossip.bind_address, "127.0.0.1:17946");
	ck_assert(ow->gossip.key_set);
	ck_assert_mem_eq(ow->gossip.key, "01234567890123456789012345678901",
			 32);
	ck_assert(!ow->validation.enabled);
	ck_assert_int_eq(ow->validation.check_interval, 60 * GSLB_SEC);
	ck_assert_int_eq(ow->validation.check_timeout, 10 * GSLB_SEC);
	ck_assert_int_eq(ow->stale.threshold, 60 * GSLB_SEC);
	ck_assert_int_eq(ow->stale.remove_after, 600 * GSLB_SEC);
	ck_assert(!ow->dnssec.enabled);
	ck_assert_int_eq(ow->dnssec.algorithm, GSLB_DNSSEC_ED25519);
	ck_assert_uint_eq(ow->dnssec.n_key_sync_peers, 2);
	ck_assert_str_eq(ow->dnssec.key_sync_peers[1], "http://10.0.0.2:8080");
	ck_assert_int_eq(ow->dnssec.key_sync_poll_interval, 1800 * GSLB_SEC);
	ck_assert_int_eq(ow->dnssec.key_sync_timeout, 5 * GSLB_SEC);
	ck_assert_str_eq(ow->data_dir, "/srv/gslb");
}
END_TEST

START_TEST(overwatch_defaults)
{
	time_t before = time(NULL);
	const struct gslb_config *c = load_ok(OW, ZONE REGION DOMAIN);
	time_t after = time(NULL);
	char host[256] = "";

	ck_assert_int_eq(c->logging.level, GSLB_LOG_INFO);
	ck_assert_int_eq(c->logging.format, GSLB_LOG_TEXT);
	ck_assert_int_eq(c->logging.output, GSLB_LOG_STDERR);
	ck_assert_int_eq(c->logging.facility, LOG_DAEMON);
	ck_assert_ptr_null(c->process.user);
	ck_assert_ptr_null(c->process.group);
	ck_assert(!c->metrics.enabled);
	ck_assert_str_eq(c->metrics.address, "127.0.0.1:9090");
	ck_assert(!c->api.enabled);
	ck_assert_str_eq(c->api.address, "127.0.0.1:8080");
	ck_assert_uint_eq(c->api.n_allowed_networks, 2);
	assert_ip(&c->api.allowed_networks[0].ip, "127.0.0.1");
	ck_assert_uint_eq(c->api.allowed_networks[0].prefix, 32);
	assert_ip(&c->api.allowed_networks[1].ip, "::1");
	ck_assert_uint_eq(c->api.allowed_networks[1].prefix, 128);
	ck_assert(!c->api.trust_proxy_headers);
	ck_assert_str_eq(c->api.socket, GSLB_RUNDIR "/overwatch.sock");
	ck_assert_uint_eq(c->api.n_tokens, 0);
	ck_assert_str_eq(c->overwatch.data_dir, GSLB_STATEDIR);

	ck_assert_uint_eq(c->dns.default_ttl, 60);
	ck_assert(!c->dns.return_last_healthy);
	ck_assert_uint_eq(c->dns.workers, 0);
	ck_assert_uint_eq(c->dns.max_udp_payload, 1232);
	ck_assert(!c->dns.nsid);
	ck_assert_uint_eq(c->dns.tcp_max_connections, 256);
	ck_assert_int_eq(c->dns.tcp_idle_timeout, 10 * GSLB_SEC);
	const struct gslb_zone *z = &c->dns.zones[0];
	ck_assert_uint_eq(z->ttl, 3600);
	ck_assert_uint_eq(z->soa.refresh, 3600);
	ck_assert_uint_eq(z->soa.retry, 600);
	ck_assert_uint_eq(z->soa.expire, 1209600);
	ck_assert_uint_eq(z->soa.minimum, 60);
	ck_assert_uint_ge(z->soa.serial, (uint32_t)before);
	ck_assert_uint_le(z->soa.serial, (uint32_t)after);
	ck_assert_uint_eq(z->nameservers[0].n_addrs, 1);
	assert_ip(&z->nameservers[0].addrs[0], "127.0.0.1");

	const struct gslb_server *s = &c->regions[0].servers[0];
	ck_assert_uint_eq(s->port, 80);
	ck_assert_uint_eq(s->weight, 100);
	ck_assert_ptr_null(s->host);
	const struct gslb_health_check *hc = &c->regions[0].health_check;
	ck_assert_int_eq(hc->type, GSLB_CHECK_HTTP);
	ck_assert_int_eq(hc->interval, 30 * GSLB_SEC);
	ck_assert_int_eq(hc->timeout, 5 * GSLB_SEC);
	ck_assert_str_eq(hc->path, "/health");
	ck_assert_ptr_null(hc->host);
	ck_assert_uint_eq(hc->failure_threshold, 3);
	ck_assert_uint_eq(hc->success_threshold, 2);

	const struct gslb_domain *d = &c->domains[0];
	ck_assert_int_eq(d->algorithm, GSLB_ALG_ROUND_ROBIN);
	ck_assert_uint_eq(d->ttl, 60);
	ck_assert_uint_eq(d->max_records, 1);

	const struct gslb_overwatch_config *ow = &c->overwatch;
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	ck_assert_str_eq(ow->node_id, host);
	ck_assert_ptr_null(ow->region);
	ck_assert_uint_eq(ow->n_agent_tokens, 0);
	/* The key is required; with it, gossip listens on the default. */
	ck_assert(ow->gossip.key_set);
	ck_assert_str_eq(ow->gossip.bind_address, "0.0.0.0:7946");
	ck_assert(ow->validation.enabled);
	ck_assert_int_eq(ow->validation.check_interval, 30 * GSLB_SEC);
	ck_assert_int_eq(ow->validation.check_timeout, 5 * GSLB_SEC);
	ck_assert_int_eq(ow->stale.threshold, 30 * GSLB_SEC);
	ck_assert_int_eq(ow->stale.remove_after, 300 * GSLB_SEC);
	ck_assert(ow->dnssec.enabled);
	ck_assert_int_eq(ow->dnssec.algorithm, GSLB_DNSSEC_ECDSAP256SHA256);
	ck_assert_uint_eq(ow->dnssec.n_key_sync_peers, 0);
	ck_assert_int_eq(ow->dnssec.key_sync_poll_interval, 3600 * GSLB_SEC);
	ck_assert_int_eq(ow->dnssec.key_sync_timeout, 30 * GSLB_SEC);
	ck_assert_str_eq(ow->data_dir, GSLB_STATEDIR);
}
END_TEST

START_TEST(empty_file_is_overwatch_without_domains)
{
	const struct gslb_config *c = load_ok(OW, "");
	ck_assert_uint_eq(c->n_domains, 0);
	ck_assert_uint_eq(c->n_regions, 0);
	ck_assert_uint_eq(c->dns.n_zones, 0);
	/* ":53" means both wildcard sockets */
	ck_assert_str_eq(c->dns.listen_address, ":53");
	ck_assert_uint_eq(c->dns.n_listen, 2);
	assert_listen(&c->dns.listen[0], "0.0.0.0", 53);
	assert_listen(&c->dns.listen[1], "::", 53);

	c = load_ok(OW, "# only a comment\n");
	ck_assert_uint_eq(c->n_domains, 0);
	c = load_ok(OW, "---\n");
	ck_assert_uint_eq(c->n_domains, 0);

	/* Still not without the gossip key. */
	gslb_config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(gslb_config_load(write_mode("main.yaml", 0600, ""), OW,
					  &cfg, &errs),
			 GSLB_ECONFIG);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.msgs[0],
				     "overwatch.gossip: encryption_key is "
				     "required"));
}
END_TEST

START_TEST(api_tokens_and_socket)
{
	const struct gslb_config *c =
		load_ok(OW, "api:\n"
			    "  socket: /run/gslb-test/api.sock\n"
			    "  tokens:\n"
			    "    ops: \"ops-token-0123456789\"\n"
			    "    ci.deploy@example: \"ci-token-0123456789\"\n");
	ck_assert_str_eq(c->api.socket, "/run/gslb-test/api.sock");
	ck_assert_uint_eq(c->api.n_tokens, 2);
	ck_assert_str_eq(c->api.tokens[0].name, "ops");
	ck_assert_str_eq(c->api.tokens[0].token, "ops-token-0123456789");
	ck_assert_str_eq(c->api.tokens[1].name, "ci.deploy@example");
	ck_assert_str_eq(c->api.tokens[1].token, "ci-token-0123456789");

	c = load_ok(OW, "api:\n  socket: \"\"\n");
	ck_assert_ptr_null(c->api.socket);
}
END_TEST

START_TEST(gossip_bind_default_with_key)
{
	const struct gslb_config *c = load_ok(
		OW, "overwatch:\n  gossip: {encryption_key: \"" KEY32 "\"}\n");
	ck_assert(c->overwatch.gossip.key_set);
	ck_assert_str_eq(c->overwatch.gossip.bind_address, "0.0.0.0:7946");
}
END_TEST

static const char full_agent[] =
	"mode: AGENT\n"
	"logging: {level: warning, format: text}\n"
	"metrics: {enabled: true, address: \":9100\"}\n"
	"agent:\n"
	"  identity:\n"
	"    service_token: \"0123456789abcdef\"\n"
	"    region: us-east\n"
	"    cert_path: /etc/gslb/agent.crt\n"
	"    key_path: /etc/gslb/agent.key\n"
	"  backends:\n"
	"    - service: App.Example.com\n"
	"      address: backend.internal\n"
	"      port: 8443\n"
	"      weight: 0\n"
	"      health_check: {type: TCP, interval: 2s, timeout: 1s, "
	"failure_threshold: 4, success_threshold: 3}\n"
	"    - {service: app.example.com, address: 10.0.0.2, port: 80}\n"
	"  predictive:\n"
	"    enabled: true\n"
	"    check_interval: 5s\n"
	"    cpu: {threshold: 80, bleed_duration: 1m}\n"
	"    memory: {threshold: 75.5, bleed_duration: 45s}\n"
	"    error_rate: {threshold: 2.5, window: 2m, bleed_duration: 10s}\n"
	"  gossip:\n"
	"    encryption_key: \"" KEY32 "\"\n"
	"    overwatch_nodes: [\"ow1.example.com:7946\", "
	"\"[2001:db8::1]:7946\"]\n"
	"  heartbeat: {interval: 5s, missed_threshold: 5}\n";

START_TEST(full_agent_config)
{
	const struct gslb_config *c = load_ok(AGENT, full_agent);
	const struct gslb_agent_config *a = &c->agent;

	ck_assert_int_eq(c->mode, GSLB_MODE_AGENT);
	ck_assert_int_eq(c->logging.level, GSLB_LOG_WARN);
	ck_assert_str_eq(c->metrics.address, ":9100");
	ck_assert_str_eq(a->identity.service_token, "0123456789abcdef");
	ck_assert_str_eq(a->identity.region, "us-east");
	ck_assert_str_eq(a->identity.cert_path, "/etc/gslb/agent.crt");
	ck_assert_str_eq(a->identity.key_path, "/etc/gslb/agent.key");
	ck_assert_uint_eq(a->n_backends, 2);
	ck_assert_str_eq(a->backends[0].service, "app.example.com");
	ck_assert_str_eq(a->backends[0].address, "backend.internal");
	ck_assert_uint_eq(a->backends[0].port, 8443);
	ck_assert_uint_eq(a->backends[0].weight, 0);
	ck_assert_uint_eq(a->backends[0].pos.line, 11);
	const struct gslb_health_check *hc = &a->backends[0].health_check;
	ck_assert_int_eq(hc->type, GSLB_CHECK_TCP);
	ck_assert_ptr_null(hc->path);
	ck_assert_int_eq(hc->interval, 2 * GSLB_SEC);
	ck_assert_int_eq(hc->timeout, 1 * GSLB_SEC);
	ck_assert_uint_eq(hc->failure_threshold, 4);
	ck_assert_uint_eq(hc->success_threshold, 3);
	ck_assert_uint_eq(a->backends[1].weight, 100);
	ck_assert_str_eq(a->backends[1].health_check.path, "/health");
	ck_assert(a->predictive.enabled);
	ck_assert_int_eq(a->predictive.check_interval, 5 * GSLB_SEC);
	ck_assert_double_eq(a->predictive.cpu_threshold, 80);
	ck_assert_int_eq(a->predictive.cpu_bleed_duration, 60 * GSLB_SEC);
	ck_assert_double_eq(a->predictive.memory_threshold, 75.5);
	ck_assert_int_eq(a->predictive.memory_bleed_duration, 45 * GSLB_SEC);
	ck_assert_double_eq(a->predictive.error_rate_threshold, 2.5);
	ck_assert_int_eq(a->predictive.error_rate_window, 120 * GSLB_SEC);
	ck_assert_int_eq(a->predictive.error_rate_bleed_duration,
			 10 * GSLB_SEC);
	ck_assert(a->gossip.key_set);
	ck_assert_mem_eq(a->gossip.key, "01234567890123456789012345678901", 32);
	ck_assert_uint_eq(a->gossip.n_overwatch_nodes, 2);
	ck_assert_str_eq(a->gossip.overwatch_nodes[0], "ow1.example.com:7946");
	ck_assert_int_eq(a->heartbeat.interval, 5 * GSLB_SEC);
	ck_assert_uint_eq(a->heartbeat.missed_threshold, 5);
}
END_TEST

START_TEST(agent_defaults)
{
	const struct gslb_config *c =
		load_ok(AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP);
	const struct gslb_agent_config *a = &c->agent;

	ck_assert_int_eq(c->mode, GSLB_MODE_AGENT);
	ck_assert_ptr_null(a->identity.region);
	ck_assert_str_eq(a->identity.cert_path, GSLB_STATEDIR "/agent.crt");
	ck_assert_str_eq(a->identity.key_path, GSLB_STATEDIR "/agent.key");
	ck_assert_uint_eq(a->backends[0].weight, 100);
	ck_assert_int_eq(a->backends[0].health_check.type, GSLB_CHECK_HTTP);
	ck_assert_str_eq(a->backends[0].health_check.path, "/health");
	ck_assert(!a->predictive.enabled);
	ck_assert_int_eq(a->predictive.check_interval, 10 * GSLB_SEC);
	ck_assert_double_eq(a->predictive.cpu_threshold, 90);
	ck_assert_double_eq(a->predictive.memory_threshold, 85);
	ck_assert_double_eq(a->predictive.error_rate_threshold, 10);
	ck_assert_int_eq(a->predictive.error_rate_window, 60 * GSLB_SEC);
	ck_assert_int_eq(a->predictive.cpu_bleed_duration, 30 * GSLB_SEC);
	ck_assert_int_eq(a->predictive.memory_bleed_duration, 30 * GSLB_SEC);
	ck_assert_int_eq(a->predictive.error_rate_bleed_duration,
			 30 * GSLB_SEC);
	ck_assert_int_eq(a->heartbeat.interval, 10 * GSLB_SEC);
	ck_assert_uint_eq(a->heartbeat.missed_threshold, 3);
	ck_assert_int_eq(c->logging.level, GSLB_LOG_INFO);
	ck_assert_str_eq(c->metrics.address, "127.0.0.1:9090");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* One rule broken per file                                                 */

struct bad_case {
	enum gslb_mode mode;
	const char *yaml;
	unsigned line;
	const char *key;
	const char *needle;
};

static const struct bad_case bad_cases[] = {
	/* parsing */
	{ OW, "dns:\n  listen_adress: \":53\"\n", 2, "dns.listen_adress",
	  "unknown key \"listen_adress\" (did you mean \"listen_address\"?)" },
	{ OW, "loging:\n  level: info\n", 1, "loging",
	  "unknown key \"loging\" (did you mean \"logging\"?)" },
	{ OW, "dns:\n  default_ttl: 5\n  default_ttl: 6\n", 3,
	  "dns.default_ttl", "duplicate key \"default_ttl\"" },
	{ OW, "logging: {}\n" OW_KEY_DOC "---\nlogging: {}\n", 3, "",
	  "more than one YAML document" },
	{ OW, "logging: &base {level: info}\nmetrics: *base\n", 1, "",
	  "YAML aliases are not supported" },
	{ OW, "logging:\n  level: !!str info\n", 2, "",
	  "YAML tags are not supported" },
	{ OW, "[1, 2]\n", 1, "",
	  "expected a mapping of keys at the top level, found a list" },
	/* types */
	{ OW, "dns:\n  default_ttl: abc\n", 2, "dns.default_ttl",
	  "expected an integer, found \"abc\"" },
	{ OW, "dns:\n  default_ttl: 1.5\n", 2, "dns.default_ttl",
	  "expected an integer, found \"1.5\"" },
	{ OW, "dns:\n  default_ttl: 0x10\n", 2, "dns.default_ttl",
	  "expected an integer, found \"0x10\"" },
	{ OW, "dns: [1, 2]\n", 1, "dns", "expected a mapping, found a list" },
	{ OW, "regions: {a: 1}\n", 1, "regions",
	  "expected a list of regions, found a mapping" },
	{ OW, "metrics:\n  enabled: maybe\n", 2, "metrics.enabled",
	  "expected a boolean (true or false), found \"maybe\"" },
	{ OW, "logging:\n  level: [debug]\n", 2, "logging.level",
	  "expected a string, found a list" },
	{ OW, "overwatch:\n  stale: {threshold: 30}\n", 2,
	  "overwatch.stale.threshold",
	  "expected a duration such as \"30s\" or \"1m30s\", found \"30\"" },
	{ OW, "overwatch:\n  stale: {threshold: 30 s}\n", 2,
	  "overwatch.stale.threshold", "expected a duration such as" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {cpu: {threshold: high}}\n",
	  7, "agent.predictive.cpu.threshold",
	  "expected a number, found \"high\"" },
	/* mode */
	{ OW, "mode: agent\n", 1, "mode",
	  "this file is for gslb-agentd (mode: agent); gslb-overwatchd needs "
	  "mode: overwatch" },
	{ AGENT, "mode: overwatch\n", 1, "mode",
	  "this file is for gslb-overwatchd (mode: overwatch); gslb-agentd "
	  "needs mode: agent" },
	{ OW, "mode: bogus\n", 1, "mode",
	  "invalid mode \"bogus\": must be 'agent' or 'overwatch'" },
	{ OW, "agent:\n  identity: {}\n", 1, "agent",
	  "used only by gslb-agentd" },
	{ AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP "dns: {}\n", 7, "dns",
	  "used only by gslb-overwatchd" },
	{ AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP "regions: []\n", 7,
	  "regions", "used only by gslb-overwatchd" },
	{ AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP "domains: []\n", 7,
	  "domains", "used only by gslb-overwatchd" },
	{ AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP "overwatch: {}\n", 7,
	  "overwatch", "used only by gslb-overwatchd" },
	{ AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP "api: {}\n", 7, "api",
	  "used only by gslb-overwatchd" },
	{ OW, "regions: [r1]\n", 1, "regions[0]",
	  "expected a mapping, found \"r1\"" },
	{ OW, "domains:\n  -\n", 2, "domains[0]",
	  "expected a mapping, found an empty value" },
	{ OW, "api:\n  allowed_networks: [~]\n", 2, "api.allowed_networks[0]",
	  "expected a CIDR prefix, found an empty value" },
	{ OW, "dns:\n  listen_address: {a: 1}\n", 2, "dns.listen_address",
	  "expected a host:port string or a list of them, found a mapping" },
	{ OW, "dns:\n  zones: [[a]]\n", 2, "dns.zones[0]",
	  "expected a zone name or a mapping, found a list" },
	{ OW,
	  "overwatch:\n  agent_tokens:\n    a.example.com: aaaaaaaaaaaaaaaa\n"
	  "    a.example.com: bbbbbbbbbbbbbbbb\n",
	  4, "overwatch.agent_tokens.a.example.com",
	  "duplicate key \"a.example.com\"" },
	{ OW, "includes: [\"\"]\n", 1, "includes[0]", "empty include pattern" },
	{ OW, "includes: [[a]]\n", 1, "includes[0]",
	  "expected a file pattern, found a list" },
	{ OW,
	  "{[a]: 1, overwatch: {gossip: {encryption_key: \"" KEY32 "\"}}}\n", 1,
	  "", "mapping keys must be plain strings, not a list or a mapping" },
	/* logging, metrics, api */
	{ OW, "logging:\n  level: verbose\n", 2, "logging.level",
	  "invalid level \"verbose\": must be debug, info, warn, or error" },
	{ OW, "logging:\n  format: xml\n", 2, "logging.format",
	  "invalid format \"xml\": must be text or json" },
	{ OW, "logging:\n  output: journal\n", 2, "logging.output",
	  "invalid output \"journal\": must be stderr or syslog" },
	{ OW, "logging:\n  facility: kern\n", 2, "logging.facility",
	  "invalid facility \"kern\": must be daemon, user or local0 to "
	  "local7" },
	{ OW, "process:\n  user: [a]\n", 2, "process.user",
	  "expected a string, found a list" },
	{ OW,
	  "process:\n  group: "
	  "abcdefghijklmnopqrstuvwxyz0123456789\n",
	  2, "process.group", "group must be at most 32 characters" },
	/* the sample configs' placeholder secrets */
	{ OW,
	  "overwatch:\n  gossip:\n    encryption_key: "
	  "\"Q0hBTkdFLU1FLWdlbmVyYXRlLXlvdXItb3duLWtleSE=\"\n",
	  3, "overwatch.gossip.encryption_key",
	  "this is the sample configuration's placeholder: replace it with a "
	  "secret of your own (openssl rand -base64 32)" },
	{ OW,
	  "overwatch:\n  agent_tokens:\n    a.example.com: "
	  "CHANGE-ME-to-the-service-token\n",
	  3, "overwatch.agent_tokens.a.example.com",
	  "this is the sample configuration's placeholder" },
	{ OW, "api:\n  tokens:\n    ops: CHANGE-ME-replace-this\n", 3,
	  "api.tokens.ops", "this is the sample configuration's placeholder" },
	{ OW, "metrics:\n  address: localhost\n", 2, "metrics.address",
	  "address \"localhost\": must be host:port" },
	{ OW, "metrics:\n  address: \"127.0.0.1:0\"\n", 2, "metrics.address",
	  "address \"127.0.0.1:0\": port must be between 1 and 65535" },
	{ OW, "metrics:\n  address: \"bad host:80\"\n", 2, "metrics.address",
	  "host must be an IP address or a host name" },
	{ OW, "api:\n  address: \"127.0.0.1\"\n", 2, "api.address",
	  "must be host:port" },
	{ OW, "api:\n  enabled: false\n  allowed_networks: [10.0.0.0/33]\n", 3,
	  "api.allowed_networks[0]", "invalid CIDR \"10.0.0.0/33\"" },
	{ OW, "api:\n  allowed_networks: [10.0.0.0/8, nonsense]\n", 2,
	  "api.allowed_networks[1]", "invalid CIDR \"nonsense\"" },
	{ OW, "api:\n  tokens:\n    ops: short\n", 3, "api.tokens.ops",
	  "token must be at least 16 printable characters without spaces" },
	{ OW, "api:\n  tokens:\n    ops: \"has a space 0123456789\"\n", 3,
	  "api.tokens.ops", "at least 16 printable characters" },
	{ OW,
	  "api:\n  tokens:\n    a: \"same-token-0123456789\"\n"
	  "    b: \"same-token-0123456789\"\n",
	  4, "api.tokens.b", "each name needs its own token" },
	{ OW, "api:\n  tokens:\n    \"bad name\": \"token-0123456789abc\"\n", 3,
	  "api.tokens.bad name", "use letters, digits and -_.@ only" },
	{ OW, "api:\n  tokens: [a, b]\n", 2, "api.tokens",
	  "expected a mapping of name to token, found a list" },
	{ OW, "api:\n  socket: run/api.sock\n", 2, "api.socket",
	  "must be an absolute path (or \"\" for no socket)" },
	{ OW,
	  "api:\n  socket: /tmp/"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock\n",
	  2, "api.socket", "at most 107 fit" },
	{ OW, "api:\n  allowed_networks: []\n", 2, "api.allowed_networks",
	  "at least one network required" },
	/* dns */
	{ OW, "dns:\n  listen_address: \"localhost:53\"\n", 2,
	  "dns.listen_address", "host must be an IP address" },
	{ OW, "dns:\n  listen_address: \"127.0.0.1\"\n", 2,
	  "dns.listen_address", "must be host:port" },
	{ OW, "dns:\n  listen_address: [\"127.0.0.1:53\", \"127.0.0.1:53\"]\n",
	  2, "dns.listen_address[1]",
	  "duplicate listen address \"127.0.0.1:53\"" },
	{ OW, "dns:\n  listen_address: [\":53\", \"127.0.0.1:53\"]\n", 2,
	  "dns.listen_address[1]", "a wildcard address takes the whole port" },
	{ OW, "dns:\n  listen_address: []\n", 2, "dns.listen_address",
	  "at least one address required" },
	{ OW,
	  "dns:\n  listen_address: \"localhost:53\"\n  zones: [example.com]\n",
	  2, "dns.listen_address", "host must be an IP address" },
	{ OW, "dns:\n  tcp_idle_timeout: 9999999999h\n", 2,
	  "dns.tcp_idle_timeout",
	  "tcp_idle_timeout \"9999999999h\" is too large" },
	{ OW, "dns:\n  default_ttl: -1\n", 2, "dns.default_ttl",
	  "default_ttl must be between 0 and 2147483647 (got -1)" },
	{ OW, "dns:\n  default_ttl: 2147483648\n", 2, "dns.default_ttl",
	  "default_ttl must be between 0 and 2147483647" },
	{ OW, "dns:\n  workers: 257\n", 2, "dns.workers",
	  "workers must be between 0 and 256 (got 257)" },
	{ OW, "dns:\n  max_udp_payload: 511\n", 2, "dns.max_udp_payload",
	  "max_udp_payload must be between 512 and 4096" },
	{ OW, "dns:\n  max_udp_payload: 4097\n", 2, "dns.max_udp_payload",
	  "max_udp_payload must be between 512 and 4096" },
	{ OW, "dns:\n  tcp_max_connections: 0\n", 2, "dns.tcp_max_connections",
	  "tcp_max_connections must be between 1 and 65535" },
	{ OW, "dns:\n  tcp_idle_timeout: 50ms\n", 2, "dns.tcp_idle_timeout",
	  "tcp_idle_timeout must be at least 100ms (got 50ms)" },
	{ OW, "dns:\n  return_last_healthy: 1\n", 2, "dns.return_last_healthy",
	  "expected a boolean" },
	/* dns.zones */
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones: [\"exa "
	  "mple.com\"]\n",
	  3, "dns.zones[0]",
	  "name \"exa mple.com\": not a valid DNS name (invalid character ' "
	  "')" },
	{ OW, "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones: [a..b]\n", 3,
	  "dns.zones[0]", "not a valid DNS name (empty label)" },
	{ OW, "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones: [\".\"]\n", 3,
	  "dns.zones[0]", "the root zone is not allowed here" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones:\n    - ttl: 60\n",
	  4, "dns.zones[0]", "name is required" },
	{ OW, "dns:\n  zones: [example.com]\n", 2, "dns.zones[0].nameservers",
	  "required when dns.listen_address is not a specific IP address (the "
	  "default NS ns1.example.com needs one)" },
	{ OW,
	  "dns:\n  listen_address: [\"127.0.0.1:53\", \"0.0.0.0:54\"]\n"
	  "  zones: [example.com]\n",
	  3, "dns.zones[0].nameservers", "is not a specific IP address" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n"
	  "  zones: [example.com, Example.COM.]\n",
	  3, "dns.zones[1]", "duplicate zone name \"example.com\"" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n"
	  "  zones: [example.com, gslb.example.com]\n",
	  3, "dns.zones[1]",
	  "zone \"gslb.example.com\" overlaps zone \"example.com\" "
	  "(dns.zones[0]); nested zones are not supported" },
	{ OW,
	  "dns:\n  zones:\n    - name: example.com\n"
	  "      nameservers: [ns1.example.com]\n",
	  4, "dns.zones[0].nameservers[0]",
	  "\"ns1.example.com\" is inside the zone and needs addresses" },
	{ OW,
	  "dns:\n  zones:\n    - name: example.com\n      nameservers:\n"
	  "        - {name: ns.other.net, addresses: [192.0.2.1]}\n",
	  5, "dns.zones[0].nameservers[0]",
	  "\"ns.other.net\" is outside the zone: its addresses are not served "
	  "here" },
	{ OW,
	  "dns:\n  zones:\n    - name: example.com\n      nameservers: []\n", 4,
	  "dns.zones[0].nameservers", "at least one name server required" },
	{ OW,
	  "dns:\n  zones:\n    - name: example.com\n      nameservers:\n"
	  "        - {name: ns1.example.com, addresses: [not-an-ip]}\n",
	  5, "dns.zones[0].nameservers[0].addresses[0]",
	  "address \"not-an-ip\": must be an IP address" },
	{ OW,
	  "dns:\n  zones:\n    - name: example.com\n      nameservers:\n"
	  "        - {addresses: [192.0.2.1]}\n",
	  5, "dns.zones[0].nameservers[0]", "name is required" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones:\n"
	  "    - {name: example.com, soa: {serial: 0}}\n",
	  4, "dns.zones[0].soa.serial",
	  "serial must be between 1 and 4294967295 (got 0)" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones:\n"
	  "    - {name: example.com, soa: {refresh: 1.5s}}\n",
	  4, "dns.zones[0].soa.refresh",
	  "refresh must be a whole number of seconds (got 1.5s)" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones:\n"
	  "    - {name: example.com, soa: {retry: 0s}}\n",
	  4, "dns.zones[0].soa.retry", "retry must be between 1s and" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones:\n"
	  "    - {name: example.com, soa: {rname: john.doe@example.com}}\n",
	  4, "dns.zones[0].soa.rname",
	  "rname \"john.doe@example.com\": the part before @ must not "
	  "contain dots" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones:\n"
	  "    - {name: example.com, ttl: -5}\n",
	  4, "dns.zones[0].ttl", "ttl must be between 0 and 2147483647" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones:\n"
	  "    - {name: example.com, nameservers: [{name: app.example.com, "
	  "addresses: [192.0.2.1]}]}\n" REGION DOMAIN,
	  4, "dns.zones[0].nameservers[0]",
	  "name server \"app.example.com\" is also configured as a domain "
	  "(domains[0])" },
	{ OW,
	  "dns:\n  zones:\n    - name: example.com\n"
	  "      nameservers: [ns.example.net, NS.example.net.]\n",
	  4, "dns.zones[0].nameservers[1]",
	  "duplicate name server \"ns.example.net\"" },
	{ OW,
	  "dns:\n  listen_address: \"127.0.0.1:53\"\n"
	  "  zones: [a123456789b123456789c123456789d123456789e123456789"
	  "f123456789abcd.com]\n",
	  3, "dns.zones[0]", "label longer than 63 characters" },
	/* regions */
	{ OW,
	  "regions:\n  - servers:\n"
	  "      - {address: 10.0.0.9, service: app.example.com}\n"
	  "  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.1, service: app.example.com}\n" ZONE DOMAIN,
	  2, "regions[0]", "name is required" },
	{ OW,
	  REGION
	  "  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.2, service: app.example.com}\n" ZONE DOMAIN,
	  5, "regions[1].name", "duplicate region name \"r1\"" },
	{ OW, "regions:\n  - name: r1\n" ZONE DOMAIN, 2, "regions[0]",
	  "at least one server required" },
	{ OW, "regions:\n  - name: r1\n    servers: []\n" ZONE DOMAIN, 3,
	  "regions[0].servers", "at least one server required" },
	{ OW,
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {service: app.example.com}\n" ZONE DOMAIN,
	  4, "regions[0].servers[0]", "address is required" },
	{ OW,
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {address: web1.example.com, service: app.example.com}\n" ZONE
		  DOMAIN,
	  4, "regions[0].servers[0].address",
	  "address \"web1.example.com\": must be an IP address" },
	{ OW,
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.1, port: 0, service: "
	  "app.example.com}\n" ZONE DOMAIN,
	  4, "regions[0].servers[0].port",
	  "port must be between 1 and 65535 (got 0)" },
	{ OW,
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.1, port: 65536, service: "
	  "app.example.com}\n" ZONE DOMAIN,
	  4, "regions[0].servers[0].port", "port must be between 1 and 65535" },
	{ OW,
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.1, weight: 1000001, service: "
	  "app.example.com}\n" ZONE DOMAIN,
	  4, "regions[0].servers[0].weight",
	  "weight must be between 0 and 1000000" },
	{ OW,
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.1, weight: -1, service: "
	  "app.example.com}\n" ZONE DOMAIN,
	  4, "regions[0].servers[0].weight",
	  "weight must be between 0 and 1000000 (got -1)" },
	{ OW,
	  "regions:\n  - name: r1\n    servers:\n      - {address: "
	  "10.0.0.1}\n" ZONE DOMAIN,
	  4, "regions[0].servers[0]",
	  "service is required. Each server must specify which domain/service "
	  "it belongs to. Example: service: webapp.example.com" },
	{ OW,
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.1, service: app.example.com}\n"
	  "      - {address: 10.0.0.2, service: other.example.com}\n" ZONE
		  DOMAIN,
	  5, "regions[0].servers[1].service",
	  "service \"other.example.com\": domain not found. Ensure this domain "
	  "is defined in the domains section" },
	{ OW,
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.1, service: app.example.com}\n"
	  "  - name: r2\n    servers:\n"
	  "      - {address: 10.0.0.1, service: App.Example.Com.}\n" ZONE
		  DOMAIN,
	  7, "regions[1].servers[0]",
	  "server 10.0.0.1 port 80 for service \"app.example.com\" is already "
	  "defined at " },
	{ OW, REGION "    health_check: {type: icmp}\n" ZONE DOMAIN, 5,
	  "regions[0].health_check.type",
	  "type \"icmp\": must be http, https, or tcp" },
	{ OW,
	  REGION
	  "    health_check: {interval: 500ms, timeout: 100ms}\n" ZONE DOMAIN,
	  5, "regions[0].health_check.interval",
	  "interval must be at least 1s (got 500ms)" },
	{ OW, REGION "    health_check: {timeout: 50ms}\n" ZONE DOMAIN, 5,
	  "regions[0].health_check.timeout",
	  "timeout must be at least 100ms (got 50ms)" },
	{ OW,
	  REGION "    health_check: {interval: 2s, timeout: 2s}\n" ZONE DOMAIN,
	  5, "regions[0].health_check.timeout",
	  "timeout (2s) must be less than interval (2s)" },
	{ OW, REGION "    health_check: {interval: 3s}\n" ZONE DOMAIN, 5,
	  "regions[0].health_check.interval",
	  "timeout (5s) must be less than interval (3s)" },
	{ OW, REGION "    health_check: {path: healthz}\n" ZONE DOMAIN, 5,
	  "regions[0].health_check.path",
	  "path \"healthz\": must start with \"/\"" },
	{ OW, REGION "    health_check: {type: tcp, path: /x}\n" ZONE DOMAIN, 5,
	  "regions[0].health_check.path",
	  "path is used only by http and https checks" },
	{ OW,
	  REGION "    health_check: {path: \"/health check\"}\n" ZONE DOMAIN, 5,
	  "regions[0].health_check.path",
	  "path \"/health check\": spaces and control characters must be "
	  "percent-encoded" },
	{ OW,
	  REGION "    health_check: {host: \"a.example\\r\\nX-Evil: 1\"}\n" ZONE
		  DOMAIN,
	  5, "regions[0].health_check.host",
	  "host \"a.example\r\nX-Evil: 1\": must be a host name, without "
	  "spaces or control characters" },
	{ OW,
	  REGION
	  "    health_check: {type: tcp, expected_status: [200]}\n" ZONE DOMAIN,
	  5, "regions[0].health_check.expected_status",
	  "expected_status is used only by http and https checks" },
	{ OW,
	  REGION
	  "    health_check: {type: http, tls_skip_verify: true}\n" ZONE DOMAIN,
	  5, "regions[0].health_check.tls_skip_verify",
	  "tls_skip_verify is used only by https checks" },
	{ OW,
	  REGION
	  "    health_check: {expected_status: [\"299-200\"]}\n" ZONE DOMAIN,
	  5, "regions[0].health_check.expected_status[0]",
	  "status \"299-200\": expected a code 100-599 or a range such as "
	  "\"200-399\"" },
	{ OW, REGION "    health_check: {expected_status: [600]}\n" ZONE DOMAIN,
	  5, "regions[0].health_check.expected_status[0]",
	  "status \"600\": expected a code 100-599 or a range such as "
	  "\"200-399\"" },
	{ OW, REGION "    health_check: {expected_status: 200}\n" ZONE DOMAIN,
	  5, "regions[0].health_check.expected_status",
	  "expected a list of status codes or ranges (200, \"200-399\")" },
	{ OW, REGION "    health_check: {failure_threshold: 0}\n" ZONE DOMAIN,
	  5, "regions[0].health_check.failure_threshold",
	  "failure_threshold must be between 1 and 100 (got 0)" },
	{ OW, REGION "    health_check: {success_threshold: 101}\n" ZONE DOMAIN,
	  5, "regions[0].health_check.success_threshold",
	  "success_threshold must be between 1 and 100" },
	/* domains */
	{ OW, "domains:\n  - {regions: [r1]}\n" DOMAIN_ITEM ZONE REGION, 2,
	  "domains[0]", "name is required" },
	{ OW,
	  DOMAIN "  - {name: APP.example.com., regions: [r1]}\n" ZONE REGION, 3,
	  "domains[1].name", "duplicate domain name \"app.example.com\"" },
	{ OW,
	  "domains:\n  - {name: app.example.com, regions: [r1], "
	  "routing_algorithm: geolocation}\n" ZONE REGION,
	  2, "domains[0].routing_algorithm",
	  "routing_algorithm \"geolocation\": not supported by this version "
	  "(supported: round-robin, weighted, failover)" },
	{ OW,
	  "domains:\n  - {name: app.example.com, regions: [r1], "
	  "routing_algorithm: random}\n" ZONE REGION,
	  2, "domains[0].routing_algorithm",
	  "routing_algorithm \"random\": must be round-robin, weighted, or "
	  "failover" },
	{ OW, "domains:\n  - {name: app.example.com}\n" ZONE REGION, 2,
	  "domains[0]", "at least one region required" },
	{ OW,
	  "domains:\n  - {name: app.example.com, regions: []}\n" ZONE REGION, 2,
	  "domains[0].regions", "at least one region required" },
	{ OW,
	  "domains:\n  - {name: app.example.com, regions: [r1, r9]}\n" ZONE
		  REGION,
	  2, "domains[0].regions[1]", "region \"r9\" not found" },
	{ OW,
	  "domains:\n  - {name: app.example.com, regions: [r1, r1]}\n" ZONE
		  REGION,
	  2, "domains[0].regions[1]", "region \"r1\" listed twice" },
	{ OW,
	  "domains:\n  - {name: app.example.com, regions: [r1], ttl: -1}\n" ZONE
		  REGION,
	  2, "domains[0].ttl", "ttl must be between 0 and 2147483647" },
	{ OW,
	  "domains:\n  - {name: app.example.com, regions: [r1], "
	  "max_records: 0}\n" ZONE REGION,
	  2, "domains[0].max_records",
	  "max_records must be between 1 and 64 (got 0)" },
	{ OW,
	  "domains:\n  - {name: app.example.com, regions: [r1], "
	  "max_records: 65}\n" ZONE REGION,
	  2, "domains[0].max_records", "max_records must be between 1 and 64" },
	{ OW,
	  "domains:\n  - {name: app.example.org, regions: [r1]}\n" ZONE
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.1, service: app.example.org}\n",
	  2, "domains[0].name",
	  "name \"app.example.org\": not inside any zone of dns.zones; add its "
	  "zone there" },
	{ OW, DOMAIN REGION, 2, "domains[0].name",
	  "name \"app.example.com\": not inside any zone of dns.zones" },
	{ OW,
	  "domains:\n  - {name: \"app_ .example.com\", regions: "
	  "[r1]}\n" DOMAIN_ITEM ZONE REGION,
	  2, "domains[0].name", "not a valid DNS name" },
	/* overwatch */
	{ OW, "overwatch:\n  agent_tokens:\n    app.example.com: short\n", 3,
	  "overwatch.agent_tokens.app.example.com",
	  "token must be at least 16 characters" },
	{ OW,
	  "overwatch:\n  agent_tokens:\n    \"bad name\": 0123456789abcdef0\n",
	  3, "overwatch.agent_tokens.bad name", "not a valid DNS name" },
	{ OW, "overwatch:\n  agent_tokens: [a, b]\n", 2,
	  "overwatch.agent_tokens",
	  "expected a mapping of service to token, found a list" },
	{ OW, "overwatch:\n  gossip:\n    bind_address: \"0.0.0.0:7946\"\n", 3,
	  "overwatch.gossip",
	  "encryption_key is required. OpenGSLB requires encrypted gossip "
	  "communication. Generate a key with: openssl rand -base64 32" },
	{ OW, "overwatch:\n  gossip:\n    encryption_key: \"not base64!\"\n", 3,
	  "overwatch.gossip.encryption_key",
	  "encryption_key must be valid base64: illegal base64 data at input "
	  "byte 3" },
	{ OW, "overwatch:\n  gossip:\n    encryption_key: \"" KEY16 "\"\n", 3,
	  "overwatch.gossip.encryption_key",
	  "encryption_key must be exactly 32 bytes (got 16). Ensure you're "
	  "using a 256-bit key. Generate with: openssl rand -base64 32" },
	{ OW, "overwatch:\n  gossip:\n    encryption_key: \"MDEy\"\n", 3,
	  "overwatch.gossip.encryption_key", "exactly 32 bytes (got 3)" },
	{ OW, "overwatch:\n  gossip:\n    encryption_key: \"MDE=MDEy\"\n", 3,
	  "overwatch.gossip.encryption_key",
	  "must be valid base64: illegal base64 data at input byte 4" },
	{ OW, "overwatch:\n  gossip:\n    encryption_key: \"MDE\"\n", 3,
	  "overwatch.gossip.encryption_key", "must be valid base64" },
	{ OW,
	  "overwatch:\n  validation: {check_interval: 5s, check_timeout: 5s}\n",
	  2, "overwatch.validation.check_timeout",
	  "check_timeout (5s) must be less than check_interval (5s)" },
	{ OW, "overwatch:\n  validation: {check_interval: 0s}\n", 2,
	  "overwatch.validation.check_interval",
	  "check_interval must be at least 1s" },
	{ OW, "overwatch:\n  stale: {threshold: 1m, remove_after: 1m}\n", 2,
	  "overwatch.stale.remove_after",
	  "remove_after (1m) must be greater than threshold (1m)" },
	{ OW, "overwatch:\n  stale: {threshold: 10m}\n", 2,
	  "overwatch.stale.threshold",
	  "remove_after (5m) must be greater than threshold (10m)" },
	{ OW, "overwatch:\n  dnssec:\n    enabled: false\n", 3,
	  "overwatch.dnssec",
	  "to disable DNSSEC, security_acknowledgment must be set to: "
	  "\"" GSLB_DNSSEC_ACK "\"" },
	{ OW,
	  "overwatch:\n  dnssec:\n    enabled: no\n"
	  "    security_acknowledgment: \"I understand\"\n",
	  4, "overwatch.dnssec.security_acknowledgment",
	  "to disable DNSSEC, security_acknowledgment must be set to:" },
	{ OW, "overwatch:\n  dnssec:\n    algorithm: RSASHA256\n", 3,
	  "overwatch.dnssec.algorithm",
	  "algorithm \"RSASHA256\": must be ECDSAP256SHA256, ECDSAP384SHA384, "
	  "or ED25519" },
	{ OW, "overwatch:\n  dnssec:\n    key_sync: {peers: [\"ftp://ow2\"]}\n",
	  3, "overwatch.dnssec.key_sync.peers[0]",
	  "\"ftp://ow2\": must be a URL starting with http:// or https://" },
	{ OW, "overwatch:\n  dnssec:\n    key_sync: {poll_interval: 10ms}\n", 3,
	  "overwatch.dnssec.key_sync.poll_interval",
	  "poll_interval must be at least 1s" },
	{ OW, "overwatch:\n  data_dir: var/lib/gslb\n", 2, "overwatch.data_dir",
	  "data_dir \"var/lib/gslb\": must be an absolute path" },
	{ OW, "overwatch:\n  identity: {node_id: [a]}\n", 2,
	  "overwatch.identity.node_id", "expected a string, found a list" },
	/* agent */
	{ AGENT, A_HEAD A_BACKENDS A_GOSSIP, 3, "agent.identity",
	  "service_token is required" },
	{ AGENT, A_HEAD "  identity: {region: eu}\n" A_BACKENDS A_GOSSIP, 3,
	  "agent.identity", "service_token is required" },
	{ AGENT,
	  A_HEAD
	  "  identity: {service_token: short-token}\n" A_BACKENDS A_GOSSIP,
	  3, "agent.identity.service_token",
	  "service_token must be at least 16 characters" },
	{ AGENT, A_HEAD A_IDENTITY A_GOSSIP, 3, "agent.backends",
	  "at least one backend is required" },
	{ AGENT,
	  A_HEAD "  identity: {service_token: \"CHANGE-ME-to-the-service-"
		 "token\"}\n" A_BACKENDS A_GOSSIP,
	  3, "agent.identity.service_token",
	  "this is the sample configuration's placeholder" },
	{ AGENT, A_HEAD A_IDENTITY "  backends: []\n" A_GOSSIP, 4,
	  "agent.backends", "at least one backend is required" },
	{ AGENT, A_HEAD A_IDENTITY "  backends: [web]\n" A_GOSSIP, 4,
	  "agent.backends[0]", "expected a mapping, found \"web\"" },
	{ AGENT,
	  A_HEAD A_IDENTITY
	  "  backends:\n    - {address: 10.0.0.1, port: 80}\n" A_GOSSIP,
	  5, "agent.backends[0]", "service is required" },
	{ AGENT,
	  A_HEAD A_IDENTITY
	  "  backends:\n    - {service: app.example.com, port: 80}\n" A_GOSSIP,
	  5, "agent.backends[0]", "address is required" },
	{ AGENT,
	  A_HEAD A_IDENTITY
	  "  backends:\n    - {service: app.example.com, address: \"bad "
	  "host!\", port: 80}\n" A_GOSSIP,
	  5, "agent.backends[0].address",
	  "address \"bad host!\": invalid IP or hostname" },
	{ AGENT,
	  A_HEAD A_IDENTITY "  backends:\n    - {service: app.example.com, "
			    "address: 10.0.0.1}\n" A_GOSSIP,
	  5, "agent.backends[0]", "port is required" },
	{ AGENT,
	  A_HEAD A_IDENTITY
	  "  backends:\n    - {service: app.example.com, address: 10.0.0.1, "
	  "port: 0}\n" A_GOSSIP,
	  5, "agent.backends[0].port", "port must be between 1 and 65535" },
	{ AGENT,
	  A_HEAD A_IDENTITY
	  "  backends:\n    - {service: app.example.com, address: 10.0.0.1, "
	  "port: 80, weight: -1}\n" A_GOSSIP,
	  5, "agent.backends[0].weight",
	  "weight must be between 0 and 1000000" },
	{ AGENT,
	  A_HEAD A_IDENTITY "  backends:\n    - {service: \"a..b\", address: "
			    "10.0.0.1, port: 80}\n" A_GOSSIP,
	  5, "agent.backends[0].service",
	  "service \"a..b\": not a valid DNS name" },
	{ AGENT,
	  A_HEAD A_IDENTITY "  backends:\n    - {service: a.example.com, "
			    "address: 10.0.0.1, port: "
			    "80, health_check: {type: ping}}\n" A_GOSSIP,
	  5, "agent.backends[0].health_check.type",
	  "type \"ping\": must be http, https, or tcp" },
	{ AGENT,
	  A_HEAD A_IDENTITY "  backends:\n    - {service: a.example.com, "
			    "address: 10.0.0.1, port: "
			    "80, health_check: {interval: 999ms}}\n" A_GOSSIP,
	  5, "agent.backends[0].health_check.interval",
	  "interval must be at least 1s" },
	{ AGENT,
	  A_HEAD A_IDENTITY "  backends:\n    - {service: a.example.com, "
			    "address: 10.0.0.1, port: "
			    "80, health_check: {timeout: 99ms}}\n" A_GOSSIP,
	  5, "agent.backends[0].health_check.timeout",
	  "timeout must be at least 100ms" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS
	  "    - {service: app.example.com, address: 10.0.0.1, port: "
	  "80}\n" A_GOSSIP,
	  6, "agent.backends[1]",
	  "backend 10.0.0.1 port 80 for service \"app.example.com\" is already "
	  "defined at " },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS
	  "  gossip: {overwatch_nodes: [\"127.0.0.1:7946\"]}\n",
	  6, "agent.gossip",
	  "encryption_key is required. OpenGSLB requires encrypted gossip "
	  "communication. Generate a key with: openssl rand -base64 32" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS
	  "  gossip: {encryption_key: \"" KEY16
	  "\", overwatch_nodes: [\"127.0.0.1:7946\"]}\n",
	  6, "agent.gossip.encryption_key",
	  "encryption_key must be exactly 32 bytes (got 16)" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS "  gossip: {encryption_key: \"" KEY32
				       "\"}\n",
	  6, "agent.gossip", "overwatch_nodes must have at least one address" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS "  gossip: {encryption_key: \"" KEY32
				       "\", overwatch_nodes: []}\n",
	  6, "agent.gossip.overwatch_nodes",
	  "overwatch_nodes must have at least one address" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS
	  "  gossip: {encryption_key: \"" KEY32
	  "\", overwatch_nodes: [ow1.example.com]}\n",
	  6, "agent.gossip.overwatch_nodes[0]",
	  "overwatch node \"ow1.example.com\": must be host:port" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS "  gossip: {encryption_key: \"" KEY32
				       "\", overwatch_nodes: [\":7946\"]}\n",
	  6, "agent.gossip.overwatch_nodes[0]", "host is missing" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  heartbeat: {interval: 500ms}\n",
	  7, "agent.heartbeat.interval", "interval must be at least 1s" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  heartbeat: {missed_threshold: 0}\n",
	  7, "agent.heartbeat.missed_threshold",
	  "missed_threshold must be between 1 and 100" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {cpu: {threshold: 0.85}}\n",
	  7, "agent.predictive.cpu.threshold",
	  "threshold 0.85 looks like a fraction: thresholds are percentages "
	  "(e.g. 85, not 0.85)" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {memory: {threshold: 1}}\n",
	  7, "agent.predictive.memory.threshold", "looks like a fraction" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {memory: {threshold: 150}}\n",
	  7, "agent.predictive.memory.threshold",
	  "threshold must be between 0 and 100 (got 150)" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {error_rate: {threshold: -1}}\n",
	  7, "agent.predictive.error_rate.threshold",
	  "threshold must be between 0 and" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {error_rate: {window: 0s}}\n",
	  7, "agent.predictive.error_rate.window",
	  "window must be at least 1s" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {check_interval: 100ms}\n",
	  7, "agent.predictive.check_interval",
	  "check_interval must be at least 1s" },
	{ AGENT,
	  A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {cpu: {bleed_duration: 5}}\n",
	  7, "agent.predictive.cpu.bleed_duration",
	  "expected a duration such as \"30s\"" },
	{ AGENT,
	  A_HEAD "  identity: {service_token: \"0123456789abcdef\", cert_path: "
		 "agent.crt}\n" A_BACKENDS A_GOSSIP,
	  3, "agent.identity.cert_path",
	  "cert_path \"agent.crt\": must be an absolute path" },
};

START_TEST(bad_case)
{
	const struct bad_case *c = &bad_cases[_i];
	int ret = gslb_config_load(write_main(c->mode, c->yaml), c->mode, &cfg,
				   &errs);

	ck_assert_msg(ret == GSLB_ECONFIG, "case %d loaded:\n%s", _i, c->yaml);
	if (errs.n != 1) {
		fprintf(stderr, "case %d:\n%s\n", _i, c->yaml);
		dump_errors("expected exactly one error");
	}
	ck_assert_msg(errs.n == 1, "case %d: %zu errors", _i, errs.n);
	assert_error(tpath("main.yaml"), c->line, c->key, c->needle);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Files that must load                                                     */

struct good_case {
	enum gslb_mode mode;
	const char *yaml;
};

static const struct good_case good_cases[] = {
	{ OW, "mode: OverWatch\n" },
	/* The gossip key may come after the key sync peers that need it. */
	{ OW, "overwatch:\n  dnssec:\n    key_sync: {peers: [\"http://ow2\"]}\n"
	      "  gossip: {encryption_key: \"" KEY32 "\"}\n" },
	{ OW, "dns:\nlogging:\n  level:\nmetrics: ~\n" }, /* nulls are unset */
	{ OW, "logging: {level: WARNING, format: JSON}\n" },
	{ OW, "logging: {level: error}\n" },
	{ OW, "metrics: {address: \":9090\"}\n" },
	{ OW, "metrics: {address: \"localhost:9090\"}\n" },
	{ OW, "api: {address: \"[::]:8080\", allowed_networks: [\"::/0\", "
	      "0.0.0.0/0]}\n" },
	{ OW, "dns: {default_ttl: 0, workers: 256, max_udp_payload: 512, "
	      "tcp_max_connections: 65535, tcp_idle_timeout: 100ms}\n" },
	{ OW, "dns: {default_ttl: 2147483647, max_udp_payload: 4096, "
	      "tcp_max_connections: 1}\n" },
	{ OW, "dns: {default_ttl: \"30\"}\n" }, /* quoted numbers are fine */
	{ OW, "dns: {listen_address: \"[::1]:53\"}\n" },
	{ OW, "dns: {listen_address: [\"127.0.0.1:53\", \"127.0.0.1:54\", "
	      "\"[::]:53\"]}\n" },
	{ OW, "dns:\n  zones:\n    - name: example.com\n"
	      "      nameservers: [ns1.example.net, ns2.example.net]\n" },
	{ OW, "dns:\n  listen_address: \"127.0.0.1:53\"\n  zones:\n"
	      "    - {name: example.com, soa: {serial: 4294967295, minimum: 0, "
	      "rname: hostmaster.example.com.}}\n"
	      "    - example.net\n" },
	{ OW, ZONE REGION DOMAIN "  - {name: example.com, regions: [r1], "
				 "routing_algorithm: RR}\n" },
	{ OW, ZONE REGION
	  "    health_check: {interval: 1s, timeout: 999ms}\n" DOMAIN },
	{ OW, ZONE REGION "    health_check: {type: https}\n" DOMAIN },
	{ OW, ZONE
	  "regions:\n  - name: r1\n    servers:\n"
	  "      - {address: 10.0.0.1, service: app.example.com}\n"
	  "      - {address: 10.0.0.1, port: 81, service: app.example.com}\n"
	  "  - name: r2\n    servers:\n"
	  "      - {address: 10.0.0.1, service: www.example.com}\n"
	  "domains:\n  - {name: app.example.com, regions: [r1], "
	  "routing_algorithm: Weight}\n"
	  "  - {name: www.example.com, regions: [r2], routing_algorithm: "
	  "FAILOVER, max_records: 64}\n" },
	{ OW, "overwatch: {stale: {threshold: 1s, remove_after: 2s}}\n" },
	{ OW, "overwatch: {validation: {check_interval: 1s, check_timeout: "
	      "999ms}}\n" },
	{ OW, "overwatch: {dnssec: {algorithm: ecdsap384sha384}}\n" },
	{ OW, "overwatch:\n  dnssec:\n    enabled: false\n"
	      "    security_acknowledgment: \"" GSLB_DNSSEC_ACK "\"\n" },
	{ OW, "overwatch:\n  gossip:\n    encryption_key: |\n"
	      "      MDEyMzQ1Njc4OTAxMjM0NTY3ODkw\n"
	      "      MTIzNDU2Nzg5MDE=\n" }, /* line breaks, as Go allows */
	{ AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {cpu: {threshold: 0}, memory: {threshold: 100}, "
	  "error_rate: {threshold: 0.5}}\n" },
	{ AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP
	  "  predictive: {cpu: {threshold: 1.5}}\n" },
	{ AGENT, A_HEAD A_IDENTITY A_GOSSIP
	  "  backends:\n"
	  "    - {service: app.example.com, address: \"2001:db8::1\", port: "
	  "1}\n"
	  "    - {service: app.example.com, address: host-1.example, port: "
	  "65535, weight: 1000000}\n" },
	{ AGENT,
	  "mode: agent\nmetrics: {enabled: on}\nlogging: {format: json}\n"
	  "agent:\n" A_IDENTITY A_BACKENDS A_GOSSIP },
	{ AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP }, /* no mode needed */
};

START_TEST(good_case)
{
	const struct good_case *c = &good_cases[_i];
	gslb_config_free(cfg);
	cfg = NULL;
	int ret = gslb_config_load(write_main(c->mode, c->yaml), c->mode, &cfg,
				   &errs);
	if (ret != GSLB_EOK) {
		fprintf(stderr, "case %d:\n%s\n", _i, c->yaml);
		dump_errors("expected success");
	}
	ck_assert_int_eq(ret, GSLB_EOK);
	ck_assert_ptr_nonnull(cfg);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Value syntax                                                             */

static const struct {
	const char *text;
	gslb_duration_t value;
} good_durations[] = {
	{ "0", 0 },
	{ "-0", 0 },
	{ "0s", 0 },
	{ "300ms", 300 * GSLB_MSEC },
	{ "1.5h", 5400 * GSLB_SEC },
	{ "1m30s", 90 * GSLB_SEC },
	{ "2h45m", 9900 * GSLB_SEC },
	{ "10ns", 10 },
	{ "7us", 7 * GSLB_USEC },
	{ "7\xc2\xb5s", 7 * GSLB_USEC },
	{ "7\xce\xbcs", 7 * GSLB_USEC },
	{ ".5s", 500 * GSLB_MSEC },
	{ "5.s", 5 * GSLB_SEC },
	{ "1.000000001s", GSLB_SEC + 1 },
	{ "+2s", 2 * GSLB_SEC },
	{ "-1.5s", -1500 * GSLB_MSEC },
	{ "2562047h", INT64_C(2562047) * 3600 * GSLB_SEC },
};

static const struct {
	const char *text;
	int ret;
} bad_durations[] = {
	{ "", GSLB_EINVAL },         { "30", GSLB_EINVAL },
	{ "1", GSLB_EINVAL },        { "s", GSLB_EINVAL },
	{ ".s", GSLB_EINVAL },       { "1x", GSLB_EINVAL },
	{ "1m30", GSLB_EINVAL },     { "-", GSLB_EINVAL },
	{ "1 s", GSLB_EINVAL },      { "1d", GSLB_EINVAL },
	{ "1S", GSLB_EINVAL },       { " 1s", GSLB_EINVAL },
	{ "1s ", GSLB_EINVAL },      { "9999999999h", GSLB_ERANGE },
	{ "2562048h", GSLB_ERANGE },
};

START_TEST(duration_parse_valid)
{
	gslb_duration_t d = -42;
	int ret = gslb_duration_parse(good_durations[_i].text, &d);
	ck_assert_msg(ret == GSLB_EOK, "\"%s\": %d", good_durations[_i].text,
		      ret);
	ck_assert_int_eq(d, good_durations[_i].value);
}
END_TEST

START_TEST(duration_parse_invalid)
{
	gslb_duration_t d = 0;
	int ret = gslb_duration_parse(bad_durations[_i].text, &d);
	ck_assert_msg(ret == bad_durations[_i].ret, "\"%s\": got %d",
		      bad_durations[_i].text, ret);
}
END_TEST

START_TEST(duration_in_config)
{
	const struct gslb_config *c = load_ok(
		OW,
		"overwatch:\n  stale: {threshold: 1m30s, remove_after: 1.5h}\n"
		"dns:\n  tcp_idle_timeout: 300ms\n");
	ck_assert_int_eq(c->overwatch.stale.threshold, 90 * GSLB_SEC);
	ck_assert_int_eq(c->overwatch.stale.remove_after, 5400 * GSLB_SEC);
	ck_assert_int_eq(c->dns.tcp_idle_timeout, 300 * GSLB_MSEC);
}
END_TEST

static const struct {
	const char *text;
	bool value;
} bools[] = {
	{ "true", true },   { "True", true },   { "TRUE", true },
	{ "y", true },      { "Y", true },      { "yes", true },
	{ "Yes", true },    { "YES", true },    { "on", true },
	{ "On", true },     { "ON", true },     { "false", false },
	{ "False", false }, { "FALSE", false }, { "n", false },
	{ "N", false },     { "no", false },    { "No", false },
	{ "NO", false },    { "off", false },   { "Off", false },
	{ "OFF", false },
};

START_TEST(booleans_yaml11)
{
	char text[128];
	/* Start from the opposite of the default so the value must be read. */
	FMT(text, sizeof(text),
	    "metrics: {enabled: %s}\n"
	    "overwatch: {validation: {enabled: %s}}\n",
	    bools[_i].text, bools[_i].text);
	const struct gslb_config *c = load_ok(OW, text);
	ck_assert_msg(c->metrics.enabled == bools[_i].value, "%s",
		      bools[_i].text);
	ck_assert_msg(c->overwatch.validation.enabled == bools[_i].value, "%s",
		      bools[_i].text);
}
END_TEST

/* An overwatch without the gossip key does not start, and says how to
 * make one. */
START_TEST(overwatch_gossip_key_required)
{
	load_path_fail(OW, write_mode("main.yaml", 0600, ZONE));
	ck_assert_uint_eq(errs.n, 1);
	assert_error(tpath("main.yaml"), 1, "overwatch.gossip",
		     "encryption_key is required. OpenGSLB requires encrypted "
		     "gossip communication. Generate a key with: openssl rand "
		     "-base64 32");
}
END_TEST

/* Tokens match exactly: not a prefix, not an extension. */
START_TEST(token_equal)
{
	const char *tok = "0123456789abcdef";
	ck_assert(gslb_token_equal(tok, 16, tok));
	ck_assert(!gslb_token_equal("0123456789abcdeX", 16, tok));
	ck_assert(!gslb_token_equal(tok, 15, tok));
	ck_assert(!gslb_token_equal("0123456789abcdef0", 17, tok));
	ck_assert(!gslb_token_equal("0123456789abcdef\0", 17, tok));
	ck_assert(!gslb_token_equal("", 0, tok));
}
END_TEST

/* The agent id defaults to the host name and is checked when set. */
START_TEST(agent_id)
{
	char host[256];
	const struct gslb_config *c =
		load_ok(AGENT, A_HEAD A_IDENTITY A_BACKENDS A_GOSSIP);
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	ck_assert(gslb_agent_id_ok(c->agent.identity.agent_id));
	if (gslb_agent_id_ok(host)) {
		ck_assert_str_eq(c->agent.identity.agent_id, host);
	}
	c = load_ok(AGENT, A_HEAD
		    "  identity: {service_token: "
		    "\"0123456789abcdef\", agent_id: web-1.eu}\n" A_BACKENDS
			    A_GOSSIP);
	ck_assert_str_eq(c->agent.identity.agent_id, "web-1.eu");
	expect_one(AGENT,
		   A_HEAD "  identity: {service_token: \"0123456789abcdef\", "
			  "agent_id: \"web 1\"}\n" A_BACKENDS A_GOSSIP,
		   3, "agent.identity.agent_id",
		   "agent_id \"web 1\": use 1 to 64 letters, digits");
}
END_TEST

START_TEST(boolean_invalid)
{
	static const char *const bad[] = { "yep", "1", "0", "t", "enable" };
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bad); i++) {
		char text[64];
		FMT(text, sizeof(text), "metrics:\n  enabled: %s\n", bad[i]);
		expect_one(OW, text, 2, "metrics.enabled",
			   "expected a boolean (true or false)");
	}
}
END_TEST

START_TEST(weight_zero_kept)
{
	const struct gslb_config *c = load_ok(
		OW,
		ZONE "regions:\n  - name: r1\n    servers:\n"
		     "      - {address: 10.0.0.1, weight: 0, service: "
		     "app.example.com}\n"
		     "      - {address: 10.0.0.2, service: app.example.com}\n"
		     "domains:\n  - {name: app.example.com, regions: [r1], "
		     "routing_algorithm: weighted}\n");
	ck_assert_uint_eq(c->regions[0].servers[0].weight, 0);
	ck_assert_uint_eq(c->regions[0].servers[1].weight, 100);
}
END_TEST

START_TEST(zone_string_and_mapping_forms)
{
	const struct gslb_config *c = load_ok(
		OW, "dns:\n"
		    "  listen_address: [\"192.0.2.1:53\", \"192.0.2.1:5353\", "
		    "\"[2001:db8::1]:53\"]\n"
		    "  zones:\n"
		    "    - Example.COM.\n"
		    "    - name: example.org\n"
		    "      ttl: 120\n"
		    "      soa: {rname: dns-admin@Example.ORG}\n");
	ck_assert_uint_eq(c->dns.n_listen, 3);
	for (size_t i = 0; i < 2; i++) {
		const struct gslb_zone *z = &c->dns.zones[i];
		ck_assert_uint_eq(z->n_nameservers, 1);
		/* one address per IP, however many ports */
		ck_assert_uint_eq(z->nameservers[0].n_addrs, 2);
		assert_ip(&z->nameservers[0].addrs[0], "192.0.2.1");
		assert_ip(&z->nameservers[0].addrs[1], "2001:db8::1");
		ck_assert_str_eq(z->soa.mname, z->nameservers[0].name);
	}
	ck_assert_str_eq(c->dns.zones[0].name, "example.com");
	ck_assert_str_eq(c->dns.zones[0].nameservers[0].name,
			 "ns1.example.com");
	ck_assert_uint_eq(c->dns.zones[0].ttl, 3600);
	ck_assert_str_eq(c->dns.zones[1].nameservers[0].name,
			 "ns1.example.org");
	ck_assert_uint_eq(c->dns.zones[1].ttl, 120);
	ck_assert_str_eq(c->dns.zones[1].soa.rname, "dns-admin.example.org");
}
END_TEST

START_TEST(domain_longest_zone)
{
	const struct gslb_config *c = load_ok(
		OW, "dns:\n  listen_address: \"127.0.0.1:53\"\n"
		    "  zones: [example.com, example.org]\n"
		    "regions:\n  - name: r1\n    servers:\n"
		    "      - {address: 10.0.0.1, service: example.org}\n"
		    "domains:\n  - {name: example.org, regions: [r1]}\n");
	ck_assert_uint_eq(c->domains[0].zone, 1);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

START_TEST(message_format_exact)
{
	load_fail(OW, "dns:\n  default_ttl: abc\n");
	ck_assert_uint_eq(errs.n, 1);
	char want[PATH_MAX + 128];
	FMT(want, sizeof(want),
	    "%s:2:16: dns.default_ttl: expected an integer, found \"abc\"",
	    tpath("main.yaml"));
	ck_assert_str_eq(errs.msgs[0], want);
}
END_TEST

START_TEST(all_errors_reported_in_line_order)
{
	load_fail(OW, "metrics:\n"
		      "  enabled: perhaps\n"
		      "dns:\n"
		      "  default_ttl: -1\n"
		      "logging:\n"
		      "  level: loud\n");
	if (errs.n != 3) {
		dump_errors("expected 3 errors");
	}
	ck_assert_uint_eq(errs.n, 3);
	ck_assert(error_matches(errs.msgs[0], tpath("main.yaml"), 2,
				"metrics.enabled", "expected a boolean"));
	ck_assert(error_matches(errs.msgs[1], tpath("main.yaml"), 4,
				"dns.default_ttl", "must be between"));
	ck_assert(error_matches(errs.msgs[2], tpath("main.yaml"), 6,
				"logging.level", "invalid level \"loud\""));
}
END_TEST

START_TEST(cross_checks_in_line_order)
{
	/* Found after the merge, still sorted by position. */
	load_fail(OW, "domains:\n"
		      "  - {name: a.example.com, regions: [nowhere]}\n" ZONE
		      "regions:\n  - name: r1\n    servers:\n"
		      "      - {address: 10.0.0.1, service: b.example.com}\n");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert(error_matches(errs.msgs[0], tpath("main.yaml"), 2,
				"domains[0].regions[0]",
				"region \"nowhere\" not found"));
	ck_assert(error_matches(errs.msgs[1], tpath("main.yaml"), 9,
				"regions[0].servers[0].service",
				"domain not found"));
}
END_TEST

START_TEST(unknown_key_without_suggestion)
{
	expect_one(OW, "dns:\n  completely_different: 1\n", 2,
		   "dns.completely_different",
		   "unknown key \"completely_different\"");
	assert_no_error_with("did you mean");
}
END_TEST

START_TEST(syntax_error_position)
{
	load_fail(OW, "logging:\n  level: info\n   format: text\n");
	ck_assert_uint_eq(errs.n, 1);
	assert_error(tpath("main.yaml"), 3, "",
		     "YAML syntax error: mapping values are not allowed in "
		     "this context");
}
END_TEST

START_TEST(invalid_utf8)
{
	load_fail(OW, "logging:\n  level: \xff\xfe\n");
	ck_assert_uint_eq(errs.n, 1);
	assert_error(tpath("main.yaml"), 2, "", "cannot read YAML");
}
END_TEST

START_TEST(agent_empty_file_lists_required)
{
	load_fail(AGENT, "");
	ck_assert_uint_eq(errs.n, 4);
	assert_error(tpath("main.yaml"), 0, "agent.identity",
		     "service_token is required");
	assert_error(tpath("main.yaml"), 0, "agent.backends",
		     "at least one backend is required");
	assert_error(tpath("main.yaml"), 0, "agent.gossip",
		     "encryption_key is required");
	assert_error(tpath("main.yaml"), 0, "agent.gossip",
		     "overwatch_nodes must have at least one address");
}
END_TEST

START_TEST(mode_mismatch_reports_only_that)
{
	/* The rest would only be noise for the wrong daemon. */
	load_fail(OW, "mode: agent\n"
		      "agent:\n" A_IDENTITY A_BACKENDS A_GOSSIP);
	ck_assert_uint_eq(errs.n, 1);
	assert_error(tpath("main.yaml"), 1, "mode",
		     "this file is for gslb-agentd");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Permissions                                                              */

START_TEST(permissions_accepted)
{
	static const mode_t ok[] = { 0600, 0640, 0400, 0660 };
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(ok); i++) {
		const char *path = write_mode("main.yaml", ok[i], OW_KEY_DOC);
		load_path_ok(OW, path);
	}
}
END_TEST

START_TEST(permissions_refused)
{
	static const struct {
		mode_t mode;
		const char *what;
	} bad[] = {
		{ 0644, "0644 (world-readable)" },
		{ 0604, "0604 (world-readable)" },
		{ 0602, "0602 (world-writable)" },
		{ 0666, "0666 (world-readable and world-writable)" },
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bad); i++) {
		const char *path = write_mode("main.yaml", bad[i].mode, "");
		char want[PATH_MAX * 3 + 128];
		load_path_fail(OW, path);
		ck_assert_uint_eq(errs.n, 1);
		FMT(want, sizeof(want),
		    "%s: insecure permissions %s; run 'chmod 640 %s' or "
		    "'chmod 600 %s'",
		    path, bad[i].what, path, path);
		ck_assert_str_eq(errs.msgs[0], want);
	}
}
END_TEST

START_TEST(missing_file)
{
	const char *path = tpath("nope.yaml");
	char want[PATH_MAX + 64];
	load_path_fail(OW, path);
	ck_assert_uint_eq(errs.n, 1);
	FMT(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	ck_assert_str_eq(errs.msgs[0], want);
}
END_TEST

START_TEST(directory_is_not_a_config)
{
	ck_assert_int_eq(mkdir(tpath("conf.yaml"), 0700), 0);
	load_path_fail(OW, tpath("conf.yaml"));
	ck_assert_uint_eq(errs.n, 1);
	assert_error(tpath("conf.yaml"), 0, "", "not a regular file");
}
END_TEST

START_TEST(relative_main_path_made_absolute)
{
	char cwd[PATH_MAX];
	write_file("main.yaml", "");
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	int ret = gslb_config_load("./main.yaml", OW, &cfg, &errs);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_int_eq(ret, GSLB_EOK);
	ck_assert_str_eq(cfg->files[0], tpath("main.yaml"));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Includes                                                                 */

START_TEST(includes_globs_order_and_files)
{
	write_file("regions/b.yaml",
		   "regions:\n  - name: rb\n    servers:\n"
		   "      - {address: 10.0.2.1, service: x.example.com}\n");
	write_file("regions/a.yaml",
		   "regions:\n  - name: ra\n    servers:\n"
		   "      - {address: 10.0.1.1, service: y.example.com}\n");
	write_file("regions/notes.txt", "not yaml: [\n");
	ck_assert_int_eq(mkdir(tpath("regions/dir.yaml"), 0700), 0);
	write_file("domains/x.yaml",
		   "domains:\n  - {name: x.example.com, regions: [rb]}\n");
	write_file("domains/sub/y.yaml",
		   "domains:\n  - {name: y.example.com, regions: [ra]}\n");
	write_file("domains/sub/deeper/z.yaml",
		   "# a comment first\n"
		   "domains:\n  - {name: z.example.com, regions: [r0]}\n");
	write_file("tokens.yaml", "overwatch:\n  agent_tokens:\n"
				  "    x.example.com: \"0123456789abcdef\"\n");
	const char *main_path = write_file(
		"main.yaml",
		"includes: [\"regions/*.yaml\", \"domains/**/*.yaml\", "
		"tokens.yaml, \"missing/*.yaml\", \"nothing-here.yaml\"]\n" ZONE
		"regions:\n  - name: r0\n    servers:\n"
		"      - {address: 10.0.0.1, service: z.example.com}\n");
	const struct gslb_config *c = load_path_ok(OW, main_path);

	ck_assert_uint_eq(c->n_regions, 3);
	ck_assert_str_eq(c->regions[0].name, "r0");
	ck_assert_str_eq(c->regions[1].name, "ra");
	ck_assert_str_eq(c->regions[2].name, "rb");
	ck_assert_uint_eq(c->n_domains, 3);
	/* bytewise: "domains/sub/deeper/" < "domains/sub/y" < "domains/x" */
	ck_assert_str_eq(c->domains[0].name, "z.example.com");
	ck_assert_str_eq(c->domains[1].name, "y.example.com");
	ck_assert_str_eq(c->domains[2].name, "x.example.com");
	ck_assert_str_eq(c->domains[0].pos.file,
			 tpath("domains/sub/deeper/z.yaml"));
	ck_assert_uint_eq(c->domains[0].pos.line, 3);
	ck_assert_uint_eq(c->overwatch.n_agent_tokens, 1);

	static const char *const files[] = {
		"main.yaml",          "regions/a.yaml",
		"regions/b.yaml",     "domains/sub/deeper/z.yaml",
		"domains/sub/y.yaml", "domains/x.yaml",
		"tokens.yaml",
	};
	ck_assert_uint_eq(c->n_files, GSLB_ARRAY_SIZE(files));
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(files); i++) {
		ck_assert_str_eq(c->files[i], tpath(files[i]));
	}
}
END_TEST

START_TEST(include_globstar_alone_and_top_dir)
{
	write_file("conf/one.yaml",
		   "domains:\n  - {name: one.example.com, regions: [r1]}\n");
	write_file("conf/a/b/two.yaml",
		   "domains:\n  - {name: two.example.com, regions: [r1]}\n");
	const struct gslb_config *c = load_path_ok(
		OW,
		write_file("main.yaml", "includes: [\"conf/**\"]\n" ZONE
					"regions:\n  - name: r1\n    servers:\n"
					"      - {address: 10.0.0.1, service: "
					"one.example.com}\n"));
	ck_assert_uint_eq(c->n_domains, 2);
	ck_assert_str_eq(c->domains[0].name, "two.example.com");
	ck_assert_str_eq(c->domains[1].name, "one.example.com");
}
END_TEST

START_TEST(include_only_one_globstar)
{
	expect_one(OW, "includes: [\"a/**/b/**/*.yaml\"]\n", 1, "includes[0]",
		   "invalid include pattern \"a/**/b/**/*.yaml\": only one "
		   "\"**\" segment is allowed");
}
END_TEST

START_TEST(include_relative_to_including_file)
{
	write_file("conf/more.yaml", "regions:\n  - name: r1\n    servers:\n"
				     "      - {address: 10.0.0.1, service: "
				     "app.example.com}\n");
	write_file("conf/inc.yaml", "includes: [more.yaml]\n" DOMAIN);
	const struct gslb_config *c = load_path_ok(
		OW,
		write_file("main.yaml", "includes: [conf/inc.yaml]\n" ZONE));
	ck_assert_uint_eq(c->n_files, 3);
	ck_assert_str_eq(c->files[2], tpath("conf/more.yaml"));
	ck_assert_uint_eq(c->n_regions, 1);
}
END_TEST

/* f0.yaml (main) includes f1.yaml, which includes f2.yaml ... f<last>.yaml. */
static const char *write_chain(unsigned last)
{
	char name[32], text[160];
	for (unsigned i = 0; i <= last; i++) {
		FMT(name, sizeof(name), "f%u.yaml", i);
		/* The main file (f0) holds the gossip key. */
		FMT(text, sizeof(text), "includes: [f%u.yaml]\n%s", i + 1,
		    i == 0 ? OW_KEY_DOC : "");
		write_file(name, i < last ? text : "regions: []\n");
	}
	return tpath("f0.yaml");
}

START_TEST(include_depth_10_ok)
{
	const struct gslb_config *c = load_path_ok(OW, write_chain(10));
	ck_assert_uint_eq(c->n_files, 11);
	ck_assert_str_eq(c->files[10], tpath("f10.yaml"));
}
END_TEST

START_TEST(include_depth_11_fails)
{
	load_path_fail(OW, write_chain(11));
	ck_assert_uint_eq(errs.n, 1);
	char needle[PATH_MAX + 64];
	FMT(needle, sizeof(needle), "%s: maximum include depth (10) exceeded",
	    tpath("f11.yaml"));
	assert_error(tpath("f10.yaml"), 1, "includes[0]", needle);
}
END_TEST

START_TEST(include_cycle)
{
	write_file("a.yaml", "includes: [main.yaml]\n");
	load_fail(OW, "includes: [a.yaml]\n");
	ck_assert_uint_eq(errs.n, 1);
	char needle[PATH_MAX * 3 + 64];
	FMT(needle, sizeof(needle), "circular include detected: %s -> %s -> %s",
	    tpath("main.yaml"), tpath("a.yaml"), tpath("main.yaml"));
	assert_error(tpath("a.yaml"), 1, "includes[0]", needle);
}
END_TEST

START_TEST(include_self_by_glob_is_a_cycle)
{
	load_fail(OW, "includes: [\"*.yaml\"]\n");
	ck_assert_uint_eq(errs.n, 1);
	assert_error(tpath("main.yaml"), 1, "includes[0]",
		     "circular include detected");
}
END_TEST

START_TEST(include_diamond)
{
	write_file("b.yaml", "includes: [d.yaml]\n");
	write_file("c.yaml", "includes: [d.yaml]\n");
	write_file("d.yaml", "regions: []\n");
	load_fail(OW, "includes: [b.yaml, c.yaml]\n");
	ck_assert_uint_eq(errs.n, 1);
	char needle[PATH_MAX * 2 + 64];
	FMT(needle, sizeof(needle),
	    "%s: included more than once (first included from %s)",
	    tpath("d.yaml"), tpath("b.yaml"));
	assert_error(tpath("c.yaml"), 1, "includes[0]", needle);
	assert_no_error_with("circular");
}
END_TEST

START_TEST(include_forbidden_keys)
{
	write_file("inc.yaml", "regions: []\n"
			       "dns: {default_ttl: 5}\n"
			       "overwatch:\n"
			       "  gossip: {}\n"
			       "  agent_tokens: {}\n"
			       "mode: overwatch\n"
			       "logging: {}\n");
	load_fail(OW, "includes: [inc.yaml]\n");
	ck_assert_uint_eq(errs.n, 4);
	const char *inc = tpath("inc.yaml");
	const char *msg = "only includes, regions, domains, "
			  "overwatch.agent_tokens and agent.backends are "
			  "allowed in included files";
	assert_error(inc, 2, "dns", msg);
	assert_error(inc, 4, "overwatch.gossip", msg);
	assert_error(inc, 6, "mode", msg);
	assert_error(inc, 7, "logging", msg);
}
END_TEST

START_TEST(include_errors_name_their_file)
{
	write_file("inc.yaml",
		   "# regions from another team\n"
		   "regions:\n  - name: r2\n    servers:\n"
		   "      - {address: 10.0.0.2, port: 0, service: "
		   "app.example.com}\n"
		   "domains:\n  - {name: app.example.com, regions: [r2]}\n");
	load_fail(OW, "includes: [inc.yaml]\n" ZONE REGION DOMAIN
		      "  - {name: bad..name, regions: [r1]}\n");
	if (errs.n != 3) {
		dump_errors("expected 3 errors");
	}
	ck_assert_uint_eq(errs.n, 3);
	/* main file first, then the included file, each in line order */
	ck_assert(error_matches(errs.msgs[0], tpath("main.yaml"), 11,
				"domains[1].name", "not a valid DNS name"));
	ck_assert(error_matches(errs.msgs[1], tpath("inc.yaml"), 5,
				"regions[0].servers[0].port",
				"port must be between 1 and 65535"));
	ck_assert(error_matches(errs.msgs[2], tpath("inc.yaml"), 7,
				"domains[0].name",
				"duplicate domain name \"app.example.com\""));
}
END_TEST

START_TEST(include_syntax_error_names_file)
{
	write_file("inc.yaml", "regions:\n  - name: [r2\n");
	load_fail(OW, "includes: [inc.yaml]\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert(strncmp(errs.msgs[0], tpath("inc.yaml"),
			  strlen(tpath("inc.yaml"))) == 0);
	ck_assert_ptr_nonnull(strstr(errs.msgs[0], "YAML syntax error"));
}
END_TEST

START_TEST(include_permissions_checked)
{
	write_mode("inc.yaml", 0602, "regions: []\n");
	load_fail(OW, "includes: [inc.yaml]\n");
	ck_assert_uint_eq(errs.n, 1);
	char needle[PATH_MAX + 64];
	FMT(needle, sizeof(needle),
	    "%s: insecure permissions 0602 (world-writable)",
	    tpath("inc.yaml"));
	assert_error(tpath("main.yaml"), 1, "includes[0]", needle);
}
END_TEST

START_TEST(include_tokens_merged)
{
	write_file("t1.yaml", "overwatch:\n  agent_tokens:\n"
			      "    b.example.com: \"bbbbbbbbbbbbbbbb\"\n");
	const struct gslb_config *c =
		load_ok(OW, "includes: [t1.yaml]\n"
			    "overwatch:\n  agent_tokens:\n"
			    "    a.example.com: \"aaaaaaaaaaaaaaaa\"\n");
	ck_assert_uint_eq(c->overwatch.n_agent_tokens, 2);
	ck_assert_str_eq(c->overwatch.agent_tokens[0].service, "a.example.com");
	ck_assert_str_eq(c->overwatch.agent_tokens[1].service, "b.example.com");
	ck_assert_str_eq(c->overwatch.agent_tokens[1].token,
			 "bbbbbbbbbbbbbbbb");

	write_file("t2.yaml", "overwatch:\n  agent_tokens:\n"
			      "    A.Example.com.: \"cccccccccccccccc\"\n");
	load_fail(OW, "includes: [t2.yaml]\n"
		      "overwatch:\n  agent_tokens:\n"
		      "    a.example.com: \"aaaaaaaaaaaaaaaa\"\n");
	ck_assert_uint_eq(errs.n, 1);
	char needle[PATH_MAX + 64];
	FMT(needle, sizeof(needle),
	    "token for service \"a.example.com\" already defined at "
	    "%s:4:5",
	    tpath("main.yaml"));
	assert_error(tpath("t2.yaml"), 3,
		     "overwatch.agent_tokens.A.Example.com.", needle);
}
END_TEST

START_TEST(include_agent_backends)
{
	write_file("backends.d/web.yaml", "agent:\n  backends:\n"
					  "    - {service: web.example.com, "
					  "address: 10.0.0.5, port: 80}\n");
	const struct gslb_config *c = load_ok(
		AGENT, "mode: agent\nincludes: [\"backends.d/*.yaml\"]\n"
		       "agent:\n" A_IDENTITY A_BACKENDS A_GOSSIP);
	ck_assert_uint_eq(c->agent.n_backends, 2);
	ck_assert_str_eq(c->agent.backends[0].service, "app.example.com");
	ck_assert_str_eq(c->agent.backends[1].service, "web.example.com");
	ck_assert_str_eq(c->agent.backends[1].pos.file,
			 tpath("backends.d/web.yaml"));

	/* backends only from includes still count */
	c = load_ok(AGENT, "mode: agent\nincludes: [\"backends.d/*.yaml\"]\n"
			   "agent:\n" A_IDENTITY A_GOSSIP);
	ck_assert_uint_eq(c->agent.n_backends, 1);
}
END_TEST

START_TEST(include_not_a_list)
{
	expect_one(OW, "includes: inc.yaml\n", 1, "includes",
		   "expected a list of file patterns, found \"inc.yaml\"");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Lookups and names                                                        */

START_TEST(lookups)
{
	const struct gslb_config *c = load_ok(OW, full_overwatch);
	ck_assert_ptr_eq(gslb_config_domain(c, "APP.Example.COM."),
			 &c->domains[0]);
	ck_assert_ptr_eq(gslb_config_domain(c, "www.gslb.example.net"),
			 &c->domains[1]);
	ck_assert_ptr_null(gslb_config_domain(c, "example.com"));
	ck_assert_ptr_eq(gslb_config_region(c, "us"), &c->regions[1]);
	ck_assert_ptr_null(gslb_config_region(c, "asia"));
	ck_assert_str_eq(gslb_algorithm_name(GSLB_ALG_ROUND_ROBIN),
			 "round-robin");
	ck_assert_str_eq(gslb_algorithm_name(GSLB_ALG_WEIGHTED), "weighted");
	ck_assert_str_eq(gslb_algorithm_name(GSLB_ALG_FAILOVER), "failover");
	ck_assert_str_eq(gslb_check_type_name(GSLB_CHECK_HTTP), "http");
	ck_assert_str_eq(gslb_check_type_name(GSLB_CHECK_HTTPS), "https");
	ck_assert_str_eq(gslb_check_type_name(GSLB_CHECK_TCP), "tcp");
}
END_TEST

START_TEST(errors_clear_resets)
{
	load_fail(OW, "dns: {default_ttl: x}\n");
	ck_assert_uint_eq(errs.n, 1);
	gslb_config_errors_clear(&errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_null(errs.msgs);
	/* a successful load after a failed one leaves errs empty */
	load_ok(OW, "");
	ck_assert_uint_eq(errs.n, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("read back");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, full_overwatch_config);
	tcase_add_test(tc, overwatch_defaults);
	tcase_add_test(tc, empty_file_is_overwatch_without_domains);
	tcase_add_test(tc, api_tokens_and_socket);
	tcase_add_test(tc, gossip_bind_default_with_key);
	tcase_add_test(tc, full_agent_config);
	tcase_add_test(tc, agent_defaults);
	tcase_add_test(tc, weight_zero_kept);
	tcase_add_test(tc, zone_string_and_mapping_forms);
	tcase_add_test(tc, domain_longest_zone);
	tcase_add_test(tc, lookups);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, bad_case, 0, GSLB_ARRAY_SIZE(bad_cases));
	tcase_add_loop_test(tc, good_case, 0, GSLB_ARRAY_SIZE(good_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, duration_parse_valid, 0,
			    GSLB_ARRAY_SIZE(good_durations));
	tcase_add_loop_test(tc, duration_parse_invalid, 0,
			    GSLB_ARRAY_SIZE(bad_durations));
	tcase_add_test(tc, duration_in_config);
	tcase_add_loop_test(tc, booleans_yaml11, 0, GSLB_ARRAY_SIZE(bools));
	tcase_add_test(tc, boolean_invalid);
	tcase_add_test(tc, overwatch_gossip_key_required);
	tcase_add_test(tc, agent_id);
	tcase_add_test(tc, token_equal);
	suite_add_tcase(s, tc);

	tc = tcase_create("messages");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, message_format_exact);
	tcase_add_test(tc, all_errors_reported_in_line_order);
	tcase_add_test(tc, cross_checks_in_line_order);
	tcase_add_test(tc, unknown_key_without_suggestion);
	tcase_add_test(tc, syntax_error_position);
	tcase_add_test(tc, invalid_utf8);
	tcase_add_test(tc, agent_empty_file_lists_required);
	tcase_add_test(tc, mode_mismatch_reports_only_that);
	tcase_add_test(tc, errors_clear_resets);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, permissions_accepted);
	tcase_add_test(tc, permissions_refused);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, directory_is_not_a_config);
	tcase_add_test(tc, relative_main_path_made_absolute);
	tcase_add_test(tc, includes_globs_order_and_files);
	tcase_add_test(tc, include_globstar_alone_and_top_dir);
	tcase_add_test(tc, include_only_one_globstar);
	tcase_add_test(tc, include_relative_to_including_file);
	tcase_add_test(tc, include_depth_10_ok);
	tcase_add_test(tc, include_depth_11_fails);
	tcase_add_test(tc, include_cycle);
	tcase_add_test(tc, include_self_by_glob_is_a_cycle);
	tcase_add_test(tc, include_diamond);
	tcase_add_test(tc, include_forbidden_keys);
	tcase_add_test(tc, include_errors_name_their_file);
	tcase_add_test(tc, include_syntax_error_names_file);
	tcase_add_test(tc, include_permissions_checked);
	tcase_add_test(tc, include_tokens_merged);
	tcase_add_test(tc, include_agent_backends);
	tcase_add_test(tc, include_not_a_list);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Files are created 0600 explicitly; keep umask from widening dirs. */
	umask(077);
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
