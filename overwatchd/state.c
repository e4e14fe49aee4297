/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "error.h"
#include "log.h"
#include "overrides.h"
#include "server.h"
#include "state.h"

/* Verdicts reach the database at most this late (a restart within it
 * answers with the verdicts before). */
#define VERDICT_FLUSH_MS 1000

struct key {
	char *service;
	struct gslb_ip ip;
	uint16_t port;
};

struct state {
	struct server *srv;
	struct store *store;
	struct overrides *overrides;

	/* API-added backends as stored, for their creation details. */
	struct store_server *servers;
	size_t n_servers;

	/* Verdicts read at start, until the first registry sync. */
	struct store_backend_state *restored;
	size_t n_restored;
	bool synced_once;

	/* DNSSEC keys read at start, until keys_open() takes them. */
	struct store_dnssec_key *dnssec_keys;
	size_t n_dnssec_keys;
	struct store_agent *agents;
	size_t n_agents;

	/* Backends whose verdict changed since the last flush. */
	struct key *dirty;
	size_t n_dirty;
	size_t cap_dirty;
	struct event *flush;

	struct event *expiry;

	/* Changes committed and applied, to confirm once DNS serves them. */
	struct job *settled;
	struct job **settled_tail;
	struct event *settle;
};

enum job_kind {
	JOB_OVERRIDE_SET,
	JOB_OVERRIDE_CLEAR,
	JOB_SERVER_ADD,
	JOB_SERVER_REMOVE,
};

/* A change on its way to disk. */
struct job {
	struct state *st;
	enum job_kind kind;
	struct store_override override; /* JOB_OVERRIDE_SET */
	struct store_server server;     /* JOB_SERVER_ADD */
	struct key key;                 /* the others */
	state_done_fn done;
	void *arg;
	/* The outcome, once settled. */
	int err;
	char *message;
	struct job *next;
};

/* ------------------------------------------------------------------------ */
/* Text and JSON                                                            */

const char *state_address_text(const struct gslb_ip *ip, uint16_t port,
			       char buf[STATE_ADDRESS_LEN])
{
	char addr[GSLB_IP_STRLEN];
	gslb_ip_format(ip, addr);
	if (port == 0) {
		snprintf(buf, STATE_ADDRESS_LEN, "%s", addr);
	} else if (ip->family == AF_INET6) {
		snprintf(buf, STATE_ADDRESS_LEN, "[%s]:%u", addr, port);
	} else {
		snprintf(buf, STATE_ADDRESS_LEN, "%s:%u", addr, port);
	}
	return buf;
}

static const char *time_text(gslb_time_t wall, char buf[GSLB_RFC3339_LEN])
{
	return wall != 0 ? gslb_time_rfc3339(wall, buf) : NULL;
}

static size_t covered(const struct store_override *o,
		      const struct gslb_registry *reg)
{
	size_t n = 0;
	for (size_t i = 0; i < gslb_registry_count(reg); i++) {
		n += overrides_covers(o, gslb_registry_at(reg, i));
	}
	return n;
}

json_t *state_override_json(const struct state *st,
			    const struct store_override *o)
{
	char addr[STATE_ADDRESS_LEN];
	char created[GSLB_RFC3339_LEN], expires[GSLB_RFC3339_LEN];
	return json_pack(
		"{s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s*, s:s*, s:I}",
		"service", o->service, "address",
		state_address_text(&o->ip, o->port, addr), "healthy",
		(int)o->healthy, "reason", o->reason, "source", o->source,
		"set_by", o->set_by != NULL ? o->set_by : "", "authority",
		"external_tool", "created_at", time_text(o->created, created),
		"expires_at", time_text(o->expires, expires), "backends",
		(json_int_t)covered(o, st->srv->reg));
}

static json_t *server_record_json(const struct store_server *s)
{
	char addr[GSLB_IP_STRLEN], created[GSLB_RFC3339_LEN];
	return json_pack("{s:s, s:s, s:i, s:s*, s:I, s:s*, s:s*}", "service",
			 s->service, "address", gslb_ip_format(&s->ip, addr),
			 "port", (int)s->port, "region", s->region, "weight",
			 (json_int_t)s->weight, "created_by", s->created_by,
			 "created_at", time_text(s->created, created));
}

