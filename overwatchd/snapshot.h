/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The snapshot: everything a DNS worker needs to answer, built by the main
 * thread from the config and the registry, then published with an atomic
 * pointer swap. Immutable once published, except the round-robin counters.
 * One arena holds it all, so it is freed in one go.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libknot/libknot.h>

#include "arena.h"
#include "config.h"
#include "registry.h"
#include "routing.h"

enum snap_family_index {
	SNAP_V4 = 0,
	SNAP_V6 = 1,
};

/* Most records one answer carries (dns max_records is capped here). */
#define SNAP_MAX_PICKS 64

/* How an answer's records find their RRSIG (see snapshot_sign.c). */
enum snap_sig_mode {
	SNAP_SIG_ONE = 0,        /* one possible set: sig[0] */
	SNAP_SIG_BY_FIRST,       /* the set starts at idx[0]: sig[idx[0]] */
	SNAP_SIG_BY_COMBINATION, /* sig[rank of the sorted index set] */
	SNAP_SIG_SAMPLED, /* DO=1 answers pick one of n_sig sampled sets */
};

/* The answers one domain can give for one address family. */
struct snap_family {
	bool configured;   /* any server of this family exists */
	bool last_healthy; /* set below is the last healthy one, kept */
	struct gslb_route_set route; /* n = selectable candidates */
	knot_rdata_t **rdata; /* route.n single-address RDATA, in order */
	struct gslb_ip *ips;  /* route.n addresses, in order */
	/* Answers that carried each candidate (route.n counters; any worker
	 * adds, so these are the one shared write of the query path). */
	_Atomic uint64_t *picks;
	/* Round-robin position; per family, so that A and AAAA queries from
	 * dual-stack clients each rotate. Carried over across snapshots. */
	_Atomic uint64_t rr_counter;

	/* DNSSEC: an RRSIG for every set the route can answer with; NULL
	 * when the zone is not signed or nothing is selectable. */
	const knot_rdata_t **sig;
	uint32_t n_sig;
	uint32_t k; /* records per answer: min(max_records, route.n) */
	enum snap_sig_mode sig_mode;
	uint32_t *samples; /* SNAP_SIG_SAMPLED: n_sig sets of k indices */
};

struct snap_domain {
	const char *name; /* as in the config, for metrics */
	uint32_t ttl;
	uint32_t max_records;
	enum gslb_algorithm algorithm;
	struct snap_family fam[2];
};

/* One NSEC or NSEC3 record of a zone's chain, with its signature. */
struct snap_denial {
	knot_rrset_t rr;
	const knot_rdata_t *sig;
	uint8_t hash[20]; /* NSEC3: the owner's raw hash, the chain's order */
};

struct snap_zone {
	knot_dname_t *apex; /* lower case */
	knot_rrset_t soa;
	knot_rrset_t soa_neg; /* TTL min(TTL, MINIMUM), for negative answers */
	knot_rrset_t ns;

	/* DNSSEC; rrsets are empty and sigs NULL when the zone is unsigned. */
	bool is_signed;
	bool nsec3;
	knot_rrset_t dnskey;
	knot_rrset_t nsec3param;
	const knot_rdata_t *soa_sig;
	const knot_rdata_t *soa_neg_sig;
	const knot_rdata_t *ns_sig;
	const knot_rdata_t *dnskey_sig;
	const knot_rdata_t *nsec3param_sig;
	/* NSEC: by owner in canonical order; NSEC3: by hash. */
	struct snap_denial *chain;
	uint32_t n_chain;
};

/* A name that exists in a zone. Names with no data are empty non-terminals. */
struct snap_node {
	knot_dname_t *name; /* lower case */
	uint32_t hash;
	const struct snap_zone *zone;
	struct snap_domain *domain; /* a load-balanced name, or NULL */
	knot_rrset_t host[2]; /* in-zone nameserver A / AAAA, may be empty */
	const knot_rdata_t *host_sig[2];
	bool apex;
	/* Its record in the zone's chain; -1: none (an empty non-terminal in
	 * an NSEC zone, or an unsigned zone). */
	int32_t denial;
	/* NSEC3: the record covering *.<this name>, for NXDOMAIN proofs. */
	int32_t wildcard_cover;
};

struct snapshot {
	uint64_t generation; /* increases with every publish */
	struct arena arena;

	struct snap_zone *zones;
	size_t n_zones;
	struct snap_node *nodes;
	size_t n_nodes;
	uint32_t *table; /* open addressing: node index + 1, 0 = empty */
	uint32_t table_mask;

	uint16_t max_udp_payload;
	/* overwatch.identity.node_id, for CH TXT id.server and NSID. */
	knot_rdata_t *identity_txt;
	const uint8_t *nsid; /* NULL unless dns.nsid */
	uint16_t nsid_len;
};

struct signer;

/* Where the builder gets its zone signers from (keys.c). */
struct snap_signing {
	/* The signer of a configured zone ("gslb.example"); NULL: unsigned. */
	struct signer *(*signer_for)(void *arg, const char *zone);
	void *arg;
	int64_t now; /* unix seconds, for signature validity */
};

/*
 * Builds a snapshot of cfg's zones and domains with the registry's current
 * health. prev (may be NULL) lends round-robin counters and, with
 * dns.return_last_healthy, the last healthy sets. With signing (may be
 * NULL), every answer a zone can give is signed here. Caller frees with
 * snapshot_free().
 */
int snapshot_build(const struct gslb_config *cfg,
		   const struct gslb_registry *reg, const struct snapshot *prev,
		   const struct snap_signing *signing, uint64_t generation,
		   struct snapshot **out) GSLB_WARN_UNUSED;

/* Signs a built snapshot's zone zi with s (snapshot_sign.c). */
int snapshot_sign_zone(struct snapshot *snap, size_t zi, struct signer *s,
		       bool nsec3, int64_t now) GSLB_WARN_UNUSED;

/*
 * The index of the chain record covering name: the last one ordered
 * before it (NSEC: canonical name order; NSEC3: hash order, wrapping).
 */
/* Which of fam->sig covers the records idx[0..n) picked by the route. */
uint32_t snapshot_sig_index(const struct snap_family *fam, const uint32_t *idx,
			    uint32_t n);

uint32_t snapshot_nsec_cover(const struct snap_zone *z,
			     const knot_dname_t *name);
uint32_t snapshot_nsec3_cover(const struct snap_zone *z,
			      const uint8_t hash[20]);

void snapshot_free(struct snapshot *snap);

/* Calls fn for every candidate of every domain with the answers that
 * carried it in this snapshot. */
void snapshot_foreach_pick(const struct snapshot *snap,
			   void (*fn)(const char *domain,
				      enum gslb_algorithm algorithm,
				      const struct gslb_ip *ip, uint64_t picks,
				      void *arg),
			   void *arg);

/* Node by exact lower-case name; NULL when the name does not exist. */
const struct snap_node *snapshot_find(const struct snapshot *snap,
				      const knot_dname_t *name);

/*
 * The node of the closest existing ancestor of name (for NXDOMAIN: it tells
 * the zone); NULL when name is outside every zone.
 */
const struct snap_node *snapshot_find_closest(const struct snapshot *snap,
					      const knot_dname_t *name);
