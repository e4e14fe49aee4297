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
};

struct snap_domain {
	const char *name; /* as in the config, for metrics */
	uint32_t ttl;
	uint32_t max_records;
	enum gslb_algorithm algorithm;
	struct snap_family fam[2];
};

struct snap_zone {
	knot_dname_t *apex; /* lower case */
	knot_rrset_t soa;
	knot_rrset_t ns;
};

/* A name that exists in a zone. Names with no data are empty non-terminals. */
struct snap_node {
	knot_dname_t *name; /* lower case */
	uint32_t hash;
	const struct snap_zone *zone;
	struct snap_domain *domain; /* a load-balanced name, or NULL */
	knot_rrset_t host[2]; /* in-zone nameserver A / AAAA, may be empty */
	bool apex;
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

/*
 * Builds a snapshot of cfg's zones and domains with the registry's current
 * health. prev (may be NULL) lends round-robin counters and, with
 * dns.return_last_healthy, the last healthy sets. Caller frees with
 * snapshot_free().
 */
int snapshot_build(const struct gslb_config *cfg,
		   const struct gslb_registry *reg, const struct snapshot *prev,
		   uint64_t generation, struct snapshot **out) GSLB_WARN_UNUSED;

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
