/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include "answer.h"
#include "dnssec.h"
#include "error.h"

#define QUERY_ARENA  (256 * 1024) /* any real query parses within this */
#define UDP_MIN_SIZE 512
#define ECS_MAX_DATA (4 + 16)

/* What one query asks and what the answer will carry. */
struct request {
	knot_pkt_t *q;
	knot_pkt_t *resp;
	const struct snapshot *snap;
	/* The answer's OPT, written by finish(): only if the query had one. */
	bool edns;
	bool dnssec_ok; /* the query's DO bit, echoed */
	bool nsid;      /* asked for our NSID, and we have one */
	uint8_t ecs[ECS_MAX_DATA];
	uint16_t ecs_len; /* 0: no ECS to echo */
	bool tcp;
};

void answer_stats_add(struct answer_stats *sum, const struct answer_stats *src)
{
	stat_add(&sum->queries, stat_get(&src->queries));
	stat_add(&sum->dropped, stat_get(&src->dropped));
	stat_add(&sum->truncated, stat_get(&src->truncated));
	for (size_t t = 0; t < AQ_COUNT; t++) {
		for (size_t r = 0; r < ANSWER_RCODES; r++) {
			stat_add(&sum->answers[t][r],
				 stat_get(&src->answers[t][r]));
		}
	}
}

uint64_t answer_stats_rcode(const struct answer_stats *st, unsigned rcode)
{
	uint64_t n = 0;
	if (rcode >= ANSWER_RCODES) {
		rcode = ANSWER_RCODES - 1;
	}
	for (size_t t = 0; t < AQ_COUNT; t++) {
		n += stat_get(&st->answers[t][rcode]);
	}
	return n;
}

static const char *const qtype_names[AQ_COUNT] = {
	[AQ_A] = "A",         [AQ_AAAA] = "AAAA",     [AQ_NS] = "NS",
	[AQ_SOA] = "SOA",     [AQ_CNAME] = "CNAME",   [AQ_MX] = "MX",
	[AQ_TXT] = "TXT",     [AQ_PTR] = "PTR",       [AQ_SRV] = "SRV",
	[AQ_DS] = "DS",       [AQ_DNSKEY] = "DNSKEY", [AQ_CAA] = "CAA",
	[AQ_SVCB] = "SVCB",   [AQ_HTTPS] = "HTTPS",   [AQ_ANY] = "ANY",
	[AQ_OTHER] = "other", [AQ_NONE] = "none",
};

const char *answer_qtype_name(enum answer_qtype t)
{
	return t < AQ_COUNT ? qtype_names[t] : "other";
}

static enum answer_qtype qtype_bucket(uint16_t qtype)
{
	switch (qtype) {
	case KNOT_RRTYPE_A:
		return AQ_A;
	case KNOT_RRTYPE_AAAA:
		return AQ_AAAA;
	case KNOT_RRTYPE_NS:
		return AQ_NS;
	case KNOT_RRTYPE_SOA:
		return AQ_SOA;
	case KNOT_RRTYPE_CNAME:
		return AQ_CNAME;
	case KNOT_RRTYPE_MX:
		return AQ_MX;
	case KNOT_RRTYPE_TXT:
		return AQ_TXT;
	case KNOT_RRTYPE_PTR:
		return AQ_PTR;
	case KNOT_RRTYPE_SRV:
		return AQ_SRV;
	case KNOT_RRTYPE_DS:
		return AQ_DS;
	case KNOT_RRTYPE_DNSKEY:
		return AQ_DNSKEY;
	case KNOT_RRTYPE_CAA:
		return AQ_CAA;
	case 64:
		return AQ_SVCB;
	case 65:
		return AQ_HTTPS;
	case KNOT_RRTYPE_ANY:
		return AQ_ANY;
	default:
		return AQ_OTHER;
	}
}

int answer_ctx_init(struct answer_ctx *ctx, uint64_t seed)
{
	memset(ctx, 0, sizeof(*ctx));
	gslb_rng_seed(&ctx->rng, seed);
	/* One chunk, never grown: a message with thousands of records
	 * fails to parse and is answered FORMERR. */
	return arena_init(&ctx->arena, QUERY_ARENA, 1);
}

void answer_ctx_clear(struct answer_ctx *ctx)
{
	arena_clear(&ctx->arena);
}

