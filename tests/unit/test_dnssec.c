/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Zone keys, DS records, the signature cache and signed snapshots: keys are
 * checked against values computed independently (dnspython), signatures are
 * verified with libdnssec's public-key code, and the answers of a signed
 * snapshot are parsed as a resolver would see them.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libdnssec/binary.h>
#include <libdnssec/error.h>
#include <libdnssec/key.h>
#include <libdnssec/sign.h>

#include "answer.h"
#include "config.h"
#include "dnssec.h"
#include "error.h"
#include "registry.h"
#include "snapshot.h"

/* A P-256 key made with openssl; tag and DS computed by dnspython's
 * dns.dnssec.key_id() and make_ds(). */
static const char VECTOR_PEM[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6fBGkpRGTyRGEb+6\n"
	"qvd/y55EEUg0i+TbdEvp+vGl3HihRANCAARHKIUp1upQJh4yPJ5HNYA6vFzyDPEg\n"
	"b9hfdBSGC0Bl0+tAY0vDTd3Xjhh9KnFN5FN8h2xJd3megdfCHTeDh3go\n"
	"-----END PRIVATE KEY-----\n";
#define VECTOR_TAG 20014
#define VECTOR_DS \
	"D7A802C61A851F1FA1341A259BD1D27B16187E806F00F6AD38BC1676DCB5469E"
#define VECTOR_PUBLIC                                                      \
	"RyiFKdbqUCYeMjyeRzWAOrxc8gzxIG/YX3QUhgtAZdPrQGNLw03d144YfSpxTeRT" \
	"fIdsSXd5noHXwh03g4d4KA=="

static struct zone_key *vector_key(const char *zone)
{
	struct zone_key *k = NULL;
	ck_assert_int_eq(zone_key_load(zone, GSLB_DNSSEC_ECDSAP256SHA256,
				       (const uint8_t *)VECTOR_PEM,
				       strlen(VECTOR_PEM), 1700000000, "ow1",
				       &k),
			 GSLB_EOK);
	return k;
}

/* Verifies one RRSIG RDATA over rr with the key's public part only. */
static int verify(const struct zone_key *key, const knot_rrset_t *rr_in,
		  const knot_rdata_t *sig)
{
	dnssec_key_t *pub = NULL;
	dnssec_binary_t rd = { .size = key->dnskey_len, .data = key->dnskey };
	ck_assert_int_eq(dnssec_key_new(&pub), DNSSEC_EOK);
	ck_assert_int_eq(dnssec_key_set_rdata(pub, &rd), DNSSEC_EOK);

	knot_rrset_t rr = *rr_in;
	rr.ttl = knot_rrsig_original_ttl(sig);
	static uint8_t wire[65535];
	int len = knot_rrset_to_wire(&rr, wire, sizeof(wire), NULL);
	ck_assert_int_gt(len, 0);
	size_t hl = 18 + knot_dname_size(knot_rrsig_signer_name(sig));
	dnssec_binary_t h = { .size = hl, .data = (uint8_t *)sig->data };
	dnssec_binary_t w = { .size = (size_t)len, .data = wire };
	dnssec_binary_t s = { .size = knot_rrsig_signature_len(sig),
			      .data = (uint8_t *)knot_rrsig_signature(sig) };
	dnssec_sign_ctx_t *ctx = NULL;
	ck_assert_int_eq(dnssec_sign_new(&ctx, pub), DNSSEC_EOK);
	dnssec_sign_add(ctx, &h);
	dnssec_sign_add(ctx, &w);
	int r = dnssec_sign_verify(ctx, false, &s);
	dnssec_sign_free(ctx);
	dnssec_key_free(pub);
	return r;
}

START_TEST(ds_matches_independent_vector)
{
	struct zone_key *k = vector_key("gslb.example");
	ck_assert_uint_eq(k->key_tag, VECTOR_TAG);
	char *hex = zone_key_ds_digest_hex(k);
	ck_assert_str_eq(hex, VECTOR_DS);
	char *text = zone_key_ds_text(k);
	ck_assert_str_eq(text, "gslb.example. IN DS 20014 13 2 " VECTOR_DS);
	char *pub = zone_key_public_b64(k);
	ck_assert_str_eq(pub, VECTOR_PUBLIC);
	ck_assert_uint_eq(k->dnskey_len, 4 + 64);
	ck_assert_uint_eq(knot_wire_read_u16(k->dnskey), 257);
	free(hex);
	free(text);
	free(pub);
	zone_key_free(k);
}
END_TEST

START_TEST(bad_keys_are_refused)
{
	struct zone_key *k = NULL;
	const char *junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
			   "-----END PRIVATE KEY-----\n";
	ck_assert_int_eq(zone_key_load("gslb.example", 13,
				       (const uint8_t *)junk, strlen(junk), 0,
				       NULL, &k),
			 GSLB_EINVAL);
	/* A P-256 key is neither a P-384 nor an Ed25519 key. */
	ck_assert_int_eq(zone_key_load("gslb.example",
				       GSLB_DNSSEC_ECDSAP384SHA384,
				       (const uint8_t *)VECTOR_PEM,
				       strlen(VECTOR_PEM), 0, NULL, &k),
			 GSLB_EINVAL);
	ck_assert_int_eq(zone_key_load("gslb.example", GSLB_DNSSEC_ED25519,
				       (const uint8_t *)VECTOR_PEM,
				       strlen(VECTOR_PEM), 0, NULL, &k),
			 GSLB_EINVAL);
}
END_TEST

/* Every supported algorithm: generate, load, sign, verify. */
START_TEST(each_algorithm_generates_and_signs)
{
	static const int algs[] = { GSLB_DNSSEC_ECDSAP256SHA256,
				    GSLB_DNSSEC_ECDSAP384SHA384,
				    GSLB_DNSSEC_ED25519 };
	int alg = algs[_i];
	char dir[] = "/tmp/gslb-dnssec-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	uint8_t *pem = NULL;
	size_t len = 0;
	ck_assert_int_eq(dnssec_key_generate(alg, dir, &pem, &len), GSLB_EOK);
	ck_assert_ptr_nonnull(memmem(pem, len, "PRIVATE KEY", 11));
	/* Nothing of the key stays in the directory. */
	ck_assert_int_eq(rmdir(dir), 0);

	struct zone_key *k = NULL;
	ck_assert_int_eq(zone_key_load("Gslb.Example", alg, pem, len,
				       (int64_t)time(NULL), "ow1", &k),
			 GSLB_EOK);
	ck_assert_str_eq(k->zone, "Gslb.Example");
	ck_assert_int_eq(k->dnskey[3], alg);
	ck_assert_uint_eq(strlen(k->key_id), 40);

	struct signer *s = NULL;
	ck_assert_int_eq(signer_new(k, &s), GSLB_EOK);
	knot_rrset_t rr;
	knot_rrset_init(&rr, k->apex, KNOT_RRTYPE_A, KNOT_CLASS_IN, 30);
	uint8_t addr[4] = { 192, 0, 2, 1 };
	ck_assert_int_eq(knot_rrset_add_rdata(&rr, addr, 4, NULL), KNOT_EOK);
	const knot_rdata_t *sig = signer_sign(s, &rr, time(NULL));
	ck_assert_ptr_nonnull(sig);
	ck_assert_int_eq(verify(k, &rr, sig), DNSSEC_EOK);
	/* Signer name is the lower-case apex; one label for "gslb.example"
	 * would be wrong: the owner has two. */
	ck_assert_uint_eq(knot_rrsig_labels(sig), 2);
	ck_assert(knot_dname_is_equal(knot_rrsig_signer_name(sig), k->apex));

	addr[3] = 2; /* a different record: the signature no longer fits */
	rr.rrs.rdata->data[3] = 2;
	ck_assert_int_ne(verify(k, &rr, sig), DNSSEC_EOK);

	knot_rdataset_clear(&rr.rrs, NULL);
	signer_free(s);
	zone_key_free(k);
	free(pem);
}
END_TEST

START_TEST(cache_reuses_until_refresh)
{
	struct zone_key *k = vector_key("gslb.example");
	struct signer *s = NULL;
	ck_assert_int_eq(signer_new(k, &s), GSLB_EOK);
	knot_rrset_t rr;
	knot_rrset_init(&rr, k->apex, KNOT_RRTYPE_A, KNOT_CLASS_IN, 30);
	uint8_t a1[4] = { 192, 0, 2, 1 }, a2[4] = { 192, 0, 2, 2 };
	ck_assert_int_eq(knot_rrset_add_rdata(&rr, a1, 4, NULL), KNOT_EOK);
	ck_assert_int_eq(knot_rrset_add_rdata(&rr, a2, 4, NULL), KNOT_EOK);

	int64_t now = 1800000000;
	const knot_rdata_t *first = signer_sign(s, &rr, now);
	ck_assert_ptr_nonnull(first);
	ck_assert_uint_eq(knot_rrsig_sig_inception(first),
			  now - DNSSEC_INCEPTION_PAST);
	ck_assert_uint_eq(knot_rrsig_sig_expiration(first),
			  now + DNSSEC_SIG_LIFETIME);
	ck_assert_uint_eq(knot_rrsig_original_ttl(first), 30);

	/* Same content an hour later: the same signature. */
	ck_assert_ptr_eq(signer_sign(s, &rr, now + 3600), first);
	struct signer_stats st;
	signer_get_stats(s, &st);
	ck_assert_uint_eq(st.signed_new, 1);
	ck_assert_uint_eq(st.cache_hits, 1);
	ck_assert_uint_eq(st.cached, 1);
	ck_assert_int_eq(st.next_refresh,
			 now + DNSSEC_SIG_LIFETIME - DNSSEC_SIG_REFRESH);

	/* Another TTL is another RRset for a resolver. */
	rr.ttl = 60;
	const knot_rdata_t *other = signer_sign(s, &rr, now);
	ck_assert_uint_eq(knot_rrsig_original_ttl(other), 60);
	rr.ttl = 30;

	/* Close to expiry it is made again, valid from the new time. */
	int64_t later = now + DNSSEC_SIG_LIFETIME - DNSSEC_SIG_REFRESH + 1;
	const knot_rdata_t *fresh = signer_sign(s, &rr, later);
	ck_assert_uint_eq(knot_rrsig_sig_expiration(fresh),
			  later + DNSSEC_SIG_LIFETIME);
	ck_assert_int_eq(verify(k, &rr, fresh), DNSSEC_EOK);
	signer_get_stats(s, &st);
	ck_assert_uint_eq(st.signed_new, 3);
	ck_assert_uint_eq(st.cached, 2);

	/* Unused ones are forgotten. */
	signer_sweep(s, later);
	signer_get_stats(s, &st);
	ck_assert_uint_eq(st.cached, 1);

	knot_rdataset_clear(&rr.rrs, NULL);
	signer_free(s);
	zone_key_free(k);
}
END_TEST

/* A signed snapshot: config → registry → snapshot → answers. */
#define ZONE_CONFIG                                                          \
	"dns:\n"                                                             \
	"  listen_address: \"127.0.0.1:5353\"\n"                             \
	"  zones:\n"                                                         \
	"    - name: gslb.test\n"                                            \
	"      nameservers:\n"                                               \
	"        - { name: ns1.gslb.test, addresses: [192.0.2.53] }\n"       \
	"        - { name: ns2.gslb.test, addresses: [192.0.2.54,"           \
	" 192.0.2.55, 192.0.2.56, \"2001:db8::54\", \"2001:db8::55\"] }\n"   \
	"overwatch:\n"                                                       \
	"  gossip: {encryption_key: "                                        \
	"\"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\"}\n"                \
	"  dnssec:\n"                                                        \
	"    denial: %s\n"                                                   \
	"regions:\n"                                                         \
	"  - name: primary\n"                                                \
	"    servers:\n"                                                     \
	"      - { address: 192.0.2.1, service: fo.gslb.test }\n"            \
	"      - { address: 192.0.2.2, service: fo.gslb.test }\n"            \
	"      - { address: 192.0.2.11, weight: 1, service: w.gslb.test }\n" \
	"      - { address: 192.0.2.12, weight: 5, service: w.gslb.test }\n" \
	"      - { address: 192.0.2.13, weight: 9, service: w.gslb.test }\n" \
	"      - { address: 192.0.2.14, weight: 2, service: w.gslb.test }\n" \
	"      - { address: 192.0.2.21, service: rr.gslb.test }\n"           \
	"      - { address: 192.0.2.22, service: rr.gslb.test }\n"           \
	"      - { address: 192.0.2.23, service: rr.gslb.test }\n"           \
	"domains:\n"                                                         \
	"  - { name: fo.gslb.test, routing_algorithm: failover,"             \
	" regions: [primary] }\n"                                            \
	"  - { name: w.gslb.test, routing_algorithm: weighted,"              \
	" max_records: 2, regions: [primary] }\n"                            \
	"  - { name: rr.gslb.test, regions: [primary] }\n"                   \
	"  - { name: x.deep.gslb.test, regions: [primary] }\n"

static struct {
	char dir[64];
	char path[96];
	struct gslb_config *cfg;
	struct gslb_registry *reg;
	struct zone_key *key;
	struct signer *signer;
	struct snapshot *snap;
	struct answer_ctx ctx;
} fx;

static struct signer *signer_for(void *arg, const char *zone)
{
	(void)arg;
	return strcmp(zone, "gslb.test") == 0 ? fx.signer : NULL;
}

static void build(void)
{
	struct snap_signing signing = {
		.signer_for = signer_for,
		.now = time(NULL),
	};
	struct snapshot *s = NULL;
	ck_assert_int_eq(
		snapshot_build(fx.cfg, fx.reg, fx.snap, &signing, 1, &s),
		GSLB_EOK);
	snapshot_free(fx.snap);
	fx.snap = s;
}

static void zone_up(const char *denial)
{
	memset(&fx, 0, sizeof(fx));
	strcpy(fx.dir, "/tmp/gslb-signed-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/overwatch.yaml", fx.dir);
	FILE *f = fopen(fx.path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, ZONE_CONFIG, denial);
	fclose(f);
	chmod(fx.path, 0600);
	struct gslb_config_errors errs = { 0 };
	int ret =
		gslb_config_load(fx.path, GSLB_MODE_OVERWATCH, &fx.cfg, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		fprintf(stderr, "%s\n", errs.msgs[i]);
	}
	ck_assert_int_eq(ret, GSLB_EOK);
	ck_assert_int_eq(gslb_registry_new(30 * GSLB_SEC, &fx.reg), GSLB_EOK);
	ck_assert_int_eq(gslb_registry_sync_static(fx.reg, fx.cfg, 0),
			 GSLB_EOK);
	ck_assert_int_eq(answer_ctx_init(&fx.ctx, 7), GSLB_EOK);
	fx.key = vector_key("gslb.test");
	ck_assert_int_eq(signer_new(fx.key, &fx.signer), GSLB_EOK);
	build();
}

static void setup_nsec(void)
{
	zone_up("nsec");
}

static void setup_nsec3(void)
{
	zone_up("nsec3");
}

static void zone_down(void)
{
	snapshot_free(fx.snap);
	answer_ctx_clear(&fx.ctx);
	signer_free(fx.signer);
	zone_key_free(fx.key);
	gslb_registry_free(fx.reg);
	gslb_config_free(fx.cfg);
	unlink(fx.path);
	rmdir(fx.dir);
}

/* The EDNS buffer size of ask()'s queries. */
static uint16_t ask_payload = 1232;

/* Asks with DO=1 (or not); a parsed response, freed by the caller. */
static knot_pkt_t *ask(const char *name, uint16_t qtype, bool do_bit)
{
	knot_pkt_t *q = knot_pkt_new(NULL, 512, NULL);
	knot_dname_t *qname = knot_dname_from_str_alloc(name);
	ck_assert_int_eq(knot_pkt_put_question(q, qname, KNOT_CLASS_IN, qtype),
			 KNOT_EOK);
	free(qname);
	knot_rrset_t opt;
	ck_assert_int_eq(knot_edns_init(&opt, ask_payload, 0, 0, &q->mm),
			 KNOT_EOK);
	if (do_bit) {
		knot_edns_set_do(&opt);
	}
	knot_pkt_begin(q, KNOT_ADDITIONAL);
	ck_assert_int_eq(knot_pkt_put(q, 0, &opt, KNOT_PF_FREE), KNOT_EOK);

	static uint8_t out[65535];
	size_t len = answer_query(&fx.ctx, fx.snap, q->wire, q->size, out,
				  sizeof(out), false);
	knot_pkt_free(q);
	ck_assert_uint_gt(len, 0);
	knot_pkt_t *r = knot_pkt_new(out, (uint16_t)len, NULL);
	ck_assert_int_eq(knot_pkt_parse(r, 0), KNOT_EOK);
	return r;
}

/*
 * Verifies every RRSIG in a section against the RRset it covers and
 * returns how many; fails on an RRset without one.
 */
static unsigned verify_section(const knot_pkt_t *r, knot_section_t sec_id)
{
	const knot_pktsection_t *sec = knot_pkt_section(r, sec_id);
	unsigned good = 0;
	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);
		if (rr->type == KNOT_RRTYPE_RRSIG ||
		    rr->type == KNOT_RRTYPE_OPT) {
			continue;
		}
		knot_rrset_t set;
		knot_rrset_init(&set, rr->owner, rr->type, KNOT_CLASS_IN,
				rr->ttl);
		const knot_rdata_t *sig = NULL;
		for (uint16_t j = 0; j < sec->count; j++) {
			const knot_rrset_t *o = knot_pkt_rr(sec, j);
			if (!knot_dname_is_equal(o->owner, rr->owner)) {
				continue;
			}
			if (o->type == rr->type) {
				knot_rdataset_merge(&set.rrs, &o->rrs, NULL);
			} else if (o->type == KNOT_RRTYPE_RRSIG &&
				   knot_rrsig_type_covered(o->rrs.rdata) ==
					   rr->type) {
				sig = o->rrs.rdata;
				/* RRSIG TTL = the covered RRset's TTL */
				ck_assert_uint_eq(o->ttl, rr->ttl);
			}
		}
		ck_assert_msg(sig != NULL, "type %u has no RRSIG", rr->type);
		ck_assert_int_eq(verify(fx.key, &set, sig), DNSSEC_EOK);
		knot_rdataset_clear(&set.rrs, NULL);
		good++;
	}
	return good;
}

