/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The gossip wire codec: inner messages, the sealed datagram around them,
 * session keys and the receiver's helpers. docs/gossip.md has the byte
 * layout; the decoders here are its reference.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "gossip.h"

_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == 24,
	       "the datagram carries a 24-byte nonce");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == GOSSIP_TAG_LEN,
	       "GOSSIP_TAG_LEN must match libsodium");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES ==
		       GSLB_GOSSIP_KEY_LEN,
	       "the gossip key must be an XChaCha20-Poly1305 key");
_Static_assert(crypto_auth_BYTES == GOSSIP_MAC_LEN &&
		       crypto_auth_KEYBYTES == GOSSIP_KEY_LEN,
	       "the MAC is crypto_auth (HMAC-SHA-512-256)");
_Static_assert(crypto_kx_PUBLICKEYBYTES == GOSSIP_KX_LEN &&
		       crypto_kx_SECRETKEYBYTES == 32 &&
		       crypto_kx_SESSIONKEYBYTES == GOSSIP_KEY_LEN,
	       "session keys are crypto_kx keys");

#define NONCE_OFF 6
#define NONCE_LEN 24

/* type, flags, seq, time, id len */
#define HDR_FIXED   19
#define STATE_FIXED (8 + 2 + 2 + 1 + 1 + 2 + 2 + 4 + 2)
#define CENTI_MAX   10000
#define SERVICE_MAX 253
#define ACK_FLAGS \
	(GOSSIP_ACK_NEED_REGISTER | GOSSIP_ACK_NEED_STATE | GOSSIP_ACK_REFUSED)
#define PRED_DRAINING 0x01
/* Entries are at most this many in one fragment (a u16 count). */
#define FRAG_BACKENDS_MAX UINT16_MAX
#define REASM_BYTES_MAX   (1024 * 1024)

static const char endorse_prefix[] = "opengslb-rotate";
#define ENDORSE_PREFIX_LEN (sizeof(endorse_prefix) - 1)

const char *gossip_reject_name(enum gossip_reject r)
{
	static const char *const names[GOSSIP_R_COUNT] = {
		[GOSSIP_ACCEPTED] = "accepted",
		[GOSSIP_R_MALFORMED] = "malformed",
		[GOSSIP_R_VERSION] = "version",
		[GOSSIP_R_UNSEALABLE] = "unsealable",
		[GOSSIP_R_UNKNOWN_TYPE] = "unknown_type",
		[GOSSIP_R_REPLAYED] = "replayed",
		[GOSSIP_R_CLOCK] = "clock",
		[GOSSIP_R_UNAUTHENTICATED] = "unauthenticated",
		[GOSSIP_R_BAD_SIGNATURE] = "bad_signature",
		[GOSSIP_R_BAD_CERTIFICATE] = "bad_certificate",
		[GOSSIP_R_BAD_TOKEN] = "bad_token",
		[GOSSIP_R_CERT_MISMATCH] = "cert_mismatch",
		[GOSSIP_R_UNKNOWN_SERVICE] = "unknown_service",
		[GOSSIP_R_TOO_LARGE] = "too_large",
	};
	if ((unsigned)r >= GOSSIP_R_COUNT) {
		return "unknown";
	}
	return names[r];
}

const char *gossip_drain_reason_name(enum gossip_drain_reason r)
{
	switch (r) {
	case GOSSIP_DRAIN_NONE:
		return "none";
	case GOSSIP_DRAIN_CPU:
		return "cpu_threshold_exceeded";
	case GOSSIP_DRAIN_MEMORY:
		return "memory_threshold_exceeded";
	case GOSSIP_DRAIN_ERROR_RATE:
		return "error_rate_threshold_exceeded";
	case GOSSIP_DRAIN_MANUAL:
		return "manual";
	}
	return "unknown";
}

/* ------------------------------------------------------------------------ */
/* Value rules, shared by encoders and decoders                             */

static bool id_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool agent_id_ok(const uint8_t *id, size_t len)
{
	if (len == 0 || len > GOSSIP_AGENT_ID_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!id_char_ok(id[i])) {
			return false;
		}
	}
	return true;
}

/* Service names: printable ASCII without spaces, 1..253 bytes. */
static bool service_ok(const uint8_t *s, size_t len)
{
	if (len == 0 || len > SERVICE_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f) {
			return false;
		}
	}
	return true;
}

/* Region and node id end up in logs and JSON: no control characters. */
static bool label_ok(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f) {
			return false;
		}
	}
	return true;
}

static bool pred_ok(const struct gossip_predictive *p)
{
	return (unsigned)p->reason <= GOSSIP_DRAIN_MANUAL &&
	       p->cpu_centi <= CENTI_MAX && p->mem_centi <= CENTI_MAX;
}

static size_t entry_size(const struct gossip_backend *b)
{
	return 1 + b->service_len + 1 + gslb_ip_len(&b->ip) + 2 + 4 + 1;
}

