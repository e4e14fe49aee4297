/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "snapshot.h"

#define SNAP_CHUNK (64 * 1024)

static uint32_t name_hash(const knot_dname_t *name)
{
	/* FNV-1a over the wire form; names are lower case already. */
	uint32_t h = 2166136261u;
	size_t len = knot_dname_size(name);
	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= 16777619u;
	}
	return h;
}

const struct snap_node *snapshot_find(const struct snapshot *snap,
				      const knot_dname_t *name)
{
	uint32_t h = name_hash(name);
	for (uint32_t i = h & snap->table_mask;;
	     i = (i + 1) & snap->table_mask) {
		uint32_t slot = snap->table[i];
		if (slot == 0) {
			return NULL;
		}
		const struct snap_node *n = &snap->nodes[slot - 1];
		if (n->hash == h && knot_dname_is_equal(n->name, name)) {
			return n;
		}
	}
}

const struct snap_node *snapshot_find_closest(const struct snapshot *snap,
					      const knot_dname_t *name)
{
	while (*name != 0) {
		name = knot_wire_next_label(name, NULL);
		const struct snap_node *n = snapshot_find(snap, name);
		if (n != NULL) {
			return n;
		}
	}
	return NULL;
}

void snapshot_free(struct snapshot *snap)
{
	if (snap == NULL) {
		return;
	}
	arena_clear(&snap->arena);
	free(snap);
}

/*
 * Where each domain's backends are, sorted once per build so that a
 * domain's are one range found by binary search: the config's servers by
 * (service, region, config order), the registry's other backends by
 * (service, registry order). Scanning everything per domain made a build
 * of 2,500 names and 10,000 backends take over 100 ms.
 */
struct backend_ref {
	const char *service;
	const void *where; /* the region (servers), NULL (others) */
	size_t order;
	const void *ptr; /* struct gslb_server or struct gslb_backend */
};

struct backend_index {
	struct backend_ref *servers;
	size_t n_servers;
	struct backend_ref *others;
	size_t n_others;
};

/* Construction state. */
struct builder {
	struct snapshot *snap;
	struct arena *arena;
	size_t cap_nodes;
	const struct gslb_config *cfg;
	const struct gslb_registry *reg;
	const struct snapshot *prev;
	struct backend_index index;
};

static int ref_cmp(const struct backend_ref *a, const char *service,
		   const void *where, size_t order)
{
	int c = strcmp(a->service, service);
	if (c != 0) {
		return c;
	}
	if (a->where != where) {
		return (uintptr_t)a->where < (uintptr_t)where ? -1 : 1;
	}
	return a->order < order ? -1 : a->order > order;
}

static int ref_sort(const void *x, const void *y)
{
	const struct backend_ref *b = y;
	return ref_cmp(x, b->service, b->where, b->order);
}

/* The first of v[0..n) at or after (service, where, order 0). */
static size_t ref_lower(const struct backend_ref *v, size_t n,
			const char *service, const void *where)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ref_cmp(&v[mid], service, where, 0) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static size_t ref_count(const struct backend_ref *v, size_t n, size_t from,
			const char *service, const void *where)
{
	size_t i = from;
	while (i < n && v[i].where == where &&
	       strcmp(v[i].service, service) == 0) {
		i++;
	}
	return i - from;
}

static int index_build(struct backend_index *x, const struct gslb_config *cfg,
		       const struct gslb_registry *reg)
{
	size_t n_servers = 0;
	for (size_t r = 0; r < cfg->n_regions; r++) {
		n_servers += cfg->regions[r].n_servers;
	}
	size_t n_reg = gslb_registry_count(reg);
	x->servers = malloc((n_servers + 1) * sizeof(*x->servers));
	x->others = malloc((n_reg + 1) * sizeof(*x->others));
	if (x->servers == NULL || x->others == NULL) {
		return GSLB_ENOMEM;
	}
	for (size_t r = 0; r < cfg->n_regions; r++) {
		const struct gslb_region *region = &cfg->regions[r];
		for (size_t i = 0; i < region->n_servers; i++) {
			const struct gslb_server *srv = &region->servers[i];
			x->servers[x->n_servers++] =
				(struct backend_ref){ srv->service, region, i,
						      srv };
		}
	}
	for (size_t i = 0; i < n_reg; i++) {
		const struct gslb_backend *be = gslb_registry_at(reg, i);
		if (be->source != GSLB_SOURCE_STATIC) {
			x->others[x->n_others++] =
				(struct backend_ref){ be->service, NULL, i,
						      be };
		}
	}
	qsort(x->servers, x->n_servers, sizeof(*x->servers), ref_sort);
	qsort(x->others, x->n_others, sizeof(*x->others), ref_sort);
	return GSLB_EOK;
}