/* A bare header for messages we cannot parse: ID, opcode, RD kept. */
static size_t header_only(const uint8_t *query, uint8_t *out, uint8_t rcode)
{
	memset(out, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(out, knot_wire_get_id(query));
	knot_wire_set_opcode(out, knot_wire_get_opcode(query));
	if (knot_wire_get_rd(query)) {
		knot_wire_set_rd(out);
	}
	knot_wire_set_qr(out);
	knot_wire_set_rcode(out, rcode);
	return KNOT_WIRE_HEADER_SIZE;
}

/*
 * RFC 7871 §7.1.2: a malformed ECS option is FORMERR. libknot's parser is
 * lenient, so the checks are done here. Returns false on a bad option.
 */
static bool ecs_check(struct request *r, const uint8_t *opt)
{
	uint16_t len = knot_edns_opt_get_length(opt);
	const uint8_t *data = opt + 4;
	if (len < 4) {
		return false;
	}
	uint16_t family = knot_wire_read_u16(data);
	uint8_t source = data[2];
	uint8_t scope = data[3];
	unsigned maxbits = family == 1 ? 32 : family == 2 ? 128 : 0;
	if (maxbits == 0 || source > maxbits || scope != 0 ||
	    len != 4 + (source + 7) / 8) {
		return false;
	}
	if (source % 8 != 0) {
		uint8_t last = data[4 + source / 8];
		if ((last & (0xff >> (source % 8))) != 0) {
			return false;
		}
	}
	/* Echoed with scope 0: the answer does not depend on the subnet. */
	memcpy(r->ecs, data, len);
	r->ecs_len = len;
	return true;
}

/* The answer's OPT record on the wire: root owner, type, payload size,
 * extended RCODE, version and flags, RDATA length, then the options. */
#define OPT_FIXED   11
#define OPT_OPTION  4 /* code and length before an option's data */
#define OPT_FLAG_DO 0x8000

static uint16_t opt_size(const struct request *r)
{
	size_t size = OPT_FIXED;
	if (r->ecs_len > 0) {
		size += OPT_OPTION + r->ecs_len;
	}
	if (r->nsid) {
		size += OPT_OPTION + r->snap->nsid_len;
	}
	return (uint16_t)size;
}

static uint8_t *put_option(uint8_t *p, uint16_t code, const uint8_t *data,
			   uint16_t len)
{
	knot_wire_write_u16(p, code);
	knot_wire_write_u16(p + 2, len);
	memcpy(p + OPT_OPTION, data, len);
	return p + OPT_OPTION + len;
}

/* Writes the OPT at the end of the answer, in the space begin() reserved.
 * Written directly: through knot_pkt_put, with the RDATA built by
 * knot_edns_init, it cost a sixth of a DO=1 answer's instructions. */
static void put_opt(const struct request *r, uint16_t rcode)
{
	const struct snapshot *snap = r->snap;
	knot_pkt_t *resp = r->resp;
	uint16_t size = opt_size(r);
	knot_pkt_reclaim(resp, size);
	uint8_t *p = resp->wire + resp->size;
	p[0] = 0; /* the root */
	knot_wire_write_u16(p + 1, KNOT_RRTYPE_OPT);
	knot_wire_write_u16(p + 3, snap->max_udp_payload);
	p[5] = (uint8_t)KNOT_EDNS_RCODE_HI(rcode);
	p[6] = KNOT_EDNS_VERSION;
	knot_wire_write_u16(p + 7, r->dnssec_ok ? OPT_FLAG_DO : 0);
	knot_wire_write_u16(p + 9, (uint16_t)(size - OPT_FIXED));
	uint8_t *o = p + OPT_FIXED;
	if (r->ecs_len > 0) {
		o = put_option(o, KNOT_EDNS_OPTION_CLIENT_SUBNET, r->ecs,
			       r->ecs_len);
	}
	if (r->nsid) {
		put_option(o, KNOT_EDNS_OPTION_NSID, snap->nsid,
			   snap->nsid_len);
	}
	resp->size += size;
	knot_wire_add_arcount(resp->wire, 1);
}

/* Starts the answer: header and question copied, space kept for the OPT. */
static int begin(struct answer_ctx *ctx, struct request *r,
		 const struct snapshot *snap, uint8_t *out, size_t out_max)
{
	knot_mm_t *mm = &ctx->arena.mm;
	r->resp = knot_pkt_new(out, (uint16_t)out_max, mm);
	if (r->resp == NULL ||
	    knot_pkt_init_response(r->resp, r->q) != KNOT_EOK) {
		return GSLB_ENOMEM;
	}
	const knot_rrset_t *qopt = r->q->opt_rr;
	size_t limit = out_max;
	if (!r->tcp) {
		size_t udp = UDP_MIN_SIZE;
		if (qopt != NULL) {
			udp = knot_edns_get_payload(qopt);
			if (udp > snap->max_udp_payload) {
				udp = snap->max_udp_payload;
			}
			if (udp < UDP_MIN_SIZE) {
				udp = UDP_MIN_SIZE;
			}
		}
		if (udp < limit) {
			limit = udp;
		}
	}
	r->resp->max_size = limit;

	r->snap = snap;
	r->edns = qopt != NULL;
	if (!r->edns) {
		return GSLB_EOK;
	}
	r->dnssec_ok = knot_edns_do(qopt);
	r->nsid =
		snap->nsid != NULL &&
		knot_edns_get_option(qopt, KNOT_EDNS_OPTION_NSID, NULL) != NULL;
	return knot_pkt_reserve(r->resp, opt_size(r)) == KNOT_EOK ? GSLB_EOK
								  : GSLB_ENOMEM;
}

/* Writes the OPT last and sets the (possibly extended) RCODE. */
static size_t finish(struct answer_ctx *ctx, struct request *r, uint16_t rcode)
{
	knot_pkt_t *resp = r->resp;
	if (knot_pkt_begin(resp, KNOT_ADDITIONAL) != KNOT_EOK) {
		return 0;
	}
	if (r->edns) {
		put_opt(r, rcode);
	}
	knot_wire_set_rcode(resp->wire, KNOT_EDNS_RCODE_LO(rcode));
	ctx->rcode = rcode;
	return resp->size;
}

/* An answer with no records: errors, REFUSED, NOTIMP. */
static size_t answer_empty(struct answer_ctx *ctx, struct request *r,
			   const struct snapshot *snap, uint8_t *out,
			   size_t out_max, uint16_t rcode, bool aa)
{
	if (begin(ctx, r, snap, out, out_max) != GSLB_EOK) {
		return header_only(r->q->wire, out, KNOT_RCODE_SERVFAIL);
	}
	if (aa) {
		knot_wire_set_aa(r->resp->wire);
	}
	return finish(ctx, r, rcode);
}

/* An answer's records and their RRSIG (NULL: unsigned). */
struct found {
	knot_rrset_t rr;
	const knot_rdata_t *sig;
};

/* The records chosen for a domain, as one RRset; false if none. */
static bool pick_records(struct answer_ctx *ctx, const struct snap_node *node,
			 int f, bool dnssec, struct found *out)
{
	const struct snap_domain *d = node->domain;
	struct snap_family *fam = &node->domain->fam[f];
	uint32_t idx[SNAP_MAX_PICKS];
	const uint32_t *pick = idx;
	uint32_t k = d->max_records < SNAP_MAX_PICKS ? d->max_records
						     : SNAP_MAX_PICKS;
	uint32_t n;
	out->sig = NULL;
	dnssec = dnssec && fam->sig != NULL;
	if (dnssec && fam->sig_mode == SNAP_SIG_SAMPLED) {
		uint32_t r = (uint32_t)gslb_rng_below(&ctx->rng, fam->n_sig);
		pick = &fam->samples[(size_t)r * fam->k];
		n = fam->k;
		out->sig = fam->sig[r];
	} else {
		n = gslb_route_pick(&fam->route, k, &fam->rr_counter, &ctx->rng,
				    idx);
		if (dnssec && n > 0) {
			uint32_t i = snapshot_sig_index(fam, idx, n);
			out->sig = i < fam->n_sig ? fam->sig[i] : NULL;
		}
	}
	if (n == 0) {
		return false;
	}
	for (uint32_t i = 0; i < n; i++) {
		atomic_fetch_add_explicit(&fam->picks[pick[i]], 1,
					  memory_order_relaxed);
	}
	knot_rrset_t *rr = &out->rr;
	knot_rrset_init(rr, node->name,
			f == SNAP_V4 ? KNOT_RRTYPE_A : KNOT_RRTYPE_AAAA,
			KNOT_CLASS_IN, d->ttl);
	if (n == 1) {
		knot_rdata_t *rd = fam->rdata[pick[0]];
		rr->rrs.count = 1;
		rr->rrs.size = (uint32_t)knot_rdata_size(rd->len);
		rr->rrs.rdata = rd;
		return true;
	}
	for (uint32_t i = 0; i < n; i++) {
		const knot_rdata_t *rd = fam->rdata[pick[i]];
		if (knot_rrset_add_rdata(rr, rd->data, rd->len,
					 &ctx->arena.mm) != KNOT_EOK) {
			return false;
		}
	}
	return true;
}

enum lookup_result {
	FOUND,    /* the answer is found */
	NODATA,   /* the name exists, the type does not */
	ALL_DOWN, /* servers of this family exist, none healthy */
};

/* A or AAAA at a node: a load-balanced name or a nameserver host. */
static enum lookup_result address_lookup(struct answer_ctx *ctx,
					 const struct snap_node *node, int f,
					 bool dnssec, struct found *out)
{
	if (node->domain != NULL && node->domain->fam[f].configured) {
		return pick_records(ctx, node, f, dnssec, out) ? FOUND
							       : ALL_DOWN;
	}
	if (node->host[f].rrs.count > 0) {
		out->rr = node->host[f];
		out->sig = node->host_sig[f];
		return FOUND;
	}
	return NODATA;
}

static enum lookup_result found(struct found *out, const knot_rrset_t *rr,
				const knot_rdata_t *sig)
{
	if (rr->rrs.count == 0) {
		return NODATA;
	}
	out->rr = *rr;
	out->sig = sig;
	return FOUND;
}

static enum lookup_result lookup(struct answer_ctx *ctx,
				 const struct snap_node *node, uint16_t qtype,
				 bool dnssec, struct found *out)
{
	const struct snap_zone *z = node->zone;
	switch (qtype) {
	case KNOT_RRTYPE_A:
		return address_lookup(ctx, node, SNAP_V4, dnssec, out);
	case KNOT_RRTYPE_AAAA:
		return address_lookup(ctx, node, SNAP_V6, dnssec, out);
	case KNOT_RRTYPE_SOA:
		return node->apex ? found(out, &z->soa, z->soa_sig) : NODATA;
	case KNOT_RRTYPE_NS:
		return node->apex ? found(out, &z->ns, z->ns_sig) : NODATA;
	case KNOT_RRTYPE_DNSKEY:
		return node->apex ? found(out, &z->dnskey, z->dnskey_sig)
				  : NODATA;
	case KNOT_RRTYPE_NSEC3PARAM:
		return node->apex
			       ? found(out, &z->nsec3param, z->nsec3param_sig)
			       : NODATA;
	case KNOT_RRTYPE_NSEC:
		if (!z->nsec3 && node->denial >= 0) {
			const struct snap_denial *dn = &z->chain[node->denial];
			return found(out, &dn->rr, dn->sig);
		}
		return NODATA;
	case KNOT_RRTYPE_ANY:
		/* RFC 8482: one RRset is enough. */
		for (int f = SNAP_V4; f <= SNAP_V6; f++) {
			if (address_lookup(ctx, node, f, dnssec, out) ==
			    FOUND) {
				return FOUND;
			}
		}
		return node->apex ? found(out, &z->soa, z->soa_sig) : NODATA;
	default:
		return NODATA;
	}
}

/* The RRSIG RRset of covered: one signature, the covered TTL. */
static knot_rrset_t rrsig_of(const knot_rrset_t *covered,
			     const knot_rdata_t *sig)
{
	knot_rrset_t rrsig;
	knot_rrset_init(&rrsig, covered->owner, KNOT_RRTYPE_RRSIG,
			KNOT_CLASS_IN, covered->ttl);
	rrsig.rrs.count = 1;
	rrsig.rrs.size = (uint32_t)knot_rdata_size(sig->len);
	rrsig.rrs.rdata = (knot_rdata_t *)sig;
	return rrsig;
}

/* Puts rr and, when given, its RRSIG; KNOT_ESPACE when they don't fit. */
static int put_signed(knot_pkt_t *resp, uint16_t hint, const knot_rrset_t *rr,
		      const knot_rdata_t *sig)
{
	int ret = knot_pkt_put(resp, hint, rr, KNOT_PF_NOTRUNC);
	if (ret == KNOT_EOK && sig != NULL) {
		knot_rrset_t rrsig = rrsig_of(rr, sig);
		ret = knot_pkt_put(resp, hint, &rrsig, KNOT_PF_NOTRUNC);
	}
	return ret;
}

/* Puts only the RRSIG of covered (if any) and counts it in *n. */
static int put_rrsig(knot_pkt_t *resp, const knot_rrset_t *covered,
		     const knot_rdata_t *sig, unsigned *n)
{
	if (covered->rrs.count == 0 || sig == NULL) {
		return KNOT_EOK;
	}
	knot_rrset_t rrsig = rrsig_of(covered, sig);
	(*n)++;
	return knot_pkt_put(resp, KNOT_COMPR_HINT_QNAME, &rrsig,
			    KNOT_PF_NOTRUNC);
}

/*
 * A query for RRSIG gets the signatures at the name (as Knot DNS does);
 * the name's NSEC lists RRSIG, so NODATA would contradict it. *n tells
 * how many; 0 means NODATA.
 */
static int put_all_rrsigs(struct answer_ctx *ctx, knot_pkt_t *resp,
			  const struct snap_node *node, unsigned *n)
{
	const struct snap_zone *z = node->zone;
	int ret = KNOT_EOK;
	*n = 0;
	for (int f = SNAP_V4; f <= SNAP_V6 && ret == KNOT_EOK; f++) {
		struct found fd;
		if (address_lookup(ctx, node, f, true, &fd) == FOUND) {
			ret = put_rrsig(resp, &fd.rr, fd.sig, n);
		}
	}
	if (node->apex) {
		if (ret == KNOT_EOK) {
			ret = put_rrsig(resp, &z->soa, z->soa_sig, n);
		}
		if (ret == KNOT_EOK) {
			ret = put_rrsig(resp, &z->ns, z->ns_sig, n);
		}
		if (ret == KNOT_EOK) {
			ret = put_rrsig(resp, &z->dnskey, z->dnskey_sig, n);
		}
		if (ret == KNOT_EOK && z->nsec3) {
			ret = put_rrsig(resp, &z->nsec3param, z->nsec3param_sig,
					n);
		}
	}
	if (ret == KNOT_EOK && !z->nsec3 && node->denial >= 0) {
		const struct snap_denial *dn = &z->chain[node->denial];
		ret = put_rrsig(resp, &dn->rr, dn->sig, n);
	}
	return ret;
}

static int put_chain(knot_pkt_t *resp, const struct snap_zone *z,
		     uint32_t *done, size_t *n_done, uint32_t i)
{
	for (size_t k = 0; k < *n_done; k++) {
		if (done[k] == i) {
			return KNOT_EOK; /* one record can prove two things */
		}
	}
	done[(*n_done)++] = i;
	return put_signed(resp, KNOT_COMPR_HINT_NONE, &z->chain[i].rr,
			  z->chain[i].sig);
}

/*
 * The NSEC or NSEC3 records proving a negative answer (RFC 4035 §3.1.3,
 * RFC 5155 §7.2). node is the name for NODATA; for NXDOMAIN it is NULL
 * and closest is the closest encloser.
 */
static int put_denial(knot_pkt_t *resp, const struct snap_zone *z,
		      const knot_dname_t *qname, const struct snap_node *node,
		      const struct snap_node *closest)
{
	uint32_t done[3];
	size_t n_done = 0;
	if (z->n_chain == 0) {
		return KNOT_EOK;
	}
	if (node != NULL) {
		/* NODATA. An empty non-terminal has no NSEC: the one before
		 * it proves nothing exists there but names below. */
		uint32_t i = node->denial >= 0 ? (uint32_t)node->denial
					       : snapshot_nsec_cover(z, qname);
		return put_chain(resp, z, done, &n_done, i);
	}
	if (!z->nsec3) {
		knot_dname_storage_t wild;
		size_t len = knot_dname_size(closest->name);
		int ret = put_chain(resp, z, done, &n_done,
				    snapshot_nsec_cover(z, qname));
		if (ret != KNOT_EOK || len + 2 > sizeof(wild)) {
			return ret;
		}
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, closest->name, len);
		return put_chain(resp, z, done, &n_done,
				 snapshot_nsec_cover(z, wild));
	}
	/* NSEC3 closest encloser proof: the encloser matches, the next
	 * closer name and the wildcard below the encloser are covered. */
	const knot_dname_t *next_closer = qname;
	size_t extra = knot_dname_labels(qname, NULL) -
		       knot_dname_labels(closest->name, NULL);
	for (; extra > 1; extra--) {
		next_closer = knot_wire_next_label(next_closer, NULL);
	}
	uint8_t h[DNSSEC_NSEC3_HASH_LEN];
	int ret = put_chain(resp, z, done, &n_done, (uint32_t)closest->denial);
	if (ret == KNOT_EOK && dnssec_nsec3_hash_name(next_closer, h) == 0) {
		ret = put_chain(resp, z, done, &n_done,
				snapshot_nsec3_cover(z, h));
	}
	if (ret == KNOT_EOK && closest->wildcard_cover >= 0) {
		ret = put_chain(resp, z, done, &n_done,
				(uint32_t)closest->wildcard_cover);
	}
	return ret;
}

