/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer harness for the REST API as a client reaches it: any bytes as
 * what one connection sends (request line, headers, body, more requests
 * pipelined behind), written to the API's TCP listener from loopback, or
 * to its UNIX socket when the input starts with "unix\n". The answers are
 * read and dropped. Everything runs for real: evhttp's parser, the access
 * list, the tokens, routing, query strings, JSON bodies, the handlers, and
 * the state database's commits (SQLite, on its own thread).
 *
 * The overwatch is server_open()'s, without DNS listeners or health checks
 * (a check would connect to whatever address an input adds): one zone
 * signed with DNSSEC, static servers in two regions, and a state database
 * holding an override, a server added through the API and a pinned agent.
 * An input that changed the database gets the overwatch rebuilt from the
 * same database, so every input starts from the same state.
 * Build: make fuzz (clang); the corpus replays in make check.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "api_internal.h"
#include "dnssec.h"
#include "error.h"
#include "seal.h"
#include "server.h"
#include "store.h"

#define TOKEN      "fuzz-token-0123456789abcdef"
#define LOCAL      "unix\n"
#define MAX_INPUT  (1024 * 1024)
#define START_TIME ((gslb_time_t)1800000000 * GSLB_SEC)

/* A printf format: the API port, the directory (for the socket, then the
 * state), the gossip port. */
static const char CONFIG[] =
	"mode: overwatch\n"
	"logging: {level: debug}\n"
	"dns:\n"
	"  listen_address: \"127.0.0.1:53\"\n"
	"  zones:\n"
	"    - name: gslb.test\n"
	"      nameservers:\n"
	"        - { name: ns1.gslb.test, addresses: [192.0.2.53] }\n"
	"api:\n"
	"  enabled: true\n"
	"  address: \"127.0.0.1:%u\"\n"
	"  allowed_networks: [127.0.0.0/8, \"::1/128\"]\n"
	"  trust_proxy_headers: true\n"
	"  socket: %s/api.sock\n"
	"  tokens:\n"
	"    ops: \"" TOKEN "\"\n"
	"    deploy-bot: \"another-fuzz-token-42\"\n"
	"overwatch:\n"
	"  identity: {node_id: fuzz-1}\n"
	"  data_dir: %s/state\n"
	"  gossip:\n"
	"    encryption_key: \"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\"\n"
	"    bind_address: \"127.0.0.1:%u\"\n"
	"  agent_tokens: {app.gslb.test: \"fuzz-agent-token-0123456789\"}\n"
	"  validation: {enabled: false}\n"
	"  dnssec: {algorithm: ECDSAP256SHA256}\n"
	"regions:\n"
	"  - name: eu\n"
	"    servers:\n"
	"      - { address: 192.0.2.11, port: 80, weight: 300,"
	" service: app.gslb.test }\n"
	"      - { address: 192.0.2.12, port: 80, service: app.gslb.test }\n"
	"      - { address: \"2001:db8::11\", port: 8080,"
	" service: www.gslb.test }\n"
	"      - { address: 192.0.2.11, port: 443, service: db.gslb.test }\n"
	"    health_check: { type: http, path: /health, interval: 10s }\n"
	"  - name: us\n"
	"    servers:\n"
	"      - { address: 198.51.100.21, port: 80, service: app.gslb.test }\n"
	"      - { address: 198.51.100.21, port: 5432,"
	" service: db.gslb.test }\n"
	"    health_check: { type: tcp, interval: 10s }\n"
	"domains:\n"
	"  - { name: app.gslb.test, routing_algorithm: weighted,"
	" regions: [eu, us] }\n"
	"  - { name: www.gslb.test, regions: [eu, us], max_records: 2 }\n"
	"  - { name: db.gslb.test, routing_algorithm: failover,"
	" regions: [eu, us] }\n";

static char dir[48];
static char config_path[64];
static char state_dir[64];
static char template_dir[64];
static char socket_path[64];
static struct server srv;
static bool up;
static uint16_t api_port;
static uint64_t writes; /* the store's count after the last (re)build */

/* A port nobody listens on now. */
static uint16_t free_port(int type)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		abort();
	}
	close(fd);
	return ntohs(sin.sin_port);
}

static void write_config(void)
{
	FILE *f = fopen(config_path, "w");
	if (f == NULL) {
		abort();
	}
	fprintf(f, CONFIG, (unsigned)api_port, dir, dir,
		(unsigned)free_port(SOCK_DGRAM));
	fclose(f);
	chmod(config_path, 0600);
}

