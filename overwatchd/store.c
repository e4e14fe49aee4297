/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "compiler.h"
#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "store.h"

/* The audit log keeps the newest AUDIT_KEEP entries; the older ones are
 * deleted after every AUDIT_TRIM_EVERY insertions (and once per start). */
#define AUDIT_KEEP       100000
#define AUDIT_TRIM_EVERY 256
#define AUDIT_MAX_LIMIT  1000
/* How long a statement waits for another process's lock. */
#define BUSY_TIMEOUT_MS 2000

/*
 * Schema migrations, in order: step i takes the file from user_version i
 * to i + 1. A step, once released, never changes; a new version appends
 * one.
 *
 * Addresses are canonical text (gslb_ip_format), times wall-clock
 * nanoseconds (but DNSSEC keys' created_at and the agents' times: unix
 * seconds), booleans 0/1.
 * Port 0 in overrides means every port.
 */
static const char *const migrations[] = {
	/* 1: the initial schema. */
	"CREATE TABLE overrides ("
	" service TEXT NOT NULL,"
	" address TEXT NOT NULL,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),"
	" healthy INTEGER NOT NULL CHECK (healthy IN (0, 1)),"
	" reason TEXT,"
	" source TEXT,"
	" set_by TEXT,"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (service, address, port)"
	") WITHOUT ROWID;"
	"CREATE TABLE servers ("
	" service TEXT NOT NULL,"
	" address TEXT NOT NULL,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),"
	" region TEXT,"
	" weight INTEGER NOT NULL CHECK (weight BETWEEN 0 AND 4294967295),"
	" created_by TEXT,"
	" created INTEGER NOT NULL,"
	" PRIMARY KEY (service, address, port)"
	") WITHOUT ROWID;"
	"CREATE TABLE backend_state ("
	" service TEXT NOT NULL,"
	" address TEXT NOT NULL,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),"
	" healthy INTEGER NOT NULL CHECK (healthy IN (0, 1)),"
	" changed INTEGER NOT NULL,"
	" PRIMARY KEY (service, address, port)"
	") WITHOUT ROWID;"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time INTEGER NOT NULL,"
	" action TEXT NOT NULL,"
	" resource TEXT NOT NULL,"
	" \"before\" TEXT,"
	" \"after\" TEXT,"
	" client TEXT," /* NULL: the daemon itself (expiry) */
	" actor TEXT"
	");"
	/* Newest first is the rowid backwards; this serves "since". */
	"CREATE INDEX audit_time ON audit (time);",

	/* 2: DNSSEC keys, one active per zone (the index makes sure). */
	"CREATE TABLE dnssec_keys ("
	" zone TEXT NOT NULL,"
	" key_id TEXT NOT NULL,"
	" algorithm INTEGER NOT NULL CHECK (algorithm BETWEEN 1 AND 255),"
	" flags INTEGER NOT NULL CHECK (flags BETWEEN 0 AND 65535),"
	" created_at INTEGER NOT NULL,"
	" node_id TEXT,"
	" private_pem BLOB NOT NULL,"
	" active INTEGER NOT NULL CHECK (active IN (0, 1)),"
	" PRIMARY KEY (zone, key_id)"
	") WITHOUT ROWID;"
	"CREATE UNIQUE INDEX dnssec_keys_active ON dnssec_keys (zone)"
	" WHERE active = 1;",

	/* 3: agents pinned on first use, with the certificate (DER). */
	"CREATE TABLE agents ("
	" agent_id TEXT PRIMARY KEY,"
	" fingerprint TEXT NOT NULL,"
	" certificate BLOB NOT NULL,"
	" region TEXT,"
	" services TEXT NOT NULL,"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL"
	") WITHOUT ROWID;",
};

#define SCHEMA_VERSION ((int)GSLB_ARRAY_SIZE(migrations))

/* Statements prepared once per connection. */
enum {
	S_BEGIN,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_PUT_OVERRIDE,
	S_DELETE_OVERRIDE,
	S_PUT_SERVER,
	S_DELETE_SERVER,
	S_PUT_STATE,
	S_DELETE_STATE,
	S_AUDIT_INSERT,
	S_AUDIT_TRIM,
	S_AUDIT_COUNT,
	S_AUDIT_LIST,
	S_KEY_DEACTIVATE,
	S_PUT_KEY,
	S_PUT_AGENT,
	S_TOUCH_AGENT,
	S_DELETE_AGENT,
	N_STMTS
};

#define AUDIT_WHERE                                                 \
	" WHERE (?1 IS NULL OR action = ?1)"                        \
	" AND (?2 IS NULL OR substr(resource, 1, length(?2)) = ?2)" \
	" AND time >= ?3"

static const char *const stmt_sql[N_STMTS] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT job",
	[S_RELEASE] = "RELEASE job",
	[S_ROLLBACK_TO] = "ROLLBACK TO job",
	[S_PUT_OVERRIDE] = "INSERT OR REPLACE INTO overrides (service, address,"
			   " port, healthy, reason, source, set_by, created,"
			   " expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[S_DELETE_OVERRIDE] = "DELETE FROM overrides"
			      " WHERE service = ? AND address = ? AND port = ?",
	[S_PUT_SERVER] = "INSERT OR REPLACE INTO servers (service, address,"
			 " port, region, weight, created_by, created)"
			 " VALUES (?, ?, ?, ?, ?, ?, ?)",
	[S_DELETE_SERVER] = "DELETE FROM servers"
			    " WHERE service = ? AND address = ? AND port = ?",
	[S_PUT_STATE] = "INSERT OR REPLACE INTO backend_state (service,"
			" address, port, healthy, changed)"
			" VALUES (?, ?, ?, ?, ?)",
	[S_DELETE_STATE] = "DELETE FROM backend_state"
			   " WHERE service = ? AND address = ? AND port = ?",
	[S_AUDIT_INSERT] = "INSERT INTO audit (time, action, resource,"
			   " \"before\", \"after\", client, actor)"
			   " VALUES (?, ?, ?, ?, ?, ?, ?)",
	[S_AUDIT_TRIM] = "DELETE FROM audit WHERE id <= (SELECT id FROM audit"
			 " ORDER BY id DESC LIMIT 1 OFFSET ?)",
	[S_AUDIT_COUNT] = "SELECT count(*) FROM audit" AUDIT_WHERE,
	[S_AUDIT_LIST] = "SELECT id, time, action, resource, \"before\","
			 " \"after\", client, actor FROM audit" AUDIT_WHERE
			 " ORDER BY id DESC LIMIT ?4 OFFSET ?5",
	/* Before the put: the unique index would refuse two active keys. */
	[S_KEY_DEACTIVATE] = "UPDATE dnssec_keys SET active = 0"
			     " WHERE zone = ?1 AND key_id <> ?2 AND active = 1",
	[S_PUT_KEY] = "INSERT OR REPLACE INTO dnssec_keys (zone, key_id,"
		      " algorithm, flags, created_at, node_id, private_pem,"
		      " active) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[S_PUT_AGENT] =
		"INSERT OR REPLACE INTO agents (agent_id, fingerprint,"
		" certificate, region, services, first_seen,"
		" last_seen, not_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[S_TOUCH_AGENT] = "UPDATE agents SET last_seen = ?2"
			  " WHERE agent_id = ?1 AND last_seen < ?2",
	[S_DELETE_AGENT] = "DELETE FROM agents WHERE agent_id = ?",
};

