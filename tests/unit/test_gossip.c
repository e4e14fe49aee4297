/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "compiler.h"
#include "error.h"
#include "gossip.h"

/* The same keys as tests/fuzz/fuzz_gossip.c, so that the seeds open. */
static uint8_t gkey[GSLB_GOSSIP_KEY_LEN]; /* gossip key: 0x00.. */
static uint8_t skey[GOSSIP_KEY_LEN];      /* session key: 0x40.. */
static uint8_t other_key[GOSSIP_KEY_LEN];

#define AGENT_ID "agent-1.eu_west"
/* Where the body starts. */
#define H       (19 + sizeof(AGENT_ID) - 1)
#define T0      ((gslb_time_t)1700000000 * GSLB_SEC + 123)
#define FAKESIG 71

struct msg {
	uint8_t b[GOSSIP_MAX_INNER];
	size_t len;
};

static uint8_t cert[300], prev_cert[200], endorsement[70], sig[FAKESIG];

static void keys_init(void)
{
	for (size_t i = 0; i < sizeof(gkey); i++) {
		gkey[i] = (uint8_t)i;
		skey[i] = (uint8_t)(0x40 + i);
		other_key[i] = skey[i];
	}
	other_key[0] ^= 0x80;
	for (size_t i = 0; i < sizeof(cert); i++) {
		cert[i] = (uint8_t)(i * 13 + 1);
	}
	for (size_t i = 0; i < sizeof(prev_cert); i++) {
		prev_cert[i] = (uint8_t)(i * 7 + 3);
	}
	memset(endorsement, 0xe5, sizeof(endorsement));
	for (size_t i = 0; i < sizeof(sig); i++) {
		sig[i] = (uint8_t)(0x30 + i);
	}
}

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	keys_init();
}

static struct gossip_header hdr(uint64_t seq)
{
	struct gossip_header h = { .seq = seq, .time = T0 };
	strcpy(h.agent_id, AGENT_ID);
	return h;
}

static const struct gossip_heartbeat the_hb = {
	.state_version = 42,
	.n_backends = 7,
	.interval_ms = 5000,
	.missed_threshold = 3,
};

static struct gossip_register the_reg(bool rotation)
{
	struct gossip_register reg = {
		.token = "s3cr3t-token",
		.token_len = 12,
		.cert = cert,
		.cert_len = sizeof(cert),
		.interval_ms = 5000,
		.missed_threshold = 3,
		.region = "eu-west",
		.region_len = 7,
		.services = { "www.example.com", "api.example.com" },
		.service_lens = { 15, 15 },
		.n_services = 2,
	};
	for (size_t i = 0; i < GOSSIP_KX_LEN; i++) {
		reg.agent_kx[i] = (uint8_t)(0xa0 + i);
		reg.overwatch_kx[i] = (uint8_t)(0x10 + i);
	}
	if (rotation) {
		reg.prev_cert = prev_cert;
		reg.prev_cert_len = sizeof(prev_cert);
		reg.endorsement = endorsement;
		reg.endorsement_len = sizeof(endorsement);
	}
	return reg;
}

static struct gossip_backend backend(const char *svc, const char *ip,
				     uint16_t port, uint32_t weight,
				     bool healthy)
{
	struct gossip_backend b = {
		.service = svc,
		.service_len = strlen(svc),
		.port = port,
		.weight = weight,
		.healthy = healthy,
	};
	if (inet_pton(AF_INET, ip, b.ip.addr) == 1) {
		b.ip.family = AF_INET;
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, b.ip.addr), 1);
		b.ip.family = AF_INET6;
	}
	return b;
}

static const struct gossip_predictive the_pred = {
	.draining = true,
	.reason = GOSSIP_DRAIN_CPU,
	.cpu_centi = 9123,
	.mem_centi = 4567,
	.error_rate_centi = 250,
};

static struct gossip_ack the_ack(void)
{
	struct gossip_ack ack = {
		.acked_seq = 77,
		.state_version = 42,
		.flags = GOSSIP_ACK_NEED_STATE,
		.reason = GOSSIP_ACCEPTED,
		.node_id = "ow-1",
		.node_id_len = 4,
	};
	for (size_t i = 0; i < GOSSIP_KX_LEN; i++) {
		ack.overwatch_kx[i] = (uint8_t)(0x10 + i);
	}
	return ack;
}

/* ------------------------------------------------------------------------ */
/* Building valid messages                                                  */

static void make_heartbeat(struct msg *m, bool mac)
{
	const struct gossip_header h = hdr(5);
	const int n = gossip_encode_heartbeat(&h, &the_hb, m->b, sizeof(m->b));
	ck_assert_int_eq(n, (int)(H + 18));
	m->len = (size_t)n;
	if (mac) {
		ck_assert_int_eq(
			gossip_add_mac(m->b, &m->len, sizeof(m->b), skey),
			GSLB_EOK);
	}
}

static void make_register(struct msg *m, bool rotation)
{
	const struct gossip_header h = hdr(1);
	const struct gossip_register reg = the_reg(rotation);
	const int n = gossip_encode_register(&h, &reg, m->b, sizeof(m->b));
	ck_assert_int_gt(n, 0);
	m->len = (size_t)n;
	gossip_sign_begin(m->b, m->len);
	ck_assert_int_eq(
		gossip_sign_end(m->b, &m->len, sizeof(m->b), sig, sizeof(sig)),
		GSLB_EOK);
}

struct collect {
	struct msg *msgs;
	size_t n, max;
	const uint8_t *key; /* NULL: no MAC */
};

static int collect_emit(uint8_t *inner, size_t len, size_t cap, void *arg)
{
	struct collect *c = arg;
	if (c->n >= c->max) {
		ck_abort_msg("more fragments than %zu", c->max);
	}
	if (c->key != NULL &&
	    gossip_add_mac(inner, &len, cap, c->key) != GSLB_EOK) {
		ck_abort_msg("no room for the MAC: %zu of %zu", len, cap);
	}
	memcpy(c->msgs[c->n].b, inner, len);
	c->msgs[c->n].len = len;
	c->n++;
	return GSLB_EOK;
}

/* www.example.com 192.0.2.10:443 and api.example.com [2001:db8::1]:8443 */
static void make_state(struct msg *m)
{
	const struct gossip_header h = hdr(9);
	const struct gossip_backend b[] = {
		backend("www.example.com", "192.0.2.10", 443, 100, true),
		backend("api.example.com", "2001:db8::1", 8443, 0, false),
	};
	struct collect c = { .msgs = m, .max = 1, .key = skey };
	uint64_t seq = h.seq;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 42, &the_pred, b, 2,
					     GOSSIP_MAX_INNER, collect_emit,
					     &c),
			 GSLB_EOK);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(seq, 10);
}

static void make_deregister(struct msg *m, bool mac)
{
	const struct gossip_header h = hdr(99);
	const int n = gossip_encode_deregister(&h, m->b, sizeof(m->b));
	ck_assert_int_eq(n, (int)H);
	m->len = (size_t)n;
	if (mac) {
		ck_assert_int_eq(
			gossip_add_mac(m->b, &m->len, sizeof(m->b), skey),
			GSLB_EOK);
	}
}

static void make_ack(struct msg *m)
{
	const struct gossip_header h = hdr(3);
	const struct gossip_ack ack = the_ack();
	const int n = gossip_encode_ack(&h, &ack, m->b, sizeof(m->b));
	ck_assert_int_eq(n, (int)(H + 32 + 8 + 8 + 3 + 4));
	m->len = (size_t)n;
}

/* Every kind of valid message, for the tests that go over them all. */
enum { M_HB, M_HB_MAC, M_REG, M_REG_ROT, M_STATE, M_DEREG, M_ACK, M_COUNT };

static void make_any(struct msg *m, int which)
{
	switch (which) {
	case M_HB:
		make_heartbeat(m, false);
		break;
	case M_HB_MAC:
		make_heartbeat(m, true);
		break;
	case M_REG:
		make_register(m, false);
		break;
	case M_REG_ROT:
		make_register(m, true);
		break;
	case M_STATE:
		make_state(m);
		break;
	case M_DEREG:
		make_deregister(m, true);
		break;
	default:
		make_ack(m);
		break;
	}
}

/* Seals, opens and decodes m; out points into buf. */
static void through_wire(const struct msg *m, uint8_t *buf,
			 struct gossip_msg *out)
{
	uint8_t dgram[GOSSIP_MAX_DATAGRAM];
	const int n = gossip_seal(gkey, m->b, m->len, dgram, sizeof(dgram));
	ck_assert_int_eq(n, (int)(m->len + GOSSIP_OVERHEAD));
	ck_assert_mem_eq(dgram, "OGSL\x01\x00", 6);
	size_t len = 0;
	ck_assert_int_eq(gossip_open(gkey, dgram, (size_t)n, buf, &len),
			 GOSSIP_ACCEPTED);
	ck_assert_uint_eq(len, m->len);
	ck_assert_mem_eq(buf, m->b, len);
	ck_assert_int_eq(gossip_decode(buf, len, out), GOSSIP_ACCEPTED);
}

static void assert_header(const struct gossip_msg *m, enum gossip_type type,
			  uint8_t flags, uint64_t seq)
{
	ck_assert_int_eq(m->hdr.type, type);
	ck_assert_uint_eq(m->hdr.flags, flags);
	ck_assert_uint_eq(m->hdr.seq, seq);
	ck_assert_int_eq(m->hdr.time, T0);
	ck_assert_str_eq(m->hdr.agent_id, AGENT_ID);
}

