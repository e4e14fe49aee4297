/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The state database: one SQLite file (WAL) in overwatch.data_dir with what
 * must survive a restart: overrides, servers added through the API, the
 * last known validation state of backends, the audit log, the zones'
 * DNSSEC keys, and the agents' pinned certificates.
 *
 * It is opened and read on the main thread at start. After that, every
 * statement runs on the store's own thread: it commits all the changes
 * queued meanwhile in one transaction (group commit) and reports each
 * change's outcome back on the main loop, in the order the changes were
 * queued. A slow disk, a locked or full database never stalls the main
 * loop, and an API answer can wait until its change is on disk.
 *
 * All functions are for the main thread. Times are wall-clock nanoseconds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "netaddr.h"

struct event_base;

#define STORE_FILE_NAME "overwatch.db"

/* A manual override of a backend's health. */
struct store_override {
	char *service; /* normalized domain name */
	struct gslb_ip ip;
	uint16_t port; /* 0: every port of ip */
	bool healthy;
	char *reason;
	char *source; /* the tool that set it ("gslbctl", "api", ...) */
	char *set_by; /* token name, "local" (UNIX socket) or the X-User */
	gslb_time_t created;
	gslb_time_t expires; /* 0: never */
};

/* A backend added with POST /api/v1/servers. */
struct store_server {
	char *service;
	struct gslb_ip ip;
	uint16_t port;
	char *region; /* NULL: none */
	uint32_t weight;
	char *created_by;
	gslb_time_t created;
};

/* The overwatch's last verdict on a backend, to answer right after a
 * restart before the first checks are done. */
struct store_backend_state {
	char *service;
	struct gslb_ip ip;
	uint16_t port;
	bool healthy;
	gslb_time_t changed;
};

struct store_audit_entry {
	int64_t id; /* assigned by the store; ascending */
	gslb_time_t time;
	char *action;   /* "override.set", "server.add", ... */
	char *resource; /* what it acted on, e.g. "overrides/web.example/..." */
	char *before;   /* JSON text of the old state; NULL: none */
	char *after;    /* JSON text of the new state; NULL: none */
	char *client;   /* client address, or "unix" for the socket */
	char *actor;    /* token name; NULL when none was needed */
};

/*
 * A zone's DNSSEC signing key (schema version 2). Unlike the other records
 * its time is in unix seconds: it is the key's creation time that key sync
 * compares between overwatches and that DNSKEY tools show.
 */
struct store_dnssec_key {
	char *zone;   /* lower case, no trailing dot */
	char *key_id; /* libdnssec's key id (hex SHA-1 of the public key) */
	int algorithm;
	uint16_t flags;
	int64_t created_at; /* unix seconds */
	char *node_id;      /* the overwatch that generated it; NULL: unknown */
	uint8_t *private_pem; /* PKCS#8 PEM; wiped when cleared */
	size_t private_pem_len;
	bool active; /* the zone's signing key; at most one per zone */
};

/*
 * An agent pinned on first use (schema version 3): the certificate it
 * registered with, trusted from then on for that agent id. Times are unix
 * seconds, like the certificate's.
 */
struct store_agent {
	char *agent_id;
	char *fingerprint; /* lower-case hex SHA-256 of cert */
	uint8_t *cert;     /* DER */
	size_t cert_len;
	char *region;   /* as the agent said; NULL: none */
	char *services; /* the services its token was checked for,
			   comma-separated, sorted */
	int64_t first_seen;
	int64_t last_seen;
	int64_t not_after; /* the certificate's */
};

/* Everything read back at start. */
struct store_contents {
	struct store_override *overrides;
	size_t n_overrides;
	struct store_server *servers;
	size_t n_servers;
	struct store_backend_state *states;
	size_t n_states;
	/* Ordered by zone, the active key first, then newest first. */
	struct store_dnssec_key *dnssec_keys;
	size_t n_dnssec_keys;
	/* Ordered by agent id. */
	struct store_agent *agents;
	size_t n_agents;
};

struct store;

/*
 * Opens (creating the directory, mode 0750, and the file, mode 0600, if
 * needed) and migrates the database in dir, reads its contents into out,
 * and starts the store's thread, whose results come back on base. On
 * failure returns a GSLB_E* code and puts the reason, naming the file, in
 * err (e.g. "/var/lib/opengslb/overwatch.db: unable to open database
 * file"); a database written by a newer version is refused.
 */
int store_open(const char *dir, struct event_base *base, struct store **out,
	       struct store_contents *contents, char *err, size_t err_len);

/* Finishes every queued change (calling its done), then closes. */
void store_free(struct store *st);