/* Resource names in the audit log. */
static void override_resource(char *buf, size_t len, const char *service,
			      const struct gslb_ip *ip, uint16_t port)
{
	char addr[STATE_ADDRESS_LEN];
	snprintf(buf, len, "overrides/%s/%s", service,
		 state_address_text(ip, port, addr));
}

static void server_resource(char *buf, size_t len, const char *service,
			    const struct gslb_ip *ip, uint16_t port)
{
	char addr[STATE_ADDRESS_LEN];
	snprintf(buf, len, "servers/%s:%s", service,
		 state_address_text(ip, port, addr));
}

#define RESOURCE_LEN 512

/* Adds the audit entry of a change to txn; takes over before and after. */
static int audit(struct store_txn *txn, const char *action,
		 const char *resource, json_t *before, json_t *after,
		 const struct state_actor *who)
{
	struct store_audit_entry e = {
		.time = gslb_clock_wall(),
		.action = (char *)action,
		.resource = (char *)resource,
		.client = (char *)(who != NULL ? who->client : NULL),
		.actor = (char *)(who != NULL ? who->name : NULL),
	};
	int ret = GSLB_EOK;
	if (before != NULL) {
		e.before = json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS);
		ret = e.before == NULL ? GSLB_ENOMEM : ret;
	}
	if (after != NULL) {
		e.after = json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS);
		ret = e.after == NULL ? GSLB_ENOMEM : ret;
	}
	if (ret == GSLB_EOK) {
		ret = store_txn_audit(txn, &e);
	}
	free(e.before);
	free(e.after);
	json_decref(before);
	json_decref(after);
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Applying                                                                 */

static void apply_overrides(struct state *st)
{
	struct server *srv = st->srv;
	if (overrides_apply(st->overrides, srv->reg, gslb_clock_mono())) {
		server_backends_changed(srv);
	}
}

static void schedule_expiry(struct state *st)
{
	gslb_time_t next = overrides_next_expiry(st->overrides);
	if (next == 0) {
		evtimer_del(st->expiry);
		return;
	}
	gslb_duration_t wait = next - gslb_clock_wall();
	if (wait < 0) {
		wait = 0;
	}
	/* Late by up to a millisecond rather than early. */
	struct timeval tv = { (time_t)(wait / GSLB_SEC),
			      (suseconds_t)(wait % GSLB_SEC / GSLB_USEC) + 1 };
	evtimer_add(st->expiry, &tv);
}

static void on_expiry(evutil_socket_t fd, short what, void *arg)
{
	/* The daemon itself acts here, on nobody's request. */
	static const struct state_actor self = { .client = "gslb-overwatchd" };
	struct state *st = arg;
	const gslb_time_t now = gslb_clock_wall();
	struct store_txn *txn = store_txn_new();
	bool any = false;

	for (size_t i = 0; i < overrides_count(st->overrides);) {
		const struct store_override *o = overrides_at(st->overrides, i);
		if (o->expires == 0 || o->expires > now) {
			i++;
			continue;
		}
		char addr[STATE_ADDRESS_LEN], res[RESOURCE_LEN];
		override_resource(res, sizeof(res), o->service, &o->ip,
				  o->port);
		log_info("state", "override of %s %s expired (it said %s: %s)",
			 o->service, state_address_text(&o->ip, o->port, addr),
			 o->healthy ? "healthy" : "unhealthy", o->reason);
		if (txn != NULL &&
		    (store_txn_delete_override(txn, o->service, &o->ip,
					       o->port) != GSLB_EOK ||
		     audit(txn, "override.expire", res,
			   state_override_json(st, o), NULL,
			   &self) != GSLB_EOK)) {
			store_txn_free(txn);
			txn = NULL;
		}
		overrides_remove_at(st->overrides, i);
		any = true;
	}
	if (!any) {
		store_txn_free(txn);
	} else if (txn != NULL) {
		store_commit(st->store, txn, NULL, NULL);
	} else {
		/* The rows say when they expire: a restart drops them. */
		log_error("state", "cannot record expired overrides: %s",
			  gslb_strerror(GSLB_ENOMEM));
	}
	if (any) {
		apply_overrides(st);
	}
	schedule_expiry(st);
}

