/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Sealing with the shared 32-byte key (overwatch.gossip.encryption_key /
 * agent.gossip.encryption_key): XChaCha20-Poly1305 from libsodium, a fresh
 * random 24-byte nonce per message, and associated data that binds a sealed
 * value to what it is (so a sealed key for one zone cannot be passed off as
 * another's). The only file besides the gossip codec that includes
 * libsodium.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "config.h"

/* nonce || ciphertext || tag */
#define GSLB_SEAL_OVERHEAD (24 + 16)

/* Once per process (sodium_init); GSLB_EOK or GSLB_EIO. */
int gslb_seal_init(void) GSLB_WARN_UNUSED;

/*
 * Seals plain[0..len) with key and associated data ad (may be NULL/0).
 * out must hold len + GSLB_SEAL_OVERHEAD bytes.
 */
int gslb_seal(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const uint8_t *ad,
	      size_t ad_len, const uint8_t *plain, size_t len,
	      uint8_t *out) GSLB_WARN_UNUSED;

/*
 * Opens sealed[0..len) into out (len - GSLB_SEAL_OVERHEAD bytes). Returns
 * GSLB_EOK, or GSLB_EINVAL when it is too short, was sealed with another
 * key or other associated data, or was tampered with.
 */
int gslb_unseal(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const uint8_t *ad,
		size_t ad_len, const uint8_t *sealed, size_t len,
		uint8_t *out) GSLB_WARN_UNUSED;

/* Base64 wrappers (standard alphabet, padded); results malloc'ed. */
char *gslb_seal_b64(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const char *ad,
		    const uint8_t *plain, size_t len);
/* GSLB_EOK with *out (malloc'ed, *out_len bytes), or GSLB_EINVAL. */
int gslb_unseal_b64(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const char *ad,
		    const char *b64, uint8_t **out,
		    size_t *out_len) GSLB_WARN_UNUSED;