static void index_clear(struct backend_index *x)
{
	free(x->servers);
	free(x->others);
}

static knot_dname_t *name_from_text(struct builder *b, const char *text)
{
	knot_dname_storage_t buf;
	if (knot_dname_from_str(buf, text, sizeof(buf)) == NULL) {
		return NULL;
	}
	knot_dname_to_lower(buf);
	return arena_memdup(b->arena, buf, knot_dname_size(buf));
}

/* Finds or adds the node for name (which must live in the arena). */
static struct snap_node *node_get(struct builder *b, knot_dname_t *name,
				  const struct snap_zone *zone)
{
	struct snapshot *s = b->snap;
	uint32_t h = name_hash(name);
	uint32_t i = h & s->table_mask;
	for (;; i = (i + 1) & s->table_mask) {
		uint32_t slot = s->table[i];
		if (slot == 0) {
			break;
		}
		struct snap_node *n = &s->nodes[slot - 1];
		if (n->hash == h && knot_dname_is_equal(n->name, name)) {
			return n;
		}
	}
	if (s->n_nodes >= b->cap_nodes) {
		return NULL;
	}
	struct snap_node *n = &s->nodes[s->n_nodes++];
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->hash = h;
	n->zone = zone;
	knot_rrset_init_empty(&n->host[SNAP_V4]);
	knot_rrset_init_empty(&n->host[SNAP_V6]);
	n->denial = -1;
	n->wildcard_cover = -1;
	s->table[i] = (uint32_t)s->n_nodes;
	return n;
}

/*
 * Adds name and every ancestor below the zone apex, so that empty
 * non-terminals answer NODATA rather than NXDOMAIN (RFC 8020).
 */
static struct snap_node *node_add_with_parents(struct builder *b,
					       knot_dname_t *name,
					       const struct snap_zone *zone)
{
	struct snap_node *n = node_get(b, name, zone);
	if (n == NULL) {
		return NULL;
	}
	const knot_dname_t *p = name;
	while (!knot_dname_is_equal(p, zone->apex) && *p != 0) {
		p = knot_wire_next_label(p, NULL);
		if (node_get(b, (knot_dname_t *)p, zone) == NULL) {
			return NULL;
		}
	}
	return n;
}

static int zone_build(struct builder *b, const struct gslb_zone *zc,
		      struct snap_zone *z)
{
	struct arena *a = b->arena;
	z->apex = name_from_text(b, zc->name);
	knot_dname_t *mname = name_from_text(b, zc->soa.mname);
	knot_dname_t *rname = name_from_text(b, zc->soa.rname);
	if (z->apex == NULL || mname == NULL || rname == NULL) {
		return GSLB_EINVAL;
	}

	uint8_t rd[2 * KNOT_DNAME_MAXLEN + 20];
	size_t ml = knot_dname_size(mname);
	size_t rl = knot_dname_size(rname);
	memcpy(rd, mname, ml);
	memcpy(rd + ml, rname, rl);
	uint8_t *p = rd + ml + rl;
	knot_wire_write_u32(p, zc->soa.serial);
	knot_wire_write_u32(p + 4, zc->soa.refresh);
	knot_wire_write_u32(p + 8, zc->soa.retry);
	knot_wire_write_u32(p + 12, zc->soa.expire);
	knot_wire_write_u32(p + 16, zc->soa.minimum);
	knot_rrset_init(&z->soa, z->apex, KNOT_RRTYPE_SOA, KNOT_CLASS_IN,
			zc->ttl);
	if (knot_rrset_add_rdata(&z->soa, rd, (uint16_t)(ml + rl + 20),
				 &a->mm) != KNOT_EOK) {
		return GSLB_ENOMEM;
	}
	/* RFC 2308 §5: a negative answer's SOA lives min(TTL, MINIMUM). */
	z->soa_neg = z->soa;
	if (zc->soa.minimum < z->soa_neg.ttl) {
		z->soa_neg.ttl = zc->soa.minimum;
	}
	knot_rrset_init_empty(&z->dnskey);
	knot_rrset_init_empty(&z->nsec3param);