static void job_free(struct job *job)
{
	store_override_clear(&job->override);
	store_server_clear(&job->server);
	free(job->key.service);
	free(job->message);
	free(job);
}

static void remove_server_record(struct state *st, const struct key *k)
{
	for (size_t i = 0; i < st->n_servers; i++) {
		struct store_server *s = &st->servers[i];
		if (s->port == k->port && gslb_ip_equal(&s->ip, &k->ip) &&
		    strcmp(s->service, k->service) == 0) {
			store_server_clear(s);
			st->servers[i] = st->servers[--st->n_servers];
			return;
		}
	}
}

static int add_server_record(struct state *st, struct store_server *rec)
{
	struct store_server *v = realloc(
		st->servers, (st->n_servers + 1) * sizeof(*st->servers));
	if (v == NULL) {
		return GSLB_ENOMEM;
	}
	st->servers = v;
	st->servers[st->n_servers++] = *rec;
	memset(rec, 0, sizeof(*rec));
	return GSLB_EOK;
}

/* Adds an API backend to the registry (with its record). */
static int server_insert(struct state *st, struct store_server *rec)
{
	struct gslb_backend *b = NULL;
	int ret = gslb_registry_add(st->srv->reg, GSLB_SOURCE_API, rec->service,
				    &rec->ip, rec->port, rec->weight,
				    rec->region, gslb_clock_mono(), &b);
	if (ret != GSLB_EOK) {
		return ret;
	}
	ret = add_server_record(st, rec);
	if (ret != GSLB_EOK) {
		gslb_registry_remove(st->srv->reg, b);
	}
	return ret;
}

/* Membership changed at run time: checks and overrides follow. */
static void membership_changed(struct state *st)
{
	struct server *srv = st->srv;
	if (validator_sync(srv->validator, srv->cfg) != GSLB_EOK) {
		log_error("state", "cannot update the health checks");
	}
	overrides_apply(st->overrides, srv->reg, gslb_clock_mono());
	server_backends_changed(srv);
}

static int apply_job(struct job *job, const char **message)
{
	struct state *st = job->st;
	struct gslb_registry *reg = st->srv->reg;
	struct gslb_backend *b;
	int ret = GSLB_EOK;

	switch (job->kind) {
	case JOB_OVERRIDE_SET:
		ret = overrides_put(st->overrides, &job->override);
		apply_overrides(st);
		schedule_expiry(st);
		break;
	case JOB_OVERRIDE_CLEAR:
		overrides_remove(st->overrides, job->key.service, &job->key.ip,
				 job->key.port);
		apply_overrides(st);
		schedule_expiry(st);
		break;
	case JOB_SERVER_ADD:
		ret = server_insert(st, &job->server);
		if (ret == GSLB_EEXIST) {
			/* Another add of the same key was queued first. */
			*message = "the server exists already";
		} else if (ret == GSLB_EOK) {
			membership_changed(st);
		}
		break;
	case JOB_SERVER_REMOVE:
		b = gslb_registry_find(reg, job->key.service, &job->key.ip,
				       job->key.port);
		if (b != NULL && b->source == GSLB_SOURCE_API) {
			gslb_registry_remove(reg, b);
			remove_server_record(st, &job->key);
			membership_changed(st);
		}
		break;
	}
	if (ret == GSLB_ENOMEM) {
		*message = "out of memory";
	}
	return ret;
}

/*
 * Confirms the changes applied since the last call, once the DNS snapshot
 * has them: whoever hears "done" finds the next answer changed. The store
 * delivers a whole group commit at once, so a storm of changes costs one
 * snapshot, not one each.
 */
