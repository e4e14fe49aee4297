/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Signing a snapshot: DNSSEC without per-query crypto. A zone's names and
 * the answer sets each name can give are finite, so the builder signs all
 * of them (the signer's cache makes a rebuild re-sign only what changed)
 * and the workers copy the signatures:
 *
 * - zone records: SOA (twice: its own TTL and the negative-answer TTL), NS,
 *   DNSKEY, NSEC3PARAM, in-zone nameserver addresses;
 * - every answer set of every load-balanced name (see family_sign);
 * - the denial chain: NSEC over the names that have data, or NSEC3 (SHA-1,
 *   no extra iterations, no salt) over every name, empty non-terminals too.
 */
#include <stdlib.h>
#include <string.h>

#include "dnssec.h"
#include "error.h"
#include "snapshot.h"

/* Weighted answers of k records out of n: all C(n, k) sets are signed up
 * to this many; past it, DO=1 answers pick among SIG_SAMPLES sets drawn
 * with the weights, which keeps the weighting but not every combination. */
#define SIG_COMBINATIONS_MAX 1024
#define SIG_SAMPLES          512

struct zone_signing {
	struct snapshot *snap;
	struct snap_zone *zone;
	struct signer *signer;
	int64_t now;
};

static const knot_rdata_t *sign_rrset(struct zone_signing *zs,
				      const knot_rrset_t *rr)
{
	const knot_rdata_t *rd = signer_sign(zs->signer, rr, zs->now);
	if (rd == NULL) {
		return NULL;
	}
	return arena_memdup(&zs->snap->arena, rd, knot_rdata_size(rd->len));
}

/* C(n, k), or SIG_COMBINATIONS_MAX + 1 when larger. */
static uint64_t binomial(uint64_t n, uint64_t k)
{
	if (k > n) {
		return 0;
	}
	if (k > n - k) {
		k = n - k;
	}
	uint64_t r = 1;
	for (uint64_t i = 0; i < k; i++) {
		/* Each step is C(n - k + i + 1, i + 1): exact, and small
		 * while under the cap. */
		r = r * (n - k + i + 1) / (i + 1);
		if (r > SIG_COMBINATIONS_MAX) {
			return SIG_COMBINATIONS_MAX + 1;
		}
	}
	return r;
}

/* The rank of a sorted k-subset in colexicographic order. */
static uint32_t subset_rank(const uint32_t *sorted, uint32_t k)
{
	uint64_t rank = 0;
	for (uint32_t i = 0; i < k; i++) {
		rank += binomial(sorted[i], i + 1);
	}
	return (uint32_t)rank;
}

uint32_t snapshot_sig_index(const struct snap_family *fam, const uint32_t *idx,
			    uint32_t n)
{
	switch (fam->sig_mode) {
	case SNAP_SIG_BY_FIRST:
		return idx[0];
	case SNAP_SIG_BY_COMBINATION: {
		uint32_t sorted[SNAP_MAX_PICKS];
		for (uint32_t i = 0; i < n; i++) { /* insertion sort, n small */
			uint32_t v = idx[i];
			uint32_t j = i;
			for (; j > 0 && sorted[j - 1] > v; j--) {
				sorted[j] = sorted[j - 1];
			}
			sorted[j] = v;
		}
		return subset_rank(sorted, n);
	}
	default:
		return 0;
	}
}

static const knot_rdata_t *sign_set(struct zone_signing *zs,
				    const struct snap_node *node, int f,
				    const struct snap_family *fam,
				    const uint32_t *idx, uint32_t k)
{
	knot_rrset_t rr;
	knot_rrset_init(&rr, node->name,
			f == SNAP_V4 ? KNOT_RRTYPE_A : KNOT_RRTYPE_AAAA,
			KNOT_CLASS_IN, node->domain->ttl);
	const knot_rdata_t *sig = NULL;
	for (uint32_t i = 0; i < k; i++) {
		const knot_rdata_t *rd = fam->rdata[idx[i]];
		if (knot_rrset_add_rdata(&rr, rd->data, rd->len, NULL) !=
		    KNOT_EOK) {
			goto out;
		}
	}
	sig = sign_rrset(zs, &rr);
out:
	knot_rdataset_clear(&rr.rrs, NULL);
	return sig;
}

/* Every set of records that answers for this family can carry. */
static int family_sign(struct zone_signing *zs, const struct snap_node *node,
		       int f)
{
	struct arena *a = &zs->snap->arena;
	const struct snap_domain *d = node->domain;
	struct snap_family *fam = &node->domain->fam[f];
	uint32_t n = fam->route.n;
	if (n == 0) {
		return GSLB_EOK;
	}
	uint32_t k = d->max_records < SNAP_MAX_PICKS ? d->max_records
						     : SNAP_MAX_PICKS;
	if (k > n) {
		k = n;
	}
	fam->k = k;
	uint32_t idx[SNAP_MAX_PICKS];

	if (k == n || d->algorithm == GSLB_ALG_FAILOVER) {
		fam->sig_mode = SNAP_SIG_ONE;
		fam->n_sig = 1;
	} else if (d->algorithm == GSLB_ALG_ROUND_ROBIN || k == 1) {
		fam->sig_mode = SNAP_SIG_BY_FIRST;
		fam->n_sig = n;
	} else if (binomial(n, k) <= SIG_COMBINATIONS_MAX) {
		fam->sig_mode = SNAP_SIG_BY_COMBINATION;
		fam->n_sig = (uint32_t)binomial(n, k);
	} else {
		fam->sig_mode = SNAP_SIG_SAMPLED;
		fam->n_sig = SIG_SAMPLES;
		fam->samples = arena_alloc(a, (size_t)SIG_SAMPLES * k *
						      sizeof(uint32_t));
		if (fam->samples == NULL) {
			return GSLB_ENOMEM;
		}
	}
	fam->sig = arena_zalloc(a, fam->n_sig * sizeof(*fam->sig));
	if (fam->sig == NULL) {
		return GSLB_ENOMEM;
	}

	switch (fam->sig_mode) {
	case SNAP_SIG_ONE:
		for (uint32_t i = 0; i < k; i++) {
			idx[i] = i;
		}
		fam->sig[0] = sign_set(zs, node, f, fam, idx, k);
		break;
	case SNAP_SIG_BY_FIRST:
		for (uint32_t s = 0; s < n; s++) {
			for (uint32_t i = 0; i < k; i++) {
				idx[i] = (s + i) % n;
			}
			fam->sig[s] = sign_set(zs, node, f, fam, idx, k);
		}
		break;
	case SNAP_SIG_BY_COMBINATION:
		/* Lexicographic walk over the k-subsets of 0..n-1. */
		for (uint32_t i = 0; i < k; i++) {
			idx[i] = i;
		}
		for (;;) {
			fam->sig[subset_rank(idx, k)] =
				sign_set(zs, node, f, fam, idx, k);
			int32_t i = (int32_t)k - 1;
			while (i >= 0 && idx[i] == n - k + (uint32_t)i) {
				i--;
			}
			if (i < 0) {
				break;
			}
			idx[i]++;
			for (uint32_t j = (uint32_t)i + 1; j < k; j++) {
				idx[j] = idx[j - 1] + 1;
			}
		}
		break;
	case SNAP_SIG_SAMPLED: {
		/* Seeded by the name, so that the same candidates give the
		 * same samples and the signature cache holds. */
		struct gslb_rng rng;
		gslb_rng_seed(&rng, node->hash * 2u + (uint32_t)f);
		for (uint32_t r = 0; r < SIG_SAMPLES; r++) {
			uint32_t *set = &fam->samples[(size_t)r * k];
			gslb_route_pick(&fam->route, k, NULL, &rng, set);
			fam->sig[r] = sign_set(zs, node, f, fam, set, k);
		}
		break;
	}
	}
	for (uint32_t i = 0; i < fam->n_sig; i++) {
		if (fam->sig[i] == NULL) {
			return GSLB_EIO;
		}
	}
	return GSLB_EOK;
}

static bool has_data(const struct snap_node *n)
{
	return n->apex || n->domain != NULL || n->host[SNAP_V4].rrs.count > 0 ||
	       n->host[SNAP_V6].rrs.count > 0;
}

/* The types at a name, for its NSEC or NSEC3 bitmap. */
static size_t node_types(const struct snap_node *n, bool nsec3, uint16_t *types)
{
	size_t k = 0;
	if (!has_data(n)) {
		return 0;
	}
	bool a = n->host[SNAP_V4].rrs.count > 0 ||
		 (n->domain != NULL && n->domain->fam[SNAP_V4].configured);
	bool aaaa = n->host[SNAP_V6].rrs.count > 0 ||
		    (n->domain != NULL && n->domain->fam[SNAP_V6].configured);
	if (a) {
		types[k++] = KNOT_RRTYPE_A;
	}
	if (aaaa) {
		types[k++] = KNOT_RRTYPE_AAAA;
	}
	if (n->apex) {
		types[k++] = KNOT_RRTYPE_SOA;
		types[k++] = KNOT_RRTYPE_NS;
		types[k++] = KNOT_RRTYPE_DNSKEY;
		if (nsec3) {
			types[k++] = KNOT_RRTYPE_NSEC3PARAM;
		}
	}
	types[k++] = KNOT_RRTYPE_RRSIG;
	if (!nsec3) {
		types[k++] = KNOT_RRTYPE_NSEC;
	}
	return k;
}

static int cmp_node_name(const void *a, const void *b)
{
	const struct snap_node *x = *(const struct snap_node *const *)a;
	const struct snap_node *y = *(const struct snap_node *const *)b;
	return knot_dname_cmp(x->name, y->name);
}

/* The zone's nodes (with data only, unless all), in canonical order. */
static struct snap_node **zone_nodes(struct zone_signing *zs, bool all,
				     uint32_t *count)
{
	struct snapshot *s = zs->snap;
	struct snap_node **v = malloc((s->n_nodes + 1) * sizeof(*v));
	if (v == NULL) {
		return NULL;
	}
	uint32_t n = 0;
	for (size_t i = 0; i < s->n_nodes; i++) {
		struct snap_node *node = &s->nodes[i];
		if (node->zone == zs->zone && (all || has_data(node))) {
			v[n++] = node;
		}
	}
	qsort(v, n, sizeof(*v), cmp_node_name);
	*count = n;
	return v;
}

static int nsec_chain(struct zone_signing *zs)
{
	struct snap_zone *z = zs->zone;
	struct arena *a = &zs->snap->arena;
	uint32_t n;
	struct snap_node **nodes = zone_nodes(zs, false, &n);
	if (nodes == NULL) {
		return GSLB_ENOMEM;
	}
	int ret = GSLB_ENOMEM;
	z->chain = arena_zalloc(a, (n + 1) * sizeof(*z->chain));
	if (z->chain == NULL) {
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct snap_node *node = nodes[i];
		const knot_dname_t *next = nodes[(i + 1) % n]->name;
		uint16_t types[16];
		size_t nt = node_types(node, false, types);
		uint8_t rd[KNOT_DNAME_MAXLEN + 64];
		size_t nl = knot_dname_size(next);
		memcpy(rd, next, nl);
		size_t bl =
			dnssec_type_bitmap(types, nt, rd + nl, sizeof(rd) - nl);
		struct snap_denial *dn = &z->chain[i];
		knot_rrset_init(&dn->rr, node->name, KNOT_RRTYPE_NSEC,
				KNOT_CLASS_IN, z->soa_neg.ttl);
		if (bl == 0 ||
		    knot_rrset_add_rdata(&dn->rr, rd, (uint16_t)(nl + bl),
					 &a->mm) != KNOT_EOK) {
			goto out;
		}
		node->denial = (int32_t)i;
	}
	z->n_chain = n;
	ret = GSLB_EOK;
out:
	free(nodes);
	return ret;
}

static void base32hex(const uint8_t *in, size_t len, char *out)
{
	static const char alphabet[] = "0123456789abcdefghijklmnopqrstuv";
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			*out++ = alphabet[(acc >> bits) & 31];
		}
	}
	if (bits > 0) {
		*out++ = alphabet[(acc << (5 - bits)) & 31];
	}
}