/* In-zone nameserver addresses after an NS answer; optional, never TC. */
static void put_glue(const struct snapshot *snap, knot_pkt_t *resp,
		     const knot_rrset_t *ns, bool dnssec)
{
	knot_rdata_t *rd = ns->rrs.rdata;
	for (uint16_t i = 0; i < ns->rrs.count; i++) {
		const struct snap_node *host = snapshot_find(snap, rd->data);
		if (host != NULL) {
			for (int f = SNAP_V4; f <= SNAP_V6; f++) {
				const knot_rrset_t *rr = &host->host[f];
				const knot_rdata_t *sig =
					dnssec ? host->host_sig[f] : NULL;
				/* Glue is optional: an address goes with its
				 * signature or not at all. Uncompressed sizes,
				 * so this errs on the safe side. */
				size_t need = knot_rrset_size(rr);
				if (sig != NULL) {
					need += knot_dname_size(rr->owner) +
						10 + sig->len;
				}
				if (rr->rrs.count > 0 &&
				    resp->size + resp->reserved + need <=
					    resp->max_size) {
					put_signed(resp, KNOT_COMPR_HINT_NONE,
						   rr, sig);
				}
			}
		}
		rd = knot_rdataset_next(rd);
	}
}

/* The reply when the answer does not fit: header, question, OPT, TC. */
static size_t truncated(struct answer_ctx *ctx, struct request *r,
			const struct snapshot *snap, uint8_t *out,
			size_t out_max, uint16_t rcode)
{
	stat_inc(&ctx->stats.truncated);
	if (begin(ctx, r, snap, out, out_max) != GSLB_EOK) {
		return header_only(r->q->wire, out, KNOT_RCODE_SERVFAIL);
	}
	knot_wire_set_aa(r->resp->wire);
	knot_wire_set_tc(r->resp->wire);
	return finish(ctx, r, rcode);
}