static bool backend_ok(const struct gossip_backend *b)
{
	return b->service != NULL &&
	       service_ok((const uint8_t *)b->service, b->service_len) &&
	       (b->ip.family == AF_INET || b->ip.family == AF_INET6) &&
	       b->port != 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool full;
};

static void w_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	if (n > 0) {
		memcpy(w->p + w->len, src, n);
	}
	w->len += n;
}

static void w_u8(struct wbuf *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void w_u16(struct wbuf *w, uint16_t v)
{
	const uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	w_bytes(w, b, sizeof(b));
}

static void w_u32(struct wbuf *w, uint32_t v)
{
	const uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			       (uint8_t)(v >> 8), (uint8_t)v };
	w_bytes(w, b, sizeof(b));
}

static void w_u64(struct wbuf *w, uint64_t v)
{
	w_u32(w, (uint32_t)(v >> 32));
	w_u32(w, (uint32_t)v);
}

static int w_result(const struct wbuf *w)
{
	return w->full ? GSLB_ESPACE : (int)w->len;
}

/* The header with no flags; the authenticator functions set them. */
static int w_header(struct wbuf *w, enum gossip_type type,
		    const struct gossip_header *h, uint64_t seq)
{
	const size_t id_len = strnlen(h->agent_id, sizeof(h->agent_id));
	if (seq == 0 || !agent_id_ok((const uint8_t *)h->agent_id, id_len)) {
		return GSLB_EINVAL;
	}
	w_u8(w, (uint8_t)type);
	w_u8(w, 0);
	w_u64(w, seq);
	w_u64(w, (uint64_t)h->time);
	w_u8(w, (uint8_t)id_len);
	w_bytes(w, h->agent_id, id_len);
	return GSLB_EOK;
}

static void w_backend(struct wbuf *w, const struct gossip_backend *b)
{
	w_u8(w, (uint8_t)b->service_len);
	w_bytes(w, b->service, b->service_len);
	w_u8(w, b->ip.family == AF_INET ? 4 : 6);
	w_bytes(w, b->ip.addr, gslb_ip_len(&b->ip));
	w_u16(w, b->port);
	w_u32(w, b->weight);
	w_u8(w, b->healthy ? 1 : 0);
}

/* Encoded messages must fit a datagram, whatever the caller's buffer. */
static size_t cap_inner(size_t cap)
{
	return cap < GOSSIP_MAX_INNER ? cap : GOSSIP_MAX_INNER;
}

int gossip_encode_heartbeat(const struct gossip_header *h,
			    const struct gossip_heartbeat *hb, uint8_t *out,
			    size_t cap)
{
	struct wbuf w = { .p = out, .cap = cap_inner(cap) };
	if (w_header(&w, GOSSIP_HEARTBEAT, h, h->seq) != GSLB_EOK) {
		return GSLB_EINVAL;
	}
	w_u64(&w, hb->state_version);
	w_u32(&w, hb->n_backends);
	w_u32(&w, hb->interval_ms);
	w_u16(&w, hb->missed_threshold);
	return w_result(&w);
}

int gossip_encode_register(const struct gossip_header *h,
			   const struct gossip_register *reg, uint8_t *out,
			   size_t cap)
{
	if (reg->token == NULL || reg->token_len == 0 ||
	    reg->token_len > GOSSIP_TOKEN_MAX || reg->cert == NULL ||
	    reg->cert_len == 0 || reg->cert_len > GOSSIP_CERT_MAX ||
	    reg->region_len > GOSSIP_REGION_MAX ||
	    (reg->region_len > 0 &&
	     (reg->region == NULL ||
	      !label_ok((const uint8_t *)reg->region, reg->region_len))) ||
	    reg->n_services > GOSSIP_SERVICES_MAX ||
	    reg->prev_cert_len > GOSSIP_CERT_MAX ||
	    (reg->prev_cert_len > 0 && reg->prev_cert == NULL) ||
	    reg->endorsement_len > UINT16_MAX ||
	    (reg->endorsement_len > 0 && reg->endorsement == NULL) ||
	    (reg->prev_cert_len == 0) != (reg->endorsement_len == 0)) {
		return GSLB_EINVAL;
	}
	for (size_t i = 0; i < reg->n_services; i++) {
		if (reg->services[i] == NULL ||
		    !service_ok((const uint8_t *)reg->services[i],
				reg->service_lens[i])) {
			return GSLB_EINVAL;
		}
	}

	struct wbuf w = { .p = out, .cap = cap_inner(cap) };
	if (w_header(&w, GOSSIP_REGISTER, h, h->seq) != GSLB_EOK) {
		return GSLB_EINVAL;
	}
	w_u8(&w, (uint8_t)reg->token_len);
	w_bytes(&w, reg->token, reg->token_len);
	w_u16(&w, (uint16_t)reg->cert_len);
	w_bytes(&w, reg->cert, reg->cert_len);
	w_bytes(&w, reg->agent_kx, GOSSIP_KX_LEN);
	w_bytes(&w, reg->overwatch_kx, GOSSIP_KX_LEN);
	w_u32(&w, reg->interval_ms);
	w_u16(&w, reg->missed_threshold);
	w_u8(&w, (uint8_t)reg->region_len);
	w_bytes(&w, reg->region, reg->region_len);
	w_u8(&w, (uint8_t)reg->n_services);
	for (size_t i = 0; i < reg->n_services; i++) {
		w_u8(&w, (uint8_t)reg->service_lens[i]);
		w_bytes(&w, reg->services[i], reg->service_lens[i]);
	}
	w_u16(&w, (uint16_t)reg->prev_cert_len);
	w_bytes(&w, reg->prev_cert, reg->prev_cert_len);
	w_u16(&w, (uint16_t)reg->endorsement_len);
	w_bytes(&w, reg->endorsement, reg->endorsement_len);
	return w_result(&w);
}