static unsigned count_type(const knot_pkt_t *r, knot_section_t s, uint16_t type)
{
	const knot_pktsection_t *sec = knot_pkt_section(r, s);
	unsigned n = 0;
	for (uint16_t i = 0; i < sec->count; i++) {
		n += knot_pkt_rr(sec, i)->type == type;
	}
	return n;
}

START_TEST(positive_answers_are_signed)
{
	static const struct {
		const char *name;
		uint16_t type;
	} q[] = {
		{ "fo.gslb.test", KNOT_RRTYPE_A },
		{ "rr.gslb.test", KNOT_RRTYPE_A },
		{ "w.gslb.test", KNOT_RRTYPE_A },
		{ "gslb.test", KNOT_RRTYPE_SOA },
		{ "gslb.test", KNOT_RRTYPE_NS },
		{ "gslb.test", KNOT_RRTYPE_DNSKEY },
		{ "ns1.gslb.test", KNOT_RRTYPE_A },
	};
	/* Many times each, so every round-robin start and many weighted
	 * combinations are seen. */
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		for (int n = 0; n < 40; n++) {
			knot_pkt_t *r = ask(q[i].name, q[i].type, true);
			ck_assert_int_eq(knot_wire_get_rcode(r->wire), 0);
			ck_assert(!knot_wire_get_ad(r->wire));
			ck_assert_uint_ge(verify_section(r, KNOT_ANSWER), 1);
			if (q[i].type == KNOT_RRTYPE_NS) {
				/* glue, signed too: 1 + 3 + 2 addresses */
				ck_assert_uint_eq(
					verify_section(r, KNOT_ADDITIONAL), 6);
			}
			if (strcmp(q[i].name, "w.gslb.test") == 0) {
				ck_assert_uint_eq(count_type(r, KNOT_ANSWER,
							     KNOT_RRTYPE_A),
						  2);
			}
			knot_pkt_free(r);
		}
	}
}
END_TEST