enum op_kind {
	OP_PUT_OVERRIDE,
	OP_DELETE_OVERRIDE,
	OP_PUT_SERVER,
	OP_DELETE_SERVER,
	OP_PUT_STATE,
	OP_DELETE_STATE,
	OP_AUDIT,
	OP_PUT_KEY,
	OP_PUT_AGENT,
	OP_TOUCH_AGENT,  /* u.ag: agent_id and last_seen only */
	OP_DELETE_AGENT, /* u.ag: agent_id only */
};

/* One change. The address is formatted when queued; "" for an address of
 * no known family, stored as NULL so that the statement fails. */
struct op {
	enum op_kind kind;
	char address[GSLB_IP_STRLEN];
	union {
		struct store_override o;
		struct store_server s;
		struct store_backend_state b;
		struct store_audit_entry a;
		struct store_dnssec_key k;
		struct store_agent ag;
		struct {
			char *service;
			uint16_t port;
		} key;
	} u;
};

enum job_kind {
	JOB_COMMIT,
	JOB_AUDIT_LIST,
};

/* What the thread works on: a txn or an audit query, then its result. */
struct job {
	struct job *next;
	enum job_kind kind;
	void *arg;
	/* Results, filled on the thread. */
	int err;
	char *message;         /* NULL on success */
	gslb_time_t failed_at; /* wall clock */
	bool ends_txn;         /* the last success of a committed transaction */
};

struct store_txn {
	struct job job; /* first: the txn is queued as it is */
	store_done_fn done;
	struct op *ops;
	size_t n_ops;
	size_t cap_ops;
	size_t n_audit;
};

struct audit_job {
	struct job job; /* first */
	store_audit_fn done;
	size_t limit;
	size_t offset;
	char *action;
	char *resource_prefix;
	gslb_time_t since;
	struct store_audit_entry *entries;
	size_t n;
	uint64_t total;
};

struct store {
	char *path;
	struct event_base *base;
	struct event *ev;
	int efd;

	/* The connection: the main thread's until the thread starts, then
	 * the thread's alone. */
	sqlite3 *db;
	sqlite3_stmt *stmts[N_STMTS];

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t done_cond; /* the thread finished jobs */
	bool sync_ready;          /* lock and conds initialized */

	/* Under lock. */
	struct job *todo, **todo_tail;
	struct job *done, **done_tail;
	bool stopping;

	/* The thread's. */
	size_t audit_since_trim;
	bool trim_failed; /* logged once */

	/* The main thread's. */
	bool closing;
	struct store_stats stats; /* queued is counted apart */
	uint64_t queued;
	char *last_error;
	int last_err; /* its code */
};

/* ------------------------------------------------------------------------ */
/* Records                                                                  */

void store_override_clear(struct store_override *o)
{
	free(o->service);
	free(o->reason);
	free(o->source);
	free(o->set_by);
	memset(o, 0, sizeof(*o));
}

void store_server_clear(struct store_server *s)
{
	free(s->service);
	free(s->region);
	free(s->created_by);
	memset(s, 0, sizeof(*s));
}

void store_backend_state_clear(struct store_backend_state *s)
{
	free(s->service);
	memset(s, 0, sizeof(*s));
}

void store_audit_entry_clear(struct store_audit_entry *e)
{
	free(e->action);
	free(e->resource);
	free(e->before);
	free(e->after);
	free(e->client);
	free(e->actor);
	memset(e, 0, sizeof(*e));
}

void store_dnssec_key_clear(struct store_dnssec_key *k)
{
	free(k->zone);
	free(k->key_id);
	free(k->node_id);
	if (k->private_pem != NULL) {
		explicit_bzero(k->private_pem, k->private_pem_len);
		free(k->private_pem);
	}
	memset(k, 0, sizeof(*k));
}

void store_agent_clear(struct store_agent *a)
{
	free(a->agent_id);
	free(a->fingerprint);
	free(a->cert);
	free(a->region);
	free(a->services);
	memset(a, 0, sizeof(*a));
}

void store_contents_clear(struct store_contents *c)
{
	for (size_t i = 0; i < c->n_overrides; i++) {
		store_override_clear(&c->overrides[i]);
	}
	for (size_t i = 0; i < c->n_servers; i++) {
		store_server_clear(&c->servers[i]);
	}
	for (size_t i = 0; i < c->n_states; i++) {
		store_backend_state_clear(&c->states[i]);
	}
	for (size_t i = 0; i < c->n_dnssec_keys; i++) {
		store_dnssec_key_clear(&c->dnssec_keys[i]);
	}
	for (size_t i = 0; i < c->n_agents; i++) {
		store_agent_clear(&c->agents[i]);
	}
	free(c->overrides);
	free(c->servers);
	free(c->states);
	free(c->dnssec_keys);
	free(c->agents);
	memset(c, 0, sizeof(*c));
}

/* A copy of s into *out (NULL stays NULL); false when out of memory. */
static bool copy_str(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL) {
		return true;
	}
	*out = strdup(s);
	return *out != NULL;
}

/* Room for one more element in *arr of *cap; false when out of memory. */
static bool grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void **p = arr;
	if (n < *cap) {
		return true;
	}
	size_t cap2 = *cap == 0 ? 16 : *cap * 2;
	void *a = reallocarray(*p, cap2, size);
	if (a == NULL) {
		return false;
	}
	*p = a;
	*cap = cap2;
	return true;
}

/* A malloc'ed message; NULL when out of memory. */
static GSLB_PRINTF(1, 2) char *msg_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0) {
		return NULL;
	}
	char *s = malloc((size_t)len + 1);
	if (s == NULL) {
		return NULL;
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

/*
 * Whether the file system holding the database refuses writes now. A file
 * system the kernel turned read-only after an error fails writes to files
 * already open with EROFS, which SQLite reports as a mere I/O error (its
 * sqlite3_system_errno() has lost the errno by then), and newer kernels
 * (ext4's emergency_ro) do not even flag it in statvfs(): try a file.
 */
static bool fs_read_only(const char *path)
{
	char dir[PATH_MAX];
	gslb_dirname(path, dir, sizeof(dir));
	bool ro = false;
	struct statvfs sv;
	if (statvfs(dir, &sv) == 0 && (sv.f_flag & ST_RDONLY) != 0) {
		ro = true;
	} else {
		int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
		} else {
			ro = errno == EROFS;
		}
	}
	return ro;
}

/* A message for SQLite result rc on the connection, and our code for it. */
static int describe(const struct store *st, int rc, char *buf, size_t len)
{
	const char *msg =
		st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		snprintf(buf, len,
			 "state database %s is locked by another process",
			 st->path);
		return -EBUSY;
	case SQLITE_FULL:
		snprintf(buf, len, "state database %s: disk full", st->path);
		return -ENOSPC;
	case SQLITE_READONLY:
		snprintf(buf, len, "state database %s is read-only", st->path);
		return -EROFS;
	case SQLITE_IOERR:
		if (fs_read_only(st->path)) {
			snprintf(buf, len,
				 "state database %s is read-only (read-only "
				 "file system)",
				 st->path);
			return -EROFS;
		}
		snprintf(buf, len, "state database %s: I/O error (%s)",
			 st->path, msg);
		return -EIO;
	case SQLITE_CORRUPT:
		snprintf(buf, len, "state database %s is corrupt (%s)",
			 st->path, msg);
		return GSLB_EMALF;
	case SQLITE_NOTADB:
		snprintf(buf, len,
			 "state database %s is corrupt: file is not a database",
			 st->path);
		return GSLB_EMALF;
	case SQLITE_NOMEM:
		snprintf(buf, len, "state database %s: out of memory",
			 st->path);
		return GSLB_ENOMEM;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		snprintf(buf, len, "state database %s: %s", st->path, msg);
		return GSLB_EACCES;
	case SQLITE_CANTOPEN:
		snprintf(buf, len, "state database %s: %s", st->path, msg);
		if (st->db != NULL && sqlite3_system_errno(st->db) == EACCES) {
			return GSLB_EACCES;
		}
		return -EIO;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_TOOBIG:
		snprintf(buf, len, "state database %s: %s", st->path, msg);
		return GSLB_EINVAL;
	default:
		snprintf(buf, len, "state database %s: %s", st->path, msg);
		return -EIO;
	}
}

