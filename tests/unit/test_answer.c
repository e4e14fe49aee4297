/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The overwatch's answers as health changes: config → registry → snapshot
 * → answer_query(), with real libknot queries and responses. Integration
 * tests cannot yet make a backend unhealthy (health checks come later), so
 * the health-dependent answers are checked here.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "answer.h"
#include "config.h"
#include "error.h"
#include "registry.h"
#include "snapshot.h"

/* A printf format: %s is dns.return_last_healthy. */
#define BASE_CONFIG                                                          \
	"dns:\n"                                                             \
	"  listen_address: \"127.0.0.1:5353\"\n"                             \
	"  return_last_healthy: %s\n"                                        \
	"  zones: [gslb.test]\n"                                             \
	"overwatch:\n"                                                       \
	"  gossip: {encryption_key: "                                        \
	"\"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\"}\n"                \
	"  dnssec:\n"                                                        \
	"    enabled: false\n"                                               \
	"    security_acknowledgment: \"" GSLB_DNSSEC_ACK "\"\n"             \
	"regions:\n"                                                         \
	"  - name: primary\n"                                                \
	"    servers:\n"                                                     \
	"      - { address: 192.0.2.1, service: fo.gslb.test }\n"            \
	"      - { address: 192.0.2.11, weight: 0, service: w.gslb.test }\n" \
	"      - { address: 192.0.2.12, weight: 5, service: w.gslb.test }\n" \
	"      - { address: 192.0.2.21, service: rr.gslb.test }\n"           \
	"      - { address: 192.0.2.22, service: rr.gslb.test }\n"           \
	"      - { address: 192.0.2.23, service: rr.gslb.test }\n"           \
	"  - name: backup\n"                                                 \
	"    servers:\n"                                                     \
	"      - { address: 192.0.2.2, service: fo.gslb.test }\n"            \
	"      - { address: 2001:db8::2, service: fo.gslb.test }\n"          \
	"domains:\n"                                                         \
	"  - { name: fo.gslb.test, routing_algorithm: failover,"             \
	" regions: [primary, backup] }\n"                                    \
	"  - { name: w.gslb.test, routing_algorithm: weighted,"              \
	" regions: [primary] }\n"                                            \
	"  - { name: rr.gslb.test, regions: [primary] }\n"                   \
	"  - { name: x.y.deep.gslb.test, regions: [primary] }\n"

struct fixture {
	char dir[64];
	char path[96];
	struct gslb_config *cfg;
	struct gslb_registry *reg;
	struct snapshot *snap;
	struct answer_ctx ctx;
	uint64_t gen;
};

static struct fixture fx;

static void fixture_up(bool last_healthy)
{
	memset(&fx, 0, sizeof(fx));
	strcpy(fx.dir, "/tmp/gslb-answer-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/overwatch.yaml", fx.dir);
	FILE *f = fopen(fx.path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, BASE_CONFIG, last_healthy ? "true" : "false");
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
	ck_assert_int_eq(answer_ctx_init(&fx.ctx, 42), GSLB_EOK);
}

static void rebuild(void)
{
	struct snapshot *s = NULL;
	ck_assert_int_eq(
		snapshot_build(fx.cfg, fx.reg, fx.snap, NULL, ++fx.gen, &s),
		GSLB_EOK);
	snapshot_free(fx.snap);
	fx.snap = s;
}

static void setup(void)
{
	fixture_up(false);
	rebuild();
}

static void setup_last_healthy(void)
{
	fixture_up(true);
	rebuild();
}

static void teardown(void)
{
	snapshot_free(fx.snap);
	answer_ctx_clear(&fx.ctx);
	gslb_registry_free(fx.reg);
	gslb_config_free(fx.cfg);
	unlink(fx.path);
	rmdir(fx.dir);
}

static void set_health(const char *service, const char *addr, bool healthy)
{
	struct gslb_ip ip;
	ck_assert_int_eq(gslb_ip_parse(addr, &ip), GSLB_EOK);
	struct gslb_backend *b = gslb_registry_find(fx.reg, service, &ip, 80);
	ck_assert_ptr_nonnull(b);
	gslb_registry_set_override(fx.reg, b, healthy ? GSLB_YES : GSLB_NO, 0);
	rebuild();
}