static size_t answer_zone(struct answer_ctx *ctx, struct request *r,
			  const struct snapshot *snap, uint8_t *out,
			  size_t out_max)
{
	const knot_dname_t *qname = knot_pkt_qname(r->q);
	uint16_t qtype = knot_pkt_qtype(r->q);
	bool do_bit = knot_pkt_has_dnssec(r->q);

	const struct snap_node *node = snapshot_find(snap, qname);
	const struct snap_node *closest = NULL;
	const struct snap_zone *zone;
	uint16_t rcode = KNOT_RCODE_NOERROR;
	enum lookup_result res = NODATA;
	struct found f = { .sig = NULL };
	if (node != NULL) {
		zone = node->zone;
		res = lookup(ctx, node, qtype, do_bit && zone->is_signed, &f);
		if (res == ALL_DOWN) {
			return answer_empty(ctx, r, snap, out, out_max,
					    KNOT_RCODE_SERVFAIL, false);
		}
	} else {
		closest = snapshot_find_closest(snap, qname);
		if (closest == NULL) {
			return answer_empty(ctx, r, snap, out, out_max,
					    KNOT_RCODE_REFUSED, false);
		}
		zone = closest->zone;
		rcode = KNOT_RCODE_NXDOMAIN;
	}
	/* RRSIGs and denial records only for DO=1 (RFC 3225). */
	bool dnssec = do_bit && zone->is_signed;

	if (begin(ctx, r, snap, out, out_max) != GSLB_EOK) {
		return header_only(r->q->wire, out, KNOT_RCODE_SERVFAIL);
	}
	knot_pkt_t *resp = r->resp;
	knot_wire_set_aa(resp->wire);
	int ret = knot_pkt_begin(resp, KNOT_ANSWER);
	if (ret == KNOT_EOK && node != NULL && qtype == KNOT_RRTYPE_RRSIG &&
	    zone->is_signed) {
		unsigned n = 0;
		ret = put_all_rrsigs(ctx, resp, node, &n);
		res = n > 0 ? FOUND : NODATA;
	} else if (ret == KNOT_EOK && res == FOUND) {
		ret = put_signed(resp, KNOT_COMPR_HINT_QNAME, &f.rr,
				 dnssec ? f.sig : NULL);
		if (ret == KNOT_EOK && f.rr.type == KNOT_RRTYPE_NS &&
		    knot_pkt_begin(resp, KNOT_ADDITIONAL) == KNOT_EOK) {
			put_glue(snap, resp, &f.rr, dnssec);
		}
	}
	if (ret == KNOT_EOK && res != FOUND) {
		ret = knot_pkt_begin(resp, KNOT_AUTHORITY);
		if (ret == KNOT_EOK) {
			ret = put_signed(resp, KNOT_COMPR_HINT_NONE,
					 &zone->soa_neg,
					 dnssec ? zone->soa_neg_sig : NULL);
		}
		if (ret == KNOT_EOK && dnssec) {
			ret = put_denial(resp, zone, qname, node, closest);
		}
	}
	if (ret == KNOT_ESPACE) {
		return truncated(ctx, r, snap, out, out_max, rcode);
	}
	if (ret != KNOT_EOK) {
		return answer_empty(ctx, r, snap, out, out_max,
				    KNOT_RCODE_SERVFAIL, false);
	}
	return finish(ctx, r, rcode);
}