static void on_settle(evutil_socket_t fd, short what, void *arg)
{
	struct state *st = arg;
	if (st->settled == NULL) {
		return;
	}
	server_publish_changes(st->srv);
	struct job *job = st->settled;
	st->settled = NULL;
	st->settled_tail = &st->settled;
	while (job != NULL) {
		struct job *next = job->next;
		if (job->done != NULL) {
			job->done(job->arg, job->err, job->message);
		}
		job_free(job);
		job = next;
	}
}

static void on_committed(void *arg, int err, const char *message)
{
	struct job *job = arg;
	struct state *st = job->st;
	if (err == GSLB_EOK) {
		message = NULL;
		err = apply_job(job, &message);
	}
	job->err = err;
	if (message != NULL && (job->message = strdup(message)) == NULL) {
		job->err = GSLB_ENOMEM;
	}
	*st->settled_tail = job;
	st->settled_tail = &job->next;
	event_active(st->settle, 0, 0);
}

static struct job *job_new(struct state *st, enum job_kind kind,
			   const char *service, const struct gslb_ip *ip,
			   uint16_t port, state_done_fn done, void *arg)
{
	struct job *job = calloc(1, sizeof(*job));
	if (job == NULL) {
		return NULL;
	}
	*job = (struct job){ .st = st, .kind = kind, .done = done, .arg = arg };
	if (service != NULL) {
		job->key.service = strdup(service);
		job->key.ip = *ip;
		job->key.port = port;
		if (job->key.service == NULL) {
			free(job);
			return NULL;
		}
	}
	return job;
}

/* Commits txn for job; on a failure to even queue, tells done at once. */
static void submit(struct state *st, struct store_txn *txn, int ret,
		   struct job *job, state_done_fn done, void *arg)
{
	if (txn == NULL || job == NULL || ret != GSLB_EOK) {
		store_txn_free(txn);
		if (job != NULL) {
			job_free(job);
		}
		done(arg, GSLB_ENOMEM, "out of memory");
		return;
	}
	store_commit(st->store, txn, on_committed, job);
}

/* ------------------------------------------------------------------------ */
/* Changes                                                                  */

void state_override_set(struct state *st, struct store_override *rec,
			const struct state_actor *who, state_done_fn done,
			void *arg)
{
	char res[RESOURCE_LEN];
	override_resource(res, sizeof(res), rec->service, &rec->ip, rec->port);
	const struct store_override *old = overrides_find(
		st->overrides, rec->service, &rec->ip, rec->port);
	struct store_txn *txn = store_txn_new();
	struct job *job =
		job_new(st, JOB_OVERRIDE_SET, NULL, NULL, 0, done, arg);
	int ret = GSLB_ENOMEM;
	if (txn != NULL && job != NULL) {
		ret = store_txn_put_override(txn, rec);
		if (ret == GSLB_EOK) {
			ret = audit(txn, "override.set", res,
				    old != NULL ? state_override_json(st, old)
						: NULL,
				    state_override_json(st, rec), who);
		}
		job->override = *rec;
		memset(rec, 0, sizeof(*rec));
	}
	store_override_clear(rec);
	submit(st, txn, ret, job, done, arg);
}

int state_override_clear(struct state *st, const char *service,
			 const struct gslb_ip *ip, uint16_t port,
			 const struct state_actor *who, state_done_fn done,
			 void *arg)
{
	const struct store_override *old =
		overrides_find(st->overrides, service, ip, port);
	if (old == NULL) {
		return GSLB_ENOENT;
	}
	char res[RESOURCE_LEN];
	override_resource(res, sizeof(res), service, ip, port);
	struct store_txn *txn = store_txn_new();
	struct job *job =
		job_new(st, JOB_OVERRIDE_CLEAR, service, ip, port, done, arg);
	int ret = GSLB_ENOMEM;
	if (txn != NULL && job != NULL) {
		ret = store_txn_delete_override(txn, service, ip, port);
		if (ret == GSLB_EOK) {
			ret = audit(txn, "override.clear", res,
				    state_override_json(st, old), NULL, who);
		}
	}
	submit(st, txn, ret, job, done, arg);
	return GSLB_EOK;
}