static struct gslb_config *config(void)
{
	struct gslb_config *cfg = NULL;
	struct gslb_config_errors errs = { 0 };
	if (gslb_config_load(config_path, GSLB_MODE_OVERWATCH, &cfg, &errs) !=
	    GSLB_EOK) {
		gslb_config_errors_print(stderr, config_path, &errs);
		abort();
	}
	return cfg;
}

static uint64_t store_writes(void)
{
	struct store_stats st;
	store_get_stats(state_store(srv.state), &st);
	return st.commits + st.failures;
}

static uint64_t store_queued(void)
{
	struct store_stats st;
	store_get_stats(state_store(srv.state), &st);
	return st.queued;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL) {
		abort();
	}
	return d;
}

/* What the database holds before any input. */
static void state_seed(void)
{
	struct event_base *base = event_base_new();
	struct store *st = NULL;
	struct store_contents contents;
	char err[256];
	if (base == NULL || store_open(state_dir, base, &st, &contents, err,
				       sizeof(err)) != GSLB_EOK) {
		abort();
	}
	store_contents_clear(&contents);
	static const uint8_t cert[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct store_override o = {
		.service = xstrdup("app.gslb.test"),
		.port = 80,
		.reason = xstrdup("maintenance window"),
		.source = xstrdup("gslbctl"),
		.set_by = xstrdup("ops"),
		.created = START_TIME,
	};
	struct store_server s = {
		.service = xstrdup("www.gslb.test"),
		.port = 8080,
		.region = xstrdup("eu"),
		.weight = 50,
		.created_by = xstrdup("ops"),
		.created = START_TIME,
	};
	struct store_agent a = {
		.agent_id = xstrdup("web-1"),
		.fingerprint = xstrdup("9f86d081884c7d659a2feaa0c55ad015"
				       "a3bf4f1b2b0b822cd15d6c15b0f00a08"),
		.cert = malloc(sizeof(cert)),
		.cert_len = sizeof(cert),
		.region = xstrdup("eu"),
		.services = xstrdup("app.gslb.test"),
		.first_seen = START_TIME / GSLB_SEC,
		.last_seen = START_TIME / GSLB_SEC + 60,
		.not_after = START_TIME / GSLB_SEC + 365 * 86400,
	};
	struct store_audit_entry e = {
		.time = START_TIME,
		.action = xstrdup("override.set"),
		.resource = xstrdup("overrides/app.gslb.test/192.0.2.11:80"),
		.after = xstrdup("{\"healthy\":false}"),
		.client = xstrdup("127.0.0.1"),
		.actor = xstrdup("ops"),
	};
	struct store_txn *txn = store_txn_new();
	if (a.cert == NULL) {
		abort();
	}
	memcpy(a.cert, cert, sizeof(cert));
	if (gslb_ip_parse("192.0.2.11", &o.ip) != GSLB_EOK ||
	    gslb_ip_parse("192.0.2.30", &s.ip) != GSLB_EOK || txn == NULL ||
	    store_txn_put_override(txn, &o) != GSLB_EOK ||
	    store_txn_put_server(txn, &s) != GSLB_EOK ||
	    store_txn_put_agent(txn, &a) != GSLB_EOK ||
	    store_txn_audit(txn, &e) != GSLB_EOK ||
	    store_commit_wait(st, txn, err, sizeof(err)) != GSLB_EOK) {
		abort();
	}
	store_override_clear(&o);
	store_server_clear(&s);
	store_agent_clear(&a);
	store_audit_entry_clear(&e);
	store_free(st);
	event_base_free(base);
}

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		return; /* e.g. no -wal file */
	}
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char buf[65536];
	ssize_t n;
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			abort();
		}
	}
	if (out < 0 || close(out) != 0) {
		abort();
	}
	close(in);
}

/* Copies the database files between the state and template directories. */
static void copy_db(const char *from, const char *to)
{
	static const char *const files[] = { STORE_FILE_NAME,
					     STORE_FILE_NAME "-wal",
					     STORE_FILE_NAME "-shm" };
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(files); i++) {
		char a[128], b[128];
		snprintf(a, sizeof(a), "%s/%s", from, files[i]);
		snprintf(b, sizeof(b), "%s/%s", to, files[i]);
		unlink(b);
		copy_file(a, b);
	}
}

static void server_up(void)
{
	if (server_open(&srv, config_path, config()) != GSLB_EOK) {
		abort();
	}
	srv.started = START_TIME;
	srv.dns_ready = true;
	if (api_start(&srv, &srv.api) != GSLB_EOK || srv.api == NULL) {
		abort();
	}
	/* The first registry sync commits too. */
	while (store_queued() > 0) {
		event_base_loop(srv.base, EVLOOP_ONCE);
	}
	writes = store_writes();
}