/*
 * CHAOS class: id.server and hostname.bind tell which overwatch answered
 * (as in Knot DNS and BIND); anything else in CH is refused.
 */
static size_t answer_chaos(struct answer_ctx *ctx, struct request *r,
			   const struct snapshot *snap, uint8_t *out,
			   size_t out_max)
{
	static const uint8_t id_server[] = "\x02id\x06server";
	static const uint8_t hostname_bind[] = "\x08hostname\x04"
					       "bind";
	const knot_dname_t *qname = knot_pkt_qname(r->q);
	uint16_t qtype = knot_pkt_qtype(r->q);
	bool identity = knot_dname_is_equal(qname, id_server) ||
			knot_dname_is_equal(qname, hostname_bind);
	if (!identity ||
	    (qtype != KNOT_RRTYPE_TXT && qtype != KNOT_RRTYPE_ANY)) {
		return answer_empty(ctx, r, snap, out, out_max,
				    KNOT_RCODE_REFUSED, false);
	}
	if (begin(ctx, r, snap, out, out_max) != GSLB_EOK) {
		return header_only(r->q->wire, out, KNOT_RCODE_SERVFAIL);
	}
	knot_wire_set_aa(r->resp->wire);
	knot_rrset_t txt;
	knot_rrset_init(&txt, (knot_dname_t *)qname, KNOT_RRTYPE_TXT,
			KNOT_CLASS_CH, 0);
	txt.rrs.count = 1;
	txt.rrs.size = (uint32_t)knot_rdata_size(snap->identity_txt->len);
	txt.rrs.rdata = snap->identity_txt;
	if (knot_pkt_begin(r->resp, KNOT_ANSWER) != KNOT_EOK ||
	    knot_pkt_put(r->resp, KNOT_COMPR_HINT_QNAME, &txt, 0) != KNOT_EOK) {
		return answer_empty(ctx, r, snap, out, out_max,
				    KNOT_RCODE_SERVFAIL, false);
	}
	return finish(ctx, r, KNOT_RCODE_NOERROR);
}