static void assert_bytes(const void *p, size_t len, const void *want,
			 size_t want_len)
{
	ck_assert_uint_eq(len, want_len);
	if (len > 0) {
		ck_assert_ptr_nonnull(p);
		ck_assert_mem_eq(p, want, len);
	}
}

static void assert_backend(const struct gossip_backend *got,
			   const struct gossip_backend *want)
{
	assert_bytes(got->service, got->service_len, want->service,
		     want->service_len);
	ck_assert_int_eq(got->ip.family, want->ip.family);
	ck_assert(gslb_ip_equal(&got->ip, &want->ip));
	ck_assert_uint_eq(got->port, want->port);
	ck_assert_uint_eq(got->weight, want->weight);
	ck_assert_int_eq(got->healthy, want->healthy);
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */

START_TEST(stable_names)
{
	const char *const want[GOSSIP_R_COUNT] = {
		"accepted",        "malformed",       "version",
		"unsealable",      "unknown_type",    "replayed",
		"clock",           "unauthenticated", "bad_signature",
		"bad_certificate", "bad_token",       "cert_mismatch",
		"unknown_service", "too_large",
	};
	for (int r = 0; r < GOSSIP_R_COUNT; r++) {
		ck_assert_str_eq(gossip_reject_name((enum gossip_reject)r),
				 want[r]);
	}
	ck_assert_str_eq(gossip_reject_name(GOSSIP_R_COUNT), "unknown");
	ck_assert_str_eq(gossip_drain_reason_name(GOSSIP_DRAIN_NONE), "none");
	ck_assert_str_eq(gossip_drain_reason_name(GOSSIP_DRAIN_CPU),
			 "cpu_threshold_exceeded");
	ck_assert_str_eq(gossip_drain_reason_name(GOSSIP_DRAIN_MEMORY),
			 "memory_threshold_exceeded");
	ck_assert_str_eq(gossip_drain_reason_name(GOSSIP_DRAIN_ERROR_RATE),
			 "error_rate_threshold_exceeded");
	ck_assert_str_eq(gossip_drain_reason_name(GOSSIP_DRAIN_MANUAL),
			 "manual");
}
END_TEST

START_TEST(heartbeat_round_trip)
{
	struct msg m;
	uint8_t buf[GOSSIP_MAX_INNER];
	struct gossip_msg d;

	make_heartbeat(&m, false);
	through_wire(&m, buf, &d);
	assert_header(&d, GOSSIP_HEARTBEAT, 0, 5);
	ck_assert_uint_eq(d.u.heartbeat.state_version, 42);
	ck_assert_uint_eq(d.u.heartbeat.n_backends, 7);
	ck_assert_uint_eq(d.u.heartbeat.interval_ms, 5000);
	ck_assert_uint_eq(d.u.heartbeat.missed_threshold, 3);
	ck_assert_ptr_null(d.mac);
	ck_assert_ptr_null(d.sig);
	ck_assert(!gossip_mac_ok(&d, skey));

	make_heartbeat(&m, true);
	through_wire(&m, buf, &d);
	assert_header(&d, GOSSIP_HEARTBEAT, GOSSIP_F_MAC, 5);
	ck_assert_uint_eq(d.u.heartbeat.state_version, 42);
	ck_assert_ptr_eq(d.authed, buf);
	ck_assert_uint_eq(d.authed_len, m.len - GOSSIP_MAC_LEN);
	ck_assert_ptr_eq(d.mac, buf + d.authed_len);
	ck_assert(gossip_mac_ok(&d, skey));
	ck_assert(!gossip_mac_ok(&d, other_key));
}
END_TEST

START_TEST(register_round_trip)
{
	struct msg m;
	uint8_t buf[GOSSIP_MAX_INNER];
	struct gossip_msg d;

	for (int rot = 0; rot <= 1; rot++) {
		const struct gossip_register want = the_reg(rot);
		make_register(&m, rot);
		through_wire(&m, buf, &d);
		assert_header(&d, GOSSIP_REGISTER, GOSSIP_F_SIG, 1);
		const struct gossip_register *reg = &d.u.reg;
		assert_bytes(reg->token, reg->token_len, want.token,
			     want.token_len);
		assert_bytes(reg->cert, reg->cert_len, cert, sizeof(cert));
		ck_assert_mem_eq(reg->agent_kx, want.agent_kx, GOSSIP_KX_LEN);
		ck_assert_mem_eq(reg->overwatch_kx, want.overwatch_kx,
				 GOSSIP_KX_LEN);
		ck_assert_uint_eq(reg->interval_ms, 5000);
		ck_assert_uint_eq(reg->missed_threshold, 3);
		assert_bytes(reg->region, reg->region_len, "eu-west", 7);
		ck_assert_uint_eq(reg->n_services, 2);
		for (size_t i = 0; i < 2; i++) {
			assert_bytes(reg->services[i], reg->service_lens[i],
				     want.services[i], want.service_lens[i]);
		}
		assert_bytes(reg->prev_cert, reg->prev_cert_len, want.prev_cert,
			     want.prev_cert_len);
		assert_bytes(reg->endorsement, reg->endorsement_len,
			     want.endorsement, want.endorsement_len);
		/* The signature covers everything before it. */
		ck_assert_ptr_eq(d.authed, buf);
		ck_assert_uint_eq(d.authed_len, m.len - 2 - FAKESIG);
		assert_bytes(d.sig, d.sig_len, sig, sizeof(sig));
		ck_assert_ptr_null(d.mac);
		ck_assert(!gossip_mac_ok(&d, skey));
	}

	/* Minimal: no region, no services. */
	struct gossip_register reg = the_reg(false);
	reg.region = NULL;
	reg.region_len = 0;
	reg.n_services = 0;
	const struct gossip_header h = hdr(2);
	const int n = gossip_encode_register(&h, &reg, m.b, sizeof(m.b));
	ck_assert_int_gt(n, 0);
	m.len = (size_t)n;
	gossip_sign_begin(m.b, m.len);
	ck_assert_int_eq(gossip_sign_end(m.b, &m.len, sizeof(m.b), sig, 1),
			 GSLB_EOK);
	through_wire(&m, buf, &d);
	ck_assert_uint_eq(d.u.reg.region_len, 0);
	ck_assert_uint_eq(d.u.reg.n_services, 0);
	ck_assert_uint_eq(d.sig_len, 1);
}
END_TEST

START_TEST(state_round_trip)
{
	struct msg m;
	uint8_t buf[GOSSIP_MAX_INNER];
	struct gossip_msg d;
	const struct gossip_backend want[] = {
		backend("www.example.com", "192.0.2.10", 443, 100, true),
		backend("api.example.com", "2001:db8::1", 8443, 0, false),
	};

	make_state(&m);
	through_wire(&m, buf, &d);
	assert_header(&d, GOSSIP_STATE, GOSSIP_F_MAC, 9);
	const struct gossip_state *st = &d.u.state;
	ck_assert_uint_eq(st->state_version, 42);
	ck_assert_uint_eq(st->frag_index, 0);
	ck_assert_uint_eq(st->frag_count, 1);
	ck_assert_int_eq(st->predictive.draining, true);
	ck_assert_int_eq(st->predictive.reason, GOSSIP_DRAIN_CPU);
	ck_assert_uint_eq(st->predictive.cpu_centi, 9123);
	ck_assert_uint_eq(st->predictive.mem_centi, 4567);
	ck_assert_uint_eq(st->predictive.error_rate_centi, 250);
	ck_assert_uint_eq(st->n_backends, 2);
	ck_assert(gossip_mac_ok(&d, skey));

	struct gossip_state_iter it;
	struct gossip_backend b;
	gossip_state_iter_init(&it, st);
	for (size_t i = 0; i < 2; i++) {
		ck_assert(gossip_state_next(&it, &b));
		assert_backend(&b, &want[i]);
	}
	ck_assert(!gossip_state_next(&it, &b));
	ck_assert(!gossip_state_next(&it, &b));

	/* An empty state is one fragment without backends. */
	const struct gossip_header h = hdr(20);
	const struct gossip_predictive idle = { .reason = GOSSIP_DRAIN_NONE };
	struct collect c = { .msgs = &m, .max = 1, .key = skey };
	uint64_t seq = 20;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 43, &idle, NULL, 0,
					     GOSSIP_MAX_INNER, collect_emit,
					     &c),
			 GSLB_EOK);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(seq, 21);
	through_wire(&m, buf, &d);
	ck_assert_uint_eq(d.u.state.n_backends, 0);
	ck_assert_uint_eq(d.u.state.frag_count, 1);
	ck_assert_int_eq(d.u.state.predictive.draining, false);
	gossip_state_iter_init(&it, &d.u.state);
	ck_assert(!gossip_state_next(&it, &b));
}
END_TEST

START_TEST(deregister_round_trip)
{
	struct msg m;
	uint8_t buf[GOSSIP_MAX_INNER];
	struct gossip_msg d;

	make_deregister(&m, true);
	through_wire(&m, buf, &d);
	assert_header(&d, GOSSIP_DEREGISTER, GOSSIP_F_MAC, 99);
	ck_assert_uint_eq(d.authed_len, H);
	ck_assert(gossip_mac_ok(&d, skey));
}
END_TEST

