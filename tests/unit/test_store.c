/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The state database on real files in a temporary directory. Results come
 * back on a libevent loop that each test runs until the callbacks it waits
 * for arrived, bounded by a guard timer. A second SQLite connection plays
 * "another process" holding the database's lock.
 */
#include <check.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler.h"
#include "error.h"
#include "store.h"

/* Generous: valgrind is slow, and a locked database waits 2 s. */
#define LIMIT_MS 60000

struct rec {
	int tag;
	int err;
	char msg[512];
};

struct audit_rec {
	int64_t id;
	gslb_time_t time;
	char action[32];
	char resource[64];
	bool has_before, has_after, has_client, has_actor;
};

struct ctx {
	char tmp[64];
	char dir[128];
	char path[192];
	struct event_base *base;
	struct event *guard;
	struct store *st;
	struct store_contents c;
	struct rec recs[600];
	size_t n;
	size_t want;
	/* The last audit listing. */
	int audit_err;
	struct audit_rec audit[32];
	size_t audit_n;
	uint64_t audit_total;
	int audit_seq; /* value of n when the listing arrived */
};

static struct ctx cx;

/* ------------------------------------------------------------------------ */
/* Fixture                                                                  */

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void setup(void)
{
	memset(&cx, 0, sizeof(cx));
	umask(022);
	strcpy(cx.tmp, "/tmp/gslb-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(cx.tmp));
	/* Two levels the store must create. */
	snprintf(cx.dir, sizeof(cx.dir), "%s/state/sub", cx.tmp);
	snprintf(cx.path, sizeof(cx.path), "%s/" STORE_FILE_NAME, cx.dir);
	cx.base = event_base_new();
	ck_assert_ptr_nonnull(cx.base);
	cx.guard = evtimer_new(cx.base, guard_cb, cx.base);
	ck_assert_ptr_nonnull(cx.guard);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

static void teardown(void)
{
	store_free(cx.st);
	store_contents_clear(&cx.c);
	event_free(cx.guard);
	event_base_free(cx.base);
	nftw(cx.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void open_store(void)
{
	char err[512] = "";
	int ret = store_open(cx.dir, cx.base, &cx.st, &cx.c, err, sizeof(err));
	ck_assert_msg(ret == GSLB_EOK, "store_open: %s", err);
	ck_assert_ptr_nonnull(cx.st);
	ck_assert_str_eq(store_path(cx.st), cx.path);
}

static void close_store(void)
{
	store_free(cx.st);
	cx.st = NULL;
	store_contents_clear(&cx.c);
}

static void reopen(void)
{
	close_store();
	open_store();
}

/* Runs the loop until want callbacks in all arrived. */
static void run_until(size_t want)
{
	struct timeval tv = { LIMIT_MS / 1000, 0 };

	if (cx.n >= want) {
		return;
	}
	cx.want = want;
	ck_assert_int_eq(evtimer_add(cx.guard, &tv), 0);
	ck_assert_int_ge(event_base_dispatch(cx.base), 0);
	evtimer_del(cx.guard);
	ck_assert_uint_ge(cx.n, want);
}

static void got_one(void)
{
	cx.n++;
	if (cx.want > 0 && cx.n >= cx.want) {
		event_base_loopbreak(cx.base);
	}
}

static void on_done(void *arg, int err, const char *message)
{
	ck_assert_uint_lt(cx.n, GSLB_ARRAY_SIZE(cx.recs));
	struct rec *r = &cx.recs[cx.n];
	r->tag = (int)(intptr_t)arg;
	r->err = err;
	if (err != GSLB_EOK) {
		ck_assert_ptr_nonnull(message);
		snprintf(r->msg, sizeof(r->msg), "%s", message);
	}
	got_one();
}

static void commit(struct store_txn *txn, int tag)
{
	store_commit(cx.st, txn, on_done, (void *)(intptr_t)tag);
}

static struct gslb_ip ip(const char *text)
{
	struct gslb_ip a;
	ck_assert_int_eq(gslb_ip_parse(text, &a), 0);
	return a;
}

/* Another process's connection to the file. */
static sqlite3 *other_open(void)
{
	sqlite3 *db = NULL;
	ck_assert_int_eq(
		sqlite3_open_v2(cx.path, &db,
				SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
				NULL),
		SQLITE_OK);
	return db;
}

static void other_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
}

static int64_t other_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Holds the write lock, as another process in a transaction would. */
static sqlite3 *lock_db(void)
{
	sqlite3 *db = other_open();
	other_exec(db, "BEGIN EXCLUSIVE");
	return db;
}

static void unlock_db(sqlite3 *db)
{
	other_exec(db, "ROLLBACK");
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */

static struct store_override override(const char *service, const char *addr,
				      uint16_t port, bool healthy,
				      const char *reason)
{
	struct store_override o = {
		.service = (char *)service,
		.ip = ip(addr),
		.port = port,
		.healthy = healthy,
		.reason = (char *)reason,
		.source = (char *)"gslbctl",
		.set_by = (char *)"local",
		.created = INT64_C(1700000000123456789),
		.expires = 0,
	};
	return o;
}

static struct store_backend_state state(const char *service, const char *addr,
					uint16_t port, bool healthy)
{
	struct store_backend_state b = {
		.service = (char *)service,
		.ip = ip(addr),
		.port = port,
		.healthy = healthy,
		.changed = INT64_C(1700000000000000001),
	};
	return b;
}

static void put_state(struct store_txn *txn, const char *service,
		      const char *addr, uint16_t port)
{
	struct store_backend_state b = state(service, addr, port, true);
	ck_assert_int_eq(store_txn_put_backend_state(txn, &b), 0);
}

static void add_audit(struct store_txn *txn, gslb_time_t time,
		      const char *action, const char *resource)
{
	struct store_audit_entry e = {
		.id = 12345, /* ignored */
		.time = time,
		.action = (char *)action,
		.resource = (char *)resource,
		.before = NULL,
		.after = (char *)"{\"healthy\":false}",
		.client = (char *)"unix",
		.actor = NULL,
	};
	ck_assert_int_eq(store_txn_audit(txn, &e), 0);
}

static void str_eq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		ck_assert_ptr_eq(a, b);
	} else {
		ck_assert_str_eq(a, b);
	}
}

static void override_eq(const struct store_override *a,
			const struct store_override *b)
{
	ck_assert_str_eq(a->service, b->service);
	ck_assert(gslb_ip_equal(&a->ip, &b->ip));
	ck_assert_uint_eq(a->port, b->port);
	ck_assert_int_eq(a->healthy, b->healthy);
	str_eq_null(a->reason, b->reason);
	str_eq_null(a->source, b->source);
	str_eq_null(a->set_by, b->set_by);
	ck_assert_int_eq(a->created, b->created);
	ck_assert_int_eq(a->expires, b->expires);
}

static void server_eq(const struct store_server *a,
		      const struct store_server *b)
{
	ck_assert_str_eq(a->service, b->service);
	ck_assert(gslb_ip_equal(&a->ip, &b->ip));
	ck_assert_uint_eq(a->port, b->port);
	str_eq_null(a->region, b->region);
	ck_assert_uint_eq(a->weight, b->weight);
	str_eq_null(a->created_by, b->created_by);
	ck_assert_int_eq(a->created, b->created);
}

static void state_eq(const struct store_backend_state *a,
		     const struct store_backend_state *b)
{
	ck_assert_str_eq(a->service, b->service);
	ck_assert(gslb_ip_equal(&a->ip, &b->ip));
	ck_assert_uint_eq(a->port, b->port);
	ck_assert_int_eq(a->healthy, b->healthy);
	ck_assert_int_eq(a->changed, b->changed);
}

/* ------------------------------------------------------------------------ */
/* Audit listing                                                            */

static void on_audit(void *arg, int err, const char *message,
		     const struct store_audit_entry *entries, size_t n,
		     uint64_t total)
{
	cx.audit_err = err;
	cx.audit_n = n;
	cx.audit_total = total;
	cx.audit_seq = (int)cx.n;
	ck_assert_uint_le(n, GSLB_ARRAY_SIZE(cx.audit));
	for (size_t i = 0; i < n; i++) {
		struct audit_rec *r = &cx.audit[i];
		r->id = entries[i].id;
		r->time = entries[i].time;
		snprintf(r->action, sizeof(r->action), "%s", entries[i].action);
		snprintf(r->resource, sizeof(r->resource), "%s",
			 entries[i].resource);
		r->has_before = entries[i].before != NULL;
		r->has_after = entries[i].after != NULL;
		r->has_actor = entries[i].actor != NULL;
		r->has_client = entries[i].client != NULL;
		if (r->has_client) {
			ck_assert_str_eq(entries[i].client, "unix");
		}
	}
	got_one();
}

static void list_audit(size_t limit, size_t offset, const char *action,
		       const char *prefix, gslb_time_t since)
{
	struct store_audit_query q = {
		.limit = limit,
		.offset = offset,
		.action = action,
		.resource_prefix = prefix,
		.since = since,
	};
	size_t want = cx.n + 1;
	cx.audit_err = -1;
	store_audit_list(cx.st, &q, on_audit, NULL);
	run_until(want);
	ck_assert_int_eq(cx.audit_err, 0);
}

/* ------------------------------------------------------------------------ */
/* DNSSEC key records                                                       */

/* Not a real PEM: the store keeps bytes, NUL and high bytes included. */
static const uint8_t pem_a[] = "-----BEGIN PRIVATE KEY-----\n\0\xff\x01"
			       "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n"
			       "-----END PRIVATE KEY-----\n";
static const uint8_t pem_b[] = "another key";

static struct store_dnssec_key dnssec_key(const char *zone, const char *id,
					  int64_t created, const uint8_t *pem,
					  size_t pem_len, bool active)
{
	struct store_dnssec_key k = {
		.zone = (char *)zone,
		.key_id = (char *)id,
		.algorithm = 13,
		.flags = 257,
		.created_at = created,
		.node_id = (char *)"node-1",
		.private_pem = (uint8_t *)pem,
		.private_pem_len = pem_len,
		.active = active,
	};
	return k;
}

static void put_key_wait(const struct store_dnssec_key *k)
{
	struct store_txn *txn = store_txn_new();
	ck_assert_ptr_nonnull(txn);
	ck_assert_int_eq(store_txn_put_dnssec_key(txn, k), 0);
	char err[512] = "";
	int ret = store_commit_wait(cx.st, txn, err, sizeof(err));
	ck_assert_msg(ret == GSLB_EOK, "store_commit_wait: %s", err);
}

static void key_eq(const struct store_dnssec_key *a,
		   const struct store_dnssec_key *b)
{
	ck_assert_str_eq(a->zone, b->zone);
	ck_assert_str_eq(a->key_id, b->key_id);
	ck_assert_int_eq(a->algorithm, b->algorithm);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_int_eq(a->created_at, b->created_at);
	str_eq_null(a->node_id, b->node_id);
	ck_assert_uint_eq(a->private_pem_len, b->private_pem_len);
	ck_assert_mem_eq(a->private_pem, b->private_pem, b->private_pem_len);
	ck_assert_int_eq(a->active, b->active);
}

/* ------------------------------------------------------------------------ */
/* Agent records                                                            */

/* Not a real certificate: the store keeps bytes, NUL and high bytes
 * included. */
static const uint8_t cert_a[] = "\x30\x82\x01\x0a\0\xff\x00\x7f DER of web-1";
static const uint8_t cert_b[] = "\x30\x82 another certificate";

static struct store_agent agent(const char *id, const uint8_t *cert,
				size_t cert_len, int64_t last_seen)
{
	struct store_agent a = {
		.agent_id = (char *)id,
		.fingerprint = (char *)"9f86d081884c7d659a2feaa0c55ad015"
				       "a3bf4f1b2b0b822cd15d6c15b0f00a08",
		.cert = (uint8_t *)cert,
		.cert_len = cert_len,
		.region = (char *)"eu-west",
		.services = (char *)"api.gslb.example,app.gslb.example",
		.first_seen = INT64_C(1767225600),
		.last_seen = last_seen,
		.not_after = INT64_C(1798761600),
	};
	return a;
}

/* Commits txn and waits for it to be on disk. */
static void commit_wait_ok(struct store_txn *txn)
{
	char err[512] = "";
	int ret = store_commit_wait(cx.st, txn, err, sizeof(err));
	ck_assert_msg(ret == GSLB_EOK, "store_commit_wait: %s", err);
}

static void put_agent_wait(const struct store_agent *a)
{
	struct store_txn *txn = store_txn_new();
	ck_assert_ptr_nonnull(txn);
	ck_assert_int_eq(store_txn_put_agent(txn, a), 0);
	commit_wait_ok(txn);
}

static void agent_eq(const struct store_agent *a, const struct store_agent *b)
{
	ck_assert_str_eq(a->agent_id, b->agent_id);
	ck_assert_str_eq(a->fingerprint, b->fingerprint);
	ck_assert_uint_eq(a->cert_len, b->cert_len);
	ck_assert_mem_eq(a->cert, b->cert, b->cert_len);
	str_eq_null(a->region, b->region);
	ck_assert_str_eq(a->services, b->services);
	ck_assert_int_eq(a->first_seen, b->first_seen);
	ck_assert_int_eq(a->last_seen, b->last_seen);
	ck_assert_int_eq(a->not_after, b->not_after);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

START_TEST(roundtrip_every_record)
{
	struct store_override o[2] = {
		override("web.example", "192.0.2.10", 80, false, "maintenance"),
		override("web.example", "2001:db8::1", 0, true, NULL),
	};
	o[1].source = (char *)"api";
	o[1].set_by = (char *)"alice";
	o[1].expires = INT64_C(1800000000000000000);
	struct store_server s[2] = {
		{ .service = (char *)"api.example",
		  .ip = ip("198.51.100.7"),
		  .port = 443,
		  .region = (char *)"eu-west",
		  .weight = 5,
		  .created_by = (char *)"alice",
		  .created = INT64_C(1700000000000000000) },
		{ .service = (char *)"api.example",
		  .ip = ip("2001:db8::7"),
		  .port = 8443,
		  .region = NULL,
		  .weight = UINT32_MAX,
		  .created_by = (char *)"local",
		  .created = 1 },
	};
	struct store_backend_state b[2] = {
		state("api.example", "198.51.100.7", 443, true),
		state("web.example", "2001:db8::1", 80, false),
	};
	b[1].changed = 42;

	open_store();
	ck_assert_uint_eq(cx.c.n_overrides + cx.c.n_servers + cx.c.n_states, 0);
	struct store_txn *txn = store_txn_new();
	ck_assert_ptr_nonnull(txn);
	/* Out of order: reading back sorts by key. */
	for (int i = 1; i >= 0; i--) {
		ck_assert_int_eq(store_txn_put_override(txn, &o[i]), 0);
		ck_assert_int_eq(store_txn_put_server(txn, &s[i]), 0);
		ck_assert_int_eq(store_txn_put_backend_state(txn, &b[i]), 0);
	}
	add_audit(txn, 5, "override.set", "overrides/web.example");
	/* What the daemon does by itself has no client and no actor. */
	struct store_audit_entry e = {
		.time = 6,
		.action = (char *)"override.expire",
		.resource = (char *)"overrides/web.example",
		.before = (char *)"{}",
	};
	ck_assert_int_eq(store_txn_audit(txn, &e), 0);
	commit(txn, 1);
	run_until(1);
	ck_assert_int_eq(cx.recs[0].err, 0);
	ck_assert_int_eq(cx.recs[0].tag, 1);
	ck_assert_ptr_null(store_last_error(cx.st));

	reopen();
	ck_assert_uint_eq(cx.c.n_overrides, 2);
	ck_assert_uint_eq(cx.c.n_servers, 2);
	ck_assert_uint_eq(cx.c.n_states, 2);
	for (size_t i = 0; i < 2; i++) {
		override_eq(&cx.c.overrides[i], &o[i]);
		server_eq(&cx.c.servers[i], &s[i]);
		state_eq(&cx.c.states[i], &b[i]);
	}
	ck_assert_int_eq(cx.c.overrides[1].ip.family, AF_INET6);
	ck_assert_int_eq(cx.c.servers[0].ip.family, AF_INET);

	list_audit(10, 0, NULL, NULL, 0);
	ck_assert_uint_eq(cx.audit_n, 2);
	ck_assert_int_eq(cx.audit[0].time, 6);
	ck_assert_str_eq(cx.audit[0].action, "override.expire");
	ck_assert(cx.audit[0].has_before);
	ck_assert(!cx.audit[0].has_after);
	ck_assert(!cx.audit[0].has_client);
	ck_assert(!cx.audit[0].has_actor);
	ck_assert_int_eq(cx.audit[1].time, 5);
	ck_assert(!cx.audit[1].has_before);
	ck_assert(cx.audit[1].has_after);
	ck_assert(cx.audit[1].has_client);
	ck_assert(!cx.audit[1].has_actor);
}
END_TEST

START_TEST(modes_of_dir_and_file)
{
	struct stat sb;
	char path[256];

	open_store();
	ck_assert_int_eq(stat(cx.dir, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0750);
	snprintf(path, sizeof(path), "%s/state", cx.tmp);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0750);
	ck_assert_int_eq(stat(cx.path, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);

	/* The WAL files SQLite creates take the database's mode. */
	struct store_txn *txn = store_txn_new();
	put_state(txn, "web.example", "192.0.2.1", 80);
	commit(txn, 1);
	run_until(1);
	ck_assert_int_eq(cx.recs[0].err, 0);
	snprintf(path, sizeof(path), "%s-wal", cx.path);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);

	/* The journal mode is WAL, kept in the file. */
	sqlite3 *db = other_open();
	sqlite3_stmt *s = NULL;
	ck_assert_int_eq(
		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL),
		SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	ck_assert_int_eq(other_int(db, "PRAGMA user_version"), 3);
	sqlite3_close(db);
}
END_TEST

START_TEST(puts_replace_and_deletes_of_absent_rows_succeed)
{
	open_store();
	struct store_override o80 =
		override("web.example", "192.0.2.1", 80, false, "a");
	struct store_override o0 =
		override("web.example", "192.0.2.1", 0, false, "all ports");
	struct store_server s = {
		.service = (char *)"web.example",
		.ip = ip("192.0.2.1"),
		.port = 80,
		.weight = 1,
		.created_by = (char *)"alice",
		.created = 7,
	};
	struct store_txn *txn = store_txn_new();
	ck_assert_int_eq(store_txn_put_override(txn, &o80), 0);
	ck_assert_int_eq(store_txn_put_override(txn, &o0), 0);
	ck_assert_int_eq(store_txn_put_server(txn, &s), 0);
	put_state(txn, "web.example", "192.0.2.1", 80);
	commit(txn, 1);

	/* The same key again replaces; absent rows delete quietly. */
	txn = store_txn_new();
	o80.reason = (char *)"b";
	o80.healthy = true;
	o80.expires = 99;
	ck_assert_int_eq(store_txn_put_override(txn, &o80), 0);
	struct gslb_ip a = ip("192.0.2.1");
	struct gslb_ip other = ip("2001:db8::99");
	ck_assert_int_eq(store_txn_delete_override(txn, "web.example", &a, 81),
			 0);
	ck_assert_int_eq(store_txn_delete_server(txn, "nope.example", &a, 80),
			 0);
	ck_assert_int_eq(
		store_txn_delete_backend_state(txn, "web.example", &other, 80),
		0);
	commit(txn, 2);

	/* Deleting the server and the state for real. */
	txn = store_txn_new();
	ck_assert_int_eq(store_txn_delete_server(txn, "web.example", &a, 80),
			 0);
	ck_assert_int_eq(
		store_txn_delete_backend_state(txn, "web.example", &a, 80), 0);
	commit(txn, 3);
	run_until(3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(cx.recs[i].err, 0);
	}

	reopen();
	ck_assert_uint_eq(cx.c.n_overrides, 2);
	override_eq(&cx.c.overrides[0], &o0); /* port 0 sorts first */
	override_eq(&cx.c.overrides[1], &o80);
	ck_assert_str_eq(cx.c.overrides[1].reason, "b");
	ck_assert_uint_eq(cx.c.n_servers, 0);
	ck_assert_uint_eq(cx.c.n_states, 0);
}
END_TEST

START_TEST(queued_commits_group_and_finish_in_order)
{
	enum { N = 200 };
	open_store();
	/* While another process holds the lock, the thread waits in its
	 * first transaction and the rest pile up behind it. */
	sqlite3 *other = lock_db();
	for (int i = 0; i < N; i++) {
		char service[32];
		snprintf(service, sizeof(service), "s%03d.example", i);
		struct store_txn *txn = store_txn_new();
		put_state(txn, service, "192.0.2.1", 80);
		add_audit(txn, i + 1, "state.set", service);
		commit(txn, i);
	}
	struct store_stats stats;
	store_get_stats(cx.st, &stats);
	ck_assert_uint_eq(stats.queued, N);
	usleep(100 * 1000);
	unlock_db(other);

	run_until(N);
	ck_assert_uint_eq(cx.n, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(cx.recs[i].tag, i);
		ck_assert_msg(cx.recs[i].err == 0, "commit %d: %s", i,
			      cx.recs[i].msg);
	}
	store_get_stats(cx.st, &stats);
	ck_assert_uint_eq(stats.changes, N);
	ck_assert_uint_eq(stats.failures, 0);
	ck_assert_uint_eq(stats.queued, 0);
	ck_assert(stats.ok);
	ck_assert_uint_lt(stats.commits, stats.changes);
	ck_assert_uint_ge(stats.commits, 1);
	ck_assert_uint_le(stats.commits, 2);

	reopen();
	ck_assert_uint_eq(cx.c.n_states, N);
	ck_assert_str_eq(cx.c.states[N - 1].service, "s199.example");
}
END_TEST

/*
 * A change whose statement fails (here a server without a service, which
 * the schema refuses) is rolled back alone, with its earlier statements;
 * the changes committed with it stay.
 */
START_TEST(failing_change_fails_alone)
{
	open_store();
	sqlite3 *other = lock_db(); /* so the three share a transaction */

	struct store_txn *a = store_txn_new();
	put_state(a, "a.example", "192.0.2.1", 80);
	commit(a, 1);

	struct store_txn *b = store_txn_new();
	struct store_override o =
		override("b.example", "192.0.2.2", 80, false, "x");
	ck_assert_int_eq(store_txn_put_override(b, &o), 0);
	struct store_server s = { .service = NULL, .ip = ip("192.0.2.2") };
	ck_assert_int_eq(store_txn_put_server(b, &s), 0);
	commit(b, 2);

	struct store_txn *c = store_txn_new();
	put_state(c, "c.example", "192.0.2.3", 80);
	commit(c, 3);

	usleep(100 * 1000);
	unlock_db(other);
	run_until(3);
	ck_assert_int_eq(cx.recs[0].err, 0);
	ck_assert_int_eq(cx.recs[1].tag, 2);
	ck_assert_int_eq(cx.recs[1].err, GSLB_EINVAL);
	ck_assert_msg(strstr(cx.recs[1].msg, "NOT NULL constraint failed") !=
			      NULL,
		      "%s", cx.recs[1].msg);
	ck_assert_ptr_nonnull(strstr(cx.recs[1].msg, cx.path));
	ck_assert_int_eq(cx.recs[2].err, 0);

	struct store_stats stats;
	store_get_stats(cx.st, &stats);
	ck_assert_uint_eq(stats.changes, 2);
	ck_assert_uint_eq(stats.failures, 1);
	ck_assert_uint_le(stats.commits, 2);
	ck_assert(stats.ok); /* the last write succeeded */
	ck_assert_ptr_null(store_last_error(cx.st));

	reopen();
	ck_assert_uint_eq(cx.c.n_overrides, 0);
	ck_assert_uint_eq(cx.c.n_servers, 0);
	ck_assert_uint_eq(cx.c.n_states, 2);
	ck_assert_str_eq(cx.c.states[0].service, "a.example");
	ck_assert_str_eq(cx.c.states[1].service, "c.example");
}
END_TEST

START_TEST(locked_database_fails_then_recovers)
{
	open_store();
	sqlite3 *other = lock_db();
	struct store_txn *txn = store_txn_new();
	put_state(txn, "web.example", "192.0.2.1", 80);
	commit(txn, 1);
	run_until(1);
	ck_assert_int_eq(cx.recs[0].err, -EBUSY);
	ck_assert_msg(strstr(cx.recs[0].msg, "locked") != NULL, "%s",
		      cx.recs[0].msg);
	ck_assert_ptr_nonnull(strstr(cx.recs[0].msg, cx.path));
	ck_assert_ptr_nonnull(store_last_error(cx.st));
	ck_assert_str_eq(store_last_error(cx.st), cx.recs[0].msg);
	struct store_stats stats;
	store_get_stats(cx.st, &stats);
	ck_assert(!stats.ok);
	ck_assert_uint_eq(stats.failures, 1);
	ck_assert_uint_eq(stats.changes, 0);
	ck_assert_uint_eq(stats.commits, 0);
	ck_assert_int_gt(stats.last_error_at, 0);

	unlock_db(other);
	txn = store_txn_new();
	put_state(txn, "web.example", "192.0.2.2", 80);
	commit(txn, 2);
	run_until(2);
	ck_assert_int_eq(cx.recs[1].err, 0);
	ck_assert_ptr_null(store_last_error(cx.st));
	store_get_stats(cx.st, &stats);
	ck_assert(stats.ok);
	ck_assert_uint_eq(stats.failures, 1);
	ck_assert_uint_eq(stats.changes, 1);
	ck_assert_uint_eq(stats.commits, 1);
	ck_assert_int_gt(stats.last_error_at, 0);

	reopen();
	ck_assert_uint_eq(cx.c.n_states, 1);
	ck_assert_str_eq(cx.c.states[0].service, "web.example");
}
END_TEST

static void expect_open_fails(const char *dir, const char *needle)
{
	char err[512] = "";
	struct store *st = (struct store *)&cx; /* must be overwritten */
	struct store_contents c;
	memset(&c, 0xff, sizeof(c));

	int ret = store_open(dir, cx.base, &st, &c, err, sizeof(err));
	ck_assert_int_ne(ret, 0);
	ck_assert_ptr_null(st);
	ck_assert_ptr_null(c.overrides);
	ck_assert_uint_eq(c.n_overrides + c.n_servers + c.n_states, 0);
	ck_assert_msg(strstr(err, needle) != NULL, "\"%s\" not in \"%s\"",
		      needle, err);
}

START_TEST(newer_version_refused)
{
	snprintf(cx.dir, sizeof(cx.dir), "%s", cx.tmp);
	snprintf(cx.path, sizeof(cx.path), "%s/" STORE_FILE_NAME, cx.dir);
	sqlite3 *db = other_open();
	other_exec(db, "CREATE TABLE future (x); PRAGMA user_version = 999");
	sqlite3_close(db);

	expect_open_fails(cx.dir, "newer version of gslb-overwatchd");
	expect_open_fails(cx.dir, cx.path);
	db = other_open();
	ck_assert_int_eq(other_int(db, "PRAGMA user_version"), 999);
	sqlite3_close(db);
}
END_TEST

START_TEST(garbage_file_refused)
{
	snprintf(cx.dir, sizeof(cx.dir), "%s", cx.tmp);
	snprintf(cx.path, sizeof(cx.path), "%s/" STORE_FILE_NAME, cx.dir);
	FILE *f = fopen(cx.path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 200; i++) {
		fputs("this is not an SQLite database, it is a text file\n", f);
	}
	fclose(f);
	expect_open_fails(cx.dir, "file is not a database");
	expect_open_fails(cx.dir, cx.path);
}
END_TEST

START_TEST(uncreatable_dir_named)
{
	char file[128], dir[160];
	snprintf(file, sizeof(file), "%s/plain-file", cx.tmp);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(dir, sizeof(dir), "%s/sub/dir", file);
	expect_open_fails(dir, dir);
	expect_open_fails(dir, "Not a directory");
}
END_TEST

START_TEST(audit_list_filters)
{
	open_store();
	/* Ten entries: odd ones server.add, the last five on servers/. */
	struct store_txn *txn = store_txn_new();
	for (int i = 0; i < 10; i++) {
		char resource[64];
		snprintf(resource, sizeof(resource), "%s/%d.example",
			 i < 5 ? "overrides" : "servers", i);
		add_audit(txn, 1000 + i * 10,
			  i % 2 ? "server.add" : "override.set", resource);
	}
	commit(txn, 1);
	run_until(1);
	ck_assert_int_eq(cx.recs[0].err, 0);

	list_audit(100, 0, NULL, NULL, 0);
	ck_assert_uint_eq(cx.audit_total, 10);
	ck_assert_uint_eq(cx.audit_n, 10);
	for (size_t i = 0; i < 10; i++) {
		ck_assert_int_eq(cx.audit[i].time, 1000 + (9 - (int)i) * 10);
		if (i > 0) {
			ck_assert_int_lt(cx.audit[i].id, cx.audit[i - 1].id);
		}
	}
	ck_assert_str_eq(cx.audit[0].resource, "servers/9.example");
	ck_assert_str_eq(cx.audit[0].action, "server.add");

	list_audit(3, 2, NULL, NULL, 0);
	ck_assert_uint_eq(cx.audit_total, 10);
	ck_assert_uint_eq(cx.audit_n, 3);
	ck_assert_str_eq(cx.audit[0].resource, "servers/7.example");
	ck_assert_str_eq(cx.audit[2].resource, "servers/5.example");

	list_audit(100, 0, "server.add", NULL, 0);
	ck_assert_uint_eq(cx.audit_total, 5);
	ck_assert_uint_eq(cx.audit_n, 5);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_str_eq(cx.audit[i].action, "server.add");
	}

	list_audit(100, 0, NULL, "servers/", 0);
	ck_assert_uint_eq(cx.audit_total, 5);
	ck_assert_str_eq(cx.audit[4].resource, "servers/5.example");

	/* A prefix is not a pattern. */
	list_audit(100, 0, NULL, "servers/%", 0);
	ck_assert_uint_eq(cx.audit_total, 0);
	ck_assert_uint_eq(cx.audit_n, 0);

	list_audit(100, 0, NULL, NULL, 1070);
	ck_assert_uint_eq(cx.audit_total, 3);
	ck_assert_int_eq(cx.audit[2].time, 1070);

	list_audit(1, 1, "override.set", "servers/", 1000);
	ck_assert_uint_eq(cx.audit_total, 2); /* 6 and 8 */
	ck_assert_uint_eq(cx.audit_n, 1);
	ck_assert_str_eq(cx.audit[0].resource, "servers/6.example");

	list_audit(5, 10, NULL, NULL, 0);
	ck_assert_uint_eq(cx.audit_total, 10);
	ck_assert_uint_eq(cx.audit_n, 0);
}
END_TEST

START_TEST(audit_list_sees_queued_write)
{
	open_store();
	struct store_txn *txn = store_txn_new();
	add_audit(txn, 1, "override.set", "overrides/x");
	commit(txn, 1);
	struct store_audit_query q = { .limit = 10 };
	cx.audit_err = -1;
	store_audit_list(cx.st, &q, on_audit, NULL);
	run_until(2);
	ck_assert_int_eq(cx.recs[0].err, 0);
	ck_assert_int_eq(cx.audit_err, 0);
	ck_assert_int_eq(cx.audit_seq, 1); /* after the commit's done */
	ck_assert_uint_eq(cx.audit_total, 1);
	ck_assert_str_eq(cx.audit[0].resource, "overrides/x");
}
END_TEST

START_TEST(free_finishes_queued_commits)
{
	open_store();
	for (int i = 0; i < 20; i++) {
		char service[32];
		snprintf(service, sizeof(service), "s%02d.example", i);
		struct store_txn *txn = store_txn_new();
		put_state(txn, service, "2001:db8::1", 443);
		commit(txn, i);
	}
	close_store();
	ck_assert_uint_eq(cx.n, 20);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(cx.recs[i].tag, i);
		ck_assert_int_eq(cx.recs[i].err, 0);
	}
	open_store();
	ck_assert_uint_eq(cx.c.n_states, 20);
}
END_TEST

START_TEST(audit_log_bounded)
{
	open_store();
	close_store();
	/* Ten more than kept, written behind the store's back. */
	sqlite3 *db = other_open();
	other_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
		       " SELECT i + 1 FROM n WHERE i < 100010)"
		       " INSERT INTO audit (time, action, resource, client)"
		       " SELECT i, 'old', 'x', 'unix' FROM n");
	sqlite3_close(db);

	open_store();
	struct store_txn *txn = store_txn_new();
	add_audit(txn, 200000, "override.set", "overrides/new");
	commit(txn, 1);
	run_until(1);
	ck_assert_int_eq(cx.recs[0].err, 0);

	db = other_open();
	ck_assert_int_eq(other_int(db, "SELECT count(*) FROM audit"), 100000);
	/* The oldest went: ids 1..11 of 100011. */
	ck_assert_int_eq(other_int(db, "SELECT min(id) FROM audit"), 12);
	sqlite3_close(db);
}
END_TEST