void store_contents_clear(struct store_contents *c);
void store_override_clear(struct store_override *o);
void store_server_clear(struct store_server *s);
void store_backend_state_clear(struct store_backend_state *s);
void store_audit_entry_clear(struct store_audit_entry *e);
void store_dnssec_key_clear(struct store_dnssec_key *k);
void store_agent_clear(struct store_agent *a);

/* The file's path, for messages. */
const char *store_path(const struct store *st);

/* ------------------------------------------------------------------------ */
/* Changes                                                                  */

/* A set of changes committed together or not at all. */
struct store_txn;

struct store_txn *store_txn_new(void);
/* For a txn never given to store_commit. */
void store_txn_free(struct store_txn *txn);

/*
 * The operations copy what they are given. They return GSLB_EOK or
 * GSLB_ENOMEM; after a failure the txn must be freed, not committed.
 * Puts replace the row with the same key; deletes of absent rows are no-ops.
 */
int store_txn_put_override(struct store_txn *txn,
			   const struct store_override *o);
int store_txn_delete_override(struct store_txn *txn, const char *service,
			      const struct gslb_ip *ip, uint16_t port);
int store_txn_put_server(struct store_txn *txn, const struct store_server *s);
int store_txn_delete_server(struct store_txn *txn, const char *service,
			    const struct gslb_ip *ip, uint16_t port);
int store_txn_put_backend_state(struct store_txn *txn,
				const struct store_backend_state *s);
int store_txn_delete_backend_state(struct store_txn *txn, const char *service,
				   const struct gslb_ip *ip, uint16_t port);
/* The entry's id is ignored: the store numbers entries. */
int store_txn_audit(struct store_txn *txn,
		    const struct store_audit_entry *entry);
/*
 * Puts a zone's DNSSEC key (replacing the row with the same zone and
 * key_id). When k->active, the zone's other keys become inactive in the
 * same transaction, so a zone never has two active keys.
 */
int store_txn_put_dnssec_key(struct store_txn *txn,
			     const struct store_dnssec_key *k);

/* Puts an agent's pin (replacing the row with the same agent id). */
int store_txn_put_agent(struct store_txn *txn, const struct store_agent *a);
/* Only moves last_seen forward; a no-op for an absent agent. */
int store_txn_touch_agent(struct store_txn *txn, const char *agent_id,
			  int64_t last_seen);
int store_txn_delete_agent(struct store_txn *txn, const char *agent_id);

/*
 * Done callbacks run on the main loop. err is GSLB_EOK once the change is
 * committed to disk; otherwise a GSLB_E* code and a message for the log
 * and the API ("state database is locked by another process", "disk
 * full", ...).
 */
typedef void (*store_done_fn)(void *arg, int err, const char *message);

/* Queues txn (taken over). done may be NULL. */
void store_commit(struct store *st, struct store_txn *txn, store_done_fn done,
		  void *arg);

/*
 * Queues txn (taken over) and blocks until it is committed: for start-up
 * and reload, where nothing may go on before the change is on disk (a
 * DNSSEC key must not be served before a restart would find it). The
 * changes queued before it finish first, their done callbacks called from
 * here. GSLB_EOK, or the code and the message (into err) of the failure.
 */
int store_commit_wait(struct store *st, struct store_txn *txn, char *err,
		      size_t err_len);

/* ------------------------------------------------------------------------ */
/* Reading the audit log                                                    */

struct store_audit_query {
	size_t limit;                /* at most this many entries (1..1000) */
	size_t offset;               /* skipping this many of the newest */
	const char *action;          /* exact match; NULL: any */
	const char *resource_prefix; /* NULL: any */
	gslb_time_t since;           /* 0: no lower bound */
};

/*
 * entries: newest first, valid during the call only; total: how many match
 * the query without limit and offset.
 */
typedef void (*store_audit_fn)(void *arg, int err, const char *message,
			       const struct store_audit_entry *entries,
			       size_t n, uint64_t total);

/* Reads on the store's thread, behind the writes queued before it. The
 * query is copied. */
void store_audit_list(struct store *st, const struct store_audit_query *q,
		      store_audit_fn done, void *arg);

/* ------------------------------------------------------------------------ */
/* Health of the database                                                   */

struct store_stats {
	uint64_t commits;          /* transactions committed */
	uint64_t changes;          /* store_commit calls that succeeded */
	uint64_t failures;         /* store_commit calls that failed */
	uint64_t queued;           /* changes waiting now */
	gslb_time_t last_error_at; /* 0: never */
	bool ok;                   /* the last write succeeded */
};

/* Main thread; as of the last completed write. */
void store_get_stats(const struct store *st, struct store_stats *out);

/* The last write error's message, or NULL when the last write succeeded. */
const char *store_last_error(const struct store *st);
