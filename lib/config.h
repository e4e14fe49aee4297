/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Configuration: YAML files (with includes) turned into typed structs, every
 * rule checked at load time. gslb-overwatchd, gslb-agentd and
 * `--check-config` all go through gslb_config_load(), so what the checker
 * accepts is exactly what the daemons run.
 *
 * Key names follow the original OpenGSLB (see docs/configuration.md for the
 * places where this project deliberately differs).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compiler.h"
#include "log.h"
#include "netaddr.h"

/* Durations are nanoseconds; the YAML form is Go's ("500ms", "1m30s"). */
typedef int64_t gslb_duration_t;
#define GSLB_USEC ((gslb_duration_t)1000)
#define GSLB_MSEC ((gslb_duration_t)1000000)
#define GSLB_SEC  ((gslb_duration_t)1000000000)

/* Parses a Go-style duration; 0 or GSLB_EINVAL/GSLB_ERANGE. */
int gslb_duration_parse(const char *text, gslb_duration_t *out);

/*
 * DNS names in the config are kept in presentation form, lower case, without
 * the trailing dot ("app.gslb.example"); the root is not allowed.
 */

#define GSLB_DNSSEC_ACK                                                    \
	"I understand that disabling DNSSEC removes cryptographic "        \
	"authentication of DNS responses and allows DNS spoofing attacks " \
	"against my zones"

#define GSLB_GOSSIP_KEY_LEN 32

enum gslb_mode {
	GSLB_MODE_OVERWATCH = 0,
	GSLB_MODE_AGENT,
};

enum gslb_check_type {
	GSLB_CHECK_HTTP = 0,
	GSLB_CHECK_HTTPS,
	GSLB_CHECK_TCP,
};

enum gslb_algorithm {
	GSLB_ALG_ROUND_ROBIN = 0, /* "round-robin", "roundrobin", "rr" */
	GSLB_ALG_WEIGHTED,        /* "weighted", "weight" */
	GSLB_ALG_FAILOVER, /* "failover", "active-standby", "activestandby" */
};

enum gslb_dnssec_algorithm {
	GSLB_DNSSEC_ECDSAP256SHA256 = 13,
	GSLB_DNSSEC_ECDSAP384SHA384 = 14,
	GSLB_DNSSEC_ED25519 = 15,
};

/* Where a value came from, for messages at run time (reload, API). */
struct gslb_config_pos {
	const char *file; /* points into gslb_config.files */
	unsigned line;    /* 1-based */
	unsigned column;  /* 1-based */
};

/* HTTP status codes first..last, inclusive. */
struct gslb_status_range {
	uint16_t first;
	uint16_t last;
};

struct gslb_health_check {
	enum gslb_check_type type;  /* default http */
	gslb_duration_t interval;   /* default 30s; at least 1s */
	gslb_duration_t timeout;    /* default 5s; at least 100ms */
	char *path;                 /* http/https; default "/health" */
	char *host;                 /* Host header / SNI; NULL = none */
	unsigned failure_threshold; /* default 3; 1..100 */
	unsigned success_threshold; /* default 2; 1..100 */
	/* http/https: healthy status codes; none listed = 200-299. */
	struct gslb_status_range *expected_status;
	size_t n_expected_status;
	char *expected_body;  /* substring the body must hold; NULL = any */
	char *tls_ca_file;    /* https: trusted CAs; NULL = system store */
	bool tls_skip_verify; /* https: accept any certificate */
};

struct gslb_server {
	char *address;     /* as written */
	struct gslb_ip ip; /* parsed; must be an IP literal */
	uint16_t port;     /* default 80 */
	uint32_t weight;   /* default 100; 0 = out of weighted selection */
	char *service;     /* domain name (normalized) it serves */
	char *host;        /* Host header / SNI for checks; NULL = none */
	struct gslb_config_pos pos;
};

struct gslb_region {
	char *name;
	struct gslb_server *servers;
	size_t n_servers;
	struct gslb_health_check health_check;
	struct gslb_config_pos pos;
};