/* A parsed response; free with knot_pkt_free(). */
static knot_pkt_t *ask(const char *name, uint16_t qtype)
{
	knot_pkt_t *q = knot_pkt_new(NULL, 512, NULL);
	knot_dname_t *qname = knot_dname_from_str_alloc(name);
	ck_assert_ptr_nonnull(qname);
	knot_wire_set_id(q->wire, 0x1234);
	ck_assert_int_eq(knot_pkt_put_question(q, qname, KNOT_CLASS_IN, qtype),
			 KNOT_EOK);
	free(qname);

	static uint8_t out[65535];
	size_t len = answer_query(&fx.ctx, fx.snap, q->wire, q->size, out,
				  sizeof(out), false);
	knot_pkt_free(q);
	ck_assert_uint_gt(len, 0);
	knot_pkt_t *r = knot_pkt_new(out, (uint16_t)len, NULL);
	ck_assert_int_eq(knot_pkt_parse(r, 0), KNOT_EOK);
	ck_assert_uint_eq(knot_wire_get_id(r->wire), 0x1234);
	return r;
}

static int rcode(const knot_pkt_t *r)
{
	return knot_wire_get_rcode(r->wire);
}

static uint16_t count(const knot_pkt_t *r, knot_section_t s)
{
	return knot_pkt_section(r, s)->count;
}

/* The one A/AAAA address of the answer, as text. */
static const char *answer_addr(const knot_pkt_t *r)
{
	static char buf[GSLB_IP_STRLEN];
	ck_assert_uint_eq(count(r, KNOT_ANSWER), 1);
	const knot_rrset_t *rr =
		knot_pkt_rr(knot_pkt_section(r, KNOT_ANSWER), 0);
	struct gslb_ip ip = { .family = rr->type == KNOT_RRTYPE_A ? AF_INET
								  : AF_INET6 };
	memcpy(ip.addr, rr->rrs.rdata->data, rr->rrs.rdata->len);
	return gslb_ip_format(&ip, buf);
}

/* Asserts the single address answered for name. */
static void expect_addr(const char *name, uint16_t qtype, const char *addr)
{
	knot_pkt_t *r = ask(name, qtype);
	ck_assert_int_eq(rcode(r), KNOT_RCODE_NOERROR);
	ck_assert_str_eq(answer_addr(r), addr);
	knot_pkt_free(r);
}

START_TEST(failover_follows_health)
{
	expect_addr("fo.gslb.test", KNOT_RRTYPE_A, "192.0.2.1");

	set_health("fo.gslb.test", "192.0.2.1", false);
	expect_addr("fo.gslb.test", KNOT_RRTYPE_A, "192.0.2.2");

	/* Automatic return to the primary. */
	set_health("fo.gslb.test", "192.0.2.1", true);
	expect_addr("fo.gslb.test", KNOT_RRTYPE_A, "192.0.2.1");
}
END_TEST

START_TEST(all_down_is_servfail)
{
	set_health("fo.gslb.test", "192.0.2.1", false);
	set_health("fo.gslb.test", "192.0.2.2", false);
	knot_pkt_t *r = ask("fo.gslb.test", KNOT_RRTYPE_A);
	ck_assert_int_eq(rcode(r), KNOT_RCODE_SERVFAIL);
	ck_assert(!knot_wire_get_aa(r->wire));
	ck_assert_uint_eq(count(r, KNOT_ANSWER), 0);
	knot_pkt_free(r);

	/* The other family still answers. */
	expect_addr("fo.gslb.test", KNOT_RRTYPE_AAAA, "2001:db8::2");
}
END_TEST

START_TEST(absent_family_is_nodata_not_servfail)
{
	knot_pkt_t *r = ask("rr.gslb.test", KNOT_RRTYPE_AAAA);
	ck_assert_int_eq(rcode(r), KNOT_RCODE_NOERROR);
	ck_assert(knot_wire_get_aa(r->wire));
	ck_assert_uint_eq(count(r, KNOT_ANSWER), 0);
	ck_assert_uint_eq(count(r, KNOT_AUTHORITY), 1);
	knot_pkt_free(r);
}
END_TEST

