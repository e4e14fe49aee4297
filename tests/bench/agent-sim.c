/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * agent-sim: simulated agents speaking the gossip protocol (lib/gossip.h)
 * to overwatches, for the integration tests and tests/bench/agent-bench.sh.
 * One thread, non-blocking UDP sockets and ppoll. Results are JSON
 * objects, one a line on stdout; diagnostics go to stderr.
 *
 *   agent-sim register --overwatch 127.0.0.1:7946 --key KEY --token TOKEN \
 *       --agent-id a1 --cert-dir DIR --backend 192.0.2.1:80:100:healthy
 *   agent-sim flood --overwatch 127.0.0.1:7946 --key KEY --token TOKEN \
 *       --agents 10000 --interval 1 --duration 60
 *
 * The exit status is 0 when a result was printed (whatever it says), 1 on
 * a setup error (bad key, unresolvable address, identity files) and 64 on
 * a usage error. `agent-sim --help` lists the subcommands and options.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "gossip.h"
#include "identity.h"
#include "netaddr.h"
#include "seal.h"

#define EX_USAGE       64
#define MAX_OVERWATCH  16
#define MAX_BACKENDS   4096
#define SOCK_BUF       (8 << 20)
#define STATS_EVERY    (5 * GSLB_SEC)
#define SCAN_EVERY     (50 * GSLB_MSEC)
#define DEFAULT_SVC    "app.gslb.example"
#define SHARED_CERT_ID "sim-shared"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

struct opts {
	const char *cmd;
	const char *ow_text[MAX_OVERWATCH];
	size_t n_ow;
	const char *key_b64;
	const char *token;
	const char *services[GOSSIP_SERVICES_MAX];
	size_t n_services;
	const char *agent_id;
	const char *cert_dir;
	const char *region;
	double timeout;
	double interval;
	double stay;
	bool deregister;
	unsigned missed_threshold;
	struct gossip_backend backends[MAX_BACKENDS];
	size_t n_backends;
	unsigned long count;
	unsigned long agents;
	unsigned long backends_per_agent;
	double register_rate;
	bool shared_cert;
	double duration;
	double warmup;
	unsigned long sockets;
	const char *id_prefix;
};

static const char usage_text[] =
	"usage: agent-sim COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  register     one agent: hello, register, state; prints the "
	"outcome\n"
	"  replay       registers, then sends one heartbeat twice\n"
	"  impostor     registers --agent-id with a new certificate\n"
	"  wrong-key    a heartbeat sealed with a random key\n"
	"  garbage      --count random datagrams\n"
	"  forge-state  a state for --agent-id with a MAC by a random key\n"
	"  flood        --agents simulated agents heartbeating\n"
	"\n"
	"common options:\n"
	"  --overwatch HOST:PORT   (repeatable) where to send\n"
	"  --key BASE64            the 32-byte gossip key\n"
	"  --token TOKEN           the service token\n"
	"  --service NAME          (repeatable) default " DEFAULT_SVC "\n"
	"  --agent-id ID           default agent-sim\n"
	"  --cert-dir DIR          keep identities as DIR/ID.crt, DIR/ID.key\n"
	"  --region NAME           the agent's region (default none)\n"
	"  --timeout SECONDS       wait for an answer (default 2)\n"
	"  --interval SECONDS      heartbeat interval (default 1)\n"
	"  --missed-threshold N    announced to the overwatch (default 3)\n"
	"register, replay, impostor, forge-state:\n"
	"  --backend IP:PORT[:WEIGHT[:healthy|unhealthy]]  (repeatable)\n"
	"  --stay SECONDS          register: keep heartbeating this long\n"
	"  --deregister            register: deregister at the end\n"
	"garbage:\n"
	"  --count N               datagrams to send (default 1000)\n"
	"flood:\n"
	"  --agents N              default 100\n"
	"  --backends-per-agent K  default 1\n"
	"  --register-rate R       handshakes started per second (default "
	"2000)\n"
	"  --shared-cert           one identity for every agent\n"
	"  --duration SECONDS      whole run, registration included (default "
	"10)\n"
	"  --warmup SECONDS        after all registered, before the steady "
	"window (default 2)\n"
	"  --sockets K             source sockets per overwatch (default 1)\n"
	"  --id-prefix TEXT        agent ids TEXT00001... (default sim-)\n";

enum {
	O_OVERWATCH = 256,
	O_KEY,
	O_TOKEN,
	O_SERVICE,
	O_AGENT_ID,
	O_CERT_DIR,
	O_REGION,
	O_TIMEOUT,
	O_INTERVAL,
	O_MISSED,
	O_BACKEND,
	O_STAY,
	O_DEREGISTER,
	O_COUNT,
	O_AGENTS,
	O_BPA,
	O_RATE,
	O_SHARED,
	O_DURATION,
	O_WARMUP,
	O_SOCKETS,
	O_PREFIX,
	O_HELP,
};

static const struct option long_opts[] = {
	{ "overwatch", required_argument, NULL, O_OVERWATCH },
	{ "key", required_argument, NULL, O_KEY },
	{ "token", required_argument, NULL, O_TOKEN },
	{ "service", required_argument, NULL, O_SERVICE },
	{ "agent-id", required_argument, NULL, O_AGENT_ID },
	{ "cert-dir", required_argument, NULL, O_CERT_DIR },
	{ "region", required_argument, NULL, O_REGION },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "interval", required_argument, NULL, O_INTERVAL },
	{ "missed-threshold", required_argument, NULL, O_MISSED },
	{ "backend", required_argument, NULL, O_BACKEND },
	{ "stay", required_argument, NULL, O_STAY },
	{ "deregister", no_argument, NULL, O_DEREGISTER },
	{ "count", required_argument, NULL, O_COUNT },
	{ "agents", required_argument, NULL, O_AGENTS },
	{ "backends-per-agent", required_argument, NULL, O_BPA },
	{ "register-rate", required_argument, NULL, O_RATE },
	{ "shared-cert", no_argument, NULL, O_SHARED },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "warmup", required_argument, NULL, O_WARMUP },
	{ "sockets", required_argument, NULL, O_SOCKETS },
	{ "id-prefix", required_argument, NULL, O_PREFIX },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage_error(const char *fmt, ...) GSLB_PRINTF(1, 2) GSLB_NORETURN;
static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "agent-sim: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (agent-sim --help for usage)\n");
	exit(EX_USAGE);
}

static double parse_seconds(const char *name, const char *text)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !(v >= 0) || v > 1e6) {
		usage_error("%s wants seconds, a number >= 0", name);
	}
	return v;
}

static unsigned long parse_count(const char *name, const char *text,
				 unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' ||
	    v > max) {
		usage_error("%s wants a whole number in range", name);
	}
	return v;
}