/* In a small answer, glue that does not fit with its RRSIG is left out,
 * never sent unsigned. */
START_TEST(glue_goes_with_its_signature)
{
	ask_payload = 530; /* ns2 AAAA fits, its RRSIG does not */
	knot_pkt_t *r = ask("gslb.test", KNOT_RRTYPE_NS, true);
	ask_payload = 1232;
	ck_assert(!knot_wire_get_tc(r->wire));
	ck_assert_uint_eq(verify_section(r, KNOT_ANSWER), 2);
	/* verify_section() fails on any address without its RRSIG */
	unsigned glue = verify_section(r, KNOT_ADDITIONAL);
	ck_assert_uint_lt(glue, 6);
	ck_assert_uint_le(r->size, 530);
	knot_pkt_free(r);
}
END_TEST

/* The NSEC of a name lists RRSIG: asked for, the signatures are there. */
START_TEST(rrsig_query_answers_signatures)
{
	knot_pkt_t *r = ask("gslb.test", KNOT_RRTYPE_RRSIG, true);
	ck_assert_int_eq(knot_wire_get_rcode(r->wire), 0);
	/* SOA, NS, DNSKEY and NSEC or NSEC3PARAM */
	ck_assert_uint_eq(count_type(r, KNOT_ANSWER, KNOT_RRTYPE_RRSIG), 4);
	knot_pkt_free(r);
	r = ask("rr.gslb.test", KNOT_RRTYPE_RRSIG, false);
	ck_assert_uint_ge(count_type(r, KNOT_ANSWER, KNOT_RRTYPE_RRSIG), 1);
	knot_pkt_free(r);
}
END_TEST