	knot_rrset_init(&z->ns, z->apex, KNOT_RRTYPE_NS, KNOT_CLASS_IN,
			zc->ttl);
	for (size_t i = 0; i < zc->n_nameservers; i++) {
		knot_dname_t *ns = name_from_text(b, zc->nameservers[i].name);
		if (ns == NULL ||
		    knot_rrset_add_rdata(&z->ns, ns, knot_dname_size(ns),
					 &a->mm) != KNOT_EOK) {
			return GSLB_ENOMEM;
		}
	}
	return GSLB_EOK;
}

/* Nameserver host names inside their zone get a node with A/AAAA. */
static int zone_hosts(struct builder *b, const struct gslb_zone *zc,
		      const struct snap_zone *z)
{
	for (size_t i = 0; i < zc->n_nameservers; i++) {
		const struct gslb_nameserver *ns = &zc->nameservers[i];
		if (ns->n_addrs == 0) {
			continue;
		}
		knot_dname_t *name = name_from_text(b, ns->name);
		if (name == NULL) {
			return GSLB_ENOMEM;
		}
		struct snap_node *n = node_add_with_parents(b, name, z);
		if (n == NULL) {
			return GSLB_ENOMEM;
		}
		for (size_t j = 0; j < ns->n_addrs; j++) {
			const struct gslb_ip *ip = &ns->addrs[j];
			int f = ip->family == AF_INET ? SNAP_V4 : SNAP_V6;
			knot_rrset_t *rr = &n->host[f];
			if (rr->owner == NULL) {
				knot_rrset_init(rr, n->name,
						f == SNAP_V4 ? KNOT_RRTYPE_A
							     : KNOT_RRTYPE_AAAA,
						KNOT_CLASS_IN, zc->ttl);
			}
			if (knot_rrset_add_rdata(rr, ip->addr,
						 (uint16_t)gslb_ip_len(ip),
						 &b->arena->mm) != KNOT_EOK) {
				return GSLB_ENOMEM;
			}
		}
	}
	return GSLB_EOK;
}

/* Candidates of one domain, collected before copying into the arena. */
struct candidate {
	const struct gslb_ip *ip;
	uint32_t weight;
};

struct candidates {
	struct candidate *v[2]; /* selectable, per family, in priority order */
	uint32_t n[2];
	uint32_t cap;
	bool configured[2];
};

static void candidate_add(struct candidates *c, const struct gslb_domain *d,
			  const struct gslb_backend *be,
			  const struct gslb_ip *ip, uint32_t weight)
{
	int f = ip->family == AF_INET ? SNAP_V4 : SNAP_V6;
	c->configured[f] = true;
	bool healthy = be == NULL || be->status == GSLB_STATUS_HEALTHY;
	/* Weight 0 takes a server out of weighted selection only. */
	if (!healthy || (d->algorithm == GSLB_ALG_WEIGHTED && weight == 0)) {
		return;
	}
	c->v[f][c->n[f]++] = (struct candidate){ .ip = ip, .weight = weight };
}