int gossip_encode_deregister(const struct gossip_header *h, uint8_t *out,
			     size_t cap)
{
	struct wbuf w = { .p = out, .cap = cap_inner(cap) };
	if (w_header(&w, GOSSIP_DEREGISTER, h, h->seq) != GSLB_EOK) {
		return GSLB_EINVAL;
	}
	return w_result(&w);
}

int gossip_encode_ack(const struct gossip_header *h,
		      const struct gossip_ack *ack, uint8_t *out, size_t cap)
{
	if ((ack->flags & ~ACK_FLAGS) != 0 ||
	    (unsigned)ack->reason >= GOSSIP_R_COUNT ||
	    ack->node_id_len > GOSSIP_NODE_ID_MAX ||
	    (ack->node_id_len > 0 &&
	     (ack->node_id == NULL ||
	      !label_ok((const uint8_t *)ack->node_id, ack->node_id_len)))) {
		return GSLB_EINVAL;
	}
	struct wbuf w = { .p = out, .cap = cap_inner(cap) };
	if (w_header(&w, GOSSIP_ACK, h, h->seq) != GSLB_EOK) {
		return GSLB_EINVAL;
	}
	w_bytes(&w, ack->overwatch_kx, GOSSIP_KX_LEN);
	w_u64(&w, ack->acked_seq);
	w_u64(&w, ack->state_version);
	w_u8(&w, ack->flags);
	w_u8(&w, (uint8_t)ack->reason);
	w_u8(&w, (uint8_t)ack->node_id_len);
	w_bytes(&w, ack->node_id, ack->node_id_len);
	return w_result(&w);
}

/* Writes one fragment holding backends[first..first + n). */
static int w_fragment(struct wbuf *w, const struct gossip_header *h,
		      uint64_t seq, uint64_t state_version, uint16_t index,
		      uint16_t count, const struct gossip_predictive *pred,
		      const struct gossip_backend *backends, size_t first,
		      size_t n)
{
	if (w_header(w, GOSSIP_STATE, h, seq) != GSLB_EOK) {
		return GSLB_EINVAL;
	}
	w_u64(w, state_version);
	w_u16(w, index);
	w_u16(w, count);
	w_u8(w, pred->draining ? PRED_DRAINING : 0);
	w_u8(w, (uint8_t)pred->reason);
	w_u16(w, pred->cpu_centi);
	w_u16(w, pred->mem_centi);
	w_u32(w, pred->error_rate_centi);
	w_u16(w, (uint16_t)n);
	for (size_t i = first; i < first + n; i++) {
		w_backend(w, &backends[i]);
	}
	return w_result(w);
}

/*
 * Greedy packing: how many backends from backends[i..n) go into the
 * fragment that starts with backends[i]. frame is the size of a fragment
 * without entries.
 */
static size_t pack(const struct gossip_backend *backends, size_t i, size_t n,
		   size_t frame, size_t max_inner)
{
	size_t len = frame, k = 0;
	while (i + k < n && k < FRAG_BACKENDS_MAX) {
		const size_t e = entry_size(&backends[i + k]);
		if (len + e > max_inner) {
			break;
		}
		len += e;
		k++;
	}
	return k;
}