int state_server_add(struct state *st, struct store_server *rec,
		     const struct state_actor *who, state_done_fn done,
		     void *arg)
{
	if (gslb_registry_find(st->srv->reg, rec->service, &rec->ip,
			       rec->port) != NULL) {
		store_server_clear(rec);
		return GSLB_EEXIST;
	}
	char res[RESOURCE_LEN];
	server_resource(res, sizeof(res), rec->service, &rec->ip, rec->port);
	struct store_txn *txn = store_txn_new();
	struct job *job = job_new(st, JOB_SERVER_ADD, NULL, NULL, 0, done, arg);
	int ret = GSLB_ENOMEM;
	if (txn != NULL && job != NULL) {
		ret = store_txn_put_server(txn, rec);
		if (ret == GSLB_EOK) {
			ret = audit(txn, "server.add", res, NULL,
				    server_record_json(rec), who);
		}
		job->server = *rec;
		memset(rec, 0, sizeof(*rec));
	}
	store_server_clear(rec);
	submit(st, txn, ret, job, done, arg);
	return GSLB_EOK;
}

int state_server_remove(struct state *st, const struct gslb_backend *b,
			const struct state_actor *who, state_done_fn done,
			void *arg)
{
	const struct store_server *rec = state_server(st, b);
	if (b->source != GSLB_SOURCE_API || rec == NULL) {
		return GSLB_EINVAL;
	}
	char res[RESOURCE_LEN];
	server_resource(res, sizeof(res), b->service, &b->ip, b->port);
	struct store_txn *txn = store_txn_new();
	struct job *job = job_new(st, JOB_SERVER_REMOVE, b->service, &b->ip,
				  b->port, done, arg);
	int ret = GSLB_ENOMEM;
	if (txn != NULL && job != NULL) {
		ret = store_txn_delete_server(txn, b->service, &b->ip, b->port);
		if (ret == GSLB_EOK) {
			ret = store_txn_delete_backend_state(txn, b->service,
							     &b->ip, b->port);
		}
		if (ret == GSLB_EOK) {
			ret = audit(txn, "server.remove", res,
				    server_record_json(rec), NULL, who);
		}
	}
	submit(st, txn, ret, job, done, arg);
	return GSLB_EOK;
}

void state_audit_list(struct state *st, const struct store_audit_query *q,
		      store_audit_fn done, void *arg)
{
	store_audit_list(st->store, q, done, arg);
}

/* ------------------------------------------------------------------------ */
/* Verdicts                                                                 */

static void flush_verdicts(struct state *st)
{
	if (st->n_dirty == 0) {
		return;
	}
	struct store_txn *txn = store_txn_new();
	int ret = txn != NULL ? GSLB_EOK : GSLB_ENOMEM;
	for (size_t i = 0; i < st->n_dirty; i++) {
		const struct key *k = &st->dirty[i];
		const struct gslb_backend *b = gslb_registry_find(
			st->srv->reg, k->service, &k->ip, k->port);
		if (ret != GSLB_EOK) {
			/* Keep going: the keys must be freed. */
		} else if (b != NULL && b->validation != GSLB_UNKNOWN) {
			struct store_backend_state s = {
				.service = k->service,
				.ip = k->ip,
				.port = k->port,
				.healthy = b->validation == GSLB_YES,
				.changed = gslb_clock_mono_to_wall(
					b->validation_last_check),
			};
			ret = store_txn_put_backend_state(txn, &s);
		} else {
			ret = store_txn_delete_backend_state(txn, k->service,
							     &k->ip, k->port);
		}
		free(k->service);
	}
	st->n_dirty = 0;
	if (ret != GSLB_EOK) {
		store_txn_free(txn);
		log_error("state", "cannot record health verdicts: %s",
			  gslb_strerror(ret));
		return;
	}
	store_commit(st->store, txn, NULL, NULL);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	flush_verdicts(arg);
}