START_TEST(ack_round_trip)
{
	struct msg m;
	uint8_t buf[GOSSIP_MAX_INNER];
	struct gossip_msg d;
	const struct gossip_ack want = the_ack();

	make_ack(&m);
	through_wire(&m, buf, &d);
	assert_header(&d, GOSSIP_ACK, 0, 3);
	ck_assert_mem_eq(d.u.ack.overwatch_kx, want.overwatch_kx,
			 GOSSIP_KX_LEN);
	ck_assert_uint_eq(d.u.ack.acked_seq, 77);
	ck_assert_uint_eq(d.u.ack.state_version, 42);
	ck_assert_uint_eq(d.u.ack.flags, GOSSIP_ACK_NEED_STATE);
	ck_assert_int_eq(d.u.ack.reason, GOSSIP_ACCEPTED);
	assert_bytes(d.u.ack.node_id, d.u.ack.node_id_len, "ow-1", 4);

	/* A refusal with every flag and the last reason; no node id. */
	struct gossip_ack ack = want;
	ack.flags = GOSSIP_ACK_NEED_REGISTER | GOSSIP_ACK_NEED_STATE |
		    GOSSIP_ACK_REFUSED;
	ack.reason = GOSSIP_R_TOO_LARGE;
	ack.node_id = NULL;
	ack.node_id_len = 0;
	const struct gossip_header h = hdr(4);
	const int n = gossip_encode_ack(&h, &ack, m.b, sizeof(m.b));
	ck_assert_int_gt(n, 0);
	m.len = (size_t)n;
	through_wire(&m, buf, &d);
	ck_assert_uint_eq(d.u.ack.flags, 0x07);
	ck_assert_int_eq(d.u.ack.reason, GOSSIP_R_TOO_LARGE);
	ck_assert_uint_eq(d.u.ack.node_id_len, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Encoders refuse what decoders would                                      */

static int noop_emit(uint8_t *inner, size_t len, size_t cap, void *arg)
{
	(void)inner;
	(void)len;
	(void)cap;
	(*(size_t *)arg)++;
	return GSLB_EOK;
}

START_TEST(encoders_refuse)
{
	uint8_t out[GOSSIP_MAX_INNER];
	struct gossip_header h = hdr(1);

	static const char *const bad_ids[] = {
		"", "a b", "agent/1", "ag\xc3\xa9nt", "agent:1",
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(bad_ids); i++) {
		memset(h.agent_id, 0, sizeof(h.agent_id));
		memcpy(h.agent_id, bad_ids[i],
		       strnlen(bad_ids[i], sizeof(h.agent_id)));
		ck_assert_msg(gossip_encode_heartbeat(&h, &the_hb, out,
						      sizeof(out)) ==
				      GSLB_EINVAL,
			      "\"%s\"", bad_ids[i]);
	}
	/* 64 characters is the longest. */
	memset(h.agent_id, 'x', GOSSIP_AGENT_ID_MAX);
	h.agent_id[GOSSIP_AGENT_ID_MAX] = '\0';
	ck_assert_int_eq(gossip_encode_heartbeat(&h, &the_hb, out, sizeof(out)),
			 19 + 64 + 18);
	/* Not even with the terminator overwritten. */
	h.agent_id[GOSSIP_AGENT_ID_MAX] = 'x';
	ck_assert_int_eq(gossip_encode_heartbeat(&h, &the_hb, out, sizeof(out)),
			 GSLB_EINVAL);

	h = hdr(0);
	ck_assert_int_eq(gossip_encode_deregister(&h, out, sizeof(out)),
			 GSLB_EINVAL);
	h = hdr(1);
	ck_assert_int_eq(gossip_encode_heartbeat(&h, &the_hb, out, H + 17),
			 GSLB_ESPACE);
	ck_assert_int_eq(gossip_encode_heartbeat(&h, &the_hb, out, H + 18),
			 (int)(H + 18));

	struct gossip_register reg;
	char long_token[GOSSIP_TOKEN_MAX + 1];
	memset(long_token, 't', sizeof(long_token));
#define REG_BAD(field, value)                                                 \
	do {                                                                  \
		reg = the_reg(true);                                          \
		reg.field = value;                                            \
		ck_assert_msg(                                                \
			gossip_encode_register(&h, &reg, out, sizeof(out)) == \
				GSLB_EINVAL,                                  \
			#field " = " #value);                                 \
	} while (0)
	REG_BAD(token_len, 0);
	reg = the_reg(true);
	reg.token = long_token;
	reg.token_len = sizeof(long_token);
	ck_assert_int_eq(gossip_encode_register(&h, &reg, out, sizeof(out)),
			 GSLB_EINVAL);
	reg.token_len = GOSSIP_TOKEN_MAX;
	ck_assert_int_gt(gossip_encode_register(&h, &reg, out, sizeof(out)), 0);
	REG_BAD(cert_len, 0);
	REG_BAD(cert_len, GOSSIP_CERT_MAX + 1);
	REG_BAD(region_len, GOSSIP_REGION_MAX + 1);
	REG_BAD(region, "eu\nwest");
	REG_BAD(n_services, GOSSIP_SERVICES_MAX + 1);
	REG_BAD(services[1], "api example.com");
	REG_BAD(service_lens[1], 0);
	REG_BAD(service_lens[1], 254);
	REG_BAD(prev_cert_len, 0);
	REG_BAD(endorsement_len, 0);
	REG_BAD(prev_cert_len, GOSSIP_CERT_MAX + 1);
#undef REG_BAD
	/* Two full certificates do not fit in a datagram, whatever the
	 * buffer. */
	static uint8_t big[GOSSIP_CERT_MAX];
	static uint8_t huge[2 * GOSSIP_MAX_DATAGRAM];
	reg = the_reg(true);
	reg.cert = big;
	reg.cert_len = sizeof(big);
	reg.prev_cert = big;
	reg.prev_cert_len = sizeof(big);
	ck_assert_int_eq(gossip_encode_register(&h, &reg, huge, sizeof(huge)),
			 GSLB_ESPACE);

	struct gossip_ack ack = the_ack();
	ack.flags = 0x08;
	ck_assert_int_eq(gossip_encode_ack(&h, &ack, out, sizeof(out)),
			 GSLB_EINVAL);
	ack = the_ack();
	ack.reason = GOSSIP_R_COUNT;
	ck_assert_int_eq(gossip_encode_ack(&h, &ack, out, sizeof(out)),
			 GSLB_EINVAL);
	ack = the_ack();
	ack.node_id = "ow\0001";
	ck_assert_int_eq(gossip_encode_ack(&h, &ack, out, sizeof(out)),
			 GSLB_EINVAL);

	/* State: every backend and the predictive signal are checked. */
	struct gossip_backend b[2] = {
		backend("www.example.com", "192.0.2.10", 443, 100, true),
		backend("api.example.com", "2001:db8::1", 8443, 0, false),
	};
	struct gossip_predictive pred = the_pred;
	size_t emitted = 0;
	uint64_t seq = 1;
	b[1].port = 0;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &pred, b, 2,
					     GOSSIP_MAX_INNER, noop_emit,
					     &emitted),
			 GSLB_EINVAL);
	b[1].port = 1;
	b[1].ip.family = AF_UNIX;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &pred, b, 2,
					     GOSSIP_MAX_INNER, noop_emit,
					     &emitted),
			 GSLB_EINVAL);
	b[1].ip.family = AF_INET6;
	b[1].service = "a b";
	b[1].service_len = 3;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &pred, b, 2,
					     GOSSIP_MAX_INNER, noop_emit,
					     &emitted),
			 GSLB_EINVAL);
	b[1].service = "ab";
	b[1].service_len = 2;
	pred.cpu_centi = 10001;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &pred, b, 2,
					     GOSSIP_MAX_INNER, noop_emit,
					     &emitted),
			 GSLB_EINVAL);
	pred = the_pred;
	pred.reason = (enum gossip_drain_reason)(GOSSIP_DRAIN_MANUAL + 1);
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &pred, b, 2,
					     GOSSIP_MAX_INNER, noop_emit,
					     &emitted),
			 GSLB_EINVAL);
	pred = the_pred;
	seq = 0;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &pred, b, 2,
					     GOSSIP_MAX_INNER, noop_emit,
					     &emitted),
			 GSLB_EINVAL);
	ck_assert_uint_eq(emitted, 0);
	seq = 1;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &pred, b, 2,
					     GOSSIP_MAX_INNER, noop_emit,
					     &emitted),
			 GSLB_EOK);
	ck_assert_uint_eq(emitted, 1);
	ck_assert_uint_eq(seq, 2);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Rejections                                                               */

static enum gossip_reject decode_copy(const struct msg *m)
{
	struct gossip_msg d;
	uint8_t *copy = malloc(m->len + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, m->b, m->len);
	/* A copy of exactly len bytes, so that valgrind and ASan see any
	 * read past it. */
	const enum gossip_reject r = gossip_decode(copy, m->len, &d);
	free(copy);
	return r;
}

/* m with one byte changed. */
static enum gossip_reject patched(const struct msg *m, size_t off, uint8_t v)
{
	struct msg c = *m;
	ck_assert_uint_lt(off, c.len);
	c.b[off] = v;
	return decode_copy(&c);
}

