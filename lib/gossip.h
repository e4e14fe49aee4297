/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The gossip protocol between agents and overwatches: our own versioned
 * binary format (docs/gossip.md has the byte layout), sealed with the
 * shared 32-byte key, authenticated per agent.
 *
 * A datagram is
 *
 *   "OGSL" | version 1 | 0 | nonce (24) | XChaCha20-Poly1305(inner) + tag
 *
 * with the first 30 bytes as associated data. The sealed inner message is
 *
 *   type (1) | flags (1) | seq (8) | unix ns (8) | id len (1) | agent id
 *     | body | authenticator
 *
 * where the authenticator is, by flags: nothing (only a first heartbeat
 * and the overwatch's acknowledgements), a signature by the agent's
 * certificate key (u16 length + DER, registrations), or a 32-byte MAC with
 * the session key that the signed registration set up (everything else).
 * Verifying an ECDSA signature costs about 250 us; a MAC about 1 us, so an
 * overwatch can take 10,000 agents' heartbeats a second.
 *
 * Session keys come from an X25519 exchange: the agent's key pair is made
 * at start and its public half is signed in the registration; the
 * overwatch's key pair is made at start and sent in every acknowledgement.
 * Someone who holds the gossip key but not the agent's certificate key can
 * read the traffic but cannot compute the session key, so cannot speak for
 * the agent.
 *
 * Every decoder bounds-checks every length against the bytes it has; it
 * never reads past the input and never trusts a count.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "compiler.h"
#include "config.h"
#include "netaddr.h"

#define GOSSIP_VERSION 1
#define GOSSIP_MAGIC   "OGSL"
/* magic, version, reserved byte, nonce: the associated data */
#define GOSSIP_OUTER_LEN (4 + 1 + 1 + 24)
#define GOSSIP_TAG_LEN   16
#define GOSSIP_OVERHEAD  (GOSSIP_OUTER_LEN + GOSSIP_TAG_LEN)
/* Largest datagram sent or accepted. */
#define GOSSIP_MAX_DATAGRAM 4096
#define GOSSIP_MAX_INNER    (GOSSIP_MAX_DATAGRAM - GOSSIP_OVERHEAD)
/* State fragments are kept under a typical path MTU. */
#define GOSSIP_STATE_DATAGRAM 1200

#define GOSSIP_AGENT_ID_MAX  64 /* [A-Za-z0-9._-], 1..64 */
#define GOSSIP_TOKEN_MAX     255
#define GOSSIP_REGION_MAX    63
#define GOSSIP_NODE_ID_MAX   255
#define GOSSIP_SERVICES_MAX  64 /* services named in one registration */
#define GOSSIP_KX_LEN        32 /* X25519 public key */
#define GOSSIP_KEY_LEN       32 /* session key */
#define GOSSIP_MAC_LEN       32
#define GOSSIP_SIG_MAX       160
#define GOSSIP_CERT_MAX      2048
#define GOSSIP_MAX_FRAGMENTS 1024
/* Messages whose time is further than this from ours are refused. */
#define GOSSIP_MAX_SKEW (120 * GSLB_SEC)

enum gossip_type {
	GOSSIP_HEARTBEAT = 1,
	GOSSIP_REGISTER = 2,
	GOSSIP_STATE = 3,
	GOSSIP_DEREGISTER = 4,
	GOSSIP_ACK = 5, /* overwatch to agent */
};

/* Inner flags: which authenticator follows the body. */
#define GOSSIP_F_SIG 0x01
#define GOSSIP_F_MAC 0x02

/* Why a datagram was dropped: the `reason` label of the metrics. */
enum gossip_reject {
	GOSSIP_ACCEPTED = 0,
	GOSSIP_R_MALFORMED,       /* bad layout, length or value */
	GOSSIP_R_VERSION,         /* right magic, other version */
	GOSSIP_R_UNSEALABLE,      /* wrong key or tampered */
	GOSSIP_R_UNKNOWN_TYPE,    /* a type this version does not know */
	GOSSIP_R_REPLAYED,        /* sequence number seen or too old */
	GOSSIP_R_CLOCK,           /* timestamp outside GOSSIP_MAX_SKEW */
	GOSSIP_R_UNAUTHENTICATED, /* no or wrong MAC, no session */
	GOSSIP_R_BAD_SIGNATURE,   /* registration signature does not verify */
	GOSSIP_R_BAD_CERTIFICATE, /* unparsable, expired or not yet valid */
	GOSSIP_R_BAD_TOKEN,       /* service token does not match */
	GOSSIP_R_CERT_MISMATCH,   /* agent id pinned to another certificate */
	GOSSIP_R_UNKNOWN_SERVICE, /* not a configured domain, or no token */
	GOSSIP_R_TOO_LARGE,       /* state beyond the reassembly limits */
	GOSSIP_R_COUNT
};

/* "malformed", "version", ...: stable names for metrics and logs. */
const char *gossip_reject_name(enum gossip_reject r);

/* Why an agent's backends are draining. */
enum gossip_drain_reason {
	GOSSIP_DRAIN_NONE = 0,
	GOSSIP_DRAIN_CPU,
	GOSSIP_DRAIN_MEMORY,
	GOSSIP_DRAIN_ERROR_RATE,
	GOSSIP_DRAIN_MANUAL, /* the operator asked (SIGUSR1) */
};

/* "none", "cpu_threshold_exceeded", "memory_threshold_exceeded",
 * "error_rate_threshold_exceeded", "manual". */
const char *gossip_drain_reason_name(enum gossip_drain_reason r);

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

struct gossip_header {
	enum gossip_type type;
	uint8_t flags;    /* GOSSIP_F_*; set by the encoders */
	uint64_t seq;     /* strictly increasing per agent, never 0 */
	gslb_time_t time; /* wall clock, unix ns */
	char agent_id[GOSSIP_AGENT_ID_MAX + 1];
};

/* Small, every heartbeat.interval. */
struct gossip_heartbeat {
	uint64_t state_version; /* of the agent's current state */
	uint32_t n_backends;
	uint32_t interval_ms;      /* the agent's heartbeat.interval */
	uint16_t missed_threshold; /* the agent's heartbeat.missed_threshold */
};

/* First contact, and again whenever an overwatch asks. Signed. */
struct gossip_register {
	const char *token;               /* service token; not NUL-terminated */
	size_t token_len;                /* 1..GOSSIP_TOKEN_MAX */
	const uint8_t *cert;             /* the agent's certificate, DER */
	size_t cert_len;                 /* 1..GOSSIP_CERT_MAX */
	uint8_t agent_kx[GOSSIP_KX_LEN]; /* session public key */
	uint8_t overwatch_kx[GOSSIP_KX_LEN]; /* the overwatch's it used */
	uint32_t interval_ms;
	uint16_t missed_threshold;
	const char *region; /* not NUL-terminated; may be empty */
	size_t region_len;  /* 0..GOSSIP_REGION_MAX */
	/* The services the agent reports backends for (the token is checked
	 * against each); not NUL-terminated. */
	const char *services[GOSSIP_SERVICES_MAX];
	size_t service_lens[GOSSIP_SERVICES_MAX];
	size_t n_services;
	/* Rotation: the certificate this one replaces, and its key's
	 * signature over gossip_endorsement_data(); both empty when none. */
	const uint8_t *prev_cert;
	size_t prev_cert_len;
	const uint8_t *endorsement;
	size_t endorsement_len;
};

/* One backend in a state message. */
struct gossip_backend {
	const char *service; /* not NUL-terminated, 1..253 bytes */
	size_t service_len;
	struct gslb_ip ip;
	uint16_t port;
	uint32_t weight;
	bool healthy;
};

/* The agent's predictive signal, carried in every state fragment. */
struct gossip_predictive {
	bool draining;
	enum gossip_drain_reason reason;
	uint16_t cpu_centi;        /* percent x 100 */
	uint16_t mem_centi;        /* percent x 100 */
	uint32_t error_rate_centi; /* errors per minute x 100 */
};

/* The agent's whole state, split into fragments that each carry whole
 * backends. */
struct gossip_state {
	uint64_t state_version;
	uint16_t frag_index; /* 0..frag_count-1 */
	uint16_t frag_count; /* 1..GOSSIP_MAX_FRAGMENTS */
	struct gossip_predictive predictive;
	uint16_t n_backends;    /* in this fragment */
	const uint8_t *entries; /* validated; walk with gossip_state_next */
	size_t entries_len;
};

/* Overwatch to agent, after each agent message it accepted or refused. */
#define GOSSIP_ACK_NEED_REGISTER 0x01 /* no session: register again */
#define GOSSIP_ACK_NEED_STATE    0x02 /* send the full state */
#define GOSSIP_ACK_REFUSED       0x04 /* see reason */
struct gossip_ack {
	uint8_t overwatch_kx[GOSSIP_KX_LEN];
	uint64_t acked_seq;     /* the agent message this answers */
	uint64_t state_version; /* the agent state the overwatch holds */
	uint8_t flags;
	enum gossip_reject reason; /* with GOSSIP_ACK_REFUSED */
	const char *node_id;       /* overwatch.identity.node_id */
	size_t node_id_len;
};

/* A decoded inner message. Pointers point into the decoded buffer. */
struct gossip_msg {
	struct gossip_header hdr;
	union {
		struct gossip_heartbeat heartbeat;
		struct gossip_register reg;
		struct gossip_state state;
		struct gossip_ack ack;
	} u;
	/* The bytes the authenticator covers (from the type byte up to it),
	 * and the authenticator, per hdr.flags. */
	const uint8_t *authed;
	size_t authed_len;
	const uint8_t *sig; /* GOSSIP_F_SIG */
	size_t sig_len;
	const uint8_t *mac; /* GOSSIP_F_MAC: GOSSIP_MAC_LEN bytes */
};

/*
 * Decodes an inner message (after gossip_open). Checks every length, the
 * agent id's characters, the type, every backend entry and the flags
 * against the type (registrations must be signed; state and deregister
 * must carry a MAC). Does not check MACs, signatures, times or sequence
 * numbers: those need the receiver's state.
 */
enum gossip_reject gossip_decode(const uint8_t *inner, size_t len,
				 struct gossip_msg *out) GSLB_WARN_UNUSED;

/* The next backend of a decoded state message; false after the last. */
struct gossip_state_iter {
	const uint8_t *p, *end;
};
void gossip_state_iter_init(struct gossip_state_iter *it,
			    const struct gossip_state *st);
bool gossip_state_next(struct gossip_state_iter *it,
		       struct gossip_backend *out);

/*
 * Encoders write an inner message into out (cap bytes) and return its
 * length, or GSLB_ESPACE when it does not fit (GSLB_EINVAL for values out
 * of range). The authenticator is added after: gossip_add_mac, or
 * gossip_sign_begin + gossip_sign_end.
 */
int gossip_encode_heartbeat(const struct gossip_header *h,
			    const struct gossip_heartbeat *hb, uint8_t *out,
			    size_t cap) GSLB_WARN_UNUSED;
int gossip_encode_register(const struct gossip_header *h,
			   const struct gossip_register *reg, uint8_t *out,
			   size_t cap) GSLB_WARN_UNUSED;
int gossip_encode_deregister(const struct gossip_header *h, uint8_t *out,
			     size_t cap) GSLB_WARN_UNUSED;
int gossip_encode_ack(const struct gossip_header *h,
		      const struct gossip_ack *ack, uint8_t *out,
		      size_t cap) GSLB_WARN_UNUSED;

/*
 * Splits backends[0..n) into state fragments of at most max_inner bytes
 * each (before the MAC, which the caller adds in emit), and calls emit for
 * each in order with the fragment's header seq taken from *seq (which is
 * incremented per fragment). Every fragment carries pred. An empty state
 * is one fragment with no backends. Stops at the first emit that does not
 * return GSLB_EOK and returns its code.
 */
typedef int (*gossip_emit_fn)(uint8_t *inner, size_t len, size_t cap,
			      void *arg);
int gossip_encode_state(const struct gossip_header *h, uint64_t *seq,
			uint64_t state_version,
			const struct gossip_predictive *pred,
			const struct gossip_backend *backends, size_t n,
			size_t max_inner, gossip_emit_fn emit,
			void *arg) GSLB_WARN_UNUSED;

/* Appends the session MAC to an encoded message (setting GOSSIP_F_MAC);
 * *len grows by GOSSIP_MAC_LEN. GSLB_ESPACE if cap is too small. */
int gossip_add_mac(uint8_t *inner, size_t *len, size_t cap,
		   const uint8_t key[GOSSIP_KEY_LEN]) GSLB_WARN_UNUSED;
/* Constant time. */
bool gossip_mac_ok(const struct gossip_msg *m,
		   const uint8_t key[GOSSIP_KEY_LEN]);

/* Sets GOSSIP_F_SIG: inner[0..len) is then what to sign. */
void gossip_sign_begin(uint8_t *inner, size_t len);
/* Appends the signature (u16 length + bytes). */
int gossip_sign_end(uint8_t *inner, size_t *len, size_t cap, const uint8_t *sig,
		    size_t sig_len) GSLB_WARN_UNUSED;

/*
 * What the old certificate's key signs when an agent rotates:
 * "opengslb-rotate" | id len | agent id | new certificate DER. Returns the
 * length written, or GSLB_ESPACE.
 */
int gossip_endorsement_data(const char *agent_id, const uint8_t *cert,
			    size_t cert_len, uint8_t *out,
			    size_t cap) GSLB_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Sealing                                                                  */

/* Seals inner into a datagram; returns its length or GSLB_ESPACE. */
int gossip_seal(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const uint8_t *inner,
		size_t len, uint8_t *dgram, size_t cap) GSLB_WARN_UNUSED;

/*
 * Opens a datagram into inner (at least len bytes); *inner_len is set.
 * GOSSIP_R_MALFORMED (too short, bad magic), GOSSIP_R_VERSION or
 * GOSSIP_R_UNSEALABLE.
 */
enum gossip_reject gossip_open(const uint8_t key[GSLB_GOSSIP_KEY_LEN],
			       const uint8_t *dgram, size_t len, uint8_t *inner,
			       size_t *inner_len) GSLB_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Session keys (X25519 via libsodium's crypto_kx)                           */

struct gossip_kx {
	uint8_t pk[GOSSIP_KX_LEN];
	uint8_t sk[32];
};

void gossip_kx_new(struct gossip_kx *kx);
void gossip_kx_wipe(struct gossip_kx *kx);
/* The key both sides get; GSLB_EINVAL for a bad peer key. */
int gossip_session_agent(const struct gossip_kx *agent,
			 const uint8_t overwatch_pk[GOSSIP_KX_LEN],
			 uint8_t key[GOSSIP_KEY_LEN]) GSLB_WARN_UNUSED;
int gossip_session_overwatch(const struct gossip_kx *overwatch,
			     const uint8_t agent_pk[GOSSIP_KX_LEN],
			     uint8_t key[GOSSIP_KEY_LEN]) GSLB_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Receiver helpers                                                         */

/* Replay window over the last 64 sequence numbers. Check before, accept
 * only after the message authenticated. */
struct gossip_replay {
	uint64_t top;  /* highest accepted; 0: none yet */
	uint64_t seen; /* bit i: top - i accepted */
};
bool gossip_replay_fresh(const struct gossip_replay *r, uint64_t seq);
void gossip_replay_accept(struct gossip_replay *r, uint64_t seq);

/* |time - now| within GOSSIP_MAX_SKEW. */
bool gossip_time_ok(gslb_time_t time, gslb_time_t now);

/*
 * Reassembly of one agent's state fragments (each already authenticated).
 * Keeps one state version at a time: a fragment of a newer version drops a
 * partial older one; fragments of older versions are ignored. Total size
 * is bounded (GOSSIP_MAX_FRAGMENTS fragments, 1 MiB).
 */
struct gossip_reasm;
void gossip_reasm_free(struct gossip_reasm *r);
/*
 * Adds a fragment (copied). Returns GOSSIP_ACCEPTED, GOSSIP_R_TOO_LARGE or
 * GOSSIP_R_MALFORMED (a fragment count that differs within a version);
 * *complete is set when every fragment of st->state_version is in. GSLB
 * errors (out of memory) come back as GOSSIP_R_TOO_LARGE.
 */
enum gossip_reject gossip_reasm_add(struct gossip_reasm **r,
				    const struct gossip_state *st,
				    bool *complete);
/* After completion: the fragments in order (valid until the next add or
 * free). */
size_t gossip_reasm_count(const struct gossip_reasm *r);
const struct gossip_state *gossip_reasm_fragment(const struct gossip_reasm *r,
						 size_t i);
/* Drops everything held (e.g. the state version was applied). */
void gossip_reasm_reset(struct gossip_reasm *r);
