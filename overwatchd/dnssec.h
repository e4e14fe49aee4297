/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * DNSSEC primitives: zone keys (one CSK per zone, flags 257), DS records,
 * and a signer that makes RRSIGs with a cache keyed by RRset content, so
 * rebuilding a snapshot re-signs only the answer sets that changed.
 *
 * This file and dnssec.c are the only ones that include libdnssec. Every
 * function is for the main thread; workers only copy signed bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libknot/libknot.h>

#include "compiler.h"
#include "config.h"

/* DS digest type SHA-256 (RFC 4509). */
#define DNSSEC_DS_SHA256 2
/* TTL of the DNSKEY RRset (as the original). */
#define DNSSEC_DNSKEY_TTL 3600
/* Signatures start this long ago (clock skew of resolvers), ... */
#define DNSSEC_INCEPTION_PAST (90 * 60)
/* ... are valid this long, ... */
#define DNSSEC_SIG_LIFETIME (14 * 86400)
/* ... and are made again when less than this remains. */
#define DNSSEC_SIG_REFRESH (7 * 86400)

/* Once per process, before threads; and at exit. */
void dnssec_global_init(void);
void dnssec_global_cleanup(void);

/* "ECDSAP256SHA256", "ECDSAP384SHA384", "ED25519", or "unknown". */
const char *dnssec_algorithm_name(int algorithm);

/*
 * Makes a new private key of the algorithm and returns it as unencrypted
 * PKCS#8 PEM (malloc'ed, *pem_len bytes, not NUL-terminated). tmp_dir is
 * a private directory where libdnssec's keystore writes the key briefly.
 */
int dnssec_key_generate(int algorithm, const char *tmp_dir, uint8_t **pem,
			size_t *pem_len) GSLB_WARN_UNUSED;

/* A zone's signing key, with its public records precomputed. */
struct zone_key {
	char *zone;         /* presentation, lower case, no trailing dot */
	knot_dname_t *apex; /* wire, lower case */
	int algorithm;      /* 13, 14 or 15 */
	uint16_t key_tag;
	char key_id[41]; /* libdnssec's id: hex SHA-1 of the public key */
	int64_t created; /* unix seconds */
	char *node_id;   /* the overwatch that generated it */
	uint8_t *pem;    /* private key, PKCS#8 PEM; never logged */
	size_t pem_len;
	uint8_t *dnskey; /* DNSKEY RDATA (flags 257, protocol 3) */
	size_t dnskey_len;
	uint8_t *ds; /* DS RDATA, SHA-256 */
	size_t ds_len;
	void *priv; /* libdnssec's key */
};

/*
 * Builds a key for zone from its PEM (copied). Fails with GSLB_EINVAL when
 * the PEM does not parse or does not match the algorithm.
 */
int zone_key_load(const char *zone, int algorithm, const uint8_t *pem,
		  size_t pem_len, int64_t created, const char *node_id,
		  struct zone_key **out) GSLB_WARN_UNUSED;
void zone_key_free(struct zone_key *key);

/* The public key, base64 (malloc'ed). */
char *zone_key_public_b64(const struct zone_key *key);
/* The DS digest in upper-case hex (malloc'ed). */
char *zone_key_ds_digest_hex(const struct zone_key *key);
/* "zone. IN DS tag alg 2 HEX" (malloc'ed; the parent sets the TTL). */
char *zone_key_ds_text(const struct zone_key *key);
/* "zone. 3600 IN DNSKEY 257 3 alg BASE64" (malloc'ed). */
char *zone_key_dnskey_text(const struct zone_key *key);

/*
 * Signs with one zone key and remembers signatures: an RRset signed before
 * (same owner, type, TTL and records) gets its old RRSIG back while that
 * still has DNSSEC_SIG_REFRESH to live.
 */
struct signer;

int signer_new(const struct zone_key *key,
	       struct signer **out) GSLB_WARN_UNUSED;
void signer_free(struct signer *s);
const struct zone_key *signer_key(const struct signer *s);

/*
 * The RRSIG RDATA for rr (owner and RDATA names in lower case, records
 * in canonical order as knot_rrset_add_rdata keeps them), valid at now
 * (unix seconds). The result belongs to the signer and lives until the
 * next signer_sweep(); copy it. NULL when signing failed.
 */
const knot_rdata_t *signer_sign(struct signer *s, const knot_rrset_t *rr,
				int64_t now);

/* Forgets signatures not asked for since keep_since (unix seconds). */
void signer_sweep(struct signer *s, int64_t keep_since);

struct signer_stats {
	uint64_t signed_new; /* signatures made */
	uint64_t cache_hits; /* signatures reused */
	uint64_t failures;
	size_t cached;        /* signatures held now */
	int64_t next_refresh; /* unix seconds: earliest cached expiry minus
				 DNSSEC_SIG_REFRESH; 0 when none */
};
void signer_get_stats(const struct signer *s, struct signer_stats *st);

/* A type bitmap for NSEC/NSEC3 (RFC 4034 §4.1.2) into out; its length, or
 * 0 when it does not fit. */
size_t dnssec_type_bitmap(const uint16_t *types, size_t n, uint8_t *out,
			  size_t max);

/* SHA-1 NSEC3 hash of name with no extra iterations and an empty salt
 * (RFC 9276), as our NSEC3 chains use. */
#define DNSSEC_NSEC3_HASH_LEN 20
int dnssec_nsec3_hash_name(const knot_dname_t *name,
			   uint8_t out[DNSSEC_NSEC3_HASH_LEN]);