int gossip_encode_state(const struct gossip_header *h, uint64_t *seq,
			uint64_t state_version,
			const struct gossip_predictive *pred,
			const struct gossip_backend *backends, size_t n,
			size_t max_inner, gossip_emit_fn emit, void *arg)
{
	const size_t id_len = strnlen(h->agent_id, sizeof(h->agent_id));
	if (*seq == 0 || !agent_id_ok((const uint8_t *)h->agent_id, id_len) ||
	    !pred_ok(pred) || (n > 0 && backends == NULL)) {
		return GSLB_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!backend_ok(&backends[i])) {
			return GSLB_EINVAL;
		}
	}
	/* Room for the MAC that emit adds, in a datagram. */
	if (max_inner > GOSSIP_MAX_INNER - GOSSIP_MAC_LEN) {
		max_inner = GOSSIP_MAX_INNER - GOSSIP_MAC_LEN;
	}
	const size_t frame = HDR_FIXED + id_len + STATE_FIXED;
	if (frame > max_inner) {
		return GSLB_ESPACE;
	}

	/* First pass: the fragment count that every fragment carries. */
	size_t count = 0, i = 0;
	do {
		const size_t k = pack(backends, i, n, frame, max_inner);
		if (k == 0 && n > 0) {
			return GSLB_ESPACE;
		}
		i += k;
		if (++count > GOSSIP_MAX_FRAGMENTS) {
			return GSLB_ERANGE;
		}
	} while (i < n);

	uint8_t buf[GOSSIP_MAX_INNER];
	i = 0;
	for (size_t index = 0; index < count; index++) {
		const size_t k = pack(backends, i, n, frame, max_inner);
		struct wbuf w = { .p = buf, .cap = max_inner };
		const int len =
			w_fragment(&w, h, *seq, state_version, (uint16_t)index,
				   (uint16_t)count, pred, backends, i, k);
		if (len < 0) {
			return len;
		}
		(*seq)++;
		i += k;
		const int ret = emit(buf, (size_t)len, sizeof(buf), arg);
		if (ret != GSLB_EOK) {
			return ret;
		}
	}
	return GSLB_EOK;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

struct rbuf {
	const uint8_t *p, *end;
	bool bad;
};

static size_t r_left(const struct rbuf *r)
{
	return (size_t)(r->end - r->p);
}