static int collect_candidates(struct builder *b, const struct gslb_domain *d,
			      struct candidates *c)
{
	const struct gslb_config *cfg = b->cfg;
	const struct backend_index *x = &b->index;
	memset(c, 0, sizeof(*c));
	const size_t others = ref_lower(x->others, x->n_others, d->name, NULL);
	const size_t n_others =
		ref_count(x->others, x->n_others, others, d->name, NULL);
	size_t cap = n_others;
	for (size_t r = 0; r < d->n_regions; r++) {
		const struct gslb_region *reg =
			gslb_config_region(cfg, d->regions[r]);
		size_t from = ref_lower(x->servers, x->n_servers, d->name, reg);
		cap += ref_count(x->servers, x->n_servers, from, d->name, reg);
	}
	for (int f = SNAP_V4; f <= SNAP_V6; f++) {
		c->v[f] = malloc((cap + 1) * sizeof(struct candidate));
		if (c->v[f] == NULL) {
			return GSLB_ENOMEM;
		}
	}
	/* Regions in the domain's priority order, servers in config order. */
	for (size_t r = 0; r < d->n_regions; r++) {
		const struct gslb_region *reg =
			gslb_config_region(cfg, d->regions[r]);
		if (reg == NULL) {
			continue;
		}
		size_t from = ref_lower(x->servers, x->n_servers, d->name, reg);
		size_t n =
			ref_count(x->servers, x->n_servers, from, d->name, reg);
		for (size_t i = from; i < from + n; i++) {
			const struct gslb_server *srv = x->servers[i].ptr;
			const struct gslb_backend *be = gslb_registry_find(
				b->reg, srv->service, &srv->ip, srv->port);
			candidate_add(c, d, be, &srv->ip,
				      be != NULL ? be->weight : srv->weight);
		}
	}
	/* Then backends that did not come from the config, as registered. */
	for (size_t i = others; i < others + n_others; i++) {
		const struct gslb_backend *be = x->others[i].ptr;
		candidate_add(c, d, be, &be->ip, be->weight);
	}
	return GSLB_EOK;
}

static void candidates_clear(struct candidates *c)
{
	free(c->v[SNAP_V4]);
	free(c->v[SNAP_V6]);
}

static int family_copy(struct builder *b, struct snap_family *dst,
		       const struct snap_family *src)
{
	uint32_t n = src->route.n;
	dst->rdata = arena_alloc(b->arena, n * sizeof(*dst->rdata));
	uint32_t *cumweight = arena_memdup(b->arena, src->route.cumweight,
					   n * sizeof(*cumweight));
	dst->ips = arena_memdup(b->arena, src->ips, n * sizeof(*dst->ips));
	dst->picks = arena_zalloc(b->arena, n * sizeof(*dst->picks));
	if (dst->rdata == NULL || cumweight == NULL || dst->ips == NULL ||
	    dst->picks == NULL) {
		return GSLB_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		dst->rdata[i] =
			arena_memdup(b->arena, src->rdata[i],
				     knot_rdata_size(src->rdata[i]->len));
		if (dst->rdata[i] == NULL) {
			return GSLB_ENOMEM;
		}
	}
	dst->route = src->route;
	dst->route.cumweight = cumweight;
	dst->last_healthy = true;
	return GSLB_EOK;
}

static int family_build(struct builder *b, const struct gslb_domain *d,
			const struct candidates *c, int f,
			const struct snap_family *prev, struct snap_family *fam)
{
	uint32_t n = c->n[f];
	fam->configured = c->configured[f];
	fam->route.algorithm = d->algorithm;

	/* Operators hear when a name loses, or gets back, every backend. */
	bool down = fam->configured && n == 0;
	bool was_down = prev != NULL && prev->configured &&
			(prev->route.n == 0 || prev->last_healthy);
	const char *type = f == SNAP_V4 ? "A" : "AAAA";
	bool last = down && b->cfg->dns.return_last_healthy && prev != NULL &&
		    prev->route.n > 0;
	if (down && !was_down) {
		log_warn("dns", "%s %s: no healthy backend; answering %s",
			 d->name, type,
			 last ? "with the last healthy set" : "SERVFAIL");
	} else if (!down && was_down) {
		log_info("dns", "%s %s: healthy backends again", d->name, type);
	}
	if (last) {
		return family_copy(b, fam, prev);
	}
	fam->route.n = n;
	fam->rdata = arena_alloc(b->arena, (n + 1) * sizeof(*fam->rdata));
	uint32_t *cumweight = arena_alloc(b->arena, (n + 1) * sizeof(uint32_t));
	fam->ips = arena_alloc(b->arena, (n + 1) * sizeof(*fam->ips));
	fam->picks = arena_zalloc(b->arena, (n + 1) * sizeof(*fam->picks));
	if (fam->rdata == NULL || cumweight == NULL || fam->ips == NULL ||
	    fam->picks == NULL) {
		return GSLB_ENOMEM;
	}
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct candidate *cand = &c->v[f][i];
		uint16_t len = (uint16_t)gslb_ip_len(cand->ip);
		knot_rdata_t *rd = arena_alloc(b->arena, knot_rdata_size(len));
		if (rd == NULL) {
			return GSLB_ENOMEM;
		}
		knot_rdata_init(rd, len, cand->ip->addr);
		fam->rdata[i] = rd;
		fam->ips[i] = *cand->ip;
		/* Only weighted sets reach here with weight 0 excluded; the
		 * others never read the sums. Capped so they cannot wrap. */
		sum += cand->weight > 0 ? cand->weight : 1;
		cumweight[i] = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
	}
	fam->route.cumweight = cumweight;
	return GSLB_EOK;
}

