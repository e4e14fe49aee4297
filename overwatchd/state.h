/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The operator's changes that outlive the process: overrides and servers
 * added through the API. Each change goes to the state database together
 * with its audit entry, and is applied to the registry only once
 * committed: whoever asked hears "done" only for what a restart will find.
 * Also keeps the database's copy of the validation verdicts, so that a
 * restarted overwatch answers as before at once, and expires overrides.
 *
 * Main thread only.
 */
#pragma once

#include <jansson.h>

#include "registry.h"
#include "store.h"

struct server;
struct state;

/* Who asks for a change, for the audit log. */
struct state_actor {
	const char *client; /* address, or "unix" for the local socket */
	const char *name;   /* token name; NULL when none was needed */
};

/* err is GSLB_EOK when the change is committed and applied; otherwise
 * message says why not. */
typedef void (*state_done_fn)(void *arg, int err, const char *message);

/*
 * Opens the database in overwatch.data_dir and adds the servers it holds
 * to the registry. The rest of what it holds (overrides, verdicts) applies
 * at the next state_registry_synced(). Logs why on failure.
 */
int state_open(struct server *srv, struct state **out) GSLB_WARN_UNUSED;

/* Writes the verdicts not yet written, finishes queued changes, closes. */
void state_free(struct state *st);

/* The registry's membership changed: overrides apply to new backends. */
void state_registry_synced(struct state *st);

/* b's validation fact changed: the database learns it within a second. */
void state_backend_changed(struct state *st, const struct gslb_backend *b);

const struct overrides *state_overrides(const struct state *st);
const struct store *state_store(const struct state *st);
/* For the zone keys (keys.c), which write their own rows. */
struct store *state_store_rw(struct state *st);
/* The DNSSEC keys read at start, once (caller clears and frees them). */
void state_take_dnssec_keys(struct state *st, struct store_dnssec_key **keys,
			    size_t *n);

/* The pinned agents read at start, once (caller clears and frees them). */
void state_take_agents(struct state *st, struct store_agent **agents,
		       size_t *n);

/* The record of an API-added backend; NULL for others. */
const struct store_server *state_server(const struct state *st,
					const struct gslb_backend *b);

/* Text of an override's address: "192.0.2.1:80", "[2001:db8::1]:80", or
 * the bare IP when it covers every port. */
#define STATE_ADDRESS_LEN (GSLB_IP_STRLEN + 8)
const char *state_address_text(const struct gslb_ip *ip, uint16_t port,
			       char buf[STATE_ADDRESS_LEN]);

/* An override as the API shows it; NULL when out of memory. */
json_t *state_override_json(const struct state *st,
			    const struct store_override *o);

/* Sets (or replaces) the override, taking over rec's contents. */
void state_override_set(struct state *st, struct store_override *rec,
			const struct state_actor *who, state_done_fn done,
			void *arg);

/* GSLB_ENOENT (and no call to done) when there is no such override. */
int state_override_clear(struct state *st, const char *service,
			 const struct gslb_ip *ip, uint16_t port,
			 const struct state_actor *who, state_done_fn done,
			 void *arg) GSLB_WARN_UNUSED;

/* Adds a backend, taking over rec's contents; GSLB_EEXIST (and no call to
 * done) when the registry has the key already. */
int state_server_add(struct state *st, struct store_server *rec,
		     const struct state_actor *who, state_done_fn done,
		     void *arg) GSLB_WARN_UNUSED;

/* Removes an API-added backend; GSLB_EINVAL for any other. */
int state_server_remove(struct state *st, const struct gslb_backend *b,
			const struct state_actor *who, state_done_fn done,
			void *arg) GSLB_WARN_UNUSED;

/* The audit log, read behind the writes queued before. */
void state_audit_list(struct state *st, const struct store_audit_query *q,
		      store_audit_fn done, void *arg);