START_TEST(do_zero_adds_nothing)
{
	knot_pkt_t *r = ask("rr.gslb.test", KNOT_RRTYPE_A, false);
	ck_assert_uint_eq(count_type(r, KNOT_ANSWER, KNOT_RRTYPE_RRSIG), 0);
	knot_pkt_free(r);
	r = ask("nope.gslb.test", KNOT_RRTYPE_A, false);
	ck_assert_int_eq(knot_wire_get_rcode(r->wire), KNOT_RCODE_NXDOMAIN);
	ck_assert_uint_eq(knot_pkt_section(r, KNOT_AUTHORITY)->count, 1);
	knot_pkt_free(r);
	/* Asked for, the DNSKEY is there, without its signature. */
	r = ask("gslb.test", KNOT_RRTYPE_DNSKEY, false);
	ck_assert_uint_eq(count_type(r, KNOT_ANSWER, KNOT_RRTYPE_DNSKEY), 1);
	ck_assert_uint_eq(count_type(r, KNOT_ANSWER, KNOT_RRTYPE_RRSIG), 0);
	knot_pkt_free(r);
}
END_TEST

/* The NSEC chain links every name with data, in canonical order. */
START_TEST(nsec_chain_is_complete)
{
	const struct snap_zone *z = &fx.snap->zones[0];
	/* apex, ns1, ns2, fo, w, rr, x.deep (deep: an empty non-terminal) */
	ck_assert_uint_eq(z->n_chain, 7);
	for (uint32_t i = 0; i < z->n_chain; i++) {
		const knot_rrset_t *rr = &z->chain[i].rr;
		const knot_rrset_t *next = &z->chain[(i + 1) % z->n_chain].rr;
		ck_assert(knot_dname_is_equal(knot_nsec_next(rr->rrs.rdata),
					      next->owner));
		if (i + 1 < z->n_chain) {
			ck_assert_int_lt(knot_dname_cmp(rr->owner, next->owner),
					 0);
		}
		ck_assert_uint_eq(rr->ttl, z->soa_neg.ttl);
	}
}
END_TEST