START_TEST(rows_with_bad_addresses_skipped)
{
	open_store();
	close_store();
	sqlite3 *db = other_open();
	other_exec(db, "INSERT INTO servers VALUES"
		       " ('a.example', 'not-an-address', 80, NULL, 1, 'x', 1),"
		       " ('b.example', '192.0.2.9', 80, NULL, 1, 'x', 1)");
	sqlite3_close(db);
	open_store();
	ck_assert_uint_eq(cx.c.n_servers, 1);
	ck_assert_str_eq(cx.c.servers[0].service, "b.example");
}
END_TEST

START_TEST(txn_free_and_clears)
{
	struct store_txn *txn = store_txn_new();
	struct store_override o =
		override("x.example", "192.0.2.1", 0, true, "r");
	ck_assert_int_eq(store_txn_put_override(txn, &o), 0);
	put_state(txn, "x.example", "192.0.2.1", 80);
	struct gslb_ip a = ip("::1");
	ck_assert_int_eq(store_txn_delete_server(txn, "x.example", &a, 1), 0);
	add_audit(txn, 1, "a", "b");
	struct store_dnssec_key k =
		dnssec_key("z.example", "id", 1, pem_a, sizeof(pem_a), true);
	ck_assert_int_eq(store_txn_put_dnssec_key(txn, &k), 0);
	struct store_agent ag = agent("web-1", cert_a, sizeof(cert_a), 1);
	ck_assert_int_eq(store_txn_put_agent(txn, &ag), 0);
	ck_assert_int_eq(store_txn_touch_agent(txn, "web-1", 2), 0);
	ck_assert_int_eq(store_txn_delete_agent(txn, "web-1"), 0);
	store_txn_free(txn);
	store_txn_free(NULL);
	store_free(NULL);

	struct store_override zo = { 0 };
	struct store_server zs = { 0 };
	struct store_backend_state zb = { 0 };
	struct store_audit_entry ze = { 0 };
	struct store_contents zc = { 0 };
	struct store_dnssec_key zk = { 0 };
	struct store_agent za = { 0 };
	store_dnssec_key_clear(&zk);
	store_agent_clear(&za);
	store_override_clear(&zo);
	store_server_clear(&zs);
	store_backend_state_clear(&zb);
	store_audit_entry_clear(&ze);
	store_contents_clear(&zc);

	struct store_server s = { .service = strdup("s"),
				  .region = strdup("r") };
	store_server_clear(&s);
	ck_assert_ptr_null(s.service);
	ck_assert_ptr_null(s.region);

	struct store_agent sa = { .agent_id = strdup("a"),
				  .cert = malloc(3),
				  .cert_len = 3 };
	store_agent_clear(&sa);
	ck_assert_ptr_null(sa.agent_id);
	ck_assert_ptr_null(sa.cert);
	ck_assert_uint_eq(sa.cert_len, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* DNSSEC keys (schema version 2)                                           */

START_TEST(dnssec_key_roundtrip)
{
	open_store();
	ck_assert_uint_eq(cx.c.n_dnssec_keys, 0);
	struct store_dnssec_key k = dnssec_key(
		"gslb.example", "0123456789abcdef0123456789abcdef01234567",
		INT64_C(1767225600), pem_a, sizeof(pem_a), true);
	k.algorithm = 15;
	put_key_wait(&k);
	/* Committed before store_commit_wait returned: another process
	 * (or a restart after kill -9) sees it at once. */
	sqlite3 *db = other_open();
	ck_assert_int_eq(other_int(db, "SELECT count(*) FROM dnssec_keys"
				       " WHERE active = 1"),
			 1);
	sqlite3_close(db);

	reopen();
	ck_assert_uint_eq(cx.c.n_dnssec_keys, 1);
	key_eq(&cx.c.dnssec_keys[0], &k);

	/* A row without a node id reads back as NULL. */
	struct store_dnssec_key k2 = dnssec_key("other.example", "aa", 5, pem_b,
						sizeof(pem_b), false);
	k2.node_id = NULL;
	put_key_wait(&k2);
	reopen();
	ck_assert_uint_eq(cx.c.n_dnssec_keys, 2);
	key_eq(&cx.c.dnssec_keys[0], &k);
	key_eq(&cx.c.dnssec_keys[1], &k2);
}
END_TEST

START_TEST(dnssec_key_active_switch)
{
	open_store();
	struct store_dnssec_key old =
		dnssec_key("z.example", "old", 100, pem_a, sizeof(pem_a), true);
	struct store_dnssec_key new =
		dnssec_key("z.example", "new", 200, pem_b, sizeof(pem_b), true);
	struct store_dnssec_key other =
		dnssec_key("y.example", "y", 50, pem_b, sizeof(pem_b), true);
	put_key_wait(&old);
	put_key_wait(&other);
	put_key_wait(&new);
	reopen();
	/* By zone, the active key first. */
	ck_assert_uint_eq(cx.c.n_dnssec_keys, 3);
	key_eq(&cx.c.dnssec_keys[0], &other);
	key_eq(&cx.c.dnssec_keys[1], &new);
	old.active = false;
	key_eq(&cx.c.dnssec_keys[2], &old);

	/* Back to the old one, through the asynchronous commit. */
	old.active = true;
	struct store_txn *txn = store_txn_new();
	ck_assert_int_eq(store_txn_put_dnssec_key(txn, &old), 0);
	commit(txn, 1);
	run_until(1);
	ck_assert_int_eq(cx.recs[0].err, GSLB_EOK);
	reopen();
	ck_assert_uint_eq(cx.c.n_dnssec_keys, 3);
	key_eq(&cx.c.dnssec_keys[1], &old);
	new.active = false;
	key_eq(&cx.c.dnssec_keys[2], &new);
	ck_assert(cx.c.dnssec_keys[0].active);

	/* The schema itself refuses a second active key for a zone. */
	close_store();
	sqlite3 *db = other_open();
	char *msg = NULL;
	ck_assert_int_ne(sqlite3_exec(db,
				      "UPDATE dnssec_keys SET active = 1"
				      " WHERE zone = 'z.example'",
				      NULL, NULL, &msg),
			 SQLITE_OK);
	sqlite3_free(msg);
	sqlite3_close(db);
}
END_TEST

START_TEST(dnssec_key_commit_wait_failure)
{
	open_store();
	/* No private key: the schema refuses the row. */
	struct store_dnssec_key k =
		dnssec_key("z.example", "id", 1, NULL, 0, true);
	struct store_txn *txn = store_txn_new();
	ck_assert_int_eq(store_txn_put_dnssec_key(txn, &k), 0);
	char err[512] = "";
	ck_assert_int_eq(store_commit_wait(cx.st, txn, err, sizeof(err)),
			 GSLB_EINVAL);
	ck_assert_msg(strstr(err, cx.path) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "NOT NULL") != NULL, "%s", err);

	/* Changes queued before it are answered first, in order. */
	txn = store_txn_new();
	put_state(txn, "a.example", "192.0.2.1", 80);
	commit(txn, 7);
	struct store_dnssec_key ok =
		dnssec_key("z.example", "id", 1, pem_b, sizeof(pem_b), true);
	put_key_wait(&ok);
	ck_assert_uint_eq(cx.n, 1);
	ck_assert_int_eq(cx.recs[0].tag, 7);
	ck_assert_int_eq(cx.recs[0].err, GSLB_EOK);
	/* The wake-up left for the loop finds nothing more to do. */
	struct timeval tv = { 0, 50000 };
	ck_assert_int_eq(evtimer_add(cx.guard, &tv), 0);
	ck_assert_int_ge(event_base_dispatch(cx.base), 0);
	ck_assert_uint_eq(cx.n, 1);
}
END_TEST

/* The schema of version 1, as released: a file written by it must be
 * upgraded in place, keeping its rows. */
static const char v1_schema[] =
	"CREATE TABLE overrides ("
	" service TEXT NOT NULL, address TEXT NOT NULL,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),"
	" healthy INTEGER NOT NULL CHECK (healthy IN (0, 1)),"
	" reason TEXT, source TEXT, set_by TEXT,"
	" created INTEGER NOT NULL, expires INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (service, address, port)) WITHOUT ROWID;"
	"CREATE TABLE servers ("
	" service TEXT NOT NULL, address TEXT NOT NULL,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),"
	" region TEXT,"
	" weight INTEGER NOT NULL CHECK (weight BETWEEN 0 AND 4294967295),"
	" created_by TEXT, created INTEGER NOT NULL,"
	" PRIMARY KEY (service, address, port)) WITHOUT ROWID;"
	"CREATE TABLE backend_state ("
	" service TEXT NOT NULL, address TEXT NOT NULL,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),"
	" healthy INTEGER NOT NULL CHECK (healthy IN (0, 1)),"
	" changed INTEGER NOT NULL,"
	" PRIMARY KEY (service, address, port)) WITHOUT ROWID;"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
	" action TEXT NOT NULL, resource TEXT NOT NULL,"
	" \"before\" TEXT, \"after\" TEXT, client TEXT, actor TEXT);"
	"CREATE INDEX audit_time ON audit (time);"
	"INSERT INTO overrides VALUES ('web.example', '192.0.2.10', 80, 0,"
	" 'kept across the upgrade', 'gslbctl', 'local', 42, 0);"
	"INSERT INTO audit (time, action, resource) VALUES"
	" (42, 'override.set', 'overrides/web.example/192.0.2.10:80');"
	"PRAGMA user_version = 1;";

START_TEST(migrates_v1_to_latest)
{
	snprintf(cx.dir, sizeof(cx.dir), "%s", cx.tmp);
	snprintf(cx.path, sizeof(cx.path), "%s/" STORE_FILE_NAME, cx.dir);
	sqlite3 *db = other_open();
	other_exec(db, "PRAGMA journal_mode = WAL");
	other_exec(db, v1_schema);
	sqlite3_close(db);

	open_store();
	ck_assert_uint_eq(cx.c.n_overrides, 1);
	ck_assert_str_eq(cx.c.overrides[0].reason, "kept across the upgrade");
	ck_assert_uint_eq(cx.c.n_dnssec_keys, 0);
	struct store_dnssec_key k =
		dnssec_key("z.example", "id", 9, pem_a, sizeof(pem_a), true);
	put_key_wait(&k);
	close_store();

	db = other_open();
	ck_assert_int_eq(other_int(db, "PRAGMA user_version"), 3);
	ck_assert_int_eq(other_int(db, "SELECT count(*) FROM audit"), 1);
	ck_assert_int_eq(other_int(db, "SELECT count(*) FROM dnssec_keys"), 1);
	ck_assert_int_eq(other_int(db, "SELECT count(*) FROM agents"), 0);
	sqlite3_close(db);

	open_store();
	ck_assert_uint_eq(cx.c.n_overrides, 1);
	ck_assert_uint_eq(cx.c.n_dnssec_keys, 1);
	key_eq(&cx.c.dnssec_keys[0], &k);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Pinned agents (schema version 3)                                         */

START_TEST(agent_roundtrip)
{
	open_store();
	ck_assert_uint_eq(cx.c.n_agents, 0);
	struct store_agent a =
		agent("web-1", cert_a, sizeof(cert_a), INT64_C(1767225700));
	struct store_agent b =
		agent("db-1", cert_b, sizeof(cert_b), INT64_C(1767225800));
	b.region = NULL;
	b.services = (char *)"db.gslb.example";
	b.fingerprint = (char *)"00112233445566778899aabbccddeeff"
				"00112233445566778899aabbccddeeff";
	b.first_seen = 1;
	b.not_after = INT64_MAX;

	/* Through the asynchronous commit, both in one change. */
	struct store_txn *txn = store_txn_new();
	ck_assert_ptr_nonnull(txn);
	ck_assert_int_eq(store_txn_put_agent(txn, &a), 0);
	ck_assert_int_eq(store_txn_put_agent(txn, &b), 0);
	commit(txn, 1);
	run_until(1);
	ck_assert_int_eq(cx.recs[0].err, GSLB_EOK);

	sqlite3 *db = other_open();
	ck_assert_int_eq(other_int(db, "SELECT length(certificate) FROM agents"
				       " WHERE agent_id = 'web-1'"),
			 (int64_t)sizeof(cert_a));
	ck_assert_int_eq(other_int(db, "SELECT region IS NULL FROM agents"
				       " WHERE agent_id = 'db-1'"),
			 1);
	sqlite3_close(db);

	reopen();
	ck_assert_uint_eq(cx.c.n_agents, 2);
	agent_eq(&cx.c.agents[0], &b);
	agent_eq(&cx.c.agents[1], &a);
	ck_assert_ptr_null(cx.c.agents[0].region);
}
END_TEST

START_TEST(agent_touch_moves_last_seen_forward_only)
{
	open_store();
	struct store_agent a = agent("web-1", cert_a, sizeof(cert_a), 1000);
	put_agent_wait(&a);

	struct store_txn *txn = store_txn_new();
	ck_assert_int_eq(store_txn_touch_agent(txn, "web-1", 2000), 0);
	ck_assert_int_eq(store_txn_touch_agent(txn, "web-1", 1500), 0);
	/* An unknown agent: no row appears, and the change succeeds. */
	ck_assert_int_eq(store_txn_touch_agent(txn, "ghost", 3000), 0);
	commit(txn, 1);
	run_until(1);
	ck_assert_int_eq(cx.recs[0].err, GSLB_EOK);

	reopen();
	ck_assert_uint_eq(cx.c.n_agents, 1);
	a.last_seen = 2000;
	agent_eq(&cx.c.agents[0], &a);

	/* Older, and equal, leave it; newer moves it. */
	txn = store_txn_new();
	ck_assert_int_eq(store_txn_touch_agent(txn, "web-1", 999), 0);
	commit_wait_ok(txn);
	txn = store_txn_new();
	ck_assert_int_eq(store_txn_touch_agent(txn, "web-1", 2000), 0);
	commit_wait_ok(txn);
	reopen();
	ck_assert_int_eq(cx.c.agents[0].last_seen, 2000);
	ck_assert_int_eq(cx.c.agents[0].first_seen, a.first_seen);

	txn = store_txn_new();
	ck_assert_int_eq(store_txn_touch_agent(txn, "web-1", 2001), 0);
	commit_wait_ok(txn);
	reopen();
	ck_assert_uint_eq(cx.c.n_agents, 1);
	ck_assert_int_eq(cx.c.agents[0].last_seen, 2001);
	ck_assert_int_eq(cx.c.agents[0].first_seen, a.first_seen);
}
END_TEST

START_TEST(agent_delete)
{
	open_store();
	struct store_agent a = agent("web-1", cert_a, sizeof(cert_a), 10);
	struct store_agent b = agent("web-2", cert_b, sizeof(cert_b), 20);
	put_agent_wait(&a);
	put_agent_wait(&b);

	struct store_txn *txn = store_txn_new();
	ck_assert_int_eq(store_txn_delete_agent(txn, "web-1"), 0);
	ck_assert_int_eq(store_txn_delete_agent(txn, "never-seen"), 0);
	commit(txn, 1);
	run_until(1);
	ck_assert_int_eq(cx.recs[0].err, GSLB_EOK);

	reopen();
	ck_assert_uint_eq(cx.c.n_agents, 1);
	agent_eq(&cx.c.agents[0], &b);

	/* Deleted, it is pinned afresh by the next put. */
	put_agent_wait(&a);
	reopen();
	ck_assert_uint_eq(cx.c.n_agents, 2);
	agent_eq(&cx.c.agents[0], &a);
}
END_TEST

START_TEST(agent_put_replaces)
{
	open_store();
	struct store_agent a = agent("web-1", cert_a, sizeof(cert_a), 10);
	put_agent_wait(&a);

	struct store_agent a2 = agent("web-1", cert_b, sizeof(cert_b), 5);
	a2.fingerprint = (char *)"ffeeddccbbaa99887766554433221100"
				 "ffeeddccbbaa99887766554433221100";
	a2.region = NULL;
	a2.services = (char *)"other.gslb.example";
	a2.first_seen = 4;
	a2.not_after = 6;
	put_agent_wait(&a2);

	reopen();
	ck_assert_uint_eq(cx.c.n_agents, 1);
	/* Every column is the new one's, last_seen included. */
	agent_eq(&cx.c.agents[0], &a2);
}
END_TEST

START_TEST(agents_ordered_by_id)
{
	static const char *const ids[] = { "web-2", "web-10", "api-1", "db-1",
					   "Zeta" };
	/* Byte order: upper case first, "web-10" before "web-2". */
	static const char *const sorted[] = { "Zeta", "api-1", "db-1", "web-10",
					      "web-2" };
	open_store();
	struct store_txn *txn = store_txn_new();
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(ids); i++) {
		struct store_agent a =
			agent(ids[i], cert_a, sizeof(cert_a), (int64_t)i + 100);
		ck_assert_int_eq(store_txn_put_agent(txn, &a), 0);
	}
	commit_wait_ok(txn);
	reopen();
	ck_assert_uint_eq(cx.c.n_agents, GSLB_ARRAY_SIZE(sorted));
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(sorted); i++) {
		ck_assert_str_eq(cx.c.agents[i].agent_id, sorted[i]);
	}
}
END_TEST