/* Job j failed with SQLite result rc (the connection's last error). */
static void job_fail(const struct store *st, struct job *j, int rc)
{
	char buf[1024];
	free(j->message);
	j->err = describe(st, rc, buf, sizeof(buf));
	j->message = strdup(buf);
	j->failed_at = gslb_clock_wall();
	j->ends_txn = false;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */

/* Steps s to its end, discarding rows; SQLITE_OK or the error. */
static int exec_stmt(sqlite3_stmt *s)
{
	int rc;
	do {
		rc = sqlite3_step(s);
	} while (rc == SQLITE_ROW);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Runs sql (one statement) and gives its first column as an integer. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		return rc;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

static int set_pragmas(struct store *st, char *err, size_t err_len)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
				    NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			const char *mode =
				(const char *)sqlite3_column_text(s, 0);
			if (mode == NULL || strcmp(mode, "wal") != 0) {
				log_warn("store",
					 "state database %s: cannot use the "
					 "WAL journal (journal mode is %s)",
					 st->path, mode != NULL ? mode : "?");
			}
			rc = SQLITE_OK;
		}
		sqlite3_finalize(s);
	}
	if (rc == SQLITE_OK) {
		/* An acknowledged change survives a power loss. */
		rc = sqlite3_exec(st->db,
				  "PRAGMA synchronous = FULL;"
				  "PRAGMA foreign_keys = OFF;",
				  NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		return describe(st, rc, err, err_len);
	}
	return GSLB_EOK;
}

/* The file's schema version, refused when newer than this code. */
static int check_version(struct store *st, int64_t *version, char *err,
			 size_t err_len)
{
	int rc = query_int(st->db, "PRAGMA user_version", version);
	if (rc != SQLITE_OK) {
		return describe(st, rc, err, err_len);
	}
	if (*version > SCHEMA_VERSION) {
		snprintf(err, err_len,
			 "state database %s was written by a newer version of "
			 "gslb-overwatchd (schema version %lld; this version "
			 "knows up to %d)",
			 st->path, (long long)*version, SCHEMA_VERSION);
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

/* Brings the schema to SCHEMA_VERSION, in one transaction. */
static int migrate(struct store *st, char *err, size_t err_len)
{
	int64_t version = 0;
	int ret = check_version(st, &version, err, err_len);
	if (ret != GSLB_EOK || version == SCHEMA_VERSION) {
		return ret;
	}

	int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		return describe(st, rc, err, err_len);
	}
	/* Another process may have migrated it meanwhile. */
	ret = check_version(st, &version, err, err_len);
	if (ret != GSLB_EOK || version == SCHEMA_VERSION) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return ret;
	}
	for (int64_t v = version; rc == SQLITE_OK && v < SCHEMA_VERSION; v++) {
		rc = sqlite3_exec(st->db, migrations[v], NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK) {
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
			 SCHEMA_VERSION);
		rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		ret = describe(st, rc, err, err_len);
		if (!sqlite3_get_autocommit(st->db)) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		}
		return ret;
	}
	if (version == 0) {
		log_info("store",
			 "state database %s created (schema version %d)",
			 st->path, SCHEMA_VERSION);
	} else {
		log_info("store",
			 "state database %s upgraded from schema version %lld "
			 "to %d",
			 st->path, (long long)version, SCHEMA_VERSION);
	}
	return GSLB_EOK;
}

/* Column i as a copy into *out (NULL for SQL NULL); false: out of memory. */
static bool col_dup(sqlite3_stmt *s, int i, char **out)
{
	*out = NULL;
	if (sqlite3_column_type(s, i) == SQLITE_NULL) {
		return true;
	}
	const unsigned char *t = sqlite3_column_text(s, i);
	return t != NULL && copy_str((const char *)t, out);
}

/*
 * The key of the current row (columns 0..2). false when the row is to be
 * skipped, with a warning; *oom when out of memory.
 */
static bool read_key(const struct store *st, const char *table, sqlite3_stmt *s,
		     char **service, struct gslb_ip *ip, uint16_t *port,
		     bool *oom)
{
	const char *svc = (const char *)sqlite3_column_text(s, 0);
	const char *addr = (const char *)sqlite3_column_text(s, 1);
	int64_t p = sqlite3_column_int64(s, 2);

	if (svc == NULL || addr == NULL || gslb_ip_parse(addr, ip) != 0 ||
	    p < 0 || p > 65535) {
		log_warn("store",
			 "state database %s: skipping a row of %s with an "
			 "invalid key (%s, %s, %lld)",
			 st->path, table, svc != NULL ? svc : "NULL",
			 addr != NULL ? addr : "NULL", (long long)p);
		return false;
	}
	*port = (uint16_t)p;
	if (!copy_str(svc, service)) {
		*oom = true;
		return false;
	}
	return true;
}