/* An NSEC covers name: owner < name < next (with the wrap at the end). */
static bool nsec_covers(const knot_rrset_t *nsec, const knot_dname_t *name)
{
	const knot_dname_t *next = knot_nsec_next(nsec->rrs.rdata);
	bool after = knot_dname_cmp(nsec->owner, name) < 0;
	bool before = knot_dname_cmp(name, next) < 0 ||
		      knot_dname_cmp(next, nsec->owner) <= 0;
	return after && before;
}

START_TEST(nsec_proves_nxdomain_and_nodata)
{
	knot_pkt_t *r = ask("nope.gslb.test", KNOT_RRTYPE_A, true);
	ck_assert_int_eq(knot_wire_get_rcode(r->wire), KNOT_RCODE_NXDOMAIN);
	ck_assert_uint_eq(verify_section(r, KNOT_AUTHORITY), 3);
	const knot_pktsection_t *auth = knot_pkt_section(r, KNOT_AUTHORITY);
	knot_dname_t *qname = knot_dname_from_str_alloc("nope.gslb.test");
	knot_dname_t *wild = knot_dname_from_str_alloc("*.gslb.test");
	bool name_covered = false, wild_covered = false;
	for (uint16_t i = 0; i < auth->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(auth, i);
		if (rr->type == KNOT_RRTYPE_NSEC) {
			name_covered |= nsec_covers(rr, qname);
			wild_covered |= nsec_covers(rr, wild);
		}
	}
	ck_assert(name_covered && wild_covered);
	free(qname);
	free(wild);
	knot_pkt_free(r);

	/* NODATA at a name: its own NSEC without the type. */
	r = ask("rr.gslb.test", KNOT_RRTYPE_AAAA, true);
	ck_assert_int_eq(knot_wire_get_rcode(r->wire), 0);
	ck_assert_uint_eq(count_type(r, KNOT_ANSWER, KNOT_RRTYPE_AAAA), 0);
	ck_assert_uint_eq(verify_section(r, KNOT_AUTHORITY), 2);
	ck_assert_uint_eq(count_type(r, KNOT_AUTHORITY, KNOT_RRTYPE_NSEC), 1);
	knot_pkt_free(r);

	/* NODATA at an empty non-terminal: the NSEC before it, whose next
	 * name is below it. */
	r = ask("deep.gslb.test", KNOT_RRTYPE_A, true);
	ck_assert_int_eq(knot_wire_get_rcode(r->wire), 0);
	ck_assert_uint_eq(verify_section(r, KNOT_AUTHORITY), 2);
	knot_dname_t *ent = knot_dname_from_str_alloc("deep.gslb.test");
	auth = knot_pkt_section(r, KNOT_AUTHORITY);
	bool proved = false;
	for (uint16_t i = 0; i < auth->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(auth, i);
		if (rr->type == KNOT_RRTYPE_NSEC) {
			proved =
				nsec_covers(rr, ent) &&
				knot_dname_in_bailiwick(
					knot_nsec_next(rr->rrs.rdata), ent) > 0;
		}
	}
	ck_assert(proved);
	free(ent);
	knot_pkt_free(r);
}
END_TEST