START_TEST(agent_without_certificate_refused)
{
	open_store();
	struct store_agent a = agent("web-1", NULL, 0, 10);
	struct store_txn *txn = store_txn_new();
	ck_assert_int_eq(store_txn_put_agent(txn, &a), 0);
	char err[512] = "";
	ck_assert_int_eq(store_commit_wait(cx.st, txn, err, sizeof(err)),
			 GSLB_EINVAL);
	ck_assert_msg(strstr(err, "NOT NULL") != NULL, "%s", err);
	ck_assert_msg(strstr(err, cx.path) != NULL, "%s", err);

	/* Nor without services. */
	a = agent("web-1", cert_a, sizeof(cert_a), 10);
	a.services = NULL;
	txn = store_txn_new();
	ck_assert_int_eq(store_txn_put_agent(txn, &a), 0);
	ck_assert_int_eq(store_commit_wait(cx.st, txn, err, sizeof(err)),
			 GSLB_EINVAL);
	ck_assert_msg(strstr(err, "agents.services") != NULL, "%s", err);

	reopen();
	ck_assert_uint_eq(cx.c.n_agents, 0);
}
END_TEST

/* What version 2 added, as released, with a key in it. */
static const char v2_schema[] =
	"CREATE TABLE dnssec_keys ("
	" zone TEXT NOT NULL, key_id TEXT NOT NULL,"
	" algorithm INTEGER NOT NULL CHECK (algorithm BETWEEN 1 AND 255),"
	" flags INTEGER NOT NULL CHECK (flags BETWEEN 0 AND 65535),"
	" created_at INTEGER NOT NULL, node_id TEXT,"
	" private_pem BLOB NOT NULL,"
	" active INTEGER NOT NULL CHECK (active IN (0, 1)),"
	" PRIMARY KEY (zone, key_id)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX dnssec_keys_active ON dnssec_keys (zone)"
	" WHERE active = 1;"
	"INSERT INTO dnssec_keys VALUES ('z.example', 'id', 13, 257, 9,"
	" 'node-1', X'6b657900ff', 1);"
	"PRAGMA user_version = 2;";