static size_t answer_message(struct answer_ctx *ctx,
			     const struct snapshot *snap, uint8_t *query,
			     size_t qlen, uint8_t *out, size_t out_max,
			     bool tcp)
{
	arena_reset(&ctx->arena);
	struct request r = { .tcp = tcp };
	r.q = knot_pkt_new(query, (uint16_t)qlen, &ctx->arena.mm);
	if (r.q == NULL) {
		return header_only(query, out, KNOT_RCODE_SERVFAIL);
	}
	if (knot_pkt_parse(r.q, 0) != KNOT_EOK) {
		return header_only(query, out, KNOT_RCODE_FORMERR);
	}
	if (knot_wire_get_opcode(query) != KNOT_OPCODE_QUERY) {
		return answer_empty(ctx, &r, snap, out, out_max,
				    KNOT_RCODE_NOTIMPL, false);
	}

	const knot_rrset_t *qopt = r.q->opt_rr;
	if (qopt != NULL && knot_edns_get_version(qopt) != KNOT_EDNS_VERSION) {
		return answer_empty(ctx, &r, snap, out, out_max,
				    KNOT_RCODE_BADVERS, false);
	}
	if (qopt != NULL) {
		const uint8_t *ecs = knot_edns_get_option(
			qopt, KNOT_EDNS_OPTION_CLIENT_SUBNET, NULL);
		if (ecs != NULL && !ecs_check(&r, ecs)) {
			return answer_empty(ctx, &r, snap, out, out_max,
					    KNOT_RCODE_FORMERR, false);
		}
	}
	if (knot_wire_get_qdcount(query) != 1) {
		return answer_empty(ctx, &r, snap, out, out_max,
				    KNOT_RCODE_FORMERR, false);
	}

	uint16_t qtype = knot_pkt_qtype(r.q);
	ctx->qtype = qtype_bucket(qtype);
	if (knot_pkt_qclass(r.q) == KNOT_CLASS_CH) {
		return answer_chaos(ctx, &r, snap, out, out_max);
	}
	if (knot_pkt_qclass(r.q) != KNOT_CLASS_IN) {
		return answer_empty(ctx, &r, snap, out, out_max,
				    KNOT_RCODE_REFUSED, false);
	}
	switch (qtype) {
	case KNOT_RRTYPE_OPT:
		return answer_empty(ctx, &r, snap, out, out_max,
				    KNOT_RCODE_FORMERR, false);
	case KNOT_RRTYPE_AXFR:
	case KNOT_RRTYPE_IXFR:
		/* No zone transfers: the answers are computed, not stored. */
		return answer_empty(ctx, &r, snap, out, out_max,
				    KNOT_RCODE_REFUSED, false);
	case KNOT_RRTYPE_TSIG:
	case KNOT_RRTYPE_TKEY:
	case 253: /* MAILB */
	case 254: /* MAILA */
		return answer_empty(ctx, &r, snap, out, out_max,
				    KNOT_RCODE_NOTIMPL, false);
	default:
		return answer_zone(ctx, &r, snap, out, out_max);
	}
}

size_t answer_query(struct answer_ctx *ctx, const struct snapshot *snap,
		    uint8_t *query, size_t qlen, uint8_t *out, size_t out_max,
		    bool tcp)
{
	stat_inc(&ctx->stats.queries);
	/* Too short to answer, or a response: answering could loop. */
	if (qlen < KNOT_WIRE_HEADER_SIZE || knot_wire_get_qr(query) ||
	    out_max < UDP_MIN_SIZE) {
		stat_inc(&ctx->stats.dropped);
		return 0;
	}
	ctx->qtype = AQ_NONE;
	ctx->rcode = -1;
	size_t len = answer_message(ctx, snap, query, qlen, out, out_max, tcp);
	if (len == 0) {
		stat_inc(&ctx->stats.dropped);
		return 0;
	}
	/* Replies built without the packet writer carry their RCODE in the
	 * header only. */
	unsigned rcode = ctx->rcode >= 0 ? (unsigned)ctx->rcode
					 : knot_wire_get_rcode(out);
	if (rcode >= ANSWER_RCODES) {
		rcode = ANSWER_RCODES - 1;
	}
	stat_inc(&ctx->stats.answers[ctx->qtype][rcode]);
	return len;
}