START_TEST(nsec3_proves_nxdomain)
{
	const struct snap_zone *z = &fx.snap->zones[0];
	/* every name, the empty non-terminal "deep" too */
	ck_assert_uint_eq(z->n_chain, 8);
	for (uint32_t i = 0; i + 1 < z->n_chain; i++) {
		ck_assert_int_lt(
			memcmp(z->chain[i].hash, z->chain[i + 1].hash, 20), 0);
	}
	knot_pkt_t *r = ask("a.b.nope.gslb.test", KNOT_RRTYPE_A, true);
	ck_assert_int_eq(knot_wire_get_rcode(r->wire), KNOT_RCODE_NXDOMAIN);
	/* SOA + encloser match + next closer cover + wildcard cover, of
	 * which two may be the same record */
	unsigned n3 = count_type(r, KNOT_AUTHORITY, KNOT_RRTYPE_NSEC3);
	ck_assert(n3 == 2 || n3 == 3);
	ck_assert_uint_eq(verify_section(r, KNOT_AUTHORITY), 1 + n3);
	knot_pkt_free(r);

	r = ask("gslb.test", KNOT_RRTYPE_NSEC3PARAM, true);
	ck_assert_uint_eq(verify_section(r, KNOT_ANSWER), 1);
	knot_pkt_free(r);

	/* NODATA at the empty non-terminal: its own NSEC3, empty bitmap */
	r = ask("deep.gslb.test", KNOT_RRTYPE_A, true);
	ck_assert_int_eq(knot_wire_get_rcode(r->wire), 0);
	ck_assert_uint_eq(count_type(r, KNOT_AUTHORITY, KNOT_RRTYPE_NSEC3), 1);
	ck_assert_uint_eq(verify_section(r, KNOT_AUTHORITY), 2);
	knot_pkt_free(r);
}
END_TEST