static int read_overrides(struct store *st, struct store_contents *c, bool *oom)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc = sqlite3_prepare_v2(
		st->db,
		"SELECT service, address, port, healthy, reason, source,"
		" set_by, created, expires FROM overrides"
		" ORDER BY service, address, port",
		-1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_override o = { 0 };
		if (!read_key(st, "overrides", s, &o.service, &o.ip, &o.port,
			      oom)) {
			if (*oom) {
				break;
			}
			rc = SQLITE_OK;
			continue;
		}
		o.healthy = sqlite3_column_int(s, 3) != 0;
		o.created = sqlite3_column_int64(s, 7);
		o.expires = sqlite3_column_int64(s, 8);
		if (!col_dup(s, 4, &o.reason) || !col_dup(s, 5, &o.source) ||
		    !col_dup(s, 6, &o.set_by) ||
		    !grow(&c->overrides, &cap, c->n_overrides,
			  sizeof(*c->overrides))) {
			store_override_clear(&o);
			*oom = true;
			break;
		}
		c->overrides[c->n_overrides++] = o;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_servers(struct store *st, struct store_contents *c, bool *oom)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc = sqlite3_prepare_v2(
		st->db,
		"SELECT service, address, port, region, weight, created_by,"
		" created FROM servers ORDER BY service, address, port",
		-1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_server sv = { 0 };
		if (!read_key(st, "servers", s, &sv.service, &sv.ip, &sv.port,
			      oom)) {
			if (*oom) {
				break;
			}
			rc = SQLITE_OK;
			continue;
		}
		int64_t w = sqlite3_column_int64(s, 4);
		sv.weight = w < 0            ? 0
			    : w > UINT32_MAX ? UINT32_MAX
					     : (uint32_t)w;
		sv.created = sqlite3_column_int64(s, 6);
		if (!col_dup(s, 3, &sv.region) ||
		    !col_dup(s, 5, &sv.created_by) ||
		    !grow(&c->servers, &cap, c->n_servers,
			  sizeof(*c->servers))) {
			store_server_clear(&sv);
			*oom = true;
			break;
		}
		c->servers[c->n_servers++] = sv;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_states(struct store *st, struct store_contents *c, bool *oom)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc = sqlite3_prepare_v2(
		st->db,
		"SELECT service, address, port, healthy, changed"
		" FROM backend_state ORDER BY service, address, port",
		-1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_backend_state b = { 0 };
		if (!read_key(st, "backend_state", s, &b.service, &b.ip,
			      &b.port, oom)) {
			if (*oom) {
				break;
			}
			rc = SQLITE_OK;
			continue;
		}
		b.healthy = sqlite3_column_int(s, 3) != 0;
		b.changed = sqlite3_column_int64(s, 4);
		if (!grow(&c->states, &cap, c->n_states, sizeof(*c->states))) {
			store_backend_state_clear(&b);
			*oom = true;
			break;
		}
		c->states[c->n_states++] = b;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_dnssec_keys(struct store *st, struct store_contents *c,
			    bool *oom)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc = sqlite3_prepare_v2(
		st->db,
		"SELECT zone, key_id, algorithm, flags, created_at, node_id,"
		" private_pem, active FROM dnssec_keys"
		" ORDER BY zone, active DESC, created_at DESC, key_id DESC",
		-1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_dnssec_key k = { 0 };
		const void *pem = sqlite3_column_blob(s, 6);
		int pem_len = sqlite3_column_bytes(s, 6);
		k.algorithm = sqlite3_column_int(s, 2);
		k.flags = (uint16_t)sqlite3_column_int(s, 3);
		k.created_at = sqlite3_column_int64(s, 4);
		k.active = sqlite3_column_int(s, 7) != 0;
		if (pem_len > 0) {
			k.private_pem = malloc((size_t)pem_len);
			if (k.private_pem != NULL) {
				memcpy(k.private_pem, pem, (size_t)pem_len);
				k.private_pem_len = (size_t)pem_len;
			}
		}
		if ((pem_len > 0 && k.private_pem == NULL) ||
		    !col_dup(s, 0, &k.zone) || !col_dup(s, 1, &k.key_id) ||
		    !col_dup(s, 5, &k.node_id) ||
		    !grow(&c->dnssec_keys, &cap, c->n_dnssec_keys,
			  sizeof(*c->dnssec_keys))) {
			store_dnssec_key_clear(&k);
			*oom = true;
			break;
		}
		c->dnssec_keys[c->n_dnssec_keys++] = k;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_agents(struct store *st, struct store_contents *c, bool *oom)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc = sqlite3_prepare_v2(
		st->db,
		"SELECT agent_id, fingerprint, certificate, region, services,"
		" first_seen, last_seen, not_after FROM agents"
		" ORDER BY agent_id",
		-1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_agent a = { 0 };
		const void *cert = sqlite3_column_blob(s, 2);
		int cert_len = sqlite3_column_bytes(s, 2);
		a.first_seen = sqlite3_column_int64(s, 5);
		a.last_seen = sqlite3_column_int64(s, 6);
		a.not_after = sqlite3_column_int64(s, 7);
		if (cert_len > 0) {
			a.cert = malloc((size_t)cert_len);
			if (a.cert != NULL) {
				memcpy(a.cert, cert, (size_t)cert_len);
				a.cert_len = (size_t)cert_len;
			}
		}
		if ((cert_len > 0 && a.cert == NULL) ||
		    !col_dup(s, 0, &a.agent_id) ||
		    !col_dup(s, 1, &a.fingerprint) ||
		    !col_dup(s, 3, &a.region) || !col_dup(s, 4, &a.services) ||
		    !grow(&c->agents, &cap, c->n_agents, sizeof(*c->agents))) {
			store_agent_clear(&a);
			*oom = true;
			break;
		}
		c->agents[c->n_agents++] = a;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Reads everything in one read transaction. */
static int read_contents(struct store *st, struct store_contents *c, char *err,
			 size_t err_len)
{
	bool oom = false;
	int rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		rc = read_overrides(st, c, &oom);
	}
	if (rc == SQLITE_OK && !oom) {
		rc = read_servers(st, c, &oom);
	}
	if (rc == SQLITE_OK && !oom) {
		rc = read_states(st, c, &oom);
	}
	if (rc == SQLITE_OK && !oom) {
		rc = read_dnssec_keys(st, c, &oom);
	}
	if (rc == SQLITE_OK && !oom) {
		rc = read_agents(st, c, &oom);
	}
	int ret = GSLB_EOK;
	if (oom) {
		snprintf(err, err_len, "state database %s: out of memory",
			 st->path);
		ret = GSLB_ENOMEM;
	} else if (rc != SQLITE_OK) {
		ret = describe(st, rc, err, err_len);
	}
	if (!sqlite3_get_autocommit(st->db)) {
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	}
	if (ret != GSLB_EOK) {
		store_contents_clear(c);
	}
	return ret;
}

/* ------------------------------------------------------------------------ */
/* The thread                                                               */

static void bind_text(sqlite3_stmt *s, int i, const char *text)
{
	/* NULL binds SQL NULL; the text outlives the step (see run_op). */
	sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
}

static void bind_address(sqlite3_stmt *s, int i, const char *address)
{
	bind_text(s, i, address[0] != '\0' ? address : NULL);
}

static int run_op(struct store *st, struct op *op)
{
	sqlite3_stmt *s = NULL;

	switch (op->kind) {
	case OP_PUT_OVERRIDE:
		s = st->stmts[S_PUT_OVERRIDE];
		bind_text(s, 1, op->u.o.service);
		bind_address(s, 2, op->address);
		sqlite3_bind_int(s, 3, op->u.o.port);
		sqlite3_bind_int(s, 4, op->u.o.healthy ? 1 : 0);
		bind_text(s, 5, op->u.o.reason);
		bind_text(s, 6, op->u.o.source);
		bind_text(s, 7, op->u.o.set_by);
		sqlite3_bind_int64(s, 8, op->u.o.created);
		sqlite3_bind_int64(s, 9, op->u.o.expires);
		break;
	case OP_PUT_SERVER:
		s = st->stmts[S_PUT_SERVER];
		bind_text(s, 1, op->u.s.service);
		bind_address(s, 2, op->address);
		sqlite3_bind_int(s, 3, op->u.s.port);
		bind_text(s, 4, op->u.s.region);
		sqlite3_bind_int64(s, 5, op->u.s.weight);
		bind_text(s, 6, op->u.s.created_by);
		sqlite3_bind_int64(s, 7, op->u.s.created);
		break;
	case OP_PUT_STATE:
		s = st->stmts[S_PUT_STATE];
		bind_text(s, 1, op->u.b.service);
		bind_address(s, 2, op->address);
		sqlite3_bind_int(s, 3, op->u.b.port);
		sqlite3_bind_int(s, 4, op->u.b.healthy ? 1 : 0);
		sqlite3_bind_int64(s, 5, op->u.b.changed);
		break;
	case OP_DELETE_OVERRIDE:
	case OP_DELETE_SERVER:
	case OP_DELETE_STATE:
		s = st->stmts[op->kind == OP_DELETE_OVERRIDE ? S_DELETE_OVERRIDE
			      : op->kind == OP_DELETE_SERVER ? S_DELETE_SERVER
							     : S_DELETE_STATE];
		bind_text(s, 1, op->u.key.service);
		bind_address(s, 2, op->address);
		sqlite3_bind_int(s, 3, op->u.key.port);
		break;
	case OP_PUT_KEY:
		if (op->u.k.active) {
			s = st->stmts[S_KEY_DEACTIVATE];
			bind_text(s, 1, op->u.k.zone);
			bind_text(s, 2, op->u.k.key_id);
			int rc = exec_stmt(s);
			sqlite3_clear_bindings(s);
			if (rc != SQLITE_OK) {
				return rc;
			}
		}
		s = st->stmts[S_PUT_KEY];
		bind_text(s, 1, op->u.k.zone);
		bind_text(s, 2, op->u.k.key_id);
		sqlite3_bind_int(s, 3, op->u.k.algorithm);
		sqlite3_bind_int(s, 4, op->u.k.flags);
		sqlite3_bind_int64(s, 5, op->u.k.created_at);
		bind_text(s, 6, op->u.k.node_id);
		/* NULL (refused by the schema) when there is no key. */
		sqlite3_bind_blob(s, 7, op->u.k.private_pem,
				  (int)op->u.k.private_pem_len, SQLITE_STATIC);
		sqlite3_bind_int(s, 8, op->u.k.active ? 1 : 0);
		break;
	case OP_PUT_AGENT:
		s = st->stmts[S_PUT_AGENT];
		bind_text(s, 1, op->u.ag.agent_id);
		bind_text(s, 2, op->u.ag.fingerprint);
		/* NULL (refused by the schema) when there is no certificate. */
		sqlite3_bind_blob(s, 3, op->u.ag.cert, (int)op->u.ag.cert_len,
				  SQLITE_STATIC);
		bind_text(s, 4, op->u.ag.region);
		bind_text(s, 5, op->u.ag.services);
		sqlite3_bind_int64(s, 6, op->u.ag.first_seen);
		sqlite3_bind_int64(s, 7, op->u.ag.last_seen);
		sqlite3_bind_int64(s, 8, op->u.ag.not_after);
		break;
	case OP_TOUCH_AGENT:
		s = st->stmts[S_TOUCH_AGENT];
		bind_text(s, 1, op->u.ag.agent_id);
		sqlite3_bind_int64(s, 2, op->u.ag.last_seen);
		break;
	case OP_DELETE_AGENT:
		s = st->stmts[S_DELETE_AGENT];
		bind_text(s, 1, op->u.ag.agent_id);
		break;
	case OP_AUDIT:
		s = st->stmts[S_AUDIT_INSERT];
		sqlite3_bind_int64(s, 1, op->u.a.time);
		bind_text(s, 2, op->u.a.action);
		bind_text(s, 3, op->u.a.resource);
		bind_text(s, 4, op->u.a.before);
		bind_text(s, 5, op->u.a.after);
		bind_text(s, 6, op->u.a.client);
		bind_text(s, 7, op->u.a.actor);
		break;
	}
	int rc = exec_stmt(s);
	sqlite3_clear_bindings(s);
	return rc;
}

static int run_txn(struct store *st, struct store_txn *txn)
{
	for (size_t i = 0; i < txn->n_ops; i++) {
		int rc = run_op(st, &txn->ops[i]);
		if (rc != SQLITE_OK) {
			return rc;
		}
	}
	return SQLITE_OK;
}

static void trim_audit(struct store *st)
{
	sqlite3_stmt *s = st->stmts[S_AUDIT_TRIM];
	sqlite3_bind_int(s, 1, AUDIT_KEEP);
	int rc = exec_stmt(s);
	if (rc == SQLITE_OK) {
		st->audit_since_trim = 0;
		st->trim_failed = false;
	} else if (!st->trim_failed) {
		char buf[1024];
		describe(st, rc, buf, sizeof(buf));
		log_warn("store", "trimming the audit log: %s", buf);
		st->trim_failed = true;
	}
}

/*
 * Commits the jobs [first, end) in one transaction, each inside its own
 * savepoint: a job whose statements fail is rolled back and fails alone.
 * When the transaction itself fails, every job fails with it.
 */
static void run_group(struct store *st, struct job *first, struct job *end)
{
	struct job *j = first;
	struct job *last = NULL;
	size_t n_audit = 0;
	int rc = exec_stmt(st->stmts[S_BEGIN]);
	if (rc != SQLITE_OK) {
		goto failed;
	}
	for (; j != end; j = j->next) {
		struct store_txn *txn = (struct store_txn *)j;
		rc = exec_stmt(st->stmts[S_SAVEPOINT]);
		if (rc != SQLITE_OK) {
			goto failed;
		}
		rc = run_txn(st, txn);
		if (rc == SQLITE_OK) {
			rc = exec_stmt(st->stmts[S_RELEASE]);
			if (rc != SQLITE_OK) {
				goto failed;
			}
			n_audit += txn->n_audit;
			continue;
		}
		/* Some errors (disk full, I/O) roll the transaction back. */
		if (sqlite3_get_autocommit(st->db)) {
			goto failed;
		}
		job_fail(st, j, rc);
		rc = exec_stmt(st->stmts[S_ROLLBACK_TO]);
		if (rc == SQLITE_OK) {
			rc = exec_stmt(st->stmts[S_RELEASE]);
		}
		if (rc != SQLITE_OK) {
			goto failed;
		}
	}
	rc = exec_stmt(st->stmts[S_COMMIT]);
	if (rc != SQLITE_OK) {
		goto failed;
	}

	for (j = first; j != end; j = j->next) {
		if (j->err == GSLB_EOK) {
			last = j;
		}
	}
	if (last != NULL) {
		last->ends_txn = true;
	}
	st->audit_since_trim += n_audit;
	if (st->audit_since_trim >= AUDIT_TRIM_EVERY) {
		trim_audit(st);
	}
	return;

failed:
	for (j = first; j != end; j = j->next) {
		job_fail(st, j, rc);
	}
	if (!sqlite3_get_autocommit(st->db)) {
		exec_stmt(st->stmts[S_ROLLBACK]);
	}
}

static void bind_query(sqlite3_stmt *s, const struct audit_job *aj)
{
	bind_text(s, 1, aj->action);
	bind_text(s, 2, aj->resource_prefix);
	sqlite3_bind_int64(s, 3, aj->since);
}

/* The rows of the list statement into aj; SQLITE_NOMEM when out of memory */
static int read_audit_rows(struct audit_job *aj, sqlite3_stmt *s)
{
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!grow(&aj->entries, &cap, aj->n, sizeof(*aj->entries))) {
			return SQLITE_NOMEM;
		}
		struct store_audit_entry *e = &aj->entries[aj->n];
		memset(e, 0, sizeof(*e));
		aj->n++;
		e->id = sqlite3_column_int64(s, 0);
		e->time = sqlite3_column_int64(s, 1);
		if (!col_dup(s, 2, &e->action) ||
		    !col_dup(s, 3, &e->resource) ||
		    !col_dup(s, 4, &e->before) || !col_dup(s, 5, &e->after) ||
		    !col_dup(s, 6, &e->client) || !col_dup(s, 7, &e->actor)) {
			return SQLITE_NOMEM;
		}
	}
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void free_audit_rows(struct audit_job *aj)
{
	for (size_t i = 0; i < aj->n; i++) {
		store_audit_entry_clear(&aj->entries[i]);
	}
	free(aj->entries);
	aj->entries = NULL;
	aj->n = 0;
}

static void run_audit_list(struct store *st, struct audit_job *aj)
{
	sqlite3_stmt *count = st->stmts[S_AUDIT_COUNT];
	sqlite3_stmt *list = st->stmts[S_AUDIT_LIST];

	/* One read transaction: the total and the page agree. */
	int rc = exec_stmt(st->stmts[S_BEGIN_READ]);
	if (rc == SQLITE_OK) {
		bind_query(count, aj);
		rc = sqlite3_step(count);
		if (rc == SQLITE_ROW) {
			aj->total = (uint64_t)sqlite3_column_int64(count, 0);
			rc = SQLITE_OK;
		}
		sqlite3_reset(count);
		sqlite3_clear_bindings(count);
	}
	if (rc == SQLITE_OK) {
		bind_query(list, aj);
		sqlite3_bind_int64(list, 4, (sqlite3_int64)aj->limit);
		sqlite3_bind_int64(list, 5,
				   aj->offset > INT64_MAX
					   ? INT64_MAX
					   : (sqlite3_int64)aj->offset);
		rc = read_audit_rows(aj, list);
		sqlite3_reset(list);
		sqlite3_clear_bindings(list);
	}
	if (rc != SQLITE_OK) {
		if (rc == SQLITE_NOMEM) {
			free(aj->job.message);
			aj->job.err = GSLB_ENOMEM;
			aj->job.message = strdup("out of memory");
		} else {
			job_fail(st, &aj->job, rc);
		}
		free_audit_rows(aj);
		aj->total = 0;
	}
	if (!sqlite3_get_autocommit(st->db)) {
		exec_stmt(st->stmts[rc == SQLITE_OK ? S_COMMIT : S_ROLLBACK]);
	}
}

/* Hands the finished jobs [first, end) to the main loop. */
static void finish(struct store *st, struct job *first, struct job *end)
{
	struct job *last = first;
	while (last->next != end) {
		last = last->next;
	}
	last->next = NULL;

	pthread_mutex_lock(&st->lock);
	*st->done_tail = first;
	st->done_tail = &last->next;
	pthread_cond_broadcast(&st->done_cond);
	pthread_mutex_unlock(&st->lock);

	const uint64_t one = 1;
	ssize_t n;
	do {
		n = write(st->efd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
}

static void *store_main(void *arg)
{
	struct store *st = arg;

	for (;;) {
		pthread_mutex_lock(&st->lock);
		while (st->todo == NULL && !st->stopping) {
			pthread_cond_wait(&st->cond, &st->lock);
		}
		struct job *batch = st->todo;
		st->todo = NULL;
		st->todo_tail = &st->todo;
		pthread_mutex_unlock(&st->lock);

		if (batch == NULL) {
			break; /* stopping, and nothing left */
		}
		while (batch != NULL) {
			struct job *end = batch->next;
			if (batch->kind == JOB_COMMIT) {
				while (end != NULL && end->kind == JOB_COMMIT) {
					end = end->next;
				}
				run_group(st, batch, end);
			} else {
				run_audit_list(st, (struct audit_job *)batch);
			}
			finish(st, batch, end);
			batch = end;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* The main loop's side                                                     */

static void txn_free_ops(struct store_txn *txn)
{
	for (size_t i = 0; i < txn->n_ops; i++) {
		struct op *op = &txn->ops[i];
		switch (op->kind) {
		case OP_PUT_OVERRIDE:
			store_override_clear(&op->u.o);
			break;
		case OP_PUT_SERVER:
			store_server_clear(&op->u.s);
			break;
		case OP_PUT_STATE:
			store_backend_state_clear(&op->u.b);
			break;
		case OP_AUDIT:
			store_audit_entry_clear(&op->u.a);
			break;
		case OP_PUT_KEY:
			store_dnssec_key_clear(&op->u.k);
			break;
		case OP_PUT_AGENT:
		case OP_TOUCH_AGENT:
		case OP_DELETE_AGENT:
			store_agent_clear(&op->u.ag);
			break;
		case OP_DELETE_OVERRIDE:
		case OP_DELETE_SERVER:
		case OP_DELETE_STATE:
			free(op->u.key.service);
			break;
		}
	}
	free(txn->ops);
	txn->ops = NULL;
	txn->n_ops = 0;
}

static void audit_job_free(struct audit_job *aj)
{
	free_audit_rows(aj);
	free(aj->action);
	free(aj->resource_prefix);
	free(aj->job.message);
	free(aj);
}

/* Keeps the main thread's view of the database's health. */
static void account(struct store *st, const struct job *j)
{
	st->queued--;
	if (j->err == GSLB_EOK) {
		st->stats.changes++;
		if (j->ends_txn) {
			st->stats.commits++;
		}
		/* A change the schema refused said nothing about the disk. */
		if (!st->stats.ok && st->last_err != GSLB_EINVAL) {
			log_info("store", "state database %s is writable again",
				 st->path);
		}
		st->stats.ok = true;
		free(st->last_error);
		st->last_error = NULL;
		return;
	}
	const char *msg = j->message != NULL ? j->message : "out of memory";
	st->stats.failures++;
	st->stats.last_error_at = j->failed_at;
	/* A sustained outage is logged once, not once per change. */
	if (st->stats.ok || st->last_error == NULL ||
	    strcmp(st->last_error, msg) != 0) {
		log_error("store", "%s", msg);
	}
	st->stats.ok = false;
	st->last_err = j->err;
	free(st->last_error);
	st->last_error = strdup(msg);
}

/* Calls the done callbacks of the finished jobs, in queue order. */
static void dispatch(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	struct job *list = st->done;
	st->done = NULL;
	st->done_tail = &st->done;
	pthread_mutex_unlock(&st->lock);

	while (list != NULL) {
		struct job *j = list;
		list = j->next;
		const char *msg = j->err == GSLB_EOK   ? NULL
				  : j->message != NULL ? j->message
						       : "out of memory";
		if (j->kind == JOB_COMMIT) {
			struct store_txn *txn = (struct store_txn *)j;
			account(st, j);
			if (txn->done != NULL) {
				txn->done(j->arg, j->err, msg);
			}
			free(j->message);
			txn_free_ops(txn);
			free(txn);
		} else {
			struct audit_job *aj = (struct audit_job *)j;
			aj->done(j->arg, j->err, msg, aj->entries, aj->n,
				 aj->total);
			audit_job_free(aj);
		}
	}
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;
	uint64_t count;
	/* Non-blocking; a wake-up for jobs already taken is harmless. */
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		log_error("store", "reading the wake-up event: %s",
			  strerror(errno));
	}
	dispatch(st);
}

static void enqueue(struct store *st, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&st->lock);
	*st->todo_tail = j;
	st->todo_tail = &j->next;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

void store_commit(struct store *st, struct store_txn *txn, store_done_fn done,
		  void *arg)
{
	if (st->closing) {
		char *msg =
			msg_printf("state database %s is closing", st->path);
		if (done != NULL) {
			done(arg, -ECANCELED, msg != NULL ? msg : "closing");
		}
		free(msg);
		store_txn_free(txn);
		return;
	}
	txn->done = done;
	txn->job.arg = arg;
	st->queued++;
	enqueue(st, &txn->job);
}

struct wait_result {
	bool done;
	int err;
	char *err_buf;
	size_t err_len;
};

static void on_wait_done(void *arg, int err, const char *message)
{
	struct wait_result *w = arg;
	w->done = true;
	w->err = err;
	if (err != GSLB_EOK && w->err_len > 0) {
		snprintf(w->err_buf, w->err_len, "%s", message);
	}
}

int store_commit_wait(struct store *st, struct store_txn *txn, char *err,
		      size_t err_len)
{
	struct wait_result w = { .err_buf = err, .err_len = err_len };
	store_commit(st, txn, on_wait_done, &w);
	while (!w.done) {
		pthread_mutex_lock(&st->lock);
		while (st->done == NULL) {
			pthread_cond_wait(&st->done_cond, &st->lock);
		}
		pthread_mutex_unlock(&st->lock);
		/* The event fd stays set: on_done then finds nothing. */
		dispatch(st);
	}
	return w.err;
}

void store_audit_list(struct store *st, const struct store_audit_query *q,
		      store_audit_fn done, void *arg)
{
	if (st->closing) {
		char *msg =
			msg_printf("state database %s is closing", st->path);
		done(arg, -ECANCELED, msg != NULL ? msg : "closing", NULL, 0,
		     0);
		free(msg);
		return;
	}
	struct audit_job *aj = calloc(1, sizeof(*aj));
	if (aj == NULL || !copy_str(q->action, &aj->action) ||
	    !copy_str(q->resource_prefix, &aj->resource_prefix)) {
		if (aj != NULL) {
			audit_job_free(aj);
		}
		done(arg, GSLB_ENOMEM, "out of memory", NULL, 0, 0);
		return;
	}
	aj->job.kind = JOB_AUDIT_LIST;
	aj->job.arg = arg;
	aj->done = done;
	aj->limit = q->limit > AUDIT_MAX_LIMIT ? AUDIT_MAX_LIMIT : q->limit;
	aj->offset = q->offset;
	aj->since = q->since;
	enqueue(st, &aj->job);
}

/* ------------------------------------------------------------------------ */
/* Open and close                                                           */

static int start_thread(struct store *st)
{
	sigset_t all, old;

	/* Signals belong to the main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int ret = pthread_create(&st->thread, NULL, store_main, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		return -ret;
	}
	st->thread_started = true;
	return GSLB_EOK;
}

static int prepare_all(struct store *st, char *err, size_t err_len)
{
	for (size_t i = 0; i < N_STMTS; i++) {
		int rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
					    SQLITE_PREPARE_PERSISTENT,
					    &st->stmts[i], NULL);
		if (rc != SQLITE_OK) {
			return describe(st, rc, err, err_len);
		}
	}
	return GSLB_EOK;
}

/* Creates the file with mode 0600 before SQLite does (its -wal and -shm
 * files take the database's mode). */
static int create_file(const struct store *st, char *err, size_t err_len)
{
	int fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int ret = -errno;
		snprintf(err, err_len, "%s: %s", st->path, strerror(errno));
		return ret;
	}
	close(fd);
	return GSLB_EOK;
}

static int open_db(struct store *st, char *err, size_t err_len)
{
	int rc = sqlite3_open_v2(st->path, &st->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		if (st->db == NULL) {
			snprintf(err, err_len, "%s: out of memory", st->path);
			return GSLB_ENOMEM;
		}
		return describe(st, rc, err, err_len);
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	return GSLB_EOK;
}

int store_open(const char *dir, struct event_base *base, struct store **out,
	       struct store_contents *contents, char *err, size_t err_len)
{
	memset(contents, 0, sizeof(*contents));
	*out = NULL;

	struct store *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, err_len, "%s: out of memory", dir);
		return GSLB_ENOMEM;
	}
	st->efd = -1;
	st->base = base;
	st->stats.ok = true;
	st->todo_tail = &st->todo;
	st->done_tail = &st->done;
	st->audit_since_trim = AUDIT_TRIM_EVERY; /* trim once per start */

	int ret = GSLB_ENOMEM;
	int64_t version = 0;
	const size_t dlen = strlen(dir);
	st->path = msg_printf("%s%s%s", dir,
			      dlen > 0 && dir[dlen - 1] == '/' ? "" : "/",
			      STORE_FILE_NAME);
	if (st->path == NULL) {
		snprintf(err, err_len, "%s: out of memory", dir);
		goto fail;
	}
	ret = gslb_mkdirs(dir, 0750);
	if (ret != GSLB_EOK) {
		snprintf(err, err_len, "%s: cannot create the directory: %s",
			 dir, gslb_strerror(ret));
		goto fail;
	}
	ret = create_file(st, err, err_len);
	if (ret == GSLB_EOK) {
		ret = open_db(st, err, err_len);
	}
	if (ret == GSLB_EOK) {
		/* Not even the journal mode changes in a newer file. */
		ret = check_version(st, &version, err, err_len);
	}
	if (ret == GSLB_EOK) {
		ret = set_pragmas(st, err, err_len);
	}
	if (ret == GSLB_EOK) {
		ret = migrate(st, err, err_len);
	}
	if (ret == GSLB_EOK) {
		ret = prepare_all(st, err, err_len);
	}
	if (ret == GSLB_EOK) {
		ret = read_contents(st, contents, err, err_len);
	}
	if (ret != GSLB_EOK) {
		goto fail;
	}

	ret = GSLB_ENOMEM;
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		goto fail_sys;
	}
	if (pthread_cond_init(&st->cond, NULL) != 0) {
		pthread_mutex_destroy(&st->lock);
		goto fail_sys;
	}
	if (pthread_cond_init(&st->done_cond, NULL) != 0) {
		pthread_cond_destroy(&st->cond);
		pthread_mutex_destroy(&st->lock);
		goto fail_sys;
	}
	st->sync_ready = true;
	st->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (st->efd < 0) {
		ret = -errno;
		goto fail_sys;
	}
	st->ev = event_new(base, st->efd, EV_READ | EV_PERSIST, on_done, st);
	if (st->ev == NULL || event_add(st->ev, NULL) != 0) {
		ret = GSLB_ENOMEM;
		goto fail_sys;
	}
	ret = start_thread(st);
	if (ret != GSLB_EOK) {
		goto fail_sys;
	}
	*out = st;
	return GSLB_EOK;

fail_sys:
	snprintf(err, err_len, "state database %s: %s", st->path,
		 gslb_strerror(ret));
	store_contents_clear(contents);
fail:
	store_free(st);
	return ret;
}

void store_txn_free(struct store_txn *txn)
{
	if (txn == NULL) {
		return;
	}
	txn_free_ops(txn);
	free(txn->job.message);
	free(txn);
}

void store_free(struct store *st)
{
	if (st == NULL) {
		return;
	}
	st->closing = true;
	if (st->thread_started) {
		pthread_mutex_lock(&st->lock);
		st->stopping = true;
		pthread_cond_signal(&st->cond);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->thread, NULL);
		dispatch(st);
	}
	if (st->ev != NULL) {
		event_free(st->ev);
	}
	if (st->efd >= 0) {
		close(st->efd);
	}
	for (size_t i = 0; i < N_STMTS; i++) {
		sqlite3_finalize(st->stmts[i]);
	}
	if (st->db != NULL) {
		sqlite3_close_v2(st->db);
	}
	if (st->sync_ready) {
		pthread_cond_destroy(&st->done_cond);
		pthread_cond_destroy(&st->cond);
		pthread_mutex_destroy(&st->lock);
	}
	free(st->last_error);
	free(st->path);
	free(st);
}

const char *store_path(const struct store *st)
{
	return st->path;
}

void store_get_stats(const struct store *st, struct store_stats *out)
{
	*out = st->stats;
	out->queued = st->queued;
}

const char *store_last_error(const struct store *st)
{
	if (st->stats.ok) {
		return NULL;
	}
	return st->last_error != NULL ? st->last_error : "out of memory";
}

/* ------------------------------------------------------------------------ */
/* Building changes                                                         */

struct store_txn *store_txn_new(void)
{
	struct store_txn *txn = calloc(1, sizeof(*txn));
	if (txn != NULL) {
		txn->job.kind = JOB_COMMIT;
	}
	return txn;
}

/* A new zeroed op at the end of txn, or NULL when out of memory. */
static struct op *add_op(struct store_txn *txn, enum op_kind kind,
			 const struct gslb_ip *ip)
{
	if (!grow(&txn->ops, &txn->cap_ops, txn->n_ops, sizeof(*txn->ops))) {
		return NULL;
	}
	struct op *op = &txn->ops[txn->n_ops];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	if (ip != NULL && (ip->family == AF_INET || ip->family == AF_INET6)) {
		gslb_ip_format(ip, op->address);
	}
	return op;
}

int store_txn_put_override(struct store_txn *txn,
			   const struct store_override *o)
{
	struct op *op = add_op(txn, OP_PUT_OVERRIDE, &o->ip);
	if (op == NULL) {
		return GSLB_ENOMEM;
	}
	struct store_override *c = &op->u.o;
	*c = *o;
	c->service = c->reason = c->source = c->set_by = NULL;
	txn->n_ops++; /* from here on, freed with the txn */
	if (!copy_str(o->service, &c->service) ||
	    !copy_str(o->reason, &c->reason) ||
	    !copy_str(o->source, &c->source) ||
	    !copy_str(o->set_by, &c->set_by)) {
		return GSLB_ENOMEM;
	}
	return GSLB_EOK;
}

int store_txn_put_server(struct store_txn *txn, const struct store_server *s)
{
	struct op *op = add_op(txn, OP_PUT_SERVER, &s->ip);
	if (op == NULL) {
		return GSLB_ENOMEM;
	}
	struct store_server *c = &op->u.s;
	*c = *s;
	c->service = c->region = c->created_by = NULL;
	txn->n_ops++;
	if (!copy_str(s->service, &c->service) ||
	    !copy_str(s->region, &c->region) ||
	    !copy_str(s->created_by, &c->created_by)) {
		return GSLB_ENOMEM;
	}
	return GSLB_EOK;
}

int store_txn_put_backend_state(struct store_txn *txn,
				const struct store_backend_state *s)
{
	struct op *op = add_op(txn, OP_PUT_STATE, &s->ip);
	if (op == NULL) {
		return GSLB_ENOMEM;
	}
	struct store_backend_state *c = &op->u.b;
	*c = *s;
	c->service = NULL;
	txn->n_ops++;
	return copy_str(s->service, &c->service) ? GSLB_EOK : GSLB_ENOMEM;
}

static int add_delete(struct store_txn *txn, enum op_kind kind,
		      const char *service, const struct gslb_ip *ip,
		      uint16_t port)
{
	struct op *op = add_op(txn, kind, ip);
	if (op == NULL) {
		return GSLB_ENOMEM;
	}
	op->u.key.port = port;
	txn->n_ops++;
	return copy_str(service, &op->u.key.service) ? GSLB_EOK : GSLB_ENOMEM;
}

int store_txn_delete_override(struct store_txn *txn, const char *service,
			      const struct gslb_ip *ip, uint16_t port)
{
	return add_delete(txn, OP_DELETE_OVERRIDE, service, ip, port);
}

int store_txn_delete_server(struct store_txn *txn, const char *service,
			    const struct gslb_ip *ip, uint16_t port)
{
	return add_delete(txn, OP_DELETE_SERVER, service, ip, port);
}

int store_txn_delete_backend_state(struct store_txn *txn, const char *service,
				   const struct gslb_ip *ip, uint16_t port)
{
	return add_delete(txn, OP_DELETE_STATE, service, ip, port);
}

int store_txn_put_dnssec_key(struct store_txn *txn,
			     const struct store_dnssec_key *k)
{
	struct op *op = add_op(txn, OP_PUT_KEY, NULL);
	if (op == NULL) {
		return GSLB_ENOMEM;
	}
	struct store_dnssec_key *c = &op->u.k;
	*c = *k;
	c->zone = c->key_id = c->node_id = NULL;
	c->private_pem = NULL;
	c->private_pem_len = 0;
	txn->n_ops++;
	if (!copy_str(k->zone, &c->zone) || !copy_str(k->key_id, &c->key_id) ||
	    !copy_str(k->node_id, &c->node_id)) {
		return GSLB_ENOMEM;
	}
	if (k->private_pem_len > 0) {
		c->private_pem = malloc(k->private_pem_len);
		if (c->private_pem == NULL) {
			return GSLB_ENOMEM;
		}
		memcpy(c->private_pem, k->private_pem, k->private_pem_len);
		c->private_pem_len = k->private_pem_len;
	}
	return GSLB_EOK;
}

int store_txn_put_agent(struct store_txn *txn, const struct store_agent *a)
{
	struct op *op = add_op(txn, OP_PUT_AGENT, NULL);
	if (op == NULL) {
		return GSLB_ENOMEM;
	}
	struct store_agent *c = &op->u.ag;
	*c = *a;
	c->agent_id = c->fingerprint = c->region = c->services = NULL;
	c->cert = NULL;
	c->cert_len = 0;
	txn->n_ops++;
	if (!copy_str(a->agent_id, &c->agent_id) ||
	    !copy_str(a->fingerprint, &c->fingerprint) ||
	    !copy_str(a->region, &c->region) ||
	    !copy_str(a->services, &c->services)) {
		return GSLB_ENOMEM;
	}
	if (a->cert_len > 0) {
		c->cert = malloc(a->cert_len);
		if (c->cert == NULL) {
			return GSLB_ENOMEM;
		}
		memcpy(c->cert, a->cert, a->cert_len);
		c->cert_len = a->cert_len;
	}
	return GSLB_EOK;
}

int store_txn_touch_agent(struct store_txn *txn, const char *agent_id,
			  int64_t last_seen)
{
	struct op *op = add_op(txn, OP_TOUCH_AGENT, NULL);
	if (op == NULL) {
		return GSLB_ENOMEM;
	}
	op->u.ag.last_seen = last_seen;
	txn->n_ops++;
	return copy_str(agent_id, &op->u.ag.agent_id) ? GSLB_EOK : GSLB_ENOMEM;
}

int store_txn_delete_agent(struct store_txn *txn, const char *agent_id)
{
	struct op *op = add_op(txn, OP_DELETE_AGENT, NULL);
	if (op == NULL) {
		return GSLB_ENOMEM;
	}
	txn->n_ops++;
	return copy_str(agent_id, &op->u.ag.agent_id) ? GSLB_EOK : GSLB_ENOMEM;
}

int store_txn_audit(struct store_txn *txn,
		    const struct store_audit_entry *entry)
{
	struct op *op = add_op(txn, OP_AUDIT, NULL);
	if (op == NULL) {
		return GSLB_ENOMEM;
	}
	struct store_audit_entry *c = &op->u.a;
	c->time = entry->time != 0 ? entry->time : gslb_clock_wall();
	txn->n_ops++;
	txn->n_audit++;
	if (!copy_str(entry->action, &c->action) ||
	    !copy_str(entry->resource, &c->resource) ||
	    !copy_str(entry->before, &c->before) ||
	    !copy_str(entry->after, &c->after) ||
	    !copy_str(entry->client, &c->client) ||
	    !copy_str(entry->actor, &c->actor)) {
		return GSLB_ENOMEM;
	}
	return GSLB_EOK;
}
