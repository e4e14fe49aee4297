/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "error.h"
#include "seal.h"

static const char plain_text[] = "-----BEGIN PRIVATE KEY-----\n"
				 "not really a key, but as long as one\n"
				 "-----END PRIVATE KEY-----\n";
#define PLAIN     ((const uint8_t *)plain_text)
#define PLAIN_LEN (sizeof(plain_text) - 1)
#define AD        "opengslb-dnssec-key|example.com|abc|1700000000"
#define AD_BYTES  ((const uint8_t *)AD)
#define AD_LEN    (sizeof(AD) - 1)

static uint8_t key[GSLB_GOSSIP_KEY_LEN];
static uint8_t other_key[GSLB_GOSSIP_KEY_LEN];

static void setup(void)
{
	ck_assert_int_eq(gslb_seal_init(), GSLB_EOK);
	for (size_t i = 0; i < sizeof(key); i++) {
		key[i] = (uint8_t)(i * 7 + 1);
		other_key[i] = key[i];
	}
	other_key[31] ^= 0x01;
}

/* Seals PLAIN with key and AD into a new buffer of *len bytes. */
static uint8_t *seal_plain(size_t *len)
{
	*len = PLAIN_LEN + GSLB_SEAL_OVERHEAD;
	uint8_t *sealed = malloc(*len);
	ck_assert_ptr_nonnull(sealed);
	ck_assert_int_eq(
		gslb_seal(key, AD_BYTES, AD_LEN, PLAIN, PLAIN_LEN, sealed),
		GSLB_EOK);
	return sealed;
}

START_TEST(round_trip)
{
	size_t len;
	uint8_t *sealed = seal_plain(&len);
	uint8_t out[PLAIN_LEN];
	ck_assert_int_eq(gslb_unseal(key, AD_BYTES, AD_LEN, sealed, len, out),
			 GSLB_EOK);
	ck_assert_mem_eq(out, PLAIN, PLAIN_LEN);
	/* The plaintext does not show in the sealed bytes. */
	ck_assert_ptr_null(memmem(sealed, len, "PRIVATE KEY", 11));
	free(sealed);
}
END_TEST

START_TEST(empty_and_no_ad)
{
	uint8_t sealed[GSLB_SEAL_OVERHEAD];
	uint8_t out[1] = { 0x5a };
	ck_assert_int_eq(gslb_seal(key, NULL, 0, PLAIN, 0, sealed), GSLB_EOK);
	ck_assert_int_eq(gslb_unseal(key, NULL, 0, sealed, sizeof(sealed), out),
			 GSLB_EOK);
	/* Sealed without associated data: asking for some fails. */
	ck_assert_int_eq(
		gslb_unseal(key, AD_BYTES, AD_LEN, sealed, sizeof(sealed), out),
		GSLB_EINVAL);
}
END_TEST

START_TEST(wrong_key)
{
	size_t len;
	uint8_t *sealed = seal_plain(&len);
	uint8_t out[PLAIN_LEN];
	ck_assert_int_eq(
		gslb_unseal(other_key, AD_BYTES, AD_LEN, sealed, len, out),
		GSLB_EINVAL);
	free(sealed);
}
END_TEST

START_TEST(other_ad)
{
	size_t len;
	uint8_t *sealed = seal_plain(&len);
	uint8_t out[PLAIN_LEN];
	static const char other[] =
		"opengslb-dnssec-key|example.net|abc|1700000000";
	ck_assert_int_eq(gslb_unseal(key, (const uint8_t *)other,
				     sizeof(other) - 1, sealed, len, out),
			 GSLB_EINVAL);
	ck_assert_int_eq(
		gslb_unseal(key, AD_BYTES, AD_LEN - 1, sealed, len, out),
		GSLB_EINVAL);
	ck_assert_int_eq(gslb_unseal(key, NULL, 0, sealed, len, out),
			 GSLB_EINVAL);
	free(sealed);
}
END_TEST

START_TEST(flipped_bit)
{
	size_t len;
	uint8_t *sealed = seal_plain(&len);
	uint8_t out[PLAIN_LEN];
	/* Nonce, ciphertext and tag: every byte is covered. */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			sealed[i] ^= (uint8_t)(1u << bit);
			ck_assert_msg(gslb_unseal(key, AD_BYTES, AD_LEN, sealed,
						  len, out) == GSLB_EINVAL,
				      "byte %zu bit %d", i, bit);
			sealed[i] ^= (uint8_t)(1u << bit);
		}
	}
	ck_assert_int_eq(gslb_unseal(key, AD_BYTES, AD_LEN, sealed, len, out),
			 GSLB_EOK);
	free(sealed);
}
END_TEST

