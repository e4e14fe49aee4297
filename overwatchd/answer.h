/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Answering one DNS query from a snapshot: the behaviour of an authoritative
 * server (SOA/NS at the apex, NODATA, NXDOMAIN, REFUSED outside our zones,
 * EDNS0, ECS echo, TC) plus the choice among healthy backends. Each worker
 * thread owns an answer_ctx; nothing here locks or calls malloc per query.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "routing.h"
#include "snapshot.h"

/* Counters a worker keeps for itself; summed by whoever reports them. */
struct answer_stats {
	uint64_t queries;   /* datagrams or TCP messages received */
	uint64_t dropped;   /* not answered: too short, or a response */
	uint64_t truncated; /* answered with TC */
	uint64_t rcode[32]; /* by (extended) RCODE; BADVERS is 16 */
};

struct answer_ctx {
	struct arena arena; /* reset before every query */
	struct gslb_rng rng;
	struct answer_stats stats;
};

/* Adds the counters of src to sum. */
void answer_stats_add(struct answer_stats *sum, const struct answer_stats *src);

int answer_ctx_init(struct answer_ctx *ctx, uint64_t seed);
void answer_ctx_clear(struct answer_ctx *ctx);

/*
 * Answers the query in query[0..qlen) into out (out_max bytes; a UDP
 * answer is further limited by EDNS). Returns the answer's length, or 0
 * when the message gets no answer at all. query is modified.
 */
size_t answer_query(struct answer_ctx *ctx, const struct snapshot *snap,
		    uint8_t *query, size_t qlen, uint8_t *out, size_t out_max,
		    bool tcp);