/* A health change re-signs only the answer sets that changed. */
START_TEST(flap_resigns_only_what_changed)
{
	struct signer_stats before, after;
	signer_get_stats(fx.signer, &before);
	struct gslb_ip ip;
	ck_assert_int_eq(gslb_ip_parse("192.0.2.22", &ip), GSLB_EOK);
	struct gslb_backend *b =
		gslb_registry_find(fx.reg, "rr.gslb.test", &ip, 80);
	ck_assert_ptr_nonnull(b);
	gslb_registry_set_override(fx.reg, b, GSLB_NO, 0);
	build();
	signer_get_stats(fx.signer, &after);
	/* rr.gslb.test now answers 192.0.2.21 or .23: both were signed
	 * already as single-record sets. Nothing new to sign. */
	ck_assert_uint_eq(after.signed_new, before.signed_new);
	for (int n = 0; n < 10; n++) {
		knot_pkt_t *r = ask("rr.gslb.test", KNOT_RRTYPE_A, true);
		ck_assert_uint_eq(verify_section(r, KNOT_ANSWER), 1);
		knot_pkt_free(r);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dnssec");
	TCase *tc = tcase_create("keys");
	tcase_add_test(tc, ds_matches_independent_vector);
	tcase_add_test(tc, bad_keys_are_refused);
	tcase_add_loop_test(tc, each_algorithm_generates_and_signs, 0, 3);
	tcase_add_test(tc, cache_reuses_until_refresh);
	suite_add_tcase(s, tc);

	tc = tcase_create("nsec");
	tcase_add_checked_fixture(tc, setup_nsec, zone_down);
	tcase_add_test(tc, positive_answers_are_signed);
	tcase_add_test(tc, do_zero_adds_nothing);
	tcase_add_test(tc, rrsig_query_answers_signatures);
	tcase_add_test(tc, glue_goes_with_its_signature);
	tcase_add_test(tc, nsec_chain_is_complete);
	tcase_add_test(tc, nsec_proves_nxdomain_and_nodata);
	tcase_add_test(tc, flap_resigns_only_what_changed);
	suite_add_tcase(s, tc);

	tc = tcase_create("nsec3");
	tcase_add_checked_fixture(tc, setup_nsec3, zone_down);
	tcase_add_test(tc, positive_answers_are_signed);
	tcase_add_test(tc, nsec3_proves_nxdomain);
	tcase_add_test(tc, rrsig_query_answers_signatures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	dnssec_global_init();
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	dnssec_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