static int domain_build(struct builder *b, const struct gslb_domain *d,
			struct snap_node *node)
{
	struct snap_domain *sd = arena_zalloc(b->arena, sizeof(*sd));
	if (sd == NULL) {
		return GSLB_ENOMEM;
	}
	sd->name = arena_memdup(b->arena, d->name, strlen(d->name) + 1);
	if (sd->name == NULL) {
		return GSLB_ENOMEM;
	}
	sd->ttl = d->ttl;
	sd->max_records = d->max_records > 0 ? d->max_records : 1;
	sd->algorithm = d->algorithm;

	const struct snap_domain *old = NULL;
	if (b->prev != NULL) {
		const struct snap_node *on = snapshot_find(b->prev, node->name);
		old = on != NULL ? on->domain : NULL;
	}
	for (int f = SNAP_V4; f <= SNAP_V6; f++) {
		atomic_init(&sd->fam[f].rr_counter,
			    old != NULL ? atomic_load_explicit(
						  &old->fam[f].rr_counter,
						  memory_order_relaxed)
					: 0);
	}

	struct candidates c;
	int ret = collect_candidates(b, d, &c);
	/* A name with no backend at all (its agents are gone, or have not
	 * registered since a restart) is down in both families: SERVFAIL
	 * sends resolvers to another overwatch, where NODATA would be
	 * cached. A family only others have stays NODATA. */
	if (!c.configured[SNAP_V4] && !c.configured[SNAP_V6]) {
		c.configured[SNAP_V4] = c.configured[SNAP_V6] = true;
	}
	for (int f = SNAP_V4; f <= SNAP_V6 && ret == GSLB_EOK; f++) {
		ret = family_build(b, d, &c, f,
				   old != NULL && old->algorithm == d->algorithm
					   ? &old->fam[f]
					   : NULL,
				   &sd->fam[f]);
	}
	candidates_clear(&c);
	node->domain = sd;
	return ret;
}

static size_t label_count(const char *name)
{
	size_t n = 1;
	for (; *name != '\0'; name++) {
		n += *name == '.';
	}
	return n;
}

/* An upper bound of the nodes: every name and each of its ancestors. */
static size_t node_bound(const struct gslb_config *cfg)
{
	size_t bound = 0;
	for (size_t i = 0; i < cfg->dns.n_zones; i++) {
		const struct gslb_zone *z = &cfg->dns.zones[i];
		bound += label_count(z->name);
		for (size_t j = 0; j < z->n_nameservers; j++) {
			bound += label_count(z->nameservers[j].name);
		}
	}
	for (size_t i = 0; i < cfg->n_domains; i++) {
		bound += label_count(cfg->domains[i].name);
	}
	return bound;
}

static int build(struct builder *b)
{
	const struct gslb_config *cfg = b->cfg;
	struct snapshot *s = b->snap;

	b->cap_nodes = node_bound(cfg);
	uint32_t slots = 16;
	while (slots < 2 * b->cap_nodes) {
		slots *= 2;
	}
	s->table_mask = slots - 1;
	s->table = arena_zalloc(b->arena, slots * sizeof(uint32_t));
	s->nodes = arena_alloc(b->arena,
			       (b->cap_nodes + 1) * sizeof(struct snap_node));
	s->zones = arena_zalloc(b->arena,
				(cfg->dns.n_zones + 1) * sizeof(*s->zones));
	if (s->table == NULL || s->nodes == NULL || s->zones == NULL) {
		return GSLB_ENOMEM;
	}

	for (size_t i = 0; i < cfg->dns.n_zones; i++) {
		struct snap_zone *z = &s->zones[i];
		int ret = zone_build(b, &cfg->dns.zones[i], z);
		if (ret != GSLB_EOK) {
			return ret;
		}
		s->n_zones++;
		struct snap_node *apex = node_get(b, z->apex, z);
		if (apex == NULL) {
			return GSLB_ENOMEM;
		}
		apex->apex = true;
		ret = zone_hosts(b, &cfg->dns.zones[i], z);
		if (ret != GSLB_EOK) {
			return ret;
		}
	}

	for (size_t i = 0; i < cfg->n_domains; i++) {
		const struct gslb_domain *d = &cfg->domains[i];
		knot_dname_t *name = name_from_text(b, d->name);
		if (name == NULL || d->zone >= s->n_zones) {
			return GSLB_EINVAL;
		}
		struct snap_node *n =
			node_add_with_parents(b, name, &s->zones[d->zone]);
		if (n == NULL) {
			return GSLB_ENOMEM;
		}
		int ret = domain_build(b, d, n);
		if (ret != GSLB_EOK) {
			return ret;
		}
	}
	return GSLB_EOK;
}