/* IP:PORT[:WEIGHT[:healthy|unhealthy]], or [V6]:PORT[...]. */
static int parse_backend(const char *text, const char *service,
			 struct gossip_backend *b)
{
	char buf[256];
	char *ip = buf, *rest;
	if (strlen(text) >= sizeof(buf)) {
		return -1;
	}
	strcpy(buf, text);
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (close == NULL || close[1] != ':') {
			return -1;
		}
		*close = '\0';
		ip = buf + 1;
		rest = close + 2;
	} else {
		char *colon = strchr(buf, ':');
		if (colon == NULL) {
			return -1;
		}
		*colon = '\0';
		rest = colon + 1;
	}
	memset(b, 0, sizeof(*b));
	if (gslb_ip_parse(ip, &b->ip) != GSLB_EOK) {
		return -1;
	}
	char *fields[3] = { rest, NULL, NULL };
	for (int i = 0; i < 2; i++) {
		char *c = fields[i] ? strchr(fields[i], ':') : NULL;
		if (c != NULL) {
			*c = '\0';
			fields[i + 1] = c + 1;
		}
	}
	char *end;
	unsigned long port = strtoul(fields[0], &end, 10);
	if (*fields[0] == '\0' || *end != '\0' || port == 0 || port > 65535) {
		return -1;
	}
	b->port = (uint16_t)port;
	b->weight = 100;
	b->healthy = true;
	if (fields[1] != NULL) {
		unsigned long w = strtoul(fields[1], &end, 10);
		if (*fields[1] == '\0' || *end != '\0' || w > UINT32_MAX) {
			return -1;
		}
		b->weight = (uint32_t)w;
	}
	if (fields[2] != NULL) {
		if (strcmp(fields[2], "healthy") == 0) {
			b->healthy = true;
		} else if (strcmp(fields[2], "unhealthy") == 0) {
			b->healthy = false;
		} else {
			return -1;
		}
	}
	b->service = service;
	b->service_len = strlen(service);
	return 0;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	const char *backend_text[MAX_BACKENDS];
	int c;

	memset(o, 0, sizeof(*o));
	o->agent_id = "agent-sim";
	o->region = "";
	o->timeout = 2;
	o->interval = 1;
	o->missed_threshold = 3;
	o->count = 1000;
	o->agents = 100;
	o->backends_per_agent = 1;
	o->register_rate = 2000;
	o->duration = 10;
	o->warmup = 2;
	o->sockets = 1;
	o->id_prefix = "sim-";

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
				  strcmp(argv[1], "-h") == 0)) {
			fputs(usage_text, stdout);
			exit(0);
		}
		usage_error("%s", "a command is needed");
	}
	o->cmd = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case O_OVERWATCH:
			if (o->n_ow == MAX_OVERWATCH) {
				usage_error("%s", "too many --overwatch");
			}
			o->ow_text[o->n_ow++] = optarg;
			break;
		case O_KEY:
			o->key_b64 = optarg;
			break;
		case O_TOKEN:
			o->token = optarg;
			break;
		case O_SERVICE:
			if (o->n_services == GOSSIP_SERVICES_MAX) {
				usage_error("%s", "too many --service");
			}
			o->services[o->n_services++] = optarg;
			break;
		case O_AGENT_ID:
			o->agent_id = optarg;
			break;
		case O_CERT_DIR:
			o->cert_dir = optarg;
			break;
		case O_REGION:
			o->region = optarg;
			break;
		case O_TIMEOUT:
			o->timeout = parse_seconds("--timeout", optarg);
			break;
		case O_INTERVAL:
			o->interval = parse_seconds("--interval", optarg);
			break;
		case O_MISSED:
			o->missed_threshold = (unsigned)parse_count(
				"--missed-threshold", optarg, UINT16_MAX);
			break;
		case O_BACKEND:
			if (o->n_backends == MAX_BACKENDS) {
				usage_error("%s", "too many --backend");
			}
			backend_text[o->n_backends++] = optarg;
			break;
		case O_STAY:
			o->stay = parse_seconds("--stay", optarg);
			break;
		case O_DEREGISTER:
			o->deregister = true;
			break;
		case O_COUNT:
			o->count = parse_count("--count", optarg, ULONG_MAX);
			break;
		case O_AGENTS:
			o->agents = parse_count("--agents", optarg, 1000000);
			break;
		case O_BPA:
			o->backends_per_agent = parse_count(
				"--backends-per-agent", optarg, MAX_BACKENDS);
			break;
		case O_RATE:
			o->register_rate =
				parse_seconds("--register-rate", optarg);
			break;
		case O_SHARED:
			o->shared_cert = true;
			break;
		case O_DURATION:
			o->duration = parse_seconds("--duration", optarg);
			break;
		case O_WARMUP:
			o->warmup = parse_seconds("--warmup", optarg);
			break;
		case O_SOCKETS:
			o->sockets = parse_count("--sockets", optarg, 64);
			break;
		case O_PREFIX:
			o->id_prefix = optarg;
			break;
		case O_HELP:
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			usage_error("%s", "bad option");
		}
	}
	if (optind != argc) {
		usage_error("unexpected argument \"%s\"", argv[optind]);
	}
	if (o->n_services == 0) {
		o->services[o->n_services++] = DEFAULT_SVC;
	}
	for (size_t i = 0; i < o->n_backends; i++) {
		if (parse_backend(backend_text[i], o->services[0],
				  &o->backends[i]) != 0) {
			usage_error("bad --backend \"%s\"", backend_text[i]);
		}
	}
	if (o->n_ow == 0) {
		usage_error("%s", "--overwatch is required");
	}
	if (o->key_b64 == NULL) {
		usage_error("%s", "--key is required");
	}
	if (o->token == NULL) {
		if (strcmp(o->cmd, "register") == 0 ||
		    strcmp(o->cmd, "replay") == 0 ||
		    strcmp(o->cmd, "impostor") == 0 ||
		    strcmp(o->cmd, "flood") == 0) {
			usage_error("%s needs --token", o->cmd);
		}
		o->token = "";
	}
	if (o->interval <= 0 || o->timeout <= 0) {
		usage_error("%s", "--interval and --timeout must be > 0");
	}
	if (o->sockets == 0 || o->agents == 0 || o->register_rate <= 0) {
		usage_error("%s", "--sockets, --agents and --register-rate "
				  "must be > 0");
	}
	if (strlen(o->agent_id) > GOSSIP_AGENT_ID_MAX ||
	    strlen(o->id_prefix) > GOSSIP_AGENT_ID_MAX - 7) {
		usage_error("%s", "agent id too long");
	}
}

/* Standard alphabet, padding optional. */
static int b64_decode(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;
	bool pad = false;

	for (; *s != '\0'; s++) {
		int v;
		char c = *s;
		if (c == '=') {
			pad = true;
			continue;
		}
		if (pad) {
			return -1;
		}
		if (c >= 'A' && c <= 'Z') {
			v = c - 'A';
		} else if (c >= 'a' && c <= 'z') {
			v = c - 'a' + 26;
		} else if (c >= '0' && c <= '9') {
			v = c - '0' + 52;
		} else if (c == '+') {
			v = 62;
		} else if (c == '/') {
			v = 63;
		} else {
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap) {
				return -1;
			}
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	*len = n;
	return 0;
}

static void random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			perror("agent-sim: getrandom");
			exit(1);
		}
		p += n;
		len -= (size_t)n;
	}
}

/* ------------------------------------------------------------------------ */
/* JSON lines                                                               */

struct jline {
	char buf[2048];
	size_t len;
	bool first;
};

static void j_raw(struct jline *j, const char *s)
{
	size_t n = strlen(s);
	if (j->len + n < sizeof(j->buf)) {
		memcpy(j->buf + j->len, s, n);
		j->len += n;
	}
}

static void j_begin(struct jline *j)
{
	j->len = 0;
	j->first = true;
	j_raw(j, "{");
}

static void j_key(struct jline *j, const char *key)
{
	if (!j->first) {
		j_raw(j, ",");
	}
	j->first = false;
	j_raw(j, "\"");
	j_raw(j, key);
	j_raw(j, "\":");
}

static void j_str(struct jline *j, const char *key, const char *val)
{
	char esc[8];
	j_key(j, key);
	j_raw(j, "\"");
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		if (*p == '"' || *p == '\\') {
			snprintf(esc, sizeof(esc), "\\%c", *p);
		} else if (*p < 0x20 || *p >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
		} else {
			snprintf(esc, sizeof(esc), "%c", *p);
		}
		j_raw(j, esc);
	}
	j_raw(j, "\"");
}

static void j_u64(struct jline *j, const char *key, uint64_t val)
{
	char num[24];
	snprintf(num, sizeof(num), "%" PRIu64, val);
	j_key(j, key);
	j_raw(j, num);
}

static void j_dbl(struct jline *j, const char *key, double val)
{
	char num[40];
	snprintf(num, sizeof(num), "%.3f", val);
	j_key(j, key);
	j_raw(j, num);
}

static void j_bool(struct jline *j, const char *key, bool val)
{
	j_key(j, key);
	j_raw(j, val ? "true" : "false");
}

static void j_null(struct jline *j, const char *key)
{
	j_key(j, key);
	j_raw(j, "null");
}