START_TEST(truncated_and_trailing)
{
	struct msg m;
	struct gossip_msg d;

	for (int which = 0; which < M_COUNT; which++) {
		make_any(&m, which);
		ck_assert_int_eq(decode_copy(&m), GOSSIP_ACCEPTED);
		const size_t full = m.len;
		for (size_t len = 0; len < full; len++) {
			m.len = len;
			ck_assert_msg(decode_copy(&m) == GOSSIP_R_MALFORMED,
				      "message %d cut to %zu of %zu", which,
				      len, full);
		}
		m.len = full + 1;
		m.b[full] = 0;
		ck_assert_msg(decode_copy(&m) == GOSSIP_R_MALFORMED,
			      "message %d with a byte more", which);
	}
	ck_assert_int_eq(gossip_decode(m.b, GOSSIP_MAX_INNER + 1, &d),
			 GOSSIP_R_MALFORMED);
}
END_TEST

START_TEST(header_rejections)
{
	struct msg m;

	make_heartbeat(&m, false);
	ck_assert_int_eq(patched(&m, 0, 0), GOSSIP_R_UNKNOWN_TYPE);
	ck_assert_int_eq(patched(&m, 0, 6), GOSSIP_R_UNKNOWN_TYPE);
	ck_assert_int_eq(patched(&m, 0, 0xff), GOSSIP_R_UNKNOWN_TYPE);
	/* Last agent id character, the id length. */
	ck_assert_int_eq(patched(&m, H - 1, '/'), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H - 1, ' '), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H - 1, 0), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, 18, 0), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, 18, 65), GOSSIP_R_MALFORMED);
	/* Sequence number 0. */
	struct msg z = m;
	memset(z.b + 2, 0, 8);
	ck_assert_int_eq(decode_copy(&z), GOSSIP_R_MALFORMED);
	z.b[9] = 1;
	ck_assert_int_eq(decode_copy(&z), GOSSIP_ACCEPTED);
	/* Any time decodes; gossip_time_ok judges it. */
	memset(z.b + 10, 0xff, 8);
	ck_assert_int_eq(decode_copy(&z), GOSSIP_ACCEPTED);

	/* Flags: unknown bits, both authenticators, the wrong one. */
	make_heartbeat(&m, true);
	ck_assert_int_eq(patched(&m, 1, GOSSIP_F_MAC | 0x04),
			 GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, 1, 0x80), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, 1, GOSSIP_F_MAC | GOSSIP_F_SIG),
			 GOSSIP_R_MALFORMED);
	make_heartbeat(&m, false);
	gossip_sign_begin(m.b, m.len);
	ck_assert_int_eq(
		gossip_sign_end(m.b, &m.len, sizeof(m.b), sig, sizeof(sig)),
		GSLB_EOK);
	ck_assert_int_eq(decode_copy(&m), GOSSIP_R_MALFORMED);

	/* Registration: must be signed. */
	make_register(&m, false);
	ck_assert_int_eq(patched(&m, 1, 0), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, 1, GOSSIP_F_MAC), GOSSIP_R_MALFORMED);

	/* State: MAC only. */
	make_state(&m);
	ck_assert_int_eq(patched(&m, 1, GOSSIP_F_SIG), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, 1, 0), GOSSIP_R_MALFORMED);
	struct msg bare = m;
	bare.len -= GOSSIP_MAC_LEN;
	bare.b[1] = 0;
	ck_assert_int_eq(decode_copy(&bare), GOSSIP_R_MALFORMED);

	/* Deregister: MAC only. */
	make_deregister(&m, false);
	ck_assert_int_eq(decode_copy(&m), GOSSIP_R_MALFORMED);
	make_deregister(&m, true);
	ck_assert_int_eq(patched(&m, 1, GOSSIP_F_SIG), GOSSIP_R_MALFORMED);

	/* Acknowledgement: nothing. */
	make_ack(&m);
	ck_assert_int_eq(gossip_add_mac(m.b, &m.len, sizeof(m.b), skey),
			 GSLB_EOK);
	ck_assert_int_eq(decode_copy(&m), GOSSIP_R_MALFORMED);
}
END_TEST

START_TEST(register_rejections)
{
	struct msg m, u;
	const struct gossip_header h = hdr(1);
	const struct gossip_register reg = the_reg(false);

	/* Unsigned body; ends with prev_cert and endorsement lengths 0. */
	const int n = gossip_encode_register(&h, &reg, u.b, sizeof(u.b));
	ck_assert_int_gt(n, 4);
	u.len = (size_t)n;
	ck_assert_mem_eq(u.b + u.len - 4, "\0\0\0\0", 4);

	/* Signature lengths 0 and GOSSIP_SIG_MAX + 1, written by hand. */
	m = u;
	gossip_sign_begin(m.b, m.len);
	m.b[m.len++] = 0;
	m.b[m.len++] = 0;
	ck_assert_int_eq(decode_copy(&m), GOSSIP_R_MALFORMED);
	m.len -= 2;
	m.b[m.len++] = 0;
	m.b[m.len++] = GOSSIP_SIG_MAX + 1;
	memset(m.b + m.len, 0x30, GOSSIP_SIG_MAX + 1);
	m.len += GOSSIP_SIG_MAX + 1;
	ck_assert_int_eq(decode_copy(&m), GOSSIP_R_MALFORMED);
	m.b[u.len + 1] = GOSSIP_SIG_MAX;
	m.len--;
	ck_assert_int_eq(decode_copy(&m), GOSSIP_ACCEPTED);

	/* An endorsement without a previous certificate. */
	m = u;
	m.len -= 2;
	m.b[m.len++] = 0;
	m.b[m.len++] = 1;
	m.b[m.len++] = 0xee;
	gossip_sign_begin(m.b, m.len);
	ck_assert_int_eq(
		gossip_sign_end(m.b, &m.len, sizeof(m.b), sig, sizeof(sig)),
		GSLB_EOK);
	ck_assert_int_eq(decode_copy(&m), GOSSIP_R_MALFORMED);

	make_register(&m, false);
	/* token length 0 */
	ck_assert_int_eq(patched(&m, H, 0), GOSSIP_R_MALFORMED);
	/* cert length 0 (the token is 12 bytes) */
	struct msg c = m;
	c.b[H + 13] = 0;
	c.b[H + 14] = 0;
	ck_assert_int_eq(decode_copy(&c), GOSSIP_R_MALFORMED);
	/* region "eu-west" with a control character, then length 64 */
	const size_t region = H + 1 + 12 + 2 + sizeof(cert) + 64 + 4 + 2;
	ck_assert_uint_eq(m.b[region], 7);
	ck_assert_int_eq(patched(&m, region + 1, '\t'), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, region, 64), GOSSIP_R_MALFORMED);
	/* services: count 65, a space in the first, a length 0 */
	const size_t svc = region + 1 + 7;
	ck_assert_uint_eq(m.b[svc], 2);
	ck_assert_int_eq(patched(&m, svc, 65), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, svc + 2 + 3, ' '), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, svc + 1, 0), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(decode_copy(&m), GOSSIP_ACCEPTED);
}
END_TEST

START_TEST(state_rejections)
{
	struct msg m;

	make_state(&m);
	ck_assert_int_eq(decode_copy(&m), GOSSIP_ACCEPTED);
	/* The fixed part: version (8), index, count, flags, reason, cpu,
	 * mem, error rate, n_backends. */
	ck_assert_int_eq(patched(&m, H + 9, 1), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H + 11, 0), GOSSIP_R_MALFORMED);
	struct msg c = m;
	c.b[H + 10] = 0x04; /* 1025 */
	c.b[H + 11] = 0x01;
	ck_assert_int_eq(decode_copy(&c), GOSSIP_R_MALFORMED);
	c.b[H + 11] = 0x00; /* 1024 */
	ck_assert_int_eq(decode_copy(&c), GOSSIP_ACCEPTED);
	ck_assert_int_eq(patched(&m, H + 12, 0x02), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H + 12, 0x00), GOSSIP_ACCEPTED);
	ck_assert_int_eq(patched(&m, H + 13, GOSSIP_DRAIN_MANUAL + 1),
			 GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H + 13, GOSSIP_DRAIN_MANUAL),
			 GOSSIP_ACCEPTED);
	c = m;
	c.b[H + 14] = 0x27; /* 10001 */
	c.b[H + 15] = 0x11;
	ck_assert_int_eq(decode_copy(&c), GOSSIP_R_MALFORMED);
	c.b[H + 15] = 0x10; /* 10000 */
	ck_assert_int_eq(decode_copy(&c), GOSSIP_ACCEPTED);
	c = m;
	c.b[H + 16] = 0x27;
	c.b[H + 17] = 0x11;
	ck_assert_int_eq(decode_copy(&c), GOSSIP_R_MALFORMED);
	/* More and fewer backends than there are. */
	ck_assert_uint_eq(m.b[H + 23], 2);
	ck_assert_int_eq(patched(&m, H + 23, 3), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H + 23, 1), GOSSIP_R_MALFORMED);

	/* The first entry: www.example.com 192.0.2.10:443 100 healthy. */
	const size_t e = H + 24;
	ck_assert_uint_eq(m.b[e], 15);
	ck_assert_int_eq(patched(&m, e, 0), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, e + 4, ' '), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, e + 4, 0x7f), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, e + 4, 0xc3), GOSSIP_R_MALFORMED);
	ck_assert_uint_eq(m.b[e + 16], 4);
	ck_assert_int_eq(patched(&m, e + 16, 5), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, e + 16, 0), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, e + 16, 6), GOSSIP_R_MALFORMED);
	c = m;
	c.b[e + 21] = 0; /* port 443 -> 0 */
	c.b[e + 22] = 0;
	ck_assert_int_eq(decode_copy(&c), GOSSIP_R_MALFORMED);
	ck_assert_uint_eq(m.b[e + 27], 1);
	ck_assert_int_eq(patched(&m, e + 27, 2), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, e + 27, 0xff), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, e + 27, 0), GOSSIP_ACCEPTED);
}
END_TEST