/* The node's name as TXT RDATA (one string of at most 255 bytes). */
static int identity_build(struct snapshot *s, const struct gslb_config *cfg)
{
	const char *id = cfg->overwatch.node_id;
	size_t len = id != NULL ? strlen(id) : 0;
	if (len > 255) {
		len = 255;
	}
	uint8_t txt[256];
	txt[0] = (uint8_t)len;
	memcpy(txt + 1, id, len);
	s->identity_txt = arena_alloc(&s->arena, knot_rdata_size(len + 1));
	if (s->identity_txt == NULL) {
		return GSLB_ENOMEM;
	}
	knot_rdata_init(s->identity_txt, (uint16_t)(len + 1), txt);
	if (cfg->dns.nsid && len > 0) {
		s->nsid = s->identity_txt->data + 1;
		s->nsid_len = (uint16_t)len;
	}
	return GSLB_EOK;
}

static int sign(struct snapshot *s, const struct gslb_config *cfg,
		const struct snap_signing *signing)
{
	for (size_t i = 0; i < s->n_zones; i++) {
		struct signer *signer = signing->signer_for(
			signing->arg, cfg->dns.zones[i].name);
		if (signer == NULL) {
			continue;
		}
		int ret = snapshot_sign_zone(s, i, signer,
					     cfg->overwatch.dnssec.nsec3,
					     signing->now);
		if (ret != GSLB_EOK) {
			return ret;
		}
	}
	return GSLB_EOK;
}

int snapshot_build(const struct gslb_config *cfg,
		   const struct gslb_registry *reg, const struct snapshot *prev,
		   const struct snap_signing *signing, uint64_t generation,
		   struct snapshot **out)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return GSLB_ENOMEM;
	}
	if (arena_init(&s->arena, SNAP_CHUNK, 0) != GSLB_EOK) {
		free(s);
		return GSLB_ENOMEM;
	}
	s->generation = generation;
	s->max_udp_payload = cfg->dns.max_udp_payload;
	if (identity_build(s, cfg) != GSLB_EOK) {
		snapshot_free(s);
		return GSLB_ENOMEM;
	}

	struct builder b = {
		.snap = s,
		.arena = &s->arena,
		.cfg = cfg,
		.reg = reg,
		.prev = prev,
	};
	int ret = index_build(&b.index, cfg, reg);
	if (ret == GSLB_EOK) {
		ret = build(&b);
	}
	index_clear(&b.index);
	if (ret == GSLB_EOK && signing != NULL) {
		ret = sign(s, cfg, signing);
	}
	if (ret != GSLB_EOK) {
		snapshot_free(s);
		return ret;
	}
	*out = s;
	return GSLB_EOK;
}

void snapshot_foreach_pick(const struct snapshot *snap,
			   void (*fn)(const char *domain,
				      enum gslb_algorithm algorithm,
				      const struct gslb_ip *ip, uint64_t picks,
				      void *arg),
			   void *arg)
{
	for (size_t i = 0; i < snap->n_nodes; i++) {
		const struct snap_domain *d = snap->nodes[i].domain;
		if (d == NULL) {
			continue;
		}
		for (int f = SNAP_V4; f <= SNAP_V6; f++) {
			const struct snap_family *fam = &d->fam[f];
			for (uint32_t k = 0; k < fam->route.n; k++) {
				fn(d->name, d->algorithm, &fam->ips[k],
				   atomic_load_explicit(&fam->picks[k],
							memory_order_relaxed),
				   arg);
			}
		}
	}
}