void state_backend_changed(struct state *st, const struct gslb_backend *b)
{
	if (st->n_dirty == st->cap_dirty) {
		size_t cap = st->cap_dirty != 0 ? st->cap_dirty * 2 : 64;
		struct key *v = realloc(st->dirty, cap * sizeof(*v));
		if (v == NULL) {
			return; /* the next change of b records it */
		}
		st->dirty = v;
		st->cap_dirty = cap;
	}
	struct key *k = &st->dirty[st->n_dirty];
	k->service = strdup(b->service);
	if (k->service == NULL) {
		return;
	}
	k->ip = b->ip;
	k->port = b->port;
	st->n_dirty++;
	if (!evtimer_pending(st->flush, NULL)) {
		struct timeval tv = { 0, VERDICT_FLUSH_MS * 1000 };
		evtimer_add(st->flush, &tv);
	}
}

/* The verdicts before the restart, for backends that are still there. */
static void apply_restored(struct state *st)
{
	struct gslb_registry *reg = st->srv->reg;
	struct store_txn *txn = store_txn_new();
	size_t applied = 0, dropped = 0;

	for (size_t i = 0; i < st->n_restored; i++) {
		const struct store_backend_state *s = &st->restored[i];
		struct gslb_backend *b =
			gslb_registry_find(reg, s->service, &s->ip, s->port);
		if (b != NULL) {
			gslb_registry_set_validation(
				reg, b, s->healthy ? GSLB_YES : GSLB_NO,
				gslb_clock_mono());
			applied++;
		} else if (txn != NULL) {
			/* Gone from the config: its verdict is history. */
			if (store_txn_delete_backend_state(txn, s->service,
							   &s->ip, s->port) !=
			    GSLB_EOK) {
				store_txn_free(txn);
				txn = NULL;
			}
			dropped++;
		}
	}
	if (txn != NULL) {
		store_commit(st->store, txn, NULL, NULL);
	}
	for (size_t i = 0; i < st->n_restored; i++) {
		store_backend_state_clear(&st->restored[i]);
	}
	free(st->restored);
	st->restored = NULL;
	st->n_restored = 0;
	if (applied > 0 || dropped > 0) {
		log_info("state",
			 "restored %zu health verdicts (%zu of backends no "
			 "longer configured dropped)",
			 applied, dropped);
	}
}

void state_registry_synced(struct state *st)
{
	if (!st->synced_once) {
		st->synced_once = true;
		apply_restored(st);
	}
	apply_overrides(st);
}

/* ------------------------------------------------------------------------ */
/* Open and close                                                           */

const struct overrides *state_overrides(const struct state *st)
{
	return st->overrides;
}

const struct store *state_store(const struct state *st)
{
	return st->store;
}

struct store *state_store_rw(struct state *st)
{
	return st->store;
}

void state_take_agents(struct state *st, struct store_agent **agents, size_t *n)
{
	*agents = st->agents;
	*n = st->n_agents;
	st->agents = NULL;
	st->n_agents = 0;
}

void state_take_dnssec_keys(struct state *st, struct store_dnssec_key **keys,
			    size_t *n)
{
	*keys = st->dnssec_keys;
	*n = st->n_dnssec_keys;
	st->dnssec_keys = NULL;
	st->n_dnssec_keys = 0;
}

const struct store_server *state_server(const struct state *st,
					const struct gslb_backend *b)
{
	if (b->source != GSLB_SOURCE_API) {
		return NULL;
	}
	for (size_t i = 0; i < st->n_servers; i++) {
		const struct store_server *s = &st->servers[i];
		if (s->port == b->port && gslb_ip_equal(&s->ip, &b->ip) &&
		    strcmp(s->service, b->service) == 0) {
			return s;
		}
	}
	return NULL;
}