/* n bytes, or NULL (and r->bad) when fewer are left. */
static const uint8_t *r_bytes(struct rbuf *r, size_t n)
{
	if (r->bad || n > r_left(r)) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

static uint8_t r_u8(struct rbuf *r)
{
	const uint8_t *p = r_bytes(r, 1);
	return p != NULL ? p[0] : 0;
}

static uint16_t r_u16(struct rbuf *r)
{
	const uint8_t *p = r_bytes(r, 2);
	return p != NULL ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static uint32_t r_u32(struct rbuf *r)
{
	const uint8_t *p = r_bytes(r, 4);
	return p != NULL ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
				   (uint32_t)p[2] << 8 | p[3]
			 : 0;
}

static uint64_t r_u64(struct rbuf *r)
{
	const uint64_t hi = r_u32(r);
	return hi << 32 | r_u32(r);
}

/* One backend entry; false (and r->bad) unless it is valid. */
static bool r_backend(struct rbuf *r, struct gossip_backend *b)
{
	const uint8_t svc_len = r_u8(r);
	const uint8_t *svc = r_bytes(r, svc_len);
	const uint8_t family = r_u8(r);
	if (r->bad || !service_ok(svc, svc_len) ||
	    (family != 4 && family != 6)) {
		r->bad = true;
		return false;
	}
	const size_t alen = family == 4 ? 4 : 16;
	const uint8_t *addr = r_bytes(r, alen);
	const uint16_t port = r_u16(r);
	const uint32_t weight = r_u32(r);
	const uint8_t healthy = r_u8(r);
	if (r->bad || port == 0 || healthy > 1) {
		r->bad = true;
		return false;
	}
	memset(b, 0, sizeof(*b));
	b->service = (const char *)svc;
	b->service_len = svc_len;
	b->ip.family = family == 4 ? AF_INET : AF_INET6;
	memcpy(b->ip.addr, addr, alen);
	b->port = port;
	b->weight = weight;
	b->healthy = healthy == 1;
	return true;
}

static bool d_heartbeat(struct rbuf *r, struct gossip_heartbeat *hb)
{
	hb->state_version = r_u64(r);
	hb->n_backends = r_u32(r);
	hb->interval_ms = r_u32(r);
	hb->missed_threshold = r_u16(r);
	return !r->bad;
}

static bool d_register(struct rbuf *r, struct gossip_register *reg)
{
	reg->token_len = r_u8(r);
	reg->token = (const char *)r_bytes(r, reg->token_len);
	reg->cert_len = r_u16(r);
	reg->cert = r_bytes(r, reg->cert_len);
	const uint8_t *agent_kx = r_bytes(r, GOSSIP_KX_LEN);
	const uint8_t *ow_kx = r_bytes(r, GOSSIP_KX_LEN);
	reg->interval_ms = r_u32(r);
	reg->missed_threshold = r_u16(r);
	reg->region_len = r_u8(r);
	reg->region = (const char *)r_bytes(r, reg->region_len);
	reg->n_services = r_u8(r);
	if (r->bad || reg->token_len == 0 || reg->cert_len == 0 ||
	    reg->cert_len > GOSSIP_CERT_MAX ||
	    reg->region_len > GOSSIP_REGION_MAX ||
	    !label_ok((const uint8_t *)reg->region, reg->region_len) ||
	    reg->n_services > GOSSIP_SERVICES_MAX) {
		return false;
	}
	memcpy(reg->agent_kx, agent_kx, GOSSIP_KX_LEN);
	memcpy(reg->overwatch_kx, ow_kx, GOSSIP_KX_LEN);
	for (size_t i = 0; i < reg->n_services; i++) {
		const uint8_t len = r_u8(r);
		const uint8_t *svc = r_bytes(r, len);
		if (r->bad || !service_ok(svc, len)) {
			return false;
		}
		reg->services[i] = (const char *)svc;
		reg->service_lens[i] = len;
	}
	reg->prev_cert_len = r_u16(r);
	reg->prev_cert = r_bytes(r, reg->prev_cert_len);
	reg->endorsement_len = r_u16(r);
	reg->endorsement = r_bytes(r, reg->endorsement_len);
	if (r->bad || reg->prev_cert_len > GOSSIP_CERT_MAX ||
	    (reg->prev_cert_len == 0) != (reg->endorsement_len == 0)) {
		return false;
	}
	if (reg->prev_cert_len == 0) {
		reg->prev_cert = NULL;
		reg->endorsement = NULL;
	}
	if (reg->region_len == 0) {
		reg->region = NULL;
	}
	return true;
}

static bool d_state(struct rbuf *r, struct gossip_state *st)
{
	st->state_version = r_u64(r);
	st->frag_index = r_u16(r);
	st->frag_count = r_u16(r);
	const uint8_t flags = r_u8(r);
	const uint8_t reason = r_u8(r);
	st->predictive.cpu_centi = r_u16(r);
	st->predictive.mem_centi = r_u16(r);
	st->predictive.error_rate_centi = r_u32(r);
	st->n_backends = r_u16(r);
	if (r->bad || st->frag_count == 0 ||
	    st->frag_count > GOSSIP_MAX_FRAGMENTS ||
	    st->frag_index >= st->frag_count || (flags & ~PRED_DRAINING) != 0 ||
	    reason > GOSSIP_DRAIN_MANUAL) {
		return false;
	}
	st->predictive.draining = (flags & PRED_DRAINING) != 0;
	st->predictive.reason = (enum gossip_drain_reason)reason;
	if (!pred_ok(&st->predictive)) {
		return false;
	}
	st->entries = r->p;
	struct gossip_backend b;
	for (size_t i = 0; i < st->n_backends; i++) {
		if (!r_backend(r, &b)) {
			return false;
		}
	}
	st->entries_len = (size_t)(r->p - st->entries);
	return true;
}

static bool d_ack(struct rbuf *r, struct gossip_ack *ack)
{
	const uint8_t *kx = r_bytes(r, GOSSIP_KX_LEN);
	ack->acked_seq = r_u64(r);
	ack->state_version = r_u64(r);
	ack->flags = r_u8(r);
	const uint8_t reason = r_u8(r);
	ack->node_id_len = r_u8(r);
	ack->node_id = (const char *)r_bytes(r, ack->node_id_len);
	if (r->bad || (ack->flags & ~ACK_FLAGS) != 0 ||
	    reason >= GOSSIP_R_COUNT ||
	    !label_ok((const uint8_t *)ack->node_id, ack->node_id_len)) {
		return false;
	}
	memcpy(ack->overwatch_kx, kx, GOSSIP_KX_LEN);
	ack->reason = (enum gossip_reject)reason;
	return true;
}

/* The authenticators each type must or may carry. */
static bool flags_ok(enum gossip_type type, uint8_t flags)
{
	if ((flags & ~(GOSSIP_F_SIG | GOSSIP_F_MAC)) != 0 ||
	    flags == (GOSSIP_F_SIG | GOSSIP_F_MAC)) {
		return false;
	}
	switch (type) {
	case GOSSIP_HEARTBEAT:
		return flags != GOSSIP_F_SIG;
	case GOSSIP_REGISTER:
		return flags == GOSSIP_F_SIG;
	case GOSSIP_STATE:
	case GOSSIP_DEREGISTER:
		return flags == GOSSIP_F_MAC;
	case GOSSIP_ACK:
		return flags == 0;
	}
	return false;
}

enum gossip_reject gossip_decode(const uint8_t *inner, size_t len,
				 struct gossip_msg *out)
{
	memset(out, 0, sizeof(*out));
	if (len < HDR_FIXED || len > GOSSIP_MAX_INNER) {
		return GOSSIP_R_MALFORMED;
	}
	struct rbuf r = { .p = inner, .end = inner + len };
	const uint8_t type = r_u8(&r);
	const uint8_t flags = r_u8(&r);
	out->hdr.seq = r_u64(&r);
	out->hdr.time = (gslb_time_t)r_u64(&r);
	const uint8_t id_len = r_u8(&r);
	const uint8_t *id = r_bytes(&r, id_len);
	if (r.bad || out->hdr.seq == 0 || !agent_id_ok(id, id_len)) {
		return GOSSIP_R_MALFORMED;
	}
	memcpy(out->hdr.agent_id, id, id_len);
	out->hdr.agent_id[id_len] = '\0';
	if (type < GOSSIP_HEARTBEAT || type > GOSSIP_ACK) {
		return GOSSIP_R_UNKNOWN_TYPE;
	}
	out->hdr.type = (enum gossip_type)type;
	out->hdr.flags = flags;
	if (!flags_ok(out->hdr.type, flags)) {
		return GOSSIP_R_MALFORMED;
	}

	/* The authenticator's place, so that the body must end right there. */
	size_t body_end = len;
	if (flags & GOSSIP_F_MAC) {
		if (r_left(&r) < GOSSIP_MAC_LEN) {
			return GOSSIP_R_MALFORMED;
		}
		body_end = len - GOSSIP_MAC_LEN;
	}
	r.end = inner + body_end;

	bool ok = false;
	switch (out->hdr.type) {
	case GOSSIP_HEARTBEAT:
		ok = d_heartbeat(&r, &out->u.heartbeat);
		break;
	case GOSSIP_REGISTER:
		ok = d_register(&r, &out->u.reg);
		break;
	case GOSSIP_STATE:
		ok = d_state(&r, &out->u.state);
		break;
	case GOSSIP_DEREGISTER:
		ok = true;
		break;
	case GOSSIP_ACK:
		ok = d_ack(&r, &out->u.ack);
		break;
	}
	if (!ok || r.bad) {
		return GOSSIP_R_MALFORMED;
	}

	out->authed = inner;
	out->authed_len = (size_t)(r.p - inner);
	if (flags & GOSSIP_F_MAC) {
		if (r.p != r.end) {
			return GOSSIP_R_MALFORMED;
		}
		out->mac = inner + body_end;
		return GOSSIP_ACCEPTED;
	}
	if (flags & GOSSIP_F_SIG) {
		r.end = inner + len;
		const uint16_t sig_len = r_u16(&r);
		out->sig = r_bytes(&r, sig_len);
		if (r.bad || sig_len == 0 || sig_len > GOSSIP_SIG_MAX) {
			return GOSSIP_R_MALFORMED;
		}
		out->sig_len = sig_len;
	}
	if (r.p != inner + len) {
		return GOSSIP_R_MALFORMED;
	}
	return GOSSIP_ACCEPTED;
}

void gossip_state_iter_init(struct gossip_state_iter *it,
			    const struct gossip_state *st)
{
	it->p = st->entries;
	it->end = st->entries != NULL ? st->entries + st->entries_len : NULL;
}

bool gossip_state_next(struct gossip_state_iter *it, struct gossip_backend *out)
{
	if (it->p == NULL || it->p >= it->end) {
		return false;
	}
	/* The entries were validated; this only guards against misuse. */
	struct rbuf r = { .p = it->p, .end = it->end };
	if (!r_backend(&r, out)) {
		it->p = it->end;
		return false;
	}
	it->p = r.p;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Authenticators                                                           */

int gossip_add_mac(uint8_t *inner, size_t *len, size_t cap,
		   const uint8_t key[GOSSIP_KEY_LEN])
{
	if (*len < HDR_FIXED) {
		return GSLB_EINVAL;
	}
	if (cap < GOSSIP_MAC_LEN || *len > cap - GOSSIP_MAC_LEN) {
		return GSLB_ESPACE;
	}
	/* The flag first, so that the MAC covers it. */
	inner[1] |= GOSSIP_F_MAC;
	crypto_auth(inner + *len, inner, *len, key);
	*len += GOSSIP_MAC_LEN;
	return GSLB_EOK;
}

bool gossip_mac_ok(const struct gossip_msg *m,
		   const uint8_t key[GOSSIP_KEY_LEN])
{
	if (!(m->hdr.flags & GOSSIP_F_MAC) || m->mac == NULL ||
	    m->authed == NULL) {
		return false;
	}
	return crypto_auth_verify(m->mac, m->authed, m->authed_len, key) == 0;
}

void gossip_sign_begin(uint8_t *inner, size_t len)
{
	if (len >= HDR_FIXED) {
		inner[1] |= GOSSIP_F_SIG;
	}
}

int gossip_sign_end(uint8_t *inner, size_t *len, size_t cap, const uint8_t *sig,
		    size_t sig_len)
{
	if (*len < HDR_FIXED || sig == NULL || sig_len == 0 ||
	    sig_len > GOSSIP_SIG_MAX) {
		return GSLB_EINVAL;
	}
	cap = cap_inner(cap);
	if (*len > cap || 2 + sig_len > cap - *len) {
		return GSLB_ESPACE;
	}
	struct wbuf w = { .p = inner, .len = *len, .cap = cap };
	w_u16(&w, (uint16_t)sig_len);
	w_bytes(&w, sig, sig_len);
	*len = w.len;
	return GSLB_EOK;
}

int gossip_endorsement_data(const char *agent_id, const uint8_t *cert,
			    size_t cert_len, uint8_t *out, size_t cap)
{
	const size_t id_len = strnlen(agent_id, GOSSIP_AGENT_ID_MAX + 1);
	if (!agent_id_ok((const uint8_t *)agent_id, id_len) || cert == NULL ||
	    cert_len == 0 || cert_len > GOSSIP_CERT_MAX) {
		return GSLB_EINVAL;
	}
	struct wbuf w = { .p = out, .cap = cap };
	w_bytes(&w, endorse_prefix, ENDORSE_PREFIX_LEN);
	w_u8(&w, (uint8_t)id_len);
	w_bytes(&w, agent_id, id_len);
	w_bytes(&w, cert, cert_len);
	return w_result(&w);
}

/* ------------------------------------------------------------------------ */
/* Sealing                                                                  */

int gossip_seal(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const uint8_t *inner,
		size_t len, uint8_t *dgram, size_t cap)
{
	if (len > GOSSIP_MAX_INNER || cap < GOSSIP_OVERHEAD ||
	    len > cap - GOSSIP_OVERHEAD) {
		return GSLB_ESPACE;
	}
	memcpy(dgram, GOSSIP_MAGIC, 4);
	dgram[4] = GOSSIP_VERSION;
	dgram[5] = 0;
	randombytes_buf(dgram + NONCE_OFF, NONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		    dgram + GOSSIP_OUTER_LEN, NULL, inner, len, dgram,
		    GOSSIP_OUTER_LEN, NULL, dgram + NONCE_OFF, key) != 0) {
		return GSLB_EINVAL;
	}
	return (int)(len + GOSSIP_OVERHEAD);
}

enum gossip_reject gossip_open(const uint8_t key[GSLB_GOSSIP_KEY_LEN],
			       const uint8_t *dgram, size_t len, uint8_t *inner,
			       size_t *inner_len)
{
	*inner_len = 0;
	if (len > GOSSIP_MAX_DATAGRAM || len < 5 ||
	    memcmp(dgram, GOSSIP_MAGIC, 4) != 0) {
		return GOSSIP_R_MALFORMED;
	}
	if (dgram[4] != GOSSIP_VERSION) {
		return GOSSIP_R_VERSION;
	}
	if (len < GOSSIP_OVERHEAD || dgram[5] != 0) {
		return GOSSIP_R_MALFORMED;
	}
	const size_t n = len - GOSSIP_OVERHEAD;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    inner, NULL, NULL, dgram + GOSSIP_OUTER_LEN,
		    len - GOSSIP_OUTER_LEN, dgram, GOSSIP_OUTER_LEN,
		    dgram + NONCE_OFF, key) != 0) {
		/* Nothing of a forgery may be left for the caller. */
		sodium_memzero(inner, n);
		return GOSSIP_R_UNSEALABLE;
	}
	*inner_len = n;
	return GOSSIP_ACCEPTED;
}