START_TEST(migrates_v2_to_v3)
{
	snprintf(cx.dir, sizeof(cx.dir), "%s", cx.tmp);
	snprintf(cx.path, sizeof(cx.path), "%s/" STORE_FILE_NAME, cx.dir);
	sqlite3 *db = other_open();
	other_exec(db, "PRAGMA journal_mode = WAL");
	other_exec(db, v1_schema);
	other_exec(db, v2_schema);
	ck_assert_int_eq(other_int(db, "PRAGMA user_version"), 2);
	sqlite3_close(db);

	open_store();
	ck_assert_uint_eq(cx.c.n_overrides, 1);
	ck_assert_uint_eq(cx.c.n_dnssec_keys, 1);
	static const uint8_t pem[] = { 'k', 'e', 'y', 0, 0xff };
	struct store_dnssec_key k =
		dnssec_key("z.example", "id", 9, pem, sizeof(pem), true);
	key_eq(&cx.c.dnssec_keys[0], &k);
	ck_assert_uint_eq(cx.c.n_agents, 0);
	struct store_agent a = agent("web-1", cert_a, sizeof(cert_a), 10);
	put_agent_wait(&a);
	close_store();

	db = other_open();
	ck_assert_int_eq(other_int(db, "PRAGMA user_version"), 3);
	ck_assert_int_eq(other_int(db, "SELECT count(*) FROM dnssec_keys"), 1);
	ck_assert_int_eq(other_int(db, "SELECT count(*) FROM agents"), 1);
	sqlite3_close(db);

	open_store();
	ck_assert_uint_eq(cx.c.n_overrides, 1);
	ck_assert_uint_eq(cx.c.n_dnssec_keys, 1);
	ck_assert_uint_eq(cx.c.n_agents, 1);
	agent_eq(&cx.c.agents[0], &a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, roundtrip_every_record);
	tcase_add_test(tc, modes_of_dir_and_file);
	tcase_add_test(tc, puts_replace_and_deletes_of_absent_rows_succeed);
	tcase_add_test(tc, queued_commits_group_and_finish_in_order);
	tcase_add_test(tc, failing_change_fails_alone);
	tcase_add_test(tc, locked_database_fails_then_recovers);
	tcase_add_test(tc, newer_version_refused);
	tcase_add_test(tc, garbage_file_refused);
	tcase_add_test(tc, uncreatable_dir_named);
	tcase_add_test(tc, audit_list_filters);
	tcase_add_test(tc, audit_list_sees_queued_write);
	tcase_add_test(tc, free_finishes_queued_commits);
	tcase_add_test(tc, audit_log_bounded);
	tcase_add_test(tc, rows_with_bad_addresses_skipped);
	tcase_add_test(tc, txn_free_and_clears);
	tcase_add_test(tc, dnssec_key_roundtrip);
	tcase_add_test(tc, dnssec_key_active_switch);
	tcase_add_test(tc, dnssec_key_commit_wait_failure);
	tcase_add_test(tc, migrates_v1_to_latest);
	tcase_add_test(tc, agent_roundtrip);
	tcase_add_test(tc, agent_touch_moves_last_seen_forward_only);
	tcase_add_test(tc, agent_delete);
	tcase_add_test(tc, agent_put_replaces);
	tcase_add_test(tc, agents_ordered_by_id);
	tcase_add_test(tc, agent_without_certificate_refused);
	tcase_add_test(tc, migrates_v2_to_v3);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