/* Takes the servers and overrides read at start. */
static int load(struct state *st, struct store_contents *c)
{
	char addr[STATE_ADDRESS_LEN];
	int ret;

	for (size_t i = 0; i < c->n_servers; i++) {
		struct store_server *s = &c->servers[i];
		ret = server_insert(st, s);
		if (ret == GSLB_EEXIST) {
			log_warn("state",
				 "server %s %s from the API is listed "
				 "twice; keeping the first",
				 s->service,
				 state_address_text(&s->ip, s->port, addr));
		} else if (ret != GSLB_EOK) {
			return ret;
		}
	}
	for (size_t i = 0; i < c->n_overrides; i++) {
		struct store_override *o = &c->overrides[i];
		/* One that expired while we were down goes at the first
		 * on_expiry, recorded like any other. */
		ret = overrides_put(st->overrides, o);
		if (ret != GSLB_EOK) {
			return ret;
		}
	}
	st->restored = c->states;
	st->n_restored = c->n_states;
	c->states = NULL;
	c->n_states = 0;
	st->dnssec_keys = c->dnssec_keys;
	st->n_dnssec_keys = c->n_dnssec_keys;
	c->dnssec_keys = NULL;
	c->n_dnssec_keys = 0;
	st->agents = c->agents;
	st->n_agents = c->n_agents;
	c->agents = NULL;
	c->n_agents = 0;
	log_info("state",
		 "state database %s: %zu overrides, %zu API servers, %zu "
		 "health verdicts",
		 store_path(st->store), overrides_count(st->overrides),
		 st->n_servers, st->n_restored);
	return GSLB_EOK;
}

int state_open(struct server *srv, struct state **out)
{
	*out = NULL;
	struct state *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		return GSLB_ENOMEM;
	}
	st->srv = srv;
	st->settled_tail = &st->settled;
	st->flush = evtimer_new(srv->base, on_flush, st);
	st->expiry = evtimer_new(srv->base, on_expiry, st);
	st->settle = evtimer_new(srv->base, on_settle, st);
	int ret = overrides_new(&st->overrides);
	if (st->flush == NULL || st->expiry == NULL || st->settle == NULL ||
	    ret != GSLB_EOK) {
		state_free(st);
		return GSLB_ENOMEM;
	}

	struct store_contents contents = { 0 };
	char err[512] = "";
	ret = store_open(srv->cfg->overwatch.data_dir, srv->base, &st->store,
			 &contents, err, sizeof(err));
	if (ret != GSLB_EOK) {
		log_error("state", "%s",
			  err[0] != '\0' ? err : gslb_strerror(ret));
		state_free(st);
		return ret;
	}
	ret = load(st, &contents);
	store_contents_clear(&contents);
	if (ret != GSLB_EOK) {
		log_error("state", "cannot load the state database: %s",
			  gslb_strerror(ret));
		state_free(st);
		return ret;
	}
	schedule_expiry(st);
	*out = st;
	return GSLB_EOK;
}

void state_free(struct state *st)
{
	if (st == NULL) {
		return;
	}
	if (st->store != NULL) {
		flush_verdicts(st);
	}
	store_free(st->store);
	/* What the store finished last still gets its answer. */
	if (st->settle != NULL) {
		on_settle(-1, 0, st);
		event_free(st->settle);
	}
	for (size_t i = 0; i < st->n_dirty; i++) {
		free(st->dirty[i].service);
	}
	free(st->dirty);
	for (size_t i = 0; i < st->n_servers; i++) {
		store_server_clear(&st->servers[i]);
	}
	free(st->servers);
	for (size_t i = 0; i < st->n_restored; i++) {
		store_backend_state_clear(&st->restored[i]);
	}
	free(st->restored);
	for (size_t i = 0; i < st->n_agents; i++) {
		store_agent_clear(&st->agents[i]);
	}
	free(st->agents);
	for (size_t i = 0; i < st->n_dnssec_keys; i++) {
		store_dnssec_key_clear(&st->dnssec_keys[i]);
	}
	free(st->dnssec_keys);
	overrides_free(st->overrides);
	if (st->flush != NULL) {
		event_free(st->flush);
	}
	if (st->expiry != NULL) {
		event_free(st->expiry);
	}
	free(st);
}