START_TEST(ack_rejections)
{
	struct msg m;

	make_ack(&m);
	ck_assert_int_eq(patched(&m, H + 48, 0x08), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H + 48, 0x07), GOSSIP_ACCEPTED);
	ck_assert_int_eq(patched(&m, H + 49, GOSSIP_R_COUNT),
			 GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H + 49, GOSSIP_R_COUNT - 1),
			 GOSSIP_ACCEPTED);
	ck_assert_int_eq(patched(&m, H + 50, 5), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H + 50, 3), GOSSIP_R_MALFORMED);
	ck_assert_int_eq(patched(&m, H + 52, '\n'), GOSSIP_R_MALFORMED);
}
END_TEST

START_TEST(open_rejections)
{
	struct msg m;
	uint8_t dgram[GOSSIP_MAX_DATAGRAM + 1], inner[GOSSIP_MAX_DATAGRAM + 1];
	size_t inner_len = 99;

	make_state(&m);
	const int n = gossip_seal(gkey, m.b, m.len, dgram, sizeof(dgram));
	ck_assert_int_eq(n, (int)(m.len + GOSSIP_OVERHEAD));
	const size_t len = (size_t)n;

	/* Truncated anywhere: too short, or its tag fails. */
	for (size_t i = 0; i < len; i++) {
		const enum gossip_reject want = i < GOSSIP_OVERHEAD
							? GOSSIP_R_MALFORMED
							: GOSSIP_R_UNSEALABLE;
		ck_assert_msg(gossip_open(gkey, dgram, i, inner, &inner_len) ==
				      want,
			      "cut to %zu", i);
		ck_assert_uint_eq(inner_len, 0);
	}

	uint8_t bad[GOSSIP_MAX_DATAGRAM];
	memcpy(bad, dgram, len);
	bad[0] = 'o';
	ck_assert_int_eq(gossip_open(gkey, bad, len, inner, &inner_len),
			 GOSSIP_R_MALFORMED);
	memcpy(bad, dgram, len);
	bad[4] = 2;
	ck_assert_int_eq(gossip_open(gkey, bad, len, inner, &inner_len),
			 GOSSIP_R_VERSION);
	/* Even when it is short: the version tells more than the length. */
	ck_assert_int_eq(gossip_open(gkey, bad, 5, inner, &inner_len),
			 GOSSIP_R_VERSION);
	memcpy(bad, dgram, len);
	bad[5] = 1;
	ck_assert_int_eq(gossip_open(gkey, bad, len, inner, &inner_len),
			 GOSSIP_R_MALFORMED);

	/* Every bit of the nonce, ciphertext and tag is covered; nothing of
	 * a forgery is left in inner. */
	for (size_t i = GOSSIP_OUTER_LEN - 24; i < len; i++) {
		memcpy(bad, dgram, len);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		memset(inner, 0x55, sizeof(inner));
		ck_assert_msg(gossip_open(gkey, bad, len, inner, &inner_len) ==
				      GOSSIP_R_UNSEALABLE,
			      "byte %zu", i);
		for (size_t j = 0; j < len - GOSSIP_OVERHEAD; j++) {
			ck_assert_uint_eq(inner[j], 0);
		}
	}

	uint8_t wrong[GSLB_GOSSIP_KEY_LEN];
	memcpy(wrong, gkey, sizeof(wrong));
	wrong[31] ^= 1;
	ck_assert_int_eq(gossip_open(wrong, dgram, len, inner, &inner_len),
			 GOSSIP_R_UNSEALABLE);
	ck_assert_int_eq(gossip_open(gkey, dgram, len, inner, &inner_len),
			 GOSSIP_ACCEPTED);
	ck_assert_uint_eq(inner_len, m.len);

	/* The largest datagram, and one byte more. */
	static uint8_t big[GOSSIP_MAX_INNER + 1];
	ck_assert_int_eq(gossip_seal(gkey, big, GOSSIP_MAX_INNER + 1, dgram,
				     sizeof(dgram)),
			 GSLB_ESPACE);
	ck_assert_int_eq(gossip_seal(gkey, big, GOSSIP_MAX_INNER, dgram,
				     GOSSIP_MAX_DATAGRAM - 1),
			 GSLB_ESPACE);
	ck_assert_int_eq(gossip_seal(gkey, big, GOSSIP_MAX_INNER, dgram,
				     GOSSIP_MAX_DATAGRAM),
			 GOSSIP_MAX_DATAGRAM);
	ck_assert_int_eq(gossip_open(gkey, dgram, GOSSIP_MAX_DATAGRAM, inner,
				     &inner_len),
			 GOSSIP_ACCEPTED);
	ck_assert_uint_eq(inner_len, GOSSIP_MAX_INNER);
	dgram[GOSSIP_MAX_DATAGRAM] = 0;
	ck_assert_int_eq(gossip_open(gkey, dgram, GOSSIP_MAX_DATAGRAM + 1,
				     inner, &inner_len),
			 GOSSIP_R_MALFORMED);
	/* The nonce is fresh every time. */
	uint8_t again[GOSSIP_MAX_DATAGRAM];
	ck_assert_int_eq(gossip_seal(gkey, m.b, m.len, again, sizeof(again)),
			 n);
	ck_assert_mem_ne(again + 6, dgram + 6, 24);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Authenticators and keys                                                  */

START_TEST(mac)
{
	struct msg m;
	struct gossip_msg d;

	for (int which = 0; which < M_COUNT; which++) {
		if (which != M_HB_MAC && which != M_STATE && which != M_DEREG) {
			continue;
		}
		make_any(&m, which);
		ck_assert_uint_eq(m.b[1], GOSSIP_F_MAC);
		ck_assert_int_eq(gossip_decode(m.b, m.len, &d),
				 GOSSIP_ACCEPTED);
		ck_assert(gossip_mac_ok(&d, skey));
		ck_assert(!gossip_mac_ok(&d, other_key));
		/* Every byte is covered, the flags too. */
		for (size_t i = 0; i < m.len; i++) {
			struct msg c = m;
			c.b[i] ^= 0x01;
			if (gossip_decode(c.b, c.len, &d) == GOSSIP_ACCEPTED) {
				ck_assert_msg(!gossip_mac_ok(&d, skey),
					      "message %d byte %zu", which, i);
			}
		}
	}

	/* The MAC is over the bytes before it, flag set. */
	make_heartbeat(&m, false);
	const size_t len = m.len;
	uint8_t want[GOSSIP_MAC_LEN];
	m.b[1] = GOSSIP_F_MAC;
	crypto_auth(want, m.b, len, skey);
	m.b[1] = 0;
	ck_assert_int_eq(
		gossip_add_mac(m.b, &m.len, len + GOSSIP_MAC_LEN - 1, skey),
		GSLB_ESPACE);
	ck_assert_uint_eq(m.len, len);
	ck_assert_int_eq(
		gossip_add_mac(m.b, &m.len, len + GOSSIP_MAC_LEN, skey),
		GSLB_EOK);
	ck_assert_uint_eq(m.len, len + GOSSIP_MAC_LEN);
	ck_assert_mem_eq(m.b + len, want, GOSSIP_MAC_LEN);

	/* No MAC at all is never ok. */
	make_heartbeat(&m, false);
	ck_assert_int_eq(gossip_decode(m.b, m.len, &d), GOSSIP_ACCEPTED);
	ck_assert(!gossip_mac_ok(&d, skey));
}
END_TEST

START_TEST(sign_layout)
{
	struct msg m;
	const struct gossip_header h = hdr(1);
	const struct gossip_register reg = the_reg(false);

	const int n = gossip_encode_register(&h, &reg, m.b, sizeof(m.b));
	ck_assert_int_gt(n, 0);
	m.len = (size_t)n;
	ck_assert_uint_eq(m.b[1], 0);
	gossip_sign_begin(m.b, m.len);
	ck_assert_uint_eq(m.b[1], GOSSIP_F_SIG);
	const size_t len = m.len;
	ck_assert_int_eq(gossip_sign_end(m.b, &m.len, sizeof(m.b), sig, 0),
			 GSLB_EINVAL);
	ck_assert_int_eq(gossip_sign_end(m.b, &m.len, sizeof(m.b), sig,
					 GOSSIP_SIG_MAX + 1),
			 GSLB_EINVAL);
	ck_assert_int_eq(gossip_sign_end(m.b, &m.len, len + 2 + FAKESIG - 1,
					 sig, sizeof(sig)),
			 GSLB_ESPACE);
	ck_assert_uint_eq(m.len, len);
	ck_assert_int_eq(gossip_sign_end(m.b, &m.len, len + 2 + FAKESIG, sig,
					 sizeof(sig)),
			 GSLB_EOK);
	ck_assert_uint_eq(m.len, len + 2 + FAKESIG);
	ck_assert_uint_eq(m.b[len], 0);
	ck_assert_uint_eq(m.b[len + 1], FAKESIG);
	ck_assert_mem_eq(m.b + len + 2, sig, FAKESIG);

	struct gossip_msg d;
	ck_assert_int_eq(gossip_decode(m.b, m.len, &d), GOSSIP_ACCEPTED);
	ck_assert_ptr_eq(d.authed, m.b);
	ck_assert_uint_eq(d.authed_len, len);
	ck_assert_ptr_eq(d.sig, m.b + len + 2);
	ck_assert_uint_eq(d.sig_len, FAKESIG);
}
END_TEST

START_TEST(endorsement_layout)
{
	uint8_t out[512];
	const int n = gossip_endorsement_data(AGENT_ID, cert, sizeof(cert), out,
					      sizeof(out));
	const size_t id_len = sizeof(AGENT_ID) - 1;
	ck_assert_int_eq(n, (int)(15 + 1 + id_len + sizeof(cert)));
	ck_assert_mem_eq(out, "opengslb-rotate", 15);
	ck_assert_uint_eq(out[15], id_len);
	ck_assert_mem_eq(out + 16, AGENT_ID, id_len);
	ck_assert_mem_eq(out + 16 + id_len, cert, sizeof(cert));
	ck_assert_int_eq(gossip_endorsement_data(AGENT_ID, cert, sizeof(cert),
						 out, (size_t)n - 1),
			 GSLB_ESPACE);
	ck_assert_int_eq(gossip_endorsement_data("a b", cert, sizeof(cert), out,
						 sizeof(out)),
			 GSLB_EINVAL);
	ck_assert_int_eq(
		gossip_endorsement_data(AGENT_ID, cert, 0, out, sizeof(out)),
		GSLB_EINVAL);
}
END_TEST

START_TEST(session_keys)
{
	struct gossip_kx agent, agent2, ow;
	uint8_t ka[GOSSIP_KEY_LEN], ko[GOSSIP_KEY_LEN];
	uint8_t ka2[GOSSIP_KEY_LEN], ko2[GOSSIP_KEY_LEN];

	gossip_kx_new(&agent);
	gossip_kx_new(&agent2);
	gossip_kx_new(&ow);
	ck_assert_int_eq(gossip_session_agent(&agent, ow.pk, ka), GSLB_EOK);
	ck_assert_int_eq(gossip_session_overwatch(&ow, agent.pk, ko), GSLB_EOK);
	ck_assert_mem_eq(ka, ko, GOSSIP_KEY_LEN);
	ck_assert_int_eq(gossip_session_agent(&agent2, ow.pk, ka2), GSLB_EOK);
	ck_assert_int_eq(gossip_session_overwatch(&ow, agent2.pk, ko2),
			 GSLB_EOK);
	ck_assert_mem_eq(ka2, ko2, GOSSIP_KEY_LEN);
	ck_assert_mem_ne(ka, ka2, GOSSIP_KEY_LEN);

	/* The key authenticates the agent's message end to end. */
	struct msg m;
	struct gossip_msg d;
	make_heartbeat(&m, false);
	ck_assert_int_eq(gossip_add_mac(m.b, &m.len, sizeof(m.b), ka),
			 GSLB_EOK);
	ck_assert_int_eq(gossip_decode(m.b, m.len, &d), GOSSIP_ACCEPTED);
	ck_assert(gossip_mac_ok(&d, ko));
	ck_assert(!gossip_mac_ok(&d, ko2));

	/* A low-order peer key makes no key. */
	static const uint8_t zero[GOSSIP_KX_LEN];
	ck_assert_int_eq(gossip_session_agent(&agent, zero, ka), GSLB_EINVAL);
	ck_assert_int_eq(gossip_session_overwatch(&ow, zero, ko), GSLB_EINVAL);

	gossip_kx_wipe(&agent);
	ck_assert_mem_eq(agent.sk, zero, sizeof(agent.sk));
	ck_assert_mem_eq(agent.pk, zero, sizeof(agent.pk));
	gossip_kx_wipe(&agent2);
	gossip_kx_wipe(&ow);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Receiver helpers                                                         */

START_TEST(replay_window)
{
	struct gossip_replay r = { 0 };

	ck_assert(!gossip_replay_fresh(&r, 0));
	ck_assert(gossip_replay_fresh(&r, 1));
	ck_assert(gossip_replay_fresh(&r, 1000));
	gossip_replay_accept(&r, 100);
	ck_assert(!gossip_replay_fresh(&r, 100));
	ck_assert(!gossip_replay_fresh(&r, 0));
	ck_assert(gossip_replay_fresh(&r, 101));
	/* Within the window, out of order, each once. */
	ck_assert(gossip_replay_fresh(&r, 99));
	ck_assert(gossip_replay_fresh(&r, 37));
	ck_assert(!gossip_replay_fresh(&r, 36));
	ck_assert(!gossip_replay_fresh(&r, 1));
	gossip_replay_accept(&r, 90);
	gossip_replay_accept(&r, 37);
	ck_assert(!gossip_replay_fresh(&r, 90));
	ck_assert(!gossip_replay_fresh(&r, 37));
	ck_assert(gossip_replay_fresh(&r, 91));
	/* Too old to tell: not accepted, and nothing changes. */
	gossip_replay_accept(&r, 20);
	ck_assert_uint_eq(r.top, 100);

	/* Moving up keeps what is still in the window. */
	gossip_replay_accept(&r, 110);
	ck_assert(!gossip_replay_fresh(&r, 110));
	ck_assert(!gossip_replay_fresh(&r, 100));
	ck_assert(!gossip_replay_fresh(&r, 90));
	ck_assert(gossip_replay_fresh(&r, 105));
	ck_assert(!gossip_replay_fresh(&r, 46));
	ck_assert(gossip_replay_fresh(&r, 47));
	/* 37 fell out of the window: too old now. */
	ck_assert(!gossip_replay_fresh(&r, 37));

	/* A jump beyond the window forgets the old bits. */
	gossip_replay_accept(&r, 500);
	ck_assert(!gossip_replay_fresh(&r, 500));
	ck_assert(gossip_replay_fresh(&r, 499));
	ck_assert(gossip_replay_fresh(&r, 437));
	ck_assert(!gossip_replay_fresh(&r, 436));
	ck_assert(!gossip_replay_fresh(&r, 110));

	/* A sequence of 1000 in order, each once. */
	struct gossip_replay s = { 0 };
	for (uint64_t seq = 1; seq <= 1000; seq++) {
		ck_assert(gossip_replay_fresh(&s, seq));
		gossip_replay_accept(&s, seq);
		ck_assert(!gossip_replay_fresh(&s, seq));
		ck_assert(!gossip_replay_fresh(&s, seq > 1 ? seq - 1 : 0));
	}
	ck_assert(gossip_replay_fresh(&s, UINT64_MAX));
	gossip_replay_accept(&s, UINT64_MAX);
	ck_assert(!gossip_replay_fresh(&s, UINT64_MAX));
	ck_assert(gossip_replay_fresh(&s, UINT64_MAX - 63));
	ck_assert(!gossip_replay_fresh(&s, UINT64_MAX - 64));
}
END_TEST

START_TEST(time_skew)
{
	const gslb_time_t now = T0;

	ck_assert(gossip_time_ok(now, now));
	ck_assert(gossip_time_ok(now + GOSSIP_MAX_SKEW, now));
	ck_assert(gossip_time_ok(now - GOSSIP_MAX_SKEW, now));
	ck_assert(!gossip_time_ok(now + GOSSIP_MAX_SKEW + 1, now));
	ck_assert(!gossip_time_ok(now - GOSSIP_MAX_SKEW - 1, now));
	ck_assert(!gossip_time_ok(0, now));
	ck_assert(!gossip_time_ok(INT64_MAX, now));
	ck_assert(!gossip_time_ok(INT64_MIN, now));
	ck_assert(!gossip_time_ok(INT64_MIN, INT64_MAX));
	ck_assert(!gossip_time_ok(INT64_MAX, INT64_MIN));
	ck_assert(gossip_time_ok(INT64_MIN, INT64_MIN + 1));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Fragmentation and reassembly                                             */

#define N_BIG 1000

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct wire {
	uint8_t (*dgrams)[GOSSIP_STATE_DATAGRAM];
	size_t *lens;
	size_t n, max;
};

/* What an agent does per fragment: MAC, seal, send. */
static int seal_emit(uint8_t *inner, size_t len, size_t cap, void *arg)
{
	struct wire *w = arg;
	uint8_t dgram[GOSSIP_MAX_DATAGRAM];

	if (gossip_add_mac(inner, &len, cap, skey) != GSLB_EOK) {
		return GSLB_ESPACE;
	}
	const int n = gossip_seal(gkey, inner, len, dgram, sizeof(dgram));
	if (n < 0 || (size_t)n > GOSSIP_STATE_DATAGRAM || w->n >= w->max) {
		ck_abort_msg("fragment %zu: %d bytes", w->n, n);
	}
	memcpy(w->dgrams[w->n], dgram, (size_t)n);
	w->lens[w->n++] = (size_t)n;
	return GSLB_EOK;
}

START_TEST(fragments_reassembled)
{
	static char names[N_BIG][254];
	static struct gossip_backend big[N_BIG];
	const struct gossip_header h = hdr(1);

	for (size_t i = 0; i < N_BIG; i++) {
		/* 17..253 bytes */
		const size_t len = 17 + (i * 37) % 237;
		int k = snprintf(names[i], sizeof(names[i]), "svc%04zu.", i);
		for (size_t j = (size_t)k; j < len; j++) {
			names[i][j] = j % 16 == 15 ? '.' : (char)('a' + j % 26);
		}
		names[i][len] = '\0';
		char ip[64];
		if (i % 3 == 0) {
			snprintf(ip, sizeof(ip), "2001:db8::%zx:%zx", i, i * 7);
		} else {
			snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", i / 250,
				 i % 250, (i * 3) % 256);
		}
		big[i] = backend(names[i], ip, (uint16_t)(1000 + i),
				 (uint32_t)(i * 7), i % 2 == 0);
	}

	struct wire w = { .max = GOSSIP_MAX_FRAGMENTS };
	w.dgrams = malloc(w.max * sizeof(*w.dgrams));
	w.lens = malloc(w.max * sizeof(*w.lens));
	ck_assert_ptr_nonnull(w.dgrams);
	ck_assert_ptr_nonnull(w.lens);
	const size_t max_inner =
		GOSSIP_STATE_DATAGRAM - GOSSIP_OVERHEAD - GOSSIP_MAC_LEN;
	uint64_t seq = 1000;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 7, &the_pred, big, N_BIG,
					     max_inner, seal_emit, &w),
			 GSLB_EOK);
	const size_t count = w.n;
	ck_assert_uint_gt(count, 50);
	ck_assert_uint_eq(seq, 1000 + count);

	/* Every fragment once, a third of them twice, shuffled. */
	size_t order[3 * GOSSIP_MAX_FRAGMENTS], n_order = 0;
	uint64_t rng = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < count; i++) {
		order[n_order++] = i;
		if (i % 3 == 1) {
			order[n_order++] = i;
		}
	}
	for (size_t i = n_order - 1; i > 0; i--) {
		const size_t j = rng_next(&rng) % (i + 1);
		const size_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}

	struct gossip_reasm *r = NULL;
	bool *seen = calloc(count, sizeof(*seen));
	ck_assert_ptr_nonnull(seen);
	size_t distinct = 0, completions = 0, got = 0;
	uint8_t inner[GOSSIP_MAX_DATAGRAM];
	for (size_t k = 0; k < n_order; k++) {
		const size_t f = order[k];
		size_t inner_len;
		struct gossip_msg d;
		ck_assert_int_eq(gossip_open(gkey, w.dgrams[f], w.lens[f],
					     inner, &inner_len),
				 GOSSIP_ACCEPTED);
		ck_assert_uint_le(inner_len, max_inner + GOSSIP_MAC_LEN);
		ck_assert_int_eq(gossip_decode(inner, inner_len, &d),
				 GOSSIP_ACCEPTED);
		ck_assert_int_eq(d.hdr.type, GOSSIP_STATE);
		ck_assert(gossip_mac_ok(&d, skey));
		ck_assert_uint_eq(d.hdr.seq, 1000 + f);
		ck_assert_uint_eq(d.u.state.frag_index, f);
		ck_assert_uint_eq(d.u.state.frag_count, count);
		ck_assert_uint_eq(d.u.state.state_version, 7);
		ck_assert_uint_eq(d.u.state.predictive.cpu_centi, 9123);
		if (!seen[f]) {
			seen[f] = true;
			distinct++;
		}
		bool complete = true;
		ck_assert_int_eq(gossip_reasm_add(&r, &d.u.state, &complete),
				 GOSSIP_ACCEPTED);
		/* inner is reused: the reassembly holds its own copies. */
		memset(inner, 0xaa, sizeof(inner));
		if (!complete) {
			ck_assert_uint_eq(gossip_reasm_count(r),
					  distinct == count ? count : 0);
			continue;
		}
		ck_assert_uint_eq(distinct, count);
		completions++;
		ck_assert_uint_eq(gossip_reasm_count(r), count);
		for (size_t i = 0; i < count; i++) {
			const struct gossip_state *st =
				gossip_reasm_fragment(r, i);
			ck_assert_ptr_nonnull(st);
			ck_assert_uint_eq(st->frag_index, i);
			ck_assert_uint_eq(st->state_version, 7);
			struct gossip_state_iter it;
			struct gossip_backend b;
			size_t in_frag = 0;
			gossip_state_iter_init(&it, st);
			while (gossip_state_next(&it, &b)) {
				ck_assert_uint_lt(got, N_BIG);
				assert_backend(&b, &big[got]);
				got++;
				in_frag++;
			}
			ck_assert_uint_eq(in_frag, st->n_backends);
			ck_assert_uint_gt(in_frag, 0);
		}
		ck_assert_ptr_null(gossip_reasm_fragment(r, count));
	}
	ck_assert_uint_eq(completions, 1);
	ck_assert_uint_eq(got, N_BIG);
	gossip_reasm_free(r);
	free(seen);
	free(w.dgrams);
	free(w.lens);
}
END_TEST