static void j_end(struct jline *j)
{
	j_raw(j, "}\n");
	fwrite(j->buf, 1, j->len, stdout);
	fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* The engine: agents, their links to overwatches, the sockets              */

enum stage {
	L_IDLE,
	L_QUEUED,   /* waiting for a handshake token */
	L_HELLO,    /* first heartbeat (no MAC) sent */
	L_REGISTER, /* signed registration sent */
	L_STATE,    /* state fragments sent */
	L_READY,    /* state acknowledged: heartbeating */
	L_REFUSED,
	L_TIMEOUT, /* single-agent runs: a stage went unanswered */
	L_DEREG,   /* deregistration sent */
	L_GONE,    /* deregistration acknowledged */
};

static const char *stage_name(enum stage s)
{
	switch (s) {
	case L_HELLO:
		return "hello";
	case L_REGISTER:
		return "register";
	case L_STATE:
		return "state";
	case L_DEREG:
		return "deregister";
	default:
		return "start";
	}
}

struct agent {
	char id[GOSSIP_AGENT_ID_MAX + 1];
	const struct gslb_identity *ident;
	struct gossip_kx kx;
	uint64_t seq; /* last used */
	uint64_t state_version;
	const struct gossip_backend *backends;
	size_t n_backends;
};

struct link {
	uint32_t agent;
	uint16_t ow;
	uint16_t sock;
	enum stage stage;
	enum stage timed_out; /* the stage that went unanswered */
	bool in_queue;
	bool have_ow_kx;
	uint8_t ow_kx[GOSSIP_KX_LEN];
	uint8_t session[GOSSIP_KEY_LEN];
	uint64_t hello_seq, reg_seq, state_lo, state_hi, dereg_seq;
	gslb_time_t sent_mono; /* when the awaited message went out */
	unsigned tries;        /* re-sends within one handshake */
	enum gossip_reject reason;
	uint64_t acked_state_version;
	char node_id[GOSSIP_NODE_ID_MAX + 1];
};

struct stats {
	uint64_t heartbeats; /* MAC'd heartbeats sent */
	uint64_t hellos, registers, states, deregisters, other;
	uint64_t acks, need_register, need_state, refused, timeouts;
	uint64_t send_errors, rx_bad;
};

struct engine {
	const struct opts *o;
	uint8_t key[GSLB_GOSSIP_KEY_LEN];
	struct gslb_sockaddr ow_addr[MAX_OVERWATCH];
	size_t n_ow;
	int *fds; /* n_ow x socks, overwatch-major */
	struct pollfd *pfds;
	size_t socks, n_fds;

	struct agent *agents;
	size_t n_agents;
	struct link *links; /* agent-major: links[agent * n_ow + ow] */
	size_t n_links;
	size_t n_ready;
	uint32_t *hash; /* agent index + 1; 0 empty */
	size_t hash_mask;

	uint32_t *queue; /* ring of link indices */
	size_t q_head, q_len;
	double tokens;
	gslb_time_t tokens_mono;

	bool retry; /* flood: re-queue what times out */
	bool heartbeats;
	gslb_time_t hb_epoch;
	uint64_t hb_cursor;
	gslb_time_t interval_ns, timeout_ns;
	gslb_time_t last_scan;

	uint64_t probe_seq; /* replay: count the ACKs of this sequence */
	unsigned probe_acks;
	uint64_t rx_any; /* datagrams received at all */
	bool have_last;  /* an ACK came: its flags and reason */
	uint8_t last_flags;
	enum gossip_reject last_reason;

	struct stats st;
	bool send_error_logged;
};

static uint32_t id_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h = (h ^ (uint8_t)*s) * 16777619u;
	}
	return h;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (p == NULL) {
		fprintf(stderr, "agent-sim: out of memory\n");
		exit(1);
	}
	return p;
}