static int remove_one(const char *path, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void teardown(void)
{
	if (up) {
		server_close(&srv);
		up = false;
	}
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	/* Commits are synchronous: keep them off a real disk if we can. */
	snprintf(dir, sizeof(dir), "%s/gslb-fuzz-api-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL) {
		abort();
	}
	snprintf(config_path, sizeof(config_path), "%s/c.yaml", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(template_dir, sizeof(template_dir), "%s/template", dir);
	snprintf(socket_path, sizeof(socket_path), "%s/api.sock", dir);
	if (mkdir(state_dir, 0700) != 0 || mkdir(template_dir, 0700) != 0) {
		abort();
	}
	api_port = free_port(SOCK_STREAM);
	write_config();
	struct gslb_config *cfg = config();
	gslb_log_setup(&cfg->logging, "fuzz_api");
	gslb_config_free(cfg);
	signal(SIGPIPE, SIG_IGN);
	dnssec_global_init();
	if (gslb_seal_init() != GSLB_EOK) {
		abort();
	}

	/* The first start makes the zone's key; keep it for every start. */
	state_seed();
	if (server_open(&srv, config_path, config()) != GSLB_EOK) {
		abort();
	}
	server_close(&srv);
	copy_db(state_dir, template_dir);
	server_up();
	up = true;
	atexit(teardown);
}

/* Back to the state before any input. */
static void rebuild(void)
{
	server_close(&srv);
	copy_db(template_dir, state_dir);
	server_up();
}

struct client {
	const uint8_t *data;
	size_t len;
	size_t sent;
	bool shut; /* all sent, write side shut down */
	bool done; /* the server closed the connection */
};

static void on_client(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	if ((what & EV_WRITE) && !c->shut) {
		ssize_t n = c->sent < c->len
				    ? send(fd, c->data + c->sent,
					   c->len - c->sent, MSG_NOSIGNAL)
				    : 0;
		if (n > 0) {
			c->sent += (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			c->sent = c->len; /* the server closed on us */
		}
		if (c->sent == c->len) {
			shutdown(fd, SHUT_WR);
			c->shut = true;
		}
	}
	if (what & EV_READ) {
		char buf[65536];
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			c->done = true;
		}
	}
}

static int client_connect(bool local)
{
	int fd;
	if (local) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", socket_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			perror("connecting to the API socket");
			abort();
		}
	} else {
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_port = htons(api_port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		};
		/* Thousands of connections a second leave as many in
		 * TIME_WAIT: wait for a local port when they are all taken. */
		for (unsigned tries = 0;; tries++) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, (struct sockaddr *)&sin,
					       sizeof(sin)) == 0) {
				break;
			}
			if (fd < 0 || errno != EADDRNOTAVAIL || tries == 1000) {
				perror("connecting to the API");
				abort();
			}
			close(fd);
			usleep(10000);
		}
	}
	if (evutil_make_socket_nonblocking(fd) != 0) {
		abort();
	}
	return fd;
}

/* Sends the bytes on one connection and reads until the server closes it
 * and the changes the requests queued on the state database are done. */
static void exchange(bool local, const uint8_t *data, size_t size)
{
	struct client c = { .data = data, .len = size };
	int fd = client_connect(local);
	struct event *ev = event_new(
		srv.base, fd, EV_READ | EV_WRITE | EV_PERSIST, on_client, &c);
	if (ev == NULL || event_add(ev, NULL) != 0) {
		abort();
	}
	bool writing = true;
	do {
		event_base_loop(srv.base, EVLOOP_ONCE);
		if (writing && c.shut) {
			/* Only reading now: no more wake-ups to write. */
			event_del(ev);
			event_assign(ev, srv.base, fd, EV_READ | EV_PERSIST,
				     on_client, &c);
			event_add(ev, NULL);
			writing = false;
		}
	} while (!c.done || store_queued() > 0 || srv.api->writes != NULL);
	event_free(ev);
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	/* No TIME_WAIT left behind for thousands of connections. */
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!up) {
		setup();
	}
	if (size > MAX_INPUT) {
		return 0;
	}
	const bool local = size >= strlen(LOCAL) &&
			   memcmp(data, LOCAL, strlen(LOCAL)) == 0;
	if (local) {
		data += strlen(LOCAL);
		size -= strlen(LOCAL);
	}
	exchange(local, data, size);
	if (store_writes() != writes) {
		rebuild();
	}
	return 0;
}
