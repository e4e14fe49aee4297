/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Answering one DNS query from a snapshot: the behaviour of an authoritative
 * server (SOA/NS at the apex, NODATA, NXDOMAIN, REFUSED outside our zones,
 * EDNS0, ECS echo, TC) plus the choice among healthy backends. Each worker
 * thread owns an answer_ctx; nothing here locks or calls malloc per query.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "routing.h"
#include "snapshot.h"

/* Query types counted apart; the rest are "other". */
enum answer_qtype {
	AQ_A = 0,
	AQ_AAAA,
	AQ_NS,
	AQ_SOA,
	AQ_CNAME,
	AQ_MX,
	AQ_TXT,
	AQ_PTR,
	AQ_SRV,
	AQ_DS,
	AQ_DNSKEY,
	AQ_CAA,
	AQ_SVCB,
	AQ_HTTPS,
	AQ_ANY,
	AQ_OTHER,
	AQ_NONE, /* no question could be read */
	AQ_COUNT,
};

/* RCODEs 0..22 counted apart (BADVERS is 16); higher ones as 23. */
#define ANSWER_RCODES 24

/* "A", "AAAA", ..., "other", "none". */
const char *answer_qtype_name(enum answer_qtype t);

/*
 * Counters a worker keeps for itself. Only the owning thread writes them
 * (stat_inc: no locked instruction); others may read them at any time.
 */
struct answer_stats {
	_Atomic uint64_t queries;   /* datagrams or TCP messages received */
	_Atomic uint64_t dropped;   /* not answered: too short, or a response */
	_Atomic uint64_t truncated; /* answered with TC */
	_Atomic uint64_t answers[AQ_COUNT][ANSWER_RCODES]; /* by type, RCODE */
};

static inline void stat_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static inline uint64_t stat_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static inline void stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Answers with rcode, over all types. */
uint64_t answer_stats_rcode(const struct answer_stats *st, unsigned rcode);

struct answer_ctx {
	struct arena arena; /* reset before every query */
	struct gslb_rng rng;
	struct answer_stats stats;
	/* Of the query being answered, for the counters. */
	enum answer_qtype qtype;
	int rcode; /* -1 until an answer is finished */
};

/* Adds the counters of src (another thread's, live) to sum (private). */
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