struct gslb_domain {
	char *name;                    /* normalized */
	enum gslb_algorithm algorithm; /* default round-robin */
	char **regions;                /* names, in priority order */
	size_t n_regions;
	uint32_t ttl;         /* default dns.default_ttl */
	unsigned max_records; /* records per answer; default 1 */
	size_t zone;          /* index into dns.zones (longest match) */
	struct gslb_config_pos pos;
};

struct gslb_nameserver {
	char *name;            /* normalized */
	struct gslb_ip *addrs; /* served as A/AAAA when name is in the zone */
	size_t n_addrs;
};

struct gslb_zone {
	char *name;   /* normalized apex */
	uint32_t ttl; /* TTL of SOA and NS; default 3600 */
	struct {
		char *mname; /* default: first nameserver */
		char *rname; /* mailbox as a name; default hostmaster.<zone> */
		uint32_t serial;  /* default: load time (seconds since epoch) */
		uint32_t refresh; /* seconds; default 3600 */
		uint32_t retry;   /* default 600 */
		uint32_t expire;  /* default 1209600 */
		uint32_t minimum; /* negative-answer TTL; default 60 */
	} soa;
	/* Default: ns1.<zone> with the listen address when that is one IP. */
	struct gslb_nameserver *nameservers;
	size_t n_nameservers;
	struct gslb_config_pos pos;
};

struct gslb_dns_config {
	char *listen_address;         /* default ":53" (all addresses) */
	struct gslb_sockaddr *listen; /* resolved: one per socket to bind */
	size_t n_listen;
	uint32_t default_ttl;     /* default 60 */
	bool return_last_healthy; /* default false */
	struct gslb_zone *zones;
	size_t n_zones;
	unsigned workers;         /* UDP threads per address; 0 = cores */
	uint16_t max_udp_payload; /* EDNS UDP size we accept; default 1232 */
	bool nsid; /* answer NSID (RFC 5001) with node_id; default off */
	unsigned tcp_max_connections;     /* default 256 */
	gslb_duration_t tcp_idle_timeout; /* default 10s */
};

struct gslb_agent_token {
	char *service;
	char *token;
};

/* A bearer token for API writes; the name is what the audit log shows. */
struct gslb_api_token {
	char *name;
	char *token;
};

struct gslb_overwatch_config {
	char *node_id; /* default: host name */
	char *region;
	struct gslb_agent_token *agent_tokens;
	size_t n_agent_tokens;
	struct {
		char *bind_address; /* default "0.0.0.0:7946" when a key is set
				     */
		bool key_set;       /* gossip is enabled iff a key is set */
		uint8_t key[GSLB_GOSSIP_KEY_LEN];
	} gossip;
	struct {
		bool enabled;                   /* default true */
		gslb_duration_t check_interval; /* default 30s */
		gslb_duration_t check_timeout;  /* default 5s */
	} validation;
	struct {
		gslb_duration_t threshold;    /* default 30s */
		gslb_duration_t remove_after; /* default 5m */
	} stale;
	struct {
		bool enabled; /* default true; false needs the acknowledgement
			       */
		enum gslb_dnssec_algorithm
			algorithm; /* default ECDSAP256SHA256 */
		/* Denial of existence: NSEC (default) or NSEC3 with SHA-1,
		 * no extra iterations, empty salt (RFC 9276). */
		bool nsec3;
		char **key_sync_peers;
		size_t n_key_sync_peers;
		gslb_duration_t key_sync_poll_interval; /* default 1h */
		gslb_duration_t key_sync_timeout;       /* default 30s */
	} dnssec;
	char *data_dir; /* default GSLB_STATEDIR */
};

struct gslb_agent_backend {
	char *service;
	char *address;
	uint16_t port;
	uint32_t weight; /* default 100 */
	struct gslb_health_check health_check;
	struct gslb_config_pos pos;
};

