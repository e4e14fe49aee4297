/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The agents, from the overwatch's side: the gossip receiver on
 * overwatch.gossip.bind_address, trust on first use, and what agents say
 * about their backends.
 *
 * A registration is accepted when its signature verifies with the
 * certificate it carries, its service token matches overwatch.agent_tokens
 * for every service it names, and, for an agent id seen before, the
 * certificate is the pinned one (or a new one endorsed by the pinned one's
 * key: rotation). The first accepted registration pins the certificate in
 * the state database. Everything after a registration must carry the MAC
 * of the session key it set up (lib/gossip.h).
 *
 * A reload needs nothing here: tokens and services are checked at each
 * registration and state, against the configuration of the moment.
 *
 * Agent backends enter the registry with source "agent" and the agent's
 * claims; their claim goes stale after the agent's heartbeat interval
 * times its missed_threshold without a word, and they leave the registry
 * after overwatch.stale.remove_after, or at once when the agent
 * deregisters or is revoked.
 *
 * Main thread only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "gossip.h"
#include "netaddr.h"
#include "state.h"

struct agents;
struct server;

/* Opens the gossip socket and takes the pinned agents from the state
 * database. Logs why on failure. */
int agents_open(struct server *srv, struct agents **out) GSLB_WARN_UNUSED;
/* At exit: the registry must be freed next (its agent backends name
 * agents freed here). */
void agents_free(struct agents *ag);

/* Time passes: silence, removal, saving last-seen times. */
void agents_tick(struct agents *ag);

/* What the API and metrics show of one agent. */
struct agent_info {
	const char *agent_id;
	const char *fingerprint;
	const char *region;   /* NULL: none */
	const char *services; /* comma-separated */
	int64_t first_seen;   /* unix seconds */
	int64_t last_seen;
	int64_t not_after;
	bool connected; /* has a session */
	bool stale;     /* connected but silent past its limit */
	char address[GSLB_SOCKADDR_STRLEN]; /* last datagram's source;
					       "": none since start */
	size_t backends;
	size_t healthy_backends;
	bool draining;
	enum gossip_drain_reason drain_reason;
	uint64_t state_version;        /* 0: no state yet */
	gslb_duration_t heartbeat_age; /* -1: not heard since start */
};

/* Calls fn for every pinned agent, ordered by agent id (info valid during
 * the call). */
void agents_foreach(const struct agents *ag,
		    void (*fn)(const struct agent_info *info, void *arg),
		    void *arg);
bool agents_find(const struct agents *ag, const char *agent_id,
		 struct agent_info *out);

/*
 * Revocation: removes the pin (committed, with an audit entry) and the
 * agent's backends (at once). The agent is pinned again only if it
 * registers again with a valid token. GSLB_ENOENT (done not called) for
 * an unknown agent. done's message on success is unused.
 */
int agents_revoke(struct agents *ag, const char *agent_id,
		  const struct state_actor *who, state_done_fn done, void *arg,
		  size_t *backends_removed) GSLB_WARN_UNUSED;

/* Counters since start, for metrics. */
struct agents_stats {
	uint64_t received[GOSSIP_ACK + 1]; /* accepted, by message type */
	uint64_t rejected[GOSSIP_R_COUNT]; /* by reason */
	uint64_t acks_sent;
	uint64_t send_failures;
	uint64_t registrations; /* accepted */
	uint64_t pinned_new;    /* first use */
	uint64_t rotations;     /* re-pinned with an endorsement */
	uint64_t stale_events;  /* agents that went silent */
	uint64_t removals;      /* agents whose backends were removed */
	uint64_t deregistrations;
	size_t pinned;    /* agents pinned now */
	size_t connected; /* with a session */
	size_t stale;     /* connected but silent */
	size_t stale_backends;
};
void agents_stats(const struct agents *ag, struct agents_stats *out);
