/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer harness for the gossip codec. The first byte chooses: even,
 * the rest is an inner message as gossip_open hands it out; odd, a
 * datagram opened with a fixed gossip key and then decoded. What decodes
 * must encode back to the very bytes it came from (the format has one
 * encoding per message), its state entries must walk as counted, and state
 * fragments go through a reassembly that is reset now and then.
 * The keys are those of tests/unit/test_gossip.c, which writes the seeds.
 * Build: make fuzz (clang); the corpus replays in make check.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "gossip.h"

/* Fewest bytes per entry: name 1, family, IPv4, port, weight, healthy. */
#define MIN_ENTRY   (1 + 1 + 1 + 4 + 2 + 4 + 1)
#define MAX_ENTRIES (GOSSIP_MAX_INNER / MIN_ENTRY)

static uint8_t gkey[GSLB_GOSSIP_KEY_LEN];
static uint8_t skey[GOSSIP_KEY_LEN];
static struct gossip_reasm *reasm;
static unsigned calls;

static void init_once(void)
{
	static bool done;
	if (done) {
		return;
	}
	if (sodium_init() < 0) {
		abort();
	}
	for (size_t i = 0; i < sizeof(gkey); i++) {
		gkey[i] = (uint8_t)i;
		skey[i] = (uint8_t)(0x40 + i);
	}
	done = true;
}

/* Walks a state's entries; their count must be the one it carries. */
static size_t walk(const struct gossip_state *st, struct gossip_backend *out,
		   size_t max)
{
	struct gossip_state_iter it;
	struct gossip_backend b;
	size_t n = 0;

	gossip_state_iter_init(&it, st);
	while (gossip_state_next(&it, &b)) {
		if (b.service_len == 0 || b.port == 0 ||
		    (b.ip.family != AF_INET && b.ip.family != AF_INET6)) {
			abort();
		}
		if (out != NULL) {
			if (n >= max) {
				abort();
			}
			out[n] = b;
		}
		n++;
	}
	if (n != st->n_backends) {
		abort();
	}
	return n;
}

struct expect {
	const struct gossip_msg *m;
	unsigned emitted;
};

/* The re-encoded fragment, with the original's index and count. */
static int compare_emit(uint8_t *inner, size_t len, size_t cap, void *arg)
{
	struct expect *e = arg;
	const struct gossip_msg *m = e->m;
	const size_t at = 19 + strlen(m->hdr.agent_id) + 8;

	if (e->emitted++ > 0 || len < at + 4 || cap < len + GOSSIP_MAC_LEN) {
		abort();
	}
	inner[1] |= GOSSIP_F_MAC;
	inner[at] = (uint8_t)(m->u.state.frag_index >> 8);
	inner[at + 1] = (uint8_t)m->u.state.frag_index;
	inner[at + 2] = (uint8_t)(m->u.state.frag_count >> 8);
	inner[at + 3] = (uint8_t)m->u.state.frag_count;
	if (len != m->authed_len || memcmp(inner, m->authed, len) != 0) {
		abort();
	}
	return GSLB_EOK;
}

static void reencode_state(const struct gossip_msg *m)
{
	static struct gossip_backend b[MAX_ENTRIES];
	const size_t n = walk(&m->u.state, b, MAX_ENTRIES);
	struct expect e = { .m = m };
	uint64_t seq = m->hdr.seq;

	if (gossip_encode_state(&m->hdr, &seq, m->u.state.state_version,
				&m->u.state.predictive, b, n, GOSSIP_MAX_INNER,
				compare_emit, &e) != GSLB_EOK ||
	    e.emitted != 1 || seq != m->hdr.seq + 1) {
		abort();
	}
}

static void reencode(const struct gossip_msg *m)
{
	static uint8_t buf[GOSSIP_MAX_INNER];
	int n = GSLB_EINVAL;

	switch (m->hdr.type) {
	case GOSSIP_HEARTBEAT:
		n = gossip_encode_heartbeat(&m->hdr, &m->u.heartbeat, buf,
					    sizeof(buf));
		break;
	case GOSSIP_REGISTER:
		n = gossip_encode_register(&m->hdr, &m->u.reg, buf,
					   sizeof(buf));
		break;
	case GOSSIP_STATE:
		reencode_state(m);
		return;
	case GOSSIP_DEREGISTER:
		n = gossip_encode_deregister(&m->hdr, buf, sizeof(buf));
		break;
	case GOSSIP_ACK:
		n = gossip_encode_ack(&m->hdr, &m->u.ack, buf, sizeof(buf));
		break;
	}
	if (n < 0) {
		abort();
	}
	if (m->hdr.flags & GOSSIP_F_SIG) {
		gossip_sign_begin(buf, (size_t)n);
	}
	buf[1] |= m->hdr.flags & GOSSIP_F_MAC;
	if ((size_t)n != m->authed_len ||
	    memcmp(buf, m->authed, m->authed_len)) {
		abort();
	}
}

static void reassemble(const struct gossip_state *st)
{
	bool complete = false;
	const enum gossip_reject r = gossip_reasm_add(&reasm, st, &complete);

	if (r != GOSSIP_ACCEPTED && r != GOSSIP_R_MALFORMED &&
	    r != GOSSIP_R_TOO_LARGE) {
		abort();
	}
	if (!complete) {
		return;
	}
	const size_t count = gossip_reasm_count(reasm);
	if (count != st->frag_count) {
		abort();
	}
	for (size_t i = 0; i < count; i++) {
		const struct gossip_state *f = gossip_reasm_fragment(reasm, i);
		if (f == NULL || f->frag_index != i ||
		    f->state_version != st->state_version) {
			abort();
		}
		walk(f, NULL, 0);
	}
	/* Applied, as the overwatch does. */
	gossip_reasm_reset(reasm);
}

static void inner_message(const uint8_t *inner, size_t len)
{
	struct gossip_msg m;

	if (gossip_decode(inner, len, &m) != GOSSIP_ACCEPTED) {
		return;
	}
	if (m.authed != inner || m.authed_len > len ||
	    (m.mac != NULL) != ((m.hdr.flags & GOSSIP_F_MAC) != 0) ||
	    (m.sig != NULL) != ((m.hdr.flags & GOSSIP_F_SIG) != 0)) {
		abort();
	}
	if (gossip_mac_ok(&m, skey) && m.mac == NULL) {
		abort();
	}
	reencode(&m);
	if (m.hdr.type == GOSSIP_STATE) {
		reassemble(&m.u.state);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	/* Now and then a new agent: memory stays bounded and the last
	 * completed version is forgotten. */
	if (++calls % 256 == 0) {
		gossip_reasm_free(reasm);
		reasm = NULL;
	}
	if (size == 0) {
		return 0;
	}
	if (data[0] % 2 == 0) {
		inner_message(data + 1, size - 1);
		return 0;
	}

	static uint8_t inner[GOSSIP_MAX_DATAGRAM];
	size_t inner_len = 1;
	const enum gossip_reject r =
		gossip_open(gkey, data + 1, size - 1, inner, &inner_len);
	if (r != GOSSIP_ACCEPTED) {
		if (inner_len != 0) {
			abort();
		}
		return 0;
	}
	if (inner_len != size - 1 - GOSSIP_OVERHEAD) {
		abort();
	}
	inner_message(inner, inner_len);
	return 0;
}