START_TEST(fragment_limits)
{
	static char names[GOSSIP_MAX_FRAGMENTS + 1][16];
	static struct gossip_backend b[GOSSIP_MAX_FRAGMENTS + 1];
	const struct gossip_header h = hdr(1);

	for (size_t i = 0; i < GSLB_ARRAY_SIZE(b); i++) {
		snprintf(names[i], sizeof(names[i]), "s%04zu.example", i);
		b[i] = backend(names[i], "192.0.2.1", 53, 1, true);
	}
	/* One backend per fragment: header, fixed part, one entry. */
	const size_t frame = H + 24;
	const size_t entry = 1 + 13 + 1 + 4 + 2 + 4 + 1;
	size_t emitted = 0;
	uint64_t seq = 1;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &the_pred, b,
					     GOSSIP_MAX_FRAGMENTS,
					     frame + entry, noop_emit,
					     &emitted),
			 GSLB_EOK);
	ck_assert_uint_eq(emitted, GOSSIP_MAX_FRAGMENTS);
	ck_assert_uint_eq(seq, 1 + GOSSIP_MAX_FRAGMENTS);

	emitted = 0;
	seq = 1;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &the_pred, b,
					     GOSSIP_MAX_FRAGMENTS + 1,
					     frame + entry, noop_emit,
					     &emitted),
			 GSLB_ERANGE);
	/* Nothing sent, no sequence number used. */
	ck_assert_uint_eq(emitted, 0);
	ck_assert_uint_eq(seq, 1);
	/* A backend that does not fit alone. */
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &the_pred, b, 3,
					     frame + entry - 1, noop_emit,
					     &emitted),
			 GSLB_ESPACE);
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &the_pred, b, 0,
					     frame - 1, noop_emit, &emitted),
			 GSLB_ESPACE);
	ck_assert_uint_eq(emitted, 0);

	/* Two per fragment; 5 backends make 3 fragments. */
	struct msg msgs[3];
	struct collect c = { .msgs = msgs, .max = 3, .key = NULL };
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &the_pred, b, 5,
					     frame + 2 * entry, collect_emit,
					     &c),
			 GSLB_EOK);
	ck_assert_uint_eq(c.n, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_uint_le(msgs[i].len, frame + 2 * entry);
		ck_assert_uint_eq(msgs[i].b[H + 9], i);  /* index */
		ck_assert_uint_eq(msgs[i].b[H + 11], 3); /* count */
		ck_assert_uint_eq(msgs[i].b[H + 23], i < 2 ? 2 : 1);
	}
}
END_TEST

