/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The overwatch process: the main thread's event loop (signals, reload,
 * snapshot publishing) and the DNS threads that read the snapshot.
 *
 * Snapshots are reclaimed by quiescent states: every DNS thread publishes
 * the generation of the snapshot it last finished with; a retired snapshot
 * is freed once every thread has moved past it. Threads never lock.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "agents.h"
#include "answer.h"
#include "api.h"
#include "config.h"
#include "keys.h"
#include "metrics.h"
#include "registry.h"
#include "snapshot.h"
#include "state.h"
#include "validator.h"

/* One per DNS thread, on its own cache line. */
struct reader {
	_Alignas(64) _Atomic uint64_t quiescent;
};

struct server {
	const char *config_path;
	struct gslb_config *cfg;
	struct gslb_registry *reg;
	struct event_base *base;

	_Atomic(struct snapshot *) snap;
	uint64_t generation;     /* of the published snapshot */
	uint64_t reg_generation; /* registry state it was built from */
	struct snapshot **retired;
	size_t n_retired;

	struct reader *readers;
	size_t n_readers;
	pthread_t *threads;
	size_t n_threads;
	struct udp_worker *udp;
	size_t n_udp;
	struct tcp_server *tcp;
	bool dns_ready; /* listeners are up */

	/* Zone signers for the snapshot builder; signer_for NULL: none. */
	struct snap_signing signing;
	int64_t swept; /* unix seconds: signature caches last swept */

	struct validator *validator;
	struct agents *agents; /* after the validator, before DNS */
	struct state *state;
	struct keys *keys; /* DNSSEC zone keys; after state, before DNS */
	struct event *publish_soon; /* coalesces health changes */
	gslb_time_t published;      /* monotonic, last snapshot published */
	struct metrics *metrics;
	struct api *api;
	gslb_time_t started;       /* wall clock */
	gslb_time_t config_loaded; /* wall clock, last successful load */
	/* server_run's: SIGHUP, SIGTERM, SIGINT and the tick. */
	struct event *events[4];

	_Atomic bool stopping;
};

/* The snapshot to answer from; the reader must later call reader_done(). */
static inline const struct snapshot *reader_enter(struct server *srv)
{
	return atomic_load_explicit(&srv->snap, memory_order_acquire);
}

static inline void reader_done(struct reader *r, const struct snapshot *snap)
{
	atomic_store_explicit(&r->quiescent, snap->generation,
			      memory_order_release);
}

/* Runs the overwatch with a loaded config (taken over) until stopped. */
int server_run(const char *config_path, struct gslb_config *cfg);

/*
 * What server_run() starts with, without any listener (DNS, API, metrics)
 * or health check: the event base, the state database, the zone keys, the
 * registry, the agents and the first snapshot. cfg is taken over. On
 * failure logs why; server_close() must still be called, and frees
 * whatever was made (srv->api too, when set).
 */
int server_open(struct server *srv, const char *config_path,
		struct gslb_config *cfg) GSLB_WARN_UNUSED;
void server_close(struct server *srv);

/* Some backend's status or the membership changed: republish soon. */
void server_backends_changed(struct server *srv);
/* Republishes now if anything changed (before confirming a change). */
void server_publish_changes(struct server *srv);
/* A zone's signing key changed: republishes now, signed with it. */
void server_zone_keys_changed(struct server *srv);

/* The DNS threads' counters so far, added to sum (main thread). */
void server_dns_stats(struct server *srv, struct answer_stats *sum);

/* Calls fn for every snapshot not yet freed: the published one and those
 * retired but maybe still read (their counters still move). */
void server_foreach_snapshot(struct server *srv,
			     void (*fn)(const struct snapshot *snap, void *arg),
			     void *arg);

/* UDP: one socket per worker and address, SO_REUSEPORT, recvmmsg. */
size_t udp_thread_count(const struct gslb_config *cfg);
int udp_start(struct server *srv);
/* Stops (after the threads have been joined); adds the counters to sum. */
void udp_stop(struct server *srv, struct answer_stats *sum);
void udp_stats(struct server *srv, struct answer_stats *sum);

/* TCP: one thread with its own event loop for every connection. */
int tcp_start(struct server *srv);
void tcp_stop(struct server *srv, struct answer_stats *sum);
void tcp_stats(struct server *srv, struct answer_stats *sum);