/* ------------------------------------------------------------------------ */
/* Session keys                                                             */

void gossip_kx_new(struct gossip_kx *kx)
{
	crypto_kx_keypair(kx->pk, kx->sk);
}

void gossip_kx_wipe(struct gossip_kx *kx)
{
	sodium_memzero(kx, sizeof(*kx));
}

/*
 * The agent is crypto_kx's client and the overwatch its server: the
 * client's transmit key equals the server's receive key, and that one key
 * authenticates the agent's messages.
 */
int gossip_session_agent(const struct gossip_kx *agent,
			 const uint8_t overwatch_pk[GOSSIP_KX_LEN],
			 uint8_t key[GOSSIP_KEY_LEN])
{
	uint8_t rx[crypto_kx_SESSIONKEYBYTES];
	const int ret = crypto_kx_client_session_keys(rx, key, agent->pk,
						      agent->sk, overwatch_pk);
	sodium_memzero(rx, sizeof(rx));
	if (ret != 0) {
		sodium_memzero(key, GOSSIP_KEY_LEN);
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

int gossip_session_overwatch(const struct gossip_kx *overwatch,
			     const uint8_t agent_pk[GOSSIP_KX_LEN],
			     uint8_t key[GOSSIP_KEY_LEN])
{
	uint8_t tx[crypto_kx_SESSIONKEYBYTES];
	const int ret = crypto_kx_server_session_keys(key, tx, overwatch->pk,
						      overwatch->sk, agent_pk);
	sodium_memzero(tx, sizeof(tx));
	if (ret != 0) {
		sodium_memzero(key, GOSSIP_KEY_LEN);
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

/* ------------------------------------------------------------------------ */
/* Receiver helpers                                                         */

bool gossip_replay_fresh(const struct gossip_replay *r, uint64_t seq)
{
	if (seq == 0) {
		return false;
	}
	if (seq > r->top) {
		return true;
	}
	const uint64_t back = r->top - seq;
	return back < 64 && !(r->seen >> back & 1);
}

void gossip_replay_accept(struct gossip_replay *r, uint64_t seq)
{
	if (seq == 0) {
		return;
	}
	if (seq > r->top) {
		const uint64_t shift = seq - r->top;
		r->seen = shift >= 64 ? 0 : r->seen << shift;
		r->seen |= 1;
		r->top = seq;
	} else if (r->top - seq < 64) {
		r->seen |= (uint64_t)1 << (r->top - seq);
	}
}

bool gossip_time_ok(gslb_time_t time, gslb_time_t now)
{
	/* In unsigned arithmetic, so that no difference can overflow. */
	const uint64_t d = time >= now ? (uint64_t)time - (uint64_t)now
				       : (uint64_t)now - (uint64_t)time;
	return d <= (uint64_t)GOSSIP_MAX_SKEW;
}

/*
 * Reassembly keeps the fragments of one state version, in slots allocated
 * for its fragment count. Once a version completes it is remembered, and
 * fragments of it or of any older version are ignored from then on, also
 * after gossip_reasm_reset: a late duplicate of an applied state must not
 * start a partial one that never completes. Only gossip_reasm_free forgets
 * it (e.g. when the agent registers anew and may count from 1 again).
 * An ignored fragment changes nothing, so a completed state stays readable
 * through late duplicates. A fragment count that differs within a version,
 * or the byte limit, drops the partial state: the agent sends it again.
 */
struct reasm_slot {
	struct gossip_state st;
	uint8_t *copy;
	bool present;
};

struct gossip_reasm {
	bool active; /* a version is being collected, or complete */
	uint64_t version;
	uint16_t count, have;
	size_t bytes;
	struct reasm_slot *slots; /* count of them */
	bool done;
	uint64_t done_version; /* the newest version that completed */
};

static void reasm_drop(struct gossip_reasm *r)
{
	if (r->slots != NULL) {
		for (size_t i = 0; i < r->count; i++) {
			free(r->slots[i].copy);
		}
		free(r->slots);
	}
	r->slots = NULL;
	r->active = false;
	r->version = 0;
	r->count = 0;
	r->have = 0;
	r->bytes = 0;
}

void gossip_reasm_free(struct gossip_reasm *r)
{
	if (r == NULL) {
		return;
	}
	reasm_drop(r);
	free(r);
}

void gossip_reasm_reset(struct gossip_reasm *r)
{
	if (r != NULL) {
		reasm_drop(r);
	}
}

enum gossip_reject gossip_reasm_add(struct gossip_reasm **rp,
				    const struct gossip_state *st,
				    bool *complete)
{
	*complete = false;
	if (st->frag_count == 0 || st->frag_count > GOSSIP_MAX_FRAGMENTS ||
	    st->frag_index >= st->frag_count ||
	    (st->entries_len > 0 && st->entries == NULL)) {
		return GOSSIP_R_MALFORMED;
	}
	if (*rp == NULL) {
		*rp = calloc(1, sizeof(**rp));
		if (*rp == NULL) {
			return GOSSIP_R_TOO_LARGE;
		}
	}
	struct gossip_reasm *r = *rp;

	if (r->done && st->state_version <= r->done_version) {
		return GOSSIP_ACCEPTED;
	}
	if (r->active) {
		if (st->state_version < r->version) {
			return GOSSIP_ACCEPTED;
		}
		if (st->state_version > r->version) {
			reasm_drop(r);
		} else if (st->frag_count != r->count) {
			reasm_drop(r);
			return GOSSIP_R_MALFORMED;
		} else if (r->slots[st->frag_index].present) {
			return GOSSIP_ACCEPTED;
		}
	}
	if (!r->active) {
		r->slots = calloc(st->frag_count, sizeof(*r->slots));
		if (r->slots == NULL) {
			return GOSSIP_R_TOO_LARGE;
		}
		r->active = true;
		r->version = st->state_version;
		r->count = st->frag_count;
	}
	if (st->entries_len > REASM_BYTES_MAX - r->bytes) {
		reasm_drop(r);
		return GOSSIP_R_TOO_LARGE;
	}

	struct reasm_slot *s = &r->slots[st->frag_index];
	/* One byte more so that an empty fragment is not malloc(0). */
	s->copy = malloc(st->entries_len + 1);
	if (s->copy == NULL) {
		reasm_drop(r);
		return GOSSIP_R_TOO_LARGE;
	}
	if (st->entries_len > 0) {
		memcpy(s->copy, st->entries, st->entries_len);
	}
	s->st = *st;
	s->st.entries = s->copy;
	s->present = true;
	r->bytes += st->entries_len;
	if (++r->have == r->count) {
		r->done = true;
		r->done_version = r->version;
		*complete = true;
	}
	return GOSSIP_ACCEPTED;
}

size_t gossip_reasm_count(const struct gossip_reasm *r)
{
	if (r == NULL || !r->active || r->have != r->count) {
		return 0;
	}
	return r->count;
}

const struct gossip_state *gossip_reasm_fragment(const struct gossip_reasm *r,
						 size_t i)
{
	if (i >= gossip_reasm_count(r)) {
		return NULL;
	}
	return &r->slots[i].st;
}