START_TEST(too_short)
{
	size_t len;
	uint8_t *sealed = seal_plain(&len);
	uint8_t out[PLAIN_LEN];
	for (size_t n = 0; n < GSLB_SEAL_OVERHEAD; n++) {
		ck_assert_int_eq(
			gslb_unseal(key, AD_BYTES, AD_LEN, sealed, n, out),
			GSLB_EINVAL);
	}
	/* Cut short by one byte: the tag no longer matches. */
	ck_assert_int_eq(
		gslb_unseal(key, AD_BYTES, AD_LEN, sealed, len - 1, out),
		GSLB_EINVAL);
	free(sealed);
}
END_TEST

START_TEST(fresh_nonce)
{
	size_t len1, len2;
	uint8_t *a = seal_plain(&len1);
	uint8_t *b = seal_plain(&len2);
	ck_assert_uint_eq(len1, len2);
	ck_assert_int_ne(memcmp(a, b, 24), 0);
	ck_assert_int_ne(memcmp(a + 24, b + 24, len1 - 24), 0);
	free(a);
	free(b);
}
END_TEST

START_TEST(b64_round_trip)
{
	char *b64 = gslb_seal_b64(key, AD, PLAIN, PLAIN_LEN);
	ck_assert_ptr_nonnull(b64);
	/* Standard alphabet, padded. */
	const size_t n = strlen(b64);
	ck_assert_uint_eq(n, (PLAIN_LEN + GSLB_SEAL_OVERHEAD + 2) / 3 * 4);
	ck_assert_uint_eq(strspn(b64,
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789+/="),
			  n);

	uint8_t *out = NULL;
	size_t out_len = 0;
	ck_assert_int_eq(gslb_unseal_b64(key, AD, b64, &out, &out_len),
			 GSLB_EOK);
	ck_assert_uint_eq(out_len, PLAIN_LEN);
	ck_assert_mem_eq(out, PLAIN, PLAIN_LEN);
	free(out);

	/* Another key or another zone in the associated data. */
	ck_assert_int_eq(gslb_unseal_b64(other_key, AD, b64, &out, &out_len),
			 GSLB_EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(gslb_unseal_b64(key,
					 "opengslb-dnssec-key|example.net|"
					 "abc|1700000000",
					 b64, &out, &out_len),
			 GSLB_EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(out_len, 0);
	free(b64);

	/* An empty plaintext. */
	b64 = gslb_seal_b64(key, NULL, PLAIN, 0);
	ck_assert_ptr_nonnull(b64);
	ck_assert_int_eq(gslb_unseal_b64(key, NULL, b64, &out, &out_len),
			 GSLB_EOK);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(out_len, 0);
	free(out);
	free(b64);
}
END_TEST

START_TEST(b64_garbage)
{
	char *b64 = gslb_seal_b64(key, AD, PLAIN, PLAIN_LEN);
	ck_assert_ptr_nonnull(b64);
	const size_t n = strlen(b64);
	uint8_t *out = NULL;
	size_t out_len = 0;

	char *bad = malloc(n + 2);
	ck_assert_ptr_nonnull(bad);
	static const char *const mutations[] = { "!", "-", "_", " ", "\n" };
	for (size_t m = 0; m < GSLB_ARRAY_SIZE(mutations); m++) {
		memcpy(bad, b64, n + 1);
		bad[n / 2] = mutations[m][0];
		ck_assert_msg(gslb_unseal_b64(key, AD, bad, &out, &out_len) ==
				      GSLB_EINVAL,
			      "'%s' in the middle", mutations[m]);
		ck_assert_ptr_null(out);
	}
	/* Padding missing, doubled, or text after it. */
	memcpy(bad, b64, n + 1);
	bad[n - 1] = '\0';
	ck_assert_int_eq(gslb_unseal_b64(key, AD, bad, &out, &out_len),
			 GSLB_EINVAL);
	memcpy(bad, b64, n);
	memcpy(bad + n, "=", 2);
	ck_assert_int_eq(gslb_unseal_b64(key, AD, bad, &out, &out_len),
			 GSLB_EINVAL);
	memcpy(bad, b64, n);
	memcpy(bad + n, "A", 2);
	ck_assert_int_eq(gslb_unseal_b64(key, AD, bad, &out, &out_len),
			 GSLB_EINVAL);
	free(bad);

	static const char *const junk[] = {
		"",
		"====",
		"not base64 at all",
		"AAAA",
		/* Valid base64 of fewer bytes than the overhead. */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	};
	for (size_t i = 0; i < GSLB_ARRAY_SIZE(junk); i++) {
		ck_assert_msg(gslb_unseal_b64(key, AD, junk[i], &out,
					      &out_len) == GSLB_EINVAL,
			      "\"%s\"", junk[i]);
		ck_assert_ptr_null(out);
	}
	free(b64);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seal");
	TCase *tc = tcase_create("aead");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, empty_and_no_ad);
	tcase_add_test(tc, wrong_key);
	tcase_add_test(tc, other_ad);
	tcase_add_test(tc, flipped_bit);
	tcase_add_test(tc, too_short);
	tcase_add_test(tc, fresh_nonce);
	suite_add_tcase(s, tc);
	tc = tcase_create("base64");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, b64_round_trip);
	tcase_add_test(tc, b64_garbage);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
