/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The agent's side of the gossip protocol (lib/gossip.h): heartbeats to
 * every overwatch in agent.gossip.overwatch_nodes, a signed registration
 * whenever one asks, the full state on every change and whenever one
 * lacks it, a deregistration on shutdown. The acknowledgements that come
 * back drive everything but the heartbeat timer.
 *
 * Datagrams go out from one unconnected UDP socket per address family,
 * bound to an ephemeral port; acknowledgements are matched to overwatches
 * by their source address. One sequence counter serves all overwatches; it
 * starts at the wall clock in nanoseconds, so it keeps increasing across
 * restarts.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"
#include "gossip.h"
#include "ident.h"

struct event_base;
struct sender;

/* What the agent reports; the agent's, read by the sender when it sends. */
struct sender_report {
	uint64_t state_version;
	const struct gossip_backend *backends;
	size_t n_backends;
	struct gossip_predictive pred;
	/* The distinct services of the backends, for registrations. */
	const char *services[GOSSIP_SERVICES_MAX];
	size_t service_lens[GOSSIP_SERVICES_MAX];
	size_t n_services;
};

/* Settings. The strings are the caller's and must stay valid until the
 * next sender_configure() or sender_free(). */
struct sender_config {
	const char *agent_id;
	const char *region; /* NULL: none */
	const char *token;
	uint8_t key[GSLB_GOSSIP_KEY_LEN];
	gslb_duration_t interval;
	unsigned missed_threshold;
	char *const *nodes; /* host:port */
	size_t n_nodes;
};

/* A registration is sent to an overwatch at most this often... */
#define SENDER_REGISTER_GAP (1 * GSLB_SEC)
/* ...and, after the overwatch refused one, at most this often. */
#define SENDER_REFUSED_GAP (5 * GSLB_SEC)
/* The full state again, unless it changed, at most this often. */
#define SENDER_STATE_GAP (500 * GSLB_MSEC)
/* A refusal for the same reason is logged at most this often. */
#define SENDER_REFUSED_LOG_GAP (60 * GSLB_SEC)

/* A sender on base. ident and report are the caller's and outlive it. */
int sender_new(struct event_base *base, const struct ident *ident,
	       const struct sender_report *report,
	       struct sender **out) GSLB_WARN_UNUSED;
void sender_free(struct sender *s);

/*
 * Applies settings, at start and on reload: overwatches new in the list
 * are added (and resolved), those gone are sent a deregistration and
 * dropped, the others keep their session. A new token makes every
 * overwatch get a new registration; a new interval re-arms the timer.
 */
int sender_configure(struct sender *s,
		     const struct sender_config *cfg) GSLB_WARN_UNUSED;

/* Sends the first heartbeats now and then every interval. */
int sender_start(struct sender *s) GSLB_WARN_UNUSED;

/* The report's state_version changed: the full state goes to every
 * registered overwatch now. */
void sender_state_changed(struct sender *s);

/* The identity changed (rotation): every overwatch gets a registration
 * with the new certificate. */
void sender_reregister(struct sender *s);

/* Shutdown: a deregistration, twice, to every overwatch with a session. */
void sender_deregister(struct sender *s);

/* Overwatches configured, and those we are registered with. */
size_t sender_count(const struct sender *s);
size_t sender_registered(const struct sender *s);
/* Datagrams dropped: not from an overwatch of ours, unsealable, malformed,
 * not an acknowledgement for us. */
uint64_t sender_ignored(const struct sender *s);