static int failing_emit(uint8_t *inner, size_t len, size_t cap, void *arg)
{
	(void)inner;
	(void)len;
	(void)cap;
	return ++*(size_t *)arg == 2 ? GSLB_EIO : GSLB_EOK;
}

START_TEST(emit_error_stops)
{
	struct gossip_backend b[4];
	const struct gossip_header h = hdr(1);
	for (size_t i = 0; i < 4; i++) {
		b[i] = backend("svc.example", "192.0.2.1", 53, 1, true);
	}
	size_t calls = 0;
	uint64_t seq = 10;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 1, &the_pred, b, 4,
					     H + 24 + 24, failing_emit, &calls),
			 GSLB_EIO);
	ck_assert_uint_eq(calls, 2);
	/* The failed fragment's number is used up all the same. */
	ck_assert_uint_eq(seq, 12);
}
END_TEST

static struct gossip_state st_make(uint64_t version, uint16_t index,
				   uint16_t count, const uint8_t *entries,
				   size_t len)
{
	struct gossip_state st = {
		.state_version = version,
		.frag_index = index,
		.frag_count = count,
		.entries = entries,
		.entries_len = len,
		.n_backends = 1,
	};
	return st;
}

/* Adds a fragment, expecting the result and whether it completed. */
#define ADD(r, st, want, want_complete)                                    \
	do {                                                               \
		bool complete_ = !(want_complete);                         \
		const struct gossip_state st_ = (st);                      \
		ck_assert_int_eq(gossip_reasm_add(&(r), &st_, &complete_), \
				 (want));                                  \
		ck_assert_int_eq(complete_, (want_complete));              \
	} while (0)