struct gslb_agent_config {
	struct {
		char *service_token; /* at least 16 characters */
		/* Names the agent to the overwatches; default: the host
		 * name, with characters outside [A-Za-z0-9._-] as '-'. */
		char *agent_id;
		char *region;
		char *cert_path; /* default GSLB_STATEDIR/agent.crt */
		char *key_path;  /* default GSLB_STATEDIR/agent.key */
	} identity;
	struct gslb_agent_backend *backends;
	size_t n_backends;
	struct {
		bool enabled;
		gslb_duration_t check_interval; /* default 10s */
		double cpu_threshold;           /* percent 0..100; default 90 */
		gslb_duration_t cpu_bleed_duration;    /* default 30s */
		double memory_threshold;               /* percent; default 85 */
		gslb_duration_t memory_bleed_duration; /* default 30s */
		double error_rate_threshold; /* errors per minute; default 10 */
		gslb_duration_t error_rate_window;         /* default 60s */
		gslb_duration_t error_rate_bleed_duration; /* default 30s */
	} predictive;
	struct {
		bool key_set;
		uint8_t key[GSLB_GOSSIP_KEY_LEN];
		char **overwatch_nodes; /* host:port */
		size_t n_overwatch_nodes;
	} gossip;
	struct {
		gslb_duration_t interval;  /* default 10s */
		unsigned missed_threshold; /* default 3 */
	} heartbeat;
};

struct gslb_config {
	enum gslb_mode mode;
	char **files; /* absolute paths loaded: main file first */
	size_t n_files;

	struct gslb_log_config logging;
	/* Started as root: switch to this user and group once the ports are
	 * open. NULL: stay (user), the user's primary group (group). */
	struct {
		char *user;
		char *group;
	} process;
	struct {
		bool enabled;  /* default false */
		char *address; /* default "127.0.0.1:9090" */
	} metrics;
	struct {
		bool enabled;  /* default false */
		char *address; /* default "127.0.0.1:8080" */
		struct gslb_cidr *allowed_networks; /* default loopback */
		size_t n_allowed_networks;
		bool trust_proxy_headers;
		/* Writes over TCP need one of these; none: no token needed. */
		struct gslb_api_token *tokens;
		size_t n_tokens;
		/* UNIX socket for local tools, file permissions as access
		 * control; default GSLB_RUNDIR/overwatch.sock, NULL: none. */
		char *socket;
	} api;

	/* Overwatch mode. */
	struct gslb_dns_config dns;
	struct gslb_region *regions;
	size_t n_regions;
	struct gslb_domain *domains;
	size_t n_domains;
	struct gslb_overwatch_config overwatch;

	/* Agent mode. */
	struct gslb_agent_config agent;
};

/* Every problem found in a load, in file order. */
struct gslb_config_errors {
	char **msgs; /* "FILE:LINE:COL: KEY.PATH: what is wrong" */
	size_t n;
};

void gslb_config_errors_clear(struct gslb_config_errors *errs);

/* Every error, then "PATH: configuration has N errors" (command lines). */
void gslb_config_errors_print(FILE *out, const char *path,
			      const struct gslb_config_errors *errs);
/* Every error as a log line (a daemon's reload). */
void gslb_config_errors_log(const struct gslb_config_errors *errs);

/*
 * Loads and validates the file at path for a daemon of the given mode (the
 * file's `mode`, if present, must agree). On success *out is a new config
 * (caller frees with gslb_config_free) and errs is empty. On failure returns
 * GSLB_ECONFIG (or another GSLB_E*), leaves *out NULL, and errs holds every
 * error found, each naming file, line, column and key.
 */
int gslb_config_load(const char *path, enum gslb_mode mode,
		     struct gslb_config **out, struct gslb_config_errors *errs)
	GSLB_NONNULL(1, 3, 4) GSLB_WARN_UNUSED;

void gslb_config_free(struct gslb_config *cfg);

/* Lookups over a loaded config; NULL when absent. */
const struct gslb_region *gslb_config_region(const struct gslb_config *cfg,
					     const char *name);
const struct gslb_domain *gslb_config_domain(const struct gslb_config *cfg,
					     const char *name);

/*
 * Whether a presented secret (sent, sent_len bytes) equals a configured
 * token (api.tokens, overwatch.agent_tokens), in time independent of
 * where they differ.
 */
bool gslb_token_equal(const char *sent, size_t sent_len, const char *token);

/* 1 to 64 of [A-Za-z0-9._-]: what an agent id may be. */
bool gslb_agent_id_ok(const char *id);

/* Canonical names for messages and the API. */
const char *gslb_algorithm_name(enum gslb_algorithm alg);
const char *gslb_check_type_name(enum gslb_check_type type);