static int resolve(const char *text, struct gslb_sockaddr *sa)
{
	char *host = NULL;
	uint16_t port;
	char pstr[8];
	struct addrinfo hints = { 0 }, *res = NULL;
	if (gslb_hostport_split(text, &host, &port) != GSLB_EOK) {
		fprintf(stderr,
			"agent-sim: --overwatch \"%s\": want HOST:PORT\n",
			text);
		return -1;
	}
	snprintf(pstr, sizeof(pstr), "%u", port);
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	int ret = getaddrinfo(host[0] ? host : "127.0.0.1", pstr, &hints, &res);
	free(host);
	if (ret != 0) {
		fprintf(stderr, "agent-sim: --overwatch \"%s\": %s\n", text,
			gai_strerror(ret));
		return -1;
	}
	memcpy(&sa->ss, res->ai_addr, res->ai_addrlen);
	sa->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int open_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int size = SOCK_BUF;
	if (fd < 0) {
		perror("agent-sim: socket");
		exit(1);
	}
	/* Best effort: capped by net.core.[rw]mem_max. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	return fd;
}

static void engine_init(struct engine *e, const struct opts *o, size_t socks)
{
	size_t len = 0;
	memset(e, 0, sizeof(*e));
	e->o = o;
	if (b64_decode(o->key_b64, e->key, sizeof(e->key), &len) != 0 ||
	    len != GSLB_GOSSIP_KEY_LEN) {
		fprintf(stderr,
			"agent-sim: --key must be base64 of 32 bytes\n");
		exit(1);
	}
	e->n_ow = o->n_ow;
	for (size_t i = 0; i < o->n_ow; i++) {
		if (resolve(o->ow_text[i], &e->ow_addr[i]) != 0) {
			exit(1);
		}
	}
	e->socks = socks;
	e->n_fds = e->n_ow * socks;
	e->fds = xcalloc(e->n_fds, sizeof(*e->fds));
	e->pfds = xcalloc(e->n_fds, sizeof(*e->pfds));
	for (size_t i = 0; i < e->n_fds; i++) {
		e->fds[i] = open_socket(e->ow_addr[i / socks].ss.ss_family);
		e->pfds[i].fd = e->fds[i];
		e->pfds[i].events = POLLIN;
	}
	e->interval_ns = (gslb_time_t)(o->interval * 1e9);
	e->timeout_ns = (gslb_time_t)(o->timeout * 1e9);
	e->tokens_mono = gslb_clock_mono();
	e->tokens = 1;
}

static void engine_agents(struct engine *e, size_t n)
{
	size_t hsize = 16;
	e->n_agents = n;
	e->agents = xcalloc(n, sizeof(*e->agents));
	e->n_links = n * e->n_ow;
	e->links = xcalloc(e->n_links, sizeof(*e->links));
	e->queue = xcalloc(e->n_links, sizeof(*e->queue));
	while (hsize < 2 * n) {
		hsize *= 2;
	}
	e->hash = xcalloc(hsize, sizeof(*e->hash));
	e->hash_mask = hsize - 1;
	for (size_t i = 0; i < e->n_links; i++) {
		struct link *l = &e->links[i];
		l->agent = (uint32_t)(i / e->n_ow);
		l->ow = (uint16_t)(i % e->n_ow);
		l->sock = (uint16_t)(l->ow * e->socks + l->agent % e->socks);
	}
}

/* Call once the agent's id is set. */
static void engine_index(struct engine *e, uint32_t a)
{
	size_t h = id_hash(e->agents[a].id) & e->hash_mask;
	while (e->hash[h] != 0) {
		h = (h + 1) & e->hash_mask;
	}
	e->hash[h] = a + 1;
}

static struct agent *engine_find(struct engine *e, const char *id,
				 uint32_t *index)
{
	size_t h = id_hash(id) & e->hash_mask;
	while (e->hash[h] != 0) {
		struct agent *a = &e->agents[e->hash[h] - 1];
		if (strcmp(a->id, id) == 0) {
			*index = e->hash[h] - 1;
			return a;
		}
		h = (h + 1) & e->hash_mask;
	}
	return NULL;
}

static void engine_free(struct engine *e)
{
	for (size_t i = 0; i < e->n_fds; i++) {
		close(e->fds[i]);
	}
	for (size_t i = 0; i < e->n_agents; i++) {
		gossip_kx_wipe(&e->agents[i].kx);
	}
	free(e->fds);
	free(e->pfds);
	free(e->agents);
	free(e->links);
	free(e->queue);
	free(e->hash);
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                  */

static void send_dgram(struct engine *e, int fd, size_t ow, const uint8_t *buf,
		       size_t len)
{
	const struct gslb_sockaddr *sa = &e->ow_addr[ow];
	for (;;) {
		ssize_t n = sendto(fd, buf, len, 0,
				   (const struct sockaddr *)&sa->ss, sa->len);
		if (n >= 0) {
			return;
		}
		if (errno == EINTR) {
			continue;
		}
		e->st.send_errors++;
		if (!e->send_error_logged && errno != EAGAIN &&
		    errno != ENOBUFS) {
			fprintf(stderr, "agent-sim: sendto: %s\n",
				strerror(errno));
			e->send_error_logged = true;
		}
		return;
	}
}

/* Seals inner with key and sends it on l's socket; the datagram is copied
 * to copy (GOSSIP_MAX_DATAGRAM bytes) when not NULL. */
static int seal_send(struct engine *e, const struct link *l, const uint8_t *key,
		     const uint8_t *inner, size_t len, uint8_t *copy,
		     size_t *copy_len)
{
	uint8_t dgram[GOSSIP_MAX_DATAGRAM];
	int n = gossip_seal(key, inner, len, dgram, sizeof(dgram));
	if (n < 0) {
		fprintf(stderr, "agent-sim: gossip_seal: %s\n",
			gslb_strerror(n));
		return n;
	}
	send_dgram(e, e->fds[l->sock], l->ow, dgram, (size_t)n);
	if (copy != NULL) {
		memcpy(copy, dgram, (size_t)n);
		*copy_len = (size_t)n;
	}
	return GSLB_EOK;
}

static void header(struct agent *a, enum gossip_type type,
		   struct gossip_header *h)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->seq = ++a->seq;
	h->time = gslb_clock_wall();
	memcpy(h->agent_id, a->id, sizeof(h->agent_id));
}

static int encode_heartbeat(struct engine *e, struct agent *a, uint8_t *inner,
			    size_t cap, uint64_t *seq)
{
	struct gossip_header h;
	struct gossip_heartbeat hb = {
		.state_version = a->state_version,
		.n_backends = (uint32_t)a->n_backends,
		.interval_ms = (uint32_t)(e->interval_ns / GSLB_MSEC),
		.missed_threshold = (uint16_t)e->o->missed_threshold,
	};
	header(a, GOSSIP_HEARTBEAT, &h);
	*seq = h.seq;
	return gossip_encode_heartbeat(&h, &hb, inner, cap);
}

static void die_codec(const char *what, int ret)
{
	fprintf(stderr, "agent-sim: %s: %s\n", what, gslb_strerror(ret));
	exit(1);
}

/* A heartbeat; with mac, authenticated with key (else the hello). Its
 * datagram goes to copy when not NULL. */
static uint64_t send_heartbeat(struct engine *e, struct link *l,
			       const uint8_t *mac_key, const uint8_t *seal_key,
			       uint8_t *copy, size_t *copy_len)
{
	uint8_t inner[GOSSIP_MAX_INNER];
	uint64_t seq;
	int n = encode_heartbeat(e, &e->agents[l->agent], inner, sizeof(inner),
				 &seq);
	if (n < 0) {
		die_codec("gossip_encode_heartbeat", n);
	}
	size_t len = (size_t)n;
	if (mac_key != NULL) {
		int ret = gossip_add_mac(inner, &len, sizeof(inner), mac_key);
		if (ret != GSLB_EOK) {
			die_codec("gossip_add_mac", ret);
		}
	}
	(void)seal_send(e, l, seal_key, inner, len, copy, copy_len);
	return seq;
}

static void send_hello(struct engine *e, struct link *l)
{
	l->hello_seq = send_heartbeat(e, l, NULL, e->key, NULL, NULL);
	l->stage = L_HELLO;
	l->sent_mono = gslb_clock_mono();
	e->st.hellos++;
}

static void send_register(struct engine *e, struct link *l)
{
	struct agent *a = &e->agents[l->agent];
	const struct opts *o = e->o;
	uint8_t inner[GOSSIP_MAX_INNER];
	uint8_t sig[GSLB_SIGNATURE_MAX];
	size_t sig_len = sizeof(sig);
	struct gossip_header h;
	struct gossip_register reg;
	int ret;

	memset(&reg, 0, sizeof(reg));
	reg.token = o->token;
	reg.token_len = strlen(o->token);
	reg.cert = gslb_identity_cert(a->ident, &reg.cert_len);
	memcpy(reg.agent_kx, a->kx.pk, GOSSIP_KX_LEN);
	memcpy(reg.overwatch_kx, l->ow_kx, GOSSIP_KX_LEN);
	reg.interval_ms = (uint32_t)(e->interval_ns / GSLB_MSEC);
	reg.missed_threshold = (uint16_t)o->missed_threshold;
	reg.region = o->region;
	reg.region_len = strlen(o->region);
	for (size_t i = 0; i < o->n_services; i++) {
		reg.services[i] = o->services[i];
		reg.service_lens[i] = strlen(o->services[i]);
	}
	reg.n_services = o->n_services;

	if (gossip_session_agent(&a->kx, l->ow_kx, l->session) != GSLB_EOK) {
		/* A bad key from the overwatch: start again with a hello. */
		l->have_ow_kx = false;
		send_hello(e, l);
		return;
	}
	header(a, GOSSIP_REGISTER, &h);
	int n = gossip_encode_register(&h, &reg, inner, sizeof(inner));
	if (n < 0) {
		die_codec("gossip_encode_register", n);
	}
	size_t len = (size_t)n;
	gossip_sign_begin(inner, len);
	ret = gslb_identity_sign(a->ident, inner, len, sig, &sig_len);
	if (ret != GSLB_EOK) {
		die_codec("gslb_identity_sign", ret);
	}
	ret = gossip_sign_end(inner, &len, sizeof(inner), sig, sig_len);
	if (ret != GSLB_EOK) {
		die_codec("gossip_sign_end", ret);
	}
	(void)seal_send(e, l, e->key, inner, len, NULL, NULL);
	l->reg_seq = h.seq;
	l->stage = L_REGISTER;
	l->sent_mono = gslb_clock_mono();
	e->st.registers++;
}

struct emit_ctx {
	struct engine *e;
	const struct link *l;
	const uint8_t *mac_key;
};

static int emit_state(uint8_t *inner, size_t len, size_t cap, void *arg)
{
	struct emit_ctx *c = arg;
	int ret = gossip_add_mac(inner, &len, cap, c->mac_key);
	if (ret != GSLB_EOK) {
		return ret;
	}
	c->e->st.states++;
	return seal_send(c->e, c->l, c->e->key, inner, len, NULL, NULL);
}

/* The whole state in fragments, MAC'd with mac_key. */
static void send_state_with(struct engine *e, struct link *l,
			    const uint8_t *mac_key)
{
	struct agent *a = &e->agents[l->agent];
	struct gossip_header h;
	struct gossip_predictive pred = { 0 };
	struct emit_ctx ctx = { .e = e, .l = l, .mac_key = mac_key };

	header(a, GOSSIP_STATE, &h);
	uint64_t seq = h.seq;
	l->state_lo = seq;
	int ret = gossip_encode_state(
		&h, &seq, a->state_version, &pred, a->backends, a->n_backends,
		GOSSIP_STATE_DATAGRAM - GOSSIP_OVERHEAD - GOSSIP_MAC_LEN,
		emit_state, &ctx);
	if (ret != GSLB_EOK) {
		die_codec("gossip_encode_state", ret);
	}
	a->seq = seq - 1;
	l->state_hi = seq - 1;
	l->stage = L_STATE;
	l->sent_mono = gslb_clock_mono();
}

static void send_deregister(struct engine *e, struct link *l)
{
	struct agent *a = &e->agents[l->agent];
	uint8_t inner[GOSSIP_MAX_INNER];
	struct gossip_header h;

	header(a, GOSSIP_DEREGISTER, &h);
	int n = gossip_encode_deregister(&h, inner, sizeof(inner));
	if (n < 0) {
		die_codec("gossip_encode_deregister", n);
	}
	size_t len = (size_t)n;
	int ret = gossip_add_mac(inner, &len, sizeof(inner), l->session);
	if (ret != GSLB_EOK) {
		die_codec("gossip_add_mac", ret);
	}
	(void)seal_send(e, l, e->key, inner, len, NULL, NULL);
	if (l->stage == L_READY) {
		e->n_ready--;
	}
	l->dereg_seq = h.seq;
	l->stage = L_DEREG;
	l->sent_mono = gslb_clock_mono();
	e->st.deregisters++;
}

static void enqueue(struct engine *e, struct link *l)
{
	if (l->stage == L_READY) {
		e->n_ready--;
	}
	l->stage = L_QUEUED;
	if (l->in_queue) {
		return;
	}
	l->in_queue = true;
	e->queue[(e->q_head + e->q_len) % e->n_links] =
		(uint32_t)(l - e->links);
	e->q_len++;
}

/* Handshakes from the queue, at most register_rate a second. */
static void drain_queue(struct engine *e, gslb_time_t now)
{
	double burst = e->o->register_rate / 20;
	e->tokens += (double)(now - e->tokens_mono) * e->o->register_rate / 1e9;
	e->tokens_mono = now;
	if (e->tokens > (burst < 1 ? 1 : burst)) {
		e->tokens = burst < 1 ? 1 : burst;
	}
	while (e->q_len > 0 && e->tokens >= 1) {
		struct link *l = &e->links[e->queue[e->q_head]];
		e->q_head = (e->q_head + 1) % e->n_links;
		e->q_len--;
		l->in_queue = false;
		if (l->stage != L_QUEUED) {
			continue;
		}
		e->tokens -= 1;
		if (l->have_ow_kx) {
			send_register(e, l);
		} else {
			send_hello(e, l);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Receiving                                                                */

static void set_ready(struct engine *e, struct link *l, uint64_t version)
{
	l->stage = L_READY;
	l->acked_state_version = version;
	l->tries = 0;
	e->n_ready++;
}

static void set_refused(struct engine *e, struct link *l,
			enum gossip_reject reason)
{
	if (l->stage == L_READY) {
		e->n_ready--;
	}
	l->stage = L_REFUSED;
	l->reason = reason;
	e->st.refused++;
}

/* What the overwatch says about the registration or state just sent
 * (stage L_REGISTER or L_STATE) or about a heartbeat (L_READY). */
static void on_ack(struct engine *e, struct link *l,
		   const struct gossip_ack *ack)
{
	struct agent *a = &e->agents[l->agent];
	uint64_t seq = ack->acked_seq;
	bool refused = ack->flags & GOSSIP_ACK_REFUSED;
	bool need_reg = ack->flags & GOSSIP_ACK_NEED_REGISTER;
	bool need_state = ack->flags & GOSSIP_ACK_NEED_STATE;

	e->st.acks++;
	e->have_last = true;
	e->last_flags = ack->flags;
	e->last_reason = ack->reason;
	if (e->probe_seq != 0 && seq == e->probe_seq) {
		e->probe_acks++;
	}
	if (need_state) {
		e->st.need_state++;
	}
	size_t nlen = ack->node_id_len;
	if (nlen > GOSSIP_NODE_ID_MAX) {
		nlen = GOSSIP_NODE_ID_MAX;
	}
	memcpy(l->node_id, ack->node_id, nlen);
	l->node_id[nlen] = '\0';

	switch (l->stage) {
	case L_HELLO:
		if (seq != l->hello_seq) {
			return;
		}
		memcpy(l->ow_kx, ack->overwatch_kx, GOSSIP_KX_LEN);
		l->have_ow_kx = true;
		if (refused) {
			set_refused(e, l, ack->reason);
		} else {
			/* NEED_REGISTER is expected; without it there is no
			 * session for us either. */
			send_register(e, l);
		}
		return;
	case L_REGISTER:
		if (seq != l->reg_seq) {
			return;
		}
		if (refused) {
			set_refused(e, l, ack->reason);
		} else if (need_reg) {
			/* The overwatch's key changed under us: again, with
			 * the key of this answer. */
			memcpy(l->ow_kx, ack->overwatch_kx, GOSSIP_KX_LEN);
			if (++l->tries > 3 && !e->retry) {
				l->timed_out = L_REGISTER;
				l->stage = L_TIMEOUT;
			} else {
				enqueue(e, l);
			}
		} else if (!need_state &&
			   ack->state_version == a->state_version) {
			set_ready(e, l, ack->state_version);
		} else {
			send_state_with(e, l, l->session);
		}
		return;
	case L_STATE:
		if (seq < l->state_lo || seq > l->state_hi) {
			return;
		}
		if (refused) {
			set_refused(e, l, ack->reason);
		} else if (need_reg) {
			memcpy(l->ow_kx, ack->overwatch_kx, GOSSIP_KX_LEN);
			enqueue(e, l);
		} else if (!need_state &&
			   (ack->state_version == a->state_version ||
			    seq == l->state_hi)) {
			set_ready(e, l, ack->state_version);
		} else if (need_state && seq == l->state_hi) {
			if (++l->tries > 3 && !e->retry) {
				l->timed_out = L_STATE;
				l->stage = L_TIMEOUT;
			} else {
				send_state_with(e, l, l->session);
			}
		}
		return;
	case L_READY:
		if (seq <= l->state_hi) {
			return; /* from before the last state */
		}
		l->acked_state_version = ack->state_version;
		if (refused) {
			set_refused(e, l, ack->reason);
		} else if (need_reg) {
			e->st.need_register++;
			memcpy(l->ow_kx, ack->overwatch_kx, GOSSIP_KX_LEN);
			l->have_ow_kx = true;
			l->tries = 0;
			enqueue(e, l);
		} else if (need_state) {
			e->n_ready--;
			l->tries = 0;
			send_state_with(e, l, l->session);
		}
		return;
	case L_DEREG:
		if (seq != l->dereg_seq) {
			return;
		}
		if (refused) {
			l->stage = L_REFUSED;
			l->reason = ack->reason;
		} else {
			l->stage = L_GONE;
		}
		return;
	default:
		return;
	}
}

static void on_datagram(struct engine *e, size_t fd_index, const uint8_t *buf,
			size_t len)
{
	uint8_t inner[GOSSIP_MAX_DATAGRAM];
	size_t inner_len;
	struct gossip_msg m;
	uint32_t ai;

	e->rx_any++;
	if (len > GOSSIP_MAX_DATAGRAM ||
	    gossip_open(e->key, buf, len, inner, &inner_len) !=
		    GOSSIP_ACCEPTED ||
	    gossip_decode(inner, inner_len, &m) != GOSSIP_ACCEPTED ||
	    m.hdr.type != GOSSIP_ACK) {
		e->st.rx_bad++;
		return;
	}
	if (engine_find(e, m.hdr.agent_id, &ai) == NULL) {
		e->st.rx_bad++;
		return;
	}
	on_ack(e, &e->links[ai * e->n_ow + fd_index / e->socks], &m.u.ack);
}

static void receive_all(struct engine *e, size_t fd_index)
{
	uint8_t buf[GOSSIP_MAX_DATAGRAM + 1];
	for (int i = 0; i < 10000; i++) {
		ssize_t n = recv(e->fds[fd_index], buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return; /* EAGAIN, or an ICMP error: nothing to do */
		}
		on_datagram(e, fd_index, buf, (size_t)n);
	}
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                 */

static void scan_timeouts(struct engine *e, gslb_time_t now)
{
	for (size_t i = 0; i < e->n_links; i++) {
		struct link *l = &e->links[i];
		if ((l->stage != L_HELLO && l->stage != L_REGISTER &&
		     l->stage != L_STATE && l->stage != L_DEREG) ||
		    now - l->sent_mono < e->timeout_ns) {
			continue;
		}
		e->st.timeouts++;
		if (e->retry && l->stage != L_DEREG) {
			/* Forget the overwatch's key: it may have restarted. */
			l->have_ow_kx = false;
			enqueue(e, l);
		} else {
			l->timed_out = l->stage;
			l->stage = L_TIMEOUT;
		}
	}
}

static gslb_time_t slot_time(const struct engine *e, uint64_t slot)
{
	return e->hb_epoch +
	       (gslb_time_t)((unsigned __int128)slot *
			     (uint64_t)e->interval_ns / e->n_links);
}

/* Heartbeats of the ready links, each once per interval, evenly spread:
 * slot k (k = 1, 2, ...) is due at epoch + k * interval / n_links and
 * belongs to link k mod n_links. */
static void send_due_heartbeats(struct engine *e, gslb_time_t now)
{
	if (now < e->hb_epoch) {
		return;
	}
	uint64_t due = (uint64_t)((unsigned __int128)(now - e->hb_epoch) *
				  e->n_links / (uint64_t)e->interval_ns);
	if (due > e->hb_cursor + e->n_links) {
		/* We were stalled: do not send a burst to catch up. */
		e->hb_cursor = due - e->n_links;
	}
	while (e->hb_cursor < due) {
		e->hb_cursor++;
		struct link *l = &e->links[e->hb_cursor % e->n_links];
		if (l->stage == L_READY) {
			(void)send_heartbeat(e, l, l->session, e->key, NULL,
					     NULL);
			e->st.heartbeats++;
		}
	}
}

/* One round: queue, heartbeats, timeouts, then wait at most max_wait for
 * answers and read them. */
static void engine_step(struct engine *e, gslb_time_t max_wait)
{
	gslb_time_t now = gslb_clock_mono();
	gslb_time_t wait = max_wait;

	drain_queue(e, now);
	if (e->heartbeats) {
		send_due_heartbeats(e, now);
		gslb_time_t next = slot_time(e, e->hb_cursor + 1) - now;
		if (next < wait) {
			wait = next;
		}
	}
	if (e->n_links <= 64 || now - e->last_scan >= SCAN_EVERY) {
		scan_timeouts(e, now);
		e->last_scan = now;
	}
	if (e->q_len > 0) {
		gslb_time_t tok = (gslb_time_t)(1e9 / e->o->register_rate);
		if (tok < wait) {
			wait = tok;
		}
	}
	if (wait > SCAN_EVERY) {
		wait = SCAN_EVERY;
	}
	if (wait < 0) {
		wait = 0;
	}
	struct timespec ts = { .tv_sec = wait / GSLB_SEC,
			       .tv_nsec = wait % GSLB_SEC };
	int n = ppoll(e->pfds, e->n_fds, &ts, NULL);
	if (n <= 0) {
		return;
	}
	for (size_t i = 0; i < e->n_fds; i++) {
		if (e->pfds[i].revents & POLLIN) {
			receive_all(e, i);
		}
	}
}

typedef bool (*done_fn)(const struct engine *e);

/* Steps until done or the deadline (monotonic; 0: none) or a signal. */
static bool run_until(struct engine *e, done_fn done, gslb_time_t deadline)
{
	for (;;) {
		if (done != NULL && done(e)) {
			return true;
		}
		gslb_time_t now = gslb_clock_mono();
		if (stop_flag || (deadline != 0 && now >= deadline)) {
			return false;
		}
		engine_step(e, deadline != 0 ? deadline - now : SCAN_EVERY);
	}
}

static bool all_settled(const struct engine *e)
{
	for (size_t i = 0; i < e->n_links; i++) {
		enum stage s = e->links[i].stage;
		if (s != L_READY && s != L_REFUSED && s != L_TIMEOUT) {
			return false;
		}
	}
	return true;
}

static bool all_deregistered(const struct engine *e)
{
	for (size_t i = 0; i < e->n_links; i++) {
		if (e->links[i].stage == L_DEREG) {
			return false;
		}
	}
	return true;
}

static bool probe_acked(const struct engine *e)
{
	return e->probe_acks > 0;
}

static bool got_anything(const struct engine *e)
{
	return e->rx_any > 0;
}

/* ------------------------------------------------------------------------ */
/* Identities                                                               */

static struct gslb_identity *identity_make(const char *region)
{
	struct gslb_identity *id = NULL;
	char err[256] = "";
	int ret = gslb_identity_create(region, &id, err, sizeof(err));
	if (ret != GSLB_EOK) {
		fprintf(stderr, "agent-sim: cannot create an identity: %s %s\n",
			gslb_strerror(ret), err);
		exit(1);
	}
	return id;
}

/* DIR/NAME.crt and DIR/NAME.key, made and saved when missing; a fresh
 * unsaved identity without dir. *created says which. */
static struct gslb_identity *identity_get(const char *dir, const char *name,
					  const char *region, bool *created)
{
	struct gslb_identity *id = NULL;
	char crt[4096], key[4096], err[512] = "";
	*created = true;
	if (dir == NULL) {
		return identity_make(region);
	}
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	int ret = gslb_identity_load(crt, key, &id, err, sizeof(err));
	if (ret == GSLB_EOK) {
		*created = false;
		return id;
	}
	if (ret != GSLB_ENOENT) {
		fprintf(stderr, "agent-sim: %s: %s\n", crt, err);
		exit(1);
	}
	id = identity_make(region);
	ret = gslb_identity_save(id, crt, key, err, sizeof(err));
	if (ret != GSLB_EOK) {
		fprintf(stderr, "agent-sim: cannot save %s: %s\n", crt, err);
		exit(1);
	}
	return id;
}

static const char *region_arg(const struct opts *o)
{
	return o->region[0] != '\0' ? o->region : NULL;
}

static void agent_setup(struct engine *e, uint32_t i, const char *id,
			const struct gslb_identity *ident,
			const struct gossip_backend *backends, size_t n)
{
	struct agent *a = &e->agents[i];
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->ident = ident;
	gossip_kx_new(&a->kx);
	/* Above anything an earlier run with this id used. */
	a->seq = (uint64_t)gslb_clock_wall();
	a->state_version = (uint64_t)gslb_clock_wall();
	a->backends = backends;
	a->n_backends = n;
	engine_index(e, i);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

static void print_outcome(const struct link *l)
{
	struct jline j;
	j_begin(&j);
	switch (l->stage) {
	case L_READY:
		j_str(&j, "result", "registered");
		j_u64(&j, "state_version", l->acked_state_version);
		j_str(&j, "node_id", l->node_id);
		break;
	case L_REFUSED:
		j_str(&j, "result", "refused");
		j_str(&j, "reason", gossip_reject_name(l->reason));
		break;
	case L_TIMEOUT:
		j_str(&j, "result", "timeout");
		j_str(&j, "stage", stage_name(l->timed_out));
		break;
	default:
		j_str(&j, "result", "timeout");
		j_str(&j, "stage", stage_name(l->stage));
		break;
	}
	j_end(&j);
}

/* One agent's handshake with every overwatch; true if all registered. */
static bool handshake(struct engine *e)
{
	for (size_t i = 0; i < e->n_links; i++) {
		enqueue(e, &e->links[i]);
	}
	/* Three stages, each with its own timeout; a margin for retries. */
	(void)run_until(e, all_settled, gslb_clock_mono() + 8 * e->timeout_ns);
	bool ok = true;
	for (size_t i = 0; i < e->n_links; i++) {
		ok = ok && e->links[i].stage == L_READY;
	}
	return ok;
}

static void single_agent(struct engine *e, const struct opts *o,
			 const struct gslb_identity *ident,
			 const struct gossip_backend *backends, size_t n)
{
	engine_init(e, o, 1);
	engine_agents(e, 1);
	agent_setup(e, 0, o->agent_id, ident, backends, n);
}

static int cmd_register(const struct opts *o, bool impostor)
{
	struct engine e;
	bool created;
	struct gslb_identity *ident =
		impostor ? identity_make(region_arg(o))
			 : identity_get(o->cert_dir, o->agent_id, region_arg(o),
					&created);

	single_agent(&e, o, ident, o->backends, o->n_backends);
	bool ok = handshake(&e);
	for (size_t i = 0; i < e.n_links; i++) {
		print_outcome(&e.links[i]);
	}
	if (ok && o->stay > 0 && !stop_flag) {
		struct stats before = e.st;
		/* Keep up across an overwatch restart: register again. */
		e.retry = true;
		e.heartbeats = true;
		e.hb_epoch = gslb_clock_mono();
		(void)run_until(&e, NULL,
				e.hb_epoch + (gslb_time_t)(o->stay * 1e9));
		e.heartbeats = false;
		e.retry = false;
		struct jline j;
		j_begin(&j);
		j_str(&j, "result", "stayed");
		j_u64(&j, "heartbeats", e.st.heartbeats - before.heartbeats);
		j_u64(&j, "acks", e.st.acks - before.acks);
		j_u64(&j, "need_register",
		      e.st.need_register - before.need_register);
		j_u64(&j, "registered", e.n_ready);
		j_end(&j);
	}
	if (ok && o->deregister) {
		stop_flag = 0;
		for (size_t i = 0; i < e.n_links; i++) {
			if (e.links[i].stage == L_READY) {
				send_deregister(&e, &e.links[i]);
			}
		}
		(void)run_until(&e, all_deregistered,
				gslb_clock_mono() + e.timeout_ns + GSLB_SEC);
		for (size_t i = 0; i < e.n_links; i++) {
			const struct link *l = &e.links[i];
			struct jline j;
			j_begin(&j);
			if (l->stage == L_GONE) {
				j_str(&j, "result", "deregistered");
			} else if (l->stage == L_REFUSED) {
				j_str(&j, "result", "refused");
				j_str(&j, "reason",
				      gossip_reject_name(l->reason));
			} else {
				j_str(&j, "result", "timeout");
				j_str(&j, "stage", "deregister");
			}
			j_end(&j);
		}
	}
	engine_free(&e);
	gslb_identity_free(ident);
	return 0;
}

static const struct gossip_backend *one_backend(const struct opts *o,
						const char *default_ip,
						struct gossip_backend *b)
{
	if (o->n_backends > 0) {
		return &o->backends[0];
	}
	memset(b, 0, sizeof(*b));
	if (gslb_ip_parse(default_ip, &b->ip) != GSLB_EOK) {
		abort();
	}
	b->port = 80;
	b->weight = 100;
	b->healthy = true;
	b->service = o->services[0];
	b->service_len = strlen(o->services[0]);
	return b;
}

static int cmd_replay(const struct opts *o)
{
	struct engine e;
	struct gossip_backend bk;
	uint8_t dgram[GOSSIP_MAX_DATAGRAM];
	size_t dlen = 0;
	bool created;
	struct gslb_identity *ident =
		identity_get(o->cert_dir, o->agent_id, region_arg(o), &created);

	single_agent(&e, o, ident, one_backend(o, "192.0.2.10", &bk), 1);
	if (!handshake(&e)) {
		print_outcome(&e.links[0]);
	} else {
		struct link *l = &e.links[0];
		e.probe_seq =
			send_heartbeat(&e, l, l->session, e.key, dgram, &dlen);
		bool first = run_until(&e, probe_acked,
				       gslb_clock_mono() + e.timeout_ns);
		e.probe_acks = 0;
		send_dgram(&e, e.fds[l->sock], l->ow, dgram, dlen);
		(void)run_until(&e, NULL, gslb_clock_mono() + e.timeout_ns);
		struct jline j;
		j_begin(&j);
		j_bool(&j, "first_acked", first);
		j_bool(&j, "replay_acked", e.probe_acks > 0);
		j_end(&j);
	}
	engine_free(&e);
	gslb_identity_free(ident);
	return 0;
}

static const char *ack_word(uint8_t flags)
{
	if (flags & GOSSIP_ACK_REFUSED) {
		return "refused";
	}
	if (flags & GOSSIP_ACK_NEED_REGISTER) {
		return "need_register";
	}
	if (flags & GOSSIP_ACK_NEED_STATE) {
		return "need_state";
	}
	return "ok";
}

/* {"answered":false}, or true with what the ACK said. */
static void print_answered(const struct engine *e, bool answered)
{
	struct jline j;
	j_begin(&j);
	j_bool(&j, "answered", answered);
	if (answered && e->have_last) {
		j_str(&j, "ack", ack_word(e->last_flags));
		if (e->last_flags & GOSSIP_ACK_REFUSED) {
			j_str(&j, "reason", gossip_reject_name(e->last_reason));
		}
	}
	j_end(&j);
}

static int cmd_wrong_key(const struct opts *o)
{
	struct engine e;
	uint8_t key[GSLB_GOSSIP_KEY_LEN];

	single_agent(&e, o, NULL, NULL, 0);
	random_bytes(key, sizeof(key));
	(void)send_heartbeat(&e, &e.links[0], NULL, key, NULL, NULL);
	bool answered =
		run_until(&e, got_anything, gslb_clock_mono() + e.timeout_ns);
	print_answered(&e, answered);
	engine_free(&e);
	return 0;
}

static int cmd_forge_state(const struct opts *o)
{
	struct engine e;
	struct gossip_backend bk;
	uint8_t mac_key[GOSSIP_KEY_LEN];

	single_agent(&e, o, NULL, one_backend(o, "192.0.2.66", &bk), 1);
	random_bytes(mac_key, sizeof(mac_key));
	send_state_with(&e, &e.links[0], mac_key);
	bool answered =
		run_until(&e, got_anything, gslb_clock_mono() + e.timeout_ns);
	print_answered(&e, answered);
	engine_free(&e);
	return 0;
}

/* xorshift64*: fast bytes for garbage, seeded from getrandom. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void rng_fill(uint64_t *s, uint8_t *p, size_t len)
{
	while (len > 0) {
		uint64_t v = rng_next(s);
		size_t n = len < 8 ? len : 8;
		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}

/* Four kinds in turn: random bytes; "OGSL" 1 0 then random; sealed random
 * bytes; sealed bytes that start like a message header (type 1..5, flags,
 * seq, time, agent id) and go on randomly. */
static size_t garbage_one(const struct engine *e, uint64_t *rng,
			  unsigned long i, uint8_t *out)
{
	uint8_t inner[GOSSIP_MAX_DATAGRAM];
	size_t len = rng_next(rng) % 1501;
	rng_fill(rng, out, len);
	switch (i % 4) {
	case 0:
		return len;
	case 1: {
		static const uint8_t pre[6] = { 'O', 'G', 'S', 'L', 1, 0 };
		memcpy(out, pre, len < 6 ? len : 6);
		return len;
	}
	default: {
		size_t ilen = len > GOSSIP_OVERHEAD ? len - GOSSIP_OVERHEAD : 0;
		rng_fill(rng, inner, ilen);
		if (i % 4 == 3 && ilen >= 30) {
			uint64_t seq = rng_next(rng);
			int64_t t = gslb_clock_wall();
			inner[0] = (uint8_t)(1 + rng_next(rng) % 5);
			inner[1] = (uint8_t)(rng_next(rng) % 4);
			for (int k = 0; k < 8; k++) {
				inner[2 + k] = (uint8_t)(seq >> (56 - 8 * k));
				inner[10 + k] =
					(uint8_t)((uint64_t)t >> (56 - 8 * k));
			}
			inner[18] = 11;
			memcpy(inner + 19, "sim-garbage", 11);
		}
		int n = gossip_seal(e->key, inner, ilen, out,
				    GOSSIP_MAX_DATAGRAM);
		return n < 0 ? 0 : (size_t)n;
	}
	}
}

static int cmd_garbage(const struct opts *o)
{
	struct engine e;
	uint8_t dgram[GOSSIP_MAX_DATAGRAM];
	uint64_t rng;
	unsigned long sent = 0;

	engine_init(&e, o, 1);
	random_bytes(&rng, sizeof(rng));
	rng |= 1;
	for (unsigned long i = 0; i < o->count && !stop_flag; i++) {
		size_t len = garbage_one(&e, &rng, i, dgram);
		size_t ow = i % e.n_ow;
		const struct gslb_sockaddr *sa = &e.ow_addr[ow];
		for (;;) {
			ssize_t n = sendto(e.fds[ow], dgram, len, 0,
					   (const struct sockaddr *)&sa->ss,
					   sa->len);
			if (n >= 0) {
				sent++;
				break;
			}
			if (errno == EAGAIN || errno == ENOBUFS) {
				struct pollfd p = { .fd = e.fds[ow],
						    .events = POLLOUT };
				(void)poll(&p, 1, 10);
				continue;
			}
			if (errno != EINTR) {
				fprintf(stderr, "agent-sim: sendto: %s\n",
					strerror(errno));
				break;
			}
		}
	}
	struct jline j;
	j_begin(&j);
	j_u64(&j, "sent", sent);
	j_end(&j);
	engine_free(&e);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* flood                                                                    */

struct flood_mark {
	gslb_time_t mono, end;
	uint64_t heartbeats, acks;
};

static void flood_line(const struct engine *e, gslb_time_t start,
		       const struct flood_mark *prev, gslb_time_t all_reg,
		       bool final, const struct flood_mark *steady)
{
	struct jline j;
	gslb_time_t now = gslb_clock_mono();
	double dt = (double)(now - prev->mono) / 1e9;
	j_begin(&j);
	j_dbl(&j, "t", (double)(now - start) / 1e9);
	j_u64(&j, "sent", e->st.heartbeats);
	j_u64(&j, "acks", e->st.acks);
	j_u64(&j, "need_register", e->st.need_register);
	j_u64(&j, "registered", e->n_ready);
	j_dbl(&j, "rate",
	      dt > 0 ? (double)(e->st.heartbeats - prev->heartbeats) / dt : 0);
	j_dbl(&j, "ack_rate",
	      dt > 0 ? (double)(e->st.acks - prev->acks) / dt : 0);
	j_u64(&j, "registers", e->st.registers);
	j_u64(&j, "need_state", e->st.need_state);
	j_u64(&j, "refused", e->st.refused);
	j_u64(&j, "timeouts", e->st.timeouts);
	j_u64(&j, "send_errors", e->st.send_errors);
	if (final) {
		j_bool(&j, "final", true);
		j_u64(&j, "agents", e->n_agents);
		if (all_reg != 0) {
			j_dbl(&j, "registration_seconds",
			      (double)(all_reg - start) / 1e9);
		} else {
			j_null(&j, "registration_seconds");
		}
		if (steady != NULL) {
			/* Until the last heartbeat; the ACKs include those
			 * that came after it. */
			double s = (double)(steady->end - steady->mono) / 1e9;
			uint64_t hb = e->st.heartbeats - steady->heartbeats;
			uint64_t ak = e->st.acks - steady->acks;
			j_dbl(&j, "steady_seconds", s);
			j_u64(&j, "steady_sent", hb);
			j_u64(&j, "steady_acks", ak);
			j_dbl(&j, "steady_rate", s > 0 ? (double)hb / s : 0);
			j_dbl(&j, "steady_ack_rate",
			      s > 0 ? (double)ak / s : 0);
		} else {
			j_null(&j, "steady_seconds");
		}
	}
	j_end(&j);
}

static void flood_event(const char *name, gslb_time_t start)
{
	struct jline j;
	j_begin(&j);
	j_str(&j, "event", name);
	j_dbl(&j, "t", (double)(gslb_clock_mono() - start) / 1e9);
	j_end(&j);
}

static int cmd_flood(const struct opts *o)
{
	struct engine e;
	size_t n = o->agents, k = o->backends_per_agent;
	struct gslb_identity **idents;
	size_t n_idents = o->shared_cert ? 1 : n;
	struct gossip_backend *backends;
	size_t created = 0;
	char id[GOSSIP_AGENT_ID_MAX + 1];

	if (n * k > 0xfffffe) {
		fprintf(stderr, "agent-sim: too many backends for 10/8\n");
		return EX_USAGE;
	}
	engine_init(&e, o, o->sockets);
	engine_agents(&e, n);
	e.retry = true;

	gslb_time_t t0 = gslb_clock_mono();
	idents = xcalloc(n_idents, sizeof(*idents));
	for (size_t i = 0; i < n_idents && !stop_flag; i++) {
		bool made;
		if (o->shared_cert) {
			snprintf(id, sizeof(id), "%s", SHARED_CERT_ID);
		} else {
			snprintf(id, sizeof(id), "%s%05zu", o->id_prefix,
				 i + 1);
		}
		idents[i] = identity_get(o->cert_dir, id, region_arg(o), &made);
		created += made;
	}
	if (stop_flag) {
		return 1;
	}
	struct jline j;
	j_begin(&j);
	j_str(&j, "event", "identities");
	j_u64(&j, "identities", n_idents);
	j_u64(&j, "created", created);
	j_dbl(&j, "seconds", (double)(gslb_clock_mono() - t0) / 1e9);
	j_end(&j);

	/* 10.0.0.1, 10.0.0.2, ...: one address per backend. */
	backends = xcalloc(n * k, sizeof(*backends));
	for (size_t b = 0; b < n * k; b++) {
		struct gossip_backend *bk = &backends[b];
		uint32_t v = (uint32_t)(b + 1);
		bk->service = o->services[0];
		bk->service_len = strlen(o->services[0]);
		bk->ip.family = AF_INET;
		bk->ip.addr[0] = 10;
		bk->ip.addr[1] = (uint8_t)(v >> 16);
		bk->ip.addr[2] = (uint8_t)(v >> 8);
		bk->ip.addr[3] = (uint8_t)v;
		bk->port = 80;
		bk->weight = 100;
		bk->healthy = true;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%s%05zu", o->id_prefix, i + 1);
		agent_setup(&e, (uint32_t)i, id, idents[o->shared_cert ? 0 : i],
			    &backends[i * k], k);
	}

	gslb_time_t start = gslb_clock_mono();
	gslb_time_t end = start + (gslb_time_t)(o->duration * 1e9);
	gslb_time_t all_reg = 0, next_stats = start + STATS_EVERY;
	struct flood_mark prev = { .mono = start }, steady = { 0 };
	bool steady_on = false;

	e.tokens_mono = start;
	e.heartbeats = true;
	e.hb_epoch = start;
	for (size_t i = 0; i < e.n_links; i++) {
		enqueue(&e, &e.links[i]);
	}
	while (!stop_flag) {
		gslb_time_t now = gslb_clock_mono();
		if (now >= end) {
			break;
		}
		if (all_reg == 0 && e.n_ready == e.n_links) {
			all_reg = now;
			flood_event("all_registered", start);
		}
		if (all_reg != 0 && !steady_on &&
		    now >= all_reg + (gslb_time_t)(o->warmup * 1e9)) {
			steady_on = true;
			steady = (struct flood_mark){
				.mono = now,
				.heartbeats = e.st.heartbeats,
				.acks = e.st.acks,
			};
			flood_event("steady", start);
		}
		if (now >= next_stats) {
			flood_line(&e, start, &prev, all_reg, false, NULL);
			prev = (struct flood_mark){
				.mono = now,
				.heartbeats = e.st.heartbeats,
				.acks = e.st.acks,
			};
			next_stats += STATS_EVERY;
		}
		gslb_time_t wait = end - now;
		if (next_stats - now < wait) {
			wait = next_stats - now;
		}
		engine_step(&e, wait);
	}
	/* The answers still on their way. */
	steady.end = gslb_clock_mono();
	e.heartbeats = false;
	(void)run_until(&e, NULL, steady.end + SCAN_EVERY * 6);
	flood_line(&e, start, &prev, all_reg, true, steady_on ? &steady : NULL);

	engine_free(&e);
	for (size_t i = 0; i < n_idents; i++) {
		gslb_identity_free(idents[i]);
	}
	free(idents);
	free(backends);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts *o = xcalloc(1, sizeof(*o));
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	parse_opts(argc, argv, o);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (gslb_seal_init() != GSLB_EOK) {
		fprintf(stderr, "agent-sim: cannot initialise libsodium\n");
		return 1;
	}
	if (strcmp(o->cmd, "register") == 0) {
		ret = cmd_register(o, false);
	} else if (strcmp(o->cmd, "impostor") == 0) {
		ret = cmd_register(o, true);
	} else if (strcmp(o->cmd, "replay") == 0) {
		ret = cmd_replay(o);
	} else if (strcmp(o->cmd, "wrong-key") == 0) {
		ret = cmd_wrong_key(o);
	} else if (strcmp(o->cmd, "garbage") == 0) {
		ret = cmd_garbage(o);
	} else if (strcmp(o->cmd, "forge-state") == 0) {
		ret = cmd_forge_state(o);
	} else if (strcmp(o->cmd, "flood") == 0) {
		ret = cmd_flood(o);
	} else {
		fprintf(stderr,
			"agent-sim: unknown command \"%s\" (agent-sim --help "
			"for usage)\n",
			o->cmd);
		ret = EX_USAGE;
	}
	free(o);
	return ret;
}