START_TEST(reasm_versions)
{
	struct gossip_reasm *r = NULL;
	static const uint8_t e0[] = "zero", e1[] = "one", e2[] = "two";

	ck_assert_uint_eq(gossip_reasm_count(r), 0);
	ck_assert_ptr_null(gossip_reasm_fragment(r, 0));
	gossip_reasm_reset(r);

	ADD(r, st_make(5, 0, 3, e0, 4), GOSSIP_ACCEPTED, false);
	ADD(r, st_make(5, 0, 3, e0, 4), GOSSIP_ACCEPTED, false);
	ADD(r, st_make(5, 2, 3, e2, 3), GOSSIP_ACCEPTED, false);
	ck_assert_uint_eq(gossip_reasm_count(r), 0);
	ck_assert_ptr_null(gossip_reasm_fragment(r, 0));
	/* A newer version drops the partial one. */
	ADD(r, st_make(6, 1, 2, e1, 3), GOSSIP_ACCEPTED, false);
	ADD(r, st_make(5, 1, 3, e1, 3), GOSSIP_ACCEPTED, false);
	ADD(r, st_make(6, 0, 2, e0, 4), GOSSIP_ACCEPTED, true);
	ck_assert_uint_eq(gossip_reasm_count(r), 2);
	const struct gossip_state *f0 = gossip_reasm_fragment(r, 0);
	const struct gossip_state *f1 = gossip_reasm_fragment(r, 1);
	ck_assert_uint_eq(f0->state_version, 6);
	ck_assert_uint_eq(f0->frag_index, 0);
	ck_assert_uint_eq(f1->frag_index, 1);
	ck_assert_ptr_ne(f0->entries, e0);
	assert_bytes(f0->entries, f0->entries_len, e0, 4);
	assert_bytes(f1->entries, f1->entries_len, e1, 3);
	ck_assert_ptr_null(gossip_reasm_fragment(r, 2));

	/* The completed version and older ones are ignored, also after a
	 * reset, and start nothing. */
	ADD(r, st_make(6, 0, 2, e0, 4), GOSSIP_ACCEPTED, false);
	ADD(r, st_make(5, 1, 3, e1, 3), GOSSIP_ACCEPTED, false);
	gossip_reasm_reset(r);
	ck_assert_uint_eq(gossip_reasm_count(r), 0);
	ADD(r, st_make(6, 1, 2, e1, 3), GOSSIP_ACCEPTED, false);
	ADD(r, st_make(6, 0, 2, e0, 4), GOSSIP_ACCEPTED, false);
	ADD(r, st_make(1, 0, 1, e0, 4), GOSSIP_ACCEPTED, false);
	ck_assert_uint_eq(gossip_reasm_count(r), 0);
	/* A newer one, in one fragment without entries. */
	ADD(r, st_make(7, 0, 1, NULL, 0), GOSSIP_ACCEPTED, true);
	ck_assert_uint_eq(gossip_reasm_count(r), 1);
	ck_assert_uint_eq(gossip_reasm_fragment(r, 0)->entries_len, 0);

	/* Nonsense that a decoder would not pass. */
	ADD(r, st_make(8, 0, 0, e0, 4), GOSSIP_R_MALFORMED, false);
	ADD(r, st_make(8, 2, 2, e0, 4), GOSSIP_R_MALFORMED, false);
	ADD(r, st_make(8, 0, GOSSIP_MAX_FRAGMENTS + 1, e0, 4),
	    GOSSIP_R_MALFORMED, false);
	gossip_reasm_free(r);

	/* free forgets the completed version. */
	r = NULL;
	ADD(r, st_make(3, 0, 1, e0, 4), GOSSIP_ACCEPTED, true);
	gossip_reasm_free(r);
	r = NULL;
	ADD(r, st_make(3, 0, 1, e0, 4), GOSSIP_ACCEPTED, true);
	gossip_reasm_free(r);
	gossip_reasm_free(NULL);
}
END_TEST

START_TEST(reasm_count_mismatch)
{
	struct gossip_reasm *r = NULL;
	static const uint8_t e[] = "entry";

	ADD(r, st_make(1, 0, 3, e, 5), GOSSIP_ACCEPTED, false);
	ADD(r, st_make(1, 1, 4, e, 5), GOSSIP_R_MALFORMED, false);
	/* The partial state went with it: fragment 0 is needed again. */
	ADD(r, st_make(1, 1, 3, e, 5), GOSSIP_ACCEPTED, false);
	ADD(r, st_make(1, 2, 3, e, 5), GOSSIP_ACCEPTED, false);
	ck_assert_uint_eq(gossip_reasm_count(r), 0);
	ADD(r, st_make(1, 0, 3, e, 5), GOSSIP_ACCEPTED, true);
	ck_assert_uint_eq(gossip_reasm_count(r), 3);
	gossip_reasm_free(r);
}
END_TEST

START_TEST(reasm_too_large)
{
	struct gossip_reasm *r = NULL;
	static uint8_t e[2048];

	/* 512 fragments of 2 KiB are the 1 MiB limit; one more is not. */
	for (uint16_t i = 0; i < 512; i++) {
		ADD(r, st_make(1, i, GOSSIP_MAX_FRAGMENTS, e, sizeof(e)),
		    GOSSIP_ACCEPTED, false);
	}
	ADD(r, st_make(1, 512, GOSSIP_MAX_FRAGMENTS, e, sizeof(e)),
	    GOSSIP_R_TOO_LARGE, false);
	/* Dropped: it starts again from nothing. */
	ADD(r, st_make(1, 512, GOSSIP_MAX_FRAGMENTS, e, sizeof(e)),
	    GOSSIP_ACCEPTED, false);
	ADD(r, st_make(2, 0, 1, e, sizeof(e)), GOSSIP_ACCEPTED, true);
	gossip_reasm_free(r);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Fuzz seeds                                                               */

static void write_seed(const char *dir, const char *name, uint8_t prefix,
		       const uint8_t *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fputc(prefix, f) == EOF ||
	    fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		ck_abort_msg("%s: cannot write", path);
	}
}

/*
 * GOSSIP_WRITE_SEEDS=DIR writes tests/fuzz/corpus/gossip's seeds: each
 * kind of inner message (prefix 0x00) and some sealed (prefix 0x01), with
 * the keys fuzz_gossip.c uses.
 */
static void write_seeds(const char *dir)
{
	static const char *const names[M_COUNT] = {
		[M_HB] = "heartbeat", [M_HB_MAC] = "heartbeat-mac",
		[M_REG] = "register", [M_REG_ROT] = "register-rotation",
		[M_STATE] = "state",  [M_DEREG] = "deregister",
		[M_ACK] = "ack",
	};
	struct msg m;
	uint8_t dgram[GOSSIP_MAX_DATAGRAM];
	char name[64];

	for (int which = 0; which < M_COUNT; which++) {
		make_any(&m, which);
		write_seed(dir, names[which], 0x00, m.b, m.len);
		const int n =
			gossip_seal(gkey, m.b, m.len, dgram, sizeof(dgram));
		ck_assert_int_gt(n, 0);
		snprintf(name, sizeof(name), "sealed-%s", names[which]);
		write_seed(dir, name, 0x01, dgram, (size_t)n);
	}

	/* A state in three fragments. */
	struct gossip_backend b[5];
	static const char *const ips[] = { "192.0.2.1", "2001:db8::2",
					   "198.51.100.3", "2001:db8::4",
					   "203.0.113.5" };
	for (size_t i = 0; i < 5; i++) {
		b[i] = backend(i < 3 ? "www.example.com" : "api.example.com",
			       ips[i], (uint16_t)(80 + i), (uint32_t)i, i != 2);
	}
	struct msg msgs[4];
	struct collect c = { .msgs = msgs, .max = 4, .key = skey };
	const struct gossip_header h = hdr(30);
	uint64_t seq = 30;
	ck_assert_int_eq(gossip_encode_state(&h, &seq, 2, &the_pred, b, 5,
					     H + 24 + 80, collect_emit, &c),
			 GSLB_EOK);
	ck_assert_uint_eq(c.n, 3);
	for (size_t i = 0; i < c.n; i++) {
		snprintf(name, sizeof(name), "state-frag%zu", i);
		write_seed(dir, name, 0x00, msgs[i].b, msgs[i].len);
	}
}

START_TEST(seeds)
{
	write_seeds(getenv("GOSSIP_WRITE_SEEDS"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gossip");
	TCase *tc;
	if (getenv("GOSSIP_WRITE_SEEDS") != NULL) {
		tc = tcase_create("seeds");
		tcase_add_checked_fixture(tc, setup, NULL);
		tcase_add_test(tc, seeds);
		suite_add_tcase(s, tc);
		SRunner *sr = srunner_create(s);
		srunner_run_all(sr, CK_NORMAL);
		int failed = srunner_ntests_failed(sr);
		srunner_free(sr);
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}

	tc = tcase_create("codec");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, stable_names);
	tcase_add_test(tc, heartbeat_round_trip);
	tcase_add_test(tc, register_round_trip);
	tcase_add_test(tc, state_round_trip);
	tcase_add_test(tc, deregister_round_trip);
	tcase_add_test(tc, ack_round_trip);
	tcase_add_test(tc, encoders_refuse);
	suite_add_tcase(s, tc);
	tc = tcase_create("rejections");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, truncated_and_trailing);
	tcase_add_test(tc, header_rejections);
	tcase_add_test(tc, register_rejections);
	tcase_add_test(tc, state_rejections);
	tcase_add_test(tc, ack_rejections);
	tcase_add_test(tc, open_rejections);
	suite_add_tcase(s, tc);
	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, mac);
	tcase_add_test(tc, sign_layout);
	tcase_add_test(tc, endorsement_layout);
	tcase_add_test(tc, session_keys);
	suite_add_tcase(s, tc);
	tc = tcase_create("receiver");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, replay_window);
	tcase_add_test(tc, time_skew);
	tcase_add_test(tc, fragments_reassembled);
	tcase_add_test(tc, fragment_limits);
	tcase_add_test(tc, emit_error_stops);
	tcase_add_test(tc, reasm_versions);
	tcase_add_test(tc, reasm_count_mismatch);
	tcase_add_test(tc, reasm_too_large);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