static int cmp_denial_hash(const void *a, const void *b)
{
	return memcmp(((const struct snap_denial *)a)->hash,
		      ((const struct snap_denial *)b)->hash, 20);
}

uint32_t snapshot_nsec3_cover(const struct snap_zone *z, const uint8_t hash[20])
{
	/* The last record whose hash is below; before the first: the last
	 * record, whose "next" wraps around. */
	uint32_t lo = 0;
	uint32_t hi = z->n_chain;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (memcmp(z->chain[mid].hash, hash, 20) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo == 0 ? z->n_chain - 1 : lo - 1;
}

uint32_t snapshot_nsec_cover(const struct snap_zone *z,
			     const knot_dname_t *name)
{
	uint32_t lo = 0;
	uint32_t hi = z->n_chain;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (knot_dname_cmp(z->chain[mid].rr.owner, name) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo == 0 ? z->n_chain - 1 : lo - 1;
}

static int nsec3_chain(struct zone_signing *zs)
{
	struct snap_zone *z = zs->zone;
	struct arena *a = &zs->snap->arena;
	uint32_t n;
	struct snap_node **nodes = zone_nodes(zs, true, &n);
	if (nodes == NULL) {
		return GSLB_ENOMEM;
	}
	int ret = GSLB_ENOMEM;
	size_t apex_len = knot_dname_size(z->apex);
	/* SHA-1, no opt-out, no extra iterations, no salt */
	static const uint8_t param[5] = { 1, 0, 0, 0, 0 };
	struct snap_denial *chain = arena_zalloc(a, (n + 1) * sizeof(*chain));
	if (chain == NULL) {
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (dnssec_nsec3_hash_name(nodes[i]->name, chain[i].hash) !=
		    GSLB_EOK) {
			ret = GSLB_EIO;
			goto out;
		}
		/* Remember the node through the rr's spare pointer until
		 * the owner is set below. */
		chain[i].rr.additional = nodes[i];
	}
	qsort(chain, n, sizeof(*chain), cmp_denial_hash);
	for (uint32_t i = 0; i < n; i++) {
		struct snap_denial *dn = &chain[i];
		struct snap_node *node = dn->rr.additional;
		node->denial = (int32_t)i;

		knot_dname_t *owner = arena_alloc(a, 1 + 32 + apex_len);
		if (owner == NULL) {
			goto out;
		}
		owner[0] = 32;
		base32hex(dn->hash, 20, (char *)owner + 1);
		memcpy(owner + 33, z->apex, apex_len);

		uint16_t types[16];
		size_t nt = node_types(node, true, types);
		uint8_t rd[6 + 20 + 64];
		rd[0] = 1; /* SHA-1 */
		rd[1] = 0; /* no opt-out */
		knot_wire_write_u16(rd + 2, 0);
		rd[4] = 0; /* no salt */
		rd[5] = 20;
		memcpy(rd + 6, chain[(i + 1) % n].hash, 20);
		size_t bl = nt > 0 ? dnssec_type_bitmap(types, nt, rd + 26,
							sizeof(rd) - 26)
				   : 0;
		if (nt > 0 && bl == 0) {
			goto out;
		}
		knot_rrset_init(&dn->rr, owner, KNOT_RRTYPE_NSEC3,
				KNOT_CLASS_IN, z->soa_neg.ttl);
		if (knot_rrset_add_rdata(&dn->rr, rd, (uint16_t)(26 + bl),
					 &a->mm) != KNOT_EOK) {
			goto out;
		}
	}
	z->chain = chain;
	z->n_chain = n;

	/* For NXDOMAIN: the record covering the wildcard below each name. */
	for (uint32_t i = 0; i < n; i++) {
		knot_dname_storage_t wild;
		size_t len = knot_dname_size(nodes[i]->name);
		if (len + 2 > sizeof(wild)) {
			continue;
		}
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, nodes[i]->name, len);
		uint8_t h[20];
		if (dnssec_nsec3_hash_name(wild, h) != GSLB_EOK) {
			ret = GSLB_EIO;
			goto out;
		}
		nodes[i]->wildcard_cover = (int32_t)snapshot_nsec3_cover(z, h);
	}

	knot_rrset_init(&z->nsec3param, z->apex, KNOT_RRTYPE_NSEC3PARAM,
			KNOT_CLASS_IN, z->soa.ttl);
	if (knot_rrset_add_rdata(&z->nsec3param, param, sizeof(param),
				 &a->mm) != KNOT_EOK) {
		goto out;
	}
	ret = GSLB_EOK;
out:
	free(nodes);
	return ret;
}

int snapshot_sign_zone(struct snapshot *snap, size_t zi, struct signer *s,
		       bool nsec3, int64_t now)
{
	struct snap_zone *z = &snap->zones[zi];
	struct arena *a = &snap->arena;
	struct zone_signing zs = {
		.snap = snap, .zone = z, .signer = s, .now = now
	};
	const struct zone_key *key = signer_key(s);

	knot_rrset_init(&z->dnskey, z->apex, KNOT_RRTYPE_DNSKEY, KNOT_CLASS_IN,
			DNSSEC_DNSKEY_TTL);
	if (knot_rrset_add_rdata(&z->dnskey, key->dnskey,
				 (uint16_t)key->dnskey_len,
				 &a->mm) != KNOT_EOK) {
		return GSLB_ENOMEM;
	}
	z->nsec3 = nsec3;
	int ret = nsec3 ? nsec3_chain(&zs) : nsec_chain(&zs);
	if (ret != GSLB_EOK) {
		return ret;
	}

	z->soa_sig = sign_rrset(&zs, &z->soa);
	z->soa_neg_sig = sign_rrset(&zs, &z->soa_neg);
	z->dnskey_sig = sign_rrset(&zs, &z->dnskey);
	z->ns_sig = z->ns.rrs.count > 0 ? sign_rrset(&zs, &z->ns) : NULL;
	if (z->soa_sig == NULL || z->soa_neg_sig == NULL ||
	    z->dnskey_sig == NULL || (z->ns.rrs.count > 0 && !z->ns_sig)) {
		return GSLB_EIO;
	}
	if (nsec3) {
		z->nsec3param_sig = sign_rrset(&zs, &z->nsec3param);
		if (z->nsec3param_sig == NULL) {
			return GSLB_EIO;
		}
	}
	for (uint32_t i = 0; i < z->n_chain; i++) {
		z->chain[i].sig = sign_rrset(&zs, &z->chain[i].rr);
		if (z->chain[i].sig == NULL) {
			return GSLB_EIO;
		}
	}
	for (size_t i = 0; i < snap->n_nodes; i++) {
		struct snap_node *node = &snap->nodes[i];
		if (node->zone != z) {
			continue;
		}
		for (int f = SNAP_V4; f <= SNAP_V6; f++) {
			if (node->host[f].rrs.count > 0) {
				node->host_sig[f] =
					sign_rrset(&zs, &node->host[f]);
				if (node->host_sig[f] == NULL) {
					return GSLB_EIO;
				}
			}
			if (node->domain != NULL) {
				ret = family_sign(&zs, node, f);
				if (ret != GSLB_EOK) {
					return ret;
				}
			}
		}
	}
	z->is_signed = true;
	return GSLB_EOK;
}