START_TEST(last_healthy_answers_when_all_down)
{
	set_health("fo.gslb.test", "192.0.2.1", false);
	set_health("fo.gslb.test", "192.0.2.2", false);
	/* The last healthy set was {192.0.2.2}, and stays across rebuilds. */
	rebuild();
	expect_addr("fo.gslb.test", KNOT_RRTYPE_A, "192.0.2.2");

	set_health("fo.gslb.test", "192.0.2.1", true);
	expect_addr("fo.gslb.test", KNOT_RRTYPE_A, "192.0.2.1");
}
END_TEST

START_TEST(weight_zero_never_chosen)
{
	for (int i = 0; i < 200; i++) {
		expect_addr("w.gslb.test", KNOT_RRTYPE_A, "192.0.2.12");
	}
	/* Without its only weighted server, the name has no answer. */
	set_health("w.gslb.test", "192.0.2.12", false);
	knot_pkt_t *r = ask("w.gslb.test", KNOT_RRTYPE_A);
	ck_assert_int_eq(rcode(r), KNOT_RCODE_SERVFAIL);
	knot_pkt_free(r);
}
END_TEST

START_TEST(rotation_survives_rebuild)
{
	const char *expect[] = { "192.0.2.21", "192.0.2.22", "192.0.2.23" };
	for (int i = 0; i < 6; i++) {
		if (i == 2) {
			rebuild(); /* a health change elsewhere */
		}
		knot_pkt_t *r = ask("rr.gslb.test", KNOT_RRTYPE_A);
		ck_assert_str_eq(answer_addr(r), expect[i % 3]);
		knot_pkt_free(r);
	}
}
END_TEST

START_TEST(unhealthy_leaves_rotation)
{
	set_health("rr.gslb.test", "192.0.2.22", false);
	for (int i = 0; i < 10; i++) {
		knot_pkt_t *r = ask("rr.gslb.test", KNOT_RRTYPE_A);
		ck_assert_str_ne(answer_addr(r), "192.0.2.22");
		knot_pkt_free(r);
	}
}
END_TEST

START_TEST(names_and_zone_cut)
{
	/* Empty non-terminals exist. */
	knot_pkt_t *r = ask("y.deep.gslb.test", KNOT_RRTYPE_A);
	ck_assert_int_eq(rcode(r), KNOT_RCODE_NOERROR);
	ck_assert_uint_eq(count(r, KNOT_ANSWER), 0);
	knot_pkt_free(r);
	/* Below a name: NXDOMAIN with the zone's SOA. */
	r = ask("z.x.y.deep.gslb.test", KNOT_RRTYPE_A);
	ck_assert_int_eq(rcode(r), KNOT_RCODE_NXDOMAIN);
	ck_assert(knot_wire_get_aa(r->wire));
	ck_assert_uint_eq(count(r, KNOT_AUTHORITY), 1);
	knot_pkt_free(r);
	/* Outside: REFUSED, not authoritative. */
	r = ask("gslb.example", KNOT_RRTYPE_A);
	ck_assert_int_eq(rcode(r), KNOT_RCODE_REFUSED);
	ck_assert(!knot_wire_get_aa(r->wire));
	knot_pkt_free(r);
	/* The apex has SOA and NS. */
	r = ask("gslb.test", KNOT_RRTYPE_SOA);
	ck_assert_uint_eq(count(r, KNOT_ANSWER), 1);
	knot_pkt_free(r);
	r = ask("gslb.test", KNOT_RRTYPE_NS);
	ck_assert_uint_eq(count(r, KNOT_ANSWER), 1);
	knot_pkt_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("answer");
	TCase *tc = tcase_create("health");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, failover_follows_health);
	tcase_add_test(tc, all_down_is_servfail);
	tcase_add_test(tc, absent_family_is_nodata_not_servfail);
	tcase_add_test(tc, weight_zero_never_chosen);
	tcase_add_test(tc, rotation_survives_rebuild);
	tcase_add_test(tc, unhealthy_leaves_rotation);
	tcase_add_test(tc, names_and_zone_cut);
	suite_add_tcase(s, tc);

	TCase *lh = tcase_create("return_last_healthy");
	tcase_add_checked_fixture(lh, setup_last_healthy, teardown);
	tcase_add_test(lh, last_healthy_answers_when_all_down);
	suite_add_tcase(s, lh);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
