/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "seal.h"

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN   crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(NONCE_LEN + TAG_LEN == GSLB_SEAL_OVERHEAD,
	       "GSLB_SEAL_OVERHEAD must match libsodium");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES ==
		       GSLB_GOSSIP_KEY_LEN,
	       "the gossip key must be an XChaCha20-Poly1305 key");

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

int gslb_seal_init(void)
{
	/* 1: done before, by us or by another user of libsodium. */
	return sodium_init() < 0 ? GSLB_EIO : GSLB_EOK;
}

int gslb_seal(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const uint8_t *ad,
	      size_t ad_len, const uint8_t *plain, size_t len, uint8_t *out)
{
	if (len > SIZE_MAX - GSLB_SEAL_OVERHEAD ||
	    len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX) {
		return GSLB_EINVAL;
	}
	randombytes_buf(out, NONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		    out + NONCE_LEN, NULL, plain, len, ad_len > 0 ? ad : NULL,
		    ad_len, NULL, out, key) != 0) {
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

int gslb_unseal(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const uint8_t *ad,
		size_t ad_len, const uint8_t *sealed, size_t len, uint8_t *out)
{
	if (len < GSLB_SEAL_OVERHEAD) {
		return GSLB_EINVAL;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    out, NULL, NULL, sealed + NONCE_LEN, len - NONCE_LEN,
		    ad_len > 0 ? ad : NULL, ad_len, sealed, key) != 0) {
		/* Nothing of a forgery may be left for the caller. */
		sodium_memzero(out, len - GSLB_SEAL_OVERHEAD);
		return GSLB_EINVAL;
	}
	return GSLB_EOK;
}

char *gslb_seal_b64(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const char *ad,
		    const uint8_t *plain, size_t len)
{
	const size_t ad_len = ad != NULL ? strlen(ad) : 0;
	if (len > SIZE_MAX / 2 - GSLB_SEAL_OVERHEAD) {
		return NULL;
	}
	const size_t sealed_len = len + GSLB_SEAL_OVERHEAD;
	uint8_t *sealed = malloc(sealed_len);
	if (sealed == NULL) {
		return NULL;
	}
	char *b64 = NULL;
	if (gslb_seal(key, (const uint8_t *)ad, ad_len, plain, len, sealed) ==
	    GSLB_EOK) {
		const size_t b64_len =
			sodium_base64_ENCODED_LEN(sealed_len, B64_VARIANT);
		b64 = malloc(b64_len);
		if (b64 != NULL) {
			sodium_bin2base64(b64, b64_len, sealed, sealed_len,
					  B64_VARIANT);
		}
	}
	free(sealed);
	return b64;
}

int gslb_unseal_b64(const uint8_t key[GSLB_GOSSIP_KEY_LEN], const char *ad,
		    const char *b64, uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;

	const size_t ad_len = ad != NULL ? strlen(ad) : 0;
	const size_t b64_len = strlen(b64);
	/* Every 4 characters make at most 3 bytes. */
	const size_t max = b64_len / 4 * 3 + 3;
	uint8_t *sealed = malloc(max);
	if (sealed == NULL) {
		return GSLB_ENOMEM;
	}
	size_t sealed_len = 0;
	const char *end = NULL;
	if (sodium_base642bin(sealed, max, b64, b64_len, NULL, &sealed_len,
			      &end, B64_VARIANT) != 0 ||
	    end != b64 + b64_len || sealed_len < GSLB_SEAL_OVERHEAD) {
		free(sealed);
		return GSLB_EINVAL;
	}
	const size_t plain_len = sealed_len - GSLB_SEAL_OVERHEAD;
	/* One byte more so that an empty plaintext is not malloc(0). */
	uint8_t *plain = malloc(plain_len + 1);
	if (plain == NULL) {
		free(sealed);
		return GSLB_ENOMEM;
	}
	int ret = gslb_unseal(key, (const uint8_t *)ad, ad_len, sealed,
			      sealed_len, plain);
	free(sealed);
	if (ret != GSLB_EOK) {
		free(plain);
		return ret;
	}
	*out = plain;
	*out_len = plain_len;
	return GSLB_EOK;
}
